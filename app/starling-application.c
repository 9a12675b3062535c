#define G_LOG_DOMAIN "starling-application"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-application.h"
#include "starling-window.h"

struct _StarlingApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (StarlingApplication, starling_application, ADW_TYPE_APPLICATION)

StarlingApplication *
starling_application_new (void)
{
  return g_object_new (STARLING_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/starlingmq/Starling",
                       NULL);
}

static void
starling_application_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (starling_window_new (STARLING_APPLICATION (app)));
  gtk_window_present (window);
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  GApplication *app = G_APPLICATION (user_data);
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (app));

  /* Closing the windows (rather than g_application_quit) lets each one
   * save its state; the application then ends when the last is gone. */
  for (GList *l = g_list_copy (windows); l != NULL; l = g_list_delete_link (l, l))
    gtk_window_close (GTK_WINDOW (l->data));
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  GtkApplication *app = GTK_APPLICATION (user_data);
  static const char *developers[] = { "The Starling authors", NULL };
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (app),
                        "modal", TRUE,
                        "application-name", _("Starling"),
                        "application-icon", APP_ID,
                        "developer-name", _("The Starling authors"),
                        "developers", developers,
                        "version", VERSION,
                        "comments", _("Set up MQTT brokers, namespaces and tokens: a self-hosted, Cloudflare Pub/Sub compatible MQTT service."),
                        "website", "https://github.com/starlingmq/starling",
                        "issue-url", "https://github.com/starlingmq/starling/issues",
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "copyright", "© 2026 The Starling authors",
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static const GActionEntry app_actions[] = {
  { "quit", quit_activated, NULL, NULL, NULL },
  { "about", about_activated, NULL, NULL, NULL },
};

static void
starling_application_startup (GApplication *app)
{
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *help_accels[] = { "<Control>question", NULL };
  static const char *new_ns_accels[] = { "<Control>n", NULL };
  static const char *refresh_accels[] = { "F5", "<Control>r", NULL };
  static const char *add_server_accels[] = { "<Control><Shift>n", NULL };

  G_APPLICATION_CLASS (starling_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.show-help-overlay", help_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.new-namespace", new_ns_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.refresh", refresh_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.add-server", add_server_accels);
}

static void
starling_application_class_init (StarlingApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->activate = starling_application_activate;
  app_class->startup = starling_application_startup;
}

static void
starling_application_init (StarlingApplication *self)
{
  /* Before any string is translated. */
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}
