#define G_LOG_DOMAIN "starling-namespace-page"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-namespace-page.h"
#include "starling-broker-dialog.h"
#include "starling-namespace-dialog.h"
#include "starling-util.h"

struct _StarlingNamespacePage
{
  AdwBin          parent_instance;

  StApiClient    *client;
  char           *ns;
  GCancellable   *cancellable;
  guint           busy;
  guint           loading;       /* requests of the current (re)load */
  gboolean        load_failed;
  char           *id;
  GPtrArray      *broker_names;

  GtkStack       *stack;
  GtkSpinner     *loading_spinner;
  AdwStatusPage  *error_page;
  GtkLabel       *title_label;
  GtkSpinner     *spinner;
  AdwActionRow   *description_row;
  AdwActionRow   *created_row;
  AdwActionRow   *modified_row;
  AdwActionRow   *id_row;
  GtkStack       *brokers_stack;
  GtkListBox     *brokers_list;
  GtkButton      *empty_new_button;
};

G_DEFINE_FINAL_TYPE (StarlingNamespacePage, starling_namespace_page, ADW_TYPE_BIN)

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
update_state (StarlingNamespacePage *self)
{
  gboolean idle = self->busy == 0;

  gtk_spinner_set_spinning (self->spinner, !idle);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), !idle);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "namespace.edit", idle);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "namespace.delete", idle);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "namespace.new-broker", idle);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "namespace.reload", idle);
}

static void
set_busy (StarlingNamespacePage *self, gboolean busy)
{
  if (busy)
    self->busy++;
  else
    self->busy--;
  update_state (self);
}

static void
set_subtitle (AdwActionRow *row, const char *text)
{
  adw_action_row_set_subtitle (row, text != NULL && *text != '\0' ? text : "—");
}

/* The first answer decides what the page shows: the content once both
 * requests are in, or the error of the first that failed. */
static void
load_step_done (StarlingNamespacePage *self, const GError *error)
{
  if (error != NULL && !self->load_failed)
    {
      g_autofree char *text = g_strdup_printf (_("Namespace “%s”: %s"), self->ns, error->message);

      self->load_failed = TRUE;
      adw_status_page_set_description (self->error_page, text);
      gtk_stack_set_visible_child_name (self->stack, "error");
    }
  if (--self->loading == 0)
    {
      gtk_spinner_set_spinning (self->loading_spinner, FALSE);
      if (!self->load_failed)
        gtk_stack_set_visible_child_name (self->stack, "content");
    }
  set_busy (self, FALSE);
}

static void
namespace_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingNamespacePage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);
  g_autofree char *created = NULL;
  g_autofree char *modified = NULL;
  JsonObject *o;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      o = json_node_get_object (node);
      gtk_label_set_text (self->title_label, json_object_get_string_member_with_default (o, "name", self->ns));
      set_subtitle (self->description_row, json_object_get_string_member_with_default (o, "description", NULL));
      created = starling_format_time (json_object_get_string_member_with_default (o, "created_on", NULL));
      modified = starling_format_time (json_object_get_string_member_with_default (o, "modified_on", NULL));
      set_subtitle (self->created_row, created);
      set_subtitle (self->modified_row, modified);
      g_free (self->id);
      self->id = g_strdup (json_object_get_string_member_with_default (o, "id", NULL));
      set_subtitle (self->id_row, self->id);
    }
  else if (node != NULL)
    g_set_error_literal (&error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE, _("The server’s answer is not a namespace"));
  load_step_done (self, error);
}

static GtkWidget *
broker_row_new (JsonObject *o)
{
  const char *name = json_object_get_string_member_with_default (o, "name", "");
  const char *description = json_object_get_string_member_with_default (o, "description", "");
  const char *endpoint = json_object_get_string_member_with_default (o, "endpoint", "");
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), *description ? description : endpoint);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name ("go-next-symbolic"));
  g_object_set_data_full (G_OBJECT (row), "broker-name", g_strdup (name), g_free);
  return row;
}

static void
brokers_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingNamespacePage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);
  GtkWidget *child;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *list = json_node_get_array (node);

      while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->brokers_list))) != NULL)
        gtk_list_box_remove (self->brokers_list, child);
      g_ptr_array_set_size (self->broker_names, 0);
      for (guint i = 0; i < json_array_get_length (list); i++)
        {
          JsonObject *o = json_array_get_object_element (list, i);

          if (o == NULL)
            continue;
          gtk_list_box_append (self->brokers_list, broker_row_new (o));
          g_ptr_array_add (self->broker_names,
                           g_strdup (json_object_get_string_member_with_default (o, "name", "")));
        }
      gtk_stack_set_visible_child_name (self->brokers_stack, self->broker_names->len > 0 ? "list" : "empty");
    }
  else if (node != NULL)
    g_set_error_literal (&error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE, _("The server’s answer is not a list of brokers"));
  load_step_done (self, error);
}

void
starling_namespace_page_reload (StarlingNamespacePage *self)
{
  g_autofree char *path = NULL;
  g_autofree char *brokers_path = NULL;

  g_return_if_fail (STARLING_IS_NAMESPACE_PAGE (self));

  if (self->loading > 0)
    return;
  path = g_strdup_printf ("namespaces/%s", self->ns);
  brokers_path = g_strdup_printf ("namespaces/%s/brokers", self->ns);
  self->load_failed = FALSE;
  self->loading = 2;
  /* The first load has nothing to show yet; a reload keeps the content
   * and spins the header spinner. */
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "content") != 0)
    {
      gtk_stack_set_visible_child_name (self->stack, "loading");
      gtk_spinner_set_spinning (self->loading_spinner, TRUE);
    }
  set_busy (self, TRUE);
  set_busy (self, TRUE);
  st_api_client_request_async (self->client, "GET", path, NULL, NULL, self->cancellable,
                               namespace_loaded_cb, g_object_ref (self));
  st_api_client_request_async (self->client, "GET", brokers_path, NULL, NULL, self->cancellable,
                               brokers_loaded_cb, g_object_ref (self));
}

static void
broker_activated_cb (StarlingNamespacePage *self, GtkListBoxRow *row)
{
  const char *name = g_object_get_data (G_OBJECT (row), "broker-name");

  if (name != NULL)
    g_signal_emit (self, signals[CHANGED], 0, self->ns, name);
}

/* A sub-dialog changed something: show it here, and tell the window. */
static void
dialog_changed_cb (StarlingNamespacePage *self, const char *ns, const char *broker)
{
  starling_namespace_page_reload (self);
  g_signal_emit (self, signals[CHANGED], 0, ns, broker);
}

static void
present_dialog (StarlingNamespacePage *self, GtkWindow *dialog)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (GTK_IS_WINDOW (root))
    gtk_window_set_transient_for (dialog, GTK_WINDOW (root));
  gtk_window_set_modal (dialog, TRUE);
  g_signal_connect_object (dialog, "changed", G_CALLBACK (dialog_changed_cb), self, G_CONNECT_SWAPPED);
  gtk_window_present (dialog);
}

static void
new_broker_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingNamespacePage *self = STARLING_NAMESPACE_PAGE (widget);

  present_dialog (self, starling_broker_dialog_new (self->client, self->ns, NULL));
}

static void
edit_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingNamespacePage *self = STARLING_NAMESPACE_PAGE (widget);

  present_dialog (self, starling_namespace_dialog_new (self->client, self->ns));
}

static void
reload_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  starling_namespace_page_reload (STARLING_NAMESPACE_PAGE (widget));
}

static void
copy_id_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingNamespacePage *self = STARLING_NAMESPACE_PAGE (widget);

  if (self->id != NULL)
    starling_copy_to_clipboard (widget, self->id, _("Namespace ID"));
}

static void
deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingNamespacePage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);
  g_autofree char *text = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (node == NULL)
    {
      starling_toast_error (GTK_WIDGET (self), _("Could not delete the namespace"), error);
      return;
    }
  /* Translators: %s is a namespace name */
  text = g_strdup_printf (_("Namespace “%s” deleted"), self->ns);
  starling_toast (GTK_WIDGET (self), text);
  g_signal_emit (self, signals[CHANGED], 0, NULL, NULL);
}

static void
delete_response_cb (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  StarlingNamespacePage *self = STARLING_NAMESPACE_PAGE (user_data);
  g_autofree char *path = NULL;

  if (g_strcmp0 (response, "delete") != 0 || self->busy > 0)
    return;
  path = g_strdup_printf ("namespaces/%s", self->ns);
  set_busy (self, TRUE);
  st_api_client_request_async (self->client, "DELETE", path, NULL, NULL, self->cancellable,
                               deleted_cb, g_object_ref (self));
}

static void
delete_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingNamespacePage *self = STARLING_NAMESPACE_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  if (self->broker_names->len == 0)
    body = g_strdup (_("The namespace has no brokers. This cannot be undone."));
  else
    {
      g_autoptr(GString) names = g_string_new (NULL);

      for (guint i = 0; i < self->broker_names->len; i++)
        {
          if (i > 0)
            g_string_append (names, ", ");
          g_string_append (names, g_ptr_array_index (self->broker_names, i));
        }
      if (self->broker_names->len == 1)
        /* Translators: %s is a broker name */
        body = g_strdup_printf (_("Its broker “%s” is deleted too, with its credentials, sessions and retained messages, and its clients are disconnected. This cannot be undone."),
                                names->str);
      else
        /* Translators: %u is a number of brokers, %s their names */
        body = g_strdup_printf (ngettext ("Its %u broker (%s) is deleted too, with their credentials, sessions and retained messages, and their clients are disconnected. This cannot be undone.",
                                          "Its %u brokers (%s) are deleted too, with their credentials, sessions and retained messages, and their clients are disconnected. This cannot be undone.",
                                          self->broker_names->len),
                                self->broker_names->len, names->str);
    }
  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, NULL, body);
  /* Translators: %s is a namespace name */
  adw_message_dialog_format_heading (ADW_MESSAGE_DIALOG (dialog), _("Delete Namespace “%s”?"), self->ns);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "delete", _("_Delete"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "delete", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (delete_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
starling_namespace_page_dispose (GObject *object)
{
  StarlingNamespacePage *self = STARLING_NAMESPACE_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  /* AdwBin unparents its child itself; the template must not do it
   * again. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), STARLING_TYPE_NAMESPACE_PAGE);
  G_OBJECT_CLASS (starling_namespace_page_parent_class)->dispose (object);
}

static void
starling_namespace_page_finalize (GObject *object)
{
  StarlingNamespacePage *self = STARLING_NAMESPACE_PAGE (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_pointer (&self->broker_names, g_ptr_array_unref);
  g_free (self->ns);
  g_free (self->id);
  G_OBJECT_CLASS (starling_namespace_page_parent_class)->finalize (object);
}

static void
starling_namespace_page_class_init (StarlingNamespacePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = starling_namespace_page_dispose;
  object_class->finalize = starling_namespace_page_finalize;

  /**
   * StarlingNamespacePage::changed:
   * @ns: (nullable): the namespace to select
   * @broker: (nullable): the broker to select
   */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/starlingmq/Starling/starling-namespace-page.ui");
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, stack);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, loading_spinner);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, error_page);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, title_label);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, spinner);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, description_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, created_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, modified_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, id_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, brokers_stack);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, brokers_list);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespacePage, empty_new_button);
  gtk_widget_class_bind_template_callback (widget_class, broker_activated_cb);

  gtk_widget_class_install_action (widget_class, "namespace.reload", NULL, reload_action);
  gtk_widget_class_install_action (widget_class, "namespace.edit", NULL, edit_action);
  gtk_widget_class_install_action (widget_class, "namespace.delete", NULL, delete_action);
  gtk_widget_class_install_action (widget_class, "namespace.new-broker", NULL, new_broker_action);
  gtk_widget_class_install_action (widget_class, "namespace.copy-id", NULL, copy_id_action);
}

static void
starling_namespace_page_init (StarlingNamespacePage *self)
{
  self->cancellable = g_cancellable_new ();
  self->broker_names = g_ptr_array_new_with_free_func (g_free);
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
starling_namespace_page_new (StApiClient *client,
                             const char  *ns)
{
  StarlingNamespacePage *self;

  g_return_val_if_fail (ST_IS_API_CLIENT (client), NULL);
  g_return_val_if_fail (ns != NULL, NULL);

  self = g_object_new (STARLING_TYPE_NAMESPACE_PAGE, NULL);
  self->client = g_object_ref (client);
  self->ns = g_strdup (ns);
  gtk_label_set_text (self->title_label, ns);
  starling_namespace_page_reload (self);
  return GTK_WIDGET (self);
}
