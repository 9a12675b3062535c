#!/usr/bin/env python3
"""Writes the seed corpus for fuzz-decode: small valid packets of every type,
for MQTT 3.1, 3.1.1 and 5, plus a few near misses. Run from anywhere:
    python3 tests/fuzz/gen-corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text):
    data = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(data)) + data


def props(*items):
    body = b"".join(items)
    return varint(len(body)) + body


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def pkt(first, body):
    return bytes([first]) + varint(len(body)) + body


USER = b"\x26" + s("k") + s("v")

SEEDS = {
    "connect-v31": pkt(0x10, s("MQIsdp") + b"\x03\x02" + u16(60) + s("c31")),
    "connect-v311": pkt(0x10, s("MQTT") + b"\x04\xee" + u16(30) + s("cid")
                        + s("w/t") + s("bye") + s("user") + s(b"\x00pw")),
    "connect-v5": pkt(0x10, s("MQTT") + b"\x05\xce" + u16(30)
                      + props(b"\x11" + u32(60), b"\x21" + u16(10), b"\x27" + u32(4096),
                              b"\x22" + u16(5), b"\x15" + s("m"), b"\x16" + s("d"), USER)
                      + s("cid")
                      + props(b"\x18" + u32(5), b"\x01\x01", b"\x03" + s("text"),
                              b"\x08" + s("r/t"), b"\x09" + s(b"\x01"), USER)
                      + s("w/t") + s("bye") + s("user") + s("pw")),
    "connack-v311": pkt(0x20, b"\x01\x00"),
    "connack-v5": pkt(0x20, b"\x00\x00" + props(
        b"\x24\x01", b"\x25\x01", b"\x12" + s("auto"), b"\x13" + u16(20),
        b"\x28\x00", b"\x29\x01", b"\x2a\x01", b"\x1f" + s("hi"), USER)),
    "publish-v311-qos0": pkt(0x30, s("a/b") + b"payload"),
    "publish-v311-qos1": pkt(0x33, s("a/b") + u16(1) + b"x"),
    "publish-v5": pkt(0x3d, s("t") + u16(2) + props(
        USER, b"\x02" + u32(10), b"\x23" + u16(1), USER, b"\x0b\x05", b"\x0b\xff\x7f") + b"hi"),
    "publish-v5-alias": pkt(0x30, s("") + props(b"\x23" + u16(3)) + b"x"),
    "puback-v5": pkt(0x40, u16(1) + b"\x10" + props(b"\x1f" + s("r"))),
    "pubrec-short": pkt(0x50, u16(2)),
    "pubrel-v5": pkt(0x62, u16(3) + b"\x92"),
    "pubcomp": pkt(0x70, u16(4)),
    "subscribe-v311": pkt(0x82, u16(5) + s("a/+") + b"\x01" + s("#") + b"\x02"),
    "subscribe-v5": pkt(0x82, u16(6) + props(b"\x0b\x07", USER)
                        + s("$share/g/t") + b"\x2a" + s("x/#") + b"\x1d"),
    "suback-v5": pkt(0x90, u16(6) + props(b"\x1f" + s("ok")) + b"\x00\x01\x02\x80\x8f"),
    "unsubscribe": pkt(0xa2, u16(7) + s("a/+") + s("b")),
    "unsubscribe-v5": pkt(0xa2, u16(7) + props(USER) + s("a/+")),
    "unsuback-v5": pkt(0xb0, u16(7) + props() + b"\x00\x11"),
    "unsuback-v311": pkt(0xb0, u16(7)),
    "pingreq": pkt(0xc0, b""),
    "pingresp": pkt(0xd0, b""),
    "disconnect": pkt(0xe0, b""),
    "disconnect-v5": pkt(0xe0, b"\x8b" + props(b"\x11" + u32(0), b"\x1c" + s("srv"), USER)),
    "auth-v5": pkt(0xf0, b"\x18" + props(b"\x15" + s("SCRAM"), b"\x16" + s(b"\x00\x01"))),
    # Several packets in one stream, and near misses.
    "stream": pkt(0xc0, b"") + pkt(0x30, s("a") + b"1") + pkt(0xe0, b""),
    "bad-dup-subid": pkt(0x30, s("t") + props(b"\x0b\x01", b"\x0b\x00")),
    "bad-utf8-topic": pkt(0x30, s(b"\xed\xa0\x80")),
    "bad-varint": b"\x30\xff\xff\xff\xff\x01",
    "truncated": pkt(0x82, u16(1) + s("abc") + b"\x00")[:-2],
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
