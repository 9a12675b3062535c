/* net-tls.c — TLS for the mqtts and wss listeners (OpenSSL 3, non-blocking).
 *
 * Without an operator certificate, a local CA and a server certificate it
 * signs are generated once under data_dir/tls and reused; clients trust
 * ca.pem. The SSL_CTX is swapped under a mutex on reload: live
 * connections keep the context they started with (SSL holds a reference).
 * Each namespace the control plane names also gets a certificate for
 * "*.<ns>.<public host>" from the local CA, which the SNI callback puts
 * on the connection in place of the default one.
 * Reads go straight to the socket (SSL_ERROR_WANT_READ becomes EAGAIN);
 * writes go to a buffer BIO so that records leave in one write(2).
 */
#define G_LOG_DOMAIN "starling-net"

#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "net/net-private.h"

#define CA_DAYS      3650
#define SERVER_DAYS  825      /* what browsers accept for a TLS server certificate */
#define RENEW_DAYS   30

void
net_tls_error_string (char *buf, size_t len)
{
  unsigned long e = ERR_get_error ();
  const char *reason = e ? ERR_reason_error_string (e) : NULL;

  /* The reason alone ("wrong version number"): the full form starts with
   * "error:0A00010B:", which log scanners take for an error-level line. */
  if (reason)
    g_strlcpy (buf, reason, len);
  else if (e)
    g_snprintf (buf, len, "OpenSSL error %lx", e);
  else
    g_strlcpy (buf, "unknown OpenSSL error", len);
  ERR_clear_error ();
}

static void
set_ssl_error (GError **error, const char *listener, const char *what, const char *path)
{
  char reason[256];

  net_tls_error_string (reason, sizeof reason);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s listener: %s%s%s%s: %s",
               listener, what, path ? " '" : "", path ? path : "", path ? "'" : "", reason);
}

/* ---- Certificate generation ------------------------------------------ */

/* The CA and the server certificate are synced: clients trust the CA.
 * Namespace certificates are a cache, checked whenever read and made again
 * when broken, so a new one is written without the syncs that would make
 * a thousand of them take seconds. */
#define SAVE_DURABLE  G_FILE_SET_CONTENTS_CONSISTENT
#define SAVE_CACHE    (G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_ONLY_EXISTING)

static gboolean
write_pem (const char *path, BIO *mem, int mode, GFileSetContentsFlags flags, GError **error)
{
  char *data = NULL;
  long len = BIO_get_mem_data (mem, &data);

  return g_file_set_contents_full (path, data, len, flags, mode, error);
}

static gboolean
save_key (const char *path, EVP_PKEY *key, GFileSetContentsFlags flags, GError **error)
{
  BIO *mem = BIO_new (BIO_s_mem ());
  gboolean ok = PEM_write_bio_PrivateKey (mem, key, NULL, NULL, 0, NULL, NULL)
                && write_pem (path, mem, 0600, flags, error);

  BIO_free (mem);
  return ok;
}

static gboolean
save_cert (const char *path, X509 *cert, GFileSetContentsFlags flags, GError **error)
{
  BIO *mem = BIO_new (BIO_s_mem ());
  gboolean ok = PEM_write_bio_X509 (mem, cert) && write_pem (path, mem, 0644, flags, error);

  BIO_free (mem);
  return ok;
}

static EVP_PKEY *
load_key (const char *path)
{
  BIO *bio = BIO_new_file (path, "r");
  EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL) : NULL;

  BIO_free (bio);
  return key;
}

static X509 *
load_cert (const char *path)
{
  BIO *bio = BIO_new_file (path, "r");
  X509 *cert = bio ? PEM_read_bio_X509 (bio, NULL, NULL, NULL) : NULL;

  BIO_free (bio);
  return cert;
}

static bool
add_ext (X509 *cert, X509 *issuer, int nid, const char *value)
{
  X509V3_CTX ctx;

  X509V3_set_ctx (&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid (NULL, &ctx, nid, value);
  if (ext == NULL)
    return false;
  bool ok = X509_add_ext (cert, ext, -1) == 1;
  X509_EXTENSION_free (ext);
  return ok;
}

/* issuer NULL: self-signed (the CA). */
static X509 *
make_cert (const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
           int days, const char *san)
{
  X509 *cert = X509_new ();
  unsigned char serial[16];
  BIGNUM *bn = NULL;
  bool ok = false;

  if (RAND_bytes (serial, sizeof serial) != 1)
    goto out;
  serial[0] &= 0x7f;   /* positive */
  bn = BN_bin2bn (serial, sizeof serial, NULL);
  if (!X509_set_version (cert, X509_VERSION_3)
      || !BN_to_ASN1_INTEGER (bn, X509_get_serialNumber (cert))
      || !X509_gmtime_adj (X509_getm_notBefore (cert), -3600)
      || !X509_time_adj_ex (X509_getm_notAfter (cert), days, 0, NULL)
      || !X509_set_pubkey (cert, key))
    goto out;

  X509_NAME *name = X509_get_subject_name (cert);
  if (!X509_NAME_add_entry_by_txt (name, "O", MBSTRING_UTF8, (const unsigned char *) "Starling", -1, -1, 0)
      || !X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0)
      || !X509_set_issuer_name (cert, issuer ? X509_get_subject_name (issuer) : name))
    goto out;

  if (issuer == NULL)
    ok = add_ext (cert, NULL, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")
         && add_ext (cert, NULL, NID_key_usage, "critical,keyCertSign,cRLSign")
         && add_ext (cert, NULL, NID_subject_key_identifier, "hash")
         && add_ext (cert, NULL, NID_authority_key_identifier, "keyid:always");
  else
    ok = add_ext (cert, issuer, NID_basic_constraints, "critical,CA:FALSE")
         && add_ext (cert, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment")
         && add_ext (cert, issuer, NID_ext_key_usage, "serverAuth")
         && add_ext (cert, issuer, NID_subject_key_identifier, "hash")
         && add_ext (cert, issuer, NID_authority_key_identifier, "keyid:always")
         && add_ext (cert, issuer, NID_subject_alt_name, san);
  ok = ok && X509_sign (cert, issuer_key ? issuer_key : key, EVP_sha256 ()) > 0;

out:
  BN_free (bn);
  if (!ok)
    {
      X509_free (cert);
      return NULL;
    }
  return cert;
}

static char *
server_san (const char *host)
{
  GString *san = g_string_new ("DNS:localhost,IP:127.0.0.1,IP:::1");

  if (host && *host && g_ascii_strcasecmp (host, "localhost") != 0)
    {
      if (g_hostname_is_ip_address (host))
        g_string_append_printf (san, ",IP:%s", host);
      else
        g_string_append_printf (san, ",DNS:%s,DNS:*.%s", host, host);
    }
  else
    g_string_append (san, ",DNS:*.localhost");
  return g_string_free (san, FALSE);
}

/* An existing certificate is kept while it matches its key, is signed by
 * this CA, names every one of names (host names or IP addresses; NULL
 * ends the list) and has more than RENEW_DAYS left. */
static bool
cert_usable (X509 *cert, EVP_PKEY *key, X509 *ca, const char *const *names)
{
  EVP_PKEY *ca_pub = X509_get0_pubkey (ca);
  time_t soon = time (NULL) + (time_t) RENEW_DAYS * 86400;
  bool ok = false;

  if (!cert || !key || X509_check_private_key (cert, key) != 1)
    goto out;
  if (ca_pub == NULL || X509_verify (cert, ca_pub) != 1)
    goto out;
  if (X509_cmp_time (X509_get0_notAfter (cert), &soon) <= 0)
    goto out;
  for (guint i = 0; names && names[i]; i++)
    {
      int r = g_hostname_is_ip_address (names[i])
              ? X509_check_ip_asc (cert, names[i], 0)
              : X509_check_host (cert, names[i], 0, 0, NULL);
      if (r != 1)
        goto out;
    }
  ok = true;

out:
  ERR_clear_error ();
  return ok;
}

static bool
server_cert_usable (X509 *cert, EVP_PKEY *key, X509 *ca, const char *host)
{
  const char *names[] = { host && *host ? host : NULL, NULL };

  return cert_usable (cert, key, ca, names);
}

static gboolean
ensure_generated (NetTls *tls, const char *listener, GError **error)
{
  g_autofree char *ca_key_path = g_build_filename (tls->dir, "ca.key", NULL);
  g_autofree char *ca_path = g_build_filename (tls->dir, "ca.pem", NULL);
  EVP_PKEY *ca_key = NULL, *key = NULL;
  X509 *ca = NULL, *cert = NULL;
  gboolean ok = FALSE;

  if (g_mkdir_with_parents (tls->dir, 0700) < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   "%s listener: cannot create '%s': %s", listener, tls->dir, g_strerror (e));
      return FALSE;
    }

  ca_key = load_key (ca_key_path);
  ca = load_cert (ca_path);
  if (ca_key && ca && X509_check_private_key (ca, ca_key) != 1)
    g_clear_pointer (&ca, X509_free);
  ERR_clear_error ();
  if (ca_key == NULL || ca == NULL)
    {
      g_clear_pointer (&ca_key, EVP_PKEY_free);
      g_clear_pointer (&ca, X509_free);
      g_message ("generating a local certificate authority in %s", tls->dir);
      ca_key = EVP_EC_gen ("P-256");
      ca = ca_key ? make_cert ("Starling local CA", ca_key, NULL, NULL, CA_DAYS, NULL) : NULL;
      if (ca == NULL)
        {
          set_ssl_error (error, listener, "cannot generate the local CA", NULL);
          goto out;
        }
      if (!save_key (ca_key_path, ca_key, SAVE_DURABLE, error) || !save_cert (ca_path, ca, SAVE_DURABLE, error))
        goto out;
    }

  key = load_key (tls->key_file);
  cert = load_cert (tls->cert_file);
  if (!server_cert_usable (cert, key, ca, tls->public_host))
    {
      g_autofree char *san = server_san (tls->public_host);
      g_clear_pointer (&key, EVP_PKEY_free);
      g_clear_pointer (&cert, X509_free);
      ERR_clear_error ();
      g_message ("generating a server certificate for %s", san);
      key = EVP_EC_gen ("P-256");
      cert = key ? make_cert (tls->public_host ? tls->public_host : "localhost",
                              key, ca, ca_key, SERVER_DAYS, san) : NULL;
      if (cert == NULL)
        {
          set_ssl_error (error, listener, "cannot generate the server certificate", NULL);
          goto out;
        }
      if (!save_key (tls->key_file, key, SAVE_DURABLE, error) || !save_cert (tls->cert_file, cert, SAVE_DURABLE, error))
        goto out;
    }
  ok = TRUE;
  /* Namespace certificates are signed with it later. */
  EVP_PKEY_free (tls->ca_key);
  X509_free (tls->ca);
  tls->ca_key = g_steal_pointer (&ca_key);
  tls->ca = g_steal_pointer (&ca);

out:
  if (!ok && error && *error && !g_str_has_prefix ((*error)->message, listener))
    g_prefix_error (error, "%s listener: ", listener);
  EVP_PKEY_free (ca_key);
  EVP_PKEY_free (key);
  X509_free (ca);
  X509_free (cert);
  return ok;
}

/* ---- The write BIO ---------------------------------------------------- *
 *
 * OpenSSL writes its records into the transport's tls_out buffer instead
 * of the socket: all the records of an iteration (and the handshake
 * flights) then leave in one write(2), where the socket BIO would make
 * one per 16 KiB record. Reads still come straight from the socket. */

static int
out_bio_write (BIO *bio, const char *data, int len)
{
  StTransport *t = BIO_get_data (bio);

  if (len <= 0)
    return 0;
  /* The transport is marked dirty by whoever made OpenSSL write, after
   * the call (net_transport_read), or is being flushed already. */
  st_buf_append (&t->tls_out, data, len);
  return len;
}

static long
out_bio_ctrl (BIO *bio, int cmd, long num, void *ptr)
{
  StTransport *t = BIO_get_data (bio);

  switch (cmd)
    {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
      return t ? (long) (t->tls_out.len - t->tls_out_off) : 0;
    default:
      return 0;
    }
}

static int
out_bio_create (BIO *bio)
{
  BIO_set_init (bio, 1);
  return 1;
}

/* ---- Contexts --------------------------------------------------------- */

/* A namespace's certificate and key (an atomic rc box): shared by the
 * published table and the handshakes that picked it. */
typedef struct {
  X509     *cert;
  EVP_PKEY *key;
} NetNsCert;

static NetNsCert *ns_cert_lookup (NetTls *tls, const char *hostname);
static void       ns_cert_unref  (gpointer cert);

static int
on_servername (SSL *ssl, int *alert, void *arg)
{
  StNet *net = arg;
  StTransport *t = SSL_get_app_data (ssl);
  const char *name = SSL_get_servername (ssl, TLSEXT_NAMETYPE_host_name);

  if (name == NULL || t == NULL)
    return SSL_TLSEXT_ERR_NOACK;
  g_free (t->sni);
  t->sni = g_ascii_strdown (name, -1);

  /* A broker's hostname gets its namespace's certificate; any other name
   * (the public host, an IP, a namespace without one) the default. */
  NetNsCert *nc = ns_cert_lookup (&net->tls, t->sni);
  if (nc)
    {
      /* Takes its own references.  A pair in place of a whole SSL_CTX per
       * namespace: OpenSSL 3 spends about half a millisecond and 18 KiB
       * on each context. */
      if (SSL_use_cert_and_key (ssl, nc->cert, nc->key, NULL, 1) != 1)
        {
          char reason[256];
          net_tls_error_string (reason, sizeof reason);
          g_debug ("%s: keeping the default certificate: %s", t->info.peer_str, reason);
        }
      ns_cert_unref (nc);
    }
  return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
new_ctx_base (StNet *net, const char *listener, GError **error)
{
  SSL_CTX *ctx = SSL_CTX_new (TLS_server_method ());

  if (ctx == NULL)
    {
      set_ssl_error (error, listener, "cannot create a TLS context", NULL);
      return NULL;
    }
  SSL_CTX_set_min_proto_version (ctx, TLS1_2_VERSION);
  /* A peer closing without close_notify is an ordinary EOF for MQTT
   * (the answer to a last request still goes out). */
  SSL_CTX_set_options (ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE
                       | SSL_OP_IGNORE_UNEXPECTED_EOF);
  /* Partial and moving writes let the output queue coalesce records; with
   * released buffers an idle connection holds no 16 KiB record buffers. */
  SSL_CTX_set_mode (ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                    | SSL_MODE_RELEASE_BUFFERS);
  /* Read whole socket buffers rather than a 5-byte header then the body
   * of each record: half the reads. SSL_has_pending then covers what
   * was read ahead. */
  SSL_CTX_set_read_ahead (ctx, 1);
  SSL_CTX_set_tlsext_servername_callback (ctx, on_servername);
  SSL_CTX_set_tlsext_servername_arg (ctx, net);
  return ctx;
}

static SSL_CTX *
new_ctx (StNet *net, const char *cert_file, const char *key_file, const char *listener, GError **error)
{
  SSL_CTX *ctx = new_ctx_base (net, listener, error);

  if (ctx == NULL)
    return NULL;
  if (SSL_CTX_use_certificate_chain_file (ctx, cert_file) != 1)
    {
      set_ssl_error (error, listener, "cannot load the certificate", cert_file);
      SSL_CTX_free (ctx);
      return NULL;
    }
  if (SSL_CTX_use_PrivateKey_file (ctx, key_file, SSL_FILETYPE_PEM) != 1)
    {
      set_ssl_error (error, listener, "cannot load the key", key_file);
      SSL_CTX_free (ctx);
      return NULL;
    }
  if (SSL_CTX_check_private_key (ctx) != 1)
    {
      set_ssl_error (error, listener, "the key does not match the certificate", key_file);
      SSL_CTX_free (ctx);
      return NULL;
    }
  return ctx;
}

static const char *
tls_listener_name (StNet *net)
{
  return net->listen[ST_LISTENER_MQTTS] ? "mqtts" : "wss";
}

/* ---- Namespace certificates ------------------------------------------ *
 *
 * Only namespaces the control plane names get one: SNI comes from anyone,
 * and a name in it must never make the server generate or write anything.
 * The table the SNI callback reads is copied, changed and swapped whole. */

static bool
ns_enabled (NetTls *tls)
{
  return tls->ns_dir != NULL;
}

/* An RFC 1035 label as the store keeps it: also what makes it safe as a
 * file name. */
static bool
ns_name_valid (const char *name)
{
  size_t len = name ? strlen (name) : 0;

  if (len == 0 || len > 63 || name[0] == '-' || name[len - 1] == '-')
    return false;
  for (size_t i = 0; i < len; i++)
    if (!g_ascii_islower (name[i]) && !g_ascii_isdigit (name[i]) && name[i] != '-')
      return false;
  return true;
}

/* "<broker>.<ns>.<public_host>" or "<ns>.<public_host>" → ns (in a
 * buffer of 64); hostname is lowercase. */
static bool
ns_from_hostname (const char *public_host, const char *hostname, char ns[64])
{
  size_t n = strlen (hostname), h = strlen (public_host);

  if (n <= h + 1 || hostname[n - h - 1] != '.' || strcmp (hostname + n - h, public_host) != 0)
    return false;

  const char *start = hostname, *end = hostname + n - h - 1;
  const char *dot = memchr (start, '.', end - start);
  const char *label = dot ? dot + 1 : start;
  size_t len = end - label;

  if (dot == start || len == 0 || len > 63 || memchr (label, '.', len) != NULL)
    return false;
  memcpy (ns, label, len);
  ns[len] = '\0';
  return true;
}

static void
ns_cert_clear (gpointer data)
{
  NetNsCert *nc = data;

  X509_free (nc->cert);
  EVP_PKEY_free (nc->key);
}

static void
ns_cert_unref (gpointer cert)
{
  g_atomic_rc_box_release_full (cert, ns_cert_clear);
}

/* A new reference to the certificate of hostname's namespace, or NULL.
 * On the I/O threads: the lock is held for the lookup alone. */
static NetNsCert *
ns_cert_lookup (NetTls *tls, const char *hostname)
{
  char ns[64];
  NetNsCert *nc = NULL;

  if (!ns_enabled (tls) || !ns_from_hostname (tls->public_host, hostname, ns))
    return NULL;
  g_mutex_lock (&tls->lock);
  if (tls->ns_certs)
    nc = g_hash_table_lookup (tls->ns_certs, ns);
  if (nc)
    g_atomic_rc_box_acquire (nc);
  g_mutex_unlock (&tls->lock);
  return nc;
}

static GHashTable *
ns_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, ns_cert_unref);
}

/* A copy of the published table, to change and publish (gen_lock held). */
static GHashTable *
ns_table_copy (NetTls *tls)
{
  GHashTable *copy = ns_table_new ();
  GHashTableIter iter;
  gpointer key, value;

  if (tls->ns_certs == NULL)
    return copy;
  g_hash_table_iter_init (&iter, tls->ns_certs);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_atomic_rc_box_acquire (value));
  return copy;
}

/* Swaps table in (taking it); the old one is freed outside the lock.
 * Connections that picked a certificate keep it: their SSL holds
 * references. */
static void
ns_table_publish (NetTls *tls, GHashTable *table)
{
  g_mutex_lock (&tls->lock);
  GHashTable *old = tls->ns_certs;
  tls->ns_certs = table;
  g_mutex_unlock (&tls->lock);
  g_clear_pointer (&old, g_hash_table_unref);
}

static char *
ns_path (NetTls *tls, const char *ns, const char *ext)
{
  g_autofree char *base = g_strconcat (ns, ext, NULL);

  return g_build_filename (tls->ns_dir, base, NULL);
}

/* The namespace's cached certificate, renewed or made when that is
 * missing, broken, expiring, from another CA or for another public host
 * (gen_lock held). */
static NetNsCert *
ns_cert_make (StNet *net, const char *ns, GError **error)
{
  NetTls *tls = &net->tls;
  const char *listener = tls_listener_name (net);
  g_autofree char *cert_path = ns_path (tls, ns, ".pem");
  g_autofree char *key_path = ns_path (tls, ns, ".key");
  g_autofree char *apex = g_strconcat (ns, ".", tls->public_host, NULL);
  g_autofree char *probe = g_strconcat ("broker.", apex, NULL);
  const char *names[] = { apex, probe, NULL };
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  NetNsCert *nc = NULL;

  if (tls->ca == NULL || tls->ca_key == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s listener: namespace %s: no local CA to sign its certificate", listener, ns);
      return NULL;
    }
  if (g_mkdir_with_parents (tls->ns_dir, 0700) < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   "%s listener: cannot create '%s': %s", listener, tls->ns_dir, g_strerror (e));
      return NULL;
    }

  key = load_key (key_path);
  cert = load_cert (cert_path);
  if (!cert_usable (cert, key, tls->ca, names))
    {
      g_autofree char *san = g_strdup_printf ("DNS:*.%s,DNS:%s", apex, apex);
      g_autofree char *wildcard = g_strconcat ("*.", apex, NULL);

      g_clear_pointer (&key, EVP_PKEY_free);
      g_clear_pointer (&cert, X509_free);
      g_info ("generating a certificate for namespace %s (%s)", ns, san);
      key = EVP_EC_gen ("P-256");
      /* The subject's CN is limited to 64 characters; the names that
       * count are in subjectAltName anyway. */
      cert = key ? make_cert (strlen (wildcard) <= 64 ? wildcard : ns, key, tls->ca, tls->ca_key,
                              SERVER_DAYS, san) : NULL;
      if (cert == NULL)
        {
          set_ssl_error (error, listener, "cannot generate a namespace certificate", ns);
          goto out;
        }
      if (!save_key (key_path, key, SAVE_CACHE, error) || !save_cert (cert_path, cert, SAVE_CACHE, error))
        {
          g_prefix_error (error, "%s listener: namespace %s: ", listener, ns);
          goto out;
        }
    }

  nc = g_atomic_rc_box_new0 (NetNsCert);
  nc->cert = g_steal_pointer (&cert);
  nc->key = g_steal_pointer (&key);

out:
  EVP_PKEY_free (key);
  X509_free (cert);
  return nc;
}

static void
ns_unlink (NetTls *tls, const char *ns)
{
  g_autofree char *cert_path = ns_path (tls, ns, ".pem");
  g_autofree char *key_path = ns_path (tls, ns, ".key");

  /* The key first: a certificate without its key is never used. */
  if (g_unlink (key_path) < 0 && errno != ENOENT)
    g_warning ("cannot remove '%s': %s", key_path, g_strerror (errno));
  if (g_unlink (cert_path) < 0 && errno != ENOENT)
    g_warning ("cannot remove '%s': %s", cert_path, g_strerror (errno));
}

/* Deletes the cached files of namespaces not in keep. */
static void
ns_remove_stale (NetTls *tls, GHashTable *keep)
{
  g_autoptr(GDir) dir = g_dir_open (tls->ns_dir, 0, NULL);
  const char *entry;

  while (dir && (entry = g_dir_read_name (dir)) != NULL)
    {
      const char *dot = strrchr (entry, '.');
      if (dot == NULL || (strcmp (dot, ".pem") != 0 && strcmp (dot, ".key") != 0))
        continue;
      g_autofree char *ns = g_strndup (entry, dot - entry);
      if (ns_name_valid (ns) && !g_hash_table_contains (keep, ns))
        {
          g_autofree char *path = g_build_filename (tls->ns_dir, entry, NULL);
          g_debug ("removing the certificate file of a deleted namespace: %s", path);
          g_unlink (path);
        }
    }
}

static bool
ns_check_name (const char *name, GError **error)
{
  if (ns_name_valid (name))
    return true;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "'%s' is not a namespace name (an RFC 1035 label in lowercase)", name);
  return false;
}

gboolean
net_tls_set_namespaces (StNet *net, const char *const *names, GError **error)
{
  NetTls *tls = &net->tls;
  g_autoptr(GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);
  GError *first = NULL;

  if (!ns_enabled (tls))
    return TRUE;

  g_mutex_lock (&tls->gen_lock);
  GHashTable *table = ns_table_new ();
  for (guint i = 0; names && names[i]; i++)
    {
      GError *e = NULL;
      NetNsCert *nc = NULL;

      if (g_hash_table_contains (table, names[i]))
        continue;
      if (ns_check_name (names[i], &e))
        {
          g_hash_table_add (wanted, (gpointer) names[i]);
          nc = ns_cert_make (net, names[i], &e);
        }
      if (nc)
        g_hash_table_insert (table, g_strdup (names[i]), nc);
      else if (first == NULL)
        first = e;
      else
        {
          g_warning ("%s", e->message);
          g_error_free (e);
        }
    }
  ns_remove_stale (tls, wanted);
  ns_table_publish (tls, table);
  g_mutex_unlock (&tls->gen_lock);

  if (first)
    {
      g_propagate_error (error, first);
      return FALSE;
    }
  return TRUE;
}

gboolean
net_tls_add_namespace (StNet *net, const char *name, GError **error)
{
  NetTls *tls = &net->tls;

  if (!ns_enabled (tls))
    return TRUE;
  if (!ns_check_name (name, error))
    return FALSE;

  g_mutex_lock (&tls->gen_lock);
  NetNsCert *nc = ns_cert_make (net, name, error);
  if (nc)
    {
      GHashTable *table = ns_table_copy (tls);
      g_hash_table_replace (table, g_strdup (name), nc);
      ns_table_publish (tls, table);
    }
  g_mutex_unlock (&tls->gen_lock);
  return nc != NULL;
}

void
net_tls_remove_namespace (StNet *net, const char *name)
{
  NetTls *tls = &net->tls;

  if (!ns_enabled (tls) || !ns_name_valid (name))
    return;

  g_mutex_lock (&tls->gen_lock);
  if (tls->ns_certs && g_hash_table_contains (tls->ns_certs, name))
    {
      GHashTable *table = ns_table_copy (tls);
      g_hash_table_remove (table, name);
      ns_table_publish (tls, table);
    }
  ns_unlink (tls, name);
  g_mutex_unlock (&tls->gen_lock);
}

/* Renews what needs it (a new CA, a new public host, expiry near) and
 * reads every namespace's certificate again; one that fails keeps the
 * old one (gen_lock held). */
static void
ns_reload (StNet *net)
{
  NetTls *tls = &net->tls;
  GHashTableIter iter;
  gpointer key, value;

  if (!ns_enabled (tls) || tls->ns_certs == NULL)
    return;
  GHashTable *table = ns_table_new ();
  g_hash_table_iter_init (&iter, tls->ns_certs);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autoptr(GError) error = NULL;
      NetNsCert *nc = ns_cert_make (net, key, &error);

      if (nc == NULL)
        {
          g_warning ("%s (it keeps its current certificate)", error->message);
          nc = g_atomic_rc_box_acquire (value);
        }
      g_hash_table_insert (table, g_strdup (key), nc);
    }
  ns_table_publish (tls, table);
}

/* ---- Set-up and reload ------------------------------------------------ */

gboolean
net_tls_init (StNet *net, const StNetConfig *config, const char *listener, GError **error)
{
  NetTls *tls = &net->tls;

  g_mutex_init (&tls->lock);
  g_mutex_init (&tls->gen_lock);
  tls->out_method = BIO_meth_new (BIO_get_new_index () | BIO_TYPE_SOURCE_SINK, "starling-tls-out");
  BIO_meth_set_write (tls->out_method, out_bio_write);
  BIO_meth_set_ctrl (tls->out_method, out_bio_ctrl);
  BIO_meth_set_create (tls->out_method, out_bio_create);
  /* SNI names arrive lowercased and are compared with it. */
  tls->public_host = g_ascii_strdown (config->public_host ? config->public_host : "localhost", -1);
  if (config->tls_cert_file || config->tls_key_file)
    {
      if (!config->tls_cert_file || !config->tls_key_file)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "%s listener: a TLS certificate needs its key and a key its certificate", listener);
          return FALSE;
        }
      tls->cert_file = g_strdup (config->tls_cert_file);
      tls->key_file = g_strdup (config->tls_key_file);
    }
  else
    {
      if (config->data_dir == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "%s listener: no certificate given and no data directory to generate one in", listener);
          return FALSE;
        }
      tls->dir = g_build_filename (config->data_dir, "tls", NULL);
      tls->cert_file = g_build_filename (tls->dir, "server.pem", NULL);
      tls->key_file = g_build_filename (tls->dir, "server.key", NULL);
      tls->ca_file = g_build_filename (tls->dir, "ca.pem", NULL);
      /* Broker hostnames exist only under a DNS name. */
      if (!g_hostname_is_ip_address (tls->public_host))
        tls->ns_dir = g_build_filename (tls->dir, "namespaces", NULL);
      if (!ensure_generated (tls, listener, error))
        return FALSE;
    }
  tls->ctx = new_ctx (net, tls->cert_file, tls->key_file, listener, error);
  return tls->ctx != NULL;
}

void
net_tls_clear (NetTls *tls)
{
  if (tls->ctx)
    SSL_CTX_free (tls->ctx);
  tls->ctx = NULL;
  g_clear_pointer (&tls->ns_certs, g_hash_table_unref);
  g_clear_pointer (&tls->ca, X509_free);
  g_clear_pointer (&tls->ca_key, EVP_PKEY_free);
  g_clear_pointer (&tls->ns_dir, g_free);
  g_clear_pointer (&tls->cert_file, g_free);
  g_clear_pointer (&tls->key_file, g_free);
  g_clear_pointer (&tls->ca_file, g_free);
  g_clear_pointer (&tls->dir, g_free);
  g_clear_pointer (&tls->public_host, g_free);
  g_clear_pointer (&tls->out_method, BIO_meth_free);
  g_mutex_clear (&tls->gen_lock);
  g_mutex_clear (&tls->lock);
}

gboolean
net_tls_reload (StNet *net, GError **error)
{
  NetTls *tls = &net->tls;
  const char *listener = tls_listener_name (net);
  SSL_CTX *ctx = NULL;

  /* Against namespace changes on the control thread: both use the CA. */
  g_mutex_lock (&tls->gen_lock);
  if (!tls->dir || ensure_generated (tls, listener, error))
    ctx = new_ctx (net, tls->cert_file, tls->key_file, listener, error);
  if (ctx)
    ns_reload (net);
  g_mutex_unlock (&tls->gen_lock);
  if (ctx == NULL)
    return FALSE;

  g_mutex_lock (&tls->lock);
  SSL_CTX *old = tls->ctx;
  tls->ctx = ctx;
  g_mutex_unlock (&tls->lock);
  SSL_CTX_free (old);
  g_message ("TLS certificate reloaded from %s", tls->cert_file);
  return TRUE;
}

SSL *
net_tls_new_ssl (StNet *net, StTransport *t)
{
  g_mutex_lock (&net->tls.lock);
  SSL *ssl = net->tls.ctx ? SSL_new (net->tls.ctx) : NULL;
  g_mutex_unlock (&net->tls.lock);

  if (ssl == NULL)
    return NULL;
  BIO *rbio = BIO_new_socket (t->fd, BIO_NOCLOSE);
  BIO *wbio = BIO_new (net->tls.out_method);
  if (rbio == NULL || wbio == NULL)
    {
      BIO_free (rbio);
      BIO_free (wbio);
      SSL_free (ssl);
      return NULL;
    }
  BIO_set_data (wbio, t);
  SSL_set_bio (ssl, rbio, wbio);
  SSL_set_accept_state (ssl);
  SSL_set_app_data (ssl, t);
  return ssl;
}

/* ---- I/O: SSL_ERROR_WANT_* become EAGAIN here ------------------------- */

static ssize_t
map_error (StTransport *t, int r, const char *op)
{
  int err = SSL_get_error (t->ssl, r);

  switch (err)
    {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      /* Not from our write BIO, which takes everything. */
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    case SSL_ERROR_SYSCALL:
      if (errno == 0 || errno == EAGAIN)
        {
          /* EOF without close_notify. */
          ERR_clear_error ();
          return 0;
        }
      g_debug ("%s: TLS %s: %s", t->info.peer_str, op, g_strerror (errno));
      ERR_clear_error ();
      errno = EIO;
      return -1;
    default:
      {
        char reason[256];
        net_tls_error_string (reason, sizeof reason);
        g_debug ("%s: TLS %s: %s", t->info.peer_str, op, reason);
        errno = EPROTO;
        return -1;
      }
    }
}

ssize_t
net_tls_read (StTransport *t, void *buf, size_t len)
{
  size_t n = 0;

  ERR_clear_error ();
  errno = 0;
  int r = SSL_read_ex (t->ssl, buf, len, &n);
  if (r == 1)
    return (ssize_t) n;
  return map_error (t, r, "read");
}

ssize_t
net_tls_write (StTransport *t, const void *buf, size_t len)
{
  size_t n = 0;

  ERR_clear_error ();
  errno = 0;
  int r = SSL_write_ex (t->ssl, buf, len, &n);
  if (r == 1)
    return (ssize_t) n;
  ssize_t m = map_error (t, r, "write");
  if (m == 0)
    {
      errno = EPIPE;
      return -1;
    }
  return m;
}

int
net_tls_handshake (StTransport *t)
{
  ERR_clear_error ();
  errno = 0;
  int r = SSL_do_handshake (t->ssl);
  if (r == 1)
    return 1;
  ssize_t m = map_error (t, r, "handshake");
  if (m < 0 && errno == EAGAIN)
    return 0;
  return -1;
}
