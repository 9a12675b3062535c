/* ctl-private.h — shared by the files of starlingctl: the command tables,
 * the context a command runs in, and the output helpers. */
#pragma once

#include <glib.h>

#include "st-api-client.h"

G_BEGIN_DECLS

/* Exit statuses: 1 for an error the server or the network reported, 2 for
 * a command line that cannot be sent at all. */
enum {
  CTL_EXIT_OK    = 0,
  CTL_EXIT_ERROR = 1,
  CTL_EXIT_USAGE = 2,
};

typedef struct {
  StApiClient *client;
  gboolean     json;       /* --json: the API's result, pretty, on stdout */
  const char  *group;      /* "broker" */
  const char  *command;    /* "issue" */
} CtlContext;

typedef struct {
  const char          *name;
  const char          *parameter;   /* "NAME", or NULL for none */
  const char          *summary;
  const GOptionEntry  *entries;     /* the command's own flags, or NULL */
  /* Checks the flags (FALSE with a usage error) before anything is sent. */
  gboolean           (*check) (CtlContext *ctx, char **args, GError **error);
  int                (*run)   (CtlContext *ctx, char **args);
} CtlCommand;

typedef struct {
  const char       *name;
  const char       *summary;
  const CtlCommand *commands;       /* ends with a zeroed entry */
  /* A group that is one command ("starlingctl ca"), or NULL. */
  const CtlCommand *single;
} CtlGroup;

extern const CtlGroup ctl_namespace_group;
extern const CtlGroup ctl_broker_group;
extern const CtlGroup ctl_ca_group;

/* ---- ctl-output.c ---- */

/* Prints "starlingctl: <message>" on stderr; returns the exit status. */
int          ctl_fail            (CtlContext   *ctx,
                                  const GError *error);
void         ctl_print_json      (JsonNode     *node);

typedef struct _CtlTable CtlTable;
CtlTable    *ctl_table_new       (const char   *first_header,
                                  ...) G_GNUC_NULL_TERMINATED;
/* Takes as many values as there are headers; NULL prints as "". */
void         ctl_table_add       (CtlTable     *table,
                                  ...);
/* Prints and frees; the last column is not padded. */
void         ctl_table_print     (CtlTable     *table);

/* "key: value" lines with the values aligned. */
void         ctl_print_fields    (const char * const *pairs);

/* Members, "" when absent or null. */
const char  *ctl_member_string   (JsonObject   *object,
                                  const char   *member);
/* An RFC 3339 time, shortened to whole seconds. */
char        *ctl_format_time     (const char   *rfc3339);
char        *ctl_format_unix     (gint64        seconds);
/* 172800 → "2d"; the largest unit that divides exactly. */
char        *ctl_format_duration (gint64        seconds);

/* A name as one URL path segment. */
char        *ctl_escape_segment  (const char   *name);

G_END_DECLS
