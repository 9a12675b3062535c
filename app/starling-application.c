#define G_LOG_DOMAIN "starling-application"

#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>

#include "starling-application.h"
#include "starling-window.h"

struct _StarlingApplication
{
  AdwApplication    parent_instance;

  GSettings        *settings;
  GListStore       *servers;
  StarlingEmbedded *embedded;
  StarlingServer   *embedded_server;
  GError           *embedded_error;
  guint             sigint_source;
  guint             sigterm_source;
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

GSettings *
starling_application_get_settings (StarlingApplication *self)
{
  g_return_val_if_fail (STARLING_IS_APPLICATION (self), NULL);
  return self->settings;
}

GListModel *
starling_application_get_servers (StarlingApplication *self)
{
  g_return_val_if_fail (STARLING_IS_APPLICATION (self), NULL);
  return G_LIST_MODEL (self->servers);
}

StarlingServer *
starling_application_get_embedded_server (StarlingApplication *self)
{
  g_return_val_if_fail (STARLING_IS_APPLICATION (self), NULL);
  return self->embedded_server;
}

const GError *
starling_application_get_embedded_error (StarlingApplication *self)
{
  g_return_val_if_fail (STARLING_IS_APPLICATION (self), NULL);
  return self->embedded_error;
}

static gboolean
find_position (StarlingApplication *self,
               const char          *id,
               guint               *position)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->servers));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(StarlingServer) server = g_list_model_get_item (G_LIST_MODEL (self->servers), i);

      if (g_strcmp0 (starling_server_get_id (server), id) == 0)
        {
          *position = i;
          return TRUE;
        }
    }
  return FALSE;
}

StarlingServer *
starling_application_find_server (StarlingApplication *self,
                                  const char          *id)
{
  guint position;
  g_autoptr(StarlingServer) server = NULL;

  g_return_val_if_fail (STARLING_IS_APPLICATION (self), NULL);

  if (id == NULL || !find_position (self, id, &position))
    return NULL;
  /* The store keeps it alive. */
  server = g_list_model_get_item (G_LIST_MODEL (self->servers), position);
  return server;
}

static void
save_servers (StarlingApplication *self)
{
  g_settings_set_value (self->settings, "servers",
                        starling_server_list_to_variant (G_LIST_MODEL (self->servers)));
}

StarlingServer *
starling_application_add_server (StarlingApplication *self,
                                 StarlingServer      *server)
{
  guint position;

  g_return_val_if_fail (STARLING_IS_APPLICATION (self), NULL);
  g_return_val_if_fail (STARLING_IS_SERVER (server), NULL);
  g_return_val_if_fail (!starling_server_is_embedded (server), NULL);

  /* The same URL again is a new token for it, not a second entry. */
  if (find_position (self, starling_server_get_id (server), &position))
    g_list_store_splice (self->servers, position, 1, (gpointer *) &server, 1);
  else
    g_list_store_append (self->servers, server);
  save_servers (self);
  return server;
}

void
starling_application_remove_server (StarlingApplication *self,
                                    StarlingServer      *server)
{
  guint position;

  g_return_if_fail (STARLING_IS_APPLICATION (self));
  g_return_if_fail (STARLING_IS_SERVER (server));

  if (starling_server_is_embedded (server)
      || !g_list_store_find (self->servers, server, &position))
    return;
  g_list_store_remove (self->servers, position);
  save_servers (self);
}

static void
embedded_started (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(StarlingApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!starling_embedded_start_finish (STARLING_EMBEDDED (source), result, &error))
    {
      /* The window shows it on the embedded server's page. */
      g_propagate_error (&self->embedded_error, g_steal_pointer (&error));
      g_object_notify (G_OBJECT (self->embedded_server), "ready");
    }
  g_application_release (G_APPLICATION (self));
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

/* Ctrl+C in the terminal or a SIGTERM: quit as the menu does, so the
 * embedded broker disconnects its clients and flushes its store. */
static gboolean
quit_on_signal (gpointer user_data)
{
  g_action_group_activate_action (G_ACTION_GROUP (user_data), "quit", NULL);
  return G_SOURCE_CONTINUE;
}

static void
starling_application_startup (GApplication *app)
{
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *help_accels[] = { "<Control>question", NULL };
  static const char *new_ns_accels[] = { "<Control>n", NULL };
  static const char *refresh_accels[] = { "F5", "<Control>r", NULL };
  static const char *add_server_accels[] = { "<Control><Shift>n", NULL };

  StarlingApplication *self = STARLING_APPLICATION (app);
  g_autoptr(GPtrArray) saved = NULL;
  g_autoptr(GVariant) saved_value = NULL;
  g_autoptr(GSettingsSchema) schema = NULL;

  G_APPLICATION_CLASS (starling_application_parent_class)->startup (app);

  /* g_settings_new() would abort with a terse message: say how to run
   * an uninstalled build instead. */
  schema = g_settings_schema_source_lookup (g_settings_schema_source_get_default (), APP_ID, TRUE);
  if (schema == NULL)
    {
      g_printerr (_("The settings schema %s is not installed. To run from a build directory, set GSETTINGS_SCHEMA_DIR=BUILD/data (build-aux/run and “meson devenv” do).\n"),
                  APP_ID);
      exit (EXIT_FAILURE);
    }

  self->settings = g_settings_new (APP_ID);
  self->servers = g_list_store_new (STARLING_TYPE_SERVER);
  self->embedded = starling_embedded_new (NULL);
  self->embedded_server = starling_server_new_embedded (self->embedded);
  g_list_store_append (self->servers, self->embedded_server);
  saved_value = g_settings_get_value (self->settings, "servers");
  saved = starling_server_list_from_variant (saved_value);
  g_list_store_splice (self->servers, 1, 0, saved->pdata, saved->len);

  self->sigint_source = g_unix_signal_add (SIGINT, quit_on_signal, app);
  self->sigterm_source = g_unix_signal_add (SIGTERM, quit_on_signal, app);

  /* Held while starting so that a quick quit still waits for the result. */
  g_application_hold (app);
  starling_embedded_start_async (self->embedded, NULL, embedded_started, g_object_ref (self));

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.show-help-overlay", help_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.new-namespace", new_ns_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.refresh", refresh_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.add-server", add_server_accels);
}

static void
starling_application_shutdown (GApplication *app)
{
  StarlingApplication *self = STARLING_APPLICATION (app);

  /* Clients get DISCONNECT 0x8B and the store is flushed before the
   * process ends. */
  if (self->embedded != NULL)
    starling_embedded_stop (self->embedded);
  g_clear_handle_id (&self->sigint_source, g_source_remove);
  g_clear_handle_id (&self->sigterm_source, g_source_remove);

  G_APPLICATION_CLASS (starling_application_parent_class)->shutdown (app);
}

static void
starling_application_dispose (GObject *object)
{
  StarlingApplication *self = STARLING_APPLICATION (object);

  g_clear_object (&self->servers);
  g_clear_object (&self->embedded_server);
  g_clear_object (&self->embedded);
  g_clear_object (&self->settings);
  g_clear_error (&self->embedded_error);

  G_OBJECT_CLASS (starling_application_parent_class)->dispose (object);
}

/* Answered here, in the launching process: --version neither registers
 * on the bus nor reaches a running instance, so it prints and exits even
 * when Starling is already open. */
static int
starling_application_handle_local_options (GApplication *app,
                                           GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("starling %s\n", VERSION);
      return EXIT_SUCCESS;
    }

  return G_APPLICATION_CLASS (starling_application_parent_class)->handle_local_options (app, options);
}

static void
starling_application_class_init (StarlingApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = starling_application_dispose;
  app_class->shutdown = starling_application_shutdown;

  app_class->activate = starling_application_activate;
  app_class->startup = starling_application_startup;
  app_class->handle_local_options = starling_application_handle_local_options;
}

static void
starling_application_init (StarlingApplication *self)
{
  /* Before any string is translated. */
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* GApplication's main option group has no translation domain of its
   * own: --help translates this through the default one, set above. */
  g_application_add_main_option (G_APPLICATION (self), "version", 0,
                                 G_OPTION_FLAG_NONE, G_OPTION_ARG_NONE,
                                 N_("Print the version and exit"), NULL);
}
