/* The control-API client (broker/client) against a real in-process
 * StServer over HTTP: sync and async requests, the account lookup, query
 * escaping, the error mapping, verify, the CA, and durations.  A small
 * libsoup server in the test stands in for answers starlingd never gives
 * (non-envelope errors, several errors at once, garbage). */
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "st-api-client.h"
#include "test-server.h"

typedef struct {
  TestServer  *server;
  const char  *base;       /* http://127.0.0.1:PORT/client/v4 */
  const char  *token;
  const char  *ca_file;
  StApiClient *client;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autofree char *data_dir = g_build_filename (g_get_user_data_dir (), "starling", NULL);

  f->server = test_server_start (data_dir, FALSE);
  f->base = f->server->api_url;
  f->token = f->server->token;
  f->ca_file = f->server->ca_file;
  f->client = st_api_client_new (f->base, f->token, NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->client);
  g_clear_pointer (&f->server, test_server_free);
}

static JsonNode *
parse (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);
  return node;
}

static JsonNode *
request_ok (StApiClient *client, const char *method, const char *path,
            const char * const *query, const char *body)
{
  g_autoptr(JsonNode) b = body ? parse (body) : NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *result;

  result = st_api_client_request (client, method, path, query, b, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (result);
  return result;
}

/* ---- Async helpers ---------------------------------------------------- */

typedef struct {
  GMainContext *context;      /* the caller's thread-default context */
  gboolean      done;
  gboolean      in_context;   /* the callback ran in that context */
  GAsyncResult *result;
} Wait;

static void
on_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;

  w->done = TRUE;
  w->in_context = g_main_context_is_owner (w->context) &&
                  g_main_context_get_thread_default () == w->context;
  w->result = g_object_ref (result);
}

static gboolean
on_timeout (gpointer data)
{
  g_error ("an async call did not complete within 10 s");
  return G_SOURCE_REMOVE;
}

/* Iterates w->context until the callback ran (at most 10 s). */
static void
wait_done (Wait *w)
{
  GSource *timeout = g_timeout_source_new_seconds (10);

  g_source_set_callback (timeout, on_timeout, NULL, NULL);
  g_source_attach (timeout, w->context);
  while (!w->done)
    g_main_context_iteration (w->context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
}

static void
wait_clear (Wait *w)
{
  g_clear_object (&w->result);
  w->done = FALSE;
  w->in_context = FALSE;
}

/* ---- Tests ------------------------------------------------------------ */

static void
test_sync (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(JsonNode) memberships = NULL;
  g_autoptr(JsonNode) deleted = NULL;
  const char *account;
  JsonArray *array;

  g_assert_cmpstr (st_api_client_get_base_url (f->client), ==, f->base);
  g_assert_null (st_api_client_get_account_id (f->client));

  created = request_ok (f->client, "POST", "namespaces", NULL, "{\"name\": \"home\", \"description\": \"d\"}");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (created), "name"), ==, "home");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (created), "description"), ==, "d");

  /* The first relative request looked the account up. */
  account = st_api_client_get_account_id (f->client);
  g_assert_nonnull (account);
  g_assert_cmpuint (strlen (account), ==, 32);
  memberships = request_ok (f->client, "GET", "/memberships", NULL, NULL);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       json_array_get_object_element (json_node_get_array (memberships), 0), "account"), "id"),
                   ==, account);

  list = request_ok (f->client, "GET", "namespaces", NULL, NULL);
  array = json_node_get_array (list);
  g_assert_cmpuint (json_array_get_length (array), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0), "name"), ==, "home");

  /* A null result is a JSON null node, not NULL. */
  deleted = request_ok (f->client, "DELETE", "namespaces/home", NULL, NULL);
  g_assert_true (JSON_NODE_HOLDS_NULL (deleted));
}

static void
test_base_url_slash (Fixture *f, gconstpointer data)
{
  g_autofree char *with_slash = g_strconcat (f->base, "/", NULL);
  g_autoptr(StApiClient) client = st_api_client_new (with_slash, f->token, NULL);
  g_autoptr(JsonNode) list = NULL;

  g_assert_cmpstr (st_api_client_get_base_url (client), ==, f->base);
  list = request_ok (client, "GET", "namespaces", NULL, NULL);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (list));
}

static void
test_account_given (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *account = NULL;
  g_autoptr(StApiClient) right = NULL;
  g_autoptr(StApiClient) wrong = NULL;

  list = request_ok (f->client, "GET", "namespaces", NULL, NULL);
  account = g_strdup (st_api_client_get_account_id (f->client));

  right = st_api_client_new (f->base, f->token, account);
  g_assert_cmpstr (st_api_client_get_account_id (right), ==, account);
  g_clear_pointer (&list, json_node_unref);
  list = request_ok (right, "GET", "namespaces", NULL, NULL);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (list));

  /* A given id is used as is, not looked up: the server refuses it. */
  wrong = st_api_client_new (f->base, f->token, "0123456789abcdef0123456789abcdef");
  result = st_api_client_request (wrong, "GET", "namespaces", NULL, NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, ST_API_ERROR, 7003);
  g_assert_nonnull (strstr (error->message, "0123456789abcdef0123456789abcdef"));
}

static void
test_async (Fixture *f, gconstpointer data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(JsonNode) body = parse ("{\"name\": \"garden\"}");
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *status = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *expected_pem = NULL;
  Wait w = { .context = context };

  /* Completion in the caller's thread-default context, not the global
   * default one: the app may call from any context it pushes. */
  g_main_context_push_thread_default (context);

  st_api_client_request_async (f->client, "POST", "namespaces", NULL, body, NULL, on_done, &w);
  wait_done (&w);
  g_assert_true (w.in_context);
  created = st_api_client_request_finish (f->client, w.result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (created), "name"), ==, "garden");
  g_assert_nonnull (st_api_client_get_account_id (f->client));
  wait_clear (&w);

  st_api_client_request_async (f->client, "GET", "namespaces/garden", NULL, NULL, NULL, on_done, &w);
  wait_done (&w);
  g_assert_true (w.in_context);
  got = st_api_client_request_finish (f->client, w.result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (got), "id"), ==,
                   json_object_get_string_member (json_node_get_object (created), "id"));
  wait_clear (&w);

  st_api_client_verify_async (f->client, NULL, on_done, &w);
  wait_done (&w);
  g_assert_true (w.in_context);
  status = st_api_client_verify_finish (f->client, w.result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (status, ==, "active");
  wait_clear (&w);

  st_api_client_get_ca_async (f->client, NULL, on_done, &w);
  wait_done (&w);
  g_assert_true (w.in_context);
  pem = st_api_client_get_ca_finish (f->client, w.result, &error);
  g_assert_no_error (error);
  g_file_get_contents (f->ca_file, &expected_pem, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pem, ==, expected_pem);
  wait_clear (&w);

  /* An error, async: the API's code and message. */
  st_api_client_request_async (f->client, "GET", "namespaces/nowhere", NULL, NULL, NULL, on_done, &w);
  wait_done (&w);
  g_assert_null (st_api_client_request_finish (f->client, w.result, &error));
  g_assert_error (error, ST_API_ERROR, 10200);
  g_assert_nonnull (strstr (error->message, "nowhere"));
  g_clear_error (&error);
  wait_clear (&w);

  g_main_context_pop_thread_default (context);
}

static void
test_async_account_lookup_error (Fixture *f, gconstpointer data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(StApiClient) client = st_api_client_new (f->base, "not-a-token", NULL);
  g_autoptr(GError) error = NULL;
  Wait w = { .context = context };

  /* The lookup itself fails: the request reports that failure. */
  g_main_context_push_thread_default (context);
  st_api_client_request_async (client, "GET", "namespaces", NULL, NULL, NULL, on_done, &w);
  wait_done (&w);
  g_assert_null (st_api_client_request_finish (client, w.result, &error));
  g_assert_error (error, ST_API_ERROR, 10000);
  g_assert_null (st_api_client_get_account_id (client));
  wait_clear (&w);
  g_main_context_pop_thread_default (context);
}

static void
on_done_count (GObject *source, GAsyncResult *result, gpointer data)
{
  GPtrArray *results = data;

  g_ptr_array_add (results, g_object_ref (result));
}

static void
test_async_concurrent (Fixture *f, gconstpointer data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(JsonNode) a = parse ("{\"name\": \"one\"}");
  g_autoptr(JsonNode) b = parse ("{\"name\": \"two\"}");
  g_autoptr(JsonNode) list = NULL;
  GSource *timeout = g_timeout_source_new_seconds (10);

  /* Three requests before the account is known: each looks it up, and
   * all of them land in the same account. */
  g_main_context_push_thread_default (context);
  g_source_set_callback (timeout, on_timeout, NULL, NULL);
  g_source_attach (timeout, context);
  st_api_client_request_async (f->client, "POST", "namespaces", NULL, a, NULL, on_done_count, results);
  st_api_client_request_async (f->client, "POST", "namespaces", NULL, b, NULL, on_done_count, results);
  st_api_client_request_async (f->client, "GET", "/user/tokens/verify", NULL, NULL, NULL, on_done_count, results);
  while (results->len < 3)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);

  for (guint i = 0; i < results->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = st_api_client_request_finish (f->client, g_ptr_array_index (results, i), &error);

      g_assert_no_error (error);
      g_assert_nonnull (node);
    }
  g_main_context_pop_thread_default (context);

  list = request_ok (f->client, "GET", "namespaces", NULL, NULL);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (list)), ==, 2);
}

static void
test_async_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Wait w = { .context = context };

  g_main_context_push_thread_default (context);
  st_api_client_request_async (f->client, "GET", "namespaces", NULL, NULL, cancellable, on_done, &w);
  g_cancellable_cancel (cancellable);
  wait_done (&w);
  g_assert_true (w.in_context);
  g_assert_null (st_api_client_request_finish (f->client, w.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  wait_clear (&w);
  g_main_context_pop_thread_default (context);
}

static gboolean
has_string (JsonArray *array, const char *s)
{
  for (guint i = 0; i < json_array_get_length (array); i++)
    if (g_strcmp0 (json_array_get_string_element (array, i), s) == 0)
      return TRUE;
  return FALSE;
}

static void
test_query (Fixture *f, gconstpointer data)
{
  /* Characters that mean something in a query string must arrive as
   * they were: ' ', '+', '&', '=', '#', '/', '%', and non-ASCII. */
  const char *issue[] = {
    "clientid", "a b+c",
    "clientid", "d&e=f/#",
    "clientid", "g%20h",
    "clientid", "żółw",
    "topicAcl", "home/+/temp",
    "topicAcl", "alerts/#",
    NULL
  };
  const char *filter[] = { "clientid", "d&e=f/#", NULL };
  const char *revoke[] = { "jti", "J1", "jti", "J2,J3", NULL };
  g_autoptr(JsonNode) ns = NULL;
  g_autoptr(JsonNode) broker = NULL;
  g_autoptr(JsonNode) tokens = NULL;
  g_autoptr(JsonNode) issued = NULL;
  g_autoptr(JsonNode) revoked = NULL;
  g_autoptr(JsonNode) listed = NULL;
  JsonObject *t;
  JsonObject *record;
  JsonArray *acl;

  ns = request_ok (f->client, "POST", "namespaces", NULL, "{\"name\": \"q\"}");
  broker = request_ok (f->client, "POST", "namespaces/q/brokers", NULL, "{\"name\": \"b\"}");
  tokens = request_ok (f->client, "GET", "namespaces/q/brokers/b/credentials", issue, NULL);
  t = json_node_get_object (tokens);
  g_assert_cmpuint (json_object_get_size (t), ==, 4);
  g_assert_true (json_object_has_member (t, "a b+c"));
  g_assert_true (json_object_has_member (t, "d&e=f/#"));
  g_assert_true (json_object_has_member (t, "g%20h"));
  g_assert_true (json_object_has_member (t, "żółw"));

  /* A path starting with '/' gets the account id for "{account_id}". */
  issued = request_ok (f->client, "GET", "/accounts/{account_id}/starling/namespaces/q/brokers/b/credentials",
                       filter, NULL);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (issued)), ==, 1);
  record = json_array_get_object_element (json_node_get_array (issued), 0);
  g_assert_cmpstr (json_object_get_string_member (record, "clientId"), ==, "d&e=f/#");
  acl = json_object_get_array_member (record, "topicAcl");
  g_assert_cmpuint (json_array_get_length (acl), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (acl, 0), ==, "home/+/temp");
  g_assert_cmpstr (json_array_get_string_element (acl, 1), ==, "alerts/#");

  /* Repeated keys all arrive (and the server splits commas). */
  revoked = request_ok (f->client, "POST", "namespaces/q/brokers/b/revocations", revoke, NULL);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (revoked)), ==, 3);
  listed = request_ok (f->client, "GET", "namespaces/q/brokers/b/revocations", NULL, NULL);
  g_assert_true (has_string (json_node_get_array (listed), "J1"));
  g_assert_true (has_string (json_node_get_array (listed), "J2"));
  g_assert_true (has_string (json_node_get_array (listed), "J3"));
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = parse ("{\"name\": \"Not_Valid\"}");
  g_autoptr(StApiClient) bad_token = st_api_client_new (f->base, "wrong", NULL);
  g_autoptr(StApiClient) no_token = st_api_client_new (f->base, NULL, NULL);
  JsonNode *result;

  result = st_api_client_request (f->client, "GET", "namespaces/missing", NULL, NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, ST_API_ERROR, 10200);
  g_assert_cmpstr (error->message, ==, "no namespace named “missing”");
  g_clear_error (&error);

  result = st_api_client_request (f->client, "POST", "namespaces", NULL, body, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, ST_API_ERROR, 10102);
  g_assert_nonnull (strstr (error->message, "“Not_Valid” is not a valid namespace name"));
  g_clear_error (&error);

  result = st_api_client_request (f->client, "GET", "/no/such/route", NULL, NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, ST_API_ERROR, 7000);
  g_clear_error (&error);

  /* A bad token fails the account lookup with the API's 401 code. */
  result = st_api_client_request (bad_token, "GET", "namespaces", NULL, NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, ST_API_ERROR, 10000);
  g_assert_nonnull (strstr (error->message, "Authentication error"));
  g_clear_error (&error);
  g_assert_null (st_api_client_verify (bad_token, NULL, &error));
  g_assert_error (error, ST_API_ERROR, 10000);
  g_clear_error (&error);

  result = st_api_client_request (no_token, "GET", "/user/tokens/verify", NULL, NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, ST_API_ERROR, 10000);
  g_assert_nonnull (strstr (error->message, "no Authorization header"));
  g_clear_error (&error);
}

static guint16
closed_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port;

  /* Bound but never listening: connecting is refused at once. */
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);
  return port;
}

static void
test_unreachable (Fixture *f, gconstpointer data)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/client/v4", closed_port ());
  g_autoptr(StApiClient) client = st_api_client_new (url, f->token, "0123456789abcdef0123456789abcdef");
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  Wait w = { .context = context };

  g_assert_null (st_api_client_request (client, "GET", "namespaces", NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_clear_error (&error);

  g_main_context_push_thread_default (context);
  st_api_client_request_async (client, "GET", "namespaces", NULL, NULL, NULL, on_done, &w);
  wait_done (&w);
  g_assert_true (w.in_context);
  g_assert_null (st_api_client_request_finish (client, w.result, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  wait_clear (&w);
  g_main_context_pop_thread_default (context);
}

static void
test_verify_and_ca (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *status = st_api_client_verify (f->client, NULL, &error);
  g_autofree char *pem = NULL;
  g_autofree char *expected = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (status, ==, "active");

  pem = st_api_client_get_ca (f->client, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN CERTIFICATE-----"));
  g_file_get_contents (f->ca_file, &expected, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pem, ==, expected);
}

/* ---- Answers starlingd never gives ------------------------------------ */

static void
fake_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
              GHashTable *query, gpointer data)
{
  if (g_str_has_suffix (path, "/bad-gateway"))
    {
      soup_server_message_set_status (msg, 502, "Bad Gateway");
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, "<html>proxy</html>", 18);
    }
  else if (g_str_has_suffix (path, "/two-errors"))
    {
      static const char body[] =
        "{\"result\": null, \"success\": false, \"errors\": ["
        "{\"code\": 10101, \"message\": \"first\"}, {\"code\": 10102, \"message\": \"second\"}],"
        " \"messages\": []}";
      soup_server_message_set_status (msg, 400, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body, strlen (body));
    }
  else if (g_str_has_suffix (path, "/no-code"))
    {
      static const char body[] =
        "{\"result\": null, \"success\": false, \"errors\": [{\"message\": \"only words\"}], \"messages\": []}";
      soup_server_message_set_status (msg, 500, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body, strlen (body));
    }
  else if (g_str_has_suffix (path, "/garbage"))
    {
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, "{not json", 9);
    }
  else if (g_str_has_suffix (path, "/memberships"))
    {
      static const char body[] = "{\"result\": [], \"success\": true, \"errors\": [], \"messages\": []}";
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body, strlen (body));
    }
  else
    soup_server_message_set_status (msg, 404, NULL);
}

static JsonNode *
fake_request (StApiClient *client, GMainContext *context, const char *path, GError **error)
{
  Wait w = { .context = context };
  JsonNode *result;

  /* Async: the fake server is served by this thread's context. */
  st_api_client_request_async (client, "GET", path, NULL, NULL, NULL, on_done, &w);
  wait_done (&w);
  result = st_api_client_request_finish (client, w.result, error);
  wait_clear (&w);
  return result;
}

static void
test_foreign_answers (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(StApiClient) client = NULL;
  g_autoptr(StApiClient) lookup = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = NULL;
  GSList *uris;

  g_main_context_push_thread_default (context);
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, NULL, fake_handler, NULL, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  base = g_strdup_printf ("http://127.0.0.1:%d/client/v4", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  client = st_api_client_new (base, "t", "0123456789abcdef0123456789abcdef");

  g_assert_null (fake_request (client, context, "/bad-gateway", &error));
  g_assert_error (error, ST_API_ERROR, ST_API_ERROR_HTTP);
  g_assert_nonnull (strstr (error->message, "502"));
  g_assert_nonnull (strstr (error->message, "Bad Gateway"));
  g_clear_error (&error);

  g_assert_null (fake_request (client, context, "/two-errors", &error));
  g_assert_error (error, ST_API_ERROR, 10101);
  g_assert_cmpstr (error->message, ==, "first; second");
  g_clear_error (&error);

  g_assert_null (fake_request (client, context, "/no-code", &error));
  g_assert_error (error, ST_API_ERROR, ST_API_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "only words");
  g_clear_error (&error);

  g_assert_null (fake_request (client, context, "/garbage", &error));
  g_assert_error (error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE);
  g_clear_error (&error);

  /* An empty membership list: no account to work in. */
  lookup = st_api_client_new (base, "t", NULL);
  g_assert_null (fake_request (lookup, context, "namespaces", &error));
  g_assert_error (error, ST_API_ERROR, ST_API_ERROR_NO_ACCOUNT);
  g_clear_error (&error);

  soup_server_disconnect (server);
  g_main_context_pop_thread_default (context);
}

static void
test_duration (void)
{
  static const struct { const char *text; gint64 seconds; } good[] = {
    { "48h", 172800 }, { "30m", 1800 }, { "1y", 31536000 }, { "2d", 172800 },
    { "90s", 90 }, { "3600", 3600 }, { "-1", -1 }, { "1w", 604800 },
    { "2 days", 172800 }, { "12H", 43200 }, { " 5m ", 300 }, { "1.5h", 5400 },
    { "6mo", 15552000 }, { "1 month", 2592000 }, { ".5m", 30 },
  };
  static const char *bad[] = {
    "", "h", "abc", "48x", "1.2.3h", ".", "0.2s", "-2", "0", "0h", "-5m", "48h30m", "99999999999999999999",
    "999999999999999y",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 seconds = 0;

      if (!st_parse_duration (good[i].text, &seconds, &error))
        g_error ("“%s”: %s", good[i].text, error->message);
      g_assert_cmpint (seconds, ==, good[i].seconds);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 seconds = 42;
      g_autofree char *quoted = g_strdup_printf ("“%s”", bad[i]);

      if (st_parse_duration (bad[i], &seconds, &error))
        g_error ("“%s” parsed as %" G_GINT64_FORMAT, bad[i], seconds);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, quoted));
      g_assert_cmpint (seconds, ==, 42);
    }
}

int
main (int argc, char **argv)
{
  /* GSocketClient asks GIO's default proxy resolver even when given its
   * own, and GNOME's reads GSettings schemas that the isolated test
   * directories do not have.  Everything here is 127.0.0.1: no proxy. */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/ctl/client/sync", test_sync);
  ADD ("/ctl/client/base-url-slash", test_base_url_slash);
  ADD ("/ctl/client/account-given", test_account_given);
  ADD ("/ctl/client/async", test_async);
  ADD ("/ctl/client/async-account-lookup-error", test_async_account_lookup_error);
  ADD ("/ctl/client/async-concurrent", test_async_concurrent);
  ADD ("/ctl/client/async-cancel", test_async_cancel);
  ADD ("/ctl/client/query-escaping", test_query);
  ADD ("/ctl/client/errors", test_errors);
  ADD ("/ctl/client/unreachable", test_unreachable);
  ADD ("/ctl/client/verify-and-ca", test_verify_and_ca);
#undef ADD
  g_test_add_func ("/ctl/client/foreign-answers", test_foreign_answers);
  g_test_add_func ("/ctl/client/duration", test_duration);

  return g_test_run ();
}
