#define G_LOG_DOMAIN "starling-session"

#include "st-session.h"
#include "st-persist.h"

#include <string.h>

StDelivery *
st_delivery_new (StMessage *msg, uint8_t qos, bool retain,
                 const uint32_t *ids, uint32_t n_ids)
{
  StDelivery *d = g_malloc (sizeof (StDelivery) + n_ids * sizeof (uint32_t));

  d->msg = st_message_ref (msg);
  d->qos = qos;
  d->retain = retain;
  d->state = ST_DELIVERY_QUEUED;
  d->packet_id = 0;
  d->store_id = 0;
  d->n_ids = n_ids;
  if (n_ids)
    memcpy (d->ids, ids, n_ids * sizeof (uint32_t));
  return d;
}

void
st_delivery_free (StDelivery *d)
{
  if (!d)
    return;
  st_message_unref (d->msg);
  g_free (d);
}

StSession *
st_session_new (StBroker *broker, const char *client_id)
{
  StSession *s = g_new0 (StSession, 1);

  s->broker = broker;
  s->client_id = g_strdup (client_id);
  s->subs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&s->queue);
  g_queue_init (&s->inflight);
  s->inflight_by_id = g_hash_table_new (NULL, NULL);
  s->qos2_in = g_hash_table_new (NULL, NULL);
  s->next_packet_id = 1;
  s->receive_max = 65535;
  return s;
}

void
st_session_clear_messages (StSession *s)
{
  StDelivery *d;

  while ((d = g_queue_pop_head (&s->queue)))
    st_delivery_free (d);
  s->queued_bytes = 0;
  s->queued_qos0 = 0;
  g_hash_table_remove_all (s->inflight_by_id);
  while ((d = g_queue_pop_head (&s->inflight)))
    st_delivery_free (d);
}

void
st_session_free (StSession *s)
{
  if (!s)
    return;
  st_session_clear_messages (s);
  g_hash_table_unref (s->inflight_by_id);
  g_hash_table_unref (s->qos2_in);
  g_hash_table_unref (s->subs);
  g_clear_pointer (&s->will, st_message_unref);
  g_free (s->client_id);
  g_free (s);
}

static bool
fits (StSession *s, uint64_t cost, const StLimits *limits)
{
  return (s->draining || s->queue.length < limits->max_queued_messages)
         && s->queued_bytes + cost <= limits->max_queued_bytes;
}

static void
drop_oldest_qos0 (StSession *s)
{
  for (GList *l = s->queue.head; l; l = l->next)
    {
      StDelivery *d = l->data;

      if (d->qos == 0)
        {
          g_queue_delete_link (&s->queue, l);
          s->queued_bytes -= st_message_cost (d->msg);
          s->queued_qos0--;
          s->dropped_queue_full++;
          st_delivery_free (d);
          return;
        }
    }
  g_assert_not_reached ();
}

/* Expired messages still take room until a pump meets them: when the queue
 * is full, they go first. */
static void
drop_expired (StSession *s)
{
  gint64 now = st_now_ms ();

  for (GList *l = s->queue.head; l;)
    {
      GList *next = l->next;
      StDelivery *d = l->data;

      if (st_message_expired (d->msg, now))
        {
          s->queued_bytes -= st_message_cost (d->msg);
          if (d->qos == 0)
            s->queued_qos0--;
          s->dropped_expired++;
          g_queue_delete_link (&s->queue, l);
          st_persist_delivery_done (s, d);
          st_delivery_free (d);
        }
      l = next;
    }
}

bool
st_session_enqueue (StSession *s, StDelivery *d, const StLimits *limits)
{
  uint64_t cost = st_message_cost (d->msg);

  if (!fits (s, cost, limits))
    drop_expired (s);

  while (!fits (s, cost, limits) && d->qos > 0 && s->queued_qos0 > 0)
    drop_oldest_qos0 (s);
  if (!fits (s, cost, limits))
    {
      s->dropped_queue_full++;
      st_delivery_free (d);
      return false;
    }
  d->state = ST_DELIVERY_QUEUED;
  g_queue_push_tail (&s->queue, d);
  s->queued_bytes += cost;
  if (d->qos == 0)
    s->queued_qos0++;
  st_persist_delivery_queued (s, d);
  return true;
}

StDelivery *
st_session_dequeue (StSession *s)
{
  StDelivery *d = g_queue_pop_head (&s->queue);

  if (d)
    {
      s->queued_bytes -= st_message_cost (d->msg);
      if (d->qos == 0)
        s->queued_qos0--;
    }
  return d;
}

uint16_t
st_session_alloc_packet_id (StSession *s)
{
  if (g_hash_table_size (s->inflight_by_id) >= 65535)
    return 0;
  for (;;)
    {
      uint16_t id = s->next_packet_id;

      s->next_packet_id = id == 65535 ? 1 : id + 1;
      if (!g_hash_table_contains (s->inflight_by_id, GUINT_TO_POINTER (id)))
        return id;
    }
}

void
st_session_inflight_add (StSession *s, StDelivery *d)
{
  g_assert (d->packet_id != 0);
  d->state = ST_DELIVERY_WAIT_ACK;
  g_queue_push_tail (&s->inflight, d);
  g_hash_table_insert (s->inflight_by_id, GUINT_TO_POINTER (d->packet_id), d);
}

StDelivery *
st_session_inflight_find (StSession *s, uint16_t packet_id)
{
  return g_hash_table_lookup (s->inflight_by_id, GUINT_TO_POINTER (packet_id));
}

void
st_session_inflight_remove (StSession *s, StDelivery *d)
{
  g_hash_table_remove (s->inflight_by_id, GUINT_TO_POINTER (d->packet_id));
  /* Acks usually come in order: the head is the common case. */
  if (s->inflight.head && s->inflight.head->data == d)
    g_queue_pop_head (&s->inflight);
  else
    g_queue_remove (&s->inflight, d);
  st_persist_delivery_done (s, d);
  st_delivery_free (d);
}

void
st_session_set_sub (StSession *s, MqttBytes filter, const MqttSubOptions *opts, uint32_t sub_id)
{
  StSubOpts *o = g_new (StSubOpts, 1);

  o->opts = *opts;
  o->sub_id = sub_id;
  g_hash_table_replace (s->subs, g_strndup ((const char *) filter.data, filter.len), o);
}
