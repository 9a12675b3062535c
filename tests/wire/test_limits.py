#!/usr/bin/env python3
"""Documented limits (README "Limits"), on a broker started with small ones:
--max-topic-levels 4 --max-topic-length 60 --max-connections 6
--max-queued-messages 5 --connect-timeout 1."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403
import mqttwire  # noqa: E402

ARGS = ["--max-topic-levels", "4", "--max-topic-length", "60",
        "--max-connections", "6", "--max-queued-messages", "5",
        "--connect-timeout", "1"]


def short_topic(t, n):
    """A fresh topic of n levels (n >= 2) well under 60 bytes."""
    return "/".join(["l%d" % t.index, t.prefix[-6:]] + ["x"] * (n - 2))


@case("a topic with more levels than the maximum -> PUBACK 0x90", versions=(5,))
def _(t):
    ok4 = short_topic(t, 4)
    bad5 = short_topic(t, 5)
    sub = t.connect()
    sub.subscribe([short_topic(t, 2) + "/#"])
    pub = t.connect()
    a = pub.publish(ok4, b"four", qos=1)
    eq(a.rc, 0x00, "PUBACK reason for 4 levels")
    sub.expect_publish(ok4, b"four")
    a = pub.publish(bad5, b"five", qos=1)
    eq(a.rc, 0x90, "PUBACK reason for 5 levels")
    sub.expect_nothing(0.5, "message on a refused topic")
    pub.ping()


@case("a topic longer than the maximum -> PUBACK 0x90", versions=(5,))
def _(t):
    pub = t.connect()
    a = pub.publish(short_topic(t, 2) + "/" + "y" * 60, b"long", qos=1)
    eq(a.rc, 0x90, "PUBACK reason")
    pub.ping()


@case("a filter with more levels than the maximum -> SUBACK 0x8F (3.1.1: 0x80)")
def _(t):
    c = t.connect()
    want = 0x8F if t.v5 else 0x80
    c.subscribe([(short_topic(t, 4), 1), (short_topic(t, 5), 1)], expect_codes=[1, want])
    c.ping()


@case("connections beyond the maximum -> CONNACK 0x97 (3.1.1: 0x03)")
def _(t):
    time.sleep(0.3)  # let the broker see earlier cases' connections close
    held = []
    refused = None
    for i in range(10):
        c = t.client()
        c.send(connect_packet(t.version, t.cid()))
        a = c.expect(CONNACK)
        if a.rc == 0:
            held.append(c)
            continue
        refused = (i, a)
        break
    check(refused is not None, "all 10 connections accepted with max-connections 6")
    i, a = refused
    eq(i, 6, "connections accepted before the refusal")
    if t.v5:
        eq(a.rc, 0x97, "CONNACK reason (Quota exceeded)")
    else:
        eq(a.raw, b"\x20\x02\x00\x03", "CONNACK bytes (Server unavailable)")
    c.expect_closed()
    for h in held:
        h.disconnect()
    time.sleep(0.3)
    t.assert_alive()


@case("an offline session keeps at most 5 queued messages")
def _(t):
    cid = t.cid("q")
    topic = short_topic(t, 3)
    kw = {"props": {P_SESSION_EXPIRY: 60}} if t.v5 else {}
    c = t.connect(cid, clean=t.v5, **kw)  # 3.1.1: clean session 0 keeps it
    c.subscribe([(topic, 1)])
    c.disconnect()
    pub = t.connect()
    for i in range(8):
        pub.publish(topic, b"%d" % i, qos=1)
    pub.disconnect()
    c = t.connect(cid, clean=False, expect_sp=1, **kw)
    for i in range(5):
        p = c.expect_publish(topic, b"%d" % i, qos=1)
        c.ack(p)
    c.expect_nothing(0.5, "messages beyond the queue bound")


@case("SIGTERM: v5 clients get DISCONNECT 0x8B, 3.1.1 clients are closed", versions=(5,))
def _(t):
    b = mqttwire.Broker()
    try:
        b.start()
        c5 = mqttwire.Client(b, 5)
        c5.send(connect_packet(5, t.cid()))
        c5.expect(CONNACK)
        c4 = mqttwire.Client(b, 4)
        c4.send(connect_packet(4, t.cid()))
        c4.expect(CONNACK)
        eq(b.stop(), 0, "exit status")
        p = c5.expect(DISCONNECT, timeout=1, what="v5 client at shutdown")
        eq(p.rc, 0x8B, "DISCONNECT reason (Server shutting down)")
        c5.expect_closed(timeout=1)
        c4.expect_closed(timeout=1)
    finally:
        b.stop()
        b.cleanup()


@case("--connect-timeout 1: a connection without CONNECT goes after about 1 s", versions=(5,))
def _(t):
    c = t.client()
    t0 = time.monotonic()
    c.expect_closed(timeout=5)
    dt = time.monotonic() - t0
    check(0.7 <= dt <= 2.5, "closed after %.2f s, want about 1 s" % dt)


@case("a full offline queue first drops its expired messages", versions=(5,))
def _(t):
    cid = t.cid("q")
    topic = short_topic(t, 3)
    kw = {"props": {P_SESSION_EXPIRY: 60}}
    c = t.connect(cid, **kw)
    c.subscribe([(topic, 1)])
    c.disconnect()
    pub = t.connect()
    pub.publish(topic, b"keep0", qos=1)
    for i in range(3):
        pub.publish(topic, b"brief%d" % i, qos=1, props={P_MESSAGE_EXPIRY: 1})
    pub.publish(topic, b"keep1", qos=1)
    time.sleep(2.2)
    for i in range(3):
        pub.publish(topic, b"new%d" % i, qos=1)
    c = t.connect(cid, clean=False, expect_sp=1, **kw)
    for want in (b"keep0", b"keep1", b"new0", b"new1", b"new2"):
        p = c.expect_publish(topic, want, qos=1)
        c.ack(p)
    c.expect_nothing(0.5)


if __name__ == "__main__":
    sys.exit(main(ARGS))
