/* test-mqtt-topic.c — topic names, topic filters and matching (MQTT 4.7). */
#define G_LOG_DOMAIN "starling-test"

#include <glib.h>

#include "mqtt/mqtt-packet.h"

static MqttBytes
str (const char *s)
{
  return MQTT_BYTES_STR (s);
}

typedef struct {
  const char *filter;
  const char *topic;
  bool        matches;
} MatchCase;

static const MatchCase match_cases[] = {
  /* Section 4.7.1.2 */
  { "sport/tennis/player1/#", "sport/tennis/player1", true },
  { "sport/tennis/player1/#", "sport/tennis/player1/ranking", true },
  { "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true },
  { "sport/#", "sport", true },
  { "#", "sport", true },
  { "#", "sport/tennis", true },
  { "#", "/", true },
  { "#", "a//b", true },
  /* Section 4.7.1.3 */
  { "sport/tennis/+", "sport/tennis/player1", true },
  { "sport/tennis/+", "sport/tennis/player2", true },
  { "sport/tennis/+", "sport/tennis/player1/ranking", false },
  { "sport/+", "sport", false },
  { "sport/+", "sport/", true },
  { "+/+", "/finance", true },
  { "/+", "/finance", true },
  { "+", "/finance", false },
  { "+/tennis/#", "sport/tennis/player1", true },
  { "+/tennis/#", "sport/tennis", true },
  { "+/tennis/#", "sport/golf", false },
  { "+", "a", true },
  { "+/#", "a", true },
  { "+/+/+", "a/b", false },
  /* Section 4.7.2: leading wildcards do not match '$' topics */
  { "#", "$SYS/monitor/Clients", false },
  { "+/monitor/Clients", "$SYS/monitor/Clients", false },
  { "$SYS/#", "$SYS/monitor/Clients", true },
  { "$SYS/monitor/+", "$SYS/monitor/Clients", true },
  { "#", "$SYS", false },
  { "+", "$", false },
  { "a/#", "a/$SYS", true },
  { "a/+", "a/$x", true },
  /* Section 4.7.3: case-sensitive, empty levels are levels */
  { "ACCOUNTS", "Accounts", false },
  { "Accounts payable", "Accounts payable", true },
  { "a//b", "a//b", true },
  { "a/+/b", "a//b", true },
  { "a/b", "a//b", false },
  { "a//b", "a/b", false },
  { "/", "/", true },
  { "+/+", "/", true },
  { "/#", "/", true },
  { "/#", "a", false },
  { "a/b/", "a/b/", true },
  { "a/b", "a/b/", false },
  { "a/b/", "a/b", false },
  { "a/b/#", "a/b/", true },
  { "a/b/+", "a/b/", true },
  { "a/b/c", "a/b", false },
  { "a/b", "a/b/c", false },
  { "a/b", "a/bc", false },
  { "a/bc", "a/b", false },
  { "a/b", "a/b", true },
  { "a/+/c/#", "a/x/c", true },
  { "a/+/c/#", "a/x/d", false },
  { "caf\xc3\xa9/+", "caf\xc3\xa9/x", true },
};

static void
test_matches (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (match_cases); i++)
    {
      const MatchCase *c = &match_cases[i];

      if (mqtt_topic_matches (str (c->filter), str (c->topic)) != c->matches)
        g_error ("\"%s\" %s match \"%s\"", c->filter,
                 c->matches ? "should" : "should not", c->topic);
      /* Every filter used here is a valid one. */
      g_assert_true (mqtt_topic_filter_valid (str (c->filter), false));
    }
}

/* Matching must look only at the bytes given, never past len. */
static void
test_matches_bounds (void)
{
  static const char buf[] = "a/b/c";

  g_assert_true (mqtt_topic_matches ((MqttBytes) { (const uint8_t *) buf, 3 },
                                     (MqttBytes) { (const uint8_t *) buf, 3 }));
  g_assert_false (mqtt_topic_matches ((MqttBytes) { (const uint8_t *) buf, 3 },
                                      (MqttBytes) { (const uint8_t *) buf, 5 }));
  g_assert_true (mqtt_topic_matches (str ("a/+"), (MqttBytes) { (const uint8_t *) buf, 3 }));
  g_assert_false (mqtt_topic_matches (str ("a/+"), (MqttBytes) { (const uint8_t *) buf, 4 }));
}

typedef struct {
  const char *s;
  bool        valid;
} ValidCase;

static const ValidCase name_cases[] = {
  { "a", true },
  { "a/b", true },
  { "/", true },
  { "a//b", true },
  { "$SYS/broker", true },
  { "a b/\xe2\x82\xac", true },
  { "", false },
  { "a/+", false },
  { "+", false },
  { "#", false },
  { "a/#", false },
  { "a#b", false },
  { "a+b", false },
  { "\xc0\xaf", false },
  { "\xed\xa0\x80", false },
};

static void
test_name_valid (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (name_cases); i++)
    if (mqtt_topic_name_valid (str (name_cases[i].s)) != name_cases[i].valid)
      g_error ("topic name \"%s\" should be %s", name_cases[i].s,
               name_cases[i].valid ? "valid" : "invalid");
  /* U+0000 inside a name. */
  g_assert_false (mqtt_topic_name_valid ((MqttBytes) { (const uint8_t *) "a\0b", 3 }));
}

static const ValidCase filter_cases[] = {
  { "#", true },
  { "+", true },
  { "a/#", true },
  { "+/+", true },
  { "/+", true },
  { "+/", true },
  { "a/+/b", true },
  { "sport/tennis/#", true },
  { "a//b", true },
  { "/", true },
  { "$SYS/#", true },
  { "$share", true },
  { "$shared/g/a", true },
  { "", false },
  { "a#", false },
  { "#a", false },
  { "a/#/b", false },
  { "a/b#", false },
  { "a/#/", false },
  { "##", false },
  { "#/", false },
  { "a+", false },
  { "+a", false },
  { "a/+b", false },
  { "a/b+/c", false },
  { "++", false },
  { "\xff", false },
};

static void
test_filter_valid (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (filter_cases); i++)
    {
      const ValidCase *c = &filter_cases[i];

      if (mqtt_topic_filter_valid (str (c->s), false) != c->valid)
        g_error ("filter \"%s\" should be %s", c->s, c->valid ? "valid" : "invalid");
      if (mqtt_topic_filter_valid (str (c->s), true) != c->valid)
        g_error ("filter \"%s\" (shared allowed) should be %s", c->s, c->valid ? "valid" : "invalid");
    }
}

static const ValidCase shared_cases[] = {
  { "$share/g/a/b", true },
  { "$share/g/#", true },
  { "$share/g/+/x", true },
  { "$share/group-1/+", true },
  { "$share/g//", true },
  { "$share/g/$SYS/#", true },
  { "$share/", false },
  { "$share//a", false },
  { "$share/g", false },
  { "$share/g/", false },
  { "$share/g+/a", false },
  { "$share/+/a", false },
  { "$share/#/a", false },
  { "$share/g#/a", false },
  { "$share/g/a#", false },
  { "$share/g/a/#/b", false },
};

static void
test_filter_shared (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (shared_cases); i++)
    {
      const ValidCase *c = &shared_cases[i];

      if (mqtt_topic_filter_valid (str (c->s), true) != c->valid)
        g_error ("shared filter \"%s\" should be %s", c->s, c->valid ? "valid" : "invalid");
      /* Without shared subscriptions no $share/ filter is accepted. */
      g_assert_false (mqtt_topic_filter_valid (str (c->s), false));
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/mqtt/topic/matches", test_matches);
  g_test_add_func ("/mqtt/topic/matches-bounds", test_matches_bounds);
  g_test_add_func ("/mqtt/topic/name-valid", test_name_valid);
  g_test_add_func ("/mqtt/topic/filter-valid", test_filter_valid);
  g_test_add_func ("/mqtt/topic/filter-shared", test_filter_shared);

  return g_test_run ();
}
