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
  libvirt-clients python3-libvirt libvirt0 libvirt-daemon-driver-qemu libvirt-daemon diffutils
  strace procps iproute2
  clang libclang-rt-14-dev
  busybox-static linux-image-cloud-amd64 cpio
  virtinst e2fsprogs mount
  libguestfs-tools
  ceph-mon ceph-osd ceph-common tgt nbdkit qemu-block-extra openssl
  libiscsi-bin libvirt-daemon-driver-storage-rbd libvirt-daemon-driver-storage-iscsi-direct
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

# QEMU never runs as root: a root qvirtd runs it as this system user and group (qvirtd.conf
# `user`/`group`), with the kvm group as a supplementary one where it exists.
setup_qemu_user() {
  getent group qvirt-qemu >/dev/null || groupadd --system qvirt-qemu
  if ! getent passwd qvirt-qemu >/dev/null; then
    useradd --system --gid qvirt-qemu --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "qvirt QEMU" qvirt-qemu
  fi
  if getent group kvm >/dev/null && ! id -nG qvirt-qemu | grep -qw kvm; then
    usermod -a -G kvm qvirt-qemu
  fi
}

build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}

# Count results over meson JSON test logs: every TAP subtest of every program is one result
# (a program that printed no TAP counts once; one that crashed after its last "ok" fails once
# more). Extra results come as NAME=ok|fail arguments after "--".
count_results() {
  /usr/bin/python3 - "$@" <<'PY'
import json, os, re, sys
args = sys.argv[1:]
logs, extra = (args[:args.index("--")], args[args.index("--") + 1:]) if "--" in args else (args, [])
passed = failed = skipped = 0
for path in logs:
    if not os.path.exists(path):
        failed += 1          # a stage that never produced its log did not pass
        continue
    with open(path) as log:
        for line in log:
            entry = json.loads(line)
            tap = re.findall(r"^(not ok|ok)\b[^\n]*", entry.get("stdout") or "", re.M)
            ok = entry["result"] in ("OK", "EXPECTEDFAIL")
            if not tap:
                if ok:
                    passed += 1
                elif entry["result"] == "SKIP":
                    skipped += 1
                else:
                    failed += 1
                continue
            for t in tap:
                if t.startswith("not ok"):
                    failed += 1
                elif "# SKIP" in t:
                    skipped += 1
                else:
                    passed += 1
            if not ok and entry["result"] != "SKIP" and not any(t.startswith("not ok") for t in tap):
                failed += 1
for item in extra:
    if item.endswith("=ok"):
        passed += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
}

# One result per stage outside meson: NAME=ok or NAME=fail.
stage() {
  local name=$1; shift
  echo "run.sh: == $name"
  if "$@"; then
    extra+=("$name=ok")
  else
    extra+=("$name=fail")
    status=1
  fi
}

cmd=${1:-}
case "$cmd" in
  demo)
    install_missing
    setup_qemu_user
    build build
    exec bash examples/demo.sh build
    ;;
  test)
    # The suite, then (issue 7) the suite again under ASan+UBSan with the daemon leak check,
    # then every fuzz target for QVIRT_FUZZ_SECONDS (default 30) each.
    install_missing
    setup_qemu_user
    werror=false
    [ "${CI:-}" = "true" ] && werror=true
    build build -Dwerror=$werror
    status=0
    extra=()
    meson test -C build --print-errorlogs --num-processes 2 || status=1
    cp build/meson-logs/testlog.json build/testlog-plain.json
    asan_log=build-asan/meson-logs/testlog.json
    rm -f "$asan_log"
    stage "sanitizer-suite+leakcheck" bash tests/hardening/sanitizer-suite.sh build-asan
    export QVIRT_FUZZ_SEED=${QVIRT_FUZZ_SEED:-1}
    for target in fuzz_xdr fuzz_rpc_packet fuzz_domain_xml fuzz_qmp fuzz_image_probe fuzz_saveimage fuzz_storage_xml fuzz_secret_xml fuzz_backing_name; do
      stage "$target" bash tests/fuzz/run-fuzzers.sh "${QVIRT_FUZZ_SECONDS:-30}" "$target"
    done
    count_results build/testlog-plain.json "$asan_log" -- "${extra[@]}"
    exit $status
    ;;
  *)
    echo "usage: bash run.sh demo|test" >&2
    exit 2
    ;;
esac
