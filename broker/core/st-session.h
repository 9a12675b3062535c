/* st-session.h — the MQTT session state of one client id in one broker:
 * subscriptions (by filter; the index itself is the broker's StSubtree),
 * messages waiting for delivery, messages in flight towards the client,
 * QoS 2 packet ids received from it, and its will.
 *
 * Every field is protected by the owning broker's lock; these functions are
 * called with it held. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/st-engine.h"
#include "st-message.h"

typedef enum {
  ST_DELIVERY_QUEUED,    /* waiting in the session queue */
  ST_DELIVERY_WAIT_ACK,  /* PUBLISH sent, waiting for PUBACK / PUBREC */
  ST_DELIVERY_WAIT_COMP, /* PUBREL sent, waiting for PUBCOMP */
} StDeliveryState;

/* One message on its way to one session. */
typedef struct {
  StMessage *msg;
  uint8_t    qos;        /* delivered QoS: min (message, subscription) */
  bool       retain;     /* retain flag to send */
  uint8_t    state;      /* StDeliveryState */
  uint16_t   packet_id;  /* 0 until in flight (QoS > 0) */
  int64_t    store_id;   /* its row in the MQTT store, 0: not stored */
  uint32_t   n_ids;
  uint32_t   ids[];      /* Subscription Identifiers to send */
} StDelivery;

StDelivery *st_delivery_new  (StMessage *msg, uint8_t qos, bool retain,
                              const uint32_t *ids, uint32_t n_ids);
void        st_delivery_free (StDelivery *d);

typedef struct _StSession StSession;

/* A subscription's options, kept with the session so that the store can
 * write the whole session when it becomes durable. */
typedef struct {
  MqttSubOptions opts;
  uint32_t       sub_id;
} StSubOpts;

struct _StSession {
  StBroker   *broker;
  char       *client_id;
  StConn     *conn;              /* attached connection, or NULL (offline) */
  MqttVersion version;           /* of the last connection */
  uint32_t    expiry;            /* Session Expiry Interval, s; UINT32_MAX = never */
  gint64      expire_at_ms;      /* offline: when the session ends; 0 = never */

  StMessage  *will;              /* NULL: none */
  uint32_t    will_delay;        /* s */
  gint64      will_at_ms;        /* offline: when the will is due; 0 = not pending */

  GHashTable *subs;              /* filter (char*) -> StSubOpts*: this session's filters */

  GQueue      queue;             /* StDelivery*, ST_DELIVERY_QUEUED, oldest first */
  uint64_t    queued_bytes;
  guint       queued_qos0;

  GQueue      inflight;          /* StDelivery*, in the order first sent */
  GHashTable *inflight_by_id;    /* packet id -> StDelivery* */
  uint16_t    next_packet_id;
  uint16_t    receive_max;       /* the client's Receive Maximum */

  GHashTable *qos2_in;           /* packet ids of QoS 2 PUBLISHes awaiting PUBREL */

  /* The attached connection took everything at its last pump: the queue is
   * only the hand-over between loops, so a burst is not held against the
   * message-count bound (the byte bound still applies). Cleared while the
   * connection is held back (slow consumer, Receive Maximum) or offline. */
  bool        draining;

  /* Its row in the MQTT store: set while Session Expiry is above 0 and the
   * broker has a store (st-persist.h), else 0. */
  int64_t     store_id;

  /* counters, for logs and the app */
  uint64_t    dropped_queue_full;
  uint64_t    dropped_too_large;
  uint64_t    dropped_expired;
};

StSession  *st_session_new  (StBroker *broker, const char *client_id);
/* Frees the state; the caller has removed the subscriptions from the index. */
void        st_session_free (StSession *s);

/* Adds d to the queue within the limits (max_queued_messages is not applied
 * while s->draining). When full: a new QoS 0 message is
 * dropped; for a new QoS 1/2 message the oldest queued QoS 0 messages are
 * dropped to make room, and if that is not enough the new message is
 * dropped. Returns false (d freed, counted) when dropped. */
bool        st_session_enqueue (StSession *s, StDelivery *d, const StLimits *limits);

StDelivery *st_session_dequeue (StSession *s);

/* Records filter's options in s->subs (the index itself is the broker's). */
void        st_session_set_sub (StSession *s, MqttBytes filter, const MqttSubOptions *opts,
                                uint32_t sub_id);

/* A free packet id for a new outgoing QoS 1/2 PUBLISH, 0 if all 65535 are in
 * use. Ids cycle rather than restart at 1, so a late ack for a finished
 * flow is unlikely to hit a new one. */
uint16_t    st_session_alloc_packet_id (StSession *s);

void        st_session_inflight_add  (StSession *s, StDelivery *d);
StDelivery *st_session_inflight_find (StSession *s, uint16_t packet_id);
/* Removes and frees. */
void        st_session_inflight_remove (StSession *s, StDelivery *d);

/* Frees every queued and in-flight message. */
void        st_session_clear_messages (StSession *s);
