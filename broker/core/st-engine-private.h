/* st-engine-private.h — the engine's state, shared by the files of
 * broker/core (not part of the contract). */
#pragma once

#include <glib.h>
#include <pthread.h>

#include "core/st-engine.h"

typedef struct {
  GHashTable *conns;          /* StConn* set; touched only on this loop's thread */
  gint64      next_check_ms;
} StLoopConns;

struct _StEngine {
  StLimits    limits;
  pthread_mutex_t lock;       /* brokers, public host, loops array (pthread: see st-broker.h) */
  GPtrArray  *brokers;        /* StBroker*, owned */
  /* Routing indexes over brokers, so a CONNECT costs the same with ten
   * brokers or ten thousand: "<broker>.<namespace>" and each key's kid
   * (owned strings) -> StBroker*. The first broker added keeps a name. */
  GHashTable *by_name;
  GHashTable *by_kid;
  GPtrArray  *removed;        /* StBroker*, owned: removed, kept until the engine goes */
  StBroker   *default_broker;
  char       *public_host;
  GPtrArray  *loops;          /* StLoopConns* by st_loop_index */
  gint        n_connected;    /* atomic: connections past CONNECT */
  gint64      next_sweep_ms;  /* loop 0 only */
  StMqttStore *store;         /* durable state (st-persist.h), or NULL */
  struct _StHookClient *hooks; /* started with the first hook (engine->lock); NULL after st_engine_stop_hooks */
  bool        hooks_stopped;

};

/* The broker for a connection: by TLS SNI, else the default one; NULL when
 * none applies. */
StBroker *st_engine_pick_broker (StEngine *engine, const char *sni);
/* The same with the token's kid between the two (DESIGN "Tenancy and
 * addressing"): SNI, then kid, then the default broker. */
StBroker *st_engine_route_broker (StEngine *engine, const char *sni, const char *kid);

/* Counts a connection against limits.max_connections; false when full. */
bool      st_engine_count_connection   (StEngine *engine);
void      st_engine_uncount_connection (StEngine *engine);

void      st_engine_forget_conn (StEngine *engine, StConn *conn);

/* broker's keys changed (st_broker_set_keys): their kids route to it. */
void      st_engine_index_keys (StEngine *engine, StBroker *broker, StSigningKey *const *keys, guint n_keys);

/* The hook client, started on first use; NULL once hooks are stopped. */
struct _StHookClient *st_engine_get_hook_client (StEngine *engine);
