#!/usr/bin/env python3
"""Cloudflare's own CLI, unmodified, against starlingd.

Runs wrangler 4.61.1 (the last release with `wrangler pubsub`, installed by
`npm ci` in this folder from the committed lock file) for every
`wrangler pubsub namespace …` and `wrangler pubsub broker …` command, with
CLOUDFLARE_API_BASE_URL pointing at a starlingd of its own.  Each case checks
wrangler's exit status, parses what it printed (wrangler prints results with
Node's util.inspect, not JSON) and cross-checks the daemon's state through
the HTTP API; issued tokens are verified for real (Ed25519 signature against
the broker's public keys, then an MQTT 5 CONNECT).

What wrangler does, read from node_modules/wrangler/wrangler-dist/cli.js:
- the account comes from CLOUDFLARE_ACCOUNT_ID, else GET /memberships?page=1
  (cached in the nearest node_modules/.cache/wrangler, so wrangler runs in a
  temporary folder with no node_modules above it);
- the pubsub commands call only the account's pubsub routes: no
  /user/tokens/verify, no /user (those are `wrangler whoami`'s, with
  /accounts and /memberships);
- the only other network use is telemetry (off with WRANGLER_SEND_METRICS=
  false) and, for commands that print a banner (whoami, not pubsub), an
  update check against the npm registry (off with WRANGLER_HIDE_BANNER);
- `delete` asks for confirmation, and answers "yes" itself when CI is set or
  stdin is not a terminal.

Wrangler is slow to start: about 1.5–2 s of Node start-up (it loads a
12 MB bundle) per command, whatever the daemon does, so the ~40 commands
here take a minute and a half on an idle machine, run one at a time; the
cases run two at a time to cut that.  Error paths are
sampled, not exhaustive, for that reason (tests/api checks every code).

Output is TAP, one line per case.  Without node_modules the run fails (it
does not skip): run `npm ci` in tests/wrangler.
"""

import base64
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
WRANGLER = os.path.join(HERE, "node_modules", ".bin", "wrangler")
WRANGLER_TIMEOUT = 90          # one command; normally ~2 s
READY_TIMEOUT = 30             # sanitizer builds start slowly
WORKERS = 2                    # cases at once (see main)


# ---- util.inspect output ---------------------------------------------------

class InspectError(Exception):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<punct>[{}\[\]:,])
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`)
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_$][\w$]*)
  | (?P<other>.)
""", re.X | re.S)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _unescape(body):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif e == "u":
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(e, e))
            i += 2
    return "".join(out)


CUT = "[cut by util.inspect]"


def parse_inspect(text):
    """The first object or array that Node's util.inspect printed in text
    (console.log of a value), as Python data."""
    start = re.search(r"^[ \t]*[\[{]", text, re.M)
    if start is None:
        raise InspectError("no object or array in wrangler's output:\n" + text)
    tokens = []
    for m in _TOKEN.finditer(text, start.start()):
        kind = m.lastgroup
        if kind == "ws":
            continue
        if kind == "other":
            break
        tokens.append((kind, m.group()))
    pos = 0

    def take():
        nonlocal pos
        if pos >= len(tokens):
            raise InspectError("output ends inside a value:\n" + text)
        pos += 1
        return tokens[pos - 1]

    def value():
        nonlocal pos
        kind, tok = take()
        if tok == "{":
            obj = {}
            while True:
                kind, tok = take()
                if tok == "}":
                    return obj
                if kind == "str":
                    key = _unescape(tok[1:-1])
                elif kind in ("word", "num"):
                    key = tok
                else:
                    raise InspectError("unexpected %r in an object:\n%s" % (tok, text))
                if take()[1] != ":":
                    raise InspectError("no ':' after key %r:\n%s" % (key, text))
                obj[key] = value()
                kind, tok = take()
                if tok == "}":
                    return obj
                if tok != ",":
                    raise InspectError("unexpected %r after a member:\n%s" % (tok, text))
        if tok == "[":
            if (pos + 1 < len(tokens) and tokens[pos][1] in ("Object", "Array")
                    and tokens[pos + 1][1] == "]"):
                # Deeper than util.inspect's depth 2: printed as [Object].
                pos += 2
                return CUT
            arr = []
            while True:
                kind, tok = tokens[pos] if pos < len(tokens) else (None, None)
                if tok == "]":
                    take()
                    return arr
                arr.append(value())
                kind, tok = take()
                if tok == "]":
                    return arr
                if tok != ",":
                    raise InspectError("unexpected %r in an array:\n%s" % (tok, text))
        if kind == "str":
            return _unescape(tok[1:-1])
        if kind == "num":
            return float(tok) if any(c in tok for c in ".eE") else int(tok)
        if tok in ("null", "undefined"):
            return None
        if tok in ("true", "false"):
            return tok == "true"
        # "... more items": the value was cut.
        raise InspectError("cannot read %r (value cut by util.inspect?):\n%s" % (tok, text))

    return value()


# ---- JWT, JWK -------------------------------------------------------------

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def jwk_thumbprint(jwk):
    """RFC 7638 thumbprint of an OKP key."""
    canon = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]},
                       separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=").decode()


# Python's standard library has no Ed25519; Node (which wrangler needs
# anyway) verifies the signatures with the keys wrangler printed.
_VERIFY_JS = r"""
const crypto = require('crypto');
const { keys, tokens } = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = tokens.map((t) => {
  const [h, p, s] = t.split('.');
  const kid = JSON.parse(Buffer.from(h, 'base64url')).kid;
  const jwk = keys.find((k) => k.kid === kid);
  if (!jwk) return 'unknown kid ' + kid;
  const key = crypto.createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' });
  return crypto.verify(null, Buffer.from(h + '.' + p), key, Buffer.from(s, 'base64url')) ? 'ok' : 'bad signature';
});
console.log(JSON.stringify(out));
"""


def verify_signatures(keys, tokens):
    p = subprocess.run(["node", "-e", _VERIFY_JS], input=json.dumps({"keys": keys, "tokens": tokens}),
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("node could not verify the tokens: " + p.stderr)
    return json.loads(p.stdout)


# ---- MQTT -----------------------------------------------------------------

def _mstr(b):
    return struct.pack("!H", len(b)) + b


def _varint(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def mqtt_connack(port, client_id, token):
    """CONNECT (MQTT 5, password = token) to the plain listener, where the
    token's kid picks the broker; returns the CONNACK reason code."""
    body = (_mstr(b"MQTT") + bytes([5, 0x80 | 0x40 | 0x02]) + struct.pack("!H", 30) + b"\x00"
            + _mstr(client_id.encode()) + _mstr(b"wrangler-test") + _mstr(token.encode()))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x10" + _varint(len(body)) + body)
        first = _recv_exact(sock, 1)[0]
        if first != 0x20:
            raise AssertionError("expected CONNACK, got packet type 0x%02x" % first)
        length, shift = 0, 0
        while True:
            b = _recv_exact(sock, 1)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        connack = _recv_exact(sock, length)
        if connack[1] == 0:
            sock.sendall(b"\xe0\x00")
        return connack[1]


# ---- the daemon ------------------------------------------------------------

class Daemon:
    def __init__(self):
        self.exe = os.environ.get("STARLINGD")
        if not self.exe:
            build = os.environ.get("STARLING_BUILDDIR", os.path.join(HERE, "..", "..", "_build"))
            self.exe = os.path.join(build, "broker", "daemon", "starlingd")
        self.dir = tempfile.mkdtemp(prefix="starling-wrangler-")
        self.data = os.path.join(self.dir, "data")
        self.proc = None

    def start(self):
        ready = os.path.join(self.dir, "ready.json")
        self.log = open(os.path.join(self.dir, "starlingd.log"), "wb")
        self.proc = subprocess.Popen(
            [self.exe, "--data-dir", self.data, "--mqtt", "127.0.0.1:0", "--mqtts", "127.0.0.1:0",
             "--ws", "off", "--wss", "off", "--api", "127.0.0.1:0", "--threads", "1",
             "--ready-file", ready, "--log-level", "info"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("starlingd exited with %s before it was ready:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            try:
                with open(ready) as f:
                    info = json.load(f)
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        else:
            raise AssertionError("starlingd wrote no ready file in %d s:\n%s" % (READY_TIMEOUT, self.log_text()))
        self.ports = {name: l["port"] for name, l in info["listeners"].items()}
        self.base = "http://127.0.0.1:%d/client/v4" % self.ports["api"]
        with open(os.path.join(self.data, "admin-token")) as f:
            self.token = f.read().strip()
        status, env = self.api("GET", "/memberships")
        assert status == 200, env
        self.account = env["result"][0]["account"]["id"]

    def api(self, method, path, body=None, token=None):
        """(HTTP status, envelope) of one control API call."""
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + (token or self.token),
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def pubsub(self, path):
        return "/accounts/%s/pubsub/namespaces%s" % (self.account, path)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "starlingd.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "hung after SIGTERM"
        elif self.proc is not None:
            rc = self.proc.returncode
        if self.proc is not None:
            self.log.close()
        return rc

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- the cases -------------------------------------------------------------

class Wrangler(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()
        cls.daemon.start()
        cls.cwd = os.path.join(cls.daemon.dir, "work")
        os.makedirs(cls.cwd)

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop()
        log = cls.daemon.log_text()
        cls.daemon.cleanup()
        if rc != 0:
            raise AssertionError("starlingd exit status %r after SIGTERM:\n%s" % (rc, log))

    def wrangler(self, *args, ok=True, account=True, token=None):
        """Runs `wrangler ARGS…`; returns (exit status, stdout, stderr) and,
        with ok, asserts it succeeded."""
        d = self.daemon
        # A home of its own per command: wrangler writes its config and logs
        # there, and cases run side by side.
        home = tempfile.mkdtemp(prefix="home-", dir=d.dir)
        # A clean environment: nothing from the caller's own Cloudflare set-up.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "LANG": "C.UTF-8",
            "CI": "1",                        # no prompts: delete confirms itself
            "WRANGLER_SEND_METRICS": "false",  # no telemetry to Cloudflare
            "WRANGLER_SEND_ERROR_REPORTS": "false",
            "FORCE_COLOR": "0",
            # whoami prints a banner, and the banner checks npm for a newer
            # wrangler (the only non-API request left); pubsub commands don't.
            "WRANGLER_HIDE_BANNER": "true",
            "CLOUDFLARE_API_BASE_URL": d.base,
            "CLOUDFLARE_API_TOKEN": token or d.token,
        }
        if account:
            env["CLOUDFLARE_ACCOUNT_ID"] = d.account
        p = subprocess.run([WRANGLER] + list(args), cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=WRANGLER_TIMEOUT)
        if ok:
            self.assertEqual(p.returncode, 0, "wrangler %s failed:\nstdout:\n%s\nstderr:\n%s\ndaemon log:\n%s"
                             % (" ".join(args), p.stdout, p.stderr, d.log_text()))
        return p.returncode, p.stdout, p.stderr

    def shown(self, *args, **kw):
        """What `wrangler ARGS…` printed as a value, parsed."""
        _, out, _ = self.wrangler(*args, **kw)
        return parse_inspect(out)

    def api_ok(self, method, path, body=None):
        status, env = self.daemon.api(method, path, body)
        self.assertEqual(status, 200, "%s %s: %r" % (method, path, env))
        self.assertTrue(env["success"])
        return env["result"]

    @staticmethod
    def view(broker):
        """A broker as compared here: on_publish reduced to its url, since
        the daemon adds hook settings and live counters beside it (and
        util.inspect cuts those deeper than two levels in a list)."""
        if isinstance(broker, list):
            return {b["name"]: Wrangler.view(b) for b in broker}
        b = dict(broker)
        if b.get("on_publish") is not None:
            b["on_publish"] = {"url": b["on_publish"]["url"]}
        return b

    def namespace(self, name):
        self.api_ok("POST", self.daemon.pubsub(""), {"name": name})

    def broker(self, ns, name, **fields):
        return self.api_ok("POST", self.daemon.pubsub("/%s/brokers" % ns), dict(name=name, **fields))

    # -- namespaces --

    def test_namespace_create_list_describe_delete(self):
        d = self.daemon
        _, out, _ = self.wrangler("pubsub", "namespace", "create", "garden", "--description", "Sensors 'outside'")
        self.assertIn("Success! Created Pub/Sub Namespace garden", out)
        self.wrangler("pubsub", "namespace", "create", "Shed")      # names are case-folded
        api = {n["name"]: n for n in self.api_ok("GET", d.pubsub(""))}
        self.assertEqual(api["garden"]["description"], "Sensors 'outside'")
        self.assertEqual(api["shed"]["description"], "")

        listed = {n["name"]: n for n in self.shown("pubsub", "namespace", "list")}
        self.assertEqual(listed["garden"], api["garden"])
        self.assertEqual(listed["shed"], api["shed"])
        self.assertRegex(listed["garden"]["id"], r"^[0-9a-f]{32}$")
        self.assertRegex(listed["garden"]["created_on"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

        self.assertEqual(self.shown("pubsub", "namespace", "describe", "garden"), api["garden"])
        self.assertEqual(self.shown("pubsub", "namespace", "describe", "SHED"), api["shed"])

        _, out, _ = self.wrangler("pubsub", "namespace", "delete", "shed")
        self.assertIn("Deleted namespace shed.", out)
        status, env = d.api("GET", d.pubsub("/shed"))
        self.assertEqual((status, env["errors"][0]["code"]), (404, 10200))
        self.assertNotIn("shed", [n["name"] for n in self.shown("pubsub", "namespace", "list")])

        # Failures exit non-zero and show the API's message and code (one
        # of each kind here; tests/api checks every error code).
        rc, out, err = self.wrangler("pubsub", "namespace", "describe", "shed", ok=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("no namespace named", err)
        self.assertIn("[code: 10200]", err)

    def test_account_from_memberships(self):
        # Without CLOUDFLARE_ACCOUNT_ID wrangler asks GET /memberships.
        self.namespace("lookup")
        names = [n["name"] for n in self.shown("pubsub", "namespace", "list", account=False)]
        self.assertIn("lookup", names)
        self.wrangler("pubsub", "broker", "create", "b", "--ns", "lookup", account=False)
        self.assertEqual(self.api_ok("GET", self.daemon.pubsub("/lookup/brokers/b"))["name"], "b")

    def test_whoami(self):
        # Not a pubsub command, but the first thing to try: it calls
        # /user/tokens/verify, /user (no user here: 9109, read as "no
        # email"), /accounts and, with --account, /memberships.
        _, out, _ = self.wrangler("whoami", "--account", "Starling", account=False)
        self.assertIn("You are logged in with an User API Token", out)
        self.assertRegex(out, r"│ Starling +│ %s │" % self.daemon.account)
        self.assertIn('Membership roles in "Starling"', out)
        self.assertIn("- Administrator", out)

    def test_bad_and_read_only_tokens(self):
        d = self.daemon
        rc, _, err = self.wrangler("pubsub", "namespace", "list", ok=False, token="not-a-token")
        self.assertNotEqual(rc, 0)
        self.assertIn("[code: 10000]", err)
        # A read-scoped token (made offline, beside the running daemon) may
        # list but not create.
        p = subprocess.run([d.exe, "token", "create", "--scope", "read", "--name", "wrangler-read",
                            "--data-dir", d.data], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        read = p.stdout.strip().splitlines()[-1].strip()
        self.namespace("readable")
        names = [n["name"] for n in self.shown("pubsub", "namespace", "list", token=read)]
        self.assertIn("readable", names)
        rc, _, err = self.wrangler("pubsub", "namespace", "create", "unwritable", ok=False, token=read)
        self.assertNotEqual(rc, 0)
        self.assertIn("[code: 10001]", err)
        status, _ = d.api("GET", d.pubsub("/unwritable"))
        self.assertEqual(status, 404)

    # -- brokers --

    def test_broker_create_list_describe(self):
        d = self.daemon
        self.namespace("home")
        shown = self.shown("pubsub", "broker", "create", "sensors", "--namespace", "home",
                           "--description", "Sensor fleet", "--expiration", "48h",
                           "--on-publish-url", "https://hooks.example.org/publish")
        api = self.api_ok("GET", d.pubsub("/home/brokers/sensors"))
        self.assertEqual(self.view(shown), self.view(api))
        self.assertEqual(api["description"], "Sensor fleet")
        self.assertEqual(api["expiration"], 48 * 3600)
        self.assertEqual(api["on_publish"]["url"], "https://hooks.example.org/publish")
        self.assertEqual(api["authType"], "TOKEN")
        self.assertEqual(api["endpoint"], "mqtts://sensors.home.localhost:%d" % d.ports["mqtts"])

        # The --ns alias, no options: no description, no expiration, no hook.
        plain = self.shown("pubsub", "broker", "create", "Plain", "--ns", "home")
        self.assertEqual(plain["name"], "plain")
        self.assertEqual(plain["description"], "")
        self.assertIsNone(plain["expiration"])
        self.assertIsNone(plain["on_publish"])
        self.assertEqual(plain, self.api_ok("GET", d.pubsub("/home/brokers/plain")))

        # wrangler's own units: its "1y" is 365 weeks, 220752000 s.
        year = self.shown("pubsub", "broker", "create", "yearly", "--ns", "home", "--expiration", "1y")
        self.assertEqual(year["expiration"], 220752000)

        listed = self.shown("pubsub", "broker", "list", "--ns", "home")
        self.assertEqual(sorted(b["name"] for b in listed), ["plain", "sensors", "yearly"])
        self.assertEqual(self.view(listed), self.view(self.api_ok("GET", d.pubsub("/home/brokers"))))
        self.assertEqual(self.view(listed)["sensors"]["on_publish"], {"url": "https://hooks.example.org/publish"})

        self.assertEqual(self.view(self.shown("pubsub", "broker", "describe", "sensors", "--ns", "home")),
                         self.view(api))

        rc, _, err = self.wrangler("pubsub", "broker", "describe", "nobody", "--ns", "home", ok=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("[code: 10201]", err)

    def test_broker_update(self):
        d = self.daemon
        self.namespace("upd")
        before = self.broker("upd", "b", description="first", expiration=3600)
        _, out, _ = self.wrangler("pubsub", "broker", "update", "b", "--ns", "upd",
                                  "--description", "second", "--expiration", "2d",
                                  "--on-publish-url", "http://127.0.0.1:9/hook")
        self.assertIn("Successfully updated Pub/Sub Broker b", out)
        shown = parse_inspect(out)
        api = self.api_ok("GET", d.pubsub("/upd/brokers/b"))
        self.assertEqual(self.view(shown), self.view(api))
        self.assertEqual(api["description"], "second")
        self.assertEqual(api["expiration"], 2 * 86400)
        self.assertEqual(api["on_publish"]["url"], "http://127.0.0.1:9/hook")
        self.assertEqual(api["created_on"], before["created_on"])
        self.assertGreater(api["modified_on"], before["modified_on"])

        # Only what was given changes.
        shown = self.shown("pubsub", "broker", "update", "b", "--ns", "upd", "--description", "third")
        self.assertEqual(shown["description"], "third")
        self.assertEqual(shown["expiration"], 2 * 86400)
        self.assertEqual(shown["on_publish"]["url"], "http://127.0.0.1:9/hook")
        self.assertEqual(self.view(shown), self.view(self.api_ok("GET", d.pubsub("/upd/brokers/b"))))

    def test_broker_delete(self):
        d = self.daemon
        self.namespace("del")
        self.broker("del", "keep")
        self.broker("del", "gone")
        _, out, _ = self.wrangler("pubsub", "broker", "delete", "gone", "--ns", "del")
        self.assertIn("Deleted Pub/Sub Broker gone.", out)
        status, env = d.api("GET", d.pubsub("/del/brokers/gone"))
        self.assertEqual((status, env["errors"][0]["code"]), (404, 10201))
        self.assertEqual([b["name"] for b in self.shown("pubsub", "broker", "list", "--ns", "del")], ["keep"])

    # -- credentials --

    def check_tokens(self, ns, broker, issued, lifetime):
        """Each issued token: EdDSA with a kid the broker publishes, signed
        by that key, claims as asked; and the broker accepts it over MQTT."""
        keys = self.api_ok("GET", self.daemon.pubsub("/%s/brokers/%s/publickeys" % (ns, broker)))["keys"]
        kids = {k["kid"] for k in keys}
        now = time.time()
        jtis = {}
        for client_id, token in issued.items():
            header, claims = jwt_parts(token)
            self.assertEqual(header["alg"], "EdDSA")
            self.assertIn(header["kid"], kids)
            self.assertEqual(claims["sub"], client_id)
            self.assertRegex(claims["jti"], r"^[0-9A-HJKMNP-TV-Z]{26}$")
            self.assertLessEqual(abs(claims["iat"] - now), 120)
            if lifetime is None:
                self.assertNotIn("exp", claims)
            else:
                self.assertEqual(claims["exp"] - claims["iat"], lifetime)
            jtis[client_id] = claims["jti"]
        self.assertEqual(verify_signatures(keys, list(issued.values())), ["ok"] * len(issued))
        for client_id, token in issued.items():
            self.assertEqual(mqtt_connack(self.daemon.ports["mqtt"], client_id, token), 0,
                             "CONNACK for %s" % client_id)
        return jtis

    def test_issue(self):
        d = self.daemon
        self.namespace("creds")
        self.broker("creds", "b")
        self.broker("creds", "short", expiration=3600)

        _, out, _ = self.wrangler("pubsub", "broker", "issue", "b", "--ns", "creds")
        self.assertIn("Issuing credential(s) for b.creds", out)
        one = parse_inspect(out)
        self.assertEqual(len(one), 1)
        self.assertRegex(next(iter(one)), r"^[0-9A-HJKMNP-TV-Z]{26}$")   # a fresh ULID client id
        self.check_tokens("creds", "b", one, None)

        three = self.shown("pubsub", "broker", "issue", "b", "--ns", "creds", "-n", "3", "--type", "TOKEN")
        self.assertEqual(len(three), 3)
        self.check_tokens("creds", "b", three, None)

        # --client-id repeated, with --expiration: one token each.
        named = self.shown("pubsub", "broker", "issue", "b", "--ns", "creds",
                           "--client-id", "alpha", "--client-id", "beta", "--expiration", "1h")
        self.assertEqual(sorted(named), ["alpha", "beta"])
        jtis = self.check_tokens("creds", "b", named, 3600)
        self.assertNotEqual(jtis["alpha"], jtis["beta"])
        # wrangler's aliases: --exp for --expiration, --jti (!) for --client-id, --number for -n.
        aliased = self.shown("pubsub", "broker", "issue", "b", "--ns", "creds",
                             "--jti", "gamma", "--exp", "90m", "--number", "1")
        self.assertEqual(list(aliased), ["gamma"])
        self.check_tokens("creds", "b", aliased, 5400)
        # wrangler's "10y" is 2207520000 s: past 2^31, still accepted.
        long = self.shown("pubsub", "broker", "issue", "b", "--ns", "creds", "--expiration", "10y")
        self.check_tokens("creds", "b", long, 2207520000)

        # The broker's expiration and the credential's: the shorter wins.
        # (Spelled as Cloudflare's getting-started guide does.)
        capped = self.shown("pubsub", "broker", "issue", "short", "--namespace=creds", "--number=2",
                            "--expiration=48h")
        self.assertEqual(len(capped), 2)
        self.check_tokens("creds", "short", capped, 3600)
        shorter = self.shown("pubsub", "broker", "issue", "short", "--ns", "creds", "--expiration", "60s")
        self.check_tokens("creds", "short", shorter, 60)

        # The daemon recorded each issue (metadata only).
        issued = self.api_ok("GET", "/accounts/%s/starling/namespaces/creds/brokers/b/credentials" % d.account)
        self.assertEqual({c["clientId"] for c in issued},
                         set(one) | set(three) | {"alpha", "beta", "gamma"} | set(long))

        rc, _, err = self.wrangler("pubsub", "broker", "issue", "b", "--ns", "creds", "-n", "101", ok=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("[code: 10104]", err)

    def test_revoke_unrevoke_show_revocations(self):
        d = self.daemon
        port = d.ports["mqtt"]
        self.namespace("rev")
        self.broker("rev", "b")
        issued = self.shown("pubsub", "broker", "issue", "b", "--ns", "rev",
                            "--client-id", "one", "--client-id", "two", "--client-id", "three")
        jtis = self.check_tokens("rev", "b", issued, None)

        _, out, _ = self.wrangler("pubsub", "broker", "show-revocations", "b", "--ns", "rev")
        self.assertEqual(parse_inspect(out), [])

        _, out, _ = self.wrangler("pubsub", "broker", "revoke", "b", "--namespace=rev",
                                  "--jti=" + jtis["one"], "--jti", jtis["two"])
        self.assertIn("Revoking access to b for 2 credential(s)", out)
        self.assertIn("Revoked 2 credential(s).", out)
        self.assertEqual(sorted(self.api_ok("GET", d.pubsub("/rev/brokers/b/revocations"))),
                         sorted([jtis["one"], jtis["two"]]))
        _, out, _ = self.wrangler("pubsub", "broker", "show-revocations", "b", "--ns", "rev")
        self.assertIn("Listing previously revoked tokens for b", out)
        self.assertEqual(sorted(parse_inspect(out)), sorted([jtis["one"], jtis["two"]]))
        # Revoked: MQTT 5 CONNACK 0x87 (not authorized); the third still gets in.
        self.assertEqual(mqtt_connack(port, "one", issued["one"]), 0x87)
        self.assertEqual(mqtt_connack(port, "two", issued["two"]), 0x87)
        self.assertEqual(mqtt_connack(port, "three", issued["three"]), 0)

        _, out, _ = self.wrangler("pubsub", "broker", "unrevoke", "b", "--ns", "rev", "--jti", jtis["one"])
        self.assertIn("Unrevoked 1 credential(s)", out)
        self.assertEqual(self.shown("pubsub", "broker", "show-revocations", "b", "--ns", "rev"), [jtis["two"]])
        self.assertEqual(self.api_ok("GET", d.pubsub("/rev/brokers/b/revocations")), [jtis["two"]])
        self.assertEqual(mqtt_connack(port, "one", issued["one"]), 0)
        self.assertEqual(mqtt_connack(port, "two", issued["two"]), 0x87)

    def test_public_keys(self):
        d = self.daemon
        self.namespace("keys")
        self.broker("keys", "b")
        shown = self.shown("pubsub", "broker", "public-keys", "b", "--ns", "keys")
        api = self.api_ok("GET", d.pubsub("/keys/brokers/b/publickeys"))
        self.assertEqual(shown, api)
        self.assertEqual(len(shown["keys"]), 1)
        jwk = shown["keys"][0]
        self.assertEqual((jwk["kty"], jwk["crv"]), ("OKP", "Ed25519"))
        self.assertNotIn("d", jwk)
        self.assertEqual(jwk["kid"], jwk_thumbprint(jwk))

        # After a rotation (beyond Cloudflare) both keys show, and the new
        # one signs what wrangler issues.
        new = self.api_ok("POST", d.pubsub("/keys/brokers/b/keys/rotate"))
        shown = self.shown("pubsub", "broker", "public-keys", "b", "--ns", "keys")
        self.assertEqual({k["kid"] for k in shown["keys"]}, {jwk["kid"], new["kid"]})
        issued = self.shown("pubsub", "broker", "issue", "b", "--ns", "keys")
        self.assertEqual(jwt_parts(next(iter(issued.values())))[0]["kid"], new["kid"])
        self.check_tokens("keys", "b", issued, None)


# ---- TAP, cases two at a time ----------------------------------------------

class TapResult(unittest.TestResult):
    """Prints one TAP line per case as it ends; cases run on several threads."""

    def __init__(self):
        super().__init__()
        self.n = 0
        self.lock = threading.Lock()

    def _line(self, test, ok, detail=None):
        name = test.id().split(".")[-1] if isinstance(test, unittest.TestCase) else str(test)
        with self.lock:
            self.n += 1
            print("%s %d - %s" % ("ok" if ok else "not ok", self.n, name), flush=True)
            for line in (detail or "").rstrip().splitlines():
                print("# " + line, flush=True)

    def addSuccess(self, test):
        with self.lock:
            super().addSuccess(test)
        self._line(test, True)

    def addFailure(self, test, err):
        with self.lock:
            super().addFailure(test, err)
            detail = self.failures[-1][1]
        self._line(test, False, detail)

    def addError(self, test, err):
        with self.lock:
            super().addError(test, err)
            detail = self.errors[-1][1]
        self._line(test, False, detail)


def main():
    if not os.access(WRANGLER, os.X_OK):
        # Fail, don't skip: a missing install must not look like a pass.
        print("1..1")
        print("not ok 1 - wrangler is installed")
        print("# %s is missing: run `npm ci` in tests/wrangler "
              "(it installs wrangler 4.61.1 from the lock file)" % WRANGLER)
        return 1
    tests = list(unittest.defaultTestLoader.loadTestsFromTestCase(Wrangler))
    print("1..%d" % len(tests), flush=True)
    result = TapResult()
    started = time.monotonic()
    try:
        Wrangler.setUpClass()
    except Exception as e:
        print("Bail out! cannot start starlingd: %s" % e, flush=True)
        return 1
    # Each case has its own namespaces, so they may share the daemon and run
    # side by side: wrangler's start-up is CPU time, and two at once nearly
    # halve the wall time on two cores.
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda t: t.run(result), tests))
    try:
        Wrangler.tearDownClass()
    except Exception as e:
        result.addError(unittest.FunctionTestCase(lambda: None, description="starlingd stops cleanly"),
                        (type(e), e, e.__traceback__))
    print("# %.1f s" % (time.monotonic() - started))
    return 0 if result.wasSuccessful() and result.n == len(tests) else 1


if __name__ == "__main__":
    sys.exit(main())
