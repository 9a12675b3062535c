#define G_LOG_DOMAIN "starling-publish-pane"

#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "starling-publish-pane.h"

#define MAX_HISTORY 50
#define MAX_COMPLETIONS 5000
#define FAVOURITES_KEY "publish-favourites"

struct _StarlingPublishPane
{
  AdwBin parent_instance;

  GtkEntry        *topic_entry;
  GtkDropDown     *format_dropdown;
  GtkTextView     *payload_view;
  GtkLabel        *payload_status;
  GtkDropDown     *qos_dropdown;
  GtkCheckButton  *retain_check;
  GtkEntry        *content_type_entry;
  GtkDropDown     *payload_format_dropdown;
  GtkEntry        *expiry_entry;
  GtkEntry        *response_topic_entry;
  GtkEntry        *correlation_entry;
  GtkTextView     *user_properties_view;
  GtkButton       *publish_button;
  GtkButton       *favourite_button;
  GtkLabel        *result_label;
  GtkListBox      *favourites_list;
  GtkListBox      *history_list;

  StarlingMqttClient *client;
  StarlingTopicTree  *tree;
  gulong              topic_added_id;
  GtkListStore       *completions;
  guint               n_completions;
  GSettings          *settings;    /* NULL when the schema lacks the key */
  GPtrArray          *favourites;  /* JSON strings, when no settings */
  GCancellable       *cancellable;
};

G_DEFINE_FINAL_TYPE (StarlingPublishPane, starling_publish_pane, ADW_TYPE_BIN)

enum { PUBLISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

static char *
text_view_get_text (GtkTextView *view)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static void
set_result (StarlingPublishPane *self, const char *text, gboolean error)
{
  gtk_label_set_text (self->result_label, text);
  if (error)
    gtk_widget_add_css_class (GTK_WIDGET (self->result_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->result_label), "error");
}

static void
on_payload_changed (StarlingPublishPane *self)
{
  StarlingPayloadFormat format = gtk_drop_down_get_selected (self->format_dropdown);
  g_autofree char *text = text_view_get_text (self->payload_view);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *status = NULL;

  if (*text == '\0' && format == STARLING_PAYLOAD_JSON)
    status = g_strdup (_("Empty: not JSON yet"));
  else if ((bytes = starling_payload_parse (text, format, &error)) == NULL)
    status = g_strdup (error->message);
  else if (format == STARLING_PAYLOAD_JSON)
    status = g_strdup (_("Valid JSON"));
  else
    status = g_strdup_printf (ngettext ("%zu byte", "%zu bytes", g_bytes_get_size (bytes)),
                              g_bytes_get_size (bytes));
  gtk_label_set_text (self->payload_status, status);
  if (bytes == NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->payload_status), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->payload_status), "error");
}

StarlingMessage *
starling_publish_pane_build_message (StarlingPublishPane *self, GError **error)
{
  g_autoptr(StarlingMessageProperties) props = starling_message_properties_new ();
  const char *topic = gtk_editable_get_text (GTK_EDITABLE (self->topic_entry));
  StarlingPayloadFormat format = gtk_drop_down_get_selected (self->format_dropdown);
  g_autofree char *text = text_view_get_text (self->payload_view);
  g_autofree char *users = text_view_get_text (self->user_properties_view);
  g_autoptr(GBytes) payload = NULL;
  g_auto(GStrv) lines = NULL;
  const char *s;
  guint pf;

  g_return_val_if_fail (STARLING_IS_PUBLISH_PANE (self), NULL);

  if (*topic == '\0' || strpbrk (topic, "+#") != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           *topic == '\0' ? _("The topic is empty") : _("A topic to publish to has no wildcards (+ or #)"));
      return NULL;
    }
  if ((payload = starling_payload_parse (text, format, error)) == NULL)
    return NULL;

  s = gtk_editable_get_text (GTK_EDITABLE (self->content_type_entry));
  if (*s)
    props->content_type = g_strdup (s);
  s = gtk_editable_get_text (GTK_EDITABLE (self->response_topic_entry));
  if (*s)
    props->response_topic = g_strdup (s);
  s = gtk_editable_get_text (GTK_EDITABLE (self->correlation_entry));
  if (*s)
    props->correlation_data = g_bytes_new (s, strlen (s));
  pf = gtk_drop_down_get_selected (self->payload_format_dropdown);
  props->payload_format = pf == 1 ? 0 : pf == 2 ? 1 : -1;
  s = gtk_editable_get_text (GTK_EDITABLE (self->expiry_entry));
  if (*s)
    {
      guint64 expiry;

      if (!g_ascii_string_to_unsigned (s, 10, 0, G_MAXUINT32, &expiry, NULL))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("The message expiry must be a whole number of seconds (not “%s”)"), s);
          return NULL;
        }
      props->message_expiry = (gint64) expiry;
    }
  lines = g_strsplit (users, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      char *eq;

      if (*g_strstrip (lines[i]) == '\0')
        continue;
      if ((eq = strchr (lines[i], '=')) == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("User property “%s” needs the form name=value"), lines[i]);
          return NULL;
        }
      *eq = '\0';
      starling_message_properties_add_user_property (props, lines[i], eq + 1);
    }

  return starling_message_new (topic, payload, gtk_drop_down_get_selected (self->qos_dropdown),
                               gtk_check_button_get_active (self->retain_check), TRUE, 0,
                               g_steal_pointer (&props));
}

void
starling_publish_pane_set_message (StarlingPublishPane   *self,
                                   StarlingMessage       *message,
                                   StarlingPayloadFormat  format)
{
  const StarlingMessageProperties *p;
  GBytes *payload;
  g_autofree char *text = NULL;
  g_autoptr(GString) users = g_string_new (NULL);

  g_return_if_fail (STARLING_IS_PUBLISH_PANE (self));
  g_return_if_fail (STARLING_IS_MESSAGE (message));

  p = starling_message_get_properties (message);
  payload = starling_message_get_payload (message);
  if ((format == STARLING_PAYLOAD_TEXT || format == STARLING_PAYLOAD_JSON) && !starling_payload_is_text (payload))
    format = STARLING_PAYLOAD_HEX;
  switch (format)
    {
    case STARLING_PAYLOAD_HEX:
      {
        gsize len;
        const guint8 *data = g_bytes_get_data (payload, &len);
        GString *hex = g_string_new (NULL);
        for (gsize i = 0; i < len; i++)
          g_string_append_printf (hex, i ? " %02x" : "%02x", data[i]);
        text = g_string_free (hex, FALSE);
      }
      break;
    case STARLING_PAYLOAD_BASE64:
      text = starling_payload_to_base64 (payload);
      break;
    default:
      text = starling_payload_to_text (payload);
      break;
    }

  gtk_editable_set_text (GTK_EDITABLE (self->topic_entry), starling_message_get_topic (message));
  gtk_drop_down_set_selected (self->format_dropdown, format);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->payload_view), text, -1);
  gtk_drop_down_set_selected (self->qos_dropdown, starling_message_get_qos (message));
  gtk_check_button_set_active (self->retain_check, starling_message_get_retain (message));
  gtk_editable_set_text (GTK_EDITABLE (self->content_type_entry), p->content_type ? p->content_type : "");
  gtk_editable_set_text (GTK_EDITABLE (self->response_topic_entry), p->response_topic ? p->response_topic : "");
  if (p->correlation_data)
    {
      g_autofree char *c = starling_payload_to_text (p->correlation_data);
      gtk_editable_set_text (GTK_EDITABLE (self->correlation_entry), c);
    }
  else
    gtk_editable_set_text (GTK_EDITABLE (self->correlation_entry), "");
  gtk_drop_down_set_selected (self->payload_format_dropdown, p->payload_format < 0 ? 0 : p->payload_format + 1);
  if (p->message_expiry >= 0)
    {
      g_autofree char *e = g_strdup_printf ("%" G_GINT64_FORMAT, p->message_expiry);
      gtk_editable_set_text (GTK_EDITABLE (self->expiry_entry), e);
    }
  else
    gtk_editable_set_text (GTK_EDITABLE (self->expiry_entry), "");
  for (guint i = 0; p->user_properties && i + 1 < p->user_properties->len; i += 2)
    g_string_append_printf (users, "%s=%s\n", (char *) g_ptr_array_index (p->user_properties, i),
                            (char *) g_ptr_array_index (p->user_properties, i + 1));
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->user_properties_view), users->str, -1);
}

/* ---- History and favourites ------------------------------------------------ */

static void publish_message (StarlingPublishPane *self, StarlingMessage *message);

static StarlingPublishPane *
pane_of (GtkWidget *widget)
{
  return STARLING_PUBLISH_PANE (gtk_widget_get_ancestor (widget, STARLING_TYPE_PUBLISH_PANE));
}

static GtkWidget *
message_row (StarlingMessage *message, const char *extra, GCallback first_cb, const char *first_icon,
             const char *first_tooltip, GCallback second_cb, const char *second_icon, const char *second_tooltip)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *labels = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *topic = gtk_label_new (starling_message_get_topic (message));
  g_autofree char *detail = g_strdup_printf ("QoS %d%s%s%s · %s", starling_message_get_qos (message),
                                             starling_message_get_retain (message) ? _(" · retained") : "",
                                             extra ? " · " : "", extra ? extra : "",
                                             starling_message_get_preview (message));
  GtkWidget *preview = gtk_label_new (detail);
  GtkWidget *first = gtk_button_new_from_icon_name (first_icon);
  GtkWidget *second = gtk_button_new_from_icon_name (second_icon);

  gtk_widget_set_margin_start (row, 8);
  gtk_widget_set_margin_end (row, 8);
  gtk_widget_set_margin_top (row, 4);
  gtk_widget_set_margin_bottom (row, 4);
  gtk_widget_set_hexpand (labels, TRUE);
  gtk_label_set_xalign (GTK_LABEL (topic), 0);
  gtk_label_set_ellipsize (GTK_LABEL (topic), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_xalign (GTK_LABEL (preview), 0);
  gtk_label_set_ellipsize (GTK_LABEL (preview), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (preview, "dim-label");
  gtk_widget_add_css_class (preview, "caption");
  gtk_box_append (GTK_BOX (labels), topic);
  gtk_box_append (GTK_BOX (labels), preview);
  gtk_box_append (GTK_BOX (row), labels);
  for (guint i = 0; i < 2; i++)
    {
      GtkWidget *button = i == 0 ? first : second;

      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (button, "flat");
      gtk_widget_set_tooltip_text (button, i == 0 ? first_tooltip : second_tooltip);
      g_object_set_data_full (G_OBJECT (button), "message", g_object_ref (message), g_object_unref);
      g_signal_connect (button, "clicked", i == 0 ? first_cb : second_cb, NULL);
      gtk_box_append (GTK_BOX (row), button);
    }
  return row;
}

static void
on_history_again (GtkButton *button)
{
  publish_message (pane_of (GTK_WIDGET (button)), g_object_get_data (G_OBJECT (button), "message"));
}

static void
on_history_edit (GtkButton *button)
{
  StarlingPublishPane *self = pane_of (GTK_WIDGET (button));
  StarlingMessage *message = g_object_get_data (G_OBJECT (button), "message");
  StarlingPayloadFormat format = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (message), "starling-format"));

  starling_publish_pane_set_message (self, message, format);
}

static void
add_history (StarlingPublishPane *self, StarlingMessage *message, const char *answer)
{
  GtkWidget *child;
  guint n = 0;

  gtk_list_box_prepend (self->history_list,
                        message_row (message, answer,
                                     G_CALLBACK (on_history_again), "view-refresh-symbolic", _("Send again"),
                                     G_CALLBACK (on_history_edit), "document-edit-symbolic", _("Edit")));
  for (child = gtk_widget_get_first_child (GTK_WIDGET (self->history_list)); child; n++)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);

      if (n >= MAX_HISTORY)
        gtk_list_box_remove (self->history_list, child);
      child = next;
    }
}

/* Favourites are messages as JSON (starling_message_to_json) plus the
 * payload format the form showed. */
static StarlingMessage *
message_from_json (const char *json, StarlingPayloadFormat *format)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(StarlingMessageProperties) props = starling_message_properties_new ();
  g_autoptr(GBytes) payload = NULL;
  JsonObject *o, *p;
  JsonArray *users;

  if (!json_parser_load_from_data (parser, json, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  o = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (o, "topic"))
    return NULL;
  *format = json_object_get_int_member_with_default (o, "format", STARLING_PAYLOAD_TEXT);
  if (json_object_has_member (o, "payload_base64"))
    {
      gsize len;
      guchar *data = g_base64_decode (json_object_get_string_member (o, "payload_base64"), &len);
      payload = g_bytes_new_take (data, len);
    }
  else
    {
      const char *text = json_object_get_string_member_with_default (o, "payload", "");
      payload = g_bytes_new (text, strlen (text));
    }
  p = json_object_get_object_member (o, "properties");
  if (p)
    {
      props->payload_format = json_object_get_int_member_with_default (p, "payload_format_indicator", -1);
      props->message_expiry = json_object_get_int_member_with_default (p, "message_expiry_interval", -1);
      props->content_type = g_strdup (json_object_get_string_member_with_default (p, "content_type", NULL));
      props->response_topic = g_strdup (json_object_get_string_member_with_default (p, "response_topic", NULL));
      if (json_object_has_member (p, "correlation_data"))
        {
          const char *c = json_object_get_string_member (p, "correlation_data");
          props->correlation_data = g_bytes_new (c, strlen (c));
        }
      users = json_object_has_member (p, "user_properties") ? json_object_get_array_member (p, "user_properties") : NULL;
      for (guint i = 0; users && i < json_array_get_length (users); i++)
        {
          JsonArray *pair = json_array_get_array_element (users, i);
          if (pair && json_array_get_length (pair) == 2)
            starling_message_properties_add_user_property (props, json_array_get_string_element (pair, 0),
                                                           json_array_get_string_element (pair, 1));
        }
    }
  return starling_message_new (json_object_get_string_member (o, "topic"), payload,
                               CLAMP (json_object_get_int_member_with_default (o, "qos", 0), 0, 2),
                               json_object_get_boolean_member_with_default (o, "retain", FALSE),
                               TRUE, 0, g_steal_pointer (&props));
}

static char *
favourite_to_json (StarlingMessage *message, StarlingPayloadFormat format)
{
  g_autofree char *json = starling_message_to_json (message);
  g_autoptr(JsonNode) node = json_from_string (json, NULL);
  JsonObject *o = json_node_get_object (node);

  json_object_set_int_member (o, "format", format);
  json_object_remove_member (o, "time");
  json_object_remove_member (o, "direction");
  return json_to_string (node, FALSE);
}

static GStrv
get_favourites (StarlingPublishPane *self)
{
  if (self->settings)
    return g_settings_get_strv (self->settings, FAVOURITES_KEY);
  g_ptr_array_add (self->favourites, NULL);
  {
    GStrv copy = g_strdupv ((char **) self->favourites->pdata);
    g_ptr_array_remove_index (self->favourites, self->favourites->len - 1);
    return copy;
  }
}

static void
set_favourites (StarlingPublishPane *self, const char * const *favourites)
{
  if (self->settings)
    {
      g_settings_set_strv (self->settings, FAVOURITES_KEY, favourites);
      return;
    }
  g_ptr_array_set_size (self->favourites, 0);
  for (guint i = 0; favourites[i]; i++)
    g_ptr_array_add (self->favourites, g_strdup (favourites[i]));
}

static void reload_favourites (StarlingPublishPane *self);

static void
on_favourite_load (GtkButton *button)
{
  StarlingPublishPane *self = pane_of (GTK_WIDGET (button));
  StarlingMessage *message = g_object_get_data (G_OBJECT (button), "message");

  starling_publish_pane_set_message (self, message,
                                     GPOINTER_TO_INT (g_object_get_data (G_OBJECT (message), "starling-format")));
}

static void
on_favourite_remove (GtkButton *button)
{
  StarlingPublishPane *self = pane_of (GTK_WIDGET (button));
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (g_object_get_data (G_OBJECT (button), "message")),
                                                     "starling-index"));
  g_auto(GStrv) favourites = get_favourites (self);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) updated = NULL;

  for (guint i = 0; favourites[i]; i++)
    if (i != index)
      g_strv_builder_add (builder, favourites[i]);
  updated = g_strv_builder_end (builder);
  set_favourites (self, (const char * const *) updated);
  reload_favourites (self);
}

static void
reload_favourites (StarlingPublishPane *self)
{
  g_auto(GStrv) favourites = get_favourites (self);
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->favourites_list))))
    gtk_list_box_remove (self->favourites_list, child);
  for (guint i = 0; favourites[i]; i++)
    {
      StarlingPayloadFormat format;
      g_autoptr(StarlingMessage) message = message_from_json (favourites[i], &format);

      if (message == NULL)
        continue;
      g_object_set_data (G_OBJECT (message), "starling-format", GINT_TO_POINTER (format));
      g_object_set_data (G_OBJECT (message), "starling-index", GUINT_TO_POINTER (i));
      gtk_list_box_append (self->favourites_list,
                           message_row (message, NULL,
                                        G_CALLBACK (on_favourite_load), "document-open-symbolic", _("Load into the form"),
                                        G_CALLBACK (on_favourite_remove), "user-trash-symbolic", _("Remove")));
    }
}

static void
on_favourite_clicked (StarlingPublishPane *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StarlingMessage) message = starling_publish_pane_build_message (self, &error);
  g_auto(GStrv) favourites = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) updated = NULL;
  g_autofree char *json = NULL;

  if (message == NULL)
    {
      set_result (self, error->message, TRUE);
      return;
    }
  json = favourite_to_json (message, gtk_drop_down_get_selected (self->format_dropdown));
  favourites = get_favourites (self);
  g_strv_builder_addv (builder, (const char **) favourites);
  if (!g_strv_contains ((const char * const *) favourites, json))
    g_strv_builder_add (builder, json);
  updated = g_strv_builder_end (builder);
  set_favourites (self, (const char * const *) updated);
  reload_favourites (self);
  set_result (self, _("Saved as a favourite"), FALSE);
}

/* ---- Publishing ------------------------------------------------------------- */

static void
publish_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(StarlingMessage) message = data;
  g_autoptr(GError) error = NULL;
  StarlingPublishPane *self;
  g_autofree char *text = NULL;
  const char *ack;
  int reason = 0;
  gboolean ok;

  ok = starling_mqtt_client_publish_finish (STARLING_MQTT_CLIENT (source), result, &reason, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = g_object_get_data (G_OBJECT (message), "starling-pane");
  if (self == NULL)
    return;

  switch (starling_message_get_qos (message))
    {
    case 0:
      ack = _("Sent (QoS 0 has no answer)");
      break;
    case 1:
      ack = "PUBACK";
      break;
    default:
      ack = "PUBREC";
      break;
    }
  if (ok && starling_message_get_qos (message) == 0)
    text = g_strdup (ack);
  else if (ok)
    text = g_strdup_printf ("%s: %s (0x%02x)", ack, starling_mqtt_reason_to_string (reason), reason);
  else if (reason >= 0x80)
    text = g_strdup_printf ("%s: %s (0x%02x)", ack, error->message, reason);
  else
    text = g_strdup_printf (_("Not sent: %s"), error->message);
  set_result (self, text, !ok);
  if (ok)
    add_history (self, message, starling_message_get_qos (message) > 0 ? starling_mqtt_reason_to_string (reason) : NULL);
  g_signal_emit (self, signals[PUBLISHED], 0, message, reason, ok ? NULL : error->message);
}

static void
publish_message (StarlingPublishPane *self, StarlingMessage *message)
{
  /* A fresh message each time: the history shows when each was sent. */
  g_autoptr(StarlingMessage) copy =
    starling_message_new (starling_message_get_topic (message), starling_message_get_payload (message),
                          starling_message_get_qos (message), starling_message_get_retain (message), TRUE, 0,
                          starling_message_properties_copy (starling_message_get_properties (message)));

  g_object_set_data (G_OBJECT (copy), "starling-format", g_object_get_data (G_OBJECT (message), "starling-format"));
  /* Not a reference: cleared in dispose through the cancellable. */
  g_object_set_data (G_OBJECT (copy), "starling-pane", self);
  set_result (self, _("Publishing…"), FALSE);
  starling_mqtt_client_publish_async (self->client, copy, self->cancellable, publish_done, g_object_ref (copy));
}

void
starling_publish_pane_publish (StarlingPublishPane *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StarlingMessage) message = NULL;

  g_return_if_fail (STARLING_IS_PUBLISH_PANE (self));

  message = starling_publish_pane_build_message (self, &error);
  if (message == NULL)
    {
      set_result (self, error->message, TRUE);
      return;
    }
  g_object_set_data (G_OBJECT (message), "starling-format",
                     GINT_TO_POINTER (gtk_drop_down_get_selected (self->format_dropdown)));
  publish_message (self, message);
}

static void
on_publish_clicked (StarlingPublishPane *self)
{
  starling_publish_pane_publish (self);
}

const char *
starling_publish_pane_get_result (StarlingPublishPane *self)
{
  g_return_val_if_fail (STARLING_IS_PUBLISH_PANE (self), NULL);
  return gtk_label_get_text (self->result_label);
}

static void
on_topic_added (StarlingPublishPane *self, const char *topic)
{
  GtkTreeIter iter;

  if (self->n_completions >= MAX_COMPLETIONS)
    return;
  self->n_completions++;
  gtk_list_store_insert_with_values (self->completions, &iter, -1, 0, topic, -1);
}

/* ---- Type --------------------------------------------------------------------- */

static void
starling_publish_pane_dispose (GObject *object)
{
  StarlingPublishPane *self = (StarlingPublishPane *) object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->tree)
    g_clear_signal_handler (&self->topic_added_id, self->tree);
  g_clear_object (&self->tree);
  g_clear_object (&self->client);
  g_clear_object (&self->completions);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->favourites, g_ptr_array_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), STARLING_TYPE_PUBLISH_PANE);
  G_OBJECT_CLASS (starling_publish_pane_parent_class)->dispose (object);
}

static void
starling_publish_pane_class_init (StarlingPublishPaneClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = starling_publish_pane_dispose;

  /* published (message, reason code, error message or NULL) */
  signals[PUBLISHED] =
    g_signal_new ("published", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, STARLING_TYPE_MESSAGE, G_TYPE_INT, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/starlingmq/Starling/starling-publish-pane.ui");
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, topic_entry);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, format_dropdown);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, payload_view);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, payload_status);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, qos_dropdown);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, retain_check);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, content_type_entry);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, payload_format_dropdown);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, expiry_entry);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, response_topic_entry);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, correlation_entry);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, user_properties_view);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, publish_button);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, favourite_button);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, result_label);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, favourites_list);
  gtk_widget_class_bind_template_child (widget_class, StarlingPublishPane, history_list);
  gtk_widget_class_bind_template_callback (widget_class, on_payload_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_publish_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_favourite_clicked);
}

static void
starling_publish_pane_init (StarlingPublishPane *self)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = source ? g_settings_schema_source_lookup (source, APP_ID, TRUE) : NULL;
  GtkEntryCompletion *completion;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->favourites = g_ptr_array_new_with_free_func (g_free);
  /* Older schemas (or none, in some tests) lack the key: keep favourites
   * for the session then. */
  if (schema && g_settings_schema_has_key (schema, FAVOURITES_KEY))
    self->settings = g_settings_new (APP_ID);

  self->completions = gtk_list_store_new (1, G_TYPE_STRING);
  completion = gtk_entry_completion_new ();
  gtk_entry_completion_set_model (completion, GTK_TREE_MODEL (self->completions));
  gtk_entry_completion_set_text_column (completion, 0);
  gtk_entry_completion_set_inline_completion (completion, TRUE);
  gtk_entry_completion_set_popup_single_match (completion, FALSE);
  gtk_entry_set_completion (self->topic_entry, completion);
  g_object_unref (completion);

  g_signal_connect_swapped (gtk_text_view_get_buffer (self->payload_view), "changed",
                            G_CALLBACK (on_payload_changed), self);
  on_payload_changed (self);
}

GtkWidget *
starling_publish_pane_new (StarlingMqttClient *client, StarlingTopicTree *tree)
{
  StarlingPublishPane *self;

  g_return_val_if_fail (STARLING_IS_MQTT_CLIENT (client), NULL);
  g_return_val_if_fail (tree == NULL || STARLING_IS_TOPIC_TREE (tree), NULL);

  self = g_object_new (STARLING_TYPE_PUBLISH_PANE, NULL);
  self->client = g_object_ref (client);
  if (tree)
    {
      self->tree = g_object_ref (tree);
      self->topic_added_id = g_signal_connect_swapped (tree, "topic-added", G_CALLBACK (on_topic_added), self);
    }
  reload_favourites (self);
  return GTK_WIDGET (self);
}
