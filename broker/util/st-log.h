/* st-log.h — one log line per message on stderr, filtered by level. */
#pragma once

#include <glib.h>

/* Installs a GLib log writer showing messages at `level` or more severe.
 * Lines carry a UTC timestamp unless stderr goes to the journal. */
void st_log_init (const char *program, GLogLevelFlags level);
void st_log_set_level (GLogLevelFlags level);
