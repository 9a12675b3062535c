#!/usr/bin/env python3
"""Transports: MQTT over TLS, WebSocket and WebSocket over TLS."""

import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403


def round_trip(t, transport):
    topic = t.topic(transport)
    sub = t.connect(transport=transport, name="sub-" + transport)
    sub.subscribe([(topic, 1)])
    pub = t.connect(transport=transport, name="pub-" + transport)
    pub.publish(topic, b"over " + transport.encode(), qos=1)
    p = sub.expect_publish(topic, b"over " + transport.encode(), qos=1)
    sub.ack(p)
    sub.ping()
    pub.disconnect()


@case("TLS round trip (verified with ca.pem, name localhost)")
def _(t):
    round_trip(t, "mqtts")


@case("TLS certificate also valid for 127.0.0.1", versions=(5,))
def _(t):
    host, port = t.broker.ports["mqtts"]
    ctx = ssl.create_default_context(cafile=t.broker.ca)
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(connect_packet(5, t.cid()))
            s.settimeout(5)
            data = s.recv(5)
            check(data[:1] == b"\x20", "no CONNACK over TLS: %r" % data)


@case("WebSocket round trip")
def _(t):
    round_trip(t, "ws")


@case("WSS round trip")
def _(t):
    round_trip(t, "wss")


@case("publish over TCP, receive over WebSocket and TLS")
def _(t):
    topic = t.topic("x")
    subs = []
    for tr in ("ws", "wss", "mqtts"):
        s = t.connect(transport=tr, name=tr)
        s.subscribe([(topic, 0)])
        subs.append(s)
    pub = t.connect(transport="mqtt")
    pub.publish(topic, b"fan")
    for s in subs:
        s.expect_publish(topic, b"fan")


@case("WebSocket: one MQTT packet split over several frames", versions=(5,))
def _(t):
    c = t.client(transport="ws")
    raw = connect_packet(5, t.cid())
    ws = c.sock
    ws.send_frames([ws.frame(raw[:3], fin=True), ws.frame(raw[3:10]), ws.frame(raw[10:])])
    eq(c.expect(CONNACK).rc, 0, "CONNACK reason")
    c.ping()


@case("WebSocket: continuation frames", versions=(5,))
def _(t):
    c = t.client(transport="ws")
    raw = connect_packet(5, t.cid())
    ws = c.sock
    ws.send_frames([ws.frame(raw[:5], opcode=2, fin=False), ws.frame(raw[5:], opcode=0, fin=True)])
    eq(c.expect(CONNACK).rc, 0, "CONNACK reason")


@case("WebSocket: several MQTT packets in one frame", versions=(4,))
def _(t):
    c = t.client(transport="ws")
    c.send(connect_packet(4, t.cid()) + pingreq() + pingreq())
    eq(c.expect(CONNACK).raw, b"\x20\x02\x00\x00", "CONNACK bytes")
    c.expect(PINGRESP)
    c.expect(PINGRESP)


@case("WebSocket: ping frame is answered with pong", versions=(5,))
def _(t):
    c = t.connect(transport="ws")
    ws = c.sock
    ws.sock.sendall(ws.frame(b"hi", opcode=9))
    ws.sock.settimeout(5)
    buf = b""
    deadline = time.monotonic() + 5
    try:
        while len(buf) < 4 and time.monotonic() < deadline:
            chunk = ws.sock.recv(64)
            if not chunk:
                break
            buf += chunk
    except (socket.timeout, TimeoutError):
        raise Fail("no pong within 5 s (got %r)" % buf)
    eq(buf[:4], b"\x8a\x02hi", "pong frame")
    c.ping()  # and MQTT still flows after the control frame


@case("WebSocket: close frame ends the connection and publishes the will", versions=(5,))
def _(t):
    wt = t.topic("will")
    w = t.connect()
    w.subscribe([wt])
    c = t.connect(transport="ws", will={"topic": wt, "payload": b"ws-gone"})
    ws = c.sock
    ws.sock.sendall(ws.frame(b"\x03\xe8", opcode=8))
    c.expect_closed()
    w.expect_publish(wt, b"ws-gone")


@case("WSS: 200 KiB message", versions=(5,))
def _(t):
    topic = t.topic("big")
    sub = t.connect(transport="wss")
    sub.subscribe([(topic, 1)])
    pub = t.connect(transport="wss")
    payload = os.urandom(200 * 1024)
    pub.publish(topic, payload, qos=1)
    p = sub.expect_publish(topic, qos=1, timeout=10)
    check(p.payload == payload, "payload differs (%d bytes)" % len(p.payload))
    sub.ack(p)


@case("TLS: malformed packet still gets DISCONNECT 0x81", versions=(5,))
def _(t):
    c = t.connect(transport="mqtts")
    c.send(b"\x30\xff\xff\xff\xff\x7f")
    t.expect_error(c, 0x81)


@case("WebSocket handshake without the mqtt subprotocol is refused or unchosen", versions=(5,))
def _(t):
    host, port = t.broker.ports["ws"]
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Protocol: chat\r\n\r\n")
        s.settimeout(5)
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = s.recv(4096)
            if not chunk:
                break
            resp += chunk
        head = resp.split(b"\r\n\r\n")[0].lower()
        # RFC 6455: the server must not select a subprotocol the client did not offer
        check(b"sec-websocket-protocol: chat" not in head,
              "server selected a subprotocol it does not speak: %r" % head)
        check(b"sec-websocket-protocol: mqtt" not in head,
              "server selected a subprotocol the client did not offer: %r" % head)
    finally:
        s.close()


@case("plain HTTP request on the WebSocket port gets an HTTP error", versions=(5,))
def _(t):
    host, port = t.broker.ports["ws"]
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        resp = s.recv(4096)
        check(resp.startswith(b"HTTP/1.1 4"), "response %r" % resp[:80])
    finally:
        s.close()
    t.assert_alive()


def raw_ws(t, transport="ws"):
    """A WebSocket past its handshake, for hand-made frames."""
    c = t.client(transport=transport)
    return c, c.sock


@case("WebSocket: handshake sent in small pieces", versions=(5,))
def _(t):
    host, port = t.broker.ports["ws"]
    s = socket.create_connection((host, port), timeout=5)
    try:
        req = (b"GET /any/path HTTP/1.1\r\nHost: localhost\r\nupgrade: WebSocket\r\n"
               b"connection: keep-alive, Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"sec-websocket-version: 13\r\nsec-websocket-protocol: mqttv3.1, mqtt\r\n\r\n")
        for i in range(0, len(req), 7):
            s.sendall(req[i:i + 7])
            time.sleep(0.003)
        s.settimeout(5)
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = s.recv(4096)
            if not chunk:
                break
            resp += chunk
        head = resp.split(b"\r\n\r\n")[0]
        check(head.startswith(b"HTTP/1.1 101"), "response %r" % head)
        low = head.lower()
        check(b"sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=" in low,
              "Sec-WebSocket-Accept missing or wrong: %r" % head)
        check(b"sec-websocket-protocol: mqtt\r\n" in low + b"\r\n",
              "subprotocol mqtt not selected: %r" % head)
    finally:
        s.close()


@case("WebSocket: an unmasked client frame closes the connection", versions=(5,))
def _(t):
    c, ws = raw_ws(t)
    raw = connect_packet(5, t.cid())
    ws.sock.sendall(bytes([0x82, len(raw)]) + raw)
    # a close frame (1002) may come first; no CONNACK
    c.expect_closed()
    t.assert_alive()


@case("WebSocket: a text frame closes the connection", versions=(5,))
def _(t):
    c = t.connect(transport="ws")
    ws = c.sock
    ws.sock.sendall(ws.frame(pingreq(), opcode=1))
    c.expect_closed(allow=(DISCONNECT,))
    t.assert_alive()


@case("plain MQTT on the TLS port is refused", versions=(5,))
def _(t):
    host, port = t.broker.ports["mqtts"]
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(connect_packet(5, t.cid()))
        s.settimeout(5)
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        check(not data.startswith(b"\x20"), "got a CONNACK over plain TCP: %r" % data[:8])
    finally:
        s.close()
    t.assert_alive()


@case("TLS: abrupt close mid-handshake does not hurt the broker", versions=(5,))
def _(t):
    host, port = t.broker.ports["mqtts"]
    for _ in range(5):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"\x16\x03\x01\x00\xa0\x01\x00")
        s.close()
    round_trip(t, "mqtts")


@case("WebSocket: frames dribbled one byte per write", versions=(4,))
def _(t):
    c = t.client(transport="ws")
    ws = c.sock
    data = ws.frame(connect_packet(4, t.cid())) + ws.frame(pingreq())
    for i in range(len(data)):
        ws.sock.sendall(data[i:i + 1])
        time.sleep(0.001)
    eq(c.expect(CONNACK).raw, b"\x20\x02\x00\x00", "CONNACK bytes")
    c.expect(PINGRESP)


@case("WSS: many small frames in one write", versions=(5,))
def _(t):
    c = t.client(transport="wss")
    ws = c.sock
    raw = connect_packet(5, t.cid()) + pingreq() * 50
    ws.send_frames([ws.frame(raw[i:i + 3]) for i in range(0, len(raw), 3)])
    eq(c.expect(CONNACK).rc, 0, "CONNACK reason")
    for _ in range(50):
        c.expect(PINGRESP)


@case("SIGHUP (TLS reload) keeps the broker and its sessions serving", versions=(5,))
def _(t):
    import signal
    held = t.connect(transport="mqtts", name="held over SIGHUP")
    t.broker.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    check(t.broker.alive(), "starlingd died on SIGHUP")
    held.ping()
    round_trip(t, "mqtts")
    round_trip(t, "wss")


@case("keep alive is enforced over WSS too", versions=(5,))
def _(t):
    c = t.connect(transport="wss", keepalive=1)
    t0 = time.monotonic()
    eq(c.expect(DISCONNECT, timeout=4).rc, 0x8D, "DISCONNECT reason (Keep Alive timeout)")
    c.expect_closed(timeout=2)
    dt = time.monotonic() - t0
    check(1.0 <= dt <= 3.0, "closed after %.2f s, want about 1.5 s" % dt)


if __name__ == "__main__":
    sys.exit(main())
