/* net-echo-engine.c — a test-only engine for the network layer: whatever
 * bytes come in go back out. It implements the functions of st-engine.h
 * that broker/net calls, so test-net links net_sources without the real
 * engine.
 *
 * Marker bytes in the stream:
 *   '!'  echo up to and including it, then st_transport_close
 *   '%'  echo up to it, stop reading with the rest unconsumed, resume
 *        from an invoke
 *   '@'  round trip through another loop (st_loop_invoke there and back),
 *        then send "@" from the connection's own loop
 * Input above 2 KiB is echoed with st_transport_send_bytes.
 * Output above pause_above bytes stops reading until st_conn_drained.
 * In line mode only whole lines are consumed (tests the kept tail).
 */
#define G_LOG_DOMAIN "starling-test"

#include <string.h>

#include "core/st-engine.h"

#define ECHO_MAX_LOOPS 16

struct _StEngine {
  GMutex      lock;
  StLoop     *loops[ECHO_MAX_LOOPS];
  GPtrArray  *conns;            /* every StConn, kept until the engine goes */
  gint        accepted, closed, shutdowns, drained, ticks, invokes_done, pauses;
  gint        misuse;           /* calls on a closed conn, second closes, wrong thread */
  gint        accepted_on[ECHO_MAX_LOOPS];
  size_t      pause_above;
  gboolean    line_mode;
  char       *last_sni;
  int         last_kind;
  char        last_peer[64];
};

struct _StConn {
  StEngine    *engine;
  StTransport *t;
  StLoop      *loop;
  gboolean     closed;
  gboolean     paused;
};

/* The test's view of the engine; test-net.c declares the same. */
StEngine *echo_engine_new (void);
void      echo_engine_free (StEngine *e);
StLoop   *echo_engine_get_loop (StEngine *e, guint index);
void      echo_engine_configure (StEngine *e, size_t pause_above, gboolean line_mode);
gint      echo_engine_count (StEngine *e, const char *what);
char     *echo_engine_dup_last (StEngine *e, const char *what);

StEngine *
echo_engine_new (void)
{
  StEngine *e = g_new0 (StEngine, 1);

  g_mutex_init (&e->lock);
  e->conns = g_ptr_array_new_with_free_func (g_free);
  e->pause_above = G_MAXSIZE;
  e->last_kind = -1;
  return e;
}

void
echo_engine_free (StEngine *e)
{
  g_ptr_array_unref (e->conns);
  g_free (e->last_sni);
  g_mutex_clear (&e->lock);
  g_free (e);
}

StLoop *
echo_engine_get_loop (StEngine *e, guint index)
{
  g_mutex_lock (&e->lock);
  StLoop *loop = index < ECHO_MAX_LOOPS ? e->loops[index] : NULL;
  g_mutex_unlock (&e->lock);
  return loop;
}

void
echo_engine_configure (StEngine *e, size_t pause_above, gboolean line_mode)
{
  e->pause_above = pause_above;
  e->line_mode = line_mode;
}

/* what: "accepted", "closed", "shutdowns", "drained", "pauses", "ticks", "invokes",
 * "misuse", "loop0", "loop1", ... (connections accepted on that loop). */
gint
echo_engine_count (StEngine *e, const char *what)
{
  if (g_str_equal (what, "accepted"))
    return g_atomic_int_get (&e->accepted);
  if (g_str_equal (what, "closed"))
    return g_atomic_int_get (&e->closed);
  if (g_str_equal (what, "shutdowns"))
    return g_atomic_int_get (&e->shutdowns);
  if (g_str_equal (what, "drained"))
    return g_atomic_int_get (&e->drained);
  if (g_str_equal (what, "pauses"))
    return g_atomic_int_get (&e->pauses);
  if (g_str_equal (what, "ticks"))
    return g_atomic_int_get (&e->ticks);
  if (g_str_equal (what, "invokes"))
    return g_atomic_int_get (&e->invokes_done);
  if (g_str_equal (what, "misuse"))
    return g_atomic_int_get (&e->misuse);
  if (g_str_has_prefix (what, "loop"))
    {
      guint i = (guint) g_ascii_strtoull (what + 4, NULL, 10);
      g_mutex_lock (&e->lock);
      gint n = i < ECHO_MAX_LOOPS ? e->accepted_on[i] : 0;
      g_mutex_unlock (&e->lock);
      return n;
    }
  g_assert_not_reached ();
}

/* what: "sni", "kind", "peer" of the last accepted connection. */
char *
echo_engine_dup_last (StEngine *e, const char *what)
{
  char *r = NULL;

  g_mutex_lock (&e->lock);
  if (g_str_equal (what, "sni"))
    r = g_strdup (e->last_sni);
  else if (g_str_equal (what, "kind"))
    r = e->last_kind < 0 ? NULL : g_strdup (st_listener_kind_name (e->last_kind));
  else if (g_str_equal (what, "peer"))
    r = g_strdup (e->last_peer);
  g_mutex_unlock (&e->lock);
  return r;
}

StConn *
st_engine_accept (StEngine *e, StTransport *t, const StConnInfo *info)
{
  StConn *c = g_new0 (StConn, 1);

  c->engine = e;
  c->t = t;
  c->loop = st_transport_get_loop (t);
  if (!st_loop_is_current (c->loop))
    g_atomic_int_inc (&e->misuse);
  g_mutex_lock (&e->lock);
  g_ptr_array_add (e->conns, c);
  g_free (e->last_sni);
  e->last_sni = g_strdup (info->sni);
  e->last_kind = info->kind;
  g_strlcpy (e->last_peer, info->peer_str, sizeof e->last_peer);
  e->accepted_on[MIN (st_loop_index (c->loop), ECHO_MAX_LOOPS - 1)]++;
  g_mutex_unlock (&e->lock);
  g_atomic_int_inc (&e->accepted);
  return c;
}

static void
reply_at (void *data)
{
  StConn *c = data;

  if (!st_loop_is_current (c->loop))
    g_atomic_int_inc (&c->engine->misuse);
  if (!c->closed)
    st_transport_send (c->t, "@", 1);
}

static void
hop_at (void *data)
{
  StConn *c = data;

  g_atomic_int_inc (&c->engine->invokes_done);
  st_loop_invoke (c->loop, reply_at, c);
}

static void
resume_cb (void *data)
{
  StConn *c = data;

  if (c->closed)
    return;
  c->paused = FALSE;
  st_transport_set_reading (c->t, true);
}

static void
maybe_pause (StConn *c)
{
  if (!c->paused && st_transport_pending (c->t) > c->engine->pause_above)
    {
      c->paused = TRUE;
      g_atomic_int_inc (&c->engine->pauses);
      st_transport_set_reading (c->t, false);
    }
}

size_t
st_conn_input (StConn *c, const uint8_t *data, size_t len)
{
  StEngine *e = c->engine;
  size_t use = len;

  if (c->closed || !st_loop_is_current (c->loop))
    g_atomic_int_inc (&e->misuse);
  if (e->line_mode)
    {
      const uint8_t *nl = memrchr (data, '\n', len);
      use = nl ? (size_t) (nl - data) + 1 : 0;
    }

  /* '%': a pause with unconsumed input left behind, resumed from an
   * invoke; the rest must come back without new bytes arriving. */
  const uint8_t *pct = memchr (data, '%', use);
  if (pct && !c->paused)
    {
      size_t n = pct - data + 1;
      st_transport_send (c->t, data, n);
      c->paused = TRUE;
      st_transport_set_reading (c->t, false);
      st_loop_invoke (c->loop, resume_cb, c);
      return n;
    }

  const uint8_t *bang = memchr (data, '!', use);
  if (bang)
    {
      st_transport_send (c->t, data, bang - data + 1);
      st_transport_close (c->t);
      return len;
    }
  if (use > 2048)
    {
      /* Large input goes back as two ranges of one shared payload, like
       * a PUBLISH delivered to subscribers. */
      StBytes *b = st_bytes_new (data, use);
      st_transport_send_bytes (c->t, b, 0, use / 2);
      st_transport_send_bytes (c->t, b, use / 2, use - use / 2);
      st_bytes_unref (b);
    }
  else
    st_transport_send (c->t, data, use);

  for (const uint8_t *p = data; (p = memchr (p, '@', use - (p - data))) != NULL; p++)
    {
      StLoop *other = NULL;
      for (guint i = st_loop_index (c->loop) + 1; i < st_loop_index (c->loop) + ECHO_MAX_LOOPS && !other; i++)
        other = echo_engine_get_loop (e, i % ECHO_MAX_LOOPS);
      st_loop_invoke (other ? other : c->loop, hop_at, c);
    }

  maybe_pause (c);
  return use;
}

void
st_conn_drained (StConn *c)
{
  if (c->closed)
    g_atomic_int_inc (&c->engine->misuse);
  g_atomic_int_inc (&c->engine->drained);
  if (c->paused)
    {
      c->paused = FALSE;
      st_transport_set_reading (c->t, true);
    }
}

void
st_conn_shutdown (StConn *c)
{
  if (c->closed)
    g_atomic_int_inc (&c->engine->misuse);
  g_atomic_int_inc (&c->engine->shutdowns);
  st_transport_send (c->t, "BYE", 3);
  st_transport_close (c->t);
}

void
st_conn_closed (StConn *c)
{
  if (c->closed || !st_loop_is_current (c->loop))
    g_atomic_int_inc (&c->engine->misuse);
  c->closed = TRUE;
  c->t = NULL;
  g_atomic_int_inc (&c->engine->closed);
}

void
st_engine_tick (StEngine *e, StLoop *loop, gint64 now_ms)
{
  g_mutex_lock (&e->lock);
  if (st_loop_index (loop) < ECHO_MAX_LOOPS)
    e->loops[st_loop_index (loop)] = loop;
  g_mutex_unlock (&e->lock);
  g_atomic_int_inc (&e->ticks);
  if (st_loop_now_ms (loop) != now_ms || !st_loop_is_current (loop))
    g_atomic_int_inc (&e->misuse);
}
