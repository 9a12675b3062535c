/* starling-window.h — the main window: a sidebar with the server switcher
 * and the namespaces with their brokers, and a content area that shows an
 * empty state, the server's details, or a namespace or broker page. */
#pragma once

#include <adwaita.h>

#include "starling-application.h"

G_BEGIN_DECLS

#define STARLING_TYPE_WINDOW (starling_window_get_type ())
G_DECLARE_FINAL_TYPE (StarlingWindow, starling_window, STARLING, WINDOW, AdwApplicationWindow)

StarlingWindow *starling_window_new (StarlingApplication *application);

G_END_DECLS
