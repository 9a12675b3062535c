/* st-subtree.h — the subscription index of one broker: a topic trie with
 * '+' and '#' wildcards and $share groups.
 *
 * Not thread-safe: the broker calls it under its lock. A subscriber is an
 * opaque owner pointer (an StSession); the index never dereferences it. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "mqtt/mqtt-packet.h"

typedef struct _StSubtree StSubtree;

/* Whether an owner is connected, to prefer connected members of shared
 * subscription groups. */
typedef bool (*StOwnerOnlineFunc) (void *owner);

/* One delivery decided by a match: one per subscriber for its non-shared
 * subscriptions (merged: highest QoS, every Subscription Identifier), plus
 * one per matching shared group (shared = true). */
typedef struct {
  void    *owner;
  uint8_t  qos;                  /* granted QoS (not yet capped by the message's) */
  bool     retain_as_published;
  bool     shared;
  uint32_t n_ids;
  uint32_t ids_offset;           /* into StMatchResult.ids */
} StMatch;

typedef struct {
  GArray     *matches;  /* StMatch */
  GArray     *ids;      /* uint32_t */
  /* scratch, reused between matches */
  GArray     *pairs;
  GHashTable *index;
  GString    *topic;
} StMatchResult;

void st_match_result_init  (StMatchResult *r);
void st_match_result_clear (StMatchResult *r);

static inline const uint32_t *
st_match_ids (const StMatchResult *r, const StMatch *m)
{
  return m->n_ids ? &g_array_index (r->ids, uint32_t, m->ids_offset) : NULL;
}

StSubtree *st_subtree_new  (StOwnerOnlineFunc online);
void       st_subtree_free (StSubtree *tree);

/* filter: a valid topic filter, possibly "$share/<group>/<filter>".
 * sub_id: 0 = none. Returns true for a new subscription, false when the
 * owner's existing subscription to the same filter had its options replaced. */
bool st_subtree_add    (StSubtree            *tree,
                        void                 *owner,
                        MqttBytes             filter,
                        const MqttSubOptions *opts,
                        uint32_t              sub_id);

/* Returns whether the subscription existed. */
bool st_subtree_remove (StSubtree *tree, void *owner, MqttBytes filter);

/* Fills out (cleared first) with the deliveries for a message published on
 * topic by publisher (for No Local; may be NULL). Advances the round-robin
 * position of every matching shared group. */
void st_subtree_match  (StSubtree     *tree,
                        MqttBytes      topic,
                        const void    *publisher,
                        StMatchResult *out);

/* Number of subscriptions stored (shared members included). */
guint st_subtree_count (StSubtree *tree);

/* Splits "$share/group/filter"; returns false for a non-shared filter. */
bool st_filter_split_shared (MqttBytes filter, MqttBytes *group, MqttBytes *rest);

/* Whether a (non-shared) filter matches a topic name, per 4.7 including the
 * '$' rule. The trie does this for many filters at once; this one is for a
 * single pair (retained messages). */
bool st_topic_matches (MqttBytes filter, MqttBytes topic);
