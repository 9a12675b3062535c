/* st-auth.h — what token authentication needs inside the engine (private
 * to broker/core): a broker's verification keys and revoked token ids as
 * one immutable snapshot, and topic filter containment for topicAcl.
 *
 * Snapshots: I/O threads verify CONNECTs concurrently while the control
 * thread changes keys and revocations. Readers never lock: they take a
 * reference to the current snapshot (st_auth_snapshot_get); a writer builds
 * a new snapshot, swaps the pointer and drops the old one only once no
 * reader can still be between loading the pointer and taking its reference.
 */
#pragma once

#include <glib.h>
#include <pthread.h>
#include <stdbool.h>

#include "auth/st-signing-key.h"
#include "mqtt/mqtt-packet.h"

typedef struct {
  gint        ref;
  GHashTable *keys;     /* kid (owned by the key) -> StSigningKey* (a reference) */
  GHashTable *revoked;  /* jti (owned) set */
} StAuthSnapshot;

typedef struct {
  StAuthSnapshot *current;   /* atomic; never NULL */
  gint            readers;   /* atomic: readers between load and ref */
  pthread_mutex_t write_lock;/* serialises writers (the control thread, tests) */
} StAuthState;

void            st_auth_state_init  (StAuthState *state);
void            st_auth_state_clear (StAuthState *state);

/* A reference to the current snapshot: lock-free, any thread. */
StAuthSnapshot *st_auth_snapshot_get   (StAuthState *state);
void            st_auth_snapshot_unref (StAuthSnapshot *snap);

/* Writers: each publishes a new snapshot. */
void            st_auth_set_keys  (StAuthState *state, StSigningKey **keys, guint n_keys);
typedef enum {
  ST_AUTH_REVOKE,
  ST_AUTH_UNREVOKE,
  ST_AUTH_REPLACE_REVOKED,
} StAuthRevokeMode;
void            st_auth_revoke    (StAuthState *state, const char *const *jtis, StAuthRevokeMode mode);

bool            st_auth_has_kid   (StAuthState *state, const char *kid);

/* Whether every topic matched by filter is also matched by acl (MQTT 4.7,
 * including the rule that wildcards at the first level do not match topics
 * starting with '$'). A topic name is a filter without wildcards, so this
 * also answers "may this topic be published". A "$share/group/" prefix of
 * filter is ignored: the ACL restricts topics, not groups. acl is taken as
 * it is. Allocation-free: it runs for every PUBLISH. */
bool            st_filter_covered (MqttBytes filter, MqttBytes acl);
/* The same without the "$share/" rule: for PUBLISH topic names, where
 * "$share/..." is just a topic. */
bool            st_topic_covered  (MqttBytes topic, MqttBytes acl);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StAuthSnapshot, st_auth_snapshot_unref)
