/* fuzz-decode.c — libFuzzer target for the MQTT codec.
 *
 * Frames the input into packets and decodes each one for every protocol
 * version and both directions. Whatever decodes must encode to bytes that
 * decode to the same packet and re-encode identically; any difference
 * aborts. The topic and UTF-8 helpers are checked against simple oracles.
 *
 * Built two ways: with -fsanitize=fuzzer as the fuzzer (-Dfuzz=true, clang),
 * and with FUZZ_REPLAY_MAIN as a GLib test that replays the seed corpus in
 * every build, so an input that once failed stays covered. */
#define G_LOG_DOMAIN "starling-fuzz"

#include <stdio.h>
#include <stdlib.h>

#include "mqtt/mqtt-packet.h"
#include "../unit/test-mqtt-util.h"

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond))                                                         \
      {                                                                  \
        fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        abort ();                                                        \
      }                                                                  \
  } while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
walk_user_props (const MqttProperties *p)
{
  MqttIter it;
  MqttBytes k, v;
  size_t n = 0;

  mqtt_iter_init (&it, p->user_properties);
  while (mqtt_user_props_next (&it, &k, &v))
    {
      CHECK (mqtt_utf8_valid (k.data, k.len));
      CHECK (mqtt_utf8_valid (v.data, v.len));
      n++;
    }
  CHECK (it.p == it.end);
  /* A non-empty span starts and ends with a pair. */
  CHECK ((n > 0) == (p->user_properties.len > 0));
}

/* The iterators never fail on what the decoder accepted. */
static void
walk_lists (MqttVersion v, const MqttPacket *p)
{
  MqttIter it;
  MqttBytes f;
  MqttSubOptions o;
  uint32_t n = 0;

  switch (p->type)
    {
    case MQTT_CONNECT:
      walk_user_props (&p->connect.props);
      walk_user_props (&p->connect.will_props);
      if (p->connect.will_flag)
        CHECK (mqtt_topic_name_valid (p->connect.will_topic));
      break;
    case MQTT_CONNACK:
      walk_user_props (&p->connack.props);
      break;
    case MQTT_PUBLISH:
      walk_user_props (&p->publish.props);
      CHECK (p->publish.topic.len == 0 || mqtt_topic_name_valid (p->publish.topic));
      break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
      walk_user_props (&p->ack.props);
      break;
    case MQTT_SUBSCRIBE:
      walk_user_props (&p->subscribe.props);
      mqtt_iter_init (&it, p->subscribe.entries);
      while (mqtt_subscribe_next (&it, v, &f, &o))
        {
          CHECK (f.len > 0 && mqtt_utf8_valid (f.data, f.len));
          CHECK (o.qos <= 2 && o.retain_handling <= 2);
          n++;
        }
      CHECK (n == p->subscribe.n_entries && n > 0);
      break;
    case MQTT_UNSUBSCRIBE:
      walk_user_props (&p->unsubscribe.props);
      mqtt_iter_init (&it, p->unsubscribe.filters);
      while (mqtt_unsubscribe_next (&it, &f))
        {
          CHECK (f.len > 0 && mqtt_utf8_valid (f.data, f.len));
          n++;
        }
      CHECK (n == p->unsubscribe.n_filters && n > 0);
      break;
    case MQTT_SUBACK:
      walk_user_props (&p->suback.props);
      break;
    case MQTT_UNSUBACK:
      walk_user_props (&p->unsuback.props);
      break;
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
      walk_user_props (&p->disconnect.props);
      break;
    default:
      break;
    }
}

static void
check_publish_head (MqttVersion v, const MqttPublish *p, const StBuf *full)
{
  StBuf head = ST_BUF_INIT;
  size_t total = mqtt_encode_publish_head (&head, v, p);

  CHECK (total == full->len);
  CHECK (mqtt_publish_size (v, p) == full->len);
  CHECK (head.len + p->payload.len == full->len);
  CHECK (memcmp (head.data, full->data, head.len) == 0);
  st_buf_clear (&head);
}

static void
check_one (const uint8_t *buf, size_t len, MqttVersion v, bool from_client)
{
  MqttPacket a, b;
  MqttVersion ev;
  StBuf out = ST_BUF_INIT, again = ST_BUF_INIT;
  size_t hl;
  uint32_t rl;

  if (mqtt_decode (buf, len, v, from_client, &a) != MQTT_RC_SUCCESS)
    return;

  ev = a.type == MQTT_CONNECT ? a.connect.version : v;
  walk_lists (ev, &a);

  mqtt_test_encode (&out, ev, &a);
  CHECK (mqtt_frame (out.data, out.len, &hl, &rl) == MQTT_FRAME_OK);
  CHECK (hl + rl == out.len);
  CHECK (mqtt_decode (out.data, out.len, ev, from_client, &b) == MQTT_RC_SUCCESS);
  CHECK (mqtt_test_packet_eq (ev, &a, &b));
  CHECK (mqtt_test_packet_eq (ev, &b, &a));
  walk_lists (ev, &b);

  mqtt_test_encode (&again, ev, &b);
  CHECK (again.len == out.len && memcmp (again.data, out.data, out.len) == 0);

  if (a.type == MQTT_PUBLISH)
    check_publish_head (ev, &a.publish, &out);

  st_buf_clear (&out);
  st_buf_clear (&again);
}

/* Oracles for the topic helpers, on the input split at its first NUL-free
 * half: a valid topic name is a filter matching itself, and "#" matches
 * every topic that does not start with '$'. */
static void
check_topics (const uint8_t *data, size_t size)
{
  size_t half = size / 2;
  MqttBytes x = { data, (uint32_t) half };
  MqttBytes y = { data + half, (uint32_t) (size - half) };
  MqttBytes all = { data, (uint32_t) size };
  const MqttBytes hash = MQTT_BYTES_STR ("#");

  (void) mqtt_utf8_valid (data, size);
  (void) mqtt_topic_filter_valid (all, true);
  (void) mqtt_topic_filter_valid (all, false);
  (void) mqtt_topic_matches (x, y);

  if (mqtt_topic_name_valid (all))
    {
      CHECK (mqtt_topic_filter_valid (all, false) || (size >= 7 && memcmp (data, "$share/", 7) == 0));
      CHECK (mqtt_topic_matches (all, all));
      CHECK (mqtt_topic_matches (hash, all) == (data[0] != '$'));
    }
  if (mqtt_topic_filter_valid (x, false) && mqtt_topic_name_valid (y) &&
      mqtt_topic_matches (x, y))
    {
      /* Appending "/#" to a matching filter still matches. */
      uint8_t *ext = malloc (half + 2);

      CHECK (ext != NULL);
      memcpy (ext, x.data, half);
      if (half > 0 && x.data[half - 1] != '#')
        {
          ext[half] = '/';
          ext[half + 1] = '#';
          CHECK (mqtt_topic_matches ((MqttBytes) { ext, (uint32_t) half + 2 }, y));
        }
      free (ext);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const MqttVersion versions[] = { 0, MQTT_V31, MQTT_V311, MQTT_V5 };
  size_t off = 0;

  if (size == 0)
    return 0;
  check_topics (data, size);

  /* The input as a stream of packets, as a connection would see it. */
  while (off < size)
    {
      size_t hl;
      uint32_t rl;
      MqttFrameResult fr = mqtt_frame (data + off, size - off, &hl, &rl);
      size_t len;
      uint8_t *copy;

      if (fr == MQTT_FRAME_MALFORMED)
        break;
      if (fr == MQTT_FRAME_OK)
        {
          CHECK (hl >= 2 && hl <= 5 && hl + rl <= size - off);
          len = hl + rl;
        }
      else
        len = size - off;   /* a truncated packet must be rejected cleanly */

      /* An exact-size copy, so that reading past the packet is caught. */
      copy = malloc (len ? len : 1);
      CHECK (copy != NULL);
      memcpy (copy, data + off, len);
      for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
        {
          MqttPacket pkt;

          if (fr != MQTT_FRAME_OK)
            {
              CHECK (mqtt_decode (copy, len, versions[i], true, &pkt) == MQTT_RC_MALFORMED_PACKET);
              continue;
            }
          check_one (copy, len, versions[i], true);
          check_one (copy, len, versions[i], false);
        }
      free (copy);
      if (fr != MQTT_FRAME_OK)
        break;
      off += len;
    }
  return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include <glib.h>

static void
replay_file (gconstpointer data)
{
  const char *path = data;
  g_autofree char *contents = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  LLVMFuzzerTestOneInput ((const uint8_t *) contents, len);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  const char *name;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  dir = g_dir_open (FUZZ_CORPUS_DIR, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  /* An empty corpus would make this test pass vacuously. */
  g_assert_cmpuint (names->len, >, 0);

  for (guint i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      g_autofree char *test_path = g_strdup_printf ("/fuzz/replay/%s", n);
      char *file = g_build_filename (FUZZ_CORPUS_DIR, n, NULL);

      g_ptr_array_add (paths, file);
      g_test_add_data_func (test_path, file, replay_file);
    }
  return g_test_run ();
}
#endif
