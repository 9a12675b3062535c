#define G_LOG_DOMAIN "starling-engine"

#include "st-engine-private.h"
#include "st-broker.h"
#include "st-conn.h"
#include "st-persist.h"

#include <string.h>

void
st_limits_init (StLimits *limits)
{
  memset (limits, 0, sizeof *limits);
  limits->max_packet_size = 1024 * 1024;
  limits->max_connections = 10000;
  limits->max_queued_messages = 1000;
  limits->max_queued_bytes = 64 * 1024 * 1024;
  limits->connect_timeout_ms = 10000;
  limits->receive_maximum = 100;
  limits->topic_alias_maximum = 64;
  limits->max_topic_length = 65535;
  limits->max_topic_levels = 128;
  limits->max_keep_alive = 0;
  limits->max_session_expiry = UINT32_MAX;
  limits->max_output_buffer = 4 * 1024 * 1024;
}

StEngine *
st_engine_new (const StLimits *limits)
{
  StEngine *engine = g_new0 (StEngine, 1);

  if (limits)
    engine->limits = *limits;
  else
    st_limits_init (&engine->limits);
  /* Values the protocol cannot express or that would make no sense. */
  if (engine->limits.receive_maximum == 0)
    engine->limits.receive_maximum = 1;
  if (engine->limits.max_packet_size == 0 || engine->limits.max_packet_size > MQTT_MAX_REMAINING_LENGTH + 5)
    engine->limits.max_packet_size = MQTT_MAX_REMAINING_LENGTH + 5;
  if (engine->limits.max_queued_messages == 0)
    engine->limits.max_queued_messages = 1;
  pthread_mutex_init (&engine->lock, NULL);
  engine->brokers = g_ptr_array_new_with_free_func ((GDestroyNotify) st_broker_free);
  engine->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  engine->by_kid = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  engine->removed = g_ptr_array_new_with_free_func ((GDestroyNotify) st_broker_free);
  engine->loops = g_ptr_array_new ();
  engine->public_host = g_strdup ("localhost");
  return engine;
}

static void
loop_conns_free (StLoopConns *lc)
{
  if (!lc)
    return;
  g_hash_table_unref (lc->conns);
  g_free (lc);
}

void
st_engine_free (StEngine *engine)
{
  if (!engine)
    return;
  st_engine_stop_hooks (engine);
  for (guint i = 0; i < engine->loops->len; i++)
    loop_conns_free (g_ptr_array_index (engine->loops, i));
  g_ptr_array_unref (engine->loops);
  g_hash_table_unref (engine->by_name);
  g_hash_table_unref (engine->by_kid);
  g_ptr_array_unref (engine->brokers);
  g_ptr_array_unref (engine->removed);
  pthread_mutex_destroy (&engine->lock);
  g_free (engine->public_host);
  g_free (engine);
}

StBroker *
st_engine_add_broker (StEngine   *engine,
                      const char *id,
                      const char *namespace_name,
                      const char *broker_name,
                      StAuthType  auth_type)
{
  g_return_val_if_fail (engine && id && namespace_name && broker_name, NULL);
  StBroker *b = st_broker_new (engine, &engine->limits, id, namespace_name, broker_name, auth_type);

  g_autoptr (GError) error = NULL;

  pthread_mutex_lock (&engine->lock);
  g_ptr_array_add (engine->brokers, b);
  {
    char *name = g_strdup_printf ("%s.%s", b->name, b->namespace_name);

    if (g_hash_table_contains (engine->by_name, name))
      g_free (name);
    else
      g_hash_table_insert (engine->by_name, name, b);
  }
  pthread_mutex_unlock (&engine->lock);
  if (!st_persist_load (b, &error))
    g_warning ("broker %s.%s starts without its stored state: %s", b->name, b->namespace_name,
               error->message);
  return b;
}

static gboolean
points_to (gpointer key, gpointer value, gpointer broker)
{
  return value == broker;
}

void
st_engine_index_keys (StEngine *engine, StBroker *broker, StSigningKey *const *keys, guint n_keys)
{
  pthread_mutex_lock (&engine->lock);
  g_hash_table_foreach_remove (engine->by_kid, points_to, broker);
  /* A removed broker routes nothing. */
  if (g_ptr_array_find (engine->brokers, broker, NULL))
    for (guint i = 0; i < n_keys; i++)
      {
        const char *kid = st_signing_key_get_kid (keys[i]);

        if (!g_hash_table_contains (engine->by_kid, kid))
          g_hash_table_insert (engine->by_kid, g_strdup (kid), broker);
      }
  pthread_mutex_unlock (&engine->lock);
}

void
st_engine_remove_broker (StEngine *engine, StBroker *broker)
{
  bool found = false;

  g_return_if_fail (engine != NULL && broker != NULL);
  pthread_mutex_lock (&engine->lock);
  for (guint i = 0; i < engine->brokers->len; i++)
    if (g_ptr_array_index (engine->brokers, i) == broker)
      {
        /* Kept, not freed: connections on other loops may hold it. */
        g_ptr_array_add (engine->removed, g_ptr_array_steal_index (engine->brokers, i));
        found = true;
        break;
      }
  g_hash_table_foreach_remove (engine->by_name, points_to, broker);
  g_hash_table_foreach_remove (engine->by_kid, points_to, broker);
  if (engine->default_broker == broker)
    engine->default_broker = NULL;
  pthread_mutex_unlock (&engine->lock);
  g_return_if_fail (found);

  st_broker_remove (broker);
}

void
st_engine_set_store (StEngine *engine, StMqttStore *store)
{
  g_autoptr (GPtrArray) brokers = g_ptr_array_new ();

  pthread_mutex_lock (&engine->lock);
  engine->store = store;
  for (guint i = 0; store && i < engine->brokers->len; i++)
    g_ptr_array_add (brokers, g_ptr_array_index (engine->brokers, i));
  pthread_mutex_unlock (&engine->lock);

  for (guint i = 0; i < brokers->len; i++)
    {
      g_autoptr (GError) error = NULL;
      StBroker *b = g_ptr_array_index (brokers, i);

      if (!st_persist_load (b, &error))
        g_warning ("broker %s.%s starts without its stored state: %s", b->name,
                   b->namespace_name, error->message);
    }
}

void
st_engine_set_default_broker (StEngine *engine, StBroker *broker)
{
  pthread_mutex_lock (&engine->lock);
  engine->default_broker = broker;
  pthread_mutex_unlock (&engine->lock);
}

void
st_engine_set_public_host (StEngine *engine, const char *host)
{
  pthread_mutex_lock (&engine->lock);
  g_free (engine->public_host);
  engine->public_host = g_ascii_strdown (host ? host : "localhost", -1);
  pthread_mutex_unlock (&engine->lock);
}

/* engine->lock held. */
static StBroker *
broker_by_sni_locked (StEngine *engine, const char *sni)
{
  StBroker *found = NULL;

  if (sni && *sni)
    {
      g_autofree char *host = g_ascii_strdown (sni, -1);
      size_t hlen = strlen (host);
      size_t plen = strlen (engine->public_host);

      /* "<broker>.<namespace>.<public host>" */
      if (hlen > plen + 1 && host[hlen - plen - 1] == '.'
          && strcmp (host + hlen - plen, engine->public_host) == 0)
        {
          host[hlen - plen - 1] = '\0';
          char *dot = strchr (host, '.');

          /* host is now "<broker>.<namespace>", as by_name's keys. */
          if (dot)
            found = g_hash_table_lookup (engine->by_name, host);
        }
    }
  return found;
}

/* engine->lock held. */
static StBroker *
broker_by_kid_locked (StEngine *engine, const char *kid)
{
  StBroker *b = kid ? g_hash_table_lookup (engine->by_kid, kid) : NULL;

  return b && b->auth_type == ST_AUTH_TOKEN ? b : NULL;
}

StBroker *
st_engine_pick_broker (StEngine *engine, const char *sni)
{
  return st_engine_route_broker (engine, sni, NULL);
}

StBroker *
st_engine_route_broker (StEngine *engine, const char *sni, const char *kid)
{
  StBroker *found;

  pthread_mutex_lock (&engine->lock);
  found = broker_by_sni_locked (engine, sni);
  if (!found)
    found = broker_by_kid_locked (engine, kid);
  if (!found)
    found = engine->default_broker;
  pthread_mutex_unlock (&engine->lock);
  return found;
}

StBroker *
st_engine_find_broker_by_kid (StEngine *engine, const char *kid)
{
  StBroker *found;

  g_return_val_if_fail (engine != NULL, NULL);
  pthread_mutex_lock (&engine->lock);
  found = broker_by_kid_locked (engine, kid);
  pthread_mutex_unlock (&engine->lock);
  return found;
}

bool
st_engine_count_connection (StEngine *engine)
{
  gint n = g_atomic_int_add (&engine->n_connected, 1);

  if ((guint) n >= engine->limits.max_connections)
    {
      g_atomic_int_add (&engine->n_connected, -1);
      return false;
    }
  return true;
}

void
st_engine_uncount_connection (StEngine *engine)
{
  g_atomic_int_add (&engine->n_connected, -1);
}

static StLoopConns *
loop_conns (StEngine *engine, StLoop *loop)
{
  guint idx = st_loop_index (loop);
  StLoopConns *lc;

  pthread_mutex_lock (&engine->lock);
  if (idx >= engine->loops->len)
    g_ptr_array_set_size (engine->loops, idx + 1);
  lc = g_ptr_array_index (engine->loops, idx);
  if (!lc)
    {
      lc = g_new0 (StLoopConns, 1);
      lc->conns = g_hash_table_new (NULL, NULL);
      engine->loops->pdata[idx] = lc;
    }
  pthread_mutex_unlock (&engine->lock);
  return lc;
}

StConn *
st_engine_accept (StEngine *engine, StTransport *t, const StConnInfo *info)
{
  StConn *conn = st_conn_new (engine, t, info);
  StLoopConns *lc = loop_conns (engine, conn->loop);

  g_hash_table_add (lc->conns, conn);
  return conn;
}

void
st_engine_forget_conn (StEngine *engine, StConn *conn)
{
  StLoopConns *lc = loop_conns (engine, conn->loop);

  g_hash_table_remove (lc->conns, conn);
}

void
st_engine_tick (StEngine *engine, StLoop *loop, gint64 now_ms)
{
  StLoopConns *lc = loop_conns (engine, loop);

  /* Keep alive and CONNECT timeouts have a resolution of a quarter second:
   * enough for limits given in seconds, and cheap with many connections. */
  if (now_ms >= lc->next_check_ms)
    {
      lc->next_check_ms = now_ms + 250;
      g_autoptr (GPtrArray) conns = g_ptr_array_new_with_free_func ((GDestroyNotify) st_conn_unref);
      GHashTableIter it;
      gpointer key;

      /* References: a check may close a connection, and its transport may
       * report st_conn_closed before the loop ends. */
      g_hash_table_iter_init (&it, lc->conns);
      while (g_hash_table_iter_next (&it, &key, NULL))
        g_ptr_array_add (conns, st_conn_ref (key));
      for (guint i = 0; i < conns->len; i++)
        st_conn_check_timeouts (g_ptr_array_index (conns, i), now_ms);
    }

  /* Session expiry and delayed wills of every broker, once a second, from
   * loop 0 only. Only sessions with a deadline are looked at. */
  if (st_loop_index (loop) == 0)
    {
      gint64 mono = st_now_ms ();

      if (mono >= engine->next_sweep_ms)
        {
          engine->next_sweep_ms = mono + 1000;
          pthread_mutex_lock (&engine->lock);
          g_autoptr (GPtrArray) brokers = g_ptr_array_new ();
          for (guint i = 0; i < engine->brokers->len; i++)
            g_ptr_array_add (brokers, g_ptr_array_index (engine->brokers, i));
          pthread_mutex_unlock (&engine->lock);
          for (guint i = 0; i < brokers->len; i++)
            st_broker_sweep (g_ptr_array_index (brokers, i), mono);
        }
    }
}
