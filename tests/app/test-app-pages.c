/* The admin widgets: unit tests of their helpers, and the real pages and
 * dialogs driven against a real in-process StServer through a real
 * StApiClient — create a namespace and a broker, issue two credentials,
 * revoke one — checked through the control API and on screen.
 * Screenshots of each main view go to <build>/tests/app/screenshots/. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "app-test.h"
#include "client/st-api-client.h"
#include "st-server.h"
#include "starling-broker-dialog.h"
#include "starling-broker-page.h"
#include "starling-credentials-dialog.h"
#include "starling-inspector.h"
#include "starling-namespace-dialog.h"
#include "starling-namespace-page.h"
#include "starling-util.h"
#include "test-server.h"

#define WAIT_SECONDS 20

/* ---- Unit tests ----------------------------------------------------------- */

static void
test_name_check (void)
{
  const char *valid[] = { "a", "home", "a-1", "Home", "x0-y1-z2", NULL };
  struct { const char *name; const char *says; } invalid[] = {
    { "", "Enter a name" },
    { "1abc", "start with a letter" },
    { "-abc", "start with a letter" },
    { "abc-", "end with a hyphen" },
    { "a_b", "“_” is not allowed" },
    { "a b", "“space” is not allowed" },
    { "caf\xc3\xa9", "“\xc3\xa9” is not allowed" },
  };
  g_autofree char *long_name = g_strnfill (64, 'a');
  g_autofree char *max_name = g_strnfill (63, 'a');
  char *message = NULL;

  for (guint i = 0; valid[i]; i++)
    {
      g_assert_true (starling_name_check (valid[i], &message));
      g_assert_null (message);
    }
  g_assert_true (starling_name_check (max_name, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_assert_false (starling_name_check (invalid[i].name, &message));
      g_assert_nonnull (message);
      if (strstr (message, invalid[i].says) == NULL)
        g_error ("“%s”: “%s” does not say “%s”", invalid[i].name, message, invalid[i].says);
      g_clear_pointer (&message, g_free);
    }
  g_assert_false (starling_name_check (long_name, &message));
  g_assert_cmpstr (message, ==, "The name is 1 character too long (at most 63)");
  g_free (message);
  g_assert_false (starling_name_check (NULL, NULL));
}

static void
test_time_format (void)
{
  g_autofree char *t1 = starling_format_time ("2026-11-25T20:29:07.123456Z");
  g_autofree char *t2 = starling_format_unix_time (1764102547);  /* 2025-11-25T20:29:07Z */
  g_autofree char *t3 = starling_format_time (NULL);
  g_autofree char *t4 = starling_format_time ("yesterday");
  gint64 now = 1764102547;
  struct { gint64 target; const char *text; } relative[] = {
    { now, "now" },
    { now + 2 * 86400 + 5, "in 2 days" },
    { now + 86400, "in 1 day" },
    { now + 2 * 86400 - 3, "in 2 days" },
    { now + 3599, "in 1 hour" },
    { now + 61, "in 1 minute" },
    { now + 30, "in 30 seconds" },
    { now - 3 * 3600, "3 hours ago" },
    { now - 1, "1 second ago" },
  };
  struct { gint64 seconds; const char *text; } durations[] = {
    { -1, "No expiry" },
    { 0, "No expiry" },
    { 90, "90 seconds" },
    { 120, "2 minutes" },
    { 3600, "1 hour" },
    { 7200, "2 hours" },
    { 172800, "2 days" },
    { 90000, "90000 seconds" },
  };

  /* main() set TZ=UTC and the C locale, so local time is UTC. */
  g_assert_cmpstr (t1, ==, "25 Nov 2026, 20:29:07");
  g_assert_cmpstr (t2, ==, "25 Nov 2025, 20:29:07");
  g_assert_cmpstr (t3, ==, "—");
  g_assert_cmpstr (t4, ==, "yesterday");
  for (guint i = 0; i < G_N_ELEMENTS (relative); i++)
    {
      g_autofree char *text = starling_format_relative (relative[i].target, now);

      g_assert_cmpstr (text, ==, relative[i].text);
    }
  for (guint i = 0; i < G_N_ELEMENTS (durations); i++)
    {
      g_autofree char *text = starling_format_duration (durations[i].seconds);

      g_assert_cmpstr (text, ==, durations[i].text);
    }
}

static void
test_expiry_units (void)
{
  StarlingExpiryUnit unit;
  guint amount;

  g_assert_cmpint (starling_expiry_to_seconds (STARLING_EXPIRY_NONE, 5), ==, -1);
  g_assert_cmpint (starling_expiry_to_seconds (STARLING_EXPIRY_SECONDS, 5), ==, 5);
  g_assert_cmpint (starling_expiry_to_seconds (STARLING_EXPIRY_HOURS, 5), ==, 18000);
  g_assert_cmpint (starling_expiry_to_seconds (STARLING_EXPIRY_DAYS, 100000), ==, 8640000000);
  starling_expiry_from_seconds (172800, &unit, &amount);
  g_assert_cmpint (unit, ==, STARLING_EXPIRY_DAYS);
  g_assert_cmpuint (amount, ==, 2);
  starling_expiry_from_seconds (7200, &unit, &amount);
  g_assert_cmpint (unit, ==, STARLING_EXPIRY_HOURS);
  g_assert_cmpuint (amount, ==, 2);
  starling_expiry_from_seconds (90, &unit, &amount);
  g_assert_cmpint (unit, ==, STARLING_EXPIRY_SECONDS);
  g_assert_cmpuint (amount, ==, 90);
  starling_expiry_from_seconds (-1, &unit, &amount);
  g_assert_cmpint (unit, ==, STARLING_EXPIRY_NONE);
}

static void
test_credential_formats (void)
{
  g_autoptr(JsonObject) o = json_object_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *env = NULL;
  g_autofree char *env_no_endpoint = NULL;
  JsonObject *back;

  json_object_set_string_member (o, "kitchen", "eyJ.a.b");
  json_object_set_string_member (o, "hall way \"2\"", "eyJ.c.d");
  json = starling_credentials_format_json (o);
  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  back = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_object_get_size (back), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (back, "kitchen"), ==, "eyJ.a.b");
  g_assert_cmpstr (json_object_get_string_member (back, "hall way \"2\""), ==, "eyJ.c.d");

  env = starling_credentials_format_env (o, "mqtts://b.ns.localhost:8883");
  g_assert_nonnull (strstr (env, "\nSTARLING_ENDPOINT=mqtts://b.ns.localhost:8883\n"
                                 "CLIENT_ID_1=kitchen\nTOKEN_1=eyJ.a.b\n"
                                 "CLIENT_ID_2=\"hall way \\\"2\\\"\"\nTOKEN_2=eyJ.c.d\n"));
  g_assert_true (g_str_has_prefix (env, "# "));
  env_no_endpoint = starling_credentials_format_env (o, NULL);
  g_assert_null (strstr (env_no_endpoint, "STARLING_ENDPOINT"));
}

static void
test_snippets (void)
{
  g_autofree char *sub = starling_snippet_mosquitto ("mqtts://sensors.home.localhost:18883", TRUE);
  g_autofree char *sub_anon = starling_snippet_mosquitto ("mqtts://local.dev.localhost:8883", FALSE);
  g_autofree char *js = starling_snippet_mqttjs ("mqtts://sensors.home.localhost:18883", TRUE);

  g_assert_nonnull (strstr (sub, "mosquitto_sub -h sensors.home.localhost -p 18883 --cafile starling-ca.pem"));
  g_assert_nonnull (strstr (sub, "-i '<CLIENT_ID>' -u token -P '<TOKEN>'"));
  g_assert_null (strstr (sub_anon, "<TOKEN>"));
  g_assert_null (strstr (sub_anon, "127.0.0.1"));
  g_assert_nonnull (strstr (sub_anon, "-h local.dev.localhost -p 8883"));
  g_assert_nonnull (strstr (js, "mqtt.connect(\"mqtts://sensors.home.localhost:18883\""));
  g_assert_nonnull (strstr (js, "password: \"<TOKEN>\""));
  g_assert_nonnull (strstr (js, "// \"mqtts://127.0.0.1:18883\": the token picks the broker.\n"));
  g_assert_nonnull (strstr (js, "fs.readFileSync(\"starling-ca.pem\")"));
  {
    g_autofree char *one = starling_snippet_mosquitto_with ("mqtts://b.ns.localhost:8883", "it's", "eyJ.x.y");

    g_assert_nonnull (strstr (one, "-i 'it'\\''s' -u token -P 'eyJ.x.y'"));
  }
}

/* ---- Driving the widgets -------------------------------------------------- */

typedef struct {
  TestServer  *server;
  StApiClient *client;      /* what the widgets use */
  StApiClient *checker;     /* a second client, to check through the API */
  GtkWindow   *window;
  AdwToastOverlay *overlay;
} Fixture;

typedef struct {
  gboolean  emitted;
  char     *ns;
  char     *broker;
} Changed;

static void
changed_cb (GObject *object, const char *ns, const char *broker, Changed *c)
{
  c->emitted = TRUE;
  g_free (c->ns);
  g_free (c->broker);
  c->ns = g_strdup (ns);
  c->broker = g_strdup (broker);
}

static void
changed_clear (Changed *c)
{
  c->emitted = FALSE;
  g_clear_pointer (&c->ns, g_free);
  g_clear_pointer (&c->broker, g_free);
}

typedef gboolean (*Condition) (gpointer data);

/* Runs the main loop until condition holds; every wait is bounded. */
static void
wait_until (Condition condition, gpointer data, const char *what)
{
  if (!app_test_wait (condition, data, WAIT_SECONDS * 1000))
    g_error ("timed out waiting for %s", what);
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

/* Lets GTK lay out and draw what changed. */
static void
settle (void)
{
  app_test_settle (300);
}

static gpointer
child (gpointer widget, GType type, const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (widget), type, name);

  g_assert_nonnull (object);
  return object;
}

static const char *
stack_child (gpointer widget, GType type, const char *name)
{
  return gtk_stack_get_visible_child_name (child (widget, type, name));
}

static GtkWindow *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* GTK's own */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return window;
    }
  return NULL;
}

typedef struct {
  GType       type;
  GtkWindow  *found;
} FindToplevel;

static gboolean
toplevel_shown (gpointer data)
{
  FindToplevel *f = data;

  f->found = find_toplevel (f->type);
  return f->found != NULL;
}

static GtkWindow *
wait_toplevel (GType type)
{
  FindToplevel f = { type, NULL };

  wait_until (toplevel_shown, &f, g_type_name (type));
  return f.found;
}

static gboolean
window_gone (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* Watches a dialog before it is answered: it may be destroyed at once. */
static void
watch (GtkWindow *window, gpointer *pointer)
{
  *pointer = window;
  g_object_add_weak_pointer (G_OBJECT (window), pointer);
}

static void
wait_gone (gpointer *pointer)
{
  wait_until (window_gone, pointer, "a dialog to close");
}

static guint
count_rows (GtkListBox *list)
{
  guint n = 0;

  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (list)); c; c = gtk_widget_get_next_sibling (c))
    if (GTK_IS_LIST_BOX_ROW (c))
      n++;
  return n;
}

/* The first button below widget whose action is action_name. */
static GtkWidget *
find_action_button (GtkWidget *widget, const char *action_name)
{
  if (GTK_IS_BUTTON (widget) &&
      g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action_name) == 0)
    return widget;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_action_button (c, action_name);

      if (found)
        return found;
    }
  return NULL;
}

/* The first button below widget labelled label (mnemonic included). */
static GtkWidget *
find_labeled_button (GtkWidget *widget, const char *label)
{
  if (GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0)
    return widget;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_labeled_button (c, label);

      if (found)
        return found;
    }
  return NULL;
}

static void
click (GtkWidget *button)
{
  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autofree char *data_dir = g_build_filename (g_get_user_data_dir (), "starling-test", NULL);

  f->server = test_server_start (data_dir, FALSE);
  f->client = st_api_client_new (f->server->api_url, f->server->token, NULL);
  f->checker = st_api_client_new (f->server->api_url, f->server->token, NULL);

  f->window = GTK_WINDOW (adw_window_new ());
  gtk_window_set_default_size (f->window, 960, 760);
  f->overlay = ADW_TOAST_OVERLAY (adw_toast_overlay_new ());
  adw_window_set_content (ADW_WINDOW (f->window), GTK_WIDGET (f->overlay));
  gtk_window_present (f->window);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  gtk_window_destroy (f->window);
  settle ();
  g_clear_object (&f->client);
  g_clear_object (&f->checker);
  g_clear_pointer (&f->server, test_server_free);
}

/* A request through the checker client: what the server really has. */
static JsonNode *
api (Fixture *f, const char *method, const char *path, GError **error)
{
  return st_api_client_request (f->checker, method, path, NULL, NULL, NULL, error);
}

static gboolean
page_loaded (gpointer page)
{
  GType type = G_OBJECT_TYPE (page);

  return g_strcmp0 (stack_child (page, type, "stack"), "content") == 0 &&
         !gtk_widget_get_visible (child (page, type, "spinner"));
}

static gboolean
inspector_connected (gpointer inspector)
{
  return starling_mqtt_client_get_state (starling_inspector_get_client (inspector)) == STARLING_MQTT_STATE_CONNECTED;
}

static gboolean
description_shown (gpointer page)
{
  return page_loaded (page) &&
         g_strcmp0 (adw_action_row_get_subtitle (child (page, STARLING_TYPE_NAMESPACE_PAGE, "description_row")),
                    "Sensors, at home") == 0;
}

static gboolean
namespace_page_has_broker (gpointer page)
{
  return page_loaded (page) &&
         count_rows (child (page, STARLING_TYPE_NAMESPACE_PAGE, "brokers_list")) == 1 &&
         g_strcmp0 (stack_child (page, STARLING_TYPE_NAMESPACE_PAGE, "brokers_stack"), "list") == 0;
}

static gboolean
dialog_idle (gpointer dialog)
{
  return !gtk_widget_get_visible (child (dialog, G_OBJECT_TYPE (dialog), "spinner"));
}

static gboolean
credentials_issued (gpointer dialog)
{
  return g_strcmp0 (stack_child (dialog, STARLING_TYPE_CREDENTIALS_DIALOG, "stack"), "result") == 0;
}

static gboolean
broker_page_lists (gpointer page)
{
  GtkListBox *credentials = child (page, STARLING_TYPE_BROKER_PAGE, "credentials_list");
  GtkListBox *revocations = child (page, STARLING_TYPE_BROKER_PAGE, "revocations_list");
  guint *expect = g_object_get_data (G_OBJECT (page), "expect");

  return page_loaded (page) && count_rows (credentials) == expect[0] && count_rows (revocations) == expect[1] &&
         (expect[1] == 0 || find_action_button (GTK_WIDGET (credentials), "broker.unrevoke") != NULL);
}

static gboolean
keys_listed (gpointer page)
{
  return page_loaded (page) &&
         count_rows (child (page, STARLING_TYPE_BROKER_PAGE, "keys_list")) == GPOINTER_TO_UINT (g_object_get_data (page, "keys"));
}

static gboolean
subtitle_has (gpointer row)
{
  const char *subtitle = adw_action_row_get_subtitle (row);

  return subtitle != NULL && strstr (subtitle, g_object_get_data (row, "expect")) != NULL;
}

typedef struct {
  gboolean  done;
  char     *text;
} ClipboardRead;

static void
clipboard_read_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  ClipboardRead *r = data;

  r->text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, NULL);
  r->done = TRUE;
}

static char *
clipboard_text (GtkWidget *widget)
{
  ClipboardRead r = { FALSE, NULL };

  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (widget), NULL, clipboard_read_cb, &r);
  wait_until (is_true, &r.done, "the clipboard");
  g_assert_nonnull (r.text);
  return r.text;
}

static GtkWidget *
row_titled (GtkListBox *list, const char *title)
{
  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (list)); c; c = gtk_widget_get_next_sibling (c))
    if (ADW_IS_PREFERENCES_ROW (c) && g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (c)), title) == 0)
      return c;
  return NULL;
}

static void
set_view_text (GtkTextView *view, const char *text)
{
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (view), text, -1);
}

/* An on-publish hook that passes every message: it answers each request
 * with the messages it was sent, as the Worker that changes nothing. */
static void
hook_pass (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           data)
{
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  guint *n_requests = data;

  (*n_requests)++;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* Serves hook_pass on a loopback port, in this thread's main context
 * (which the test's waits iterate). */
static SoupServer *
hook_server_new (guint *n_requests, char **url)
{
  SoupServer *server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  soup_server_add_handler (server, "/hook", hook_pass, n_requests, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  g_assert_nonnull (uris);
  *url = g_strdup_printf ("http://127.0.0.1:%d/hook", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return server;
}

static void
test_admin_flow (Fixture *f, gconstpointer data)
{
  Changed changed = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  GtkWindow *dialog;
  gpointer watched = NULL;
  GtkWidget *ns_page, *broker_page, *row, *button;
  GtkLabel *label;
  const char *endpoint;
  g_autofree char *mosquitto = NULL;
  g_autofree char *kitchen_jti = NULL;
  g_autoptr(SoupServer) hook_server = NULL;
  g_autofree char *hook_url = NULL;
  g_autofree char *hook_row_text = NULL;
  guint n_hook_requests = 0;
  guint expect[2];
  JsonArray *list;

  /* 1. A namespace, through the dialog: a bad name keeps Create off and
   *    says why, as the user types. */
  dialog = starling_namespace_dialog_new (f->client, NULL);
  gtk_window_set_transient_for (dialog, f->window);
  g_signal_connect (dialog, "changed", G_CALLBACK (changed_cb), &changed);
  gtk_window_present (dialog);
  button = child (dialog, STARLING_TYPE_NAMESPACE_DIALOG, "save_button");
  g_assert_false (gtk_widget_is_sensitive (button));
  gtk_editable_set_text (child (dialog, STARLING_TYPE_NAMESPACE_DIALOG, "name_row"), "home_1");
  label = child (dialog, STARLING_TYPE_NAMESPACE_DIALOG, "name_message");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (label)));
  g_assert_nonnull (strstr (gtk_label_get_text (label), "“_” is not allowed"));
  g_assert_false (gtk_widget_is_sensitive (button));
  gtk_editable_set_text (child (dialog, STARLING_TYPE_NAMESPACE_DIALOG, "name_row"), "home");
  gtk_editable_set_text (child (dialog, STARLING_TYPE_NAMESPACE_DIALOG, "description_row"), "Sensors at home");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (label)));
  click (button);
  wait_until (is_true, &changed.emitted, "the namespace dialog's changed signal");
  g_assert_cmpstr (changed.ns, ==, "home");
  g_assert_null (changed.broker);
  changed_clear (&changed);

  node = api (f, "GET", "namespaces/home", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "description"), ==, "Sensors at home");
  g_clear_pointer (&node, json_node_unref);

  /* 2. The namespace page: details and the empty state. */
  ns_page = starling_namespace_page_new (f->client, "home");
  g_signal_connect (ns_page, "changed", G_CALLBACK (changed_cb), &changed);
  adw_toast_overlay_set_child (f->overlay, ns_page);
  wait_until (page_loaded, ns_page, "the namespace page");
  g_assert_cmpstr (gtk_label_get_text (child (ns_page, STARLING_TYPE_NAMESPACE_PAGE, "title_label")), ==, "home");
  g_assert_cmpstr (adw_action_row_get_subtitle (child (ns_page, STARLING_TYPE_NAMESPACE_PAGE, "description_row")),
                   ==, "Sensors at home");
  g_assert_cmpstr (stack_child (ns_page, STARLING_TYPE_NAMESPACE_PAGE, "brokers_stack"), ==, "empty");
  app_test_screenshot (GTK_WIDGET (f->window), "namespace-page-empty");

  /* Editing: the dialog loads the description, saves the new one (PATCH,
   * beyond Cloudflare), closes and reports the change. */
  gtk_widget_activate_action (ns_page, "namespace.edit", NULL);
  dialog = wait_toplevel (STARLING_TYPE_NAMESPACE_DIALOG);
  wait_until (dialog_idle, dialog, "the namespace to load in the dialog");
  g_assert_false (gtk_widget_is_sensitive (child (dialog, STARLING_TYPE_NAMESPACE_DIALOG, "name_row")));
  g_assert_cmpstr (gtk_editable_get_text (child (dialog, STARLING_TYPE_NAMESPACE_DIALOG, "description_row")),
                   ==, "Sensors at home");
  gtk_editable_set_text (child (dialog, STARLING_TYPE_NAMESPACE_DIALOG, "description_row"), "Sensors, at home");
  watch (dialog, &watched);
  click (child (dialog, STARLING_TYPE_NAMESPACE_DIALOG, "save_button"));
  wait_gone (&watched);
  g_assert_true (changed.emitted);
  g_assert_cmpstr (changed.ns, ==, "home");
  node = api (f, "GET", "namespaces/home", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "description"), ==,
                   "Sensors, at home");
  changed_clear (&changed);
  /* The page reloads and shows the new description. */
  wait_until (description_shown, ns_page, "the namespace page to show the new description");
  g_clear_pointer (&node, json_node_unref);

  /* 3. A broker, from the empty state's button, with a 2-day expiration. */
  click (child (ns_page, STARLING_TYPE_NAMESPACE_PAGE, "empty_new_button"));
  dialog = wait_toplevel (STARLING_TYPE_BROKER_DIALOG);
  gtk_editable_set_text (child (dialog, STARLING_TYPE_BROKER_DIALOG, "name_row"), "sensors");
  gtk_editable_set_text (child (dialog, STARLING_TYPE_BROKER_DIALOG, "description_row"), "Temperature and humidity");
  adw_combo_row_set_selected (child (dialog, STARLING_TYPE_BROKER_DIALOG, "expiration_unit_row"), STARLING_EXPIRY_DAYS);
  gtk_spin_button_set_value (child (dialog, STARLING_TYPE_BROKER_DIALOG, "expiration_amount"), 2);
  /* A server error lands by its field: this URL is refused. */
  gtk_editable_set_text (child (dialog, STARLING_TYPE_BROKER_DIALOG, "on_publish_row"), "ftp://example.org/hook");
  click (child (dialog, STARLING_TYPE_BROKER_DIALOG, "save_button"));
  wait_until (dialog_idle, dialog, "the refused broker");
  label = child (dialog, STARLING_TYPE_BROKER_DIALOG, "on_publish_message");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (label)));
  g_assert_nonnull (strstr (gtk_label_get_text (label), "on_publish.url"));
  g_assert_false (changed.emitted);
  gtk_editable_set_text (child (dialog, STARLING_TYPE_BROKER_DIALOG, "on_publish_row"), "");
  click (child (dialog, STARLING_TYPE_BROKER_DIALOG, "save_button"));
  wait_until (is_true, &changed.emitted, "the broker dialog's changed signal");
  g_assert_cmpstr (changed.ns, ==, "home");
  g_assert_cmpstr (changed.broker, ==, "sensors");
  changed_clear (&changed);
  wait_until (namespace_page_has_broker, ns_page, "the broker on the namespace page");
  row = row_titled (child (ns_page, STARLING_TYPE_NAMESPACE_PAGE, "brokers_list"), "sensors");
  g_assert_nonnull (row);
  app_test_screenshot (GTK_WIDGET (f->window), "namespace-page");

  /* 4. The broker page: endpoint, expiration, snippets. */
  broker_page = starling_broker_page_new (f->client, "home", "sensors");
  g_signal_connect (broker_page, "changed", G_CALLBACK (changed_cb), &changed);
  adw_toast_overlay_set_child (f->overlay, broker_page);
  expect[0] = 0;
  expect[1] = 0;
  g_object_set_data (G_OBJECT (broker_page), "expect", expect);
  wait_until (broker_page_lists, broker_page, "the broker page");
  /* No hook: no hook counters either. */
  g_assert_false (gtk_widget_get_visible (child (broker_page, STARLING_TYPE_BROKER_PAGE, "hook_stats_row")));
  endpoint = adw_action_row_get_subtitle (child (broker_page, STARLING_TYPE_BROKER_PAGE, "endpoint_row"));
  g_assert_true (g_str_has_prefix (endpoint, "mqtts://sensors.home.localhost:"));
  g_assert_cmpstr (adw_action_row_get_subtitle (child (broker_page, STARLING_TYPE_BROKER_PAGE, "expiration_row")),
                   ==, "2 days");
  {
    GtkTextBuffer *buffer = gtk_text_view_get_buffer (child (broker_page, STARLING_TYPE_BROKER_PAGE, "mosquitto_view"));
    GtkTextIter start, end;

    gtk_text_buffer_get_bounds (buffer, &start, &end);
    mosquitto = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
    g_assert_nonnull (strstr (mosquitto, "mosquitto_sub -h sensors.home.localhost -p "));
  }
  g_assert_cmpstr (stack_child (broker_page, STARLING_TYPE_BROKER_PAGE, "ca_stack"), ==, "cert");
  app_test_screenshot (GTK_WIDGET (f->window), "broker-page");

  /* 5. Issue two credentials for named clients, limited to home/#. */
  gtk_widget_activate_action (broker_page, "broker.issue", NULL);
  dialog = wait_toplevel (STARLING_TYPE_CREDENTIALS_DIALOG);
  set_view_text (child (dialog, STARLING_TYPE_CREDENTIALS_DIALOG, "client_ids_view"), "kitchen\nhall");
  set_view_text (child (dialog, STARLING_TYPE_CREDENTIALS_DIALOG, "acl_view"), "home/#\n");
  g_assert_false (gtk_widget_is_sensitive (child (dialog, STARLING_TYPE_CREDENTIALS_DIALOG, "number_row")));
  click (child (dialog, STARLING_TYPE_CREDENTIALS_DIALOG, "issue_button"));
  wait_until (credentials_issued, dialog, "the issued credentials");
  {
    GtkListBox *result = child (dialog, STARLING_TYPE_CREDENTIALS_DIALOG, "result_list");

    g_assert_cmpuint (count_rows (result), ==, 2);
    row = row_titled (result, "kitchen");
    g_assert_nonnull (row);
    g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "eyJ"));
    g_assert_nonnull (row_titled (result, "hall"));
    g_assert_nonnull (find_action_button (row, "dialog.copy-token"));
    /* The row's terminal button: a command with this credential in it. */
    click (find_action_button (row, "dialog.copy-command"));
    {
      g_autofree char *command = clipboard_text (GTK_WIDGET (dialog));
      g_autofree char *expected = g_strdup_printf ("-i 'kitchen' -u token -P '%s'",
                                                   adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));

      g_assert_true (g_str_has_prefix (command, "# If sensors.home.localhost does not resolve here, use -h 127.0.0.1:\n"));
      g_assert_nonnull (strstr (command, "\nmosquitto_sub -h sensors.home.localhost -p "));
      g_assert_nonnull (strstr (command, expected));
    }
  }
  settle ();
  app_test_screenshot (GTK_WIDGET (dialog), "issue-dialog-result");
  watch (dialog, &watched);
  click (child (dialog, STARLING_TYPE_CREDENTIALS_DIALOG, "done_button"));
  wait_gone (&watched);

  /* 6. The broker page lists both; revoke kitchen's with its button. */
  expect[0] = 2;
  wait_until (broker_page_lists, broker_page, "two credentials on the broker page");
  row = row_titled (child (broker_page, STARLING_TYPE_BROKER_PAGE, "credentials_list"), "kitchen");
  g_assert_nonnull (row);
  kitchen_jti = g_strdup (g_object_get_data (G_OBJECT (row), "jti"));
  g_assert_cmpuint (strlen (kitchen_jti), ==, 26);
  click (find_action_button (row, "broker.revoke"));
  expect[1] = 1;
  wait_until (broker_page_lists, broker_page, "the revocation on the broker page");
  row = row_titled (child (broker_page, STARLING_TYPE_BROKER_PAGE, "credentials_list"), "kitchen");
  g_assert_nonnull (find_action_button (row, "broker.unrevoke"));
  g_assert_null (find_action_button (row, "broker.revoke"));
  row = row_titled (child (broker_page, STARLING_TYPE_BROKER_PAGE, "credentials_list"), "hall");
  g_assert_nonnull (find_action_button (row, "broker.revoke"));
  g_assert_nonnull (row_titled (child (broker_page, STARLING_TYPE_BROKER_PAGE, "revocations_list"), kitchen_jti));
  adw_view_stack_set_visible_child_name (child (broker_page, STARLING_TYPE_BROKER_PAGE, "view_stack"), "credentials");
  app_test_screenshot (GTK_WIDGET (f->window), "credentials-list");
  adw_view_stack_set_visible_child_name (child (broker_page, STARLING_TYPE_BROKER_PAGE, "view_stack"), "revocations");
  app_test_screenshot (GTK_WIDGET (f->window), "revocations");
  adw_view_stack_set_visible_child_name (child (broker_page, STARLING_TYPE_BROKER_PAGE, "view_stack"), "keys");
  g_object_set_data (G_OBJECT (broker_page), "keys", GUINT_TO_POINTER (1));
  wait_until (keys_listed, broker_page, "the broker's key");
  click (find_action_button (GTK_WIDGET (broker_page), "broker.rotate-key"));
  g_object_set_data (G_OBJECT (broker_page), "keys", GUINT_TO_POINTER (2));
  wait_until (keys_listed, broker_page, "the rotated key");
  app_test_screenshot (GTK_WIDGET (f->window), "keys");
  node = api (f, "GET", "namespaces/home/brokers/sensors/publickeys", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (node), "keys")), ==, 2);
  g_clear_pointer (&node, json_node_unref);
  /* Only the old key has a Remove button; removing it asks first. */
  {
    GtkWidget *keys = child (broker_page, STARLING_TYPE_BROKER_PAGE, "keys_list");
    GtkWidget *first = gtk_widget_get_first_child (keys);
    g_autofree char *old_kid = g_strdup (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (first)));
    JsonObject *jwk;

    g_assert_nonnull (find_action_button (first, "broker.remove-key"));
    g_assert_null (find_action_button (gtk_widget_get_next_sibling (first), "broker.remove-key"));
    click (find_action_button (first, "broker.remove-key"));
    dialog = wait_toplevel (ADW_TYPE_MESSAGE_DIALOG);
    g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), old_kid));
    watch (dialog, &watched);
    click (find_labeled_button (GTK_WIDGET (dialog), "_Remove"));
    wait_gone (&watched);
    g_object_set_data (G_OBJECT (broker_page), "keys", GUINT_TO_POINTER (1));
    wait_until (keys_listed, broker_page, "the removed key");
    node = api (f, "GET", "namespaces/home/brokers/sensors/publickeys", &error);
    g_assert_no_error (error);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (node), "keys")), ==, 1);
    jwk = json_array_get_object_element (json_object_get_array_member (json_node_get_object (node), "keys"), 0);
    g_assert_cmpstr (json_object_get_string_member (jwk, "kid"), !=, old_kid);
    g_clear_pointer (&node, json_node_unref);
  }

  adw_view_stack_set_visible_child_name (child (broker_page, STARLING_TYPE_BROKER_PAGE, "view_stack"), "certificate");
  {
    GtkTextBuffer *buffer = gtk_text_view_get_buffer (child (broker_page, STARLING_TYPE_BROKER_PAGE, "ca_view"));
    GtkTextIter start, end;
    g_autofree char *pem = NULL;

    gtk_text_buffer_get_bounds (buffer, &start, &end);
    pem = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
    g_assert_true (g_str_has_prefix (pem, "-----BEGIN CERTIFICATE-----"));
  }
  g_assert_true (gtk_widget_is_sensitive (find_action_button (GTK_WIDGET (broker_page), "broker.save-ca")));
  app_test_screenshot (GTK_WIDGET (f->window), "certificate");

  /* 7. What the server has, through a separate client. */
  node = api (f, "GET", "namespaces/home/brokers/sensors", &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "expiration"), ==, 172800);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "description"), ==,
                   "Temperature and humidity");
  g_clear_pointer (&node, json_node_unref);
  node = api (f, "GET", "namespaces/home/brokers/sensors/revocations", &error);
  g_assert_no_error (error);
  list = json_node_get_array (node);
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (list, 0), ==, kitchen_jti);
  g_clear_pointer (&node, json_node_unref);
  {
    g_autofree char *path = g_strdup_printf ("/accounts/%s/starling/namespaces/home/brokers/sensors/credentials",
                                             st_api_client_get_account_id (f->checker));
    guint revoked = 0;

    node = api (f, "GET", path, &error);
    g_assert_no_error (error);
    list = json_node_get_array (node);
    g_assert_cmpuint (json_array_get_length (list), ==, 2);
    for (guint i = 0; i < 2; i++)
      {
        JsonObject *o = json_array_get_object_element (list, i);
        const char *id = json_object_get_string_member (o, "clientId");

        g_assert_true (g_str_equal (id, "kitchen") || g_str_equal (id, "hall"));
        g_assert_cmpstr (json_object_get_string_member (o, "topicAcl"), ==, "home/#");
        g_assert_false (JSON_NODE_HOLDS_NULL (json_object_get_member (o, "exp")));
        if (json_object_get_boolean_member (o, "revoked"))
          {
            revoked++;
            g_assert_cmpstr (id, ==, "kitchen");
            g_assert_cmpstr (json_object_get_string_member (o, "jti"), ==, kitchen_jti);
          }
      }
    g_assert_cmpuint (revoked, ==, 1);
    g_clear_pointer (&node, json_node_unref);
  }

  /* 8. Edit the broker: no expiry, a hook (a real HTTP server here) that
   * delivers when it fails. */
  hook_server = hook_server_new (&n_hook_requests, &hook_url);
  gtk_widget_activate_action (broker_page, "broker.edit", NULL);
  dialog = wait_toplevel (STARLING_TYPE_BROKER_DIALOG);
  wait_until (dialog_idle, dialog, "the broker to load in the dialog");
  g_assert_cmpuint (adw_combo_row_get_selected (child (dialog, STARLING_TYPE_BROKER_DIALOG, "expiration_unit_row")),
                    ==, STARLING_EXPIRY_DAYS);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (child (dialog, STARLING_TYPE_BROKER_DIALOG, "expiration_amount")),
                   ==, 2);
  g_assert_false (gtk_widget_is_sensitive (child (dialog, STARLING_TYPE_BROKER_DIALOG, "failure_row")));
  adw_combo_row_set_selected (child (dialog, STARLING_TYPE_BROKER_DIALOG, "expiration_unit_row"), STARLING_EXPIRY_NONE);
  gtk_editable_set_text (child (dialog, STARLING_TYPE_BROKER_DIALOG, "on_publish_row"), hook_url);
  g_assert_true (gtk_widget_is_sensitive (child (dialog, STARLING_TYPE_BROKER_DIALOG, "failure_row")));
  adw_combo_row_set_selected (child (dialog, STARLING_TYPE_BROKER_DIALOG, "failure_row"), 1);
  click (child (dialog, STARLING_TYPE_BROKER_DIALOG, "save_button"));
  wait_until (is_true, &changed.emitted, "the edited broker");
  g_assert_cmpstr (changed.broker, ==, "sensors");
  changed_clear (&changed);
  node = api (f, "GET", "namespaces/home/brokers/sensors", &error);
  g_assert_no_error (error);
  {
    JsonObject *o = json_node_get_object (node);
    JsonObject *hook = json_object_get_object_member (o, "on_publish");

    g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (o, "expiration")));
    g_assert_nonnull (hook);
    g_assert_cmpstr (json_object_get_string_member (hook, "url"), ==, hook_url);
    g_assert_cmpstr (json_object_get_string_member (hook, "failure"), ==, "deliver");
  }
  g_clear_pointer (&node, json_node_unref);
  row = child (broker_page, STARLING_TYPE_BROKER_PAGE, "on_publish_row");
  hook_row_text = g_strdup_printf ("%s (delivers messages when it fails)", hook_url);
  g_object_set_data (G_OBJECT (row), "expect", hook_row_text);
  wait_until (subtitle_has, row, "the hook on the broker page");
  /* With a hook, its counters (none yet: nothing was published). */
  row = child (broker_page, STARLING_TYPE_BROKER_PAGE, "hook_stats_row");
  g_assert_true (gtk_widget_get_visible (row));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==,
                   "0 sent, 0 delivered, 0 changed, 0 dropped, 0 failed");
  /* They follow the traffic while on screen: a message published now goes
   * through the hook, and the page shows it without a reload.  QoS 0:
   * mosquitto_pub must not wait for an answer the hook (served by this
   * thread, blocked in g_spawn_sync) gives only afterwards. */
  {
    static const char *const query[] = { "clientid", "hook-pub", NULL };
    g_autoptr(JsonNode) issued = st_api_client_request (f->checker, "GET", "namespaces/home/brokers/sensors/credentials",
                                                        query, NULL, NULL, &error);
    g_autofree char *port = g_strdup_printf ("%u", f->server->mqtts_port);
    g_autofree char *err = NULL;
    const char *token;
    int status = 0;

    g_assert_no_error (error);
    token = json_object_get_string_member (json_node_get_object (issued), "hook-pub");
    {
      const char *argv[] = { "mosquitto_pub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", port,
                             "--cafile", f->server->ca_file, "-i", "hook-pub", "-u", "hook-pub", "-P", token,
                             "-t", "home/kitchen/temp", "-m", "21.5", NULL };

      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                    NULL, &err, &status, &error);
    }
    g_assert_no_error (error);
    if (!g_spawn_check_wait_status (status, NULL))
      g_error ("mosquitto_pub failed: %s", err);
    /* They are fetched only while on screen: show the Overview tab. */
    adw_view_stack_set_visible_child_name (child (broker_page, STARLING_TYPE_BROKER_PAGE, "view_stack"), "overview");
    g_object_set_data (G_OBJECT (row), "expect", (gpointer) "1 sent, 1 delivered, 0 changed, 0 dropped, 0 failed");
    wait_until (subtitle_has, row, "the hook's counters to count the message");
    g_assert_cmpuint (n_hook_requests, ==, 1);
  }
  g_assert_cmpstr (adw_action_row_get_subtitle (child (broker_page, STARLING_TYPE_BROKER_PAGE, "expiration_row")),
                   ==, "No expiry");

  /* 8b. The Traffic tab: the inspector exists only once the tab is shown,
   * then issues itself a credential and connects to this broker. */
  {
    AdwBin *traffic = child (broker_page, STARLING_TYPE_BROKER_PAGE, "traffic_bin");

    g_assert_null (adw_bin_get_child (traffic));
    adw_view_stack_set_visible_child_name (child (broker_page, STARLING_TYPE_BROKER_PAGE, "view_stack"), "traffic");
    g_assert_true (STARLING_IS_INSPECTOR (adw_bin_get_child (traffic)));
    wait_until (inspector_connected, adw_bin_get_child (traffic), "the inspector to connect");
    app_test_screenshot (GTK_WIDGET (f->window), "broker-traffic");
  }

  /* 9. Delete the broker, then the namespace, each after its confirmation. */
  wait_until (page_loaded, broker_page, "the broker page to settle");
  gtk_widget_activate_action (broker_page, "broker.delete", NULL);
  dialog = wait_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_nonnull (strstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), "sensors"));
  watch (dialog, &watched);
  click (find_labeled_button (GTK_WIDGET (dialog), "_Delete"));
  wait_until (is_true, &changed.emitted, "the broker page's changed signal");
  wait_gone (&watched);
  g_assert_cmpstr (changed.ns, ==, "home");
  g_assert_null (changed.broker);
  changed_clear (&changed);
  node = api (f, "GET", "namespaces/home/brokers/sensors", &error);
  g_assert_error (error, ST_API_ERROR, 10201);
  g_assert_null (node);
  g_clear_error (&error);

  /* The window makes a new page for what it selects (the old one went
   * with the broker page). */
  ns_page = starling_namespace_page_new (f->client, "home");
  g_signal_connect (ns_page, "changed", G_CALLBACK (changed_cb), &changed);
  adw_toast_overlay_set_child (f->overlay, ns_page);
  wait_until (page_loaded, ns_page, "the namespace page again");
  g_assert_cmpstr (stack_child (ns_page, STARLING_TYPE_NAMESPACE_PAGE, "brokers_stack"), ==, "empty");

  /* 10. An anonymous broker (authType NONE): no credentials to issue, a
   *     snippet without a token. */
  gtk_widget_activate_action (ns_page, "namespace.new-broker", NULL);
  dialog = wait_toplevel (STARLING_TYPE_BROKER_DIALOG);
  gtk_editable_set_text (child (dialog, STARLING_TYPE_BROKER_DIALOG, "name_row"), "open");
  gtk_switch_set_active (child (dialog, STARLING_TYPE_BROKER_DIALOG, "auth_switch"), FALSE);
  g_assert_false (gtk_widget_is_sensitive (child (dialog, STARLING_TYPE_BROKER_DIALOG, "expiration_unit_row")));
  click (child (dialog, STARLING_TYPE_BROKER_DIALOG, "save_button"));
  wait_until (is_true, &changed.emitted, "the anonymous broker");
  g_assert_cmpstr (changed.broker, ==, "open");
  changed_clear (&changed);
  node = api (f, "GET", "namespaces/home/brokers/open", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "authType"), ==, "NONE");
  g_clear_pointer (&node, json_node_unref);
  wait_until (namespace_page_has_broker, ns_page, "the anonymous broker on the namespace page");
  broker_page = starling_broker_page_new (f->client, "home", "open");
  adw_toast_overlay_set_child (f->overlay, broker_page);
  expect[0] = 0;
  expect[1] = 0;
  g_object_set_data (G_OBJECT (broker_page), "expect", expect);
  wait_until (broker_page_lists, broker_page, "the anonymous broker's page");
  g_assert_false (gtk_widget_is_sensitive (find_action_button (GTK_WIDGET (broker_page), "broker.issue")));
  {
    GtkTextBuffer *buffer = gtk_text_view_get_buffer (child (broker_page, STARLING_TYPE_BROKER_PAGE, "mosquitto_view"));
    GtkTextIter start, end;
    g_autofree char *text = NULL;

    gtk_text_buffer_get_bounds (buffer, &start, &end);
    text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
    g_assert_nonnull (strstr (text, "mosquitto_sub -h open.home.localhost -p "));
    g_assert_null (strstr (text, "-P"));
  }
  ns_page = starling_namespace_page_new (f->client, "home");
  g_signal_connect (ns_page, "changed", G_CALLBACK (changed_cb), &changed);
  adw_toast_overlay_set_child (f->overlay, ns_page);
  wait_until (namespace_page_has_broker, ns_page, "the namespace page with the anonymous broker");
  gtk_widget_activate_action (ns_page, "namespace.delete", NULL);
  dialog = wait_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_nonnull (strstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), "home"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "“open”"));
  watch (dialog, &watched);
  click (find_labeled_button (GTK_WIDGET (dialog), "_Delete"));
  wait_until (is_true, &changed.emitted, "the namespace page's changed signal");
  wait_gone (&watched);
  g_assert_null (changed.ns);
  changed_clear (&changed);
  node = api (f, "GET", "namespaces/home", &error);
  g_assert_error (error, ST_API_ERROR, 10200);
  g_clear_error (&error);
  settle ();
}

static void
test_no_display (void)
{
  g_test_skip ("no display: run under xvfb-run");
}

int
main (int argc, char **argv)
{
  g_autoptr(GPtrArray) mime_dirs = g_ptr_array_new_with_free_func (g_free);
  const char *const *system_dirs;

  /* Readable times in the assertions are UTC, in English. */
  g_setenv ("TZ", "UTC", TRUE);
  g_setenv ("LC_ALL", "C", TRUE);
  /* The isolated data dirs hide the MIME database, without which
   * GdkPixbuf cannot tell an SVG icon from noise (AdwStatusPage's big
   * symbolic icons): keep the system's, and only that. */
  system_dirs = g_get_system_data_dirs ();
  for (guint i = 0; system_dirs[i]; i++)
    g_ptr_array_add (mime_dirs, g_build_filename (system_dirs[i], "mime", NULL));
  g_ptr_array_add (mime_dirs, NULL);
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_content_type_set_mime_dirs ((const char *const *) mime_dirs->pdata);

  g_test_add_func ("/app/util/name-check", test_name_check);
  g_test_add_func ("/app/util/time-format", test_time_format);
  g_test_add_func ("/app/util/expiry-units", test_expiry_units);
  g_test_add_func ("/app/credentials/formats", test_credential_formats);
  g_test_add_func ("/app/broker-page/snippets", test_snippets);

  /* The widget test needs a display (meson runs it under xvfb-run); the
   * unit tests above do not. */
  if (gtk_init_check ())
    {
      adw_init ();
      g_test_add ("/app/pages/admin-flow", Fixture, NULL, fixture_setup, test_admin_flow, fixture_teardown);
    }
  else
    g_test_add_func ("/app/pages/admin-flow", test_no_display);
  return g_test_run ();
}
