#define G_LOG_DOMAIN "starling-auth"

#include "st-base64url.h"

#include <string.h>

G_DEFINE_QUARK (st-base64url-error-quark, st_base64url_error)

static const char alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
st_base64url_encode (const guint8 *data,
                     gsize         len)
{
  char *out, *p;
  gsize i;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  /* 4 characters per 3 bytes, rounded up, no padding. */
  out = p = g_malloc (len / 3 * 4 + 4 + 1);
  for (i = 0; i + 3 <= len; i += 3)
    {
      guint32 v = (guint32) data[i] << 16 | (guint32) data[i + 1] << 8 | data[i + 2];

      *p++ = alphabet[(v >> 18) & 63];
      *p++ = alphabet[(v >> 12) & 63];
      *p++ = alphabet[(v >> 6) & 63];
      *p++ = alphabet[v & 63];
    }
  if (len - i == 1)
    {
      guint32 v = (guint32) data[i] << 16;

      *p++ = alphabet[(v >> 18) & 63];
      *p++ = alphabet[(v >> 12) & 63];
    }
  else if (len - i == 2)
    {
      guint32 v = (guint32) data[i] << 16 | (guint32) data[i + 1] << 8;

      *p++ = alphabet[(v >> 18) & 63];
      *p++ = alphabet[(v >> 12) & 63];
      *p++ = alphabet[(v >> 6) & 63];
    }
  *p = '\0';
  return out;
}

/* The 6-bit value of @c, or -1. A switch on ranges rather than a table:
 * short, obviously correct, and this is not a hot path. */
static int
decode_char (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

guint8 *
st_base64url_decode (const char  *text,
                     gssize       len,
                     gsize       *out_len,
                     GError     **error)
{
  g_autofree guint8 *out = NULL;
  gsize n, i, o = 0, rem;
  guint32 v = 0;

  g_return_val_if_fail (text != NULL || len == 0, NULL);
  g_return_val_if_fail (out_len != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  n = len < 0 ? strlen (text) : (gsize) len;

  /* One leftover character carries only 6 bits: never a whole byte. */
  rem = n % 4;
  if (rem == 1)
    {
      g_set_error (error, ST_BASE64URL_ERROR, ST_BASE64URL_ERROR_INVALID,
                   "base64url: impossible length %" G_GSIZE_FORMAT, n);
      return NULL;
    }

  out = g_malloc (n / 4 * 3 + 2 + 1);
  for (i = 0; i < n; i++)
    {
      int d = decode_char (text[i]);

      if (d < 0)
        {
          g_set_error (error, ST_BASE64URL_ERROR, ST_BASE64URL_ERROR_INVALID,
                       "base64url: invalid character at offset %" G_GSIZE_FORMAT
                       " (padding is not allowed)", i);
          return NULL;
        }
      v = v << 6 | (guint32) d;
      if (i % 4 == 3)
        {
          out[o++] = v >> 16;
          out[o++] = v >> 8;
          out[o++] = v;
          v = 0;
        }
    }

  /* A partial group: 2 characters give one byte (4 bits left over), 3 give
   * two bytes (2 bits left over). Those unused bits must be zero, or two
   * different strings would decode to the same bytes. */
  if (rem == 2)
    {
      if (v & 0xf)
        goto noncanonical;
      out[o++] = v >> 4;
    }
  else if (rem == 3)
    {
      if (v & 0x3)
        goto noncanonical;
      out[o++] = v >> 10;
      out[o++] = v >> 2;
    }

  out[o] = '\0';
  *out_len = o;
  return g_steal_pointer (&out);

noncanonical:
  g_set_error (error, ST_BASE64URL_ERROR, ST_BASE64URL_ERROR_INVALID,
               "base64url: non-zero trailing bits (not the canonical encoding)");
  return NULL;
}
