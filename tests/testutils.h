/*
 * testutils.h: helpers shared by the test programs.
 */
#pragma once

#include <glib.h>

/* Absolute path of a file under tests/ in the source tree. */
char *qvirTestSrcPath(const char *relpath);
/* Absolute path of a file in the build tree (e.g. "tools/qvirt"). */
char *qvirTestBuildPath(const char *relpath);

/* TRUE when QVIRT_TEST_REGENERATE_OUTPUT=1: expected files are rewritten, not compared. */
gboolean qvirTestRegenerate(void);

/*
 * Compare ACTUAL with the contents of the file EXPECTED_PATH; with regeneration on,
 * write ACTUAL there instead. On mismatch, prints a unified-style diff hint to stderr
 * and returns FALSE.
 */
gboolean qvirTestCompareToFile(const char *actual, const char *expectedPath);

/*
 * g_mkdtemp(), but the directory is searchable by every user (0755, not 0700): a root
 * qvirtd runs QEMU as its own unprivileged user (qvirt-qemu), which must reach the
 * images, sockets and state under a test's directories. libvirt relabels the files, never
 * the directories leading to them; neither does qvirtd, so tests make them traversable.
 */
char *qvirTestMkdtemp(char *tmpl);

/* A fresh temporary directory (mode 0755, see qvirTestMkdtemp), removed recursively by
 * qvirTestTempDirRemove(). */
char *qvirTestTempDirNew(const char *prefix);
void qvirTestTempDirRemove(const char *dir);

/* Run ARGV synchronously; returns exit status (or -1 when it could not run). */
int qvirTestRun(const char *const *argv, char **out, char **err);

/* Run ARGV; unless it exits 0, abort the test naming the command and quoting its stderr. */
void qvirTestRunOk(const char *const *argv);

/* Attach strace to process PID so that it dies of SIGKILL at its first SYSCALLS (a strace
 * syscall list) on PATH, that call skipped (INJECT: strace's inject= actions, for example
 * "signal=SIGKILL"). Returns the tracer once it is attached. */
GPid qvirTestKillAtSyscall(pid_t pid, const char *path, const char *syscalls, const char *inject);

/* qemu-img create -q -f qcow2 [-b BACKING -F qcow2] PATH [SIZE]: SIZE NULL takes the
 * backing file's. BACKING is stored as given (relative names resolve from PATH's dir). */
void qvirTestQcow2Create(const char *path, const char *backing, const char *size);
