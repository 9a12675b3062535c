#define G_LOG_DOMAIN "starling-add-server-dialog"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-add-server-dialog.h"

struct _StarlingAddServerDialog
{
  AdwWindow     parent_instance;

  AdwEntryRow  *url_row;
  AdwEntryRow  *token_row;
  GtkLabel     *error_label;
  GtkSpinner   *spinner;
  GtkWidget    *add_button;

  GCancellable *cancellable;
  gboolean      busy;
};

G_DEFINE_FINAL_TYPE (StarlingAddServerDialog, starling_add_server_dialog, ADW_TYPE_WINDOW)

enum { SERVER_ADDED, N_SIGNALS };
static guint signals[N_SIGNALS];

GtkWindow *
starling_add_server_dialog_new (GtkWindow *parent)
{
  return g_object_new (STARLING_TYPE_ADD_SERVER_DIALOG, "transient-for", parent, NULL);
}

static void
show_error (StarlingAddServerDialog *self,
            const char              *text)
{
  gtk_label_set_text (self->error_label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), text != NULL);
}

static void
set_busy (StarlingAddServerDialog *self,
          gboolean                 busy)
{
  self->busy = busy;
  gtk_spinner_set_spinning (self->spinner, busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->url_row), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->token_row), !busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.add", !busy);
}

static void
fields_changed_cb (StarlingAddServerDialog *self)
{
  /* The old error was about the old text. */
  show_error (self, NULL);
}

static void
verified (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  StarlingServer *server = user_data;
  StarlingAddServerDialog *self = g_object_get_data (G_OBJECT (server), "dialog");
  g_autoptr(GError) error = NULL;
  g_autofree char *status = NULL;

  status = st_api_client_verify_finish (ST_API_CLIENT (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (server);
      return;
    }
  set_busy (self, FALSE);
  if (status == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("The server refused: %s"), error->message);

      show_error (self, text);
    }
  else if (g_strcmp0 (status, "active") != 0)
    {
      g_autofree char *text = g_strdup_printf (_("The token is not active (its status is “%s”)"), status);

      show_error (self, text);
    }
  else
    {
      g_object_set_data (G_OBJECT (server), "dialog", NULL);
      g_signal_emit (self, signals[SERVER_ADDED], 0, server);
      gtk_window_close (GTK_WINDOW (self));
    }
  g_object_unref (server);
}

void
starling_add_server_dialog_submit (StarlingAddServerDialog *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *token = NULL;
  StarlingServer *server;

  g_return_if_fail (STARLING_IS_ADD_SERVER_DIALOG (self));

  if (self->busy)
    return;
  url = starling_server_normalize_url (gtk_editable_get_text (GTK_EDITABLE (self->url_row)), &error);
  if (url == NULL)
    {
      show_error (self, error->message);
      return;
    }
  token = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->token_row))));
  if (*token == '\0')
    {
      show_error (self, _("Enter an API token"));
      return;
    }

  show_error (self, NULL);
  set_busy (self, TRUE);
  server = starling_server_new_remote (url, token);
  /* Weak: the dialog may close first, and then cancels the check. */
  g_object_set_data (G_OBJECT (server), "dialog", self);
  st_api_client_verify_async (starling_server_get_client (server), self->cancellable, verified, server);
}

static void
token_activated_cb (StarlingAddServerDialog *self)
{
  starling_add_server_dialog_submit (self);
}

static void
add_action (GtkWidget  *widget,
            const char *action_name,
            GVariant   *parameter)
{
  starling_add_server_dialog_submit (STARLING_ADD_SERVER_DIALOG (widget));
}

void
starling_add_server_dialog_set_fields (StarlingAddServerDialog *self,
                                       const char              *api_url,
                                       const char              *token)
{
  g_return_if_fail (STARLING_IS_ADD_SERVER_DIALOG (self));

  gtk_editable_set_text (GTK_EDITABLE (self->url_row), api_url ? api_url : "");
  gtk_editable_set_text (GTK_EDITABLE (self->token_row), token ? token : "");
}

gboolean
starling_add_server_dialog_is_busy (StarlingAddServerDialog *self)
{
  g_return_val_if_fail (STARLING_IS_ADD_SERVER_DIALOG (self), FALSE);
  return self->busy;
}

const char *
starling_add_server_dialog_get_error (StarlingAddServerDialog *self)
{
  g_return_val_if_fail (STARLING_IS_ADD_SERVER_DIALOG (self), NULL);

  if (!gtk_widget_get_visible (GTK_WIDGET (self->error_label)))
    return NULL;
  return gtk_label_get_text (self->error_label);
}

static void
starling_add_server_dialog_dispose (GObject *object)
{
  StarlingAddServerDialog *self = STARLING_ADD_SERVER_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), STARLING_TYPE_ADD_SERVER_DIALOG);

  G_OBJECT_CLASS (starling_add_server_dialog_parent_class)->dispose (object);
}

static void
starling_add_server_dialog_class_init (StarlingAddServerDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = starling_add_server_dialog_dispose;

  signals[SERVER_ADDED] =
    g_signal_new ("server-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, STARLING_TYPE_SERVER);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/starlingmq/Starling/starling-add-server-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, StarlingAddServerDialog, url_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingAddServerDialog, token_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingAddServerDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, StarlingAddServerDialog, spinner);
  gtk_widget_class_bind_template_child (widget_class, StarlingAddServerDialog, add_button);
  gtk_widget_class_bind_template_callback (widget_class, fields_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, token_activated_cb);

  gtk_widget_class_install_action (widget_class, "dialog.add", NULL, add_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
starling_add_server_dialog_init (StarlingAddServerDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}
