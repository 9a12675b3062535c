/* starling-log-view.h — the inspector's message log on screen: rows of
 * StarlingMessage in six columns (time, topic, QoS, retain, size, payload)
 * under a header, from a GtkSelectionModel, in a GtkScrolledWindow.
 *
 * It makes only the rows that fit in its height, and gives them other
 * messages as it scrolls or as the model changes: a full log that takes
 * and drops thousands of messages a second costs the same few rows every
 * frame.  (GTK 4.8's list views keep up to 200 rows alive and make them
 * all again when the item they hang from goes, which took frames of over
 * 100 ms under that load.)
 *
 * Scrolled to the top or the bottom, the view stays there as messages
 * come (see set_follow_bottom for an empty one); scrolled anywhere else, it keeps the messages on screen in place
 * while others come and go above them. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define STARLING_TYPE_LOG_VIEW (starling_log_view_get_type ())
G_DECLARE_FINAL_TYPE (StarlingLogView, starling_log_view, STARLING, LOG_VIEW, GtkWidget)

typedef enum {
  STARLING_LOG_COLUMN_TIME,
  STARLING_LOG_COLUMN_TOPIC,
  STARLING_LOG_COLUMN_QOS,
  STARLING_LOG_COLUMN_RETAIN,
  STARLING_LOG_COLUMN_SIZE,
  STARLING_LOG_COLUMN_PAYLOAD,
  STARLING_LOG_N_COLUMNS
} StarlingLogColumn;

GtkWidget         *starling_log_view_new               (void);

/* Items are StarlingMessage. */
GtkSelectionModel *starling_log_view_get_model         (StarlingLogView   *self);
void               starling_log_view_set_model         (StarlingLogView   *self,
                                                        GtkSelectionModel *model);

/* Whether new messages come at the bottom (a log newest last): then a
 * view whose items all fit follows the bottom as they come, not only a
 * view scrolled to the bottom. */
void               starling_log_view_set_follow_bottom (StarlingLogView   *self,
                                                        gboolean           follow_bottom);

/* Scrolls (at the next layout) just enough to show the item at @position. */
void               starling_log_view_scroll_to         (StarlingLogView   *self,
                                                        guint              position);

/* What is on screen, as of the last layout: how many row widgets exist,
 * how many show an item, the position of the top one
 * (GTK_INVALID_LIST_POSITION when none), and the text of a cell of the
 * n-th shown row from the top (NULL past the last). */
guint              starling_log_view_get_n_rows        (StarlingLogView   *self);
guint              starling_log_view_get_n_shown       (StarlingLogView   *self);
guint              starling_log_view_get_first_shown   (StarlingLogView   *self);
const char        *starling_log_view_get_cell_text     (StarlingLogView   *self,
                                                        guint              n,
                                                        StarlingLogColumn  column);

G_END_DECLS
