/* api-server.h — the control API: Cloudflare's Pub/Sub API under
 * /client/v4, served by libsoup 3 on a thread of its own (the control
 * thread) with its own GMainContext, so a slow HTTP client never holds up
 * the caller's main loop or the MQTT I/O threads.
 *
 * The API server borrows the store and the engine: both must outlive it.
 * Brokers created through the API are added to the engine as they are
 * created.
 */
#pragma once

#include <glib.h>

#include "core/st-engine.h"
#include "store/st-store.h"

G_BEGIN_DECLS

typedef struct _StApiServer StApiServer;

/* public_host: brokers' endpoints are mqtts://<broker>.<ns>.<public_host>:<mqtts_port>. */
StApiServer *st_api_server_new  (StStore    *store,
                                 StEngine   *engine,
                                 const char *public_host,
                                 guint16     mqtts_port);

/* Binds listen ("ADDR:PORT", "[IPV6]:PORT"; port 0 picks one) and starts
 * the control thread.  Errors name the address. */
gboolean     st_api_server_start (StApiServer *self,
                                  const char  *listen,
                                  GError     **error);

/* The bound address, once started. */
gboolean     st_api_server_get_address (StApiServer *self,
                                        char       **host,
                                        guint16     *port);

/* Stops the control thread (requests in progress finish first) and frees. */
void         st_api_server_free (StApiServer *self);

/* Makes a store broker an MQTT world of the engine: at start for the
 * brokers already stored, and after each create. */
StBroker    *st_api_add_engine_broker (StEngine            *engine,
                                       const StStoreBroker *broker);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StApiServer, st_api_server_free)

G_END_DECLS
