#define G_LOG_DOMAIN "starling-auth"

#include "st-signing-key.h"
#include "st-base64url.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

struct _StSigningKey {
  EVP_PKEY *pkey;
  gboolean  has_private;
  guint8    public_raw[ST_ED25519_KEY_LEN];
  char     *x;    /* base64url of public_raw, the JWK "x" */
  char     *kid;
};

G_DEFINE_QUARK (st-signing-key-error-quark, st_signing_key_error)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free_all)

/* Turns OpenSSL's thread-local error queue into a GError and empties it, so
 * a stale entry cannot surface later in unrelated TLS code on this thread. */
static void
set_openssl_error (GError     **error,
                   const char  *what)
{
  unsigned long e = ERR_get_error ();
  char buf[256] = "unknown error";

  if (e != 0)
    ERR_error_string_n (e, buf, sizeof buf);
  ERR_clear_error ();
  g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_FAILED,
               "%s: %s", what, buf);
}

char *
st_ed25519_jwk_thumbprint (const guint8 public_raw[ST_ED25519_KEY_LEN])
{
  g_autofree char *x = st_base64url_encode (public_raw, ST_ED25519_KEY_LEN);
  g_autofree char *canonical = NULL;
  guint8 digest[32];
  unsigned int digest_len = 0;

  /* RFC 7638 §3.2: only the required members, in lexicographic order, no
   * whitespace. The values are base64url and fixed names, so nothing needs
   * JSON escaping and plain formatting is exact. */
  canonical = g_strdup_printf ("{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
  if (!EVP_Digest (canonical, strlen (canonical), digest, &digest_len, EVP_sha256 (), NULL))
    g_error ("SHA-256 is unavailable");
  return st_base64url_encode (digest, digest_len);
}

static void
key_clear (gpointer data)
{
  StSigningKey *key = data;

  EVP_PKEY_free (key->pkey);
  g_free (key->x);
  g_free (key->kid);
}

/* Takes ownership of @pkey. */
static StSigningKey *
key_new (EVP_PKEY  *pkey,
         GError   **error)
{
  StSigningKey *key;
  size_t len = ST_ED25519_KEY_LEN;
  guint8 raw[ST_ED25519_KEY_LEN];

  /* PEM input may hold any algorithm; only Ed25519 is a signing key here. */
  if (!EVP_PKEY_is_a (pkey, "ED25519"))
    {
      EVP_PKEY_free (pkey);
      g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID,
                   "not an Ed25519 key");
      return NULL;
    }
  if (!EVP_PKEY_get_raw_public_key (pkey, raw, &len) || len != ST_ED25519_KEY_LEN)
    {
      EVP_PKEY_free (pkey);
      set_openssl_error (error, "reading the public key");
      return NULL;
    }

  key = g_atomic_rc_box_new0 (StSigningKey);
  key->pkey = pkey;
  memcpy (key->public_raw, raw, sizeof raw);
  key->x = st_base64url_encode (raw, sizeof raw);
  key->kid = st_ed25519_jwk_thumbprint (raw);

  /* A public-only EVP_PKEY has no raw private key to fetch; asking is the
   * portable way to tell the two apart. */
  len = sizeof raw;
  key->has_private = EVP_PKEY_get_raw_private_key (pkey, raw, &len) == 1;
  OPENSSL_cleanse (raw, sizeof raw);
  ERR_clear_error ();
  return key;
}

StSigningKey *
st_signing_key_generate (GError **error)
{
  EVP_PKEY *pkey;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* OpenSSL draws the seed from its CSPRNG (seeded from the kernel). */
  pkey = EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
  if (pkey == NULL)
    {
      set_openssl_error (error, "generating an Ed25519 key");
      return NULL;
    }
  return key_new (pkey, error);
}

/* Raw keys are 32 bytes whichever half they are; only the loader differs. */
static StSigningKey *
new_from_raw (const guint8 *raw, gsize len, gboolean private, GError **error)
{
  EVP_PKEY *pkey;
  const char *which = private ? "private" : "public";

  if (len != ST_ED25519_KEY_LEN)
    {
      g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID,
                   "an Ed25519 %s key is %d bytes, not %" G_GSIZE_FORMAT,
                   which, ST_ED25519_KEY_LEN, len);
      return NULL;
    }
  pkey = private ? EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, raw, len)
                 : EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, raw, len);
  if (pkey == NULL)
    {
      g_autofree char *what = g_strdup_printf ("loading the %s key", which);
      set_openssl_error (error, what);
      return NULL;
    }
  return key_new (pkey, error);
}

StSigningKey *
st_signing_key_new_from_private_raw (const guint8  *raw,
                                     gsize          len,
                                     GError       **error)
{
  g_return_val_if_fail (raw != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return new_from_raw (raw, len, TRUE, error);
}

StSigningKey *
st_signing_key_new_from_public_raw (const guint8  *raw,
                                    gsize          len,
                                    GError       **error)
{
  g_return_val_if_fail (raw != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return new_from_raw (raw, len, FALSE, error);
}

/* Without a callback OpenSSL would prompt for a passphrase on the terminal;
 * a daemon must fail instead. */
static int
no_passphrase (char *buf, int size, int rwflag, void *user_data)
{
  return -1;
}

StSigningKey *
st_signing_key_new_from_pem (const char  *pem,
                             gssize       len,
                             GError     **error)
{
  g_autoptr(BIO) bio = NULL;
  EVP_PKEY *pkey;

  g_return_val_if_fail (pem != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len < 0)
    len = strlen (pem);
  if (len > G_MAXINT)
    {
      g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID,
                   "PEM input too large");
      return NULL;
    }

  bio = BIO_new_mem_buf (pem, (int) len);
  pkey = PEM_read_bio_PrivateKey (bio, NULL, no_passphrase, NULL);
  if (pkey == NULL)
    {
      ERR_clear_error ();
      g_clear_pointer (&bio, BIO_free_all);
      bio = BIO_new_mem_buf (pem, (int) len);
      pkey = PEM_read_bio_PUBKEY (bio, NULL, no_passphrase, NULL);
    }
  if (pkey == NULL)
    {
      ERR_clear_error ();
      g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID,
                   "no unencrypted PEM private or public key found");
      return NULL;
    }
  return key_new (pkey, error);
}

/* The string value of member @name, or NULL if absent or not a string.
 * json-glib's own getters emit criticals on a wrong type, and key material
 * may come from outside. */
static const char *
get_string (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* Decodes member @name of @jwk into exactly ST_ED25519_KEY_LEN bytes. */
static gboolean
jwk_bytes (JsonObject  *jwk,
           const char  *name,
           guint8       out[ST_ED25519_KEY_LEN],
           GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree guint8 *raw = NULL;
  const char *text = get_string (jwk, name);
  gsize len = 0;

  if (text == NULL)
    {
      g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID,
                   "JWK member \"%s\" is missing or not a string", name);
      return FALSE;
    }
  raw = st_base64url_decode (text, -1, &len, &local);
  if (raw == NULL || len != ST_ED25519_KEY_LEN)
    {
      g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID,
                   "JWK member \"%s\" is not %d base64url-encoded bytes",
                   name, ST_ED25519_KEY_LEN);
      if (raw != NULL)
        OPENSSL_cleanse (raw, len);
      return FALSE;
    }
  memcpy (out, raw, len);
  OPENSSL_cleanse (raw, len);
  return TRUE;
}

StSigningKey *
st_signing_key_new_from_jwk (JsonObject  *jwk,
                             GError     **error)
{
  g_autoptr(StSigningKey) key = NULL;
  guint8 x[ST_ED25519_KEY_LEN], d[ST_ED25519_KEY_LEN];

  g_return_val_if_fail (jwk != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_strcmp0 (get_string (jwk, "kty"), "OKP") != 0 ||
      g_strcmp0 (get_string (jwk, "crv"), "Ed25519") != 0)
    {
      g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID,
                   "JWK is not {\"kty\":\"OKP\",\"crv\":\"Ed25519\"}");
      return NULL;
    }
  if (!jwk_bytes (jwk, "x", x, error))
    return NULL;
  if (!json_object_has_member (jwk, "d"))
    return st_signing_key_new_from_public_raw (x, sizeof x, error);

  if (!jwk_bytes (jwk, "d", d, error))
    return NULL;
  key = st_signing_key_new_from_private_raw (d, sizeof d, error);
  OPENSSL_cleanse (d, sizeof d);
  if (key == NULL)
    return NULL;
  /* "x" is redundant with "d"; a JWK where they disagree is corrupt, and
   * trusting either half would publish a key that does not verify. */
  if (memcmp (key->public_raw, x, sizeof x) != 0)
    {
      g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_INVALID,
                   "JWK \"x\" does not match its \"d\"");
      return NULL;
    }
  return g_steal_pointer (&key);
}

StSigningKey *
st_signing_key_ref (StSigningKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return g_atomic_rc_box_acquire (key);
}

void
st_signing_key_unref (StSigningKey *key)
{
  if (key != NULL)
    g_atomic_rc_box_release_full (key, key_clear);
}

gboolean
st_signing_key_has_private (StSigningKey *key)
{
  g_return_val_if_fail (key != NULL, FALSE);
  return key->has_private;
}

const char *
st_signing_key_get_kid (StSigningKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return key->kid;
}

const guint8 *
st_signing_key_get_public_raw (StSigningKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return key->public_raw;
}

static gboolean
check_private (StSigningKey  *key,
               GError       **error)
{
  if (key->has_private)
    return TRUE;
  g_set_error (error, ST_SIGNING_KEY_ERROR, ST_SIGNING_KEY_ERROR_NO_PRIVATE_KEY,
               "key %s has no private part", key->kid);
  return FALSE;
}

gboolean
st_signing_key_export_private_raw (StSigningKey  *key,
                                   guint8         out[ST_ED25519_KEY_LEN],
                                   GError       **error)
{
  size_t len = ST_ED25519_KEY_LEN;

  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_private (key, error))
    return FALSE;
  if (!EVP_PKEY_get_raw_private_key (key->pkey, out, &len) || len != ST_ED25519_KEY_LEN)
    {
      OPENSSL_cleanse (out, ST_ED25519_KEY_LEN);
      set_openssl_error (error, "exporting the private key");
      return FALSE;
    }
  return TRUE;
}

/* Copies a memory BIO's contents into a GLib string; with @wipe, clears
 * the BIO's buffer too, because it held a private key. */
static char *
bio_to_string (BIO      *bio,
               gboolean  wipe)
{
  char *data = NULL;
  long len = BIO_get_mem_data (bio, &data);
  char *copy = g_strndup (data, len);

  if (wipe)
    OPENSSL_cleanse (data, len);
  return copy;
}

char *
st_signing_key_export_private_pem (StSigningKey  *key,
                                   GError       **error)
{
  g_autoptr(BIO) bio = NULL;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_private (key, error))
    return NULL;
  bio = BIO_new (BIO_s_mem ());
  if (!PEM_write_bio_PrivateKey (bio, key->pkey, NULL, NULL, 0, NULL, NULL))
    {
      set_openssl_error (error, "writing the private key PEM");
      return NULL;
    }
  return bio_to_string (bio, TRUE);
}

char *
st_signing_key_export_public_pem (StSigningKey  *key,
                                  GError       **error)
{
  g_autoptr(BIO) bio = NULL;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  bio = BIO_new (BIO_s_mem ());
  if (!PEM_write_bio_PUBKEY (bio, key->pkey))
    {
      set_openssl_error (error, "writing the public key PEM");
      return NULL;
    }
  return bio_to_string (bio, FALSE);
}

JsonObject *
st_signing_key_to_jwk (StSigningKey *key)
{
  JsonObject *jwk;

  g_return_val_if_fail (key != NULL, NULL);

  jwk = json_object_new ();
  json_object_set_string_member (jwk, "kty", "OKP");
  json_object_set_string_member (jwk, "crv", "Ed25519");
  json_object_set_string_member (jwk, "x", key->x);
  json_object_set_string_member (jwk, "kid", key->kid);
  json_object_set_string_member (jwk, "alg", "EdDSA");
  json_object_set_string_member (jwk, "use", "sig");
  return jwk;
}

gboolean
st_signing_key_sign (StSigningKey  *key,
                     const guint8  *data,
                     gsize          len,
                     guint8         sig[ST_ED25519_SIGNATURE_LEN],
                     GError       **error)
{
  EVP_MD_CTX *ctx;
  size_t sig_len = ST_ED25519_SIGNATURE_LEN;
  gboolean ok;

  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (sig != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_private (key, error))
    return FALSE;

  /* Ed25519 is "pure": no digest is named, the whole message is signed in
   * one call (EVP_DigestSign, not Update/Final). A fresh context per call
   * keeps the shared key usable from several threads. */
  ctx = EVP_MD_CTX_new ();
  ok = ctx != NULL &&
       EVP_DigestSignInit (ctx, NULL, NULL, NULL, key->pkey) == 1 &&
       EVP_DigestSign (ctx, sig, &sig_len, data, len) == 1 &&
       sig_len == ST_ED25519_SIGNATURE_LEN;
  EVP_MD_CTX_free (ctx);
  if (!ok)
    set_openssl_error (error, "signing");
  return ok;
}

gboolean
st_signing_key_verify (StSigningKey *key,
                       const guint8 *data,
                       gsize         len,
                       const guint8 *sig,
                       gsize         sig_len)
{
  EVP_MD_CTX *ctx;
  gboolean ok;

  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (sig != NULL || sig_len == 0, FALSE);

  if (sig_len != ST_ED25519_SIGNATURE_LEN)
    return FALSE;

  ctx = EVP_MD_CTX_new ();
  ok = ctx != NULL &&
       EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, key->pkey) == 1 &&
       EVP_DigestVerify (ctx, sig, sig_len, data, len) == 1;
  EVP_MD_CTX_free (ctx);
  /* A failed verification leaves an entry in the queue; it is not an error
   * anyone will read, and must not be mistaken for one later. */
  ERR_clear_error ();
  return ok;
}
