/* mqtt-frame.c — finding packet boundaries and variable byte integers. */
#define G_LOG_DOMAIN "starling-mqtt"

#include "mqtt-private.h"

size_t
mqtt_varint_size (uint32_t v)
{
  if (v < 128u)
    return 1;
  if (v < 16384u)
    return 2;
  if (v < 2097152u)
    return 3;
  return 4;
}

bool
mqtt_rd_varint (MqttReader *r, uint32_t *v)
{
  uint32_t value = 0;

  for (unsigned i = 0; i < 4; i++)
    {
      uint8_t byte;

      if (!mqtt_rd_u8 (r, &byte))
        return false;
      value |= (uint32_t) (byte & 0x7f) << (7 * i);
      if (!(byte & 0x80))
        {
          /* A last group of 0 after the first byte means a shorter encoding
           * existed: the spec requires the minimal one [MQTT-1.5.5-1]. */
          if (i > 0 && byte == 0)
            return false;
          *v = value;
          return true;
        }
    }
  return false;
}

MqttFrameResult
mqtt_frame (const uint8_t *buf,
            size_t         len,
            size_t        *header_len,
            uint32_t      *remaining_len)
{
  uint32_t value = 0;

  *header_len = 0;
  *remaining_len = 0;

  for (size_t i = 0; i < 4; i++)
    {
      uint8_t byte;

      if (len < i + 2)
        return MQTT_FRAME_INCOMPLETE;
      byte = buf[i + 1];
      value |= (uint32_t) (byte & 0x7f) << (7 * i);
      if (byte & 0x80)
        continue;
      if (i > 0 && byte == 0)
        return MQTT_FRAME_MALFORMED;
      /* Reported even while incomplete, so a caller can refuse an oversized
       * packet before buffering all of it. */
      *header_len = i + 2;
      *remaining_len = value;
      if (len - *header_len < value)
        return MQTT_FRAME_INCOMPLETE;
      return MQTT_FRAME_OK;
    }
  return MQTT_FRAME_MALFORMED;
}
