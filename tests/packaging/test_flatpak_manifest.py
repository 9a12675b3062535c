#!/usr/bin/env python3
"""flatpak/io.github.starlingmq.Starling.json would build this app.

Usage: test_flatpak_manifest.py MANIFEST APP_ID PROGRAM SOURCE_ROOT

- valid JSON; its id is the build's app id and its command the program
  meson builds for the app (both passed in by meson);
- the GNOME runtime and SDK of one version; the sandbox holes the issue
  asks for and no file-system access;
- every module's sources are pinned: git by tag and 40-hex commit (no
  branch), archives and files by sha256; only the last module, the app
  itself, is a local "dir" source, and its path is this source tree;
- paho.mqtt.c is a cmake-ninja module with SSL on, tests and samples off,
  before the app, which is last and built with meson;
- the meson options the manifest gives the app, with prefix /app, plan an
  install (meson introspect --installed of a configure-only build) with the
  program, starlingd and starlingctl in /app/bin (where flatpak's PATH
  looks), the desktop file, metainfo, icons, schema and D-Bus service
  named after the app id (what flatpak exports).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HEX40 = re.compile(r"^[0-9a-f]{40}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Manifest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(MANIFEST, encoding="utf-8") as f:
            cls.m = json.load(f)

    def test_identity(self):
        self.assertEqual(self.m.get("id") or self.m.get("app-id"), APP_ID)
        self.assertEqual(os.path.basename(MANIFEST), APP_ID + ".json")
        self.assertEqual(self.m["command"], PROGRAM)

    def test_runtime(self):
        self.assertEqual(self.m["runtime"], "org.gnome.Platform")
        self.assertEqual(self.m["sdk"], "org.gnome.Sdk")
        version = self.m["runtime-version"]
        self.assertRegex(version, r"^\d+$", "a stable GNOME release, not master")
        self.assertGreaterEqual(int(version), 46)

    def test_finish_args(self):
        args = self.m["finish-args"]
        for wanted in ("--share=network", "--share=ipc", "--socket=wayland",
                       "--socket=fallback-x11", "--device=dri"):
            self.assertIn(wanted, args)
        self.assertNotIn("--socket=x11", args, "X11 only as a fallback")
        self.assertFalse([a for a in args if a.startswith("--filesystem")],
                         "the app needs no file-system access")

    def test_sources_pinned(self):
        modules = self.m["modules"]
        for i, module in enumerate(modules):
            self.assertIsInstance(module, dict, "modules are inline, so the test sees them")
            for source in module["sources"]:
                kind = source["type"]
                where = "%s: %s" % (module["name"], source)
                if kind == "git":
                    self.assertIn("tag", source, where)
                    self.assertRegex(source.get("commit", ""), HEX40, where)
                    self.assertNotIn("branch", source, where)
                    self.assertTrue(source["url"].startswith("https://"), where)
                elif kind in ("archive", "file"):
                    self.assertRegex(source.get("sha256", ""), HEX64, where)
                    self.assertTrue(source.get("url", "").startswith("https://") or "path" in source, where)
                elif kind == "dir":
                    self.assertEqual(i, len(modules) - 1, "only the app itself comes from a local dir")
                    path = os.path.normpath(os.path.join(os.path.dirname(MANIFEST), source["path"]))
                    self.assertEqual(os.path.realpath(path), os.path.realpath(SOURCE_ROOT), where)
                else:
                    self.fail("unpinnable source type %s" % where)

    def test_paho_module(self):
        modules = self.m["modules"]
        paho = [m for m in modules if "paho" in m["name"]]
        self.assertEqual(len(paho), 1)
        paho = paho[0]
        self.assertEqual(paho["buildsystem"], "cmake-ninja")
        for opt in ("-DPAHO_WITH_SSL=TRUE", "-DPAHO_ENABLE_TESTING=FALSE", "-DPAHO_BUILD_SAMPLES=FALSE"):
            self.assertIn(opt, paho["config-opts"])
        self.assertEqual(paho["sources"][0]["url"], "https://github.com/eclipse/paho.mqtt.c.git")
        self.assertRegex(paho["sources"][0]["tag"], r"^v1\.3\.\d+$")
        self.assertLess(modules.index(paho), len(modules) - 1)

    def test_app_module_last(self):
        app = self.m["modules"][-1]
        self.assertEqual(app["buildsystem"], "meson")
        self.assertEqual(app["sources"][0]["type"], "dir")

    def test_meson_options_plan_the_tree(self):
        meson = shutil.which("meson")
        if not meson:
            self.skipTest("meson is not installed")
        app = self.m["modules"][-1]
        with tempfile.TemporaryDirectory(prefix="starling-flatpak-") as tmp:
            build = os.path.join(tmp, "build")
            out = subprocess.run([meson, "setup", build, SOURCE_ROOT, "--prefix=/app", *app.get("config-opts", [])],
                                 capture_output=True, text=True, timeout=300)
            self.assertEqual(out.returncode, 0, out.stdout[-3000:] + out.stderr[-3000:])
            out = subprocess.run([meson, "introspect", "--installed", build],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            installed = set(json.loads(out.stdout).values())
        expected = {
            "/app/bin/" + PROGRAM,
            "/app/bin/starlingd",
            "/app/bin/starlingctl",
            "/app/share/applications/%s.desktop" % APP_ID,
            "/app/share/metainfo/%s.metainfo.xml" % APP_ID,
            "/app/share/glib-2.0/schemas/%s.gschema.xml" % APP_ID,
            "/app/share/dbus-1/services/%s.service" % APP_ID,
        }
        self.assertEqual(expected - installed, set(), "missing from the /app install plan")
        self.assertTrue(any(p.startswith("/app/share/icons/hicolor") for p in installed), "no icons")
        self.assertFalse([p for p in installed if not p.startswith("/app/")], "files outside /app")
        for exported in ("applications", "metainfo", "dbus-1/services"):
            for p in installed:
                if p.startswith("/app/share/%s/" % exported):
                    self.assertTrue(os.path.basename(p).startswith(APP_ID), "flatpak exports only %s*: %s" % (APP_ID, p))


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    MANIFEST, APP_ID, PROGRAM, SOURCE_ROOT = sys.argv[1:5]
    del sys.argv[1:5]
    unittest.main(verbosity=2)
