/* starling-server.h — a server the app talks to: the embedded broker or a
 * remote starlingd (API URL + token).  Each gives an StApiClient. */
#pragma once

#include <gio/gio.h>

#include "st-api-client.h"
#include "starling-embedded.h"

G_BEGIN_DECLS

#define STARLING_TYPE_SERVER (starling_server_get_type ())
G_DECLARE_FINAL_TYPE (StarlingServer, starling_server, STARLING, SERVER, GObject)

#define STARLING_SERVER_EMBEDDED_ID "embedded"

StarlingServer   *starling_server_new_embedded  (StarlingEmbedded *embedded);
/* api_url as starling_server_normalize_url() leaves it. */
StarlingServer   *starling_server_new_remote    (const char *api_url,
                                                 const char *token);

gboolean          starling_server_is_embedded   (StarlingServer *self);
/* "embedded", or the API URL of a remote server: what GSettings keeps as
 * the selected server. */
const char       *starling_server_get_id        (StarlingServer *self);
/* "This Computer", or the remote's host:port. */
const char       *starling_server_get_title     (StarlingServer *self);
/* The API URL and token; NULL for the embedded broker until it runs. */
const char       *starling_server_get_api_url   (StarlingServer *self);
const char       *starling_server_get_token     (StarlingServer *self);
/* NULL for a remote server. */
StarlingEmbedded *starling_server_get_embedded  (StarlingServer *self);

/* Whether the API can be reached in principle: a remote server always, the
 * embedded one once it runs ("notify::ready"). */
gboolean          starling_server_is_ready      (StarlingServer *self);

/* The server's control-API client; NULL while not ready. */
StApiClient      *starling_server_get_client    (StarlingServer *self);

/* "host:8080", "http://host:8080", "https://host/client/v4/" →
 * "http://host:8080/client/v4" (scheme http when missing, the API's path
 * when missing, no trailing '/').  NULL with a translated message when the
 * text cannot be an API URL. */
char             *starling_server_normalize_url (const char *text,
                                                 GError    **error);

/* The saved (remote) servers as GSettings keeps them: a(ss) of URL, token. */
GPtrArray        *starling_server_list_from_variant (GVariant   *servers);
GVariant         *starling_server_list_to_variant   (GListModel *servers);

G_END_DECLS
