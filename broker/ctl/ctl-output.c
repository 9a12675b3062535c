#define G_LOG_DOMAIN "starlingctl"

/* How starlingctl prints: pretty JSON for machines, aligned tables and
 * "key: value" lines for people, errors on stderr. */

#include "ctl-private.h"

#include <stdio.h>
#include <string.h>

int
ctl_fail (CtlContext *ctx, const GError *error)
{
  if (error->domain == ST_API_ERROR)
    {
      g_printerr ("starlingctl: %s\n", error->message);
      /* 10000 is the API's "no or bad token". */
      if (error->code == 10000)
        g_printerr ("starlingctl: give an API token with --token or STARLING_API_TOKEN "
                    "(a local starlingd's admin token is read from its data directory's admin-token file)\n");
    }
  else if (error->domain == G_IO_ERROR || error->domain == G_RESOLVER_ERROR ||
           error->domain == G_TLS_ERROR)
    g_printerr ("starlingctl: cannot reach %s: %s\n",
                ctx && ctx->client ? st_api_client_get_base_url (ctx->client) : "the server",
                error->message);
  else
    g_printerr ("starlingctl: %s\n", error->message);
  return CTL_EXIT_ERROR;
}

void
ctl_print_json (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  fputs (text, stdout);
  fputc ('\n', stdout);
}

/* ---- Tables -------------------------------------------------------------- */

struct _CtlTable
{
  guint      columns;
  GPtrArray *cells;     /* rows × columns strings, headers first */
};

CtlTable *
ctl_table_new (const char *first_header, ...)
{
  CtlTable *table = g_new0 (CtlTable, 1);
  const char *header;
  va_list args;

  table->cells = g_ptr_array_new_with_free_func (g_free);
  va_start (args, first_header);
  for (header = first_header; header != NULL; header = va_arg (args, const char *))
    {
      g_ptr_array_add (table->cells, g_strdup (header));
      table->columns++;
    }
  va_end (args);
  return table;
}

void
ctl_table_add (CtlTable *table, ...)
{
  va_list args;

  va_start (args, table);
  for (guint i = 0; i < table->columns; i++)
    {
      const char *value = va_arg (args, const char *);
      g_ptr_array_add (table->cells, g_strdup (value ? value : ""));
    }
  va_end (args);
}

static void
pad (GString *out, const char *text, gsize width)
{
  g_string_append (out, text);
  for (gsize n = g_utf8_strlen (text, -1); n < width; n++)
    g_string_append_c (out, ' ');
}

void
ctl_table_print (CtlTable *table)
{
  g_autofree gsize *widths = g_new0 (gsize, table->columns);
  g_autoptr(GString) out = g_string_new (NULL);
  guint rows = table->cells->len / table->columns;

  for (guint i = 0; i < table->cells->len; i++)
    widths[i % table->columns] = MAX (widths[i % table->columns],
                                      (gsize) g_utf8_strlen (g_ptr_array_index (table->cells, i), -1));
  for (guint r = 0; r < rows; r++)
    {
      for (guint c = 0; c < table->columns; c++)
        {
          const char *cell = g_ptr_array_index (table->cells, r * table->columns + c);

          if (c + 1 < table->columns)
            {
              pad (out, cell, widths[c]);
              g_string_append (out, "  ");
            }
          else
            g_string_append (out, cell);
        }
      /* Trailing blanks of empty last cells help nobody. */
      while (out->len > 0 && out->str[out->len - 1] == ' ')
        g_string_truncate (out, out->len - 1);
      g_string_append_c (out, '\n');
    }
  fputs (out->str, stdout);
  g_ptr_array_unref (table->cells);
  g_free (table);
}

void
ctl_print_fields (const char * const *pairs)
{
  gsize width = 0;

  for (guint i = 0; pairs[i] != NULL; i += 2)
    width = MAX (width, strlen (pairs[i]) + 1);
  for (guint i = 0; pairs[i] != NULL; i += 2)
    {
      g_autoptr(GString) line = g_string_new (NULL);

      g_string_append_printf (line, "%s:", pairs[i]);
      pad (line, "", width - line->len);
      g_string_append_printf (line, " %s\n", pairs[i + 1] ? pairs[i + 1] : "");
      fputs (line->str, stdout);
    }
}

/* ---- Values -------------------------------------------------------------- */

const char *
ctl_member_string (JsonObject *object, const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return "";
  return json_node_get_string (node);
}

char *
ctl_format_time (const char *rfc3339)
{
  g_autoptr(GDateTime) t = NULL;
  g_autoptr(GDateTime) utc = NULL;

  if (rfc3339 == NULL || *rfc3339 == '\0')
    return g_strdup ("");
  t = g_date_time_new_from_iso8601 (rfc3339, NULL);
  if (t == NULL)
    return g_strdup (rfc3339);
  utc = g_date_time_to_utc (t);
  return g_date_time_format (utc, "%Y-%m-%dT%H:%M:%SZ");
}

char *
ctl_format_unix (gint64 seconds)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc (seconds);

  if (t == NULL)
    return g_strdup_printf ("%" G_GINT64_FORMAT, seconds);
  return g_date_time_format (t, "%Y-%m-%dT%H:%M:%SZ");
}

char *
ctl_format_duration (gint64 seconds)
{
  static const struct { gint64 seconds; const char *unit; } units[] = {
    { 31536000, "y" }, { 604800, "w" }, { 86400, "d" }, { 3600, "h" }, { 60, "m" },
  };

  if (seconds <= 0)
    return g_strdup ("none");
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (seconds % units[i].seconds == 0)
      return g_strdup_printf ("%" G_GINT64_FORMAT "%s", seconds / units[i].seconds, units[i].unit);
  return g_strdup_printf ("%" G_GINT64_FORMAT "s", seconds);
}

char *
ctl_escape_segment (const char *name)
{
  /* The API checks names itself; escaping only keeps a stray '/' or '?'
   * from turning into another route, so its error is about the name. */
  return g_uri_escape_string (name, NULL, FALSE);
}
