/* Token authentication in the engine (DESIGN.md, Authentication): every
 * CONNECT rule with its exact CONNACK at MQTT 3.1.1 and 5.0, routing by
 * kid, expiry and revocation of connected clients, topicAcl on publish and
 * subscribe, and the filter containment behind it.
 *
 * The engine and network layer run for real on 127.0.0.1:0 (as StServer
 * composes them; StServer has no way yet to add token brokers). Tokens are
 * signed with st_jwt_sign; the raw client encodes with libstarling's codec
 * and compares CONNACKs byte by byte. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/st-base64url.h"
#include "auth/st-jwt.h"
#include "auth/st-signing-key.h"
#include "core/st-auth.h"
#include "core/st-engine-private.h"
#include "mqtt/mqtt-packet.h"
#include "net/net-server.h"

typedef struct {
  StEngine     *engine;
  StNet        *net;
  StBroker     *a, *b;     /* TOKEN brokers ns/alpha and ns/beta; a is the default */
  StSigningKey *ka, *kb;   /* their keys */
  StSigningKey *kx;        /* nobody's key */
  guint16       port;
  guint16       tls_port;
  char         *dir;      /* the generated CA and certificate */
} Fixture;

static Fixture fx;

static void
fixture_start (void)
{
  g_autoptr (GError) error = NULL;
  /* Made before g_test_run, where ISOLATE_DIRS has no data dir yet. */
  g_autofree char *dir = g_dir_make_tmp ("test-core-auth-XXXXXX", &error);
  StNetConfig c = { .threads = 2, .data_dir = dir, .public_host = "localhost" };

  g_assert_no_error (error);
  fx.dir = g_strdup (dir);
  c.listen[ST_LISTENER_MQTT] = "127.0.0.1:0";
  c.listen[ST_LISTENER_MQTTS] = "127.0.0.1:0";
  fx.engine = st_engine_new (NULL);
  fx.a = st_engine_add_broker (fx.engine, "0123456789abcdef0123456789abcdef", "ns", "alpha", ST_AUTH_TOKEN);
  fx.b = st_engine_add_broker (fx.engine, "fedcba9876543210fedcba9876543210", "ns", "beta", ST_AUTH_TOKEN);
  st_engine_set_default_broker (fx.engine, fx.a);
  fx.ka = st_signing_key_generate (&error);
  g_assert_no_error (error);
  fx.kb = st_signing_key_generate (&error);
  g_assert_no_error (error);
  fx.kx = st_signing_key_generate (&error);
  g_assert_no_error (error);
  st_broker_set_keys (fx.a, &fx.ka, 1);
  st_broker_set_keys (fx.b, &fx.kb, 1);

  fx.net = st_net_new (fx.engine, &c, &error);
  g_assert_no_error (error);
  g_assert_true (st_net_start (fx.net, &error));
  g_assert_no_error (error);
  g_autofree char *host = NULL;
  g_assert_true (st_net_get_address (fx.net, ST_LISTENER_MQTT, &host, &fx.port));
  g_assert_cmpuint (fx.port, !=, 0);
  g_clear_pointer (&host, g_free);
  g_assert_true (st_net_get_address (fx.net, ST_LISTENER_MQTTS, &host, &fx.tls_port));
  g_assert_cmpuint (fx.tls_port, !=, 0);
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  const char *name;

  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_stop (void)
{
  st_net_stop (fx.net);
  st_net_free (fx.net);
  st_engine_free (fx.engine);
  st_signing_key_unref (fx.ka);
  st_signing_key_unref (fx.kb);
  st_signing_key_unref (fx.kx);
  rm_rf (fx.dir);
  g_free (fx.dir);
}

/* ---- tokens ------------------------------------------------------------- */

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* acl: NULL for the default ('#'), else a comma-separated list. */
static char *
token (StSigningKey *key, const char *sub, const char *jti, gint64 exp, gint64 nbf, const char *acl)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StJwtClaims) claims = st_jwt_claims_new ();

  claims->iat = now_s ();
  claims->exp = exp;
  claims->nbf = nbf;
  claims->sub = g_strdup (sub);
  claims->jti = g_strdup (jti);
  if (acl)
    claims->topic_acl = g_strsplit (acl, ",", -1);
  char *t = st_jwt_sign (key, claims, &error);
  g_assert_no_error (error);
  return t;
}

/* A token with any header, signed as "alg" says (none: empty; HS256: HMAC
 * with the broker's public key as the secret, the classic confusion). */
static char *
forged (const char *alg, StSigningKey *key, const char *sub)
{
  g_autofree char *header = g_strdup_printf ("{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg,
                                             st_signing_key_get_kid (key));
  g_autofree char *claims = g_strdup_printf ("{\"iat\":%" G_GINT64_FORMAT ",\"sub\":\"%s\",\"jti\":\"j-forged\"}",
                                             now_s (), sub);
  g_autofree char *h = st_base64url_encode ((const guint8 *) header, strlen (header));
  g_autofree char *c = st_base64url_encode ((const guint8 *) claims, strlen (claims));
  g_autofree char *input = g_strdup_printf ("%s.%s", h, c);
  g_autofree char *sig = NULL;

  if (g_str_equal (alg, "HS256"))
    {
      guint8 mac[32];
      gsize n = sizeof mac;
      g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, st_signing_key_get_public_raw (key),
                                           ST_ED25519_KEY_LEN);

      g_hmac_update (hmac, (const guint8 *) input, -1);
      g_hmac_get_digest (hmac, mac, &n);
      sig = st_base64url_encode (mac, n);
    }
  else
    sig = g_strdup ("");
  return g_strdup_printf ("%s.%s", input, sig);
}

/* ---- a raw client --------------------------------------------------------- */

typedef struct {
  int         fd;
  SSL_CTX    *ctx;    /* TLS with SNI, or NULL */
  SSL        *ssl;
  MqttVersion v;
  StBuf       in;
  StBuf       last;   /* the last packet's bytes */
} Client;

/* sni: NULL for plain TCP, else TLS naming that host. */
static void
client_open_sni (Client *c, MqttVersion v, const char *sni)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (sni ? fx.tls_port : fx.port),
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };

  memset (c, 0, sizeof *c);
  c->v = v;
  st_buf_init (&c->in);
  st_buf_init (&c->last);
  c->fd = socket (AF_INET, SOCK_STREAM, 0);
  g_assert_cmpint (connect (c->fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  if (sni)
    {
      /* What is under test is routing by SNI, not the certificate. */
      c->ctx = SSL_CTX_new (TLS_client_method ());
      SSL_CTX_set_verify (c->ctx, SSL_VERIFY_NONE, NULL);
      c->ssl = SSL_new (c->ctx);
      SSL_set_fd (c->ssl, c->fd);
      SSL_set_tlsext_host_name (c->ssl, sni);
      g_assert_cmpint (SSL_connect (c->ssl), ==, 1);
    }
}

static void
client_close (Client *c)
{
  g_clear_pointer (&c->ssl, SSL_free);
  g_clear_pointer (&c->ctx, SSL_CTX_free);
  close (c->fd);
  st_buf_clear (&c->in);
  st_buf_clear (&c->last);
}

static void
client_send (Client *c, StBuf *out)
{
  if (c->ssl)
    g_assert_cmpint (SSL_write (c->ssl, out->data, (int) out->len), ==, (int) out->len);
  else
    g_assert_cmpint (write (c->fd, out->data, out->len), ==, (ssize_t) out->len);
  st_buf_clear (out);
}

/* The next packet (decoded into *pkt, pointing into c->last), 0 when none
 * arrives within timeout_ms, -1 when the server closed the connection. */
static int
client_next (Client *c, int timeout_ms, MqttPacket *pkt)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
  MqttPacket scratch;

  if (!pkt)
    pkt = &scratch;
  for (;;)
    {
      size_t hl;
      uint32_t rl;

      if (c->in.len && mqtt_frame (c->in.data, c->in.len, &hl, &rl) == MQTT_FRAME_OK
          && c->in.len >= hl + rl)
        {
          st_buf_reset (&c->last);
          st_buf_append (&c->last, c->in.data, hl + rl);
          st_buf_consume (&c->in, hl + rl);
          g_assert_cmpint (mqtt_decode (c->last.data, c->last.len, c->v, false, pkt), ==, MQTT_RC_SUCCESS);
          return pkt->type;
        }
      int left = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      struct pollfd pfd = { c->fd, POLLIN, 0 };
      if (!(c->ssl && SSL_pending (c->ssl)) && (left <= 0 || poll (&pfd, 1, left) <= 0))
        return 0;
      st_buf_reserve (&c->in, 4096);
      if (c->ssl)
        {
          int n = SSL_read (c->ssl, c->in.data + c->in.len, (int) (c->in.cap - c->in.len));

          if (n <= 0)
            {
              int e = SSL_get_error (c->ssl, n);

              if (e == SSL_ERROR_WANT_READ)
                continue;   /* a record's first bytes only (or a ticket) */
              return -1;
            }
          c->in.len += n;
          continue;
        }
      ssize_t n = read (c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
      if (n <= 0)
        return -1;
      c->in.len += n;
    }
}

static const char *will_topic;   /* set by a test for its next CONNECT */

static void
send_connect (Client *c, const char *client_id, const char *password)
{
  StBuf out = ST_BUF_INIT;
  MqttConnect p = {
    .version = c->v,
    .protocol_name = MQTT_BYTES_STR ("MQTT"),
    .clean_start = true,
    .keep_alive = 60,
    .client_id = MQTT_BYTES_STR (client_id),
    .has_username = password != NULL,
    .username = MQTT_BYTES_STR ("ignored"),
    .has_password = password != NULL,
    .password = password ? MQTT_BYTES_STR (password) : (MqttBytes) { 0 },
    .will_flag = will_topic != NULL,
    .will_topic = will_topic ? MQTT_BYTES_STR (will_topic) : (MqttBytes) { 0 },
    .will_payload = MQTT_BYTES_STR ("gone"),
  };

  mqtt_encode_connect (&out, &p);
  client_send (c, &out);
}

/* Connects and returns the CONNACK's reason code. */
static guint8
client_connect_sni (Client *c, MqttVersion v, const char *sni, const char *client_id,
                    const char *password, MqttPacket *connack)
{
  MqttPacket pkt;

  if (!connack)
    connack = &pkt;
  client_open_sni (c, v, sni);
  send_connect (c, client_id, password);
  g_assert_cmpint (client_next (c, 5000, connack), ==, MQTT_CONNACK);
  return connack->connack.reason_code;
}

static guint8
client_connect (Client *c, MqttVersion v, const char *client_id, const char *password,
                MqttPacket *connack)
{
  return client_connect_sni (c, v, NULL, client_id, password, connack);
}

/* A refused CONNECT: the exact CONNACK bytes, then the server closes. */
static void
assert_refused_sni (MqttVersion v, const char *sni, const char *client_id, const char *password,
                    guint8 rc)
{
  Client c;
  const guint8 v5[] = { 0x20, 0x03, 0x00, rc, 0x00 };
  const guint8 v3[] = { 0x20, 0x02, 0x00, rc };

  client_connect_sni (&c, v, sni, client_id, password, NULL);
  if (v == MQTT_V5)
    g_assert_cmpmem (c.last.data, c.last.len, v5, sizeof v5);
  else
    g_assert_cmpmem (c.last.data, c.last.len, v3, sizeof v3);
  g_assert_cmpint (client_next (&c, 5000, NULL), ==, -1);
  client_close (&c);
}

static void
assert_refused (MqttVersion v, const char *client_id, const char *password, guint8 rc)
{
  assert_refused_sni (v, NULL, client_id, password, rc);
}

static void
assert_accepted (Client *c, MqttVersion v, const char *client_id, const char *password)
{
  const guint8 v3[] = { 0x20, 0x02, 0x00, 0x00 };

  g_assert_cmpuint (client_connect (c, v, client_id, password, NULL), ==, 0);
  if (v != MQTT_V5)
    g_assert_cmpmem (c->last.data, c->last.len, v3, sizeof v3);
}

static guint8
client_publish (Client *c, const char *topic, guint8 qos, guint16 id)
{
  StBuf out = ST_BUF_INIT;
  MqttPublish p = { .qos = qos, .packet_id = id, .topic = MQTT_BYTES_STR (topic),
                    .payload = MQTT_BYTES_STR ("x") };

  mqtt_encode_publish (&out, c->v, &p);
  client_send (c, &out);
  return 0;
}

static void
client_subscribe (Client *c, const char *const *filters, MqttPacket *suback)
{
  StBuf out = ST_BUF_INIT, entries = ST_BUF_INIT;
  MqttSubOptions so = { .qos = 1 };
  guint n = 0;

  for (; filters[n]; n++)
    mqtt_subscribe_append (&entries, c->v, MQTT_BYTES_STR (filters[n]), &so);
  MqttSubscribe s = { .packet_id = 7, .entries = { entries.data, entries.len }, .n_entries = n };
  mqtt_encode_subscribe (&out, c->v, &s);
  client_send (c, &out);
  st_buf_clear (&entries);
  g_assert_cmpint (client_next (c, 5000, suback), ==, MQTT_SUBACK);
}

static const MqttVersion versions[] = { MQTT_V311, MQTT_V5 };

/* ---- CONNECT ------------------------------------------------------------ */

static void
test_connect_accepted (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      MqttVersion v = versions[i];
      g_autofree char *t = token (fx.ka, "01HCLIENTA", "j-ok", now_s () + 3600, 0, NULL);
      Client c;

      /* the username is ignored, whatever it says */
      assert_accepted (&c, v, "01HCLIENTA", t);
      client_close (&c);
    }
}

static void
test_connect_empty_client_id (void)
{
  g_autofree char *t = token (fx.ka, "01HASSIGNED", "j-assign", 0, 0, NULL);
  MqttPacket ack;
  Client c;

  /* v5: the token's sub comes back as Assigned Client Identifier */
  g_assert_cmpuint (client_connect (&c, MQTT_V5, "", t, &ack), ==, 0);
  g_assert_true (mqtt_props_has (&ack.connack.props, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER));
  g_assert_cmpmem (ack.connack.props.assigned_client_identifier.data,
                   ack.connack.props.assigned_client_identifier.len, "01HASSIGNED", 11);
  client_close (&c);

  /* 3.1.1 (clean session) has no way to say it, but is accepted as sub */
  assert_accepted (&c, MQTT_V311, "", t);
  client_close (&c);
}

static void
test_connect_client_id_not_sub (void)
{
  g_autofree char *t = token (fx.ka, "01HSUB", "j-sub", 0, 0, NULL);

  assert_refused (MQTT_V5, "someone-else", t, 0x85);
  assert_refused (MQTT_V311, "someone-else", t, 0x02);
}

static void
test_connect_bad_credentials (void)
{
  g_autofree char *good = token (fx.ka, "01HBAD", "j-bad", 0, 0, NULL);
  g_autofree char *bad_sig = g_strdup (good);
  char *s = strrchr (bad_sig, '.') + 1;
  g_autofree char *unknown_kid = token (fx.kx, "01HBAD", "j-bad", 0, 0, NULL);
  g_autofree char *none = forged ("none", fx.ka, "01HBAD");
  g_autofree char *hs256 = forged ("HS256", fx.ka, "01HBAD");
  const char *cases[] = { bad_sig, unknown_kid, none, hs256, "not-a-jwt", "a.b.c", "" };

  /* The first character of the signature carries 6 whole bits: changing it
   * keeps the base64url canonical, so this is a bad signature, not a
   * malformed token. */
  s[0] = s[0] == 'A' ? 'B' : 'A';
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("bad credential %u", i);
      assert_refused (MQTT_V5, "01HBAD", cases[i], 0x86);
      assert_refused (MQTT_V311, "01HBAD", cases[i], 0x04);
    }
  /* no password at all */
  assert_refused (MQTT_V5, "01HBAD", NULL, 0x86);
  assert_refused (MQTT_V311, "01HBAD", NULL, 0x04);
}

static void
test_connect_not_authorized (void)
{
  g_autofree char *expired = token (fx.ka, "01HEXP", "j-expired", now_s () - 10, 0, NULL);
  g_autofree char *early = token (fx.ka, "01HEXP", "j-early", 0, now_s () + 3600, NULL);
  g_autofree char *revoked = token (fx.ka, "01HEXP", "j-revoked", 0, 0, NULL);
  const char *cases[] = { expired, early, revoked };
  Client c;

  st_broker_revoke (fx.a, "j-revoked");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("unauthorised credential %u", i);
      assert_refused (MQTT_V5, "01HEXP", cases[i], 0x87);
      assert_refused (MQTT_V311, "01HEXP", cases[i], 0x05);
    }
  /* unrevoking lets it in again */
  st_broker_unrevoke (fx.a, "j-revoked");
  assert_accepted (&c, MQTT_V5, "01HEXP", revoked);
  client_close (&c);
}

/* ---- routing ------------------------------------------------------------ */

static void
test_routing_by_kid (void)
{
  g_autofree char *ta = token (fx.ka, "01HSAME", "j-ra", 0, 0, NULL);
  g_autofree char *tb = token (fx.kb, "01HSAME", "j-rb", 0, 0, NULL);
  g_autofree char *ta2 = token (fx.ka, "01HPUB", "j-ra2", 0, 0, NULL);
  const char *all[] = { "#", NULL };
  MqttPacket pkt;
  Client sa, sb, pa;

  g_assert_true (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (fx.ka)) == fx.a);
  g_assert_true (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (fx.kb)) == fx.b);
  g_assert_null (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (fx.kx)));
  /* SNI first: a token of beta on alpha's hostname is checked by alpha
   * (whose keys do not include it: 0x86), then kid, then the default. */
  g_assert_true (st_engine_route_broker (fx.engine, "alpha.ns.localhost",
                                         st_signing_key_get_kid (fx.kb)) == fx.a);
  g_assert_true (st_engine_route_broker (fx.engine, NULL, st_signing_key_get_kid (fx.kb)) == fx.b);
  g_assert_true (st_engine_route_broker (fx.engine, NULL, st_signing_key_get_kid (fx.kx)) == fx.a);
  /* Keys that change route with them: a rotated-in kid reaches alpha, a
   * removed one nothing (then alpha gets its key back). */
  {
    g_autoptr (StSigningKey) knew = st_signing_key_generate (NULL);
    StSigningKey *both[] = { fx.ka, knew };

    g_assert_nonnull (knew);
    st_broker_set_keys (fx.a, both, 2);
    g_assert_true (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (knew)) == fx.a);
    g_assert_true (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (fx.ka)) == fx.a);
    st_broker_set_keys (fx.a, &knew, 1);
    g_assert_null (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (fx.ka)));
    g_assert_true (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (fx.kb)) == fx.b);
    st_broker_set_keys (fx.a, &fx.ka, 1);
    g_assert_null (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (knew)));
    g_assert_true (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (fx.ka)) == fx.a);
  }

  /* the same client id in both worlds: no takeover, no crossing */
  assert_accepted (&sa, MQTT_V5, "01HSAME", ta);
  assert_accepted (&sb, MQTT_V5, "01HSAME", tb);
  client_subscribe (&sa, all, &pkt);
  client_subscribe (&sb, all, &pkt);
  assert_accepted (&pa, MQTT_V5, "01HPUB", ta2);
  client_publish (&pa, "t/1", 1, 1);
  g_assert_cmpint (client_next (&pa, 5000, &pkt), ==, MQTT_PUBACK);
  g_assert_cmpint (client_next (&sa, 5000, &pkt), ==, MQTT_PUBLISH);
  g_assert_cmpmem (pkt.publish.topic.data, pkt.publish.topic.len, "t/1", 3);
  g_assert_cmpint (client_next (&sb, 500, NULL), ==, 0);
  client_close (&sa);
  client_close (&sb);
  client_close (&pa);
}

/* SNI names the broker before the token can: a token of beta on alpha's
 * hostname is a token of another broker (0x86), never a way into beta. */
static void
test_routing_by_sni (void)
{
  g_autofree char *ta = token (fx.ka, "01HSNI", "j-sni-a", 0, 0, NULL);
  g_autofree char *tb = token (fx.kb, "01HSNI", "j-sni-b", 0, 0, NULL);
  Client c;

  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      MqttVersion v = versions[i];

      assert_refused_sni (v, "alpha.ns.localhost", "01HSNI", tb, v == MQTT_V5 ? 0x86 : 0x04);
      assert_refused_sni (v, "beta.ns.localhost", "01HSNI", ta, v == MQTT_V5 ? 0x86 : 0x04);
      g_assert_cmpuint (client_connect_sni (&c, v, "beta.ns.localhost", "01HSNI", tb, NULL), ==, 0);
      client_close (&c);
      g_assert_cmpuint (client_connect_sni (&c, v, "alpha.ns.localhost", "01HSNI", ta, NULL), ==, 0);
      client_close (&c);
    }
}

/* ---- while connected ---------------------------------------------------- */

static void
test_expiry_while_connected (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      MqttVersion v = versions[i];
      g_autofree char *t = token (fx.ka, "01HSOON", "j-soon", now_s () + 2, 0, NULL);
      MqttPacket pkt;
      Client c;

      assert_accepted (&c, v, "01HSOON", t);
      if (v == MQTT_V5)
        {
          g_assert_cmpint (client_next (&c, 4000, &pkt), ==, MQTT_DISCONNECT);
          g_assert_cmphex (pkt.disconnect.reason_code, ==, 0xA0);
        }
      g_assert_cmpint (client_next (&c, 4000, NULL), ==, -1);
      client_close (&c);
    }
}

static void
test_revocation_while_connected (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      MqttVersion v = versions[i];
      g_autofree char *jti = g_strdup_printf ("j-live-%u", i);
      g_autofree char *t = token (fx.ka, "01HLIVE", jti, 0, 0, NULL);
      MqttPacket pkt;
      Client c;

      assert_accepted (&c, v, "01HLIVE", t);
      gint64 start = g_get_monotonic_time ();
      st_broker_revoke (fx.a, jti);
      if (v == MQTT_V5)
        {
          g_assert_cmpint (client_next (&c, 1000, &pkt), ==, MQTT_DISCONNECT);
          g_assert_cmphex (pkt.disconnect.reason_code, ==, 0x87);
        }
      g_assert_cmpint (client_next (&c, 1000, NULL), ==, -1);
      g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
      client_close (&c);
      /* and it cannot come back */
      assert_refused (v, "01HLIVE", t, v == MQTT_V5 ? 0x87 : 0x05);
    }
}

/* A deleted broker disconnects its clients (0x8B) and no longer routes. */
static void
test_broker_removed (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StSigningKey) kg = st_signing_key_generate (&error);
  StBroker *g = st_engine_add_broker (fx.engine, "0000111122223333444455556666777a", "ns", "gamma",
                                      ST_AUTH_TOKEN);
  g_autofree char *t = token (kg, "01HGAMMA", "j-gamma", 0, 0, NULL);
  g_autofree char *t3 = token (kg, "01HGAMMA3", "j-gamma3", 0, 0, NULL);
  const char *all[] = { "#", NULL };
  MqttPacket pkt;
  Client c5, c3;

  g_assert_no_error (error);
  st_broker_set_keys (g, &kg, 1);
  assert_accepted (&c5, MQTT_V5, "01HGAMMA", t);
  assert_accepted (&c3, MQTT_V311, "01HGAMMA3", t3);
  client_subscribe (&c5, all, &pkt);

  st_engine_remove_broker (fx.engine, g);
  g_assert_cmpint (client_next (&c5, 2000, &pkt), ==, MQTT_DISCONNECT);
  g_assert_cmphex (pkt.disconnect.reason_code, ==, 0x8B);
  g_assert_cmpint (client_next (&c5, 2000, NULL), ==, -1);
  g_assert_cmpint (client_next (&c3, 2000, NULL), ==, -1);
  client_close (&c5);
  client_close (&c3);

  /* its key routes nowhere now: the default broker does not know it */
  g_assert_null (st_engine_find_broker_by_kid (fx.engine, st_signing_key_get_kid (kg)));
  assert_refused (MQTT_V5, "01HGAMMA", t, 0x86);
  assert_refused (MQTT_V311, "01HGAMMA", t, 0x04);
}

/* ---- topicAcl ----------------------------------------------------------- */

static void
test_acl_publish_v5 (void)
{
  g_autofree char *t = token (fx.ka, "01HACL", "j-acl5", 0, 0, "allowed/#,other/+");
  MqttPacket pkt;
  Client c;

  assert_accepted (&c, MQTT_V5, "01HACL", t);
  client_publish (&c, "allowed/x", 1, 1);
  g_assert_cmpint (client_next (&c, 5000, &pkt), ==, MQTT_PUBACK);
  g_assert_cmphex (pkt.ack.reason_code, ==, 0x10);   /* allowed: no subscribers */
  client_publish (&c, "other/y", 1, 2);
  g_assert_cmpint (client_next (&c, 5000, &pkt), ==, MQTT_PUBACK);
  g_assert_cmphex (pkt.ack.reason_code, ==, 0x10);
  client_publish (&c, "other/y/z", 1, 3);
  g_assert_cmpint (client_next (&c, 5000, &pkt), ==, MQTT_PUBACK);
  g_assert_cmphex (pkt.ack.reason_code, ==, 0x87);
  client_publish (&c, "denied", 2, 4);
  g_assert_cmpint (client_next (&c, 5000, &pkt), ==, MQTT_PUBREC);
  g_assert_cmphex (pkt.ack.reason_code, ==, 0x87);
  /* QoS 0 has no acknowledgement to refuse with */
  client_publish (&c, "denied", 0, 0);
  g_assert_cmpint (client_next (&c, 5000, &pkt), ==, MQTT_DISCONNECT);
  g_assert_cmphex (pkt.disconnect.reason_code, ==, 0x87);
  g_assert_cmpint (client_next (&c, 5000, NULL), ==, -1);
  client_close (&c);
}

static void
test_acl_publish_v311 (void)
{
  g_autofree char *t = token (fx.ka, "01HACL3", "j-acl3", 0, 0, "allowed/#");
  MqttPacket pkt;

  for (guint qos = 0; qos <= 2; qos++)
    {
      Client c;

      assert_accepted (&c, MQTT_V311, "01HACL3", t);
      client_publish (&c, "allowed/x", 1, 1);
      g_assert_cmpint (client_next (&c, 5000, &pkt), ==, MQTT_PUBACK);
      /* 3.1.1 has no negative acknowledgement: closed, at every QoS */
      client_publish (&c, "denied/x", qos, qos ? 2 : 0);
      g_assert_cmpint (client_next (&c, 5000, NULL), ==, -1);
      client_close (&c);
    }
}

/* A will is published for the client later: its topic is checked at
 * CONNECT like a PUBLISH would be. */
static void
test_acl_will (void)
{
  g_autofree char *t = token (fx.ka, "01HWILL", "j-will", 0, 0, "allowed/#");
  Client c;

  will_topic = "denied/will";
  assert_refused (MQTT_V5, "01HWILL", t, 0x87);
  assert_refused (MQTT_V311, "01HWILL", t, 0x05);
  will_topic = "allowed/will";
  assert_accepted (&c, MQTT_V5, "01HWILL", t);
  client_close (&c);
  assert_accepted (&c, MQTT_V311, "01HWILL", t);
  client_close (&c);
  will_topic = NULL;
}

static void
test_acl_subscribe (void)
{
  g_autofree char *t = token (fx.ka, "01HSUBACL", "j-subacl", 0, 0, "a/#,b/+");
  const char *filters[] = { "a/+/c", "a", "b/x", "$share/g/a/x", "b/#", "#", "+/x", "$share/g/c", NULL };
  const guint8 v5[] = { 1, 1, 1, 1, 0x87, 0x87, 0x87, 0x87 };
  const guint8 v3[] = { 1, 1, 1, 1, 0x80, 0x80, 0x80, 0x80 };

  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      MqttVersion v = versions[i];
      MqttPacket pkt;
      Client c;

      assert_accepted (&c, v, "01HSUBACL", t);
      client_subscribe (&c, filters, &pkt);
      if (v == MQTT_V5)
        g_assert_cmpmem (pkt.suback.reason_codes.data, pkt.suback.reason_codes.len, v5, sizeof v5);
      else
        g_assert_cmpmem (pkt.suback.reason_codes.data, pkt.suback.reason_codes.len, v3, sizeof v3);
      client_close (&c);
    }
}

/* Readers take snapshots without locks while a writer replaces them: run
 * under ThreadSanitizer or ASan, this is where a snapshot freed under a
 * reader would show. Every reader must see a consistent snapshot: the key
 * it looks up is in every one of them. */
typedef struct {
  StAuthState *state;
  const char  *kid;
  gint         stop;
  guint        seen;
} Readers;

static gpointer
reader_thread (gpointer data)
{
  Readers *r = data;
  guint n = 0;

  /* At least once: a reader that starts late still sees the last write. */
  do
    {
      g_autoptr (StAuthSnapshot) s = st_auth_snapshot_get (r->state);

      g_assert_nonnull (g_hash_table_lookup (s->keys, r->kid));
      n += g_hash_table_size (s->revoked) > 0;
    }
  while (!g_atomic_int_get (&r->stop));
  g_atomic_int_add (&r->seen, n);
  return NULL;
}

static void
test_snapshot_readers (void)
{
  StAuthState state;
  Readers r = { .state = &state, .kid = st_signing_key_get_kid (fx.ka) };
  StSigningKey *both[] = { fx.ka, fx.kb };
  GThread *t[2];

  st_auth_state_init (&state);
  st_auth_set_keys (&state, &fx.ka, 1);
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    t[i] = g_thread_new ("reader", reader_thread, &r);
  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *jti = g_strdup_printf ("j-%u", i % 50);
      const char *jtis[] = { jti, NULL };

      st_auth_set_keys (&state, both, 1 + i % 2);
      st_auth_revoke (&state, jtis, i % 3 ? ST_AUTH_REVOKE : ST_AUTH_UNREVOKE);
    }
  g_atomic_int_set (&r.stop, 1);
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    g_thread_join (t[i]);
  g_assert_cmpuint (r.seen, >, 0);

  /* and the last write is what a reader sees now */
  g_autoptr (StAuthSnapshot) last = st_auth_snapshot_get (&state);
  g_assert_cmpuint (g_hash_table_size (last->keys), ==, 1 + 1999 % 2);
  g_assert_true (g_hash_table_contains (last->revoked, "j-49"));  /* 1999 % 3 != 0: revoked */
  st_auth_state_clear (&state);
}

/* ---- filter containment ------------------------------------------------- */

static void
test_filter_covered (void)
{
  static const struct { const char *filter, *acl; bool covered; } cases[] = {
    { "a/+/c", "a/#", true },
    { "a/#", "a/+", false },
    { "#", "a/#", false },
    { "a/#", "a/#", true },
    { "a", "a/#", true },           /* '#' includes the parent level */
    { "a/b", "a/+", true },
    { "a/+", "a/+", true },
    { "a/b/c", "a/+", false },
    { "a", "a/+", false },
    { "a/", "a/+", true },          /* an empty level is a level */
    { "a/b", "a/b", true },
    { "a/b", "a/c", false },
    { "a/+", "a/b", false },
    { "+/c", "+/+", true },
    { "#", "#", true },
    { "+", "#", true },
    { "$SYS/x", "#", false },       /* wildcards at the first level skip '$' */
    { "$SYS/x", "+/x", false },
    { "$SYS/x", "$SYS/#", true },
    { "$share/g/x", "x", true },    /* checked on the filter, not the group */
    { "$share/g/a/b", "a/#", true },
    { "$share/g/b", "a/#", false },
    { "a/b/#", "a/+/#", true },
    { "a/+/#", "a/b/#", false },
    { "ab", "a", false },
    { "a", "ab", false },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s within %s", cases[i].filter, cases[i].acl);
      g_assert_cmpint (st_filter_covered (MQTT_BYTES_STR (cases[i].filter), MQTT_BYTES_STR (cases[i].acl)),
                       ==, cases[i].covered);
    }
  /* a topic named "$share/…" is published as it is */
  g_assert_false (st_topic_covered (MQTT_BYTES_STR ("$share/g/x"), MQTT_BYTES_STR ("x")));
  g_assert_true (st_topic_covered (MQTT_BYTES_STR ("a/b"), MQTT_BYTES_STR ("a/#")));
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/core/auth/filter-covered", test_filter_covered);
  g_test_add_func ("/core/auth/snapshot-readers", test_snapshot_readers);
  g_test_add_func ("/core/auth/connect/accepted", test_connect_accepted);
  g_test_add_func ("/core/auth/connect/empty-client-id", test_connect_empty_client_id);
  g_test_add_func ("/core/auth/connect/client-id-not-sub", test_connect_client_id_not_sub);
  g_test_add_func ("/core/auth/connect/bad-credentials", test_connect_bad_credentials);
  g_test_add_func ("/core/auth/connect/not-authorized", test_connect_not_authorized);
  g_test_add_func ("/core/auth/routing-by-kid", test_routing_by_kid);
  g_test_add_func ("/core/auth/routing-by-sni", test_routing_by_sni);
  g_test_add_func ("/core/auth/expiry-while-connected", test_expiry_while_connected);
  g_test_add_func ("/core/auth/revocation-while-connected", test_revocation_while_connected);
  g_test_add_func ("/core/auth/broker-removed", test_broker_removed);
  g_test_add_func ("/core/auth/acl/publish-v5", test_acl_publish_v5);
  g_test_add_func ("/core/auth/acl/publish-v311", test_acl_publish_v311);
  g_test_add_func ("/core/auth/acl/subscribe", test_acl_subscribe);
  g_test_add_func ("/core/auth/acl/will", test_acl_will);
  fixture_start ();
  rc = g_test_run ();
  fixture_stop ();
  return rc;
}
