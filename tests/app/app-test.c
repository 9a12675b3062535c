#include "app-test.h"

#define DRAWN_TIMEOUT_MS 60000

gboolean
app_test_wait (AppTestCondition cond,
               gpointer         data,
               guint            timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
  return TRUE;
}

void
app_test_settle (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (2000);
}

static GskRenderNode *
render_node (GtkWidget *widget, int width, int height)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();

  /* A backdrop like the window's, so the PNG looks like the screen. */
  gtk_snapshot_append_color (snapshot, &(GdkRGBA) { 0.98, 0.98, 0.98, 1 },
                             &GRAPHENE_RECT_INIT (0, 0, width, height));
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  return gtk_snapshot_free_to_node (snapshot);
}

static gboolean
drawn (gpointer data)
{
  GtkWidget *widget = data;
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  g_autoptr(GskRenderNode) node = NULL;

  if (!gtk_widget_get_mapped (widget) || width <= 0 || height <= 0)
    return FALSE;
  node = render_node (widget, width, height);
  return node != NULL;
}

void
app_test_screenshot (GtkWidget  *widget,
                     const char *name)
{
  const char *builddir = g_getenv ("STARLING_BUILDDIR");
  g_autofree char *dir = g_build_filename (builddir ? builddir : ".", "tests", "app", "screenshots", NULL);
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  int width, height;

  /* Slow builds (sanitizers) map and draw late: wait for content. */
  g_assert_true (app_test_wait (drawn, widget, DRAWN_TIMEOUT_MS));
  app_test_settle (300);
  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  node = render_node (widget, width, height);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}
