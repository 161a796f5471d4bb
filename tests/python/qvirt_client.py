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
    assert mid not in inactive_xml and "index=" not in inactive_xml, inactive_xml
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
    e = expect_error(libvirt.VIR_ERR_NO_SUPPORT, dom.reboot, 0)
    ok("unsupported call NO_SUPPORT: %s" % e.get_error_message())


STEPS = {
    "connect": step_connect,
    "no-domain": step_no_domain,
    "lifecycle": step_lifecycle,
    "bad-xml": step_bad_xml,
    "transient": step_transient,
    "threads": step_threads,
    "readonly": step_readonly,
    "api": step_api,
}


def main():
    uri, step = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if step in ("threads", "readonly"):
        args = [uri] + args
    conn = libvirt.open(uri)
    try:
        STEPS[step](conn, args)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
