/* st-base64url.h — RFC 4648 §5 base64url without padding, as JOSE uses it.
 *
 * The decoder is strict on purpose: a token has exactly one valid encoding,
 * so padding, characters outside the URL-safe alphabet and non-zero unused
 * trailing bits are all rejected rather than silently normalised. That keeps
 * "the same token" and "the same bytes" the same thing (a revoked or logged
 * token cannot reappear under a second spelling). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ST_BASE64URL_ERROR (st_base64url_error_quark ())

typedef enum {
  ST_BASE64URL_ERROR_INVALID,
} StBase64urlError;

GQuark   st_base64url_error_quark  (void);

/* Returns a newly allocated NUL-terminated string (empty for len 0). */
char    *st_base64url_encode       (const guint8 *data,
                                    gsize         len);

/* Decodes @len bytes of @text (-1: NUL-terminated). Returns a newly
 * allocated buffer of *@out_len bytes followed by one extra NUL byte, so
 * decoded JSON can be handed to a parser as a string; NULL on error. */
guint8  *st_base64url_decode       (const char   *text,
                                    gssize        len,
                                    gsize        *out_len,
                                    GError      **error);

G_END_DECLS
