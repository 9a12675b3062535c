/* starling-payload.h — how the inspector shows payloads (text, highlighted
 * JSON, hex dump, base64, a one-line preview, a number for the chart) and
 * how the publish pane reads what was typed in each of those formats. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  STARLING_PAYLOAD_TEXT,
  STARLING_PAYLOAD_JSON,
  STARLING_PAYLOAD_HEX,
  STARLING_PAYLOAD_BASE64,
} StarlingPayloadFormat;

#define STARLING_PAYLOAD_ERROR (starling_payload_error_quark ())
GQuark starling_payload_error_quark (void);

typedef enum {
  STARLING_PAYLOAD_ERROR_INVALID,
} StarlingPayloadError;

/* TRUE when the bytes are valid UTF-8 without NUL. */
gboolean  starling_payload_is_text      (GBytes *payload);

/* At most max_chars characters on one line: text with control characters
 * shown as spaces, or for binary "0x" and the first bytes in hex; "" for
 * an empty payload. */
char     *starling_payload_preview      (GBytes *payload,
                                         guint   max_chars);

/* The payload as text: invalid UTF-8 replaced by U+FFFD. */
char     *starling_payload_to_text      (GBytes *payload);

/* Pretty-printed JSON (2-space indent) as Pango markup, with keys,
 * strings, numbers and literals coloured.  NULL and error when the payload
 * is not JSON. */
char     *starling_payload_to_json_markup (GBytes  *payload,
                                           GError **error);

/* "00000000  48 65 6c 6c 6f 20 77 6f  72 6c 64 0a              |Hello world.|"
 * 16 bytes a line, one line per 16 bytes, each ending in '\n'. */
char     *starling_payload_to_hex_dump  (GBytes *payload);

char     *starling_payload_to_base64    (GBytes *payload);

/* What the publish pane typed → the bytes to send.  TEXT: as is; JSON:
 * must parse (sent as typed); HEX: pairs of hex digits, whitespace and an
 * optional "0x" ignored; BASE64: standard alphabet, whitespace ignored,
 * padding checked.  NULL and STARLING_PAYLOAD_ERROR_INVALID (a sentence
 * saying where) otherwise. */
GBytes   *starling_payload_parse        (const char            *text,
                                         StarlingPayloadFormat  format,
                                         GError               **error);

/* A number for the chart: the whole payload as a number ("21.5"), or with
 * field ("temp", "a.b.c": a path of object members), that member of a JSON
 * object.  FALSE when there is none. */
gboolean  starling_payload_get_number   (GBytes     *payload,
                                         const char *field,
                                         double     *value);

G_END_DECLS
