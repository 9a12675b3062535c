#define G_LOG_DOMAIN "starling-credentials-dialog"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-credentials-dialog.h"
#include "starling-broker-page.h"
#include "starling-util.h"

#define MAX_CREDENTIALS 100

struct _StarlingCredentialsDialog
{
  AdwWindow             parent_instance;

  StApiClient          *client;
  char                 *ns;
  char                 *broker;
  char                 *endpoint;
  GCancellable         *cancellable;
  guint                 busy;
  JsonObject           *issued;        /* {clientId: token}, once issued */
  GtkFileChooserNative *save_chooser;
  char                 *save_text;     /* what the chooser's file gets */

  GtkButton            *cancel_button;
  GtkButton            *issue_button;
  GtkButton            *done_button;
  GtkSpinner           *spinner;
  GtkStack             *stack;
  AdwActionRow         *number_row;
  GtkSpinButton        *number_spin;
  AdwComboRow          *expiration_unit_row;
  AdwActionRow         *expiration_amount_row;
  GtkSpinButton        *expiration_amount;
  GtkTextView          *client_ids_view;
  GtkTextView          *acl_view;
  GtkLabel             *error_label;
  GtkListBox           *result_list;
};

G_DEFINE_FINAL_TYPE (StarlingCredentialsDialog, starling_credentials_dialog, ADW_TYPE_WINDOW)

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- Formats -------------------------------------------------------------- */

char *
starling_credentials_format_json (JsonObject *credentials)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), credentials);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_root (generator, node);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  text = json_generator_to_data (generator, NULL);
  return g_strconcat (text, "\n", NULL);
}

static void
append_env_value (GString *s, const char *value)
{
  gboolean plain = *value != '\0';

  for (const char *p = value; *p && plain; p++)
    plain = g_ascii_isalnum (*p) || strchr ("._-:/+=", *p) != NULL;
  if (plain)
    {
      g_string_append (s, value);
      return;
    }
  g_string_append_c (s, '"');
  for (const char *p = value; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (s, '\\');
      if (*p == '\n')
        g_string_append (s, "\\n");
      else
        g_string_append_c (s, *p);
    }
  g_string_append_c (s, '"');
}

char *
starling_credentials_format_env (JsonObject *credentials,
                                 const char *endpoint)
{
  g_autoptr(GString) s = g_string_new ("# Starling MQTT credentials: connect with CLIENT_ID_n as the client id\n"
                                       "# and TOKEN_n as the password.\n");
  JsonObjectIter iter;
  const char *client_id;
  JsonNode *token;
  guint n = 0;

  if (endpoint != NULL)
    {
      g_string_append (s, "STARLING_ENDPOINT=");
      append_env_value (s, endpoint);
      g_string_append_c (s, '\n');
    }
  json_object_iter_init_ordered (&iter, credentials);
  while (json_object_iter_next_ordered (&iter, &client_id, &token))
    {
      n++;
      g_string_append_printf (s, "CLIENT_ID_%u=", n);
      append_env_value (s, client_id);
      g_string_append_printf (s, "\nTOKEN_%u=", n);
      append_env_value (s, JSON_NODE_HOLDS_VALUE (token) ? json_node_get_string (token) : "");
      g_string_append_c (s, '\n');
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* ---- State ---------------------------------------------------------------- */

static char *
view_text (GtkTextView *view)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

/* Non-empty, trimmed items of text split at any of separators. */
static GPtrArray *
split_items (const char *text, const char *separators)
{
  g_auto(GStrv) parts = g_strsplit_set (text, separators, -1);
  GPtrArray *items = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; parts[i]; i++)
    if (*g_strstrip (parts[i]) != '\0')
      g_ptr_array_add (items, g_strdup (parts[i]));
  return items;
}

static void
update_state (StarlingCredentialsDialog *self)
{
  g_autofree char *ids = view_text (self->client_ids_view);
  g_autoptr(GPtrArray) client_ids = split_items (ids, ",\n");
  gboolean idle = self->busy == 0;
  gboolean form = self->issued == NULL;

  /* Given client ids decide the number: one credential each. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->number_row), idle && client_ids->len == 0);
  if (client_ids->len > 0)
    {
      g_autofree char *text = g_strdup_printf (ngettext ("One for the client id given below",
                                                         "One for each of the %u client ids given below",
                                                         client_ids->len),
                                               client_ids->len);
      adw_action_row_set_subtitle (self->number_row, text);
    }
  else
    adw_action_row_set_subtitle (self->number_row, "");
  gtk_widget_set_sensitive (GTK_WIDGET (self->expiration_unit_row), idle);
  gtk_widget_set_sensitive (GTK_WIDGET (self->expiration_amount_row),
                            idle && adw_combo_row_get_selected (self->expiration_unit_row) != STARLING_EXPIRY_NONE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->client_ids_view), idle);
  gtk_widget_set_sensitive (GTK_WIDGET (self->acl_view), idle);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.issue",
                                 idle && form && client_ids->len <= MAX_CREDENTIALS);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.save-json", idle && !form);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "dialog.save-env", idle && !form);
  gtk_widget_set_visible (GTK_WIDGET (self->issue_button), form);
  gtk_widget_set_visible (GTK_WIDGET (self->cancel_button), form);
  gtk_widget_set_visible (GTK_WIDGET (self->done_button), !form);
  gtk_spinner_set_spinning (self->spinner, !idle);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), !idle);
}

static void
set_busy (StarlingCredentialsDialog *self, gboolean busy)
{
  if (busy)
    self->busy++;
  else
    self->busy--;
  update_state (self);
}

static void
show_error (StarlingCredentialsDialog *self, const char *text)
{
  gtk_label_set_text (self->error_label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), text != NULL);
}

static void
form_changed_cb (StarlingCredentialsDialog *self)
{
  g_autofree char *ids = view_text (self->client_ids_view);
  g_autoptr(GPtrArray) client_ids = split_items (ids, ",\n");

  if (client_ids->len > MAX_CREDENTIALS)
    {
      g_autofree char *text = g_strdup_printf (_("At most %d client ids at once (not %u)"),
                                               MAX_CREDENTIALS, client_ids->len);
      show_error (self, text);
    }
  else
    show_error (self, NULL);
  update_state (self);
}

/* ---- Result --------------------------------------------------------------- */

static GtkWidget *
copy_button (const char *action, const char *target, const char *tooltip)
{
  GtkWidget *button = gtk_button_new_from_icon_name (g_str_equal (action, "dialog.copy-command")
                                                     ? "utilities-terminal-symbolic" : "edit-copy-symbolic");

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", target);
  return button;
}

static void
show_result (StarlingCredentialsDialog *self)
{
  JsonObjectIter iter;
  const char *client_id;
  JsonNode *token;

  json_object_iter_init_ordered (&iter, self->issued);
  while (json_object_iter_next_ordered (&iter, &client_id, &token))
    {
      const char *jwt = JSON_NODE_HOLDS_VALUE (token) ? json_node_get_string (token) : "";
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), client_id);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), jwt);
      adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 1);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy_button ("dialog.copy-client-id", client_id,
                                                                   _("Copy Client ID")));
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy_button ("dialog.copy-token", jwt, _("Copy Token")));
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy_button ("dialog.copy-command", client_id,
                                                                   _("Copy a mosquitto_sub Command")));
      g_object_set_data_full (G_OBJECT (row), "client-id", g_strdup (client_id), g_free);
      gtk_list_box_append (self->result_list, row);
    }
  gtk_window_set_title (GTK_WINDOW (self), _("Credentials Issued"));
  gtk_stack_set_visible_child_name (self->stack, "result");
  update_state (self);
}

static void
issued_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingCredentialsDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (ST_API_CLIENT (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (node != NULL && !JSON_NODE_HOLDS_OBJECT (node))
    g_set_error_literal (&error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE,
                         _("The server’s answer is not a set of credentials"));
  if (error != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Could not issue credentials: %s"), error->message);

      show_error (self, text);
      starling_toast (GTK_WIDGET (self), text);
      return;
    }
  self->issued = json_object_ref (json_node_get_object (node));
  show_result (self);
  g_signal_emit (self, signals[CHANGED], 0, self->ns, self->broker);
}

static void
issue_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingCredentialsDialog *self = STARLING_CREDENTIALS_DIALOG (widget);
  g_autofree char *ids = view_text (self->client_ids_view);
  g_autofree char *acl_text = view_text (self->acl_view);
  g_autoptr(GPtrArray) client_ids = split_items (ids, ",\n");
  g_autoptr(GPtrArray) acl = split_items (acl_text, "\n");
  g_autoptr(GPtrArray) query = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *path = NULL;
  gint64 expiration;

  if (self->busy > 0 || self->issued != NULL || client_ids->len > MAX_CREDENTIALS)
    return;
  g_ptr_array_add (query, g_strdup ("type"));
  g_ptr_array_add (query, g_strdup ("TOKEN"));
  if (client_ids->len == 0)
    {
      g_ptr_array_add (query, g_strdup ("number"));
      g_ptr_array_add (query, g_strdup_printf ("%d", gtk_spin_button_get_value_as_int (self->number_spin)));
    }
  for (guint i = 0; i < client_ids->len; i++)
    {
      g_ptr_array_add (query, g_strdup ("clientid"));
      g_ptr_array_add (query, g_strdup (g_ptr_array_index (client_ids, i)));
    }
  expiration = starling_expiry_to_seconds (adw_combo_row_get_selected (self->expiration_unit_row),
                                           gtk_spin_button_get_value_as_int (self->expiration_amount));
  if (expiration > 0)
    {
      g_ptr_array_add (query, g_strdup ("expiration"));
      g_ptr_array_add (query, g_strdup_printf ("%" G_GINT64_FORMAT, expiration));
    }
  for (guint i = 0; i < acl->len; i++)
    {
      g_ptr_array_add (query, g_strdup ("topicAcl"));
      g_ptr_array_add (query, g_strdup (g_ptr_array_index (acl, i)));
    }
  g_ptr_array_add (query, NULL);

  path = g_strdup_printf ("namespaces/%s/brokers/%s/credentials", self->ns, self->broker);
  show_error (self, NULL);
  set_busy (self, TRUE);
  st_api_client_request_async (self->client, "GET", path, (const char *const *) query->pdata, NULL,
                               self->cancellable, issued_cb, g_object_ref (self));
}

/* A ready command for one credential: what a person needs to see the
 * broker work, with nothing to fill in but the CA file. */
static void
copy_command_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingCredentialsDialog *self = STARLING_CREDENTIALS_DIALOG (widget);
  const char *client_id = g_variant_get_string (parameter, NULL);
  g_autofree char *command = NULL;

  if (self->issued == NULL || !json_object_has_member (self->issued, client_id))
    return;
  command = starling_snippet_mosquitto_with (self->endpoint,
                                             client_id,
                                             json_object_get_string_member (self->issued, client_id));
  starling_copy_to_clipboard (widget, command, _("mosquitto_sub command"));
}

static void
copy_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  starling_copy_to_clipboard (widget, g_variant_get_string (parameter, NULL),
                              g_strcmp0 (action_name, "dialog.copy-token") == 0 ? _("Token") : _("Client ID"));
}

/* ---- Saving --------------------------------------------------------------- */

static void
saved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingCredentialsDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = g_file_replace_contents_finish (G_FILE (source), result, NULL, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (!ok)
    starling_toast_error (GTK_WIDGET (self), _("Could not save the credentials"), error);
  else
    starling_toast (GTK_WIDGET (self), _("Credentials saved"));
}

static void
save_response_cb (GtkNativeDialog *chooser, int response, gpointer user_data)
{
  StarlingCredentialsDialog *self = STARLING_CREDENTIALS_DIALOG (user_data);
  g_autoptr(GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT && self->save_text != NULL &&
      (file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser))) != NULL)
    {
      set_busy (self, TRUE);
      /* The tokens are secrets: the file is for its owner only. */
      g_file_replace_contents_async (file, self->save_text, strlen (self->save_text), NULL, FALSE,
                                     G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                     self->cancellable, saved_cb, g_object_ref (self));
    }
  g_clear_object (&self->save_chooser);
}

static void
save_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingCredentialsDialog *self = STARLING_CREDENTIALS_DIALOG (widget);
  gboolean env = g_strcmp0 (action_name, "dialog.save-env") == 0;
  g_autofree char *name = NULL;

  if (self->issued == NULL || self->save_chooser != NULL || self->busy > 0)
    return;
  g_free (self->save_text);
  self->save_text = env ? starling_credentials_format_env (self->issued, self->endpoint)
                        : starling_credentials_format_json (self->issued);
  name = env ? g_strdup (".env") : g_strdup_printf ("%s-%s-credentials.json", self->ns, self->broker);
  self->save_chooser = gtk_file_chooser_native_new (env ? _("Save Credentials as .env") : _("Save Credentials as JSON"),
                                                    GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SAVE,
                                                    _("_Save"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->save_chooser), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->save_chooser), name);
  g_signal_connect_object (self->save_chooser, "response", G_CALLBACK (save_response_cb), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->save_chooser));
}

/* ---- GObject -------------------------------------------------------------- */

static void
starling_credentials_dialog_dispose (GObject *object)
{
  StarlingCredentialsDialog *self = STARLING_CREDENTIALS_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  if (self->save_chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->save_chooser));
  g_clear_object (&self->save_chooser);
  gtk_widget_dispose_template (GTK_WIDGET (self), STARLING_TYPE_CREDENTIALS_DIALOG);
  G_OBJECT_CLASS (starling_credentials_dialog_parent_class)->dispose (object);
}

static void
starling_credentials_dialog_finalize (GObject *object)
{
  StarlingCredentialsDialog *self = STARLING_CREDENTIALS_DIALOG (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_pointer (&self->issued, json_object_unref);
  g_free (self->ns);
  g_free (self->broker);
  g_free (self->endpoint);
  g_free (self->save_text);
  G_OBJECT_CLASS (starling_credentials_dialog_parent_class)->finalize (object);
}

static void
starling_credentials_dialog_class_init (StarlingCredentialsDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = starling_credentials_dialog_dispose;
  object_class->finalize = starling_credentials_dialog_finalize;

  /**
   * StarlingCredentialsDialog::changed:
   * @ns: the broker's namespace
   * @broker: the broker that issued credentials
   */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/starlingmq/Starling/starling-credentials-dialog.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, StarlingCredentialsDialog, name)
  BIND (cancel_button);
  BIND (issue_button);
  BIND (done_button);
  BIND (spinner);
  BIND (stack);
  BIND (number_row);
  BIND (number_spin);
  BIND (expiration_unit_row);
  BIND (expiration_amount_row);
  BIND (expiration_amount);
  BIND (client_ids_view);
  BIND (acl_view);
  BIND (error_label);
  BIND (result_list);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, form_changed_cb);

  gtk_widget_class_install_action (widget_class, "dialog.issue", NULL, issue_action);
  gtk_widget_class_install_action (widget_class, "dialog.copy-client-id", "s", copy_action);
  gtk_widget_class_install_action (widget_class, "dialog.copy-token", "s", copy_action);
  gtk_widget_class_install_action (widget_class, "dialog.copy-command", "s", copy_command_action);
  gtk_widget_class_install_action (widget_class, "dialog.save-json", NULL, save_action);
  gtk_widget_class_install_action (widget_class, "dialog.save-env", NULL, save_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
starling_credentials_dialog_init (StarlingCredentialsDialog *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect_object (gtk_text_view_get_buffer (self->client_ids_view), "changed",
                           G_CALLBACK (form_changed_cb), self, G_CONNECT_SWAPPED);
}

GtkWindow *
starling_credentials_dialog_new (StApiClient *client,
                                 const char  *ns,
                                 const char  *broker,
                                 const char  *endpoint)
{
  StarlingCredentialsDialog *self;

  g_return_val_if_fail (ST_IS_API_CLIENT (client), NULL);
  g_return_val_if_fail (ns != NULL && broker != NULL, NULL);

  self = g_object_new (STARLING_TYPE_CREDENTIALS_DIALOG, NULL);
  self->client = g_object_ref (client);
  self->ns = g_strdup (ns);
  self->broker = g_strdup (broker);
  self->endpoint = g_strdup (endpoint);
  update_state (self);
  return GTK_WINDOW (self);
}
