/* mqtt-encode.c — packets to bytes.
 *
 * Each encoder computes the remaining length first, so the fixed header is
 * written once and nothing is moved afterwards. Fields that do not exist in
 * the target version (properties, ack reason codes, DISCONNECT reason) are
 * simply left out for 3.1/3.1.1. */
#define G_LOG_DOMAIN "starling-mqtt"

#include "mqtt-private.h"

static void
put_fixed_header (StBuf *out, uint8_t first, size_t remaining)
{
  st_buf_put_u8 (out, first);
  st_buf_put_varint (out, (uint32_t) remaining);
}

static size_t
str_size (MqttBytes b)
{
  return 2 + (size_t) b.len;
}

static void
put_bytes (StBuf *out, MqttBytes b)
{
  st_buf_put_str (out, b.data, (uint16_t) b.len);
}

void
mqtt_encode_connect (StBuf *out, const MqttConnect *p)
{
  bool v5 = p->version == MQTT_V5;
  MqttBytes name = p->version == MQTT_V31 ? MQTT_BYTES_STR ("MQIsdp") : MQTT_BYTES_STR ("MQTT");
  uint8_t flags = 0;
  size_t n;

  if (p->clean_start)
    flags |= 0x02;
  if (p->will_flag)
    flags |= 0x04 | (uint8_t) ((p->will_qos & 0x03) << 3) | (p->will_retain ? 0x20 : 0);
  if (p->has_password)
    flags |= 0x40;
  if (p->has_username)
    flags |= 0x80;

  n = str_size (name) + 1 + 1 + 2;
  if (v5)
    n += mqtt_props_wire_size (&p->props);
  n += str_size (p->client_id);
  if (p->will_flag)
    {
      if (v5)
        n += mqtt_props_wire_size (&p->will_props);
      n += str_size (p->will_topic) + str_size (p->will_payload);
    }
  if (p->has_username)
    n += str_size (p->username);
  if (p->has_password)
    n += str_size (p->password);

  st_buf_reserve (out, 5 + n);
  put_fixed_header (out, MQTT_CONNECT << 4, n);
  put_bytes (out, name);
  st_buf_put_u8 (out, (uint8_t) p->version);
  st_buf_put_u8 (out, flags);
  st_buf_put_u16 (out, p->keep_alive);
  if (v5)
    mqtt_props_put (out, &p->props);
  put_bytes (out, p->client_id);
  if (p->will_flag)
    {
      if (v5)
        mqtt_props_put (out, &p->will_props);
      put_bytes (out, p->will_topic);
      put_bytes (out, p->will_payload);
    }
  if (p->has_username)
    put_bytes (out, p->username);
  if (p->has_password)
    put_bytes (out, p->password);
}

void
mqtt_encode_connack (StBuf *out, MqttVersion v, const MqttConnack *p)
{
  size_t n = 2;

  if (v == MQTT_V5)
    n += mqtt_props_wire_size (&p->props);
  put_fixed_header (out, MQTT_CONNACK << 4, n);
  st_buf_put_u8 (out, p->session_present ? 1 : 0);
  st_buf_put_u8 (out, p->reason_code);
  if (v == MQTT_V5)
    mqtt_props_put (out, &p->props);
}

static size_t
publish_remaining (MqttVersion v, const MqttPublish *p)
{
  size_t n = str_size (p->topic) + (p->qos > 0 ? 2 : 0) + p->payload.len;

  if (v == MQTT_V5)
    n += mqtt_props_wire_size (&p->props);
  return n;
}

size_t
mqtt_publish_size (MqttVersion v, const MqttPublish *p)
{
  size_t n = publish_remaining (v, p);

  return 1 + mqtt_varint_size ((uint32_t) n) + n;
}

size_t
mqtt_encode_publish_head (StBuf *out, MqttVersion v, const MqttPublish *p)
{
  size_t n = publish_remaining (v, p);
  uint8_t first = MQTT_PUBLISH << 4;

  first |= (uint8_t) ((p->qos & 0x03) << 1);
  if (p->dup)
    first |= 0x08;
  if (p->retain)
    first |= 0x01;

  st_buf_reserve (out, 5 + n - p->payload.len);
  put_fixed_header (out, first, n);
  put_bytes (out, p->topic);
  if (p->qos > 0)
    st_buf_put_u16 (out, p->packet_id);
  if (v == MQTT_V5)
    mqtt_props_put (out, &p->props);
  return 1 + mqtt_varint_size ((uint32_t) n) + n;
}

void
mqtt_encode_publish (StBuf *out, MqttVersion v, const MqttPublish *p)
{
  st_buf_reserve (out, mqtt_publish_size (v, p));
  mqtt_encode_publish_head (out, v, p);
  st_buf_append (out, p->payload.data, p->payload.len);
}

void
mqtt_encode_ack (StBuf *out, MqttVersion v, const MqttAck *p)
{
  uint8_t first = (uint8_t) (p->type << 4) | (p->type == MQTT_PUBREL ? 0x02 : 0);
  bool no_props = mqtt_props_empty (&p->props);

  if (v != MQTT_V5 || (p->reason_code == 0 && no_props))
    {
      put_fixed_header (out, first, 2);
      st_buf_put_u16 (out, p->packet_id);
    }
  else if (no_props)
    {
      put_fixed_header (out, first, 3);
      st_buf_put_u16 (out, p->packet_id);
      st_buf_put_u8 (out, p->reason_code);
    }
  else
    {
      put_fixed_header (out, first, 3 + mqtt_props_wire_size (&p->props));
      st_buf_put_u16 (out, p->packet_id);
      st_buf_put_u8 (out, p->reason_code);
      mqtt_props_put (out, &p->props);
    }
}

/* SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK: packet id, v5 properties, then a
 * raw list. */
static void
encode_id_props_list (StBuf *out, uint8_t first, MqttVersion v, uint16_t packet_id,
                      const MqttProperties *props, MqttBytes list)
{
  size_t n = 2 + list.len;

  if (v == MQTT_V5)
    n += mqtt_props_wire_size (props);
  st_buf_reserve (out, 5 + n);
  put_fixed_header (out, first, n);
  st_buf_put_u16 (out, packet_id);
  if (v == MQTT_V5)
    mqtt_props_put (out, props);
  st_buf_append (out, list.data, list.len);
}

void
mqtt_encode_subscribe (StBuf *out, MqttVersion v, const MqttSubscribe *p)
{
  encode_id_props_list (out, (MQTT_SUBSCRIBE << 4) | 0x02, v, p->packet_id, &p->props, p->entries);
}

void
mqtt_encode_suback (StBuf *out, MqttVersion v, const MqttSuback *p)
{
  encode_id_props_list (out, MQTT_SUBACK << 4, v, p->packet_id, &p->props, p->reason_codes);
}

void
mqtt_encode_unsubscribe (StBuf *out, MqttVersion v, const MqttUnsubscribe *p)
{
  encode_id_props_list (out, (MQTT_UNSUBSCRIBE << 4) | 0x02, v, p->packet_id, &p->props, p->filters);
}

void
mqtt_encode_unsuback (StBuf *out, MqttVersion v, const MqttUnsuback *p)
{
  /* 3.1.1 UNSUBACK is only the packet id [MQTT-3.11.2]. */
  MqttBytes none = { NULL, 0 };

  encode_id_props_list (out, MQTT_UNSUBACK << 4, v, p->packet_id, &p->props,
                        v == MQTT_V5 ? p->reason_codes : none);
}

void
mqtt_encode_pingreq (StBuf *out)
{
  put_fixed_header (out, MQTT_PINGREQ << 4, 0);
}

void
mqtt_encode_pingresp (StBuf *out)
{
  put_fixed_header (out, MQTT_PINGRESP << 4, 0);
}

/* DISCONNECT and AUTH share the optional reason code and properties. */
static void
encode_reason_props (StBuf *out, uint8_t first, const MqttDisconnect *p)
{
  bool no_props = mqtt_props_empty (&p->props);

  if (p->reason_code == 0 && no_props)
    put_fixed_header (out, first, 0);
  else if (no_props)
    {
      put_fixed_header (out, first, 1);
      st_buf_put_u8 (out, p->reason_code);
    }
  else
    {
      put_fixed_header (out, first, 1 + mqtt_props_wire_size (&p->props));
      st_buf_put_u8 (out, p->reason_code);
      mqtt_props_put (out, &p->props);
    }
}

void
mqtt_encode_disconnect (StBuf *out, MqttVersion v, const MqttDisconnect *p)
{
  if (v != MQTT_V5)
    {
      put_fixed_header (out, MQTT_DISCONNECT << 4, 0);
      return;
    }
  encode_reason_props (out, MQTT_DISCONNECT << 4, p);
}

void
mqtt_encode_auth (StBuf *out, const MqttAuth *p)
{
  encode_reason_props (out, MQTT_AUTH << 4, p);
}

void
mqtt_subscribe_append (StBuf *raw, MqttVersion v, MqttBytes filter, const MqttSubOptions *opts)
{
  uint8_t o = opts->qos & 0x03;

  if (v == MQTT_V5)
    {
      if (opts->no_local)
        o |= 0x04;
      if (opts->retain_as_published)
        o |= 0x08;
      o |= (uint8_t) ((opts->retain_handling & 0x03) << 4);
    }
  put_bytes (raw, filter);
  st_buf_put_u8 (raw, o);
}

void
mqtt_unsubscribe_append (StBuf *raw, MqttBytes filter)
{
  put_bytes (raw, filter);
}
