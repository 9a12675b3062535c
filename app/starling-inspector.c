#define G_LOG_DOMAIN "starling-inspector"

#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "starling-inspector.h"
#include "starling-log-view.h"
#include "starling-payload.h"
#include "starling-publish-pane.h"
#include "starling-util.h"

#define CREDENTIAL_LIFETIME "3600"
#define HISTORY_SHOWN 10
#define CHART_POINTS 100

/* ---- The chart: a topic's numeric values over time ---------------------------- */

#define STARLING_TYPE_INSPECTOR_CHART (starling_inspector_chart_get_type ())
G_DECLARE_FINAL_TYPE (StarlingInspectorChart, starling_inspector_chart, STARLING, INSPECTOR_CHART, GtkWidget)

struct _StarlingInspectorChart
{
  GtkWidget parent_instance;
  GArray   *times;    /* gint64 µs */
  GArray   *values;   /* double */
};

G_DEFINE_FINAL_TYPE (StarlingInspectorChart, starling_inspector_chart, GTK_TYPE_WIDGET)

static void
chart_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  StarlingInspectorChart *self = STARLING_INSPECTOR_CHART (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  cairo_t *cr;
  GdkRGBA color;
  double min = G_MAXDOUBLE, max = -G_MAXDOUBLE;
  gint64 t0, t1;
  const double pad = 4;

  if (self->values->len == 0 || w <= 2 * pad || h <= 2 * pad)
    return;
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &color);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));

  for (guint i = 0; i < self->values->len; i++)
    {
      double v = g_array_index (self->values, double, i);
      min = MIN (min, v);
      max = MAX (max, v);
    }
  if (max - min < 1e-9)
    {
      max += 1;
      min -= 1;
    }
  t0 = g_array_index (self->times, gint64, 0);
  t1 = g_array_index (self->times, gint64, self->times->len - 1);
  if (t1 <= t0)
    t1 = t0 + 1;

  /* Faint frame, then the line in the accent blue. */
  cairo_set_source_rgba (cr, color.red, color.green, color.blue, 0.15);
  cairo_rectangle (cr, 0.5, 0.5, w - 1, h - 1);
  cairo_set_line_width (cr, 1);
  cairo_stroke (cr);

  cairo_set_source_rgb (cr, 0x35 / 255.0, 0x84 / 255.0, 0xe4 / 255.0);
  cairo_set_line_width (cr, 2);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  for (guint i = 0; i < self->values->len; i++)
    {
      double x = pad + (w - 2 * pad) * (double) (g_array_index (self->times, gint64, i) - t0) / (t1 - t0);
      double y = h - pad - (h - 2 * pad) * (g_array_index (self->values, double, i) - min) / (max - min);

      if (self->values->len == 1)
        x = w / 2.0;
      if (i == 0)
        cairo_move_to (cr, x, y);
      else
        cairo_line_to (cr, x, y);
    }
  if (self->values->len == 1)
    cairo_rel_line_to (cr, 0.1, 0);
  cairo_stroke (cr);

  /* The range, so the line means something. */
  {
    g_autofree char *text = g_strdup_printf ("%g … %g", min, max);
    cairo_set_source_rgba (cr, color.red, color.green, color.blue, 0.6);
    cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size (cr, 10);
    cairo_move_to (cr, pad + 2, pad + 10);
    cairo_show_text (cr, text);
  }
  cairo_destroy (cr);
}

static void
chart_finalize (GObject *object)
{
  StarlingInspectorChart *self = STARLING_INSPECTOR_CHART (object);

  g_array_unref (self->times);
  g_array_unref (self->values);
  G_OBJECT_CLASS (starling_inspector_chart_parent_class)->finalize (object);
}

static void
starling_inspector_chart_class_init (StarlingInspectorChartClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = chart_finalize;
  GTK_WIDGET_CLASS (klass)->snapshot = chart_snapshot;
}

static void
starling_inspector_chart_init (StarlingInspectorChart *self)
{
  self->times = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->values = g_array_new (FALSE, FALSE, sizeof (double));
  gtk_widget_set_size_request (GTK_WIDGET (self), -1, 90);
}

/* ---- The inspector ------------------------------------------------------------- */

struct _StarlingInspector
{
  AdwBin parent_instance;

  GtkStack        *state_stack;
  GtkSpinner      *state_spinner;
  GtkImage        *state_icon;
  GtkLabel        *status_label;
  GtkEntry        *endpoint_entry;
  GtkCheckButton  *verify_check;
  GtkEntry        *filters_entry;
  GtkToggleButton *pause_button;
  GtkToggleButton *newest_first_button;
  GtkToggleButton *publish_toggle;
  GtkPaned        *outer_paned;
  GtkListView     *tree_view;
  GtkSearchEntry  *topic_filter_entry;
  GtkSearchEntry  *text_filter_entry;
  GtkLabel        *count_label;
  StarlingLogView *log_view;
  GtkBox          *detail_box;
  GtkLabel        *detail_title;
  GtkButton       *delete_retained_button;
  GtkDropDown     *format_dropdown;
  GtkLabel        *detail_meta;
  GtkTextView     *payload_view;
  GtkLabel        *properties_label;
  GtkBox          *chart_header;
  GtkEntry        *chart_field_entry;
  GtkLabel        *history_label;
  StarlingInspectorChart *chart;
  GtkWidget       *publish_pane;

  StApiClient        *api;
  char               *ns;
  char               *broker;
  GCancellable       *cancellable;
  StarlingMqttClient *mqtt;
  StarlingTopicTree  *tree;
  StarlingMessageLog *log;
  GtkTreeListModel   *tree_model;
  GtkSingleSelection *tree_selection;
  GtkFilterListModel *shown_log;
  GtkCustomFilter    *log_filter;
  GtkSingleSelection *log_selection;
  char               *filter_topic;
  char               *filter_text;

  char               *client_id;
  char               *token;
  gint64              issued_at;     /* monotonic µs */
  char               *endpoint;      /* the broker's, as the API gives it */
  gboolean            token_auth;
  guint               resolve_timeout_id;
  char               *ca_file;
  char               *default_uri;
  gboolean            paused;
  GPtrArray          *held;
  guint64             n_held;
  guint               tick_id;

  GSettings          *settings;      /* NULL when the schema lacks the keys */
  StarlingTopicNode  *detail_node;   /* followed live */
  gulong              detail_node_id;
  StarlingMessage    *detail_message;
};

G_DEFINE_FINAL_TYPE (StarlingInspector, starling_inspector, ADW_TYPE_BIN)

/* ---- Connection ------------------------------------------------------------------ */

static void
update_state (StarlingInspector *self)
{
  StarlingMqttState state = starling_mqtt_client_get_state (self->mqtt);
  const char *icon = "network-offline-symbolic";
  GtkWidget *label = GTK_WIDGET (self->status_label);

  gtk_label_set_text (self->status_label, starling_mqtt_client_get_status (self->mqtt));
  gtk_widget_set_tooltip_text (label, starling_mqtt_client_get_status (self->mqtt));
  gtk_widget_remove_css_class (label, "error");
  gtk_widget_remove_css_class (label, "warning");
  gtk_widget_remove_css_class (label, "success");
  switch (state)
    {
    case STARLING_MQTT_STATE_CONNECTING:
    case STARLING_MQTT_STATE_RECONNECTING:
      gtk_stack_set_visible_child_name (self->state_stack, "busy");
      gtk_spinner_start (self->state_spinner);
      if (state == STARLING_MQTT_STATE_RECONNECTING)
        gtk_widget_add_css_class (label, "warning");
      return;
    case STARLING_MQTT_STATE_CONNECTED:
      icon = "emblem-ok-symbolic";
      gtk_widget_add_css_class (label, "success");
      break;
    case STARLING_MQTT_STATE_ERROR:
      icon = "dialog-error-symbolic";
      gtk_widget_add_css_class (label, "error");
      break;
    case STARLING_MQTT_STATE_DISCONNECTED:
    default:
      break;
    }
  gtk_spinner_stop (self->state_spinner);
  gtk_image_set_from_icon_name (self->state_icon, icon);
  gtk_stack_set_visible_child_name (self->state_stack, "icon");
}

static void start (StarlingInspector *self);

/* The credential lives an hour: a refusal after most of that is its
 * expiry, and a new one (once) is the cure. */
static void
on_state (StarlingInspector *self)
{
  StarlingMqttState state = starling_mqtt_client_get_state (self->mqtt);

  if (state == STARLING_MQTT_STATE_ERROR && self->api && self->token &&
      g_get_monotonic_time () - self->issued_at > (gint64) (atoi (CREDENTIAL_LIFETIME) - 300) * G_USEC_PER_SEC)
    {
      g_debug ("credential refused near its expiry: issuing a new one");
      start (self);
    }
}

static void
show_problem (StarlingInspector *self, const char *what, const GError *error)
{
  g_autofree char *text = g_strdup_printf ("%s: %s", what, error->message);

  gtk_label_set_text (self->status_label, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->status_label), text);
  gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "error");
  gtk_spinner_stop (self->state_spinner);
  gtk_image_set_from_icon_name (self->state_icon, "dialog-error-symbolic");
  gtk_stack_set_visible_child_name (self->state_stack, "icon");
}

/* "mqtts://b.ns.localhost:8883" → "mqtts://127.0.0.1:8883", for names
 * under .localhost that this system does not resolve (glibc alone does not
 * map them; systemd-resolved does).  A token broker still gets the
 * connection: the broker routes one without a matching SNI name by the
 * token's key id, and its default certificate names 127.0.0.1, so the
 * certificate check stays on. */
static char *
loopback_uri (const char *endpoint)
{
  g_autoptr(GUri) uri = g_uri_parse (endpoint, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return g_strdup (endpoint);
  return g_strdup_printf ("%s://127.0.0.1:%d", g_uri_get_scheme (uri),
                          g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 8883);
}

/* The host of endpoint when it is under .localhost, else NULL. */
static char *
localhost_name (const char *endpoint)
{
  g_autoptr(GUri) uri = g_uri_parse (endpoint, G_URI_FLAGS_NONE, NULL);
  const char *host = uri ? g_uri_get_host (uri) : NULL;

  if (host && (g_ascii_strcasecmp (host, "localhost") == 0 || g_str_has_suffix (host, ".localhost")))
    return g_strdup (host);
  return NULL;
}

static void
apply_filters (StarlingInspector *self)
{
  g_auto(GStrv) parts = g_strsplit_set (gtk_editable_get_text (GTK_EDITABLE (self->filters_entry)), " \t,", -1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) filters = NULL;

  for (guint i = 0; parts[i]; i++)
    if (*parts[i])
      g_strv_builder_add (builder, parts[i]);
  filters = g_strv_builder_end (builder);
  if (filters[0] == NULL)
    {
      g_strfreev (filters);
      filters = g_strsplit ("#", " ", -1);
    }
  starling_mqtt_client_set_filters (self->mqtt, (const char * const *) filters);
}

static void
connect_mqtt (StarlingInspector *self, const char *uri)
{
  g_autoptr(GError) error = NULL;

  if (!starling_mqtt_client_configure (self->mqtt, uri, self->client_id, self->client_id, self->token,
                                       self->ca_file, gtk_check_button_get_active (self->verify_check), &error))
    {
      show_problem (self, _("Cannot connect"), error);
      return;
    }
  apply_filters (self);
  starling_mqtt_client_connect (self->mqtt);
}

static void
got_ca (GObject *source, GAsyncResult *result, gpointer data)
{
  StarlingInspector *self = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = st_api_client_get_ca_finish (ST_API_CLIENT (source), result, &error);
  const char *typed;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (pem != NULL)
    {
      g_autofree char *dir = g_build_filename (g_get_user_runtime_dir (), "starling", NULL);
      g_autofree char *name = g_strdup_printf ("inspector-ca-%s-%s-%p.pem", self->ns, self->broker, self);

      g_mkdir_with_parents (dir, 0700);
      g_free (self->ca_file);
      self->ca_file = g_build_filename (dir, name, NULL);
      if (!g_file_set_contents_full (self->ca_file, pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
        {
          show_problem (self, _("Cannot save the CA certificate"), error);
          return;
        }
    }
  else
    /* A remote server may use a public CA: trust the system's then. */
    g_debug ("no CA from the server (%s): trusting the system's", error->message);

  typed = gtk_editable_get_text (GTK_EDITABLE (self->endpoint_entry));
  if (*typed == '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->endpoint_entry), self->default_uri);
  connect_mqtt (self, *typed ? typed : self->default_uri);
}

static void
got_credential (GObject *source, GAsyncResult *result, gpointer data)
{
  StarlingInspector *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);
  JsonObject *o;
  g_autoptr(GList) members = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node == NULL)
    {
      show_problem (self, _("Cannot issue a credential"), error);
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node) || (members = json_object_get_members (o = json_node_get_object (node))) == NULL)
    {
      g_autoptr(GError) e = g_error_new_literal (ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE, _("no credential in the answer"));
      show_problem (self, _("Cannot issue a credential"), e);
      return;
    }
  g_free (self->client_id);
  self->client_id = g_strdup (members->data);
  g_free (self->token);
  self->token = g_strdup (json_object_get_string_member (o, members->data));
  self->issued_at = g_get_monotonic_time ();
  st_api_client_get_ca_async (self->api, self->cancellable, got_ca, self);
}

/* The credential (token brokers) and the CA, once the address is known. */
static void
after_endpoint (StarlingInspector *self)
{
  if (self->token_auth)
    {
      g_autofree char *path = g_strdup_printf ("namespaces/%s/brokers/%s/credentials", self->ns, self->broker);
      const char *query[] = { "number", "1", "expiration", CREDENTIAL_LIFETIME, "topicAcl", "#", NULL };

      gtk_label_set_text (self->status_label, _("Issuing a credential…"));
      st_api_client_request_async (self->api, "GET", path, query, NULL, self->cancellable, got_credential, self);
    }
  else
    {
      g_clear_pointer (&self->client_id, g_free);
      g_clear_pointer (&self->token, g_free);
      st_api_client_get_ca_async (self->api, self->cancellable, got_ca, self);
    }
}

static void
use_loopback (StarlingInspector *self)
{
  g_free (self->default_uri);
  self->default_uri = loopback_uri (self->endpoint);
  /* Anonymous brokers are told apart by name (SNI) only. */
  if (!self->token_auth)
    g_message ("%s does not resolve here: connecting to 127.0.0.1, where an anonymous broker is found by SNI only",
               self->endpoint);
}

/* getaddrinfo, as Paho will call it: GResolver maps *.localhost to the
 * loopback address by itself, so its answer says nothing about Paho's. */
static void
resolve_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
  gboolean ok = getaddrinfo (data, NULL, &hints, &res) == 0;

  if (res)
    freeaddrinfo (res);
  g_task_return_boolean (task, ok);
}

static void
resolved (GObject *source, GAsyncResult *result, gpointer data)
{
  StarlingInspector *self = STARLING_INSPECTOR (source);
  g_autoptr(GError) error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* The timeout went first and carried on without us. */
  if (self->resolve_timeout_id == 0)
    return;
  g_clear_handle_id (&self->resolve_timeout_id, g_source_remove);
  if (!ok)
    use_loopback (self);
  after_endpoint (self);
}

static gboolean
resolve_timeout (gpointer data)
{
  StarlingInspector *self = data;

  self->resolve_timeout_id = 0;
  use_loopback (self);
  after_endpoint (self);
  return G_SOURCE_REMOVE;
}

static void
got_broker (GObject *source, GAsyncResult *result, gpointer data)
{
  StarlingInspector *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);
  g_autofree char *host = NULL;
  JsonObject *o;
  const char *endpoint;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      if (error == NULL)
        error = g_error_new_literal (ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE, _("not a broker"));
      show_problem (self, _("Cannot read the broker"), error);
      return;
    }
  o = json_node_get_object (node);
  endpoint = json_object_get_string_member_with_default (o, "endpoint", "mqtts://localhost:8883");
  self->token_auth = g_strcmp0 (json_object_get_string_member_with_default (o, "authType", "TOKEN"), "TOKEN") == 0;
  g_free (self->endpoint);
  self->endpoint = g_strdup (endpoint);
  g_free (self->default_uri);
  self->default_uri = g_strdup (endpoint);

  if ((host = localhost_name (endpoint)) != NULL)
    {
      /* Bounded: a resolver that does not answer in 2 s counts as "no". */
      self->resolve_timeout_id = g_timeout_add_seconds (2, resolve_timeout, self);
      {
        g_autoptr(GTask) task = g_task_new (self, self->cancellable, resolved, NULL);

        g_task_set_task_data (task, g_steal_pointer (&host), g_free);
        g_task_run_in_thread (task, resolve_thread);
      }
      return;
    }
  after_endpoint (self);
}

static void
start (StarlingInspector *self)
{
  g_autofree char *path = g_strdup_printf ("namespaces/%s/brokers/%s", self->ns, self->broker);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->resolve_timeout_id, g_source_remove);
  self->cancellable = g_cancellable_new ();
  gtk_label_set_text (self->status_label, _("Reading the broker…"));
  gtk_stack_set_visible_child_name (self->state_stack, "busy");
  gtk_spinner_start (self->state_spinner);
  st_api_client_request_async (self->api, "GET", path, NULL, NULL, self->cancellable, got_broker, self);
}

static void
on_connect_clicked (StarlingInspector *self)
{
  const char *typed = gtk_editable_get_text (GTK_EDITABLE (self->endpoint_entry));

  if (self->token == NULL && self->default_uri == NULL)
    {
      start (self);
      return;
    }
  connect_mqtt (self, *typed ? typed : self->default_uri);
}

static void
on_restart_clicked (StarlingInspector *self)
{
  start (self);
}

static void
on_filters_activate (StarlingInspector *self)
{
  apply_filters (self);
}

/* ---- Detail ---------------------------------------------------------------------- */

static void
append_property (GString *out, const char *name, const char *value)
{
  g_autofree char *escaped = g_markup_escape_text (value, -1);

  g_string_append_printf (out, "<b>%s</b>  %s\n", name, escaped);
}

static void
update_chart (StarlingInspector *self)
{
  const char *field = gtk_editable_get_text (GTK_EDITABLE (self->chart_field_entry));
  StarlingTopicNode *node = self->detail_node;
  guint n;

  g_array_set_size (self->chart->times, 0);
  g_array_set_size (self->chart->values, 0);
  if (node == NULL && self->detail_message)
    node = starling_topic_tree_lookup (self->tree, starling_message_get_topic (self->detail_message));
  n = node ? starling_topic_node_get_n_history (node) : 0;
  for (guint i = n > CHART_POINTS ? n - CHART_POINTS : 0; i < n; i++)
    {
      StarlingMessage *m = starling_topic_node_get_history (node, i);
      double v;
      gint64 t;

      if (!starling_payload_get_number (starling_message_get_payload (m), field, &v))
        continue;
      t = starling_message_get_time (m);
      g_array_append_val (self->chart->times, t);
      g_array_append_val (self->chart->values, v);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->chart), self->chart->values->len > 0);
  gtk_widget_queue_draw (GTK_WIDGET (self->chart));
}

static void
show_payload (StarlingInspector *self, StarlingMessage *m)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->payload_view);
  GBytes *payload = starling_message_get_payload (m);
  g_autofree char *text = NULL;
  GtkTextIter start;

  switch (gtk_drop_down_get_selected (self->format_dropdown))
    {
    case STARLING_PAYLOAD_JSON:
      {
        g_autoptr(GError) error = NULL;
        g_autofree char *markup = starling_payload_to_json_markup (payload, &error);

        if (markup)
          {
            gtk_text_buffer_set_text (buffer, "", 0);
            gtk_text_buffer_get_start_iter (buffer, &start);
            gtk_text_buffer_insert_markup (buffer, &start, markup, -1);
            return;
          }
        text = g_strdup (error->message);
      }
      break;
    case STARLING_PAYLOAD_HEX:
      text = starling_payload_to_hex_dump (payload);
      break;
    case STARLING_PAYLOAD_BASE64:
      text = starling_payload_to_base64 (payload);
      break;
    default:
      text = starling_payload_to_text (payload);
      break;
    }
  gtk_text_buffer_set_text (buffer, text, -1);
}

static void
update_detail (StarlingInspector *self)
{
  StarlingMessage *m = self->detail_message;
  StarlingTopicNode *node = self->detail_node;
  g_autoptr(GString) props = g_string_new (NULL);
  g_autoptr(GString) history = g_string_new (NULL);
  g_autofree char *meta = NULL;
  g_autofree char *time = NULL;
  const StarlingMessageProperties *p;

  if (node)
    m = starling_topic_node_get_last (node);
  gtk_widget_set_visible (GTK_WIDGET (self->delete_retained_button),
                          node ? starling_topic_node_get_retained (node)
                               : (m && starling_message_get_retain (m) && starling_message_get_size (m) > 0));
  if (node)
    gtk_label_set_text (self->detail_title, starling_topic_node_get_topic (node));
  else if (m)
    gtk_label_set_text (self->detail_title, starling_message_get_topic (m));

  /* Nothing to show yet: no empty payload card, no chart field. */
  gtk_widget_set_visible (GTK_WIDGET (self->payload_view), m != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->chart_header), m != NULL);
  if (m == NULL)
    {
      gtk_label_set_text (self->detail_meta, node ? _("No message on this topic itself") : "");
      gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->payload_view), "", 0);
      gtk_label_set_text (self->properties_label, "");
      gtk_label_set_text (self->history_label, "");
      update_chart (self);
      return;
    }

  time = starling_message_format_time (starling_message_get_time (m));
  meta = g_strdup_printf (_("%s · QoS %d%s · %zu bytes%s"), time, starling_message_get_qos (m),
                          starling_message_get_retain (m) ? _(" · retained") : "",
                          starling_message_get_size (m),
                          starling_message_get_outgoing (m) ? _(" · sent from here") : "");
  gtk_label_set_text (self->detail_meta, meta);
  show_payload (self, m);

  p = starling_message_get_properties (m);
  if (p->content_type)
    append_property (props, _("Content type"), p->content_type);
  if (p->payload_format >= 0)
    append_property (props, _("Payload format"), p->payload_format ? _("UTF-8 (1)") : _("Bytes (0)"));
  if (p->message_expiry >= 0)
    {
      g_autofree char *s = g_strdup_printf (_("%" PRId64 " s"), p->message_expiry);
      append_property (props, _("Message expiry"), s);
    }
  if (p->response_topic)
    append_property (props, _("Response topic"), p->response_topic);
  if (p->correlation_data)
    {
      g_autofree char *s = starling_payload_is_text (p->correlation_data)
        ? starling_payload_to_text (p->correlation_data)
        : starling_payload_preview (p->correlation_data, 64);
      append_property (props, _("Correlation data"), s);
    }
  for (guint i = 0; p->user_properties && i + 1 < p->user_properties->len; i += 2)
    {
      g_autofree char *s = g_strdup_printf ("%s = %s", (char *) g_ptr_array_index (p->user_properties, i),
                                            (char *) g_ptr_array_index (p->user_properties, i + 1));
      append_property (props, _("User property"), s);
    }
  if (p->subscription_ids && p->subscription_ids->len > 0)
    {
      g_autoptr(GString) ids = g_string_new (NULL);
      const char * const *filters = starling_mqtt_client_get_filters (self->mqtt);
      guint n_filters = filters ? g_strv_length ((char **) filters) : 0;

      /* The client numbers its filters from 1, in order. */
      for (guint i = 0; i < p->subscription_ids->len; i++)
        {
          guint32 id = g_array_index (p->subscription_ids, guint32, i);

          g_string_append_printf (ids, i ? ", %u" : "%u", id);
          if (id >= 1 && id <= n_filters)
            g_string_append_printf (ids, " (%s)", filters[id - 1]);
        }
      append_property (props, _("Subscription identifiers"), ids->str);
    }
  if (props->len == 0)
    g_string_append (props, _("<i>No MQTT 5 properties</i>"));
  else
    g_string_truncate (props, props->len - 1);
  gtk_label_set_markup (self->properties_label, props->str);

  /* The topic's recent messages, newest first. */
  if (node == NULL)
    node = starling_topic_tree_lookup (self->tree, starling_message_get_topic (m));
  if (node)
    {
      guint n = starling_topic_node_get_n_history (node);

      for (guint i = n; i > 0 && n - i < HISTORY_SHOWN; i--)
        {
          StarlingMessage *h = starling_topic_node_get_history (node, i - 1);
          g_autofree char *t = starling_message_format_time (starling_message_get_time (h));
          g_string_append_printf (history, "%s  %s\n", t, starling_message_get_preview (h));
        }
      if (history->len)
        g_string_truncate (history, history->len - 1);
    }
  gtk_label_set_text (self->history_label, history->str);
  update_chart (self);
}

static void
follow_node (StarlingInspector *self, StarlingTopicNode *node)
{
  if (self->detail_node)
    g_clear_signal_handler (&self->detail_node_id, self->detail_node);
  g_set_object (&self->detail_node, node);
  if (node)
    self->detail_node_id = g_signal_connect_swapped (node, "changed", G_CALLBACK (update_detail), self);
}

static void
on_tree_selected (StarlingInspector *self)
{
  GtkTreeListRow *row = gtk_single_selection_get_selected_item (self->tree_selection);

  if (row == NULL)
    return;
  g_clear_object (&self->detail_message);
  follow_node (self, gtk_tree_list_row_get_item (row));
  /* get_item returned a reference that follow_node took its own of. */
  g_object_unref (self->detail_node);
  update_detail (self);
}

static void
on_log_selected (StarlingInspector *self)
{
  StarlingMessage *m = gtk_single_selection_get_selected_item (self->log_selection);

  if (m == NULL)
    return;
  follow_node (self, NULL);
  g_set_object (&self->detail_message, m);
  update_detail (self);
}

static void
on_format_changed (StarlingInspector *self)
{
  update_detail (self);
}

static void
on_chart_field_changed (StarlingInspector *self)
{
  update_chart (self);
}

/* ---- Tree rows ------------------------------------------------------------------- */

static void
update_tree_row (GtkWidget *box, StarlingTopicNode *node)
{
  GtkWidget *name = gtk_widget_get_first_child (box);
  GtkWidget *retained = gtk_widget_get_next_sibling (name);
  GtkWidget *preview = gtk_widget_get_next_sibling (retained);
  GtkWidget *count = gtk_widget_get_next_sibling (preview);
  StarlingMessage *last = starling_topic_node_get_last (node);
  double rate = starling_topic_node_get_rate (node);
  g_autofree char *count_text = NULL;

  gtk_widget_set_visible (retained, starling_topic_node_get_retained (node));
  gtk_label_set_text (GTK_LABEL (preview), last ? starling_message_get_preview (last) : "");
  if (rate >= 0.05)
    count_text = g_strdup_printf ("%" G_GUINT64_FORMAT " · %.1f/s", starling_topic_node_get_count (node), rate);
  else
    count_text = g_strdup_printf ("%" G_GUINT64_FORMAT, starling_topic_node_get_count (node));
  gtk_label_set_text (GTK_LABEL (count), count_text);
}

static void
tree_setup (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  GtkWidget *expander = gtk_tree_expander_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *name = gtk_label_new (NULL);
  GtkWidget *retained = gtk_image_new_from_icon_name ("media-record-symbolic");
  GtkWidget *preview = gtk_label_new (NULL);
  GtkWidget *count = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_set_tooltip_text (retained, _("A retained message is held here"));
  gtk_widget_add_css_class (retained, "accent");
  gtk_label_set_xalign (GTK_LABEL (preview), 0);
  gtk_label_set_ellipsize (GTK_LABEL (preview), PANGO_ELLIPSIZE_END);
  gtk_label_set_width_chars (GTK_LABEL (preview), 6);
  gtk_label_set_max_width_chars (GTK_LABEL (preview), 18);
  gtk_widget_set_hexpand (preview, TRUE);
  gtk_widget_add_css_class (preview, "dim-label");
  gtk_widget_add_css_class (count, "dim-label");
  gtk_widget_add_css_class (count, "numeric");
  gtk_widget_add_css_class (count, "caption");
  gtk_box_append (GTK_BOX (box), name);
  gtk_box_append (GTK_BOX (box), retained);
  gtk_box_append (GTK_BOX (box), preview);
  gtk_box_append (GTK_BOX (box), count);
  gtk_tree_expander_set_child (GTK_TREE_EXPANDER (expander), box);
  gtk_list_item_set_child (item, expander);
}

static void
tree_bind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  GtkTreeListRow *row = gtk_list_item_get_item (item);
  GtkWidget *expander = gtk_list_item_get_child (item);
  GtkWidget *box = gtk_tree_expander_get_child (GTK_TREE_EXPANDER (expander));
  StarlingTopicNode *node = gtk_tree_list_row_get_item (row);
  const char *name = starling_topic_node_get_name (node);

  gtk_tree_expander_set_list_row (GTK_TREE_EXPANDER (expander), row);
  gtk_label_set_text (GTK_LABEL (gtk_widget_get_first_child (box)), *name ? name : _("(empty)"));
  gtk_widget_set_tooltip_text (box, starling_topic_node_get_topic (node));
  update_tree_row (box, node);
  /* The row's widget follows the node while bound; unbind disconnects. */
  g_signal_connect_object (node, "changed", G_CALLBACK (update_tree_row), box, G_CONNECT_SWAPPED);
  g_object_set_data_full (G_OBJECT (item), "starling-node", node, g_object_unref);
}

static void
tree_unbind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  GtkWidget *expander = gtk_list_item_get_child (item);
  GtkWidget *box = gtk_tree_expander_get_child (GTK_TREE_EXPANDER (expander));
  StarlingTopicNode *node = g_object_get_data (G_OBJECT (item), "starling-node");

  if (node)
    g_signal_handlers_disconnect_by_data (node, box);
  g_object_set_data (G_OBJECT (item), "starling-node", NULL);
  gtk_tree_expander_set_list_row (GTK_TREE_EXPANDER (expander), NULL);
}

/* ---- Traffic ------------------------------------------------------------------------ */

static void
update_count (StarlingInspector *self)
{
  g_autofree char *text = NULL;
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->shown_log));
  guint all = g_list_model_get_n_items (G_LIST_MODEL (self->log));

  if (self->paused)
    text = g_strdup_printf (ngettext ("Paused, %" PRIu64 " new message held",
                                      "Paused, %" PRIu64 " new messages held", self->n_held), self->n_held);
  else if (shown != all)
    text = g_strdup_printf (_("%u of %u"), shown, all);
  else
    text = g_strdup_printf ("%u", all);
  gtk_label_set_text (self->count_label, text);
}

static void
ingest (StarlingInspector *self, StarlingMessage **messages, guint n)
{
  starling_message_log_append (self->log, messages, n);
  starling_topic_tree_add (self->tree, messages, n);
  update_count (self);
}

void
starling_inspector_feed (StarlingInspector *self, StarlingMessage **messages, guint n_messages)
{
  g_return_if_fail (STARLING_IS_INSPECTOR (self));

  if (n_messages == 0)
    return;
  if (self->paused)
    {
      guint cap = starling_message_log_get_capacity (self->log);

      /* Held up to the log's size: older ones would fall out anyway. */
      for (guint i = 0; i < n_messages; i++)
        g_ptr_array_add (self->held, g_object_ref (messages[i]));
      if (self->held->len > cap)
        g_ptr_array_remove_range (self->held, 0, self->held->len - cap);
      self->n_held += n_messages;
      update_count (self);
      return;
    }
  ingest (self, messages, n_messages);
}

static void
on_messages (StarlingInspector *self, GPtrArray *batch)
{
  starling_inspector_feed (self, (StarlingMessage **) batch->pdata, batch->len);
}

static gboolean
tick (gpointer data)
{
  StarlingInspector *self = data;

  starling_topic_tree_tick (self->tree, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

void
starling_inspector_set_paused (StarlingInspector *self, gboolean paused)
{
  g_return_if_fail (STARLING_IS_INSPECTOR (self));

  if (gtk_toggle_button_get_active (self->pause_button) != paused)
    {
      gtk_toggle_button_set_active (self->pause_button, paused);
      return;
    }
  if (self->paused == paused)
    return;
  self->paused = paused;
  gtk_button_set_icon_name (GTK_BUTTON (self->pause_button),
                            paused ? "media-playback-start-symbolic" : "media-playback-pause-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->pause_button),
                               paused ? _("Resume") : _("Pause (messages are held until resumed)"));
  if (!paused && self->held->len > 0)
    {
      g_autoptr(GPtrArray) held = g_steal_pointer (&self->held);

      self->held = g_ptr_array_new_with_free_func (g_object_unref);
      ingest (self, (StarlingMessage **) held->pdata, held->len);
    }
  self->n_held = 0;
  update_count (self);
}

static void
on_pause_toggled (StarlingInspector *self)
{
  starling_inspector_set_paused (self, gtk_toggle_button_get_active (self->pause_button));
}

static void
on_newest_first_toggled (StarlingInspector *self)
{
  gboolean newest_first = gtk_toggle_button_get_active (self->newest_first_button);

  starling_message_log_set_newest_first (self->log, newest_first);
  starling_log_view_set_follow_bottom (self->log_view, !newest_first);
  if (self->settings)
    g_settings_set_boolean (self->settings, "inspector-newest-first", newest_first);
  /* Show the newest end, where the new messages appear. */
  {
    guint n = g_list_model_get_n_items (G_LIST_MODEL (self->log_selection));

    if (n > 0)
      starling_log_view_scroll_to (self->log_view, newest_first ? 0 : n - 1);
  }
}

static void
on_clear_clicked (StarlingInspector *self)
{
  follow_node (self, NULL);
  g_clear_object (&self->detail_message);
  starling_message_log_clear (self->log);
  starling_topic_tree_clear (self->tree);
  g_ptr_array_set_size (self->held, 0);
  self->n_held = 0;
  update_detail (self);
  gtk_label_set_text (self->detail_title, _("Select a topic or a message"));
  update_count (self);
}

/* ---- Filter ---------------------------------------------------------------------- */

static gboolean
log_filter_match (gpointer item, gpointer data)
{
  StarlingInspector *self = data;

  return starling_message_matches (item, self->filter_topic, self->filter_text);
}

void
starling_inspector_set_log_filter (StarlingInspector *self, const char *topic_pattern, const char *text)
{
  g_return_if_fail (STARLING_IS_INSPECTOR (self));

  g_free (self->filter_topic);
  self->filter_topic = g_strdup (topic_pattern);
  g_free (self->filter_text);
  self->filter_text = g_strdup (text);
  /* Without a filter the model passes items through untouched: at 20,000
   * messages a second that is worth not running a function for each. */
  if ((topic_pattern == NULL || *topic_pattern == '\0') && (text == NULL || *text == '\0'))
    gtk_filter_list_model_set_filter (self->shown_log, NULL);
  else if (gtk_filter_list_model_get_filter (self->shown_log) == NULL)
    gtk_filter_list_model_set_filter (self->shown_log, GTK_FILTER (self->log_filter));
  else
    gtk_filter_changed (GTK_FILTER (self->log_filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_count (self);
}

static void
on_log_filter_changed (StarlingInspector *self)
{
  starling_inspector_set_log_filter (self, gtk_editable_get_text (GTK_EDITABLE (self->topic_filter_entry)),
                                     gtk_editable_get_text (GTK_EDITABLE (self->text_filter_entry)));
}

/* ---- Delete retained, export ------------------------------------------------------ */

static void
delete_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GtkWidget) widget = data;
  g_autoptr(GError) error = NULL;
  int reason = 0;

  if (!starling_mqtt_client_publish_finish (STARLING_MQTT_CLIENT (source), result, &reason, &error))
    starling_toast_error (widget, _("Could not delete the retained message"), error);
  else
    starling_toast (widget, _("Retained message deleted"));
}

static void
publish_delete (StarlingInspector *self, const char *topic)
{
  g_autoptr(StarlingMessage) empty = starling_message_new (topic, NULL, 1, TRUE, TRUE, 0, NULL);

  starling_mqtt_client_publish_async (self->mqtt, empty, NULL, delete_done, g_object_ref (GTK_WIDGET (self)));
}

static void
on_delete_response (AdwMessageDialog *dialog, const char *response, gpointer data)
{
  StarlingInspector *self = data;

  if (g_strcmp0 (response, "delete") == 0)
    publish_delete (self, g_object_get_data (G_OBJECT (dialog), "topic"));
  g_object_unref (self);
}

void
starling_inspector_delete_retained (StarlingInspector *self, const char *topic, gboolean confirm)
{
  GtkWidget *dialog;
  GtkRoot *root;

  g_return_if_fail (STARLING_IS_INSPECTOR (self));
  g_return_if_fail (topic != NULL);

  if (!confirm)
    {
      publish_delete (self, topic);
      return;
    }
  root = gtk_widget_get_root (GTK_WIDGET (self));
  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                   _("Delete the retained message?"), NULL);
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog),
                                  _("The broker will stop giving “%s” to new subscribers. This publishes an empty retained message to the topic."),
                                  topic);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "delete", _("_Delete"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "delete", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "topic", g_strdup (topic), g_free);
  g_signal_connect (dialog, "response", G_CALLBACK (on_delete_response), g_object_ref (self));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_delete_retained_clicked (StarlingInspector *self)
{
  const char *topic = self->detail_node ? starling_topic_node_get_topic (self->detail_node)
                    : self->detail_message ? starling_message_get_topic (self->detail_message) : NULL;

  if (topic)
    starling_inspector_delete_retained (self, topic, TRUE);
}

gboolean
starling_inspector_export (StarlingInspector *self, GFile *file, GError **error)
{
  g_autoptr(GFileOutputStream) out = NULL;

  g_return_val_if_fail (STARLING_IS_INSPECTOR (self), FALSE);

  out = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION, NULL, error);
  if (out == NULL)
    return FALSE;
  if (!starling_message_log_export (self->log, G_OUTPUT_STREAM (out), self->filter_topic, self->filter_text, NULL, error))
    return FALSE;
  return g_output_stream_close (G_OUTPUT_STREAM (out), NULL, error);
}

static void
on_export_response (GtkNativeDialog *native, int response, gpointer data)
{
  StarlingInspector *self = data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));
      g_autoptr(GError) error = NULL;

      if (starling_inspector_export (self, file, &error))
        starling_toast (GTK_WIDGET (self), _("Log exported"));
      else
        starling_toast_error (GTK_WIDGET (self), _("Could not export the log"), error);
    }
  g_object_unref (native);
  g_object_unref (self);
}

static void
on_export_clicked (StarlingInspector *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkFileChooserNative *native =
    gtk_file_chooser_native_new (_("Export the Log"), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                 GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  g_autofree char *name = g_strdup_printf ("%s-%s.jsonl", self->broker, self->ns);

  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (native), name);
  g_signal_connect (native, "response", G_CALLBACK (on_export_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

/* ---- Public ------------------------------------------------------------------------ */

StarlingTopicTree *
starling_inspector_get_tree (StarlingInspector *self)
{
  g_return_val_if_fail (STARLING_IS_INSPECTOR (self), NULL);
  return self->tree;
}

StarlingMessageLog *
starling_inspector_get_log (StarlingInspector *self)
{
  g_return_val_if_fail (STARLING_IS_INSPECTOR (self), NULL);
  return self->log;
}

GListModel *
starling_inspector_get_shown_log (StarlingInspector *self)
{
  g_return_val_if_fail (STARLING_IS_INSPECTOR (self), NULL);
  return G_LIST_MODEL (self->shown_log);
}

StarlingMqttClient *
starling_inspector_get_client (StarlingInspector *self)
{
  g_return_val_if_fail (STARLING_IS_INSPECTOR (self), NULL);
  return self->mqtt;
}

GtkWidget *
starling_inspector_get_publish_pane (StarlingInspector *self)
{
  g_return_val_if_fail (STARLING_IS_INSPECTOR (self), NULL);
  return self->publish_pane;
}

void
starling_inspector_set_filters (StarlingInspector *self, const char *filters)
{
  g_return_if_fail (STARLING_IS_INSPECTOR (self));

  gtk_editable_set_text (GTK_EDITABLE (self->filters_entry), filters);
  apply_filters (self);
}

void
starling_inspector_select_topic (StarlingInspector *self, const char *topic)
{
  StarlingTopicNode *node;
  guint n;

  g_return_if_fail (STARLING_IS_INSPECTOR (self));

  node = starling_topic_tree_lookup (self->tree, topic);
  if (node == NULL)
    return;
  /* Expand the ancestors so the row exists, then select it. */
  n = g_list_model_get_n_items (G_LIST_MODEL (self->tree_model));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GtkTreeListRow) row = gtk_tree_list_model_get_row (self->tree_model, i);
      g_autoptr(StarlingTopicNode) at = gtk_tree_list_row_get_item (row);
      const char *t = starling_topic_node_get_topic (at);

      if (at == node)
        {
          gtk_single_selection_set_selected (self->tree_selection, i);
          on_tree_selected (self);
          return;
        }
      if (g_str_has_prefix (topic, t) && topic[strlen (t)] == '/')
        {
          gtk_tree_list_row_set_expanded (row, TRUE);
          n = g_list_model_get_n_items (G_LIST_MODEL (self->tree_model));
        }
    }
}

static void
starling_inspector_dispose (GObject *object)
{
  StarlingInspector *self = (StarlingInspector *) object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->resolve_timeout_id, g_source_remove);
  follow_node (self, NULL);
  g_clear_object (&self->detail_message);
  if (self->mqtt)
    g_signal_handlers_disconnect_by_data (self->mqtt, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), STARLING_TYPE_INSPECTOR);
  g_clear_object (&self->mqtt);
  g_clear_object (&self->tree_selection);
  g_clear_object (&self->tree_model);
  g_clear_object (&self->log_selection);
  g_clear_object (&self->shown_log);
  g_clear_object (&self->log_filter);
  g_clear_object (&self->tree);
  g_clear_object (&self->log);
  g_clear_object (&self->api);
  g_clear_object (&self->settings);
  if (self->ca_file)
    {
      g_unlink (self->ca_file);
      g_clear_pointer (&self->ca_file, g_free);
    }
  G_OBJECT_CLASS (starling_inspector_parent_class)->dispose (object);
}

static void
starling_inspector_finalize (GObject *object)
{
  StarlingInspector *self = (StarlingInspector *) object;

  g_free (self->ns);
  g_free (self->broker);
  g_free (self->client_id);
  g_free (self->token);
  g_free (self->default_uri);
  g_free (self->endpoint);
  g_free (self->filter_topic);
  g_free (self->filter_text);
  g_ptr_array_unref (self->held);
  G_OBJECT_CLASS (starling_inspector_parent_class)->finalize (object);
}

static void
starling_inspector_class_init (StarlingInspectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = starling_inspector_dispose;
  object_class->finalize = starling_inspector_finalize;

  g_type_ensure (STARLING_TYPE_LOG_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/starlingmq/Starling/starling-inspector.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, StarlingInspector, name)
  CHILD (state_stack);
  CHILD (state_spinner);
  CHILD (state_icon);
  CHILD (status_label);
  CHILD (endpoint_entry);
  CHILD (verify_check);
  CHILD (filters_entry);
  CHILD (pause_button);
  CHILD (newest_first_button);
  CHILD (publish_toggle);
  CHILD (outer_paned);
  CHILD (tree_view);
  CHILD (topic_filter_entry);
  CHILD (text_filter_entry);
  CHILD (count_label);
  CHILD (log_view);
  CHILD (detail_box);
  CHILD (detail_title);
  CHILD (delete_retained_button);
  CHILD (format_dropdown);
  CHILD (detail_meta);
  CHILD (payload_view);
  CHILD (properties_label);
  CHILD (chart_header);
  CHILD (chart_field_entry);
  CHILD (history_label);
#undef CHILD
  gtk_widget_class_bind_template_callback (widget_class, on_connect_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_restart_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_filters_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_pause_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_newest_first_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_clear_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_export_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_log_filter_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_delete_retained_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_format_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_chart_field_changed);
}

static void
starling_inspector_init (StarlingInspector *self)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = source ? g_settings_schema_source_lookup (source, APP_ID, TRUE) : NULL;
  GtkListItemFactory *factory;
  guint capacity = STARLING_MESSAGE_LOG_DEFAULT_CAPACITY;
  gboolean newest_first = FALSE;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->held = g_ptr_array_new_with_free_func (g_object_unref);
  self->cancellable = g_cancellable_new ();

  /* The settings may be missing from an older compiled schema. */
  if (schema && g_settings_schema_has_key (schema, "inspector-log-size") &&
      g_settings_schema_has_key (schema, "inspector-newest-first"))
    {
      self->settings = g_settings_new (APP_ID);
      capacity = g_settings_get_uint (self->settings, "inspector-log-size");
      newest_first = g_settings_get_boolean (self->settings, "inspector-newest-first");
    }

  self->mqtt = starling_mqtt_client_new ();
  g_signal_connect_swapped (self->mqtt, "messages", G_CALLBACK (on_messages), self);
  g_signal_connect_swapped (self->mqtt, "notify::status", G_CALLBACK (update_state), self);
  g_signal_connect_swapped (self->mqtt, "notify::state", G_CALLBACK (update_state), self);
  g_signal_connect_swapped (self->mqtt, "notify::state", G_CALLBACK (on_state), self);

  self->tree = starling_topic_tree_new (STARLING_TOPIC_TREE_DEFAULT_HISTORY);
  self->log = starling_message_log_new (capacity);
  starling_message_log_set_newest_first (self->log, newest_first);
  gtk_toggle_button_set_active (self->newest_first_button, newest_first);

  self->tree_model = gtk_tree_list_model_new (g_object_ref (starling_topic_tree_get_model (self->tree)),
                                              FALSE, FALSE, starling_topic_tree_create_children, NULL, NULL);
  self->tree_selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->tree_model)));
  gtk_single_selection_set_autoselect (self->tree_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->tree_selection, TRUE);
  gtk_single_selection_set_selected (self->tree_selection, GTK_INVALID_LIST_POSITION);
  g_signal_connect_swapped (self->tree_selection, "notify::selected-item", G_CALLBACK (on_tree_selected), self);
  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (tree_setup), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (tree_bind), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (tree_unbind), NULL);
  gtk_list_view_set_factory (self->tree_view, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->tree_view, GTK_SELECTION_MODEL (self->tree_selection));

  self->log_filter = gtk_custom_filter_new (log_filter_match, self, NULL);
  self->shown_log = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (self->log)), NULL);
  self->log_selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->shown_log)));
  gtk_single_selection_set_autoselect (self->log_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->log_selection, TRUE);
  gtk_single_selection_set_selected (self->log_selection, GTK_INVALID_LIST_POSITION);
  g_signal_connect_swapped (self->log_selection, "notify::selected-item", G_CALLBACK (on_log_selected), self);
  starling_log_view_set_model (self->log_view, GTK_SELECTION_MODEL (self->log_selection));
  starling_log_view_set_follow_bottom (self->log_view, !newest_first);
  if (self->settings && g_settings_schema_has_key (schema, "inspector-topic-width"))
    g_settings_bind (self->settings, "inspector-topic-width", self->log_view, "topic-width", G_SETTINGS_BIND_DEFAULT);

  self->chart = g_object_new (STARLING_TYPE_INSPECTOR_CHART, NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->chart), FALSE);
  gtk_box_insert_child_after (self->detail_box, GTK_WIDGET (self->chart), GTK_WIDGET (self->chart_header));

  self->publish_pane = starling_publish_pane_new (self->mqtt, self->tree);
  gtk_paned_set_end_child (self->outer_paned, self->publish_pane);
  g_object_bind_property (self->publish_toggle, "active", self->publish_pane, "visible", G_BINDING_SYNC_CREATE);

  self->tick_id = g_timeout_add_seconds (1, tick, self);
  update_count (self);
  update_detail (self);
}

GtkWidget *
starling_inspector_new (StApiClient *client, const char *ns, const char *broker)
{
  StarlingInspector *self;

  g_return_val_if_fail (client == NULL || ST_IS_API_CLIENT (client), NULL);
  g_return_val_if_fail (ns != NULL && broker != NULL, NULL);

  self = g_object_new (STARLING_TYPE_INSPECTOR, NULL);
  self->ns = g_strdup (ns);
  self->broker = g_strdup (broker);
  /* Without an API client (the benchmark) nothing connects by itself. */
  if (client)
    {
      self->api = g_object_ref (client);
      start (self);
    }
  return GTK_WIDGET (self);
}
