/* starling-broker-dialog.h — create a broker, or edit one's description,
 * credential expiration and on-publish hook. */
#pragma once

#include <adwaita.h>

#include "client/st-api-client.h"

G_BEGIN_DECLS

#define STARLING_TYPE_BROKER_DIALOG (starling_broker_dialog_get_type ())
G_DECLARE_FINAL_TYPE (StarlingBrokerDialog, starling_broker_dialog, STARLING, BROKER_DIALOG, AdwWindow)

/* broker_or_null: NULL to create a broker in ns.  Emits "changed"
 * (ns, broker) once the server has made or changed it, then closes. */
GtkWindow *starling_broker_dialog_new (StApiClient *client,
                                       const char  *ns,
                                       const char  *broker_or_null);

G_END_DECLS
