/* Session queue bounds and packet id allocation. */
#include <glib.h>

#include "core/st-session.h"

static StDelivery *
delivery (uint8_t qos, size_t payload)
{
  g_autofree char *data = g_malloc0 (payload + 1);
  memset (data, 'x', payload);
  g_autoptr (StMessage) m = st_message_new (MQTT_BYTES_STR ("t"), MQTT_BYTES_STR (data), qos, false, NULL, 0);

  return st_delivery_new (m, qos, false, NULL, 0);
}

static void
test_bounds_count (void)
{
  StLimits limits;
  StSession *s = st_session_new (NULL, "c");

  st_limits_init (&limits);
  limits.max_queued_messages = 3;

  g_assert_true (st_session_enqueue (s, delivery (0, 1), &limits));
  g_assert_true (st_session_enqueue (s, delivery (1, 1), &limits));
  g_assert_true (st_session_enqueue (s, delivery (0, 1), &limits));
  /* Full: a new QoS 0 message is dropped. */
  g_assert_false (st_session_enqueue (s, delivery (0, 1), &limits));
  g_assert_cmpuint (s->queue.length, ==, 3);
  /* Full: a new QoS 1 message pushes out the oldest QoS 0 one. */
  g_assert_true (st_session_enqueue (s, delivery (2, 1), &limits));
  g_assert_cmpuint (s->queue.length, ==, 3);
  g_assert_cmpuint (((StDelivery *) s->queue.head->data)->qos, ==, 1);
  g_assert_true (st_session_enqueue (s, delivery (1, 1), &limits));
  g_assert_cmpuint (s->queued_qos0, ==, 0);
  /* Full of QoS 1/2: the new one is dropped. */
  g_assert_false (st_session_enqueue (s, delivery (1, 1), &limits));
  g_assert_cmpuint (s->dropped_queue_full, ==, 4);

  StDelivery *d = st_session_dequeue (s);
  g_assert_cmpuint (d->qos, ==, 1);
  st_delivery_free (d);
  g_assert_cmpuint (s->queue.length, ==, 2);
  st_session_free (s);
}

/* A connection that keeps up (draining) is not held to the count bound,
 * only to the byte bound. */
static void
test_bounds_draining (void)
{
  StLimits limits;
  StSession *s = st_session_new (NULL, "c");

  st_limits_init (&limits);
  limits.max_queued_messages = 2;
  limits.max_queued_bytes = 10000;
  s->draining = true;
  for (int i = 0; i < 5; i++)
    g_assert_true (st_session_enqueue (s, delivery (0, 100), &limits));
  g_assert_false (st_session_enqueue (s, delivery (0, 10000), &limits));
  /* Held back again: the bound is back; QoS 0 makes room for QoS 1. */
  s->draining = false;
  g_assert_false (st_session_enqueue (s, delivery (0, 1), &limits));
  g_assert_true (st_session_enqueue (s, delivery (1, 1), &limits));
  g_assert_cmpuint (s->queue.length, ==, 2);
  g_assert_cmpuint (s->queued_qos0, ==, 1);
  st_session_free (s);
}

static void
test_bounds_bytes (void)
{
  StLimits limits;
  StSession *s = st_session_new (NULL, "c");

  st_limits_init (&limits);
  limits.max_queued_bytes = 3000;
  g_assert_true (st_session_enqueue (s, delivery (1, 1000), &limits));
  g_assert_true (st_session_enqueue (s, delivery (1, 1000), &limits));
  g_assert_false (st_session_enqueue (s, delivery (1, 1000), &limits));
  g_assert_true (st_session_enqueue (s, delivery (1, 10), &limits));
  st_delivery_free (st_session_dequeue (s));
  st_delivery_free (st_session_dequeue (s));
  st_delivery_free (st_session_dequeue (s));
  g_assert_cmpuint (s->queued_bytes, ==, 0);
  st_session_free (s);
}

static void
test_bounds_expired (void)
{
  StLimits limits;
  StSession *s = st_session_new (NULL, "c");
  MqttProperties props = { 0 };

  st_limits_init (&limits);
  limits.max_queued_messages = 2;
  props.present = MQTT_PROP_BIT (MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
  props.message_expiry_interval = 1;
  /* created "long ago": already expired now */
  g_autoptr (StMessage) old = st_message_new (MQTT_BYTES_STR ("t"), MQTT_BYTES_STR ("x"), 1, false,
                                              &props, st_now_ms () - 5000);
  g_assert_true (st_session_enqueue (s, st_delivery_new (old, 1, false, NULL, 0), &limits));
  g_assert_true (st_session_enqueue (s, delivery (1, 1), &limits));
  /* full, but the expired one makes room */
  g_assert_true (st_session_enqueue (s, delivery (1, 1), &limits));
  g_assert_cmpuint (s->queue.length, ==, 2);
  g_assert_cmpuint (s->dropped_expired, ==, 1);
  g_assert_cmpuint (s->dropped_queue_full, ==, 0);
  st_session_free (s);
}

static void
test_packet_ids (void)
{
  StSession *s = st_session_new (NULL, "c");
  GHashTable *seen = g_hash_table_new (NULL, NULL);

  /* Every id is handed out once while in flight; 0 is never used. */
  for (guint i = 0; i < 65535; i++)
    {
      StDelivery *d = delivery (1, 0);
      d->packet_id = st_session_alloc_packet_id (s);
      g_assert_cmpuint (d->packet_id, !=, 0);
      g_assert_false (g_hash_table_contains (seen, GUINT_TO_POINTER (d->packet_id)));
      g_hash_table_add (seen, GUINT_TO_POINTER (d->packet_id));
      st_session_inflight_add (s, d);
    }
  g_assert_cmpuint (st_session_alloc_packet_id (s), ==, 0);

  /* Freeing one makes exactly that one available. */
  StDelivery *d = st_session_inflight_find (s, 1234);
  g_assert_nonnull (d);
  st_session_inflight_remove (s, d);
  g_assert_null (st_session_inflight_find (s, 1234));
  g_assert_cmpuint (st_session_alloc_packet_id (s), ==, 1234);
  g_assert_cmpuint (s->inflight.length, ==, 65534);

  /* In-flight order is kept for resending. */
  g_assert_cmpuint (((StDelivery *) s->inflight.head->data)->packet_id, ==, 1);
  g_hash_table_unref (seen);
  st_session_free (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/core/session/bounds-count", test_bounds_count);
  g_test_add_func ("/core/session/bounds-bytes", test_bounds_bytes);
  g_test_add_func ("/core/session/bounds-draining", test_bounds_draining);
  g_test_add_func ("/core/session/bounds-expired", test_bounds_expired);
  g_test_add_func ("/core/session/packet-ids", test_packet_ids);
  return g_test_run ();
}
