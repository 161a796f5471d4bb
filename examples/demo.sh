#!/usr/bin/env bash
# The main job until the daemon lands: the offline tool on the examples.
set -euo pipefail
builddir=${1:-build}
here=$(dirname "$(readlink -f "$0")")
for xml in "$here"/*.xml; do
  echo "== $(basename "$xml")"
  "$builddir/tools/qvirt" validate "$xml"
  "$builddir/tools/qvirt" xml "$xml"
done
