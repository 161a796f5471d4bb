/*
 * qemunetdisktest: network disks with a real QEMU 7.2 (TCG, -S) and real servers on
 * loopback only (qemu-nbd on a unix socket; a closed iSCSI port for the failure paths).
 *
 * - a start whose disks are an NBD export and a local qcow2 overlay over an NBD base given
 *   in the XML: no network layer is opened by qvirt, QEMU reads the pattern through them;
 * - hot-plug and detach of an NBD disk; the nodes go with it;
 * - an iSCSI disk with CHAP: its secret comes from the secrets driver, reaches QEMU only
 *   encrypted with the master key (QEMU's object-add decrypts it, or refuses a wrong key),
 *   and the failed attach leaves no secret object and no node behind;
 * - a start whose secret does not exist fails naming the disk and leaves nothing running.
 */
#include <signal.h>

#include "blockopstestutils.h"
#include "qemu/qemu_hotplug.h"
#include "qemu/qemu_snapshot.h"
#include "secret/secret_driver.h"

#define TEST_SECRET_UUID "5a1c2f0e-6c55-4f43-9d0e-3b7f0c1d2e4a"
#define TEST_SECRET_VALUE "chap-password-1"

/* ---- qemu-nbd ---------------------------------------------------------------------------- */

typedef struct {
    char *sock;
    char *pidFile;
} TestNBD;

/* Serve IMG (raw) as export "exp" on DIR/nbd.sock; returns once the socket listens. */
static void
testNBDStart(TestNBD *nbd, const char *dir, const char *img)
{
    nbd->sock = g_build_filename(dir, "nbd.sock", NULL);
    nbd->pidFile = g_build_filename(dir, "nbd.pid", NULL);
    {
        const char *argv[] = {
            "qemu-nbd", "--fork", "--persistent", "--shared=8", "-k",         nbd->sock, "-x",
            "exp",      "-f",     "raw",          "--pid-file", nbd->pidFile, img,       NULL};

        qvirTestRunOk(argv);
    }
}

static void
testNBDStop(TestNBD *nbd)
{
    g_autofree char *pid = NULL;

    if (nbd->pidFile && g_file_get_contents(nbd->pidFile, &pid, NULL, NULL) && atoi(pid) > 0) {
        pid_t p = atoi(pid);

        kill(p, SIGTERM);
        /* not our child: wait until it is gone, so its image lock is released */
        for (int i = 0; i < 500 && kill(p, 0) == 0; i++)
            g_usleep(10 * 1000);
    }
    g_free(nbd->sock);
    g_free(nbd->pidFile);
}

/* A raw image of 4 MiB with 0xb1 @0 and 0xb2 @1M. */
static char *
testMakeRaw(const char *dir)
{
    char *img = g_build_filename(dir, "net.raw", NULL);
    const char *argv[] = {"qemu-img", "create", "-q", "-f", "raw", img, "4M", NULL};

    qvirTestRunOk(argv);
    {
        const char *w1[] = {"qemu-io", "-f", "raw", "-c", "write -P 0xb1 0 64k", img, NULL};
        const char *w2[] = {"qemu-io", "-f", "raw", "-c", "write -P 0xb2 1M 64k", img, NULL};

        testRunOk(w1);
        testRunOk(w2);
    }
    return img;
}

/* How often QEMU's log (its stdout, where qemu-io reports) holds "Pattern verification
 * failed". */
static guint
testLogPatternFailures(TestVM *vm)
{
    g_autofree char *log = g_build_filename(vm->logDir, "blockops.log", NULL);
    g_autofree char *text = NULL;
    guint n = 0;

    if (!g_file_get_contents(log, &text, NULL, NULL))
        return 0;
    for (const char *p = text; (p = strstr(p, "Pattern verification failed")); p++)
        n++;
    return n;
}

/* qemu-io inside QEMU on device ALIAS: TRUE when the 64k at OFF are PATTERN. */
static gboolean
testGuestHas(TestVM *vm, const char *alias, unsigned int pattern, const char *off)
{
    JsonObject *args = json_object_new();
    g_autofree char *dev = g_str_has_prefix(alias, "virtio-disk")
                               ? g_strdup_printf("/machine/peripheral/%s/virtio-backend", alias)
                               : g_strdup(alias);
    g_autofree char *cmd =
        g_strdup_printf("qemu-io -d %s \"read -P 0x%02x %s 64k\"", dev, pattern, off);
    g_autoptr(JsonNode) ret = NULL;
    guint failures = testLogPatternFailures(vm);
    const char *out;

    json_object_set_string_member(args, "command-line", cmd);
    ret = testQMP(vm, "human-monitor-command", args);
    out = json_node_get_string(ret);
    if (out && *out)
        return FALSE; /* an HMP reply is an error */
    /* QEMU writes qemu-io's report to its log before it answers */
    return testLogPatternFailures(vm) == failures;
}

/* The driver QEMU runs node NODE with ("nbd", "iscsi", "qcow2", ...). */
static char *
testNodeDriver(TestVM *vm, const char *node)
{
    TestGraph g;
    JsonObject *n;
    char *drv;

    testGraphLoad(vm, &g);
    n = testGraphNamed(&g, node);
    drv = n ? g_strdup(json_object_get_string_member(n, "drv")) : NULL;
    testGraphClear(&g);
    return drv;
}

/* Ids of QEMU's user-created objects (qom-list /objects). */
static GPtrArray *
testObjects(TestVM *vm)
{
    JsonObject *args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    JsonArray *arr;

    json_object_set_string_member(args, "path", "/objects");
    ret = testQMP(vm, "qom-list", args);
    arr = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);
        const char *type = json_object_get_string_member(o, "type");

        if (g_str_has_prefix(type, "child<"))
            g_ptr_array_add(ids, g_strdup(json_object_get_string_member(o, "name")));
    }
    return ids;
}

static gboolean
testHasObject(TestVM *vm, const char *id)
{
    g_autoptr(GPtrArray) ids = testObjects(vm);

    for (guint i = 0; i < ids->len; i++) {
        if (strcmp(g_ptr_array_index(ids, i), id) == 0)
            return TRUE;
    }
    return FALSE;
}

/* A secrets driver in DIR/secrets holding TEST_SECRET_VALUE as iscsi usage 'netdisk'. */
static qvirSecretDriver *
testSecrets(const char *dir)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *sdir = g_build_filename(dir, "secrets", NULL);
    qvirSecretDriver *drv = qvirSecretDriverOpen(sdir, &error);
    g_autoptr(qvirSecretRef) ref = NULL;

    g_assert_no_error(error);
    ref = qvirSecretDefineXML(drv,
                              "<secret ephemeral='no' private='yes'>\n"
                              "  <uuid>" TEST_SECRET_UUID "</uuid>\n"
                              "  <usage type='iscsi'><target>netdisk</target></usage>\n"
                              "</secret>\n",
                              0, &error);
    g_assert_no_error(error);
    g_assert_true(qvirSecretSetValue(drv, ref->uuid, (const guint8 *)TEST_SECRET_VALUE,
                                     strlen(TEST_SECRET_VALUE), 0, &error));
    g_assert_no_error(error);
    return drv;
}

static GBytes *
testLookupSecret(void *opaque, const char *uuid, const char *usageType, const char *usageID,
                 GError **error)
{
    return qvirSecretLookupValue(opaque, uuid, usageType, usageID, error);
}

/* ---- start -------------------------------------------------------------------------------- */

static void
testStartNBD(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *raw = NULL;
    g_autofree char *overlay = NULL;
    g_autofree char *extra = NULL;
    g_autofree char *backing = NULL;
    g_autofree char *drv = NULL;
    g_autofree char *live = NULL;
    qvirDomainDiskDef *vdb;
    qvirDomainDiskDef *vdc;
    TestNBD nbd = {0};
    guint64 before;
    TestVM vm;

    testVMInitImages(&vm);
    raw = testMakeRaw(vm.dir);
    testNBDStart(&nbd, vm.dir, raw);
    /* a local overlay whose base is the export: 0xc3 @2M on top of the export's data */
    overlay = g_build_filename(vm.dir, "over.qcow2", NULL);
    backing = g_strdup_printf("nbd+unix:///exp?socket=%s", nbd.sock);
    {
        const char *argv[] = {"qemu-img", "create", "-q",    "-f",    "qcow2", "-F",
                              "raw",      "-b",     backing, overlay, NULL};
        const char *w[] = {"qemu-io", "-f", "qcow2", "-c", "write -P 0xc3 2M 64k", overlay, NULL};

        qvirTestRunOk(argv);
        testRunOk(w);
    }
    extra = g_strdup_printf("    <disk type='network' device='disk'>\n"
                            "      <driver name='qemu' type='raw'/>\n"
                            "      <source protocol='nbd' name='exp'>\n"
                            "        <host transport='unix' socket='%s'/>\n"
                            "      </source>\n"
                            "      <target dev='vdb' bus='virtio'/>\n"
                            "    </disk>\n"
                            "    <disk type='file' device='disk'>\n"
                            "      <driver name='qemu' type='qcow2'/>\n"
                            "      <source file='%s'/>\n"
                            "      <backingStore type='network'>\n"
                            "        <format type='raw'/>\n"
                            "        <source protocol='nbd' name='exp'>\n"
                            "          <host transport='unix' socket='%s'/>\n"
                            "        </source>\n"
                            "        <backingStore/>\n"
                            "      </backingStore>\n"
                            "      <target dev='vdc' bus='virtio'/>\n"
                            "    </disk>\n",
                            nbd.sock, overlay, nbd.sock);

    before = qvirStorageProbeCounter();
    testVMStart(&vm, "pc", "none", extra);
    /* only vda's three local layers were read: no network layer, no chain the XML gave */
    g_assert_cmpuint(qvirStorageProbeCounter() - before, ==, 3);

    vdb = testVMDisk(&vm, "vdb");
    vdc = testVMDisk(&vm, "vdc");
    drv = testNodeDriver(&vm, vdb->src->nodeStorage);
    g_assert_cmpstr(drv, ==, "nbd");
    g_clear_pointer(&drv, g_free);
    g_assert_nonnull(vdc->src->backingStore);
    drv = testNodeDriver(&vm, vdc->src->backingStore->nodeStorage);
    g_assert_cmpstr(drv, ==, "nbd");
    {
        TestGraph g;

        testGraphLoad(&vm, &g);
        g_assert_cmpstr(testGraphChild(&g, vdc->src->nodeFormat, "backing"), ==,
                        vdc->src->backingStore->nodeFormat);
        g_assert_cmpstr(testGraphDeviceRoot(&g, vdb->info.alias), ==, vdb->src->nodeFormat);
        testGraphClear(&g);
    }
    /* QEMU reads the export through both disks */
    g_assert_true(testGuestHas(&vm, vdb->info.alias, 0xb1, "0"));
    g_assert_true(testGuestHas(&vm, vdb->info.alias, 0xb2, "1M"));
    g_assert_false(testGuestHas(&vm, vdb->info.alias, 0xb2, "0"));
    g_assert_true(testGuestHas(&vm, vdc->info.alias, 0xb1, "0"));
    g_assert_true(testGuestHas(&vm, vdc->info.alias, 0xc3, "2M"));
    testAssertNodesAreCached(&vm);

    /* the live XML shows the network layers as libvirt does (nbd's TLS default too) */
    live = qvirDomainDiskDefFormat(vdc, QVIR_DOMAIN_DEF_FORMAT_LIVE);
    g_assert_nonnull(strstr(live, "<backingStore type='network' index='"));
    g_assert_nonnull(strstr(live, "<source protocol='nbd' name='exp' tls='no'>"));

    /* qemu-nbd first: its pid file goes with the VM's directory */
    testVMStop(&vm);
    testNBDStop(&nbd);
    testVMFree(&vm);
}

/* A secret that does not exist: the start fails naming the disk; nothing is left. */
static void
testStartMissingSecret(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    qvirSecretDriver *secrets;
    qemuBlockSecretCtx sctx = {.lookup = testLookupSecret};
    TestVM vm;
    g_autofree char *xml = NULL;
    qemuProcessStartOpts opts = {0};
    qemuProcess *proc;

    testVMInitImages(&vm);
    secrets = testSecrets(vm.dir);
    sctx.opaque = secrets;
    xml = g_strdup_printf("<domain type='qemu'>\n"
                          "  <name>netsecret</name>\n"
                          "  <memory unit='MiB'>64</memory>\n"
                          "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                          "  <devices>\n"
                          "    <emulator>" TEST_QEMU "</emulator>\n"
                          "    <disk type='network' device='disk'>\n"
                          "      <driver name='qemu' type='raw'/>\n"
                          "      <source protocol='iscsi' name='iqn.2026-01.org.qvirt:t/1'>\n"
                          "        <host name='127.0.0.1' port='1'/>\n"
                          "        <auth username='u'><secret type='iscsi' usage='nope'/></auth>\n"
                          "      </source>\n"
                          "      <target dev='vdb' bus='virtio'/>\n"
                          "    </disk>\n"
                          "  </devices>\n"
                          "</domain>\n");
    def = qvirDomainDefParseString(xml, 0, &error);
    g_assert_no_error(error);
    opts.runDir = vm.runDir;
    opts.logDir = vm.logDir;
    opts.domainDir = vm.domainDir;
    opts.startPaused = TRUE;
    opts.defaultDiskCache = -1;
    opts.secrets = &sctx;
    proc = qemuProcessStart(def, testCaps, &opts, &testVMCallbacks, &vm, &error);
    g_assert_null(proc);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET);
    g_assert_cmpstr(error->message, ==,
                    "disk 'vdb': Secret not found: no secret with matching usage 'nope'");
    /* the master key of the failed start is gone with it */
    {
        g_autofree char *key = g_build_filename(vm.domainDir, "master-key.aes", NULL);

        g_assert_false(g_file_test(key, G_FILE_TEST_EXISTS));
    }
    qvirSecretDriverClose(secrets);
    testVMFree(&vm);
}

/*
 * An external snapshot of a disk whose top is an NBD export: the local overlay records the
 * export as libvirt would (a unix socket needs the json: form), QEMU reads the export's
 * data through it and the guest's writes stay in the overlay.
 */
static void
testSnapshotOverNBD(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuSnapshotDef) snap = NULL;
    g_autofree char *raw = NULL;
    g_autofree char *extra = NULL;
    g_autofree char *file = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *backing = NULL;
    g_autofree char *expected = NULL;
    qvirStorageSource *oldTop;
    qvirDomainDiskDef *disk;
    TestNBD nbd = {0};
    TestVM vm;

    testVMInitImages(&vm);
    raw = testMakeRaw(vm.dir);
    testNBDStart(&nbd, vm.dir, raw);
    extra = g_strdup_printf("    <disk type='network' device='disk'>\n"
                            "      <driver name='qemu' type='raw'/>\n"
                            "      <source protocol='nbd' name='exp'>\n"
                            "        <host transport='unix' socket='%s'/>\n"
                            "      </source>\n"
                            "      <target dev='vdb' bus='virtio'/>\n"
                            "    </disk>\n",
                            nbd.sock);
    testVMStart(&vm, "q35", "none", extra);
    disk = testVMDisk(&vm, "vdb");
    oldTop = disk->src;
    file = g_build_filename(vm.dir, "over-nbd.qcow2", NULL);
    xml = g_strdup_printf("<domainsnapshot>\n"
                          "  <name>s1</name>\n"
                          "  <disks>\n"
                          "    <disk name='vda' snapshot='no'/>\n"
                          "    <disk name='vdb' snapshot='external'>\n"
                          "      <source file='%s'/>\n"
                          "    </disk>\n"
                          "  </disks>\n"
                          "</domainsnapshot>\n",
                          file);
    snap = qemuSnapshotDefParseString(xml, &error);
    g_assert_no_error(error);
    g_assert_true(qemuSnapshotDefAlignDisks(snap, vm.def, &error));
    g_assert_no_error(error);
    g_assert_true(
        qemuSnapshotCreateDiskOnly(vm.jobs, vm.mon, testCaps, vm.def, snap, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(disk->src->backingStore == oldTop);
    g_assert_cmpstr(disk->src->path, ==, file);
    testAssertNodesAreCached(&vm);
    g_assert_true(testGuestHas(&vm, disk->info.alias, 0xb2, "1M"));
    testGuestWrite(&vm, disk->info.alias, 0xd4, "0", "64k");
    g_assert_true(testGuestHas(&vm, disk->info.alias, 0xd4, "0"));

    testVMStop(&vm);
    backing = testImgBacking(file);
    expected = g_strdup_printf("json:{\"file\":{\"driver\":\"nbd\",\"server\":{\"type\":"
                               "\"unix\",\"path\":\"%s\"},\"export\":\"exp\"}}",
                               nbd.sock);
    g_assert_cmpstr(backing, ==, expected);
    testNBDStop(&nbd);
    /* the export kept its data: the write went to the overlay */
    {
        const char *argv[] = {"qemu-io", "-f", "raw", "-c", "read -P 0xb1 0 64k", raw, NULL};
        g_autofree char *out = NULL;

        g_assert_cmpint(qvirTestRun(argv, &out, NULL), ==, 0);
        g_assert_null(strstr(out, "Pattern verification failed"));
    }
    testVMFree(&vm);
}

/* ---- hot-plug ------------------------------------------------------------------------------ */

static const char *testScsiController =
    "    <controller type='scsi' index='0' model='virtio-scsi'/>\n";

static void
testHotplugNBD(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *raw = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *drv = NULL;
    qemuHotplugOpts opts = {.chainConfig = NULL, .defaultDiskCache = -1};
    qvirDomainDiskDef *disk;
    TestNBD nbd = {0};
    guint64 probes;
    TestVM vm;
    int rc;

    testVMInitImages(&vm);
    raw = testMakeRaw(vm.dir);
    testNBDStart(&nbd, vm.dir, raw);
    testVMStart(&vm, "q35", "none", testScsiController);
    before = qvirDomainDefFormat(vm.def, QVIR_DOMAIN_DEF_FORMAT_STATUS);
    xml = g_strdup_printf("<disk type='network' device='disk'>\n"
                          "  <driver name='qemu' type='raw' cache='none'/>\n"
                          "  <source protocol='nbd' name='exp'>\n"
                          "    <host transport='unix' socket='%s'/>\n"
                          "  </source>\n"
                          "  <target dev='sdb' bus='scsi'/>\n"
                          "</disk>\n",
                          nbd.sock);
    disk = qvirDomainDiskDefParseString(xml, 0, &error);
    g_assert_no_error(error);
    probes = qvirStorageProbeCounter();

    g_assert_true(qemuHotplugAttachDisk(vm.mon, testCaps, vm.def, disk, &opts, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(qvirStorageProbeCounter(), ==, probes); /* never opened by us */
    drv = testNodeDriver(&vm, disk->src->nodeStorage);
    g_assert_cmpstr(drv, ==, "nbd");
    g_assert_true(testGuestHas(&vm, disk->info.alias, 0xb1, "0"));
    testGuestWrite(&vm, disk->info.alias, 0xb9, "3M", "64k");
    testAssertNodesAreCached(&vm);

    rc = qemuHotplugDetachDisk(vm.jobs, vm.mon, vm.def, disk, 10000, &error);
    g_assert_no_error(error);
    g_assert_cmpint(rc, ==, QEMU_HOTPLUG_DETACH_DONE);
    testAssertNodesAreCached(&vm);
    after = qvirDomainDefFormat(vm.def, QVIR_DOMAIN_DEF_FORMAT_STATUS);
    g_assert_cmpstr(after, ==, before);

    testVMStop(&vm);
    testNBDStop(&nbd);
    /* the guest's write reached the export */
    {
        const char *argv[] = {"qemu-io", "-f", "raw", "-c", "read -P 0xb9 3M 64k", raw, NULL};
        g_autofree char *out = NULL;

        g_assert_cmpint(qvirTestRun(argv, &out, NULL), ==, 0);
        g_assert_null(strstr(out, "Pattern verification failed"));
    }
    testVMFree(&vm);
}

/*
 * iSCSI with CHAP against a closed port: the secret object is created (QEMU decrypts it
 * with masterKey0 when it is added), the node cannot be, and the attach leaves nothing.
 * With a wrong master key QEMU refuses the object itself.
 */
static void
testHotplugSecretRollback(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) objectsBefore = NULL;
    g_autoptr(GPtrArray) objectsAfter = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *diskBefore = NULL;
    g_autofree char *diskAfter = NULL;
    qvirSecretDriver *secrets;
    qemuBlockSecretCtx sctx = {.lookup = testLookupSecret};
    qemuHotplugOpts opts = {.chainConfig = NULL, .defaultDiskCache = -1, .secrets = &sctx};
    g_autoptr(qvirDomainDiskDef) disk = NULL;
    static const char xml[] = "<disk type='network' device='disk'>\n"
                              "  <driver name='qemu' type='raw'/>\n"
                              "  <source protocol='iscsi' name='iqn.2026-01.org.qvirt:t/1'>\n"
                              "    <host name='127.0.0.1' port='1'/>\n"
                              "    <auth username='u'>\n"
                              "      <secret type='iscsi' uuid='" TEST_SECRET_UUID "'/>\n"
                              "    </auth>\n"
                              "  </source>\n"
                              "  <target dev='sdb' bus='scsi'/>\n"
                              "</disk>\n";
    guint8 wrongKey[32];
    TestVM vm;

    testVMInitImages(&vm);
    secrets = testSecrets(vm.dir);
    sctx.opaque = secrets;
    testVMStart(&vm, "q35", "none", testScsiController);
    sctx.masterKey = qemuProcessGetMasterKey(vm.proc);
    g_assert_nonnull(sctx.masterKey);
    before = qvirDomainDefFormat(vm.def, QVIR_DOMAIN_DEF_FORMAT_STATUS);
    objectsBefore = testObjects(&vm);
    disk = qvirDomainDiskDefParseString(xml, 0, &error);
    g_assert_no_error(error);
    diskBefore = qvirDomainDiskDefFormat(disk, QVIR_DOMAIN_DEF_FORMAT_STATUS);

    /* the object was accepted (decrypted), then the iSCSI connection failed */
    g_assert_false(qemuHotplugAttachDisk(vm.mon, testCaps, vm.def, disk, &opts, &error));
    g_assert_nonnull(error);
    g_assert_null(strstr(error->message, "secret"));
    g_clear_error(&error);
    objectsAfter = testObjects(&vm);
    g_assert_cmpuint(objectsAfter->len, ==, objectsBefore->len);
    g_assert_false(testHasObject(&vm, "libvirt-2-storage-auth-secret0"));
    testAssertNodesAreCached(&vm);
    after = qvirDomainDefFormat(vm.def, QVIR_DOMAIN_DEF_FORMAT_STATUS);
    g_assert_cmpstr(after, ==, before);
    diskAfter = qvirDomainDiskDefFormat(disk, QVIR_DOMAIN_DEF_FORMAT_STATUS);
    g_assert_cmpstr(diskAfter, ==, diskBefore);

    /* not the key masterKey0 holds: QEMU cannot decrypt the secret and says so */
    memcpy(wrongKey, sctx.masterKey, sizeof(wrongKey));
    wrongKey[0] ^= 0xff;
    sctx.masterKey = wrongKey;
    g_assert_false(qemuHotplugAttachDisk(vm.mon, testCaps, vm.def, disk, &opts, &error));
    g_assert_nonnull(error);
    g_test_message("wrong master key: %s", error->message);
    g_clear_error(&error);
    g_assert_false(testHasObject(&vm, "libvirt-2-storage-auth-secret0"));
    testAssertNodesAreCached(&vm);

    /* a secret the driver does not have: refused before QEMU is asked anything */
    {
        g_autofree char *other = g_strdup(xml);
        g_autoptr(qvirDomainDiskDef) d2 = NULL;
        char *u = strstr(other, TEST_SECRET_UUID);

        u[0] = '6';
        d2 = qvirDomainDiskDefParseString(other, 0, &error);
        g_assert_no_error(error);
        sctx.masterKey = qemuProcessGetMasterKey(vm.proc);
        g_assert_false(qemuHotplugAttachDisk(vm.mon, testCaps, vm.def, d2, &opts, &error));
        g_assert_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET);
        g_clear_error(&error);
    }

    testVMFree(&vm);
    qvirSecretDriverClose(secrets);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    testCapsInit();

    g_test_add_func("/netdisk/start/nbd", testStartNBD);
    g_test_add_func("/netdisk/start/missing-secret", testStartMissingSecret);
    g_test_add_func("/netdisk/snapshot/over-nbd", testSnapshotOverNBD);
    g_test_add_func("/netdisk/hotplug/nbd", testHotplugNBD);
    g_test_add_func("/netdisk/hotplug/secret-rollback", testHotplugSecretRollback);

    int ret = g_test_run();
    qemuCapsFree(testCaps);
    return ret;
}
