#!/usr/bin/env python3
"""Retained messages: set, replace, clear, Retain Handling, retain flag rules."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403


@case("retained message is delivered on subscribe with RETAIN 1")
def _(t):
    topic = t.topic()
    pub = t.connect()
    pub.publish(topic, b"kept", qos=1, retain=True)
    sub = t.connect()
    sub.subscribe([(topic, 1)])
    p = sub.expect_publish(topic, b"kept", qos=1)
    eq(p.retain, 1, "RETAIN flag")
    sub.ack(p)
    sub.expect_nothing(0.3)


@case("retained message is replaced by the next retained one")
def _(t):
    topic = t.topic()
    pub = t.connect()
    pub.publish(topic, b"one", qos=1, retain=True)
    pub.publish(topic, b"two", qos=1, retain=True)
    pub.publish(topic, b"not retained", qos=1)
    sub = t.connect()
    sub.subscribe([topic])
    p = sub.expect_publish(topic, b"two")
    eq(p.retain, 1, "RETAIN flag")
    sub.expect_nothing(0.5)


@case("empty retained payload clears; it still reaches live subscribers")
def _(t):
    topic = t.topic()
    pub = t.connect()
    pub.publish(topic, b"x", qos=1, retain=True)
    live = t.connect(name="live")
    live.subscribe([topic])
    eq(live.expect_publish(topic, b"x").retain, 1, "RETAIN flag of the stored message")
    pub.publish(topic, b"", qos=1, retain=True)
    live.expect_publish(topic, b"")
    sub = t.connect(name="late")
    sub.subscribe([topic])
    sub.expect_nothing(0.7, "cleared retained message")


@case("wildcard subscription receives every matching retained message")
def _(t):
    b = t.topic()
    pub = t.connect()
    want = {}
    for i in range(5):
        tp = "%s/r/%d" % (b, i)
        pub.publish(tp, b"v%d" % i, qos=1, retain=True)
        want[tp] = b"v%d" % i
    pub.publish(b + "/other", b"no", qos=1, retain=True)
    sub = t.connect()
    sub.subscribe([b + "/r/+"])
    got = {}
    for _ in range(5):
        p = sub.expect(PUBLISH)
        eq(p.retain, 1, "RETAIN flag")
        got[p.topic] = p.payload
    eq(got, want, "retained messages")
    sub.expect_nothing(0.5)


@case("3.1.1/5 live delivery clears the RETAIN flag (no RAP)")
def _(t):
    topic = t.topic()
    sub = t.connect()
    sub.subscribe([topic])
    pub = t.connect()
    pub.publish(topic, b"live", retain=True)
    p = sub.expect_publish(topic, b"live")
    eq(p.retain, 0, "RETAIN flag on a message for an established subscription")


@case("retained message QoS is min(stored, granted)")
def _(t):
    topic = t.topic()
    pub = t.connect()
    pub.publish(topic, b"q2", qos=2, retain=True)
    s0 = t.connect()
    s0.subscribe([(topic, 0)])
    eq(s0.expect_publish(topic, b"q2").qos, 0, "QoS at granted 0")
    s2 = t.connect()
    s2.subscribe([(topic, 2)])
    p = s2.expect_publish(topic, b"q2", qos=2)
    s2.ack(p)
    pub.publish(topic, b"q0", qos=0, retain=True)
    s3 = t.connect()
    s3.subscribe([(topic, 2)])
    s3.expect_publish(topic, b"q0", qos=0)


@case("re-subscribing sends retained again (Retain Handling 0)")
def _(t):
    topic = t.topic()
    pub = t.connect()
    pub.publish(topic, b"again", qos=1, retain=True)
    sub = t.connect()
    sub.subscribe([topic])
    sub.expect_publish(topic, b"again")
    sub.subscribe([topic])
    p = sub.expect_publish(topic, b"again")
    eq(p.retain, 1, "RETAIN flag")


@case("Retain Handling 1: only for a new subscription", versions=(5,))
def _(t):
    topic = t.topic()
    pub = t.connect()
    pub.publish(topic, b"rh1", qos=1, retain=True)
    sub = t.connect()
    sub.subscribe([(topic, sub_opts(0, rh=1))])
    sub.expect_publish(topic, b"rh1")
    sub.subscribe([(topic, sub_opts(0, rh=1))])
    sub.expect_nothing(0.7, "existing subscription with Retain Handling 1")


@case("Retain Handling 2: never on subscribe", versions=(5,))
def _(t):
    topic = t.topic()
    pub = t.connect()
    pub.publish(topic, b"rh2", qos=1, retain=True)
    sub = t.connect()
    sub.subscribe([(topic, sub_opts(1, rh=2))], expect_codes=[1])
    sub.expect_nothing(0.7, "Retain Handling 2")
    pub.publish(topic, b"live", qos=1)
    p = sub.expect_publish(topic, b"live")
    sub.ack(p)


@case("retained message keeps its properties", versions=(5,))
def _(t):
    topic = t.topic()
    pub = t.connect()
    props = [(P_CONTENT_TYPE, "text/plain"), (P_USER_PROPERTY, ("a", "b")),
             (P_PAYLOAD_FORMAT, 1)]
    pub.publish(topic, b"p", qos=1, retain=True, props=props)
    sub = t.connect()
    sub.subscribe([topic])
    p = sub.expect_publish(topic, b"p")
    eq(p.props.get(P_CONTENT_TYPE), "text/plain", "content type")
    eq(p.props.all(P_USER_PROPERTY), [("a", "b")], "user properties")
    eq(p.props.get(P_PAYLOAD_FORMAT), 1, "payload format indicator")


@case("retained message expires", versions=(5,))
def _(t):
    topic = t.topic()
    pub = t.connect()
    pub.publish(topic, b"brief", qos=1, retain=True, props={P_MESSAGE_EXPIRY: 1})
    pub.publish(t.topic("long"), b"lasting", qos=1, retain=True,
                props={P_MESSAGE_EXPIRY: 100})
    time.sleep(2.2)
    sub = t.connect()
    sub.subscribe([topic])
    sub.expect_nothing(0.5, "expired retained message")
    sub.subscribe([t.topic("long")])
    p = sub.expect_publish(t.topic("long"), b"lasting")
    e = p.props.get(P_MESSAGE_EXPIRY)
    check(e is not None and 95 <= e <= 98, "remaining expiry %r, want about 98" % e)


@case("retained message survives its publisher and is per topic")
def _(t):
    b = t.topic()
    pub = t.connect()
    pub.publish(b + "/a", b"A", qos=1, retain=True)
    pub.publish(b + "/b", b"B", qos=1, retain=True)
    pub.disconnect()
    sub = t.connect()
    sub.subscribe([b + "/a"])
    sub.expect_publish(b + "/a", b"A")
    sub.expect_nothing(0.4)


@case("retained $-topics are not sent for # or +/..., but for $x/#")
def _(t):
    dollar = "$" + t.topic().replace("/", "_")
    pub = t.connect()
    pub.publish(dollar + "/y", b"dollar", qos=1, retain=True)
    plus = t.connect(name="+/y")
    plus.subscribe(["+/y"])
    plus.expect_nothing(0.5, "+/y subscriber")
    hash_sub = t.connect(name="#")
    hash_sub.subscribe(["#"])  # gets every retained message of this file
    while True:
        p = hash_sub.recv_packet(0.7)
        if p is None:
            break
        check(not p.topic.startswith("$"), "# got retained %r" % p.topic)
    d = t.connect(name="$x/#")
    d.subscribe([dollar + "/#"])
    eq(d.expect_publish(dollar + "/y", b"dollar").retain, 1, "RETAIN flag")
    pub.publish(dollar + "/y", b"", qos=1, retain=True)  # leave nothing behind


@case("retained messages match + at exactly one level")
def _(t):
    b = t.topic()
    pub = t.connect()
    pub.publish(b + "/a/x", b"one level", qos=1, retain=True)
    pub.publish(b + "/a/b/x", b"two levels", qos=1, retain=True)
    pub.publish(b + "/x", b"zero levels", qos=1, retain=True)
    sub = t.connect()
    sub.subscribe([b + "/+/x"])
    sub.expect_publish(b + "/a/x", b"one level")
    sub.expect_nothing(0.5)


@case("a retained delivery carries the subscription identifier", versions=(5,))
def _(t):
    topic = t.topic()
    pub = t.connect()
    pub.publish(topic, b"with-id", qos=1, retain=True)
    sub = t.connect()
    sub.subscribe([(topic, 1)], props={P_SUBSCRIPTION_ID: 42})
    p = sub.expect_publish(topic, b"with-id", qos=1)
    eq(p.props.all(P_SUBSCRIPTION_ID), [42], "subscription identifiers")
    sub.ack(p)


@case("a retained message larger than the client's Maximum Packet Size is skipped",
      versions=(5,))
def _(t):
    b = t.topic()
    pub = t.connect()
    pub.publish(b + "/big", b"B" * 1000, qos=1, retain=True)
    pub.publish(b + "/small", b"s", qos=1, retain=True)
    sub = t.connect(props={P_MAXIMUM_PACKET_SIZE: 300})
    sub.subscribe([b + "/big"])
    sub.expect_nothing(0.5, "oversized retained message")
    sub.subscribe([b + "/small"])
    sub.expect_publish(b + "/small", b"s")


@case("retained messages for wildcard filters follow the matching rules (4.7)")
def _(t):
    b = t.topic()
    topics = ["finance", "Finance", "/finance", "sport/tennis/player1",
              "sport/tennis/player1/ranking", "sport/", "sport", "a b/c", "x/y/z/w"]
    filters = {
        "#": set(topics),
        "+": {"finance", "Finance", "sport"},
        "+/+": {"/finance", "sport/", "a b/c"},
        "/+": {"/finance"},
        "sport/#": {"sport", "sport/", "sport/tennis/player1", "sport/tennis/player1/ranking"},
        "sport/+": {"sport/"},
        "sport/tennis/+": {"sport/tennis/player1"},
        "+/tennis/#": {"sport/tennis/player1", "sport/tennis/player1/ranking"},
        "+/+/+/+": {"sport/tennis/player1/ranking", "x/y/z/w"},
        "x/+/z/#": {"x/y/z/w"},
        "nothing/#": set(),
    }
    pub = t.connect()
    for tp in topics:
        pub.publish(b + "/" + tp, tp.encode(), qos=1, retain=True)
    for f, want in filters.items():
        s = t.connect(name="filter %r" % f)
        s.subscribe([b + "/" + f])  # the prefix keeps a leading "/" an empty level
        got = []
        while True:
            p = s.recv_packet(0.3 if len(got) >= len(want) else 3)
            if p is None:
                break
            eq(p.retain, 1, "RETAIN flag")
            got.append(p.payload.decode())
        eq(sorted(got), sorted(want), "retained messages for %r" % f)
        s.close()
    for tp in topics:
        pub.publish(b + "/" + tp, b"", qos=1, retain=True)
    s = t.connect()
    s.subscribe([b + "/#"])
    s.expect_nothing(0.5, "retained messages after clearing them all")


@case("clearing a retained message keeps its parent's and children's")
def _(t):
    b = t.topic()
    pub = t.connect()
    for tp in ("a", "a/b", "a/b/c"):
        pub.publish(b + "/" + tp, tp.encode(), qos=1, retain=True)
    pub.publish(b + "/a/b", b"", qos=1, retain=True)

    def retained(f):
        s = t.connect()
        s.subscribe([b + "/" + f])
        got = []
        while True:
            p = s.recv_packet(0.4)
            if p is None:
                break
            got.append(p.payload.decode())
        s.close()
        return sorted(got)

    eq(retained("#"), ["a", "a/b/c"], "after clearing a/b")
    eq(retained("a/+/c"), ["a/b/c"], "a/+/c after clearing a/b")
    pub.publish(b + "/a/b/c", b"", qos=1, retain=True)
    eq(retained("#"), ["a"], "after clearing a/b/c")
    pub.publish(b + "/a/b", b"again", qos=1, retain=True)
    eq(retained("a/#"), ["a", "again"], "after setting a/b again")
    pub.publish(b + "/a", b"", qos=1, retain=True)
    pub.publish(b + "/a/b", b"", qos=1, retain=True)
    eq(retained("#"), [], "after clearing everything")


@case("1500 retained messages all arrive on one wildcard subscribe")
def _(t):
    b = t.topic()
    pub = t.connect()
    n = 1500
    pub.send(b"".join(publish_packet(t.version, "%s/%d/v" % (b, i), b"%d" % i, qos=1,
                                     pid=i + 1, retain=True) for i in range(n)))
    for i in range(n):
        pub.expect(PUBACK)
    sub = t.connect()
    sub.subscribe([(b + "/+/v", 1)])
    seen = set()
    acks = bytearray()
    while len(seen) < n:
        p = sub.recv_packet(3)
        if p is None:
            break
        eq(p.retain, 1, "RETAIN flag")
        seen.add(int(p.payload))
        acks += puback(t.version, p.pid)
        if len(acks) > 200:
            sub.send(bytes(acks))
            acks = bytearray()
    sub.send(bytes(acks))
    eq(len(seen), n, "retained messages received")
    pub.send(b"".join(publish_packet(t.version, "%s/%d/v" % (b, i), b"", qos=0, retain=True)
                      for i in range(n)))
    pub.ping()


if __name__ == "__main__":
    sys.exit(main())
