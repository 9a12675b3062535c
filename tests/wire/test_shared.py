#!/usr/bin/env python3
"""Shared subscriptions ($share/group/filter)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403


def one_of(clients, timeout=5.0):
    """The first PUBLISH any of the clients receives: (index, packet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for i, c in enumerate(clients):
            p = c.recv_packet(0.02)
            if p is not None:
                if p.type != PUBLISH:
                    raise Fail("member %d got %r" % (i, p))
                return i, p
    raise Fail("no member received the message within %.1f s" % timeout)


@case("two members of $share/g/t receive messages alternately", versions=(5,))
def _(t):
    topic = t.topic("t")
    a = t.connect(name="A")
    a.subscribe([("$share/g/" + topic, 1)], expect_codes=[1])
    b = t.connect(name="B")
    b.subscribe([("$share/g/" + topic, 1)], expect_codes=[1])
    normal = t.connect(name="normal")
    normal.subscribe([(topic, 1)])
    pub = t.connect(name="pub")
    who = []
    for i in range(10):
        pub.publish(topic, b"%d" % i, qos=1)
        idx, p = one_of([a, b])
        eq(p.payload, b"%d" % i, "shared delivery payload")
        eq(p.topic, topic, "topic (without $share prefix)")
        [a, b][idx].ack(p)
        who.append("AB"[idx])
        q = normal.expect_publish(topic, b"%d" % i)
        normal.ack(q)
    a.expect_nothing(0.3, "member A extra copy")
    b.expect_nothing(0.3, "member B extra copy")
    for x, y in zip(who, who[1:]):
        check(x != y, "deliveries not alternating: %s" % "".join(who))


@case("each message goes to exactly one member (burst)", versions=(5,))
def _(t):
    topic = t.topic("t")
    members = [t.connect(name="m%d" % i) for i in range(3)]
    for m in members:
        m.subscribe([("$share/grp/" + topic, 0)])
    pub = t.connect()
    n = 30
    for i in range(n):
        pub.publish(topic, b"%d" % i)
    pub.ping()
    got = []
    counts = []
    for m in members:
        k = 0
        while True:
            p = m.recv_packet(0.7)
            if p is None:
                break
            got.append(int(p.payload))
            k += 1
        counts.append(k)
    eq(sorted(got), list(range(n)), "messages received by the group")
    check(all(k > 0 for k in counts), "a member got nothing: %s" % counts)


@case("two groups each get a copy", versions=(5,))
def _(t):
    topic = t.topic("t")
    g1 = t.connect(name="g1")
    g1.subscribe([("$share/one/" + topic, 0)])
    g2 = t.connect(name="g2")
    g2.subscribe([("$share/two/" + topic, 0)])
    pub = t.connect()
    pub.publish(topic, b"both")
    g1.expect_publish(topic, b"both")
    g2.expect_publish(topic, b"both")


@case("shared subscription with a wildcard filter", versions=(5,))
def _(t):
    b = t.topic()
    m = t.connect()
    m.subscribe([("$share/w/" + b + "/+", 0)])
    pub = t.connect()
    pub.publish(b + "/x", b"1")
    pub.publish(b + "/x/y", b"no")
    m.expect_publish(b + "/x", b"1")
    m.expect_nothing(0.4)


@case("remaining member gets everything after the other leaves", versions=(5,))
def _(t):
    topic = t.topic("t")
    a = t.connect(name="A")
    a.subscribe([("$share/g/" + topic, 0)])
    b = t.connect(name="B")
    b.subscribe([("$share/g/" + topic, 0)])
    b.disconnect()
    time.sleep(0.2)
    pub = t.connect()
    for i in range(4):
        pub.publish(topic, b"%d" % i)
    for i in range(4):
        a.expect_publish(topic, b"%d" % i)


@case("unsubscribe from a shared subscription", versions=(5,))
def _(t):
    topic = t.topic("t")
    a = t.connect()
    a.subscribe([("$share/g/" + topic, 0)])
    a.unsubscribe(["$share/g/" + topic], expect_codes=[0])
    pub = t.connect()
    pub.publish(topic, b"x")
    a.expect_nothing(0.5)


@case("retained messages are not sent on a shared subscribe", versions=(5,))
def _(t):
    topic = t.topic("t")
    pub = t.connect()
    pub.publish(topic, b"ret", qos=1, retain=True)
    a = t.connect()
    a.subscribe([("$share/g/" + topic, 0)])
    a.expect_nothing(0.6, "retained message on a shared subscription")


@case("No Local on a shared subscription -> 0x82", versions=(5,))
def _(t):
    c = t.connect()
    c.send(subscribe_packet(5, 1, [("$share/g/" + t.topic(), sub_opts(0, nl=True))]))
    t.expect_error(c, 0x82)
    t.assert_alive()


if __name__ == "__main__":
    sys.exit(main())
