#!/usr/bin/env bash
# qvirt's two entry points for a fresh Debian 12 machine (run as root):
#   bash run.sh demo   install what is missing, build, run the main job
#   bash run.sh test   install what is missing, build, run the whole test suite
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

# Build and run-time needs, all from Debian's packages.
PACKAGES=(
  meson ninja-build pkg-config gcc
  libglib2.0-dev libxml2-dev libjson-glib-dev libxml2-utils
  qemu-system-x86 qemu-utils
  libvirt-clients python3-libvirt libvirt0 libvirt-daemon-driver-qemu
  strace procps
)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "run.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}

# Count GTest/TAP results across every test program from meson's JSON log.
count_results() {
  /usr/bin/python3 - "$1" <<'PY'
import json, re, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        entry = json.loads(line)
        out = entry.get("stdout") or ""
        oks = re.findall(r"^(not ok|ok)\b[^\n]*", out, re.M)
        if not oks:
            # a program that printed no TAP lines counts as one result
            if entry["result"] in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif entry["result"] == "SKIP":
                skipped += 1
            else:
                failed += 1
            continue
        for line_ in oks:
            if line_.startswith("not ok"):
                failed += 1
            elif "# SKIP" in line_:
                skipped += 1
            else:
                passed += 1
        if entry["result"] not in ("OK", "EXPECTEDFAIL", "SKIP") and not any(l.startswith("not ok") for l in oks):
            failed += 1   # crashed or timed out after its last TAP line
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
}

cmd=${1:-}
case "$cmd" in
  demo)
    install_missing
    build build
    exec bash examples/demo.sh build
    ;;
  test)
    install_missing
    werror=false
    [ "${CI:-}" = "true" ] && werror=true
    build build -Dwerror=$werror
    status=0
    meson test -C build --print-errorlogs --num-processes 2 || status=$?
    count_results build/meson-logs/testlog.json
    exit $status
    ;;
  *)
    echo "usage: bash run.sh demo|test" >&2
    exit 2
    ;;
esac
