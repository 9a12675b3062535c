/* st-ulid.h — ULIDs (https://github.com/ulid/spec): 48-bit Unix time in
 * milliseconds then 80 random bits, as 26 Crockford base32 characters.
 *
 * Used for client ids (`sub`) and token ids (`jti`): they sort by creation
 * time as plain strings, which keeps revocation lists and logs readable, and
 * their randomness comes from the kernel CSPRNG, so ids cannot be guessed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ST_ULID_LEN 26

/* A generator makes its ids strictly increasing: within one millisecond (or
 * if the clock steps back) the next id is the previous one plus one in its
 * random part, per the spec's monotonic mode. Safe to share between threads. */
typedef struct _StUlidGenerator StUlidGenerator;

StUlidGenerator *st_ulid_generator_new  (void);
void             st_ulid_generator_free (StUlidGenerator *gen);

/* Writes ST_ULID_LEN characters and a NUL into @out. @now_ms is the Unix
 * time in milliseconds (tests pass a fixed one; see st_ulid_generator_next). */
void             st_ulid_generator_next_at (StUlidGenerator *gen,
                                            gint64           now_ms,
                                            char             out[ST_ULID_LEN + 1]);

/* The same, with the current wall-clock time; returns a new string. */
char            *st_ulid_generator_next (StUlidGenerator *gen);

/* A new ULID from a process-wide generator (behind a lock). */
char            *st_ulid_new            (void);

/* TRUE if @s is a canonical ULID: exactly 26 upper-case Crockford base32
 * characters (no I, L, O, U) whose value fits 128 bits (first char 0-7).
 * Lower case is rejected because client ids are compared byte for byte. */
gboolean         st_ulid_is_valid       (const char *s);

/* The timestamp of a valid ULID, in Unix milliseconds; -1 if invalid. */
gint64           st_ulid_get_time_ms    (const char *s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StUlidGenerator, st_ulid_generator_free)

G_END_DECLS
