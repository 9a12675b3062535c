#!/bin/sh
# Copies the screenshots the metainfo shows from a build's UI test output
# (tests/app writes them to BUILD/tests/app/screenshots/) to this folder,
# whose files the metainfo points at. Run after the UI changed:
#   meson test -C BUILD --suite app && data/screenshots/update.sh BUILD
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: update.sh BUILD_DIR}
metainfo="$here/../io.github.starlingmq.Starling.metainfo.xml.in"
for name in $(sed -n 's|.*/data/screenshots/\([a-z0-9-]*\)\.png</image>.*|\1|p' "$metainfo"); do
  cp "$build/tests/app/screenshots/$name.png" "$here/$name.png"
  echo "updated $name.png"
done
