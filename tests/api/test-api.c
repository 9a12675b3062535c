/* The control API over real HTTP: every route, every error, the envelope,
 * the admin token file, and brokers made through the API serving MQTT. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/st-jwt.h"
#include "auth/st-signing-key.h"
#include "st-server.h"
#include "store/st-store.h"

typedef struct {
  StServer    *server;
  char        *data_dir;
  char        *base;       /* http://127.0.0.1:PORT/client/v4 */
  char        *token;      /* the admin token, from the file */
  char        *ns_path;    /* /accounts/ID/pubsub/namespaces */
  guint16      mqtts_port;
  SoupSession *session;
} Fixture;

static JsonObject *
ready_listener (StServer *server, const char *name)
{
  g_autofree char *json = st_server_get_ready_json (server);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *listeners;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  listeners = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "listeners");
  g_assert_true (json_object_has_member (listeners, name));
  return json_object_ref (json_object_get_object_member (listeners, name));
}

static JsonObject *call (Fixture *f, const char *method, const char *path, const char *body,
                         guint expected);

static void
start (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) api = NULL;
  g_autoptr(JsonObject) mqtts = NULL;
  g_autofree char *token_path = g_build_filename (f->data_dir, "admin-token", NULL);
  StServerConfig c;

  st_server_config_init (&c);
  c.data_dir = g_strdup (f->data_dir);
  c.threads = 1;
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    g_clear_pointer (&c.listen[i], g_free);
  c.listen[ST_LISTENER_MQTTS] = g_strdup ("127.0.0.1:0");
  g_free (c.api_listen);
  c.api_listen = g_strdup ("127.0.0.1:0");
  f->server = st_server_new (&c, &error);
  g_assert_no_error (error);
  g_assert_true (st_server_start (f->server, &error));
  g_assert_no_error (error);
  st_server_config_clear (&c);

  api = ready_listener (f->server, "api");
  g_assert_cmpstr (json_object_get_string_member (api, "host"), ==, "127.0.0.1");
  g_clear_pointer (&f->base, g_free);
  f->base = g_strdup_printf ("http://127.0.0.1:%d/client/v4",
                             (int) json_object_get_int_member (api, "port"));
  mqtts = ready_listener (f->server, "mqtts");
  f->mqtts_port = json_object_get_int_member (mqtts, "port");

  g_clear_pointer (&f->token, g_free);
  g_file_get_contents (token_path, &f->token, NULL, &error);
  g_assert_no_error (error);
  g_strchomp (f->token);

  /* The account id, as a client finds it. */
  g_clear_pointer (&f->ns_path, g_free);
  f->ns_path = g_strdup ("");
  g_autoptr(JsonObject) ms = call (f, "GET", "/memberships", NULL, 200);
  JsonObject *account = json_object_get_object_member (
    json_array_get_object_element (json_object_get_array_member (ms, "result"), 0), "account");
  g_free (f->ns_path);
  f->ns_path = g_strdup_printf ("/accounts/%s/pubsub/namespaces", json_object_get_string_member (account, "id"));
}

static void
stop (Fixture *f)
{
  g_clear_pointer (&f->server, st_server_free);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->data_dir = g_build_filename (g_get_user_data_dir (), "starling", NULL);
  g_autoptr(GProxyResolver) direct = g_simple_proxy_resolver_new (NULL, NULL);

  /* A fixed resolver: the system one would read GSettings, and the test
   * talks to 127.0.0.1 only anyway. */
  f->session = soup_session_new_with_options ("timeout", 10, "proxy-resolver", direct, NULL);
  start (f);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  stop (f);
  g_clear_object (&f->session);
  g_free (f->data_dir);
  g_free (f->base);
  g_free (f->token);
  g_free (f->ns_path);
}

/* Every answer must be Cloudflare's envelope, whatever the status. */
static void
check_envelope (JsonObject *env, guint status, const char *text)
{
  gboolean success;
  JsonArray *errors;

  g_assert_cmpuint (json_object_get_size (env), ==, 4);
  g_assert_true (json_object_has_member (env, "result"));
  g_assert_true (json_object_has_member (env, "success"));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (env, "errors")));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (env, "messages")));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (env, "messages")), ==, 0);
  success = json_object_get_boolean_member (env, "success");
  errors = json_object_get_array_member (env, "errors");
  if (success != (status >= 200 && status < 300))
    g_error ("status %u with success %d: %s", status, success, text);
  if (success)
    g_assert_cmpuint (json_array_get_length (errors), ==, 0);
  else
    {
      JsonObject *e;

      g_assert_cmpuint (json_array_get_length (errors), ==, 1);
      e = json_array_get_object_element (errors, 0);
      g_assert_true (json_node_get_value_type (json_object_get_member (e, "code")) == G_TYPE_INT64);
      g_assert_cmpstr (json_object_get_string_member (e, "message"), !=, "");
      g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (env, "result")));
    }
}

/* path is below the base (/client/v4) unless it starts with "!". */
static JsonObject *
call_full (Fixture *f, const char *method, const char *path, const char *auth,
           const char *body, guint expected, SoupMessage **out_msg)
{
  g_autofree char *uri = path[0] == '!' ? g_strdup_printf ("%.*s%s", (int) (strstr (f->base, "/client") - f->base), f->base, path + 1)
                                        : g_strconcat (f->base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *text = NULL;
  JsonObject *env;
  guint status;

  g_assert_nonnull (msg);
  if (auth)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  if (body)
    {
      g_autoptr(GBytes) b = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/json", b);
    }
  reply = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  status = soup_message_get_status (msg);
  text = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  if (status != expected)
    g_error ("%s %s: status %u, expected %u: %s", method, path, status, expected, text);
  g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL),
                   ==, "application/json");
  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  env = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  check_envelope (env, status, text);
  if (out_msg)
    *out_msg = g_object_ref (msg);
  return env;
}

static char *
bearer (const char *token)
{
  return g_strconcat ("Bearer ", token, NULL);
}

/* A successful call with the admin token; returns the envelope. */
static JsonObject *
call (Fixture *f, const char *method, const char *path, const char *body, guint expected)
{
  g_autofree char *auth = bearer (f->token);

  return call_full (f, method, path, auth, body, expected, NULL);
}

static void
expect_error_auth (Fixture *f, const char *method, const char *path, const char *auth,
                   const char *body, guint status, int code)
{
  g_autoptr(JsonObject) env = call_full (f, method, path, auth, body, status, NULL);
  JsonObject *e = json_array_get_object_element (json_object_get_array_member (env, "errors"), 0);

  if (json_object_get_int_member (e, "code") != code)
    g_error ("%s %s: code %d, expected %d (%s)", method, path,
             (int) json_object_get_int_member (e, "code"), code, json_object_get_string_member (e, "message"));
}

static void
expect_error (Fixture *f, const char *method, const char *path, const char *body, guint status, int code)
{
  g_autofree char *auth = bearer (f->token);

  expect_error_auth (f, method, path, auth, body, status, code);
}

static char *
ns_path (Fixture *f, const char *rest)
{
  return g_strconcat (f->ns_path, rest, NULL);
}

static JsonObject *
result_object (JsonObject *env)
{
  return json_object_get_object_member (env, "result");
}

static void
assert_id (const char *id)
{
  g_assert_cmpuint (strlen (id), ==, 32);
  for (const char *p = id; *p; p++)
    g_assert_true (g_ascii_isdigit (*p) || (*p >= 'a' && *p <= 'f'));
}

static void
assert_time (const char *t)
{
  g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z$", t, 0, 0));
}

/* ---- Tests ------------------------------------------------------------- */

static void
test_admin_token (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->data_dir, "admin-token", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(StStore) store = NULL;
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_file_get_contents (path, &before, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (before), ==, 41);   /* 40 base64url characters and a newline */
  g_assert_cmpint (before[40], ==, '\n');

  /* It is an edit token: it may write. */
  g_autoptr(JsonObject) created = call (f, "POST", f->ns_path, "{\"name\": \"first\"}", 200);

  /* A later start keeps the token and does not make another. */
  stop (f);
  start (f);
  g_file_get_contents (path, &after, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (before, ==, after);
  g_autoptr(JsonObject) list = call (f, "GET", f->ns_path, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (list, "result")), ==, 1);

  store = st_store_open (f->data_dir, &error);
  g_assert_no_error (error);
  tokens = st_store_token_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tokens->len, ==, 1);
  g_assert_cmpint (((StStoreToken *) tokens->pdata[0])->scope, ==, ST_STORE_SCOPE_EDIT);
}

static void
test_auth (Fixture *f, gconstpointer data)
{
  g_autoptr(StStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(StStoreToken) read = NULL;
  g_autoptr(StStoreToken) revoked = NULL;
  g_autofree char *read_secret = NULL;
  g_autofree char *revoked_secret = NULL;
  g_autofree char *read_auth = NULL;
  g_autofree char *revoked_auth = NULL;
  g_autofree char *one = ns_path (f, "/one");
  g_autofree char *one_brokers = ns_path (f, "/one/brokers");

  store = st_store_open (f->data_dir, &error);
  g_assert_no_error (error);
  read = st_store_token_create (store, "reader", ST_STORE_SCOPE_READ, &read_secret, &error);
  g_assert_no_error (error);
  revoked = st_store_token_create (store, "gone", ST_STORE_SCOPE_EDIT, &revoked_secret, &error);
  g_assert_no_error (error);
  g_assert_true (st_store_token_revoke (store, revoked->id, &error));
  read_auth = bearer (read_secret);
  revoked_auth = bearer (revoked_secret);

  /* 401: no header, another scheme, an unknown token, a revoked one. */
  expect_error_auth (f, "GET", f->ns_path, NULL, NULL, 401, 10000);
  expect_error_auth (f, "GET", "/user/tokens/verify", NULL, NULL, 401, 10000);
  expect_error_auth (f, "GET", f->ns_path, "Basic YWRtaW46YWRtaW4=", NULL, 401, 10000);
  expect_error_auth (f, "GET", f->ns_path, "Bearer not-a-token", NULL, 401, 10000);
  expect_error_auth (f, "GET", f->ns_path, "Bearer ", NULL, 401, 10000);
  expect_error_auth (f, "GET", f->ns_path, revoked_auth, NULL, 401, 10000);
  /* The admin token, in any case of the scheme, and the read token may read. */
  g_autofree char *lower = g_strconcat ("bearer ", f->token, NULL);
  g_autoptr(JsonObject) a = call_full (f, "GET", f->ns_path, lower, NULL, 200, NULL);
  g_autoptr(JsonObject) b = call_full (f, "GET", f->ns_path, read_auth, NULL, 200, NULL);
  g_autoptr(JsonObject) v = call_full (f, "GET", "/user/tokens/verify", read_auth, NULL, 200, NULL);
  g_assert_cmpstr (json_object_get_string_member (result_object (v), "id"), ==, read->id);

  /* 403: the read token may not write, whatever the write. */
  g_autoptr(JsonObject) c = call (f, "POST", f->ns_path, "{\"name\": \"one\"}", 200);
  expect_error_auth (f, "POST", f->ns_path, read_auth, "{\"name\": \"two\"}", 403, 10001);
  expect_error_auth (f, "DELETE", one, read_auth, NULL, 403, 10001);
  expect_error_auth (f, "POST", one_brokers, read_auth, "{\"name\": \"b\"}", 403, 10001);
  g_autoptr(JsonObject) d = call (f, "GET", one, NULL, 200);
  g_autoptr(JsonObject) e = call (f, "GET", one_brokers, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (e, "result")), ==, 0);
}

static void
test_user (Fixture *f, gconstpointer data)
{
  g_autoptr(StStore) store = NULL;
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *list;
  JsonObject *m, *account;

  store = st_store_open (f->data_dir, &error);
  g_assert_no_error (error);
  tokens = st_store_token_list (store, &error);
  g_assert_no_error (error);

  g_autoptr(JsonObject) v = call (f, "GET", "/user/tokens/verify", NULL, 200);
  g_assert_cmpstr (json_object_get_string_member (result_object (v), "id"), ==,
                   ((StStoreToken *) tokens->pdata[0])->id);
  g_assert_cmpstr (json_object_get_string_member (result_object (v), "status"), ==, "active");

  g_autoptr(JsonObject) ms = call (f, "GET", "/memberships", NULL, 200);
  list = json_object_get_array_member (ms, "result");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  m = json_array_get_object_element (list, 0);
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==, "accepted");
  assert_id (json_object_get_string_member (m, "id"));
  account = json_object_get_object_member (m, "account");
  g_assert_cmpstr (json_object_get_string_member (account, "id"), ==, st_store_get_account_id (store));
  g_assert_cmpstr (json_object_get_string_member (account, "name"), !=, "");

  /* `wrangler whoami`: no user behind a token (9109, which wrangler reads
   * as "no email"), and the one account. */
  expect_error (f, "GET", "/user", NULL, 403, 9109);
  g_autoptr(JsonObject) accounts = call (f, "GET", "/accounts", NULL, 200);
  list = json_object_get_array_member (accounts, "result");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  account = json_array_get_object_element (list, 0);
  g_assert_cmpstr (json_object_get_string_member (account, "id"), ==, st_store_get_account_id (store));
  g_assert_cmpstr (json_object_get_string_member (account, "name"), ==, "Starling");
  expect_error (f, "POST", "/accounts", "{}", 405, 7001);
  expect_error (f, "DELETE", "/user", NULL, 405, 7001);
}

static void
test_routes (Fixture *f, gconstpointer data)
{
  g_autofree char *deep = ns_path (f, "/a/brokers/b/extra");
  g_autoptr(SoupMessage) msg = NULL;
  g_autofree char *auth = bearer (f->token);

  expect_error (f, "GET", "/nope", NULL, 404, 7000);
  expect_error (f, "GET", "", NULL, 404, 7000);
  expect_error (f, "GET", "/accounts/someone", NULL, 404, 7000);
  expect_error (f, "GET", "/user/tokens", NULL, 404, 7000);
  expect_error (f, "GET", deep, NULL, 404, 7000);
  expect_error (f, "GET", "!/elsewhere", NULL, 404, 7000);
  expect_error_auth (f, "GET", "!/", NULL, NULL, 404, 7000);
  /* An account id that is not this server's: 404 7003, also when valid-looking. */
  expect_error (f, "GET", "/accounts/0123456789abcdef0123456789abcdef/pubsub/namespaces", NULL, 404, 7003);
  expect_error (f, "POST", "/accounts/someone/pubsub/namespaces", "{\"name\": \"x\"}", 404, 7003);
  /* 405, naming what is allowed. */
  g_autoptr(JsonObject) env = call_full (f, "PUT", f->ns_path, auth, "{}", 405, &msg);
  g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (msg), "Allow"),
                   ==, "GET, POST");
  expect_error (f, "DELETE", f->ns_path, NULL, 405, 7001);
  expect_error (f, "POST", "/memberships", "{}", 405, 7001);
  expect_error (f, "PATCH", "/user/tokens/verify", "{}", 405, 7001);
  g_autofree char *one = ns_path (f, "/x");
  expect_error (f, "PUT", one, "{}", 405, 7001);
  g_autofree char *brokers = ns_path (f, "/x/brokers");
  expect_error (f, "DELETE", brokers, NULL, 405, 7001);
  g_autofree char *broker = ns_path (f, "/x/brokers/y");
  expect_error (f, "POST", broker, "{}", 405, 7001);
}

static void
test_namespaces (Fixture *f, gconstpointer data)
{
  g_autofree char *demo = ns_path (f, "/demo");
  g_autofree char *demo_upper = ns_path (f, "/DEMO");
  g_autofree char *missing = ns_path (f, "/missing");
  g_autofree char *long_name = g_strnfill (64, 'a');
  g_autofree char *long_body = g_strdup_printf ("{\"name\": \"%s\"}", long_name);
  JsonObject *ns;

  g_autoptr(JsonObject) created = call (f, "POST", f->ns_path,
                                        "{\"name\": \"Demo\", \"description\": \"a test\"}", 200);
  ns = result_object (created);
  g_assert_cmpuint (json_object_get_size (ns), ==, 5);
  assert_id (json_object_get_string_member (ns, "id"));
  g_assert_cmpstr (json_object_get_string_member (ns, "name"), ==, "demo");
  g_assert_cmpstr (json_object_get_string_member (ns, "description"), ==, "a test");
  assert_time (json_object_get_string_member (ns, "created_on"));
  assert_time (json_object_get_string_member (ns, "modified_on"));

  g_autoptr(JsonObject) plain = call (f, "POST", f->ns_path, "{\"name\": \"other-1\"}", 200);
  g_assert_cmpstr (json_object_get_string_member (result_object (plain), "description"), ==, "");

  g_autoptr(JsonObject) list = call (f, "GET", f->ns_path, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (list, "result")), ==, 2);

  g_autoptr(JsonObject) got = call (f, "GET", demo_upper, NULL, 200);
  g_assert_cmpstr (json_object_get_string_member (result_object (got), "id"), ==,
                   json_object_get_string_member (ns, "id"));

  /* Errors */
  expect_error (f, "POST", f->ns_path, "{\"name\": \"demo\"}", 409, 10300);
  expect_error (f, "POST", f->ns_path, "{\"name\": \"DEMO\"}", 409, 10300);
  expect_error (f, "POST", f->ns_path, "{\"name\": \"-bad\"}", 400, 10102);
  expect_error (f, "POST", f->ns_path, "{\"name\": \"9lives\"}", 400, 10102);
  expect_error (f, "POST", f->ns_path, "{\"name\": \"under_score\"}", 400, 10102);
  expect_error (f, "POST", f->ns_path, "{\"name\": \"trailing-\"}", 400, 10102);
  expect_error (f, "POST", f->ns_path, "{\"name\": \"\"}", 400, 10102);
  expect_error (f, "POST", f->ns_path, long_body, 400, 10102);
  expect_error (f, "POST", f->ns_path, "{\"name\": ", 400, 10100);
  expect_error (f, "POST", f->ns_path, "[\"demo\"]", 400, 10100);
  expect_error (f, "POST", f->ns_path, NULL, 400, 10100);
  expect_error (f, "POST", f->ns_path, "{\"name\": 5}", 400, 10101);
  expect_error (f, "POST", f->ns_path, "{\"name\": null}", 400, 10101);
  expect_error (f, "POST", f->ns_path, "{\"name\": \"ok\", \"description\": 5}", 400, 10101);
  expect_error (f, "POST", f->ns_path, "{\"description\": \"no name\"}", 400, 10103);
  expect_error (f, "GET", missing, NULL, 404, 10200);
  expect_error (f, "DELETE", missing, NULL, 404, 10200);

  /* PATCH (beyond Cloudflare) changes the description, and only that */
  g_autoptr(JsonObject) patched = call (f, "PATCH", demo_upper, "{\"description\": \"changed\"}", 200);
  g_assert_cmpstr (json_object_get_string_member (result_object (patched), "description"), ==, "changed");
  g_assert_cmpstr (json_object_get_string_member (result_object (patched), "name"), ==, "demo");
  assert_time (json_object_get_string_member (result_object (patched), "modified_on"));
  g_autoptr(JsonObject) reread = call (f, "GET", demo, NULL, 200);
  g_assert_cmpstr (json_object_get_string_member (result_object (reread), "description"), ==, "changed");
  expect_error (f, "PATCH", demo, "{}", 400, 10103);
  expect_error (f, "PATCH", demo, "{\"description\": 5}", 400, 10101);
  expect_error (f, "PATCH", demo, "[]", 400, 10100);
  expect_error (f, "PATCH", missing, "{\"description\": \"x\"}", 404, 10200);

  g_autoptr(JsonObject) deleted = call (f, "DELETE", demo, NULL, 200);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (deleted, "result")));
  expect_error (f, "GET", demo, NULL, 404, 10200);
  expect_error (f, "DELETE", demo, NULL, 404, 10200);
  g_autoptr(JsonObject) after = call (f, "GET", f->ns_path, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (after, "result")), ==, 1);
}

static void
test_brokers (Fixture *f, gconstpointer data)
{
  g_autofree char *brokers = ns_path (f, "/home/brokers");
  g_autofree char *b1 = ns_path (f, "/home/brokers/b1");
  g_autofree char *b2 = ns_path (f, "/home/brokers/B2");
  g_autofree char *nobroker = ns_path (f, "/home/brokers/nobody");
  g_autofree char *nons = ns_path (f, "/nowhere/brokers");
  g_autofree char *nons_b = ns_path (f, "/nowhere/brokers/b1");
  g_autofree char *endpoint = g_strdup_printf ("mqtts://b1.home.localhost:%u", f->mqtts_port);
  JsonObject *b, *hook;

  g_autoptr(JsonObject) ns = call (f, "POST", f->ns_path, "{\"name\": \"home\"}", 200);

  g_autoptr(JsonObject) created = call (f, "POST", brokers, "{\"name\": \"b1\"}", 200);
  b = result_object (created);
  assert_id (json_object_get_string_member (b, "id"));
  g_assert_cmpstr (json_object_get_string_member (b, "name"), ==, "b1");
  g_assert_cmpstr (json_object_get_string_member (b, "description"), ==, "");
  g_assert_cmpstr (json_object_get_string_member (b, "authType"), ==, "TOKEN");
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (b, "expiration")));
  g_assert_cmpstr (json_object_get_string_member (b, "endpoint"), ==, endpoint);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (b, "on_publish")));
  assert_time (json_object_get_string_member (b, "created_on"));
  assert_time (json_object_get_string_member (b, "modified_on"));

  g_autoptr(JsonObject) created2 = call (f, "POST", brokers,
    "{\"name\": \"B2\", \"description\": \"second\", \"authType\": \"NONE\", \"expiration\": 3600,"
    " \"on_publish\": {\"url\": \"https://hooks.example/in\"}}", 200);
  b = result_object (created2);
  g_assert_cmpstr (json_object_get_string_member (b, "name"), ==, "b2");
  g_assert_cmpstr (json_object_get_string_member (b, "description"), ==, "second");
  g_assert_cmpstr (json_object_get_string_member (b, "authType"), ==, "NONE");
  g_assert_cmpint (json_object_get_int_member (b, "expiration"), ==, 3600);
  hook = json_object_get_object_member (b, "on_publish");
  g_assert_cmpstr (json_object_get_string_member (hook, "url"), ==, "https://hooks.example/in");

  g_autoptr(JsonObject) list = call (f, "GET", brokers, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (list, "result")), ==, 2);

  g_autoptr(JsonObject) got = call (f, "GET", b2, NULL, 200);
  g_assert_cmpstr (json_object_get_string_member (result_object (got), "id"), ==,
                   json_object_get_string_member (b, "id"));

  /* PATCH changes only what it names. */
  g_autoptr(JsonObject) patched = call (f, "PATCH", b2, "{\"description\": \"changed\", \"expiration\": 60}", 200);
  b = result_object (patched);
  g_assert_cmpstr (json_object_get_string_member (b, "description"), ==, "changed");
  g_assert_cmpint (json_object_get_int_member (b, "expiration"), ==, 60);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (b, "on_publish"), "url"),
                   ==, "https://hooks.example/in");
  g_assert_cmpstr (json_object_get_string_member (b, "authType"), ==, "NONE");
  g_assert_cmpstr (json_object_get_string_member (b, "modified_on"), >,
                   json_object_get_string_member (b, "created_on"));
  g_autoptr(JsonObject) cleared = call (f, "PATCH", b2, "{\"on_publish\": null, \"expiration\": -1}", 200);
  b = result_object (cleared);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (b, "on_publish")));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (b, "expiration")));
  g_assert_cmpstr (json_object_get_string_member (b, "description"), ==, "changed");
  g_autoptr(JsonObject) again = call (f, "GET", b2, NULL, 200);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (result_object (again), "on_publish")));

  /* Errors */
  expect_error (f, "POST", brokers, "{\"name\": \"b1\"}", 409, 10301);
  expect_error (f, "POST", brokers, "{\"name\": \"no.dots\"}", 400, 10102);
  expect_error (f, "POST", brokers, "{\"name\": [\"b3\"]}", 400, 10101);
  expect_error (f, "POST", brokers, "{}", 400, 10103);
  expect_error (f, "POST", brokers, "not json", 400, 10100);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"authType\": \"BASIC\"}", 400, 10104);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"authType\": 1}", 400, 10101);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"expiration\": \"1h\"}", 400, 10101);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"expiration\": 1.5}", 400, 10101);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"expiration\": 0}", 400, 10104);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"expiration\": -5}", 400, 10104);
  /* Up to 2^40 s, the same bound as credentials' expiration. */
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"expiration\": 1099511627777}", 400, 10104);
  expect_error (f, "PATCH", b1, "{\"expiration\": 9223372036854775807}", 400, 10104);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"on_publish\": \"https://x.example\"}", 400, 10101);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"on_publish\": {}}", 400, 10103);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"on_publish\": {\"url\": 7}}", 400, 10101);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"on_publish\": {\"url\": \"ftp://x.example\"}}", 400, 10104);
  expect_error (f, "POST", brokers, "{\"name\": \"b3\", \"description\": false}", 400, 10101);
  expect_error (f, "PATCH", b1, "{\"expiration\": true}", 400, 10101);
  expect_error (f, "PATCH", b1, "{\"description\": 1}", 400, 10101);
  expect_error (f, "PATCH", b1, "{", 400, 10100);
  expect_error (f, "GET", nons, NULL, 404, 10200);
  expect_error (f, "POST", nons, "{\"name\": \"b1\"}", 404, 10200);
  expect_error (f, "GET", nons_b, NULL, 404, 10200);
  expect_error (f, "PATCH", nons_b, "{}", 404, 10200);
  expect_error (f, "DELETE", nons_b, NULL, 404, 10200);
  expect_error (f, "GET", nobroker, NULL, 404, 10201);
  expect_error (f, "PATCH", nobroker, "{\"description\": \"x\"}", 404, 10201);
  expect_error (f, "DELETE", nobroker, NULL, 404, 10201);
  /* Nothing failed above was written. */
  g_autoptr(JsonObject) still = call (f, "GET", brokers, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (still, "result")), ==, 2);

  g_autoptr(JsonObject) deleted = call (f, "DELETE", b1, NULL, 200);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (deleted, "result")));
  expect_error (f, "GET", b1, NULL, 404, 10201);
  expect_error (f, "DELETE", b1, NULL, 404, 10201);
  g_autoptr(JsonObject) left = call (f, "GET", brokers, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (left, "result")), ==, 1);
}

/* ---- MQTT on a broker made through the API ----------------------------- */

/* TLS through OpenSSL rather than GIO: GIO's TLS module is dlopened
 * GnuTLS, whose thread-local state LeakSanitizer's tracer cannot walk. */
typedef struct {
  int      fd;
  SSL_CTX *ctx;
  SSL     *ssl;
} MqttConn;

static void
mqtt_conn_free (MqttConn *c)
{
  if (c == NULL)
    return;
  if (c->ssl)
    SSL_free (c->ssl);
  if (c->ctx)
    SSL_CTX_free (c->ctx);
  if (c->fd >= 0)
    close (c->fd);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MqttConn, mqtt_conn_free)

static void
conn_read (MqttConn *c, guint8 *buf, int len)
{
  for (int got = 0; got < len; )
    {
      int n = SSL_read (c->ssl, buf + got, len - got);
      if (n <= 0)
        g_error ("TLS read: connection ended or timed out after %d of %d bytes", got, len);
      got += n;
    }
}

/* Hostname checks are not what is tested here, the routing by SNI is:
 * SSL_VERIFY_NONE.  Every read is bounded by SO_RCVTIMEO. */
static MqttConn *
conn_open (guint16 port, const char *host)
{
  MqttConn *c = g_new0 (MqttConn, 1);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  struct timeval tv = { .tv_sec = 10 };

  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  c->fd = socket (AF_INET, SOCK_STREAM, 0);
  g_assert_cmpint (c->fd, >=, 0);
  setsockopt (c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  g_assert_cmpint (connect (c->fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  c->ctx = SSL_CTX_new (TLS_client_method ());
  SSL_CTX_set_verify (c->ctx, SSL_VERIFY_NONE, NULL);
  c->ssl = SSL_new (c->ctx);
  SSL_set_fd (c->ssl, c->fd);
  SSL_set_tlsext_host_name (c->ssl, host);
  g_assert_cmpint (SSL_connect (c->ssl), ==, 1);
  return c;
}

static void
put_string (GByteArray *a, const char *s)
{
  guint8 len[2] = { strlen (s) >> 8, strlen (s) & 0xff };

  g_byte_array_append (a, len, 2);
  g_byte_array_append (a, (const guint8 *) s, strlen (s));
}

/* MQTT 5 CONNECT, clean start, with a password when given. */
static GByteArray *
connect_packet (const char *client_id, const char *password)
{
  g_autoptr(GByteArray) body = g_byte_array_new ();
  GByteArray *packet = g_byte_array_new ();
  static const guint8 head[] = { 0, 4, 'M', 'Q', 'T', 'T', 5 };
  guint8 flags = 0x02 | (password ? 0x40 : 0);
  guint8 rest[] = { flags, 0, 60, 0 };   /* flags, keep alive, no properties */
  guint8 type = 0x10;
  gsize len;

  g_byte_array_append (body, head, sizeof head);
  g_byte_array_append (body, rest, sizeof rest);
  put_string (body, client_id);
  if (password)
    put_string (body, password);
  g_byte_array_append (packet, &type, 1);
  for (len = body->len; ; )
    {
      guint8 b = len & 0x7f;
      len >>= 7;
      if (len)
        b |= 0x80;
      g_byte_array_append (packet, &b, 1);
      if (!len)
        break;
    }
  g_byte_array_append (packet, body->data, body->len);
  return packet;
}

/* Connects over TLS with SNI host, sends an MQTT 5 CONNECT, returns the
 * CONNACK reason code; *out keeps the connection open. */
static int
mqtt_open_sni_auth (guint16 port, const char *host, const char *client_id, const char *password,
                    MqttConn **out)
{
  g_autoptr(MqttConn) c = conn_open (port, host);
  g_autoptr(GByteArray) connect = connect_packet (client_id, password);
  guint8 connack[130];

  g_assert_cmpint (SSL_write (c->ssl, connect->data, connect->len), ==, (int) connect->len);
  /* The whole CONNACK, properties too, so the next read starts at the
   * next packet.  Ours are short: a one-byte remaining length. */
  conn_read (c, connack, 2);
  g_assert_cmphex (connack[0], ==, 0x20);
  g_assert_cmpuint (connack[1], >=, 2);
  g_assert_cmpuint (connack[1], <, 128);
  conn_read (c, connack + 2, connack[1]);
  if (out)
    *out = g_steal_pointer (&c);
  return connack[3];
}

static int
mqtt_open_sni (guint16 port, const char *host, MqttConn **out)
{
  return mqtt_open_sni_auth (port, host, "api-test", NULL, out);
}

static int
mqtt_connect_sni (guint16 port, const char *host)
{
  return mqtt_open_sni (port, host, NULL);
}

/* The next packet must be DISCONNECT with this reason. */
static void
expect_disconnect (MqttConn *c, guint8 reason)
{
  guint8 buf[3];

  conn_read (c, buf, 3);
  g_assert_cmphex (buf[0], ==, 0xE0);
  g_assert_cmphex (buf[2], ==, reason);
}

/* The connection is still open: a PINGREQ gets its PINGRESP. */
static void
expect_alive (MqttConn *c)
{
  static const guint8 pingreq[] = { 0xC0, 0x00 };
  guint8 buf[2];

  g_assert_cmpint (SSL_write (c->ssl, pingreq, sizeof pingreq), ==, (int) sizeof pingreq);
  conn_read (c, buf, 2);
  g_assert_cmphex (buf[0], ==, 0xD0);
  g_assert_cmphex (buf[1], ==, 0x00);
}

static void
test_mqtt (Fixture *f, gconstpointer data)
{
  g_autofree char *brokers = ns_path (f, "/shop/brokers");
  g_autoptr(JsonObject) ns = call (f, "POST", f->ns_path, "{\"name\": \"shop\"}", 200);

  /* No broker of that name yet: nothing to route to. */
  g_assert_cmpint (mqtt_connect_sni (f->mqtts_port, "open.shop.localhost"), !=, 0);

  g_autoptr(JsonObject) b = call (f, "POST", brokers, "{\"name\": \"open\", \"authType\": \"NONE\"}", 200);
  g_assert_cmpint (mqtt_connect_sni (f->mqtts_port, "open.shop.localhost"), ==, 0);

  /* Brokers in the store are MQTT brokers from the next start on. */
  stop (f);
  start (f);
  g_assert_cmpint (mqtt_connect_sni (f->mqtts_port, "open.shop.localhost"), ==, 0);
  g_assert_cmpint (mqtt_connect_sni (f->mqtts_port, "closed.shop.localhost"), !=, 0);
}

static void
test_mqtt_delete (Fixture *f, gconstpointer data)
{
  g_autofree char *brokers = ns_path (f, "/shop/brokers");
  g_autofree char *one = ns_path (f, "/shop/brokers/one");
  g_autofree char *shop = ns_path (f, "/shop");
  g_autoptr(MqttConn) c1 = NULL;
  g_autoptr(MqttConn) c2 = NULL;
  g_autoptr(JsonObject) ns = call (f, "POST", f->ns_path, "{\"name\": \"shop\"}", 200);
  g_autoptr(JsonObject) b1 = call (f, "POST", brokers, "{\"name\": \"one\", \"authType\": \"NONE\"}", 200);
  g_autoptr(JsonObject) b2 = call (f, "POST", brokers, "{\"name\": \"two\", \"authType\": \"NONE\"}", 200);

  g_assert_cmpint (mqtt_open_sni (f->mqtts_port, "one.shop.localhost", &c1), ==, 0);
  g_assert_cmpint (mqtt_open_sni (f->mqtts_port, "two.shop.localhost", &c2), ==, 0);

  /* Deleting a broker disconnects its clients (0x8B) and no one reaches it. */
  g_autoptr(JsonObject) d1 = call (f, "DELETE", one, NULL, 200);
  expect_disconnect (c1, 0x8B);
  g_assert_cmpint (mqtt_connect_sni (f->mqtts_port, "one.shop.localhost"), !=, 0);

  /* Deleting a namespace does the same for every broker in it. */
  g_autoptr(JsonObject) d2 = call (f, "DELETE", shop, NULL, 200);
  expect_disconnect (c2, 0x8B);
  g_assert_cmpint (mqtt_connect_sni (f->mqtts_port, "two.shop.localhost"), !=, 0);

  /* A broker made again under the same name is a new, reachable world. */
  g_autoptr(JsonObject) ns2 = call (f, "POST", f->ns_path, "{\"name\": \"shop\"}", 200);
  g_autoptr(JsonObject) b3 = call (f, "POST", brokers, "{\"name\": \"one\", \"authType\": \"NONE\"}", 200);
  g_assert_cmpint (mqtt_connect_sni (f->mqtts_port, "one.shop.localhost"), ==, 0);
}

/* ---- Credentials, public keys, revocations ----------------------------- */

static JsonObject *
claims_of (const char *token)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StJwt) jwt = st_jwt_parse (token, -1, &error);

  g_assert_no_error (error);
  return json_object_ref (st_jwt_get_unverified_claims (jwt));
}

static gint64
lifetime_of (const char *token)
{
  g_autoptr(JsonObject) c = claims_of (token);

  return json_object_get_int_member (c, "exp") - json_object_get_int_member (c, "iat");
}

/* The only member's value of a credentials result; *client_id its name. */
static const char *
only_token (JsonObject *env, const char **client_id)
{
  JsonObject *r = result_object (env);
  g_autoptr(GList) names = json_object_get_members (r);

  g_assert_cmpuint (g_list_length (names), ==, 1);
  if (client_id)
    *client_id = names->data;
  return json_object_get_string_member (r, names->data);
}

static void
test_credentials (Fixture *f, gconstpointer data)
{
  g_autofree char *brokers = ns_path (f, "/cred/brokers");
  g_autofree char *creds = ns_path (f, "/cred/brokers/tok/credentials");
  g_autofree char *keys_path = ns_path (f, "/cred/brokers/tok/publickeys");
  g_autofree char *none_creds = ns_path (f, "/cred/brokers/anon/credentials");
  g_autofree char *missing_b = ns_path (f, "/cred/brokers/nobody/credentials");
  g_autofree char *missing_ns = ns_path (f, "/nowhere/brokers/tok/credentials");
  g_autoptr(GError) error = NULL;
  const char *token, *client_id;
  JsonObject *jwk, *r;

  g_autoptr(JsonObject) ns = call (f, "POST", f->ns_path, "{\"name\": \"cred\"}", 200);
  g_autoptr(JsonObject) b = call (f, "POST", brokers, "{\"name\": \"tok\", \"expiration\": 3600}", 200);
  g_autoptr(JsonObject) nb = call (f, "POST", brokers, "{\"name\": \"anon\", \"authType\": \"NONE\"}", 200);

  /* One Ed25519 key, public half only, kid = RFC 7638 thumbprint. */
  g_autoptr(JsonObject) keys = call (f, "GET", keys_path, NULL, 200);
  JsonArray *list = json_object_get_array_member (result_object (keys), "keys");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  jwk = json_array_get_object_element (list, 0);
  g_assert_cmpstr (json_object_get_string_member (jwk, "kty"), ==, "OKP");
  g_assert_cmpstr (json_object_get_string_member (jwk, "crv"), ==, "Ed25519");
  g_assert_false (json_object_has_member (jwk, "d"));
  g_autoptr(StSigningKey) pub = st_signing_key_new_from_jwk (jwk, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (jwk, "kid"), ==, st_signing_key_get_kid (pub));

  /* Default: one credential for a fresh ULID client id, signed by that key,
   * expiring with the broker's expiration. */
  g_autoptr(JsonObject) one = call (f, "GET", creds, NULL, 200);
  token = only_token (one, &client_id);
  g_assert_cmpuint (strlen (client_id), ==, 26);
  g_autoptr(StJwt) jwt = st_jwt_parse (token, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (st_jwt_get_kid (jwt), ==, st_signing_key_get_kid (pub));
  g_assert_true (st_jwt_verify (jwt, pub, g_get_real_time () / G_USEC_PER_SEC, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (st_jwt_get_claims (jwt)->sub, ==, client_id);
  g_assert_cmpint (lifetime_of (token), ==, 3600);

  g_autofree char *three_path = g_strconcat (creds, "?number=3&type=TOKEN", NULL);
  g_autoptr(JsonObject) three = call (f, "GET", three_path, NULL, 200);
  g_assert_cmpuint (json_object_get_size (result_object (three)), ==, 3);

  g_autofree char *named_path = g_strconcat (creds, "?clientid=alpha&clientid=beta&number=5", NULL);
  g_autoptr(JsonObject) named = call (f, "GET", named_path, NULL, 200);
  r = result_object (named);
  g_assert_cmpuint (json_object_get_size (r), ==, 2);
  g_assert_true (json_object_has_member (r, "alpha"));
  g_assert_true (json_object_has_member (r, "beta"));

  /* The shorter expiration wins. */
  g_autofree char *short_path = g_strconcat (creds, "?expiration=60", NULL);
  g_autoptr(JsonObject) shorter = call (f, "GET", short_path, NULL, 200);
  g_assert_cmpint (lifetime_of (only_token (shorter, NULL)), ==, 60);
  g_autofree char *long_path = g_strconcat (creds, "?expiration=7200", NULL);
  g_autoptr(JsonObject) longer = call (f, "GET", long_path, NULL, 200);
  g_assert_cmpint (lifetime_of (only_token (longer, NULL)), ==, 3600);

  /* wrangler turns "10y" into 2207520000 s (its year is 365 weeks): a
   * credential may live as long as a broker's expiration may be. */
  g_autoptr(JsonObject) unbounded = call (f, "POST", brokers, "{\"name\": \"forever\"}", 200);
  g_autofree char *ten_y_path = g_strconcat (brokers, "/forever/credentials?expiration=2207520000", NULL);
  g_autoptr(JsonObject) ten_y = call (f, "GET", ten_y_path, NULL, 200);
  g_assert_cmpint (lifetime_of (only_token (ten_y, NULL)), ==, 2207520000);
  g_autofree char *max_path = g_strconcat (brokers, "/forever/credentials?expiration=1099511627776", NULL);
  g_autoptr(JsonObject) max = call (f, "GET", max_path, NULL, 200);
  g_assert_cmpint (lifetime_of (only_token (max, NULL)), ==, G_GINT64_CONSTANT (1) << 40);
  g_autofree char *over_path = g_strconcat (brokers, "/forever/credentials?expiration=1099511627777", NULL);
  expect_error (f, "GET", over_path, NULL, 400, 10104);

  g_autofree char *acl_path = g_strconcat (creds, "?topicAcl=sensors%2F%23", NULL);
  g_autoptr(JsonObject) acl = call (f, "GET", acl_path, NULL, 200);
  g_autoptr(JsonObject) acl_claims = claims_of (only_token (acl, NULL));
  g_assert_cmpstr (json_object_get_string_member (acl_claims, "topicAcl"), ==, "sensors/#");

  /* Errors */
  static const char *const bad[] = { "?number=0", "?number=101", "?number=two", "?expiration=1h",
                                     "?expiration=0", "?type=BASIC", "?clientid=" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = g_strconcat (creds, bad[i], NULL);
      expect_error (f, "GET", path, NULL, 400, 10104);
    }
  expect_error (f, "GET", none_creds, NULL, 400, 10104);
  expect_error (f, "GET", missing_b, NULL, 404, 10201);
  expect_error (f, "GET", missing_ns, NULL, 404, 10200);
  expect_error (f, "POST", creds, "{}", 405, 7001);
}

static void
test_token_mqtt (Fixture *f, gconstpointer data)
{
  g_autofree char *brokers = ns_path (f, "/cred/brokers");
  g_autofree char *creds = ns_path (f, "/cred/brokers/tok/credentials?clientid=dev-1&clientid=dev-2");
  g_autofree char *revs = ns_path (f, "/cred/brokers/tok/revocations");
  g_autofree char *missing = ns_path (f, "/cred/brokers/nobody/revocations");
  g_autoptr(MqttConn) c1 = NULL;
  const char *host = "tok.cred.localhost";
  JsonArray *list;

  g_autoptr(JsonObject) ns = call (f, "POST", f->ns_path, "{\"name\": \"cred\"}", 200);
  g_autoptr(JsonObject) b = call (f, "POST", brokers, "{\"name\": \"tok\"}", 200);
  g_autoptr(JsonObject) issued = call (f, "GET", creds, NULL, 200);
  g_autofree char *t1 = g_strdup (json_object_get_string_member (result_object (issued), "dev-1"));
  g_autofree char *t2 = g_strdup (json_object_get_string_member (result_object (issued), "dev-2"));
  g_autoptr(JsonObject) c1_claims = claims_of (t1);
  g_autofree char *jti1 = g_strdup (json_object_get_string_member (c1_claims, "jti"));

  /* The broker made through the API takes its own tokens. */
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "dev-1", t1, &c1), ==, 0);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "dev-1", NULL, NULL), !=, 0);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "someone-else", t2, NULL), ==, 0x85);

  /* Revocation: stored, listed, and the connected client is cut off. */
  g_autofree char *rev_path = g_strconcat (revs, "?jti=", jti1, NULL);
  g_autoptr(JsonObject) revoked = call (f, "POST", rev_path, NULL, 200);
  list = json_object_get_array_member (revoked, "result");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (list, 0), ==, jti1);
  expect_disconnect (c1, 0x87);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "dev-1", t1, NULL), ==, 0x87);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "dev-2", t2, NULL), ==, 0);

  g_autofree char *more = g_strconcat (revs, "?jti=a1,b2&jti=c3", NULL);
  g_autoptr(JsonObject) several = call (f, "POST", more, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (several, "result")), ==, 3);
  g_autoptr(JsonObject) all = call (f, "GET", revs, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (all, "result")), ==, 4);

  /* What was issued, under Starling's own prefix: metadata, never tokens. */
  g_autofree char *issued_path = g_strdup (f->ns_path);
  *strstr (issued_path, "/pubsub/namespaces") = '\0';
  g_autofree char *listing = g_strconcat (issued_path, "/starling/namespaces/cred/brokers/tok/credentials", NULL);
  g_autofree char *listing_one = g_strconcat (listing, "?clientid=dev-2", NULL);
  g_autofree char *listing_missing = g_strconcat (issued_path, "/starling/namespaces/cred/brokers/nobody/credentials", NULL);
  g_autoptr(JsonObject) issued_list = call (f, "GET", listing, NULL, 200);
  list = json_object_get_array_member (issued_list, "result");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *c = json_array_get_object_element (list, i);
      const char *id = json_object_get_string_member (c, "clientId");
      gboolean first = g_str_equal (id, "dev-1");

      g_assert_true (first || g_str_equal (id, "dev-2"));
      g_assert_cmpint (json_object_get_boolean_member (c, "revoked"), ==, first);
      g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (c, "exp")));
      g_assert_cmpstr (json_object_get_string_member (c, "topicAcl"), ==, "#");
      g_assert_false (json_object_has_member (c, "token"));
      if (first)
        g_assert_cmpstr (json_object_get_string_member (c, "jti"), ==, jti1);
    }
  g_autoptr(JsonObject) issued_one = call (f, "GET", listing_one, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (issued_one, "result")), ==, 1);
  expect_error (f, "GET", listing_missing, NULL, 404, 10201);
  expect_error (f, "POST", listing, "{}", 405, 7001);
  expect_error (f, "GET", "/accounts/0123456789abcdef0123456789abcdef/starling/namespaces/cred/brokers/tok/credentials",
                NULL, 404, 7003);
  expect_error (f, "POST", revs, NULL, 400, 10103);
  expect_error (f, "DELETE", revs, NULL, 400, 10103);
  expect_error (f, "GET", missing, NULL, 404, 10201);
  expect_error (f, "PATCH", revs, "{}", 405, 7001);

  /* Keys and revocations survive a restart. */
  stop (f);
  start (f);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "dev-1", t1, NULL), ==, 0x87);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "dev-2", t2, NULL), ==, 0);

  /* Unrevoked, the token works again. */
  g_autoptr(JsonObject) unrevoked = call (f, "DELETE", rev_path, NULL, 200);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "dev-1", t1, NULL), ==, 0);
  g_autoptr(JsonObject) left = call (f, "GET", revs, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (left, "result")), ==, 3);
}

static void
test_keys (Fixture *f, gconstpointer data)
{
  g_autofree char *brokers = ns_path (f, "/kr/brokers");
  g_autofree char *creds = ns_path (f, "/kr/brokers/tok/credentials?clientid=c1");
  g_autofree char *keys_path = ns_path (f, "/kr/brokers/tok/publickeys");
  g_autofree char *rotate = ns_path (f, "/kr/brokers/tok/keys/rotate");
  g_autofree char *rotate_missing = ns_path (f, "/kr/brokers/nobody/keys/rotate");
  g_autofree char *unknown_key = ns_path (f, "/kr/brokers/tok/keys/no-such-kid");
  g_autofree char *keys_dir = ns_path (f, "/kr/brokers/tok/keys/");
  g_autofree char *creds2 = ns_path (f, "/kr/brokers/tok/credentials?clientid=c2");
  const char *host = "tok.kr.localhost";
  g_autoptr(MqttConn) on_old = NULL;
  g_autoptr(MqttConn) on_new = NULL;
  JsonArray *keys;

  g_autoptr(JsonObject) ns = call (f, "POST", f->ns_path, "{\"name\": \"kr\"}", 200);
  g_autoptr(JsonObject) b = call (f, "POST", brokers, "{\"name\": \"tok\"}", 200);
  g_autoptr(JsonObject) before = call (f, "GET", keys_path, NULL, 200);
  g_autofree char *old_kid = g_strdup (json_object_get_string_member (
    json_array_get_object_element (json_object_get_array_member (result_object (before), "keys"), 0), "kid"));
  g_autoptr(JsonObject) issued_old = call (f, "GET", creds, NULL, 200);
  g_autofree char *old_token = g_strdup (json_object_get_string_member (result_object (issued_old), "c1"));

  /* Rotation adds a key that signs from now on; the old one still verifies. */
  g_autoptr(JsonObject) rotated = call (f, "POST", rotate, NULL, 200);
  const char *new_kid = json_object_get_string_member (result_object (rotated), "kid");
  g_assert_cmpstr (new_kid, !=, old_kid);
  g_assert_false (json_object_has_member (result_object (rotated), "d"));
  g_autoptr(JsonObject) after = call (f, "GET", keys_path, NULL, 200);
  keys = json_object_get_array_member (result_object (after), "keys");
  g_assert_cmpuint (json_array_get_length (keys), ==, 2);
  g_autoptr(JsonObject) issued_new = call (f, "GET", creds, NULL, 200);
  g_autofree char *new_token = g_strdup (json_object_get_string_member (result_object (issued_new), "c1"));
  g_autoptr(StJwt) jwt = st_jwt_parse (new_token, -1, NULL);
  g_assert_cmpstr (st_jwt_get_kid (jwt), ==, new_kid);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "c1", old_token, NULL), ==, 0);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "c1", new_token, NULL), ==, 0);

  /* Removing the old key ends its tokens, and cuts off the clients
   * connected with one (0x87, as a revocation does); the others stay. */
  g_autoptr(JsonObject) issued_c2 = call (f, "GET", creds2, NULL, 200);
  g_autofree char *c2_token = g_strdup (json_object_get_string_member (result_object (issued_c2), "c2"));
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "c1", old_token, &on_old), ==, 0);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "c2", c2_token, &on_new), ==, 0);
  g_autofree char *old_key = g_strconcat (keys_dir, old_kid, NULL);
  g_autoptr(JsonObject) removed = call (f, "DELETE", old_key, NULL, 200);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (removed, "result")));
  expect_disconnect (on_old, 0x87);
  expect_alive (on_new);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "c1", old_token, NULL), ==, 0x86);
  g_assert_cmpint (mqtt_open_sni_auth (f->mqtts_port, host, "c1", new_token, NULL), ==, 0);
  g_autoptr(JsonObject) last = call (f, "GET", keys_path, NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (result_object (last), "keys")), ==, 1);

  /* Errors */
  expect_error (f, "DELETE", old_key, NULL, 404, 10202);
  expect_error (f, "DELETE", unknown_key, NULL, 404, 10202);
  g_autofree char *new_key = g_strconcat (keys_dir, new_kid, NULL);
  expect_error (f, "DELETE", new_key, NULL, 409, 10302);
  expect_error (f, "GET", rotate, NULL, 405, 7001);
  expect_error (f, "POST", rotate_missing, NULL, 404, 10201);
}

static void
test_ca (Fixture *f, gconstpointer data)
{
  g_autofree char *ready = st_server_get_ready_json (f->server);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *auth = bearer (f->token);
  g_autofree char *path = g_strdup (f->ns_path);
  g_autofree char *uri = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = NULL;

  json_parser_load_from_data (parser, ready, -1, &error);
  g_assert_no_error (error);
  g_file_get_contents (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "ca_file"),
                       &expected, NULL, &error);
  g_assert_no_error (error);

  *strstr (path, "/namespaces") = '\0';
  uri = g_strconcat (f->base, path, "/ca", NULL);
  msg = soup_message_new ("GET", uri);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  body = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL),
                   ==, "application/x-pem-file");
  g_assert_cmpmem (g_bytes_get_data (body, NULL), g_bytes_get_size (body), expected, strlen (expected));
  g_assert_true (g_str_has_prefix (expected, "-----BEGIN CERTIFICATE-----"));

  expect_error (f, "GET", "/accounts/0123456789abcdef0123456789abcdef/pubsub/ca", NULL, 404, 7003);
  g_autofree char *ca = g_strconcat (path, "/ca", NULL);
  expect_error (f, "POST", ca, "{}", 405, 7001);
  expect_error_auth (f, "GET", ca, NULL, NULL, 401, 10000);
}

/* starlingd token create|list|revoke, beside the running server. */
static char *
run_token (Fixture *f, int expected_status, ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  char *out = NULL;
  const char *arg;
  int status;
  va_list ap;

  g_ptr_array_add (args, (char *) g_getenv ("STARLINGD"));
  g_ptr_array_add (args, "token");
  va_start (ap, expected_status);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (char *) arg);
  va_end (ap);
  g_ptr_array_add (args, "--data-dir");
  g_ptr_array_add (args, f->data_dir);
  g_ptr_array_add (args, NULL);
  g_spawn_sync (NULL, (char **) args->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL) != (expected_status != 0) ||
      (expected_status != 0 && WEXITSTATUS (status) != expected_status))
    g_error ("starlingd token: status %d, expected exit %d; stderr: %s", status, expected_status, err);
  return out;
}

static void
test_token_cli (Fixture *f, gconstpointer data)
{
  g_autofree char *created = NULL;
  g_autofree char *listed = NULL;
  g_autofree char *auth = NULL;
  g_autofree char *id = NULL;

  if (g_getenv ("STARLINGD") == NULL)
    {
      g_test_skip ("STARLINGD is not set (run through meson test)");
      return;
    }
  /* A second store opened and closed in the server's process must not
   * disturb the server's own connection (POSIX locks are per process). */
  g_autoptr(GError) error = NULL;
  StStore *other = st_store_open (f->data_dir, &error);
  g_assert_no_error (error);
  st_store_free (other);

  created = run_token (f, 0, "create", "--scope", "read", "--name", "dashboard", NULL);
  g_strchomp (created);
  g_assert_cmpuint (strlen (created), ==, 40);
  auth = bearer (created);

  /* It works against the running server, as a read token. */
  g_autoptr(JsonObject) ok = call_full (f, "GET", f->ns_path, auth, NULL, 200, NULL);
  expect_error_auth (f, "POST", f->ns_path, auth, "{\"name\": \"x\"}", 403, 10001);

  /* The list: a header, the admin token and this one, by id and name. */
  listed = run_token (f, 0, "list", NULL);
  g_auto(GStrv) lines = g_strsplit (listed, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);   /* and the empty string after the last newline */
  for (guint i = 1; lines[i]; i++)
    if (g_str_has_suffix (lines[i], "  dashboard"))
      {
        id = g_strndup (lines[i], 32);
        g_assert_nonnull (strstr (lines[i], "  read "));
        g_assert_nonnull (strstr (lines[i], "  active "));
      }
  g_assert_nonnull (id);
  g_assert_null (strstr (listed, created));   /* secrets are never shown again */

  g_free (run_token (f, 0, "revoke", id, NULL));
  expect_error_auth (f, "GET", f->ns_path, auth, NULL, 401, 10000);
  g_free (listed);
  listed = run_token (f, 0, "list", NULL);
  g_assert_nonnull (strstr (listed, "revoked"));

  g_free (run_token (f, 2, "create", "--scope", "admin", NULL));
  g_free (run_token (f, 2, "frobnicate", NULL));
  g_free (run_token (f, 1, "revoke", "0123456789abcdef0123456789abcdef", NULL));
}

int
main (int argc, char **argv)
{
  /* GSocketClient asks GIO's default proxy resolver even when given its
   * own, and GNOME's reads GSettings schemas a test machine may not have.
   * Everything here is 127.0.0.1: no proxy. */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/api/admin-token", test_admin_token);
  ADD ("/api/auth", test_auth);
  ADD ("/api/user", test_user);
  ADD ("/api/routes", test_routes);
  ADD ("/api/namespaces", test_namespaces);
  ADD ("/api/brokers", test_brokers);
  ADD ("/api/mqtt-sni", test_mqtt);
  ADD ("/api/mqtt-delete", test_mqtt_delete);
  ADD ("/api/credentials", test_credentials);
  ADD ("/api/token-mqtt", test_token_mqtt);
  ADD ("/api/keys", test_keys);
  ADD ("/api/ca", test_ca);
  ADD ("/api/token-cli", test_token_cli);
#undef ADD
  return g_test_run ();
}
