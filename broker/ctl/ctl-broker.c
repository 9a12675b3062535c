#define G_LOG_DOMAIN "starlingctl"

/* starlingctl broker … — as wrangler pubsub broker, plus credentials,
 * rotate-key and delete-key (routes beyond Cloudflare's). */

#include "ctl-private.h"

#include <stdio.h>
#include <string.h>

static char   *opt_namespace;
static char   *opt_description;
static char   *opt_expiration;
static char   *opt_on_publish_url;
static char   *opt_auth_type;
static int     opt_number = G_MININT;    /* G_MININT: not given */
static char   *opt_type;
static char  **opt_client_ids;
static char  **opt_topic_acl;
static char  **opt_jtis;
static char   *opt_kid;

static gint64  expiration;               /* opt_expiration, parsed */

#define NAMESPACE_ENTRIES \
  { "namespace", 0, 0, G_OPTION_ARG_STRING, &opt_namespace, "The namespace the broker is in (required; also --ns)", "NS" }, \
  { "ns", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &opt_namespace, "Same as --namespace", "NS" }

static const GOptionEntry ns_entries[] = {
  NAMESPACE_ENTRIES,
  { NULL }
};

static const GOptionEntry create_entries[] = {
  NAMESPACE_ENTRIES,
  { "description", 0, 0, G_OPTION_ARG_STRING, &opt_description, "A description of the broker", "TEXT" },
  { "expiration", 0, 0, G_OPTION_ARG_STRING, &opt_expiration,
    "How long credentials issued for the broker stay valid (e.g. 48h, 30d, 1y; -1 for no expiry)", "DURATION" },
  { "on-publish-url", 0, 0, G_OPTION_ARG_STRING, &opt_on_publish_url,
    "An http(s) URL every message is POSTed to (a Worker)", "URL" },
  { "auth-type", 0, 0, G_OPTION_ARG_STRING, &opt_auth_type,
    "TOKEN (default: clients need a credential) or NONE (anonymous, for development)", "TYPE" },
  { NULL }
};

static const GOptionEntry update_entries[] = {
  NAMESPACE_ENTRIES,
  { "description", 0, 0, G_OPTION_ARG_STRING, &opt_description, "A new description", "TEXT" },
  { "expiration", 0, 0, G_OPTION_ARG_STRING, &opt_expiration,
    "How long credentials stay valid (e.g. 48h, 1y; -1 for no expiry)", "DURATION" },
  { "on-publish-url", 0, 0, G_OPTION_ARG_STRING, &opt_on_publish_url,
    "An http(s) URL every message is POSTed to; \"\" removes the hook", "URL" },
  { NULL }
};

static const GOptionEntry issue_entries[] = {
  NAMESPACE_ENTRIES,
  { "number", 'n', 0, G_OPTION_ARG_INT, &opt_number, "How many credentials to issue (1-100, default 1)", "N" },
  { "type", 0, 0, G_OPTION_ARG_STRING, &opt_type, "The type of credential (only TOKEN)", "TYPE" },
  { "expiration", 0, 0, G_OPTION_ARG_STRING, &opt_expiration,
    "How long the credentials stay valid (e.g. 48h, 1y); the broker's own expiration still applies if shorter",
    "DURATION" },
  { "client-id", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_client_ids,
    "Issue a credential for this client id (repeat for several; default: new random ids)", "ID" },
  { "topic-acl", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_topic_acl,
    "Limit the credentials to this topic filter (repeat for several; default #)", "FILTER" },
  /* wrangler's aliases, so its command lines work here unchanged. */
  { "exp", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &opt_expiration, "Same as --expiration", "DURATION" },
  { "jti", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING_ARRAY, &opt_client_ids, "Same as --client-id", "ID" },
  { NULL }
};

static const GOptionEntry jti_entries[] = {
  NAMESPACE_ENTRIES,
  { "jti", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_jtis,
    "A credential's token id (repeat, or separate several with commas)", "JTI" },
  { NULL }
};

static const GOptionEntry credentials_entries[] = {
  NAMESPACE_ENTRIES,
  { "client-id", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_client_ids,
    "Only the credentials issued for this client id", "ID" },
  { NULL }
};

static const GOptionEntry delete_key_entries[] = {
  NAMESPACE_ENTRIES,
  { "kid", 0, 0, G_OPTION_ARG_STRING, &opt_kid, "The key id to remove (see public-keys)", "KID" },
  { NULL }
};

/* ---- Checks -------------------------------------------------------------- */

static gboolean
check_namespace (CtlContext *ctx, char **args, GError **error)
{
  if (opt_namespace == NULL || *opt_namespace == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--namespace is required");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_expiration (GError **error)
{
  if (opt_expiration == NULL)
    return TRUE;
  return st_parse_duration (opt_expiration, &expiration, error);
}

static gboolean
check_create (CtlContext *ctx, char **args, GError **error)
{
  return check_namespace (ctx, args, error) && check_expiration (error);
}

static gboolean
check_update (CtlContext *ctx, char **args, GError **error)
{
  if (!check_namespace (ctx, args, error) || !check_expiration (error))
    return FALSE;
  if (opt_description == NULL && opt_expiration == NULL && opt_on_publish_url == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "nothing to update: give --description, --expiration or --on-publish-url");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_jti (CtlContext *ctx, char **args, GError **error)
{
  if (!check_namespace (ctx, args, error))
    return FALSE;
  if (opt_jtis == NULL || opt_jtis[0] == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--jti is required");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_delete_key (CtlContext *ctx, char **args, GError **error)
{
  if (!check_namespace (ctx, args, error))
    return FALSE;
  if (opt_kid == NULL || *opt_kid == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--kid is required");
      return FALSE;
    }
  return TRUE;
}

/* ---- Helpers ------------------------------------------------------------- */

/* "namespaces/NS/brokers[/B[/suffix]]" */
static char *
broker_path (const char *broker, const char *suffix)
{
  g_autofree char *ns = ctl_escape_segment (opt_namespace);
  g_autofree char *b = broker ? ctl_escape_segment (broker) : NULL;

  if (b == NULL)
    return g_strdup_printf ("namespaces/%s/brokers", ns);
  return g_strdup_printf ("namespaces/%s/brokers/%s%s%s", ns, b, suffix ? "/" : "", suffix ? suffix : "");
}

static char *
expiration_text (JsonObject *broker)
{
  JsonNode *node = json_object_get_member (broker, "expiration");
  gint64 seconds;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return g_strdup ("none");
  seconds = json_node_get_int (node);
  if (seconds <= 0)
    return g_strdup ("none");
  return ctl_format_duration (seconds);
}

static const char *
on_publish_text (JsonObject *broker)
{
  JsonNode *node = json_object_get_member (broker, "on_publish");

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return "none";
  return ctl_member_string (json_node_get_object (node), "url");
}

static void
print_broker (JsonObject *broker)
{
  g_autofree char *created = ctl_format_time (ctl_member_string (broker, "created_on"));
  g_autofree char *modified = ctl_format_time (ctl_member_string (broker, "modified_on"));
  g_autofree char *exp = expiration_text (broker);
  const char *fields[] = {
    "name", ctl_member_string (broker, "name"),
    "id", ctl_member_string (broker, "id"),
    "description", ctl_member_string (broker, "description"),
    "authType", ctl_member_string (broker, "authType"),
    "expiration", exp,
    "endpoint", ctl_member_string (broker, "endpoint"),
    "on_publish", on_publish_text (broker),
    "created", created,
    "modified", modified,
    NULL
  };

  ctl_print_fields (fields);
}

static int
show_broker (CtlContext *ctx, JsonNode *result)
{
  if (ctx->json)
    ctl_print_json (result);
  else if (JSON_NODE_HOLDS_OBJECT (result))
    print_broker (json_node_get_object (result));
  return CTL_EXIT_OK;
}

/* The body of create and update: only the fields given. */
static JsonNode *
broker_body (const char *name)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  if (name != NULL)
    {
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, name);
    }
  if (opt_description != NULL)
    {
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, opt_description);
    }
  if (opt_expiration != NULL)
    {
      json_builder_set_member_name (b, "expiration");
      json_builder_add_int_value (b, expiration);
    }
  if (opt_on_publish_url != NULL)
    {
      json_builder_set_member_name (b, "on_publish");
      if (*opt_on_publish_url == '\0')
        json_builder_add_null_value (b);
      else
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "url");
          json_builder_add_string_value (b, opt_on_publish_url);
          json_builder_end_object (b);
        }
    }
  if (name != NULL && opt_auth_type != NULL)
    {
      json_builder_set_member_name (b, "authType");
      json_builder_add_string_value (b, opt_auth_type);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ---- Commands ------------------------------------------------------------ */

static int
broker_create (CtlContext *ctx, char **args)
{
  g_autofree char *path = broker_path (NULL, NULL);
  g_autoptr(JsonNode) body = broker_body (args[0]);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  result = st_api_client_request (ctx->client, "POST", path, NULL, body, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (!ctx->json)
    printf ("Created broker “%s” in namespace “%s”.\n", args[0], opt_namespace);
  return show_broker (ctx, result);
}

static int
broker_update (CtlContext *ctx, char **args)
{
  g_autofree char *path = broker_path (args[0], NULL);
  g_autoptr(JsonNode) body = broker_body (NULL);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  result = st_api_client_request (ctx->client, "PATCH", path, NULL, body, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (!ctx->json)
    printf ("Updated broker “%s”.\n", args[0]);
  return show_broker (ctx, result);
}

static int
broker_list (CtlContext *ctx, char **args)
{
  g_autofree char *path = broker_path (NULL, NULL);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *list;
  CtlTable *table;

  result = st_api_client_request (ctx->client, "GET", path, NULL, NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    {
      ctl_print_json (result);
      return CTL_EXIT_OK;
    }
  if (!JSON_NODE_HOLDS_ARRAY (result))
    return CTL_EXIT_OK;
  list = json_node_get_array (result);
  if (json_array_get_length (list) == 0)
    {
      printf ("No brokers in namespace “%s”.\n", opt_namespace);
      return CTL_EXIT_OK;
    }
  table = ctl_table_new ("NAME", "AUTH", "EXPIRATION", "ENDPOINT", "CREATED", "DESCRIPTION", NULL);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *broker = json_array_get_object_element (list, i);
      g_autofree char *created = ctl_format_time (ctl_member_string (broker, "created_on"));
      g_autofree char *exp = expiration_text (broker);

      ctl_table_add (table, ctl_member_string (broker, "name"), ctl_member_string (broker, "authType"),
                     exp, ctl_member_string (broker, "endpoint"), created,
                     ctl_member_string (broker, "description"));
    }
  ctl_table_print (table);
  return CTL_EXIT_OK;
}

static int
broker_describe (CtlContext *ctx, char **args)
{
  g_autofree char *path = broker_path (args[0], NULL);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  result = st_api_client_request (ctx->client, "GET", path, NULL, NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  return show_broker (ctx, result);
}

static int
broker_delete (CtlContext *ctx, char **args)
{
  g_autofree char *path = broker_path (args[0], NULL);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  result = st_api_client_request (ctx->client, "DELETE", path, NULL, NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    ctl_print_json (result);
  else
    printf ("Deleted broker “%s” from namespace “%s”.\n", args[0], opt_namespace);
  return CTL_EXIT_OK;
}

static int
broker_issue (CtlContext *ctx, char **args)
{
  g_autofree char *path = broker_path (args[0], "credentials");
  g_autoptr(GPtrArray) query = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *tokens;
  GList *members;

  if (opt_number != G_MININT)
    {
      g_ptr_array_add (query, g_strdup ("number"));
      g_ptr_array_add (query, g_strdup_printf ("%d", opt_number));
    }
  if (opt_type != NULL)
    {
      g_ptr_array_add (query, g_strdup ("type"));
      g_ptr_array_add (query, g_strdup (opt_type));
    }
  if (opt_expiration != NULL)
    {
      g_ptr_array_add (query, g_strdup ("expiration"));
      g_ptr_array_add (query, g_strdup_printf ("%" G_GINT64_FORMAT, expiration));
    }
  for (guint i = 0; opt_client_ids != NULL && opt_client_ids[i] != NULL; i++)
    {
      g_ptr_array_add (query, g_strdup ("clientid"));
      g_ptr_array_add (query, g_strdup (opt_client_ids[i]));
    }
  for (guint i = 0; opt_topic_acl != NULL && opt_topic_acl[i] != NULL; i++)
    {
      g_ptr_array_add (query, g_strdup ("topicAcl"));
      g_ptr_array_add (query, g_strdup (opt_topic_acl[i]));
    }
  g_ptr_array_add (query, NULL);

  result = st_api_client_request (ctx->client, "GET", path, (const char * const *) query->pdata,
                                  NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    {
      ctl_print_json (result);
      return CTL_EXIT_OK;
    }
  if (!JSON_NODE_HOLDS_OBJECT (result))
    return CTL_EXIT_OK;
  /* One "clientId<TAB>token" per line: easy to copy and to cut(1). */
  tokens = json_node_get_object (result);
  members = json_object_get_members (tokens);
  for (GList *l = members; l != NULL; l = l->next)
    printf ("%s\t%s\n", (const char *) l->data, ctl_member_string (tokens, l->data));
  g_list_free (members);
  return CTL_EXIT_OK;
}

static int
change_revocations (CtlContext *ctx, char **args, const char *method, const char *verb)
{
  g_autofree char *path = broker_path (args[0], "revocations");
  g_autoptr(GPtrArray) query = g_ptr_array_new ();
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; opt_jtis[i] != NULL; i++)
    {
      g_ptr_array_add (query, (char *) "jti");
      g_ptr_array_add (query, opt_jtis[i]);
    }
  g_ptr_array_add (query, NULL);

  result = st_api_client_request (ctx->client, method, path, (const char * const *) query->pdata,
                                  NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    ctl_print_json (result);
  else if (JSON_NODE_HOLDS_ARRAY (result))
    {
      JsonArray *jtis = json_node_get_array (result);

      for (guint i = 0; i < json_array_get_length (jtis); i++)
        printf ("%s %s\n", verb, json_array_get_string_element (jtis, i));
    }
  return CTL_EXIT_OK;
}

static int
broker_revoke (CtlContext *ctx, char **args)
{
  return change_revocations (ctx, args, "POST", "Revoked");
}

static int
broker_unrevoke (CtlContext *ctx, char **args)
{
  return change_revocations (ctx, args, "DELETE", "Unrevoked");
}

static int
broker_show_revocations (CtlContext *ctx, char **args)
{
  g_autofree char *path = broker_path (args[0], "revocations");
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *jtis;

  result = st_api_client_request (ctx->client, "GET", path, NULL, NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    {
      ctl_print_json (result);
      return CTL_EXIT_OK;
    }
  if (!JSON_NODE_HOLDS_ARRAY (result))
    return CTL_EXIT_OK;
  jtis = json_node_get_array (result);
  if (json_array_get_length (jtis) == 0)
    printf ("No revoked credentials.\n");
  for (guint i = 0; i < json_array_get_length (jtis); i++)
    printf ("%s\n", json_array_get_string_element (jtis, i));
  return CTL_EXIT_OK;
}

static void
print_keys (JsonArray *keys)
{
  CtlTable *table = ctl_table_new ("KID", "KTY", "CRV", "ALG", "X", NULL);

  for (guint i = 0; i < json_array_get_length (keys); i++)
    {
      JsonObject *jwk = json_array_get_object_element (keys, i);

      ctl_table_add (table, ctl_member_string (jwk, "kid"), ctl_member_string (jwk, "kty"),
                     ctl_member_string (jwk, "crv"), ctl_member_string (jwk, "alg"),
                     ctl_member_string (jwk, "x"));
    }
  ctl_table_print (table);
}

static int
broker_public_keys (CtlContext *ctx, char **args)
{
  g_autofree char *path = broker_path (args[0], "publickeys");
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *keys;

  result = st_api_client_request (ctx->client, "GET", path, NULL, NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    {
      ctl_print_json (result);
      return CTL_EXIT_OK;
    }
  if (JSON_NODE_HOLDS_OBJECT (result) &&
      (keys = json_object_get_member (json_node_get_object (result), "keys")) != NULL &&
      JSON_NODE_HOLDS_ARRAY (keys))
    print_keys (json_node_get_array (keys));
  return CTL_EXIT_OK;
}

static int
broker_credentials (CtlContext *ctx, char **args)
{
  g_autofree char *ns = ctl_escape_segment (opt_namespace);
  g_autofree char *b = ctl_escape_segment (args[0]);
  g_autofree char *path = g_strdup_printf ("/accounts/{account_id}/starling/namespaces/%s/brokers/%s/credentials",
                                           ns, b);
  g_autoptr(GPtrArray) query = g_ptr_array_new ();
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *list;
  CtlTable *table;

  for (guint i = 0; opt_client_ids != NULL && opt_client_ids[i] != NULL; i++)
    {
      g_ptr_array_add (query, (char *) "clientid");
      g_ptr_array_add (query, opt_client_ids[i]);
    }
  g_ptr_array_add (query, NULL);

  result = st_api_client_request (ctx->client, "GET", path, (const char * const *) query->pdata,
                                  NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    {
      ctl_print_json (result);
      return CTL_EXIT_OK;
    }
  if (!JSON_NODE_HOLDS_ARRAY (result))
    return CTL_EXIT_OK;
  list = json_node_get_array (result);
  if (json_array_get_length (list) == 0)
    {
      printf ("No credentials issued.\n");
      return CTL_EXIT_OK;
    }
  table = ctl_table_new ("CLIENT ID", "JTI", "ISSUED", "EXPIRES", "REVOKED", "TOPIC ACL", NULL);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *c = json_array_get_object_element (list, i);
      JsonNode *exp = json_object_get_member (c, "exp");
      JsonNode *acl = json_object_get_member (c, "topicAcl");
      JsonNode *revoked = json_object_get_member (c, "revoked");
      g_autofree char *issued = ctl_format_unix (json_object_get_int_member_with_default (c, "iat", 0));
      g_autofree char *expires = NULL;
      g_autofree char *acl_text = NULL;

      if (exp != NULL && JSON_NODE_HOLDS_VALUE (exp) && json_node_get_value_type (exp) == G_TYPE_INT64)
        expires = ctl_format_unix (json_node_get_int (exp));
      else
        expires = g_strdup ("never");
      if (acl != NULL && JSON_NODE_HOLDS_ARRAY (acl))
        {
          JsonArray *filters = json_node_get_array (acl);
          g_autoptr(GStrvBuilder) sb = g_strv_builder_new ();
          g_auto(GStrv) strv = NULL;

          for (guint j = 0; j < json_array_get_length (filters); j++)
            g_strv_builder_add (sb, json_array_get_string_element (filters, j));
          strv = g_strv_builder_end (sb);
          acl_text = g_strjoinv (" ", strv);
        }
      else
        acl_text = g_strdup (ctl_member_string (c, "topicAcl"));
      ctl_table_add (table, ctl_member_string (c, "clientId"), ctl_member_string (c, "jti"),
                     issued, expires,
                     revoked != NULL && JSON_NODE_HOLDS_VALUE (revoked) && json_node_get_boolean (revoked)
                       ? "yes" : "no",
                     acl_text);
    }
  ctl_table_print (table);
  return CTL_EXIT_OK;
}

static int
broker_rotate_key (CtlContext *ctx, char **args)
{
  g_autofree char *path = broker_path (args[0], "keys/rotate");
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  result = st_api_client_request (ctx->client, "POST", path, NULL, NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    ctl_print_json (result);
  else if (JSON_NODE_HOLDS_OBJECT (result))
    {
      JsonObject *jwk = json_node_get_object (result);
      const char *fields[] = {
        "kid", ctl_member_string (jwk, "kid"),
        "kty", ctl_member_string (jwk, "kty"),
        "crv", ctl_member_string (jwk, "crv"),
        "alg", ctl_member_string (jwk, "alg"),
        "x", ctl_member_string (jwk, "x"),
        NULL
      };

      printf ("Broker “%s” signs new credentials with a new key; older keys still verify until deleted.\n",
              args[0]);
      ctl_print_fields (fields);
    }
  return CTL_EXIT_OK;
}

static int
broker_delete_key (CtlContext *ctx, char **args)
{
  g_autofree char *kid = ctl_escape_segment (opt_kid);
  g_autofree char *suffix = g_strconcat ("keys/", kid, NULL);
  g_autofree char *path = broker_path (args[0], suffix);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  result = st_api_client_request (ctx->client, "DELETE", path, NULL, NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    ctl_print_json (result);
  else
    printf ("Deleted signing key %s of broker “%s”: credentials it signed no longer work.\n",
            opt_kid, args[0]);
  return CTL_EXIT_OK;
}

static const CtlCommand broker_commands[] = {
  { "create", "NAME", "Create a broker", create_entries, check_create, broker_create },
  { "update", "NAME", "Change a broker's description, expiration or on-publish URL",
    update_entries, check_update, broker_update },
  { "list", NULL, "List the brokers of a namespace", ns_entries, check_namespace, broker_list },
  { "describe", "NAME", "Show a broker", ns_entries, check_namespace, broker_describe },
  { "delete", "NAME", "Delete a broker (its clients are disconnected)", ns_entries, check_namespace,
    broker_delete },
  { "issue", "NAME", "Issue credentials (tokens) for clients", issue_entries, check_create, broker_issue },
  { "revoke", "NAME", "Revoke credentials by token id", jti_entries, check_jti, broker_revoke },
  { "unrevoke", "NAME", "Take back a revocation", jti_entries, check_jti, broker_unrevoke },
  { "show-revocations", "NAME", "List the revoked token ids", ns_entries, check_namespace,
    broker_show_revocations },
  { "public-keys", "NAME", "Show the keys that verify the broker's credentials", ns_entries,
    check_namespace, broker_public_keys },
  { "credentials", "NAME", "List the credentials issued (metadata, never the tokens)",
    credentials_entries, check_namespace, broker_credentials },
  { "rotate-key", "NAME", "Add a signing key that signs from now on", ns_entries, check_namespace,
    broker_rotate_key },
  { "delete-key", "NAME", "Remove a signing key (see public-keys)", delete_key_entries,
    check_delete_key, broker_delete_key },
  { NULL }
};

const CtlGroup ctl_broker_group = {
  "broker", "Manage brokers, their credentials, revocations and keys", broker_commands, NULL,
};
