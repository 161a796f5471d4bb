/*
 * qemuluksdisktest: <encryption format='luks'> disks with a real QEMU 7.2 (TCG, -S).
 *
 * - a raw LUKS image and a qcow2 image with LUKS encryption, both made by qemu-img with a
 *   passphrase that is then defined in the secrets driver (one by uuid, one by usage): the
 *   domain starts, QEMU opens a "luks" format node and an encrypted qcow2 node, and the
 *   guest reads through them the data written through qemu-io with the passphrase;
 * - the passphrase reaches QEMU only encrypted with the master key;
 * - a wrong passphrase: the start fails with an error naming the disk, nothing is left.
 */
#include "blockopstestutils.h"
#include "secret/secret_driver.h"

#define TEST_UUID_RAW "7d1c3a0e-2b55-4c43-8d0e-1b7f0c1d2e01"
#define TEST_UUID_QCOW2 "7d1c3a0e-2b55-4c43-8d0e-1b7f0c1d2e02"
#define TEST_PASSPHRASE "luks-pass-1"

/* IMG of FMT ("luks" or "qcow2" with LUKS encryption) under PASS, 0xe1 written @1M. */
static void
testMakeEncrypted(const char *img, const char *fmt, const char *pass)
{
    g_autofree char *obj = g_strdup_printf("secret,id=s0,data=%s", pass);
    g_autofree char *image = g_strdup_printf("driver=%s,%skey-secret=s0,file.filename=%s", fmt,
                                             g_str_equal(fmt, "luks") ? "" : "encrypt.", img);
    const char *opt = g_str_equal(fmt, "luks") ? "key-secret=s0"
                                               : "encrypt.format=luks,"
                                                 "encrypt.key-secret=s0";
    const char *create[] = {"qemu-img", "create", "-q", "-f", fmt,  "--object",
                            obj,        "-o",     opt,  img,  "4M", NULL};
    const char *write[] = {"qemu-io", "--object", obj, "--image-opts", "-c", "write -P 0xe1 1M 64k",
                           image,     NULL};

    qvirTestRunOk(create);
    testRunOk(write);
}

/* A secrets driver in DIR/secrets with the passphrase of both images (RAWPASS for the raw
 * one, by uuid; TEST_PASSPHRASE for the qcow2 one, a volume secret found by its path). */
static qvirSecretDriver *
testSecrets(const char *dir, const char *qcow2, const char *rawPass)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *sdir = g_build_filename(dir, "secrets", NULL);
    qvirSecretDriver *drv = qvirSecretDriverOpen(sdir, &error);
    g_autofree char *xml2 = NULL;
    g_autoptr(qvirSecretRef) ref1 = NULL;
    g_autoptr(qvirSecretRef) ref2 = NULL;

    g_assert_no_error(error);
    ref1 = qvirSecretDefineXML(drv,
                               "<secret ephemeral='no' private='yes'>\n"
                               "  <uuid>" TEST_UUID_RAW "</uuid>\n"
                               "  <usage type='volume'><volume>/luks/raw</volume></usage>\n"
                               "</secret>\n",
                               0, &error);
    g_assert_no_error(error);
    g_assert_true(
        qvirSecretSetValue(drv, ref1->uuid, (const guint8 *)rawPass, strlen(rawPass), 0, &error));
    g_assert_no_error(error);
    xml2 = g_strdup_printf("<secret ephemeral='no' private='yes'>\n"
                           "  <uuid>" TEST_UUID_QCOW2 "</uuid>\n"
                           "  <usage type='volume'><volume>%s</volume></usage>\n"
                           "</secret>\n",
                           qcow2);
    ref2 = qvirSecretDefineXML(drv, xml2, 0, &error);
    g_assert_no_error(error);
    g_assert_true(qvirSecretSetValue(drv, ref2->uuid, (const guint8 *)TEST_PASSPHRASE,
                                     strlen(TEST_PASSPHRASE), 0, &error));
    g_assert_no_error(error);
    return drv;
}

static GBytes *
testLookupSecret(void *opaque, const char *uuid, const char *usageType, const char *usageID,
                 GError **error)
{
    return qvirSecretLookupValue(opaque, uuid, usageType, usageID, error);
}

/* Start the domain with vdb = RAW (LUKS, secret by uuid) and vdc = QCOW2 (LUKS inside,
 * secret by usage, written in the legacy <disk> position). */
static qemuProcess *
testStart(TestVM *vm, qvirSecretDriver *secrets, const char *raw, const char *qcow2, GError **error)
{
    static qemuBlockSecretCtx sctx = {.lookup = testLookupSecret};
    g_autofree char *xml = NULL;
    qemuProcessStartOpts opts = {0};

    sctx.opaque = secrets;
    xml = g_strdup_printf("<domain type='qemu'>\n"
                          "  <name>luks</name>\n"
                          "  <memory unit='MiB'>64</memory>\n"
                          "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                          "  <devices>\n"
                          "    <emulator>" TEST_QEMU "</emulator>\n"
                          "    <disk type='file' device='disk'>\n"
                          "      <driver name='qemu' type='raw'/>\n"
                          "      <source file='%s'>\n"
                          "        <encryption format='luks'>\n"
                          "          <secret type='passphrase' uuid='" TEST_UUID_RAW "'/>\n"
                          "        </encryption>\n"
                          "      </source>\n"
                          "      <target dev='vdb' bus='virtio'/>\n"
                          "    </disk>\n"
                          "    <disk type='file' device='disk'>\n"
                          "      <driver name='qemu' type='qcow2'/>\n"
                          "      <source file='%s'/>\n"
                          "      <target dev='vdc' bus='virtio'/>\n"
                          "      <encryption format='luks'>\n"
                          "        <secret type='passphrase' usage='%s'/>\n"
                          "      </encryption>\n"
                          "    </disk>\n"
                          "  </devices>\n"
                          "</domain>\n",
                          raw, qcow2, qcow2);
    vm->def = qvirDomainDefParseString(xml, 0, error);
    if (!vm->def)
        return NULL;
    opts.runDir = vm->runDir;
    opts.logDir = vm->logDir;
    opts.domainDir = vm->domainDir;
    opts.startPaused = TRUE;
    opts.defaultDiskCache = -1;
    opts.secrets = &sctx;
    return qemuProcessStart(vm->def, testCaps, &opts, &testVMCallbacks, vm, error);
}

/* query-named-block-nodes' entry for NODE. */
static const char *
testNodeDrv(TestGraph *g, const char *node)
{
    JsonObject *n = testGraphNamed(g, node);

    g_assert_nonnull(n);
    return json_object_get_string_member(n, "drv");
}

/* qemu-io inside QEMU on the virtio disk ALIAS: TRUE when the 64k at 1M are 0xe1. */
static gboolean
testGuestReads(TestVM *vm, const char *alias)
{
    JsonObject *args = json_object_new();
    g_autofree char *cmd = g_strdup_printf(
        "qemu-io -d /machine/peripheral/%s/virtio-backend \"read -P 0xe1 1M 64k\"", alias);
    g_autoptr(JsonNode) ret = NULL;
    const char *out;

    json_object_set_string_member(args, "command-line", cmd);
    ret = testQMP(vm, "human-monitor-command", args);
    out = json_node_get_string(ret);
    return out && !strstr(out, "failed") && !strstr(out, "error");
}

static void
testStartLuks(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *raw = NULL;
    g_autofree char *qcow2 = NULL;
    g_autofree char *cmdline = NULL;
    qvirSecretDriver *secrets;
    qvirDomainDiskDef *vdb;
    qvirDomainDiskDef *vdc;
    TestGraph g;
    TestVM vm;

    testVMInitImages(&vm);
    raw = g_build_filename(vm.dir, "disk.luks", NULL);
    qcow2 = g_build_filename(vm.dir, "disk-luks.qcow2", NULL);
    testMakeEncrypted(raw, "luks", TEST_PASSPHRASE);
    testMakeEncrypted(qcow2, "qcow2", TEST_PASSPHRASE);
    secrets = testSecrets(vm.dir, qcow2, TEST_PASSPHRASE);

    vm.proc = testStart(&vm, secrets, raw, qcow2, &error);
    g_assert_no_error(error);
    g_assert_nonnull(vm.proc);
    vm.mon = qemuProcessGetMonitor(vm.proc);
    testVMTrackPid(qemuProcessGetPid(vm.proc), TRUE);

    vdb = testVMDisk(&vm, "vdb");
    vdc = testVMDisk(&vm, "vdc");
    testGraphLoad(&vm, &g);
    g_assert_cmpstr(testNodeDrv(&g, vdb->src->nodeFormat), ==, "luks");
    g_assert_cmpstr(testNodeDrv(&g, vdc->src->nodeFormat), ==, "qcow2");
    g_assert_true(
        json_object_get_boolean_member(testGraphNamed(&g, vdc->src->nodeFormat), "encrypted"));
    testGraphClear(&g);
    /* QEMU decrypts: the guest sees what was written under the passphrase */
    g_assert_true(testGuestReads(&vm, vdb->info.alias));
    g_assert_true(testGuestReads(&vm, vdc->info.alias));

    /* the passphrase is on QEMU's command line only encrypted with the master key */
    {
        g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", qemuProcessGetPid(vm.proc));
        gsize len = 0;

        g_assert_true(g_file_get_contents(path, &cmdline, &len, NULL));
        for (gsize i = 0; i + 1 < len; i++)
            if (cmdline[i] == '\0')
                cmdline[i] = ' ';
        g_assert_null(strstr(cmdline, TEST_PASSPHRASE));
        g_assert_nonnull(strstr(cmdline, "\"id\":\"libvirt-2-format-encryption-secret0\""));
        g_assert_nonnull(strstr(cmdline, "\"keyid\":\"masterKey0\""));
    }

    qvirSecretDriverClose(secrets);
    testVMFree(&vm);
}

/* The raw image's secret holds another passphrase: QEMU cannot open it; the start fails
 * with an error that names the disk, and no QEMU or master key is left. */
static void
testStartWrongPassphrase(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *raw = NULL;
    g_autofree char *qcow2 = NULL;
    g_autofree char *key = NULL;
    qvirSecretDriver *secrets;
    TestVM vm;

    testVMInitImages(&vm);
    raw = g_build_filename(vm.dir, "disk.luks", NULL);
    qcow2 = g_build_filename(vm.dir, "disk-luks.qcow2", NULL);
    testMakeEncrypted(raw, "luks", TEST_PASSPHRASE);
    testMakeEncrypted(qcow2, "qcow2", TEST_PASSPHRASE);
    secrets = testSecrets(vm.dir, qcow2, "not-the-passphrase");

    vm.proc = testStart(&vm, secrets, raw, qcow2, &error);
    g_assert_null(vm.proc);
    g_assert_nonnull(error);
    g_test_message("wrong passphrase: %s", error->message);
    g_assert_nonnull(strstr(error->message, "Invalid password"));
    g_assert_nonnull(strstr(error->message, "disk 'vdb'"));
    key = g_build_filename(vm.domainDir, "master-key.aes", NULL);
    g_assert_false(g_file_test(key, G_FILE_TEST_EXISTS));

    qvirSecretDriverClose(secrets);
    testVMFree(&vm);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    testCapsInit();

    g_test_add_func("/luksdisk/start", testStartLuks);
    g_test_add_func("/luksdisk/start/wrong-passphrase", testStartWrongPassphrase);

    int ret = g_test_run();
    qemuCapsFree(testCaps);
    return ret;
}
