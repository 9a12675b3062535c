/* net-server.c — StNet: binds the listeners, owns the loops.
 *
 * Every loop gets its own SO_REUSEPORT socket per listener so the kernel
 * spreads connections over the threads without a shared accept lock.
 */
#define G_LOG_DOMAIN "starling-net"

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net-private.h"

const char *
st_listener_kind_name (StListenerKind kind)
{
  static const char *const names[ST_N_LISTENER_KINDS] = { "mqtt", "mqtts", "ws", "wss" };

  return kind < ST_N_LISTENER_KINDS ? names[kind] : "?";
}

static gboolean
parse_address (const char *name, const char *spec, struct sockaddr_storage *ss, socklen_t *ss_len,
               GError **error)
{
  g_autofree char *host = NULL;
  const char *port_str;

  if (spec[0] == '[')
    {
      const char *close = strchr (spec, ']');
      if (close == NULL || close[1] != ':')
        goto bad;
      host = g_strndup (spec + 1, close - spec - 1);
      port_str = close + 2;
    }
  else
    {
      const char *colon = strrchr (spec, ':');
      if (colon == NULL)
        goto bad;
      host = g_strndup (spec, colon - spec);
      if (strchr (host, ':'))
        goto bad;   /* IPv6 needs brackets */
      port_str = colon + 1;
    }

  guint64 port;
  if (!g_ascii_string_to_unsigned (port_str, 10, 0, 65535, &port, NULL))
    goto bad;

  memset (ss, 0, sizeof *ss);
  struct sockaddr_in *sin = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
  if (*host == '\0' || strcmp (host, "*") == 0)
    host = (g_free (host), g_strdup ("0.0.0.0"));
  else if (g_ascii_strcasecmp (host, "localhost") == 0)
    host = (g_free (host), g_strdup ("127.0.0.1"));

  if (inet_pton (AF_INET, host, &sin->sin_addr) == 1)
    {
      sin->sin_family = AF_INET;
      sin->sin_port = htons (port);
      *ss_len = sizeof *sin;
      return TRUE;
    }
  if (inet_pton (AF_INET6, host, &sin6->sin6_addr) == 1)
    {
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons (port);
      *ss_len = sizeof *sin6;
      return TRUE;
    }

  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
  struct addrinfo *res = NULL;
  int r = getaddrinfo (host, NULL, &hints, &res);
  if (r != 0 || res == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s listener: cannot resolve '%s': %s", name, host, gai_strerror (r));
      return FALSE;
    }
  memcpy (ss, res->ai_addr, res->ai_addrlen);
  *ss_len = res->ai_addrlen;
  if (ss->ss_family == AF_INET)
    sin->sin_port = htons (port);
  else
    sin6->sin6_port = htons (port);
  freeaddrinfo (res);
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "%s listener: bad address '%s' (expected ADDR:PORT or [IPv6]:PORT)", name, spec);
  return FALSE;
}

static int
bind_socket (const struct sockaddr_storage *ss, socklen_t len, bool reuseport, int *err)
{
  int one = 1;
  int fd = socket (ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    {
      *err = errno;
      return -1;
    }
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport)
    setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (ss->ss_family == AF_INET6)
    setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind (fd, (const struct sockaddr *) ss, len) < 0)
    {
      *err = errno;
      close (fd);
      return -1;
    }
  return fd;
}

static gboolean
bind_listener (StNet *net, StListenerKind kind, GError **error)
{
  const char *name = st_listener_kind_name (kind);
  const char *spec = net->listen[kind];
  struct sockaddr_storage ss;
  socklen_t len;
  int err = 0;

  if (!parse_address (name, spec, &ss, &len, error))
    return FALSE;

  bool ephemeral = (ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                            : ((struct sockaddr_in6 *) &ss)->sin6_port) == 0;
  if (!ephemeral)
    {
      /* SO_REUSEPORT would let us share a port another server (same user)
       * already listens on; a probe without it finds that out. */
      int probe = bind_socket (&ss, len, false, &err);
      if (probe < 0)
        goto fail;
      close (probe);
    }

  for (guint i = 0; i < net->n_loops; i++)
    {
      int fd = bind_socket (&ss, len, true, &err);
      if (fd < 0)
        goto fail;
      net->loops[i]->listeners[kind].fd = fd;
      if (listen (fd, SOMAXCONN) < 0)
        {
          err = errno;
          goto fail;
        }
      if (i == 0)
        {
          /* For port 0 the first bind picks the port; the others take it. */
          len = sizeof ss;
          getsockname (fd, (struct sockaddr *) &ss, &len);
        }
    }

  char host[INET6_ADDRSTRLEN];
  guint16 port;
  if (ss.ss_family == AF_INET)
    {
      inet_ntop (AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, host, sizeof host);
      port = ntohs (((struct sockaddr_in *) &ss)->sin_port);
    }
  else
    {
      inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, host, sizeof host);
      port = ntohs (((struct sockaddr_in6 *) &ss)->sin6_port);
    }
  net->bound_host[kind] = g_strdup (host);
  net->bound_port[kind] = port;
  g_debug ("%s listener on %s port %u (%u sockets)", name, host, port, net->n_loops);
  return TRUE;

fail:
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
               "%s listener: cannot listen on %s: %s", name, spec, g_strerror (err));
  return FALSE;
}

StNet *
st_net_new (StEngine *engine, const StNetConfig *config, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);

  StNet *net = g_new0 (StNet, 1);
  net->engine = engine;
  net->n_loops = MAX (config->threads, 1);
  net->loops = g_new0 (StLoop *, net->n_loops);
  for (guint k = 0; k < ST_N_LISTENER_KINDS; k++)
    net->listen[k] = g_strdup (config->listen[k]);

  for (guint i = 0; i < net->n_loops; i++)
    {
      net->loops[i] = net_loop_new (net, i, error);
      if (net->loops[i] == NULL)
        goto fail;
    }

  for (guint k = 0; k < ST_N_LISTENER_KINDS; k++)
    if (net->listen[k] && !bind_listener (net, k, error))
      goto fail;

  if (net->listen[ST_LISTENER_MQTTS] || net->listen[ST_LISTENER_WSS])
    {
      net->have_tls = true;
      if (!net_tls_init (net, config, net->listen[ST_LISTENER_MQTTS] ? "mqtts" : "wss", error))
        goto fail;
    }
  return net;

fail:
  st_net_free (net);
  return NULL;
}

gboolean
st_net_start (StNet *net, GError **error)
{
  g_return_val_if_fail (!net->started, FALSE);

  net->started = true;
  for (guint i = 0; i < net->n_loops; i++)
    if (!net_loop_start (net->loops[i], error))
      {
        st_net_stop (net);
        return FALSE;
      }
  return TRUE;
}

gboolean
st_net_get_address (StNet *net, StListenerKind kind, char **host, guint16 *port)
{
  g_return_val_if_fail (kind < ST_N_LISTENER_KINDS, FALSE);

  if (net->bound_host[kind] == NULL)
    return FALSE;
  if (host)
    *host = g_strdup (net->bound_host[kind]);
  if (port)
    *port = net->bound_port[kind];
  return TRUE;
}

const char *
st_net_get_ca_file (StNet *net)
{
  return net->have_tls ? net->tls.ca_file : NULL;
}

gboolean
st_net_reload_tls (StNet *net, GError **error)
{
  if (!net->have_tls)
    return TRUE;
  return net_tls_reload (net, error);
}

gboolean
st_net_set_tls_namespaces (StNet *net, const char *const *names, GError **error)
{
  g_return_val_if_fail (net != NULL, FALSE);

  if (!net->have_tls)
    return TRUE;
  return net_tls_set_namespaces (net, names, error);
}

gboolean
st_net_add_tls_namespace (StNet *net, const char *name, GError **error)
{
  g_return_val_if_fail (net != NULL && name != NULL, FALSE);

  if (!net->have_tls)
    return TRUE;
  return net_tls_add_namespace (net, name, error);
}

void
st_net_remove_tls_namespace (StNet *net, const char *name)
{
  g_return_if_fail (net != NULL && name != NULL);

  if (net->have_tls)
    net_tls_remove_namespace (net, name);
}

/* Invokes that raced with the stop (one loop posting to another that had
 * already finished) run here, once no loop thread is left, rather than
 * leak what they carry. */
static void
drain_orphans (StNet *net)
{
  bool ran;

  do
    {
      ran = false;
      for (guint i = 0; i < net->n_loops; i++)
        if (net->loops[i] && net_loop_drain_orphans (net->loops[i]))
          ran = true;
    }
  while (ran);
}

void
st_net_stop (StNet *net)
{
  if (net->stopped)
    return;
  for (guint i = 0; i < net->n_loops; i++)
    g_return_if_fail (net->loops[i] == NULL || !st_loop_is_current (net->loops[i]));
  net->stopped = true;
  for (guint i = 0; i < net->n_loops; i++)
    if (net->loops[i] && net->loops[i]->thread)
      net_loop_request_stop (net->loops[i]);
  for (guint i = 0; i < net->n_loops; i++)
    if (net->loops[i])
      net_loop_join (net->loops[i]);

  drain_orphans (net);
}

void
st_net_free (StNet *net)
{
  if (net == NULL)
    return;
  st_net_stop (net);
  drain_orphans (net);
  for (guint i = 0; i < net->n_loops; i++)
    net_loop_free (net->loops[i]);
  g_free (net->loops);
  for (guint k = 0; k < ST_N_LISTENER_KINDS; k++)
    {
      g_free (net->listen[k]);
      g_free (net->bound_host[k]);
    }
  if (net->have_tls)
    net_tls_clear (&net->tls);
  g_free (net);
}
