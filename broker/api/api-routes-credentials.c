#define G_LOG_DOMAIN "starling-api"

/* …/brokers/{b}/credentials, /revocations and /publickeys, and the
 * broker's signing keys behind them. */

#include "api-private.h"

#include <openssl/crypto.h>

#include "auth/st-jwt.h"
#include "auth/st-signing-key.h"
#include "auth/st-ulid.h"

#define MAX_CREDENTIALS 100

/* ---- Keys ---------------------------------------------------------------- */

static GPtrArray *
load_keys (StApiServer *server, const char *broker_id, GError **error)
{
  g_autoptr(GPtrArray) stored = st_store_key_list (server->store, broker_id, error);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) st_signing_key_unref);

  if (stored == NULL)
    return NULL;
  for (guint i = 0; i < stored->len; i++)
    {
      StStoreKey *k = g_ptr_array_index (stored, i);
      StSigningKey *key = st_signing_key_new_from_private_raw (k->private_key, sizeof k->private_key, error);

      if (key == NULL)
        return NULL;
      g_ptr_array_add (keys, key);
    }
  return g_steal_pointer (&keys);
}

/* A token broker without a key could issue nothing: every broker gets one
 * when it is made (or, for older data, when it is loaded). */
static gboolean
ensure_key (StApiServer *server, const char *broker_id, GError **error)
{
  g_autoptr(GPtrArray) stored = st_store_key_list (server->store, broker_id, error);
  g_autoptr(StSigningKey) key = NULL;
  g_autoptr(StStoreKey) added = NULL;
  guint8 raw[ST_ED25519_KEY_LEN];
  gboolean ok;

  if (stored == NULL)
    return FALSE;
  if (stored->len > 0)
    return TRUE;
  if ((key = st_signing_key_generate (error)) == NULL ||
      !st_signing_key_export_private_raw (key, raw, error))
    return FALSE;
  added = st_store_key_add (server->store, broker_id, st_signing_key_get_kid (key), raw, error);
  ok = added != NULL;
  OPENSSL_cleanse (raw, sizeof raw);
  return ok;
}

gboolean
api_engine_sync_auth (StApiServer *server, StBroker *b, const StStoreBroker *broker, GError **error)
{
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GPtrArray) revocations = NULL;
  g_autoptr(GPtrArray) jtis = g_ptr_array_new ();

  if (!ensure_key (server, broker->id, error) ||
      (keys = load_keys (server, broker->id, error)) == NULL ||
      (revocations = st_store_revocation_list (server->store, broker->id, error)) == NULL)
    return FALSE;
  st_broker_set_keys (b, (StSigningKey *const *) keys->pdata, keys->len);
  for (guint i = 0; i < revocations->len; i++)
    g_ptr_array_add (jtis, ((StStoreRevocation *) g_ptr_array_index (revocations, i))->jti);
  g_ptr_array_add (jtis, NULL);
  st_broker_set_revocations (b, (const char *const *) jtis->pdata);
  return TRUE;
}

/* ---- Query strings -------------------------------------------------------- */

/* Every value of a parameter, in order: SoupServer's table keeps only the
 * last one, and clientid and jti may repeat.  jti may also be
 * comma-separated. */
static GPtrArray *
query_values (ApiRequest *req, const char *name, gboolean split_commas)
{
  const char *query = g_uri_get_query (soup_server_message_get_uri (req->msg));
  g_auto(GStrv) pairs = NULL;
  GPtrArray *values = g_ptr_array_new_with_free_func (g_free);

  if (query == NULL)
    return values;
  pairs = g_strsplit (query, "&", -1);
  for (guint i = 0; pairs[i]; i++)
    {
      char *eq = strchr (pairs[i], '=');
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      if (eq == NULL)
        continue;
      *eq = '\0';
      g_strdelimit (pairs[i], "+", ' ');
      g_strdelimit (eq + 1, "+", ' ');
      key = g_uri_unescape_string (pairs[i], NULL);
      value = g_uri_unescape_string (eq + 1, NULL);
      if (key == NULL || value == NULL || strcmp (key, name) != 0)
        continue;
      if (split_commas)
        {
          g_auto(GStrv) parts = g_strsplit (value, ",", -1);
          for (guint j = 0; parts[j]; j++)
            if (*g_strstrip (parts[j]) != '\0')
              g_ptr_array_add (values, g_strdup (parts[j]));
        }
      else
        g_ptr_array_add (values, g_steal_pointer (&value));
    }
  return values;
}

static gboolean
query_int (ApiRequest *req, const char *name, gint64 min, gint64 max, gint64 *value)
{
  g_autoptr(GPtrArray) values = query_values (req, name, FALSE);
  const char *text;

  if (values->len == 0)
    return TRUE;
  text = g_ptr_array_index (values, values->len - 1);
  if (!g_ascii_string_to_signed (text, 10, min, max, value, NULL))
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                 "“%s” must be a whole number from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT " (not “%s”)",
                 name, min, max, text);
      return FALSE;
    }
  return TRUE;
}

/* ---- Routes -------------------------------------------------------------- */

static StStoreBroker *
find_broker (ApiRequest *req)
{
  g_autoptr(StStoreNamespace) ns = NULL;
  g_autoptr(GError) error = NULL;
  StStoreBroker *broker;

  ns = st_store_namespace_get (req->server->store, req->ns, &error);
  if (ns == NULL)
    {
      api_error_from_store (req, error, API_ERROR_NAMESPACE_NOT_FOUND, API_ERROR_NAMESPACE_EXISTS);
      return NULL;
    }
  broker = st_store_broker_get (req->server->store, req->ns, req->broker, &error);
  if (broker == NULL)
    api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
  return broker;
}

static JsonNode *
strings_node (GPtrArray *strings)
{
  JsonArray *array = json_array_sized_new (strings->len);
  JsonNode *node;

  for (guint i = 0; i < strings->len; i++)
    json_array_add_string_element (array, g_ptr_array_index (strings, i));
  node = json_node_init_array (json_node_alloc (), array);
  json_array_unref (array);
  return node;
}

void
api_publickeys (ApiRequest *req)
{
  g_autoptr(StStoreBroker) broker = find_broker (req);
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();

  if (broker == NULL)
    return;
  if ((keys = load_keys (req->server, broker->id, &error)) == NULL)
    {
      api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
      return;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "keys");
  json_builder_begin_array (b);
  for (guint i = 0; i < keys->len; i++)
    {
      JsonObject *jwk = st_signing_key_to_jwk (g_ptr_array_index (keys, i));
      JsonNode *node = json_node_init_object (json_node_alloc (), jwk);

      json_builder_add_value (b, node);
      json_object_unref (jwk);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  api_reply (req, SOUP_STATUS_OK, json_builder_get_root (b));
}

void
api_credentials (ApiRequest *req)
{
  g_autoptr(StStoreBroker) broker = find_broker (req);
  g_autoptr(GPtrArray) client_ids = NULL;
  g_autoptr(GPtrArray) acl = NULL;
  g_autoptr(GPtrArray) types = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) st_store_credential_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(StUlidGenerator) ulids = st_ulid_generator_new ();
  g_autofree char *acl_json = NULL;
  gint64 number = 1, expiration = -1, now, lifetime;
  StSigningKey *key;

  if (broker == NULL)
    return;
  if (broker->auth_type != ST_STORE_AUTH_TOKEN)
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                 "broker “%s” has authType %s: it takes no credentials", broker->name,
                 st_store_auth_type_to_string (broker->auth_type));
      return;
    }
  types = query_values (req, "type", FALSE);
  for (guint i = 0; i < types->len; i++)
    if (strcmp (g_ptr_array_index (types, i), "TOKEN") != 0)
      {
        api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                   "“type” must be TOKEN (not “%s”)", (char *) g_ptr_array_index (types, i));
        return;
      }
  if (!query_int (req, "number", 1, MAX_CREDENTIALS, &number) ||
      /* As wide as a broker's own: wrangler's "10y" is 2207520000 s. */
      !query_int (req, "expiration", -1, API_EXPIRATION_MAX, &expiration))
    return;
  if (expiration == 0)
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                 "“expiration” must be above 0 seconds, or -1 for none");
      return;
    }
  client_ids = query_values (req, "clientid", FALSE);
  if (client_ids->len > MAX_CREDENTIALS)
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                 "at most %d client ids at once", MAX_CREDENTIALS);
      return;
    }
  for (guint i = 0; i < client_ids->len; i++)
    if (*(char *) g_ptr_array_index (client_ids, i) == '\0')
      {
        api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE, "a “clientid” is empty");
        return;
      }
  acl = query_values (req, "topicAcl", FALSE);
  for (guint i = 0; i < acl->len; i++)
    if (*(char *) g_ptr_array_index (acl, i) == '\0')
      {
        api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE, "a “topicAcl” filter is empty");
        return;
      }
  if (client_ids->len == 0)
    for (gint64 i = 0; i < number; i++)
      g_ptr_array_add (client_ids, st_ulid_generator_next (ulids));

  /* The broker's expiration and the request's both apply: the shorter. */
  lifetime = broker->expiration;
  if (expiration > 0 && (lifetime <= 0 || expiration < lifetime))
    lifetime = expiration;

  if ((keys = load_keys (req->server, broker->id, &error)) == NULL || keys->len == 0)
    {
      if (error == NULL)
        g_set_error (&error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED, "broker %s has no signing key", broker->id);
      api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
      return;
    }
  /* The newest key signs; older ones only verify until removed. */
  key = g_ptr_array_index (keys, keys->len - 1);

  if (acl->len > 0)
    {
      g_autoptr(JsonNode) node = acl->len == 1
        ? json_node_init_string (json_node_alloc (), g_ptr_array_index (acl, 0))
        : strings_node (acl);
      acl_json = json_to_string (node, FALSE);
      g_ptr_array_add (acl, NULL);
    }

  now = g_get_real_time () / G_USEC_PER_SEC;
  json_builder_begin_object (b);
  for (guint i = 0; i < client_ids->len; i++)
    {
      g_autoptr(StJwtClaims) claims = st_jwt_claims_new ();
      g_autofree char *token = NULL;
      StStoreCredential *record;

      claims->iat = now;
      claims->exp = lifetime > 0 ? now + lifetime : 0;
      claims->sub = g_strdup (g_ptr_array_index (client_ids, i));
      claims->jti = st_ulid_generator_next (ulids);
      claims->topic_acl = acl->len > 0 ? g_strdupv ((char **) acl->pdata) : NULL;
      if ((token = st_jwt_sign (key, claims, &error)) == NULL)
        {
          api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_INVALID_VALUE,
                     "cannot issue a credential: %s", error->message);
          return;
        }
      record = g_new0 (StStoreCredential, 1);
      record->jti = g_strdup (claims->jti);
      record->client_id = g_strdup (claims->sub);
      record->iat = claims->iat;
      record->exp = claims->exp;
      record->topic_acl = g_strdup (acl_json ? acl_json : "\"#\"");
      g_ptr_array_add (records, record);
      json_builder_set_member_name (b, claims->sub);
      json_builder_add_string_value (b, token);
    }
  json_builder_end_object (b);

  /* Recorded before anyone sees a token, all or none. */
  if (!st_store_credentials_add (req->server->store, broker->id,
                                 (StStoreCredential *const *) records->pdata, records->len, &error))
    {
      api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
      return;
    }
  g_message ("issued %u credential(s) for broker %s.%s", records->len, broker->name, broker->namespace_name);
  api_reply (req, SOUP_STATUS_OK, json_builder_get_root (b));
}

static void
revocations_change (ApiRequest *req, gboolean revoke)
{
  g_autoptr(StStoreBroker) broker = find_broker (req);
  g_autoptr(GPtrArray) jtis = NULL;
  g_autoptr(GError) error = NULL;
  StBroker *b;
  gboolean ok;

  if (broker == NULL)
    return;
  jtis = query_values (req, "jti", TRUE);
  if (jtis->len == 0)
    {
      api_error (req, SOUP_STATUS_BAD_REQUEST, API_ERROR_MISSING_FIELD,
                 "“jti” is required (repeat it, or separate several with commas)");
      return;
    }
  g_ptr_array_add (jtis, NULL);
  ok = revoke ? st_store_revocations_add (req->server->store, broker->id, (const char *const *) jtis->pdata, &error)
              : st_store_revocations_remove (req->server->store, broker->id, (const char *const *) jtis->pdata, &error);
  g_ptr_array_remove_index (jtis, jtis->len - 1);
  if (!ok)
    {
      api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
      return;
    }
  /* Stored first, then live: a client cut off now stays out after a restart. */
  b = g_hash_table_lookup (req->server->engine_brokers, broker->id);
  for (guint i = 0; b != NULL && i < jtis->len; i++)
    {
      if (revoke)
        st_broker_revoke (b, g_ptr_array_index (jtis, i));
      else
        st_broker_unrevoke (b, g_ptr_array_index (jtis, i));
    }
  api_reply (req, SOUP_STATUS_OK, strings_node (jtis));
}

void
api_revocations_add (ApiRequest *req)
{
  revocations_change (req, TRUE);
}

void
api_revocations_remove (ApiRequest *req)
{
  revocations_change (req, FALSE);
}

void
api_revocations_list (ApiRequest *req)
{
  g_autoptr(StStoreBroker) broker = find_broker (req);
  g_autoptr(GPtrArray) revocations = NULL;
  g_autoptr(GPtrArray) jtis = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  if (broker == NULL)
    return;
  if ((revocations = st_store_revocation_list (req->server->store, broker->id, &error)) == NULL)
    {
      api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
      return;
    }
  for (guint i = 0; i < revocations->len; i++)
    g_ptr_array_add (jtis, ((StStoreRevocation *) g_ptr_array_index (revocations, i))->jti);
  api_reply (req, SOUP_STATUS_OK, strings_node (jtis));
}

/* ---- Key rotation (beyond Cloudflare) ----------------------------------- */

static gboolean
push_keys (ApiRequest *req, const StStoreBroker *broker, GError **error)
{
  g_autoptr(GPtrArray) keys = load_keys (req->server, broker->id, error);
  StBroker *b = g_hash_table_lookup (req->server->engine_brokers, broker->id);

  if (keys == NULL)
    return FALSE;
  if (b != NULL)
    st_broker_set_keys (b, (StSigningKey *const *) keys->pdata, keys->len);
  return TRUE;
}

/* POST …/keys/rotate: a new key signs from now on; the old ones keep
 * verifying the tokens already out until DELETE …/keys/{kid}. */
void
api_keys_rotate (ApiRequest *req)
{
  g_autoptr(StStoreBroker) broker = find_broker (req);
  g_autoptr(StSigningKey) key = NULL;
  g_autoptr(StStoreKey) added = NULL;
  g_autoptr(GError) error = NULL;
  guint8 raw[ST_ED25519_KEY_LEN];
  JsonObject *jwk;

  if (broker == NULL)
    return;
  if ((key = st_signing_key_generate (&error)) == NULL ||
      !st_signing_key_export_private_raw (key, raw, &error))
    {
      g_warning ("control API: cannot make a signing key: %s", error->message);
      api_error (req, SOUP_STATUS_INTERNAL_SERVER_ERROR, API_ERROR_INTERNAL, "cannot make a signing key");
      return;
    }
  added = st_store_key_add (req->server->store, broker->id, st_signing_key_get_kid (key), raw, &error);
  OPENSSL_cleanse (raw, sizeof raw);
  if (added == NULL || !push_keys (req, broker, &error))
    {
      api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
      return;
    }
  g_message ("broker %s.%s: new signing key %s", broker->name, broker->namespace_name,
             st_signing_key_get_kid (key));
  jwk = st_signing_key_to_jwk (key);
  api_reply (req, SOUP_STATUS_OK, json_node_init_object (json_node_alloc (), jwk));
  json_object_unref (jwk);
}

void
api_key_delete (ApiRequest *req)
{
  g_autoptr(StStoreBroker) broker = find_broker (req);
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GError) error = NULL;
  gboolean found = FALSE;

  if (broker == NULL)
    return;
  if ((stored = st_store_key_list (req->server->store, broker->id, &error)) == NULL)
    {
      api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
      return;
    }
  for (guint i = 0; i < stored->len; i++)
    found |= strcmp (((StStoreKey *) g_ptr_array_index (stored, i))->kid, req->kid) == 0;
  if (!found)
    {
      api_error (req, SOUP_STATUS_NOT_FOUND, API_ERROR_KEY_NOT_FOUND,
                 "broker “%s” has no signing key “%s”", broker->name, req->kid);
      return;
    }
  /* A broker without keys could neither issue nor accept tokens. */
  if (stored->len == 1)
    {
      api_error (req, SOUP_STATUS_CONFLICT, API_ERROR_LAST_KEY,
                 "“%s” is broker “%s”'s only signing key: rotate first, then remove the old one",
                 req->kid, broker->name);
      return;
    }
  if (!st_store_key_remove (req->server->store, broker->id, req->kid, &error) ||
      !push_keys (req, broker, &error))
    {
      api_error_from_store (req, error, API_ERROR_KEY_NOT_FOUND, API_ERROR_BROKER_EXISTS);
      return;
    }
  g_message ("broker %s.%s: signing key %s removed", broker->name, broker->namespace_name, req->kid);
  api_reply (req, SOUP_STATUS_OK, NULL);
}

/* GET /accounts/{id}/pubsub/ca (beyond Cloudflare): the local CA that
 * signs the TLS certificates, as PEM, so `curl … > ca.pem` gives a file
 * clients can trust.  Errors keep the JSON envelope. */
void
api_ca (ApiRequest *req)
{
  g_autofree char *pem = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  if (req->server->ca_file == NULL)
    {
      api_error (req, SOUP_STATUS_NOT_FOUND, API_ERROR_NO_CA,
                 "this server uses the operator's own TLS certificate: it has no local CA");
      return;
    }
  if (!g_file_get_contents (req->server->ca_file, &pem, &len, &error))
    {
      g_warning ("control API: %s", error->message);
      api_error (req, SOUP_STATUS_INTERNAL_SERVER_ERROR, API_ERROR_INTERNAL,
                 "cannot read the CA certificate (see the daemon's log)");
      return;
    }
  soup_server_message_set_status (req->msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (req->msg, "application/x-pem-file", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&pem), len);
}

/* GET /accounts/{id}/starling/namespaces/{ns}/brokers/{b}/credentials:
 * what was issued (metadata only).  Not in Cloudflare's API, so under
 * "starling" rather than "pubsub": no Cloudflare route can ever collide. */
void
api_credentials_list (ApiRequest *req)
{
  g_autoptr(StStoreBroker) broker = find_broker (req);
  g_autoptr(GPtrArray) client_ids = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();

  if (broker == NULL)
    return;
  client_ids = query_values (req, "clientid", FALSE);
  list = st_store_credential_list (req->server->store, broker->id,
                                   client_ids->len > 0 ? g_ptr_array_index (client_ids, client_ids->len - 1) : NULL,
                                   &error);
  if (list == NULL)
    {
      api_error_from_store (req, error, API_ERROR_BROKER_NOT_FOUND, API_ERROR_BROKER_EXISTS);
      return;
    }
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    {
      StStoreCredential *c = g_ptr_array_index (list, i);
      g_autoptr(JsonParser) parser = json_parser_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "clientId");
      json_builder_add_string_value (b, c->client_id);
      json_builder_set_member_name (b, "jti");
      json_builder_add_string_value (b, c->jti);
      json_builder_set_member_name (b, "iat");
      json_builder_add_int_value (b, c->iat);
      json_builder_set_member_name (b, "exp");
      if (c->exp == 0)
        json_builder_add_null_value (b);
      else
        json_builder_add_int_value (b, c->exp);
      json_builder_set_member_name (b, "topicAcl");
      if (c->topic_acl != NULL && json_parser_load_from_data (parser, c->topic_acl, -1, NULL))
        json_builder_add_value (b, json_node_copy (json_parser_get_root (parser)));
      else
        json_builder_add_string_value (b, "#");
      json_builder_set_member_name (b, "revoked");
      json_builder_add_boolean_value (b, c->revoked);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  api_reply (req, SOUP_STATUS_OK, json_builder_get_root (b));
}
