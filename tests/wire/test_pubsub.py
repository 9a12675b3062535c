#!/usr/bin/env python3
"""PUBLISH / SUBSCRIBE: QoS flows, matching, subscription options, flow
control, topic aliases, packet size limits, forwarded properties, expiry."""

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



@case("QoS 0 round trip, exact bytes")
def _(t):
    sub, pub, topic = pair(t)
    pub.publish(topic, b"hello")
    p = sub.expect_publish(topic, b"hello", qos=0)
    want = publish_packet(t.version, topic, b"hello")
    eq(p.raw, want, "delivered PUBLISH bytes")


@case("SUBACK exact bytes, granted QoS per filter")
def _(t):
    c = t.connect()
    pid = 0x1234
    c.send(subscribe_packet(t.version, pid, [(t.topic("q0"), 0), (t.topic("q1"), 1),
                                             (t.topic("q2"), 2)]))
    p = c.expect(SUBACK)
    want = b"\x90" + bytes([5 + (1 if t.v5 else 0)]) + b"\x12\x34" + \
        (b"\x00" if t.v5 else b"") + b"\x00\x01\x02"
    eq(p.raw, want, "SUBACK bytes")


@case("QoS 1 publisher flow: PUBACK with the packet id")
def _(t):
    sub, pub, topic = pair(t, qos=1)
    pub.send(publish_packet(t.version, topic, b"m1", qos=1, pid=0x0102))
    a = pub.expect(PUBACK)
    if t.v5:
        check(a.raw in (b"\x40\x02\x01\x02", b"\x40\x03\x01\x02\x00", b"\x40\x04\x01\x02\x00\x00"),
              "PUBACK bytes %s" % a.raw.hex())
    else:
        eq(a.raw, b"\x40\x02\x01\x02", "PUBACK bytes")
    p = sub.expect_publish(topic, b"m1", qos=1)
    check(p.pid and p.pid > 0, "delivered QoS 1 without a packet id")
    eq(p.dup, 0, "DUP on first delivery")
    sub.ack(p)
    sub.expect_nothing(0.5)


@case("QoS 2 full flow both directions")
def _(t):
    sub, pub, topic = pair(t, qos=2)
    pub.send(publish_packet(t.version, topic, b"m2", qos=2, pid=7))
    r = pub.expect(PUBREC)
    eq((r.pid, r.rc), (7, 0), "PUBREC pid, reason")
    pub.send(pubrel(t.version, 7))
    c = pub.expect(PUBCOMP)
    eq((c.pid, c.rc), (7, 0), "PUBCOMP pid, reason")
    if not t.v5:
        eq(r.raw, b"\x50\x02\x00\x07", "PUBREC bytes")
        eq(c.raw, b"\x70\x02\x00\x07", "PUBCOMP bytes")
    p = sub.expect_publish(topic, b"m2", qos=2)
    sub.send(pubrec(t.version, p.pid))
    rel = sub.expect(PUBREL)
    eq(rel.pid, p.pid, "PUBREL pid")
    eq(rel.first, 0x62, "PUBREL fixed header")
    sub.send(pubcomp(t.version, p.pid))
    sub.expect_nothing(0.5)
    sub.ping()


@case("delivery QoS is min(published, granted)")
def _(t):
    base = t.topic()
    s0 = t.connect(name="s0")
    s0.subscribe([(base + "/x", 0)])
    s1 = t.connect(name="s1")
    s1.subscribe([(base + "/x", 1)])
    s2 = t.connect(name="s2")
    s2.subscribe([(base + "/x", 2)])
    pub = t.connect(name="pub")
    for q in (2, 1, 0):
        pub.publish(base + "/x", b"q%d" % q, qos=q)
        for s, g in ((s0, 0), (s1, 1), (s2, 2)):
            p = s.expect_publish(base + "/x", b"q%d" % q, qos=min(q, g))
            s.ack(p)


@case("QoS 2 duplicate PUBLISH (same id, DUP) delivered once")
def _(t):
    sub, pub, topic = pair(t, qos=2)
    pub.send(publish_packet(t.version, topic, b"once", qos=2, pid=9))
    eq(pub.expect(PUBREC).pid, 9, "PUBREC pid")
    pub.send(publish_packet(t.version, topic, b"once", qos=2, pid=9, dup=True))
    eq(pub.expect(PUBREC).pid, 9, "PUBREC pid for the duplicate")
    pub.send(pubrel(t.version, 9))
    eq(pub.expect(PUBCOMP).pid, 9, "PUBCOMP pid")
    # onward delivery may happen at PUBLISH or at PUBREL: either way once
    p = sub.expect_publish(topic, b"once", qos=2)
    sub.ack(p)
    sub.expect_nothing(0.7, "second copy")
    # after PUBCOMP the id is free: the same id is a new message
    pub.send(publish_packet(t.version, topic, b"again", qos=2, pid=9))
    eq(pub.expect(PUBREC).pid, 9, "PUBREC pid")
    pub.send(pubrel(t.version, 9))
    pub.expect(PUBCOMP)
    p = sub.expect_publish(topic, b"again", qos=2)
    sub.ack(p)


@case("PUBREL for an unknown id -> PUBCOMP (v5: 0x92)")
def _(t):
    c = t.connect()
    c.send(pubrel(t.version, 4242))
    p = c.expect(PUBCOMP)
    eq(p.pid, 4242, "PUBCOMP pid")
    if t.v5:
        eq(p.rc, 0x92, "PUBCOMP reason (Packet Identifier not found)")
    else:
        eq(p.raw, b"\x70\x02\x10\x92", "PUBCOMP bytes")
    c.ping()


@case("PUBACK/PUBREC 0x10 when there are no subscribers", versions=(5,))
def _(t):
    c = t.connect()
    a = c.publish(t.topic("nobody"), b"x", qos=1)
    eq(a.rc, 0x10, "PUBACK reason (No matching subscribers)")
    c.send(publish_packet(5, t.topic("nobody"), b"x", qos=2, pid=77))
    r = c.expect(PUBREC)
    eq((r.pid, r.rc), (77, 0x10), "PUBREC pid, reason")
    c.send(pubrel(5, 77))
    comp = c.expect(PUBCOMP)
    check(comp.rc in (0x00, 0x92), "PUBCOMP after PUBREC 0x10: %r" % comp)


@case("PUBACK 0x00 when there is a subscriber", versions=(5,))
def _(t):
    sub, pub, topic = pair(t)
    a = pub.publish(topic, b"x", qos=1)
    eq(a.rc, 0x00, "PUBACK reason")
    sub.expect_publish(topic, b"x")


@case("wildcard + matches exactly one level")
def _(t):
    b = t.topic()
    sub = t.connect()
    sub.subscribe([b + "/+/c"])
    pub = t.connect()
    pub.publish(b + "/x/c", b"1")
    pub.publish(b + "/x/y/c", b"no")
    pub.publish(b + "//c", b"2")
    pub.publish(b + "/c", b"no")
    sub.expect_publish(b + "/x/c", b"1")
    sub.expect_publish(b + "//c", b"2")
    sub.expect_nothing(0.5)


@case("wildcard # matches the parent and every level below")
def _(t):
    b = t.topic("sport")
    sub = t.connect()
    sub.subscribe([b + "/#"])
    pub = t.connect()
    for tp in (b, b + "/tennis", b + "/tennis/player1", b + "/"):
        pub.publish(tp, tp.encode())
    pub.publish(b + "x", b"no")
    for tp in (b, b + "/tennis", b + "/tennis/player1", b + "/"):
        sub.expect_publish(tp, tp.encode())
    sub.expect_nothing(0.5)


@case("$-topics are not matched by # or +/..., but by $x/#")
def _(t):
    dollar = "$" + t.topic().replace("/", "_")
    ctl = t.topic("ctl")
    hash_sub = t.connect(name="#")
    hash_sub.subscribe(["#"])
    plus_sub = t.connect(name="+/y")
    plus_sub.subscribe(["+/y"])
    d_sub = t.connect(name="$x/#")
    d_sub.subscribe([dollar + "/#"])
    pub = t.connect()
    pub.publish(dollar + "/y", b"dollar")
    pub.publish(ctl, b"ctl")
    p = d_sub.expect_publish(dollar + "/y", b"dollar")
    # "#" sees the control message but never the $-topic
    while True:
        p = hash_sub.expect(PUBLISH, what="# subscriber")
        check(not p.topic.startswith("$"), "# matched %r" % p.topic)
        if p.topic == ctl:
            break
    plus_sub.expect_nothing(0.5, "+/y subscriber")


@case("overlapping subscriptions: one copy at the highest QoS")
def _(t):
    b = t.topic()
    sub = t.connect()
    if t.v5:
        sub.subscribe([(b + "/+", 1)], props={P_SUBSCRIPTION_ID: 11})
        sub.subscribe([(b + "/#", 2)], props={P_SUBSCRIPTION_ID: 22})
    else:
        sub.subscribe([(b + "/+", 1)])
        sub.subscribe([(b + "/#", 2)])
    pub = t.connect()
    pub.publish(b + "/x", b"ov", qos=2)
    p = sub.expect_publish(b + "/x", b"ov", qos=2)
    if t.v5:
        eq(sorted(p.props.all(P_SUBSCRIPTION_ID)), [11, 22], "subscription identifiers")
    sub.ack(p)
    sub.expect_nothing(0.7, "second copy")


@case("subscription identifier is delivered; updated on re-subscribe", versions=(5,))
def _(t):
    b = t.topic()
    sub = t.connect()
    sub.subscribe([(b, 0)], props={P_SUBSCRIPTION_ID: 268435455})
    pub = t.connect()
    pub.publish(b, b"1")
    p = sub.expect_publish(b, b"1")
    eq(p.props.all(P_SUBSCRIPTION_ID), [268435455], "subscription identifiers")
    sub.subscribe([(b, 0)])  # replaces the subscription, now without an id
    pub.publish(b, b"2")
    p = sub.expect_publish(b, b"2")
    eq(p.props.all(P_SUBSCRIPTION_ID), [], "subscription identifiers after re-subscribe")


@case("re-subscribing replaces the subscription (one copy, new QoS)")
def _(t):
    sub, pub, topic = pair(t, qos=0)
    sub.subscribe([(topic, 1)])
    pub.publish(topic, b"r", qos=1)
    p = sub.expect_publish(topic, b"r", qos=1)
    sub.ack(p)
    sub.expect_nothing(0.5)


@case("UNSUBSCRIBE stops delivery; UNSUBACK codes")
def _(t):
    sub, pub, topic = pair(t)
    p = sub.unsubscribe([topic, t.topic("never")], expect_codes=[0x00, 0x11])
    if not t.v5:
        eq(p.raw, b"\xb0\x02" + u16(p.pid), "UNSUBACK bytes")
    pub.publish(topic, b"x", qos=1)
    sub.expect_nothing(0.5)


@case("No Local: own messages not delivered", versions=(5,))
def _(t):
    topic = t.topic()
    c = t.connect(name="nl")
    c.subscribe([(topic, sub_opts(1, nl=True))], expect_codes=[1])
    watch = t.connect(name="watch")
    watch.subscribe([(topic, 1)], expect_codes=[1])
    c.publish(topic, b"mine", qos=1)
    p = watch.expect_publish(topic, b"mine")
    watch.ack(p)
    c.expect_nothing(0.5, "No Local subscriber")
    other = t.connect(name="other")
    other.publish(topic, b"theirs", qos=1)
    p = c.expect_publish(topic, b"theirs")
    c.ack(p)


@case("without No Local own messages are delivered")
def _(t):
    topic = t.topic()
    c = t.connect()
    c.subscribe([(topic, 1)])
    c.send(publish_packet(t.version, topic, b"echo", qos=1, pid=5))
    # the PUBACK and our own copy may come in either order
    ps = [c.recv_packet(5), c.recv_packet(5)]
    check(None not in ps, "only %r arrived" % ps)
    eq(sorted(x.type for x in ps), [PUBLISH, PUBACK], "packet types")
    p = [x for x in ps if x.type == PUBLISH][0]
    eq(p.payload, b"echo", "own message payload")
    c.ack(p)


@case("Retain As Published", versions=(5,))
def _(t):
    topic = t.topic()
    rap = t.connect(name="rap")
    rap.subscribe([(topic, sub_opts(0, rap=True))])
    plain = t.connect(name="plain")
    plain.subscribe([(topic, 0)])
    pub = t.connect()
    pub.publish(topic, b"r1", retain=True)
    eq(rap.expect_publish(topic, b"r1").retain, 1, "retain flag with RAP")
    eq(plain.expect_publish(topic, b"r1").retain, 0, "retain flag without RAP")
    pub.publish(topic, b"", retain=True)  # clear
    rap.expect_publish(topic, b"")
    plain.expect_publish(topic, b"")


@case("100 QoS 1 messages arrive in order")
def _(t):
    sub, pub, topic = pair(t, qos=1)
    n = 100
    data = b"".join(publish_packet(t.version, topic, b"%d" % i, qos=1, pid=i + 1)
                    for i in range(n))
    pub.send(data)
    acks = 0
    got = 0
    deadline = time.monotonic() + 15
    while got < n and time.monotonic() < deadline:
        p = sub.expect_publish(topic, qos=1)
        eq(p.payload, b"%d" % got, "message order")
        sub.ack(p)
        got += 1
    while acks < n:
        a = pub.expect(PUBACK)
        eq(a.pid, acks + 1, "PUBACK order")
        acks += 1


@case("100 QoS 0 messages arrive in order")
def _(t):
    sub, pub, topic = pair(t, qos=0)
    pub.send(b"".join(publish_packet(t.version, topic, b"%d" % i) for i in range(100)))
    for i in range(100):
        sub.expect_publish(topic, b"%d" % i)
    pub.ping()


@case("client Receive Maximum 2 limits unacknowledged QoS 1", versions=(5,))
def _(t):
    sub, pub, topic = pair(t, qos=1, sub_connect_props={P_RECEIVE_MAXIMUM: 2})
    for i in range(5):
        pub.publish(topic, b"%d" % i, qos=1)
    p0 = sub.expect_publish(topic, b"0")
    p1 = sub.expect_publish(topic, b"1")
    sub.expect_nothing(0.7, "third message before any PUBACK")
    sub.send(puback(5, p0.pid))
    p2 = sub.expect_publish(topic, b"2")
    sub.expect_nothing(0.5, "fourth message with 2 unacknowledged")
    sub.send(puback(5, p1.pid) + puback(5, p2.pid))
    p3 = sub.expect_publish(topic, b"3")
    p4 = sub.expect_publish(topic, b"4")
    sub.send(puback(5, p3.pid) + puback(5, p4.pid))
    sub.expect_nothing(0.3)


@case("client Receive Maximum 1 with QoS 2", versions=(5,))
def _(t):
    sub, pub, topic = pair(t, qos=2, sub_connect_props={P_RECEIVE_MAXIMUM: 1})
    for i in range(3):
        pub.publish(topic, b"%d" % i, qos=2)
    for i in range(3):
        p = sub.expect_publish(topic, b"%d" % i, qos=2)
        sub.send(pubrec(5, p.pid))
        rel = sub.expect(PUBREL, what="PUBREL (nothing else while one is in flight)")
        sub.send(pubcomp(5, rel.pid))
    sub.expect_nothing(0.3)


@case("topic alias from the client: set, then reuse with an empty topic", versions=(5,))
def _(t):
    sub, pub, topic = pair(t, qos=1)
    other = t.topic("b")
    sub.subscribe([(other, 1)])
    pub.publish(topic, b"first", qos=1, props={P_TOPIC_ALIAS: 3})
    pub.publish("", b"second", qos=1, props={P_TOPIC_ALIAS: 3})
    pub.publish(other, b"third", qos=1, props={P_TOPIC_ALIAS: 3})  # re-map alias 3
    pub.publish("", b"fourth", qos=1, props={P_TOPIC_ALIAS: 3})
    for tp, pl in ((topic, b"first"), (topic, b"second"), (other, b"third"), (other, b"fourth")):
        p = sub.expect_publish(tp, pl)
        check(not p.props.has(P_TOPIC_ALIAS),
              "alias sent to a client that declared no Topic Alias Maximum: %r" % p)
        sub.ack(p)


@case("topic alias 0 or above the maximum -> DISCONNECT 0x94", versions=(5,))
def _(t):
    for alias in (0, 65, 65535):
        c = t.connect()
        mx = c.connack.props.get(P_TOPIC_ALIAS_MAXIMUM, 0)
        check(alias == 0 or alias > mx, "alias %d is within the maximum %d" % (alias, mx))
        c.send(publish_packet(5, t.topic(), b"x", props={P_TOPIC_ALIAS: alias}))
        t.expect_error(c, 0x94, "alias %d" % alias)
    t.assert_alive()


@case("broker-assigned topic aliases to a client with Topic Alias Maximum", versions=(5,))
def _(t):
    sub, pub, topic = pair(t, sub_connect_props={P_TOPIC_ALIAS_MAXIMUM: 10})
    pub.publish(topic, b"1")
    pub.publish(topic, b"2")
    p1 = sub.expect_publish(topic, b"1")
    alias = p1.props.get(P_TOPIC_ALIAS)
    check(alias is not None and 1 <= alias <= 10, "first delivery alias %r (%r)" % (alias, p1))
    p2 = sub.expect_publish("", b"2")
    eq(p2.props.get(P_TOPIC_ALIAS), alias, "alias on the second delivery")


@case("broker never exceeds the client's Topic Alias Maximum", versions=(5,))
def _(t):
    b = t.topic()
    sub = t.connect(props={P_TOPIC_ALIAS_MAXIMUM: 2})
    sub.subscribe([b + "/#"])
    pub = t.connect()
    names = {}
    for i in range(12):
        tp = "%s/%d" % (b, i % 4)
        pub.publish(tp, b"%d" % i)
        p = sub.expect(PUBLISH)
        eq(p.payload, b"%d" % i, "order")
        a = p.props.get(P_TOPIC_ALIAS)
        if a is not None:
            check(1 <= a <= 2, "alias %d above the maximum 2" % a)
        if p.topic:
            eq(p.topic, tp, "topic")
            if a is not None:
                names[a] = p.topic
        else:
            check(a is not None, "empty topic without an alias")
            eq(names.get(a), tp, "topic resolved through alias %d" % a)


@case("client Maximum Packet Size: larger message skipped, smaller delivered", versions=(5,))
def _(t):
    sub, pub, topic = pair(t, qos=1, sub_connect_props={P_MAXIMUM_PACKET_SIZE: 200})
    pub.publish(topic, b"L" * 500, qos=1)
    sub.expect_nothing(0.5, "oversized message")
    pub.publish(topic, b"small", qos=1)
    p = sub.expect_publish(topic, b"small")
    check(len(p.raw) <= 200, "delivered %d bytes" % len(p.raw))
    sub.ack(p)


@case("properties are forwarded untouched", versions=(5,))
def _(t):
    sub, pub, topic = pair(t, qos=1)
    props = [
        (P_PAYLOAD_FORMAT, 1),
        (P_CONTENT_TYPE, "application/json; charset=utf-8"),
        (P_RESPONSE_TOPIC, t.topic("reply")),
        (P_CORRELATION_DATA, b"\x00\x01\xfe\xff corr"),
        (P_USER_PROPERTY, ("k", "v1")),
        (P_USER_PROPERTY, ("k", "v1")),
        (P_USER_PROPERTY, ("k", "v0")),
        (P_USER_PROPERTY, ("\u00e9t\u00e9", "\u2603")),
    ]
    pub.publish(topic, b'{"a":1}', qos=1, props=props)
    p = sub.expect_publish(topic, b'{"a":1}')
    for pid, want in props:
        if pid == P_USER_PROPERTY:
            continue
        eq(p.props.get(pid), want, "property 0x%02x" % pid)
    eq(p.props.all(P_USER_PROPERTY), [v for k, v in props if k == P_USER_PROPERTY],
       "user properties in order")
    check(not p.props.has(P_MESSAGE_EXPIRY), "Message Expiry appeared: %r" % p.props)
    sub.ack(p)


@case("Message Expiry: the remaining interval is forwarded", versions=(5,))
def _(t):
    sub, pub, topic = pair(t)
    pub.publish(topic, b"exp", props={P_MESSAGE_EXPIRY: 60})
    p = sub.expect_publish(topic, b"exp")
    e = p.props.get(P_MESSAGE_EXPIRY)
    check(e is not None and 58 <= e <= 60, "Message Expiry Interval %r, want 58..60" % e)


@case("Message Expiry: expired messages in an offline session are dropped", versions=(5,))
def _(t):
    topic = t.topic()
    cid = t.cid("off")
    s = t.connect(cid, clean=True, props={P_SESSION_EXPIRY: 300})
    s.subscribe([(topic, 1)])
    s.disconnect()
    pub = t.connect()
    pub.publish(topic, b"short", qos=1, props={P_MESSAGE_EXPIRY: 1})
    pub.publish(topic, b"long", qos=1, props={P_MESSAGE_EXPIRY: 100})
    time.sleep(2.5)
    s = t.connect(cid, clean=False, props={P_SESSION_EXPIRY: 300}, expect_sp=1)
    p = s.expect_publish(topic, b"long", qos=1)
    e = p.props.get(P_MESSAGE_EXPIRY)
    check(e is not None and 95 <= e <= 98, "remaining expiry %r, want about 97" % e)
    s.ack(p)
    s.expect_nothing(0.5, "expired message")


@case("Payload Format Indicator 1 with invalid UTF-8 -> PUBACK 0x99", versions=(5,))
def _(t):
    sub, pub, topic = pair(t, qos=1)
    a = pub.publish(topic, b"\xff\xfe bad", qos=1, props={P_PAYLOAD_FORMAT: 1})
    eq(a.rc, 0x99, "PUBACK reason (Payload format invalid)")
    sub.expect_nothing(0.5, "invalid payload")
    a = pub.publish(topic, "ok \u2603".encode(), qos=1, props={P_PAYLOAD_FORMAT: 1})
    eq(a.rc, 0x00, "PUBACK reason for valid UTF-8")
    p = sub.expect_publish(topic, "ok \u2603".encode())
    sub.ack(p)


@case("v3.1.1 publisher to v5 subscriber and back")
def _(t):
    topic = t.topic()
    other = 5 if t.version == 4 else 4
    sub = t.connect(version=other)
    sub.subscribe([(topic, 1)])
    pub = t.connect()
    pub.publish(topic, b"cross", qos=1)
    p = sub.expect_publish(topic, b"cross", qos=1)
    sub.ack(p)


@case("PUBACK/PUBCOMP for unknown ids are ignored")
def _(t):
    c = t.connect()
    c.send(puback(t.version, 999) + pubcomp(t.version, 998))
    c.ping()


@case("Subscription Identifier in a client PUBLISH -> 0x82", versions=(5,))
def _(t):
    c = t.connect()
    c.send(publish_packet(5, t.topic(), b"x", props={P_SUBSCRIPTION_ID: 3}))
    t.expect_error(c, 0x82)
    t.assert_alive()


@case("UNSUBSCRIBE matches the filter string exactly")
def _(t):
    b = t.topic()
    sub = t.connect()
    sub.subscribe([b + "/x", b + "/+"])
    sub.unsubscribe([b + "/+"], expect_codes=[0x00])
    pub = t.connect()
    pub.publish(b + "/x", b"still")
    sub.expect_publish(b + "/x", b"still")
    pub.publish(b + "/y", b"no")
    sub.expect_nothing(0.5)


@case("Request Problem Information 0: no Reason String on PUBACK", versions=(5,))
def _(t):
    c = t.connect(props={P_REQUEST_PROBLEM_INFO: 0})
    a = c.publish(t.topic("nobody"), b"x", qos=1)
    check(not a.props.has(P_REASON_STRING) and not a.props.has(P_USER_PROPERTY),
          "PUBACK carries a Reason String or User Property: %r" % a)
    c.send(pubrel(5, 4321))
    p = c.expect(PUBCOMP)
    check(not p.props.has(P_REASON_STRING), "PUBCOMP carries a Reason String: %r" % p)


@case("invalid topic filters are refused")
def _(t):
    b = t.topic()
    for bad in (b + "/#/x", b + "/a+", b + "/#x", b + "/x#", "+a"):
        c = t.connect()
        pid = c.pid()
        c.send(subscribe_packet(t.version, pid, [(b + "/ok", 1), (bad, 1)]))
        try:
            p = c.recv_packet(5)
        except Closed:
            # 3.1.1 may treat it as a protocol violation and just close
            check(not t.v5, "closed without DISCONNECT for %r" % bad)
            continue
        # a SUBACK refusing that filter, or a malformed-packet disconnect
        if p is not None and p.type == SUBACK:
            eq(p.pid, pid, "SUBACK pid")
            want = [1, 0x8F] if t.v5 else [1, 0x80]
            eq(p.codes, want, "SUBACK codes for %r" % bad)
            c.ping()
        elif p is not None and p.type == DISCONNECT and t.v5:
            eq(p.rc, 0x81, "DISCONNECT reason for %r" % bad)
            c.expect_closed()
        elif p is None and not t.v5:
            raise Fail("no SUBACK and no close for %r" % bad)
        elif p is not None:
            raise Fail("for %r got %r" % (bad, p))
        c.close()
    t.assert_alive()


@case("broker topic aliases start afresh on a new connection", versions=(5,))
def _(t):
    cid = t.cid("ta")
    topic = t.topic()
    props = {P_TOPIC_ALIAS_MAXIMUM: 5, P_SESSION_EXPIRY: 60}
    sub = t.connect(cid, props=props)
    sub.subscribe([(topic, 1)])
    pub = t.connect()
    pub.publish(topic, b"1", qos=1)
    pub.publish(topic, b"2", qos=1)
    p = sub.expect_publish(topic, b"1")
    sub.ack(p)
    p = sub.expect_publish(None, b"2")
    sub.ack(p)
    sub.ping()  # the PUBACK is handled before the session moves
    sub.disconnect()
    sub = t.connect(cid, clean=False, props=props, expect_sp=1)
    pub.publish(topic, b"3", qos=1)
    p = sub.expect_publish(None, b"3")
    eq(p.topic, topic, "topic of the first delivery on the new connection")
    sub.ack(p)


@case("in-flight QoS 1 deliveries have distinct non-zero packet ids")
def _(t):
    sub, pub, topic = pair(t, qos=1)
    for i in range(20):
        pub.publish(topic, b"%d" % i, qos=1)
    pids = []
    for i in range(20):
        p = sub.expect_publish(topic, b"%d" % i, qos=1)
        pids.append(p.pid)
    check(0 not in pids, "packet id 0 used: %s" % pids)
    eq(len(set(pids)), 20, "distinct packet ids among %s" % pids)


@case("PUBREC with an error reason ends the QoS 2 flow", versions=(5,))
def _(t):
    sub, pub, topic = pair(t, qos=2)
    pub.publish(topic, b"refused", qos=2)
    p = sub.expect_publish(topic, b"refused", qos=2)
    sub.send(pubrec(5, p.pid, rc=0x80))
    sub.expect_nothing(0.7, "PUBREL after PUBREC 0x80")
    pub.publish(topic, b"next", qos=2)
    p = sub.expect_publish(topic, b"next", qos=2)
    sub.ack(p)


@case("Message Expiry: a message that expires while waiting for flow control is dropped",
      versions=(5,))
def _(t):
    sub, pub, topic = pair(t, qos=1, sub_connect_props={P_RECEIVE_MAXIMUM: 1})
    pub.publish(topic, b"A", qos=1)
    pub.publish(topic, b"B", qos=1, props={P_MESSAGE_EXPIRY: 1})
    pub.publish(topic, b"C", qos=1)
    a = sub.expect_publish(topic, b"A")
    time.sleep(2.2)
    sub.send(puback(5, a.pid))
    c = sub.expect_publish(topic, None, what="after PUBACK of A")
    eq(c.payload, b"C", "next message (B expired while queued)")
    sub.ack(c)


@case("client topic aliases do not survive the connection", versions=(5,))
def _(t):
    cid = t.cid("al")
    topic = t.topic()
    c = t.connect(cid, props={P_SESSION_EXPIRY: 60})
    c.publish(topic, b"x", qos=1, props={P_TOPIC_ALIAS: 2})
    c.disconnect()
    c = t.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60}, expect_sp=1)
    c.send(publish_packet(5, "", b"y", props={P_TOPIC_ALIAS: 2}))
    t.expect_error(c, 0x82)


@case("SUBSCRIBE with 100 filters")
def _(t):
    b = t.topic()
    c = t.connect()
    filters = [("%s/%d" % (b, i), i % 3) for i in range(100)]
    c.subscribe(filters)
    pub = t.connect()
    pub.publish("%s/77" % b, b"77", qos=2)
    p = c.expect_publish("%s/77" % b, b"77", qos=2)
    c.ack(p)


@case("a PUBLISH split into small TCP writes")
def _(t):
    sub, pub, topic = pair(t, qos=1)
    payload = os.urandom(20000)
    raw = publish_packet(t.version, topic, payload, qos=1, pid=3) + pingreq()
    for i in range(0, len(raw), 997):
        pub.send(raw[i:i + 997])
        time.sleep(0.001)
    eq(pub.expect(PUBACK).pid, 3, "PUBACK pid")
    pub.expect(PINGRESP)
    p = sub.expect_publish(topic, payload, qos=1)
    sub.ack(p)


@case("client Maximum Packet Size boundary: exactly the maximum is delivered", versions=(5,))
def _(t):
    mps = 300
    sub, pub, topic = pair(t, sub_connect_props={P_MAXIMUM_PACKET_SIZE: mps})
    # the delivered packet: 1 + 2 (length) + 2 + topic + 1 (no properties) + payload
    fixed = 1 + 2 + 2 + len(topic.encode()) + 1
    pub.publish(topic, b"e" * (mps - fixed))
    p = sub.expect_publish(topic, b"e" * (mps - fixed))
    eq(len(p.raw), mps, "delivered packet size")
    pub.publish(topic, b"f" * (mps - fixed + 1))
    sub.expect_nothing(0.5, "packet one byte over the maximum")
    pub.publish(topic, b"g")
    sub.expect_publish(topic, b"g")


@case("CONNECT with user properties and Request Response Information is accepted",
      versions=(5,))
def _(t):
    c = t.connect(props=[(P_USER_PROPERTY, ("app", "wire")), (P_USER_PROPERTY, ("app", "two")),
                         (P_REQUEST_RESPONSE_INFO, 1), (P_REQUEST_PROBLEM_INFO, 1),
                         (P_RECEIVE_MAXIMUM, 10), (P_MAXIMUM_PACKET_SIZE, 100000),
                         (P_TOPIC_ALIAS_MAXIMUM, 0)])
    ri = c.connack.props.get(P_RESPONSE_INFO)
    check(ri is None or isinstance(ri, str), "Response Information %r" % ri)
    c.ping()


@case("topic matching examples from the specification (4.7)")
def _(t):
    b = t.topic()
    # filter -> topics it must match, among all topics published below
    topics = ["/finance", "finance", "Finance", "a b/c", "\ufeffx", "x",
              "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/"]
    filters = {
        "+/+": {"/finance", "a b/c", "sport/"},
        "/+": {"/finance"},
        "+": {"finance", "Finance", "\ufeffx", "x"},
        "finance": {"finance"},
        "\ufeffx": {"\ufeffx"},
        "sport/tennis/+": {"sport/tennis/player1"},
        "sport/+": {"sport/"},
        "sport/tennis/player1/#": {"sport/tennis/player1", "sport/tennis/player1/ranking"},
    }
    subs = {}
    for f in filters:
        s = t.connect(name="filter %r" % f)
        s.subscribe([b + "/" + f])  # the prefix keeps a leading "/" an empty level
        subs[f] = s
    pub = t.connect()
    for tp in topics:
        pub.publish(b + "/" + tp, tp.encode(), qos=1)
    for f, want in filters.items():
        got = set()
        while True:
            p = subs[f].recv_packet(0.3 if got == want else 3)
            if p is None:
                break
            got.add(p.payload.decode())
        eq(sorted(got), sorted(want), "topics matched by %r" % f)


@case("a subscription is in effect once SUBACK arrives (30 rounds, across threads)")
def _(t):
    pubs = [t.connect(name="pub%d" % i) for i in range(3)]
    for i in range(30):
        topic = t.topic("r%d" % i)
        sub = t.connect(name="sub %d" % i)
        sub.subscribe([(topic, 1)])
        pubs[i % 3].publish(topic, b"%d" % i, qos=1)
        p = sub.expect_publish(topic, b"%d" % i, timeout=3)
        sub.ack(p)
        sub.unsubscribe([topic])
        pubs[(i + 1) % 3].publish(topic, b"late", qos=1)
        sub.expect_nothing(0.1, "message after UNSUBACK")
        sub.close()


@case("a retained message is stored once its PUBACK arrives (30 rounds)")
def _(t):
    pubs = [t.connect(name="pub%d" % i) for i in range(3)]
    for i in range(30):
        topic = t.topic("k%d" % i)
        pubs[i % 3].publish(topic, b"%d" % i, qos=1, retain=True)
        sub = t.connect(name="sub %d" % i)
        sub.subscribe([(topic, 0)])
        p = sub.expect_publish(topic, b"%d" % i, timeout=3)
        eq(p.retain, 1, "RETAIN flag")
        sub.close()
    for i in range(30):
        pubs[0].publish(t.topic("k%d" % i), b"", qos=1, retain=True)

if __name__ == "__main__":
    sys.exit(main())
