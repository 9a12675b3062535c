#define G_LOG_DOMAIN "starling-api"

/* /accounts/{account_id}/pubsub/namespaces[/{ns}] */

#include "api-private.h"

static JsonNode *
namespace_node (const StStoreNamespace *ns)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, ns->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, ns->name);
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, ns->description);
  json_builder_set_member_name (b, "created_on");
  json_builder_add_value (b, api_time_node (ns->created_on));
  json_builder_set_member_name (b, "modified_on");
  json_builder_add_value (b, api_time_node (ns->modified_on));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

void
api_namespaces_list (ApiRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = st_store_namespace_list (req->server->store, &error);
  JsonArray *array;

  if (list == NULL)
    {
      api_error_from_store (req, error, API_ERROR_NAMESPACE_NOT_FOUND, API_ERROR_NAMESPACE_EXISTS);
      return;
    }
  array = json_array_sized_new (list->len);
  for (guint i = 0; i < list->len; i++)
    json_array_add_element (array, namespace_node (g_ptr_array_index (list, i)));
  api_reply (req, SOUP_STATUS_OK, json_node_init_array (json_node_alloc (), array));
  json_array_unref (array);
}

void
api_namespaces_create (ApiRequest *req)
{
  g_autoptr(JsonObject) body = api_read_object (req);
  g_autoptr(StStoreNamespace) ns = NULL;
  g_autoptr(GError) error = NULL;
  const char *name, *description;

  if (body == NULL ||
      !api_get_string (req, body, "name", TRUE, &name) ||
      !api_get_string (req, body, "description", FALSE, &description) ||
      !api_check_name (req, "namespace", name))
    return;

  ns = st_store_namespace_create (req->server->store, name, description, &error);
  if (ns == NULL)
    {
      api_error_from_store (req, error, API_ERROR_NAMESPACE_NOT_FOUND, API_ERROR_NAMESPACE_EXISTS);
      return;
    }
  g_message ("namespace %s created", ns->name);
  if (req->server->namespace_func)
    req->server->namespace_func (ns->name, TRUE, req->server->namespace_data);
  api_reply (req, SOUP_STATUS_OK, namespace_node (ns));
}

void
api_namespace_get (ApiRequest *req)
{
  g_autoptr(StStoreNamespace) ns = NULL;
  g_autoptr(GError) error = NULL;

  ns = st_store_namespace_get (req->server->store, req->ns, &error);
  if (ns == NULL)
    {
      api_error_from_store (req, error, API_ERROR_NAMESPACE_NOT_FOUND, API_ERROR_NAMESPACE_EXISTS);
      return;
    }
  api_reply (req, SOUP_STATUS_OK, namespace_node (ns));
}

/* Beyond Cloudflare, whose API cannot change a namespace once made: the
 * description is the one thing a namespace has to change (the app's
 * namespace editor uses it). */
void
api_namespace_update (ApiRequest *req)
{
  g_autoptr(JsonObject) body = api_read_object (req);
  g_autoptr(StStoreNamespace) ns = NULL;
  g_autoptr(GError) error = NULL;
  const char *description = NULL;

  if (body == NULL || !api_get_string (req, body, "description", TRUE, &description))
    return;

  ns = st_store_namespace_set_description (req->server->store, req->ns, description, &error);
  if (ns == NULL)
    {
      api_error_from_store (req, error, API_ERROR_NAMESPACE_NOT_FOUND, API_ERROR_NAMESPACE_EXISTS);
      return;
    }
  api_reply (req, SOUP_STATUS_OK, namespace_node (ns));
}

void
api_namespace_delete (ApiRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) brokers = NULL;

  /* The store deletes the namespace's brokers with it; the engine must
   * drop them too, so list them first. */
  brokers = st_store_broker_list (req->server->store, req->ns, &error);
  if (brokers == NULL ||
      !st_store_namespace_delete (req->server->store, req->ns, &error))
    {
      api_error_from_store (req, error, API_ERROR_NAMESPACE_NOT_FOUND, API_ERROR_NAMESPACE_EXISTS);
      return;
    }
  for (guint i = 0; i < brokers->len; i++)
    api_engine_remove_broker (req->server, ((StStoreBroker *) g_ptr_array_index (brokers, i))->id);
  g_message ("namespace %s deleted", req->ns);
  if (req->server->namespace_func)
    req->server->namespace_func (req->ns, FALSE, req->server->namespace_data);
  api_reply (req, SOUP_STATUS_OK, NULL);
}
