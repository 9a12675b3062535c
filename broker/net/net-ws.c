/* net-ws.c — MQTT over WebSocket (RFC 6455) for the ws and wss listeners.
 *
 * Frame boundaries mean nothing to MQTT: payloads of binary and
 * continuation frames are unmasked in place into one byte stream, so a
 * frame can be split over reads and a read can hold many frames without
 * any buffering beyond a 14-byte header. Output gets one binary frame per
 * MQTT packet (net_ws_seal), all of an iteration still in one writev.
 */
#define G_LOG_DOMAIN "starling-net"

#include "config.h"

#include <string.h>

#include "net/net-private.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_FRAME ((uint64_t) 1 << 30)

enum {
  WS_OP_CONT = 0x0,
  WS_OP_TEXT = 0x1,
  WS_OP_BINARY = 0x2,
  WS_OP_CLOSE = 0x8,
  WS_OP_PING = 0x9,
  WS_OP_PONG = 0xA,
};

struct _NetWs {
  uint8_t  hdr[14];
  uint8_t  hdr_len;
  bool     in_frame;
  bool     in_message;     /* a fragmented binary message is open */
  uint8_t  opcode;
  uint8_t  mask[4];
  uint8_t  mask_pos;
  uint64_t remaining;
  uint8_t  ctl[125];
  uint8_t  ctl_len;
  bool     close_sent;
};

NetWs *
net_ws_new (void)
{
  return g_new0 (NetWs, 1);
}

void
net_ws_free (NetWs *ws)
{
  g_free (ws);
}

/* ---- Output ----------------------------------------------------------- */

static size_t
frame_header (uint8_t *hdr, uint8_t opcode, uint64_t len)
{
  hdr[0] = 0x80 | opcode;
  if (len < 126)
    {
      hdr[1] = (uint8_t) len;
      return 2;
    }
  if (len <= 0xffff)
    {
      hdr[1] = 126;
      hdr[2] = len >> 8;
      hdr[3] = len & 0xff;
      return 4;
    }
  hdr[1] = 127;
  for (int i = 0; i < 8; i++)
    hdr[2 + i] = (len >> (56 - 8 * i)) & 0xff;
  return 10;
}

/* The byte at pos bytes past the cursor (i, off) in segs, or -1. */
static int
peek (StTransport *t, const NetSeg *segs, size_t n, size_t i, size_t off, size_t pos)
{
  for (; i < n; i++, off = 0)
    {
      const NetSeg *s = &segs[i];
      if (off + pos < s->len)
        return (s->bytes ? s->bytes->data : t->obuf.data)[s->off + off + pos];
      pos -= s->len - off;
    }
  return -1;
}

/* Length of the MQTT packet at the cursor, or left when it cannot be
 * parsed (then the rest goes in one frame, which is just as valid). */
static size_t
packet_len (StTransport *t, const NetSeg *segs, size_t n, size_t i, size_t off, size_t left)
{
  uint32_t rl = 0;

  for (size_t k = 0; k < 4; k++)
    {
      int b = peek (t, segs, n, i, off, 1 + k);
      if (b < 0)
        return left;
      rl |= (uint32_t) (b & 0x7f) << (7 * k);
      if ((b & 0x80) == 0)
        {
          size_t total = 1 + (k + 1) + (size_t) rl;
          return total <= left ? total : left;
        }
    }
  return left;
}

/* One binary frame per MQTT packet rather than one per flush: RFC 6455
 * and MQTT allow either, but Paho MQTT C (1.3.12) over plain ws leaves a
 * second packet of a frame unread until more bytes arrive. The frames
 * still leave in the iteration's one writev; small packets are copied
 * next to their headers so they stay one iovec. */
void
net_ws_seal (StTransport *t)
{
  StLoop *loop = t->loop;
  size_t n = t->n_segs - t->seal_seg;
  size_t left = t->unframed;

  if (left == 0)
    return;
  if (n > loop->ws_segs_cap)
    {
      loop->ws_segs_cap = MAX (n, 2 * loop->ws_segs_cap);
      loop->ws_segs = g_renew (NetSeg, loop->ws_segs, loop->ws_segs_cap);
    }
  NetSeg *src = loop->ws_segs;
  memcpy (src, &t->segs[t->seal_seg], n * sizeof (NetSeg));
  t->n_segs = t->seal_seg;
  t->pending -= left;

  size_t i = 0, off = 0;
  while (left > 0)
    {
      uint8_t hdr[10];
      size_t pkt = packet_len (t, src, n, i, off, left);
      net_out_push_copy (t, hdr, frame_header (hdr, WS_OP_BINARY, pkt));
      left -= pkt;
      while (pkt > 0)
        {
          NetSeg *s = &src[i];
          size_t k = MIN (s->len - off, pkt);
          if (s->bytes)
            net_out_push_ref (t, s->bytes, s->off + off, k);
          else
            net_out_push_obuf (t, s->off + off, k);
          pkt -= k;
          off += k;
          if (off == s->len)
            {
              if (s->bytes)
                st_bytes_unref (s->bytes);
              i++;
              off = 0;
            }
        }
    }
  g_assert (i == n);
  t->seal_seg = t->n_segs;
  t->unframed = 0;
}

static void
send_control (StTransport *t, uint8_t opcode, const uint8_t *payload, size_t len)
{
  uint8_t frame[2 + 125];

  g_assert (len <= 125);
  net_ws_seal (t);
  size_t n = frame_header (frame, opcode, len);
  if (len)
    memcpy (frame + n, payload, len);
  net_out_push_copy (t, frame, n + len);
  t->seal_seg = t->n_segs;
  net_loop_mark_dirty (t->loop, t);
}

void
net_ws_send_close (StTransport *t, uint16_t code)
{
  uint8_t payload[2] = { code >> 8, code & 0xff };

  if (t->ws->close_sent || t->out_closed)
    return;
  t->ws->close_sent = true;
  send_control (t, WS_OP_CLOSE, payload, 2);
  /* Nothing may follow a close frame, not even the engine's answer to
   * data decoded just before it. */
  t->out_closed = true;
}

/* ---- Upgrade ---------------------------------------------------------- */

static void
refuse (StTransport *t, const char *status, const char *extra)
{
  g_autofree char *resp = g_strdup_printf ("HTTP/1.1 %s\r\n"
                                           "Connection: close\r\n"
                                           "Content-Length: 0\r\n"
                                           "%s"
                                           "\r\n",
                                           status, extra ? extra : "");

  g_debug ("%s: WebSocket upgrade refused: %s", t->info.peer_str, status);
  st_buf_reset (&t->in);
  net_out_append_raw (t, resp, strlen (resp));
  net_transport_begin_close (t);
}

static bool
has_token (const char *list, const char *token)
{
  g_auto (GStrv) parts = g_strsplit (list, ",", -1);

  for (guint i = 0; parts[i]; i++)
    if (g_ascii_strcasecmp (g_strstrip (parts[i]), token) == 0)
      return true;
  return false;
}

int
net_ws_handshake (StTransport *t)
{
  StBuf *in = &t->in;
  const uint8_t *end = memmem (in->data, in->len, "\r\n\r\n", 4);

  if (end == NULL)
    {
      if (in->len > NET_WS_MAX_HEADER)
        {
          refuse (t, "431 Request Header Fields Too Large", NULL);
          return -1;
        }
      return 0;
    }
  size_t hlen = (size_t) (end - in->data) + 4;
  if (hlen > NET_WS_MAX_HEADER)
    {
      refuse (t, "431 Request Header Fields Too Large", NULL);
      return -1;
    }
  if (memchr (in->data, '\0', hlen) != NULL)
    {
      refuse (t, "400 Bad Request", NULL);
      return -1;
    }

  g_autofree char *req = g_strndup ((const char *) in->data, hlen - 4);
  g_auto (GStrv) lines = g_strsplit (req, "\r\n", -1);
  g_auto (GStrv) reqline = g_strsplit (lines[0], " ", -1);

  if (g_strv_length (reqline) != 3 || strcmp (reqline[0], "GET") != 0
      || (strcmp (reqline[2], "HTTP/1.1") != 0))
    {
      refuse (t, "400 Bad Request", NULL);
      return -1;
    }

  bool upgrade = false, connection = false;
  const char *key = NULL, *version = NULL;
  g_autoptr (GString) protocols = g_string_new (NULL);

  for (guint i = 1; lines[i]; i++)
    {
      char *colon = strchr (lines[i], ':');
      if (colon == NULL)
        {
          refuse (t, "400 Bad Request", NULL);
          return -1;
        }
      *colon = '\0';
      const char *name = lines[i];
      char *value = g_strstrip (colon + 1);

      if (g_ascii_strcasecmp (name, "Upgrade") == 0)
        upgrade = upgrade || has_token (value, "websocket");
      else if (g_ascii_strcasecmp (name, "Connection") == 0)
        connection = connection || has_token (value, "upgrade");
      else if (g_ascii_strcasecmp (name, "Sec-WebSocket-Key") == 0)
        key = value;
      else if (g_ascii_strcasecmp (name, "Sec-WebSocket-Version") == 0)
        version = value;
      else if (g_ascii_strcasecmp (name, "Sec-WebSocket-Protocol") == 0)
        {
          if (protocols->len)
            g_string_append_c (protocols, ',');
          g_string_append (protocols, value);
        }
    }

  if (!upgrade || !connection || key == NULL)
    {
      refuse (t, "400 Bad Request", NULL);
      return -1;
    }
  if (version == NULL || strcmp (version, "13") != 0)
    {
      refuse (t, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n");
      return -1;
    }
  gsize key_len = 0;
  g_autofree guchar *key_raw = strlen (key) == 24 ? g_base64_decode (key, &key_len) : NULL;
  if (key_len != 16)
    {
      refuse (t, "400 Bad Request", NULL);
      return -1;
    }

  const char *protocol = NULL;
  if (protocols->len > 0)
    {
      if (has_token (protocols->str, "mqtt"))
        protocol = "mqtt";
      else if (has_token (protocols->str, "mqttv3.1"))
        protocol = "mqttv3.1";
      else
        {
          refuse (t, "400 Bad Request", NULL);
          return -1;
        }
    }

  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  g_checksum_update (sha1, (const guchar *) key, -1);
  g_checksum_update (sha1, (const guchar *) WS_GUID, -1);
  g_checksum_get_digest (sha1, digest, &digest_len);
  g_autofree char *accept = g_base64_encode (digest, digest_len);

  g_autofree char *resp = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\n"
                                           "Upgrade: websocket\r\n"
                                           "Connection: Upgrade\r\n"
                                           "Sec-WebSocket-Accept: %s\r\n"
                                           "%s%s%s"
                                           "\r\n",
                                           accept,
                                           protocol ? "Sec-WebSocket-Protocol: " : "",
                                           protocol ? protocol : "",
                                           protocol ? "\r\n" : "");
  net_out_append_raw (t, resp, strlen (resp));
  st_buf_consume (in, hlen);
  return 1;
}

/* ---- Input ------------------------------------------------------------ */

static void
unmask_move (uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4], unsigned pos)
{
  uint8_t m[8];
  size_t i = 0;

  for (int k = 0; k < 8; k++)
    m[k] = mask[(pos + k) & 3];
  uint64_t m64;
  memcpy (&m64, m, 8);
  /* dst <= src: reading 8 bytes before writing them never clobbers
   * bytes not yet read. */
  for (; i + 8 <= n; i += 8)
    {
      uint64_t v;
      memcpy (&v, src + i, 8);
      v ^= m64;
      memcpy (dst + i, &v, 8);
    }
  for (; i < n; i++)
    dst[i] = src[i] ^ m[i & 7];
}

static bool
close_code_ok (unsigned code)
{
  if (code < 1000 || code >= 5000)
    return false;
  if (code == 1004 || code == 1005 || code == 1006 || code == 1015)
    return false;
  if (code > 1015 && code < 3000)
    return false;
  return true;
}

/* A protocol violation: tell the peer why and stop. */
static void
fail (StTransport *t, uint16_t code, bool *stop)
{
  g_debug ("%s: WebSocket close %u", t->info.peer_str, code);
  net_ws_send_close (t, code);
  *stop = true;
}

static void
control_frame (StTransport *t, bool *stop)
{
  NetWs *ws = t->ws;

  switch (ws->opcode)
    {
    case WS_OP_PING:
      send_control (t, WS_OP_PONG, ws->ctl, ws->ctl_len);
      break;
    case WS_OP_PONG:
      break;
    case WS_OP_CLOSE:
      if (ws->ctl_len == 0)
        fail (t, 1000, stop);
      else if (ws->ctl_len == 1)
        fail (t, 1002, stop);
      else
        {
          unsigned code = (ws->ctl[0] << 8) | ws->ctl[1];
          fail (t, close_code_ok (code) ? code : 1002, stop);
        }
      break;
    default:
      g_assert_not_reached ();
    }
}

size_t
net_ws_decode (StTransport *t, uint8_t *buf, size_t len, bool *stop)
{
  NetWs *ws = t->ws;
  size_t i = 0, o = 0;

  *stop = false;
  while (i < len && !*stop)
    {
      if (!ws->in_frame)
        {
          ws->hdr[ws->hdr_len++] = buf[i++];
          if (ws->hdr_len < 2)
            continue;
          uint8_t b0 = ws->hdr[0], b1 = ws->hdr[1];
          uint8_t len7 = b1 & 0x7f;
          size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
          if (ws->hdr_len < need)
            continue;

          bool fin = b0 & 0x80;
          uint8_t opcode = b0 & 0x0f;
          uint64_t plen = len7;
          if (len7 == 126)
            plen = ((uint64_t) ws->hdr[2] << 8) | ws->hdr[3];
          else if (len7 == 127)
            {
              plen = 0;
              for (int k = 0; k < 8; k++)
                plen = (plen << 8) | ws->hdr[2 + k];
            }
          ws->hdr_len = 0;

          if ((b0 & 0x70) != 0 || !(b1 & 0x80) || (plen >> 63) != 0)
            {
              fail (t, 1002, stop);
              break;
            }
          switch (opcode)
            {
            case WS_OP_TEXT:
              fail (t, 1003, stop);
              break;
            case WS_OP_BINARY:
              if (ws->in_message)
                fail (t, 1002, stop);
              ws->in_message = !fin;
              break;
            case WS_OP_CONT:
              if (!ws->in_message)
                fail (t, 1002, stop);
              ws->in_message = !fin;
              break;
            case WS_OP_CLOSE:
            case WS_OP_PING:
            case WS_OP_PONG:
              if (!fin || plen > 125)
                fail (t, 1002, stop);
              break;
            default:
              fail (t, 1002, stop);
              break;
            }
          if (*stop)
            break;
          if (plen > WS_MAX_FRAME)
            {
              fail (t, 1009, stop);
              break;
            }
          ws->opcode = opcode;
          memcpy (ws->mask, &ws->hdr[need - 4], 4);
          ws->mask_pos = 0;
          ws->remaining = plen;
          ws->ctl_len = 0;
          ws->in_frame = true;
        }
      else
        {
          size_t n = (size_t) MIN (ws->remaining, (uint64_t) (len - i));
          if (ws->opcode <= WS_OP_BINARY)
            {
              unmask_move (buf + o, buf + i, n, ws->mask, ws->mask_pos);
              o += n;
            }
          else
            {
              unmask_move (ws->ctl + ws->ctl_len, buf + i, n, ws->mask, ws->mask_pos);
              ws->ctl_len += n;
            }
          i += n;
          ws->remaining -= n;
          ws->mask_pos = (ws->mask_pos + n) & 3;
        }

      if (ws->in_frame && ws->remaining == 0)
        {
          ws->in_frame = false;
          if (ws->opcode >= WS_OP_CLOSE)
            control_frame (t, stop);
        }
    }
  return o;
}
