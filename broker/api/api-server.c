#define G_LOG_DOMAIN "starling-api"

#include "api-private.h"

#include <string.h>

#define API_BASE "/client/v4"

void
api_engine_add_broker (StApiServer *server, const StStoreBroker *broker)
{
  g_autoptr(GError) error = NULL;
  StBroker *b = st_engine_add_broker (server->engine, broker->id, broker->namespace_name, broker->name,
                                      broker->auth_type == ST_STORE_AUTH_NONE ? ST_AUTH_NONE : ST_AUTH_TOKEN);

  g_hash_table_replace (server->engine_brokers, g_strdup (broker->id), b);
  /* Without its keys a token broker refuses every client: loud, but the
   * broker still exists and the next change may succeed. */
  if (!api_engine_sync_auth (server, b, broker, &error))
    g_warning ("broker %s.%s has no usable signing keys: %s", broker->name, broker->namespace_name,
               error->message);
  api_engine_sync_hook (server, b, broker);
}

void
api_engine_remove_broker (StApiServer *server, const char *broker_id)
{
  StBroker *b = g_hash_table_lookup (server->engine_brokers, broker_id);

  if (b == NULL)
    return;
  g_hash_table_remove (server->engine_brokers, broker_id);
  st_engine_remove_broker (server->engine, b);
}

StBroker *
st_api_server_get_engine_broker (StApiServer *self, const char *broker_id)
{
  g_return_val_if_fail (self != NULL && broker_id != NULL, NULL);

  return g_hash_table_lookup (self->engine_brokers, broker_id);
}

gboolean
st_api_server_load_brokers (StApiServer *self, GError **error)
{
  g_autoptr(GPtrArray) brokers = NULL;

  g_return_val_if_fail (self != NULL, FALSE);

  if ((brokers = st_store_broker_list (self->store, NULL, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < brokers->len; i++)
    api_engine_add_broker (self, g_ptr_array_index (brokers, i));
  return TRUE;
}

void
st_api_server_set_namespace_func (StApiServer       *self,
                                  StApiNamespaceFunc func,
                                  gpointer           user_data)
{
  g_return_if_fail (self != NULL);

  self->namespace_func = func;
  self->namespace_data = user_data;
}

StApiServer *
st_api_server_new (StStore    *store,
                   StEngine   *engine,
                   const char *public_host)
{
  StApiServer *self;

  g_return_val_if_fail (store != NULL && engine != NULL, NULL);

  self = g_new0 (StApiServer, 1);
  self->store = store;
  self->engine = engine;
  self->public_host = g_strdup (public_host ? public_host : "localhost");
  self->engine_brokers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  return self;
}

/* ---- Routing ----------------------------------------------------------- */

static gboolean
is_write (const char *method)
{
  return strcmp (method, SOUP_METHOD_GET) != 0 && strcmp (method, SOUP_METHOD_HEAD) != 0;
}

/* Answers 401 and returns FALSE unless the request carries a valid token. */
static gboolean
authenticate (ApiRequest *req)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (req->msg);
  const char *auth = soup_message_headers_get_one (headers, "Authorization");
  g_autoptr(GError) error = NULL;
  const char *secret;

  if (auth == NULL)
    {
      api_error (req, SOUP_STATUS_UNAUTHORIZED, API_ERROR_AUTH,
                 "Authentication error: no Authorization header (use “Authorization: Bearer <API token>”)");
      return FALSE;
    }
  if (g_ascii_strncasecmp (auth, "Bearer ", 7) != 0)
    {
      api_error (req, SOUP_STATUS_UNAUTHORIZED, API_ERROR_AUTH,
                 "Authentication error: the Authorization header must be “Bearer <API token>”");
      return FALSE;
    }
  secret = auth + 7;
  while (*secret == ' ')
    secret++;
  req->token = st_store_token_verify (req->server->store, secret, &error);
  if (req->token == NULL)
    {
      if (!g_error_matches (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND))
        g_warning ("control API: cannot verify a token: %s", error->message);
      api_error (req, SOUP_STATUS_UNAUTHORIZED, API_ERROR_AUTH,
                 "Authentication error: the API token is not valid (unknown or revoked)");
      return FALSE;
    }
  return TRUE;
}

typedef void (*ApiHandler) (ApiRequest *req);

typedef struct {
  ApiHandler get, post, patch, delete;
} ApiMethods;

static void
dispatch (ApiRequest *req, const ApiMethods *m)
{
  ApiHandler handler = NULL;
  GString *allow = g_string_new (NULL);

  if (m->get)
    g_string_append (allow, "GET, ");
  if (m->post)
    g_string_append (allow, "POST, ");
  if (m->patch)
    g_string_append (allow, "PATCH, ");
  if (m->delete)
    g_string_append (allow, "DELETE, ");
  g_string_truncate (allow, allow->len - 2);

  if (strcmp (req->method, SOUP_METHOD_GET) == 0)
    handler = m->get;
  else if (strcmp (req->method, SOUP_METHOD_POST) == 0)
    handler = m->post;
  else if (strcmp (req->method, "PATCH") == 0)
    handler = m->patch;
  else if (strcmp (req->method, SOUP_METHOD_DELETE) == 0)
    handler = m->delete;

  if (handler == NULL)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (req->msg),
                                    "Allow", allow->str);
      api_error (req, SOUP_STATUS_METHOD_NOT_ALLOWED, API_ERROR_METHOD,
                 "method %s is not allowed here (allowed: %s)", req->method, allow->str);
    }
  else if (is_write (req->method) && req->token->scope != ST_STORE_SCOPE_EDIT)
    api_error (req, SOUP_STATUS_FORBIDDEN, API_ERROR_FORBIDDEN,
               "this API token may only read (scope %s): %s needs a token with scope edit",
               st_store_scope_to_string (req->token->scope), req->method);
  else
    handler (req);
  g_string_free (allow, TRUE);
}

static void
no_route (ApiRequest *req, const char *path)
{
  api_error (req, SOUP_STATUS_NOT_FOUND, API_ERROR_NO_ROUTE, "No route for that URI: %s", path);
}

/* Path segments after the base, empty ones dropped (a trailing slash is
 * the same route).  Percent-escapes are decoded per segment. */
static char **
split_path (const char *rest)
{
  g_auto(GStrv) parts = g_strsplit (rest, "/", -1);
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; parts[i]; i++)
    if (*parts[i] != '\0')
      {
        char *seg = g_uri_unescape_string (parts[i], "/");
        g_ptr_array_add (out, seg ? seg : g_strdup (""));
      }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

static void
route (ApiRequest *req, const char *path)
{
  static const ApiMethods verify = { .get = api_user_tokens_verify };
  static const ApiMethods memberships = { .get = api_memberships };
  static const ApiMethods user = { .get = api_user };
  static const ApiMethods accounts = { .get = api_accounts };
  static const ApiMethods namespaces = { .get = api_namespaces_list, .post = api_namespaces_create };
  static const ApiMethods one_namespace = { .get = api_namespace_get, .patch = api_namespace_update,
                                            .delete = api_namespace_delete };
  static const ApiMethods brokers = { .get = api_brokers_list, .post = api_brokers_create };
  static const ApiMethods one_broker = { .get = api_broker_get, .patch = api_broker_update,
                                         .delete = api_broker_delete };
  static const ApiMethods credentials = { .get = api_credentials };
  static const ApiMethods publickeys = { .get = api_publickeys };
  static const ApiMethods revocations = { .get = api_revocations_list, .post = api_revocations_add,
                                          .delete = api_revocations_remove };
  static const ApiMethods rotate = { .post = api_keys_rotate };
  static const ApiMethods one_key = { .delete = api_key_delete };
  static const ApiMethods ca = { .get = api_ca };
  static const ApiMethods issued = { .get = api_credentials_list };
  g_auto(GStrv) seg = NULL;
  guint n;

  if (!g_str_has_prefix (path, API_BASE "/") && strcmp (path, API_BASE) != 0)
    {
      no_route (req, path);
      return;
    }
  if (!authenticate (req))
    return;

  seg = split_path (path + strlen (API_BASE));
  n = g_strv_length (seg);

  if (n == 3 && strcmp (seg[0], "user") == 0 && strcmp (seg[1], "tokens") == 0 &&
      strcmp (seg[2], "verify") == 0)
    {
      dispatch (req, &verify);
      return;
    }
  if (n == 1 && strcmp (seg[0], "memberships") == 0)
    {
      dispatch (req, &memberships);
      return;
    }
  /* `wrangler whoami` asks for these two. */
  if (n == 1 && strcmp (seg[0], "user") == 0)
    {
      dispatch (req, &user);
      return;
    }
  if (n == 1 && strcmp (seg[0], "accounts") == 0)
    {
      dispatch (req, &accounts);
      return;
    }
  if (n == 4 && strcmp (seg[0], "accounts") == 0 && strcmp (seg[2], "pubsub") == 0 &&
      strcmp (seg[3], "ca") == 0)
    {
      if (strcmp (seg[1], st_store_get_account_id (req->server->store)) != 0)
        {
          api_error (req, SOUP_STATUS_NOT_FOUND, API_ERROR_ACCOUNT,
                     "Could not route to %s: account “%s” is not this server's account", path, seg[1]);
          return;
        }
      dispatch (req, &ca);
      return;
    }
  /* Starling's own additions that are not beside a Cloudflare route live
   * under /accounts/{id}/starling, where Cloudflare has nothing. */
  if (n == 8 && strcmp (seg[0], "accounts") == 0 && strcmp (seg[2], "starling") == 0 &&
      strcmp (seg[3], "namespaces") == 0 && strcmp (seg[5], "brokers") == 0 &&
      strcmp (seg[7], "credentials") == 0)
    {
      if (strcmp (seg[1], st_store_get_account_id (req->server->store)) != 0)
        {
          api_error (req, SOUP_STATUS_NOT_FOUND, API_ERROR_ACCOUNT,
                     "Could not route to %s: account “%s” is not this server's account", path, seg[1]);
          return;
        }
      req->ns = seg[4];
      req->broker = seg[6];
      dispatch (req, &issued);
      return;
    }
  if (n >= 4 && strcmp (seg[0], "accounts") == 0 && strcmp (seg[2], "pubsub") == 0 &&
      strcmp (seg[3], "namespaces") == 0 && n <= 9 && (n < 6 || strcmp (seg[5], "brokers") == 0))
    {
      /* Cloudflare answers an id that is not the caller's account with
       * 7003 "could not route"; so do we, with 404: the account does not
       * exist here, rather than exists but is forbidden. */
      if (strcmp (seg[1], st_store_get_account_id (req->server->store)) != 0)
        {
          api_error (req, SOUP_STATUS_NOT_FOUND, API_ERROR_ACCOUNT,
                     "Could not route to %s: account “%s” is not this server's account", path, seg[1]);
          return;
        }
      req->ns = n >= 5 ? seg[4] : NULL;
      req->broker = n >= 7 ? seg[6] : NULL;
      req->kid = n >= 9 ? seg[8] : NULL;
      switch (n)
        {
        case 4: dispatch (req, &namespaces); return;
        case 5: dispatch (req, &one_namespace); return;
        case 6: dispatch (req, &brokers); return;
        case 7: dispatch (req, &one_broker); return;
        case 8:
          if (strcmp (seg[7], "credentials") == 0)
            {
              dispatch (req, &credentials);
              return;
            }
          if (strcmp (seg[7], "publickeys") == 0)
            {
              dispatch (req, &publickeys);
              return;
            }
          if (strcmp (seg[7], "revocations") == 0)
            {
              dispatch (req, &revocations);
              return;
            }
          break;
        case 9:
          if (strcmp (seg[7], "keys") == 0)
            {
              dispatch (req, strcmp (seg[8], "rotate") == 0 ? &rotate : &one_key);
              return;
            }
          break;
        default: break;
        }
    }
  no_route (req, path);
}

static void
handle_request (SoupServer        *soup,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  ApiRequest req = {
    .server = user_data,
    .msg = msg,
    .method = soup_server_message_get_method (msg),
  };

  route (&req, path);
  g_clear_pointer (&req.token, st_store_token_free);
}

/* ---- Thread ------------------------------------------------------------ */

static gpointer
control_thread (gpointer data)
{
  StApiServer *self = data;

  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);
  /* The server's sockets and connections belong to this context: close
   * them here, where their sources are dispatched. */
  soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

static GSocketAddress *
parse_listen (const char *listen, GError **error)
{
  const char *colon = strrchr (listen, ':');
  g_autofree char *host = NULL;
  guint64 port;
  GInetAddress *addr;
  GSocketAddress *sa;

  if (colon == NULL || colon == listen ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    goto bad;
  host = g_strndup (listen, colon - listen);
  if (host[0] == '[')
    {
      size_t len = strlen (host);
      if (len < 3 || host[len - 1] != ']')
        goto bad;
      memmove (host, host + 1, len - 2);
      host[len - 2] = '\0';
    }
  addr = g_inet_address_new_from_string (host);
  if (addr == NULL)
    goto bad;
  sa = g_inet_socket_address_new (addr, port);
  g_object_unref (addr);
  return sa;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "control API: “%s” is not ADDR:PORT with a numeric address (e.g. 127.0.0.1:8080)", listen);
  return NULL;
}

gboolean
st_api_server_start (StApiServer *self, const char *listen, guint16 mqtts_port,
                     const char *ca_file, GError **error)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local = NULL;
  GSList *uris;

  g_return_val_if_fail (self != NULL && listen != NULL, FALSE);
  g_return_val_if_fail (self->thread == NULL, FALSE);

  if ((address = parse_listen (listen, error)) == NULL)
    return FALSE;
  self->mqtts_port = mqtts_port;
  g_free (self->ca_file);
  self->ca_file = g_strdup (ca_file);

  /* libsoup attaches its listening and connection sources to the
   * thread-default context of the moment: make it the control thread's
   * before listening, so everything runs there. */
  g_main_context_push_thread_default (self->context);
  self->soup = soup_server_new ("server-header", "starlingd ", NULL);
  soup_server_add_handler (self->soup, NULL, handle_request, self, NULL);
  if (!soup_server_listen (self->soup, address, 0, &local))
    {
      g_main_context_pop_thread_default (self->context);
      g_clear_object (&self->soup);
      g_set_error (error, G_IO_ERROR, local->code, "control API: cannot listen on %s: %s",
                   listen, local->message);
      return FALSE;
    }
  g_main_context_pop_thread_default (self->context);

  uris = soup_server_get_uris (self->soup);
  if (uris != NULL)
    {
      GUri *uri = uris->data;
      self->host = g_strdup (g_uri_get_host (uri));
      self->port = g_uri_get_port (uri);
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  self->thread = g_thread_new ("starling-api", control_thread, self);
  return TRUE;
}

gboolean
st_api_server_get_address (StApiServer *self, char **host, guint16 *port)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (self->host == NULL)
    return FALSE;
  if (host)
    *host = g_strdup (self->host);
  if (port)
    *port = self->port;
  return TRUE;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
st_api_server_stop (StApiServer *self)
{
  g_return_if_fail (self != NULL);

  if (self->thread)
    {
      /* A source rather than g_main_context_invoke: invoke would run
       * quit_loop right here if the thread has not yet taken the context,
       * before g_main_loop_run, and the loop would then never stop. */
      GSource *idle = g_idle_source_new ();
      g_source_set_callback (idle, quit_loop, self->loop, NULL);
      g_source_attach (idle, self->context);
      g_source_unref (idle);
      g_thread_join (self->thread);
      self->thread = NULL;
    }
  g_clear_object (&self->soup);
  g_clear_pointer (&self->host, g_free);
}

void
st_api_server_free (StApiServer *self)
{
  if (self == NULL)
    return;
  st_api_server_stop (self);
  g_hash_table_unref (self->engine_brokers);
  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_free (self->public_host);
  g_free (self->ca_file);
  g_free (self);
}
