#define G_LOG_DOMAIN "starling-api"

/* /accounts/{account_id}/pubsub/namespaces/{ns}/brokers[/{b}] */

#include "api-private.h"

#include <string.h>

#include "hooks/st-hook-queue.h"

/* ---- on_publish ------------------------------------------------------------
 * {"url", "timeout", "failure", "silent_drops", "concurrency"}: url as
 * Cloudflare has it; the rest beyond Cloudflare (DESIGN "On-publish
 * hooks"). Stored whole, normalised, in the broker's on_publish column;
 * answered with the hook's counters under "stats". */

#define HOOK_TIMEOUT_MAX_S   300
#define HOOK_CONCURRENCY_MAX 64

typedef struct {
  const char *url;
  double      timeout;       /* seconds */
  gboolean    deliver;       /* failure: "deliver" */
  gboolean    silent_drops;
  gint64      concurrency;
} HookSettings;

static void
hook_settings_defaults (HookSettings *h)
{
  h->url = NULL;
  h->timeout = ST_HOOK_DEFAULT_TIMEOUT_MS / 1000.0;
  h->deliver = FALSE;
  h->silent_drops = FALSE;
  h->concurrency = ST_HOOK_DEFAULT_CONCURRENCY;
}

/* The stored settings (never fails: what is stored was checked). */
static void
hook_settings_from_store (HookSettings *h, const StStoreBroker *broker, JsonParser *parser)
{
  JsonNode *root, *member;
  JsonObject *o;

  hook_settings_defaults (h);
  h->url = broker->on_publish_url;
  if (broker->on_publish == NULL || !json_parser_load_from_data (parser, broker->on_publish, -1, NULL))
    return;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  o = json_node_get_object (root);
  /* Brokers stored before these settings existed kept whatever object
   * they were given: take only values of the right type and range. */
  member = json_object_get_member (o, "timeout");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) &&
      (json_node_get_value_type (member) == G_TYPE_DOUBLE || json_node_get_value_type (member) == G_TYPE_INT64) &&
      json_node_get_double (member) >= 0.001 && json_node_get_double (member) <= HOOK_TIMEOUT_MAX_S)
    h->timeout = json_node_get_double (member);
  member = json_object_get_member (o, "failure");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_STRING)
    h->deliver = g_strcmp0 (json_node_get_string (member), "deliver") == 0;
  member = json_object_get_member (o, "silent_drops");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_BOOLEAN)
    h->silent_drops = json_node_get_boolean (member);
  member = json_object_get_member (o, "concurrency");
  if (member != NULL && JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_INT64 &&
      json_node_get_int (member) >= 1 && json_node_get_int (member) <= HOOK_CONCURRENCY_MAX)
    h->concurrency = json_node_get_int (member);
}

static char *
hook_settings_to_json (const HookSettings *h)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, h->url);
  json_builder_set_member_name (b, "timeout");
  json_builder_add_double_value (b, h->timeout);
  json_builder_set_member_name (b, "failure");
  json_builder_add_string_value (b, h->deliver ? "deliver" : "drop");
  json_builder_set_member_name (b, "silent_drops");
  json_builder_add_boolean_value (b, h->silent_drops);
  json_builder_set_member_name (b, "concurrency");
  json_builder_add_int_value (b, h->concurrency);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
add_on_publish (JsonBuilder *b, StApiServer *server, const StStoreBroker *broker)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  StBroker *engine_broker = g_hash_table_lookup (server->engine_brokers, broker->id);
  StHookStats stats = { 0 };
  HookSettings h;

  hook_settings_from_store (&h, broker, parser);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, h.url);
  json_builder_set_member_name (b, "timeout");
  json_builder_add_double_value (b, h.timeout);
  json_builder_set_member_name (b, "failure");
  json_builder_add_string_value (b, h.deliver ? "deliver" : "drop");
  json_builder_set_member_name (b, "silent_drops");
  json_builder_add_boolean_value (b, h.silent_drops);
  json_builder_set_member_name (b, "concurrency");
  json_builder_add_int_value (b, h.concurrency);
  if (engine_broker != NULL)
    st_broker_get_hook_stats (engine_broker, &stats);
  json_builder_set_member_name (b, "stats");
  json_builder_begin_object (b);
#define COUNTER(name, field) \
  json_builder_set_member_name (b, name); \
  json_builder_add_int_value (b, (gint64) stats.field);
  COUNTER ("sent", sent)
  COUNTER ("delivered", delivered)
  COUNTER ("changed", changed)
  COUNTER ("dropped", dropped)
  COUNTER ("failed", failed)
  COUNTER ("requests", requests)
  COUNTER ("failed_requests", failed_requests)
  COUNTER ("queued", queued)
  COUNTER ("in_flight", in_flight)
#undef COUNTER
  json_builder_set_member_name (b, "last_error");
  if (stats.last_error)
    json_builder_add_string_value (b, stats.last_error);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "last_error_at");
  if (stats.last_error)
    json_builder_add_value (b, api_time_node (stats.last_error_at));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  st_hook_stats_clear (&stats);
}

/* Hands the engine the broker's stored hook settings. */
void
api_engine_sync_hook (StApiServer *server, StBroker *b, const StStoreBroker *broker)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  HookSettings h;
  StHookSettings settings = { 0 };

  hook_settings_from_store (&h, broker, parser);
  settings.url = h.url;
  settings.timeout_ms = (guint) MAX (1, (gint64) (h.timeout * 1000 + 0.5));
  settings.deliver_on_failure = h.deliver;
  settings.silent_drops = h.silent_drops;
  settings.concurrency = (guint) h.concurrency;
  st_broker_set_hook (b, h.url ? &settings : NULL);
}

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
    add_on_publish (b, server, broker);
  json_builder_set_member_name (b, "created_on");
  json_builder_add_value (b, api_time_node (broker->created_on));
  json_builder_set_member_name (b, "modified_on");
  json_builder_add_value (b, api_time_node (broker->modified_on));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* on_publish: {"url": "http(s)://…", "timeout"?, "failure"?,
 * "silent_drops"?, "concurrency"?} sets the hook, null removes it. On
 * PATCH the fields given change the current settings (current: the
 * broker's, NULL on POST), so `wrangler pubsub broker update
 * --on-publish-url` keeps the others; "stats" is ignored, so a GET's
 * object can be sent back. *present tells whether the body mentioned it. */
static gboolean
get_on_publish (ApiRequest *req, JsonObject *body, const StStoreBroker *current,
                gboolean *present, StStoreBroker *values)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *node = json_object_get_member (body, "on_publish");
  JsonObject *object;
  JsonNode *member;
  const char *url = NULL;
  g_autoptr(GUri) uri = NULL;
  HookSettings h;

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
  if (current != NULL && current->on_publish_url != NULL)
    hook_settings_from_store (&h, current, parser);
  else
    hook_settings_defaults (&h);

  if (!api_get_string (req, object, "url", h.url == NULL, &url))
    return FALSE;
  if (url != NULL)
    {
      uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
      if (uri == NULL ||
          (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0) ||
          g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                     "“on_publish.url” must be an http:// or https:// URL (not “%s”)", url);
          return FALSE;
        }
      h.url = url;
    }

  if ((member = json_object_get_member (object, "timeout")) != NULL)
    {
      GType type = JSON_NODE_HOLDS_VALUE (member) ? json_node_get_value_type (member) : G_TYPE_INVALID;
      double timeout;

      if (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE)
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_WRONG_TYPE,
                     "“on_publish.timeout” must be a number of seconds");
          return FALSE;
        }
      timeout = json_node_get_double (member);
      if (!(timeout >= 0.001 && timeout <= HOOK_TIMEOUT_MAX_S))
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                     "“on_publish.timeout” must be between 0.001 and %d seconds (not %g)",
                     HOOK_TIMEOUT_MAX_S, timeout);
          return FALSE;
        }
      h.timeout = timeout;
    }
  if ((member = json_object_get_member (object, "failure")) != NULL)
    {
      const char *failure = NULL;

      if (!api_get_string (req, object, "failure", FALSE, &failure))
        return FALSE;
      if (g_strcmp0 (failure, "drop") != 0 && g_strcmp0 (failure, "deliver") != 0)
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                     "“on_publish.failure” must be \"drop\" or \"deliver\" (not “%s”)",
                     failure ? failure : "null");
          return FALSE;
        }
      h.deliver = strcmp (failure, "deliver") == 0;
    }
  if ((member = json_object_get_member (object, "silent_drops")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_BOOLEAN)
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_WRONG_TYPE,
                     "“on_publish.silent_drops” must be true or false");
          return FALSE;
        }
      h.silent_drops = json_node_get_boolean (member);
    }
  if ((member = json_object_get_member (object, "concurrency")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_INT64)
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_WRONG_TYPE,
                     "“on_publish.concurrency” must be a whole number");
          return FALSE;
        }
      if (json_node_get_int (member) < 1 || json_node_get_int (member) > HOOK_CONCURRENCY_MAX)
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                     "“on_publish.concurrency” must be between 1 and %d (not %" G_GINT64_FORMAT ")",
                     HOOK_CONCURRENCY_MAX, json_node_get_int (member));
          return FALSE;
        }
      h.concurrency = json_node_get_int (member);
    }

  /* Copies: h may point into the current broker, which the caller frees. */
  values->on_publish = hook_settings_to_json (&h);
  values->on_publish_url = g_strdup (h.url);
  return TRUE;
}

static gboolean
get_broker_fields (ApiRequest *req, JsonObject *body, gboolean create,
                   const StStoreBroker *current, StStoreBroker *values, StStoreBrokerField *fields)
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

  if (!get_on_publish (req, body, current, &present, values))
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
  g_autofree char *on_publish_url = NULL;
  StStoreBroker values = { .expiration = -1 };
  StStoreBrokerField fields;
  const char *name;

  gboolean ok;

  if (body == NULL || !api_get_string (req, body, "name", TRUE, &name))
    return;
  ok = get_broker_fields (req, body, TRUE, NULL, &values, &fields);
  on_publish = values.on_publish;
  on_publish_url = values.on_publish_url;
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
  g_autofree char *on_publish_url = NULL;
  g_autoptr(StStoreBroker) current = NULL;
  StStoreBroker values = { .expiration = -1 };
  StStoreBrokerField fields;

  gboolean ok;

  if (body == NULL)
    return;
  /* on_publish's fields change the current settings: read them first (a
   * missing broker is answered below, after the body's own errors). */
  if (json_object_has_member (body, "on_publish"))
    current = st_store_broker_get (req->server->store, req->ns, req->broker, NULL);
  ok = get_broker_fields (req, body, FALSE, current, &values, &fields);
  on_publish = values.on_publish;
  on_publish_url = values.on_publish_url;
  if (!ok || !namespace_exists (req))
    return;

  broker = st_store_broker_update (req->server->store, req->ns, req->broker, &values, fields, &error);
  if (broker == NULL)
    {
      broker_error (req, error);
      return;
    }
  if (fields & ST_STORE_BROKER_ON_PUBLISH)
    {
      StBroker *b = g_hash_table_lookup (req->server->engine_brokers, broker->id);

      if (b != NULL)
        api_engine_sync_hook (req->server, b, broker);
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
