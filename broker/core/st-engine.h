/* st-engine.h — the MQTT engine: brokers (isolated MQTT worlds), their
 * sessions, subscriptions and retained messages, and the protocol state of
 * every client connection.
 *
 * The network layer creates an StConn per accepted transport and feeds it
 * bytes on the transport's loop thread; the engine answers through the
 * transport (net-transport.h). An engine is safe to use from every loop
 * thread at once and holds no global state: a process may run several.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/net-transport.h"

typedef struct _StEngine StEngine;
typedef struct _StBroker StBroker;
typedef struct _StConn   StConn;
typedef struct _StMqttStore StMqttStore;

/* Every limit has a default (st_limits_init) and a reason code when hit. */
typedef struct {
  uint32_t max_packet_size;      /* bytes, both ways; default 1 MiB (0x95 when exceeded) */
  uint32_t max_connections;      /* per engine; default 10000 (CONNACK 0x97 Quota exceeded) */
  uint32_t max_queued_messages;  /* per session, QoS 1/2 waiting; default 1000 (oldest QoS 0 dropped first, then new ones) */
  uint64_t max_queued_bytes;     /* per session; default 64 MiB */
  uint32_t connect_timeout_ms;   /* CONNECT must arrive within; default 10000 */
  uint16_t receive_maximum;      /* QoS 1/2 PUBLISHes a client may have unacknowledged to us; default 100 (0x93) */
  uint16_t topic_alias_maximum;  /* aliases a client may set towards us; default 64 (0x94) */
  uint16_t max_topic_length;     /* bytes; default 65535 */
  uint16_t max_topic_levels;     /* default 128 */
  uint16_t max_keep_alive;       /* seconds; 0 = no cap; a longer one is answered with Server Keep Alive */
  uint32_t max_session_expiry;   /* seconds; default 0xFFFFFFFF (no cap) */
  size_t   max_output_buffer;    /* bytes queued on a transport before deliveries wait; default 4 MiB */
} StLimits;

void st_limits_init (StLimits *limits);

typedef enum {
  ST_AUTH_TOKEN,
  ST_AUTH_NONE,
} StAuthType;

StEngine *st_engine_new  (const StLimits *limits);
void      st_engine_free (StEngine *engine);

/* Adds an isolated MQTT world. id: 32 lowercase hex; names: RFC 1035 labels.
 * Returns a borrowed pointer, valid until the engine is freed. */
StBroker *st_engine_add_broker (StEngine   *engine,
                                const char *id,
                                const char *namespace_name,
                                const char *broker_name,
                                StAuthType  auth_type);

/* The broker a connection reaches when neither TLS SNI nor its credentials
 * name one. NULL: such connections are refused (CONNACK 0x88 / 3.1.1 0x03). */
void      st_engine_set_default_broker (StEngine *engine, StBroker *broker);

/* Makes the engine keep its durable state (retained messages, sessions
 * with expiry > 0 and what they hold) in store, restoring it first: for
 * the brokers already added now, for later ones as they are added. Call
 * before connections arrive. NULL detaches the store (before closing it).
 * The store must outlive the engine's use of it. */
void      st_engine_set_store (StEngine *engine, StMqttStore *store);

/* Public host used to resolve SNI names "<broker>.<namespace>.<host>". */
void      st_engine_set_public_host (StEngine *engine, const char *host);

/* ---- Token brokers (authType TOKEN) ------------------------------------
 * Called by the control thread whenever the store changes; I/O threads read
 * the result without locks (an immutable snapshot swapped atomically), so
 * each call costs a copy of the broker's key and revocation sets. */

typedef struct _StSigningKey StSigningKey;

/* Replaces the keys that verify this broker's tokens (each by its kid; the
 * broker takes references). Rotation passes old and new keys together.
 * Connected clients whose token a key no longer in the set signed get
 * DISCONNECT 0x87 (3.1.1: closed), as for a revoked token. */
void      st_broker_set_keys        (StBroker            *broker,
                                     StSigningKey *const *keys,
                                     guint                n_keys);

/* Revokes a token id: new CONNECTs with it get CONNACK 0x87 (3.1.1: 0x05),
 * and connected clients using it get DISCONNECT 0x87 (3.1.1: closed) on
 * their own loop, within the moment it takes to post to it. */
void      st_broker_revoke          (StBroker *broker, const char *jti);
void      st_broker_unrevoke        (StBroker *broker, const char *jti);
/* Replaces the whole set (at start, from the store); NULL-terminated. */
void      st_broker_set_revocations (StBroker *broker, const char *const *jtis);

/* The broker that has a key with this kid, or NULL: CONNECT routing when
 * SNI names no broker (DESIGN "Tenancy and addressing"). */
StBroker *st_engine_find_broker_by_kid (StEngine *engine, const char *kid);

/* Removes a deleted broker: no new connection reaches it, its connected
 * clients get DISCONNECT 0x8B (3.1.1: closed), and its sessions end without
 * wills (their durable state is removed), its retained messages are
 * dropped. The StBroker stays allocated (empty) until the engine is freed:
 * connections being closed on other loops may still hold it. */
void      st_engine_remove_broker (StEngine *engine, StBroker *broker);

/* ---- On-publish hooks (DESIGN "On-publish hooks") ----------------------
 * Called by the control thread. A broker with a hook URL sends every
 * accepted PUBLISH to it (broker/hooks/) and routes what the answer lists;
 * publishers' QoS 1/2 acknowledgements wait for that decision. */

typedef struct {
  const char *url;             /* NULL: no hook */
  guint       timeout_ms;      /* no answer by then: the batch failed; default 10000 */
  bool        deliver_on_failure; /* a failed batch is delivered unchanged (else dropped) */
  bool        silent_drops;    /* PUBACK/PUBREC 0x00 for dropped messages (else 0x83 / 0x80) */
  guint       concurrency;     /* requests in flight at once (and HTTP connections); default 4 */
} StHookSettings;

typedef struct {
  guint64 sent;                /* messages POSTed to the hook */
  guint64 delivered;           /* of those, routed to subscribers (changed or not) */
  guint64 changed;             /* of the delivered, changed by the hook */
  guint64 dropped;             /* not routed: left out, topic changed, bad entry, or failed batch */
  guint64 failed;              /* messages in requests that failed (status, body, timeout, network) */
  guint64 requests;            /* POSTs made */
  guint64 failed_requests;
  guint64 queued;              /* now: waiting for a request */
  guint64 in_flight;           /* now: in requests without an answer yet */
  char   *last_error;          /* NULL when none yet */
  gint64  last_error_at;       /* Unix microseconds */
} StHookStats;

void      st_hook_stats_clear (StHookStats *stats);

/* Sets, changes (settings->url != NULL) or removes (NULL or url NULL) the
 * broker's hook. Messages already at the hook finish in order first. */
void      st_broker_set_hook        (StBroker *broker, const StHookSettings *settings);
/* Counters since the broker was added; false (stats zeroed) when the broker
 * never had a hook. Clear with st_hook_stats_clear. */
bool      st_broker_get_hook_stats  (StBroker *broker, StHookStats *stats);

/* Stops the hook client: requests in flight are cancelled and messages
 * waiting for a hook are dropped unacknowledged (QoS 1/2 publishers send
 * them again when they reconnect). Call before the network stops: after
 * this no hook work touches a loop. st_engine_free calls it too. */
void      st_engine_stop_hooks (StEngine *engine);

/* ---- Called by the network layer, on the transport's loop thread ------ */

StConn *st_engine_accept (StEngine *engine, StTransport *t, const StConnInfo *info);

/* Handles every whole packet at the start of data; returns the number of
 * bytes consumed (the caller keeps the rest for the next call). */
size_t  st_conn_input    (StConn *conn, const uint8_t *data, size_t len);

/* The transport's output fell back below the engine's limit. */
void    st_conn_drained  (StConn *conn);

/* The server is stopping: send DISCONNECT 0x8B (v5) and close. */
void    st_conn_shutdown (StConn *conn);

/* The transport is gone (peer closed, error, or after st_transport_close);
 * the engine must not touch it again. */
void    st_conn_closed   (StConn *conn);

/* Called by each loop about every 100 ms: keep alive, CONNECT timeout,
 * will delay, session and message expiry. */
void    st_engine_tick   (StEngine *engine, StLoop *loop, gint64 now_ms);
