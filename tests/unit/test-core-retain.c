/* Retained messages: match by filter, replace, clear, expiry. */
#include <glib.h>

#include "core/st-retain.h"
#include "core/st-subtree.h"

static StMessage *
msg (const char *topic, const char *payload, uint8_t qos)
{
  return st_message_new (MQTT_BYTES_STR (topic), MQTT_BYTES_STR (payload), qos, true, NULL, 0);
}

static guint
count (StRetain *store, const char *filter, gint64 now)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) st_message_unref);

  st_retain_match (store, MQTT_BYTES_STR (filter), now, out);
  return out->len;
}

static void
test_match (void)
{
  StRetain *store = st_retain_new ();
  const char *topics[] = { "a", "a/b", "a/b/c", "b/c", "$SYS/x" };

  for (guint i = 0; i < G_N_ELEMENTS (topics); i++)
    {
      g_autoptr (StMessage) m = msg (topics[i], "x", 0);
      st_retain_set (store, m);
    }
  g_assert_cmpuint (st_retain_count (store), ==, 5);
  g_assert_cmpuint (count (store, "#", 0), ==, 4);
  g_assert_cmpuint (count (store, "a/#", 0), ==, 3);
  g_assert_cmpuint (count (store, "+/c", 0), ==, 1);
  g_assert_cmpuint (count (store, "+/+/c", 0), ==, 1);
  g_assert_cmpuint (count (store, "+/b", 0), ==, 1);
  g_assert_cmpuint (count (store, "a/b", 0), ==, 1);
  g_assert_cmpuint (count (store, "a/x", 0), ==, 0);
  g_assert_cmpuint (count (store, "$SYS/#", 0), ==, 1);
  g_assert_cmpuint (count (store, "+/x", 0), ==, 0);
  g_assert_cmpuint (count (store, "+", 0), ==, 1);
  g_assert_cmpuint (count (store, "+/+", 0), ==, 2);
  g_assert_cmpuint (count (store, "+/#", 0), ==, 4);
  g_assert_cmpuint (count (store, "a/+/#", 0), ==, 2);
  g_assert_cmpuint (count (store, "a/b/c/#", 0), ==, 1);
  g_assert_cmpuint (count (store, "a/b/c/d", 0), ==, 0);
  g_assert_cmpuint (count (store, "$SYS/+", 0), ==, 1);

  /* Agrees with the single-pair matcher on every filter/topic pair. */
  const char *filters[] = { "#", "+", "+/+", "+/#", "a/#", "a/+", "a/+/+", "+/b/#", "$SYS/#",
                            "a//b", "+//+", "/#", "a/b/c", "b/+" };
  const char *more[] = { "a//b", "/x", "/", "b" };
  for (guint i = 0; i < G_N_ELEMENTS (more); i++)
    {
      g_autoptr (StMessage) m = msg (more[i], "y", 0);
      st_retain_set (store, m);
    }
  for (guint f = 0; f < G_N_ELEMENTS (filters); f++)
    {
      guint want = 0;
      for (guint i = 0; i < G_N_ELEMENTS (topics); i++)
        want += st_topic_matches (MQTT_BYTES_STR (filters[f]), MQTT_BYTES_STR (topics[i]));
      for (guint i = 0; i < G_N_ELEMENTS (more); i++)
        want += st_topic_matches (MQTT_BYTES_STR (filters[f]), MQTT_BYTES_STR (more[i]));
      g_test_message ("filter %s", filters[f]);
      g_assert_cmpuint (count (store, filters[f], 0), ==, want);
    }
  st_retain_free (store);
}

static void
test_replace_clear (void)
{
  StRetain *store = st_retain_new ();
  g_autoptr (StMessage) m1 = msg ("t", "one", 1);
  g_autoptr (StMessage) m2 = msg ("t", "two", 2);
  g_autoptr (StMessage) empty = msg ("t", "", 0);

  st_retain_set (store, m1);
  st_retain_set (store, m2);
  g_assert_cmpuint (st_retain_count (store), ==, 1);
  StMessage *got = st_retain_lookup (store, MQTT_BYTES_STR ("t"));
  g_assert_true (got == m2);
  g_assert_cmpuint (got->qos, ==, 2);

  st_retain_set (store, empty);
  st_retain_set (store, empty); /* clearing twice is harmless */
  g_assert_cmpuint (st_retain_count (store), ==, 0);
  g_assert_null (st_retain_lookup (store, MQTT_BYTES_STR ("t")));
  g_assert_cmpuint (count (store, "#", 0), ==, 0);
  st_retain_free (store);
}

static void
test_expiry (void)
{
  StRetain *store = st_retain_new ();
  MqttProperties props = { 0 };

  props.present = MQTT_PROP_BIT (MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
  props.message_expiry_interval = 10;
  g_autoptr (StMessage) m = st_message_new (MQTT_BYTES_STR ("e"), MQTT_BYTES_STR ("x"), 0, true, &props, 1000);
  st_retain_set (store, m);
  g_assert_cmpuint (st_message_remaining (m, 1000), ==, 10);
  g_assert_cmpuint (st_message_remaining (m, 5500), ==, 6);
  g_assert_cmpuint (count (store, "e", 10999), ==, 1);
  g_assert_cmpuint (count (store, "#", 11000), ==, 0);
  g_assert_cmpuint (st_retain_count (store), ==, 0);
  st_retain_free (store);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/core/retain/match", test_match);
  g_test_add_func ("/core/retain/replace-clear", test_replace_clear);
  g_test_add_func ("/core/retain/expiry", test_expiry);
  return g_test_run ();
}
