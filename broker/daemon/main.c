/* starlingd — the Starling broker as a headless daemon. */
#define G_LOG_DOMAIN "starlingd"

#include "config.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon-notify.h"
#include "st-config.h"
#include "st-server.h"
#include "store/st-store.h"
#include "util/st-log.h"

typedef struct {
  StServerConfig config;
  char          *ready_file;
  GMainLoop     *loop;
  StServer      *server;
  int            exit_status;
} Daemon;

static Daemon daemon_state;

static gboolean
on_option (const char *name, const char *value, gpointer data, GError **error)
{
  const char *key = name + 2; /* drop "--" */

  /* --dev is a switch on the command line and "dev = true" in a file. */
  return st_config_set (&daemon_state.config, key, value ? value : "true", error);
}

static gboolean
on_stop_signal (gpointer data)
{
  g_message ("stopping");
  daemon_notify_stopping ();
  g_main_loop_quit (daemon_state.loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_reload_signal (gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ready_json = NULL;

  daemon_notify_reloading ();
  if (st_server_reload_tls (daemon_state.server, &error))
    g_message ("reloaded TLS certificates");
  else
    g_warning ("could not reload TLS certificates: %s", error->message);
  ready_json = st_server_get_ready_json (daemon_state.server);
  daemon_notify_ready (ready_json);
  return G_SOURCE_CONTINUE;
}

static char *
default_data_dir (void)
{
  const char *state = g_getenv ("STATE_DIRECTORY"); /* systemd's StateDirectory= */

  if (state && *state)
    {
      /* it may list several, separated by ':' */
      const char *colon = strchr (state, ':');
      return colon ? g_strndup (state, colon - state) : g_strdup (state);
    }
  return g_build_filename (g_get_user_data_dir (), "starling", NULL);
}

/* starlingd token create|list|revoke: API tokens, managed offline (the
 * store is SQLite in WAL mode, so this works beside a running daemon). */
static int
token_command (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *scope_name = NULL;
  g_autofree char *name = NULL;
  const char *action;
  GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, "The daemon's data directory", "DIR" },
    { "scope", 0, 0, G_OPTION_ARG_STRING, &scope_name, "create: edit (default) or read", "SCOPE" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "create: a name to recognise the token by", "NAME" },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("create|list|revoke [ID] — manage control API tokens");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("starlingd token: %s\n", error->message);
      return 2;
    }
  action = argc > 1 ? argv[1] : NULL;
  if (action == NULL ||
      !(g_str_equal (action, "create") || g_str_equal (action, "list") || g_str_equal (action, "revoke")) ||
      (g_str_equal (action, "revoke") ? argc != 3 : argc != 2))
    {
      g_printerr ("starlingd token: use “token create [--scope edit|read] [--name NAME]”, "
                  "“token list” or “token revoke ID”\n");
      return 2;
    }
  if (data_dir == NULL)
    data_dir = default_data_dir ();
  if (!g_file_test (data_dir, G_FILE_TEST_IS_DIR))
    {
      g_printerr ("starlingd token: no data directory %s (start starlingd once first)\n", data_dir);
      return 1;
    }
  store = st_store_open (data_dir, &error);
  if (store == NULL)
    {
      g_printerr ("starlingd token: %s\n", error->message);
      return 1;
    }

  if (g_str_equal (action, "create"))
    {
      StStoreScope scope = ST_STORE_SCOPE_EDIT;
      g_autoptr(StStoreToken) token = NULL;
      g_autofree char *secret = NULL;

      if (scope_name && !st_store_scope_from_string (scope_name, &scope))
        {
          g_printerr ("starlingd token: --scope is edit or read, not “%s”\n", scope_name);
          return 2;
        }
      token = st_store_token_create (store, name ? name : "cli", scope, &secret, &error);
      if (token == NULL)
        {
          g_printerr ("starlingd token: %s\n", error->message);
          return 1;
        }
      /* The secret alone on stdout, so TOKEN=$(starlingd token create) works;
       * it is shown this once and never again. */
      printf ("%s\n", secret);
      g_printerr ("created API token %s (scope %s)\n", token->id, st_store_scope_to_string (token->scope));
      return 0;
    }
  if (g_str_equal (action, "revoke"))
    {
      if (!st_store_token_revoke (store, argv[2], &error))
        {
          g_printerr ("starlingd token: %s\n", error->message);
          return 1;
        }
      g_printerr ("revoked API token %s\n", argv[2]);
      return 0;
    }

  g_autoptr(GPtrArray) tokens = st_store_token_list (store, &error);
  if (tokens == NULL)
    {
      g_printerr ("starlingd token: %s\n", error->message);
      return 1;
    }
  printf ("%-32s  %-5s  %-7s  %-27s  %-27s  %s\n", "ID", "SCOPE", "STATE", "CREATED", "LAST USED", "NAME");
  for (guint i = 0; i < tokens->len; i++)
    {
      StStoreToken *t = g_ptr_array_index (tokens, i);
      g_autofree char *created = st_store_time_format (t->created_on);
      g_autofree char *used = st_store_time_format (t->last_used);

      printf ("%-32s  %-5s  %-7s  %-27s  %-27s  %s\n", t->id, st_store_scope_to_string (t->scope),
              t->revoked ? "revoked" : "active", created ? created : "-", used ? used : "never", t->name);
    }
  return 0;
}

/* The config file is read before the other flags so that flags win
 * whatever their order on the command line. */
static const char *
find_config_arg (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--"))
        break;
      if (g_str_equal (argv[i], "--config") && i + 1 < argc)
        return argv[i + 1];
      if (g_str_has_prefix (argv[i], "--config="))
        return argv[i] + strlen ("--config=");
    }
  return NULL;
}

static gboolean
ignore_option (const char *name, const char *value, gpointer data, GError **error)
{
  return TRUE;
}

static GOptionEntry *
build_entries (void)
{
  const StConfigKey *keys = st_config_keys ();
  guint n = 0;

  while (keys[n].key)
    n++;

  GOptionEntry *entries = g_new0 (GOptionEntry, n + 3);
  guint e = 0;

  entries[e++] = (GOptionEntry) { "config", 'c', 0, G_OPTION_ARG_CALLBACK, (gpointer) ignore_option,
                                  "Read settings from FILE (flags override it)", "FILE" };
  entries[e++] = (GOptionEntry) { "ready-file", 0, 0, G_OPTION_ARG_FILENAME, &daemon_state.ready_file,
                                  "Once listening, write every listener's address and port to FILE as JSON", "FILE" };
  for (guint i = 0; i < n; i++)
    {
      gboolean is_switch = g_str_equal (keys[i].key, "dev");
      entries[e++] = (GOptionEntry) {
        keys[i].key, 0, is_switch ? G_OPTION_FLAG_NO_ARG : 0, G_OPTION_ARG_CALLBACK,
        (gpointer) on_option, keys[i].description, is_switch ? NULL : keys[i].arg,
      };
    }
  return entries;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree GOptionEntry *entries = NULL;
  gboolean show_version = FALSE;
  const char *config_file;

  setlocale (LC_ALL, "");
  if (argc > 1 && g_str_equal (argv[1], "token"))
    return token_command (argc - 1, argv + 1);
  st_server_config_init (&daemon_state.config);

  config_file = find_config_arg (argc, argv);
  if (config_file && !st_config_load_file (&daemon_state.config, config_file, &error))
    {
      g_printerr ("starlingd: %s\n", error->message);
      return 2;
    }

  GOptionEntry version_entry[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, "Print the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  entries = build_entries ();
  context = g_option_context_new ("— the Starling MQTT broker");
  g_option_context_set_summary (context,
    "Serves MQTT 3.1.1 and 5.0 over TCP, TLS, WebSocket and secure WebSocket.\n"
    "Every flag may also be set in the --config file: [starlingd] for the first\n"
    "group below, [limits] for the max-* and other limit settings.\n"
    "“starlingd token create|list|revoke” manages control API tokens.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, version_entry, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("starlingd: %s\n(see starlingd --help)\n", error->message);
      return 2;
    }
  if (show_version)
    {
      printf ("starlingd %s\n", VERSION);
      return 0;
    }
  if (argc > 1)
    {
      g_printerr ("starlingd: unexpected argument “%s” (see starlingd --help)\n", argv[1]);
      return 2;
    }

  st_log_init ("starlingd", daemon_state.config.log_level);

  if (daemon_state.config.data_dir == NULL)
    daemon_state.config.data_dir = default_data_dir ();

  daemon_state.server = st_server_new (&daemon_state.config, &error);
  if (daemon_state.server == NULL || !st_server_start (daemon_state.server, &error))
    {
      g_printerr ("starlingd: %s\n", error->message);
      g_clear_pointer (&daemon_state.server, st_server_free);
      st_server_config_clear (&daemon_state.config);
      return 1;
    }

  if (daemon_state.config.dev)
    g_message ("development mode: anonymous broker “local” in namespace “dev” answers every listener");

  /* Signals are handled before anyone is told the daemon is ready, so a
   * SIGTERM or SIGHUP that follows the ready file or READY=1 at once
   * finds the handlers (not the default action, which kills). */
  daemon_state.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_stop_signal, NULL);
  g_unix_signal_add (SIGINT, on_stop_signal, NULL);
  g_unix_signal_add (SIGHUP, on_reload_signal, NULL);

  if (daemon_state.ready_file &&
      !st_server_write_ready_file (daemon_state.server, daemon_state.ready_file, &error))
    {
      g_printerr ("starlingd: cannot write ready file: %s\n", error->message);
      g_main_loop_unref (daemon_state.loop);
      st_server_free (daemon_state.server);
      st_server_config_clear (&daemon_state.config);
      return 1;
    }

  /* systemd (Type=notify): the listeners are bound and accepting. */
  g_autofree char *ready_json = st_server_get_ready_json (daemon_state.server);
  daemon_notify_ready (ready_json);

  g_main_loop_run (daemon_state.loop);

  st_server_free (daemon_state.server);
  g_main_loop_unref (daemon_state.loop);
  if (daemon_state.ready_file)
    g_unlink (daemon_state.ready_file);
  g_free (daemon_state.ready_file);
  st_server_config_clear (&daemon_state.config);
  return daemon_state.exit_status;
}
