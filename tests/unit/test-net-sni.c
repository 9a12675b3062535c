/* test-net-sni.c — per-namespace TLS certificates chosen by SNI: real
 * sockets on 127.0.0.1, the echo engine of net-echo-engine.c in place of
 * the MQTT engine, OpenSSL as a verifying client. Every wait is bounded. */
#define G_LOG_DOMAIN "starling-test"

#include <errno.h>
#include <arpa/inet.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/net-server.h"

StEngine *echo_engine_new (void);
void      echo_engine_free (StEngine *e);
gint      echo_engine_count (StEngine *e, const char *what);

#define WAIT_MS 5000

/* ---- Helpers ---------------------------------------------------------- */

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

static SSL_CTX *
client_ctx (const char *ca_file)
{
  SSL_CTX *ctx = SSL_CTX_new (TLS_client_method ());
  g_assert_nonnull (ctx);
  g_assert_cmpint (SSL_CTX_load_verify_locations (ctx, ca_file, NULL), ==, 1);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
  return ctx;
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

/* Connects with sni and verifies the certificate for verify_host (NULL:
 * the chain only). FALSE when the handshake fails. */
static gboolean
client_try (SSL_CTX *ctx, guint16 port, const char *sni, const char *verify_host, Client *out)
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

/* A verified connection to hostname (SNI and the name checked), with one
 * echo round trip so the server side is really up. */
static Client
client_verified (SSL_CTX *ctx, guint16 port, const char *hostname)
{
  Client c;
  char buf[4] = { 0 };

  if (!client_try (ctx, port, hostname, hostname, &c))
    g_error ("TLS to %s did not verify", hostname);
  g_assert_cmpint (SSL_get_verify_result (c.ssl), ==, X509_V_OK);
  g_assert_cmpint (SSL_write (c.ssl, "ping", 4), ==, 4);
  g_assert_cmpint (SSL_read (c.ssl, buf, 4), ==, 4);
  g_assert_cmpmem (buf, 4, "ping", 4);
  return c;
}

/* The SHA-256 fingerprint of the certificate the server presents for sni
 * (trusting the chain only, so the default certificate is seen too). */
static char *
served_fingerprint (SSL_CTX *ctx, guint16 port, const char *sni)
{
  Client c;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  g_assert_true (client_try (ctx, port, sni, NULL, &c));
  X509 *peer = SSL_get1_peer_certificate (c.ssl);
  g_assert_nonnull (peer);
  X509_digest (peer, EVP_sha256 (), md, &n);
  X509_free (peer);
  client_close (&c);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, md, n);
}

static char *
file_fingerprint (const char *pem_path)
{
  BIO *bio = BIO_new_file (pem_path, "r");
  X509 *cert = bio ? PEM_read_bio_X509 (bio, NULL, NULL, NULL) : NULL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  BIO_free (bio);
  g_assert_nonnull (cert);
  X509_digest (cert, EVP_sha256 (), md, &n);
  X509_free (cert);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, md, n);
}

static char *
read_file (const char *path)
{
  char *data = NULL;
  g_assert_true (g_file_get_contents (path, &data, NULL, NULL));
  return data;
}

typedef struct {
  StEngine *engine;
  StNet    *net;
  char     *dir;        /* data dir */
  char     *tls;        /* dir/tls */
  char     *ns_dir;     /* dir/tls/namespaces */
  char     *ca;         /* dir/tls/ca.pem */
  guint16   port;         /* mqtts */
  guint16   wss_port;
} Fixture;

static void
fixture_start_cfg (Fixture *f, StNetConfig *cfg)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *host = NULL;

  cfg->threads = 2;
  cfg->listen[ST_LISTENER_MQTTS] = "127.0.0.1:0";
  cfg->listen[ST_LISTENER_WSS] = "127.0.0.1:0";
  f->engine = echo_engine_new ();
  f->net = st_net_new (f->engine, cfg, &error);
  g_assert_no_error (error);
  g_assert_true (st_net_start (f->net, &error));
  g_assert_no_error (error);
  g_assert_true (st_net_get_address (f->net, ST_LISTENER_MQTTS, &host, &f->port));
  g_clear_pointer (&host, g_free);
  g_assert_true (st_net_get_address (f->net, ST_LISTENER_WSS, &host, &f->wss_port));
}

static void
fixture_start (Fixture *f)
{
  StNetConfig cfg = { .data_dir = f->dir, .public_host = "localhost" };

  if (f->dir == NULL)
    {
      g_autoptr (GError) error = NULL;
      f->dir = g_dir_make_tmp ("test-net-sni-XXXXXX", &error);
      g_assert_no_error (error);
      f->tls = g_build_filename (f->dir, "tls", NULL);
      f->ns_dir = g_build_filename (f->tls, "namespaces", NULL);
      f->ca = g_build_filename (f->tls, "ca.pem", NULL);
      cfg.data_dir = f->dir;
    }
  fixture_start_cfg (f, &cfg);
}

static void
fixture_stop (Fixture *f)
{
  st_net_stop (f->net);
  st_net_free (f->net);
  f->net = NULL;
  g_assert_cmpint (echo_engine_count (f->engine, "misuse"), ==, 0);
  g_assert_cmpint (echo_engine_count (f->engine, "closed"), ==, echo_engine_count (f->engine, "accepted"));
  echo_engine_free (f->engine);
  f->engine = NULL;
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_free (Fixture *f)
{
  rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->tls);
  g_free (f->ns_dir);
  g_free (f->ca);
}

static char *
ns_file (Fixture *f, const char *ns, const char *ext)
{
  g_autofree char *base = g_strconcat (ns, ext, NULL);
  return g_build_filename (f->ns_dir, base, NULL);
}

static gint
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

/* Sorted names of the files in the namespaces folder, space-separated
 * ("" when it is empty or missing). */
static char *
ns_files (Fixture *f)
{
  g_autoptr (GDir) dir = g_dir_open (f->ns_dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, cmp_str_ptr);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static void
assert_ns_files (Fixture *f, const char *expected)
{
  g_autofree char *got = ns_files (f);
  g_assert_cmpstr (got, ==, expected);
}

/* ---- Tests ------------------------------------------------------------ */

/* A broker's hostname verifies against the local CA with its namespace's
 * certificate; the namespace's own name too; nothing else does. */
static void
test_namespace_cert (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  const char *names[] = { "home", "office", NULL };

  fixture_start (&f);
  g_assert_true (st_net_set_tls_namespaces (f.net, names, &error));
  g_assert_no_error (error);
  assert_ns_files (&f, "home.key home.pem office.key office.pem");

  g_autofree char *key = ns_file (&f, "home", ".key");
  struct stat st;
  g_assert_cmpint (stat (key, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (stat (f.ns_dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  SSL_CTX *ctx = client_ctx (f.ca);
  Client c = client_verified (ctx, f.port, "sensors.home.localhost");
  X509 *peer = SSL_get1_peer_certificate (c.ssl);
  g_assert_cmpint (X509_check_host (peer, "sensors.home.localhost", 0, 0, NULL), ==, 1);
  g_assert_cmpint (X509_check_host (peer, "home.localhost", 0, 0, NULL), ==, 1);
  g_assert_cmpint (X509_check_host (peer, "a.b.home.localhost", 0, 0, NULL), !=, 1);
  g_assert_cmpint (X509_check_host (peer, "sensors.office.localhost", 0, 0, NULL), !=, 1);
  X509_free (peer);
  client_close (&c);

  /* Case does not matter in SNI; the apex name verifies as well. */
  c = client_verified (ctx, f.port, "Sensors.HOME.localhost");
  client_close (&c);
  c = client_verified (ctx, f.port, "home.localhost");
  client_close (&c);
  c = client_verified (ctx, f.port, "lights.office.localhost");
  client_close (&c);

  /* The certificate served is the one cached on disk, and each namespace
   * has its own: one namespace's certificate does not pass for another's
   * hostname. */
  g_autofree char *pem = ns_file (&f, "home", ".pem");
  g_autofree char *fp_file = file_fingerprint (pem);
  g_autofree char *fp_home = served_fingerprint (ctx, f.port, "x.home.localhost");
  g_autofree char *fp_office = served_fingerprint (ctx, f.port, "x.office.localhost");
  g_assert_cmpstr (fp_home, ==, fp_file);
  g_assert_cmpstr (fp_home, !=, fp_office);
  Client bad;
  g_assert_false (client_try (ctx, f.port, "sensors.home.localhost", "sensors.office.localhost", &bad));

  /* Secure WebSocket: the same certificates (the TLS handshake alone). */
  g_assert_true (client_try (ctx, f.wss_port, "sensors.home.localhost", "sensors.home.localhost", &c));
  g_assert_cmpint (SSL_get_verify_result (c.ssl), ==, X509_V_OK);
  client_close (&c);
  g_autofree char *fp_wss = served_fingerprint (ctx, f.wss_port, "x.home.localhost");
  g_assert_cmpstr (fp_wss, ==, fp_home);

  SSL_CTX_free (ctx);
  fixture_stop (&f);
  fixture_free (&f);
}

/* Names that are no namespace's get the default certificate, and SNI
 * never makes the server generate or write anything. */
static void
test_unknown_names (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  const char *names[] = { "home", NULL };

  fixture_start (&f);
  g_assert_true (st_net_set_tls_namespaces (f.net, names, &error));
  SSL_CTX *ctx = client_ctx (f.ca);
  g_autofree char *server_pem = g_build_filename (f.tls, "server.pem", NULL);
  g_autofree char *fp_default = file_fingerprint (server_pem);
  g_autofree char *fp_home = served_fingerprint (ctx, f.port, "b.home.localhost");
  g_assert_cmpstr (fp_default, !=, fp_home);

  const char *sni[] = {
    "b.nope.localhost", "nope.localhost", "localhost", "a.b.home.localhost",
    ".home.localhost", "b.home.localhost.evil", "b.home.example.org", "home",
    "b.-x.localhost", "b.../x.localhost", "127.0.0.1",
  };
  for (guint i = 0; i < G_N_ELEMENTS (sni); i++)
    {
      g_autofree char *fp = served_fingerprint (ctx, f.port, sni[i]);
      g_test_message ("SNI %s", sni[i]);
      g_assert_cmpstr (fp, ==, fp_default);
    }
  /* No SNI at all: the default too. */
  g_autofree char *fp_none = served_fingerprint (ctx, f.port, NULL);
  g_assert_cmpstr (fp_none, ==, fp_default);

  /* The default certificate does not pass for a broker's hostname (its
   * "*.localhost" covers one label only), so unknown namespaces fail. */
  Client bad;
  g_assert_false (client_try (ctx, f.port, "b.nope.localhost", "b.nope.localhost", &bad));
  assert_ns_files (&f, "home.key home.pem");

  SSL_CTX_free (ctx);
  fixture_stop (&f);
  fixture_free (&f);
}

/* Namespaces created and deleted while running; a restart keeps the
 * cached certificates of namespaces that still exist and drops the rest. */
static void
test_add_remove_restart (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  const char *names[] = { "home", "office", NULL };

  fixture_start (&f);
  g_assert_true (st_net_set_tls_namespaces (f.net, names, &error));
  SSL_CTX *ctx = client_ctx (f.ca);
  Client bad;

  /* Created: verifies at once. */
  g_assert_false (client_try (ctx, f.port, "b.garage.localhost", "b.garage.localhost", &bad));
  g_assert_true (st_net_add_tls_namespace (f.net, "garage", &error));
  g_assert_no_error (error);
  Client c = client_verified (ctx, f.port, "b.garage.localhost");
  assert_ns_files (&f, "garage.key garage.pem home.key home.pem office.key office.pem");

  /* Deleted: the files go, new connections get the default certificate
   * (which does not verify), a live connection is not disturbed. */
  Client home = client_verified (ctx, f.port, "b.home.localhost");
  st_net_remove_tls_namespace (f.net, "home");
  assert_ns_files (&f, "garage.key garage.pem office.key office.pem");
  g_assert_false (client_try (ctx, f.port, "b.home.localhost", "b.home.localhost", &bad));
  g_assert_cmpint (SSL_write (home.ssl, "live", 4), ==, 4);
  char buf[4];
  g_assert_cmpint (SSL_read (home.ssl, buf, 4), ==, 4);
  g_assert_cmpmem (buf, 4, "live", 4);
  client_close (&home);
  client_close (&c);
  /* Removing what does not exist is harmless. */
  st_net_remove_tls_namespace (f.net, "home");
  st_net_remove_tls_namespace (f.net, "never");

  /* Names that are not namespaces' are refused, and nothing is written. */
  const char *invalid[] = { "", "../x", "Home", "a.b", "-x", "x-",
                            "a234567890123456789012345678901234567890123456789012345678901234" };
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_assert_false (st_net_add_tls_namespace (f.net, invalid[i], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  assert_ns_files (&f, "garage.key garage.pem office.key office.pem");

  g_autofree char *office_pem = ns_file (&f, "office", ".pem");
  g_autofree char *office1 = read_file (office_pem);
  fixture_stop (&f);

  /* Restart with office and a new namespace: office's certificate is
   * reused as it is, garage's (deleted meanwhile) is removed. */
  fixture_start (&f);
  const char *names2[] = { "office", "attic", NULL };
  g_assert_true (st_net_set_tls_namespaces (f.net, names2, &error));
  assert_ns_files (&f, "attic.key attic.pem office.key office.pem");
  g_autofree char *office2 = read_file (office_pem);
  g_assert_cmpstr (office1, ==, office2);
  c = client_verified (ctx, f.port, "b.office.localhost");
  client_close (&c);
  c = client_verified (ctx, f.port, "b.attic.localhost");
  client_close (&c);
  g_assert_false (client_try (ctx, f.port, "b.garage.localhost", "b.garage.localhost", &bad));

  SSL_CTX_free (ctx);
  fixture_stop (&f);
  fixture_free (&f);
}

/* SIGHUP's reload renews namespace certificates like the server's: a
 * missing one is made again, and a new CA re-signs them all. */
static void
test_reload (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  const char *names[] = { "home", NULL };

  fixture_start (&f);
  g_assert_true (st_net_set_tls_namespaces (f.net, names, &error));
  SSL_CTX *ctx = client_ctx (f.ca);
  g_autofree char *fp1 = served_fingerprint (ctx, f.port, "b.home.localhost");
  g_autofree char *pem = ns_file (&f, "home", ".pem");

  /* Nothing changed: the same certificate after a reload. */
  g_assert_true (st_net_reload_tls (f.net, &error));
  g_assert_no_error (error);
  g_autofree char *fp2 = served_fingerprint (ctx, f.port, "b.home.localhost");
  g_assert_cmpstr (fp1, ==, fp2);

  /* Its file removed: a new one. */
  g_assert_cmpint (g_unlink (pem), ==, 0);
  g_assert_true (st_net_reload_tls (f.net, &error));
  g_autofree char *fp3 = served_fingerprint (ctx, f.port, "b.home.localhost");
  g_assert_cmpstr (fp3, !=, fp1);
  g_autofree char *fp3_file = file_fingerprint (pem);
  g_assert_cmpstr (fp3, ==, fp3_file);
  Client c = client_verified (ctx, f.port, "b.home.localhost");
  client_close (&c);

  /* A new CA: the old CA no longer verifies it, the new one does. */
  g_autofree char *ca_key = g_build_filename (f.tls, "ca.key", NULL);
  g_assert_cmpint (g_unlink (ca_key), ==, 0);
  g_assert_cmpint (g_unlink (f.ca), ==, 0);
  g_assert_true (st_net_reload_tls (f.net, &error));
  Client bad;
  g_assert_false (client_try (ctx, f.port, "b.home.localhost", "b.home.localhost", &bad));
  SSL_CTX *ctx2 = client_ctx (f.ca);
  c = client_verified (ctx2, f.port, "b.home.localhost");
  client_close (&c);

  SSL_CTX_free (ctx);
  SSL_CTX_free (ctx2);
  fixture_stop (&f);
  fixture_free (&f);
}

/* The operator's own certificate serves every name; no namespace
 * certificate is made. */
static void
test_operator_cert (void)
{
  Fixture gen = { 0 };
  g_autoptr (GError) error = NULL;

  /* A certificate to play the operator's: the generated server one. */
  fixture_start (&gen);
  g_autofree char *own_cert = g_build_filename (gen.tls, "server.pem", NULL);
  g_autofree char *own_key = g_build_filename (gen.tls, "server.key", NULL);
  fixture_stop (&gen);
  g_autofree char *fp_own = file_fingerprint (own_cert);

  Fixture f = { 0 };
  f.dir = g_dir_make_tmp ("test-net-sni-XXXXXX", &error);
  g_assert_no_error (error);
  f.tls = g_build_filename (f.dir, "tls", NULL);
  f.ns_dir = g_build_filename (f.tls, "namespaces", NULL);
  StNetConfig cfg = { .data_dir = f.dir, .public_host = "localhost",
                      .tls_cert_file = own_cert, .tls_key_file = own_key };
  fixture_start_cfg (&f, &cfg);
  g_assert_null (st_net_get_ca_file (f.net));

  const char *names[] = { "home", NULL };
  g_assert_true (st_net_set_tls_namespaces (f.net, names, &error));
  g_assert_no_error (error);
  g_assert_true (st_net_add_tls_namespace (f.net, "office", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (f.tls, G_FILE_TEST_EXISTS));

  SSL_CTX *ctx = client_ctx (gen.ca);
  const char *sni[] = { "b.home.localhost", "b.office.localhost", "localhost" };
  for (guint i = 0; i < G_N_ELEMENTS (sni); i++)
    {
      g_autofree char *fp = served_fingerprint (ctx, f.port, sni[i]);
      g_assert_cmpstr (fp, ==, fp_own);
    }
  g_assert_true (st_net_reload_tls (f.net, &error));
  g_assert_no_error (error);
  g_autofree char *fp = served_fingerprint (ctx, f.port, "b.home.localhost");
  g_assert_cmpstr (fp, ==, fp_own);
  st_net_remove_tls_namespace (f.net, "home");
  g_assert_false (g_file_test (f.tls, G_FILE_TEST_EXISTS));

  SSL_CTX_free (ctx);
  fixture_stop (&f);
  fixture_free (&f);
  fixture_free (&gen);
}

/* An IP address as public host has no broker hostnames: nothing is made. */
static void
test_ip_public_host (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  const char *names[] = { "home", NULL };

  f.dir = g_dir_make_tmp ("test-net-sni-XXXXXX", &error);
  f.tls = g_build_filename (f.dir, "tls", NULL);
  f.ns_dir = g_build_filename (f.tls, "namespaces", NULL);
  f.ca = g_build_filename (f.tls, "ca.pem", NULL);
  StNetConfig cfg = { .data_dir = f.dir, .public_host = "127.0.0.1" };
  fixture_start_cfg (&f, &cfg);
  g_assert_true (st_net_set_tls_namespaces (f.net, names, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (f.ns_dir, G_FILE_TEST_EXISTS));
  fixture_stop (&f);
  fixture_free (&f);
}

typedef struct {
  StNet        *net;
  gint          stop;
  gint          rounds;
} Churn;

static gpointer
churn_thread (gpointer data)
{
  Churn *c = data;

  while (!g_atomic_int_get (&c->stop))
    {
      g_autoptr (GError) error = NULL;
      g_assert_true (st_net_add_tls_namespace (c->net, "churn", &error));
      /* Long enough that handshakes see both states. */
      g_usleep (3000);
      st_net_remove_tls_namespace (c->net, "churn");
      g_usleep (1000);
      g_atomic_int_inc (&c->rounds);
    }
  return NULL;
}

/* Handshakes while another thread creates and deletes the namespace and
 * reloads: each gets a whole certificate, the namespace's or the default
 * one, and nothing leaks or races (this test is for the sanitizers). */
static void
test_concurrent (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  const char *names[] = { "home", NULL };

  fixture_start (&f);
  g_assert_true (st_net_set_tls_namespaces (f.net, names, &error));
  SSL_CTX *ctx = client_ctx (f.ca);
  g_autofree char *server_pem = g_build_filename (f.tls, "server.pem", NULL);
  g_autofree char *fp_default = file_fingerprint (server_pem);

  Churn churn = { f.net, 0, 0 };
  GThread *thread = g_thread_new ("churn", churn_thread, &churn);
  guint got_ns = 0, got_default = 0;
  gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;

  for (guint i = 0; i < 60 && g_get_monotonic_time () < end; i++)
    {
      g_autofree char *fp = served_fingerprint (ctx, f.port, "b.churn.localhost");
      if (g_strcmp0 (fp, fp_default) == 0)
        got_default++;
      else
        got_ns++;
      if (i % 20 == 10)
        g_assert_true (st_net_reload_tls (f.net, &error));
    }
  g_atomic_int_set (&churn.stop, 1);
  g_thread_join (thread);
  g_test_message ("%u namespace, %u default certificates; %d churn rounds",
                  got_ns, got_default, g_atomic_int_get (&churn.rounds));
  g_assert_cmpint (g_atomic_int_get (&churn.rounds), >, 0);
  g_assert_cmpuint (got_ns + got_default, >, 0);
  assert_ns_files (&f, "home.key home.pem");
  Client c = client_verified (ctx, f.port, "b.home.localhost");
  client_close (&c);

  SSL_CTX_free (ctx);
  fixture_stop (&f);
  fixture_free (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* The OpenSSL test clients write to sockets the server may have closed. */
  signal (SIGPIPE, SIG_IGN);

  g_test_add_func ("/net/sni/namespace-cert", test_namespace_cert);
  g_test_add_func ("/net/sni/unknown-names", test_unknown_names);
  g_test_add_func ("/net/sni/add-remove-restart", test_add_remove_restart);
  g_test_add_func ("/net/sni/reload", test_reload);
  g_test_add_func ("/net/sni/operator-cert", test_operator_cert);
  g_test_add_func ("/net/sni/ip-public-host", test_ip_public_host);
  g_test_add_func ("/net/sni/concurrent", test_concurrent);

  return g_test_run ();
}
