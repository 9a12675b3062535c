/* st-hook-queue.h — a broker's on-publish hook inside the engine (private
 * to broker/core and broker/hooks): the messages waiting for the hook, the
 * batches in flight, the order they are applied in, and the counters.
 *
 * Life of a hooked PUBLISH:
 *  1. I/O thread, broker lock held (st-conn.c): after the topicAcl and
 *     QoS 2 checks, st_hook_queue_push takes the message and the
 *     publisher instead of routing it. Nothing is acknowledged yet.
 *  2. Hook thread (st-hook-client.h): whatever is waiting leaves as one
 *     batch, up to ST_HOOK_BATCH_MESSAGES / ST_HOOK_BATCH_BYTES, while
 *     fewer than `concurrency` requests are in flight; messages that come
 *     meanwhile wait for the next batch. An idle hook sends at once, a busy
 *     one gets bigger batches.
 *  3. Hook thread: answers are applied strictly in the order the batches
 *     were sent (a batch answered early waits for the ones before it), so
 *     each publisher's messages are routed in the order they came. The
 *     routing takes the broker lock, as an I/O thread's does; each
 *     publisher then gets its PUBACK/PUBREC on its own loop (one invoke
 *     per publisher per batch), in order.
 *
 * Memory is bounded: a connection with ST_HOOK_CONN_MESSAGES messages (or
 * twice the Receive Maximum, if more) or ST_HOOK_CONN_BYTES bytes at the
 * hook, or a broker with
 * ST_HOOK_BROKER_BYTES, stops being read (TCP pushes back) until that
 * halves. MQTT 5 publishers at QoS 1/2 never get there: the Receive
 * Maximum we announce (100 by default) caps what they send unacknowledged,
 * and their acknowledgements wait for the hook — which is how a slow hook
 * slows them without stopping their pings, subscriptions or deliveries.
 * While a connection is not read, its keep alive is not enforced (the
 * silence is ours).
 *
 * Locks: the queue's own mutex, taken inside the broker lock (push) or
 * alone; never the broker lock inside it. */
#pragma once

#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/st-engine.h"
#include "core/st-message.h"
#include "hooks/st-hook-client.h"

#define ST_HOOK_BATCH_MESSAGES  500
#define ST_HOOK_BATCH_BYTES     (1024 * 1024)
#define ST_HOOK_CONN_MESSAGES   1000
#define ST_HOOK_CONN_BYTES      (16 * 1024 * 1024)
#define ST_HOOK_BROKER_BYTES    (64 * 1024 * 1024)

#define ST_HOOK_DEFAULT_TIMEOUT_MS  10000
#define ST_HOOK_DEFAULT_CONCURRENCY 4

typedef struct _StHookQueue StHookQueue;

StHookQueue *st_hook_queue_new  (StBroker *broker);
/* After st_hook_queue_stop (or when the hook thread never ran). */
void         st_hook_queue_free (StHookQueue *q);

/* Control thread. client: the engine's hook client (started on demand). */
void         st_hook_queue_set  (StHookQueue *q, StHookClient *client,
                                 const StHookSettings *settings);
/* The broker's newest signing key signs requests. */
void         st_hook_queue_set_key (StHookQueue *q, StSigningKey *key);
void         st_hook_queue_stats (StHookQueue *q, StHookStats *stats);
/* The broker was deleted: waiting messages go, answers are discarded. */
void         st_hook_queue_remove (StHookQueue *q);
/* The engine stops hooks: drop everything, never touch a loop again. */
void         st_hook_queue_stop (StHookQueue *q);

/* I/O thread, broker lock held: takes msg (a new reference) from conn to
 * the hook. false: the broker has no hook now (route it at once). *pause:
 * stop reading conn until st_conn_hook_resume. */
bool         st_hook_queue_push (StHookQueue *q, StConn *conn, StMessage *msg,
                                 uint16_t packet_id, bool *pause);

/* Broker lock held: a will goes through the hook too (else a will would
 * be a way around it, and could overtake its client's last messages).
 * false: no hook now, publish it at once. */
bool         st_hook_queue_push_will (StHookQueue *q, const char *client_id, StMessage *will);

/* Loop thread of conn: whether conn may be read again. */
bool         st_hook_queue_may_read (StHookQueue *q, StConn *conn);

/* Whether the broker's publishes go to the hook: one relaxed load, the
 * only cost a broker without a hook pays per PUBLISH. */
static inline bool
st_hook_active (const int *flag)
{
  return __atomic_load_n (flag, __ATOMIC_RELAXED) != 0;
}
