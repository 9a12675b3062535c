# Shared by build-aux/run and build-aux/test: install what is missing, then
# configure and build. Sourced, not run.

STARLING_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian 12 packages: the build, the headless parts, and the test clients.
STARLING_DEBS=(
  gcc pkg-config meson ninja-build python3
  libglib2.0-dev libssl-dev libjson-glib-dev libsqlite3-dev libsoup-3.0-dev
  mosquitto-clients libpaho-mqtt-dev
  clang libclang-rt-14-dev
  # the desktop app, and its tests under a virtual X server
  libgtk-4-dev libadwaita-1-dev gettext desktop-file-utils appstream
  xvfb xauth
  # packaging checks: systemd-analyze, man pages, the installed app over D-Bus
  systemd man-db groff-base x11-utils dbus-daemon
)

starling_install_debs () {
  local missing=() pkg
  for pkg in "${STARLING_DEBS[@]}" "$@"; do
    if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
      missing+=("$pkg")
    fi
  done
  # Node.js may come from elsewhere than Debian (NodeSource's nodejs ships
  # npm and conflicts with Debian's npm): ask for the commands, not packages.
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  [ ${#missing[@]} -eq 0 ] && return 0

  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "build-aux: missing Debian packages: ${missing[*]}" >&2
      echo "build-aux: run as root, or install them with apt-get install ${missing[*]}" >&2
      return 1
    fi
  fi
  echo "build-aux: installing ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

# starling_build DIR [meson options…]
starling_build () {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$STARLING_TOP" "$@" || return 1
  fi
  ninja -C "$dir"
}
