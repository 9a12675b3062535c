/* starling-publish-pane.h — publish into the broker the inspector watches:
 * topic (completed from the topics seen), payload in a chosen format (text,
 * JSON checked as typed, hex, base64), QoS, retain and the MQTT 5
 * properties; shows the broker's answer; keeps a history of what was sent
 * (send again, edit) and favourites saved in GSettings. */
#pragma once

#include <adwaita.h>

#include "starling-mqtt-client.h"
#include "starling-payload.h"
#include "starling-topic-tree.h"

G_BEGIN_DECLS

#define STARLING_TYPE_PUBLISH_PANE (starling_publish_pane_get_type ())
G_DECLARE_FINAL_TYPE (StarlingPublishPane, starling_publish_pane, STARLING, PUBLISH_PANE, AdwBin)

GtkWidget *starling_publish_pane_new         (StarlingMqttClient *client,
                                              StarlingTopicTree  *tree);

/* Fills the form from a message (its payload shown in format). */
void       starling_publish_pane_set_message (StarlingPublishPane   *self,
                                              StarlingMessage       *message,
                                              StarlingPayloadFormat  format);
/* The form as a message, or NULL and an error naming the field. */
StarlingMessage *
           starling_publish_pane_build_message (StarlingPublishPane  *self,
                                                GError              **error);
/* What the Publish button does.  "published" (StarlingMessage, reason
 * code, error message or NULL) follows when the broker answered. */
void       starling_publish_pane_publish     (StarlingPublishPane *self);
/* The broker's answer in words, as shown. */
const char *starling_publish_pane_get_result (StarlingPublishPane *self);

G_END_DECLS
