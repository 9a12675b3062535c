/* st-server.h — libstarling's front door: one running broker service.
 *
 * An StServer owns an engine (the MQTT worlds) and the network layer
 * (listeners and I/O threads). It holds no global state, so a process may
 * run several (the tests do; the app embeds one).
 */
#pragma once

#include <gio/gio.h>

#include "core/st-engine.h"
#include "net/net-transport.h"
#include "store/st-mqtt-store.h"

typedef struct _StServer StServer;

/* The API token file st_server_new() writes in a new data directory. */
#define ST_SERVER_ADMIN_TOKEN_FILE "admin-token"

typedef struct {
  char    *data_dir;                       /* created 0700 when missing */
  char    *listen[ST_N_LISTENER_KINDS];    /* "ADDR:PORT"; NULL = off */
  char    *api_listen;                     /* control API (HTTP) "ADDR:PORT"; NULL = off */
  guint    threads;                        /* 0 = one per core */
  char    *public_host;                    /* default "localhost" */
  gboolean dev;                            /* namespace "dev", broker "local", authType NONE, default broker */
  char    *tls_cert_file;                  /* NULL: generated local CA + certificate */
  char    *tls_key_file;
  GLogLevelFlags log_level;               /* for the program that logs; default MESSAGE */
  StDurability durability;                 /* MQTT state in data_dir/mqtt.db; default BATCH */
  StLimits limits;
} StServerConfig;

/* Defaults: every listener on loopback at its standard port (1883, 8883,
 * 8083, 8884, control API 8080), threads 0, public host "localhost", limits from
 * st_limits_init(). data_dir is left NULL: the caller chooses. */
void      st_server_config_init  (StServerConfig *config);
void      st_server_config_clear (StServerConfig *config);

StServer *st_server_new   (const StServerConfig *config, GError **error);

/* Binds the listeners and starts the I/O threads and the control thread
 * (the control API). */
gboolean  st_server_start (StServer *server, GError **error);

/* {"pid": N, "listeners": {"mqtt": {"host": "127.0.0.1", "port": 1883}, ...,
 *  "api": {"host": "127.0.0.1", "port": 8080}},
 *  "data_dir": "...", "ca_file": "..."}: what a client needs to connect. */
char     *st_server_get_ready_json (StServer *server);

/* Writes st_server_get_ready_json() to path atomically. */
gboolean  st_server_write_ready_file (StServer *server, const char *path, GError **error);

gboolean  st_server_reload_tls (StServer *server, GError **error);

/* Disconnects every client (DISCONNECT 0x8B) and joins the threads. */
void      st_server_stop  (StServer *server);
void      st_server_free  (StServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StServer, st_server_free)
