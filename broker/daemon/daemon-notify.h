/* daemon-notify.h — systemd's service readiness protocol (sd_notify(3)),
 * spoken directly so that starlingd needs no libsystemd.
 *
 * When systemd starts a Type=notify service it puts the path of a datagram
 * socket in $NOTIFY_SOCKET ("/run/systemd/notify", or "@name" for an
 * abstract socket); the service sends newline-separated assignments such
 * as "READY=1" or "STATUS=…" to it. Without $NOTIFY_SOCKET every call here
 * does nothing, so starlingd behaves the same outside systemd.
 */
#pragma once

#include <glib.h>

/* Sends state (e.g. "READY=1\nSTATUS=Serving") to $NOTIFY_SOCKET. Returns
 * TRUE if it was sent, FALSE if there is no socket to send to or sending
 * failed (the reason is logged at debug level: a lost notification must
 * never stop the broker). */
gboolean daemon_notify (const char *state);

gboolean daemon_notifyf (const char *format,
                         ...) G_GNUC_PRINTF (1, 2);

/* "READY=1" plus a STATUS= line naming every listener, from
 * st_server_get_ready_json()'s JSON ("mqtt 127.0.0.1:1883, api …"). */
gboolean daemon_notify_ready (const char *ready_json);

/* "RELOADING=1" with the MONOTONIC_USEC= stamp systemd wants with it. */
gboolean daemon_notify_reloading (void);

gboolean daemon_notify_stopping (void);
