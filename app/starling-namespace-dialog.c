#define G_LOG_DOMAIN "starling-namespace-dialog"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-namespace-dialog.h"
#include "starling-util.h"

/* The control API's "method not allowed": a server without a namespace
 * PATCH route. */
#define API_METHOD_NOT_ALLOWED 7001

struct _StarlingNamespaceDialog
{
  AdwWindow     parent_instance;

  StApiClient  *client;
  char         *ns;          /* NULL: creating */
  GCancellable *cancellable;
  guint         busy;
  gboolean      name_touched;

  GtkButton    *save_button;
  GtkSpinner   *spinner;
  AdwEntryRow  *name_row;
  AdwEntryRow  *description_row;
  GtkLabel     *name_message;
  GtkLabel     *error_label;
};

G_DEFINE_FINAL_TYPE (StarlingNamespaceDialog, starling_namespace_dialog, ADW_TYPE_WINDOW)

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static gboolean
name_valid (StarlingNamespaceDialog *self, char **message)
{
  if (self->ns != NULL)
    return TRUE;
  return starling_name_check (gtk_editable_get_text (GTK_EDITABLE (self->name_row)), message);
}

static void
update_state (StarlingNamespaceDialog *self)
{
  g_autofree char *message = NULL;
  gboolean valid = name_valid (self, &message);

  /* An empty field the user has not typed in yet is not an error to shout
   * about; it only keeps Create insensitive. */
  gtk_label_set_text (self->name_message, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->name_message), message != NULL && self->name_touched);
  if (message != NULL && self->name_touched)
    gtk_widget_add_css_class (GTK_WIDGET (self->name_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->name_row), "error");

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.save", valid && self->busy == 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->name_row), self->ns == NULL && self->busy == 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->description_row), self->busy == 0);
  gtk_spinner_set_spinning (self->spinner, self->busy > 0);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), self->busy > 0);
}

static void
set_busy (StarlingNamespaceDialog *self, gboolean busy)
{
  if (busy)
    self->busy++;
  else
    self->busy--;
  update_state (self);
}

static void
show_error (StarlingNamespaceDialog *self, const char *text)
{
  gtk_label_set_text (self->error_label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), text != NULL);
}

static void
name_changed_cb (StarlingNamespaceDialog *self)
{
  self->name_touched = TRUE;
  show_error (self, NULL);
  update_state (self);
}

static void
loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingNamespaceDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (node == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Could not load namespace “%s”: %s"), self->ns, error->message);
      show_error (self, text);
      return;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *o = json_node_get_object (node);

      gtk_editable_set_text (GTK_EDITABLE (self->description_row),
                             json_object_get_string_member_with_default (o, "description", ""));
    }
}

static void
saved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingNamespaceDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);
  const char *name;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (node == NULL)
    {
      g_autofree char *text = NULL;

      if (g_error_matches (error, ST_API_ERROR, API_METHOD_NOT_ALLOWED))
        text = g_strdup (_("This server cannot change a namespace’s description."));
      else
        text = g_strdup_printf (self->ns ? _("Could not save the namespace: %s")
                                         : _("Could not create the namespace: %s"),
                                error->message);
      show_error (self, text);
      starling_toast (GTK_WIDGET (self), text);
      return;
    }
  /* The server's spelling (it folds case) is what the sidebar will list. */
  name = JSON_NODE_HOLDS_OBJECT (node)
    ? json_object_get_string_member_with_default (json_node_get_object (node), "name", NULL)
    : NULL;
  if (name == NULL)
    name = self->ns ? self->ns : gtk_editable_get_text (GTK_EDITABLE (self->name_row));
  g_signal_emit (self, signals[CHANGED], 0, name, NULL);
  /* The user may have closed the dialog while the server worked. */
  if (gtk_widget_get_visible (GTK_WIDGET (self)))
    gtk_window_close (GTK_WINDOW (self));
}

static void
save_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingNamespaceDialog *self = STARLING_NAMESPACE_DIALOG (widget);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *path = NULL;

  if (!name_valid (self, NULL) || self->busy > 0)
    return;
  json_builder_begin_object (b);
  if (self->ns == NULL)
    {
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, gtk_editable_get_text (GTK_EDITABLE (self->name_row)));
    }
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, gtk_editable_get_text (GTK_EDITABLE (self->description_row)));
  json_builder_end_object (b);
  body = json_builder_get_root (b);

  show_error (self, NULL);
  set_busy (self, TRUE);
  if (self->ns == NULL)
    st_api_client_request_async (self->client, "POST", "namespaces", NULL, body,
                                 self->cancellable, saved_cb, g_object_ref (self));
  else
    {
      path = g_strdup_printf ("namespaces/%s", self->ns);
      st_api_client_request_async (self->client, "PATCH", path, NULL, body,
                                   self->cancellable, saved_cb, g_object_ref (self));
    }
}

static void
starling_namespace_dialog_dispose (GObject *object)
{
  StarlingNamespaceDialog *self = STARLING_NAMESPACE_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), STARLING_TYPE_NAMESPACE_DIALOG);
  G_OBJECT_CLASS (starling_namespace_dialog_parent_class)->dispose (object);
}

static void
starling_namespace_dialog_finalize (GObject *object)
{
  StarlingNamespaceDialog *self = STARLING_NAMESPACE_DIALOG (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_free (self->ns);
  G_OBJECT_CLASS (starling_namespace_dialog_parent_class)->finalize (object);
}

static void
starling_namespace_dialog_class_init (StarlingNamespaceDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = starling_namespace_dialog_dispose;
  object_class->finalize = starling_namespace_dialog_finalize;

  /**
   * StarlingNamespaceDialog::changed:
   * @ns: the namespace made or changed
   * @broker: always %NULL
   */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/starlingmq/Starling/starling-namespace-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespaceDialog, save_button);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespaceDialog, spinner);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespaceDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespaceDialog, description_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespaceDialog, name_message);
  gtk_widget_class_bind_template_child (widget_class, StarlingNamespaceDialog, error_label);
  gtk_widget_class_bind_template_callback (widget_class, name_changed_cb);

  gtk_widget_class_install_action (widget_class, "dialog.save", NULL, save_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
starling_namespace_dialog_init (StarlingNamespaceDialog *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWindow *
starling_namespace_dialog_new (StApiClient *client,
                               const char  *ns_or_null)
{
  StarlingNamespaceDialog *self;

  g_return_val_if_fail (ST_IS_API_CLIENT (client), NULL);

  self = g_object_new (STARLING_TYPE_NAMESPACE_DIALOG, NULL);
  self->client = g_object_ref (client);
  self->ns = g_strdup (ns_or_null);
  if (self->ns != NULL)
    {
      g_autofree char *path = g_strdup_printf ("namespaces/%s", self->ns);

      gtk_window_set_title (GTK_WINDOW (self), _("Edit Namespace"));
      gtk_button_set_label (self->save_button, _("_Save"));
      gtk_editable_set_text (GTK_EDITABLE (self->name_row), self->ns);
      self->name_touched = FALSE;
      set_busy (self, TRUE);
      st_api_client_request_async (self->client, "GET", path, NULL, NULL,
                                   self->cancellable, loaded_cb, g_object_ref (self));
    }
  update_state (self);
  return GTK_WINDOW (self);
}
