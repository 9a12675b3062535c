/* The real window in French: StarlingApplication under Xvfb with
 * LANGUAGE=fr and the translations built from po/ (the build's .mo, not
 * an installed one), its empty state, a template's tooltip and a label
 * made in C all translated, plural forms with 64-bit counts, and
 * screenshots of the empty state and of a namespace page in
 * <build>/tests/app/screenshots/translated-fr*.png. */
#define G_LOG_DOMAIN "test-app-translated"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "app-test.h"
#include "starling-application.h"
#include "starling-util.h"
#include "starling-window.h"

#define WAIT_MS 60000
#define LANG_CODE "fr"

/* XDG_DATA_DIRS before G_TEST_OPTION_ISOLATE_DIRS replaced it. */
static char *system_data_dirs;

static gboolean
window_loaded (gpointer data)
{
  StarlingWindow *window = data;
  StarlingServer *server = starling_window_get_server (window);

  return server != NULL && starling_server_is_ready (server)
         && !starling_window_is_busy (window)
         && starling_window_get_view (window) != NULL;
}

/* A widget under root whose tooltip is tooltip, or NULL. */
static GtkWidget *
find_tooltip (GtkWidget  *root,
              const char *tooltip)
{
  if (g_strcmp0 (gtk_widget_get_tooltip_text (root), tooltip) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_tooltip (child, tooltip);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* A mapped GtkLabel under root that shows text, or NULL. */
static GtkWidget *
find_label (GtkWidget  *root,
            const char *text)
{
  if (GTK_IS_LABEL (root) && gtk_widget_get_mapped (root)
      && g_strcmp0 (gtk_label_get_text (GTK_LABEL (root)), text) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The translation of msgid from the app's catalogue, checked to be one. */
static const char *
translated (const char *msgid)
{
  const char *text = g_dgettext (GETTEXT_PACKAGE, msgid);

  g_assert_cmpstr (text, !=, msgid);
  return text;
}

typedef struct {
  gboolean ran;
} Fixture;

static void
drive (StarlingApplication *app,
       Fixture             *fixture)
{
  StarlingWindow *window = STARLING_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  StarlingServer *embedded = starling_application_get_embedded_server (app);
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = NULL;
  GtkWidget *button;

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

  /* The empty state, its title and text set from C. */
  g_assert_true (app_test_wait (window_loaded, window, WAIT_MS));
  g_assert_cmpstr (starling_window_get_view (window), ==, "status");
  g_assert_cmpstr (adw_status_page_get_title (starling_window_get_status_page (window)), ==,
                   "Aucun espace de noms pour l’instant");
  g_assert_cmpstr (adw_status_page_get_description (starling_window_get_status_page (window)), ==,
                   translated ("A namespace holds brokers, and each broker is an MQTT server of its own "
                               "with its own tokens. Create a namespace to begin."));

  /* A string from the window's template (GtkBuilder, translatable="yes"):
   * the French tooltip is there and the English one is not. */
  button = find_tooltip (GTK_WIDGET (window), translated ("Create a Namespace"));
  g_assert_nonnull (button);
  g_assert_true (GTK_IS_BUTTON (button));
  g_assert_null (find_tooltip (GTK_WIDGET (window), "Create a Namespace"));
  app_test_screenshot (GTK_WIDGET (window), "translated-" LANG_CODE);

  /* A namespace (made through the API): the sidebar's heading, a label
   * made in C, and the namespace page. */
  body = json_from_string ("{\"name\": \"maison\"}", NULL);
  created = st_api_client_request (starling_server_get_client (embedded), "POST", "namespaces",
                                   NULL, body, NULL, &error);
  g_assert_no_error (error);
  starling_window_reload (window, "maison", NULL);
  g_assert_true (app_test_wait (window_loaded, window, WAIT_MS));
  g_assert_cmpstr (starling_window_get_view (window), ==, "namespace");
  app_test_settle (500);
  g_assert_nonnull (find_label (GTK_WIDGET (window), translated ("Namespaces")));
  g_assert_null (find_label (GTK_WIDGET (window), "Namespaces"));
  app_test_screenshot (GTK_WIDGET (window), "translated-" LANG_CODE "-namespace");

  /* Plurals whose count is a guint64: the msgids hold <inttypes.h>
   * macros ("%" PRIu64), which the catalogue resolves at run time. */
  {
    g_autofree char *days = starling_format_duration (2 * 86400);
    g_autofree char *second = starling_format_duration (1);
    g_autofree char *seconds = starling_format_duration (90);
    g_autofree char *ago = starling_format_relative (0, 3 * 3600);

    g_assert_cmpstr (days, ==, "2 jours");
    g_assert_cmpstr (second, ==, "1 seconde");
    g_assert_cmpstr (seconds, ==, "90 secondes");
    g_assert_cmpstr (ago, ==, "il y a 3 heures");
  }

  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
}

static void
activate_cb (StarlingApplication *app,
             Fixture             *fixture)
{
  drive (app, fixture);
}

static void
test_translated (void)
{
  Fixture fixture = { 0 };
  g_autoptr(StarlingApplication) app = NULL;
  const char *builddir = g_getenv ("STARLING_BUILDDIR");
  g_autofree char *localedir = NULL;
  g_autofree char *mo = NULL;
  int status;

  g_assert_nonnull (builddir);
  /* Where meson's i18n.gettext builds the catalogues: <build>/po/<lang>/
   * LC_MESSAGES/starling.mo. */
  localedir = g_build_filename (builddir, "po", NULL);
  mo = g_build_filename (localedir, LANG_CODE, "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);
  g_assert_true (g_file_test (mo, G_FILE_TEST_IS_REGULAR));

  /* See test_shell: the MIME database for SVG icons. */
  if (system_data_dirs != NULL)
    {
      g_autofree char *dirs = g_strconcat (g_getenv ("XDG_DATA_DIRS"), ":", system_data_dirs, NULL);

      g_setenv ("XDG_DATA_DIRS", dirs, TRUE);
    }

  app = starling_application_new ();
  /* The application bound the installed LOCALEDIR; the build's
   * catalogues instead, before anything is translated. */
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (activate_cb), &fixture);
  status = g_application_run (G_APPLICATION (app), 0, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_true (fixture.ran);
}

int
main (int argc, char *argv[])
{
  /* As `LANGUAGE=fr starling` in a UTF-8 locale: C.UTF-8 exists
   * everywhere, and gettext honours LANGUAGE in any locale but "C".
   * Set before GTK calls setlocale(). */
  g_setenv ("LANGUAGE", LANG_CODE, TRUE);
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  setlocale (LC_ALL, "");

  system_data_dirs = g_strdup (g_getenv ("XDG_DATA_DIRS") ? g_getenv ("XDG_DATA_DIRS") : "/usr/local/share:/usr/share");
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/app/translated/" LANG_CODE, test_translated);

  int status = g_test_run ();

  g_free (system_data_dirs);
  return status;
}
