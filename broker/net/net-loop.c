/* net-loop.c — one epoll loop per I/O thread.
 *
 * An iteration: epoll_wait, accept everything pending, read every readable
 * transport (and those left with more to read), tick the engine every
 * NET_TICK_MS, run the queued invokes, flush every transport with new
 * output (one writev each), free what died.
 */
#define G_LOG_DOMAIN "starling-net"

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net-private.h"

static gint64
monotonic_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

StLoop *
net_loop_new (StNet *net, guint index, GError **error)
{
  StLoop *loop = g_new0 (StLoop, 1);

  loop->net = net;
  loop->index = index;
  loop->wake.tag = NET_TAG_EVENTFD;
  loop->wake.fd = -1;
  g_mutex_init (&loop->inbox_lock);
  loop->inbox = g_array_new (FALSE, FALSE, sizeof (NetInvoke));
  loop->inbox_run = g_array_new (FALSE, FALSE, sizeof (NetInvoke));
  loop->local = g_array_new (FALSE, FALSE, sizeof (NetInvoke));
  for (guint k = 0; k < ST_N_LISTENER_KINDS; k++)
    {
      loop->listeners[k].tag = NET_TAG_LISTENER;
      loop->listeners[k].loop = loop;
      loop->listeners[k].kind = k;
      loop->listeners[k].fd = -1;
    }

  loop->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (loop->epfd < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "epoll_create1: %s", g_strerror (e));
      net_loop_free (loop);
      return NULL;
    }
  loop->wake.fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (loop->wake.fd < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "eventfd: %s", g_strerror (e));
      net_loop_free (loop);
      return NULL;
    }
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &loop->wake };
  epoll_ctl (loop->epfd, EPOLL_CTL_ADD, loop->wake.fd, &ev);

  loop->rbuf = g_malloc (NET_READ_BUF);
  loop->tls_chunk = g_malloc (NET_TLS_CHUNK);
  loop->now = monotonic_ms ();
  return loop;
}

void
net_loop_free (StLoop *loop)
{
  if (loop == NULL)
    return;
  g_assert (loop->thread == NULL);
  for (guint k = 0; k < ST_N_LISTENER_KINDS; k++)
    if (loop->listeners[k].fd >= 0)
      close (loop->listeners[k].fd);
  /* Transports survive only when the loop never ran. */
  while (loop->transports)
    {
      StTransport *t = loop->transports;
      net_transport_abort (t, "freed");
    }
  while (loop->grave)
    {
      StTransport *t = loop->grave;
      loop->grave = t->grave_next;
      net_transport_free (t);
    }
  if (loop->wake.fd >= 0)
    close (loop->wake.fd);
  if (loop->epfd >= 0)
    close (loop->epfd);
  g_array_unref (loop->inbox);
  g_array_unref (loop->inbox_run);
  g_array_unref (loop->local);
  g_mutex_clear (&loop->inbox_lock);
  g_free (loop->rbuf);
  g_free (loop->tls_chunk);
  g_free (loop->ws_segs);
  g_free (loop);
}

/* ---- Public loop API -------------------------------------------------- */

bool
st_loop_is_current (StLoop *loop)
{
  return g_atomic_pointer_get (&loop->self) == (gpointer) g_thread_self ();
}

guint
st_loop_index (StLoop *loop)
{
  return loop->index;
}

gint64
st_loop_now_ms (StLoop *loop)
{
  return loop->now;
}

void
st_loop_invoke (StLoop *loop, StLoopFunc func, void *data)
{
  NetInvoke inv = { func, data };

  if (st_loop_is_current (loop))
    {
      g_array_append_val (loop->local, inv);
      return;
    }

  g_mutex_lock (&loop->inbox_lock);
  bool was_empty = loop->inbox->len == 0;
  g_array_append_val (loop->inbox, inv);
  g_mutex_unlock (&loop->inbox_lock);

  /* One wakeup per batch: the loop drains the whole inbox each iteration. */
  if (was_empty)
    {
      uint64_t one = 1;
      while (write (loop->wake.fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    }
}

/* ---- Lists ------------------------------------------------------------ */

void
net_loop_mark_dirty (StLoop *loop, StTransport *t)
{
  if (t->in_dirty)
    return;
  t->in_dirty = true;
  t->dirty_next = loop->dirty;
  loop->dirty = t;
}

void
net_loop_mark_again (StLoop *loop, StTransport *t)
{
  if (t->in_again)
    return;
  t->in_again = true;
  t->again_next = loop->again;
  loop->again = t;
}

void
net_loop_timed_add (StLoop *loop, StTransport *t, gint64 deadline)
{
  if (t->deadline == 0)
    {
      t->tprev = NULL;
      t->tnext = loop->timed;
      if (loop->timed)
        loop->timed->tprev = t;
      loop->timed = t;
    }
  t->deadline = deadline;
}

void
net_loop_timed_remove (StLoop *loop, StTransport *t)
{
  if (t->deadline == 0)
    return;
  if (t->tprev)
    t->tprev->tnext = t->tnext;
  else
    loop->timed = t->tnext;
  if (t->tnext)
    t->tnext->tprev = t->tprev;
  t->tprev = t->tnext = NULL;
  t->deadline = 0;
}

void
net_loop_set_events (StLoop *loop, StTransport *t, uint32_t events)
{
  if (events == t->events || t->fd < 0)
    return;
  struct epoll_event ev = { .events = events, .data.ptr = t };
  if (epoll_ctl (loop->epfd, EPOLL_CTL_MOD, t->fd, &ev) < 0)
    g_debug ("epoll_ctl MOD %s: %s", t->info.peer_str, g_strerror (errno));
  t->events = events;
}

/* ---- Accept ----------------------------------------------------------- */

static void
listener_pause (NetListener *l)
{
  StLoop *loop = l->loop;

  epoll_ctl (loop->epfd, EPOLL_CTL_DEL, l->fd, NULL);
  l->paused = true;
  l->resume_at = loop->now + NET_ACCEPT_BACKOFF_MS;
}

static void
listener_resume (NetListener *l)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };

  epoll_ctl (l->loop->epfd, EPOLL_CTL_ADD, l->fd, &ev);
  l->paused = false;
}

static void
listener_accept (NetListener *l)
{
  StLoop *loop = l->loop;

  for (guint i = 0; i < NET_ACCEPT_BATCH && !loop->stopping; i++)
    {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      int fd = accept4 (l->fd, (struct sockaddr *) &ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (fd >= 0)
        {
          net_transport_new (loop, l->kind, fd, &ss, sl);
          continue;
        }
      switch (errno)
        {
        case EAGAIN:
          return;
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
          continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
          /* The pending connection stays in the backlog, so a level-triggered
           * listener would wake us again at once: take it out of epoll. */
          if (loop->now - loop->last_accept_warning >= 10000)
            {
              g_warning ("%s listener: accept: %s; pausing accepts for %d ms",
                         st_listener_kind_name (l->kind), g_strerror (errno), NET_ACCEPT_BACKOFF_MS);
              loop->last_accept_warning = loop->now;
            }
          listener_pause (l);
          return;
        default:
          g_warning ("%s listener: accept: %s", st_listener_kind_name (l->kind), g_strerror (errno));
          return;
        }
    }
}

/* ---- The iteration ---------------------------------------------------- */

static void
run_invokes (StLoop *loop)
{
  g_mutex_lock (&loop->inbox_lock);
  GArray *batch = loop->inbox;
  loop->inbox = loop->inbox_run;
  loop->inbox_run = batch;
  g_mutex_unlock (&loop->inbox_lock);

  for (guint i = 0; i < batch->len; i++)
    {
      NetInvoke inv = g_array_index (batch, NetInvoke, i);
      inv.func (inv.data);
    }
  g_array_set_size (batch, 0);

  /* Invokes made by invokes run in this same pass (len is re-read). */
  for (guint i = 0; i < loop->local->len; i++)
    {
      NetInvoke inv = g_array_index (loop->local, NetInvoke, i);
      inv.func (inv.data);
    }
  g_array_set_size (loop->local, 0);
}

static void
flush_dirty (StLoop *loop)
{
  /* A snapshot: transports dirtied while flushing (st_conn_drained,
   * st_conn_closed) wait for the next iteration, which does not sleep. */
  StTransport *list = loop->dirty;

  loop->dirty = NULL;
  while (list)
    {
      StTransport *t = list;
      list = t->dirty_next;
      t->dirty_next = NULL;
      t->in_dirty = false;
      net_transport_flush (t);
    }
}

static void
read_again (StLoop *loop)
{
  StTransport *list = loop->again;

  loop->again = NULL;
  while (list)
    {
      StTransport *t = list;
      list = t->again_next;
      t->again_next = NULL;
      t->in_again = false;
      net_transport_read (t);
    }
}

static void
free_graves (StLoop *loop)
{
  StTransport *keep = NULL;

  while (loop->grave)
    {
      StTransport *t = loop->grave;
      loop->grave = t->grave_next;
      /* Still on a list for the next iteration (it died after being
       * queued there): that pass skips it, then it goes. */
      if (t->in_dirty || t->in_again)
        {
          t->grave_next = keep;
          keep = t;
          continue;
        }
      net_transport_free (t);
    }
  loop->grave = keep;
}

static void
check_timers (StLoop *loop)
{
  for (guint k = 0; k < ST_N_LISTENER_KINDS; k++)
    {
      NetListener *l = &loop->listeners[k];
      if (l->fd >= 0 && l->paused && !loop->stopping && loop->now >= l->resume_at)
        listener_resume (l);
    }

  StTransport *t = loop->timed;
  while (t)
    {
      StTransport *next = t->tnext;
      if (loop->now >= t->deadline)
        net_transport_timeout (t);
      t = next;
    }
}

static void
stop_on_loop (void *data)
{
  StLoop *loop = data;

  if (loop->stopping)
    return;
  loop->stopping = true;
  loop->stop_deadline = loop->now + NET_STOP_FLUSH_MS;

  for (guint k = 0; k < ST_N_LISTENER_KINDS; k++)
    {
      NetListener *l = &loop->listeners[k];
      if (l->fd < 0)
        continue;
      if (!l->paused)
        epoll_ctl (loop->epfd, EPOLL_CTL_DEL, l->fd, NULL);
      close (l->fd);
      l->fd = -1;
    }

  StTransport *t = loop->transports;
  while (t)
    {
      StTransport *next = t->next;
      if (t->state == NET_T_OPEN && t->engine_live)
        {
          st_conn_shutdown (t->conn);
          /* In case the engine did not close it itself. */
          net_transport_begin_close (t);
        }
      else if (t->state < NET_T_OPEN)
        net_transport_abort (t, "server stopping");
      t = next;
    }
}

static void
loop_iterate (StLoop *loop)
{
  struct epoll_event events[NET_MAX_EVENTS];
  int timeout;

  if (loop->dirty || loop->again || loop->local->len > 0)
    timeout = 0;
  else
    timeout = (int) CLAMP (loop->next_tick - loop->now, 0, NET_TICK_MS);
  if (loop->stopping)
    timeout = MIN (timeout, 10);

  int n = epoll_wait (loop->epfd, events, NET_MAX_EVENTS, timeout);
  if (n < 0 && errno != EINTR)
    g_error ("epoll_wait: %s", g_strerror (errno));
  loop->now = monotonic_ms ();

  for (int i = 0; i < n; i++)
    {
      NetTag *tag = events[i].data.ptr;
      switch (*tag)
        {
        case NET_TAG_LISTENER:
          listener_accept ((NetListener *) tag);
          break;
        case NET_TAG_TRANSPORT:
          net_transport_on_event ((StTransport *) tag, events[i].events);
          break;
        case NET_TAG_EVENTFD:
          {
            uint64_t v;
            while (read (loop->wake.fd, &v, sizeof v) < 0 && errno == EINTR)
              ;
          }
          break;
        default:
          g_assert_not_reached ();
        }
    }

  read_again (loop);

  if (loop->now >= loop->next_tick)
    {
      loop->next_tick = loop->now + NET_TICK_MS;
      st_engine_tick (loop->net->engine, loop, loop->now);
      check_timers (loop);
    }

  run_invokes (loop);
  flush_dirty (loop);
  free_graves (loop);
}

/* Lingering transports (FIN sent, engine told) do not hold up a stop. */
static bool
has_busy_transports (StLoop *loop)
{
  for (StTransport *t = loop->transports; t; t = t->next)
    if (t->state < NET_T_LINGER)
      return true;
  return false;
}

static gpointer
loop_thread (gpointer data)
{
  StLoop *loop = data;
  sigset_t all;

  /* Signals belong to the main thread; a blocked SIGPIPE also turns a write
   * to a reset socket (OpenSSL's socket BIO) into a plain EPIPE. */
  sigfillset (&all);
  static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT };
  for (guint i = 0; i < G_N_ELEMENTS (faults); i++)
    sigdelset (&all, faults[i]);
  pthread_sigmask (SIG_BLOCK, &all, NULL);

  g_atomic_pointer_set (&loop->self, g_thread_self ());
  loop->now = monotonic_ms ();
  loop->next_tick = loop->now;

  while (!loop->done)
    {
      loop_iterate (loop);
      if (loop->stopping && (!has_busy_transports (loop) || loop->now >= loop->stop_deadline))
        loop->done = true;
    }

  /* Whatever did not flush in time is closed now; the engine hears of
   * each one exactly once. */
  while (loop->transports)
    net_transport_abort (loop->transports, "server stopped");
  run_invokes (loop);
  free_graves (loop);
  g_atomic_pointer_set (&loop->self, NULL);
  return NULL;
}

gboolean
net_loop_start (StLoop *loop, GError **error)
{
  g_autofree char *name = g_strdup_printf ("st-net-%u", loop->index);

  for (guint k = 0; k < ST_N_LISTENER_KINDS; k++)
    {
      NetListener *l = &loop->listeners[k];
      if (l->fd < 0)
        continue;
      struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
      if (epoll_ctl (loop->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
        {
          int e = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "epoll_ctl: %s", g_strerror (e));
          return FALSE;
        }
    }

  loop->thread = g_thread_try_new (name, loop_thread, loop, error);
  return loop->thread != NULL;
}

void
net_loop_request_stop (StLoop *loop)
{
  st_loop_invoke (loop, stop_on_loop, loop);
}

void
net_loop_join (StLoop *loop)
{
  if (loop->thread == NULL)
    return;
  g_thread_join (loop->thread);
  loop->thread = NULL;
}

/* After every loop thread is gone: runs what was still sent to this
 * loop, on the caller's thread, so that the data they carry (payload
 * references, say) is released. Returns whether anything ran. */
bool
net_loop_drain_orphans (StLoop *loop)
{
  g_assert (loop->thread == NULL);
  bool ran = loop->inbox->len > 0 || loop->local->len > 0;

  run_invokes (loop);
  free_graves (loop);
  return ran;
}
