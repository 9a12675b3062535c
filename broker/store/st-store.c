#define G_LOG_DOMAIN "starling-store"

#include "st-store.h"
#include "st-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sqlite3.h>

/* Another process (starlingctl, a second daemon by mistake) may hold the
 * write lock briefly; control-plane writes are small, so waiting a few
 * seconds beats failing the API call. */
#define BUSY_TIMEOUT_MS 5000

#define HASH_LEN 32                /* SHA-256 */
#define TOKEN_NAME_MAX 120
#define TOKEN_SECRET_MAX 256
#define LAST_USED_GRANULARITY (60 * G_USEC_PER_SEC)
#define DESCRIPTION_MAX 1024
#define IDENT_MAX 128              /* kid, jti */
#define CLIENT_ID_MAX 256
#define URL_MAX 2048
#define JSON_MAX 65536

/* Migrations, applied in order; the database's user_version counts those
 * already applied.  Never edit one that has shipped: append a new one.
 * Each runs inside the open transaction, so it must not BEGIN or COMMIT,
 * and it cannot toggle foreign_keys (a no-op inside a transaction): a
 * migration that rebuilds a table must keep references valid itself.
 *
 * Times are INTEGER microseconds since the epoch (UTC); see st-store.h.
 * JSON columns are checked with json_valid(), built into SQLite since 3.38
 * and enabled in Debian's and the GNOME runtime's builds before that. */
const char *const st_store_migrations[] = {
  /* 1: the control plane */
  "CREATE TABLE account ("
  "  one INTEGER PRIMARY KEY CHECK (one = 1),"
  "  id TEXT NOT NULL CHECK (length (id) = 32),"
  "  created_on INTEGER NOT NULL"
  ");"
  "CREATE TABLE api_tokens ("
  "  id TEXT PRIMARY KEY CHECK (length (id) = 32),"
  "  name TEXT NOT NULL,"
  "  scope TEXT NOT NULL CHECK (scope IN ('edit', 'read')),"
  "  hash BLOB NOT NULL UNIQUE CHECK (length (hash) = 32),"
  "  created_on INTEGER NOT NULL,"
  "  last_used INTEGER,"
  "  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))"
  ");"
  "CREATE TABLE namespaces ("
  "  id TEXT PRIMARY KEY CHECK (length (id) = 32),"
  "  name TEXT NOT NULL UNIQUE CHECK (name = lower (name)),"
  "  description TEXT NOT NULL DEFAULT '',"
  "  created_on INTEGER NOT NULL,"
  "  modified_on INTEGER NOT NULL"
  ");"
  "CREATE TABLE brokers ("
  "  id TEXT PRIMARY KEY CHECK (length (id) = 32),"
  "  namespace_id TEXT NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,"
  "  name TEXT NOT NULL CHECK (name = lower (name)),"
  "  description TEXT NOT NULL DEFAULT '',"
  "  auth_type TEXT NOT NULL CHECK (auth_type IN ('TOKEN', 'NONE')),"
  "  expiration INTEGER CHECK (expiration IS NULL OR expiration > 0),"
  "  on_publish_url TEXT,"
  "  on_publish TEXT CHECK (on_publish IS NULL OR json_valid (on_publish)),"
  "  created_on INTEGER NOT NULL,"
  "  modified_on INTEGER NOT NULL,"
  "  UNIQUE (namespace_id, name)"
  ");"
  "CREATE TABLE signing_keys ("
  "  kid TEXT PRIMARY KEY,"
  "  broker_id TEXT NOT NULL REFERENCES brokers (id) ON DELETE CASCADE,"
  "  private_key BLOB NOT NULL CHECK (length (private_key) = 32),"
  "  created_on INTEGER NOT NULL"
  ");"
  "CREATE INDEX signing_keys_broker ON signing_keys (broker_id);"
  "CREATE TABLE credentials ("
  "  broker_id TEXT NOT NULL REFERENCES brokers (id) ON DELETE CASCADE,"
  "  jti TEXT NOT NULL,"
  "  client_id TEXT NOT NULL,"
  "  iat INTEGER NOT NULL,"
  "  exp INTEGER,"
  "  topic_acl TEXT NOT NULL CHECK (json_valid (topic_acl)),"
  "  PRIMARY KEY (broker_id, jti)"
  ") WITHOUT ROWID;"
  "CREATE INDEX credentials_client ON credentials (broker_id, client_id);"
  /* No foreign key to credentials: a jti may be revoked whether or not its
   * metadata was kept, and credentials' revoked flag is derived from here
   * so the two can never disagree. */
  "CREATE TABLE revocations ("
  "  broker_id TEXT NOT NULL REFERENCES brokers (id) ON DELETE CASCADE,"
  "  jti TEXT NOT NULL,"
  "  revoked_on INTEGER NOT NULL,"
  "  PRIMARY KEY (broker_id, jti)"
  ") WITHOUT ROWID;",
};
const guint st_store_n_migrations = G_N_ELEMENTS (st_store_migrations);

typedef enum {
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_ACCOUNT_GET,
  STMT_ACCOUNT_INSERT,
  STMT_TOKEN_INSERT,
  STMT_TOKEN_BY_HASH,
  STMT_TOKEN_TOUCH,
  STMT_TOKEN_LIST,
  STMT_TOKEN_REVOKE,
  STMT_NS_INSERT,
  STMT_NS_GET,
  STMT_NS_LIST,
  STMT_NS_SET_DESCRIPTION,
  STMT_NS_DELETE,
  STMT_BROKER_INSERT,
  STMT_BROKER_GET,
  STMT_BROKER_GET_BY_ID,
  STMT_BROKER_LIST_NS,
  STMT_BROKER_LIST_ALL,
  STMT_BROKER_UPDATE,
  STMT_BROKER_DELETE,
  STMT_BROKER_EXISTS,
  STMT_KEY_INSERT,
  STMT_KEY_LOOKUP,
  STMT_KEY_LIST,
  STMT_KEY_DELETE,
  STMT_CRED_INSERT,
  STMT_CRED_LIST,
  STMT_CRED_LIST_CLIENT,
  STMT_REV_INSERT,
  STMT_REV_DELETE,
  STMT_REV_LIST,
  N_STMTS
} StmtId;

#define TOKEN_COLUMNS "id, name, scope, created_on, last_used, revoked"
#define NS_COLUMNS "id, name, description, created_on, modified_on"
#define BROKER_SELECT \
  "SELECT b.id, b.namespace_id, n.name, b.name, b.description, b.auth_type, b.expiration," \
  " b.on_publish_url, b.on_publish, b.created_on, b.modified_on" \
  " FROM brokers b JOIN namespaces n ON n.id = b.namespace_id"
#define KEY_SELECT "SELECT kid, broker_id, private_key, created_on FROM signing_keys"
#define CRED_SELECT \
  "SELECT c.broker_id, c.jti, c.client_id, c.iat, c.exp, c.topic_acl, r.jti IS NOT NULL" \
  " FROM credentials c LEFT JOIN revocations r ON r.broker_id = c.broker_id AND r.jti = c.jti"

static const char *const stmt_sql[N_STMTS] = {
  /* IMMEDIATE takes the write lock up front, so a busy database makes us
   * wait at BEGIN (under the busy timeout) instead of failing halfway. */
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_ACCOUNT_GET] = "SELECT id FROM account WHERE one = 1",
  [STMT_ACCOUNT_INSERT] =
    "INSERT INTO account (one, id, created_on) VALUES (1, ?1, ?2) ON CONFLICT (one) DO NOTHING",
  [STMT_TOKEN_INSERT] =
    "INSERT INTO api_tokens (id, name, scope, hash, created_on) VALUES (?1, ?2, ?3, ?4, ?5)",
  [STMT_TOKEN_BY_HASH] = "SELECT " TOKEN_COLUMNS ", hash FROM api_tokens WHERE hash = ?1",
  [STMT_TOKEN_TOUCH] = "UPDATE api_tokens SET last_used = ?2 WHERE id = ?1",
  [STMT_TOKEN_LIST] = "SELECT " TOKEN_COLUMNS " FROM api_tokens ORDER BY created_on, id",
  [STMT_TOKEN_REVOKE] = "UPDATE api_tokens SET revoked = 1 WHERE id = ?1",
  [STMT_NS_INSERT] =
    "INSERT INTO namespaces (id, name, description, created_on, modified_on)"
    " VALUES (?1, ?2, ?3, ?4, ?4)",
  [STMT_NS_GET] = "SELECT " NS_COLUMNS " FROM namespaces WHERE name = ?1",
  [STMT_NS_LIST] = "SELECT " NS_COLUMNS " FROM namespaces ORDER BY name",
  [STMT_NS_SET_DESCRIPTION] =
    "UPDATE namespaces SET description = ?2, modified_on = ?3 WHERE name = ?1",
  [STMT_NS_DELETE] = "DELETE FROM namespaces WHERE name = ?1",
  /* Selecting the namespace id in the INSERT makes "no such namespace" a
   * zero-row insert instead of a separate look-up. */
  [STMT_BROKER_INSERT] =
    "INSERT INTO brokers (id, namespace_id, name, description, auth_type, expiration,"
    " on_publish_url, on_publish, created_on, modified_on)"
    " SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9 FROM namespaces WHERE name = ?2",
  [STMT_BROKER_GET] = BROKER_SELECT " WHERE n.name = ?1 AND b.name = ?2",
  [STMT_BROKER_GET_BY_ID] = BROKER_SELECT " WHERE b.id = ?1",
  [STMT_BROKER_LIST_NS] = BROKER_SELECT " WHERE n.name = ?1 ORDER BY b.name",
  [STMT_BROKER_LIST_ALL] = BROKER_SELECT " ORDER BY n.name, b.name",
  [STMT_BROKER_UPDATE] =
    "UPDATE brokers SET description = ?2, auth_type = ?3, expiration = ?4,"
    " on_publish_url = ?5, on_publish = ?6, modified_on = ?7 WHERE id = ?1",
  [STMT_BROKER_DELETE] =
    "DELETE FROM brokers WHERE name = ?2"
    " AND namespace_id = (SELECT id FROM namespaces WHERE name = ?1)",
  [STMT_BROKER_EXISTS] = "SELECT 1 FROM brokers WHERE id = ?1",
  [STMT_KEY_INSERT] =
    "INSERT INTO signing_keys (kid, broker_id, private_key, created_on) VALUES (?1, ?2, ?3, ?4)",
  [STMT_KEY_LOOKUP] = KEY_SELECT " WHERE kid = ?1",
  [STMT_KEY_LIST] = KEY_SELECT " WHERE broker_id = ?1 ORDER BY created_on, kid",
  [STMT_KEY_DELETE] = "DELETE FROM signing_keys WHERE broker_id = ?1 AND kid = ?2",
  [STMT_CRED_INSERT] =
    "INSERT INTO credentials (broker_id, jti, client_id, iat, exp, topic_acl)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
  [STMT_CRED_LIST] = CRED_SELECT " WHERE c.broker_id = ?1 ORDER BY c.iat, c.jti",
  [STMT_CRED_LIST_CLIENT] =
    CRED_SELECT " WHERE c.broker_id = ?1 AND c.client_id = ?2 ORDER BY c.iat, c.jti",
  /* Re-revoking keeps the first revoked_on; DO NOTHING covers only the
   * primary key, so an unknown broker still fails its foreign key. */
  [STMT_REV_INSERT] =
    "INSERT INTO revocations (broker_id, jti, revoked_on) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (broker_id, jti) DO NOTHING",
  [STMT_REV_DELETE] = "DELETE FROM revocations WHERE broker_id = ?1 AND jti = ?2",
  [STMT_REV_LIST] =
    "SELECT jti, revoked_on FROM revocations WHERE broker_id = ?1 ORDER BY revoked_on, jti",
};

struct _StStore {
  GMutex           lock;     /* serializes every public call on db */
  sqlite3         *db;
  char            *path;
  char            *account_id;
  int              schema_version;
  sqlite3_stmt    *stmts[N_STMTS];
  StStoreFaultHook hook;
  gpointer         hook_data;
};

G_DEFINE_QUARK (st-store-error-quark, st_store_error)

/* A cached statement borrowed for one operation.  Releasing resets it:
 * a SELECT left mid-way would keep its read transaction, pinning an old
 * WAL snapshot and blocking checkpoints. */
typedef sqlite3_stmt *StStmt;

static void
stmt_release (StStmt *stmt)
{
  if (*stmt != NULL)
    {
      sqlite3_reset (*stmt);
      sqlite3_clear_bindings (*stmt);
    }
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StStmt, stmt_release)

static void
set_db_error (StStore *self, int rc, GError **error)
{
  StStoreError code;

  switch (rc)
    {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      code = ST_STORE_ERROR_DUPLICATE;
      break;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      code = ST_STORE_ERROR_NOT_FOUND;
      break;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
      code = ST_STORE_ERROR_INVALID;
      break;
    default:
      code = ST_STORE_ERROR_FAILED;
      break;
    }
  g_set_error (error, ST_STORE_ERROR, code, "%s", sqlite3_errmsg (self->db));
}

static sqlite3_stmt *
stmt_get (StStore *self, StmtId id, GError **error)
{
  if (self->stmts[id] == NULL)
    {
      int rc = sqlite3_prepare_v3 (self->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                   &self->stmts[id], NULL);
      if (rc != SQLITE_OK)
        {
          set_db_error (self, rc, error);
          return NULL;
        }
    }
  return self->stmts[id];
}

/* Runs a statement that returns no rows.  The messages, when given, replace
 * SQLite's for the two constraint failures callers care to explain. */
static gboolean
step_write (StStore    *self,
            sqlite3_stmt *stmt,
            const char *duplicate_msg,
            const char *missing_msg,
            GError    **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_DONE)
    return TRUE;
  if (duplicate_msg != NULL &&
      (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY))
    g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_DUPLICATE, duplicate_msg);
  else if (missing_msg != NULL && rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, missing_msg);
  else
    set_db_error (self, rc, error);
  return FALSE;
}

/* 1: a row is ready, 0: no more rows, -1: failed with error set. */
static int
step_row (StStore *self, sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  set_db_error (self, rc, error);
  return -1;
}

static gboolean
exec_sql (StStore *self, const char *sql, GError **error)
{
  char *msg = NULL;
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, &msg);

  if (rc == SQLITE_OK)
    return TRUE;
  g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED, "%s",
               msg != NULL ? msg : sqlite3_errstr (rc));
  sqlite3_free (msg);
  return FALSE;
}

/* For one-off statements (PRAGMAs at open): not worth caching. */
static gboolean
query_single (StStore *self, const char *sql, gint64 *int_out, char **text_out, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      set_db_error (self, rc, error);
      sqlite3_finalize (stmt);
      return FALSE;
    }
  if (int_out != NULL)
    *int_out = sqlite3_column_int64 (stmt, 0);
  if (text_out != NULL)
    *text_out = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  return TRUE;
}

static gboolean
tx_begin (StStore *self, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_BEGIN, error);

  return stmt != NULL && step_write (self, stmt, NULL, NULL, error);
}

/* Commits when ok (after the test hook agrees), otherwise rolls back.
 * Returns whether the transaction was committed; error is set if not. */
static gboolean
tx_end (StStore *self, gboolean ok, GError **error)
{
  if (ok && self->hook != NULL && !self->hook (self->hook_data))
    {
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED,
                           "transaction aborted before commit by the fault hook");
      ok = FALSE;
    }
  if (ok)
    {
      g_auto (StStmt) stmt = stmt_get (self, STMT_COMMIT, error);

      if (stmt != NULL && step_write (self, stmt, NULL, NULL, error))
        return TRUE;
    }
  /* Some failures (a constraint on a statement, a failed COMMIT) leave the
   * transaction open; others (I/O errors) have already ended it. */
  if (!sqlite3_get_autocommit (self->db))
    {
      g_auto (StStmt) stmt = stmt_get (self, STMT_ROLLBACK, NULL);

      if (stmt == NULL || sqlite3_step (stmt) != SQLITE_DONE)
        g_warning ("%s: rollback failed: %s", self->path, sqlite3_errmsg (self->db));
    }
  return FALSE;
}

static char *
col_text (sqlite3_stmt *stmt, int col)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, col));
}

static gboolean
random_bytes (guint8 *buf, gsize len, GError **error)
{
  if (RAND_bytes (buf, (int) len) != 1)
    {
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED,
                           "the system's random number generator failed");
      return FALSE;
    }
  return TRUE;
}

static char *
random_id (GError **error)
{
  static const char hex[] = "0123456789abcdef";
  guint8 raw[ST_STORE_ID_LEN / 2];
  char *id;

  if (!random_bytes (raw, sizeof raw, error))
    return NULL;
  id = g_malloc (ST_STORE_ID_LEN + 1);
  for (gsize i = 0; i < sizeof raw; i++)
    {
      id[2 * i] = hex[raw[i] >> 4];
      id[2 * i + 1] = hex[raw[i] & 0xf];
    }
  id[ST_STORE_ID_LEN] = '\0';
  return id;
}

/* 30 random bytes are exactly 40 base64url characters (240 bits), with no
 * padding, and safe in an Authorization header or a shell. */
static char *
random_secret (GError **error)
{
  guint8 raw[ST_STORE_TOKEN_SECRET_LEN * 3 / 4];
  char *secret;

  if (!random_bytes (raw, sizeof raw, error))
    return NULL;
  secret = g_base64_encode (raw, sizeof raw);
  for (char *p = secret; *p != '\0'; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
    }
  OPENSSL_cleanse (raw, sizeof raw);
  return secret;
}

static void
token_hash (const char *secret, guint8 out[HASH_LEN])
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize len = HASH_LEN;

  g_checksum_update (sum, (const guchar *) secret, strlen (secret));
  g_checksum_get_digest (sum, out, &len);
  g_assert (len == HASH_LEN);
}

/* Printable text: valid UTF-8 without control characters. */
static gboolean
text_valid (const char *s, gsize min, gsize max)
{
  gsize len = strlen (s);

  if (len < min || len > max || !g_utf8_validate (s, len, NULL))
    return FALSE;
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* kid and jti: printable ASCII without spaces or commas, because the API
 * accepts lists of jtis separated by commas. */
static gboolean
ident_valid (const char *s)
{
  gsize len = s != NULL ? strlen (s) : 0;

  if (len < 1 || len > IDENT_MAX)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ',')
      return FALSE;
  return TRUE;
}

static gboolean
description_valid (const char *s, GError **error)
{
  if (s != NULL && (strlen (s) > DESCRIPTION_MAX || !g_utf8_validate (s, -1, NULL)))
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "a description is UTF-8 text of at most %d bytes", DESCRIPTION_MAX);
      return FALSE;
    }
  return TRUE;
}

gboolean
st_store_name_valid (const char *name, char **folded)
{
  g_autofree char *lower = NULL;
  gsize len;

  if (folded != NULL)
    *folded = NULL;
  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len < 1 || len > ST_STORE_NAME_MAX)
    return FALSE;
  lower = g_ascii_strdown (name, len);
  if (!g_ascii_islower (lower[0]) || lower[len - 1] == '-')
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_islower (lower[i]) && !g_ascii_isdigit (lower[i]) && lower[i] != '-')
      return FALSE;
  if (folded != NULL)
    *folded = g_steal_pointer (&lower);
  return TRUE;
}

/* Look-ups fold the name the same way; an invalid name cannot exist. */
static char *
lookup_name (const char *name, const char *what, GError **error)
{
  char *folded = NULL;

  if (!st_store_name_valid (name, &folded))
    g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, "no %s named “%s”", what,
                 name != NULL ? name : "");
  return folded;
}

char *
st_store_time_format (gint64 usec)
{
  g_autoptr(GDateTime) dt = NULL;

  if (usec <= 0)
    return NULL;
  dt = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  if (dt == NULL)
    return NULL;
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                          g_date_time_get_year (dt), g_date_time_get_month (dt),
                          g_date_time_get_day_of_month (dt), g_date_time_get_hour (dt),
                          g_date_time_get_minute (dt), g_date_time_get_second (dt),
                          (int) (usec % G_USEC_PER_SEC));
}

const char *
st_store_scope_to_string (StStoreScope scope)
{
  return scope == ST_STORE_SCOPE_EDIT ? "edit" : "read";
}

gboolean
st_store_scope_from_string (const char *str, StStoreScope *scope)
{
  if (g_strcmp0 (str, "edit") == 0)
    *scope = ST_STORE_SCOPE_EDIT;
  else if (g_strcmp0 (str, "read") == 0)
    *scope = ST_STORE_SCOPE_READ;
  else
    return FALSE;
  return TRUE;
}

const char *
st_store_auth_type_to_string (StStoreAuthType type)
{
  return type == ST_STORE_AUTH_NONE ? "NONE" : "TOKEN";
}

gboolean
st_store_auth_type_from_string (const char *str, StStoreAuthType *type)
{
  if (g_strcmp0 (str, "TOKEN") == 0)
    *type = ST_STORE_AUTH_TOKEN;
  else if (g_strcmp0 (str, "NONE") == 0)
    *type = ST_STORE_AUTH_NONE;
  else
    return FALSE;
  return TRUE;
}

/* Opening */

static gboolean
configure (StStore *self, GError **error)
{
  g_autofree char *mode = NULL;

  /* foreign_keys: the schema does the cascades and broker references.
   * secure_delete: a removed signing key or token hash is overwritten, not
   * left in a free page.  synchronous FULL: a token or credential shown to
   * the user must survive a power cut; control-plane writes are rare, so
   * the extra fsync costs nothing that matters. */
  if (!exec_sql (self,
                 "PRAGMA foreign_keys = ON;"
                 "PRAGMA secure_delete = ON;"
                 "PRAGMA synchronous = FULL;", error))
    return FALSE;
  if (!query_single (self, "PRAGMA journal_mode = WAL", NULL, &mode, error))
    return FALSE;
  if (g_ascii_strcasecmp (mode, "wal") != 0)
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED,
                   "%s: write-ahead logging is not available (journal mode %s)", self->path, mode);
      return FALSE;
    }
  return TRUE;
}

static gboolean
migrate (StStore *self, const char *const *migrations, guint n_migrations, GError **error)
{
  gint64 version;
  gboolean ok;

  if (!query_single (self, "PRAGMA user_version", &version, NULL, error))
    return FALSE;
  if (version == n_migrations)
    {
      self->schema_version = n_migrations;
      return TRUE;
    }

  /* One transaction for every pending step: user_version lives in the
   * database header, which the transaction covers, so an interrupted
   * upgrade leaves both the schema and the version as they were. */
  if (!tx_begin (self, error))
    return FALSE;
  /* Read again under the write lock: another process may have migrated. */
  ok = query_single (self, "PRAGMA user_version", &version, NULL, error);
  if (ok && (version < 0 || version > n_migrations))
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED,
                   "%s has schema version %" G_GINT64_FORMAT
                   ", newer than this Starling knows (%u)",
                   self->path, version, n_migrations);
      ok = FALSE;
    }
  for (gint64 v = version; ok && v < n_migrations; v++)
    {
      ok = exec_sql (self, migrations[v], error);
      if (!ok)
        g_prefix_error (error, "%s: schema migration %" G_GINT64_FORMAT ": ", self->path, v + 1);
    }
  if (ok && version != n_migrations)
    {
      g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %u", n_migrations);

      ok = exec_sql (self, sql, error);
    }
  if (!tx_end (self, ok, error))
    return FALSE;
  self->schema_version = n_migrations;
  return TRUE;
}

static gboolean
account_read (StStore *self, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_ACCOUNT_GET, error);
  int r;

  if (stmt == NULL || (r = step_row (self, stmt, error)) < 0)
    return FALSE;
  g_clear_pointer (&self->account_id, g_free);
  if (r == 1)
    self->account_id = col_text (stmt, 0);
  return TRUE;
}

static gboolean
account_insert (StStore *self, const char *id, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_ACCOUNT_INSERT, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, g_get_real_time ());
  return step_write (self, stmt, NULL, NULL, error);
}

/* The account is made on first open and never changes: API clients keep
 * its id in their configuration (CLOUDFLARE_ACCOUNT_ID). */
static gboolean
ensure_account (StStore *self, GError **error)
{
  g_autofree char *id = NULL;
  gboolean ok;

  if (!account_read (self, error))
    return FALSE;
  if (self->account_id != NULL)
    return TRUE;
  if ((id = random_id (error)) == NULL || !tx_begin (self, error))
    return FALSE;
  ok = account_insert (self, id, error);
  /* Read inside the transaction: a concurrent first open may have won. */
  ok = ok && account_read (self, error);
  if (!tx_end (self, ok, error))
    return FALSE;
  g_assert (self->account_id != NULL);
  return TRUE;
}

StStore *
st_store_open_full (const char        *path,
                    const char *const *migrations,
                    guint              n_migrations,
                    StStoreFaultHook   hook,
                    gpointer           hook_data,
                    GError           **error)
{
  g_autoptr(StStore) self = NULL;
  int fd;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (migrations != NULL || n_migrations == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* The file holds signing keys and token hashes: create it owner-only
   * before SQLite would (0644).  SQLite gives -wal and -shm the same mode.
   * Only when it is new (O_EXCL): closing any descriptor of an existing
   * database drops every POSIX lock this process holds on it, those of
   * another open StStore too, which then reads stale data or fails. */
  fd = g_open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST)
    {
      int saved = errno;

      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED, "cannot open %s: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  if (fd >= 0)
    close (fd);

  self = g_new0 (StStore, 1);
  g_mutex_init (&self->lock);
  self->path = g_strdup (path);
  self->hook = hook;
  self->hook_data = hook_data;

  /* NOMUTEX: our own lock already serializes every use of the connection. */
  rc = sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED, "cannot open %s: %s", path,
                   self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
      return NULL;
    }
  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  if (!configure (self, error) ||
      !migrate (self, migrations, n_migrations, error) ||
      !ensure_account (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

StStore *
st_store_open (const char *data_dir, GError **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (data_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED, "cannot create %s: %s",
                   data_dir, g_strerror (saved));
      return NULL;
    }
  path = g_build_filename (data_dir, ST_STORE_FILE_NAME, NULL);
  return st_store_open_full (path, st_store_migrations, st_store_n_migrations, NULL, NULL, error);
}

void
st_store_set_fault_hook (StStore *self, StStoreFaultHook hook, gpointer hook_data)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  self->hook = hook;
  self->hook_data = hook_data;
}

void
st_store_free (StStore *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < N_STMTS; i++)
    sqlite3_finalize (self->stmts[i]);
  /* The last connection to close checkpoints the WAL and removes it. */
  if (self->db != NULL && sqlite3_close (self->db) != SQLITE_OK)
    g_warning ("%s: close failed: %s", self->path, sqlite3_errmsg (self->db));
  g_mutex_clear (&self->lock);
  g_free (self->path);
  g_free (self->account_id);
  g_free (self);
}

const char *
st_store_get_path (StStore *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->path;
}

const char *
st_store_get_account_id (StStore *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->account_id;
}

int
st_store_get_schema_version (StStore *self)
{
  g_return_val_if_fail (self != NULL, -1);
  return self->schema_version;
}

/* Records */

static gpointer
token_from_row (sqlite3_stmt *stmt)
{
  StStoreToken *token = g_new0 (StStoreToken, 1);

  token->id = col_text (stmt, 0);
  token->name = col_text (stmt, 1);
  st_store_scope_from_string ((const char *) sqlite3_column_text (stmt, 2), &token->scope);
  token->created_on = sqlite3_column_int64 (stmt, 3);
  token->last_used = sqlite3_column_int64 (stmt, 4);  /* NULL reads as 0: never */
  token->revoked = sqlite3_column_int (stmt, 5) != 0;
  return token;
}

static gpointer
ns_from_row (sqlite3_stmt *stmt)
{
  StStoreNamespace *ns = g_new0 (StStoreNamespace, 1);

  ns->id = col_text (stmt, 0);
  ns->name = col_text (stmt, 1);
  ns->description = col_text (stmt, 2);
  ns->created_on = sqlite3_column_int64 (stmt, 3);
  ns->modified_on = sqlite3_column_int64 (stmt, 4);
  return ns;
}

static gpointer
broker_from_row (sqlite3_stmt *stmt)
{
  StStoreBroker *broker = g_new0 (StStoreBroker, 1);

  broker->id = col_text (stmt, 0);
  broker->namespace_id = col_text (stmt, 1);
  broker->namespace_name = col_text (stmt, 2);
  broker->name = col_text (stmt, 3);
  broker->description = col_text (stmt, 4);
  st_store_auth_type_from_string ((const char *) sqlite3_column_text (stmt, 5),
                                  &broker->auth_type);
  broker->expiration = sqlite3_column_type (stmt, 6) == SQLITE_NULL
                       ? -1 : sqlite3_column_int64 (stmt, 6);
  broker->on_publish_url = col_text (stmt, 7);
  broker->on_publish = col_text (stmt, 8);
  broker->created_on = sqlite3_column_int64 (stmt, 9);
  broker->modified_on = sqlite3_column_int64 (stmt, 10);
  return broker;
}

static gpointer
key_from_row (sqlite3_stmt *stmt)
{
  StStoreKey *key = g_new0 (StStoreKey, 1);
  const void *blob;
  int len;

  key->kid = col_text (stmt, 0);
  key->broker_id = col_text (stmt, 1);
  blob = sqlite3_column_blob (stmt, 2);
  len = sqlite3_column_bytes (stmt, 2);
  /* The schema's CHECK guarantees 32 bytes; copy no more than fits anyway. */
  memcpy (key->private_key, blob, MIN ((gsize) len, sizeof key->private_key));
  key->created_on = sqlite3_column_int64 (stmt, 3);
  return key;
}

static gpointer
credential_from_row (sqlite3_stmt *stmt)
{
  StStoreCredential *cred = g_new0 (StStoreCredential, 1);

  cred->broker_id = col_text (stmt, 0);
  cred->jti = col_text (stmt, 1);
  cred->client_id = col_text (stmt, 2);
  cred->iat = sqlite3_column_int64 (stmt, 3);
  cred->exp = sqlite3_column_int64 (stmt, 4);  /* NULL reads as 0: no expiry */
  cred->topic_acl = col_text (stmt, 5);
  cred->revoked = sqlite3_column_int (stmt, 6) != 0;
  return cred;
}

static gpointer
revocation_from_row (sqlite3_stmt *stmt)
{
  StStoreRevocation *rev = g_new0 (StStoreRevocation, 1);

  rev->jti = col_text (stmt, 0);
  rev->revoked_on = sqlite3_column_int64 (stmt, 1);
  return rev;
}

typedef gpointer (*RowFunc) (sqlite3_stmt *stmt);

static GPtrArray *
collect (StStore *self, sqlite3_stmt *stmt, RowFunc row, GDestroyNotify free_func, GError **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (free_func);
  int r;

  while ((r = step_row (self, stmt, error)) == 1)
    g_ptr_array_add (list, row (stmt));
  return r == 0 ? g_steal_pointer (&list) : NULL;
}

/* One row or NOT_FOUND with the given message. */
static gpointer
fetch_one (StStore *self, sqlite3_stmt *stmt, RowFunc row, const char *missing_msg, GError **error)
{
  switch (step_row (self, stmt, error))
    {
    case 1:
      return row (stmt);
    case 0:
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, missing_msg);
      return NULL;
    default:
      return NULL;
    }
}

/* API tokens */

static gboolean
token_insert (StStore *self, const StStoreToken *token, const guint8 *hash, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_TOKEN_INSERT, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, token->id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, token->name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, st_store_scope_to_string (token->scope), -1, SQLITE_STATIC);
  sqlite3_bind_blob (stmt, 4, hash, HASH_LEN, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, token->created_on);
  return step_write (self, stmt, "an API token with this secret already exists", NULL, error);
}

/* The secret is stored only as its SHA-256: a stolen database does not
 * yield working tokens, and 240 random bits need no slow password hash. */
StStoreToken *
st_store_token_create (StStore     *self,
                       const char  *name,
                       StStoreScope scope,
                       char       **secret,
                       GError     **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(StStoreToken) token = NULL;
  g_autofree char *plain = NULL;
  guint8 hash[HASH_LEN];
  gboolean ok;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!text_valid (name, 1, TOKEN_NAME_MAX))
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "a token name is 1 to %d bytes of text", TOKEN_NAME_MAX);
      return NULL;
    }
  if (scope != ST_STORE_SCOPE_READ && scope != ST_STORE_SCOPE_EDIT)
    {
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                           "a token's scope is edit or read");
      return NULL;
    }

  token = g_new0 (StStoreToken, 1);
  token->name = g_strdup (name);
  token->scope = scope;
  token->created_on = g_get_real_time ();
  if ((token->id = random_id (error)) == NULL || (plain = random_secret (error)) == NULL)
    return NULL;
  token_hash (plain, hash);

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return NULL;
  ok = token_insert (self, token, hash, error);
  if (!tx_end (self, ok, error))
    return NULL;
  *secret = g_steal_pointer (&plain);
  return g_steal_pointer (&token);
}

static StStoreToken *
token_by_hash (StStore *self, const guint8 *hash, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_TOKEN_BY_HASH, error);
  const void *stored;
  int r;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_blob (stmt, 1, hash, HASH_LEN, SQLITE_STATIC);
  if ((r = step_row (self, stmt, error)) <= 0)
    {
      if (r == 0)
        g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, "unknown API token");
      return NULL;
    }
  /* The index finds the row by hash; timing there reveals at most a prefix
   * of the hash, not of the secret.  The final decision compares in
   * constant time, whatever SQLite's comparison does. */
  stored = sqlite3_column_blob (stmt, 6);
  if (sqlite3_column_bytes (stmt, 6) != HASH_LEN || CRYPTO_memcmp (stored, hash, HASH_LEN) != 0)
    {
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, "unknown API token");
      return NULL;
    }
  return token_from_row (stmt);
}

static gboolean
token_touch (StStore *self, const char *id, gint64 now, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_TOKEN_TOUCH, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, now);
  return step_write (self, stmt, NULL, NULL, error);
}

StStoreToken *
st_store_token_verify (StStore *self, const char *secret, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(StStoreToken) token = NULL;
  guint8 hash[HASH_LEN];
  gint64 now;
  gboolean ok;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (secret == NULL || *secret == '\0' || strlen (secret) > TOKEN_SECRET_MAX)
    {
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, "unknown API token");
      return NULL;
    }
  token_hash (secret, hash);

  locker = g_mutex_locker_new (&self->lock);
  if ((token = token_by_hash (self, hash, error)) == NULL)
    return NULL;
  if (token->revoked)
    {
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, "API token revoked");
      return NULL;
    }
  /* Every API request verifies its token; recording each use would cost
   * a synchronous write per request, so last_used is kept to the minute. */
  now = g_get_real_time ();
  if (now - token->last_used < LAST_USED_GRANULARITY)
    return g_steal_pointer (&token);
  if (!tx_begin (self, error))
    return NULL;
  ok = token_touch (self, token->id, now, error);
  if (!tx_end (self, ok, error))
    return NULL;
  token->last_used = now;
  return g_steal_pointer (&token);
}

GPtrArray *
st_store_token_list (StStore *self, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto (StStmt) stmt = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new (&self->lock);
  if ((stmt = stmt_get (self, STMT_TOKEN_LIST, error)) == NULL)
    return NULL;
  return collect (self, stmt, token_from_row, (GDestroyNotify) st_store_token_free, error);
}

/* Revoking keeps the row, so lists still show the token and its history. */
static gboolean
token_revoke (StStore *self, const char *id, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_TOKEN_REVOKE, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  if (!step_write (self, stmt, NULL, NULL, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, "no API token with id %s", id);
      return FALSE;
    }
  return TRUE;
}

gboolean
st_store_token_revoke (StStore *self, const char *id, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  gboolean ok;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return FALSE;
  ok = token_revoke (self, id, error);
  return tx_end (self, ok, error);
}

/* Namespaces */

static StStoreNamespace *
ns_read (StStore *self, const char *name, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_NS_GET, error);
  g_autofree char *missing = NULL;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  missing = g_strdup_printf ("no namespace named “%s”", name);
  return fetch_one (self, stmt, ns_from_row, missing, error);
}

static gboolean
ns_insert (StStore *self, const StStoreNamespace *ns, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_NS_INSERT, error);
  g_autofree char *duplicate = NULL;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, ns->id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, ns->name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, ns->description, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, ns->created_on);
  duplicate = g_strdup_printf ("a namespace named “%s” already exists", ns->name);
  return step_write (self, stmt, duplicate, NULL, error);
}

StStoreNamespace *
st_store_namespace_create (StStore    *self,
                           const char *name,
                           const char *description,
                           GError    **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(StStoreNamespace) ns = NULL;
  gboolean ok;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ns = g_new0 (StStoreNamespace, 1);
  if (!st_store_name_valid (name, &ns->name))
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "“%s” is not a valid namespace name: use 1 to 63 letters, digits and "
                   "hyphens, starting with a letter and not ending with a hyphen",
                   name != NULL ? name : "");
      return NULL;
    }
  if (!description_valid (description, error))
    return NULL;
  ns->description = g_strdup (description != NULL ? description : "");
  ns->created_on = ns->modified_on = g_get_real_time ();
  if ((ns->id = random_id (error)) == NULL)
    return NULL;

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return NULL;
  ok = ns_insert (self, ns, error);
  if (!tx_end (self, ok, error))
    return NULL;
  return g_steal_pointer (&ns);
}

StStoreNamespace *
st_store_namespace_get (StStore *self, const char *name, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autofree char *folded = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if ((folded = lookup_name (name, "namespace", error)) == NULL)
    return NULL;
  locker = g_mutex_locker_new (&self->lock);
  return ns_read (self, folded, error);
}

GPtrArray *
st_store_namespace_list (StStore *self, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto (StStmt) stmt = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new (&self->lock);
  if ((stmt = stmt_get (self, STMT_NS_LIST, error)) == NULL)
    return NULL;
  return collect (self, stmt, ns_from_row, (GDestroyNotify) st_store_namespace_free, error);
}

static gboolean
ns_set_description (StStore *self, const char *name, const char *description, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_NS_SET_DESCRIPTION, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, description, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, g_get_real_time ());
  if (!step_write (self, stmt, NULL, NULL, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, "no namespace named “%s”",
                   name);
      return FALSE;
    }
  return TRUE;
}

StStoreNamespace *
st_store_namespace_set_description (StStore    *self,
                                    const char *name,
                                    const char *description,
                                    GError    **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(StStoreNamespace) ns = NULL;
  g_autofree char *folded = NULL;
  gboolean ok;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!description_valid (description, error) ||
      (folded = lookup_name (name, "namespace", error)) == NULL)
    return NULL;

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return NULL;
  ok = ns_set_description (self, folded, description != NULL ? description : "", error) &&
       (ns = ns_read (self, folded, error)) != NULL;
  if (!tx_end (self, ok, error))
    return NULL;
  return g_steal_pointer (&ns);
}

static gboolean
delete_by_name (StStore    *self,
                StmtId      id,
                const char *name1,
                const char *name2,
                const char *missing_msg,
                GError    **error)
{
  g_auto (StStmt) stmt = stmt_get (self, id, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, name1, -1, SQLITE_STATIC);
  if (name2 != NULL)
    sqlite3_bind_text (stmt, 2, name2, -1, SQLITE_STATIC);
  if (!step_write (self, stmt, NULL, NULL, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, missing_msg);
      return FALSE;
    }
  return TRUE;
}

/* Deleting a namespace deletes its brokers and, through them, their keys,
 * credentials and revocations: the foreign keys cascade in one transaction. */
gboolean
st_store_namespace_delete (StStore *self, const char *name, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autofree char *folded = NULL;
  g_autofree char *missing = NULL;
  gboolean ok;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((folded = lookup_name (name, "namespace", error)) == NULL)
    return FALSE;
  missing = g_strdup_printf ("no namespace named “%s”", folded);

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return FALSE;
  ok = delete_by_name (self, STMT_NS_DELETE, folded, NULL, missing, error);
  return tx_end (self, ok, error);
}

/* Brokers */

static gboolean
broker_values_valid (const StStoreBroker *values, StStoreBrokerField fields, GError **error)
{
  if ((fields & ST_STORE_BROKER_DESCRIPTION) && !description_valid (values->description, error))
    return FALSE;
  if ((fields & ST_STORE_BROKER_AUTH_TYPE) &&
      values->auth_type != ST_STORE_AUTH_TOKEN && values->auth_type != ST_STORE_AUTH_NONE)
    {
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                           "authType is TOKEN or NONE");
      return FALSE;
    }
  if ((fields & ST_STORE_BROKER_EXPIRATION) && values->expiration != -1 && values->expiration <= 0)
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "expiration is a number of seconds above 0, or -1 for none (not %"
                   G_GINT64_FORMAT ")", values->expiration);
      return FALSE;
    }
  if ((fields & ST_STORE_BROKER_ON_PUBLISH) &&
      values->on_publish_url != NULL && *values->on_publish_url != '\0')
    {
      const char *url = values->on_publish_url;
      g_autoptr(GUri) uri = NULL;

      if (strlen (url) <= URL_MAX)
        uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
      if (uri == NULL ||
          (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
           g_strcmp0 (g_uri_get_scheme (uri), "https") != 0) ||
          g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
        {
          g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                       "on_publish url “%s” is not an http or https URL", url);
          return FALSE;
        }
    }
  if ((fields & ST_STORE_BROKER_ON_PUBLISH) && values->on_publish != NULL &&
      strlen (values->on_publish) > JSON_MAX)
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "on_publish settings are at most %d bytes", JSON_MAX);
      return FALSE;
    }
  return TRUE;
}

static void
broker_bind_values (sqlite3_stmt *stmt, const StStoreBroker *b,
                    int description, int auth_type, int expiration, int url, int settings)
{
  sqlite3_bind_text (stmt, description, b->description != NULL ? b->description : "", -1,
                     SQLITE_STATIC);
  sqlite3_bind_text (stmt, auth_type, st_store_auth_type_to_string (b->auth_type), -1,
                     SQLITE_STATIC);
  if (b->expiration == -1)
    sqlite3_bind_null (stmt, expiration);
  else
    sqlite3_bind_int64 (stmt, expiration, b->expiration);
  /* An empty URL clears the hook, as the API's PATCH does with "". */
  if (b->on_publish_url != NULL && *b->on_publish_url != '\0')
    sqlite3_bind_text (stmt, url, b->on_publish_url, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (stmt, url);
  sqlite3_bind_text (stmt, settings, b->on_publish, -1, SQLITE_STATIC);
}

static StStoreBroker *
broker_read_by_id (StStore *self, const char *id, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_BROKER_GET_BY_ID, error);
  g_autofree char *missing = NULL;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  missing = g_strdup_printf ("no broker with id %s", id);
  return fetch_one (self, stmt, broker_from_row, missing, error);
}

static StStoreBroker *
broker_read (StStore *self, const char *ns_name, const char *name, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_BROKER_GET, error);
  g_autofree char *missing = NULL;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, ns_name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
  missing = g_strdup_printf ("no broker named “%s” in namespace “%s”", name, ns_name);
  return fetch_one (self, stmt, broker_from_row, missing, error);
}

static gboolean
broker_insert (StStore             *self,
               const char          *id,
               const char          *ns_name,
               const char          *name,
               const StStoreBroker *values,
               GError             **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_BROKER_INSERT, error);
  g_autofree char *duplicate = NULL;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, ns_name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, name, -1, SQLITE_STATIC);
  broker_bind_values (stmt, values, 4, 5, 6, 7, 8);
  sqlite3_bind_int64 (stmt, 9, g_get_real_time ());
  duplicate = g_strdup_printf ("a broker named “%s” already exists in namespace “%s”",
                               name, ns_name);
  if (!step_write (self, stmt, duplicate, NULL, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, "no namespace named “%s”",
                   ns_name);
      return FALSE;
    }
  return TRUE;
}

StStoreBroker *
st_store_broker_create (StStore             *self,
                        const char          *namespace_name,
                        const StStoreBroker *values,
                        GError             **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(StStoreBroker) broker = NULL;
  g_autofree char *ns = NULL;
  g_autofree char *name = NULL;
  g_autofree char *id = NULL;
  gboolean ok;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (values != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!st_store_name_valid (values->name, &name))
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "“%s” is not a valid broker name: use 1 to 63 letters, digits and "
                   "hyphens, starting with a letter and not ending with a hyphen",
                   values->name != NULL ? values->name : "");
      return NULL;
    }
  if (!broker_values_valid (values, ~0, error) ||
      (ns = lookup_name (namespace_name, "namespace", error)) == NULL ||
      (id = random_id (error)) == NULL)
    return NULL;

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return NULL;
  ok = broker_insert (self, id, ns, name, values, error) &&
       (broker = broker_read_by_id (self, id, error)) != NULL;
  if (!tx_end (self, ok, error))
    return NULL;
  return g_steal_pointer (&broker);
}

StStoreBroker *
st_store_broker_get (StStore    *self,
                     const char *namespace_name,
                     const char *name,
                     GError    **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autofree char *ns = NULL;
  g_autofree char *folded = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if ((ns = lookup_name (namespace_name, "namespace", error)) == NULL ||
      (folded = lookup_name (name, "broker", error)) == NULL)
    return NULL;
  locker = g_mutex_locker_new (&self->lock);
  return broker_read (self, ns, folded, error);
}

StStoreBroker *
st_store_broker_get_by_id (StStore *self, const char *id, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new (&self->lock);
  return broker_read_by_id (self, id, error);
}

/* namespace_name NULL lists every broker (for the tenant snapshot); an
 * unknown namespace is NOT_FOUND rather than an empty list. */
GPtrArray *
st_store_broker_list (StStore *self, const char *namespace_name, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(StStoreNamespace) ns = NULL;
  g_auto (StStmt) stmt = NULL;
  g_autofree char *folded = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (namespace_name != NULL && (folded = lookup_name (namespace_name, "namespace", error)) == NULL)
    return NULL;
  locker = g_mutex_locker_new (&self->lock);
  if (folded != NULL && (ns = ns_read (self, folded, error)) == NULL)
    return NULL;
  stmt = stmt_get (self, folded != NULL ? STMT_BROKER_LIST_NS : STMT_BROKER_LIST_ALL, error);
  if (stmt == NULL)
    return NULL;
  if (folded != NULL)
    sqlite3_bind_text (stmt, 1, folded, -1, SQLITE_STATIC);
  return collect (self, stmt, broker_from_row, (GDestroyNotify) st_store_broker_free, error);
}

static gboolean
broker_write (StStore *self, const StStoreBroker *b, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_BROKER_UPDATE, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, b->id, -1, SQLITE_STATIC);
  broker_bind_values (stmt, b, 2, 3, 4, 5, 6);
  sqlite3_bind_int64 (stmt, 7, g_get_real_time ());
  return step_write (self, stmt, NULL, NULL, error);
}

static void
replace_string (char **dest, const char *src)
{
  g_free (*dest);
  *dest = g_strdup (src);
}

StStoreBroker *
st_store_broker_update (StStore             *self,
                        const char          *namespace_name,
                        const char          *name,
                        const StStoreBroker *values,
                        StStoreBrokerField   fields,
                        GError             **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(StStoreBroker) current = NULL;
  g_autoptr(StStoreBroker) updated = NULL;
  g_autofree char *ns = NULL;
  g_autofree char *folded = NULL;
  gboolean ok;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (values != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!broker_values_valid (values, fields, error) ||
      (ns = lookup_name (namespace_name, "namespace", error)) == NULL ||
      (folded = lookup_name (name, "broker", error)) == NULL)
    return NULL;

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return NULL;
  /* Read, change and write under the write lock so concurrent PATCHes of
   * different fields do not undo each other. */
  ok = (current = broker_read (self, ns, folded, error)) != NULL;
  if (ok)
    {
      if (fields & ST_STORE_BROKER_DESCRIPTION)
        replace_string (&current->description,
                        values->description != NULL ? values->description : "");
      if (fields & ST_STORE_BROKER_AUTH_TYPE)
        current->auth_type = values->auth_type;
      if (fields & ST_STORE_BROKER_EXPIRATION)
        current->expiration = values->expiration;
      if (fields & ST_STORE_BROKER_ON_PUBLISH)
        {
          replace_string (&current->on_publish_url, values->on_publish_url);
          replace_string (&current->on_publish, values->on_publish);
        }
      ok = broker_write (self, current, error) &&
           (updated = broker_read_by_id (self, current->id, error)) != NULL;
    }
  if (!tx_end (self, ok, error))
    return NULL;
  return g_steal_pointer (&updated);
}

gboolean
st_store_broker_delete (StStore    *self,
                        const char *namespace_name,
                        const char *name,
                        GError    **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autofree char *ns = NULL;
  g_autofree char *folded = NULL;
  g_autofree char *missing = NULL;
  gboolean ok;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((ns = lookup_name (namespace_name, "namespace", error)) == NULL ||
      (folded = lookup_name (name, "broker", error)) == NULL)
    return FALSE;
  missing = g_strdup_printf ("no broker named “%s” in namespace “%s”", folded, ns);

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return FALSE;
  ok = delete_by_name (self, STMT_BROKER_DELETE, ns, folded, missing, error);
  return tx_end (self, ok, error);
}

/* Signing keys */

static gboolean
key_insert (StStore *self, const StStoreKey *key, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_KEY_INSERT, error);
  g_autofree char *duplicate = NULL;
  g_autofree char *missing = NULL;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key->kid, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, key->broker_id, -1, SQLITE_STATIC);
  sqlite3_bind_blob (stmt, 3, key->private_key, sizeof key->private_key, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, key->created_on);
  duplicate = g_strdup_printf ("a signing key with kid %s already exists", key->kid);
  missing = g_strdup_printf ("no broker with id %s", key->broker_id);
  return step_write (self, stmt, duplicate, missing, error);
}

/* kid is unique across brokers, not only within one: a connection is
 * routed to its broker by the kid in its token. */
StStoreKey *
st_store_key_add (StStore      *self,
                  const char   *broker_id,
                  const char   *kid,
                  const guint8 *private_key,
                  GError      **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(StStoreKey) key = NULL;
  gboolean ok;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (broker_id != NULL, NULL);
  g_return_val_if_fail (private_key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ident_valid (kid))
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "a kid is 1 to %d printable ASCII characters without spaces or commas",
                   IDENT_MAX);
      return NULL;
    }
  key = g_new0 (StStoreKey, 1);
  key->kid = g_strdup (kid);
  key->broker_id = g_strdup (broker_id);
  memcpy (key->private_key, private_key, sizeof key->private_key);
  key->created_on = g_get_real_time ();

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return NULL;
  ok = key_insert (self, key, error);
  if (!tx_end (self, ok, error))
    return NULL;
  return g_steal_pointer (&key);
}

StStoreKey *
st_store_key_lookup (StStore *self, const char *kid, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto (StStmt) stmt = NULL;
  g_autofree char *missing = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (kid != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  missing = g_strdup_printf ("no signing key with kid %s", kid);
  locker = g_mutex_locker_new (&self->lock);
  if ((stmt = stmt_get (self, STMT_KEY_LOOKUP, error)) == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, kid, -1, SQLITE_STATIC);
  return fetch_one (self, stmt, key_from_row, missing, error);
}

/* Oldest first, so the newest (the one to sign with) is last. */
GPtrArray *
st_store_key_list (StStore *self, const char *broker_id, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto (StStmt) stmt = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (broker_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new (&self->lock);
  if ((stmt = stmt_get (self, STMT_KEY_LIST, error)) == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, broker_id, -1, SQLITE_STATIC);
  return collect (self, stmt, key_from_row, (GDestroyNotify) st_store_key_free, error);
}

/* Keys are deleted, not flagged: a removed key must stop verifying, and
 * its private half has no reason to stay on disk (secure_delete). */
gboolean
st_store_key_remove (StStore *self, const char *broker_id, const char *kid, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autofree char *missing = NULL;
  gboolean ok;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (broker_id != NULL, FALSE);
  g_return_val_if_fail (kid != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  missing = g_strdup_printf ("no signing key with kid %s on broker %s", kid, broker_id);
  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return FALSE;
  ok = delete_by_name (self, STMT_KEY_DELETE, broker_id, kid, missing, error);
  return tx_end (self, ok, error);
}

/* Credentials */

static gboolean
credential_valid (const StStoreCredential *cred, GError **error)
{
  if (!ident_valid (cred->jti))
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "a jti is 1 to %d printable ASCII characters without spaces or commas",
                   IDENT_MAX);
      return FALSE;
    }
  if (cred->client_id == NULL || !text_valid (cred->client_id, 1, CLIENT_ID_MAX))
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "credential %s: a client id is 1 to %d bytes of text", cred->jti,
                   CLIENT_ID_MAX);
      return FALSE;
    }
  if (cred->iat < 0 || cred->exp < 0 || (cred->exp != 0 && cred->exp < cred->iat))
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "credential %s: iat and exp are seconds since 1970, exp not before iat",
                   cred->jti);
      return FALSE;
    }
  if (cred->topic_acl == NULL || strlen (cred->topic_acl) > JSON_MAX)
    {
      g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                   "credential %s: topicAcl is JSON text of at most %d bytes", cred->jti,
                   JSON_MAX);
      return FALSE;
    }
  return TRUE;
}

static gboolean
credential_insert (StStore *self, const char *broker_id, const StStoreCredential *cred,
                   GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_CRED_INSERT, error);
  g_autofree char *duplicate = NULL;
  g_autofree char *missing = NULL;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, broker_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, cred->jti, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, cred->client_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, cred->iat);
  if (cred->exp == 0)
    sqlite3_bind_null (stmt, 5);
  else
    sqlite3_bind_int64 (stmt, 5, cred->exp);
  sqlite3_bind_text (stmt, 6, cred->topic_acl, -1, SQLITE_STATIC);
  duplicate = g_strdup_printf ("a credential with jti %s already exists", cred->jti);
  missing = g_strdup_printf ("no broker with id %s", broker_id);
  if (step_write (self, stmt, duplicate, missing, error))
    return TRUE;
  if (error != NULL && g_error_matches (*error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID))
    g_prefix_error (error, "credential %s: topicAcl is not JSON: ", cred->jti);
  return FALSE;
}

/* All or nothing: one API call issues up to 100 credentials, and the
 * caller hands out the tokens only if every one was recorded. */
gboolean
st_store_credentials_add (StStore                  *self,
                          const char               *broker_id,
                          StStoreCredential *const *credentials,
                          guint                     n_credentials,
                          GError                  **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (broker_id != NULL, FALSE);
  g_return_val_if_fail (credentials != NULL || n_credentials == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < n_credentials; i++)
    if (!credential_valid (credentials[i], error))
      return FALSE;

  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return FALSE;
  for (guint i = 0; ok && i < n_credentials; i++)
    ok = credential_insert (self, broker_id, credentials[i], error);
  return tx_end (self, ok, error);
}

/* client_id NULL lists all of the broker's credentials, oldest first. */
GPtrArray *
st_store_credential_list (StStore    *self,
                          const char *broker_id,
                          const char *client_id,
                          GError    **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto (StStmt) stmt = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (broker_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new (&self->lock);
  stmt = stmt_get (self, client_id != NULL ? STMT_CRED_LIST_CLIENT : STMT_CRED_LIST, error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, broker_id, -1, SQLITE_STATIC);
  if (client_id != NULL)
    sqlite3_bind_text (stmt, 2, client_id, -1, SQLITE_STATIC);
  return collect (self, stmt, credential_from_row, (GDestroyNotify) st_store_credential_free,
                  error);
}

/* Revocations */

static gboolean
jtis_valid (const char *const *jtis, GError **error)
{
  if (jtis == NULL || jtis[0] == NULL)
    {
      g_set_error_literal (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID, "no jti given");
      return FALSE;
    }
  for (guint i = 0; jtis[i] != NULL; i++)
    if (!ident_valid (jtis[i]))
      {
        g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID,
                     "“%s” is not a jti: 1 to %d printable ASCII characters without spaces "
                     "or commas", jtis[i], IDENT_MAX);
        return FALSE;
      }
  return TRUE;
}

static gboolean
revocation_write (StStore *self, StmtId id, const char *broker_id, const char *jti, gint64 now,
                  GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, id, error);
  g_autofree char *missing = NULL;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, broker_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, jti, -1, SQLITE_STATIC);
  if (id == STMT_REV_INSERT)
    sqlite3_bind_int64 (stmt, 3, now);
  missing = g_strdup_printf ("no broker with id %s", broker_id);
  return step_write (self, stmt, NULL, missing, error);
}

static gboolean
broker_exists (StStore *self, const char *broker_id, GError **error)
{
  g_auto (StStmt) stmt = stmt_get (self, STMT_BROKER_EXISTS, error);
  int r;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, broker_id, -1, SQLITE_STATIC);
  if ((r = step_row (self, stmt, error)) == 0)
    g_set_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND, "no broker with id %s",
                 broker_id);
  return r == 1;
}

static gboolean
revocations_change (StStore *self, StmtId id, const char *broker_id, const char *const *jtis,
                    GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  gint64 now = g_get_real_time ();
  gboolean ok;

  if (!jtis_valid (jtis, error))
    return FALSE;
  locker = g_mutex_locker_new (&self->lock);
  if (!tx_begin (self, error))
    return FALSE;
  /* A DELETE matching nothing cannot tell an unknown broker from an
   * unknown jti, so check the broker; INSERT has its foreign key. */
  ok = id != STMT_REV_DELETE || broker_exists (self, broker_id, error);
  for (guint i = 0; ok && jtis[i] != NULL; i++)
    ok = revocation_write (self, id, broker_id, jtis[i], now, error);
  return tx_end (self, ok, error);
}

gboolean
st_store_revocations_add (StStore *self, const char *broker_id, const char *const *jtis,
                          GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (broker_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return revocations_change (self, STMT_REV_INSERT, broker_id, jtis, error);
}

gboolean
st_store_revocations_remove (StStore *self, const char *broker_id, const char *const *jtis,
                             GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (broker_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return revocations_change (self, STMT_REV_DELETE, broker_id, jtis, error);
}

GPtrArray *
st_store_revocation_list (StStore *self, const char *broker_id, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto (StStmt) stmt = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (broker_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new (&self->lock);
  if ((stmt = stmt_get (self, STMT_REV_LIST, error)) == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, broker_id, -1, SQLITE_STATIC);
  return collect (self, stmt, revocation_from_row, (GDestroyNotify) st_store_revocation_free,
                  error);
}

/* Freeing */

void
st_store_token_free (StStoreToken *token)
{
  if (token == NULL)
    return;
  g_free (token->id);
  g_free (token->name);
  g_free (token);
}

void
st_store_namespace_free (StStoreNamespace *ns)
{
  if (ns == NULL)
    return;
  g_free (ns->id);
  g_free (ns->name);
  g_free (ns->description);
  g_free (ns);
}

void
st_store_broker_free (StStoreBroker *broker)
{
  if (broker == NULL)
    return;
  g_free (broker->id);
  g_free (broker->namespace_id);
  g_free (broker->namespace_name);
  g_free (broker->name);
  g_free (broker->description);
  g_free (broker->on_publish_url);
  g_free (broker->on_publish);
  g_free (broker);
}

void
st_store_key_free (StStoreKey *key)
{
  if (key == NULL)
    return;
  OPENSSL_cleanse (key->private_key, sizeof key->private_key);
  g_free (key->kid);
  g_free (key->broker_id);
  g_free (key);
}

void
st_store_credential_free (StStoreCredential *cred)
{
  if (cred == NULL)
    return;
  g_free (cred->broker_id);
  g_free (cred->jti);
  g_free (cred->client_id);
  g_free (cred->topic_acl);
  g_free (cred);
}

void
st_store_revocation_free (StStoreRevocation *rev)
{
  if (rev == NULL)
    return;
  g_free (rev->jti);
  g_free (rev);
}
