#define G_LOG_DOMAIN "starling-broker-dialog"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-broker-dialog.h"
#include "starling-util.h"

/* The control API's name errors: invalid, and taken. */
#define API_INVALID_NAME 10102
#define API_BROKER_EXISTS 10301

struct _StarlingBrokerDialog
{
  AdwWindow      parent_instance;

  StApiClient   *client;
  char          *ns;
  char          *broker;        /* NULL: creating */
  GCancellable  *cancellable;
  guint          busy;
  gboolean       name_touched;
  gboolean       load_failed;   /* saving would overwrite what could not be read */

  GtkButton     *save_button;
  GtkSpinner    *spinner;
  AdwEntryRow   *name_row;
  AdwEntryRow   *description_row;
  GtkLabel      *name_message;
  AdwActionRow  *auth_row;
  GtkSwitch     *auth_switch;
  AdwComboRow   *expiration_unit_row;
  AdwActionRow  *expiration_amount_row;
  GtkSpinButton *expiration_amount;
  GtkLabel      *expiration_message;
  AdwEntryRow   *on_publish_row;
  AdwComboRow   *failure_row;
  GtkLabel      *on_publish_message;
  GtkLabel      *error_label;
};

G_DEFINE_FINAL_TYPE (StarlingBrokerDialog, starling_broker_dialog, ADW_TYPE_WINDOW)

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* The failure choices, in the order failure_row lists them; the API's
 * on_publish.failure values. */
static const char *const failure_values[] = { "drop", "deliver" };

static gboolean
name_valid (StarlingBrokerDialog *self, char **message)
{
  if (self->broker != NULL)
    return TRUE;
  return starling_name_check (gtk_editable_get_text (GTK_EDITABLE (self->name_row)), message);
}

static void
update_state (StarlingBrokerDialog *self)
{
  g_autofree char *message = NULL;
  gboolean valid = name_valid (self, &message);
  gboolean idle = self->busy == 0;
  gboolean has_url = *gtk_editable_get_text (GTK_EDITABLE (self->on_publish_row)) != '\0';
  gboolean token_auth = gtk_switch_get_active (self->auth_switch);

  gtk_label_set_text (self->name_message, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->name_message), message != NULL && self->name_touched);
  if (message != NULL && self->name_touched)
    gtk_widget_add_css_class (GTK_WIDGET (self->name_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->name_row), "error");

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.save", valid && idle && !self->load_failed);
  gtk_widget_set_sensitive (GTK_WIDGET (self->name_row), self->broker == NULL && idle);
  gtk_widget_set_sensitive (GTK_WIDGET (self->description_row), idle);
  /* authType is chosen once, when the broker is made; without tokens,
   * an expiration means nothing. */
  gtk_widget_set_visible (GTK_WIDGET (self->auth_row), self->broker == NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->auth_row), idle);
  gtk_widget_set_sensitive (GTK_WIDGET (self->expiration_unit_row), idle && token_auth);
  gtk_widget_set_sensitive (GTK_WIDGET (self->expiration_amount_row),
                            idle && token_auth &&
                            adw_combo_row_get_selected (self->expiration_unit_row) != STARLING_EXPIRY_NONE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->on_publish_row), idle);
  gtk_widget_set_sensitive (GTK_WIDGET (self->failure_row), idle && has_url);
  gtk_spinner_set_spinning (self->spinner, !idle);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), !idle);
}

static void
set_busy (StarlingBrokerDialog *self, gboolean busy)
{
  if (busy)
    self->busy++;
  else
    self->busy--;
  update_state (self);
}

static void
set_message (GtkLabel *label, const char *text)
{
  gtk_label_set_text (label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (label), text != NULL);
}

static void
clear_messages (StarlingBrokerDialog *self)
{
  set_message (self->error_label, NULL);
  set_message (self->expiration_message, NULL);
  set_message (self->on_publish_message, NULL);
}

static void
name_changed_cb (StarlingBrokerDialog *self)
{
  self->name_touched = TRUE;
  clear_messages (self);
  update_state (self);
}

static void
expiration_changed_cb (StarlingBrokerDialog *self)
{
  set_message (self->expiration_message, NULL);
  update_state (self);
}

static void
on_publish_changed_cb (StarlingBrokerDialog *self)
{
  set_message (self->on_publish_message, NULL);
  update_state (self);
}

static void
fill (StarlingBrokerDialog *self, JsonObject *o)
{
  JsonNode *expiration = json_object_get_member (o, "expiration");
  JsonNode *on_publish = json_object_get_member (o, "on_publish");
  StarlingExpiryUnit unit = STARLING_EXPIRY_NONE;
  guint amount = 1;

  gtk_editable_set_text (GTK_EDITABLE (self->description_row),
                         json_object_get_string_member_with_default (o, "description", ""));
  gtk_switch_set_active (self->auth_switch,
                         g_strcmp0 (json_object_get_string_member_with_default (o, "authType", "TOKEN"), "NONE") != 0);
  if (expiration != NULL && JSON_NODE_HOLDS_VALUE (expiration))
    starling_expiry_from_seconds (json_node_get_int (expiration), &unit, &amount);
  adw_combo_row_set_selected (self->expiration_unit_row, unit);
  gtk_spin_button_set_value (self->expiration_amount, amount);
  if (on_publish != NULL && JSON_NODE_HOLDS_OBJECT (on_publish))
    {
      JsonObject *hook = json_node_get_object (on_publish);
      const char *failure = json_object_get_string_member_with_default (hook, "failure", "drop");

      gtk_editable_set_text (GTK_EDITABLE (self->on_publish_row),
                             json_object_get_string_member_with_default (hook, "url", ""));
      adw_combo_row_set_selected (self->failure_row, g_strcmp0 (failure, "deliver") == 0 ? 1 : 0);
    }
}

static void
loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (node == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Could not load broker “%s”: %s"), self->broker, error->message);

      self->load_failed = TRUE;
      update_state (self);
      set_message (self->error_label, text);
      return;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    fill (self, json_node_get_object (node));
  clear_messages (self);
}

/* Puts the server's message next to the field it is about, so the user
 * sees what to change; anything else goes below the form. */
static void
show_server_error (StarlingBrokerDialog *self, const GError *error)
{
  g_autofree char *text = g_strdup_printf (self->broker ? _("Could not save the broker: %s")
                                                        : _("Could not create the broker: %s"),
                                           error->message);

  if (g_error_matches (error, ST_API_ERROR, API_INVALID_NAME) ||
      g_error_matches (error, ST_API_ERROR, API_BROKER_EXISTS))
    {
      set_message (self->name_message, error->message);
      gtk_widget_add_css_class (GTK_WIDGET (self->name_row), "error");
    }
  else if (strstr (error->message, "on_publish") != NULL)
    set_message (self->on_publish_message, error->message);
  else if (strstr (error->message, "expiration") != NULL)
    set_message (self->expiration_message, error->message);
  else
    set_message (self->error_label, text);
  starling_toast (GTK_WIDGET (self), text);
}

static void
saved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);
  const char *name = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (node == NULL)
    {
      show_server_error (self, error);
      return;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    name = json_object_get_string_member_with_default (json_node_get_object (node), "name", NULL);
  if (name == NULL)
    name = self->broker ? self->broker : gtk_editable_get_text (GTK_EDITABLE (self->name_row));
  g_signal_emit (self, signals[CHANGED], 0, self->ns, name);
  /* The user may have closed the dialog while the server worked. */
  if (gtk_widget_get_visible (GTK_WIDGET (self)))
    gtk_window_close (GTK_WINDOW (self));
}

static void
save_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingBrokerDialog *self = STARLING_BROKER_DIALOG (widget);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *url = NULL;
  gint64 expiration;
  guint failure;

  if (!name_valid (self, NULL) || self->busy > 0)
    return;
  expiration = starling_expiry_to_seconds (adw_combo_row_get_selected (self->expiration_unit_row),
                                           gtk_spin_button_get_value_as_int (self->expiration_amount));
  url = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->on_publish_row))));
  failure = MIN (adw_combo_row_get_selected (self->failure_row), G_N_ELEMENTS (failure_values) - 1);

  json_builder_begin_object (b);
  if (self->broker == NULL)
    {
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, gtk_editable_get_text (GTK_EDITABLE (self->name_row)));
    }
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, gtk_editable_get_text (GTK_EDITABLE (self->description_row)));
  /* Creating leaves out what is unset; editing says it, so clearing a
   * field in the form clears it on the server. */
  if (self->broker == NULL && !gtk_switch_get_active (self->auth_switch))
    {
      json_builder_set_member_name (b, "authType");
      json_builder_add_string_value (b, "NONE");
    }
  if ((expiration > 0 && gtk_switch_get_active (self->auth_switch)) || self->broker != NULL)
    {
      json_builder_set_member_name (b, "expiration");
      json_builder_add_int_value (b, expiration);
    }
  if (*url != '\0')
    {
      json_builder_set_member_name (b, "on_publish");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "url");
      json_builder_add_string_value (b, url);
      json_builder_set_member_name (b, "failure");
      json_builder_add_string_value (b, failure_values[failure]);
      json_builder_end_object (b);
    }
  else if (self->broker != NULL)
    {
      json_builder_set_member_name (b, "on_publish");
      json_builder_add_null_value (b);
    }
  json_builder_end_object (b);
  body = json_builder_get_root (b);

  clear_messages (self);
  set_busy (self, TRUE);
  if (self->broker == NULL)
    {
      g_autofree char *path = g_strdup_printf ("namespaces/%s/brokers", self->ns);

      st_api_client_request_async (self->client, "POST", path, NULL, body,
                                   self->cancellable, saved_cb, g_object_ref (self));
    }
  else
    {
      g_autofree char *path = g_strdup_printf ("namespaces/%s/brokers/%s", self->ns, self->broker);

      st_api_client_request_async (self->client, "PATCH", path, NULL, body,
                                   self->cancellable, saved_cb, g_object_ref (self));
    }
}

static void
starling_broker_dialog_dispose (GObject *object)
{
  StarlingBrokerDialog *self = STARLING_BROKER_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), STARLING_TYPE_BROKER_DIALOG);
  G_OBJECT_CLASS (starling_broker_dialog_parent_class)->dispose (object);
}

static void
starling_broker_dialog_finalize (GObject *object)
{
  StarlingBrokerDialog *self = STARLING_BROKER_DIALOG (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_free (self->ns);
  g_free (self->broker);
  G_OBJECT_CLASS (starling_broker_dialog_parent_class)->finalize (object);
}

static void
starling_broker_dialog_class_init (StarlingBrokerDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = starling_broker_dialog_dispose;
  object_class->finalize = starling_broker_dialog_finalize;

  /**
   * StarlingBrokerDialog::changed:
   * @ns: the broker's namespace
   * @broker: the broker made or changed
   */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/starlingmq/Starling/starling-broker-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, save_button);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, spinner);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, description_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, name_message);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, auth_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, auth_switch);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, expiration_unit_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, expiration_amount_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, expiration_amount);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, expiration_message);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, on_publish_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, failure_row);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, on_publish_message);
  gtk_widget_class_bind_template_child (widget_class, StarlingBrokerDialog, error_label);
  gtk_widget_class_bind_template_callback (widget_class, name_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, expiration_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_publish_changed_cb);

  gtk_widget_class_install_action (widget_class, "dialog.save", NULL, save_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
starling_broker_dialog_init (StarlingBrokerDialog *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWindow *
starling_broker_dialog_new (StApiClient *client,
                            const char  *ns,
                            const char  *broker_or_null)
{
  StarlingBrokerDialog *self;

  g_return_val_if_fail (ST_IS_API_CLIENT (client), NULL);
  g_return_val_if_fail (ns != NULL, NULL);

  self = g_object_new (STARLING_TYPE_BROKER_DIALOG, NULL);
  self->client = g_object_ref (client);
  self->ns = g_strdup (ns);
  self->broker = g_strdup (broker_or_null);
  if (self->broker != NULL)
    {
      g_autofree char *path = g_strdup_printf ("namespaces/%s/brokers/%s", self->ns, self->broker);

      gtk_window_set_title (GTK_WINDOW (self), _("Edit Broker"));
      gtk_button_set_label (self->save_button, _("_Save"));
      gtk_editable_set_text (GTK_EDITABLE (self->name_row), self->broker);
      self->name_touched = FALSE;
      set_busy (self, TRUE);
      st_api_client_request_async (self->client, "GET", path, NULL, NULL,
                                   self->cancellable, loaded_cb, g_object_ref (self));
    }
  update_state (self);
  return GTK_WINDOW (self);
}
