/* net-transport.h — what the network layer offers the MQTT engine.
 *
 * The network layer (broker/net/) owns I/O threads ("loops"), listeners and
 * client connections ("transports"). A transport carries MQTT bytes: TLS and
 * WebSocket framing are handled below this interface, so the engine only
 * ever sees a byte stream in each direction.
 *
 * Threading: every function taking an StTransport must be called on the
 * transport's own loop thread (see st_loop_invoke() to get there), except
 * st_transport_get_loop(). Output is buffered and leaves in one writev at the
 * end of the loop iteration; EPOLLOUT is armed only when the socket blocks.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/st-bytes.h"

typedef struct _StLoop      StLoop;
typedef struct _StTransport StTransport;

typedef enum {
  ST_LISTENER_MQTT,   /* MQTT over TCP */
  ST_LISTENER_MQTTS,  /* MQTT over TLS */
  ST_LISTENER_WS,     /* MQTT over WebSocket */
  ST_LISTENER_WSS,    /* MQTT over WebSocket over TLS */
  ST_N_LISTENER_KINDS
} StListenerKind;

const char *st_listener_kind_name (StListenerKind kind); /* "mqtt", "mqtts", "ws", "wss" */

/* Facts about an accepted connection, given to the engine when it starts. */
typedef struct {
  StListenerKind          kind;
  const char             *sni;       /* TLS server name, or NULL */
  struct sockaddr_storage peer;
  socklen_t               peer_len;
  char                    peer_str[64]; /* "1.2.3.4:5678" / "[::1]:5678", for logs */
} StConnInfo;

/* ---- Output ----------------------------------------------------------- */

/* Queue bytes (copied). */
void   st_transport_send       (StTransport *t, const void *data, size_t len);

/* Queue a range of a shared payload without copying it (a reference is
 * taken and dropped once written). */
void   st_transport_send_bytes (StTransport *t, StBytes *bytes, size_t offset, size_t len);

/* Bytes queued and not yet written: the engine stops feeding a slow
 * consumer above its limit and resumes on st_conn_drained(). The network
 * layer calls st_conn_drained() once the backlog falls below half of the
 * highest value this returned since the last st_conn_drained() (or to 0). */
size_t st_transport_pending    (StTransport *t);

/* Write what is queued, then close. No input is delivered after this call;
 * st_conn_closed() follows once the transport is gone. */
void   st_transport_close      (StTransport *t);

/* Stop or resume reading input (flow control). */
void   st_transport_set_reading (StTransport *t, bool reading);

/* On the transport's loop, outside its reads (an invoke): reads what has
 * arrived and hands it to the connection now, not at the next epoll
 * event. Does nothing when the connection does not read (flow control). */
void   st_transport_read_now   (StTransport *t);

StLoop *st_transport_get_loop  (StTransport *t);

/* ---- Loops ------------------------------------------------------------ */

typedef void (*StLoopFunc) (void *data);

/* Runs func (data) on loop's thread. From another thread the call goes
 * through the loop's inbox (batched, one eventfd wakeup for many calls);
 * from the loop's own thread it runs at the end of the current iteration,
 * before output is flushed. Calls from one thread run in the order made. */
void    st_loop_invoke     (StLoop *loop, StLoopFunc func, void *data);

bool    st_loop_is_current (StLoop *loop);
guint   st_loop_index      (StLoop *loop);   /* 0 .. threads-1 */

/* Monotonic time in milliseconds, read once per loop iteration. */
gint64  st_loop_now_ms     (StLoop *loop);
