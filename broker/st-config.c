#define G_LOG_DOMAIN "starling-config"

#include "st-config.h"

#include <errno.h>
#include <stdlib.h>

static const StConfigKey keys[] = {
  { "starlingd", "data-dir", "DIR", "Where state and the local CA live (default: $STATE_DIRECTORY, else ~/.local/share/starling)" },
  { "starlingd", "mqtt", "ADDR:PORT", "MQTT over TCP listener, or \"off\" (default 127.0.0.1:1883)" },
  { "starlingd", "mqtts", "ADDR:PORT", "MQTT over TLS listener, or \"off\" (default 127.0.0.1:8883)" },
  { "starlingd", "ws", "ADDR:PORT", "MQTT over WebSocket listener, or \"off\" (default 127.0.0.1:8083)" },
  { "starlingd", "wss", "ADDR:PORT", "MQTT over secure WebSocket listener, or \"off\" (default 127.0.0.1:8884)" },
  { "starlingd", "api", "ADDR:PORT", "Control API (HTTP, /client/v4) listener, or \"off\" (default 127.0.0.1:8080)" },
  { "starlingd", "threads", "N", "I/O threads (default: one per core)" },
  { "starlingd", "public-host", "HOST", "Host name brokers are reached under, <broker>.<namespace>.HOST (default localhost)" },
  { "starlingd", "dev", "BOOL", "Anonymous broker \"local\" in namespace \"dev\" as every listener's default" },
  { "starlingd", "tls-cert", "FILE", "TLS certificate chain (PEM); default: generated from a local CA" },
  { "starlingd", "tls-key", "FILE", "TLS private key (PEM)" },
  { "starlingd", "log-level", "LEVEL", "error, warning, message, info or debug (default message)" },
  { "starlingd", "durability", "MODE", "How MQTT state (sessions, queued and retained messages) reaches the disk: always, batch or off (default batch)" },
  { "limits", "max-packet-size", "BYTES", "Largest MQTT packet accepted or sent (default 1048576)" },
  { "limits", "max-connections", "N", "Client connections at once (default 10000)" },
  { "limits", "max-queued-messages", "N", "QoS 1/2 messages queued per session (default 1000)" },
  { "limits", "max-queued-bytes", "BYTES", "Bytes queued per session (default 67108864)" },
  { "limits", "connect-timeout", "SECONDS", "Time a new connection has to send CONNECT (default 10)" },
  { "limits", "receive-maximum", "N", "Unacknowledged QoS 1/2 messages a client may send (default 100)" },
  { "limits", "topic-alias-maximum", "N", "Topic aliases a client may set (default 64)" },
  { "limits", "max-topic-length", "BYTES", "Longest topic name or filter (default 65535)" },
  { "limits", "max-topic-levels", "N", "Most levels in a topic (default 128)" },
  { "limits", "max-keep-alive", "SECONDS", "Longest keep alive granted, 0 = no cap (default 0)" },
  { "limits", "max-session-expiry", "SECONDS", "Longest session expiry granted (default 4294967295 = never)" },
  { "limits", "max-output-buffer", "BYTES", "Bytes queued on a connection before deliveries wait (default 4194304)" },
  { NULL, NULL, NULL, NULL }
};

const StConfigKey *
st_config_keys (void)
{
  return keys;
}

static gboolean
parse_uint (const char *key, const char *value, guint64 min, guint64 max, guint64 *out, GError **error)
{
  guint64 v;
  g_autoptr(GError) local = NULL;

  if (!g_ascii_string_to_unsigned (value, 10, min, max, &v, &local))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: “%s” is not a whole number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                   key, value, min, max);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

static gboolean
parse_bool (const char *key, const char *value, gboolean *out, GError **error)
{
  if (g_ascii_strcasecmp (value, "true") == 0 || g_ascii_strcasecmp (value, "yes") == 0 ||
      g_strcmp0 (value, "1") == 0)
    *out = TRUE;
  else if (g_ascii_strcasecmp (value, "false") == 0 || g_ascii_strcasecmp (value, "no") == 0 ||
           g_strcmp0 (value, "0") == 0)
    *out = FALSE;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: “%s” is not true or false", key, value);
      return FALSE;
    }
  return TRUE;
}

/* ADDR:PORT, [IPV6]:PORT or "off". The address itself is checked when the
 * listener binds; here only the shape and the port. */
static gboolean
check_listen (const char *key, const char *value, GError **error)
{
  const char *colon = strrchr (value, ':');
  guint64 port;

  if (colon == NULL || colon == value ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL) ||
      (value[0] == '[' && colon[-1] != ']'))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: “%s” is not ADDR:PORT (e.g. 127.0.0.1:1883, [::1]:1883, 0.0.0.0:0) or off",
                   key, value);
      return FALSE;
    }
  return TRUE;
}

gboolean
st_config_parse_log_level (const char *name, GLogLevelFlags *level, GError **error)
{
  static const struct { const char *name; GLogLevelFlags level; } levels[] = {
    { "error", G_LOG_LEVEL_CRITICAL },
    { "warning", G_LOG_LEVEL_WARNING },
    { "message", G_LOG_LEVEL_MESSAGE },
    { "info", G_LOG_LEVEL_INFO },
    { "debug", G_LOG_LEVEL_DEBUG },
  };

  for (guint i = 0; i < G_N_ELEMENTS (levels); i++)
    if (g_ascii_strcasecmp (name, levels[i].name) == 0)
      {
        *level = levels[i].level;
        return TRUE;
      }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "log-level: “%s” is not one of error, warning, message, info, debug", name);
  return FALSE;
}

static int
listener_index (const char *key)
{
  for (int i = 0; i < ST_N_LISTENER_KINDS; i++)
    if (g_strcmp0 (key, st_listener_kind_name (i)) == 0)
      return i;
  return -1;
}

gboolean
st_config_set (StServerConfig *config, const char *key, const char *value, GError **error)
{
  StLimits *l = &config->limits;
  guint64 v;
  int li;

  g_return_val_if_fail (config != NULL && key != NULL && value != NULL, FALSE);

  if ((li = listener_index (key)) >= 0)
    {
      g_clear_pointer (&config->listen[li], g_free);
      if (g_ascii_strcasecmp (value, "off") == 0)
        return TRUE;
      if (!check_listen (key, value, error))
        return FALSE;
      config->listen[li] = g_strdup (value);
      return TRUE;
    }

  if (g_str_equal (key, "api"))
    {
      g_clear_pointer (&config->api_listen, g_free);
      if (g_ascii_strcasecmp (value, "off") == 0)
        return TRUE;
      if (!check_listen (key, value, error))
        return FALSE;
      config->api_listen = g_strdup (value);
      return TRUE;
    }

#define SET_STRING(name, field)                         \
  if (g_str_equal (key, name))                          \
    {                                                   \
      if (*value == '\0')                               \
        {                                               \
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, \
                       "%s: needs a value", key);       \
          return FALSE;                                 \
        }                                               \
      g_free (config->field);                           \
      config->field = g_strdup (value);                 \
      return TRUE;                                      \
    }
  SET_STRING ("data-dir", data_dir)
  SET_STRING ("public-host", public_host)
  SET_STRING ("tls-cert", tls_cert_file)
  SET_STRING ("tls-key", tls_key_file)
#undef SET_STRING

  if (g_str_equal (key, "dev"))
    return parse_bool (key, value, &config->dev, error);
  if (g_str_equal (key, "log-level"))
    return st_config_parse_log_level (value, &config->log_level, error);
  if (g_str_equal (key, "durability"))
    {
      if (!st_durability_from_string (value, &config->durability))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "durability: “%s” is not one of always, batch, off", value);
          return FALSE;
        }
      return TRUE;
    }
  if (g_str_equal (key, "threads"))
    {
      if (!parse_uint (key, value, 1, 1024, &v, error))
        return FALSE;
      config->threads = v;
      return TRUE;
    }

#define SET_UINT(name, field, min, max)                 \
  if (g_str_equal (key, name))                          \
    {                                                   \
      if (!parse_uint (key, value, min, max, &v, error)) \
        return FALSE;                                   \
      l->field = v;                                     \
      return TRUE;                                      \
    }
  SET_UINT ("max-packet-size", max_packet_size, 16, 268435460)
  SET_UINT ("max-connections", max_connections, 1, G_MAXUINT32)
  SET_UINT ("max-queued-messages", max_queued_messages, 1, G_MAXUINT32)
  SET_UINT ("max-queued-bytes", max_queued_bytes, 1024, G_MAXUINT64)
  SET_UINT ("receive-maximum", receive_maximum, 1, 65535)
  SET_UINT ("topic-alias-maximum", topic_alias_maximum, 0, 65535)
  SET_UINT ("max-topic-length", max_topic_length, 1, 65535)
  SET_UINT ("max-topic-levels", max_topic_levels, 1, 65535)
  SET_UINT ("max-keep-alive", max_keep_alive, 0, 65535)
  SET_UINT ("max-session-expiry", max_session_expiry, 0, G_MAXUINT32)
  SET_UINT ("max-output-buffer", max_output_buffer, 4096, G_MAXUINT32)
#undef SET_UINT

  if (g_str_equal (key, "connect-timeout"))
    {
      if (!parse_uint (key, value, 1, 3600, &v, error))
        return FALSE;
      l->connect_timeout_ms = v * 1000;
      return TRUE;
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "unknown setting “%s”", key);
  return FALSE;
}

static const StConfigKey *
find_key (const char *group, const char *key)
{
  for (const StConfigKey *k = keys; k->key; k++)
    if (g_str_equal (k->group, group) && g_str_equal (k->key, key))
      return k;
  return NULL;
}

gboolean
st_config_load_file (StServerConfig *config, const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *group = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &local))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s", local->message);
      return FALSE;
    }

  lines = g_strsplit (contents, "\n", -1);
  for (guint n = 0; lines[n]; n++)
    {
      char *line = g_strstrip (lines[n]);
      guint lineno = n + 1;

      if (*line == '\0' || *line == '#' || *line == ';')
        continue;

      if (*line == '[')
        {
          size_t len = strlen (line);
          if (len < 3 || line[len - 1] != ']')
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "%s:%u: “%s” is not a [group] header", path, lineno, line);
              return FALSE;
            }
          g_free (group);
          group = g_strndup (line + 1, len - 2);
          if (!g_str_equal (group, "starlingd") && !g_str_equal (group, "limits"))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "%s:%u: unknown group [%s] (expected [starlingd] or [limits])",
                           path, lineno, group);
              return FALSE;
            }
          continue;
        }

      char *eq = strchr (line, '=');
      if (eq == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: “%s” is not key = value", path, lineno, line);
          return FALSE;
        }
      *eq = '\0';
      char *key = g_strstrip (line);
      char *value = g_strstrip (eq + 1);

      if (group == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: “%s” comes before any [group] header", path, lineno, key);
          return FALSE;
        }
      if (find_key (group, key) == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: unknown key “%s” in [%s]", path, lineno, key, group);
          return FALSE;
        }
      if (!st_config_set (config, key, value, &local))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: %s", path, lineno, local->message);
          return FALSE;
        }
    }
  return TRUE;
}
