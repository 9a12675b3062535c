"""mqttwire — a tiny, independent MQTT 3.1.1 / 5.0 wire harness for Starling.

The wire tests speak raw MQTT bytes to a real, running ``starlingd`` and
assert exactly what comes back, like mosquitto's test/broker suite.  The
encoder and decoder here are written from the specifications and share no
code with the broker, so a codec bug cannot hide itself.

Python 3 standard library only.

Running one file by hand
------------------------

From a build directory (``meson setup /work/build-wire -Dapp=false &&
ninja -C /work/build-wire``)::

    meson test -C /work/build-wire --suite wire            # all files
    meson test -C /work/build-wire wire-connect -v         # one file

or directly, without meson::

    STARLINGD=/work/build-wire/broker/daemon/starlingd \\
        python3 tests/wire/test_connect.py                 # every case
    STARLINGD=... python3 tests/wire/test_connect.py keep  # cases whose name contains "keep"

If STARLINGD is unset, $STARLING_BUILDDIR/broker/daemon/starlingd is tried.
Each file starts one broker (``--dev``, ephemeral ports, a fresh data
directory) and stops it with SIGTERM at the end; every case uses fresh
client ids and topics.  Output is TAP; a failing case prints a diagnostic
and the broker's log lines written while it ran.  Two checks close every
file: starlingd exits 0 on SIGTERM, and its log has no warnings, criticals or
sanitizer reports (client mistakes are not broker warnings).  Set
WIRE_KEEP=1 to keep the data directory (and its broker.log) after the run.

Writing a case::

    @case("what it asserts", versions=(4, 5))
    def _(t):                      # t: Ctx — t.version, t.v5, t.broker
        sub = t.connect()          # CONNECT + CONNACK 0x00 checked; fresh client id
        sub.subscribe([(t.topic("a"), 1)])   # SUBACK codes checked
        pub = t.connect()
        pub.publish(t.topic("a"), b"x", qos=1)   # whole QoS flow checked
        p = sub.expect_publish(t.topic("a"), b"x", qos=1)
        sub.ack(p)
        sub.expect_nothing(0.5)

Bytes for negative tests come from the packet builders (connect_packet,
publish_packet, subscribe_packet, ..., or packet(first_byte, body)).
"""

import base64
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import traceback

# --------------------------------------------------------------------------
# Packet types

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT, AUTH = 12, 13, 14, 15

TYPE_NAMES = {
    0: "RESERVED", 1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK",
    5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK",
    10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
    14: "DISCONNECT", 15: "AUTH",
}

# --------------------------------------------------------------------------
# MQTT 5 properties: id -> (name, kind)

P_PAYLOAD_FORMAT = 0x01
P_MESSAGE_EXPIRY = 0x02
P_CONTENT_TYPE = 0x03
P_RESPONSE_TOPIC = 0x08
P_CORRELATION_DATA = 0x09
P_SUBSCRIPTION_ID = 0x0B
P_SESSION_EXPIRY = 0x11
P_ASSIGNED_CLIENT_ID = 0x12
P_SERVER_KEEP_ALIVE = 0x13
P_AUTH_METHOD = 0x15
P_AUTH_DATA = 0x16
P_REQUEST_PROBLEM_INFO = 0x17
P_WILL_DELAY = 0x18
P_REQUEST_RESPONSE_INFO = 0x19
P_RESPONSE_INFO = 0x1A
P_SERVER_REFERENCE = 0x1C
P_REASON_STRING = 0x1F
P_RECEIVE_MAXIMUM = 0x21
P_TOPIC_ALIAS_MAXIMUM = 0x22
P_TOPIC_ALIAS = 0x23
P_MAXIMUM_QOS = 0x24
P_RETAIN_AVAILABLE = 0x25
P_USER_PROPERTY = 0x26
P_MAXIMUM_PACKET_SIZE = 0x27
P_WILDCARD_SUB_AVAILABLE = 0x28
P_SUB_ID_AVAILABLE = 0x29
P_SHARED_SUB_AVAILABLE = 0x2A

PROPS = {
    0x01: ("PayloadFormatIndicator", "byte"),
    0x02: ("MessageExpiryInterval", "u32"),
    0x03: ("ContentType", "str"),
    0x08: ("ResponseTopic", "str"),
    0x09: ("CorrelationData", "bin"),
    0x0B: ("SubscriptionIdentifier", "varint"),
    0x11: ("SessionExpiryInterval", "u32"),
    0x12: ("AssignedClientIdentifier", "str"),
    0x13: ("ServerKeepAlive", "u16"),
    0x15: ("AuthenticationMethod", "str"),
    0x16: ("AuthenticationData", "bin"),
    0x17: ("RequestProblemInformation", "byte"),
    0x18: ("WillDelayInterval", "u32"),
    0x19: ("RequestResponseInformation", "byte"),
    0x1A: ("ResponseInformation", "str"),
    0x1C: ("ServerReference", "str"),
    0x1F: ("ReasonString", "str"),
    0x21: ("ReceiveMaximum", "u16"),
    0x22: ("TopicAliasMaximum", "u16"),
    0x23: ("TopicAlias", "u16"),
    0x24: ("MaximumQoS", "byte"),
    0x25: ("RetainAvailable", "byte"),
    0x26: ("UserProperty", "pair"),
    0x27: ("MaximumPacketSize", "u32"),
    0x28: ("WildcardSubscriptionAvailable", "byte"),
    0x29: ("SubscriptionIdentifierAvailable", "byte"),
    0x2A: ("SharedSubscriptionAvailable", "byte"),
}


class Fail(Exception):
    """An assertion about the broker's behaviour did not hold."""


class Closed(Exception):
    """The peer closed the connection."""


# --------------------------------------------------------------------------
# Encoding


def varint(n):
    if n < 0 or n > 268435455:
        raise ValueError("varint out of range: %d" % n)
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack("!H", n)


def u32(n):
    return struct.pack("!I", n)


def mstr(s):
    """An MQTT UTF-8 string; bytes are sent as they are (for invalid UTF-8)."""
    b = s if isinstance(s, (bytes, bytearray)) else s.encode("utf-8")
    return u16(len(b)) + bytes(b)


def mbin(b):
    return u16(len(b)) + bytes(b)


def encode_props(props):
    """props: None, a dict {id: value} or a list of (id, value) pairs.

    A list keeps order and allows repeats (user properties, duplicates for
    negative tests).  User property values are (name, value) pairs."""
    if props is None:
        props = []
    items = list(props.items()) if isinstance(props, dict) else list(props)
    body = bytearray()
    for pid, value in items:
        kind = PROPS[pid][1]
        body += varint(pid)
        if kind == "byte":
            body.append(value)
        elif kind == "u16":
            body += u16(value)
        elif kind == "u32":
            body += u32(value)
        elif kind == "varint":
            body += varint(value)
        elif kind == "str":
            body += mstr(value)
        elif kind == "bin":
            body += mbin(value)
        elif kind == "pair":
            body += mstr(value[0]) + mstr(value[1])
    return varint(len(body)) + bytes(body)


def packet(first_byte, body):
    """A whole packet: fixed header byte, remaining length, body."""
    return bytes([first_byte]) + varint(len(body)) + bytes(body)


def connect_packet(version=5, client_id="", clean=True, keepalive=60,
                   props=None, will=None, username=None, password=None,
                   proto_name="MQTT", proto_level=None, flags=None):
    """will: dict(topic=, payload=, qos=0, retain=False, props=None)."""
    level = version if proto_level is None else proto_level
    f = 0
    if clean:
        f |= 0x02
    if will is not None:
        f |= 0x04 | (will.get("qos", 0) << 3)
        if will.get("retain"):
            f |= 0x20
    if password is not None:
        f |= 0x40
    if username is not None:
        f |= 0x80
    if flags is not None:
        f = flags
    body = bytearray(mstr(proto_name) + bytes([level, f]) + u16(keepalive))
    if version == 5:
        body += encode_props(props)
    body += mstr(client_id)
    if will is not None:
        if version == 5:
            body += encode_props(will.get("props"))
        body += mstr(will["topic"]) + mbin(will.get("payload", b""))
    if username is not None:
        body += mstr(username)
    if password is not None:
        body += mbin(password)
    return packet(0x10, body)


def publish_packet(version, topic, payload=b"", qos=0, retain=False,
                   dup=False, pid=None, props=None):
    if isinstance(payload, str):
        payload = payload.encode()
    first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = bytearray(mstr(topic))
    if qos > 0:
        body += u16(pid if pid is not None else 1)
    if version == 5:
        body += encode_props(props)
    body += payload
    return packet(first, body)


def ack_packet(ptype, version, pid, rc=None, props=None):
    """PUBACK/PUBREC/PUBREL/PUBCOMP.  v5 with rc None and no props is the short form."""
    first = (ptype << 4) | (0x02 if ptype == PUBREL else 0)
    body = bytearray(u16(pid))
    if version == 5 and (rc is not None or props is not None):
        body.append(rc or 0)
        if props is not None:
            body += encode_props(props)
    return packet(first, body)


def puback(version, pid, rc=None, props=None):
    return ack_packet(PUBACK, version, pid, rc, props)


def pubrec(version, pid, rc=None, props=None):
    return ack_packet(PUBREC, version, pid, rc, props)


def pubrel(version, pid, rc=None, props=None):
    return ack_packet(PUBREL, version, pid, rc, props)


def pubcomp(version, pid, rc=None, props=None):
    return ack_packet(PUBCOMP, version, pid, rc, props)


def sub_opts(qos=0, nl=False, rap=False, rh=0):
    return qos | (0x04 if nl else 0) | (0x08 if rap else 0) | (rh << 4)


def subscribe_packet(version, pid, filters, props=None):
    """filters: list of (filter, options byte) or of plain filters (QoS 0)."""
    body = bytearray(u16(pid))
    if version == 5:
        body += encode_props(props)
    for f in filters:
        if isinstance(f, (str, bytes)):
            f = (f, 0)
        body += mstr(f[0]) + bytes([f[1]])
    return packet(0x82, body)


def unsubscribe_packet(version, pid, filters, props=None):
    body = bytearray(u16(pid))
    if version == 5:
        body += encode_props(props)
    for f in filters:
        body += mstr(f)
    return packet(0xA2, body)


def pingreq():
    return b"\xc0\x00"


def disconnect_packet(version=5, rc=None, props=None):
    if version != 5 or (rc is None and props is None):
        return b"\xe0\x00"
    body = bytearray([rc or 0])
    if props is not None:
        body += encode_props(props)
    return packet(0xE0, body)


# --------------------------------------------------------------------------
# Decoding


class Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise Fail("packet too short: need %d bytes at %d of %d: %s"
                       % (n, self.pos, len(self.data), self.data.hex()))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def byte(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("!H", self.take(2))[0]

    def u32(self):
        return struct.unpack("!I", self.take(4))[0]

    def varint(self):
        mult, value = 1, 0
        for _ in range(4):
            b = self.byte()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult *= 128
        raise Fail("varint longer than 4 bytes")

    def bin(self):
        return self.take(self.u16())

    def str(self):
        raw = self.bin()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Fail("broker sent invalid UTF-8 string %r" % raw)

    def props(self):
        n = self.varint()
        end = self.pos + n
        if end > len(self.data):
            raise Fail("property length %d overruns packet" % n)
        out = Props()
        while self.pos < end:
            pid = self.varint()
            if pid not in PROPS:
                raise Fail("broker sent unknown property 0x%02x" % pid)
            kind = PROPS[pid][1]
            if kind == "byte":
                v = self.byte()
            elif kind == "u16":
                v = self.u16()
            elif kind == "u32":
                v = self.u32()
            elif kind == "varint":
                v = self.varint()
            elif kind == "str":
                v = self.str()
            elif kind == "bin":
                v = self.bin()
            else:
                v = (self.str(), self.str())
            out.items.append((pid, v))
        if self.pos != end:
            raise Fail("property list overran its length")
        return out


class Props:
    def __init__(self):
        self.items = []

    def get(self, pid, default=None):
        for k, v in self.items:
            if k == pid:
                return v
        return default

    def all(self, pid):
        return [v for k, v in self.items if k == pid]

    def has(self, pid):
        return any(k == pid for k, _ in self.items)

    def __repr__(self):
        return "{" + ", ".join("%s=%r" % (PROPS[k][0], v) for k, v in self.items) + "}"


class Packet:
    """A decoded packet.  Attributes depend on the type:

    CONNACK: session_present, rc, props
    PUBLISH: topic, qos, retain, dup, pid, props, payload
    PUBACK/PUBREC/PUBREL/PUBCOMP: pid, rc, props
    SUBACK/UNSUBACK: pid, codes, props
    DISCONNECT/AUTH: rc, props
    """

    def __init__(self, raw, version):
        self.raw = bytes(raw)
        self.first = raw[0]
        self.type = raw[0] >> 4
        self.flags = raw[0] & 0x0F
        r = Reader(raw)
        r.byte()
        r.varint()
        self.body = r.data[r.pos:]
        self.props = Props()
        self.rc = 0
        t = self.type
        if t == CONNACK:
            self.session_present = r.byte() & 1
            self.rc = r.byte()
            if version == 5 and r.left():
                self.props = r.props()
        elif t == PUBLISH:
            self.qos = (self.flags >> 1) & 3
            self.retain = self.flags & 1
            self.dup = (self.flags >> 3) & 1
            self.topic = r.str()
            self.pid = r.u16() if self.qos else None
            if version == 5:
                self.props = r.props()
            self.payload = r.take(r.left())
        elif t in (PUBACK, PUBREC, PUBREL, PUBCOMP):
            self.pid = r.u16()
            if version == 5 and r.left():
                self.rc = r.byte()
                if r.left():
                    self.props = r.props()
        elif t in (SUBACK, UNSUBACK):
            self.pid = r.u16()
            if version == 5:
                self.props = r.props()
            self.codes = list(r.take(r.left()))
        elif t in (DISCONNECT, AUTH):
            if version == 5 and r.left():
                self.rc = r.byte()
                if r.left():
                    self.props = r.props()
        if r.left() and t != PUBLISH:
            raise Fail("%s has %d trailing bytes: %s"
                       % (self.name, r.left(), self.raw.hex()))

    @property
    def name(self):
        return TYPE_NAMES[self.type]

    def __repr__(self):
        extra = ""
        if self.type == PUBLISH:
            extra = " topic=%r qos=%d retain=%d dup=%d pid=%r payload=%r" % (
                self.topic, self.qos, self.retain, self.dup, self.pid,
                self.payload[:60])
        elif self.type in (SUBACK, UNSUBACK):
            extra = " pid=%d codes=%s" % (self.pid, [hex(c) for c in self.codes])
        elif self.type in (PUBACK, PUBREC, PUBREL, PUBCOMP):
            extra = " pid=%d rc=0x%02x" % (self.pid, self.rc)
        elif self.type in (CONNACK, DISCONNECT, AUTH):
            extra = " rc=0x%02x" % self.rc
        if self.props.items:
            extra += " props=%r" % self.props
        return "<%s%s raw=%s>" % (self.name, extra, self.raw[:48].hex())


# --------------------------------------------------------------------------
# Transports: plain TCP, TLS, WebSocket (over TCP or TLS)


class WebSocket:
    """A minimal RFC 6455 client: masked binary frames out, frames in."""

    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, sock, host, port, path="/mqtt", protocol="mqtt"):
        self.sock = sock
        self.raw = bytearray()
        self.data = bytearray()
        self.eof = False
        key = base64.b64encode(os.urandom(16))
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n" % (path, host, port, key.decode()))
        if protocol:
            req += "Sec-WebSocket-Protocol: %s\r\n" % protocol
        req += "\r\n"
        sock.sendall(req.encode())
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in self.raw:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                raise Fail("WebSocket handshake: connection closed; got %r" % bytes(self.raw))
            self.raw += chunk
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        self.raw = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if lines[0].split(" ")[1:2] != ["101"]:
            raise Fail("WebSocket handshake not 101: %r" % head)
        accept = base64.b64encode(hashlib.sha1(key + self.GUID).digest()).decode()
        if self.headers.get("sec-websocket-accept") != accept:
            raise Fail("bad Sec-WebSocket-Accept %r (want %r)"
                       % (self.headers.get("sec-websocket-accept"), accept))
        if protocol and self.headers.get("sec-websocket-protocol") != protocol:
            raise Fail("Sec-WebSocket-Protocol %r, want %r"
                       % (self.headers.get("sec-websocket-protocol"), protocol))

    def frame(self, payload, opcode=2, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        head = bytearray([(0x80 if fin else 0) | opcode])
        if n < 126:
            head.append(0x80 | n)
        elif n < 65536:
            head.append(0x80 | 126)
            head += struct.pack("!H", n)
        else:
            head.append(0x80 | 127)
            head += struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bytes(head) + mask + masked

    def sendall(self, data):
        self.sock.sendall(self.frame(bytes(data)))

    def send_frames(self, frames):
        """Send pre-built frames (to split MQTT packets across frames)."""
        self.sock.sendall(b"".join(frames))

    def settimeout(self, t):
        self.sock.settimeout(t)

    def _parse(self):
        while True:
            if len(self.raw) < 2:
                return
            b0, b1 = self.raw[0], self.raw[1]
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                if len(self.raw) < 4:
                    return
                n = struct.unpack("!H", self.raw[2:4])[0]
                pos = 4
            elif n == 127:
                if len(self.raw) < 10:
                    return
                n = struct.unpack("!Q", self.raw[2:10])[0]
                pos = 10
            if b1 & 0x80:
                raise Fail("server sent a masked WebSocket frame")
            if len(self.raw) < pos + n:
                return
            payload = bytes(self.raw[pos:pos + n])
            del self.raw[:pos + n]
            op = b0 & 0x0F
            if op in (0, 2):
                self.data += payload
            elif op == 1:
                raise Fail("server sent a text WebSocket frame")
            elif op == 8:
                self.eof = True
                self.close_payload = payload
            elif op == 9:
                self.sock.sendall(self.frame(payload, opcode=10))

    def recv(self, n):
        while not self.data and not self.eof:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.eof = True
                break
            self.raw += chunk
            self._parse()
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def shutdown(self, how):
        self.sock.shutdown(how)

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------
# Broker under test


class Broker:
    def __init__(self):
        self.exe = os.environ.get("STARLINGD")
        if not self.exe:
            bd = os.environ.get("STARLING_BUILDDIR", "")
            self.exe = os.path.join(bd, "broker", "daemon", "starlingd")
        self.proc = None
        self.dir = None
        self.ports = {}
        self.log_path = None
        self.log = None

    def start(self, extra_args=(), reuse_dir=None):
        """Start starlingd; reuse_dir restarts on another broker's directory
        (same data dir: the persistence tests)."""
        self.dir = reuse_dir or tempfile.mkdtemp(prefix="starling-wire-")
        data = os.path.join(self.dir, "data")
        os.makedirs(data, exist_ok=True)
        self.data_dir = data
        ready = os.path.join(self.dir, "ready.json")
        if os.path.exists(ready):
            os.unlink(ready)
        self.log_path = os.path.join(self.dir, "broker.log")
        self.log = open(self.log_path, "ab")
        cmd = [self.exe, "--dev", "--data-dir", data,
               "--mqtt", "127.0.0.1:0", "--mqtts", "127.0.0.1:0",
               "--ws", "127.0.0.1:0", "--wss", "127.0.0.1:0",
               "--api", "127.0.0.1:0",
               "--threads", "2", "--ready-file", ready,
               "--log-level", "debug"] + list(extra_args)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        info = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail("starlingd exited with %s before it was ready:\n%s"
                           % (self.proc.returncode, self.log_text()))
            try:
                with open(ready) as f:
                    info = json.load(f)
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        if info is None:
            raise Fail("no ready file after 10 s:\n%s" % self.log_text())
        for name, l in info.get("listeners", {}).items():
            self.ports[name] = (l["host"], l["port"])
        self.ca = os.path.join(data, "tls", "ca.pem")
        self.info = info
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_text(self, since=0, max_lines=None):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        if max_lines is not None:
            lines = text.splitlines()
            if len(lines) > max_lines:
                lines = ["... (%d lines cut)" % (len(lines) - max_lines)] + lines[-max_lines:]
            text = "\n".join(lines)
        return text

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL; returns the exit status."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    rc = self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    rc = "hung after SIGTERM (killed)"
            else:
                rc = self.proc.returncode
        if self.log:
            self.log.close()
        return rc

    def cleanup(self):
        if self.dir and not os.environ.get("WIRE_KEEP"):
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)

    def open(self, transport="mqtt", timeout=5, ws_path="/mqtt"):
        """A connected socket-like object for one transport."""
        if transport not in self.ports:
            raise Fail("broker has no %r listener (ready file: %r)" % (transport, self.info))
        host, port = self.ports[transport]
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if transport in ("mqtts", "wss"):
            ctx = ssl.create_default_context(cafile=self.ca)
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        if transport in ("ws", "wss"):
            return WebSocket(sock, host, port, ws_path)
        return sock


# --------------------------------------------------------------------------
# Client connection


class Client:
    def __init__(self, broker, version=5, transport="mqtt", name=""):
        self.broker = broker
        self.version = version
        self.name = name
        self.sock = broker.open(transport)
        self.buf = bytearray()
        self.eof = False
        self.next_pid = 1
        self.pushback = []  # packets set aside by ack() while it waited

    def pid(self):
        p = self.next_pid
        self.next_pid = self.next_pid % 65535 + 1
        return p

    def send(self, data):
        self.sock.sendall(data)

    def _try_parse(self):
        if len(self.buf) < 2:
            return None
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            n += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
            if i > 4:
                raise Fail("broker sent a remaining length longer than 4 bytes: %s"
                           % bytes(self.buf[:8]).hex())
        if len(self.buf) < i + n:
            return None
        raw = bytes(self.buf[:i + n])
        del self.buf[:i + n]
        return Packet(raw, self.version)

    def recv_packet(self, timeout=5.0):
        """The next packet, or None on timeout; raises Closed at EOF."""
        if self.pushback:
            return self.pushback.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            p = self._try_parse()
            if p is not None:
                return p
            if self.eof:
                raise Closed("closed with %d bytes of a partial packet pending: %s"
                             % (len(self.buf), bytes(self.buf[:32]).hex())
                             if self.buf else "closed")
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return None
            except ssl.SSLError as e:
                if "timed out" in str(e):
                    return None
                chunk = b""
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                self.eof = True
            else:
                self.buf += chunk

    def expect(self, ptype, timeout=5.0, what=""):
        """The next packet, which must be of type ptype."""
        try:
            p = self.recv_packet(timeout)
        except Closed as e:
            raise Fail("%sexpected %s, connection %s" % (self._tag(what), TYPE_NAMES[ptype], e))
        if p is None:
            raise Fail("%sexpected %s, nothing within %.1f s" % (self._tag(what), TYPE_NAMES[ptype], timeout))
        if p.type != ptype:
            raise Fail("%sexpected %s, got %r" % (self._tag(what), TYPE_NAMES[ptype], p))
        return p

    def _tag(self, what):
        tag = self.name or ""
        if what:
            tag = (tag + " " if tag else "") + what
        return tag + ": " if tag else ""

    def expect_publish(self, topic=None, payload=None, qos=None, timeout=5.0, what=""):
        p = self.expect(PUBLISH, timeout, what)
        if topic is not None and p.topic != topic:
            raise Fail("%sPUBLISH topic %r, want %r (%r)" % (self._tag(what), p.topic, topic, p))
        if payload is not None:
            want = payload.encode() if isinstance(payload, str) else payload
            if p.payload != want:
                raise Fail("%sPUBLISH payload %r, want %r" % (self._tag(what), p.payload, want))
        if qos is not None and p.qos != qos:
            raise Fail("%sPUBLISH qos %d, want %d (%r)" % (self._tag(what), p.qos, qos, p))
        return p

    def expect_closed(self, timeout=5.0, what="", allow=()):
        """The connection must close within timeout with no packet first
        (except packet types in allow, returned in a list)."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                p = self.recv_packet(max(0.0, left))
            except Closed:
                return got
            if p is None:
                raise Fail("%sconnection still open after %.1f s" % (self._tag(what), timeout))
            if p.type not in allow:
                raise Fail("%sexpected the connection to close, got %r" % (self._tag(what), p))
            got.append(p)

    def expect_nothing(self, timeout=0.5, what=""):
        try:
            p = self.recv_packet(timeout)
        except Closed as e:
            raise Fail("%sexpected nothing, connection %s" % (self._tag(what), e))
        if p is not None:
            raise Fail("%sexpected nothing, got %r" % (self._tag(what), p))

    def is_open(self, timeout=0.2):
        """True when no EOF within timeout (packets are kept)."""
        try:
            p = self.recv_packet(timeout)
        except Closed:
            return False
        if p is not None:
            raise Fail("%sunexpected %r" % (self._tag(""), p))
        return True

    # convenience ---------------------------------------------------------

    def ping(self, timeout=5.0):
        self.send(pingreq())
        p = self.expect(PINGRESP, timeout)
        if p.raw != b"\xd0\x00":
            raise Fail("PINGRESP bytes %s, want d000" % p.raw.hex())

    def subscribe(self, filters, props=None, qos=None, expect_codes=None):
        """filters: a filter, a list of filters, or (filter, options) pairs."""
        if isinstance(filters, str):
            filters = [filters]
        if qos is not None:
            filters = [(f, qos) if isinstance(f, str) else f for f in filters]
        pid = self.pid()
        self.send(subscribe_packet(self.version, pid, filters, props))
        p = self.expect(SUBACK, what="SUBSCRIBE")
        if p.pid != pid:
            raise Fail("SUBACK pid %d, want %d" % (p.pid, pid))
        if expect_codes is None:
            expect_codes = [f[1] & 3 if not isinstance(f, str) else 0 for f in filters]
        if p.codes != list(expect_codes):
            raise Fail("SUBACK codes %s, want %s" % ([hex(c) for c in p.codes],
                                                     [hex(c) for c in expect_codes]))
        return p

    def unsubscribe(self, filters, expect_codes=None):
        if isinstance(filters, str):
            filters = [filters]
        pid = self.pid()
        self.send(unsubscribe_packet(self.version, pid, filters))
        p = self.expect(UNSUBACK, what="UNSUBSCRIBE")
        if p.pid != pid:
            raise Fail("UNSUBACK pid %d, want %d" % (p.pid, pid))
        if self.version == 5 and expect_codes is not None and p.codes != list(expect_codes):
            raise Fail("UNSUBACK codes %s, want %s" % (p.codes, expect_codes))
        return p

    def publish(self, topic, payload=b"", qos=0, retain=False, props=None,
                pid=None, expect_rc=None):
        """Publish and complete the QoS flow; returns the PUBACK/PUBREC (or None)."""
        if qos == 0:
            self.send(publish_packet(self.version, topic, payload, 0, retain, props=props))
            return None
        if pid is None:
            pid = self.pid()
        self.send(publish_packet(self.version, topic, payload, qos, retain, pid=pid, props=props))
        if qos == 1:
            a = self.expect(PUBACK, what="PUBLISH QoS 1")
        else:
            a = self.expect(PUBREC, what="PUBLISH QoS 2")
        if a.pid != pid:
            raise Fail("%s pid %d, want %d" % (a.name, a.pid, pid))
        if expect_rc is not None and self.version == 5 and a.rc != expect_rc:
            raise Fail("%s reason 0x%02x, want 0x%02x" % (a.name, a.rc, expect_rc))
        if qos == 2 and a.rc < 0x80:
            self.send(pubrel(self.version, pid))
            c = self.expect(PUBCOMP, what="PUBREL")
            if c.pid != pid or c.rc != 0:
                raise Fail("PUBCOMP %r for pid %d" % (c, pid))
        return a

    def ack(self, p):
        """Acknowledge a received PUBLISH completely (QoS 1 or 2)."""
        if p.qos == 1:
            self.send(puback(self.version, p.pid))
        elif p.qos == 2:
            self.send(pubrec(self.version, p.pid))
            # other deliveries may come before the PUBREL: keep them in order
            stash = []
            while True:
                try:
                    r = self.recv_packet(5)
                except Closed as e:
                    raise Fail("%sexpected PUBREL after PUBREC, connection %s" % (self._tag(""), e))
                if r is None:
                    raise Fail("%sexpected PUBREL after PUBREC, nothing within 5 s" % self._tag(""))
                if r.type == PUBLISH and len(stash) < 1000:
                    stash.append(r)
                    continue
                break
            self.pushback = stash + self.pushback
            if r.type != PUBREL:
                raise Fail("%sexpected PUBREL after PUBREC, got %r" % (self._tag(""), r))
            if r.pid != p.pid:
                raise Fail("PUBREL pid %d, want %d" % (r.pid, p.pid))
            if r.first != 0x62:
                raise Fail("PUBREL fixed header 0x%02x, want 0x62" % r.first)
            self.send(pubcomp(self.version, p.pid))

    def disconnect(self, rc=None, props=None, timeout=5.0):
        """Send DISCONNECT and wait (bounded) for the broker to close: once it
        has, the session is offline, so what a test does next cannot race
        with the broker still handling this connection."""
        try:
            self.send(disconnect_packet(self.version, rc, props))
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.sock.recv(65536):
                    break
        except (OSError, ssl.SSLError, Fail):
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Close abruptly: no DISCONNECT (an RST where possible)."""
        try:
            raw = self.sock.sock if isinstance(self.sock, WebSocket) else self.sock
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()


# --------------------------------------------------------------------------
# Function-style helpers (same as the Client methods)


def connect(broker, version=5, client_id="", clean=True, keepalive=60, props=None,
            will=None, username=None, password=None, transport="mqtt"):
    """Open a connection and send CONNECT; returns (client, CONNACK)."""
    c = Client(broker, version, transport)
    c.send(connect_packet(version, client_id, clean, keepalive, props, will,
                          username, password))
    return c, c.expect(CONNACK, what="CONNECT")


def expect_packet(c, ptype, timeout=5.0):
    return c.expect(ptype, timeout)


def expect_closed(c, timeout=5.0):
    return c.expect_closed(timeout)


def expect_nothing(c, timeout=0.5):
    return c.expect_nothing(timeout)


# --------------------------------------------------------------------------
# Assertions


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    if got != want:
        raise Fail("%s: got %r, want %r" % (what, got, want))


# --------------------------------------------------------------------------
# Test context and runner


class Ctx:
    """What one test case gets: the broker, the protocol version, fresh names."""

    def __init__(self, broker, version, index, file_tag):
        self.broker = broker
        self.version = version
        self.v5 = version == 5
        self.index = index
        self.clients = []
        self.n = 0
        self.prefix = "wire/%s/%d-%d-%s" % (file_tag, os.getpid(), index,
                                            base64.b32encode(os.urandom(5)).decode().lower())

    def cid(self, tag="c"):
        self.n += 1
        return "w%d-%d-%s%d" % (os.getpid() % 100000, self.index, tag, self.n)

    def topic(self, sub=""):
        return self.prefix + ("/" + sub if sub else "")

    def client(self, version=None, transport="mqtt", name=""):
        c = Client(self.broker, version or self.version, transport, name)
        self.clients.append(c)
        return c

    def connect(self, client_id=None, version=None, clean=True, keepalive=60,
                props=None, will=None, username=None, password=None,
                transport="mqtt", expect_rc=0, expect_sp=None, name=""):
        """Open a connection, send CONNECT, check the CONNACK.

        Returns the client (c.connack holds the CONNACK)."""
        version = version or self.version
        c = self.client(version, transport, name or (client_id or "client"))
        if client_id is None:
            client_id = self.cid()
        c.client_id = client_id
        c.send(connect_packet(version, client_id, clean, keepalive, props, will,
                              username, password))
        a = c.expect(CONNACK, what="CONNECT")
        c.connack = a
        if a.rc != expect_rc:
            raise Fail("CONNACK reason 0x%02x, want 0x%02x (%r)" % (a.rc, expect_rc, a))
        if expect_sp is not None and a.session_present != expect_sp:
            raise Fail("CONNACK session present %d, want %d" % (a.session_present, expect_sp))
        return c

    def assert_alive(self):
        """The broker still accepts a new client and answers a PINGREQ."""
        check(self.broker.alive(), "starlingd is no longer running (exit %s)"
              % self.broker.proc.returncode)
        c = self.connect(version=5, name="probe")
        c.ping()
        c.disconnect()

    def expect_error(self, c, code, what=""):
        """v5: DISCONNECT with this reason code, then close.  3.1.1: close.

        code may be a set of acceptable codes."""
        codes = code if isinstance(code, (set, frozenset, tuple)) else {code}
        if c.version == 5:
            p = c.expect(DISCONNECT, what=what)
            if p.rc not in codes:
                raise Fail("DISCONNECT reason 0x%02x, want %s (%r)"
                           % (p.rc, "/".join("0x%02x" % x for x in sorted(codes)), p))
        c.expect_closed(what=what)

    def expect_connack_error(self, c, code, v4code=None, what=""):
        """An error in CONNECT: v5 CONNACK code then close; 3.1.1 CONNACK
        v4code (if given) or a plain close."""
        if c.version == 5:
            codes = code if isinstance(code, (set, frozenset, tuple)) else {code}
            p = c.expect(CONNACK, what=what)
            if p.rc not in codes:
                raise Fail("CONNACK reason 0x%02x, want %s (%r)"
                           % (p.rc, "/".join("0x%02x" % x for x in sorted(codes)), p))
        elif v4code is not None:
            p = c.expect(CONNACK, what=what)
            eq(p.raw, bytes([0x20, 0x02, 0x00, v4code]), "CONNACK bytes")
        c.expect_closed(what=what)

    def close_all(self):
        for c in self.clients:
            c.close()


_CASES = []


def case(name, versions=(4, 5)):
    """Register a test case run once per protocol version in versions."""
    def deco(fn):
        _CASES.append((name, fn, tuple(versions)))
        return fn
    return deco


def main(broker_args=()):
    """Run the registered cases against one broker started with broker_args."""
    tag = os.path.splitext(os.path.basename(sys.argv[0]))[0].replace("test_", "")
    only = sys.argv[1] if len(sys.argv) > 1 else None
    cases = []
    for name, fn, versions in _CASES:
        for v in versions:
            label = "%s [%s]" % (name, "v5" if v == 5 else "v3.1.1")
            if only and only not in label:
                continue
            cases.append((label, fn, v))
    # two checks close every file: a clean SIGTERM exit and a quiet log
    print("1..%d" % (len(cases) + 2), flush=True)
    broker = Broker()
    try:
        broker.start(broker_args)
    except Exception as e:  # noqa: BLE001 — anything here means no broker
        print("Bail out! starlingd did not start: %s" % str(e).splitlines()[0], flush=True)
        for line in str(e).splitlines()[1:40]:
            print("# " + line)
        broker.stop()
        broker.cleanup()
        return 1
    failed = 0
    start_all = time.monotonic()
    try:
        for i, (label, fn, v) in enumerate(cases, 1):
            ctx = Ctx(broker, v, i, tag)
            mark = broker.log_size()
            t0 = time.monotonic()
            err = None
            try:
                if not broker.alive():
                    raise Fail("starlingd is not running (exited %s)" % broker.proc.returncode)
                fn(ctx)
            except Fail as e:
                err = str(e)
            except (OSError, Closed) as e:
                err = "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=3))
            except Exception as e:  # noqa: BLE001 — a harness bug still fails the case
                err = "harness error %s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())
            finally:
                ctx.close_all()
            dt = time.monotonic() - t0
            if err is None:
                print("ok %d - %s" % (i, label), flush=True)
            else:
                failed += 1
                print("not ok %d - %s" % (i, label))
                for line in err.splitlines():
                    print("# " + line)
                print("# (%.2f s) broker log during this case:" % dt)
                for line in broker.log_text(mark, 25).splitlines():
                    print("#   " + line)
                sys.stdout.flush()
    finally:
        rc = broker.stop()
        n = len(cases)
        if rc == 0:
            print("ok %d - starlingd exits 0 on SIGTERM" % (n + 1))
        else:
            failed += 1
            print("not ok %d - starlingd exits 0 on SIGTERM\n# exit status %s" % (n + 1, rc))
            for line in broker.log_text(0, 25).splitlines():
                print("#   " + line)
        bad = [line for line in broker.log_text().splitlines() if log_alarm(line)]
        if not bad:
            print("ok %d - broker log has no warnings or criticals" % (n + 2))
        else:
            failed += 1
            print("not ok %d - broker log has no warnings or criticals" % (n + 2))
            for line in bad[:30]:
                print("#   " + line)
        print("# %d of %d checks failed; %.1f s; data dir %s"
              % (failed, n + 2, time.monotonic() - start_all, broker.dir))
        sys.stdout.flush()
        broker.cleanup()
    return 1 if failed else 0


# Log lines that mean something went wrong inside the broker, whatever a
# client did: GLib warnings/criticals, sanitizer and allocator reports.
# "<UTC stamp> starlingd: <level>: <domain>: <text>" (no stamp under journald)
LOG_LEVEL_ALARM = re.compile(r"^(\S+ )?starlingd: (warning|critical|error): ")
LOG_ALARMS = ("CRITICAL **", "WARNING **", "ERROR **", "AddressSanitizer",
              "LeakSanitizer", "runtime error:", "free(): ", "malloc(): ",
              "double free", "Segmentation fault")


def log_alarm(line):
    """True for a log line at warning level or worse, or a crash report."""
    return bool(LOG_LEVEL_ALARM.match(line)) or any(m in line for m in LOG_ALARMS)
