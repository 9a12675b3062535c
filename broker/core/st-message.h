/* st-message.h — an application message as the broker keeps it: immutable
 * once built, reference-counted, shared by every queue and subscriber that
 * holds it. The payload is an StBytes sent by reference; the topic and the
 * forwarded properties live in the same allocation as the struct. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "mqtt/mqtt-packet.h"
#include "util/st-bytes.h"

/* Reference counts in broker/core use the compiler's atomics rather than
 * g_atomic_ref_count_*: the same instructions, but visible to
 * ThreadSanitizer (GLib's live in an uninstrumented library). */
static inline void
st_ref_inc (int *ref)
{
  __atomic_fetch_add (ref, 1, __ATOMIC_RELAXED);
}

/* True when that was the last reference. */
static inline bool
st_ref_dec (int *ref)
{
  return __atomic_fetch_sub (ref, 1, __ATOMIC_ACQ_REL) == 1;
}

typedef struct {
  int       ref;
  uint8_t   qos;
  bool      retain;
  bool      has_payload_format;
  uint8_t   payload_format;
  /* Monotonic deadline (g_get_monotonic_time() / 1000), 0 = never expires. */
  gint64    expire_at_ms;
  MqttBytes topic;
  MqttBytes content_type;      /* len 0 and data NULL when absent */
  MqttBytes response_topic;
  MqttBytes correlation_data;
  bool      has_correlation_data;
  MqttBytes user_properties;   /* raw pairs, forwarded untouched */
  StBytes  *payload;
  /* Its row in the MQTT store once stored, else 0. The one mutable field:
   * set and read under the lock of the broker that routes it. */
  int64_t   store_id;
  uint8_t   blob[];            /* storage for the MqttBytes above */
} StMessage;

/* Builds a message from a decoded PUBLISH (or will). topic is the resolved
 * topic (after topic alias). props may be NULL (MQTT 3.1.1). The payload is
 * copied once into a shared StBytes. now_ms: monotonic milliseconds. */
StMessage *st_message_new (MqttBytes              topic,
                           MqttBytes              payload,
                           uint8_t                qos,
                           bool                   retain,
                           const MqttProperties  *props,
                           gint64                 now_ms);

/* The same message with what an on-publish hook may change replaced:
 * payload, payload format (has_format false: none) and content type
 * (data NULL: none). Topic, QoS, retain, expiry and the other properties
 * are kept. */
StMessage *st_message_new_changed (const StMessage *orig,
                                   const void      *payload,
                                   size_t           payload_len,
                                   bool             has_format,
                                   uint8_t          format,
                                   MqttBytes        content_type);

StMessage *st_message_ref   (StMessage *msg);
void       st_message_unref (StMessage *msg);

/* Seconds of life left (rounded up), or 0 when expired. Only meaningful when
 * expire_at_ms != 0. */
uint32_t   st_message_remaining (const StMessage *msg, gint64 now_ms);

static inline bool
st_message_expired (const StMessage *msg, gint64 now_ms)
{
  return msg->expire_at_ms != 0 && now_ms >= msg->expire_at_ms;
}

/* Bytes this message accounts for in a session's queue bound. */
static inline uint64_t
st_message_cost (const StMessage *msg)
{
  return (uint64_t) msg->payload->len + msg->topic.len + 64;
}

/* Monotonic milliseconds, the clock of expire_at_ms and of session timers. */
static inline gint64
st_now_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StMessage, st_message_unref)
