#define G_LOG_DOMAIN "starling-window"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-add-server-dialog.h"
#include "starling-broker-page.h"
#include "starling-namespace-dialog.h"
#include "starling-namespace-page.h"
#include "starling-server-page.h"
#include "starling-util.h"
#include "starling-window.h"

struct _StarlingWindow
{
  AdwApplicationWindow parent_instance;

  AdwLeaflet      *leaflet;
  GtkMenuButton   *server_button;
  GtkPopover      *server_popover;
  GtkListBox      *server_list;
  GtkSpinner      *sidebar_spinner;
  GtkListBox      *sidebar_list;
  AdwToastOverlay *toast_overlay;
  AdwWindowTitle  *content_title;
  GtkStack        *content_stack;
  AdwStatusPage   *status_page;
  GtkSpinner      *status_spinner;
  GtkButton       *status_button;
  AdwBin          *page_bin;

  GSettings       *settings;
  StarlingServer  *server;
  gulong           ready_handler;
  GCancellable    *load_cancellable;
  gboolean         busy;
  guint            n_namespaces;
  guint            n_brokers;
  const char      *view;
  /* What to select once the sidebar is loaded. */
  char            *select_ns;
  char            *select_broker;
  /* While the sidebar is rebuilt, row-selected must not open pages. */
  gboolean         populating;
};

G_DEFINE_FINAL_TYPE (StarlingWindow, starling_window, ADW_TYPE_APPLICATION_WINDOW)

typedef enum {
  ROW_SERVER,
  ROW_NAMESPACE,
  ROW_BROKER,
} RowKind;

static void window_setup (StarlingWindow *self);

StarlingWindow *
starling_window_new (StarlingApplication *application)
{
  StarlingWindow *self;

  g_return_val_if_fail (STARLING_IS_APPLICATION (application), NULL);

  /* GtkWindow:application is no construct property: constructed() is
   * too early to see it. */
  self = g_object_new (STARLING_TYPE_WINDOW, "application", application, NULL);
  window_setup (self);
  return self;
}

static StarlingApplication *
get_app (StarlingWindow *self)
{
  return STARLING_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
}

/* ---- Content area ------------------------------------------------------ */

static void
show_status (StarlingWindow *self,
             const char     *icon_name,
             const char     *title,
             const char     *description,
             gboolean        spinning,
             const char     *button_label,
             const char     *button_action)
{
  adw_status_page_set_icon_name (self->status_page, icon_name);
  adw_status_page_set_title (self->status_page, title);
  adw_status_page_set_description (self->status_page, description);
  gtk_widget_set_visible (GTK_WIDGET (self->status_spinner), spinning);
  gtk_spinner_set_spinning (self->status_spinner, spinning);
  gtk_widget_set_visible (GTK_WIDGET (self->status_button), button_label != NULL);
  if (button_label != NULL)
    {
      gtk_button_set_label (self->status_button, button_label);
      gtk_button_set_use_underline (self->status_button, TRUE);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (self->status_button), button_action);
    }
  adw_bin_set_child (self->page_bin, NULL);
  gtk_stack_set_visible_child_name (self->content_stack, "status");
  adw_window_title_set_title (self->content_title, _("Starling"));
  adw_window_title_set_subtitle (self->content_title,
                                 self->server ? starling_server_get_title (self->server) : NULL);
  self->view = "status";
}

static void
show_page (StarlingWindow *self,
           GtkWidget      *page,
           const char     *view,
           const char     *title,
           const char     *subtitle)
{
  adw_bin_set_child (self->page_bin, page);
  gtk_stack_set_visible_child_name (self->content_stack, "page");
  adw_window_title_set_title (self->content_title, title);
  adw_window_title_set_subtitle (self->content_title, subtitle);
  self->view = view;
}

static void
show_empty_state (StarlingWindow *self)
{
  if (self->n_namespaces == 0)
    show_status (self, "folder-new-symbolic", _("No Namespaces Yet"),
                 _("A namespace holds brokers, and each broker is an MQTT server of its own with its own tokens. Create a namespace to begin."),
                 FALSE, _("_New Namespace"), "win.new-namespace");
  else
    show_status (self, "io.github.starlingmq.Starling-symbolic", _("Select a Namespace or Broker"),
                 _("Pick one in the sidebar to see and change it, or create a new namespace."),
                 FALSE, _("_New Namespace"), "win.new-namespace");
}

static void
set_busy (StarlingWindow *self,
          gboolean        busy)
{
  self->busy = busy;
  gtk_spinner_set_spinning (self->sidebar_spinner, busy);
  gtk_widget_set_visible (GTK_WIDGET (self->sidebar_spinner), busy);
}

/* ---- Pages and their "changed" signal --------------------------------- */

static void
page_changed_cb (StarlingWindow *self,
                 const char     *ns,
                 const char     *broker)
{
  /* Both NULL: something was deleted; nothing to select then, and the
   * reload shows the empty state (not now: the page emitting this is
   * still running its handler). */
  if (ns == NULL)
    {
      g_clear_pointer (&self->select_ns, g_free);
      g_clear_pointer (&self->select_broker, g_free);
      starling_window_reload (self, NULL, NULL);
      return;
    }
  starling_window_reload (self, ns, broker);
}

static void
open_row (StarlingWindow *self,
          GtkListBoxRow  *row)
{
  RowKind kind = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (row), "kind"));
  const char *ns = g_object_get_data (G_OBJECT (row), "ns");
  const char *broker = g_object_get_data (G_OBJECT (row), "broker");
  StApiClient *client = starling_server_get_client (self->server);
  GtkWidget *page;

  switch (kind)
    {
    case ROW_SERVER:
      page = starling_server_page_new (self->server,
                                       starling_server_is_embedded (self->server)
                                       ? starling_application_get_embedded_error (get_app (self)) : NULL);
      show_page (self, page, "server", starling_server_get_title (self->server), _("Server"));
      break;
    case ROW_NAMESPACE:
      page = starling_namespace_page_new (client, ns);
      g_signal_connect_object (page, "changed", G_CALLBACK (page_changed_cb), self, G_CONNECT_SWAPPED);
      show_page (self, page, "namespace", ns, _("Namespace"));
      break;
    case ROW_BROKER:
      page = starling_broker_page_new (client, ns, broker);
      g_signal_connect_object (page, "changed", G_CALLBACK (page_changed_cb), self, G_CONNECT_SWAPPED);
      show_page (self, page, "broker", broker, ns);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
sidebar_row_selected_cb (StarlingWindow *self,
                         GtkListBoxRow  *row)
{
  const char *ns, *broker;

  if (self->populating)
    return;
  if (row == NULL)
    {
      show_empty_state (self);
      return;
    }
  ns = g_object_get_data (G_OBJECT (row), "ns");
  broker = g_object_get_data (G_OBJECT (row), "broker");
  g_settings_set_string (self->settings, "selected-namespace", ns ? ns : "");
  g_settings_set_string (self->settings, "selected-broker", broker ? broker : "");
  g_free (self->select_ns);
  self->select_ns = g_strdup (ns);
  g_free (self->select_broker);
  self->select_broker = g_strdup (broker);
  open_row (self, row);
}

static void
sidebar_row_activated_cb (StarlingWindow *self,
                          GtkListBoxRow  *row)
{
  /* On a narrow (folded) window the sidebar covers the content. */
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_FORWARD);
}

static void
back_clicked_cb (StarlingWindow *self)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/* ---- The sidebar ------------------------------------------------------- */

static GtkWidget *
sidebar_row_new (RowKind     kind,
                 const char *icon_name,
                 const char *label,
                 const char *ns,
                 const char *broker)
{
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *text = gtk_label_new (label);

  gtk_label_set_xalign (GTK_LABEL (text), 0);
  gtk_label_set_ellipsize (GTK_LABEL (text), PANGO_ELLIPSIZE_END);
  gtk_box_append (GTK_BOX (box), gtk_image_new_from_icon_name (icon_name));
  gtk_box_append (GTK_BOX (box), text);
  if (kind == ROW_BROKER)
    gtk_widget_add_css_class (box, "sidebar-broker");
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  g_object_set_data (G_OBJECT (row), "kind", GINT_TO_POINTER (kind));
  g_object_set_data_full (G_OBJECT (row), "ns", g_strdup (ns), g_free);
  g_object_set_data_full (G_OBJECT (row), "broker", g_strdup (broker), g_free);
  return row;
}

static GtkWidget *
sidebar_heading_new (const char *text)
{
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "heading");
  gtk_widget_add_css_class (label, "dim-label");
  gtk_widget_set_margin_top (label, 12);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), label);
  gtk_list_box_row_set_selectable (GTK_LIST_BOX_ROW (row), FALSE);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  return row;
}

static void
clear_sidebar (StarlingWindow *self)
{
  GtkWidget *child;

  self->populating = TRUE;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->sidebar_list))) != NULL)
    gtk_list_box_remove (self->sidebar_list, child);
  self->populating = FALSE;
  self->n_namespaces = 0;
  self->n_brokers = 0;
}

static const char *
json_name (JsonNode *node)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_object_get_string_member_with_default (json_node_get_object (node), "name", NULL);
}

/* namespaces: the API's list; brokers: namespace name → its broker list
 * (missing when that namespace's brokers did not load). */
static void
populate_sidebar (StarlingWindow *self,
                  JsonArray      *namespaces,
                  GHashTable     *brokers)
{
  GtkListBoxRow *to_select = NULL;
  GtkWidget *server_row;
  guint n = json_array_get_length (namespaces);

  clear_sidebar (self);
  self->populating = TRUE;

  server_row = sidebar_row_new (ROW_SERVER,
                                starling_server_is_embedded (self->server)
                                ? "computer-symbolic" : "network-server-symbolic",
                                _("Server Details"), NULL, NULL);
  gtk_list_box_append (self->sidebar_list, server_row);
  if (n > 0)
    gtk_list_box_append (self->sidebar_list, sidebar_heading_new (_("Namespaces")));

  for (guint i = 0; i < n; i++)
    {
      const char *ns = json_name (json_array_get_element (namespaces, i));
      JsonArray *list;
      GtkWidget *row;

      if (ns == NULL)
        continue;
      row = sidebar_row_new (ROW_NAMESPACE, "folder-symbolic", ns, ns, NULL);
      gtk_list_box_append (self->sidebar_list, row);
      self->n_namespaces++;
      if (g_strcmp0 (ns, self->select_ns) == 0 && self->select_broker == NULL)
        to_select = GTK_LIST_BOX_ROW (row);

      list = g_hash_table_lookup (brokers, ns);
      for (guint j = 0; list != NULL && j < json_array_get_length (list); j++)
        {
          const char *broker = json_name (json_array_get_element (list, j));

          if (broker == NULL)
            continue;
          row = sidebar_row_new (ROW_BROKER, "network-wireless-symbolic", broker, ns, broker);
          gtk_list_box_append (self->sidebar_list, row);
          self->n_brokers++;
          if (g_strcmp0 (ns, self->select_ns) == 0 && g_strcmp0 (broker, self->select_broker) == 0)
            to_select = GTK_LIST_BOX_ROW (row);
        }
    }
  self->populating = FALSE;

  if (to_select != NULL)
    gtk_list_box_select_row (self->sidebar_list, to_select);
  else if (g_strcmp0 (self->view, "server") == 0)
    gtk_list_box_select_row (self->sidebar_list, GTK_LIST_BOX_ROW (server_row));
  else
    {
      g_clear_pointer (&self->select_ns, g_free);
      g_clear_pointer (&self->select_broker, g_free);
      show_empty_state (self);
    }
}

/* One sidebar load: the namespaces, then every namespace's brokers at
 * once; the sidebar is rebuilt when the last answer is in. */
typedef struct {
  StarlingWindow *self;
  GCancellable   *cancellable;
  JsonArray      *namespaces;
  GHashTable     *brokers;
  guint           pending;
} Load;

typedef struct {
  Load *load;
  char *ns;
} BrokersRequest;

static void
load_free (Load *load)
{
  g_object_unref (load->self);
  g_object_unref (load->cancellable);
  g_clear_pointer (&load->namespaces, json_array_unref);
  g_hash_table_unref (load->brokers);
  g_free (load);
}

static void
load_done (Load *load)
{
  StarlingWindow *self = load->self;

  set_busy (self, FALSE);
  populate_sidebar (self, load->namespaces, load->brokers);
  load_free (load);
}

static void
show_load_error (StarlingWindow *self,
                 const GError   *error)
{
  starling_toast_error (GTK_WIDGET (self->toast_overlay), _("Could not load the namespaces"), error);
  clear_sidebar (self);
  show_status (self, "network-error-symbolic", _("Could Not Reach the Server"),
               error->message, FALSE, _("_Try Again"), "win.refresh");
}

static void
brokers_loaded (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  BrokersRequest *request = user_data;
  Load *load = request->load;
  g_autofree char *ns = request->ns;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;

  g_free (request);
  node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);
  if (g_cancellable_is_cancelled (load->cancellable))
    {
      if (--load->pending == 0)
        load_free (load);
      return;
    }
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_autofree char *what = g_strdup_printf (_("Could not load the brokers of %s"), ns);

      if (error != NULL)
        starling_toast_error (GTK_WIDGET (load->self->toast_overlay), what, error);
      else
        starling_toast (GTK_WIDGET (load->self->toast_overlay), what);
    }
  else
    g_hash_table_insert (load->brokers, g_strdup (ns), json_array_ref (json_node_get_array (node)));

  if (--load->pending == 0)
    load_done (load);
}

static void
namespaces_loaded (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Load *load = user_data;
  StarlingWindow *self = load->self;
  StApiClient *client = ST_API_CLIENT (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  guint n;

  node = st_api_client_request_finish (client, result, &error);
  if (g_cancellable_is_cancelled (load->cancellable))
    {
      load_free (load);
      return;
    }
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      if (error == NULL)
        g_set_error (&error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE, _("The server answered with something other than a list"));
      set_busy (self, FALSE);
      show_load_error (self, error);
      load_free (load);
      return;
    }

  load->namespaces = json_array_ref (json_node_get_array (node));
  n = json_array_get_length (load->namespaces);
  if (n == 0)
    {
      load_done (load);
      return;
    }
  /* Every request counts before any can finish. */
  load->pending = n;
  for (guint i = 0; i < n; i++)
    {
      const char *ns = json_name (json_array_get_element (load->namespaces, i));
      g_autofree char *path = NULL;
      BrokersRequest *request;

      if (ns == NULL)
        {
          if (--load->pending == 0)
            load_done (load);
          continue;
        }
      path = g_strdup_printf ("namespaces/%s/brokers", ns);
      request = g_new0 (BrokersRequest, 1);
      request->load = load;
      request->ns = g_strdup (ns);
      st_api_client_request_async (client, "GET", path, NULL, NULL, load->cancellable,
                                   brokers_loaded, request);
    }
}

static void
server_ready_cb (StarlingWindow *self)
{
  starling_window_reload (self, NULL, NULL);
}

void
starling_window_reload (StarlingWindow *self,
                        const char     *ns,
                        const char     *broker)
{
  StApiClient *client;
  Load *load;

  g_return_if_fail (STARLING_IS_WINDOW (self));

  if (ns != NULL)
    {
      g_free (self->select_ns);
      self->select_ns = g_strdup (ns);
      g_free (self->select_broker);
      self->select_broker = g_strdup (broker);
    }

  g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  if (self->server == NULL)
    return;

  client = starling_server_get_client (self->server);
  if (client == NULL)
    {
      const GError *error = starling_server_is_embedded (self->server)
                            ? starling_application_get_embedded_error (get_app (self)) : NULL;

      set_busy (self, error == NULL);
      clear_sidebar (self);
      if (error != NULL)
        show_status (self, "dialog-error-symbolic", _("The Embedded Broker Did Not Start"),
                     error->message, FALSE, _("_Add Server…"), "win.add-server");
      else
        show_status (self, "io.github.starlingmq.Starling-symbolic", _("Starting the Embedded Broker"),
                     _("Opening its data and binding its listeners on this computer."),
                     TRUE, NULL, NULL);
      return;
    }

  self->load_cancellable = g_cancellable_new ();
  set_busy (self, TRUE);
  if (self->n_namespaces == 0 && self->view == NULL)
    show_status (self, "io.github.starlingmq.Starling-symbolic", _("Loading"),
                 NULL, TRUE, NULL, NULL);

  load = g_new0 (Load, 1);
  load->self = g_object_ref (self);
  load->cancellable = g_object_ref (self->load_cancellable);
  load->brokers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_array_unref);
  st_api_client_request_async (client, "GET", "namespaces", NULL, NULL, load->cancellable,
                               namespaces_loaded, load);
}

/* ---- Servers ----------------------------------------------------------- */

static GtkWidget *
server_row_new (gpointer item,
                gpointer user_data)
{
  StarlingWindow *self = user_data;
  StarlingServer *server = item;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *check = gtk_image_new_from_icon_name ("object-select-symbolic");

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), starling_server_get_title (server));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row),
                               starling_server_is_embedded (server)
                               ? _("Embedded broker") : starling_server_get_api_url (server));
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  gtk_widget_set_visible (check, server == self->server);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), check);
  g_object_set_data_full (G_OBJECT (row), "server", g_object_ref (server), g_object_unref);
  return row;
}

static void
rebind_server_list (StarlingWindow *self)
{
  /* Rebinding redraws the check marks. */
  gtk_list_box_bind_model (self->server_list,
                           starling_application_get_servers (get_app (self)),
                           server_row_new, self, NULL);
}

static void
server_row_activated_cb (StarlingWindow *self,
                         GtkListBoxRow  *row)
{
  StarlingServer *server = g_object_get_data (G_OBJECT (row), "server");

  gtk_popover_popdown (self->server_popover);
  starling_window_set_server (self, server);
}

StarlingServer *
starling_window_get_server (StarlingWindow *self)
{
  g_return_val_if_fail (STARLING_IS_WINDOW (self), NULL);
  return self->server;
}

void
starling_window_set_server (StarlingWindow *self,
                            StarlingServer *server)
{
  g_return_if_fail (STARLING_IS_WINDOW (self));
  g_return_if_fail (STARLING_IS_SERVER (server));

  if (server == self->server)
    return;

  if (self->server != NULL)
    {
      g_clear_signal_handler (&self->ready_handler, self->server);
      g_clear_object (&self->server);
      /* Another server's namespaces are other namespaces. */
      g_clear_pointer (&self->select_ns, g_free);
      g_clear_pointer (&self->select_broker, g_free);
      g_settings_set_string (self->settings, "selected-namespace", "");
      g_settings_set_string (self->settings, "selected-broker", "");
    }
  self->server = g_object_ref (server);
  self->ready_handler = g_signal_connect_swapped (server, "notify::ready", G_CALLBACK (server_ready_cb), self);
  g_settings_set_string (self->settings, "selected-server", starling_server_get_id (server));
  gtk_menu_button_set_label (self->server_button, starling_server_get_title (server));
  rebind_server_list (self);

  self->view = NULL;
  clear_sidebar (self);
  starling_window_reload (self, NULL, NULL);
}

static void
server_added_cb (StarlingWindow *self,
                 StarlingServer *server)
{
  g_autofree char *text = NULL;

  server = starling_application_add_server (get_app (self), server);
  starling_window_set_server (self, server);
  text = g_strdup_printf (_("Added %s"), starling_server_get_title (server));
  starling_toast (GTK_WIDGET (self->toast_overlay), text);
}

GtkWindow *
starling_window_add_server (StarlingWindow *self)
{
  GtkWindow *dialog;

  g_return_val_if_fail (STARLING_IS_WINDOW (self), NULL);

  dialog = starling_add_server_dialog_new (GTK_WINDOW (self));
  g_signal_connect_object (dialog, "server-added", G_CALLBACK (server_added_cb), self, G_CONNECT_SWAPPED);
  gtk_window_present (dialog);
  return dialog;
}

static void
servers_changed_cb (StarlingWindow *self,
                    guint           position,
                    guint           removed,
                    guint           added,
                    GListModel     *servers)
{
  /* The server shown was removed: back to the embedded broker. */
  if (self->server != NULL && !starling_server_is_embedded (self->server))
    {
      guint n = g_list_model_get_n_items (servers);

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(StarlingServer) server = g_list_model_get_item (servers, i);

          if (server == self->server)
            return;
        }
      starling_window_set_server (self, starling_application_get_embedded_server (get_app (self)));
    }
}

/* ---- Actions ----------------------------------------------------------- */

static void
namespace_created_cb (StarlingWindow *self,
                      const char     *ns,
                      const char     *broker)
{
  starling_window_reload (self, ns, broker);
}

static void
new_namespace_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  StarlingWindow *self = STARLING_WINDOW (widget);
  StApiClient *client = self->server ? starling_server_get_client (self->server) : NULL;
  GtkWindow *dialog;

  if (client == NULL)
    {
      starling_toast (GTK_WIDGET (self->toast_overlay), _("The server is not ready yet"));
      return;
    }
  dialog = starling_namespace_dialog_new (client, NULL);
  gtk_window_set_transient_for (dialog, GTK_WINDOW (self));
  gtk_window_set_modal (dialog, TRUE);
  g_signal_connect_object (dialog, "changed", G_CALLBACK (namespace_created_cb), self, G_CONNECT_SWAPPED);
  gtk_window_present (dialog);
}

static void
refresh_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  StarlingWindow *self = STARLING_WINDOW (widget);
  GtkWidget *page = adw_bin_get_child (self->page_bin);

  starling_window_reload (self, NULL, NULL);
  if (STARLING_IS_NAMESPACE_PAGE (page))
    starling_namespace_page_reload (STARLING_NAMESPACE_PAGE (page));
  else if (STARLING_IS_BROKER_PAGE (page))
    starling_broker_page_reload (STARLING_BROKER_PAGE (page));
}

static void
add_server_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  starling_window_add_server (STARLING_WINDOW (widget));
}

static void
show_server_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  StarlingWindow *self = STARLING_WINDOW (widget);
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (self->sidebar_list, 0);

  if (row != NULL)
    {
      gtk_list_box_select_row (self->sidebar_list, row);
      adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_FORWARD);
    }
}

static void
remove_server_response (AdwMessageDialog *dialog,
                        const char       *response,
                        StarlingWindow   *self)
{
  StarlingServer *server = g_object_get_data (G_OBJECT (dialog), "server");

  if (g_strcmp0 (response, "remove") == 0)
    starling_application_remove_server (get_app (self), server);
}

static void
remove_server_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  StarlingWindow *self = STARLING_WINDOW (widget);
  GtkWidget *dialog;

  if (self->server == NULL || starling_server_is_embedded (self->server))
    return;
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Remove Server?"), NULL);
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog),
                                  _("The app forgets %s and its token. Nothing changes on the server itself."),
                                  starling_server_get_title (self->server));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "remove", _("_Remove"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "server", g_object_ref (self->server), g_object_unref);
  g_signal_connect_object (dialog, "response", G_CALLBACK (remove_server_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- Window state ------------------------------------------------------ */

static gboolean
starling_window_close_request (GtkWindow *window)
{
  StarlingWindow *self = STARLING_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));

  return GTK_WINDOW_CLASS (starling_window_parent_class)->close_request (window);
}

static void
window_setup (StarlingWindow *self)
{
  StarlingApplication *app = get_app (self);
  g_autofree char *server_id = NULL;
  g_autofree char *ns = NULL;
  g_autofree char *broker = NULL;
  StarlingServer *server;
  GListModel *servers;

  self->settings = g_object_ref (starling_application_get_settings (app));
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  servers = starling_application_get_servers (app);
  g_signal_connect_object (servers, "items-changed", G_CALLBACK (servers_changed_cb), self, G_CONNECT_SWAPPED);

  /* The last server, namespace and broker, if they are still there. */
  server_id = g_settings_get_string (self->settings, "selected-server");
  ns = g_settings_get_string (self->settings, "selected-namespace");
  broker = g_settings_get_string (self->settings, "selected-broker");
  server = starling_application_find_server (app, server_id);
  if (server == NULL)
    server = starling_application_get_embedded_server (app);
  starling_window_set_server (self, server);
  if (*ns != '\0')
    starling_window_reload (self, ns, *broker != '\0' ? broker : NULL);
}

static void
starling_window_dispose (GObject *object)
{
  StarlingWindow *self = STARLING_WINDOW (object);

  g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  if (self->server != NULL)
    g_clear_signal_handler (&self->ready_handler, self->server);
  g_clear_object (&self->server);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->select_ns, g_free);
  g_clear_pointer (&self->select_broker, g_free);

  /* The sidebar drops its selected row as it goes, and row-selected would
   * show the empty state on a status page already gone (quitting with a
   * namespace selected). */
  self->populating = TRUE;
  gtk_widget_dispose_template (GTK_WIDGET (self), STARLING_TYPE_WINDOW);

  G_OBJECT_CLASS (starling_window_parent_class)->dispose (object);
}

static void
starling_window_class_init (StarlingWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = starling_window_dispose;
  window_class->close_request = starling_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/starlingmq/Starling/starling-window.ui");
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, server_button);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, server_popover);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, server_list);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, sidebar_spinner);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, sidebar_list);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, content_title);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, status_page);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, status_spinner);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, status_button);
  gtk_widget_class_bind_template_child (widget_class, StarlingWindow, page_bin);
  gtk_widget_class_bind_template_callback (widget_class, sidebar_row_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, sidebar_row_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, server_row_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, back_clicked_cb);

  gtk_widget_class_install_action (widget_class, "win.new-namespace", NULL, new_namespace_action);
  gtk_widget_class_install_action (widget_class, "win.refresh", NULL, refresh_action);
  gtk_widget_class_install_action (widget_class, "win.add-server", NULL, add_server_action);
  gtk_widget_class_install_action (widget_class, "win.show-server", NULL, show_server_action);
  gtk_widget_class_install_action (widget_class, "win.remove-server", NULL, remove_server_action);
}

static void
starling_window_init (StarlingWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

gboolean
starling_window_is_busy (StarlingWindow *self)
{
  g_return_val_if_fail (STARLING_IS_WINDOW (self), FALSE);
  return self->busy;
}

guint
starling_window_get_n_namespaces (StarlingWindow *self)
{
  g_return_val_if_fail (STARLING_IS_WINDOW (self), 0);
  return self->n_namespaces;
}

guint
starling_window_get_n_brokers (StarlingWindow *self)
{
  g_return_val_if_fail (STARLING_IS_WINDOW (self), 0);
  return self->n_brokers;
}

const char *
starling_window_get_view (StarlingWindow *self)
{
  g_return_val_if_fail (STARLING_IS_WINDOW (self), NULL);
  return self->view;
}

AdwStatusPage *
starling_window_get_status_page (StarlingWindow *self)
{
  g_return_val_if_fail (STARLING_IS_WINDOW (self), NULL);
  return self->status_page;
}

GtkWidget *
starling_window_get_page (StarlingWindow *self)
{
  g_return_val_if_fail (STARLING_IS_WINDOW (self), NULL);
  return adw_bin_get_child (self->page_bin);
}
