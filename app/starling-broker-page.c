#define G_LOG_DOMAIN "starling-broker-page"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-broker-page.h"
#include "starling-broker-dialog.h"
#include "starling-credentials-dialog.h"
#include "starling-inspector.h"
#include "starling-util.h"

/* The control API's "no local CA": the server uses the operator's own
 * certificate. */
#define API_NO_CA 10203

/* What the snippets say where the user must put their own values. */
#define CA_FILE_NAME "starling-ca.pem"

struct _StarlingBrokerPage
{
  AdwBin                parent_instance;

  StApiClient          *client;
  char                 *ns;
  char                 *broker;
  GCancellable         *cancellable;
  guint                 busy;
  gboolean              loaded;
  gboolean              token_auth;
  char                 *id;
  char                 *endpoint;
  char                 *ca_pem;
  GHashTable           *client_ids;    /* jti → client id, for the revocation list */
  guint                 stats_id;      /* the hook counters' refresh, while mapped */
  gboolean              stats_pending;
  GtkFileChooserNative *save_chooser;

  GtkStack             *stack;
  GtkSpinner           *loading_spinner;
  AdwStatusPage        *error_page;
  GtkLabel             *title_label;
  GtkLabel             *subtitle_label;
  GtkSpinner           *spinner;
  AdwViewStack         *view_stack;
  AdwBin               *traffic_bin;
  AdwActionRow         *endpoint_row;
  AdwActionRow         *auth_row;
  AdwActionRow         *expiration_row;
  AdwActionRow         *on_publish_row;
  AdwActionRow         *hook_stats_row;
  AdwActionRow         *created_row;
  AdwActionRow         *modified_row;
  AdwActionRow         *id_row;
  GtkTextView          *mqttjs_view;
  GtkTextView          *mosquitto_view;
  GtkStack             *credentials_stack;
  GtkListBox           *credentials_list;
  GtkStack             *revocations_stack;
  GtkListBox           *revocations_list;
  GtkListBox           *keys_list;
  GtkStack             *ca_stack;
  GtkTextView          *ca_view;
  AdwStatusPage        *ca_none;
};

G_DEFINE_FINAL_TYPE (StarlingBrokerPage, starling_broker_page, ADW_TYPE_BIN)

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void load_sections    (StarlingBrokerPage *self);
static void load_credentials (StarlingBrokerPage *self);
static void load_revocations (StarlingBrokerPage *self);
static void load_keys        (StarlingBrokerPage *self);

/* ---- Busy state ----------------------------------------------------------- */

static void
update_state (StarlingBrokerPage *self)
{
  GtkWidget *w = GTK_WIDGET (self);
  gboolean idle = self->busy == 0;

  gtk_spinner_set_spinning (self->spinner, !idle);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), !idle);
  gtk_widget_action_set_enabled (w, "broker.reload", idle);
  gtk_widget_action_set_enabled (w, "broker.edit", idle && self->loaded);
  gtk_widget_action_set_enabled (w, "broker.delete", idle && self->loaded);
  gtk_widget_action_set_enabled (w, "broker.issue", idle && self->loaded && self->token_auth);
  gtk_widget_action_set_enabled (w, "broker.rotate-key", idle && self->loaded);
  gtk_widget_action_set_enabled (w, "broker.remove-key", idle && self->loaded);
  gtk_widget_action_set_enabled (w, "broker.revoke", idle);
  gtk_widget_action_set_enabled (w, "broker.unrevoke", idle);
  gtk_widget_action_set_enabled (w, "broker.copy-ca", self->ca_pem != NULL);
  gtk_widget_action_set_enabled (w, "broker.save-ca", idle && self->ca_pem != NULL);
}

static void
set_busy (StarlingBrokerPage *self, gboolean busy)
{
  if (busy)
    self->busy++;
  else
    self->busy--;
  update_state (self);
}

/* Every request holds a reference to the page and, when it completes,
 * leaves the busy state; a cancelled one (the page went away) does
 * nothing. */
static void
request (StarlingBrokerPage  *self,
         const char          *method,
         const char          *path,
         const char * const  *query,
         GAsyncReadyCallback  callback)
{
  set_busy (self, TRUE);
  st_api_client_request_async (self->client, method, path, query, NULL, self->cancellable,
                               callback, g_object_ref (self));
}

static JsonNode *
request_finish (StarlingBrokerPage *self, GAsyncResult *result, GError **error)
{
  JsonNode *node = st_api_client_request_finish (self->client, result, error);

  if (!g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    set_busy (self, FALSE);
  return node;
}

static char *
broker_path (StarlingBrokerPage *self, const char *rest)
{
  return g_strdup_printf ("namespaces/%s/brokers/%s%s%s", self->ns, self->broker,
                          rest ? "/" : "", rest ? rest : "");
}

static void
clear_list (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

static void
set_subtitle (AdwActionRow *row, const char *text)
{
  adw_action_row_set_subtitle (row, text != NULL && *text != '\0' ? text : "—");
}

static GtkWidget *
suffix_button (const char *label, const char *action, const char *target, const char *style)
{
  GtkWidget *button = gtk_button_new_with_mnemonic (label);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", target);
  if (style != NULL)
    gtk_widget_add_css_class (button, style);
  return button;
}

static GtkWidget *
copy_button (const char *text)
{
  GtkWidget *button = gtk_button_new_from_icon_name ("edit-copy-symbolic");

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (button, _("Copy"));
  gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "broker.copy");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", text);
  return button;
}

/* ---- Snippets ------------------------------------------------------------- */

static void
endpoint_host_port (const char *endpoint, char **host, int *port)
{
  g_autoptr(GUri) uri = endpoint ? g_uri_parse (endpoint, G_URI_FLAGS_NONE, NULL) : NULL;

  *host = g_strdup (uri && g_uri_get_host (uri) ? g_uri_get_host (uri) : "localhost");
  *port = uri && g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 8883;
}

char *
starling_snippet_mqttjs (const char *endpoint,
                         gboolean    token_auth)
{
  g_autoptr(GString) s = g_string_new (NULL);

  g_string_append (s, "// npm install mqtt\n"
                      "import fs from \"node:fs\";\n"
                      "import mqtt from \"mqtt\";\n\n");
  if (token_auth)
    {
      g_autofree char *host = NULL;
      int port;

      endpoint_host_port (endpoint, &host, &port);
      if (g_str_has_suffix (host, ".localhost"))
        g_string_append_printf (s, "// If %s does not resolve here, connect to\n"
                                   "// \"mqtts://127.0.0.1:%d\": the token picks the broker.\n", host, port);
    }
  g_string_append_printf (s, "const client = mqtt.connect(\"%s\", {\n", endpoint);
  g_string_append (s, "  protocolVersion: 5,\n");
  if (token_auth)
    g_string_append (s, "  clientId: \"<CLIENT_ID>\",\n"
                        "  username: \"token\",\n"
                        "  password: \"<TOKEN>\",\n");
  g_string_append (s, "  ca: fs.readFileSync(\"" CA_FILE_NAME "\"),\n"
                      "});\n\n"
                      "client.on(\"connect\", () => client.subscribe(\"#\"));\n"
                      "client.on(\"message\", (topic, message) => console.log(topic, message.toString()));\n"
                      "client.on(\"error\", (error) => console.error(error.message));\n");
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* Single-quoted for a POSIX shell. */
static void
append_shell_quoted (GString *s, const char *text)
{
  g_string_append_c (s, '\'');
  for (const char *p = text; *p; p++)
    {
      if (*p == '\'')
        g_string_append (s, "'\\''");
      else
        g_string_append_c (s, *p);
    }
  g_string_append_c (s, '\'');
}

char *
starling_snippet_mosquitto_with (const char *endpoint,
                                 const char *client_id,
                                 const char *token)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_autofree char *host = NULL;
  int port;

  endpoint_host_port (endpoint, &host, &port);
  /* Names under .localhost resolve only where the system resolver knows
   * them (systemd's myhostname, resolved); the local CA's certificate
   * also holds 127.0.0.1, and a token's kid picks its broker. */
  if (token != NULL && g_str_has_suffix (host, ".localhost"))
    g_string_append_printf (s, "# If %s does not resolve here, use -h 127.0.0.1:\n"
                               "# the token picks the broker.\n", host);
  g_string_append_printf (s, "mosquitto_sub -h %s -p %d --cafile " CA_FILE_NAME " \\\n  -V mqttv5", host, port);
  /* The client id must be the token's: mosquitto_sub would make up its
   * own, which the broker refuses (0x85). */
  if (token != NULL)
    {
      g_string_append (s, " -i ");
      append_shell_quoted (s, client_id);
      g_string_append (s, " -u token -P ");
      append_shell_quoted (s, token);
      g_string_append (s, " \\\n ");
    }
  g_string_append (s, " -t '#' -v\n");
  return g_string_free (g_steal_pointer (&s), FALSE);
}

char *
starling_snippet_mosquitto (const char *endpoint,
                            gboolean    token_auth)
{
  return starling_snippet_mosquitto_with (endpoint, token_auth ? "<CLIENT_ID>" : NULL,
                                          token_auth ? "<TOKEN>" : NULL);
}

static void
set_text (GtkTextView *view, const char *text)
{
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (view), text ? text : "", -1);
}

static char *
get_text (GtkTextView *view)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

/* ---- The broker ----------------------------------------------------------- */

/* The hook's counters since the server started (on_publish.stats, beyond
 * Cloudflare), refreshed while on screen (stats_tick). */
static void
fill_hook_stats (StarlingBrokerPage *self, JsonObject *hook)
{
  static const char *const names[] = { "sent", "delivered", "changed", "dropped", "failed" };
  JsonNode *node = json_object_get_member (hook, "stats");
  JsonObject *stats = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  char counts[G_N_ELEMENTS (names)][24];
  const char *last_error;

  gtk_widget_set_visible (GTK_WIDGET (self->hook_stats_row), stats != NULL);
  if (stats == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_snprintf (counts[i], sizeof counts[i], "%" G_GINT64_FORMAT,
                json_object_get_int_member_with_default (stats, names[i], 0));
  /* Translators: counters of an on-publish hook's messages, in this order:
   * sent, delivered, changed, dropped, failed */
  g_string_printf (text, _("%s sent, %s delivered, %s changed, %s dropped, %s failed"),
                   counts[0], counts[1], counts[2], counts[3], counts[4]);
  last_error = json_object_get_string_member_with_default (stats, "last_error", NULL);
  if (last_error != NULL && *last_error)
    {
      g_string_append_c (text, '\n');
      /* Translators: %s is the hook's last error, in the server's words */
      g_string_append_printf (text, _("Last error: %s"), last_error);
    }
  set_subtitle (self->hook_stats_row, text->str);
}

static void
fill_overview (StarlingBrokerPage *self, JsonObject *o)
{
  JsonNode *expiration = json_object_get_member (o, "expiration");
  JsonNode *on_publish = json_object_get_member (o, "on_publish");
  const char *auth = json_object_get_string_member_with_default (o, "authType", "TOKEN");
  const char *description = json_object_get_string_member_with_default (o, "description", "");
  g_autofree char *subtitle = NULL;
  g_autofree char *created = NULL;
  g_autofree char *modified = NULL;
  g_autofree char *duration = NULL;
  g_autofree char *mqttjs = NULL;
  g_autofree char *mosquitto = NULL;

  gtk_label_set_text (self->title_label, json_object_get_string_member_with_default (o, "name", self->broker));
  /* Translators: %s is a namespace name; the description follows */
  subtitle = *description
    ? g_strdup_printf (_("Broker in namespace “%s” — %s"), self->ns, description)
    : g_strdup_printf (_("Broker in namespace “%s”"), self->ns);
  gtk_label_set_text (self->subtitle_label, subtitle);

  g_free (self->endpoint);
  self->endpoint = g_strdup (json_object_get_string_member_with_default (o, "endpoint", NULL));
  set_subtitle (self->endpoint_row, self->endpoint);

  self->token_auth = g_strcmp0 (auth, "NONE") != 0;
  set_subtitle (self->auth_row, self->token_auth ? _("Token (each client presents a signed credential)")
                                                 : _("None (anyone may connect: for development only)"));

  duration = starling_format_duration (expiration != NULL && JSON_NODE_HOLDS_VALUE (expiration)
                                       ? json_node_get_int (expiration) : -1);
  set_subtitle (self->expiration_row, duration);

  if (on_publish != NULL && JSON_NODE_HOLDS_OBJECT (on_publish))
    {
      JsonObject *hook = json_node_get_object (on_publish);
      const char *url = json_object_get_string_member_with_default (hook, "url", "");
      const char *failure = json_object_get_string_member_with_default (hook, "failure", NULL);
      g_autofree char *text = NULL;

      if (g_strcmp0 (failure, "deliver") == 0)
        /* Translators: %s is a URL */
        text = g_strdup_printf (_("%s (delivers messages when it fails)"), url);
      else if (g_strcmp0 (failure, "drop") == 0)
        text = g_strdup_printf (_("%s (drops messages when it fails)"), url);
      else
        text = g_strdup (url);
      set_subtitle (self->on_publish_row, text);
      fill_hook_stats (self, hook);
    }
  else
    {
      set_subtitle (self->on_publish_row, _("None"));
      gtk_widget_set_visible (GTK_WIDGET (self->hook_stats_row), FALSE);
    }

  created = starling_format_time (json_object_get_string_member_with_default (o, "created_on", NULL));
  modified = starling_format_time (json_object_get_string_member_with_default (o, "modified_on", NULL));
  set_subtitle (self->created_row, created);
  set_subtitle (self->modified_row, modified);
  g_free (self->id);
  self->id = g_strdup (json_object_get_string_member_with_default (o, "id", NULL));
  set_subtitle (self->id_row, self->id);

  mqttjs = starling_snippet_mqttjs (self->endpoint ? self->endpoint : "", self->token_auth);
  mosquitto = starling_snippet_mosquitto (self->endpoint, self->token_auth);
  set_text (self->mqttjs_view, mqttjs);
  set_text (self->mosquitto_view, mosquitto);
}

static void
broker_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = request_finish (self, result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  gtk_spinner_set_spinning (self->loading_spinner, FALSE);
  if (node != NULL && !JSON_NODE_HOLDS_OBJECT (node))
    g_set_error_literal (&error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE, _("The server’s answer is not a broker"));
  if (error != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Broker “%s” in namespace “%s”: %s"),
                                               self->broker, self->ns, error->message);

      adw_status_page_set_description (self->error_page, text);
      gtk_stack_set_visible_child_name (self->stack, "error");
      return;
    }
  fill_overview (self, json_node_get_object (node));
  self->loaded = TRUE;
  gtk_stack_set_visible_child_name (self->stack, "content");
  update_state (self);
  load_sections (self);
}

/* The hook's counters move with the traffic: while they are on screen,
 * they are fetched again every few seconds, quietly (no spinner, no busy
 * state; a failure shows at the next reload instead). */
#define STATS_REFRESH_S 2

static void
stats_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = st_api_client_request_finish (self->client, result, &error);
  JsonNode *on_publish;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->stats_pending = FALSE;
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  on_publish = json_object_get_member (json_node_get_object (node), "on_publish");
  if (on_publish != NULL && JSON_NODE_HOLDS_OBJECT (on_publish))
    fill_hook_stats (self, json_node_get_object (on_publish));
}

static gboolean
stats_tick (gpointer data)
{
  StarlingBrokerPage *self = data;
  g_autofree char *path = NULL;

  if (!self->loaded || self->stats_pending || self->busy > 0 ||
      !gtk_widget_is_drawable (GTK_WIDGET (self->hook_stats_row)))
    return G_SOURCE_CONTINUE;
  self->stats_pending = TRUE;
  path = broker_path (self, NULL);
  st_api_client_request_async (self->client, "GET", path, NULL, NULL, self->cancellable,
                               stats_loaded_cb, g_object_ref (self));
  return G_SOURCE_CONTINUE;
}

void
starling_broker_page_reload (StarlingBrokerPage *self)
{
  g_autofree char *path = NULL;

  g_return_if_fail (STARLING_IS_BROKER_PAGE (self));

  if (!self->loaded)
    {
      gtk_stack_set_visible_child_name (self->stack, "loading");
      gtk_spinner_set_spinning (self->loading_spinner, TRUE);
    }
  path = broker_path (self, NULL);
  request (self, "GET", path, NULL, broker_loaded_cb);
}

/* ---- Credentials ---------------------------------------------------------- */

static char *
acl_text (JsonNode *acl)
{
  g_autoptr(GString) s = g_string_new (NULL);

  if (acl == NULL || JSON_NODE_HOLDS_NULL (acl))
    return g_strdup ("#");
  if (JSON_NODE_HOLDS_VALUE (acl))
    return g_strdup (json_node_get_string (acl));
  if (JSON_NODE_HOLDS_ARRAY (acl))
    {
      JsonArray *array = json_node_get_array (acl);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          if (i > 0)
            g_string_append (s, ", ");
          g_string_append (s, json_array_get_string_element (array, i));
        }
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static GtkWidget *
credential_row_new (JsonObject *o, gint64 now)
{
  const char *client_id = json_object_get_string_member_with_default (o, "clientId", "");
  const char *jti = json_object_get_string_member_with_default (o, "jti", "");
  JsonNode *exp = json_object_get_member (o, "exp");
  gboolean revoked = json_object_get_boolean_member_with_default (o, "revoked", FALSE);
  gint64 iat = json_object_get_int_member_with_default (o, "iat", 0);
  g_autofree char *issued = starling_format_unix_time (iat);
  g_autofree char *expires = NULL;
  g_autofree char *acl = acl_text (json_object_get_member (o, "topicAcl"));
  g_autofree char *subtitle = NULL;
  GtkWidget *row = adw_action_row_new ();

  if (exp != NULL && JSON_NODE_HOLDS_VALUE (exp))
    {
      g_autofree char *when = starling_format_unix_time (json_node_get_int (exp));
      g_autofree char *relative = starling_format_relative (json_node_get_int (exp), now);

      /* Translators: "25 Nov 2026, 21:00:00 (in 2 days)" */
      expires = g_strdup_printf (json_node_get_int (exp) > now ? _("%s (%s)") : _("%s (expired %s)"),
                                 when, relative);
    }
  else
    expires = g_strdup (_("never"));
  /* Translators: the details of an issued credential, one per line */
  subtitle = g_strdup_printf (_("Token ID %s\nIssued %s · expires %s\nTopics: %s"), jti, issued, expires, acl);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), client_id);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 4);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy_button (client_id));
  if (revoked)
    {
      GtkWidget *label = gtk_label_new (_("Revoked"));

      gtk_widget_add_css_class (label, "error");
      gtk_widget_set_valign (label, GTK_ALIGN_CENTER);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), suffix_button (_("_Restore"), "broker.unrevoke", jti, NULL));
    }
  else
    adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                               suffix_button (_("_Revoke"), "broker.revoke", jti, "destructive-action"));
  g_object_set_data_full (G_OBJECT (row), "jti", g_strdup (jti), g_free);
  return row;
}

static void
credentials_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = request_finish (self, result, &error);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  JsonArray *list;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node != NULL && !JSON_NODE_HOLDS_ARRAY (node))
    g_set_error_literal (&error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE, _("The server’s answer is not a list"));
  if (error != NULL)
    {
      starling_toast_error (GTK_WIDGET (self), _("Could not list the credentials"), error);
      return;
    }
  list = json_node_get_array (node);
  clear_list (self->credentials_list);
  g_hash_table_remove_all (self->client_ids);
  /* Newest first: the one just issued is the one looked for. */
  for (guint i = json_array_get_length (list); i > 0; i--)
    {
      JsonObject *o = json_array_get_object_element (list, i - 1);

      if (o == NULL)
        continue;
      gtk_list_box_append (self->credentials_list, credential_row_new (o, now));
      g_hash_table_insert (self->client_ids,
                           g_strdup (json_object_get_string_member_with_default (o, "jti", "")),
                           g_strdup (json_object_get_string_member_with_default (o, "clientId", "")));
    }
  gtk_stack_set_visible_child_name (self->credentials_stack, json_array_get_length (list) > 0 ? "list" : "empty");
  load_revocations (self);
}

static void
load_credentials (StarlingBrokerPage *self)
{
  const char *account = st_api_client_get_account_id (self->client);
  g_autofree char *path = NULL;

  /* Beyond Cloudflare, so under /accounts/{id}/starling rather than the
   * client's pubsub prefix; the account is known once the broker loaded. */
  if (account == NULL)
    return;
  path = g_strdup_printf ("/accounts/%s/starling/namespaces/%s/brokers/%s/credentials",
                          account, self->ns, self->broker);
  request (self, "GET", path, NULL, credentials_loaded_cb);
}

/* ---- Revocations ---------------------------------------------------------- */

static void
revocations_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = request_finish (self, result, &error);
  JsonArray *list;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node != NULL && !JSON_NODE_HOLDS_ARRAY (node))
    g_set_error_literal (&error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE, _("The server’s answer is not a list"));
  if (error != NULL)
    {
      starling_toast_error (GTK_WIDGET (self), _("Could not list the revocations"), error);
      return;
    }
  list = json_node_get_array (node);
  clear_list (self->revocations_list);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      const char *jti = json_array_get_string_element (list, i);
      const char *client_id;
      GtkWidget *row;

      if (jti == NULL)
        continue;
      client_id = g_hash_table_lookup (self->client_ids, jti);
      row = adw_action_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), jti);
      if (client_id != NULL)
        {
          /* Translators: %s is an MQTT client id */
          g_autofree char *text = g_strdup_printf (_("Client %s"), client_id);

          adw_action_row_set_subtitle (ADW_ACTION_ROW (row), text);
        }
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy_button (jti));
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), suffix_button (_("_Restore"), "broker.unrevoke", jti, NULL));
      g_object_set_data_full (G_OBJECT (row), "jti", g_strdup (jti), g_free);
      gtk_list_box_append (self->revocations_list, row);
    }
  gtk_stack_set_visible_child_name (self->revocations_stack, json_array_get_length (list) > 0 ? "list" : "empty");
}

static void
load_revocations (StarlingBrokerPage *self)
{
  g_autofree char *path = broker_path (self, "revocations");

  request (self, "GET", path, NULL, revocations_loaded_cb);
}

static void
revocation_done (StarlingBrokerPage *self, GAsyncResult *result, gboolean revoke)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = request_finish (self, result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node == NULL)
    starling_toast_error (GTK_WIDGET (self), revoke ? _("Could not revoke the token")
                                                    : _("Could not restore the token"), error);
  else
    starling_toast (GTK_WIDGET (self), revoke ? _("Token revoked: its client is disconnected")
                                              : _("Token restored"));
  /* The lists say what the server has now, whatever happened. */
  load_credentials (self);
}

static void
revoked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;

  revocation_done (self, result, TRUE);
}

static void
restored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;

  revocation_done (self, result, FALSE);
}

static void
change_revocation (StarlingBrokerPage *self, const char *jti, gboolean revoke)
{
  g_autofree char *path = broker_path (self, "revocations");
  const char *query[] = { "jti", jti, NULL };

  set_busy (self, TRUE);
  st_api_client_request_async (self->client, revoke ? "POST" : "DELETE", path, query, NULL,
                               self->cancellable, revoke ? revoked_cb : restored_cb,
                               g_object_ref (self));
}

static void
revoke_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  change_revocation (STARLING_BROKER_PAGE (widget), g_variant_get_string (parameter, NULL), TRUE);
}

static void
unrevoke_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  change_revocation (STARLING_BROKER_PAGE (widget), g_variant_get_string (parameter, NULL), FALSE);
}

/* ---- Keys ----------------------------------------------------------------- */

static void
keys_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = request_finish (self, result, &error);
  JsonArray *keys = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node) &&
      json_object_has_member (json_node_get_object (node), "keys"))
    keys = json_object_get_array_member (json_node_get_object (node), "keys");
  else if (node != NULL)
    g_set_error_literal (&error, ST_API_ERROR, ST_API_ERROR_BAD_RESPONSE, _("The server’s answer has no keys"));
  if (error != NULL || keys == NULL)
    {
      starling_toast_error (GTK_WIDGET (self), _("Could not list the public keys"), error);
      return;
    }
  clear_list (self->keys_list);
  for (guint i = 0; i < json_array_get_length (keys); i++)
    {
      JsonObject *jwk = json_array_get_object_element (keys, i);
      const char *kid = jwk ? json_object_get_string_member_with_default (jwk, "kid", NULL) : NULL;
      GtkWidget *row;

      if (kid == NULL)
        continue;
      row = adw_action_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), kid);
      /* The server signs with the newest key, the last one listed. */
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row),
                                   i + 1 == json_array_get_length (keys)
                                   ? _("Ed25519 · signs new credentials")
                                   : _("Ed25519 · verifies credentials it signed"));
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), copy_button (kid));
      /* The signing key stays: the server refuses to remove the last. */
      if (i + 1 < json_array_get_length (keys))
        adw_action_row_add_suffix (ADW_ACTION_ROW (row), suffix_button (_("_Remove"), "broker.remove-key", kid,
                                                                        "destructive-action"));
      gtk_list_box_append (self->keys_list, row);
    }
}

static void
load_keys (StarlingBrokerPage *self)
{
  g_autofree char *path = broker_path (self, "publickeys");

  request (self, "GET", path, NULL, keys_loaded_cb);
}

static void
rotated_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = request_finish (self, result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node == NULL)
    {
      starling_toast_error (GTK_WIDGET (self), _("Could not rotate the key"), error);
      return;
    }
  starling_toast (GTK_WIDGET (self), _("New signing key added: new credentials use it"));
  load_keys (self);
}

static void
rotate_key_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (widget);
  g_autofree char *path = broker_path (self, "keys/rotate");

  request (self, "POST", path, NULL, rotated_cb);
}

static void
key_removed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = request_finish (self, result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    starling_toast_error (GTK_WIDGET (self), _("Could not remove the key"), error);
  else
    starling_toast (GTK_WIDGET (self), _("Key removed: credentials it signed no longer connect"));
  load_keys (self);
}

static void
remove_key_response_cb (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (user_data);
  const char *kid = g_object_get_data (G_OBJECT (dialog), "kid");
  g_autofree char *rest = NULL;
  g_autofree char *path = NULL;

  if (g_strcmp0 (response, "remove") != 0 || kid == NULL)
    return;
  rest = g_strdup_printf ("keys/%s", kid);
  path = broker_path (self, rest);
  request (self, "DELETE", path, NULL, key_removed_cb);
}

static void
remove_key_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  const char *kid = g_variant_get_string (parameter, NULL);
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                   _("Remove the Signing Key?"), NULL);
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog),
                                  /* Translators: %s is a key id */
                                  _("Credentials signed with key %s no longer connect, and clients using them "
                                    "are refused from now on. This cannot be undone."),
                                  kid);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "remove", _("_Remove"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "kid", g_strdup (kid), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (remove_key_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- CA certificate ------------------------------------------------------- */

static void
ca_loaded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = st_api_client_get_ca_finish (ST_API_CLIENT (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  g_clear_pointer (&self->ca_pem, g_free);
  if (pem == NULL)
    {
      adw_status_page_set_description (self->ca_none, error->message);
      gtk_stack_set_visible_child_name (self->ca_stack, "none");
      if (!g_error_matches (error, ST_API_ERROR, API_NO_CA))
        starling_toast_error (GTK_WIDGET (self), _("Could not load the CA certificate"), error);
    }
  else
    {
      self->ca_pem = g_steal_pointer (&pem);
      set_text (self->ca_view, self->ca_pem);
      gtk_stack_set_visible_child_name (self->ca_stack, "cert");
    }
  update_state (self);
}

static void
load_ca (StarlingBrokerPage *self)
{
  set_busy (self, TRUE);
  st_api_client_get_ca_async (self->client, self->cancellable, ca_loaded_cb, g_object_ref (self));
}

static void
ca_saved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (source), result, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      set_busy (self, FALSE);
      starling_toast_error (GTK_WIDGET (self), _("Could not save the certificate"), error);
      return;
    }
  set_busy (self, FALSE);
  starling_toast (GTK_WIDGET (self), _("Certificate saved"));
}

static void
save_chooser_response_cb (GtkNativeDialog *chooser, int response, gpointer user_data)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (user_data);
  g_autoptr(GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT && self->ca_pem != NULL &&
      (file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser))) != NULL)
    {
      set_busy (self, TRUE);
      /* ca_pem outlives the write: the page holds it until finalize, and
       * the callback holds the page. */
      g_file_replace_contents_async (file, self->ca_pem, strlen (self->ca_pem), NULL, FALSE,
                                     G_FILE_CREATE_NONE, self->cancellable, ca_saved_cb,
                                     g_object_ref (self));
    }
  g_clear_object (&self->save_chooser);
}

static void
save_ca_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);

  if (self->ca_pem == NULL || self->save_chooser != NULL)
    return;
  self->save_chooser = gtk_file_chooser_native_new (_("Save CA Certificate"),
                                                    GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                                    GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->save_chooser), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->save_chooser), CA_FILE_NAME);
  g_signal_connect_object (self->save_chooser, "response", G_CALLBACK (save_chooser_response_cb), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->save_chooser));
}

/* ---- Copying -------------------------------------------------------------- */

static void
copy_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (widget);

  if (g_strcmp0 (action_name, "broker.copy") == 0)
    starling_copy_to_clipboard (widget, g_variant_get_string (parameter, NULL), NULL);
  else if (g_strcmp0 (action_name, "broker.copy-endpoint") == 0 && self->endpoint != NULL)
    starling_copy_to_clipboard (widget, self->endpoint, _("Endpoint"));
  else if (g_strcmp0 (action_name, "broker.copy-id") == 0 && self->id != NULL)
    starling_copy_to_clipboard (widget, self->id, _("Broker ID"));
  else if (g_strcmp0 (action_name, "broker.copy-ca") == 0 && self->ca_pem != NULL)
    starling_copy_to_clipboard (widget, self->ca_pem, _("Certificate"));
  else if (g_strcmp0 (action_name, "broker.copy-mqttjs") == 0)
    {
      g_autofree char *text = get_text (self->mqttjs_view);

      starling_copy_to_clipboard (widget, text, _("MQTT.js snippet"));
    }
  else if (g_strcmp0 (action_name, "broker.copy-mosquitto") == 0)
    {
      g_autofree char *text = get_text (self->mosquitto_view);

      starling_copy_to_clipboard (widget, text, _("mosquitto_sub command"));
    }
}

/* ---- Edit, delete, issue -------------------------------------------------- */

static void
load_sections (StarlingBrokerPage *self)
{
  /* Credentials first, then revocations: the revocation list names the
   * client of each jti from the credentials. */
  load_credentials (self);
  load_keys (self);
  load_ca (self);
}

static void
edited_cb (StarlingBrokerPage *self, const char *ns, const char *broker)
{
  starling_broker_page_reload (self);
  g_signal_emit (self, signals[CHANGED], 0, ns, broker);
}

static void
issued_cb (StarlingBrokerPage *self, const char *ns, const char *broker)
{
  load_credentials (self);
}

static void
present_dialog (StarlingBrokerPage *self, GtkWindow *dialog, GCallback changed)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (GTK_IS_WINDOW (root))
    gtk_window_set_transient_for (dialog, GTK_WINDOW (root));
  gtk_window_set_modal (dialog, TRUE);
  g_signal_connect_object (dialog, "changed", changed, self, G_CONNECT_SWAPPED);
  gtk_window_present (dialog);
}

static void
edit_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (widget);

  present_dialog (self, starling_broker_dialog_new (self->client, self->ns, self->broker),
                  G_CALLBACK (edited_cb));
}

static void
issue_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (widget);

  present_dialog (self, starling_credentials_dialog_new (self->client, self->ns, self->broker, self->endpoint),
                  G_CALLBACK (issued_cb));
}

static void
reload_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  starling_broker_page_reload (STARLING_BROKER_PAGE (widget));
}

static void
deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(StarlingBrokerPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = request_finish (self, result, &error);
  g_autofree char *text = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (node == NULL)
    {
      starling_toast_error (GTK_WIDGET (self), _("Could not delete the broker"), error);
      return;
    }
  /* Translators: %s is a broker name */
  text = g_strdup_printf (_("Broker “%s” deleted"), self->broker);
  starling_toast (GTK_WIDGET (self), text);
  g_signal_emit (self, signals[CHANGED], 0, self->ns, NULL);
}

static void
delete_response_cb (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (user_data);
  g_autofree char *path = NULL;

  if (g_strcmp0 (response, "delete") != 0 || self->busy > 0)
    return;
  path = broker_path (self, NULL);
  request (self, "DELETE", path, NULL, deleted_cb);
}

static void
delete_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, NULL, NULL);
  /* Translators: %s is a broker name */
  adw_message_dialog_format_heading (ADW_MESSAGE_DIALOG (dialog), _("Delete Broker “%s”?"), self->broker);
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog),
                                  /* Translators: %s is a namespace name */
                                  _("The broker is removed from namespace “%s” with its credentials, signing keys, "
                                    "sessions and retained messages. Connected clients are disconnected. "
                                    "This cannot be undone."),
                                  self->ns);
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

/* ---- GObject -------------------------------------------------------------- */

static void
starling_broker_page_dispose (GObject *object)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->stats_id, g_source_remove);
  if (self->save_chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->save_chooser));
  g_clear_object (&self->save_chooser);
  /* AdwBin unparents its child itself; the template must not do it
   * again. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), STARLING_TYPE_BROKER_PAGE);
  G_OBJECT_CLASS (starling_broker_page_parent_class)->dispose (object);
}

static void
view_changed_cb (StarlingBrokerPage *self)
{
  const char *name = adw_view_stack_get_visible_child_name (self->view_stack);

  if (g_strcmp0 (name, "traffic") == 0 && adw_bin_get_child (self->traffic_bin) == NULL)
    adw_bin_set_child (self->traffic_bin, starling_inspector_new (self->client, self->ns, self->broker));
}

static void
starling_broker_page_map (GtkWidget *widget)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (widget);

  GTK_WIDGET_CLASS (starling_broker_page_parent_class)->map (widget);
  if (self->stats_id == 0)
    self->stats_id = g_timeout_add_seconds (STATS_REFRESH_S, stats_tick, self);
}

static void
starling_broker_page_unmap (GtkWidget *widget)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (widget);

  g_clear_handle_id (&self->stats_id, g_source_remove);
  GTK_WIDGET_CLASS (starling_broker_page_parent_class)->unmap (widget);
}

static void
starling_broker_page_finalize (GObject *object)
{
  StarlingBrokerPage *self = STARLING_BROKER_PAGE (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_pointer (&self->client_ids, g_hash_table_unref);
  g_free (self->ns);
  g_free (self->broker);
  g_free (self->id);
  g_free (self->endpoint);
  g_free (self->ca_pem);
  G_OBJECT_CLASS (starling_broker_page_parent_class)->finalize (object);
}

static void
starling_broker_page_class_init (StarlingBrokerPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = starling_broker_page_dispose;
  object_class->finalize = starling_broker_page_finalize;
  widget_class->map = starling_broker_page_map;
  widget_class->unmap = starling_broker_page_unmap;

  /**
   * StarlingBrokerPage::changed:
   * @ns: (nullable): the namespace to select
   * @broker: (nullable): the broker to select
   */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/starlingmq/Starling/starling-broker-page.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, StarlingBrokerPage, name)
  BIND (stack);
  BIND (loading_spinner);
  BIND (error_page);
  BIND (title_label);
  BIND (subtitle_label);
  BIND (spinner);
  BIND (view_stack);
  BIND (traffic_bin);
  BIND (endpoint_row);
  BIND (auth_row);
  BIND (expiration_row);
  BIND (on_publish_row);
  BIND (hook_stats_row);
  BIND (created_row);
  BIND (modified_row);
  BIND (id_row);
  BIND (mqttjs_view);
  BIND (mosquitto_view);
  BIND (credentials_stack);
  BIND (credentials_list);
  BIND (revocations_stack);
  BIND (revocations_list);
  BIND (keys_list);
  BIND (ca_stack);
  BIND (ca_view);
  BIND (ca_none);
#undef BIND

  gtk_widget_class_bind_template_callback (widget_class, view_changed_cb);

  gtk_widget_class_install_action (widget_class, "broker.reload", NULL, reload_action);
  gtk_widget_class_install_action (widget_class, "broker.edit", NULL, edit_action);
  gtk_widget_class_install_action (widget_class, "broker.delete", NULL, delete_action);
  gtk_widget_class_install_action (widget_class, "broker.issue", NULL, issue_action);
  gtk_widget_class_install_action (widget_class, "broker.rotate-key", NULL, rotate_key_action);
  gtk_widget_class_install_action (widget_class, "broker.remove-key", "s", remove_key_action);
  gtk_widget_class_install_action (widget_class, "broker.revoke", "s", revoke_action);
  gtk_widget_class_install_action (widget_class, "broker.unrevoke", "s", unrevoke_action);
  gtk_widget_class_install_action (widget_class, "broker.save-ca", NULL, save_ca_action);
  gtk_widget_class_install_action (widget_class, "broker.copy", "s", copy_action);
  gtk_widget_class_install_action (widget_class, "broker.copy-endpoint", NULL, copy_action);
  gtk_widget_class_install_action (widget_class, "broker.copy-id", NULL, copy_action);
  gtk_widget_class_install_action (widget_class, "broker.copy-ca", NULL, copy_action);
  gtk_widget_class_install_action (widget_class, "broker.copy-mqttjs", NULL, copy_action);
  gtk_widget_class_install_action (widget_class, "broker.copy-mosquitto", NULL, copy_action);
}

static void
starling_broker_page_init (StarlingBrokerPage *self)
{
  self->cancellable = g_cancellable_new ();
  self->client_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
starling_broker_page_new (StApiClient *client,
                          const char  *ns,
                          const char  *broker)
{
  StarlingBrokerPage *self;

  g_return_val_if_fail (ST_IS_API_CLIENT (client), NULL);
  g_return_val_if_fail (ns != NULL, NULL);
  g_return_val_if_fail (broker != NULL, NULL);

  self = g_object_new (STARLING_TYPE_BROKER_PAGE, NULL);
  self->client = g_object_ref (client);
  self->ns = g_strdup (ns);
  self->broker = g_strdup (broker);
  gtk_label_set_text (self->title_label, broker);
  update_state (self);
  starling_broker_page_reload (self);
  return GTK_WIDGET (self);
}
