/* starling-message.h — one MQTT message the inspector saw or the publish
 * pane sent: time, topic, payload, QoS, retain and every MQTT 5 property.
 * Immutable once made, so the log, the topic tree and the detail view share
 * the same object without copies. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The MQTT 5 properties of a PUBLISH.  A plain struct (no GObject) so that
 * Paho's threads can fill one in before the main thread wraps it. */
typedef struct {
  int        payload_format;     /* -1 absent, 0 bytes, 1 UTF-8 */
  gint64     message_expiry;     /* seconds, -1 absent */
  char      *content_type;       /* nullable */
  char      *response_topic;     /* nullable */
  GBytes    *correlation_data;   /* nullable */
  GPtrArray *user_properties;    /* nullable: names and values, alternating */
  GArray    *subscription_ids;   /* nullable: guint32 */
  int        topic_alias;        /* 0 absent */
} StarlingMessageProperties;

StarlingMessageProperties *starling_message_properties_new  (void);
StarlingMessageProperties *starling_message_properties_copy (const StarlingMessageProperties *props);
void                       starling_message_properties_free (StarlingMessageProperties *props);
void                       starling_message_properties_add_user_property (StarlingMessageProperties *props,
                                                                          const char                *name,
                                                                          const char                *value);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StarlingMessageProperties, starling_message_properties_free)

#define STARLING_TYPE_MESSAGE (starling_message_get_type ())
G_DECLARE_FINAL_TYPE (StarlingMessage, starling_message, STARLING, MESSAGE, GObject)

/* time: real time in microseconds (0: now).  props: taken (nullable). */
StarlingMessage *starling_message_new (const char                *topic,
                                       GBytes                    *payload,
                                       int                        qos,
                                       gboolean                   retain,
                                       gboolean                   outgoing,
                                       gint64                     time,
                                       StarlingMessageProperties *props);

gint64       starling_message_get_time       (StarlingMessage *self);
const char  *starling_message_get_topic      (StarlingMessage *self);
GBytes      *starling_message_get_payload    (StarlingMessage *self);
gsize        starling_message_get_size       (StarlingMessage *self);
int          starling_message_get_qos        (StarlingMessage *self);
gboolean     starling_message_get_retain     (StarlingMessage *self);
/* TRUE for what this app published. */
gboolean     starling_message_get_outgoing   (StarlingMessage *self);
/* Never NULL: an empty set when the message had none. */
const StarlingMessageProperties *
             starling_message_get_properties (StarlingMessage *self);
/* A short single-line preview of the payload (cached). */
const char  *starling_message_get_preview    (StarlingMessage *self);

/* A message time (µs since the epoch) as local HH:MM:SS.mmm. */
char        *starling_message_format_time    (gint64 time_us);

/* One JSON object on one line (no newline): time (RFC 3339), topic, qos,
 * retain, payload (text when UTF-8, else payload_base64) and properties. */
char        *starling_message_to_json        (StarlingMessage *self);

G_END_DECLS
