#!/usr/bin/python3
# libvirt-ref.py: ask the real libvirt 9.0 what it makes of a batch of domain XML files.
#
# Run as user nobody (difftest starts it that way). One process per batch, so libvirt's QEMU
# driver and its capability probe start once, not once per domain.
#
#   libvirt-ref.py embed ROOT JOBS.json OUT.json
#       qemu:///embed?root=ROOT: define, dumpxml --inactive, domxml-to-native (of the file as
#       given, like `virsh domxml-to-native qemu-argv FILE`), undefine.
#   libvirt-ref.py uri URI JOBS.json OUT.json
#       the same against any daemon (difftest asks qvirtd this way for its error codes).
#   libvirt-ref.py reaper /usr/sbin/libvirtd
#       run the session daemon under a child subreaper (see reaper()).
#   libvirt-ref.py session RUNTIME_DIR JOBS.json OUT.json
#       qemu:///session (the daemon difftest started): define, start --paused, dumpxml (live),
#       the QEMU argv from /proc/PID/cmdline, destroy, undefine.
#
# JOBS.json is a list of {"name": DOMAIN, "file": PATH}. OUT.json maps each name to what
# libvirt returned: a document, or {"code", "domain", "message"} for an error (the message is
# the text virsh prints after "error: ").
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time

import libvirt


def _quiet(_ctx, _err):
    # libvirt prints every error to stderr by default; they are recorded instead.
    pass


def err_dict(e):
    return {"code": e.get_error_code(), "domain": e.get_error_domain(),
            "message": e.get_error_message()}


TIMES = {}


def call(fn, *args):
    t = time.monotonic()
    try:
        return {"ok": fn(*args)}
    except libvirt.libvirtError as e:
        return {"error": err_dict(e)}
    finally:
        name = getattr(fn, "__name__", "?")
        TIMES[name] = TIMES.get(name, 0) + time.monotonic() - t


def qemu_pid(runtime, name):
    with open(os.path.join(runtime, "libvirt", "qemu", "run", name + ".pid")) as f:
        return int(f.read().strip())


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        raw = f.read()
    return [a.decode("utf-8", "surrogateescape") for a in raw.split(b"\0")[:-1]]


def define_native(uri, jobs):
    conn = libvirt.open(uri)
    out = {}
    for job in jobs:
        with open(job["file"]) as f:
            xml = f.read()
        res = {}
        d = call(conn.defineXML, xml)
        if "error" in d:
            res["define"] = d
        else:
            dom = d["ok"]
            res["define"] = {"ok": True}
            res["inactive"] = call(dom.XMLDesc, libvirt.VIR_DOMAIN_XML_INACTIVE)
            call(dom.undefine)
        res["native"] = call(conn.domainXMLToNative, "qemu-argv", xml, 0)
        out[job["name"]] = res
    conn.close()
    return out


def session(runtime, jobs):
    conn = libvirt.open("qemu:///session")
    out = {}
    for job in jobs:
        with open(job["file"]) as f:
            xml = f.read()
        res = {}
        d = call(conn.defineXML, xml)
        if "error" in d:
            res["define"] = d
            out[job["name"]] = res
            continue
        dom = d["ok"]
        res["define"] = {"ok": True}
        s = call(dom.createWithFlags, libvirt.VIR_DOMAIN_START_PAUSED)
        if "error" in s:
            res["start"] = s
        else:
            res["start"] = {"ok": True}
            res["live"] = call(dom.XMLDesc, 0)
            pid = None
            try:
                pid = qemu_pid(runtime, job["name"])
                res["argv"] = {"ok": cmdline(pid)}
            except OSError as e:
                res["argv"] = {"error": {"code": -1, "domain": -1, "message": str(e)}}
            # libvirt's destroy takes ~1.7 s a domain here and is not compared: SIGKILL QEMU
            # and undefine; the daemon cleans up the dead domain on its own.
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                # wait until libvirt has seen it die, so the next domain gets the same
                # resources (VNC port) as it would after a destroy
                deadline = time.monotonic() + 10
                while dom.isActive() and time.monotonic() < deadline:
                    time.sleep(0.01)
            if dom.isActive():
                call(dom.destroy)
        call(dom.undefine)
        out[job["name"]] = res
    conn.close()
    return out


def run_event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


def reaper(argv):
    # libvirtd daemonizes QEMU, so QEMU's parent becomes the nearest subreaper, or PID 1.
    # A PID 1 that reaps late keeps dead QEMUs as zombies, and libvirt then polls ~1.5 s
    # per destroyed domain: be that subreaper and reap at once.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    child = subprocess.Popen(argv)
    while True:
        pid, _ = os.wait()
        if pid == child.pid:
            return


def main():
    if sys.argv[1] == "reaper":
        reaper(sys.argv[2:])
        return
    mode, where, jobs_path, out_path = sys.argv[1:5]
    libvirt.registerErrorHandler(_quiet, None)
    # The embedded driver needs an event loop in this process.
    libvirt.virEventRegisterDefaultImpl()
    threading.Thread(target=run_event_loop, daemon=True).start()
    with open(jobs_path) as f:
        jobs = json.load(f)
    if mode == "embed":
        out = define_native("qemu:///embed?root=" + where, jobs)
    elif mode == "uri":
        out = define_native(where, jobs)
    else:
        out = session(where, jobs)
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.rename(tmp, out_path)
    if os.environ.get("DIFFTEST_VERBOSE"):
        sys.stderr.write("libvirt-ref.py %s: %s\n" % (mode, TIMES))


if __name__ == "__main__":
    main()
