/* starling-broker-page.h — one broker: how to connect to it, its
 * credentials, revocations, public keys and the local CA certificate. */
#pragma once

#include <adwaita.h>

#include "client/st-api-client.h"

G_BEGIN_DECLS

#define STARLING_TYPE_BROKER_PAGE (starling_broker_page_get_type ())
G_DECLARE_FINAL_TYPE (StarlingBrokerPage, starling_broker_page, STARLING, BROKER_PAGE, AdwBin)

/* Loads the broker and its sections at once.  "changed" (ns, broker): the
 * broker was edited (ns, broker) or deleted (ns, NULL); the window should
 * reload its sidebar and select that. */
GtkWidget *starling_broker_page_new    (StApiClient *client,
                                        const char  *ns,
                                        const char  *broker);

/* Loads everything again. */
void       starling_broker_page_reload (StarlingBrokerPage *self);

/* The ready-to-paste snippets for a broker at endpoint
 * ("mqtts://b.ns.host:8883"); token_auth: whether clients need a token. */
char      *starling_snippet_mqttjs      (const char *endpoint,
                                         gboolean    token_auth);
char      *starling_snippet_mosquitto   (const char *endpoint,
                                         gboolean    token_auth);
/* The mosquitto_sub command for one credential (token NULL: anonymous),
 * values quoted for the shell. */
char      *starling_snippet_mosquitto_with (const char *endpoint,
                                            const char *client_id,
                                            const char *token);

G_END_DECLS
