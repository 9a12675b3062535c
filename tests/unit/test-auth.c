/* Token authentication: base64url, ULIDs, Ed25519 keys and EdDSA JWTs,
 * checked against published vectors (RFC 4648, RFC 8037 Appendix A) and
 * against independent implementations (Python's cryptography, the openssl
 * command line), and fed every kind of bad token the broker must refuse. */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/st-base64url.h"
#include "auth/st-jwt.h"
#include "auth/st-signing-key.h"
#include "auth/st-ulid.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free_all)

/* A fixed "now" (2023-11-14), so expiry is tested without sleeping. */
#define NOW G_GINT64_CONSTANT (1700000000)

/* RFC 8037 Appendix A.1–A.4, as published. */
#define RFC8037_D   "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC8037_X   "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8037_KID "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define RFC8037_HEADER64  "eyJhbGciOiJFZERTQSJ9"
#define RFC8037_PAYLOAD64 "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define RFC8037_SIG64 \
  "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

static guint8 *
b64d (const char *text,
      gsize      *len)
{
  g_autoptr(GError) error = NULL;
  guint8 *out = st_base64url_decode (text, -1, len, &error);

  g_assert_no_error (error);
  return out;
}

static char *
b64e_str (const char *s)
{
  return st_base64url_encode ((const guint8 *) s, strlen (s));
}

static StSigningKey *
new_key (void)
{
  g_autoptr(GError) error = NULL;
  StSigningKey *key = st_signing_key_generate (&error);

  g_assert_no_error (error);
  g_assert_nonnull (key);
  return key;
}

/* Signs arbitrary header and payload JSON with @key, bypassing st_jwt_sign's
 * checks: how an attacker holding no key, or a buggy issuer holding one,
 * would make a token. */
static char *
forge (StSigningKey *key,
       const char   *header_json,
       const char   *payload_json)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *h = b64e_str (header_json);
  g_autofree char *p = b64e_str (payload_json);
  g_autofree char *input = g_strconcat (h, ".", p, NULL);
  g_autofree char *s = NULL;
  guint8 sig[ST_ED25519_SIGNATURE_LEN];

  g_assert_true (st_signing_key_sign (key, (const guint8 *) input, strlen (input), sig, &error));
  g_assert_no_error (error);
  s = st_base64url_encode (sig, sizeof sig);
  return g_strconcat (input, ".", s, NULL);
}

static char *
header_for (StSigningKey *key)
{
  return g_strdup_printf ("{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                          st_signing_key_get_kid (key));
}

/* Parses and verifies @token at NOW; asserts the outcome: @code -1 means
 * it must verify, anything else is the ST_JWT_ERROR it must fail with. */
static void
assert_verify (const char   *token,
               StSigningKey *key,
               gint64        now,
               int           code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StJwt) jwt = st_jwt_parse (token, -1, &error);

  if (jwt != NULL)
    st_jwt_verify (jwt, key, now, &error);
  if (code < 0)
    {
      g_assert_no_error (error);
      g_assert_nonnull (st_jwt_get_claims (jwt));
    }
  else
    {
      g_assert_error (error, ST_JWT_ERROR, code);
      if (jwt != NULL)
        g_assert_null (st_jwt_get_claims (jwt));
    }
}

static void
assert_payload (StSigningKey *key,
                const char   *payload_json,
                int           code)
{
  g_autofree char *header = header_for (key);
  g_autofree char *token = forge (key, header, payload_json);

  assert_verify (token, key, NOW, code);
}

/* ---- base64url ---------------------------------------------------------- */

static void
test_base64url_vectors (void)
{
  /* RFC 4648 §10, without the padding, plus bytes that differ between the
   * standard and URL alphabets ("+/" in base64, "-_" here). */
  static const struct { const char *data; gsize len; const char *text; } v[] = {
    { "", 0, "" },
    { "f", 1, "Zg" },
    { "fo", 2, "Zm8" },
    { "foo", 3, "Zm9v" },
    { "foob", 4, "Zm9vYg" },
    { "fooba", 5, "Zm9vYmE" },
    { "foobar", 6, "Zm9vYmFy" },
    { "\xfb\xef\xff", 3, "--__" },
    { "\xfb\xff", 2, "-_8" },
    { "\x00\x00\x00", 3, "AAAA" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (v); i++)
    {
      g_autofree char *text = st_base64url_encode ((const guint8 *) v[i].data, v[i].len);
      g_autofree guint8 *data = NULL;
      gsize len = 0;

      g_assert_cmpstr (text, ==, v[i].text);
      data = b64d (v[i].text, &len);
      g_assert_cmpmem (data, len, v[i].data, v[i].len);
      /* The decoder NUL-terminates so JSON can be parsed in place. */
      g_assert_cmpint (data[len], ==, 0);
    }
}

static void
test_base64url_roundtrip (void)
{
  guint8 buf[67];

  for (gsize len = 0; len <= sizeof buf; len++)
    {
      g_autofree char *text = NULL;
      g_autofree guint8 *back = NULL;
      gsize back_len = 0;

      for (gsize i = 0; i < len; i++)
        buf[i] = (guint8) g_test_rand_int ();
      text = st_base64url_encode (buf, len);
      g_assert_cmpuint (strlen (text), ==, (len * 8 + 5) / 6);
      g_assert_null (strpbrk (text, "+/="));
      back = b64d (text, &back_len);
      g_assert_cmpmem (back, back_len, buf, len);
    }
}

static void
test_base64url_reject (void)
{
  static const char * const bad[] = {
    "Zg==",      /* padding */
    "Zg=",
    "Zm9vYg==",
    "Zm9v+A",    /* standard alphabet */
    "Zm9v/A",
    "Zm9 v",     /* whitespace */
    "Zm9v\n",
    "Z",         /* 6 bits: not a byte */
    "Zm9vY",
    "Zh",        /* "f" is "Zg": the low 4 bits of 'h' must be zero */
    "Zm9",       /* "fo" is "Zm8": the low 2 bits of '9' must be zero */
    "Zm9vYmF5",  /* fine... */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad) - 1; i++)
    {
      g_autoptr(GError) error = NULL;
      gsize len = 0;
      g_autofree guint8 *out = st_base64url_decode (bad[i], -1, &len, &error);

      g_test_message ("rejects \"%s\"", bad[i]);
      g_assert_null (out);
      g_assert_error (error, ST_BASE64URL_ERROR, ST_BASE64URL_ERROR_INVALID);
    }

  /* ...while the control case decodes, so the list above is not rejected
   * for some reason shared by every entry. */
  {
    gsize len = 0;
    g_autofree guint8 *out = b64d (bad[G_N_ELEMENTS (bad) - 1], &len);

    g_assert_cmpmem (out, len, "foobay", 6);
  }

  /* An embedded NUL within the given length is a character, and invalid. */
  {
    g_autoptr(GError) error = NULL;
    gsize len = 0;
    g_autofree guint8 *out = st_base64url_decode ("Zm\0v", 4, &len, &error);

    g_assert_null (out);
    g_assert_error (error, ST_BASE64URL_ERROR, ST_BASE64URL_ERROR_INVALID);
  }
}

/* ---- ULID --------------------------------------------------------------- */

static void
test_ulid_format (void)
{
  g_autoptr(StUlidGenerator) gen = st_ulid_generator_new ();
  char id[ST_ULID_LEN + 1];

  /* The ULID spec's example time 1469918176385 encodes as "01ARYZ6S41". */
  st_ulid_generator_next_at (gen, G_GINT64_CONSTANT (1469918176385), id);
  g_assert_cmpuint (strlen (id), ==, ST_ULID_LEN);
  g_assert_true (g_str_has_prefix (id, "01ARYZ6S41"));
  g_assert_true (st_ulid_is_valid (id));
  g_assert_cmpint (st_ulid_get_time_ms (id), ==, G_GINT64_CONSTANT (1469918176385));

  /* The largest time the format holds. */
  st_ulid_generator_next_at (gen, G_GINT64_CONSTANT (0xFFFFFFFFFFFF), id);
  g_assert_true (g_str_has_prefix (id, "7ZZZZZZZZZ"));
  g_assert_cmpint (st_ulid_get_time_ms (id), ==, G_GINT64_CONSTANT (0xFFFFFFFFFFFF));
}

static void
test_ulid_validate (void)
{
  g_assert_true (st_ulid_is_valid ("01ARYZ6S41TSV4RRFFQ69G5FAV"));
  g_assert_true (st_ulid_is_valid ("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
  g_assert_true (st_ulid_is_valid ("00000000000000000000000000"));
  g_assert_false (st_ulid_is_valid (NULL));
  g_assert_false (st_ulid_is_valid (""));
  g_assert_false (st_ulid_is_valid ("01ARYZ6S41TSV4RRFFQ69G5FA"));   /* 25 */
  g_assert_false (st_ulid_is_valid ("01ARYZ6S41TSV4RRFFQ69G5FAVX")); /* 27 */
  g_assert_false (st_ulid_is_valid ("01aryz6s41tsv4rrffq69g5fav"));  /* lower case */
  g_assert_false (st_ulid_is_valid ("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));  /* > 128 bits */
  g_assert_false (st_ulid_is_valid ("01ARYZ6S41TSV4RRFFQ69G5FAI"));  /* I, L, O, U */
  g_assert_false (st_ulid_is_valid ("01ARYZ6S41TSV4RRFFQ69G5FAL"));
  g_assert_false (st_ulid_is_valid ("01ARYZ6S41TSV4RRFFQ69G5FAO"));
  g_assert_false (st_ulid_is_valid ("01ARYZ6S41TSV4RRFFQ69G5FAU"));
  g_assert_false (st_ulid_is_valid ("01ARYZ6S41TSV4RRFFQ69G5FA-"));
  g_assert_cmpint (st_ulid_get_time_ms ("01ARYZ6S41TSV4RRFFQ69G5FAI"), ==, -1);
}

static void
test_ulid_monotonic (void)
{
  g_autoptr(StUlidGenerator) gen = st_ulid_generator_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *prev = NULL;
  gint64 before = g_get_real_time () / 1000;

  /* 100k ids from the real clock: many share a millisecond, so this covers
   * both the fresh-random and the increment paths. */
  for (int i = 0; i < 100000; i++)
    {
      char *id = st_ulid_generator_next (gen);

      g_assert_true (st_ulid_is_valid (id));
      if (prev != NULL)
        g_assert_cmpstr (prev, <, id);
      g_assert_true (g_hash_table_add (seen, id));
      g_free (prev);
      prev = g_strdup (id);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 100000);
  g_assert_cmpint (st_ulid_get_time_ms (prev), >=, before);
  g_assert_cmpint (st_ulid_get_time_ms (prev), <=, g_get_real_time () / 1000);
}

static void
test_ulid_same_ms_and_clock_back (void)
{
  g_autoptr(StUlidGenerator) gen = st_ulid_generator_new ();
  char a[ST_ULID_LEN + 1], b[ST_ULID_LEN + 1];
  gint64 t = G_GINT64_CONSTANT (1700000000000);

  st_ulid_generator_next_at (gen, t, a);
  for (int i = 0; i < 1000; i++)
    {
      st_ulid_generator_next_at (gen, t, b);
      g_assert_cmpstr (a, <, b);
      /* Same millisecond: same time prefix, only the random part grows. */
      g_assert_cmpmem (a, 10, b, 10);
      memcpy (a, b, sizeof a);
    }

  /* A clock stepping back must not make ids go backwards. */
  st_ulid_generator_next_at (gen, t - 5000, b);
  g_assert_cmpstr (a, <, b);
  g_assert_cmpint (st_ulid_get_time_ms (b), ==, t);

  /* Two generators at the same instant still differ: the random part is
   * drawn fresh, not counted from zero. */
  {
    g_autoptr(StUlidGenerator) other = st_ulid_generator_new ();

    st_ulid_generator_next_at (other, t, b);
    g_assert_cmpmem (a, 10, b, 10);
    g_assert_cmpstr (a, !=, b);
  }
}

#define THREAD_IDS 10000

static gpointer
ulid_thread (gpointer data)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);

  for (int i = 0; i < THREAD_IDS; i++)
    g_ptr_array_add (ids, st_ulid_new ());
  return ids;
}

static void
test_ulid_threads (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GThread *threads[4];
  GPtrArray *ids[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("ulid", ulid_thread, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    ids[i] = g_thread_join (threads[i]);

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    for (guint j = 0; j < ids[i]->len; j++)
      {
        /* The shared generator is one sequence: each thread sees it rise. */
        if (j > 0)
          g_assert_cmpstr (ids[i]->pdata[j - 1], <, ids[i]->pdata[j]);
        g_assert_true (g_hash_table_add (seen, ids[i]->pdata[j]));
      }
  g_assert_cmpuint (g_hash_table_size (seen), ==, G_N_ELEMENTS (ids) * THREAD_IDS);
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    g_ptr_array_unref (ids[i]);
}

/* ---- signing keys ------------------------------------------------------- */

static void
test_key_rfc8037 (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StSigningKey) key = NULL;
  g_autoptr(StSigningKey) pub = NULL;
  g_autoptr(JsonObject) jwk = NULL;
  g_autofree guint8 *d = NULL, *x = NULL, *expected = NULL;
  g_autofree char *h = NULL, *p = NULL, *s = NULL;
  const char *input = RFC8037_HEADER64 "." RFC8037_PAYLOAD64;
  guint8 sig[ST_ED25519_SIGNATURE_LEN];
  gsize d_len, x_len, expected_len;

  d = b64d (RFC8037_D, &d_len);
  x = b64d (RFC8037_X, &x_len);
  expected = b64d (RFC8037_SIG64, &expected_len);

  /* A.1/A.2: the private key yields the published public key. */
  key = st_signing_key_new_from_private_raw (d, d_len, &error);
  g_assert_no_error (error);
  g_assert_true (st_signing_key_has_private (key));
  g_assert_cmpmem (st_signing_key_get_public_raw (key), ST_ED25519_KEY_LEN, x, x_len);

  /* A.3: the thumbprint is the kid. */
  g_assert_cmpstr (st_signing_key_get_kid (key), ==, RFC8037_KID);
  s = st_ed25519_jwk_thumbprint (x);
  g_assert_cmpstr (s, ==, RFC8037_KID);
  g_clear_pointer (&s, g_free);

  jwk = st_signing_key_to_jwk (key);
  g_assert_cmpstr (json_object_get_string_member (jwk, "kty"), ==, "OKP");
  g_assert_cmpstr (json_object_get_string_member (jwk, "crv"), ==, "Ed25519");
  g_assert_cmpstr (json_object_get_string_member (jwk, "x"), ==, RFC8037_X);
  g_assert_cmpstr (json_object_get_string_member (jwk, "kid"), ==, RFC8037_KID);
  g_assert_cmpstr (json_object_get_string_member (jwk, "alg"), ==, "EdDSA");
  g_assert_cmpstr (json_object_get_string_member (jwk, "use"), ==, "sig");
  g_assert_cmpuint (json_object_get_size (jwk), ==, 6);

  /* A.4: the JWS parts and the signature, byte for byte (Ed25519 is
   * deterministic). */
  h = b64e_str ("{\"alg\":\"EdDSA\"}");
  p = b64e_str ("Example of Ed25519 signing");
  g_assert_cmpstr (h, ==, RFC8037_HEADER64);
  g_assert_cmpstr (p, ==, RFC8037_PAYLOAD64);
  g_assert_true (st_signing_key_sign (key, (const guint8 *) input, strlen (input), sig, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (sig, sizeof sig, expected, expected_len);
  s = st_base64url_encode (sig, sizeof sig);
  g_assert_cmpstr (s, ==, RFC8037_SIG64);

  /* A.5: the public key alone verifies it. */
  pub = st_signing_key_new_from_public_raw (x, x_len, &error);
  g_assert_no_error (error);
  g_assert_false (st_signing_key_has_private (pub));
  g_assert_cmpstr (st_signing_key_get_kid (pub), ==, RFC8037_KID);
  g_assert_true (st_signing_key_verify (pub, (const guint8 *) input, strlen (input),
                                        expected, expected_len));

  /* The example's payload is text, not a claims object: a credential parser
   * must refuse it even though the signature is good. */
  {
    g_autoptr(StJwt) jwt = st_jwt_parse (RFC8037_HEADER64 "." RFC8037_PAYLOAD64 "." RFC8037_SIG64,
                                         -1, &error);

    g_assert_null (jwt);
    g_assert_error (error, ST_JWT_ERROR, ST_JWT_ERROR_MALFORMED);
    g_clear_error (&error);
  }

  OPENSSL_cleanse (d, d_len);
}

static void
test_key_jwk_import (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(StSigningKey) key = NULL;
  JsonObject *object;

  g_assert_true (json_parser_load_from_data (parser,
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" RFC8037_D "\",\"x\":\"" RFC8037_X "\"}",
    -1, &error));
  object = json_node_get_object (json_parser_get_root (parser));
  key = st_signing_key_new_from_jwk (object, &error);
  g_assert_no_error (error);
  g_assert_true (st_signing_key_has_private (key));
  g_assert_cmpstr (st_signing_key_get_kid (key), ==, RFC8037_KID);
  g_clear_pointer (&key, st_signing_key_unref);

  /* Public only. */
  json_object_remove_member (object, "d");
  key = st_signing_key_new_from_jwk (object, &error);
  g_assert_no_error (error);
  g_assert_false (st_signing_key_has_private (key));
  g_assert_cmpstr (st_signing_key_get_kid (key), ==, RFC8037_KID);
  g_clear_pointer (&key, st_signing_key_unref);

  /* A "d" that does not belong to "x". */
  {
    g_autoptr(StSigningKey) other = new_key ();
    guint8 d[ST_ED25519_KEY_LEN];
    g_autofree char *d64 = NULL;

    g_assert_true (st_signing_key_export_private_raw (other, d, &error));
    d64 = st_base64url_encode (d, sizeof d);
    json_object_set_string_member (object, "d", d64);
    key = st_signing_key_new_from_jwk (object, &error);
    g_assert_null (key);
    g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID);
    g_clear_error (&error);
    json_object_remove_member (object, "d");
  }

  /* Wrong key types and shapes, including a non-string crv, which must not
   * trip json-glib's type criticals. */
  json_object_set_string_member (object, "crv", "X25519");
  g_assert_null (st_signing_key_new_from_jwk (object, &error));
  g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID);
  g_clear_error (&error);
  json_object_set_int_member (object, "crv", 7);
  g_assert_null (st_signing_key_new_from_jwk (object, &error));
  g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID);
  g_clear_error (&error);
  json_object_set_string_member (object, "crv", "Ed25519");
  json_object_set_string_member (object, "x", "AAAA");
  g_assert_null (st_signing_key_new_from_jwk (object, &error));
  g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID);
  g_clear_error (&error);
}

static void
test_key_export_import (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StSigningKey) key = new_key ();
  g_autoptr(StSigningKey) again = NULL;
  g_autoptr(StSigningKey) pub = NULL;
  g_autofree char *pem = NULL, *pub_pem = NULL;
  guint8 raw[ST_ED25519_KEY_LEN], sig[ST_ED25519_SIGNATURE_LEN];
  g_autofree char *jwk_x = NULL;

  g_assert_true (st_signing_key_has_private (key));
  g_assert_cmpuint (strlen (st_signing_key_get_kid (key)), ==, 43);

  /* Raw: what the store keeps. */
  g_assert_true (st_signing_key_export_private_raw (key, raw, &error));
  g_assert_no_error (error);
  again = st_signing_key_new_from_private_raw (raw, sizeof raw, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (st_signing_key_get_kid (again), ==, st_signing_key_get_kid (key));
  g_clear_pointer (&again, st_signing_key_unref);
  g_assert_null (st_signing_key_new_from_private_raw (raw, sizeof raw - 1, &error));
  g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID);
  g_clear_error (&error);
  OPENSSL_cleanse (raw, sizeof raw);

  /* PEM, private and public. */
  pem = st_signing_key_export_private_pem (key, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN PRIVATE KEY-----\n"));
  again = st_signing_key_new_from_pem (pem, -1, &error);
  g_assert_no_error (error);
  g_assert_true (st_signing_key_has_private (again));
  g_assert_cmpstr (st_signing_key_get_kid (again), ==, st_signing_key_get_kid (key));

  pub_pem = st_signing_key_export_public_pem (key, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pub_pem, "-----BEGIN PUBLIC KEY-----\n"));
  pub = st_signing_key_new_from_pem (pub_pem, -1, &error);
  g_assert_no_error (error);
  g_assert_false (st_signing_key_has_private (pub));
  g_assert_cmpstr (st_signing_key_get_kid (pub), ==, st_signing_key_get_kid (key));

  /* A public key verifies what the private one signed, and cannot sign. */
  g_assert_true (st_signing_key_sign (again, (const guint8 *) "hi", 2, sig, &error));
  g_assert_true (st_signing_key_verify (pub, (const guint8 *) "hi", 2, sig, sizeof sig));
  g_assert_false (st_signing_key_sign (pub, (const guint8 *) "hi", 2, sig, &error));
  g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_NO_PRIVATE_KEY);
  g_clear_error (&error);
  g_assert_false (st_signing_key_export_private_raw (pub, raw, &error));
  g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_NO_PRIVATE_KEY);
  g_clear_error (&error);
  g_assert_null (st_signing_key_export_private_pem (pub, &error));
  g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_NO_PRIVATE_KEY);
  g_clear_error (&error);

  /* The JWK's x is the raw public key. */
  {
    g_autoptr(JsonObject) jwk = st_signing_key_to_jwk (key);

    jwk_x = st_base64url_encode (st_signing_key_get_public_raw (key), ST_ED25519_KEY_LEN);
    g_assert_cmpstr (json_object_get_string_member (jwk, "x"), ==, jwk_x);
  }

  /* Not a key, and a key of another algorithm. */
  g_assert_null (st_signing_key_new_from_pem ("-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                              "-----END PRIVATE KEY-----\n", -1, &error));
  g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID);
  g_clear_error (&error);
  {
    g_autoptr(BIO) bio = NULL;
    EVP_PKEY *ec = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    char *data = NULL;
    long len;

    g_assert_nonnull (ec);
    bio = BIO_new (BIO_s_mem ());
    g_assert_true (PEM_write_bio_PrivateKey (bio, ec, NULL, NULL, 0, NULL, NULL));
    len = BIO_get_mem_data (bio, &data);
    g_assert_null (st_signing_key_new_from_pem (data, len, &error));
    g_assert_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID);
    g_clear_error (&error);
    EVP_PKEY_free (ec);
  }
}

static void
test_key_sign_verify (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StSigningKey) key = new_key ();
  g_autoptr(StSigningKey) other = new_key ();
  guint8 data[100], sig[ST_ED25519_SIGNATURE_LEN];

  g_assert_cmpstr (st_signing_key_get_kid (key), !=, st_signing_key_get_kid (other));
  for (gsize i = 0; i < sizeof data; i++)
    data[i] = (guint8) g_test_rand_int ();

  g_assert_true (st_signing_key_sign (key, data, sizeof data, sig, &error));
  g_assert_no_error (error);
  g_assert_true (st_signing_key_verify (key, data, sizeof data, sig, sizeof sig));
  g_assert_false (st_signing_key_verify (other, data, sizeof data, sig, sizeof sig));
  g_assert_false (st_signing_key_verify (key, data, sizeof data - 1, sig, sizeof sig));
  g_assert_false (st_signing_key_verify (key, data, sizeof data, sig, sizeof sig - 1));
  data[50] ^= 1;
  g_assert_false (st_signing_key_verify (key, data, sizeof data, sig, sizeof sig));
  data[50] ^= 1;
  sig[10] ^= 0x80;
  g_assert_false (st_signing_key_verify (key, data, sizeof data, sig, sizeof sig));
  sig[10] ^= 0x80;
  g_assert_true (st_signing_key_verify (key, data, sizeof data, sig, sizeof sig));

  /* Empty messages are messages too. */
  g_assert_true (st_signing_key_sign (key, NULL, 0, sig, &error));
  g_assert_true (st_signing_key_verify (key, NULL, 0, sig, sizeof sig));
}

/* ---- JWT ---------------------------------------------------------------- */

static StJwtClaims *
make_claims (void)
{
  StJwtClaims *claims = st_jwt_claims_new ();

  claims->iat = NOW;
  claims->sub = st_ulid_new ();
  claims->jti = st_ulid_new ();
  return claims;
}

static void
test_jwt_roundtrip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StSigningKey) key = new_key ();
  g_autoptr(StJwtClaims) claims = make_claims ();
  g_autoptr(StJwt) jwt = NULL;
  g_autofree char *token = NULL;
  g_autofree char *header = NULL;
  g_autofree guint8 *header_json = NULL;
  g_auto(GStrv) parts = NULL;
  const StJwtClaims *got;
  const char * const acl[] = { "sensors/#", "cmd/+/set", NULL };
  JsonObject *h;
  gsize len;

  claims->exp = NOW + 3600;
  claims->topic_acl = g_strdupv ((char **) acl);
  claims->extra = json_object_new ();
  json_object_set_string_member (claims->extra, "note", "kept as is");
  json_object_set_int_member (claims->extra, "n", 5);
  /* A typed field's name in extra must not override the field. */
  json_object_set_int_member (claims->extra, "exp", 1);

  token = st_jwt_sign (key, claims, &error);
  g_assert_no_error (error);
  parts = g_strsplit (token, ".", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  g_assert_cmpuint (strlen (parts[2]), ==, 86);

  /* The header, exactly. */
  header_json = b64d (parts[0], &len);
  header = g_strdup_printf ("{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                            st_signing_key_get_kid (key));
  g_assert_cmpstr ((char *) header_json, ==, header);

  jwt = st_jwt_parse (token, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (st_jwt_get_kid (jwt), ==, st_signing_key_get_kid (key));
  h = st_jwt_get_header (jwt);
  g_assert_cmpstr (json_object_get_string_member (h, "typ"), ==, "JWT");
  /* Unverified claims are readable, the typed ones are not (yet). */
  g_assert_cmpstr (json_object_get_string_member (st_jwt_get_unverified_claims (jwt), "sub"),
                   ==, claims->sub);
  g_assert_null (st_jwt_get_claims (jwt));

  g_assert_true (st_jwt_verify (jwt, key, NOW, &error));
  g_assert_no_error (error);
  got = st_jwt_get_claims (jwt);
  g_assert_nonnull (got);
  g_assert_cmpint (got->iat, ==, NOW);
  g_assert_cmpint (got->exp, ==, NOW + 3600);
  g_assert_cmpint (got->nbf, ==, 0);
  g_assert_cmpstr (got->sub, ==, claims->sub);
  g_assert_cmpstr (got->jti, ==, claims->jti);
  g_assert_true (g_strv_equal ((const char * const *) got->topic_acl, acl));
  g_assert_nonnull (got->extra);
  g_assert_cmpuint (json_object_get_size (got->extra), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (got->extra, "note"), ==, "kept as is");
  g_assert_cmpint (json_object_get_int_member (got->extra, "n"), ==, 5);

  /* A second verify with the wrong key withdraws the claims. */
  {
    g_autoptr(StSigningKey) other = new_key ();

    g_assert_false (st_jwt_verify (jwt, other, NOW, &error));
    g_assert_error (error, ST_JWT_ERROR, ST_JWT_ERROR_BAD_SIGNATURE);
    g_assert_null (st_jwt_get_claims (jwt));
  }
}

static void
test_jwt_topic_acl (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StSigningKey) key = new_key ();
  g_autoptr(StJwtClaims) claims = make_claims ();
  const char * const all[] = { "#", NULL };
  const char * const one[] = { "a/b", NULL };

  /* Absent: the default, the whole broker. */
  {
    g_autofree char *token = st_jwt_sign (key, claims, &error);
    g_autoptr(StJwt) jwt = st_jwt_parse (token, -1, &error);

    g_assert_no_error (error);
    g_assert_false (json_object_has_member (st_jwt_get_unverified_claims (jwt), "topicAcl"));
    g_assert_true (st_jwt_verify (jwt, key, NOW, &error));
    g_assert_true (g_strv_equal ((const char * const *) st_jwt_get_claims (jwt)->topic_acl, all));
  }

  /* One filter travels as a plain string. */
  claims->topic_acl = g_strdupv ((char **) one);
  {
    g_autofree char *token = st_jwt_sign (key, claims, &error);
    g_autoptr(StJwt) jwt = st_jwt_parse (token, -1, &error);
    JsonObject *payload;

    g_assert_no_error (error);
    payload = st_jwt_get_unverified_claims (jwt);
    g_assert_cmpstr (json_object_get_string_member (payload, "topicAcl"), ==, "a/b");
    g_assert_true (st_jwt_verify (jwt, key, NOW, &error));
    g_assert_true (g_strv_equal ((const char * const *) st_jwt_get_claims (jwt)->topic_acl, one));
  }

  /* The issuer refuses claims the verifier would refuse. */
  g_strfreev (claims->topic_acl);
  claims->topic_acl = g_new0 (char *, 1);
  g_assert_null (st_jwt_sign (key, claims, &error));
  g_assert_error (error, ST_JWT_ERROR, ST_JWT_ERROR_INVALID_CLAIMS);
  g_clear_error (&error);
  g_clear_pointer (&claims->topic_acl, g_strfreev);
  g_clear_pointer (&claims->sub, g_free);
  g_assert_null (st_jwt_sign (key, claims, &error));
  g_assert_error (error, ST_JWT_ERROR, ST_JWT_ERROR_INVALID_CLAIMS);
}

static void
test_jwt_malformed (void)
{
  g_autoptr(StSigningKey) key = new_key ();
  g_autofree char *header = header_for (key);
  g_autofree char *good = forge (key, header, "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\"}");
  g_auto(GStrv) p = g_strsplit (good, ".", -1);
  g_autofree char *h_array = b64e_str ("[\"alg\",\"EdDSA\"]");
  g_autofree char *h_bad_json = b64e_str ("{\"alg\":\"EdDSA\"");
  g_autofree char *h_not_utf8 = b64e_str ("{\"alg\":\"Ed\xff\"}");
  g_autofree char *h_nul = st_base64url_encode ((const guint8 *) "{\"alg\":\"EdDSA\"}\0", 16);
  g_autofree char *h_empty = b64e_str ("");
  g_autofree char *p_string = b64e_str ("\"claims\"");
  g_autofree char *huge = g_strnfill (ST_JWT_MAX_LEN + 1, 'A');
  const char *cases[] = {
    "",
    ".",
    "..",
    "abc",
    "a.b",
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  };
  guint n = 5;

  cases[n++] = g_strdup_printf ("%s.%s", p[0], p[1]);                        /* 2 parts */
  cases[n++] = g_strdup_printf ("%s.%s.%s.%s", p[0], p[1], p[2], p[2]);     /* 4 parts */
  cases[n++] = g_strdup_printf ("%s=.%s.%s", p[0], p[1], p[2]);             /* padding */
  cases[n++] = g_strdup_printf ("%s.%s.%s!", p[0], p[1], p[2]);             /* bad sig b64 */
  cases[n++] = g_strdup_printf ("%s.%s.%s", h_array, p[1], p[2]);           /* header array */
  cases[n++] = g_strdup_printf ("%s.%s.%s", h_bad_json, p[1], p[2]);        /* bad JSON */
  cases[n++] = g_strdup_printf ("%s.%s.%s", h_not_utf8, p[1], p[2]);        /* not UTF-8 */
  cases[n++] = g_strdup_printf ("%s.%s.%s", h_nul, p[1], p[2]);             /* NUL in JSON */
  cases[n++] = g_strdup_printf ("%s.%s.%s", h_empty, p[1], p[2]);           /* empty header */
  cases[n++] = g_strdup_printf ("%s.%s.%s", p[0], p_string, p[2]);          /* payload string */
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (cases));

  for (guint i = 0; i < n; i++)
    {
      g_test_message ("malformed #%u: %.60s", i, cases[i]);
      assert_verify (cases[i], key, NOW, ST_JWT_ERROR_MALFORMED);
    }
  for (guint i = 5; i < n; i++)
    g_free ((char *) cases[i]);

  assert_verify (huge, key, NOW, ST_JWT_ERROR_MALFORMED);

  /* Deep nesting is refused before json-glib's recursive parser could run
   * out of stack on it; 16 levels pass, brackets inside strings don't count. */
  {
    g_autoptr(GString) deep = g_string_new ("{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"x\":");
    g_autofree char *token = NULL;

    for (int i = 0; i < 20000; i++)
      g_string_append_c (deep, '[');
    for (int i = 0; i < 20000; i++)
      g_string_append_c (deep, ']');
    g_string_append_c (deep, '}');
    token = forge (key, header, deep->str);
    g_assert_cmpuint (strlen (token), <=, ST_JWT_MAX_LEN);
    assert_verify (token, key, NOW, ST_JWT_ERROR_MALFORMED);
  }
  assert_payload (key, "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\","
                  "\"x\":[[[[[[[[[[[[[[[\"]]]]]]]]]]]]]]]]]]]]\"]]]]]]]]]]]]]]]}", -1);
  assert_payload (key, "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\","
                  "\"x\":[[[[[[[[[[[[[[[\"\\\"[\"]]]]]]]]]]]]]]]}", -1);
  assert_payload (key, "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\","
                  "\"x\":[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]}", ST_JWT_ERROR_MALFORMED);
  /* The control: the untouched token is fine. */
  assert_verify (good, key, NOW, -1);
}

static void
test_jwt_alg (void)
{
  g_autoptr(StSigningKey) key = new_key ();
  const char *kid = st_signing_key_get_kid (key);
  const char *payload = "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\"}";
  g_autofree char *p64 = b64e_str (payload);

  /* alg "none" with no signature, the classic bypass. */
  {
    g_autofree char *h = g_strdup_printf ("{\"alg\":\"none\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    g_autofree char *h64 = b64e_str (h);
    g_autofree char *token = g_strconcat (h64, ".", p64, ".", NULL);

    assert_verify (token, key, NOW, ST_JWT_ERROR_UNSUPPORTED_ALG);
  }

  /* HS256 "signed" with the broker's public key as the HMAC secret: a
   * verifier that let alg pick the algorithm would accept it, since the
   * public key is public. */
  {
    g_autofree char *h = g_strdup_printf ("{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    g_autofree char *h64 = b64e_str (h);
    g_autofree char *input = g_strconcat (h64, ".", p64, NULL);
    g_autofree char *mac64 = NULL;
    g_autofree char *token = NULL;
    guint8 mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    g_assert_nonnull (HMAC (EVP_sha256 (), st_signing_key_get_public_raw (key), ST_ED25519_KEY_LEN,
                            (const guint8 *) input, strlen (input), mac, &mac_len));
    g_assert_cmpuint (mac_len, ==, 32);
    mac64 = st_base64url_encode (mac, mac_len);
    token = g_strconcat (input, ".", mac64, NULL);
    assert_verify (token, key, NOW, ST_JWT_ERROR_UNSUPPORTED_ALG);
  }

  /* Whatever alg the header names, a real Ed25519 signature does not make
   * it acceptable: the header is checked, not trusted. */
  {
    static const char * const algs[] = {
      "{\"alg\":\"none\"}",
      "{\"alg\":\"RS256\"}",
      "{\"alg\":\"HS256\"}",
      "{\"alg\":\"ES256\"}",
      "{\"alg\":\"Ed25519\"}",
      "{\"alg\":\"eddsa\"}",
      "{\"alg\":\"EdDSA \"}",
      "{\"typ\":\"JWT\"}",
      "{\"alg\":\"EdDSA\",\"crit\":[\"exp\"],\"exp\":1}",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (algs); i++)
      {
        g_autofree char *token = forge (key, algs[i], payload);

        g_test_message ("header %s", algs[i]);
        assert_verify (token, key, NOW, ST_JWT_ERROR_UNSUPPORTED_ALG);
      }
  }

  /* Types that are not strings are malformed headers. */
  {
    g_autofree char *t1 = forge (key, "{\"alg\":[\"EdDSA\"]}", payload);
    g_autofree char *t2 = forge (key, "{\"alg\":\"EdDSA\",\"kid\":42}", payload);

    assert_verify (t1, key, NOW, ST_JWT_ERROR_MALFORMED);
    assert_verify (t2, key, NOW, ST_JWT_ERROR_MALFORMED);
  }

  /* Control: same payload, a proper header with and without kid. */
  {
    g_autofree char *h = header_for (key);
    g_autofree char *t1 = forge (key, h, payload);
    g_autofree char *t2 = forge (key, "{\"alg\":\"EdDSA\"}", payload);

    assert_verify (t1, key, NOW, -1);
    assert_verify (t2, key, NOW, -1);
  }
}

static void
test_jwt_signature (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StSigningKey) key = new_key ();
  g_autoptr(StSigningKey) other = new_key ();
  g_autoptr(StJwtClaims) claims = make_claims ();
  g_autofree char *token = st_jwt_sign (key, claims, &error);
  g_auto(GStrv) p = g_strsplit (token, ".", -1);

  g_assert_no_error (error);
  assert_verify (token, key, NOW, -1);

  /* A tampered payload: another client id under the same signature. */
  {
    g_autofree char *payload = g_strdup_printf ("{\"iat\":%" G_GINT64_FORMAT ",\"sub\":\"admin\","
                                                "\"jti\":\"%s\"}", NOW, claims->jti);
    g_autofree char *p64 = b64e_str (payload);
    g_autofree char *t = g_strconcat (p[0], ".", p64, ".", p[2], NULL);

    assert_verify (t, key, NOW, ST_JWT_ERROR_BAD_SIGNATURE);
  }

  /* A truncated signature: one character short is not base64url at all;
   * one byte short decodes but cannot be an Ed25519 signature. */
  {
    g_autofree char *t = g_strndup (token, strlen (token) - 1);

    assert_verify (t, key, NOW, ST_JWT_ERROR_MALFORMED);
  }
  {
    gsize len = 0;
    g_autofree guint8 *sig = b64d (p[2], &len);
    g_autofree char *s64 = st_base64url_encode (sig, len - 1);
    g_autofree char *t = g_strconcat (p[0], ".", p[1], ".", s64, NULL);

    g_assert_cmpuint (len, ==, ST_ED25519_SIGNATURE_LEN);
    assert_verify (t, key, NOW, ST_JWT_ERROR_BAD_SIGNATURE);
  }
  {
    g_autofree char *t = g_strconcat (p[0], ".", p[1], ".", NULL);

    assert_verify (t, key, NOW, ST_JWT_ERROR_BAD_SIGNATURE);
  }

  /* Signed by another key: named as such, or passed off under our kid. */
  {
    g_autofree char *t = st_jwt_sign (other, claims, &error);
    g_autofree char *h = header_for (key);
    g_autofree char *payload = g_strdup_printf ("{\"iat\":%" G_GINT64_FORMAT ",\"sub\":\"c\","
                                                "\"jti\":\"j\"}", NOW);
    g_autofree char *forged = forge (other, h, payload);

    g_assert_no_error (error);
    assert_verify (t, key, NOW, ST_JWT_ERROR_BAD_SIGNATURE);
    assert_verify (t, other, NOW, -1);
    assert_verify (forged, key, NOW, ST_JWT_ERROR_BAD_SIGNATURE);
  }
}

static void
test_jwt_times (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StSigningKey) key = new_key ();
  g_autoptr(StJwtClaims) claims = make_claims ();

  /* exp: valid up to the second before, expired at exp itself. */
  claims->exp = NOW + 10;
  {
    g_autofree char *token = st_jwt_sign (key, claims, &error);

    g_assert_no_error (error);
    assert_verify (token, key, NOW, -1);
    assert_verify (token, key, NOW + 9, -1);
    assert_verify (token, key, NOW + 10, ST_JWT_ERROR_EXPIRED);
    assert_verify (token, key, NOW + 1000000, ST_JWT_ERROR_EXPIRED);
  }

  /* No exp: never expires. */
  claims->exp = 0;
  {
    g_autofree char *token = st_jwt_sign (key, claims, &error);

    assert_verify (token, key, NOW + G_GINT64_CONSTANT (100) * 365 * 86400, -1);
  }

  /* nbf: not before it, fine from it on. */
  claims->nbf = NOW + 100;
  {
    g_autofree char *token = st_jwt_sign (key, claims, &error);

    assert_verify (token, key, NOW, ST_JWT_ERROR_NOT_YET_VALID);
    assert_verify (token, key, NOW + 99, ST_JWT_ERROR_NOT_YET_VALID);
    assert_verify (token, key, NOW + 100, -1);
  }
  claims->nbf = 0;

  /* iat in the future: tolerated within the skew, refused beyond it. */
  claims->iat = NOW + ST_JWT_IAT_SKEW;
  {
    g_autofree char *token = st_jwt_sign (key, claims, &error);

    assert_verify (token, key, NOW, -1);
    assert_verify (token, key, NOW - 1, ST_JWT_ERROR_NOT_YET_VALID);
  }
}

static void
test_jwt_claims_invalid (void)
{
  g_autoptr(StSigningKey) key = new_key ();
  static const char * const bad[] = {
    "{\"sub\":\"c\",\"jti\":\"j\"}",                                  /* no iat */
    "{\"iat\":\"1700000000\",\"sub\":\"c\",\"jti\":\"j\"}",           /* iat string */
    "{\"iat\":-1,\"sub\":\"c\",\"jti\":\"j\"}",
    "{\"iat\":null,\"sub\":\"c\",\"jti\":\"j\"}",
    "{\"iat\":1700000000,\"jti\":\"j\"}",                             /* no sub */
    "{\"iat\":1700000000,\"sub\":\"\",\"jti\":\"j\"}",
    "{\"iat\":1700000000,\"sub\":42,\"jti\":\"j\"}",
    "{\"iat\":1700000000,\"sub\":[\"c\"],\"jti\":\"j\"}",
    "{\"iat\":1700000000,\"sub\":\"c\"}",                             /* no jti */
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":true}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"exp\":0}",    /* 0 is not "never" */
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"exp\":-5}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"exp\":\"soon\"}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"nbf\":{}}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":7}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":[]}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":[\"a\",1]}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":\"\"}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":\"a/#/b\"}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":\"a#\"}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":[\"ok/+\",\"a+/b\"]}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":null}",
  };
  static const char * const good[] = {
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\"}",
    "{\"iat\":1700000000.5,\"sub\":\"c\",\"jti\":\"j\",\"exp\":1700000100}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":\"+/+/#\"}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"topicAcl\":[\"#\",\"+\",\"a//b\"]}",
    "{\"iat\":1700000000,\"sub\":\"c\",\"jti\":\"j\",\"nbf\":0,\"other\":{\"x\":[1]}}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("claims %s", bad[i]);
      assert_payload (key, bad[i], ST_JWT_ERROR_INVALID_CLAIMS);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_test_message ("claims %s", good[i]);
      assert_payload (key, good[i], -1);
    }
}

/* ---- interoperability --------------------------------------------------- */

static gboolean
run (const char * const *argv,
     char              **out)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               out, &err, &status, &error));
  g_assert_no_error (error);
  if (err != NULL && err[0] != '\0')
    g_test_message ("%s: %s", argv[0], err);
  return g_spawn_check_wait_status (status, NULL);
}

static gboolean
have_python_cryptography (void)
{
  const char * const argv[] = { "python3", "-c", "import cryptography", NULL };
  g_autofree char *python = g_find_program_in_path ("python3");
  g_autofree char *out = NULL;

  return python != NULL && run (argv, &out);
}

/* Checks one of our tokens with pyca/cryptography (OpenSSL underneath, but
 * independent JOSE handling): header, RFC 7638 kid and the signature. */
static const char verify_py[] =
  "import sys, json, base64, hashlib\n"
  "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey\n"
  "def d(s): return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))\n"
  "token, jwk = sys.argv[1], json.loads(sys.argv[2])\n"
  "h, p, s = token.split('.')\n"
  "header = json.loads(d(h))\n"
  "if header != {'alg': 'EdDSA', 'kid': jwk['kid'], 'typ': 'JWT'}: sys.exit('header %r' % header)\n"
  "canon = json.dumps({k: jwk[k] for k in ('crv', 'kty', 'x')}, sort_keys=True, separators=(',', ':'))\n"
  "kid = base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b'=').decode()\n"
  "if kid != jwk['kid']: sys.exit('kid %s' % kid)\n"
  "Ed25519PublicKey.from_public_bytes(d(jwk['x'])).verify(d(s), (h + '.' + p).encode())\n"
  "print(json.loads(d(p))['sub'])\n";

/* Makes a key and a token in Python for us to verify. */
static const char sign_py[] =
  "import sys, json, base64, hashlib\n"
  "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n"
  "from cryptography.hazmat.primitives import serialization as ser\n"
  "def e(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()\n"
  "k = Ed25519PrivateKey.generate()\n"
  "x = e(k.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw))\n"
  "kid = e(hashlib.sha256(('{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}' % x).encode()).digest())\n"
  "h = e(json.dumps({'alg': 'EdDSA', 'kid': kid}).encode())\n"
  "p = e(json.dumps({'iat': int(sys.argv[1]), 'sub': 'py-client', 'jti': 'py-1',\n"
  "                  'topicAcl': ['py/#']}).encode())\n"
  "print(x)\n"
  "print(h + '.' + p + '.' + e(k.sign((h + '.' + p).encode())))\n";

static void
test_interop_python (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StSigningKey) key = NULL;
  g_autoptr(StJwtClaims) claims = NULL;
  g_autoptr(JsonObject) jwk = NULL;
  g_autoptr(JsonGenerator) gen = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *token = NULL, *jwk_json = NULL, *out = NULL, *now = NULL;

  if (!have_python_cryptography ())
    {
      g_test_skip ("python3 with the cryptography package is not installed");
      return;
    }

  /* Ours, checked there. */
  key = new_key ();
  claims = make_claims ();
  token = st_jwt_sign (key, claims, &error);
  g_assert_no_error (error);
  jwk = st_signing_key_to_jwk (key);
  gen = json_generator_new ();
  root = json_node_init_object (json_node_alloc (), jwk);
  json_generator_set_root (gen, root);
  jwk_json = json_generator_to_data (gen, NULL);
  {
    const char * const argv[] = { "python3", "-c", verify_py, token, jwk_json, NULL };

    g_assert_true (run (argv, &out));
    g_assert_cmpstr (g_strchomp (out), ==, claims->sub);
    g_clear_pointer (&out, g_free);
  }
  /* The same check must fail on a tampered token, or it proves nothing. */
  {
    g_autofree char *bad = g_strdup (token);
    char *c = strrchr (bad, '.') + 3;
    const char * const argv[] = { "python3", "-c", verify_py, bad, jwk_json, NULL };

    *c = *c == 'A' ? 'B' : 'A';
    g_assert_false (run (argv, &out));
    g_clear_pointer (&out, g_free);
  }

  /* Theirs, checked here. */
  now = g_strdup_printf ("%" G_GINT64_FORMAT, NOW);
  {
    const char * const argv[] = { "python3", "-c", sign_py, now, NULL };
    g_auto(GStrv) lines = NULL;
    g_autoptr(StSigningKey) pub = NULL;
    g_autoptr(StJwt) jwt = NULL;
    g_autofree guint8 *x = NULL;
    const char * const acl[] = { "py/#", NULL };
    gsize len = 0;

    g_assert_true (run (argv, &out));
    lines = g_strsplit (out, "\n", -1);
    g_assert_cmpuint (g_strv_length (lines), >=, 2);
    x = b64d (lines[0], &len);
    pub = st_signing_key_new_from_public_raw (x, len, &error);
    g_assert_no_error (error);
    jwt = st_jwt_parse (lines[1], -1, &error);
    g_assert_no_error (error);
    /* Python's thumbprint and ours agree. */
    g_assert_cmpstr (st_jwt_get_kid (jwt), ==, st_signing_key_get_kid (pub));
    g_assert_true (st_jwt_verify (jwt, pub, NOW, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (st_jwt_get_claims (jwt)->sub, ==, "py-client");
    g_assert_true (g_strv_equal ((const char * const *) st_jwt_get_claims (jwt)->topic_acl, acl));
  }
}

/* The openssl command line verifies our raw Ed25519 signature from our
 * public key PEM: the format other tools will read our keys in. */
static void
test_interop_openssl_cli (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StSigningKey) key = new_key ();
  g_autoptr(StJwtClaims) claims = make_claims ();
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autofree char *dir = NULL, *token = NULL, *pem = NULL, *out = NULL;
  g_autofree char *pem_path = NULL, *data_path = NULL, *sig_path = NULL;
  g_autofree guint8 *sig = NULL;
  char *dot;
  gsize sig_len = 0;

  if (openssl == NULL)
    {
      g_test_skip ("openssl is not installed");
      return;
    }

  dir = g_dir_make_tmp ("test-auth-XXXXXX", &error);
  g_assert_no_error (error);
  pem_path = g_build_filename (dir, "pub.pem", NULL);
  data_path = g_build_filename (dir, "input", NULL);
  sig_path = g_build_filename (dir, "sig", NULL);

  token = st_jwt_sign (key, claims, &error);
  g_assert_no_error (error);
  pem = st_signing_key_export_public_pem (key, &error);
  g_assert_no_error (error);
  dot = strrchr (token, '.');
  sig = b64d (dot + 1, &sig_len);
  g_assert_true (g_file_set_contents (pem_path, pem, -1, &error));
  g_assert_true (g_file_set_contents (data_path, token, dot - token, &error));
  g_assert_true (g_file_set_contents (sig_path, (char *) sig, sig_len, &error));
  g_assert_no_error (error);

  {
    const char * const argv[] = { openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pem_path,
                                  "-rawin", "-in", data_path, "-sigfile", sig_path, NULL };

    g_assert_true (run (argv, &out));
    g_assert_nonnull (strstr (out, "Signature Verified Successfully"));
    g_clear_pointer (&out, g_free);

    /* And it notices a bad one, so the pass above means something. */
    sig[0] ^= 1;
    g_assert_true (g_file_set_contents (sig_path, (char *) sig, sig_len, &error));
    g_assert_false (run (argv, &out));
  }

  g_unlink (pem_path);
  g_unlink (data_path);
  g_unlink (sig_path);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/auth/base64url/vectors", test_base64url_vectors);
  g_test_add_func ("/auth/base64url/roundtrip", test_base64url_roundtrip);
  g_test_add_func ("/auth/base64url/reject", test_base64url_reject);
  g_test_add_func ("/auth/ulid/format", test_ulid_format);
  g_test_add_func ("/auth/ulid/validate", test_ulid_validate);
  g_test_add_func ("/auth/ulid/monotonic-100k", test_ulid_monotonic);
  g_test_add_func ("/auth/ulid/same-ms-and-clock-back", test_ulid_same_ms_and_clock_back);
  g_test_add_func ("/auth/ulid/threads", test_ulid_threads);
  g_test_add_func ("/auth/key/rfc8037", test_key_rfc8037);
  g_test_add_func ("/auth/key/jwk-import", test_key_jwk_import);
  g_test_add_func ("/auth/key/export-import", test_key_export_import);
  g_test_add_func ("/auth/key/sign-verify", test_key_sign_verify);
  g_test_add_func ("/auth/jwt/roundtrip", test_jwt_roundtrip);
  g_test_add_func ("/auth/jwt/topic-acl", test_jwt_topic_acl);
  g_test_add_func ("/auth/jwt/reject/malformed", test_jwt_malformed);
  g_test_add_func ("/auth/jwt/reject/alg", test_jwt_alg);
  g_test_add_func ("/auth/jwt/reject/signature", test_jwt_signature);
  g_test_add_func ("/auth/jwt/reject/times", test_jwt_times);
  g_test_add_func ("/auth/jwt/reject/claims", test_jwt_claims_invalid);
  g_test_add_func ("/auth/interop/python-cryptography", test_interop_python);
  g_test_add_func ("/auth/interop/openssl-cli", test_interop_openssl_cli);

  return g_test_run ();
}
