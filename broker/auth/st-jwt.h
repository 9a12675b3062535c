/* st-jwt.h — the broker's credentials: compact JWS tokens (RFC 7515/7519)
 * signed with EdDSA/Ed25519 (RFC 8037).
 *
 * Verification never lets the token choose how it is checked: the only
 * accepted "alg" is "EdDSA", and the key is the caller's StSigningKey (picked
 * by the header's "kid", which st_jwt_parse exposes for routing). This closes
 * the classic holes: alg "none", and HS256 tokens "signed" with a public key
 * used as an HMAC secret. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "st-signing-key.h"

G_BEGIN_DECLS

/* MQTT's password field holds at most 65535 bytes; anything longer cannot
 * be a credential and is refused before any parsing work. */
#define ST_JWT_MAX_LEN 65535

/* How far "iat" may lie in the future, for clocks that disagree a little. */
#define ST_JWT_IAT_SKEW 60

#define ST_JWT_ERROR (st_jwt_error_quark ())

/* The broker maps these to CONNACK codes (DESIGN.md, Authentication):
 * MALFORMED, UNSUPPORTED_ALG, BAD_SIGNATURE, INVALID_CLAIMS -> 0x86;
 * EXPIRED, NOT_YET_VALID -> 0x87. */
typedef enum {
  ST_JWT_ERROR_MALFORMED,        /* not 3 parts, bad base64url/JSON, not objects */
  ST_JWT_ERROR_UNSUPPORTED_ALG,  /* alg other than EdDSA, or a "crit" header */
  ST_JWT_ERROR_BAD_SIGNATURE,    /* wrong key (kid) or signature does not verify */
  ST_JWT_ERROR_EXPIRED,          /* exp <= now */
  ST_JWT_ERROR_NOT_YET_VALID,    /* nbf > now, or iat > now + ST_JWT_IAT_SKEW */
  ST_JWT_ERROR_INVALID_CLAIMS,   /* a required claim missing or of the wrong shape */
} StJwtError;

/* The claims the broker acts on. Times are Unix seconds. */
typedef struct {
  gint64      iat;        /* required */
  gint64      exp;        /* 0 = no expiry */
  gint64      nbf;        /* 0 = none */
  char       *sub;        /* client id, required, non-empty */
  char       *jti;        /* token id (for revocation), required, non-empty */
  char      **topic_acl;  /* MQTT topic filters; NULL when signing = default;
                           * after parsing never NULL ({"#"} when absent) */
  JsonObject *extra;      /* any other members, kept as they were; may be NULL */
} StJwtClaims;

GQuark       st_jwt_error_quark      (void);

StJwtClaims *st_jwt_claims_new       (void);
void         st_jwt_claims_free      (StJwtClaims *claims);
/* Validates the claims object's shape (not its times) into a struct. */
StJwtClaims *st_jwt_claims_from_json (JsonObject  *object,
                                      GError     **error);
/* A new object: the fields above, then the extra members. */
JsonObject  *st_jwt_claims_to_json   (const StJwtClaims *claims);

/* header.payload.signature, header {"alg":"EdDSA","kid":…,"typ":"JWT"}.
 * Fails with ST_JWT_ERROR_INVALID_CLAIMS for claims that st_jwt_verify would
 * refuse, so the broker never hands out a token it will not accept. */
char        *st_jwt_sign             (StSigningKey       *key,
                                      const StJwtClaims  *claims,
                                      GError            **error);

/* A token split and decoded, but not trusted. */
typedef struct _StJwt StJwt;

/* Fails only with ST_JWT_ERROR_MALFORMED. @len -1: NUL-terminated. */
StJwt       *st_jwt_parse            (const char  *token,
                                      gssize       len,
                                      GError     **error);
void         st_jwt_free             (StJwt *jwt);

/* Unverified: read them to route (kid) or to log, never to authorise. */
JsonObject  *st_jwt_get_header       (StJwt *jwt);
JsonObject  *st_jwt_get_unverified_claims (StJwt *jwt);
/* The header's kid, or NULL if it has none (or not a string). */
const char  *st_jwt_get_kid          (StJwt *jwt);

/* Checks alg, the signature against @key, the claims' shape and their times
 * against @now (Unix seconds, passed in so expiry is testable). May be
 * called again with another key. */
gboolean     st_jwt_verify           (StJwt         *jwt,
                                      StSigningKey  *key,
                                      gint64         now,
                                      GError       **error);
/* The claims, only after st_jwt_verify succeeded (NULL otherwise), so
 * unverified data cannot be used by mistake. Owned by @jwt. */
const StJwtClaims *st_jwt_get_claims (StJwt *jwt);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StJwtClaims, st_jwt_claims_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StJwt, st_jwt_free)

G_END_DECLS
