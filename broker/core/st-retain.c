#define G_LOG_DOMAIN "starling-retain"

#include "st-retain.h"

#include <string.h>

/* A topic trie: a subscribe walks only the branches its filter can match
 * (exact levels are one lookup each, '+' fans out one level, '#' takes a
 * whole subtree), so wildcard subscribes stay cheap with many retained
 * topics. */
typedef struct _RNode RNode;

struct _RNode {
  RNode      *parent;
  char       *level;     /* key in parent->children; NULL for the root */
  GHashTable *children;  /* level -> RNode*, created on demand */
  StMessage  *msg;       /* retained here, or NULL */
};

struct _StRetain {
  RNode root;
  guint count;
};

static void
rnode_free (gpointer p)
{
  RNode *n = p;

  g_clear_pointer (&n->children, g_hash_table_unref);
  g_clear_pointer (&n->msg, st_message_unref);
  g_free (n->level);
  g_free (n);
}

StRetain *
st_retain_new (void)
{
  return g_new0 (StRetain, 1);
}

void
st_retain_free (StRetain *store)
{
  if (!store)
    return;
  g_clear_pointer (&store->root.children, g_hash_table_unref);
  g_clear_pointer (&store->root.msg, st_message_unref);
  g_free (store);
}

static RNode *
find (StRetain *store, MqttBytes topic, bool create)
{
  RNode *n = &store->root;
  const uint8_t *p = topic.data;
  const uint8_t *end = topic.data + topic.len;

  for (;;)
    {
      const uint8_t *slash = memchr (p, '/', end - p);
      const uint8_t *lend = slash ? slash : end;
      g_autofree char *level = g_strndup ((const char *) p, lend - p);
      RNode *child = n->children ? g_hash_table_lookup (n->children, level) : NULL;

      if (!child)
        {
          if (!create)
            return NULL;
          if (!n->children)
            n->children = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, rnode_free);
          child = g_new0 (RNode, 1);
          child->parent = n;
          child->level = g_steal_pointer (&level);
          g_hash_table_insert (n->children, child->level, child);
        }
      n = child;
      if (!slash)
        return n;
      p = slash + 1;
    }
}

static void
prune (RNode *n)
{
  while (n->parent && !n->msg && (!n->children || g_hash_table_size (n->children) == 0))
    {
      RNode *parent = n->parent;

      g_hash_table_remove (parent->children, n->level); /* frees n */
      n = parent;
    }
}

static void
clear_node (StRetain *store, RNode *n)
{
  if (n->msg)
    {
      g_clear_pointer (&n->msg, st_message_unref);
      store->count--;
    }
}

void
st_retain_set (StRetain *store, StMessage *msg)
{
  if (msg->payload->len == 0)
    {
      RNode *n = find (store, msg->topic, false);

      if (n)
        {
          clear_node (store, n);
          prune (n);
        }
      return;
    }

  RNode *n = find (store, msg->topic, true);
  if (!n->msg)
    store->count++;
  else
    st_message_unref (n->msg);
  n->msg = st_message_ref (msg);
}

StMessage *
st_retain_lookup (StRetain *store, MqttBytes topic)
{
  RNode *n = find (store, topic, false);

  return n ? n->msg : NULL;
}

typedef struct {
  StRetain  *store;
  gint64     now_ms;
  GPtrArray *out;
  GPtrArray *expired;  /* nodes to clear once the walk is over */
} Walk;

static void
take (Walk *w, RNode *n)
{
  if (!n->msg)
    return;
  if (st_message_expired (n->msg, w->now_ms))
    g_ptr_array_add (w->expired, n);
  else
    g_ptr_array_add (w->out, st_message_ref (n->msg));
}

/* Everything at and below n ('#'); skip_dollar: n is the root, whose '$'
 * children a leading wildcard does not reach. */
static void
take_all (Walk *w, RNode *n, bool skip_dollar)
{
  GHashTableIter it;
  gpointer v;

  if (!skip_dollar)
    take (w, n);
  if (!n->children)
    return;
  g_hash_table_iter_init (&it, n->children);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      RNode *c = v;

      if (skip_dollar && c->level[0] == '$')
        continue;
      take_all (w, c, false);
    }
}

/* levels: the filter with '/' replaced by '\0'; [p, end) what is left. */
static void
walk (Walk *w, RNode *n, const char *p, const char *end, bool root)
{
  const char *lend = p + strlen (p);
  bool last = lend >= end;

  if (strcmp (p, "#") == 0)
    {
      /* "a/#" also matches "a" itself (n), the root has no message */
      take_all (w, n, root);
      return;
    }
  if (!n->children)
    return;
  if (strcmp (p, "+") == 0)
    {
      GHashTableIter it;
      gpointer v;

      g_hash_table_iter_init (&it, n->children);
      while (g_hash_table_iter_next (&it, NULL, &v))
        {
          RNode *c = v;

          if (root && c->level[0] == '$')
            continue;
          if (last)
            take (w, c);
          else
            walk (w, c, lend + 1, end, false);
        }
      return;
    }

  RNode *c = g_hash_table_lookup (n->children, p);
  if (!c)
    return;
  if (last)
    take (w, c);
  else
    walk (w, c, lend + 1, end, false);
}

void
st_retain_match (StRetain *store, MqttBytes filter, gint64 now_ms, GPtrArray *out)
{
  g_autoptr (GPtrArray) expired = g_ptr_array_new ();
  g_autofree char *levels = g_strndup ((const char *) filter.data, filter.len);
  Walk w = { store, now_ms, out, expired };

  if (filter.len == 0)
    return;
  for (uint32_t i = 0; i < filter.len; i++)
    if (levels[i] == '/')
      levels[i] = '\0';
  walk (&w, &store->root, levels, levels + filter.len, true);

  for (guint i = 0; i < expired->len; i++)
    {
      RNode *n = g_ptr_array_index (expired, i);

      clear_node (store, n);
      prune (n);
    }
}

guint
st_retain_count (StRetain *store)
{
  return store->count;
}
