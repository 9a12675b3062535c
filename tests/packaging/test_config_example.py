#!/usr/bin/env python3
"""data/starlingd.conf documents every setting starlingd has, with its default.

Usage: test_config_example.py STARLINGD EXAMPLE ST_CONFIG_C

The keys come from starlingd's key table (broker/st-config.c, which also
makes the flags: each must be in --help). The example must have each key
once, commented out as "#key = value" under its own [group], and no other
key. starlingd has no separate check mode; it reads --config before
anything else and stops with exit status 2 on any bad line, so
`starlingd --config FILE --version` is a parse-only check (the negative
cases below prove it rejects). Checked that way: the example as shipped,
and the example with every key uncommented. Where --help names a default,
"(default X)", the example's value is X. Finally starlingd really runs on
the uncommented example (all but tls-cert/tls-key, whose example paths do
not exist here), with ephemeral listeners and a temporary data directory
given as flags, which win over the file.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

KEY_LINE = re.compile(r"^#([a-z][a-z0-9-]*) = (.*)$")


def key_table(path):
    with open(path) as f:
        text = f.read()
    table = re.findall(r'\{\s*"(starlingd|limits)",\s*"([a-z0-9-]+)",', text)
    return table


def example_keys(path):
    """[(group, key, value)] of the commented-out settings, and the groups."""
    out, groups, group = [], [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("["):
                group = line.strip("[]")
                groups.append(group)
                continue
            m = KEY_LINE.match(line)
            if m:
                out.append((group, m.group(1), m.group(2)))
            elif line and not line.startswith("#"):
                raise AssertionError("%s: a setting that is not commented out: %r" % (path, line))
    return out, groups


def uncomment(path, dest, skip=()):
    with open(path) as f, open(dest, "w") as out:
        for line in f:
            m = KEY_LINE.match(line.rstrip("\n"))
            if m and m.group(1) not in skip:
                line = line[1:]
            out.write(line)


class ConfigExample(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.table = key_table(ST_CONFIG_C)
        cls.keys, cls.groups = example_keys(EXAMPLE)
        cls.tmp = tempfile.TemporaryDirectory(prefix="starling-conf-")
        cls.help = subprocess.run([STARLINGD, "--help"], capture_output=True, text=True,
                                  timeout=30).stdout

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check(self, path):
        return subprocess.run([STARLINGD, "--config", path, "--version"],
                              capture_output=True, text=True, timeout=30)

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_table_parsed(self):
        self.assertGreater(len(self.table), 20, "could not read the key table of st-config.c")
        for group, key in self.table:
            self.assertRegex(self.help, r"\n  --%s[= ]" % re.escape(key), "--%s missing from --help" % key)

    def test_every_key_once_in_its_group(self):
        found = [(g, k) for g, k, v in self.keys]
        self.assertEqual(len(found), len(set(found)), "a key appears twice in the example")
        self.assertEqual(set(self.table) - set(found), set(), "keys missing from %s" % EXAMPLE)
        self.assertEqual(set(found) - set(self.table), set(), "keys in %s that starlingd does not have" % EXAMPLE)
        self.assertEqual(self.groups, ["starlingd", "limits"])

    def test_defaults_match_help(self):
        values = {k: v for g, k, v in self.keys}
        checked = 0
        for line in self.help.splitlines():
            m = re.match(r"^\s+--([a-z0-9-]+)[= ].*\(default ([^:\s)][^\s)]*)", line)
            if m and m.group(1) in values:
                self.assertEqual(values[m.group(1)], m.group(2), "default of %s" % m.group(1))
                checked += 1
        self.assertGreaterEqual(checked, 18, "too few defaults found in --help")
        self.assertEqual(values["dev"], "false")

    def test_starlingd_reads_it(self):
        out = self.check(EXAMPLE)
        self.assertEqual(out.returncode, 0, out.stderr)
        path = os.path.join(self.tmp.name, "all.conf")
        uncomment(EXAMPLE, path)
        out = self.check(path)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("starlingd", out.stdout)

    def test_check_rejects(self):
        # The parse-only check is only worth something if it can fail.
        cases = {
            "unknown.conf": "[starlingd]\nmqtt = 127.0.0.1:1883\nno-such-key = 1\n",
            "group.conf": "[limits]\nmqtt = 127.0.0.1:1883\n",
            "value.conf": "[limits]\nmax-connections = lots\n",
        }
        for name, text in cases.items():
            out = self.check(self.write(name, text))
            self.assertEqual(out.returncode, 2, "%s accepted: %s" % (name, text))
            self.assertIn(name, out.stderr)

    def test_starlingd_runs_on_it(self):
        path = os.path.join(self.tmp.name, "run.conf")
        uncomment(EXAMPLE, path, skip=("tls-cert", "tls-key"))
        ready = os.path.join(self.tmp.name, "ready.json")
        args = [STARLINGD, "--config", path, "--data-dir", os.path.join(self.tmp.name, "data"),
                "--ready-file", ready]
        for listener in ("mqtt", "mqtts", "ws", "wss", "api"):
            args += ["--" + listener, "127.0.0.1:0"]
        with open(os.path.join(self.tmp.name, "run.log"), "w+") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 60
                while not os.path.exists(ready):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        self.fail("starlingd did not start on the example:\n" + log.read())
                    time.sleep(0.05)
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(timeout=60), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    STARLINGD, EXAMPLE, ST_CONFIG_C = sys.argv[1:4]
    del sys.argv[1:4]
    unittest.main(verbosity=2)
