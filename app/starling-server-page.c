#define G_LOG_DOMAIN "starling-server-page"

#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "starling-server-page.h"
#include "starling-util.h"

struct _StarlingServerPage
{
  AdwBin          parent_instance;

  StarlingServer *server;
};

G_DEFINE_FINAL_TYPE (StarlingServerPage, starling_server_page, ADW_TYPE_BIN)

static void
copy_clicked (GtkButton *button)
{
  starling_copy_to_clipboard (GTK_WIDGET (button),
                              g_object_get_data (G_OBJECT (button), "text"),
                              g_object_get_data (G_OBJECT (button), "what"));
}

static void
reveal_toggled (GtkToggleButton *reveal,
                AdwActionRow    *row)
{
  gboolean shown = gtk_toggle_button_get_active (reveal);

  adw_action_row_set_subtitle (row, shown ? g_object_get_data (G_OBJECT (reveal), "text") : "••••••••••••••••");
  gtk_widget_set_tooltip_text (GTK_WIDGET (reveal), shown ? _("Hide") : _("Show"));
}

/* A row showing value with a copy button; secret values are
 * dotted out until the eye button is pressed. */
static GtkWidget *
value_row_new (const char *title,
               const char *value,
               const char *what,
               gboolean    secret)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *copy = gtk_button_new_from_icon_name ("edit-copy-symbolic");
  g_autofree char *copy_tooltip = g_strdup_printf (_("Copy %s"), title);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), secret ? "••••••••••••••••" : value);
  gtk_widget_add_css_class (row, "monospace-value");

  if (secret)
    {
      GtkWidget *reveal = gtk_toggle_button_new ();

      gtk_button_set_icon_name (GTK_BUTTON (reveal), "view-reveal-symbolic");
      gtk_widget_set_tooltip_text (reveal, _("Show"));
      gtk_widget_set_valign (reveal, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (reveal, "flat");
      g_object_set_data_full (G_OBJECT (reveal), "text", g_strdup (value), g_free);
      g_signal_connect (reveal, "toggled", G_CALLBACK (reveal_toggled), row);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), reveal);
    }

  gtk_widget_set_tooltip_text (copy, copy_tooltip);
  gtk_widget_set_valign (copy, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (copy, "flat");
  g_object_set_data_full (G_OBJECT (copy), "text", g_strdup (value), g_free);
  g_object_set_data_full (G_OBJECT (copy), "what", g_strdup (what), g_free);
  g_signal_connect (copy, "clicked", G_CALLBACK (copy_clicked), NULL);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy);
  return row;
}

static GtkWidget *
group_new (AdwPreferencesPage *page,
           const char         *title,
           const char         *description)
{
  GtkWidget *group = adw_preferences_group_new ();

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), title);
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (group), description);
  adw_preferences_page_add (page, ADW_PREFERENCES_GROUP (group));
  return group;
}

static void
add_listeners (AdwPreferencesPage *page,
               const char         *ready_json)
{
  static const struct {
    const char *kind;
    const char *title;
    const char *scheme;
    const char *path;
  } kinds[] = {
    { "mqtt",  N_("MQTT over TCP"), "mqtt", "" },
    { "mqtts", N_("MQTT over TLS"), "mqtts", "" },
    { "ws",    N_("MQTT over WebSocket"), "ws", "/mqtt" },
    { "wss",   N_("MQTT over Secure WebSocket"), "wss", "/mqtt" },
  };
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root, *listeners;
  GtkWidget *group;
  const char *ca_file, *data_dir;

  if (ready_json == NULL || !json_parser_load_from_data (parser, ready_json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  root = json_node_get_object (json_parser_get_root (parser));
  listeners = json_object_get_object_member (root, "listeners");

  group = group_new (page, _("Listeners"),
                     _("MQTT clients connect here, with a token issued for a broker as the password. TLS clients use the hostname of the broker’s endpoint."));
  for (guint i = 0; listeners != NULL && i < G_N_ELEMENTS (kinds); i++)
    {
      JsonObject *listener = json_object_get_object_member (listeners, kinds[i].kind);
      g_autofree char *url = NULL;

      if (listener == NULL)
        continue;
      url = g_strdup_printf ("%s://%s:%" G_GINT64_FORMAT "%s", kinds[i].scheme,
                             json_object_get_string_member_with_default (listener, "host", "127.0.0.1"),
                             json_object_get_int_member_with_default (listener, "port", 0),
                             kinds[i].path);
      adw_preferences_group_add (ADW_PREFERENCES_GROUP (group),
                                 value_row_new (_(kinds[i].title), url, _("Address"), FALSE));
    }

  group = group_new (page, _("Storage"), NULL);
  data_dir = json_object_get_string_member_with_default (root, "data_dir", NULL);
  if (data_dir != NULL)
    adw_preferences_group_add (ADW_PREFERENCES_GROUP (group),
                               value_row_new (_("Data Folder"), data_dir, _("Folder"), FALSE));
  ca_file = json_object_get_string_member_with_default (root, "ca_file", NULL);
  if (ca_file != NULL)
    adw_preferences_group_add (ADW_PREFERENCES_GROUP (group),
                               value_row_new (_("Local CA Certificate"), ca_file, _("File name"), FALSE));
}

GtkWidget *
starling_server_page_new (StarlingServer *server,
                          const GError   *start_error)
{
  StarlingServerPage *self;
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *group;
  const char *url, *token;

  g_return_val_if_fail (STARLING_IS_SERVER (server), NULL);

  self = g_object_new (STARLING_TYPE_SERVER_PAGE, NULL);
  self->server = g_object_ref (server);
  adw_bin_set_child (ADW_BIN (self), page);

  if (start_error != NULL)
    {
      GtkWidget *status = adw_status_page_new ();

      adw_status_page_set_icon_name (ADW_STATUS_PAGE (status), "dialog-error-symbolic");
      adw_status_page_set_title (ADW_STATUS_PAGE (status), _("The Embedded Broker Did Not Start"));
      adw_status_page_set_description (ADW_STATUS_PAGE (status), start_error->message);
      adw_bin_set_child (ADW_BIN (self), status);
      return GTK_WIDGET (self);
    }

  url = starling_server_get_api_url (server);
  token = starling_server_get_token (server);
  group = group_new (ADW_PREFERENCES_PAGE (page), _("Control API"),
                     starling_server_is_embedded (server)
                     ? _("The embedded broker runs inside this app and stops when it quits. Scripts, starlingctl and wrangler reach it with this URL and token.")
                     : _("A starlingd this app reaches over the network."));
  if (url != NULL)
    adw_preferences_group_add (ADW_PREFERENCES_GROUP (group),
                               value_row_new (_("API URL"), url, _("API URL"), FALSE));
  if (token != NULL)
    adw_preferences_group_add (ADW_PREFERENCES_GROUP (group),
                               value_row_new (starling_server_is_embedded (server) ? _("Admin Token") : _("API Token"),
                                              token, _("Token"), TRUE));
  else if (starling_server_is_embedded (server))
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Admin Token"));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row),
                                   _("The file admin-token is missing from the data folder; create a token with “starlingd token create”."));
      adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);
    }

  if (starling_server_is_embedded (server))
    add_listeners (ADW_PREFERENCES_PAGE (page),
                   starling_embedded_get_ready_json (starling_server_get_embedded (server)));
  else
    {
      GtkWidget *remove = gtk_button_new_with_mnemonic (_("_Remove Server…"));

      group = group_new (ADW_PREFERENCES_PAGE (page), NULL, NULL);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (remove), "win.remove-server");
      gtk_widget_set_halign (remove, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (remove, "pill");
      gtk_widget_add_css_class (remove, "destructive-action");
      adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), remove);
    }
  return GTK_WIDGET (self);
}

static void
starling_server_page_dispose (GObject *object)
{
  StarlingServerPage *self = STARLING_SERVER_PAGE (object);

  g_clear_object (&self->server);

  G_OBJECT_CLASS (starling_server_page_parent_class)->dispose (object);
}

static void
starling_server_page_class_init (StarlingServerPageClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = starling_server_page_dispose;
}

static void
starling_server_page_init (StarlingServerPage *self)
{
}
