#!/usr/bin/python3
"""python3-libvirt against qvirtd, driven by tests/pythontest.c.

usage: qvirt_client.py URI STEP [ARGS...]

Each step asserts what a libvirt user would rely on and prints one line per
check ("ok: ..."), so the C side can require the lines it expects. Any failed
assertion or unexpected exception exits non-zero with a traceback.
"""
import sys
import threading
import time

import libvirt


def ok(msg):
    print("ok: " + msg, flush=True)


def expect_error(code, fn, *args):
    """Call FN and require a libvirtError with CODE; returns the error."""
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        assert e.get_error_code() == code, (e.get_error_code(), e.get_error_message())
        return e
    raise AssertionError("%s did not raise (expected code %d)" % (fn.__name__, code))


def step_connect(conn, args):
    assert conn.getType() == "QEMU", conn.getType()
    assert conn.getLibVersion() >= 9000000
    assert conn.getVersion() >= 7000000, conn.getVersion()
    assert conn.isAlive() == 1
    caps = conn.getCapabilities()
    assert "<capabilities>" in caps, caps[:200]
    ok("connect type=%s hv=%d" % (conn.getType(), conn.getVersion()))


def step_no_domain(conn, args):
    e = expect_error(libvirt.VIR_ERR_NO_DOMAIN, conn.lookupByName, "nosuch")
    assert "Domain not found" in e.get_error_message(), e.get_error_message()
    ok("lookupByName NO_DOMAIN code=%d message=%s" % (e.get_error_code(), e.get_error_message()))
    e = expect_error(libvirt.VIR_ERR_NO_DOMAIN, conn.lookupByUUIDString,
                     "00000000-1111-2222-3333-444444444444")
    ok("lookupByUUIDString NO_DOMAIN code=%d" % e.get_error_code())
    e = expect_error(libvirt.VIR_ERR_NO_DOMAIN, conn.lookupByID, 4242)
    ok("lookupByID NO_DOMAIN code=%d" % e.get_error_code())


def chain_checks(xml, mid, base):
    assert "index='2'" in xml and "index='3'" in xml, xml
    assert xml.index(mid) < xml.index(base), xml
    assert "<backingStore/>" in xml[xml.index(base):], xml


def step_lifecycle(conn, args):
    xml_path, name, mid, base = args
    with open(xml_path) as f:
        xml = f.read()
    dom = conn.defineXML(xml)
    assert dom.name() == name
    assert dom.isActive() == 0 and dom.isPersistent() == 1
    assert dom.ID() == -1
    names = [d.name() for d in conn.listAllDomains()]
    assert name in names, names
    inactive = [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE)]
    assert name in inactive, inactive
    ok("defineXML and listAllDomains")

    dom.create()
    assert dom.isActive() == 1
    assert dom.ID() > 0, dom.ID()
    state, reason = dom.state()
    assert state == libvirt.VIR_DOMAIN_RUNNING, (state, reason)
    info = dom.info()
    assert info[0] == libvirt.VIR_DOMAIN_RUNNING and info[1] == 65536 and info[3] == 1, info
    active = [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)]
    assert name in active, active
    assert conn.lookupByID(dom.ID()).name() == name
    assert conn.lookupByUUIDString(dom.UUIDString()).name() == name
    ok("create running id=%d" % dom.ID())

    live = dom.XMLDesc(0)
    chain_checks(live, mid, base)
    inactive_xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert mid not in inactive_xml and "qcow2' index=" not in inactive_xml, inactive_xml
    ok("XMLDesc live chain with indexes, inactive without")

    e = expect_error(libvirt.VIR_ERR_OPERATION_INVALID, dom.create)
    ok("create twice OPERATION_INVALID: %s" % e.get_error_message())

    dom.destroy()
    assert dom.isActive() == 0
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    e = expect_error(libvirt.VIR_ERR_OPERATION_INVALID, dom.destroy)
    ok("destroy, then destroy again OPERATION_INVALID: %s" % e.get_error_message())

    dom.undefine()
    expect_error(libvirt.VIR_ERR_NO_DOMAIN, conn.lookupByName, name)
    assert name not in [d.name() for d in conn.listAllDomains()]
    ok("undefine")


def step_bad_xml(conn, args):
    e = expect_error(libvirt.VIR_ERR_XML_ERROR, conn.defineXML, "<domain type='qemu'><name>x</na")
    ok("defineXML malformed XML_ERROR: %s" % e.get_error_message())
    xml_path = args[0]
    with open(xml_path) as f:
        xml = f.read()
    try:
        conn.defineXML(xml)
    except libvirt.libvirtError as e:
        assert "'fast'" in e.get_error_message(), e.get_error_message()
        ok("defineXML bad cache code=%d: %s" % (e.get_error_code(), e.get_error_message()))
    else:
        raise AssertionError("bad cache mode accepted")


def step_transient(conn, args):
    xml_path, name = args
    with open(xml_path) as f:
        xml = f.read()
    dom = conn.createXML(xml, 0)
    assert dom.isActive() == 1 and dom.isPersistent() == 0
    assert name in [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)]
    ok("createXML transient running")
    dom.destroy()
    expect_error(libvirt.VIR_ERR_NO_DOMAIN, conn.lookupByName, name)
    ok("transient gone after destroy")

    # VIR_DOMAIN_START_AUTODESTROY: the run ends with the connection that started it,
    # not with any other connection
    starter = libvirt.open(sys.argv[1])
    starter.createXML(xml, libvirt.VIR_DOMAIN_START_AUTODESTROY)
    bystander = libvirt.open(sys.argv[1])
    bystander.close()
    assert conn.lookupByName(name).isActive() == 1
    starter.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn.lookupByName(name)
        except libvirt.libvirtError as e:
            assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
            break
        time.sleep(0.05)
    else:
        raise AssertionError("autodestroy domain still there")
    ok("autodestroy domain gone with its connection")

    dom = conn.createXML(xml, 0)
    dom.destroyFlags(libvirt.VIR_DOMAIN_DESTROY_GRACEFUL)
    expect_error(libvirt.VIR_ERR_NO_DOMAIN, conn.lookupByName, name)
    ok("graceful destroy")


def step_threads(conn, args):
    """Calls from several threads on one connection, and several connections."""
    uri = args[0]
    errors = []

    def worker(c):
        try:
            for _ in range(50):
                assert c.getType() == "QEMU"
                c.listAllDomains()
                try:
                    c.lookupByName("nosuch")
                except libvirt.libvirtError as e:
                    assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
        except Exception as e:  # reported by the main thread
            errors.append(repr(e))

    others = [libvirt.open(uri) for _ in range(3)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in [conn, conn] + others]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in others:
        c.close()
    assert not errors, errors
    ok("threads 5x50 calls in %.2fs" % (time.monotonic() - start))


def step_readonly(conn, args):
    """A read-only connection reads but cannot change anything."""
    uri, xml_path = args
    ro = libvirt.openReadOnly(uri)
    try:
        with open(xml_path) as f:
            xml = f.read()
        e = expect_error(libvirt.VIR_ERR_OPERATION_DENIED, ro.defineXML, xml)
        assert "read only" in e.get_error_message(), e.get_error_message()
        assert ro.listAllDomains() is not None
        expect_error(libvirt.VIR_ERR_NO_DOMAIN, ro.lookupByName, "nosuch")
        ok("read-only define OPERATION_DENIED: %s" % e.get_error_message())
    finally:
        ro.close()


def step_rosocket(conn, args):
    """The read-only socket: reads work, every change is OPERATION_DENIED, whether the
    connection was opened read-only or not (the socket decides)."""
    ro_uri, xml_path, name = args
    with open(xml_path) as f:
        xml = f.read()
    dom = conn.defineXML(xml)
    try:
        for opener in (libvirt.openReadOnly, libvirt.open):
            ro = opener(ro_uri)
            try:
                names = [d.name() for d in ro.listAllDomains()]
                assert name in names, names
                rdom = ro.lookupByName(name)
                assert rdom.UUIDString() == dom.UUIDString()
                assert "<name>%s</name>" % name in rdom.XMLDesc(0)
                e = expect_error(libvirt.VIR_ERR_OPERATION_DENIED, ro.defineXML, xml)
                assert "read only" in e.get_error_message(), e.get_error_message()
                expect_error(libvirt.VIR_ERR_OPERATION_DENIED, rdom.create)
                expect_error(libvirt.VIR_ERR_OPERATION_DENIED, rdom.destroy)
                expect_error(libvirt.VIR_ERR_OPERATION_DENIED, rdom.undefine)
                assert dom.isActive() == 0
                ok("%s on the ro socket: list and dumpxml work, define/start/destroy/undefine "
                   "OPERATION_DENIED" % opener.__name__)
            finally:
                ro.close()
    finally:
        dom.undefine()
    assert name not in [d.name() for d in conn.listAllDomains()]


def step_api(conn, args):
    """The older and smaller calls python3-libvirt offers, on a running domain."""
    xml_path, name = args
    with open(xml_path) as f:
        xml = f.read()
    dom = conn.defineXMLFlags(xml, 0)
    assert conn.numOfDefinedDomains() >= 1 and name in conn.listDefinedDomains()
    running_before = conn.numOfDomains()
    dom.createWithFlags(0)
    assert conn.numOfDomains() == running_before + 1
    assert dom.ID() in conn.listDomainsID(), (dom.ID(), conn.listDomainsID())
    assert name not in conn.listDefinedDomains()
    assert conn.lookupByID(dom.ID()).UUIDString() == dom.UUIDString()
    assert dom.OSType() == "hvm"
    assert dom.maxMemory() == 65536, dom.maxMemory()
    assert dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_MAXIMUM) == 1
    assert dom.autostart() == 0 and dom.hasManagedSaveImage() == 0 and dom.isUpdated() == 0
    assert conn.getURI().startswith("qemu:///system"), conn.getURI()
    assert conn.getHostname() and conn.isSecure() == 1
    assert conn.getInfo()[0] == "x86_64"
    ok("legacy listing, lookups and small queries")
    dom.destroyFlags(0)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    dom.undefineFlags(0)
    expect_error(libvirt.VIR_ERR_NO_DOMAIN, dom.info)
    expect_error(libvirt.VIR_ERR_NO_DOMAIN, dom.OSType)
    ok("destroyFlags, undefineFlags, and NO_DOMAIN for a stale handle")
    e = expect_error(libvirt.VIR_ERR_NO_SUPPORT, dom.schedulerType)
    ok("unsupported call NO_SUPPORT: %s" % e.get_error_message())


class EventLoop:
    """libvirt's default event loop in a thread, recording lifecycle events."""

    def __init__(self):
        self.events = []
        self.thresholds = []
        self.tunables = []
        self.cond = threading.Condition()
        libvirt.virEventRegisterDefaultImpl()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            libvirt.virEventRunDefaultImpl()

    def lifecycle(self, conn, dom, event, detail, opaque):
        with self.cond:
            self.events.append((dom.name(), event, detail))
            self.cond.notify_all()

    def threshold(self, conn, dom, dev, path, threshold, excess, opaque):
        with self.cond:
            self.thresholds.append((dev, path, threshold, excess))
            self.cond.notify_all()

    def tunable(self, conn, dom, params, opaque):
        with self.cond:
            self.tunables.append(params)
            self.cond.notify_all()

    def wait_tunables(self, count, timeout=10):
        """Wait for COUNT tunable events; returns them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.tunables) < count:
                left = deadline - time.monotonic()
                assert left > 0, ("tunable events", self.tunables)
                self.cond.wait(left)
            return list(self.tunables)

    def wait_thresholds(self, count, timeout=20):
        """Wait for COUNT block threshold events; returns them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.thresholds) < count:
                left = deadline - time.monotonic()
                assert left > 0, ("block threshold events", self.thresholds)
                self.cond.wait(left)
            return list(self.thresholds)

    def wait_for(self, name, event, detail, timeout=10):
        """Wait for EVENT/DETAIL of NAME; returns the events seen so far."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while (name, event, detail) not in self.events:
                left = deadline - time.monotonic()
                assert left > 0, ("no event", event, detail, self.events)
                self.cond.wait(left)
            return list(self.events)


def step_verbs(conn, args):
    """suspend/resume/shutdown/reboot/reset, block info and stats, lifecycle events."""
    xml_path, name, top, virtual_size = args
    virtual_size = int(virtual_size)
    loop = STATE["loop"]
    E = libvirt
    cb = conn.domainEventRegisterAny(None, E.VIR_DOMAIN_EVENT_ID_LIFECYCLE, loop.lifecycle, None)
    with open(xml_path) as f:
        dom = conn.defineXML(f.read())
    # inactive: info from the images
    cap, alloc, phys = dom.blockInfo("vda")
    assert cap == virtual_size and phys > 0 and alloc > 0, (cap, alloc, phys)
    e = expect_error(E.VIR_ERR_OPERATION_INVALID, dom.suspend)
    assert "domain is not running" in e.get_error_message(), e.get_error_message()
    e = expect_error(E.VIR_ERR_OPERATION_INVALID, dom.blockStats, "vda")
    ok("inactive: blockInfo capacity=%d, suspend/blockStats OPERATION_INVALID: %s"
       % (cap, e.get_error_message()))

    dom.create()
    dom.suspend()
    assert dom.state() == [E.VIR_DOMAIN_PAUSED, E.VIR_DOMAIN_PAUSED_USER], dom.state()
    dom.suspend()  # already paused: success, as libvirt
    dom.resume()
    assert dom.state() == [E.VIR_DOMAIN_RUNNING, E.VIR_DOMAIN_RUNNING_UNPAUSED], dom.state()
    e = expect_error(E.VIR_ERR_OPERATION_INVALID, dom.resume)
    assert "domain is already running" in e.get_error_message(), e.get_error_message()
    ok("suspend paused/user, resume running/unpaused, resume again: %s" % e.get_error_message())

    cap, alloc, phys = dom.blockInfo("vda")
    assert cap == virtual_size and alloc > 0 and phys > 0, (cap, alloc, phys)
    assert dom.blockInfo(top)[0] == virtual_size
    e = expect_error(E.VIR_ERR_INVALID_ARG, dom.blockInfo, "vdz")
    ok("blockInfo running capacity=%d allocation=%d physical=%d; vdz: %s"
       % (cap, alloc, phys, e.get_error_message()))

    # SeaBIOS reads the boot sector: the read counters grow without a guest OS.
    deadline = time.monotonic() + 20
    while True:
        st = dom.blockStatsFlags("vda", 0)
        if st["rd_operations"] >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    keys = ["wr_bytes", "wr_operations", "rd_bytes", "rd_operations", "flush_operations",
            "wr_total_times", "rd_total_times", "flush_total_times"]
    assert sorted(st) == sorted(keys), st
    assert st["rd_operations"] >= 1 and st["rd_bytes"] >= 512, st
    old = dom.blockStats("vda")
    assert old[0] >= 1 and old[1] >= 512, old
    e = expect_error(E.VIR_ERR_INVALID_ARG, dom.blockStats, "vdz")
    ok("blockStatsFlags %s; blockStats %s; vdz: %s" % (
        " ".join("%s=%d" % (k, st[k]) for k in keys[2:5]), old[:4], e.get_error_message()))

    recs = conn.domainListGetStats([dom], E.VIR_DOMAIN_STATS_STATE | E.VIR_DOMAIN_STATS_BLOCK)
    assert len(recs) == 1 and recs[0][0].name() == name, recs
    rec = recs[0][1]
    assert rec["state.state"] == E.VIR_DOMAIN_RUNNING and rec["block.count"] == 1, rec
    assert rec["block.0.name"] == "vda" and rec["block.0.path"] == top, rec
    assert rec["block.0.capacity"] == virtual_size and rec["block.0.rd.reqs"] >= 1, rec
    every = conn.getAllDomainStats(E.VIR_DOMAIN_STATS_VCPU,
                                   E.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
    assert name in [d.name() for d, _ in every], every
    e = expect_error(E.VIR_ERR_OPERATION_UNSUPPORTED, conn.getAllDomainStats,
                     E.VIR_DOMAIN_STATS_PERF, E.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS)
    ok("domainListGetStats block.0.capacity=%d rd.reqs=%d; enforce perf: %s"
       % (rec["block.0.capacity"], rec["block.0.rd.reqs"], e.get_error_message()))

    dom.blockResize("vda", 2 * virtual_size, E.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
    assert dom.blockInfo("vda")[0] == 2 * virtual_size, dom.blockInfo("vda")
    ok("blockResize to %d" % (2 * virtual_size))

    dom.shutdown()
    dom.shutdownFlags(E.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
    dom.reset(0)
    dom.reboot(0)
    # No guest OS answers ACPI: the domain keeps running, as with libvirt.
    assert dom.state()[0] == E.VIR_DOMAIN_RUNNING, dom.state()
    e = expect_error(E.VIR_ERR_INVALID_ARG, dom.reset, 1)
    ok("shutdown, shutdownFlags(ACPI), reset, reboot accepted; still running; reset(1): %s"
       % e.get_error_message())

    e = expect_error(E.VIR_ERR_NO_DOMAIN_METADATA, dom.metadata,
                     E.VIR_DOMAIN_METADATA_DESCRIPTION, None)
    ok("metadata without <description>: code=%d %s" % (e.get_error_code(), e.get_error_message()))
    assert dom.controlInfo() == [E.VIR_DOMAIN_CONTROL_OK, 0, 0], dom.controlInfo()
    assert dom.jobStats() == {"type": E.VIR_DOMAIN_JOB_NONE}, dom.jobStats()
    mem = dom.memoryStats()
    assert mem["actual"] == 65536 and mem["rss"] > 1024, mem
    ok("controlInfo ok, jobStats none, memoryStats actual=%d rss>0" % mem["actual"])

    dom.destroy()
    e = expect_error(E.VIR_ERR_OPERATION_INVALID, dom.shutdown)
    expect_error(E.VIR_ERR_OPERATION_INVALID, dom.memoryStats)
    dom.undefine()
    events = loop.wait_for(name, E.VIR_DOMAIN_EVENT_UNDEFINED, 0)
    mine = [(ev, det) for n, ev, det in events if n == name]
    want = [(E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED),
            (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
            (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
            (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
            (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
            (E.VIR_DOMAIN_EVENT_UNDEFINED, E.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)]
    assert mine == want, mine
    conn.domainEventDeregisterAny(cb)
    ok("lifecycle events %s" % mine)


def step_block_threshold(conn, args):
    """The throttle through the typed-parameter calls, then virDomainSetBlockThreshold and
    its BLOCK_THRESHOLD event, crossed by a block pull writing into the top (no guest)."""
    name, top, index = args
    loop = STATE["loop"]
    dom = conn.lookupByName(name)
    live = libvirt.VIR_DOMAIN_AFFECT_LIVE
    tid = conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_TUNABLE,
                                      loop.tunable, None)
    dom.setBlockIoTune("vda", {"total_iops_sec": 2000, "group_name": "g1"}, live)
    # only a live change is announced
    dom.setBlockIoTune("vda", {"total_iops_sec": 2000}, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    tunables = loop.wait_tunables(1)
    time.sleep(0.2)
    conn.domainEventDeregisterAny(tid)
    assert loop.tunables == [{"blkdeviotune.disk": "vda", "blkdeviotune.total_iops_sec": 2000,
                              "blkdeviotune.group_name": "g1"}], loop.tunables
    ok("tunable event %s" % tunables)
    tune = dom.blockIoTune("vda", live)
    assert len(tune) == 20, tune
    assert tune["total_iops_sec"] == 2000 and tune["group_name"] == "g1", tune
    e = expect_error(libvirt.VIR_ERR_INVALID_ARG, dom.setBlockIoTune, "vda",
                     {"total_bytes_sec": 5, "read_bytes_sec": 1}, live)
    ok("blockIoTune %d fields, refused: %s" % (len(tune), e.get_error_message()))
    # all zero: no throttle and no group (the pull below runs at full speed)
    dom.setBlockIoTune("vda", {"total_iops_sec": 0}, live)
    tune = dom.blockIoTune("vda", live)
    assert tune["total_iops_sec"] == 0 and tune["group_name"] == "", tune

    cid = conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD,
                                      loop.threshold, None)
    dom.setBlockThreshold("vda", 1 << 20, 0)
    dom.blockPull("vda", 0, 0)
    events = loop.wait_thresholds(2)
    deadline = time.monotonic() + 20
    while dom.blockJobInfo("vda", 0):
        assert time.monotonic() < deadline, "block pull did not end"
        time.sleep(0.05)
    conn.domainEventDeregisterAny(cid)
    names = [(dev, path, threshold) for dev, path, threshold, _ in events]
    assert names == [("vda", top, 1 << 20), ("vda[%s]" % index, top, 1 << 20)], events
    assert all(excess > 0 for _, _, _, excess in events), events
    ok("block threshold events %s" % names)


STATE = {}

STEPS = {
    "connect": step_connect,
    "no-domain": step_no_domain,
    "lifecycle": step_lifecycle,
    "bad-xml": step_bad_xml,
    "transient": step_transient,
    "threads": step_threads,
    "readonly": step_readonly,
    "rosocket": step_rosocket,
    "api": step_api,
    "verbs": step_verbs,
    "block-threshold": step_block_threshold,
}


def main():
    uri, step = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if step in ("threads", "readonly"):
        args = [uri] + args
    if step in ("verbs", "block-threshold"):
        # Before the connection opens, so that it delivers events.
        STATE["loop"] = EventLoop()
    conn = libvirt.open(uri)
    try:
        STEPS[step](conn, args)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
