/*
 * faulttest.c: qvirtd under faults, end to end (the build's qvirtd, real QEMU, real virsh).
 *
 *   /fault/qemu-sigkill-idle       QEMU killed with SIGKILL while idle: the domain shuts off
 *                                  (reason crashed), its live chain is gone, its definition
 *                                  is intact, and the daemon goes on serving.
 *   /fault/qemu-sigkill-pull       the same during a block pull and an active commit (driver
 *   /fault/qemu-sigkill-active-commit  API in this process): no job survives, a new start
 *                                  fills a new chain from the images.
 *   /fault/qvirtd-sigkill-start    qvirtd killed with SIGKILL at several points of a start,
 *                                  then restarted: no definition lost, no QEMU left running
 *                                  unmanaged, a running domain reconnected with the chain
 *                                  QEMU itself reports (query-named-block-nodes).
 *   /fault/qvirtd-sigkill-ops      qvirtd killed during a live attach, a disk-only snapshot and
 *                                  an active commit, then restarted: the domain runs, and its
 *                                  live XML shows what QEMU has (chain, attached disk).
 *   /fault/qvirtd-sigkill-snapshot-status  qvirtd killed (strace) as it writes the status
 *                                  after QEMU's snapshot transaction: the restarted daemon shows
 *                                  the overlay QEMU uses (from the chain saved before the
 *                                  transaction), not the status file's older chain.
 *   /fault/qvirtd-sigkill-defines  qvirtd killed amid a burst of redefinitions: after a restart
 *                                  every definition is whole and present.
 *   /fault/state-dir-full          definitions and status on full tmpfs mounts: define and
 *                                  start fail with a clear error, earlier files untouched,
 *                                  no QEMU left behind; all works again once there is room.
 *   /fault/rpc-bad-input           malformed packets from one client of the running daemon
 *                                  get an error reply or a closed connection while another
 *                                  client is served throughout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "daemontestutils.h"
#include "conf/domain_conf.h"
#include "qemu/qemu_blockjob.h"
#include "qemu/qemu_driver.h"
#include "qemu/qemu_monitor.h"
#include "rpc/rpc_packet.h"
#include "rpc/xdr.h"
#include "util/virerror.h"

#define FAULT_TIMEOUT_US (30 * G_USEC_PER_SEC)

static char *faultTop; /* top of a 3-layer qcow2 chain */

/* ---- helpers ---------------------------------------------------------------------- */

/* virsh -c URI ARGS...; returns the exit status, *OUT and *ERR when asked. */
static int G_GNUC_NULL_TERMINATED
faultVirsh(char **out, char **err, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *ignored = NULL;
    const char *arg;
    va_list ap;

    g_ptr_array_add(argv, (char *)"virsh");
    g_ptr_array_add(argv, (char *)"-q");
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, daemonEnv.uri);
    va_start(ap, err);
    while ((arg = va_arg(ap, const char *)))
        g_ptr_array_add(argv, (char *)arg);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    /* Capture what the caller does not want, so it does not clutter the TAP stream. */
    if (!out)
        out = &ignored;
    return qvirTestRun((const char *const *)argv->pdata, out, err);
}

static void
faultDefine(const char *name, const char *uuid)
{
    g_autofree char *xml = daemonDomainXML(name, uuid, faultTop, "none");
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    g_autofree char *path = daemonWriteFile(file, xml);
    g_autofree char *err = NULL;

    if (faultVirsh(NULL, &err, "define", path, NULL) != 0)
        g_error("define %s: %s", name, err);
}

static char *
faultDomState(const char *name)
{
    char *out = NULL;

    if (faultVirsh(&out, NULL, "domstate", "--reason", name, NULL) != 0)
        g_clear_pointer(&out, g_free);
    return out ? g_strstrip(out) : NULL;
}

static gboolean
faultWaitState(const char *name, const char *want)
{
    gint64 deadline = g_get_monotonic_time() + FAULT_TIMEOUT_US;

    while (g_get_monotonic_time() < deadline) {
        g_autofree char *state = faultDomState(name);

        if (state && g_str_equal(state, want))
            return TRUE;
        g_usleep(50 * 1000);
    }
    return FALSE;
}

static char *
faultDefPath(const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    return g_build_filename(daemonEnv.root, "etc", "qemu", file, NULL);
}

static char *
faultStatusPath(const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    return g_build_filename(daemonEnv.root, "run", "qemu", file, NULL);
}

static char *
faultReadFile(const char *path)
{
    char *data = NULL;

    if (!g_file_get_contents(path, &data, NULL, NULL))
        return NULL;
    return data;
}

/* PIDs of the QEMU processes started for this test's root. */
static GArray *
faultQemusUnderRoot(void)
{
    GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autofree char *cmdline = NULL;
        gsize len;
        pid_t pid;

        if (!g_ascii_isdigit(name[0]))
            continue;
        pid = atoi(name);
        path = g_strdup_printf("/proc/%s/cmdline", name);
        if (!g_file_get_contents(path, &cmdline, &len, NULL) || len == 0)
            continue;
        for (gsize i = 0; i + 1 < len; i++) {
            if (cmdline[i] == '\0')
                cmdline[i] = ' ';
        }
        if (strstr(cmdline, "qemu-system") && strstr(cmdline, daemonEnv.root) &&
            daemonProcessAlive(pid))
            g_array_append_val(pids, pid);
    }
    return pids;
}

static void
faultKillDaemon(void)
{
    GPid pid = daemonEnv.pid;
    int status;

    g_assert_cmpint(pid, >, 0);
    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    daemonEnv.pid = 0;
}

static void
faultEnsureDaemon(void)
{
    if (!daemonEnv.pid)
        daemonStart(FALSE);
}

/* The file chain of disk vda in XML, top first. */
static GPtrArray *
faultChainFromXML(const char *xml)
{
    GPtrArray *chain = g_ptr_array_new_with_free_func(g_free);
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), NULL, NULL, XML_PARSE_NONET);
    xmlXPathContextPtr ctx;
    xmlXPathObjectPtr obj;
    xmlNodePtr node;

    g_assert_nonnull(doc);
    ctx = xmlXPathNewContext(doc);
    obj = xmlXPathEvalExpression(BAD_CAST "//disk[target/@dev='vda']", ctx);
    g_assert_true(obj && obj->nodesetval && obj->nodesetval->nodeNr == 1);
    node = obj->nodesetval->nodeTab[0];
    while (node) {
        xmlNodePtr child, next = NULL;

        for (child = node->children; child; child = child->next) {
            if (child->type != XML_ELEMENT_NODE)
                continue;
            if (xmlStrEqual(child->name, BAD_CAST "source")) {
                xmlChar *file = xmlGetProp(child, BAD_CAST "file");
                if (file)
                    g_ptr_array_add(chain, g_strdup((const char *)file));
                xmlFree(file);
            } else if (xmlStrEqual(child->name, BAD_CAST "backingStore")) {
                next = child;
            }
        }
        node = next;
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return chain;
}

/* The chain QEMU itself has open for its qcow2 top image, top first, asked over the QMP
 * socket named in the status file (only possible while qvirtd is not connected). */
static GPtrArray *
faultChainFromQemu(const char *statusXML)
{
    GPtrArray *chain = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuMonitor) mon = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(GHashTable) backingOf = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) isBacking = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *monPath = NULL;
    const char *p, *end, *cur = NULL;
    JsonArray *nodes;

    p = strstr(statusXML, "<monitor path='");
    g_assert_nonnull(p);
    p += strlen("<monitor path='");
    end = strchr(p, '\'');
    monPath = g_strndup(p, end - p);

    mon = qemuMonitorOpenUnix(monPath, 10000, NULL, NULL, &error);
    g_assert_no_error(error);
    json_object_set_boolean_member(args, "flat", TRUE);
    ret = qemuMonitorCommand(mon, "query-named-block-nodes", args, 10000, &error);
    g_assert_no_error(error);
    nodes = json_node_get_array(ret);

    /* file of every qcow2 node -> the file it backs onto */
    for (guint i = 0; i < json_array_get_length(nodes); i++) {
        JsonObject *n = json_array_get_object_element(nodes, i);
        const char *file = json_object_get_string_member_with_default(n, "file", NULL);
        const char *drv = json_object_get_string_member_with_default(n, "drv", "");
        const char *backing = json_object_get_string_member_with_default(n, "backing_file", NULL);

        if (!g_str_equal(drv, "qcow2") || !file)
            continue;
        g_hash_table_insert(backingOf, (gpointer)file, (gpointer)backing);
        if (backing)
            g_hash_table_add(isBacking, (gpointer)backing);
    }
    /* the top is the qcow2 file nothing backs onto */
    {
        GHashTableIter it;
        gpointer key;

        g_hash_table_iter_init(&it, backingOf);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            if (!g_hash_table_contains(isBacking, key)) {
                g_assert_null(cur);
                cur = key;
            }
        }
    }
    for (; cur; cur = g_hash_table_lookup(backingOf, cur))
        g_ptr_array_add(chain, g_strdup(cur));
    return chain;
}

static void
faultAssertSameChain(GPtrArray *a, GPtrArray *b)
{
    g_assert_cmpuint(a->len, ==, b->len);
    for (guint i = 0; i < a->len; i++)
        g_assert_cmpstr(g_ptr_array_index(a, i), ==, g_ptr_array_index(b, i));
}

/* ---- QEMU killed while idle ------------------------------------------------------------ */

static void
testQemuSigkillIdle(void)
{
    const char *name = "fault-idle";
    g_autofree char *defPath = faultDefPath(name);
    g_autofree char *statusPath = faultStatusPath(name);
    g_autofree char *defBefore = NULL;
    g_autofree char *defAfter = NULL;
    g_autofree char *live = NULL;
    g_autofree char *after = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GPtrArray) liveChain = NULL;
    g_autoptr(GPtrArray) afterChain = NULL;
    pid_t qemu;

    faultEnsureDaemon();
    faultDefine(name, "8f3c0a52-6b1e-4c55-9a41-1f0d6a9e2b01");
    defBefore = faultReadFile(defPath);
    g_assert_nonnull(defBefore);

    g_assert_cmpint(faultVirsh(NULL, &err, "start", name, NULL), ==, 0);
    g_assert_true(faultWaitState(name, "running (booted)"));
    g_assert_cmpint(faultVirsh(&live, NULL, "dumpxml", name, NULL), ==, 0);
    liveChain = faultChainFromXML(live);
    g_assert_cmpuint(liveChain->len, ==, 3);

    qemu = daemonDomainPid(name);
    g_assert_cmpint(qemu, >, 0);
    g_assert_cmpint(kill(qemu, SIGKILL), ==, 0);

    g_assert_true(faultWaitState(name, "shut off (crashed)"));
    g_assert_false(g_file_test(statusPath, G_FILE_TEST_EXISTS));
    g_assert_false(daemonProcessAlive(qemu));

    /* Back to the definition: the probed chain is gone from the domain. */
    g_assert_cmpint(faultVirsh(&after, NULL, "dumpxml", name, NULL), ==, 0);
    afterChain = faultChainFromXML(after);
    g_assert_cmpuint(afterChain->len, ==, 1);
    g_assert_null(strstr(after, "<backingStore type="));
    defAfter = faultReadFile(defPath);
    g_assert_cmpstr(defAfter, ==, defBefore);

    /* The daemon goes on serving, and the domain starts again. */
    g_assert_cmpint(faultVirsh(NULL, NULL, "list", "--all", NULL), ==, 0);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(faultVirsh(NULL, &err, "start", name, NULL), ==, 0);
    g_assert_true(faultWaitState(name, "running (booted)"));
    g_assert_cmpint(faultVirsh(NULL, NULL, "destroy", name, NULL), ==, 0);
    g_assert_true(faultWaitState(name, "shut off (destroyed)"));
    g_assert_cmpint(faultVirsh(NULL, NULL, "undefine", name, NULL), ==, 0);
}

/* ---- QEMU killed during a block job (driver API, in this process) ----------------------- */

#define FAULT_SHUTOFF 5
#define FAULT_SHUTOFF_CRASHED 3 /* VIR_DOMAIN_SHUTOFF_CRASHED */

static void
faultQemuIo(const char *image, const char *cmd)
{
    const char *argv[] = {"qemu-io", "-f", "qcow2", "-c", cmd, image, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("qemu-io %s %s: %s", cmd, image, err);
}

static qvirDriver *
faultDriverOpen(const char *root)
{
    qvirDriverConfig *cfg = qvirDriverConfigNew(root);
    g_autoptr(GError) err = NULL;
    qvirDriver *drv;

    g_assert_true(qvirDriverConfigLoad(cfg, NULL, &err));
    drv = qvirDriverOpen(cfg, &err);
    g_assert_no_error(err);
    g_assert_nonnull(drv);
    return drv;
}

static gboolean
faultDriverWaitState(qvirDriver *drv, const unsigned char *uuid, int want, int wantReason)
{
    gint64 deadline = g_get_monotonic_time() + FAULT_TIMEOUT_US;

    while (g_get_monotonic_time() < deadline) {
        int state = -1, reason = -1;

        if (qvirDriverDomainGetState(drv, uuid, &state, &reason, NULL) && state == want &&
            (wantReason < 0 || reason == wantReason))
            return TRUE;
        g_usleep(20 * 1000);
    }
    return FALSE;
}

/* JOB: "pull" or "active-commit". Start a bandwidth-limited job over 8 MiB of data, kill
 * QEMU while it runs, and check what is left. */
static void
testQemuSigkillDuringJob(gconstpointer opaque)
{
    const char *job = opaque;
    g_autofree char *root = g_build_filename(daemonEnv.root, job, NULL);
    g_autofree char *images = g_build_filename(root, "images", NULL);
    g_autofree char *top = NULL;
    g_autofree char *base = NULL;
    g_autofree char *mid = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *inactiveBefore = NULL;
    g_autofree char *inactiveAfter = NULL;
    g_autofree char *liveAfter = NULL;
    g_autofree char *statusFile = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(qvirDomainRef) ref = NULL;
    g_autoptr(GPtrArray) listed = NULL;
    qemuBlockJobInfo info = {0};
    qvirDriver *drv;
    guint64 probes;
    pid_t qemu;
    int rc;

    g_assert_cmpint(g_mkdir_with_parents(images, 0755), ==, 0);
    top = daemonMakeChain(images, job);
    base = g_strdup_printf("%s/%s-base.qcow2", images, job);
    mid = g_strdup_printf("%s/%s-mid.qcow2", images, job);
    /* Data for the job to copy: at 1 MiB/s it runs for seconds. */
    faultQemuIo(base, "write -P 0x11 0 8M");
    faultQemuIo(mid, "write -P 0x22 8M 8M");

    drv = faultDriverOpen(root);
    xml = daemonDomainXML("fault-job", "8f3c0a52-6b1e-4c55-9a41-1f0d6a9e2b06", top, "none");
    ref = qvirDriverDomainDefineXML(drv, xml, 0, &err);
    g_assert_no_error(err);
    inactiveBefore = qvirDriverDomainGetXMLDesc(drv, ref->uuid, 2 /* INACTIVE */, &err);
    g_assert_no_error(err);
    g_assert_true(qvirDriverDomainCreate(drv, ref->uuid, 0, &err));
    g_assert_no_error(err);

    if (g_str_equal(job, "pull"))
        g_assert_true(qvirDriverDomainBlockPull(drv, ref->uuid, "vda", 1, 0, &err));
    else
        g_assert_true(qvirDriverDomainBlockCommit(drv, ref->uuid, "vda", NULL, NULL, 1,
                                                  4 /* ACTIVE */, &err));
    g_assert_no_error(err);
    g_usleep(300 * 1000);
    rc = qvirDriverDomainGetBlockJobInfo(drv, ref->uuid, "vda", &info, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(rc, ==, 1); /* still running: the kill lands mid-job */

    statusFile = g_build_filename(root, "run", "qemu", "fault-job.xml", NULL);
    {
        g_autofree char *status = faultReadFile(statusFile);
        const char *p = status ? strstr(status, " pid='") : NULL;

        g_assert_nonnull(p);
        qemu = atoi(p + 6);
    }
    g_assert_cmpint(kill(qemu, SIGKILL), ==, 0);

    g_assert_true(faultDriverWaitState(drv, ref->uuid, FAULT_SHUTOFF, FAULT_SHUTOFF_CRASHED));
    g_assert_false(g_file_test(statusFile, G_FILE_TEST_EXISTS));
    /* No job survives its QEMU. */
    rc = qvirDriverDomainGetBlockJobInfo(drv, ref->uuid, "vda", &info, 0, &err);
    g_assert_cmpint(rc, !=, 1);
    g_clear_error(&err);
    /* The definition is what it was, and the domain shows no chain any more. */
    inactiveAfter = qvirDriverDomainGetXMLDesc(drv, ref->uuid, 2, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(inactiveAfter, ==, inactiveBefore);
    liveAfter = qvirDriverDomainGetXMLDesc(drv, ref->uuid, 0, &err);
    g_assert_no_error(err);
    g_assert_null(strstr(liveAfter, "<backingStore type="));

    /* The driver goes on serving, and a new start fills a new chain from the images. */
    listed = qvirDriverListAllDomains(drv, 0);
    g_assert_cmpuint(listed->len, ==, 1);
    probes = qvirDriverGetProbeCount(drv);
    g_assert_true(qvirDriverDomainCreate(drv, ref->uuid, 0, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(qvirDriverGetProbeCount(drv), >, probes);
    rc = qvirDriverDomainGetBlockJobInfo(drv, ref->uuid, "vda", &info, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(rc, ==, 0);
    g_assert_true(qvirDriverDomainDestroy(drv, ref->uuid, 0, &err));
    g_assert_no_error(err);
    g_assert_true(qvirDriverDomainUndefine(drv, ref->uuid, 0, &err));
    g_assert_no_error(err);
    qvirDriverClose(drv);
}

/* ---- qvirtd killed during a start ------------------------------------------------------ */

static void
faultCheckAfterDaemonCrash(const char *name, const char *defBefore, unsigned int delayMs)
{
    g_autofree char *defPath = faultDefPath(name);
    g_autofree char *statusPath = faultStatusPath(name);
    g_autofree char *status = faultReadFile(statusPath);
    g_autofree char *defAfter = faultReadFile(defPath);
    g_autoptr(GPtrArray) qemuChain = NULL;
    g_autoptr(GArray) before = faultQemusUnderRoot();
    g_autoptr(GArray) after = NULL;
    g_autofree char *state = NULL;

    g_test_message("killed qvirtd %u ms into a start: status file %s, %u QEMU(s) running", delayMs,
                   status ? "present" : "absent", before->len);
    g_assert_cmpstr(defAfter, ==, defBefore);

    /* While the daemon is down, ask QEMU itself what it has open. */
    if (status && before->len == 1 && daemonDomainPid(name) == g_array_index(before, pid_t, 0))
        qemuChain = faultChainFromQemu(status);

    daemonStart(FALSE);
    state = faultDomState(name);
    g_assert_nonnull(state); /* the definition survived */

    /* Give an orphan cleanup a moment, then every QEMU must belong to a running domain. */
    g_usleep(500 * 1000);
    after = faultQemusUnderRoot();
    g_clear_pointer(&state, g_free);
    state = faultDomState(name);
    g_test_message("after restart: %s, %u QEMU(s)", state, after->len);
    if (after->len == 0) {
        g_assert_true(g_str_has_prefix(state, "shut off"));
        g_assert_false(g_file_test(statusPath, G_FILE_TEST_EXISTS));
        return;
    }
    g_assert_cmpuint(after->len, ==, 1);
    g_assert_true(g_str_has_prefix(state, "running") || g_str_has_prefix(state, "paused"));
    g_assert_cmpint(daemonDomainPid(name), ==, g_array_index(after, pid_t, 0));

    /* Reconnected with the chain QEMU has open. */
    {
        g_autofree char *live = NULL;
        g_autoptr(GPtrArray) liveChain = NULL;

        g_assert_cmpint(faultVirsh(&live, NULL, "dumpxml", name, NULL), ==, 0);
        liveChain = faultChainFromXML(live);
        g_assert_cmpuint(liveChain->len, ==, 3);
        if (qemuChain)
            faultAssertSameChain(liveChain, qemuChain);
    }
    g_assert_cmpint(faultVirsh(NULL, NULL, "destroy", name, NULL), ==, 0);
    g_assert_true(faultWaitState(name, "shut off (destroyed)"));
}

static void
testDaemonSigkillDuringStart(void)
{
    const char *name = "fault-start";
    /* QVIRT_FAULT_START_DELAYS="0,30,..." replaces the list (to chase one window). */
    const char *env = g_getenv("QVIRT_FAULT_START_DELAYS");
    g_auto(GStrv) fields = g_strsplit(env ? env : "0,30,100,250,600,1500", ",", -1);
    g_autofree char *defPath = faultDefPath(name);
    g_autofree char *defBefore = NULL;

    faultEnsureDaemon();
    faultDefine(name, "8f3c0a52-6b1e-4c55-9a41-1f0d6a9e2b02");
    defBefore = faultReadFile(defPath);

    for (guint i = 0; fields[i]; i++) {
        unsigned int delayMs = (unsigned int)g_ascii_strtoull(fields[i], NULL, 10);
        const char *argv[] = {"virsh", "-q", "-c", daemonEnv.uri, "start", name, NULL};
        g_autoptr(GError) error = NULL;
        GPid virsh;
        int status;

        faultEnsureDaemon();
        g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
                                        G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                    NULL, NULL, &virsh, &error));
        g_usleep(delayMs * 1000);
        faultKillDaemon();
        waitpid(virsh, &status, 0);
        faultCheckAfterDaemonCrash(name, defBefore, delayMs);
    }
    g_assert_cmpint(faultVirsh(NULL, NULL, "undefine", name, NULL), ==, 0);
}

/* ---- qvirtd killed during attach, snapshot and commit --------------------------------- */

typedef struct {
    GPtrArray *vda;  /* QEMU's chain behind the disk with alias virtio-disk0, top first */
    gboolean hasVdb; /* QEMU has a block device behind virtio-disk1 */
    guint jobs;      /* block jobs QEMU is running */
} faultQemuView;

static void
faultQemuViewClear(faultQemuView *view)
{
    g_clear_pointer(&view->vda, g_ptr_array_unref);
    view->hasVdb = FALSE;
    view->jobs = 0;
}

/* What QEMU has open, from query-block (its nested image chain per device), asked over the
 * QMP socket named in the status file while qvirtd is down. */
static void
faultQemuViewGet(const char *statusXML, faultQemuView *view)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuMonitor) mon = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *monPath = NULL;
    const char *p, *end;
    JsonArray *devs;

    p = strstr(statusXML, "<monitor path='");
    g_assert_nonnull(p);
    p += strlen("<monitor path='");
    end = strchr(p, '\'');
    monPath = g_strndup(p, end - p);
    mon = qemuMonitorOpenUnix(monPath, 10000, NULL, NULL, &error);
    g_assert_no_error(error);
    {
        g_autoptr(JsonNode) jobs = qemuMonitorCommand(mon, "query-block-jobs", NULL, 10000, &error);
        g_assert_no_error(error);
        view->jobs = json_array_get_length(json_node_get_array(jobs));
    }
    ret = qemuMonitorCommand(mon, "query-block", NULL, 10000, &error);
    g_assert_no_error(error);
    devs = json_node_get_array(ret);
    view->vda = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < json_array_get_length(devs); i++) {
        JsonObject *dev = json_array_get_object_element(devs, i);
        const char *qdev = json_object_get_string_member_with_default(dev, "qdev", "");
        JsonObject *inserted = json_object_get_object_member(dev, "inserted");
        JsonObject *image;

        if (!inserted)
            continue;
        if (strstr(qdev, "virtio-disk1"))
            view->hasVdb = TRUE;
        if (!strstr(qdev, "virtio-disk0"))
            continue;
        for (image = json_object_get_object_member(inserted, "image"); image;
             image = json_object_has_member(image, "backing-image")
                         ? json_object_get_object_member(image, "backing-image")
                         : NULL)
            g_ptr_array_add(view->vda, g_strdup(json_object_get_string_member(image, "filename")));
    }
}

static char *
faultOpsDomainXML(const char *name, const char *top)
{
    return g_strdup_printf("<domain type='qemu'>\n"
                           "  <name>%s</name>\n"
                           "  <uuid>8f3c0a52-6b1e-4c55-9a41-1f0d6a9e2b07</uuid>\n"
                           "  <memory unit='MiB'>64</memory>\n"
                           "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                           "  <features><acpi/></features>\n"
                           "  <devices>\n"
                           "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                           "    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='qcow2' cache='none'/>\n"
                           "      <source file='%s'/>\n"
                           "      <target dev='vda' bus='virtio'/>\n"
                           "    </disk>\n"
                           "  </devices>\n"
                           "</domain>\n",
                           name, top);
}

/* strace on qvirtd: it dies of SIGKILL as it renames a file over PATH (the rename itself
 * skipped), at that point of its code and nowhere else. Returns once strace is attached. */
static GPid
faultKillAtRename(const char *path)
{
    return qvirTestKillAtSyscall(daemonEnv.pid, path, "rename,renameat,renameat2",
                                 "signal=SIGKILL");
}

/* qvirtd died of the SIGKILL its tracer TRACER injected; the tracer ends. */
static void
faultReapKilledDaemon(GPid tracer)
{
    int status = 0;

    g_assert_cmpint(waitpid(daemonEnv.pid, &status, 0), ==, daemonEnv.pid);
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
    daemonEnv.pid = 0;
    kill(tracer, SIGTERM);
    g_assert_cmpint(waitpid(tracer, &status, 0), ==, tracer);
}

/* One round: a fresh chain, start, OP in the background, SIGKILL qvirtd DELAYMS later
 * (KILLAT, a file of the status directory: as it renames a new version of that file into
 * place), look at QEMU while the daemon is down, restart it, compare. */
static void
faultOpsRound(const char *op, unsigned int delayMs, const char *killAt, guint round)
{
    const char *name = "fault-ops";
    g_autofree char *prefix = g_strdup_printf("ops%u", round);
    g_autofree char *top = daemonMakeChain(daemonEnv.images, prefix);
    g_autofree char *mid = g_strdup_printf("%s/%s-mid.qcow2", daemonEnv.images, prefix);
    g_autofree char *extra = g_strdup_printf("%s/%s-extra.qcow2", daemonEnv.images, prefix);
    g_autofree char *snap = g_strdup_printf("%s/%s-snap.qcow2", daemonEnv.images, prefix);
    g_autofree char *diskspec = g_strdup_printf("vda,file=%s", snap);
    g_autofree char *snapB = g_strdup_printf("%s/%s-snapb.qcow2", daemonEnv.images, prefix);
    g_autofree char *diskspecB = g_strdup_printf("vdb,file=%s", snapB);
    gboolean both = g_str_equal(op, "snapshot-both"); /* of vda and a vdb attached first */
    g_autofree char *snapName = g_strdup_printf("s%u", round);
    g_autofree char *xml = faultOpsDomainXML(name, top);
    g_autofree char *xmlPath = daemonWriteFile("fault-ops.xml", xml);
    g_autofree char *defPath = faultDefPath(name);
    g_autofree char *statusPath = faultStatusPath(name);
    g_autofree char *defBefore = NULL;
    g_autofree char *defAfter = NULL;
    g_autofree char *status = NULL;
    g_autofree char *state = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GArray) qemus = NULL;
    faultQemuView view = {0};
    g_autoptr(GError) error = NULL;
    g_autofree char *when = NULL;
    g_autofree char *attachErr = NULL;
    GPid tracer = 0;
    GPid virsh;
    int wstatus;

    faultEnsureDaemon();
    faultQemuIo(mid, "write -P 0x33 0 8M");
    daemonMakeQcow2(extra, NULL);
    if (faultVirsh(NULL, &err, "define", xmlPath, NULL) != 0)
        g_error("define: %s", err);
    defBefore = faultReadFile(defPath);
    g_assert_cmpint(faultVirsh(NULL, NULL, "start", name, NULL), ==, 0);
    if (both && faultVirsh(NULL, &attachErr, "attach-disk", name, extra, "vdb", "--driver", "qemu",
                           "--subdriver", "qcow2", "--live", NULL) != 0)
        g_error("attach-disk: %s", attachErr);
    if (killAt) {
        g_autofree char *dir = g_path_get_dirname(statusPath);
        g_autofree char *at = g_build_filename(dir, killAt, NULL);

        tracer = faultKillAtRename(at);
    }

    {
        const char *attach[] = {"virsh",       "-q",    "-c",     daemonEnv.uri, "attach-disk",
                                name,          extra,   "vdb",    "--driver",    "qemu",
                                "--subdriver", "qcow2", "--live", NULL};
        const char *snapshot[] = {"virsh",
                                  "-q",
                                  "-c",
                                  daemonEnv.uri,
                                  "snapshot-create-as",
                                  name,
                                  snapName,
                                  "--disk-only",
                                  "--atomic",
                                  "--no-metadata",
                                  "--diskspec",
                                  diskspec,
                                  both ? "--diskspec" : NULL,
                                  diskspecB,
                                  NULL};
        const char *commit[] = {"virsh",       "-q", "-c",     daemonEnv.uri,
                                "blockcommit", name, "vda",    "--active",
                                "--bandwidth", "1",  "--wait", NULL};
        const char *const *argv = g_str_equal(op, "attach")          ? attach
                                  : g_str_has_prefix(op, "snapshot") ? snapshot
                                                                     : commit;

        g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
                                        G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                    NULL, NULL, &virsh, &error));
    }
    if (killAt) {
        faultReapKilledDaemon(tracer);
    } else {
        g_usleep(delayMs * 1000);
        faultKillDaemon();
    }
    waitpid(virsh, &wstatus, 0);

    status = faultReadFile(statusPath);
    g_assert_nonnull(status); /* the domain was running before the operation */
    faultQemuViewGet(status, &view);

    daemonStart(FALSE);
    defAfter = faultReadFile(defPath);
    g_assert_cmpstr(defAfter, ==, defBefore); /* --live operations leave the definition */
    state = faultDomState(name);
    qemus = faultQemusUnderRoot();
    when = killAt ? g_strdup_printf("writing %s", killAt) : g_strdup_printf("after %u ms", delayMs);
    g_test_message("%s, qvirtd killed %s: %s, QEMU has %u layers behind vda%s", op, when, state,
                   view.vda->len, view.hasVdb ? " and a vdb" : "");
    g_assert_true(g_str_has_prefix(state, "running"));
    /* Killed at its status write, QEMU had switched to the snapshot's overlay and the status
     * file did not say so yet; killed as it saved the new chain, QEMU had not been asked. */
    if (killAt && g_str_has_prefix(op, "snapshot"))
        g_assert_cmpuint(view.vda->len, ==, g_str_has_suffix(killAt, ".xml") ? 4 : 3);
    g_assert_cmpuint(qemus->len, ==, 1);
    g_assert_cmpint(daemonDomainPid(name), ==, g_array_index(qemus, pid_t, 0));

    /* The reconnected domain describes what QEMU has: the chain, and vdb or not. A job
     * still running in QEMU is reported; one that ended was applied. */
    {
        g_autofree char *live = NULL;
        g_autofree char *info = NULL;
        g_autofree char *infoErr = NULL;
        g_autoptr(GPtrArray) liveChain = NULL;

        g_assert_cmpint(faultVirsh(&live, NULL, "dumpxml", name, NULL), ==, 0);
        liveChain = faultChainFromXML(live);
        faultAssertSameChain(liveChain, view.vda);
        g_assert_cmpint(strstr(live, "<target dev='vdb'") != NULL, ==, view.hasVdb);
        /* A job QEMU was still running is reported after the restart (virsh prints the
         * progress line on stderr). */
        faultVirsh(&info, &infoErr, "blockjob", name, "vda", "--info", NULL);
        g_test_message("QEMU had %u block job(s); after restart, blockjob --info: '%s' '%s'",
                       view.jobs, info ? g_strstrip(info) : "", infoErr ? g_strstrip(infoErr) : "");
        if (view.jobs > 0)
            g_assert_true((info && strstr(info, "Commit")) ||
                          (infoErr && strstr(infoErr, "Commit")));
    }
    /* The saved chain was settled at the restart and its file removed; QEMU's nodes match
     * the daemon's, so one more snapshot (new node names) is taken on top. */
    if (killAt && g_str_has_prefix(op, "snapshot")) {
        g_autofree char *dir = g_path_get_dirname(statusPath);
        g_autofree char *saved = g_build_filename(dir, "fault-ops.vda.snapshot", NULL);
        g_autofree char *snap2 = g_strdup_printf("%s/%s-snap2.qcow2", daemonEnv.images, prefix);
        g_autofree char *spec2 = g_strdup_printf("vda,file=%s", snap2);
        g_autofree char *live = NULL;
        g_autofree char *snapErr = NULL;
        g_autoptr(GPtrArray) liveChain = NULL;

        g_assert_false(g_file_test(saved, G_FILE_TEST_EXISTS));
        if (faultVirsh(NULL, &snapErr, "snapshot-create-as", name, "again", "--disk-only",
                       "--atomic", "--no-metadata", "--diskspec", spec2, both ? "--diskspec" : NULL,
                       "vdb,snapshot=no", NULL) != 0)
            g_error("snapshot after restart: %s", snapErr);
        g_assert_cmpint(faultVirsh(&live, NULL, "dumpxml", name, NULL), ==, 0);
        liveChain = faultChainFromXML(live);
        g_assert_cmpuint(liveChain->len, ==, view.vda->len + 1);
        g_assert_cmpstr(g_ptr_array_index(liveChain, 0), ==, snap2);
    }
    faultQemuViewClear(&view);
    g_assert_cmpint(faultVirsh(NULL, NULL, "destroy", name, NULL), ==, 0);
    g_assert_true(faultWaitState(name, "shut off (destroyed)"));
    g_assert_cmpint(faultVirsh(NULL, NULL, "undefine", name, NULL), ==, 0);
}

static void
testDaemonSigkillDuringOps(void)
{
    static const struct {
        const char *op;
        unsigned int delayMs;
    } rounds[] = {
        {"attach", 0},   {"attach", 150},   {"attach", 500},   {"attach", 2000},
        {"snapshot", 0}, {"snapshot", 150}, {"snapshot", 500}, {"snapshot", 2000},
        {"commit", 500}, {"commit", 2000},
    };

    for (guint i = 0; i < G_N_ELEMENTS(rounds); i++)
        faultOpsRound(rounds[i].op, rounds[i].delayMs, NULL, i);
}

/* qvirtd killed exactly between QEMU's snapshot transaction and the status write: the
 * restarted daemon must describe the overlay QEMU uses, not the chain in the status file.
 * Killed as it saves the chain it is about to ask for, before the transaction: the old
 * chain holds, and the overlay QEMU was given is let go (a new snapshot works). */
static void
testDaemonSigkillSnapshotStatus(void)
{
    faultOpsRound("snapshot", 0, "fault-ops.xml", 10);
    faultOpsRound("snapshot", 0, "fault-ops.vda.snapshot", 11);
    /* vda's overlay is in QEMU already (not in use) when vdb's chain is saved */
    faultOpsRound("snapshot-both", 0, "fault-ops.vdb.snapshot", 12);
}

/* ---- qvirtd killed in the middle of a burst of defines ----------------------------------- */

/* Four clients redefine 16 domains (each define rewrites the definition file) as fast as
 * they can; qvirtd is killed in the middle. After a restart every domain must still be
 * there with a definition that is either the one before or the one after a define, never a
 * torn file. */
static void
testDaemonSigkillDuringDefines(void)
{
    static const char *script =
        "import libvirt, sys, threading\n"
        "uri, top = sys.argv[1], sys.argv[2]\n"
        "def run(k):\n"
        "    try:\n"
        "        c = libvirt.open(uri)\n"
        "        for rnd in range(100000):\n"
        "            for i in range(k, 16, 4):\n"
        "                c.defineXML(\"<domain type='qemu'><name>fault-def%02d</name>\"\n"
        "                    \"<uuid>8f3c0a52-6b1e-4c55-9a41-2f0d6a9e2b%02d</uuid>\"\n"
        "                    \"<description>round %d</description>\"\n"
        "                    \"<memory unit='MiB'>64</memory><os><type arch='x86_64' \"\n"
        "                    \"machine='pc'>hvm</type></os><devices><disk type='file' \"\n"
        "                    \"device='disk'><driver name='qemu' type='qcow2'/><source \"\n"
        "                    \"file='%s'/><target dev='vda' bus='virtio'/></disk>\"\n"
        "                    \"</devices></domain>\" % (i, i, rnd, top))\n"
        "    except libvirt.libvirtError:\n"
        "        pass\n"
        "ts = [threading.Thread(target=run, args=(k,)) for k in range(4)]\n"
        "[t.start() for t in ts]\n"
        "[t.join() for t in ts]\n";
    const char *argv[] = {"/usr/bin/python3", "-c", script, daemonEnv.uri, faultTop, NULL};
    g_autoptr(GError) error = NULL;
    guint rewritten = 0;
    GPid python;
    int status;

    faultEnsureDaemon();
    for (guint i = 0; i < 16; i++) {
        g_autofree char *name = g_strdup_printf("fault-def%02u", i);
        g_autofree char *uuid = g_strdup_printf("8f3c0a52-6b1e-4c55-9a41-2f0d6a9e2b%02u", i);
        faultDefine(name, uuid);
    }
    g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                    G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &python, &error));
    g_usleep(1500 * 1000);
    faultKillDaemon();
    waitpid(python, &status, 0);

    /* Every file on disk parses, before the daemon even looks at it. */
    for (guint i = 0; i < 16; i++) {
        g_autofree char *name = g_strdup_printf("fault-def%02u", i);
        g_autofree char *path = faultDefPath(name);
        g_autoptr(qvirDomainDef) def = qvirDomainDefParseFile(path, 0, &error);

        g_assert_no_error(error);
        g_assert_cmpstr(def->name, ==, name);
    }
    daemonStart(FALSE);
    for (guint i = 0; i < 16; i++) {
        g_autofree char *name = g_strdup_printf("fault-def%02u", i);
        g_autofree char *state = faultDomState(name);
        g_autofree char *out = NULL;

        g_assert_cmpstr(state, ==, "shut off (unknown)");
        g_assert_cmpint(faultVirsh(&out, NULL, "dumpxml", name, NULL), ==, 0);
        rewritten += strstr(out, "<description>round ") != NULL;
        g_assert_cmpint(faultVirsh(NULL, NULL, "undefine", name, NULL), ==, 0);
    }
    /* The burst did redefine them before the kill. */
    g_test_message("%u of 16 definitions were rewritten before the kill", rewritten);
    g_assert_cmpuint(rewritten, >, 0);
    /* Nothing half-written was left next to the definitions. */
    {
        g_autofree char *dir = g_build_filename(daemonEnv.root, "etc", "qemu", NULL);
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *entry;

        while (d && (entry = g_dir_read_name(d))) {
            if (g_str_has_prefix(entry, "fault-def"))
                g_test_message("left in %s: %s", dir, entry);
            g_assert_false(g_str_has_prefix(entry, "fault-def"));
        }
    }
}

/* ---- a full state directory ------------------------------------------------------------ */

static char *faultMounts[2];

static void
faultUnmountAll(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(faultMounts); i++) {
        if (faultMounts[i])
            umount2(faultMounts[i], MNT_DETACH);
        g_clear_pointer(&faultMounts[i], g_free);
    }
}

static void
faultOnFatalSignal(int sig)
{
    faultUnmountAll();
    daemonOnFatalSignal(sig);
}

/* Fill the filesystem holding DIR; returns the filler's path. */
static char *
faultFill(const char *dir)
{
    char *path = g_build_filename(dir, "filler", NULL);
    char block[4096] = {0};
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    g_assert_cmpint(fd, >=, 0);
    while (write(fd, block, sizeof(block)) > 0)
        ;
    /* Tail pieces smaller than a block. */
    while (write(fd, block, 1) > 0)
        ;
    close(fd);
    return path;
}

static void
testStateDirFull(void)
{
    const char *name = "fault-full";
    const char *dirs[2] = {"etc", "run"};
    g_autofree char *defPath = NULL;
    g_autofree char *defBefore = NULL;
    g_autofree char *defAfter = NULL;
    g_autofree char *err = NULL;
    g_autofree char *newXml = NULL;
    g_autofree char *newPath = NULL;
    g_autofree char *changed = NULL;
    g_autofree char *changedPath = NULL;
    g_autofree char *fillEtc = NULL;
    g_autofree char *fillRun = NULL;
    g_autoptr(GArray) qemus = NULL;

    if (daemonEnv.pid)
        daemonStop();
    for (guint i = 0; i < 2; i++) {
        g_autofree char *dir = g_build_filename(daemonEnv.root, dirs[i], NULL);

        g_mkdir_with_parents(dir, 0700);
        if (mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700") < 0) {
            g_autofree char *why =
                g_strdup_printf("cannot mount a tmpfs at %s: %s", dir, g_strerror(errno));
            g_test_skip(why);
            faultUnmountAll();
            return;
        }
        faultMounts[i] = g_steal_pointer(&dir);
    }
    daemonStart(FALSE);

    faultDefine(name, "8f3c0a52-6b1e-4c55-9a41-1f0d6a9e2b03");
    defPath = faultDefPath(name);
    defBefore = faultReadFile(defPath);
    g_assert_nonnull(defBefore);
    fillEtc = faultFill(faultMounts[0]);
    fillRun = faultFill(faultMounts[1]);

    /* A new definition cannot be written. */
    newXml =
        daemonDomainXML("fault-full-new", "8f3c0a52-6b1e-4c55-9a41-1f0d6a9e2b04", faultTop, "none");
    newPath = daemonWriteFile("fault-full-new.xml", newXml);
    g_assert_cmpint(faultVirsh(NULL, &err, "define", newPath, NULL), !=, 0);
    g_test_message("define on a full disk: %s", err);
    g_assert_nonnull(strstr(err, "No space left on device"));
    g_assert_cmpint(faultVirsh(NULL, NULL, "domstate", "fault-full-new", NULL), !=, 0);

    /* Changing an existing one fails and leaves the old file as it was. */
    changed = daemonDomainXML(name, "8f3c0a52-6b1e-4c55-9a41-1f0d6a9e2b03", faultTop, "writeback");
    changedPath = daemonWriteFile("fault-full-changed.xml", changed);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(faultVirsh(NULL, &err, "define", changedPath, NULL), !=, 0);
    g_test_message("redefine on a full disk: %s", err);
    g_assert_nonnull(strstr(err, "No space left on device"));
    defAfter = faultReadFile(defPath);
    g_assert_cmpstr(defAfter, ==, defBefore);

    /* Starting needs a status file: it fails and leaves no QEMU running. */
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(faultVirsh(NULL, &err, "start", name, NULL), !=, 0);
    g_test_message("start on a full disk: %s", err);
    g_assert_nonnull(strstr(err, "No space left on device"));
    {
        g_autofree char *state = faultDomState(name);
        g_assert_true(state && g_str_has_prefix(state, "shut off"));
    }
    qemus = faultQemusUnderRoot();
    g_assert_cmpuint(qemus->len, ==, 0);

    /* With room again, everything works. */
    g_assert_cmpint(g_unlink(fillEtc), ==, 0);
    g_assert_cmpint(g_unlink(fillRun), ==, 0);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(faultVirsh(NULL, &err, "start", name, NULL), ==, 0);
    g_assert_true(faultWaitState(name, "running (booted)"));
    g_assert_cmpint(faultVirsh(NULL, NULL, "destroy", name, NULL), ==, 0);
    g_assert_cmpint(faultVirsh(NULL, NULL, "undefine", name, NULL), ==, 0);

    daemonStop();
    faultUnmountAll();
}

/* ---- bad RPC input -------------------------------------------------------------------- */

static int
faultRpcConnect(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(addr.sun_path, daemonEnv.socket, sizeof(addr.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    return fd;
}

static void
faultRpcSend(int fd, const void *data, gsize len)
{
    g_assert_cmpint(send(fd, data, len, MSG_NOSIGNAL), ==, (gssize)len);
}

static GByteArray *
faultRpcPacket(guint32 program, guint32 version, gint32 proc, guint32 type, guint32 serial,
               const GByteArray *body)
{
    qvirRpcHeader hdr = {program, version, proc, type, serial, QVIR_RPC_STATUS_OK};
    GByteArray *pkt = qvirRpcPacketStart(&hdr);

    if (body)
        g_byte_array_append(pkt, body->data, body->len);
    qvirXdrPatchU32(pkt, 0, pkt->len);
    return pkt;
}

static GByteArray *
faultRpcCall(gint32 proc, guint32 serial, const GByteArray *body)
{
    return faultRpcPacket(QVIR_RPC_REMOTE_PROGRAM, QVIR_RPC_REMOTE_VERSION, proc, QVIR_RPC_CALL,
                          serial, body);
}

/* One packet from the daemon within 10 s; NULL when it closed the connection. */
static GByteArray *
faultRpcRead(int fd)
{
    g_autoptr(GByteArray) pkt = g_byte_array_new();
    guint32 want = 4;

    while (pkt->len < want) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        guint8 buf[65536];
        ssize_t n;

        g_assert_cmpint(poll(&pfd, 1, 10000), ==, 1); /* a hang is a failure */
        n = recv(fd, buf, MIN(sizeof(buf), want - pkt->len), 0);
        if (n < 0 && errno == ECONNRESET)
            return NULL;
        g_assert_cmpint(n, >=, 0);
        if (n == 0)
            return NULL;
        g_byte_array_append(pkt, buf, n);
        if (pkt->len == 4) {
            want = ((guint32)pkt->data[0] << 24) | ((guint32)pkt->data[1] << 16) |
                   ((guint32)pkt->data[2] << 8) | pkt->data[3];
            g_assert_true(qvirRpcPacketCheckLength(want, NULL));
        }
    }
    return g_steal_pointer(&pkt);
}

/* Read the reply to SERIAL: OK (returns -1) or ERROR (returns its libvirt code). */
static int
faultRpcReply(int fd, guint32 serial)
{
    g_autoptr(GByteArray) pkt = faultRpcRead(fd);
    qvirXdrReader rd;
    qvirRpcHeader hdr;
    qvirRpcError err = {0};
    int code;

    g_assert_nonnull(pkt);
    qvirXdrReaderInit(&rd, pkt->data + 4, pkt->len - 4);
    g_assert_true(qvirRpcHeaderDecode(&rd, &hdr, NULL));
    g_assert_cmpuint(hdr.type, ==, QVIR_RPC_REPLY);
    g_assert_cmpuint(hdr.serial, ==, serial);
    if (hdr.status == QVIR_RPC_STATUS_OK)
        return -1;
    g_assert_cmpuint(hdr.status, ==, QVIR_RPC_STATUS_ERROR);
    g_assert_true(qvirRpcErrorDecode(&rd, &err, NULL));
    g_assert_nonnull(err.message);
    g_test_message("serial %u: error %d: %s", serial, err.code, err.message);
    code = err.code;
    g_free(err.message);
    g_free(err.str1);
    g_free(err.str2);
    g_free(err.str3);
    return code;
}

static void
faultRpcOpen(int fd, guint32 serial)
{
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GByteArray) pkt = NULL;

    qvirXdrWriteOptString(args, "qemu:///system");
    qvirXdrWriteU32(args, 0);
    pkt = faultRpcCall(1 /* CONNECT_OPEN */, serial, args);
    faultRpcSend(fd, pkt->data, pkt->len);
    g_assert_cmpint(faultRpcReply(fd, serial), ==, -1);
}

/* The other client: a listing round trip must work at any time. */
static void
faultRpcServed(int fd, guint32 serial)
{
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GByteArray) pkt = NULL;

    qvirXdrWriteInt(args, -1); /* need_results */
    qvirXdrWriteU32(args, 0);  /* flags */
    pkt = faultRpcCall(273 /* CONNECT_LIST_ALL_DOMAINS */, serial, args);
    faultRpcSend(fd, pkt->data, pkt->len);
    g_assert_cmpint(faultRpcReply(fd, serial), ==, -1);
}

static void
faultRpcExpectClosed(int fd)
{
    g_autoptr(GByteArray) pkt = faultRpcRead(fd);

    g_assert_null(pkt);
}

static void
testRpcBadInput(void)
{
    g_autoptr(GByteArray) empty = g_byte_array_new();
    guint32 serial = 100;
    int good, bad;

    faultEnsureDaemon();
    /* Only the daemon's user may connect to the read-write socket. */
    {
        GStatBuf st;

        g_assert_cmpint(g_stat(daemonEnv.socket, &st), ==, 0);
        g_assert_true(S_ISSOCK(st.st_mode));
        g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
        g_assert_cmpuint(st.st_uid, ==, geteuid());
    }
    good = faultRpcConnect();
    faultRpcOpen(good, serial++);

    /* Shorter than the header: the stream cannot be framed, the connection goes. */
    {
        const guint8 shortPkt[8] = {0, 0, 0, 8, 0x20, 0x00, 0x80, 0x86};

        bad = faultRpcConnect();
        faultRpcSend(bad, shortPkt, sizeof(shortPkt));
        faultRpcExpectClosed(bad);
        close(bad);
        faultRpcServed(good, serial++);
    }
    /* Longer than the protocol allows (libvirt: 32 MiB), and absurd. */
    {
        const guint32 lens[] = {QVIR_RPC_PACKET_MAX + 1, 0x7fffffff, 0xffffffff};

        for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
            guint8 word[4] = {lens[i] >> 24, lens[i] >> 16, lens[i] >> 8, lens[i]};

            bad = faultRpcConnect();
            faultRpcSend(bad, word, 4);
            faultRpcExpectClosed(bad);
            close(bad);
            faultRpcServed(good, serial++);
        }
    }
    /* 17 MiB announced (over 16 MiB, under the maximum), then the client vanishes after
     * a few bytes: the daemon must not wait for the rest on anyone else's time. */
    {
        guint32 len = 17 * 1024 * 1024;
        guint8 word[4] = {len >> 24, len >> 16, len >> 8, len};

        bad = faultRpcConnect();
        faultRpcSend(bad, word, 4);
        faultRpcSend(bad, "\x20\x00\x80\x86", 4);
        faultRpcServed(good, serial++);
        close(bad);
        faultRpcServed(good, serial++);
    }
    /* Wrong program, wrong version: an error reply, and the connection stays usable. (The
     * QEMU program, 0x20008087, is served: qemu-monitor-command.) */
    bad = faultRpcConnect();
    {
        g_autoptr(GByteArray) p1 = faultRpcPacket(0x20008088, 1, 1, QVIR_RPC_CALL, 1, empty);
        g_autoptr(GByteArray) p2 =
            faultRpcPacket(QVIR_RPC_REMOTE_PROGRAM, 2, 1, QVIR_RPC_CALL, 2, empty);

        faultRpcSend(bad, p1->data, p1->len);
        g_assert_cmpint(faultRpcReply(bad, 1), ==, QVIR_ERR_RPC);
        faultRpcSend(bad, p2->data, p2->len);
        g_assert_cmpint(faultRpcReply(bad, 2), ==, QVIR_ERR_RPC);
    }
    /* Calls before CONNECT_OPEN are refused. */
    {
        g_autoptr(GByteArray) args = g_byte_array_new();
        g_autoptr(GByteArray) pkt = NULL;

        qvirXdrWriteString(args, "fault-none");
        pkt = faultRpcCall(23 /* DOMAIN_LOOKUP_BY_NAME */, 3, args);
        faultRpcSend(bad, pkt->data, pkt->len);
        g_assert_cmpint(faultRpcReply(bad, 3), >, 0);
    }
    faultRpcOpen(bad, 4);
    /* Truncated XDR, a string length past the end of the packet, trailing bytes. */
    {
        g_autoptr(GByteArray) trunc = g_byte_array_new();
        g_autoptr(GByteArray) past = g_byte_array_new();
        g_autoptr(GByteArray) trailing = g_byte_array_new();
        g_autoptr(GByteArray) p1 = NULL;
        g_autoptr(GByteArray) p2 = NULL;
        g_autoptr(GByteArray) p3 = NULL;

        qvirXdrWriteU32(trunc, 16);
        g_byte_array_append(trunc, (const guint8 *)"faul", 4);
        qvirXdrWriteU32(past, 0x7ffffff0);
        g_byte_array_append(past, (const guint8 *)"fault", 5);
        qvirXdrWriteString(trailing, "fault-none");
        qvirXdrWriteU32(trailing, 7);
        p1 = faultRpcCall(23, 5, trunc);
        p2 = faultRpcCall(23, 6, past);
        p3 = faultRpcCall(23, 7, trailing);
        faultRpcSend(bad, p1->data, p1->len);
        g_assert_cmpint(faultRpcReply(bad, 5), ==, QVIR_ERR_RPC);
        faultRpcSend(bad, p2->data, p2->len);
        g_assert_cmpint(faultRpcReply(bad, 6), ==, QVIR_ERR_RPC);
        faultRpcSend(bad, p3->data, p3->len);
        g_assert_cmpint(faultRpcReply(bad, 7), ==, QVIR_ERR_RPC);
    }
    /* Unknown procedures: libvirt's NO_SUPPORT. */
    {
        const gint32 procs[] = {9999, 443, -5, 0};

        for (guint i = 0; i < G_N_ELEMENTS(procs); i++) {
            g_autoptr(GByteArray) pkt = faultRpcCall(procs[i], 10 + i, empty);

            faultRpcSend(bad, pkt->data, pkt->len);
            g_assert_cmpint(faultRpcReply(bad, 10 + i), ==, QVIR_ERR_NO_SUPPORT);
        }
    }
    faultRpcServed(good, serial++);
    /* A type no client may send: the connection goes. */
    {
        g_autoptr(GByteArray) pkt =
            faultRpcPacket(QVIR_RPC_REMOTE_PROGRAM, 1, 3, QVIR_RPC_REPLY, 20, empty);

        faultRpcSend(bad, pkt->data, pkt->len);
        faultRpcExpectClosed(bad);
        close(bad);
    }
    /* A client that leaves in the middle of a call, and one in the middle of a packet. */
    {
        g_autofree char *xml = daemonDomainXML(
            "fault-midcall", "8f3c0a52-6b1e-4c55-9a41-1f0d6a9e2b05", faultTop, "none");
        g_autoptr(GByteArray) args = g_byte_array_new();
        g_autoptr(GByteArray) pkt = NULL;

        bad = faultRpcConnect();
        faultRpcOpen(bad, 1);
        qvirXdrWriteString(args, xml);
        qvirXdrWriteU32(args, 0);
        pkt = faultRpcCall(350 /* DOMAIN_DEFINE_XML_FLAGS */, 2, args);
        faultRpcSend(bad, pkt->data, pkt->len);
        close(bad);

        bad = faultRpcConnect();
        faultRpcSend(bad, pkt->data, pkt->len / 2);
        close(bad);
        faultRpcServed(good, serial++);
        /* The define itself may or may not have happened; either way it is consistent. */
        faultVirsh(NULL, NULL, "undefine", "fault-midcall", NULL);
    }

    /* And a brand-new client is served too. */
    bad = faultRpcConnect();
    faultRpcOpen(bad, 1);
    faultRpcServed(bad, 2);
    close(bad);
    faultRpcServed(good, serial++);
    close(good);
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    daemonEnvInit("qvirt-fault");
    signal(SIGABRT, faultOnFatalSignal);
    signal(SIGTRAP, faultOnFatalSignal);
    faultTop = daemonMakeChain(daemonEnv.images, "fault");

    g_test_add_func("/fault/rpc-bad-input", testRpcBadInput);
    g_test_add_func("/fault/qemu-sigkill-idle", testQemuSigkillIdle);
    g_test_add_data_func("/fault/qemu-sigkill-pull", "pull", testQemuSigkillDuringJob);
    g_test_add_data_func("/fault/qemu-sigkill-active-commit", "active-commit",
                         testQemuSigkillDuringJob);
    g_test_add_func("/fault/qvirtd-sigkill-start", testDaemonSigkillDuringStart);
    g_test_add_func("/fault/qvirtd-sigkill-ops", testDaemonSigkillDuringOps);
    g_test_add_func("/fault/qvirtd-sigkill-snapshot-status", testDaemonSigkillSnapshotStatus);
    g_test_add_func("/fault/qvirtd-sigkill-defines", testDaemonSigkillDuringDefines);
    g_test_add_func("/fault/state-dir-full", testStateDirFull);

    ret = g_test_run();
    if (daemonEnv.pid)
        daemonStop();
    faultUnmountAll();
    daemonEnvCleanup();
    g_free(faultTop);
    return ret;
}
