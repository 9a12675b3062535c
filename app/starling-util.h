/* starling-util.h — small helpers shared by the app's admin widgets:
 * name checks, time formatting, the clipboard and toasts. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* TRUE when name is a valid namespace or broker name (an RFC 1035 label:
 * 1–63 letters, digits and hyphens, starting with a letter, not ending with
 * a hyphen; upper case is folded by the server).  Otherwise FALSE and, when
 * message is given, a translated sentence saying what is wrong. */
gboolean  starling_name_check          (const char *name,
                                        char      **message);

/* "2026-11-25T20:29:00.123456Z" → the local time, readable
 * ("25 Nov 2026, 21:29:00").  NULL or unparsable text gives a copy of the
 * text (or "—" for NULL), so callers can show it as it is. */
char     *starling_format_time         (const char *rfc3339);

/* Seconds since the epoch → the same readable local time. */
char     *starling_format_unix_time    (gint64      seconds);

/* How far target is from now, both in seconds since the epoch: "in 2 days",
 * "in 5 minutes", "3 hours ago", "now".  The largest whole unit, rounded
 * down. */
char     *starling_format_relative     (gint64      target,
                                        gint64      now);

/* A length of time: "2 days", "1 hour", "90 seconds" (the largest unit that
 * divides it exactly), or "No expiry" for seconds <= 0. */
char     *starling_format_duration     (gint64      seconds);

/* Puts text on the widget's clipboard and toasts what was copied
 * (what: "Token", …; NULL: "Copied"). */
void      starling_copy_to_clipboard   (GtkWidget  *widget,
                                        const char *text,
                                        const char *what);

/* Shows text as a toast in the AdwToastOverlay around widget: its
 * ancestor, or for a dialog without one, the overlay of the window it is
 * transient for.  Without any overlay the text goes to the log, never
 * nowhere. */
void      starling_toast               (GtkWidget  *any_widget_in_window,
                                        const char *text);

/* "what: the API's message" as a toast (what: "Could not delete the
 * broker"; NULL: the message alone). */
void      starling_toast_error         (GtkWidget    *widget,
                                        const char   *what,
                                        const GError *error);

/* The expiration pickers' units, in the order their combo rows list them. */
typedef enum {
  STARLING_EXPIRY_NONE,
  STARLING_EXPIRY_SECONDS,
  STARLING_EXPIRY_HOURS,
  STARLING_EXPIRY_DAYS,
} StarlingExpiryUnit;

/* unit and amount → seconds (-1 for none). */
gint64    starling_expiry_to_seconds   (StarlingExpiryUnit unit,
                                        guint              amount);
/* seconds (<= 0: none) → the largest unit that divides it exactly. */
void      starling_expiry_from_seconds (gint64              seconds,
                                        StarlingExpiryUnit *unit,
                                        guint              *amount);

G_END_DECLS
