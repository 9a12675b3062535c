"""Starting an installed `starling` the way a desktop (or flatpak) would.

Shared by test_install.py (a DESTDIR install of the outer build) and
test_install_prefix.py (a real install of a second build into a /app-style
prefix): the environment that confines the app to the installed tree, a
private D-Bus session bus, Xvfb, and the launch → window → app.quit cycle.
The tests run their own script a second time inside the session
(`--session`), so those helpers run in that inner process.
"""

import os
import subprocess
import sys
import time

WAIT = 30.0


def wait_for(predicate, timeout=WAIT, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def windows_titled(title):
    out = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True, timeout=10)
    return [line for line in out.stdout.splitlines() if '"%s"' % title in line]


def gdbus(*args, timeout=20):
    return subprocess.run(["gdbus", "call", "--session", *args], capture_output=True, text=True, timeout=timeout)


def name_has_owner(name):
    out = gdbus("--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus",
                "--method", "org.freedesktop.DBus.NameHasOwner", name)
    return "true" in out.stdout


def quit_app(app_id):
    """Activates app.quit over D-Bus, as the desktop's "Quit" would."""
    return gdbus("--dest", app_id, "--object-path", "/" + app_id.replace(".", "/"),
                 "--method", "org.freedesktop.Application.ActivateAction", "quit", "[]", "{}")


def write_bus_config(tmp, services):
    """A session bus listening in tmp that activates from services only, so
    the host's installed copy of the app can never answer."""
    path = os.path.join(tmp, "session.conf")
    with open(path, "w") as f:
        f.write("""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=%s</listen>
  <servicedir>%s</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
""" % (tmp, services))
    return path


def app_env(tmp, datadir, schemas, starling):
    """The environment of an installed app: schemas and data from the
    installed tree only, a fresh home (the embedded broker's data goes to
    XDG_DATA_HOME), no display or bus of the caller's, criticals fatal (a
    missing resource or schema aborts it), and the embedded broker on
    ephemeral ports so parallel tests cannot clash."""
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ)
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "GSETTINGS_BACKEND"):
        env.pop(var, None)
    env.update({
        "GSETTINGS_SCHEMA_DIR": schemas,
        "GSETTINGS_BACKEND": "memory",
        "XDG_DATA_DIRS": datadir + ":/usr/local/share:/usr/share",
        "XDG_DATA_HOME": os.path.join(home, "data"),
        "XDG_CONFIG_HOME": os.path.join(home, "config"),
        "XDG_CACHE_HOME": os.path.join(home, "cache"),
        "XDG_RUNTIME_DIR": tmp,
        "HOME": home,
        "GTK_A11Y": "none",
        "NO_AT_BRIDGE": "1",
        "GSK_RENDERER": "cairo",
        "GDK_BACKEND": "x11",
        "G_DEBUG": "fatal-criticals",
        "STARLING_EMBEDDED_PORTS": "0",
        "INSTALL_TEST_STARLING": starling,
    })
    # In a sanitizer build, leaks at exit are the app tests' business;
    # here only starting, finding everything and quitting count.
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    return env


def run_session(env, bus_config, argv, timeout=240):
    """Runs argv under Xvfb and a private session bus."""
    # xvfb-run -a picks a display number that looks free; an X server
    # started at the same moment elsewhere may take it first. That is
    # the only failure worth another try.
    for attempt in range(3):
        out = subprocess.run(
            ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24",
             "dbus-run-session", "--config-file=" + bus_config, "--", *argv],
            env=env, capture_output=True, text=True, timeout=timeout)
        if "cannot open display" not in out.stdout + out.stderr:
            return out
        time.sleep(1 + attempt)
    return out


class Session:
    """Inside the session: starling's output goes to a log that a failure
    prints, and a failure ends the session with status 1."""

    def __init__(self, app_id):
        self.app_id = app_id
        self.starling = os.environ["INSTALL_TEST_STARLING"]
        self.log = open(os.path.join(os.environ["XDG_RUNTIME_DIR"], "starling.log"), "w+")

    def fail(self, what):
        self.log.flush()
        self.log.seek(0)
        print("FAIL: %s\n--- starling's output:\n%s" % (what, self.log.read()))
        sys.exit(1)

    def launch_and_quit(self, while_open=None):
        """Starts starling directly, as the desktop file's Exec= does: a
        window titled Starling opens, the app stays alive and takes its
        name on the bus, while_open(proc) runs, and app.quit over D-Bus
        ends it with status 0."""
        proc = subprocess.Popen([self.starling], stdout=self.log, stderr=subprocess.STDOUT)
        try:
            if not wait_for(lambda: proc.poll() is not None or windows_titled("Starling")):
                self.fail("no window titled Starling within %.0f s" % WAIT)
            if proc.poll() is not None:
                self.fail("starling exited with %d before showing a window" % proc.returncode)
            time.sleep(2)
            if proc.poll() is not None:
                self.fail("starling exited with %d after showing its window" % proc.returncode)
            if not wait_for(lambda: name_has_owner(self.app_id), timeout=10):
                self.fail("starling did not take its name %s on the session bus" % self.app_id)
            if while_open is not None:
                while_open(proc)
            out = quit_app(self.app_id)
            if out.returncode != 0:
                self.fail("app.quit over D-Bus: " + out.stderr)
            try:
                status = proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.fail("starling did not quit within %.0f s of app.quit" % WAIT)
            if status != 0:
                self.fail("starling quit with status %d" % status)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
