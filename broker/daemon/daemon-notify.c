#define G_LOG_DOMAIN "starlingd-notify"

#include "daemon-notify.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

gboolean
daemon_notify (const char *state)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  socklen_t addr_len;
  size_t path_len;
  ssize_t sent;
  int fd;

  g_return_val_if_fail (state != NULL, FALSE);

  if (path == NULL || path[0] == '\0')
    return FALSE;

  /* Only filesystem and abstract AF_UNIX sockets: systemd's other kind
   * (vsock:, for virtual machines) does not concern a service. */
  path_len = strlen (path);
  if ((path[0] != '/' && path[0] != '@') || path_len < 2 || path_len >= sizeof addr.sun_path)
    {
      g_debug ("NOTIFY_SOCKET “%s” is not a socket path; not notifying", path);
      return FALSE;
    }
  memcpy (addr.sun_path, path, path_len);
  if (path[0] == '@')
    {
      /* An abstract socket's name starts with a NUL and is not terminated. */
      addr.sun_path[0] = '\0';
      addr_len = offsetof (struct sockaddr_un, sun_path) + path_len;
    }
  else
    addr_len = offsetof (struct sockaddr_un, sun_path) + path_len + 1;

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      g_debug ("cannot create a notification socket: %s", g_strerror (errno));
      return FALSE;
    }
  /* One datagram per state, so systemd sees each change whole. */
  do
    sent = sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *) &addr, addr_len);
  while (sent < 0 && errno == EINTR);
  if (sent < 0)
    g_debug ("cannot notify %s: %s", path, g_strerror (errno));
  close (fd);
  return sent >= 0;
}

gboolean
daemon_notifyf (const char *format, ...)
{
  g_autofree char *state = NULL;
  va_list args;

  va_start (args, format);
  state = g_strdup_vprintf (format, args);
  va_end (args);
  return daemon_notify (state);
}

/* "mqtt 127.0.0.1:1883, mqtts 127.0.0.1:8883, …, api 127.0.0.1:8080" */
static char *
listeners_status (const char *ready_json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GString) status = g_string_new (NULL);
  JsonNode *root;
  JsonObject *listeners;

  if (ready_json == NULL || !json_parser_load_from_data (parser, ready_json, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root) ||
      !json_object_has_member (json_node_get_object (root), "listeners"))
    return NULL;
  listeners = json_object_get_object_member (json_node_get_object (root), "listeners");
  if (listeners == NULL)
    return NULL;

  g_autoptr(GList) names = json_object_get_members (listeners);
  for (GList *l = names; l; l = l->next)
    {
      JsonObject *listener = json_object_get_object_member (listeners, l->data);
      const char *host;

      if (listener == NULL)
        continue;
      host = json_object_get_string_member_with_default (listener, "host", "?");
      g_string_append_printf (status, "%s%s %s%s%s:%" G_GINT64_FORMAT,
                              status->len ? ", " : "", (const char *) l->data,
                              strchr (host, ':') ? "[" : "", host, strchr (host, ':') ? "]" : "",
                              json_object_get_int_member_with_default (listener, "port", 0));
    }
  return status->len ? g_string_free (g_steal_pointer (&status), FALSE) : NULL;
}

gboolean
daemon_notify_ready (const char *ready_json)
{
  g_autofree char *listening = listeners_status (ready_json);

  if (listening)
    return daemon_notifyf ("READY=1\nSTATUS=Listening: %s", listening);
  return daemon_notify ("READY=1\nSTATUS=Running");
}

gboolean
daemon_notify_reloading (void)
{
  /* systemd ≥ 253 matches a reload to its request by this timestamp. */
  return daemon_notifyf ("RELOADING=1\nSTATUS=Reloading TLS certificates\nMONOTONIC_USEC=%" G_GINT64_FORMAT,
                         g_get_monotonic_time ());
}

gboolean
daemon_notify_stopping (void)
{
  return daemon_notify ("STOPPING=1\nSTATUS=Stopping: disconnecting clients");
}
