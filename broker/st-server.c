#define G_LOG_DOMAIN "starling-server"

#include "st-server.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "api/api-server.h"
#include "net/net-server.h"
#include "store/st-store.h"

struct _StServer
{
  StServerConfig config;
  StEngine      *engine;
  StMqttStore   *mqtt_store;
  StNet         *net;
  StStore       *store;        /* control plane: account, tokens, namespaces, brokers */
  StApiServer   *api;          /* keeps engine brokers in step with the store; the control thread */
  int            lock_fd;      /* DATA/lock, flocked while this server owns the directory */
  gboolean       running;
};

static const char *default_listen[ST_N_LISTENER_KINDS] = {
  [ST_LISTENER_MQTT]  = "127.0.0.1:1883",
  [ST_LISTENER_MQTTS] = "127.0.0.1:8883",
  [ST_LISTENER_WS]    = "127.0.0.1:8083",
  [ST_LISTENER_WSS]   = "127.0.0.1:8884",
};

void
st_server_config_init (StServerConfig *config)
{
  memset (config, 0, sizeof *config);
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    config->listen[i] = g_strdup (default_listen[i]);
  config->api_listen = g_strdup ("127.0.0.1:8080");
  config->public_host = g_strdup ("localhost");
  config->log_level = G_LOG_LEVEL_MESSAGE;
  config->durability = ST_DURABILITY_BATCH;
  st_limits_init (&config->limits);
}

void
st_server_config_clear (StServerConfig *config)
{
  g_clear_pointer (&config->data_dir, g_free);
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    g_clear_pointer (&config->listen[i], g_free);
  g_clear_pointer (&config->api_listen, g_free);
  g_clear_pointer (&config->public_host, g_free);
  g_clear_pointer (&config->tls_cert_file, g_free);
  g_clear_pointer (&config->tls_key_file, g_free);
}

static void
config_copy (StServerConfig *dst, const StServerConfig *src)
{
  *dst = *src;
  dst->data_dir = g_strdup (src->data_dir);
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    dst->listen[i] = g_strdup (src->listen[i]);
  dst->api_listen = g_strdup (src->api_listen);
  dst->public_host = g_strdup (src->public_host ? src->public_host : "localhost");
  dst->tls_cert_file = g_strdup (src->tls_cert_file);
  dst->tls_key_file = g_strdup (src->tls_key_file);
}

/* --dev: namespace "dev" and broker "local" with authType NONE exist in
 * the store like any other (the API lists them, the app shows them, their
 * MQTT state is kept), made when missing and set back to NONE when
 * someone changed that. */
static gboolean
ensure_dev_broker (StStore *store, char **broker_id, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(StStoreNamespace) ns = NULL;
  g_autoptr(StStoreBroker) broker = NULL;
  StStoreBroker values = {
    .name = (char *) "local",
    .description = (char *) "Anonymous broker for local development (starlingd --dev)",
    .auth_type = ST_STORE_AUTH_NONE,
    .expiration = -1,
  };

  ns = st_store_namespace_get (store, "dev", &local_error);
  if (ns == NULL && g_error_matches (local_error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND))
    {
      g_clear_error (&local_error);
      ns = st_store_namespace_create (store, "dev", "Local development (starlingd --dev)",
                                      &local_error);
    }
  if (ns == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  broker = st_store_broker_get (store, "dev", "local", &local_error);
  if (broker == NULL && g_error_matches (local_error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND))
    {
      g_clear_error (&local_error);
      broker = st_store_broker_create (store, "dev", &values, &local_error);
    }
  else if (broker != NULL && broker->auth_type != ST_STORE_AUTH_NONE)
    {
      g_clear_pointer (&broker, st_store_broker_free);
      broker = st_store_broker_update (store, "dev", "local", &values, ST_STORE_BROKER_AUTH_TYPE,
                                       &local_error);
    }
  if (broker == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  *broker_id = g_strdup (broker->id);
  return TRUE;
}

/* One server per data directory: two would load and write the same MQTT
 * sessions behind each other's back (a starlingd and the app's embedded
 * broker both default to ~/.local/share/starling). The lock is an flock
 * on DATA/lock, so a crashed owner never leaves it held; the file names
 * the owner's pid for the error message. Offline tools (starlingd token)
 * open the control-plane store only and need no lock. */
static int
lock_data_dir (const char *data_dir, GError **error)
{
  g_autofree char *path = g_build_filename (data_dir, "lock", NULL);
  char pid[32] = "";
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s", path,
                   g_strerror (saved));
      return -1;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved = errno;
      ssize_t n = pread (fd, pid, sizeof pid - 1, 0);

      pid[MAX (n, 0)] = '\0';
      g_strchomp (pid);
      if (saved == EWOULDBLOCK)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                     "data directory %s is in use by another Starling server%s%s%s "
                     "(a starlingd or the app's embedded broker); stop it, or choose another --data-dir",
                     data_dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot lock %s: %s", path,
                     g_strerror (saved));
      close (fd);
      return -1;
    }
  g_snprintf (pid, sizeof pid, "%ld\n", (long) getpid ());
  if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, strlen (pid), 0) < 0)
    g_debug ("%s: cannot record the pid: %s", path, g_strerror (errno));
  return fd;
}

/* A data directory's first start (no API token yet) gets an admin token,
 * so that the operator can reach the control API at all.  The secret is
 * shown nowhere but in the file: only its hash is stored, and logs are
 * often kept where the data directory's 0700 would not protect it. */
static gboolean
ensure_admin_token (StServer *server, GError **error)
{
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(StStoreToken) token = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *path = g_build_filename (server->config.data_dir, ST_SERVER_ADMIN_TOKEN_FILE, NULL);

  if ((tokens = st_store_token_list (server->store, error)) == NULL)
    return FALSE;
  if (tokens->len > 0)
    {
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        g_message ("control API admin token in %s", path);
      return TRUE;
    }

  token = st_store_token_create (server->store, "admin", ST_STORE_SCOPE_EDIT, &secret, error);
  if (token == NULL)
    return FALSE;
  contents = g_strconcat (secret, "\n", NULL);
  if (!g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    {
      /* Without the file nobody could use the token: take it back, so the
       * next start tries again. */
      st_store_token_revoke (server->store, token->id, NULL);
      return FALSE;
    }
  g_message ("created an admin API token (scope edit) in %s", path);
  return TRUE;
}

StServer *
st_server_new (const StServerConfig *config, GError **error)
{
  g_autofree char *dev_broker_id = NULL;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->data_dir != NULL, NULL);

  if ((config->tls_cert_file == NULL) != (config->tls_key_file == NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "a TLS certificate needs its key and a key its certificate (give both or neither)");
      return NULL;
    }

  if (g_mkdir_with_parents (config->data_dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create data directory %s: %s", config->data_dir, g_strerror (saved));
      return NULL;
    }

  int lock_fd = lock_data_dir (config->data_dir, error);
  if (lock_fd < 0)
    return NULL;

  /* MQTT state has a file of its own: its writes come from the store
   * thread alone and never queue behind control-plane transactions. */
  g_autofree char *mqtt_db = g_build_filename (config->data_dir, "mqtt.db", NULL);
  StMqttStore *mqtt_store = st_mqtt_store_open (mqtt_db, config->durability, error);
  if (mqtt_store == NULL)
    {
      close (lock_fd);
      return NULL;
    }

  StServer *server = g_new0 (StServer, 1);
  server->lock_fd = lock_fd;
  config_copy (&server->config, config);
  server->mqtt_store = mqtt_store;
  if (server->config.threads == 0)
    server->config.threads = MAX (1, g_get_num_processors ());

  server->engine = st_engine_new (&server->config.limits);
  /* Before any broker is added: each restores its state as it is. */
  st_engine_set_store (server->engine, server->mqtt_store);
  st_engine_set_public_host (server->engine, server->config.public_host);

  server->store = st_store_open (server->config.data_dir, error);
  if (server->store == NULL || !ensure_admin_token (server, error)
      || (server->config.dev && !ensure_dev_broker (server->store, &dev_broker_id, error)))
    {
      st_server_free (server);
      return NULL;
    }

  /* Every stored broker is an MQTT world from the start, before any
   * listener opens. */
  server->api = st_api_server_new (server->store, server->engine, server->config.public_host);
  if (!st_api_server_load_brokers (server->api, error))
    {
      st_server_free (server);
      return NULL;
    }

  if (dev_broker_id)
    st_engine_set_default_broker (server->engine,
                                  st_api_server_get_engine_broker (server->api, dev_broker_id));

  return server;
}

/* The control thread, when a namespace is created or deleted. */
static void
on_namespace_changed (const char *name, gboolean exists, gpointer user_data)
{
  StServer *server = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *folded = g_ascii_strdown (name, -1);

  if (!exists)
    st_net_remove_tls_namespace (server->net, folded);
  else if (!st_net_add_tls_namespace (server->net, folded, &error))
    g_warning ("%s (its brokers get the default certificate)", error->message);
}

/* Every namespace gets its TLS certificate before any client connects;
 * one that cannot is only a warning: its brokers get the default
 * certificate. */
static void
load_tls_namespaces (StServer *server)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = st_store_namespace_list (server->store, &error);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  if (list == NULL)
    {
      g_warning ("cannot list namespaces for their TLS certificates: %s", error->message);
      return;
    }
  for (guint i = 0; i < list->len; i++)
    g_ptr_array_add (names, ((StStoreNamespace *) g_ptr_array_index (list, i))->name);
  if (server->config.dev)
    g_ptr_array_add (names, (gpointer) "dev");
  g_ptr_array_add (names, NULL);
  if (!st_net_set_tls_namespaces (server->net, (const char *const *) names->pdata, &error))
    g_warning ("%s (its brokers get the default certificate)", error->message);
}

gboolean
st_server_start (StServer *server, GError **error)
{
  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (!server->running, FALSE);

  StNetConfig net_config = {
    .threads = server->config.threads,
    .tls_cert_file = server->config.tls_cert_file,
    .tls_key_file = server->config.tls_key_file,
    .data_dir = server->config.data_dir,
    .public_host = server->config.public_host,
  };
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    net_config.listen[i] = server->config.listen[i];

  server->net = st_net_new (server->engine, &net_config, error);
  if (server->net == NULL)
    return FALSE;
  load_tls_namespaces (server);
  if (!st_net_start (server->net, error))
    {
      g_clear_pointer (&server->net, st_net_free);
      return FALSE;
    }

  if (server->config.api_listen)
    {
      g_autofree char *mqtts_host = NULL;
      guint16 mqtts_port = 8883;

      /* Endpoints name the port clients really reach, 8883 unless the
       * TLS listener is elsewhere. */
      st_net_get_address (server->net, ST_LISTENER_MQTTS, &mqtts_host, &mqtts_port);
      st_api_server_set_namespace_func (server->api, on_namespace_changed, server);
      if (!st_api_server_start (server->api, server->config.api_listen, mqtts_port,
                                st_net_get_ca_file (server->net), error))
        {
          st_api_server_set_namespace_func (server->api, NULL, NULL);
          st_net_stop (server->net);
          g_clear_pointer (&server->net, st_net_free);
          return FALSE;
        }
    }
  server->running = TRUE;

  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    {
      g_autofree char *host = NULL;
      guint16 port;

      if (st_net_get_address (server->net, i, &host, &port))
        g_message ("listening for %s on %s%s%s:%u", st_listener_kind_name (i),
                   strchr (host, ':') ? "[" : "", host, strchr (host, ':') ? "]" : "", port);
    }
  if (server->config.api_listen)
    {
      g_autofree char *host = NULL;
      guint16 port;

      st_api_server_get_address (server->api, &host, &port);
      g_message ("control API on http://%s%s%s:%u/client/v4",
                 strchr (host, ':') ? "[" : "", host, strchr (host, ':') ? "]" : "", port);
    }
  return TRUE;
}

static void
json_append_string (GString *s, const char *value)
{
  g_string_append_c (s, '"');
  for (const char *p = value; *p; p++)
    {
      unsigned char c = *p;
      if (c == '"' || c == '\\')
        g_string_append_printf (s, "\\%c", c);
      else if (c < 0x20)
        g_string_append_printf (s, "\\u%04x", c);
      else
        g_string_append_c (s, c);
    }
  g_string_append_c (s, '"');
}

char *
st_server_get_ready_json (StServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);

  GString *s = g_string_new (NULL);
  gboolean first = TRUE;

  g_string_append_printf (s, "{\"pid\": %d, \"listeners\": {", (int) getpid ());
  for (guint i = 0; server->net && i < ST_N_LISTENER_KINDS; i++)
    {
      g_autofree char *host = NULL;
      guint16 port;

      if (!st_net_get_address (server->net, i, &host, &port))
        continue;
      g_string_append_printf (s, "%s\"%s\": {\"host\": ", first ? "" : ", ", st_listener_kind_name (i));
      json_append_string (s, host);
      g_string_append_printf (s, ", \"port\": %u}", port);
      first = FALSE;
    }
  if (server->api)
    {
      g_autofree char *host = NULL;
      guint16 port;

      /* FALSE when the API is off or stopped. */
      if (st_api_server_get_address (server->api, &host, &port))
        {
          g_string_append_printf (s, "%s\"api\": {\"host\": ", first ? "" : ", ");
          json_append_string (s, host);
          g_string_append_printf (s, ", \"port\": %u}", port);
        }
    }
  g_string_append (s, "}, \"data_dir\": ");
  json_append_string (s, server->config.data_dir);
  const char *ca = server->net ? st_net_get_ca_file (server->net) : NULL;
  if (ca)
    {
      g_string_append (s, ", \"ca_file\": ");
      json_append_string (s, ca);
    }
  g_string_append (s, "}\n");
  return g_string_free (s, FALSE);
}

gboolean
st_server_write_ready_file (StServer *server, const char *path, GError **error)
{
  g_autofree char *json = st_server_get_ready_json (server);

  return g_file_set_contents (path, json, -1, error);
}

gboolean
st_server_reload_tls (StServer *server, GError **error)
{
  g_return_val_if_fail (server != NULL, FALSE);

  if (server->net == NULL)
    return TRUE;
  return st_net_reload_tls (server->net, error);
}

void
st_server_stop (StServer *server)
{
  g_return_if_fail (server != NULL);

  if (!server->running)
    return;
  /* The control thread first: no API request may change brokers while
   * the network goes down. */
  st_api_server_stop (server->api);
  st_api_server_set_namespace_func (server->api, NULL, NULL);
  /* Then the hook thread: once it is gone nothing posts to the loops. */
  st_engine_stop_hooks (server->engine);
  st_net_stop (server->net);
  /* Every client has been detached: what they were acknowledged is in the
   * store's queue, and goes to disk before the process may exit. Before
   * the network is freed: replies still waiting for the store (durability
   * always) are handed to the stopped loops, which st_net_free drains. */
  if (server->mqtt_store)
    st_mqtt_store_flush (server->mqtt_store);
  g_clear_pointer (&server->net, st_net_free);
  server->running = FALSE;
}

void
st_server_free (StServer *server)
{
  if (server == NULL)
    return;
  st_server_stop (server);
  if (server->engine)
    st_engine_set_store (server->engine, NULL);
  g_clear_pointer (&server->mqtt_store, st_mqtt_store_close);
  g_clear_pointer (&server->api, st_api_server_free);
  g_clear_pointer (&server->store, st_store_free);
  g_clear_pointer (&server->engine, st_engine_free);
  st_server_config_clear (&server->config);
  if (server->lock_fd > 0)
    close (server->lock_fd);
  g_free (server);
}
