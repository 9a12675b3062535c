/* api-private.h — shared by the files of broker/api: the request being
 * served, the envelope and the error codes.
 *
 * Error codes are stable: clients (starlingctl, the app, scripts) may test
 * them.  Where Cloudflare has a well-known code for the same failure
 * (7000 no route, 7003 bad account id, 10000 authentication) it is used;
 * the rest are Starling's own, grouped by kind.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "api-server.h"

G_BEGIN_DECLS

typedef enum {
  API_ERROR_NO_ROUTE           = 7000,   /* 404: no such route */
  API_ERROR_METHOD             = 7001,   /* 405: route exists, method does not */
  API_ERROR_ACCOUNT            = 7003,   /* 404: account id is not this daemon's */
  API_ERROR_NO_USER            = 9109,   /* 403: /user: tokens belong to the account, not to a user */
  API_ERROR_AUTH               = 10000,  /* 401: missing, malformed or unknown bearer token */
  API_ERROR_FORBIDDEN          = 10001,  /* 403: read-scoped token on a write */
  API_ERROR_INTERNAL           = 10002,  /* 500: the store failed */
  API_ERROR_BAD_JSON           = 10100,  /* 400: body is not a JSON object */
  API_ERROR_WRONG_TYPE         = 10101,  /* 400: a field has the wrong JSON type */
  API_ERROR_INVALID_NAME       = 10102,  /* 400: not an RFC 1035 label */
  API_ERROR_MISSING_FIELD      = 10103,  /* 400: a required field is absent */
  API_ERROR_INVALID_VALUE      = 10104,  /* 400: right type, unacceptable value */
  API_ERROR_NAMESPACE_NOT_FOUND = 10200, /* 404 */
  API_ERROR_BROKER_NOT_FOUND   = 10201,  /* 404 */
  API_ERROR_NAMESPACE_EXISTS   = 10300,  /* 409 */
  API_ERROR_BROKER_EXISTS      = 10301,  /* 409 */
  API_ERROR_KEY_NOT_FOUND      = 10202,  /* 404: no signing key with that kid */
  API_ERROR_NO_CA              = 10203,  /* 404: operator's own certificate, no local CA */
  API_ERROR_LAST_KEY           = 10302,  /* 409: removing a broker's only key */
} ApiErrorCode;

struct _StApiServer
{
  StStore      *store;         /* borrowed */
  StEngine     *engine;        /* borrowed */
  char         *public_host;
  guint16       mqtts_port;
  char         *ca_file;       /* local CA (PEM), NULL with the operator's own certificate */

  /* Store broker id → the engine's StBroker.  Filled before the control
   * thread starts, then touched by the control thread alone. */
  GHashTable   *engine_brokers;

  StApiNamespaceFunc namespace_func;   /* see st_api_server_set_namespace_func */
  gpointer      namespace_data;

  GMainContext *context;       /* the control thread's */
  GMainLoop    *loop;
  GThread      *thread;
  SoupServer   *soup;
  char         *host;          /* bound address */
  guint16       port;
};

typedef struct {
  StApiServer       *server;
  SoupServerMessage *msg;
  const char        *method;
  StStoreToken      *token;        /* the caller's API token */
  const char        *ns;           /* path parameters, NULL when absent */
  const char        *broker;
  const char        *kid;
} ApiRequest;

/* Envelope.  api_reply takes result (NULL: JSON null). */
void        api_reply          (ApiRequest  *req,
                                guint        status,
                                JsonNode    *result);
void        api_error          (ApiRequest  *req,
                                guint        status,
                                ApiErrorCode code,
                                const char  *format,
                                ...) G_GNUC_PRINTF (4, 5);
/* Maps a store error: NOT_FOUND → 404 with not_found, DUPLICATE → 409
 * with duplicate, INVALID → 400, anything else → 500. */
void        api_error_from_store (ApiRequest  *req,
                                  const GError *error,
                                  ApiErrorCode  not_found,
                                  ApiErrorCode  duplicate);

/* Request bodies.  Each replies with the error itself and returns
 * FALSE/NULL when the body or field is unacceptable. */
JsonObject *api_read_object    (ApiRequest  *req);
gboolean    api_get_string     (ApiRequest  *req,
                                JsonObject  *object,
                                const char  *field,
                                gboolean     required,
                                const char **value);
/* The longest expiration accepted, for brokers and credentials alike:
 * 2^40 s (about 34,800 years).  Far beyond anything wrangler sends (its
 * "1000y" is 2.2e11 s), yet now + it stays exact in a JavaScript number
 * (2^53) and cannot overflow a JWT's exp. */
#define API_EXPIRATION_MAX (G_GINT64_CONSTANT (1) << 40)

/* expiration: a whole number of seconds from 1 to API_EXPIRATION_MAX, or
 * -1 / null for none. */
gboolean    api_get_expiration (ApiRequest  *req,
                                JsonObject  *object,
                                gboolean    *present,
                                gint64      *value);
gboolean    api_check_name     (ApiRequest  *req,
                                const char  *kind,
                                const char  *name);

JsonNode   *api_time_node      (gint64       usec);

/* Keeping the engine in step with the store */
void api_engine_add_broker    (StApiServer *server, const StStoreBroker *broker);
void api_engine_remove_broker (StApiServer *server, const char *broker_id);
/* Gives a broker a signing key if it has none, then hands the engine its
 * keys and revocations from the store. */
gboolean api_engine_sync_auth (StApiServer *server, StBroker *b,
                               const StStoreBroker *broker, GError **error);
/* Hands the engine the broker's on-publish hook settings (api-routes-brokers.c). */
void     api_engine_sync_hook (StApiServer *server, StBroker *b, const StStoreBroker *broker);

/* Routes */
void api_user_tokens_verify (ApiRequest *req);
void api_memberships        (ApiRequest *req);
void api_user               (ApiRequest *req);
void api_accounts           (ApiRequest *req);
void api_namespaces_list    (ApiRequest *req);
void api_namespaces_create  (ApiRequest *req);
void api_namespace_get      (ApiRequest *req);
void api_namespace_update   (ApiRequest *req);
void api_namespace_delete   (ApiRequest *req);
void api_brokers_list       (ApiRequest *req);
void api_brokers_create     (ApiRequest *req);
void api_broker_get         (ApiRequest *req);
void api_broker_update      (ApiRequest *req);
void api_broker_delete      (ApiRequest *req);
void api_credentials        (ApiRequest *req);
void api_publickeys         (ApiRequest *req);
void api_revocations_list   (ApiRequest *req);
void api_revocations_add    (ApiRequest *req);
void api_revocations_remove (ApiRequest *req);
void api_keys_rotate        (ApiRequest *req);
void api_key_delete         (ApiRequest *req);
void api_ca                 (ApiRequest *req);
void api_credentials_list   (ApiRequest *req);

G_END_DECLS
