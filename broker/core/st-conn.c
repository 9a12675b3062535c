#define G_LOG_DOMAIN "starling-conn"

#include "st-conn.h"
#include "st-broker.h"
#include "st-engine-private.h"
#include "st-persist.h"
#include "auth/st-jwt.h"
#include "hooks/st-hook-queue.h"

#include <string.h>

/* What the delivery pump decided to send, copied out of the session (under
 * the broker lock) so that encoding and I/O happen without it. */
typedef struct {
  StMessage *msg;      /* a reference; NULL for a PUBREL */
  uint16_t   packet_id;
  uint8_t    qos;
  bool       retain;
  bool       dup;
  uint32_t   ids_offset;
  uint32_t   n_ids;
} StSend;

#define NO_DISCONNECT (-1)

/* Messages moved from a session queue per hold of the broker lock. */
#define PUMP_BATCH 1024

static void conn_pump (StConn *conn);

/* What a CONNECT's session phase needs, kept when it waits (takeover). */
typedef struct _ConnectRest ConnectRest;
struct _ConnectRest {
  StBroker   *broker;
  StMessage  *will;            /* owned */
  uint32_t    will_delay;
  MqttVersion version;
  bool        clean_start;
  bool        assign;
  uint32_t    expiry;
  bool        expiry_capped;
  uint16_t    receive_max;
  uint16_t    keep_alive;
  bool        server_keep_alive;
  bool        response_info;
};

/* ---- lifetime ----------------------------------------------------------- */

StConn *
st_conn_new (StEngine *engine, StTransport *t, const StConnInfo *info)
{
  StConn *conn = g_new0 (StConn, 1);

  conn->ref = 1;
  conn->engine = engine;
  conn->t = t;
  conn->loop = st_transport_get_loop (t);
  conn->info = *info;
  conn->sni = g_strdup (info->sni);
  conn->info.sni = conn->sni;
  conn->state = ST_CONN_AWAIT_CONNECT;
  conn->accepted_ms = st_loop_now_ms (conn->loop);
  conn->last_input_ms = conn->accepted_ms;
  st_buf_init (&conn->out);
  conn->sends = g_array_new (FALSE, FALSE, sizeof (StSend));
  conn->send_ids = g_array_new (FALSE, FALSE, sizeof (uint32_t));
  conn->wake = g_ptr_array_new ();
  g_debug ("connection from %s (%s)", info->peer_str, st_listener_kind_name (info->kind));
  return conn;
}

StConn *
st_conn_ref (StConn *conn)
{
  st_ref_inc (&conn->ref);
  return conn;
}

void
st_conn_unref (StConn *conn)
{
  if (!conn || !st_ref_dec (&conn->ref))
    return;
  g_assert (conn->session == NULL);
  if (conn->waiting_connect)
    {
      g_clear_pointer (&conn->waiting_connect->will, st_message_unref);
      g_free (conn->waiting_connect);
    }
  st_buf_clear (&conn->out);
  g_array_unref (conn->sends);
  g_array_unref (conn->send_ids);
  g_ptr_array_unref (conn->wake);
  g_clear_pointer (&conn->out_aliases, g_hash_table_unref);
  if (conn->in_aliases)
    {
      for (guint i = 0; i <= conn->in_alias_max; i++)
        g_clear_pointer (&conn->in_aliases[i], g_bytes_unref);
      g_free (conn->in_aliases);
    }
  g_free (conn->client_id);
  g_free (conn->sni);
  g_free (conn->jti);
  g_free (conn->kid);
  g_strfreev (conn->acl);
  g_free (conn->acl_bytes);
  g_free (conn);
}

static const char *
conn_name (StConn *conn)
{
  return conn->client_id ? conn->client_id : conn->info.peer_str;
}

/* ---- output helpers ----------------------------------------------------- */

static void
flush_out (StConn *conn)
{
  if (conn->out.len && conn->t)
    st_transport_send (conn->t, conn->out.data, conn->out.len);
  st_buf_reset (&conn->out);
}

static void
send_ack (StConn *conn, MqttPacketType type, uint16_t packet_id, uint8_t rc)
{
  MqttAck ack = { .type = type, .packet_id = packet_id, .reason_code = rc };

  if (conn->version != MQTT_V5)
    ack.reason_code = 0;
  g_debug ("%s <- %s id %u rc 0x%02x", conn_name (conn), mqtt_packet_type_name (type),
           packet_id, ack.reason_code);
  mqtt_encode_ack (&conn->out, conn->version, &ack);
  flush_out (conn);
}

/* A reply waiting for the store (durability always), encoded. */
typedef struct {
  StConn *conn;
  GBytes *packet;
  bool    suback;   /* deliveries wait behind it (conn->subacks_waiting) */
} DeferredReply;

static void
deferred_reply_send (void *data)
{
  DeferredReply *r = data;
  StConn *conn = r->conn;

  conn->replies_waiting--;
  if (r->suback)
    conn->subacks_waiting--;
  if (conn->state == ST_CONN_ACTIVE && conn->t)
    {
      gsize len;
      const void *bytes = g_bytes_get_data (r->packet, &len);

      st_transport_send (conn->t, bytes, len);
    }
  /* The retained messages queued by that SUBSCRIBE may follow it now. */
  if (r->suback)
    conn_pump (conn);
  g_bytes_unref (r->packet);
  st_conn_unref (conn);
  g_free (r);
}

/* Store thread: synced; the reply goes back to the connection's loop. */
static void
deferred_reply_committed (gpointer data)
{
  DeferredReply *r = data;

  st_loop_invoke (r->conn->loop, deferred_reply_send, r);
}

/* With durability always, the replies that tell a client its message,
 * subscription or unsubscription is safe with us (PUBACK, PUBREC, PUBCOMP,
 * SUBACK, UNSUBACK) leave once the store has synced what they confirm.
 * Every one of them takes that path then, so they keep their order
 * (MQTT 4.6). */
static bool
replies_wait (StConn *conn)
{
  return conn->broker && st_persist_acks_wait (conn->broker);
}

static void
defer_reply (StConn *conn, StBuf *encoded, bool suback)
{
  DeferredReply *r = g_new (DeferredReply, 1);

  r->conn = st_conn_ref (conn);
  r->packet = g_bytes_new (encoded->data, encoded->len);
  r->suback = suback;
  conn->replies_waiting++;
  if (suback)
    conn->subacks_waiting++;
  st_persist_after_commit (conn->broker, deferred_reply_committed, r);
}

static void
send_flow_ack (StConn *conn, MqttPacketType type, uint16_t packet_id, uint8_t rc)
{
  MqttAck ack = { .type = type, .packet_id = packet_id, .reason_code = rc };
  StBuf out;

  if (!replies_wait (conn))
    {
      send_ack (conn, type, packet_id, rc);
      return;
    }
  if (conn->version != MQTT_V5)
    ack.reason_code = 0;
  g_debug ("%s <- %s id %u rc 0x%02x (once stored)", conn_name (conn),
           mqtt_packet_type_name (type), packet_id, ack.reason_code);
  st_buf_init (&out);
  mqtt_encode_ack (&out, conn->version, &ack);
  defer_reply (conn, &out, false);
  st_buf_clear (&out);
}

/* Lets go of the session (publishing or scheduling the will unless
 * publish_will is false) and of the connection count. Idempotent. */
static void
conn_release (StConn *conn, bool publish_will, const char *why)
{
  if (conn->released)
    return;
  conn->released = true;
  if (conn->broker)
    {
      bool had_session;
      uint64_t full = 0, large = 0, expired = 0;

      st_broker_lock (conn->broker);
      if (conn->jti)
        st_broker_untrack_jti_locked (conn->broker, conn, conn->jti);
      had_session = conn->session != NULL;
      if (had_session)
        {
          full = conn->session->dropped_queue_full;
          large = conn->session->dropped_too_large;
          expired = conn->session->dropped_expired;
        }
      st_broker_detach_locked (conn->broker, conn, publish_will, conn->wake);
      st_broker_unlock (conn->broker);
      st_broker_wake (conn->wake);
      if (had_session || conn->state == ST_CONN_ACTIVE)
        g_info ("client %s disconnected (%s)", conn_name (conn), why);
      if (full || large || expired)
        g_info ("client %s: messages dropped so far: %" G_GUINT64_FORMAT " (queue full), %"
                G_GUINT64_FORMAT " (over its Maximum Packet Size), %" G_GUINT64_FORMAT " (expired)",
                conn_name (conn), full, large, expired);
    }
  if (conn->counted)
    {
      conn->counted = false;
      st_engine_uncount_connection (conn->engine);
    }
}

/* Closes the connection, first sending DISCONNECT rc when the protocol
 * allows it (v5 and CONNECT accepted); rc NO_DISCONNECT: just close. */
static void
conn_close (StConn *conn, int rc)
{
  if (conn->state >= ST_CONN_CLOSING)
    return;
  if (rc >= 0 && conn->state == ST_CONN_ACTIVE && conn->version == MQTT_V5)
    {
      MqttDisconnect d = { .reason_code = (uint8_t) rc };

      g_debug ("%s <- DISCONNECT 0x%02x", conn_name (conn), rc);
      mqtt_encode_disconnect (&conn->out, MQTT_V5, &d);
      flush_out (conn);
    }
  conn_release (conn, true, rc >= 0 ? mqtt_reason_code_name ((uint8_t) rc) : "closed by server");
  conn->state = ST_CONN_CLOSING;
  st_transport_close (conn->t);
}

/* ---- CONNECT ------------------------------------------------------------ */

static uint8_t
v3_code (uint8_t v5_rc)
{
  switch (v5_rc)
    {
    case MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION:
      return MQTT3_CONNACK_UNACCEPTABLE_PROTOCOL;
    case MQTT_RC_CLIENT_ID_NOT_VALID:
      return MQTT3_CONNACK_IDENTIFIER_REJECTED;
    case MQTT_RC_BAD_USERNAME_OR_PASSWORD:
      return MQTT3_CONNACK_BAD_USERNAME_OR_PASSWORD;
    case MQTT_RC_NOT_AUTHORIZED:
    case MQTT_RC_BANNED:
      return MQTT3_CONNACK_NOT_AUTHORIZED;
    default:
      return MQTT3_CONNACK_SERVER_UNAVAILABLE;
    }
}

/* Refuses the CONNECT with a CONNACK (v5 reason code, mapped for 3.1.x)
 * and closes. */
static void
connack_refuse (StConn *conn, MqttVersion version, uint8_t rc)
{
  MqttConnack ack = { .reason_code = version == MQTT_V5 ? rc : v3_code (rc) };

  g_info ("client %s from %s refused: %s", conn_name (conn), conn->info.peer_str,
          mqtt_reason_code_name (rc));
  mqtt_encode_connack (&conn->out, version, &ack);
  flush_out (conn);
  conn->state = ST_CONN_CLOSING;
  st_transport_close (conn->t);
}

static uint8_t
jwt_error_code (const GError *error)
{
  if (g_error_matches (error, ST_JWT_ERROR, ST_JWT_ERROR_EXPIRED)
      || g_error_matches (error, ST_JWT_ERROR, ST_JWT_ERROR_NOT_YET_VALID))
    return MQTT_RC_NOT_AUTHORIZED;
  /* Malformed, alg other than EdDSA, bad signature, bad claims. */
  return MQTT_RC_BAD_USERNAME_OR_PASSWORD;
}

/* Token brokers: the password is the credential (DESIGN, Authentication);
 * the username is ignored. On success the connection holds the token's
 * jti, expiry and topicAcl, and an empty client id has become its sub. */
static uint8_t
token_authenticate (StConn *conn, StBroker *broker, const MqttConnect *c, StJwt *jwt)
{
  g_autoptr (GError) error = NULL;

  if (!c->has_password || c->password.len == 0 || !jwt)
    return MQTT_RC_BAD_USERNAME_OR_PASSWORD;

  const char *kid = st_jwt_get_kid (jwt);
  g_autoptr (StAuthSnapshot) snap = st_auth_snapshot_get (&broker->auth);
  StSigningKey *key = kid ? g_hash_table_lookup (snap->keys, kid) : NULL;

  /* An unknown kid is also how a token of another broker ends here: SNI
   * or the default broker chose this one, and its keys do not sign it. */
  if (!key)
    {
      g_info ("%s: token kid %s is not one of broker %s.%s's keys", conn->info.peer_str,
              kid ? kid : "(none)", broker->name, broker->namespace_name);
      return MQTT_RC_BAD_USERNAME_OR_PASSWORD;
    }
  if (!st_jwt_verify (jwt, key, g_get_real_time () / G_USEC_PER_SEC, &error))
    {
      g_info ("%s: token refused: %s", conn->info.peer_str, error->message);
      return jwt_error_code (error);
    }

  const StJwtClaims *claims = st_jwt_get_claims (jwt);
  if (g_hash_table_contains (snap->revoked, claims->jti))
    {
      g_info ("%s: token %s is revoked", conn->info.peer_str, claims->jti);
      return MQTT_RC_NOT_AUTHORIZED;
    }
  if (conn->client_id[0] == '\0')
    {
      g_free (conn->client_id);
      conn->client_id = g_strdup (claims->sub);
    }
  else if (strcmp (conn->client_id, claims->sub) != 0)
    return MQTT_RC_CLIENT_ID_NOT_VALID;

  conn->jti = g_strdup (claims->jti);
  conn->kid = g_strdup (kid);
  conn->token_exp = claims->exp;
  /* '#' alone restricts nothing: skip the per-PUBLISH check entirely. */
  if (claims->topic_acl && !g_strv_contains ((const char *const *) claims->topic_acl, "#"))
    {
      conn->acl = g_strdupv (claims->topic_acl);
      conn->n_acl = g_strv_length (conn->acl);
      conn->acl_bytes = g_new (MqttBytes, MAX (conn->n_acl, 1));
      for (guint i = 0; i < conn->n_acl; i++)
        conn->acl_bytes[i] = MQTT_BYTES_STR (conn->acl[i]);
    }
  return MQTT_RC_SUCCESS;
}

/* The one place that decides whether a client may connect to a broker.
 * Returns MQTT_RC_SUCCESS or the v5 reason code to refuse with. */
static uint8_t
conn_authenticate (StConn *conn, StBroker *broker, const MqttConnect *c, StJwt *jwt)
{
  switch (broker->auth_type)
    {
    case ST_AUTH_NONE:
      return MQTT_RC_SUCCESS;
    case ST_AUTH_TOKEN:
    default:
      return token_authenticate (conn, broker, c, jwt);
    }
}

/* Whether a token's topicAcl lets this connection use topic (publish) or
 * filter (subscribe). No allocation: runs for every PUBLISH. */
static bool
acl_allows (StConn *conn, MqttBytes topic, bool is_filter)
{
  if (!conn->acl)
    return true;
  for (guint i = 0; i < conn->n_acl; i++)
    if (is_filter ? st_filter_covered (topic, conn->acl_bytes[i])
                  : st_topic_covered (topic, conn->acl_bytes[i]))
      return true;
  return false;
}

static int
protocol_level (const uint8_t *buf, size_t len, size_t header_len)
{
  if (len < header_len + 2)
    return -1;
  size_t name_len = ((size_t) buf[header_len] << 8) | buf[header_len + 1];
  size_t at = header_len + 2 + name_len;

  return at < len ? buf[at] : -1;
}

static guint
count_levels (MqttBytes topic)
{
  guint n = 1;

  for (uint32_t i = 0; i < topic.len; i++)
    n += topic.data[i] == '/';
  return n;
}

static void collect_resends_locked (StConn *conn, StSession *s);
static void send_collected (StConn *conn);

static void connect_finish (StConn *conn, ConnectRest *rest);

static void
handle_connect (StConn *conn, const uint8_t *buf, size_t len, size_t header_len)
{
  const StLimits *limits = &conn->engine->limits;
  MqttPacket pkt;
  MqttReasonCode rc = mqtt_decode (buf, len, 0, true, &pkt);

  if (rc != MQTT_RC_SUCCESS)
    {
      int level = protocol_level (buf, len, header_len);

      g_debug ("%s: bad CONNECT: %s", conn->info.peer_str, mqtt_reason_code_name (rc));
      /* An unknown level above 5 is more likely a newer client that reads
       * the v5 CONNACK; below, answer in the 3.1.1 form (0x01). */
      if (rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION)
        connack_refuse (conn, level > MQTT_V5 ? MQTT_V5 : MQTT_V311, rc);
      else if (level == MQTT_V5)
        connack_refuse (conn, MQTT_V5, rc);
      else
        conn_close (conn, NO_DISCONNECT);
      return;
    }

  const MqttConnect *c = &pkt.connect;
  const MqttProperties *props = &c->props;
  MqttVersion v = c->version;
  bool v5 = v == MQTT_V5;

  conn->version = v;
  g_free (conn->client_id);
  conn->client_id = g_strndup ((const char *) c->client_id.data, c->client_id.len);
  g_debug ("%s -> CONNECT v%d client id '%s'", conn->info.peer_str, v, conn->client_id);

  if (v5 && mqtt_props_has (props, MQTT_PROP_AUTHENTICATION_METHOD))
    {
      connack_refuse (conn, v, MQTT_RC_BAD_AUTHENTICATION_METHOD);
      return;
    }
  bool assign = c->client_id.len == 0;
  if (assign && !v5 && !c->clean_start)
    {
      connack_refuse (conn, v, MQTT_RC_CLIENT_ID_NOT_VALID);
      return;
    }
  if (v == MQTT_V31 && c->client_id.len > 23)
    {
      connack_refuse (conn, v, MQTT_RC_CLIENT_ID_NOT_VALID);
      return;
    }

  if (c->will_flag)
    {
      /* The will is checked like the PUBLISH it will become. */
      if (c->will_topic.len > limits->max_topic_length
          || count_levels (c->will_topic) > limits->max_topic_levels)
        {
          connack_refuse (conn, v, MQTT_RC_TOPIC_NAME_INVALID);
          return;
        }
      if (v5 && mqtt_props_has (&c->will_props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR)
          && c->will_props.payload_format_indicator == 1
          && !mqtt_utf8_valid (c->will_payload.data, c->will_payload.len))
        {
          connack_refuse (conn, v, MQTT_RC_PAYLOAD_FORMAT_INVALID);
          return;
        }
    }

  /* The token is parsed (not trusted) first: its kid may choose the broker. */
  g_autoptr (StJwt) jwt = NULL;
  if (c->has_password && c->password.len)
    jwt = st_jwt_parse ((const char *) c->password.data, c->password.len, NULL);
  const char *kid = jwt ? st_jwt_get_kid (jwt) : NULL;
  StBroker *broker = st_engine_route_broker (conn->engine, conn->sni, kid);
  if (!broker)
    {
      /* A credential no broker knows is a bad credential, not an outage. */
      connack_refuse (conn, v, kid ? MQTT_RC_BAD_USERNAME_OR_PASSWORD : MQTT_RC_SERVER_UNAVAILABLE);
      return;
    }
  uint8_t auth = conn_authenticate (conn, broker, c, jwt);
  if (auth != MQTT_RC_SUCCESS)
    {
      connack_refuse (conn, v, auth);
      return;
    }
  /* A will is a PUBLISH made on the client's behalf later: without this a
   * will topic would be a way around topicAcl. */
  if (c->will_flag && !acl_allows (conn, c->will_topic, false))
    {
      g_info ("%s: topicAcl does not allow the will topic %.*s", conn->info.peer_str,
              (int) c->will_topic.len, (const char *) c->will_topic.data);
      connack_refuse (conn, v, MQTT_RC_NOT_AUTHORIZED);
      return;
    }
  if (!st_engine_count_connection (conn->engine))
    {
      connack_refuse (conn, v, MQTT_RC_QUOTA_EXCEEDED);
      return;
    }
  conn->counted = true;

  /* Negotiate. */
  uint16_t keep_alive = c->keep_alive;
  bool server_keep_alive = false;
  /* 3.1.x has no way to tell the client a shorter keep alive, so a cap
   * applies to v5 clients only. */
  if (v5 && limits->max_keep_alive && (keep_alive == 0 || keep_alive > limits->max_keep_alive))
    {
      keep_alive = limits->max_keep_alive;
      server_keep_alive = true;
    }
  uint32_t expiry;
  bool expiry_capped = false;
  if (v5)
    expiry = mqtt_props_has (props, MQTT_PROP_SESSION_EXPIRY_INTERVAL) ? props->session_expiry_interval : 0;
  else
    expiry = c->clean_start ? 0 : UINT32_MAX;
  if (expiry > limits->max_session_expiry)
    {
      expiry = limits->max_session_expiry;
      expiry_capped = true;
    }
  uint16_t receive_max = v5 && mqtt_props_has (props, MQTT_PROP_RECEIVE_MAXIMUM) ? props->receive_maximum : 65535;
  conn->client_max_packet = v5 && mqtt_props_has (props, MQTT_PROP_MAXIMUM_PACKET_SIZE) ? props->maximum_packet_size : 0;
  conn->client_alias_max = v5 && mqtt_props_has (props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM) ? props->topic_alias_maximum : 0;
  conn->problem_info = !(v5 && mqtt_props_has (props, MQTT_PROP_REQUEST_PROBLEM_INFORMATION)
                         && props->request_problem_information == 0);
  bool response_info = v5 && mqtt_props_has (props, MQTT_PROP_REQUEST_RESPONSE_INFORMATION)
                       && props->request_response_information == 1;
  conn->keep_alive = keep_alive;
  conn->session_expiry = expiry;
  if (conn->client_alias_max)
    conn->out_aliases = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                               (GDestroyNotify) g_bytes_unref, NULL);
  if (v5 && limits->topic_alias_maximum)
    {
      conn->in_alias_max = limits->topic_alias_maximum;
      conn->in_aliases = g_new0 (GBytes *, (gsize) conn->in_alias_max + 1);
    }

  StMessage *will = NULL;
  uint32_t will_delay = 0;
  if (c->will_flag)
    {
      /* now_ms 0: a will's Message Expiry Interval runs from when it is
       * published, so its deadline is made absolute then (publish_will_locked). */
      will = st_message_new (c->will_topic, c->will_payload, c->will_qos, c->will_retain,
                             v5 ? &c->will_props : NULL, 0);
      if (v5 && mqtt_props_has (&c->will_props, MQTT_PROP_WILL_DELAY_INTERVAL))
        will_delay = c->will_props.will_delay_interval;
    }

  ConnectRest rest = {
    .broker = broker, .will = will, .will_delay = will_delay, .version = v,
    .clean_start = c->clean_start, .assign = assign, .expiry = expiry, .expiry_capped = expiry_capped,
    .receive_max = receive_max, .keep_alive = keep_alive, .server_keep_alive = server_keep_alive,
    .response_info = response_info,
  };
  connect_finish (conn, &rest);
}

/* ---- takeover ----------------------------------------------------------- */

/* A CONNECT for a session a live connection holds waits until that
 * connection has read what it was sent: its client may have acknowledged
 * messages and sent DISCONNECT just before connecting again, on a socket
 * another I/O thread (or a later epoll event) serves. Taking over first
 * would send those messages again and publish a will the DISCONNECT had
 * withdrawn. The new connection reads nothing more meanwhile. */
typedef struct {
  StConn *old;
  StConn *conn;
} Takeover;

static void
takeover_resume_cb (void *data)
{
  StConn *conn = data;
  ConnectRest *rest = g_steal_pointer (&conn->waiting_connect);

  if (rest != NULL)
    {
      if (conn->state == ST_CONN_AWAIT_CONNECT && conn->t)
        {
          connect_finish (conn, rest);
          if (conn->state == ST_CONN_ACTIVE && conn->t)
            {
              /* What the client sent after CONNECT, in order. */
              conn->input_paused = false;
              st_transport_set_reading (conn->t, true);
            }
        }
      else
        g_clear_pointer (&rest->will, st_message_unref);
      g_free (rest);
    }
  st_conn_unref (conn);
}

static void
takeover_drain_cb (void *data)
{
  Takeover *tk = data;

  if (tk->old->state == ST_CONN_ACTIVE && tk->old->t)
    st_transport_read_now (tk->old->t);
  st_loop_invoke (tk->conn->loop, takeover_resume_cb, tk->conn);
  st_conn_unref (tk->old);
  g_free (tk);
}

/* Broker lock held; released when this returns true (the CONNECT waits). */
static bool
takeover_wait_locked (StConn *conn, StBroker *broker, ConnectRest *rest)
{
  StConn *old;
  Takeover *tk;

  if (conn->takeover_waited || rest->assign)
    return false;
  old = st_broker_live_conn_locked (broker, conn->client_id);
  if (old == NULL || old == conn)
    return false;
  conn->takeover_waited = true;
  tk = g_new (Takeover, 1);
  tk->old = st_conn_ref (old);
  tk->conn = st_conn_ref (conn);
  st_broker_unlock (broker);
  conn->waiting_connect = g_memdup2 (rest, sizeof *rest);
  conn->input_paused = true;
  st_transport_set_reading (conn->t, false);
  g_debug ("%s: CONNECT waits for %s's old connection to read its input", conn->info.peer_str,
           conn->client_id);
  st_loop_invoke (tk->old->loop, takeover_drain_cb, tk);
  return true;
}

/* The CONNECT's session phase: attach (or take over) the session, CONNACK,
 * and what a resumed session has to send. Owns rest->will. */
static void
connect_finish (StConn *conn, ConnectRest *rest)
{
  const StLimits *limits = &conn->engine->limits;
  StBroker *broker = rest->broker;
  StMessage *will = rest->will;
  MqttVersion v = rest->version;
  bool v5 = v == MQTT_V5;
  bool assign = rest->assign;
  uint32_t expiry = rest->expiry;
  uint16_t keep_alive = rest->keep_alive;

  rest->will = NULL;
  /* Session. */
  bool present;
  StConn *kicked = NULL;
  st_broker_lock (broker);
  /* Routed just before the broker was deleted: it is gone now. */
  if (broker->removed)
    {
      st_broker_unlock (broker);
      g_clear_pointer (&will, st_message_unref);
      connack_refuse (conn, v, MQTT_RC_SERVER_UNAVAILABLE);
      return;
    }
  if (takeover_wait_locked (conn, broker, rest))
    {
      /* rest (and its will) now wait in conn->waiting_connect. */
      conn->waiting_connect->will = will;
      return;
    }
  /* Under the lock, so a revocation cannot slip between check and tracking. */
  if (conn->jti && !st_broker_track_jti_locked (broker, conn, conn->jti))
    {
      st_broker_unlock (broker);
      g_clear_pointer (&conn->jti, g_free);
      g_clear_pointer (&will, st_message_unref);
      connack_refuse (conn, v, MQTT_RC_NOT_AUTHORIZED);
      return;
    }
  if (assign && !conn->jti)
    {
      g_free (conn->client_id);
      conn->client_id = st_broker_assign_client_id_locked (broker);
    }
  conn->broker = broker;
  StSession *s = st_broker_attach_locked (broker, conn, conn->client_id, v, rest->clean_start,
                                          expiry, &present, &kicked, conn->wake);
  s->receive_max = rest->receive_max;
  s->will = will;
  s->will_delay = rest->will_delay;
  collect_resends_locked (conn, s);
  st_broker_unlock (broker);
  st_broker_wake (conn->wake);
  if (kicked)
    st_conn_kick (kicked);

  conn->state = ST_CONN_ACTIVE;

  /* MQTT 3.1 has no Session Present flag (the byte is reserved). */
  MqttConnack ack = { .session_present = present && v != MQTT_V31, .reason_code = MQTT_RC_SUCCESS };
  g_autofree char *response = NULL;
  if (v5)
    {
      MqttProperties *ap = &ack.props;

      ap->present |= MQTT_PROP_BIT (MQTT_PROP_RECEIVE_MAXIMUM)
                     | MQTT_PROP_BIT (MQTT_PROP_MAXIMUM_PACKET_SIZE)
                     | MQTT_PROP_BIT (MQTT_PROP_RETAIN_AVAILABLE)
                     | MQTT_PROP_BIT (MQTT_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE)
                     | MQTT_PROP_BIT (MQTT_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE)
                     | MQTT_PROP_BIT (MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE);
      ap->receive_maximum = limits->receive_maximum;
      ap->maximum_packet_size = limits->max_packet_size;
      ap->retain_available = 1;
      ap->wildcard_subscription_available = 1;
      ap->subscription_identifier_available = 1;
      ap->shared_subscription_available = 1;
      if (limits->topic_alias_maximum)
        {
          ap->present |= MQTT_PROP_BIT (MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
          ap->topic_alias_maximum = limits->topic_alias_maximum;
        }
      if (assign)
        {
          ap->present |= MQTT_PROP_BIT (MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER);
          ap->assigned_client_identifier = MQTT_BYTES_STR (conn->client_id);
        }
      if (rest->server_keep_alive)
        {
          ap->present |= MQTT_PROP_BIT (MQTT_PROP_SERVER_KEEP_ALIVE);
          ap->server_keep_alive = keep_alive;
        }
      if (rest->expiry_capped)
        {
          ap->present |= MQTT_PROP_BIT (MQTT_PROP_SESSION_EXPIRY_INTERVAL);
          ap->session_expiry_interval = expiry;
        }
      if (rest->response_info)
        {
          response = g_strconcat ("$response/", conn->client_id, NULL);
          ap->present |= MQTT_PROP_BIT (MQTT_PROP_RESPONSE_INFORMATION);
          ap->response_information = MQTT_BYTES_STR (response);
        }
    }
  mqtt_encode_connack (&conn->out, v, &ack);
  flush_out (conn);

  g_info ("client %s connected from %s (v%s, %s, keep alive %u)", conn->client_id,
          conn->info.peer_str, v == MQTT_V5 ? "5" : v == MQTT_V311 ? "3.1.1" : "3.1",
          rest->clean_start ? "clean start" : "resume", keep_alive);

  /* Unacknowledged messages of a resumed session go first, in order. */
  send_collected (conn);
  conn_pump (conn);
}

/* ---- delivery ----------------------------------------------------------- */

static void
fill_publish (StConn *conn, MqttPublish *p, StMessage *msg, uint8_t qos, bool retain,
              bool dup, uint16_t packet_id, const uint32_t *ids, uint32_t n_ids, gint64 now)
{
  memset (p, 0, sizeof *p);
  p->dup = dup;
  p->qos = qos;
  p->retain = retain;
  p->topic = msg->topic;
  p->packet_id = packet_id;
  p->payload.data = msg->payload->data;
  p->payload.len = msg->payload->len;
  if (conn->version != MQTT_V5)
    return;

  MqttProperties *pp = &p->props;
  if (msg->has_payload_format)
    {
      pp->present |= MQTT_PROP_BIT (MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
      pp->payload_format_indicator = msg->payload_format;
    }
  if (msg->expire_at_ms)
    {
      uint32_t left = st_message_remaining (msg, now);

      pp->present |= MQTT_PROP_BIT (MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
      pp->message_expiry_interval = left ? left : 1;
    }
  if (msg->content_type.data)
    {
      pp->present |= MQTT_PROP_BIT (MQTT_PROP_CONTENT_TYPE);
      pp->content_type = msg->content_type;
    }
  if (msg->response_topic.data)
    {
      pp->present |= MQTT_PROP_BIT (MQTT_PROP_RESPONSE_TOPIC);
      pp->response_topic = msg->response_topic;
    }
  if (msg->has_correlation_data)
    {
      pp->present |= MQTT_PROP_BIT (MQTT_PROP_CORRELATION_DATA);
      pp->correlation_data = msg->correlation_data;
    }
  if (msg->user_properties.len)
    {
      pp->present |= MQTT_PROP_BIT (MQTT_PROP_USER_PROPERTY);
      pp->user_properties = msg->user_properties;
    }
  if (n_ids)
    {
      pp->present |= MQTT_PROP_BIT (MQTT_PROP_SUBSCRIPTION_IDENTIFIER);
      pp->n_subscription_ids = n_ids;
      pp->subscription_ids = ids;
    }
}

static void
add_send (StConn *conn, StMessage *msg, uint16_t packet_id, uint8_t qos, bool retain, bool dup,
          const uint32_t *ids, uint32_t n_ids)
{
  StSend x = { .msg = msg ? st_message_ref (msg) : NULL, .packet_id = packet_id, .qos = qos,
               .retain = retain, .dup = dup, .ids_offset = conn->send_ids->len, .n_ids = n_ids };

  if (n_ids)
    g_array_append_vals (conn->send_ids, ids, n_ids);
  g_array_append_val (conn->sends, x);
}

static void
collect_resends_locked (StConn *conn, StSession *s)
{
  for (GList *l = s->inflight.head; l; l = l->next)
    {
      StDelivery *d = l->data;

      if (d->state == ST_DELIVERY_WAIT_COMP)
        add_send (conn, NULL, d->packet_id, 0, false, false, NULL, 0);
      else
        add_send (conn, d->msg, d->packet_id, d->qos, d->retain, true, d->ids, d->n_ids);
    }
}

/* Encodes and queues on the transport whatever the pump collected. */
static void
send_collected (StConn *conn)
{
  gint64 now = st_now_ms ();

  for (guint i = 0; i < conn->sends->len; i++)
    {
      StSend *x = &g_array_index (conn->sends, StSend, i);

      if (!x->msg)
        {
          send_ack (conn, MQTT_PUBREL, x->packet_id, 0);
          continue;
        }
      if (conn->t && conn->state == ST_CONN_ACTIVE)
        {
          StMessage *msg = x->msg;
          MqttPublish p;
          const uint32_t *ids = x->n_ids ? &g_array_index (conn->send_ids, uint32_t, x->ids_offset) : NULL;

          fill_publish (conn, &p, msg, x->qos, x->retain, x->dup, x->packet_id, ids, x->n_ids, now);
          if (conn->client_alias_max)
            {
              GBytes *key = g_bytes_new_static (msg->topic.data, msg->topic.len);
              gpointer alias = g_hash_table_lookup (conn->out_aliases, key);

              if (alias)
                {
                  p.props.present |= MQTT_PROP_BIT (MQTT_PROP_TOPIC_ALIAS);
                  p.props.topic_alias = GPOINTER_TO_UINT (alias);
                  p.topic.len = 0;
                  g_bytes_unref (key);
                }
              else if (conn->out_alias_next < conn->client_alias_max)
                {
                  uint16_t a = ++conn->out_alias_next;

                  g_bytes_unref (key);
                  /* The table outlives msg: own a copy of the topic. */
                  g_hash_table_insert (conn->out_aliases,
                                       g_bytes_new (msg->topic.data, msg->topic.len),
                                       GUINT_TO_POINTER (a));
                  p.props.present |= MQTT_PROP_BIT (MQTT_PROP_TOPIC_ALIAS);
                  p.props.topic_alias = a;
                }
              else
                g_bytes_unref (key);
            }
          g_debug ("%s <- PUBLISH %.*s qos %u id %u%s%s (%u bytes)", conn->client_id,
                   (int) msg->topic.len, (const char *) msg->topic.data, x->qos, x->packet_id,
                   x->retain ? " retain" : "", x->dup ? " dup" : "", msg->payload->len);
          mqtt_encode_publish_head (&conn->out, conn->version, &p);
          flush_out (conn);
          if (msg->payload->len)
            st_transport_send_bytes (conn->t, msg->payload, 0, msg->payload->len);
        }
      st_message_unref (x->msg);
    }
  g_array_set_size (conn->sends, 0);
  g_array_set_size (conn->send_ids, 0);
}

/* Moves messages from the session queue onto the transport: within the
 * client's Receive Maximum for QoS 1/2, and only while the transport's
 * backlog is under limits.max_output_buffer (resumed by st_conn_drained). */
static void
conn_pump (StConn *conn)
{
  const StLimits *limits = &conn->engine->limits;

  /* A SUBACK still waiting for the store goes before the retained
   * messages its SUBSCRIBE queued: its own pump comes when it is sent. */
  if (conn->subacks_waiting)
    return;

  for (;;)
    {
      if (conn->state != ST_CONN_ACTIVE || !conn->t)
        return;

      StBroker *b = conn->broker;
      size_t pending = st_transport_pending (conn->t);
      gint64 now = st_now_ms ();
      bool held_back = false, more = false;
      guint moved = 0;

      st_broker_lock (b);
      conn->pump_scheduled = false;
      StSession *s = conn->session;
      while (s && s->queue.length > 0)
        {
          StDelivery *d = g_queue_peek_head (&s->queue);

          if (pending > limits->max_output_buffer)
            {
              held_back = true;
              break;
            }
          /* Let publishers on other loops have the lock now and then. */
          if (moved++ == PUMP_BATCH)
            {
              more = true;
              break;
            }
          if (d->qos > 0 && s->inflight.length >= s->receive_max)
            break;
          d = st_session_dequeue (s);
          if (st_message_expired (d->msg, now))
            {
              s->dropped_expired++;
              st_persist_delivery_done (s, d);
              st_delivery_free (d);
              continue;
            }

          MqttPublish p;
          fill_publish (conn, &p, d->msg, d->qos, d->retain, false, d->qos ? 1 : 0,
                        d->ids, d->n_ids, now);
          if (conn->client_alias_max)
            {
              /* the first use of an alias carries both topic and alias */
              p.props.present |= MQTT_PROP_BIT (MQTT_PROP_TOPIC_ALIAS);
              p.props.topic_alias = 1;
            }
          size_t size = mqtt_publish_size (conn->version, &p);
          if (conn->client_max_packet && size > conn->client_max_packet)
            {
              /* MQTT 3.1.2.25: discard as if sent. */
              s->dropped_too_large++;
              g_debug ("%s: skipping a %zu byte message over its Maximum Packet Size",
                       conn->client_id, size);
              st_persist_delivery_done (s, d);
              st_delivery_free (d);
              continue;
            }
          if (d->qos > 0)
            {
              d->packet_id = st_session_alloc_packet_id (s);
              st_session_inflight_add (s, d);
              st_persist_delivery_changed (s, d);
            }
          add_send (conn, d->msg, d->packet_id, d->qos, d->retain, false, d->ids, d->n_ids);
          if (d->qos == 0)
            st_delivery_free (d);
          pending += size;
        }
      /* stopping for the batch size is not the consumer's fault */
      if (s)
        s->draining = s->queue.length == 0 || more;
      if (more)
        st_conn_request_pump_locked (conn, conn->wake);
      st_broker_unlock (b);

      send_collected (conn);
      st_broker_wake (conn->wake);

      /* Held back for a slow consumer: asking the transport for its backlog
       * now also arms st_conn_drained (it fires once the backlog halves).
       * If the estimate was pessimistic, go on right away. */
      if (!held_back || !conn->t || st_transport_pending (conn->t) > limits->max_output_buffer)
        return;
    }
}

static void
pump_cb (void *data)
{
  StConn *conn = data;

  conn_pump (conn);
  st_conn_unref (conn);
}

void
st_conn_request_pump_locked (StConn *conn, GPtrArray *wake)
{
  if (conn->pump_scheduled)
    return;
  conn->pump_scheduled = true;
  g_ptr_array_add (wake, st_conn_ref (conn));
}

void
st_conn_schedule_pump (StConn *conn)
{
  st_loop_invoke (conn->loop, pump_cb, conn);
}

static void
kick_cb (void *data)
{
  StConn *conn = data;

  if (conn->state == ST_CONN_ACTIVE)
    {
      g_info ("client %s: session taken over by a new connection", conn_name (conn));
      conn_close (conn, MQTT_RC_SESSION_TAKEN_OVER);
    }
  st_conn_unref (conn);
}

void
st_conn_kick (StConn *conn)
{
  st_loop_invoke (conn->loop, kick_cb, conn);
}

static void
revoked_cb (void *data)
{
  StConn *conn = data;

  if (conn->state == ST_CONN_ACTIVE)
    {
      g_info ("client %s: token %s revoked, or its key removed", conn_name (conn), conn->jti ? conn->jti : "");
      conn_close (conn, MQTT_RC_NOT_AUTHORIZED);
    }
  st_conn_unref (conn);
}

void
st_conn_revoked (StConn *conn)
{
  st_loop_invoke (conn->loop, revoked_cb, conn);
}

static void
broker_removed_cb (void *data)
{
  StConn *conn = data;

  if (conn->state == ST_CONN_ACTIVE)
    {
      g_info ("client %s: its broker was deleted", conn_name (conn));
      conn_close (conn, MQTT_RC_SERVER_SHUTTING_DOWN);
    }
  st_conn_unref (conn);
}

void
st_conn_broker_removed (StConn *conn)
{
  st_loop_invoke (conn->loop, broker_removed_cb, conn);
}

/* ---- inbound packets ---------------------------------------------------- */

static void
reply_publish (StConn *conn, const MqttPublish *p, uint8_t rc)
{
  if (p->qos == 1)
    send_flow_ack (conn, MQTT_PUBACK, p->packet_id, rc);
  else if (p->qos == 2)
    send_flow_ack (conn, MQTT_PUBREC, p->packet_id, rc);
}

static void
handle_publish (StConn *conn, const MqttPublish *p)
{
  const StLimits *limits = &conn->engine->limits;
  bool v5 = conn->version == MQTT_V5;
  MqttBytes topic = p->topic;

  g_debug ("%s -> PUBLISH %.*s qos %u id %u%s (%u bytes)", conn->client_id, (int) topic.len,
           (const char *) topic.data, p->qos, p->packet_id, p->retain ? " retain" : "", p->payload.len);

  if (v5 && mqtt_props_has (&p->props, MQTT_PROP_TOPIC_ALIAS))
    {
      uint16_t a = p->props.topic_alias;

      if (a == 0 || a > limits->topic_alias_maximum || !conn->in_aliases)
        {
          conn_close (conn, MQTT_RC_TOPIC_ALIAS_INVALID);
          return;
        }
      if (topic.len == 0)
        {
          if (!conn->in_aliases[a])
            {
              conn_close (conn, MQTT_RC_PROTOCOL_ERROR);
              return;
            }
          gsize n;
          topic.data = g_bytes_get_data (conn->in_aliases[a], &n);
          topic.len = n;
        }
      else
        {
          g_clear_pointer (&conn->in_aliases[a], g_bytes_unref);
          conn->in_aliases[a] = g_bytes_new (topic.data, topic.len);
        }
    }
  if (topic.len == 0)
    {
      conn_close (conn, MQTT_RC_PROTOCOL_ERROR);
      return;
    }
  if (topic.len > limits->max_topic_length || count_levels (topic) > limits->max_topic_levels)
    {
      if (v5 && p->qos > 0)
        reply_publish (conn, p, MQTT_RC_TOPIC_NAME_INVALID);
      else
        conn_close (conn, MQTT_RC_TOPIC_NAME_INVALID);
      return;
    }
  if (v5 && mqtt_props_has (&p->props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR)
      && p->props.payload_format_indicator == 1
      && !mqtt_utf8_valid (p->payload.data, p->payload.len))
    {
      if (p->qos > 0)
        reply_publish (conn, p, MQTT_RC_PAYLOAD_FORMAT_INVALID);
      else
        conn_close (conn, MQTT_RC_PAYLOAD_FORMAT_INVALID);
      return;
    }

  if (!acl_allows (conn, topic, false))
    {
      g_info ("client %s: topicAcl does not allow publishing to %.*s", conn->client_id,
              (int) topic.len, (const char *) topic.data);
      /* MQTT 3.1.1 has no negative PUBACK: closing is its only honest
       * answer, at every QoS (a PUBACK would claim the message was taken). */
      if (v5 && p->qos > 0)
        reply_publish (conn, p, MQTT_RC_NOT_AUTHORIZED);
      else
        conn_close (conn, MQTT_RC_NOT_AUTHORIZED);
      return;
    }

  g_autoptr (StMessage) msg = st_message_new (topic, p->payload, p->qos, p->retain,
                                              v5 ? &p->props : NULL, st_now_ms ());
  StBroker *b = conn->broker;
  guint matched = 0;
  bool duplicate = false, too_many = false, gone = false, hooked = false, pause = false;

  st_broker_lock (b);
  StSession *s = conn->session;
  if (!s)
    gone = true;
  else if (p->qos == 2)
    {
      gpointer key = GUINT_TO_POINTER (p->packet_id);

      if (g_hash_table_contains (s->qos2_in, key))
        duplicate = true;
      else if (g_hash_table_size (s->qos2_in) >= limits->receive_maximum)
        too_many = true;
      else
        {
          g_hash_table_add (s->qos2_in, key);
          st_persist_qos2_received (s, p->packet_id);
        }
    }
  if (!gone && !duplicate && !too_many)
    {
      /* A broker with an on-publish hook routes and acknowledges once the
       * hook has decided (hooks/st-hook-queue.h); the check is one relaxed
       * load for brokers without. Under the broker lock, so the hook's
       * queue has this connection's messages in the order they came. */
      if (G_UNLIKELY (st_hook_active (&b->hook_active))
          && st_hook_queue_push (b->hook, conn, msg, p->packet_id, &pause))
        hooked = true;
      else
        matched = st_broker_publish_locked (b, msg, s, conn->wake);
    }
  st_broker_unlock (b);
  st_broker_wake (conn->wake);

  if (gone)
    return; /* taken over: the kick is on its way */
  if (too_many)
    {
      conn_close (conn, MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED);
      return;
    }
  if (hooked)
    {
      if (pause && conn->t)
        {
          g_debug ("%s: not read until the on-publish hook catches up", conn->client_id);
          conn->input_paused = true;
          st_transport_set_reading (conn->t, false);
        }
      return;
    }
  reply_publish (conn, p, duplicate || matched ? MQTT_RC_SUCCESS : MQTT_RC_NO_MATCHING_SUBSCRIBERS);
}

static void
handle_ack (StConn *conn, const MqttAck *a)
{
  StBroker *b = conn->broker;
  bool pump = false;
  int reply = -1;       /* packet type to answer with */
  uint8_t reply_rc = 0;

  g_debug ("%s -> %s id %u rc 0x%02x", conn->client_id, mqtt_packet_type_name (a->type),
           a->packet_id, a->reason_code);
  st_broker_lock (b);
  StSession *s = conn->session;
  if (s)
    {
      StDelivery *d;

      switch (a->type)
        {
        case MQTT_PUBACK:
          d = st_session_inflight_find (s, a->packet_id);
          if (d && d->qos == 1)
            {
              st_session_inflight_remove (s, d);
              pump = true;
            }
          break;
        case MQTT_PUBREC:
          d = st_session_inflight_find (s, a->packet_id);
          if (d && d->qos == 2 && d->state == ST_DELIVERY_WAIT_ACK && a->reason_code >= 0x80)
            {
              st_session_inflight_remove (s, d);
              pump = true;
            }
          else if (d && d->qos == 2)
            {
              if (d->state != ST_DELIVERY_WAIT_COMP)
                {
                  d->state = ST_DELIVERY_WAIT_COMP;
                  st_persist_delivery_changed (s, d);
                }
              reply = MQTT_PUBREL;
            }
          else
            {
              reply = MQTT_PUBREL;
              reply_rc = MQTT_RC_PACKET_ID_NOT_FOUND;
            }
          break;
        case MQTT_PUBCOMP:
          d = st_session_inflight_find (s, a->packet_id);
          if (d && d->state == ST_DELIVERY_WAIT_COMP)
            {
              st_session_inflight_remove (s, d);
              pump = true;
            }
          break;
        case MQTT_PUBREL:
          reply = MQTT_PUBCOMP;
          if (!g_hash_table_remove (s->qos2_in, GUINT_TO_POINTER (a->packet_id)))
            reply_rc = MQTT_RC_PACKET_ID_NOT_FOUND;
          else
            st_persist_qos2_released (s, a->packet_id);
          break;
        default:
          g_assert_not_reached ();
        }
    }
  st_broker_unlock (b);

  if (reply == MQTT_PUBCOMP)
    send_flow_ack (conn, MQTT_PUBCOMP, a->packet_id, reply_rc);
  else if (reply >= 0)
    send_ack (conn, (MqttPacketType) reply, a->packet_id, reply_rc);
  if (pump)
    conn_pump (conn);
}

static bool
filter_within_limits (const StLimits *limits, MqttBytes filter)
{
  MqttBytes group, rest;

  if (filter.len > limits->max_topic_length)
    return false;
  if (!st_filter_split_shared (filter, &group, &rest))
    rest = filter;
  return count_levels (rest) <= limits->max_topic_levels;
}

static void
handle_subscribe (StConn *conn, const MqttSubscribe *sub)
{
  const StLimits *limits = &conn->engine->limits;
  bool v5 = conn->version == MQTT_V5;
  StBroker *b = conn->broker;
  uint32_t sub_id = v5 && sub->props.n_subscription_ids ? sub->props.subscription_ids[0] : 0;
  g_autofree uint8_t *codes = g_malloc0 (MAX (sub->n_entries, 1));
  MqttIter it;
  MqttBytes filter;
  MqttSubOptions opts;
  guint i = 0;

  /* A shared subscription with No Local is a Protocol Error (3.8.3.1). */
  mqtt_iter_init (&it, sub->entries);
  while (mqtt_subscribe_next (&it, conn->version, &filter, &opts))
    {
      MqttBytes g, r;

      if (v5 && opts.no_local && st_filter_split_shared (filter, &g, &r))
        {
          conn_close (conn, MQTT_RC_PROTOCOL_ERROR);
          return;
        }
    }

  st_broker_lock (b);
  StSession *s = conn->session;
  mqtt_iter_init (&it, sub->entries);
  while (s && mqtt_subscribe_next (&it, conn->version, &filter, &opts))
    {
      MqttBytes g, r;
      bool shared;

      g_debug ("%s -> SUBSCRIBE %.*s qos %u", conn->client_id, (int) filter.len,
               (const char *) filter.data, opts.qos);
      if (!mqtt_topic_filter_valid (filter, true) || !filter_within_limits (limits, filter))
        {
          codes[i++] = v5 ? MQTT_RC_TOPIC_FILTER_INVALID : 0x80;
          continue;
        }
      if (!acl_allows (conn, filter, true))
        {
          g_info ("client %s: topicAcl does not cover subscription %.*s", conn->client_id,
                  (int) filter.len, (const char *) filter.data);
          codes[i++] = v5 ? MQTT_RC_NOT_AUTHORIZED : 0x80;
          continue;
        }
      shared = st_filter_split_shared (filter, &g, &r);
      bool is_new = st_subtree_add (b->subs, s, filter, &opts, sub_id);
      st_session_set_sub (s, filter, &opts, sub_id);
      st_persist_subscribed (s, filter, &opts, sub_id);
      codes[i++] = opts.qos;
      /* Retained messages go after the SUBACK: they are queued now, and the
       * queue is pumped on this thread only after the SUBACK is out. */
      if (!shared && (opts.retain_handling == 0 || (opts.retain_handling == 1 && is_new)))
        st_broker_send_retained_locked (b, s, filter, opts.qos, sub_id, conn->wake);
    }
  st_broker_unlock (b);
  st_broker_wake (conn->wake);
  if (!s)
    return;

  MqttSuback ack = { .packet_id = sub->packet_id, .reason_codes = { codes, i } };
  if (replies_wait (conn))
    {
      StBuf out;

      st_buf_init (&out);
      mqtt_encode_suback (&out, conn->version, &ack);
      defer_reply (conn, &out, true);
      st_buf_clear (&out);
      return;
    }
  mqtt_encode_suback (&conn->out, conn->version, &ack);
  flush_out (conn);
  conn_pump (conn);
}

static void
handle_unsubscribe (StConn *conn, const MqttUnsubscribe *unsub)
{
  StBroker *b = conn->broker;
  g_autofree uint8_t *codes = g_malloc0 (MAX (unsub->n_filters, 1));
  MqttIter it;
  MqttBytes filter;
  guint i = 0;

  st_broker_lock (b);
  StSession *s = conn->session;
  mqtt_iter_init (&it, unsub->filters);
  while (s && mqtt_unsubscribe_next (&it, &filter))
    {
      g_autofree char *key = g_strndup ((const char *) filter.data, filter.len);
      bool existed = st_subtree_remove (b->subs, s, filter);

      g_hash_table_remove (s->subs, key);
      if (existed)
        st_persist_unsubscribed (s, filter);
      codes[i++] = existed ? MQTT_RC_SUCCESS : MQTT_RC_NO_SUBSCRIPTION_EXISTED;
      g_debug ("%s -> UNSUBSCRIBE %s", conn->client_id, key);
    }
  st_broker_unlock (b);
  if (!s)
    return;

  MqttUnsuback ack = { .packet_id = unsub->packet_id };
  if (conn->version == MQTT_V5)
    ack.reason_codes = (MqttBytes) { codes, i };
  if (replies_wait (conn))
    {
      StBuf out;

      st_buf_init (&out);
      mqtt_encode_unsuback (&out, conn->version, &ack);
      defer_reply (conn, &out, false);
      st_buf_clear (&out);
      return;
    }
  mqtt_encode_unsuback (&conn->out, conn->version, &ack);
  flush_out (conn);
}

static void
handle_disconnect (StConn *conn, const MqttDisconnect *d)
{
  bool v5 = conn->version == MQTT_V5;

  g_debug ("%s -> DISCONNECT 0x%02x", conn->client_id, d->reason_code);
  if (v5 && mqtt_props_has (&d->props, MQTT_PROP_SESSION_EXPIRY_INTERVAL))
    {
      uint32_t expiry = d->props.session_expiry_interval;

      if (conn->session_expiry == 0 && expiry != 0)
        {
          conn_close (conn, MQTT_RC_PROTOCOL_ERROR);
          return;
        }
      expiry = MIN (expiry, conn->engine->limits.max_session_expiry);
      conn->session_expiry = expiry;
      st_broker_lock (conn->broker);
      if (conn->session)
        conn->session->expiry = expiry;
      st_broker_unlock (conn->broker);
    }
  /* Normal disconnection (0x00, and every 3.1.x DISCONNECT) drops the will;
   * any other reason, 0x04 included, publishes it. */
  conn_release (conn, v5 && d->reason_code != MQTT_RC_SUCCESS, "client disconnected");
  conn->state = ST_CONN_CLOSING;
  st_transport_close (conn->t);
}

static void
handle_packet (StConn *conn, const uint8_t *buf, size_t len, size_t header_len)
{
  MqttPacketType type = buf[0] >> 4;

  if (conn->state == ST_CONN_AWAIT_CONNECT)
    {
      if (type != MQTT_CONNECT)
        {
          g_debug ("%s: first packet is %s, not CONNECT", conn->info.peer_str,
                   mqtt_packet_type_name (type));
          conn_close (conn, NO_DISCONNECT);
          return;
        }
      handle_connect (conn, buf, len, header_len);
      return;
    }
  if (type == MQTT_CONNECT)
    {
      conn_close (conn, MQTT_RC_PROTOCOL_ERROR);
      return;
    }

  MqttPacket pkt;
  MqttReasonCode rc = mqtt_decode (buf, len, conn->version, true, &pkt);
  if (rc != MQTT_RC_SUCCESS)
    {
      g_debug ("%s: bad %s: %s", conn->client_id, mqtt_packet_type_name (type),
               mqtt_reason_code_name (rc));
      conn_close (conn, rc);
      return;
    }

  switch (type)
    {
    case MQTT_PUBLISH:
      handle_publish (conn, &pkt.publish);
      break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
      handle_ack (conn, &pkt.ack);
      break;
    case MQTT_SUBSCRIBE:
      handle_subscribe (conn, &pkt.subscribe);
      break;
    case MQTT_UNSUBSCRIBE:
      handle_unsubscribe (conn, &pkt.unsubscribe);
      break;
    case MQTT_PINGREQ:
      g_debug ("%s -> PINGREQ", conn->client_id);
      if (conn->replies_waiting)
        {
          /* behind the replies waiting for the store, as it came after
           * the packets they answer */
          StBuf out;

          st_buf_init (&out);
          mqtt_encode_pingresp (&out);
          defer_reply (conn, &out, false);
          st_buf_clear (&out);
          break;
        }
      mqtt_encode_pingresp (&conn->out);
      flush_out (conn);
      break;
    case MQTT_DISCONNECT:
      handle_disconnect (conn, &pkt.disconnect);
      break;
    case MQTT_AUTH:
      /* No enhanced authentication method is supported. */
    default:
      conn_close (conn, MQTT_RC_PROTOCOL_ERROR);
      break;
    }
}

/* The fixed header alone: packet sizes are known (and refused when too
 * large) before the body arrives. Returns 1 when complete, 0 when more
 * bytes are needed, -1 when malformed. */
static int
peek_fixed_header (const uint8_t *buf, size_t len, size_t *header_len, uint32_t *remaining)
{
  uint32_t value = 0;

  for (size_t i = 1; i <= 4; i++)
    {
      if (i >= len)
        return 0;
      value |= (uint32_t) (buf[i] & 0x7f) << (7 * (i - 1));
      if (!(buf[i] & 0x80))
        {
          *header_len = i + 1;
          *remaining = value;
          return 1;
        }
    }
  return -1;
}

size_t
st_conn_input (StConn *conn, const uint8_t *data, size_t len)
{
  size_t off = 0;

  if (conn->state >= ST_CONN_CLOSING)
    return len;
  st_conn_ref (conn);
  conn->last_input_ms = st_loop_now_ms (conn->loop);
  while (conn->state < ST_CONN_CLOSING && off < len && !conn->input_paused)
    {
      size_t header_len;
      uint32_t remaining;
      int r = peek_fixed_header (data + off, len - off, &header_len, &remaining);

      if (r == 0)
        break;
      if (r < 0)
        {
          if (conn->state == ST_CONN_AWAIT_CONNECT)
            conn_close (conn, NO_DISCONNECT);
          else
            conn_close (conn, MQTT_RC_MALFORMED_PACKET);
          break;
        }
      uint64_t total = (uint64_t) header_len + remaining;
      if (total > conn->engine->limits.max_packet_size)
        {
          g_debug ("%s: %" G_GUINT64_FORMAT " byte packet over the limit", conn_name (conn), total);
          conn_close (conn, MQTT_RC_PACKET_TOO_LARGE);
          break;
        }
      if (len - off < total)
        break;
      handle_packet (conn, data + off, (size_t) total, header_len);
      off += total;
    }
  if (conn->state >= ST_CONN_CLOSING)
    off = len;
  st_conn_unref (conn);
  return off;
}

void
st_conn_drained (StConn *conn)
{
  conn_pump (conn);
}

void
st_conn_shutdown (StConn *conn)
{
  conn_close (conn, MQTT_RC_SERVER_SHUTTING_DOWN);
}

void
st_conn_closed (StConn *conn)
{
  conn_release (conn, true, conn->state == ST_CONN_ACTIVE ? "connection lost" : "closed");
  conn->state = ST_CONN_CLOSED;
  conn->t = NULL;
  st_engine_forget_conn (conn->engine, conn);
  st_conn_unref (conn);
}

void
st_conn_check_timeouts (StConn *conn, gint64 now_ms)
{
  const StLimits *limits = &conn->engine->limits;

  if (conn->state == ST_CONN_AWAIT_CONNECT
      && now_ms - conn->accepted_ms >= limits->connect_timeout_ms)
    {
      g_debug ("%s: no CONNECT within %u ms", conn->info.peer_str, limits->connect_timeout_ms);
      conn_close (conn, NO_DISCONNECT);
    }
  /* Not while we do not read it (on-publish hook backlog): the silence
   * is ours. */
  else if (conn->state == ST_CONN_ACTIVE && conn->keep_alive && !conn->input_paused
           && now_ms - conn->last_input_ms >= (gint64) conn->keep_alive * 1500)
    {
      g_info ("client %s: keep alive timeout", conn->client_id);
      conn_close (conn, MQTT_RC_KEEP_ALIVE_TIMEOUT);
    }
  /* Wall clock, as the token's exp is; checked at the tick's resolution. */
  else if (conn->state == ST_CONN_ACTIVE && conn->token_exp
           && g_get_real_time () / G_USEC_PER_SEC >= conn->token_exp)
    {
      g_info ("client %s: token expired", conn->client_id);
      conn_close (conn, MQTT_RC_MAXIMUM_CONNECT_TIME);
    }
}

/* ---- on-publish hooks ----------------------------------------------------- */

static void
hook_resume_reading (StConn *conn)
{
  if (!conn->input_paused || conn->state != ST_CONN_ACTIVE || !conn->t
      || !st_hook_queue_may_read (conn->broker->hook, conn))
    return;
  g_debug ("%s: read again (on-publish hook caught up)", conn->client_id);
  conn->input_paused = false;
  conn->last_input_ms = st_loop_now_ms (conn->loop);
  st_transport_set_reading (conn->t, true);
}

void
st_conn_hook_acks (StConn *conn, const StHookAck *acks, guint n_acks, bool resume)
{
  if (conn->state != ST_CONN_ACTIVE || !conn->t)
    return;
  for (guint i = 0; i < n_acks; i++)
    {
      const StHookAck *a = &acks[i];

      /* A PUBREC of 0x80 or above ends the QoS 2 flow (no PUBREL comes),
       * so the packet id is free again. */
      if (a->qos == 2 && a->rc >= 0x80 && conn->version == MQTT_V5)
        {
          st_broker_lock (conn->broker);
          if (conn->session
              && g_hash_table_remove (conn->session->qos2_in, GUINT_TO_POINTER (a->packet_id)))
            st_persist_qos2_released (conn->session, a->packet_id);
          st_broker_unlock (conn->broker);
        }
      send_flow_ack (conn, a->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, a->packet_id, a->rc);
    }
  if (resume)
    hook_resume_reading (conn);
}

void
st_conn_hook_resume (StConn *conn)
{
  hook_resume_reading (conn);
}
