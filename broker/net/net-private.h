/* net-private.h — the network layer's internals, shared by the files of broker/net.
 *
 * Layering of a transport, bottom up: socket -> TLS (net-tls.c) ->
 * WebSocket framing (net-ws.c) -> the MQTT byte stream the engine sees.
 * Everything here runs on the transport's loop thread unless noted.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#include "core/st-engine.h"
#include "net/net-server.h"
#include "net/net-transport.h"
#include "util/st-buf.h"
#include "util/st-bytes.h"

/* What an epoll data.ptr points at: every such struct starts with this. */
typedef enum {
  NET_TAG_LISTENER = 0x4c53,
  NET_TAG_TRANSPORT,
  NET_TAG_EVENTFD,
} NetTag;

#define NET_TICK_MS             100
#define NET_HANDSHAKE_MS        10000  /* TLS + WebSocket upgrade must finish within */
#define NET_CLOSE_LINGER_MS     5000   /* flush of a closing transport gives up after */
#define NET_DRAIN_LINGER_MS     2000   /* reading to EOF after our FIN gives up after */
#define NET_STOP_FLUSH_MS       1000
#define NET_ACCEPT_BACKOFF_MS   100
#define NET_ACCEPT_BATCH        256
#define NET_READ_BUF            (128 * 1024)   /* per loop, reused by every read */
#define NET_READ_CAP            (1024 * 1024)  /* per transport and wakeup, for fairness */
#define NET_COPY_MAX            512    /* st_transport_send_bytes copies ranges up to this */
#define NET_TLS_CHUNK           16384  /* one TLS record */
#define NET_WS_MAX_HEADER       8192
#define NET_MAX_EVENTS          256

typedef struct _NetListener NetListener;
typedef struct _NetWs       NetWs;

struct _NetListener {
  NetTag          tag;
  StLoop         *loop;
  StListenerKind  kind;
  int             fd;
  bool            paused;      /* out of epoll after EMFILE/ENFILE */
  gint64          resume_at;
};

typedef struct {
  StLoopFunc func;
  void      *data;
} NetInvoke;

/* One range of queued output: copied bytes live in StTransport.obuf (off is
 * an offset there, because obuf may move), shared ones in an StBytes. */
typedef struct {
  StBytes *bytes;
  size_t   off;
  size_t   len;
} NetSeg;

typedef enum {
  NET_T_TLS_HANDSHAKE,
  NET_T_WS_HANDSHAKE,
  NET_T_OPEN,
  NET_T_CLOSING,   /* flushing queued output before FIN */
  NET_T_LINGER,    /* FIN sent, engine told; reading to EOF so close() does not RST */
  NET_T_DEAD,      /* fd closed, freed at the end of the iteration */
} NetTState;

struct _StTransport {
  NetTag          tag;
  StLoop         *loop;
  int             fd;
  NetTState       state;
  StConnInfo      info;
  char           *sni;
  StConn         *conn;
  bool            engine_live;  /* st_conn_closed not yet called */
  bool            reading;      /* engine wants input */
  bool            out_armed;    /* EPOLLOUT in the interest set */
  bool            writable;     /* EPOLLOUT fired since the last flush */
  bool            out_closed;   /* output after close is dropped */
  bool            redeliver;    /* t->in waits for st_conn_input after a pause */
  bool            in_dirty, in_again, in_grave;
  uint32_t        events;       /* current epoll interest */
  SSL            *ssl;
  NetWs          *ws;

  StBuf           in;           /* unconsumed MQTT bytes (the HTTP request during the upgrade) */

  StBuf           tls_out;      /* TLS records OpenSSL wrote, not yet on the socket */
  size_t          tls_out_off;  /* how much of tls_out is already written */
  bool            tls_shutdown; /* close_notify queued */

  StBuf           obuf;         /* copied output bytes */
  NetSeg         *segs;
  size_t          n_segs, cap_segs, head, head_off;
  size_t          pending;      /* bytes queued, as they go on the wire */
  size_t          seal_seg;     /* WebSocket: first segment not yet inside a frame */
  size_t          unframed;     /* WebSocket: bytes from seal_seg on */
  size_t          drain_mark;   /* highest pending the engine saw; 0 = not waiting */

  gint64          deadline;     /* handshake, close or linger; 0 = none */

  StTransport    *prev, *next;          /* loop->transports */
  StTransport    *tprev, *tnext;        /* loop->timed */
  StTransport    *dirty_next, *again_next, *grave_next;
};

struct _StLoop {
  StNet          *net;
  guint           index;
  int             epfd;
  struct {
    NetTag tag;
    int    fd;
  }               wake;
  GThread        *thread;
  GThread        *self;
  gint64          now;
  gint64          next_tick;

  GMutex          inbox_lock;
  GArray         *inbox;        /* NetInvoke, from other threads */
  GArray         *inbox_run;
  GArray         *local;        /* NetInvoke, from this thread */

  NetListener     listeners[ST_N_LISTENER_KINDS];

  StTransport    *transports;
  guint           n_transports;
  StTransport    *timed;
  StTransport    *dirty, *again, *grave;

  uint8_t        *rbuf;
  uint8_t        *tls_chunk;
  NetSeg         *ws_segs;      /* WebSocket framing scratch */
  size_t          ws_segs_cap;

  bool            stopping;
  gint64          stop_deadline;
  bool            done;
  gint64          last_accept_warning;
};

typedef struct {
  GMutex     lock;         /* held only to read or swap ctx and ns_certs */
  SSL_CTX   *ctx;
  char      *cert_file;
  char      *key_file;
  char      *ca_file;      /* only when generated */
  char      *dir;          /* data_dir/tls when generated */
  char      *public_host;  /* lowercase */
  BIO_METHOD *out_method;  /* the write BIO that fills StTransport.tls_out */

  /* Per-namespace certificates (generated mode only).  Writers (control
   * work; the SNI callback on the I/O threads only takes lock to look a
   * name up in ns_certs, a table never changed once published. */
  GMutex      gen_lock;
  X509       *ca;          /* the local CA, kept to sign namespace certificates */
  EVP_PKEY   *ca_key;
  char       *ns_dir;      /* data_dir/tls/namespaces */
  GHashTable *ns_certs;    /* namespace name → certificate and key (net-tls.c); NULL = none */
} NetTls;

struct _StNet {
  StEngine      *engine;
  guint          n_loops;
  StLoop       **loops;
  char          *listen[ST_N_LISTENER_KINDS];
  char          *bound_host[ST_N_LISTENER_KINDS];
  guint16        bound_port[ST_N_LISTENER_KINDS];
  bool           have_tls;
  NetTls         tls;
  bool           started;
  bool           stopped;
};

static inline bool
net_kind_is_tls (StListenerKind kind)
{
  return kind == ST_LISTENER_MQTTS || kind == ST_LISTENER_WSS;
}

static inline bool
net_kind_is_ws (StListenerKind kind)
{
  return kind == ST_LISTENER_WS || kind == ST_LISTENER_WSS;
}

/* net-loop.c */
StLoop  *net_loop_new            (StNet *net, guint index, GError **error);
void     net_loop_free           (StLoop *loop);
gboolean net_loop_start          (StLoop *loop, GError **error);
void     net_loop_request_stop   (StLoop *loop);
void     net_loop_join           (StLoop *loop);
bool     net_loop_drain_orphans  (StLoop *loop);
void     net_loop_mark_dirty     (StLoop *loop, StTransport *t);
void     net_loop_mark_again     (StLoop *loop, StTransport *t);
void     net_loop_timed_add      (StLoop *loop, StTransport *t, gint64 deadline);
void     net_loop_timed_remove   (StLoop *loop, StTransport *t);
void     net_loop_set_events     (StLoop *loop, StTransport *t, uint32_t events);

/* net-transport.c */
StTransport *net_transport_new   (StLoop *loop, StListenerKind kind, int fd,
                                  const struct sockaddr_storage *peer, socklen_t peer_len);
void     net_transport_on_event  (StTransport *t, uint32_t events);
void     net_transport_read      (StTransport *t);
void     net_transport_flush     (StTransport *t);
void     net_transport_update_events (StTransport *t);
void     net_transport_begin_close (StTransport *t);
void     net_transport_abort     (StTransport *t, const char *why);
void     net_transport_timeout   (StTransport *t);
void     net_transport_free      (StTransport *t);
void     net_transport_start_engine (StTransport *t);
void     net_transport_deliver   (StTransport *t, uint8_t *data, size_t len);
void     net_out_append_raw      (StTransport *t, const void *data, size_t len);
void     net_out_push_copy       (StTransport *t, const void *data, size_t len);
void     net_out_push_obuf       (StTransport *t, size_t src_off, size_t len);
void     net_out_push_ref        (StTransport *t, StBytes *bytes, size_t off, size_t len);

/* net-tls.c */
gboolean net_tls_init            (StNet *net, const StNetConfig *config, const char *listener, GError **error);
void     net_tls_clear           (NetTls *tls);
gboolean net_tls_reload          (StNet *net, GError **error);
/* Namespace certificates: generate or load on the calling thread (never an
 * I/O thread), then publish. */
gboolean net_tls_set_namespaces  (StNet *net, const char *const *names, GError **error);
gboolean net_tls_add_namespace   (StNet *net, const char *name, GError **error);
void     net_tls_remove_namespace (StNet *net, const char *name);
SSL     *net_tls_new_ssl         (StNet *net, StTransport *t);
/* Like read(2): -1 with errno EAGAIN when OpenSSL wants more input. */
ssize_t  net_tls_read            (StTransport *t, void *buf, size_t len);
/* Encrypts into t->tls_out (never blocks); -1 on a TLS error. */
ssize_t  net_tls_write           (StTransport *t, const void *buf, size_t len);
int      net_tls_handshake       (StTransport *t); /* 1 done, 0 again, -1 failed */
void     net_tls_error_string    (char *buf, size_t len);

/* net-ws.c */
NetWs   *net_ws_new              (void);
void     net_ws_free             (NetWs *ws);
/* Takes the HTTP request in t->in; returns 1 when upgraded (t->in then
 * holds the bytes that followed the request), 0 when more is needed, -1
 * when refused (a response is queued and the transport is closing). */
int      net_ws_handshake        (StTransport *t);
/* Decodes frames in place: returns the MQTT bytes now at the start of buf.
 * Sets *stop when the transport must not deliver beyond them (close). */
size_t   net_ws_decode           (StTransport *t, uint8_t *buf, size_t len, bool *stop);
/* Puts the output queued since the last seal into binary frames, one per
 * MQTT packet. */
void     net_ws_seal             (StTransport *t);
void     net_ws_send_close       (StTransport *t, uint16_t code);
