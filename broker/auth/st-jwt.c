#define G_LOG_DOMAIN "starling-auth"

#include "st-jwt.h"
#include "st-base64url.h"

#include <math.h>
#include <string.h>

struct _StJwt {
  char        *signing_input;  /* "header.payload", exactly as received */
  gsize        signing_input_len;
  JsonObject  *header;
  JsonObject  *payload;
  guint8      *sig;
  gsize        sig_len;
  StJwtClaims *claims;         /* set by a successful st_jwt_verify */
};

/* The claims StJwtClaims has fields for; everything else goes to extra. */
static const char * const known_claims[] = { "iat", "exp", "nbf", "sub", "jti", "topicAcl", NULL };

G_DEFINE_QUARK (st-jwt-error-quark, st_jwt_error)

StJwtClaims *
st_jwt_claims_new (void)
{
  return g_new0 (StJwtClaims, 1);
}

void
st_jwt_claims_free (StJwtClaims *claims)
{
  if (claims == NULL)
    return;
  g_free (claims->sub);
  g_free (claims->jti);
  g_strfreev (claims->topic_acl);
  g_clear_pointer (&claims->extra, json_object_unref);
  g_free (claims);
}

/* The string value of @node, or NULL. json-glib's typed getters emit
 * criticals on a type mismatch, and these objects come off the network. */
static const char *
node_string (JsonNode *node)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* RFC 7519 NumericDate: a non-negative number of seconds. Fractions are
 * allowed by the RFC and truncated; anything else is not a time. */
static gboolean
get_time (JsonObject  *object,
          const char  *name,
          gboolean     required,
          gint64      *out,
          GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);
  gint64 v;

  *out = 0;
  if (node == NULL && !required)
    return TRUE;
  if (node == NULL)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_INVALID_CLAIMS,
                   "claim \"%s\" is missing", name);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node))
    goto invalid;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      v = json_node_get_int (node);
      break;
    case G_TYPE_DOUBLE:
      {
        double d = json_node_get_double (node);

        /* Beyond 2^53 a double no longer holds whole seconds exactly. */
        if (!isfinite (d) || d < 0 || d > 9007199254740992.0)
          goto invalid;
        v = (gint64) d;
      }
      break;
    default:
      goto invalid;
    }
  if (v < 0)
    goto invalid;
  *out = v;
  return TRUE;

invalid:
  g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_INVALID_CLAIMS,
               "claim \"%s\" is not a non-negative number of seconds", name);
  return FALSE;
}

static gboolean
get_id (JsonObject  *object,
        const char  *name,
        char       **out,
        GError     **error)
{
  const char *s = node_string (json_object_get_member (object, name));

  /* Client ids and token ids end up in MQTT strings: at most 65535 bytes. */
  if (s == NULL || s[0] == '\0' || strlen (s) > G_MAXUINT16)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_INVALID_CLAIMS,
                   "claim \"%s\" is missing or not a non-empty string", name);
      return FALSE;
    }
  *out = g_strdup (s);
  return TRUE;
}

/* MQTT 5 §4.7: '#' only as the whole last level, '+' only as a whole level.
 * Checked here so a token cannot carry a filter the engine would choke on. */
static gboolean
topic_filter_is_valid (const char *f)
{
  gsize len = strlen (f);

  if (len == 0 || len > G_MAXUINT16)
    return FALSE;
  for (const char *p = f; *p != '\0'; p++)
    {
      gboolean starts_level = p == f || p[-1] == '/';
      gboolean ends_level = p[1] == '\0' || p[1] == '/';

      if (*p == '+' && !(starts_level && ends_level))
        return FALSE;
      if (*p == '#' && !(starts_level && p[1] == '\0'))
        return FALSE;
    }
  return TRUE;
}

static char **
get_topic_acl (JsonObject  *object,
               GError     **error)
{
  JsonNode *node = json_object_get_member (object, "topicAcl");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  const char *s;

  /* DESIGN.md: no topicAcl means the whole broker. */
  if (node == NULL)
    {
      g_strv_builder_add (builder, "#");
      return g_strv_builder_end (builder);
    }

  if ((s = node_string (node)) != NULL)
    {
      if (!topic_filter_is_valid (s))
        goto invalid;
      g_strv_builder_add (builder, s);
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint n = json_array_get_length (array);

      /* An empty list would grant nothing; more likely a bug than intent. */
      if (n == 0)
        goto invalid;
      for (guint i = 0; i < n; i++)
        {
          s = node_string (json_array_get_element (array, i));
          if (s == NULL || !topic_filter_is_valid (s))
            goto invalid;
          g_strv_builder_add (builder, s);
        }
    }
  else
    goto invalid;
  return g_strv_builder_end (builder);

invalid:
  g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_INVALID_CLAIMS,
               "claim \"topicAcl\" is not a topic filter or a non-empty array of them");
  return NULL;
}

StJwtClaims *
st_jwt_claims_from_json (JsonObject  *object,
                         GError     **error)
{
  g_autoptr(StJwtClaims) claims = st_jwt_claims_new ();
  g_autoptr(GList) names = NULL;

  g_return_val_if_fail (object != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!get_time (object, "iat", TRUE, &claims->iat, error) ||
      !get_time (object, "exp", FALSE, &claims->exp, error) ||
      !get_time (object, "nbf", FALSE, &claims->nbf, error))
    return NULL;
  /* 0 means "no expiry" in the struct, so a token saying exp 0 (expired in
   * 1970) must not be read as one that never expires. */
  if (json_object_has_member (object, "exp") && claims->exp == 0)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_INVALID_CLAIMS,
                   "claim \"exp\" is 0");
      return NULL;
    }
  if (!get_id (object, "sub", &claims->sub, error) ||
      !get_id (object, "jti", &claims->jti, error))
    return NULL;
  claims->topic_acl = get_topic_acl (object, error);
  if (claims->topic_acl == NULL)
    return NULL;

  names = json_object_get_members (object);
  for (const GList *l = names; l != NULL; l = l->next)
    {
      if (g_strv_contains (known_claims, l->data))
        continue;
      if (claims->extra == NULL)
        claims->extra = json_object_new ();
      json_object_set_member (claims->extra, l->data,
                              json_node_copy (json_object_get_member (object, l->data)));
    }
  return g_steal_pointer (&claims);
}

JsonObject *
st_jwt_claims_to_json (const StJwtClaims *claims)
{
  JsonObject *object;

  g_return_val_if_fail (claims != NULL, NULL);

  object = json_object_new ();
  json_object_set_int_member (object, "iat", claims->iat);
  if (claims->nbf != 0)
    json_object_set_int_member (object, "nbf", claims->nbf);
  if (claims->exp != 0)
    json_object_set_int_member (object, "exp", claims->exp);
  if (claims->sub != NULL)
    json_object_set_string_member (object, "sub", claims->sub);
  if (claims->jti != NULL)
    json_object_set_string_member (object, "jti", claims->jti);
  /* One filter is written as a plain string, as Cloudflare's tokens do. */
  if (claims->topic_acl != NULL && claims->topic_acl[0] != NULL && claims->topic_acl[1] == NULL)
    json_object_set_string_member (object, "topicAcl", claims->topic_acl[0]);
  else if (claims->topic_acl != NULL)
    {
      JsonArray *array = json_array_new ();

      for (guint i = 0; claims->topic_acl[i] != NULL; i++)
        json_array_add_string_element (array, claims->topic_acl[i]);
      json_object_set_array_member (object, "topicAcl", array);
    }

  if (claims->extra != NULL)
    {
      g_autoptr(GList) names = json_object_get_members (claims->extra);

      /* The typed fields win: extra must not smuggle in a second "exp". */
      for (const GList *l = names; l != NULL; l = l->next)
        if (!g_strv_contains (known_claims, l->data))
          json_object_set_member (object, l->data,
                                  json_node_copy (json_object_get_member (claims->extra, l->data)));
    }
  return object;
}

static char *
object_to_json (JsonObject *object,
                gsize      *len)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_node_init_object (json_node_alloc (), object);

  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, len);
}

char *
st_jwt_sign (StSigningKey       *key,
             const StJwtClaims  *claims,
             GError            **error)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(StJwtClaims) checked = NULL;
  g_autofree char *header = NULL;
  g_autofree char *header64 = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *payload64 = NULL;
  g_autofree char *input = NULL;
  g_autofree char *sig64 = NULL;
  guint8 sig[ST_ED25519_SIGNATURE_LEN];
  gsize payload_len = 0;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (claims != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  object = st_jwt_claims_to_json (claims);
  checked = st_jwt_claims_from_json (object, error);
  if (checked == NULL)
    return NULL;

  /* kid is base64url, so the header needs no escaping and is written by
   * hand, byte for byte the same every time. */
  header = g_strdup_printf ("{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                            st_signing_key_get_kid (key));
  header64 = st_base64url_encode ((const guint8 *) header, strlen (header));
  payload = object_to_json (object, &payload_len);
  payload64 = st_base64url_encode ((const guint8 *) payload, payload_len);
  input = g_strconcat (header64, ".", payload64, NULL);

  if (!st_signing_key_sign (key, (const guint8 *) input, strlen (input), sig, error))
    return NULL;
  sig64 = st_base64url_encode (sig, sizeof sig);
  return g_strconcat (input, ".", sig64, NULL);
}

/* Tokens arrive before authentication, and json-glib parses (and frees)
 * nesting by recursion: 60 KiB of "[" is enough to overflow a thread's
 * stack. Real claims nest two levels deep, so refuse anything past this
 * before the parser sees it. */
#define MAX_JSON_DEPTH 16

static gboolean
json_depth_ok (const char *json,
               gsize       len)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = json[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > MAX_JSON_DEPTH)
            return FALSE;
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

/* Decodes one base64url part into a JSON object. */
static JsonObject *
decode_object (const char  *text,
               gsize        len,
               const char  *what,
               GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autofree guint8 *json = NULL;
  JsonNode *root;
  gsize json_len = 0;

  json = st_base64url_decode (text, len, &json_len, &local);
  if (json == NULL)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "%s: %s", what, local->message);
      return NULL;
    }
  /* RFC 8259 JSON is UTF-8; g_utf8_validate_len also refuses NUL bytes,
   * which would cut C strings short behind the parser's back. */
  if (!g_utf8_validate_len ((const char *) json, json_len, NULL))
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "%s is not UTF-8 text", what);
      return NULL;
    }
  if (!json_depth_ok ((const char *) json, json_len))
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "%s nests deeper than %d levels", what, MAX_JSON_DEPTH);
      return NULL;
    }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const char *) json, json_len, &local))
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "%s is not JSON: %s", what, local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "%s is not a JSON object", what);
      return NULL;
    }
  return json_node_dup_object (root);
}

StJwt *
st_jwt_parse (const char  *token,
              gssize       len,
              GError     **error)
{
  g_autoptr(StJwt) jwt = NULL;
  g_autoptr(GError) local = NULL;
  const char *dot1, *dot2, *end;
  gsize n;

  g_return_val_if_fail (token != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  n = len < 0 ? strlen (token) : (gsize) len;
  if (n > ST_JWT_MAX_LEN)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "token longer than %d bytes", ST_JWT_MAX_LEN);
      return NULL;
    }
  end = token + n;
  dot1 = n > 0 ? memchr (token, '.', n) : NULL;
  dot2 = dot1 != NULL ? memchr (dot1 + 1, '.', end - dot1 - 1) : NULL;
  if (dot2 == NULL || memchr (dot2 + 1, '.', end - dot2 - 1) != NULL)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "token is not three dot-separated parts");
      return NULL;
    }

  jwt = g_new0 (StJwt, 1);
  jwt->header = decode_object (token, dot1 - token, "header", error);
  if (jwt->header == NULL)
    return NULL;
  jwt->payload = decode_object (dot1 + 1, dot2 - dot1 - 1, "payload", error);
  if (jwt->payload == NULL)
    return NULL;
  jwt->sig = st_base64url_decode (dot2 + 1, end - dot2 - 1, &jwt->sig_len, &local);
  if (jwt->sig == NULL)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "signature: %s", local->message);
      return NULL;
    }
  jwt->signing_input_len = dot2 - token;
  jwt->signing_input = g_strndup (token, jwt->signing_input_len);
  return g_steal_pointer (&jwt);
}

void
st_jwt_free (StJwt *jwt)
{
  if (jwt == NULL)
    return;
  g_free (jwt->signing_input);
  g_clear_pointer (&jwt->header, json_object_unref);
  g_clear_pointer (&jwt->payload, json_object_unref);
  g_free (jwt->sig);
  st_jwt_claims_free (jwt->claims);
  g_free (jwt);
}

JsonObject *
st_jwt_get_header (StJwt *jwt)
{
  g_return_val_if_fail (jwt != NULL, NULL);
  return jwt->header;
}

JsonObject *
st_jwt_get_unverified_claims (StJwt *jwt)
{
  g_return_val_if_fail (jwt != NULL, NULL);
  return jwt->payload;
}

const char *
st_jwt_get_kid (StJwt *jwt)
{
  g_return_val_if_fail (jwt != NULL, NULL);
  return node_string (json_object_get_member (jwt->header, "kid"));
}

gboolean
st_jwt_verify (StJwt         *jwt,
               StSigningKey  *key,
               gint64         now,
               GError       **error)
{
  g_autoptr(StJwtClaims) claims = NULL;
  JsonNode *alg, *kid;

  g_return_val_if_fail (jwt != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_clear_pointer (&jwt->claims, st_jwt_claims_free);

  /* The algorithm is fixed by the key type, not read from the token: the
   * header's alg is only checked to agree, before any key is touched. */
  alg = json_object_get_member (jwt->header, "alg");
  if (alg != NULL && node_string (alg) == NULL)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "header \"alg\" is not a string");
      return FALSE;
    }
  if (g_strcmp0 (node_string (alg), "EdDSA") != 0)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_UNSUPPORTED_ALG,
                   "algorithm \"%s\" is not accepted (only EdDSA)",
                   alg != NULL ? node_string (alg) : "(none)");
      return FALSE;
    }
  /* RFC 7515 §4.1.11: extensions listed in "crit" must be understood, and
   * we implement none. */
  if (json_object_has_member (jwt->header, "crit"))
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_UNSUPPORTED_ALG,
                   "header \"crit\" names extensions this verifier does not implement");
      return FALSE;
    }

  kid = json_object_get_member (jwt->header, "kid");
  if (kid != NULL && node_string (kid) == NULL)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED,
                   "header \"kid\" is not a string");
      return FALSE;
    }
  /* A token naming another key was not signed by this one; saying so is
   * clearer than a failed signature check, and cheaper. */
  if (kid != NULL && strcmp (node_string (kid), st_signing_key_get_kid (key)) != 0)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_BAD_SIGNATURE,
                   "token is for key \"%s\", not \"%s\"",
                   node_string (kid), st_signing_key_get_kid (key));
      return FALSE;
    }
  if (!st_signing_key_verify (key, (const guint8 *) jwt->signing_input, jwt->signing_input_len,
                              jwt->sig, jwt->sig_len))
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_BAD_SIGNATURE,
                   "signature does not verify with key \"%s\"", st_signing_key_get_kid (key));
      return FALSE;
    }

  /* Only now is the payload ours to read. */
  claims = st_jwt_claims_from_json (jwt->payload, error);
  if (claims == NULL)
    return FALSE;
  if (claims->exp != 0 && claims->exp <= now)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_EXPIRED,
                   "token expired %" G_GINT64_FORMAT " s ago", now - claims->exp);
      return FALSE;
    }
  if (claims->nbf > now)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_NOT_YET_VALID,
                   "token not valid for another %" G_GINT64_FORMAT " s", claims->nbf - now);
      return FALSE;
    }
  if (claims->iat > now + ST_JWT_IAT_SKEW)
    {
      g_set_error (error, ST_JWT_ERROR, ST_JWT_ERROR_NOT_YET_VALID,
                   "token issued %" G_GINT64_FORMAT " s in the future", claims->iat - now);
      return FALSE;
    }

  jwt->claims = g_steal_pointer (&claims);
  return TRUE;
}

const StJwtClaims *
st_jwt_get_claims (StJwt *jwt)
{
  g_return_val_if_fail (jwt != NULL, NULL);
  return jwt->claims;
}
