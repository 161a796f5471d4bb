#!/usr/bin/env bash
# qvirt's main demo: the real virsh driving qvirtd.
#
#   bash examples/demo.sh BUILDDIR
#
# Starts qvirtd with --root under a fresh directory in /var/tmp (cache='none'
# needs O_DIRECT, which /tmp may lack when it is a tmpfs on older kernels),
# builds a 3-layer qcow2 chain with qemu-img, then with virsh: define a domain
# on it with cache='none', start it, show the live XML with the probed chain,
# show the QEMU command line, destroy, undefine. Stops the daemon and removes
# everything it made, also when a step fails.
set -euo pipefail

builddir=$(readlink -f "${1:-build}")
qvirtd="$builddir/tools/qvirtd"
[ -x "$qvirtd" ] || { echo "demo: $qvirtd not found (build first: meson setup build && ninja -C build)" >&2; exit 1; }

root=$(mktemp -d /var/tmp/qvirt-demo-XXXXXX)
# As root, qvirtd runs QEMU as the unprivileged qvirt-qemu user: it relabels the images,
# never the directories leading to them, so these must be searchable (mktemp makes 0700).
chmod 755 "$root"
sock="$root/run/qvirt-sock"
uri="qemu:///system?socket=$sock"
daemon_pid=

cleanup() {
  local status=$?
  # A failed step may leave QEMU running: its pid is in the domain's status file.
  if [ -f "$root/run/qemu/demo.xml" ]; then
    qemu_pid=$(sed -n "s/.* pid='\([0-9]*\)'.*/\1/p" "$root/run/qemu/demo.xml" | head -1)
    [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null || true
  fi
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
  fi
  rm -rf "$root"
  exit $status
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
vsh() { printf "\$ virsh -c '%s' %s\n" "$uri" "$*"; virsh -c "$uri" "$@"; }

step "start qvirtd with --root $root"
"$qvirtd" --root "$root" > "$root/qvirtd.out" 2> "$root/qvirtd.err" &
daemon_pid=$!
for _ in $(seq 100); do
  grep -q '^qvirtd: listening on' "$root/qvirtd.out" 2>/dev/null && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$root/qvirtd.err" >&2; exit 1; }
  sleep 0.05
done
cat "$root/qvirtd.out"

step "a 3-layer qcow2 chain: base <- mid <- top"
img="$root/images"
mkdir -p "$img"
run qemu-img create -q -f qcow2 "$img/base.qcow2" 64M
run qemu-img create -q -f qcow2 -b "$img/base.qcow2" -F qcow2 "$img/mid.qcow2"
run qemu-img create -q -f qcow2 -b "$img/mid.qcow2" -F qcow2 "$img/top.qcow2"

cat > "$root/demo.xml" <<EOF
<domain type='qemu'>
  <name>demo</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='$img/top.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF

step "define the domain (cache='none' on the top image)"
vsh define "$root/demo.xml"
vsh list --all

step "start it: qvirtd probes the chain once, checks O_DIRECT on every layer, spawns QEMU"
vsh start demo
vsh domstate demo
vsh domblklist demo

step "the live XML: every layer of the chain with its index, ending in <backingStore/>"
vsh dumpxml demo | sed -n '/<disk /,/<\/disk>/p'

step "the running QEMU's disk arguments: a -blockdev pair per layer, deepest first, cache.direct on each"
qemu_pid=$(sed -n "s/.* pid='\([0-9]*\)'.*/\1/p" "$root/run/qemu/demo.xml" | head -1)
echo "(from /proc/$qemu_pid/cmdline)"
tr '\0' '\n' < "/proc/$qemu_pid/cmdline" |
  awk 'prev == "-blockdev" || (prev == "-device" && /virtio-blk/) { print prev " " $0 } { prev = $0 }'

step "QEMU never runs as root: its credentials, and the chain's owners while it runs"
grep -E '^(Uid|Gid|CapEff|NoNewPrivs):' "/proc/$qemu_pid/status"
run ls -l "$img"

step "domxml-to-native qemu-argv: the command line from the XML alone, as libvirt builds it"
vsh domxml-to-native qemu-argv "$root/demo.xml" | tr ' ' '\n' |
  awk 'prev == "-blockdev" { print prev " " $0 } { prev = $0 }'

step "destroy and undefine"
vsh destroy demo
echo "(the chain's original owners are back)"
run ls -l "$img"
vsh undefine demo
vsh list --all

step "stop qvirtd"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=
cat "$root/qvirtd.out" | tail -1
echo
echo "demo: done (removed $root)"
