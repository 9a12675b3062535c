#define G_LOG_DOMAIN "starling-client"

#include "config.h"

#include "st-api-client.h"

#include <libsoup/soup.h>
#include <string.h>

struct _StApiClient
{
  GObject          parent_instance;

  char            *base_url;     /* without a trailing '/' */
  char            *token;
  char            *account_id;   /* NULL until known */
  SoupSession     *session;
  GTlsDatabase    *ca_db;        /* extra trust anchors, or NULL */
};

G_DEFINE_FINAL_TYPE (StApiClient, st_api_client, G_TYPE_OBJECT)

G_DEFINE_QUARK (st-api-error-quark, st_api_error)

/* What a request's answer is turned into. */
typedef enum {
  REPLY_RESULT,     /* the envelope's result, a JsonNode */
  REPLY_PEM,        /* a non-JSON body as text (the CA route) */
  REPLY_VERIFY,     /* result.status, a string */
} ReplyKind;

static void
st_api_client_finalize (GObject *object)
{
  StApiClient *self = ST_API_CLIENT (object);

  g_clear_pointer (&self->base_url, g_free);
  if (self->token != NULL)
    {
      /* The API token is a secret: do not leave it in freed memory. */
      memset (self->token, 0, strlen (self->token));
      g_clear_pointer (&self->token, g_free);
    }
  g_clear_pointer (&self->account_id, g_free);
  g_clear_object (&self->session);
  g_clear_object (&self->ca_db);

  G_OBJECT_CLASS (st_api_client_parent_class)->finalize (object);
}

static void
st_api_client_class_init (StApiClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = st_api_client_finalize;
}

static void
st_api_client_init (StApiClient *self)
{
}

/* A proxy between a client and a daemon on the same machine only breaks
 * things (http_proxy without no_proxy is common), and the system resolver
 * would load GIO modules for nothing: talk to loopback hosts directly. */
static gboolean
host_is_loopback (const char *host)
{
  g_autoptr(GInetAddress) addr = NULL;
  g_autofree char *bare = NULL;

  if (host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  bare = g_strdup (host);
  if (bare[0] == '[')
    {
      gsize len = strlen (bare);
      memmove (bare, bare + 1, len);
      if (len >= 2 && bare[len - 2] == ']')
        bare[len - 2] = '\0';
    }
  addr = g_inet_address_new_from_string (bare);
  return addr != NULL && g_inet_address_get_is_loopback (addr);
}

StApiClient *
st_api_client_new (const char *base_url,
                   const char *token,
                   const char *account_id)
{
  StApiClient *self;
  g_autoptr(GUri) uri = NULL;
  gsize len;

  g_return_val_if_fail (base_url != NULL, NULL);

  self = g_object_new (ST_TYPE_API_CLIENT, NULL);
  self->base_url = g_strdup (base_url);
  len = strlen (self->base_url);
  while (len > 0 && self->base_url[len - 1] == '/')
    self->base_url[--len] = '\0';
  self->token = g_strdup (token);
  if (account_id != NULL && *account_id != '\0')
    self->account_id = g_strdup (account_id);

  uri = g_uri_parse (self->base_url, G_URI_FLAGS_NONE, NULL);
  if (uri != NULL && host_is_loopback (g_uri_get_host (uri)))
    {
      g_autoptr(GProxyResolver) direct = g_simple_proxy_resolver_new (NULL, NULL);
      self->session = soup_session_new_with_options ("proxy-resolver", direct,
                                                     "user-agent", "Starling/" VERSION " ",
                                                     NULL);
    }
  else
    self->session = soup_session_new_with_options ("user-agent", "Starling/" VERSION " ", NULL);
  return self;
}

const char *
st_api_client_get_base_url (StApiClient *self)
{
  g_return_val_if_fail (ST_IS_API_CLIENT (self), NULL);
  return self->base_url;
}

const char *
st_api_client_get_account_id (StApiClient *self)
{
  g_return_val_if_fail (ST_IS_API_CLIENT (self), NULL);
  return self->account_id;
}

gboolean
st_api_client_set_ca_file (StApiClient  *self,
                           const char   *ca_file,
                           GError      **error)
{
  GTlsDatabase *db;

  g_return_val_if_fail (ST_IS_API_CLIENT (self), FALSE);

  if (ca_file == NULL)
    {
      g_clear_object (&self->ca_db);
      return TRUE;
    }
  db = g_tls_file_database_new (ca_file, error);
  if (db == NULL)
    return FALSE;
  g_clear_object (&self->ca_db);
  self->ca_db = db;
  return TRUE;
}

/* ---- Requests ------------------------------------------------------------ */

/* Called when the system does not trust the server's certificate: accept
 * it if the extra CA does, for the same host name. */
static gboolean
accept_certificate (SoupMessage          *msg,
                    GTlsCertificate      *peer,
                    GTlsCertificateFlags  errors,
                    gpointer              user_data)
{
  StApiClient *self = user_data;
  GUri *uri = soup_message_get_uri (msg);
  g_autoptr(GSocketConnectable) identity = NULL;
  GTlsCertificateFlags flags;

  if (self->ca_db == NULL)
    return FALSE;
  identity = g_network_address_new (g_uri_get_host (uri), g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 443);
  flags = g_tls_database_verify_chain (self->ca_db, peer, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER,
                                       identity, NULL, G_TLS_DATABASE_VERIFY_NONE, NULL, NULL);
  return flags == 0;
}

static gboolean
path_needs_account (const char *path)
{
  return path[0] != '/' || strstr (path, "{account_id}") != NULL;
}

static char *
build_uri (StApiClient        *self,
           const char         *path,
           const char * const *query)
{
  GString *uri = g_string_new (self->base_url);

  if (path[0] == '/')
    {
      const char *p = path, *mark;

      while ((mark = strstr (p, "{account_id}")) != NULL)
        {
          g_string_append_len (uri, p, mark - p);
          g_string_append (uri, self->account_id);
          p = mark + strlen ("{account_id}");
        }
      g_string_append (uri, p);
    }
  else
    g_string_append_printf (uri, "/accounts/%s/pubsub/%s", self->account_id, path);

  for (guint i = 0; query != NULL && query[i] != NULL && query[i + 1] != NULL; i += 2)
    {
      g_autofree char *key = g_uri_escape_string (query[i], NULL, FALSE);
      g_autofree char *value = g_uri_escape_string (query[i + 1], NULL, FALSE);

      g_string_append_c (uri, i == 0 ? '?' : '&');
      g_string_append_printf (uri, "%s=%s", key, value);
    }
  return g_string_free (uri, FALSE);
}

static SoupMessage *
new_message (StApiClient        *self,
             const char         *method,
             const char         *path,
             const char * const *query,
             JsonNode           *body,
             GError            **error)
{
  g_autofree char *uri = build_uri (self, path, query);
  g_autoptr(GUri) parsed = g_uri_parse (uri, SOUP_HTTP_URI_FLAGS, NULL);
  SoupMessage *msg;

  if (parsed == NULL ||
      (g_strcmp0 (g_uri_get_scheme (parsed), "http") != 0 &&
       g_strcmp0 (g_uri_get_scheme (parsed), "https") != 0) ||
      g_uri_get_host (parsed) == NULL || *g_uri_get_host (parsed) == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is not an http:// or https:// URL", self->base_url);
      return NULL;
    }
  msg = soup_message_new_from_uri (method, parsed);
  if (self->token != NULL && *self->token != '\0')
    {
      g_autofree char *auth = g_strconcat ("Bearer ", self->token, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept", "application/json");
  if (body != NULL)
    {
      gsize len;
      char *text = json_to_string (body, FALSE);
      g_autoptr(GBytes) bytes = NULL;

      len = strlen (text);
      bytes = g_bytes_new_take (text, len);
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  g_signal_connect_object (msg, "accept-certificate", G_CALLBACK (accept_certificate), self, 0);
  return msg;
}

static gboolean
status_ok (guint status)
{
  return status >= 200 && status < 300;
}

/* The envelope's errors, as one GError: the first code, every message. */
static void
set_envelope_error (GError     **error,
                    JsonObject  *envelope,
                    SoupMessage *msg)
{
  JsonNode *errors_node = json_object_get_member (envelope, "errors");
  g_autoptr(GString) text = g_string_new (NULL);
  gint64 code = 0;

  if (errors_node != NULL && JSON_NODE_HOLDS_ARRAY (errors_node))
    {
      JsonArray *errors = json_node_get_array (errors_node);

      for (guint i = 0; i < json_array_get_length (errors); i++)
        {
          JsonNode *e = json_array_get_element (errors, i);
          JsonObject *object;
          JsonNode *m, *c;

          if (!JSON_NODE_HOLDS_OBJECT (e))
            continue;
          object = json_node_get_object (e);
          m = json_object_get_member (object, "message");
          c = json_object_get_member (object, "code");
          if (code == 0 && c != NULL && JSON_NODE_HOLDS_VALUE (c) &&
              json_node_get_value_type (c) == G_TYPE_INT64)
            code = json_node_get_int (c);
          if (m != NULL && JSON_NODE_HOLDS_VALUE (m) &&
              json_node_get_value_type (m) == G_TYPE_STRING)
            {
              if (text->len > 0)
                g_string_append (text, "; ");
              g_string_append (text, json_node_get_string (m));
            }
        }
    }
  if (text->len == 0)
    g_string_printf (text, "the server answered %u %s without a message",
                     soup_message_get_status (msg),
                     soup_message_get_reason_phrase (msg) ? soup_message_get_reason_phrase (msg) : "");
  /* A code in the client's own range would be misread as one of ours. */
  if (code <= 0 || code < 1000 || code > G_MAXINT)
    code = ST_API_ERROR_FAILED;
  g_set_error_literal (error, ST_API_ERROR, (int) code, text->str);
}

static void
set_http_error (GError **error, SoupMessage *msg)
{
  const char *reason = soup_message_get_reason_phrase (msg);
  guint status = soup_message_get_status (msg);

  if (reason == NULL || *reason == '\0')
    reason = soup_status_get_phrase (status);
  g_set_error (error, ST_API_ERROR, ST_API_ERROR_HTTP, "HTTP %u %s (from %s)", status,
               reason ? reason : "", g_uri_get_host (soup_message_get_uri (msg)));
}

/* Turns an answer into what the caller asked for (a JsonNode, or a
 * string for REPLY_PEM and REPLY_VERIFY). */
static gpointer
parse_reply (SoupMessage *msg,
             GBytes      *bytes,
             ReplyKind    kind,
             GError     **error)
{
  guint status = soup_message_get_status (msg);
  const char *content_type = soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL);
  gsize len = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &len) : NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root = NULL;
  JsonObject *envelope;
  JsonNode *success, *result;

  if (kind == REPLY_PEM && status_ok (status) &&
      g_strcmp0 (content_type, "application/json") != 0)
    {
      if (data == NULL || len == 0 || memchr (data, '\0', len) != NULL ||
          !g_utf8_validate (data, len, NULL))
        {
          g_set_error (error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE,
                       "the server's answer is not text");
          return NULL;
        }
      return g_strndup (data, len);
    }

  if (data != NULL && len > 0 && json_parser_load_from_data (parser, data, len, NULL))
    root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (success = json_object_get_member ((envelope = json_node_get_object (root)), "success")) == NULL ||
      !JSON_NODE_HOLDS_VALUE (success) || json_node_get_value_type (success) != G_TYPE_BOOLEAN)
    {
      if (!status_ok (status))
        set_http_error (error, msg);
      else
        g_set_error (error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE,
                     "the server's answer (HTTP %u) is not a Cloudflare API envelope", status);
      return NULL;
    }
  if (!json_node_get_boolean (success))
    {
      set_envelope_error (error, envelope, msg);
      return NULL;
    }

  result = json_object_get_member (envelope, "result");
  switch (kind)
    {
    case REPLY_RESULT:
      return result ? json_node_copy (result) : json_node_new (JSON_NODE_NULL);

    case REPLY_PEM:
      if (result != NULL && JSON_NODE_HOLDS_VALUE (result) &&
          json_node_get_value_type (result) == G_TYPE_STRING)
        return g_strdup (json_node_get_string (result));
      break;

    case REPLY_VERIFY:
      if (result != NULL && JSON_NODE_HOLDS_OBJECT (result))
        {
          JsonNode *s = json_object_get_member (json_node_get_object (result), "status");
          if (s != NULL && JSON_NODE_HOLDS_VALUE (s) && json_node_get_value_type (s) == G_TYPE_STRING)
            return g_strdup (json_node_get_string (s));
        }
      break;

    default:
      g_assert_not_reached ();
    }
  g_set_error (error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE,
               "the server's answer has no %s", kind == REPLY_PEM ? "certificate" : "token status");
  return NULL;
}

/* GET /memberships → result[0].account.id */
static char *
parse_account (JsonNode *result, GError **error)
{
  JsonArray *list;
  JsonNode *first, *account, *id;

  if (!JSON_NODE_HOLDS_ARRAY (result))
    goto bad;
  list = json_node_get_array (result);
  if (json_array_get_length (list) == 0)
    {
      g_set_error (error, ST_API_ERROR, ST_API_ERROR_NO_ACCOUNT,
                   "the API token is not a member of any account");
      return NULL;
    }
  first = json_array_get_element (list, 0);
  if (!JSON_NODE_HOLDS_OBJECT (first))
    goto bad;
  account = json_object_get_member (json_node_get_object (first), "account");
  if (account == NULL || !JSON_NODE_HOLDS_OBJECT (account))
    goto bad;
  id = json_object_get_member (json_node_get_object (account), "id");
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id) || json_node_get_value_type (id) != G_TYPE_STRING ||
      *json_node_get_string (id) == '\0')
    goto bad;
  return g_strdup (json_node_get_string (id));

bad:
  g_set_error (error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE,
               "the server's /memberships answer has no account id");
  return NULL;
}

static void
take_account (StApiClient *self, char *account_id)
{
  /* Two lookups may race (async); both found the same account. */
  if (self->account_id == NULL)
    self->account_id = account_id;
  else
    g_free (account_id);
}

/* ---- Sync ---------------------------------------------------------------- */

static gpointer
send_sync (StApiClient        *self,
           const char         *method,
           const char         *path,
           const char * const *query,
           JsonNode           *body,
           ReplyKind           kind,
           GCancellable       *cancellable,
           GError            **error)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) bytes = NULL;

  if (path_needs_account (path) && self->account_id == NULL)
    {
      g_autoptr(JsonNode) memberships = send_sync (self, "GET", "/memberships", NULL, NULL,
                                                   REPLY_RESULT, cancellable, error);
      char *account_id;

      if (memberships == NULL || (account_id = parse_account (memberships, error)) == NULL)
        return NULL;
      take_account (self, account_id);
    }
  if ((msg = new_message (self, method, path, query, body, error)) == NULL)
    return NULL;
  bytes = soup_session_send_and_read (self->session, msg, cancellable, error);
  if (bytes == NULL)
    return NULL;
  return parse_reply (msg, bytes, kind, error);
}

JsonNode *
st_api_client_request (StApiClient         *self,
                       const char          *method,
                       const char          *path,
                       const char * const  *query,
                       JsonNode            *body,
                       GCancellable        *cancellable,
                       GError             **error)
{
  g_return_val_if_fail (ST_IS_API_CLIENT (self), NULL);
  g_return_val_if_fail (method != NULL && path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return send_sync (self, method, path, query, body, REPLY_RESULT, cancellable, error);
}

char *
st_api_client_get_ca (StApiClient   *self,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_return_val_if_fail (ST_IS_API_CLIENT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return send_sync (self, "GET", "ca", NULL, NULL, REPLY_PEM, cancellable, error);
}

/* ---- Async --------------------------------------------------------------- */

typedef struct {
  char        *method;
  char        *path;
  char       **query;
  JsonNode    *body;
  ReplyKind    kind;
  SoupMessage *msg;
} RequestData;

static void
request_data_free (RequestData *data)
{
  g_free (data->method);
  g_free (data->path);
  g_strfreev (data->query);
  g_clear_pointer (&data->body, json_node_unref);
  g_clear_object (&data->msg);
  g_free (data);
}

static void
request_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;
  gpointer reply;

  bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  if (bytes == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  reply = parse_reply (data->msg, bytes, data->kind, &error);
  if (reply == NULL)
    g_task_return_error (task, error);
  else if (data->kind == REPLY_RESULT)
    g_task_return_pointer (task, reply, (GDestroyNotify) json_node_unref);
  else
    g_task_return_pointer (task, reply, g_free);
}

static void
request_send (GTask *task)
{
  StApiClient *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  GError *error = NULL;

  data->msg = new_message (self, data->method, data->path, (const char * const *) data->query,
                           data->body, &error);
  if (data->msg == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  soup_session_send_and_read_async (self->session, data->msg, G_PRIORITY_DEFAULT,
                                    g_task_get_cancellable (task), request_done, task);
}

static void
account_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  StApiClient *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonNode) memberships = NULL;
  GError *error = NULL;
  char *account_id;

  bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  if (bytes == NULL ||
      (memberships = parse_reply (data->msg, bytes, REPLY_RESULT, &error)) == NULL ||
      (account_id = parse_account (memberships, &error)) == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  take_account (self, account_id);
  g_clear_object (&data->msg);
  request_send (task);
}

static void
request_start (StApiClient         *self,
               const char          *method,
               const char          *path,
               const char * const  *query,
               JsonNode            *body,
               ReplyKind            kind,
               gpointer             source_tag,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  RequestData *data = g_new0 (RequestData, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  data->method = g_strdup (method);
  data->path = g_strdup (path);
  data->query = g_strdupv ((char **) query);
  data->body = body ? json_node_copy (body) : NULL;
  data->kind = kind;
  g_task_set_task_data (task, data, (GDestroyNotify) request_data_free);

  if (path_needs_account (path) && self->account_id == NULL)
    {
      data->msg = new_message (self, "GET", "/memberships", NULL, NULL, &error);
      if (data->msg == NULL)
        {
          g_task_return_error (task, error);
          g_object_unref (task);
          return;
        }
      soup_session_send_and_read_async (self->session, data->msg, G_PRIORITY_DEFAULT,
                                        cancellable, account_done, task);
      return;
    }
  request_send (task);
}

void
st_api_client_request_async (StApiClient         *self,
                             const char          *method,
                             const char          *path,
                             const char * const  *query,
                             JsonNode            *body,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (ST_IS_API_CLIENT (self));
  g_return_if_fail (method != NULL && path != NULL);

  request_start (self, method, path, query, body, REPLY_RESULT, st_api_client_request_async,
                 cancellable, callback, user_data);
}

JsonNode *
st_api_client_request_finish (StApiClient   *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == st_api_client_request_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
st_api_client_verify_async (StApiClient         *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (ST_IS_API_CLIENT (self));

  request_start (self, "GET", "/user/tokens/verify", NULL, NULL, REPLY_VERIFY,
                 st_api_client_verify_async, cancellable, callback, user_data);
}

char *
st_api_client_verify_finish (StApiClient   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == st_api_client_verify_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

char *
st_api_client_verify (StApiClient   *self,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_return_val_if_fail (ST_IS_API_CLIENT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return send_sync (self, "GET", "/user/tokens/verify", NULL, NULL, REPLY_VERIFY, cancellable, error);
}

void
st_api_client_get_ca_async (StApiClient         *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (ST_IS_API_CLIENT (self));

  request_start (self, "GET", "ca", NULL, NULL, REPLY_PEM, st_api_client_get_ca_async,
                 cancellable, callback, user_data);
}

char *
st_api_client_get_ca_finish (StApiClient   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == st_api_client_get_ca_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- Durations ----------------------------------------------------------- */

static const struct {
  const char *unit;
  gint64      seconds;
} duration_units[] = {
  { "s", 1 }, { "sec", 1 }, { "secs", 1 }, { "second", 1 }, { "seconds", 1 },
  { "m", 60 }, { "min", 60 }, { "mins", 60 }, { "minute", 60 }, { "minutes", 60 },
  { "h", 3600 }, { "hr", 3600 }, { "hrs", 3600 }, { "hour", 3600 }, { "hours", 3600 },
  { "d", 86400 }, { "day", 86400 }, { "days", 86400 },
  { "w", 604800 }, { "wk", 604800 }, { "week", 604800 }, { "weeks", 604800 },
  /* Months of 30 days and years of 365: wrangler's own table has 210
   * and 2555 days for them, which no user means. */
  { "mo", 2592000 }, { "month", 2592000 }, { "months", 2592000 },
  { "y", 31536000 }, { "yr", 31536000 }, { "year", 31536000 }, { "years", 31536000 },
};

gboolean
st_parse_duration (const char  *text,
                   gint64      *seconds,
                   GError     **error)
{
  const char *p;
  const char *number_end;
  g_autofree char *number = NULL;
  g_autofree char *unit = NULL;
  gboolean dot = FALSE;
  gdouble value, total;
  gint64 scale = 0;

  g_return_val_if_fail (text != NULL, FALSE);

  p = text;
  while (g_ascii_isspace (*p))
    p++;
  {
    g_autofree char *trimmed = g_strstrip (g_strdup (p));
    if (strcmp (trimmed, "-1") == 0)
      {
        if (seconds)
          *seconds = -1;
        return TRUE;
      }
  }
  /* Digits with at most one '.', as wrangler takes "1.5h". */
  number_end = p;
  while (g_ascii_isdigit (*number_end) || (*number_end == '.' && !dot))
    dot |= *number_end++ == '.';
  number = g_strndup (p, number_end - p);
  if (!g_ascii_isdigit (number[0]) && !(number[0] == '.' && g_ascii_isdigit (number[1])))
    goto bad;
  value = g_ascii_strtod (number, NULL);
  unit = g_strstrip (g_ascii_strdown (number_end, -1));
  if (*unit == '\0')
    scale = 1;
  for (guint i = 0; scale == 0 && i < G_N_ELEMENTS (duration_units); i++)
    if (strcmp (unit, duration_units[i].unit) == 0)
      scale = duration_units[i].seconds;
  if (scale == 0)
    goto bad;
  total = value * (gdouble) scale;
  if (!(total < 1e15))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is too long a duration", text);
      return FALSE;
    }
  /* Whole seconds: the API takes nothing finer. */
  if (total + 0.5 < 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a duration: it must be at least a second (or -1 for none)", text);
      return FALSE;
    }
  if (seconds)
    *seconds = (gint64) (total + 0.5);
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "“%s” is not a duration: use a number with s, m, h, d, w, mo or y "
               "(e.g. 90s, 30m, 48h, 2d, 6mo, 1y), a number of seconds, or -1 for none", text);
  return FALSE;
}
