/* mqtt-topic.c — topic names, topic filters and matching (section 4.7). */
#define G_LOG_DOMAIN "starling-mqtt"

#include "mqtt-private.h"

#define SHARE_PREFIX     "$share/"
#define SHARE_PREFIX_LEN 7

bool
mqtt_topic_name_valid (MqttBytes topic)
{
  if (topic.len == 0 || !mqtt_utf8_valid (topic.data, topic.len))
    return false;
  for (uint32_t i = 0; i < topic.len; i++)
    if (topic.data[i] == '+' || topic.data[i] == '#')
      return false;
  return true;
}

/* Wildcard placement only; UTF-8 is checked by the caller. */
static bool
plain_filter_valid (const uint8_t *f, size_t len)
{
  if (len == 0)
    return false;
  for (size_t i = 0; i < len; i++)
    {
      bool level_start = i == 0 || f[i - 1] == '/';

      if (f[i] == '#')
        {
          if (!level_start || i != len - 1)
            return false;
        }
      else if (f[i] == '+')
        {
          if (!level_start || (i + 1 < len && f[i + 1] != '/'))
            return false;
        }
    }
  return true;
}

bool
mqtt_topic_filter_valid (MqttBytes filter, bool allow_shared)
{
  const uint8_t *group, *slash, *end;

  if (filter.len == 0 || !mqtt_utf8_valid (filter.data, filter.len))
    return false;

  if (filter.len < SHARE_PREFIX_LEN ||
      memcmp (filter.data, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
    return plain_filter_valid (filter.data, filter.len);

  if (!allow_shared)
    return false;

  /* $share/{ShareName}/{filter} [MQTT-4.8.2-1, 4.8.2-2] */
  end = filter.data + filter.len;
  group = filter.data + SHARE_PREFIX_LEN;
  slash = memchr (group, '/', (size_t) (end - group));
  if (slash == NULL || slash == group)
    return false;
  for (const uint8_t *p = group; p < slash; p++)
    if (*p == '+' || *p == '#')
      return false;
  return plain_filter_valid (slash + 1, (size_t) (end - slash - 1));
}

bool
mqtt_topic_matches (MqttBytes filter, MqttBytes topic)
{
  const uint8_t *f = filter.data, *fe = filter.len ? filter.data + filter.len : f;
  const uint8_t *t = topic.data, *te = topic.len ? topic.data + topic.len : t;
  bool topic_done = false;

  /* [MQTT-4.7.2-1]: "#" and "+/..." do not match "$SYS/..." and the like. */
  if (topic.len > 0 && t[0] == '$' && filter.len > 0 && (f[0] == '+' || f[0] == '#'))
    return false;

  for (;;)
    {
      const uint8_t *fl = f, *tl = t;
      size_t flen, tlen;

      while (f < fe && *f != '/')
        f++;
      flen = (size_t) (f - fl);

      /* '#' matches the remaining levels, and the parent level: "sport/#"
       * matches "sport" even though the topic has no more levels. */
      if (flen == 1 && *fl == '#')
        return true;
      if (topic_done)
        return false;

      while (t < te && *t != '/')
        t++;
      tlen = (size_t) (t - tl);

      if (!(flen == 1 && *fl == '+') &&
          (flen != tlen || (flen > 0 && memcmp (fl, tl, flen) != 0)))
        return false;

      if (f == fe)
        return t == te;
      f++;
      if (t == te)
        topic_done = true;
      else
        t++;
    }
}
