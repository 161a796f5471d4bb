/*
 * virshblockcopytest.c: block copy through the real virsh against the build tree's qvirtd
 * running as root (QEMU as its own user): blockcopy of a three-layer chain, shallow and
 * full, to new files and to prepared ones (--reuse-external, the chain read from the
 * destination), with --pivot, --finish and blockjob --pivot/--abort later, the job
 * surviving a daemon restart, and libvirt's refusals. Each step is checked in the live XML
 * chain and in the owners of the files; at the end the data in the images.
 */
#include <pwd.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <json-glib/json-glib.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include <fcntl.h>
#include <sched.h>

#include "daemontestutils.h"
#include "guesttestutils.h"
#include "qemustatustestutils.h"
#include "virshtestutils.h"

#define VM "bcopy1"
#define VM_UUID "6b1d4d2f-0e2c-4d66-9f1a-7c8b2e3d4f50"

static void
testImgRun(const char *const *argv)
{
    g_autofree char *err = NULL;
    g_autofree char *out = NULL;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("%s failed: %s%s", argv[0], out, err);
}

static void
testImgWrite(const char *img, unsigned int pattern, const char *off)
{
    g_autofree char *cmd = g_strdup_printf("write -P 0x%02x %s 64k", pattern, off);
    const char *argv[] = {"qemu-io", "-f", "qcow2", "-c", cmd, img, NULL};

    testImgRun(argv);
}

static gboolean
testImgHas(const char *img, const char *fmt, unsigned int pattern, const char *off)
{
    g_autofree char *cmd = g_strdup_printf("read -P 0x%02x %s 64k", pattern, off);
    const char *argv[] = {"qemu-io", "-r", "-f", fmt, "-c", cmd, img, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    return qvirTestRun(argv, &out, &err) == 0 && !strstr(out, "Pattern verification failed");
}

/* The <source file=...> of vda's chain in the live XML, top first, "|" at a known end. */
static char *
testLiveChain(void)
{
    g_autofree char *xml = VIRSH_OK("dumpxml", VM);
    const char *end = strstr(xml, "<target dev='vda'");
    const char *start;
    GString *chain = g_string_new(NULL);

    g_assert_nonnull(end);
    start = g_strrstr_len(xml, end - xml, "<disk ");
    g_assert_nonnull(start);
    for (const char *p = start; p < end;) {
        const char *src = strstr(p, "<source file='");
        const char *term = strstr(p, "<backingStore/>");

        if (term && term < end && (!src || term < src)) {
            g_string_append(chain, chain->len ? " > |" : "|");
            break;
        }
        if (!src || src > end)
            break;
        src += strlen("<source file='");
        if (chain->len)
            g_string_append(chain, " > ");
        g_string_append_len(chain, src, strchr(src, '\'') - src);
        p = src;
    }
    return g_string_free(chain, FALSE);
}

#define ASSERT_CHAIN(...)                                                                          \
    do {                                                                                           \
        g_autofree char *want_ = g_strdup_printf(__VA_ARGS__);                                     \
        g_autofree char *have_ = testLiveChain();                                                  \
        g_assert_cmpstr(have_, ==, want_);                                                         \
    } while (0)

static uid_t
testOwner(const char *path)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return st.st_uid;
}

/* Each path after UID, up to NULL, belongs to UID. */
static void G_GNUC_NULL_TERMINATED
testAssertOwners(uid_t uid, ...)
{
    va_list ap;

    va_start(ap, uid);
    for (const char *path = va_arg(ap, const char *); path; path = va_arg(ap, const char *)) {
        if (testOwner(path) != uid)
            g_error("%s belongs to uid %u, not %u", path, (unsigned)testOwner(path), (unsigned)uid);
    }
    va_end(ap);
}

/* virsh prints the progress of vda's job on stderr */
static void
testAssertCopyJob(void)
{
    g_auto(VirshResult) r = {0};

    VIRSH(&r, "blockjob", VM, "vda", "--info");
    g_assert_cmpint(r.rc, ==, 0);
    if (!strstr(r.err, "Block Copy: [100 %]"))
        g_error("no ready copy job on vda: %s", r.err);
}

/*
 * With the daemon stopped: end vda's copy job behind its back through QEMU's monitor
 * (job-complete pivots, block-job-cancel does not) and wait until QEMU has dropped it.
 */
static JsonNode *
testQmpIO(FILE *in, FILE *out, const char *cmd)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    char line[1 << 16];

    fprintf(out, "%s\n", cmd);
    fflush(out);
    while (fgets(line, sizeof(line), in)) {
        JsonObject *o;

        g_assert_true(json_parser_load_from_data(parser, line, -1, NULL));
        o = json_node_get_object(json_parser_get_root(parser));
        if (json_object_has_member(o, "event"))
            continue;
        if (!json_object_has_member(o, "return"))
            g_error("QMP %s: %s", cmd, line);
        return json_node_copy(json_object_get_member(o, "return"));
    }
    g_error("QMP connection closed");
    return NULL;
}

static void
testQemuEndCopy(gboolean pivot)
{
    g_autofree char *statusPath = g_build_filename(daemonEnv.root, "run", "qemu", VM ".xml", NULL);
    g_autofree char *status = NULL;
    g_autofree char *monitor = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *job = NULL;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_autoptr(JsonNode) caps = NULL;
    g_autoptr(JsonNode) jobs = NULL;
    g_autoptr(JsonNode) ret = NULL;
    char greeting[4096];
    const char *p;
    FILE *in;
    FILE *out;
    int fd;

    g_assert_true(g_file_get_contents(statusPath, &status, NULL, NULL));
    p = strstr(status, "monitor path='");
    g_assert_nonnull(p);
    p = strchr(p, '\'') + 1;
    monitor = g_strndup(p, strchr(p, '\'') - p);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(addr.sun_path, monitor, sizeof(addr.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    /* one stream per direction: a read-write stream must not switch without a seek */
    in = fdopen(fd, "r");
    out = fdopen(dup(fd), "w");
    g_assert_nonnull(fgets(greeting, sizeof(greeting), in));
    caps = testQmpIO(in, out, "{\"execute\":\"qmp_capabilities\"}");
    jobs = testQmpIO(in, out, "{\"execute\":\"query-block-jobs\"}");
    g_assert_cmpuint(json_array_get_length(json_node_get_array(jobs)), ==, 1);
    job = g_strdup(json_object_get_string_member(
        json_array_get_object_element(json_node_get_array(jobs), 0), "device"));
    g_assert_true(g_str_has_prefix(job, "copy.vda."));
    if (pivot)
        cmd = g_strdup_printf("{\"execute\":\"job-complete\",\"arguments\":{\"id\":\"%s\"}}", job);
    else
        cmd = g_strdup_printf(
            "{\"execute\":\"block-job-cancel\",\"arguments\":{\"device\":\"%s\"}}", job);
    ret = testQmpIO(in, out, cmd);
    for (guint i = 0; i < 200; i++) {
        g_autoptr(JsonNode) left = testQmpIO(in, out, "{\"execute\":\"query-block-jobs\"}");

        if (json_array_get_length(json_node_get_array(left)) == 0)
            break;
        g_usleep(20 * 1000);
    }
    fclose(out);
    fclose(in);
}

/* A `virsh event --loop` client for block-job-2 events, started and stopped by the test. */
typedef struct {
    GPid pid;
    int fd;
} EventClient;

static void
testEventsStart(EventClient *ec)
{
    const char *argv[] = {"virsh",       "-c",     daemonEnv.uri, "event", VM,
                          "block-job-2", "--loop", "--timeout",   "120",   NULL};
    g_autoptr(GError) err = NULL;

    if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                  G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                  &ec->pid, NULL, &ec->fd, NULL, &err))
        g_error("cannot run virsh event: %s", err->message);
    /* registered once the domain lookup and the registration are done */
    g_usleep(1000 * 1000);
}

/* The events received, one per line as virsh prints them (the domain name left out). */
static char *
testEventsStop(EventClient *ec)
{
    GString *buf = g_string_new(NULL);
    g_autofree char *all = NULL;
    g_auto(GStrv) lines = NULL;
    char tmp[1024];
    ssize_t n;
    int status;

    g_usleep(300 * 1000); /* the last event is on its way */
    kill(ec->pid, SIGINT);
    g_assert_cmpint(waitpid(ec->pid, &status, 0), ==, ec->pid);
    while ((n = read(ec->fd, tmp, sizeof(tmp))) > 0)
        g_string_append_len(buf, tmp, n);
    close(ec->fd);
    all = g_string_free(buf, FALSE);
    buf = g_string_new(NULL);
    lines = g_strsplit(all, "\n", 0);
    for (guint i = 0; lines[i]; i++) {
        const char *p = strstr(lines[i], "': ");

        if (g_str_has_prefix(lines[i], "event 'block-job-2'") && p)
            g_string_append_printf(buf, "%s\n", p + 3);
    }
    return g_string_free(buf, FALSE);
}

static uid_t qemuUid;
static uid_t rootUid; /* the images' owner */

static char *base, *mid, *top;

/* With the daemon stopped, QEMU has the chain its status file records; then it starts again. */
static void
testRestartMatchingQemu(void)
{
    daemonStop();
    testAssertStatusMatchesQemu(VM);
    daemonStart(FALSE);
}

static void
testBlockCopy(void)
{
    g_autofree char *xml = NULL;
    g_autofree char *xmlPath = NULL;
    g_autofree char *out = NULL;
    g_autofree char *shallow = daemonImagePath("shallow.qcow2");
    g_autofree char *full = daemonImagePath("full.qcow2");
    g_autofree char *restart = daemonImagePath("restart.qcow2");
    g_autofree char *aborted = daemonImagePath("aborted.qcow2");
    g_autofree char *stopped = daemonImagePath("stopped.qcow2");
    g_autofree char *down1 = daemonImagePath("down1.qcow2");
    g_autofree char *down2 = daemonImagePath("down2.qcow2");
    g_autofree char *second = daemonImagePath("second.qcow2");
    g_autofree char *cc1 = daemonImagePath("cc1.qcow2");
    g_autofree char *cc2 = daemonImagePath("cc2.qcow2");
    g_autofree char *snapB = daemonImagePath("snap-vdb.qcow2");
    g_autofree char *snapArg = g_strdup_printf("vdb,file=%s", snapB);
    g_autofree char *small = g_build_filename(daemonEnv.root, "small", NULL);
    g_autofree char *reuse = daemonImagePath("reuse.qcow2");
    g_autofree char *reuseBase = daemonImagePath("reuse-base.qcow2");
    g_autofree char *reuseTop = daemonImagePath("reuse-top.qcow2");
    g_autofree char *reuseCopy = daemonImagePath("reuse-base-copy.qcow2");
    g_autofree char *raw = daemonImagePath("copy.raw");
    g_autofree char *missing = daemonImagePath("missing.qcow2");
    g_autofree char *mirrorFile =
        g_build_filename(daemonEnv.root, "run", "qemu", VM ".vda.mirror", NULL);
    g_autofree char *destXml = NULL;
    g_autofree char *destXmlPath = NULL;
    g_autofree char *evText = NULL;
    EventClient events = {0};

    /* a small file system for a destination that fills up, there before QEMU starts (it
     * runs in a mount namespace of its own) */
    if (getuid() == 0) {
        g_assert_cmpint(g_mkdir(small, 0755), ==, 0);
        g_assert_cmpint(mount("tmpfs", small, "tmpfs", 0, "size=128k,mode=0755"), ==, 0);
    }
    xml = daemonDomainXML(VM, VM_UUID, top, "none");
    {
        g_autofree char *vdb = g_strdup_printf("    <disk type='file' device='disk'>\n"
                                               "      <driver name='qemu' type='qcow2'/>\n"
                                               "      <source file='%s'/>\n"
                                               "      <target dev='vdb' bus='virtio'/>\n"
                                               "    </disk>\n"
                                               "  </devices>",
                                               second);
        g_auto(GStrv) parts = g_strsplit(xml, "  </devices>", 2);

        daemonMakeQcow2(second, NULL);
        g_free(xml);
        xml = g_strjoin(vdb, parts[0], parts[1], NULL);
    }
    xmlPath = daemonWriteFile(VM ".xml", xml);
    g_free(VIRSH_OK("define", xmlPath));
    g_free(VIRSH_OK("start", VM));
    ASSERT_CHAIN("%s > %s > %s > |", top, mid, base);
    g_assert_cmpuint(testOwner(top), ==, qemuUid);

    /* libvirt's refusals; nothing changes */
    VIRSH_FAILS("domain is not transient", "blockcopy", VM, "vda", shallow);
    VIRSH_FAILS("absolute path must be used as block copy target", "blockcopy", VM, "vda",
                "rel.qcow2", "--transient-job");
    VIRSH_FAILS("already exists and is not a block device", "blockcopy", VM, "vda", base,
                "--transient-job");
    VIRSH_FAILS("missing destination file for disk vda", "blockcopy", VM, "vda", missing,
                "--transient-job", "--reuse-external");
    VIRSH_FAILS("is not a block device", "blockcopy", VM, "vda", missing, "--transient-job",
                "--blockdev");
    VIRSH_FAILS("granularity must be power of 2", "blockcopy", VM, "vda", missing,
                "--transient-job", "--granularity", "1000");
    VIRSH_FAILS("shallow copy of disk 'vda' into a raw file is not possible", "blockcopy", VM,
                "vda", raw, "--transient-job", "--shallow", "--format", "raw");
    g_assert_false(g_file_test(missing, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(raw, G_FILE_TEST_EXISTS));
    ASSERT_CHAIN("%s > %s > %s > |", top, mid, base);

    testEventsStart(&events);

    /* shallow copy, pivoted later with blockjob --pivot: the new top on the old backing */
    out = VIRSH_OK("blockcopy", VM, "vda", shallow, "--shallow", "--transient-job", "--wait",
                   "--verbose");
    g_assert_nonnull(strstr(out, "Now in mirroring phase"));
    g_clear_pointer(&out, g_free);
    ASSERT_CHAIN("%s > %s > %s > |", top, mid, base);
    g_assert_cmpuint(testOwner(shallow), ==, qemuUid);
    g_assert_true(g_file_test(mirrorFile, G_FILE_TEST_EXISTS));
    testAssertCopyJob();
    g_free(VIRSH_OK("blockjob", VM, "vda", "--pivot"));
    ASSERT_CHAIN("%s > %s > %s > |", shallow, mid, base);
    g_assert_cmpuint(testOwner(top), ==, rootUid); /* left the chain: back to its owner */
    g_assert_cmpuint(testOwner(mid), ==, qemuUid);
    g_assert_false(g_file_test(mirrorFile, G_FILE_TEST_EXISTS));

    /* full copy through virDomainBlockCopy (tuning parameters), --finish: the copy is
     * complete but the disk stays on its chain */
    out = VIRSH_OK("blockcopy", VM, "vda", full, "--transient-job", "--wait", "--verbose",
                   "--finish", "--granularity", "65536", "--buf-size", "1048576",
                   "--synchronous-writes", "--bandwidth", "100");
    g_assert_nonnull(strstr(out, "Successfully copied"));
    g_clear_pointer(&out, g_free);
    ASSERT_CHAIN("%s > %s > %s > |", shallow, mid, base);
    g_assert_cmpuint(testOwner(full), ==, rootUid);
    g_assert_true(testImgHas(full, "qcow2", 0x11, "0"));
    g_assert_true(testImgHas(full, "qcow2", 0x22, "1M"));
    g_assert_true(testImgHas(full, "qcow2", 0x33, "2M"));

    /* a job aborted later: chain unchanged, destination back to its owner */
    g_free(VIRSH_OK("blockcopy", VM, "vda", aborted, "--transient-job"));
    g_free(VIRSH_OK("blockjob", VM, "vda", "--abort"));
    /* a pivot before the copy is ready is refused in libvirt's words (64 KiB/s: the job
     * needs seconds for the 192 KiB of data) */
    (void)g_unlink(aborted);
    g_free(VIRSH_OK("blockcopy", VM, "vda", aborted, "--transient-job", "--bandwidth", "65536",
                    "--bytes"));
    VIRSH_FAILS("block copy still active: block job 'copy.vda.", "blockjob", VM, "vda", "--pivot");
    g_free(VIRSH_OK("blockjob", VM, "vda", "--abort"));
    ASSERT_CHAIN("%s > %s > %s > |", shallow, mid, base);
    g_assert_cmpuint(testOwner(aborted), ==, rootUid);
    g_assert_false(g_file_test(mirrorFile, G_FILE_TEST_EXISTS));

    /* as libvirt: ready, then completed at a pivot and cancelled at --finish or abort */
    evText = testEventsStop(&events);
    g_assert_true(g_str_has_prefix(evText, "Block Copy for vda ready\n"
                                           "Block Copy for vda completed\n"
                                           "Block Copy for vda ready\n"
                                           "Block Copy for vda canceled\n"));
    g_assert_true(g_str_has_suffix(evText, "Block Copy for vda canceled\n"));
    g_assert_cmpuint(strlen(evText), <=, strlen("Block Copy for vda ready\n") * 9);

    /* a destination that fills up: the job fails, the disk keeps its chain and the
     * destination goes back to its owner */
    if (getuid() == 0) {
        g_autofree char *smallDst = g_build_filename(small, "full.raw", NULL);
        g_auto(VirshResult) r = {0};

        VIRSH(&r, "blockcopy", VM, "vda", smallDst, "--transient-job", "--format", "raw", "--wait",
              "--verbose");
        if (r.rc == 0 || !strstr(r.out, "Copy failed"))
            g_error("blockcopy into a full file system: %d %s %s", r.rc, r.out, r.err);
        ASSERT_CHAIN("%s > %s > %s > |", shallow, mid, base);
        g_assert_cmpuint(testOwner(smallDst), ==, rootUid);
        g_assert_false(g_file_test(mirrorFile, G_FILE_TEST_EXISTS));
    }

    /* to a raw file, made with the disk's size */
    out = VIRSH_OK("blockcopy", VM, "vda", raw, "--transient-job", "--format", "raw", "--wait",
                   "--finish");
    g_assert_nonnull(strstr(out, "Successfully copied"));
    g_clear_pointer(&out, g_free);
    g_assert_cmpuint(testOwner(raw), ==, rootUid);
    g_assert_true(testImgHas(raw, "raw", 0x11, "0"));
    g_assert_true(testImgHas(raw, "raw", 0x22, "1M"));
    g_assert_true(testImgHas(raw, "raw", 0x33, "2M"));

    /* a job across a daemon restart: adopted with its destination, then pivoted */
    g_free(VIRSH_OK("blockcopy", VM, "vda", restart, "--transient-job", "--wait", "--verbose"));
    daemonStop();
    daemonStart(FALSE);
    ASSERT_CHAIN("%s > %s > %s > |", shallow, mid, base);
    testAssertCopyJob();
    g_free(VIRSH_OK("blockjob", VM, "vda", "--pivot"));
    ASSERT_CHAIN("%s > |", restart);
    g_assert_cmpuint(testOwner(shallow), ==, rootUid);
    g_assert_cmpuint(testOwner(mid), ==, rootUid);
    g_assert_cmpuint(testOwner(base), ==, rootUid);
    g_assert_cmpuint(testOwner(restart), ==, qemuUid);

    /* a prepared destination (XML): its own chain is read and becomes the disk's */
    daemonMakeQcow2(reuseBase, NULL);
    daemonMakeQcow2(reuse, reuseBase);
    destXml = g_strdup_printf("<disk type='file'><driver type='qcow2'/><source file='%s'/></disk>",
                              reuse);
    destXmlPath = daemonWriteFile("dest.xml", destXml);
    VIRSH_FAILS("invalid argument: disk vda does not have an active block job", "blockjob", VM,
                "vda", "--pivot");
    out = VIRSH_OK("blockcopy", VM, "vda", "--xml", destXmlPath, "--reuse-external",
                   "--transient-job", "--wait", "--verbose", "--pivot");
    g_assert_nonnull(strstr(out, "Successfully pivoted"));
    g_clear_pointer(&out, g_free);
    ASSERT_CHAIN("%s > %s > |", reuse, reuseBase);
    g_assert_cmpuint(testOwner(restart), ==, rootUid);
    g_assert_cmpuint(testOwner(reuse), ==, qemuUid);
    g_assert_cmpuint(testOwner(reuseBase), ==, qemuUid);
    /* QEMU has the chain the status file records, and no node of the layers that left;
     * the cached chain is the same after another restart */
    testRestartMatchingQemu();
    ASSERT_CHAIN("%s > %s > |", reuse, reuseBase);

    /* A prepared destination named by its path alone, over a copy of the disk's backing
     * file: as libvirt 9.0, its format is read from its header (qvirt refused: "reused
     * mirror destination format must be specified"), its chain too, and that chain is
     * opened in QEMU at the pivot (qvirt kept the disk's own backing nodes under it). */
    {
        const char *cp[] = {"cp", reuseBase, reuseCopy, NULL};

        testImgRun(cp);
    }
    daemonMakeQcow2(reuseTop, reuseCopy);
    /* aborted: only its top was open, nothing changes, its files go back to their owner */
    out = VIRSH_OK("blockcopy", VM, "vda", reuseTop, "--reuse-external", "--shallow",
                   "--transient-job", "--wait");
    g_assert_nonnull(strstr(out, "Now in mirroring phase"));
    g_clear_pointer(&out, g_free);
    g_assert_cmpuint(testOwner(reuseCopy), ==, qemuUid);
    g_free(VIRSH_OK("blockjob", VM, "vda", "--abort"));
    ASSERT_CHAIN("%s > %s > |", reuse, reuseBase);
    testAssertOwners(rootUid, reuseTop, reuseCopy, NULL);
    /* pivoted after a daemon restart: the adopted job still opens the chain */
    out = VIRSH_OK("blockcopy", VM, "vda", reuseTop, "--reuse-external", "--shallow",
                   "--transient-job", "--wait");
    g_assert_nonnull(strstr(out, "Now in mirroring phase"));
    g_clear_pointer(&out, g_free);
    daemonStop();
    daemonStart(FALSE);
    testAssertCopyJob();
    g_free(VIRSH_OK("blockjob", VM, "vda", "--pivot"));
    ASSERT_CHAIN("%s > %s > |", reuseTop, reuseCopy);
    out = VIRSH_OK("dumpxml", VM);
    g_assert_nonnull(strstr(out, "<driver name='qemu' type='qcow2' cache='none'/>"));
    g_clear_pointer(&out, g_free);
    testAssertOwners(rootUid, reuse, reuseBase, NULL);
    testAssertOwners(qemuUid, reuseTop, reuseCopy, NULL);
    testRestartMatchingQemu();
    ASSERT_CHAIN("%s > %s > |", reuseTop, reuseCopy);
    /* the same in one call, by the XML's path, onto the chain just left */
    g_assert_cmpint(g_unlink(reuse), ==, 0);
    daemonMakeQcow2(reuse, reuseBase);
    out = VIRSH_OK("blockcopy", VM, "vda", reuse, "--reuse-external", "--shallow",
                   "--transient-job", "--wait", "--pivot");
    g_assert_nonnull(strstr(out, "Successfully pivoted"));
    g_clear_pointer(&out, g_free);
    ASSERT_CHAIN("%s > %s > |", reuse, reuseBase);
    testAssertOwners(rootUid, reuseTop, reuseCopy, NULL);

    /* copies that end while the daemon is down: the restarted daemon reads QEMU's chain
     * and takes the destination's (pivot) or drops it (cancel) */
    g_free(VIRSH_OK("blockcopy", VM, "vda", down1, "--transient-job", "--wait"));
    daemonStop();
    testQemuEndCopy(TRUE);
    daemonStart(FALSE);
    ASSERT_CHAIN("%s > |", down1);
    g_assert_cmpuint(testOwner(reuse), ==, rootUid);
    g_assert_cmpuint(testOwner(reuseBase), ==, rootUid);
    g_assert_cmpuint(testOwner(down1), ==, qemuUid);
    g_assert_false(g_file_test(mirrorFile, G_FILE_TEST_EXISTS));
    g_free(VIRSH_OK("blockcopy", VM, "vda", down2, "--transient-job", "--wait"));
    daemonStop();
    testQemuEndCopy(FALSE);
    daemonStart(FALSE);
    ASSERT_CHAIN("%s > |", down1);
    g_assert_cmpuint(testOwner(down2), ==, rootUid);
    g_assert_false(g_file_test(mirrorFile, G_FILE_TEST_EXISTS));
    testRestartMatchingQemu();

    /* two copies at once, on two disks: their destinations get distinct nodes */
    g_free(VIRSH_OK("blockcopy", VM, "vda", cc1, "--transient-job", "--wait"));
    /* an external snapshot of the other disk meanwhile gets nodes of its own too */
    g_free(VIRSH_OK("snapshot-create-as", VM, "s1", "--disk-only", "--no-metadata", "--diskspec",
                    "vda,snapshot=no", "--diskspec", snapArg));
    g_free(VIRSH_OK("blockcopy", VM, "vdb", cc2, "--transient-job", "--wait"));
    g_free(VIRSH_OK("blockjob", VM, "vda", "--pivot"));
    g_free(VIRSH_OK("blockjob", VM, "vdb", "--pivot"));
    ASSERT_CHAIN("%s > |", cc1);
    out = VIRSH_OK("domblklist", VM);
    g_assert_nonnull(strstr(out, cc2));
    g_clear_pointer(&out, g_free);
    g_assert_cmpuint(testOwner(down1), ==, rootUid);
    g_assert_cmpuint(testOwner(second), ==, rootUid);
    g_assert_cmpuint(testOwner(snapB), ==, rootUid);
    g_assert_cmpuint(testOwner(cc2), ==, qemuUid);
    testRestartMatchingQemu();

    /* a copy still running when the domain stops: its destination goes back too */
    g_free(VIRSH_OK("blockcopy", VM, "vda", stopped, "--transient-job"));
    g_assert_cmpuint(testOwner(stopped), ==, qemuUid);
    g_assert_true(g_file_test(mirrorFile, G_FILE_TEST_EXISTS));
    g_free(VIRSH_OK("destroy", VM));
    if (getuid() == 0)
        g_assert_cmpint(umount2(small, MNT_DETACH), ==, 0);
    g_assert_cmpuint(testOwner(stopped), ==, rootUid);
    g_assert_false(g_file_test(mirrorFile, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(testOwner(cc1), ==, rootUid);
    g_assert_cmpuint(testOwner(cc2), ==, rootUid);
    for (const char *img = restart; img; img = img == restart ? cc1 : NULL) {
        g_assert_true(testImgHas(img, "qcow2", 0x11, "0"));
        g_assert_true(testImgHas(img, "qcow2", 0x22, "1M"));
        g_assert_true(testImgHas(img, "qcow2", 0x33, "2M"));
    }
    /* the shallow copy holds the top's data only */
    g_assert_true(testImgHas(shallow, "qcow2", 0x33, "2M"));
    g_free(VIRSH_OK("undefine", VM));
}

static int
testGuestConsole(const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.log", name);
    g_autofree char *log = g_build_filename(daemonEnv.root, "log", "qemu", file, NULL);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    while (g_get_monotonic_time() < deadline) {
        g_autofree char *text = NULL;
        const char *p;

        if (g_file_get_contents(log, &text, NULL, NULL) &&
            (p = g_strrstr(text, "char device redirected to "))) {
            g_autofree char *pty = NULL;

            p += strlen("char device redirected to ");
            pty = g_strndup(p, strcspn(p, " \n"));
            return open(pty, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        }
        g_usleep(50 * 1000);
    }
    return -1;
}

/*
 * A booted guest writes to a disk while it is being copied (virsh blockcopy without
 * --transient-job on a transient domain: virDomainBlockRebase with COPY): after the pivot
 * the destination holds the write and the old chain's data.
 */
static void
testGuestWritesDuringCopy(void)
{
    g_autofree char *kernel = NULL;
    g_autofree char *modules = NULL;
    g_autofree char *initrd = NULL;
    g_autofree char *root = daemonImagePath("guest-root.qcow2");
    g_autofree char *gdisk = daemonImagePath("guest-data.qcow2");
    g_autofree char *gbase = daemonImagePath("guest-data-base.qcow2");
    g_autofree char *gcopy = daemonImagePath("guest-copy.qcow2");
    g_autofree char *xml = NULL;
    g_autofree char *xmlPath = NULL;
    g_autofree char *out = NULL;
    g_autofree char *chain = NULL;
    g_autoptr(GString) console = g_string_new(NULL);
    int fd;

    if (!testGuestKernel(&kernel, &modules) || !g_file_test("/bin/busybox", G_FILE_TEST_EXISTS))
        g_error("needs a Debian kernel in /boot (linux-image-cloud-amd64) and busybox-static "
                "(bash run.sh installs both)");
    initrd = g_build_filename(daemonEnv.root, "guest-initrd.cpio", NULL);
    g_assert_true(testGuestInitrd(modules, initrd));
    daemonMakeQcow2(root, NULL);
    daemonMakeQcow2(gbase, NULL);
    daemonMakeQcow2(gdisk, gbase);
    testImgWrite(gbase, 0x66, "0");
    xml = g_strdup_printf("<domain type='qemu'>\n"
                          "  <name>guest</name>\n"
                          "  <memory unit='MiB'>256</memory>\n"
                          "  <vcpu>1</vcpu>\n"
                          "  <os><type arch='x86_64' machine='q35'>hvm</type>\n"
                          "    <kernel>%s</kernel><initrd>%s</initrd>\n"
                          "    <cmdline>console=ttyS0 panic=-1 quiet</cmdline></os>\n"
                          "  <features><acpi/></features>\n"
                          "  <devices>\n"
                          "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                          "    <disk type='file' device='disk'>\n"
                          "      <driver name='qemu' type='qcow2' cache='none'/>\n"
                          "      <source file='%s'/>\n"
                          "      <target dev='vda' bus='virtio'/>\n"
                          "    </disk>\n"
                          "    <serial type='pty'><target port='0'/></serial>\n"
                          "  </devices>\n"
                          "</domain>\n",
                          kernel, initrd, root);
    xmlPath = daemonWriteFile("guest.xml", xml);
    g_free(VIRSH_OK("create", xmlPath));
    fd = testGuestConsole("guest");
    g_assert_cmpint(fd, >=, 0);
    if (!testGuestWaitFor(fd, console, "QVIRT-READY", 240))
        g_error("guest did not boot; console:\n%s", console->str);

    /* the guest writes to vdb shortly after it appears: the copy is running by then */
    g_free(VIRSH_OK("attach-disk", "guest", gdisk, "vdb", "--driver", "qemu", "--subdriver",
                    "qcow2", "--cache", "none", "--live"));
    out = VIRSH_OK("blockcopy", "guest", "vdb", gcopy, "--wait", "--verbose");
    g_assert_nonnull(strstr(out, "Now in mirroring phase"));
    g_clear_pointer(&out, g_free);
    if (!testGuestWaitFor(fd, console, "QVIRT-WROTE", 120))
        g_error("guest did not write to the disk; console:\n%s", console->str);
    g_free(VIRSH_OK("blockjob", "guest", "vdb", "--pivot"));
    out = VIRSH_OK("domblklist", "guest");
    g_assert_nonnull(strstr(out, gcopy));
    g_clear_pointer(&out, g_free);
    close(fd);
    g_free(VIRSH_OK("destroy", "guest"));

    g_assert_true(testImgHas(gcopy, "qcow2", 0x5a, "2M"));
    g_assert_true(testImgHas(gcopy, "qcow2", 0x66, "0"));
    g_assert_cmpuint(testOwner(gcopy), ==, rootUid);
    g_assert_cmpuint(testOwner(gdisk), ==, rootUid);
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    /* As root QEMU runs as qvirt-qemu (run.sh creates it); otherwise as ourselves. */
    if (getuid() == 0) {
        struct passwd *pw = getpwnam("qvirt-qemu");

        if (!pw)
            g_error("the qvirt-qemu user is missing (bash run.sh creates it)");
        qemuUid = pw->pw_uid;
        rootUid = 0;
        /* the test's mounts live in a namespace of its own: none outlives a failed run */
        g_assert_cmpint(unshare(CLONE_NEWNS), ==, 0);
        g_assert_cmpint(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), ==, 0);
    } else {
        qemuUid = rootUid = getuid();
    }
    daemonEnvInit("qvirt-blockcopy");
    base = daemonImagePath("base.qcow2");
    mid = daemonImagePath("mid.qcow2");
    top = daemonImagePath("top.qcow2");
    daemonMakeQcow2(base, NULL);
    daemonMakeQcow2(mid, base);
    daemonMakeQcow2(top, mid);
    testImgWrite(base, 0x11, "0");
    testImgWrite(mid, 0x22, "1M");
    testImgWrite(top, 0x33, "2M");
    daemonStart(FALSE);

    g_test_add_func("/virshblockcopy/copy", testBlockCopy);
    g_test_add_func("/virshblockcopy/guest", testGuestWritesDuringCopy);
    ret = g_test_run();
    if (daemonEnv.pid)
        daemonStop();
    daemonEnvCleanup();
    return ret;
}
