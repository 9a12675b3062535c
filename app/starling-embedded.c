#define G_LOG_DOMAIN "starling-embedded"

#include "config.h"

#include <json-glib/json-glib.h>

#include "st-server.h"
#include "starling-embedded.h"

struct _StarlingEmbedded
{
  GObject   parent_instance;

  char     *data_dir;
  guint16   ports[ST_N_LISTENER_KINDS + 1];   /* the last: the control API */
  StServer *server;
  gboolean  starting;
  char     *api_url;
  char     *token;
  char     *ready_json;
};

G_DEFINE_FINAL_TYPE (StarlingEmbedded, starling_embedded, G_TYPE_OBJECT)

enum { PROP_0, PROP_RUNNING, N_PROPS };
static GParamSpec *properties[N_PROPS];

StarlingEmbedded *
starling_embedded_new (const char *data_dir)
{
  StarlingEmbedded *self = g_object_new (STARLING_TYPE_EMBEDDED, NULL);

  self->data_dir = data_dir ? g_strdup (data_dir)
                            : g_build_filename (g_get_user_data_dir (), "starling", NULL);
  starling_embedded_set_ports (self, 1883, 8883, 8083, 8884, 8080);
  return self;
}

/* Whether nobody listens on 127.0.0.1:port.  SO_REUSEADDR (allow_reuse)
 * still succeeds over our own connections in TIME_WAIT after a restart,
 * but fails against any listener — also against a starlingd whose
 * SO_REUSEPORT sockets the broker's own SO_REUSEPORT bind would join. */
static gboolean
port_is_free (guint16 port)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  if (socket == NULL)
    return FALSE;
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, port);
  return g_socket_bind (socket, address, TRUE, NULL);
}

static char *
choose_listen (guint16 standard_port, gboolean ephemeral)
{
  if (ephemeral || !port_is_free (standard_port))
    return g_strdup ("127.0.0.1:0");
  return g_strdup_printf ("127.0.0.1:%u", standard_port);
}

void
starling_embedded_set_ports (StarlingEmbedded *self,
                             guint16           mqtt,
                             guint16           mqtts,
                             guint16           ws,
                             guint16           wss,
                             guint16           api)
{
  g_return_if_fail (STARLING_IS_EMBEDDED (self));

  self->ports[ST_LISTENER_MQTT] = mqtt;
  self->ports[ST_LISTENER_MQTTS] = mqtts;
  self->ports[ST_LISTENER_WS] = ws;
  self->ports[ST_LISTENER_WSS] = wss;
  self->ports[ST_N_LISTENER_KINDS] = api;
}

static StServer *
start_server (const char    *data_dir,
              const guint16 *standard_ports,
              gboolean       ephemeral,
              GError       **error)
{
  StServerConfig config;
  g_autoptr(StServer) server = NULL;

  st_server_config_init (&config);
  config.data_dir = g_strdup (data_dir);
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    {
      g_free (config.listen[i]);
      config.listen[i] = choose_listen (standard_ports[i], ephemeral);
    }
  g_free (config.api_listen);
  config.api_listen = choose_listen (standard_ports[ST_N_LISTENER_KINDS], ephemeral);
  /* A desktop broker for development: two I/O threads are plenty, and
   * one per core would be dozens on a big machine. */
  config.threads = 2;

  server = st_server_new (&config, error);
  st_server_config_clear (&config);
  if (server == NULL || !st_server_start (server, error))
    return NULL;
  return g_steal_pointer (&server);
}

static void
start_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  StarlingEmbedded *self = source_object;
  const char *ports = g_getenv (STARLING_EMBEDDED_PORTS_ENV);
  gboolean ephemeral = g_strcmp0 (ports, "0") == 0;
  g_autoptr(GError) error = NULL;
  StServer *server;

  server = start_server (self->data_dir, self->ports, ephemeral, &error);
  /* A port taken between the probe and the bind: free ports for all. */
  if (server == NULL && !ephemeral && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
    {
      g_message ("a standard port was taken meanwhile (%s); using free ports", error->message);
      g_clear_error (&error);
      server = start_server (self->data_dir, self->ports, TRUE, &error);
    }
  if (server == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, server, (GDestroyNotify) st_server_free);
}

static void started (GObject *source, GAsyncResult *result, gpointer user_data);

void
starling_embedded_start_async (StarlingEmbedded    *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) thread_task = NULL;

  g_return_if_fail (STARLING_IS_EMBEDDED (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, starling_embedded_start_async);
  if (self->server != NULL || self->starting)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS, "the embedded broker is already running");
      return;
    }
  self->starting = TRUE;
  /* The thread's result lands in started() whatever the caller does, so
   * that stop() can wait for it. */
  thread_task = g_task_new (self, NULL, started, g_steal_pointer (&task));
  g_task_run_in_thread (thread_task, start_thread);
}

static char *
read_token (const char *data_dir)
{
  g_autofree char *path = g_build_filename (data_dir, ST_SERVER_ADMIN_TOKEN_FILE, NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &error))
    {
      g_warning ("no admin token: %s", error->message);
      return NULL;
    }
  return g_strdup (g_strstrip (contents));
}

static char *
api_url_from_ready_json (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root, *listeners, *api;

  if (!json_parser_load_from_data (parser, json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  root = json_node_get_object (json_parser_get_root (parser));
  listeners = json_object_get_object_member (root, "listeners");
  if (listeners == NULL || !json_object_has_member (listeners, "api"))
    return NULL;
  api = json_object_get_object_member (listeners, "api");
  return g_strdup_printf ("http://%s:%" G_GINT64_FORMAT "/client/v4",
                          json_object_get_string_member (api, "host"),
                          json_object_get_int_member (api, "port"));
}

static void
started (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  StarlingEmbedded *self = STARLING_EMBEDDED (source);
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  StServer *server;

  self->starting = FALSE;
  server = g_task_propagate_pointer (G_TASK (result), &error);
  if (server == NULL)
    {
      g_warning ("the embedded broker did not start: %s", error->message);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  self->server = server;
  self->ready_json = st_server_get_ready_json (server);
  self->api_url = api_url_from_ready_json (self->ready_json);
  self->token = read_token (self->data_dir);
  g_message ("embedded broker running, control API at %s", self->api_url);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
  g_task_return_boolean (task, TRUE);
}

gboolean
starling_embedded_start_finish (StarlingEmbedded *self,
                                GAsyncResult     *result,
                                GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
starling_embedded_stop (StarlingEmbedded *self)
{
  g_return_if_fail (STARLING_IS_EMBEDDED (self));

  /* The started server arrives through the main context. */
  while (self->starting)
    g_main_context_iteration (NULL, TRUE);

  if (self->server == NULL)
    return;
  st_server_stop (self->server);
  g_clear_pointer (&self->server, st_server_free);
  g_clear_pointer (&self->api_url, g_free);
  g_clear_pointer (&self->token, g_free);
  g_clear_pointer (&self->ready_json, g_free);
  g_message ("embedded broker stopped");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
}

gboolean
starling_embedded_is_running (StarlingEmbedded *self)
{
  g_return_val_if_fail (STARLING_IS_EMBEDDED (self), FALSE);
  return self->server != NULL;
}

const char *
starling_embedded_get_data_dir (StarlingEmbedded *self)
{
  g_return_val_if_fail (STARLING_IS_EMBEDDED (self), NULL);
  return self->data_dir;
}

const char *
starling_embedded_get_api_url (StarlingEmbedded *self)
{
  g_return_val_if_fail (STARLING_IS_EMBEDDED (self), NULL);
  return self->api_url;
}

const char *
starling_embedded_get_token (StarlingEmbedded *self)
{
  g_return_val_if_fail (STARLING_IS_EMBEDDED (self), NULL);
  return self->token;
}

const char *
starling_embedded_get_ready_json (StarlingEmbedded *self)
{
  g_return_val_if_fail (STARLING_IS_EMBEDDED (self), NULL);
  return self->ready_json;
}

static void
starling_embedded_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  StarlingEmbedded *self = STARLING_EMBEDDED (object);

  switch (prop_id)
    {
    case PROP_RUNNING:
      g_value_set_boolean (value, self->server != NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
starling_embedded_finalize (GObject *object)
{
  StarlingEmbedded *self = STARLING_EMBEDDED (object);

  /* A task holds a reference while starting, so this never races one. */
  if (self->server != NULL)
    {
      st_server_stop (self->server);
      st_server_free (self->server);
    }
  g_free (self->data_dir);
  g_free (self->api_url);
  g_free (self->token);
  g_free (self->ready_json);

  G_OBJECT_CLASS (starling_embedded_parent_class)->finalize (object);
}

static void
starling_embedded_class_init (StarlingEmbeddedClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = starling_embedded_finalize;
  object_class->get_property = starling_embedded_get_property;

  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
starling_embedded_init (StarlingEmbedded *self)
{
}
