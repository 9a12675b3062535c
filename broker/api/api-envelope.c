#define G_LOG_DOMAIN "starling-api"

#include "api-private.h"

#include <stdarg.h>

/* Every answer, success or not, is Cloudflare's envelope, so clients
 * written for Cloudflare (wrangler) can read our errors too. */
static void
reply_envelope (ApiRequest *req, guint status, JsonNode *result, int code, const char *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  gboolean success = message == NULL;
  char *body;
  gsize len;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "result");
  if (result != NULL)
    json_builder_add_value (b, result);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "success");
  json_builder_add_boolean_value (b, success);
  json_builder_set_member_name (b, "errors");
  json_builder_begin_array (b);
  if (!success)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "code");
      json_builder_add_int_value (b, code);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, message);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, &len);
  soup_server_message_set_status (req->msg, status, NULL);
  soup_server_message_set_response (req->msg, "application/json", SOUP_MEMORY_TAKE, body, len);
}

void
api_reply (ApiRequest *req, guint status, JsonNode *result)
{
  reply_envelope (req, status, result, 0, NULL);
}

void
api_error (ApiRequest *req, guint status, ApiErrorCode code, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("%s %s: %u %d %s", req->method,
           g_uri_get_path (soup_server_message_get_uri (req->msg)), status, code, message);
  reply_envelope (req, status, NULL, code, message);
}

void
api_error_from_store (ApiRequest   *req,
                      const GError *error,
                      ApiErrorCode  not_found,
                      ApiErrorCode  duplicate)
{
  if (g_error_matches (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND))
    api_error (req, SOUP_STATUS_NOT_FOUND, not_found, "%s", error->message);
  else if (g_error_matches (error, ST_STORE_ERROR, ST_STORE_ERROR_DUPLICATE))
    api_error (req, SOUP_STATUS_CONFLICT, duplicate, "%s", error->message);
  else if (g_error_matches (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID))
    api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE, "%s", error->message);
  else
    {
      /* The details are for the operator's log, not for the client. */
      g_warning ("control API: %s", error->message);
      api_error (req, SOUP_STATUS_INTERNAL_SERVER_ERROR, API_ERROR_INTERNAL,
                 "internal error: the store failed (see the daemon's log)");
    }
}

JsonObject *
api_read_object (ApiRequest *req)
{
  SoupMessageBody *body = soup_server_message_get_request_body (req->msg);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr(GError) error = NULL;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  JsonNode *root;

  if (len == 0)
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_BAD_JSON,
                 "the request body is empty: a JSON object is expected");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, data, len, &error))
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_BAD_JSON,
                 "the request body is not valid JSON: %s", error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_BAD_JSON,
                 "the request body must be a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

gboolean
api_get_string (ApiRequest  *req,
                JsonObject  *object,
                const char  *field,
                gboolean     required,
                const char **value)
{
  JsonNode *node = json_object_get_member (object, field);

  *value = NULL;
  if (node == NULL || (!required && JSON_NODE_HOLDS_NULL (node)))
    {
      if (required)
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_MISSING_FIELD,
                     "“%s” is required", field);
          return FALSE;
        }
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_WRONG_TYPE,
                 "“%s” must be a string", field);
      return FALSE;
    }
  *value = json_node_get_string (node);
  return TRUE;
}

gboolean
api_get_expiration (ApiRequest *req,
                    JsonObject *object,
                    gboolean   *present,
                    gint64     *value)
{
  JsonNode *node = json_object_get_member (object, "expiration");

  *present = node != NULL;
  *value = -1;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  /* json-glib reads 3600.0 as a double: only whole numbers are seconds. */
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_WRONG_TYPE,
                 "“expiration” must be a whole number of seconds, or -1 or null for none");
      return FALSE;
    }
  *value = json_node_get_int (node);
  if (*value != -1 && (*value <= 0 || *value > API_EXPIRATION_MAX))
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                 "“expiration” must be from 1 to %" G_GINT64_FORMAT " seconds, or -1 or null for none (not %" G_GINT64_FORMAT ")",
                 API_EXPIRATION_MAX, *value);
      return FALSE;
    }
  return TRUE;
}

gboolean
api_check_name (ApiRequest *req, const char *kind, const char *name)
{
  if (st_store_name_valid (name, NULL))
    return TRUE;
  api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_NAME,
             "“%s” is not a valid %s name: use 1 to 63 letters, digits and hyphens, "
             "starting with a letter and not ending with a hyphen (RFC 1035)", name, kind);
  return FALSE;
}

JsonNode *
api_time_node (gint64 usec)
{
  g_autofree char *text = st_store_time_format (usec);

  if (text == NULL)
    return json_node_new (JSON_NODE_NULL);
  return json_node_init_string (json_node_alloc (), text);
}
