/* starling-message-log.h — the inspector's message log: the last N
 * messages (default 10,000) in a ring, as a GListModel of StarlingMessage,
 * oldest or newest first; and the filter the log view applies. */
#pragma once

#include <gio/gio.h>

#include "starling-message.h"

G_BEGIN_DECLS

#define STARLING_MESSAGE_LOG_DEFAULT_CAPACITY 10000

#define STARLING_TYPE_MESSAGE_LOG (starling_message_log_get_type ())
G_DECLARE_FINAL_TYPE (StarlingMessageLog, starling_message_log, STARLING, MESSAGE_LOG, GObject)

StarlingMessageLog *starling_message_log_new              (guint capacity);

guint     starling_message_log_get_capacity     (StarlingMessageLog *self);
/* Drops the oldest messages beyond the new capacity (at least 1). */
void      starling_message_log_set_capacity     (StarlingMessageLog *self,
                                                 guint               capacity);
gboolean  starling_message_log_get_newest_first (StarlingMessageLog *self);
void      starling_message_log_set_newest_first (StarlingMessageLog *self,
                                                 gboolean            newest_first);

/* Appends a batch (oldest first) in at most two items-changed signals,
 * dropping the oldest messages beyond the capacity. */
void      starling_message_log_append           (StarlingMessageLog *self,
                                                 StarlingMessage   **messages,
                                                 guint               n_messages);
void      starling_message_log_clear            (StarlingMessageLog *self);
/* The n-th message in time order (0: the oldest), whatever the view order. */
StarlingMessage *
          starling_message_log_peek             (StarlingMessageLog *self,
                                                 guint               n);

/* Writes every message (oldest first) that matches the filter as one JSON
 * object a line (see starling_message_to_json). */
gboolean  starling_message_log_export           (StarlingMessageLog *self,
                                                 GOutputStream      *stream,
                                                 const char         *topic_pattern,
                                                 const char         *text,
                                                 GCancellable       *cancellable,
                                                 GError            **error);

/* MQTT topic filter matching ('+' one level, '#' the rest; topics starting
 * with '$' match no filter starting with a wildcard). */
gboolean  starling_topic_matches                (const char *filter,
                                                 const char *topic);

/* The log view's filter.  topic_pattern: an MQTT filter when it has a
 * wildcard, otherwise a case-insensitive part of the topic.  text: a
 * case-insensitive (ASCII) part of the payload.  NULL or "" match all. */
gboolean  starling_message_matches              (StarlingMessage *message,
                                                 const char      *topic_pattern,
                                                 const char      *text);

G_END_DECLS
