/* starling-add-server-dialog.h — "Add Server": a remote starlingd by API
 * URL and token, verified (GET /user/tokens/verify) before it is handed
 * on through "server-added" (StarlingServer *) and the dialog closes.  A
 * failed check stays in the dialog with the server's message. */
#pragma once

#include <adwaita.h>

#include "starling-server.h"

G_BEGIN_DECLS

#define STARLING_TYPE_ADD_SERVER_DIALOG (starling_add_server_dialog_get_type ())
G_DECLARE_FINAL_TYPE (StarlingAddServerDialog, starling_add_server_dialog, STARLING, ADD_SERVER_DIALOG, AdwWindow)

GtkWindow  *starling_add_server_dialog_new        (GtkWindow *parent);

/* What a person would type, and the "Add" button (tests use these). */
void        starling_add_server_dialog_set_fields (StarlingAddServerDialog *self,
                                                   const char              *api_url,
                                                   const char              *token);
void        starling_add_server_dialog_submit     (StarlingAddServerDialog *self);
gboolean    starling_add_server_dialog_is_busy    (StarlingAddServerDialog *self);
/* The error shown, or NULL. */
const char *starling_add_server_dialog_get_error  (StarlingAddServerDialog *self);

G_END_DECLS
