/* st-signing-key.h — a broker's Ed25519 signing key (RFC 8032 / RFC 8037).
 *
 * Keys are immutable and reference-counted once made, so one key can verify
 * CONNECT tokens on every I/O thread at once while the control API signs new
 * credentials with it. Identified by its `kid`, the RFC 7638 JWK thumbprint:
 * it is derived from the public key alone, so every broker, client or
 * verifier that sees the key computes the same id without any registry. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define ST_ED25519_KEY_LEN       32
#define ST_ED25519_SIGNATURE_LEN 64

#define ST_SIGNING_KEY_ERROR (st_signing_key_error_quark ())

typedef enum {
  ST_SIGNING_KEY_ERROR_INVALID,        /* input is not an Ed25519 key */
  ST_SIGNING_KEY_ERROR_NO_PRIVATE_KEY, /* a public key cannot sign or export d */
  ST_SIGNING_KEY_ERROR_FAILED,         /* OpenSSL refused (message says why) */
} StSigningKeyError;

typedef struct _StSigningKey StSigningKey;

GQuark         st_signing_key_error_quark (void);

StSigningKey  *st_signing_key_generate              (GError      **error);
/* The 32-byte private key (RFC 8032's seed, JWK "d"): what we store. */
StSigningKey  *st_signing_key_new_from_private_raw  (const guint8 *raw,
                                                     gsize         len,
                                                     GError      **error);
StSigningKey  *st_signing_key_new_from_public_raw   (const guint8 *raw,
                                                     gsize         len,
                                                     GError      **error);
/* PKCS#8 "PRIVATE KEY" or SubjectPublicKeyInfo "PUBLIC KEY" PEM, as openssl
 * writes them; encrypted keys are refused rather than prompting on a tty. */
StSigningKey  *st_signing_key_new_from_pem          (const char   *pem,
                                                     gssize        len,
                                                     GError      **error);
/* An OKP/Ed25519 JWK with "x" and, optionally, "d". Any "kid" in it is
 * ignored: ours is always recomputed from "x". */
StSigningKey  *st_signing_key_new_from_jwk          (JsonObject   *jwk,
                                                     GError      **error);

StSigningKey  *st_signing_key_ref   (StSigningKey *key);
void           st_signing_key_unref (StSigningKey *key);

gboolean       st_signing_key_has_private   (StSigningKey *key);
/* RFC 7638 thumbprint, base64url SHA-256; valid as long as @key. */
const char    *st_signing_key_get_kid       (StSigningKey *key);
const guint8  *st_signing_key_get_public_raw (StSigningKey *key);

/* Copies the private key into @out; wipe it (OPENSSL_cleanse or
 * memset_explicit) when done. */
gboolean       st_signing_key_export_private_raw (StSigningKey *key,
                                                  guint8        out[ST_ED25519_KEY_LEN],
                                                  GError      **error);
char          *st_signing_key_export_private_pem (StSigningKey *key,
                                                  GError      **error);
char          *st_signing_key_export_public_pem  (StSigningKey *key,
                                                  GError      **error);

/* The public JWK: {"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"alg":"EdDSA",
 * "use":"sig"}, as listed by the control API's publickeys. New reference. */
JsonObject    *st_signing_key_to_jwk        (StSigningKey *key);

gboolean       st_signing_key_sign          (StSigningKey *key,
                                             const guint8 *data,
                                             gsize         len,
                                             guint8        sig[ST_ED25519_SIGNATURE_LEN],
                                             GError      **error);
/* TRUE only for a valid signature of exactly ST_ED25519_SIGNATURE_LEN bytes.
 * A bad signature is an answer, not an error, hence no GError. */
gboolean       st_signing_key_verify        (StSigningKey *key,
                                             const guint8 *data,
                                             gsize         len,
                                             const guint8 *sig,
                                             gsize         sig_len);

/* The thumbprint of a raw Ed25519 public key, for callers that hold only a
 * JWK's "x" (e.g. to match a token's kid before building a key). */
char          *st_ed25519_jwk_thumbprint    (const guint8 public_raw[ST_ED25519_KEY_LEN]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StSigningKey, st_signing_key_unref)

G_END_DECLS
