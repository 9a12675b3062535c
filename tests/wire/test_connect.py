#!/usr/bin/env python3
"""CONNECT / CONNACK, client identifiers, keep alive, PINGREQ, shutdown."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403
import mqttwire  # noqa: E402


@case("CONNACK accepts a clean CONNECT", versions=(4,))
def _(t):
    c = t.connect()
    eq(c.connack.raw, b"\x20\x02\x00\x00", "CONNACK bytes")


@case("CONNACK v5 fields and properties", versions=(5,))
def _(t):
    c = t.connect()
    a = c.connack
    eq(a.session_present, 0, "session present")
    eq(a.rc, 0, "reason code")
    p = a.props
    eq(p.get(P_RECEIVE_MAXIMUM), 100, "Receive Maximum (default 100)")
    eq(p.get(P_TOPIC_ALIAS_MAXIMUM), 64, "Topic Alias Maximum (default 64)")
    eq(p.get(P_MAXIMUM_PACKET_SIZE), 1048576, "Maximum Packet Size (default 1 MiB)")
    check(not p.has(P_MAXIMUM_QOS), "Maximum QoS must be absent (QoS 2 supported): %r" % p)
    for pid, name in ((P_RETAIN_AVAILABLE, "Retain Available"),
                      (P_WILDCARD_SUB_AVAILABLE, "Wildcard Subscription Available"),
                      (P_SUB_ID_AVAILABLE, "Subscription Identifier Available"),
                      (P_SHARED_SUB_AVAILABLE, "Shared Subscription Available")):
        check(p.get(pid, 1) == 1, "%s must be absent or 1, got %r" % (name, p.get(pid)))
    check(not p.has(P_ASSIGNED_CLIENT_ID), "Assigned Client Identifier sent for a non-empty id")
    for pid in (P_RECEIVE_MAXIMUM, P_TOPIC_ALIAS_MAXIMUM, P_MAXIMUM_PACKET_SIZE,
                P_RETAIN_AVAILABLE, P_SESSION_EXPIRY, P_SERVER_KEEP_ALIVE):
        check(len(p.all(pid)) <= 1, "property 0x%02x repeated" % pid)
    c.ping()


@case("empty client id is assigned an identifier", versions=(5,))
def _(t):
    c = t.connect(client_id="")
    aid = c.connack.props.get(P_ASSIGNED_CLIENT_ID)
    check(aid, "no Assigned Client Identifier in %r" % c.connack)
    c2 = t.connect(client_id="")
    aid2 = c2.connack.props.get(P_ASSIGNED_CLIENT_ID)
    check(aid2 and aid2 != aid, "second assigned id %r equals the first %r" % (aid2, aid))
    # both sessions are live at once: the ids really are distinct
    c.ping()
    c2.ping()


@case("empty client id with clean session is accepted", versions=(4,))
def _(t):
    c = t.connect(client_id="")
    eq(c.connack.raw, b"\x20\x02\x00\x00", "CONNACK bytes")
    c.ping()


@case("empty client id with clean session 0 -> CONNACK 0x02", versions=(4,))
def _(t):
    c = t.client()
    c.send(connect_packet(4, "", clean=False))
    t.expect_connack_error(c, None, v4code=0x02)


@case("long client id (200 bytes) is accepted")
def _(t):
    c = t.connect(client_id=t.cid() + "x" * 180)
    c.ping()


@case("unsupported protocol level -> CONNACK and close")
def _(t):
    c = t.client()
    if t.v5:
        c.send(connect_packet(5, t.cid(), proto_level=6))
        p = c.expect(CONNACK)
        # a level-6 client's format is unknown: accept the reason code 0x84
        # with or without a property length after it
        check(p.raw in (b"\x20\x03\x00\x84\x00", b"\x20\x02\x00\x84"),
              "CONNACK %s, want reason 0x84 (20 03 00 84 00)" % p.raw.hex())
    else:
        c.send(connect_packet(4, t.cid(), proto_level=2))
        p = c.expect(CONNACK)
        eq(p.raw, b"\x20\x02\x00\x01", "CONNACK bytes for level 2")
    c.expect_closed()
    t.assert_alive()


@case("wrong protocol name -> closed")
def _(t):
    c = t.client()
    c.send(connect_packet(t.version, t.cid(), proto_name="MQTX"))
    got = c.expect_closed(allow=(CONNACK,))
    for p in got:
        check(p.rc >= 0x01 and p.rc != 0, "CONNACK accepted a wrong protocol name: %r" % p)
    t.assert_alive()


@case("first packet not CONNECT -> closed", versions=(5,))
def _(t):
    for first in (pingreq(), publish_packet(4, "a/b", b"x"),
                  subscribe_packet(4, 1, ["a"])):
        c = t.client()
        c.send(first)
        got = c.expect_closed(allow=(CONNACK,))
        for p in got:
            check(p.rc >= 0x80, "CONNACK success for a non-CONNECT first packet: %r" % p)
    t.assert_alive()


@case("second CONNECT -> protocol error")
def _(t):
    c = t.connect()
    c.send(connect_packet(t.version, c.client_id))
    t.expect_error(c, 0x82, "second CONNECT")
    t.assert_alive()


@case("Authentication Method in CONNECT -> CONNACK 0x8C", versions=(5,))
def _(t):
    c = t.client()
    c.send(connect_packet(5, t.cid(), props={P_AUTH_METHOD: "SCRAM-SHA-1"}))
    t.expect_connack_error(c, 0x8C)
    t.assert_alive()


@case("Receive Maximum 0 in CONNECT -> CONNACK 0x82", versions=(5,))
def _(t):
    c = t.client()
    c.send(connect_packet(5, t.cid(), props={P_RECEIVE_MAXIMUM: 0}))
    t.expect_connack_error(c, 0x82)


@case("Maximum Packet Size 0 in CONNECT -> CONNACK 0x82", versions=(5,))
def _(t):
    c = t.client()
    c.send(connect_packet(5, t.cid(), props={P_MAXIMUM_PACKET_SIZE: 0}))
    t.expect_connack_error(c, 0x82)


@case("username and password are accepted by the dev broker")
def _(t):
    c = t.connect(username="someone", password=b"\x00secret\xff")
    c.ping()


@case("PINGREQ -> PINGRESP d0 00")
def _(t):
    c = t.connect()
    for _ in range(3):
        c.ping()
    # two PINGREQs in one write get two answers
    c.send(pingreq() + pingreq())
    for _ in range(2):
        p = c.expect(PINGRESP)
        eq(p.raw, b"\xd0\x00", "PINGRESP bytes")


@case("CONNECT and PINGREQ split byte by byte")
def _(t):
    c = t.client()
    data = connect_packet(t.version, t.cid()) + pingreq()
    for i in range(len(data)):
        c.send(data[i:i + 1])
        time.sleep(0.002)
    a = c.expect(CONNACK)
    eq(a.rc, 0, "CONNACK reason")
    c.expect(PINGRESP)


@case("keep alive 1 s, silent client is disconnected after ~1.5 s")
def _(t):
    c = t.connect(keepalive=1)
    t0 = time.monotonic()
    if t.v5:
        p = c.expect(DISCONNECT, timeout=4)
        eq(p.rc, 0x8D, "DISCONNECT reason (Keep Alive timeout)")
    c.expect_closed(timeout=4)
    dt = time.monotonic() - t0
    check(1.0 <= dt <= 3.0, "closed after %.2f s, want about 1.5 s" % dt)


@case("keep alive 1 s is kept alive by PINGREQ")
def _(t):
    c = t.connect(keepalive=1)
    end = time.monotonic() + 2.6
    while time.monotonic() < end:
        time.sleep(0.5)
        c.ping()


@case("keep alive 1 s is kept alive by PUBLISH traffic")
def _(t):
    c = t.connect(keepalive=1)
    end = time.monotonic() + 2.6
    while time.monotonic() < end:
        time.sleep(0.5)
        c.publish(t.topic("ka"), b"x", qos=1)
    c.ping()


@case("idle or half-sent CONNECT is closed (CONNECT timeout)", versions=(5,))
def _(t):
    idle = t.client(name="idle")
    half = t.client(name="half CONNECT")
    half.send(connect_packet(5, t.cid())[:7])
    t0 = time.monotonic()
    for c in (idle, half):
        got = c.expect_closed(timeout=max(0.1, 15 - (time.monotonic() - t0)),
                              allow=(CONNACK, DISCONNECT))
        for p in got:
            check(p.type != CONNACK or p.rc >= 0x80, "unexpected %r" % p)
    dt = time.monotonic() - t0
    check(dt >= 1.0, "closed after only %.2f s" % dt)


@case("will topic with a wildcard -> CONNACK 0x90 / closed")
def _(t):
    c = t.client()
    c.send(connect_packet(t.version, t.cid(), will={"topic": t.topic("+"), "payload": b"w"}))
    t.expect_connack_error(c, 0x90)
    t.assert_alive()


@case("Request Problem Information 2 -> CONNACK 0x82", versions=(5,))
def _(t):
    c = t.client()
    c.send(connect_packet(5, t.cid(), props={P_REQUEST_PROBLEM_INFO: 2}))
    t.expect_connack_error(c, 0x82)


@case("will property not allowed (Subscription Identifier) -> CONNACK 0x81", versions=(5,))
def _(t):
    c = t.client()
    c.send(connect_packet(5, t.cid(), will={"topic": t.topic("w"), "payload": b"w",
                                            "props": {P_SUBSCRIPTION_ID: 1}}))
    t.expect_connack_error(c, 0x81)


@case("keep alive 0 disables the keep alive timer", versions=(5,))
def _(t):
    c = t.connect(keepalive=0)
    check(not c.connack.props.has(P_SERVER_KEEP_ALIVE),
          "Server Keep Alive without a cap: %r" % c.connack)
    time.sleep(2.0)
    c.ping()


@case("many connections at once (200)", versions=(4,))
def _(t):
    cs = []
    for i in range(200):
        c = t.client()
        c.send(connect_packet(4, t.cid()))
        cs.append(c)
    for c in cs:
        eq(c.expect(CONNACK).raw, b"\x20\x02\x00\x00", "CONNACK bytes")
    for c in cs:
        c.send(pingreq())
    for c in cs:
        c.expect(PINGRESP)


@case("configured limits are announced in CONNACK and enforced", versions=(5,))
def _(t):
    b = mqttwire.Broker()
    try:
        b.start(["--receive-maximum", "5", "--topic-alias-maximum", "0",
                 "--max-packet-size", "2000", "--max-keep-alive", "2",
                 "--max-session-expiry", "10"])
        c = mqttwire.Client(b, 5)
        c.send(connect_packet(5, t.cid(), keepalive=60))
        a = c.expect(CONNACK)
        eq(a.rc, 0, "CONNACK reason")
        eq(a.props.get(P_RECEIVE_MAXIMUM), 5, "Receive Maximum")
        eq(a.props.get(P_TOPIC_ALIAS_MAXIMUM, 0), 0, "Topic Alias Maximum")
        eq(a.props.get(P_MAXIMUM_PACKET_SIZE), 2000, "Maximum Packet Size")
        eq(a.props.get(P_SERVER_KEEP_ALIVE), 2, "Server Keep Alive")
        c2 = mqttwire.Client(b, 5)
        c2.send(connect_packet(5, t.cid(), props={P_SESSION_EXPIRY: 100}))
        a2 = c2.expect(CONNACK)
        eq(a2.props.get(P_SESSION_EXPIRY), 10, "Session Expiry Interval capped by the server")
        c2.close()
        c.send(publish_packet(5, "a/b", b"x", props={P_TOPIC_ALIAS: 1}))
        p = c.expect(DISCONNECT)
        eq(p.rc, 0x94, "DISCONNECT reason for an alias with maximum 0")
        c.expect_closed()
        c = mqttwire.Client(b, 5)
        c.send(connect_packet(5, t.cid()))
        c.expect(CONNACK)
        c.send(publish_packet(5, "a/b", b"x" * 2100))
        p = c.expect(DISCONNECT)
        eq(p.rc, 0x95, "DISCONNECT reason for a packet above 2000 bytes")
        c.expect_closed()
        # keep alive capped at 2 s: a silent client goes after about 3 s
        c = mqttwire.Client(b, 5)
        c.send(connect_packet(5, t.cid(), keepalive=0))
        a = c.expect(CONNACK)
        eq(a.props.get(P_SERVER_KEEP_ALIVE), 2, "Server Keep Alive for keep alive 0")
        t0 = time.monotonic()
        p = c.expect(DISCONNECT, timeout=6)
        eq(p.rc, 0x8D, "DISCONNECT reason")
        dt = time.monotonic() - t0
        check(2.0 <= dt <= 4.5, "disconnected after %.2f s, want about 3 s" % dt)
        eq(b.stop(), 0, "exit status")
    finally:
        b.stop()
        b.cleanup()


@case("starlingd exits 0 on SIGTERM with clients connected", versions=(5,))
def _(t):
    b = mqttwire.Broker()
    try:
        b.start()
        c = mqttwire.Client(b, 5)
        c.send(connect_packet(5, t.cid()))
        c.expect(CONNACK)
        c2 = mqttwire.Client(b, 4)
        c2.send(connect_packet(4, t.cid()))
        c2.expect(CONNACK)
        rc = b.stop(timeout=5)
        eq(rc, 0, "exit status after SIGTERM")
        c.close()
        c2.close()
    finally:
        b.stop()
        b.cleanup()


if __name__ == "__main__":
    sys.exit(main())
