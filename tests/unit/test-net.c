/* test-net.c — the network layer against real sockets on 127.0.0.1, with
 * the echo engine of net-echo-engine.c in place of the MQTT engine and
 * OpenSSL as the TLS client. Every wait is bounded. */
#define G_LOG_DOMAIN "starling-test"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/net-server.h"

StEngine *echo_engine_new (void);
void      echo_engine_free (StEngine *e);
StLoop   *echo_engine_get_loop (StEngine *e, guint index);
void      echo_engine_configure (StEngine *e, size_t pause_above, gboolean line_mode);
gint      echo_engine_count (StEngine *e, const char *what);
char     *echo_engine_dup_last (StEngine *e, const char *what);

#define WAIT_MS 5000

/* ---- Helpers ---------------------------------------------------------- */

typedef gboolean (*CondFunc) (gpointer data);

typedef struct {
  StEngine   *engine;
  const char *what;
  gint        value;
} CountCond;

static gboolean
count_reached (gpointer data)
{
  CountCond *c = data;
  return echo_engine_count (c->engine, c->what) >= c->value;
}

/* Polls until cond holds or WAIT_MS pass. */
static gboolean
wait_for (CondFunc cond, gpointer data)
{
  gint64 end = g_get_monotonic_time () + WAIT_MS * 1000;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_usleep (2000);
    }
  return TRUE;
}

static gboolean
wait_count (StEngine *e, const char *what, gint value)
{
  CountCond c = { e, what, value };
  return wait_for (count_reached, &c);
}

typedef struct {
  int  fd;
  SSL *ssl;
} Client;

static int
tcp_connect (guint16 port)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
  struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
  int one = 1;

  g_assert_cmpint (fd, >=, 0);
  inet_pton (AF_INET, "127.0.0.1", &sin.sin_addr);
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  return fd;
}

static Client
client_tcp (guint16 port)
{
  return (Client) { tcp_connect (port), NULL };
}

static SSL_CTX *
client_ctx (const char *ca_file)
{
  SSL_CTX *ctx = SSL_CTX_new (TLS_client_method ());
  g_assert_nonnull (ctx);
  g_assert_cmpint (SSL_CTX_load_verify_locations (ctx, ca_file, NULL), ==, 1);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
  return ctx;
}

/* Returns FALSE when the handshake fails (the error queue is cleared). */
static gboolean
client_tls_try (SSL_CTX *ctx, guint16 port, const char *sni, const char *verify_host, Client *out)
{
  Client c = { tcp_connect (port), SSL_new (ctx) };

  if (sni)
    SSL_set_tlsext_host_name (c.ssl, sni);
  if (verify_host)
    SSL_set1_host (c.ssl, verify_host);
  SSL_set_fd (c.ssl, c.fd);
  if (SSL_connect (c.ssl) != 1)
    {
      ERR_clear_error ();
      SSL_free (c.ssl);
      close (c.fd);
      return FALSE;
    }
  *out = c;
  return TRUE;
}

static Client
client_tls (SSL_CTX *ctx, guint16 port, const char *sni)
{
  Client c;
  g_assert_true (client_tls_try (ctx, port, sni, "localhost", &c));
  g_assert_cmpint (SSL_get_verify_result (c.ssl), ==, X509_V_OK);
  return c;
}

static void
client_close (Client *c)
{
  if (c->ssl)
    {
      SSL_shutdown (c->ssl);
      SSL_free (c->ssl);
    }
  if (c->fd >= 0)
    close (c->fd);
  c->fd = -1;
  c->ssl = NULL;
}

static void
cwrite (Client *c, const void *data, size_t len)
{
  const uint8_t *p = data;

  while (len > 0)
    {
      ssize_t n = c->ssl ? SSL_write (c->ssl, p, (int) len) : send (c->fd, p, len, MSG_NOSIGNAL);
      g_assert_cmpint (n, >, 0);
      p += n;
      len -= n;
    }
}

/* Reads up to len bytes; 0 on EOF, -1 on error or timeout. */
static ssize_t
cread_some (Client *c, void *buf, size_t len)
{
  if (c->ssl)
    {
      int n = SSL_read (c->ssl, buf, (int) len);
      if (n > 0)
        return n;
      int err = SSL_get_error (c->ssl, n);
      ERR_clear_error ();
      return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
  return recv (c->fd, buf, len, 0);
}

static gboolean
cread_exact (Client *c, void *buf, size_t len)
{
  uint8_t *p = buf;

  while (len > 0)
    {
      ssize_t n = cread_some (c, p, len);
      if (n <= 0)
        return FALSE;
      p += n;
      len -= n;
    }
  return TRUE;
}

static void
expect (Client *c, const char *text)
{
  size_t len = strlen (text);
  g_autofree char *buf = g_malloc0 (len + 1);

  g_assert_true (cread_exact (c, buf, len));
  g_assert_cmpstr (buf, ==, text);
}

/* The peer closed: EOF (or reset) within WAIT_MS. */
static void
expect_eof (Client *c)
{
  char b;
  ssize_t n = cread_some (c, &b, 1);

  if (n < 0 && !c->ssl)
    g_assert_cmpint (errno, ==, ECONNRESET);
  else
    g_assert_cmpint (n, ==, 0);
}

typedef struct {
  StEngine *engine;
  StNet    *net;
  char     *dir;
} Fixture;

static void
fixture_start (Fixture *f, guint threads, const StListenerKind *kinds, guint n_kinds, const char *dir)
{
  StNetConfig cfg = { .threads = threads, .data_dir = dir, .public_host = "example.test" };
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < n_kinds; i++)
    cfg.listen[kinds[i]] = "127.0.0.1:0";
  if (f->engine == NULL)
    f->engine = echo_engine_new ();
  f->net = st_net_new (f->engine, &cfg, &error);
  g_assert_no_error (error);
  g_assert_true (st_net_start (f->net, &error));
  g_assert_no_error (error);
}

static guint16
port_of (Fixture *f, StListenerKind kind)
{
  g_autofree char *host = NULL;
  guint16 port = 0;

  g_assert_true (st_net_get_address (f->net, kind, &host, &port));
  g_assert_cmpstr (host, ==, "127.0.0.1");
  g_assert_cmpuint (port, >, 0);
  return port;
}

static void
fixture_stop (Fixture *f)
{
  if (f->net)
    {
      st_net_stop (f->net);
      st_net_free (f->net);
      f->net = NULL;
    }
  g_assert_cmpint (echo_engine_count (f->engine, "misuse"), ==, 0);
  g_assert_cmpint (echo_engine_count (f->engine, "closed"), ==, echo_engine_count (f->engine, "accepted"));
  echo_engine_free (f->engine);
  f->engine = NULL;
}

static char *
make_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("test-net-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
rm_rf (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileEnumerator) en = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                              G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  GFileInfo *info;

  while (en && (info = g_file_enumerator_next_file (en, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        rm_rf (child);
      else
        g_unlink (child);
      g_object_unref (info);
    }
  g_rmdir (path);
}

/* ---- TCP -------------------------------------------------------------- */

static void
test_tcp_echo_threads (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT };
  enum { N = 48 };
  Client c[N];

  fixture_start (&f, 2, kinds, 1, NULL);
  guint16 port = port_of (&f, ST_LISTENER_MQTT);

  for (int i = 0; i < N; i++)
    c[i] = client_tcp (port);
  for (int i = 0; i < N; i++)
    {
      g_autofree char *msg = g_strdup_printf ("hello %d\n", i);
      cwrite (&c[i], msg, strlen (msg));
    }
  for (int i = 0; i < N; i++)
    {
      g_autofree char *msg = g_strdup_printf ("hello %d\n", i);
      expect (&c[i], msg);
    }
  g_assert_cmpint (echo_engine_count (f.engine, "accepted"), ==, N);
  /* SO_REUSEPORT spreads connections by hash: both loops got some. */
  g_assert_cmpint (echo_engine_count (f.engine, "loop0"), >, 0);
  g_assert_cmpint (echo_engine_count (f.engine, "loop1"), >, 0);
  g_autofree char *kind = echo_engine_dup_last (f.engine, "kind");
  g_assert_cmpstr (kind, ==, "mqtt");
  g_autofree char *peer = echo_engine_dup_last (f.engine, "peer");
  g_assert_true (g_str_has_prefix (peer, "127.0.0.1:"));
  g_autofree char *sni = echo_engine_dup_last (f.engine, "sni");
  g_assert_null (sni);

  /* Cross-thread invokes: '@' goes to the other loop and back. */
  for (int i = 0; i < N; i++)
    cwrite (&c[i], "x@", 2);
  for (int i = 0; i < N; i++)
    expect (&c[i], "x@@");
  g_assert_cmpint (echo_engine_count (f.engine, "invokes"), ==, N);

  /* Peer closes: st_conn_closed once per connection. */
  for (int i = 0; i < N; i++)
    client_close (&c[i]);
  g_assert_true (wait_count (f.engine, "closed", N));
  g_usleep (50000);
  g_assert_cmpint (echo_engine_count (f.engine, "closed"), ==, N);
  g_assert_cmpint (echo_engine_count (f.engine, "ticks"), >, 0);
  fixture_stop (&f);
}

typedef struct {
  Client  *c;
  uint8_t *data;
  size_t   len;
} Sender;

static gpointer
send_thread (gpointer p)
{
  Sender *s = p;
  const uint8_t *d = s->data;
  size_t left = s->len;

  while (left > 0)
    {
      ssize_t n = send (s->c->fd, d, MIN (left, 65536), MSG_NOSIGNAL);
      if (n <= 0)
        return GINT_TO_POINTER (FALSE);
      d += n;
      left -= n;
    }
  return GINT_TO_POINTER (TRUE);
}

static void
test_invoke_stress (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT };
  enum { N = 16, K = 2000 };
  Client c[N];
  g_autofree char *ats = g_strnfill (K, '@');
  g_autofree char *back = g_malloc (2 * K);

  /* Every loop invokes on the other while it is being invoked on. */
  fixture_start (&f, 2, kinds, 1, NULL);
  guint16 port = port_of (&f, ST_LISTENER_MQTT);
  for (int i = 0; i < N; i++)
    c[i] = client_tcp (port);
  g_assert_true (wait_count (f.engine, "ticks", 4));
  for (int i = 0; i < N; i++)
    cwrite (&c[i], ats, K);
  for (int i = 0; i < N; i++)
    {
      g_assert_true (cread_exact (&c[i], back, 2 * K));
      for (int j = 0; j < 2 * K; j++)
        g_assert_cmpint (back[j], ==, '@');
    }
  g_assert_cmpint (echo_engine_count (f.engine, "invokes"), ==, N * K);
  for (int i = 0; i < N; i++)
    client_close (&c[i]);
  g_assert_true (wait_count (f.engine, "closed", N));
  fixture_stop (&f);
}

static void
test_tcp_large (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT };
  const size_t len = 8 * 1024 * 1024;
  g_autofree uint8_t *data = g_malloc (len);
  g_autofree uint8_t *back = g_malloc (len);

  for (size_t i = 0; i < len; i++)
    data[i] = 'a' + (i * 7 + i / 1000) % 26;

  fixture_start (&f, 1, kinds, 1, NULL);
  /* The echo engine stops reading above 1 MiB queued, like the real
   * engine's max_output_buffer, and resumes on st_conn_drained. */
  echo_engine_configure (f.engine, 1024 * 1024, FALSE);
  Client c = client_tcp (port_of (&f, ST_LISTENER_MQTT));
  int small = 64 * 1024;
  setsockopt (c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);

  Sender s = { &c, data, len };
  GThread *th = g_thread_new ("sender", send_thread, &s);
  /* Not reading yet: the server's writes block and EPOLLOUT gets armed. */
  g_usleep (300 * 1000);
  g_assert_true (cread_exact (&c, back, len));
  g_assert_true (GPOINTER_TO_INT (g_thread_join (th)));
  g_assert_true (memcmp (data, back, len) == 0);
  /* Output went above 1 MiB, so writes blocked: reading stopped, and
   * st_conn_drained resumed it. */
  g_assert_cmpint (echo_engine_count (f.engine, "pauses"), >, 0);
  g_assert_cmpint (echo_engine_count (f.engine, "drained"), >=, echo_engine_count (f.engine, "pauses"));

  client_close (&c);
  g_assert_true (wait_count (f.engine, "closed", 1));
  fixture_stop (&f);
}

static void
test_tcp_partial_tail (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT };

  fixture_start (&f, 1, kinds, 1, NULL);
  echo_engine_configure (f.engine, G_MAXSIZE, TRUE);
  Client c = client_tcp (port_of (&f, ST_LISTENER_MQTT));

  /* The engine consumes whole lines only: the tail waits for the rest. */
  cwrite (&c, "ab", 2);
  g_usleep (50 * 1000);
  cwrite (&c, "c\nde", 4);
  expect (&c, "abc\n");
  cwrite (&c, "f\n", 2);
  expect (&c, "def\n");

  /* Paused with whole lines unconsumed: they come once reading resumes,
   * though nothing new arrives. */
  cwrite (&c, "g%h\ni\n", 6);
  expect (&c, "g%h\ni\n");
  client_close (&c);
  g_assert_true (wait_count (f.engine, "closed", 1));
  fixture_stop (&f);
}

static void
test_tcp_engine_close (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT };

  fixture_start (&f, 1, kinds, 1, NULL);
  Client c = client_tcp (port_of (&f, ST_LISTENER_MQTT));

  /* st_transport_close: queued output still leaves, then EOF, even with
   * input the server never read (no RST). */
  cwrite (&c, "bye!ignored", 11);
  expect (&c, "bye!");
  expect_eof (&c);
  g_assert_true (wait_count (f.engine, "closed", 1));
  client_close (&c);
  g_usleep (50 * 1000);
  g_assert_cmpint (echo_engine_count (f.engine, "closed"), ==, 1);
  fixture_stop (&f);
}

static void
test_tcp_half_close (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT };

  fixture_start (&f, 1, kinds, 1, NULL);
  Client c = client_tcp (port_of (&f, ST_LISTENER_MQTT));
  /* The request and the FIN arrive together: the answer is still sent. */
  cwrite (&c, "question", 8);
  shutdown (c.fd, SHUT_WR);
  expect (&c, "question");
  expect_eof (&c);
  g_assert_true (wait_count (f.engine, "closed", 1));
  client_close (&c);
  fixture_stop (&f);
}

static gint64
cpu_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (gint64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC
         + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void
test_tcp_emfile (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT };
  enum { N = 4 };
  int fds[N];
  struct rlimit saved, low;

  fixture_start (&f, 1, kinds, 1, NULL);
  guint16 port = port_of (&f, ST_LISTENER_MQTT);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
  inet_pton (AF_INET, "127.0.0.1", &sin.sin_addr);
  for (int i = 0; i < N; i++)
    fds[i] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  /* No descriptor left for accept: EMFILE with connections waiting in the
   * backlog must not make the loop spin. */
  int probe = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (probe, >=, 0);
  close (probe);
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  low = saved;
  low.rlim_cur = probe;
  g_test_expect_message ("starling-net", G_LOG_LEVEL_WARNING, "mqtt listener: accept: *pausing accepts*");
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);
  /* A descriptor another thread of the process (the sanitizers' own, a
   * library's) closes in the meantime would leave a slot below the limit
   * for accept: take every free one now. */
  g_autoptr (GArray) fillers = g_array_new (FALSE, FALSE, sizeof (int));
  for (int fd; (fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
    g_array_append_val (fillers, fd);
  g_assert_cmpint (errno, ==, EMFILE);
  for (int i = 0; i < N; i++)
    g_assert_cmpint (connect (fds[i], (struct sockaddr *) &sin, sizeof sin), ==, 0);
  gint64 cpu0 = cpu_us ();
  g_usleep (400 * 1000);
  gint64 spent = cpu_us () - cpu0;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, int, i));
  g_test_message ("cpu while out of descriptors: %" G_GINT64_FORMAT " us", spent);
  g_assert_cmpint (spent, <, 150 * 1000);
  g_assert_cmpint (echo_engine_count (f.engine, "accepted"), ==, 0);
  g_test_assert_expected_messages ();

  /* Accepting resumes by itself. */
  for (int i = 0; i < N; i++)
    {
      struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
      setsockopt (fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      Client c = { fds[i], NULL };
      cwrite (&c, "back", 4);
      expect (&c, "back");
      client_close (&c);
    }
  g_assert_true (wait_count (f.engine, "closed", N));
  fixture_stop (&f);
}

static void
test_timeouts (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT, ST_LISTENER_WS };
  const size_t len = 4 * 1024 * 1024;
  g_autofree uint8_t *data = g_malloc (len);

  fixture_start (&f, 1, kinds, 2, NULL);

  /* An upgrade that never finishes is dropped after 10 s. */
  Client slow = client_tcp (port_of (&f, ST_LISTENER_WS));
  cwrite (&slow, "GET / HTTP/1.1\r\n", 16);

  /* The engine closes a connection whose peer reads nothing: after 5 s
   * of trying to flush, it goes, and the engine hears of it. */
  Client deaf = client_tcp (port_of (&f, ST_LISTENER_MQTT));
  int small = 4096;
  setsockopt (deaf.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  memset (data, 'z', len);
  data[len - 1] = '!';
  Sender s = { &deaf, data, len };
  GThread *th = g_thread_new ("sender", send_thread, &s);
  g_assert_true (GPOINTER_TO_INT (g_thread_join (th)));

  gint64 t0 = g_get_monotonic_time ();
  while (echo_engine_count (f.engine, "closed") < 1 && g_get_monotonic_time () - t0 < 15 * G_USEC_PER_SEC)
    g_usleep (20 * 1000);
  g_assert_cmpint (echo_engine_count (f.engine, "closed"), ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - t0, >, 3 * G_USEC_PER_SEC);

  /* Both sockets were closed by the server by now. */
  struct timeval tv = { .tv_sec = 8 };
  setsockopt (slow.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  expect_eof (&slow);
  g_assert_cmpint (echo_engine_count (f.engine, "accepted"), ==, 1);
  client_close (&slow);
  client_close (&deaf);
  fixture_stop (&f);
}

static void
test_tcp_stop_live (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT };
  enum { N = 8 };
  Client c[N];

  fixture_start (&f, 2, kinds, 1, NULL);
  guint16 port = port_of (&f, ST_LISTENER_MQTT);
  for (int i = 0; i < N; i++)
    {
      c[i] = client_tcp (port);
      cwrite (&c[i], "hi", 2);
      expect (&c[i], "hi");
    }

  gint64 t0 = g_get_monotonic_time ();
  st_net_stop (f.net);
  g_test_message ("stop took %" G_GINT64_FORMAT " us", g_get_monotonic_time () - t0);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (echo_engine_count (f.engine, "shutdowns"), ==, N);
  g_assert_cmpint (echo_engine_count (f.engine, "closed"), ==, N);
  for (int i = 0; i < N; i++)
    {
      expect (&c[i], "BYE");
      expect_eof (&c[i]);
      client_close (&c[i]);
    }
  /* The listener is gone. */
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
  inet_pton (AF_INET, "127.0.0.1", &sin.sin_addr);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sin, sizeof sin), <, 0);
  close (fd);
  fixture_stop (&f);
}

static void
test_two_nets (void)
{
  Fixture a = { 0 }, b = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTT, ST_LISTENER_WS };

  fixture_start (&a, 2, kinds, 2, NULL);
  fixture_start (&b, 1, kinds, 2, NULL);
  Client ca = client_tcp (port_of (&a, ST_LISTENER_MQTT));
  Client cb = client_tcp (port_of (&b, ST_LISTENER_MQTT));
  cwrite (&ca, "A", 1);
  cwrite (&cb, "B", 1);
  expect (&ca, "A");
  expect (&cb, "B");
  g_assert_cmpint (echo_engine_count (a.engine, "accepted"), ==, 1);
  g_assert_cmpint (echo_engine_count (b.engine, "accepted"), ==, 1);
  st_net_stop (a.net);
  /* b keeps working after a stopped. */
  cwrite (&cb, "C", 1);
  expect (&cb, "C");
  client_close (&ca);
  client_close (&cb);
  fixture_stop (&a);
  fixture_stop (&b);
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  StEngine *e = echo_engine_new ();
  StNetConfig cfg = { .threads = 2 };

  cfg.listen[ST_LISTENER_MQTT] = "nonsense";
  g_assert_null (st_net_new (e, &cfg, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "mqtt listener"));
  g_clear_error (&error);

  cfg.listen[ST_LISTENER_MQTT] = "::1:1883";
  g_assert_null (st_net_new (e, &cfg, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* The address of a running StNet is in use for another, even though
   * both use SO_REUSEPORT. */
  cfg.listen[ST_LISTENER_MQTT] = "localhost:0";
  StNet *first = st_net_new (e, &cfg, &error);
  g_assert_no_error (error);
  g_autofree char *host = NULL;
  guint16 port;
  g_assert_true (st_net_get_address (first, ST_LISTENER_MQTT, &host, &port));
  g_assert_cmpstr (host, ==, "127.0.0.1");
  g_assert_false (st_net_get_address (first, ST_LISTENER_WS, NULL, NULL));
  g_autofree char *spec = g_strdup_printf ("127.0.0.1:%u", port);
  cfg.listen[ST_LISTENER_MQTT] = spec;
  g_assert_null (st_net_new (e, &cfg, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, "mqtt listener"));
  g_clear_error (&error);
  st_net_free (first);

  /* IPv6 loopback with brackets. */
  cfg.listen[ST_LISTENER_MQTT] = "[::1]:0";
  StNet *v6 = st_net_new (e, &cfg, &error);
  if (v6 == NULL)
    g_test_message ("no IPv6 loopback here: %s", error->message);
  else
    {
      g_assert_no_error (error);
      g_clear_pointer (&host, g_free);
      g_assert_true (st_net_get_address (v6, ST_LISTENER_MQTT, &host, &port));
      g_assert_cmpstr (host, ==, "::1");
      st_net_free (v6);
    }
  g_clear_error (&error);

  /* An unreadable certificate names the listener. */
  cfg.listen[ST_LISTENER_MQTT] = NULL;
  cfg.listen[ST_LISTENER_MQTTS] = "127.0.0.1:0";
  cfg.tls_cert_file = "/nonexistent/cert.pem";
  cfg.tls_key_file = "/nonexistent/key.pem";
  g_assert_null (st_net_new (e, &cfg, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "mqtts listener"));
  g_assert_nonnull (strstr (error->message, "/nonexistent/cert.pem"));
  echo_engine_free (e);
}

/* ---- TLS -------------------------------------------------------------- */

static char *
read_file (const char *path)
{
  char *data = NULL;
  g_assert_true (g_file_get_contents (path, &data, NULL, NULL));
  return data;
}

static void
test_tls_echo (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTTS };
  g_autofree char *dir = make_dir ();

  fixture_start (&f, 2, kinds, 1, dir);
  g_autofree char *ca = g_build_filename (dir, "tls", "ca.pem", NULL);
  g_assert_cmpstr (st_net_get_ca_file (f.net), ==, ca);

  const char *keys[] = { "ca.key", "server.key" };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *p = g_build_filename (dir, "tls", keys[i], NULL);
      struct stat st;
      g_assert_cmpint (stat (p, &st), ==, 0);
      g_assert_cmpint (st.st_mode & 0777, ==, 0600);
    }

  SSL_CTX *ctx = client_ctx (ca);
  guint16 port = port_of (&f, ST_LISTENER_MQTTS);
  Client c = client_tls (ctx, port, "localhost");
  cwrite (&c, "secret", 6);
  expect (&c, "secret");
  g_autofree char *sni = echo_engine_dup_last (f.engine, "sni");
  g_assert_cmpstr (sni, ==, "localhost");
  g_autofree char *kind = echo_engine_dup_last (f.engine, "kind");
  g_assert_cmpstr (kind, ==, "mqtts");
  g_assert_cmpint (SSL_version (c.ssl), >=, TLS1_2_VERSION);

  /* The generated certificate names the public host and its subdomains,
   * and not other hosts. */
  X509 *peer = SSL_get1_peer_certificate (c.ssl);
  g_assert_cmpint (X509_check_host (peer, "example.test", 0, 0, NULL), ==, 1);
  g_assert_cmpint (X509_check_host (peer, "ns.example.test", 0, 0, NULL), ==, 1);
  g_assert_cmpint (X509_check_ip_asc (peer, "127.0.0.1", 0), ==, 1);
  g_assert_cmpint (X509_check_ip_asc (peer, "::1", 0), ==, 1);
  g_assert_cmpint (X509_check_host (peer, "example.org", 0, 0, NULL), !=, 1);
  X509_free (peer);

  /* Big TLS transfer, both ways, in records. */
  const size_t len = 1024 * 1024;
  g_autofree uint8_t *data = g_malloc (len);
  g_autofree uint8_t *back = g_malloc (len);
  for (size_t i = 0; i < len; i++)
    data[i] = 'a' + i % 26;
  for (size_t off = 0; off < len; off += 100000)
    {
      size_t n = MIN (100000, len - off);
      cwrite (&c, data + off, n);
      g_assert_true (cread_exact (&c, back + off, n));
    }
  g_assert_true (memcmp (data, back, len) == 0);
  client_close (&c);

  /* A wrong name does not verify; TLS 1.1 is refused. */
  Client bad;
  g_assert_false (client_tls_try (ctx, port, "localhost", "example.org", &bad));
  SSL_CTX *old = client_ctx (ca);
  SSL_CTX_set_max_proto_version (old, TLS1_1_VERSION);
  SSL_CTX_set_security_level (old, 0);
  g_assert_false (client_tls_try (old, port, NULL, NULL, &bad));
  SSL_CTX_free (old);

  /* TCP half-close without close_notify after a request: still answered. */
  c = client_tls (ctx, port, "localhost");
  cwrite (&c, "last words", 10);
  shutdown (c.fd, SHUT_WR);
  expect (&c, "last words");
  client_close (&c);

  /* No SNI: NULL in StConnInfo. */
  c = client_tls (ctx, port, NULL);
  cwrite (&c, "x", 1);
  expect (&c, "x");
  g_clear_pointer (&sni, g_free);
  sni = echo_engine_dup_last (f.engine, "sni");
  g_assert_null (sni);
  client_close (&c);

  /* Stopping with a live TLS connection: the goodbye, then close_notify
   * (SSL_read sees a clean TLS EOF, not just a TCP one). */
  g_assert_true (wait_count (f.engine, "closed", echo_engine_count (f.engine, "accepted")));
  c = client_tls (ctx, port, "localhost");
  cwrite (&c, "y", 1);
  expect (&c, "y");
  st_net_stop (f.net);
  expect (&c, "BYE");
  expect_eof (&c);
  client_close (&c);

  SSL_CTX_free (ctx);
  fixture_stop (&f);
  rm_rf (dir);
}

static char *
peer_fingerprint (Client *c)
{
  X509 *peer = SSL_get1_peer_certificate (c->ssl);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  X509_digest (peer, EVP_sha256 (), md, &n);
  X509_free (peer);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, md, n);
}

static void
test_tls_reuse_reload (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_MQTTS };
  g_autofree char *dir = make_dir ();
  g_autofree char *ca = g_build_filename (dir, "tls", "ca.pem", NULL);
  g_autofree char *server = g_build_filename (dir, "tls", "server.pem", NULL);
  g_autofree char *server_key = g_build_filename (dir, "tls", "server.key", NULL);

  fixture_start (&f, 1, kinds, 1, dir);
  g_autofree char *ca1 = read_file (ca);
  g_autofree char *srv1 = read_file (server);
  fixture_stop (&f);

  /* A second start reuses the CA and the server certificate. */
  fixture_start (&f, 1, kinds, 1, dir);
  g_autofree char *ca2 = read_file (ca);
  g_autofree char *srv2 = read_file (server);
  g_assert_cmpstr (ca1, ==, ca2);
  g_assert_cmpstr (srv1, ==, srv2);
  SSL_CTX *ctx = client_ctx (ca);
  Client c = client_tls (ctx, port_of (&f, ST_LISTENER_MQTTS), "localhost");
  g_autofree char *fp1 = peer_fingerprint (&c);

  /* Reload after the server certificate was removed: a new one is made
   * (same CA), new connections get it, the old one keeps working. */
  g_assert_cmpint (g_unlink (server), ==, 0);
  g_autoptr (GError) error = NULL;
  g_assert_true (st_net_reload_tls (f.net, &error));
  g_assert_no_error (error);
  g_autofree char *ca3 = read_file (ca);
  g_assert_cmpstr (ca1, ==, ca3);
  Client c2 = client_tls (ctx, port_of (&f, ST_LISTENER_MQTTS), "localhost");
  g_autofree char *fp2 = peer_fingerprint (&c2);
  g_assert_cmpstr (fp1, !=, fp2);
  cwrite (&c, "old", 3);
  expect (&c, "old");
  cwrite (&c2, "new", 3);
  expect (&c2, "new");
  client_close (&c);
  client_close (&c2);
  fixture_stop (&f);

  /* The operator's own files: reload reads them again; a broken file
   * fails the reload and keeps the working context. */
  g_autofree char *own_cert = g_build_filename (dir, "own.pem", NULL);
  g_autofree char *own_key = g_build_filename (dir, "own.key", NULL);
  g_autofree char *srv = read_file (server);
  g_autofree char *key = read_file (server_key);
  g_assert_true (g_file_set_contents (own_cert, srv, -1, NULL));
  g_assert_true (g_file_set_contents (own_key, key, -1, NULL));
  StNetConfig cfg = { .threads = 1, .tls_cert_file = own_cert, .tls_key_file = own_key };
  cfg.listen[ST_LISTENER_MQTTS] = "127.0.0.1:0";
  f.engine = echo_engine_new ();
  f.net = st_net_new (f.engine, &cfg, &error);
  g_assert_no_error (error);
  g_assert_null (st_net_get_ca_file (f.net));
  g_assert_true (st_net_start (f.net, &error));
  g_assert_true (g_file_set_contents (own_cert, "garbage", -1, NULL));
  g_assert_false (st_net_reload_tls (f.net, &error));
  g_assert_nonnull (strstr (error->message, "mqtts listener"));
  g_clear_error (&error);
  c = client_tls (ctx, port_of (&f, ST_LISTENER_MQTTS), "localhost");
  cwrite (&c, "still", 5);
  expect (&c, "still");
  client_close (&c);
  SSL_CTX_free (ctx);
  fixture_stop (&f);
  rm_rf (dir);
}

/* ---- WebSocket -------------------------------------------------------- */

static char *
ws_request (const char *protocols, const char *key)
{
  return g_strdup_printf ("GET /mqtt HTTP/1.1\r\n"
                          "Host: localhost\r\n"
                          "Upgrade: websocket\r\n"
                          "Connection: keep-alive, Upgrade\r\n"
                          "Sec-WebSocket-Key: %s\r\n"
                          "Sec-WebSocket-Version: 13\r\n"
                          "%s%s%s"
                          "\r\n",
                          key ? key : "dGhlIHNhbXBsZSBub25jZQ==",
                          protocols ? "Sec-WebSocket-Protocol: " : "",
                          protocols ? protocols : "",
                          protocols ? "\r\n" : "");
}

/* Reads the HTTP response head. */
static char *
read_head (Client *c)
{
  GString *s = g_string_new (NULL);
  char ch;

  while (!g_str_has_suffix (s->str, "\r\n\r\n"))
    {
      if (cread_some (c, &ch, 1) != 1 || s->len > 8192)
        break;
      g_string_append_c (s, ch);
    }
  return g_string_free (s, FALSE);
}

static Client
ws_open (Client c, const char *protocols, const char *expect_protocol)
{
  g_autofree char *req = ws_request (protocols, NULL);

  cwrite (&c, req, strlen (req));
  g_autofree char *head = read_head (&c);
  g_assert_true (g_str_has_prefix (head, "HTTP/1.1 101 "));
  /* RFC 6455's own example key and answer. */
  g_assert_nonnull (strstr (head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
  if (expect_protocol)
    {
      g_autofree char *line = g_strdup_printf ("\r\nSec-WebSocket-Protocol: %s\r\n", expect_protocol);
      g_assert_nonnull (strstr (head, line));
    }
  else
    g_assert_null (strstr (head, "Sec-WebSocket-Protocol"));
  return c;
}

static void
ws_send (Client *c, uint8_t b0, const void *payload, size_t len, gboolean masked)
{
  uint8_t hdr[14];
  size_t n = 0;
  const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };

  hdr[n++] = b0;
  uint8_t m = masked ? 0x80 : 0;
  if (len < 126)
    hdr[n++] = m | len;
  else if (len <= 0xffff)
    {
      hdr[n++] = m | 126;
      hdr[n++] = len >> 8;
      hdr[n++] = len & 0xff;
    }
  else
    {
      hdr[n++] = m | 127;
      for (int i = 7; i >= 0; i--)
        hdr[n++] = ((uint64_t) len >> (8 * i)) & 0xff;
    }
  if (masked)
    {
      memcpy (hdr + n, mask, 4);
      n += 4;
    }
  g_autofree uint8_t *frame = g_malloc (n + len);
  memcpy (frame, hdr, n);
  for (size_t i = 0; i < len; i++)
    frame[n + i] = ((const uint8_t *) payload)[i] ^ (masked ? mask[i & 3] : 0);
  cwrite (c, frame, n + len);
}

/* Reads one server frame: opcode, payload. Server frames are unmasked. */
static int
ws_recv (Client *c, GByteArray *payload)
{
  uint8_t h[2];

  g_byte_array_set_size (payload, 0);
  if (!cread_exact (c, h, 2))
    return -1;
  g_assert_cmpint (h[0] & 0x80, ==, 0x80);   /* FIN */
  g_assert_cmpint (h[1] & 0x80, ==, 0);      /* not masked */
  uint64_t len = h[1] & 0x7f;
  if (len == 126 || len == 127)
    {
      uint8_t ext[8];
      int n = len == 126 ? 2 : 8;
      g_assert_true (cread_exact (c, ext, n));
      len = 0;
      for (int i = 0; i < n; i++)
        len = (len << 8) | ext[i];
    }
  g_byte_array_set_size (payload, len);
  g_assert_true (cread_exact (c, payload->data, len));
  return h[0] & 0x0f;
}

/* Collects binary frames until want bytes of MQTT stream arrived. */
static void
ws_expect_stream (Client *c, const void *want, size_t len)
{
  g_autoptr (GByteArray) all = g_byte_array_new ();
  g_autoptr (GByteArray) p = g_byte_array_new ();

  while (all->len < len)
    {
      g_assert_cmpint (ws_recv (c, p), ==, 2);
      g_byte_array_append (all, p->data, p->len);
    }
  g_assert_cmpuint (all->len, ==, len);
  g_assert_true (memcmp (all->data, want, len) == 0);
}

static void
ws_expect_close (Client *c, guint code)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();

  g_assert_cmpint (ws_recv (c, p), ==, 8);
  g_assert_cmpuint (p->len, >=, 2);
  g_assert_cmpuint ((p->data[0] << 8) | p->data[1], ==, code);
  expect_eof (c);
}

static void
ws_suite (Fixture *f, StListenerKind kind, SSL_CTX *ctx)
{
  guint16 port = port_of (f, kind);
#define CONNECT() (ctx ? client_tls (ctx, port, "localhost") : client_tcp (port))

  Client c = ws_open (CONNECT (), "mqtt", "mqtt");
  g_autofree char *k = echo_engine_dup_last (f->engine, "kind");
  g_assert_cmpstr (k, ==, st_listener_kind_name (kind));

  ws_send (&c, 0x82, "hello", 5, TRUE);
  ws_expect_stream (&c, "hello", 5);

  /* Fragmented: binary FIN=0, a ping in between, continuation FIN=1. */
  ws_send (&c, 0x02, "frag", 4, TRUE);
  ws_send (&c, 0x89, "pp", 2, TRUE);
  ws_send (&c, 0x80, "ment", 4, TRUE);
  g_autoptr (GByteArray) p = g_byte_array_new ();
  g_autoptr (GByteArray) all = g_byte_array_new ();
  gboolean pong = FALSE;
  while (all->len < 8)
    {
      int op = ws_recv (&c, p);
      if (op == 0xA)
        {
          g_assert_cmpuint (p->len, ==, 2);
          g_assert_true (memcmp (p->data, "pp", 2) == 0);
          pong = TRUE;
        }
      else
        {
          g_assert_cmpint (op, ==, 2);
          g_byte_array_append (all, p->data, p->len);
        }
    }
  g_assert_true (memcmp (all->data, "fragment", 8) == 0);
  if (!pong)
    {
      g_assert_cmpint (ws_recv (&c, p), ==, 0xA);
      g_assert_true (memcmp (p->data, "pp", 2) == 0);
    }

  /* A ping on its own is answered at once. */
  ws_send (&c, 0x89, "solo", 4, TRUE);
  g_assert_cmpint (ws_recv (&c, p), ==, 0xA);
  g_assert_cmpuint (p->len, ==, 4);
  g_assert_true (memcmp (p->data, "solo", 4) == 0);

  /* 16- and 64-bit lengths, and frames split at odd places by the client. */
  const size_t big = 70000;
  g_autofree uint8_t *data = g_malloc (big);
  for (size_t i = 0; i < big; i++)
    data[i] = 'A' + i % 23;
  ws_send (&c, 0x82, data, 300, TRUE);
  ws_expect_stream (&c, data, 300);
  ws_send (&c, 0x82, data, big, TRUE);
  ws_expect_stream (&c, data, big);

  /* Output is framed per MQTT packet: two packets in, two frames out;
   * bytes that do not parse as a whole packet go in one frame. */
  /* (0x50, not PUBACK's 0x40: that is the echo engine's '@'.) */
  static const uint8_t two[] = { 0x30, 0x02, 'a', 'b', 0x50, 0x02, 0x00, 0x01, 0x30, 0x7f, 'x' };
  ws_send (&c, 0x82, two, sizeof two, TRUE);
  g_assert_cmpint (ws_recv (&c, p), ==, 2);
  g_assert_cmpuint (p->len, ==, 4);
  g_assert_true (memcmp (p->data, two, 4) == 0);
  g_assert_cmpint (ws_recv (&c, p), ==, 2);
  g_assert_cmpuint (p->len, ==, 4);
  g_assert_true (memcmp (p->data, two + 4, 4) == 0);
  g_assert_cmpint (ws_recv (&c, p), ==, 2);
  g_assert_cmpuint (p->len, ==, 3);
  g_assert_true (memcmp (p->data, two + 8, 3) == 0);

  /* An empty data frame adds nothing to the stream. */
  ws_send (&c, 0x82, "", 0, TRUE);
  ws_send (&c, 0x82, "\xe0\x00", 2, TRUE);
  ws_expect_stream (&c, "\xe0\x00", 2);

  /* Close: answered with the same code. */
  uint8_t code[2] = { 1000 >> 8, 1000 & 0xff };
  ws_send (&c, 0x88, code, 2, TRUE);
  ws_expect_close (&c, 1000);
  client_close (&c);

  /* A close frame followed by a TCP half-close still gets its answer. */
  c = ws_open (CONNECT (), NULL, NULL);
  ws_send (&c, 0x88, code, 2, TRUE);
  shutdown (c.fd, SHUT_WR);
  ws_expect_close (&c, 1000);
  client_close (&c);

  /* Unmasked frame: 1002. */
  c = ws_open (CONNECT (), NULL, NULL);
  ws_send (&c, 0x82, "x", 1, FALSE);
  ws_expect_close (&c, 1002);
  client_close (&c);

  /* A 64-bit length with the top bit set: 1002; beyond 1 GiB: 1009. */
  static const uint8_t huge_msb[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4 };
  static const uint8_t huge[] = { 0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4 };
  c = ws_open (CONNECT (), NULL, NULL);
  cwrite (&c, huge_msb, sizeof huge_msb);
  ws_expect_close (&c, 1002);
  client_close (&c);
  c = ws_open (CONNECT (), NULL, NULL);
  cwrite (&c, huge, sizeof huge);
  ws_expect_close (&c, 1009);
  client_close (&c);

  /* A control frame longer than 125 bytes: 1002. */
  c = ws_open (CONNECT (), NULL, NULL);
  ws_send (&c, 0x89, data, 126, TRUE);
  ws_expect_close (&c, 1002);
  client_close (&c);

  /* Text frame: 1003. */
  c = ws_open (CONNECT (), "mqttv3.1", "mqttv3.1");
  ws_send (&c, 0x81, "text", 4, TRUE);
  ws_expect_close (&c, 1003);
  client_close (&c);

  /* The engine closes: the data, then a close frame. */
  c = ws_open (CONNECT (), "mqtt, other", "mqtt");
  ws_send (&c, 0x82, "end!", 4, TRUE);
  ws_expect_stream (&c, "end!", 4);
  ws_expect_close (&c, 1000);
  client_close (&c);

  /* The first frame in the same write as the upgrade request. */
  {
    c = CONNECT ();
    g_autofree char *req0 = ws_request ("mqtt", NULL);
    static const uint8_t frame[] = { 0x82, 0x82, 0, 0, 0, 0, 0xc0, 0x00 };
    g_autoptr (GByteArray) both = g_byte_array_new ();
    g_byte_array_append (both, (const guint8 *) req0, strlen (req0));
    g_byte_array_append (both, frame, sizeof frame);
    cwrite (&c, both->data, both->len);
    g_autofree char *head0 = read_head (&c);
    g_assert_true (g_str_has_prefix (head0, "HTTP/1.1 101 "));
    ws_expect_stream (&c, "\xc0\x00", 2);
    client_close (&c);
  }

  /* Offered protocols without mqtt: 400 and close. */
  c = CONNECT ();
  g_autofree char *req = ws_request ("chat, superchat", NULL);
  cwrite (&c, req, strlen (req));
  g_autofree char *head = read_head (&c);
  g_assert_true (g_str_has_prefix (head, "HTTP/1.1 400 "));
  expect_eof (&c);
  client_close (&c);

  /* A header without end beyond 8 KiB: 431 and close. */
  c = CONNECT ();
  g_autofree char *junk = g_strnfill (10000, 'a');
  cwrite (&c, "GET / HTTP/1.1\r\nX-Junk: ", 24);
  cwrite (&c, junk, strlen (junk));
  g_autofree char *head2 = read_head (&c);
  g_assert_true (g_str_has_prefix (head2, "HTTP/1.1 431 "));
  client_close (&c);

  /* Not a WebSocket request at all. */
  c = CONNECT ();
  cwrite (&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
  g_autofree char *head3 = read_head (&c);
  g_assert_true (g_str_has_prefix (head3, "HTTP/1.1 400 "));
  client_close (&c);
#undef CONNECT
}

static void
test_ws (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_WS };

  fixture_start (&f, 2, kinds, 1, NULL);
  ws_suite (&f, ST_LISTENER_WS, NULL);
  g_assert_true (wait_count (f.engine, "closed", echo_engine_count (f.engine, "accepted")));
  /* Refused upgrades never reach the engine. */
  g_assert_cmpint (echo_engine_count (f.engine, "accepted"), ==, 9);
  fixture_stop (&f);
}

static void
test_wss (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_WSS, ST_LISTENER_MQTTS };
  g_autofree char *dir = make_dir ();

  fixture_start (&f, 1, kinds, 2, dir);
  SSL_CTX *ctx = client_ctx (st_net_get_ca_file (f.net));
  ws_suite (&f, ST_LISTENER_WSS, ctx);
  g_autofree char *sni = echo_engine_dup_last (f.engine, "sni");
  g_assert_cmpstr (sni, ==, "localhost");
  SSL_CTX_free (ctx);
  g_assert_true (wait_count (f.engine, "closed", echo_engine_count (f.engine, "accepted")));
  fixture_stop (&f);
  rm_rf (dir);
}

static void
test_handshake_stop (void)
{
  Fixture f = { 0 };
  StListenerKind kinds[] = { ST_LISTENER_WS, ST_LISTENER_MQTTS };
  g_autofree char *dir = make_dir ();

  /* Connections still in their TLS or HTTP handshake when the server
   * stops are closed without the engine hearing of them. */
  fixture_start (&f, 1, kinds, 2, dir);
  Client a = client_tcp (port_of (&f, ST_LISTENER_WS));
  Client b = client_tcp (port_of (&f, ST_LISTENER_MQTTS));
  cwrite (&a, "GET / HT", 8);
  g_usleep (50 * 1000);
  st_net_stop (f.net);
  expect_eof (&a);
  expect_eof (&b);
  g_assert_cmpint (echo_engine_count (f.engine, "accepted"), ==, 0);
  client_close (&a);
  client_close (&b);
  fixture_stop (&f);
  rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* The OpenSSL test clients write to sockets the server may have closed. */
  signal (SIGPIPE, SIG_IGN);

  g_test_add_func ("/net/tcp/echo-threads", test_tcp_echo_threads);
  g_test_add_func ("/net/tcp/large-transfer", test_tcp_large);
  g_test_add_func ("/net/invoke-stress", test_invoke_stress);
  g_test_add_func ("/net/tcp/partial-tail", test_tcp_partial_tail);
  g_test_add_func ("/net/tcp/engine-close", test_tcp_engine_close);
  g_test_add_func ("/net/tcp/half-close", test_tcp_half_close);
  g_test_add_func ("/net/tcp/emfile", test_tcp_emfile);
  g_test_add_func ("/net/tcp/stop-live", test_tcp_stop_live);
  g_test_add_func ("/net/timeouts", test_timeouts);
  g_test_add_func ("/net/two-nets", test_two_nets);
  g_test_add_func ("/net/errors", test_errors);
  g_test_add_func ("/net/tls/echo", test_tls_echo);
  g_test_add_func ("/net/tls/reuse-reload", test_tls_reuse_reload);
  g_test_add_func ("/net/ws/frames", test_ws);
  g_test_add_func ("/net/wss/frames", test_wss);
  g_test_add_func ("/net/handshake-stop", test_handshake_stop);

  return g_test_run ();
}
