/* st-persist.h — the engine's side of the durable MQTT state
 * (store/st-mqtt-store.h): one call at each point where state that must
 * outlive a restart changes.
 *
 * Every function is called with the broker's lock held and only queues an
 * operation for the store thread, so the order of the operations is the
 * order of the changes. Without a store (st_engine_set_store) and for
 * sessions with Session Expiry 0 they do nothing: a session is stored from
 * the moment its expiry is above 0 (s->store_id != 0) and only QoS 1/2
 * deliveries are (QoS 0 is not kept for an offline session anyway). */
#pragma once

#include "st-broker.h"
#include "store/st-mqtt-store.h"

/* A retained message was set or cleared (empty payload). */
void     st_persist_retain            (StBroker *b, StMessage *msg);

/* At the end of CONNECT's attach: stores the session (all of it when it
 * becomes durable only now), or forgets it when its expiry became 0. */
void     st_persist_session_attached  (StBroker *b, StSession *s);
/* Offline now, its expiry counting from this moment. */
void     st_persist_session_detached  (StBroker *b, StSession *s);
/* Ended: removed with everything it had. */
void     st_persist_session_ended     (StBroker *b, StSession *s);

void     st_persist_subscribed        (StSession *s, MqttBytes filter,
                                       const MqttSubOptions *opts, uint32_t sub_id);
void     st_persist_unsubscribed      (StSession *s, MqttBytes filter);

/* d was appended to s's queue. */
void     st_persist_delivery_queued   (StSession *s, StDelivery *d);
/* d's state or packet id changed (sent; PUBREC received). */
void     st_persist_delivery_changed  (StSession *s, StDelivery *d);
/* d is finished (acknowledged, expired, discarded): call before freeing. */
void     st_persist_delivery_done     (StSession *s, StDelivery *d);

void     st_persist_qos2_received     (StSession *s, uint16_t packet_id);
void     st_persist_qos2_released     (StSession *s, uint16_t packet_id);

/* durability = always: PUBACK, PUBREC and PUBCOMP wait until what they
 * confirm is on disk. Then st_persist_after_commit() calls func (data) on
 * the store thread once everything queued so far is synced. */
/* The broker is being deleted: its stored state goes too. Call with the
 * broker locked, before setting removed (after it nothing is written). */
void     st_persist_broker_removed    (StBroker *b);

bool     st_persist_acks_wait         (StBroker *b);
void     st_persist_after_commit      (StBroker *b, void (*func) (gpointer data), gpointer data);

/* Rebuilds b's retained messages and sessions from the store. Takes the
 * broker's lock itself; call before b has connections. */
gboolean st_persist_load              (StBroker *b, GError **error);
