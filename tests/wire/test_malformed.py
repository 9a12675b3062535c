#!/usr/bin/env python3
"""Malformed packets and protocol errors.

v5: the broker answers with DISCONNECT (or CONNACK while CONNECT is being
handled) carrying the reason code, then closes; 3.1.1: it closes.  After
each case another client must still be able to connect."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403

MALFORMED, PROTOCOL = 0x81, 0x82


def connect_body(t, flags, client_id=None, tail=b""):
    """A CONNECT with explicit flags (no will/user/pass fields unless in tail)."""
    cid = client_id if client_id is not None else t.cid()
    body = mstr("MQTT") + bytes([t.version, flags]) + u16(60)
    if t.v5:
        body += b"\x00"
    return body + mstr(cid) + tail


def bad_connect(t, raw, code=MALFORMED):
    c = t.client()
    c.send(raw)
    t.expect_connack_error(c, code)
    t.assert_alive()


def bad_after_connect(t, raw, code=MALFORMED, **kw):
    c = t.connect(**kw)
    c.send(raw)
    t.expect_error(c, code)
    t.assert_alive()
    return c


@case("CONNECT reserved flag set")
def _(t):
    bad_connect(t, packet(0x10, connect_body(t, 0x03)))


@case("CONNECT fixed header flags not 0")
def _(t):
    bad_connect(t, packet(0x11, connect_body(t, 0x02)))


@case("CONNECT will QoS without will flag")
def _(t):
    bad_connect(t, packet(0x10, connect_body(t, 0x02 | 0x08)))


@case("CONNECT will retain without will flag")
def _(t):
    bad_connect(t, packet(0x10, connect_body(t, 0x02 | 0x20)))


@case("CONNECT will QoS 3")
def _(t):
    will = (b"\x00" if t.v5 else b"") + mstr("w") + mbin(b"x")
    bad_connect(t, packet(0x10, connect_body(t, 0x02 | 0x04 | 0x18, tail=will)))


@case("CONNECT password flag without username flag", versions=(4,))
def _(t):
    bad_connect(t, packet(0x10, connect_body(t, 0x02 | 0x40, tail=mbin(b"pw"))))


@case("CONNECT truncated client id")
def _(t):
    body = connect_body(t, 0x02)[:-3]
    bad_connect(t, packet(0x10, body))


@case("CONNECT client id with invalid UTF-8")
def _(t):
    body = mstr("MQTT") + bytes([t.version, 0x02]) + u16(60)
    if t.v5:
        body += b"\x00"
    body += mstr(b"ab\xc3\x28")
    bad_connect(t, packet(0x10, body))


@case("CONNECT duplicate property", versions=(5,))
def _(t):
    c = t.client()
    c.send(connect_packet(5, t.cid(), props=[(P_SESSION_EXPIRY, 10), (P_SESSION_EXPIRY, 20)]))
    t.expect_connack_error(c, PROTOCOL)
    t.assert_alive()


@case("CONNECT property not allowed (Topic Alias)", versions=(5,))
def _(t):
    c = t.client()
    c.send(connect_packet(5, t.cid(), props={P_TOPIC_ALIAS: 1}))
    t.expect_connack_error(c, MALFORMED)
    t.assert_alive()


@case("PUBLISH QoS 3")
def _(t):
    bad_after_connect(t, packet(0x36, mstr(t.topic()) + u16(1) + (b"\x00" if t.v5 else b"") + b"x"))


@case("PUBLISH QoS 0 with DUP")
def _(t):
    bad_after_connect(t, packet(0x38, mstr(t.topic()) + (b"\x00" if t.v5 else b"") + b"x"))


@case("PUBLISH QoS 1 with packet id 0")
def _(t):
    bad_after_connect(t, publish_packet(t.version, t.topic(), b"x", qos=1, pid=0),
                      code={MALFORMED, PROTOCOL})


@case("5-byte remaining length")
def _(t):
    bad_after_connect(t, b"\x30\xff\xff\xff\xff\x7f" + b"\x00" * 16)


@case("SUBSCRIBE fixed header flags 0 instead of 2")
def _(t):
    raw = bytearray(subscribe_packet(t.version, 1, [(t.topic(), 0)]))
    raw[0] = 0x80
    bad_after_connect(t, bytes(raw))


@case("UNSUBSCRIBE fixed header flags 0 instead of 2")
def _(t):
    raw = bytearray(unsubscribe_packet(t.version, 1, [t.topic()]))
    raw[0] = 0xA0
    bad_after_connect(t, bytes(raw))


@case("PUBREL fixed header flags 0 instead of 2")
def _(t):
    bad_after_connect(t, b"\x60\x02\x00\x01")


@case("PINGREQ fixed header flags not 0")
def _(t):
    bad_after_connect(t, b"\xc1\x00")


@case("PUBLISH topic with invalid UTF-8 (C3 28)")
def _(t):
    bad_after_connect(t, publish_packet(t.version, t.topic().encode() + b"/\xc3\x28", b"x"))


@case("PUBLISH topic with U+0000")
def _(t):
    bad_after_connect(t, publish_packet(t.version, t.topic().encode() + b"/a\x00b", b"x"))


@case("PUBLISH topic with surrogate U+D800 (ED A0 80)")
def _(t):
    bad_after_connect(t, publish_packet(t.version, t.topic().encode() + b"/\xed\xa0\x80", b"x"))


@case("PUBLISH topic with overlong encoding (C0 AF)")
def _(t):
    bad_after_connect(t, publish_packet(t.version, t.topic().encode() + b"/\xc0\xaf", b"x"))


@case("SUBSCRIBE filter with invalid UTF-8")
def _(t):
    bad_after_connect(t, subscribe_packet(t.version, 1, [(t.topic().encode() + b"/\xed\xa0\x80", 0)]))


@case("PUBLISH topic with + wildcard")
def _(t):
    bad_after_connect(t, publish_packet(t.version, t.topic("+/x"), b"x"), code=0x90)


@case("PUBLISH topic with # wildcard")
def _(t):
    bad_after_connect(t, publish_packet(t.version, t.topic("#"), b"x", qos=1, pid=3), code=0x90)


@case("PUBLISH empty topic without alias")
def _(t):
    bad_after_connect(t, publish_packet(t.version, "", b"x"), code=PROTOCOL)


@case("PUBLISH duplicate property", versions=(5,))
def _(t):
    bad_after_connect(t, publish_packet(5, t.topic(), b"x", props=[
        (P_MESSAGE_EXPIRY, 10), (P_MESSAGE_EXPIRY, 20)]), code=PROTOCOL)


@case("PUBLISH property not allowed (Session Expiry)", versions=(5,))
def _(t):
    bad_after_connect(t, publish_packet(5, t.topic(), b"x", props={P_SESSION_EXPIRY: 5}))


@case("PUBLISH property length overruns packet", versions=(5,))
def _(t):
    body = mstr(t.topic()) + b"\x09" + b"\x01\x01"
    bad_after_connect(t, packet(0x30, body))


@case("PUBLISH unknown property id", versions=(5,))
def _(t):
    body = mstr(t.topic()) + b"\x02\x7f\x00" + b"x"
    bad_after_connect(t, packet(0x30, body))


@case("PINGREQ with trailing garbage")
def _(t):
    bad_after_connect(t, b"\xc0\x01\x00")


@case("PUBACK with trailing garbage", versions=(4,))
def _(t):
    bad_after_connect(t, b"\x40\x03\x00\x01\x00")


@case("UNSUBSCRIBE with a trailing partial string")
def _(t):
    body = u16(1) + (b"\x00" if t.v5 else b"") + mstr(t.topic()) + b"\x00"
    bad_after_connect(t, packet(0xA2, body))


@case("SUBSCRIBE with no filters")
def _(t):
    bad_after_connect(t, packet(0x82, u16(1) + (b"\x00" if t.v5 else b"")), code=PROTOCOL)


@case("UNSUBSCRIBE with no filters")
def _(t):
    bad_after_connect(t, packet(0xA2, u16(1) + (b"\x00" if t.v5 else b"")), code=PROTOCOL)


@case("SUBSCRIBE with QoS 3")
def _(t):
    bad_after_connect(t, subscribe_packet(t.version, 1, [(t.topic(), 3)]),
                      code=PROTOCOL)


@case("SUBSCRIBE options reserved bits set")
def _(t):
    bad_after_connect(t, subscribe_packet(t.version, 1, [(t.topic(), 0xC0)]))


@case("SUBSCRIBE Retain Handling 3", versions=(5,))
def _(t):
    bad_after_connect(t, subscribe_packet(5, 1, [(t.topic(), 0x30)]), code=PROTOCOL)


@case("SUBSCRIBE subscription identifier 0", versions=(5,))
def _(t):
    bad_after_connect(t, subscribe_packet(5, 1, [(t.topic(), 0)],
                                          props={P_SUBSCRIPTION_ID: 0}), code=PROTOCOL)


@case("SUBSCRIBE two subscription identifiers", versions=(5,))
def _(t):
    bad_after_connect(t, subscribe_packet(5, 1, [(t.topic(), 0)],
                                          props=[(P_SUBSCRIPTION_ID, 1), (P_SUBSCRIPTION_ID, 2)]),
                      code=PROTOCOL)


@case("SUBSCRIBE packet id 0")
def _(t):
    bad_after_connect(t, subscribe_packet(t.version, 0, [(t.topic(), 0)]),
                      code={MALFORMED, PROTOCOL})


@case("reserved packet type 0")
def _(t):
    bad_after_connect(t, b"\x00\x00", code={MALFORMED, PROTOCOL})


@case("AUTH without authentication method", versions=(5,))
def _(t):
    bad_after_connect(t, b"\xf0\x02\x18\x00", code=PROTOCOL)


@case("packet type 15 at 3.1.1", versions=(4,))
def _(t):
    bad_after_connect(t, b"\xf0\x00")


@case("CONNACK sent by a client")
def _(t):
    bad_after_connect(t, b"\x20\x02\x00\x00" if not t.v5 else b"\x20\x03\x00\x00\x00",
                      code={MALFORMED, PROTOCOL})


@case("PUBLISH larger than 1 MiB -> 0x95")
def _(t):
    c = t.connect()
    topic = t.topic()
    body_len = (1 << 20) + 100
    head = b"\x30" + varint(body_len) + mstr(topic) + (b"\x00" if t.v5 else b"")
    # the broker can reject from the fixed header: send only the start so
    # its DISCONNECT is not lost to a reset caused by unread data
    c.send(head + b"x" * 4096)
    t.expect_error(c, 0x95)
    t.assert_alive()


@case("PUBLISH of 1 MiB + 1 byte in total -> 0x95")
def _(t):
    c = t.connect()
    remaining = (1 << 20) + 1 - 4  # fixed header: 1 + 3 length bytes
    head = b"\x30" + varint(remaining) + mstr(t.topic()) + (b"\x00" if t.v5 else b"")
    eq(len(varint(remaining)), 3, "length bytes")
    c.send(head + b"x" * 4096)
    t.expect_error(c, 0x95)


@case("PUBLISH of exactly 1 MiB is accepted")
def _(t):
    c = t.connect()
    sub = t.connect()
    topic = t.topic()
    sub.subscribe(topic)
    overhead = 2 + len(topic) + (1 if t.v5 else 0)
    payload = b"y" * ((1 << 20) - 4 - overhead)  # fixed header: 1 + 3 length bytes
    raw = publish_packet(t.version, topic, payload)
    eq(len(raw), 1 << 20, "test packet size")
    c.send(raw)
    p = sub.expect_publish(topic, timeout=10)
    eq(len(p.payload), len(payload), "delivered payload length")
    c.ping()


@case("truncated packet then close: will is published, broker lives")
def _(t):
    wt = t.topic("will")
    sub = t.connect()
    sub.subscribe(wt)
    c = t.connect(will={"topic": wt, "payload": b"gone"})
    raw = publish_packet(t.version, t.topic(), b"z" * 100)
    c.send(raw[:40])
    time.sleep(0.1)
    c.close()
    sub.expect_publish(wt, b"gone")
    t.assert_alive()


@case("v5 DISCONNECT with a malformed property", versions=(5,))
def _(t):
    c = t.connect()
    c.send(b"\xe0\x03\x00\x01\x11")
    # the client is leaving anyway: a DISCONNECT back is optional, but if
    # one comes it must say malformed
    for p in c.expect_closed(allow=(DISCONNECT,)):
        eq(p.rc, MALFORMED, "DISCONNECT reason")
    t.assert_alive()


@case("Topic Alias 0 -> 0x94", versions=(5,))
def _(t):
    bad_after_connect(t, publish_packet(5, t.topic(), b"x", props={P_TOPIC_ALIAS: 0}), code=0x94)


@case("Topic Alias above the maximum -> 0x94", versions=(5,))
def _(t):
    c = t.connect()
    mx = c.connack.props.get(P_TOPIC_ALIAS_MAXIMUM, 0)
    c.send(publish_packet(5, t.topic(), b"x", props={P_TOPIC_ALIAS: mx + 1}))
    t.expect_error(c, 0x94)
    t.assert_alive()


@case("empty topic with an unknown alias -> 0x82", versions=(5,))
def _(t):
    bad_after_connect(t, publish_packet(5, "", b"x", props={P_TOPIC_ALIAS: 5}), code=PROTOCOL)


@case("too many unacknowledged QoS 2 PUBLISHes -> 0x93", versions=(5,))
def _(t):
    c = t.connect()
    rm = c.connack.props.get(P_RECEIVE_MAXIMUM, 65535)
    check(rm <= 1000, "Receive Maximum %d too large to test" % rm)
    topic = t.topic()
    data = b"".join(publish_packet(5, topic, b"q", qos=2, pid=i) for i in range(1, rm + 2))
    c.send(data)
    for i in range(1, rm + 1):
        p = c.expect(PUBREC)
        eq(p.pid, i, "PUBREC pid")
    t.expect_error(c, 0x93)


@case("300 mutated packets: every answer is well formed, the broker survives")
def _(t):
    import random
    seed = 20261125 + t.version
    rnd = random.Random(seed)
    topic = t.topic()
    v5 = t.v5
    samples = [
        publish_packet(t.version, topic, b"payload", qos=1, pid=1,
                       props={P_CONTENT_TYPE: "a", P_USER_PROPERTY: ("k", "v")} if v5 else None),
        publish_packet(t.version, topic, b"", qos=2, pid=2, retain=True),
        subscribe_packet(t.version, 3, [(topic + "/+", 1), (topic + "/#", 2)],
                         props={P_SUBSCRIPTION_ID: 5} if v5 else None),
        unsubscribe_packet(t.version, 4, [topic]),
        pubrel(t.version, 9, rc=0 if v5 else None),
        disconnect_packet(t.version, 4 if v5 else None, {P_REASON_STRING: "x"} if v5 else None),
    ]
    for batch in range(3):
        conns = []
        for _ in range(100):
            raw = bytearray(rnd.choice(samples))
            for _ in range(rnd.randint(1, 3)):
                op = rnd.random()
                i = rnd.randrange(len(raw))
                if op < 0.6:
                    raw[i] = rnd.randrange(256)
                elif op < 0.8:
                    del raw[i]
                else:
                    raw.insert(i, rnd.randrange(256))
            c = t.connect()
            c.send(bytes(raw) + pingreq())
            conns.append((c, bytes(raw)))
        # one shared deadline: a mutated length may leave the broker waiting
        # for bytes that never come, which is fine
        deadline = time.monotonic() + 0.5
        for c, raw in conns:
            try:
                while True:
                    p = c.recv_packet(max(0.02, deadline - time.monotonic()))
                    if p is None or p.type == PINGRESP:
                        break
                    if p.type == DISCONNECT:
                        check(not v5 or p.rc >= 0x80, "DISCONNECT 0x%02x" % p.rc)
                        c.expect_closed(what="after DISCONNECT for %s" % raw.hex())
                        break
            except Closed:
                pass
            except Fail as e:
                raise Fail("seed %d batch %d, input %s: %s" % (seed, batch, raw.hex(), e))
            c.close()
        t.assert_alive()


@case("200 mutated CONNECT packets: CONNACK or close, the broker survives")
def _(t):
    import random
    seed = 11252026 + t.version
    rnd = random.Random(seed)
    v5 = t.v5
    base = connect_packet(
        t.version, t.cid(), clean=False, keepalive=30,
        props={P_SESSION_EXPIRY: 10, P_RECEIVE_MAXIMUM: 5, P_USER_PROPERTY: ("a", "b")} if v5 else None,
        will={"topic": t.topic("w"), "payload": b"will", "qos": 1, "retain": True,
              "props": {P_WILL_DELAY: 1, P_CONTENT_TYPE: "c"} if v5 else None},
        username="user", password=b"pass")
    for batch in range(2):
        conns = []
        for _ in range(100):
            raw = bytearray(base)
            for _ in range(rnd.randint(1, 3)):
                i = rnd.randrange(len(raw))
                if rnd.random() < 0.7:
                    raw[i] = rnd.randrange(256)
                else:
                    del raw[i]
            # a mutated protocol level may be answered in either CONNACK
            # layout; the v5 decoder reads both
            c = t.client(version=5)
            c.send(bytes(raw))
            conns.append((c, bytes(raw)))
        deadline = time.monotonic() + 0.5
        for c, raw in conns:
            try:
                p = c.recv_packet(max(0.02, deadline - time.monotonic()))
                if p is not None:
                    check(p.type == CONNACK, "first packet %r" % p)
                    if p.rc != 0:
                        c.expect_closed(timeout=2, what="after refusing CONNACK")
            except Closed:
                pass
            except Fail as e:
                raise Fail("seed %d, input %s: %s" % (seed, raw.hex(), e))
            c.close()
        t.assert_alive()


@case("remaining length not in its shortest form", versions=(5,))
def _(t):
    # [MQTT-1.5.5-1]: a Variable Byte Integer uses the minimum number of bytes
    bad_after_connect(t, b"\xc0\x80\x00")


@case("PUBLISH Content Type with invalid UTF-8", versions=(5,))
def _(t):
    bad_after_connect(t, publish_packet(5, t.topic(), b"x", props={P_CONTENT_TYPE: b"text/\xed\xa0\x80"}))


@case("PUBLISH User Property name with U+0000", versions=(5,))
def _(t):
    bad_after_connect(t, publish_packet(5, t.topic(), b"x",
                                        props=[(P_USER_PROPERTY, (b"a\x00b", b"v"))]))


@case("CONNECT username with invalid UTF-8")
def _(t):
    c = t.client()
    c.send(connect_packet(t.version, t.cid(), username=b"\xc3\x28", password=b"p"))
    t.expect_connack_error(c, MALFORMED)
    t.assert_alive()


if __name__ == "__main__":
    sys.exit(main())
