#define G_LOG_DOMAIN "starlingctl"

/* starlingctl namespace create|list|describe|delete — as wrangler pubsub
 * namespace. */

#include "ctl-private.h"

#include <stdio.h>

static char *opt_description;

static const GOptionEntry create_entries[] = {
  { "description", 0, 0, G_OPTION_ARG_STRING, &opt_description, "A description of the namespace", "TEXT" },
  { NULL }
};

static void
print_namespace (JsonObject *ns)
{
  g_autofree char *created = ctl_format_time (ctl_member_string (ns, "created_on"));
  g_autofree char *modified = ctl_format_time (ctl_member_string (ns, "modified_on"));
  const char *fields[] = {
    "name", ctl_member_string (ns, "name"),
    "id", ctl_member_string (ns, "id"),
    "description", ctl_member_string (ns, "description"),
    "created", created,
    "modified", modified,
    NULL
  };

  ctl_print_fields (fields);
}

/* Prints a result that should be one namespace. */
static int
show_namespace (CtlContext *ctx, JsonNode *result)
{
  if (ctx->json)
    ctl_print_json (result);
  else if (JSON_NODE_HOLDS_OBJECT (result))
    print_namespace (json_node_get_object (result));
  return CTL_EXIT_OK;
}

static int
namespace_create (CtlContext *ctx, char **args)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, args[0]);
  if (opt_description != NULL)
    {
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, opt_description);
    }
  json_builder_end_object (b);
  body = json_builder_get_root (b);

  result = st_api_client_request (ctx->client, "POST", "namespaces", NULL, body, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (!ctx->json)
    printf ("Created namespace “%s”.\n", args[0]);
  return show_namespace (ctx, result);
}

static int
namespace_list (CtlContext *ctx, char **args)
{
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;
  CtlTable *table;
  JsonArray *list;

  result = st_api_client_request (ctx->client, "GET", "namespaces", NULL, NULL, NULL, &error);
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
      printf ("No namespaces.\n");
      return CTL_EXIT_OK;
    }
  table = ctl_table_new ("NAME", "ID", "CREATED", "DESCRIPTION", NULL);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *ns = json_array_get_object_element (list, i);
      g_autofree char *created = ctl_format_time (ctl_member_string (ns, "created_on"));

      ctl_table_add (table, ctl_member_string (ns, "name"), ctl_member_string (ns, "id"),
                     created, ctl_member_string (ns, "description"));
    }
  ctl_table_print (table);
  return CTL_EXIT_OK;
}

static int
namespace_describe (CtlContext *ctx, char **args)
{
  g_autofree char *ns = ctl_escape_segment (args[0]);
  g_autofree char *path = g_strconcat ("namespaces/", ns, NULL);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  result = st_api_client_request (ctx->client, "GET", path, NULL, NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  return show_namespace (ctx, result);
}

static int
namespace_delete (CtlContext *ctx, char **args)
{
  g_autofree char *ns = ctl_escape_segment (args[0]);
  g_autofree char *path = g_strconcat ("namespaces/", ns, NULL);
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(GError) error = NULL;

  result = st_api_client_request (ctx->client, "DELETE", path, NULL, NULL, NULL, &error);
  if (result == NULL)
    return ctl_fail (ctx, error);
  if (ctx->json)
    ctl_print_json (result);
  else
    printf ("Deleted namespace “%s” and its brokers.\n", args[0]);
  return CTL_EXIT_OK;
}

static const CtlCommand namespace_commands[] = {
  { "create", "NAME", "Create a namespace", create_entries, NULL, namespace_create },
  { "list", NULL, "List the namespaces", NULL, NULL, namespace_list },
  { "describe", "NAME", "Show a namespace", NULL, NULL, namespace_describe },
  { "delete", "NAME", "Delete a namespace and every broker in it", NULL, NULL, namespace_delete },
  { NULL }
};

const CtlGroup ctl_namespace_group = {
  "namespace", "Manage namespaces (which hold brokers)", namespace_commands, NULL,
};
