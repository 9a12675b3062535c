#!/usr/bin/env python3
"""Load-shaped cases: many messages, many clients, slow consumers, packet id
wrap-around, subscription churn.  Kept apart so each file stays short."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403


def pair(t, sub_filter=None, qos=0, sub_props=None, sub_connect_props=None):
    """A subscriber (subscribed) and a publisher."""
    topic = t.topic("a")
    sub = t.connect(name="sub", props=sub_connect_props)
    sub.subscribe([(sub_filter or topic, qos)], props=sub_props)
    pub = t.connect(name="pub")
    return sub, pub, topic


@case("large payload (256 KiB) is delivered intact")
def _(t):
    sub, pub, topic = pair(t, qos=1)
    payload = bytes(range(256)) * 1024
    pub.publish(topic, payload, qos=1)
    p = sub.expect_publish(topic, qos=1, timeout=10)
    check(p.payload == payload, "payload differs (%d bytes)" % len(p.payload))
    sub.ack(p)


@case("fan-out to 12 subscribers across I/O threads keeps order")
def _(t):
    topic = t.topic()
    subs = []
    for i in range(12):
        s = t.connect(name="s%d" % i)
        s.subscribe([(topic, 1)])
        subs.append(s)
    pub = t.connect()
    n = 50
    pub.send(b"".join(publish_packet(t.version, topic, b"%d" % i, qos=1, pid=i + 1)
                      for i in range(n)))
    for s in subs:
        for i in range(n):
            p = s.expect_publish(topic, b"%d" % i, qos=1)
            s.send(puback(t.version, p.pid))
    for i in range(n):
        eq(pub.expect(PUBACK).pid, i + 1, "PUBACK order")


@case("a subscriber that does not read does not stall others")
def _(t):
    topic = t.topic()
    slow = t.connect(name="slow")
    slow.subscribe([(topic, 0)])
    fast = t.connect(name="fast")
    fast.subscribe([(topic, 0)])
    pub = t.connect(name="pub")
    chunk = b"s" * 65000
    n = 160  # about 10 MiB: more than the broker's 4 MiB output buffer
    for i in range(n):
        pub.send(publish_packet(t.version, topic, b"%05d" % i + chunk))
        p = fast.expect_publish(topic, qos=0, timeout=10)
        eq(p.payload[:5], b"%05d" % i, "fast subscriber order")
    pub.ping()
    fast.ping()
    # the slow one may lose QoS 0 messages, but what it gets is in order
    last = -1
    got = 0
    while True:
        p = slow.recv_packet(1.0)
        if p is None:
            break
        k = int(p.payload[:5])
        check(k > last, "slow subscriber got %d after %d" % (k, last))
        last = k
        got += 1
    check(got > 0, "slow subscriber got nothing at all")
    t.assert_alive()


@case("many publishers to many subscribers: per-publisher order, nothing lost")
def _(t):
    topic = t.topic()
    subs = [t.connect(name="s%d" % i) for i in range(6)]
    for s in subs:
        s.subscribe([(topic + "/+", 1)])
    pubs = [t.connect(name="p%d" % i) for i in range(6)]
    n = 30
    for k, p in enumerate(pubs):
        p.send(b"".join(publish_packet(t.version, "%s/%d" % (topic, k), b"%d:%d" % (k, i),
                                       qos=1, pid=i + 1) for i in range(n)))
    for s in subs:
        nxt = [0] * len(pubs)
        for _ in range(n * len(pubs)):
            p = s.expect(PUBLISH, what="delivery")
            k, i = map(int, p.payload.split(b":"))
            eq(i, nxt[k], "%s: message order from publisher %d" % (s.name, k))
            eq(p.topic, "%s/%d" % (topic, k), "topic")
            nxt[k] += 1
            s.send(puback(t.version, p.pid))
        s.expect_nothing(0.2)
    for p in pubs:
        for i in range(n):
            p.expect(PUBACK)


@case("outgoing packet ids wrap past 65535 without using 0", versions=(4,))
def _(t):
    sub, pub, topic = pair(t, qos=1)
    n = 66000
    batch = 400  # well below the 1000-message session queue bound
    pid = 0
    got = 0
    seen_wrap = False
    last = None
    for start in range(0, n, batch):
        data = bytearray()
        for i in range(start, min(n, start + batch)):
            pid = pid % 65535 + 1
            data += publish_packet(4, topic, b"%d" % i, qos=1, pid=pid)
        pub.send(bytes(data))
        acks = bytearray()
        while got < min(n, start + batch):
            p = sub.expect(PUBLISH, what="message %d" % got)
            if p.payload != b"%d" % got:
                raise Fail("message %d arrived as %r" % (got, p.payload))
            check(p.pid != 0, "packet id 0 used")
            if last is not None and p.pid < last:
                seen_wrap = True
            last = p.pid
            acks += puback(4, p.pid)
            got += 1
            if len(acks) >= 400:
                sub.send(bytes(acks))
                acks = bytearray()
        sub.send(bytes(acks))
        while pub.recv_packet(0) is not None:
            pass
    check(seen_wrap, "packet ids never wrapped (last %r)" % last)


@case("deliveries stay complete and ordered while other clients churn subscriptions")
def _(t):
    import random
    rnd = random.Random(4242 + t.version)
    b = t.topic()
    stable = [t.connect(name="stable %d" % i) for i in range(4)]
    for s in stable:
        s.subscribe([(b + "/+", 1)])
    pubs = [t.connect(name="pub %d" % i) for i in range(2)]
    n = 300
    got = [[[] for _ in pubs] for _ in stable]
    churn = []
    filters = [b + "/#", b + "/+", b + "/p0", "$share/g/" + b + "/+", b + "/+/x", "#"]

    def drain(timeout):
        for si, s in enumerate(stable):
            while True:
                p = s.recv_packet(timeout)
                if p is None:
                    break
                k, i = map(int, p.payload.split(b":"))
                got[si][k].append(i)
                s.send(puback(t.version, p.pid))

    for start in range(0, n, 10):
        for k, pb in enumerate(pubs):
            pb.send(b"".join(publish_packet(t.version, "%s/p%d" % (b, k), b"%d:%d" % (k, i),
                                            qos=1, pid=i + 1)
                             for i in range(start, start + 10)))
        for _ in range(3):
            if churn and rnd.random() < 0.5:
                c = churn.pop(rnd.randrange(len(churn)))
                if rnd.random() < 0.5:
                    c.abort()
                else:
                    c.disconnect()
            else:
                c = t.client(name="churn")
                c.send(connect_packet(t.version, t.cid("ch")) +
                       subscribe_packet(t.version, 1, [(rnd.choice(filters), rnd.randrange(3))]) +
                       unsubscribe_packet(t.version, 2, [rnd.choice(filters)]) +
                       subscribe_packet(t.version, 3, [(rnd.choice(filters), 0)]))
                churn.append(c)
        drain(0.0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(len(g[k]) < n for g in got for k in range(len(pubs))):
        drain(0.05)
    for si, g in enumerate(got):
        for k in range(len(pubs)):
            eq(g[k], list(range(n)), "stable %d: messages from publisher %d" % (si, k))
    for pb in pubs:
        acks = 0
        while acks < n:
            pb.expect(PUBACK)
            acks += 1

if __name__ == "__main__":
    sys.exit(main())
