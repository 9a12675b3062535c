/* starling-namespace-dialog.h — create a namespace, or edit one's
 * description. */
#pragma once

#include <adwaita.h>

#include "client/st-api-client.h"

G_BEGIN_DECLS

#define STARLING_TYPE_NAMESPACE_DIALOG (starling_namespace_dialog_get_type ())
G_DECLARE_FINAL_TYPE (StarlingNamespaceDialog, starling_namespace_dialog, STARLING, NAMESPACE_DIALOG, AdwWindow)

/* ns_or_null: NULL to create a namespace.  Emits "changed" (ns, NULL) once
 * the server has made or changed it, then closes. */
GtkWindow *starling_namespace_dialog_new (StApiClient *client,
                                          const char  *ns_or_null);

G_END_DECLS
