/* app-test.h — what the app's UI tests share: bounded main-loop waits and
 * screenshots of real widgets. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef gboolean (*AppTestCondition) (gpointer data);

/* Iterates the default main context until cond (data) holds or
 * timeout_ms pass; returns whether it held. */
gboolean app_test_wait   (AppTestCondition cond,
                          gpointer         data,
                          guint            timeout_ms);

/* Iterates the default main context for ms: lets GTK lay out and draw. */
void     app_test_settle (guint ms);

/* Saves what widget shows (over the window's backdrop colour) as
 * <build>/tests/app/screenshots/<name>.png, once it is mapped and drawn. */
void     app_test_screenshot (GtkWidget  *widget,
                              const char *name);

G_END_DECLS
