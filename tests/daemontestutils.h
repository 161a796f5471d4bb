/*
 * daemontestutils.h: run the build tree's qvirtd for end-to-end tests (virshtest,
 * pythontest): a temporary --root under /var/tmp (O_DIRECT works there; /tmp may be
 * tmpfs), qcow2 chains made by qemu-img, and a cleanup that kills the daemon and
 * every QEMU it started even when an assertion aborts the test program.
 *
 * Static functions: each test program includes this once.
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "testutils.h"

typedef struct {
    char *root;   /* --root */
    char *images; /* qcow2 images */
    char *socket;
    char *uri;
    GPid pid;    /* qvirtd, or 0 */
    GPid tracer; /* strace wrapping qvirtd, or 0 */
    char *traceLog;
} DaemonEnv;

static DaemonEnv daemonEnv;

/* Kill every process whose command line mentions the test root: the daemon and
 * the QEMUs it spawned (their monitor sockets live under the root). */
G_GNUC_UNUSED static void
daemonKillUnderRoot(const char *root)
{
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *name;

    if (!dir || !root)
        return;
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autofree char *cmdline = NULL;
        gsize len, i;
        pid_t pid;

        if (!g_ascii_isdigit(name[0]))
            continue;
        pid = atoi(name);
        if (pid == getpid())
            continue;
        path = g_strdup_printf("/proc/%s/cmdline", name);
        if (!g_file_get_contents(path, &cmdline, &len, NULL) || len == 0)
            continue;
        for (i = 0; i + 1 < len; i++) {
            if (cmdline[i] == '\0')
                cmdline[i] = ' ';
        }
        if (strstr(cmdline, root))
            kill(pid, SIGKILL);
    }
}

G_GNUC_UNUSED static void
daemonEnvCleanup(void)
{
    g_autofree char *ramfs = NULL;

    if (!daemonEnv.root)
        return;
    if (daemonEnv.pid)
        kill(daemonEnv.pid, SIGKILL);
    if (daemonEnv.tracer)
        kill(daemonEnv.tracer, SIGKILL);
    daemonKillUnderRoot(daemonEnv.root);
    ramfs = g_build_filename(daemonEnv.root, "ramfs", NULL);
    umount2(ramfs, MNT_DETACH);
    qvirTestTempDirRemove(daemonEnv.root);
    g_clear_pointer(&daemonEnv.root, g_free);
    /* A program may set up several environments one after the other. */
    g_clear_pointer(&daemonEnv.images, g_free);
    g_clear_pointer(&daemonEnv.socket, g_free);
    g_clear_pointer(&daemonEnv.uri, g_free);
    g_clear_pointer(&daemonEnv.traceLog, g_free);
}

/* An assertion aborts the program: take the daemon and its QEMUs with it. */
G_GNUC_UNUSED static void
daemonOnFatalSignal(int sig)
{
    daemonEnvCleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

G_GNUC_UNUSED static void
daemonEnvInit(const char *prefix)
{
    g_autofree char *tmpl = g_strdup_printf("/var/tmp/%s-XXXXXX", prefix);

    daemonEnv.root = qvirTestMkdtemp(g_steal_pointer(&tmpl));
    g_assert_nonnull(daemonEnv.root);
    daemonEnv.images = g_build_filename(daemonEnv.root, "images", NULL);
    g_assert_cmpint(g_mkdir(daemonEnv.images, 0755), ==, 0);
    daemonEnv.socket = g_build_filename(daemonEnv.root, "run", "qvirt-sock", NULL);
    daemonEnv.uri = g_strdup_printf("qemu:///system?socket=%s", daemonEnv.socket);
    daemonEnv.traceLog = g_build_filename(daemonEnv.root, "strace.log", NULL);
    /* g_error() may raise SIGTRAP rather than SIGABRT. */
    signal(SIGABRT, daemonOnFatalSignal);
    signal(SIGTRAP, daemonOnFatalSignal);
    signal(SIGTERM, daemonOnFatalSignal);
    signal(SIGINT, daemonOnFatalSignal);
    signal(SIGSEGV, daemonOnFatalSignal);
    signal(SIGBUS, daemonOnFatalSignal);
}

/* Read the daemon's first line, which must announce the socket. */
G_GNUC_UNUSED static gboolean
daemonWaitListening(int outFd)
{
    g_autoptr(GString) line = g_string_new(NULL);
    g_autofree char *expect = g_strdup_printf("qvirtd: listening on %s", daemonEnv.uri);
    gint64 deadline = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;
    char c;

    while (g_get_monotonic_time() < deadline) {
        ssize_t n = read(outFd, &c, 1);

        if (n <= 0)
            break;
        if (c == '\n') {
            if (strcmp(line->str, expect) == 0)
                return TRUE;
            g_printerr("qvirtd said: %s\n", line->str);
            g_string_truncate(line, 0);
            continue;
        }
        g_string_append_c(line, c);
    }
    g_printerr("qvirtd did not announce '%s'\n", expect);
    return FALSE;
}

G_GNUC_UNUSED static void
daemonChildSetup(gpointer data)
{
    /* Own process group, so the test's terminal signals do not reach it. */
    setpgid(0, 0);
}

/* Start qvirtd --root ROOT; with TRACE, under strace recording every open. */
G_GNUC_UNUSED static void
daemonStart(gboolean trace)
{
    g_autofree char *qvirtd = qvirTestBuildPath("tools/qvirtd");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) env = g_get_environ();
    GPid pid;
    int outFd;

    g_assert_true(daemonEnv.pid == 0);
    if (trace) {
        g_ptr_array_add(argv, (char *)"strace");
        g_ptr_array_add(argv, (char *)"-f");
        g_ptr_array_add(argv, (char *)"-qq");
        g_ptr_array_add(argv, (char *)"-e");
        g_ptr_array_add(argv, (char *)"trace=open,openat,openat2,stat,newfstatat,statx");
        g_ptr_array_add(argv, (char *)"-o");
        g_ptr_array_add(argv, daemonEnv.traceLog);
    }
    g_ptr_array_add(argv, qvirtd);
    g_ptr_array_add(argv, (char *)"--root");
    g_ptr_array_add(argv, daemonEnv.root);
    g_ptr_array_add(argv, NULL);

    /* LeakSanitizer cannot run under ptrace; elsewhere a leak fails daemonStop(). */
    if (trace)
        env = g_environ_setenv(env, "LSAN_OPTIONS", "detect_leaks=0", TRUE);
    if (!g_spawn_async_with_pipes(NULL, (char **)argv->pdata, env,
                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, daemonChildSetup,
                                  NULL, &pid, NULL, &outFd, NULL, &err))
        g_error("cannot start qvirtd: %s", err->message);
    if (trace)
        daemonEnv.tracer = pid;
    else
        daemonEnv.pid = pid;
    g_assert_true(daemonWaitListening(outFd));
    close(outFd);

    if (trace) {
        /* The daemon is strace's only child. */
        g_autofree char *path = g_strdup_printf("/proc/%d/task/%d/children", pid, pid);
        g_autofree char *children = NULL;

        g_assert_true(g_file_get_contents(path, &children, NULL, NULL));
        daemonEnv.pid = atoi(children);
        g_assert_cmpint(daemonEnv.pid, >, 0);
    }
}

/* SIGTERM and wait: the daemon must exit by itself, with status 0. */
G_GNUC_UNUSED static void
daemonStop(void)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;
    GPid waitFor = daemonEnv.tracer ? daemonEnv.tracer : daemonEnv.pid;
    int status = -1;

    g_assert_true(daemonEnv.pid > 0);
    g_assert_cmpint(kill(daemonEnv.pid, SIGTERM), ==, 0);
    while (g_get_monotonic_time() < deadline) {
        pid_t r = waitpid(waitFor, &status, WNOHANG);

        if (r == waitFor)
            break;
        g_usleep(10000);
    }
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    daemonEnv.pid = 0;
    daemonEnv.tracer = 0;
}

G_GNUC_UNUSED static gboolean
daemonProcessAlive(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
    g_autofree char *stat = NULL;
    const char *p;

    if (!g_file_get_contents(path, &stat, NULL, NULL))
        return FALSE;
    /* A zombie is dead for our purposes. */
    p = strrchr(stat, ')');
    return p && p[1] == ' ' && p[2] != 'Z';
}

/* The QEMU pid of a running domain, from its status file under the daemon root ROOT; 0
 * without one. */
G_GNUC_UNUSED static pid_t
daemonDomainPidUnder(const char *root, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    g_autofree char *path = g_build_filename(root, "run", "qemu", file, NULL);
    g_autofree char *xml = NULL;
    const char *p;

    if (!g_file_get_contents(path, &xml, NULL, NULL))
        return 0;
    p = strstr(xml, " pid='");
    return p ? atoi(p + 6) : 0;
}

/* The same under this program's daemon. */
G_GNUC_UNUSED static pid_t
daemonDomainPid(const char *name)
{
    return daemonDomainPidUnder(daemonEnv.root, name);
}

G_GNUC_UNUSED static char *
daemonImagePath(const char *name)
{
    return g_build_filename(daemonEnv.images, name, NULL);
}

/* qemu-img create -f qcow2 [-b BACKING -F qcow2] PATH (16M without a backing file) */
G_GNUC_UNUSED static void
daemonMakeQcow2(const char *path, const char *backing)
{
    qvirTestQcow2Create(path, backing, backing ? NULL : "16M");
}

/* base.qcow2 <- mid.qcow2 <- top.qcow2 under DIR; returns the top's path. */
G_GNUC_UNUSED static char *
daemonMakeChain(const char *dir, const char *prefix)
{
    g_autofree char *baseName = g_strdup_printf("%s-base.qcow2", prefix);
    g_autofree char *midName = g_strdup_printf("%s-mid.qcow2", prefix);
    g_autofree char *topName = g_strdup_printf("%s-top.qcow2", prefix);
    g_autofree char *base = g_build_filename(dir, baseName, NULL);
    g_autofree char *mid = g_build_filename(dir, midName, NULL);
    char *top = g_build_filename(dir, topName, NULL);

    daemonMakeQcow2(base, NULL);
    daemonMakeQcow2(mid, base);
    daemonMakeQcow2(top, mid);
    return top;
}

/* A minimal domain: one virtio disk with a qcow2 top image and CACHE. */
G_GNUC_UNUSED static char *
daemonDomainXML(const char *name, const char *uuid, const char *top, const char *cache)
{
    return g_strdup_printf("<domain type='qemu'>\n"
                           "  <name>%s</name>\n"
                           "  <uuid>%s</uuid>\n"
                           "  <memory unit='MiB'>64</memory>\n"
                           "  <vcpu>1</vcpu>\n"
                           "  <os>\n"
                           "    <type arch='x86_64' machine='pc'>hvm</type>\n"
                           "  </os>\n"
                           "  <devices>\n"
                           "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                           "    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='qcow2' cache='%s'/>\n"
                           "      <source file='%s'/>\n"
                           "      <target dev='vda' bus='virtio'/>\n"
                           "    </disk>\n"
                           "  </devices>\n"
                           "</domain>\n",
                           name, uuid, cache, top);
}

G_GNUC_UNUSED static char *
daemonWriteFile(const char *name, const char *contents)
{
    char *path = g_build_filename(daemonEnv.root, name, NULL);

    g_assert_true(g_file_set_contents(path, contents, -1, NULL));
    return path;
}

/* Mount a ramfs (no O_DIRECT on any kernel) at ROOT/ramfs; FALSE when not allowed. */
G_GNUC_UNUSED static char *
daemonMountRamfs(void)
{
    char *dir = g_build_filename(daemonEnv.root, "ramfs", NULL);

    g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
    if (mount("ramfs", dir, "ramfs", 0, "mode=0700") < 0) {
        g_free(dir);
        return NULL;
    }
    return dir;
}

/* Ready REF for daemonLibvirtSessionVirsh and DIR (0755) for what the test shares with it:
 * FALSE, with the test skipped, where libvirt cannot run here (not root, or no libvirtd);
 * otherwise qvirtd's root is searchable by nobody and REF/run (0700) exists. */
G_GNUC_UNUSED static gboolean
daemonLibvirtRefPrepare(const char *ref, const char *dir)
{
    g_autofree char *run = g_build_filename(ref, "run", NULL);

    if (geteuid() != 0 || !g_file_test("/usr/sbin/libvirtd", G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("needs root (to run libvirt as nobody) and libvirtd");
        return FALSE;
    }
    g_assert_cmpint(chmod(daemonEnv.root, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_cmpint(g_mkdir(run, 0700), ==, 0);
    return TRUE;
}

/* The reference beside qvirtd: libvirt 9.0's own session daemon, as nobody with its state
 * under REF (REF/run must exist, mode 0700, owned by nobody), runs SCRIPT in one
 * `virsh -q -c qemu:///session`; returns virsh's exit status with its stdout and stderr.
 * The daemon is stopped afterwards: it would otherwise linger for its idle timeout. */
G_GNUC_UNUSED static int
daemonLibvirtSessionVirsh(const char *ref, const char *script, char **out, char **err)
{
    g_autofree char *run = g_build_filename(ref, "run", NULL);
    g_autofree char *pidFile = g_build_filename(run, "libvirt", "libvirtd.pid", NULL);
    g_autofree char *home = g_strdup_printf("HOME=%s", ref);
    g_autofree char *xdgRun = g_strdup_printf("XDG_RUNTIME_DIR=%s", run);
    g_autofree char *xdgConfig = g_strdup_printf("XDG_CONFIG_HOME=%s/config", ref);
    g_autofree char *xdgCache = g_strdup_printf("XDG_CACHE_HOME=%s/cache", ref);
    g_autofree char *pid = NULL;
    const char *argv[] = {"runuser", "-u",   "nobody",   "--",
                          "env",     "-i",   "LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                          home,      xdgRun, xdgConfig,  xdgCache,
                          "virsh",   "-q",   "-c",       "qemu:///session",
                          script,    NULL};
    int rc = qvirTestRun(argv, out, err);

    if (g_file_get_contents(pidFile, &pid, NULL, NULL) && atoi(pid) > 0)
        kill(atoi(pid), SIGTERM);
    return rc;
}
