/* st-mqtt-store.h — durable MQTT state: retained messages, sessions with a
 * Session Expiry Interval above 0, their subscriptions, their queued and
 * in-flight QoS 1/2 deliveries and the QoS 2 packet ids received from them.
 *
 * One SQLite file (DATA/mqtt.db, WAL) written by one store thread. The
 * write functions below only append an operation to the thread's queue:
 * I/O threads call them with their broker's lock held and never wait on
 * SQLite. The thread applies operations in order and commits them in
 * groups (see StDurability). Messages are stored once however many
 * sessions hold them: an operation holds a reference to the engine's
 * StMessage, whose payload is an StBytes, and the thread counts the rows
 * that refer to each stored message.
 *
 * Ids are chosen by the caller from st_mqtt_store_new_id(), so an operation
 * never waits for a row id: a session, a delivery and a message each carry
 * theirs from the moment they are first stored.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/st-message.h"
#include "mqtt/mqtt-packet.h"

/* How hard each change is pushed to disk.
 *
 * ALWAYS: whatever the store thread takes from its queue is committed
 *   and synced (synchronous=FULL) at once, without waiting for a group to
 *   fill: the changes that queued up during one fsync share the next. The
 *   engine sends PUBACK, PUBREC and PUBCOMP only once what they confirm is
 *   synced (st_mqtt_store_after_commit): the I/O thread does not wait, the
 *   reply is handed back to it. What a client was told is safe survives a
 *   crash or a power loss; a subscription or session change not yet
 *   committed (SUBACK and CONNACK do not wait) may not.
 * BATCH (default): changes are grouped into one transaction per
 *   ST_MQTT_STORE_BATCH_MS or ST_MQTT_STORE_BATCH_OPS changes, whichever
 *   comes first, committed with synchronous=FULL: one fsync per group, and
 *   a crash or power loss loses at most the last group.
 * OFF: grouped like BATCH with synchronous=OFF: survives a restart or a
 *   crash of starlingd (SQLite's WAL is in the page cache), not a power
 *   loss or a kernel crash.
 * In every mode a SIGTERM (st_mqtt_store_close) writes everything first. */
typedef enum {
  ST_DURABILITY_ALWAYS,
  ST_DURABILITY_BATCH,
  ST_DURABILITY_OFF,
} StDurability;

#define ST_MQTT_STORE_BATCH_MS  20
#define ST_MQTT_STORE_BATCH_OPS 2000

gboolean    st_durability_from_string (const char *name, StDurability *out);
const char *st_durability_to_string   (StDurability durability);

/* Delivery states, the values of broker/core's StDeliveryState. */
enum {
  ST_MQTT_STORE_QUEUED    = 0,
  ST_MQTT_STORE_WAIT_ACK  = 1,
  ST_MQTT_STORE_WAIT_COMP = 2,
};

typedef struct _StMqttStore StMqttStore;

/* Opens (creating or migrating) the database at path and starts the store
 * thread. */
StMqttStore *st_mqtt_store_open  (const char   *path,
                                  StDurability  durability,
                                  GError      **error);

/* Writes every operation queued so far, stops the thread, closes the file
 * and frees the store. Operations queued afterwards would be lost: call it
 * once nothing can produce them any more. */
void         st_mqtt_store_close (StMqttStore *store);

/* Blocks until every operation queued before the call is committed. For
 * shutdown and tests, not for I/O threads. */
void         st_mqtt_store_flush (StMqttStore *store);

StDurability st_mqtt_store_get_durability (StMqttStore *store);
const char  *st_mqtt_store_get_path       (StMqttStore *store);

/* A fresh id for a session, delivery or message row (never 0). Any thread. */
int64_t      st_mqtt_store_new_id (StMqttStore *store);

/* ---- Operations: any thread, never blocking on SQLite ------------------ */

/* msg becomes the retained message of its topic in broker_id; msg_id is its
 * row (the same id for every use of the same message). An empty payload
 * clears the topic instead (msg_id unused). */
void st_mqtt_store_retain_set    (StMqttStore *store, const char *broker_id,
                                  int64_t msg_id, StMessage *msg);

/* Creates or updates a session. disconnected_ms: wall-clock milliseconds
 * (g_get_real_time () / 1000) when it went offline, its expiry counting from
 * there; 0 while it is connected. expiry: seconds, UINT32_MAX = never. */
void st_mqtt_store_session_put   (StMqttStore *store, int64_t session_id,
                                  const char *broker_id, const char *client_id,
                                  MqttVersion version, uint32_t expiry,
                                  gint64 disconnected_ms);
/* Removes a session with its subscriptions, deliveries and QoS 2 ids. */
void st_mqtt_store_session_delete (StMqttStore *store, int64_t session_id);

/* Removes everything of a deleted broker: its retained messages and its
 * sessions with their contents. Queue it after the broker's last write. */
void st_mqtt_store_broker_delete (StMqttStore *store, const char *broker_id);

void st_mqtt_store_sub_put       (StMqttStore *store, int64_t session_id,
                                  MqttBytes filter, const MqttSubOptions *opts,
                                  uint32_t sub_id);
void st_mqtt_store_sub_delete    (StMqttStore *store, int64_t session_id,
                                  MqttBytes filter);

/* A delivery of msg (row msg_id) to a session, appended after the
 * session's others: ids order a session's deliveries. */
void st_mqtt_store_delivery_add  (StMqttStore *store, int64_t delivery_id,
                                  int64_t session_id, int64_t msg_id, StMessage *msg,
                                  uint8_t qos, bool retain, uint8_t state,
                                  uint16_t packet_id, const uint32_t *sub_ids,
                                  uint32_t n_sub_ids);
void st_mqtt_store_delivery_update (StMqttStore *store, int64_t delivery_id,
                                    uint8_t state, uint16_t packet_id);
void st_mqtt_store_delivery_delete (StMqttStore *store, int64_t delivery_id);

/* Packet ids of QoS 2 PUBLISHes received from a session, PUBREC sent and
 * PUBREL not yet received. */
void st_mqtt_store_qos2_add      (StMqttStore *store, int64_t session_id, uint16_t packet_id);
void st_mqtt_store_qos2_delete   (StMqttStore *store, int64_t session_id, uint16_t packet_id);

/* Calls func (data) on the store thread once every operation queued before
 * this call is committed (with ALWAYS, synced): for replies that must not
 * leave before what they confirm is on disk. func must not block; it runs
 * at once, on the caller's thread, when the store is already closed. */
void st_mqtt_store_after_commit  (StMqttStore *store, void (*func) (gpointer data), gpointer data);

/* ---- Loading ------------------------------------------------------------ */

/* What st_mqtt_store_load() finds for one broker. Messages are borrowed
 * (take a reference to keep one); a message shared by several deliveries
 * or the retained set is one StMessage with one msg_id. Deadlines are
 * monotonic milliseconds (st_now_ms ()), 0 = never. */
typedef struct {
  void     (*retained)     (gpointer user_data, int64_t msg_id, StMessage *msg);
  /* Returns a handle passed to the calls for this session's contents. */
  gpointer (*session)      (gpointer user_data, int64_t session_id, const char *client_id,
                            MqttVersion version, uint32_t expiry, gint64 expire_at_ms);
  void     (*subscription) (gpointer user_data, gpointer session, MqttBytes filter,
                            const MqttSubOptions *opts, uint32_t sub_id);
  /* In the order they were added. */
  void     (*delivery)     (gpointer user_data, gpointer session, int64_t delivery_id,
                            int64_t msg_id, StMessage *msg, uint8_t qos, bool retain,
                            uint8_t state, uint16_t packet_id, const uint32_t *sub_ids,
                            uint32_t n_sub_ids);
  void     (*qos2)         (gpointer user_data, gpointer session, uint16_t packet_id);
} StMqttStoreLoadFuncs;

/* Reads the state of broker_id and hands it to funcs, on the store thread
 * while the caller waits (so funcs run before this returns). What has
 * expired is deleted instead: retained messages past their Message Expiry,
 * sessions past their expiry (counted from their disconnection; a session
 * that was connected when starlingd stopped without saying goodbye counts
 * from now), and queued deliveries whose message expired. In-flight ones
 * are kept: their delivery has started. Returns false when reading failed
 * (the error says why); what was handed over stays handed over. */
gboolean st_mqtt_store_load (StMqttStore                *store,
                             const char                 *broker_id,
                             const StMqttStoreLoadFuncs *funcs,
                             gpointer                    user_data,
                             GError                    **error);
