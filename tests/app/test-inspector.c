/* The inspector and the publish pane with real widgets, an in-process
 * StServer on ephemeral ports, Paho inside the app, and mosquitto's clients
 * outside it: traffic from mosquitto_pub shows in the tree and the log with
 * its properties; what the pane publishes reaches mosquitto_sub with its
 * QoS, retain flag and properties; a retained message is deleted after
 * confirmation; pause holds updates back.  Screenshots go to
 * <build>/tests/app/screenshots/. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "app-test.h"
#include "client/st-api-client.h"
#include "st-server.h"
#include "starling-inspector.h"
#include "starling-log-view.h"
#include "starling-publish-pane.h"
#include "test-server.h"

typedef struct {
  TestServer      *server;
  StApiClient     *client;
  guint16          mqtts_port;
  char            *ca_file;
  char            *pub_id;
  char            *pub_token;
  char            *sub_id;
  char            *sub_token;
  GtkWindow       *window;
  AdwToastOverlay *overlay;
  StarlingInspector *inspector;
} Fixture;

static void
settle (guint ms)
{
  app_test_settle (ms);
}

typedef gboolean (*Condition) (Fixture *f, gconstpointer data);

/* Runs the main loop until cond holds, at most timeout_ms. */
static gboolean
wait_for (Fixture *f, Condition cond, gconstpointer data, guint timeout_ms)
{
  gint64 until = g_get_monotonic_time () + timeout_ms * 1000;

  while (g_get_monotonic_time () < until)
    {
      if (cond (f, data))
        return TRUE;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (5000);
    }
  return cond (f, data);
}

static JsonNode *
api (Fixture *f, const char *method, const char *path, const char *const *query, const char *body)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body_node = body ? json_from_string (body, NULL) : NULL;
  JsonNode *result = st_api_client_request (f->client, method, path, query, body_node, NULL, &error);

  g_assert_no_error (error);
  return result;
}

static void
issue (Fixture *f, const char *client_id, char **id, char **token)
{
  const char *query[] = { "clientid", client_id, "expiration", "3600", NULL };
  g_autoptr(JsonNode) node = api (f, "GET", "namespaces/home/brokers/sensors/credentials", query, NULL);

  *id = g_strdup (client_id);
  *token = g_strdup (json_object_get_string_member (json_node_get_object (node), client_id));
  g_assert_nonnull (*token);
}

static gboolean
connected (Fixture *f, gconstpointer data)
{
  return starling_mqtt_client_get_state (starling_inspector_get_client (f->inspector)) == STARLING_MQTT_STATE_CONNECTED;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autofree char *data_dir = g_build_filename (g_get_user_data_dir (), "starling-test", NULL);
  g_autofree char *ca = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ns = NULL;
  g_autoptr(JsonNode) broker = NULL;

  f->server = test_server_start (data_dir, FALSE);
  f->mqtts_port = f->server->mqtts_port;
  f->client = st_api_client_new (f->server->api_url, f->server->token, NULL);

  ns = api (f, "POST", "namespaces", NULL, "{\"name\": \"home\"}");
  broker = api (f, "POST", "namespaces/home/brokers", NULL, "{\"name\": \"sensors\"}");
  issue (f, "pub-1", &f->pub_id, &f->pub_token);
  issue (f, "sub-1", &f->sub_id, &f->sub_token);
  ca = st_api_client_get_ca (f->client, NULL, &error);
  g_assert_no_error (error);
  f->ca_file = g_build_filename (g_get_user_data_dir (), "test-ca.pem", NULL);
  g_file_set_contents (f->ca_file, ca, -1, &error);
  g_assert_no_error (error);

  f->window = GTK_WINDOW (adw_window_new ());
  gtk_window_set_default_size (f->window, 1280, 800);
  f->overlay = ADW_TOAST_OVERLAY (adw_toast_overlay_new ());
  adw_window_set_content (ADW_WINDOW (f->window), GTK_WIDGET (f->overlay));
  f->inspector = STARLING_INSPECTOR (starling_inspector_new (f->client, "home", "sensors"));
  adw_toast_overlay_set_child (f->overlay, GTK_WIDGET (f->inspector));
  gtk_window_present (f->window);

  if (!wait_for (f, connected, NULL, 15000))
    g_error ("the inspector did not connect: %s",
             starling_mqtt_client_get_status (starling_inspector_get_client (f->inspector)));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  gtk_window_destroy (f->window);
  settle (200);
  g_clear_object (&f->client);
  g_clear_pointer (&f->server, test_server_free);
  g_unlink (f->ca_file);
  g_free (f->ca_file);
  g_free (f->pub_id);
  g_free (f->pub_token);
  g_free (f->sub_id);
  g_free (f->sub_token);
}

/* mosquitto_pub with the publisher's credential; extra: NULL-terminated. */
static void
mosquitto_pub (Fixture *f, const char *topic, const char *payload, const char *const *extra)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autofree char *port = g_strdup_printf ("%u", f->mqtts_port);
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_strv_builder_add_many (b, "mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", port,
                           "--cafile", f->ca_file, "-i", f->pub_id, "-u", f->pub_id, "-P", f->pub_token,
                           "-t", topic, "-m", payload, NULL);
  if (extra)
    g_strv_builder_addv (b, (const char **) extra);
  argv = g_strv_builder_end (b);
  g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("mosquitto_pub failed: %s", err);
}

/* mosquitto_sub for one message (or none within wait_s), its -F line. */
static char *
mosquitto_sub (Fixture *f, const char *topic, const char *wait_s, gboolean retained_only)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autofree char *port = g_strdup_printf ("%u", f->mqtts_port);
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status = 0;

  g_strv_builder_add_many (b, "mosquitto_sub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", port,
                           "--cafile", f->ca_file, "-i", f->sub_id, "-u", f->sub_id, "-P", f->sub_token,
                           "-t", topic, "-q", "2", "-C", "1", "-W", wait_s,
                           "-F", "%t|%q|%r|%C|%E|%F|%R|%D|%P|%p", NULL);
  if (retained_only)
    g_strv_builder_add (b, "--retained-only");
  argv = g_strv_builder_end (b);
  g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                &out, NULL, &status, &error);
  g_assert_no_error (error);
  return g_strchomp (out);
}

static gboolean
topic_seen (Fixture *f, gconstpointer topic)
{
  StarlingTopicNode *node = starling_topic_tree_lookup (starling_inspector_get_tree (f->inspector), topic);

  return node != NULL && starling_topic_node_get_last (node) != NULL;
}

static gboolean
retained_gone (Fixture *f, gconstpointer topic)
{
  StarlingTopicNode *node = starling_topic_tree_lookup (starling_inspector_get_tree (f->inspector), topic);

  return node != NULL && !starling_topic_node_get_retained (node);
}

static StarlingMessage *
find_in_log (Fixture *f, const char *topic)
{
  GListModel *shown = starling_inspector_get_shown_log (f->inspector);

  for (guint i = g_list_model_get_n_items (shown); i > 0; i--)
    {
      g_autoptr(StarlingMessage) m = g_list_model_get_item (shown, i - 1);
      if (strcmp (starling_message_get_topic (m), topic) == 0)
        return m;
    }
  return NULL;
}

static void
test_traffic_in (Fixture *f, gconstpointer data)
{
  const char *props[] = { "-q", "1",
                          "-D", "publish", "content-type", "application/json",
                          "-D", "publish", "user-property", "unit", "celsius",
                          "-D", "publish", "message-expiry-interval", "300",
                          "-D", "publish", "payload-format-indicator", "1",
                          "-D", "publish", "response-topic", "home/replies",
                          "-D", "publish", "correlation-data", "req-42",
                          NULL };
  const char *retained[] = { "-r", "-q", "0", NULL };
  StarlingTopicTree *tree = starling_inspector_get_tree (f->inspector);
  StarlingTopicNode *node, *kitchen;
  StarlingMessage *m, *logged;
  const StarlingMessageProperties *p;

  mosquitto_pub (f, "home/kitchen/temp", "{\"temp\": 21.5, \"rh\": 40}", props);
  g_assert_true (wait_for (f, topic_seen, "home/kitchen/temp", 10000));
  mosquitto_pub (f, "home/hall/light", "ON", retained);
  g_assert_true (wait_for (f, topic_seen, "home/hall/light", 10000));
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *value = g_strdup_printf ("{\"temp\": %u.25, \"rh\": 40}", 18 + i * i % 7);
      mosquitto_pub (f, "home/kitchen/temp", value, NULL);
    }
  mosquitto_pub (f, "garden/soil", "\xff\xfe\x01", NULL);
  g_assert_true (wait_for (f, topic_seen, "garden/soil", 10000));

  /* The tree: levels, counts, retained marker. */
  kitchen = starling_topic_tree_lookup (tree, "home/kitchen");
  g_assert_nonnull (kitchen);
  node = starling_topic_tree_lookup (tree, "home/kitchen/temp");
  g_assert_true (starling_topic_node_get_parent (node) == kitchen);
  g_assert_cmpuint (starling_topic_node_get_count (starling_topic_tree_lookup (tree, "home")), ==, 7);
  g_assert_cmpuint (starling_topic_node_get_own_count (node), ==, 6);
  g_assert_true (starling_topic_node_get_retained (starling_topic_tree_lookup (tree, "home/hall/light")));
  g_assert_false (starling_topic_node_get_retained (node));
  g_assert_cmpuint (starling_topic_tree_get_n_topics (tree), ==, 3);

  /* The first message's properties, as Paho got them. */
  m = starling_topic_node_get_history (node, 0);
  p = starling_message_get_properties (m);
  g_assert_cmpint (starling_message_get_qos (m), ==, 1);
  g_assert_false (starling_message_get_retain (m));
  g_assert_cmpstr (p->content_type, ==, "application/json");
  g_assert_cmpint (p->payload_format, ==, 1);
  /* The broker sends what is left of the expiry. */
  g_assert_cmpint (p->message_expiry, <=, 300);
  g_assert_cmpint (p->message_expiry, >=, 280);
  g_assert_cmpstr (p->response_topic, ==, "home/replies");
  g_assert_nonnull (p->correlation_data);
  g_assert_cmpmem (g_bytes_get_data (p->correlation_data, NULL), g_bytes_get_size (p->correlation_data), "req-42", 6);
  g_assert_nonnull (p->user_properties);
  g_assert_cmpuint (p->user_properties->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (p->user_properties, 0), ==, "unit");
  g_assert_cmpstr (g_ptr_array_index (p->user_properties, 1), ==, "celsius");
  /* The inspector's one filter ("#") has subscription identifier 1. */
  g_assert_nonnull (p->subscription_ids);
  g_assert_cmpuint (p->subscription_ids->len, ==, 1);
  g_assert_cmpuint (g_array_index (p->subscription_ids, guint32, 0), ==, 1);

  /* The log has them, in order, and its filter works. */
  g_assert_cmpuint (g_list_model_get_n_items (starling_inspector_get_shown_log (f->inspector)), ==, 8);
  logged = find_in_log (f, "home/hall/light");
  g_assert_nonnull (logged);
  g_assert_true (starling_message_get_retain (logged));
  starling_inspector_set_log_filter (f->inspector, "home/+/temp", "21.5");
  g_assert_cmpuint (g_list_model_get_n_items (starling_inspector_get_shown_log (f->inspector)), ==, 1);
  starling_inspector_set_log_filter (f->inspector, "", "");
  g_assert_cmpuint (g_list_model_get_n_items (starling_inspector_get_shown_log (f->inspector)), ==, 8);

  /* Export: one JSON object a line. */
  {
    g_autofree char *path = g_build_filename (g_get_user_data_dir (), "log.jsonl", NULL);
    g_autoptr(GFile) file = g_file_new_for_path (path);
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    g_assert_true (starling_inspector_export (f->inspector, file, &error));
    g_assert_no_error (error);
    g_file_get_contents (path, &text, NULL, &error);
    g_assert_no_error (error);
    lines = g_strsplit (text, "\n", -1);
    g_assert_cmpuint (g_strv_length (lines), ==, 9);
    g_assert_nonnull (strstr (lines[0], "\"content_type\":\"application/json\""));
    g_assert_nonnull (strstr (lines[7], "\"payload_base64\":\"//4B\""));
  }

  /* The detail view with a JSON chart, for the screenshot. */
  starling_inspector_select_topic (f->inspector, "home/kitchen/temp");
  {
    GtkEntry *field = GTK_ENTRY (gtk_widget_get_template_child (GTK_WIDGET (f->inspector),
                                                                 STARLING_TYPE_INSPECTOR, "chart_field_entry"));
    GtkDropDown *format = GTK_DROP_DOWN (gtk_widget_get_template_child (GTK_WIDGET (f->inspector),
                                                                         STARLING_TYPE_INSPECTOR, "format_dropdown"));
    StarlingLogView *log_view = STARLING_LOG_VIEW (gtk_widget_get_template_child (GTK_WIDGET (f->inspector),
                                                                                   STARLING_TYPE_INSPECTOR, "log_view"));
    gtk_editable_set_text (GTK_EDITABLE (field), "temp");
    gtk_drop_down_set_selected (format, 1);
    /* The first message, with every property, in full. */
    gtk_single_selection_set_selected (GTK_SINGLE_SELECTION (starling_log_view_get_model (log_view)), 0);
  }
  app_test_screenshot (GTK_WIDGET (f->window), "inspector");
}

typedef struct {
  StarlingMessage *message;
  int              reason;
  char            *error;
  gboolean         done;
} Published;

static void
on_published (StarlingPublishPane *pane, StarlingMessage *message, int reason, const char *error, Published *p)
{
  g_set_object (&p->message, message);
  p->reason = reason;
  g_free (p->error);
  p->error = g_strdup (error);
  p->done = TRUE;
}

static gboolean
published (Fixture *f, gconstpointer data)
{
  return ((const Published *) data)->done;
}

static void
test_publish_pane (Fixture *f, gconstpointer data)
{
  StarlingPublishPane *pane = STARLING_PUBLISH_PANE (starling_inspector_get_publish_pane (f->inspector));
  g_autoptr(StarlingMessageProperties) props = starling_message_properties_new ();
  g_autoptr(StarlingMessage) form = NULL;
  g_autoptr(GBytes) payload = g_bytes_new_static ("{\"on\": true}", 12);
  GtkToggleButton *toggle = GTK_TOGGLE_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (f->inspector),
                                                                              STARLING_TYPE_INSPECTOR, "publish_toggle"));
  Published result = { 0 };
  g_autofree char *line = NULL;
  g_auto(GStrv) fields = NULL;

  gtk_toggle_button_set_active (toggle, TRUE);
  g_signal_connect (pane, "published", G_CALLBACK (on_published), &result);

  props->content_type = g_strdup ("application/json");
  props->response_topic = g_strdup ("home/replies");
  props->correlation_data = g_bytes_new ("c-7", 3);
  props->message_expiry = 600;
  props->payload_format = 1;
  starling_message_properties_add_user_property (props, "source", "pane");
  form = starling_message_new ("home/lamp/set", payload, 1, TRUE, TRUE, 0, g_steal_pointer (&props));
  starling_publish_pane_set_message (pane, form, STARLING_PAYLOAD_JSON);

  starling_publish_pane_publish (pane);
  g_assert_true (wait_for (f, published, &result, 10000));
  g_assert_null (result.error);
  g_assert_cmpint (result.reason, ==, 0);
  g_assert_nonnull (strstr (starling_publish_pane_get_result (pane), "PUBACK"));
  g_assert_nonnull (strstr (starling_publish_pane_get_result (pane), "Success (0x00)"));
  /* The inspector saw it too (no-local is off). */
  g_assert_true (wait_for (f, topic_seen, "home/lamp/set", 10000));

  /* mosquitto_sub gets it as the retained message, with everything. */
  line = mosquitto_sub (f, "home/lamp/set", "10", FALSE);
  fields = g_strsplit (line, "|", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 10);
  g_assert_cmpstr (fields[0], ==, "home/lamp/set");
  g_assert_cmpstr (fields[1], ==, "1");
  g_assert_cmpstr (fields[2], ==, "1");
  g_assert_cmpstr (fields[3], ==, "application/json");
  g_assert_cmpint (atoi (fields[4]), <=, 600);
  g_assert_cmpint (atoi (fields[4]), >=, 580);
  g_assert_cmpstr (fields[5], ==, "1");
  g_assert_cmpstr (fields[6], ==, "home/replies");
  g_assert_cmpstr (fields[7], ==, "c-7");
  g_assert_cmpstr (fields[8], ==, "source:pane");
  g_assert_cmpstr (fields[9], ==, "{\"on\": true}");

  /* A wrong form is refused with the reason, and nothing is sent. */
  result.done = FALSE;
  {
    GtkDropDown *format = GTK_DROP_DOWN (gtk_widget_get_template_child (GTK_WIDGET (pane),
                                                                         STARLING_TYPE_PUBLISH_PANE, "format_dropdown"));
    GtkTextView *view = GTK_TEXT_VIEW (gtk_widget_get_template_child (GTK_WIDGET (pane),
                                                                       STARLING_TYPE_PUBLISH_PANE, "payload_view"));
    gtk_text_buffer_set_text (gtk_text_view_get_buffer (view), "{\"on\": tru", -1);
    g_assert_cmpuint (gtk_drop_down_get_selected (format), ==, 1);
    starling_publish_pane_publish (pane);
    g_assert_nonnull (strstr (starling_publish_pane_get_result (pane), "Not JSON"));
    settle (300);
    g_assert_false (result.done);
    gtk_text_buffer_set_text (gtk_text_view_get_buffer (view), "{\"on\": true, \"level\": 80}", -1);
  }
  /* A favourite goes to GSettings and shows in the list; loading it
   * fills the form again. */
  {
    GtkButton *star = GTK_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (pane), STARLING_TYPE_PUBLISH_PANE,
                                                                  "favourite_button"));
    GtkWidget *list = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (pane), STARLING_TYPE_PUBLISH_PANE,
                                                                  "favourites_list"));
    GtkEntry *topic = GTK_ENTRY (gtk_widget_get_template_child (GTK_WIDGET (pane), STARLING_TYPE_PUBLISH_PANE,
                                                                 "topic_entry"));
    g_autoptr(GSettings) settings = g_settings_new ("io.github.starlingmq.Starling");
    g_auto(GStrv) favourites = NULL;
    g_autoptr(StarlingMessage) built = NULL;
    g_autoptr(GError) error = NULL;

    g_signal_emit_by_name (star, "clicked");
    favourites = g_settings_get_strv (settings, "publish-favourites");
    g_assert_cmpuint (g_strv_length (favourites), ==, 1);
    g_assert_nonnull (strstr (favourites[0], "\"topic\":\"home/lamp/set\""));
    g_assert_nonnull (strstr (favourites[0], "level"));
    g_assert_nonnull (gtk_widget_get_first_child (list));

    gtk_editable_set_text (GTK_EDITABLE (topic), "somewhere/else");
    starling_publish_pane_set_message (pane, form, STARLING_PAYLOAD_TEXT);
    gtk_editable_set_text (GTK_EDITABLE (topic), "somewhere/else");
    /* The row's first button loads it. */
    {
      GtkWidget *row_box = gtk_list_box_row_get_child (GTK_LIST_BOX_ROW (gtk_widget_get_first_child (list)));
      GtkWidget *load = gtk_widget_get_next_sibling (gtk_widget_get_first_child (row_box));
      g_signal_emit_by_name (load, "clicked");
    }
    g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (topic)), ==, "home/lamp/set");
    built = starling_publish_pane_build_message (pane, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (starling_message_get_properties (built)->content_type, ==, "application/json");
    g_assert_true (starling_message_get_retain (built));
  }
  app_test_screenshot (GTK_WIDGET (f->window), "publish-pane");
  g_clear_object (&result.message);
  g_free (result.error);
}

static GtkWidget *
find_dialog (void)
{
  g_autoptr(GList) windows = gtk_window_list_toplevels ();

  for (GList *l = windows; l; l = l->next)
    if (ADW_IS_MESSAGE_DIALOG (l->data) && gtk_widget_get_visible (l->data))
      return l->data;
  return NULL;
}

static gboolean
dialog_shown (Fixture *f, gconstpointer data)
{
  return find_dialog () != NULL;
}

static void
test_delete_retained (Fixture *f, gconstpointer data)
{
  const char *retained[] = { "-r", "-q", "1", NULL };
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  GtkWidget *dialog;

  mosquitto_pub (f, "home/door/state", "closed", retained);
  g_assert_true (wait_for (f, topic_seen, "home/door/state", 10000));
  g_assert_true (starling_topic_node_get_retained (
    starling_topic_tree_lookup (starling_inspector_get_tree (f->inspector), "home/door/state")));
  before = mosquitto_sub (f, "home/door/state", "5", TRUE);
  g_assert_true (g_str_has_suffix (before, "|closed"));

  /* Cancelling the confirmation deletes nothing. */
  starling_inspector_delete_retained (f->inspector, "home/door/state", TRUE);
  g_assert_true (wait_for (f, dialog_shown, NULL, 5000));
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (find_dialog ()), "cancel");
  settle (500);
  g_assert_false (retained_gone (f, "home/door/state"));

  starling_inspector_delete_retained (f->inspector, "home/door/state", TRUE);
  g_assert_true (wait_for (f, dialog_shown, NULL, 5000));
  dialog = find_dialog ();
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "delete");
  /* The empty retained message comes back through the subscription. */
  g_assert_true (wait_for (f, retained_gone, "home/door/state", 10000));
  after = mosquitto_sub (f, "home/door/state", "2", TRUE);
  g_assert_cmpstr (after, ==, "");
}

static void
test_pause (Fixture *f, gconstpointer data)
{
  StarlingMessageLog *log = starling_inspector_get_log (f->inspector);
  guint n;

  mosquitto_pub (f, "pause/before", "1", NULL);
  g_assert_true (wait_for (f, topic_seen, "pause/before", 10000));
  n = g_list_model_get_n_items (G_LIST_MODEL (log));

  starling_inspector_set_paused (f->inspector, TRUE);
  mosquitto_pub (f, "pause/during", "2", NULL);
  mosquitto_pub (f, "pause/during", "3", NULL);
  settle (1500);
  g_assert_false (topic_seen (f, "pause/during"));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, n);

  /* Resuming shows what was held, in order. */
  starling_inspector_set_paused (f->inspector, FALSE);
  g_assert_true (topic_seen (f, "pause/during"));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, n + 2);
  {
    GBytes *last = starling_message_get_payload (starling_message_log_peek (log, n + 1));
    g_assert_cmpmem (g_bytes_get_data (last, NULL), g_bytes_get_size (last), "3", 1);
  }
}

/* Changing the filters resubscribes: "#" goes, the new ones count from 1. */
static void
test_filters (Fixture *f, gconstpointer data)
{
  const char *qos1[] = { "-q", "1", NULL };
  StarlingTopicNode *node;
  const StarlingMessageProperties *p;

  starling_inspector_set_filters (f->inspector, "home/# other/+");
  /* Subscribing is asynchronous: publish until the new filter delivers. */
  for (guint i = 0; i < 20 && !topic_seen (f, "other/x"); i++)
    {
      mosquitto_pub (f, "other/x", "1", qos1);
      wait_for (f, topic_seen, "other/x", 500);
    }
  g_assert_true (topic_seen (f, "other/x"));
  node = starling_topic_tree_lookup (starling_inspector_get_tree (f->inspector), "other/x");
  p = starling_message_get_properties (starling_topic_node_get_last (node));
  g_assert_nonnull (p->subscription_ids);
  g_assert_cmpuint (g_array_index (p->subscription_ids, guint32, 0), ==, 2);

  /* QoS 1: the broker routed garden/x before home/y was even sent. */
  mosquitto_pub (f, "garden/x", "1", qos1);
  mosquitto_pub (f, "home/y", "1", qos1);
  g_assert_true (wait_for (f, topic_seen, "home/y", 10000));
  g_assert_false (topic_seen (f, "garden/x"));
  node = starling_topic_tree_lookup (starling_inspector_get_tree (f->inspector), "home/y");
  p = starling_message_get_properties (starling_topic_node_get_last (node));
  g_assert_cmpuint (g_array_index (p->subscription_ids, guint32, 0), ==, 1);
}

static gboolean
refused (Fixture *f, gconstpointer data)
{
  return starling_mqtt_client_get_state ((StarlingMqttClient *) data) == STARLING_MQTT_STATE_ERROR;
}

/* A credential the broker refuses stops in the error state, the reason in
 * words, without retrying. */
static void
test_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(StarlingMqttClient) client = starling_mqtt_client_new ();
  g_autofree char *uri = g_strdup_printf ("mqtts://127.0.0.1:%u", f->mqtts_port);
  g_autoptr(GError) error = NULL;

  /* pub-1's token under another client id: the broker says 0x85. */
  g_assert_true (starling_mqtt_client_configure (client, uri, "someone-else", "someone-else", f->pub_token,
                                                 f->ca_file, TRUE, &error));
  g_assert_no_error (error);
  starling_mqtt_client_connect (client);
  g_assert_true (wait_for (f, refused, client, 10000));
  g_assert_cmpstr (starling_mqtt_client_get_status (client), ==, "Client identifier not valid");
  settle (1500);
  g_assert_cmpint (starling_mqtt_client_get_state (client), ==, STARLING_MQTT_STATE_ERROR);
}

static void
test_no_display (void)
{
  g_test_skip ("no display");
}

/* ---- The log view: rows made once, reused as the log moves --------------------------- */

/* The Topic column's width is a setting: what the view says goes there, and
 * a setting made elsewhere (or before) shows in every inspector. */
typedef struct {
  GObject    *object;
  const char *property;
  int         value;
} IntIs;

static gboolean
int_is (gpointer data)
{
  IntIs *want = data;
  int value = 0;

  g_object_get (want->object, want->property, &value, NULL);
  return value == want->value;
}

static StarlingLogView *
log_view_of (StarlingInspector *inspector)
{
  return STARLING_LOG_VIEW (gtk_widget_get_template_child (GTK_WIDGET (inspector), STARLING_TYPE_INSPECTOR,
                                                           "log_view"));
}

static void
test_topic_width_setting (Fixture *f, gconstpointer data)
{
  StarlingLogView *view = log_view_of (f->inspector);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.starlingmq.Starling");
  IntIs want = { G_OBJECT (view), "topic-width", 260 };
  GtkWidget *other;

  g_settings_set_int (settings, "inspector-topic-width", 260);
  g_assert_true (app_test_wait (int_is, &want, 5000));
  g_object_set (view, "topic-width", 300, NULL);
  g_assert_cmpint (g_settings_get_int (settings, "inspector-topic-width"), ==, 300);

  other = g_object_ref_sink (starling_inspector_new (NULL, "home", "sensors"));
  want.object = G_OBJECT (log_view_of (STARLING_INSPECTOR (other)));
  want.value = 300;
  g_assert_true (app_test_wait (int_is, &want, 5000));
  g_object_unref (other);
  g_settings_reset (settings, "inspector-topic-width");
}

typedef struct {
  StarlingLogView *view;
  const char      *topic;    /* the top row's, or NULL: any */
  guint            first;    /* the top row's position, or G_MAXUINT: any, or
                              * LOG_BOTTOM: the last item in the last row */
} LogShows;

#define LOG_BOTTOM (G_MAXUINT - 1)

static gboolean
log_shows (gpointer data)
{
  LogShows *want = data;
  const char *topic = starling_log_view_get_cell_text (want->view, 0, STARLING_LOG_COLUMN_TOPIC);

  guint first = starling_log_view_get_first_shown (want->view);
  GListModel *model = G_LIST_MODEL (starling_log_view_get_model (want->view));

  if (topic == NULL || (want->topic != NULL && !g_str_equal (topic, want->topic)))
    return FALSE;
  if (want->first == LOG_BOTTOM)
    return first + starling_log_view_get_n_shown (want->view) == g_list_model_get_n_items (model);
  return want->first == G_MAXUINT || first == want->first;
}

static void
wait_log_shows (StarlingLogView *view, const char *topic, guint first)
{
  LogShows want = { view, topic, first };

  if (!app_test_wait (log_shows, &want, 10000))
    g_error ("the log's top row shows %s at %u, not %s at %u",
             starling_log_view_get_cell_text (view, 0, STARLING_LOG_COLUMN_TOPIC),
             starling_log_view_get_first_shown (view), topic ? topic : "(any)", first);
}

typedef struct {
  GtkAdjustment *adjustment;
  double         value;
  double         upper;
} AdjustmentIs;

static gboolean
adjustment_is (gpointer data)
{
  AdjustmentIs *want = data;

  return gtk_adjustment_get_value (want->adjustment) == want->value &&
         gtk_adjustment_get_upper (want->adjustment) == want->upper;
}

/* The view sets its adjustment at its next layout. */
static void
wait_adjustment (GtkAdjustment *adjustment, double value, double upper)
{
  AdjustmentIs want = { adjustment, value, upper };

  if (!app_test_wait (adjustment_is, &want, 10000))
    g_error ("the log's adjustment is at %g of %g, not %g of %g", gtk_adjustment_get_value (adjustment),
             gtk_adjustment_get_upper (adjustment), value, upper);
}

static void
feed_log (StarlingMessageLog *log, guint from, guint n)
{
  g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = from; i < from + n; i++)
    {
      g_autofree char *topic = g_strdup_printf ("log/%u", i);
      g_autofree char *text = g_strdup_printf ("%u", i);
      g_autoptr(GBytes) payload = g_bytes_new (text, strlen (text));

      g_ptr_array_add (batch, starling_message_new (topic, payload, i % 3, i % 2 == 0, FALSE, g_get_real_time (), NULL));
    }
  starling_message_log_append (log, (StarlingMessage **) batch->pdata, batch->len);
}

static char *
log_topic (guint i)
{
  return g_strdup_printf ("log/%u", i);
}

static void
count_notify (guint *count)
{
  (*count)++;
}

/* The widget's (first) event controller of that type. */
static GtkEventController *
find_controller (GtkWidget *widget, GType type)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (controller, type))
        return GTK_EVENT_CONTROLLER (controller);   /* the widget keeps it */
    }
  g_error ("%s has no %s", G_OBJECT_TYPE_NAME (widget), g_type_name (type));
}

typedef struct {
  GtkWidget *widget;
  int        width;
} WidthIs;

static gboolean
width_is (gpointer data)
{
  WidthIs *want = data;

  return gtk_widget_get_width (want->widget) == want->width;
}

static void
wait_width (GtkWidget *widget, int width)
{
  WidthIs want = { widget, width };

  if (!app_test_wait (width_is, &want, 10000))
    g_error ("%s is %d wide, not %d", G_OBJECT_TYPE_NAME (widget), gtk_widget_get_width (widget), width);
}

static gboolean
row_selected (StarlingLogView *view, guint n)
{
  GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (view));

  for (guint i = 0; i < n && row; i++)
    row = gtk_widget_get_next_sibling (row);
  g_assert_nonnull (row);
  return (gtk_widget_get_state_flags (row) & GTK_STATE_FLAG_SELECTED) != 0;
}

/* 5,000 messages through a log of 1,000 (newest first) on a view a few
 * dozen rows high: the view makes its rows once, as many as fit, and the
 * top row always shows the newest message; scrolled into the middle, the
 * rows on screen stay put while messages come and go; at either end the
 * view stays at that end; the keys move the selection and scroll to it. */
static void
test_log_view (void)
{
  GtkWindow *window = GTK_WINDOW (adw_window_new ());
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  StarlingLogView *view = STARLING_LOG_VIEW (starling_log_view_new ());
  g_autoptr(StarlingMessageLog) log = starling_message_log_new (1000);
  g_autoptr(GtkSingleSelection) selection = NULL;
  GtkAdjustment *vadj;
  g_autofree char *top = NULL;
  guint n_rows, row_height, next = 0;

  starling_message_log_set_newest_first (log, TRUE);
  selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (log)));
  gtk_single_selection_set_autoselect (selection, FALSE);
  gtk_single_selection_set_can_unselect (selection, TRUE);
  starling_log_view_set_model (view, GTK_SELECTION_MODEL (selection));
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), GTK_WIDGET (view));
  gtk_window_set_default_size (window, 900, 480);
  adw_window_set_content (ADW_WINDOW (window), scrolled);
  gtk_window_present (window);

  feed_log (log, next, 100);
  next += 100;
  top = log_topic (next - 1);
  wait_log_shows (view, top, 0);
  n_rows = starling_log_view_get_n_rows (view);
  /* As many as fit in 480 pixels (and one for a partly shown row). */
  g_assert_cmpuint (n_rows, >, 5);
  g_assert_cmpuint (n_rows, <, 40);
  g_assert_cmpuint (starling_log_view_get_n_shown (view), ==, n_rows);
  vadj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (view));
  row_height = (guint) gtk_adjustment_get_step_increment (vadj);
  g_assert_cmpuint (row_height, >, 10);
  g_assert_cmpuint (n_rows, ==, (guint) ((gtk_adjustment_get_page_size (vadj) + row_height - 1) / row_height) + 1);

  for (guint batch = 0; batch < 49; batch++)
    {
      feed_log (log, next, 100);
      next += 100;
      g_free (top);
      top = log_topic (next - 1);
      wait_log_shows (view, top, 0);
      g_assert_cmpuint (starling_log_view_get_n_rows (view), ==, n_rows);
    }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 1000);
  wait_adjustment (vadj, 0, 1000.0 * row_height);
  /* The top row's cells: log/4999 is QoS 4999 % 3 = 1, not retained, 4 bytes. */
  g_assert_cmpstr (starling_log_view_get_cell_text (view, 0, STARLING_LOG_COLUMN_QOS), ==, "1");
  g_assert_cmpstr (starling_log_view_get_cell_text (view, 0, STARLING_LOG_COLUMN_RETAIN), ==, "");
  g_assert_cmpstr (starling_log_view_get_cell_text (view, 0, STARLING_LOG_COLUMN_SIZE), ==, "4");
  g_assert_cmpstr (starling_log_view_get_cell_text (view, 0, STARLING_LOG_COLUMN_PAYLOAD), ==, "4999");
  g_assert_cmpstr (starling_log_view_get_cell_text (view, 1, STARLING_LOG_COLUMN_RETAIN), ==, "R");
  g_assert_nonnull (strchr (starling_log_view_get_cell_text (view, 0, STARLING_LOG_COLUMN_TIME), ':'));

  /* In the middle: the messages on screen stay there. */
  gtk_adjustment_set_value (vadj, 100.0 * row_height);
  g_free (top);
  top = log_topic (next - 1 - 100);
  wait_log_shows (view, top, 100);
  feed_log (log, next, 10);
  next += 10;
  wait_log_shows (view, top, 110);
  wait_adjustment (vadj, 110.0 * row_height, 1000.0 * row_height);

  /* At the top: the newest stays in view. */
  gtk_adjustment_set_value (vadj, 0);
  g_free (top);
  top = log_topic (next - 1);
  wait_log_shows (view, top, 0);
  feed_log (log, next, 5);
  next += 5;
  g_free (top);
  top = log_topic (next - 1);
  wait_log_shows (view, top, 0);

  /* At the bottom: the oldest stays in view as older ones go. */
  gtk_adjustment_set_value (vadj, gtk_adjustment_get_upper (vadj) - gtk_adjustment_get_page_size (vadj));
  wait_log_shows (view, NULL, LOG_BOTTOM);
  feed_log (log, next, 5);
  next += 5;
  g_free (top);
  top = log_topic (next - 1000 + (1000 - starling_log_view_get_first_shown (view)) - 1);
  wait_log_shows (view, top, LOG_BOTTOM);
  g_assert_cmpstr (starling_log_view_get_cell_text (view, starling_log_view_get_n_shown (view) - 1,
                                                    STARLING_LOG_COLUMN_TOPIC),
                   ==, starling_message_get_topic (starling_message_log_peek (log, 0)));

  /* Keys: Home selects the first and scrolls up to it; Down the next. */
  gtk_widget_activate_action (GTK_WIDGET (view), "log.move-cursor", "i", G_MININT32);
  g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==, 0);
  g_free (top);
  top = log_topic (next - 1);
  wait_log_shows (view, top, 0);
  g_assert_true (row_selected (view, 0));
  gtk_widget_activate_action (GTK_WIDGET (view), "log.move-cursor", "i", 1);
  g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==, 1);
  g_assert_true (row_selected (view, 1));
  g_assert_false (row_selected (view, 0));
  /* Page Down: a screenful less one row, and the view follows. */
  gtk_widget_activate_action (GTK_WIDGET (view), "log.move-cursor", "i", 2);
  g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==,
                    1 + (guint) (gtk_adjustment_get_page_size (vadj) / row_height) - 1);
  /* End: the last, scrolled into view. */
  gtk_widget_activate_action (GTK_WIDGET (view), "log.move-cursor", "i", G_MAXINT32);
  g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==, 999);
  wait_log_shows (view, NULL, LOG_BOTTOM);
  g_assert_true (row_selected (view, starling_log_view_get_n_shown (view) - 1));
  g_assert_cmpuint (starling_log_view_get_n_rows (view), ==, n_rows);

  /* A click selects the row under the pointer: the third on screen (the
   * header's height is the scrollable's border). */
  {
    GtkEventController *click = find_controller (GTK_WIDGET (view), GTK_TYPE_GESTURE_CLICK);
    GtkBorder border;

    g_assert_true (gtk_scrollable_get_border (GTK_SCROLLABLE (view), &border));
    g_assert_cmpint (border.top, >, 0);
    double upper = 1000.0 * row_height, value = upper - gtk_adjustment_get_page_size (vadj);
    guint under;

    /* At the bottom, the top row may show in part: the row under a point
     * is counted from the scroll position. */
    wait_adjustment (vadj, value, upper);
    under = (guint) ((value + 2.5 * row_height) / row_height);
    g_assert_cmpuint (under, >=, starling_log_view_get_first_shown (view) + 2);
    g_signal_emit_by_name (click, "pressed", 1, 10.0, border.top + 2.5 * row_height);
    g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==, under);
    g_assert_true (row_selected (view, under - starling_log_view_get_first_shown (view)));
    /* On the header: nothing. */
    g_signal_emit_by_name (click, "pressed", 1, 10.0, border.top / 2.0);
    g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==, under);
  }

  /* Dragging the topic column's edge in the header widens the column in
   * the header and every row; a drag elsewhere does nothing; a double
   * click on the edge gives the column its share of the width back. */
  {
    GtkEventController *drag = find_controller (GTK_WIDGET (view), GTK_TYPE_GESTURE_DRAG);
    GtkEventController *click = find_controller (GTK_WIDGET (view), GTK_TYPE_GESTURE_CLICK);
    GtkWidget *header = gtk_widget_get_last_child (GTK_WIDGET (view));
    GtkWidget *title = gtk_widget_get_next_sibling (gtk_widget_get_first_child (header));
    GtkWidget *first_row = gtk_widget_get_first_child (GTK_WIDGET (view));
    GtkWidget *cell = gtk_widget_get_next_sibling (gtk_widget_get_first_child (first_row));
    int before = gtk_widget_get_width (title);
    GtkBorder border;
    graphene_rect_t bounds;
    double edge;

    g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (title)), ==, "Topic");
    g_assert_cmpint (gtk_widget_get_width (cell), ==, before);
    g_assert_true (gtk_scrollable_get_border (GTK_SCROLLABLE (view), &border));
    g_assert_true (gtk_widget_compute_bounds (title, GTK_WIDGET (view), &bounds));
    edge = bounds.origin.x + bounds.size.width + 6;

    g_signal_emit_by_name (drag, "drag-begin", 5.0, border.top / 2.0);
    g_signal_emit_by_name (drag, "drag-update", 40.0, 0.0);
    g_signal_emit_by_name (drag, "drag-end", 40.0, 0.0);
    app_test_settle (100);
    g_assert_cmpint (gtk_widget_get_width (title), ==, before);

    g_signal_emit_by_name (drag, "drag-begin", edge, border.top / 2.0);
    g_signal_emit_by_name (drag, "drag-update", 50.0, 0.0);
    g_signal_emit_by_name (drag, "drag-end", 50.0, 0.0);
    wait_width (title, before + 50);
    wait_width (cell, before + 50);

    g_signal_emit_by_name (click, "pressed", 2, edge + 50, border.top / 2.0);
    wait_width (title, before);
    wait_width (cell, before);
  }
  {
    GtkWidget *header = gtk_widget_get_last_child (GTK_WIDGET (view));
    GtkWidget *title = gtk_widget_get_next_sibling (gtk_widget_get_first_child (header));
    int before = gtk_widget_get_width (title), width = 0;
    GtkEventController *drag = find_controller (GTK_WIDGET (view), GTK_TYPE_GESTURE_DRAG);
    GtkBorder border;
    graphene_rect_t bounds;
    guint notified = 0;
    gulong id = g_signal_connect_swapped (view, "notify::topic-width", G_CALLBACK (count_notify), &notified);

    /* The width is the topic-width property, told once a drag ends. */
    g_assert_true (gtk_scrollable_get_border (GTK_SCROLLABLE (view), &border));
    g_assert_true (gtk_widget_compute_bounds (title, GTK_WIDGET (view), &bounds));
    g_object_get (view, "topic-width", &width, NULL);
    g_assert_cmpint (width, ==, -1);
    g_signal_emit_by_name (drag, "drag-begin", bounds.origin.x + bounds.size.width + 6, border.top / 2.0);
    g_signal_emit_by_name (drag, "drag-update", 20.0, 0.0);
    g_signal_emit_by_name (drag, "drag-update", 30.0, 0.0);
    g_assert_cmpuint (notified, ==, 0);
    g_signal_emit_by_name (drag, "drag-end", 30.0, 0.0);
    g_assert_cmpuint (notified, ==, 1);
    g_object_get (view, "topic-width", &width, NULL);
    g_assert_cmpint (width, ==, before + 30);
    g_object_set (view, "topic-width", 150, NULL);
    wait_width (title, 150);
    g_object_set (view, "topic-width", -1, NULL);
    wait_width (title, before);
    g_signal_handler_disconnect (view, id);
  }

  /* Newest last, from empty: the view follows the bottom as messages come. */
  starling_message_log_clear (log);
  starling_message_log_set_newest_first (log, FALSE);
  starling_log_view_set_follow_bottom (view, TRUE);
  feed_log (log, next, 3);
  next += 3;
  g_free (top);
  top = log_topic (next - 3);
  wait_log_shows (view, top, 0);
  feed_log (log, next, 100);
  next += 100;
  wait_log_shows (view, NULL, LOG_BOTTOM);
  g_free (top);
  top = log_topic (next - 1);
  g_assert_cmpstr (starling_log_view_get_cell_text (view, starling_log_view_get_n_shown (view) - 1,
                                                    STARLING_LOG_COLUMN_TOPIC), ==, top);
  feed_log (log, next, 5);
  next += 5;
  g_free (top);
  top = log_topic (next - 1 - (starling_log_view_get_n_shown (view) - 1));
  wait_log_shows (view, top, LOG_BOTTOM);

  /* Hidden, the view leaves its rows alone; shown again, it shows what
   * came meanwhile, still at the bottom. */
  {
    g_autofree char *before = g_strdup (starling_log_view_get_cell_text (view, 0, STARLING_LOG_COLUMN_TOPIC));

    gtk_widget_set_visible (scrolled, FALSE);
    feed_log (log, next, 7);
    next += 7;
    g_assert_cmpstr (starling_log_view_get_cell_text (view, 0, STARLING_LOG_COLUMN_TOPIC), ==, before);
    gtk_widget_set_visible (scrolled, TRUE);
    g_free (top);
    top = log_topic (next - 1 - (starling_log_view_get_n_shown (view) - 1));
    wait_log_shows (view, top, LOG_BOTTOM);
  }

  gtk_window_destroy (window);
}

int
main (int argc, char **argv)
{
  g_autofree char *pub = NULL;
  g_autofree char *sub = NULL;
  g_autoptr(GPtrArray) mime_dirs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) icon_dirs = g_ptr_array_new_with_free_func (g_free);
  const char *const *system_dirs = g_get_system_data_dirs ();

  g_setenv ("LC_ALL", "C", TRUE);
  /* The isolated dirs hide the icon theme and the MIME database (needed to
   * load SVG icons): keep the system's, for screenshots that look right. */
  for (guint i = 0; system_dirs[i]; i++)
    {
      g_ptr_array_add (mime_dirs, g_build_filename (system_dirs[i], "mime", NULL));
      g_ptr_array_add (icon_dirs, g_build_filename (system_dirs[i], "icons", NULL));
    }
  g_ptr_array_add (mime_dirs, NULL);
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_content_type_set_mime_dirs ((const char *const *) mime_dirs->pdata);

  pub = g_find_program_in_path ("mosquitto_pub");
  sub = g_find_program_in_path ("mosquitto_sub");
  if (pub == NULL || sub == NULL)
    {
      g_test_add_func ("/inspector/ui", test_no_display);
      return g_test_run ();
    }
  if (gtk_init_check ())
    {
      adw_init ();
      for (guint i = 0; i < icon_dirs->len; i++)
        gtk_icon_theme_add_search_path (gtk_icon_theme_get_for_display (gdk_display_get_default ()),
                                        g_ptr_array_index (icon_dirs, i));
      g_test_add ("/inspector/ui/traffic-in", Fixture, NULL, fixture_setup, test_traffic_in, fixture_teardown);
      g_test_add ("/inspector/ui/publish-pane", Fixture, NULL, fixture_setup, test_publish_pane, fixture_teardown);
      g_test_add ("/inspector/ui/delete-retained", Fixture, NULL, fixture_setup, test_delete_retained, fixture_teardown);
      g_test_add ("/inspector/ui/pause", Fixture, NULL, fixture_setup, test_pause, fixture_teardown);
      g_test_add ("/inspector/ui/filters", Fixture, NULL, fixture_setup, test_filters, fixture_teardown);
      g_test_add ("/inspector/ui/refused", Fixture, NULL, fixture_setup, test_refused, fixture_teardown);
      g_test_add_func ("/inspector/ui/log-view", test_log_view);
      g_test_add ("/inspector/ui/topic-width-setting", Fixture, NULL, fixture_setup, test_topic_width_setting,
                  fixture_teardown);
    }
  else
    g_test_add_func ("/inspector/ui", test_no_display);
  return g_test_run ();
}
