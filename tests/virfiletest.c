/* Atomic state-file writes, directory creation and relative backing-name resolution. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutils.h"
#include "util/virerror.h"
#include "util/virfile.h"

static void
testWriteAtomicReplaces(void)
{
    g_autofree char *dir = qvirTestTempDirNew("virfiletest");
    g_autofree char *path = g_build_filename(dir, "state.xml", NULL);
    g_autofree char *contents = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) d = NULL;
    struct stat sb;
    int entries = 0;

    g_assert_true(qvirFileWriteAtomic(path, "old\n", 4, 0600, &error));
    g_assert_true(qvirFileWriteAtomic(path, "new contents\n", 13, 0600, &error));
    g_assert_no_error(error);
    g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    g_assert_cmpstr(contents, ==, "new contents\n");
    g_assert_cmpint(g_stat(path, &sb), ==, 0);
    g_assert_cmpint(sb.st_mode & 0777, ==, 0600);

    /* no temporary file left behind */
    d = g_dir_open(dir, 0, NULL);
    while (g_dir_read_name(d))
        entries++;
    g_assert_cmpint(entries, ==, 1);
    qvirTestTempDirRemove(dir);
}

static void
testWriteAtomicFailureKeepsOld(void)
{
    g_autofree char *dir = qvirTestTempDirNew("virfiletest");
    g_autofree char *path = g_build_filename(dir, "missing-dir", "state.xml", NULL);
    g_autoptr(GError) error = NULL;

    g_assert_false(qvirFileWriteAtomic(path, "x", 1, 0600, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_WRITE_FAILED);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    qvirTestTempDirRemove(dir);
}

static void
testMakeDirs(void)
{
    g_autofree char *dir = qvirTestTempDirNew("virfiletest");
    g_autofree char *nested = g_build_filename(dir, "a", "b", "c", NULL);
    g_autofree char *file = g_build_filename(dir, "file", NULL);
    g_autofree char *under = g_build_filename(file, "sub", NULL);
    g_autoptr(GError) error = NULL;
    struct stat sb;

    g_assert_true(qvirFileMakeDirs(nested, 0700, &error));
    g_assert_no_error(error);
    g_assert_cmpint(g_stat(nested, &sb), ==, 0);
    g_assert_true(S_ISDIR(sb.st_mode));
    g_assert_cmpint(sb.st_mode & 0777, ==, 0700);
    /* existing already is fine */
    g_assert_true(qvirFileMakeDirs(nested, 0700, &error));

    /* a regular file in the way: the error names the directory asked for */
    g_assert_true(g_file_set_contents(file, "", 0, NULL));
    g_assert_false(qvirFileMakeDirs(under, 0700, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR);
    g_assert_nonnull(strstr(error->message, under));
    qvirTestTempDirRemove(dir);
}

static void
testWriteAllPipe(void)
{
    char buf[8] = {0};
    int fds[2];

    g_assert_cmpint(pipe(fds), ==, 0);
    g_assert_true(qvirFileWriteAll(fds[1], "abcdef", 6));
    g_assert_cmpint(read(fds[0], buf, sizeof(buf)), ==, 6);
    g_assert_cmpstr(buf, ==, "abcdef");
    close(fds[0]);
    /* no reader left: EPIPE (with SIGPIPE ignored), not a loop */
    signal(SIGPIPE, SIG_IGN);
    g_assert_false(qvirFileWriteAll(fds[1], "x", 1));
    close(fds[1]);
}

static void
testResolveRelative(void)
{
    g_autofree char *a = qvirFileResolveRelative("/img/dir/top.qcow2", "base.qcow2");
    g_autofree char *b = qvirFileResolveRelative("/img/dir/top.qcow2", "/abs/base.qcow2");
    g_autofree char *c = qvirFileResolveRelative("/img/dir/top.qcow2", "../up/base.qcow2");

    g_assert_cmpstr(a, ==, "/img/dir/base.qcow2");
    g_assert_cmpstr(b, ==, "/abs/base.qcow2");
    g_assert_cmpstr(c, ==, "/img/dir/../up/base.qcow2");
}

/* A forked child's last words: the step, the path when there is one, errno in decimal. */
static void
testChildFail(void)
{
    if (g_test_subprocess()) {
        errno = ENOENT;
        qvirFileChildFail("qvirt: cannot test: ", "open", "/no/such");
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("qvirt: cannot test: open '/no/such' failed, errno 2\n");
}

static void
testChildFailNoPath(void)
{
    if (g_test_subprocess()) {
        errno = EACCES;
        qvirFileChildFail("qvirt: cannot test: ", "setgroups", NULL);
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("qvirt: cannot test: setgroups failed, errno 13\n");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/file/write-atomic/replaces", testWriteAtomicReplaces);
    g_test_add_func("/file/write-atomic/failure-keeps-old", testWriteAtomicFailureKeepsOld);
    g_test_add_func("/file/make-dirs", testMakeDirs);
    g_test_add_func("/file/write-all", testWriteAllPipe);
    g_test_add_func("/file/resolve-relative", testResolveRelative);
    g_test_add_func("/file/child-fail", testChildFail);
    g_test_add_func("/file/child-fail-no-path", testChildFailNoPath);
    return g_test_run();
}
