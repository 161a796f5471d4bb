/*
 * virshguesttest.c: the everyday verbs around a running guest, through the real virsh and
 * python3-libvirt against the build tree's qvirtd, on one booted Linux guest (Debian's cloud
 * kernel, a busybox initramfs) with a serial console. Its /init counts on the console
 * (QVIRT-COUNT n, once a second) and runs the shell lines it reads there.
 *
 *   console      virsh console under pseudo-terminals: output, input, a second client
 *                refused, --force taking over, the escape key; python3-libvirt's console
 *                and screenshot streams (tests/python/virsh_console.py)
 *   vcpus        setvcpus --live hot-plugs a vCPU the guest sees; --config; refusals
 *   memory       setmem --live through the guest's balloon driver; --config; setmaxmem
 *   screenshot   a PNG of the VGA screen; send-key
 *   domtime      through a guest agent (a shell one in the guest); without one, the error
 *   monitor-command  qemu-monitor-command (QMP and HMP) and the taint it leaves
 *   save         save/restore --bypass-cache (O_DIRECT seen with strace): the counter goes
 *                on, the chain is the same, the hot-plugged vCPU is back
 *   managedsave  managedsave, dominfo, start from the image (removed afterwards)
 *   images       refusals: O_DIRECT on ramfs, a wrong magic, a truncated image, corrupt data;
 *                save-image-define; the old image restored once more
 */
#include <fcntl.h>
#include <sys/wait.h>

#include "daemontestutils.h"
#include "guesttestutils.h"
#include "virshtestutils.h"

#define VM "guest17"

/* ---- the guest -------------------------------------------------------------------------- */

#define GUEST_COUNTER_INIT                                                                         \
    "#!/bin/busybox sh\n"                                                                          \
    "/bin/busybox --install -s /bin\n"                                                             \
    "mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev\n"              \
    "for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci "          \
    "virtio_blk virtio_balloon virtio_console; do insmod /lib/$m.ko; done\n"                       \
    "(while read -r l; do eval \"$l\"; done) </dev/ttyS0 >/dev/ttyS0 2>&1 &\n" GUEST_AGENT         \
    "echo QVIRT-READY\n"                                                                           \
    "i=0\n"                                                                                        \
    "while true; do i=$((i+1)); echo QVIRT-COUNT $i; sleep 1; done\n"

/* A guest agent in shell, enough for domtime: it answers guest-sync-delimited (0xff, then
 * the id) and guest-get-time on the org.qemu.guest_agent.0 port, opened once (a virtio port
 * takes one opener). */
#define GUEST_AGENT                                                                                \
    "agent() {\n"                                                                                  \
    "  while read -r l; do case \"$l\" in\n"                                                       \
    "  *guest-sync-delimited*) id=${l##*\\\"id\\\":}; printf '\\377{\"return\": %s}\\n' "          \
    "\"${id%%\\}*}\";;\n"                                                                          \
    "  *guest-get-time*) printf '{\"return\": %s000000000}\\n' \"$(date +%s)\";;\n"                \
    "  esac; done\n"                                                                               \
    "}\n"                                                                                          \
    "for p in /sys/class/virtio-ports/*; do\n"                                                     \
    "  [ \"$(cat $p/name)\" = org.qemu.guest_agent.0 ] && ga=/dev/${p##*/}\n"                      \
    "done\n"                                                                                       \
    "[ -n \"$ga\" ] && (while true; do agent 0<>$ga 1>&0; sleep 0.2; done) &\n"

static const char *const guestExtraModules[] = {"kernel/drivers/virtio/virtio_balloon.ko",
                                                "kernel/drivers/char/virtio_console.ko", NULL};

static gboolean guestUp;
static char *guestTop;
static char *guestBase;
static char *savePath;
static int ptyFd = -1;
static GString *ptyLog;

/* The serial port's pty, from the live XML. */
static int
testOpenPty(void)
{
    g_autofree char *xml = VIRSH_OK("dumpxml", VM);
    const char *p = strstr(xml, "<serial type='pty'>");
    g_autofree char *path = NULL;
    int fd;

    g_assert_nonnull(p);
    p = strstr(p, "<source path='");
    g_assert_nonnull(p);
    p += strlen("<source path='");
    path = g_strndup(p, strcspn(p, "'"));
    fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    return fd;
}

static void
testPtyOpen(void)
{
    if (ptyFd < 0)
        ptyFd = testOpenPty();
    g_string_truncate(ptyLog, 0);
}

static void
testPtyClose(void)
{
    if (ptyFd >= 0)
        close(ptyFd);
    ptyFd = -1;
}

/* Type LINE into the guest's shell. */
static void
testPtyType(const char *line)
{
    g_autofree char *cmd = g_strdup_printf("%s\n", line);

    g_assert_cmpint(write(ptyFd, cmd, strlen(cmd)), ==, (gssize)strlen(cmd));
}

/* The counter the guest prints next after the console shows anything new, waiting for a value
 * above AFTER; -1 on a timeout. */
static long
testCounterAbove(long after)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

    while (g_get_monotonic_time() < deadline) {
        const char *p = ptyLog->str;
        const char *hit;
        long last = -1;

        while ((hit = strstr(p, "QVIRT-COUNT "))) {
            if (strchr(hit, '\n'))
                last = atol(hit + strlen("QVIRT-COUNT "));
            p = hit + 1;
        }
        if (last > after)
            return last;
        if (!testGuestWaitFor(ptyFd, ptyLog, "\1never\1", 1) && g_get_monotonic_time() > deadline)
            break;
    }
    return -1;
}

static gboolean
testGuestAvailable(void)
{
    if (!guestUp)
        g_test_skip("the guest did not boot (see /virshguest/boot)");
    return guestUp;
}

static void
testBoot(void)
{
    g_autofree char *kernel = NULL;
    g_autofree char *modules = NULL;
    g_autofree char *initrd = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *xmlPath = NULL;

    if (!testGuestKernel(&kernel, &modules) || !g_file_test("/bin/busybox", G_FILE_TEST_EXISTS)) {
        g_test_skip("needs a Debian kernel in /boot (linux-image-cloud-amd64) and "
                    "busybox-static");
        return;
    }
    initrd = g_build_filename(daemonEnv.root, "guest-initrd.cpio", NULL);
    if (!testGuestInitrdFull(modules, initrd, GUEST_COUNTER_INIT, guestExtraModules)) {
        g_test_skip("cannot build the guest's initramfs (virtio modules missing?)");
        return;
    }
    guestBase = daemonImagePath("g-base.qcow2");
    guestTop = daemonImagePath("g-top.qcow2");
    daemonMakeQcow2(guestBase, NULL);
    daemonMakeQcow2(guestTop, guestBase);
    xml = g_strdup_printf("<domain type='qemu'>\n"
                          "  <name>" VM "</name>\n"
                          "  <uuid>7f1d3a52-17aa-4d1b-9c41-0e5d2b9a1717</uuid>\n"
                          "  <memory unit='MiB'>256</memory>\n"
                          "  <vcpu current='1'>2</vcpu>\n"
                          "  <os><type arch='x86_64' machine='q35'>hvm</type>\n"
                          "    <kernel>%s</kernel><initrd>%s</initrd>\n"
                          "    <cmdline>console=ttyS0 panic=-1</cmdline></os>\n"
                          "  <features><acpi/></features>\n"
                          "  <devices>\n"
                          "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                          "    <disk type='file' device='disk'>\n"
                          "      <driver name='qemu' type='qcow2' cache='none'/>\n"
                          "      <source file='%s'/>\n"
                          "      <target dev='vda' bus='virtio'/>\n"
                          "    </disk>\n"
                          "    <serial type='pty'><target port='0'/></serial>\n"
                          "    <video><model type='vga'/></video>\n"
                          "    <channel type='unix'>\n"
                          "      <source mode='bind'/>\n"
                          "      <target type='virtio' name='org.qemu.guest_agent.0'/>\n"
                          "    </channel>\n"
                          "    <memballoon model='virtio'/>\n"
                          "  </devices>\n"
                          "</domain>\n",
                          kernel, initrd, guestTop);
    xmlPath = daemonWriteFile("guest17.xml", xml);
    g_free(VIRSH_OK("define", xmlPath));
    g_free(VIRSH_OK("start", VM));
    testPtyOpen();
    if (!testGuestWaitFor(ptyFd, ptyLog, "QVIRT-READY", 240))
        g_error("guest did not boot; console:\n%s", ptyLog->str);
    g_assert_cmpint(testCounterAbove(0), >, 0);
    guestUp = TRUE;
}

/* ---- console ------------------------------------------------------------------------------ */

static void
testConsole(void)
{
    g_autofree char *script =
        g_build_filename(QVIRT_TEST_SRCDIR, "python", "virsh_console.py", NULL);
    const char *argv[] = {"/usr/bin/python3", script, daemonEnv.uri, VM, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    static const char *const steps[] = {"a-connected", "a-input",      "b-refused",
                                        "c-connected", "a-taken-over", "c-escape",
                                        "d-nosuch",    "py-console",   "py-screenshot"};
    int rc;

    if (!testGuestAvailable())
        return;
    /* the sessions are the pty's only readers meanwhile */
    testPtyClose();
    rc = qvirTestRun(argv, &out, &err);
    g_test_message("%s", out);
    if (rc != 0)
        g_error("virsh_console.py failed (%d): %s%s", rc, out, err);
    for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
        g_autofree char *ok = g_strdup_printf("%s ok", steps[i]);

        if (!strstr(out, ok))
            g_error("console step %s failed:\n%s%s", steps[i], out, err);
    }
}

/* ---- vCPUs and memory ------------------------------------------------------------------------ */

static void
testVcpus(void)
{
    g_autofree char *out = NULL;

    if (!testGuestAvailable())
        return;
    testPtyOpen();
    g_free(VIRSH_OK("setvcpus", VM, "2", "--live"));
    out = VIRSH_OK("vcpucount", VM, "--live", "--active");
    g_assert_cmpstr(g_strstrip(out), ==, "2");
    g_clear_pointer(&out, g_free);
    out = VIRSH_OK("dumpxml", VM);
    g_assert_nonnull(strstr(out, "<vcpu placement='static'>2</vcpu>"));
    g_clear_pointer(&out, g_free);
    /* the guest's kernel sees the new CPU (ACPI hot-plug) */
    testPtyType("ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l | sed s/^/QVIRT-CPUS-/");
    if (!testGuestWaitFor(ptyFd, ptyLog, "QVIRT-CPUS-2", 60))
        g_error("the guest does not see 2 CPUs:\n%s", ptyLog->str);

    VIRSH_FAILS("requested vcpus is greater than max allowable vcpus for the live domain: 3 > 2",
                "setvcpus", VM, "3", "--live");
    /* the definition: one vCPU at boot, then all of them */
    out = VIRSH_OK("dumpxml", VM, "--inactive");
    g_assert_nonnull(strstr(out, "<vcpu placement='static' current='1'>2</vcpu>"));
    g_clear_pointer(&out, g_free);
    g_free(VIRSH_OK("setvcpus", VM, "2", "--config"));
    out = VIRSH_OK("dumpxml", VM, "--inactive");
    g_assert_nonnull(strstr(out, "<vcpu placement='static'>2</vcpu>"));
    g_clear_pointer(&out, g_free);
    g_free(VIRSH_OK("setvcpus", VM, "1", "--config"));
    out = VIRSH_OK("vcpucount", VM, "--config", "--current");
    g_assert_cmpstr(g_strstrip(out), ==, "1");
}

/* "Used memory:" of virsh dominfo, KiB. */
static long
testUsedMemory(void)
{
    g_autofree char *out = VIRSH_OK("dominfo", VM);
    const char *p = strstr(out, "Used memory:");

    g_assert_nonnull(p);
    return atol(p + strlen("Used memory:"));
}

static void
testMemory(void)
{
    g_autofree char *out = NULL;
    gint64 deadline;

    if (!testGuestAvailable())
        return;
    g_assert_cmpint(testUsedMemory(), ==, 262144);
    g_free(VIRSH_OK("setmem", VM, "200M", "--live"));
    /* the guest's balloon driver gives the memory back; QEMU reports it (BALLOON_CHANGE) */
    deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (testUsedMemory() != 204800 && g_get_monotonic_time() < deadline)
        g_usleep(200 * 1000);
    g_assert_cmpint(testUsedMemory(), ==, 204800);
    out = VIRSH_OK("dumpxml", VM);
    g_assert_nonnull(strstr(out, "<currentMemory unit='KiB'>204800</currentMemory>"));
    g_clear_pointer(&out, g_free);

    VIRSH_FAILS("cannot set memory higher than max memory", "setmem", VM, "1G", "--live");
    VIRSH_FAILS("cannot resize the maximum memory on an active domain", "setmaxmem", VM, "300M");
    g_free(VIRSH_OK("setmaxmem", VM, "300M", "--config"));
    g_free(VIRSH_OK("setmem", VM, "192M", "--config"));
    out = VIRSH_OK("dumpxml", VM, "--inactive");
    g_assert_nonnull(strstr(out, "<memory unit='KiB'>307200</memory>"));
    g_assert_nonnull(strstr(out, "<currentMemory unit='KiB'>196608</currentMemory>"));
    g_clear_pointer(&out, g_free);
    /* the running guest keeps its own */
    out = VIRSH_OK("dumpxml", VM);
    g_assert_nonnull(strstr(out, "<memory unit='KiB'>262144</memory>"));
}

/* ---- screenshot, keys, time ------------------------------------------------------------------ */

static void
testScreenshot(void)
{
    g_autofree char *file = g_build_filename(daemonEnv.root, "shot.png", NULL);
    g_autofree char *out = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;
    guint32 width, height;

    if (!testGuestAvailable())
        return;
    out = VIRSH_OK("screenshot", VM, file);
    g_assert_nonnull(strstr(out, "with type of image/png"));
    g_assert_true(g_file_get_contents(file, &data, &len, NULL));
    /* signature, then the IHDR chunk with the size */
    g_assert_cmpuint(len, >, 33);
    g_assert_cmpmem(data, 8, "\x89PNG\r\n\x1a\n", 8);
    g_assert_cmpmem(data + 12, 4, "IHDR", 4);
    memcpy(&width, data + 16, 4);
    memcpy(&height, data + 20, 4);
    g_assert_cmpuint(GUINT32_FROM_BE(width), >=, 320);
    g_assert_cmpuint(GUINT32_FROM_BE(height), >=, 200);
    VIRSH_FAILS("no screen with ID 1", "screenshot", VM, file, "--screen", "1");

    g_free(VIRSH_OK("send-key", VM, "KEY_LEFTSHIFT", "KEY_A"));
    g_free(VIRSH_OK("send-key", VM, "--codeset", "qnum", "0x1e"));
}

/* domtime through the guest agent; without an agent channel, libvirt's error. */
static void
testDomtime(void)
{
    g_autofree char *out = NULL;
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *xmlPath = NULL;
    long long guest, host = g_get_real_time() / G_USEC_PER_SEC;
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

    if (!testGuestAvailable())
        return;
    /* the agent starts with the guest's /init: ask until it answers */
    for (;;) {
        g_auto(VirshResult) r = {0};

        VIRSH(&r, "domtime", VM);
        if (r.rc == 0) {
            out = g_steal_pointer(&r.out);
            break;
        }
        if (g_get_monotonic_time() > deadline)
            g_error("domtime: %s%s", r.out, r.err);
        g_assert_nonnull(strstr(r.err, "Guest agent is not responding"));
        g_usleep(500 * 1000);
    }
    g_assert_true(g_str_has_prefix(out, "Time: "));
    guest = g_ascii_strtoll(out + strlen("Time: "), NULL, 10);
    g_assert_cmpint(guest, >, host - 600);
    g_assert_cmpint(guest, <, host + 600);

    top = daemonImagePath("noagent.qcow2");
    daemonMakeQcow2(top, NULL);
    xml = daemonDomainXML("noagent", "0b0e5f2c-8d7a-4c1e-9f3b-2a6d4e8c1f17", top, "none");
    xmlPath = daemonWriteFile("noagent.xml", xml);
    g_free(VIRSH_OK("create", xmlPath));
    VIRSH_FAILS("argument unsupported: QEMU guest agent is not configured", "domtime", "noagent");
    g_free(VIRSH_OK("destroy", "noagent"));
}

/* qemu-monitor-command passes QEMU's replies through, and taints the domain as libvirt does. */
static void
testMonitorCommand(void)
{
    g_autofree char *log = g_build_filename(daemonEnv.root, "log", "qemu", VM ".log", NULL);
    g_autofree char *text = NULL;
    g_autofree char *out = NULL;
    const char *first;

    if (!testGuestAvailable())
        return;
    out = VIRSH_OK("dominfo", VM);
    g_assert_null(strstr(out, "tainted"));
    g_clear_pointer(&out, g_free);
    out = VIRSH_OK("qemu-monitor-command", VM, "{\"execute\":\"query-status\"}");
    g_assert_nonnull(strstr(out, "{\"return\":{\"status\":\"running\""));
    g_clear_pointer(&out, g_free);
    /* QEMU's error is the answer, not a failure */
    out = VIRSH_OK("qemu-monitor-command", VM, "{\"execute\":\"no-such-command\"}");
    g_assert_nonnull(strstr(out, "\"class\":\"CommandNotFound\""));
    g_clear_pointer(&out, g_free);
    out = VIRSH_OK("qemu-monitor-command", VM, "--hmp", "info status");
    g_assert_nonnull(strstr(out, "VM status: running"));
    g_clear_pointer(&out, g_free);
    out = VIRSH_OK("dominfo", VM);
    g_assert_nonnull(
        strstr(out, "Messages:       tainted: custom monitor control commands issued"));
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    first = strstr(text, "is tainted: custom-monitor\n");
    g_assert_nonnull(first);
    /* logged once per run */
    g_assert_null(strstr(first + 1, "is tainted: custom-monitor"));
}

/* ---- save and restore ------------------------------------------------------------------------ */

/* strace -f on the daemon while FN runs; the log's text. */
static char *
testTraced(void (*fn)(gpointer), gpointer opaque)
{
    g_autofree char *log = g_build_filename(daemonEnv.root, "save-strace.log", NULL);
    g_autofree char *pid = g_strdup_printf("%d", daemonEnv.pid);
    g_autofree char *status = g_strdup_printf("/proc/%d/status", daemonEnv.pid);
    const char *argv[] = {"strace", "-f", "-qq", "-e", "trace=open,openat",
                          "-o",     log,  "-p",  pid,  NULL};
    g_autoptr(GError) err = NULL;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    char *text = NULL;
    GPid tracer;
    int ws;

    g_unlink(log);
    if (!g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                       NULL, NULL, &tracer, &err))
        g_error("cannot run strace: %s", err->message);
    /* attached once the daemon has a tracer */
    for (;;) {
        g_autofree char *st = NULL;
        const char *p;

        g_assert_true(g_file_get_contents(status, &st, NULL, NULL));
        p = strstr(st, "TracerPid:");
        if (p && atoi(p + strlen("TracerPid:")) != 0)
            break;
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(20 * 1000);
    }
    fn(opaque);
    kill(tracer, SIGINT);
    g_assert_cmpint(waitpid(tracer, &ws, 0), ==, tracer);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    return text;
}

static void
testDoSave(gpointer opaque)
{
    g_autofree char *out = VIRSH_OK("save", VM, savePath, "--bypass-cache");

    g_assert_nonnull(strstr(out, "saved to"));
}

static void
testDoRestore(gpointer opaque)
{
    g_autofree char *out = VIRSH_OK("restore", savePath, "--bypass-cache");

    g_assert_nonnull(strstr(out, "restored from"));
}

/* The disk's chain in the live XML: its <source file=> values, in order. */
static char *
testChain(void)
{
    g_autofree char *xml = VIRSH_OK("dumpxml", VM);
    g_autoptr(GString) chain = g_string_new(NULL);
    const char *p = strstr(xml, "<disk ");
    const char *end = strstr(xml, "</disk>");

    g_assert_nonnull(p);
    while ((p = strstr(p, "<source file='")) && p < end) {
        p += strlen("<source file='");
        g_string_append_len(chain, p, strcspn(p, "'"));
        g_string_append_c(chain, '|');
    }
    return g_string_free(g_steal_pointer(&chain), FALSE);
}

static void
testSaveRestore(void)
{
    g_autofree char *chainBefore = NULL;
    g_autofree char *chainAfter = NULL;
    g_autofree char *trace = NULL;
    g_autofree char *out = NULL;
    g_autofree char *head = NULL;
    g_autofree char *expectChain = NULL;
    long before, after;

    if (!testGuestAvailable())
        return;
    savePath = g_build_filename(daemonEnv.root, "guest17.save", NULL);
    chainBefore = testChain();
    expectChain = g_strdup_printf("%s|%s|", guestTop, guestBase);
    g_assert_cmpstr(chainBefore, ==, expectChain);
    testPtyOpen();
    before = testCounterAbove(0);
    g_assert_cmpint(before, >, 0);

    trace = testTraced(testDoSave, NULL);
    testPtyClose();
    out = VIRSH_OK("domstate", VM, "--reason");
    g_assert_nonnull(strstr(out, "shut off (saved)"));
    g_clear_pointer(&out, g_free);
    /* the daemon wrote the image itself, with O_DIRECT, under a temporary name */
    g_assert_nonnull(strstr(trace, "guest17.save."));
    g_assert_nonnull(strstr(trace, "O_WRONLY|O_CREAT|O_EXCL|O_DIRECT"));
    g_assert_true(g_file_get_contents(savePath, &head, NULL, NULL));
    g_assert_cmpmem(head, 16, "QvirtSaveImage\n\0", 16);
    /* the chain went with QEMU */
    out = VIRSH_OK("dumpxml", VM);
    g_assert_null(strstr(out, "<backingStore type="));
    g_clear_pointer(&out, g_free);
    out = VIRSH_OK("save-image-dumpxml", savePath);
    g_assert_nonnull(strstr(out, "<name>" VM "</name>"));
    g_clear_pointer(&out, g_free);

    g_clear_pointer(&trace, g_free);
    trace = testTraced(testDoRestore, NULL);
    g_assert_nonnull(strstr(trace, "guest17.save\", O_RDONLY|O_DIRECT"));
    out = VIRSH_OK("domstate", VM, "--reason");
    g_assert_nonnull(strstr(out, "running (restored)"));
    g_clear_pointer(&out, g_free);

    /* the guest counts on from where it was, without a new boot */
    testPtyOpen();
    after = testCounterAbove(0);
    g_assert_cmpint(after, >, before);
    g_assert_cmpint(after, <=, before + 5);
    g_assert_null(strstr(ptyLog->str, "QVIRT-READY"));
    /* the chain is the one probed again at restore, the hot-plugged vCPU is there */
    chainAfter = testChain();
    g_assert_cmpstr(chainAfter, ==, chainBefore);
    out = VIRSH_OK("vcpucount", VM, "--live", "--active");
    g_assert_cmpstr(g_strstrip(out), ==, "2");
    g_clear_pointer(&out, g_free);
    testPtyType("ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l | sed s/^/QVIRT-CPUS-AGAIN-/");
    g_assert_true(testGuestWaitFor(ptyFd, ptyLog, "QVIRT-CPUS-AGAIN-2", 60));
}

static void
testManagedSave(void)
{
    g_autofree char *image = NULL;
    g_autofree char *out = NULL;
    long before, after;

    if (!testGuestAvailable())
        return;
    image = g_build_filename(daemonEnv.root, "lib", "qemu", "save", VM ".save", NULL);
    testPtyOpen();
    before = testCounterAbove(0);
    g_assert_cmpint(before, >, 0);
    g_free(VIRSH_OK("managedsave", VM));
    testPtyClose();
    g_assert_true(g_file_test(image, G_FILE_TEST_IS_REGULAR));
    out = VIRSH_OK("dominfo", VM);
    g_assert_nonnull(strstr(out, "Managed save:   yes"));
    g_assert_nonnull(strstr(out, "State:          shut off"));
    g_clear_pointer(&out, g_free);
    out = VIRSH_OK("managedsave-dumpxml", VM);
    g_assert_nonnull(strstr(out, "<name>" VM "</name>"));
    g_clear_pointer(&out, g_free);
    VIRSH_FAILS("Refusing to undefine while domain managed save image exists", "undefine", VM);

    g_free(VIRSH_OK("start", VM));
    out = VIRSH_OK("domstate", VM, "--reason");
    g_assert_nonnull(strstr(out, "running (restored)"));
    g_clear_pointer(&out, g_free);
    g_assert_false(g_file_test(image, G_FILE_TEST_EXISTS));
    out = VIRSH_OK("dominfo", VM);
    g_assert_nonnull(strstr(out, "Managed save:   no"));
    testPtyOpen();
    after = testCounterAbove(0);
    g_assert_cmpint(after, >, before);
    g_assert_cmpint(after, <=, before + 5);
    g_assert_null(strstr(ptyLog->str, "QVIRT-READY"));
}

/* A copy of the save image with LEN bytes at OFF replaced by DATA (or cut there, DATA NULL). */
static char *
testImageCopy(const char *name, gsize off, const char *data, gsize len)
{
    g_autofree char *contents = NULL;
    char *path = g_build_filename(daemonEnv.root, name, NULL);
    gsize size = 0;

    g_assert_true(g_file_get_contents(savePath, &contents, &size, NULL));
    g_assert_cmpuint(off + len, <=, size);
    if (data)
        memcpy(contents + off, data, len);
    g_assert_true(g_file_set_contents(path, contents, data ? size : off, NULL));
    return path;
}

static void
testImages(void)
{
    g_autofree char *ramfs = NULL;
    g_autofree char *ramfsImage = NULL;
    g_autofree char *badMagic = NULL;
    g_autofree char *truncated = NULL;
    g_autofree char *badData = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *xmlPath = NULL;
    g_autofree char *out = NULL;
    char *desc;
    gsize size = 0;
    g_autofree char *contents = NULL;
    long after;

    if (!testGuestAvailable() || !savePath)
        return;
    /* O_DIRECT refused: a clear error, and the guest runs on */
    if ((ramfs = daemonMountRamfs())) {
        g_autoptr(GDir) dir = NULL;

        ramfsImage = g_build_filename(ramfs, "g.save", NULL);
        VIRSH_FAILS("filesystem does not support O_DIRECT", "save", VM, ramfsImage,
                    "--bypass-cache");
        out = VIRSH_OK("domstate", VM);
        g_assert_nonnull(strstr(out, "running"));
        g_clear_pointer(&out, g_free);
        dir = g_dir_open(ramfs, 0, NULL);
        g_assert_null(g_dir_read_name(dir));
    } else {
        g_test_message("ramfs not mountable here: O_DIRECT refusal not checked");
    }

    g_assert_true(g_file_get_contents(savePath, &contents, &size, NULL));
    badMagic = testImageCopy("bad-magic.save", 0, "X", 1);
    VIRSH_FAILS("image magic is incorrect", "restore", badMagic);
    truncated = testImageCopy("truncated.save", size - 4096, NULL, 0);
    VIRSH_FAILS("save image is incomplete", "restore", truncated);
    xmlPath = daemonWriteFile("not-an-image", "hello, this is no save image");
    VIRSH_FAILS("failed to read qemu header", "save-image-dumpxml", xmlPath);

    /* data corrupted in the middle: QEMU loads it, the checksum stops the guest from running */
    g_free(VIRSH_OK("destroy", VM));
    testPtyClose();
    badData = testImageCopy("bad-data.save", size / 2, "\xa5\x5a\xa5\x5a", 4);
    VIRSH_FAILS("checksum mismatch", "restore", badData);
    out = VIRSH_OK("domstate", VM);
    g_assert_nonnull(strstr(out, "shut off"));
    g_clear_pointer(&out, g_free);

    /* save-image-define rewrites the XML; the image still restores, at the saved counter */
    xml = VIRSH_OK("save-image-dumpxml", savePath);
    desc = strstr(xml, "</name>");
    g_assert_nonnull(desc);
    {
        g_autofree char *edited =
            g_strdup_printf("%.*s</name>\n  <description>edited</description>%s", (int)(desc - xml),
                            xml, desc + strlen("</name>"));

        g_free(xmlPath);
        xmlPath = daemonWriteFile("edited.xml", edited);
    }
    g_free(VIRSH_OK("save-image-define", savePath, xmlPath, "--paused"));
    out = VIRSH_OK("save-image-dumpxml", savePath);
    g_assert_nonnull(strstr(out, "<description>edited</description>"));
    g_clear_pointer(&out, g_free);
    /* the image now says paused: so is the restored domain (libvirt: "migrating") */
    g_free(VIRSH_OK("restore", savePath));
    out = VIRSH_OK("domstate", VM, "--reason");
    g_assert_nonnull(strstr(out, "paused (migrating)"));
    g_clear_pointer(&out, g_free);
    g_free(VIRSH_OK("resume", VM));
    out = VIRSH_OK("domstate", VM, "--reason");
    g_assert_nonnull(strstr(out, "running (unpaused)"));
    g_clear_pointer(&out, g_free);
    testPtyOpen();
    after = testCounterAbove(0);
    g_assert_cmpint(after, >, 0);
    g_assert_null(strstr(ptyLog->str, "QVIRT-READY"));

    /* the restored guest lets its hot-plugged vCPU go again (ACPI eject) */
    g_free(VIRSH_OK("setvcpus", VM, "1", "--live"));
    out = VIRSH_OK("vcpucount", VM, "--live", "--active");
    g_assert_cmpstr(g_strstrip(out), ==, "1");
    g_clear_pointer(&out, g_free);
    testPtyType("ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l | sed s/^/QVIRT-CPUS-UNPLUGGED-/");
    if (!testGuestWaitFor(ptyFd, ptyLog, "QVIRT-CPUS-UNPLUGGED-1", 60))
        g_error("the guest still sees 2 CPUs:\n%s", ptyLog->str);
    g_free(VIRSH_OK("destroy", VM));
    testPtyClose();
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    daemonEnvInit("qvirt-virshguest");
    ptyLog = g_string_new(NULL);
    daemonStart(FALSE);

    g_test_add_func("/virshguest/boot", testBoot);
    g_test_add_func("/virshguest/console", testConsole);
    g_test_add_func("/virshguest/vcpus", testVcpus);
    g_test_add_func("/virshguest/memory", testMemory);
    g_test_add_func("/virshguest/screenshot", testScreenshot);
    g_test_add_func("/virshguest/domtime", testDomtime);
    g_test_add_func("/virshguest/monitor-command", testMonitorCommand);
    g_test_add_func("/virshguest/save-restore", testSaveRestore);
    g_test_add_func("/virshguest/managedsave", testManagedSave);
    g_test_add_func("/virshguest/images", testImages);
    ret = g_test_run();
    testPtyClose();
    if (daemonEnv.pid)
        daemonStop();
    daemonEnvCleanup();
    g_free(guestTop);
    g_free(guestBase);
    g_free(savePath);
    g_string_free(ptyLog, TRUE);
    return ret;
}
