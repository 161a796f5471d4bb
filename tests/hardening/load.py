#!/usr/bin/python3
"""Load on qvirtd through python3-libvirt: N client threads, each on its own connection,
each doing OPS operations in rounds of define, lookup, dumpxml, list, undefine on its own
domains, while other threads keep querying (and one keeps restarting) running domains.

    load.py --uri URI --clients N --ops M --running NAME[,NAME...] --keep NAME[,NAME...]
            --image PATH [--churn NAME]

Prints one JSON object: operations done, failures (with a few samples), definitions lost
(--keep domains missing at the end, or client domains left behind), whether every
--running domain still runs, wall time and per-operation latencies.
"""
import argparse
import json
import sys
import threading
import time
import uuid

import libvirt

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='{image}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = 0
        self.errors = 0
        self.samples = []
        self.latencies = []

    def run(self, what, fn, *args):
        start = time.monotonic()
        try:
            result = fn(*args)
        except libvirt.libvirtError as e:
            with self.lock:
                self.ops += 1
                self.errors += 1
                if len(self.samples) < 10:
                    self.samples.append("%s: %s" % (what, e))
            return None
        elapsed = time.monotonic() - start
        with self.lock:
            self.ops += 1
            self.latencies.append(elapsed)
        return result

    def fail(self, what):
        with self.lock:
            self.errors += 1
            if len(self.samples) < 10:
                self.samples.append(what)


def client(uri, index, ops, image, stats):
    conn = libvirt.open(uri)
    done = 0
    round_ = 0
    while done < ops:
        name = "load-cl%02d-r%04d" % (index, round_)
        round_ += 1
        xml = DOMAIN_XML.format(name=name, uuid=uuid.uuid4(), image=image)
        dom = stats.run("define " + name, conn.defineXMLFlags, xml, 0)
        done += 1
        if dom is None:
            continue
        found = stats.run("lookup " + name, conn.lookupByName, name)
        done += 1
        if found is not None and found.UUIDString() != dom.UUIDString():
            stats.fail("lookup %s: wrong domain" % name)
        desc = stats.run("dumpxml " + name, dom.XMLDesc, 0)
        done += 1
        if desc is not None and "<name>%s</name>" % name not in desc:
            stats.fail("dumpxml %s: wrong document" % name)
        listed = stats.run("list", conn.listAllDomains, 0)
        done += 1
        if listed is not None and name not in [d.name() for d in listed]:
            stats.fail("list: %s missing" % name)
        stats.run("undefine " + name, dom.undefine)
        done += 1
    conn.close()


def watcher(uri, names, stop, stats):
    """Keep asking about the running domains: none of it may fail or block."""
    conn = libvirt.open(uri)
    doms = [conn.lookupByName(n) for n in names]
    while not stop.is_set():
        for dom in doms:
            state = stats.run("state " + dom.name(), dom.state)
            if state is not None and state[0] != libvirt.VIR_DOMAIN_RUNNING:
                stats.fail("%s not running: %s" % (dom.name(), state))
            stats.run("info " + dom.name(), dom.info)
            stats.run("live dumpxml " + dom.name(), dom.XMLDesc, 0)
    conn.close()


def churner(uri, name, stop, stats):
    """Destroy and start one domain over and over."""
    conn = libvirt.open(uri)
    dom = conn.lookupByName(name)
    cycles = 0
    while not stop.is_set():
        stats.run("destroy " + name, dom.destroy)
        stats.run("start " + name, dom.create)
        cycles += 1
    conn.close()
    return cycles


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--ops", type=int, default=60)
    ap.add_argument("--running", default="")
    ap.add_argument("--keep", default="")
    ap.add_argument("--churn", default="")
    ap.add_argument("--image", required=True)
    args = ap.parse_args()
    running = [n for n in args.running.split(",") if n]
    keep = [n for n in args.keep.split(",") if n]

    stats = Stats()
    bg_stats = Stats()
    stop = threading.Event()
    background = []
    if running:
        background.append(threading.Thread(target=watcher,
                                           args=(args.uri, running, stop, bg_stats)))
    if args.churn:
        background.append(threading.Thread(target=churner,
                                           args=(args.uri, args.churn, stop, bg_stats)))
    for t in background:
        t.start()

    start = time.monotonic()
    clients = [threading.Thread(target=client, args=(args.uri, i, args.ops, args.image, stats))
               for i in range(args.clients)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    wall = time.monotonic() - start
    stop.set()
    for t in background:
        t.join()

    conn = libvirt.open(args.uri)
    names = set(conn.listDefinedDomains()) | {d.name() for d in conn.listAllDomains(0)}
    lost = [n for n in keep + running + ([args.churn] if args.churn else []) if n not in names]
    leftover = sorted(n for n in names if n.startswith("load-cl"))
    if args.churn:
        # The churner may have been stopped between destroy and start.
        dom = conn.lookupByName(args.churn)
        if not dom.isActive():
            dom.create()
    not_running = [n for n in running if not conn.lookupByName(n).isActive()]
    conn.close()

    lat = sorted(stats.latencies) or [0.0]
    print(json.dumps({
        "clients": args.clients,
        "ops": stats.ops,
        "errors": stats.errors,
        "error_samples": stats.samples,
        "background_ops": bg_stats.ops,
        "background_errors": bg_stats.errors,
        "background_error_samples": bg_stats.samples,
        "lost": lost,
        "leftover": leftover,
        "not_running": not_running,
        "seconds": round(wall, 2),
        "ops_per_second": round(stats.ops / wall, 1) if wall else 0,
        "latency_ms_p50": round(1000 * lat[len(lat) // 2], 2),
        "latency_ms_p99": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
        "latency_ms_max": round(1000 * lat[-1], 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
