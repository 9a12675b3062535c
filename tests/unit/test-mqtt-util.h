/* test-mqtt-util.h — packet comparison and re-encoding shared by the codec
 * unit tests and the fuzz target (header-only so both can include it). */
#pragma once

#include <stdbool.h>
#include <string.h>

#include "mqtt/mqtt-packet.h"

static inline bool
mqtt_test_bytes_eq (MqttBytes a, MqttBytes b)
{
  return a.len == b.len && (a.len == 0 || memcmp (a.data, b.data, a.len) == 0);
}

/* User properties are compared as the sequence of pairs they hold, because a
 * decoded span may also contain other, interleaved properties. */
static inline bool
mqtt_test_user_props_eq (MqttBytes a, MqttBytes b)
{
  MqttIter ia, ib;
  MqttBytes ka, va, kb, vb;

  mqtt_iter_init (&ia, a);
  mqtt_iter_init (&ib, b);
  for (;;)
    {
      bool more_a = mqtt_user_props_next (&ia, &ka, &va);
      bool more_b = mqtt_user_props_next (&ib, &kb, &vb);

      if (more_a != more_b)
        return false;
      if (!more_a)
        return true;
      if (!mqtt_test_bytes_eq (ka, kb) || !mqtt_test_bytes_eq (va, vb))
        return false;
    }
}

static inline const uint32_t *
mqtt_test_sub_ids (const MqttProperties *p)
{
  return p->subscription_ids ? p->subscription_ids : p->subscription_ids_storage;
}

/* Compares what an encoder writes: the bits of `present` for user properties
 * and subscription ids are ignored (the lists themselves are compared). */
static inline bool
mqtt_test_props_eq (const MqttProperties *a, const MqttProperties *b)
{
  const uint64_t lists = MQTT_PROP_BIT (MQTT_PROP_USER_PROPERTY) |
                         MQTT_PROP_BIT (MQTT_PROP_SUBSCRIPTION_IDENTIFIER);
  uint64_t present = a->present & ~lists;

#define SAME_NUM(id, f) \
  if ((present & MQTT_PROP_BIT (id)) && a->f != b->f) return false
#define SAME_BYTES(id, f) \
  if ((present & MQTT_PROP_BIT (id)) && !mqtt_test_bytes_eq (a->f, b->f)) return false

  if (present != (b->present & ~lists))
    return false;
  SAME_NUM (MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, payload_format_indicator);
  SAME_NUM (MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, message_expiry_interval);
  SAME_BYTES (MQTT_PROP_CONTENT_TYPE, content_type);
  SAME_BYTES (MQTT_PROP_RESPONSE_TOPIC, response_topic);
  SAME_BYTES (MQTT_PROP_CORRELATION_DATA, correlation_data);
  SAME_NUM (MQTT_PROP_SESSION_EXPIRY_INTERVAL, session_expiry_interval);
  SAME_BYTES (MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER, assigned_client_identifier);
  SAME_NUM (MQTT_PROP_SERVER_KEEP_ALIVE, server_keep_alive);
  SAME_BYTES (MQTT_PROP_AUTHENTICATION_METHOD, authentication_method);
  SAME_BYTES (MQTT_PROP_AUTHENTICATION_DATA, authentication_data);
  SAME_NUM (MQTT_PROP_REQUEST_PROBLEM_INFORMATION, request_problem_information);
  SAME_NUM (MQTT_PROP_WILL_DELAY_INTERVAL, will_delay_interval);
  SAME_NUM (MQTT_PROP_REQUEST_RESPONSE_INFORMATION, request_response_information);
  SAME_BYTES (MQTT_PROP_RESPONSE_INFORMATION, response_information);
  SAME_BYTES (MQTT_PROP_SERVER_REFERENCE, server_reference);
  SAME_BYTES (MQTT_PROP_REASON_STRING, reason_string);
  SAME_NUM (MQTT_PROP_RECEIVE_MAXIMUM, receive_maximum);
  SAME_NUM (MQTT_PROP_TOPIC_ALIAS_MAXIMUM, topic_alias_maximum);
  SAME_NUM (MQTT_PROP_TOPIC_ALIAS, topic_alias);
  SAME_NUM (MQTT_PROP_MAXIMUM_QOS, maximum_qos);
  SAME_NUM (MQTT_PROP_RETAIN_AVAILABLE, retain_available);
  SAME_NUM (MQTT_PROP_MAXIMUM_PACKET_SIZE, maximum_packet_size);
  SAME_NUM (MQTT_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE, wildcard_subscription_available);
  SAME_NUM (MQTT_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE, subscription_identifier_available);
  SAME_NUM (MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE, shared_subscription_available);
#undef SAME_NUM
#undef SAME_BYTES

  if (a->n_subscription_ids != b->n_subscription_ids ||
      (a->n_subscription_ids > 0 &&
       memcmp (mqtt_test_sub_ids (a), mqtt_test_sub_ids (b),
               a->n_subscription_ids * sizeof (uint32_t)) != 0))
    return false;
  return mqtt_test_user_props_eq (a->user_properties, b->user_properties);
}

/* Whether two packets carry the same information for protocol version v
 * (fields that v cannot carry are not compared). */
static inline bool
mqtt_test_packet_eq (MqttVersion v, const MqttPacket *a, const MqttPacket *b)
{
  bool v5 = v == MQTT_V5;

  if (a->type != b->type)
    return false;

  switch (a->type)
    {
    case MQTT_CONNECT:
      {
        const MqttConnect *x = &a->connect, *y = &b->connect;

        if (x->version != y->version || x->clean_start != y->clean_start ||
            x->keep_alive != y->keep_alive ||
            !mqtt_test_bytes_eq (x->client_id, y->client_id) ||
            x->will_flag != y->will_flag ||
            x->has_username != y->has_username || x->has_password != y->has_password)
          return false;
        if (x->version == MQTT_V5 && !mqtt_test_props_eq (&x->props, &y->props))
          return false;
        if (x->will_flag &&
            (x->will_qos != y->will_qos || x->will_retain != y->will_retain ||
             !mqtt_test_bytes_eq (x->will_topic, y->will_topic) ||
             !mqtt_test_bytes_eq (x->will_payload, y->will_payload) ||
             (x->version == MQTT_V5 && !mqtt_test_props_eq (&x->will_props, &y->will_props))))
          return false;
        if (x->has_username && !mqtt_test_bytes_eq (x->username, y->username))
          return false;
        if (x->has_password && !mqtt_test_bytes_eq (x->password, y->password))
          return false;
        return true;
      }
    case MQTT_CONNACK:
      return a->connack.session_present == b->connack.session_present &&
             a->connack.reason_code == b->connack.reason_code &&
             (!v5 || mqtt_test_props_eq (&a->connack.props, &b->connack.props));
    case MQTT_PUBLISH:
      {
        const MqttPublish *x = &a->publish, *y = &b->publish;

        return x->dup == y->dup && x->qos == y->qos && x->retain == y->retain &&
               mqtt_test_bytes_eq (x->topic, y->topic) &&
               (x->qos == 0 || x->packet_id == y->packet_id) &&
               (!v5 || mqtt_test_props_eq (&x->props, &y->props)) &&
               mqtt_test_bytes_eq (x->payload, y->payload);
      }
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
      return a->ack.type == b->ack.type && a->ack.packet_id == b->ack.packet_id &&
             (!v5 || (a->ack.reason_code == b->ack.reason_code &&
                      mqtt_test_props_eq (&a->ack.props, &b->ack.props)));
    case MQTT_SUBSCRIBE:
      return a->subscribe.packet_id == b->subscribe.packet_id &&
             (!v5 || mqtt_test_props_eq (&a->subscribe.props, &b->subscribe.props)) &&
             mqtt_test_bytes_eq (a->subscribe.entries, b->subscribe.entries);
    case MQTT_SUBACK:
      return a->suback.packet_id == b->suback.packet_id &&
             (!v5 || mqtt_test_props_eq (&a->suback.props, &b->suback.props)) &&
             mqtt_test_bytes_eq (a->suback.reason_codes, b->suback.reason_codes);
    case MQTT_UNSUBSCRIBE:
      return a->unsubscribe.packet_id == b->unsubscribe.packet_id &&
             (!v5 || mqtt_test_props_eq (&a->unsubscribe.props, &b->unsubscribe.props)) &&
             mqtt_test_bytes_eq (a->unsubscribe.filters, b->unsubscribe.filters);
    case MQTT_UNSUBACK:
      return a->unsuback.packet_id == b->unsuback.packet_id &&
             (!v5 || (mqtt_test_props_eq (&a->unsuback.props, &b->unsuback.props) &&
                      mqtt_test_bytes_eq (a->unsuback.reason_codes, b->unsuback.reason_codes)));
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
      return true;
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
      return !v5 || (a->disconnect.reason_code == b->disconnect.reason_code &&
                     mqtt_test_props_eq (&a->disconnect.props, &b->disconnect.props));
    default:
      return false;
    }
}

/* Encodes any decoded packet with the matching encoder. */
static inline void
mqtt_test_encode (StBuf *out, MqttVersion v, const MqttPacket *p)
{
  switch (p->type)
    {
    case MQTT_CONNECT:     mqtt_encode_connect (out, &p->connect); break;
    case MQTT_CONNACK:     mqtt_encode_connack (out, v, &p->connack); break;
    case MQTT_PUBLISH:     mqtt_encode_publish (out, v, &p->publish); break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:     mqtt_encode_ack (out, v, &p->ack); break;
    case MQTT_SUBSCRIBE:   mqtt_encode_subscribe (out, v, &p->subscribe); break;
    case MQTT_SUBACK:      mqtt_encode_suback (out, v, &p->suback); break;
    case MQTT_UNSUBSCRIBE: mqtt_encode_unsubscribe (out, v, &p->unsubscribe); break;
    case MQTT_UNSUBACK:    mqtt_encode_unsuback (out, v, &p->unsuback); break;
    case MQTT_PINGREQ:     mqtt_encode_pingreq (out); break;
    case MQTT_PINGRESP:    mqtt_encode_pingresp (out); break;
    case MQTT_DISCONNECT:  mqtt_encode_disconnect (out, v, &p->disconnect); break;
    case MQTT_AUTH:        mqtt_encode_auth (out, &p->auth); break;
    default: break;
    }
}
