#!/usr/bin/env python3
"""The desktop file, the metainfo and the D-Bus service agree with the build.

Usage: test_desktop.py APP_ID VERSION BINDIR DESKTOP METAINFO DBUS_SERVICE PROGRAM…

(the built files, and the names of the programs meson installs)

- desktop file: Exec is the app's program, Icon the app id, DBusActivatable;
  the D-Bus service is named after the app id and runs the installed
  program with --gapplication-service (GApplication's service mode);
- metainfo: id and launchable are the app id and its desktop file, the
  provided binaries are exactly the programs meson installs, the newest
  release is the project's version, releases newest first, OARS rating;
- icons: the scalable and symbolic icons are SVG documents named after
  the app id;
- screenshots: each points into this repository's data/screenshots/, the
  file is there, and it is one the app's UI tests take (tests/app).
"""

import configparser
import os
import re
import sys
import unittest
import xml.etree.ElementTree as ET

SRCDIR = os.environ.get("STARLING_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
SCREENSHOT_URL = re.compile(
    r"^https://raw\.githubusercontent\.com/starlingmq/starling/main/(data/screenshots/([a-z0-9-]+)\.png)$")


def read_ini(path, section):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    with open(path, encoding="utf-8") as f:
        parser.read_file(f)
    return parser[section]


class Desktop(unittest.TestCase):

    def test_desktop_file(self):
        self.assertEqual(os.path.basename(DESKTOP), APP_ID + ".desktop")
        entry = read_ini(DESKTOP, "Desktop Entry")
        self.assertEqual(entry["Exec"].split()[0], "starling")
        self.assertIn("starling", PROGRAMS)
        self.assertEqual(entry["Icon"], APP_ID)
        self.assertEqual(entry["DBusActivatable"], "true")
        self.assertEqual(entry["Type"], "Application")

    def test_dbus_service(self):
        self.assertEqual(os.path.basename(DBUS_SERVICE), APP_ID + ".service")
        service = read_ini(DBUS_SERVICE, "D-BUS Service")
        self.assertEqual(service["Name"], APP_ID)
        self.assertEqual(service["Exec"].split(),
                         [os.path.join(BINDIR, "starling"), "--gapplication-service"])

    def test_metainfo(self):
        root = ET.parse(METAINFO).getroot()
        self.assertEqual(root.get("type"), "desktop-application")
        self.assertEqual(root.findtext("id"), APP_ID)
        self.assertEqual(root.findtext("launchable[@type='desktop-id']"), APP_ID + ".desktop")
        binaries = sorted(b.text for b in root.findall("provides/binary"))
        self.assertEqual(binaries, sorted(PROGRAMS))
        self.assertEqual(root.findtext("provides/dbus[@type='user']"), APP_ID)
        self.assertEqual(root.find("content_rating").get("type"), "oars-1.1")
        self.assertTrue(root.findall("description/ul/li"), "no features list")
        self.assertTrue(root.findtext("developer/name") or root.findtext("developer_name"))
        releases = [r.get("version") for r in root.findall("releases/release")]
        self.assertEqual(releases[0], VERSION, "the newest release is not the project's version")
        dates = [r.get("date") for r in root.findall("releases/release")]
        self.assertEqual(dates, sorted(dates, reverse=True), "releases are not newest first")

    def test_icons(self):
        # app-shell draws them; this checks what gets installed: a
        # full-colour scalable icon and a symbolic one, named after the app
        # id, each a well-formed SVG document.
        icons = os.path.join(SRCDIR, "data", "icons", "hicolor")
        for sub, name in (("scalable", APP_ID + ".svg"), ("symbolic", APP_ID + "-symbolic.svg")):
            path = os.path.join(icons, sub, "apps", name)
            self.assertTrue(os.path.isfile(path), path)
            root = ET.parse(path).getroot()
            self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg", path)

    def test_screenshots(self):
        root = ET.parse(METAINFO).getroot()
        shots = root.findall("screenshots/screenshot")
        self.assertTrue(shots)
        self.assertEqual([s.get("type") for s in shots].count("default"), 1)
        ui_tests = ""
        app_tests = os.path.join(SRCDIR, "tests", "app")
        for name in sorted(os.listdir(app_tests)):
            if name.endswith(".c"):
                with open(os.path.join(app_tests, name), encoding="utf-8") as f:
                    ui_tests += f.read()
        for shot in shots:
            self.assertTrue(shot.findtext("caption"))
            url = shot.findtext("image")
            m = SCREENSHOT_URL.match(url or "")
            self.assertIsNotNone(m, "%s is not in data/screenshots/ of the repository" % url)
            self.assertTrue(os.path.isfile(os.path.join(SRCDIR, m.group(1))),
                            "%s: no %s in the repository" % (url, m.group(1)))
            self.assertRegex(ui_tests, r'screenshot \([^;]*"%s"' % re.escape(m.group(2)),
                             "no UI test in tests/app takes the screenshot %s" % m.group(2))
            with open(os.path.join(SRCDIR, m.group(1)), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    if len(sys.argv) < 8:
        sys.exit(__doc__)
    APP_ID, VERSION, BINDIR, DESKTOP, METAINFO, DBUS_SERVICE = sys.argv[1:7]
    PROGRAMS = sys.argv[7:]
    del sys.argv[1:]
    unittest.main(verbosity=2)
