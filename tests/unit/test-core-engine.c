/* Engine set-up: limit defaults and broker selection by TLS SNI. */
#include <glib.h>

#include "core/st-engine-private.h"

static void
test_limits (void)
{
  StLimits l;

  st_limits_init (&l);
  g_assert_cmpuint (l.max_packet_size, ==, 1024 * 1024);
  g_assert_cmpuint (l.max_connections, ==, 10000);
  g_assert_cmpuint (l.max_queued_messages, ==, 1000);
  g_assert_cmpuint (l.max_queued_bytes, ==, 64 * 1024 * 1024);
  g_assert_cmpuint (l.connect_timeout_ms, ==, 10000);
  g_assert_cmpuint (l.receive_maximum, ==, 100);
  g_assert_cmpuint (l.topic_alias_maximum, ==, 64);
  g_assert_cmpuint (l.max_topic_length, ==, 65535);
  g_assert_cmpuint (l.max_topic_levels, ==, 128);
  g_assert_cmpuint (l.max_keep_alive, ==, 0);
  g_assert_cmpuint (l.max_session_expiry, ==, G_MAXUINT32);
  g_assert_cmpuint (l.max_output_buffer, ==, 4 * 1024 * 1024);
}

static void
test_sni (void)
{
  StEngine *e = st_engine_new (NULL);
  StBroker *a = st_engine_add_broker (e, "0123456789abcdef0123456789abcdef", "ns", "alpha", ST_AUTH_NONE);
  StBroker *b = st_engine_add_broker (e, "fedcba9876543210fedcba9876543210", "ns", "beta", ST_AUTH_TOKEN);

  st_engine_set_public_host (e, "mq.example.com");
  /* no default: only an SNI name reaches a broker */
  g_assert_null (st_engine_pick_broker (e, NULL));
  g_assert_null (st_engine_pick_broker (e, "gamma.ns.mq.example.com"));
  g_assert_true (st_engine_pick_broker (e, "alpha.ns.mq.example.com") == a);
  g_assert_true (st_engine_pick_broker (e, "BETA.NS.MQ.Example.com") == b);
  g_assert_null (st_engine_pick_broker (e, "beta.other.mq.example.com"));
  g_assert_null (st_engine_pick_broker (e, "beta.ns.example.com"));
  g_assert_null (st_engine_pick_broker (e, "ns.mq.example.com"));

  st_engine_set_default_broker (e, b);
  g_assert_true (st_engine_pick_broker (e, NULL) == b);
  g_assert_true (st_engine_pick_broker (e, "unknown.host") == b);
  g_assert_true (st_engine_pick_broker (e, "alpha.ns.mq.example.com") == a);
  /* A removed broker's name reaches the default. */
  st_engine_remove_broker (e, a);
  g_assert_true (st_engine_pick_broker (e, "alpha.ns.mq.example.com") == b);
  st_engine_free (e);
}

static void
test_connection_count (void)
{
  StLimits l;

  st_limits_init (&l);
  l.max_connections = 2;
  StEngine *e = st_engine_new (&l);
  g_assert_true (st_engine_count_connection (e));
  g_assert_true (st_engine_count_connection (e));
  g_assert_false (st_engine_count_connection (e));
  st_engine_uncount_connection (e);
  g_assert_true (st_engine_count_connection (e));
  st_engine_free (e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/core/engine/limits", test_limits);
  g_test_add_func ("/core/engine/sni", test_sni);
  g_test_add_func ("/core/engine/connection-count", test_connection_count);
  return g_test_run ();
}
