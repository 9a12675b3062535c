/* libstarling's front door: two servers in one process, each its own world.
 *
 * The raw client here encodes with libstarling's codec, whose own tests
 * check it byte by byte; what is under test is StServer and isolation. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mqtt/mqtt-packet.h"
#include "st-server.h"

typedef struct {
  int   fd;
  StBuf in;
} Client;

static StServer *
start_server (const char *name)
{
  g_autoptr(GError) error = NULL;
  StServerConfig c;

  st_server_config_init (&c);
  c.data_dir = g_build_filename (g_get_user_data_dir (), name, NULL);
  c.dev = TRUE;
  c.threads = 2;
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    g_clear_pointer (&c.listen[i], g_free);
  g_clear_pointer (&c.api_listen, g_free);
  c.listen[ST_LISTENER_MQTT] = g_strdup ("127.0.0.1:0");

  StServer *server = st_server_new (&c, &error);
  g_assert_no_error (error);
  g_assert_true (st_server_start (server, &error));
  g_assert_no_error (error);
  st_server_config_clear (&c);
  return server;
}

static guint16
mqtt_port (StServer *server)
{
  g_autofree char *json = st_server_get_ready_json (server);
  const char *p = strstr (json, "\"mqtt\": {\"host\": \"127.0.0.1\", \"port\": ");

  g_assert_nonnull (p);
  return (guint16) atoi (p + strlen ("\"mqtt\": {\"host\": \"127.0.0.1\", \"port\": "));
}

static void
client_send (Client *c, StBuf *out)
{
  g_assert_cmpint (write (c->fd, out->data, out->len), ==, (ssize_t) out->len);
  st_buf_reset (out);
}

/* The next packet, or type 0 when none arrives within timeout_ms. */
static MqttPacketType
client_next (Client *c, int timeout_ms, StBuf *payload)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  for (;;)
    {
      size_t hl;
      uint32_t rl;

      if (c->in.len && mqtt_frame (c->in.data, c->in.len, &hl, &rl) == MQTT_FRAME_OK &&
          c->in.len >= hl + rl)
        {
          MqttPacket pkt;
          g_assert_cmpint (mqtt_decode (c->in.data, hl + rl, MQTT_V5, false, &pkt), ==, MQTT_RC_SUCCESS);
          if (payload && pkt.type == MQTT_PUBLISH)
            {
              st_buf_reset (payload);
              st_buf_append (payload, pkt.publish.payload.data, pkt.publish.payload.len);
            }
          st_buf_consume (&c->in, hl + rl);
          return pkt.type;
        }
      int left = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      struct pollfd pfd = { c->fd, POLLIN, 0 };
      if (left <= 0 || poll (&pfd, 1, left) <= 0)
        return 0;
      st_buf_reserve (&c->in, 4096);
      ssize_t n = read (c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
      g_assert_cmpint (n, >, 0);
      c->in.len += n;
    }
}

static void
client_connect (Client *c, guint16 port, const char *id)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port),
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  StBuf out = ST_BUF_INIT;
  MqttConnect packet = {
    .version = MQTT_V5,
    .protocol_name = MQTT_BYTES_STR ("MQTT"),
    .clean_start = true,
    .keep_alive = 30,
    .client_id = MQTT_BYTES_STR (id),
  };

  st_buf_init (&c->in);
  c->fd = socket (AF_INET, SOCK_STREAM, 0);
  g_assert_cmpint (connect (c->fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  mqtt_encode_connect (&out, &packet);
  client_send (c, &out);
  g_assert_cmpint (client_next (c, 5000, NULL), ==, MQTT_CONNACK);
  st_buf_clear (&out);
}

static void
client_subscribe (Client *c, const char *filter)
{
  StBuf out = ST_BUF_INIT, entries = ST_BUF_INIT;
  MqttSubOptions so = { .qos = 0 };

  mqtt_subscribe_append (&entries, MQTT_V5, MQTT_BYTES_STR (filter), &so);
  MqttSubscribe s = { .packet_id = 1, .entries = { entries.data, entries.len }, .n_entries = 1 };
  mqtt_encode_subscribe (&out, MQTT_V5, &s);
  client_send (c, &out);
  g_assert_cmpint (client_next (c, 5000, NULL), ==, MQTT_SUBACK);
  st_buf_clear (&out);
  st_buf_clear (&entries);
}

static void
client_publish (Client *c, const char *topic, const char *payload, bool retain)
{
  StBuf out = ST_BUF_INIT;
  MqttPublish p = {
    .retain = retain,
    .topic = MQTT_BYTES_STR (topic),
    .payload = MQTT_BYTES_STR (payload),
  };

  mqtt_encode_publish (&out, MQTT_V5, &p);
  client_send (c, &out);
  st_buf_clear (&out);
}

static void
client_close (Client *c)
{
  close (c->fd);
  st_buf_clear (&c->in);
}

static void
test_two_servers (void)
{
  g_autoptr(StServer) a = start_server ("a");
  g_autoptr(StServer) b = start_server ("b");
  guint16 pa = mqtt_port (a), pb = mqtt_port (b);
  Client sub_a, sub_b, pub_a;
  StBuf payload = ST_BUF_INIT;

  g_assert_cmpuint (pa, !=, 0);
  g_assert_cmpuint (pb, !=, 0);
  g_assert_cmpuint (pa, !=, pb);

  /* the same client id on both: two worlds, so neither takes the other over */
  client_connect (&sub_a, pa, "same-id");
  client_connect (&sub_b, pb, "same-id");
  client_subscribe (&sub_a, "t/#");
  client_subscribe (&sub_b, "t/#");

  client_connect (&pub_a, pa, "publisher");
  client_publish (&pub_a, "t/1", "to a only", true);

  g_assert_cmpint (client_next (&sub_a, 5000, &payload), ==, MQTT_PUBLISH);
  g_assert_cmpmem (payload.data, payload.len, "to a only", 9);
  g_assert_cmpint (client_next (&sub_b, 500, NULL), ==, 0);

  /* the retained message stays in a's world too */
  Client late_b;
  client_connect (&late_b, pb, "late");
  client_subscribe (&late_b, "t/#");
  g_assert_cmpint (client_next (&late_b, 500, NULL), ==, 0);

  /* stopping one leaves the other serving */
  st_server_stop (a);
  g_assert_cmpint (client_next (&sub_a, 5000, NULL), ==, MQTT_DISCONNECT);
  Client pub_b;
  client_connect (&pub_b, pb, "publisher");
  client_publish (&pub_b, "t/2", "to b", false);
  g_assert_cmpint (client_next (&sub_b, 5000, &payload), ==, MQTT_PUBLISH);
  g_assert_cmpmem (payload.data, payload.len, "to b", 4);

  client_close (&sub_a);
  client_close (&sub_b);
  client_close (&pub_a);
  client_close (&late_b);
  client_close (&pub_b);
  st_buf_clear (&payload);
}

static void
test_ready_json (void)
{
  g_autoptr(StServer) s = start_server ("ready");
  g_autofree char *path = g_build_filename (g_get_tmp_dir (), "ready.json", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (st_server_write_ready_file (s, path, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_nonnull (strstr (contents, "\"listeners\": {\"mqtt\": {\"host\": \"127.0.0.1\", \"port\": "));
  /* only configured listeners appear */
  g_assert_null (strstr (contents, "\"mqtts\""));
  g_assert_null (strstr (contents, "\"ws\""));
  g_autofree char *pid = g_strdup_printf ("{\"pid\": %d,", (int) getpid ());
  g_assert_true (g_str_has_prefix (contents, pid));
}

static void
test_address_in_use (void)
{
  g_autoptr(StServer) first = start_server ("first");
  g_autofree char *addr = g_strdup_printf ("127.0.0.1:%u", mqtt_port (first));
  g_autoptr(GError) error = NULL;
  StServerConfig c;

  st_server_config_init (&c);
  c.data_dir = g_build_filename (g_get_tmp_dir (), "second", NULL);
  c.dev = TRUE;
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    g_clear_pointer (&c.listen[i], g_free);
  g_clear_pointer (&c.api_listen, g_free);
  c.listen[ST_LISTENER_MQTT] = g_strdup (addr);

  g_autoptr(StServer) second = st_server_new (&c, &error);
  g_assert_no_error (error);
  g_assert_false (st_server_start (second, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, addr));
  st_server_config_clear (&c);
}

/* One server per data directory: a second one is refused, naming the
 * directory and the owner's pid, and may start once the first is gone. */
static void
test_data_dir_lock (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pid = g_strdup_printf ("(pid %ld)", (long) getpid ());
  StServer *first = start_server ("locked");
  StServerConfig c;

  st_server_config_init (&c);
  c.data_dir = g_build_filename (g_get_user_data_dir (), "locked", NULL);
  for (guint i = 0; i < ST_N_LISTENER_KINDS; i++)
    g_clear_pointer (&c.listen[i], g_free);
  g_clear_pointer (&c.api_listen, g_free);

  StServer *second = st_server_new (&c, &error);
  g_assert_null (second);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, c.data_dir));
  g_assert_nonnull (strstr (error->message, pid));
  g_clear_error (&error);

  st_server_free (first);
  second = st_server_new (&c, &error);
  g_assert_no_error (error);
  g_assert_nonnull (second);
  st_server_free (second);
  st_server_config_clear (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/server/two-in-one-process", test_two_servers);
  g_test_add_func ("/server/ready-json", test_ready_json);
  g_test_add_func ("/server/address-in-use", test_address_in_use);
  g_test_add_func ("/server/data-dir-lock", test_data_dir_lock);
  return g_test_run ();
}
