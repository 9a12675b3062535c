/* mqtt-private.h — helpers shared by the codec's .c files, not part of the API. */
#pragma once

#include "mqtt-packet.h"

/* A bounds-checked cursor over a packet. Every read returns false instead of
 * running past `end`, and callers turn that into MQTT_RC_MALFORMED_PACKET. */
typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} MqttReader;

static inline size_t
mqtt_rd_left (const MqttReader *r)
{
  return (size_t) (r->end - r->p);
}

static inline bool
mqtt_rd_u8 (MqttReader *r, uint8_t *v)
{
  if (r->p >= r->end)
    return false;
  *v = *r->p++;
  return true;
}

static inline bool
mqtt_rd_u16 (MqttReader *r, uint16_t *v)
{
  if (mqtt_rd_left (r) < 2)
    return false;
  *v = (uint16_t) ((r->p[0] << 8) | r->p[1]);
  r->p += 2;
  return true;
}

static inline bool
mqtt_rd_u32 (MqttReader *r, uint32_t *v)
{
  if (mqtt_rd_left (r) < 4)
    return false;
  *v = ((uint32_t) r->p[0] << 24) | ((uint32_t) r->p[1] << 16) |
       ((uint32_t) r->p[2] << 8) | (uint32_t) r->p[3];
  r->p += 4;
  return true;
}

/* Binary data: 2-byte length then bytes. */
static inline bool
mqtt_rd_bin (MqttReader *r, MqttBytes *b)
{
  uint16_t n;

  if (!mqtt_rd_u16 (r, &n) || mqtt_rd_left (r) < n)
    return false;
  b->data = r->p;
  b->len = n;
  r->p += n;
  return true;
}

/* UTF-8 string: binary data that must also be well-formed UTF-8. */
static inline bool
mqtt_rd_str (MqttReader *r, MqttBytes *b)
{
  return mqtt_rd_bin (r, b) && mqtt_utf8_valid (b->data, b->len);
}

/* Variable byte integer: at most 4 bytes and, because the spec requires the
 * minimum number of bytes, no trailing zero continuation group. */
bool   mqtt_rd_varint   (MqttReader *r, uint32_t *v);
size_t mqtt_varint_size (uint32_t v);

/* Property decoding/encoding. `ctx` is the packet type (1..15) or
 * MQTT_PROP_CTX_WILL for the will properties of CONNECT. */
#define MQTT_PROP_CTX_WILL 0u

MqttReasonCode mqtt_props_decode (MqttReader     *r,
                                  unsigned        ctx,
                                  bool            from_client,
                                  MqttProperties *props);
bool           mqtt_props_empty  (const MqttProperties *props);
/* Size of the property block including its length prefix. */
size_t         mqtt_props_wire_size (const MqttProperties *props);
/* Writes the length prefix and the properties. */
void           mqtt_props_put    (StBuf *out, const MqttProperties *props);

/* Skips one encoded property (identifier included) in validated bytes;
 * returns false on anything unexpected so iterators never overrun. */
bool           mqtt_props_skip_one (MqttReader *r, uint8_t *id);
