#include "st-bytes.h"

#include <string.h>

StBytes *
st_bytes_new (const void *data, size_t len)
{
  g_assert (len <= UINT32_MAX);
  StBytes *b = g_malloc (sizeof (StBytes) + len);

  g_atomic_ref_count_init (&b->ref);
  b->len = (uint32_t) len;
  if (len)
    memcpy (b->data, data, len);
  return b;
}

StBytes *
st_bytes_ref (StBytes *b)
{
  g_atomic_ref_count_inc (&b->ref);
  return b;
}

void
st_bytes_unref (StBytes *b)
{
  if (b && g_atomic_ref_count_dec (&b->ref))
    g_free (b);
}
