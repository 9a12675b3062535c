/* The inspector's models without a display: the topic tree, the message
 * log's bound and filter, topic matching, and the payload formatters and
 * parsers. */
#include <gio/gio.h>
#include <pango/pango.h>
#include <string.h>

#include "starling-message-log.h"
#include "starling-message.h"
#include "starling-mqtt-client.h"
#include "starling-payload.h"
#include "starling-topic-tree.h"

static StarlingMessage *
msg (const char *topic, const char *payload, gboolean retain)
{
  g_autoptr(GBytes) bytes = g_bytes_new (payload, strlen (payload));

  return starling_message_new (topic, bytes, 0, retain, FALSE, 0, NULL);
}

static void
on_items_changed (GListModel *model, guint position, guint removed, guint added, guint *calls)
{
  (*calls)++;
}

static void
on_topic_added (StarlingTopicTree *tree, const char *topic, GPtrArray *seen)
{
  g_ptr_array_add (seen, g_strdup (topic));
}

static void
on_changed (StarlingTopicNode *node, guint *calls)
{
  (*calls)++;
}

static void
test_tree_levels (void)
{
  g_autoptr(StarlingTopicTree) tree = starling_topic_tree_new (3);
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  StarlingMessage *batch[6];
  StarlingTopicNode *home, *kitchen, *temp;
  GListModel *top;
  g_autoptr(StarlingTopicNode) first = NULL;
  guint home_changed = 0;

  g_signal_connect (tree, "topic-added", G_CALLBACK (on_topic_added), seen);
  batch[0] = msg ("home/kitchen/temp", "21.5", FALSE);
  batch[1] = msg ("home/kitchen/temp", "22", FALSE);
  batch[2] = msg ("home/hall/temp", "19", TRUE);
  batch[3] = msg ("garden", "wet", FALSE);
  batch[4] = msg ("home/kitchen/temp", "23", FALSE);
  batch[5] = msg ("home/kitchen/temp", "24", FALSE);
  starling_topic_tree_add (tree, batch, 2);

  home = starling_topic_tree_lookup (tree, "home");
  g_assert_nonnull (home);
  g_signal_connect (home, "changed", G_CALLBACK (on_changed), &home_changed);
  starling_topic_tree_add (tree, batch + 2, 4);
  /* One "changed" per batch, however many messages touched the node. */
  g_assert_cmpuint (home_changed, ==, 1);

  top = starling_topic_tree_get_model (tree);
  g_assert_cmpuint (g_list_model_get_n_items (top), ==, 2);
  first = g_list_model_get_item (top, 0);
  /* Sorted by name. */
  g_assert_cmpstr (starling_topic_node_get_name (first), ==, "garden");

  kitchen = starling_topic_tree_lookup (tree, "home/kitchen");
  temp = starling_topic_tree_lookup (tree, "home/kitchen/temp");
  g_assert_nonnull (kitchen);
  g_assert_true (starling_topic_node_get_parent (temp) == kitchen);
  g_assert_true (starling_topic_node_get_parent (kitchen) == home);
  g_assert_cmpstr (starling_topic_node_get_topic (kitchen), ==, "home/kitchen");
  g_assert_cmpuint (starling_topic_node_get_count (home), ==, 5);
  g_assert_cmpuint (starling_topic_node_get_own_count (home), ==, 0);
  g_assert_null (starling_topic_node_get_last (home));
  g_assert_cmpuint (starling_topic_node_get_count (temp), ==, 4);
  g_assert_cmpuint (starling_topic_node_get_own_count (temp), ==, 4);
  g_assert_true (starling_topic_node_get_last (temp) == batch[5]);
  g_assert_cmpuint (g_list_model_get_n_items (starling_topic_node_get_children (home)), ==, 2);
  g_assert_true (starling_topic_node_has_children (home));
  g_assert_false (starling_topic_node_has_children (temp));

  /* Only topics with messages of their own count as topics. */
  g_assert_cmpuint (starling_topic_tree_get_n_topics (tree), ==, 3);
  g_assert_cmpuint (starling_topic_tree_get_n_messages (tree), ==, 6);
  g_assert_cmpuint (seen->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (seen, 0), ==, "home/kitchen/temp");

  /* History capped at 3, oldest first. */
  g_assert_cmpuint (starling_topic_node_get_n_history (temp), ==, 3);
  g_assert_true (starling_topic_node_get_history (temp, 0) == batch[1]);
  g_assert_true (starling_topic_node_get_history (temp, 2) == batch[5]);

  /* Retained marker. */
  g_assert_true (starling_topic_node_get_retained (starling_topic_tree_lookup (tree, "home/hall/temp")));
  g_assert_false (starling_topic_node_get_retained (temp));

  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    g_object_unref (batch[i]);
}

static void
test_tree_retained_delete (void)
{
  g_autoptr(StarlingTopicTree) tree = starling_topic_tree_new (10);
  g_autoptr(StarlingMessage) set = msg ("a/b", "on", TRUE);
  g_autoptr(StarlingMessage) live = msg ("a/b", "off", FALSE);
  g_autoptr(StarlingMessage) cleared = msg ("a/b", "", TRUE);
  StarlingTopicNode *node;

  starling_topic_tree_add (tree, &set, 1);
  node = starling_topic_tree_lookup (tree, "a/b");
  g_assert_true (starling_topic_node_get_retained (node));
  /* A live message does not replace what the broker retains. */
  starling_topic_tree_add (tree, &live, 1);
  g_assert_true (starling_topic_node_get_retained (node));
  /* An empty retained message deletes it. */
  starling_topic_tree_add (tree, &cleared, 1);
  g_assert_false (starling_topic_node_get_retained (node));
}

static void
test_tree_rate (void)
{
  g_autoptr(StarlingTopicTree) tree = starling_topic_tree_new (10);
  StarlingMessage *batch[10];
  StarlingTopicNode *node;

  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    batch[i] = msg ("x/y", "1", FALSE);
  starling_topic_tree_tick (tree, 1000000);
  starling_topic_tree_add (tree, batch, 10);
  starling_topic_tree_tick (tree, 3000000);
  node = starling_topic_tree_lookup (tree, "x/y");
  g_assert_cmpfloat_with_epsilon (starling_topic_node_get_rate (node), 5.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (starling_topic_node_get_rate (starling_topic_tree_lookup (tree, "x")), 5.0, 1e-9);
  starling_topic_tree_tick (tree, 4000000);
  g_assert_cmpfloat (starling_topic_node_get_rate (node), ==, 0.0);
  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    g_object_unref (batch[i]);
}

static void
test_tree_first_child_reannounced (void)
{
  g_autoptr(StarlingTopicTree) tree = starling_topic_tree_new (10);
  g_autoptr(StarlingMessage) leaf = msg ("a", "1", FALSE);
  g_autoptr(StarlingMessage) child = msg ("a/b", "2", FALSE);
  guint calls = 0;
  GListModel *top = starling_topic_tree_get_model (tree);
  g_autoptr(GListModel) none = NULL;
  g_autoptr(GListModel) some = NULL;
  g_autoptr(GObject) a = NULL;

  starling_topic_tree_add (tree, &leaf, 1);
  a = g_list_model_get_item (top, 0);
  none = starling_topic_tree_create_children (a, NULL);
  g_assert_null (none);
  g_signal_connect (top, "items-changed", G_CALLBACK (on_items_changed), &calls);
  starling_topic_tree_add (tree, &child, 1);
  /* "a" was replaced in its list, so a GtkTreeListModel asks again. */
  g_assert_cmpuint (calls, ==, 1);
  some = starling_topic_tree_create_children (a, NULL);
  g_assert_nonnull (some);
  g_assert_cmpuint (g_list_model_get_n_items (some), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (top), ==, 1);
}

static void
test_tree_clear (void)
{
  g_autoptr(StarlingTopicTree) tree = starling_topic_tree_new (10);
  g_autoptr(StarlingMessage) m = msg ("a/b/c", "1", FALSE);
  g_autoptr(StarlingTopicNode) kept = NULL;

  starling_topic_tree_add (tree, &m, 1);
  kept = g_object_ref (starling_topic_tree_lookup (tree, "a/b/c"));
  starling_topic_tree_clear (tree);
  g_assert_cmpuint (g_list_model_get_n_items (starling_topic_tree_get_model (tree)), ==, 0);
  g_assert_null (starling_topic_tree_lookup (tree, "a/b/c"));
  g_assert_cmpuint (starling_topic_tree_get_n_topics (tree), ==, 0);
  /* A node someone still holds no longer points at its freed parent. */
  g_assert_null (starling_topic_node_get_parent (kept));
}

static void
test_log_bound (void)
{
  g_autoptr(StarlingMessageLog) log = starling_message_log_new (5);
  GListModel *model = G_LIST_MODEL (log);
  StarlingMessage *batch[8];
  g_autoptr(StarlingMessage) first = NULL;
  g_autoptr(StarlingMessage) last = NULL;
  guint calls = 0;

  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    {
      g_autofree char *payload = g_strdup_printf ("%u", i);
      batch[i] = msg ("t", payload, FALSE);
    }
  g_assert_cmpuint (starling_message_log_get_capacity (log), ==, 5);
  g_signal_connect (log, "items-changed", G_CALLBACK (on_items_changed), &calls);
  starling_message_log_append (log, batch, 3);
  g_assert_cmpuint (calls, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 3);
  /* 3 + 4 > 5: the two oldest go, in two signals at most. */
  starling_message_log_append (log, batch + 3, 4);
  g_assert_cmpuint (calls, ==, 3);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 5);
  first = g_list_model_get_item (model, 0);
  last = g_list_model_get_item (model, 4);
  g_assert_true (first == batch[2]);
  g_assert_true (last == batch[6]);
  g_clear_object (&first);
  g_clear_object (&last);

  /* Newest first turns the view around, not the ring. */
  starling_message_log_set_newest_first (log, TRUE);
  first = g_list_model_get_item (model, 0);
  g_assert_true (first == batch[6]);
  g_assert_true (starling_message_log_peek (log, 0) == batch[2]);
  g_clear_object (&first);
  starling_message_log_append (log, batch + 7, 1);
  first = g_list_model_get_item (model, 0);
  last = g_list_model_get_item (model, 4);
  g_assert_true (first == batch[7]);
  g_assert_true (last == batch[3]);
  g_assert_null (g_list_model_get_item (model, 5));

  /* A batch larger than the log keeps only its newest. */
  starling_message_log_set_newest_first (log, FALSE);
  starling_message_log_append (log, batch, 8);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 5);
  g_assert_true (starling_message_log_peek (log, 0) == batch[3]);

  /* Shrinking drops the oldest. */
  starling_message_log_set_capacity (log, 2);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 2);
  g_assert_true (starling_message_log_peek (log, 0) == batch[6]);
  g_assert_true (starling_message_log_peek (log, 1) == batch[7]);

  starling_message_log_clear (log);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    g_object_unref (batch[i]);
}

static void
test_log_default_capacity (void)
{
  g_autoptr(StarlingMessageLog) log = starling_message_log_new (STARLING_MESSAGE_LOG_DEFAULT_CAPACITY);
  g_autoptr(StarlingMessage) m = msg ("t", "x", FALSE);

  for (guint i = 0; i < 10050; i++)
    starling_message_log_append (log, &m, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (log)), ==, 10000);
}

static void
test_topic_matches (void)
{
  g_assert_true (starling_topic_matches ("#", "a/b"));
  g_assert_true (starling_topic_matches ("a/#", "a"));
  g_assert_true (starling_topic_matches ("a/#", "a/b/c"));
  g_assert_true (starling_topic_matches ("a/+/c", "a/b/c"));
  g_assert_true (starling_topic_matches ("a/+", "a/"));
  g_assert_true (starling_topic_matches ("+/+", "/x"));
  g_assert_true (starling_topic_matches ("a/b", "a/b"));
  g_assert_false (starling_topic_matches ("a/b", "a/bc"));
  g_assert_false (starling_topic_matches ("a/+/c", "a/b/d"));
  g_assert_false (starling_topic_matches ("a/+", "a/b/c"));
  g_assert_false (starling_topic_matches ("#", "$SYS/x"));
  g_assert_false (starling_topic_matches ("+/x", "$SYS/x"));
  g_assert_true (starling_topic_matches ("$SYS/#", "$SYS/x"));
}

static void
test_log_filter_and_export (void)
{
  g_autoptr(StarlingMessageLog) log = starling_message_log_new (10);
  g_autoptr(StarlingMessageProperties) props = starling_message_properties_new ();
  g_autoptr(GBytes) binary = g_bytes_new ("\x00\x01\xff", 3);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  StarlingMessage *batch[3];
  char *text;

  props->content_type = g_strdup ("application/json");
  props->message_expiry = 60;
  props->payload_format = 1;
  starling_message_properties_add_user_property (props, "unit", "C");
  starling_message_properties_add_user_property (props, "unit", "F");
  {
    g_autoptr(GBytes) p = g_bytes_new_static ("{\"temp\": 21.5}", 14);
    batch[0] = starling_message_new ("home/kitchen/temp", p, 1, TRUE, FALSE, 1700000000123456,
                                     g_steal_pointer (&props));
  }
  batch[1] = msg ("home/hall/Light", "ON", FALSE);
  batch[2] = starling_message_new ("raw", binary, 2, FALSE, FALSE, 0, NULL);

  g_assert_true (starling_message_matches (batch[0], "home/+/temp", NULL));
  g_assert_false (starling_message_matches (batch[1], "home/+/temp", NULL));
  g_assert_true (starling_message_matches (batch[1], "light", NULL));   /* a part, any case */
  g_assert_true (starling_message_matches (batch[0], NULL, "TEMP"));
  g_assert_false (starling_message_matches (batch[1], NULL, "temp"));
  g_assert_true (starling_message_matches (batch[0], "home", "21.5"));
  g_assert_false (starling_message_matches (batch[2], NULL, "x"));
  g_assert_true (starling_message_matches (batch[2], "", ""));

  starling_message_log_append (log, batch, 3);
  g_assert_true (starling_message_log_export (log, out, "home/#", NULL, NULL, &error));
  g_assert_no_error (error);
  g_output_stream_write_all (out, "", 1, NULL, NULL, NULL);
  g_output_stream_close (out, NULL, NULL);
  text = g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (out));
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);   /* two lines and the end */
  g_assert_cmpstr (lines[2], ==, "");
  g_assert_cmpstr (lines[0], ==,
                   "{\"time\":\"2023-11-14T22:13:20.123456Z\",\"direction\":\"in\",\"topic\":\"home/kitchen/temp\","
                   "\"qos\":1,\"retain\":true,\"payload\":\"{\\\"temp\\\": 21.5}\",\"properties\":"
                   "{\"payload_format_indicator\":1,\"message_expiry_interval\":60,\"content_type\":\"application/json\","
                   "\"user_properties\":[[\"unit\",\"C\"],[\"unit\",\"F\"]]}}");
  g_assert_true (g_str_has_prefix (lines[1], "{\"time\":"));
  g_assert_nonnull (strstr (lines[1], "\"topic\":\"home/hall/Light\""));

  /* Binary payloads go out as base64. */
  {
    g_autofree char *json = starling_message_to_json (batch[2]);
    g_assert_nonnull (strstr (json, "\"payload_base64\":\"AAH/\""));
  }
  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    g_object_unref (batch[i]);
}

static GBytes *
b (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

static void
test_payload_formatters (void)
{
  g_autoptr(GBytes) hello = b ("Hello world\n");
  g_autoptr(GBytes) json = b ("{\"a\":[1,true,null,\"x<y\"],\"b\":{\"c\":-2.5}}");
  g_autoptr(GBytes) binary = g_bytes_new ("\x00\x01\x02\xff", 4);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) spaced = b ("  line one\n\n  line\ttwo  ");
  g_autoptr(GError) error = NULL;
  g_autofree char *markup = NULL;
  g_autofree char *hex = NULL;
  g_autofree char *hex2 = NULL;
  g_autofree char *s = NULL;

  g_assert_true (starling_payload_is_text (hello));
  g_assert_false (starling_payload_is_text (binary));
  g_assert_true (starling_payload_is_text (empty));

  s = starling_payload_preview (spaced, 100);
  g_assert_cmpstr (s, ==, "line one line two ");
  g_clear_pointer (&s, g_free);
  s = starling_payload_preview (hello, 5);
  g_assert_cmpstr (s, ==, "Hello…");
  g_clear_pointer (&s, g_free);
  s = starling_payload_preview (binary, 40);
  g_assert_cmpstr (s, ==, "0x000102ff");
  g_clear_pointer (&s, g_free);
  s = starling_payload_preview (empty, 40);
  g_assert_cmpstr (s, ==, "");
  g_clear_pointer (&s, g_free);

  hex = starling_payload_to_hex_dump (hello);
  g_assert_cmpstr (hex, ==, "00000000  48 65 6c 6c 6f 20 77 6f  72 6c 64 0a              |Hello world.|\n");
  {
    g_autoptr(GBytes) seventeen = b ("0123456789abcdefg");
    hex2 = starling_payload_to_hex_dump (seventeen);
    g_assert_cmpstr (hex2, ==,
                     "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n"
                     "00000010  67                                                |g|\n");
  }

  s = starling_payload_to_base64 (binary);
  g_assert_cmpstr (s, ==, "AAEC/w==");
  g_clear_pointer (&s, g_free);

  markup = starling_payload_to_json_markup (json, &error);
  g_assert_no_error (error);
  /* Pretty-printed, keys and values coloured, markup escaped, and still
   * valid Pango markup. */
  g_assert_nonnull (strstr (markup, "<span foreground=\"#3584e4\">&quot;a&quot;</span>"));
  g_assert_nonnull (strstr (markup, "<span foreground=\"#9141ac\">true</span>"));
  g_assert_nonnull (strstr (markup, "<span foreground=\"#e66100\">-2.5</span>"));
  g_assert_nonnull (strstr (markup, "<span foreground=\"#2ec27e\">&quot;x&lt;y&quot;</span>"));
  g_assert_nonnull (strstr (markup, "\n  "));
  g_assert_true (pango_parse_markup (markup, -1, 0, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  g_assert_null (starling_payload_to_json_markup (hello, &error));
  g_assert_error (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (starling_payload_to_json_markup (binary, &error));
  g_assert_error (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID);
}

static void
check_parse (const char *text, StarlingPayloadFormat format, const char *expected, gsize expected_len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = starling_payload_parse (text, format, &error);

  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), expected, expected_len);
}

static void
check_parse_fails (const char *text, StarlingPayloadFormat format, const char *part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = starling_payload_parse (text, format, &error);

  g_assert_null (bytes);
  g_assert_error (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, part));
}

static void
test_payload_parse (void)
{
  check_parse ("héllo", STARLING_PAYLOAD_TEXT, "héllo", strlen ("héllo"));
  check_parse ("", STARLING_PAYLOAD_TEXT, "", 0);
  check_parse ("{\"a\": 1}", STARLING_PAYLOAD_JSON, "{\"a\": 1}", 8);
  check_parse ("[1, 2]", STARLING_PAYLOAD_JSON, "[1, 2]", 6);
  check_parse_fails ("{\"a\": }", STARLING_PAYLOAD_JSON, "Not JSON");
  check_parse_fails ("", STARLING_PAYLOAD_JSON, "Not JSON");
  check_parse ("48 65 6C\n6c 6f", STARLING_PAYLOAD_HEX, "Hello", 5);
  check_parse ("0x00ff", STARLING_PAYLOAD_HEX, "\x00\xff", 2);
  check_parse ("", STARLING_PAYLOAD_HEX, "", 0);
  check_parse_fails ("4g", STARLING_PAYLOAD_HEX, "“g” at position 2");
  check_parse_fails ("486", STARLING_PAYLOAD_HEX, "two digits");
  check_parse ("SGVs bG8=", STARLING_PAYLOAD_BASE64, "Hello", 5);
  check_parse ("AAEC/w==", STARLING_PAYLOAD_BASE64, "\x00\x01\x02\xff", 4);
  check_parse_fails ("SGVsbG8", STARLING_PAYLOAD_BASE64, "groups of four");
  check_parse_fails ("SG=sbG8=", STARLING_PAYLOAD_BASE64, "padding");
  check_parse_fails ("SGV*bG8=", STARLING_PAYLOAD_BASE64, "“*” at position 4");
}

static void
test_payload_number (void)
{
  g_autoptr(GBytes) plain = b (" 21.5\n");
  g_autoptr(GBytes) word = b ("warm");
  g_autoptr(GBytes) json = b ("{\"temp\": 19, \"env\": {\"rh\": \"55.5\", \"on\": true}, \"name\": \"x\"}");
  double v = 0;

  g_assert_true (starling_payload_get_number (plain, NULL, &v));
  g_assert_cmpfloat (v, ==, 21.5);
  g_assert_false (starling_payload_get_number (word, NULL, &v));
  g_assert_false (starling_payload_get_number (json, NULL, &v));
  g_assert_true (starling_payload_get_number (json, "temp", &v));
  g_assert_cmpfloat (v, ==, 19);
  g_assert_true (starling_payload_get_number (json, "env.rh", &v));
  g_assert_cmpfloat (v, ==, 55.5);
  g_assert_true (starling_payload_get_number (json, "env.on", &v));
  g_assert_cmpfloat (v, ==, 1);
  g_assert_false (starling_payload_get_number (json, "name", &v));
  g_assert_false (starling_payload_get_number (json, "missing", &v));
  g_assert_false (starling_payload_get_number (plain, "temp", &v));
}

static void
test_message_properties (void)
{
  g_autoptr(StarlingMessageProperties) props = starling_message_properties_new ();
  g_autoptr(StarlingMessageProperties) copy = NULL;
  g_autoptr(StarlingMessage) m = NULL;
  guint32 id = 7;

  g_assert_cmpint (props->payload_format, ==, -1);
  g_assert_cmpint (props->message_expiry, ==, -1);
  props->response_topic = g_strdup ("reply/here");
  props->correlation_data = g_bytes_new ("\xff\x02", 2);
  props->subscription_ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_array_append_val (props->subscription_ids, id);
  starling_message_properties_add_user_property (props, "k", "v");
  copy = starling_message_properties_copy (props);
  m = starling_message_new ("t", NULL, 2, FALSE, TRUE, 0, g_steal_pointer (&props));

  g_assert_cmpstr (starling_message_get_properties (m)->response_topic, ==, "reply/here");
  g_assert_cmpstr (copy->response_topic, ==, "reply/here");
  g_assert_true (g_bytes_equal (copy->correlation_data, starling_message_get_properties (m)->correlation_data));
  g_assert_cmpuint (copy->subscription_ids->len, ==, 1);
  g_assert_cmpuint (g_array_index (copy->subscription_ids, guint32, 0), ==, 7);
  g_assert_cmpstr (g_ptr_array_index (copy->user_properties, 1), ==, "v");
  g_assert_cmpuint (starling_message_get_size (m), ==, 0);
  g_assert_true (starling_message_get_outgoing (m));
  g_assert_cmpint (starling_message_get_qos (m), ==, 2);
  g_assert_cmpint (starling_message_get_time (m), >, 0);
  {
    g_autofree char *json = starling_message_to_json (m);
    g_assert_nonnull (strstr (json, "\"direction\":\"out\""));
    g_assert_nonnull (strstr (json, "\"response_topic\":\"reply/here\""));
    g_assert_nonnull (strstr (json, "\"correlation_data_base64\":\"/wI=\""));
    g_assert_nonnull (strstr (json, "\"subscription_identifiers\":[7]"));
  }
}

static void
on_status (StarlingMqttClient *client, GParamSpec *pspec, GPtrArray *statuses)
{
  if (starling_mqtt_client_get_state (client) == STARLING_MQTT_STATE_RECONNECTING &&
      g_str_has_prefix (starling_mqtt_client_get_status (client), "Reconnecting in"))
    g_ptr_array_add (statuses, g_strdup (starling_mqtt_client_get_status (client)));
}

/* A real Paho client against a port where nothing listens: it reports the
 * failure in words and retries with a doubling delay. */
static void
test_mqtt_backoff (void)
{
  g_autoptr(StarlingMqttClient) client = starling_mqtt_client_new ();
  g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  gint64 until;

  /* A free port: bound, then closed, so connecting is refused. */
  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  bound = g_socket_get_local_address (socket, &error);
  uri = g_strdup_printf ("mqtt://127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);

  g_assert_false (starling_mqtt_client_configure (client, "http://x", NULL, NULL, NULL, NULL, FALSE, &error));
  g_assert_error (error, STARLING_MQTT_ERROR, STARLING_MQTT_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_true (starling_mqtt_client_configure (client, uri, NULL, NULL, NULL, NULL, FALSE, &error));
  g_assert_no_error (error);
  g_signal_connect (client, "notify::status", G_CALLBACK (on_status), statuses);
  starling_mqtt_client_connect (client);
  g_assert_cmpint (starling_mqtt_client_get_state (client), ==, STARLING_MQTT_STATE_CONNECTING);

  until = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;
  while (statuses->len < 2 && g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (statuses->len, >=, 2);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (statuses, 0), "Reconnecting in 1 second: "));
  g_assert_true (g_str_has_prefix (g_ptr_array_index (statuses, 1), "Reconnecting in 2 seconds: "));

  starling_mqtt_client_disconnect (client);
  g_assert_cmpint (starling_mqtt_client_get_state (client), ==, STARLING_MQTT_STATE_DISCONNECTED);
}

int
main (int argc, char **argv)
{
  g_setenv ("LC_ALL", "C", TRUE);
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/inspector/tree/levels", test_tree_levels);
  g_test_add_func ("/inspector/tree/retained-delete", test_tree_retained_delete);
  g_test_add_func ("/inspector/tree/rate", test_tree_rate);
  g_test_add_func ("/inspector/tree/first-child-reannounced", test_tree_first_child_reannounced);
  g_test_add_func ("/inspector/tree/clear", test_tree_clear);
  g_test_add_func ("/inspector/log/bound", test_log_bound);
  g_test_add_func ("/inspector/log/default-capacity", test_log_default_capacity);
  g_test_add_func ("/inspector/log/filter-and-export", test_log_filter_and_export);
  g_test_add_func ("/inspector/topic-matches", test_topic_matches);
  g_test_add_func ("/inspector/payload/formatters", test_payload_formatters);
  g_test_add_func ("/inspector/payload/parse", test_payload_parse);
  g_test_add_func ("/inspector/payload/number", test_payload_number);
  g_test_add_func ("/inspector/message/properties", test_message_properties);
  g_test_add_func ("/inspector/mqtt/backoff", test_mqtt_backoff);
  return g_test_run ();
}
