#include "st-log.h"

#include <stdio.h>
#include <unistd.h>

static struct {
  char          *program;
  gint           max_level;  /* numeric GLogLevelFlags bit: smaller is more severe */
  gboolean       journal;
} log_state;

void
st_log_set_level (GLogLevelFlags level)
{
  g_atomic_int_set (&log_state.max_level, level);
}

static const char *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "error";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "critical";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "message";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *message = NULL, *domain = NULL;
  GLogLevelFlags severity = level & G_LOG_LEVEL_MASK;

  /* The lowest set bit is the level: ERROR=4 ... DEBUG=128. */
  if ((gint) (severity & -severity) > g_atomic_int_get (&log_state.max_level))
    return G_LOG_WRITER_HANDLED;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
      else if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
    }

  g_autoptr(GString) line = g_string_new (NULL);
  if (!log_state.journal)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S.%fZ");
      /* microseconds are more than a log needs: keep milliseconds */
      g_string_append_len (line, stamp, 23);
      g_string_append (line, "Z ");
    }
  /* the program's own messages need no domain after its name */
  if (domain && g_strcmp0 (domain, log_state.program) == 0)
    domain = NULL;
  g_string_append_printf (line, "%s: %s: %s%s%s\n", log_state.program, level_name (severity),
                          domain ? domain : "", domain ? ": " : "", message ? message : "");
  fwrite (line->str, 1, line->len, stderr);
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

void
st_log_init (const char *program, GLogLevelFlags level)
{
  g_free (log_state.program);
  log_state.program = g_strdup (program);
  log_state.journal = g_getenv ("JOURNAL_STREAM") != NULL;
  st_log_set_level (level);
  g_log_set_writer_func (writer, NULL, NULL);
}
