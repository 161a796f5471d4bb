#include "testutils.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

char *
qvirTestSrcPath(const char *relpath)
{
    const char *dir = g_getenv("QVIRT_TEST_SRCDIR");
    return g_build_filename(dir ? dir : QVIRT_TEST_SRCDIR, relpath, NULL);
}

char *
qvirTestBuildPath(const char *relpath)
{
    const char *dir = g_getenv("QVIRT_BUILD_ROOT");
    return g_build_filename(dir ? dir : QVIRT_BUILD_ROOT, relpath, NULL);
}

gboolean
qvirTestRegenerate(void)
{
    const char *val = g_getenv("QVIRT_TEST_REGENERATE_OUTPUT");
    return val && strcmp(val, "1") == 0;
}

static void
qvirTestPrintFirstDifference(const char *actual, const char *expected)
{
    unsigned int line = 1;
    const char *a = actual, *e = expected;

    while (*a && *a == *e) {
        if (*a == '\n')
            line++;
        a++;
        e++;
    }
    g_printerr("first difference at line %u\n", line);
    g_printerr("--- expected\n%.*s\n+++ actual\n%.*s\n", 200, e, 200, a);
}

gboolean
qvirTestCompareToFile(const char *actual, const char *expectedPath)
{
    g_autofree char *expected = NULL;
    g_autoptr(GError) error = NULL;

    if (qvirTestRegenerate()) {
        if (!g_file_set_contents(expectedPath, actual, -1, &error)) {
            g_printerr("cannot write %s: %s\n", expectedPath, error->message);
            return FALSE;
        }
        return TRUE;
    }
    if (!g_file_get_contents(expectedPath, &expected, NULL, &error)) {
        g_printerr("cannot read %s: %s\n", expectedPath, error->message);
        return FALSE;
    }
    if (strcmp(actual, expected) != 0) {
        g_printerr("output differs from %s\n", expectedPath);
        qvirTestPrintFirstDifference(actual, expected);
        return FALSE;
    }
    return TRUE;
}

char *
qvirTestMkdtemp(char *tmpl)
{
    return g_mkdtemp_full(tmpl, 0755);
}

char *
qvirTestTempDirNew(const char *prefix)
{
    g_autofree char *tmpl = g_strdup_printf("%s-XXXXXX", prefix ? prefix : "qvirt-test");
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp(tmpl, &error);

    if (!dir)
        g_error("cannot create temporary directory: %s", error->message);
    if (chmod(dir, 0755) < 0)
        g_error("cannot make '%s' searchable: %s", dir, g_strerror(errno));
    return dir;
}

void
qvirTestTempDirRemove(const char *dir)
{
    const char *argv[] = {"rm", "-rf", "--", dir, NULL};

    if (!dir || !*dir || strcmp(dir, "/") == 0)
        return;
    qvirTestRun(argv, NULL, NULL);
}

int
qvirTestRun(const char *const *argv, char **out, char **err)
{
    g_autoptr(GError) error = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err, &status,
                      &error)) {
        g_printerr("cannot run %s: %s\n", argv[0], error->message);
        return -1;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -1;
}

void
qvirTestRunOk(const char *const *argv)
{
    g_autofree char *err = NULL;
    g_autofree char *cmd = g_strjoinv(" ", (char **)argv);
    int rc = qvirTestRun(argv, NULL, &err);

    /* qemu-img's LUKS key-slot benchmark fails when its thread's CPU time has not moved
     * yet ("Unable to get accurate CPU usage"): its first PBKDF round takes under one 4 ms
     * tick of this kernel's CPU-time clock, so 9 and 12 of 20-30 creations failed here
     * (2026-12-02). A failed try costs milliseconds; 40 of them in a row is ~1e-14. */
    for (int tries = 0; rc != 0 && tries < 40 && err && strstr(err, "accurate CPU usage");
         tries++) {
        g_clear_pointer(&err, g_free);
        rc = qvirTestRun(argv, NULL, &err);
    }
    if (rc != 0)
        g_error("'%s' failed (%d): %s", cmd, rc, err ? err : "");
}

void
qvirTestQcow2Create(const char *path, const char *backing, const char *size)
{
    const char *argv[12] = {"qemu-img", "create", "-q", "-f", "qcow2"};
    int n = 5;

    if (backing) {
        argv[n++] = "-b";
        argv[n++] = backing;
        argv[n++] = "-F";
        argv[n++] = "qcow2";
    }
    argv[n++] = path;
    if (size)
        argv[n++] = size;
    argv[n] = NULL;
    qvirTestRunOk(argv);
}

GPid
qvirTestKillAtSyscall(pid_t pid, const char *path, const char *syscalls, const char *inject)
{
    g_autofree char *pidText = g_strdup_printf("%d", (int)pid);
    g_autofree char *status = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *trace = g_strdup_printf("trace=%s", syscalls);
    g_autofree char *injection = g_strdup_printf("inject=%s:%s", syscalls, inject);
    const char *argv[] = {"strace", "-qq", "-f", "-o",  "/dev/null", "-p",      pidText,
                          "-P",     path,  "-e", trace, "-e",        injection, NULL};
    g_autoptr(GError) err = NULL;
    GPid tracer;

    if (!g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                       NULL, NULL, &tracer, &err))
        g_error("cannot start strace: %s", err->message);
    for (guint i = 0; i < 200; i++) {
        g_autofree char *text = NULL;

        if (g_file_get_contents(status, &text, NULL, NULL) && strstr(text, "TracerPid:\t") &&
            !strstr(text, "TracerPid:\t0\n"))
            return tracer;
        g_usleep(50 * 1000);
    }
    g_error("strace did not attach to process %d", (int)pid);
}
