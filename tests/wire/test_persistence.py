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


if __name__ == "__main__":
    sys.exit(main())
