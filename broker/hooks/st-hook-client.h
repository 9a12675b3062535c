/* st-hook-client.h — the HTTP side of on-publish hooks: a thread of its
 * own (the hook thread) with its own GMainContext, and one libsoup 3
 * SoupSession per broker.
 *
 * Why a thread of its own rather than the control thread's main loop: a
 * hook in the path of every message and an admin's API request must not
 * wait for each other. A slow control API request (a store write, a big
 * credentials batch) would otherwise delay every hook answer, and a burst
 * of hook work would delay the API.
 *
 * Why a session per broker: libsoup limits connections per host per
 * session, and two brokers whose hooks live on the same host (one Worker
 * route per broker, say) must not share that limit, or one broker's slow
 * hook would hold the connections the other's requests queue for.
 *
 * Everything but st_hook_client_new/_free/_invoke runs on the hook thread. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "auth/st-signing-key.h"

typedef struct _StHookClient StHookClient;
typedef struct _StHookTarget StHookTarget;

/* Starts the hook thread. */
StHookClient *st_hook_client_new    (void);
/* Any thread but the hook thread: calls func (data) there (once). */
void          st_hook_client_invoke (StHookClient *client, GSourceFunc func, gpointer data);
/* Cancels what is in flight (each callback runs with cancelled = true),
 * frees every target and joins the thread. */
void          st_hook_client_free   (StHookClient *client);

/* ---- hook thread ------------------------------------------------------- */

/* One broker's connections: at most concurrency of them to any host. */
StHookTarget *st_hook_target_new (StHookClient *client, guint concurrency);
void          st_hook_target_set_concurrency (StHookTarget *target, guint concurrency);
/* Cancels its requests (their callbacks still run, cancelled) and frees it
 * once they have. */
void          st_hook_target_free (StHookTarget *target);

typedef struct {
  bool        cancelled;   /* the client or target is going away: discard */
  guint       status;      /* HTTP status, 0 when there was no answer */
  GBytes     *body;        /* the answer's body (status != 0) */
  const char *error;       /* why there is no answer (status 0): timeout, connection, … */
} StHookResult;

typedef void (*StHookDone) (const StHookResult *result, gpointer data);

/* POSTs body (JSON) to url, signed with key (X-Signature-Ed25519 over the
 * timestamp string followed by the body, X-Signature-Timestamp,
 * X-Signature-Key-Id). No answer within timeout_ms fails it. done runs
 * on the hook thread exactly once. */
void          st_hook_post (StHookTarget *target,
                            const char   *url,
                            GBytes       *body,
                            StSigningKey *key,
                            guint         timeout_ms,
                            StHookDone    done,
                            gpointer      data);
