/* Token authentication as Paho MQTT C sees it, at MQTT 3.1.1 and 5.0: the
 * codes a real client library reports for each CONNECT rule, the Assigned
 * Client Identifier, and the disconnect of a revoked client.
 *
 * The engine and network layer run in-process on 127.0.0.1:0 with a TOKEN
 * broker whose key the test generates; test-core-auth checks the same rules
 * byte by byte with raw packets. */
#include <MQTTClient.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "auth/st-jwt.h"
#include "auth/st-signing-key.h"
#include "core/st-engine.h"
#include "net/net-server.h"

static StEngine     *engine;
static StNet        *net;
static StBroker     *broker;
static StSigningKey *key, *other_key;
static char         *uri;
static char         *tmp_dir;

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static char *
token (StSigningKey *k, const char *sub, const char *jti, gint64 exp)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StJwtClaims) claims = st_jwt_claims_new ();

  claims->iat = now_s ();
  claims->exp = exp;
  claims->sub = g_strdup (sub);
  claims->jti = g_strdup (jti);
  char *t = st_jwt_sign (k, claims, &error);
  g_assert_no_error (error);
  return t;
}

/* What the callbacks saw, guarded by lock. */
typedef struct {
  GMutex lock;
  GCond  cond;
  bool   lost;
  int    disconnect_rc;   /* -1 until a v5 DISCONNECT arrives */
} Seen;

static void
on_lost (void *context, char *cause)
{
  Seen *s = context;

  g_mutex_lock (&s->lock);
  s->lost = true;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static void
on_disconnected (void *context, MQTTProperties *props, enum MQTTReasonCodes rc)
{
  Seen *s = context;

  g_mutex_lock (&s->lock);
  s->disconnect_rc = rc;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static int
on_message (void *context, char *topic, int len, MQTTClient_message *m)
{
  MQTTClient_freeMessage (&m);
  MQTTClient_free (topic);
  return 1;
}

static MQTTClient
client_new (int version, const char *client_id, Seen *seen)
{
  MQTTClient c;
  MQTTClient_createOptions co = MQTTClient_createOptions_initializer;

  co.MQTTVersion = version;
  g_assert_cmpint (MQTTClient_createWithOptions (&c, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE,
                                                 NULL, &co), ==, MQTTCLIENT_SUCCESS);
  if (seen)
    {
      g_assert_cmpint (MQTTClient_setCallbacks (c, seen, on_lost, on_message, NULL), ==, MQTTCLIENT_SUCCESS);
      if (version == MQTTVERSION_5)
        g_assert_cmpint (MQTTClient_setDisconnected (c, seen, on_disconnected), ==, MQTTCLIENT_SUCCESS);
    }
  return c;
}

/* Connects; returns the CONNACK code Paho reports (v5 reason code, or the
 * 3.1.1 return code), and the assigned client id when asked. */
static int
client_connect (MQTTClient c, int version, const char *password, char **assigned)
{
  if (version == MQTTVERSION_5)
    {
      MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer5;
      MQTTResponse r;

      o.cleanstart = 1;
      o.username = "ignored";
      o.password = password;
      o.connectTimeout = 5;
      r = MQTTClient_connect5 (c, &o, NULL, NULL);
      if (assigned && r.properties)
        {
          MQTTProperty *p = MQTTProperties_getProperty (r.properties, MQTTPROPERTY_CODE_ASSIGNED_CLIENT_IDENTIFER);

          if (p)
            *assigned = g_strndup (p->value.data.data, p->value.data.len);
        }
      int rc = r.reasonCode;
      MQTTResponse_free (r);
      return rc;
    }
  MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
  o.MQTTVersion = MQTTVERSION_3_1_1;
  o.cleansession = 1;
  o.username = "ignored";
  o.password = password;
  o.connectTimeout = 5;
  return MQTTClient_connect (c, &o);
}

typedef struct {
  int         version;
  const char *client_id;
  const char *which;    /* token kind */
  int         rc;
} Case;

static void
test_connect_codes (void)
{
  g_autofree char *good = token (key, "01HPAHO", "j-paho", now_s () + 3600);
  g_autofree char *expired = token (key, "01HPAHO", "j-paho-exp", now_s () - 5);
  g_autofree char *revoked = token (key, "01HPAHO", "j-paho-rev", 0);
  g_autofree char *unknown = token (other_key, "01HPAHO", "j-paho-unk", 0);
  g_autofree char *bad_sig = g_strdup (good);
  char *s = strrchr (bad_sig, '.') + 1;
  const Case cases[] = {
    { MQTTVERSION_5, "01HPAHO", "good", 0 },
    { MQTTVERSION_3_1_1, "01HPAHO", "good", 0 },
    { MQTTVERSION_5, "someone-else", "good", 0x85 },
    { MQTTVERSION_3_1_1, "someone-else", "good", 2 },
    { MQTTVERSION_5, "01HPAHO", "bad-sig", 0x86 },
    { MQTTVERSION_3_1_1, "01HPAHO", "bad-sig", 4 },
    { MQTTVERSION_5, "01HPAHO", "unknown", 0x86 },
    { MQTTVERSION_3_1_1, "01HPAHO", "unknown", 4 },
    { MQTTVERSION_5, "01HPAHO", "no-password", 0x86 },
    { MQTTVERSION_3_1_1, "01HPAHO", "no-password", 4 },
    { MQTTVERSION_5, "01HPAHO", "expired", 0x87 },
    { MQTTVERSION_3_1_1, "01HPAHO", "expired", 5 },
    { MQTTVERSION_5, "01HPAHO", "revoked", 0x87 },
    { MQTTVERSION_3_1_1, "01HPAHO", "revoked", 5 },
  };

  s[0] = s[0] == 'A' ? 'B' : 'A';   /* 6 whole bits: still canonical base64url */
  st_broker_revoke (broker, "j-paho-rev");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *k = &cases[i];
      const char *pw = g_str_equal (k->which, "good") ? good
                       : g_str_equal (k->which, "bad-sig") ? bad_sig
                       : g_str_equal (k->which, "unknown") ? unknown
                       : g_str_equal (k->which, "expired") ? expired
                       : g_str_equal (k->which, "revoked") ? revoked : NULL;
      MQTTClient c = client_new (k->version, k->client_id, NULL);

      g_test_message ("v%d %s %s", k->version, k->client_id, k->which);
      g_assert_cmphex (client_connect (c, k->version, pw, NULL), ==, k->rc);
      if (k->rc == 0)
        MQTTClient_disconnect (c, 1000);
      MQTTClient_destroy (&c);
    }
}

static void
test_assigned_client_id (void)
{
  g_autofree char *t = token (key, "01HPAHOASSIGNED", "j-paho-assign", 0);
  g_autofree char *assigned = NULL;
  MQTTClient c = client_new (MQTTVERSION_5, "", NULL);

  g_assert_cmphex (client_connect (c, MQTTVERSION_5, t, &assigned), ==, 0);
  g_assert_cmpstr (assigned, ==, "01HPAHOASSIGNED");
  MQTTClient_disconnect (c, 1000);
  MQTTClient_destroy (&c);
}

static void
test_revoked_while_connected (void)
{
  const int versions[] = { MQTTVERSION_3_1_1, MQTTVERSION_5 };

  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      g_autofree char *jti = g_strdup_printf ("j-paho-live-%u", i);
      g_autofree char *t = token (key, "01HPAHOLIVE", jti, 0);
      Seen seen = { .disconnect_rc = -1 };
      MQTTClient c;

      g_mutex_init (&seen.lock);
      g_cond_init (&seen.cond);
      c = client_new (versions[i], "01HPAHOLIVE", &seen);
      g_assert_cmphex (client_connect (c, versions[i], t, NULL), ==, 0);

      gint64 start = g_get_monotonic_time ();
      gint64 deadline = start + G_USEC_PER_SEC;
      st_broker_revoke (broker, jti);
      g_mutex_lock (&seen.lock);
      /* v5: the DISCONNECT's reason code; 3.1.1: the connection is lost */
      while (versions[i] == MQTTVERSION_5 ? seen.disconnect_rc < 0 : !seen.lost)
        if (!g_cond_wait_until (&seen.cond, &seen.lock, deadline))
          break;
      if (versions[i] == MQTTVERSION_5)
        g_assert_cmphex (seen.disconnect_rc, ==, 0x87);
      else
        g_assert_true (seen.lost);
      g_mutex_unlock (&seen.lock);
      g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);

      MQTTClient_destroy (&c);
      g_mutex_clear (&seen.lock);
      g_cond_clear (&seen.cond);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *host = NULL;
  guint16 port;
  int rc;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  tmp_dir = g_dir_make_tmp ("test-core-auth-paho-XXXXXX", &error);
  g_assert_no_error (error);
  StNetConfig nc = { .threads = 2, .data_dir = tmp_dir, .public_host = "localhost" };
  nc.listen[ST_LISTENER_MQTT] = "127.0.0.1:0";
  engine = st_engine_new (NULL);
  broker = st_engine_add_broker (engine, "00112233445566778899aabbccddeeff", "ns", "paho", ST_AUTH_TOKEN);
  st_engine_set_default_broker (engine, broker);
  key = st_signing_key_generate (&error);
  g_assert_no_error (error);
  other_key = st_signing_key_generate (&error);
  g_assert_no_error (error);
  st_broker_set_keys (broker, &key, 1);
  net = st_net_new (engine, &nc, &error);
  g_assert_no_error (error);
  g_assert_true (st_net_start (net, &error));
  g_assert_true (st_net_get_address (net, ST_LISTENER_MQTT, &host, &port));
  uri = g_strdup_printf ("tcp://127.0.0.1:%u", port);

  g_test_add_func ("/core/auth-paho/connect-codes", test_connect_codes);
  g_test_add_func ("/core/auth-paho/assigned-client-id", test_assigned_client_id);
  g_test_add_func ("/core/auth-paho/revoked-while-connected", test_revoked_while_connected);
  rc = g_test_run ();

  st_net_stop (net);
  st_net_free (net);
  st_engine_free (engine);
  st_signing_key_unref (key);
  st_signing_key_unref (other_key);
  g_rmdir (tmp_dir);   /* plain TCP: nothing was generated in it */
  g_free (tmp_dir);
  g_free (uri);
  return rc;
}
