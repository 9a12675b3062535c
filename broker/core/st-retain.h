/* st-retain.h — the retained messages of one broker, by topic.
 * Not thread-safe: the broker calls it under its lock. */
#pragma once

#include <glib.h>

#include "st-message.h"

typedef struct _StRetain StRetain;

StRetain *st_retain_new   (void);
void      st_retain_free  (StRetain *store);

/* Stores msg (a reference is taken) as the retained message of its topic,
 * replacing the previous one; an empty payload clears the topic instead. */
void      st_retain_set   (StRetain *store, StMessage *msg);

StMessage *st_retain_lookup (StRetain *store, MqttBytes topic);

/* Appends a new reference to every retained message matching filter (a
 * non-shared filter) to out, skipping expired ones (and dropping them). */
void      st_retain_match (StRetain *store, MqttBytes filter, gint64 now_ms, GPtrArray *out);

guint     st_retain_count (StRetain *store);
