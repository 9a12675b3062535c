/* starling-topic-tree.h — the topics seen in the traffic, as a tree of
 * topic levels.  Each node counts the messages on it and below, knows the
 * rate, its last message, whether a retained message is held there, and
 * keeps a short history.  Every level's children are a GListModel of
 * StarlingTopicNode (sorted by name), ready for GtkTreeListModel. */
#pragma once

#include <gio/gio.h>

#include "starling-message.h"

G_BEGIN_DECLS

#define STARLING_TOPIC_TREE_DEFAULT_HISTORY 100

#define STARLING_TYPE_TOPIC_NODE (starling_topic_node_get_type ())
G_DECLARE_FINAL_TYPE (StarlingTopicNode, starling_topic_node, STARLING, TOPIC_NODE, GObject)

#define STARLING_TYPE_TOPIC_TREE (starling_topic_tree_get_type ())
G_DECLARE_FINAL_TYPE (StarlingTopicTree, starling_topic_tree, STARLING, TOPIC_TREE, GObject)

/* The level's name ("temp"), and the whole topic ("home/kitchen/temp"). */
const char      *starling_topic_node_get_name        (StarlingTopicNode *self);
const char      *starling_topic_node_get_topic       (StarlingTopicNode *self);
/* NULL for a top level. */
StarlingTopicNode *starling_topic_node_get_parent    (StarlingTopicNode *self);
/* Sorted by name; never NULL. */
GListModel      *starling_topic_node_get_children    (StarlingTopicNode *self);
gboolean         starling_topic_node_has_children    (StarlingTopicNode *self);
/* Messages on this topic and every topic below it. */
guint64          starling_topic_node_get_count       (StarlingTopicNode *self);
/* Messages on exactly this topic. */
guint64          starling_topic_node_get_own_count   (StarlingTopicNode *self);
/* Messages a second on this topic and below, over the last tick. */
double           starling_topic_node_get_rate        (StarlingTopicNode *self);
/* The last message on exactly this topic, or NULL. */
StarlingMessage *starling_topic_node_get_last        (StarlingTopicNode *self);
/* The last message on this topic had the retain flag and a payload: the
 * broker holds it for new subscribers. */
gboolean         starling_topic_node_get_retained    (StarlingTopicNode *self);
/* The recent messages on exactly this topic, oldest first (capped). */
guint            starling_topic_node_get_n_history   (StarlingTopicNode *self);
StarlingMessage *starling_topic_node_get_history     (StarlingTopicNode *self,
                                                      guint              n);

StarlingTopicTree *starling_topic_tree_new           (guint history_cap);

/* The top levels. */
GListModel      *starling_topic_tree_get_model       (StarlingTopicTree *self);
/* For GtkTreeListModel's create function: a node's children model (a new
 * reference), or NULL for a node without children.  A node that gains its
 * first child is re-announced by its parent's model, so the tree list
 * model asks again. */
GListModel      *starling_topic_tree_create_children (gpointer item,
                                                      gpointer unused);
/* NULL when the topic was never seen. */
StarlingTopicNode *starling_topic_tree_lookup        (StarlingTopicTree *self,
                                                      const char        *topic);
guint            starling_topic_tree_get_n_topics    (StarlingTopicTree *self);
guint64          starling_topic_tree_get_n_messages  (StarlingTopicTree *self);

/* Adds a batch; each node touched emits "changed" once, after the batch.
 * "topic-added" (topic) is emitted for each topic seen the first time. */
void             starling_topic_tree_add             (StarlingTopicTree  *self,
                                                      StarlingMessage   **messages,
                                                      guint               n_messages);
/* Recomputes the rates (call about once a second). */
void             starling_topic_tree_tick            (StarlingTopicTree *self,
                                                      gint64             now_us);
void             starling_topic_tree_clear           (StarlingTopicTree *self);

G_END_DECLS
