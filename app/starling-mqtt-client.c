#define G_LOG_DOMAIN "starling-mqtt-client"

#include "config.h"

#include <glib/gi18n.h>
#include <MQTTAsync.h>
#include <string.h>

#include "starling-mqtt-client.h"

/* One drain a frame at most. */
#define DRAIN_INTERVAL_US 16667
/* At most this many messages a drain, so one drain never costs a frame;
 * the rest wait for the next. */
#define MAX_DRAIN_MESSAGES 2000
/* Below GTK's redraw (G_PRIORITY_HIGH_IDLE + 20) and input: under load the
 * window still lays out and paints every frame, and the drain takes what
 * time is left. */
#define DRAIN_PRIORITY (G_PRIORITY_HIGH_IDLE + 30)
/* When the main thread falls this far behind, the oldest messages go. */
#define MAX_QUEUED_MESSAGES 100000
#define BACKOFF_MIN_S 1
#define BACKOFF_MAX_S 30

G_DEFINE_QUARK (starling-mqtt-error-quark, starling_mqtt_error)

typedef enum {
  EV_MESSAGE,
  EV_CONNECTED,
  EV_CONNECT_FAILED,
  EV_LOST,
  EV_DISCONNECTED,      /* the broker sent DISCONNECT */
  EV_PUBLISHED,
  EV_PUBLISH_FAILED,
  EV_SUBSCRIBE_FAILED,
  EV_DISCONNECT_DONE,
} EventKind;

typedef struct {
  EventKind  kind;
  int        token;
  int        code;      /* MQTT reason code, or Paho's return code */
  char      *text;
  /* EV_MESSAGE */
  char      *topic;
  GBytes    *payload;
  int        qos;
  gboolean   retain;
  gint64     time;
  StarlingMessageProperties *props;
} Event;

/* What Paho's threads may touch: this, under its lock, and nothing else.
 * One per Paho handle; freed after MQTTAsync_destroy. */
typedef struct {
  GMutex   lock;
  GCond    cond;
  GQueue   events;
  guint    n_queued_messages;
  guint64  dropped;
  gboolean wake_pending;
  gint64   next_drain;
  gboolean disconnect_done;
  char    *tls_error;
  GSource *source;       /* a reference; set_ready_time is thread-safe */
} Shared;

struct _StarlingMqttClient
{
  GObject parent_instance;

  MQTTAsync          handle;
  Shared            *shared;
  GSource           *source;

  char              *uri;
  char              *client_id;
  char              *username;
  char              *password;
  char              *ca_file;
  gboolean           verify_host;
  gboolean           tls;

  GStrv              filters;
  StarlingMqttState  state;
  char              *status;
  int                last_disconnect_reason;
  guint              backoff_s;
  guint              retry_id;
  gboolean           want_connected;
  guint64            dropped_seen;
  GHashTable        *publishes;  /* token → GTask */
};

G_DEFINE_FINAL_TYPE (StarlingMqttClient, starling_mqtt_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATE,
  PROP_STATUS,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum { MESSAGES, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- Events (any thread) --------------------------------------------------- */

static void
event_free (Event *ev)
{
  g_free (ev->text);
  g_free (ev->topic);
  g_clear_pointer (&ev->payload, g_bytes_unref);
  starling_message_properties_free (ev->props);
  g_free (ev);
}

static void
shared_push (Shared *shared, Event *ev)
{
  gint64 ready = -1;

  g_mutex_lock (&shared->lock);
  if (ev->kind == EV_MESSAGE)
    {
      /* Bounded memory even when the main thread stalls: drop the oldest. */
      if (shared->n_queued_messages >= MAX_QUEUED_MESSAGES)
        {
          for (GList *l = shared->events.head; l; l = l->next)
            if (((Event *) l->data)->kind == EV_MESSAGE)
              {
                event_free (l->data);
                g_queue_delete_link (&shared->events, l);
                shared->n_queued_messages--;
                shared->dropped++;
                break;
              }
        }
      shared->n_queued_messages++;
    }
  g_queue_push_tail (&shared->events, ev);
  if (!shared->wake_pending)
    {
      shared->wake_pending = TRUE;
      ready = shared->next_drain;
    }
  g_mutex_unlock (&shared->lock);
  if (ready >= 0)
    g_source_set_ready_time (shared->source, ready);
}

static Event *
event_new (EventKind kind, int token, int code, const char *text)
{
  Event *ev = g_new0 (Event, 1);

  ev->kind = kind;
  ev->token = token;
  ev->code = code;
  ev->text = g_strdup (text);
  return ev;
}

static char *
lenstring (const MQTTLenString *s)
{
  return g_strndup (s->data, s->len);
}

static StarlingMessageProperties *
properties_from_paho (const MQTTProperties *in)
{
  StarlingMessageProperties *props;

  /* Most messages have none: they share the message type's empty set. */
  if (in->count == 0)
    return NULL;
  props = starling_message_properties_new ();

  for (int i = 0; i < in->count; i++)
    {
      const MQTTProperty *p = &in->array[i];

      switch (p->identifier)
        {
        case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR:
          props->payload_format = p->value.byte;
          break;
        case MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL:
          props->message_expiry = p->value.integer4;
          break;
        case MQTTPROPERTY_CODE_CONTENT_TYPE:
          g_free (props->content_type);
          props->content_type = lenstring (&p->value.data);
          break;
        case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
          g_free (props->response_topic);
          props->response_topic = lenstring (&p->value.data);
          break;
        case MQTTPROPERTY_CODE_CORRELATION_DATA:
          g_clear_pointer (&props->correlation_data, g_bytes_unref);
          props->correlation_data = g_bytes_new (p->value.data.data, p->value.data.len);
          break;
        case MQTTPROPERTY_CODE_USER_PROPERTY:
          {
            g_autofree char *name = lenstring (&p->value.data);
            g_autofree char *value = lenstring (&p->value.value);
            starling_message_properties_add_user_property (props, name, value);
          }
          break;
        case MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER:
          {
            guint32 id = p->value.integer4;
            if (props->subscription_ids == NULL)
              props->subscription_ids = g_array_new (FALSE, FALSE, sizeof (guint32));
            g_array_append_val (props->subscription_ids, id);
          }
          break;
        case MQTTPROPERTY_CODE_TOPIC_ALIAS:
          props->topic_alias = p->value.integer2;
          break;
        default:
          break;
        }
    }
  return props;
}

static int
on_message (void *context, char *topic, int topic_len, MQTTAsync_message *msg)
{
  Shared *shared = context;
  Event *ev = event_new (EV_MESSAGE, 0, 0, NULL);

  ev->topic = topic_len > 0 ? g_strndup (topic, topic_len) : g_strdup (topic);
  ev->payload = g_bytes_new (msg->payload, msg->payloadlen);
  ev->qos = msg->qos;
  ev->retain = msg->retained;
  ev->time = g_get_real_time ();
  ev->props = properties_from_paho (&msg->properties);
  MQTTAsync_freeMessage (&msg);
  MQTTAsync_free (topic);
  shared_push (shared, ev);
  return 1;
}

static void
on_connection_lost (void *context, char *cause)
{
  shared_push (context, event_new (EV_LOST, 0, 0, cause));
}

static void
on_disconnected (void *context, MQTTProperties *props, enum MQTTReasonCodes reason)
{
  g_autofree char *reason_string = NULL;
  MQTTProperty *p = MQTTProperties_getProperty (props, MQTTPROPERTY_CODE_REASON_STRING);

  if (p)
    reason_string = lenstring (&p->value.data);
  shared_push (context, event_new (EV_DISCONNECTED, 0, reason, reason_string));
}

static void
on_connect_success (void *context, MQTTAsync_successData5 *response)
{
  shared_push (context, event_new (EV_CONNECTED, 0, 0, NULL));
}

static void
on_connect_failure (void *context, MQTTAsync_failureData5 *response)
{
  Shared *shared = context;
  g_autofree char *tls = NULL;
  int code = response ? (response->reasonCode ? (int) response->reasonCode : response->code) : -1;
  /* With a reason code from the broker, Paho's own text ("CONNACK return
   * code") says nothing more. */
  const char *text = response && code < 0x80 ? response->message : NULL;

  g_mutex_lock (&shared->lock);
  tls = g_steal_pointer (&shared->tls_error);
  g_mutex_unlock (&shared->lock);
  if (tls && text == NULL && code < 0x80)
    text = tls;
  shared_push (shared, event_new (EV_CONNECT_FAILED, 0, code, text));
}

static void
on_publish_success (void *context, MQTTAsync_successData5 *response)
{
  shared_push (context, event_new (EV_PUBLISHED, response->token, response->reasonCode, NULL));
}

static void
on_publish_failure (void *context, MQTTAsync_failureData5 *response)
{
  shared_push (context, event_new (EV_PUBLISH_FAILED, response->token,
                                   response->reasonCode ? (int) response->reasonCode : response->code,
                                   response->message));
}

static void
on_subscribe_success (void *context, MQTTAsync_successData5 *response)
{
  /* Paho fills the list only for several filters; one filter's code is
   * the response's own. */
  if (response->alt.sub.reasonCodeCount > 1 && response->alt.sub.reasonCodes != NULL)
    {
      for (int i = 0; i < response->alt.sub.reasonCodeCount; i++)
        if (response->alt.sub.reasonCodes[i] >= 0x80)
          {
            shared_push (context, event_new (EV_SUBSCRIBE_FAILED, 0, response->alt.sub.reasonCodes[i], NULL));
            return;
          }
    }
  else if (response->reasonCode >= 0x80)
    shared_push (context, event_new (EV_SUBSCRIBE_FAILED, 0, response->reasonCode, NULL));
}

static void
on_subscribe_failure (void *context, MQTTAsync_failureData5 *response)
{
  shared_push (context, event_new (EV_SUBSCRIBE_FAILED, 0,
                                   response->reasonCode ? (int) response->reasonCode : response->code,
                                   response->message));
}

static void
on_disconnect_done (void *context, MQTTAsync_successData5 *response)
{
  Shared *shared = context;

  g_mutex_lock (&shared->lock);
  shared->disconnect_done = TRUE;
  g_cond_broadcast (&shared->cond);
  g_mutex_unlock (&shared->lock);
}

static void
on_disconnect_failed (void *context, MQTTAsync_failureData5 *response)
{
  on_disconnect_done (context, NULL);
}

static int
on_tls_error (const char *str, size_t len, void *context)
{
  Shared *shared = context;

  g_mutex_lock (&shared->lock);
  g_free (shared->tls_error);
  shared->tls_error = g_strndup (str, len);
  g_strchomp (shared->tls_error);
  g_mutex_unlock (&shared->lock);
  return 1;
}

/* ---- Main thread ----------------------------------------------------------- */

const char *
starling_mqtt_reason_to_string (int reason_code)
{
  /* Paho's own names are upper-case identifiers: people read these. */
  switch (reason_code)
    {
    case 0x00: return _("Success");
    case 0x01: return _("Granted QoS 1");
    case 0x02: return _("Granted QoS 2");
    case 0x04: return _("Disconnect with will message");
    case 0x10: return _("No matching subscribers");
    case 0x11: return _("No subscription existed");
    case 0x18: return _("Continue authentication");
    case 0x19: return _("Re-authenticate");
    case 0x80: return _("Unspecified error");
    case 0x81: return _("Malformed packet");
    case 0x82: return _("Protocol error");
    case 0x83: return _("Implementation specific error");
    case 0x84: return _("Unsupported protocol version");
    case 0x85: return _("Client identifier not valid");
    case 0x86: return _("Bad user name or password");
    case 0x87: return _("Not authorized");
    case 0x88: return _("Server unavailable");
    case 0x89: return _("Server busy");
    case 0x8A: return _("Banned");
    case 0x8B: return _("Server shutting down");
    case 0x8C: return _("Bad authentication method");
    case 0x8D: return _("Keep alive timeout");
    case 0x8E: return _("Session taken over");
    case 0x8F: return _("Topic filter invalid");
    case 0x90: return _("Topic name invalid");
    case 0x91: return _("Packet identifier in use");
    case 0x92: return _("Packet identifier not found");
    case 0x93: return _("Receive maximum exceeded");
    case 0x94: return _("Topic alias invalid");
    case 0x95: return _("Packet too large");
    case 0x96: return _("Message rate too high");
    case 0x97: return _("Quota exceeded");
    case 0x98: return _("Administrative action");
    case 0x99: return _("Payload format invalid");
    case 0x9A: return _("Retain not supported");
    case 0x9B: return _("QoS not supported");
    case 0x9C: return _("Use another server");
    case 0x9D: return _("Server moved");
    case 0x9E: return _("Shared subscriptions not supported");
    case 0x9F: return _("Connection rate exceeded");
    case 0xA0: return _("Maximum connect time");
    case 0xA1: return _("Subscription identifiers not supported");
    case 0xA2: return _("Wildcard subscriptions not supported");
    default:   return _("Unknown reason");
    }
}

static void
set_state (StarlingMqttClient *self, StarlingMqttState state, const char *status)
{
  gboolean state_changed = self->state != state;

  self->state = state;
  if (g_strcmp0 (self->status, status) != 0)
    {
      g_free (self->status);
      self->status = g_strdup (status);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
    }
  if (state_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* Paho's return codes are negative, MQTT's reason codes not. */
static char *
describe (int code, const char *text)
{
  const char *what;

  if (code >= 0x80)
    what = starling_mqtt_reason_to_string (code);
  else if (code < 0)
    what = MQTTAsync_strerror (code);
  else
    what = NULL;
  if (what && text && *text && g_strcmp0 (what, text) != 0)
    return g_strdup_printf ("%s (%s)", what, text);
  if (what)
    return g_strdup (what);
  if (text && *text)
    return g_strdup (text);
  return g_strdup (_("Connection failed"));
}

/* Refusals that the same credential will meet again. */
static gboolean
is_fatal (int reason)
{
  switch (reason)
    {
    case MQTTREASONCODE_UNSUPPORTED_PROTOCOL_VERSION:
    case MQTTREASONCODE_CLIENT_IDENTIFIER_NOT_VALID:
    case MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD:
    case MQTTREASONCODE_NOT_AUTHORIZED:
    case MQTTREASONCODE_BANNED:
    case MQTTREASONCODE_BAD_AUTHENTICATION_METHOD:
    case MQTTREASONCODE_SESSION_TAKEN_OVER:
      return TRUE;
    default:
      return FALSE;
    }
}

static void start_connect (StarlingMqttClient *self);

static gboolean
retry_cb (gpointer data)
{
  StarlingMqttClient *self = data;

  self->retry_id = 0;
  start_connect (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (StarlingMqttClient *self, const char *reason)
{
  g_autofree char *status = NULL;

  self->backoff_s = self->backoff_s == 0 ? BACKOFF_MIN_S : MIN (self->backoff_s * 2, BACKOFF_MAX_S);
  status = g_strdup_printf (ngettext ("Reconnecting in %u second: %s", "Reconnecting in %u seconds: %s",
                                      self->backoff_s), self->backoff_s, reason);
  set_state (self, STARLING_MQTT_STATE_RECONNECTING, status);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  self->retry_id = g_timeout_add_seconds (self->backoff_s, retry_cb, self);
}

static void
connection_failed (StarlingMqttClient *self, int code, const char *text)
{
  g_autofree char *reason = describe (code, text);

  if (!self->want_connected)
    return;
  if (is_fatal (code))
    set_state (self, STARLING_MQTT_STATE_ERROR, reason);
  else
    schedule_retry (self, reason);
}

/* One SUBSCRIBE a filter, each with its own subscription identifier (its
 * position + 1), so every message says which filter brought it. */
static void
subscribe (StarlingMqttClient *self)
{
  guint n = self->filters ? g_strv_length (self->filters) : 0;

  if (self->handle == NULL || !MQTTAsync_isConnected (self->handle))
    return;
  for (guint i = 0; i < n; i++)
    {
      MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
      MQTTSubscribe_options o = MQTTSubscribe_options_initializer;
      MQTTProperty id = { .identifier = MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER };
      int rc;

      /* QoS 2 so every message arrives with the QoS it was published with;
       * retain as published so the retained marker tells the truth. */
      o.retainAsPublished = 1;
      id.value.integer4 = i + 1;
      MQTTProperties_add (&opts.properties, &id);
      opts.subscribeOptions = o;
      opts.onSuccess5 = on_subscribe_success;
      opts.onFailure5 = on_subscribe_failure;
      opts.context = self->shared;
      rc = MQTTAsync_subscribe (self->handle, self->filters[i], 2, &opts);
      MQTTProperties_free (&opts.properties);
      if (rc != MQTTASYNC_SUCCESS)
        g_warning ("subscribe %s: %s", self->filters[i], MQTTAsync_strerror (rc));
    }
}

static void
fail_publishes (StarlingMqttClient *self, int code, const char *message)
{
  GHashTableIter iter;
  gpointer task;

  g_hash_table_iter_init (&iter, self->publishes);
  while (g_hash_table_iter_next (&iter, NULL, &task))
    {
      g_task_return_new_error (task, STARLING_MQTT_ERROR, code, "%s", message);
      g_hash_table_iter_remove (&iter);
    }
}

static void
handle_event (StarlingMqttClient *self, Event *ev)
{
  switch (ev->kind)
    {
    case EV_CONNECTED:
      self->backoff_s = 0;
      self->last_disconnect_reason = 0;
      {
        g_autofree char *status = g_strdup_printf (_("Connected to %s"), self->uri);
        set_state (self, STARLING_MQTT_STATE_CONNECTED, status);
      }
      subscribe (self);
      break;
    case EV_CONNECT_FAILED:
      connection_failed (self, ev->code, ev->text);
      break;
    case EV_DISCONNECTED:
      self->last_disconnect_reason = ev->code;
      G_GNUC_FALLTHROUGH;
    case EV_LOST:
      if (self->state == STARLING_MQTT_STATE_CONNECTED)
        {
          int code = self->last_disconnect_reason;
          g_autofree char *text = NULL;

          if (code == 0)
            text = g_strdup (ev->text && *ev->text ? ev->text : _("Connection lost"));
          connection_failed (self, code, text);
        }
      fail_publishes (self, STARLING_MQTT_ERROR_NOT_CONNECTED, _("The connection was lost"));
      break;
    case EV_PUBLISHED:
    case EV_PUBLISH_FAILED:
      {
        GTask *task = g_hash_table_lookup (self->publishes, GINT_TO_POINTER (ev->token));

        if (task == NULL)
          break;
        g_task_set_task_data (task, GINT_TO_POINTER (ev->code), NULL);
        if (ev->kind == EV_PUBLISHED && ev->code < 0x80)
          g_task_return_boolean (task, TRUE);
        else
          {
            g_autofree char *reason = describe (ev->code, ev->text);
            g_task_return_new_error (task, STARLING_MQTT_ERROR,
                                     ev->code >= 0x80 ? STARLING_MQTT_ERROR_REFUSED : STARLING_MQTT_ERROR_FAILED,
                                     "%s", reason);
          }
        g_hash_table_remove (self->publishes, GINT_TO_POINTER (ev->token));
      }
      break;
    case EV_SUBSCRIBE_FAILED:
      {
        g_autofree char *reason = describe (ev->code, ev->text);
        g_autofree char *status = g_strdup_printf (_("Connected to %s, but the subscription was refused: %s"),
                                                   self->uri, reason);
        if (self->state == STARLING_MQTT_STATE_CONNECTED)
          set_state (self, STARLING_MQTT_STATE_CONNECTED, status);
      }
      break;
    case EV_MESSAGE:
    case EV_DISCONNECT_DONE:
    default:
      break;
    }
}

static void
emit_batch (StarlingMqttClient *self, GPtrArray *batch)
{
  if (batch->len == 0)
    return;
  g_signal_emit (self, signals[MESSAGES], 0, batch);
  g_ptr_array_set_size (batch, 0);
}

static gboolean
drain (gpointer data)
{
  StarlingMqttClient *self = data;
  Shared *shared = self->shared;
  g_autoptr(GPtrArray) batch = NULL;
  GQueue events;

  g_source_set_ready_time (self->source, -1);
  if (shared == NULL)
    return G_SOURCE_CONTINUE;

  g_mutex_lock (&shared->lock);
  if (shared->n_queued_messages <= MAX_DRAIN_MESSAGES)
    {
      events = shared->events;
      g_queue_init (&shared->events);
      shared->n_queued_messages = 0;
      shared->wake_pending = FALSE;
    }
  else
    {
      guint n = 0;

      /* Take the oldest events up to the cap; come back next frame. */
      g_queue_init (&events);
      while (n < MAX_DRAIN_MESSAGES)
        {
          Event *ev = g_queue_pop_head (&shared->events);

          if (ev->kind == EV_MESSAGE)
            n++;
          g_queue_push_tail (&events, ev);
        }
      shared->n_queued_messages -= n;
      g_source_set_ready_time (self->source, g_get_monotonic_time () + DRAIN_INTERVAL_US);
    }
  shared->next_drain = g_get_monotonic_time () + DRAIN_INTERVAL_US;
  self->dropped_seen = shared->dropped;
  g_mutex_unlock (&shared->lock);

  batch = g_ptr_array_new_full (events.length, g_object_unref);
  g_object_ref (self);
  for (GList *l = events.head; l; l = l->next)
    {
      Event *ev = l->data;

      if (ev->kind == EV_MESSAGE)
        {
          g_ptr_array_add (batch, starling_message_new (ev->topic, ev->payload, ev->qos, ev->retain, FALSE,
                                                        ev->time, g_steal_pointer (&ev->props)));
        }
      else
        {
          /* Messages before a state change are shown before it. */
          emit_batch (self, batch);
          handle_event (self, ev);
        }
    }
  emit_batch (self, batch);
  g_queue_clear_full (&events, (GDestroyNotify) event_free);
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return callback (user_data);
}

static GSourceFuncs source_funcs = {
  .dispatch = source_dispatch,
};

/* Disconnects and destroys the Paho handle; afterwards no callback runs. */
static void
close_handle (StarlingMqttClient *self)
{
  Shared *shared = self->shared;

  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (self->handle == NULL)
    return;

  if (MQTTAsync_isConnected (self->handle))
    {
      MQTTAsync_disconnectOptions opts = MQTTAsync_disconnectOptions_initializer5;
      gint64 until = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

      opts.onSuccess5 = on_disconnect_done;
      opts.onFailure5 = on_disconnect_failed;
      opts.context = shared;
      opts.timeout = 1000;
      /* Waiting for the DISCONNECT to go out: after it, Paho's threads call
       * nothing of ours, so shared can be freed. */
      if (MQTTAsync_disconnect (self->handle, &opts) == MQTTASYNC_SUCCESS)
        {
          g_mutex_lock (&shared->lock);
          while (!shared->disconnect_done)
            if (!g_cond_wait_until (&shared->cond, &shared->lock, until))
              break;
          g_mutex_unlock (&shared->lock);
        }
    }
  MQTTAsync_destroy (&self->handle);
  self->handle = NULL;

  g_queue_clear_full (&shared->events, (GDestroyNotify) event_free);
  g_source_unref (shared->source);
  g_mutex_clear (&shared->lock);
  g_cond_clear (&shared->cond);
  g_free (shared->tls_error);
  g_free (shared);
  self->shared = NULL;
  fail_publishes (self, STARLING_MQTT_ERROR_CLOSED, _("The connection was closed"));
}

static void
starling_mqtt_client_dispose (GObject *object)
{
  StarlingMqttClient *self = (StarlingMqttClient *) object;

  self->want_connected = FALSE;
  close_handle (self);
  if (self->source)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  G_OBJECT_CLASS (starling_mqtt_client_parent_class)->dispose (object);
}

static void
starling_mqtt_client_finalize (GObject *object)
{
  StarlingMqttClient *self = (StarlingMqttClient *) object;

  g_free (self->uri);
  g_free (self->client_id);
  g_free (self->username);
  g_free (self->password);
  g_free (self->ca_file);
  g_free (self->status);
  g_strfreev (self->filters);
  g_hash_table_unref (self->publishes);
  G_OBJECT_CLASS (starling_mqtt_client_parent_class)->finalize (object);
}

static void
starling_mqtt_client_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  StarlingMqttClient *self = STARLING_MQTT_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_STATUS:
      g_value_set_string (value, self->status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
starling_mqtt_client_class_init (StarlingMqttClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = starling_mqtt_client_dispose;
  object_class->finalize = starling_mqtt_client_finalize;
  object_class->get_property = starling_mqtt_client_get_property;

  properties[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL, STARLING_MQTT_STATE_DISCONNECTED, STARLING_MQTT_STATE_ERROR,
                      STARLING_MQTT_STATE_DISCONNECTED, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] =
    g_param_spec_string ("status", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* messages (GPtrArray of StarlingMessage, oldest first): a batch. */
  signals[MESSAGES] =
    g_signal_new ("messages", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_PTR_ARRAY | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
starling_mqtt_client_init (StarlingMqttClient *self)
{
  const char *all[] = { "#", NULL };

  self->filters = g_strdupv ((char **) all);
  self->publishes = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  self->status = g_strdup (_("Not connected"));
  self->source = g_source_new (&source_funcs, sizeof (GSource));
  g_source_set_name (self->source, "[starling] mqtt drain");
  g_source_set_priority (self->source, DRAIN_PRIORITY);
  g_source_set_callback (self->source, drain, self, NULL);
  g_source_attach (self->source, g_main_context_get_thread_default ());
}

StarlingMqttClient *
starling_mqtt_client_new (void)
{
  return g_object_new (STARLING_TYPE_MQTT_CLIENT, NULL);
}

/* Paho speaks "ssl://" and "tcp://"; people write "mqtts://" and "mqtt://". */
static char *
paho_uri (const char *uri, gboolean *tls)
{
  static const struct { const char *from, *to; gboolean tls; } schemes[] = {
    { "mqtts://", "ssl://", TRUE },
    { "ssl://", "ssl://", TRUE },
    { "tls://", "ssl://", TRUE },
    { "mqtt://", "tcp://", FALSE },
    { "tcp://", "tcp://", FALSE },
    { "wss://", "wss://", TRUE },
    { "ws://", "ws://", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (schemes); i++)
    if (g_str_has_prefix (uri, schemes[i].from))
      {
        *tls = schemes[i].tls;
        return g_strconcat (schemes[i].to, uri + strlen (schemes[i].from), NULL);
      }
  return NULL;
}

gboolean
starling_mqtt_client_configure (StarlingMqttClient *self,
                                const char         *uri,
                                const char         *client_id,
                                const char         *username,
                                const char         *password,
                                const char         *ca_file,
                                gboolean            verify_host,
                                GError            **error)
{
  MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer5;
  g_autofree char *puri = NULL;
  g_autofree char *generated_id = NULL;
  gboolean tls = FALSE;
  Shared *shared;
  int rc;

  g_return_val_if_fail (STARLING_IS_MQTT_CLIENT (self), FALSE);
  g_return_val_if_fail (uri != NULL, FALSE);

  if ((puri = paho_uri (uri, &tls)) == NULL)
    {
      g_set_error (error, STARLING_MQTT_ERROR, STARLING_MQTT_ERROR_FAILED,
                   _("“%s” is not an MQTT address (mqtts://host:port or mqtt://host:port)"), uri);
      return FALSE;
    }

  self->want_connected = FALSE;
  close_handle (self);
  set_state (self, STARLING_MQTT_STATE_DISCONNECTED, _("Not connected"));

  if (client_id == NULL || *client_id == '\0')
    client_id = generated_id = g_strdup_printf ("starling-%08x", g_random_int ());

  shared = g_new0 (Shared, 1);
  g_mutex_init (&shared->lock);
  g_cond_init (&shared->cond);
  g_queue_init (&shared->events);
  shared->source = g_source_ref (self->source);

  create.MQTTVersion = MQTTVERSION_5;
  create.sendWhileDisconnected = 0;
  rc = MQTTAsync_createWithOptions (&self->handle, puri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &create);
  if (rc != MQTTASYNC_SUCCESS)
    {
      g_set_error (error, STARLING_MQTT_ERROR, STARLING_MQTT_ERROR_FAILED,
                   _("Cannot make an MQTT client for %s: %s"), uri, MQTTAsync_strerror (rc));
      self->handle = NULL;
      g_source_unref (shared->source);
      g_mutex_clear (&shared->lock);
      g_cond_clear (&shared->cond);
      g_free (shared);
      return FALSE;
    }
  self->shared = shared;
  MQTTAsync_setCallbacks (self->handle, shared, on_connection_lost, on_message, NULL);
  MQTTAsync_setDisconnected (self->handle, shared, on_disconnected);

  g_free (self->uri);
  self->uri = g_strdup (uri);
  g_free (self->client_id);
  self->client_id = g_strdup (client_id);
  g_free (self->username);
  self->username = g_strdup (username);
  g_free (self->password);
  self->password = g_strdup (password);
  g_free (self->ca_file);
  self->ca_file = g_strdup (ca_file);
  self->verify_host = verify_host;
  self->tls = tls;
  self->backoff_s = 0;
  return TRUE;
}

static void
start_connect (StarlingMqttClient *self)
{
  MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer5;
  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  int rc;

  if (self->handle == NULL)
    return;
  set_state (self, self->state == STARLING_MQTT_STATE_RECONNECTING
                     ? STARLING_MQTT_STATE_RECONNECTING : STARLING_MQTT_STATE_CONNECTING,
             _("Connecting…"));
  self->last_disconnect_reason = 0;

  opts.keepAliveInterval = 30;
  opts.cleanstart = 1;
  opts.connectTimeout = 10;
  opts.username = self->username;
  if (self->password)
    {
      opts.binarypwd.data = self->password;
      opts.binarypwd.len = strlen (self->password);
    }
  opts.onSuccess5 = on_connect_success;
  opts.onFailure5 = on_connect_failure;
  opts.context = self->shared;
  if (self->tls)
    {
      ssl.trustStore = self->ca_file;
      ssl.enableServerCertAuth = 1;
      ssl.verify = self->verify_host;
      ssl.ssl_error_cb = on_tls_error;
      ssl.ssl_error_context = self->shared;
      opts.ssl = &ssl;
    }
  rc = MQTTAsync_connect (self->handle, &opts);
  if (rc != MQTTASYNC_SUCCESS)
    connection_failed (self, rc, NULL);
}

void
starling_mqtt_client_connect (StarlingMqttClient *self)
{
  g_return_if_fail (STARLING_IS_MQTT_CLIENT (self));
  g_return_if_fail (self->handle != NULL);

  self->want_connected = TRUE;
  self->backoff_s = 0;
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (MQTTAsync_isConnected (self->handle))
    return;
  start_connect (self);
}

void
starling_mqtt_client_disconnect (StarlingMqttClient *self)
{
  MQTTAsync_disconnectOptions opts = MQTTAsync_disconnectOptions_initializer5;

  g_return_if_fail (STARLING_IS_MQTT_CLIENT (self));

  self->want_connected = FALSE;
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (self->handle && MQTTAsync_isConnected (self->handle))
    {
      opts.timeout = 1000;
      MQTTAsync_disconnect (self->handle, &opts);
    }
  set_state (self, STARLING_MQTT_STATE_DISCONNECTED, _("Disconnected"));
}

void
starling_mqtt_client_set_filters (StarlingMqttClient *self, const char * const *filters)
{
  g_auto(GStrv) old = NULL;

  g_return_if_fail (STARLING_IS_MQTT_CLIENT (self));

  if (filters && self->filters && g_strv_equal (filters, (const char * const *) self->filters))
    return;
  old = g_steal_pointer (&self->filters);
  self->filters = g_strdupv ((char **) filters);
  if (self->handle && MQTTAsync_isConnected (self->handle))
    {
      guint n = old ? g_strv_length (old) : 0;

      if (n > 0)
        {
          MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
          MQTTAsync_unsubscribeMany (self->handle, n, old, &opts);
        }
      subscribe (self);
    }
}

const char * const *
starling_mqtt_client_get_filters (StarlingMqttClient *self)
{
  g_return_val_if_fail (STARLING_IS_MQTT_CLIENT (self), NULL);
  return (const char * const *) self->filters;
}

StarlingMqttState
starling_mqtt_client_get_state (StarlingMqttClient *self)
{
  g_return_val_if_fail (STARLING_IS_MQTT_CLIENT (self), STARLING_MQTT_STATE_DISCONNECTED);
  return self->state;
}

const char *
starling_mqtt_client_get_status (StarlingMqttClient *self)
{
  g_return_val_if_fail (STARLING_IS_MQTT_CLIENT (self), NULL);
  return self->status;
}

const char *
starling_mqtt_client_get_uri (StarlingMqttClient *self)
{
  g_return_val_if_fail (STARLING_IS_MQTT_CLIENT (self), NULL);
  return self->uri;
}

guint64
starling_mqtt_client_get_n_dropped (StarlingMqttClient *self)
{
  g_return_val_if_fail (STARLING_IS_MQTT_CLIENT (self), 0);
  return self->dropped_seen;
}

static void
add_string_property (MQTTProperties *props, enum MQTTPropertyCodes code, const char *value)
{
  MQTTProperty p = { .identifier = code };

  p.value.data.data = (char *) value;
  p.value.data.len = strlen (value);
  MQTTProperties_add (props, &p);
}

void
starling_mqtt_client_publish_async (StarlingMqttClient  *self,
                                    StarlingMessage     *message,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  MQTTAsync_message msg = MQTTAsync_message_initializer;
  MQTTAsync_responseOptions opts = MQTTAsync_responseOptions_initializer;
  MQTTProperties props = MQTTProperties_initializer;
  const StarlingMessageProperties *p;
  GBytes *payload;
  gsize len;
  int rc;

  g_return_if_fail (STARLING_IS_MQTT_CLIENT (self));
  g_return_if_fail (STARLING_IS_MESSAGE (message));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, starling_mqtt_client_publish_async);
  if (self->handle == NULL || !MQTTAsync_isConnected (self->handle))
    {
      g_task_return_new_error (task, STARLING_MQTT_ERROR, STARLING_MQTT_ERROR_NOT_CONNECTED,
                               _("Not connected"));
      return;
    }

  p = starling_message_get_properties (message);
  if (p->payload_format >= 0)
    {
      MQTTProperty prop = { .identifier = MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR };
      prop.value.byte = (unsigned char) p->payload_format;
      MQTTProperties_add (&props, &prop);
    }
  if (p->message_expiry >= 0)
    {
      MQTTProperty prop = { .identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL };
      prop.value.integer4 = (unsigned int) p->message_expiry;
      MQTTProperties_add (&props, &prop);
    }
  if (p->content_type)
    add_string_property (&props, MQTTPROPERTY_CODE_CONTENT_TYPE, p->content_type);
  if (p->response_topic)
    add_string_property (&props, MQTTPROPERTY_CODE_RESPONSE_TOPIC, p->response_topic);
  if (p->correlation_data)
    {
      MQTTProperty prop = { .identifier = MQTTPROPERTY_CODE_CORRELATION_DATA };
      gsize clen;
      prop.value.data.data = (char *) g_bytes_get_data (p->correlation_data, &clen);
      prop.value.data.len = (int) clen;
      MQTTProperties_add (&props, &prop);
    }
  for (guint i = 0; p->user_properties && i + 1 < p->user_properties->len; i += 2)
    {
      MQTTProperty prop = { .identifier = MQTTPROPERTY_CODE_USER_PROPERTY };
      const char *name = g_ptr_array_index (p->user_properties, i);
      const char *value = g_ptr_array_index (p->user_properties, i + 1);

      prop.value.data.data = (char *) name;
      prop.value.data.len = strlen (name);
      prop.value.value.data = (char *) value;
      prop.value.value.len = strlen (value);
      MQTTProperties_add (&props, &prop);
    }

  payload = starling_message_get_payload (message);
  msg.payload = (void *) g_bytes_get_data (payload, &len);
  msg.payloadlen = (int) len;
  msg.qos = starling_message_get_qos (message);
  msg.retained = starling_message_get_retain (message);
  msg.properties = props;
  opts.onSuccess5 = on_publish_success;
  opts.onFailure5 = on_publish_failure;
  opts.context = self->shared;

  rc = MQTTAsync_sendMessage (self->handle, starling_message_get_topic (message), &msg, &opts);
  /* Paho copied the properties it needs. */
  MQTTProperties_free (&props);
  if (rc != MQTTASYNC_SUCCESS)
    {
      g_task_return_new_error (task, STARLING_MQTT_ERROR, STARLING_MQTT_ERROR_FAILED,
                               "%s", MQTTAsync_strerror (rc));
      return;
    }
  /* The callback's event is drained on this thread later, so the token is
   * known before it can be looked up. */
  g_hash_table_insert (self->publishes, GINT_TO_POINTER (opts.token), g_steal_pointer (&task));
}

gboolean
starling_mqtt_client_publish_finish (StarlingMqttClient  *self,
                                     GAsyncResult        *result,
                                     int                 *reason_code,
                                     GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (reason_code)
    *reason_code = GPOINTER_TO_INT (g_task_get_task_data (G_TASK (result)));
  return g_task_propagate_boolean (G_TASK (result), error);
}
