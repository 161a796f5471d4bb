/*
 * blockopstestutils.h: a real QEMU 7.2 (TCG, -S) started through qemuProcessStart with a
 * 3-layer qcow2 chain whose data patterns were written by qemu-io before the start, and
 * the assertions the live disk operation tests share: the cached chain equals QEMU's block
 * graph, no image header was read after the start, the data is where it should be.
 *
 * Static functions: each test program includes this once.
 */
#pragma once

/* Each test program uses a different subset of these helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "testutils.h"
#include "conf/domain_conf.h"
#include "qemu/qemu_blockjob.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_process.h"
#include "storage/storage_chain.h"
#include "util/virerror.h"

#define TEST_QEMU "/usr/bin/qemu-system-x86_64"
#define TEST_MON_TIMEOUT 10000

static qemuCaps *testCaps;

/* QEMUs of running test VMs: an assertion that aborts the program takes them along. */
static pid_t testVMPids[16];

static void
testVMOnFatalSignal(int sig)
{
    for (guint i = 0; i < G_N_ELEMENTS(testVMPids); i++) {
        if (testVMPids[i] > 0)
            kill(testVMPids[i], SIGKILL);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
testVMTrackPid(pid_t pid, gboolean add)
{
    static gboolean installed;

    if (!installed) {
        signal(SIGABRT, testVMOnFatalSignal);
        signal(SIGTRAP, testVMOnFatalSignal);
        signal(SIGSEGV, testVMOnFatalSignal);
        signal(SIGBUS, testVMOnFatalSignal);
        installed = TRUE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(testVMPids); i++) {
        if (add && testVMPids[i] == 0) {
            testVMPids[i] = pid;
            return;
        }
        if (!add && testVMPids[i] == pid) {
            testVMPids[i] = 0;
            return;
        }
    }
}

typedef struct {
    char *dir; /* images, run, log: on an O_DIRECT capable filesystem */
    char *runDir;
    char *logDir;
    char *domainDir;
    char *base; /* base.qcow2 <- mid.qcow2 <- top.qcow2 */
    char *mid;
    char *top;
    qvirDomainDef *def;
    qemuProcess *proc;
    qemuMonitor *mon;
    qemuBlockJobs *jobs;
    guint64 probesAfterStart;
    GMutex lock;
    GPtrArray *events; /* names of every QMP event seen */
    gboolean deaf;     /* the "daemon" is away: events reach no job table */
} TestVM;

/* ---- processes and images ------------------------------------------------------------ */

static void
testRunOk(const char *const *argv)
{
    g_autofree char *err = NULL;
    g_autofree char *out = NULL;
    int rc = qvirTestRun(argv, &out, &err);

    if (rc != 0)
        g_error("%s failed (%d): %s%s", argv[0], rc, out ? out : "", err ? err : "");
}

static void
testImgCreate(const char *path, const char *backing, const char *size)
{
    if (backing) {
        const char *argv[] = {"qemu-img", "create", "-q",    "-f", "qcow2", "-F",
                              "qcow2",    "-b",     backing, path, NULL};
        testRunOk(argv);
    } else {
        const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", path, size, NULL};
        testRunOk(argv);
    }
}

static void
testImgWrite(const char *path, unsigned int pattern, const char *off, const char *len)
{
    g_autofree char *cmd = g_strdup_printf("write -P 0x%02x %s %s", pattern, off, len);
    const char *argv[] = {"qemu-io", "-f", "qcow2", "-c", cmd, path, NULL};

    testRunOk(argv);
}

/* qemu-io exits 1 when the pattern does not match. */
static gboolean
testImgHas(const char *path, unsigned int pattern, const char *off, const char *len)
{
    g_autofree char *cmd = g_strdup_printf("read -P 0x%02x %s %s", pattern, off, len);
    const char *argv[] = {"qemu-io", "-r", "-f", "qcow2", "-c", cmd, path, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    return qvirTestRun(argv, &out, &err) == 0;
}

/* The backing file name recorded in PATH's header ("" when none). */
static char *
testImgBacking(const char *path)
{
    const char *argv[] = {"qemu-img", "info", "-U", "--output=json", path, NULL};
    g_autofree char *out = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *o;

    g_assert_cmpint(qvirTestRun(argv, &out, NULL), ==, 0);
    g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
    o = json_node_get_object(json_parser_get_root(parser));
    return g_strdup(json_object_has_member(o, "backing-filename")
                        ? json_object_get_string_member(o, "backing-filename")
                        : "");
}

static gint
testStrPtrCmp(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* Every file in DIR with its size and mtime, to prove a failed operation touched none. */
static char *
testDirSnapshot(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    GString *buf = g_string_new(NULL);
    const char *name;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        if (g_str_has_suffix(name, ".qcow2") || g_str_has_suffix(name, ".img") ||
            g_str_has_prefix(name, "snap"))
            g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, testStrPtrCmp);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *p = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
        struct stat st;

        g_assert_cmpint(stat(p, &st), ==, 0);
        g_string_append_printf(buf, "%s %lld %lld.%09ld\n", (char *)g_ptr_array_index(names, i),
                               (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                               st.st_mtim.tv_nsec);
    }
    return g_string_free(buf, FALSE);
}

/* ---- the VM ---------------------------------------------------------------------------- */

static void
testVMEvent(qemuProcess *proc, const char *name, JsonObject *data, gpointer opaque)
{
    TestVM *vm = opaque;

    g_mutex_lock(&vm->lock);
    if (!vm->deaf)
        qemuBlockJobsHandleEvent(vm->jobs, name, data);
    g_ptr_array_add(vm->events, g_strdup(name));
    g_mutex_unlock(&vm->lock);
}

static void
testVMExited(qemuProcess *proc, qemuProcessExitReason reason, gpointer opaque)
{
}

static const qemuProcessCallbacks testVMCallbacks = {
    .exited = testVMExited,
    .event = testVMEvent,
};

static void
testCapsInit(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cacheDir = qvirTestBuildPath("tests/blockops-data/caps");

    g_mkdir_with_parents(cacheDir, 0700);
    if (!(testCaps = qemuCapsCacheLookup(TEST_QEMU, cacheDir, &error)))
        g_error("cannot probe %s: %s", TEST_QEMU, error->message);
}

/*
 * Patterns (64 KiB each), written before QEMU starts:
 *   base: 0x11 @0, 0x14 @3M     mid: 0x22 @1M, 0x24 @3M     top: 0x33 @2M
 * so the guest sees 0x11 @0, 0x22 @1M, 0x33 @2M, 0x24 @3M.
 */
static void
testVMInitImages(TestVM *vm)
{
    /* /var/tmp is ext4 here; /tmp may be a tmpfs without O_DIRECT. */
    g_autofree char *tmpl = g_build_filename("/var/tmp", "qvirt-blockops-XXXXXX", NULL);

    memset(vm, 0, sizeof(*vm));
    vm->dir = qvirTestMkdtemp(g_steal_pointer(&tmpl));
    g_assert_nonnull(vm->dir);
    vm->runDir = g_build_filename(vm->dir, "run", NULL);
    vm->logDir = g_build_filename(vm->dir, "log", NULL);
    vm->domainDir = g_build_filename(vm->dir, "domain", NULL);
    vm->base = g_build_filename(vm->dir, "base.qcow2", NULL);
    vm->mid = g_build_filename(vm->dir, "mid.qcow2", NULL);
    vm->top = g_build_filename(vm->dir, "top.qcow2", NULL);
    vm->jobs = qemuBlockJobsNew();
    vm->events = g_ptr_array_new_with_free_func(g_free);
    g_mutex_init(&vm->lock);

    testImgCreate(vm->base, NULL, "16M");
    testImgCreate(vm->mid, "base.qcow2", NULL);
    testImgCreate(vm->top, "mid.qcow2", NULL);
    testImgWrite(vm->base, 0x11, "0", "64k");
    testImgWrite(vm->base, 0x14, "3M", "64k");
    testImgWrite(vm->mid, 0x22, "1M", "64k");
    testImgWrite(vm->mid, 0x24, "3M", "64k");
    testImgWrite(vm->top, 0x33, "2M", "64k");
}

/* The guest's view through IMG: all four patterns. */
static void
testAssertGuestData(const char *img)
{
    g_assert_true(testImgHas(img, 0x11, "0", "64k"));
    g_assert_true(testImgHas(img, 0x22, "1M", "64k"));
    g_assert_true(testImgHas(img, 0x33, "2M", "64k"));
    g_assert_true(testImgHas(img, 0x24, "3M", "64k"));
}

/*
 * Start a domain: MACHINE "pc" or "q35", vda = the chain's top with CACHE, then EXTRA
 * devices. Paused (-S): no guest runs, QEMU's block layer does all the work.
 */
static void
testVMStart(TestVM *vm, const char *machine, const char *cache, const char *extra)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *xml =
        g_strdup_printf("<domain type='qemu'>\n"
                        "  <name>blockops</name>\n"
                        "  <uuid>6f1d7b9e-3a4c-4f7e-9a53-0c2b8e1d4a77</uuid>\n"
                        "  <memory unit='MiB'>64</memory>\n"
                        "  <vcpu>1</vcpu>\n"
                        "  <os><type arch='x86_64' machine='%s'>hvm</type></os>\n"
                        "  <features><acpi/></features>\n" /* PCI hot-plug on pc needs ACPI */
                        "  <devices>\n"
                        "    <emulator>" TEST_QEMU "</emulator>\n"
                        "    <disk type='file' device='disk'>\n"
                        "      <driver name='qemu' type='qcow2' cache='%s'/>\n"
                        "      <source file='%s'/>\n"
                        "      <target dev='vda' bus='virtio'/>\n"
                        "    </disk>\n"
                        "%s"
                        "  </devices>\n"
                        "</domain>\n",
                        machine, cache, vm->top, extra ? extra : "");
    qemuProcessStartOpts opts = {
        .runDir = vm->runDir,
        .logDir = vm->logDir,
        .domainDir = vm->domainDir,
        .startPaused = TRUE,
        .chainConfig = NULL,
        .defaultDiskCache = -1,
    };

    vm->def = qvirDomainDefParseString(xml, 0, &error);
    g_assert_no_error(error);
    vm->proc = qemuProcessStart(vm->def, testCaps, &opts, &testVMCallbacks, vm, &error);
    g_assert_no_error(error);
    g_assert_nonnull(vm->proc);
    vm->mon = qemuProcessGetMonitor(vm->proc);
    vm->probesAfterStart = qvirStorageProbeCounter();
    testVMTrackPid(qemuProcessGetPid(vm->proc), TRUE);
}

/* Stop QEMU (so images can be read with qemu-io) but keep the definition for checks. */
static void
testVMStop(TestVM *vm)
{
    g_autoptr(GError) error = NULL;

    if (!vm->proc)
        return;
    testVMTrackPid(qemuProcessGetPid(vm->proc), FALSE);
    g_assert_true(qemuProcessStop(vm->proc, &error));
    g_assert_no_error(error);
    qemuProcessFree(vm->proc);
    vm->proc = NULL;
    vm->mon = NULL;
}

static void
testVMFree(TestVM *vm)
{
    testVMStop(vm);
    qvirDomainDefFree(vm->def);
    qemuBlockJobsFree(vm->jobs);
    g_ptr_array_unref(vm->events);
    g_mutex_clear(&vm->lock);
    qvirTestTempDirRemove(vm->dir);
    g_free(vm->dir);
    g_free(vm->runDir);
    g_free(vm->logDir);
    g_free(vm->domainDir);
    g_free(vm->base);
    g_free(vm->mid);
    g_free(vm->top);
}

static JsonNode *
testQMP(TestVM *vm, const char *cmd, JsonObject *args)
{
    g_autoptr(GError) error = NULL;
    JsonNode *ret = qemuMonitorCommandSteal(vm->mon, cmd, args, TEST_MON_TIMEOUT, &error);

    g_assert_no_error(error);
    g_assert_nonnull(ret);
    return ret;
}

static qvirDomainDiskDef *
testVMDisk(TestVM *vm, const char *dst)
{
    qvirDomainDiskDef *disk = qvirDomainDiskByTarget(vm->def, dst);

    g_assert_nonnull(disk);
    return disk;
}

/* A daemon restart as the job table sees it: events lost while DEAF, then a new table. */
static void
testVMRestartJobs(TestVM *vm, gboolean deaf)
{
    g_mutex_lock(&vm->lock);
    qemuBlockJobsFree(vm->jobs);
    vm->jobs = qemuBlockJobsNew();
    vm->deaf = deaf;
    g_mutex_unlock(&vm->lock);
}

/* Block jobs end asynchronously: wait for the event, then apply it to the cache. */
static void
testVMWaitJob(TestVM *vm, const char *dst, GPtrArray *events)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(qemuBlockJobWait(vm->jobs, dst, FALSE, 30000));
    g_assert_true(qemuBlockJobsProcess(vm->jobs, vm->mon, vm->def, events, &error));
    g_assert_no_error(error);
    g_assert_false(qemuBlockJobsDiskHasJob(vm->jobs, dst));
}

/* ---- QEMU's block graph ---------------------------------------------------------------- */

typedef struct {
    JsonNode *graphRoot;
    JsonNode *nodesRoot;
    JsonArray *gnodes; /* x-debug-query-block-graph nodes */
    JsonArray *edges;
    JsonArray *named; /* query-named-block-nodes (flat) */
} TestGraph;

static void
testGraphLoad(TestVM *vm, TestGraph *g)
{
    JsonObject *args = json_object_new();
    JsonObject *o;

    json_object_set_boolean_member(args, "flat", TRUE);
    g->nodesRoot = testQMP(vm, "query-named-block-nodes", args);
    g->named = json_node_get_array(g->nodesRoot);
    g->graphRoot = testQMP(vm, "x-debug-query-block-graph", NULL);
    o = json_node_get_object(g->graphRoot);
    g->gnodes = json_object_get_array_member(o, "nodes");
    g->edges = json_object_get_array_member(o, "edges");
}

static void
testGraphClear(TestGraph *g)
{
    json_node_unref(g->graphRoot);
    json_node_unref(g->nodesRoot);
}

static gint64
testGraphId(TestGraph *g, const char *name)
{
    for (guint i = 0; i < json_array_get_length(g->gnodes); i++) {
        JsonObject *n = json_array_get_object_element(g->gnodes, i);

        if (g_strcmp0(json_object_get_string_member(n, "name"), name) == 0)
            return json_object_get_int_member(n, "id");
    }
    return -1;
}

static const char *
testGraphName(TestGraph *g, gint64 id)
{
    for (guint i = 0; i < json_array_get_length(g->gnodes); i++) {
        JsonObject *n = json_array_get_object_element(g->gnodes, i);

        if (json_object_get_int_member(n, "id") == id)
            return json_object_get_string_member(n, "name");
    }
    return NULL;
}

/* Name of PARENT's child over edge EDGE ("file", "backing", "root"), or NULL. */
static const char *
testGraphChild(TestGraph *g, const char *parent, const char *edge)
{
    gint64 pid = testGraphId(g, parent);

    for (guint i = 0; pid >= 0 && i < json_array_get_length(g->edges); i++) {
        JsonObject *e = json_array_get_object_element(g->edges, i);

        if (json_object_get_int_member(e, "parent") == pid &&
            g_strcmp0(json_object_get_string_member(e, "name"), edge) == 0)
            return testGraphName(g, json_object_get_int_member(e, "child"));
    }
    return NULL;
}

static JsonObject *
testGraphNamed(TestGraph *g, const char *node)
{
    for (guint i = 0; i < json_array_get_length(g->named); i++) {
        JsonObject *n = json_array_get_object_element(g->named, i);

        if (g_strcmp0(json_object_get_string_member(n, "node-name"), node) == 0)
            return n;
    }
    return NULL;
}

/* The block backend of the device with ALIAS (virtio: ".../ALIAS/virtio-backend"). */
static const char *
testGraphDeviceRoot(TestGraph *g, const char *alias)
{
    g_autofree char *plain = g_strdup_printf("/machine/peripheral/%s", alias);
    g_autofree char *virtio = g_strdup_printf("/machine/peripheral/%s/virtio-backend", alias);

    for (guint i = 0; i < json_array_get_length(g->gnodes); i++) {
        JsonObject *n = json_array_get_object_element(g->gnodes, i);
        const char *name = json_object_get_string_member(n, "name");

        if (g_strcmp0(name, plain) == 0 || g_strcmp0(name, virtio) == 0 ||
            g_strcmp0(name, alias) == 0) {
            const char *root = testGraphChild(g, name, "root");

            /* A running job inserts an implicit filter ("#blockNNN") above the top. */
            while (root && root[0] == '#') {
                const char *below = testGraphChild(g, root, "backing");

                root = below ? below : testGraphChild(g, root, "file");
            }
            return root;
        }
    }
    return NULL;
}

/*
 * The cached chain of DISK is QEMU's: the device's root is the top's format node, every
 * layer's format node has the layer's storage node as "file" (whose file name is the
 * layer's path) and the next layer's format node as "backing", and the last has none.
 */
static void
testAssertDiskMatchesQemu(TestVM *vm, const qvirDomainDiskDef *disk)
{
    TestGraph g;
    const qvirStorageSource *src;

    testGraphLoad(vm, &g);
    g_assert_cmpstr(testGraphDeviceRoot(&g, disk->info.alias), ==, disk->src->nodeFormat);
    for (src = disk->src; qvirStorageSourceIsBacking(src); src = src->backingStore) {
        JsonObject *storage;
        const char *below =
            qvirStorageSourceIsBacking(src->backingStore) ? src->backingStore->nodeFormat : NULL;

        g_assert_cmpstr(testGraphChild(&g, src->nodeFormat, "file"), ==, src->nodeStorage);
        storage = testGraphNamed(&g, src->nodeStorage);
        g_assert_nonnull(storage);
        g_assert_cmpstr(json_object_get_string_member(storage, "file"), ==, src->path);
        g_assert_cmpstr(testGraphChild(&g, src->nodeFormat, "backing"), ==, below);
    }
    g_assert_true(qvirStorageSourceChainIsTerminated(disk->src));
    testGraphClear(&g);
}

static gboolean
testChainHasNode(const qvirStorageSource *src, const char *node)
{
    for (; qvirStorageSourceIsBacking(src); src = src->backingStore) {
        if (g_strcmp0(src->nodeFormat, node) == 0 || g_strcmp0(src->nodeStorage, node) == 0)
            return TRUE;
    }
    return FALSE;
}

/* QEMU holds exactly the nodes of the cached chains: nothing leaked, nothing missing. */
static void
testAssertNodesAreCached(TestVM *vm)
{
    TestGraph g;
    guint cached = 0;

    testGraphLoad(vm, &g);
    for (guint i = 0; i < json_array_get_length(g.named); i++) {
        JsonObject *n = json_array_get_object_element(g.named, i);
        const char *node = json_object_get_string_member(n, "node-name");
        gboolean found = FALSE;

        for (guint d = 0; d < vm->def->disks->len && !found; d++)
            found = testChainHasNode(
                ((qvirDomainDiskDef *)g_ptr_array_index(vm->def->disks, d))->src, node);
        if (!found)
            g_error("QEMU node '%s' is not in any cached chain", node);
    }
    for (guint d = 0; d < vm->def->disks->len; d++) {
        qvirDomainDiskDef *disk = g_ptr_array_index(vm->def->disks, d);

        for (qvirStorageSource *s = disk->src; qvirStorageSourceIsBacking(s); s = s->backingStore)
            cached += 2;
    }
    g_assert_cmpuint(cached, ==, json_array_get_length(g.named));
    testGraphClear(&g);
}

/* No image header was read since the start. */
static void
testAssertNoProbe(TestVM *vm)
{
    g_assert_cmpuint(qvirStorageProbeCounter(), ==, vm->probesAfterStart);
}

/* "l0 > l1 > |" of the cached chain by file names, for comparing before/after. */
static char *
testChainString(const qvirStorageSource *src)
{
    GString *buf = g_string_new(NULL);

    for (; src; src = src->backingStore) {
        if (!qvirStorageSourceIsBacking(src)) {
            g_string_append(buf, "|");
            break;
        }
        g_string_append_printf(buf, "%s[%u,%s,%s,%s] > ", src->path, src->id,
                               src->nodeFormat ? src->nodeFormat : "-", src->readonly ? "ro" : "rw",
                               src->relPath ? src->relPath : "-");
    }
    return g_string_free(buf, FALSE);
}

/* Guest writes without a guest: QEMU's qemu-io through HMP, on the device's backend. */
static void
testGuestWrite(TestVM *vm, const char *alias, unsigned int pattern, const char *off,
               const char *len)
{
    JsonObject *args = json_object_new();
    /* virtio-blk-pci holds its BlockBackend on the inner virtio device */
    g_autofree char *dev = g_str_has_prefix(alias, "virtio-disk")
                               ? g_strdup_printf("/machine/peripheral/%s/virtio-backend", alias)
                               : g_strdup(alias);
    g_autofree char *cmd =
        g_strdup_printf("qemu-io -d %s \"write -P 0x%02x %s %s\"", dev, pattern, off, len);
    g_autoptr(JsonNode) ret = NULL;

    json_object_set_string_member(args, "command-line", cmd);
    ret = testQMP(vm, "human-monitor-command", args);
    g_assert_true(JSON_NODE_HOLDS_VALUE(ret));
    /* qemu-io prints its success to QEMU's stdout; an HMP reply is an error */
    if (*json_node_get_string(ret) && !strstr(json_node_get_string(ret), "wrote"))
        g_error("qemu-io in QEMU failed: %s", json_node_get_string(ret));
}
