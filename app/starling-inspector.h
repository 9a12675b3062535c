/* starling-inspector.h — a broker's live traffic: the connection state,
 * a topic tree, a message log, a detail view with a chart, and the publish
 * pane.  It issues itself a short-lived credential for the broker (topic
 * ACL "#") through the control API, fetches the CA, and connects with Paho
 * over TLS (or to an endpoint the user types). */
#pragma once

#include <adwaita.h>

#include "client/st-api-client.h"
#include "starling-message-log.h"
#include "starling-mqtt-client.h"
#include "starling-topic-tree.h"

G_BEGIN_DECLS

#define STARLING_TYPE_INSPECTOR (starling_inspector_get_type ())
G_DECLARE_FINAL_TYPE (StarlingInspector, starling_inspector, STARLING, INSPECTOR, AdwBin)

GtkWidget *starling_inspector_new (StApiClient *client,
                                   const char  *ns,
                                   const char  *broker);

/* For tests and the benchmark. */
StarlingTopicTree  *starling_inspector_get_tree         (StarlingInspector *self);
StarlingMessageLog *starling_inspector_get_log          (StarlingInspector *self);
/* The log as shown: filtered. */
GListModel         *starling_inspector_get_shown_log    (StarlingInspector *self);
StarlingMqttClient *starling_inspector_get_client       (StarlingInspector *self);
GtkWidget          *starling_inspector_get_publish_pane (StarlingInspector *self);
void                starling_inspector_set_paused       (StarlingInspector *self,
                                                         gboolean           paused);
void                starling_inspector_set_log_filter   (StarlingInspector *self,
                                                         const char        *topic_pattern,
                                                         const char        *text);
/* Shows a topic (selects it in the tree) and its latest message. */
void                starling_inspector_select_topic     (StarlingInspector *self,
                                                         const char        *topic);
/* Takes a batch as if it had arrived (the benchmark's way in). */
void                starling_inspector_feed             (StarlingInspector *self,
                                                         StarlingMessage  **messages,
                                                         guint              n_messages);
/* Publishes an empty retained message on topic; with confirm, only after
 * the user agreed in a dialog. */
void                starling_inspector_delete_retained  (StarlingInspector *self,
                                                         const char        *topic,
                                                         gboolean           confirm);
gboolean            starling_inspector_export           (StarlingInspector *self,
                                                         GFile             *file,
                                                         GError           **error);
/* The subscription filters, separated by spaces. */
void                starling_inspector_set_filters      (StarlingInspector *self,
                                                         const char        *filters);

G_END_DECLS
