#define G_LOG_DOMAIN "starling-auth"

#include "st-ulid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

/* Crockford's base32: no I, L, O, U, so ids survive being read aloud. */
static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#define ULID_MAX_TIME G_GINT64_CONSTANT (0xFFFFFFFFFFFF)

struct _StUlidGenerator {
  GMutex lock;
  gint64 last_ms;     /* -1 before the first id */
  guint8 last_rand[10];
};

/* getrandom blocks only until the kernel pool is first seeded and does not
 * fail for requests this small; anything else means the system cannot give
 * us unpredictable ids, and issuing guessable token ids is worse than
 * stopping. */
static void
fill_random (guint8 *buf,
             gsize   len)
{
  gsize got = 0;

  while (got < len)
    {
      gssize r = getrandom (buf + got, len - got, 0);

      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("getrandom: %s", g_strerror (errno));
        }
      got += (gsize) r;
    }
}

/* Adds one to the 80-bit big-endian number; FALSE when it wraps to zero. */
static gboolean
increment80 (guint8 r[10])
{
  for (int i = 9; i >= 0; i--)
    if (++r[i] != 0)
      return TRUE;
  return FALSE;
}

/* 128 bits (6 bytes time, 10 bytes randomness) as 26 characters: the value
 * is read as a 130-bit number with two leading zero bits, 5 bits a char. */
static void
encode (gint64       ms,
        const guint8 rand[10],
        char         out[ST_ULID_LEN + 1])
{
  guint8 b[16];

  for (int i = 0; i < 6; i++)
    b[i] = (guint8) (ms >> (40 - 8 * i));
  memcpy (b + 6, rand, 10);

  for (int c = 0; c < ST_ULID_LEN; c++)
    {
      /* Bit offset of this character's 5 bits from the top of the 128-bit
       * value; the first character starts 2 bits "before" it. */
      int bit = c * 5 - 2;
      guint v = 0;

      for (int k = 0; k < 5; k++, bit++)
        {
          v <<= 1;
          if (bit >= 0)
            v |= (b[bit / 8] >> (7 - bit % 8)) & 1;
        }
      out[c] = crockford[v];
    }
  out[ST_ULID_LEN] = '\0';
}

StUlidGenerator *
st_ulid_generator_new (void)
{
  StUlidGenerator *gen = g_new0 (StUlidGenerator, 1);

  g_mutex_init (&gen->lock);
  gen->last_ms = -1;
  return gen;
}

void
st_ulid_generator_free (StUlidGenerator *gen)
{
  if (gen == NULL)
    return;
  g_mutex_clear (&gen->lock);
  /* The last random part predicts the generator's next id. */
  memset (gen->last_rand, 0, sizeof gen->last_rand);
  g_free (gen);
}

void
st_ulid_generator_next_at (StUlidGenerator *gen,
                           gint64           now_ms,
                           char             out[ST_ULID_LEN + 1])
{
  g_return_if_fail (gen != NULL);
  g_return_if_fail (out != NULL);

  now_ms = CLAMP (now_ms, 0, ULID_MAX_TIME);

  g_mutex_lock (&gen->lock);
  if (gen->last_ms >= 0 && now_ms <= gen->last_ms)
    {
      /* Same millisecond, or the clock stepped back: keep order by counting
       * up from the previous id instead of trusting the clock. The random
       * start leaves ~2^79 steps, so the wrap below is theoretical; if it
       * happens, move into the next millisecond with fresh randomness. */
      now_ms = gen->last_ms;
      if (!increment80 (gen->last_rand))
        {
          now_ms = MIN (now_ms + 1, ULID_MAX_TIME);
          fill_random (gen->last_rand, sizeof gen->last_rand);
        }
    }
  else
    fill_random (gen->last_rand, sizeof gen->last_rand);
  gen->last_ms = now_ms;
  encode (now_ms, gen->last_rand, out);
  g_mutex_unlock (&gen->lock);
}

char *
st_ulid_generator_next (StUlidGenerator *gen)
{
  char *out = g_malloc (ST_ULID_LEN + 1);

  st_ulid_generator_next_at (gen, g_get_real_time () / 1000, out);
  return out;
}

char *
st_ulid_new (void)
{
  /* Created once and never freed: a process-wide id source, like the
   * kernel's, guarded by its own lock. */
  static StUlidGenerator *shared;

  if (g_once_init_enter (&shared))
    g_once_init_leave (&shared, st_ulid_generator_new ());
  return st_ulid_generator_next (shared);
}

static int
crockford_value (char c)
{
  const char *p;

  if (c == '\0')
    return -1;
  p = strchr (crockford, c);
  return p != NULL ? (int) (p - crockford) : -1;
}

gboolean
st_ulid_is_valid (const char *s)
{
  if (s == NULL)
    return FALSE;
  for (int i = 0; i < ST_ULID_LEN; i++)
    if (crockford_value (s[i]) < 0)
      return FALSE;
  /* 26 * 5 = 130 bits for a 128-bit value: the first char is at most 7. */
  return s[ST_ULID_LEN] == '\0' && s[0] <= '7';
}

gint64
st_ulid_get_time_ms (const char *s)
{
  gint64 ms = 0;

  if (!st_ulid_is_valid (s))
    return -1;
  /* The first 10 characters are 50 bits; the top two are the zero bits. */
  for (int i = 0; i < 10; i++)
    ms = ms << 5 | crockford_value (s[i]);
  return ms;
}
