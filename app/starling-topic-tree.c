#define G_LOG_DOMAIN "starling-topic-tree"

#include "config.h"

#include <string.h>

#include "starling-topic-tree.h"

struct _StarlingTopicNode
{
  GObject parent_instance;

  char              *name;
  char              *topic;
  StarlingTopicNode *parent;     /* not a reference: the parent owns us */
  GListStore        *children;
  GHashTable        *by_name;    /* name → node, borrowed from children */

  guint64            count;
  guint64            own_count;
  guint64            count_at_tick;
  double             rate;
  StarlingMessage   *last;
  gboolean           retained;
  GQueue             history;
  guint              touched : 1;
};

struct _StarlingTopicTree
{
  GObject parent_instance;

  GListStore *top;
  GHashTable *top_by_name;       /* name → node, borrowed */
  GHashTable *by_topic;          /* topic → node, borrowed */
  GPtrArray  *nodes;             /* every node, borrowed, for the tick */
  guint       history_cap;
  guint       n_topics;          /* nodes that got a message of their own */
  guint64     n_messages;
  gint64      last_tick;
};

G_DEFINE_FINAL_TYPE (StarlingTopicNode, starling_topic_node, G_TYPE_OBJECT)
G_DEFINE_FINAL_TYPE (StarlingTopicTree, starling_topic_tree, G_TYPE_OBJECT)

enum { NODE_CHANGED, N_NODE_SIGNALS };
static guint node_signals[N_NODE_SIGNALS];

enum { TOPIC_ADDED, N_TREE_SIGNALS };
static guint tree_signals[N_TREE_SIGNALS];

/* ---- Nodes ---------------------------------------------------------------- */

static void
starling_topic_node_finalize (GObject *object)
{
  StarlingTopicNode *self = (StarlingTopicNode *) object;
  GHashTableIter iter;
  gpointer child;

  /* A child a widget still holds outlives us: it must not point here. */
  g_hash_table_iter_init (&iter, self->by_name);
  while (g_hash_table_iter_next (&iter, NULL, &child))
    ((StarlingTopicNode *) child)->parent = NULL;
  g_free (self->name);
  g_free (self->topic);
  g_hash_table_unref (self->by_name);
  g_object_unref (self->children);
  g_clear_object (&self->last);
  g_queue_clear_full (&self->history, g_object_unref);
  G_OBJECT_CLASS (starling_topic_node_parent_class)->finalize (object);
}

static void
starling_topic_node_class_init (StarlingTopicNodeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = starling_topic_node_finalize;

  /* Its counts, rate, last message or retained marker changed. */
  node_signals[NODE_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
starling_topic_node_init (StarlingTopicNode *self)
{
  self->children = g_list_store_new (STARLING_TYPE_TOPIC_NODE);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->history);
}

const char *
starling_topic_node_get_name (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), NULL);
  return self->name;
}

const char *
starling_topic_node_get_topic (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), NULL);
  return self->topic;
}

StarlingTopicNode *
starling_topic_node_get_parent (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), NULL);
  return self->parent;
}

GListModel *
starling_topic_node_get_children (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), NULL);
  return G_LIST_MODEL (self->children);
}

gboolean
starling_topic_node_has_children (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), FALSE);
  return g_hash_table_size (self->by_name) > 0;
}

guint64
starling_topic_node_get_count (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), 0);
  return self->count;
}

guint64
starling_topic_node_get_own_count (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), 0);
  return self->own_count;
}

double
starling_topic_node_get_rate (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), 0);
  return self->rate;
}

StarlingMessage *
starling_topic_node_get_last (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), NULL);
  return self->last;
}

gboolean
starling_topic_node_get_retained (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), FALSE);
  return self->retained;
}

guint
starling_topic_node_get_n_history (StarlingTopicNode *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), 0);
  return self->history.length;
}

StarlingMessage *
starling_topic_node_get_history (StarlingTopicNode *self, guint n)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_NODE (self), NULL);
  return g_queue_peek_nth (&self->history, n);
}

/* ---- The tree ------------------------------------------------------------- */

static void
starling_topic_tree_finalize (GObject *object)
{
  StarlingTopicTree *self = (StarlingTopicTree *) object;

  g_hash_table_unref (self->by_topic);
  g_hash_table_unref (self->top_by_name);
  g_ptr_array_unref (self->nodes);
  g_object_unref (self->top);
  G_OBJECT_CLASS (starling_topic_tree_parent_class)->finalize (object);
}

static void
starling_topic_tree_class_init (StarlingTopicTreeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = starling_topic_tree_finalize;

  tree_signals[TOPIC_ADDED] =
    g_signal_new ("topic-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
starling_topic_tree_init (StarlingTopicTree *self)
{
  self->top = g_list_store_new (STARLING_TYPE_TOPIC_NODE);
  self->top_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->by_topic = g_hash_table_new (g_str_hash, g_str_equal);
  self->nodes = g_ptr_array_new ();
}

StarlingTopicTree *
starling_topic_tree_new (guint history_cap)
{
  StarlingTopicTree *self = g_object_new (STARLING_TYPE_TOPIC_TREE, NULL);

  self->history_cap = MAX (history_cap, 1);
  return self;
}

GListModel *
starling_topic_tree_get_model (StarlingTopicTree *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_TREE (self), NULL);
  return G_LIST_MODEL (self->top);
}

GListModel *
starling_topic_tree_create_children (gpointer item, gpointer unused)
{
  StarlingTopicNode *node = item;

  if (!STARLING_IS_TOPIC_NODE (node) || !starling_topic_node_has_children (node))
    return NULL;
  return g_object_ref (G_LIST_MODEL (node->children));
}

StarlingTopicNode *
starling_topic_tree_lookup (StarlingTopicTree *self, const char *topic)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_TREE (self), NULL);
  g_return_val_if_fail (topic != NULL, NULL);
  return g_hash_table_lookup (self->by_topic, topic);
}

guint
starling_topic_tree_get_n_topics (StarlingTopicTree *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_TREE (self), 0);
  return self->n_topics;
}

guint64
starling_topic_tree_get_n_messages (StarlingTopicTree *self)
{
  g_return_val_if_fail (STARLING_IS_TOPIC_TREE (self), 0);
  return self->n_messages;
}

static int
compare_nodes (gconstpointer a, gconstpointer b, gpointer unused)
{
  return strcmp (((StarlingTopicNode *) a)->name, ((StarlingTopicNode *) b)->name);
}

/* The position of node in store (sorted by name), by bisection. */
static guint
find_position (GListStore *store, StarlingTopicNode *node)
{
  guint lo = 0, hi = g_list_model_get_n_items (G_LIST_MODEL (store));

  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      g_autoptr(StarlingTopicNode) at = g_list_model_get_item (G_LIST_MODEL (store), mid);
      int c = strcmp (at->name, node->name);

      if (c == 0)
        return mid;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  g_assert_not_reached ();
}

static StarlingTopicNode *
get_child (StarlingTopicTree *self, StarlingTopicNode *parent, const char *name, gsize name_len,
           const char *topic, gsize topic_len)
{
  GHashTable *by_name = parent ? parent->by_name : self->top_by_name;
  GListStore *store = parent ? parent->children : self->top;
  g_autofree char *key = g_strndup (name, name_len);
  StarlingTopicNode *node = g_hash_table_lookup (by_name, key);
  gboolean first_child;

  if (node)
    return node;

  node = g_object_new (STARLING_TYPE_TOPIC_NODE, NULL);
  node->name = g_steal_pointer (&key);
  node->topic = g_strndup (topic, topic_len);
  node->parent = parent;
  first_child = g_hash_table_size (by_name) == 0;
  g_hash_table_insert (by_name, node->name, node);
  g_hash_table_insert (self->by_topic, node->topic, node);
  g_ptr_array_add (self->nodes, node);
  g_list_store_insert_sorted (store, node, compare_nodes, NULL);
  g_object_unref (node);

  /* GtkTreeListModel asked the parent for children when it showed it, and
   * got none: replacing it in its own list makes it ask again. */
  if (first_child && parent != NULL)
    {
      GListStore *grand = parent->parent ? parent->parent->children : self->top;
      guint pos = find_position (grand, parent);
      g_autoptr(StarlingTopicNode) hold = g_object_ref (parent);

      g_list_store_splice (grand, pos, 1, (gpointer *) &parent, 1);
    }
  return node;
}

void
starling_topic_tree_add (StarlingTopicTree *self, StarlingMessage **messages, guint n_messages)
{
  g_autoptr(GPtrArray) touched = g_ptr_array_new ();
  g_autoptr(GPtrArray) added = g_ptr_array_new ();

  g_return_if_fail (STARLING_IS_TOPIC_TREE (self));

  for (guint i = 0; i < n_messages; i++)
    {
      StarlingMessage *m = messages[i];
      const char *topic = starling_message_get_topic (m);
      StarlingTopicNode *node = g_hash_table_lookup (self->by_topic, topic);

      if (node == NULL)
        {
          const char *level = topic;

          for (;;)
            {
              const char *slash = strchr (level, '/');
              gsize len = slash ? (gsize) (slash - level) : strlen (level);

              node = get_child (self, node, level, len, topic, (level - topic) + len);
              if (slash == NULL)
                break;
              level = slash + 1;
            }
        }

      if (node->own_count == 0)
        {
          self->n_topics++;
          g_ptr_array_add (added, node);
        }
      node->own_count++;
      g_set_object (&node->last, m);
      /* An empty retained message deletes the broker's one. */
      if (starling_message_get_retain (m))
        node->retained = starling_message_get_size (m) > 0;
      g_queue_push_tail (&node->history, g_object_ref (m));
      while (node->history.length > self->history_cap)
        g_object_unref (g_queue_pop_head (&node->history));

      for (StarlingTopicNode *n = node; n; n = n->parent)
        {
          n->count++;
          if (!n->touched)
            {
              n->touched = TRUE;
              g_ptr_array_add (touched, n);
            }
        }
      self->n_messages++;
    }

  for (guint i = 0; i < touched->len; i++)
    ((StarlingTopicNode *) g_ptr_array_index (touched, i))->touched = FALSE;
  for (guint i = 0; i < added->len; i++)
    g_signal_emit (self, tree_signals[TOPIC_ADDED], 0, ((StarlingTopicNode *) g_ptr_array_index (added, i))->topic);
  for (guint i = 0; i < touched->len; i++)
    g_signal_emit (g_ptr_array_index (touched, i), node_signals[NODE_CHANGED], 0);
}

void
starling_topic_tree_tick (StarlingTopicTree *self, gint64 now_us)
{
  double seconds;

  g_return_if_fail (STARLING_IS_TOPIC_TREE (self));

  if (self->last_tick == 0 || now_us <= self->last_tick)
    {
      self->last_tick = now_us;
      for (guint i = 0; i < self->nodes->len; i++)
        {
          StarlingTopicNode *n = g_ptr_array_index (self->nodes, i);
          n->count_at_tick = n->count;
        }
      return;
    }
  seconds = (now_us - self->last_tick) / (double) G_USEC_PER_SEC;
  self->last_tick = now_us;
  for (guint i = 0; i < self->nodes->len; i++)
    {
      StarlingTopicNode *n = g_ptr_array_index (self->nodes, i);
      double rate = (n->count - n->count_at_tick) / seconds;

      n->count_at_tick = n->count;
      if (rate != n->rate)
        {
          n->rate = rate;
          g_signal_emit (n, node_signals[NODE_CHANGED], 0);
        }
    }
}

void
starling_topic_tree_clear (StarlingTopicTree *self)
{
  g_return_if_fail (STARLING_IS_TOPIC_TREE (self));

  g_hash_table_remove_all (self->by_topic);
  g_hash_table_remove_all (self->top_by_name);
  g_ptr_array_set_size (self->nodes, 0);
  self->n_topics = 0;
  self->n_messages = 0;
  g_list_store_remove_all (self->top);
}
