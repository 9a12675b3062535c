/* The shell driven for real under Xvfb: StarlingApplication with its
 * embedded broker (free ports, the test's own data dir), the sidebar
 * loaded through the control API, the empty state, the add-server dialog
 * against a second in-process broker (wrong token refused and not saved,
 * right token saved in GSettings), switching servers, and a clean stop of
 * the embedded broker on quit.  Screenshots of the main views land in
 * <build>/tests/app/screenshots/. */
#define G_LOG_DOMAIN "test-app-shell"

#include "config.h"

#include <json-glib/json-glib.h>

#include "app-test.h"
#include "st-server.h"
#include "starling-add-server-dialog.h"
#include "starling-application.h"
#include "starling-namespace-dialog.h"
#include "starling-window.h"
#include "test-server.h"

#define WAIT_SECONDS 60

/* XDG_DATA_DIRS before G_TEST_OPTION_ISOLATE_DIRS replaced it. */
static char *system_data_dirs;

typedef gboolean (*Condition) (gpointer data);

static gboolean
wait_for (Condition cond,
          gpointer  data)
{
  return app_test_wait (cond, data, WAIT_SECONDS * 1000);
}

static gboolean
window_loaded (gpointer data)
{
  StarlingWindow *window = data;
  StarlingServer *server = starling_window_get_server (window);

  return server != NULL && starling_server_is_ready (server)
         && !starling_window_is_busy (window)
         && starling_window_get_view (window) != NULL;
}

/* ---- The test ---------------------------------------------------------- */

typedef struct {
  TestServer *remote;   /* a second broker: the "remote" server */
  guint16  embedded_api_port;
  gboolean ran;
} Fixture;

static JsonNode *
api (StApiClient *client,
     const char  *method,
     const char  *path,
     const char  *body_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = body_json ? json_from_string (body_json, NULL) : NULL;
  JsonNode *result = st_api_client_request (client, method, path, NULL, body, NULL, &error);

  g_assert_no_error (error);
  return result;
}

/* A visible toplevel of that type, or NULL. */
static GtkWindow *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not ours */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) toplevel = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (toplevel, type) && gtk_widget_get_visible (GTK_WIDGET (toplevel)))
        return toplevel;
    }
  return NULL;
}

static gboolean
dialog_idle (gpointer data)
{
  return !starling_add_server_dialog_is_busy (data);
}

static gboolean
server_switched (gpointer data)
{
  StarlingWindow *window = data;

  return !starling_server_is_embedded (starling_window_get_server (window)) && window_loaded (window);
}

static void
assert_setting (GSettings  *settings,
                const char *key,
                const char *expected)
{
  g_autofree char *value = g_settings_get_string (settings, key);

  g_assert_cmpstr (value, ==, expected);
}

static guint
saved_servers (GSettings *settings)
{
  g_autoptr(GVariant) value = g_settings_get_value (settings, "servers");

  return g_variant_n_children (value);
}

static void
drive (StarlingApplication *app,
       Fixture             *fixture)
{
  StarlingWindow *window = STARLING_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  GSettings *settings = starling_application_get_settings (app);
  StarlingServer *embedded = starling_application_get_embedded_server (app);
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) created_broker = NULL;
  g_autoptr(GVariant) saved = NULL;
  g_autoptr(GUri) uri = NULL;
  StarlingAddServerDialog *dialog;
  g_autofree char *remote_url = NULL;
  const char *url, *token;

  fixture->ran = TRUE;
  g_assert_true (STARLING_IS_WINDOW (window));

  /* GLib caches the isolated XDG_DATA_DIRS for GTK's icon theme, which
   * then finds no theme icons: the screenshots should show them. */
  {
    GtkIconTheme *theme = gtk_icon_theme_get_for_display (gtk_widget_get_display (GTK_WIDGET (window)));
    g_auto(GStrv) dirs = g_strsplit (system_data_dirs, ":", -1);

    for (guint i = 0; dirs[i] != NULL; i++)
      {
        g_autofree char *icons = g_build_filename (dirs[i], "icons", NULL);

        gtk_icon_theme_add_search_path (theme, icons);
      }
  }
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 680);

  /* The embedded broker starts and the sidebar loads: nothing there yet,
   * and the empty state says what to do. */
  g_assert_true (wait_for (window_loaded, window));
  g_assert_true (starling_window_get_server (window) == embedded);
  g_assert_true (starling_server_is_ready (embedded));
  g_assert_cmpuint (starling_window_get_n_namespaces (window), ==, 0);
  g_assert_cmpstr (starling_window_get_view (window), ==, "status");
  g_assert_cmpstr (adw_status_page_get_title (starling_window_get_status_page (window)), ==, "No Namespaces Yet");
  app_test_screenshot (GTK_WIDGET (window), "shell-empty");

  url = starling_server_get_api_url (embedded);
  token = starling_server_get_token (embedded);
  g_assert_nonnull (url);
  g_assert_nonnull (token);
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  g_assert_nonnull (uri);
  fixture->embedded_api_port = g_uri_get_port (uri);

  /* The server page shows the listeners and the token. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-server", NULL);
  g_assert_cmpstr (starling_window_get_view (window), ==, "server");
  app_test_screenshot (GTK_WIDGET (window), "shell-server");

  /* Made elsewhere (through the API), shown after a reload, and the
   * selection asked for is what is shown. */
  created = api (starling_server_get_client (embedded), "POST", "namespaces", "{\"name\": \"home\"}");
  created_broker = api (starling_server_get_client (embedded), "POST", "namespaces/home/brokers", "{\"name\": \"sensors\"}");
  starling_window_reload (window, "home", NULL);
  g_assert_true (wait_for (window_loaded, window));
  g_assert_cmpuint (starling_window_get_n_namespaces (window), ==, 1);
  g_assert_cmpuint (starling_window_get_n_brokers (window), ==, 1);
  g_assert_cmpstr (starling_window_get_view (window), ==, "namespace");
  assert_setting (settings, "selected-namespace", "home");
  app_test_settle (500);
  app_test_screenshot (GTK_WIDGET (window), "shell-namespace");

  starling_window_reload (window, "home", "sensors");
  g_assert_true (wait_for (window_loaded, window));
  g_assert_cmpstr (starling_window_get_view (window), ==, "broker");
  app_test_settle (500);
  app_test_screenshot (GTK_WIDGET (window), "shell-broker");

  /* The about window and the shortcuts window open (their .ui parse). */
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  {
    GtkWindow *about = find_toplevel (ADW_TYPE_ABOUT_WINDOW);

    g_assert_nonnull (about);
    g_assert_cmpstr (adw_about_window_get_application_icon (ADW_ABOUT_WINDOW (about)), ==, APP_ID);
    app_test_screenshot (GTK_WIDGET (about), "shell-about");
    gtk_window_destroy (about);
  }
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL);
  {
    GtkWindow *shortcuts = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);

    g_assert_nonnull (shortcuts);
    app_test_screenshot (GTK_WIDGET (shortcuts), "shell-shortcuts");
    gtk_widget_set_visible (GTK_WIDGET (shortcuts), FALSE);
  }

  /* "New Namespace" (Ctrl+N) opens app-pages' dialog, modal over the
   * window. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.new-namespace", NULL);
  {
    GtkWindow *ns_dialog = find_toplevel (STARLING_TYPE_NAMESPACE_DIALOG);

    g_assert_nonnull (ns_dialog);
    g_assert_true (gtk_window_get_transient_for (ns_dialog) == GTK_WINDOW (window));
    g_assert_true (gtk_window_get_modal (ns_dialog));
    app_test_screenshot (GTK_WIDGET (ns_dialog), "shell-new-namespace");
    gtk_window_destroy (ns_dialog);
  }

  /* A page's "changed" signal: reload, then select what it names.  The
   * broker deleted (elsewhere): its namespace is selected... */
  g_clear_pointer (&created_broker, json_node_unref);
  created_broker = api (starling_server_get_client (embedded), "DELETE", "namespaces/home/brokers/sensors", NULL);
  g_signal_emit_by_name (starling_window_get_page (window), "changed", "home", NULL);
  g_assert_true (wait_for (window_loaded, window));
  g_assert_cmpstr (starling_window_get_view (window), ==, "namespace");
  g_assert_cmpuint (starling_window_get_n_brokers (window), ==, 0);
  assert_setting (settings, "selected-broker", "");

  /* ...and after the namespace went too, nothing: the empty state. */
  g_clear_pointer (&created, json_node_unref);
  created = api (starling_server_get_client (embedded), "DELETE", "namespaces/home", NULL);
  g_signal_emit_by_name (starling_window_get_page (window), "changed", NULL, NULL);
  g_assert_true (wait_for (window_loaded, window));
  g_assert_cmpuint (starling_window_get_n_namespaces (window), ==, 0);
  g_assert_cmpstr (starling_window_get_view (window), ==, "status");
  g_assert_cmpstr (adw_status_page_get_title (starling_window_get_status_page (window)), ==, "No Namespaces Yet");

  /* Made again for the switch back below. */
  g_clear_pointer (&created, json_node_unref);
  created = api (starling_server_get_client (embedded), "POST", "namespaces", "{\"name\": \"home\"}");
  starling_window_reload (window, NULL, NULL);
  g_assert_true (wait_for (window_loaded, window));
  g_assert_cmpuint (starling_window_get_n_namespaces (window), ==, 1);

  /* Add server: a wrong token is refused with the server's message and
   * nothing is saved. */
  dialog = STARLING_ADD_SERVER_DIALOG (starling_window_add_server (window));
  g_object_ref (dialog);
  starling_add_server_dialog_set_fields (dialog, fixture->remote->api_url, "wrong-token");
  starling_add_server_dialog_submit (dialog);
  g_assert_true (starling_add_server_dialog_is_busy (dialog));
  g_assert_true (wait_for (dialog_idle, dialog));
  g_assert_nonnull (starling_add_server_dialog_get_error (dialog));
  g_test_message ("wrong token: %s", starling_add_server_dialog_get_error (dialog));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (dialog)));
  g_assert_cmpuint (saved_servers (settings), ==, 0);
  g_assert_true (starling_server_is_embedded (starling_window_get_server (window)));
  app_test_screenshot (GTK_WIDGET (dialog), "shell-add-server-error");

  /* An URL that is no URL never reaches the network. */
  starling_add_server_dialog_set_fields (dialog, "ftp://nowhere", fixture->remote->token);
  starling_add_server_dialog_submit (dialog);
  g_assert_false (starling_add_server_dialog_is_busy (dialog));
  g_assert_nonnull (starling_add_server_dialog_get_error (dialog));

  /* The right token: saved, and the window switches to it (an empty
   * server: the empty state). */
  starling_add_server_dialog_set_fields (dialog, fixture->remote->api_url, fixture->remote->token);
  starling_add_server_dialog_submit (dialog);
  g_assert_true (wait_for (server_switched, window));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (dialog)));
  g_object_unref (dialog);
  saved = g_settings_get_value (settings, "servers");
  g_assert_cmpuint (g_variant_n_children (saved), ==, 1);
  {
    const char *saved_url, *saved_token;

    g_variant_get_child (saved, 0, "(&s&s)", &saved_url, &saved_token);
    g_assert_cmpstr (saved_url, ==, fixture->remote->api_url);
    g_assert_cmpstr (saved_token, ==, fixture->remote->token);
  }
  assert_setting (settings, "selected-server", fixture->remote->api_url);
  g_assert_cmpuint (g_list_model_get_n_items (starling_application_get_servers (app)), ==, 2);
  g_assert_cmpuint (starling_window_get_n_namespaces (window), ==, 0);
  g_assert_cmpstr (adw_status_page_get_title (starling_window_get_status_page (window)), ==, "No Namespaces Yet");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-server", NULL);
  app_test_screenshot (GTK_WIDGET (window), "shell-remote-server");

  remote_url = g_strdup (fixture->remote->api_url);

  /* The remote server gone: the window says so, with its error, and
   * offers to try again. */
  g_clear_pointer (&fixture->remote, test_server_free);
  starling_window_reload (window, NULL, NULL);
  g_assert_true (wait_for (window_loaded, window));
  g_assert_cmpstr (starling_window_get_view (window), ==, "status");
  g_assert_cmpstr (adw_status_page_get_title (starling_window_get_status_page (window)), ==, "Could Not Reach the Server");
  g_assert_nonnull (adw_status_page_get_description (starling_window_get_status_page (window)));
  g_test_message ("unreachable: %s", adw_status_page_get_description (starling_window_get_status_page (window)));
  app_test_screenshot (GTK_WIDGET (window), "shell-unreachable");

  /* Switching by hand: back to the embedded broker and its namespace,
   * then to the remote one again. */
  starling_window_set_server (window, embedded);
  g_assert_true (wait_for (window_loaded, window));
  g_assert_cmpuint (starling_window_get_n_namespaces (window), ==, 1);
  assert_setting (settings, "selected-server", STARLING_SERVER_EMBEDDED_ID);
  starling_window_set_server (window, starling_application_find_server (app, remote_url));
  g_assert_true (wait_for (window_loaded, window));
  assert_setting (settings, "selected-server", remote_url);

  /* "Remove Server…" asks first; "Remove" forgets it, and the window
   * falls back to the embedded broker. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.remove-server", NULL);
  {
    GtkWindow *confirm = find_toplevel (ADW_TYPE_MESSAGE_DIALOG);

    g_assert_nonnull (confirm);
    g_assert_cmpuint (saved_servers (settings), ==, 1);
    app_test_screenshot (GTK_WIDGET (confirm), "shell-remove-server");
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (confirm), "remove");
  }
  g_assert_cmpuint (saved_servers (settings), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (starling_application_get_servers (app)), ==, 1);
  g_assert_true (starling_window_get_server (window) == embedded);
  g_assert_true (wait_for (window_loaded, window));
  g_assert_cmpuint (starling_window_get_n_namespaces (window), ==, 1);
  assert_setting (settings, "selected-server", STARLING_SERVER_EMBEDDED_ID);

  /* Quitting closes the window, which saves its size. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 1000);
}

static void
activate_cb (StarlingApplication *app,
             Fixture             *fixture)
{
  drive (app, fixture);
}

static void
test_shell (void)
{
  Fixture fixture = { 0 };
  g_autoptr(StarlingApplication) app = NULL;
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  /* The isolated XDG_DATA_DIRS lacks the MIME database, without which
   * gdk-pixbuf cannot tell an SVG icon from anything else: the system's
   * are read-only, so add them back. */
  if (system_data_dirs != NULL)
    {
      g_autofree char *dirs = g_strconcat (g_getenv ("XDG_DATA_DIRS"), ":", system_data_dirs, NULL);

      g_setenv ("XDG_DATA_DIRS", dirs, TRUE);
    }

  {
    g_autofree char *remote_dir = g_build_filename (g_get_user_data_dir (), "remote", NULL);

    fixture.remote = test_server_start (remote_dir, TRUE);
  }

  app = starling_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (activate_cb), &fixture);
  status = g_application_run (G_APPLICATION (app), 0, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_true (fixture.ran);

  /* The shutdown handler stopped the embedded broker: its API port is
   * closed. */
  g_assert_false (starling_server_is_ready (starling_application_get_embedded_server (app)));
  connection = g_socket_client_connect_to_host (socket_client, "127.0.0.1", fixture.embedded_api_port, NULL, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);

  g_clear_pointer (&fixture.remote, test_server_free);
}

int
main (int argc, char *argv[])
{
  system_data_dirs = g_strdup (g_getenv ("XDG_DATA_DIRS") ? g_getenv ("XDG_DATA_DIRS") : "/usr/local/share:/usr/share");
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/app/shell", test_shell);

  int status = g_test_run ();

  g_free (system_data_dirs);
  return status;
}
