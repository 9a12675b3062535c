#!/usr/bin/env python3
"""Durable MQTT state across a starlingd restart (SIGTERM, then start again
on the same data directory): retained messages, sessions with expiry > 0,
their subscriptions and queued QoS 1/2 messages."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403


def restart(t):
    t.close_all()
    rc = t.broker.stop()
    eq(rc, 0, "starlingd exit status after SIGTERM")
    t.broker.start(reuse_dir=t.broker.dir)


def persistent(t, first=False):
    if t.v5:
        return {"clean": first, "props": {P_SESSION_EXPIRY: 3600}}
    return {"clean": False}


@case("retained message survives a restart")
def _(t):
    topic = t.topic()
    pub = t.connect()
    props = {P_CONTENT_TYPE: "text/x-kept", P_MESSAGE_EXPIRY: 3600} if t.v5 else None
    pub.publish(topic, b"durable", qos=1, retain=True, props=props)
    pub.publish(t.topic("cleared"), b"gone", qos=1, retain=True)
    pub.publish(t.topic("cleared"), b"", qos=1, retain=True)
    restart(t)
    sub = t.connect()
    sub.subscribe([(topic, 1), (t.topic("cleared"), 1)], expect_codes=[1, 1])
    p = sub.expect_publish(topic, b"durable", qos=1)
    eq(p.retain, 1, "RETAIN flag")
    if t.v5:
        eq(p.props.get(P_CONTENT_TYPE), "text/x-kept", "content type")
        e = p.props.get(P_MESSAGE_EXPIRY)
        check(e is not None and 3500 <= e <= 3600, "remaining expiry %r" % e)
    sub.ack(p)
    sub.expect_nothing(0.5, "cleared retained message")


@case("session and subscriptions survive a restart")
def _(t):
    cid = t.cid("p")
    topic = t.topic()
    c = t.connect(cid, **persistent(t, True))
    c.subscribe([(topic, 2)])
    c.disconnect()
    restart(t)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    pub = t.connect()
    pub.publish(topic, b"after restart", qos=2)
    p = c.expect_publish(topic, b"after restart", qos=2)
    c.ack(p)


@case("queued QoS 1 and 2 messages survive a restart, in order")
def _(t):
    cid = t.cid("p")
    topic = t.topic()
    c = t.connect(cid, **persistent(t, True))
    c.subscribe([(topic, 2)])
    c.disconnect()
    pub = t.connect()
    for i in range(5):
        pub.publish(topic, b"q%d" % i, qos=1 + i % 2)
    restart(t)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    for i in range(5):
        p = c.expect_publish(topic, b"q%d" % i, qos=1 + i % 2)
        c.ack(p)
    c.expect_nothing(0.5)


@case("an unacknowledged delivery is sent again after a restart")
def _(t):
    cid = t.cid("p")
    topic = t.topic()
    c = t.connect(cid, **persistent(t, True))
    c.subscribe([(topic, 1)])
    pub = t.connect()
    pub.publish(topic, b"unacked", qos=1)
    c.expect_publish(topic, b"unacked", qos=1)
    restart(t)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    p = c.expect_publish(topic, b"unacked", qos=1)
    c.ack(p)
    c.expect_nothing(0.5)


@case("a session that ends with its connection is not restored")
def _(t):
    cid = t.cid("p")
    c = t.connect(cid, clean=True)  # v5: Session Expiry 0
    c.subscribe([t.topic()])
    c.disconnect()
    restart(t)
    kw = {"props": {P_SESSION_EXPIRY: 60}} if t.v5 else {}
    t.connect(cid, clean=False, expect_sp=0, **kw)


@case("session expiry keeps counting across a restart", versions=(5,))
def _(t):
    cid = t.cid("p")
    c = t.connect(cid, props={P_SESSION_EXPIRY: 2})
    c.subscribe([(t.topic(), 1)])
    c.disconnect()
    restart(t)
    time.sleep(2.5)
    t.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60}, expect_sp=0)


@case("inbound QoS 2 state survives a restart (PUBREL after it, delivered once)")
def _(t):
    cid = t.cid("p")
    topic = t.topic()
    sub_id = t.cid("sub")
    sub = t.connect(sub_id, **persistent(t, True))
    sub.subscribe([(topic, 2)])
    c = t.connect(cid, **persistent(t, True))
    c.send(publish_packet(t.version, topic, b"in2", qos=2, pid=77))
    eq(c.expect(PUBREC).pid, 77, "PUBREC pid")
    restart(t)
    sub = t.connect(sub_id, expect_sp=1, **persistent(t))
    c = t.connect(cid, expect_sp=1, **persistent(t))
    c.send(publish_packet(t.version, topic, b"in2", qos=2, pid=77, dup=True))
    eq(c.expect(PUBREC).pid, 77, "PUBREC pid after restart")
    c.send(pubrel(t.version, 77))
    comp = c.expect(PUBCOMP)
    eq((comp.pid, comp.rc), (77, 0), "PUBCOMP pid, reason")
    p = sub.expect_publish(topic, b"in2", qos=2)
    sub.ack(p)
    sub.expect_nothing(0.5, "second copy")


@case("outbound QoS 2 after PUBREC: PUBREL is re-sent after a restart")
def _(t):
    cid = t.cid("p")
    topic = t.topic()
    c = t.connect(cid, **persistent(t, True))
    c.subscribe([(topic, 2)])
    pub = t.connect()
    pub.publish(topic, b"out2", qos=2)
    p = c.expect_publish(topic, b"out2", qos=2)
    c.send(pubrec(t.version, p.pid))
    eq(c.expect(PUBREL).pid, p.pid, "PUBREL pid")
    c.ping()
    restart(t)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    rel = c.expect(PUBREL, what="after restart")
    eq(rel.pid, p.pid, "re-sent PUBREL pid")
    c.send(pubcomp(t.version, rel.pid))
    c.expect_nothing(0.5, "PUBLISH again after PUBREC")


@case("subscription options and identifiers survive a restart", versions=(5,))
def _(t):
    cid = t.cid("p")
    topic = t.topic()
    c = t.connect(cid, **persistent(t, True))
    c.subscribe([(topic, sub_opts(1, nl=True, rap=True))], props={P_SUBSCRIPTION_ID: 99})
    c.disconnect()
    restart(t)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    c.publish(topic, b"own", qos=1)
    c.expect_nothing(0.5, "own message (No Local)")
    pub = t.connect()
    pub.publish(topic, b"r", qos=2, retain=True)
    p = c.expect_publish(topic, b"r", qos=1)
    eq(p.retain, 1, "RETAIN flag (Retain As Published)")
    eq(p.props.all(P_SUBSCRIPTION_ID), [99], "subscription identifiers")
    c.ack(p)
    pub.publish(topic, b"", qos=1, retain=True)


@case("many retained messages survive a restart")
def _(t):
    b = t.topic()
    pub = t.connect()
    n = 400
    pub.send(b"".join(publish_packet(t.version, "%s/%d" % (b, i), b"%d" % i, qos=1,
                                     pid=i + 1, retain=True) for i in range(n)))
    for i in range(n):
        pub.expect(PUBACK)
    restart(t)
    sub = t.connect()
    sub.subscribe([b + "/+"])
    seen = set()
    while len(seen) < n:
        p = sub.recv_packet(3)
        if p is None:
            break
        seen.add(int(p.payload))
    eq(len(seen), n, "retained messages after restart")


@case("queued messages keep their expiry across a restart", versions=(5,))
def _(t):
    cid = t.cid("p")
    topic = t.topic()
    c = t.connect(cid, **persistent(t, True))
    c.subscribe([(topic, 1)])
    c.disconnect()
    pub = t.connect()
    pub.publish(topic, b"brief", qos=1, props={P_MESSAGE_EXPIRY: 2})
    pub.publish(topic, b"lasting", qos=1, props={P_MESSAGE_EXPIRY: 300})
    restart(t)
    time.sleep(2.2)
    c = t.connect(cid, expect_sp=1, **persistent(t))
    p = c.expect_publish(topic, b"lasting", qos=1)
    e = p.props.get(P_MESSAGE_EXPIRY)
    check(e is not None and 290 <= e <= 298, "remaining expiry %r" % e)
    c.ack(p)
    c.expect_nothing(0.5, "expired message")


@case("deleting the broker through the API deletes its stored state", versions=(5,))
def _(t):
    import json
    import sqlite3
    import urllib.request
    import mqttwire
    b = mqttwire.Broker()
    try:
        b.start()
        topic = t.topic()
        cid = t.cid("s")
        sub = mqttwire.Client(b, 5)
        sub.send(connect_packet(5, cid, props={P_SESSION_EXPIRY: 600}))
        sub.expect(CONNACK)
        sub.subscribe([(topic + "/#", 1)])
        pub = mqttwire.Client(b, 5)
        pub.send(connect_packet(5, t.cid()))
        pub.expect(CONNACK)
        pub.publish(topic + "/r", b"retained", qos=1, retain=True)
        sub.expect_publish(topic + "/r", b"retained", qos=1)
        db = os.path.join(b.data_dir, "mqtt.db")

        def count(table):
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
            try:
                return con.execute("SELECT COUNT(*) FROM %s" % table).fetchone()[0]
            finally:
                con.close()

        def wait_for(table, want):
            deadline = time.monotonic() + 5
            while count(table) != want and time.monotonic() < deadline:
                time.sleep(0.05)
            eq(count(table), want, "rows in %s" % table)

        wait_for("retained", 1)
        wait_for("sessions", 1)
        with open(os.path.join(b.data_dir, "admin-token")) as f:
            token = f.read().strip()
        host, port = b.ports["api"]
        base = "http://%s:%d/client/v4" % (host, port)

        def api(method, path):
            req = urllib.request.Request(base + path, method=method,
                                         headers={"Authorization": "Bearer " + token})
            with urllib.request.urlopen(req, timeout=5) as r:
                return json.load(r)

        account = api("GET", "/memberships")["result"][0]["account"]["id"]
        # --dev's broker is a stored broker like any other
        listed = api("GET", "/accounts/%s/pubsub/namespaces/dev/brokers" % account)["result"]
        eq([(x["name"], x["authType"]) for x in listed], [("local", "NONE")], "brokers of dev")
        api("DELETE", "/accounts/%s/pubsub/namespaces/dev/brokers/local" % account)
        d = sub.expect(DISCONNECT)
        eq(d.rc, 0x8B, "DISCONNECT reason when the broker is deleted")
        wait_for("retained", 0)
        wait_for("sessions", 0)
        wait_for("subscriptions", 0)
        wait_for("messages", 0)
        # --dev makes the broker anew on the next start: empty, nothing revived
        b.stop()
        b.start(reuse_dir=b.dir)
        sub = mqttwire.Client(b, 5)
        sub.send(connect_packet(5, cid, clean=False, props={P_SESSION_EXPIRY: 600}))
        eq(sub.expect(CONNACK).session_present, 0, "session present after the broker was deleted")
        sub.subscribe([(topic + "/#", 1)])
        sub.expect_nothing(0.5, "retained message of the deleted broker")
    finally:
        b.stop()
        b.cleanup()


@case("--durability always: PUBACKed state survives SIGKILL", versions=(5,))
def _(t):
    import signal
    import mqttwire
    b = mqttwire.Broker()
    try:
        b.start(["--durability", "always"])
        cid = t.cid("k")
        topic = t.topic()
        c = mqttwire.Client(b, 5)
        c.send(connect_packet(5, cid, props={P_SESSION_EXPIRY: 600}))
        c.expect(CONNACK)
        c.subscribe([(topic, 1)])
        c.disconnect()
        pub = mqttwire.Client(b, 5)
        pub.send(connect_packet(5, t.cid()))
        pub.expect(CONNACK)
        pub.publish(topic + "/r", b"kept", qos=1, retain=True)
        pub.publish(topic, b"queued", qos=1)
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait()
        b.log.close()
        b.start(["--durability", "always"], reuse_dir=b.dir)
        c = mqttwire.Client(b, 5)
        c.send(connect_packet(5, cid, clean=False, props={P_SESSION_EXPIRY: 600}))
        a = c.expect(CONNACK)
        eq(a.session_present, 1, "session present after SIGKILL")
        p = c.expect_publish(topic, b"queued", qos=1)
        c.ack(p)
        s = mqttwire.Client(b, 5)
        s.send(connect_packet(5, t.cid()))
        s.expect(CONNACK)
        s.subscribe([topic + "/r"])
        s.expect_publish(topic + "/r", b"kept")
        eq(b.stop(), 0, "exit status")
    except Fail:
        print("# sub-broker log (%s):" % b.log_path)
        for line in b.log_text(0, 40).splitlines():
            print("#   " + line)
        raise
    finally:
        b.stop()
        b.cleanup()


@case("--durability always: SUBACK, retained clear and PUBREC survive SIGKILL", versions=(5,))
def _(t):
    import signal
    import mqttwire
    b = mqttwire.Broker()
    args = ["--durability", "always"]
    try:
        b.start(args)
        topic = t.topic()
        cid_sub, cid_pub = t.cid("s"), t.cid("p")
        keep = {P_SESSION_EXPIRY: 600}
        pub = mqttwire.Client(b, 5)
        pub.send(connect_packet(5, cid_pub, props=keep))
        pub.expect(CONNACK)
        pub.publish(topic + "/r", b"to-clear", qos=1, retain=True)
        pub.publish(topic + "/r", b"", qos=1, retain=True)
        sub = mqttwire.Client(b, 5)
        sub.send(connect_packet(5, cid_sub, props=keep))
        sub.expect(CONNACK)
        sub.subscribe([(topic, 2)])   # SUBACK confirms the subscription
        pub.send(publish_packet(5, topic, b"q2", qos=2, pid=5))
        eq(pub.expect(PUBREC).pid, 5, "PUBREC pid")
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait()
        b.log.close()
        b.start(args, reuse_dir=b.dir)
        sub = mqttwire.Client(b, 5)
        sub.send(connect_packet(5, cid_sub, clean=False, props=keep))
        eq(sub.expect(CONNACK).session_present, 1, "subscriber session present")
        pub = mqttwire.Client(b, 5)
        pub.send(connect_packet(5, cid_pub, clean=False, props=keep))
        eq(pub.expect(CONNACK).session_present, 1, "publisher session present")
        pub.send(pubrel(5, 5))
        comp = pub.expect(PUBCOMP)
        eq((comp.pid, comp.rc), (5, 0), "PUBCOMP pid, reason (QoS 2 state kept)")
        # delivered once: before the kill (then re-sent with DUP) or at PUBREL
        p = sub.expect_publish(topic, b"q2", qos=2)
        sub.ack(p)
        sub.expect_nothing(0.5, "second copy")
        late = mqttwire.Client(b, 5)
        late.send(connect_packet(5, t.cid()))
        late.expect(CONNACK)
        late.subscribe([topic + "/r"])
        late.expect_nothing(0.5, "cleared retained message")
        eq(b.stop(), 0, "exit status")
    except Fail:
        print("# sub-broker log (%s):" % b.log_path)
        for line in b.log_text(0, 40).splitlines():
            print("#   " + line)
        raise
    finally:
        b.stop()
        b.cleanup()


@case("--durability always: PUBACKs stay in order; UNSUBACK survives SIGKILL", versions=(5,))
def _(t):
    import signal
    import mqttwire
    b = mqttwire.Broker()
    args = ["--durability", "always"]
    try:
        b.start(args)
        topic = t.topic()
        cid = t.cid("s")
        keep = {P_SESSION_EXPIRY: 600}
        sub = mqttwire.Client(b, 5)
        sub.send(connect_packet(5, cid, props=keep))
        sub.expect(CONNACK)
        sub.subscribe([(topic + "/a", 1), (topic + "/b", 1)])
        pub = mqttwire.Client(b, 5)
        pub.send(connect_packet(5, t.cid()))
        pub.expect(CONNACK)
        # [MQTT-4.6.0-2]: PUBACKs in the order of the PUBLISHes
        pub.send(b"".join(publish_packet(5, topic + "/a", b"%d" % i, qos=1, pid=i + 1)
                          for i in range(50)))
        for i in range(50):
            eq(pub.expect(PUBACK).pid, i + 1, "PUBACK order")
        for i in range(50):
            p = sub.expect_publish(topic + "/a", b"%d" % i, qos=1)
            sub.send(puback(5, p.pid))
        sub.unsubscribe([topic + "/a"])
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait()
        b.log.close()
        b.start(args, reuse_dir=b.dir)
        sub = mqttwire.Client(b, 5)
        sub.send(connect_packet(5, cid, clean=False, props=keep))
        eq(sub.expect(CONNACK).session_present, 1, "session present")
        pub = mqttwire.Client(b, 5)
        pub.send(connect_packet(5, t.cid()))
        pub.expect(CONNACK)
        pub.publish(topic + "/a", b"unsubscribed", qos=1)
        pub.publish(topic + "/b", b"still", qos=1)
        while True:
            p = sub.expect(PUBLISH)
            if p.dup and p.topic == topic + "/a":
                sub.send(puback(5, p.pid))  # a re-send of an unconfirmed PUBACK is allowed
                continue
            break
        eq((p.topic, p.payload), (topic + "/b", b"still"), "first live delivery")
        sub.ack(p)
        sub.expect_nothing(0.5, "message for the removed subscription")
        eq(b.stop(), 0, "exit status")
    except Fail:
        print("# sub-broker log (%s):" % b.log_path)
        for line in b.log_text(0, 40).splitlines():
            print("#   " + line)
        raise
    finally:
        b.stop()
        b.cleanup()


if __name__ == "__main__":
    sys.exit(main())
