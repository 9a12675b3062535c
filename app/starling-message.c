#define G_LOG_DOMAIN "starling-message"

#include "config.h"

#include <time.h>

#include <json-glib/json-glib.h>

#include "starling-message.h"
#include "starling-payload.h"

#define PREVIEW_CHARS 120

struct _StarlingMessage
{
  GObject parent_instance;

  gint64   time;
  char    *topic;
  GBytes  *payload;
  guint8   qos;
  guint    retain : 1;
  guint    outgoing : 1;
  StarlingMessageProperties *props;
  char    *preview;   /* made on first use */
};

G_DEFINE_FINAL_TYPE (StarlingMessage, starling_message, G_TYPE_OBJECT)

StarlingMessageProperties *
starling_message_properties_new (void)
{
  StarlingMessageProperties *props = g_new0 (StarlingMessageProperties, 1);

  props->payload_format = -1;
  props->message_expiry = -1;
  return props;
}

StarlingMessageProperties *
starling_message_properties_copy (const StarlingMessageProperties *props)
{
  StarlingMessageProperties *copy = starling_message_properties_new ();

  if (props == NULL)
    return copy;
  copy->payload_format = props->payload_format;
  copy->message_expiry = props->message_expiry;
  copy->content_type = g_strdup (props->content_type);
  copy->response_topic = g_strdup (props->response_topic);
  copy->correlation_data = props->correlation_data ? g_bytes_ref (props->correlation_data) : NULL;
  if (props->user_properties)
    {
      copy->user_properties = g_ptr_array_new_full (props->user_properties->len, g_free);
      for (guint i = 0; i < props->user_properties->len; i++)
        g_ptr_array_add (copy->user_properties, g_strdup (g_ptr_array_index (props->user_properties, i)));
    }
  if (props->subscription_ids)
    {
      copy->subscription_ids = g_array_sized_new (FALSE, FALSE, sizeof (guint32), props->subscription_ids->len);
      g_array_append_vals (copy->subscription_ids, props->subscription_ids->data, props->subscription_ids->len);
    }
  copy->topic_alias = props->topic_alias;
  return copy;
}

void
starling_message_properties_free (StarlingMessageProperties *props)
{
  if (props == NULL)
    return;
  g_free (props->content_type);
  g_free (props->response_topic);
  g_clear_pointer (&props->correlation_data, g_bytes_unref);
  g_clear_pointer (&props->user_properties, g_ptr_array_unref);
  g_clear_pointer (&props->subscription_ids, g_array_unref);
  g_free (props);
}

void
starling_message_properties_add_user_property (StarlingMessageProperties *props,
                                               const char                *name,
                                               const char                *value)
{
  g_return_if_fail (props != NULL && name != NULL && value != NULL);

  if (props->user_properties == NULL)
    props->user_properties = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (props->user_properties, g_strdup (name));
  g_ptr_array_add (props->user_properties, g_strdup (value));
}

static void
starling_message_finalize (GObject *object)
{
  StarlingMessage *self = (StarlingMessage *) object;

  g_free (self->topic);
  g_bytes_unref (self->payload);
  starling_message_properties_free (self->props);
  g_free (self->preview);
  G_OBJECT_CLASS (starling_message_parent_class)->finalize (object);
}

static void
starling_message_class_init (StarlingMessageClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = starling_message_finalize;
}

static void
starling_message_init (StarlingMessage *self)
{
}

StarlingMessage *
starling_message_new (const char                *topic,
                      GBytes                    *payload,
                      int                        qos,
                      gboolean                   retain,
                      gboolean                   outgoing,
                      gint64                     time,
                      StarlingMessageProperties *props)
{
  StarlingMessage *self;

  g_return_val_if_fail (topic != NULL, NULL);
  g_return_val_if_fail (qos >= 0 && qos <= 2, NULL);

  self = g_object_new (STARLING_TYPE_MESSAGE, NULL);
  self->topic = g_strdup (topic);
  self->payload = payload ? g_bytes_ref (payload) : g_bytes_new (NULL, 0);
  self->qos = (guint8) qos;
  self->retain = !!retain;
  self->outgoing = !!outgoing;
  self->time = time ? time : g_get_real_time ();
  self->props = props;
  return self;
}

gint64
starling_message_get_time (StarlingMessage *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE (self), 0);
  return self->time;
}

const char *
starling_message_get_topic (StarlingMessage *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE (self), NULL);
  return self->topic;
}

GBytes *
starling_message_get_payload (StarlingMessage *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE (self), NULL);
  return self->payload;
}

gsize
starling_message_get_size (StarlingMessage *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE (self), 0);
  return g_bytes_get_size (self->payload);
}

int
starling_message_get_qos (StarlingMessage *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE (self), 0);
  return self->qos;
}

gboolean
starling_message_get_retain (StarlingMessage *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE (self), FALSE);
  return self->retain;
}

gboolean
starling_message_get_outgoing (StarlingMessage *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE (self), FALSE);
  return self->outgoing;
}

const StarlingMessageProperties *
starling_message_get_properties (StarlingMessage *self)
{
  static const StarlingMessageProperties empty = { .payload_format = -1, .message_expiry = -1 };

  g_return_val_if_fail (STARLING_IS_MESSAGE (self), NULL);
  return self->props ? self->props : &empty;
}

const char *
starling_message_get_preview (StarlingMessage *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE (self), NULL);

  /* Only the main thread reads messages, so a lazy cache needs no lock. */
  if (self->preview == NULL)
    self->preview = starling_payload_preview (self->payload, PREVIEW_CHARS);
  return self->preview;
}

static void
add_bytes_member (JsonBuilder *b, const char *text_name, const char *base64_name, GBytes *bytes)
{
  if (starling_payload_is_text (bytes))
    {
      g_autofree char *text = starling_payload_to_text (bytes);
      json_builder_set_member_name (b, text_name);
      json_builder_add_string_value (b, text);
    }
  else
    {
      g_autofree char *b64 = starling_payload_to_base64 (bytes);
      json_builder_set_member_name (b, base64_name);
      json_builder_add_string_value (b, b64);
    }
}

char *
starling_message_to_json (StarlingMessage *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *time = NULL;
  const StarlingMessageProperties *p;

  g_return_val_if_fail (STARLING_IS_MESSAGE (self), NULL);
  p = starling_message_get_properties (self);

  dt = g_date_time_new_from_unix_utc (self->time / G_USEC_PER_SEC);
  dt = g_date_time_add (g_steal_pointer (&dt), self->time % G_USEC_PER_SEC);
  time = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S.%fZ");

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, time);
  json_builder_set_member_name (b, "direction");
  json_builder_add_string_value (b, self->outgoing ? "out" : "in");
  json_builder_set_member_name (b, "topic");
  json_builder_add_string_value (b, self->topic);
  json_builder_set_member_name (b, "qos");
  json_builder_add_int_value (b, self->qos);
  json_builder_set_member_name (b, "retain");
  json_builder_add_boolean_value (b, self->retain);
  add_bytes_member (b, "payload", "payload_base64", self->payload);

  json_builder_set_member_name (b, "properties");
  json_builder_begin_object (b);
  if (p->payload_format >= 0)
    {
      json_builder_set_member_name (b, "payload_format_indicator");
      json_builder_add_int_value (b, p->payload_format);
    }
  if (p->message_expiry >= 0)
    {
      json_builder_set_member_name (b, "message_expiry_interval");
      json_builder_add_int_value (b, p->message_expiry);
    }
  if (p->content_type)
    {
      json_builder_set_member_name (b, "content_type");
      json_builder_add_string_value (b, p->content_type);
    }
  if (p->response_topic)
    {
      json_builder_set_member_name (b, "response_topic");
      json_builder_add_string_value (b, p->response_topic);
    }
  if (p->correlation_data)
    add_bytes_member (b, "correlation_data", "correlation_data_base64", p->correlation_data);
  if (p->user_properties && p->user_properties->len > 0)
    {
      /* Pairs, not an object: names may repeat. */
      json_builder_set_member_name (b, "user_properties");
      json_builder_begin_array (b);
      for (guint i = 0; i + 1 < p->user_properties->len; i += 2)
        {
          json_builder_begin_array (b);
          json_builder_add_string_value (b, g_ptr_array_index (p->user_properties, i));
          json_builder_add_string_value (b, g_ptr_array_index (p->user_properties, i + 1));
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
    }
  if (p->subscription_ids && p->subscription_ids->len > 0)
    {
      json_builder_set_member_name (b, "subscription_identifiers");
      json_builder_begin_array (b);
      for (guint i = 0; i < p->subscription_ids->len; i++)
        json_builder_add_int_value (b, g_array_index (p->subscription_ids, guint32, i));
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* Called for every log row shown, every frame under load: localtime_r
 * and strftime, not a GDateTime and a GTimeZone each time. */
char *
starling_message_format_time (gint64 time_us)
{
  time_t seconds = (time_t) (time_us / G_USEC_PER_SEC);
  struct tm tm;
  char buf[32];

  if (localtime_r (&seconds, &tm) == NULL || strftime (buf, sizeof buf, "%H:%M:%S", &tm) == 0)
    return g_strdup ("?");
  return g_strdup_printf ("%s.%03d", buf, (int) (time_us % G_USEC_PER_SEC / 1000));
}
