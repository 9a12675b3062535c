/* starling-application.h — the AdwApplication: actions, the servers the
 * app knows (the embedded broker first, then the saved remote ones) and
 * the embedded broker's lifetime. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define STARLING_TYPE_APPLICATION (starling_application_get_type ())
G_DECLARE_FINAL_TYPE (StarlingApplication, starling_application, STARLING, APPLICATION, AdwApplication)

StarlingApplication *starling_application_new (void);

G_END_DECLS
