#!/usr/bin/env python3
"""starlingd as a program: its config file, its flags, its exit codes and its
ready file.  Each case starts its own starlingd (the file's shared broker is
only the harness's liveness probe)."""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttwire import *  # noqa: E402,F401,F403


def run(args, timeout=10):
    """Runs starlingd to completion; returns (exit status, stdout, stderr)."""
    p = subprocess.run([Broker().exe] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, text=True)
    return p.returncode, p.stdout, p.stderr


def write(dirname, name, text):
    path = os.path.join(dirname, name)
    with open(path, "w") as f:
        f.write(text)
    return path


@case("a bad config line stops starlingd with the file, the line and the problem", versions=(5,))
def _(t):
    with tempfile.TemporaryDirectory() as d:
        conf = write(d, "starlingd.conf",
                     "# settings\n[starlingd]\nmqtt = nowhere\n")
        rc, _, err = run(["--config", conf, "--data-dir", d])
        eq(rc, 2, "exit status")
        check("%s:3: mqtt: “nowhere” is not ADDR:PORT" % conf in err,
              "stderr names file, line and problem: %r" % err)

        conf = write(d, "other.conf", "[limits]\nmax-packet-size = 12\n")
        rc, _, err = run(["--config=" + conf, "--data-dir", d])
        eq(rc, 2, "exit status")
        check("%s:2: max-packet-size: “12” is not a whole number" % conf in err,
              "stderr names file, line and problem: %r" % err)


@case("the config file's settings apply, and flags win over them", versions=(5,))
def _(t):
    with tempfile.TemporaryDirectory() as d:
        conf = write(d, "starlingd.conf",
                     "[starlingd]\nmqtts = off\nws = off\nwss = off\n"
                     "[limits]\nmax-packet-size = 2048\nreceive-maximum = 7\n")
        b = Broker()
        try:
            # the harness passes --mqtts/--ws/--wss 127.0.0.1:0: flags win
            b.start(["--config", conf, "--receive-maximum", "9"])
            c = Client(b, 5)
            c.send(connect_packet(5, "daemon-config"))
            a = c.expect(CONNACK)
            eq(a.props.get(P_MAXIMUM_PACKET_SIZE), 2048, "Maximum Packet Size from the file")
            eq(a.props.get(P_RECEIVE_MAXIMUM), 9, "Receive Maximum from the flag")
            eq(sorted(b.ports), ["api", "mqtt", "mqtts", "ws", "wss"], "listeners (flags over file)")
            c.close()
        finally:
            eq(b.stop(), 0, "exit status after SIGTERM")
            b.cleanup()


@case("an unknown flag or argument is refused with exit status 2", versions=(5,))
def _(t):
    rc, _, err = run(["--no-such-flag"])
    eq(rc, 2, "exit status")
    check("no-such-flag" in err and "starlingd --help" in err, "stderr: %r" % err)
    rc, _, err = run(["stray"])
    eq(rc, 2, "exit status")
    check("unexpected argument “stray”" in err, "stderr: %r" % err)
    rc, _, err = run(["--threads", "0"])
    eq(rc, 2, "exit status")
    check("threads: “0” is not a whole number" in err, "stderr: %r" % err)


@case("--version and --help", versions=(5,))
def _(t):
    rc, out, _ = run(["--version"])
    eq(rc, 0, "exit status")
    check(out.startswith("starlingd "), "--version output %r" % out)
    rc, out, _ = run(["--help"])
    eq(rc, 0, "exit status")
    for flag in ("--config", "--data-dir", "--mqtt", "--mqtts", "--ws", "--wss",
                 "--threads", "--public-host", "--dev", "--ready-file", "--log-level",
                 "--durability", "--max-packet-size"):
        check(flag in out, "--help lists %s" % flag)


@case("a listener address in use fails the start, naming the address", versions=(5,))
def _(t):
    host, port = t.broker.ports["mqtt"]
    with tempfile.TemporaryDirectory() as d:
        rc, _, err = run(["--dev", "--data-dir", d, "--mqtt", "%s:%d" % (host, port),
                          "--mqtts", "off", "--ws", "off", "--wss", "off"])
        eq(rc, 1, "exit status")
        check("%s:%d" % (host, port) in err, "stderr names the address: %r" % err)


@case("the ready file is written when listening and removed on SIGTERM", versions=(5,))
def _(t):
    b = Broker()
    try:
        b.start()
        ready = os.path.join(b.dir, "ready.json")
        check(os.path.exists(ready), "ready file exists while running")
        eq(b.info.get("pid"), b.proc.pid, "pid in the ready file")
        eq(b.info.get("ca_file"), b.ca, "CA file in the ready file")
        check(os.path.exists(b.ca), "the CA file exists")
        eq(b.stop(), 0, "exit status after SIGTERM")
        check(not os.path.exists(ready), "ready file removed after exit")
    finally:
        b.stop()
        b.cleanup()


if __name__ == "__main__":
    sys.exit(main())
