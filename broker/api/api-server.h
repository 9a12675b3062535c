/* api-server.h — the control API: Cloudflare's Pub/Sub API under
 * /client/v4, served by libsoup 3 on a thread of its own (the control
 * thread) with its own GMainContext, so a slow HTTP client never holds up
 * the caller's main loop or the MQTT I/O threads.
 *
 * The API server borrows the store and the engine: both must outlive it.
 * It keeps the engine's brokers in step with the store: brokers created
 * through the API become MQTT worlds at once, and deleting a broker or a
 * namespace removes them from the engine, disconnecting their clients.
 */
#pragma once

#include <glib.h>

#include "core/st-engine.h"
#include "store/st-store.h"

G_BEGIN_DECLS

typedef struct _StApiServer StApiServer;

/* public_host: brokers' endpoints are mqtts://<broker>.<ns>.<public_host>:<port>. */
StApiServer *st_api_server_new  (StStore    *store,
                                 StEngine   *engine,
                                 const char *public_host);

/* Makes every stored broker an MQTT world of the engine.  Call once,
 * before connections arrive (and before start). */
gboolean     st_api_server_load_brokers (StApiServer *self,
                                         GError     **error);

/* The engine's broker for a stored broker id, once loaded; NULL if none. */
StBroker    *st_api_server_get_engine_broker (StApiServer *self,
                                              const char  *broker_id);

/* Binds listen ("ADDR:PORT", "[IPV6]:PORT"; port 0 picks one) and starts
 * the control thread.  mqtts_port goes into brokers' endpoints; ca_file
 * (NULL: none) is served at …/pubsub/ca.  Errors name the address. */
gboolean     st_api_server_start (StApiServer *self,
                                  const char  *listen,
                                  guint16      mqtts_port,
                                  const char  *ca_file,
                                  GError     **error);

/* Stops the control thread (requests in progress finish first) and closes
 * the listener; start may be called again. */
void         st_api_server_stop (StApiServer *self);

/* The bound address, once started. */
gboolean     st_api_server_get_address (StApiServer *self,
                                        char       **host,
                                        guint16     *port);

/* Called on the control thread once a namespace is created (exists TRUE)
 * or deleted (FALSE) through the API, before the answer leaves: the TLS
 * layer makes or drops the namespace's certificate.  Set it while the
 * server is stopped; func NULL unsets it. */
typedef void (*StApiNamespaceFunc) (const char *name, gboolean exists, gpointer user_data);

void         st_api_server_set_namespace_func (StApiServer       *self,
                                               StApiNamespaceFunc func,
                                               gpointer           user_data);

/* Stops (st_api_server_stop) and frees. */
void         st_api_server_free (StApiServer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StApiServer, st_api_server_free)

G_END_DECLS
