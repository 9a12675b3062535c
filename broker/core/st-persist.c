#define G_LOG_DOMAIN "starling-persist"

#include "st-persist.h"
#include "st-engine-private.h"

/* A removed broker writes nothing more: st_broker_remove() has queued the
 * deletion of all its rows, and a late write (a connection that ends after
 * the removal) would bring a row back. Callers hold the broker's lock, as
 * st_broker_remove() does when it sets removed. */
static inline StMqttStore *
broker_store (StBroker *b)
{
  return b && b->engine && !b->removed ? b->engine->store : NULL;
}

/* A message is stored once whichever sessions hold it; its id is set the
 * first time, under the lock of the only broker that has it. */
static int64_t
message_id (StMqttStore *store, StMessage *msg)
{
  if (!msg->store_id)
    msg->store_id = st_mqtt_store_new_id (store);
  return msg->store_id;
}

void
st_persist_retain (StBroker *b, StMessage *msg)
{
  StMqttStore *store = broker_store (b);

  if (!store)
    return;
  st_mqtt_store_retain_set (store, b->id, msg->payload->len ? message_id (store, msg) : 0, msg);
}

static void
add_delivery (StMqttStore *store, StSession *s, StDelivery *d)
{
  if (d->qos == 0)
    return;
  d->store_id = st_mqtt_store_new_id (store);
  st_mqtt_store_delivery_add (store, d->store_id, s->store_id, message_id (store, d->msg), d->msg,
                              d->qos, d->retain, d->state, d->packet_id, d->ids, d->n_ids);
}

/* The whole session, for one that becomes durable with state already in
 * it (a takeover that raises Session Expiry from 0). */
static void
store_everything (StMqttStore *store, StBroker *b, StSession *s)
{
  GHashTableIter it;
  gpointer key, value;

  st_mqtt_store_session_put (store, s->store_id, b->id, s->client_id, s->version, s->expiry, 0);
  g_hash_table_iter_init (&it, s->subs);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      const StSubOpts *o = value;

      st_mqtt_store_sub_put (store, s->store_id, MQTT_BYTES_STR ((const char *) key), &o->opts,
                             o->sub_id);
    }
  for (GList *l = s->inflight.head; l; l = l->next)
    add_delivery (store, s, l->data);
  for (GList *l = s->queue.head; l; l = l->next)
    add_delivery (store, s, l->data);
  g_hash_table_iter_init (&it, s->qos2_in);
  while (g_hash_table_iter_next (&it, &key, NULL))
    st_mqtt_store_qos2_add (store, s->store_id, (uint16_t) GPOINTER_TO_UINT (key));
}

static void
forget (StMqttStore *store, StSession *s)
{
  st_mqtt_store_session_delete (store, s->store_id);
  s->store_id = 0;
  for (GList *l = s->inflight.head; l; l = l->next)
    ((StDelivery *) l->data)->store_id = 0;
  for (GList *l = s->queue.head; l; l = l->next)
    ((StDelivery *) l->data)->store_id = 0;
}

void
st_persist_session_attached (StBroker *b, StSession *s)
{
  StMqttStore *store = broker_store (b);

  if (!store)
    return;
  if (s->expiry == 0)
    {
      if (s->store_id)
        forget (store, s);
      return;
    }
  if (!s->store_id)
    {
      s->store_id = st_mqtt_store_new_id (store);
      store_everything (store, b, s);
      return;
    }
  st_mqtt_store_session_put (store, s->store_id, b->id, s->client_id, s->version, s->expiry, 0);
}

void
st_persist_session_detached (StBroker *b, StSession *s)
{
  StMqttStore *store = broker_store (b);

  if (!store || !s->store_id)
    return;
  st_mqtt_store_session_put (store, s->store_id, b->id, s->client_id, s->version, s->expiry,
                             g_get_real_time () / 1000);
}

void
st_persist_session_ended (StBroker *b, StSession *s)
{
  StMqttStore *store = broker_store (b);

  if (!store || !s->store_id)
    return;
  forget (store, s);
}

void
st_persist_subscribed (StSession *s, MqttBytes filter, const MqttSubOptions *opts, uint32_t sub_id)
{
  if (s->store_id)
    st_mqtt_store_sub_put (broker_store (s->broker), s->store_id, filter, opts, sub_id);
}

void
st_persist_unsubscribed (StSession *s, MqttBytes filter)
{
  if (s->store_id)
    st_mqtt_store_sub_delete (broker_store (s->broker), s->store_id, filter);
}

void
st_persist_delivery_queued (StSession *s, StDelivery *d)
{
  if (s->store_id)
    add_delivery (broker_store (s->broker), s, d);
}

void
st_persist_delivery_changed (StSession *s, StDelivery *d)
{
  if (d->store_id)
    st_mqtt_store_delivery_update (broker_store (s->broker), d->store_id, d->state, d->packet_id);
}

void
st_persist_delivery_done (StSession *s, StDelivery *d)
{
  if (d->store_id)
    {
      st_mqtt_store_delivery_delete (broker_store (s->broker), d->store_id);
      d->store_id = 0;
    }
}

void
st_persist_qos2_received (StSession *s, uint16_t packet_id)
{
  if (s->store_id)
    st_mqtt_store_qos2_add (broker_store (s->broker), s->store_id, packet_id);
}

void
st_persist_qos2_released (StSession *s, uint16_t packet_id)
{
  if (s->store_id)
    st_mqtt_store_qos2_delete (broker_store (s->broker), s->store_id, packet_id);
}

void
st_persist_broker_removed (StBroker *b)
{
  StMqttStore *store = broker_store (b);

  if (store)
    st_mqtt_store_broker_delete (store, b->id);
}

bool
st_persist_acks_wait (StBroker *b)
{
  StMqttStore *store = broker_store (b);

  return store && st_mqtt_store_get_durability (store) == ST_DURABILITY_ALWAYS;
}

void
st_persist_after_commit (StBroker *b, void (*func) (gpointer data), gpointer data)
{
  st_mqtt_store_after_commit (broker_store (b), func, data);
}

/* ---- loading: these run on the store thread while st_persist_load waits */

static void
load_retained (gpointer user_data, int64_t msg_id, StMessage *msg)
{
  StBroker *b = user_data;

  st_broker_lock (b);
  msg->store_id = msg_id;
  st_retain_set (b->retained, msg);
  st_broker_unlock (b);
}

static gpointer
load_session (gpointer user_data, int64_t id, const char *client_id, MqttVersion version,
              uint32_t expiry, gint64 expire_at_ms)
{
  StBroker *b = user_data;
  StSession *s = NULL;

  st_broker_lock (b);
  if (!g_hash_table_contains (b->sessions, client_id))
    {
      s = st_session_new (b, client_id);
      s->store_id = id;
      s->version = version;
      s->expiry = expiry;
      s->expire_at_ms = expire_at_ms;
      g_hash_table_insert (b->sessions, s->client_id, s);
      if (expire_at_ms)
        g_hash_table_add (b->timed, s);
    }
  st_broker_unlock (b);
  return s;
}

static void
load_subscription (gpointer user_data, gpointer session, MqttBytes filter,
                   const MqttSubOptions *opts, uint32_t sub_id)
{
  StBroker *b = user_data;
  StSession *s = session;

  if (!s)
    return;
  st_broker_lock (b);
  st_subtree_add (b->subs, s, filter, opts, sub_id);
  st_session_set_sub (s, filter, opts, sub_id);
  st_broker_unlock (b);
}

static void
load_delivery (gpointer user_data, gpointer session, int64_t id, int64_t msg_id, StMessage *msg,
               uint8_t qos, bool retain, uint8_t state, uint16_t packet_id,
               const uint32_t *sub_ids, uint32_t n_sub_ids)
{
  StBroker *b = user_data;
  StSession *s = session;

  if (!s)
    return;
  st_broker_lock (b);
  StDelivery *d = st_delivery_new (msg, qos, retain, sub_ids, n_sub_ids);

  msg->store_id = msg_id;
  d->store_id = id;
  if (state == ST_DELIVERY_QUEUED || packet_id == 0
      || st_session_inflight_find (s, packet_id))
    {
      /* Past the queue bound when the bound was lowered: kept anyway, as
       * it was accepted. */
      g_queue_push_tail (&s->queue, d);
      s->queued_bytes += st_message_cost (msg);
      if (d->qos == 0)
        s->queued_qos0++;
    }
  else
    {
      d->packet_id = packet_id;
      st_session_inflight_add (s, d);
      d->state = state;
    }
  st_broker_unlock (b);
}

static void
load_qos2 (gpointer user_data, gpointer session, uint16_t packet_id)
{
  StBroker *b = user_data;
  StSession *s = session;

  if (!s)
    return;
  st_broker_lock (b);
  g_hash_table_add (s->qos2_in, GUINT_TO_POINTER (packet_id));
  st_broker_unlock (b);
}

static const StMqttStoreLoadFuncs load_funcs = {
  load_retained, load_session, load_subscription, load_delivery, load_qos2,
};

gboolean
st_persist_load (StBroker *b, GError **error)
{
  StMqttStore *store = broker_store (b);

  if (!store)
    return TRUE;
  return st_mqtt_store_load (store, b->id, &load_funcs, b, error);
}
