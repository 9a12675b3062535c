/* mqtt-utf8.c — the UTF-8 rules of MQTT section 1.5.4. */
#define G_LOG_DOMAIN "starling-mqtt"

#include "mqtt-private.h"

bool
mqtt_utf8_valid (const uint8_t *s, size_t len)
{
  size_t i = 0;

  while (i < len)
    {
      uint8_t c = s[i];
      uint8_t lo = 0x80, hi = 0xbf;
      size_t need;

      if (c < 0x80)
        {
          /* U+0000 is forbidden [MQTT-1.5.4-2]; other controls are allowed. */
          if (c == 0)
            return false;
          i++;
          continue;
        }

      /* The ranges below are those of RFC 3629 section 4: they exclude
       * overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates
       * (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF). */
      if (c < 0xc2)
        return false;
      else if (c < 0xe0)
        need = 1;
      else if (c < 0xf0)
        {
          need = 2;
          if (c == 0xe0)
            lo = 0xa0;
          else if (c == 0xed)
            hi = 0x9f;
        }
      else if (c < 0xf5)
        {
          need = 3;
          if (c == 0xf0)
            lo = 0x90;
          else if (c == 0xf4)
            hi = 0x8f;
        }
      else
        return false;

      if (len - i - 1 < need)
        return false;
      if (s[i + 1] < lo || s[i + 1] > hi)
        return false;
      for (size_t k = 2; k <= need; k++)
        if ((s[i + k] & 0xc0) != 0x80)
          return false;
      i += need + 1;
    }
  return true;
}
