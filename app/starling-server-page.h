/* starling-server-page.h — the selected server's details: for the embedded
 * broker its listeners, control API URL and admin token (with copy
 * buttons), data directory and local CA; for a remote one its URL and
 * token and a "Remove Server" button. */
#pragma once

#include <adwaita.h>

#include "starling-server.h"

G_BEGIN_DECLS

#define STARLING_TYPE_SERVER_PAGE (starling_server_page_get_type ())
G_DECLARE_FINAL_TYPE (StarlingServerPage, starling_server_page, STARLING, SERVER_PAGE, AdwBin)

/* start_error: why the embedded broker did not start, or NULL. */
GtkWidget *starling_server_page_new (StarlingServer *server,
                                     const GError   *start_error);

G_END_DECLS
