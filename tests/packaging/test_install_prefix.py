#!/usr/bin/env python3
"""Installed into a /app-style prefix, starling runs from there, translated.

Usage: test_install_prefix.py SRCDIR APP_ID VERSION B_SANITIZE

test_install.py installs the outer build with --destdir, so what was
compiled in for the prefix (LOCALEDIR above all) points outside the copy
it starts, and it cannot show that the installed app finds its
translations. This test does what flatpak-builder does with the app's
module: a second build of the source tree, configured with
--prefix=TMP/app (as flatpak uses /app), compiled, and a real
`meson install` (no DESTDIR, so the post-install steps compile the schemas
in place). Then, with LANG=C.UTF-8 and LANGUAGE=fr (gettext honours
LANGUAGE in any locale but C), GSETTINGS_SCHEMA_DIR the installed schemas,
XDG_DATA_DIRS the installed share/ first and G_DEBUG=fatal-criticals:
  a. the tree holds TMP/app/bin/starling, the compiled schemas and
     TMP/app/share/locale/LANG/LC_MESSAGES/starling.mo for each language
     in po/LINGUAS;
  b. `starling --version` prints "starling VERSION" (VERSION: meson's
     project version) and exits 0;
  c. `starling --help` shows --version's description as po/fr.po
     translates it with LANGUAGE=fr — the installed program found the
     installed catalogue through its compiled-in LOCALEDIR — and in
     English with LANGUAGE unset or en;
  d. under Xvfb and a private D-Bus session bus, the installed starling
     with LANGUAGE=fr opens its "Starling" window, stays alive, answers
     `starling --version` from a second process without handing it to
     the running instance, and quits with status 0 on app.quit over D-Bus.
The nested build is plain (-Dbuildtype=plain, no tests): what is checked is
where things are installed and looked up, not code generation. In a
sanitizer build of the outer tree the test is skipped: the nested build
would not be sanitized, so it would only repeat the plain CI build's run
at the cost of a second full compile.
"""

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from installed_app import Session, app_env, run_session, wait_for, windows_titled, write_bus_config

DESCRIPTION = "Print the version and exit"


def po_msgstr(path, msgid):
    """The msgstr for msgid (no context, not plural) in a .po file."""
    entries = {}
    key = None
    fields = {}
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines() + [""]:
            line = line.strip()
            if not line or line.startswith("#"):
                if "msgid" in fields and "msgstr" in fields and "msgctxt" not in fields:
                    entries[fields["msgid"]] = fields["msgstr"]
                if not line:
                    fields = {}
                continue
            if line.startswith('"'):
                fields[key] += ast.literal_eval(line)
                continue
            key, _, value = line.partition(" ")
            fields[key] = ast.literal_eval(value)
    return entries.get(msgid)


def languages():
    with open(os.path.join(SRCDIR, "po", "LINGUAS")) as f:
        return [w for w in f.read().split() if not w.startswith("#")]


class InstallPrefix(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if SANITIZE not in ("", "none"):
            raise unittest.SkipTest("b_sanitize=%s: the nested build would not be sanitized; "
                                    "the plain build runs this test" % SANITIZE)
        meson = shutil.which("meson")
        if not meson:
            raise AssertionError("meson is not on PATH")
        cls.tmp = tempfile.TemporaryDirectory(prefix="starling-prefix-")
        cls.build = os.path.join(cls.tmp.name, "build")
        cls.prefix = os.path.join(cls.tmp.name, "app")
        steps = [
            ("setup", [meson, "setup", cls.build, SRCDIR, "--prefix=" + cls.prefix,
                       "-Dbuildtype=plain", "-Dtests=false", "-Dfuzz=false"], 300),
            # Two jobs at most: the machine is shared with the other tests.
            ("compile", [meson, "compile", "-C", cls.build, "-j", "2"], 900),
            ("install", [meson, "install", "-C", cls.build, "--no-rebuild", "--quiet"], 300),
        ]
        try:
            for name, argv, timeout in steps:
                start = time.monotonic()
                out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
                print("meson %s: %.0f s" % (name, time.monotonic() - start), file=sys.stderr)
                if out.returncode != 0:
                    raise AssertionError("meson %s failed:\n%s%s" % (name, out.stdout[-4000:], out.stderr[-4000:]))
        except BaseException:
            cls.tmp.cleanup()
            raise
        cls.starling = os.path.join(cls.prefix, "bin", "starling")
        cls.datadir = os.path.join(cls.prefix, "share")
        cls.schemas = os.path.join(cls.datadir, "glib-2.0", "schemas")
        cls.env = app_env(cls.tmp.name, cls.datadir, cls.schemas, cls.starling)
        # The French session: a UTF-8 locale that exists everywhere, and
        # LANGUAGE choosing the catalogue, as test-app-translated does.
        for var in list(cls.env):
            if var.startswith("LC_"):
                del cls.env[var]
        cls.env.update({"LANG": "C.UTF-8", "LANGUAGE": "fr"})

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_starling(self, *args, **env):
        run_env = dict(self.env)
        for var, value in env.items():
            if value is None:
                run_env.pop(var, None)
            else:
                run_env[var] = value
        return subprocess.run([self.starling, *args], env=run_env, capture_output=True, text=True, timeout=60)

    def test_installed_tree(self):
        self.assertTrue(os.access(self.starling, os.X_OK), self.starling)
        self.assertTrue(os.path.isfile(os.path.join(self.schemas, "gschemas.compiled")),
                        "the post-install step did not compile the schemas in the prefix")
        langs = languages()
        self.assertIn("fr", langs)
        for lang in langs:
            mo = os.path.join(self.datadir, "locale", lang, "LC_MESSAGES", "starling.mo")
            self.assertTrue(os.path.isfile(mo), mo)

    def test_version(self):
        out = self.run_starling("--version")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "starling %s\n" % VERSION)

    def test_help_translated(self):
        french = po_msgstr(os.path.join(SRCDIR, "po", "fr.po"), DESCRIPTION)
        self.assertTrue(french, "po/fr.po does not translate %r" % DESCRIPTION)
        self.assertNotEqual(french, DESCRIPTION)
        out = self.run_starling("--help")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"--version\s+%s\n" % re.escape(french), "LANGUAGE=fr")
        self.assertNotIn(DESCRIPTION, out.stdout)
        for language in (None, "en"):
            out = self.run_starling("--help", LANGUAGE=language)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertRegex(out.stdout, r"--version\s+%s\n" % re.escape(DESCRIPTION), "LANGUAGE=%s" % language)
            self.assertNotIn(french, out.stdout)

    def test_window_in_french(self):
        for tool in ("xvfb-run", "dbus-run-session", "xwininfo", "gdbus"):
            if not shutil.which(tool):
                self.skipTest("%s is not installed" % tool)
        # No service files: nothing but the app started here may own its name.
        services = os.path.join(self.tmp.name, "dbus-services")
        os.makedirs(services, exist_ok=True)
        bus_config = write_bus_config(self.tmp.name, services)
        out = run_session(self.env, bus_config,
                          [sys.executable, os.path.abspath(__file__), "--session", APP_ID, VERSION])
        self.assertEqual(out.returncode, 0, "in the session:\n" + out.stdout[-6000:] + out.stderr[-6000:])
        self.assertIn("launch in French: ok", out.stdout)


def session(app_id, version):
    """Runs inside xvfb-run and dbus-run-session (see the docstring, d)."""
    sess = Session(app_id)

    def version_while_open(proc):
        out = subprocess.run([sess.starling, "--version"], capture_output=True, text=True, timeout=30)
        if out.returncode != 0 or out.stdout != "starling %s\n" % version:
            sess.fail("starling --version beside a running instance: status %d, %r %r"
                      % (out.returncode, out.stdout, out.stderr))
        if proc.poll() is not None:
            sess.fail("the running starling exited on another's --version")
        if not wait_for(lambda: len(windows_titled("Starling")) == 1, timeout=5):
            sess.fail("not exactly one Starling window after --version")

    sess.launch_and_quit(while_open=version_while_open)
    print("launch in French: ok")
    sys.exit(0)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--session":
        session(sys.argv[2], sys.argv[3])
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    SRCDIR, APP_ID, VERSION, SANITIZE = sys.argv[1:5]
    del sys.argv[1:]
    unittest.main(verbosity=2)
