/* bench-inspector — the inspector under a live load.
 *
 *   bench-inspector [--rate MSGS_PER_S] [--topics N] [--seconds S] [--oldest-first]
 *
 * Starts a broker (--dev: anonymous, plain MQTT on a free loopback port):
 * $STARLINGD as its own process when set, so the resident memory printed
 * is the app's alone, else an in-process StServer.  Shows the inspector in a window connected to it with
 * Paho (subscribed to "#"; the log newest first, at the top, or with
 * --oldest-first newest last, the view following the bottom), and publishes from a thread over
 * a raw MQTT 3.1.1 connection: RATE messages a second (default 20,000) of
 * small JSON payloads spread over N topics (default 1,000).
 *
 * Prints, every 2 s and at the end: messages the inspector received, frames
 * drawn, frame intervals from the GdkFrameClock (median, 95th and 99th
 * percentile, maximum) and resident memory (from /proc/self/statm); and
 * each frame over 100 ms, with how long the batches taken in since the
 * frame before and GTK's layout and paint took.  Run it
 * under a display (xvfb-run works: GSK_RENDERER=cairo). */
#include <adwaita.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "st-server.h"
#include "starling-inspector.h"

static struct {
  int rate;
  int topics;
  int seconds;
  gboolean oldest_first;
} opt = { 20000, 1000, 20, FALSE };

static guint16 port;
static gint stop_publisher;
static gint published;

static GArray *intervals;      /* frame intervals in µs, since the load began */
static gint64 last_frame;
static gint64 worst_window;    /* the longest interval in the current report window */
static gboolean measuring;
/* Frames over 100 ms, and how much of that time the main thread ran: a
 * long frame with little CPU means the thread waited for a core (a busy
 * machine), one with as much CPU as wall time means the app was slow. */
static guint long_frames;
static gint64 long_wall, long_cpu, last_cpu;
/* Where a frame's time went, to tell the app's own long frames apart:
 * the batches the inspector took in since the last frame (how long, how
 * many messages, how many new topics) and GTK's layout and paint.  Every
 * frame over 100 ms is printed with this breakdown. */
static gint64 drain_start, drain_start_cpu, frame_drain_us, frame_drain_cpu_us, frame_drain_max_us;
/* GTK's own handlers of each phase run before ours (connected earlier):
 * a phase's time is from our handler of the phase before to ours. */
static gint64 t_before_paint, t_update, t_layout, t_paint;
static guint frame_drains, frame_messages, frame_new_topics;
static guint drain_topics_before;
static StarlingInspector *the_inspector;

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void
put_varint (GByteArray *out, guint32 n)
{
  do
    {
      guint8 b = n % 128;
      n /= 128;
      if (n)
        b |= 0x80;
      g_byte_array_append (out, &b, 1);
    }
  while (n);
}

static void
put_string (GByteArray *out, const char *s, gsize len)
{
  guint8 l[2] = { len >> 8, len & 0xff };

  g_byte_array_append (out, l, 2);
  g_byte_array_append (out, (const guint8 *) s, len);
}

static void
send_all (int fd, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = send (fd, data, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        g_error ("publisher: send: %s", g_strerror (errno));
      data += n;
      len -= n;
    }
}

/* Raw MQTT 3.1.1 so the load costs the machine as little as possible. */
static gpointer
publisher (gpointer data)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  g_autoptr(GByteArray) connect_packet = g_byte_array_new ();
  g_autoptr(GByteArray) body = g_byte_array_new ();
  g_autoptr(GByteArray) batch = g_byte_array_new ();
  guint8 connack[4];
  int fd = socket (AF_INET, SOCK_STREAM, 0), one = 1;
  gint64 start, n = 0;
  const int slice_us = 5000;   /* send every 5 ms */

  inet_pton (AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    g_error ("publisher: connect: %s", g_strerror (errno));
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  put_string (body, "MQTT", 4);
  g_byte_array_append (body, (const guint8 *) "\x04\x02\x00\x3c", 4);
  put_string (body, "bench-publisher", 15);
  g_byte_array_append (connect_packet, (const guint8 *) "\x10", 1);
  put_varint (connect_packet, body->len);
  g_byte_array_append (connect_packet, body->data, body->len);
  send_all (fd, connect_packet->data, connect_packet->len);
  if (recv (fd, connack, 4, MSG_WAITALL) != 4 || connack[0] != 0x20 || connack[3] != 0)
    g_error ("publisher: no CONNACK");

  start = g_get_monotonic_time ();
  while (!g_atomic_int_get (&stop_publisher))
    {
      gint64 due = (g_get_monotonic_time () - start) * opt.rate / G_USEC_PER_SEC;

      g_byte_array_set_size (batch, 0);
      for (; n < due; n++)
        {
          char topic[64], payload[64];
          int tl = g_snprintf (topic, sizeof topic, "bench/site%02d/device%03d/temp",
                               (int) (n % opt.topics) / 100, (int) (n % opt.topics));
          int pl = g_snprintf (payload, sizeof payload, "{\"temp\": %.2f, \"n\": %" G_GINT64_FORMAT "}",
                               20 + (n % 1000) / 100.0, n);

          g_byte_array_set_size (body, 0);
          put_string (body, topic, tl);
          g_byte_array_append (body, (const guint8 *) payload, pl);
          g_byte_array_append (batch, (const guint8 *) "\x30", 1);
          put_varint (batch, body->len);
          g_byte_array_append (batch, body->data, body->len);
        }
      if (batch->len)
        send_all (fd, batch->data, batch->len);
      g_atomic_int_set (&published, (gint) n);
      g_usleep (slice_us);
    }
  close (fd);
  return NULL;
}

static gsize
rss_kib (void)
{
  g_autofree char *text = NULL;
  unsigned long size = 0, resident = 0;

  if (g_file_get_contents ("/proc/self/statm", &text, NULL, NULL))
    sscanf (text, "%lu %lu", &size, &resident);
  return resident * (sysconf (_SC_PAGESIZE) / 1024);
}

static gboolean
before_messages (GSignalInvocationHint *hint, guint n_values, const GValue *values, gpointer data)
{
  drain_start = g_get_monotonic_time ();
  drain_start_cpu = thread_cpu_us ();
  drain_topics_before = starling_topic_tree_get_n_topics (starling_inspector_get_tree (the_inspector));
  return TRUE;
}

/* Connected after the inspector's own handler: the batch is in. */
static void
after_messages (StarlingMqttClient *client, GPtrArray *batch, gpointer data)
{
  gint64 d = g_get_monotonic_time () - drain_start;

  if (drain_start == 0)
    return;
  frame_drain_us += d;
  frame_drain_cpu_us += thread_cpu_us () - drain_start_cpu;
  frame_drain_max_us = MAX (frame_drain_max_us, d);
  frame_drains++;
  frame_messages += batch->len;
  frame_new_topics += starling_topic_tree_get_n_topics (starling_inspector_get_tree (the_inspector)) - drain_topics_before;
  drain_start = 0;
}

static void
on_phase (GdkFrameClock *clock, gpointer data)
{
  *(gint64 *) data = g_get_monotonic_time ();
}

static void
after_paint (GdkFrameClock *clock, gpointer data)
{
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_us ();

  if (measuring && last_frame)
    {
      gint64 d = now - last_frame;
      g_array_append_val (intervals, d);
      worst_window = MAX (worst_window, d);
      if (d > 100000)
        {
          long_frames++;
          long_wall += d;
          long_cpu += cpu - last_cpu;
          gint64 clock_us = t_before_paint ? now - t_before_paint : 0;

          printf ("long   frame %.1f ms (main thread on CPU %.1f ms): %u batches %.1f ms (on CPU %.1f ms, longest %.1f ms), "
                  "%u messages, %u new topics; update %.1f ms, layout %.1f ms, paint %.1f ms; the rest %.1f ms\n",
                  d / 1000.0, (cpu - last_cpu) / 1000.0, frame_drains, frame_drain_us / 1000.0, frame_drain_cpu_us / 1000.0,
                  frame_drain_max_us / 1000.0, frame_messages, frame_new_topics,
                  t_update && t_before_paint ? (t_update - t_before_paint) / 1000.0 : 0,
                  t_layout && t_update ? (t_layout - t_update) / 1000.0 : 0,
                  t_paint && t_layout ? (t_paint - t_layout) / 1000.0 : 0,
                  (d - frame_drain_us - clock_us) / 1000.0);
        }
    }
  last_frame = now;
  last_cpu = cpu;
  frame_drain_us = frame_drain_cpu_us = frame_drain_max_us = 0;
  t_before_paint = t_update = t_layout = t_paint = 0;
  frame_drains = frame_messages = frame_new_topics = 0;
}

static int
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static void
report (StarlingInspector *inspector, const char *when, gint64 t0)
{
  g_autoptr(GArray) sorted = g_array_copy (intervals);
  double secs = (g_get_monotonic_time () - t0) / (double) G_USEC_PER_SEC;
  guint64 got = starling_topic_tree_get_n_messages (starling_inspector_get_tree (inspector));
  gint64 p50 = 0, p95 = 0, p99 = 0, max = 0;

  g_array_sort (sorted, cmp_i64);
  if (sorted->len)
    {
      p50 = g_array_index (sorted, gint64, sorted->len / 2);
      p95 = g_array_index (sorted, gint64, MIN (sorted->len - 1, sorted->len * 95 / 100));
      p99 = g_array_index (sorted, gint64, MIN (sorted->len - 1, sorted->len * 99 / 100));
      max = g_array_index (sorted, gint64, sorted->len - 1);
    }
  printf ("%-6s t=%5.1fs published=%-8d received=%-8" G_GUINT64_FORMAT " (%.0f/s) dropped=%" G_GUINT64_FORMAT
          " topics=%u log=%u frames=%u (%.1f/s) interval ms p50=%.1f p95=%.1f p99=%.1f max=%.1f window-max=%.1f"
          " frames>100ms=%u (main thread on CPU %.0f%% of them) rss=%zu KiB\n",
          when, secs, g_atomic_int_get (&published), got, got / MAX (secs, 0.001),
          starling_mqtt_client_get_n_dropped (starling_inspector_get_client (inspector)),
          starling_topic_tree_get_n_topics (starling_inspector_get_tree (inspector)),
          g_list_model_get_n_items (G_LIST_MODEL (starling_inspector_get_log (inspector))),
          intervals->len, intervals->len / MAX (secs, 0.001),
          p50 / 1000.0, p95 / 1000.0, p99 / 1000.0, max / 1000.0, worst_window / 1000.0,
          long_frames, long_wall ? 100.0 * long_cpu / long_wall : 0.0, rss_kib ());
  fflush (stdout);
  worst_window = 0;
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "rate", 0, 0, G_OPTION_ARG_INT, &opt.rate, "Messages a second", "N" },
    { "topics", 0, 0, G_OPTION_ARG_INT, &opt.topics, "Distinct topics", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &opt.seconds, "How long to publish", "S" },
    { "oldest-first", 0, 0, G_OPTION_ARG_NONE, &opt.oldest_first, "Log newest last, the view at the bottom", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— the inspector under load");
  g_autoptr(GError) error = NULL;
  g_autofree char *data_dir = g_dir_make_tmp ("bench-inspector-XXXXXX", NULL);
  g_autofree char *ready = NULL;
  g_autofree char *uri = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  StServerConfig c;
  StServer *server = NULL;
  GPid daemon_pid = 0;
  GtkWindow *window;
  StarlingInspector *inspector;
  GThread *thread;
  gint64 t0, next_report, end;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }
  if (!gtk_init_check ())
    {
      fprintf (stderr, "bench-inspector needs a display (try xvfb-run)\n");
      return 2;
    }
  adw_init ();
  intervals = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (g_getenv ("STARLINGD"))
    {
      g_autofree char *ready_path = g_build_filename (data_dir, "ready.json", NULL);
      const char *argv_d[] = { g_getenv ("STARLINGD"), "--dev", "--data-dir", data_dir, "--mqtt", "127.0.0.1:0",
                               "--mqtts", "off", "--ws", "off", "--wss", "off", "--api", "off", "--threads", "1",
                               "--log-level", "warning", "--ready-file", ready_path, NULL };
      gint64 until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

      if (!g_spawn_async (NULL, (char **) argv_d, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &daemon_pid, &error))
        g_error ("starlingd: %s", error->message);
      while (!g_file_get_contents (ready_path, &ready, NULL, NULL))
        {
          if (g_get_monotonic_time () > until)
            g_error ("starlingd did not get ready");
          g_usleep (20000);
        }
    }
  else
    {
      st_server_config_init (&c);
      c.data_dir = g_strdup (data_dir);
      c.dev = TRUE;
      c.threads = 1;
      c.log_level = G_LOG_LEVEL_WARNING;
      for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
        g_clear_pointer (&c.listen[i], g_free);
      c.listen[ST_LISTENER_MQTT] = g_strdup ("127.0.0.1:0");
      g_clear_pointer (&c.api_listen, g_free);
      server = st_server_new (&c, &error);
      if (server == NULL || !st_server_start (server, &error))
        g_error ("broker: %s", error->message);
      st_server_config_clear (&c);
      ready = st_server_get_ready_json (server);
    }
  json_parser_load_from_data (parser, ready, -1, NULL);
  port = json_object_get_int_member (json_object_get_object_member (json_object_get_object_member (
           json_node_get_object (json_parser_get_root (parser)), "listeners"), "mqtt"), "port");

  window = GTK_WINDOW (adw_window_new ());
  gtk_window_set_default_size (window, 1280, 800);
  inspector = STARLING_INSPECTOR (starling_inspector_new (NULL, "dev", "local"));
  adw_window_set_content (ADW_WINDOW (window), GTK_WIDGET (inspector));
  gtk_window_present (window);
  starling_message_log_set_newest_first (starling_inspector_get_log (inspector), !opt.oldest_first);

  uri = g_strdup_printf ("mqtt://127.0.0.1:%u", port);
  if (!starling_mqtt_client_configure (starling_inspector_get_client (inspector), uri, "bench-inspector",
                                       NULL, NULL, NULL, FALSE, &error))
    g_error ("%s", error->message);
  starling_mqtt_client_connect (starling_inspector_get_client (inspector));
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (starling_mqtt_client_get_state (starling_inspector_get_client (inspector)) != STARLING_MQTT_STATE_CONNECTED)
    {
      if (g_get_monotonic_time () > end)
        g_error ("the inspector did not connect");
      g_main_context_iteration (NULL, TRUE);
    }
  /* Let the subscription settle before the load. */
  end = g_get_monotonic_time () + G_USEC_PER_SEC / 2;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), 0);

  the_inspector = inspector;
  g_signal_add_emission_hook (g_signal_lookup ("messages", STARLING_TYPE_MQTT_CLIENT), 0, before_messages, NULL, NULL);
  g_signal_connect (starling_inspector_get_client (inspector), "messages", G_CALLBACK (after_messages), NULL);
  g_signal_connect (gtk_widget_get_frame_clock (GTK_WIDGET (window)), "before-paint", G_CALLBACK (on_phase), &t_before_paint);
  g_signal_connect (gtk_widget_get_frame_clock (GTK_WIDGET (window)), "update", G_CALLBACK (on_phase), &t_update);
  g_signal_connect (gtk_widget_get_frame_clock (GTK_WIDGET (window)), "layout", G_CALLBACK (on_phase), &t_layout);
  g_signal_connect (gtk_widget_get_frame_clock (GTK_WIDGET (window)), "paint", G_CALLBACK (on_phase), &t_paint);
  g_signal_connect (gtk_widget_get_frame_clock (GTK_WIDGET (window)), "after-paint", G_CALLBACK (after_paint), NULL);
  printf ("bench-inspector: %d msg/s over %d topics for %d s, broker (%s) on 127.0.0.1:%u, start rss=%zu KiB\n",
          opt.rate, opt.topics, opt.seconds, daemon_pid ? "starlingd" : "in-process", port, rss_kib ());
  measuring = TRUE;
  t0 = g_get_monotonic_time ();
  next_report = t0 + 2 * G_USEC_PER_SEC;
  end = t0 + (gint64) opt.seconds * G_USEC_PER_SEC;
  thread = g_thread_new ("publisher", publisher, NULL);
  while (g_get_monotonic_time () < end)
    {
      /* The window keeps redrawing: ask for a frame every iteration. */
      gtk_widget_queue_draw (GTK_WIDGET (window));
      g_main_context_iteration (NULL, TRUE);
      if (g_get_monotonic_time () >= next_report)
        {
          report (inspector, "run", t0);
          next_report += 2 * G_USEC_PER_SEC;
        }
    }
  g_atomic_int_set (&stop_publisher, 1);
  g_thread_join (thread);
  report (inspector, "end", t0);

  gtk_window_destroy (window);
  if (server)
    st_server_free (server);
  if (daemon_pid)
    {
      kill (daemon_pid, SIGTERM);
      waitpid (daemon_pid, NULL, 0);
      g_spawn_close_pid (daemon_pid);
    }
  g_array_unref (intervals);
  return 0;
}
