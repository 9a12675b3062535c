/* The server model: API URL normalisation, the saved list's round trip
 * through GSettings' format, and the embedded broker started, reached
 * with its admin token, and stopped. */
#define G_LOG_DOMAIN "test-app-server"

#include <json-glib/json-glib.h>

#include "starling-embedded.h"
#include "starling-server.h"

static void
test_normalize_url (void)
{
  static const struct { const char *in, *out; } good[] = {
    { "127.0.0.1:8080", "http://127.0.0.1:8080/client/v4" },
    { "http://127.0.0.1:8080", "http://127.0.0.1:8080/client/v4" },
    { "http://127.0.0.1:8080/", "http://127.0.0.1:8080/client/v4" },
    { " https://mq.example.org/client/v4/ ", "https://mq.example.org/client/v4" },
    { "http://[::1]:8080/client/v4", "http://[::1]:8080/client/v4" },
  };
  static const char *bad[] = { "", "   ", "ftp://host/", "http://", "http://host:8080/?x=1" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *url = starling_server_normalize_url (good[i].in, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (url, ==, good[i].out);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *url = starling_server_normalize_url (bad[i], &error);

      g_assert_null (url);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_saved_list (void)
{
  g_autoptr(GListStore) store = g_list_store_new (STARLING_TYPE_SERVER);
  g_autoptr(StarlingEmbedded) embedded = starling_embedded_new (NULL);
  g_autoptr(StarlingServer) local = starling_server_new_embedded (embedded);
  g_autoptr(StarlingServer) a = starling_server_new_remote ("http://a.example:8080/client/v4", "tok-a");
  g_autoptr(StarlingServer) b = starling_server_new_remote ("https://b.example/client/v4", "tok-b");
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) with_bad = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GPtrArray) list2 = NULL;

  g_assert_true (starling_server_is_embedded (local));
  g_assert_cmpstr (starling_server_get_id (local), ==, STARLING_SERVER_EMBEDDED_ID);
  g_assert_false (starling_server_is_ready (local));
  g_assert_null (starling_server_get_client (local));
  g_assert_cmpstr (starling_server_get_title (a), ==, "a.example:8080");
  g_assert_cmpstr (starling_server_get_title (b), ==, "b.example");
  g_assert_true (starling_server_is_ready (a));
  g_assert_nonnull (starling_server_get_client (a));

  /* The embedded broker is never saved. */
  g_list_store_append (store, local);
  g_list_store_append (store, a);
  g_list_store_append (store, b);
  value = g_variant_ref_sink (starling_server_list_to_variant (G_LIST_MODEL (store)));
  g_assert_cmpstr (g_variant_get_type_string (value), ==, "a(ss)");
  g_assert_cmpuint (g_variant_n_children (value), ==, 2);

  list = starling_server_list_from_variant (value);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (starling_server_get_api_url (list->pdata[0]), ==, "http://a.example:8080/client/v4");
  g_assert_cmpstr (starling_server_get_token (list->pdata[0]), ==, "tok-a");
  g_assert_cmpstr (starling_server_get_id (list->pdata[1]), ==, "https://b.example/client/v4");
  g_assert_cmpstr (starling_server_get_token (list->pdata[1]), ==, "tok-b");

  /* A hand-edited bad entry is skipped, not fatal. */
  with_bad = g_variant_ref_sink (g_variant_new_parsed ("[('ftp://nope', 't'), ('c.example:1', 'tok-c')]"));
  g_test_expect_message ("starling-server", G_LOG_LEVEL_WARNING, "*ftp://nope*");
  list2 = starling_server_list_from_variant (with_bad);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (list2->len, ==, 1);
  g_assert_cmpstr (starling_server_get_api_url (list2->pdata[0]), ==, "http://c.example:1/client/v4");
}

static void
started_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GError **error = user_data;

  if (!starling_embedded_start_finish (STARLING_EMBEDDED (source), result, error))
    g_assert_nonnull (*error);
  *(gboolean *) g_object_get_data (source, "done") = TRUE;
}

static void
verified_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static char *
verify (StApiClient *client,
        GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  st_api_client_verify_async (client, NULL, verified_cb, &result);
  while (result == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (result);
  return st_api_client_verify_finish (client, result, error);
}

static void
count_notify (guint *count)
{
  (*count)++;
}

static void
test_embedded (void)
{
  g_autoptr(StarlingEmbedded) embedded = starling_embedded_new (NULL);
  g_autoptr(StarlingServer) server = starling_server_new_embedded (embedded);
  g_autoptr(StarlingServer) wrong = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *expected_dir = g_build_filename (g_get_user_data_dir (), "starling", NULL);
  g_autofree char *token_file = NULL;
  g_autofree char *token = NULL;
  g_autofree char *status = NULL;
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  JsonObject *listeners;
  gboolean done = FALSE;
  guint notified = 0;
  gint64 deadline;
  guint16 api_port;

  g_assert_cmpstr (starling_embedded_get_data_dir (embedded), ==, expected_dir);
  g_signal_connect_swapped (server, "notify::ready", G_CALLBACK (count_notify), &notified);
  g_object_set_data (G_OBJECT (embedded), "done", &done);

  starling_embedded_start_async (embedded, NULL, started_cb, &error);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (done);
  g_assert_no_error (error);
  g_assert_cmpuint (notified, ==, 1);

  g_assert_true (starling_embedded_is_running (embedded));
  g_assert_true (starling_server_is_ready (server));

  /* The token the app uses is the data directory's admin token. */
  token_file = g_build_filename (expected_dir, "admin-token", NULL);
  g_assert_true (g_file_get_contents (token_file, &token, NULL, NULL));
  g_assert_cmpstr (starling_server_get_token (server), ==, g_strstrip (token));

  /* Free ports (STARLING_EMBEDDED_PORTS=0), all on loopback. */
  g_assert_true (json_parser_load_from_data (parser, starling_embedded_get_ready_json (embedded), -1, NULL));
  listeners = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "listeners");
  g_assert_nonnull (listeners);
  for (guint i = 0; i < 5; i++)
    {
      const char *kinds[] = { "mqtt", "mqtts", "ws", "wss", "api" };
      JsonObject *l = json_object_get_object_member (listeners, kinds[i]);

      g_assert_nonnull (l);
      g_assert_cmpstr (json_object_get_string_member (l, "host"), ==, "127.0.0.1");
      g_assert_cmpint (json_object_get_int_member (l, "port"), >, 0);
    }
  api_port = json_object_get_int_member (json_object_get_object_member (listeners, "api"), "port");
  g_assert_true (g_str_has_suffix (starling_server_get_api_url (server), "/client/v4"));

  /* The client reaches it with that token, and a wrong one is refused
   * with the API's own code. */
  status = verify (starling_server_get_client (server), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (status, ==, "active");

  wrong = starling_server_new_remote (starling_server_get_api_url (server), "not-the-token");
  g_clear_pointer (&status, g_free);
  status = verify (starling_server_get_client (wrong), &error);
  g_assert_null (status);
  g_assert_error (error, ST_API_ERROR, 10000);
  g_clear_error (&error);

  /* Stopped: nothing listens there any more, and the server is not ready. */
  starling_embedded_stop (embedded);
  g_assert_false (starling_embedded_is_running (embedded));
  g_assert_false (starling_server_is_ready (server));
  g_assert_null (starling_server_get_client (server));
  g_assert_cmpuint (notified, ==, 2);
  connection = g_socket_client_connect_to_host (socket_client, "127.0.0.1", api_port, NULL, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  starling_embedded_stop (embedded);
}

static guint16
listener_port (JsonObject *listeners,
               const char *kind)
{
  JsonObject *l = json_object_get_object_member (listeners, kind);

  g_assert_nonnull (l);
  return json_object_get_int_member (l, "port");
}

/* A loopback socket on a free port; listening when listen is TRUE. */
static GSocket *
loopback_socket (gboolean listen,
                 guint16 *port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any_port, FALSE, &error));
  if (listen)
    g_assert_true (g_socket_listen (socket, &error));
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return socket;
}

static void
test_embedded_port_fallback (void)
{
  g_autoptr(StarlingEmbedded) embedded = starling_embedded_new (NULL);
  g_autoptr(GSocket) taken = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *saved_env = g_strdup (g_getenv (STARLING_EMBEDDED_PORTS_ENV));
  JsonObject *listeners;
  guint16 taken_port, free_ports[4];
  gboolean done = FALSE;
  gint64 deadline;

  /* One "standard" port taken by someone else, four free (found free a
   * moment ago, on loopback where nothing else should grab them). */
  taken = loopback_socket (TRUE, &taken_port);
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(GSocket) probe = loopback_socket (FALSE, &free_ports[i]);
    }
  g_unsetenv (STARLING_EMBEDDED_PORTS_ENV);
  starling_embedded_set_ports (embedded, taken_port, free_ports[0], free_ports[1], free_ports[2], free_ports[3]);

  g_object_set_data (G_OBJECT (embedded), "done", &done);
  starling_embedded_start_async (embedded, NULL, started_cb, &error);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (saved_env != NULL)
    g_setenv (STARLING_EMBEDDED_PORTS_ENV, saved_env, TRUE);
  g_assert_true (done);
  g_assert_no_error (error);

  g_assert_true (json_parser_load_from_data (parser, starling_embedded_get_ready_json (embedded), -1, NULL));
  listeners = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "listeners");
  /* The taken one moved to a free port; the free ones were used as asked. */
  g_assert_cmpuint (listener_port (listeners, "mqtt"), !=, taken_port);
  g_assert_cmpuint (listener_port (listeners, "mqtt"), >, 0);
  g_assert_cmpuint (listener_port (listeners, "mqtts"), ==, free_ports[0]);
  g_assert_cmpuint (listener_port (listeners, "ws"), ==, free_ports[1]);
  g_assert_cmpuint (listener_port (listeners, "wss"), ==, free_ports[2]);
  g_assert_cmpuint (listener_port (listeners, "api"), ==, free_ports[3]);
  g_assert_true (g_str_has_suffix (starling_embedded_get_api_url (embedded), "/client/v4"));

  starling_embedded_stop (embedded);
  g_assert_false (starling_embedded_is_running (embedded));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/app/server/normalize-url", test_normalize_url);
  g_test_add_func ("/app/server/saved-list", test_saved_list);
  g_test_add_func ("/app/server/embedded", test_embedded);
  g_test_add_func ("/app/server/embedded-port-fallback", test_embedded_port_fallback);

  return g_test_run ();
}
