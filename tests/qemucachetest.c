/*
 * qemucachetest: QEMU really applies the cache mode we put on its command line.
 *
 * For every cache mode, a domain with a 3-layer qcow2 chain (made by qemu-img in a
 * directory of the build tree, not on tmpfs, so O_DIRECT works) is started with OUR
 * argv (installed QEMU 7.2, TCG, -S, as a child, QMP on a unix socket). Through
 * query-named-block-nodes we check cache.direct / cache.no-flush on both nodes of every
 * layer, and through query-block the guest-visible write cache (cache.writeback).
 * The same again with the legacy -drive form built for binaries without -blockdev.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "testutils.h"
#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_command.h"
#include "qemu/qemu_domain.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"
#define CHAIN_DEPTH 3

static qemuCaps *testCaps;
static char *testDir; /* images, shared by all modes */

typedef struct {
    GSubprocess *proc;
    GSocketConnection *conn;
    GDataInputStream *in;
    GOutputStream *out;
} qemuCacheVM;

static void
qemuCacheRunOrDie(const char *const *argv)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("%s failed: %s", argv[0], err ? err : "");
}

/* base.qcow2 <- mid.qcow2 <- top.qcow2 */
static void
qemuCacheMakeImages(void)
{
    g_autofree char *base = g_build_filename(testDir, "base.qcow2", NULL);
    g_autofree char *mid = g_build_filename(testDir, "mid.qcow2", NULL);
    g_autofree char *top = g_build_filename(testDir, "top.qcow2", NULL);
    const char *a1[] = {"qemu-img", "create", "-q", "-f", "qcow2", base, "16M", NULL};
    const char *a2[] = {"qemu-img", "create", "-q",    "-f", "qcow2", "-b",
                        base,       "-F",     "qcow2", mid,  NULL};
    const char *a3[] = {"qemu-img", "create", "-q",    "-f", "qcow2", "-b",
                        mid,        "-F",     "qcow2", top,  NULL};

    qemuCacheRunOrDie(a1);
    qemuCacheRunOrDie(a2);
    qemuCacheRunOrDie(a3);
}

static char *
qemuCacheDomainXML(const char *cache)
{
    return g_strdup_printf("<domain type='qemu'>\n"
                           "  <name>cachetest</name>\n"
                           "  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n"
                           "  <memory unit='KiB'>65536</memory>\n"
                           "  <vcpu>1</vcpu>\n"
                           "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                           "  <devices>\n"
                           "    <emulator>" QEMU_BINARY "</emulator>\n"
                           "    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='qcow2'%s%s%s/>\n"
                           "      <source file='%s/top.qcow2'/>\n"
                           "      <backingStore type='file'>\n"
                           "        <format type='qcow2'/>\n"
                           "        <source file='%s/mid.qcow2'/>\n"
                           "        <backingStore type='file'>\n"
                           "          <format type='qcow2'/>\n"
                           "          <source file='%s/base.qcow2'/>\n"
                           "          <backingStore/>\n"
                           "        </backingStore>\n"
                           "      </backingStore>\n"
                           "      <target dev='vda' bus='virtio'/>\n"
                           "    </disk>\n"
                           "    <memballoon model='none'/>\n"
                           "  </devices>\n"
                           "</domain>\n",
                           cache ? " cache='" : "", cache ? cache : "", cache ? "'" : "", testDir,
                           testDir, testDir);
}

static JsonNode *
qemuCacheReadReply(qemuCacheVM *vm)
{
    for (;;) {
        g_autoptr(GError) error = NULL;
        g_autofree char *line = g_data_input_stream_read_line_utf8(vm->in, NULL, NULL, &error);
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *obj;

        g_assert_no_error(error);
        g_assert_nonnull(line); /* QEMU went away */
        g_assert_true(json_parser_load_from_data(parser, line, -1, NULL));
        obj = json_node_get_object(json_parser_get_root(parser));
        if (json_object_has_member(obj, "event") || json_object_has_member(obj, "QMP"))
            continue;
        if (json_object_has_member(obj, "error"))
            g_error("QMP error: %s", line);
        return json_node_copy(json_object_get_member(obj, "return"));
    }
}

static JsonNode *
qemuCacheCommand(qemuCacheVM *vm, const char *cmd)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *line = g_strdup_printf("%s\n", cmd);

    g_assert_true(g_output_stream_write_all(vm->out, line, strlen(line), NULL, NULL, &error));
    g_assert_no_error(error);
    return qemuCacheReadReply(vm);
}

static void
qemuCacheChildSetup(gpointer data)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void
qemuCacheStart(qemuCacheVM *vm, qvirDomainDef *def, const qemuCaps *caps, const char *runDir)
{
    g_autofree char *mon = g_build_filename(runDir, "monitor.sock", NULL);
    g_autofree char *key = g_build_filename(runDir, "master-key.aes", NULL);
    qemuBuildCommandLineOpts opts = {
        .monitorPath = mon, .monitorFd = -1, .domainDir = runDir, .startPaused = TRUE};
    g_autoptr(qemuCommandLine) cmd = NULL;
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) hello = NULL;
    guchar secret[32];

    for (size_t i = 0; i < sizeof(secret); i++)
        secret[i] = (guchar)g_random_int();
    g_assert_true(g_file_set_contents(key, (const char *)secret, sizeof(secret), NULL));

    g_assert_true(qemuDomainPrepareForStart(def, caps, &error));
    g_assert_no_error(error);
    g_assert_true(qemuValidateDomainDef(def, caps, &error));
    cmd = qemuBuildCommandLine(def, caps, &opts, &error);
    g_assert_no_error(error);

    /* QEMU must not outlive a failed assertion, nor hold the test's output open */
    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                         G_SUBPROCESS_FLAGS_STDERR_SILENCE);
    g_subprocess_launcher_set_child_setup(launcher, qemuCacheChildSetup, NULL, NULL);
    g_subprocess_launcher_set_environ(launcher, (char **)cmd->env->pdata);
    vm->proc =
        g_subprocess_launcher_spawnv(launcher, (const char *const *)cmd->argv->pdata, &error);
    g_assert_no_error(error);

    /* wait=off: QEMU listens before it runs; poll for the socket */
    addr = g_unix_socket_address_new(mon);
    for (int i = 0; i < 200 && !vm->conn; i++) {
        g_clear_error(&error);
        vm->conn = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, &error);
        if (!vm->conn) {
            g_assert_null(g_subprocess_get_identifier(vm->proc) ? NULL : "QEMU exited");
            g_usleep(25000);
        }
    }
    if (!vm->conn)
        g_error("cannot connect to QEMU's monitor: %s", error->message);
    vm->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(vm->conn)));
    vm->out = g_io_stream_get_output_stream(G_IO_STREAM(vm->conn));
    hello = qemuCacheCommand(vm, "{\"execute\":\"qmp_capabilities\"}");
}

static void
qemuCacheStop(qemuCacheVM *vm)
{
    if (vm->proc) {
        g_subprocess_send_signal(vm->proc, SIGKILL);
        g_subprocess_wait(vm->proc, NULL, NULL);
        g_clear_object(&vm->proc);
    }
    g_clear_object(&vm->in);
    g_clear_object(&vm->conn);
}

static JsonObject *
qemuCacheFindNode(JsonArray *nodes, const char *name)
{
    for (guint i = 0; i < json_array_get_length(nodes); i++) {
        JsonObject *n = json_array_get_object_element(nodes, i);

        if (g_strcmp0(json_object_get_string_member_with_default(n, "node-name", ""), name) == 0)
            return n;
    }
    return NULL;
}

static void
qemuCacheTestMode(gconstpointer data)
{
    const char *mode = data; /* NULL = default */
    qvirDomainDiskCache cm =
        mode ? qvirDomainDiskCacheTypeFromString(mode) : QVIR_DOMAIN_DISK_CACHE_DEFAULT;
    g_autofree char *xml = qemuCacheDomainXML(mode);
    g_autofree char *runDir = g_build_filename(testDir, mode ? mode : "default", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = qvirDomainDefParseString(xml, 0, &error);
    g_autoptr(JsonNode) nodesReply = NULL;
    g_autoptr(JsonNode) blockReply = NULL;
    qemuCacheVM vm = {0};
    gboolean wb = TRUE, direct = FALSE, noflush = FALSE;
    qvirDomainDiskDef *disk;
    JsonArray *blocks;
    gboolean foundDevice = FALSE;
    guint layers = 0;

    g_assert_no_error(error);
    g_assert_cmpint(g_mkdir_with_parents(runDir, 0700), ==, 0);
    qemuDomainDiskCacheModeFlags(cm, &wb, &direct, &noflush);

    qemuCacheStart(&vm, def, testCaps, runDir);
    disk = g_ptr_array_index(def->disks, 0);

    nodesReply = qemuCacheCommand(&vm, "{\"execute\":\"query-named-block-nodes\","
                                       "\"arguments\":{\"flat\":true}}");
    for (qvirStorageSource *src = disk->src; qvirStorageSourceIsBacking(src);
         src = src->backingStore) {
        const char *names[] = {src->nodeStorage, src->nodeFormat};

        for (size_t k = 0; k < G_N_ELEMENTS(names); k++) {
            JsonObject *node = qemuCacheFindNode(json_node_get_array(nodesReply), names[k]);
            JsonObject *cache;

            if (!node)
                g_error("node %s not found in query-named-block-nodes", names[k]);
            cache = json_object_get_object_member(node, "cache");
            g_assert_cmpint(json_object_get_boolean_member(cache, "direct"), ==, direct);
            g_assert_cmpint(json_object_get_boolean_member(cache, "no-flush"), ==, noflush);
            /* lower layers' format nodes are read-only */
            if (k == 1)
                g_assert_cmpint(json_object_get_boolean_member(node, "ro"), ==, src != disk->src);
        }
        layers++;
    }
    g_assert_cmpuint(layers, ==, CHAIN_DEPTH);

    /* the guest-visible write cache is the device's (write-cache=on/off) */
    blockReply = qemuCacheCommand(&vm, "{\"execute\":\"query-block\"}");
    blocks = json_node_get_array(blockReply);
    for (guint i = 0; i < json_array_get_length(blocks); i++) {
        JsonObject *b = json_array_get_object_element(blocks, i);
        JsonObject *ins, *cache;

        if (!json_object_has_member(b, "inserted"))
            continue;
        ins = json_object_get_object_member(b, "inserted");
        if (g_strcmp0(json_object_get_string_member_with_default(ins, "node-name", ""),
                      disk->src->nodeFormat) != 0)
            continue;
        cache = json_object_get_object_member(ins, "cache");
        g_assert_cmpint(json_object_get_boolean_member(cache, "writeback"), ==, wb);
        g_assert_cmpint(json_object_get_boolean_member(cache, "direct"), ==, direct);
        g_assert_cmpint(json_object_get_boolean_member(cache, "no-flush"), ==, noflush);
        g_assert_nonnull(
            strstr(json_object_get_string_member_with_default(b, "qdev", ""), "virtio-disk0"));
        foundDevice = TRUE;
    }
    g_assert_true(foundDevice);
    qemuCacheStop(&vm);
}

/*
 * The legacy form (-drive ...,cache=MODE + -device), as built for binaries without
 * -blockdev, given to QEMU 7.2 (which still takes it): QEMU opens the chain itself and
 * every node it creates, on every layer, must carry the mode.
 */
static void
qemuCacheTestLegacy(gconstpointer data)
{
    const char *mode = data;
    qvirDomainDiskCache cm =
        mode ? qvirDomainDiskCacheTypeFromString(mode) : QVIR_DOMAIN_DISK_CACHE_DEFAULT;
    g_autofree char *xml = qemuCacheDomainXML(mode);
    g_autofree char *name = g_strdup_printf("legacy-%s", mode ? mode : "default");
    g_autofree char *runDir = g_build_filename(testDir, name, NULL);
    g_autofree char *capsPath = qvirTestSrcPath("qemucapsdata/qemu-7.2.json");
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuCaps) caps = qemuCapsLoadFile(capsPath, &error);
    g_autoptr(qvirDomainDef) def = qvirDomainDefParseString(xml, 0, &error);
    g_autoptr(JsonNode) nodesReply = NULL;
    g_autoptr(JsonNode) blockReply = NULL;
    qemuCacheVM vm = {0};
    gboolean wb = TRUE, direct = FALSE, noflush = FALSE;
    JsonArray *nodes, *blocks;
    guint files = 0;
    gboolean foundDevice = FALSE;

    g_assert_no_error(error);
    qemuCapsClear(caps, QEMU_CAPS_BLOCKDEV);
    qemuCapsClear(caps, QEMU_CAPS_OBJECT_JSON);
    g_assert_cmpint(g_mkdir_with_parents(runDir, 0700), ==, 0);
    qemuDomainDiskCacheModeFlags(cm, &wb, &direct, &noflush);

    qemuCacheStart(&vm, def, caps, runDir);
    nodesReply = qemuCacheCommand(&vm, "{\"execute\":\"query-named-block-nodes\","
                                       "\"arguments\":{\"flat\":true}}");
    nodes = json_node_get_array(nodesReply);
    for (guint i = 0; i < json_array_get_length(nodes); i++) {
        JsonObject *node = json_array_get_object_element(nodes, i);
        JsonObject *cache = json_object_get_object_member(node, "cache");

        g_assert_cmpint(json_object_get_boolean_member(cache, "direct"), ==, direct);
        g_assert_cmpint(json_object_get_boolean_member(cache, "no-flush"), ==, noflush);
        if (g_strcmp0(json_object_get_string_member_with_default(node, "drv", ""), "file") == 0)
            files++;
    }
    /* three images, each a format node over a file node */
    g_assert_cmpuint(files, ==, CHAIN_DEPTH);

    blockReply = qemuCacheCommand(&vm, "{\"execute\":\"query-block\"}");
    blocks = json_node_get_array(blockReply);
    for (guint i = 0; i < json_array_get_length(blocks); i++) {
        JsonObject *b = json_array_get_object_element(blocks, i);
        JsonObject *cache;

        if (g_strcmp0(json_object_get_string_member_with_default(b, "device", ""),
                      "drive-virtio-disk0") != 0)
            continue;
        cache =
            json_object_get_object_member(json_object_get_object_member(b, "inserted"), "cache");
        g_assert_cmpint(json_object_get_boolean_member(cache, "writeback"), ==, wb);
        g_assert_cmpint(json_object_get_boolean_member(cache, "direct"), ==, direct);
        g_assert_cmpint(json_object_get_boolean_member(cache, "no-flush"), ==, noflush);
        foundDevice = TRUE;
    }
    g_assert_true(foundDevice);
    qemuCacheStop(&vm);
}

int
main(int argc, char **argv)
{
    static const char *const modes[] = {NULL,        "none",       "writethrough",
                                        "writeback", "directsync", "unsafe"};
    g_autoptr(GError) error = NULL;
    g_autofree char *parent = qvirTestBuildPath("tests");
    int ret;

    g_test_init(&argc, &argv, NULL);

    /* /tmp may be tmpfs (no O_DIRECT before Linux 6.6): stay in the build tree */
    testDir = g_build_filename(parent, "qemucachetest-XXXXXX", NULL);
    if (!qvirTestMkdtemp(testDir))
        g_error("cannot create %s", testDir);
    testCaps = qemuCapsProbe(QEMU_BINARY, &error);
    g_assert_no_error(error);
    qemuCacheMakeImages();

    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        g_autofree char *path = g_strdup_printf("/qemucache/%s", modes[i] ? modes[i] : "default");

        g_test_add_data_func(path, modes[i], qemuCacheTestMode);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        g_autofree char *path =
            g_strdup_printf("/qemucache/legacy-drive/%s", modes[i] ? modes[i] : "default");

        g_test_add_data_func(path, modes[i], qemuCacheTestLegacy);
    }
    ret = g_test_run();
    qvirTestTempDirRemove(testDir);
    qemuCapsFree(testCaps);
    g_free(testDir);
    return ret;
}
