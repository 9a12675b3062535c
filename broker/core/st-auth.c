#define G_LOG_DOMAIN "starling-auth"

#include "st-auth.h"
#include "st-subtree.h"

#include <string.h>

/* ---- snapshots ---------------------------------------------------------- */

static StAuthSnapshot *
snapshot_new (StAuthSnapshot *from)
{
  StAuthSnapshot *s = g_new0 (StAuthSnapshot, 1);
  GHashTableIter it;
  gpointer k, v;

  s->ref = 1;
  s->keys = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                   (GDestroyNotify) st_signing_key_unref);
  s->revoked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (from)
    {
      g_hash_table_iter_init (&it, from->keys);
      while (g_hash_table_iter_next (&it, &k, &v))
        g_hash_table_insert (s->keys, k, st_signing_key_ref (v));
      g_hash_table_iter_init (&it, from->revoked);
      while (g_hash_table_iter_next (&it, &k, NULL))
        g_hash_table_add (s->revoked, g_strdup (k));
    }
  return s;
}

void
st_auth_snapshot_unref (StAuthSnapshot *snap)
{
  if (!snap || !g_atomic_int_dec_and_test (&snap->ref))
    return;
  g_hash_table_unref (snap->keys);
  g_hash_table_unref (snap->revoked);
  g_free (snap);
}

void
st_auth_state_init (StAuthState *state)
{
  state->current = snapshot_new (NULL);
  state->readers = 0;
  pthread_mutex_init (&state->write_lock, NULL);
}

void
st_auth_state_clear (StAuthState *state)
{
  g_clear_pointer (&state->current, st_auth_snapshot_unref);
  pthread_mutex_destroy (&state->write_lock);
}

StAuthSnapshot *
st_auth_snapshot_get (StAuthState *state)
{
  StAuthSnapshot *s;

  /* The reader count tells a writer that someone may hold the old pointer
   * without a reference yet; all three are sequentially consistent. */
  __atomic_add_fetch (&state->readers, 1, __ATOMIC_SEQ_CST);
  s = __atomic_load_n (&state->current, __ATOMIC_SEQ_CST);
  __atomic_add_fetch (&s->ref, 1, __ATOMIC_SEQ_CST);
  __atomic_sub_fetch (&state->readers, 1, __ATOMIC_SEQ_CST);
  return s;
}

/* Called with write_lock held; takes next. */
static void
publish (StAuthState *state, StAuthSnapshot *next)
{
  StAuthSnapshot *old = __atomic_exchange_n (&state->current, next, __ATOMIC_SEQ_CST);

  /* A reader that loaded old did so before the exchange, so it is counted
   * until it holds its reference. Readers hold the count for a few
   * instructions: yielding is enough, and only writers (rare) ever wait. */
  while (__atomic_load_n (&state->readers, __ATOMIC_SEQ_CST) != 0)
    g_thread_yield ();
  st_auth_snapshot_unref (old);
}

void
st_auth_set_keys (StAuthState *state, StSigningKey **keys, guint n_keys)
{
  pthread_mutex_lock (&state->write_lock);
  StAuthSnapshot *next = snapshot_new (state->current);

  g_hash_table_remove_all (next->keys);
  for (guint i = 0; i < n_keys; i++)
    g_hash_table_insert (next->keys, (gpointer) st_signing_key_get_kid (keys[i]),
                         st_signing_key_ref (keys[i]));
  publish (state, next);
  pthread_mutex_unlock (&state->write_lock);
}

void
st_auth_revoke (StAuthState *state, const char *const *jtis, StAuthRevokeMode mode)
{
  pthread_mutex_lock (&state->write_lock);
  StAuthSnapshot *next = snapshot_new (state->current);

  if (mode == ST_AUTH_REPLACE_REVOKED)
    g_hash_table_remove_all (next->revoked);
  for (guint i = 0; jtis && jtis[i]; i++)
    {
      if (mode != ST_AUTH_UNREVOKE)
        g_hash_table_add (next->revoked, g_strdup (jtis[i]));
      else
        g_hash_table_remove (next->revoked, jtis[i]);
    }
  publish (state, next);
  pthread_mutex_unlock (&state->write_lock);
}

bool
st_auth_has_kid (StAuthState *state, const char *kid)
{
  g_autoptr (StAuthSnapshot) s = st_auth_snapshot_get (state);

  return g_hash_table_contains (s->keys, kid);
}

/* ---- topic filter containment ------------------------------------------- */

static uint32_t
level_end (MqttBytes s, uint32_t from)
{
  uint32_t i = from;

  while (i < s.len && s.data[i] != '/')
    i++;
  return i;
}

static bool
level_is (const uint8_t *p, uint32_t len, char c)
{
  return len == 1 && p[0] == (uint8_t) c;
}

bool
st_topic_covered (MqttBytes filter, MqttBytes acl)
{
  /* Walk both level by level; a position past the end (len + 1) means no
   * levels are left ("a/" has an empty last level, "a" does not). */
  uint32_t fp = 0, ap = 0;
  bool first = true;

  while (ap <= acl.len)
    {
      uint32_t ae = level_end (acl, ap);
      const uint8_t *al = acl.data + ap;
      uint32_t al_len = ae - ap;

      if (level_is (al, al_len, '#'))
        {
          /* '#' also matches the parent level, so a filter that ended here
           * is covered; but at the first level it matches no '$' topic. */
          if (first && fp < filter.len && filter.data[fp] == '$')
            return false;
          return true;
        }
      if (fp > filter.len)
        return false;

      uint32_t fe = level_end (filter, fp);
      const uint8_t *fl = filter.data + fp;
      uint32_t fl_len = fe - fp;

      if (level_is (fl, fl_len, '#'))
        return false;
      if (level_is (al, al_len, '+'))
        {
          if (first && fl_len && fl[0] == '$')
            return false;
        }
      else if (level_is (fl, fl_len, '+') || fl_len != al_len || memcmp (fl, al, al_len) != 0)
        return false;
      first = false;
      ap = ae + 1;
      fp = fe + 1;
    }
  return fp > filter.len;
}

bool
st_filter_covered (MqttBytes filter, MqttBytes acl)
{
  MqttBytes group, rest;

  if (st_filter_split_shared (filter, &group, &rest))
    filter = rest;
  return st_topic_covered (filter, acl);
}
