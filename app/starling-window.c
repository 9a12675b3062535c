#define G_LOG_DOMAIN "starling-window"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-window.h"

struct _StarlingWindow
{
  AdwApplicationWindow parent_instance;

  AdwLeaflet      *leaflet;
  AdwToastOverlay *toast_overlay;
  AdwStatusPage   *status_page;
  AdwWindowTitle  *content_title;
};

G_DEFINE_FINAL_TYPE (StarlingWindow, starling_window, ADW_TYPE_APPLICATION_WINDOW)

StarlingWindow *
starling_window_new (StarlingApplication *application)
{
  return g_object_new (STARLING_TYPE_WINDOW, "application", application, NULL);
}

static void
starling_window_class_init (StarlingWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/starlingmq/Starling/starling-window.ui");
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, status_page);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, content_title);
}

static void
starling_window_init (StarlingWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
