/* net-server.h — listeners and I/O threads.
 *
 * StNet binds the configured listeners, starts one epoll loop per thread
 * (each with its own SO_REUSEPORT socket per listener) and hands every
 * accepted connection to the engine.
 */
#pragma once

#include <glib.h>

#include "core/st-engine.h"
#include "net/net-transport.h"

typedef struct _StNet StNet;

typedef struct {
  guint       threads;                     /* >= 1 */
  const char *listen[ST_N_LISTENER_KINDS]; /* "ADDR:PORT" ("[::1]:PORT" for IPv6), NULL = off; port 0 = ephemeral */
  const char *tls_cert_file;               /* PEM chain; NULL: generated under data_dir */
  const char *tls_key_file;                /* PEM key;  NULL: generated under data_dir */
  const char *data_dir;                    /* where the local CA lives (ca.pem, ca.key, server.pem, server.key) */
  const char *public_host;                 /* for the generated server certificate's names */
} StNetConfig;

/* Binds every listener (so errors such as EADDRINUSE are reported here) and
 * prepares TLS when a TLS listener is configured. */
StNet   *st_net_new   (StEngine *engine, const StNetConfig *config, GError **error);

/* Starts the loop threads. */
gboolean st_net_start (StNet *net, GError **error);

/* The bound address of a listener, e.g. to write the ready file. Returns
 * FALSE when that listener is off. */
gboolean st_net_get_address (StNet *net, StListenerKind kind, char **host, guint16 *port);

/* Path of the CA certificate that signed the generated server certificate
 * (NULL when the operator's own certificate is used or TLS is off). */
const char *st_net_get_ca_file (StNet *net);

/* Reloads the TLS certificate and key (SIGHUP); new connections use them.
 * Namespace certificates are renewed too when they need it. */
gboolean st_net_reload_tls (StNet *net, GError **error);

/* Per-namespace certificates: with the generated local CA, each namespace
 * named here gets a certificate for "*.<ns>.<public_host>" and
 * "<ns>.<public_host>", cached in data_dir/tls/namespaces/<ns>.{pem,key},
 * and a TLS client whose SNI is a broker's hostname gets it.  Other names
 * get the default certificate.  With the operator's own certificate, an
 * IP address as public host, or no TLS listener, these do nothing and
 * succeed.
 *
 * They generate keys (about a millisecond each): call them from a control
 * thread or at start-up, never from an I/O thread.  Thread-safe.
 *
 * set: exactly these namespaces (start-up); certificates cached for
 * others are deleted.  add: one more (a namespace was created).  remove:
 * one less, its files deleted (a namespace was deleted).  Errors name the
 * namespace; a namespace whose certificate failed gets the default one. */
gboolean st_net_set_tls_namespaces   (StNet *net, const char *const *names, GError **error);
gboolean st_net_add_tls_namespace    (StNet *net, const char *name, GError **error);
void     st_net_remove_tls_namespace (StNet *net, const char *name);

/* Says goodbye to every connection (st_conn_shutdown), flushes, closes and
 * joins the threads. */
void     st_net_stop  (StNet *net);
void     st_net_free  (StNet *net);
