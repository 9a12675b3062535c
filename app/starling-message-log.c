#define G_LOG_DOMAIN "starling-message-log"

#include "config.h"

#include <string.h>

#include "starling-message-log.h"

struct _StarlingMessageLog
{
  GObject parent_instance;

  StarlingMessage **ring;
  guint             capacity;
  guint             head;    /* the oldest message */
  guint             n;
  gboolean          newest_first;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (StarlingMessageLog, starling_message_log, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_CAPACITY,
  PROP_NEWEST_FIRST,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static inline StarlingMessage **
slot (StarlingMessageLog *self, guint chronological)
{
  return &self->ring[(self->head + chronological) % self->capacity];
}

static GType
get_item_type (GListModel *model)
{
  return STARLING_TYPE_MESSAGE;
}

static guint
get_n_items (GListModel *model)
{
  return STARLING_MESSAGE_LOG (model)->n;
}

static gpointer
get_item (GListModel *model, guint position)
{
  StarlingMessageLog *self = STARLING_MESSAGE_LOG (model);

  if (position >= self->n)
    return NULL;
  if (self->newest_first)
    position = self->n - 1 - position;
  return g_object_ref (*slot (self, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

/* Drops the k oldest messages and says so. */
static void
drop_oldest (StarlingMessageLog *self, guint k)
{
  guint old_n = self->n;

  if (k == 0)
    return;
  for (guint i = 0; i < k; i++)
    g_clear_object (slot (self, i));
  self->head = (self->head + k) % self->capacity;
  self->n -= k;
  g_list_model_items_changed (G_LIST_MODEL (self), self->newest_first ? old_n - k : 0, k, 0);
}

static void
starling_message_log_finalize (GObject *object)
{
  StarlingMessageLog *self = (StarlingMessageLog *) object;

  for (guint i = 0; i < self->n; i++)
    g_clear_object (slot (self, i));
  g_free (self->ring);
  G_OBJECT_CLASS (starling_message_log_parent_class)->finalize (object);
}

static void
starling_message_log_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  StarlingMessageLog *self = STARLING_MESSAGE_LOG (object);

  switch (prop_id)
    {
    case PROP_CAPACITY:
      g_value_set_uint (value, self->capacity);
      break;
    case PROP_NEWEST_FIRST:
      g_value_set_boolean (value, self->newest_first);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->n);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
starling_message_log_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  StarlingMessageLog *self = STARLING_MESSAGE_LOG (object);

  switch (prop_id)
    {
    case PROP_CAPACITY:
      starling_message_log_set_capacity (self, g_value_get_uint (value));
      break;
    case PROP_NEWEST_FIRST:
      starling_message_log_set_newest_first (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
starling_message_log_class_init (StarlingMessageLogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = starling_message_log_finalize;
  object_class->get_property = starling_message_log_get_property;
  object_class->set_property = starling_message_log_set_property;

  properties[PROP_CAPACITY] =
    g_param_spec_uint ("capacity", NULL, NULL, 1, G_MAXUINT / 2, STARLING_MESSAGE_LOG_DEFAULT_CAPACITY,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_NEWEST_FIRST] =
    g_param_spec_boolean ("newest-first", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
starling_message_log_init (StarlingMessageLog *self)
{
}

StarlingMessageLog *
starling_message_log_new (guint capacity)
{
  StarlingMessageLog *self = g_object_new (STARLING_TYPE_MESSAGE_LOG, NULL);

  self->capacity = MAX (capacity, 1);
  self->ring = g_new0 (StarlingMessage *, self->capacity);
  return self;
}

guint
starling_message_log_get_capacity (StarlingMessageLog *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE_LOG (self), 0);
  return self->capacity;
}

void
starling_message_log_set_capacity (StarlingMessageLog *self, guint capacity)
{
  StarlingMessage **ring;

  g_return_if_fail (STARLING_IS_MESSAGE_LOG (self));

  capacity = MAX (capacity, 1);
  if (capacity == self->capacity)
    return;
  if (self->n > capacity)
    drop_oldest (self, self->n - capacity);
  /* Re-laid out from 0: positions do not change, so no signal. */
  ring = g_new0 (StarlingMessage *, capacity);
  for (guint i = 0; i < self->n; i++)
    ring[i] = *slot (self, i);
  g_free (self->ring);
  self->ring = ring;
  self->head = 0;
  self->capacity = capacity;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAPACITY]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

gboolean
starling_message_log_get_newest_first (StarlingMessageLog *self)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE_LOG (self), FALSE);
  return self->newest_first;
}

void
starling_message_log_set_newest_first (StarlingMessageLog *self, gboolean newest_first)
{
  g_return_if_fail (STARLING_IS_MESSAGE_LOG (self));

  newest_first = !!newest_first;
  if (newest_first == self->newest_first)
    return;
  self->newest_first = newest_first;
  g_list_model_items_changed (G_LIST_MODEL (self), 0, self->n, self->n);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NEWEST_FIRST]);
}

void
starling_message_log_append (StarlingMessageLog *self, StarlingMessage **messages, guint n_messages)
{
  guint old_n;

  g_return_if_fail (STARLING_IS_MESSAGE_LOG (self));

  if (n_messages == 0)
    return;
  /* Only the last `capacity` of a huge batch could stay. */
  if (n_messages > self->capacity)
    {
      messages += n_messages - self->capacity;
      n_messages = self->capacity;
    }
  if (self->n + n_messages > self->capacity)
    drop_oldest (self, self->n + n_messages - self->capacity);

  old_n = self->n;
  for (guint i = 0; i < n_messages; i++)
    *slot (self, old_n + i) = g_object_ref (messages[i]);
  self->n += n_messages;
  g_list_model_items_changed (G_LIST_MODEL (self), self->newest_first ? 0 : old_n, 0, n_messages);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

void
starling_message_log_clear (StarlingMessageLog *self)
{
  g_return_if_fail (STARLING_IS_MESSAGE_LOG (self));

  if (self->n == 0)
    return;
  drop_oldest (self, self->n);
  self->head = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

StarlingMessage *
starling_message_log_peek (StarlingMessageLog *self, guint n)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE_LOG (self), NULL);

  if (n >= self->n)
    return NULL;
  return *slot (self, n);
}

gboolean
starling_message_log_export (StarlingMessageLog *self,
                             GOutputStream      *stream,
                             const char         *topic_pattern,
                             const char         *text,
                             GCancellable       *cancellable,
                             GError            **error)
{
  g_return_val_if_fail (STARLING_IS_MESSAGE_LOG (self), FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), FALSE);

  for (guint i = 0; i < self->n; i++)
    {
      StarlingMessage *m = *slot (self, i);
      g_autofree char *line = NULL;

      if (!starling_message_matches (m, topic_pattern, text))
        continue;
      line = starling_message_to_json (m);
      if (!g_output_stream_write_all (stream, line, strlen (line), NULL, cancellable, error) ||
          !g_output_stream_write_all (stream, "\n", 1, NULL, cancellable, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
starling_topic_matches (const char *filter, const char *topic)
{
  const char *f = filter, *t = topic;

  g_return_val_if_fail (filter != NULL && topic != NULL, FALSE);

  if (*t == '$' && (*f == '+' || *f == '#'))
    return FALSE;
  for (;;)
    {
      if (*f == '#' && f[1] == '\0')
        return TRUE;
      if (*f == '+' && (f[1] == '/' || f[1] == '\0'))
        {
          while (*t && *t != '/')
            t++;
          f++;
        }
      else
        {
          while (*f && *f != '/' && *f == *t)
            f++, t++;
          if ((*f && *f != '/') || (*t && *t != '/'))
            return FALSE;
        }
      /* Both at a level's end. */
      if (*f == '\0' || *t == '\0')
        {
          /* "a/#" also matches "a". */
          if (*t == '\0' && *f == '/' && f[1] == '#' && f[2] == '\0')
            return TRUE;
          return *f == '\0' && *t == '\0';
        }
      f++, t++;
    }
}

/* ASCII case-insensitive search; payloads are bytes, not always text. */
static gboolean
contains_ascii_nocase (const char *haystack, gsize len, const char *needle)
{
  gsize nlen = strlen (needle);

  if (nlen == 0)
    return TRUE;
  for (gsize i = 0; i + nlen <= len; i++)
    if (g_ascii_strncasecmp (haystack + i, needle, nlen) == 0)
      return TRUE;
  return FALSE;
}

gboolean
starling_message_matches (StarlingMessage *message, const char *topic_pattern, const char *text)
{
  const char *topic = starling_message_get_topic (message);

  if (topic_pattern && *topic_pattern)
    {
      if (strpbrk (topic_pattern, "+#"))
        {
          if (!starling_topic_matches (topic_pattern, topic))
            return FALSE;
        }
      else if (!contains_ascii_nocase (topic, strlen (topic), topic_pattern))
        return FALSE;
    }
  if (text && *text)
    {
      gsize len;
      const char *data = g_bytes_get_data (starling_message_get_payload (message), &len);

      if (data == NULL || !contains_ascii_nocase (data, len, text))
        return FALSE;
    }
  return TRUE;
}
