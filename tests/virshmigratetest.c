/*
 * virshmigratetest.c: live migration between two real qvirtd daemons on this machine
 * (each with its own --root and host_uuid, standing for two hosts sharing the images),
 * driven by the real virsh (virsh migrate --live: client-managed v3 with parameters).
 * A booted guest (the test kernel and a busybox initramfs) writes a counter to a raw disk
 * ten times a second: it keeps advancing on the destination after the switch. The
 * destination's live chain equals QEMU's block nodes there, the source has no domain left
 * (or an inactive one), and refused migrations (same host UUID, an image the destination
 * cannot open) leave everything as it was.
 *
 * Ports: incoming migrations listen on 127.0.0.1, ports 21000-21149 only.
 */
#include "migratetestutils.h"

static Host hostC = {.tag = "c"};

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
static void
testMigrateCopy(gconstpointer data)
{
    gboolean incremental = GPOINTER_TO_INT(data);
    const char *mode = incremental ? "--copy-storage-inc" : "--copy-storage-all";
    g_autofree char *dstDir =
        g_build_filename(daemonEnv.root, incremental ? "dst-inc" : "dst", NULL);
    g_autofree char *base = daemonImagePath(incremental ? "ibase.qcow2" : "cbase.qcow2");
    g_autofree char *mid = daemonImagePath("cmid.qcow2");
    g_autofree char *top = daemonImagePath(incremental ? "itop.qcow2" : "ctop.qcow2");
    g_autofree char *dstBase = g_build_filename(dstDir, "ibase.qcow2", NULL);
    g_autofree char *dstTop =
        g_build_filename(dstDir, incremental ? "itop.qcow2" : "ctop.qcow2", NULL);
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
        const char *args[] = {"undefine", VM, NULL};

        virshArgvUri(&r, hostA.uri, args);
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
        g_free(VIRSH_HOST_OK(&hostB, "pool-create-as", "dst", "dir", "--target", dstDir));
    }
    testImgWrite(top, 0x43, "2M");

    xml = testDomainXML(guestKernel, guestInitrd, top);
    xmlPath = daemonWriteFile(incremental ? "mig-inc.xml" : "mig-copy.xml", xml);
    dstXml = testDomainXML(guestKernel, guestInitrd, dstTop);
    dstXmlPath = daemonWriteFile(incremental ? "mig-inc-dst.xml" : "mig-copy-dst.xml", dstXml);
    g_free(VIRSH_HOST_OK(&hostA, "create", xmlPath));
    before = testCounter();
    g_assert_true(testCounterPasses(before + 5, 240));

    g_free(VIRSH_HOST_OK(&hostA, "migrate", "--live", "--unsafe", mode, "--xml", dstXmlPath,
                         "--listen-address", "127.0.0.1", "--migrateuri", "tcp://127.0.0.1", VM,
                         hostB.uri));

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

/*
 * Faults: the destination daemon killed while the state goes over (its QEMU lives on);
 * the source daemon killed while the disks are mirrored; the destination's file system
 * full during the copy. Each time the domain runs on the source with its chain, and the
 * destination has nothing: no domain, no QEMU, no image it made.
 */
static void
testMigrateFault(gconstpointer data)
{
    FaultKind kind = GPOINTER_TO_INT(data);
    const char *tag = kind == FAULT_DEST_KILLED               ? "fk"
                      : kind == FAULT_SOURCE_KILLED_IN_MIRROR ? "fs"
                      : kind == FAULT_ABORTED                 ? "fa"
                                                              : "ff";
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
                          "--listen-address",
                          "127.0.0.1",
                          "--migrateuri",
                          "tcp://127.0.0.1",
                          VM,
                          hostB.uri,
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
    virshResultClear(&run.res);

    if (!hostA.pid)
        hostStart(&hostA, HOST_A, 21000);
    if (!hostB.pid)
        hostStart(&hostB, HOST_B, 21050);
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
    GThread *thread;
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
    thread = g_thread_new("migrate", testMigrateThread, &run);
    for (guint i = 0; i < 400 && !sawJob; i++) {
        g_auto(VirshResult) r = {0};
        const char *jargs[] = {"domjobinfo", VM, NULL};

        virshArgvUri(&r, hostA.uri, jargs);
        if (r.rc == 0 && strstr(r.out, "Unbounded") && strstr(r.out, "Outgoing migration"))
            sawJob = TRUE;
        else if (i % 50 == 0)
            g_test_message("domjobinfo: %d %s%s", r.rc, r.out, r.err);
        if (!sawJob)
            g_usleep(20 * 1000);
    }
    g_thread_join(thread);
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
    hostStart(&hostC, HOST_B, 21100);
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

static void
testCleanup(void)
{
    Host *hosts[] = {&hostA, &hostB, &hostC};

    for (guint i = 0; i < G_N_ELEMENTS(hosts); i++) {
        if (hosts[i]->pid)
            kill(hosts[i]->pid, SIGKILL);
        g_free(hosts[i]->root);
        g_free(hosts[i]->uri);
    }
    daemonEnvCleanup();
}

int
main(int argc, char **argv)
{
    g_autofree char *base = NULL;
    g_autofree char *mid = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    migrateTestSetup("qvirt-migrate");
    base = daemonImagePath("base.qcow2");
    mid = daemonImagePath("mid.qcow2");
    topImg = daemonImagePath("top.qcow2");
    daemonMakeQcow2(base, NULL);
    daemonMakeQcow2(mid, base);
    daemonMakeQcow2(topImg, mid);
    hostStart(&hostA, HOST_A, 21000);
    hostStart(&hostB, HOST_B, 21050);

    g_test_add_func("/virshmigrate/shared", testMigrateShared);
    g_test_add_data_func("/virshmigrate/copy-storage-all", GINT_TO_POINTER(FALSE), testMigrateCopy);
    g_test_add_data_func("/virshmigrate/copy-storage-inc", GINT_TO_POINTER(TRUE), testMigrateCopy);
    g_test_add_data_func("/virshmigrate/fault/dest-killed", GINT_TO_POINTER(FAULT_DEST_KILLED),
                         testMigrateFault);
    g_test_add_data_func("/virshmigrate/fault/source-killed-in-mirror",
                         GINT_TO_POINTER(FAULT_SOURCE_KILLED_IN_MIRROR), testMigrateFault);
    g_test_add_data_func("/virshmigrate/fault/aborted", GINT_TO_POINTER(FAULT_ABORTED),
                         testMigrateFault);
    g_test_add_data_func("/virshmigrate/fault/dest-disk-full",
                         GINT_TO_POINTER(FAULT_DEST_DISK_FULL), testMigrateFault);
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
