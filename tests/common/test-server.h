/* test-server.h — an in-process broker for tests that talk to its control
 * API: StServer on loopback with the TLS listener and the API on ephemeral
 * ports, and what a client needs to reach it. */
#pragma once

#include <glib.h>

#include "st-server.h"

G_BEGIN_DECLS

typedef struct {
  StServer *server;
  char     *data_dir;
  char     *api_url;      /* http://127.0.0.1:PORT/client/v4 */
  char     *token;        /* the admin token, from DATA/admin-token */
  char     *ca_file;      /* the local CA, PEM */
  guint16   api_port;
  guint16   mqtts_port;
} TestServer;

/* Starts a server on data_dir (created if missing) with one I/O thread;
 * listeners: mqtts and, if with_all_listeners, mqtt, ws and wss too.
 * Any failure fails the test. */
TestServer *test_server_start (const char *data_dir,
                               gboolean    with_all_listeners);
/* Stops and frees; NULL is fine. */
void        test_server_free  (TestServer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestServer, test_server_free)

G_END_DECLS
