/* st-api-client.h — a client of the control API (Cloudflare's Pub/Sub API
 * as starlingd serves it), shared by starlingctl and the app.
 *
 * One StApiClient talks to one server: a base URL ending in /client/v4, an
 * API token, and an account id (looked up through GET /memberships on the
 * first request when not given).  Requests return the envelope's `result`;
 * an envelope with success:false becomes a GError in ST_API_ERROR whose
 * code is the API's numeric error code and whose message is the API's
 * message, so callers show exactly what the server said.
 *
 * Async calls (for the app) complete in the thread-default main context of
 * the caller; sync calls (for starlingctl) block.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define ST_API_ERROR (st_api_error_quark ())
GQuark st_api_error_quark (void);

/* Codes below 1000 are the client's own; any other code is the server's
 * numeric error code, passed through unchanged. */
typedef enum {
  ST_API_ERROR_FAILED = 1,      /* an error answer without a code */
  ST_API_ERROR_BAD_RESPONSE,    /* not JSON, or not an envelope */
  ST_API_ERROR_HTTP,            /* an HTTP error status without an envelope */
  ST_API_ERROR_NO_ACCOUNT,      /* /memberships listed no account */
} StApiErrorCode;

#define ST_TYPE_API_CLIENT (st_api_client_get_type ())
G_DECLARE_FINAL_TYPE (StApiClient, st_api_client, ST, API_CLIENT, GObject)

/* base_url: "http://127.0.0.1:8080/client/v4" (a trailing '/' is fine).
 * account_id: NULL to look it up. */
StApiClient *st_api_client_new            (const char *base_url,
                                           const char *token,
                                           const char *account_id);

const char  *st_api_client_get_base_url   (StApiClient *self);
/* NULL until known. */
const char  *st_api_client_get_account_id (StApiClient *self);

/* Trust this CA (PEM file) for https base URLs, besides the system's. */
gboolean     st_api_client_set_ca_file    (StApiClient *self,
                                           const char  *ca_file,
                                           GError     **error);

/* method: "GET", "POST", "PATCH", "DELETE".
 * path: relative to /accounts/{account_id}/pubsub ("namespaces/ns/brokers")
 *   or, starting with '/', relative to the base URL ("/user/tokens/verify").
 *   In a path starting with '/', the text "{account_id}" is replaced by the
 *   account id (looked up first if needed), for routes outside pubsub:
 *   "/accounts/{account_id}/starling/namespaces/ns/brokers/b/credentials".
 *   Each path segment given by a caller must already be a valid name; the
 *   client escapes nothing.
 * query: NULL, or pairs key, value, …, NULL; a key may repeat ("jti", a,
 *   "jti", b).  Values are URI-escaped.
 * body: NULL, or JSON sent as application/json.
 * Returns the envelope's `result` (a JSON null node for a null result). */
void         st_api_client_request_async  (StApiClient         *self,
                                           const char          *method,
                                           const char          *path,
                                           const char * const  *query,
                                           JsonNode            *body,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
JsonNode    *st_api_client_request_finish (StApiClient   *self,
                                           GAsyncResult  *result,
                                           GError       **error);

JsonNode    *st_api_client_request        (StApiClient         *self,
                                           const char          *method,
                                           const char          *path,
                                           const char * const  *query,
                                           JsonNode            *body,
                                           GCancellable        *cancellable,
                                           GError             **error);

/* GET /user/tokens/verify: the token's status ("active") or an error. */
void         st_api_client_verify_async   (StApiClient         *self,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
char        *st_api_client_verify_finish  (StApiClient   *self,
                                           GAsyncResult  *result,
                                           GError       **error);
char        *st_api_client_verify         (StApiClient   *self,
                                           GCancellable  *cancellable,
                                           GError       **error);

/* GET …/pubsub/ca (beyond Cloudflare): the local CA certificate, PEM. */
void         st_api_client_get_ca_async   (StApiClient         *self,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
char        *st_api_client_get_ca_finish  (StApiClient   *self,
                                           GAsyncResult  *result,
                                           GError       **error);
char        *st_api_client_get_ca         (StApiClient   *self,
                                           GCancellable  *cancellable,
                                           GError       **error);

/* Parses "48h", "30m", "1y", "2d", "90s", "3600" (seconds) or "-1" (none)
 * into seconds, as wrangler's --expiration does (also w for weeks, mo for
 * months, long unit names like "2 days", fractions like "1.5h"; a month is
 * 30 days and a year 365, rounded to whole seconds).  FALSE with a
 * G_IO_ERROR_INVALID_ARGUMENT whose message quotes text otherwise (also
 * for 0 and other negative numbers). */
gboolean     st_parse_duration            (const char *text,
                                           gint64     *seconds,
                                           GError    **error);

G_END_DECLS
