/*
 * migratetestutils.h: two real qvirtd daemons on this machine (each with its own --root
 * and host_uuid, standing for two hosts sharing the images) and a booted guest that writes
 * a counter to a shared raw disk ten times a second, for the migration tests
 * (virshmigratetest, virshmigratefaulttest). Helpers to drive virsh against either
 * daemon, to kill and restart one, and to check a domain's live chain against the block
 * nodes its QEMU really has open.
 *
 * Static functions: each test program includes this once.
 */
#pragma once

#pragma GCC diagnostic ignored "-Wunused-function"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sched.h>
#include <json-glib/json-glib.h>

#include "daemontestutils.h"
#include "guesttestutils.h"
#include "virshtestutils.h"

#define VM "mig1"
#define VM_UUID "3c1f0a8e-54d2-4b7e-9a61-2d8c7b5e4f10"
#define HOST_A "11111111-2222-3333-4444-555555555501"
#define HOST_B "11111111-2222-3333-4444-555555555502"

/* The guest counts in its first sector of vdb: "N\n", fsynced every 0.1 s. */
#define MIGRATE_GUEST_INIT                                                                         \
    "#!/bin/busybox sh\n"                                                                          \
    "/bin/busybox --install -s /bin\n"                                                             \
    "mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev\n"              \
    "for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci "          \
    "virtio_blk; do insmod /lib/$m.ko; done\n"                                                     \
    "while [ ! -e /dev/vdb ]; do sleep 0.1; done\n"                                                \
    "i=0\n"                                                                                        \
    "while true; do i=$((i+1)); echo $i | dd of=/dev/vdb bs=512 count=1 conv=sync,fsync "          \
    "2>/dev/null; sleep 0.1; done\n"

typedef struct {
    const char *tag;
    char *root;
    char *uri;
    char *p2pUri; /* the same socket as virsh migrate --p2p takes it (libvirt wants +unix) */
    const char *extraConf; /* more qvirtd.conf lines (set before the first start) */
    GPid pid;
} Host;

static Host hostA = {.tag = "a"}, hostB = {.tag = "b"};
static char *topImg, *counterImg;
static char *guestKernel, *guestInitrd;
/* How many incoming ports each daemon has (migration_port_min onwards). */
static unsigned int hostPortSpan = 50;

/* The migration tests' ports are 21000-21199 (virshmigratetest below 21150); with
 * QVIRT_MIGRATE_TEST_PORT_BASE they move to that base, e.g. for a machine where several
 * builds run the tests at once. PORT is the default's number. */
static unsigned int
migratePort(unsigned int port)
{
    const char *base = g_getenv("QVIRT_MIGRATE_TEST_PORT_BASE");
    guint64 val = 21000;

    if (base && !g_ascii_string_to_unsigned(base, 10, 1024, 65535 - 200, &val, NULL))
        g_error("QVIRT_MIGRATE_TEST_PORT_BASE=%s: expected a port from 1024 on", base);
    return (unsigned int)val + port - 21000;
}

static void
hostStart(Host *h, const char *hostUUID, unsigned int portMin)
{
    g_autofree char *qvirtd = qvirTestBuildPath("tools/qvirtd");
    g_autofree char *etc = NULL;
    g_autofree char *conf = NULL;
    g_autofree char *confText = NULL;
    g_autofree char *socket = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) line = g_string_new(NULL);
    g_autofree char *expect = NULL;
    const char *argv[] = {qvirtd, "--root", NULL, NULL};
    gint64 deadline = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;
    int outFd;
    char c;

    if (!h->root) {
        h->root = g_build_filename(daemonEnv.root, h->tag, NULL);
        etc = g_build_filename(h->root, "etc", NULL);
        g_assert_cmpint(g_mkdir_with_parents(etc, 0755), ==, 0);
        conf = g_build_filename(etc, "qvirtd.conf", NULL);
        /* QEMU runs as root here: both daemons use the same images, and neither may hand
         * them back to their owner under the other's QEMU. */
        confText = g_strdup_printf("[qvirtd]\nhost_uuid = %s\nmigration_port_min = %u\n"
                                   "migration_port_max = %u\nuser = +0\ngroup = +0\n"
                                   "dynamic_ownership = false\n%s",
                                   hostUUID, portMin, portMin + hostPortSpan - 1,
                                   h->extraConf ? h->extraConf : "");
        g_assert_true(g_file_set_contents(conf, confText, -1, NULL));
        socket = g_build_filename(h->root, "run", "qvirt-sock", NULL);
        h->uri = g_strdup_printf("qemu:///system?socket=%s", socket);
        h->p2pUri = g_strdup_printf("qemu+unix:///system?socket=%s", socket);
    }
    argv[2] = h->root;
    if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                  daemonChildSetup, NULL, &h->pid, NULL, &outFd, NULL, &err))
        g_error("cannot start qvirtd: %s", err->message);
    expect = g_strdup_printf("qvirtd: listening on %s", h->uri);
    while (g_get_monotonic_time() < deadline && read(outFd, &c, 1) == 1) {
        if (c != '\n') {
            g_string_append_c(line, c);
            continue;
        }
        if (strcmp(line->str, expect) == 0)
            break;
        g_string_truncate(line, 0);
    }
    close(outFd);
    g_assert_cmpstr(line->str, ==, expect);
}

/* The pid of a QEMU H's status file names for the domain; 0 without one. */
static pid_t
daemonDomainPidIn(const Host *h)
{
    return daemonDomainPidUnder(h->root, VM);
}

static void
hostStop(Host *h)
{
    int status = -1;

    if (!h->pid)
        return;
    kill(h->pid, SIGTERM);
    g_assert_cmpint(waitpid(h->pid, &status, 0), ==, h->pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    h->pid = 0;
}

static char *
virshHostOk(const Host *h, const char *const *args)
{
    g_auto(VirshResult) res = {0};

    virshArgvUriOk(&res, h->uri, args);
    return g_steal_pointer(&res.out);
}

#define VIRSH_HOST_OK(h, ...)                                                                      \
    ({                                                                                             \
        const char *args_[] = {__VA_ARGS__, NULL};                                                 \
        virshHostOk((h), args_);                                                                   \
    })

#define VIRSH_HOST_FAILS(h, needle, ...)                                                           \
    do {                                                                                           \
        g_auto(VirshResult) r_ = {0};                                                              \
        const char *args_[] = {__VA_ARGS__, NULL};                                                 \
        virshArgvUri(&r_, (h)->uri, args_);                                                        \
        g_assert_cmpint(r_.rc, !=, 0);                                                             \
        if (!strstr(r_.err, (needle)))                                                             \
            g_error("expected '%s' in: %s", (needle), r_.err);                                     \
    } while (0)

/* The guest's counter as it is on the shared disk now. */
static guint64
testCounter(void)
{
    g_autofree char *data = NULL;

    if (!g_file_get_contents(counterImg, &data, NULL, NULL))
        return 0;
    return g_ascii_strtoull(data, NULL, 10);
}

/* Wait until the counter passes AFTER (TRUE) or TIMEOUT_S goes by. */
static gboolean
testCounterPasses(guint64 after, guint timeoutS)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutS * G_USEC_PER_SEC;

    while (g_get_monotonic_time() < deadline) {
        if (testCounter() > after)
            return TRUE;
        g_usleep(100 * 1000);
    }
    return FALSE;
}

static char *
testState(const Host *h)
{
    g_auto(VirshResult) r = {0};
    const char *args[] = {"domstate", VM, NULL};

    virshArgvUri(&r, h->uri, args);
    if (r.rc != 0)
        return g_strdup("none");
    return g_strdup(g_strstrip(r.out));
}

/* The files of vda's chain in H's live XML, top first, ' '-separated. */
static char *
testLiveChain(const Host *h)
{
    g_autofree char *xml = VIRSH_HOST_OK(h, "dumpxml", VM);
    const char *end = strstr(xml, "<target dev='vda'");
    const char *start;
    GString *chain = g_string_new(NULL);

    g_assert_nonnull(end);
    start = g_strrstr_len(xml, end - xml, "<disk ");
    for (const char *p = start; p && p < end;) {
        const char *src = strstr(p, "<source file='");

        if (!src || src > end)
            break;
        src += strlen("<source file='");
        if (chain->len)
            g_string_append_c(chain, ' ');
        g_string_append_len(chain, src, strchr(src, '\'') - src);
        p = src;
    }
    return g_string_free(chain, FALSE);
}

static int
testStrPtrCmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of QEMU's file nodes on H (query-named-block-nodes), sorted, ' '-separated. */
static char *
testQemuFiles(const Host *h)
{
    g_autofree char *out =
        VIRSH_HOST_OK(h, "qemu-monitor-command", VM,
                      "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    JsonArray *arr;
    GString *s = g_string_new(NULL);

    g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
    arr =
        json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)), "return");
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *n = json_array_get_object_element(arr, i);

        if (g_strcmp0(json_object_get_string_member(n, "drv"), "file") == 0 &&
            g_strcmp0(json_object_get_string_member(n, "file"), counterImg) != 0)
            g_ptr_array_add(files, g_strdup(json_object_get_string_member(n, "file")));
    }
    g_ptr_array_sort(files, testStrPtrCmp);
    for (guint i = 0; i < files->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", (char *)g_ptr_array_index(files, i));
    return g_string_free(s, FALSE);
}

/* The destination's live chain is the full chain, as QEMU opened it there. */
static void
testAssertChain(const Host *h)
{
    g_autofree char *chain = testLiveChain(h);
    g_autofree char *qemu = testQemuFiles(h);
    g_auto(GStrv) v = g_strsplit(chain, " ", -1);
    g_autofree char *sorted = NULL;

    qsort(v, g_strv_length(v), sizeof(char *), testStrPtrCmp);
    sorted = g_strjoinv(" ", v);
    g_assert_cmpuint(g_strv_length(v), ==, 3);
    g_assert_cmpstr(sorted, ==, qemu);
}

static char *
testDomainXMLCache(const char *kernel, const char *initrd, const char *top, const char *cache)
{
    return g_strdup_printf("<domain type='qemu'>\n"
                           "  <name>" VM "</name>\n"
                           "  <uuid>" VM_UUID "</uuid>\n"
                           "  <memory unit='MiB'>128</memory>\n"
                           "  <vcpu>1</vcpu>\n"
                           "  <os><type arch='x86_64' machine='pc'>hvm</type>\n"
                           "    <kernel>%s</kernel><initrd>%s</initrd>\n"
                           "    <cmdline>console=ttyS0 panic=-1 quiet</cmdline></os>\n"
                           "  <devices>\n"
                           "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                           "    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='qcow2' cache='%s'/>\n"
                           "      <source file='%s'/>\n"
                           "      <target dev='vda' bus='virtio'/>\n"
                           "    </disk>\n"
                           "    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='raw' cache='none'/>\n"
                           "      <source file='%s'/>\n"
                           "      <target dev='vdb' bus='virtio'/>\n"
                           "      <shareable/>\n"
                           "    </disk>\n"
                           "  </devices>\n"
                           "</domain>\n",
                           kernel, initrd, cache, top, counterImg);
}

static char *
testDomainXML(const char *kernel, const char *initrd, const char *top)
{
    return testDomainXMLCache(kernel, initrd, top, "none");
}

typedef struct {
    const Host *src;
    const char *const *args;
    VirshResult res;
} MigrateRun;

static gpointer
testMigrateThread(gpointer data)
{
    MigrateRun *run = data;

    virshArgvUri(&run->res, run->src->uri, run->args);
    return NULL;
}

static void
testImgRun(const char *const *argv)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("%s failed: %s%s", argv[0], out, err);
}

static void
hostKill(Host *h)
{
    int status;

    g_assert_cmpint(kill(h->pid, SIGKILL), ==, 0);
    g_assert_cmpint(waitpid(h->pid, &status, 0), ==, h->pid);
    h->pid = 0;
}

/* Wait until H's domjobinfo shows the outgoing migration with WHAT in it. */
static void
testWaitJob(const Host *h, const char *what)
{
    for (guint i = 0; i < 1200; i++) {
        g_auto(VirshResult) r = {0};
        const char *args[] = {"domjobinfo", VM, NULL};

        virshArgvUri(&r, h->uri, args);
        if (r.rc == 0 && strstr(r.out, "Outgoing migration") && strstr(r.out, what))
            return;
        g_usleep(50 * 1000);
    }
    g_error("no migration job with '%s' on the source", what);
}

/* The domain runs on A as before: the guest counts, the chain is the one it had (CHAIN),
 * QEMU has it open and no migration node is left. */
static void
testAssertSurvived(const char *chain)
{
    g_autofree char *state = testState(&hostA);
    g_autofree char *live = NULL;
    g_autofree char *nodes = NULL;
    guint64 before;

    g_assert_cmpstr(state, ==, "running");
    before = testCounter();
    g_assert_true(testCounterPasses(before + 5, 60));
    live = testLiveChain(&hostA);
    g_assert_cmpstr(live, ==, chain);
    testAssertChain(&hostA);
    nodes =
        VIRSH_HOST_OK(&hostA, "qemu-monitor-command", VM,
                      "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}");
    g_assert_null(strstr(nodes, "migration-"));
    g_clear_pointer(&nodes, g_free);
    nodes = VIRSH_HOST_OK(&hostA, "qemu-monitor-command", VM, "{\"execute\":\"query-block-jobs\"}");
    g_assert_null(strstr(nodes, "migration-"));
}

/* Once per program: a private mount namespace (as root, for the tmpfs a case mounts), the
 * daemon environment under /var/tmp/PREFIX-*, the zeroed counter disk and the guest. */
static void
migrateTestSetup(const char *prefix)
{
    g_autofree char *modules = NULL;
    g_autofree char *zeros = g_malloc0(1024 * 1024);
    g_autofree char *base = NULL;
    g_autofree char *mid = NULL;

    if (getuid() == 0) {
        g_assert_cmpint(unshare(CLONE_NEWNS), ==, 0);
        g_assert_cmpint(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), ==, 0);
    }
    daemonEnvInit(prefix);
    counterImg = daemonImagePath("counter.raw");
    g_assert_true(g_file_set_contents(counterImg, zeros, 1024 * 1024, NULL));
    if (!testGuestKernel(&guestKernel, &modules) ||
        !g_file_test("/bin/busybox", G_FILE_TEST_EXISTS))
        g_error("needs a Debian kernel in /boot (linux-image-cloud-amd64) and busybox-static "
                "(bash run.sh installs both)");
    guestInitrd = g_build_filename(daemonEnv.root, "guest-initrd.cpio", NULL);
    g_assert_true(testGuestInitrdFull(modules, guestInitrd, MIGRATE_GUEST_INIT, NULL));
    /* the guest's three-layer chain: base <- mid <- top (topImg) */
    base = daemonImagePath("base.qcow2");
    mid = daemonImagePath("mid.qcow2");
    topImg = daemonImagePath("top.qcow2");
    daemonMakeQcow2(base, NULL);
    daemonMakeQcow2(mid, base);
    daemonMakeQcow2(topImg, mid);
}
