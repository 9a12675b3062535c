/* st-broker.h — one isolated MQTT world: its sessions by client id, its
 * subscription index, its retained messages and its timers (session expiry,
 * delayed wills), all behind one mutex.
 *
 * Functions ending in _locked are called with broker->lock held. They never
 * do I/O: connections that need to be woken are collected in a `wake` array
 * (each entry holds a reference) and woken with st_broker_wake() once the
 * lock is released. */
#pragma once

#include <glib.h>
#include <pthread.h>

#include "core/st-engine.h"
#include "st-auth.h"
#include "st-message.h"
#include "st-retain.h"
#include "st-session.h"
#include "st-subtree.h"

struct _StBroker {
  StEngine       *engine;
  const StLimits *limits;
  char           *id;
  char           *namespace_name;
  char           *name;
  StAuthType      auth_type;

  /* A pthread mutex rather than a GMutex: same cost, and ThreadSanitizer
   * understands it (GLib's futex-based GMutex is invisible to it). */
  pthread_mutex_t lock;
  GHashTable     *sessions;   /* client id -> StSession* */
  StSubtree      *subs;
  StRetain       *retained;
  GHashTable     *timed;      /* StSession* set: offline with a deadline */
  StMatchResult   match;      /* scratch for st_subtree_match */
  guint64         n_assigned; /* for assigned client ids */
  bool            removed;    /* st_engine_remove_broker: CONNECTs are refused */
  GHashTable     *live_jtis;  /* jti -> GPtrArray of StConn* (no refs): connected token clients */

  /* On-publish hook: hook_active is read per PUBLISH without a lock
   * (st_hook_active); the queue is created with the broker. */
  int             hook_active;
  struct _StHookQueue *hook;

  /* Token brokers: keys and revocations, read without any lock (st-auth.h). */
  StAuthState     auth;
};

StBroker *st_broker_new  (StEngine *engine, const StLimits *limits, const char *id,
                          const char *namespace_name, const char *name,
                          StAuthType auth_type);
void      st_broker_free (StBroker *b);

/* Routes msg to every matching session (and stores/clears it as retained
 * when msg->retain). publisher: the publishing session for No Local, or
 * NULL. Returns the number of subscriptions matched (0: PUBACK 0x10). */
guint     st_broker_publish_locked (StBroker *b, StMessage *msg, StSession *publisher,
                                    GPtrArray *wake);

/* Connects conn to the session of client_id: takes it over from a
 * connection that has it (returned in *kicked with a reference, to be told
 * DISCONNECT 0x8E), ends it first when clean_start, or creates it. Handles
 * the previous connection's will. Sets conn->session and returns it. */
StSession *st_broker_attach_locked (StBroker   *b,
                                    StConn     *conn,
                                    const char *client_id,
                                    MqttVersion version,
                                    bool        clean_start,
                                    uint32_t    expiry,
                                    bool       *session_present,
                                    StConn    **kicked,
                                    GPtrArray  *wake);

/* conn is going away. publish_will: false after DISCONNECT 0x00. The
 * session ends now when its expiry is 0, else waits offline for its expiry;
 * the will is published now, later (Will Delay Interval), or dropped. */
void      st_broker_detach_locked (StBroker *b, StConn *conn, bool publish_will,
                                   GPtrArray *wake);

/* Ends a session: publishes its will if any, removes its subscriptions and
 * frees it. */
void      st_broker_end_session_locked (StBroker *b, StSession *s, GPtrArray *wake);

/* Queues retained messages matching filter for s (retain flag set). */
void      st_broker_send_retained_locked (StBroker *b, StSession *s, MqttBytes filter,
                                          uint8_t granted_qos, uint32_t sub_id,
                                          GPtrArray *wake);

static inline void
st_broker_lock (StBroker *b)
{
  pthread_mutex_lock (&b->lock);
}

static inline void
st_broker_unlock (StBroker *b)
{
  pthread_mutex_unlock (&b->lock);
}

/* Session expiry and delayed wills that are due. Takes the lock itself. */
void      st_broker_sweep (StBroker *b, gint64 now_ms);

/* Wakes (schedules a delivery pump on) every connection in wake, then
 * empties it. Call without the lock. */
void      st_broker_wake (GPtrArray *wake);

/* A connection authenticated by token jti: revocation must find it. The
 * snapshot is checked again under the lock, so a revocation published
 * between verification and this call is not missed. Returns false when jti
 * is revoked by now (the caller refuses with 0x87). */
bool      st_broker_track_jti_locked   (StBroker *b, StConn *conn, const char *jti);
void      st_broker_untrack_jti_locked (StBroker *b, StConn *conn, const char *jti);

/* The connection that holds client_id's session now, or NULL (no
 * reference taken: valid while the lock is held). */
StConn   *st_broker_live_conn_locked (StBroker *b, const char *client_id);

/* The broker was deleted: ends every session (no wills), drops retained
 * messages and tells connected clients (DISCONNECT 0x8B). */
void      st_broker_remove (StBroker *b);

/* A fresh client id for a client that sent an empty one. */
char     *st_broker_assign_client_id_locked (StBroker *b);
