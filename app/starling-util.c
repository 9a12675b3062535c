#define G_LOG_DOMAIN "starling-util"

#include "config.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <adwaita.h>

#include "starling-util.h"

#define NAME_MAX_LEN 63

gboolean
starling_name_check (const char *name,
                     char      **message)
{
  gsize len = name != NULL ? strlen (name) : 0;
  char *reason = NULL;

  /* The same rules as the server's st_store_name_valid(), but each failure
   * gets its own sentence so the user knows what to change. */
  if (len == 0)
    reason = g_strdup (_("Enter a name"));
  else if (len > NAME_MAX_LEN)
    reason = g_strdup_printf (ngettext ("The name is %u character too long (at most 63)",
                                        "The name is %u characters too long (at most 63)",
                                        (gulong) (len - NAME_MAX_LEN)),
                              (guint) (len - NAME_MAX_LEN));
  else if (!g_ascii_isalpha (name[0]))
    reason = g_strdup (_("The name must start with a letter"));
  else if (name[len - 1] == '-')
    reason = g_strdup (_("The name must not end with a hyphen"));
  else
    {
      for (gsize i = 0; i < len; i++)
        if (!g_ascii_isalnum (name[i]) && name[i] != '-')
          {
            gunichar c = g_utf8_get_char_validated (name + i, len - i);

            if (c == (gunichar) -1 || c == (gunichar) -2)
              reason = g_strdup (_("Use only letters a–z, digits and hyphens"));
            else
              {
                char text[8] = { 0 };

                g_unichar_to_utf8 (c, text);
                /* Translators: %s is the character that is not allowed. */
                reason = g_strdup_printf (_("“%s” is not allowed: use only letters a–z, digits and hyphens"),
                                          c == ' ' ? _("space") : text);
              }
            break;
          }
    }

  if (message != NULL)
    *message = reason;
  else
    g_free (reason);
  return len > 0 && reason == NULL;
}

static char *
format_local (GDateTime *utc)
{
  g_autoptr(GDateTime) local = g_date_time_to_local (utc);

  /* Translators: a date and time, see g_date_time_format() */
  return g_date_time_format (local, C_("time format", "%-d %b %Y, %H:%M:%S"));
}

char *
starling_format_time (const char *rfc3339)
{
  g_autoptr(GDateTime) dt = NULL;

  if (rfc3339 == NULL || *rfc3339 == '\0')
    return g_strdup ("—");
  dt = g_date_time_new_from_iso8601 (rfc3339, NULL);
  if (dt == NULL)
    return g_strdup (rfc3339);
  return format_local (dt);
}

char *
starling_format_unix_time (gint64 seconds)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (seconds);

  if (dt == NULL)
    return g_strdup ("—");
  return format_local (dt);
}

/* The largest unit that fits at least once, counted down. */
static char *
format_amount (guint64 seconds)
{
  if (seconds >= 86400)
    return g_strdup_printf (ngettext ("%" PRIu64 " day", "%" PRIu64 " days",
                                      (gulong) (seconds / 86400)), seconds / 86400);
  if (seconds >= 3600)
    return g_strdup_printf (ngettext ("%" PRIu64 " hour", "%" PRIu64 " hours",
                                      (gulong) (seconds / 3600)), seconds / 3600);
  if (seconds >= 60)
    return g_strdup_printf (ngettext ("%" PRIu64 " minute", "%" PRIu64 " minutes",
                                      (gulong) (seconds / 60)), seconds / 60);
  return g_strdup_printf (ngettext ("%" PRIu64 " second", "%" PRIu64 " seconds",
                                    (gulong) seconds), seconds);
}

char *
starling_format_relative (gint64 target,
                          gint64 now)
{
  static const guint64 units[] = { 86400, 3600, 60 };
  g_autofree char *amount = NULL;
  guint64 distance;

  if (target == now)
    return g_strdup (_("now"));
  distance = target > now ? (guint64) (target - now) : (guint64) (now - target);
  /* Rounded to the nearest unit, so a credential issued for two days
   * reads "in 2 days" a second later, not "in 1 day"; below a minute,
   * exact seconds. */
  for (guint i = 0; i < G_N_ELEMENTS (units) && amount == NULL; i++)
    if (distance >= 60 && distance + units[i] / 2 >= units[i])
      amount = format_amount ((distance + units[i] / 2) / units[i] * units[i]);
  if (amount == NULL)
    amount = format_amount (distance);
  /* Translators: %s is an amount of time, "2 days" */
  return g_strdup_printf (target > now ? _("in %s") : _("%s ago"), amount);
}

char *
starling_format_duration (gint64 seconds)
{
  if (seconds <= 0)
    return g_strdup (_("No expiry"));
  /* Exact: 90 seconds stays "90 seconds", not "1 minute". */
  if (seconds % 86400 == 0 || (seconds < 86400 && seconds % 3600 == 0) ||
      (seconds < 3600 && seconds % 60 == 0) || seconds < 60)
    return format_amount (seconds);
  return g_strdup_printf (ngettext ("%" PRId64 " second", "%" PRId64 " seconds",
                                    (gulong) seconds), seconds);
}

void
starling_copy_to_clipboard (GtkWidget  *widget,
                            const char *text,
                            const char *what)
{
  g_autofree char *message = NULL;

  g_return_if_fail (GTK_IS_WIDGET (widget));
  g_return_if_fail (text != NULL);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);
  /* Translators: %s is what was copied, "Token" */
  message = what != NULL ? g_strdup_printf (_("%s copied"), what) : g_strdup (_("Copied"));
  starling_toast (widget, message);
}

static AdwToastOverlay *
find_overlay_below (GtkWidget *widget)
{
  if (ADW_IS_TOAST_OVERLAY (widget))
    return ADW_TOAST_OVERLAY (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      AdwToastOverlay *found = find_overlay_below (child);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static AdwToastOverlay *
find_overlay (GtkWidget *widget)
{
  GtkWidget *ancestor = gtk_widget_get_ancestor (widget, ADW_TYPE_TOAST_OVERLAY);
  GtkRoot *root;

  if (ancestor != NULL)
    return ADW_TOAST_OVERLAY (ancestor);
  root = gtk_widget_get_root (widget);
  if (GTK_IS_WINDOW (root))
    {
      GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (root));
      AdwToastOverlay *found = find_overlay_below (GTK_WIDGET (root));

      if (found != NULL)
        return found;
      if (parent != NULL)
        return find_overlay_below (GTK_WIDGET (parent));
    }
  return NULL;
}

void
starling_toast (GtkWidget  *any_widget_in_window,
                const char *text)
{
  AdwToastOverlay *overlay;
  AdwToast *toast;

  g_return_if_fail (GTK_IS_WIDGET (any_widget_in_window));
  g_return_if_fail (text != NULL);

  overlay = find_overlay (any_widget_in_window);
  if (overlay == NULL)
    {
      /* A widget no longer shown (a page the user left) has nowhere to
       * show it; the log still has it. */
      g_message ("%s", text);
      return;
    }
  toast = adw_toast_new (text);
  adw_toast_set_timeout (toast, 5);
  adw_toast_overlay_add_toast (overlay, toast);
}

void
starling_toast_error (GtkWidget    *widget,
                      const char   *what,
                      const GError *error)
{
  g_autofree char *text = NULL;

  g_return_if_fail (error != NULL);

  if (what != NULL)
    /* Translators: "Could not delete the broker: no broker named …" */
    text = g_strdup_printf (_("%s: %s"), what, error->message);
  else
    text = g_strdup (error->message);
  starling_toast (widget, text);
}

gint64
starling_expiry_to_seconds (StarlingExpiryUnit unit,
                            guint              amount)
{
  switch (unit)
    {
    case STARLING_EXPIRY_SECONDS:
      return amount;
    case STARLING_EXPIRY_HOURS:
      return (gint64) amount * 3600;
    case STARLING_EXPIRY_DAYS:
      return (gint64) amount * 86400;
    case STARLING_EXPIRY_NONE:
    default:
      return -1;
    }
}

void
starling_expiry_from_seconds (gint64              seconds,
                              StarlingExpiryUnit *unit,
                              guint              *amount)
{
  if (seconds <= 0)
    {
      *unit = STARLING_EXPIRY_NONE;
      *amount = 1;
    }
  else if (seconds % 86400 == 0)
    {
      *unit = STARLING_EXPIRY_DAYS;
      *amount = seconds / 86400;
    }
  else if (seconds % 3600 == 0)
    {
      *unit = STARLING_EXPIRY_HOURS;
      *amount = seconds / 3600;
    }
  else
    {
      *unit = STARLING_EXPIRY_SECONDS;
      *amount = MIN (seconds, G_MAXUINT);
    }
}
