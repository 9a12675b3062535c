/* starling-credentials-dialog.h — issue credentials (signed tokens) for a
 * broker and hand them over: copy, or save as JSON or .env. */
#pragma once

#include <adwaita.h>

#include "client/st-api-client.h"

G_BEGIN_DECLS

#define STARLING_TYPE_CREDENTIALS_DIALOG (starling_credentials_dialog_get_type ())
G_DECLARE_FINAL_TYPE (StarlingCredentialsDialog, starling_credentials_dialog, STARLING, CREDENTIALS_DIALOG, AdwWindow)

/* endpoint: the broker's, written into the .env file (may be NULL).
 * Emits "changed" (ns, broker) once credentials were issued. */
GtkWindow *starling_credentials_dialog_new (StApiClient *client,
                                            const char  *ns,
                                            const char  *broker,
                                            const char  *endpoint);

/* The issued credentials, {"clientId": token, …}, as the file
 * "Save as JSON" writes: that object, pretty-printed. */
char      *starling_credentials_format_json (JsonObject *credentials);

/* The same as the ".env" file: a comment, STARLING_ENDPOINT when known,
 * then CLIENT_ID_<n> and TOKEN_<n> for n = 1, 2, … in the order issued.
 * A value that is not plain (letters, digits, . _ - : / + =) is
 * double-quoted with \ and " escaped. */
char      *starling_credentials_format_env  (JsonObject *credentials,
                                             const char *endpoint);

G_END_DECLS
