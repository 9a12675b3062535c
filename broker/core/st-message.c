#define G_LOG_DOMAIN "starling-message"

#include "st-message.h"

#include <string.h>

static void
put (uint8_t **p, MqttBytes *dst, MqttBytes src)
{
  dst->len = src.len;
  /* absent stays NULL; present but empty points at the blob */
  dst->data = src.data ? *p : NULL;
  if (src.len)
    memcpy (*p, src.data, src.len);
  *p += src.len;
}

StMessage *
st_message_new (MqttBytes             topic,
                MqttBytes             payload,
                uint8_t               qos,
                bool                  retain,
                const MqttProperties *props,
                gint64                now_ms)
{
  MqttBytes none = { NULL, 0 };
  MqttBytes ct = none, rt = none, cd = none, up = none;
  bool has_cd = false;

  if (props)
    {
      if (mqtt_props_has (props, MQTT_PROP_CONTENT_TYPE))
        ct = props->content_type;
      if (mqtt_props_has (props, MQTT_PROP_RESPONSE_TOPIC))
        rt = props->response_topic;
      if (mqtt_props_has (props, MQTT_PROP_CORRELATION_DATA))
        {
          cd = props->correlation_data;
          has_cd = true;
        }
      if (mqtt_props_has (props, MQTT_PROP_USER_PROPERTY))
        up = props->user_properties;
    }

  size_t extra = (size_t) topic.len + ct.len + rt.len + cd.len + up.len;
  StMessage *msg = g_malloc0 (sizeof (StMessage) + extra);
  uint8_t *p = msg->blob;

  msg->ref = 1;
  msg->qos = qos;
  msg->retain = retain;
  put (&p, &msg->topic, topic);
  put (&p, &msg->content_type, ct);
  put (&p, &msg->response_topic, rt);
  put (&p, &msg->correlation_data, cd);
  put (&p, &msg->user_properties, up);
  msg->has_correlation_data = has_cd;
  if (props && mqtt_props_has (props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR))
    {
      msg->has_payload_format = true;
      msg->payload_format = props->payload_format_indicator;
    }
  /* An interval of 0 means no expiry, as in mosquitto (the alternative,
   * "already expired", would make the property useless). */
  if (props && mqtt_props_has (props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL)
      && props->message_expiry_interval > 0)
    msg->expire_at_ms = now_ms + (gint64) props->message_expiry_interval * 1000;
  msg->payload = st_bytes_new (payload.data, payload.len);
  return msg;
}

StMessage *
st_message_new_changed (const StMessage *orig,
                        const void      *payload,
                        size_t           payload_len,
                        bool             has_format,
                        uint8_t          format,
                        MqttBytes        content_type)
{
  size_t extra = (size_t) orig->topic.len + content_type.len + orig->response_topic.len
                 + orig->correlation_data.len + orig->user_properties.len;
  StMessage *msg = g_malloc0 (sizeof (StMessage) + extra);
  uint8_t *p = msg->blob;

  msg->ref = 1;
  msg->qos = orig->qos;
  msg->retain = orig->retain;
  msg->expire_at_ms = orig->expire_at_ms;
  put (&p, &msg->topic, orig->topic);
  put (&p, &msg->content_type, content_type);
  put (&p, &msg->response_topic, orig->response_topic);
  put (&p, &msg->correlation_data, orig->correlation_data);
  put (&p, &msg->user_properties, orig->user_properties);
  msg->has_correlation_data = orig->has_correlation_data;
  msg->has_payload_format = has_format;
  msg->payload_format = has_format ? format : 0;
  msg->payload = st_bytes_new (payload, payload_len);
  return msg;
}

StMessage *
st_message_ref (StMessage *msg)
{
  st_ref_inc (&msg->ref);
  return msg;
}

void
st_message_unref (StMessage *msg)
{
  if (msg && st_ref_dec (&msg->ref))
    {
      st_bytes_unref (msg->payload);
      g_free (msg);
    }
}

uint32_t
st_message_remaining (const StMessage *msg, gint64 now_ms)
{
  gint64 left = msg->expire_at_ms - now_ms;

  if (left <= 0)
    return 0;
  return (uint32_t) ((left + 999) / 1000);
}
