#define G_LOG_DOMAIN "starling-broker"

#include "st-broker.h"
#include "st-conn.h"
#include "st-engine-private.h"
#include "st-persist.h"
#include "hooks/st-hook-queue.h"

#include <string.h>

static bool
session_online (void *owner)
{
  StSession *s = owner;

  return s->conn != NULL;
}

StBroker *
st_broker_new (StEngine *engine, const StLimits *limits, const char *id,
               const char *namespace_name, const char *name, StAuthType auth_type)
{
  StBroker *b = g_new0 (StBroker, 1);

  b->engine = engine;
  b->limits = limits;
  b->id = g_strdup (id);
  b->namespace_name = g_ascii_strdown (namespace_name, -1);
  b->name = g_ascii_strdown (name, -1);
  b->auth_type = auth_type;
  pthread_mutex_init (&b->lock, NULL);
  b->sessions = g_hash_table_new (g_str_hash, g_str_equal);
  b->subs = st_subtree_new (session_online);
  b->retained = st_retain_new ();
  b->timed = g_hash_table_new (NULL, NULL);
  st_match_result_init (&b->match);
  b->live_jtis = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_ptr_array_unref);
  st_auth_state_init (&b->auth);
  b->hook = st_hook_queue_new (b);
  return b;
}

void
st_broker_free (StBroker *b)
{
  GHashTableIter it;
  gpointer v;

  if (!b)
    return;
  /* Connections are gone by now (the network layer stops first). */
  g_hash_table_iter_init (&it, b->sessions);
  while (g_hash_table_iter_next (&it, NULL, &v))
    st_session_free (v);
  g_hash_table_unref (b->sessions);
  g_hash_table_unref (b->timed);
  st_subtree_free (b->subs);
  st_retain_free (b->retained);
  st_match_result_clear (&b->match);
  g_hash_table_unref (b->live_jtis);
  st_auth_state_clear (&b->auth);
  st_hook_queue_free (b->hook);
  pthread_mutex_destroy (&b->lock);
  g_free (b->id);
  g_free (b->namespace_name);
  g_free (b->name);
  g_free (b);
}

static void
deliver_locked (StBroker *b, StSession *s, StMessage *msg, uint8_t qos, bool retain,
                const uint32_t *ids, uint32_t n_ids, GPtrArray *wake)
{
  /* QoS 0 is not kept for an offline session (MQTT 3.1.2.4 allows this, and
   * it is what mosquitto does). */
  if (!s->conn && qos == 0)
    return;

  StDelivery *d = st_delivery_new (msg, qos, retain, ids, n_ids);

  if (st_session_enqueue (s, d, b->limits) && s->conn)
    st_conn_request_pump_locked (s->conn, wake);
}

guint
st_broker_publish_locked (StBroker *b, StMessage *msg, StSession *publisher, GPtrArray *wake)
{
  if (msg->retain)
    {
      st_retain_set (b->retained, msg);
      st_persist_retain (b, msg);
    }

  st_subtree_match (b->subs, msg->topic, publisher, &b->match);

  for (guint i = 0; i < b->match.matches->len; i++)
    {
      StMatch *m = &g_array_index (b->match.matches, StMatch, i);
      StSession *s = m->owner;
      uint8_t qos = MIN (msg->qos, m->qos);
      /* MQTT 3.1.1 live deliveries never carry the retain flag; v5 only
       * with Retain As Published. */
      bool retain = msg->retain && m->retain_as_published
                    && s->version == MQTT_V5;

      deliver_locked (b, s, msg, qos, retain, st_match_ids (&b->match, m), m->n_ids, wake);
    }
  return b->match.matches->len;
}

void
st_broker_send_retained_locked (StBroker *b, StSession *s, MqttBytes filter,
                                uint8_t granted_qos, uint32_t sub_id, GPtrArray *wake)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) st_message_unref);

  st_retain_match (b->retained, filter, st_now_ms (), found);
  for (guint i = 0; i < found->len; i++)
    {
      StMessage *msg = g_ptr_array_index (found, i);

      deliver_locked (b, s, msg, MIN (msg->qos, granted_qos), true,
                      &sub_id, sub_id ? 1 : 0, wake);
    }
}

static void
publish_will_locked (StBroker *b, StSession *s, GPtrArray *wake)
{
  g_autoptr (StMessage) will = g_steal_pointer (&s->will);

  s->will_at_ms = 0;
  if (!will)
    return;
  /* The session holds the only reference until now, so the relative
   * deadline set at CONNECT can still be made absolute. */
  if (will->expire_at_ms)
    will->expire_at_ms += st_now_ms ();
  g_info ("publishing will of %s on %.*s", s->client_id,
          (int) will->topic.len, (const char *) will->topic.data);
  if (G_UNLIKELY (st_hook_active (&b->hook_active))
      && st_hook_queue_push_will (b->hook, s->client_id, will))
    return;
  st_broker_publish_locked (b, will, s, wake);
}

void
st_broker_end_session_locked (StBroker *b, StSession *s, GPtrArray *wake)
{
  GHashTableIter it;
  gpointer key;

  publish_will_locked (b, s, wake);
  g_hash_table_iter_init (&it, s->subs);
  while (g_hash_table_iter_next (&it, &key, NULL))
    st_subtree_remove (b->subs, s, MQTT_BYTES_STR ((const char *) key));
  g_hash_table_remove (b->timed, s);
  g_hash_table_remove (b->sessions, s->client_id);
  if (s->conn)
    s->conn->session = NULL;
  st_persist_session_ended (b, s);
  st_session_free (s);
}

StSession *
st_broker_attach_locked (StBroker   *b,
                         StConn     *conn,
                         const char *client_id,
                         MqttVersion version,
                         bool        clean_start,
                         uint32_t    expiry,
                         bool       *session_present,
                         StConn    **kicked,
                         GPtrArray  *wake)
{
  StSession *s = g_hash_table_lookup (b->sessions, client_id);

  *kicked = NULL;
  *session_present = false;
  /* Past its expiry but not yet swept (the sweep runs once a second, and
   * a restored session may be due right after a restart): over. */
  if (s && !s->conn && s->expire_at_ms && st_now_ms () >= s->expire_at_ms)
    {
      g_info ("session %s expired", s->client_id);
      st_broker_end_session_locked (b, s, wake);
      s = NULL;
    }
  if (s)
    {
      if (s->conn)
        {
          *kicked = st_conn_ref (s->conn);
          s->conn->session = NULL;
          s->conn = NULL;
          s->draining = false;
        }
      /* The previous connection's will: due now when the session ends or
       * it had no delay; a reconnection before its delay cancels it. */
      if (s->will && (clean_start || s->will_delay == 0))
        publish_will_locked (b, s, wake);
      g_clear_pointer (&s->will, st_message_unref);
      s->will_at_ms = 0;
      if (clean_start)
        {
          st_broker_end_session_locked (b, s, wake);
          s = NULL;
        }
    }
  if (s)
    {
      *session_present = true;
      s->expire_at_ms = 0;
      g_hash_table_remove (b->timed, s);
    }
  else
    {
      s = st_session_new (b, client_id);
      g_hash_table_insert (b->sessions, s->client_id, s);
    }
  s->conn = conn;
  s->expiry = expiry;
  s->version = version;
  conn->session = s;
  st_persist_session_attached (b, s);
  return s;
}

StConn *
st_broker_live_conn_locked (StBroker *b, const char *client_id)
{
  StSession *s = g_hash_table_lookup (b->sessions, client_id);

  return s ? s->conn : NULL;
}

void
st_broker_detach_locked (StBroker *b, StConn *conn, bool publish_will, GPtrArray *wake)
{
  StSession *s = conn->session;
  gint64 now = st_now_ms ();

  if (!s)
    return;
  conn->session = NULL;
  s->conn = NULL;
  s->draining = false;
  if (!publish_will)
    g_clear_pointer (&s->will, st_message_unref);

  if (s->expiry == 0)
    {
      st_broker_end_session_locked (b, s, wake);
      return;
    }

  if (s->will && s->will_delay == 0)
    publish_will_locked (b, s, wake);
  else if (s->will)
    s->will_at_ms = now + (gint64) MIN (s->will_delay, s->expiry) * 1000;

  s->expire_at_ms = s->expiry == UINT32_MAX ? 0 : now + (gint64) s->expiry * 1000;
  st_persist_session_detached (b, s);

  /* QoS 0 messages are not kept for offline sessions. */
  for (GList *l = s->queue.head; l && s->queued_qos0;)
    {
      GList *next = l->next;
      StDelivery *d = l->data;

      if (d->qos == 0)
        {
          s->queued_bytes -= st_message_cost (d->msg);
          s->queued_qos0--;
          g_queue_delete_link (&s->queue, l);
          st_delivery_free (d);
        }
      l = next;
    }

  if (s->expire_at_ms || s->will_at_ms)
    g_hash_table_add (b->timed, s);
}

void
st_broker_sweep (StBroker *b, gint64 now_ms)
{
  g_autoptr (GPtrArray) wake = g_ptr_array_new ();
  g_autoptr (GPtrArray) ending = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;

  st_broker_lock (b);
  g_hash_table_iter_init (&it, b->timed);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      StSession *s = key;

      if (s->conn)
        {
          g_hash_table_iter_remove (&it);
          continue;
        }
      if (s->will_at_ms && now_ms >= s->will_at_ms)
        publish_will_locked (b, s, wake);
      if (s->expire_at_ms && now_ms >= s->expire_at_ms)
        g_ptr_array_add (ending, s);
      else if (!s->expire_at_ms && !s->will_at_ms)
        g_hash_table_iter_remove (&it);
    }
  for (guint i = 0; i < ending->len; i++)
    {
      StSession *s = g_ptr_array_index (ending, i);

      g_info ("session %s expired", s->client_id);
      st_broker_end_session_locked (b, s, wake);
    }
  st_broker_unlock (b);
  st_broker_wake (wake);
}

void
st_broker_wake (GPtrArray *wake)
{
  for (guint i = 0; i < wake->len; i++)
    st_conn_schedule_pump (g_ptr_array_index (wake, i));
  g_ptr_array_set_size (wake, 0);
}

char *
st_broker_assign_client_id_locked (StBroker *b)
{
  for (;;)
    {
      g_autofree char *uuid = g_uuid_string_random ();
      char *id = g_strconcat ("auto-", uuid, NULL);

      if (!g_hash_table_contains (b->sessions, id))
        return id;
      g_free (id);
    }
}

/* ---- token brokers ------------------------------------------------------ */

bool
st_broker_track_jti_locked (StBroker *b, StConn *conn, const char *jti)
{
  g_autoptr (StAuthSnapshot) snap = st_auth_snapshot_get (&b->auth);
  GPtrArray *conns;

  if (g_hash_table_contains (snap->revoked, jti))
    return false;
  /* The same for a key removed since the token was verified. */
  if (conn->kid && !g_hash_table_contains (snap->keys, conn->kid))
    return false;
  conns = g_hash_table_lookup (b->live_jtis, jti);
  if (!conns)
    {
      conns = g_ptr_array_new ();
      g_hash_table_insert (b->live_jtis, g_strdup (jti), conns);
    }
  g_ptr_array_add (conns, conn);
  return true;
}

void
st_broker_untrack_jti_locked (StBroker *b, StConn *conn, const char *jti)
{
  GPtrArray *conns = g_hash_table_lookup (b->live_jtis, jti);

  if (!conns)
    return;
  g_ptr_array_remove_fast (conns, conn);
  if (conns->len == 0)
    g_hash_table_remove (b->live_jtis, jti);
}

/* Tells every live connection whose token a removed key signed
 * (DISCONNECT 0x87, as for a revoked token): a key is removed because it
 * must no longer be trusted. The new snapshot is out before the lock is
 * taken: a connection tracked after this scan sees the removal itself
 * (st_broker_track_jti_locked). */
static void
disconnect_unkeyed (StBroker *b)
{
  g_autoptr (StAuthSnapshot) snap = st_auth_snapshot_get (&b->auth);
  g_autoptr (GPtrArray) found = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;

  st_broker_lock (b);
  g_hash_table_iter_init (&it, b->live_jtis);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      GPtrArray *conns = value;

      for (guint j = 0; j < conns->len; j++)
        {
          StConn *conn = g_ptr_array_index (conns, j);

          if (conn->kid && !g_hash_table_contains (snap->keys, conn->kid))
            g_ptr_array_add (found, st_conn_ref (conn));
        }
    }
  st_broker_unlock (b);
  for (guint i = 0; i < found->len; i++)
    st_conn_revoked (g_ptr_array_index (found, i));
}

void
st_broker_set_keys (StBroker *broker, StSigningKey *const *keys, guint n_keys)
{
  g_return_if_fail (broker != NULL);
  st_auth_set_keys (&broker->auth, (StSigningKey **) keys, n_keys);
  if (broker->engine)
    st_engine_index_keys (broker->engine, broker, keys, n_keys);
  /* The newest key (keys come oldest first, as the store lists them and
   * as credentials are signed) signs the hook's requests. */
  st_hook_queue_set_key (broker->hook, n_keys ? keys[n_keys - 1] : NULL);
  disconnect_unkeyed (broker);
}

/* Tells every live connection of these jtis (DISCONNECT 0x87). The new
 * snapshot is out before the lock is taken: a connection tracked after
 * this scan sees the revocation itself (st_broker_track_jti_locked). */
static void
disconnect_revoked (StBroker *b, const char *const *jtis)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new ();

  st_broker_lock (b);
  for (guint i = 0; jtis[i]; i++)
    {
      GPtrArray *conns = g_hash_table_lookup (b->live_jtis, jtis[i]);

      for (guint j = 0; conns && j < conns->len; j++)
        g_ptr_array_add (found, st_conn_ref (g_ptr_array_index (conns, j)));
    }
  st_broker_unlock (b);
  for (guint i = 0; i < found->len; i++)
    st_conn_revoked (g_ptr_array_index (found, i));
}

void
st_broker_revoke (StBroker *broker, const char *jti)
{
  const char *jtis[] = { jti, NULL };

  g_return_if_fail (broker != NULL && jti != NULL);
  st_auth_revoke (&broker->auth, jtis, ST_AUTH_REVOKE);
  disconnect_revoked (broker, jtis);
}

void
st_broker_unrevoke (StBroker *broker, const char *jti)
{
  const char *jtis[] = { jti, NULL };

  g_return_if_fail (broker != NULL && jti != NULL);
  st_auth_revoke (&broker->auth, jtis, ST_AUTH_UNREVOKE);
}

void
st_broker_set_revocations (StBroker *broker, const char *const *jtis)
{
  g_return_if_fail (broker != NULL);
  st_auth_revoke (&broker->auth, jtis, ST_AUTH_REPLACE_REVOKED);
  if (jtis)
    disconnect_revoked (broker, jtis);
}

void
st_broker_remove (StBroker *b)
{
  g_autoptr (GPtrArray) conns = g_ptr_array_new ();
  g_autoptr (GPtrArray) sessions = g_ptr_array_new ();
  g_autoptr (GPtrArray) wake = g_ptr_array_new ();
  GHashTableIter it;
  gpointer v;

  st_hook_queue_remove (b->hook);
  st_broker_lock (b);
  /* Queued before removed is set, so that it follows every write this
   * broker made; after it, the broker writes nothing (st-persist.c). */
  st_persist_broker_removed (b);
  b->removed = true;
  g_hash_table_iter_init (&it, b->sessions);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_add (sessions, v);
  for (guint i = 0; i < sessions->len; i++)
    {
      StSession *s = g_ptr_array_index (sessions, i);

      /* Nobody is left in this world to receive a will. */
      g_clear_pointer (&s->will, st_message_unref);
      if (s->conn)
        g_ptr_array_add (conns, st_conn_ref (s->conn));
      st_broker_end_session_locked (b, s, wake);
    }
  st_retain_free (b->retained);
  b->retained = st_retain_new ();
  st_broker_unlock (b);
  st_broker_wake (wake);

  for (guint i = 0; i < conns->len; i++)
    st_conn_broker_removed (g_ptr_array_index (conns, i));
}
