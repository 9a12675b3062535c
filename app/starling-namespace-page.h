/* starling-namespace-page.h — one namespace: its details and its brokers,
 * with edit, delete and "New broker". */
#pragma once

#include <adwaita.h>

#include "client/st-api-client.h"

G_BEGIN_DECLS

#define STARLING_TYPE_NAMESPACE_PAGE (starling_namespace_page_get_type ())
G_DECLARE_FINAL_TYPE (StarlingNamespacePage, starling_namespace_page, STARLING, NAMESPACE_PAGE, AdwBin)

/* Loads the namespace and its brokers at once.  "changed" (ns, broker):
 * something was made, edited or deleted — or a broker row was activated —
 * and the window should reload its sidebar and select ns/broker (both NULL
 * after the namespace was deleted). */
GtkWidget *starling_namespace_page_new    (StApiClient *client,
                                           const char  *ns);

/* Loads everything again. */
void       starling_namespace_page_reload (StarlingNamespacePage *self);

G_END_DECLS
