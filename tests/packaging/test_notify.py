#!/usr/bin/env python3
"""starlingd speaks systemd's readiness protocol (sd_notify) by itself.

The test plays systemd's part: it listens on an AF_UNIX datagram socket,
starts starlingd with NOTIFY_SOCKET pointing at it, and checks that
- READY=1 arrives only once every listener accepts connections (the moment
  it arrives, each listener in the ready file takes a TCP connection and
  the MQTT one answers CONNECT with CONNACK), with a STATUS= naming them;
- SIGHUP brings RELOADING=1 (with MONOTONIC_USEC=) and then READY=1;
- SIGTERM brings STOPPING=1, and starlingd exits 0;
for a filesystem socket and for an abstract ('@') one.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

STARLINGD = os.environ.get("STARLINGD") or os.path.join(
    os.environ.get("STARLING_BUILDDIR", "."), "broker", "daemon", "starlingd")
TIMEOUT = 60.0


def parse(datagram):
    """'A=1\\nB=x' -> {'A': '1', 'B': 'x'}"""
    out = {}
    for line in datagram.decode().split("\n"):
        if line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


def mqtt_connect_v5():
    # CONNECT, protocol "MQTT" level 5, clean start, keep alive 10, no
    # properties, an empty client id (the server assigns one).
    body = b"\x00\x04MQTT\x05\x02\x00\x0a\x00" + b"\x00\x00"
    return bytes([0x10, len(body)]) + body


class Notify(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="starling-notify-")
        self.proc = None
        self.log = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        if self.log:
            self.log.close()
        self.tmp.cleanup()

    def listen(self, abstract):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        if abstract:
            name = "starling-notify-test-%d-%d" % (os.getpid(), time.monotonic_ns())
            sock.bind("\0" + name)
            return sock, "@" + name
        path = os.path.join(self.tmp.name, "notify.sock")
        sock.bind(path)
        return sock, path

    def start(self, notify_socket, extra_env=None):
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = notify_socket
        env.update(extra_env or {})
        self.ready_file = os.path.join(self.tmp.name, "ready.json")
        self.log = open(os.path.join(self.tmp.name, "starlingd.log"), "w+")
        args = [STARLINGD, "--dev", "--data-dir", os.path.join(self.tmp.name, "data"),
                "--ready-file", self.ready_file, "--threads", "2"]
        for listener in ("mqtt", "mqtts", "ws", "wss", "api"):
            args += ["--" + listener, "127.0.0.1:0"]
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def receive(self, sock, what):
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("no %s from starlingd within %.0f s; its log:\n%s" % (what, TIMEOUT, self.logtext()))
            sock.settimeout(left)
            try:
                return parse(sock.recv(4096))
            except socket.timeout:
                continue

    def logtext(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def check_listeners_accept(self):
        with open(self.ready_file) as f:
            ready = json.load(f)
        listeners = ready["listeners"]
        self.assertEqual(set(listeners), {"mqtt", "mqtts", "ws", "wss", "api"})
        for name, addr in listeners.items():
            with socket.create_connection((addr["host"], addr["port"]), timeout=5):
                pass
        mqtt = listeners["mqtt"]
        with socket.create_connection((mqtt["host"], mqtt["port"]), timeout=5) as conn:
            conn.sendall(mqtt_connect_v5())
            conn.settimeout(5)
            first = conn.recv(2)
            self.assertEqual(first[0], 0x20, "CONNACK expected right after READY=1")
        return listeners

    def run_protocol(self, abstract):
        sock, address = self.listen(abstract)
        self.start(address)

        ready = self.receive(sock, "READY=1")
        self.assertEqual(ready.get("READY"), "1", ready)
        # Checked at once: READY=1 must not come before the sockets listen.
        listeners = self.check_listeners_accept()
        status = ready.get("STATUS", "")
        for name, addr in listeners.items():
            self.assertIn("%s %s:%d" % (name, addr["host"], addr["port"]), status)

        self.proc.send_signal(signal.SIGHUP)
        reloading = self.receive(sock, "RELOADING=1")
        self.assertEqual(reloading.get("RELOADING"), "1", reloading)
        usec = int(reloading.get("MONOTONIC_USEC", "0"))
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.assertTrue(0 < usec <= now, "MONOTONIC_USEC=%d is not a past CLOCK_MONOTONIC time (now %d)" % (usec, now))
        again = self.receive(sock, "READY=1 after the reload")
        self.assertEqual(again.get("READY"), "1", again)
        self.check_listeners_accept()

        self.proc.send_signal(signal.SIGTERM)
        stopping = self.receive(sock, "STOPPING=1")
        self.assertEqual(stopping.get("STOPPING"), "1", stopping)
        self.assertEqual(self.proc.wait(timeout=TIMEOUT), 0, self.logtext())

    def test_path_socket(self):
        self.run_protocol(abstract=False)

    def test_abstract_socket(self):
        self.run_protocol(abstract=True)

    def test_stop_right_after_ready(self):
        # systemd may stop a service the moment it is ready: the signal
        # handlers must be in place before READY=1 (else SIGTERM kills).
        for signum in (signal.SIGTERM, signal.SIGHUP):
            sock, address = self.listen(abstract=True)
            self.start(address)
            self.receive(sock, "READY=1")
            self.proc.send_signal(signum)
            if signum == signal.SIGHUP:
                self.assertEqual(self.receive(sock, "RELOADING=1").get("RELOADING"), "1")
                self.proc.send_signal(signal.SIGTERM)
            self.assertEqual(self.proc.wait(timeout=TIMEOUT), 0, self.logtext())
            self.log.close()
            self.log = None

    def test_nothing_sent_before_listening_fails(self):
        # A listener that cannot bind: starlingd must exit with an error
        # and never claim READY=1.
        sock, address = self.listen(abstract=False)
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        env = dict(os.environ, NOTIFY_SOCKET=address)
        self.log = open(os.path.join(self.tmp.name, "starlingd.log"), "w+")
        self.proc = subprocess.Popen(
            [STARLINGD, "--dev", "--data-dir", os.path.join(self.tmp.name, "data"),
             "--mqtt", "127.0.0.1:%d" % port, "--mqtts", "off", "--ws", "off", "--wss", "off",
             "--api", "off"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.assertNotEqual(self.proc.wait(timeout=TIMEOUT), 0, self.logtext())
        sock.settimeout(0.2)
        got = []
        try:
            while True:
                got.append(parse(sock.recv(4096)))
        except socket.timeout:
            pass
        self.assertFalse(any(m.get("READY") == "1" for m in got), got)

    def test_runs_without_notify_socket(self):
        # Outside systemd (no NOTIFY_SOCKET, or one that is not a path) the
        # daemon starts and stops as usual.
        self.start("vsock:2:1234")
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(self.ready_file):
            self.assertIsNone(self.proc.poll(), self.logtext())
            self.assertLess(time.monotonic(), deadline, "no ready file")
            time.sleep(0.05)
        self.check_listeners_accept()
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=TIMEOUT), 0, self.logtext())


if __name__ == "__main__":
    unittest.main(verbosity=2)
