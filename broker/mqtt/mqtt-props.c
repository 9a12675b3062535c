/* mqtt-props.c — MQTT 5 properties (section 2.2.2): decode, encode, walk. */
#define G_LOG_DOMAIN "starling-mqtt"

#include "mqtt-private.h"

#include <glib.h>
#include <stddef.h>

typedef enum {
  PT_NONE = 0,
  PT_BYTE,
  PT_U16,
  PT_U32,
  PT_VARINT,
  PT_STR,
  PT_BIN,
  PT_PAIR,
} PropType;

/* Value must be non-zero (Receive Maximum, Maximum Packet Size, Subscription
 * Identifier); every byte property is additionally limited to 0 or 1. */
#define PF_NONZERO 1u

typedef struct {
  uint8_t  type;
  uint8_t  flags;
  uint16_t ctx;      /* bit 0: will properties, bit n: packet type n */
  uint16_t offset;   /* of the field in MqttProperties */
} PropInfo;

#define CW  (1u << MQTT_PROP_CTX_WILL)
#define C(t) (1u << (t))
#define CALL 0xffffu
#define OFF(f) offsetof (MqttProperties, f)

/* Table 2-4 of the MQTT 5 specification: type and allowed packets. */
static const PropInfo prop_info[0x2b] = {
  [MQTT_PROP_PAYLOAD_FORMAT_INDICATOR] =
    { PT_BYTE, 0, CW | C (MQTT_PUBLISH), OFF (payload_format_indicator) },
  [MQTT_PROP_MESSAGE_EXPIRY_INTERVAL] =
    { PT_U32, 0, CW | C (MQTT_PUBLISH), OFF (message_expiry_interval) },
  [MQTT_PROP_CONTENT_TYPE] =
    { PT_STR, 0, CW | C (MQTT_PUBLISH), OFF (content_type) },
  [MQTT_PROP_RESPONSE_TOPIC] =
    { PT_STR, 0, CW | C (MQTT_PUBLISH), OFF (response_topic) },
  [MQTT_PROP_CORRELATION_DATA] =
    { PT_BIN, 0, CW | C (MQTT_PUBLISH), OFF (correlation_data) },
  [MQTT_PROP_SUBSCRIPTION_IDENTIFIER] =
    { PT_VARINT, PF_NONZERO, C (MQTT_PUBLISH) | C (MQTT_SUBSCRIBE), 0 },
  [MQTT_PROP_SESSION_EXPIRY_INTERVAL] =
    { PT_U32, 0, C (MQTT_CONNECT) | C (MQTT_CONNACK) | C (MQTT_DISCONNECT),
      OFF (session_expiry_interval) },
  [MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER] =
    { PT_STR, 0, C (MQTT_CONNACK), OFF (assigned_client_identifier) },
  [MQTT_PROP_SERVER_KEEP_ALIVE] =
    { PT_U16, 0, C (MQTT_CONNACK), OFF (server_keep_alive) },
  [MQTT_PROP_AUTHENTICATION_METHOD] =
    { PT_STR, 0, C (MQTT_CONNECT) | C (MQTT_CONNACK) | C (MQTT_AUTH),
      OFF (authentication_method) },
  [MQTT_PROP_AUTHENTICATION_DATA] =
    { PT_BIN, 0, C (MQTT_CONNECT) | C (MQTT_CONNACK) | C (MQTT_AUTH),
      OFF (authentication_data) },
  [MQTT_PROP_REQUEST_PROBLEM_INFORMATION] =
    { PT_BYTE, 0, C (MQTT_CONNECT), OFF (request_problem_information) },
  [MQTT_PROP_WILL_DELAY_INTERVAL] =
    { PT_U32, 0, CW, OFF (will_delay_interval) },
  [MQTT_PROP_REQUEST_RESPONSE_INFORMATION] =
    { PT_BYTE, 0, C (MQTT_CONNECT), OFF (request_response_information) },
  [MQTT_PROP_RESPONSE_INFORMATION] =
    { PT_STR, 0, C (MQTT_CONNACK), OFF (response_information) },
  [MQTT_PROP_SERVER_REFERENCE] =
    { PT_STR, 0, C (MQTT_CONNACK) | C (MQTT_DISCONNECT), OFF (server_reference) },
  [MQTT_PROP_REASON_STRING] =
    { PT_STR, 0,
      C (MQTT_CONNACK) | C (MQTT_PUBACK) | C (MQTT_PUBREC) | C (MQTT_PUBREL) |
      C (MQTT_PUBCOMP) | C (MQTT_SUBACK) | C (MQTT_UNSUBACK) |
      C (MQTT_DISCONNECT) | C (MQTT_AUTH),
      OFF (reason_string) },
  [MQTT_PROP_RECEIVE_MAXIMUM] =
    { PT_U16, PF_NONZERO, C (MQTT_CONNECT) | C (MQTT_CONNACK), OFF (receive_maximum) },
  [MQTT_PROP_TOPIC_ALIAS_MAXIMUM] =
    { PT_U16, 0, C (MQTT_CONNECT) | C (MQTT_CONNACK), OFF (topic_alias_maximum) },
  /* Topic Alias 0 is left to the engine, which answers 0x94. */
  [MQTT_PROP_TOPIC_ALIAS] =
    { PT_U16, 0, C (MQTT_PUBLISH), OFF (topic_alias) },
  [MQTT_PROP_MAXIMUM_QOS] =
    { PT_BYTE, 0, C (MQTT_CONNACK), OFF (maximum_qos) },
  [MQTT_PROP_RETAIN_AVAILABLE] =
    { PT_BYTE, 0, C (MQTT_CONNACK), OFF (retain_available) },
  [MQTT_PROP_USER_PROPERTY] =
    { PT_PAIR, 0, CALL, 0 },
  [MQTT_PROP_MAXIMUM_PACKET_SIZE] =
    { PT_U32, PF_NONZERO, C (MQTT_CONNECT) | C (MQTT_CONNACK), OFF (maximum_packet_size) },
  [MQTT_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE] =
    { PT_BYTE, 0, C (MQTT_CONNACK), OFF (wildcard_subscription_available) },
  [MQTT_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE] =
    { PT_BYTE, 0, C (MQTT_CONNACK), OFF (subscription_identifier_available) },
  [MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE] =
    { PT_BYTE, 0, C (MQTT_CONNACK), OFF (shared_subscription_available) },
};

#define FIELD(props, info, T) ((T *) ((uint8_t *) (props) + (info)->offset))
#define CFIELD(props, info, T) ((const T *) ((const uint8_t *) (props) + (info)->offset))

static const PropInfo *
prop_lookup (uint8_t id)
{
  if (id >= G_N_ELEMENTS (prop_info) || prop_info[id].type == PT_NONE)
    return NULL;
  return &prop_info[id];
}

MqttReasonCode
mqtt_props_decode (MqttReader     *r,
                   unsigned        ctx,
                   bool            from_client,
                   MqttProperties *props)
{
  uint32_t len;
  MqttReader pr;
  const uint8_t *user_start = NULL;
  const uint8_t *user_end = NULL;

  if (!mqtt_rd_varint (r, &len) || mqtt_rd_left (r) < len)
    return MQTT_RC_MALFORMED_PACKET;
  pr.p = r->p;
  pr.end = r->p + len;
  r->p += len;

  props->subscription_ids = props->subscription_ids_storage;

  while (pr.p < pr.end)
    {
      const uint8_t *start = pr.p;
      uint8_t id = *pr.p++;
      const PropInfo *info = prop_lookup (id);
      bool may_repeat;

      if (info == NULL || !(info->ctx & (1u << ctx)))
        return MQTT_RC_MALFORMED_PACKET;

      /* [MQTT-3.3.4-6]: a client never sends a Subscription Identifier in
       * PUBLISH; a server may send several, one per matching subscription. */
      if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER && ctx == MQTT_PUBLISH && from_client)
        return MQTT_RC_PROTOCOL_ERROR;
      may_repeat = id == MQTT_PROP_USER_PROPERTY ||
                   (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER && ctx == MQTT_PUBLISH);
      if ((props->present & MQTT_PROP_BIT (id)) && !may_repeat)
        return MQTT_RC_PROTOCOL_ERROR;

      switch (info->type)
        {
        case PT_BYTE:
          {
            uint8_t v;

            if (!mqtt_rd_u8 (&pr, &v))
              return MQTT_RC_MALFORMED_PACKET;
            /* Every byte property is a boolean or a QoS limited to 0..1. */
            if (v > 1)
              return MQTT_RC_PROTOCOL_ERROR;
            *FIELD (props, info, uint8_t) = v;
          }
          break;

        case PT_U16:
          {
            uint16_t v;

            if (!mqtt_rd_u16 (&pr, &v))
              return MQTT_RC_MALFORMED_PACKET;
            if ((info->flags & PF_NONZERO) && v == 0)
              return MQTT_RC_PROTOCOL_ERROR;
            *FIELD (props, info, uint16_t) = v;
          }
          break;

        case PT_U32:
          {
            uint32_t v;

            if (!mqtt_rd_u32 (&pr, &v))
              return MQTT_RC_MALFORMED_PACKET;
            if ((info->flags & PF_NONZERO) && v == 0)
              return MQTT_RC_PROTOCOL_ERROR;
            *FIELD (props, info, uint32_t) = v;
          }
          break;

        case PT_VARINT:
          {
            uint32_t v;

            /* A longer value than MQTT_MAX_SUBSCRIPTION_ID would need a
             * fifth varint byte, which is malformed. */
            if (!mqtt_rd_varint (&pr, &v))
              return MQTT_RC_MALFORMED_PACKET;
            if (v == 0)
              return MQTT_RC_PROTOCOL_ERROR;
            /* Decoding never allocates: more ids than the fixed storage is
             * a limit of this implementation, not a protocol violation. */
            if (props->n_subscription_ids >= MQTT_MAX_DECODED_SUB_IDS)
              return MQTT_RC_IMPLEMENTATION_SPECIFIC;
            props->subscription_ids_storage[props->n_subscription_ids++] = v;
          }
          break;

        case PT_STR:
          if (!mqtt_rd_str (&pr, FIELD (props, info, MqttBytes)))
            return MQTT_RC_MALFORMED_PACKET;
          break;

        case PT_BIN:
          if (!mqtt_rd_bin (&pr, FIELD (props, info, MqttBytes)))
            return MQTT_RC_MALFORMED_PACKET;
          break;

        case PT_PAIR:
          {
            MqttBytes k, v;

            if (!mqtt_rd_str (&pr, &k) || !mqtt_rd_str (&pr, &v))
              return MQTT_RC_MALFORMED_PACKET;
            if (user_start == NULL)
              user_start = start;
            user_end = pr.p;
          }
          break;

        default:
          g_assert_not_reached ();
        }

      props->present |= MQTT_PROP_BIT (id);
    }

  /* The user pairs are kept as the span from the first to the last one, so
   * they are forwarded without copying; other properties interleaved in the
   * span are skipped by mqtt_user_props_next() and by the encoder. */
  if (user_start != NULL)
    {
      props->user_properties.data = user_start;
      props->user_properties.len = (uint32_t) (user_end - user_start);
    }

  /* [MQTT-3.3.2-14]: a Response Topic is a topic name, so it is published
   * to as is; no reason code is named for it, mosquitto uses 0x82 too. */
  if (mqtt_props_has (props, MQTT_PROP_RESPONSE_TOPIC) &&
      !mqtt_topic_name_valid (props->response_topic))
    return MQTT_RC_PROTOCOL_ERROR;

  if (mqtt_props_has (props, MQTT_PROP_AUTHENTICATION_DATA) &&
      !mqtt_props_has (props, MQTT_PROP_AUTHENTICATION_METHOD))
    return MQTT_RC_PROTOCOL_ERROR;

  return MQTT_RC_SUCCESS;
}

bool
mqtt_props_skip_one (MqttReader *r, uint8_t *id)
{
  const PropInfo *info;
  MqttBytes b;
  uint32_t v;

  if (!mqtt_rd_u8 (r, id) || (info = prop_lookup (*id)) == NULL)
    return false;

  switch (info->type)
    {
    case PT_BYTE:
    case PT_U16:
    case PT_U32:
      {
        size_t n = info->type == PT_BYTE ? 1 : info->type == PT_U16 ? 2 : 4;

        if (mqtt_rd_left (r) < n)
          return false;
        r->p += n;
        return true;
      }
    case PT_VARINT:
      return mqtt_rd_varint (r, &v);
    case PT_STR:
    case PT_BIN:
      return mqtt_rd_bin (r, &b);
    case PT_PAIR:
      return mqtt_rd_bin (r, &b) && mqtt_rd_bin (r, &b);
    default:
      return false;
    }
}

bool
mqtt_user_props_next (MqttIter *it, MqttBytes *key, MqttBytes *value)
{
  MqttReader r = { it->p, it->end };

  while (r.p < r.end)
    {
      uint8_t id;

      if (*r.p == MQTT_PROP_USER_PROPERTY)
        {
          r.p++;
          if (!mqtt_rd_bin (&r, key) || !mqtt_rd_bin (&r, value))
            break;
          it->p = r.p;
          return true;
        }
      if (!mqtt_props_skip_one (&r, &id))
        break;
    }
  it->p = it->end;
  return false;
}

void
mqtt_user_props_append (StBuf *raw, MqttBytes key, MqttBytes value)
{
  st_buf_put_u8 (raw, MQTT_PROP_USER_PROPERTY);
  st_buf_put_str (raw, key.data, (uint16_t) key.len);
  st_buf_put_str (raw, value.data, (uint16_t) value.len);
}

static inline const uint32_t *
sub_ids (const MqttProperties *p)
{
  return p->subscription_ids ? p->subscription_ids : p->subscription_ids_storage;
}

/* Bits that are encoded from their own fields rather than from `present`. */
#define LIST_BITS (MQTT_PROP_BIT (MQTT_PROP_USER_PROPERTY) | \
                   MQTT_PROP_BIT (MQTT_PROP_SUBSCRIPTION_IDENTIFIER))

bool
mqtt_props_empty (const MqttProperties *props)
{
  return (props->present & ~LIST_BITS) == 0 &&
         props->user_properties.len == 0 &&
         props->n_subscription_ids == 0;
}

static size_t
user_props_size (const MqttProperties *props)
{
  MqttIter it;
  MqttBytes k, v;
  size_t n = 0;

  mqtt_iter_init (&it, props->user_properties);
  while (mqtt_user_props_next (&it, &k, &v))
    n += 5 + (size_t) k.len + v.len;
  return n;
}

static size_t
props_content_size (const MqttProperties *props)
{
  size_t n = 0;

  for (unsigned id = 1; id < G_N_ELEMENTS (prop_info); id++)
    {
      const PropInfo *info = &prop_info[id];

      if (info->type == PT_NONE)
        continue;
      if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER)
        {
          const uint32_t *ids = sub_ids (props);

          for (uint32_t i = 0; i < props->n_subscription_ids; i++)
            n += 1 + mqtt_varint_size (ids[i]);
          continue;
        }
      if (id == MQTT_PROP_USER_PROPERTY)
        {
          n += user_props_size (props);
          continue;
        }
      if (!(props->present & MQTT_PROP_BIT (id)))
        continue;
      switch (info->type)
        {
        case PT_BYTE: n += 2; break;
        case PT_U16:  n += 3; break;
        case PT_U32:  n += 5; break;
        case PT_STR:
        case PT_BIN:  n += 3 + (size_t) CFIELD (props, info, MqttBytes)->len; break;
        default: g_assert_not_reached ();
        }
    }
  return n;
}

size_t
mqtt_props_wire_size (const MqttProperties *props)
{
  size_t n = props_content_size (props);

  return mqtt_varint_size ((uint32_t) n) + n;
}

void
mqtt_props_put (StBuf *out, const MqttProperties *props)
{
  size_t n = props_content_size (props);

  st_buf_reserve (out, mqtt_varint_size ((uint32_t) n) + n);
  st_buf_put_varint (out, (uint32_t) n);

  for (unsigned id = 1; id < G_N_ELEMENTS (prop_info); id++)
    {
      const PropInfo *info = &prop_info[id];

      if (info->type == PT_NONE)
        continue;
      if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER)
        {
          const uint32_t *ids = sub_ids (props);

          for (uint32_t i = 0; i < props->n_subscription_ids; i++)
            {
              st_buf_put_u8 (out, (uint8_t) id);
              st_buf_put_varint (out, ids[i]);
            }
          continue;
        }
      if (id == MQTT_PROP_USER_PROPERTY)
        {
          MqttIter it;
          MqttBytes k, v;

          mqtt_iter_init (&it, props->user_properties);
          while (mqtt_user_props_next (&it, &k, &v))
            mqtt_user_props_append (out, k, v);
          continue;
        }
      if (!(props->present & MQTT_PROP_BIT (id)))
        continue;
      st_buf_put_u8 (out, (uint8_t) id);
      switch (info->type)
        {
        case PT_BYTE:
          st_buf_put_u8 (out, *CFIELD (props, info, uint8_t));
          break;
        case PT_U16:
          st_buf_put_u16 (out, *CFIELD (props, info, uint16_t));
          break;
        case PT_U32:
          st_buf_put_u32 (out, *CFIELD (props, info, uint32_t));
          break;
        case PT_STR:
        case PT_BIN:
          {
            const MqttBytes *b = CFIELD (props, info, MqttBytes);

            st_buf_put_str (out, b->data, (uint16_t) b->len);
          }
          break;
        default:
          g_assert_not_reached ();
        }
    }
}
