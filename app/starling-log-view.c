#define G_LOG_DOMAIN "starling-inspector"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>

#include "starling-log-view.h"
#include "starling-message.h"

/* The row's look is the widget's own, not the app's style sheet: it
 * looks the same in any app or test that shows it. */
#define COLUMN_SPACING 12
#define ROW_PADDING_X  8
#define ROW_PADDING_Y  2
/* The topic column takes this share of what the fixed columns leave. */
#define TOPIC_SHARE 0.4
#define TOPIC_MIN   120
#define TOPIC_MAX   420
#define FLEX_MIN    40

/* ---- A row: one label a column, at the columns' offsets --------------------------- */

#define STARLING_TYPE_LOG_ROW (starling_log_row_get_type ())
G_DECLARE_FINAL_TYPE (StarlingLogRow, starling_log_row, STARLING, LOG_ROW, GtkWidget)

struct _StarlingLogRow
{
  GtkWidget        parent_instance;
  GtkWidget       *cells[STARLING_LOG_N_COLUMNS];
  StarlingMessage *message;    /* the one shown; NULL for the header or a spare row */
  gboolean         selected;
};

G_DEFINE_FINAL_TYPE (StarlingLogRow, starling_log_row, GTK_TYPE_WIDGET)

static void compute_columns (StarlingLogView *self, int width, int *x, int *w);

static void
starling_log_row_measure (GtkWidget      *widget,
                          GtkOrientation  orientation,
                          int             for_size,
                          int            *minimum,
                          int            *natural,
                          int            *minimum_baseline,
                          int            *natural_baseline)
{
  StarlingLogRow *self = STARLING_LOG_ROW (widget);

  *minimum = *natural = 0;
  /* The view gives every row its width; only the height is the row's. */
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    return;
  for (guint i = 0; i < STARLING_LOG_N_COLUMNS; i++)
    {
      int min, nat;

      gtk_widget_measure (self->cells[i], GTK_ORIENTATION_VERTICAL, -1, &min, &nat, NULL, NULL);
      *minimum = MAX (*minimum, min);
      *natural = MAX (*natural, nat);
    }
}

static void
starling_log_row_size_allocate (GtkWidget *widget,
                                int        width,
                                int        height,
                                int        baseline)
{
  StarlingLogRow *self = STARLING_LOG_ROW (widget);
  int x[STARLING_LOG_N_COLUMNS], w[STARLING_LOG_N_COLUMNS];

  compute_columns (STARLING_LOG_VIEW (gtk_widget_get_parent (widget)), width, x, w);
  for (guint i = 0; i < STARLING_LOG_N_COLUMNS; i++)
    gtk_widget_allocate (self->cells[i], w[i], height, -1,
                         gsk_transform_translate (NULL, &GRAPHENE_POINT_INIT (x[i], 0)));
}

static void
starling_log_row_dispose (GObject *object)
{
  StarlingLogRow *self = STARLING_LOG_ROW (object);

  for (guint i = 0; i < STARLING_LOG_N_COLUMNS; i++)
    g_clear_pointer (&self->cells[i], gtk_widget_unparent);
  g_clear_object (&self->message);
  G_OBJECT_CLASS (starling_log_row_parent_class)->dispose (object);
}

static void
starling_log_row_class_init (StarlingLogRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = starling_log_row_dispose;
  widget_class->measure = starling_log_row_measure;
  widget_class->size_allocate = starling_log_row_size_allocate;
  gtk_widget_class_set_css_name (widget_class, "row");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_LIST_ITEM);
}

static void
starling_log_row_init (StarlingLogRow *self)
{
  for (guint i = 0; i < STARLING_LOG_N_COLUMNS; i++)
    {
      GtkWidget *label = gtk_label_new (NULL);

      gtk_label_set_xalign (GTK_LABEL (label), i == STARLING_LOG_COLUMN_SIZE ? 1 : 0);
      gtk_label_set_single_line_mode (GTK_LABEL (label), TRUE);
      gtk_label_set_ellipsize (GTK_LABEL (label),
                               i == STARLING_LOG_COLUMN_TOPIC ? PANGO_ELLIPSIZE_MIDDLE : PANGO_ELLIPSIZE_END);
      if (i == STARLING_LOG_COLUMN_TIME || i == STARLING_LOG_COLUMN_QOS || i == STARLING_LOG_COLUMN_SIZE)
        gtk_widget_add_css_class (label, "numeric");
      gtk_widget_set_margin_top (label, ROW_PADDING_Y);
      gtk_widget_set_margin_bottom (label, ROW_PADDING_Y);
      gtk_widget_set_parent (label, GTK_WIDGET (self));
      self->cells[i] = label;
    }
}

static GtkWidget *
header_new (void)
{
  StarlingLogRow *header = g_object_new (STARLING_TYPE_LOG_ROW, NULL);
  const char *titles[STARLING_LOG_N_COLUMNS] = {
    [STARLING_LOG_COLUMN_TIME] = _("Time"),
    [STARLING_LOG_COLUMN_TOPIC] = _("Topic"),
    [STARLING_LOG_COLUMN_QOS] = _("QoS"),
    [STARLING_LOG_COLUMN_RETAIN] = _("Retain"),
    [STARLING_LOG_COLUMN_SIZE] = _("Size"),
    [STARLING_LOG_COLUMN_PAYLOAD] = _("Payload"),
  };

  gtk_widget_add_css_class (GTK_WIDGET (header), "log-header");
  for (guint i = 0; i < STARLING_LOG_N_COLUMNS; i++)
    {
      gtk_label_set_text (GTK_LABEL (header->cells[i]), titles[i]);
      gtk_widget_remove_css_class (header->cells[i], "numeric");
      gtk_widget_add_css_class (header->cells[i], "caption-heading");
      gtk_widget_add_css_class (header->cells[i], "dim-label");
    }
  return GTK_WIDGET (header);
}

/* Sets the labels only when the message changes: a row that keeps its
 * message as others scroll by costs nothing. */
static void
row_bind (StarlingLogRow *self, StarlingMessage *message)
{
  char buf[32];

  if (self->message == message)
    return;
  g_set_object (&self->message, message);
  if (message == NULL)
    return;
  {
    g_autofree char *time = starling_message_format_time (starling_message_get_time (message));

    gtk_label_set_text (GTK_LABEL (self->cells[STARLING_LOG_COLUMN_TIME]), time);
  }
  gtk_label_set_text (GTK_LABEL (self->cells[STARLING_LOG_COLUMN_TOPIC]), starling_message_get_topic (message));
  g_snprintf (buf, sizeof buf, "%d", starling_message_get_qos (message));
  gtk_label_set_text (GTK_LABEL (self->cells[STARLING_LOG_COLUMN_QOS]), buf);
  gtk_label_set_text (GTK_LABEL (self->cells[STARLING_LOG_COLUMN_RETAIN]),
                      starling_message_get_retain (message) ? "R" : "");
  g_snprintf (buf, sizeof buf, "%" G_GSIZE_FORMAT, starling_message_get_size (message));
  gtk_label_set_text (GTK_LABEL (self->cells[STARLING_LOG_COLUMN_SIZE]), buf);
  gtk_label_set_text (GTK_LABEL (self->cells[STARLING_LOG_COLUMN_PAYLOAD]), starling_message_get_preview (message));
}

static void
row_set_selected (StarlingLogRow *self, gboolean selected)
{
  if (self->selected == selected)
    return;
  self->selected = selected;
  if (selected)
    gtk_widget_set_state_flags (GTK_WIDGET (self), GTK_STATE_FLAG_SELECTED, FALSE);
  else
    gtk_widget_unset_state_flags (GTK_WIDGET (self), GTK_STATE_FLAG_SELECTED);
  gtk_accessible_update_state (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_STATE_SELECTED, selected, -1);
}

/* ---- The view ------------------------------------------------------------------------ */

struct _StarlingLogView
{
  GtkWidget          parent_instance;

  GtkSelectionModel *model;
  GtkAdjustment     *hadjustment;
  GtkAdjustment     *vadjustment;
  guint              hscroll_policy : 1;
  guint              vscroll_policy : 1;

  GtkWidget         *header;
  GPtrArray         *rows;          /* StarlingLogRow, top to bottom, owned by the widget tree */
  guint              n_items;
  guint              n_shown;
  guint              first_shown;

  int                fixed_w[STARLING_LOG_N_COLUMNS];   /* 0 for the flexible ones */
  int                topic_w;       /* set by dragging its edge in the header; -1: a share of the width */
  int                drag_start_w;  /* the topic column's width when a drag began; -1: no drag */
  gboolean           fixed_valid;
  int                header_height;
  int                row_height;    /* from the last layout; 0 before the first */
  int                page;          /* the rows' height on screen, from the last layout */

  /* The scroll position, in pixels from the top of the first row.  The
   * view keeps its own: the adjustment only follows it at each layout,
   * since it cannot take a value past the upper bound of the last one. */
  double             value;
  guint              reveal;        /* a position to bring in view at the first layout */
  gboolean           follow_bottom;
  gboolean           allocating;
  guint              rebind_tick;
};

enum {
  PROP_0,
  PROP_MODEL,
  PROP_TOPIC_WIDTH,
  PROP_HADJUSTMENT,
  PROP_VADJUSTMENT,
  PROP_HSCROLL_POLICY,
  PROP_VSCROLL_POLICY,
  N_PROPS = PROP_HADJUSTMENT
};

static GParamSpec *properties[N_PROPS];

static void starling_log_view_scrollable_init (GtkScrollableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (StarlingLogView, starling_log_view, GTK_TYPE_WIDGET,
                               G_IMPLEMENT_INTERFACE (GTK_TYPE_SCROLLABLE, starling_log_view_scrollable_init))

static int
text_width (StarlingLogView *self, const char *text)
{
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);
  int width;

  pango_layout_get_pixel_size (layout, &width, NULL);
  return width;
}

/* The fixed columns are as wide as their title or their widest content
 * (the digits of a time, a QoS, a size up to 9,999,999 bytes), whichever
 * is wider, in the current font. */
static void
ensure_fixed_widths (StarlingLogView *self)
{
  StarlingLogRow *header = STARLING_LOG_ROW (self->header);
  const char *samples[STARLING_LOG_N_COLUMNS] = {
    [STARLING_LOG_COLUMN_TIME] = "00:00:00.000",
    [STARLING_LOG_COLUMN_QOS] = "0",
    [STARLING_LOG_COLUMN_RETAIN] = "R",
    [STARLING_LOG_COLUMN_SIZE] = "0000000",
  };

  if (self->fixed_valid)
    return;
  for (guint i = 0; i < STARLING_LOG_N_COLUMNS; i++)
    {
      int title;

      self->fixed_w[i] = 0;
      if (samples[i] == NULL)
        continue;
      gtk_widget_measure (header->cells[i], GTK_ORIENTATION_HORIZONTAL, -1, NULL, &title, NULL, NULL);
      /* A little slack: the cells use tabular digits, the sample does not. */
      self->fixed_w[i] = MAX (title, text_width (self, samples[i]) * 11 / 10 + 2);
    }
  self->fixed_valid = TRUE;
}

/* A row's width but for the two flexible columns: the fixed ones, the
 * spacing and the padding. */
static int
fixed_part (StarlingLogView *self)
{
  int fixed = COLUMN_SPACING * (STARLING_LOG_N_COLUMNS - 1) + 2 * ROW_PADDING_X;

  ensure_fixed_widths (self);
  for (guint i = 0; i < STARLING_LOG_N_COLUMNS; i++)
    fixed += self->fixed_w[i];
  return fixed;
}

static void
compute_columns (StarlingLogView *self, int width, int *x, int *w)
{
  int flex = MAX (width - fixed_part (self), 2 * FLEX_MIN), topic, pos = ROW_PADDING_X;

  if (self->topic_w >= 0)
    topic = CLAMP (self->topic_w, FLEX_MIN, flex - FLEX_MIN);
  else
    topic = CLAMP ((int) (flex * TOPIC_SHARE), MIN (TOPIC_MIN, flex - FLEX_MIN), TOPIC_MAX);
  for (guint i = 0; i < STARLING_LOG_N_COLUMNS; i++)
    {
      if (i == STARLING_LOG_COLUMN_TOPIC)
        w[i] = topic;
      else if (i == STARLING_LOG_COLUMN_PAYLOAD)
        w[i] = flex - topic;
      else
        w[i] = self->fixed_w[i];
      x[i] = pos;
      pos += w[i] + COLUMN_SPACING;
    }
}

static guint
selected_position (StarlingLogView *self)
{
  g_autoptr(GtkBitset) selection = NULL;

  if (self->model == NULL)
    return GTK_INVALID_LIST_POSITION;
  selection = gtk_selection_model_get_selection (self->model);
  return gtk_bitset_is_empty (selection) ? GTK_INVALID_LIST_POSITION : gtk_bitset_get_minimum (selection);
}

static void
update_selected (StarlingLogView *self)
{
  for (guint i = 0; i < self->rows->len; i++)
    {
      StarlingLogRow *row = g_ptr_array_index (self->rows, i);
      guint position = self->first_shown + i;

      row_set_selected (row, i < self->n_shown && gtk_selection_model_is_selected (self->model, position));
    }
}

static double
max_value (StarlingLogView *self)
{
  return MAX ((double) self->n_items * self->row_height - self->page, 0);
}

static void
reveal (StarlingLogView *self, guint position)
{
  double top = (double) position * self->row_height;

  if (top < self->value)
    self->value = top;
  else if (top + self->row_height > self->value + self->page)
    self->value = top + self->row_height - self->page;
}

static StarlingLogRow *
add_row (StarlingLogView *self)
{
  StarlingLogRow *row = g_object_new (STARLING_TYPE_LOG_ROW, NULL);

  /* Below the header, which then draws and takes clicks on top. */
  gtk_widget_insert_before (GTK_WIDGET (row), GTK_WIDGET (self), self->header);
  g_ptr_array_add (self->rows, row);
  return row;
}

/* Gives the rows the messages at the scroll position, making or dropping
 * rows to fit the height.  Never called during a layout: changing a
 * label's text there would queue another, and the frame would be drawn
 * from a stale one. */
static void
bind_rows (StarlingLogView *self)
{
  guint needed;

  if (self->row_height <= 0)
    return;   /* before the first layout, which binds through a tick */
  /* Off screen (another tab, a hidden pane), the rows wait for the map. */
  if (!gtk_widget_get_mapped (GTK_WIDGET (self)))
    {
      self->value = CLAMP (self->value, 0, max_value (self));
      return;
    }
  self->value = CLAMP (self->value, 0, max_value (self));
  /* Enough rows for a partly shown one at each end. */
  needed = (guint) ((self->page + self->row_height - 1) / self->row_height) + 1;
  while (self->rows->len < needed)
    add_row (self);
  while (self->rows->len > needed)
    gtk_widget_unparent (g_ptr_array_steal_index (self->rows, self->rows->len - 1));

  self->first_shown = (guint) (self->value / self->row_height);
  self->n_shown = 0;
  for (guint i = 0; i < self->rows->len; i++)
    {
      StarlingLogRow *row = g_ptr_array_index (self->rows, i);
      guint position = self->first_shown + i;

      if (self->model != NULL && position < self->n_items)
        {
          g_autoptr(StarlingMessage) message = g_list_model_get_item (G_LIST_MODEL (self->model), position);

          row_bind (row, message);
          row_set_selected (row, gtk_selection_model_is_selected (self->model, position));
          gtk_widget_set_child_visible (GTK_WIDGET (row), TRUE);
          self->n_shown++;
        }
      else
        {
          row_bind (row, NULL);
          row_set_selected (row, FALSE);
          gtk_widget_set_child_visible (GTK_WIDGET (row), FALSE);
        }
    }
  if (self->n_shown == 0)
    self->first_shown = GTK_INVALID_LIST_POSITION;
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

static gboolean
rebind_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  StarlingLogView *self = STARLING_LOG_VIEW (widget);

  self->rebind_tick = 0;
  bind_rows (self);
  return G_SOURCE_REMOVE;
}

static gboolean
at_bottom (StarlingLogView *self)
{
  return self->value > 0 && self->value >= max_value (self) - 0.5;
}

/* Keeps what is on screen where it is: at the top or the bottom the view
 * stays there (following the bottom from the start, when everything fits,
 * if it follows the bottom); elsewhere the item at the top of the view
 * stays at the top (or, if it went, what took its place). */
static void
on_items_changed (StarlingLogView *self, guint position, guint removed, guint added)
{
  gboolean bottom = at_bottom (self) || (self->follow_bottom && max_value (self) == 0);
  guint n_items = g_list_model_get_n_items (G_LIST_MODEL (self->model));

  /* The natural height is the whole list's. */
  if (n_items != self->n_items)
    gtk_widget_queue_resize (GTK_WIDGET (self));
  self->n_items = n_items;
  if (self->row_height > 0)
    {
      if (bottom)
        self->value = max_value (self);
      else if (self->value > 0)
        {
          guint first = (guint) (self->value / self->row_height);
          double within = self->value - (double) first * self->row_height;

          if (position + removed <= first)
            first = first - removed + added;
          else if (position <= first)
            first = position;
          self->value = (double) first * self->row_height + within;
        }
    }
  bind_rows (self);
}

static void
on_selection_changed (StarlingLogView *self, guint position, guint n_items)
{
  update_selected (self);
}

static void
on_value_changed (StarlingLogView *self, GtkAdjustment *adjustment)
{
  if (self->allocating || adjustment != self->vadjustment)
    return;
  self->value = gtk_adjustment_get_value (adjustment);
  bind_rows (self);
}

static void
starling_log_view_size_allocate (GtkWidget *widget,
                                 int        width,
                                 int        height,
                                 int        baseline)
{
  StarlingLogView *self = STARLING_LOG_VIEW (widget);
  int row_height, page;
  double value;

  self->allocating = TRUE;
  gtk_widget_measure (self->header, GTK_ORIENTATION_VERTICAL, width, NULL, &self->header_height, NULL, NULL);
  gtk_widget_allocate (self->header, width, self->header_height, -1, NULL);

  gtk_widget_measure (g_ptr_array_index (self->rows, 0), GTK_ORIENTATION_VERTICAL, width,
                      NULL, &row_height, NULL, NULL);
  row_height = MAX (row_height, 1);
  page = MAX (height - self->header_height, 0);
  if (row_height != self->row_height || page != self->page || self->reveal != GTK_INVALID_LIST_POSITION)
    {
      /* New geometry: the rows are bound again at the next frame. */
      if (self->row_height > 0)
        self->value = self->value / self->row_height * row_height;
      self->row_height = row_height;
      self->page = page;
      if (self->reveal < self->n_items)
        reveal (self, self->reveal);
      self->reveal = GTK_INVALID_LIST_POSITION;
      if (self->rebind_tick == 0)
        self->rebind_tick = gtk_widget_add_tick_callback (widget, rebind_tick, NULL, NULL);
    }
  value = CLAMP (self->value, 0, max_value (self));
  if (value != self->value && self->rebind_tick == 0)
    self->rebind_tick = gtk_widget_add_tick_callback (widget, rebind_tick, NULL, NULL);
  self->value = value;
  gtk_adjustment_configure (self->vadjustment, value, 0, MAX ((double) self->n_items * row_height, page),
                            row_height, MAX (page * 0.9, row_height), page);
  gtk_adjustment_configure (self->hadjustment, 0, 0, width, width * 0.1, width * 0.9, width);

  for (guint i = 0; i < self->rows->len && self->first_shown != GTK_INVALID_LIST_POSITION; i++)
    {
      GtkWidget *row = g_ptr_array_index (self->rows, i);
      int y = self->header_height + (int) ((double) (self->first_shown + i) * row_height - value);

      if (gtk_widget_get_child_visible (row))
        gtk_widget_allocate (row, width, row_height, -1,
                             gsk_transform_translate (NULL, &GRAPHENE_POINT_INIT (0, y)));
    }
  self->allocating = FALSE;
}

static void
starling_log_view_measure (GtkWidget      *widget,
                           GtkOrientation  orientation,
                           int             for_size,
                           int            *minimum,
                           int            *natural,
                           int            *minimum_baseline,
                           int            *natural_baseline)
{
  StarlingLogView *self = STARLING_LOG_VIEW (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = fixed_part (self) + 2 * FLEX_MIN;
      *natural = *minimum + TOPIC_MAX;
    }
  else
    {
      int header, row;

      gtk_widget_measure (self->header, orientation, -1, NULL, &header, NULL, NULL);
      gtk_widget_measure (g_ptr_array_index (self->rows, 0), orientation, -1, NULL, &row, NULL, NULL);
      /* The whole list, as GTK's list views do: a scrolled window decides
       * from it whether to show its scrollbar before it lays the view out
       * (and would have to lay it out again, in the middle of a frame, if
       * the adjustment then said otherwise). */
      *minimum = header + row;
      *natural = (int) MIN ((gint64) header + (gint64) row * MAX (self->n_items, 1u), G_MAXINT / 2);
    }
}

static void
starling_log_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  StarlingLogView *self = STARLING_LOG_VIEW (widget);
  int width = gtk_widget_get_width (widget);

  /* Rows half under the header are cut at its edge. */
  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (0, self->header_height, width, self->page));
  for (guint i = 0; i < self->rows->len; i++)
    gtk_widget_snapshot_child (widget, g_ptr_array_index (self->rows, i), snapshot);
  gtk_snapshot_pop (snapshot);
  gtk_widget_snapshot_child (widget, self->header, snapshot);
  /* A hairline under the header, in the text colour, faint. */
  {
    GdkRGBA line;

    G_GNUC_BEGIN_IGNORE_DEPRECATIONS
    gtk_style_context_get_color (gtk_widget_get_style_context (widget), &line);
    G_GNUC_END_IGNORE_DEPRECATIONS
    line.alpha *= 0.15f;
    gtk_snapshot_append_color (snapshot, &line, &GRAPHENE_RECT_INIT (0, self->header_height - 1, width, 1));
  }
}

static void
starling_log_view_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (starling_log_view_parent_class)->map (widget);
  bind_rows (STARLING_LOG_VIEW (widget));
}

static void
starling_log_view_css_changed (GtkWidget *widget, GtkCssStyleChange *change)
{
  StarlingLogView *self = STARLING_LOG_VIEW (widget);

  GTK_WIDGET_CLASS (starling_log_view_parent_class)->css_changed (widget, change);
  self->fixed_valid = FALSE;
  gtk_widget_queue_resize (widget);
}

static void
starling_log_view_system_setting_changed (GtkWidget *widget, GtkSystemSetting setting)
{
  StarlingLogView *self = STARLING_LOG_VIEW (widget);

  GTK_WIDGET_CLASS (starling_log_view_parent_class)->system_setting_changed (widget, setting);
  self->fixed_valid = FALSE;
  gtk_widget_queue_resize (widget);
}

/* Click: select the row under the pointer. */
static void
on_pressed (GtkGestureClick *gesture, int n_press, double x, double y, StarlingLogView *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (gesture));
  guint position;

  if (self->model == NULL || y < self->header_height || self->row_height <= 0)
    return;
  position = (guint) ((self->value + y - self->header_height) / self->row_height);
  if (position >= self->n_items)
    return;
  gtk_widget_grab_focus (GTK_WIDGET (self));
  if ((state & GDK_CONTROL_MASK) && gtk_selection_model_is_selected (self->model, position))
    gtk_selection_model_unselect_item (self->model, position);
  else
    gtk_selection_model_select_item (self->model, position, TRUE);
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
}

/* log.move-cursor (the keys): move the selection by a row, a page, or to
 * either end, and scroll to it. */
static void
move_cursor (GtkWidget *widget, const char *action_name, GVariant *args)
{
  StarlingLogView *self = STARLING_LOG_VIEW (widget);
  int step = g_variant_get_int32 (args);
  guint current = selected_position (self);
  gint64 target;

  if (self->model == NULL || self->n_items == 0)
    return;
  if (step == G_MININT32 || step == G_MAXINT32)
    target = step < 0 ? 0 : (gint64) self->n_items - 1;
  else if (current == GTK_INVALID_LIST_POSITION)
    /* Nothing selected yet: any move starts at the top row on screen. */
    target = self->first_shown != GTK_INVALID_LIST_POSITION ? self->first_shown : 0;
  else
    {
      int page_rows = MAX (self->page / MAX (self->row_height, 1) - 1, 1);
      gint64 delta = step == -2 || step == 2 ? (gint64) step / 2 * page_rows : step;

      target = CLAMP ((gint64) current + delta, 0, (gint64) self->n_items - 1);
    }
  gtk_selection_model_select_item (self->model, (guint) target, TRUE);
  starling_log_view_scroll_to (self, (guint) target);
}

/* ---- The topic column's edge, dragged in the header --------------------------------- */

#define EDGE_SLOP 5

/* The topic column's right edge in the view's coordinates, and its width. */
static gboolean
topic_edge (StarlingLogView *self, double *edge, double *width)
{
  graphene_rect_t bounds;

  if (!gtk_widget_compute_bounds (STARLING_LOG_ROW (self->header)->cells[STARLING_LOG_COLUMN_TOPIC],
                                  GTK_WIDGET (self), &bounds))
    return FALSE;
  *edge = bounds.origin.x + bounds.size.width + COLUMN_SPACING / 2.0;
  *width = bounds.size.width;
  return TRUE;
}

static gboolean
on_topic_edge (StarlingLogView *self, double x, double y)
{
  double edge, width;

  return y >= 0 && y < self->header_height && topic_edge (self, &edge, &width) && fabs (x - edge) <= EDGE_SLOP;
}

/* notify: at the end of a drag, not at each step of it (a setting may be
 * bound to the property). */
static void
set_topic_width (StarlingLogView *self, int width, gboolean notify)
{
  width = MAX (width, -1);
  if (width >= 0)
    width = MAX (width, FLEX_MIN);
  if (self->topic_w != width)
    {
      self->topic_w = width;
      /* The rows keep their size: each must lay its cells out again. */
      gtk_widget_queue_allocate (self->header);
      for (guint i = 0; i < self->rows->len; i++)
        gtk_widget_queue_allocate (g_ptr_array_index (self->rows, i));
    }
  if (notify)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOPIC_WIDTH]);
}

static void
on_motion (GtkEventControllerMotion *motion, double x, double y, StarlingLogView *self)
{
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self),
                                   self->drag_start_w >= 0 || on_topic_edge (self, x, y) ? "col-resize" : NULL);
}

static void
on_leave (GtkEventControllerMotion *motion, StarlingLogView *self)
{
  if (self->drag_start_w < 0)
    gtk_widget_set_cursor (GTK_WIDGET (self), NULL);
}

static void
on_drag_begin (GtkGestureDrag *drag, double x, double y, StarlingLogView *self)
{
  double edge, width;

  if (!on_topic_edge (self, x, y) || !topic_edge (self, &edge, &width))
    {
      gtk_gesture_set_state (GTK_GESTURE (drag), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  self->drag_start_w = (int) width;
  gtk_gesture_set_state (GTK_GESTURE (drag), GTK_EVENT_SEQUENCE_CLAIMED);
}

static void
on_drag_update (GtkGestureDrag *drag, double dx, double dy, StarlingLogView *self)
{
  if (self->drag_start_w >= 0)
    set_topic_width (self, self->drag_start_w + (int) dx, FALSE);
}

static void
on_drag_end (GtkGestureDrag *drag, double dx, double dy, StarlingLogView *self)
{
  if (self->drag_start_w < 0)
    return;
  set_topic_width (self, self->drag_start_w + (int) dx, TRUE);
  self->drag_start_w = -1;
}

/* A double click on the edge gives the column its share of the width back. */
static void
on_header_pressed (GtkGestureClick *click, int n_press, double x, double y, StarlingLogView *self)
{
  if (n_press == 2 && on_topic_edge (self, x, y))
    set_topic_width (self, -1, TRUE);
}

static void
set_adjustment (StarlingLogView *self, GtkAdjustment **slot, GtkAdjustment *adjustment)
{
  if (adjustment == NULL)
    adjustment = gtk_adjustment_new (0, 0, 0, 0, 0, 0);
  if (*slot == adjustment)
    return;
  if (*slot)
    {
      g_signal_handlers_disconnect_by_data (*slot, self);
      g_object_unref (*slot);
    }
  *slot = g_object_ref_sink (adjustment);
  g_signal_connect_swapped (adjustment, "value-changed", G_CALLBACK (on_value_changed), self);
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

static gboolean
starling_log_view_get_border (GtkScrollable *scrollable, GtkBorder *border)
{
  StarlingLogView *self = STARLING_LOG_VIEW (scrollable);

  /* The header does not scroll: the scrolled window's overshoot and
   * undershoot marks go below it. */
  *border = (GtkBorder) { .top = self->header_height };
  return TRUE;
}

static void
starling_log_view_scrollable_init (GtkScrollableInterface *iface)
{
  iface->get_border = starling_log_view_get_border;
}

static void
starling_log_view_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  StarlingLogView *self = STARLING_LOG_VIEW (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      g_value_set_object (value, self->model);
      break;
    case PROP_TOPIC_WIDTH:
      g_value_set_int (value, self->topic_w);
      break;
    case PROP_HADJUSTMENT:
      g_value_set_object (value, self->hadjustment);
      break;
    case PROP_VADJUSTMENT:
      g_value_set_object (value, self->vadjustment);
      break;
    case PROP_HSCROLL_POLICY:
      g_value_set_enum (value, self->hscroll_policy);
      break;
    case PROP_VSCROLL_POLICY:
      g_value_set_enum (value, self->vscroll_policy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
starling_log_view_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  StarlingLogView *self = STARLING_LOG_VIEW (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      starling_log_view_set_model (self, g_value_get_object (value));
      break;
    case PROP_TOPIC_WIDTH:
      if (g_value_get_int (value) != self->topic_w)
        set_topic_width (self, g_value_get_int (value), TRUE);
      break;
    case PROP_HADJUSTMENT:
      set_adjustment (self, &self->hadjustment, g_value_get_object (value));
      break;
    case PROP_VADJUSTMENT:
      set_adjustment (self, &self->vadjustment, g_value_get_object (value));
      break;
    case PROP_HSCROLL_POLICY:
      self->hscroll_policy = g_value_get_enum (value);
      gtk_widget_queue_resize (GTK_WIDGET (self));
      break;
    case PROP_VSCROLL_POLICY:
      self->vscroll_policy = g_value_get_enum (value);
      gtk_widget_queue_resize (GTK_WIDGET (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
starling_log_view_dispose (GObject *object)
{
  StarlingLogView *self = STARLING_LOG_VIEW (object);

  starling_log_view_set_model (self, NULL);
  if (self->rebind_tick)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->rebind_tick);
  self->rebind_tick = 0;
  if (self->rows)
    {
      for (guint i = 0; i < self->rows->len; i++)
        gtk_widget_unparent (g_ptr_array_index (self->rows, i));
      g_clear_pointer (&self->rows, g_ptr_array_unref);
    }
  g_clear_pointer (&self->header, gtk_widget_unparent);
  if (self->hadjustment)
    g_signal_handlers_disconnect_by_data (self->hadjustment, self);
  if (self->vadjustment)
    g_signal_handlers_disconnect_by_data (self->vadjustment, self);
  g_clear_object (&self->hadjustment);
  g_clear_object (&self->vadjustment);
  G_OBJECT_CLASS (starling_log_view_parent_class)->dispose (object);
}

static void
add_move_binding (GtkWidgetClass *widget_class, guint keyval, guint kp_keyval, int step)
{
  gtk_widget_class_add_binding_action (widget_class, keyval, 0, "log.move-cursor", "i", step);
  gtk_widget_class_add_binding_action (widget_class, kp_keyval, 0, "log.move-cursor", "i", step);
}

static void
starling_log_view_class_init (StarlingLogViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = starling_log_view_get_property;
  object_class->set_property = starling_log_view_set_property;
  object_class->dispose = starling_log_view_dispose;
  widget_class->measure = starling_log_view_measure;
  widget_class->size_allocate = starling_log_view_size_allocate;
  widget_class->snapshot = starling_log_view_snapshot;
  widget_class->map = starling_log_view_map;
  widget_class->css_changed = starling_log_view_css_changed;
  widget_class->system_setting_changed = starling_log_view_system_setting_changed;

  properties[PROP_MODEL] =
    g_param_spec_object ("model", NULL, NULL, GTK_TYPE_SELECTION_MODEL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * StarlingLogView:topic-width:
   *
   * The Topic column's width in pixels, as last dragged; -1 gives it its
   * share of the view's width.  Notified when a drag ends.
   */
  properties[PROP_TOPIC_WIDTH] =
    g_param_spec_int ("topic-width", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  g_object_class_override_property (object_class, PROP_HADJUSTMENT, "hadjustment");
  g_object_class_override_property (object_class, PROP_VADJUSTMENT, "vadjustment");
  g_object_class_override_property (object_class, PROP_HSCROLL_POLICY, "hscroll-policy");
  g_object_class_override_property (object_class, PROP_VSCROLL_POLICY, "vscroll-policy");

  gtk_widget_class_install_action (widget_class, "log.move-cursor", "i", move_cursor);
  /* Steps: ±1 a row, ±2 a page, G_MININT32/G_MAXINT32 the ends. */
  add_move_binding (widget_class, GDK_KEY_Up, GDK_KEY_KP_Up, -1);
  add_move_binding (widget_class, GDK_KEY_Down, GDK_KEY_KP_Down, 1);
  add_move_binding (widget_class, GDK_KEY_Page_Up, GDK_KEY_KP_Page_Up, -2);
  add_move_binding (widget_class, GDK_KEY_Page_Down, GDK_KEY_KP_Page_Down, 2);
  add_move_binding (widget_class, GDK_KEY_Home, GDK_KEY_KP_Home, G_MININT32);
  add_move_binding (widget_class, GDK_KEY_End, GDK_KEY_KP_End, G_MAXINT32);

  gtk_widget_class_set_css_name (widget_class, "listview");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_LIST);
}

static void
starling_log_view_init (StarlingLogView *self)
{
  GtkGesture *click = gtk_gesture_click_new ();
  GtkGesture *drag;
  GtkEventController *motion;

  self->rows = g_ptr_array_new ();
  self->reveal = GTK_INVALID_LIST_POSITION;
  self->first_shown = GTK_INVALID_LIST_POSITION;
  self->header = header_new ();
  gtk_widget_set_parent (self->header, GTK_WIDGET (self));
  /* One row always: the layout measures the row height from it. */
  add_row (self);
  gtk_widget_set_child_visible (g_ptr_array_index (self->rows, 0), FALSE);
  set_adjustment (self, &self->hadjustment, NULL);
  set_adjustment (self, &self->vadjustment, NULL);

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);
  gtk_widget_add_css_class (GTK_WIDGET (self), "starling-log");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Message log"), -1);

  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_pressed), self);
  g_signal_connect (click, "pressed", G_CALLBACK (on_header_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  /* The topic column is as wide as the user drags its edge. */
  self->topic_w = -1;
  self->drag_start_w = -1;
  drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (drag), GTK_PHASE_CAPTURE);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);
}

GtkWidget *
starling_log_view_new (void)
{
  return g_object_new (STARLING_TYPE_LOG_VIEW, NULL);
}

GtkSelectionModel *
starling_log_view_get_model (StarlingLogView *self)
{
  g_return_val_if_fail (STARLING_IS_LOG_VIEW (self), NULL);

  return self->model;
}

void
starling_log_view_set_model (StarlingLogView *self, GtkSelectionModel *model)
{
  g_return_if_fail (STARLING_IS_LOG_VIEW (self));
  g_return_if_fail (model == NULL || GTK_IS_SELECTION_MODEL (model));

  if (self->model == model)
    return;
  if (self->model)
    g_signal_handlers_disconnect_by_data (self->model, self);
  g_set_object (&self->model, model);
  self->n_items = 0;
  if (model)
    {
      g_signal_connect_swapped (model, "items-changed", G_CALLBACK (on_items_changed), self);
      g_signal_connect_swapped (model, "selection-changed", G_CALLBACK (on_selection_changed), self);
      self->n_items = g_list_model_get_n_items (G_LIST_MODEL (model));
    }
  self->value = 0;
  bind_rows (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
}

void
starling_log_view_scroll_to (StarlingLogView *self, guint position)
{
  g_return_if_fail (STARLING_IS_LOG_VIEW (self));

  if (self->row_height > 0)
    {
      if (position < self->n_items)
        reveal (self, position);
      bind_rows (self);
    }
  else
    {
      self->reveal = position;
      gtk_widget_queue_allocate (GTK_WIDGET (self));
    }
}

void
starling_log_view_set_follow_bottom (StarlingLogView *self, gboolean follow_bottom)
{
  g_return_if_fail (STARLING_IS_LOG_VIEW (self));

  self->follow_bottom = !!follow_bottom;
}

guint
starling_log_view_get_n_rows (StarlingLogView *self)
{
  g_return_val_if_fail (STARLING_IS_LOG_VIEW (self), 0);

  return self->rows->len;
}

guint
starling_log_view_get_n_shown (StarlingLogView *self)
{
  g_return_val_if_fail (STARLING_IS_LOG_VIEW (self), 0);

  return self->n_shown;
}

guint
starling_log_view_get_first_shown (StarlingLogView *self)
{
  g_return_val_if_fail (STARLING_IS_LOG_VIEW (self), GTK_INVALID_LIST_POSITION);

  return self->first_shown;
}

const char *
starling_log_view_get_cell_text (StarlingLogView *self, guint n, StarlingLogColumn column)
{
  g_return_val_if_fail (STARLING_IS_LOG_VIEW (self), NULL);
  g_return_val_if_fail (column < STARLING_LOG_N_COLUMNS, NULL);

  if (n >= self->n_shown)
    return NULL;
  return gtk_label_get_text (GTK_LABEL (STARLING_LOG_ROW (g_ptr_array_index (self->rows, n))->cells[column]));
}
