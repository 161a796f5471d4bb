"""bench/benchlib.py: what the benches that boot a guest under the build's qvirtd and under
libvirt 9.0's session daemon (run as nobody) share: the guest (Debian's kernel with a busybox
initramfs built here), its serial console, the daemons and virsh against each.

Not a bench itself: bench/migrate and bench/blockcopy import it.
"""
import glob
import os
import re
import statistics
import subprocess
import sys
import time

PATH = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
MODULES = ["kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
           "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
           "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
           "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/block/virtio_blk.ko"]


def cpio(entries):
    """A newc archive of (name, mode, data) entries."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(entries, 1):
        hdr = "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X" % (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0)
        out += hdr.encode() + name.encode() + b"\0"
        out += b"\0" * ((4 - len(out) % 4) % 4)
        out += data
        out += b"\0" * ((4 - len(out) % 4) % 4)
    return bytes(out)


def init_script(marker, fill_mib=0):
    """A busybox /init that fills FILL_MIB of the guest's memory with random bytes, says
    MARKER on the console and idles."""
    fill = ("dd if=/dev/urandom of=/fill bs=1M count=%d 2>/dev/null\n" % fill_mib
            if fill_mib else "")
    return ("#!/bin/busybox sh\n/bin/busybox --install -s /bin\n"
            "mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev\n"
            "%secho %s\nwhile true; do sleep 10; done\n" % (fill, marker))


def initrd(path, init, who):
    """Write a busybox initramfs whose /init is INIT to PATH; return the kernel to boot it."""
    for k in sorted(glob.glob("/boot/vmlinuz-*")):
        mods = "/lib/modules/" + k[len("/boot/vmlinuz-"):]
        if os.path.isdir(mods):
            break
    else:
        sys.exit("%s: no kernel with modules in /boot" % who)
    entries = [(d, 0o40755, b"") for d in ("bin", "lib", "proc", "sys", "dev")]
    entries.append(("bin/busybox", 0o100755, open("/bin/busybox", "rb").read()))
    entries.append(("init", 0o100755, init.encode()))
    for m in MODULES:
        entries.append(("lib/" + os.path.basename(m), 0o100644,
                        open(os.path.join(mods, m), "rb").read()))
    entries.append(("TRAILER!!!", 0, b""))
    with open(path, "wb") as f:
        f.write(cpio(entries))
    return k


def guest_xml(name, mib, kernel, initrd, disk, machine="pc", cache="none"):
    """A domain booting KERNEL with INITRD, its vda the qcow2 DISK, its console a pty."""
    return """<domain type='qemu'><name>%s</name><memory unit='MiB'>%d</memory>
  <vcpu>1</vcpu><os><type arch='x86_64' machine='%s'>hvm</type><kernel>%s</kernel>
  <initrd>%s</initrd><cmdline>console=ttyS0 quiet</cmdline></os><devices>
  <emulator>/usr/bin/qemu-system-x86_64</emulator>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'%s/>
  <source file='%s'/><target dev='vda' bus='virtio'/></disk>
  <serial type='pty'><target port='0'/></serial>
  </devices></domain>
""" % (name, mib, machine, kernel, initrd, " cache='%s'" % cache if cache else "", disk)


def wait_console(virsh, name, marker, failure):
    """Read domain NAME's serial console (a pty) until MARKER shows; exit with FAILURE if not."""
    pty = re.search(r"<source path='([^']+)'", virsh("dumpxml", name)).group(1)
    fd = os.open(pty, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    want, seen, deadline = marker.encode(), b"", time.time() + 300
    try:
        while want not in seen and time.time() < deadline:
            try:
                seen += os.read(fd, 4096)
            except BlockingIOError:
                time.sleep(0.2)
    finally:
        os.close(fd)
    if want not in seen:
        sys.exit(failure)


def start_qvirtd(qvirtd, d, conf=None):
    """Start QVIRTD with --root D and CONF (if any) as its qvirtd.conf; return the process
    and its URI."""
    if conf is not None:
        os.makedirs(os.path.join(d, "etc"))
        with open(os.path.join(d, "etc", "qvirtd.conf"), "w") as f:
            f.write(conf)
    p = subprocess.Popen([qvirtd, "--root", d], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    return p, "qemu:///system?socket=%s/run/qvirt-sock" % d


def stop_qvirtd(p):
    p.terminate()
    p.wait()


def qvirt_virsh(uri, prefix=()):
    """virsh against URI as a function: virsh(*args) -> stdout, RuntimeError on failure.
    PREFIX is run before virsh (a runuser to match the libvirt side's process chain)."""
    env = dict(os.environ, LC_ALL="C")

    def virsh(*a):
        r = subprocess.run(list(prefix) + ["virsh", "-c", uri] + list(a), env=env,
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("virsh %s: %s" % (" ".join(a), r.stderr.strip()))
        return r.stdout
    return virsh


def libvirt_home(d, libvirtd_conf="", qemu_conf=""):
    """Directories (and config) of a session daemon of nobody's under D; chown them after."""
    for sub in ("run", "config/libvirt", "cache"):
        os.makedirs(os.path.join(d, sub))
    for name, text in (("libvirtd.conf", libvirtd_conf), ("qemu.conf", qemu_conf)):
        if text:
            with open(os.path.join(d, "config", "libvirt", name), "w") as f:
                f.write(text)
    os.chmod(os.path.join(d, "run"), 0o700)


def libvirt_env(d):
    """runuser + env argv that runs a command as nobody with the session daemon's home D."""
    return ["runuser", "-u", "nobody", "--", "env", "-i", PATH, "HOME=" + d,
            "XDG_RUNTIME_DIR=" + os.path.join(d, "run"),
            "XDG_CONFIG_HOME=" + os.path.join(d, "config"),
            "XDG_CACHE_HOME=" + os.path.join(d, "cache"), "LC_ALL=C"]


def libvirt_uri(d):
    return "qemu+unix:///session?socket=%s/run/libvirt/libvirt-sock" % d


def libvirt_virsh(d):
    """virsh -c qemu:///session as nobody with home D (which starts its session daemon)."""
    def virsh(*a):
        r = subprocess.run(libvirt_env(d) + ["virsh", "-c", "qemu:///session"] + list(a),
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("libvirt virsh %s: %s" % (" ".join(a), r.stderr.strip()))
        return r.stdout
    return virsh


def stop_libvirt(d):
    """Stop the session daemon of home D, by the pid it wrote."""
    try:
        pid = int(open(os.path.join(d, "run", "libvirt", "libvirtd.pid")).read())
        os.kill(pid, 15)
    except (OSError, ValueError):
        pass


def destroy_quietly(virsh, name):
    try:
        virsh("destroy", name)
    except RuntimeError:
        pass


def versions():
    """(QEMU's first --version line, virsh's version)"""
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]
    ver = subprocess.run(["virsh", "--version"], capture_output=True, text=True).stdout.strip()
    return qemu, ver


def median(values):
    return statistics.median(values)
