/* st-buf.h — a growable byte buffer, reused rather than reallocated. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *data;
  size_t   len;
  size_t   cap;
} StBuf;

#define ST_BUF_INIT { NULL, 0, 0 }

void     st_buf_init     (StBuf *b);
void     st_buf_clear    (StBuf *b);               /* frees the storage */
void     st_buf_reserve  (StBuf *b, size_t extra); /* room for extra more bytes */
void     st_buf_append   (StBuf *b, const void *data, size_t len);
void     st_buf_put_u8   (StBuf *b, uint8_t v);
void     st_buf_put_u16  (StBuf *b, uint16_t v);   /* big endian */
void     st_buf_put_u32  (StBuf *b, uint32_t v);   /* big endian */
void     st_buf_put_varint (StBuf *b, uint32_t v); /* MQTT variable byte integer */
void     st_buf_put_str  (StBuf *b, const void *data, uint16_t len); /* 2-byte length + bytes */
void     st_buf_consume  (StBuf *b, size_t n);     /* drop n bytes from the front */

static inline void
st_buf_reset (StBuf *b)
{
  b->len = 0;
}
