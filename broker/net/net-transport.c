/* net-transport.c — a client connection: reading, the output queue,
 * flushing and closing.
 *
 * Input: every read lands in the loop's shared read buffer; the engine is
 * given it directly and only an unconsumed tail (a partial packet) is
 * copied into the transport's own buffer, so an idle connection holds no
 * read buffer.
 *
 * Output: st_transport_send copies into obuf, st_transport_send_bytes keeps
 * a reference; both become segments, written with one writev at the end of
 * the iteration (over TLS: encrypted into tls_out, one write). EPOLLOUT is
 * armed only when a write comes up short and disarmed when the queue
 * empties.
 *
 * st_conn_closed is called exactly once per accepted transport: when the
 * peer goes (EOF, error, hangup), when a close finished flushing (or gave
 * up after NET_CLOSE_LINGER_MS), or at stop. Never from inside an engine
 * call for that transport; the memory goes at the end of the iteration.
 */
#define G_LOG_DOMAIN "starling-net"

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/net-private.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

static void
format_peer (StConnInfo *info)
{
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;

  if (info->peer.ss_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) &info->peer;
      inet_ntop (AF_INET, &sin->sin_addr, host, sizeof host);
      port = ntohs (sin->sin_port);
      g_snprintf (info->peer_str, sizeof info->peer_str, "%s:%u", host, port);
    }
  else if (info->peer.ss_family == AF_INET6)
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &info->peer;
      inet_ntop (AF_INET6, &sin6->sin6_addr, host, sizeof host);
      port = ntohs (sin6->sin6_port);
      g_snprintf (info->peer_str, sizeof info->peer_str, "[%s]:%u", host, port);
    }
  else
    g_strlcpy (info->peer_str, "?", sizeof info->peer_str);
}

StTransport *
net_transport_new (StLoop *loop, StListenerKind kind, int fd,
                   const struct sockaddr_storage *peer, socklen_t peer_len)
{
  StTransport *t = g_new0 (StTransport, 1);
  int one = 1;

  t->tag = NET_TAG_TRANSPORT;
  t->loop = loop;
  t->fd = fd;
  t->reading = true;
  t->info.kind = kind;
  memcpy (&t->info.peer, peer, MIN ((size_t) peer_len, sizeof t->info.peer));
  t->info.peer_len = peer_len;
  format_peer (&t->info);

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  t->next = loop->transports;
  if (loop->transports)
    loop->transports->prev = t;
  loop->transports = t;
  loop->n_transports++;

  t->events = EPOLLIN;
  struct epoll_event ev = { .events = t->events, .data.ptr = t };
  if (epoll_ctl (loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      g_warning ("epoll_ctl ADD: %s", g_strerror (errno));
      net_transport_abort (t, "epoll");
      return NULL;
    }

  if (net_kind_is_ws (kind))
    t->ws = net_ws_new ();

  if (net_kind_is_tls (kind))
    {
      t->ssl = net_tls_new_ssl (loop->net, t);
      if (t->ssl == NULL)
        {
          net_transport_abort (t, "no TLS context");
          return NULL;
        }
      t->state = NET_T_TLS_HANDSHAKE;
      net_loop_timed_add (loop, t, loop->now + NET_HANDSHAKE_MS);
    }
  else if (t->ws)
    {
      t->state = NET_T_WS_HANDSHAKE;
      net_loop_timed_add (loop, t, loop->now + NET_HANDSHAKE_MS);
    }
  else
    {
      t->state = NET_T_OPEN;
      net_transport_start_engine (t);
    }
  g_debug ("%s: accepted on %s (loop %u)", t->info.peer_str, st_listener_kind_name (kind), loop->index);
  return t;
}

void
net_transport_start_engine (StTransport *t)
{
  net_loop_timed_remove (t->loop, t);
  t->state = NET_T_OPEN;
  t->info.sni = t->sni;
  t->conn = st_engine_accept (t->loop->net->engine, t, &t->info);
  if (t->conn == NULL)
    {
      net_transport_begin_close (t);
      return;
    }
  t->engine_live = true;
}

void
net_transport_free (StTransport *t)
{
  g_assert (t->state == NET_T_DEAD);
  for (size_t i = t->head; i < t->n_segs; i++)
    if (t->segs[i].bytes)
      st_bytes_unref (t->segs[i].bytes);
  g_free (t->segs);
  st_buf_clear (&t->obuf);
  st_buf_clear (&t->in);
  st_buf_clear (&t->tls_out);
  if (t->ssl)
    SSL_free (t->ssl);
  net_ws_free (t->ws);
  g_free (t->sni);
  g_free (t);
}

/* ---- Output queue ----------------------------------------------------- */

static NetSeg *
seg_push (StTransport *t)
{
  if (t->n_segs == t->cap_segs)
    {
      t->cap_segs = t->cap_segs ? t->cap_segs * 2 : 8;
      t->segs = g_renew (NetSeg, t->segs, t->cap_segs);
    }
  return &t->segs[t->n_segs++];
}

static void
out_append_copy (StTransport *t, const void *data, size_t len, bool sealed)
{
  if (len == 0)
    return;

  NetSeg *last = t->n_segs > t->head ? &t->segs[t->n_segs - 1] : NULL;
  bool can_merge = last && last->bytes == NULL && last->off + last->len == t->obuf.len
                   && (!t->ws || (!sealed && t->unframed > 0 && t->n_segs - 1 >= t->seal_seg));
  if (can_merge)
    last->len += len;
  else
    {
      NetSeg *s = seg_push (t);
      s->bytes = NULL;
      s->off = t->obuf.len;
      s->len = len;
    }
  st_buf_append (&t->obuf, data, len);
  t->pending += len;
  if (t->ws)
    {
      if (sealed)
        t->seal_seg = t->n_segs;
      else
        t->unframed += len;
    }
  net_loop_mark_dirty (t->loop, t);
}

void
net_out_append_raw (StTransport *t, const void *data, size_t len)
{
  out_append_copy (t, data, len, true);
}

/* Wire-ready bytes at the end of the queue (WebSocket framing done):
 * they may extend the last copied segment whatever it holds. */
static void
out_push_tail_copy (StTransport *t, size_t off, size_t len)
{
  NetSeg *last = t->n_segs > t->head ? &t->segs[t->n_segs - 1] : NULL;

  if (last && last->bytes == NULL && last->off + last->len == off)
    last->len += len;
  else
    {
      NetSeg *s = seg_push (t);
      s->bytes = NULL;
      s->off = off;
      s->len = len;
    }
  t->pending += len;
}

void
net_out_push_copy (StTransport *t, const void *data, size_t len)
{
  size_t off = t->obuf.len;

  st_buf_append (&t->obuf, data, len);
  out_push_tail_copy (t, off, len);
}

void
net_out_push_obuf (StTransport *t, size_t src_off, size_t len)
{
  /* Reserve first: the source is inside obuf, which may move. */
  st_buf_reserve (&t->obuf, len);
  size_t off = t->obuf.len;
  memcpy (t->obuf.data + off, t->obuf.data + src_off, len);
  t->obuf.len += len;
  out_push_tail_copy (t, off, len);
}

void
net_out_push_ref (StTransport *t, StBytes *bytes, size_t off, size_t len)
{
  NetSeg *s = seg_push (t);

  s->bytes = st_bytes_ref (bytes);
  s->off = off;
  s->len = len;
  t->pending += len;
}

static void
out_consume (StTransport *t, size_t n)
{
  t->pending -= n;
  while (n > 0)
    {
      NetSeg *s = &t->segs[t->head];
      size_t avail = s->len - t->head_off;
      if (n < avail)
        {
          t->head_off += n;
          break;
        }
      n -= avail;
      if (s->bytes)
        st_bytes_unref (s->bytes);
      t->head++;
      t->head_off = 0;
    }

  if (t->head == t->n_segs)
    {
      g_assert (t->pending == 0);
      t->head = t->n_segs = t->head_off = 0;
      t->seal_seg = 0;
      st_buf_reset (&t->obuf);
      /* Give back what a burst made us grow; keep the usual size. */
      if (t->obuf.cap > 256 * 1024)
        st_buf_clear (&t->obuf);
      if (t->cap_segs > 1024)
        {
          g_clear_pointer (&t->segs, g_free);
          t->cap_segs = 0;
        }
    }
  else if (t->head >= 64 && t->head * 2 >= t->n_segs)
    {
      memmove (t->segs, &t->segs[t->head], (t->n_segs - t->head) * sizeof (NetSeg));
      t->n_segs -= t->head;
      t->seal_seg -= MIN (t->seal_seg, t->head);
      t->head = 0;
    }
}

static inline const uint8_t *
seg_data (StTransport *t, const NetSeg *s)
{
  return s->bytes ? s->bytes->data + s->off : t->obuf.data + s->off;
}

/* Returns bytes written; sets *blocked when the socket is full. -1: dead. */
static ssize_t
write_plain (StTransport *t, bool *blocked)
{
  struct iovec iov[IOV_MAX];
  size_t total = 0;

  while (t->pending > 0)
    {
      int n_iov = 0;
      size_t want = 0;
      for (size_t i = t->head; i < t->n_segs && n_iov < IOV_MAX; i++)
        {
          const NetSeg *s = &t->segs[i];
          size_t skip = i == t->head ? t->head_off : 0;
          iov[n_iov].iov_base = (void *) (seg_data (t, s) + skip);
          iov[n_iov].iov_len = s->len - skip;
          want += iov[n_iov].iov_len;
          n_iov++;
        }
      /* writev rather than sendmsg: the same system call cost, and it is
       * counted in /proc/PID/io like mosquitto's writes (SIGPIPE is
       * blocked on loop threads, so a reset peer is a plain EPIPE). */
      ssize_t n = writev (t->fd, iov, n_iov);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN)
            {
              *blocked = true;
              return total;
            }
          g_debug ("%s: write: %s", t->info.peer_str, g_strerror (errno));
          return -1;
        }
      out_consume (t, n);
      total += n;
      /* A short write means the socket buffer is full: skip the EAGAIN. */
      if ((size_t) n < want)
        {
          *blocked = true;
          return total;
        }
    }
  return total;
}

static inline size_t
tls_backlog (StTransport *t)
{
  return t->tls_out.len - t->tls_out_off;
}

/* Everything queued, as the socket will see it. */
static inline size_t
wire_pending (StTransport *t)
{
  return t->pending + tls_backlog (t);
}

/* Writes the TLS records OpenSSL produced, in one write(2). */
static ssize_t
flush_tls_out (StTransport *t, bool *blocked)
{
  size_t total = 0;

  while (tls_backlog (t) > 0)
    {
      ssize_t n = write (t->fd, t->tls_out.data + t->tls_out_off, tls_backlog (t));
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN)
            {
              *blocked = true;
              return total;
            }
          g_debug ("%s: write: %s", t->info.peer_str, g_strerror (errno));
          return -1;
        }
      t->tls_out_off += n;
      total += n;
      if (tls_backlog (t) > 0)
        {
          *blocked = true;
          return total;
        }
    }
  t->tls_out_off = 0;
  st_buf_reset (&t->tls_out);
  if (t->tls_out.cap > 256 * 1024)
    st_buf_clear (&t->tls_out);
  return total;
}

static ssize_t
write_tls (StTransport *t, bool *blocked)
{
  uint8_t *chunk = t->loop->tls_chunk;

  while (t->pending > 0)
    {
      /* Coalesce small segments into one record; the write BIO takes
       * every record, so OpenSSL never asks for a retry here. */
      size_t len = 0;
      for (size_t i = t->head; i < t->n_segs && len < NET_TLS_CHUNK; i++)
        {
          const NetSeg *s = &t->segs[i];
          size_t skip = i == t->head ? t->head_off : 0;
          size_t n = MIN (s->len - skip, NET_TLS_CHUNK - len);
          memcpy (chunk + len, seg_data (t, s) + skip, n);
          len += n;
        }
      ssize_t n = net_tls_write (t, chunk, len);
      if (n <= 0)
        return -1;
      out_consume (t, n);
    }
  if (t->state == NET_T_CLOSING && !t->tls_shutdown)
    {
      /* close_notify right behind the last record. */
      t->tls_shutdown = true;
      ERR_clear_error ();
      SSL_shutdown (t->ssl);
    }
  return flush_tls_out (t, blocked);
}

static void
finish_close (StTransport *t)
{
  StLoop *loop = t->loop;

  /* FIN after the last byte, then read to EOF: closing with unread input
   * would send RST and could destroy what we just wrote. */
  shutdown (t->fd, SHUT_WR);
  t->state = NET_T_LINGER;
  t->out_armed = false;
  net_loop_set_events (loop, t, EPOLLIN);
  net_loop_timed_add (loop, t, loop->now + NET_DRAIN_LINGER_MS);
  if (t->engine_live)
    {
      t->engine_live = false;
      st_conn_closed (t->conn);
    }
}

void
net_transport_flush (StTransport *t)
{
  if (t->state == NET_T_DEAD || t->state == NET_T_LINGER)
    return;

  if (t->ws)
    net_ws_seal (t);
  if (t->ssl && t->state == NET_T_CLOSING && !t->tls_shutdown && wire_pending (t) == 0)
    {
      t->tls_shutdown = true;
      ERR_clear_error ();
      SSL_shutdown (t->ssl);
    }

  if (wire_pending (t) > 0 && (!t->out_armed || t->writable))
    {
      bool blocked = false;
      ssize_t n;
      if (t->state == NET_T_TLS_HANDSHAKE)
        n = flush_tls_out (t, &blocked);
      else
        n = t->ssl ? write_tls (t, &blocked) : write_plain (t, &blocked);
      t->writable = false;
      if (n < 0)
        {
          net_transport_abort (t, "write error");
          return;
        }
      if (blocked && !t->out_armed)
        {
          t->out_armed = true;
          net_transport_update_events (t);
        }
    }
  size_t left = wire_pending (t);
  if (left == 0 && t->out_armed)
    {
      t->out_armed = false;
      net_transport_update_events (t);
    }

  if (t->state == NET_T_CLOSING)
    {
      if (left == 0)
        finish_close (t);
      return;
    }

  /* See st_transport_pending: the engine saw drain_mark and waits. */
  if (t->drain_mark > 0 && (left == 0 || left < t->drain_mark / 2)
      && t->engine_live && t->state == NET_T_OPEN)
    {
      t->drain_mark = 0;
      st_conn_drained (t->conn);
    }
}

void
net_transport_update_events (StTransport *t)
{
  uint32_t ev = 0;

  switch (t->state)
    {
    case NET_T_TLS_HANDSHAKE:
    case NET_T_WS_HANDSHAKE:
    case NET_T_LINGER:
      ev = EPOLLIN;
      break;
    case NET_T_OPEN:
      ev = t->reading ? EPOLLIN : 0;
      break;
    case NET_T_CLOSING:
    case NET_T_DEAD:
      ev = 0;
      break;
    }
  if (t->out_armed)
    ev |= EPOLLOUT;
  net_loop_set_events (t->loop, t, ev);
}

/* ---- Closing ---------------------------------------------------------- */

void
net_transport_begin_close (StTransport *t)
{
  if (t->state >= NET_T_CLOSING)
    return;
  if (t->state == NET_T_TLS_HANDSHAKE)
    {
      net_transport_abort (t, "closed during TLS handshake");
      return;
    }
  if (t->ws && t->state == NET_T_OPEN)
    net_ws_send_close (t, 1000);
  t->state = NET_T_CLOSING;
  t->out_closed = true;
  net_loop_timed_add (t->loop, t, t->loop->now + NET_CLOSE_LINGER_MS);
  net_transport_update_events (t);
  net_loop_mark_dirty (t->loop, t);
}

void
net_transport_abort (StTransport *t, const char *why)
{
  StLoop *loop = t->loop;

  if (t->state == NET_T_DEAD)
    return;
  g_debug ("%s: closed (%s)", t->info.peer_str, why);
  t->state = NET_T_DEAD;
  t->out_closed = true;
  net_loop_timed_remove (loop, t);
  if (t->fd >= 0)
    {
      /* close() alone leaves the epoll registration alive while another
       * copy of the socket exists — a child forked by the embedding
       * process (the app spawning a program) holds one until its exec —
       * and epoll would then report events for this freed transport. */
      epoll_ctl (loop->epfd, EPOLL_CTL_DEL, t->fd, NULL);
      close (t->fd);
      t->fd = -1;
    }
  if (t->prev)
    t->prev->next = t->next;
  else
    loop->transports = t->next;
  if (t->next)
    t->next->prev = t->prev;
  t->prev = t->next = NULL;
  loop->n_transports--;

  /* Freed at the end of the iteration: the engine or the dirty and again
   * lists may still hold it until then. */
  t->in_grave = true;
  t->grave_next = loop->grave;
  loop->grave = t;

  if (t->engine_live)
    {
      t->engine_live = false;
      st_conn_closed (t->conn);
    }
}

void
net_transport_timeout (StTransport *t)
{
  switch (t->state)
    {
    case NET_T_TLS_HANDSHAKE:
    case NET_T_WS_HANDSHAKE:
      net_transport_abort (t, "handshake timeout");
      break;
    case NET_T_CLOSING:
      net_transport_abort (t, "flush timeout while closing");
      break;
    case NET_T_LINGER:
      net_transport_abort (t, "closed");
      break;
    default:
      net_loop_timed_remove (t->loop, t);
      break;
    }
}

/* ---- Input ------------------------------------------------------------ */

void
net_transport_deliver (StTransport *t, uint8_t *data, size_t len)
{
  if (len == 0 || t->state != NET_T_OPEN || !t->engine_live)
    return;

  if (t->in.len > 0)
    {
      st_buf_append (&t->in, data, len);
      data = t->in.data;
      len = t->in.len;
      size_t used = st_conn_input (t->conn, data, len);
      if (t->state != NET_T_OPEN)
        return;
      st_buf_consume (&t->in, used);
      if (t->in.len == 0 && t->in.cap > 64 * 1024)
        st_buf_clear (&t->in);
      return;
    }

  size_t used = st_conn_input (t->conn, data, len);
  if (t->state != NET_T_OPEN)
    return;
  g_assert (used <= len);
  if (used < len)
    st_buf_append (&t->in, data + used, len - used);
}

/* Hands len bytes freshly read from below TLS to the WebSocket or MQTT
 * layer. */
static void
process_input (StTransport *t, uint8_t *data, size_t len)
{
  if (t->state == NET_T_LINGER || t->state == NET_T_CLOSING)
    return;

  if (t->state == NET_T_WS_HANDSHAKE)
    {
      st_buf_append (&t->in, data, len);
      int r = net_ws_handshake (t);
      if (r <= 0)
        return;
      /* Frames that came with the request are now in t->in. */
      bool stop = false;
      size_t n = net_ws_decode (t, t->in.data, t->in.len, &stop);
      t->in.len = n;
      net_transport_start_engine (t);
      if (t->state == NET_T_OPEN && t->engine_live && t->in.len > 0)
        {
          size_t used = st_conn_input (t->conn, t->in.data, t->in.len);
          if (t->state == NET_T_OPEN)
            st_buf_consume (&t->in, used);
        }
      if (stop)
        net_transport_begin_close (t);
      return;
    }

  if (t->ws)
    {
      bool stop = false;
      len = net_ws_decode (t, data, len, &stop);
      net_transport_deliver (t, data, len);
      if (stop)
        net_transport_begin_close (t);
      return;
    }

  net_transport_deliver (t, data, len);
}

static ssize_t
io_read (StTransport *t, void *buf, size_t len)
{
  if (t->ssl)
    return net_tls_read (t, buf, len);
  for (;;)
    {
      ssize_t n = read (t->fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      return n;
    }
}

static bool
wants_input (StTransport *t)
{
  switch (t->state)
    {
    case NET_T_OPEN:
      return t->reading;
    case NET_T_WS_HANDSHAKE:
      return true;
    default:
      return false;
    }
}

static void
linger_read (StTransport *t)
{
  uint8_t *buf = t->loop->rbuf;

  for (;;)
    {
      ssize_t n = read (t->fd, buf, NET_READ_BUF);
      if (n > 0)
        continue;
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      net_transport_abort (t, "closed");
      return;
    }
}

static void transport_read (StTransport *t);

void
net_transport_read (StTransport *t)
{
  transport_read (t);
  /* Handshake flights, session tickets, alerts: OpenSSL wrote them to
   * tls_out while reading; they leave with the iteration's flush. */
  if (t->ssl && t->state != NET_T_DEAD && tls_backlog (t) > 0)
    net_loop_mark_dirty (t->loop, t);
}

static void
transport_read (StTransport *t)
{
  StLoop *loop = t->loop;
  uint8_t *buf = loop->rbuf;
  size_t total = 0;

  if (t->state == NET_T_TLS_HANDSHAKE)
    {
      int r = net_tls_handshake (t);
      if (r < 0)
        {
          /* Let the alert out if the socket takes it, then go. */
          bool blocked;
          flush_tls_out (t, &blocked);
          net_transport_abort (t, "TLS handshake failed");
          return;
        }
      if (r == 0)
        return;
      if (t->ws)
        t->state = NET_T_WS_HANDSHAKE;
      else
        net_transport_start_engine (t);
    }
  if (t->state == NET_T_LINGER)
    {
      linger_read (t);
      return;
    }

  /* Input the engine left for later when it paused (flow control). */
  if (t->redeliver && t->state == NET_T_OPEN && t->reading && t->in.len > 0 && t->engine_live)
    {
      t->redeliver = false;
      size_t used = st_conn_input (t->conn, t->in.data, t->in.len);
      if (t->state == NET_T_OPEN)
        st_buf_consume (&t->in, used);
    }

  while (wants_input (t) && total < NET_READ_CAP)
    {
      size_t filled = 0;
      bool eof = false, failed = false, drained = false;

      while (filled < NET_READ_BUF)
        {
          ssize_t n = io_read (t, buf + filled, NET_READ_BUF - filled);
          if (n > 0)
            {
              bool short_read = (size_t) n < NET_READ_BUF - filled;
              filled += n;
              /* A short read from a plain socket means it is empty: save
               * the read that would say EAGAIN; level-triggered epoll
               * reports anything that arrives meanwhile. */
              if (short_read && !t->ssl)
                {
                  drained = true;
                  break;
                }
              continue;
            }
          if (n == 0)
            eof = true;
          else if (errno == EAGAIN)
            drained = true;
          else
            {
              g_debug ("%s: read: %s", t->info.peer_str, g_strerror (errno));
              failed = true;
            }
          break;
        }

      total += filled;
      if (filled > 0)
        process_input (t, buf, filled);
      if (eof && t->state == NET_T_OPEN && wire_pending (t) > 0)
        {
          /* A half-close after a request: the answer still goes out. */
          net_transport_begin_close (t);
          return;
        }
      if (eof && t->state == NET_T_CLOSING)
        return;   /* closing already (a WebSocket close frame, say): its output still goes */
      if (eof || failed)
        {
          net_transport_abort (t, eof ? "peer closed" : "read error");
          return;
        }
      if (drained)
        break;
    }

  if (wants_input (t) && (total >= NET_READ_CAP || (t->ssl && SSL_has_pending (t->ssl))))
    net_loop_mark_again (loop, t);
}

void
net_transport_on_event (StTransport *t, uint32_t events)
{
  if (t->state == NET_T_DEAD)
    return;

  if (events & EPOLLOUT)
    {
      t->writable = true;
      net_loop_mark_dirty (t->loop, t);
    }

  if (events & (EPOLLERR | EPOLLHUP))
    {
      /* Level-triggered and not maskable: read what is left if the engine
       * wants it, otherwise the connection is gone. */
      if (wants_input (t) || t->state == NET_T_TLS_HANDSHAKE || t->state == NET_T_LINGER)
        net_transport_read (t);
      if (t->state != NET_T_DEAD)
        net_transport_abort (t, "hangup");
      return;
    }

  if (events & EPOLLIN)
    net_transport_read (t);
}

/* ---- Public transport API --------------------------------------------- */

void
st_transport_send (StTransport *t, const void *data, size_t len)
{
  if (t->out_closed || len == 0)
    return;
  out_append_copy (t, data, len, false);
}

void
st_transport_send_bytes (StTransport *t, StBytes *bytes, size_t offset, size_t len)
{
  g_return_if_fail (offset + len <= bytes->len);

  if (t->out_closed || len == 0)
    return;
  if (len <= NET_COPY_MAX)
    {
      out_append_copy (t, bytes->data + offset, len, false);
      return;
    }
  NetSeg *s = seg_push (t);
  s->bytes = st_bytes_ref (bytes);
  s->off = offset;
  s->len = len;
  t->pending += len;
  if (t->ws)
    t->unframed += len;
  net_loop_mark_dirty (t->loop, t);
}

size_t
st_transport_pending (StTransport *t)
{
  size_t n = wire_pending (t);

  /* The engine asks before deciding to hold back; remember the highest
   * value it saw so that st_conn_drained comes once it halved. */
  if (n > t->drain_mark)
    t->drain_mark = n;
  return n;
}

void
st_transport_close (StTransport *t)
{
  net_transport_begin_close (t);
}

void
st_transport_set_reading (StTransport *t, bool reading)
{
  if (t->reading == reading)
    return;
  t->reading = reading;
  if (t->state != NET_T_OPEN)
    return;
  net_transport_update_events (t);
  /* Buffered input (ours or OpenSSL's) is not announced by epoll. */
  if (reading && (t->in.len > 0 || t->ssl))
    {
      t->redeliver = t->in.len > 0;
      net_loop_mark_again (t->loop, t);
    }
}

void
st_transport_read_now (StTransport *t)
{
  if (t->state == NET_T_OPEN && wants_input (t))
    net_transport_read (t);
}

StLoop *
st_transport_get_loop (StTransport *t)
{
  return t->loop;
}
