#!/usr/bin/env python3
"""po/ covers every user-visible string, and every translation is complete.

Usage: test_potfiles.py SRCDIR BUILDDIR [DESKTOP METAINFO]

(DESKTOP and METAINFO: the desktop file and metainfo that i18n.merge_file
built, when the app is built)

- POTFILES.in lists every file under app/, data/ and broker/ that holds a
  translatable string (_(), N_(), C_(), NC_(), ngettext and friends in C;
  translatable="yes" in GtkBuilder files; the translatable keys of the
  desktop file; the metainfo; summaries and descriptions of the GSettings
  schema), every listed file exists and has such strings, and the list is
  sorted without duplicates;
- xgettext, run exactly as `ninja starling-pot` runs it (the arguments of
  the i18n.gettext glib preset, read from the build), extracts without a
  single warning: a format string it cannot parse (a G_GUINT64_FORMAT in a
  msgid) would leave that string untranslatable;
- each language in LINGUAS has a .po that, merged with a .pot freshly
  generated from the tree (in a temporary directory: the committed .po is
  never touched), has no fuzzy and no untranslated message and passes
  `msgfmt --check`;
- the built desktop file and metainfo carry each language's strings.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

SRCDIR = BUILDDIR = DESKTOP = METAINFO = None

SCANNED_DIRS = ("app", "data", "broker")

# gettext's keywords as GLib's gi18n.h and the glib preset define them,
# plus the plain libintl ones.
C_KEYWORDS = re.compile(
    r"(?<![A-Za-z0-9_])"
    r"(?:_|N_|C_|NC_|Q_|gettext|dgettext|dcgettext|ngettext|dngettext|dcngettext|"
    r"pgettext|dpgettext|g_dgettext|g_dcgettext|g_dngettext|g_dpgettext|g_dpgettext2)"
    r"\s*\(")
UI_TRANSLATABLE = re.compile(r"""\btranslatable\s*=\s*["'](?:yes|true|1)["']""")
DESKTOP_TRANSLATABLE = re.compile(r"^(?:Name|GenericName|Comment|Keywords)\s*=", re.M)
METAINFO_TRANSLATABLE = ("name", "summary", "description", "caption", "developer_name", "keyword")
GSCHEMA_TRANSLATABLE = ("summary", "description")


def strip_c_comments(text):
    """C source without its comments and with its string and character
    literals emptied, so that neither a comment nor a string mentioning
    _() counts as a translatable string."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def xml_has_text_elements(path, tags):
    root = ET.parse(path).getroot()
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in tags and element.get("translate") != "no":
            return True
    return False


def has_translatable_strings(path):
    """Whether the file at path (relative to SRCDIR) holds strings xgettext
    would extract; None for kinds of files that never do."""
    full = os.path.join(SRCDIR, path)
    name = os.path.basename(path)
    if name.endswith((".c", ".h")):
        with open(full, encoding="utf-8") as f:
            return C_KEYWORDS.search(strip_c_comments(f.read())) is not None
    if name.endswith(".ui"):
        with open(full, encoding="utf-8") as f:
            return UI_TRANSLATABLE.search(f.read()) is not None
    if name.endswith(".desktop.in"):
        with open(full, encoding="utf-8") as f:
            return DESKTOP_TRANSLATABLE.search(f.read()) is not None
    if name.endswith((".metainfo.xml.in", ".appdata.xml.in")):
        return xml_has_text_elements(full, METAINFO_TRANSLATABLE)
    if name.endswith(".gschema.xml"):
        # Summaries and descriptions show in dconf Editor and `gsettings
        # describe`: GNOME translates them (the schema names its
        # gettext-domain, checked below).
        return xml_has_text_elements(full, GSCHEMA_TRANSLATABLE)
    return None


def source_files():
    for top in SCANNED_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(SRCDIR, top)):
            dirnames.sort()
            for filename in sorted(filenames):
                yield os.path.relpath(os.path.join(dirpath, filename), SRCDIR)


def read_list(path):
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                entries.append(line)
    return entries


def potfiles():
    return read_list(os.path.join(SRCDIR, "po", "POTFILES.in"))


def linguas():
    langs = []
    for entry in read_list(os.path.join(SRCDIR, "po", "LINGUAS")):
        langs += entry.split()
    return langs


def pot_command():
    """The xgettext command line of the build's starling-pot target:
    meson's `--internal gettext pot` with the preset's --extra-args, which
    runs xgettext with the arguments rebuilt here."""
    with open(os.path.join(BUILDDIR, "build.ninja"), encoding="utf-8") as f:
        ninja = f.read()
    match = re.search(r"^build meson-internal__(\S+)-pot: CUSTOM_COMMAND.*\n\s*COMMAND = (.*)$", ninja, re.M)
    if match is None:
        raise AssertionError("no starling-pot target in build.ninja (is po/ built?)")
    args = shlex.split(match.group(2))
    options = {}
    for arg in args:
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            options[key] = value
    extra = options.get("extra-args", "")
    return (options.get("xgettext", "xgettext"), options["pkgname"],
            extra.split("@@") if extra else [])


def generate_pot(outdir):
    """The .pot of the current tree in outdir; returns (path, xgettext's
    stderr)."""
    xgettext, pkgname, extra = pot_command()
    pot = os.path.join(outdir, pkgname + ".pot")
    result = subprocess.run(
        [xgettext, "--package-name=" + pkgname, "-p", outdir,
         "-f", os.path.join(SRCDIR, "po", "POTFILES.in"), "-D", SRCDIR,
         "-k_", "-o", pkgname + ".pot"] + extra,
        capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError("xgettext failed:\n" + result.stderr)
    return pot, result.stderr


def po_header(path):
    """The header entry's fields of a .po file."""
    result = subprocess.run(["msgexec", "-i", path, "cat"], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError("msgexec failed on %s:\n%s" % (path, result.stderr))
    header = result.stdout.split("\0", 1)[0]
    fields = {}
    for line in header.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            fields[key.strip()] = value.strip()
    return fields


def statistic(stats, what):
    """A count from `msgfmt --statistics` (in the C locale); absent is 0."""
    match = re.search(r"(\d+) %s" % what, stats)
    return int(match.group(1)) if match else 0


class Potfiles(unittest.TestCase):
    def test_every_file_with_strings_is_listed(self):
        listed = set(potfiles())
        missing = [path for path in source_files()
                   if path not in listed and has_translatable_strings(path)]
        self.assertEqual(missing, [], "files with translatable strings missing from po/POTFILES.in")

    def test_every_listed_file_exists_and_has_strings(self):
        for path in potfiles():
            with self.subTest(path=path):
                self.assertTrue(os.path.isfile(os.path.join(SRCDIR, path)), "listed but not there")
                self.assertTrue(has_translatable_strings(path), "listed but holds no translatable string")

    def test_sorted_without_duplicates(self):
        entries = potfiles()
        self.assertEqual(entries, sorted(entries), "po/POTFILES.in is not sorted")
        self.assertEqual(len(entries), len(set(entries)), "po/POTFILES.in lists a file twice")

    def test_schema_names_its_domain(self):
        for path in potfiles():
            if path.endswith(".gschema.xml"):
                root = ET.parse(os.path.join(SRCDIR, path)).getroot()
                self.assertEqual(root.get("gettext-domain"), pot_command()[1],
                                 "%s: summaries are only translated with the schemalist's gettext-domain" % path)


class Extraction(unittest.TestCase):
    def test_xgettext_without_warnings(self):
        with tempfile.TemporaryDirectory() as tmp:
            pot, warnings = generate_pot(tmp)
            self.assertEqual(warnings.strip(), "", "xgettext warned")
            with open(pot, encoding="utf-8") as f:
                text = f.read()
            # The desktop file's name and a .ui string made it in: the ITS
            # rules for every kind of file were found.
            self.assertIn('msgid "Starling"', text)
            self.assertIn("starling-window.ui", text)
            self.assertIn(".desktop.in", text)
            self.assertIn(".metainfo.xml.in", text)


class Translations(unittest.TestCase):
    def test_at_least_one_language(self):
        self.assertNotEqual(linguas(), [], "po/LINGUAS lists no language")

    def test_linguas_sorted(self):
        self.assertEqual(linguas(), sorted(linguas()))

    def test_complete(self):
        with tempfile.TemporaryDirectory() as tmp:
            pot, _ = generate_pot(tmp)
            for lang in linguas():
                with self.subTest(lang=lang):
                    po = os.path.join(SRCDIR, "po", lang + ".po")
                    self.assertTrue(os.path.isfile(po), "po/%s.po is missing" % lang)

                    # The committed file itself: well-formed, with its header.
                    check = subprocess.run(["msgfmt", "--check", "-o", os.devnull, po],
                                           capture_output=True, text=True, timeout=60)
                    self.assertEqual(check.returncode, 0, check.stderr)
                    header = po_header(po)
                    self.assertEqual(header.get("Language"), lang)
                    self.assertIn("charset=UTF-8", header.get("Content-Type", ""))
                    self.assertRegex(header.get("Plural-Forms", ""), r"nplurals=\d+; plural=")
                    self.assertTrue(header.get("Project-Id-Version", "").startswith("starling"))

                    # Merged with today's strings, as update-po would: what
                    # changed turns fuzzy, what is new stays untranslated.
                    merged = os.path.join(tmp, lang + ".po")
                    merge = subprocess.run(["msgmerge", "--quiet", "-o", merged, po, pot],
                                           capture_output=True, text=True, timeout=120)
                    self.assertEqual(merge.returncode, 0, merge.stderr)
                    stats = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, merged],
                                           capture_output=True, text=True, timeout=60,
                                           env=dict(os.environ, LC_ALL="C", LANGUAGE=""))
                    self.assertEqual(stats.returncode, 0, stats.stderr)
                    self.assertRegex(stats.stderr, r"\d+ translated message")
                    translated = statistic(stats.stderr, "translated")
                    fuzzy = statistic(stats.stderr, "fuzzy")
                    untranslated = statistic(stats.stderr, "untranslated")
                    if fuzzy or untranslated:
                        listing = subprocess.run(["msgattrib", "--only-fuzzy", "--no-obsolete", merged],
                                                 capture_output=True, text=True).stdout
                        listing += subprocess.run(["msgattrib", "--untranslated", "--no-obsolete", merged],
                                                  capture_output=True, text=True).stdout
                        self.fail("%s: %d fuzzy and %d untranslated messages:\n%s"
                                  % (lang, fuzzy, untranslated, listing))
                    self.assertGreater(translated, 0)

    def test_desktop_and_metainfo_translated(self):
        if DESKTOP is None:
            self.skipTest("the app is not built")
        with open(DESKTOP, encoding="utf-8") as f:
            desktop = f.read()
        metainfo = ET.parse(METAINFO).getroot()
        lang_attr = "{http://www.w3.org/XML/1998/namespace}lang"
        for lang in linguas():
            with self.subTest(lang=lang):
                self.assertRegex(desktop, r"(?m)^Name\[%s\]=." % re.escape(lang))
                self.assertRegex(desktop, r"(?m)^Comment\[%s\]=." % re.escape(lang))
                summaries = [e for e in metainfo.findall("summary") if e.get(lang_attr) == lang]
                self.assertEqual(len(summaries), 1, "no <summary xml:lang=\"%s\"> in the metainfo" % lang)
                paragraphs = [e for e in metainfo.iter("p") if e.get(lang_attr) == lang]
                self.assertGreater(len(paragraphs), 0, "the description is not translated to %s" % lang)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    SRCDIR, BUILDDIR = sys.argv[1], sys.argv[2]
    if len(sys.argv) >= 5:
        DESKTOP, METAINFO = sys.argv[3], sys.argv[4]
    for tool in ("msgfmt", "msgmerge", "msgexec", "msgattrib"):
        if shutil.which(tool) is None:
            sys.exit("%s is missing (gettext)" % tool)
    unittest.main(argv=sys.argv[:1], verbosity=2)
