/* st-conn.h — the protocol state of one client connection (private to the
 * engine). An StConn lives on its transport's loop thread; everything but
 * the fields marked "broker lock" is touched only there. It is reference
 * counted because invokes from other threads (deliveries, takeover) may
 * still be pending when its transport closes. */
#pragma once

#include <glib.h>

#include "core/st-engine.h"
#include "mqtt/mqtt-packet.h"
#include "st-session.h"

typedef enum {
  ST_CONN_AWAIT_CONNECT,
  ST_CONN_ACTIVE,
  ST_CONN_CLOSING,   /* st_transport_close called, waiting for st_conn_closed */
  ST_CONN_CLOSED,    /* the transport is gone */
} StConnState;

struct _StConn {
  int          ref;            /* st_ref_inc / st_ref_dec */
  StEngine    *engine;
  StTransport *t;              /* NULL once closed */
  StLoop      *loop;
  StConnInfo   info;
  StConnState  state;

  StBroker    *broker;         /* set by a successful CONNECT */
  MqttVersion  version;
  char        *client_id;
  bool         counted;        /* in the engine's connection count */

  /* broker lock */
  StSession   *session;        /* NULL when taken over or detached */
  bool         pump_scheduled; /* one pending invoke at most */

  gint64       accepted_ms;
  gint64       last_input_ms;
  uint16_t     keep_alive;     /* s, effective */
  uint32_t     session_expiry; /* s, effective; DISCONNECT may change it */
  bool         problem_info;   /* Request Problem Information */
  bool         will_published_or_dropped;

  guint        replies_waiting; /* sent once the store has synced (durability always) */
  guint        subacks_waiting; /* of which SUBACKs: deliveries wait behind them */

  uint32_t     client_max_packet;  /* 0: no limit beyond the protocol's */
  uint16_t     client_alias_max;
  GHashTable  *out_aliases;    /* topic (GBytes) -> alias */
  uint16_t     out_alias_next;
  GBytes     **in_aliases;     /* [1 .. in_alias_max] */
  uint16_t     in_alias_max;   /* copied: the engine may be gone when the last ref drops */

  char        *sni;            /* copy of info.sni */

  /* Token brokers: what the verified credential allows, copied at CONNECT
   * so that the per-PUBLISH check reads only this connection's memory. */
  char        *jti;            /* tracked in broker->live_jtis while set */
  char        *kid;            /* the key that signed the token: removing it ends the connection */
  gint64       token_exp;      /* Unix seconds; 0 = never */
  char       **acl;            /* topicAcl filters; NULL = no restriction */
  MqttBytes   *acl_bytes;      /* the same as MqttBytes */
  guint        n_acl;
  bool         released;       /* session detached, connection uncounted */

  /* On-publish hooks (hooks/st-hook-queue.h). Under the broker's hook
   * queue lock: what this connection has at the hook, and why it is not
   * read. */
  guint        hook_msgs;
  size_t       hook_bytes;
  bool         hook_over;      /* its own backlog is over the bound */
  bool         hook_waiting;   /* the broker's backlog is (in the queue's waiting list) */
  /* Loop thread: input is not read until the hook has caught up. */
  bool         input_paused;
  /* A CONNECT waiting for the session's old connection (st-conn.c,
   * takeover): its session phase, and whether it waited already. */
  struct _ConnectRest *waiting_connect;
  bool         takeover_waited;

  StBuf        out;            /* encode scratch */
  GArray      *sends;          /* pump scratch: what to send once unlocked */
  GArray      *send_ids;       /* their Subscription Identifiers */
  GPtrArray   *wake;           /* scratch for st_broker_* */
};

StConn *st_conn_new   (StEngine *engine, StTransport *t, const StConnInfo *info);
StConn *st_conn_ref   (StConn *conn);
void    st_conn_unref (StConn *conn);

/* broker lock held: asks for a delivery pump on conn's loop (coalesced). */
void    st_conn_request_pump_locked (StConn *conn, GPtrArray *wake);

/* Runs on any thread: makes conn's loop pump its session queue. Consumes the
 * reference taken by st_conn_request_pump_locked. */
void    st_conn_schedule_pump (StConn *conn);

/* Any thread: conn's session was taken over; tell it (DISCONNECT 0x8E) and
 * close it on its own loop. Consumes a reference. */
void    st_conn_kick (StConn *conn);

/* Any thread: conn's token was revoked; DISCONNECT 0x87 and close on its
 * own loop. Consumes a reference. */
void    st_conn_revoked (StConn *conn);

/* Any thread: conn's broker was deleted; DISCONNECT 0x8B and close on its
 * own loop. Consumes a reference. */
void    st_conn_broker_removed (StConn *conn);

/* Acknowledgement of a PUBLISH that went to an on-publish hook. */
typedef struct {
  uint16_t packet_id;
  uint8_t  qos;        /* 1 or 2 */
  uint8_t  rc;         /* v5 reason code (3.1.x sends none) */
} StHookAck;

/* Loop thread, after the hook decided: sends the PUBACKs/PUBRECs in order
 * (a PUBREC of 0x80 or above also ends the QoS 2 flow) and resumes
 * reading if the hook backlog allows. */
void    st_conn_hook_acks   (StConn *conn, const StHookAck *acks, guint n_acks, bool resume);
/* Loop thread: reading may resume (st_hook_queue_may_read decides). */
void    st_conn_hook_resume (StConn *conn);

/* Loop thread: keep alive and CONNECT timeout. */
void    st_conn_check_timeouts (StConn *conn, gint64 now_ms);
