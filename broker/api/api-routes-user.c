#define G_LOG_DOMAIN "starling-api"

/* The two routes outside /accounts that Cloudflare clients call to find
 * out who they are: wrangler verifies its token and looks up its account
 * through them. */

#include "api-private.h"

void
api_user_tokens_verify (ApiRequest *req)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, req->token->id);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "active");
  json_builder_end_object (b);
  api_reply (req, SOUP_STATUS_OK, json_builder_get_root (b));
}

void
api_memberships (ApiRequest *req)
{
  const char *account_id = st_store_get_account_id (req->server->store);
  gboolean edit = req->token->scope == ST_STORE_SCOPE_EDIT;
  g_autoptr(JsonBuilder) b = json_builder_new ();

  /* One daemon is one account, and its API tokens are its members. */
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, req->token->id);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "accepted");
  json_builder_set_member_name (b, "account");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, account_id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, "Starling");
  json_builder_end_object (b);
  json_builder_set_member_name (b, "roles");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, edit ? "Administrator" : "Administrator Read Only");
  json_builder_end_array (b);
  json_builder_set_member_name (b, "permissions");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "pubsub");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "read");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "write");
  json_builder_add_boolean_value (b, edit);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
  api_reply (req, SOUP_STATUS_OK, json_builder_get_root (b));
}
