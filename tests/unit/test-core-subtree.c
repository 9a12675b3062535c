/* The subscription index: wildcards, '$' topics, shared groups, merging of
 * overlapping subscriptions, No Local. */
#include <glib.h>

#include "core/st-subtree.h"

typedef struct { int id; bool online; } Owner;

static bool
owner_online (void *owner)
{
  return ((Owner *) owner)->online;
}

static void
sub (StSubtree *t, Owner *o, const char *filter, uint8_t qos, uint32_t id)
{
  MqttSubOptions opts = { .qos = qos };

  st_subtree_add (t, o, MQTT_BYTES_STR (filter), &opts, id);
}

/* Number of matches for owner (non-shared and shared) on topic. */
static const StMatch *
find (StMatchResult *r, Owner *o)
{
  for (guint i = 0; i < r->matches->len; i++)
    {
      StMatch *m = &g_array_index (r->matches, StMatch, i);
      if (m->owner == o)
        return m;
    }
  return NULL;
}

static bool
matches (StSubtree *t, const char *topic, Owner *o)
{
  StMatchResult r;
  bool found;

  st_match_result_init (&r);
  st_subtree_match (t, MQTT_BYTES_STR (topic), NULL, &r);
  found = find (&r, o) != NULL;
  st_match_result_clear (&r);
  return found;
}

static void
test_wildcards (void)
{
  struct { const char *filter, *topic; bool match; } cases[] = {
    { "a/b", "a/b", true },
    { "a/b", "a/c", false },
    { "a/b", "a/b/c", false },
    { "a/+", "a/b", true },
    { "a/+", "a/b/c", false },
    { "a/+", "a/", true },
    { "a/+", "a", false },
    { "+/+", "/b", true },
    { "+", "/b", false },
    { "a/#", "a", true },
    { "a/#", "a/b/c", true },
    { "a/#", "b", false },
    { "#", "a/b/c", true },
    { "#", "/", true },
    { "a/+/#", "a/b", true },
    { "a/+/#", "a/b/c/d", true },
    { "+/b/#", "x/b", true },
    { "a//b", "a//b", true },
    { "a/+/b", "a//b", true },
    { "#", "$SYS/x", false },
    { "+/x", "$SYS/x", false },
    { "$SYS/#", "$SYS/x", true },
    { "$SYS/+", "$SYS/x", true },
    { "a/$x", "a/$x", true },
    { "+/$x", "a/$x", true },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      StSubtree *t = st_subtree_new (owner_online);
      Owner o = { 1, true };

      sub (t, &o, cases[i].filter, 1, 0);
      g_test_message ("%s ~ %s", cases[i].filter, cases[i].topic);
      g_assert_cmpint (matches (t, cases[i].topic, &o), ==, cases[i].match);
      g_assert_cmpint (st_topic_matches (MQTT_BYTES_STR (cases[i].filter),
                                         MQTT_BYTES_STR (cases[i].topic)), ==, cases[i].match);
      st_subtree_free (t);
    }
}

static void
test_merge (void)
{
  StSubtree *t = st_subtree_new (owner_online);
  Owner a = { 1, true }, b = { 2, true };
  StMatchResult r;

  sub (t, &a, "x/#", 0, 7);
  sub (t, &a, "x/+", 2, 9);
  sub (t, &a, "x/y", 1, 0);
  sub (t, &b, "x/y", 1, 3);
  g_assert_cmpuint (st_subtree_count (t), ==, 4);

  st_match_result_init (&r);
  st_subtree_match (t, MQTT_BYTES_STR ("x/y"), NULL, &r);
  g_assert_cmpuint (r.matches->len, ==, 2);

  const StMatch *ma = find (&r, &a);
  g_assert_nonnull (ma);
  g_assert_cmpuint (ma->qos, ==, 2);
  g_assert_cmpuint (ma->n_ids, ==, 2);
  const uint32_t *ids = st_match_ids (&r, ma);
  g_assert_true ((ids[0] == 7 && ids[1] == 9) || (ids[0] == 9 && ids[1] == 7));

  const StMatch *mb = find (&r, &b);
  g_assert_nonnull (mb);
  g_assert_cmpuint (mb->qos, ==, 1);
  g_assert_cmpuint (mb->n_ids, ==, 1);
  g_assert_cmpuint (st_match_ids (&r, mb)[0], ==, 3);

  /* Resubscribing replaces the options: no new subscription. */
  MqttSubOptions opts = { .qos = 0 };
  g_assert_false (st_subtree_add (t, &a, MQTT_BYTES_STR ("x/+"), &opts, 0));
  st_subtree_match (t, MQTT_BYTES_STR ("x/y"), NULL, &r);
  ma = find (&r, &a);
  g_assert_cmpuint (ma->qos, ==, 1);
  g_assert_cmpuint (ma->n_ids, ==, 1);

  g_assert_true (st_subtree_remove (t, &a, MQTT_BYTES_STR ("x/y")));
  g_assert_false (st_subtree_remove (t, &a, MQTT_BYTES_STR ("x/y")));
  g_assert_true (st_subtree_remove (t, &a, MQTT_BYTES_STR ("x/+")));
  g_assert_true (st_subtree_remove (t, &a, MQTT_BYTES_STR ("x/#")));
  st_subtree_match (t, MQTT_BYTES_STR ("x/y"), NULL, &r);
  g_assert_null (find (&r, &a));
  g_assert_nonnull (find (&r, &b));
  g_assert_cmpuint (st_subtree_count (t), ==, 1);

  st_match_result_clear (&r);
  st_subtree_free (t);
}

static void
test_no_local (void)
{
  StSubtree *t = st_subtree_new (owner_online);
  Owner a = { 1, true }, b = { 2, true };
  MqttSubOptions nl = { .qos = 1, .no_local = true };
  StMatchResult r;

  st_subtree_add (t, &a, MQTT_BYTES_STR ("n/#"), &nl, 0);
  st_subtree_add (t, &b, MQTT_BYTES_STR ("n/#"), &nl, 0);
  st_match_result_init (&r);
  st_subtree_match (t, MQTT_BYTES_STR ("n/1"), &a, &r);
  g_assert_null (find (&r, &a));
  g_assert_nonnull (find (&r, &b));
  st_match_result_clear (&r);
  st_subtree_free (t);
}

static void
test_shared (void)
{
  StSubtree *t = st_subtree_new (owner_online);
  Owner a = { 1, true }, b = { 2, true }, c = { 3, true };
  StMatchResult r;
  int got[4] = { 0 };

  sub (t, &a, "$share/g/s/#", 1, 0);
  sub (t, &b, "$share/g/s/#", 1, 0);
  sub (t, &c, "$share/g/s/#", 1, 0);
  sub (t, &c, "$share/h/s/+", 2, 5);
  st_match_result_init (&r);

  /* Round robin: each member gets one message in three. */
  for (int i = 0; i < 6; i++)
    {
      st_subtree_match (t, MQTT_BYTES_STR ("s/x"), NULL, &r);
      g_assert_cmpuint (r.matches->len, ==, 2);
      for (guint j = 0; j < r.matches->len; j++)
        {
          StMatch *m = &g_array_index (r.matches, StMatch, j);
          g_assert_true (m->shared);
          if (m->qos == 1)
            got[((Owner *) m->owner)->id]++;
          else
            {
              g_assert_true (m->owner == &c);
              g_assert_cmpuint (m->n_ids, ==, 1);
              g_assert_cmpuint (st_match_ids (&r, m)[0], ==, 5);
            }
        }
    }
  g_assert_cmpint (got[1], ==, 2);
  g_assert_cmpint (got[2], ==, 2);
  g_assert_cmpint (got[3], ==, 2);

  /* Connected members are preferred. */
  a.online = false;
  c.online = false;
  for (int i = 0; i < 4; i++)
    {
      st_subtree_match (t, MQTT_BYTES_STR ("s/x/y"), NULL, &r);
      g_assert_cmpuint (r.matches->len, ==, 1);
      g_assert_true (g_array_index (r.matches, StMatch, 0).owner == &b);
    }
  /* With nobody connected, someone still gets it (to queue). */
  b.online = false;
  st_subtree_match (t, MQTT_BYTES_STR ("s/x/y"), NULL, &r);
  g_assert_cmpuint (r.matches->len, ==, 1);

  /* Shared and plain subscriptions of one owner are separate deliveries. */
  a.online = true;
  sub (t, &a, "s/x/y", 0, 0);
  st_subtree_remove (t, &b, MQTT_BYTES_STR ("$share/g/s/#"));
  st_subtree_remove (t, &c, MQTT_BYTES_STR ("$share/g/s/#"));
  st_subtree_match (t, MQTT_BYTES_STR ("s/x/y"), NULL, &r);
  g_assert_cmpuint (r.matches->len, ==, 2);

  st_match_result_clear (&r);
  st_subtree_free (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/core/subtree/wildcards", test_wildcards);
  g_test_add_func ("/core/subtree/merge", test_merge);
  g_test_add_func ("/core/subtree/no-local", test_no_local);
  g_test_add_func ("/core/subtree/shared", test_shared);
  return g_test_run ();
}
