#!/usr/bin/env bash
# Run the differential test against libvirt 9.0 over any range of seeds and print the
# agreement per document (inactive XML, domxml-to-native, live XML, started argv,
# rejections) after every diff. Needs root (libvirt runs as nobody).
#   tools/difftest-seeds.sh [BUILD_DIR] [A-B|N] [difftest options...]
# Defaults: build/ (the README's build dir) and seeds 1-300. See tests/difftest/README.
set -euo pipefail
src=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
build=${1:-$src/build}
seeds=${2:-1-300}
shift $(( $# > 2 ? 2 : $# ))
ninja -C "$build" tests/difftest tools/qvirtd >/dev/null
tree=$(git -C "$src" log -1 --format='%h %s' 2>/dev/null | cut -c1-60 || echo unknown)
[ -n "$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null)" ] && tree="$tree (+ uncommitted changes)"
echo "difftest-seeds: qvirt $tree, built in $build" >&2
echo "difftest-seeds: against libvirt $(virsh --version) and $(qemu-system-x86_64 --version | head -1), seeds $seeds" >&2
QVIRT_TEST_SRCDIR="$src/tests" exec "$build/tests/difftest" --report --no-hand --seeds "$seeds" "$@"
