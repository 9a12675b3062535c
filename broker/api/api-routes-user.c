#define G_LOG_DOMAIN "starling-api"

/* The routes outside an account's own that Cloudflare clients call to
 * find out who they are: wrangler looks up its account through
 * /memberships (pubsub commands without CLOUDFLARE_ACCOUNT_ID) and
 * `wrangler whoami` calls /user/tokens/verify, /user and /accounts. */

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

/* Cloudflare answers a token without the "User Details" permission with
 * 9109, which wrangler takes as "no email to show" and carries on.  Here no
 * token has a user behind it: they all belong to the account. */
void
api_user (ApiRequest *req)
{
  api_error (req, SOUP_STATUS_FORBIDDEN, API_ERROR_NO_USER,
             "Unauthorized to access requested resource: Starling's API tokens belong to "
             "the account, not to a user (see /memberships)");
}

/* The accounts the token may use: this daemon's one. */
void
api_accounts (ApiRequest *req)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, st_store_get_account_id (req->server->store));
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, "Starling");
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "standard");
  json_builder_end_object (b);
  json_builder_end_array (b);
  api_reply (req, SOUP_STATUS_OK, json_builder_get_root (b));
}
