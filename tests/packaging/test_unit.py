#!/usr/bin/env python3
"""data/starlingd.service is a unit systemd accepts, hardened as promised.

Usage: test_unit.py UNIT STARLINGD INSTALLED_SBINDIR INSTALLED_SYSCONFDIR STARLINGD_MAN STARLINGCTL_MAN

- `systemd-analyze verify` accepts the unit without a single complaint:
  every key known, the ExecStart binary executable (the unit is checked
  with ExecStart pointing at the built starlingd, which is what gets
  installed at INSTALLED_SBINDIR/starlingd), Documentation='s man pages
  found (MANPATH holds the built ones);
- `systemd-analyze security --offline` rates it 2.0 or lower ("OK");
- the directives the issue asks for are there with the right values, and
  ExecStart runs the installed starlingd with the installed config file.

The check of the checker: a copy of the unit with a misspelt key makes
systemd-analyze verify complain, so a clean run means something.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

SECURITY_THRESHOLD = 2.0


def directives(text):
    """{key: [values…]} of the [Service]/[Unit]/[Install] lines."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


class Unit(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(UNIT) as f:
            cls.text = f.read()
        cls.d = directives(cls.text)
        cls.tmp = tempfile.TemporaryDirectory(prefix="starling-unit-")
        # Documentation=man:… is checked by running man: give it ours.
        cls.manpath = os.path.join(cls.tmp.name, "man")
        for page in (STARLINGD_MAN, STARLINGCTL_MAN):
            section = os.path.join(cls.manpath, "man" + page.rsplit(".", 1)[1])
            os.makedirs(section, exist_ok=True)
            shutil.copy(page, section)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def analyze(self, *args, text):
        tool = shutil.which("systemd-analyze")
        if not tool:
            self.skipTest("systemd-analyze is not installed (Debian package systemd)")
        unit_dir = tempfile.mkdtemp(dir=self.tmp.name)
        path = os.path.join(unit_dir, "starlingd.service")
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ, MANPATH=self.manpath, SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="")
        if args[0] == "verify" and not shutil.which("man"):
            # verify runs man(1) for Documentation=; without man-db it
            # cannot, and the man pages are checked by packaging-man.
            args = ("verify", "--man=no") + args[1:]
        return subprocess.run([tool, *args, path], capture_output=True, text=True, env=env, timeout=60)

    def runnable_text(self):
        exec_start = self.d["ExecStart"][0]
        binary = exec_start.split()[0]
        return self.text.replace("ExecStart=" + binary, "ExecStart=" + os.path.abspath(STARLINGD), 1)

    def test_exec_start(self):
        self.assertEqual(len(self.d["ExecStart"]), 1)
        self.assertEqual(self.d["ExecStart"][0].split(),
                         [os.path.join(SBINDIR, "starlingd"),
                          "--config", os.path.join(SYSCONFDIR, "starling", "starlingd.conf")])

    def test_hardening(self):
        want = {
            "Type": "notify",
            "DynamicUser": "yes",
            "StateDirectory": "starling",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "NoNewPrivileges": "yes",
            "CapabilityBoundingSet": "",
            "AmbientCapabilities": "",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "ExecReload": "/bin/kill -HUP $MAINPID",
        }
        for key, value in want.items():
            self.assertIn(key, self.d, key)
            self.assertEqual(self.d[key], [value], key)
        self.assertIn("@system-service", self.d["SystemCallFilter"])
        self.assertIn("multi-user.target", self.d["WantedBy"])

    def test_verify(self):
        out = self.analyze("verify", text=self.runnable_text())
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual((out.stdout + out.stderr).strip(), "", "systemd-analyze verify complains")

    def test_verify_notices_mistakes(self):
        broken = self.runnable_text().replace("ProtectSystem=strict", "ProtectSytem=strict")
        out = self.analyze("verify", text=broken)
        self.assertIn("ProtectSytem", out.stdout + out.stderr)
        missing = self.text.replace(self.d["ExecStart"][0].split()[0], "/nonexistent/starlingd", 1)
        out = self.analyze("verify", text=missing)
        self.assertNotEqual(out.returncode, 0, "verify accepted a missing ExecStart binary")

    def test_security_exposure(self):
        out = self.analyze("security", "--offline=yes", "--no-pager", text=self.runnable_text())
        m = re.search(r"Overall exposure level for starlingd\.service: (\d+(?:\.\d+)?)", out.stdout + out.stderr)
        self.assertIsNotNone(m, out.stdout + out.stderr)
        self.assertLessEqual(float(m.group(1)), SECURITY_THRESHOLD, out.stdout)


if __name__ == "__main__":
    if len(sys.argv) < 7:
        sys.exit(__doc__)
    UNIT, STARLINGD, SBINDIR, SYSCONFDIR, STARLINGD_MAN, STARLINGCTL_MAN = sys.argv[1:7]
    del sys.argv[1:7]
    unittest.main(verbosity=2)
