/* starling-embedded.h — the broker the app runs in-process: libstarling's
 * StServer on loopback, with its data in the user's data directory. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define STARLING_TYPE_EMBEDDED (starling_embedded_get_type ())
G_DECLARE_FINAL_TYPE (StarlingEmbedded, starling_embedded, STARLING, EMBEDDED, GObject)

/* Set to "0" (tests): every listener on a free port rather than trying
 * the standard ports first. */
#define STARLING_EMBEDDED_PORTS_ENV "STARLING_EMBEDDED_PORTS"

/* data_dir: NULL for g_get_user_data_dir()/starling (inside Flatpak, the
 * app's own data directory). */
StarlingEmbedded *starling_embedded_new             (const char *data_dir);

/* The ports tried first, for the MQTT, MQTT/TLS, WebSocket, secure
 * WebSocket listeners and the control API (default 1883, 8883, 8083,
 * 8884, 8080).  Call before starting. */
void              starling_embedded_set_ports       (StarlingEmbedded *self,
                                                     guint16           mqtt,
                                                     guint16           mqtts,
                                                     guint16           ws,
                                                     guint16           wss,
                                                     guint16           api);

/* Opens the store and binds the listeners on a worker thread (the first
 * start also generates the local CA): the standard ports where they are
 * free, a free port for each one that is taken. */
void              starling_embedded_start_async     (StarlingEmbedded    *self,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
gboolean          starling_embedded_start_finish    (StarlingEmbedded *self,
                                                     GAsyncResult     *result,
                                                     GError          **error);

/* Disconnects the clients and joins the broker's threads; waits for a
 * start still in progress first.  Safe to call twice. */
void              starling_embedded_stop            (StarlingEmbedded *self);

gboolean          starling_embedded_is_running      (StarlingEmbedded *self);
const char       *starling_embedded_get_data_dir    (StarlingEmbedded *self);
/* The rest are NULL until running. */
/* "http://127.0.0.1:8080/client/v4" */
const char       *starling_embedded_get_api_url     (StarlingEmbedded *self);
/* The admin token from DATA/admin-token; NULL if that file is gone. */
const char       *starling_embedded_get_token       (StarlingEmbedded *self);
/* st_server_get_ready_json(): {"listeners": {"mqtt": {"host", "port"}, …}, "ca_file"…} */
const char       *starling_embedded_get_ready_json  (StarlingEmbedded *self);

G_END_DECLS
