#define G_LOG_DOMAIN "starling-store"

#include "st-mqtt-store.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#define SCHEMA_VERSION 1

/* ---- operations --------------------------------------------------------- */

typedef enum {
  OP_RETAIN_SET,
  OP_RETAIN_CLEAR,
  OP_SESSION_PUT,
  OP_SESSION_DELETE,
  OP_SUB_PUT,
  OP_SUB_DELETE,
  OP_DELIVERY_ADD,
  OP_DELIVERY_UPDATE,
  OP_DELIVERY_DELETE,
  OP_QOS2_ADD,
  OP_QOS2_DELETE,
  OP_BROKER_DELETE,    /* every row of a broker (str: its id) */
  OP_SYNC,             /* flush or load: commit, run, wake the caller */
  OP_NOTIFY,           /* commit, then call func (extra) */
  OP_NOP,              /* folded away (fold_batch) */
} OpType;

/* A waiting caller of st_mqtt_store_flush() or st_mqtt_store_load(). */
typedef struct {
  pthread_mutex_t             lock;
  pthread_cond_t              cond;
  bool                        done;
  const char                 *broker_id;  /* NULL: flush only */
  const StMqttStoreLoadFuncs *funcs;
  gpointer                    user_data;
  GError                     *error;
} Waiter;

/* One change, as small as the common ones allow: the queue is an array of
 * these, swapped whole between the producers and the store thread. */
typedef struct {
  uint8_t    type;
  uint8_t    qos;
  uint8_t    state;
  bool       retain;
  uint16_t   packet_id;
  uint8_t    opt_bits;   /* subscription options */
  uint32_t   u32;        /* session expiry, subscription id, n_sub_ids */
  int64_t    id;         /* the row: delivery or session */
  int64_t    session_id;
  int64_t    msg_id;
  gint64     when;       /* disconnected_ms */
  StMessage *msg;        /* a reference */
  char      *str;        /* broker id, "\0"-joined client id; filter; topic */
  uint32_t   str_len;
  gpointer   extra;      /* sub ids (g_malloc), the Waiter, or func's data */
  void     (*func) (gpointer data);
} Op;

typedef enum {
  S_BEGIN,
  S_COMMIT,
  S_MSG_INSERT,
  S_MSG_DELETE,
  S_RETAIN_GET,
  S_RETAIN_PUT,
  S_RETAIN_DELETE,
  S_SESSION_PUT,
  S_SESSION_DELETE,
  S_SESSION_MESSAGES,
  S_BROKER_SESSIONS,
  S_BROKER_RETAINED,
  S_BROKER_RETAINED_DELETE,
  S_SESSION_DELIVERIES_DELETE,
  S_SESSION_SUBS_DELETE,
  S_SESSION_QOS2_DELETE,
  S_SESSION_SET_DISCONNECTED,
  S_SUB_PUT,
  S_SUB_DELETE,
  S_DELIVERY_ADD,
  S_DELIVERY_UPDATE,
  S_DELIVERY_GET,
  S_DELIVERY_DELETE,
  S_QOS2_ADD,
  S_QOS2_DELETE,
  S_LOAD_RETAINED,
  S_LOAD_SESSIONS,
  S_LOAD_SUBS,
  S_LOAD_DELIVERIES,
  S_LOAD_QOS2,
  N_STMTS
} StmtId;

#define MSG_COLS "m.id, m.topic, m.payload, m.qos, m.retain, m.payload_format, m.expire_at, " \
                 "m.content_type, m.response_topic, m.correlation_data, m.user_properties"

static const char *const stmt_sql[N_STMTS] = {
  [S_BEGIN] = "BEGIN",
  [S_COMMIT] = "COMMIT",
  [S_MSG_INSERT] =
    "INSERT OR REPLACE INTO messages (id, topic, payload, qos, retain, payload_format, expire_at,"
    " content_type, response_topic, correlation_data, user_properties)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
  [S_MSG_DELETE] = "DELETE FROM messages WHERE id = ?1",
  [S_RETAIN_GET] = "SELECT message FROM retained WHERE broker = ?1 AND topic = ?2",
  [S_RETAIN_PUT] = "INSERT OR REPLACE INTO retained (broker, topic, message) VALUES (?1, ?2, ?3)",
  [S_RETAIN_DELETE] = "DELETE FROM retained WHERE broker = ?1 AND topic = ?2",
  [S_SESSION_PUT] =
    "INSERT INTO sessions (id, broker, client_id, version, expiry, disconnected_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (id) DO UPDATE SET version = ?4, expiry = ?5, disconnected_at = ?6",
  [S_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",
  [S_SESSION_MESSAGES] = "SELECT message FROM deliveries WHERE session = ?1",
  [S_BROKER_SESSIONS] = "SELECT id FROM sessions WHERE broker = ?1",
  [S_BROKER_RETAINED] = "SELECT message FROM retained WHERE broker = ?1",
  [S_BROKER_RETAINED_DELETE] = "DELETE FROM retained WHERE broker = ?1",
  [S_SESSION_DELIVERIES_DELETE] = "DELETE FROM deliveries WHERE session = ?1",
  [S_SESSION_SUBS_DELETE] = "DELETE FROM subscriptions WHERE session = ?1",
  [S_SESSION_QOS2_DELETE] = "DELETE FROM qos2_in WHERE session = ?1",
  [S_SESSION_SET_DISCONNECTED] =
    "UPDATE sessions SET disconnected_at = ?2 WHERE id = ?1",
  [S_SUB_PUT] =
    "INSERT OR REPLACE INTO subscriptions (session, filter, options, sub_id) VALUES (?1, ?2, ?3, ?4)",
  [S_SUB_DELETE] = "DELETE FROM subscriptions WHERE session = ?1 AND filter = ?2",
  [S_DELIVERY_ADD] =
    "INSERT OR REPLACE INTO deliveries (id, session, message, qos, retain, state, packet_id, sub_ids)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
  [S_DELIVERY_UPDATE] = "UPDATE deliveries SET state = ?2, packet_id = ?3 WHERE id = ?1",
  [S_DELIVERY_GET] = "SELECT message FROM deliveries WHERE id = ?1",
  [S_DELIVERY_DELETE] = "DELETE FROM deliveries WHERE id = ?1",
  [S_QOS2_ADD] = "INSERT OR IGNORE INTO qos2_in (session, packet_id) VALUES (?1, ?2)",
  [S_QOS2_DELETE] = "DELETE FROM qos2_in WHERE session = ?1 AND packet_id = ?2",
  [S_LOAD_RETAINED] =
    "SELECT r.topic, " MSG_COLS " FROM retained r JOIN messages m ON m.id = r.message"
    " WHERE r.broker = ?1",
  [S_LOAD_SESSIONS] =
    "SELECT id, client_id, version, expiry, disconnected_at FROM sessions WHERE broker = ?1",
  [S_LOAD_SUBS] = "SELECT filter, options, sub_id FROM subscriptions WHERE session = ?1",
  [S_LOAD_DELIVERIES] =
    "SELECT d.id, d.qos, d.retain, d.state, d.packet_id, d.sub_ids, " MSG_COLS
    " FROM deliveries d JOIN messages m ON m.id = d.message WHERE d.session = ?1 ORDER BY d.id",
  [S_LOAD_QOS2] = "SELECT packet_id FROM qos2_in WHERE session = ?1 ORDER BY packet_id",
};

/* No foreign keys: the store thread is the only writer and keeps the rows
 * consistent itself, and the checks would cost on every delivery. The
 * open-time sweep (sweep_orphans) removes what a crash in the middle of
 * nothing could leave, should a future bug leave anything. */
static const char schema_v1[] =
  "CREATE TABLE messages ("
  "  id INTEGER PRIMARY KEY,"
  "  topic BLOB NOT NULL,"
  "  payload BLOB NOT NULL,"
  "  qos INTEGER NOT NULL,"
  "  retain INTEGER NOT NULL,"
  "  payload_format INTEGER,"        /* NULL: absent */
  "  expire_at INTEGER,"             /* wall-clock ms; NULL: never */
  "  content_type BLOB,"             /* NULL: absent (empty is not absent) */
  "  response_topic BLOB,"
  "  correlation_data BLOB,"
  "  user_properties BLOB"           /* raw encoded pairs */
  ");"
  "CREATE TABLE retained ("
  "  broker TEXT NOT NULL,"
  "  topic BLOB NOT NULL,"
  "  message INTEGER NOT NULL,"
  "  PRIMARY KEY (broker, topic)"
  ") WITHOUT ROWID;"
  "CREATE TABLE sessions ("
  "  id INTEGER PRIMARY KEY,"
  "  broker TEXT NOT NULL,"
  "  client_id TEXT NOT NULL,"
  "  version INTEGER NOT NULL,"
  "  expiry INTEGER NOT NULL,"       /* seconds; 4294967295: never */
  "  disconnected_at INTEGER,"       /* wall-clock ms; NULL: connected */
  "  UNIQUE (broker, client_id)"
  ");"
  "CREATE TABLE subscriptions ("
  "  session INTEGER NOT NULL,"
  "  filter BLOB NOT NULL,"
  "  options INTEGER NOT NULL,"      /* the SUBSCRIBE options byte */
  "  sub_id INTEGER NOT NULL,"
  "  PRIMARY KEY (session, filter)"
  ") WITHOUT ROWID;"
  "CREATE TABLE deliveries ("
  "  id INTEGER PRIMARY KEY,"
  "  session INTEGER NOT NULL,"
  "  message INTEGER NOT NULL,"
  "  qos INTEGER NOT NULL,"
  "  retain INTEGER NOT NULL,"
  "  state INTEGER NOT NULL,"
  "  packet_id INTEGER NOT NULL,"
  "  sub_ids BLOB"                   /* little-endian uint32s; NULL: none */
  ");"
  "CREATE INDEX deliveries_by_session ON deliveries (session, id);"
  "CREATE TABLE qos2_in ("
  "  session INTEGER NOT NULL,"
  "  packet_id INTEGER NOT NULL,"
  "  PRIMARY KEY (session, packet_id)"
  ") WITHOUT ROWID;";

/* Each entry upgrades from version i to i + 1. */
static const char *const migrations[] = {
  schema_v1,
};

typedef struct {
  int64_t id;
  guint   refs;
} MsgRefs;

struct _StMqttStore {
  char          *path;
  StDurability   durability;
  int64_t        next_id;          /* __atomic */

  /* the queue */
  /* pthread rather than GMutex/GCond: the same cost, and ThreadSanitizer
   * sees them (as in broker/core). */
  pthread_mutex_t lock;
  pthread_cond_t  cond;           /* on the monotonic clock */
  GArray        *pending;          /* Op */
  bool           stopping;
  bool           closed;
  GThread       *thread;

  /* store thread only (and st_mqtt_store_open before it starts) */
  sqlite3       *db;
  sqlite3_stmt  *stmts[N_STMTS];
  GHashTable    *refs;             /* message id -> MsgRefs: rows referring to it */
  GArray        *spare;            /* Op, the array being applied */
  GHashTable    *fold;             /* fold_batch's scratch */
  GArray        *notify;           /* Op: OP_NOTIFYs of the batch being applied */
  bool           in_txn;
  guint          txn_ops;
  gint64         txn_deadline_us;  /* monotonic */
};

gboolean
st_durability_from_string (const char *name, StDurability *out)
{
  static const char *const names[] = { "always", "batch", "off" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (name, names[i]) == 0)
      {
        *out = (StDurability) i;
        return TRUE;
      }
  return FALSE;
}

const char *
st_durability_to_string (StDurability durability)
{
  switch (durability)
    {
    case ST_DURABILITY_ALWAYS:
      return "always";
    case ST_DURABILITY_OFF:
      return "off";
    case ST_DURABILITY_BATCH:
    default:
      return "batch";
    }
}

/* ---- SQLite helpers (store thread) -------------------------------------- */

static sqlite3_stmt *
stmt (StMqttStore *store, StmtId id)
{
  if (store->stmts[id] == NULL)
    {
      int rc = sqlite3_prepare_v3 (store->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                   &store->stmts[id], NULL);
      if (rc != SQLITE_OK)
        {
          g_warning ("%s: cannot prepare statement %d: %s", store->path, id,
                     sqlite3_errmsg (store->db));
          return NULL;
        }
    }
  return store->stmts[id];
}

/* Runs a statement to its end and resets it (a SELECT left open would hold
 * its read snapshot and block checkpoints). */
static bool
run (StMqttStore *store, sqlite3_stmt *st, const char *what)
{
  int rc;

  if (!st)
    return false;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    ;
  sqlite3_reset (st);
  sqlite3_clear_bindings (st);
  if (rc != SQLITE_DONE)
    {
      g_warning ("%s: %s failed: %s", store->path, what, sqlite3_errmsg (store->db));
      return false;
    }
  return true;
}

static void
done (sqlite3_stmt *st)
{
  if (st)
    {
      sqlite3_reset (st);
      sqlite3_clear_bindings (st);
    }
}

static bool
exec (StMqttStore *store, const char *sql, GError **error)
{
  char *msg = NULL;
  int rc = sqlite3_exec (store->db, sql, NULL, NULL, &msg);

  if (rc != SQLITE_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", store->path,
                   msg ? msg : sqlite3_errstr (rc));
      sqlite3_free (msg);
      return false;
    }
  return true;
}

static bool
query_int (StMqttStore *store, const char *sql, int64_t *out, GError **error)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2 (store->db, sql, -1, &st, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    *out = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  if (rc != SQLITE_ROW)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s: %s", store->path, sql,
                   sqlite3_errmsg (store->db));
      return false;
    }
  return true;
}

/* Binds bytes that may be absent (data NULL -> SQL NULL) or present and
 * empty (a zero-length blob, which SQLite keeps apart from NULL). */
static void
bind_bytes (sqlite3_stmt *st, int col, MqttBytes b)
{
  static const uint8_t empty[1];

  if (!b.data)
    sqlite3_bind_null (st, col);
  else
    sqlite3_bind_blob (st, col, b.len ? b.data : empty, (int) b.len, SQLITE_STATIC);
}

/* The reverse of bind_bytes: SQLite gives NULL for an empty blob too. */
static MqttBytes
column_bytes (sqlite3_stmt *st, int col)
{
  static const uint8_t empty[1];
  MqttBytes b = { NULL, 0 };

  if (sqlite3_column_type (st, col) == SQLITE_NULL)
    return b;
  b.data = sqlite3_column_blob (st, col);
  b.len = (uint32_t) sqlite3_column_bytes (st, col);
  if (!b.data)
    b.data = empty;
  return b;
}

static gint64
wall_now_ms (void)
{
  return g_get_real_time () / 1000;
}

static void
begin (StMqttStore *store)
{
  if (store->in_txn)
    return;
  if (run (store, stmt (store, S_BEGIN), "BEGIN"))
    {
      store->in_txn = true;
      store->txn_ops = 0;
      store->txn_deadline_us = g_get_monotonic_time () + ST_MQTT_STORE_BATCH_MS * 1000;
    }
}

static void
commit (StMqttStore *store)
{
  if (!store->in_txn)
    return;
  store->in_txn = false;
  if (!run (store, stmt (store, S_COMMIT), "COMMIT") && !sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- message rows, counted -------------------------------------------- */

static void
message_ref (StMqttStore *store, int64_t msg_id, StMessage *msg)
{
  MsgRefs *r = g_hash_table_lookup (store->refs, &msg_id);

  if (r)
    {
      r->refs++;
      return;
    }

  sqlite3_stmt *st = stmt (store, S_MSG_INSERT);
  if (!st)
    return;

  /* Deadlines are monotonic in memory; on disk they must survive a reboot. */
  gint64 expire_wall = 0;
  if (msg->expire_at_ms)
    expire_wall = msg->expire_at_ms - g_get_monotonic_time () / 1000 + wall_now_ms ();

  sqlite3_bind_int64 (st, 1, msg_id);
  sqlite3_bind_blob (st, 2, msg->topic.data, (int) msg->topic.len, SQLITE_STATIC);
  sqlite3_bind_blob (st, 3, msg->payload->data, (int) msg->payload->len, SQLITE_STATIC);
  sqlite3_bind_int (st, 4, msg->qos);
  sqlite3_bind_int (st, 5, msg->retain);
  if (msg->has_payload_format)
    sqlite3_bind_int (st, 6, msg->payload_format);
  if (expire_wall)
    sqlite3_bind_int64 (st, 7, expire_wall);
  bind_bytes (st, 8, msg->content_type);
  bind_bytes (st, 9, msg->response_topic);
  if (msg->has_correlation_data)
    {
      MqttBytes cd = msg->correlation_data;

      if (!cd.data)
        cd.data = (const uint8_t *) "";
      bind_bytes (st, 10, cd);
    }
  if (msg->user_properties.len)
    bind_bytes (st, 11, msg->user_properties);
  if (!run (store, st, "storing a message"))
    return;

  r = g_new (MsgRefs, 1);
  r->id = msg_id;
  r->refs = 1;
  g_hash_table_insert (store->refs, &r->id, r);
}

static void
message_unref (StMqttStore *store, int64_t msg_id)
{
  MsgRefs *r = g_hash_table_lookup (store->refs, &msg_id);

  if (!r || --r->refs > 0)
    return;
  g_hash_table_remove (store->refs, &msg_id);
  sqlite3_stmt *st = stmt (store, S_MSG_DELETE);
  if (st)
    {
      sqlite3_bind_int64 (st, 1, msg_id);
      run (store, st, "deleting a message");
    }
}

/* Builds an StMessage from MSG_COLS starting at column col (the id is
 * col + 0), expired or not: the caller decides. */
static StMessage *
message_from_row (sqlite3_stmt *st, int col, gint64 now_wall, gint64 now_mono)
{
  static const uint8_t empty[1];
  MqttProperties props;
  MqttBytes topic = column_bytes (st, col + 1);
  MqttBytes payload = column_bytes (st, col + 2);

  memset (&props, 0, sizeof props);
  if (sqlite3_column_type (st, col + 5) != SQLITE_NULL)
    {
      props.present |= MQTT_PROP_BIT (MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
      props.payload_format_indicator = (uint8_t) sqlite3_column_int (st, col + 5);
    }
  props.content_type = column_bytes (st, col + 7);
  if (props.content_type.data)
    props.present |= MQTT_PROP_BIT (MQTT_PROP_CONTENT_TYPE);
  props.response_topic = column_bytes (st, col + 8);
  if (props.response_topic.data)
    props.present |= MQTT_PROP_BIT (MQTT_PROP_RESPONSE_TOPIC);
  props.correlation_data = column_bytes (st, col + 9);
  if (props.correlation_data.data)
    props.present |= MQTT_PROP_BIT (MQTT_PROP_CORRELATION_DATA);
  props.user_properties = column_bytes (st, col + 10);
  if (props.user_properties.data)
    props.present |= MQTT_PROP_BIT (MQTT_PROP_USER_PROPERTY);
  if (!topic.data)
    topic.data = empty;

  StMessage *msg = st_message_new (topic, payload, (uint8_t) sqlite3_column_int (st, col + 3),
                                   sqlite3_column_int (st, col + 4) != 0, &props, now_mono);
  /* Not shared yet: the deadline can still be set directly, to the
   * millisecond rather than through a whole-second interval. 0 would mean
   * "never": an old deadline stays in the past instead. */
  if (sqlite3_column_type (st, col + 6) != SQLITE_NULL)
    {
      gint64 at = sqlite3_column_int64 (st, col + 6) - now_wall + now_mono;
      msg->expire_at_ms = at != 0 ? at : -1;
    }
  return msg;
}

/* ---- applying operations (store thread) -------------------------------- */

static int64_t
retained_get (StMqttStore *store, const char *broker, const char *topic, uint32_t topic_len)
{
  sqlite3_stmt *st = stmt (store, S_RETAIN_GET);
  int64_t old = 0;

  if (!st)
    return 0;
  sqlite3_bind_text (st, 1, broker, -1, SQLITE_STATIC);
  sqlite3_bind_blob (st, 2, topic, (int) topic_len, SQLITE_STATIC);
  if (sqlite3_step (st) == SQLITE_ROW)
    old = sqlite3_column_int64 (st, 0);
  done (st);
  return old;
}

static void
apply_retain (StMqttStore *store, Op *op)
{
  const char *broker = op->str;
  const char *topic = op->str + strlen (broker) + 1;
  int64_t old = retained_get (store, broker, topic, op->str_len);
  sqlite3_stmt *st;

  if (op->type == OP_RETAIN_SET)
    {
      if (old == op->msg_id)
        return;
      message_ref (store, op->msg_id, op->msg);
      st = stmt (store, S_RETAIN_PUT);
      if (!st)
        return;
      sqlite3_bind_text (st, 1, broker, -1, SQLITE_STATIC);
      sqlite3_bind_blob (st, 2, topic, (int) op->str_len, SQLITE_STATIC);
      sqlite3_bind_int64 (st, 3, op->msg_id);
      run (store, st, "storing a retained message");
    }
  else if (old)
    {
      st = stmt (store, S_RETAIN_DELETE);
      if (!st)
        return;
      sqlite3_bind_text (st, 1, broker, -1, SQLITE_STATIC);
      sqlite3_bind_blob (st, 2, topic, (int) op->str_len, SQLITE_STATIC);
      run (store, st, "clearing a retained message");
    }
  if (old)
    message_unref (store, old);
}

static void
session_delete (StMqttStore *store, int64_t session_id)
{
  g_autoptr (GArray) msgs = g_array_new (FALSE, FALSE, sizeof (int64_t));
  sqlite3_stmt *st = stmt (store, S_SESSION_MESSAGES);
  static const StmtId deletes[] = {
    S_SESSION_DELIVERIES_DELETE, S_SESSION_SUBS_DELETE, S_SESSION_QOS2_DELETE, S_SESSION_DELETE,
  };

  if (!st)
    return;
  sqlite3_bind_int64 (st, 1, session_id);
  while (sqlite3_step (st) == SQLITE_ROW)
    {
      int64_t id = sqlite3_column_int64 (st, 0);
      g_array_append_val (msgs, id);
    }
  done (st);
  for (guint i = 0; i < G_N_ELEMENTS (deletes); i++)
    {
      st = stmt (store, deletes[i]);
      if (!st)
        continue;
      sqlite3_bind_int64 (st, 1, session_id);
      run (store, st, "deleting a session");
    }
  for (guint i = 0; i < msgs->len; i++)
    message_unref (store, g_array_index (msgs, int64_t, i));
}

static void
column_ids (StMqttStore *store, StmtId id, const char *broker_id, GArray *out)
{
  sqlite3_stmt *st = stmt (store, id);

  if (!st)
    return;
  sqlite3_bind_text (st, 1, broker_id, -1, SQLITE_STATIC);
  while (sqlite3_step (st) == SQLITE_ROW)
    {
      int64_t v = sqlite3_column_int64 (st, 0);
      g_array_append_val (out, v);
    }
  done (st);
}

static void
broker_delete (StMqttStore *store, const char *broker_id)
{
  g_autoptr (GArray) sessions = g_array_new (FALSE, FALSE, sizeof (int64_t));
  g_autoptr (GArray) msgs = g_array_new (FALSE, FALSE, sizeof (int64_t));
  sqlite3_stmt *st;

  column_ids (store, S_BROKER_SESSIONS, broker_id, sessions);
  for (guint i = 0; i < sessions->len; i++)
    session_delete (store, g_array_index (sessions, int64_t, i));

  column_ids (store, S_BROKER_RETAINED, broker_id, msgs);
  if ((st = stmt (store, S_BROKER_RETAINED_DELETE)))
    {
      sqlite3_bind_text (st, 1, broker_id, -1, SQLITE_STATIC);
      run (store, st, "deleting a broker's retained messages");
    }
  for (guint i = 0; i < msgs->len; i++)
    message_unref (store, g_array_index (msgs, int64_t, i));
  g_debug ("%s: broker %s removed: %u sessions, %u retained messages", store->path, broker_id,
           sessions->len, msgs->len);
}

static void
delivery_delete (StMqttStore *store, int64_t delivery_id)
{
  sqlite3_stmt *st = stmt (store, S_DELIVERY_GET);
  int64_t msg_id = 0;

  if (!st)
    return;
  /* The row says which message it held: a delete for a row already gone
   * (its session deleted first) must not count twice. */
  sqlite3_bind_int64 (st, 1, delivery_id);
  if (sqlite3_step (st) == SQLITE_ROW)
    msg_id = sqlite3_column_int64 (st, 0);
  done (st);
  if (!msg_id)
    return;
  st = stmt (store, S_DELIVERY_DELETE);
  if (!st)
    return;
  sqlite3_bind_int64 (st, 1, delivery_id);
  run (store, st, "deleting a delivery");
  message_unref (store, msg_id);
}

static void apply_sync (StMqttStore *store, Waiter *w);

static void
apply (StMqttStore *store, Op *op)
{
  sqlite3_stmt *st;

  switch ((OpType) op->type)
    {
    case OP_RETAIN_SET:
    case OP_RETAIN_CLEAR:
      apply_retain (store, op);
      break;

    case OP_SESSION_PUT:
      if (!(st = stmt (store, S_SESSION_PUT)))
        break;
      sqlite3_bind_int64 (st, 1, op->id);
      sqlite3_bind_text (st, 2, op->str, -1, SQLITE_STATIC);
      sqlite3_bind_text (st, 3, op->str + strlen (op->str) + 1, -1, SQLITE_STATIC);
      sqlite3_bind_int (st, 4, op->qos);
      sqlite3_bind_int64 (st, 5, op->u32);
      if (op->when)
        sqlite3_bind_int64 (st, 6, op->when);
      run (store, st, "storing a session");
      break;

    case OP_SESSION_DELETE:
      session_delete (store, op->id);
      break;

    case OP_SUB_PUT:
      if (!(st = stmt (store, S_SUB_PUT)))
        break;
      sqlite3_bind_int64 (st, 1, op->session_id);
      sqlite3_bind_blob (st, 2, op->str, (int) op->str_len, SQLITE_STATIC);
      sqlite3_bind_int (st, 3, op->opt_bits);
      sqlite3_bind_int64 (st, 4, op->u32);
      run (store, st, "storing a subscription");
      break;

    case OP_SUB_DELETE:
      if (!(st = stmt (store, S_SUB_DELETE)))
        break;
      sqlite3_bind_int64 (st, 1, op->session_id);
      sqlite3_bind_blob (st, 2, op->str, (int) op->str_len, SQLITE_STATIC);
      run (store, st, "deleting a subscription");
      break;

    case OP_DELIVERY_ADD:
      message_ref (store, op->msg_id, op->msg);
      if (!(st = stmt (store, S_DELIVERY_ADD)))
        break;
      sqlite3_bind_int64 (st, 1, op->id);
      sqlite3_bind_int64 (st, 2, op->session_id);
      sqlite3_bind_int64 (st, 3, op->msg_id);
      sqlite3_bind_int (st, 4, op->qos);
      sqlite3_bind_int (st, 5, op->retain);
      sqlite3_bind_int (st, 6, op->state);
      sqlite3_bind_int (st, 7, op->packet_id);
      if (op->u32)
        sqlite3_bind_blob (st, 8, op->extra, (int) (op->u32 * sizeof (uint32_t)), SQLITE_STATIC);
      run (store, st, "storing a delivery");
      break;

    case OP_DELIVERY_UPDATE:
      if (!(st = stmt (store, S_DELIVERY_UPDATE)))
        break;
      sqlite3_bind_int64 (st, 1, op->id);
      sqlite3_bind_int (st, 2, op->state);
      sqlite3_bind_int (st, 3, op->packet_id);
      run (store, st, "updating a delivery");
      break;

    case OP_DELIVERY_DELETE:
      delivery_delete (store, op->id);
      break;

    case OP_QOS2_ADD:
    case OP_QOS2_DELETE:
      if (!(st = stmt (store, op->type == OP_QOS2_ADD ? S_QOS2_ADD : S_QOS2_DELETE)))
        break;
      sqlite3_bind_int64 (st, 1, op->session_id);
      sqlite3_bind_int (st, 2, op->packet_id);
      run (store, st, "storing a QoS 2 packet id");
      break;

    case OP_BROKER_DELETE:
      broker_delete (store, op->str);
      break;

    case OP_SYNC:
      apply_sync (store, op->extra);
      break;

    case OP_NOTIFY:
      /* called after the batch's commit (store_thread) */
      break;

    case OP_NOP:
      break;
    }
}

static void
op_clear (Op *op)
{
  g_clear_pointer (&op->msg, st_message_unref);
  g_clear_pointer (&op->str, g_free);
  if (op->type != OP_SYNC && op->type != OP_NOTIFY)
    g_clear_pointer (&op->extra, g_free);
}

/* ---- loading (store thread) ------------------------------------------- */

static char *join2 (const char *a, const void *b, size_t b_len);

typedef struct {
  StMqttStore *store;
  gint64       now_wall;
  gint64       now_mono;
  GHashTable  *msgs;     /* id -> StMessage* (a reference), shared between rows */
} Load;

static StMessage *
load_message (Load *l, sqlite3_stmt *st, int col)
{
  int64_t id = sqlite3_column_int64 (st, col);
  StMessage *msg = g_hash_table_lookup (l->msgs, &id);

  if (!msg)
    {
      int64_t *key = g_new (int64_t, 1);

      *key = id;
      msg = message_from_row (st, col, l->now_wall, l->now_mono);
      g_hash_table_insert (l->msgs, key, msg);
    }
  return msg;
}

typedef struct {
  int64_t id;
  char   *client_id;
  int     version;
  gint64  expiry;
  gint64  disconnected;
} LoadSession;

static void
load_session_clear (LoadSession *ls)
{
  g_free (ls->client_id);
}

static bool
load_broker (StMqttStore *store, Waiter *w)
{
  const StMqttStoreLoadFuncs *f = w->funcs;
  Load l = { store, wall_now_ms (), g_get_monotonic_time () / 1000,
             g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                    (GDestroyNotify) st_message_unref) };
  g_autoptr (GPtrArray) expired_topics = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GArray) expired_sessions = g_array_new (FALSE, FALSE, sizeof (int64_t));
  g_autoptr (GArray) expired_deliveries = g_array_new (FALSE, FALSE, sizeof (int64_t));
  g_autoptr (GArray) was_connected = g_array_new (FALSE, FALSE, sizeof (int64_t));
  g_autoptr (GArray) sessions = g_array_new (FALSE, FALSE, sizeof (LoadSession));
  sqlite3_stmt *st, *sub;
  int rc = SQLITE_DONE;
  bool ok = true;
  guint n_retained = 0, n_sessions = 0, n_deliveries = 0;

  g_array_set_clear_func (sessions, (GDestroyNotify) load_session_clear);

  /* Retained messages. */
  if (!(st = stmt (store, S_LOAD_RETAINED)))
    goto failed;
  sqlite3_bind_text (st, 1, w->broker_id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      StMessage *msg = load_message (&l, st, 1);

      if (st_message_expired (msg, l.now_mono))
        {
          MqttBytes topic = column_bytes (st, 0);
          g_ptr_array_add (expired_topics, g_bytes_new (topic.data, topic.len));
          continue;
        }
      f->retained (w->user_data, sqlite3_column_int64 (st, 1), msg);
      n_retained++;
    }
  done (st);
  if (rc != SQLITE_DONE)
    goto failed;

  /* Sessions, each with its subscriptions, deliveries and QoS 2 ids. The
   * sessions are read first: the nested queries run while none is open. */
  if (!(st = stmt (store, S_LOAD_SESSIONS)))
    goto failed;
  sqlite3_bind_text (st, 1, w->broker_id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      LoadSession ls = {
        .id = sqlite3_column_int64 (st, 0),
        .client_id = g_strdup ((const char *) sqlite3_column_text (st, 1)),
        .version = sqlite3_column_int (st, 2),
        .expiry = sqlite3_column_int64 (st, 3),
        .disconnected = sqlite3_column_int64 (st, 4),
      };

      /* Connected when starlingd went away without a goodbye: its expiry
       * counts from now, written down so that another restart does not
       * start it again. */
      if (sqlite3_column_type (st, 4) == SQLITE_NULL)
        {
          ls.disconnected = l.now_wall;
          g_array_append_val (was_connected, ls.id);
        }
      g_array_append_val (sessions, ls);
    }
  done (st);
  if (rc != SQLITE_DONE)
    goto failed;

  for (guint i = 0; i < sessions->len; i++)
    {
      LoadSession *ls = &g_array_index (sessions, LoadSession, i);
      uint32_t expiry = (uint32_t) ls->expiry;
      gint64 expire_at = 0;

      if (expiry != UINT32_MAX)
        {
          gint64 end_wall = ls->disconnected + (gint64) expiry * 1000;

          if (end_wall <= l.now_wall)
            {
              g_array_append_val (expired_sessions, ls->id);
              continue;
            }
          expire_at = end_wall - l.now_wall + l.now_mono;
        }
      gpointer s = f->session (w->user_data, ls->id, ls->client_id, (MqttVersion) ls->version,
                               expiry, expire_at);
      n_sessions++;

      if (!(sub = stmt (store, S_LOAD_SUBS)))
        goto failed;
      sqlite3_bind_int64 (sub, 1, ls->id);
      while ((rc = sqlite3_step (sub)) == SQLITE_ROW)
        {
          MqttBytes filter = column_bytes (sub, 0);
          int bits = sqlite3_column_int (sub, 1);
          MqttSubOptions opts = {
            .qos = bits & 3,
            .no_local = (bits >> 2) & 1,
            .retain_as_published = (bits >> 3) & 1,
            .retain_handling = (bits >> 4) & 3,
          };

          f->subscription (w->user_data, s, filter, &opts, (uint32_t) sqlite3_column_int64 (sub, 2));
        }
      done (sub);
      if (rc != SQLITE_DONE)
        goto failed;

      if (!(sub = stmt (store, S_LOAD_DELIVERIES)))
        goto failed;
      sqlite3_bind_int64 (sub, 1, ls->id);
      while ((rc = sqlite3_step (sub)) == SQLITE_ROW)
        {
          int64_t did = sqlite3_column_int64 (sub, 0);
          uint8_t state = (uint8_t) sqlite3_column_int (sub, 3);
          MqttBytes raw = column_bytes (sub, 5);
          StMessage *msg = load_message (&l, sub, 6);
          uint32_t n_ids = raw.len / sizeof (uint32_t);
          g_autofree uint32_t *sub_ids = NULL;

          /* Not yet sent and expired: never to be delivered. Once sent,
           * the flow finishes as it would have without a restart. */
          if (state == ST_MQTT_STORE_QUEUED && st_message_expired (msg, l.now_mono))
            {
              g_array_append_val (expired_deliveries, did);
              continue;
            }
          if (n_ids)
            {
              sub_ids = g_new (uint32_t, n_ids);
              for (uint32_t k = 0; k < n_ids; k++)
                {
                  uint32_t v;

                  memcpy (&v, raw.data + k * sizeof v, sizeof v);
                  sub_ids[k] = GUINT32_FROM_LE (v);
                }
            }
          f->delivery (w->user_data, s, did, sqlite3_column_int64 (sub, 6), msg,
                       (uint8_t) sqlite3_column_int (sub, 1), sqlite3_column_int (sub, 2) != 0,
                       state, (uint16_t) sqlite3_column_int (sub, 4), sub_ids, n_ids);
          n_deliveries++;
        }
      done (sub);
      if (rc != SQLITE_DONE)
        goto failed;

      if (!(sub = stmt (store, S_LOAD_QOS2)))
        goto failed;
      sqlite3_bind_int64 (sub, 1, ls->id);
      while ((rc = sqlite3_step (sub)) == SQLITE_ROW)
        f->qos2 (w->user_data, s, (uint16_t) sqlite3_column_int (sub, 0));
      done (sub);
      if (rc != SQLITE_DONE)
        goto failed;
    }

  /* What expired while starlingd was down goes now. */
  for (guint i = 0; i < expired_topics->len; i++)
    {
      gsize len;
      const char *topic = g_bytes_get_data (g_ptr_array_index (expired_topics, i), &len);
      Op op = { .type = OP_RETAIN_CLEAR, .str_len = (uint32_t) len };

      op.str = join2 (w->broker_id, topic, len);
      apply_retain (store, &op);
      op_clear (&op);
    }
  for (guint i = 0; i < expired_sessions->len; i++)
    session_delete (store, g_array_index (expired_sessions, int64_t, i));
  for (guint i = 0; i < expired_deliveries->len; i++)
    delivery_delete (store, g_array_index (expired_deliveries, int64_t, i));
  for (guint i = 0; i < was_connected->len; i++)
    {
      if (!(st = stmt (store, S_SESSION_SET_DISCONNECTED)))
        break;
      sqlite3_bind_int64 (st, 1, g_array_index (was_connected, int64_t, i));
      sqlite3_bind_int64 (st, 2, l.now_wall);
      run (store, st, "marking a session disconnected");
    }

  g_info ("broker %s: restored %u retained messages, %u sessions, %u deliveries "
          "(expired while stopped: %u retained, %u sessions, %u deliveries)",
          w->broker_id, n_retained, n_sessions, n_deliveries,
          expired_topics->len, expired_sessions->len, expired_deliveries->len);
  goto out;

failed:
  ok = false;
  g_set_error (&w->error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot load broker %s: %s",
               store->path, w->broker_id, sqlite3_errmsg (store->db));
out:
  g_hash_table_unref (l.msgs);
  return ok;
}

static void
apply_sync (StMqttStore *store, Waiter *w)
{
  if (w->broker_id)
    {
      begin (store);
      load_broker (store, w);
    }
  commit (store);
  pthread_mutex_lock (&w->lock);
  w->done = true;
  pthread_cond_signal (&w->cond);
  pthread_mutex_unlock (&w->lock);
}

/* ---- the store thread ---------------------------------------------------- */

static void
cond_init_monotonic (pthread_cond_t *cond)
{
  pthread_condattr_t attr;

  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (cond, &attr);
  pthread_condattr_destroy (&attr);
}

/* deadline_us: g_get_monotonic_time () microseconds (CLOCK_MONOTONIC). */
static int
cond_wait_until (pthread_cond_t *cond, pthread_mutex_t *lock, gint64 deadline_us)
{
  struct timespec ts = { deadline_us / G_USEC_PER_SEC, (deadline_us % G_USEC_PER_SEC) * 1000 };

  return pthread_cond_timedwait (cond, lock, &ts);
}

/* A delivery queued and acknowledged within one batch (a connected
 * subscriber that keeps up, the common case) need not reach SQLite at all:
 * its operations are dropped, and the changes of one added in the same
 * batch are folded into its insert. A flush or load in between ends the
 * folding: what came before it must be in the file when it returns. */
static void
fold_batch (StMqttStore *store, GArray *batch)
{
  for (guint i = 0; i < batch->len; i++)
    {
      Op *op = &g_array_index (batch, Op, i);
      gpointer at;

      switch (op->type)
        {
        case OP_DELIVERY_ADD:
          g_hash_table_insert (store->fold, &op->id, GUINT_TO_POINTER (i + 1));
          break;
        case OP_DELIVERY_UPDATE:
          if ((at = g_hash_table_lookup (store->fold, &op->id)))
            {
              Op *add = &g_array_index (batch, Op, GPOINTER_TO_UINT (at) - 1);

              add->state = op->state;
              add->packet_id = op->packet_id;
              op->type = OP_NOP;
            }
          break;
        case OP_DELIVERY_DELETE:
          if ((at = g_hash_table_lookup (store->fold, &op->id)))
            {
              g_array_index (batch, Op, GPOINTER_TO_UINT (at) - 1).type = OP_NOP;
              g_hash_table_remove (store->fold, &op->id);
              op->type = OP_NOP;
            }
          break;
        case OP_SYNC:
        case OP_NOTIFY:
          g_hash_table_remove_all (store->fold);
          break;
        default:
          break;
        }
    }
  g_hash_table_remove_all (store->fold);
}

static gpointer
store_thread (gpointer data)
{
  StMqttStore *store = data;
  bool at_once = store->durability == ST_DURABILITY_ALWAYS;

  pthread_mutex_lock (&store->lock);
  for (;;)
    {
      /* Work, or the open group's deadline. */
      while (store->pending->len == 0 && !store->stopping)
        {
          if (!store->in_txn)
            pthread_cond_wait (&store->cond, &store->lock);
          else if (cond_wait_until (&store->cond, &store->lock, store->txn_deadline_us) == ETIMEDOUT)
            break;
        }

      GArray *batch = store->pending;
      bool stopping = store->stopping;

      store->pending = store->spare;
      store->spare = NULL;
      pthread_mutex_unlock (&store->lock);

      fold_batch (store, batch);
      for (guint i = 0; i < batch->len; i++)
        {
          Op *op = &g_array_index (batch, Op, i);

          if (op->type == OP_NOP)
            ;
          else if (op->type == OP_NOTIFY)
            {
              /* One commit for all the replies of a batch, not one each. */
              g_array_append_vals (store->notify, op, 1);
              continue;
            }
          else if (op->type != OP_SYNC)
            {
              begin (store);
              apply (store, op);
              store->txn_ops++;
            }
          else
            apply (store, op);
          op_clear (op);
        }
      g_array_set_size (batch, 0);

      /* always: whatever was taken is synced now, one fsync for all the
       * changes that queued up during the previous one. */
      if (store->in_txn && (at_once || stopping || store->notify->len
                            || store->txn_ops >= ST_MQTT_STORE_BATCH_OPS
                            || g_get_monotonic_time () >= store->txn_deadline_us))
        commit (store);
      for (guint i = 0; i < store->notify->len; i++)
        {
          Op *op = &g_array_index (store->notify, Op, i);

          op->func (op->extra);
        }
      g_array_set_size (store->notify, 0);

      pthread_mutex_lock (&store->lock);
      store->spare = batch;
      if (stopping && store->pending->len == 0)
        break;
    }
  pthread_mutex_unlock (&store->lock);
  commit (store);
  return NULL;
}

/* Appends op; the store thread owns what it points to from now on. */
static bool
push (StMqttStore *store, Op *op)
{
  /* No store (a removed broker's late change): nothing to write. */
  if (store == NULL)
    {
      op_clear (op);
      return false;
    }
  pthread_mutex_lock (&store->lock);
  if (G_UNLIKELY (store->closed))
    {
      pthread_mutex_unlock (&store->lock);
      g_debug ("%s: change after close dropped", store->path);
      op_clear (op);
      return false;
    }
  g_array_append_vals (store->pending, op, 1);
  /* The thread only sleeps on an empty queue: one wakeup per group. */
  if (store->pending->len == 1)
    pthread_cond_signal (&store->cond);
  pthread_mutex_unlock (&store->lock);
  return true;
}

/* ---- opening and closing ------------------------------------------------- */

static bool
migrate (StMqttStore *store, GError **error)
{
  int64_t version;

  if (!query_int (store, "PRAGMA user_version", &version, error))
    return false;
  if (version > (int64_t) G_N_ELEMENTS (migrations))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s has schema version %" G_GINT64_FORMAT ", newer than this starlingd (%d)",
                   store->path, version, SCHEMA_VERSION);
      return false;
    }
  for (int64_t v = version; v < (int64_t) G_N_ELEMENTS (migrations); v++)
    {
      g_autofree char *sql = g_strdup_printf ("BEGIN; %s PRAGMA user_version = %" G_GINT64_FORMAT "; COMMIT;",
                                              migrations[v], v + 1);
      if (!exec (store, sql, error))
        {
          sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
          return false;
        }
    }
  return true;
}

/* Rows a crash or a bug could leave behind, then the counts the store
 * thread keeps for message rows. */
static bool
sweep_and_count (StMqttStore *store, GError **error)
{
  sqlite3_stmt *st = NULL;
  int rc;

  if (!exec (store,
             "BEGIN;"
             "DELETE FROM deliveries WHERE session NOT IN (SELECT id FROM sessions);"
             "DELETE FROM subscriptions WHERE session NOT IN (SELECT id FROM sessions);"
             "DELETE FROM qos2_in WHERE session NOT IN (SELECT id FROM sessions);"
             "DELETE FROM messages WHERE id NOT IN (SELECT message FROM deliveries)"
             " AND id NOT IN (SELECT message FROM retained);"
             "COMMIT;", error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return false;
    }

  rc = sqlite3_prepare_v2 (store->db,
                           "SELECT message, COUNT(*) FROM (SELECT message FROM deliveries"
                           " UNION ALL SELECT message FROM retained) GROUP BY message",
                           -1, &st, NULL);
  while (rc == SQLITE_OK || rc == SQLITE_ROW)
    {
      if ((rc = sqlite3_step (st)) != SQLITE_ROW)
        break;
      MsgRefs *r = g_new (MsgRefs, 1);

      r->id = sqlite3_column_int64 (st, 0);
      r->refs = (guint) sqlite3_column_int64 (st, 1);
      g_hash_table_insert (store->refs, &r->id, r);
    }
  sqlite3_finalize (st);
  if (rc != SQLITE_DONE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", store->path,
                   sqlite3_errmsg (store->db));
      return false;
    }

  int64_t max_id = 0, v;
  static const char *const max_sql[] = {
    "SELECT IFNULL(MAX(id), 0) FROM sessions",
    "SELECT IFNULL(MAX(id), 0) FROM deliveries",
    "SELECT IFNULL(MAX(id), 0) FROM messages",
  };
  for (guint i = 0; i < G_N_ELEMENTS (max_sql); i++)
    {
      if (!query_int (store, max_sql[i], &v, error))
        return false;
      max_id = MAX (max_id, v);
    }
  store->next_id = max_id + 1;
  return true;
}

static void
store_free (StMqttStore *store)
{
  for (guint i = 0; i < N_STMTS; i++)
    if (store->stmts[i])
      sqlite3_finalize (store->stmts[i]);
  if (store->db)
    sqlite3_close (store->db);
  g_clear_pointer (&store->refs, g_hash_table_unref);
  if (store->pending)
    {
      for (guint i = 0; i < store->pending->len; i++)
        op_clear (&g_array_index (store->pending, Op, i));
      g_array_unref (store->pending);
    }
  g_clear_pointer (&store->spare, g_array_unref);
  g_clear_pointer (&store->fold, g_hash_table_unref);
  g_clear_pointer (&store->notify, g_array_unref);
  pthread_mutex_destroy (&store->lock);
  pthread_cond_destroy (&store->cond);
  g_free (store->path);
  g_free (store);
}

StMqttStore *
st_mqtt_store_open (const char *path, StDurability durability, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  StMqttStore *store = g_new0 (StMqttStore, 1);
  int fd, rc;

  pthread_mutex_init (&store->lock, NULL);
  cond_init_monotonic (&store->cond);
  store->path = g_strdup (path);
  store->durability = durability;
  store->refs = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  store->pending = g_array_new (FALSE, FALSE, sizeof (Op));
  store->spare = g_array_new (FALSE, FALSE, sizeof (Op));
  store->fold = g_hash_table_new (g_int64_hash, g_int64_equal);
  store->notify = g_array_new (FALSE, FALSE, sizeof (Op));

  /* Messages are users' data: owner-only from the start (SQLite would
   * create the file 0644; -wal and -shm take the database's mode). */
  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s",
                   path, g_strerror (saved));
      store_free (store);
      return NULL;
    }
  close (fd);

  /* NOMUTEX: after opening, only the store thread uses the connection. */
  rc = sqlite3_open_v2 (path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot open %s: %s", path,
                   store->db ? sqlite3_errmsg (store->db) : sqlite3_errstr (rc));
      store_free (store);
      return NULL;
    }
  sqlite3_extended_result_codes (store->db, 1);
  /* Another process on the same data directory: wait a little, then fail
   * rather than hang. */
  sqlite3_busy_timeout (store->db, 2000);

  const char *sync = durability == ST_DURABILITY_OFF ? "OFF" : "FULL";
  g_autofree char *pragmas = g_strdup_printf ("PRAGMA journal_mode = WAL;"
                                              "PRAGMA synchronous = %s;"
                                              "PRAGMA foreign_keys = OFF;", sync);
  if (!exec (store, pragmas, error) || !migrate (store, error) || !sweep_and_count (store, error))
    {
      store_free (store);
      return NULL;
    }

  store->thread = g_thread_try_new ("starling-store", store_thread, store, error);
  if (!store->thread)
    {
      store_free (store);
      return NULL;
    }
  g_debug ("%s: open, durability %s, next id %" G_GINT64_FORMAT, path,
           st_durability_to_string (durability), store->next_id);
  return store;
}

void
st_mqtt_store_close (StMqttStore *store)
{
  if (!store)
    return;
  /* Refused from now on; what is queued is written. */
  pthread_mutex_lock (&store->lock);
  store->stopping = true;
  store->closed = true;
  pthread_cond_signal (&store->cond);
  pthread_mutex_unlock (&store->lock);
  g_thread_join (store->thread);

  /* Checkpoint so the next start opens a small WAL; a failure only costs
   * that start a replay. */
  sqlite3_wal_checkpoint_v2 (store->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  store_free (store);
}

static void
waiter_run (StMqttStore *store, Waiter *w)
{
  Op op = { .type = OP_SYNC, .extra = w };

  pthread_mutex_init (&w->lock, NULL);
  pthread_cond_init (&w->cond, NULL);
  w->done = false;
  if (push (store, &op))
    {
      pthread_mutex_lock (&w->lock);
      while (!w->done)
        pthread_cond_wait (&w->cond, &w->lock);
      pthread_mutex_unlock (&w->lock);
    }
  else if (w->broker_id)
    g_set_error (&w->error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s is closed", store->path);
  pthread_mutex_destroy (&w->lock);
  pthread_cond_destroy (&w->cond);
}

void
st_mqtt_store_flush (StMqttStore *store)
{
  Waiter w = { 0 };

  g_return_if_fail (store != NULL);
  waiter_run (store, &w);
}

gboolean
st_mqtt_store_load (StMqttStore                *store,
                    const char                 *broker_id,
                    const StMqttStoreLoadFuncs *funcs,
                    gpointer                    user_data,
                    GError                    **error)
{
  Waiter w = { .broker_id = broker_id, .funcs = funcs, .user_data = user_data };

  g_return_val_if_fail (store != NULL && broker_id != NULL && funcs != NULL, FALSE);
  waiter_run (store, &w);
  if (w.error)
    {
      g_propagate_error (error, w.error);
      return FALSE;
    }
  return TRUE;
}

StDurability
st_mqtt_store_get_durability (StMqttStore *store)
{
  return store->durability;
}

const char *
st_mqtt_store_get_path (StMqttStore *store)
{
  return store->path;
}

int64_t
st_mqtt_store_new_id (StMqttStore *store)
{
  return __atomic_fetch_add (&store->next_id, 1, __ATOMIC_RELAXED);
}

/* ---- operations ---------------------------------------------------------- */

/* "broker\0rest" in one allocation: one string for the common pair. */
static char *
join2 (const char *a, const void *b, size_t b_len)
{
  size_t a_len = strlen (a);
  char *s = g_malloc (a_len + 1 + b_len + 1);

  memcpy (s, a, a_len + 1);
  if (b_len)
    memcpy (s + a_len + 1, b, b_len);
  s[a_len + 1 + b_len] = '\0';
  return s;
}

void
st_mqtt_store_retain_set (StMqttStore *store, const char *broker_id, int64_t msg_id,
                          StMessage *msg)
{
  Op op = { .str_len = msg->topic.len };

  op.str = join2 (broker_id, msg->topic.data, msg->topic.len);
  if (msg->payload->len == 0)
    op.type = OP_RETAIN_CLEAR;
  else
    {
      op.type = OP_RETAIN_SET;
      op.msg_id = msg_id;
      op.msg = st_message_ref (msg);
    }
  push (store, &op);
}

void
st_mqtt_store_session_put (StMqttStore *store, int64_t session_id, const char *broker_id,
                           const char *client_id, MqttVersion version, uint32_t expiry,
                           gint64 disconnected_ms)
{
  Op op = { .type = OP_SESSION_PUT, .id = session_id, .qos = (uint8_t) version,
            .u32 = expiry, .when = disconnected_ms };

  op.str = join2 (broker_id, client_id, strlen (client_id));
  push (store, &op);
}

void
st_mqtt_store_session_delete (StMqttStore *store, int64_t session_id)
{
  Op op = { .type = OP_SESSION_DELETE, .id = session_id };

  push (store, &op);
}

void
st_mqtt_store_broker_delete (StMqttStore *store, const char *broker_id)
{
  Op op = { .type = OP_BROKER_DELETE, .str = g_strdup (broker_id) };

  g_return_if_fail (store != NULL && broker_id != NULL);
  push (store, &op);
}

void
st_mqtt_store_sub_put (StMqttStore *store, int64_t session_id, MqttBytes filter,
                       const MqttSubOptions *opts, uint32_t sub_id)
{
  Op op = { .type = OP_SUB_PUT, .session_id = session_id, .u32 = sub_id,
            .str_len = filter.len };

  /* The SUBSCRIBE options byte (3.8.3.1) minus its reserved bits. */
  op.opt_bits = (opts->qos & 3) | (opts->no_local << 2) | (opts->retain_as_published << 3)
                | ((opts->retain_handling & 3) << 4);
  op.str = g_memdup2 (filter.data, filter.len);
  push (store, &op);
}

void
st_mqtt_store_sub_delete (StMqttStore *store, int64_t session_id, MqttBytes filter)
{
  Op op = { .type = OP_SUB_DELETE, .session_id = session_id, .str_len = filter.len };

  op.str = g_memdup2 (filter.data, filter.len);
  push (store, &op);
}

void
st_mqtt_store_delivery_add (StMqttStore *store, int64_t delivery_id, int64_t session_id,
                            int64_t msg_id, StMessage *msg, uint8_t qos, bool retain,
                            uint8_t state, uint16_t packet_id, const uint32_t *sub_ids,
                            uint32_t n_sub_ids)
{
  Op op = { .type = OP_DELIVERY_ADD, .id = delivery_id, .session_id = session_id,
            .msg_id = msg_id, .msg = st_message_ref (msg), .qos = qos, .retain = retain,
            .state = state, .packet_id = packet_id, .u32 = n_sub_ids };

  if (n_sub_ids)
    {
      uint32_t *le = g_new (uint32_t, n_sub_ids);

      for (uint32_t i = 0; i < n_sub_ids; i++)
        le[i] = GUINT32_TO_LE (sub_ids[i]);
      op.extra = le;
    }
  push (store, &op);
}

void
st_mqtt_store_after_commit (StMqttStore *store, void (*func) (gpointer data), gpointer data)
{
  Op op = { .type = OP_NOTIFY, .func = func, .extra = data };

  /* Closed: nothing more will be written, so nothing to wait for. */
  if (!push (store, &op))
    func (data);
}

void
st_mqtt_store_delivery_update (StMqttStore *store, int64_t delivery_id, uint8_t state,
                               uint16_t packet_id)
{
  Op op = { .type = OP_DELIVERY_UPDATE, .id = delivery_id, .state = state,
            .packet_id = packet_id };

  push (store, &op);
}

void
st_mqtt_store_delivery_delete (StMqttStore *store, int64_t delivery_id)
{
  Op op = { .type = OP_DELIVERY_DELETE, .id = delivery_id };

  push (store, &op);
}

void
st_mqtt_store_qos2_add (StMqttStore *store, int64_t session_id, uint16_t packet_id)
{
  Op op = { .type = OP_QOS2_ADD, .session_id = session_id, .packet_id = packet_id };

  push (store, &op);
}

void
st_mqtt_store_qos2_delete (StMqttStore *store, int64_t session_id, uint16_t packet_id)
{
  Op op = { .type = OP_QOS2_DELETE, .session_id = session_id, .packet_id = packet_id };

  push (store, &op);
}
