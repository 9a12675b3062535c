/* starling-window.h — the main window: a sidebar with the server switcher
 * and the namespaces with their brokers, and a content area that shows an
 * empty state, the server's details, or a namespace or broker page. */
#pragma once

#include <adwaita.h>

#include "starling-application.h"
#include "starling-server.h"

G_BEGIN_DECLS

#define STARLING_TYPE_WINDOW (starling_window_get_type ())
G_DECLARE_FINAL_TYPE (StarlingWindow, starling_window, STARLING, WINDOW, AdwApplicationWindow)

StarlingWindow *starling_window_new        (StarlingApplication *application);

StarlingServer *starling_window_get_server (StarlingWindow *self);
/* Shows server: its sidebar once loaded, the last namespace or broker
 * selected there if it still exists. */
void            starling_window_set_server (StarlingWindow *self,
                                            StarlingServer *server);
/* Loads the sidebar again, then selects ns/broker (broker NULL: the
 * namespace; both NULL: keeps the current selection if it still exists). */
void            starling_window_reload     (StarlingWindow *self,
                                            const char     *ns,
                                            const char     *broker);

/* For tests and assistive checks: whether a load is running; the number
 * of namespace and broker rows in the sidebar; what the content area
 * shows ("status" — the empty, loading or error state —, "server",
 * "namespace", "broker"); and the status page. */
gboolean        starling_window_is_busy            (StarlingWindow *self);
guint           starling_window_get_n_namespaces   (StarlingWindow *self);
guint           starling_window_get_n_brokers      (StarlingWindow *self);
const char     *starling_window_get_view           (StarlingWindow *self);
AdwStatusPage  *starling_window_get_status_page    (StarlingWindow *self);
/* The server, namespace or broker page shown, or NULL. */
GtkWidget      *starling_window_get_page           (StarlingWindow *self);
/* Presents the "Add Server" dialog, returns it. */
GtkWindow      *starling_window_add_server         (StarlingWindow *self);

G_END_DECLS
