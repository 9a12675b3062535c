/* st-config.h — starlingd's settings, from a key file and from flags.
 *
 * A file key and a command-line flag share one name and one parser:
 * "mqtt = 0.0.0.0:1883" under [starlingd] is "--mqtt 0.0.0.0:1883";
 * "max-packet-size = 65536" under [limits] is "--max-packet-size 65536".
 */
#pragma once

#include <gio/gio.h>

#include "st-server.h"

typedef struct {
  const char *group;        /* "starlingd" or "limits" */
  const char *key;
  const char *arg;          /* what the value looks like, for --help */
  const char *description;
} StConfigKey;

/* Every key, ending with a zeroed entry. */
const StConfigKey *st_config_keys (void);

/* Sets key (without group) to value; errors say what is wrong with the value. */
gboolean st_config_set (StServerConfig *config,
                        const char     *key,
                        const char     *value,
                        GError        **error);

/* Reads a key file. Errors name the file, the line and what is wrong. */
gboolean st_config_load_file (StServerConfig *config,
                              const char     *path,
                              GError        **error);

/* Log level names: error, warning, message, info, debug. */
gboolean st_config_parse_log_level (const char     *name,
                                    GLogLevelFlags *level,
                                    GError        **error);
