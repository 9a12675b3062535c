/* starling-application.h — the AdwApplication: actions, the servers the
 * app knows (the embedded broker first, then the saved remote ones) and
 * the embedded broker's lifetime. */
#pragma once

#include <adwaita.h>

#include "starling-server.h"

G_BEGIN_DECLS

#define STARLING_TYPE_APPLICATION (starling_application_get_type ())
G_DECLARE_FINAL_TYPE (StarlingApplication, starling_application, STARLING, APPLICATION, AdwApplication)

StarlingApplication *starling_application_new (void);

/* The app's settings (io.github.starlingmq.Starling). */
GSettings           *starling_application_get_settings (StarlingApplication *self);
/* StarlingServer items: the embedded broker first, then the saved ones. */
GListModel          *starling_application_get_servers  (StarlingApplication *self);
StarlingServer      *starling_application_get_embedded_server (StarlingApplication *self);
/* NULL when no server has that id (starling_server_get_id()). */
StarlingServer      *starling_application_find_server  (StarlingApplication *self,
                                                        const char          *id);
/* Appends (or, for a known URL, replaces) a remote server and saves the
 * list in GSettings.  Returns the server now in the list. */
StarlingServer      *starling_application_add_server   (StarlingApplication *self,
                                                        StarlingServer      *server);
/* Removes a remote server and saves the list. */
void                 starling_application_remove_server (StarlingApplication *self,
                                                         StarlingServer      *server);
/* The embedded broker's start failure, or NULL. */
const GError        *starling_application_get_embedded_error (StarlingApplication *self);

G_END_DECLS
