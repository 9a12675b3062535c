#!/usr/bin/env python3
"""The man pages starlingd(8) and starlingctl(1) say what --help says.

Usage: test_man.py STARLINGD STARLINGD_MAN STARLINGCTL STARLINGCTL_MAN

For each program, every flag its --help lists (also the --help of
`starlingd token` and of each starlingctl command) is documented in the
man page, and every flag the man page documents outside its examples is
one the program has. starlingctl's commands are the same in both, each
command's own flags are documented under that command, and each man page
formats without a groff warning.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

FLAG_LINE = re.compile(r"^\s+(?:(-[A-Za-z]), )?(--[a-z][a-z0-9-]*)")
FLAG_ANY = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
MAN_FLAG = re.compile(r"(?<![\w\\-])(\\-\\-[a-z][a-z0-9\\-]*|\\-[A-Za-z](?![\w\\]))")


def run_help(*argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(argv), out.returncode, out.stderr))
    return out.stdout


def help_flags(text):
    """(flags on option lines incl. short ones, every --flag mentioned)"""
    listed = set()
    for line in text.splitlines():
        m = FLAG_LINE.match(line)
        if m:
            listed.add(m.group(2))
            if m.group(1):
                listed.add(m.group(1))
    return listed, set(FLAG_ANY.findall(text))


def unescape(flag):
    return flag.replace("\\-", "-")


class Man:
    """A troff man page: its text outside .EX/.EE, sections, item tags."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.lines = f.read().splitlines()
        self.path = path

    def prose(self, lines=None):
        out, example = [], False
        for line in self.lines if lines is None else lines:
            if line.startswith(".EX"):
                example = True
            elif line.startswith(".EE"):
                example = False
            elif not example and not line.startswith('.\\"'):
                out.append(line)
        return out

    def flags(self, lines=None):
        return {unescape(f) for line in self.prose(lines) for f in MAN_FLAG.findall(line)}

    def tags(self, lines=None):
        """The tag line of every .TP item."""
        lines = self.prose(lines)
        return [lines[i + 1] for i, line in enumerate(lines[:-1]) if line.startswith(".TP")]

    def tag_flags(self, lines=None):
        return {unescape(f) for tag in self.tags(lines) for f in MAN_FLAG.findall(tag)}

    def section(self, name):
        out, inside = [], False
        for line in self.lines:
            if line.startswith(".SH "):
                inside = line[4:].strip().strip('"') == name
                continue
            if inside:
                out.append(line)
        if not out:
            raise AssertionError("%s has no section %s" % (self.path, name))
        return out


class ManPages(unittest.TestCase):

    def check_formats(self, page):
        groff = shutil.which("groff")
        if not groff:
            self.skipTest("groff is not installed")
        out = subprocess.run([groff, "-k", "-man", "-ww", "-z", page],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, "", "groff warns about %s" % page)

    # ---- starlingd(8)

    def test_starlingd_flags(self):
        man = Man(STARLINGD_MAN)
        listed, mentioned = help_flags(run_help(STARLINGD, "--help"))
        self.assertIn("--mqtt", listed)  # the parse itself works
        documented = man.tag_flags(man.section("OPTIONS"))
        self.assertEqual(listed - documented, set(),
                         "flags in starlingd --help that starlingd(8) OPTIONS does not document")
        self.assertEqual(documented - listed, set(),
                         "flags starlingd(8) OPTIONS documents that starlingd --help does not have")

        token_listed, token_mentioned = help_flags(run_help(STARLINGD, "token", "--help"))
        token_text = man.flags(man.section("TOKEN COMMANDS"))
        self.assertEqual(token_listed - {"-h", "--help"} - token_text, set(),
                         "starlingd token flags missing from TOKEN COMMANDS")

        every = listed | mentioned | token_listed | token_mentioned
        self.assertEqual(man.flags() - every, set(),
                         "starlingd(8) mentions flags starlingd does not have")
        self.assertEqual(mentioned - man.flags(), set())

    def test_starlingd_formats(self):
        self.check_formats(STARLINGD_MAN)

    # ---- starlingctl(1)

    def ctl_commands(self, help_text):
        commands, inside = [], False
        for line in help_text.splitlines():
            if line.startswith("Commands:"):
                inside = True
                continue
            if inside:
                if not line.strip():
                    break
                # "broker issue NAME   Issue …", "ca   Print …": the
                # lowercase words before the parameter or the summary.
                name = []
                for word in line.split():
                    if not re.fullmatch(r"[a-z][a-z-]*", word):
                        break
                    name.append(word)
                commands.append(" ".join(name))
        return commands

    def man_commands(self, man):
        """{command: the lines of its item, up to the next command}"""
        blocks, current = {}, None
        lines = man.prose(man.section("COMMANDS"))
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith(".TP") and i + 1 < len(lines):
                tag = lines[i + 1]
                m = re.match(r'^\.BI? "?((?:namespace|broker) [a-z\\-]+|ca)\b', tag)
                if m:
                    current = unescape(m.group(1)).strip()
                    blocks[current] = []
                    i += 2
                    continue
            if line.startswith(".SS"):
                current = None
            if current:
                blocks[current].append(line)
            else:
                blocks.setdefault(None, []).append(line)
            i += 1
        return blocks

    def test_starlingctl_commands_and_flags(self):
        man = Man(STARLINGCTL_MAN)
        main_help = run_help(STARLINGCTL, "--help")
        listed, mentioned = help_flags(main_help)
        self.assertIn("--api-url", listed)
        documented = man.tag_flags(man.section("OPTIONS"))
        self.assertEqual(listed - documented, set(),
                         "flags in starlingctl --help that starlingctl(1) OPTIONS does not document")
        self.assertEqual(documented - listed, set(),
                         "flags starlingctl(1) OPTIONS documents that starlingctl --help does not have")

        commands = self.ctl_commands(main_help)
        self.assertIn("broker issue", commands)
        blocks = self.man_commands(man)
        self.assertEqual(set(commands), set(blocks) - {None},
                         "commands of starlingctl --help and of starlingctl(1) COMMANDS differ")

        every = listed | mentioned
        per_command = {}
        for command in commands:
            c_listed, c_mentioned = help_flags(run_help(STARLINGCTL, *command.split(), "--help"))
            every |= c_listed | c_mentioned
            per_command[command] = c_listed - listed - {"-h", "--help"}
        # A flag every command of a group takes (broker's --namespace) is
        # documented once, in the group's introduction.
        shared = {}
        for group in ("namespace", "broker"):
            sets = [f for c, f in per_command.items() if c.split()[0] == group]
            shared[group] = set.intersection(*sets) if len(sets) > 1 else set()
        intro = man.flags(blocks.get(None, []))
        for command, flags in per_command.items():
            group = command.split()[0]
            own = flags - shared.get(group, set())
            block = blocks[command]
            self.assertEqual(own - man.flags(block), set(),
                             "starlingctl %s flags missing under its item in starlingctl(1)" % command)
            self.assertEqual(man.tag_flags(block) - flags, set(),
                             "starlingctl(1) documents flags under “%s” that it does not take" % command)
            self.assertEqual(flags & shared.get(group, set()) - intro, set(),
                             "%s flags shared by every %s command missing from the introduction"
                             % (command, group))
        self.assertEqual(man.flags() - every, set(),
                         "starlingctl(1) mentions flags starlingctl does not have")
        self.assertEqual(mentioned - man.flags(), set())

    def test_starlingctl_formats(self):
        self.check_formats(STARLINGCTL_MAN)


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    STARLINGD, STARLINGD_MAN, STARLINGCTL, STARLINGCTL_MAN = sys.argv[1:5]
    del sys.argv[1:5]
    unittest.main(verbosity=2)
