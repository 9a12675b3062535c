/* test-paho.c — Paho MQTT C (MQTTAsync) against a real `starlingd --dev`
 *
 * Each test starts its own daemon on ephemeral loopback ports with a fresh
 * data directory, talks to it with Paho at MQTT 5 and 3.1.1, and stops it.
 * Paho calls us back on its own threads; results are handed over under a
 * mutex and every wait has a deadline, so a silent broker fails a test
 * instead of hanging it.
 */

#define G_LOG_DOMAIN "starling-test-paho"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include <MQTTAsync.h>

#define WAIT_SECONDS 10
#define READY_SECONDS 10
#define STOP_SECONDS 5

/* A failed check ends the current test but not the program, so one broken
 * feature doesn't hide the results of the others. */
#define REQUIRE(cond, ...)                      \
  G_STMT_START {                                \
    if (!(cond))                                \
      {                                         \
        g_test_fail_printf (__VA_ARGS__);       \
        return;                                 \
      }                                         \
  } G_STMT_END

/* ---- the daemon -------------------------------------------------------- */

typedef struct
{
  gchar *data_dir;
  GSubprocess *proc;
  guint16 mqtt_port;
  guint16 mqtts_port;
  guint16 ws_port;
  guint16 wss_port;
  gchar *ca_path;
  gboolean ready;
} Broker;

static guint16
ready_port (const gchar *json,
            const gchar *name)
{
  g_autofree gchar *pattern = NULL;
  g_autoptr(GRegex) re = NULL;
  g_autoptr(GMatchInfo) mi = NULL;
  g_autofree gchar *port = NULL;

  /* The ready file is tiny and flat per listener: a regex beats adding a
   * JSON dependency just for the tests. */
  pattern = g_strdup_printf ("\"%s\"\\s*:\\s*\\{[^}]*\"port\"\\s*:\\s*(\\d+)", name);
  re = g_regex_new (pattern, 0, 0, NULL);
  if (!g_regex_match (re, json, 0, &mi))
    return 0;
  port = g_match_info_fetch (mi, 1);
  return (guint16) g_ascii_strtoull (port, NULL, 10);
}

static void
broker_setup (Broker        *b,
              gconstpointer  data)
{
  const gchar *starlingd = g_getenv ("STARLINGD");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree gchar *ready_file = NULL;
  g_autofree gchar *mqtt_dir = NULL;
  gint64 deadline;

  if (starlingd == NULL)
    {
      g_test_fail_printf ("STARLINGD is not set (meson's test_env sets it)");
      return;
    }

  b->data_dir = g_dir_make_tmp ("starling-paho-XXXXXX", &error);
  g_assert_no_error (error);
  ready_file = g_build_filename (b->data_dir, "ready.json", NULL);
  mqtt_dir = g_build_filename (b->data_dir, "data", NULL);
  b->ca_path = g_build_filename (mqtt_dir, "tls", "ca.pem", NULL);

  /* The daemon's stdout would corrupt our TAP stream: send it to stderr,
   * which meson keeps in the log. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
  b->proc = g_subprocess_launcher_spawn (launcher, &error,
                                         starlingd, "--dev",
                                         "--data-dir", mqtt_dir,
                                         "--mqtt", "127.0.0.1:0",
                                         "--mqtts", "127.0.0.1:0",
                                         "--ws", "127.0.0.1:0",
                                         "--wss", "127.0.0.1:0",
                                         "--api", "127.0.0.1:0",
                                         "--threads", "2",
                                         "--ready-file", ready_file,
                                         NULL);
  if (b->proc == NULL)
    {
      g_test_fail_printf ("cannot start %s: %s", starlingd, error->message);
      return;
    }

  deadline = g_get_monotonic_time () + READY_SECONDS * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      g_autofree gchar *json = NULL;

      if (g_file_get_contents (ready_file, &json, NULL, NULL))
        {
          b->mqtt_port = ready_port (json, "mqtt");
          b->mqtts_port = ready_port (json, "mqtts");
          b->ws_port = ready_port (json, "ws");
          b->wss_port = ready_port (json, "wss");
          if (b->mqtt_port && b->mqtts_port && b->ws_port && b->wss_port)
            {
              b->ready = TRUE;
              return;
            }
        }
      /* GSubprocess reaps on GLib's worker thread; the identifier goes
       * away once the daemon has exited. */
      if (g_subprocess_get_identifier (b->proc) == NULL)
        break;
      g_usleep (20 * 1000);
    }
  g_test_fail_printf ("starlingd wrote no complete ready file within %d s%s",
                      READY_SECONDS,
                      g_subprocess_get_identifier (b->proc) ? "" : " (it exited)");
}

static void
broker_teardown (Broker        *b,
                 gconstpointer  data)
{
  if (b->proc != NULL)
    {
      gboolean alive = g_subprocess_get_identifier (b->proc) != NULL;
      gint64 deadline;

      if (b->ready && !alive)
        g_test_fail_printf ("starlingd died during the test");

      if (alive)
        {
          g_subprocess_send_signal (b->proc, SIGTERM);
          deadline = g_get_monotonic_time () + STOP_SECONDS * G_USEC_PER_SEC;
          while (g_subprocess_get_identifier (b->proc) != NULL &&
                 g_get_monotonic_time () < deadline)
            g_usleep (10 * 1000);
          if (g_subprocess_get_identifier (b->proc) != NULL)
            {
              g_test_fail_printf ("starlingd did not stop within %d s of SIGTERM",
                                  STOP_SECONDS);
              g_subprocess_force_exit (b->proc);
            }
        }
      /* Bounded: it has exited or was just killed. */
      g_subprocess_wait (b->proc, NULL, NULL);
      if (alive && b->ready &&
          !(g_subprocess_get_if_exited (b->proc) &&
            g_subprocess_get_exit_status (b->proc) == 0))
        g_test_fail_printf ("starlingd did not exit cleanly on SIGTERM");
      g_clear_object (&b->proc);
    }

  if (b->data_dir != NULL)
    {
      g_autofree gchar *argv_rm = g_strdup_printf ("rm -rf '%s'", b->data_dir);

      /* A throwaway tree under the test's tmp dir; rm -rf is the simplest
       * recursive delete. */
      g_spawn_command_line_sync (argv_rm, NULL, NULL, NULL, NULL);
    }
  g_clear_pointer (&b->data_dir, g_free);
  g_clear_pointer (&b->ca_path, g_free);
}

/* ---- a Paho client ----------------------------------------------------- */

typedef struct
{
  gchar *topic;
  GBytes *payload;
  int qos;
  int retained;
  int dup;
  MQTTProperties props;
} Msg;

static void
msg_free (Msg *m)
{
  g_free (m->topic);
  g_bytes_unref (m->payload);
  MQTTProperties_free (&m->props);
  g_free (m);
}

/* Per-operation state: 0 pending, 1 succeeded, -1 failed. */
typedef struct
{
  int state;
  int rc;           /* Paho error code on failure */
  int reason;       /* MQTT reason code (v5) or granted QoS (v3 SUBACK) */
  int session_present;
  gchar *message;
} Op;

typedef struct _Client Client;

/* Paho gets one of these as the context of each call, so a callback knows
 * both the client and the operation.  They live in the Client, which
 * outlives the Paho handle, so a late callback never sees freed memory. */
typedef struct
{
  Client *client;
  Op *op;
} OpRef;

struct _Client
{
  MQTTAsync handle;
  int version;
  GMutex lock;
  GCond cond;
  Op connect;
  Op subscribe;
  Op publish;
  Op disconnect;
  OpRef connect_ref;
  OpRef subscribe_ref;
  OpRef publish_ref;
  OpRef disconnect_ref;
  GPtrArray *msgs;
  gboolean lost;
};

/* Under the lock: a late answer to an earlier, timed-out call of the same
 * kind may still be writing. */
static void
op_reset (Client *c,
          Op     *op)
{
  g_mutex_lock (&c->lock);
  op->state = 0;
  op->rc = 0;
  op->reason = 0;
  op->session_present = 0;
  g_clear_pointer (&op->message, g_free);
  g_mutex_unlock (&c->lock);
}

static void
client_free (Client *c)
{
  if (c->handle != NULL)
    {
      if (MQTTAsync_isConnected (c->handle))
        {
          MQTTAsync_disconnectOptions opts = MQTTAsync_disconnectOptions_initializer;

          if (c->version == MQTTVERSION_5)
            opts = (MQTTAsync_disconnectOptions) MQTTAsync_disconnectOptions_initializer5;
          opts.timeout = 1000;
          MQTTAsync_disconnect (c->handle, &opts);
        }
      MQTTAsync_destroy (&c->handle);
    }
  g_ptr_array_unref (c->msgs);
  g_free (c->connect.message);
  g_free (c->subscribe.message);
  g_free (c->publish.message);
  g_free (c->disconnect.message);
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static void
op_finish (Client *c,
           Op     *op,
           int     state,
           int     rc,
           int     reason,
           int     session_present,
           const char *message)
{
  g_mutex_lock (&c->lock);
  op->state = state;
  op->rc = rc;
  op->reason = reason;
  op->session_present = session_present;
  g_free (op->message);
  op->message = g_strdup (message);
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->lock);
}

static void
on_success (void                  *context,
            MQTTAsync_successData *response)
{
  OpRef *ref = context;
  int reason = 0, sp = 0;

  if (response != NULL)
    {
      if (ref->op == &ref->client->subscribe)
        reason = response->alt.qos;
      if (ref->op == &ref->client->connect)
        sp = response->alt.connect.sessionPresent;
    }
  op_finish (ref->client, ref->op, 1, 0, reason, sp, NULL);
}

static void
on_failure (void                  *context,
            MQTTAsync_failureData *response)
{
  OpRef *ref = context;

  op_finish (ref->client, ref->op, -1,
             response ? response->code : -1, 0, 0,
             response ? response->message : NULL);
}

static void
on_success5 (void                   *context,
             MQTTAsync_successData5 *response)
{
  OpRef *ref = context;
  int sp = 0;

  if (response != NULL && ref->op == &ref->client->connect)
    sp = response->alt.connect.sessionPresent;
  op_finish (ref->client, ref->op, 1, 0,
             response ? (int) response->reasonCode : 0, sp, NULL);
}

static void
on_failure5 (void                   *context,
             MQTTAsync_failureData5 *response)
{
  OpRef *ref = context;

  op_finish (ref->client, ref->op, -1,
             response ? response->code : -1,
             response ? (int) response->reasonCode : 0, 0,
             response ? response->message : NULL);
}

static int
on_message (void             *context,
            char             *topic,
            int               topic_len,
            MQTTAsync_message *message)
{
  Client *c = context;
  Msg *m = g_new0 (Msg, 1);

  m->topic = topic_len > 0 ? g_strndup (topic, topic_len) : g_strdup (topic);
  m->payload = g_bytes_new (message->payload, message->payloadlen);
  m->qos = message->qos;
  m->retained = message->retained;
  m->dup = message->dup;
  m->props = MQTTProperties_copy (&message->properties);
  MQTTAsync_freeMessage (&message);
  MQTTAsync_free (topic);

  g_mutex_lock (&c->lock);
  g_ptr_array_add (c->msgs, m);
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->lock);
  return 1;
}

static void
on_connection_lost (void *context,
                    char *cause)
{
  Client *c = context;

  g_mutex_lock (&c->lock);
  c->lost = TRUE;
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->lock);
}

static Client *
client_new (const gchar *uri,
            const gchar *client_id,
            int          version)
{
  MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
  Client *c = g_new0 (Client, 1);
  int rc;

  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  c->msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) msg_free);
  c->version = version;
  if (version == MQTTVERSION_5)
    create = (MQTTAsync_createOptions) MQTTAsync_createOptions_initializer5;

  rc = MQTTAsync_createWithOptions (&c->handle, uri, client_id,
                                    MQTTCLIENT_PERSISTENCE_NONE, NULL, &create);
  g_assert_cmpint (rc, ==, MQTTASYNC_SUCCESS);
  rc = MQTTAsync_setCallbacks (c->handle, c, on_connection_lost, on_message, NULL);
  g_assert_cmpint (rc, ==, MQTTASYNC_SUCCESS);
  return c;
}

/* Waits until op leaves the pending state or the deadline passes; returns
 * the final state (0 on timeout). */
static int
op_wait (Client *c,
         Op     *op)
{
  gint64 end = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  int state;

  g_mutex_lock (&c->lock);
  while (op->state == 0)
    if (!g_cond_wait_until (&c->cond, &c->lock, end))
      break;
  state = op->state;
  g_mutex_unlock (&c->lock);
  return state;
}

static gboolean
wait_messages (Client *c,
               guint   n)
{
  gint64 end = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  gboolean ok;

  g_mutex_lock (&c->lock);
  while (c->msgs->len < n)
    if (!g_cond_wait_until (&c->cond, &c->lock, end))
      break;
  ok = c->msgs->len >= n;
  g_mutex_unlock (&c->lock);
  return ok;
}

static Msg *
message_at (Client *c,
            guint   i)
{
  Msg *m;

  g_mutex_lock (&c->lock);
  m = i < c->msgs->len ? g_ptr_array_index (c->msgs, i) : NULL;
  g_mutex_unlock (&c->lock);
  return m;
}

static guint
message_count (Client *c)
{
  guint n;

  g_mutex_lock (&c->lock);
  n = c->msgs->len;
  g_mutex_unlock (&c->lock);
  return n;
}

static const char *
op_describe (Op *op)
{
  static __thread char buf[256];

  if (op->state == 0)
    return "no answer within the deadline";
  g_snprintf (buf, sizeof buf, "rc %d, reason 0x%02x%s%s", op->rc, op->reason,
              op->message ? ": " : "", op->message ? op->message : "");
  return buf;
}

typedef struct
{
  gboolean clean;             /* cleanstart (v5) / cleansession (v3) */
  guint session_expiry;       /* v5 only */
  const gchar *will_topic;
  const gchar *will_payload;
  MQTTAsync_SSLOptions *ssl;
} ConnectArgs;

static gboolean
client_connect (Client            *c,
                const ConnectArgs *args)
{
  MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
  MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
  MQTTProperties props = MQTTProperties_initializer;
  int rc;

  op_reset (c, &c->connect);
  c->connect_ref = (OpRef) { c, &c->connect };
  if (c->version == MQTTVERSION_5)
    {
      opts = (MQTTAsync_connectOptions) MQTTAsync_connectOptions_initializer5;
      opts.cleanstart = args ? args->clean : 1;
      if (args && args->session_expiry)
        {
          MQTTProperty p = { .identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL };

          p.value.integer4 = args->session_expiry;
          MQTTProperties_add (&props, &p);
          opts.connectProperties = &props;
        }
      opts.onSuccess5 = on_success5;
      opts.onFailure5 = on_failure5;
    }
  else
    {
      opts.MQTTVersion = MQTTVERSION_3_1_1;
      opts.cleansession = args ? args->clean : 1;
      opts.onSuccess = on_success;
      opts.onFailure = on_failure;
    }
  opts.keepAliveInterval = 30;
  opts.connectTimeout = WAIT_SECONDS;
  opts.context = &c->connect_ref;
  if (args && args->will_topic)
    {
      will.topicName = args->will_topic;
      will.message = args->will_payload;
      will.qos = 1;
      opts.will = &will;
    }
  if (args && args->ssl)
    opts.ssl = args->ssl;

  rc = MQTTAsync_connect (c->handle, &opts);
  if (rc != MQTTASYNC_SUCCESS)
    {
      c->connect.state = -1;
      c->connect.rc = rc;
    }
  else
    op_wait (c, &c->connect);
  MQTTProperties_free (&props);
  return c->connect.state == 1;
}

static gboolean
client_subscribe (Client      *c,
                  const gchar *filter,
                  int          qos)
{
  MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
  int rc;

  op_reset (c, &c->subscribe);
  c->subscribe_ref = (OpRef) { c, &c->subscribe };
  if (c->version == MQTTVERSION_5)
    {
      opts.onSuccess5 = on_success5;
      opts.onFailure5 = on_failure5;
    }
  else
    {
      opts.onSuccess = on_success;
      opts.onFailure = on_failure;
    }
  opts.context = &c->subscribe_ref;
  rc = MQTTAsync_subscribe (c->handle, filter, qos, &opts);
  if (rc != MQTTASYNC_SUCCESS)
    {
      c->subscribe.state = -1;
      c->subscribe.rc = rc;
      return FALSE;
    }
  /* The granted QoS (v3) or reason code (v5) must be the QoS asked for. */
  return op_wait (c, &c->subscribe) == 1 && c->subscribe.reason == qos;
}

static gboolean
client_publish (Client         *c,
                const gchar    *topic,
                const void     *payload,
                int             len,
                int             qos,
                gboolean        retained,
                MQTTProperties *props)
{
  MQTTAsync_message msg = MQTTAsync_message_initializer;
  MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
  int rc;

  op_reset (c, &c->publish);
  c->publish_ref = (OpRef) { c, &c->publish };
  msg.payload = (void *) payload;
  msg.payloadlen = len;
  msg.qos = qos;
  msg.retained = retained;
  if (props != NULL)
    msg.properties = *props;
  if (c->version == MQTTVERSION_5)
    {
      opts.onSuccess5 = on_success5;
      opts.onFailure5 = on_failure5;
    }
  else
    {
      opts.onSuccess = on_success;
      opts.onFailure = on_failure;
    }
  opts.context = &c->publish_ref;
  rc = MQTTAsync_sendMessage (c->handle, topic, &msg, &opts);
  if (rc != MQTTASYNC_SUCCESS)
    {
      c->publish.state = -1;
      c->publish.rc = rc;
      return FALSE;
    }
  /* For QoS 1 and 2 success means PUBACK / PUBCOMP arrived. */
  return op_wait (c, &c->publish) == 1;
}

static gboolean
client_disconnect (Client *c)
{
  MQTTAsync_disconnectOptions opts = MQTTAsync_disconnectOptions_initializer;
  int rc;

  op_reset (c, &c->disconnect);
  c->disconnect_ref = (OpRef) { c, &c->disconnect };
  if (c->version == MQTTVERSION_5)
    {
      opts = (MQTTAsync_disconnectOptions) MQTTAsync_disconnectOptions_initializer5;
      opts.onSuccess5 = on_success5;
      opts.onFailure5 = on_failure5;
    }
  else
    {
      opts.onSuccess = on_success;
      opts.onFailure = on_failure;
    }
  opts.timeout = 2000;
  opts.context = &c->disconnect_ref;
  rc = MQTTAsync_disconnect (c->handle, &opts);
  if (rc != MQTTASYNC_SUCCESS)
    return FALSE;
  return op_wait (c, &c->disconnect) == 1;
}

/* ---- test parameters --------------------------------------------------- */

typedef struct
{
  int version;          /* MQTTVERSION_5 or MQTTVERSION_3_1_1 */
  int qos;
  const char *tag;      /* "v5" / "v311": keeps topics and ids apart */
} Params;

static gchar *
tcp_uri (Broker *b)
{
  return g_strdup_printf ("tcp://127.0.0.1:%u", b->mqtt_port);
}

static gchar *
unique_id (const gchar *what,
           const Params *p)
{
  return g_strdup_printf ("paho-%s-%s", what, p->tag);
}

/* ---- tests ------------------------------------------------------------- */

static Client *
connected_client (Broker       *b,
                  const gchar  *id,
                  const Params *p)
{
  g_autofree gchar *uri = tcp_uri (b);
  g_autoptr(Client) c = client_new (uri, id, p->version);

  if (!client_connect (c, NULL))
    {
      g_test_fail_printf ("%s could not connect: %s", id, op_describe (&c->connect));
      return NULL;
    }
  return g_steal_pointer (&c);
}

/* Publish at QoS n to a subscriber at QoS 2: the message arrives once, with
 * the same topic and payload (binary, with a NUL) and QoS n. */
static void
test_qos (Broker        *b,
          gconstpointer  data)
{
  const Params *p = data;
  g_autofree gchar *sub_id = unique_id ("sub", p);
  g_autofree gchar *pub_id = unique_id ("pub", p);
  g_autofree gchar *topic = g_strdup_printf ("paho/%s/qos%d/x", p->tag, p->qos);
  g_autofree gchar *filter = g_strdup_printf ("paho/%s/qos%d/#", p->tag, p->qos);
  static const guint8 payload[] = { 'h', 'i', 0x00, 0xff, 'q', 'o', 's' };
  g_autoptr(Client) sub = NULL;
  g_autoptr(Client) pub = NULL;
  Msg *m;

  if (!b->ready)
    return;
  sub = connected_client (b, sub_id, p);
  REQUIRE (sub, "subscriber did not connect");
  REQUIRE (client_subscribe (sub, filter, 2),
           "SUBSCRIBE at QoS 2 failed: %s", op_describe (&sub->subscribe));
  pub = connected_client (b, pub_id, p);
  REQUIRE (pub, "publisher did not connect");
  REQUIRE (client_publish (pub, topic, payload, sizeof payload, p->qos, FALSE, NULL),
           "PUBLISH at QoS %d not acknowledged: %s", p->qos, op_describe (&pub->publish));
  if (p->version == MQTTVERSION_5 && p->qos > 0)
    REQUIRE (pub->publish.reason == 0,
             "PUBLISH with a matching subscriber answered reason 0x%02x",
             pub->publish.reason);

  REQUIRE (wait_messages (sub, 1), "no message arrived within %d s", WAIT_SECONDS);
  m = message_at (sub, 0);
  g_assert_cmpstr (m->topic, ==, topic);
  g_assert_cmpmem (g_bytes_get_data (m->payload, NULL), g_bytes_get_size (m->payload),
                   payload, sizeof payload);
  g_assert_cmpint (m->qos, ==, p->qos);
  g_assert_cmpint (m->retained, ==, 0);

  /* Exactly once: give a duplicate a moment to show up. */
  g_usleep (200 * 1000);
  g_assert_cmpuint (message_count (sub), ==, 1);

  REQUIRE (client_disconnect (pub), "publisher DISCONNECT failed");
  REQUIRE (client_disconnect (sub), "subscriber DISCONNECT failed");
}

/* A retained message reaches a subscriber that arrives later, flagged
 * retained; an empty retained payload removes it. */
static void
test_retained (Broker        *b,
               gconstpointer  data)
{
  const Params *p = data;
  g_autofree gchar *topic = g_strdup_printf ("paho/%s/retained", p->tag);
  g_autofree gchar *pub_id = unique_id ("rpub", p);
  g_autofree gchar *late_id = unique_id ("late", p);
  g_autofree gchar *later_id = unique_id ("later", p);
  g_autoptr(Client) pub = NULL;
  g_autoptr(Client) late = NULL;
  g_autoptr(Client) later = NULL;
  Msg *m;

  if (!b->ready)
    return;
  pub = connected_client (b, pub_id, p);
  REQUIRE (pub, "publisher did not connect");
  REQUIRE (client_publish (pub, topic, "kept", 4, 1, TRUE, NULL),
           "retained PUBLISH failed: %s", op_describe (&pub->publish));

  late = connected_client (b, late_id, p);
  REQUIRE (late, "late subscriber did not connect");
  REQUIRE (client_subscribe (late, topic, 1),
           "SUBSCRIBE failed: %s", op_describe (&late->subscribe));
  REQUIRE (wait_messages (late, 1), "retained message not delivered to a later subscriber");
  m = message_at (late, 0);
  g_assert_cmpstr (m->topic, ==, topic);
  g_assert_cmpmem (g_bytes_get_data (m->payload, NULL), g_bytes_get_size (m->payload),
                   "kept", 4);
  g_assert_cmpint (m->retained, ==, 1);
  g_assert_cmpint (m->qos, ==, 1);

  /* Clear it.  The existing subscriber sees the empty publish as a normal
   * (non-retained) delivery; that's allowed either way, so we don't check. */
  REQUIRE (client_publish (pub, topic, "", 0, 1, TRUE, NULL),
           "clearing PUBLISH failed: %s", op_describe (&pub->publish));

  /* A new subscriber must not get "kept": its first message is the live one
   * we send after its SUBACK. */
  later = connected_client (b, later_id, p);
  REQUIRE (later, "third client did not connect");
  REQUIRE (client_subscribe (later, topic, 1),
           "SUBSCRIBE failed: %s", op_describe (&later->subscribe));
  REQUIRE (client_publish (pub, topic, "live", 4, 1, FALSE, NULL),
           "live PUBLISH failed: %s", op_describe (&pub->publish));
  REQUIRE (wait_messages (later, 1), "live message did not arrive");
  m = message_at (later, 0);
  g_assert_cmpmem (g_bytes_get_data (m->payload, NULL), g_bytes_get_size (m->payload),
                   "live", 4);
  g_assert_cmpint (m->retained, ==, 0);
}

/* Connects over a raw socket with a will and closes the socket without
 * DISCONNECT.  Paho can't do this: MQTTAsync_destroy on a connected client
 * still sends DISCONNECT (MQTTAsync_closeSession), so the will would
 * rightly be discarded. */
static gboolean
raw_connect_with_will_and_drop (guint16      port,
                                int          version,
                                const gchar *client_id,
                                const gchar *will_topic,
                                const gchar *will_payload,
                                GString     *why)
{
  g_autoptr(GByteArray) body = g_byte_array_new ();
  g_autoptr(GByteArray) pkt = g_byte_array_new ();
  struct sockaddr_in sa = { 0 };
  struct timeval tv = { WAIT_SECONDS, 0 };
  guint8 hdr[16];
  guint8 ack[64];
  gssize got = 0;
  gsize rem, n = 0;
  int fd;
  const guint8 proto[] = { 0, 4, 'M', 'Q', 'T', 'T' };
  guint8 flags = 0x02 | 0x04 | 0x08;   /* clean start, will, will QoS 1 */

#define PUT_STR(arr, s) G_STMT_START {                                  \
    guint16 l = (guint16) strlen (s);                                   \
    guint8 lb[2] = { l >> 8, l & 0xff };                                \
    g_byte_array_append (arr, lb, 2);                                   \
    g_byte_array_append (arr, (const guint8 *) (s), l);                 \
  } G_STMT_END

  g_byte_array_append (body, proto, sizeof proto);
  g_byte_array_append (body, (guint8[]) { version == MQTTVERSION_5 ? 5 : 4 }, 1);
  g_byte_array_append (body, &flags, 1);
  g_byte_array_append (body, (guint8[]) { 0, 30 }, 2);          /* keep alive */
  if (version == MQTTVERSION_5)
    g_byte_array_append (body, (guint8[]) { 0 }, 1);            /* properties */
  PUT_STR (body, client_id);
  if (version == MQTTVERSION_5)
    g_byte_array_append (body, (guint8[]) { 0 }, 1);            /* will properties */
  PUT_STR (body, will_topic);
  PUT_STR (body, will_payload);
#undef PUT_STR

  hdr[n++] = 0x10;
  rem = body->len;
  do
    {
      guint8 d = rem % 128;
      rem /= 128;
      hdr[n++] = d | (rem ? 0x80 : 0);
    }
  while (rem);
  g_byte_array_append (pkt, hdr, n);
  g_byte_array_append (pkt, body->data, body->len);

  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0 ||
      write (fd, pkt->data, pkt->len) != (gssize) pkt->len)
    {
      g_string_printf (why, "raw connect/write failed: %s", g_strerror (errno));
      close (fd);
      return FALSE;
    }
  /* CONNACK: 0x20, length, flags, reason/return code [, v5 properties]. */
  while (got < 4)
    {
      gssize r = read (fd, ack + got, sizeof ack - got);
      if (r <= 0)
        break;
      got += r;
    }
  if (got < 4 || ack[0] != 0x20 || ack[3] != 0)
    {
      g_string_printf (why, "no successful CONNACK (got %" G_GSSIZE_FORMAT " bytes, "
                       "first 0x%02x, code 0x%02x)", got,
                       got > 0 ? ack[0] : 0, got > 3 ? ack[3] : 0);
      close (fd);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

static void
test_will (Broker        *b,
           gconstpointer  data)
{
  const Params *p = data;
  g_autofree gchar *topic = g_strdup_printf ("paho/%s/will/gone", p->tag);
  g_autofree gchar *sub_id = unique_id ("willsub", p);
  g_autofree gchar *dying_id = unique_id ("dying", p);
  g_autoptr(GString) why = g_string_new (NULL);
  g_autoptr(Client) sub = NULL;
  Msg *m;

  if (!b->ready)
    return;
  sub = connected_client (b, sub_id, p);
  REQUIRE (sub, "subscriber did not connect");
  REQUIRE (client_subscribe (sub, topic, 1),
           "SUBSCRIBE failed: %s", op_describe (&sub->subscribe));

  REQUIRE (raw_connect_with_will_and_drop (b->mqtt_port, p->version, dying_id,
                                           topic, "it died", why),
           "%s", why->str);

  REQUIRE (wait_messages (sub, 1), "no will message within %d s of the socket closing",
           WAIT_SECONDS);
  m = message_at (sub, 0);
  g_assert_cmpstr (m->topic, ==, topic);
  g_assert_cmpmem (g_bytes_get_data (m->payload, NULL), g_bytes_get_size (m->payload),
                   "it died", 7);
  g_assert_cmpint (m->qos, ==, 1);
}

/* The same client with a Paho DISCONNECT: no will. */
static void
test_no_will_after_disconnect (Broker        *b,
                               gconstpointer  data)
{
  const Params *p = data;
  g_autofree gchar *topic = g_strdup_printf ("paho/%s/nowill", p->tag);
  g_autofree gchar *uri = tcp_uri (b);
  g_autofree gchar *sub_id = unique_id ("nowillsub", p);
  g_autofree gchar *polite_id = unique_id ("polite", p);
  g_autoptr(Client) sub = NULL;
  g_autoptr(Client) polite = NULL;
  ConnectArgs args = { .clean = TRUE, .will_topic = topic, .will_payload = "must not" };
  Msg *m;

  if (!b->ready)
    return;
  sub = connected_client (b, sub_id, p);
  REQUIRE (sub, "subscriber did not connect");
  REQUIRE (client_subscribe (sub, topic, 1),
           "SUBSCRIBE failed: %s", op_describe (&sub->subscribe));

  polite = client_new (uri, polite_id, p->version);
  REQUIRE (client_connect (polite, &args),
           "client with a will did not connect: %s", op_describe (&polite->connect));
  REQUIRE (client_disconnect (polite), "DISCONNECT failed");

  /* A wrongly sent will would be due at once; then our sentinel. */
  g_usleep (300 * 1000);
  REQUIRE (client_publish (sub, topic, "sentinel", 8, 1, FALSE, NULL),
           "sentinel PUBLISH failed: %s", op_describe (&sub->publish));
  REQUIRE (wait_messages (sub, 1), "sentinel did not arrive");
  m = message_at (sub, 0);
  g_assert_cmpmem (g_bytes_get_data (m->payload, NULL), g_bytes_get_size (m->payload),
                   "sentinel", 8);
}

/* Clean start 0 with a session expiry (v5) or clean session 0 (v3.1.1):
 * the subscription survives the disconnect, QoS 1 messages published while
 * the client is away are queued and delivered, in order, on reconnect. */
static void
test_session_resume (Broker        *b,
                     gconstpointer  data)
{
  const Params *p = data;
  g_autofree gchar *uri = tcp_uri (b);
  g_autofree gchar *topic = g_strdup_printf ("paho/%s/session", p->tag);
  g_autofree gchar *id = unique_id ("resume", p);
  g_autofree gchar *pub_id = unique_id ("spub", p);
  ConnectArgs args = { .clean = FALSE, .session_expiry = 300 };
  g_autoptr(Client) first = NULL;
  g_autoptr(Client) pub = NULL;
  g_autoptr(Client) again = NULL;
  guint i;

  if (!b->ready)
    return;
  first = client_new (uri, id, p->version);
  REQUIRE (client_connect (first, &args), "first connect failed: %s",
           op_describe (&first->connect));
  g_assert_cmpint (first->connect.session_present, ==, 0);
  REQUIRE (client_subscribe (first, topic, 1),
           "SUBSCRIBE failed: %s", op_describe (&first->subscribe));
  REQUIRE (client_disconnect (first), "DISCONNECT failed");
  g_clear_pointer (&first, client_free);

  pub = connected_client (b, pub_id, p);
  REQUIRE (pub, "publisher did not connect");
  for (i = 0; i < 3; i++)
    {
      g_autofree gchar *payload = g_strdup_printf ("offline %u", i);
      REQUIRE (client_publish (pub, topic, payload, strlen (payload), 1, FALSE, NULL),
               "PUBLISH %u failed: %s", i, op_describe (&pub->publish));
    }

  again = client_new (uri, id, p->version);
  REQUIRE (client_connect (again, &args), "reconnect failed: %s",
           op_describe (&again->connect));
  g_assert_cmpint (again->connect.session_present, ==, 1);
  REQUIRE (wait_messages (again, 3),
           "only %u of 3 queued messages arrived after reconnect", message_count (again));
  for (i = 0; i < 3; i++)
    {
      g_autofree gchar *payload = g_strdup_printf ("offline %u", i);
      Msg *m = message_at (again, i);

      g_assert_cmpstr (m->topic, ==, topic);
      g_assert_cmpmem (g_bytes_get_data (m->payload, NULL), g_bytes_get_size (m->payload),
                       payload, strlen (payload));
      g_assert_cmpint (m->qos, ==, 1);
    }
  REQUIRE (client_disconnect (again), "DISCONNECT failed");
}

/* The other half: connecting with clean start (v5) / clean session (v3.1.1)
 * throws the stored session away, with its subscription and its queue. */
static void
test_session_clean_start (Broker        *b,
                          gconstpointer  data)
{
  const Params *p = data;
  g_autofree gchar *uri = tcp_uri (b);
  g_autofree gchar *topic = g_strdup_printf ("paho/%s/discarded", p->tag);
  g_autofree gchar *sentinel = g_strdup_printf ("paho/%s/discarded-sentinel", p->tag);
  g_autofree gchar *id = unique_id ("discard", p);
  g_autofree gchar *pub_id = unique_id ("dpub", p);
  ConnectArgs keep = { .clean = FALSE, .session_expiry = 300 };
  ConnectArgs clean = { .clean = TRUE };
  g_autoptr(Client) first = NULL;
  g_autoptr(Client) pub = NULL;
  g_autoptr(Client) fresh = NULL;
  Msg *m;

  if (!b->ready)
    return;
  first = client_new (uri, id, p->version);
  REQUIRE (client_connect (first, &keep), "first connect failed: %s",
           op_describe (&first->connect));
  REQUIRE (client_subscribe (first, topic, 1),
           "SUBSCRIBE failed: %s", op_describe (&first->subscribe));
  REQUIRE (client_disconnect (first), "DISCONNECT failed");
  g_clear_pointer (&first, client_free);

  pub = connected_client (b, pub_id, p);
  REQUIRE (pub, "publisher did not connect");
  REQUIRE (client_publish (pub, topic, "stale", 5, 1, FALSE, NULL),
           "PUBLISH failed: %s", op_describe (&pub->publish));

  fresh = client_new (uri, id, p->version);
  REQUIRE (client_connect (fresh, &clean), "clean reconnect failed: %s",
           op_describe (&fresh->connect));
  g_assert_cmpint (fresh->connect.session_present, ==, 0);
  /* A queued message, wrongly kept, would come right after CONNACK; so the
   * first thing to arrive must be this sentinel. */
  REQUIRE (client_subscribe (fresh, sentinel, 1),
           "SUBSCRIBE failed: %s", op_describe (&fresh->subscribe));
  REQUIRE (client_publish (pub, sentinel, "sentinel", 8, 1, FALSE, NULL),
           "sentinel PUBLISH failed: %s", op_describe (&pub->publish));
  REQUIRE (wait_messages (fresh, 1), "sentinel did not arrive");
  m = message_at (fresh, 0);
  g_assert_cmpstr (m->topic, ==, sentinel);
  /* And the old subscription is gone too. */
  REQUIRE (client_publish (pub, topic, "after", 5, 1, FALSE, NULL),
           "PUBLISH failed: %s", op_describe (&pub->publish));
  g_usleep (300 * 1000);
  g_assert_cmpuint (message_count (fresh), ==, 1);
  REQUIRE (client_disconnect (fresh), "DISCONNECT failed");
}

static void
add_string_prop (MQTTProperties          *props,
                 enum MQTTPropertyCodes   id,
                 const void              *data,
                 int                      len)
{
  MQTTProperty p = { .identifier = id };

  p.value.data.data = (char *) data;
  p.value.data.len = len;
  MQTTProperties_add (props, &p);
}

static void
add_user_prop (MQTTProperties *props,
               const char     *key,
               const char     *value)
{
  MQTTProperty p = { .identifier = MQTTPROPERTY_CODE_USER_PROPERTY };

  p.value.data.data = (char *) key;
  p.value.data.len = strlen (key);
  p.value.value.data = (char *) value;
  p.value.value.len = strlen (value);
  MQTTProperties_add (props, &p);
}

static void
assert_lenstr (const MQTTLenString *s,
               const void          *want,
               int                  len)
{
  g_assert_cmpmem (s->data, s->len, want, len);
}

/* MQTT 5: user properties (with a repeated key, order kept), content type,
 * correlation data (binary) and response topic arrive unchanged. */
static void
test_properties (Broker        *b,
                 gconstpointer  data)
{
  const Params *p = data;
  g_autofree gchar *topic = g_strdup_printf ("paho/%s/props", p->tag);
  g_autofree gchar *sub_id = unique_id ("propsub", p);
  g_autofree gchar *pub_id = unique_id ("proppub", p);
  static const guint8 corr[] = { 0x00, 0x01, 0xfe, 0xff, 'c', 'o', 'r', 'r' };
  MQTTProperties props = MQTTProperties_initializer;
  g_autoptr(Client) sub = NULL;
  g_autoptr(Client) pub = NULL;
  MQTTProperty *prop;
  gboolean sent;
  Msg *m;

  if (!b->ready)
    return;
  sub = connected_client (b, sub_id, p);
  REQUIRE (sub, "subscriber did not connect");
  REQUIRE (client_subscribe (sub, topic, 1),
           "SUBSCRIBE failed: %s", op_describe (&sub->subscribe));
  pub = connected_client (b, pub_id, p);
  REQUIRE (pub, "publisher did not connect");

  add_user_prop (&props, "colour", "blue");
  add_user_prop (&props, "size", "9");
  add_user_prop (&props, "colour", "green");
  add_string_prop (&props, MQTTPROPERTY_CODE_CONTENT_TYPE, "application/json", 16);
  add_string_prop (&props, MQTTPROPERTY_CODE_CORRELATION_DATA, corr, sizeof corr);
  add_string_prop (&props, MQTTPROPERTY_CODE_RESPONSE_TOPIC, "paho/reply/here", 15);
  sent = client_publish (pub, topic, "{\"a\":1}", 7, 1, FALSE, &props);
  MQTTProperties_free (&props);
  REQUIRE (sent, "PUBLISH with properties failed: %s", op_describe (&pub->publish));

  REQUIRE (wait_messages (sub, 1), "message with properties did not arrive");
  m = message_at (sub, 0);
  g_assert_cmpmem (g_bytes_get_data (m->payload, NULL), g_bytes_get_size (m->payload),
                   "{\"a\":1}", 7);

  g_assert_cmpint (MQTTProperties_propertyCount (&m->props, MQTTPROPERTY_CODE_USER_PROPERTY), ==, 3);
  prop = MQTTProperties_getPropertyAt (&m->props, MQTTPROPERTY_CODE_USER_PROPERTY, 0);
  REQUIRE (prop, "user property 0 missing");
  assert_lenstr (&prop->value.data, "colour", 6);
  assert_lenstr (&prop->value.value, "blue", 4);
  prop = MQTTProperties_getPropertyAt (&m->props, MQTTPROPERTY_CODE_USER_PROPERTY, 1);
  REQUIRE (prop, "user property 1 missing");
  assert_lenstr (&prop->value.data, "size", 4);
  assert_lenstr (&prop->value.value, "9", 1);
  prop = MQTTProperties_getPropertyAt (&m->props, MQTTPROPERTY_CODE_USER_PROPERTY, 2);
  REQUIRE (prop, "user property 2 missing");
  assert_lenstr (&prop->value.data, "colour", 6);
  assert_lenstr (&prop->value.value, "green", 5);

  prop = MQTTProperties_getProperty (&m->props, MQTTPROPERTY_CODE_CONTENT_TYPE);
  REQUIRE (prop, "content type missing");
  assert_lenstr (&prop->value.data, "application/json", 16);
  prop = MQTTProperties_getProperty (&m->props, MQTTPROPERTY_CODE_CORRELATION_DATA);
  REQUIRE (prop, "correlation data missing");
  assert_lenstr (&prop->value.data, corr, sizeof corr);
  prop = MQTTProperties_getProperty (&m->props, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
  REQUIRE (prop, "response topic missing");
  assert_lenstr (&prop->value.data, "paho/reply/here", 15);
}

/* Round trips over another transport (TLS verifying the daemon's local CA
 * and the host name, WebSocket, secure WebSocket).
 *
 * own_echo FALSE: one client subscribes, a second one publishes; both on
 * this transport.
 *
 * own_echo TRUE: a single client publishes at QoS 1 to its own
 * subscription.  starlingd then answers with the PUBACK and the PUBLISH in
 * one write; over WebSocket that can be one frame holding two MQTT packets,
 * which MQTT 5 section 6 allows [MQTT-6.0.0-2] and clients must take. */
static void
round_trip_over (Broker       *b,
                 const Params *p,
                 const gchar  *uri,
                 gboolean      tls,
                 gboolean      own_echo,
                 const gchar  *what)
{
  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  g_autofree gchar *topic = g_strdup_printf ("paho/%s/%s", p->tag, what);
  g_autofree gchar *sub_id = unique_id (what, p);
  g_autofree gchar *pub_id = g_strdup_printf ("%s-pub", sub_id);
  ConnectArgs args = { .clean = TRUE };
  g_autoptr(Client) sub = NULL;
  g_autoptr(Client) pub = NULL;
  Client *sender;
  Msg *m;

  if (!b->ready)
    return;
  if (tls)
    {
      REQUIRE (g_file_test (b->ca_path, G_FILE_TEST_IS_REGULAR),
               "no local CA at %s", b->ca_path);
      ssl.trustStore = b->ca_path;
      ssl.enableServerCertAuth = 1;
      ssl.verify = 1;
      ssl.disableDefaultTrustStore = 1;
      args.ssl = &ssl;
    }

  sub = client_new (uri, sub_id, p->version);
  REQUIRE (client_connect (sub, &args), "connect to %s failed: %s", uri,
           op_describe (&sub->connect));
  REQUIRE (client_subscribe (sub, topic, 1),
           "SUBSCRIBE failed: %s", op_describe (&sub->subscribe));
  if (own_echo)
    sender = sub;
  else
    {
      pub = client_new (uri, pub_id, p->version);
      REQUIRE (client_connect (pub, &args), "second connect to %s failed: %s", uri,
               op_describe (&pub->connect));
      sender = pub;
    }
  REQUIRE (client_publish (sender, topic, what, strlen (what), 1, FALSE, NULL),
           "PUBLISH failed: %s", op_describe (&sender->publish));
  REQUIRE (wait_messages (sub, 1), "%s did not arrive within %d s over %s",
           own_echo ? "own message" : "message", WAIT_SECONDS, uri);
  m = message_at (sub, 0);
  g_assert_cmpstr (m->topic, ==, topic);
  g_assert_cmpmem (g_bytes_get_data (m->payload, NULL), g_bytes_get_size (m->payload),
                   what, strlen (what));
  g_assert_cmpint (m->qos, ==, 1);
  if (pub != NULL)
    REQUIRE (client_disconnect (pub), "DISCONNECT failed");
  REQUIRE (client_disconnect (sub), "DISCONNECT failed");
}

static void
test_tls (Broker        *b,
          gconstpointer  data)
{
  g_autofree gchar *uri = g_strdup_printf ("ssl://localhost:%u", b->mqtts_port);

  round_trip_over (b, data, uri, TRUE, FALSE, "tls");
}

static void
test_ws (Broker        *b,
         gconstpointer  data)
{
  g_autofree gchar *uri = g_strdup_printf ("ws://127.0.0.1:%u/mqtt", b->ws_port);

  round_trip_over (b, data, uri, FALSE, FALSE, "ws");
}

static void
test_wss (Broker        *b,
          gconstpointer  data)
{
  g_autofree gchar *uri = g_strdup_printf ("wss://localhost:%u/mqtt", b->wss_port);

  round_trip_over (b, data, uri, TRUE, FALSE, "wss");
}

static void
test_ws_own_echo (Broker        *b,
                  gconstpointer  data)
{
  g_autofree gchar *uri = g_strdup_printf ("ws://127.0.0.1:%u/mqtt", b->ws_port);

  round_trip_over (b, data, uri, FALSE, TRUE, "ws-echo");
}

static void
test_wss_own_echo (Broker        *b,
                   gconstpointer  data)
{
  g_autofree gchar *uri = g_strdup_printf ("wss://localhost:%u/mqtt", b->wss_port);

  round_trip_over (b, data, uri, TRUE, TRUE, "wss-echo");
}

/* A CA that signed nothing of ours (its key was thrown away), so the test
 * needs no openssl command line tool. */
static const char unrelated_ca_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBqzCCAVGgAwIBAgIUa/Zn0zR8lJwAnCu+E9FiHtHNAWwwCgYIKoZIzj0EAwIw\n"
  "KjEoMCYGA1UEAwwfU3RhcmxpbmcgdGVzdHM6IGFuIHVucmVsYXRlZCBDQTAgFw0y\n"
  "NjExMjUxODI3NDVaGA8yMTI2MTEwMTE4Mjc0NVowKjEoMCYGA1UEAwwfU3Rhcmxp\n"
  "bmcgdGVzdHM6IGFuIHVucmVsYXRlZCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
  "A0IABMMDaCffaHcvflthMTTH0kMDnwzpd4EpoKmtGeK2f+ncSE/0/aMr31Q28pPh\n"
  "nuRROrE1UEjpXAm/jENPeV5r9nyjUzBRMB0GA1UdDgQWBBTXvAPLFPiRHYat9MyW\n"
  "GVLmeNsKcDAfBgNVHSMEGDAWgBTXvAPLFPiRHYat9MyWGVLmeNsKcDAPBgNVHRMB\n"
  "Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCnnYXYAgi7IgXnH5RacX0ieH1R\n"
  "8Ctx39e14A6fELxa8gIgC+LSVLrJ4r4elLIbyXm/u7ItZmHAc+Bx8dsNJmgFxro=\n"
  "-----END CERTIFICATE-----\n";

/* The CA check is real: a trust store without the daemon's CA fails. */
static void
test_tls_wrong_ca (Broker        *b,
                   gconstpointer  data)
{
  const Params *p = data;
  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  g_autofree gchar *uri = NULL;
  g_autofree gchar *id = unique_id ("wrongca", p);
  g_autofree gchar *other = NULL;
  g_autoptr(GError) error = NULL;
  ConnectArgs args = { .clean = TRUE, .ssl = &ssl };
  g_autoptr(Client) good = NULL;
  g_autoptr(Client) c = NULL;

  if (!b->ready)
    return;
  other = g_build_filename (b->data_dir, "unrelated-ca.pem", NULL);
  g_file_set_contents (other, unrelated_ca_pem, -1, &error);
  g_assert_no_error (error);

  /* Control: the daemon's own CA gets through on the same listener, so a
   * refusal below is the CA check and not a dead listener. */
  ssl.trustStore = b->ca_path;
  ssl.enableServerCertAuth = 1;
  ssl.verify = 1;
  ssl.disableDefaultTrustStore = 1;
  uri = g_strdup_printf ("ssl://localhost:%u", b->mqtts_port);
  good = client_new (uri, id, p->version);
  REQUIRE (client_connect (good, &args), "the daemon's own CA was refused: %s",
           op_describe (&good->connect));
  REQUIRE (client_disconnect (good), "DISCONNECT failed");

  ssl.trustStore = other;
  c = client_new (uri, id, p->version);
  g_assert_false (client_connect (c, &args));
  g_assert_cmpint (c->connect.state, ==, -1);
}

/* ---- main -------------------------------------------------------------- */

static const Params v5_q0 = { MQTTVERSION_5, 0, "v5" };
static const Params v5_q1 = { MQTTVERSION_5, 1, "v5" };
static const Params v5_q2 = { MQTTVERSION_5, 2, "v5" };
static const Params v3_q0 = { MQTTVERSION_3_1_1, 0, "v311" };
static const Params v3_q1 = { MQTTVERSION_3_1_1, 1, "v311" };
static const Params v3_q2 = { MQTTVERSION_3_1_1, 2, "v311" };

#define ADD(path, params, fn) \
  g_test_add (path, Broker, params, broker_setup, fn, broker_teardown)

int
main (int   argc,
      char *argv[])
{
  MQTTAsync_init_options init = MQTTAsync_init_options_initializer;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* A failed check fails its test and the next one still runs (REQUIRE
   * returns early where going on would make no sense). */
  g_test_set_nonfatal_assertions ();

  init.do_openssl_init = 1;
  MQTTAsync_global_init (&init);
  /* A broker that drops a TLS connection must not kill us with SIGPIPE. */
  signal (SIGPIPE, SIG_IGN);

  ADD ("/clients/paho/qos0-v5", &v5_q0, test_qos);
  ADD ("/clients/paho/qos1-v5", &v5_q1, test_qos);
  ADD ("/clients/paho/qos2-v5", &v5_q2, test_qos);
  ADD ("/clients/paho/qos0-v311", &v3_q0, test_qos);
  ADD ("/clients/paho/qos1-v311", &v3_q1, test_qos);
  ADD ("/clients/paho/qos2-v311", &v3_q2, test_qos);
  ADD ("/clients/paho/retained-v5", &v5_q1, test_retained);
  ADD ("/clients/paho/retained-v311", &v3_q1, test_retained);
  ADD ("/clients/paho/will-v5", &v5_q1, test_will);
  ADD ("/clients/paho/will-v311", &v3_q1, test_will);
  ADD ("/clients/paho/no-will-after-disconnect-v5", &v5_q1, test_no_will_after_disconnect);
  ADD ("/clients/paho/no-will-after-disconnect-v311", &v3_q1, test_no_will_after_disconnect);
  ADD ("/clients/paho/session-resume-v5", &v5_q1, test_session_resume);
  ADD ("/clients/paho/session-resume-v311", &v3_q1, test_session_resume);
  ADD ("/clients/paho/session-clean-start-v5", &v5_q1, test_session_clean_start);
  ADD ("/clients/paho/session-clean-start-v311", &v3_q1, test_session_clean_start);
  ADD ("/clients/paho/properties-v5", &v5_q1, test_properties);
  ADD ("/clients/paho/tls-v5", &v5_q1, test_tls);
  ADD ("/clients/paho/tls-v311", &v3_q1, test_tls);
  ADD ("/clients/paho/tls-wrong-ca-v5", &v5_q1, test_tls_wrong_ca);
  ADD ("/clients/paho/ws-v5", &v5_q1, test_ws);
  ADD ("/clients/paho/ws-v311", &v3_q1, test_ws);
  ADD ("/clients/paho/wss-v5", &v5_q1, test_wss);
  ADD ("/clients/paho/ws-own-echo-v5", &v5_q1, test_ws_own_echo);
  ADD ("/clients/paho/wss-own-echo-v5", &v5_q1, test_wss_own_echo);

  return g_test_run ();
}
