#define G_LOG_DOMAIN "starling-api"

/* /accounts/{account_id}/pubsub/namespaces/{ns}/brokers[/{b}] */

#include "api-private.h"

static JsonNode *
broker_node (StApiServer *server, const StStoreBroker *broker)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *endpoint = g_strdup_printf ("mqtts://%s.%s.%s:%u", broker->name,
                                               broker->namespace_name, server->public_host,
                                               server->mqtts_port);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, broker->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, broker->name);
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, broker->description);
  json_builder_set_member_name (b, "authType");
  json_builder_add_string_value (b, st_store_auth_type_to_string (broker->auth_type));
  /* Cloudflare leaves expiration null when credentials do not expire. */
  json_builder_set_member_name (b, "expiration");
  if (broker->expiration == -1)
    json_builder_add_null_value (b);
  else
    json_builder_add_int_value (b, broker->expiration);
  json_builder_set_member_name (b, "endpoint");
  json_builder_add_string_value (b, endpoint);
  json_builder_set_member_name (b, "on_publish");
  if (broker->on_publish_url == NULL)
    json_builder_add_null_value (b);
  else
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "url");
      json_builder_add_string_value (b, broker->on_publish_url);
      json_builder_end_object (b);
    }
  json_builder_set_member_name (b, "created_on");
  json_builder_add_value (b, api_time_node (broker->created_on));
  json_builder_set_member_name (b, "modified_on");
  json_builder_add_value (b, api_time_node (broker->modified_on));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* on_publish: {"url": "http(s)://…"} sets the hook, null removes it.
 * *present tells whether the body mentioned it at all. */
static gboolean
get_on_publish (ApiRequest *req, JsonObject *body, gboolean *present, StStoreBroker *values)
{
  JsonNode *node = json_object_get_member (body, "on_publish");
  JsonObject *object;
  const char *url;
  g_autoptr(GUri) uri = NULL;

  *present = node != NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_WRONG_TYPE,
                 "“on_publish” must be an object {\"url\": …} or null");
      return FALSE;
    }
  object = json_node_get_object (node);
  if (!api_get_string (req, object, "url", TRUE, &url))
    return FALSE;
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL ||
      (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                 "“on_publish.url” must be an http:// or https:// URL (not “%s”)", url);
      return FALSE;
    }
  values->on_publish_url = (char *) url;
  values->on_publish = json_to_string (node, FALSE);
  return TRUE;
}

static gboolean
get_broker_fields (ApiRequest *req, JsonObject *body, gboolean create,
                   StStoreBroker *values, StStoreBrokerField *fields)
{
  const char *description = NULL;
  const char *auth_type = NULL;
  gboolean present;

  *fields = 0;
  if (!api_get_string (req, body, "description", FALSE, &description))
    return FALSE;
  if (json_object_has_member (body, "description"))
    *fields |= ST_STORE_BROKER_DESCRIPTION;
  values->description = (char *) (description ? description : "");

  if (!api_get_expiration (req, body, &present, &values->expiration))
    return FALSE;
  if (present)
    *fields |= ST_STORE_BROKER_EXPIRATION;

  if (!get_on_publish (req, body, &present, values))
    return FALSE;
  if (present)
    *fields |= ST_STORE_BROKER_ON_PUBLISH;

  if (create)
    {
      if (!api_get_string (req, body, "authType", FALSE, &auth_type))
        return FALSE;
      values->auth_type = ST_STORE_AUTH_TOKEN;
      if (auth_type != NULL && !st_store_auth_type_from_string (auth_type, &values->auth_type))
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                     "“authType” must be TOKEN or NONE (not “%s”)", auth_type);
          return FALSE;
        }
    }
  return TRUE;
}

static void
broker_error (ApiRequest *req, const GError *error)
{
  api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
}

/* The store says "no namespace named …" and "no broker named …" alike with
 * NOT_FOUND: look the namespace up first so each gets its own code. */
static gboolean
namespace_exists (ApiRequest *req)
{
  g_autoptr(StStoreNamespace) ns = NULL;
  g_autoptr(GError) error = NULL;

  ns = st_store_namespace_get (req->server->store, req->ns, &error);
  if (ns == NULL)
    {
      api_error_from_store (req, error, API_ERROR_NAMESPACE_NOT_FOUND, API_ERROR_NAMESPACE_EXISTS);
      return FALSE;
    }
  return TRUE;
}

void
api_brokers_list (ApiRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  JsonArray *array;

  if (!namespace_exists (req))
    return;
  list = st_store_broker_list (req->server->store, req->ns, &error);
  if (list == NULL)
    {
      api_error_from_store (req, error, API_ERROR_NAMESPACE_NOT_FOUND, API_ERROR_NAMESPACE_EXISTS);
      return;
    }
  array = json_array_sized_new (list->len);
  for (guint i = 0; i < list->len; i++)
    json_array_add_element (array, broker_node (req->server, g_ptr_array_index (list, i)));
  api_reply (req, SOUP_STATUS_OK, json_node_init_array (json_node_alloc (), array));
  json_array_unref (array);
}

void
api_brokers_create (ApiRequest *req)
{
  g_autoptr(JsonObject) body = api_read_object (req);
  g_autoptr(StStoreBroker) broker = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *on_publish = NULL;
  StStoreBroker values = { .expiration = -1 };
  StStoreBrokerField fields;
  const char *name;

  gboolean ok;

  if (body == NULL || !api_get_string (req, body, "name", TRUE, &name))
    return;
  ok = get_broker_fields (req, body, TRUE, &values, &fields);
  on_publish = values.on_publish;
  if (!ok || !api_check_name (req, "broker", name) || !namespace_exists (req))
    return;

  values.name = (char *) name;
  broker = st_store_broker_create (req->server->store, req->ns, &values, &error);
  if (broker == NULL)
    {
      broker_error (req, error);
      return;
    }
  api_engine_add_broker (req->server, broker);
  g_message ("broker %s.%s created (authType %s)", broker->name, broker->namespace_name,
             st_store_auth_type_to_string (broker->auth_type));
  api_reply (req, SOUP_STATUS_OK, broker_node (req->server, broker));
}

void
api_broker_get (ApiRequest *req)
{
  g_autoptr(StStoreBroker) broker = NULL;
  g_autoptr(GError) error = NULL;

  if (!namespace_exists (req))
    return;
  broker = st_store_broker_get (req->server->store, req->ns, req->broker, &error);
  if (broker == NULL)
    {
      broker_error (req, error);
      return;
    }
  api_reply (req, SOUP_STATUS_OK, broker_node (req->server, broker));
}

void
api_broker_update (ApiRequest *req)
{
  g_autoptr(JsonObject) body = api_read_object (req);
  g_autoptr(StStoreBroker) broker = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *on_publish = NULL;
  StStoreBroker values = { .expiration = -1 };
  StStoreBrokerField fields;

  gboolean ok;

  if (body == NULL)
    return;
  ok = get_broker_fields (req, body, FALSE, &values, &fields);
  on_publish = values.on_publish;
  if (!ok || !namespace_exists (req))
    return;

  broker = st_store_broker_update (req->server->store, req->ns, req->broker, &values, fields, &error);
  if (broker == NULL)
    {
      broker_error (req, error);
      return;
    }
  api_reply (req, SOUP_STATUS_OK, broker_node (req->server, broker));
}

void
api_broker_delete (ApiRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStoreBroker) broker = NULL;

  if (!namespace_exists (req))
    return;
  /* The id first: the engine knows brokers by it. */
  broker = st_store_broker_get (req->server->store, req->ns, req->broker, &error);
  if (broker == NULL ||
      !st_store_broker_delete (req->server->store, req->ns, req->broker, &error))
    {
      broker_error (req, error);
      return;
    }
  /* After the store: a client disconnected now cannot reconnect to a
   * broker that is still stored. */
  api_engine_remove_broker (req->server, broker->id);
  g_message ("broker %s.%s deleted", req->broker, req->ns);
  api_reply (req, SOUP_STATUS_OK, NULL);
}
