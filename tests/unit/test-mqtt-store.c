/* The durable MQTT state store against a real SQLite file: what is written
 * comes back after a close and reopen, shared messages are stored once and
 * go with their last user, expired state is dropped at load, and the queue
 * keeps up with several writing threads. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "st-config.h"
#include "store/st-mqtt-store.h"

#define BROKER "0123456789abcdef0123456789abcdef"

static char *
db_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "mqtt.db", NULL);
}

static StMqttStore *
open_store (StDurability durability)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = db_path ();
  StMqttStore *store;

  g_mkdir_with_parents (g_get_user_data_dir (), 0700);
  store = st_mqtt_store_open (path, durability, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

/* Counted on a connection of its own: what is committed, not what the
 * store thread holds. */
static gint64
count_rows (const char *table)
{
  g_autofree char *path = db_path ();
  g_autofree char *sql = g_strdup_printf ("SELECT COUNT(*) FROM %s", table);
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  gint64 n = -1;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  if (sqlite3_step (st) == SQLITE_ROW)
    n = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  sqlite3_close (db);
  return n;
}

static StMessage *
make_message (const char *topic, const char *payload, uint8_t qos, bool v5_props)
{
  MqttProperties props;
  static const uint8_t user_props[] = { 0x26, 0, 1, 'k', 0, 1, 'v' };

  memset (&props, 0, sizeof props);
  if (v5_props)
    {
      props.present = MQTT_PROP_BIT (MQTT_PROP_CONTENT_TYPE)
                      | MQTT_PROP_BIT (MQTT_PROP_PAYLOAD_FORMAT_INDICATOR)
                      | MQTT_PROP_BIT (MQTT_PROP_MESSAGE_EXPIRY_INTERVAL)
                      | MQTT_PROP_BIT (MQTT_PROP_CORRELATION_DATA)
                      | MQTT_PROP_BIT (MQTT_PROP_RESPONSE_TOPIC)
                      | MQTT_PROP_BIT (MQTT_PROP_USER_PROPERTY);
      props.content_type = MQTT_BYTES_STR ("text/plain");
      props.payload_format_indicator = 1;
      props.message_expiry_interval = 3600;
      /* present but empty must stay present */
      props.correlation_data = (MqttBytes) { (const uint8_t *) "", 0 };
      props.response_topic = MQTT_BYTES_STR ("reply/here");
      props.user_properties = (MqttBytes) { user_props, sizeof user_props };
    }
  return st_message_new (MQTT_BYTES_STR (topic), MQTT_BYTES_STR (payload), qos, false,
                         v5_props ? &props : NULL, st_now_ms ());
}

static void
assert_bytes (MqttBytes b, const char *want)
{
  g_assert_nonnull (b.data);
  g_assert_cmpmem (b.data, b.len, want, strlen (want));
}

/* ---- what a load found ------------------------------------------------- */

typedef struct {
  int64_t    id;
  char      *client_id;
  MqttVersion version;
  uint32_t   expiry;
  gint64     expire_at_ms;
  GPtrArray *subs;        /* "filter|options|sub id" */
  GPtrArray *deliveries;  /* Found* */
  GArray    *qos2;        /* uint16_t */
} FoundSession;

typedef struct {
  int64_t    id;
  int64_t    msg_id;
  StMessage *msg;
  uint8_t    qos;
  bool       retain;
  uint8_t    state;
  uint16_t   packet_id;
  GArray    *sub_ids;
} FoundDelivery;

typedef struct {
  GPtrArray *retained;   /* StMessage* */
  GArray    *retained_ids;
  GPtrArray *sessions;   /* FoundSession* */
} Found;

static void
found_delivery_free (FoundDelivery *d)
{
  st_message_unref (d->msg);
  g_array_unref (d->sub_ids);
  g_free (d);
}

static void
found_session_free (FoundSession *s)
{
  g_free (s->client_id);
  g_ptr_array_unref (s->subs);
  g_ptr_array_unref (s->deliveries);
  g_array_unref (s->qos2);
  g_free (s);
}

static void
found_clear (Found *f)
{
  g_ptr_array_unref (f->retained);
  g_array_unref (f->retained_ids);
  g_ptr_array_unref (f->sessions);
}

static void
on_retained (gpointer user_data, int64_t msg_id, StMessage *msg)
{
  Found *f = user_data;

  g_ptr_array_add (f->retained, st_message_ref (msg));
  g_array_append_val (f->retained_ids, msg_id);
}

static gpointer
on_session (gpointer user_data, int64_t id, const char *client_id, MqttVersion version,
            uint32_t expiry, gint64 expire_at_ms)
{
  Found *f = user_data;
  FoundSession *s = g_new0 (FoundSession, 1);

  s->id = id;
  s->client_id = g_strdup (client_id);
  s->version = version;
  s->expiry = expiry;
  s->expire_at_ms = expire_at_ms;
  s->subs = g_ptr_array_new_with_free_func (g_free);
  s->deliveries = g_ptr_array_new_with_free_func ((GDestroyNotify) found_delivery_free);
  s->qos2 = g_array_new (FALSE, FALSE, sizeof (uint16_t));
  g_ptr_array_add (f->sessions, s);
  return s;
}

static void
on_subscription (gpointer user_data, gpointer session, MqttBytes filter,
                 const MqttSubOptions *opts, uint32_t sub_id)
{
  FoundSession *s = session;

  g_ptr_array_add (s->subs, g_strdup_printf ("%.*s|q%u nl%d rap%d rh%u|%u", (int) filter.len,
                                             (const char *) filter.data, opts->qos, opts->no_local,
                                             opts->retain_as_published, opts->retain_handling,
                                             sub_id));
}

static void
on_delivery (gpointer user_data, gpointer session, int64_t id, int64_t msg_id, StMessage *msg,
             uint8_t qos, bool retain, uint8_t state, uint16_t packet_id,
             const uint32_t *sub_ids, uint32_t n_sub_ids)
{
  FoundSession *s = session;
  FoundDelivery *d = g_new0 (FoundDelivery, 1);

  d->id = id;
  d->msg_id = msg_id;
  d->msg = st_message_ref (msg);
  d->qos = qos;
  d->retain = retain;
  d->state = state;
  d->packet_id = packet_id;
  d->sub_ids = g_array_new (FALSE, FALSE, sizeof (uint32_t));
  g_array_append_vals (d->sub_ids, sub_ids, n_sub_ids);
  g_ptr_array_add (s->deliveries, d);
}

static void
on_qos2 (gpointer user_data, gpointer session, uint16_t packet_id)
{
  FoundSession *s = session;

  g_array_append_val (s->qos2, packet_id);
}

static const StMqttStoreLoadFuncs load_funcs = {
  on_retained, on_session, on_subscription, on_delivery, on_qos2,
};

static void
load (StMqttStore *store, const char *broker, Found *f)
{
  g_autoptr (GError) error = NULL;

  f->retained = g_ptr_array_new_with_free_func ((GDestroyNotify) st_message_unref);
  f->retained_ids = g_array_new (FALSE, FALSE, sizeof (int64_t));
  f->sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) found_session_free);
  g_assert_true (st_mqtt_store_load (store, broker, &load_funcs, f, &error));
  g_assert_no_error (error);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_durability_names (void)
{
  StDurability d;

  g_assert_true (st_durability_from_string ("always", &d));
  g_assert_cmpint (d, ==, ST_DURABILITY_ALWAYS);
  g_assert_true (st_durability_from_string ("BATCH", &d));
  g_assert_cmpint (d, ==, ST_DURABILITY_BATCH);
  g_assert_true (st_durability_from_string ("off", &d));
  g_assert_cmpint (d, ==, ST_DURABILITY_OFF);
  g_assert_false (st_durability_from_string ("sometimes", &d));
  g_assert_cmpstr (st_durability_to_string (ST_DURABILITY_ALWAYS), ==, "always");
  g_assert_cmpstr (st_durability_to_string (ST_DURABILITY_BATCH), ==, "batch");
  g_assert_cmpstr (st_durability_to_string (ST_DURABILITY_OFF), ==, "off");
}

static void
test_durability_key (void)
{
  g_autoptr (GError) error = NULL;
  StServerConfig c;

  st_server_config_init (&c);
  g_assert_cmpint (c.durability, ==, ST_DURABILITY_BATCH);
  g_assert_true (st_config_set (&c, "durability", "always", &error));
  g_assert_no_error (error);
  g_assert_cmpint (c.durability, ==, ST_DURABILITY_ALWAYS);
  g_assert_true (st_config_set (&c, "durability", "off", &error));
  g_assert_cmpint (c.durability, ==, ST_DURABILITY_OFF);
  g_assert_false (st_config_set (&c, "durability", "sometimes", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "durability: “sometimes” is not one of always, batch, off"));
  g_assert_cmpint (c.durability, ==, ST_DURABILITY_OFF);
  st_server_config_clear (&c);
}

static void
test_retained (void)
{
  StMqttStore *store = open_store (ST_DURABILITY_BATCH);
  g_autoptr (StMessage) kept = make_message ("a/kept", "durable", 1, true);
  g_autoptr (StMessage) gone = make_message ("a/gone", "soon cleared", 0, false);
  g_autoptr (StMessage) clear = make_message ("a/gone", "", 0, false);
  g_autoptr (StMessage) other = make_message ("a/kept", "other broker", 0, false);
  int64_t kept_id = st_mqtt_store_new_id (store);
  Found f;

  st_mqtt_store_retain_set (store, BROKER, kept_id, kept);
  st_mqtt_store_retain_set (store, BROKER, st_mqtt_store_new_id (store), gone);
  st_mqtt_store_retain_set (store, BROKER, 0, clear);
  st_mqtt_store_retain_set (store, "ffffffffffffffffffffffffffffffff", st_mqtt_store_new_id (store), other);
  /* no flush: closing writes what is queued */
  st_mqtt_store_close (store);

  g_assert_cmpint (count_rows ("retained"), ==, 2);
  g_assert_cmpint (count_rows ("messages"), ==, 2);

  store = open_store (ST_DURABILITY_BATCH);
  load (store, BROKER, &f);
  g_assert_cmpuint (f.retained->len, ==, 1);
  g_assert_cmpint (g_array_index (f.retained_ids, int64_t, 0), ==, kept_id);
  StMessage *m = g_ptr_array_index (f.retained, 0);
  assert_bytes (m->topic, "a/kept");
  g_assert_cmpmem (m->payload->data, m->payload->len, "durable", 7);
  g_assert_cmpuint (m->qos, ==, 1);
  assert_bytes (m->content_type, "text/plain");
  assert_bytes (m->response_topic, "reply/here");
  g_assert_true (m->has_correlation_data);
  g_assert_cmpuint (m->correlation_data.len, ==, 0);
  g_assert_true (m->has_payload_format);
  g_assert_cmpuint (m->payload_format, ==, 1);
  g_assert_cmpmem (m->user_properties.data, m->user_properties.len,
                   kept->user_properties.data, kept->user_properties.len);
  /* the deadline is kept to about the millisecond across the restart */
  g_assert_cmpint (ABS (m->expire_at_ms - kept->expire_at_ms), <=, 50);
  g_assert_cmpuint (f.sessions->len, ==, 0);
  found_clear (&f);

  /* the message of a replaced retained topic goes with it */
  g_autoptr (StMessage) replacement = make_message ("a/kept", "v2", 0, false);
  st_mqtt_store_retain_set (store, BROKER, st_mqtt_store_new_id (store), replacement);
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("retained"), ==, 2);
  g_assert_cmpint (count_rows ("messages"), ==, 2);
  st_mqtt_store_close (store);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
test_session (void)
{
  StMqttStore *store = open_store (ST_DURABILITY_BATCH);
  int64_t sid = st_mqtt_store_new_id (store);
  g_autoptr (StMessage) m1 = make_message ("t/1", "one", 1, true);
  g_autoptr (StMessage) m2 = make_message ("t/2", "two", 2, false);
  g_autoptr (StMessage) m3 = make_message ("t/3", "three", 2, false);
  MqttSubOptions o1 = { .qos = 2, .no_local = true, .retain_as_published = true, .retain_handling = 2 };
  MqttSubOptions o2 = { .qos = 1 };
  const uint32_t ids[] = { 7, 268435455 };
  int64_t d1 = st_mqtt_store_new_id (store), d2, d3, d4;
  Found f;

  st_mqtt_store_session_put (store, sid, BROKER, "client-1", MQTT_V5, 3600, 0);
  st_mqtt_store_sub_put (store, sid, MQTT_BYTES_STR ("t/#"), &o1, 7);
  st_mqtt_store_sub_put (store, sid, MQTT_BYTES_STR ("$share/g/t/+"), &o2, 0);
  st_mqtt_store_sub_put (store, sid, MQTT_BYTES_STR ("gone/filter"), &o2, 0);
  st_mqtt_store_sub_delete (store, sid, MQTT_BYTES_STR ("gone/filter"));
  /* one delivery acknowledged (deleted), one sent and PUBREC'd, one sent,
   * one still queued */
  st_mqtt_store_delivery_add (store, d1, sid, 100, m1, 1, false, ST_MQTT_STORE_QUEUED, 0, NULL, 0);
  st_mqtt_store_delivery_update (store, d1, ST_MQTT_STORE_WAIT_ACK, 5);
  st_mqtt_store_delivery_delete (store, d1);
  d2 = st_mqtt_store_new_id (store);
  st_mqtt_store_delivery_add (store, d2, sid, 200, m2, 2, true, ST_MQTT_STORE_QUEUED, 0, ids, 2);
  st_mqtt_store_delivery_update (store, d2, ST_MQTT_STORE_WAIT_ACK, 6);
  st_mqtt_store_delivery_update (store, d2, ST_MQTT_STORE_WAIT_COMP, 6);
  d3 = st_mqtt_store_new_id (store);
  st_mqtt_store_delivery_add (store, d3, sid, 300, m3, 2, false, ST_MQTT_STORE_WAIT_ACK, 7, NULL, 0);
  d4 = st_mqtt_store_new_id (store);
  st_mqtt_store_delivery_add (store, d4, sid, 100, m1, 1, false, ST_MQTT_STORE_QUEUED, 0, ids, 1);
  st_mqtt_store_qos2_add (store, sid, 42);
  st_mqtt_store_qos2_add (store, sid, 43);
  st_mqtt_store_qos2_delete (store, sid, 42);
  st_mqtt_store_session_put (store, sid, BROKER, "client-1", MQTT_V5, 3600, g_get_real_time () / 1000);
  st_mqtt_store_close (store);

  store = open_store (ST_DURABILITY_BATCH);
  load (store, BROKER, &f);
  g_assert_cmpuint (f.sessions->len, ==, 1);
  FoundSession *s = g_ptr_array_index (f.sessions, 0);
  g_assert_cmpint (s->id, ==, sid);
  g_assert_cmpstr (s->client_id, ==, "client-1");
  g_assert_cmpint (s->version, ==, MQTT_V5);
  g_assert_cmpuint (s->expiry, ==, 3600);
  /* counted from the disconnection, not from the load */
  g_assert_cmpint (s->expire_at_ms, >, st_now_ms () + 3590 * 1000);
  g_assert_cmpint (s->expire_at_ms, <=, st_now_ms () + 3600 * 1000);

  g_assert_cmpuint (s->subs->len, ==, 2);
  g_ptr_array_sort (s->subs, compare_strings);
  g_assert_cmpstr (s->subs->pdata[0], ==, "$share/g/t/+|q1 nl0 rap0 rh0|0");
  g_assert_cmpstr (s->subs->pdata[1], ==, "t/#|q2 nl1 rap1 rh2|7");

  g_assert_cmpuint (s->deliveries->len, ==, 3);
  FoundDelivery *d = g_ptr_array_index (s->deliveries, 0);
  g_assert_cmpint (d->id, ==, d2);
  g_assert_cmpint (d->msg_id, ==, 200);
  g_assert_cmpmem (d->msg->payload->data, d->msg->payload->len, "two", 3);
  g_assert_cmpuint (d->qos, ==, 2);
  g_assert_true (d->retain);
  g_assert_cmpuint (d->state, ==, ST_MQTT_STORE_WAIT_COMP);
  g_assert_cmpuint (d->packet_id, ==, 6);
  g_assert_cmpuint (d->sub_ids->len, ==, 2);
  g_assert_cmpuint (g_array_index (d->sub_ids, uint32_t, 0), ==, 7);
  g_assert_cmpuint (g_array_index (d->sub_ids, uint32_t, 1), ==, 268435455);
  d = g_ptr_array_index (s->deliveries, 1);
  g_assert_cmpint (d->id, ==, d3);
  g_assert_cmpuint (d->state, ==, ST_MQTT_STORE_WAIT_ACK);
  g_assert_cmpuint (d->packet_id, ==, 7);
  assert_bytes (d->msg->topic, "t/3");
  d = g_ptr_array_index (s->deliveries, 2);
  g_assert_cmpint (d->id, ==, d4);
  g_assert_cmpuint (d->state, ==, ST_MQTT_STORE_QUEUED);
  g_assert_cmpuint (d->sub_ids->len, ==, 1);
  assert_bytes (d->msg->content_type, "text/plain");

  g_assert_cmpuint (s->qos2->len, ==, 1);
  g_assert_cmpuint (g_array_index (s->qos2, uint16_t, 0), ==, 43);
  found_clear (&f);

  /* new ids never reuse a stored one */
  g_assert_cmpint (st_mqtt_store_new_id (store), >, d4);

  /* deleting the session takes everything of it */
  st_mqtt_store_session_delete (store, sid);
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("sessions"), ==, 0);
  g_assert_cmpint (count_rows ("subscriptions"), ==, 0);
  g_assert_cmpint (count_rows ("deliveries"), ==, 0);
  g_assert_cmpint (count_rows ("qos2_in"), ==, 0);
  g_assert_cmpint (count_rows ("messages"), ==, 0);
  st_mqtt_store_close (store);
}

static void
test_shared_message (void)
{
  StMqttStore *store = open_store (ST_DURABILITY_OFF);
  g_autoptr (StMessage) msg = make_message ("shared/t", "once", 1, false);
  int64_t mid = st_mqtt_store_new_id (store);
  int64_t s1 = st_mqtt_store_new_id (store), s2 = st_mqtt_store_new_id (store);
  int64_t d1 = st_mqtt_store_new_id (store), d2 = st_mqtt_store_new_id (store);
  Found f;

  /* stored as retained too: set before any thread sees it */
  msg->retain = true;
  g_assert_cmpint (count_rows ("messages"), ==, 0);
  st_mqtt_store_session_put (store, s1, BROKER, "s1", MQTT_V311, UINT32_MAX, 0);
  st_mqtt_store_session_put (store, s2, BROKER, "s2", MQTT_V5, 60, 0);
  st_mqtt_store_delivery_add (store, d1, s1, mid, msg, 1, false, ST_MQTT_STORE_QUEUED, 0, NULL, 0);
  st_mqtt_store_delivery_add (store, d2, s2, mid, msg, 1, false, ST_MQTT_STORE_QUEUED, 0, NULL, 0);
  st_mqtt_store_retain_set (store, BROKER, mid, msg);
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("messages"), ==, 1);
  g_assert_cmpint (count_rows ("deliveries"), ==, 2);

  /* after a restart the three uses are still one message */
  st_mqtt_store_close (store);
  store = open_store (ST_DURABILITY_OFF);
  load (store, BROKER, &f);
  g_assert_cmpuint (f.sessions->len, ==, 2);
  g_assert_cmpuint (f.retained->len, ==, 1);
  FoundSession *a = g_ptr_array_index (f.sessions, 0);
  FoundSession *b = g_ptr_array_index (f.sessions, 1);
  g_assert_cmpuint (a->deliveries->len, ==, 1);
  g_assert_cmpuint (b->deliveries->len, ==, 1);
  g_assert_true (((FoundDelivery *) a->deliveries->pdata[0])->msg
                 == ((FoundDelivery *) b->deliveries->pdata[0])->msg);
  g_assert_true (((FoundDelivery *) a->deliveries->pdata[0])->msg == f.retained->pdata[0]);
  /* 3.1.1 clean session 0: never expires */
  FoundSession *v3 = a->version == MQTT_V311 ? a : b;
  g_assert_cmpuint (v3->expiry, ==, UINT32_MAX);
  g_assert_cmpint (v3->expire_at_ms, ==, 0);
  found_clear (&f);

  st_mqtt_store_delivery_delete (store, d1);
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("messages"), ==, 1);
  st_mqtt_store_session_delete (store, s2);
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("messages"), ==, 1);
  g_autoptr (StMessage) clear = make_message ("shared/t", "", 0, false);
  st_mqtt_store_retain_set (store, BROKER, 0, clear);
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("messages"), ==, 0);
  /* a delete of a row already gone changes nothing */
  st_mqtt_store_delivery_delete (store, d2);
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("sessions"), ==, 1);
  st_mqtt_store_close (store);
}

static void
test_expiry (void)
{
  StMqttStore *store = open_store (ST_DURABILITY_ALWAYS);
  gint64 now_wall = g_get_real_time () / 1000;
  int64_t ended = st_mqtt_store_new_id (store), online = st_mqtt_store_new_id (store);
  g_autoptr (StMessage) old = make_message ("e/old", "stale", 1, false);
  g_autoptr (StMessage) fresh = make_message ("e/fresh", "fresh", 1, false);
  int64_t old_id = st_mqtt_store_new_id (store), fresh_id = st_mqtt_store_new_id (store);
  int64_t queued_old = st_mqtt_store_new_id (store), sent_old = st_mqtt_store_new_id (store);
  int64_t queued_fresh = st_mqtt_store_new_id (store);
  Found f;

  /* expired a second ago (the messages are not yet shared: tests may) */
  old->expire_at_ms = st_now_ms () - 1000;
  old->retain = true;

  /* disconnected 3 s ago with a 2 s expiry: over */
  st_mqtt_store_session_put (store, ended, BROKER, "ended", MQTT_V5, 2, now_wall - 3000);
  st_mqtt_store_delivery_add (store, st_mqtt_store_new_id (store), ended, fresh_id, fresh, 1,
                              false, ST_MQTT_STORE_QUEUED, 0, NULL, 0);
  /* connected when the process went away: counts from the load */
  st_mqtt_store_session_put (store, online, BROKER, "online", MQTT_V5, 2, 0);
  st_mqtt_store_delivery_add (store, queued_old, online, old_id, old, 1, false, ST_MQTT_STORE_QUEUED, 0, NULL, 0);
  st_mqtt_store_delivery_add (store, sent_old, online, old_id, old, 1, false, ST_MQTT_STORE_WAIT_ACK, 9, NULL, 0);
  st_mqtt_store_delivery_add (store, queued_fresh, online, fresh_id, fresh, 1, false, ST_MQTT_STORE_QUEUED, 0, NULL, 0);
  st_mqtt_store_retain_set (store, BROKER, old_id, old);
  st_mqtt_store_close (store);

  store = open_store (ST_DURABILITY_ALWAYS);
  load (store, BROKER, &f);
  g_assert_cmpuint (f.retained->len, ==, 0);
  g_assert_cmpuint (f.sessions->len, ==, 1);
  FoundSession *s = g_ptr_array_index (f.sessions, 0);
  g_assert_cmpstr (s->client_id, ==, "online");
  g_assert_cmpint (s->expire_at_ms, >, st_now_ms () + 1500);
  g_assert_cmpint (s->expire_at_ms, <=, st_now_ms () + 2000);
  /* the expired queued one is gone; the one in flight is still re-sent */
  g_assert_cmpuint (s->deliveries->len, ==, 2);
  g_assert_cmpint (((FoundDelivery *) s->deliveries->pdata[0])->id, ==, sent_old);
  g_assert_true (st_message_expired (((FoundDelivery *) s->deliveries->pdata[0])->msg, st_now_ms ()));
  g_assert_cmpint (((FoundDelivery *) s->deliveries->pdata[1])->id, ==, queued_fresh);
  found_clear (&f);
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("sessions"), ==, 1);
  g_assert_cmpint (count_rows ("deliveries"), ==, 2);
  g_assert_cmpint (count_rows ("retained"), ==, 0);
  g_assert_cmpint (count_rows ("messages"), ==, 2);
  st_mqtt_store_close (store);

  /* the load wrote down the disconnection: a second restart 2.5 s later
   * finds the session over, not restarted from zero */
  g_usleep (2500 * 1000);
  store = open_store (ST_DURABILITY_ALWAYS);
  load (store, BROKER, &f);
  g_assert_cmpuint (f.sessions->len, ==, 0);
  found_clear (&f);
  st_mqtt_store_close (store);
  g_assert_cmpint (count_rows ("messages"), ==, 0);
}

typedef struct {
  StMqttStore *store;
  int64_t      session;
  StMessage   *msg;
  int64_t      msg_id;
} Writer;

static gpointer
writer_thread (gpointer data)
{
  Writer *w = data;

  for (guint i = 0; i < 2000; i++)
    {
      int64_t id = st_mqtt_store_new_id (w->store);

      st_mqtt_store_delivery_add (w->store, id, w->session, w->msg_id, w->msg, 1, false,
                                  ST_MQTT_STORE_QUEUED, 0, NULL, 0);
      st_mqtt_store_delivery_update (w->store, id, ST_MQTT_STORE_WAIT_ACK, (uint16_t) (i + 1));
      /* every other one acknowledged */
      if (i % 2)
        st_mqtt_store_delivery_delete (w->store, id);
    }
  return NULL;
}

static void
test_threads (void)
{
  StMqttStore *store = open_store (ST_DURABILITY_BATCH);
  g_autoptr (StMessage) msg = make_message ("busy", "x", 1, false);
  int64_t mid = st_mqtt_store_new_id (store);
  Writer w[4];
  GThread *t[4];
  Found f;

  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    {
      g_autofree char *cid = g_strdup_printf ("writer-%u", i);

      w[i] = (Writer) { store, st_mqtt_store_new_id (store), msg, mid };
      st_mqtt_store_session_put (store, w[i].session, BROKER, cid, MQTT_V5, 60, 0);
      t[i] = g_thread_new ("writer", writer_thread, &w[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    g_thread_join (t[i]);
  st_mqtt_store_close (store);

  g_assert_cmpint (count_rows ("deliveries"), ==, 4 * 1000);
  g_assert_cmpint (count_rows ("messages"), ==, 1);
  store = open_store (ST_DURABILITY_BATCH);
  load (store, BROKER, &f);
  g_assert_cmpuint (f.sessions->len, ==, 4);
  for (guint i = 0; i < f.sessions->len; i++)
    {
      FoundSession *s = g_ptr_array_index (f.sessions, i);

      g_assert_cmpuint (s->deliveries->len, ==, 1000);
      /* in the order they were added */
      for (guint k = 1; k < s->deliveries->len; k++)
        g_assert_cmpint (((FoundDelivery *) s->deliveries->pdata[k - 1])->id, <,
                         ((FoundDelivery *) s->deliveries->pdata[k])->id);
    }
  found_clear (&f);
  st_mqtt_store_close (store);
}

typedef struct {
  GMutex lock;
  GCond  cond;
  int    calls;
  gint64 rows_seen;
} Committed;

static void
on_committed (gpointer data)
{
  Committed *c = data;

  /* read from here, on the store thread, before anything else may commit */
  gint64 rows = count_rows ("deliveries");

  g_mutex_lock (&c->lock);
  c->rows_seen = rows;
  c->calls++;
  g_cond_signal (&c->cond);
  g_mutex_unlock (&c->lock);
}

static void
test_after_commit (void)
{
  for (StDurability mode = ST_DURABILITY_ALWAYS; mode <= ST_DURABILITY_OFF; mode++)
    {
      StMqttStore *store = open_store (mode);
      g_autoptr (StMessage) msg = make_message ("ack/me", "x", 1, false);
      int64_t sid = st_mqtt_store_new_id (store), mid = st_mqtt_store_new_id (store);
      int64_t before = count_rows ("deliveries");
      Committed c = { 0 };
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

      g_mutex_init (&c.lock);
      g_cond_init (&c.cond);
      st_mqtt_store_session_put (store, sid, BROKER, st_durability_to_string (mode), MQTT_V5, 60, 0);
      for (int i = 0; i < 10; i++)
        st_mqtt_store_delivery_add (store, st_mqtt_store_new_id (store), sid, mid, msg, 1, false,
                                    ST_MQTT_STORE_QUEUED, 0, NULL, 0);
      st_mqtt_store_after_commit (store, on_committed, &c);

      /* in every mode: without waiting for a group to fill, the ten in the file */
      g_mutex_lock (&c.lock);
      while (c.calls == 0)
        g_assert_true (g_cond_wait_until (&c.cond, &c.lock, deadline));
      g_mutex_unlock (&c.lock);
      g_assert_cmpint (c.rows_seen, ==, before + 10);
      st_mqtt_store_close (store);
      g_mutex_clear (&c.lock);
      g_cond_clear (&c.cond);
    }
}

static void
test_newer_schema (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = db_path ();
  sqlite3 *db = NULL;

  st_mqtt_store_close (open_store (ST_DURABILITY_BATCH));
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_assert_null (st_mqtt_store_open (path, ST_DURABILITY_BATCH, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "newer"));
}

static void
test_file_mode (void)
{
  g_autofree char *path = db_path ();
  GStatBuf st;

  st_mqtt_store_close (open_store (ST_DURABILITY_BATCH));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

/* Deleting a broker removes its retained messages and sessions with their
 * contents, keeps another broker's, and leaves no message row behind, even
 * one that both brokers' rows shared; the deletion survives a reopen. */
static void
test_broker_delete (void)
{
  StMqttStore *store = open_store (ST_DURABILITY_OFF);
  g_autoptr (StMessage) msg = make_message ("gone/t", "bye", 1, true);
  g_autoptr (StMessage) kept = make_message ("kept/t", "stay", 1, false);
  MqttSubOptions opts = { .qos = 1 };
  int64_t mid = st_mqtt_store_new_id (store), kid = st_mqtt_store_new_id (store);
  int64_t s1 = st_mqtt_store_new_id (store), s2 = st_mqtt_store_new_id (store);
  int64_t s3 = st_mqtt_store_new_id (store);
  Found f;

  msg->retain = true;
  kept->retain = true;
  st_mqtt_store_retain_set (store, "gone", mid, msg);
  st_mqtt_store_session_put (store, s1, "gone", "c1", MQTT_V5, 600, 0);
  st_mqtt_store_session_put (store, s2, "gone", "c2", MQTT_V5, 600, 0);
  st_mqtt_store_sub_put (store, s1, MQTT_BYTES_STR ("gone/#"), &opts, 0);
  st_mqtt_store_delivery_add (store, st_mqtt_store_new_id (store), s1, mid, msg, 1, false,
                              ST_MQTT_STORE_QUEUED, 0, NULL, 0);
  st_mqtt_store_qos2_add (store, s2, 7);
  st_mqtt_store_retain_set (store, "kept", kid, kept);
  st_mqtt_store_session_put (store, s3, "kept", "c1", MQTT_V5, 600, 0);
  st_mqtt_store_delivery_add (store, st_mqtt_store_new_id (store), s3, kid, kept, 1, false,
                              ST_MQTT_STORE_QUEUED, 0, NULL, 0);
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("sessions"), ==, 3);
  g_assert_cmpint (count_rows ("messages"), ==, 2);

  st_mqtt_store_broker_delete (store, "gone");
  st_mqtt_store_flush (store);
  g_assert_cmpint (count_rows ("sessions"), ==, 1);
  g_assert_cmpint (count_rows ("subscriptions"), ==, 0);
  g_assert_cmpint (count_rows ("qos2_in"), ==, 0);
  g_assert_cmpint (count_rows ("retained"), ==, 1);
  g_assert_cmpint (count_rows ("deliveries"), ==, 1);
  g_assert_cmpint (count_rows ("messages"), ==, 1);

  st_mqtt_store_close (store);
  store = open_store (ST_DURABILITY_OFF);
  load (store, "gone", &f);
  g_assert_cmpuint (f.sessions->len, ==, 0);
  g_assert_cmpuint (f.retained->len, ==, 0);
  found_clear (&f);
  load (store, "kept", &f);
  g_assert_cmpuint (f.sessions->len, ==, 1);
  g_assert_cmpuint (f.retained->len, ==, 1);
  found_clear (&f);
  st_mqtt_store_close (store);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/mqtt-store/durability-names", test_durability_names);
  g_test_add_func ("/mqtt-store/durability-key", test_durability_key);
  g_test_add_func ("/mqtt-store/retained", test_retained);
  g_test_add_func ("/mqtt-store/session", test_session);
  g_test_add_func ("/mqtt-store/shared-message", test_shared_message);
  g_test_add_func ("/mqtt-store/expiry", test_expiry);
  g_test_add_func ("/mqtt-store/broker-delete", test_broker_delete);
  g_test_add_func ("/mqtt-store/threads", test_threads);
  g_test_add_func ("/mqtt-store/after-commit", test_after_commit);
  g_test_add_func ("/mqtt-store/newer-schema", test_newer_schema);
  g_test_add_func ("/mqtt-store/file-mode", test_file_mode);
  return g_test_run ();
}
