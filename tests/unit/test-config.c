/* Settings from flags and from starlingd's config file. */
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "st-config.h"

static char *
write_temp (const char *contents)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (g_get_tmp_dir (), "starlingd.conf", NULL);

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_defaults (void)
{
  StServerConfig c;

  st_server_config_init (&c);
  g_assert_cmpstr (c.listen[ST_LISTENER_MQTT], ==, "127.0.0.1:1883");
  g_assert_cmpstr (c.listen[ST_LISTENER_MQTTS], ==, "127.0.0.1:8883");
  g_assert_cmpstr (c.listen[ST_LISTENER_WS], ==, "127.0.0.1:8083");
  g_assert_cmpstr (c.listen[ST_LISTENER_WSS], ==, "127.0.0.1:8884");
  g_assert_cmpstr (c.api_listen, ==, "127.0.0.1:8080");
  g_assert_cmpstr (c.public_host, ==, "localhost");
  g_assert_false (c.dev);
  g_assert_cmpint (c.log_level, ==, G_LOG_LEVEL_MESSAGE);
  st_server_config_clear (&c);
}

static void
test_set (void)
{
  g_autoptr(GError) error = NULL;
  StServerConfig c;

  st_server_config_init (&c);
  g_assert_true (st_config_set (&c, "mqtt", "0.0.0.0:0", &error));
  g_assert_cmpstr (c.listen[ST_LISTENER_MQTT], ==, "0.0.0.0:0");
  g_assert_true (st_config_set (&c, "ws", "[::1]:9001", &error));
  g_assert_cmpstr (c.listen[ST_LISTENER_WS], ==, "[::1]:9001");
  g_assert_true (st_config_set (&c, "wss", "off", &error));
  g_assert_null (c.listen[ST_LISTENER_WSS]);
  g_assert_true (st_config_set (&c, "api", "127.0.0.1:0", &error));
  g_assert_cmpstr (c.api_listen, ==, "127.0.0.1:0");
  g_assert_true (st_config_set (&c, "api", "OFF", &error));
  g_assert_null (c.api_listen);
  g_assert_true (st_config_set (&c, "threads", "3", &error));
  g_assert_cmpuint (c.threads, ==, 3);
  g_assert_true (st_config_set (&c, "dev", "true", &error));
  g_assert_true (c.dev);
  g_assert_true (st_config_set (&c, "max-packet-size", "65536", &error));
  g_assert_cmpuint (c.limits.max_packet_size, ==, 65536);
  g_assert_true (st_config_set (&c, "connect-timeout", "3", &error));
  g_assert_cmpuint (c.limits.connect_timeout_ms, ==, 3000);
  g_assert_true (st_config_set (&c, "log-level", "debug", &error));
  g_assert_cmpint (c.log_level, ==, G_LOG_LEVEL_DEBUG);
  g_assert_no_error (error);
  st_server_config_clear (&c);
}

static void
test_set_errors (void)
{
  static const struct { const char *key, *value, *message; } cases[] = {
    { "mqtt", "1883", "mqtt: “1883” is not ADDR:PORT" },
    { "mqtt", "127.0.0.1:70000", "is not ADDR:PORT" },
    { "ws", "[::1:80", "is not ADDR:PORT" },
    { "api", "8080", "api: “8080” is not ADDR:PORT" },
    { "threads", "0", "threads: “0” is not a whole number from 1 to 1024" },
    { "threads", "two", "is not a whole number" },
    { "dev", "maybe", "dev: “maybe” is not true or false" },
    { "log-level", "loud", "log-level: “loud” is not one of" },
    { "receive-maximum", "0", "receive-maximum: “0” is not a whole number from 1 to 65535" },
    { "data-dir", "", "data-dir: needs a value" },
    { "colour", "blue", "unknown setting “colour”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      StServerConfig c;

      st_server_config_init (&c);
      g_assert_false (st_config_set (&c, cases[i].key, cases[i].value, &error));
      g_assert_nonnull (error);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("%s=%s: “%s” lacks “%s”", cases[i].key, cases[i].value, error->message, cases[i].message);
      st_server_config_clear (&c);
    }
}

static void
test_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_temp (
    "# comment\n"
    "[starlingd]\n"
    "  mqtt = 127.0.0.1:11883  \n"
    "mqtts = off\n"
    "public-host = mq.example.org\n"
    "\n"
    "; another comment\n"
    "[limits]\n"
    "max-connections = 12\n");
  StServerConfig c;

  st_server_config_init (&c);
  g_assert_true (st_config_load_file (&c, path, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (c.listen[ST_LISTENER_MQTT], ==, "127.0.0.1:11883");
  g_assert_null (c.listen[ST_LISTENER_MQTTS]);
  g_assert_cmpstr (c.public_host, ==, "mq.example.org");
  g_assert_cmpuint (c.limits.max_connections, ==, 12);
  st_server_config_clear (&c);
}

static void
test_file_errors (void)
{
  static const struct { const char *contents, *message; } cases[] = {
    { "[starlingd]\nmqtt = nowhere\n", ":2: mqtt: “nowhere” is not ADDR:PORT" },
    { "mqtt = 127.0.0.1:1\n", ":1: “mqtt” comes before any [group] header" },
    { "[starlingd]\n\n\nbogus = 1\n", ":4: unknown key “bogus” in [starlingd]" },
    { "[limits]\nmqtt = 127.0.0.1:1\n", ":2: unknown key “mqtt” in [limits]" },
    { "[extras]\n", ":1: unknown group [extras]" },
    { "[starlingd\n", ":1: “[starlingd” is not a [group] header" },
    { "[starlingd]\njust words\n", ":2: “just words” is not key = value" },
    { "[limits]\nmax-packet-size = -1\n", ":2: max-packet-size: “-1” is not a whole number" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = write_temp (cases[i].contents);
      g_autofree char *expected = g_strconcat (path, cases[i].message, NULL);
      StServerConfig c;

      st_server_config_init (&c);
      g_assert_false (st_config_load_file (&c, path, &error));
      g_assert_nonnull (error);
      if (!g_str_has_prefix (error->message, expected))
        g_error ("case %u: “%s” does not start with “%s”", i, error->message, expected);
      st_server_config_clear (&c);
    }

  g_autoptr(GError) error = NULL;
  StServerConfig c;
  st_server_config_init (&c);
  g_assert_false (st_config_load_file (&c, "/nonexistent/starlingd.conf", &error));
  g_assert_nonnull (strstr (error->message, "/nonexistent/starlingd.conf"));
  st_server_config_clear (&c);
}

static void
test_every_key_documented (void)
{
  /* Each documented key must be settable: a key in the table that the
   * setter does not know would be an option that --help shows but fails. */
  for (const StConfigKey *k = st_config_keys (); k->key; k++)
    {
      g_autoptr(GError) error = NULL;
      StServerConfig c;

      st_server_config_init (&c);
      st_config_set (&c, k->key, "bogus value", &error);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_error ("documented key %s is not handled", k->key);
      g_assert_nonnull (k->description);
      st_server_config_clear (&c);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/set", test_set);
  g_test_add_func ("/config/set-errors", test_set_errors);
  g_test_add_func ("/config/file", test_file);
  g_test_add_func ("/config/file-errors", test_file_errors);
  g_test_add_func ("/config/every-key-documented", test_every_key_documented);
  return g_test_run ();
}
