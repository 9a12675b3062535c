/* bench-fanout — MQTT throughput and system-call cost of a broker.
 *
 *   bench-fanout HOST PORT [--pid PID] [--publishers P] [--subscribers S]
 *                [--messages N] [--size BYTES] [--qos Q]
 *
 * S subscribers subscribe to "bench/#"; P publishers each send N messages
 * of BYTES bytes to "bench/<publisher>" at the given QoS (QoS 0: as fast as
 * the socket takes them; QoS 1: in windows of 64 awaiting PUBACK).
 * It prints the delivered message rate and, when --pid names the broker's
 * process, the read/write system calls and CPU time the broker spent per
 * delivered message (from /proc/PID/io and /proc/PID/stat).
 *
 * The load generator uses libstarling's codec only to encode and frame; it
 * speaks plain MQTT 3.1.1, so any broker can be measured the same way.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "mqtt/mqtt-packet.h"

static struct {
  const char *host;
  const char *port;
  int         pid;
  int         publishers;
  int         subscribers;
  int         messages;
  int         size;
  int         qos;
} opt = { NULL, NULL, 0, 4, 4, 50000, 64, 0 };

static gint64 received_total;
static gint   subscribers_ready;
static gint   publishers_done;
static GMutex  last_lock;
static gint64  last_delivery_us;

static int
connect_to (void)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;

  if (getaddrinfo (opt.host, opt.port, &hints, &res) != 0)
    g_error ("cannot resolve %s", opt.host);
  int fd = socket (res->ai_family, SOCK_STREAM, 0);
  if (fd < 0 || connect (fd, res->ai_addr, res->ai_addrlen) != 0)
    g_error ("cannot connect to %s:%s: %s", opt.host, opt.port, g_strerror (errno));
  freeaddrinfo (res);
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void
write_all (int fd, const uint8_t *p, size_t len)
{
  while (len)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        g_error ("write: %s", g_strerror (errno));
      p += n;
      len -= n;
    }
}

/* Reads until one whole packet of `type` has arrived; returns it in buf. */
static void
read_packet (int fd, StBuf *in, MqttPacketType type)
{
  for (;;)
    {
      size_t hl;
      uint32_t rl;
      if (in->len && mqtt_frame (in->data, in->len, &hl, &rl) == MQTT_FRAME_OK &&
          in->len >= hl + rl)
        {
          MqttPacketType got = in->data[0] >> 4;
          st_buf_consume (in, hl + rl);
          if (got == type)
            return;
          continue;
        }
      st_buf_reserve (in, 65536);
      ssize_t n = read (fd, in->data + in->len, in->cap - in->len);
      if (n <= 0)
        g_error ("connection closed while waiting for %s", mqtt_packet_type_name (type));
      in->len += n;
    }
}

static int
mqtt_connect (const char *client_id, StBuf *in)
{
  int fd = connect_to ();
  StBuf out = ST_BUF_INIT;
  MqttConnect c = {
    .version = MQTT_V311,
    .protocol_name = MQTT_BYTES_STR ("MQTT"),
    .clean_start = true,
    .keep_alive = 600,
    .client_id = MQTT_BYTES_STR (client_id),
  };

  mqtt_encode_connect (&out, &c);
  write_all (fd, out.data, out.len);
  st_buf_clear (&out);
  read_packet (fd, in, MQTT_CONNACK);
  return fd;
}

static gpointer
subscriber (gpointer data)
{
  int index = GPOINTER_TO_INT (data);
  g_autofree char *id = g_strdup_printf ("bench-sub-%d", index);
  StBuf in = ST_BUF_INIT, out = ST_BUF_INIT, entries = ST_BUF_INIT;
  int fd = mqtt_connect (id, &in);
  MqttSubOptions so = { .qos = opt.qos };

  mqtt_subscribe_append (&entries, MQTT_V311, MQTT_BYTES_STR ("bench/#"), &so);
  MqttSubscribe s = {
    .packet_id = 1,
    .entries = { entries.data, entries.len },
    .n_entries = 1,
  };
  mqtt_encode_subscribe (&out, MQTT_V311, &s);
  write_all (fd, out.data, out.len);
  read_packet (fd, &in, MQTT_SUBACK);
  g_atomic_int_inc (&subscribers_ready);

  gint64 expected = (gint64) opt.publishers * opt.messages;
  gint64 got = 0, last = 0;
  while (got < expected)
    {
      size_t hl;
      uint32_t rl;
      st_buf_reset (&out);
      while (in.len && mqtt_frame (in.data, in.len, &hl, &rl) == MQTT_FRAME_OK &&
             in.len >= hl + rl)
        {
          if ((in.data[0] >> 4) == MQTT_PUBLISH)
            {
              got++;
              if (((in.data[0] >> 1) & 3) == 1)
                {
                  /* the packet id follows the topic */
                  const uint8_t *p = in.data + hl;
                  size_t tl = (p[0] << 8) | p[1];
                  MqttAck ack = { .type = MQTT_PUBACK, .packet_id = (p[2 + tl] << 8) | p[3 + tl] };
                  mqtt_encode_ack (&out, MQTT_V311, &ack);
                }
            }
          st_buf_consume (&in, hl + rl);
        }
      if (out.len)
        write_all (fd, out.data, out.len);
      if (got >= expected)
        break;
      /* QoS 0 messages may be dropped by an overloaded broker: once every
       * publisher is done, stop after a second without traffic. */
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      int ready = poll (&pfd, 1, g_atomic_int_get (&publishers_done) == opt.publishers ? 1000 : 100);
      if (ready == 0)
        {
          if (g_atomic_int_get (&publishers_done) == opt.publishers)
            break;
          continue;
        }
      st_buf_reserve (&in, 256 * 1024);
      ssize_t n = read (fd, in.data + in.len, in.cap - in.len);
      if (n <= 0)
        g_error ("subscriber %d: connection closed after %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
                 index, got, expected);
      in.len += n;
      last = g_get_monotonic_time ();
    }
  g_atomic_pointer_add (&received_total, got);
  g_mutex_lock (&last_lock);
  last_delivery_us = MAX (last_delivery_us, last);
  g_mutex_unlock (&last_lock);
  close (fd);
  st_buf_clear (&in);
  st_buf_clear (&out);
  st_buf_clear (&entries);
  return NULL;
}

static gpointer
publisher (gpointer data)
{
  int index = GPOINTER_TO_INT (data);
  g_autofree char *id = g_strdup_printf ("bench-pub-%d", index);
  g_autofree char *topic = g_strdup_printf ("bench/%d", index);
  g_autofree uint8_t *payload = g_malloc0 (opt.size);
  StBuf in = ST_BUF_INIT, out = ST_BUF_INIT;
  int fd = mqtt_connect (id, &in);
  const int window = 64;

  for (int sent = 0; sent < opt.messages;)
    {
      int batch = MIN (window, opt.messages - sent);
      st_buf_reset (&out);
      for (int i = 0; i < batch; i++)
        {
          MqttPublish p = {
            .qos = opt.qos,
            .topic = MQTT_BYTES_STR (topic),
            .packet_id = opt.qos ? (uint16_t) (1 + i) : 0,
            .payload = { payload, opt.size },
          };
          mqtt_encode_publish (&out, MQTT_V311, &p);
        }
      write_all (fd, out.data, out.len);
      if (opt.qos == 1)
        for (int i = 0; i < batch; i++)
          read_packet (fd, &in, MQTT_PUBACK);
      sent += batch;
    }

  /* A PINGREQ round trip: the broker has read everything sent before it. */
  st_buf_reset (&out);
  mqtt_encode_pingreq (&out);
  write_all (fd, out.data, out.len);
  read_packet (fd, &in, MQTT_PINGRESP);
  g_atomic_int_inc (&publishers_done);
  close (fd);
  st_buf_clear (&in);
  st_buf_clear (&out);
  return NULL;
}

typedef struct {
  guint64 syscalls;   /* read-like + write-like */
  guint64 cpu_ticks;  /* utime + stime */
  guint64 rss_kb;
} ProcStats;

static gboolean
read_proc (int pid, ProcStats *s)
{
  g_autofree char *io = NULL, *stat = NULL, *status = NULL;
  g_autofree char *io_path = g_strdup_printf ("/proc/%d/io", pid);
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status", pid);

  if (!g_file_get_contents (io_path, &io, NULL, NULL) ||
      !g_file_get_contents (stat_path, &stat, NULL, NULL) ||
      !g_file_get_contents (status_path, &status, NULL, NULL))
    return FALSE;

  const char *r = strstr (io, "syscr: "), *w = strstr (io, "syscw: ");
  s->syscalls = g_ascii_strtoull (r + 7, NULL, 10) + g_ascii_strtoull (w + 7, NULL, 10);

  /* fields after the ")" of the command name: state is field 3, utime 14, stime 15 */
  g_auto(GStrv) f = g_strsplit (strrchr (stat, ')') + 2, " ", -1);
  s->cpu_ticks = g_ascii_strtoull (f[11], NULL, 10) + g_ascii_strtoull (f[12], NULL, 10);

  const char *rss = strstr (status, "VmRSS:");
  s->rss_kb = rss ? g_ascii_strtoull (rss + 6, NULL, 10) : 0;
  return TRUE;
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "pid", 0, 0, G_OPTION_ARG_INT, &opt.pid, "Broker process to measure", "PID" },
    { "publishers", 'p', 0, G_OPTION_ARG_INT, &opt.publishers, "Publishing connections (4)", "P" },
    { "subscribers", 's', 0, G_OPTION_ARG_INT, &opt.subscribers, "Subscribing connections (4)", "S" },
    { "messages", 'n', 0, G_OPTION_ARG_INT, &opt.messages, "Messages per publisher (50000)", "N" },
    { "size", 0, 0, G_OPTION_ARG_INT, &opt.size, "Payload bytes (64)", "BYTES" },
    { "qos", 'q', 0, G_OPTION_ARG_INT, &opt.qos, "QoS 0 or 1 (0)", "Q" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("HOST PORT — broker fan-out benchmark");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 3 ||
      opt.qos < 0 || opt.qos > 1 || opt.publishers < 1 || opt.subscribers < 1 ||
      opt.messages < 1 || opt.size < 0)
    {
      g_printerr ("usage: bench-fanout HOST PORT [options] (see --help)\n");
      return 2;
    }
  opt.host = argv[1];
  opt.port = argv[2];

  GPtrArray *threads = g_ptr_array_new ();
  for (int i = 0; i < opt.subscribers; i++)
    g_ptr_array_add (threads, g_thread_new ("sub", subscriber, GINT_TO_POINTER (i)));
  while (g_atomic_int_get (&subscribers_ready) < opt.subscribers)
    g_usleep (1000);

  ProcStats before = { 0 }, after = { 0 };
  gboolean measured = opt.pid && read_proc (opt.pid, &before);
  gint64 start = g_get_monotonic_time ();

  for (int i = 0; i < opt.publishers; i++)
    g_ptr_array_add (threads, g_thread_new ("pub", publisher, GINT_TO_POINTER (i)));
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (threads->pdata[i]);

  /* until the last delivery: the subscribers' wait for stragglers does not count */
  double seconds = (last_delivery_us - start) / 1e6;
  measured = measured && read_proc (opt.pid, &after);
  gint64 delivered = received_total;

  printf ("published %d x %d messages of %d bytes at QoS %d to %d subscribers\n",
          opt.publishers, opt.messages, opt.size, opt.qos, opt.subscribers);
  gint64 expected = (gint64) opt.publishers * opt.messages * opt.subscribers;
  printf ("delivered %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " (%.2f%%) in %.3f s: %.0f msg/s\n",
          delivered, expected, 100.0 * delivered / expected, seconds, delivered / seconds);
  if (measured)
    {
      long hz = sysconf (_SC_CLK_TCK);
      printf ("broker read+write syscalls per delivered message: %.4f\n",
              (double) (after.syscalls - before.syscalls) / delivered);
      printf ("broker CPU per delivered message: %.2f us\n",
              (double) (after.cpu_ticks - before.cpu_ticks) / hz * 1e6 / delivered);
      printf ("broker resident memory: %" G_GUINT64_FORMAT " KiB\n", after.rss_kb);
    }
  g_ptr_array_unref (threads);
  return 0;
}
