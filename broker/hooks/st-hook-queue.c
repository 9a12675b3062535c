#define G_LOG_DOMAIN "starling-hooks"

#include "st-hook-queue.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "core/st-broker.h"
#include "core/st-conn.h"
#include "core/st-engine-private.h"
#include "core/st-persist.h"

/* A failing hook is logged when its error changes, else at most this
 * often: with a message a millisecond, one line per failure would bury
 * the log. */
#define FAILURE_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)
/* The counters go to the log this often while the hook is busy. */
#define SUMMARY_LOG_INTERVAL_US (60 * G_USEC_PER_SEC)

typedef struct {
  StMessage *msg;
  StConn    *conn;         /* a reference: the publisher, to acknowledge; NULL for a will */
  char      *will_client_id; /* a will's client (conn NULL) */
  guint64    mid;
  gint64     received_at;  /* Unix seconds */
  uint16_t   packet_id;
  uint8_t    qos;
  size_t     cost;
} HookItem;

typedef struct {
  StHookQueue *q;
  HookItem    *items;
  guint        n;
  guint64      first_mid;    /* items[i].mid == first_mid + i */
  bool         done;         /* answered (or failed, or not sent) */
  bool         discard;      /* broker deleted or hooks stopping: nothing is routed */
  StMessage  **out;          /* per item: what to route, NULL: dropped */
  uint8_t     *drop_rc;      /* per item: reason code when dropped */
  guint        n_delivered, n_changed, n_dropped;
  bool         sent, failed;
  char        *error;        /* why it failed */
} HookBatch;

struct _StHookQueue {
  StBroker       *broker;
  pthread_mutex_t lock;

  /* settings (lock) */
  StHookClient   *client;
  char           *url;          /* NULL: no hook (waiting messages pass unchanged) */
  guint           timeout_ms;
  bool            deliver_on_failure;
  bool            silent_drops;
  guint           concurrency;
  StSigningKey   *key;
  bool            removed;
  bool            stopped;

  /* hook thread */
  StHookTarget   *target;
  guint           target_concurrency;

  /* lock */
  GQueue          waiting;      /* HookItem*, oldest first */
  size_t          waiting_bytes;
  GQueue          batches;      /* HookBatch*, in the order sent */
  guint           in_flight;
  guint64         total_msgs;   /* waiting + in batches */
  size_t          total_bytes;
  guint64         next_mid;
  bool            kick_scheduled;
  GPtrArray      *paused;       /* StConn* (references) with hook_waiting set */
  StHookStats     stats;
  gint64          last_logged_us;
  char           *last_logged;
  gint64          last_summary_us;
  guint64         summarised_sent;   /* stats.sent at the last summary */
};

/* ---- settings ------------------------------------------------------------ */

StHookQueue *
st_hook_queue_new (StBroker *broker)
{
  StHookQueue *q = g_new0 (StHookQueue, 1);

  q->broker = broker;
  pthread_mutex_init (&q->lock, NULL);
  g_queue_init (&q->waiting);
  g_queue_init (&q->batches);
  q->paused = g_ptr_array_new ();
  q->timeout_ms = ST_HOOK_DEFAULT_TIMEOUT_MS;
  q->concurrency = ST_HOOK_DEFAULT_CONCURRENCY;
  return q;
}

static void
item_clear (HookItem *it)
{
  g_clear_pointer (&it->msg, st_message_unref);
  g_clear_pointer (&it->conn, st_conn_unref);
  g_clear_pointer (&it->will_client_id, g_free);
}

static const char *
item_client_id (const HookItem *it)
{
  return it->conn ? it->conn->client_id : it->will_client_id;
}

/* A connection's message bound: above any Receive Maximum we grant, so
 * an MQTT 5 client that keeps to it is never stopped being read. */
static guint
conn_max_msgs (StHookQueue *q)
{
  return MAX ((guint) ST_HOOK_CONN_MESSAGES, 2u * q->broker->limits->receive_maximum);
}

/* Broker lock held. A QoS 2 message that leaves unacknowledged (hooks
 * stopping, answer discarded) must not stay in the session's received
 * set: the client sends it again after reconnecting, and would otherwise
 * get a PUBREC for a duplicate that was never routed. */
static void
release_qos2_locked (HookItem *it)
{
  StSession *s = it->conn ? it->conn->session : NULL;

  if (it->qos == 2 && s && g_hash_table_remove (s->qos2_in, GUINT_TO_POINTER (it->packet_id)))
    st_persist_qos2_released (s, it->packet_id);
}

static void
batch_free (HookBatch *b)
{
  for (guint i = 0; i < b->n; i++)
    {
      item_clear (&b->items[i]);
      if (b->out)
        g_clear_pointer (&b->out[i], st_message_unref);
    }
  g_free (b->items);
  g_free (b->out);
  g_free (b->drop_rc);
  g_free (b->error);
  g_free (b);
}

/* lock held */
static void
update_active_locked (StHookQueue *q)
{
  int active = !q->removed && (q->url != NULL || q->total_msgs > 0);

  __atomic_store_n (&q->broker->hook_active, active, __ATOMIC_RELEASE);
}

void
st_hook_queue_free (StHookQueue *q)
{
  HookItem *it;
  HookBatch *b;

  if (!q)
    return;
  while ((it = g_queue_pop_head (&q->waiting)))
    {
      item_clear (it);
      g_free (it);
    }
  while ((b = g_queue_pop_head (&q->batches)))
    batch_free (b);
  g_ptr_array_set_free_func (q->paused, (GDestroyNotify) st_conn_unref);
  g_ptr_array_unref (q->paused);
  g_clear_pointer (&q->key, st_signing_key_unref);
  g_free (q->url);
  g_free (q->stats.last_error);
  g_free (q->last_logged);
  pthread_mutex_destroy (&q->lock);
  g_free (q);
}

static gboolean kick_cb (gpointer data);

/* lock held */
static void
kick_locked (StHookQueue *q)
{
  if (q->kick_scheduled || !q->client || q->stopped || q->waiting.length == 0)
    return;
  if (q->url && q->in_flight >= q->concurrency)
    return;   /* the next answer sends the next batch */
  q->kick_scheduled = true;
  st_hook_client_invoke (q->client, kick_cb, q);
}

void
st_hook_queue_set (StHookQueue *q, StHookClient *client, const StHookSettings *settings)
{
  pthread_mutex_lock (&q->lock);
  if (!q->removed && !q->stopped)
    {
      g_clear_pointer (&q->url, g_free);
      if (settings && settings->url)
        {
          q->url = g_strdup (settings->url);
          q->timeout_ms = settings->timeout_ms ? settings->timeout_ms : ST_HOOK_DEFAULT_TIMEOUT_MS;
          q->deliver_on_failure = settings->deliver_on_failure;
          q->silent_drops = settings->silent_drops;
          q->concurrency = CLAMP (settings->concurrency ? settings->concurrency : ST_HOOK_DEFAULT_CONCURRENCY, 1, 64);
        }
      if (client)
        q->client = client;
      update_active_locked (q);
      /* Removed with messages waiting: they pass unchanged, in order. */
      kick_locked (q);
    }
  pthread_mutex_unlock (&q->lock);
}

void
st_hook_queue_set_key (StHookQueue *q, StSigningKey *key)
{
  pthread_mutex_lock (&q->lock);
  g_clear_pointer (&q->key, st_signing_key_unref);
  q->key = key ? st_signing_key_ref (key) : NULL;
  pthread_mutex_unlock (&q->lock);
}

void
st_hook_queue_stats (StHookQueue *q, StHookStats *stats)
{
  pthread_mutex_lock (&q->lock);
  *stats = q->stats;
  stats->last_error = g_strdup (q->stats.last_error);
  stats->queued = q->waiting.length;
  stats->in_flight = q->total_msgs - q->waiting.length;
  pthread_mutex_unlock (&q->lock);
}

/* Drops every waiting message (no acknowledgement) and forgets paused
 * connections; answers still to come are discarded. */
static void
drop_all (StHookQueue *q, bool stop)
{
  GQueue items = G_QUEUE_INIT;
  g_autoptr (GPtrArray) paused = NULL;
  HookItem *it;

  pthread_mutex_lock (&q->lock);
  if (stop)
    q->stopped = true;
  else
    q->removed = true;
  g_clear_pointer (&q->url, g_free);
  items = q->waiting;
  g_queue_init (&q->waiting);
  for (GList *l = items.head; l; l = l->next)
    {
      it = l->data;
      if (!it->conn)
        continue;
      it->conn->hook_msgs--;
      it->conn->hook_bytes -= it->cost;
    }
  q->total_msgs -= items.length;
  q->total_bytes -= q->waiting_bytes;
  q->waiting_bytes = 0;
  for (GList *l = q->batches.head; l; l = l->next)
    ((HookBatch *) l->data)->discard = true;
  paused = q->paused;
  q->paused = g_ptr_array_new ();
  for (guint i = 0; i < paused->len; i++)
    ((StConn *) g_ptr_array_index (paused, i))->hook_waiting = false;
  update_active_locked (q);
  pthread_mutex_unlock (&q->lock);

  if (items.length)
    {
      st_broker_lock (q->broker);
      for (GList *l = items.head; l; l = l->next)
        release_qos2_locked (l->data);
      st_broker_unlock (q->broker);
    }
  while ((it = g_queue_pop_head (&items)))
    {
      item_clear (it);
      g_free (it);
    }
  g_ptr_array_set_free_func (paused, (GDestroyNotify) st_conn_unref);
}

void
st_hook_queue_remove (StHookQueue *q)
{
  drop_all (q, false);
}

void
st_hook_queue_stop (StHookQueue *q)
{
  drop_all (q, true);
}

/* ---- I/O threads ------------------------------------------------------------ */

bool
st_hook_queue_push (StHookQueue *q, StConn *conn, StMessage *msg, uint16_t packet_id, bool *pause)
{
  HookItem *it;

  *pause = false;
  pthread_mutex_lock (&q->lock);
  if (!q->removed && !q->stopped && !q->url && q->total_msgs == 0)
    {
      pthread_mutex_unlock (&q->lock);
      return false;
    }
  if (q->removed || q->stopped)
    {
      /* Deleted broker or stopping server: its clients are being
       * disconnected; unacknowledged, the message is theirs to send again. */
      HookItem refused = { .conn = conn, .qos = msg->qos, .packet_id = packet_id };

      pthread_mutex_unlock (&q->lock);
      release_qos2_locked (&refused);
      return true;
    }

  it = g_new0 (HookItem, 1);
  it->msg = st_message_ref (msg);
  it->conn = st_conn_ref (conn);
  it->mid = ++q->next_mid;
  it->received_at = g_get_real_time () / G_USEC_PER_SEC;
  it->packet_id = packet_id;
  it->qos = msg->qos;
  it->cost = st_message_cost (msg);
  g_queue_push_tail (&q->waiting, it);
  q->waiting_bytes += it->cost;
  q->total_msgs++;
  q->total_bytes += it->cost;
  conn->hook_msgs++;
  conn->hook_bytes += it->cost;
  if (conn->hook_msgs >= conn_max_msgs (q) || conn->hook_bytes >= ST_HOOK_CONN_BYTES)
    {
      conn->hook_over = true;
      *pause = true;
    }
  if (q->total_bytes >= ST_HOOK_BROKER_BYTES && !conn->hook_waiting)
    {
      conn->hook_waiting = true;
      g_ptr_array_add (q->paused, st_conn_ref (conn));
      *pause = true;
    }
  kick_locked (q);
  pthread_mutex_unlock (&q->lock);
  return true;
}

bool
st_hook_queue_push_will (StHookQueue *q, const char *client_id, StMessage *will)
{
  HookItem *it;

  pthread_mutex_lock (&q->lock);
  if (q->removed || q->stopped || (!q->url && q->total_msgs == 0))
    {
      pthread_mutex_unlock (&q->lock);
      return q->removed || q->stopped;
    }
  it = g_new0 (HookItem, 1);
  it->msg = st_message_ref (will);
  it->will_client_id = g_strdup (client_id);
  it->mid = ++q->next_mid;
  it->received_at = g_get_real_time () / G_USEC_PER_SEC;
  it->qos = will->qos;
  it->cost = st_message_cost (will);
  g_queue_push_tail (&q->waiting, it);
  q->waiting_bytes += it->cost;
  q->total_msgs++;
  q->total_bytes += it->cost;
  kick_locked (q);
  pthread_mutex_unlock (&q->lock);
  return true;
}

bool
st_hook_queue_may_read (StHookQueue *q, StConn *conn)
{
  bool ok;

  pthread_mutex_lock (&q->lock);
  ok = !conn->hook_over && !conn->hook_waiting;
  pthread_mutex_unlock (&q->lock);
  return ok;
}

/* ---- request body ------------------------------------------------------------ */

static void
json_string (GString *s, const uint8_t *p, size_t n)
{
  static const char hex[] = "0123456789abcdef";

  g_string_append_c (s, '"');
  for (size_t i = 0; i < n; i++)
    {
      uint8_t c = p[i];

      if (c == '"' || c == '\\')
        {
          g_string_append_c (s, '\\');
          g_string_append_c (s, (char) c);
        }
      else if (c == '\n')
        g_string_append (s, "\\n");
      else if (c == '\r')
        g_string_append (s, "\\r");
      else if (c == '\t')
        g_string_append (s, "\\t");
      else if (c < 0x20 || c == 0x7f)
        {
          g_string_append (s, "\\u00");
          g_string_append_c (s, hex[c >> 4]);
          g_string_append_c (s, hex[c & 15]);
        }
      else
        g_string_append_c (s, (char) c);
    }
  g_string_append_c (s, '"');
}

static inline int
message_format (const StMessage *msg)
{
  return msg->has_payload_format ? msg->payload_format : 0;
}

/* Cloudflare's message shape (their PubSubMessage): receivedAt in Unix
 * seconds, contentType "" when the client set none, jti only when the
 * client authenticated with a token. Topics, client ids, content types and
 * payloads with format indicator 1 are valid UTF-8 already (the decoder
 * and the PUBLISH checks make sure); other payloads go as base64. */
static GBytes *
encode_batch (StBroker *broker, HookBatch *b)
{
  GString *s = g_string_sized_new (256 * b->n + 64);

  g_string_append_c (s, '[');
  for (guint i = 0; i < b->n; i++)
    {
      HookItem *it = &b->items[i];
      StMessage *msg = it->msg;
      int format = message_format (msg);

      if (i)
        g_string_append_c (s, ',');
      g_string_append_printf (s, "{\"mid\":%" G_GUINT64_FORMAT ",\"broker\":", it->mid);
      json_string (s, (const uint8_t *) broker->name, strlen (broker->name));
      g_string_append (s, ",\"namespace\":");
      json_string (s, (const uint8_t *) broker->namespace_name, strlen (broker->namespace_name));
      g_string_append (s, ",\"topic\":");
      json_string (s, msg->topic.data, msg->topic.len);
      g_string_append (s, ",\"clientId\":");
      json_string (s, (const uint8_t *) item_client_id (it), strlen (item_client_id (it)));
      if (it->conn && it->conn->jti)
        {
          g_string_append (s, ",\"jti\":");
          json_string (s, (const uint8_t *) it->conn->jti, strlen (it->conn->jti));
        }
      g_string_append_printf (s, ",\"receivedAt\":%" G_GINT64_FORMAT ",\"contentType\":", it->received_at);
      json_string (s, msg->content_type.data, msg->content_type.len);
      g_string_append_printf (s, ",\"payloadFormatIndicator\":%d,\"payload\":", format);
      if (format == 1)
        json_string (s, msg->payload->data, msg->payload->len);
      else
        {
          g_autofree char *b64 = g_base64_encode (msg->payload->data, msg->payload->len);

          g_string_append_c (s, '"');
          g_string_append (s, b64);
          g_string_append_c (s, '"');
        }
      g_string_append_c (s, '}');
    }
  g_string_append_c (s, ']');
  return g_string_free_to_bytes (s);
}

/* ---- answers ------------------------------------------------------------------ */

/* Standard base64 with or without padding, nothing else (GLib's decoder
 * skips what it does not know, which would turn text into garbage). */
static bool
base64_valid (const char *s, size_t n)
{
  size_t pad = 0;

  while (n > 0 && s[n - 1] == '=' && pad < 2)
    {
      n--;
      pad++;
    }
  if (pad && (n + pad) % 4 != 0)
    return false;
  if (n % 4 == 1)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum (s[i]) && s[i] != '+' && s[i] != '/')
      return false;
  return true;
}

static bool
node_integer (JsonNode *node, gint64 *value)
{
  if (!node || !JSON_NODE_HOLDS_VALUE (node))
    return false;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      *value = json_node_get_int (node);
      return true;
    case G_TYPE_DOUBLE:
      {
        double d = json_node_get_double (node);

        if (d != (double) (gint64) d)
          return false;
        *value = (gint64) d;
        return true;
      }
    default:
      return false;
    }
}

static bool
bytes_equal (const void *a, size_t alen, const void *b, size_t blen)
{
  return alen == blen && (alen == 0 || memcmp (a, b, alen) == 0);
}

/* One entry of the answer: what to route for item it, or NULL (dropped,
 * *why says why). */
static StMessage *
decide_entry (JsonObject *o, HookItem *it, bool *changed, const char **why)
{
  StMessage *msg = it->msg;
  JsonNode *n;
  int format = message_format (msg);
  bool has_format = msg->has_payload_format;
  MqttBytes ct = msg->content_type;
  g_autofree guint8 *decoded = NULL;
  const void *payload = msg->payload->data;
  size_t payload_len = msg->payload->len;

  *changed = false;
  if ((n = json_object_get_member (o, "topic")))
    {
      const char *topic = JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
                          ? json_node_get_string (n) : NULL;

      if (!topic || !bytes_equal (topic, strlen (topic), msg->topic.data, msg->topic.len))
        {
          *why = "topic changed";
          return NULL;
        }
    }
  if ((n = json_object_get_member (o, "payloadFormatIndicator")))
    {
      gint64 v;

      if (!node_integer (n, &v) || (v != 0 && v != 1))
        {
          *why = "payloadFormatIndicator is not 0 or 1";
          return NULL;
        }
      if (v != format)
        {
          format = (int) v;
          has_format = true;
        }
    }
  if ((n = json_object_get_member (o, "contentType")))
    {
      if (JSON_NODE_HOLDS_NULL (n))
        ct = (MqttBytes) { NULL, 0 };
      else if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
        {
          const char *s = json_node_get_string (n);

          /* "" is how a message without one was sent */
          ct = *s ? (MqttBytes) { (const uint8_t *) s, (uint32_t) strlen (s) } : (MqttBytes) { NULL, 0 };
        }
      else
        {
          *why = "contentType is not a string";
          return NULL;
        }
    }
  if ((n = json_object_get_member (o, "payload")))
    {
      const char *s = JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
                      ? json_node_get_string (n) : NULL;

      if (!s)
        {
          *why = "payload is not a string";
          return NULL;
        }
      if (format == 1)
        {
          payload = s;
          payload_len = strlen (s);
        }
      else
        {
          gsize len = 0;

          if (!base64_valid (s, strlen (s)))
            {
              *why = "payload is not base64 (payloadFormatIndicator 0)";
              return NULL;
            }
          decoded = g_base64_decode (*s ? s : "", &len);
          payload = decoded;
          payload_len = len;
        }
    }

  *changed = format != message_format (msg)
             || !bytes_equal (payload, payload_len, msg->payload->data, msg->payload->len)
             || (ct.data == NULL) != (msg->content_type.data == NULL)
             || !bytes_equal (ct.data, ct.len, msg->content_type.data, msg->content_type.len);
  if (!*changed)
    return st_message_ref (msg);
  if (format == 1 && !mqtt_utf8_valid (payload, payload_len))
    {
      *why = "payload is not UTF-8 but payloadFormatIndicator is 1";
      return NULL;
    }
  return st_message_new_changed (msg, payload, payload_len, has_format || format == 1,
                                 (uint8_t) format, ct);
}

static void
set_failed (HookBatch *b, char *error)
{
  b->failed = true;
  b->error = error;
}

/* Fills b->out from the answer: the 200 body is a JSON array of messages;
 * those listed (by mid) are routed, with their changes. */
static void
decide (StHookQueue *q, HookBatch *b, const StHookResult *r, bool deliver_on_failure, bool silent)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) error = NULL;
  uint8_t drop_rc = silent ? MQTT_RC_SUCCESS : MQTT_RC_IMPLEMENTATION_SPECIFIC;

  b->out = g_new0 (StMessage *, b->n);
  b->drop_rc = g_new (uint8_t, b->n);
  for (guint i = 0; i < b->n; i++)
    b->drop_rc[i] = drop_rc;

  if (r->status == 0)
    set_failed (b, g_strdup (r->error ? r->error : "no answer"));
  else if (r->status != 200)
    set_failed (b, g_strdup_printf ("HTTP status %u", r->status));
  else
    {
      gsize len;
      const char *data = g_bytes_get_data (r->body, &len);

      parser = json_parser_new_immutable ();
      if (!json_parser_load_from_data (parser, data ? data : "", (gssize) len, &error))
        set_failed (b, g_strdup_printf ("the answer is not JSON: %s", error->message));
      else if (!JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
        set_failed (b, g_strdup ("the answer is not a JSON array of messages"));
    }

  if (b->failed)
    {
      for (guint i = 0; i < b->n; i++)
        {
          if (deliver_on_failure)
            b->out[i] = st_message_ref (b->items[i].msg);
          else
            b->drop_rc[i] = silent ? MQTT_RC_SUCCESS : MQTT_RC_UNSPECIFIED_ERROR;
        }
      b->n_delivered = deliver_on_failure ? b->n : 0;
      b->n_dropped = b->n - b->n_delivered;
      return;
    }

  JsonArray *answer = json_node_get_array (json_parser_get_root (parser));
  guint n_entries = json_array_get_length (answer);
  const char *first_why = NULL;
  guint n_unknown = 0;

  for (guint k = 0; k < n_entries; k++)
    {
      JsonNode *e = json_array_get_element (answer, k);
      gint64 mid;
      guint i;
      bool changed;
      const char *why = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (e)
          || !node_integer (json_object_get_member (json_node_get_object (e), "mid"), &mid)
          || mid < (gint64) b->first_mid || mid >= (gint64) (b->first_mid + b->n))
        {
          n_unknown++;
          continue;
        }
      i = (guint) (mid - (gint64) b->first_mid);
      if (b->out[i] || b->drop_rc[i] == 0xff)
        continue;    /* listed twice: the first counts */
      b->out[i] = decide_entry (json_node_get_object (e), &b->items[i], &changed, &why);
      if (!b->out[i])
        {
          if (!first_why)
            first_why = why;
          /* remembered as decided, so a second entry cannot revive it */
          b->drop_rc[i] = 0xff;
        }
      else if (changed)
        b->n_changed++;
    }
  for (guint i = 0; i < b->n; i++)
    {
      if (b->drop_rc[i] == 0xff)
        b->drop_rc[i] = drop_rc;
      if (b->out[i])
        b->n_delivered++;
    }
  b->n_dropped = b->n - b->n_delivered;
  if (first_why || n_unknown)
    g_info ("broker %s.%s: hook answer: %u entries without a mid of the batch; dropped one because %s",
            q->broker->name, q->broker->namespace_name, n_unknown, first_why ? first_why : "-");
}

/* ---- hook thread --------------------------------------------------------------- */

typedef struct {
  StConn   *conn;
  GArray   *acks;       /* StHookAck */
  guint     msgs;
  size_t    bytes;
  bool      resume;
} ConnAcks;

static void
conn_acks_cb (void *data)
{
  ConnAcks *ca = data;

  st_conn_hook_acks (ca->conn, (const StHookAck *) ca->acks->data, ca->acks->len, ca->resume);
  st_conn_unref (ca->conn);
  g_array_unref (ca->acks);
  g_free (ca);
}

static void
conn_resume_cb (void *data)
{
  StConn *conn = data;

  st_conn_hook_resume (conn);
  st_conn_unref (conn);
}

static void
log_outcome_locked (StHookQueue *q, HookBatch *b)
{
  StBroker *broker = q->broker;

  if (!b->failed)
    {
      g_debug ("broker %s.%s: hook batch of %u from mid %" G_GUINT64_FORMAT
               ": %u delivered (%u changed), %u dropped", broker->name, broker->namespace_name,
               b->n, b->first_mid, b->n_delivered, b->n_changed, b->n_dropped);
      return;
    }
  gint64 now = g_get_real_time ();

  g_free (q->stats.last_error);
  q->stats.last_error = g_strdup (b->error);
  q->stats.last_error_at = now;
  if (g_strcmp0 (q->last_logged, b->error) != 0 || now - q->last_logged_us >= FAILURE_LOG_INTERVAL_US)
    {
      g_warning ("broker %s.%s: on-publish hook failed: %s (%u messages %s; %" G_GUINT64_FORMAT
                 " failed requests so far)", broker->name, broker->namespace_name, b->error, b->n,
                 b->n_delivered ? "delivered unchanged" : "dropped", q->stats.failed_requests);
      g_free (q->last_logged);
      q->last_logged = g_strdup (b->error);
      q->last_logged_us = now;
    }
}

/* Routes what the batch decided, then acknowledges each publisher on its
 * own loop. Batches come here one at a time, in the order sent. */
static void
apply (StHookQueue *q, HookBatch *b)
{
  StBroker *broker = q->broker;
  g_autoptr (GPtrArray) wake = g_ptr_array_new ();
  g_autoptr (GPtrArray) order = g_ptr_array_new ();   /* ConnAcks*, first seen first */
  g_autoptr (GHashTable) by_conn = g_hash_table_new (NULL, NULL);
  g_autoptr (GPtrArray) resume = NULL;
  uint8_t *rcs = g_newa (uint8_t, MAX (b->n, 1));
  bool discard = b->discard;
  guint64 total_msgs = 0;
  size_t total_bytes = 0;

  if (discard)
    {
      st_broker_lock (broker);
      for (guint i = 0; i < b->n; i++)
        release_qos2_locked (&b->items[i]);
      st_broker_unlock (broker);
    }
  else
    {
      st_broker_lock (broker);
      discard = broker->removed;
      for (guint i = 0; !discard && i < b->n; i++)
        {
          HookItem *it = &b->items[i];

          if (b->out[i])
            {
              /* No Local is per client id: the publisher's session, even
               * if it reconnected meanwhile. */
              StSession *s = g_hash_table_lookup (broker->sessions, item_client_id (it));
              guint matched = st_broker_publish_locked (broker, b->out[i], s, wake);

              rcs[i] = matched ? MQTT_RC_SUCCESS : MQTT_RC_NO_MATCHING_SUBSCRIBERS;
            }
          else
            rcs[i] = b->drop_rc[i];
        }
      st_broker_unlock (broker);
      st_broker_wake (wake);
    }

  for (guint i = 0; i < b->n; i++)
    {
      HookItem *it = &b->items[i];
      ConnAcks *ca;

      total_msgs++;
      total_bytes += it->cost;
      if (!it->conn)
        continue;   /* a will: nobody to acknowledge */
      ca = g_hash_table_lookup (by_conn, it->conn);
      if (!ca)
        {
          ca = g_new0 (ConnAcks, 1);
          ca->conn = st_conn_ref (it->conn);
          ca->acks = g_array_new (FALSE, FALSE, sizeof (StHookAck));
          g_hash_table_insert (by_conn, it->conn, ca);
          g_ptr_array_add (order, ca);
        }
      if (it->qos > 0 && !discard)
        {
          StHookAck ack = { .packet_id = it->packet_id, .qos = it->qos, .rc = rcs[i] };

          g_array_append_val (ca->acks, ack);
        }
      ca->msgs++;
      ca->bytes += it->cost;
    }

  pthread_mutex_lock (&q->lock);
  q->total_msgs -= total_msgs;
  q->total_bytes -= total_bytes;
  for (guint i = 0; i < order->len; i++)
    {
      ConnAcks *ca = g_ptr_array_index (order, i);
      StConn *conn = ca->conn;

      conn->hook_msgs -= ca->msgs;
      conn->hook_bytes -= ca->bytes;
      if (conn->hook_over && conn->hook_msgs <= conn_max_msgs (q) / 2
          && conn->hook_bytes <= ST_HOOK_CONN_BYTES / 2)
        {
          conn->hook_over = false;
          ca->resume = true;
        }
    }
  if (q->paused->len && q->total_bytes <= ST_HOOK_BROKER_BYTES / 2 && !q->stopped)
    {
      resume = q->paused;
      q->paused = g_ptr_array_new ();
      for (guint i = 0; i < resume->len; i++)
        ((StConn *) g_ptr_array_index (resume, i))->hook_waiting = false;
    }
  if (!discard)
    {
      q->stats.delivered += b->n_delivered;
      q->stats.changed += b->n_changed;
      q->stats.dropped += b->n_dropped;
      if (b->failed)
        {
          q->stats.failed += b->n;
          q->stats.failed_requests++;
        }
      if (b->sent)
        log_outcome_locked (q, b);
      gint64 now = g_get_monotonic_time ();
      if (q->stats.sent != q->summarised_sent && now - q->last_summary_us >= SUMMARY_LOG_INTERVAL_US)
        {
          if (q->last_summary_us)
            g_message ("broker %s.%s: on-publish hook so far: %" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT
                       " delivered (%" G_GUINT64_FORMAT " changed), %" G_GUINT64_FORMAT " dropped, %"
                       G_GUINT64_FORMAT " in failed requests (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT ")",
                       broker->name, broker->namespace_name, q->stats.sent, q->stats.delivered,
                       q->stats.changed, q->stats.dropped, q->stats.failed, q->stats.failed_requests,
                       q->stats.requests);
          q->last_summary_us = now;
          q->summarised_sent = q->stats.sent;
        }
    }
  update_active_locked (q);
  bool stopped = q->stopped;
  pthread_mutex_unlock (&q->lock);

  /* Once stopping, no loop is touched: the network may be going down. */
  for (guint i = 0; i < order->len; i++)
    {
      ConnAcks *ca = g_ptr_array_index (order, i);

      if (!stopped && (ca->acks->len || ca->resume))
        st_loop_invoke (ca->conn->loop, conn_acks_cb, ca);
      else
        {
          st_conn_unref (ca->conn);
          g_array_unref (ca->acks);
          g_free (ca);
        }
    }
  for (guint i = 0; resume && i < resume->len; i++)
    {
      StConn *conn = g_ptr_array_index (resume, i);

      if (!stopped)
        st_loop_invoke (conn->loop, conn_resume_cb, conn);
      else
        st_conn_unref (conn);
    }
  batch_free (b);
}

/* Marks b answered and applies every batch at the head that is. */
static void
finish (StHookQueue *q, HookBatch *b)
{
  HookBatch *head;

  pthread_mutex_lock (&q->lock);
  b->done = true;
  while ((head = g_queue_peek_head (&q->batches)) && head->done)
    {
      g_queue_pop_head (&q->batches);
      pthread_mutex_unlock (&q->lock);
      apply (q, head);
      pthread_mutex_lock (&q->lock);
    }
  pthread_mutex_unlock (&q->lock);
}

typedef struct {
  StHookQueue *q;
  HookBatch   *b;
  bool         deliver_on_failure;
  bool         silent;
} Sent;

static void pump (StHookQueue *q);

static void
answered (const StHookResult *r, gpointer data)
{
  Sent *sent = data;
  StHookQueue *q = sent->q;
  HookBatch *b = sent->b;
  bool deliver_on_failure = sent->deliver_on_failure, silent = sent->silent;

  g_free (sent);
  if (r->cancelled)
    b->discard = true;
  else
    decide (q, b, r, deliver_on_failure, silent);
  pthread_mutex_lock (&q->lock);
  q->in_flight--;
  pthread_mutex_unlock (&q->lock);
  finish (q, b);
  pump (q);
}

/* Sends what is waiting, in batches, while requests may start. */
static void
pump (StHookQueue *q)
{
  pthread_mutex_lock (&q->lock);
  q->kick_scheduled = false;
  while (q->waiting.length > 0 && !q->stopped && !q->removed
         && (!q->url || q->in_flight < q->concurrency))
    {
      HookBatch *b = g_new0 (HookBatch, 1);
      guint cap = MIN (q->waiting.length, ST_HOOK_BATCH_MESSAGES);
      size_t bytes = 0;

      b->q = q;
      b->items = g_new (HookItem, cap);
      while (b->n < cap)
        {
          HookItem *it = g_queue_peek_head (&q->waiting);

          if (b->n > 0 && bytes + it->cost > ST_HOOK_BATCH_BYTES)
            break;
          g_queue_pop_head (&q->waiting);
          b->items[b->n++] = *it;
          bytes += it->cost;
          g_free (it);
        }
      q->waiting_bytes -= bytes;
      b->first_mid = b->items[0].mid;
      g_queue_push_tail (&q->batches, b);

      if (!q->url)
        {
          /* The hook was removed while these waited: they pass as they
           * would have without one, still behind the ones before them. */
          pthread_mutex_unlock (&q->lock);
          b->out = g_new0 (StMessage *, b->n);
          b->drop_rc = g_new0 (uint8_t, b->n);
          for (guint i = 0; i < b->n; i++)
            b->out[i] = st_message_ref (b->items[i].msg);
          finish (q, b);
          pthread_mutex_lock (&q->lock);
          continue;
        }

      g_autofree char *url = g_strdup (q->url);
      g_autoptr (StSigningKey) key = q->key ? st_signing_key_ref (q->key) : NULL;
      guint timeout_ms = q->timeout_ms;
      guint concurrency = q->concurrency;
      Sent *sent = g_new (Sent, 1);

      sent->q = q;
      sent->b = b;
      sent->deliver_on_failure = q->deliver_on_failure;
      sent->silent = q->silent_drops;
      b->sent = true;
      q->in_flight++;
      q->stats.sent += b->n;
      q->stats.requests++;
      pthread_mutex_unlock (&q->lock);

      if (!q->target)
        {
          q->target = st_hook_target_new (q->client, concurrency);
          q->target_concurrency = concurrency;
        }
      else if (q->target_concurrency != concurrency)
        {
          st_hook_target_set_concurrency (q->target, concurrency);
          q->target_concurrency = concurrency;
        }
      g_autoptr (GBytes) body = encode_batch (q->broker, b);
      st_hook_post (q->target, url, body, key, timeout_ms, answered, sent);

      pthread_mutex_lock (&q->lock);
    }
  pthread_mutex_unlock (&q->lock);
}

static gboolean
kick_cb (gpointer data)
{
  pump (data);
  return G_SOURCE_REMOVE;
}

/* ---- the engine's API -------------------------------------------------------- */

void
st_hook_stats_clear (StHookStats *stats)
{
  if (stats)
    g_clear_pointer (&stats->last_error, g_free);
}

StHookClient *
st_engine_get_hook_client (StEngine *engine)
{
  StHookClient *client;

  pthread_mutex_lock (&engine->lock);
  if (!engine->hooks && !engine->hooks_stopped)
    engine->hooks = st_hook_client_new ();
  client = engine->hooks;
  pthread_mutex_unlock (&engine->lock);
  return client;
}

void
st_broker_set_hook (StBroker *broker, const StHookSettings *settings)
{
  StHookClient *client = NULL;

  g_return_if_fail (broker != NULL);
  if (settings && settings->url)
    {
      client = st_engine_get_hook_client (broker->engine);
      if (!client)
        return;   /* stopping */
      g_message ("broker %s.%s: on-publish hook %s (timeout %u ms, on failure %s, drops %s, %u at once)",
                 broker->name, broker->namespace_name, settings->url,
                 settings->timeout_ms ? settings->timeout_ms : ST_HOOK_DEFAULT_TIMEOUT_MS,
                 settings->deliver_on_failure ? "deliver" : "drop",
                 settings->silent_drops ? "acknowledged as success" : "acknowledged 0x83",
                 settings->concurrency ? settings->concurrency : ST_HOOK_DEFAULT_CONCURRENCY);
    }
  st_hook_queue_set (broker->hook, client, settings);
}

bool
st_broker_get_hook_stats (StBroker *broker, StHookStats *stats)
{
  g_return_val_if_fail (broker != NULL && stats != NULL, false);
  st_hook_queue_stats (broker->hook, stats);
  return stats->requests > 0 || stats->queued > 0
         || __atomic_load_n (&broker->hook_active, __ATOMIC_RELAXED);
}

void
st_engine_stop_hooks (StEngine *engine)
{
  g_autoptr (GPtrArray) brokers = g_ptr_array_new ();
  StHookClient *client;

  g_return_if_fail (engine != NULL);
  pthread_mutex_lock (&engine->lock);
  engine->hooks_stopped = true;
  client = g_steal_pointer (&engine->hooks);
  for (guint i = 0; i < engine->brokers->len; i++)
    g_ptr_array_add (brokers, g_ptr_array_index (engine->brokers, i));
  for (guint i = 0; i < engine->removed->len; i++)
    g_ptr_array_add (brokers, g_ptr_array_index (engine->removed, i));
  pthread_mutex_unlock (&engine->lock);

  for (guint i = 0; i < brokers->len; i++)
    st_hook_queue_stop (((StBroker *) g_ptr_array_index (brokers, i))->hook);
  /* In flight: cancelled, their answers discarded; then the thread ends. */
  st_hook_client_free (client);
}
