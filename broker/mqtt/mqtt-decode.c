/* mqtt-decode.c — strict decoding of whole packets (MQTT 3.1, 3.1.1, 5.0).
 *
 * Where the specification names a reason code for a violation we return it;
 * anything that cannot be parsed, or any byte left over, is a Malformed
 * Packet. Nothing is allocated: the packet struct points into the input. */
#define G_LOG_DOMAIN "starling-mqtt"

#include "mqtt-private.h"

#define MALFORMED MQTT_RC_MALFORMED_PACKET
#define PROTOCOL  MQTT_RC_PROTOCOL_ERROR

/* Evaluates a property decode and returns its failure, if any. */
#define TRY(expr) \
  do { MqttReasonCode rc_ = (expr); if (rc_ != MQTT_RC_SUCCESS) return rc_; } while (0)

static bool
bytes_eq (MqttBytes b, const char *s)
{
  size_t n = strlen (s);

  return b.len == n && memcmp (b.data, s, n) == 0;
}

static bool
has_wildcard (MqttBytes b)
{
  for (uint32_t i = 0; i < b.len; i++)
    if (b.data[i] == '+' || b.data[i] == '#')
      return true;
  return false;
}

static bool
is_shared_filter (MqttBytes f)
{
  return f.len >= 7 && memcmp (f.data, "$share/", 7) == 0;
}

/* The reason codes each v5 packet may carry (sections 3.2.2.2 to 3.15.2.1).
 * Any other value is a Protocol Error. */
static bool
reason_code_allowed (MqttPacketType type, uint8_t rc)
{
  switch (type)
    {
    case MQTT_CONNACK:
      switch (rc)
        {
        case 0x00: case 0x80: case 0x81: case 0x82: case 0x83: case 0x84:
        case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8a:
        case 0x8c: case 0x90: case 0x95: case 0x97: case 0x99: case 0x9a:
        case 0x9b: case 0x9c: case 0x9d: case 0x9f:
          return true;
        default:
          return false;
        }
    case MQTT_PUBACK:
    case MQTT_PUBREC:
      switch (rc)
        {
        case 0x00: case 0x10: case 0x80: case 0x83: case 0x87: case 0x90:
        case 0x91: case 0x97: case 0x99:
          return true;
        default:
          return false;
        }
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
      return rc == 0x00 || rc == 0x92;
    case MQTT_SUBACK:
      switch (rc)
        {
        case 0x00: case 0x01: case 0x02: case 0x80: case 0x83: case 0x87:
        case 0x8f: case 0x91: case 0x97: case 0x9e: case 0xa1: case 0xa2:
          return true;
        default:
          return false;
        }
    case MQTT_UNSUBACK:
      switch (rc)
        {
        case 0x00: case 0x11: case 0x80: case 0x83: case 0x87: case 0x8f:
        case 0x91:
          return true;
        default:
          return false;
        }
    case MQTT_DISCONNECT:
      switch (rc)
        {
        case 0x00: case 0x04: case 0x80: case 0x81: case 0x82: case 0x83:
        case 0x87: case 0x89: case 0x8b: case 0x8d: case 0x8e: case 0x8f:
        case 0x90: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
        case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d:
        case 0x9e: case 0x9f: case 0xa0: case 0xa1: case 0xa2:
          return true;
        default:
          return false;
        }
    case MQTT_AUTH:
      return rc == 0x00 || rc == 0x18 || rc == 0x19;
    default:
      return false;
    }
}

static MqttReasonCode
decode_connect (MqttReader *r, MqttConnect *c)
{
  MqttBytes name;
  uint8_t level, flags;
  bool v5, will, username, password;

  if (!mqtt_rd_str (r, &name) || !mqtt_rd_u8 (r, &level))
    return MALFORMED;
  c->protocol_name = name;
  /* Filled even on failure so the caller can pick the CONNACK format. */
  c->version = (MqttVersion) level;

  if (bytes_eq (name, "MQTT"))
    {
      if (level != MQTT_V311 && level != MQTT_V5)
        return MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION;
    }
  else if (bytes_eq (name, "MQIsdp"))
    {
      if (level != MQTT_V31)
        return MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION;
    }
  else
    return MALFORMED;

  v5 = level == MQTT_V5;

  if (!mqtt_rd_u8 (r, &flags))
    return MALFORMED;
  if (flags & 0x01)                          /* [MQTT-3.1.2-3] */
    return MALFORMED;
  c->clean_start = (flags & 0x02) != 0;
  will = (flags & 0x04) != 0;
  c->will_qos = (flags >> 3) & 0x03;
  c->will_retain = (flags & 0x20) != 0;
  password = (flags & 0x40) != 0;
  username = (flags & 0x80) != 0;
  if (c->will_qos == 3)                      /* [MQTT-3.1.2-12] */
    return MALFORMED;
  if (!will && (c->will_qos != 0 || c->will_retain)) /* [MQTT-3.1.2-11, -13] */
    return MALFORMED;
  if (!v5 && password && !username)          /* 3.1.1 [MQTT-3.1.2-22] */
    return MALFORMED;
  c->will_flag = will;
  c->has_username = username;
  c->has_password = password;

  if (!mqtt_rd_u16 (r, &c->keep_alive))
    return MALFORMED;
  if (v5)
    TRY (mqtt_props_decode (r, MQTT_CONNECT, true, &c->props));

  if (!mqtt_rd_str (r, &c->client_id))
    return MALFORMED;

  if (will)
    {
      if (v5)
        TRY (mqtt_props_decode (r, MQTT_PROP_CTX_WILL, true, &c->will_props));
      if (!mqtt_rd_str (r, &c->will_topic))
        return MALFORMED;
      if (!mqtt_topic_name_valid (c->will_topic))
        return v5 ? MQTT_RC_TOPIC_NAME_INVALID : MALFORMED;
      if (!mqtt_rd_bin (r, &c->will_payload))
        return MALFORMED;
    }
  if (username && !mqtt_rd_str (r, &c->username))
    return MALFORMED;
  if (password && !mqtt_rd_bin (r, &c->password))
    return MALFORMED;
  return MQTT_RC_SUCCESS;
}

static MqttReasonCode
decode_connack (MqttReader *r, bool v5, MqttConnack *c)
{
  uint8_t flags;

  if (!mqtt_rd_u8 (r, &flags) || !mqtt_rd_u8 (r, &c->reason_code))
    return MALFORMED;
  if (flags & 0xfe)                          /* reserved [MQTT-3.2.2-1] */
    return MALFORMED;
  c->session_present = flags & 0x01;
  if (!v5)
    return c->reason_code <= MQTT3_CONNACK_NOT_AUTHORIZED ? MQTT_RC_SUCCESS : MALFORMED;
  if (!reason_code_allowed (MQTT_CONNACK, c->reason_code))
    return PROTOCOL;
  return mqtt_props_decode (r, MQTT_CONNACK, false, &c->props);
}

static MqttReasonCode
decode_publish (MqttReader *r, uint8_t flags, bool v5, bool from_client, MqttPublish *p)
{
  p->dup = (flags & 0x08) != 0;
  p->qos = (flags >> 1) & 0x03;
  p->retain = (flags & 0x01) != 0;
  if (p->qos == 3)                           /* [MQTT-3.3.1-4] */
    return MALFORMED;
  if (p->qos == 0 && p->dup)                 /* [MQTT-3.3.1-2] */
    return MALFORMED;

  if (!mqtt_rd_str (r, &p->topic))
    return MALFORMED;
  if (p->qos > 0)
    {
      if (!mqtt_rd_u16 (r, &p->packet_id))
        return MALFORMED;
      if (p->packet_id == 0)                 /* [MQTT-2.2.1-3] */
        return MALFORMED;
    }
  if (v5)
    TRY (mqtt_props_decode (r, MQTT_PUBLISH, from_client, &p->props));

  /* [MQTT-3.3.2-2]. An empty topic is only possible in v5, where a Topic
   * Alias supplies it; the engine checks the alias. */
  if (has_wildcard (p->topic))
    return v5 ? MQTT_RC_TOPIC_NAME_INVALID : MALFORMED;
  if (!v5 && p->topic.len == 0)
    return MALFORMED;

  /* The payload is opaque here; the engine checks it against the Payload
   * Format Indicator. */
  p->payload.data = r->p;
  p->payload.len = (uint32_t) mqtt_rd_left (r);
  r->p = r->end;
  return MQTT_RC_SUCCESS;
}

static MqttReasonCode
decode_ack (MqttReader *r, MqttPacketType type, bool v5, MqttAck *a)
{
  a->type = type;
  if (!mqtt_rd_u16 (r, &a->packet_id))
    return MALFORMED;
  if (a->packet_id == 0)
    return MALFORMED;
  /* v5 [MQTT-3.4.2.1]: reason code and properties may be omitted. */
  if (!v5 || mqtt_rd_left (r) == 0)
    return MQTT_RC_SUCCESS;
  if (!mqtt_rd_u8 (r, &a->reason_code))
    return MALFORMED;
  if (!reason_code_allowed (type, a->reason_code))
    return PROTOCOL;
  if (mqtt_rd_left (r) == 0)
    return MQTT_RC_SUCCESS;
  return mqtt_props_decode (r, type, false, &a->props);
}

static MqttReasonCode
decode_subscribe (MqttReader *r, bool v5, MqttSubscribe *s)
{
  if (!mqtt_rd_u16 (r, &s->packet_id))
    return MALFORMED;
  if (s->packet_id == 0)
    return MALFORMED;
  if (v5)
    TRY (mqtt_props_decode (r, MQTT_SUBSCRIBE, true, &s->props));

  s->entries.data = r->p;
  s->entries.len = (uint32_t) mqtt_rd_left (r);
  while (mqtt_rd_left (r) > 0)
    {
      MqttBytes filter;
      uint8_t opts;

      if (!mqtt_rd_str (r, &filter) || filter.len == 0 || !mqtt_rd_u8 (r, &opts))
        return MALFORMED;
      if (!v5)
        {
          /* 3.1.1 [MQTT-3-8.3-4]: QoS 3 or any reserved bit is malformed */
          if ((opts & 0x03) == 3 || (opts & 0xfc))
            return MALFORMED;
        }
      else
        {
          if (opts & 0xc0)                   /* [MQTT-3.8.3-5] */
            return MALFORMED;
          /* v5 3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3" */
          if ((opts & 0x03) == 3)
            return PROTOCOL;
          if (((opts >> 4) & 0x03) == 3)
            return PROTOCOL;
          if ((opts & 0x04) && is_shared_filter (filter)) /* [MQTT-3.8.3-4] */
            return PROTOCOL;
        }
      s->n_entries++;
    }
  if (s->n_entries == 0)                     /* [MQTT-3.8.3-2] */
    return v5 ? PROTOCOL : MALFORMED;
  return MQTT_RC_SUCCESS;
}

static MqttReasonCode
decode_reason_list (MqttReader *r, MqttPacketType type, bool v5, MqttBytes *codes)
{
  codes->data = r->p;
  codes->len = (uint32_t) mqtt_rd_left (r);
  r->p = r->end;
  if (codes->len == 0)
    return MALFORMED;
  for (uint32_t i = 0; i < codes->len; i++)
    {
      uint8_t rc = codes->data[i];

      if (v5 && !reason_code_allowed (type, rc))
        return PROTOCOL;
      if (!v5 && rc != 0x00 && rc != 0x01 && rc != 0x02 && rc != 0x80)
        return MALFORMED;
    }
  return MQTT_RC_SUCCESS;
}

static MqttReasonCode
decode_suback (MqttReader *r, bool v5, MqttSuback *s)
{
  if (!mqtt_rd_u16 (r, &s->packet_id) || s->packet_id == 0)
    return MALFORMED;
  if (v5)
    TRY (mqtt_props_decode (r, MQTT_SUBACK, false, &s->props));
  return decode_reason_list (r, MQTT_SUBACK, v5, &s->reason_codes);
}

static MqttReasonCode
decode_unsubscribe (MqttReader *r, bool v5, MqttUnsubscribe *u)
{
  if (!mqtt_rd_u16 (r, &u->packet_id) || u->packet_id == 0)
    return MALFORMED;
  if (v5)
    TRY (mqtt_props_decode (r, MQTT_UNSUBSCRIBE, true, &u->props));

  u->filters.data = r->p;
  u->filters.len = (uint32_t) mqtt_rd_left (r);
  while (mqtt_rd_left (r) > 0)
    {
      MqttBytes filter;

      if (!mqtt_rd_str (r, &filter) || filter.len == 0)
        return MALFORMED;
      u->n_filters++;
    }
  if (u->n_filters == 0)                     /* [MQTT-3.10.3-2] */
    return v5 ? PROTOCOL : MALFORMED;
  return MQTT_RC_SUCCESS;
}

static MqttReasonCode
decode_unsuback (MqttReader *r, bool v5, MqttUnsuback *u)
{
  if (!mqtt_rd_u16 (r, &u->packet_id) || u->packet_id == 0)
    return MALFORMED;
  if (!v5)
    return MQTT_RC_SUCCESS;
  TRY (mqtt_props_decode (r, MQTT_UNSUBACK, false, &u->props));
  return decode_reason_list (r, MQTT_UNSUBACK, true, &u->reason_codes);
}

/* DISCONNECT and AUTH: everything after the fixed header is optional. */
static MqttReasonCode
decode_disconnect (MqttReader *r, MqttPacketType type, bool from_client, MqttDisconnect *d)
{
  if (mqtt_rd_left (r) == 0)
    return MQTT_RC_SUCCESS;
  if (!mqtt_rd_u8 (r, &d->reason_code))
    return MALFORMED;
  if (!reason_code_allowed (type, d->reason_code))
    return PROTOCOL;
  if (mqtt_rd_left (r) == 0)
    return MQTT_RC_SUCCESS;
  return mqtt_props_decode (r, type, from_client, &d->props);
}

MqttReasonCode
mqtt_decode (const uint8_t *buf,
             size_t         len,
             MqttVersion    version,
             bool           from_client,
             MqttPacket    *pkt)
{
  size_t header_len;
  uint32_t remaining;
  MqttReader r;
  MqttPacketType type;
  uint8_t flags;
  bool v5 = version == MQTT_V5;
  MqttReasonCode rc;

  memset (pkt, 0, sizeof *pkt);

  if (mqtt_frame (buf, len, &header_len, &remaining) != MQTT_FRAME_OK ||
      header_len + remaining != len)
    return MALFORMED;

  type = (MqttPacketType) (buf[0] >> 4);
  flags = buf[0] & 0x0f;
  pkt->type = type;
  pkt->flags = flags;
  r.p = buf + header_len;
  r.end = buf + len;

  if (type == 0)                             /* reserved */
    return MALFORMED;
  /* [MQTT-2.1.3-1]: fixed flags for everything but PUBLISH. */
  if (type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE)
    {
      if (flags != 0x02)
        return MALFORMED;
    }
  else if (type != MQTT_PUBLISH && flags != 0)
    return MALFORMED;

  /* Before CONNECT the connection has no version; only CONNECT may come. */
  if (type != MQTT_CONNECT &&
      version != MQTT_V31 && version != MQTT_V311 && version != MQTT_V5)
    return PROTOCOL;

  switch (type)
    {
    case MQTT_CONNECT:
      rc = decode_connect (&r, &pkt->connect);
      break;
    case MQTT_CONNACK:
      rc = decode_connack (&r, v5, &pkt->connack);
      break;
    case MQTT_PUBLISH:
      rc = decode_publish (&r, flags, v5, from_client, &pkt->publish);
      break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
      rc = decode_ack (&r, type, v5, &pkt->ack);
      break;
    case MQTT_SUBSCRIBE:
      rc = decode_subscribe (&r, v5, &pkt->subscribe);
      break;
    case MQTT_SUBACK:
      rc = decode_suback (&r, v5, &pkt->suback);
      break;
    case MQTT_UNSUBSCRIBE:
      rc = decode_unsubscribe (&r, v5, &pkt->unsubscribe);
      break;
    case MQTT_UNSUBACK:
      rc = decode_unsuback (&r, v5, &pkt->unsuback);
      break;
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
      rc = MQTT_RC_SUCCESS;
      break;
    case MQTT_DISCONNECT:
      rc = v5 ? decode_disconnect (&r, type, from_client, &pkt->disconnect) : MQTT_RC_SUCCESS;
      break;
    case MQTT_AUTH:
      /* AUTH does not exist before MQTT 5. */
      rc = v5 ? decode_disconnect (&r, type, from_client, &pkt->auth) : MALFORMED;
      break;
    default:
      rc = MALFORMED;
      break;
    }

  if (rc != MQTT_RC_SUCCESS)
    return rc;
  if (r.p != r.end)                          /* trailing bytes */
    return MALFORMED;
  return MQTT_RC_SUCCESS;
}

bool
mqtt_subscribe_next (MqttIter *it, MqttVersion version, MqttBytes *filter, MqttSubOptions *opts)
{
  MqttReader r = { it->p, it->end };
  uint8_t o;

  if (!mqtt_rd_bin (&r, filter) || !mqtt_rd_u8 (&r, &o))
    {
      it->p = it->end;
      return false;
    }
  it->p = r.p;
  opts->qos = o & 0x03;
  if (version == MQTT_V5)
    {
      opts->no_local = (o & 0x04) != 0;
      opts->retain_as_published = (o & 0x08) != 0;
      opts->retain_handling = (o >> 4) & 0x03;
    }
  else
    {
      opts->no_local = false;
      opts->retain_as_published = false;
      opts->retain_handling = 0;
    }
  return true;
}

bool
mqtt_unsubscribe_next (MqttIter *it, MqttBytes *filter)
{
  MqttReader r = { it->p, it->end };

  if (!mqtt_rd_bin (&r, filter))
    {
      it->p = it->end;
      return false;
    }
  it->p = r.p;
  return true;
}
