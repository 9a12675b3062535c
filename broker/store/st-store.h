/* st-store.h — the control-plane store: account, API tokens, namespaces,
 * brokers, signing keys, issued credentials and revocations, in SQLite.
 *
 * One StStore is one SQLite connection on DATA_DIR/starling.db (WAL, foreign
 * keys on, busy timeout).  The schema is versioned with PRAGMA user_version;
 * pending migrations run at open inside one transaction, so an interrupted
 * upgrade leaves the previous version intact.
 *
 * Threads: the design is one StStore used from the control thread.  Every
 * public call nevertheless takes the store's mutex, so calls from other
 * threads are safe; they are serialized, not concurrent.  Other connections
 * (another process, or a future store thread for MQTT state) may open the
 * same file: WAL lets readers proceed while one writer writes, and writers
 * wait up to the busy timeout.
 *
 * Errors: ST_STORE_ERROR with NOT_FOUND, DUPLICATE, INVALID (bad input,
 * nothing written) or FAILED (SQLite or I/O).  Every write runs in its own
 * transaction: it is applied whole or not at all.
 *
 * Times (created_on, modified_on, last_used, revoked_on) are gint64
 * microseconds since the Unix epoch, UTC, stored as INTEGER: they sort and
 * compare as numbers, and st_store_time_format() gives the control API's
 * RFC 3339 form ("2026-11-25T18:02:03.123456Z").  0 means "never".
 * Credential iat/exp are JWT NumericDates (seconds), as in the token.
 *
 * Names of namespaces and brokers are RFC 1035 labels, case-folded to
 * lowercase (st_store_name_valid()).  Creating with an invalid name is
 * INVALID; looking one up is simply NOT_FOUND.  Ids are 32 lowercase hex
 * digits from OpenSSL's CSPRNG.
 *
 * Returned records are owned by the caller (g_autoptr works on all of
 * them); lists are GPtrArrays that free their elements.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ST_STORE_FILE_NAME "starling.db"
#define ST_STORE_ID_LEN 32            /* ids are 32 lowercase hex digits */
#define ST_STORE_NAME_MAX 63          /* RFC 1035 label */
#define ST_STORE_PRIVATE_KEY_LEN 32   /* raw Ed25519 seed */
#define ST_STORE_TOKEN_SECRET_LEN 40  /* base64url characters */

#define ST_STORE_ERROR (st_store_error_quark ())

typedef enum {
  ST_STORE_ERROR_NOT_FOUND,
  ST_STORE_ERROR_DUPLICATE,
  ST_STORE_ERROR_INVALID,
  ST_STORE_ERROR_FAILED,
} StStoreError;

GQuark st_store_error_quark (void);

typedef enum {
  ST_STORE_SCOPE_READ,
  ST_STORE_SCOPE_EDIT,
} StStoreScope;

typedef enum {
  ST_STORE_AUTH_TOKEN,
  ST_STORE_AUTH_NONE,
} StStoreAuthType;

typedef struct _StStore StStore;

typedef struct {
  char        *id;
  char        *name;
  StStoreScope scope;
  gint64       created_on;
  gint64       last_used;   /* 0: never used */
  gboolean     revoked;
} StStoreToken;

typedef struct {
  char  *id;
  char  *name;              /* lowercase */
  char  *description;       /* never NULL */
  gint64 created_on;
  gint64 modified_on;
} StStoreNamespace;

typedef struct {
  char           *id;
  char           *namespace_id;
  char           *namespace_name;
  char           *name;            /* lowercase */
  char           *description;     /* never NULL */
  StStoreAuthType auth_type;
  gint64          expiration;      /* seconds; -1: credentials do not expire */
  char           *on_publish_url;  /* NULL: no hook */
  char           *on_publish;      /* hook settings, JSON text as given; may be NULL */
  gint64          created_on;
  gint64          modified_on;
} StStoreBroker;

typedef struct {
  char  *kid;
  char  *broker_id;
  guint8 private_key[ST_STORE_PRIVATE_KEY_LEN];  /* wiped on free */
  gint64 created_on;
} StStoreKey;

/* What is kept of an issued credential: never the token itself. */
typedef struct {
  char    *broker_id;
  char    *jti;
  char    *client_id;
  gint64   iat;             /* JWT NumericDate, seconds */
  gint64   exp;             /* seconds; 0: no expiry */
  char    *topic_acl;       /* JSON text: a filter string or an array of them */
  gboolean revoked;         /* read only: derived from the revocation list */
} StStoreCredential;

typedef struct {
  char  *jti;
  gint64 revoked_on;
} StStoreRevocation;

/* Bits for st_store_broker_update(): which fields of the values to apply. */
typedef enum {
  ST_STORE_BROKER_DESCRIPTION = 1 << 0,
  ST_STORE_BROKER_EXPIRATION  = 1 << 1,
  ST_STORE_BROKER_ON_PUBLISH  = 1 << 2,  /* on_publish_url and on_publish together */
  ST_STORE_BROKER_AUTH_TYPE   = 1 << 3,
} StStoreBrokerField;

/* Opening */

StStore    *st_store_open            (const char     *data_dir,
                                      GError        **error);
void        st_store_free            (StStore        *self);
const char *st_store_get_path        (StStore        *self);
const char *st_store_get_account_id  (StStore        *self);
int         st_store_get_schema_version (StStore     *self);

/* Names, values, times.  st_store_time_format() gives NULL for 0 (never). */

gboolean    st_store_name_valid      (const char     *name,
                                      char          **folded);
char       *st_store_time_format     (gint64          usec);
const char *st_store_scope_to_string (StStoreScope    scope);
gboolean    st_store_scope_from_string (const char   *str,
                                      StStoreScope   *scope);
const char *st_store_auth_type_to_string (StStoreAuthType type);
gboolean    st_store_auth_type_from_string (const char *str,
                                      StStoreAuthType *type);

/* API tokens.  create returns the secret (40 base64url characters) once;
 * only its SHA-256 is stored.  verify fails with NOT_FOUND for an unknown
 * or revoked secret and records last_used (to the minute).  The caller
 * enforces the scope: edit may write, read may only read. */

StStoreToken *st_store_token_create  (StStore        *self,
                                      const char     *name,
                                      StStoreScope    scope,
                                      char          **secret,
                                      GError        **error);
StStoreToken *st_store_token_verify  (StStore        *self,
                                      const char     *secret,
                                      GError        **error);
GPtrArray  *st_store_token_list      (StStore        *self,
                                      GError        **error);
gboolean    st_store_token_revoke    (StStore        *self,
                                      const char     *id,
                                      GError        **error);

/* Namespaces, addressed by name (case-insensitive) */

StStoreNamespace *st_store_namespace_create (StStore    *self,
                                      const char     *name,
                                      const char     *description,
                                      GError        **error);
StStoreNamespace *st_store_namespace_get (StStore       *self,
                                      const char     *name,
                                      GError        **error);
GPtrArray  *st_store_namespace_list  (StStore        *self,
                                      GError        **error);
StStoreNamespace *st_store_namespace_set_description (StStore *self,
                                      const char     *name,
                                      const char     *description,
                                      GError        **error);
gboolean    st_store_namespace_delete (StStore       *self,
                                      const char     *name,
                                      GError        **error);

/* Brokers, addressed by namespace name and broker name, or by id */

StStoreBroker *st_store_broker_create (StStore       *self,
                                      const char     *namespace_name,
                                      const StStoreBroker *values,
                                      GError        **error);
StStoreBroker *st_store_broker_get   (StStore        *self,
                                      const char     *namespace_name,
                                      const char     *name,
                                      GError        **error);
StStoreBroker *st_store_broker_get_by_id (StStore    *self,
                                      const char     *id,
                                      GError        **error);
GPtrArray  *st_store_broker_list     (StStore        *self,
                                      const char     *namespace_name,
                                      GError        **error);
StStoreBroker *st_store_broker_update (StStore       *self,
                                      const char     *namespace_name,
                                      const char     *name,
                                      const StStoreBroker *values,
                                      StStoreBrokerField fields,
                                      GError        **error);
gboolean    st_store_broker_delete   (StStore        *self,
                                      const char     *namespace_name,
                                      const char     *name,
                                      GError        **error);

/* Signing keys, per broker id.  Lists of an unknown broker are empty. */

StStoreKey *st_store_key_add         (StStore        *self,
                                      const char     *broker_id,
                                      const char     *kid,
                                      const guint8   *private_key,
                                      GError        **error);
StStoreKey *st_store_key_lookup      (StStore        *self,
                                      const char     *kid,
                                      GError        **error);
GPtrArray  *st_store_key_list        (StStore        *self,
                                      const char     *broker_id,
                                      GError        **error);
gboolean    st_store_key_remove      (StStore        *self,
                                      const char     *broker_id,
                                      const char     *kid,
                                      GError        **error);

/* Issued credentials (metadata), per broker id; the records' own
 * broker_id and revoked fields are ignored when adding.  Adding is all or
 * nothing. */

gboolean    st_store_credentials_add (StStore        *self,
                                      const char     *broker_id,
                                      StStoreCredential *const *credentials,
                                      guint           n_credentials,
                                      GError        **error);
GPtrArray  *st_store_credential_list (StStore        *self,
                                      const char     *broker_id,
                                      const char     *client_id,
                                      GError        **error);

/* Revocations, per broker id.  Adding or removing is idempotent per jti. */

gboolean    st_store_revocations_add (StStore        *self,
                                      const char     *broker_id,
                                      const char *const *jtis,
                                      GError        **error);
gboolean    st_store_revocations_remove (StStore     *self,
                                      const char     *broker_id,
                                      const char *const *jtis,
                                      GError        **error);
GPtrArray  *st_store_revocation_list (StStore        *self,
                                      const char     *broker_id,
                                      GError        **error);

void st_store_token_free      (StStoreToken      *token);
void st_store_namespace_free  (StStoreNamespace  *ns);
void st_store_broker_free     (StStoreBroker     *broker);
void st_store_key_free        (StStoreKey        *key);
void st_store_credential_free (StStoreCredential *credential);
void st_store_revocation_free (StStoreRevocation *revocation);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StStore, st_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StStoreToken, st_store_token_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StStoreNamespace, st_store_namespace_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StStoreBroker, st_store_broker_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StStoreKey, st_store_key_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StStoreCredential, st_store_credential_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StStoreRevocation, st_store_revocation_free)

G_END_DECLS
