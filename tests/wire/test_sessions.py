#!/usr/bin/env python3
"""Sessions: clean start, session present, queued and re-delivered messages,
session expiry, takeover, session expiry changes on DISCONNECT."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403


def persistent(t):
    """CONNECT arguments for a session that outlives its connection."""
    if t.v5:
        return {"clean": False, "props": {P_SESSION_EXPIRY: 300}}
    return {"clean": False}


def first_persistent(t):
    """A fresh session that outlives its connection (3.1.1: clean session 0)."""
    if t.v5:
        return {"clean": True, "props": {P_SESSION_EXPIRY: 300}}
    return {"clean": False}


@case("clean start: session present 0")
def _(t):
    c = t.connect(clean=True, expect_sp=0)
    c.disconnect()
    c = t.connect(c.client_id, clean=True, expect_sp=0)


@case("session present 1 when a session is resumed")
def _(t):
    cid = t.cid("s")
    # 3.1.1 clean session 0 creates the session even if none existed
    c = t.connect(cid, expect_sp=0, **persistent(t))
    c.subscribe([(t.topic(), 1)])
    c.disconnect()
    c = t.connect(cid, expect_sp=1, **persistent(t))
    if not t.v5:
        eq(c.connack.raw, b"\x20\x02\x01\x00", "CONNACK bytes")


@case("Session Expiry 0 (default): nothing is kept after disconnect", versions=(5,))
def _(t):
    cid = t.cid("s")
    c = t.connect(cid, clean=False, expect_sp=0)
    c.subscribe([(t.topic(), 1)])
    c.disconnect()
    c = t.connect(cid, clean=False, expect_sp=0)


@case("clean start discards the old session")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, **persistent(t))
    c.subscribe([(topic, 1)])
    c.disconnect()
    pub = t.connect()
    pub.publish(topic, b"queued", qos=1)
    kw = {"props": {P_SESSION_EXPIRY: 300}} if t.v5 else {}
    c = t.connect(cid, clean=True, expect_sp=0, **kw)
    c.expect_nothing(0.5, "message of the discarded session")
    pub.publish(topic, b"after", qos=1)
    c.expect_nothing(0.5, "message for the discarded subscription")


@case("subscriptions survive reconnect")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, **first_persistent(t))
    c.subscribe([(topic, 1)])
    c.disconnect()
    c = t.connect(cid, expect_sp=1, **persistent(t))
    pub = t.connect()
    pub.publish(topic, b"live", qos=1)
    p = c.expect_publish(topic, b"live", qos=1)
    c.ack(p)


@case("queued QoS 1 and 2 messages are delivered on resume, in order")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, **first_persistent(t))
    c.subscribe([(topic, 2)])
    c.disconnect()
    pub = t.connect()
    pub.publish(topic, b"one", qos=1)
    pub.publish(topic, b"two", qos=2)
    pub.publish(topic, b"three", qos=1)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    for pl, q in ((b"one", 1), (b"two", 2), (b"three", 1)):
        p = c.expect_publish(topic, pl, qos=q)
        c.ack(p)
    c.expect_nothing(0.5)


@case("unacknowledged QoS 1 is re-sent with DUP and the same id")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, **first_persistent(t))
    c.subscribe([(topic, 1)])
    pub = t.connect()
    pub.publish(topic, b"unacked", qos=1)
    p = c.expect_publish(topic, b"unacked", qos=1)
    eq(p.dup, 0, "DUP on first delivery")
    c.abort()
    time.sleep(0.2)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    p2 = c.expect_publish(topic, b"unacked", qos=1)
    eq(p2.dup, 1, "DUP on re-delivery")
    eq(p2.pid, p.pid, "packet id on re-delivery")
    c.ack(p2)
    c.expect_nothing(0.5)


@case("QoS 2: unacknowledged PUBLISH re-sent with DUP; PUBREL re-sent after PUBREC")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, **first_persistent(t))
    c.subscribe([(topic, 2)])
    pub = t.connect()
    pub.publish(topic, b"m-a", qos=2)
    pub.publish(topic, b"m-b", qos=2)
    pa = c.expect_publish(topic, b"m-a", qos=2)
    pb = c.expect_publish(topic, b"m-b", qos=2)
    c.send(pubrec(t.version, pa.pid))
    rel = c.expect(PUBREL)
    eq(rel.pid, pa.pid, "PUBREL pid")
    c.abort()
    time.sleep(0.2)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    # m-a: only the PUBREL again; m-b: the PUBLISH again with DUP
    got = [c.recv_packet(5), c.recv_packet(5)]
    check(None not in got, "re-sent packets: %r" % got)
    rels = [x for x in got if x.type == PUBREL]
    pubs = [x for x in got if x.type == PUBLISH]
    check(len(rels) == 1 and len(pubs) == 1, "want one PUBREL and one PUBLISH, got %r" % got)
    eq(rels[0].pid, pa.pid, "re-sent PUBREL pid")
    eq((pubs[0].payload, pubs[0].pid, pubs[0].dup, pubs[0].qos), (b"m-b", pb.pid, 1, 2),
       "re-sent PUBLISH (payload, pid, dup, qos)")
    c.send(pubcomp(t.version, pa.pid))
    c.ack(pubs[0])
    c.expect_nothing(0.5)


@case("inbound QoS 2 state survives reconnect (PUBREL after reconnect)")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    sub = t.connect()
    sub.subscribe([(topic, 2)])
    c = t.connect(cid, **first_persistent(t))
    c.send(publish_packet(t.version, topic, b"in2", qos=2, pid=31))
    eq(c.expect(PUBREC).pid, 31, "PUBREC pid")
    c.abort()
    time.sleep(0.2)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    # the client re-sends the PUBLISH with DUP: it must not be delivered twice
    c.send(publish_packet(t.version, topic, b"in2", qos=2, pid=31, dup=True))
    eq(c.expect(PUBREC).pid, 31, "PUBREC pid after reconnect")
    c.send(pubrel(t.version, 31))
    comp = c.expect(PUBCOMP)
    eq((comp.pid, comp.rc), (31, 0), "PUBCOMP pid, reason")
    p = sub.expect_publish(topic, b"in2", qos=2)
    sub.ack(p)
    sub.expect_nothing(0.5, "second copy")


@case("Session Expiry Interval 1: gone after ~2 s", versions=(5,))
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, props={P_SESSION_EXPIRY: 1})
    c.subscribe([(topic, 1)])
    c.disconnect()
    time.sleep(2.2)
    pub = t.connect()
    pub.publish(topic, b"late", qos=1)
    c = t.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60}, expect_sp=0)
    c.expect_nothing(0.5, "message for an expired session")


@case("Session Expiry Interval 5: present when resumed in time", versions=(5,))
def _(t):
    cid = t.cid("s")
    c = t.connect(cid, props={P_SESSION_EXPIRY: 5})
    c.disconnect()
    time.sleep(1.0)
    t.connect(cid, clean=False, props={P_SESSION_EXPIRY: 5}, expect_sp=1)


@case("session takeover: the old connection is closed")
def _(t):
    # several rounds so that old and new land on different I/O threads
    for _ in range(6):
        cid = t.cid("s")
        old = t.connect(cid, name="old")
        new = t.connect(cid, name="new", expect_sp=0)
        if t.v5:
            p = old.expect(DISCONNECT)
            eq(p.rc, 0x8E, "DISCONNECT reason (Session taken over)")
        old.expect_closed()
        new.ping()


@case("session takeover with clean start 0 keeps the session")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    old = t.connect(cid, name="old", **first_persistent(t))
    old.subscribe([(topic, 1)])
    new = t.connect(cid, name="new", expect_sp=1, **persistent(t))
    if t.v5:
        eq(old.expect(DISCONNECT).rc, 0x8E, "DISCONNECT reason")
    old.expect_closed()
    pub = t.connect()
    pub.publish(topic, b"to-new", qos=1)
    p = new.expect_publish(topic, b"to-new")
    new.ack(p)


@case("DISCONNECT may not set Session Expiry when CONNECT had 0 -> 0x82", versions=(5,))
def _(t):
    c = t.connect()
    c.send(disconnect_packet(5, 0, {P_SESSION_EXPIRY: 30}))
    p = c.expect(DISCONNECT)
    eq(p.rc, 0x82, "DISCONNECT reason (Protocol Error)")
    c.expect_closed()


@case("DISCONNECT with Session Expiry 0 ends the session", versions=(5,))
def _(t):
    cid = t.cid("s")
    c = t.connect(cid, props={P_SESSION_EXPIRY: 300})
    c.subscribe([t.topic()])
    c.send(disconnect_packet(5, 0, {P_SESSION_EXPIRY: 0}))
    c.expect_closed()
    t.connect(cid, clean=False, props={P_SESSION_EXPIRY: 300}, expect_sp=0)


@case("DISCONNECT may extend a non-zero Session Expiry", versions=(5,))
def _(t):
    cid = t.cid("s")
    c = t.connect(cid, props={P_SESSION_EXPIRY: 1})
    c.send(disconnect_packet(5, 0, {P_SESSION_EXPIRY: 60}))
    c.expect_closed()
    time.sleep(2.0)
    t.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60}, expect_sp=1)


@case("offline queue keeps only QoS 1/2 matching messages")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, **first_persistent(t))
    c.subscribe([(topic, 1)])
    c.disconnect()
    pub = t.connect()
    pub.publish(t.topic("unrelated"), b"no", qos=1)
    pub.publish(topic, b"yes", qos=1)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    p = c.expect(PUBLISH)
    # a QoS 0 copy may or may not be queued; the unrelated topic never is
    eq((p.topic, p.payload), (topic, b"yes"), "queued message")
    c.ack(p)
    c.expect_nothing(0.5)


@case("offline queue is bounded at 1000 messages, keeping the oldest")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, **first_persistent(t))
    c.subscribe([(topic, 1)])
    c.disconnect()
    pub = t.connect()
    n = 1100
    pub.send(b"".join(publish_packet(t.version, topic, b"%d" % i, qos=1, pid=i + 1)
                      for i in range(n)))
    for i in range(n):
        a = pub.expect(PUBACK, what="PUBACK %d" % (i + 1))
        eq(a.pid, i + 1, "PUBACK order")
    c = t.connect(cid, expect_sp=1, **persistent(t))
    for i in range(1000):
        p = c.expect_publish(topic, b"%d" % i, qos=1)
        c.send(puback(t.version, p.pid))
    c.expect_nothing(0.7, "message beyond the queue bound")


@case("takeover in the middle of a QoS 1 stream loses nothing", versions=(5,))
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    props = {P_SESSION_EXPIRY: 300}
    old = t.connect(cid, props=props, name="old")
    old.subscribe([(topic, 1)])
    pub = t.connect(name="pub")
    n = 200
    pub.send(b"".join(publish_packet(5, topic, b"%d" % i, qos=1, pid=i + 1) for i in range(n)))
    seen = set()
    for _ in range(50):
        p = old.expect_publish(topic, qos=1)
        old.send(puback(5, p.pid))
        seen.add(int(p.payload))
    new = t.connect(cid, clean=False, props=props, expect_sp=1, name="new")
    deadline = time.monotonic() + 15
    while len(seen) < n and time.monotonic() < deadline:
        p = new.recv_packet(2)
        if p is None:
            break
        if p.type == DISCONNECT:
            raise Fail("new connection got %r" % p)
        if p.type == PUBLISH:
            seen.add(int(p.payload))
            new.send(puback(5, p.pid))
    missing = sorted(set(range(n)) - seen)
    check(not missing, "%d messages lost, first %s" % (len(missing), missing[:10]))


@case("assigned client identifier can resume its session", versions=(5,))
def _(t):
    topic = t.topic()
    c = t.connect(client_id="", props={P_SESSION_EXPIRY: 60})
    aid = c.connack.props.get(P_ASSIGNED_CLIENT_ID)
    check(aid, "no Assigned Client Identifier")
    c.subscribe([(topic, 1)])
    c.disconnect()
    pub = t.connect()
    pub.publish(topic, b"for-assigned", qos=1)
    c = t.connect(client_id=aid, clean=False, props={P_SESSION_EXPIRY: 60}, expect_sp=1)
    p = c.expect_publish(topic, b"for-assigned", qos=1)
    c.ack(p)


@case("immediate reconnects keep the session (10 rounds, abort and DISCONNECT)")
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, **first_persistent(t))
    c.subscribe([(topic, 1)])
    pub = t.connect(name="pub")
    for i in range(10):
        if i % 2:
            c.abort()
        else:
            c.disconnect()
        c = t.connect(cid, expect_sp=1, name="round %d" % i, **persistent(t))
        pub.publish(topic, b"%d" % i, qos=1)
        p = c.expect_publish(topic, b"%d" % i, qos=1)
        c.ack(p)
        c.ping()  # the PUBACK is processed before an abort's reset can drop it


@case("PUBACK then DISCONNECT then immediate reconnect: no loss, duplicates marked")
def _(t):
    # The old and new connection may sit on different I/O threads.  QoS 1
    # allows a duplicate here (the server cannot order two connections), but
    # one that comes must carry DUP and the original packet id, and nothing
    # may be lost.  Duplicates are reported as a note: they are avoidable
    # (drain the old connection before the session moves).
    cid = t.cid("s")
    topic = t.topic()
    c = t.connect(cid, **first_persistent(t))
    c.subscribe([(topic, 1)])
    pub = t.connect(name="pub")
    dups = []
    for i in range(15):
        pub.publish(topic, b"%d" % i, qos=1)
        p = c.expect_publish(topic, b"%d" % i, qos=1)
        c.send(puback(t.version, p.pid) + disconnect_packet(t.version))
        c.close()
        c = t.connect(cid, expect_sp=1, name="round %d" % i, **persistent(t))
        again = c.recv_packet(0.1)
        if again is not None:
            eq((again.type, again.payload, again.pid, again.dup),
               (PUBLISH, p.payload, p.pid, 1), "re-sent packet (type, payload, id, DUP)")
            c.send(puback(t.version, again.pid))
            dups.append(i)
        c.ping()
    if dups:
        print("# note: acknowledged messages %s were re-sent after an immediate reconnect" % dups)


@case("subscription options and identifiers survive reconnect", versions=(5,))
def _(t):
    cid = t.cid("s")
    topic = t.topic()
    props = {P_SESSION_EXPIRY: 60}
    c = t.connect(cid, props=props)
    c.subscribe([(topic, sub_opts(1, nl=True))], props={P_SUBSCRIPTION_ID: 7})
    c.disconnect()
    c = t.connect(cid, clean=False, props=props, expect_sp=1)
    c.publish(topic, b"own", qos=1)
    c.expect_nothing(0.5, "own message with No Local")
    pub = t.connect()
    pub.publish(topic, b"other", qos=2)
    p = c.expect_publish(topic, b"other", qos=1)
    eq(p.props.all(P_SUBSCRIPTION_ID), [7], "subscription identifiers")
    c.ack(p)


@case("ten simultaneous CONNECTs with one client id: exactly one survives")
def _(t):
    cid = t.cid("storm")
    cs = [t.client(name="conn %d" % i) for i in range(10)]
    for c in cs:
        c.send(connect_packet(t.version, cid, clean=True))
    time.sleep(1.0)
    alive = []
    for c in cs:
        try:
            while True:
                p = c.recv_packet(0.05)
                if p is None:
                    alive.append(c)
                    break
                if p.type == CONNACK:
                    eq(p.rc, 0, "%s CONNACK reason" % c.name)
                elif p.type == DISCONNECT:
                    eq(p.rc, 0x8E, "%s DISCONNECT reason" % c.name)
                else:
                    raise Fail("%s got %r" % (c.name, p))
        except Closed:
            pass
    eq(len(alive), 1, "connections still open")
    alive[0].ping()
    topic = t.topic()
    alive[0].subscribe([(topic, 1)])
    pub = t.connect()
    pub.publish(topic, b"winner", qos=1)
    p = alive[0].expect_publish(topic, b"winner")
    alive[0].ack(p)


if __name__ == "__main__":
    sys.exit(main())
