/* starling-mqtt-client.h — the inspector's MQTT connection: Paho MQTT C's
 * MQTTAsync, MQTT 5, over TLS trusting a CA file or over plain TCP.
 *
 * Paho calls back on its own threads.  Those callbacks only copy what they
 * got into a mutex-protected queue and wake a GSource on the main context;
 * the main thread drains the queue at most once a frame (16 ms) and emits
 * "messages" with the whole batch.  No widget or GObject is touched off
 * the main thread.
 *
 * The connection keeps itself up: when it drops, it reconnects with
 * back-off (1 s doubling to 30 s) and subscribes again; a refusal that
 * retrying cannot fix (bad credentials, not authorized, banned) stops in
 * the error state with the reason in words. */
#pragma once

#include <gio/gio.h>

#include "starling-message.h"

G_BEGIN_DECLS

typedef enum {
  STARLING_MQTT_STATE_DISCONNECTED,
  STARLING_MQTT_STATE_CONNECTING,
  STARLING_MQTT_STATE_CONNECTED,
  STARLING_MQTT_STATE_RECONNECTING,
  STARLING_MQTT_STATE_ERROR,
} StarlingMqttState;

#define STARLING_MQTT_ERROR (starling_mqtt_error_quark ())
GQuark starling_mqtt_error_quark (void);

typedef enum {
  STARLING_MQTT_ERROR_FAILED,       /* Paho refused the call */
  STARLING_MQTT_ERROR_NOT_CONNECTED,
  STARLING_MQTT_ERROR_REFUSED,      /* the broker answered with a reason code >= 0x80 */
  STARLING_MQTT_ERROR_CLOSED,       /* the client was reconfigured or disposed */
} StarlingMqttError;

#define STARLING_TYPE_MQTT_CLIENT (starling_mqtt_client_get_type ())
G_DECLARE_FINAL_TYPE (StarlingMqttClient, starling_mqtt_client, STARLING, MQTT_CLIENT, GObject)

StarlingMqttClient *starling_mqtt_client_new (void);

/* uri: "mqtts://host:port" or "ssl://…" (TLS), "mqtt://…" or "tcp://…".
 * ca_file: PEM file of the CA to trust for TLS (NULL: the system's).
 * verify_host: also check the certificate names the host of uri.
 * password: the credential (a JWT for token brokers), nullable.
 * Drops any previous connection; call starling_mqtt_client_connect (). */
gboolean  starling_mqtt_client_configure     (StarlingMqttClient *self,
                                              const char         *uri,
                                              const char         *client_id,
                                              const char         *username,
                                              const char         *password,
                                              const char         *ca_file,
                                              gboolean            verify_host,
                                              GError            **error);
void      starling_mqtt_client_connect       (StarlingMqttClient *self);
void      starling_mqtt_client_disconnect    (StarlingMqttClient *self);

/* The subscription filters (default: "#"); changing them resubscribes. */
void      starling_mqtt_client_set_filters   (StarlingMqttClient  *self,
                                              const char * const  *filters);
const char * const *
          starling_mqtt_client_get_filters   (StarlingMqttClient *self);

StarlingMqttState
          starling_mqtt_client_get_state     (StarlingMqttClient *self);
/* The state in words, with the reason for an error or a reconnect. */
const char *
          starling_mqtt_client_get_status    (StarlingMqttClient *self);
const char *
          starling_mqtt_client_get_uri       (StarlingMqttClient *self);
/* Messages dropped because the main thread fell too far behind. */
guint64   starling_mqtt_client_get_n_dropped (StarlingMqttClient *self);

/* Publishes message (topic, payload, QoS, retain and properties).  Completes
 * when the broker answered (PUBACK or PUBREC/PUBCOMP; for QoS 0, when sent). */
void      starling_mqtt_client_publish_async  (StarlingMqttClient  *self,
                                               StarlingMessage     *message,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
/* TRUE when the broker accepted it.  reason_code: the broker's (0 for
 * success), also on refusal (error STARLING_MQTT_ERROR_REFUSED, the reason
 * in words as its message). */
gboolean  starling_mqtt_client_publish_finish (StarlingMqttClient  *self,
                                               GAsyncResult        *result,
                                               int                 *reason_code,
                                               GError             **error);

/* An MQTT 5 reason code in words ("Not authorized"). */
const char *starling_mqtt_reason_to_string   (int reason_code);

G_END_DECLS
