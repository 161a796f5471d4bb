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
echo "difftest-seeds: $build/tests/difftest against $(virsh --version) (libvirt), seeds $seeds" >&2
QVIRT_TEST_SRCDIR="$src/tests" exec "$build/tests/difftest" --report --no-hand --seeds "$seeds" "$@"
