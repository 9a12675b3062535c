/* The control-plane store, on real SQLite files in the test's own data
 * directory: schema versions, the account, API tokens, namespaces, brokers,
 * keys, credentials, revocations, and that an interrupted write or
 * migration leaves the previous state. */
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "store/st-store.h"
#include "store/st-store-private.h"

/* G_TEST_OPTION_ISOLATE_DIRS gives each test its own, fresh data dir. */
static char *
data_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "starling", NULL);
}

static char *
db_path (void)
{
  g_autofree char *dir = data_dir ();

  return g_build_filename (dir, ST_STORE_FILE_NAME, NULL);
}

static StStore *
open_store (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = data_dir ();
  StStore *store = st_store_open (dir, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

/* Looks at the file with a connection of its own, not through the store. */
static gint64
raw_int (const char *sql)
{
  g_autofree char *path = db_path ();
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

static void
raw_exec (const char *sql)
{
  g_autofree char *path = db_path ();
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static gboolean
is_hex_id (const char *id)
{
  if (id == NULL || strlen (id) != ST_STORE_ID_LEN)
    return FALSE;
  for (const char *p = id; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

static StStoreBroker *
make_broker (StStore *store, const char *ns, const char *name)
{
  g_autoptr(GError) error = NULL;
  StStoreBroker values = { .name = (char *) name, .expiration = -1 };
  StStoreBroker *broker = st_store_broker_create (store, ns, &values, &error);

  g_assert_no_error (error);
  g_assert_nonnull (broker);
  return broker;
}

static void
test_open_reopen (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = db_path ();
  g_autofree char *account = NULL;
  g_autoptr(StStoreNamespace) ns = NULL;
  StStore *store;
  GStatBuf st;

  store = open_store ();
  g_assert_cmpstr (st_store_get_path (store), ==, path);
  g_assert_true (is_hex_id (st_store_get_account_id (store)));
  account = g_strdup (st_store_get_account_id (store));
  g_assert_cmpint (st_store_get_schema_version (store), ==, st_store_n_migrations);
  ns = st_store_namespace_create (store, "kept", "survives a reopen", &error);
  g_assert_no_error (error);

  /* Owner-only: the file holds signing keys and token hashes. */
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (raw_int ("PRAGMA user_version"), ==, st_store_n_migrations);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM account"), ==, 1);
  g_assert_cmpint (raw_int ("SELECT journal_mode = 'wal' FROM pragma_journal_mode"), ==, 1);
  st_store_free (store);
  g_clear_pointer (&ns, st_store_namespace_free);

  store = open_store ();
  g_assert_cmpstr (st_store_get_account_id (store), ==, account);
  g_assert_cmpint (st_store_get_schema_version (store), ==, st_store_n_migrations);
  ns = st_store_namespace_get (store, "kept", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ns->description, ==, "survives a reopen");
  st_store_free (store);

  g_assert_cmpint (raw_int ("SELECT count (*) FROM account"), ==, 1);
  g_assert_cmpint (raw_int ("PRAGMA user_version"), ==, st_store_n_migrations);
}

static void
test_open_newer_schema (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = data_dir ();
  g_autoptr(StStore) store = open_store ();

  g_clear_pointer (&store, st_store_free);
  raw_exec ("PRAGMA user_version = 999");
  store = st_store_open (dir, &error);
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED);
  g_assert_null (store);
  g_assert_cmpint (raw_int ("PRAGMA user_version"), ==, 999);
}

static void
test_name_valid (void)
{
  static const struct {
    const char *name;
    const char *folded;   /* NULL: invalid */
  } cases[] = {
    { "a", "a" },
    { "dev", "dev" },
    { "My-Broker-2", "my-broker-2" },
    { "a0-9z", "a0-9z" },
    { "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk",
      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk" },
    { "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", NULL },
    { "", NULL },
    { "-a", NULL },
    { "a-", NULL },
    { "0a", NULL },
    { "a_b", NULL },
    { "a.b", NULL },
    { "a b", NULL },
    { "caf\xc3\xa9", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *folded = NULL;
      gboolean valid = st_store_name_valid (cases[i].name, &folded);

      g_assert_cmpint (valid, ==, cases[i].folded != NULL);
      g_assert_cmpstr (folded, ==, cases[i].folded);
    }
  g_assert_false (st_store_name_valid (NULL, NULL));
  g_assert_true (st_store_name_valid ("OK", NULL));
}

static void
test_time_format (void)
{
  g_autoptr(GDateTime) dt = g_date_time_new_utc (2026, 11, 25, 18, 2, 3);
  gint64 usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + 123456;
  g_autofree char *s = st_store_time_format (usec);
  g_autofree char *early = NULL;

  early = st_store_time_format (G_GINT64_CONSTANT (946684800) * G_USEC_PER_SEC + 1);

  g_assert_cmpstr (s, ==, "2026-11-25T18:02:03.123456Z");
  g_assert_cmpstr (early, ==, "2000-01-01T00:00:00.000001Z");
  g_assert_null (st_store_time_format (0));
}

static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *data = NULL;
  gsize len;

  if (!g_file_get_contents (path, &data, &len, NULL))
    return FALSE;
  return memmem (data, len, needle, strlen (needle)) != NULL;
}

static void
test_tokens (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(StStoreToken) edit = NULL;
  g_autoptr(StStoreToken) read = NULL;
  g_autoptr(StStoreToken) verified = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *edit_secret = NULL;
  g_autofree char *read_secret = NULL;
  g_autofree char *bad_secret = NULL;
  g_autofree char *path = db_path ();
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  char *secret = NULL;
  gint64 last_used;

  edit = st_store_token_create (store, "ci deploy", ST_STORE_SCOPE_EDIT, &edit_secret, &error);
  g_assert_no_error (error);
  g_assert_true (is_hex_id (edit->id));
  g_assert_cmpint (edit->scope, ==, ST_STORE_SCOPE_EDIT);
  g_assert_cmpint (edit->last_used, ==, 0);
  g_assert_false (edit->revoked);
  g_assert_cmpuint (strlen (edit_secret), ==, ST_STORE_TOKEN_SECRET_LEN);
  for (const char *p = edit_secret; *p != '\0'; p++)
    g_assert_true (g_ascii_isalnum (*p) || *p == '-' || *p == '_');

  read = st_store_token_create (store, "dashboard", ST_STORE_SCOPE_READ, &read_secret, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (read_secret, !=, edit_secret);

  /* Only the hash is kept: the secret is nowhere in the files. */
  g_assert_false (file_contains (path, edit_secret));
  g_assert_false (file_contains (wal, edit_secret));
  g_assert_cmpint (raw_int ("SELECT count (*) FROM api_tokens WHERE length (hash) = 32"), ==, 2);

  verified = st_store_token_verify (store, edit_secret, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (verified->id, ==, edit->id);
  g_assert_cmpstr (verified->name, ==, "ci deploy");
  g_assert_cmpint (verified->scope, ==, ST_STORE_SCOPE_EDIT);
  g_assert_cmpint (verified->last_used, >=, edit->created_on);
  last_used = verified->last_used;
  g_clear_pointer (&verified, st_store_token_free);

  /* Used again within the minute: the recorded time stays. */
  verified = st_store_token_verify (store, edit_secret, &error);
  g_assert_no_error (error);
  g_assert_cmpint (verified->last_used, ==, last_used);
  g_clear_pointer (&verified, st_store_token_free);
  g_assert_cmpint (raw_int ("SELECT max (last_used) FROM api_tokens"), ==, last_used);

  verified = st_store_token_verify (store, read_secret, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (verified->id, ==, read->id);
  g_assert_cmpint (verified->scope, ==, ST_STORE_SCOPE_READ);
  g_clear_pointer (&verified, st_store_token_free);

  /* One character off, empty, absent: all unknown. */
  bad_secret = g_strdup (edit_secret);
  bad_secret[0] = bad_secret[0] == 'A' ? 'B' : 'A';
  g_assert_null (st_store_token_verify (store, bad_secret, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (st_store_token_verify (store, "", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  list = st_store_token_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  for (guint i = 0; i < list->len; i++)
    {
      StStoreToken *t = g_ptr_array_index (list, i);

      g_assert_true (g_str_equal (t->id, edit->id) || g_str_equal (t->id, read->id));
      g_assert_cmpint (t->last_used, >, 0);
      g_assert_false (t->revoked);
    }
  g_clear_pointer (&list, g_ptr_array_unref);

  g_assert_true (st_store_token_revoke (store, edit->id, &error));
  g_assert_no_error (error);
  g_assert_null (st_store_token_verify (store, edit_secret, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  verified = st_store_token_verify (store, read_secret, &error);
  g_assert_no_error (error);
  g_assert_nonnull (verified);

  list = st_store_token_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  for (guint i = 0; i < list->len; i++)
    {
      StStoreToken *t = g_ptr_array_index (list, i);

      g_assert_cmpint (t->revoked, ==, g_str_equal (t->id, edit->id));
    }

  g_assert_false (st_store_token_revoke (store, "0123456789abcdef0123456789abcdef", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (st_store_token_create (store, "", ST_STORE_SCOPE_READ, &secret, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_assert_null (secret);
}

static void
test_namespaces (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(StStoreNamespace) alpha = NULL;
  g_autoptr(StStoreNamespace) beta = NULL;
  g_autoptr(StStoreNamespace) got = NULL;
  g_autoptr(StStoreNamespace) changed = NULL;
  g_autoptr(GPtrArray) list = NULL;
  static const char *const invalid[] = { "", "-x", "x-", "a_b", "9lives",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl" };

  alpha = st_store_namespace_create (store, "Alpha", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (is_hex_id (alpha->id));
  g_assert_cmpstr (alpha->name, ==, "alpha");
  g_assert_cmpstr (alpha->description, ==, "");
  g_assert_cmpint (alpha->created_on, >, 0);
  g_assert_cmpint (alpha->modified_on, ==, alpha->created_on);

  beta = st_store_namespace_create (store, "beta", "second", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (beta->id, !=, alpha->id);

  g_assert_null (st_store_namespace_create (store, "alpha", NULL, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);
  g_assert_null (st_store_namespace_create (store, "ALPHA", NULL, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);

  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_assert_null (st_store_namespace_create (store, invalid[i], NULL, &error));
      g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
      g_clear_error (&error);
    }
  g_assert_null (st_store_namespace_create (store, "gamma", "bad \xff utf-8", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);

  got = st_store_namespace_get (store, "aLpHa", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->id, ==, alpha->id);
  g_assert_cmpstr (got->name, ==, "alpha");
  g_clear_pointer (&got, st_store_namespace_free);
  g_assert_null (st_store_namespace_get (store, "gamma", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (st_store_namespace_get (store, "not_valid", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  list = st_store_namespace_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((StStoreNamespace *) list->pdata[0])->name, ==, "alpha");
  g_assert_cmpstr (((StStoreNamespace *) list->pdata[1])->name, ==, "beta");
  g_clear_pointer (&list, g_ptr_array_unref);

  changed = st_store_namespace_set_description (store, "ALPHA", "first", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (changed->description, ==, "first");
  g_assert_cmpint (changed->created_on, ==, alpha->created_on);
  g_assert_cmpint (changed->modified_on, >=, alpha->modified_on);
  g_assert_null (st_store_namespace_set_description (store, "gamma", "x", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (st_store_namespace_delete (store, "Beta", &error));
  g_assert_no_error (error);
  g_assert_false (st_store_namespace_delete (store, "beta", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (st_store_namespace_get (store, "beta", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  list = st_store_namespace_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
}

static void
test_brokers (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(StStoreNamespace) one = NULL;
  g_autoptr(StStoreNamespace) two = NULL;
  g_autoptr(StStoreBroker) a = NULL;
  g_autoptr(StStoreBroker) b = NULL;
  g_autoptr(StStoreBroker) got = NULL;
  g_autoptr(StStoreBroker) patched = NULL;
  g_autoptr(GPtrArray) list = NULL;
  StStoreBroker values = {
    .name = (char *) "Local",
    .description = (char *) "for tests",
    .auth_type = ST_STORE_AUTH_NONE,
    .expiration = 3600,
    .on_publish_url = (char *) "https://hooks.example.com/publish",
    .on_publish = (char *) "{\"url\":\"https://hooks.example.com/publish\"}",
  };
  StStoreBroker patch = { 0 };

  one = st_store_namespace_create (store, "one", NULL, &error);
  g_assert_no_error (error);
  two = st_store_namespace_create (store, "two", NULL, &error);
  g_assert_no_error (error);

  a = st_store_broker_create (store, "One", &values, &error);
  g_assert_no_error (error);
  g_assert_true (is_hex_id (a->id));
  g_assert_cmpstr (a->name, ==, "local");
  g_assert_cmpstr (a->namespace_id, ==, one->id);
  g_assert_cmpstr (a->namespace_name, ==, "one");
  g_assert_cmpstr (a->description, ==, "for tests");
  g_assert_cmpint (a->auth_type, ==, ST_STORE_AUTH_NONE);
  g_assert_cmpint (a->expiration, ==, 3600);
  g_assert_cmpstr (a->on_publish_url, ==, "https://hooks.example.com/publish");
  g_assert_cmpstr (a->on_publish, ==, values.on_publish);
  g_assert_cmpint (a->modified_on, ==, a->created_on);

  /* The same name in another namespace is another broker. */
  b = make_broker (store, "two", "local");
  g_assert_cmpstr (b->namespace_id, ==, two->id);
  g_assert_cmpstr (b->id, !=, a->id);
  g_assert_cmpint (b->auth_type, ==, ST_STORE_AUTH_TOKEN);
  g_assert_cmpint (b->expiration, ==, -1);
  g_assert_null (b->on_publish_url);
  g_assert_cmpstr (b->description, ==, "");

  values.name = (char *) "LOCAL";
  g_assert_null (st_store_broker_create (store, "one", &values, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);

  values.name = (char *) "other";
  g_assert_null (st_store_broker_create (store, "three", &values, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  values.name = (char *) "bad_name";
  g_assert_null (st_store_broker_create (store, "one", &values, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);

  values.name = (char *) "other";
  values.expiration = 0;
  g_assert_null (st_store_broker_create (store, "one", &values, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);
  values.expiration = -1;
  values.on_publish_url = (char *) "ftp://example.com/";
  g_assert_null (st_store_broker_create (store, "one", &values, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);
  values.on_publish_url = NULL;
  values.on_publish = (char *) "{not json";
  g_assert_null (st_store_broker_create (store, "one", &values, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);
  /* None of the rejected ones was written. */
  g_assert_cmpint (raw_int ("SELECT count (*) FROM brokers"), ==, 2);

  got = st_store_broker_get (store, "ONE", "Local", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->id, ==, a->id);
  g_clear_pointer (&got, st_store_broker_free);
  got = st_store_broker_get_by_id (store, b->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->namespace_name, ==, "two");
  g_clear_pointer (&got, st_store_broker_free);
  g_assert_null (st_store_broker_get (store, "one", "missing", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  st_store_broker_free (make_broker (store, "one", "another"));
  list = st_store_broker_list (store, "one", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((StStoreBroker *) list->pdata[0])->name, ==, "another");
  g_assert_cmpstr (((StStoreBroker *) list->pdata[1])->name, ==, "local");
  g_clear_pointer (&list, g_ptr_array_unref);
  list = st_store_broker_list (store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  g_clear_pointer (&list, g_ptr_array_unref);
  g_assert_null (st_store_broker_list (store, "three", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* PATCH: only the named fields change; "" clears the hook. */
  patch.description = (char *) "patched";
  patch.expiration = -1;
  patch.on_publish_url = (char *) "";
  patched = st_store_broker_update (store, "one", "local", &patch,
                                    ST_STORE_BROKER_DESCRIPTION | ST_STORE_BROKER_EXPIRATION |
                                    ST_STORE_BROKER_ON_PUBLISH, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (patched->description, ==, "patched");
  g_assert_cmpint (patched->expiration, ==, -1);
  g_assert_null (patched->on_publish_url);
  g_assert_null (patched->on_publish);
  g_assert_cmpint (patched->auth_type, ==, ST_STORE_AUTH_NONE);
  g_assert_cmpint (patched->created_on, ==, a->created_on);
  g_assert_cmpint (patched->modified_on, >=, a->modified_on);
  g_clear_pointer (&patched, st_store_broker_free);

  patch.expiration = -5;
  g_assert_null (st_store_broker_update (store, "one", "local", &patch,
                                         ST_STORE_BROKER_EXPIRATION, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);
  patch.auth_type = ST_STORE_AUTH_TOKEN;
  patched = st_store_broker_update (store, "one", "local", &patch, ST_STORE_BROKER_AUTH_TYPE,
                                    &error);
  g_assert_no_error (error);
  g_assert_cmpint (patched->auth_type, ==, ST_STORE_AUTH_TOKEN);
  g_assert_cmpstr (patched->description, ==, "patched");
  g_assert_null (st_store_broker_update (store, "one", "missing", &patch,
                                         ST_STORE_BROKER_AUTH_TYPE, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (st_store_broker_delete (store, "one", "LOCAL", &error));
  g_assert_no_error (error);
  g_assert_false (st_store_broker_delete (store, "one", "local", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* The namesake in the other namespace is untouched. */
  got = st_store_broker_get (store, "two", "local", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->id, ==, b->id);
}

static void
fill_key (guint8 *key, guint8 seed)
{
  for (guint i = 0; i < ST_STORE_PRIVATE_KEY_LEN; i++)
    key[i] = (guint8) (seed + i);
}

static void
test_keys (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(StStoreNamespace) ns = st_store_namespace_create (store, "ns", NULL, NULL);
  g_autoptr(StStoreBroker) a = make_broker (store, "ns", "a");
  g_autoptr(StStoreBroker) b = make_broker (store, "ns", "b");
  g_autoptr(StStoreKey) k1 = NULL;
  g_autoptr(StStoreKey) k2 = NULL;
  g_autoptr(StStoreKey) found = NULL;
  g_autoptr(GPtrArray) list = NULL;
  guint8 priv1[ST_STORE_PRIVATE_KEY_LEN];
  guint8 priv2[ST_STORE_PRIVATE_KEY_LEN];

  fill_key (priv1, 1);
  fill_key (priv2, 100);
  k1 = st_store_key_add (store, a->id, "kid-one", priv1, &error);
  g_assert_no_error (error);
  k2 = st_store_key_add (store, a->id, "kid-two", priv2, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (k2->private_key, sizeof priv2, priv2, sizeof priv2);

  /* kid routes a connection, so it is unique across brokers too. */
  g_assert_null (st_store_key_add (store, b->id, "kid-one", priv2, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);
  g_assert_null (st_store_key_add (store, "0123456789abcdef0123456789abcdef", "kid-3", priv1,
                                   &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (st_store_key_add (store, a->id, "has space", priv1, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);

  found = st_store_key_lookup (store, "kid-one", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found->broker_id, ==, a->id);
  g_assert_cmpmem (found->private_key, sizeof priv1, priv1, sizeof priv1);
  g_assert_cmpint (raw_int ("SELECT length (private_key) FROM signing_keys WHERE kid = 'kid-one'"),
                   ==, ST_STORE_PRIVATE_KEY_LEN);

  list = st_store_key_list (store, a->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((StStoreKey *) list->pdata[0])->kid, ==, "kid-one");
  g_assert_cmpstr (((StStoreKey *) list->pdata[1])->kid, ==, "kid-two");
  g_clear_pointer (&list, g_ptr_array_unref);
  list = st_store_key_list (store, b->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  g_assert_false (st_store_key_remove (store, b->id, "kid-one", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (st_store_key_remove (store, a->id, "kid-one", &error));
  g_assert_no_error (error);
  g_clear_pointer (&found, st_store_key_free);
  g_assert_null (st_store_key_lookup (store, "kid-one", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  list = st_store_key_list (store, a->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
}

/* jtis shaped like the ULIDs the daemon issues */
#define ULID(n) "01JQ000000000000000000000" #n

static GPtrArray *
credential_array (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) st_store_credential_free);
}

static StStoreCredential *
make_credential (const char *jti, const char *client_id, gint64 iat, gint64 exp, const char *acl)
{
  StStoreCredential *c = g_new0 (StStoreCredential, 1);

  c->jti = g_strdup (jti);
  c->client_id = g_strdup (client_id);
  c->iat = iat;
  c->exp = exp;
  c->topic_acl = g_strdup (acl);
  return c;
}

static void
test_credentials (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(StStoreNamespace) ns = st_store_namespace_create (store, "ns", NULL, NULL);
  g_autoptr(StStoreBroker) broker = make_broker (store, "ns", "b");
  g_autoptr(GPtrArray) batch = credential_array ();
  g_autoptr(GPtrArray) bad = credential_array ();
  g_autoptr(GPtrArray) list = NULL;
  StStoreCredential *c;

  g_ptr_array_add (batch, make_credential (ULID (1), "client-a", 1000, 0, "\"#\""));
  g_ptr_array_add (batch, make_credential (ULID (2), "client-b", 1001, 4601,
                                           "[\"sensors/+/temp\",\"cmd/#\"]"));
  g_ptr_array_add (batch, make_credential (ULID (3), "client-a", 1002, 0, "\"a/b\""));
  g_assert_true (st_store_credentials_add (store, broker->id,
                                           (StStoreCredential **) batch->pdata, batch->len,
                                           &error));
  g_assert_no_error (error);

  list = st_store_credential_list (store, broker->id, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  c = list->pdata[1];
  g_assert_cmpstr (c->broker_id, ==, broker->id);
  g_assert_cmpstr (c->jti, ==, ULID (2));
  g_assert_cmpstr (c->client_id, ==, "client-b");
  g_assert_cmpint (c->iat, ==, 1001);
  g_assert_cmpint (c->exp, ==, 4601);
  g_assert_cmpstr (c->topic_acl, ==, "[\"sensors/+/temp\",\"cmd/#\"]");
  g_assert_false (c->revoked);
  g_assert_cmpint (((StStoreCredential *) list->pdata[0])->exp, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  list = st_store_credential_list (store, broker->id, "client-a", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((StStoreCredential *) list->pdata[0])->jti, ==, ULID (1));
  g_assert_cmpstr (((StStoreCredential *) list->pdata[1])->jti, ==, ULID (3));
  g_clear_pointer (&list, g_ptr_array_unref);

  /* A batch failing at its third item (a jti already recorded) leaves none
   * of it: the first two are rolled back with it. */
  g_ptr_array_add (bad, make_credential (ULID (4), "client-c", 1003, 0, "\"#\""));
  g_ptr_array_add (bad, make_credential (ULID (5), "client-c", 1004, 0, "\"#\""));
  g_ptr_array_add (bad, make_credential (ULID (1), "client-c", 1005, 0, "\"#\""));
  g_assert_false (st_store_credentials_add (store, broker->id,
                                            (StStoreCredential **) bad->pdata, bad->len, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM credentials"), ==, 3);

  /* topicAcl must be JSON; the database checks. */
  g_ptr_array_set_size (bad, 0);
  g_ptr_array_add (bad, make_credential (ULID (6), "client-c", 1003, 0, "#"));
  g_assert_false (st_store_credentials_add (store, broker->id,
                                            (StStoreCredential **) bad->pdata, bad->len, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_ptr_array_set_size (bad, 0);
  g_ptr_array_add (bad, make_credential (ULID (7), "client-c", 1003, 5, "\"#\""));
  g_assert_false (st_store_credentials_add (store, broker->id,
                                            (StStoreCredential **) bad->pdata, bad->len, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (st_store_credentials_add (store, "0123456789abcdef0123456789abcdef",
                                            (StStoreCredential **) batch->pdata, 1, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM credentials"), ==, 3);
}

static void
test_revocations (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(StStoreNamespace) ns = st_store_namespace_create (store, "ns", NULL, NULL);
  g_autoptr(StStoreBroker) broker = make_broker (store, "ns", "b");
  g_autoptr(StStoreBroker) other = make_broker (store, "ns", "other");
  g_autoptr(StStoreCredential) cred = make_credential ("jti-1", "client", 10, 0, "\"#\"");
  g_autoptr(GPtrArray) list = NULL;
  const char *first[] = { "jti-1", "jti-2", "jti-2", NULL };
  const char *again[] = { "jti-1", "jti-3", NULL };
  const char *remove[] = { "jti-2", "never-revoked", NULL };
  const char *bad[] = { "a,b", NULL };
  const char *none[] = { NULL };
  gint64 first_on;

  g_assert_true (st_store_credentials_add (store, broker->id, &cred, 1, &error));
  g_assert_no_error (error);

  g_assert_true (st_store_revocations_add (store, broker->id, first, &error));
  g_assert_no_error (error);
  list = st_store_revocation_list (store, broker->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((StStoreRevocation *) list->pdata[0])->jti, ==, "jti-1");
  g_assert_cmpstr (((StStoreRevocation *) list->pdata[1])->jti, ==, "jti-2");
  first_on = ((StStoreRevocation *) list->pdata[0])->revoked_on;
  g_assert_cmpint (first_on, >, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* The credential's flag follows the revocation list. */
  list = st_store_credential_list (store, broker->id, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (((StStoreCredential *) list->pdata[0])->revoked);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Revoking again is harmless and keeps the first time. */
  g_assert_true (st_store_revocations_add (store, broker->id, again, &error));
  g_assert_no_error (error);
  list = st_store_revocation_list (store, broker->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  for (guint i = 0; i < list->len; i++)
    {
      StStoreRevocation *r = list->pdata[i];

      if (g_str_equal (r->jti, "jti-1"))
        g_assert_cmpint (r->revoked_on, ==, first_on);
    }
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Revocations are per broker. */
  list = st_store_revocation_list (store, other->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  g_assert_true (st_store_revocations_remove (store, broker->id, remove, &error));
  g_assert_no_error (error);
  list = st_store_revocation_list (store, broker->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  for (guint i = 0; i < list->len; i++)
    g_assert_cmpstr (((StStoreRevocation *) list->pdata[i])->jti, !=, "jti-2");
  g_clear_pointer (&list, g_ptr_array_unref);

  g_assert_true (st_store_revocations_remove (store, broker->id, first, &error));
  g_assert_no_error (error);
  list = st_store_credential_list (store, broker->id, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (((StStoreCredential *) list->pdata[0])->revoked);
  g_clear_pointer (&list, g_ptr_array_unref);

  g_assert_false (st_store_revocations_add (store, broker->id, bad, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (st_store_revocations_add (store, broker->id, none, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (st_store_revocations_add (store, "0123456789abcdef0123456789abcdef", again,
                                            &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (st_store_revocations_remove (store, "0123456789abcdef0123456789abcdef", again,
                                               &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
}

/* A namespace with two brokers, each with a key, a credential and a
 * revocation, and an unrelated namespace that must survive. */
static void
populate (StStore *store)
{
  g_autoptr(GError) error = NULL;
  const char *names[] = { "b1", "b2" };
  guint8 priv[ST_STORE_PRIVATE_KEY_LEN];

  g_autoptr(StStoreNamespace) doomed = st_store_namespace_create (store, "doomed", NULL, &error);
  g_assert_no_error (error);
  g_autoptr(StStoreNamespace) kept = st_store_namespace_create (store, "kept", NULL, &error);
  g_assert_no_error (error);
  g_autoptr(StStoreBroker) survivor = make_broker (store, "kept", "b1");

  fill_key (priv, 7);
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(StStoreBroker) b = make_broker (store, "doomed", names[i]);
      g_autofree char *kid = g_strdup_printf ("kid-%s", names[i]);
      g_autofree char *jti = g_strdup_printf ("jti-%s", names[i]);
      g_autoptr(StStoreCredential) cred = make_credential (jti, "client", 1, 0, "\"#\"");
      g_autoptr(StStoreKey) key = st_store_key_add (store, b->id, kid, priv, &error);
      const char *jtis[] = { jti, NULL };

      g_assert_no_error (error);
      g_assert_true (st_store_credentials_add (store, b->id, &cred, 1, &error));
      g_assert_no_error (error);
      g_assert_true (st_store_revocations_add (store, b->id, jtis, &error));
      g_assert_no_error (error);
    }
  {
    g_autoptr(StStoreKey) key = st_store_key_add (store, survivor->id, "kid-survivor", priv,
                                                  &error);
    g_autoptr(StStoreCredential) cred = make_credential ("jti-survivor", "c", 1, 0, "\"#\"");
    const char *jtis[] = { "jti-survivor", NULL };

    g_assert_no_error (error);
    g_assert_true (st_store_credentials_add (store, survivor->id, &cred, 1, &error));
    g_assert_no_error (error);
    g_assert_true (st_store_revocations_add (store, survivor->id, jtis, &error));
    g_assert_no_error (error);
  }
}

static void
assert_populated (void)
{
  g_assert_cmpint (raw_int ("SELECT count (*) FROM namespaces"), ==, 2);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM brokers"), ==, 3);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM signing_keys"), ==, 3);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM credentials"), ==, 3);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM revocations"), ==, 3);
}

static void
test_cascade (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(StStoreKey) key = NULL;

  populate (store);
  assert_populated ();

  g_assert_true (st_store_namespace_delete (store, "doomed", &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM namespaces"), ==, 1);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM brokers"), ==, 1);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM signing_keys"), ==, 1);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM credentials"), ==, 1);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM revocations"), ==, 1);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM signing_keys WHERE kid = 'kid-survivor'"),
                   ==, 1);
  g_assert_null (st_store_key_lookup (store, "kid-b1", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  key = st_store_key_lookup (store, "kid-survivor", &error);
  g_assert_no_error (error);

  /* Deleting a single broker cascades the same way. */
  g_assert_true (st_store_broker_delete (store, "kept", "b1", &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM signing_keys"), ==, 0);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM credentials"), ==, 0);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM revocations"), ==, 0);
}

typedef struct {
  guint calls;
} FailHook;

static gboolean
fail_hook (gpointer data)
{
  FailHook *hook = data;

  hook->calls++;
  return FALSE;
}

static void
test_fault_rollback (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(StStoreBroker) broker = NULL;
  g_autoptr(GPtrArray) batch = credential_array ();
  FailHook hook = { 0 };
  const char *jtis[] = { "x1", "x2", NULL };
  StStoreBroker patch = { .description = (char *) "not saved" };

  populate (store);
  broker = st_store_broker_get (store, "kept", "b1", &error);
  g_assert_no_error (error);
  st_store_set_fault_hook (store, fail_hook, &hook);

  /* Each write ran its statements (the cascade included) and was then
   * refused just before COMMIT: nothing of it may remain. */
  g_assert_false (st_store_namespace_delete (store, "doomed", &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (hook.calls, ==, 1);

  g_ptr_array_add (batch, make_credential ("y1", "c", 1, 0, "\"#\""));
  g_ptr_array_add (batch, make_credential ("y2", "c", 1, 0, "\"#\""));
  g_assert_false (st_store_credentials_add (store, broker->id,
                                            (StStoreCredential **) batch->pdata, batch->len,
                                            &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (st_store_revocations_add (store, broker->id, jtis, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (st_store_broker_update (store, "kept", "b1", &patch,
                                         ST_STORE_BROKER_DESCRIPTION, &error));
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (hook.calls, ==, 4);

  assert_populated ();
  st_store_set_fault_hook (store, NULL, NULL);
  g_clear_pointer (&broker, st_store_broker_free);
  broker = st_store_broker_get (store, "kept", "b1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (broker->description, ==, "");

  /* The connection is usable again after the rollbacks. */
  g_assert_true (st_store_namespace_delete (store, "doomed", &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM brokers"), ==, 1);
}

#define CRASH_STATUS 42

static gboolean
crash_hook (gpointer data)
{
  _exit (CRASH_STATUS);
}

/* Runs fn in a child process that dies (in the fault hook) right before
 * its transaction commits, and checks it died there. */
static void
crash_child (void (*fn) (void))
{
  int status;
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      fn ();
      _exit (1);  /* the hook was never reached */
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, CRASH_STATUS);
}

static void
child_delete_namespace (void)
{
  g_autofree char *path = db_path ();
  StStore *store = st_store_open_full (path, st_store_migrations, st_store_n_migrations,
                                       NULL, NULL, NULL);

  if (store == NULL)
    _exit (2);
  st_store_set_fault_hook (store, crash_hook, NULL);
  st_store_namespace_delete (store, "doomed", NULL);
}

static const char *extra_migration =
  "CREATE TABLE extra (x INTEGER);"
  "INSERT INTO extra VALUES (1);"
  "ALTER TABLE namespaces ADD COLUMN colour TEXT;";

static const char **
migrations_plus (const char *extra)
{
  const char **list = g_new0 (const char *, st_store_n_migrations + 1);

  for (guint i = 0; i < st_store_n_migrations; i++)
    list[i] = st_store_migrations[i];
  list[st_store_n_migrations] = extra;
  return list;
}

static void
child_migrate (void)
{
  g_autofree char *path = db_path ();
  g_autofree const char **list = migrations_plus (extra_migration);

  st_store_open_full (path, list, st_store_n_migrations + 1, crash_hook, NULL, NULL);
}

static void
test_crash_midway (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(StStoreNamespace) ns = NULL;

  populate (store);
  g_clear_pointer (&store, st_store_free);

  /* A process killed inside the cascading delete leaves everything. */
  crash_child (child_delete_namespace);
  assert_populated ();

  /* A process killed inside a migration leaves the old schema version
   * and none of the new schema. */
  crash_child (child_migrate);
  g_assert_cmpint (raw_int ("PRAGMA user_version"), ==, st_store_n_migrations);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM sqlite_schema WHERE name = 'extra'"), ==, 0);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM pragma_table_info ('namespaces')"
                            " WHERE name = 'colour'"), ==, 0);

  store = open_store ();
  ns = st_store_namespace_get (store, "doomed", &error);
  g_assert_no_error (error);
  assert_populated ();
}

static void
test_failing_migration (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = db_path ();
  g_autofree const char **list = NULL;
  g_autoptr(StStore) store = open_store ();

  populate (store);
  g_clear_pointer (&store, st_store_free);

  /* The new step fails at its third statement, after two have run. */
  list = migrations_plus ("CREATE TABLE extra (x INTEGER);"
                          "INSERT INTO extra VALUES (1);"
                          "INSERT INTO no_such_table VALUES (1);");
  store = st_store_open_full (path, list, st_store_n_migrations + 1, NULL, NULL, &error);
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED);
  g_assert_null (store);
  g_clear_error (&error);
  g_assert_cmpint (raw_int ("PRAGMA user_version"), ==, st_store_n_migrations);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM sqlite_schema WHERE name = 'extra'"), ==, 0);
  assert_populated ();

  /* A fresh database whose first migration fails stays at version 0, and
   * has no account: it is made after the schema. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  list[0] = "CREATE TABLE early (x INTEGER); SELECT no_such_function ();";
  store = st_store_open_full (path, list, 1, NULL, NULL, &error);
  g_assert_error (error, ST_STORE_ERROR, ST_STORE_ERROR_FAILED);
  g_assert_null (store);
  g_assert_cmpint (raw_int ("PRAGMA user_version"), ==, 0);
  g_assert_cmpint (raw_int ("SELECT count (*) FROM sqlite_schema"), ==, 0);

  /* And the real migrations then apply to it normally. */
  store = open_store ();
  g_assert_cmpint (st_store_get_schema_version (store), ==, st_store_n_migrations);
}

#define THREADS 4
#define PER_THREAD 10

static gpointer
create_namespaces (gpointer data)
{
  StStore *store = data;
  static gint next = 0;
  int t = g_atomic_int_add (&next, 1);

  for (int i = 0; i < PER_THREAD; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("t%d-n%d", t, i);
      g_autoptr(StStoreNamespace) ns = st_store_namespace_create (store, name, NULL, &error);
      g_autoptr(GPtrArray) list = st_store_namespace_list (store, &error);

      g_assert_no_error (error);
      g_assert_nonnull (ns);
      g_assert_nonnull (list);
    }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StStore) store = open_store ();
  g_autoptr(GPtrArray) list = NULL;
  GThread *threads[THREADS];

  for (int i = 0; i < THREADS; i++)
    threads[i] = g_thread_new ("store-test", create_namespaces, store);
  for (int i = 0; i < THREADS; i++)
    g_thread_join (threads[i]);
  list = st_store_namespace_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, THREADS * PER_THREAD);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/store/open/reopen", test_open_reopen);
  g_test_add_func ("/store/open/newer-schema", test_open_newer_schema);
  g_test_add_func ("/store/name-valid", test_name_valid);
  g_test_add_func ("/store/time-format", test_time_format);
  g_test_add_func ("/store/tokens", test_tokens);
  g_test_add_func ("/store/namespaces", test_namespaces);
  g_test_add_func ("/store/brokers", test_brokers);
  g_test_add_func ("/store/keys", test_keys);
  g_test_add_func ("/store/credentials", test_credentials);
  g_test_add_func ("/store/revocations", test_revocations);
  g_test_add_func ("/store/cascade", test_cascade);
  g_test_add_func ("/store/crash/fault-rollback", test_fault_rollback);
  g_test_add_func ("/store/crash/killed-midway", test_crash_midway);
  g_test_add_func ("/store/crash/failing-migration", test_failing_migration);
  g_test_add_func ("/store/threads", test_threads);

  return g_test_run ();
}
