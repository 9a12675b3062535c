#define G_LOG_DOMAIN "starling-payload"

#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "starling-payload.h"

G_DEFINE_QUARK (starling-payload-error-quark, starling_payload_error)

/* Readable in both light and dark styles (GNOME palette, mid tones). */
#define COLOR_KEY     "#3584e4"
#define COLOR_STRING  "#2ec27e"
#define COLOR_NUMBER  "#e66100"
#define COLOR_LITERAL "#9141ac"

static const guint8 *
bytes_data (GBytes *payload, gsize *len)
{
  if (payload == NULL)
    {
      *len = 0;
      return (const guint8 *) "";
    }
  return g_bytes_get_data (payload, len) ?: (const guint8 *) "";
}

gboolean
starling_payload_is_text (GBytes *payload)
{
  gsize len;
  const guint8 *data = bytes_data (payload, &len);

  return memchr (data, '\0', len) == NULL && g_utf8_validate ((const char *) data, len, NULL);
}

char *
starling_payload_preview (GBytes *payload, guint max_chars)
{
  gsize len;
  const guint8 *data = bytes_data (payload, &len);
  GString *out;

  if (len == 0)
    return g_strdup ("");
  if (!starling_payload_is_text (payload))
    {
      /* Two characters a byte, after "0x". */
      gsize n = MIN (len, max_chars > 4 ? (max_chars - 2) / 2 : 1);

      out = g_string_new ("0x");
      for (gsize i = 0; i < n; i++)
        g_string_append_printf (out, "%02x", data[i]);
      if (n < len)
        g_string_append (out, "…");
      return g_string_free (out, FALSE);
    }

  out = g_string_sized_new (MIN (len, (gsize) max_chars * 4) + 4);
  {
    const char *p = (const char *) data;
    const char *end = p + len;
    guint n = 0;
    gboolean space = FALSE;

    /* Runs of whitespace and control characters become one space, so
     * pretty-printed JSON previews as one readable line. */
    while (p < end && n < max_chars)
      {
        gunichar c = g_utf8_get_char (p);

        if (g_unichar_isspace (c) || g_unichar_iscntrl (c))
          {
            if (!space && n > 0)
              {
                g_string_append_c (out, ' ');
                n++;
              }
            space = TRUE;
          }
        else
          {
            g_string_append_unichar (out, c);
            space = FALSE;
            n++;
          }
        p = g_utf8_next_char (p);
      }
    if (p < end)
      g_string_append (out, "…");
  }
  return g_string_free (out, FALSE);
}

char *
starling_payload_to_text (GBytes *payload)
{
  gsize len;
  const guint8 *data = bytes_data (payload, &len);

  return g_utf8_make_valid ((const char *) data, len);
}

static void
append_span (GString *out, const char *color, const char *text, gssize len)
{
  g_autofree char *escaped = g_markup_escape_text (text, len);

  g_string_append_printf (out, "<span foreground=\"%s\">%s</span>", color, escaped);
}

/* The generator's output is valid JSON, so a small scanner can colour it:
 * a string followed by ':' is a key. */
static char *
highlight_json (const char *json)
{
  GString *out = g_string_sized_new (strlen (json) * 2);
  const char *p = json;

  while (*p)
    {
      if (*p == '"')
        {
          const char *start = p++;
          const char *after;

          while (*p && *p != '"')
            p += (*p == '\\' && p[1]) ? 2 : 1;
          if (*p == '"')
            p++;
          after = p;
          while (*after == ' ')
            after++;
          append_span (out, *after == ':' ? COLOR_KEY : COLOR_STRING, start, p - start);
        }
      else if (*p == '-' || g_ascii_isdigit (*p))
        {
          const char *start = p;

          while (*p && (g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == '+'))
            p++;
          append_span (out, COLOR_NUMBER, start, p - start);
        }
      else if (g_ascii_isalpha (*p))
        {
          const char *start = p;

          while (g_ascii_isalpha (*p))
            p++;
          append_span (out, COLOR_LITERAL, start, p - start);
        }
      else
        {
          const char *start = p;

          while (*p && *p != '"' && *p != '-' && !g_ascii_isalnum (*p))
            p++;
          {
            g_autofree char *escaped = g_markup_escape_text (start, p - start);
            g_string_append (out, escaped);
          }
        }
    }
  return g_string_free (out, FALSE);
}

char *
starling_payload_to_json_markup (GBytes *payload, GError **error)
{
  gsize len;
  const guint8 *data = bytes_data (payload, &len);
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(JsonGenerator) generator = NULL;
  g_autofree char *pretty = NULL;
  g_autoptr(GError) local = NULL;

  if (len == 0 || !starling_payload_is_text (payload))
    {
      g_set_error_literal (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                           len == 0 ? _("The payload is empty") : _("The payload is not text"));
      return NULL;
    }
  if (!json_parser_load_from_data (parser, (const char *) data, len, &local))
    {
      g_set_error (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                   _("Not JSON: %s"), local->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                           _("Not JSON: no value"));
      return NULL;
    }
  generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, json_parser_get_root (parser));
  pretty = json_generator_to_data (generator, NULL);
  return highlight_json (pretty);
}

char *
starling_payload_to_hex_dump (GBytes *payload)
{
  gsize len;
  const guint8 *data = bytes_data (payload, &len);
  GString *out = g_string_sized_new ((len / 16 + 1) * 80);

  for (gsize line = 0; line < len; line += 16)
    {
      g_string_append_printf (out, "%08" G_GSIZE_MODIFIER "x  ", line);
      for (gsize i = 0; i < 16; i++)
        {
          if (line + i < len)
            g_string_append_printf (out, "%02x ", data[line + i]);
          else
            g_string_append (out, "   ");
          if (i == 7)
            g_string_append_c (out, ' ');
        }
      g_string_append (out, " |");
      for (gsize i = 0; i < 16 && line + i < len; i++)
        {
          guint8 c = data[line + i];
          g_string_append_c (out, c >= 0x20 && c < 0x7f ? (char) c : '.');
        }
      g_string_append (out, "|\n");
    }
  return g_string_free (out, FALSE);
}

char *
starling_payload_to_base64 (GBytes *payload)
{
  gsize len;
  const guint8 *data = bytes_data (payload, &len);

  return g_base64_encode (data, len);
}

static GBytes *
parse_hex (const char *text, GError **error)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  const char *p = text;
  int high = -1;

  while (g_ascii_isspace (*p))
    p++;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    p += 2;
  for (; *p; p++)
    {
      int v;

      if (g_ascii_isspace (*p))
        continue;
      v = g_ascii_xdigit_value (*p);
      if (v < 0)
        {
          g_set_error (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                       _("“%c” at position %d is not a hex digit"), *p, (int) (p - text) + 1);
          return NULL;
        }
      if (high < 0)
        high = v;
      else
        {
          guint8 b = (guint8) (high << 4 | v);
          g_byte_array_append (out, &b, 1);
          high = -1;
        }
    }
  if (high >= 0)
    {
      g_set_error_literal (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                           _("Hex needs two digits for every byte (the last one has one)"));
      return NULL;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static GBytes *
parse_base64 (const char *text, GError **error)
{
  g_autoptr(GString) clean = g_string_new (NULL);
  guchar *decoded;
  gsize len, pad = 0;

  for (const char *p = text; *p; p++)
    {
      if (g_ascii_isspace (*p))
        continue;
      if (!(g_ascii_isalnum (*p) || *p == '+' || *p == '/' || *p == '='))
        {
          g_set_error (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                       _("“%c” at position %d is not base64"), *p, (int) (p - text) + 1);
          return NULL;
        }
      if (*p == '=')
        pad++;
      else if (pad > 0)
        {
          g_set_error_literal (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                               _("Base64 padding (“=”) may only end the text"));
          return NULL;
        }
      g_string_append_c (clean, *p);
    }
  if (clean->len % 4 != 0 || pad > 2)
    {
      g_set_error_literal (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                           _("Base64 comes in groups of four characters (pad with “=”)"));
      return NULL;
    }
  if (clean->len == 0)
    return g_bytes_new (NULL, 0);
  decoded = g_base64_decode (clean->str, &len);
  return g_bytes_new_take (decoded, len);
}

GBytes *
starling_payload_parse (const char *text, StarlingPayloadFormat format, GError **error)
{
  g_return_val_if_fail (text != NULL, NULL);

  switch (format)
    {
    case STARLING_PAYLOAD_TEXT:
      return g_bytes_new (text, strlen (text));
    case STARLING_PAYLOAD_JSON:
      {
        g_autoptr(JsonParser) parser = json_parser_new_immutable ();
        g_autoptr(GError) local = NULL;

        if (!json_parser_load_from_data (parser, text, -1, &local))
          {
            g_set_error (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                         _("Not JSON: %s"), local->message);
            return NULL;
          }
        if (json_parser_get_root (parser) == NULL)
          {
            g_set_error_literal (error, STARLING_PAYLOAD_ERROR, STARLING_PAYLOAD_ERROR_INVALID,
                                 _("Not JSON: no value"));
            return NULL;
          }
        return g_bytes_new (text, strlen (text));
      }
    case STARLING_PAYLOAD_HEX:
      return parse_hex (text, error);
    case STARLING_PAYLOAD_BASE64:
      return parse_base64 (text, error);
    default:
      g_return_val_if_reached (NULL);
    }
}

static gboolean
parse_number (const char *text, gsize len, double *value)
{
  char buf[64];
  char *end;

  while (len > 0 && g_ascii_isspace (*text))
    text++, len--;
  while (len > 0 && g_ascii_isspace (text[len - 1]))
    len--;
  if (len == 0 || len >= sizeof buf)
    return FALSE;
  memcpy (buf, text, len);
  buf[len] = '\0';
  *value = g_ascii_strtod (buf, &end);
  return *end == '\0' && end != buf && isfinite (*value);
}

gboolean
starling_payload_get_number (GBytes *payload, const char *field, double *value)
{
  gsize len;
  const guint8 *data = bytes_data (payload, &len);
  g_autoptr(JsonParser) parser = NULL;
  g_auto(GStrv) path = NULL;
  JsonNode *node;

  g_return_val_if_fail (value != NULL, FALSE);

  if (field == NULL || *field == '\0')
    return parse_number ((const char *) data, len, value);
  if (len == 0 || data[0] == '\0')
    return FALSE;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, (const char *) data, len, NULL))
    return FALSE;
  node = json_parser_get_root (parser);
  path = g_strsplit (field, ".", -1);
  for (guint i = 0; path[i] && node; i++)
    {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        return FALSE;
      node = json_object_get_member (json_node_get_object (node), path[i]);
    }
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      *value = (double) json_node_get_int (node);
      return TRUE;
    case G_TYPE_DOUBLE:
      *value = json_node_get_double (node);
      return TRUE;
    case G_TYPE_BOOLEAN:
      *value = json_node_get_boolean (node) ? 1 : 0;
      return TRUE;
    case G_TYPE_STRING:
      {
        const char *s = json_node_get_string (node);
        return parse_number (s, strlen (s), value);
      }
    default:
      return FALSE;
    }
}
