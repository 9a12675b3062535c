/* mqtt-packet.h — MQTT 3.1.1 and 5.0 packets as plain C structs.
 *
 * The codec is pure: decoding reads a byte buffer and fills a struct whose
 * strings and binary fields point *into that buffer* (no copies, no
 * allocation); encoding appends bytes to an StBuf. Lists of variable length
 * (user properties, SUBSCRIBE entries, UNSUBSCRIBE filters, SUBACK reason
 * codes) are kept as the raw, already validated bytes and walked with the
 * iterators below, so decoding never allocates.
 *
 * Every decode function validates strictly and, on failure, returns the
 * reason code the MQTT 5 specification names (MQTT_RC_MALFORMED_PACKET,
 * MQTT_RC_PROTOCOL_ERROR, ...), which the caller sends (v5) before closing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/st-buf.h"

typedef enum {
  MQTT_V31  = 3,
  MQTT_V311 = 4,
  MQTT_V5   = 5,
} MqttVersion;

typedef enum {
  MQTT_CONNECT     = 1,
  MQTT_CONNACK     = 2,
  MQTT_PUBLISH     = 3,
  MQTT_PUBACK      = 4,
  MQTT_PUBREC      = 5,
  MQTT_PUBREL      = 6,
  MQTT_PUBCOMP     = 7,
  MQTT_SUBSCRIBE   = 8,
  MQTT_SUBACK      = 9,
  MQTT_UNSUBSCRIBE = 10,
  MQTT_UNSUBACK    = 11,
  MQTT_PINGREQ     = 12,
  MQTT_PINGRESP    = 13,
  MQTT_DISCONNECT  = 14,
  MQTT_AUTH        = 15,
} MqttPacketType;

/* MQTT 5 reason codes (section 2.4). */
typedef enum {
  MQTT_RC_SUCCESS                       = 0x00, /* also Normal disconnection, Granted QoS 0 */
  MQTT_RC_GRANTED_QOS_1                 = 0x01,
  MQTT_RC_GRANTED_QOS_2                 = 0x02,
  MQTT_RC_DISCONNECT_WITH_WILL          = 0x04,
  MQTT_RC_NO_MATCHING_SUBSCRIBERS       = 0x10,
  MQTT_RC_NO_SUBSCRIPTION_EXISTED       = 0x11,
  MQTT_RC_CONTINUE_AUTHENTICATION       = 0x18,
  MQTT_RC_REAUTHENTICATE                = 0x19,
  MQTT_RC_UNSPECIFIED_ERROR             = 0x80,
  MQTT_RC_MALFORMED_PACKET              = 0x81,
  MQTT_RC_PROTOCOL_ERROR                = 0x82,
  MQTT_RC_IMPLEMENTATION_SPECIFIC       = 0x83,
  MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION  = 0x84,
  MQTT_RC_CLIENT_ID_NOT_VALID           = 0x85,
  MQTT_RC_BAD_USERNAME_OR_PASSWORD      = 0x86,
  MQTT_RC_NOT_AUTHORIZED                = 0x87,
  MQTT_RC_SERVER_UNAVAILABLE            = 0x88,
  MQTT_RC_SERVER_BUSY                   = 0x89,
  MQTT_RC_BANNED                        = 0x8A,
  MQTT_RC_SERVER_SHUTTING_DOWN          = 0x8B,
  MQTT_RC_BAD_AUTHENTICATION_METHOD     = 0x8C,
  MQTT_RC_KEEP_ALIVE_TIMEOUT            = 0x8D,
  MQTT_RC_SESSION_TAKEN_OVER            = 0x8E,
  MQTT_RC_TOPIC_FILTER_INVALID          = 0x8F,
  MQTT_RC_TOPIC_NAME_INVALID            = 0x90,
  MQTT_RC_PACKET_ID_IN_USE              = 0x91,
  MQTT_RC_PACKET_ID_NOT_FOUND           = 0x92,
  MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED      = 0x93,
  MQTT_RC_TOPIC_ALIAS_INVALID           = 0x94,
  MQTT_RC_PACKET_TOO_LARGE              = 0x95,
  MQTT_RC_MESSAGE_RATE_TOO_HIGH         = 0x96,
  MQTT_RC_QUOTA_EXCEEDED                = 0x97,
  MQTT_RC_ADMINISTRATIVE_ACTION         = 0x98,
  MQTT_RC_PAYLOAD_FORMAT_INVALID        = 0x99,
  MQTT_RC_RETAIN_NOT_SUPPORTED          = 0x9A,
  MQTT_RC_QOS_NOT_SUPPORTED             = 0x9B,
  MQTT_RC_USE_ANOTHER_SERVER            = 0x9C,
  MQTT_RC_SERVER_MOVED                  = 0x9D,
  MQTT_RC_SHARED_SUBS_NOT_SUPPORTED     = 0x9E,
  MQTT_RC_CONNECTION_RATE_EXCEEDED      = 0x9F,
  MQTT_RC_MAXIMUM_CONNECT_TIME          = 0xA0,
  MQTT_RC_SUB_IDS_NOT_SUPPORTED         = 0xA1,
  MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED   = 0xA2,
} MqttReasonCode;

/* MQTT 3.1.1 CONNACK return codes. */
typedef enum {
  MQTT3_CONNACK_ACCEPTED                 = 0x00,
  MQTT3_CONNACK_UNACCEPTABLE_PROTOCOL    = 0x01,
  MQTT3_CONNACK_IDENTIFIER_REJECTED      = 0x02,
  MQTT3_CONNACK_SERVER_UNAVAILABLE       = 0x03,
  MQTT3_CONNACK_BAD_USERNAME_OR_PASSWORD = 0x04,
  MQTT3_CONNACK_NOT_AUTHORIZED           = 0x05,
} Mqtt3ConnackCode;

/* Property identifiers (section 2.2.2.2). */
typedef enum {
  MQTT_PROP_PAYLOAD_FORMAT_INDICATOR          = 0x01,
  MQTT_PROP_MESSAGE_EXPIRY_INTERVAL           = 0x02,
  MQTT_PROP_CONTENT_TYPE                      = 0x03,
  MQTT_PROP_RESPONSE_TOPIC                    = 0x08,
  MQTT_PROP_CORRELATION_DATA                  = 0x09,
  MQTT_PROP_SUBSCRIPTION_IDENTIFIER           = 0x0B,
  MQTT_PROP_SESSION_EXPIRY_INTERVAL           = 0x11,
  MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER        = 0x12,
  MQTT_PROP_SERVER_KEEP_ALIVE                 = 0x13,
  MQTT_PROP_AUTHENTICATION_METHOD             = 0x15,
  MQTT_PROP_AUTHENTICATION_DATA               = 0x16,
  MQTT_PROP_REQUEST_PROBLEM_INFORMATION       = 0x17,
  MQTT_PROP_WILL_DELAY_INTERVAL               = 0x18,
  MQTT_PROP_REQUEST_RESPONSE_INFORMATION      = 0x19,
  MQTT_PROP_RESPONSE_INFORMATION              = 0x1A,
  MQTT_PROP_SERVER_REFERENCE                  = 0x1C,
  MQTT_PROP_REASON_STRING                     = 0x1F,
  MQTT_PROP_RECEIVE_MAXIMUM                   = 0x21,
  MQTT_PROP_TOPIC_ALIAS_MAXIMUM               = 0x22,
  MQTT_PROP_TOPIC_ALIAS                       = 0x23,
  MQTT_PROP_MAXIMUM_QOS                       = 0x24,
  MQTT_PROP_RETAIN_AVAILABLE                  = 0x25,
  MQTT_PROP_USER_PROPERTY                     = 0x26,
  MQTT_PROP_MAXIMUM_PACKET_SIZE               = 0x27,
  MQTT_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE   = 0x28,
  MQTT_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29,
  MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE     = 0x2A,
} MqttPropertyId;

#define MQTT_PROP_BIT(id) (UINT64_C (1) << (id))
#define MQTT_MAX_REMAINING_LENGTH 268435455u
#define MQTT_MAX_SUBSCRIPTION_ID  268435455u
/* A PUBLISH decoded on the client side may carry several subscription ids;
 * more than this many is refused with MQTT_RC_IMPLEMENTATION_SPECIFIC. */
#define MQTT_MAX_DECODED_SUB_IDS  32

/* A borrowed byte range. For strings it is UTF-8, validated, not NUL-terminated. */
typedef struct {
  const uint8_t *data;
  uint32_t       len;
} MqttBytes;

#define MQTT_BYTES_STR(s) ((MqttBytes) { (const uint8_t *) (s), (uint32_t) strlen (s) })

/* All MQTT 5 properties. A field is meaningful only when its bit is set in
 * `present` (MQTT_PROP_BIT (id)). Decoding a packet zeroes the struct first.
 *
 * user_properties holds the raw encoded pairs exactly as on the wire, so they
 * are forwarded untouched: each pair is the User Property identifier 0x26
 * followed by two MQTT strings. After decoding it spans from the first to the
 * last User Property of the packet and may contain other properties that were
 * interleaved between them; mqtt_user_props_next() and the encoders skip
 * those, so a decoded user_properties can be passed straight to an encoder.
 * When encoding, set user_properties to such raw bytes (build them with
 * mqtt_user_props_append()). User properties and subscription identifiers
 * are encoded from user_properties / n_subscription_ids; their bits in
 * `present` are set by decoding but ignored by encoding. */
typedef struct {
  uint64_t  present;

  uint8_t   payload_format_indicator;
  uint32_t  message_expiry_interval;
  MqttBytes content_type;
  MqttBytes response_topic;
  MqttBytes correlation_data;

  /* Decoding: every subscription identifier found (SUBSCRIBE has at most
   * one; a server-to-client PUBLISH may have several), stored in
   * subscription_ids_storage with subscription_ids pointing at it (re-point
   * it after copying the struct). Encoding: set subscription_ids to an array
   * of n_subscription_ids values (NULL means subscription_ids_storage). */
  uint32_t        n_subscription_ids;
  const uint32_t *subscription_ids;
  uint32_t        subscription_ids_storage[MQTT_MAX_DECODED_SUB_IDS];

  uint32_t  session_expiry_interval;
  MqttBytes assigned_client_identifier;
  uint16_t  server_keep_alive;
  MqttBytes authentication_method;
  MqttBytes authentication_data;
  uint8_t   request_problem_information;
  uint32_t  will_delay_interval;
  uint8_t   request_response_information;
  MqttBytes response_information;
  MqttBytes server_reference;
  MqttBytes reason_string;
  uint16_t  receive_maximum;
  uint16_t  topic_alias_maximum;
  uint16_t  topic_alias;
  uint8_t   maximum_qos;
  uint8_t   retain_available;
  MqttBytes user_properties;       /* raw pairs, see above */
  uint32_t  maximum_packet_size;
  uint8_t   wildcard_subscription_available;
  uint8_t   subscription_identifier_available;
  uint8_t   shared_subscription_available;
} MqttProperties;

static inline bool
mqtt_props_has (const MqttProperties *p, MqttPropertyId id)
{
  return (p->present & MQTT_PROP_BIT (id)) != 0;
}

typedef struct {
  MqttVersion    version;          /* from the protocol level byte */
  MqttBytes      protocol_name;    /* "MQTT" or "MQIsdp" */
  bool           clean_start;      /* Clean Session in 3.1.1 */
  uint16_t       keep_alive;
  MqttProperties props;
  MqttBytes      client_id;
  bool           will_flag;
  uint8_t        will_qos;
  bool           will_retain;
  MqttProperties will_props;
  MqttBytes      will_topic;
  MqttBytes      will_payload;
  bool           has_username;
  MqttBytes      username;
  bool           has_password;
  MqttBytes      password;
} MqttConnect;

typedef struct {
  bool           session_present;
  uint8_t        reason_code;      /* v5 reason code, or 3.1.1 return code */
  MqttProperties props;
} MqttConnack;

typedef struct {
  bool           dup;
  uint8_t        qos;
  bool           retain;
  MqttBytes      topic;            /* may be empty in v5 when a topic alias is used */
  uint16_t       packet_id;        /* 0 for QoS 0 */
  MqttProperties props;
  MqttBytes      payload;
} MqttPublish;

/* PUBACK, PUBREC, PUBREL, PUBCOMP. In v5 the reason code and properties are
 * optional on the wire; decoding fills reason_code 0 when absent, and
 * encoding omits them when reason_code is 0 and there are no properties. */
typedef struct {
  MqttPacketType type;
  uint16_t       packet_id;
  uint8_t        reason_code;
  MqttProperties props;
} MqttAck;

/* Subscription options byte (v5 section 3.8.3.1). */
typedef struct {
  uint8_t qos;                     /* 0..2 */
  bool    no_local;
  bool    retain_as_published;
  uint8_t retain_handling;         /* 0..2 */
} MqttSubOptions;

typedef struct {
  uint16_t       packet_id;
  MqttProperties props;
  MqttBytes      entries;          /* raw (filter, options) pairs; walk with mqtt_subscribe_next() */
  uint32_t       n_entries;
} MqttSubscribe;

typedef struct {
  uint16_t       packet_id;
  MqttProperties props;
  MqttBytes      reason_codes;     /* one byte per filter (3.1.1: 0,1,2,0x80) */
} MqttSuback;

typedef struct {
  uint16_t       packet_id;
  MqttProperties props;
  MqttBytes      filters;          /* raw filters; walk with mqtt_unsubscribe_next() */
  uint32_t       n_filters;
} MqttUnsubscribe;

typedef struct {
  uint16_t       packet_id;
  MqttProperties props;
  MqttBytes      reason_codes;     /* v5 only; empty in 3.1.1 */
} MqttUnsuback;

/* DISCONNECT and AUTH. Reason code 0 and no properties may be omitted on the wire. */
typedef struct {
  uint8_t        reason_code;
  MqttProperties props;
} MqttDisconnect;

typedef MqttDisconnect MqttAuth;

typedef struct {
  MqttPacketType type;
  uint8_t        flags;            /* low nibble of the fixed header */
  union {
    MqttConnect     connect;
    MqttConnack     connack;
    MqttPublish     publish;
    MqttAck         ack;           /* PUBACK, PUBREC, PUBREL, PUBCOMP */
    MqttSubscribe   subscribe;
    MqttSuback      suback;
    MqttUnsubscribe unsubscribe;
    MqttUnsuback    unsuback;
    MqttDisconnect  disconnect;
    MqttAuth        auth;
  };
} MqttPacket;

/* ---- Framing ---------------------------------------------------------- */

typedef enum {
  MQTT_FRAME_OK,         /* a whole packet is available */
  MQTT_FRAME_INCOMPLETE, /* need more bytes */
  MQTT_FRAME_MALFORMED,  /* remaining length varint longer than 4 bytes */
} MqttFrameResult;

/* Looks at the start of buf: on MQTT_FRAME_OK sets *header_len (fixed header
 * size) and *remaining_len, so the packet spans header_len + remaining_len
 * bytes. Does not check the packet type. On MQTT_FRAME_INCOMPLETE they are
 * also set once the fixed header is complete (0 before), so an oversized
 * packet can be refused early. A non-minimal remaining length varint is
 * MQTT_FRAME_MALFORMED too. */
MqttFrameResult mqtt_frame (const uint8_t *buf,
                            size_t         len,
                            size_t        *header_len,
                            uint32_t      *remaining_len);

/* ---- Decoding --------------------------------------------------------- */

/* Decodes one whole packet (fixed header included: buf spans exactly
 * header_len + remaining_len bytes as found by mqtt_frame()).
 *
 * version: the protocol version of the connection, used for every packet but
 * CONNECT (whose version comes from the packet itself; pass 0 before CONNECT).
 * from_client: true on the server side (validates the client-to-server rules:
 * e.g. no Subscription Identifier in PUBLISH, topic names without wildcards),
 * false when decoding what a server sent.
 *
 * Returns MQTT_RC_SUCCESS and fills *pkt, or the reason code to disconnect
 * with (MQTT_RC_MALFORMED_PACKET, MQTT_RC_PROTOCOL_ERROR,
 * MQTT_RC_TOPIC_NAME_INVALID, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION, ...).
 * *pkt points into buf. pkt->type is set once the packet frames correctly;
 * for CONNECT, connect.version and connect.protocol_name are set even when
 * the result is MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION (version then holds the
 * raw protocol level), so the caller can choose the CONNACK format.
 * A packet other than CONNECT with version 0 gives MQTT_RC_PROTOCOL_ERROR. */
MqttReasonCode mqtt_decode (const uint8_t *buf,
                            size_t         len,
                            MqttVersion    version,
                            bool           from_client,
                            MqttPacket    *pkt);

/* ---- Iterators over validated lists (never fail on decoded input) ------ */

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} MqttIter;

static inline void
mqtt_iter_init (MqttIter *it, MqttBytes b)
{
  it->p = b.data;
  /* An empty list may have data == NULL, and NULL + 0 is undefined in C. */
  it->end = b.len ? b.data + b.len : b.data;
}

bool mqtt_user_props_next  (MqttIter *it, MqttBytes *key, MqttBytes *value);
bool mqtt_subscribe_next   (MqttIter *it, MqttVersion version, MqttBytes *filter, MqttSubOptions *opts);
bool mqtt_unsubscribe_next (MqttIter *it, MqttBytes *filter);

/* ---- Encoding --------------------------------------------------------- */

/* Each appends one whole packet to out, for the given protocol version
 * (properties are written only for MQTT_V5). They do not validate beyond
 * what is needed to produce a well-formed packet. */
void mqtt_encode_connect     (StBuf *out, const MqttConnect *p);
void mqtt_encode_connack     (StBuf *out, MqttVersion v, const MqttConnack *p);
void mqtt_encode_publish     (StBuf *out, MqttVersion v, const MqttPublish *p);
void mqtt_encode_ack         (StBuf *out, MqttVersion v, const MqttAck *p);
void mqtt_encode_subscribe   (StBuf *out, MqttVersion v, const MqttSubscribe *p);
void mqtt_encode_suback      (StBuf *out, MqttVersion v, const MqttSuback *p);
void mqtt_encode_unsubscribe (StBuf *out, MqttVersion v, const MqttUnsubscribe *p);
void mqtt_encode_unsuback    (StBuf *out, MqttVersion v, const MqttUnsuback *p);
void mqtt_encode_pingreq     (StBuf *out);
void mqtt_encode_pingresp    (StBuf *out);
void mqtt_encode_disconnect  (StBuf *out, MqttVersion v, const MqttDisconnect *p);
void mqtt_encode_auth        (StBuf *out, const MqttAuth *p);

/* The PUBLISH fixed header, variable header and properties, everything but
 * the payload: the caller appends p->payload.len payload bytes after it
 * (e.g. as a reference to a shared payload, so it is not copied per
 * subscriber). Returns the total packet size including the payload. */
size_t mqtt_encode_publish_head (StBuf *out, MqttVersion v, const MqttPublish *p);

/* Size of the whole encoded packet, to check a peer's Maximum Packet Size
 * before encoding. */
size_t mqtt_publish_size (MqttVersion v, const MqttPublish *p);

/* Helpers for building lists to encode. */
void mqtt_user_props_append (StBuf *raw, MqttBytes key, MqttBytes value);
void mqtt_subscribe_append  (StBuf *raw, MqttVersion v, MqttBytes filter, const MqttSubOptions *opts);
void mqtt_unsubscribe_append (StBuf *raw, MqttBytes filter);

/* ---- Validation shared with the engine -------------------------------- */

/* Well-formed UTF-8 string per MQTT 1.5.4: no U+0000, no surrogates
 * (U+D800..U+DFFF), no overlong forms, nothing above U+10FFFF. */
bool mqtt_utf8_valid (const uint8_t *s, size_t len);

/* Topic name: non-empty, valid UTF-8, no '+' or '#'. */
bool mqtt_topic_name_valid (MqttBytes topic);

/* Topic filter: non-empty, '#' only last and alone in its level, '+' alone
 * in its level; "$share/group/filter" accepted when allow_shared (group
 * non-empty, without '+', '#' or '/', filter itself valid). */
bool mqtt_topic_filter_valid (MqttBytes filter, bool allow_shared);

/* Topic matching per section 4.7: '+' one level, '#' this level and all
 * below (including the parent), and a filter starting with a wildcard never
 * matches a topic starting with '$'. filter must not be a $share filter. */
bool mqtt_topic_matches (MqttBytes filter, MqttBytes topic);

const char *mqtt_packet_type_name (MqttPacketType type);
const char *mqtt_reason_code_name (uint8_t rc);
