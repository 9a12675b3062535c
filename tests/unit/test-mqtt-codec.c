/* test-mqtt-codec.c — the MQTT codec: framing, round trips of every packet
 * and property, and every strictness rule against hand-written bytes. */
#define G_LOG_DOMAIN "starling-test"

#include <glib.h>

#include "mqtt/mqtt-packet.h"
#include "test-mqtt-util.h"

#define M  MQTT_RC_MALFORMED_PACKET
#define P  MQTT_RC_PROTOCOL_ERROR
#define T  MQTT_RC_TOPIC_NAME_INVALID
#define U  MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION
#define OK MQTT_RC_SUCCESS

/* The input of the last decode, in a heap block of exactly its size so that
 * AddressSanitizer catches any read past the end. Kept alive because the
 * decoded packet points into it. */
static uint8_t *last_buf;
static MqttPacket last_pkt;

static MqttReasonCode
decode_raw (const uint8_t *bytes, size_t n, MqttVersion v, bool from_client)
{
  g_free (last_buf);
  last_buf = g_malloc (n ? n : 1);
  if (n)
    memcpy (last_buf, bytes, n);
  return mqtt_decode (last_buf, n, v, from_client, &last_pkt);
}

/* Prepends a fixed header to a hand-written body. The remaining length is
 * written here, independently of the codec. */
static MqttReasonCode
decode_body (uint8_t first, const uint8_t *body, size_t n, MqttVersion v, bool from_client)
{
  uint8_t *buf = g_malloc (n + 5);
  size_t hl = 0, x = n;
  MqttReasonCode rc;

  buf[hl++] = first;
  do
    {
      uint8_t b = x % 128;

      x /= 128;
      buf[hl++] = b | (x ? 0x80 : 0);
    }
  while (x);
  if (n)
    memcpy (buf + hl, body, n);
  rc = decode_raw (buf, hl + n, v, from_client);
  g_free (buf);
  return rc;
}

#define B(...) (const uint8_t[]) { __VA_ARGS__ }, sizeof ((const uint8_t[]) { __VA_ARGS__ })
#define NOBODY NULL, 0
#define RAW(v, fc, ...) decode_raw (B (__VA_ARGS__), (v), (fc))
#define BODY(first, v, fc, ...) decode_body ((first), B (__VA_ARGS__), (v), (fc))

#define NAME_MQTT   0, 4, 'M', 'Q', 'T', 'T'
#define NAME_MQISDP 0, 6, 'M', 'Q', 'I', 's', 'd', 'p'

/* ---- Framing ------------------------------------------------------------ */

static void
test_frame (void)
{
  size_t hl;
  uint32_t rl;

  g_assert_cmpint (mqtt_frame (NULL, 0, &hl, &rl), ==, MQTT_FRAME_INCOMPLETE);
  g_assert_cmpint (mqtt_frame (B (0x30), &hl, &rl), ==, MQTT_FRAME_INCOMPLETE);
  g_assert_cmpuint (hl, ==, 0);
  g_assert_cmpint (mqtt_frame (B (0x30, 0x80), &hl, &rl), ==, MQTT_FRAME_INCOMPLETE);
  g_assert_cmpint (mqtt_frame (B (0x30, 0x80, 0x80, 0x80), &hl, &rl), ==, MQTT_FRAME_INCOMPLETE);

  g_assert_cmpint (mqtt_frame (B (0xc0, 0x00), &hl, &rl), ==, MQTT_FRAME_OK);
  g_assert_cmpuint (hl, ==, 2);
  g_assert_cmpuint (rl, ==, 0);

  /* Extra bytes after the packet belong to the next one. */
  g_assert_cmpint (mqtt_frame (B (0x30, 0x02, 0x00, 0x00, 0xc0, 0x00), &hl, &rl), ==, MQTT_FRAME_OK);
  g_assert_cmpuint (hl, ==, 2);
  g_assert_cmpuint (rl, ==, 2);

  /* The lengths are known before the body has arrived. */
  g_assert_cmpint (mqtt_frame (B (0x30, 0x05, 0x00, 0x01), &hl, &rl), ==, MQTT_FRAME_INCOMPLETE);
  g_assert_cmpuint (hl, ==, 2);
  g_assert_cmpuint (rl, ==, 5);

  g_assert_cmpint (mqtt_frame (B (0x30, 0xc1, 0x02), &hl, &rl), ==, MQTT_FRAME_INCOMPLETE);
  g_assert_cmpuint (hl, ==, 3);
  g_assert_cmpuint (rl, ==, 321);

  /* The largest remaining length, in four bytes. */
  g_assert_cmpint (mqtt_frame (B (0x30, 0xff, 0xff, 0xff, 0x7f), &hl, &rl), ==, MQTT_FRAME_INCOMPLETE);
  g_assert_cmpuint (hl, ==, 5);
  g_assert_cmpuint (rl, ==, MQTT_MAX_REMAINING_LENGTH);
}

static void
test_frame_malformed (void)
{
  size_t hl;
  uint32_t rl;

  /* A fifth length byte, whether or not it has arrived yet. */
  g_assert_cmpint (mqtt_frame (B (0x30, 0xff, 0xff, 0xff, 0xff, 0x01), &hl, &rl), ==, MQTT_FRAME_MALFORMED);
  g_assert_cmpint (mqtt_frame (B (0x30, 0x80, 0x80, 0x80, 0x80), &hl, &rl), ==, MQTT_FRAME_MALFORMED);
  /* Non-minimal encodings of 0 and 1. */
  g_assert_cmpint (mqtt_frame (B (0xc0, 0x80, 0x00), &hl, &rl), ==, MQTT_FRAME_MALFORMED);
  g_assert_cmpint (mqtt_frame (B (0xc0, 0x81, 0x80, 0x00), &hl, &rl), ==, MQTT_FRAME_MALFORMED);

  /* mqtt_decode() checks the frame again. */
  g_assert_cmphex (RAW (MQTT_V5, true, 0xc0, 0x80, 0x00), ==, M);
  g_assert_cmphex (RAW (MQTT_V5, true, 0xc0, 0x01), ==, M);         /* shorter than announced */
  g_assert_cmphex (RAW (MQTT_V5, true, 0xc0, 0x00, 0x00), ==, M);   /* longer than announced */
  g_assert_cmphex (RAW (MQTT_V5, true, 0xc0), ==, M);
  g_assert_cmphex (decode_raw (NULL, 0, MQTT_V5, true), ==, M);
}

/* ---- Hand-written packets and the exact code they must give ------------- */

typedef struct {
  const char    *name;
  MqttVersion    version;
  bool           from_client;
  uint8_t        expected;
  uint8_t        first;
  const uint8_t *body;
  size_t         len;
} DecodeCase;

static const DecodeCase decode_cases[] = {
  /* Fixed header */
  { "type-0", MQTT_V311, true, M, 0x00, NOBODY },
  { "pubrel-flags-0", MQTT_V5, true, M, 0x60, B (0, 1) },
  { "pubrel-flags-0-v311", MQTT_V311, true, M, 0x60, B (0, 1) },
  { "subscribe-flags-0", MQTT_V311, true, M, 0x80, B (0, 1, 0, 1, 'a', 0) },
  { "unsubscribe-flags-0", MQTT_V311, true, M, 0xa0, B (0, 1, 0, 1, 'a') },
  { "unsubscribe-flags-3", MQTT_V5, true, M, 0xa3, B (0, 1, 0, 0, 1, 'a') },
  { "connack-flags", MQTT_V311, false, M, 0x21, B (0, 0) },
  { "puback-flags", MQTT_V311, true, M, 0x42, B (0, 1) },
  { "pingreq-flags", MQTT_V311, true, M, 0xc2, NOBODY },
  { "disconnect-flags", MQTT_V5, true, M, 0xe1, NOBODY },
  { "connect-flags", MQTT_V311, true, M, 0x11, B (NAME_MQTT, 4, 0x02, 0, 60, 0, 0) },
  { "qos3", MQTT_V311, true, M, 0x36, B (0, 1, 'a', 0, 1) },
  { "qos3-v5", MQTT_V5, true, M, 0x36, B (0, 1, 'a', 0, 1, 0) },
  { "qos0-dup", MQTT_V311, true, M, 0x38, B (0, 1, 'a') },
  { "auth-v311", MQTT_V311, true, M, 0xf0, NOBODY },
  { "auth-v31", MQTT_V31, true, M, 0xf0, NOBODY },
  { "pingreq-length", MQTT_V311, true, M, 0xc0, B (0) },
  { "pingresp-length", MQTT_V5, false, M, 0xd0, B (0) },
  { "pingreq-ok", MQTT_V5, true, OK, 0xc0, NOBODY },
  { "disconnect-v311-length", MQTT_V311, true, M, 0xe0, B (0) },
  { "disconnect-v311-ok", MQTT_V311, true, OK, 0xe0, NOBODY },
  { "before-connect", 0, true, P, 0xc0, NOBODY },

  /* CONNECT */
  { "connect-v311", 0, true, OK, 0x10, B (NAME_MQTT, 4, 0x02, 0, 60, 0, 0) },
  { "connect-v31", 0, true, OK, 0x10, B (NAME_MQISDP, 3, 0x02, 0, 60, 0, 1, 'c') },
  { "connect-v5", 0, true, OK, 0x10, B (NAME_MQTT, 5, 0x02, 0, 60, 0, 0, 0) },
  { "connect-mqtt-level-3", 0, true, U, 0x10, B (NAME_MQTT, 3, 0x02, 0, 60, 0, 0) },
  { "connect-mqtt-level-6", 0, true, U, 0x10, B (NAME_MQTT, 6, 0x02, 0, 60, 0, 0) },
  { "connect-mqisdp-level-4", 0, true, U, 0x10, B (NAME_MQISDP, 4, 0x02, 0, 60, 0, 0) },
  { "connect-bad-name", 0, true, M, 0x10, B (0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 60, 0, 0) },
  { "connect-lowercase-name", 0, true, M, 0x10, B (0, 4, 'm', 'q', 't', 't', 4, 0x02, 0, 60, 0, 0) },
  { "connect-truncated-name", 0, true, M, 0x10, B (0, 4, 'M', 'Q') },
  { "connect-reserved-flag", 0, true, M, 0x10, B (NAME_MQTT, 4, 0x03, 0, 60, 0, 0) },
  { "connect-reserved-flag-v5", 0, true, M, 0x10, B (NAME_MQTT, 5, 0x01, 0, 60, 0, 0, 0) },
  { "connect-will-qos3", 0, true, M, 0x10,
    B (NAME_MQTT, 4, 0x1e, 0, 60, 0, 0, 0, 1, 't', 0, 0) },
  { "connect-will-qos-without-will", 0, true, M, 0x10, B (NAME_MQTT, 4, 0x0a, 0, 60, 0, 0) },
  { "connect-will-qos-without-will-v5", 0, true, M, 0x10, B (NAME_MQTT, 5, 0x12, 0, 60, 0, 0, 0) },
  { "connect-will-retain-without-will", 0, true, M, 0x10, B (NAME_MQTT, 4, 0x22, 0, 60, 0, 0) },
  { "connect-password-without-username-v311", 0, true, M, 0x10,
    B (NAME_MQTT, 4, 0x42, 0, 60, 0, 0, 0, 2, 'p', 'w') },
  { "connect-password-without-username-v31", 0, true, M, 0x10,
    B (NAME_MQISDP, 3, 0x42, 0, 60, 0, 1, 'c', 0, 2, 'p', 'w') },
  { "connect-password-without-username-v5", 0, true, OK, 0x10,
    B (NAME_MQTT, 5, 0x42, 0, 60, 0, 0, 0, 0, 2, 'p', 'w') },
  { "connect-password-binary", 0, true, OK, 0x10,
    B (NAME_MQTT, 4, 0xc2, 0, 60, 0, 0, 0, 1, 'u', 0, 2, 0x00, 0xff) },
  { "connect-client-id-overlong", 0, true, M, 0x10, B (NAME_MQTT, 4, 0x02, 0, 60, 0, 2, 0xc0, 0x80) },
  { "connect-client-id-nul", 0, true, M, 0x10, B (NAME_MQTT, 4, 0x02, 0, 60, 0, 1, 0x00) },
  { "connect-client-id-truncated", 0, true, M, 0x10, B (NAME_MQTT, 4, 0x02, 0, 60, 0, 3, 'a') },
  { "connect-will-topic-wildcard-v5", 0, true, T, 0x10,
    B (NAME_MQTT, 5, 0x06, 0, 60, 0, 0, 0, 0, 0, 3, 'a', '/', '#', 0, 0) },
  { "connect-will-topic-wildcard-v311", 0, true, M, 0x10,
    B (NAME_MQTT, 4, 0x06, 0, 60, 0, 0, 0, 3, 'a', '/', '+', 0, 0) },
  { "connect-will-topic-empty-v5", 0, true, T, 0x10,
    B (NAME_MQTT, 5, 0x06, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0) },
  { "connect-will-topic-surrogate-v5", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x06, 0, 60, 0, 0, 0, 0, 0, 3, 0xed, 0xa0, 0x80, 0, 0) },
  { "connect-will-v311", 0, true, OK, 0x10,
    B (NAME_MQTT, 4, 0x2e, 0, 60, 0, 0, 0, 3, 'a', '/', 'b', 0, 2, 0x00, 0xff) },
  { "connect-will-missing-payload", 0, true, M, 0x10,
    B (NAME_MQTT, 4, 0x06, 0, 60, 0, 0, 0, 1, 't') },
  { "connect-username-utf8", 0, true, M, 0x10, B (NAME_MQTT, 4, 0x82, 0, 60, 0, 0, 0, 1, 0xff) },
  { "connect-username-missing", 0, true, M, 0x10, B (NAME_MQTT, 4, 0x82, 0, 60, 0, 0) },
  { "connect-trailing", 0, true, M, 0x10, B (NAME_MQTT, 4, 0x02, 0, 60, 0, 0, 0) },
  { "connect-prop-not-allowed", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 3, 0x23, 0, 1, 0, 0) },
  { "connect-prop-unknown", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 2, 0x05, 0, 0, 0) },
  { "connect-prop-duplicate", 0, true, P, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2, 0, 0) },
  { "connect-receive-maximum-0", 0, true, P, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 3, 0x21, 0, 0, 0, 0) },
  { "connect-maximum-packet-size-0", 0, true, P, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 5, 0x27, 0, 0, 0, 0, 0, 0) },
  { "connect-request-problem-2", 0, true, P, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 2, 0x17, 2, 0, 0) },
  { "connect-request-response-2", 0, true, P, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 2, 0x19, 2, 0, 0) },
  { "connect-prop-overrun", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 10, 0x21, 0, 1) },
  { "connect-prop-value-truncated", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 2, 0x21, 0, 0, 0) },
  { "connect-prop-length-nonminimal", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 0x80, 0x00, 0, 0) },
  { "connect-auth-data-without-method", 0, true, P, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 4, 0x16, 0, 1, 'x', 0, 0) },
  { "connect-auth-method-utf8", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 4, 0x15, 0, 1, 0x80, 0, 0) },
  { "connect-user-property-utf8", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 7, 0x26, 0, 1, 0xc1, 0, 1, 'v', 0, 0) },
  { "connect-user-property-repeat", 0, true, OK, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 14, 0x26, 0, 1, 'a', 0, 1, 'b', 0x26, 0, 1, 'a', 0, 1, 'c', 0, 0) },
  { "connect-subid-not-allowed", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 2, 0x0b, 1, 0, 0) },
  { "connect-will-prop-not-allowed", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x06, 0, 60, 0, 0, 0, 5, 0x11, 0, 0, 0, 1, 0, 1, 't', 0, 0) },
  { "connect-will-delay", 0, true, OK, 0x10,
    B (NAME_MQTT, 5, 0x06, 0, 60, 0, 0, 0, 5, 0x18, 0, 0, 0, 9, 0, 1, 't', 0, 0) },
  { "connect-will-pfi-2", 0, true, P, 0x10,
    B (NAME_MQTT, 5, 0x06, 0, 60, 0, 0, 0, 2, 0x01, 2, 0, 1, 't', 0, 0) },
  { "connect-will-delay-in-connect", 0, true, M, 0x10,
    B (NAME_MQTT, 5, 0x02, 0, 60, 5, 0x18, 0, 0, 0, 9, 0, 0) },

  /* PUBLISH */
  { "publish-wildcard-plus-v5", MQTT_V5, true, T, 0x30, B (0, 3, 'a', '/', '+', 0) },
  { "publish-wildcard-hash-v5", MQTT_V5, true, T, 0x30, B (0, 1, '#', 0) },
  { "publish-wildcard-v311", MQTT_V311, true, M, 0x30, B (0, 3, 'a', '/', '+') },
  { "publish-wildcard-v31", MQTT_V31, true, M, 0x32, B (0, 3, 'a', '/', '#', 0, 1) },
  { "publish-empty-topic-v311", MQTT_V311, true, M, 0x30, B (0, 0) },
  { "publish-empty-topic-v5", MQTT_V5, true, OK, 0x30, B (0, 0, 3, 0x23, 0, 1) },
  { "publish-packet-id-0", MQTT_V311, true, M, 0x32, B (0, 1, 'a', 0, 0) },
  { "publish-packet-id-0-qos2", MQTT_V5, true, M, 0x34, B (0, 1, 'a', 0, 0, 0) },
  { "publish-missing-packet-id", MQTT_V311, true, M, 0x32, B (0, 1, 'a') },
  { "publish-qos0-no-packet-id", MQTT_V311, true, OK, 0x30, B (0, 1, 'a', 0, 0) },
  { "publish-subid-from-client", MQTT_V5, true, P, 0x30, B (0, 1, 'a', 2, 0x0b, 1) },
  { "publish-subid-from-server", MQTT_V5, false, OK, 0x30, B (0, 1, 'a', 2, 0x0b, 1) },
  { "publish-subid-repeat-from-server", MQTT_V5, false, OK, 0x30, B (0, 1, 'a', 4, 0x0b, 1, 0x0b, 2) },
  { "publish-subid-0", MQTT_V5, false, P, 0x30, B (0, 1, 'a', 2, 0x0b, 0) },
  { "publish-subid-nonminimal", MQTT_V5, false, M, 0x30, B (0, 1, 'a', 3, 0x0b, 0x81, 0x00) },
  { "publish-subid-5-bytes", MQTT_V5, false, M, 0x30, B (0, 1, 'a', 6, 0x0b, 0xff, 0xff, 0xff, 0xff, 0x01) },
  { "publish-pfi-2", MQTT_V5, true, P, 0x30, B (0, 1, 'a', 2, 0x01, 2) },
  { "publish-topic-alias-0", MQTT_V5, true, OK, 0x30, B (0, 1, 'a', 3, 0x23, 0, 0) },
  { "publish-content-type-utf8", MQTT_V5, true, M, 0x30, B (0, 1, 'a', 4, 0x03, 0, 1, 0xfe) },
  { "publish-response-topic-utf8", MQTT_V5, true, M, 0x30, B (0, 1, 'a', 5, 0x08, 0, 2, 0xe0, 0x80) },
  { "publish-response-topic-wildcard", MQTT_V5, true, P, 0x30, B (0, 1, 'a', 6, 0x08, 0, 3, 'r', '/', '+') },
  { "publish-response-topic-empty", MQTT_V5, true, P, 0x30, B (0, 1, 'a', 3, 0x08, 0, 0) },
  { "connect-will-response-topic-wildcard", 0, true, P, 0x10,
    B (NAME_MQTT, 5, 0x06, 0, 60, 0, 0, 0, 4, 0x08, 0, 1, '#', 0, 1, 't', 0, 0) },
  { "publish-duplicate-content-type", MQTT_V5, true, P, 0x30,
    B (0, 1, 'a', 8, 0x03, 0, 1, 'x', 0x03, 0, 1, 'y') },
  { "publish-duplicate-topic-alias", MQTT_V5, true, P, 0x30, B (0, 1, 'a', 6, 0x23, 0, 1, 0x23, 0, 2) },
  { "publish-duplicate-expiry", MQTT_V5, false, P, 0x30,
    B (0, 1, 'a', 10, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 1) },
  { "publish-connack-prop", MQTT_V5, true, M, 0x30, B (0, 1, 'a', 2, 0x24, 1) },
  { "publish-will-delay", MQTT_V5, true, M, 0x30, B (0, 1, 'a', 5, 0x18, 0, 0, 0, 1) },
  { "publish-topic-utf8", MQTT_V311, true, M, 0x30, B (0, 2, 0xc3, 0x28) },
  { "publish-topic-nul", MQTT_V5, true, M, 0x30, B (0, 3, 'a', 0, 'b', 0) },
  { "publish-topic-truncated", MQTT_V311, true, M, 0x30, B (0, 5, 'a', 'b') },
  { "publish-payload-not-utf8", MQTT_V5, true, OK, 0x30, B (0, 1, 'a', 2, 0x01, 1, 0xff, 0xfe) },
  { "publish-correlation-binary", MQTT_V5, true, OK, 0x30, B (0, 1, 'a', 4, 0x09, 0, 1, 0xff) },
  { "publish-props-overrun", MQTT_V5, true, M, 0x30, B (0, 1, 'a', 5, 0x23, 0, 1) },
  { "publish-props-missing", MQTT_V5, true, M, 0x32, B (0, 1, 'a', 0, 1) },
  { "publish-prop-id-high", MQTT_V5, true, M, 0x30, B (0, 1, 'a', 2, 0x81, 0x01) },

  /* PUBACK, PUBREC, PUBREL, PUBCOMP */
  { "puback-v5-short", MQTT_V5, false, OK, 0x40, B (0, 1) },
  { "puback-v5-reason-only", MQTT_V5, false, OK, 0x40, B (0, 1, 0x10) },
  { "puback-v5-empty-props", MQTT_V5, false, OK, 0x40, B (0, 1, 0x00, 0) },
  { "puback-v5-bad-reason", MQTT_V5, false, P, 0x40, B (0, 1, 0x92) },
  { "puback-packet-id-0", MQTT_V311, false, M, 0x40, B (0, 0) },
  { "puback-truncated", MQTT_V311, false, M, 0x40, B (0) },
  { "puback-v311-trailing", MQTT_V311, false, M, 0x40, B (0, 1, 0) },
  { "puback-v5-prop-not-allowed", MQTT_V5, false, M, 0x40, B (0, 1, 0, 2, 0x24, 1) },
  { "puback-v5-duplicate-reason-string", MQTT_V5, false, P, 0x40,
    B (0, 1, 0x80, 8, 0x1f, 0, 1, 'a', 0x1f, 0, 1, 'b') },
  { "puback-v5-props-overrun", MQTT_V5, false, M, 0x40, B (0, 1, 0x80, 4, 0x1f, 0, 1) },
  { "pubrec-v5-trailing", MQTT_V5, true, M, 0x50, B (0, 1, 0, 0, 0) },
  { "pubrel-v5-not-found", MQTT_V5, true, OK, 0x62, B (0, 1, 0x92) },
  { "pubrel-v5-bad-reason", MQTT_V5, true, P, 0x62, B (0, 1, 0x10) },
  { "pubcomp-v311", MQTT_V311, true, OK, 0x70, B (0, 1) },

  /* SUBSCRIBE */
  { "subscribe-packet-id-0", MQTT_V311, true, M, 0x82, B (0, 0, 0, 1, 'a', 0) },
  { "subscribe-no-entries-v5", MQTT_V5, true, P, 0x82, B (0, 1, 0) },
  { "subscribe-no-entries-v311", MQTT_V311, true, M, 0x82, B (0, 1) },
  { "subscribe-qos3-v5", MQTT_V5, true, P, 0x82, B (0, 1, 0, 0, 1, 'a', 3) },
  { "subscribe-qos3-v311", MQTT_V311, true, M, 0x82, B (0, 1, 0, 1, 'a', 3) },
  { "subscribe-retain-handling-3", MQTT_V5, true, P, 0x82, B (0, 1, 0, 0, 1, 'a', 0x30) },
  { "subscribe-reserved-bit-6", MQTT_V5, true, M, 0x82, B (0, 1, 0, 0, 1, 'a', 0x40) },
  { "subscribe-reserved-bit-7", MQTT_V5, true, M, 0x82, B (0, 1, 0, 0, 1, 'a', 0x80) },
  { "subscribe-v311-upper-bits", MQTT_V311, true, M, 0x82, B (0, 1, 0, 1, 'a', 0x04) },
  { "subscribe-shared-no-local", MQTT_V5, true, P, 0x82,
    B (0, 1, 0, 0, 10, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'x', 0x04) },
  { "subscribe-shared", MQTT_V5, true, OK, 0x82,
    B (0, 1, 0, 0, 10, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'x', 0x2a) },
  { "subscribe-no-local", MQTT_V5, true, OK, 0x82, B (0, 1, 0, 0, 1, 'a', 0x04) },
  { "subscribe-empty-filter", MQTT_V5, true, M, 0x82, B (0, 1, 0, 0, 0, 0) },
  { "subscribe-filter-utf8", MQTT_V5, true, M, 0x82, B (0, 1, 0, 0, 1, 0x80, 0) },
  { "subscribe-bad-wildcard-decodes", MQTT_V5, true, OK, 0x82,
    B (0, 1, 0, 0, 5, 'a', '/', '#', '/', 'b', 0) },
  { "subscribe-missing-options", MQTT_V5, true, M, 0x82, B (0, 1, 0, 0, 1, 'a') },
  { "subscribe-second-entry-truncated", MQTT_V311, true, M, 0x82, B (0, 1, 0, 1, 'a', 0, 0, 4, 'b') },
  { "subscribe-subid-0", MQTT_V5, true, P, 0x82, B (0, 1, 2, 0x0b, 0, 0, 1, 'a', 0) },
  { "subscribe-subid-twice", MQTT_V5, true, P, 0x82, B (0, 1, 4, 0x0b, 1, 0x0b, 2, 0, 1, 'a', 0) },
  { "subscribe-subid-max", MQTT_V5, true, OK, 0x82,
    B (0, 1, 5, 0x0b, 0xff, 0xff, 0xff, 0x7f, 0, 1, 'a', 0) },
  { "subscribe-prop-not-allowed", MQTT_V5, true, M, 0x82, B (0, 1, 3, 0x23, 0, 1, 0, 1, 'a', 0) },

  /* UNSUBSCRIBE */
  { "unsubscribe-no-filters-v5", MQTT_V5, true, P, 0xa2, B (0, 1, 0) },
  { "unsubscribe-no-filters-v311", MQTT_V311, true, M, 0xa2, B (0, 1) },
  { "unsubscribe-empty-filter", MQTT_V311, true, M, 0xa2, B (0, 1, 0, 0) },
  { "unsubscribe-filter-utf8", MQTT_V311, true, M, 0xa2, B (0, 1, 0, 1, 0xff) },
  { "unsubscribe-packet-id-0", MQTT_V311, true, M, 0xa2, B (0, 0, 0, 1, 'a') },
  { "unsubscribe-truncated-filter", MQTT_V311, true, M, 0xa2, B (0, 1, 0, 5, 'a') },
  { "unsubscribe-prop-not-allowed", MQTT_V5, true, M, 0xa2, B (0, 1, 2, 0x0b, 1, 0, 1, 'a') },
  { "unsubscribe-v5", MQTT_V5, true, OK, 0xa2, B (0, 1, 0, 0, 1, 'a', 0, 3, 'b', '/', '#') },

  /* SUBACK, UNSUBACK */
  { "suback-bad-code-v311", MQTT_V311, false, M, 0x90, B (0, 1, 0x03) },
  { "suback-bad-code-v5", MQTT_V5, false, P, 0x90, B (0, 1, 0, 0x10) },
  { "suback-no-codes", MQTT_V311, false, M, 0x90, B (0, 1) },
  { "suback-v5", MQTT_V5, false, OK, 0x90, B (0, 1, 0, 0x00, 0x01, 0x02, 0x80, 0x8f, 0xa2) },
  { "unsuback-v311-trailing", MQTT_V311, false, M, 0xb0, B (0, 1, 0) },
  { "unsuback-v5-bad-code", MQTT_V5, false, P, 0xb0, B (0, 1, 0, 0x10) },
  { "unsuback-v5-no-codes", MQTT_V5, false, M, 0xb0, B (0, 1, 0) },
  { "unsuback-v5", MQTT_V5, false, OK, 0xb0, B (0, 1, 0, 0x00, 0x11) },

  /* CONNACK */
  { "connack-v311-bad-code", MQTT_V311, false, M, 0x20, B (0, 6) },
  { "connack-v311-trailing", MQTT_V311, false, M, 0x20, B (0, 0, 0) },
  { "connack-v311-reserved-flags", MQTT_V311, false, M, 0x20, B (0x02, 0) },
  { "connack-v5-max-qos-2", MQTT_V5, false, P, 0x20, B (0, 0, 2, 0x24, 2) },
  { "connack-v5-retain-available-2", MQTT_V5, false, P, 0x20, B (0, 0, 2, 0x25, 2) },
  { "connack-v5-wildcard-available-2", MQTT_V5, false, P, 0x20, B (0, 0, 2, 0x28, 2) },
  { "connack-v5-subid-available-2", MQTT_V5, false, P, 0x20, B (0, 0, 2, 0x29, 2) },
  { "connack-v5-shared-available-2", MQTT_V5, false, P, 0x20, B (0, 0, 2, 0x2a, 2) },
  { "connack-v5-receive-maximum-0", MQTT_V5, false, P, 0x20, B (0, 0, 3, 0x21, 0, 0) },
  { "connack-v5-bad-reason", MQTT_V5, false, P, 0x20, B (0, 0x01, 0) },
  { "connack-v5-missing-props", MQTT_V5, false, M, 0x20, B (0, 0) },
  { "connack-v5-max-qos-1", MQTT_V5, false, OK, 0x20, B (1, 0, 2, 0x24, 1) },

  /* DISCONNECT, AUTH */
  { "disconnect-v5-empty", MQTT_V5, true, OK, 0xe0, NOBODY },
  { "disconnect-v5-reason-only", MQTT_V5, true, OK, 0xe0, B (0x04) },
  { "disconnect-v5-bad-reason", MQTT_V5, true, P, 0xe0, B (0x05) },
  { "disconnect-v5-props", MQTT_V5, true, OK, 0xe0, B (0x00, 5, 0x11, 0, 0, 0, 0) },
  { "disconnect-v5-prop-not-allowed", MQTT_V5, true, M, 0xe0, B (0x00, 3, 0x21, 0, 1) },
  { "disconnect-v5-trailing", MQTT_V5, true, M, 0xe0, B (0x00, 0, 0) },
  { "auth-v5-empty", MQTT_V5, true, OK, 0xf0, NOBODY },
  { "auth-v5-continue", MQTT_V5, true, OK, 0xf0, B (0x18, 6, 0x15, 0, 3, 'a', 'b', 'c') },
  { "auth-v5-bad-reason", MQTT_V5, true, P, 0xf0, B (0x01) },
  { "auth-v5-data-without-method", MQTT_V5, true, P, 0xf0, B (0x18, 4, 0x16, 0, 1, 'x') },
};

static void
test_decode_case (gconstpointer data)
{
  const DecodeCase *c = data;
  MqttReasonCode rc = decode_body (c->first, c->body, c->len, c->version, c->from_client);

  g_assert_cmphex (rc, ==, c->expected);
  if (rc == OK)
    {
      /* Whatever decodes must re-encode to something that decodes the same. */
      StBuf out = ST_BUF_INIT;
      MqttPacket first = last_pkt, again;
      MqttVersion v = c->version ? c->version : first.connect.version;

      mqtt_test_encode (&out, v, &first);
      g_assert_cmphex (mqtt_decode (out.data, out.len, v, c->from_client, &again), ==, OK);
      g_assert_true (mqtt_test_packet_eq (v, &first, &again));
      st_buf_clear (&out);
    }
}

/* ---- Details of decoded packets ------------------------------------------ */

static void
test_decode_connect_v5 (void)
{
  MqttConnect *c = &last_pkt.connect;
  MqttIter it;
  MqttBytes k, v;

  g_assert_cmphex (BODY (0x10, 0, true,
                         NAME_MQTT, 5, 0xee, 0x01, 0x2c,
                         8, 0x11, 0, 0, 0x0e, 0x10, 0x21, 0, 10,
                         0, 2, 'i', 'd',
                         5, 0x18, 0, 0, 0, 7,
                         0, 3, 'w', '/', 't',
                         0, 3, 'b', 'y', 'e',
                         0, 1, 'u',
                         0, 1, 'p'), ==, OK);
  g_assert_cmpint (last_pkt.type, ==, MQTT_CONNECT);
  g_assert_cmpint (c->version, ==, MQTT_V5);
  g_assert_cmpmem (c->protocol_name.data, c->protocol_name.len, "MQTT", 4);
  g_assert_true (c->clean_start);
  g_assert_cmpuint (c->keep_alive, ==, 300);
  g_assert_true (mqtt_props_has (&c->props, MQTT_PROP_SESSION_EXPIRY_INTERVAL));
  g_assert_cmpuint (c->props.session_expiry_interval, ==, 3600);
  g_assert_cmpuint (c->props.receive_maximum, ==, 10);
  g_assert_false (mqtt_props_has (&c->props, MQTT_PROP_MAXIMUM_PACKET_SIZE));
  g_assert_cmpmem (c->client_id.data, c->client_id.len, "id", 2);
  g_assert_true (c->will_flag);
  g_assert_cmpuint (c->will_qos, ==, 1);
  g_assert_true (c->will_retain);
  g_assert_cmpuint (c->will_props.will_delay_interval, ==, 7);
  g_assert_cmpmem (c->will_topic.data, c->will_topic.len, "w/t", 3);
  g_assert_cmpmem (c->will_payload.data, c->will_payload.len, "bye", 3);
  g_assert_true (c->has_username);
  g_assert_cmpmem (c->username.data, c->username.len, "u", 1);
  g_assert_true (c->has_password);
  g_assert_cmpmem (c->password.data, c->password.len, "p", 1);
  mqtt_iter_init (&it, c->props.user_properties);
  g_assert_false (mqtt_user_props_next (&it, &k, &v));
}

static void
test_decode_connect_v3 (void)
{
  g_assert_cmphex (BODY (0x10, 0, true, NAME_MQISDP, 3, 0x00, 0, 10, 0, 3, 'a', 'b', 'c'), ==, OK);
  g_assert_cmpint (last_pkt.connect.version, ==, MQTT_V31);
  g_assert_cmpmem (last_pkt.connect.protocol_name.data, last_pkt.connect.protocol_name.len, "MQIsdp", 6);
  g_assert_false (last_pkt.connect.clean_start);
  g_assert_cmpuint (last_pkt.connect.keep_alive, ==, 10);
}

static void
test_decode_connect_unsupported (void)
{
  /* The level is reported so the caller can answer in the right format. */
  g_assert_cmphex (BODY (0x10, 0, true, NAME_MQTT, 6, 0x02, 0, 60, 0, 0), ==, U);
  g_assert_cmpint (last_pkt.type, ==, MQTT_CONNECT);
  g_assert_cmpint (last_pkt.connect.version, ==, 6);
}

static void
test_decode_publish_v5 (void)
{
  MqttPublish *p = &last_pkt.publish;

  g_assert_cmphex (BODY (0x3d, MQTT_V5, false,
                         0, 3, 'a', '/', 'b', 0x12, 0x34,
                         12, 0x0b, 5, 0x0b, 0xff, 0x7f, 0x23, 0, 9, 0x01, 1, 0x0b, 1,
                         'h', 'i'), ==, OK);
  g_assert_true (p->dup);
  g_assert_cmpuint (p->qos, ==, 2);
  g_assert_true (p->retain);
  g_assert_cmpmem (p->topic.data, p->topic.len, "a/b", 3);
  g_assert_cmpuint (p->packet_id, ==, 0x1234);
  g_assert_cmpuint (p->props.n_subscription_ids, ==, 3);
  g_assert_cmpuint (p->props.subscription_ids[0], ==, 5);
  g_assert_cmpuint (p->props.subscription_ids[1], ==, 16383);
  g_assert_cmpuint (p->props.subscription_ids[2], ==, 1);
  g_assert_true (mqtt_props_has (&p->props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER));
  g_assert_cmpuint (p->props.topic_alias, ==, 9);
  g_assert_cmpuint (p->props.payload_format_indicator, ==, 1);
  g_assert_cmpmem (p->payload.data, p->payload.len, "hi", 2);
}

static void
test_decode_publish_sub_id_limit (void)
{
  uint8_t body[4 + 2 * (MQTT_MAX_DECODED_SUB_IDS + 1)];
  size_t n = 0;

  body[n++] = 0;
  body[n++] = 1;
  body[n++] = 'a';
  body[n++] = 2 * (MQTT_MAX_DECODED_SUB_IDS + 1);
  for (unsigned i = 0; i <= MQTT_MAX_DECODED_SUB_IDS; i++)
    {
      body[n++] = 0x0b;
      body[n++] = (uint8_t) (i + 1);
    }
  g_assert_cmphex (decode_body (0x30, body, n, MQTT_V5, false), ==, MQTT_RC_IMPLEMENTATION_SPECIFIC);
  /* One fewer fits. */
  body[3] -= 2;
  g_assert_cmphex (decode_body (0x30, body, n - 2, MQTT_V5, false), ==, OK);
  g_assert_cmpuint (last_pkt.publish.props.n_subscription_ids, ==, MQTT_MAX_DECODED_SUB_IDS);
}

/* User properties interleaved with others: the iterator yields only the
 * pairs, and re-encoding neither drops nor duplicates anything. */
static void
test_decode_user_props_interleaved (void)
{
  MqttPacket first, again;
  MqttIter it;
  MqttBytes k, v;
  StBuf out = ST_BUF_INIT;

  g_assert_cmphex (BODY (0x30, MQTT_V5, true,
                         0, 1, 't',
                         22,
                         0x26, 0, 1, 'a', 0, 1, '1',
                         0x03, 0, 2, 'c', 't',
                         0x23, 0, 4,
                         0x26, 0, 1, 'b', 0, 1, '2',
                         'x'), ==, OK);
  first = last_pkt;
  mqtt_iter_init (&it, first.publish.props.user_properties);
  g_assert_true (mqtt_user_props_next (&it, &k, &v));
  g_assert_cmpmem (k.data, k.len, "a", 1);
  g_assert_cmpmem (v.data, v.len, "1", 1);
  g_assert_true (mqtt_user_props_next (&it, &k, &v));
  g_assert_cmpmem (k.data, k.len, "b", 1);
  g_assert_cmpmem (v.data, v.len, "2", 1);
  g_assert_false (mqtt_user_props_next (&it, &k, &v));
  g_assert_false (mqtt_user_props_next (&it, &k, &v));
  g_assert_cmpmem (first.publish.props.content_type.data, first.publish.props.content_type.len, "ct", 2);
  g_assert_cmpuint (first.publish.props.topic_alias, ==, 4);

  mqtt_encode_publish (&out, MQTT_V5, &first.publish);
  {
    /* Properties in identifier order, the pairs contiguous at 0x26. */
    static const uint8_t expected[] = {
      0x30, 0x1b, 0, 1, 't', 22,
      0x03, 0, 2, 'c', 't',
      0x23, 0, 4,
      0x26, 0, 1, 'a', 0, 1, '1',
      0x26, 0, 1, 'b', 0, 1, '2',
      'x',
    };
    g_assert_cmpmem (out.data, out.len, expected, sizeof expected);
  }
  g_assert_cmphex (mqtt_decode (out.data, out.len, MQTT_V5, true, &again), ==, OK);
  g_assert_true (mqtt_test_packet_eq (MQTT_V5, &first, &again));
  g_assert_cmpuint (again.publish.props.user_properties.len, ==, 14);
  st_buf_clear (&out);
}

static void
test_decode_subscribe_iter (void)
{
  MqttIter it;
  MqttBytes f;
  MqttSubOptions o;

  g_assert_cmphex (BODY (0x82, MQTT_V5, true,
                         0, 7, 2, 0x0b, 3,
                         0, 3, 'a', '/', '+', 0x2d,
                         0, 1, '#', 0x00), ==, OK);
  g_assert_cmpuint (last_pkt.subscribe.packet_id, ==, 7);
  g_assert_cmpuint (last_pkt.subscribe.n_entries, ==, 2);
  g_assert_cmpuint (last_pkt.subscribe.props.n_subscription_ids, ==, 1);
  g_assert_cmpuint (last_pkt.subscribe.props.subscription_ids[0], ==, 3);

  mqtt_iter_init (&it, last_pkt.subscribe.entries);
  g_assert_true (mqtt_subscribe_next (&it, MQTT_V5, &f, &o));
  g_assert_cmpmem (f.data, f.len, "a/+", 3);
  g_assert_cmpuint (o.qos, ==, 1);
  g_assert_true (o.no_local);
  g_assert_true (o.retain_as_published);
  g_assert_cmpuint (o.retain_handling, ==, 2);
  g_assert_true (mqtt_subscribe_next (&it, MQTT_V5, &f, &o));
  g_assert_cmpmem (f.data, f.len, "#", 1);
  g_assert_cmpuint (o.qos, ==, 0);
  g_assert_false (o.no_local);
  g_assert_false (o.retain_as_published);
  g_assert_cmpuint (o.retain_handling, ==, 0);
  g_assert_false (mqtt_subscribe_next (&it, MQTT_V5, &f, &o));

  g_assert_cmphex (BODY (0x82, MQTT_V311, true, 0, 9, 0, 1, 'x', 0x02), ==, OK);
  mqtt_iter_init (&it, last_pkt.subscribe.entries);
  g_assert_true (mqtt_subscribe_next (&it, MQTT_V311, &f, &o));
  g_assert_cmpmem (f.data, f.len, "x", 1);
  g_assert_cmpuint (o.qos, ==, 2);
  g_assert_false (mqtt_subscribe_next (&it, MQTT_V311, &f, &o));
}

static void
test_decode_unsubscribe_iter (void)
{
  MqttIter it;
  MqttBytes f;

  g_assert_cmphex (BODY (0xa2, MQTT_V311, true, 0, 3, 0, 1, 'a', 0, 3, 'b', '/', '#'), ==, OK);
  g_assert_cmpuint (last_pkt.unsubscribe.n_filters, ==, 2);
  mqtt_iter_init (&it, last_pkt.unsubscribe.filters);
  g_assert_true (mqtt_unsubscribe_next (&it, &f));
  g_assert_cmpmem (f.data, f.len, "a", 1);
  g_assert_true (mqtt_unsubscribe_next (&it, &f));
  g_assert_cmpmem (f.data, f.len, "b/#", 3);
  g_assert_false (mqtt_unsubscribe_next (&it, &f));
}

/* Iterators must stop, not overrun, on bytes that were never validated. */
static void
test_iterators_defensive (void)
{
  static const uint8_t junk[] = { 0x26, 0, 9, 'a' };
  static const uint8_t unknown[] = { 0x05, 0, 0 };
  MqttIter it;
  MqttBytes k, v, f;
  MqttSubOptions o;

  mqtt_iter_init (&it, (MqttBytes) { junk, sizeof junk });
  g_assert_false (mqtt_user_props_next (&it, &k, &v));
  mqtt_iter_init (&it, (MqttBytes) { unknown, sizeof unknown });
  g_assert_false (mqtt_user_props_next (&it, &k, &v));
  mqtt_iter_init (&it, (MqttBytes) { junk + 1, 2 });
  g_assert_false (mqtt_subscribe_next (&it, MQTT_V5, &f, &o));
  mqtt_iter_init (&it, (MqttBytes) { junk + 1, 3 });
  g_assert_false (mqtt_unsubscribe_next (&it, &f));
  mqtt_iter_init (&it, (MqttBytes) { NULL, 0 });
  g_assert_false (mqtt_unsubscribe_next (&it, &f));
}

/* ---- Round trips of every packet type ------------------------------------ */

static const uint8_t user_pairs[] = {
  0x26, 0, 1, 'k', 0, 1, 'v',
  0x26, 0, 2, 'k', '2', 0, 0,
};
#define USER_PAIRS ((MqttBytes) { user_pairs, sizeof user_pairs })
#define BIT(id) MQTT_PROP_BIT (MQTT_PROP_##id)

static StBuf rt_out = ST_BUF_INIT;

/* Encodes `in`, checks the framing, decodes the bytes, compares, and checks
 * that re-encoding the decoded packet gives the same bytes. */
static MqttPacket *
round_trip (MqttVersion v, bool from_client, const MqttPacket *in)
{
  StBuf again = ST_BUF_INIT;
  size_t hl;
  uint32_t rl;

  st_buf_reset (&rt_out);
  mqtt_test_encode (&rt_out, v, in);
  g_assert_cmpint (mqtt_frame (rt_out.data, rt_out.len, &hl, &rl), ==, MQTT_FRAME_OK);
  g_assert_cmpuint (hl + rl, ==, rt_out.len);
  g_assert_cmpuint (rt_out.data[0] >> 4, ==, in->type);

  g_assert_cmphex (decode_raw (rt_out.data, rt_out.len, v, from_client), ==, OK);
  g_assert_true (mqtt_test_packet_eq (v, in, &last_pkt));

  mqtt_test_encode (&again, v, &last_pkt);
  g_assert_cmpmem (again.data, again.len, rt_out.data, rt_out.len);
  st_buf_clear (&again);
  return &last_pkt;
}

static void
test_rt_connect (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  MqttPacket in = { .type = MQTT_CONNECT };
  MqttConnect *c = &in.connect;
  MqttPacket *out;

  c->version = v;
  c->clean_start = true;
  c->keep_alive = 30;
  c->client_id = MQTT_BYTES_STR ("client-1");
  c->will_flag = true;
  c->will_qos = 2;
  c->will_retain = true;
  c->will_topic = MQTT_BYTES_STR ("will/t");
  c->will_payload = (MqttBytes) { (const uint8_t *) "go\0ne", 5 };
  c->has_username = true;
  c->username = MQTT_BYTES_STR ("user");
  c->has_password = true;
  c->password = (MqttBytes) { (const uint8_t *) "\0\xffpw", 4 };
  if (v == MQTT_V5)
    {
      c->props.present = BIT (SESSION_EXPIRY_INTERVAL) | BIT (RECEIVE_MAXIMUM) |
                         BIT (MAXIMUM_PACKET_SIZE) | BIT (TOPIC_ALIAS_MAXIMUM) |
                         BIT (REQUEST_RESPONSE_INFORMATION) | BIT (REQUEST_PROBLEM_INFORMATION) |
                         BIT (AUTHENTICATION_METHOD) | BIT (AUTHENTICATION_DATA);
      c->props.session_expiry_interval = 3600;
      c->props.receive_maximum = 20;
      c->props.maximum_packet_size = 100000;
      c->props.topic_alias_maximum = 5;
      c->props.request_response_information = 1;
      c->props.request_problem_information = 1;
      c->props.authentication_method = MQTT_BYTES_STR ("SCRAM-SHA-1");
      c->props.authentication_data = MQTT_BYTES_STR ("xyz");
      c->props.user_properties = USER_PAIRS;
      c->will_props.present = BIT (WILL_DELAY_INTERVAL) | BIT (PAYLOAD_FORMAT_INDICATOR) |
                              BIT (MESSAGE_EXPIRY_INTERVAL) | BIT (CONTENT_TYPE) |
                              BIT (RESPONSE_TOPIC) | BIT (CORRELATION_DATA);
      c->will_props.will_delay_interval = 10;
      c->will_props.payload_format_indicator = 1;
      c->will_props.message_expiry_interval = 60;
      c->will_props.content_type = MQTT_BYTES_STR ("text/plain");
      c->will_props.response_topic = MQTT_BYTES_STR ("r/t");
      c->will_props.correlation_data = (MqttBytes) { (const uint8_t *) "\1\2", 2 };
      c->will_props.user_properties = USER_PAIRS;
    }
  out = round_trip (v, true, &in);
  g_assert_cmpint (out->connect.version, ==, v);
  g_assert_cmpmem (out->connect.protocol_name.data, out->connect.protocol_name.len,
                   v == MQTT_V31 ? "MQIsdp" : "MQTT", v == MQTT_V31 ? 6 : 4);

  /* The smallest CONNECT: no will, no credentials, no clean start. */
  memset (c, 0, sizeof *c);
  c->version = v;
  c->keep_alive = 0;
  out = round_trip (v, true, &in);
  g_assert_false (out->connect.will_flag);
  g_assert_false (out->connect.has_username);
  g_assert_cmpuint (rt_out.len, ==, (v == MQTT_V31 ? 14 : 12) + (v == MQTT_V5 ? 3 : 2));
}

static void
test_rt_connack (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  MqttPacket in = { .type = MQTT_CONNACK };
  MqttConnack *c = &in.connack;

  c->session_present = true;
  if (v == MQTT_V5)
    {
      c->props.present = BIT (SESSION_EXPIRY_INTERVAL) | BIT (RECEIVE_MAXIMUM) |
                         BIT (MAXIMUM_QOS) | BIT (RETAIN_AVAILABLE) | BIT (MAXIMUM_PACKET_SIZE) |
                         BIT (ASSIGNED_CLIENT_IDENTIFIER) | BIT (TOPIC_ALIAS_MAXIMUM) |
                         BIT (REASON_STRING) | BIT (WILDCARD_SUBSCRIPTION_AVAILABLE) |
                         BIT (SUBSCRIPTION_IDENTIFIER_AVAILABLE) |
                         BIT (SHARED_SUBSCRIPTION_AVAILABLE) | BIT (SERVER_KEEP_ALIVE) |
                         BIT (RESPONSE_INFORMATION) | BIT (SERVER_REFERENCE) |
                         BIT (AUTHENTICATION_METHOD) | BIT (AUTHENTICATION_DATA);
      c->props.session_expiry_interval = 0xffffffff;
      c->props.receive_maximum = 65535;
      c->props.maximum_qos = 1;
      c->props.retain_available = 1;
      c->props.maximum_packet_size = 268435460;
      c->props.assigned_client_identifier = MQTT_BYTES_STR ("auto-1234");
      c->props.topic_alias_maximum = 10;
      c->props.reason_string = MQTT_BYTES_STR ("welcome");
      c->props.wildcard_subscription_available = 0;
      c->props.subscription_identifier_available = 1;
      c->props.shared_subscription_available = 1;
      c->props.server_keep_alive = 120;
      c->props.response_information = MQTT_BYTES_STR ("resp/");
      c->props.server_reference = MQTT_BYTES_STR ("other:1883");
      c->props.authentication_method = MQTT_BYTES_STR ("m");
      c->props.authentication_data = MQTT_BYTES_STR ("d");
      c->props.user_properties = USER_PAIRS;
    }
  round_trip (v, false, &in);

  c->session_present = false;
  c->reason_code = v == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED : MQTT3_CONNACK_NOT_AUTHORIZED;
  memset (&c->props, 0, sizeof c->props);
  round_trip (v, false, &in);
  g_assert_cmpuint (rt_out.len, ==, v == MQTT_V5 ? 5 : 4);
}

static void
test_rt_publish (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  MqttPacket in = { .type = MQTT_PUBLISH };
  MqttPublish *p = &in.publish;
  static const uint32_t ids[] = { 1, 128, 16384, MQTT_MAX_SUBSCRIPTION_ID };
  MqttPacket *out;

  p->dup = true;
  p->qos = 1;
  p->retain = true;
  p->topic = MQTT_BYTES_STR ("a/b");
  p->packet_id = 7;
  p->payload = MQTT_BYTES_STR ("hello");
  if (v == MQTT_V5)
    {
      p->props.present = BIT (PAYLOAD_FORMAT_INDICATOR) | BIT (MESSAGE_EXPIRY_INTERVAL) |
                         BIT (CONTENT_TYPE) | BIT (RESPONSE_TOPIC) | BIT (CORRELATION_DATA) |
                         BIT (TOPIC_ALIAS);
      p->props.payload_format_indicator = 1;
      p->props.message_expiry_interval = 100;
      p->props.content_type = MQTT_BYTES_STR ("application/json");
      p->props.response_topic = MQTT_BYTES_STR ("reply/here");
      p->props.correlation_data = (MqttBytes) { (const uint8_t *) "\0\1\2", 3 };
      p->props.topic_alias = 3;
      p->props.user_properties = USER_PAIRS;
    }
  out = round_trip (v, true, &in);
  g_assert_cmpuint (out->publish.packet_id, ==, 7);

  /* QoS 0 carries no packet id; QoS 2; an empty payload. */
  p->dup = false;
  p->qos = 0;
  p->packet_id = 0;
  round_trip (v, true, &in);
  p->qos = 2;
  p->packet_id = 65535;
  p->payload = (MqttBytes) { NULL, 0 };
  round_trip (v, true, &in);

  /* Server to client: several subscription identifiers. */
  if (v == MQTT_V5)
    {
      p->props.subscription_ids = ids;
      p->props.n_subscription_ids = G_N_ELEMENTS (ids);
      out = round_trip (v, false, &in);
      g_assert_cmpuint (out->publish.props.n_subscription_ids, ==, 4);
      g_assert_cmpuint (out->publish.props.subscription_ids[3], ==, MQTT_MAX_SUBSCRIPTION_ID);
      /* ... which a client may not send. */
      g_assert_cmphex (decode_raw (rt_out.data, rt_out.len, v, true), ==, P);
    }
}

static void
test_rt_ack (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  static const struct { MqttPacketType type; uint8_t rc; } acks[] = {
    { MQTT_PUBACK, MQTT_RC_NO_MATCHING_SUBSCRIBERS },
    { MQTT_PUBREC, MQTT_RC_QUOTA_EXCEEDED },
    { MQTT_PUBREL, MQTT_RC_PACKET_ID_NOT_FOUND },
    { MQTT_PUBCOMP, MQTT_RC_PACKET_ID_NOT_FOUND },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (acks); i++)
    {
      MqttPacket in = { .type = acks[i].type };

      in.ack.type = acks[i].type;
      in.ack.packet_id = 0x0102;
      round_trip (v, true, &in);
      g_assert_cmpuint (rt_out.len, ==, 4);
      g_assert_cmpuint (rt_out.data[0], ==, (acks[i].type << 4) | (acks[i].type == MQTT_PUBREL ? 2 : 0));
      if (v != MQTT_V5)
        continue;
      in.ack.reason_code = acks[i].rc;
      round_trip (v, true, &in);
      g_assert_cmpuint (rt_out.len, ==, 5);
      in.ack.props.present = BIT (REASON_STRING);
      in.ack.props.reason_string = MQTT_BYTES_STR ("why");
      in.ack.props.user_properties = USER_PAIRS;
      round_trip (v, true, &in);
      /* Properties force the reason code onto the wire even when 0. */
      in.ack.reason_code = 0;
      round_trip (v, true, &in);
      g_assert_cmpuint (rt_out.data[4], ==, 0);
    }
}

static void
test_rt_subscribe (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  MqttPacket in = { .type = MQTT_SUBSCRIBE };
  StBuf entries = ST_BUF_INIT;
  MqttSubOptions o1 = { 1, true, true, 1 }, o2 = { 2, false, false, 2 }, o0 = { 0 };
  static const uint32_t id = 42;
  MqttPacket *out;
  MqttIter it;
  MqttBytes f;
  MqttSubOptions o;

  mqtt_subscribe_append (&entries, v, MQTT_BYTES_STR ("a/+"), &o1);
  mqtt_subscribe_append (&entries, v, MQTT_BYTES_STR ("$share/g/x"), &o2);
  mqtt_subscribe_append (&entries, v, MQTT_BYTES_STR ("#"), &o0);
  in.subscribe.packet_id = 9;
  in.subscribe.entries = (MqttBytes) { entries.data, (uint32_t) entries.len };
  in.subscribe.n_entries = 3;
  if (v == MQTT_V5)
    {
      in.subscribe.props.subscription_ids = &id;
      in.subscribe.props.n_subscription_ids = 1;
      in.subscribe.props.user_properties = USER_PAIRS;
    }
  out = round_trip (v, true, &in);
  g_assert_cmpuint (out->subscribe.n_entries, ==, 3);
  mqtt_iter_init (&it, out->subscribe.entries);
  g_assert_true (mqtt_subscribe_next (&it, v, &f, &o));
  g_assert_cmpmem (f.data, f.len, "a/+", 3);
  g_assert_cmpuint (o.qos, ==, 1);
  g_assert_cmpint (o.no_local, ==, v == MQTT_V5);
  g_assert_cmpint (o.retain_as_published, ==, v == MQTT_V5);
  g_assert_cmpuint (o.retain_handling, ==, v == MQTT_V5 ? 1 : 0);
  g_assert_true (mqtt_subscribe_next (&it, v, &f, &o));
  g_assert_cmpmem (f.data, f.len, "$share/g/x", 10);
  g_assert_cmpuint (o.qos, ==, 2);
  g_assert_true (mqtt_subscribe_next (&it, v, &f, &o));
  g_assert_cmpmem (f.data, f.len, "#", 1);
  g_assert_false (mqtt_subscribe_next (&it, v, &f, &o));
  st_buf_clear (&entries);
}

static void
test_rt_suback (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  MqttPacket in = { .type = MQTT_SUBACK };
  static const uint8_t codes4[] = { 0, 1, 2, 0x80 };
  static const uint8_t codes5[] = { 0, 1, 2, 0x80, 0x8f, 0x97, 0x9e, 0xa1, 0xa2 };

  in.suback.packet_id = 300;
  if (v == MQTT_V5)
    {
      in.suback.reason_codes = (MqttBytes) { codes5, sizeof codes5 };
      in.suback.props.present = BIT (REASON_STRING);
      in.suback.props.reason_string = MQTT_BYTES_STR ("partly");
      in.suback.props.user_properties = USER_PAIRS;
    }
  else
    in.suback.reason_codes = (MqttBytes) { codes4, sizeof codes4 };
  round_trip (v, false, &in);
}

static void
test_rt_unsubscribe (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  MqttPacket in = { .type = MQTT_UNSUBSCRIBE };
  StBuf filters = ST_BUF_INIT;
  MqttPacket *out;
  MqttIter it;
  MqttBytes f;

  mqtt_unsubscribe_append (&filters, MQTT_BYTES_STR ("a/b"));
  mqtt_unsubscribe_append (&filters, MQTT_BYTES_STR ("c/#"));
  in.unsubscribe.packet_id = 11;
  in.unsubscribe.filters = (MqttBytes) { filters.data, (uint32_t) filters.len };
  in.unsubscribe.n_filters = 2;
  if (v == MQTT_V5)
    in.unsubscribe.props.user_properties = USER_PAIRS;
  out = round_trip (v, true, &in);
  g_assert_cmpuint (out->unsubscribe.n_filters, ==, 2);
  mqtt_iter_init (&it, out->unsubscribe.filters);
  g_assert_true (mqtt_unsubscribe_next (&it, &f));
  g_assert_cmpmem (f.data, f.len, "a/b", 3);
  g_assert_true (mqtt_unsubscribe_next (&it, &f));
  g_assert_cmpmem (f.data, f.len, "c/#", 3);
  g_assert_false (mqtt_unsubscribe_next (&it, &f));
  st_buf_clear (&filters);
}

static void
test_rt_unsuback (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  MqttPacket in = { .type = MQTT_UNSUBACK };
  static const uint8_t codes[] = { 0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91 };

  in.unsuback.packet_id = 12;
  in.unsuback.reason_codes = (MqttBytes) { codes, sizeof codes };
  if (v == MQTT_V5)
    {
      in.unsuback.props.present = BIT (REASON_STRING);
      in.unsuback.props.reason_string = MQTT_BYTES_STR ("ok");
    }
  round_trip (v, false, &in);
  /* 3.1.1 has no reason codes: the packet is just the id. */
  if (v != MQTT_V5)
    g_assert_cmpmem (rt_out.data, rt_out.len, "\xb0\x02\x00\x0c", 4);
}

static void
test_rt_ping (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  MqttPacket req = { .type = MQTT_PINGREQ }, resp = { .type = MQTT_PINGRESP };

  round_trip (v, true, &req);
  g_assert_cmpmem (rt_out.data, rt_out.len, "\xc0\x00", 2);
  round_trip (v, false, &resp);
  g_assert_cmpmem (rt_out.data, rt_out.len, "\xd0\x00", 2);
}

static void
test_rt_disconnect (gconstpointer data)
{
  MqttVersion v = GPOINTER_TO_INT (data);
  MqttPacket in = { .type = MQTT_DISCONNECT };

  round_trip (v, true, &in);
  g_assert_cmpmem (rt_out.data, rt_out.len, "\xe0\x00", 2);

  in.disconnect.reason_code = MQTT_RC_DISCONNECT_WITH_WILL;
  round_trip (v, true, &in);
  if (v == MQTT_V5)
    g_assert_cmpmem (rt_out.data, rt_out.len, "\xe0\x01\x04", 3);
  else
    g_assert_cmpmem (rt_out.data, rt_out.len, "\xe0\x00", 2);

  in.disconnect.reason_code = MQTT_RC_SERVER_SHUTTING_DOWN;
  in.disconnect.props.present = BIT (SESSION_EXPIRY_INTERVAL) | BIT (REASON_STRING) |
                                BIT (SERVER_REFERENCE);
  in.disconnect.props.session_expiry_interval = 5;
  in.disconnect.props.reason_string = MQTT_BYTES_STR ("bye");
  in.disconnect.props.server_reference = MQTT_BYTES_STR ("elsewhere");
  in.disconnect.props.user_properties = USER_PAIRS;
  round_trip (v, false, &in);
  if (v != MQTT_V5)
    g_assert_cmpuint (rt_out.len, ==, 2);
}

static void
test_rt_auth (void)
{
  MqttPacket in = { .type = MQTT_AUTH };

  round_trip (MQTT_V5, true, &in);
  g_assert_cmpmem (rt_out.data, rt_out.len, "\xf0\x00", 2);
  in.auth.reason_code = MQTT_RC_CONTINUE_AUTHENTICATION;
  in.auth.props.present = BIT (AUTHENTICATION_METHOD) | BIT (AUTHENTICATION_DATA) | BIT (REASON_STRING);
  in.auth.props.authentication_method = MQTT_BYTES_STR ("SCRAM-SHA-1");
  in.auth.props.authentication_data = (MqttBytes) { (const uint8_t *) "\0\1", 2 };
  in.auth.props.reason_string = MQTT_BYTES_STR ("more");
  in.auth.props.user_properties = USER_PAIRS;
  round_trip (MQTT_V5, false, &in);
  in.auth.reason_code = MQTT_RC_REAUTHENTICATE;
  round_trip (MQTT_V5, true, &in);
}

/* ---- Exact bytes of well-known packets ---------------------------------- */

static void
test_encode_exact (void)
{
  StBuf out = ST_BUF_INIT;
  MqttConnect c = { .version = MQTT_V311, .clean_start = true, .keep_alive = 60,
                    .client_id = MQTT_BYTES_STR ("a") };
  MqttAck ack = { .type = MQTT_PUBACK, .packet_id = 1, .reason_code = 0x10 };
  MqttConnack ca = { .session_present = true, .reason_code = 0 };
  static const uint8_t connect4[] = { 0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'a' };
  static const uint8_t connect5[] = { 0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 1, 'a' };

  mqtt_encode_connect (&out, &c);
  g_assert_cmpmem (out.data, out.len, connect4, sizeof connect4);
  st_buf_reset (&out);
  c.version = MQTT_V5;
  mqtt_encode_connect (&out, &c);
  g_assert_cmpmem (out.data, out.len, connect5, sizeof connect5);

  /* v3.1.1 drops the ack reason code; v5 writes the short forms. */
  st_buf_reset (&out);
  mqtt_encode_ack (&out, MQTT_V311, &ack);
  g_assert_cmpmem (out.data, out.len, "\x40\x02\x00\x01", 4);
  st_buf_reset (&out);
  mqtt_encode_ack (&out, MQTT_V5, &ack);
  g_assert_cmpmem (out.data, out.len, "\x40\x03\x00\x01\x10", 5);
  st_buf_reset (&out);
  ack.type = MQTT_PUBREL;
  ack.reason_code = 0;
  mqtt_encode_ack (&out, MQTT_V5, &ack);
  g_assert_cmpmem (out.data, out.len, "\x62\x02\x00\x01", 4);

  st_buf_reset (&out);
  mqtt_encode_connack (&out, MQTT_V311, &ca);
  g_assert_cmpmem (out.data, out.len, "\x20\x02\x01\x00", 4);
  st_buf_reset (&out);
  mqtt_encode_connack (&out, MQTT_V5, &ca);
  g_assert_cmpmem (out.data, out.len, "\x20\x03\x01\x00\x00", 5);

  /* A v5-only field set on a v3.1.1 packet is simply left out. */
  st_buf_reset (&out);
  ca.props.present = BIT (RECEIVE_MAXIMUM);
  ca.props.receive_maximum = 5;
  mqtt_encode_connack (&out, MQTT_V311, &ca);
  g_assert_cmpmem (out.data, out.len, "\x20\x02\x01\x00", 4);
  st_buf_reset (&out);
  mqtt_encode_connack (&out, MQTT_V5, &ca);
  g_assert_cmpmem (out.data, out.len, "\x20\x06\x01\x00\x03\x21\x00\x05", 8);

  st_buf_reset (&out);
  mqtt_encode_pingreq (&out);
  mqtt_encode_pingresp (&out);
  g_assert_cmpmem (out.data, out.len, "\xc0\x00\xd0\x00", 4);
  st_buf_clear (&out);
}

static void
test_encode_publish_head (void)
{
  for (MqttVersion v = MQTT_V311; v <= MQTT_V5; v++)
    {
      StBuf full = ST_BUF_INIT, head = ST_BUF_INIT;
      uint8_t *payload = g_malloc (20000);
      MqttPublish p = { .qos = 1, .packet_id = 5, .topic = MQTT_BYTES_STR ("t/x") };
      static const size_t sizes[] = { 0, 1, 100, 127, 128, 16383, 16384, 20000 };

      memset (payload, 'z', 20000);
      p.props.present = BIT (MESSAGE_EXPIRY_INTERVAL);
      p.props.message_expiry_interval = 9;
      for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
        {
          size_t total, expected_size;

          p.payload = (MqttBytes) { payload, (uint32_t) sizes[i] };
          st_buf_reset (&full);
          st_buf_reset (&head);
          mqtt_encode_publish (&full, v, &p);
          expected_size = mqtt_publish_size (v, &p);
          total = mqtt_encode_publish_head (&head, v, &p);
          g_assert_cmpuint (expected_size, ==, full.len);
          g_assert_cmpuint (total, ==, full.len);
          g_assert_cmpuint (head.len + sizes[i], ==, full.len);
          g_assert_cmpmem (head.data, head.len, full.data, head.len);
          g_assert_cmphex (decode_raw (full.data, full.len, v, true), ==, OK);
          g_assert_cmpuint (last_pkt.publish.payload.len, ==, sizes[i]);
        }
      g_free (payload);
      st_buf_clear (&full);
      st_buf_clear (&head);
    }
}

/* ---- Each property alone, with its exact wire form ---------------------- */

typedef struct {
  MqttPropertyId id;
  MqttPacketType carrier;   /* 0: the will properties of CONNECT */
  uint8_t        wire[12];
  size_t         wire_len;
} PropCase;

#define W(...) { __VA_ARGS__ }, sizeof ((const uint8_t[]) { __VA_ARGS__ })

static const PropCase prop_cases[] = {
  { MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, MQTT_PUBLISH, W (0x01, 1) },
  { MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, MQTT_PUBLISH, W (0x02, 0x01, 0x02, 0x03, 0x04) },
  { MQTT_PROP_CONTENT_TYPE, MQTT_PUBLISH, W (0x03, 0, 3, 's', 't', 'r') },
  { MQTT_PROP_RESPONSE_TOPIC, 0, W (0x08, 0, 3, 's', 't', 'r') },
  { MQTT_PROP_CORRELATION_DATA, MQTT_PUBLISH, W (0x09, 0, 3, 's', 't', 'r') },
  { MQTT_PROP_SUBSCRIPTION_IDENTIFIER, MQTT_SUBSCRIBE, W (0x0b, 0x80, 0x01) },
  { MQTT_PROP_SESSION_EXPIRY_INTERVAL, MQTT_DISCONNECT, W (0x11, 0x01, 0x02, 0x03, 0x04) },
  { MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER, MQTT_CONNACK, W (0x12, 0, 3, 's', 't', 'r') },
  { MQTT_PROP_SERVER_KEEP_ALIVE, MQTT_CONNACK, W (0x13, 0x01, 0x02) },
  { MQTT_PROP_AUTHENTICATION_METHOD, MQTT_AUTH, W (0x15, 0, 3, 's', 't', 'r') },
  { MQTT_PROP_AUTHENTICATION_DATA, MQTT_CONNECT, W (0x16, 0, 3, 's', 't', 'r') },
  { MQTT_PROP_REQUEST_PROBLEM_INFORMATION, MQTT_CONNECT, W (0x17, 1) },
  { MQTT_PROP_WILL_DELAY_INTERVAL, 0, W (0x18, 0x01, 0x02, 0x03, 0x04) },
  { MQTT_PROP_REQUEST_RESPONSE_INFORMATION, MQTT_CONNECT, W (0x19, 1) },
  { MQTT_PROP_RESPONSE_INFORMATION, MQTT_CONNACK, W (0x1a, 0, 3, 's', 't', 'r') },
  { MQTT_PROP_SERVER_REFERENCE, MQTT_DISCONNECT, W (0x1c, 0, 3, 's', 't', 'r') },
  { MQTT_PROP_REASON_STRING, MQTT_PUBCOMP, W (0x1f, 0, 3, 's', 't', 'r') },
  { MQTT_PROP_RECEIVE_MAXIMUM, MQTT_CONNECT, W (0x21, 0x01, 0x02) },
  { MQTT_PROP_TOPIC_ALIAS_MAXIMUM, MQTT_CONNACK, W (0x22, 0x01, 0x02) },
  { MQTT_PROP_TOPIC_ALIAS, MQTT_PUBLISH, W (0x23, 0x01, 0x02) },
  { MQTT_PROP_MAXIMUM_QOS, MQTT_CONNACK, W (0x24, 1) },
  { MQTT_PROP_RETAIN_AVAILABLE, MQTT_CONNACK, W (0x25, 1) },
  { MQTT_PROP_USER_PROPERTY, MQTT_UNSUBACK, W (0x26, 0, 1, 's', 0, 1, 't') },
  { MQTT_PROP_MAXIMUM_PACKET_SIZE, MQTT_CONNACK, W (0x27, 0x01, 0x02, 0x03, 0x04) },
  { MQTT_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE, MQTT_CONNACK, W (0x28, 1) },
  { MQTT_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE, MQTT_CONNACK, W (0x29, 1) },
  { MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE, MQTT_CONNACK, W (0x2a, 1) },
};

static void
set_prop (MqttProperties *p, MqttPropertyId id)
{
  static const uint32_t sub_id = 128;
  static const uint8_t pair[] = { 0x26, 0, 1, 's', 0, 1, 't' };
  const MqttBytes str = MQTT_BYTES_STR ("str");

  if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER)
    {
      p->subscription_ids = &sub_id;
      p->n_subscription_ids = 1;
      return;
    }
  if (id == MQTT_PROP_USER_PROPERTY)
    {
      p->user_properties = (MqttBytes) { pair, sizeof pair };
      return;
    }
  p->present |= MQTT_PROP_BIT (id);
  switch (id)
    {
    case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR: p->payload_format_indicator = 1; break;
    case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL: p->message_expiry_interval = 0x01020304; break;
    case MQTT_PROP_CONTENT_TYPE: p->content_type = str; break;
    case MQTT_PROP_RESPONSE_TOPIC: p->response_topic = str; break;
    case MQTT_PROP_CORRELATION_DATA: p->correlation_data = str; break;
    case MQTT_PROP_SESSION_EXPIRY_INTERVAL: p->session_expiry_interval = 0x01020304; break;
    case MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER: p->assigned_client_identifier = str; break;
    case MQTT_PROP_SERVER_KEEP_ALIVE: p->server_keep_alive = 0x0102; break;
    case MQTT_PROP_AUTHENTICATION_METHOD: p->authentication_method = str; break;
    case MQTT_PROP_AUTHENTICATION_DATA:
      /* Authentication Data needs a method [MQTT-3.1.2.11.10]. */
      p->authentication_data = str;
      break;
    case MQTT_PROP_REQUEST_PROBLEM_INFORMATION: p->request_problem_information = 1; break;
    case MQTT_PROP_WILL_DELAY_INTERVAL: p->will_delay_interval = 0x01020304; break;
    case MQTT_PROP_REQUEST_RESPONSE_INFORMATION: p->request_response_information = 1; break;
    case MQTT_PROP_RESPONSE_INFORMATION: p->response_information = str; break;
    case MQTT_PROP_SERVER_REFERENCE: p->server_reference = str; break;
    case MQTT_PROP_REASON_STRING: p->reason_string = str; break;
    case MQTT_PROP_RECEIVE_MAXIMUM: p->receive_maximum = 0x0102; break;
    case MQTT_PROP_TOPIC_ALIAS_MAXIMUM: p->topic_alias_maximum = 0x0102; break;
    case MQTT_PROP_TOPIC_ALIAS: p->topic_alias = 0x0102; break;
    case MQTT_PROP_MAXIMUM_QOS: p->maximum_qos = 1; break;
    case MQTT_PROP_RETAIN_AVAILABLE: p->retain_available = 1; break;
    case MQTT_PROP_MAXIMUM_PACKET_SIZE: p->maximum_packet_size = 0x01020304; break;
    case MQTT_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE: p->wildcard_subscription_available = 1; break;
    case MQTT_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE: p->subscription_identifier_available = 1; break;
    case MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE: p->shared_subscription_available = 1; break;
    default: g_assert_not_reached ();
    }
}

static void
test_prop_each (gconstpointer data)
{
  const PropCase *pc = data;
  MqttPacket in = { .type = pc->carrier ? pc->carrier : MQTT_CONNECT };
  MqttProperties *props;
  static const uint8_t one_code[] = { 0 };
  MqttPacket *out;
  const MqttProperties *got;

  switch (in.type)
    {
    case MQTT_CONNECT:
      in.connect.version = MQTT_V5;
      if (pc->carrier == 0)
        {
          in.connect.will_flag = true;
          in.connect.will_topic = MQTT_BYTES_STR ("w");
          props = &in.connect.will_props;
        }
      else
        props = &in.connect.props;
      break;
    case MQTT_CONNACK: props = &in.connack.props; break;
    case MQTT_PUBLISH:
      in.publish.topic = MQTT_BYTES_STR ("t");
      props = &in.publish.props;
      break;
    case MQTT_SUBSCRIBE:
      in.subscribe.packet_id = 1;
      in.subscribe.entries = (MqttBytes) { (const uint8_t *) "\0\1a\0", 4 };
      props = &in.subscribe.props;
      break;
    case MQTT_PUBCOMP:
      in.ack.type = MQTT_PUBCOMP;
      in.ack.packet_id = 1;
      props = &in.ack.props;
      break;
    case MQTT_UNSUBACK:
      in.unsuback.packet_id = 1;
      in.unsuback.reason_codes = (MqttBytes) { one_code, 1 };
      props = &in.unsuback.props;
      break;
    case MQTT_DISCONNECT: props = &in.disconnect.props; break;
    case MQTT_AUTH: props = &in.auth.props; break;
    default: g_assert_not_reached ();
    }
  set_prop (props, pc->id);
  if (pc->id == MQTT_PROP_AUTHENTICATION_DATA)
    {
      props->present |= MQTT_PROP_BIT (MQTT_PROP_AUTHENTICATION_METHOD);
      props->authentication_method = MQTT_BYTES_STR ("m");
    }

  out = round_trip (MQTT_V5, pc->carrier != MQTT_CONNACK && pc->carrier != MQTT_UNSUBACK, &in);
  g_assert_nonnull (memmem (rt_out.data, rt_out.len, pc->wire, pc->wire_len));

  switch (in.type)
    {
    case MQTT_CONNECT:
      got = pc->carrier == 0 ? &out->connect.will_props : &out->connect.props;
      break;
    case MQTT_CONNACK: got = &out->connack.props; break;
    case MQTT_PUBLISH: got = &out->publish.props; break;
    case MQTT_SUBSCRIBE: got = &out->subscribe.props; break;
    case MQTT_PUBCOMP: got = &out->ack.props; break;
    case MQTT_UNSUBACK: got = &out->unsuback.props; break;
    default: got = &out->disconnect.props; break;
    }
  g_assert_true (mqtt_props_has (got, pc->id));
}

/* ---- UTF-8 --------------------------------------------------------------- */

typedef struct {
  const char *bytes;
  size_t      len;
  bool        valid;
} Utf8Case;

#define U8(s, ok) { s, sizeof (s) - 1, ok }

static const Utf8Case utf8_cases[] = {
  U8 ("", true),
  U8 ("hello/world", true),
  U8 ("\x01\x1f\x7f", true),                 /* control characters are allowed */
  U8 ("\xc2\x80\xc2\x9f", true),             /* U+0080, U+009F */
  U8 ("\xdf\xbf", true),                     /* U+07FF */
  U8 ("\xe0\xa0\x80", true),                 /* U+0800 */
  U8 ("\xed\x9f\xbf", true),                 /* U+D7FF */
  U8 ("\xee\x80\x80", true),                 /* U+E000 */
  U8 ("\xef\xbf\xbf", true),                 /* U+FFFF */
  U8 ("\xef\xbb\xbf", true),                 /* U+FEFF */
  U8 ("\xf0\x90\x80\x80", true),             /* U+10000 */
  U8 ("\xf4\x8f\xbf\xbf", true),             /* U+10FFFF */
  U8 ("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa6", true),
  U8 ("\x00", false),                        /* U+0000 */
  U8 ("a\x00" "b", false),
  U8 ("\xc0\x80", false),                    /* overlong U+0000 */
  U8 ("\xc1\xbf", false),                    /* overlong U+007F */
  U8 ("\xe0\x80\x80", false),                /* overlong */
  U8 ("\xe0\x9f\xbf", false),                /* overlong U+07FF */
  U8 ("\xf0\x80\x80\x80", false),            /* overlong */
  U8 ("\xf0\x8f\xbf\xbf", false),            /* overlong U+FFFF */
  U8 ("\xed\xa0\x80", false),                /* U+D800 */
  U8 ("\xed\xbf\xbf", false),                /* U+DFFF */
  U8 ("\xed\xa0\x80\xed\xb0\x80", false),    /* a surrogate pair, CESU-8 */
  U8 ("\xf4\x90\x80\x80", false),            /* U+110000 */
  U8 ("\xf5\x80\x80\x80", false),
  U8 ("\xf8\x88\x80\x80\x80", false),        /* 5-byte form */
  U8 ("\xfe", false),
  U8 ("\xff", false),
  U8 ("\x80", false),                        /* lone continuation */
  U8 ("a\xbf", false),
  U8 ("\xc2", false),                        /* truncated */
  U8 ("\xe0\xa0", false),
  U8 ("\xf0\x90\x80", false),
  U8 ("\xc2\x41", false),                    /* bad continuation */
  U8 ("\xe2\x28\xa1", false),
  U8 ("\xf0\x90\x28\xbc", false),
};

static void
test_utf8 (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (utf8_cases); i++)
    {
      const Utf8Case *c = &utf8_cases[i];

      if (mqtt_utf8_valid ((const uint8_t *) c->bytes, c->len) != c->valid)
        g_error ("utf8 case %zu: expected %s", i, c->valid ? "valid" : "invalid");
    }
  /* A truncated sequence at the end of a longer buffer must not be read past
   * the length given. */
  g_assert_false (mqtt_utf8_valid ((const uint8_t *) "ab\xe2\x82\xac", 4));
  g_assert_true (mqtt_utf8_valid ((const uint8_t *) "ab\xe2\x82\xac", 5));
}

/* ---- Names --------------------------------------------------------------- */

static void
test_names (void)
{
  g_assert_cmpstr (mqtt_packet_type_name (MQTT_CONNECT), ==, "CONNECT");
  g_assert_cmpstr (mqtt_packet_type_name (MQTT_PUBLISH), ==, "PUBLISH");
  g_assert_cmpstr (mqtt_packet_type_name (MQTT_UNSUBACK), ==, "UNSUBACK");
  g_assert_cmpstr (mqtt_packet_type_name (MQTT_AUTH), ==, "AUTH");
  g_assert_cmpstr (mqtt_packet_type_name (0), ==, "UNKNOWN");
  g_assert_cmpstr (mqtt_packet_type_name (16), ==, "UNKNOWN");
  for (int t = MQTT_CONNECT; t <= MQTT_AUTH; t++)
    g_assert_cmpstr (mqtt_packet_type_name (t), !=, "UNKNOWN");

  g_assert_cmpstr (mqtt_reason_code_name (MQTT_RC_SUCCESS), ==, "Success");
  g_assert_cmpstr (mqtt_reason_code_name (MQTT_RC_MALFORMED_PACKET), ==, "Malformed Packet");
  g_assert_cmpstr (mqtt_reason_code_name (MQTT_RC_PROTOCOL_ERROR), ==, "Protocol Error");
  g_assert_cmpstr (mqtt_reason_code_name (MQTT_RC_TOPIC_ALIAS_INVALID), ==, "Topic Alias invalid");
  g_assert_cmpstr (mqtt_reason_code_name (MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED), ==,
                   "Wildcard Subscriptions not supported");
  g_assert_cmpstr (mqtt_reason_code_name (0x03), ==, "Unknown reason code");
}

int
main (int argc, char *argv[])
{
  static const struct { const char *name; GTestDataFunc func; } per_version[] = {
    { "connect", test_rt_connect },
    { "connack", test_rt_connack },
    { "publish", test_rt_publish },
    { "ack", test_rt_ack },
    { "subscribe", test_rt_subscribe },
    { "suback", test_rt_suback },
    { "unsubscribe", test_rt_unsubscribe },
    { "unsuback", test_rt_unsuback },
    { "ping", test_rt_ping },
    { "disconnect", test_rt_disconnect },
  };
  int ret;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/mqtt/frame/lengths", test_frame);
  g_test_add_func ("/mqtt/frame/malformed", test_frame_malformed);

  for (size_t i = 0; i < G_N_ELEMENTS (decode_cases); i++)
    {
      const DecodeCase *c = &decode_cases[i];
      const char *kind = c->expected == OK ? "valid"
                       : c->expected == M ? "malformed"
                       : c->expected == P ? "protocol-error"
                       : "reject";
      g_autofree char *path = g_strdup_printf ("/mqtt/%s/%s", kind, c->name);

      g_test_add_data_func (path, c, test_decode_case);
    }

  g_test_add_func ("/mqtt/decode/connect-v5", test_decode_connect_v5);
  g_test_add_func ("/mqtt/decode/connect-v3", test_decode_connect_v3);
  g_test_add_func ("/mqtt/decode/connect-unsupported-level", test_decode_connect_unsupported);
  g_test_add_func ("/mqtt/decode/publish-v5", test_decode_publish_v5);
  g_test_add_func ("/mqtt/decode/publish-sub-id-limit", test_decode_publish_sub_id_limit);
  g_test_add_func ("/mqtt/decode/user-props-interleaved", test_decode_user_props_interleaved);
  g_test_add_func ("/mqtt/decode/subscribe-entries", test_decode_subscribe_iter);
  g_test_add_func ("/mqtt/decode/unsubscribe-filters", test_decode_unsubscribe_iter);
  g_test_add_func ("/mqtt/iter/defensive", test_iterators_defensive);

  for (size_t i = 0; i < G_N_ELEMENTS (per_version); i++)
    for (int v = MQTT_V31; v <= MQTT_V5; v++)
      {
        g_autofree char *path = NULL;

        /* 3.1 differs from 3.1.1 only in CONNECT. */
        if (v == MQTT_V31 && strcmp (per_version[i].name, "connect") != 0)
          continue;
        path = g_strdup_printf ("/mqtt/roundtrip/%s-v%d", per_version[i].name, v);
        g_test_add_data_func (path, GINT_TO_POINTER (v), per_version[i].func);
      }
  g_test_add_func ("/mqtt/roundtrip/auth-v5", test_rt_auth);

  for (size_t i = 0; i < G_N_ELEMENTS (prop_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/mqtt/property/0x%02x", prop_cases[i].id);

      g_test_add_data_func (path, &prop_cases[i], test_prop_each);
    }

  g_test_add_func ("/mqtt/encode/exact", test_encode_exact);
  g_test_add_func ("/mqtt/encode/publish-head", test_encode_publish_head);
  g_test_add_func ("/mqtt/utf8", test_utf8);
  g_test_add_func ("/mqtt/names", test_names);

  ret = g_test_run ();
  g_free (last_buf);
  st_buf_clear (&rt_out);
  return ret;
}
