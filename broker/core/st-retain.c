#define G_LOG_DOMAIN "starling-retain"

#include "st-retain.h"
#include "st-subtree.h"

#include <string.h>

/* A hash table by topic: exact filters are one lookup; wildcard filters scan
 * every retained topic. That is what a SUBSCRIBE with a wildcard costs, not
 * a publish, and it keeps the store simple; a trie can replace it when a
 * broker holds very many retained topics. */
struct _StRetain {
  GHashTable *by_topic; /* GBytes topic -> StMessage* */
};

StRetain *
st_retain_new (void)
{
  StRetain *store = g_new0 (StRetain, 1);

  store->by_topic = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                           (GDestroyNotify) g_bytes_unref,
                                           (GDestroyNotify) st_message_unref);
  return store;
}

void
st_retain_free (StRetain *store)
{
  if (!store)
    return;
  g_hash_table_unref (store->by_topic);
  g_free (store);
}

void
st_retain_set (StRetain *store, StMessage *msg)
{
  GBytes *key = g_bytes_new (msg->topic.data, msg->topic.len);

  if (msg->payload->len == 0)
    {
      g_hash_table_remove (store->by_topic, key);
      g_bytes_unref (key);
      return;
    }
  g_hash_table_replace (store->by_topic, key, st_message_ref (msg));
}

StMessage *
st_retain_lookup (StRetain *store, MqttBytes topic)
{
  g_autoptr (GBytes) key = g_bytes_new_static (topic.data, topic.len);

  return g_hash_table_lookup (store->by_topic, key);
}

static bool
has_wildcard (MqttBytes filter)
{
  return memchr (filter.data, '+', filter.len) || memchr (filter.data, '#', filter.len);
}

void
st_retain_match (StRetain *store, MqttBytes filter, gint64 now_ms, GPtrArray *out)
{
  if (!has_wildcard (filter))
    {
      g_autoptr (GBytes) key = g_bytes_new_static (filter.data, filter.len);
      StMessage *msg = g_hash_table_lookup (store->by_topic, key);

      if (msg && st_message_expired (msg, now_ms))
        g_hash_table_remove (store->by_topic, key);
      else if (msg)
        g_ptr_array_add (out, st_message_ref (msg));
      return;
    }

  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, store->by_topic);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      StMessage *msg = v;

      if (st_message_expired (msg, now_ms))
        {
          g_hash_table_iter_remove (&it);
          continue;
        }
      if (st_topic_matches (filter, msg->topic))
        g_ptr_array_add (out, st_message_ref (msg));
    }
}

guint
st_retain_count (StRetain *store)
{
  return g_hash_table_size (store->by_topic);
}
