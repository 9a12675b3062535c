#include "st-buf.h"

#include <glib.h>
#include <string.h>

void
st_buf_init (StBuf *b)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void
st_buf_clear (StBuf *b)
{
  g_free (b->data);
  st_buf_init (b);
}

void
st_buf_reserve (StBuf *b, size_t extra)
{
  size_t need = b->len + extra;

  if (need <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  b->data = g_realloc (b->data, cap);
  b->cap = cap;
}

void
st_buf_append (StBuf *b, const void *data, size_t len)
{
  if (len == 0)
    return;
  st_buf_reserve (b, len);
  memcpy (b->data + b->len, data, len);
  b->len += len;
}

void
st_buf_put_u8 (StBuf *b, uint8_t v)
{
  st_buf_reserve (b, 1);
  b->data[b->len++] = v;
}

void
st_buf_put_u16 (StBuf *b, uint16_t v)
{
  st_buf_reserve (b, 2);
  b->data[b->len++] = v >> 8;
  b->data[b->len++] = v & 0xff;
}

void
st_buf_put_u32 (StBuf *b, uint32_t v)
{
  st_buf_reserve (b, 4);
  b->data[b->len++] = v >> 24;
  b->data[b->len++] = (v >> 16) & 0xff;
  b->data[b->len++] = (v >> 8) & 0xff;
  b->data[b->len++] = v & 0xff;
}

void
st_buf_put_varint (StBuf *b, uint32_t v)
{
  st_buf_reserve (b, 4);
  do
    {
      uint8_t byte = v & 0x7f;
      v >>= 7;
      if (v)
        byte |= 0x80;
      b->data[b->len++] = byte;
    }
  while (v);
}

void
st_buf_put_str (StBuf *b, const void *data, uint16_t len)
{
  st_buf_put_u16 (b, len);
  st_buf_append (b, data, len);
}

void
st_buf_consume (StBuf *b, size_t n)
{
  g_assert (n <= b->len);
  if (n == b->len)
    {
      b->len = 0;
      return;
    }
  memmove (b->data, b->data + n, b->len - n);
  b->len -= n;
}
