#define G_LOG_DOMAIN "starling-server"

#include "config.h"

#include <glib/gi18n.h>

#include "starling-server.h"

struct _StarlingServer
{
  GObject           parent_instance;

  StarlingEmbedded *embedded;     /* NULL: remote */
  char             *api_url;      /* remote only */
  char             *token;        /* remote only */
  char             *title;
  StApiClient      *client;       /* lazily */
};

G_DEFINE_FINAL_TYPE (StarlingServer, starling_server, G_TYPE_OBJECT)

enum { PROP_0, PROP_READY, PROP_TITLE, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
embedded_running_changed (StarlingServer *self)
{
  /* A restarted broker may listen elsewhere: a new client then. */
  g_clear_object (&self->client);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_READY]);
}

StarlingServer *
starling_server_new_embedded (StarlingEmbedded *embedded)
{
  StarlingServer *self;

  g_return_val_if_fail (STARLING_IS_EMBEDDED (embedded), NULL);

  self = g_object_new (STARLING_TYPE_SERVER, NULL);
  self->embedded = g_object_ref (embedded);
  self->title = g_strdup (_("This Computer"));
  g_signal_connect_object (embedded, "notify::running", G_CALLBACK (embedded_running_changed),
                           self, G_CONNECT_SWAPPED);
  return self;
}

static char *
title_from_url (const char *api_url)
{
  g_autoptr(GUri) uri = g_uri_parse (api_url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL)
    return g_strdup (api_url);
  if (g_uri_get_port (uri) > 0)
    return g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri));
  return g_strdup (g_uri_get_host (uri));
}

StarlingServer *
starling_server_new_remote (const char *api_url,
                            const char *token)
{
  StarlingServer *self;

  g_return_val_if_fail (api_url != NULL, NULL);
  g_return_val_if_fail (token != NULL, NULL);

  self = g_object_new (STARLING_TYPE_SERVER, NULL);
  self->api_url = g_strdup (api_url);
  self->token = g_strdup (token);
  self->title = title_from_url (api_url);
  return self;
}

gboolean
starling_server_is_embedded (StarlingServer *self)
{
  g_return_val_if_fail (STARLING_IS_SERVER (self), FALSE);
  return self->embedded != NULL;
}

const char *
starling_server_get_id (StarlingServer *self)
{
  g_return_val_if_fail (STARLING_IS_SERVER (self), NULL);
  return self->embedded ? STARLING_SERVER_EMBEDDED_ID : self->api_url;
}

const char *
starling_server_get_title (StarlingServer *self)
{
  g_return_val_if_fail (STARLING_IS_SERVER (self), NULL);
  return self->title;
}

const char *
starling_server_get_api_url (StarlingServer *self)
{
  g_return_val_if_fail (STARLING_IS_SERVER (self), NULL);
  return self->embedded ? starling_embedded_get_api_url (self->embedded) : self->api_url;
}

const char *
starling_server_get_token (StarlingServer *self)
{
  g_return_val_if_fail (STARLING_IS_SERVER (self), NULL);
  return self->embedded ? starling_embedded_get_token (self->embedded) : self->token;
}

StarlingEmbedded *
starling_server_get_embedded (StarlingServer *self)
{
  g_return_val_if_fail (STARLING_IS_SERVER (self), NULL);
  return self->embedded;
}

gboolean
starling_server_is_ready (StarlingServer *self)
{
  g_return_val_if_fail (STARLING_IS_SERVER (self), FALSE);
  return self->embedded == NULL || starling_embedded_is_running (self->embedded);
}

StApiClient *
starling_server_get_client (StarlingServer *self)
{
  const char *url, *token;

  g_return_val_if_fail (STARLING_IS_SERVER (self), NULL);

  if (self->client != NULL)
    return self->client;
  url = starling_server_get_api_url (self);
  token = starling_server_get_token (self);
  if (!starling_server_is_ready (self) || url == NULL)
    return NULL;
  /* Without its token file the embedded broker still answers, with an
   * error that says the token is missing. */
  self->client = st_api_client_new (url, token ? token : "", NULL);
  return self->client;
}

char *
starling_server_normalize_url (const char *text,
                               GError    **error)
{
  g_autofree char *stripped = g_strstrip (g_strdup (text ? text : ""));
  g_autofree char *with_scheme = NULL;
  g_autoptr(GUri) uri = NULL;
  const char *scheme, *path;
  g_autofree char *clean_path = NULL;

  if (*stripped == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("Enter the server’s API URL"));
      return NULL;
    }
  with_scheme = strstr (stripped, "://") ? g_strdup (stripped) : g_strconcat ("http://", stripped, NULL);
  uri = g_uri_parse (with_scheme, G_URI_FLAGS_NONE, NULL);
  scheme = uri ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0'
      || (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0)
      || g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not an API URL such as http://127.0.0.1:8080/client/v4"), stripped);
      return NULL;
    }

  path = g_uri_get_path (uri);
  clean_path = g_strdup (path);
  while (g_str_has_suffix (clean_path, "/"))
    clean_path[strlen (clean_path) - 1] = '\0';
  if (*clean_path == '\0')
    {
      g_free (clean_path);
      clean_path = g_strdup ("/client/v4");
    }

  return g_uri_join (G_URI_FLAGS_NONE, scheme, g_uri_get_userinfo (uri), g_uri_get_host (uri),
                     g_uri_get_port (uri), clean_path, NULL, NULL);
}

GPtrArray *
starling_server_list_from_variant (GVariant *servers)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (g_object_unref);
  GVariantIter iter;
  const char *url, *token;

  g_return_val_if_fail (g_variant_is_of_type (servers, G_VARIANT_TYPE ("a(ss)")), list);

  g_variant_iter_init (&iter, servers);
  while (g_variant_iter_next (&iter, "(&s&s)", &url, &token))
    {
      g_autofree char *normalized = starling_server_normalize_url (url, NULL);

      /* A hand-edited setting must not take the app down. */
      if (normalized == NULL)
        {
          g_warning ("ignoring a saved server with the bad URL “%s”", url);
          continue;
        }
      g_ptr_array_add (list, starling_server_new_remote (normalized, token));
    }
  return list;
}

GVariant *
starling_server_list_to_variant (GListModel *servers)
{
  GVariantBuilder builder;
  guint n = g_list_model_get_n_items (servers);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ss)"));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(StarlingServer) server = g_list_model_get_item (servers, i);

      if (!starling_server_is_embedded (server))
        g_variant_builder_add (&builder, "(ss)", server->api_url, server->token);
    }
  return g_variant_builder_end (&builder);
}

static void
starling_server_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  StarlingServer *self = STARLING_SERVER (object);

  switch (prop_id)
    {
    case PROP_READY:
      g_value_set_boolean (value, starling_server_is_ready (self));
      break;
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
starling_server_finalize (GObject *object)
{
  StarlingServer *self = STARLING_SERVER (object);

  g_clear_object (&self->client);
  g_clear_object (&self->embedded);
  g_free (self->api_url);
  g_free (self->token);
  g_free (self->title);

  G_OBJECT_CLASS (starling_server_parent_class)->finalize (object);
}

static void
starling_server_class_init (StarlingServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = starling_server_finalize;
  object_class->get_property = starling_server_get_property;

  properties[PROP_READY] =
    g_param_spec_boolean ("ready", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
starling_server_init (StarlingServer *self)
{
}
