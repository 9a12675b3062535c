#!/usr/bin/env python3
"""`meson install` gives a complete tree, and the installed app starts from it.

Usage: test_install.py BUILD_DIR APP_ID PREFIX BINDIR SBINDIR DATADIR MANDIR SYSCONFDIR UNITDIR [--app]

1. `meson install --destdir TMP` of this build: every file a packager
   needs is in TMP/PREFIX — the three programs, the systemd unit, the
   example config, both man pages, and with --app the desktop file,
   metainfo, D-Bus service, scalable and symbolic icons, the GSettings
   schema, and a .mo file for each language in po/LINGUAS. The files
   flatpak exports are named after the app id; no installed text file and
   no RUNPATH points into the build or the DESTDIR; the installed schema
   compiles with --strict; starlingd and starlingctl run from there.
2. With --app, under Xvfb and a private D-Bus session bus, with
   GSETTINGS_SCHEMA_DIR the installed (compiled) schemas only,
   XDG_DATA_DIRS the installed share/ first, and G_DEBUG=fatal-criticals
   (a missing resource or schema aborts it):
   a. the installed `starling` opens a window titled "Starling" (found with
      xwininfo), stays alive, and quits with status 0 when its app.quit
      action is activated over D-Bus;
   b. D-Bus activation: org.freedesktop.Application.Activate on the app id
      starts it through the installed D-Bus service file (its Exec pointed
      at the DESTDIR copy of the program), a "Starling" window appears, and
      app.quit makes it leave the bus.
This proves the install is self-contained (resources compiled in, schema
and data found where a /app or /usr prefix puts them, the D-Bus service
works). It does not prove flatpak's sandbox permissions: no flatpak here.
Nor does it prove the installed app finds its translations: its
compiled-in LOCALEDIR names PREFIX, not the DESTDIR copy. That is
test_install_prefix.py, which installs a second build into a real /app-style
prefix; the helpers both use to start the app are in installed_app.py.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from installed_app import (WAIT, Session, app_env, gdbus, name_has_owner, quit_app, run_session,
                           wait_for, windows_titled, write_bus_config)


class Install(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="starling-install-")
        cls.destdir = os.path.join(cls.tmp.name, "dest")
        out = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", cls.destdir],
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise AssertionError("meson install failed:\n" + out.stdout[-4000:] + out.stderr[-4000:])
        cls.root = cls.destdir + PREFIX

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, *parts):
        # DIRs may be absolute (/etc for prefix /usr) or relative to PREFIX.
        return os.path.join(self.destdir + "/" if os.path.isabs(parts[0]) else self.root, *[p.lstrip("/") for p in parts])

    def expected(self):
        files = [
            self.path(BINDIR, "starlingctl"),
            self.path(SBINDIR, "starlingd"),
            self.path(UNITDIR, "starlingd.service"),
            self.path(SYSCONFDIR, "starling", "starlingd.conf"),
            self.path(MANDIR, "man8", "starlingd.8"),
            self.path(MANDIR, "man1", "starlingctl.1"),
        ]
        if APP:
            files += [
                self.path(BINDIR, "starling"),
                self.path(DATADIR, "applications", APP_ID + ".desktop"),
                self.path(DATADIR, "metainfo", APP_ID + ".metainfo.xml"),
                self.path(DATADIR, "dbus-1", "services", APP_ID + ".service"),
                self.path(DATADIR, "glib-2.0", "schemas", APP_ID + ".gschema.xml"),
                self.path(DATADIR, "icons", "hicolor", "scalable", "apps", APP_ID + ".svg"),
                self.path(DATADIR, "icons", "hicolor", "symbolic", "apps", APP_ID + "-symbolic.svg"),
            ]
            linguas = os.path.join(SRCDIR, "po", "LINGUAS")
            if os.path.exists(linguas):
                with open(linguas) as f:
                    for lang in f.read().split():
                        if not lang.startswith("#"):
                            files.append(self.path(DATADIR, "locale", lang, "LC_MESSAGES", "starling.mo"))
        return files

    def test_complete_tree(self):
        missing = [p[len(self.destdir):] for p in self.expected() if not os.path.isfile(p)]
        self.assertEqual(missing, [], "not installed")
        for prog in [self.path(BINDIR, "starlingctl"), self.path(SBINDIR, "starlingd")] + \
                ([self.path(BINDIR, "starling")] if APP else []):
            self.assertTrue(os.access(prog, os.X_OK), prog)

    def test_exported_names(self):
        if not APP:
            self.skipTest("no app")
        for sub in ("applications", "metainfo", os.path.join("dbus-1", "services")):
            for name in os.listdir(self.path(DATADIR, sub)):
                self.assertTrue(name.startswith(APP_ID), "flatpak exports only %s*: %s" % (APP_ID, name))
        for dirpath, _, names in os.walk(self.path(DATADIR, "icons")):
            for name in names:
                self.assertTrue(name.startswith(APP_ID), os.path.join(dirpath, name))

    def test_no_build_paths(self):
        build = os.path.realpath(BUILD)
        for dirpath, _, names in os.walk(self.destdir):
            for name in names:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    head = f.read(4)
                if head == b"\x7fELF":
                    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, timeout=30)
                    for line in out.stdout.splitlines():
                        if "RPATH" in line or "RUNPATH" in line:
                            self.assertNotIn(build, line, path)
                            self.assertNotIn(self.destdir, line, path)
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                self.assertNotIn(build.encode(), data, "%s names the build directory" % path)
                self.assertNotIn(self.destdir.encode(), data, "%s names the DESTDIR" % path)

    def test_programs_run_installed(self):
        for prog, name in ((self.path(SBINDIR, "starlingd"), "starlingd"),
                           (self.path(BINDIR, "starlingctl"), "starlingctl")):
            out = subprocess.run([prog, "--version"], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertTrue(out.stdout.startswith(name + " "), out.stdout)

    def compiled_schemas(self):
        schemas = self.path(DATADIR, "glib-2.0", "schemas")
        out = subprocess.run(["glib-compile-schemas", "--strict", schemas], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return schemas

    def test_app_starts_installed(self):
        if not APP:
            self.skipTest("built with -Dapp=false")
        for tool in ("xvfb-run", "dbus-run-session", "xwininfo", "gdbus", "glib-compile-schemas"):
            if not shutil.which(tool):
                self.skipTest("%s is not installed" % tool)
        schemas = self.compiled_schemas()
        services = os.path.join(self.tmp.name, "dbus-services")
        os.makedirs(services)
        # The installed D-Bus service runs PREFIX/bin/starling, the path it
        # will have once installed; here that binary is under DESTDIR.
        with open(self.path(DATADIR, "dbus-1", "services", APP_ID + ".service")) as f:
            service = f.read()
        installed_exec = os.path.join(PREFIX, BINDIR, "starling") if not os.path.isabs(BINDIR) else os.path.join(BINDIR, "starling")
        self.assertIn("Exec=%s --gapplication-service" % installed_exec, service)
        with open(os.path.join(services, APP_ID + ".service"), "w") as f:
            f.write(service.replace("Exec=" + installed_exec, "Exec=" + self.path(BINDIR, "starling")))
        bus_config = write_bus_config(self.tmp.name, services)
        env = app_env(self.tmp.name, self.path(DATADIR), schemas, self.path(BINDIR, "starling"))
        out = run_session(env, bus_config, [sys.executable, os.path.abspath(__file__), "--session", APP_ID])
        self.assertEqual(out.returncode, 0, "in the session:\n" + out.stdout[-6000:] + out.stderr[-6000:])
        self.assertIn("direct launch: ok", out.stdout)
        self.assertIn("D-Bus activation: ok", out.stdout)


def session(app_id):
    """Runs inside xvfb-run and dbus-run-session (see the docstring, 2a/2b)."""
    sess = Session(app_id)
    object_path = "/" + app_id.replace(".", "/")
    fail = sess.fail

    # a. Started directly, as the desktop file's Exec= does.
    sess.launch_and_quit()
    print("direct launch: ok")

    # b. Started by the bus, as DBusActivatable=true makes desktops do.
    if windows_titled("Starling"):
        fail("a Starling window is left over")
    out = gdbus("--dest", app_id, "--object-path", object_path,
                "--method", "org.freedesktop.Application.Activate", "{}", timeout=60)
    if out.returncode != 0:
        fail("D-Bus activation failed: " + out.stderr)
    if not wait_for(lambda: windows_titled("Starling")):
        fail("no window after D-Bus activation")
    out = quit_app(app_id)
    if out.returncode != 0:
        fail("app.quit over D-Bus after activation: " + out.stderr)
    # A D-Bus-activated GApplication lingers a few seconds as a service.
    if not wait_for(lambda: not name_has_owner(app_id), timeout=WAIT):
        fail("the D-Bus activated starling did not leave the bus after app.quit")
    print("D-Bus activation: ok")
    sys.exit(0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--session":
        session(sys.argv[2])
    if len(sys.argv) < 10:
        sys.exit(__doc__)
    BUILD, APP_ID, PREFIX, BINDIR, SBINDIR, DATADIR, MANDIR, SYSCONFDIR, UNITDIR = sys.argv[1:10]
    APP = "--app" in sys.argv[10:]
    SRCDIR = os.environ.get("STARLING_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
    del sys.argv[1:]
    unittest.main(verbosity=2)
