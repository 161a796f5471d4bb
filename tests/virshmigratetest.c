/*
 * virshmigratetest.c: live migration between two real qvirtd daemons on this machine
 * (each with its own --root and host_uuid, standing for two hosts sharing the images),
 * driven by the real virsh (virsh migrate --live: client-managed v3 with parameters; with
 * --p2p the source daemon drives it, and python3-libvirt's migrateToURI3 does the same).
 * A booted guest (the test kernel and a busybox initramfs) writes a counter to a raw disk
 * ten times a second: it keeps advancing on the destination after the switch. The
 * destination's live chain equals QEMU's block nodes there, the source has no domain left
 * (or an inactive one), and refused migrations (same host UUID, an image the destination
 * cannot open) leave everything as it was.
 *
 * Over TCP: both daemons also listen on 127.0.0.1 (qvirtd.conf's listen_tcp, auth_tcp
 * "none"); virsh and python3-libvirt reach B on qemu+tcp, virsh migrates to it itself and
 * the daemons migrate peer-to-peer to each other's qemu+tcp URI. The source's keepalive
 * (1 s, 3 PINGs) gives up on a destination daemon frozen with SIGSTOP; the guest runs on.
 *
 * Ports: incoming migrations listen on 127.0.0.1, ports 21000-21149 only (moved by
 * QVIRT_MIGRATE_TEST_PORT_BASE: migratetestutils.h); the daemons'
 * TCP listeners on 127.0.0.1:22010-22011 (22012: a daemon refused to listen there).
 */
#include "migratetestutils.h"

static Host hostC = {.tag = "c"};

#define TCP_PORT_A 22010
#define TCP_PORT_B 22011
#define TCP_PORT_REFUSED 22012
#define TCP_URI(port) "qemu+tcp://127.0.0.1:" G_STRINGIFY(port) "/system"
/* libvirtd.conf's lines as libvirt writes them; keepalive short enough for a test */
#define TCP_CONF(port)                                                                             \
    "listen_tcp = 1\nlisten_addr = \"127.0.0.1\"\ntcp_port = \"" G_STRINGIFY(                      \
        port) "\"\n"                                                                               \
              "auth_tcp = \"none\"\nkeepalive_interval = 1\nkeepalive_count = 3\n"
/* a destination silent this long is given up: keepalive_interval * (keepalive_count + 1) */
#define KEEPALIVE_WINDOW_S 4

static void
testAssertState(const Host *h, const char *want)
{
    g_autofree char *state = testState(h);

    g_assert_cmpstr(state, ==, want);
}

/* The end of a virsh migrate A -> B: the migration stream on 127.0.0.1, the domain, B
 * (--p2p: the source daemon connects to B itself). */
#define MIGRATE_TO_B_ARGS(p2p)                                                                     \
    "--listen-address", "127.0.0.1", "--migrateuri", "tcp://127.0.0.1", VM,                        \
        (p2p) ? hostB.p2pUri : hostB.uri, (p2p) ? "--p2p" : NULL

/* Run RUN's virsh migrate while domjobinfo on its source is polled: TRUE when it showed
 * the outgoing migration's job. virsh's outcome is in RUN->res. */
static gboolean
testMigrateWatchingJob(MigrateRun *run)
{
    GThread *thread = g_thread_new("migrate", testMigrateThread, run);
    gboolean sawJob = FALSE;

    for (guint i = 0; i < 400 && !sawJob; i++) {
        g_auto(VirshResult) r = {0};
        const char *jargs[] = {"domjobinfo", VM, NULL};

        virshArgvUri(&r, run->src->uri, jargs);
        if (r.rc == 0 && strstr(r.out, "Unbounded") && strstr(r.out, "Outgoing migration"))
            sawJob = TRUE;
        else if (i % 50 == 0)
            g_test_message("domjobinfo: %d %s%s", r.rc, r.out, r.err);
        if (!sawJob)
            g_usleep(20 * 1000);
    }
    g_thread_join(thread);
    return sawJob;
}

static void
testImgWrite(const char *img, unsigned int pattern, const char *off)
{
    g_autofree char *cmd = g_strdup_printf("write -P 0x%02x %s 64k", pattern, off);
    const char *argv[] = {"qemu-io", "-f", "qcow2", "-c", cmd, img, NULL};

    testImgRun(argv);
}

/* IMG (in use by a QEMU: read shared) holds PATTERN at OFF. */
static gboolean
testImgHas(const char *img, unsigned int pattern, const char *off)
{
    g_autofree char *cmd = g_strdup_printf("read -P 0x%02x %s 64k", pattern, off);
    const char *argv[] = {"qemu-io", "-U", "-r", "-f", "qcow2", "-c", cmd, img, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    return qvirTestRun(argv, &out, &err) == 0 && !strstr(out, "Pattern verification failed");
}

/*
 * --copy-storage-all (a three-layer chain on A into a new image the destination creates
 * through its storage pool) and --copy-storage-inc (only the top layer; the destination
 * has the base), both with --xml naming the destination's paths: the data of every layer
 * arrives, the destination's chain is what it probed from its own images, the guest runs
 * on, and A keeps nothing.
 */
typedef enum {
    COPY_ALL,
    COPY_INC,
    COPY_ALL_P2P, /* --copy-storage-all --p2p: the source daemon drives it */
} CopyKind;

static void
testMigrateCopy(gconstpointer data)
{
    CopyKind kind = GPOINTER_TO_INT(data);
    gboolean incremental = kind == COPY_INC;
    gboolean p2p = kind == COPY_ALL_P2P;
    const char *tag = incremental ? "i" : p2p ? "p" : "c";
    const char *mode = incremental ? "--copy-storage-inc" : "--copy-storage-all";
    g_autofree char *dstDir = g_build_filename(daemonEnv.root,
                                               incremental ? "dst-inc"
                                               : p2p       ? "dst-p2p"
                                                           : "dst",
                                               NULL);
    g_autofree char *baseName = g_strdup_printf("%sbase.qcow2", tag);
    g_autofree char *midName = g_strdup_printf("%smid.qcow2", tag);
    g_autofree char *topName = g_strdup_printf("%stop.qcow2", tag);
    g_autofree char *xmlName = g_strdup_printf("mig-%s.xml", tag);
    g_autofree char *dstXmlName = g_strdup_printf("mig-%s-dst.xml", tag);
    g_autofree char *base = daemonImagePath(baseName);
    g_autofree char *mid = daemonImagePath(midName);
    g_autofree char *top = daemonImagePath(topName);
    g_autofree char *dstBase = g_build_filename(dstDir, baseName, NULL);
    g_autofree char *dstTop = g_build_filename(dstDir, topName, NULL);
    const char *args[] = {
        "migrate", "--live", "--unsafe", mode, "--xml", NULL /* 5 */, MIGRATE_TO_B_ARGS(p2p), NULL};
    g_autofree char *xml = NULL;
    g_autofree char *xmlPath = NULL;
    g_autofree char *dstXml = NULL;
    g_autofree char *dstXmlPath = NULL;
    g_autofree char *state = NULL;
    g_autofree char *chain = NULL;
    g_autofree char *qemu = NULL;
    g_autofree char *expect = NULL;
    guint64 before;

    /* the domain of the shared test stays defined on A: it goes first */
    {
        g_auto(VirshResult) r = {0};
        const char *undef[] = {"undefine", VM, NULL};

        virshArgvUri(&r, hostA.uri, undef);
    }
    g_assert_cmpint(g_mkdir(dstDir, 0755), ==, 0);
    if (incremental) {
        daemonMakeQcow2(base, NULL);
        testImgWrite(base, 0x41, "0");
        daemonMakeQcow2(top, base);
        /* the destination has the base (a copy) and an empty top over it */
        {
            const char *cp[] = {"cp", base, dstBase, NULL};
            testImgRun(cp);
        }
        qvirTestQcow2Create(dstTop, dstBase, NULL);
    } else {
        daemonMakeQcow2(base, NULL);
        daemonMakeQcow2(mid, base);
        daemonMakeQcow2(top, mid);
        testImgWrite(base, 0x41, "0");
        testImgWrite(mid, 0x42, "1M");
        /* images go into the destination's pool */
        g_free(VIRSH_HOST_OK(&hostB, "pool-create-as", p2p ? "dst-p2p" : "dst", "dir", "--target",
                             dstDir));
    }
    testImgWrite(top, 0x43, "2M");

    xml = testDomainXML(guestKernel, guestInitrd, top);
    xmlPath = daemonWriteFile(xmlName, xml);
    dstXml = testDomainXML(guestKernel, guestInitrd, dstTop);
    dstXmlPath = daemonWriteFile(dstXmlName, dstXml);
    args[5] = dstXmlPath;
    g_free(VIRSH_HOST_OK(&hostA, "create", xmlPath));
    before = testCounter();
    g_assert_true(testCounterPasses(before + 5, 240));

    g_free(virshHostOk(&hostA, args));

    state = testState(&hostA);
    g_assert_cmpstr(state, ==, "none");
    g_clear_pointer(&state, g_free);
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "running");
    g_clear_pointer(&state, g_free);
    before = testCounter();
    g_assert_true(testCounterPasses(before + 5, 60));

    /* the destination's chain: its own images, as its QEMU has them open */
    chain = testLiveChain(&hostB);
    qemu = testQemuFiles(&hostB);
    expect = incremental ? g_strdup_printf("%s %s", dstTop, dstBase) : g_strdup(dstTop);
    g_assert_cmpstr(chain, ==, expect);
    g_clear_pointer(&expect, g_free);
    expect = incremental ? g_strdup_printf("%s %s", dstBase, dstTop) : g_strdup(dstTop);
    g_assert_cmpstr(qemu, ==, expect);

    /* every layer's data reached the destination (the top's alone for -inc) */
    g_assert_true(testImgHas(dstTop, 0x43, "2M"));
    g_assert_true(testImgHas(dstTop, 0x41, "0"));
    if (!incremental)
        g_assert_true(testImgHas(dstTop, 0x42, "1M"));
    g_free(VIRSH_HOST_OK(&hostB, "destroy", VM));
}

typedef enum {
    FAULT_DEST_KILLED,
    FAULT_SOURCE_KILLED_IN_MIRROR,
    FAULT_DEST_DISK_FULL,
    FAULT_ABORTED,
} FaultKind;
/* ... with virsh migrate --p2p: the source daemon's own calls to B fail or are cancelled */
#define FAULT_P2P 0x100

/*
 * Faults: the destination daemon killed while the state goes over (its QEMU lives on);
 * the source daemon killed while the disks are mirrored; the destination's file system
 * full during the copy. Each time the domain runs on the source with its chain, and the
 * destination has nothing: no domain, no QEMU, no image it made.
 */
static void
testMigrateFault(gconstpointer data)
{
    FaultKind kind = GPOINTER_TO_INT(data) & ~FAULT_P2P;
    gboolean p2p = (GPOINTER_TO_INT(data) & FAULT_P2P) != 0;
    const char *kindTag = kind == FAULT_DEST_KILLED               ? "fk"
                          : kind == FAULT_SOURCE_KILLED_IN_MIRROR ? "fs"
                          : kind == FAULT_ABORTED                 ? "fa"
                                                                  : "ff";
    g_autofree char *tag = g_strconcat(p2p ? "p" : "", kindTag, NULL);
    g_autofree char *baseName = g_strdup_printf("%s-base.qcow2", tag);
    g_autofree char *midName = g_strdup_printf("%s-mid.qcow2", tag);
    g_autofree char *topName = g_strdup_printf("%s-top.qcow2", tag);
    g_autofree char *base = daemonImagePath(baseName);
    g_autofree char *mid = daemonImagePath(midName);
    g_autofree char *top = daemonImagePath(topName);
    g_autofree char *dstDir = g_build_filename(daemonEnv.root, tag, NULL);
    g_autofree char *dstTop = g_build_filename(dstDir, topName, NULL);
    g_autofree char *xml = NULL;
    g_autofree char *xmlPath = NULL;
    g_autofree char *dstXml = NULL;
    g_autofree char *dstXmlPath = NULL;
    g_autofree char *chain = NULL;
    g_autofree char *state = NULL;
    g_autofree char *poolName = g_strdup_printf("pool-%s", tag);
    gboolean copy = kind != FAULT_DEST_KILLED && kind != FAULT_ABORTED;
    const char *args[] = {"migrate",
                          "--live",
                          "--unsafe",
                          copy ? "--copy-storage-all" : "--persistent",
                          "--xml",
                          NULL, /* 5 */
                          "--bandwidth",
                          kind == FAULT_DEST_DISK_FULL ? "100" : "1",
                          MIGRATE_TO_B_ARGS(p2p),
                          NULL};
    MigrateRun run = {.src = &hostA, .args = args};
    GThread *thread;

    daemonMakeQcow2(base, NULL);
    daemonMakeQcow2(mid, base);
    daemonMakeQcow2(top, mid);
    if (copy) {
        /* 12 MiB in the top layer: at 1 MiB/s the mirror takes its time; more than the
         * destination's 4 MiB file system holds */
        const char *argv[] = {"qemu-io", "-f", "qcow2", "-c", "write -P 0x55 0 12M", top, NULL};

        testImgRun(argv);
    }
    g_assert_cmpint(g_mkdir(dstDir, 0755), ==, 0);
    if (kind == FAULT_DEST_DISK_FULL)
        g_assert_cmpint(mount("tmpfs", dstDir, "tmpfs", 0, "size=4m,mode=0755"), ==, 0);
    if (kind == FAULT_SOURCE_KILLED_IN_MIRROR)
        g_free(VIRSH_HOST_OK(&hostB, "pool-create-as", poolName, "dir", "--target", dstDir));
    /* a sparse image the user made on the small file system: it fills during the copy */
    if (kind == FAULT_DEST_DISK_FULL)
        daemonMakeQcow2(dstTop, NULL);

    xml = testDomainXML(guestKernel, guestInitrd, top);
    xmlPath = daemonWriteFile("fault.xml", xml);
    /* tmpfs has no O_DIRECT: the destination's copy is cached */
    dstXml = testDomainXMLCache(guestKernel, guestInitrd, copy ? dstTop : top,
                                copy ? "writeback" : "none");
    dstXmlPath = daemonWriteFile("fault-dst.xml", dstXml);
    args[5] = dstXmlPath;
    g_free(VIRSH_HOST_OK(&hostA, "create", xmlPath));
    g_assert_true(testCounterPasses(testCounter() + 5, 240));
    chain = testLiveChain(&hostA);

    thread = g_thread_new("migrate", testMigrateThread, &run);
    switch (kind) {
    case FAULT_DEST_KILLED:
        /* the state is on its way: B's daemon dies, its QEMU takes the rest */
        testWaitJob(&hostA, "Memory processed");
        g_usleep(G_USEC_PER_SEC);
        hostKill(&hostB);
        g_free(VIRSH_HOST_OK(&hostA, "migrate-setspeed", VM, "1000"));
        break;
    case FAULT_SOURCE_KILLED_IN_MIRROR:
        testWaitJob(&hostA, "Unbounded");
        g_usleep(2 * G_USEC_PER_SEC);
        hostKill(&hostA);
        break;
    case FAULT_DEST_DISK_FULL:
        break;
    case FAULT_ABORTED:
        /* virsh domjobabort while the state goes over */
        testWaitJob(&hostA, "Memory processed");
        g_free(VIRSH_HOST_OK(&hostA, "domjobabort", VM));
        break;
    }
    g_thread_join(thread);
    g_assert_cmpint(run.res.rc, !=, 0);
    g_test_message("the migration failed: %s", run.res.err);
    /* the source's reason reaches the user, not the destination's clean-up */
    if (kind == FAULT_DEST_DISK_FULL)
        g_assert_nonnull(strstr(run.res.err, "No space left on device"));
    if (kind == FAULT_ABORTED)
        g_assert_nonnull(
            strstr(run.res.err, "operation aborted: job 'migration out' canceled by client"));
    /* the source daemon notices itself, while the state still goes over */
    if (kind == FAULT_DEST_KILLED && p2p)
        g_assert_nonnull(
            strstr(run.res.err, "operation failed: Lost connection to destination host"));
    virshResultClear(&run.res);

    if (!hostA.pid)
        hostStart(&hostA, HOST_A, migratePort(21000));
    if (!hostB.pid)
        hostStart(&hostB, HOST_B, migratePort(21050));
    testAssertSurvived(chain);
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "none");
    /* the image the destination made is gone; the user's stays */
    if (kind == FAULT_SOURCE_KILLED_IN_MIRROR)
        g_assert_false(g_file_test(dstTop, G_FILE_TEST_EXISTS));
    if (kind == FAULT_DEST_DISK_FULL)
        g_assert_true(g_file_test(dstTop, G_FILE_TEST_EXISTS));
    g_assert_cmpint(daemonDomainPidIn(&hostB), ==, 0);
    g_free(VIRSH_HOST_OK(&hostA, "destroy", VM));
    if (kind == FAULT_SOURCE_KILLED_IN_MIRROR)
        g_free(VIRSH_HOST_OK(&hostB, "pool-destroy", poolName));
    if (kind == FAULT_DEST_DISK_FULL)
        umount2(dstDir, MNT_DETACH);
}

static void
testMigrateShared(void)
{
    const char *kernel = guestKernel;
    const char *initrd = guestInitrd;
    g_autofree char *xml = NULL;
    g_autofree char *xmlPath = NULL;
    g_autofree char *state = NULL;
    g_autofree char *info = NULL;
    g_autofree char *badXml = NULL;
    g_autofree char *badPath = NULL;
    g_autofree char *missing = NULL;
    g_autofree char *speed = NULL;
    const char *args[] = {
        "migrate",         "--live", "--persistent",     "--verbose", "--unsafe",
        "--bandwidth",     "20",     "--listen-address", "127.0.0.1", "--migrateuri",
        "tcp://127.0.0.1", VM,       hostB.uri,          NULL};
    MigrateRun run = {.src = &hostA, .args = args};
    gboolean sawJob = FALSE;
    guint64 before;

    xml = testDomainXML(kernel, initrd, topImg);
    xmlPath = daemonWriteFile("mig1.xml", xml);

    /* a persistent domain running on A */
    g_free(VIRSH_HOST_OK(&hostA, "define", xmlPath));
    g_free(VIRSH_HOST_OK(&hostA, "start", VM));
    if (!testCounterPasses(5, 240))
        g_error("the guest does not count");

    /* migrate-setspeed is the domain's, until a migration gives its own */
    g_free(VIRSH_HOST_OK(&hostA, "migrate-setspeed", VM, "50"));
    speed = VIRSH_HOST_OK(&hostA, "migrate-getspeed", VM);
    g_assert_cmpstr(g_strstrip(speed), ==, "50");

    /* images on a local file system: libvirt wants --unsafe (or a copy) */
    VIRSH_HOST_FAILS(&hostA, "Unsafe migration: Migration without shared storage is unsafe",
                     "migrate", "--live", "--listen-address", "127.0.0.1", "--migrateuri",
                     "tcp://127.0.0.1", VM, hostB.uri);
    state = testState(&hostA);
    g_assert_cmpstr(state, ==, "running");
    g_clear_pointer(&state, g_free);
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "none");
    g_clear_pointer(&state, g_free);

    /* A -> B while the guest counts; domjobinfo on A while the job runs */
    before = testCounter();
    sawJob = testMigrateWatchingJob(&run);
    if (run.res.rc != 0)
        g_error("virsh migrate failed: %s%s", run.res.out, run.res.err);
    g_assert_true(sawJob);
    g_assert_true(strstr(run.res.out, "Migration: [100 %]") ||
                  strstr(run.res.err, "Migration: [100 %]"));
    virshResultClear(&run.res);

    /* the guest goes on counting on B; A keeps the inactive definition */
    g_assert_true(testCounterPasses(before + 10, 60));
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "running");
    g_clear_pointer(&state, g_free);
    state = testState(&hostA);
    g_assert_cmpstr(state, ==, "shut off");
    g_clear_pointer(&state, g_free);
    testAssertChain(&hostB);
    info = VIRSH_HOST_OK(&hostB, "dominfo", VM);
    g_assert_nonnull(strstr(info, "Persistent:     yes"));
    g_clear_pointer(&info, g_free);
    info = VIRSH_HOST_OK(&hostB, "domjobinfo", VM, "--completed");
    g_assert_nonnull(strstr(info, "Completed"));
    g_assert_nonnull(strstr(info, "Total downtime:"));
    g_test_message("A -> B: %s", info);
    g_clear_pointer(&info, g_free);

    /* the same host UUID on both ends is refused; nothing changes */
    hostStart(&hostC, HOST_B, migratePort(21100));
    VIRSH_HOST_FAILS(&hostB, "Attempt to migrate guest to the same host " HOST_B, "migrate",
                     "--live", "--unsafe", "--listen-address", "127.0.0.1", "--migrateuri",
                     "tcp://127.0.0.1", VM, hostC.uri);
    state = testState(&hostC);
    g_assert_cmpstr(state, ==, "none");
    g_clear_pointer(&state, g_free);
    hostStop(&hostC);

    /* an image the destination cannot open: Prepare fails, B runs on, A stays inactive */
    missing = g_build_filename(daemonEnv.root, "nowhere", "top.qcow2", NULL);
    badXml = testDomainXML(kernel, initrd, missing);
    badPath = daemonWriteFile("mig1-bad.xml", badXml);
    VIRSH_HOST_FAILS(&hostB, missing, "migrate", "--live", "--unsafe", "--listen-address",
                     "127.0.0.1", "--migrateuri", "tcp://127.0.0.1", "--xml", badPath, VM,
                     hostA.uri);
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "running");
    g_clear_pointer(&state, g_free);
    state = testState(&hostA);
    g_assert_cmpstr(state, ==, "shut off");
    g_clear_pointer(&state, g_free);
    before = testCounter();
    g_assert_true(testCounterPasses(before + 5, 60));
    testAssertChain(&hostB);

    /* B -> A with --undefinesource: B has nothing left */
    g_free(VIRSH_HOST_OK(&hostB, "migrate", "--live", "--unsafe", "--undefinesource",
                         "--listen-address", "127.0.0.1", "--migrateuri", "tcp://127.0.0.1", VM,
                         hostA.uri));
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "none");
    g_clear_pointer(&state, g_free);
    state = testState(&hostA);
    g_assert_cmpstr(state, ==, "running");
    g_clear_pointer(&state, g_free);
    before = testCounter();
    g_assert_true(testCounterPasses(before + 5, 60));
    testAssertChain(&hostA);
    g_free(VIRSH_HOST_OK(&hostA, "destroy", VM));
}

/* python3-libvirt: virDomainMigrateToURI3 with VIR_MIGRATE_PEER2PEER from SRC to DEST
 * (libvirt's p2p URI), FLAGS as libvirt's numbers; prints "ok" or the error's code and
 * message. */
static char *
testPythonMigrateP2P(const Host *src, const char *dest, const char *flags)
{
    const char *script =
        "import sys, libvirt\n"
        "conn = libvirt.open(sys.argv[1])\n"
        "dom = conn.lookupByName('" VM "')\n"
        "params = {libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: '127.0.0.1',\n"
        "          libvirt.VIR_MIGRATE_PARAM_URI: 'tcp://127.0.0.1'}\n"
        "try:\n"
        "    dom.migrateToURI3(sys.argv[2], params, libvirt.VIR_MIGRATE_PEER2PEER | "
        "int(sys.argv[3]))\n"
        "    print('ok')\n"
        "except libvirt.libvirtError as e:\n"
        "    print('error %d: %s' % (e.get_error_code(), e.get_error_message()))\n";
    const char *argv[] = {"/usr/bin/python3", "-c", script, src->uri, dest, flags, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("python3 failed: %s%s", out, err);
    return g_strdup(g_strstrip(out));
}

/*
 * Peer-to-peer: virsh (and python3-libvirt) talk to the source daemon only; it opens the
 * destination's URI and runs every phase itself. A destination that is not there, or is
 * the source itself, is refused with libvirt's error and the guest runs on; A -> B
 * (--persistent, --bandwidth, domjobinfo while it runs) and B -> A (python,
 * --undefinesource) move the counting guest with its whole chain.
 */
static void
testMigrateP2P(void)
{
    g_autofree char *xml = testDomainXML(guestKernel, guestInitrd, topImg);
    g_autofree char *xmlPath = daemonWriteFile("mig-p2p.xml", xml);
    g_autofree char *nowhere = g_build_filename(daemonEnv.root, "nowhere", "qvirt-sock", NULL);
    g_autofree char *nowhereUri = g_strdup_printf("qemu+unix:///system?socket=%s", nowhere);
    g_autofree char *expectErr =
        g_strdup_printf("Failed to connect socket to '%s': No such file or directory", nowhere);
    g_autofree char *info = NULL;
    g_autofree char *out = NULL;
    const char *args[] = {"migrate",     "--live", "--persistent",          "--verbose", "--unsafe",
                          "--bandwidth", "30",     MIGRATE_TO_B_ARGS(TRUE), NULL};
    MigrateRun run = {.src = &hostA, .args = args};
    gboolean sawJob = FALSE;
    guint64 before;

    g_free(VIRSH_HOST_OK(&hostA, "define", xmlPath));
    g_free(VIRSH_HOST_OK(&hostA, "start", VM));
    g_assert_true(testCounterPasses(testCounter() + 5, 240));

    /* no daemon at the destination: the source says why, the guest runs on at the source */
    VIRSH_HOST_FAILS(&hostA, expectErr, "migrate", "--live", "--p2p", "--unsafe", VM, nowhereUri);
    /* the destination is the source itself: its Prepare refuses, the message comes back */
    VIRSH_HOST_FAILS(&hostA, "Attempt to migrate guest to the same host " HOST_A, "migrate",
                     "--live", "--p2p", "--unsafe", "--listen-address", "127.0.0.1", "--migrateuri",
                     "tcp://127.0.0.1", VM, hostA.p2pUri);
    out = testPythonMigrateP2P(&hostA, nowhereUri, "1" /* LIVE */);
    info = g_strdup_printf("error 38: %s", expectErr);
    g_assert_cmpstr(out, ==, info);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&info, g_free);
    testAssertState(&hostA, "running");
    testAssertState(&hostB, "none");
    g_assert_true(testCounterPasses(testCounter() + 5, 60));
    testAssertChain(&hostA);

    /* A -> B: the job shows on A while the source daemon drives it */
    before = testCounter();
    sawJob = testMigrateWatchingJob(&run);
    if (run.res.rc != 0)
        g_error("virsh migrate --p2p failed: %s%s", run.res.out, run.res.err);
    g_assert_true(sawJob);
    virshResultClear(&run.res);
    g_assert_true(testCounterPasses(before + 10, 60));
    testAssertState(&hostB, "running");
    testAssertState(&hostA, "shut off");
    testAssertChain(&hostB);
    info = VIRSH_HOST_OK(&hostB, "dominfo", VM);
    g_assert_nonnull(strstr(info, "Persistent:     yes"));
    g_clear_pointer(&info, g_free);
    /* --bandwidth reached the source's Perform (the shared test left 20 there) */
    info = VIRSH_HOST_OK(&hostA, "migrate-getspeed", VM);
    g_assert_cmpstr(g_strstrip(info), ==, "30");
    g_clear_pointer(&info, g_free);

    /* B -> A from python3-libvirt, the source undefined: B has nothing left */
    out = testPythonMigrateP2P(&hostB, hostA.p2pUri, "529" /* LIVE|UNDEFINE_SOURCE|UNSAFE */);
    g_assert_cmpstr(out, ==, "ok");
    testAssertState(&hostB, "none");
    testAssertState(&hostA, "running");
    g_assert_true(testCounterPasses(testCounter() + 5, 60));
    testAssertChain(&hostA);
    g_free(VIRSH_HOST_OK(&hostA, "destroy", VM));
}

/*
 * TCP: the real clients reach B on its qemu+tcp URI; virsh migrates A -> B client-driven,
 * talking to B over TCP itself (Prepare's migration URI from --listen-address alone); B
 * migrates back peer-to-peer to A's qemu+tcp URI. A p2p destination on tls or ssh, or a
 * TCP port where nobody listens, is refused with the reason and the guest runs on.
 */
static void
testMigrateTCP(void)
{
    g_autofree char *xml = testDomainXML(guestKernel, guestInitrd, topImg);
    g_autofree char *xmlPath = daemonWriteFile("mig-tcp.xml", xml);
    g_autofree char *out = NULL;
    g_auto(VirshResult) r = {0};
    const char *uriArgs[] = {"uri", NULL};
    const char *script = "import sys, libvirt\n"
                         "conn = libvirt.open(sys.argv[1])\n"
                         "print(conn.getURI(), conn.getType(), len(conn.listAllDomains()))\n";
    const char *pyArgv[] = {"/usr/bin/python3", "-c", script, TCP_URI(TCP_PORT_B), NULL};
    g_autofree char *pyOut = NULL;
    g_autofree char *pyErr = NULL;
    guint64 before;

    g_free(VIRSH_HOST_OK(&hostA, "create", xmlPath));
    g_assert_true(testCounterPasses(testCounter() + 5, 240));

    /* virsh and python3-libvirt on B's TCP listener (AUTH_LIST answers none) */
    virshArgvUri(&r, TCP_URI(TCP_PORT_B), uriArgs);
    g_assert_cmpint(r.rc, ==, 0);
    g_assert_cmpstr(g_strstrip(r.out), ==, TCP_URI(TCP_PORT_B));
    if (qvirTestRun(pyArgv, &pyOut, &pyErr) != 0)
        g_error("python3 failed: %s%s", pyOut, pyErr);
    g_assert_cmpstr(g_strstrip(pyOut), ==, TCP_URI(TCP_PORT_B) " QEMU 0");

    /* A -> B, virsh talking to B over TCP */
    before = testCounter();
    g_free(VIRSH_HOST_OK(&hostA, "migrate", "--live", "--unsafe", "--listen-address", "127.0.0.1",
                         VM, TCP_URI(TCP_PORT_B)));
    g_assert_true(testCounterPasses(before + 10, 60));
    testAssertState(&hostB, "running");
    testAssertState(&hostA, "none");
    testAssertChain(&hostB);

    /* peer-to-peer from B: transports it does not speak, a port where nobody listens */
    VIRSH_HOST_FAILS(&hostB,
                     "argument unsupported: transport 'tls' of URI 'qemu+tls://127.0.0.1/system' "
                     "is not supported by qvirtd: it reaches its peers over unix sockets and tcp",
                     "migrate", "--live", "--p2p", "--unsafe", VM, "qemu+tls://127.0.0.1/system");
    VIRSH_HOST_FAILS(&hostB,
                     "argument unsupported: transport 'ssh' of URI 'qemu+ssh://127.0.0.1/system' "
                     "is not supported by qvirtd",
                     "migrate", "--live", "--p2p", "--unsafe", VM, "qemu+ssh://127.0.0.1/system");
    VIRSH_HOST_FAILS(&hostB,
                     "unable to connect to server at '127.0.0.1:" G_STRINGIFY(
                         TCP_PORT_REFUSED) "': Connection refused",
                     "migrate", "--live", "--p2p", "--unsafe", VM, TCP_URI(TCP_PORT_REFUSED));
    testAssertState(&hostB, "running");
    testAssertState(&hostA, "none");

    /* B -> A, B's daemon reaching A over TCP */
    before = testCounter();
    out = VIRSH_HOST_OK(&hostB, "migrate", "--live", "--p2p", "--unsafe", "--listen-address",
                        "127.0.0.1", VM, TCP_URI(TCP_PORT_A));
    g_assert_true(testCounterPasses(before + 10, 60));
    testAssertState(&hostA, "running");
    testAssertState(&hostB, "none");
    testAssertChain(&hostA);
    /* the guest stays on A for the keepalive case */
}

static gint migrateDone;

/* testMigrateThread, saying when it is done */
static gpointer
testMigrateThreadDone(gpointer data)
{
    g_atomic_int_set(&migrateDone, 0);
    testMigrateThread(data);
    g_atomic_int_set(&migrateDone, 1);
    return NULL;
}

/* H's domjobinfo shows the outgoing migration with WHAT in it. */
static gboolean
testJobShows(const Host *h, const char *what)
{
    g_auto(VirshResult) r = {0};
    const char *args[] = {"domjobinfo", VM, NULL};

    virshArgvUri(&r, h->uri, args);
    return r.rc == 0 && strstr(r.out, "Outgoing migration") && strstr(r.out, what);
}

/*
 * Keepalive on the p2p link: B's daemon is frozen (SIGSTOP; its TCP connection stays open,
 * its QEMU takes the state) while the memory goes over. The source's PINGs go unanswered;
 * after the keepalive window the migration fails with libvirt's error, the guest runs on
 * A with its chain, and once B runs again it has nothing left: no domain, no QEMU, no job
 * (the guest then migrates there).
 */
static void
testMigrateP2PKeepAlive(void)
{
    g_autofree char *xml = testDomainXML(guestKernel, guestInitrd, topImg);
    g_autofree char *xmlPath = daemonWriteFile("mig-ka.xml", xml);
    g_autofree char *chain = NULL;
    g_autofree char *state = NULL;
    const char *args[] = {
        "migrate",          "--live",    "--p2p", "--unsafe",          "--bandwidth", "1",
        "--listen-address", "127.0.0.1", VM,      TCP_URI(TCP_PORT_B), NULL};
    MigrateRun run = {.src = &hostA, .args = args};
    GThread *thread;
    gint64 frozen, failed;

    /* the TCP case left the guest running on A (run alone, this one boots it) */
    if (!g_str_equal((state = testState(&hostA)), "running")) {
        g_free(VIRSH_HOST_OK(&hostA, "create", xmlPath));
        g_assert_true(testCounterPasses(testCounter() + 5, 240));
    }
    g_clear_pointer(&state, g_free);
    chain = testLiveChain(&hostA);

    thread = g_thread_new("migrate", testMigrateThreadDone, &run);
    while (!testJobShows(&hostA, "Memory processed")) {
        if (g_atomic_int_get(&migrateDone))
            g_error("the migration ended before B was frozen: %s%s", run.res.out, run.res.err);
        g_usleep(50 * 1000);
    }
    g_assert_cmpint(kill(hostB.pid, SIGSTOP), ==, 0);
    frozen = g_get_monotonic_time();
    g_thread_join(thread);
    failed = g_get_monotonic_time();
    g_assert_cmpint(kill(hostB.pid, SIGCONT), ==, 0);
    g_test_message("the migration failed %.1f s after the freeze: %s",
                   (double)(failed - frozen) / G_USEC_PER_SEC, run.res.err);
    g_assert_cmpint(run.res.rc, !=, 0);
    /* libvirt's error when its dconn is closed (keepalive) during Perform */
    g_assert_nonnull(strstr(run.res.err, "operation failed: Lost connection to destination host"));
    /* no earlier than the keepalive allows (a second's grace for the PING timing) */
    g_assert_cmpint(failed - frozen, >=, (KEEPALIVE_WINDOW_S - 1) * G_USEC_PER_SEC);
    g_assert_cmpint(failed - frozen, <, 30 * G_USEC_PER_SEC);
    virshResultClear(&run.res);

    testAssertSurvived(chain);
    /* B, running again, finds its client gone and drops the incoming domain */
    for (guint i = 0; i < 300; i++) {
        g_clear_pointer(&state, g_free);
        state = testState(&hostB);
        if (strcmp(state, "none") == 0 && daemonDomainPidIn(&hostB) == 0)
            break;
        g_usleep(100 * 1000);
    }
    g_assert_cmpstr(state, ==, "none");
    g_assert_cmpint(daemonDomainPidIn(&hostB), ==, 0);
    /* ... and no migration job either: B takes the guest now (at full speed: the failed
     * migration's 1 MiB/s stays the domain's) */
    g_free(VIRSH_HOST_OK(&hostA, "migrate", "--live", "--p2p", "--unsafe", "--bandwidth", "1000",
                         "--listen-address", "127.0.0.1", VM, TCP_URI(TCP_PORT_B)));
    testAssertState(&hostB, "running");
    testAssertState(&hostA, "none");
    testAssertChain(&hostB);
    g_free(VIRSH_HOST_OK(&hostB, "destroy", VM));
}

/* auth_tcp = "sasl" (or no auth_tcp: libvirt's default is sasl) cannot be served: qvirtd
 * refuses to start and nothing listens. */
static void
testTCPAuthRefused(void)
{
    g_autofree char *qvirtd = qvirTestBuildPath("tools/qvirtd");
    g_autofree char *root = g_build_filename(daemonEnv.root, "sasl", NULL);
    g_autofree char *etc = g_build_filename(root, "etc", NULL);
    g_autofree char *conf = g_build_filename(etc, "qvirtd.conf", NULL);
    g_autofree char *sock = g_build_filename(root, "run", "qvirt-sock", NULL);
    g_autofree char *expect = g_strdup_printf(
        "qvirtd: unsupported configuration: %s: auth_tcp 'sasl' is not supported by qvirtd (it "
        "has no SASL); listen_tcp needs auth_tcp = \"none\" (auth_tcp defaults to \"sasl\", as "
        "in libvirtd)\n",
        conf);
    const char *argv[] = {qvirtd, "--root", root, NULL};
    const char *listArgs[] = {"list", NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_auto(VirshResult) r = {0};

    g_assert_cmpint(g_mkdir_with_parents(etc, 0755), ==, 0);
    g_assert_true(
        g_file_set_contents(conf,
                            "[qvirtd]\nlisten_tcp = 1\nlisten_addr = \"127.0.0.1\"\n"
                            "tcp_port = \"" G_STRINGIFY(TCP_PORT_REFUSED) "\"\n"
                                                                          "auth_tcp = \"sasl\"\n",
                            -1, NULL));
    g_assert_cmpint(qvirTestRun(argv, &out, &err), ==, 1);
    g_assert_cmpstr(err, ==, expect);
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    virshArgvUri(&r, TCP_URI(TCP_PORT_REFUSED), listArgs);
    g_assert_cmpint(r.rc, !=, 0);
    g_assert_nonnull(strstr(r.err, "unable to connect to server at '127.0.0.1:" G_STRINGIFY(
                                       TCP_PORT_REFUSED) "': Connection refused"));
}

static void
testCleanup(void)
{
    Host *hosts[] = {&hostA, &hostB, &hostC};

    for (guint i = 0; i < G_N_ELEMENTS(hosts); i++) {
        if (hosts[i]->pid)
            kill(hosts[i]->pid, SIGKILL);
        g_free(hosts[i]->root);
        g_free(hosts[i]->uri);
        g_free(hosts[i]->p2pUri);
    }
    daemonEnvCleanup();
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    migrateTestSetup("qvirt-migrate");
    hostA.extraConf = TCP_CONF(TCP_PORT_A);
    hostB.extraConf = TCP_CONF(TCP_PORT_B);
    hostStart(&hostA, HOST_A, migratePort(21000));
    hostStart(&hostB, HOST_B, migratePort(21050));

    g_test_add_func("/virshmigrate/shared", testMigrateShared);
    g_test_add_func("/virshmigrate/p2p", testMigrateP2P);
    g_test_add_data_func("/virshmigrate/copy-storage-all", GINT_TO_POINTER(COPY_ALL),
                         testMigrateCopy);
    g_test_add_data_func("/virshmigrate/copy-storage-inc", GINT_TO_POINTER(COPY_INC),
                         testMigrateCopy);
    g_test_add_data_func("/virshmigrate/p2p/copy-storage-all", GINT_TO_POINTER(COPY_ALL_P2P),
                         testMigrateCopy);
    g_test_add_data_func("/virshmigrate/fault/dest-killed", GINT_TO_POINTER(FAULT_DEST_KILLED),
                         testMigrateFault);
    g_test_add_data_func("/virshmigrate/fault/source-killed-in-mirror",
                         GINT_TO_POINTER(FAULT_SOURCE_KILLED_IN_MIRROR), testMigrateFault);
    g_test_add_data_func("/virshmigrate/fault/aborted", GINT_TO_POINTER(FAULT_ABORTED),
                         testMigrateFault);
    g_test_add_data_func("/virshmigrate/p2p/fault/dest-killed",
                         GINT_TO_POINTER(FAULT_DEST_KILLED | FAULT_P2P), testMigrateFault);
    g_test_add_data_func("/virshmigrate/p2p/fault/aborted",
                         GINT_TO_POINTER(FAULT_ABORTED | FAULT_P2P), testMigrateFault);
    g_test_add_data_func("/virshmigrate/fault/dest-disk-full",
                         GINT_TO_POINTER(FAULT_DEST_DISK_FULL), testMigrateFault);
    g_test_add_func("/virshmigrate/tcp/migrate", testMigrateTCP);
    g_test_add_func("/virshmigrate/tcp/p2p-keepalive", testMigrateP2PKeepAlive);
    g_test_add_func("/virshmigrate/tcp/auth-refused", testTCPAuthRefused);
    ret = g_test_run();
    hostStop(&hostA);
    hostStop(&hostB);
    testCleanup();
    g_free(topImg);
    g_free(counterImg);
    g_free(guestKernel);
    g_free(guestInitrd);
    return ret;
}
