#include "test-server.h"

#include <json-glib/json-glib.h>

static guint16
listener_port (JsonObject *listeners, const char *name)
{
  g_assert_true (json_object_has_member (listeners, name));
  return (guint16) json_object_get_int_member (json_object_get_object_member (listeners, name), "port");
}

TestServer *
test_server_start (const char *data_dir,
                   gboolean    with_all_listeners)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *json = NULL;
  g_autofree char *token_path = g_build_filename (data_dir, ST_SERVER_ADMIN_TOKEN_FILE, NULL);
  TestServer *self = g_new0 (TestServer, 1);
  JsonObject *info, *listeners;
  StServerConfig c;

  st_server_config_init (&c);
  c.data_dir = g_strdup (data_dir);
  c.threads = 1;
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    {
      g_clear_pointer (&c.listen[i], g_free);
      if (with_all_listeners || i == ST_LISTENER_MQTTS)
        c.listen[i] = g_strdup ("127.0.0.1:0");
    }
  g_free (c.api_listen);
  c.api_listen = g_strdup ("127.0.0.1:0");
  self->server = st_server_new (&c, &error);
  g_assert_no_error (error);
  g_assert_true (st_server_start (self->server, &error));
  g_assert_no_error (error);
  st_server_config_clear (&c);

  json = st_server_get_ready_json (self->server);
  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  info = json_node_get_object (json_parser_get_root (parser));
  listeners = json_object_get_object_member (info, "listeners");
  self->api_port = listener_port (listeners, "api");
  self->mqtts_port = listener_port (listeners, "mqtts");
  self->api_url = g_strdup_printf ("http://127.0.0.1:%u/client/v4", self->api_port);
  self->ca_file = g_strdup (json_object_get_string_member (info, "ca_file"));
  self->data_dir = g_strdup (data_dir);

  g_file_get_contents (token_path, &self->token, NULL, &error);
  g_assert_no_error (error);
  g_strstrip (self->token);
  return self;
}

void
test_server_free (TestServer *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->server, st_server_free);
  g_free (self->data_dir);
  g_free (self->api_url);
  g_free (self->token);
  g_free (self->ca_file);
  g_free (self);
}
