/*
 * virshtest.c: the real virsh against the build tree's qvirtd.
 *
 * One daemon in a temporary --root serves the whole program; the test cases run
 * in order and build on each other: define, list, start a domain on a 3-layer
 * qcow2 chain with cache none, look at it (dumpxml with the chain and its indexes,
 * domblklist, domstate, dominfo, domxml-to-native), error cases, a daemon
 * restart with the domain running (no image opened again), QEMU killed with
 * SIGKILL, destroy, undefine. Whatever happens, the daemon and QEMU are killed.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <signal.h>

#include "daemontestutils.h"
#include "virshtestutils.h"

#define VM "vm1"
#define VM_UUID "c7a5fdbd-edaf-4455-926a-d65c16db1809"
#define TRANSIENT_UUID "c7a5fdbd-edaf-4455-926a-d65c16db1810"
#define RAM_UUID "c7a5fdbd-edaf-4455-926a-d65c16db1811"
#define SHM_UUID "c7a5fdbd-edaf-4455-926a-d65c16db1812"
#define SLOW_UUID "c7a5fdbd-edaf-4455-926a-d65c16db1813"
#define VERBS_UUID "c7a5fdbd-edaf-4455-926a-d65c16db1814"
#define VERBS "vm-verbs"
#define GUEST_UUID "c7a5fdbd-edaf-4455-926a-d65c16db1815"
#define GUEST "vm-guest"

static char *topImage;
static char *vmXMLPath;

static void
assertContains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        g_error("expected '%s' in:\n%s", needle, haystack);
}

static void
assertLacks(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle))
        g_error("did not expect '%s' in:\n%s", needle, haystack);
}

static char *
domstate(const char *name)
{
    g_auto(VirshResult) r = {0};

    VIRSH_RES_OK(&r, "domstate", name);
    return g_strdup(g_strstrip(r.out));
}

static void
assertState(const char *name, const char *state)
{
    g_autofree char *got = domstate(name);

    g_assert_cmpstr(got, ==, state);
}

/* ---- the cases ------------------------------------------------------------------ */

static void
testDefineList(void)
{
    g_autofree char *xml = NULL;
    g_auto(VirshResult) def = {0};
    g_auto(VirshResult) list = {0};
    g_auto(VirshResult) uuid = {0};
    g_autofree char *defFile = g_build_filename(daemonEnv.root, "etc", "qemu", VM ".xml", NULL);

    topImage = daemonMakeChain(daemonEnv.images, "vm1");
    xml = daemonDomainXML(VM, VM_UUID, topImage, "none");
    vmXMLPath = daemonWriteFile(VM ".xml", xml);

    VIRSH_RES_OK(&def, "define", vmXMLPath);
    assertContains(def.out, "Domain '" VM "' defined from");
    g_assert_true(g_file_test(defFile, G_FILE_TEST_EXISTS));

    VIRSH_RES_OK(&list, "list", "--all");
    assertContains(list.out, VM);
    assertContains(list.out, "shut off");
    assertState(VM, "shut off");

    VIRSH_RES_OK(&uuid, "domuuid", VM);
    assertContains(uuid.out, VM_UUID);
}

static void
testStart(void)
{
    g_auto(VirshResult) start = {0};
    g_auto(VirshResult) list = {0};
    g_auto(VirshResult) id = {0};
    pid_t pid;

    VIRSH_RES_OK(&start, "start", VM);
    assertContains(start.out, "Domain '" VM "' started");
    assertState(VM, "running");
    pid = daemonDomainPid(VM);
    g_assert_cmpint(pid, >, 0);
    g_assert_true(daemonProcessAlive(pid));

    VIRSH_RES_OK(&list, "list");
    assertContains(list.out, VM);
    assertContains(list.out, "running");

    /* The domain answers to its id too. */
    VIRSH_RES_OK(&id, "domid", VM);
    g_assert_cmpint(atoi(id.out), >, 0);
}

static void
assertLiveChain(const char *xml)
{
    g_autofree char *mid = daemonImagePath("vm1-mid.qcow2");
    g_autofree char *base = daemonImagePath("vm1-base.qcow2");
    g_autofree char *midSrc = g_strdup_printf("<source file='%s'", mid);
    g_autofree char *baseSrc = g_strdup_printf("<source file='%s'", base);
    const char *pMid, *pBase, *pEnd;

    assertContains(xml, topImage);
    pMid = strstr(xml, midSrc);
    pBase = strstr(xml, baseSrc);
    g_assert_nonnull(pMid);
    g_assert_nonnull(pBase);
    g_assert_true(pMid < pBase);
    assertContains(xml, "<backingStore type='file' index='2'>");
    assertContains(xml, "<backingStore type='file' index='3'>");
    /* The chain is known to end: an empty element after the base. */
    pEnd = strstr(pBase, "<backingStore/>");
    g_assert_nonnull(pEnd);
}

static void
testDumpxml(void)
{
    g_auto(VirshResult) live = {0};
    g_auto(VirshResult) inactive = {0};

    VIRSH_RES_OK(&live, "dumpxml", VM);
    assertContains(live.out, "cache='none'");
    assertLiveChain(live.out);
    /* libvirt 9.0 under TCG: the default qemu64 as QEMU 7.2 built it (libvirt's CPU map) */
    assertContains(live.out, "<cpu mode='custom' match='exact' check='full'>\n"
                             "    <model fallback='forbid'>qemu64</model>\n"
                             "    <feature policy='require' name='hypervisor'/>\n"
                             "    <feature policy='require' name='lahf_lm'/>\n"
                             "  </cpu>\n");

    VIRSH_RES_OK(&inactive, "dumpxml", "--inactive", VM);
    assertContains(inactive.out, topImage);
    assertLacks(inactive.out, "vm1-mid.qcow2");
    assertLacks(inactive.out, "qcow2' index=");
    /* what define stored: the canonical machine, default boot, CPU and devices */
    assertContains(inactive.out, "machine='pc-");
    assertContains(inactive.out, "<boot dev='hd'/>");
    assertContains(inactive.out, "<cpu mode='custom' match='exact' check='none'>\n"
                                 "    <model fallback='forbid'>qemu64</model>\n"
                                 "  </cpu>\n");
    assertContains(inactive.out, "<input type='mouse' bus='ps2'/>");
    assertContains(inactive.out, "<audio id='1' type='none'/>");
    assertLacks(inactive.out, "<feature policy=");
}

static void
testDomblklistDominfo(void)
{
    g_auto(VirshResult) blk = {0};
    g_auto(VirshResult) info = {0};
    g_autofree char *line = g_strdup_printf("vda      %s", topImage);

    VIRSH_RES_OK(&blk, "domblklist", VM);
    assertContains(blk.out, line);

    VIRSH_RES_OK(&info, "dominfo", VM);
    assertContains(info.out, "Name:           " VM);
    assertContains(info.out, "UUID:           " VM_UUID);
    assertContains(info.out, "OS Type:        hvm");
    assertContains(info.out, "State:          running");
    assertContains(info.out, "CPU(s):         1");
    assertContains(info.out, "Max memory:     65536 KiB");
    assertContains(info.out, "Persistent:     yes");
    assertContains(info.out, "Autostart:      disable");
    assertContains(info.out, "Managed save:   no");
    g_assert_cmpstr(info.err, ==, "");

    {
        g_auto(VirshResult) vcpus = {0};

        VIRSH_RES_OK(&vcpus, "vcpucount", VM);
        assertContains(vcpus.out, "maximum      config         1");
        assertContains(vcpus.out, "current      live           1");
    }
    {
        g_auto(VirshResult) node = {0};

        VIRSH_RES_OK(&node, "nodeinfo");
        assertContains(node.out, "CPU model:           x86_64");
        assertContains(node.out, "NUMA cell(s):        1");
    }
}

static void
testDomxmlToNative(void)
{
    g_auto(VirshResult) r = {0};
    g_autofree char *top = g_strdup_printf("\"filename\":\"%s\"", topImage);

    /* As libvirt, from the XML alone: the top image with its cache settings. */
    VIRSH_RES_OK(&r, "domxml-to-native", "qemu-argv", vmXMLPath);
    assertContains(r.out, "/usr/bin/qemu-system-x86_64 -name guest=vm1");
    assertContains(r.out, "-blockdev '{");
    assertContains(r.out, top);
    assertContains(r.out, "\"cache\":{\"direct\":true,\"no-flush\":false}");
    assertContains(r.out, "\"driver\":\"virtio-blk-pci\"");
    assertContains(r.out, "\"write-cache\":\"on\"");
}

static void
testErrors(void)
{
    g_autofree char *garbage = daemonWriteFile("garbage.xml", "<domain type='qemu'><name>x</na");
    g_autofree char *fastXML = daemonDomainXML("fast", TRANSIENT_UUID, topImage, "fast");
    g_autofree char *fast = daemonWriteFile("fast.xml", fastXML);
    g_auto(VirshResult) r1 = {0};
    g_auto(VirshResult) r2 = {0};
    g_auto(VirshResult) r3 = {0};
    g_auto(VirshResult) r4 = {0};
    g_auto(VirshResult) r5 = {0};
    g_auto(VirshResult) r6 = {0};

    VIRSH(&r1, "domstate", "nosuch");
    g_assert_cmpint(r1.rc, ==, 1);
    assertContains(r1.err, "error: failed to get domain 'nosuch'");

    VIRSH(&r2, "dumpxml", "--domain", "c7a5fdbd-0000-4455-926a-d65c16db1809");
    g_assert_cmpint(r2.rc, ==, 1);
    assertContains(r2.err, "error: failed to get domain");

    VIRSH(&r3, "define", garbage);
    g_assert_cmpint(r3.rc, ==, 1);
    assertContains(r3.err, "error: Failed to define domain from");

    VIRSH(&r4, "define", fast);
    g_assert_cmpint(r4.rc, ==, 1);
    assertContains(r4.err, "'fast'");
    assertContains(r4.err, "cache");

    /* virsh asks IS_ACTIVE before starting, as with libvirt. */
    VIRSH(&r5, "start", VM);
    g_assert_cmpint(r5.rc, ==, 1);
    assertContains(r5.err, "error: Domain is already active");

    /* An unknown command for qvirt's driver reaches the daemon and gets NO_SUPPORT. */
    VIRSH(&r6, "domif-setlink", VM, "vnet0", "down");
    g_assert_cmpint(r6.rc, ==, 1);
    assertContains(r6.err, "error:");
    g_assert_true(daemonProcessAlive(daemonEnv.pid));
}

/* cache none on a filesystem without O_DIRECT fails before QEMU starts, naming
 * the disk, the file and the filesystem. ramfs lacks O_DIRECT on every kernel;
 * tmpfs gained it in Linux 6.6. */
static void
testDirectIOUnsupported(void)
{
    g_autofree char *ramfs = daemonMountRamfs();
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *path = NULL;
    g_autofree char *status = NULL;
    g_auto(VirshResult) def = {0};
    g_auto(VirshResult) start = {0};
    g_auto(VirshResult) undef = {0};

    if (!ramfs) {
        g_test_skip("cannot mount a ramfs here (needs CAP_SYS_ADMIN)");
        return;
    }
    top = daemonMakeChain(ramfs, "ram");
    xml = daemonDomainXML("vmram", RAM_UUID, top, "none");
    path = daemonWriteFile("vmram.xml", xml);
    VIRSH_RES_OK(&def, "define", path);

    VIRSH(&start, "start", "vmram");
    g_assert_cmpint(start.rc, ==, 1);
    assertContains(start.err, "disk 'vda'");
    assertContains(start.err, "ramfs");
    assertContains(start.err, "O_DIRECT");
    assertContains(start.err, ramfs);
    assertState("vmram", "shut off");
    status = g_build_filename(daemonEnv.root, "run", "qemu", "vmram.xml", NULL);
    g_assert_false(g_file_test(status, G_FILE_TEST_EXISTS));

    VIRSH_RES_OK(&undef, "undefine", "vmram");
}

/* A QEMU that takes seconds to come up (an emulator wrapper that sleeps before
 * exec'ing the real one) holds only its own domain: other clients are answered
 * while `virsh start` is still waiting, and so are that virsh's keepalive PINGs. */
static void
testSlowQemuNoStall(void)
{
    g_autofree char *wrapper = g_build_filename(daemonEnv.root, "slow-qemu", NULL);
    g_autofree char *marker = g_build_filename(daemonEnv.root, "slow-qemu.on", NULL);
    g_autofree char *script = g_strdup_printf("#!/bin/sh\n"
                                              "[ -e '%s' ] && sleep 4\n"
                                              "exec /usr/bin/qemu-system-x86_64 \"$@\"\n",
                                              marker);
    g_autofree char *top = daemonMakeChain(daemonEnv.images, "slow");
    g_autofree char *xml = NULL;
    g_autofree char *path = NULL;
    g_autofree char *emulator = NULL;
    /* A PING after every idle second, and the connection is dropped after two go
     * unanswered (about 3 s): the 4 s start only succeeds if the daemon answers
     * PINGs while the call is pending. */
    const char *startArgv[] = {"virsh", "-k",          "1",     "-K",     "2",
                               "-c",    daemonEnv.uri, "start", "vmslow", NULL};
    g_auto(VirshResult) def = {0};
    g_auto(VirshResult) destroy = {0};
    g_auto(VirshResult) undef = {0};
    g_autoptr(GError) err = NULL;
    GPid startPid;
    gint64 t0;
    int status;

    g_assert_true(g_file_set_contents(wrapper, script, -1, NULL));
    g_assert_cmpint(g_chmod(wrapper, 0755), ==, 0);
    xml = daemonDomainXML("vmslow", SLOW_UUID, top, "none");
    emulator = g_strdup_printf("<emulator>%s</emulator>", wrapper);
    {
        /* Same domain, the wrapper as emulator. */
        g_autoptr(GString) str = g_string_new(xml);

        g_string_replace(str, "<emulator>/usr/bin/qemu-system-x86_64</emulator>", emulator, 1);
        path = daemonWriteFile("vmslow.xml", str->str);
    }
    VIRSH_RES_OK(&def, "define", path);
    g_assert_true(g_file_set_contents(marker, "", -1, NULL));

    if (!g_spawn_async(NULL, (char **)startArgv, NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                       NULL, NULL, &startPid, &err))
        g_error("cannot run virsh: %s", err->message);
    g_usleep(300 * 1000);

    t0 = g_get_monotonic_time();
    {
        g_auto(VirshResult) list = {0};
        g_autofree char *state = NULL;

        VIRSH_RES_OK(&list, "list", "--all");
        assertContains(list.out, "vmslow");
        state = domstate(VM);
        g_assert_nonnull(state);
    }
    g_test_message("list + domstate took %" G_GINT64_FORMAT " ms while vmslow started",
                   (g_get_monotonic_time() - t0) / 1000);
    /* Answered, and the start is still under way. */
    g_assert_cmpint(waitpid(startPid, &status, WNOHANG), ==, 0);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 2 * G_TIME_SPAN_SECOND);

    g_assert_cmpint(waitpid(startPid, &status, 0), ==, startPid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assertState("vmslow", "running");
    VIRSH_RES_OK(&destroy, "destroy", "vmslow");
    VIRSH_RES_OK(&undef, "undefine", "vmslow");
    g_unlink(marker);
}

/* Whether this kernel's tmpfs takes O_DIRECT (Linux >= 6.6) decides what cache
 * none on /dev/shm must do: start, or fail naming tmpfs. Either way the daemon
 * must agree with the kernel. */
static void
testDevShm(void)
{
    g_autofree char *dir = g_strdup("/dev/shm/qvirt-virshtest-XXXXXX");
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *path = NULL;
    g_auto(VirshResult) def = {0};
    g_auto(VirshResult) start = {0};
    g_auto(VirshResult) undef = {0};
    gboolean direct;
    int fd;

    if (!qvirTestMkdtemp(dir)) {
        g_test_skip("no /dev/shm");
        return;
    }
    top = daemonMakeChain(dir, "shm");
    fd = open(top, O_RDONLY | O_DIRECT);
    direct = fd >= 0;
    if (fd >= 0)
        close(fd);
    xml = daemonDomainXML("vmshm", SHM_UUID, top, "none");
    path = daemonWriteFile("vmshm.xml", xml);
    VIRSH_RES_OK(&def, "define", path);

    VIRSH(&start, "start", "vmshm");
    if (direct) {
        g_test_message("tmpfs supports O_DIRECT on this kernel: the domain must start");
        g_assert_cmpint(start.rc, ==, 0);
        assertState("vmshm", "running");
        {
            g_auto(VirshResult) destroy = {0};

            VIRSH_RES_OK(&destroy, "destroy", "vmshm");
        }
    } else {
        g_assert_cmpint(start.rc, ==, 1);
        assertContains(start.err, "tmpfs");
        assertContains(start.err, "O_DIRECT");
        assertState("vmshm", "shut off");
    }
    VIRSH_RES_OK(&undef, "undefine", "vmshm");
    qvirTestTempDirRemove(dir);
}

/* A second daemon on the same root is refused before it touches any domain. */
static void
testSecondDaemon(void)
{
    g_autofree char *qvirtd = qvirTestBuildPath("tools/qvirtd");
    const char *argv[] = {qvirtd, "--root", daemonEnv.root, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    pid_t pid = daemonDomainPid(VM);

    g_assert_cmpint(qvirTestRun(argv, &out, &err), ==, 1);
    assertContains(err, "another qvirtd is running");
    g_assert_true(daemonProcessAlive(daemonEnv.pid));
    g_assert_cmpint(daemonDomainPid(VM), ==, pid);
    assertState(VM, "running");
}

/* Restart with the domain running: QEMU survives, the new daemon finds it from
 * the status file, and the chain comes back without opening any image. */
static void
testDaemonRestart(void)
{
    pid_t pid = daemonDomainPid(VM);
    g_auto(VirshResult) xml = {0};
    g_autofree char *trace = NULL;
    g_autofree char *mid = daemonImagePath("vm1-mid.qcow2");
    g_autofree char *base = daemonImagePath("vm1-base.qcow2");

    g_assert_cmpint(pid, >, 0);
    daemonStop();
    g_assert_true(daemonProcessAlive(pid));

    daemonStart(TRUE);
    assertState(VM, "running");
    g_assert_cmpint(daemonDomainPid(VM), ==, pid);
    VIRSH_RES_OK(&xml, "dumpxml", VM);
    assertLiveChain(xml.out);

    daemonStop();
    g_assert_true(g_file_get_contents(daemonEnv.traceLog, &trace, NULL, NULL));
    /* strace saw the daemon work (it read its definitions)... */
    assertContains(trace, VM ".xml");
    /* ...but no image of the running domain was probed again. */
    assertLacks(trace, topImage);
    assertLacks(trace, mid);
    assertLacks(trace, base);
    g_assert_true(daemonProcessAlive(pid));
    daemonStart(FALSE);
}

static void
testQemuKilled(void)
{
    pid_t pid = daemonDomainPid(VM);
    g_autofree char *status = g_build_filename(daemonEnv.root, "run", "qemu", VM ".xml", NULL);
    g_auto(VirshResult) xml = {0};
    gint64 deadline;
    g_autofree char *state = NULL;

    g_assert_cmpint(pid, >, 0);
    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    deadline = g_get_monotonic_time() + 15 * G_TIME_SPAN_SECOND;
    while (g_get_monotonic_time() < deadline) {
        g_free(state);
        state = domstate(VM);
        if (g_str_equal(state, "shut off"))
            break;
        g_usleep(50000);
    }
    g_assert_cmpstr(state, ==, "shut off");
    g_assert_false(g_file_test(status, G_FILE_TEST_EXISTS));
    g_assert_false(daemonProcessAlive(pid));

    /* Back to the persistent definition: the cached chain is gone. */
    VIRSH_RES_OK(&xml, "dumpxml", VM);
    assertLacks(xml.out, "vm1-mid.qcow2");
    assertLacks(xml.out, "qcow2' index=");
}

static void
testTransient(void)
{
    g_autofree char *xml = daemonDomainXML("vmtrans", TRANSIENT_UUID, topImage, "writeback");
    g_autofree char *path = daemonWriteFile("vmtrans.xml", xml);
    g_auto(VirshResult) create = {0};
    g_auto(VirshResult) info = {0};
    g_auto(VirshResult) destroy = {0};
    g_auto(VirshResult) list = {0};

    /* The same images as vm1, which is stopped now. */
    VIRSH_RES_OK(&create, "create", path);
    assertContains(create.out, "Domain 'vmtrans' created from");
    VIRSH_RES_OK(&info, "dominfo", "vmtrans");
    assertContains(info.out, "Persistent:     no");
    assertContains(info.out, "State:          running");
    VIRSH_RES_OK(&destroy, "destroy", "vmtrans");
    VIRSH_RES_OK(&list, "list", "--all");
    assertLacks(list.out, "vmtrans");
}

/* `virsh event` running in the background; its output is read when it has ended. */
typedef struct {
    GPid pid;
    int outFd;
} VirshBackground;

static void
virshBackgroundStart(VirshBackground *bg, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "LC_ALL", "C", TRUE);

    g_ptr_array_add(argv, (char *)"virsh");
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, daemonEnv.uri);
    for (; *args; args++)
        g_ptr_array_add(argv, (char *)*args);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_async_with_pipes(NULL, (char **)argv->pdata, env,
                                  G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                      G_SPAWN_STDERR_TO_DEV_NULL,
                                  NULL, NULL, &bg->pid, NULL, &bg->outFd, NULL, &err))
        g_error("cannot run virsh: %s", err->message);
}

/* Read its output until it shows UNTIL (at most 10 s), then interrupt it as a user
 * would (SIGINT: virsh prints the number of events received) and return everything. */
static char *
virshBackgroundFinish(VirshBackground *bg, const char *until)
{
    GString *out = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    gboolean interrupted = FALSE;
    char buf[4096];
    int status;

    for (;;) {
        struct pollfd pfd = {.fd = bg->outFd, .events = POLLIN};
        ssize_t n;

        if (!interrupted && (strstr(out->str, until) || g_get_monotonic_time() > deadline)) {
            kill(bg->pid, SIGINT);
            interrupted = TRUE;
        }
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        if ((n = read(bg->outFd, buf, sizeof(buf))) <= 0)
            break;
        g_string_append_len(out, buf, n);
    }
    close(bg->outFd);
    if (waitpid(bg->pid, &status, 0) < 0)
        g_error("waitpid: %s", g_strerror(errno));
    g_spawn_close_pid(bg->pid);
    return g_string_free(out, FALSE);
}

/* STR with the first FROM replaced by TO (FROM must occur). */
static char *
replaceOnce(const char *str, const char *from, const char *to)
{
    const char *at = strstr(str, from);

    g_assert_nonnull(at);
    return g_strdup_printf("%.*s%s%s", (int)(at - str), str, to, at + strlen(from));
}

/* The number after "vda KEY " in domblkstat output, -1 if absent. */
static long long
blkstatValue(const char *out, const char *key)
{
    g_autofree char *needle = g_strdup_printf("vda %s ", key);
    const char *p = strstr(out, needle);

    return p ? g_ascii_strtoll(p + strlen(needle), NULL, 10) : -1;
}

/*
 * The everyday verbs on a domain of its own: suspend/resume with states, reasons and
 * libvirt's errors, `virsh event` seeing them, domblkinfo (capacity = the image's virtual
 * size), domblkstat, domblkerror, blockresize, shutdown/reboot/reset.
 */
/* The host's online CPUs as libvirt formats them ("0-1"), the pinning of a vCPU
 * without <vcpu cpuset=>. */
static char *
hostOnlineCPUs(void)
{
    g_autofree char *online = NULL;

    g_assert_true(g_file_get_contents("/sys/devices/system/cpu/online", &online, NULL, NULL));
    return g_strdup(g_strstrip(online));
}

/* vcpuinfo and vcpupin of the running VERBS: the vCPU thread's host CPU and affinity. */
static void
testVcpuInfoRunning(void)
{
    g_autofree char *online = hostOnlineCPUs();
    g_autofree char *pinRow = g_strdup_printf(" 0      %s\n", online);
    g_auto(VirshResult) info = {0};
    g_auto(VirshResult) pin = {0};
    g_auto(VirshResult) map = {0};
    static const char script[] = "import libvirt, sys\n"
                                 "d = libvirt.open(sys.argv[1]).lookupByName(sys.argv[2])\n"
                                 "print(d.vcpus(), d.vcpuPinInfo(0))\n";
    const char *argv[] = {"/usr/bin/python3", "-c", script, daemonEnv.uri, VERBS, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    const char *cpu;
    const char *aff;

    VIRSH_RES_OK(&info, "vcpuinfo", VERBS);
    g_assert_true(g_str_has_prefix(info.out, "VCPU:           0\nCPU:            "));
    cpu = info.out + strlen("VCPU:           0\nCPU:            ");
    g_assert_true(g_ascii_isdigit(*cpu));
    g_assert_cmpint(g_ascii_strtoll(cpu, NULL, 10), <, (gint64)g_get_num_processors() + 64);
    assertContains(info.out, "State:          running\n");
    g_assert_nonnull((aff = strstr(info.out, "CPU Affinity:   ")));
    aff += strlen("CPU Affinity:   ");
    g_assert_cmpuint(strspn(aff, "y-"), >, 0);
    g_assert_nonnull(memchr(aff, 'y', strspn(aff, "y-")));

    /* python3-libvirt sizes the maps by virNodeGetCPUMap */
    g_assert_cmpint(qvirTestRun(argv, &out, &err), ==, 0);
    g_assert_true(g_str_has_prefix(out, "([(0, 1, "));
    assertContains(out, "[(True");
    assertContains(out, "]) [(True");
    VIRSH_RES_OK(&map, "nodecpumap");
    assertContains(map.out, "CPUs present:   ");
    assertContains(map.out, "CPU map:        y");
    VIRSH_RES_OK(&pin, "vcpupin", VERBS);
    assertContains(pin.out, " VCPU   CPU Affinity\n");
    assertContains(pin.out, pinRow);
}

/* Shut off: virsh falls back to the pinning of the definition; virDomainGetVcpus itself
 * refuses with libvirt's message (python3-libvirt shows it). */
static void
testVcpuInfoInactive(void)
{
    static const char script[] = "import libvirt, sys\n"
                                 "c = libvirt.open(sys.argv[1])\n"
                                 "d = c.lookupByName(sys.argv[2])\n"
                                 "for call in (lambda: d.vcpus(),\n"
                                 "             lambda: d.vcpuPinInfo(1)):\n"
                                 "    try:\n"
                                 "        call()\n"
                                 "    except libvirt.libvirtError as e:\n"
                                 "        print(e.get_error_code(), e)\n";
    const char *argv[] = {"/usr/bin/python3", "-c", script, daemonEnv.uri, VERBS, NULL};
    g_autofree char *online = hostOnlineCPUs();
    g_autofree char *pinRow = g_strdup_printf(" 0      %s\n", online);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_auto(VirshResult) info = {0};
    g_auto(VirshResult) pin = {0};

    VIRSH_RES_OK(&info, "vcpuinfo", VERBS);
    assertContains(info.out, "VCPU:           0\nCPU:            N/A\nState:          N/A\n");
    VIRSH_RES_OK(&pin, "vcpupin", VERBS);
    assertContains(pin.out, pinRow);
    g_assert_cmpint(qvirTestRun(argv, &out, &err), ==, 0);
    /* VIR_ERR_OPERATION_INVALID */
    assertContains(out, "55 Requested operation is not valid: cannot retrieve vcpu information "
                        "for inactive domain\n"
                        "55 Requested operation is not valid: domain is not running\n");
}

static void
testVerbs(void)
{
    g_autofree char *top = daemonMakeChain(daemonEnv.images, "verbs");
    g_autofree char *plain = daemonDomainXML(VERBS, VERBS_UUID, top, "none");
    g_autofree char *xml = replaceOnce(plain, "<name>" VERBS "</name>",
                                       "<name>" VERBS "</name><title>Verbs VM</title>"
                                       "<description>disk verbs</description>");
    g_autofree char *path = daemonWriteFile(VERBS ".xml", xml);
    g_autofree char *events = NULL;
    VirshBackground bg;
    gint64 deadline;

    {
        g_auto(VirshResult) r = {0};
        g_auto(VirshResult) info = {0};
        g_auto(VirshResult) susp = {0};

        VIRSH_RES_OK(&r, "define", path);
        /* Inactive: from the image itself (16 MiB virtual, daemonMakeQcow2). */
        VIRSH_RES_OK(&info, "domblkinfo", VERBS, "vda");
        assertContains(info.out, "Capacity:       16777216");
        VIRSH(&susp, "suspend", VERBS);
        g_assert_cmpint(susp.rc, ==, 1);
        assertContains(susp.err, "Requested operation is not valid: domain is not running");
    }

    virshBackgroundStart(&bg,
                         (const char *const[]){"event", "--domain", VERBS, "--event", "lifecycle",
                                               "--loop", "--timeout", "30", NULL});
    /* virsh registers right after connecting; give it that moment. */
    g_usleep(1500 * 1000);
    {
        g_auto(VirshResult) start = {0};
        g_auto(VirshResult) susp = {0};
        g_auto(VirshResult) res = {0};
        g_auto(VirshResult) again = {0};
        g_auto(VirshResult) reason = {0};

        VIRSH_RES_OK(&start, "start", VERBS);
        VIRSH_RES_OK(&susp, "suspend", VERBS);
        assertContains(susp.out, "Domain '" VERBS "' suspended");
        VIRSH_RES_OK(&reason, "domstate", "--reason", VERBS);
        assertContains(reason.out, "paused (user)");
        VIRSH_RES_OK(&res, "resume", VERBS);
        assertContains(res.out, "Domain '" VERBS "' resumed");
        VIRSH(&again, "resume", VERBS);
        g_assert_cmpint(again.rc, ==, 1);
        assertContains(again.err, "Requested operation is not valid: domain is already running");
    }
    {
        g_auto(VirshResult) reason = {0};

        VIRSH_RES_OK(&reason, "domstate", "--reason", VERBS);
        assertContains(reason.out, "running (unpaused)");
    }
    events = virshBackgroundFinish(&bg, "Resumed Unpaused");
    assertContains(events, "event 'lifecycle' for domain '" VERBS "': Started Booted");
    assertContains(events, "event 'lifecycle' for domain '" VERBS "': Suspended Paused");
    assertContains(events, "event 'lifecycle' for domain '" VERBS "': Resumed Unpaused");
    assertContains(events, "events received: 3");

    {
        g_auto(VirshResult) info = {0};
        g_auto(VirshResult) byPath = {0};
        g_auto(VirshResult) all = {0};
        g_auto(VirshResult) bad = {0};

        VIRSH_RES_OK(&info, "domblkinfo", VERBS, "vda");
        assertContains(info.out, "Capacity:       16777216");
        assertContains(info.out, "Allocation:");
        VIRSH_RES_OK(&byPath, "domblkinfo", VERBS, top);
        assertContains(byPath.out, "Capacity:       16777216");
        VIRSH_RES_OK(&all, "domblkinfo", VERBS, "--all");
        assertContains(all.out, " vda      16777216");
        VIRSH(&bad, "domblkinfo", VERBS, "vdz");
        g_assert_cmpint(bad.rc, ==, 1);
        assertContains(bad.err, "invalid argument: invalid path vdz not assigned to domain");
    }

    /* SeaBIOS reads the boot sector: the read counters grow without a guest OS. */
    deadline = g_get_monotonic_time() + 20 * G_TIME_SPAN_SECOND;
    for (;;) {
        g_auto(VirshResult) st = {0};

        VIRSH_RES_OK(&st, "domblkstat", VERBS, "vda");
        g_assert_cmpint(blkstatValue(st.out, "flush_operations"), >=, 0);
        g_assert_cmpint(blkstatValue(st.out, "wr_req"), >=, 0);
        g_assert_cmpint(blkstatValue(st.out, "rd_total_times"), >=, 0);
        if (blkstatValue(st.out, "rd_req") >= 1) {
            g_assert_cmpint(blkstatValue(st.out, "rd_bytes"), >=, 512);
            break;
        }
        if (g_get_monotonic_time() > deadline)
            g_error("rd_req never grew:\n%s", st.out);
        g_usleep(200 * 1000);
    }
    {
        g_auto(VirshResult) bad = {0};
        g_auto(VirshResult) err = {0};
        g_auto(VirshResult) resize = {0};
        g_auto(VirshResult) info = {0};

        g_auto(VirshResult) stats = {0};
        g_auto(VirshResult) statsAll = {0};
        g_autofree char *pathStat = g_strdup_printf("block.0.path=%s", top);

        VIRSH_RES_OK(&stats, "domstats", "--state", "--block", VERBS);
        assertContains(stats.out, "state.state=1");
        assertContains(stats.out, "block.count=1");
        assertContains(stats.out, "block.0.name=vda");
        assertContains(stats.out, pathStat);
        assertContains(stats.out, "block.0.capacity=16777216");
        assertContains(stats.out, "block.0.fl.reqs=");
        g_assert_nonnull(strstr(stats.out, "block.0.rd.reqs="));
        g_assert_cmpint(g_ascii_strtoll(strstr(stats.out, "block.0.rd.reqs=") + 16, NULL, 10), >=,
                        1);
        VIRSH_RES_OK(&statsAll, "domstats");
        assertContains(statsAll.out, "Domain: '" VERBS "'");
        assertContains(statsAll.out, "vcpu.current=1");
        assertContains(statsAll.out, "balloon.maximum=65536");

        VIRSH(&bad, "domblkstat", VERBS, "vdz");
        g_assert_cmpint(bad.rc, ==, 1);
        assertContains(bad.err, "invalid argument: invalid path: vdz");
        VIRSH_RES_OK(&err, "domblkerror", VERBS);
        assertContains(err.out, "No errors found");
        VIRSH_RES_OK(&resize, "blockresize", VERBS, "vda", "32M");
        assertContains(resize.out, "Block device 'vda' is resized");
        VIRSH_RES_OK(&info, "domblkinfo", VERBS, "vda");
        assertContains(info.out, "Capacity:       33554432");
    }
    {
        g_auto(VirshResult) down = {0};
        g_auto(VirshResult) reboot = {0};
        g_auto(VirshResult) reset = {0};

        /* No guest OS answers the ACPI button: the domain runs on, as with libvirt. */
        VIRSH_RES_OK(&down, "shutdown", VERBS);
        assertContains(down.out, "Domain '" VERBS "' is being shutdown");
        VIRSH_RES_OK(&reboot, "reboot", VERBS);
        assertContains(reboot.out, "Domain '" VERBS "' is being rebooted");
        VIRSH_RES_OK(&reset, "reset", VERBS);
        assertContains(reset.out, "Domain '" VERBS "' was reset");
        assertState(VERBS, "running");
    }
    {
        g_auto(VirshResult) control = {0};
        g_auto(VirshResult) job = {0};
        g_auto(VirshResult) mem = {0};
        g_auto(VirshResult) destroy = {0};
        g_auto(VirshResult) undef = {0};
        g_auto(VirshResult) after = {0};
        const char *rss;

        g_auto(VirshResult) maxv = {0};
        g_auto(VirshResult) freecell = {0};

        g_auto(VirshResult) domcaps = {0};
        g_autofree char *capsMax = NULL;

        /* virsh 9.0 takes the limit from the domain capabilities (<vcpu max=>) */
        VIRSH_RES_OK(&maxv, "maxvcpus");
        VIRSH_RES_OK(&domcaps, "domcapabilities");
        assertContains(domcaps.out, "<vcpu max='");
        capsMax = g_strndup(strstr(domcaps.out, "<vcpu max='") + 11,
                            strcspn(strstr(domcaps.out, "<vcpu max='") + 11, "'"));
        g_assert_cmpstr(g_strstrip(maxv.out), ==, capsMax);
        VIRSH_RES_OK(&freecell, "freecell");
        assertContains(freecell.out, "Total: ");
        g_assert_cmpint(g_ascii_strtoll(strstr(freecell.out, "Total: ") + 7, NULL, 10), >, 0);
        g_auto(VirshResult) desc = {0};
        g_auto(VirshResult) title = {0};
        g_auto(VirshResult) list = {0};

        VIRSH_RES_OK(&desc, "desc", VERBS);
        g_assert_cmpstr(g_strstrip(desc.out), ==, "disk verbs");
        VIRSH_RES_OK(&title, "desc", "--title", VERBS);
        g_assert_cmpstr(g_strstrip(title.out), ==, "Verbs VM");
        VIRSH_RES_OK(&list, "list", "--title");
        assertContains(list.out, "running   Verbs VM");
        VIRSH_RES_OK(&control, "domcontrol", VERBS);
        g_assert_cmpstr(g_strstrip(control.out), ==, "ok");
        VIRSH_RES_OK(&job, "domjobinfo", VERBS);
        assertContains(job.out, "Job type:         None");
        VIRSH_RES_OK(&mem, "dommemstat", VERBS);
        /* libvirt's list with the balloon's polling period unset: actual, the balloon's
         * last_update (0: never polled), rss */
        g_assert_true(g_str_has_prefix(mem.out, "actual 65536\nlast_update 0\nrss "));
        g_assert_nonnull((rss = strstr(mem.out, "rss ")));
        g_assert_cmpint(g_ascii_strtoll(rss + 4, NULL, 10), >, 1024);
        testVcpuInfoRunning();
        VIRSH_RES_OK(&destroy, "destroy", VERBS);
        VIRSH(&after, "domcontrol", VERBS);
        g_assert_cmpint(after.rc, ==, 1);
        assertContains(after.err, "Requested operation is not valid: domain is not running");
        VIRSH_FAILS("Requested operation is not valid: domain is not running", "dommemstat", VERBS);
        testVcpuInfoInactive();
        VIRSH_RES_OK(&undef, "undefine", VERBS);
    }
}

/* The newest /boot/vmlinuz-*, or NULL. */
static char *
findGuestKernel(void)
{
    g_autoptr(GDir) dir = g_dir_open("/boot", 0, NULL);
    g_autofree char *best = NULL;
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        if (g_str_has_prefix(name, "vmlinuz-") && (!best || strcmp(name, best) > 0)) {
            g_free(best);
            best = g_strdup(name);
        }
    }
    return best ? g_build_filename("/boot", best, NULL) : NULL;
}

/* An initramfs whose /init (busybox) powers the guest off as soon as it runs. */
static char *
makePoweroffInitrd(void)
{
    g_autofree char *dir = g_build_filename(daemonEnv.images, "initrd", NULL);
    g_autofree char *bin = g_build_filename(dir, "bin", NULL);
    g_autofree char *init = g_build_filename(dir, "init", NULL);
    g_autofree char *busybox = NULL;
    g_autofree char *script = NULL;
    g_autofree char *err = NULL;
    char *out = g_build_filename(daemonEnv.images, "poweroff.cpio", NULL);
    gsize len;

    if (!g_file_get_contents("/bin/busybox", &busybox, &len, NULL))
        return NULL;
    g_mkdir_with_parents(bin, 0755);
    {
        g_autofree char *dst = g_build_filename(bin, "busybox", NULL);

        if (!g_file_set_contents(dst, busybox, len, NULL) || chmod(dst, 0755) < 0)
            g_error("cannot write %s", dst);
    }
    if (!g_file_set_contents(init, "#!/bin/busybox sh\n/bin/busybox poweroff -f\n", -1, NULL) ||
        chmod(init, 0755) < 0)
        g_error("cannot write %s", init);
    script = g_strdup_printf("cd '%s' && find . | cpio -o -H newc --quiet > '%s'", dir, out);
    if (qvirTestRun((const char *const[]){"sh", "-c", script, NULL}, NULL, &err) != 0)
        g_error("cpio failed: %s", err);
    return out;
}

static int
domid(const char *name)
{
    g_auto(VirshResult) r = {0};

    /* An inactive domain's id is "-". */
    VIRSH(&r, "domid", name);
    return r.rc == 0 && g_ascii_isdigit(*g_strstrip(r.out)) ? atoi(r.out) : -1;
}

/*
 * virsh reboot with a real guest (Debian's kernel, a busybox /init that powers off):
 * libvirt restarts the guest after it powers off; here a new QEMU is started (new id),
 * whose own power-off then ends the domain as usual. Events: started, shutdown (guest),
 * stopped, started, shutdown (guest), stopped.
 */
static void
testRebootGuest(void)
{
    g_autofree char *kernel = findGuestKernel();
    g_autofree char *cpio = g_find_program_in_path("cpio");
    g_autofree char *initrd = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *path = NULL;
    g_autofree char *events = NULL;
    VirshBackground bg;
    gint64 deadline;
    int id1, id2 = -1;

    if (!kernel || !g_file_test("/bin/busybox", G_FILE_TEST_EXISTS) || !cpio) {
        g_test_skip("needs /boot/vmlinuz-*, /bin/busybox (busybox-static) and cpio");
        return;
    }
    initrd = makePoweroffInitrd();
    g_assert_nonnull(initrd);
    xml = g_strdup_printf("<domain type='qemu'><name>" GUEST "</name><uuid>" GUEST_UUID "</uuid>"
                          "<memory unit='MiB'>192</memory><vcpu>1</vcpu>"
                          "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel>"
                          "<initrd>%s</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline>"
                          "</os><features><acpi/></features><devices>"
                          "<emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>",
                          kernel, initrd);
    path = daemonWriteFile(GUEST ".xml", xml);
    {
        g_auto(VirshResult) def = {0};

        VIRSH_RES_OK(&def, "define", path);
    }
    virshBackgroundStart(&bg,
                         (const char *const[]){"event", "--domain", GUEST, "--event", "lifecycle",
                                               "--loop", "--timeout", "200", NULL});
    g_usleep(1500 * 1000);
    {
        g_auto(VirshResult) start = {0};
        g_auto(VirshResult) reboot = {0};

        VIRSH_RES_OK(&start, "start", GUEST);
        id1 = domid(GUEST);
        g_assert_cmpint(id1, >, 0);
        VIRSH_RES_OK(&reboot, "reboot", GUEST);
        assertContains(reboot.out, "Domain '" GUEST "' is being rebooted");
    }
    /* The guest powers off (after a TCG boot of some seconds): started again. */
    deadline = g_get_monotonic_time() + 90 * G_TIME_SPAN_SECOND;
    while ((id2 = domid(GUEST)) == id1 || id2 < 0) {
        if (g_get_monotonic_time() > deadline)
            g_error("domain was not restarted after the guest powered off (id %d)", id2);
        g_usleep(250 * 1000);
    }
    g_assert_cmpint(id2, >, id1);
    assertState(GUEST, "running");
    /* The second boot powers off too, with no reboot pending: the domain ends. */
    deadline = g_get_monotonic_time() + 90 * G_TIME_SPAN_SECOND;
    for (;;) {
        g_autofree char *state = domstate(GUEST);

        if (g_str_equal(state, "shut off"))
            break;
        if (g_get_monotonic_time() > deadline)
            g_error("guest never powered off the second time (%s)", state);
        g_usleep(250 * 1000);
    }
    {
        g_auto(VirshResult) reason = {0};
        g_auto(VirshResult) undef = {0};

        VIRSH_RES_OK(&reason, "domstate", "--reason", GUEST);
        assertContains(reason.out, "shut off (shutdown)");
        VIRSH_RES_OK(&undef, "undefine", GUEST);
    }
    events = virshBackgroundFinish(&bg, "Undefined Removed");
    {
        g_auto(GStrv) started = g_strsplit(events, "Started Booted", -1);
        g_auto(GStrv) stopped = g_strsplit(events, "Stopped Shutdown", -1);

        g_auto(GStrv) guest = g_strsplit(events, "Shutdown Finished after guest request", -1);

        /* libvirt's sequence for a guest power-off: shutdown (guest), then stopped; the
         * pause -no-shutdown leaves QEMU in is no "suspended". */
        if (g_strv_length(started) != 3 || g_strv_length(stopped) != 3 || g_strv_length(guest) != 3)
            g_error("expected two starts, two guest shutdowns and two stops:\n%s", events);
        assertLacks(events, "Suspended");
    }
}

/* libvirt's autostart: a link beside the definition, read-only connections refused, a
 * transient domain refused, the list filters, and the start by the first daemon of a
 * boot (a marker in the run directory) but not by a later one. */
static void
testAutostart(void)
{
    g_autofree char *link =
        g_build_filename(daemonEnv.root, "etc", "qemu", "autostart", VM ".xml", NULL);
    g_autofree char *marker = g_build_filename(daemonEnv.root, "run", "qemu", "autostarted", NULL);
    g_autofree char *roUri = g_strdup_printf("%s-ro", daemonEnv.uri);
    g_autofree char *xml = daemonDomainXML("vmtrans", TRANSIENT_UUID, topImage, "writeback");
    g_autofree char *path = daemonWriteFile("vmtrans.xml", xml);
    g_autofree char *target = NULL;
    g_auto(VirshResult) r = {0};
    pid_t pid;

    assertState(VM, "shut off");
    VIRSH_RES_OK(&r, "list", "--all", "--autostart", "--name");
    assertLacks(r.out, VM);

    virshArgvUri(&r, roUri, (const char *const[]){"autostart", VM, NULL});
    g_assert_cmpint(r.rc, ==, 1);
    assertContains(r.err, "error: operation forbidden: read only access prevents "
                          "virDomainSetAutostart");

    VIRSH_RES_OK(&r, "autostart", VM);
    assertContains(r.out, "Domain '" VM "' marked as autostarted");
    target = g_file_read_link(link, NULL);
    g_assert_nonnull(target);
    g_assert_true(g_str_has_suffix(target, "/etc/qemu/" VM ".xml"));
    VIRSH_RES_OK(&r, "dominfo", VM);
    assertContains(r.out, "Autostart:      enable");
    /* libvirt without SELinux or AppArmor: the "none" model, no label */
    assertContains(r.out, "Security model: none\nSecurity DOI:   0\n");
    assertLacks(r.out, "Security label:");
    VIRSH_RES_OK(&r, "list", "--all", "--autostart", "--name");
    assertContains(r.out, VM);
    VIRSH_RES_OK(&r, "list", "--all", "--no-autostart", "--name");
    assertLacks(r.out, VM);

    VIRSH_RES_OK(&r, "create", path);
    VIRSH(&r, "autostart", "vmtrans");
    g_assert_cmpint(r.rc, ==, 1);
    assertContains(r.err, "error: Requested operation is not valid: cannot set autostart for "
                          "transient domain");
    VIRSH_RES_OK(&r, "destroy", "vmtrans");

    /* A later daemon of the same boot reconnects and starts nothing. */
    daemonStop();
    daemonStart(FALSE);
    assertState(VM, "shut off");
    VIRSH_RES_OK(&r, "dominfo", VM);
    assertContains(r.out, "Autostart:      enable");

    /* The first daemon after a reboot (the run directory is empty) starts it. */
    daemonStop();
    g_assert_true(g_file_test(marker, G_FILE_TEST_EXISTS));
    g_assert_cmpint(g_unlink(marker), ==, 0);
    daemonStart(FALSE);
    assertState(VM, "running");

    /* Still running at the next "boot" (QEMU outlived the daemon): reconnected, not
     * started a second time. */
    pid = daemonDomainPid(VM);
    g_assert_cmpint(pid, >, 0);
    daemonStop();
    g_assert_cmpint(g_unlink(marker), ==, 0);
    daemonStart(FALSE);
    assertState(VM, "running");
    g_assert_cmpint(daemonDomainPid(VM), ==, pid);

    VIRSH_RES_OK(&r, "autostart", "--disable", VM);
    assertContains(r.out, "Domain '" VM "' unmarked as autostarted");
    g_assert_false(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
    VIRSH_RES_OK(&r, "dominfo", VM);
    assertContains(r.out, "Autostart:      disable");
    VIRSH_RES_OK(&r, "destroy", VM);
    /* Enabled again: undefine removes the link (testDestroyUndefine). */
    VIRSH_RES_OK(&r, "autostart", VM);
}

static void
testDestroyUndefine(void)
{
    g_autofree char *defFile = g_build_filename(daemonEnv.root, "etc", "qemu", VM ".xml", NULL);
    g_autofree char *link =
        g_build_filename(daemonEnv.root, "etc", "qemu", "autostart", VM ".xml", NULL);
    g_auto(VirshResult) start = {0};
    g_auto(VirshResult) destroy = {0};
    g_auto(VirshResult) again = {0};
    g_auto(VirshResult) undef = {0};
    g_auto(VirshResult) list = {0};
    g_auto(VirshResult) gone = {0};
    pid_t pid;

    VIRSH_RES_OK(&start, "start", VM);
    pid = daemonDomainPid(VM);
    g_assert_cmpint(pid, >, 0);

    VIRSH_RES_OK(&destroy, "destroy", VM);
    assertContains(destroy.out, "Domain '" VM "' destroyed");
    assertState(VM, "shut off");
    g_assert_false(daemonProcessAlive(pid));

    VIRSH(&again, "destroy", VM);
    g_assert_cmpint(again.rc, ==, 1);
    assertContains(again.err, "Requested operation is not valid: domain is not running");

    VIRSH_RES_OK(&undef, "undefine", VM);
    assertContains(undef.out, "Domain '" VM "' has been undefined");
    g_assert_false(g_file_test(defFile, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
    VIRSH_RES_OK(&list, "list", "--all");
    assertLacks(list.out, VM);

    VIRSH(&gone, "dominfo", VM);
    g_assert_cmpint(gone.rc, ==, 1);
    assertContains(gone.err, "failed to get domain '" VM "'");
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    daemonEnvInit("qvirt-virshtest");
    daemonStart(FALSE);

    g_test_add_func("/virsh/define-list", testDefineList);
    g_test_add_func("/virsh/start", testStart);
    g_test_add_func("/virsh/dumpxml-chain", testDumpxml);
    g_test_add_func("/virsh/domblklist-dominfo", testDomblklistDominfo);
    g_test_add_func("/virsh/domxml-to-native", testDomxmlToNative);
    g_test_add_func("/virsh/errors", testErrors);
    g_test_add_func("/virsh/cache-none-without-odirect", testDirectIOUnsupported);
    g_test_add_func("/virsh/cache-none-on-dev-shm", testDevShm);
    g_test_add_func("/virsh/slow-qemu-no-stall", testSlowQemuNoStall);
    g_test_add_func("/virsh/second-daemon-refused", testSecondDaemon);
    g_test_add_func("/virsh/daemon-restart", testDaemonRestart);
    g_test_add_func("/virsh/qemu-sigkill", testQemuKilled);
    g_test_add_func("/virsh/transient", testTransient);
    g_test_add_func("/virsh/verbs", testVerbs);
    g_test_add_func("/virsh/reboot-guest", testRebootGuest);
    g_test_add_func("/virsh/autostart", testAutostart);
    g_test_add_func("/virsh/destroy-undefine", testDestroyUndefine);
    rc = g_test_run();

    if (daemonEnv.pid)
        daemonStop();
    daemonEnvCleanup();
    g_free(topImage);
    g_free(vmXMLPath);
    return rc;
}
