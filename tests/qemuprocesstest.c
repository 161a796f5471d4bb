/*
 * QEMU process lifecycle against a real QEMU 7.2 (TCG, -S): launch, stop, crash and
 * shutdown detection, re-attaching to a QEMU that is not our child, O_DIRECT checks, and
 * the whole start pipeline from domain XML with a 3-layer qcow2 chain.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "testutils.h"
#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_process.h"
#include "storage/storage_chain.h"
#include "util/virerror.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"

/* ---- callback recorder ------------------------------------------------------------- */

typedef struct {
    GMutex lock;
    GCond cond;
    int exits;
    qemuProcessExitReason reason;
    GPtrArray *events;
    gboolean freeOnExit; /* the exited callback frees the handle */
    GThread *callbackThread;
} TestProcState;

static void
testStateInit(TestProcState *st)
{
    memset(st, 0, sizeof(*st));
    g_mutex_init(&st->lock);
    g_cond_init(&st->cond);
    st->events = g_ptr_array_new_with_free_func(g_free);
}

static void
testStateClear(TestProcState *st)
{
    g_ptr_array_unref(st->events);
    g_mutex_clear(&st->lock);
    g_cond_clear(&st->cond);
}

static void
testExitedCb(qemuProcess *proc, qemuProcessExitReason reason, gpointer opaque)
{
    TestProcState *st = opaque;

    if (st->freeOnExit)
        qemuProcessFree(proc);
    g_mutex_lock(&st->lock);
    st->exits++;
    st->reason = reason;
    st->callbackThread = g_thread_self();
    g_cond_broadcast(&st->cond);
    g_mutex_unlock(&st->lock);
}

static void
testEventCb(qemuProcess *proc, const char *name, JsonObject *data, gpointer opaque)
{
    TestProcState *st = opaque;

    g_mutex_lock(&st->lock);
    g_ptr_array_add(st->events, g_strdup(name));
    g_cond_broadcast(&st->cond);
    g_mutex_unlock(&st->lock);
}

static const qemuProcessCallbacks testCallbacks = {
    .exited = testExitedCb,
    .event = testEventCb,
};

static gboolean
testStateWaitExit(TestProcState *st, gint64 timeoutUs)
{
    gint64 deadline = g_get_monotonic_time() + timeoutUs;
    gboolean done;

    g_mutex_lock(&st->lock);
    while (st->exits == 0) {
        if (!g_cond_wait_until(&st->cond, &st->lock, deadline))
            break;
    }
    done = st->exits > 0;
    g_mutex_unlock(&st->lock);
    return done;
}

static gboolean
testStateHasEvent(TestProcState *st, const char *name)
{
    gboolean found = FALSE;
    guint i;

    g_mutex_lock(&st->lock);
    for (i = 0; i < st->events->len; i++)
        if (g_str_equal(g_ptr_array_index(st->events, i), name))
            found = TRUE;
    g_mutex_unlock(&st->lock);
    return found;
}

/* ---- helpers ----------------------------------------------------------------------- */

static gboolean
testPidGone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

typedef struct {
    char *dir;
    char *sock;
    char *log;
    char *chardev;
} TestLaunch;

static void
testLaunchInit(TestLaunch *tl)
{
    tl->dir = qvirTestTempDirNew("qemuprocesstest");
    tl->sock = g_build_filename(tl->dir, "test.monitor", NULL);
    tl->log = g_build_filename(tl->dir, "test.log", NULL);
    tl->chardev = g_strdup_printf("socket,id=charmonitor,path=%s,server=on,wait=off", tl->sock);
}

static void
testLaunchClear(TestLaunch *tl)
{
    qvirTestTempDirRemove(tl->dir);
    g_free(tl->dir);
    g_free(tl->sock);
    g_free(tl->log);
    g_free(tl->chardev);
}

/* A minimal QEMU that keeps running: -machine none, monitor as libvirt wires it. */
static qemuProcess *
testLaunch(TestLaunch *tl, gboolean paused, TestProcState *st, GError **error)
{
    const char *argv[] = {QEMU_BINARY,
                          "-S",
                          "-machine",
                          "none",
                          "-nodefaults",
                          "-display",
                          "none",
                          "-no-shutdown",
                          "-no-reboot",
                          "-chardev",
                          tl->chardev,
                          "-mon",
                          "chardev=charmonitor,id=monitor,mode=control",
                          NULL};
    const char *envp[] = {"LC_ALL=C", "PATH=/usr/bin:/bin", NULL};
    qemuProcessLaunchOpts lopts = {
        .monitorPath = tl->sock,
        .logPath = tl->log,
        .startPaused = paused,
    };

    return qemuProcessLaunch(argv, envp, &lopts, &testCallbacks, st, error);
}

static char *
testQueryStatus(qemuProcess *proc)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ret =
        qemuMonitorCommand(qemuProcessGetMonitor(proc), "query-status", NULL, 5000, &error);

    g_assert_no_error(error);
    return g_strdup(json_object_get_string_member(json_node_get_object(ret), "status"));
}

/* ---- launch / stop ------------------------------------------------------------------ */

static void
testLaunchStop(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autofree char *status = NULL;
    g_autofree char *log = NULL;
    qemuProcess *proc;
    pid_t pid;
    gint64 start;

    testLaunchInit(&tl);
    testStateInit(&st);

    start = g_get_monotonic_time();
    proc = testLaunch(&tl, FALSE, &st, &error);
    g_assert_no_error(error);
    g_assert_nonnull(proc);
    if (g_test_verbose())
        g_printerr("launch -> running: %" G_GINT64_FORMAT " ms\n",
                   (g_get_monotonic_time() - start) / 1000);

    pid = qemuProcessGetPid(proc);
    g_assert_cmpint(pid, >, 0);
    g_assert_cmpstr(qemuProcessGetMonitorPath(proc), ==, tl.sock);
    g_assert_true(qemuProcessIsRunning(proc));
    status = testQueryStatus(proc);
    g_assert_cmpstr(status, ==, "running");
    /* its own session, so a signal to the daemon's process group misses it */
    g_assert_cmpint(getsid(pid), ==, pid);
    /* the log got our header */
    g_assert_true(g_file_get_contents(tl.log, &log, NULL, NULL));
    g_assert_nonnull(strstr(log, "starting up"));

    start = g_get_monotonic_time();
    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    if (g_test_verbose())
        g_printerr("stop: %" G_GINT64_FORMAT " ms\n", (g_get_monotonic_time() - start) / 1000);
    g_assert_false(qemuProcessIsRunning(proc));
    /* reaped: no zombie left */
    g_assert_true(testPidGone(pid));
    g_assert_false(g_file_test(tl.sock, G_FILE_TEST_EXISTS));
    qemuProcessFree(proc);

    /* our own stop is not reported */
    g_assert_cmpint(st.exits, ==, 0);
    g_assert_true(testStateHasEvent(&st, "RESUME"));
    testStateClear(&st);
    testLaunchClear(&tl);
}

static void
testLaunchPaused(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autofree char *status = NULL;
    qemuProcess *proc;

    testLaunchInit(&tl);
    testStateInit(&st);
    proc = testLaunch(&tl, TRUE, &st, &error);
    g_assert_no_error(error);
    status = testQueryStatus(proc);
    g_assert_cmpstr(status, ==, "prelaunch");
    g_assert_true(qemuProcessStop(proc, &error));
    qemuProcessFree(proc);
    g_assert_cmpint(st.exits, ==, 0);
    testStateClear(&st);
    testLaunchClear(&tl);
}

static void
testLaunchFailure(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    const char *argv[] = {QEMU_BINARY, "-S",   "-machine",        "none", "-nodefaults",
                          "-display",  "none", "-no-such-option", NULL};
    qemuProcessLaunchOpts lopts;
    qemuProcess *proc;
    int status;

    testLaunchInit(&tl);
    testStateInit(&st);
    lopts = (qemuProcessLaunchOpts){.monitorPath = tl.sock, .logPath = tl.log};
    proc = qemuProcessLaunch(argv, NULL, &lopts, &testCallbacks, &st, &error);
    g_assert_null(proc);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
    /* QEMU's own words reach the caller */
    g_assert_nonnull(strstr(error->message, "process exited while connecting to monitor"));
    g_assert_nonnull(strstr(error->message, "-no-such-option"));
    /* the child was reaped */
    g_assert_cmpint(waitpid(-1, &status, WNOHANG), ==, -1);
    g_assert_cmpint(errno, ==, ECHILD);
    g_assert_false(g_file_test(tl.sock, G_FILE_TEST_EXISTS));
    g_assert_cmpint(st.exits, ==, 0);
    g_clear_error(&error);

    /* an emulator that does not exist */
    argv[0] = "/nonexistent/qemu-system-x86_64";
    proc = qemuProcessLaunch(argv, NULL, &lopts, &testCallbacks, &st, &error);
    g_assert_null(proc);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "/nonexistent/qemu-system-x86_64"));

    testStateClear(&st);
    testLaunchClear(&tl);
}

/* A QEMU that answers nothing (SIGSTOP): "quit" times out, SIGTERM stays pending, SIGKILL
 * ends it. The stop still succeeds, within the escalation's bounded time. */
static void
testStopHung(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    qemuProcess *proc;
    gint64 t0, elapsed;
    pid_t pid;

    testLaunchInit(&tl);
    testStateInit(&st);
    proc = testLaunch(&tl, FALSE, &st, &error);
    g_assert_no_error(error);
    pid = qemuProcessGetPid(proc);

    g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
    t0 = g_get_monotonic_time();
    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    elapsed = g_get_monotonic_time() - t0;
    if (g_test_verbose())
        g_printerr("stop of a stopped QEMU: %" G_GINT64_FORMAT " ms\n", elapsed / 1000);
    g_assert_cmpint(elapsed, >=, 2 * G_TIME_SPAN_SECOND); /* it did try "quit" first */
    g_assert_cmpint(elapsed, <, 10 * G_TIME_SPAN_SECOND);
    g_assert_true(testPidGone(pid));
    g_assert_false(g_file_test(tl.sock, G_FILE_TEST_EXISTS));
    qemuProcessFree(proc);
    g_assert_cmpint(st.exits, ==, 0);
    testStateClear(&st);
    testLaunchClear(&tl);
}

/* ---- exits we did not ask for -------------------------------------------------------- */

static void
testCrashSigkill(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    qemuProcess *proc;
    pid_t pid;

    testLaunchInit(&tl);
    testStateInit(&st);
    proc = testLaunch(&tl, FALSE, &st, &error);
    g_assert_no_error(error);
    pid = qemuProcessGetPid(proc);

    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    g_assert_true(testStateWaitExit(&st, 10 * G_TIME_SPAN_SECOND));
    g_assert_cmpint(st.reason, ==, QEMU_PROCESS_EXIT_CRASHED);
    g_assert_true(st.callbackThread != g_thread_self());
    g_assert_false(qemuProcessIsRunning(proc));
    g_assert_true(testPidGone(pid));

    /* the driver's clean-up after a crash: a stop on a dead process is quick and quiet */
    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_false(g_file_test(tl.sock, G_FILE_TEST_EXISTS));
    qemuProcessFree(proc);
    g_assert_cmpint(st.exits, ==, 1);
    testStateClear(&st);
    testLaunchClear(&tl);
}

static void
testQuitIsShutdown(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ret = NULL;
    qemuProcess *proc;

    testLaunchInit(&tl);
    testStateInit(&st);
    proc = testLaunch(&tl, FALSE, &st, &error);
    g_assert_no_error(error);

    /* somebody else's "quit" (a qemu-monitor-command): QEMU exits 0 after SHUTDOWN */
    ret = qemuMonitorCommand(qemuProcessGetMonitor(proc), "quit", NULL, 5000, &error);
    g_assert_no_error(error);
    g_assert_true(testStateWaitExit(&st, 10 * G_TIME_SPAN_SECOND));
    g_assert_cmpint(st.reason, ==, QEMU_PROCESS_EXIT_SHUTDOWN);
    g_assert_true(testStateHasEvent(&st, "SHUTDOWN"));

    qemuProcessFree(proc);
    g_assert_cmpint(st.exits, ==, 1);
    testStateClear(&st);
    testLaunchClear(&tl);
}

/* -no-shutdown keeps QEMU alive and paused after a guest power-off; the watcher ends it.
 * With -no-reboot, a reset is turned into exactly that kind of shutdown. */
static void
testGuestShutdownNoShutdown(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ret = NULL;
    qemuProcess *proc;
    pid_t pid;

    testLaunchInit(&tl);
    testStateInit(&st);
    st.freeOnExit = TRUE; /* and the handle may be freed from inside the callback */
    proc = testLaunch(&tl, FALSE, &st, &error);
    g_assert_no_error(error);
    pid = qemuProcessGetPid(proc);

    ret = qemuMonitorCommand(qemuProcessGetMonitor(proc), "system_reset", NULL, 5000, &error);
    g_assert_no_error(error);
    g_assert_true(testStateWaitExit(&st, 10 * G_TIME_SPAN_SECOND));
    g_assert_cmpint(st.reason, ==, QEMU_PROCESS_EXIT_SHUTDOWN);
    g_assert_true(testStateHasEvent(&st, "SHUTDOWN"));
    g_assert_true(testPidGone(pid));
    g_assert_cmpint(st.exits, ==, 1);
    testStateClear(&st);
    testLaunchClear(&tl);
}

/* The QMP connection drops while the process lives on (a hung or confused QEMU): after a
 * grace period it is killed and reported as crashed. A small python "QEMU" plays it. */
static void
testMonitorLost(void)
{
    static const char script[] =
        "import json, socket, sys, time\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.bind(sys.argv[1])\n"
        "s.listen(1)\n"
        "c, _ = s.accept()\n"
        "c.sendall(b'{\"QMP\": {\"version\": {}, \"capabilities\": []}}\\r\\n')\n"
        "f = c.makefile('rb')\n"
        "for i in range(2):\n"
        "    cmd = json.loads(f.readline())\n"
        "    c.sendall(json.dumps({'return': {}, 'id': cmd['id']}).encode() + b'\\r\\n')\n"
        "time.sleep(0.2)\n"
        "f.close()\n"
        "c.close()\n"
        "time.sleep(60)\n";
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    const char *argv[] = {"/usr/bin/python3", "-c", script, NULL, NULL};
    qemuProcessLaunchOpts lopts;
    qemuProcess *proc;
    gint64 t0;
    pid_t pid;

    testLaunchInit(&tl);
    testStateInit(&st);
    argv[3] = tl.sock;
    lopts = (qemuProcessLaunchOpts){.monitorPath = tl.sock, .logPath = tl.log};
    proc = qemuProcessLaunch(argv, NULL, &lopts, &testCallbacks, &st, &error);
    g_assert_no_error(error);
    pid = qemuProcessGetPid(proc);
    t0 = g_get_monotonic_time();

    g_assert_true(testStateWaitExit(&st, 15 * G_TIME_SPAN_SECOND));
    g_assert_cmpint(st.reason, ==, QEMU_PROCESS_EXIT_CRASHED);
    /* not at the first EOF: QEMU closes its monitor just before a normal exit too */
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 2 * G_TIME_SPAN_SECOND);
    g_assert_true(testPidGone(pid));
    qemuProcessFree(proc);
    g_assert_cmpint(st.exits, ==, 1);
    testStateClear(&st);
    testLaunchClear(&tl);
}

/* ---- reconnect ---------------------------------------------------------------------- */

static void
testReconnectChild(void)
{
    TestLaunch tl;
    TestProcState st1, st2;
    g_autoptr(GError) error = NULL;
    g_autofree char *status = NULL;
    qemuProcess *proc;
    pid_t pid;

    testLaunchInit(&tl);
    testStateInit(&st1);
    testStateInit(&st2);
    proc = testLaunch(&tl, FALSE, &st1, &error);
    g_assert_no_error(error);
    pid = qemuProcessGetPid(proc);

    /* a daemon shutting down frees its handles; QEMU keeps running */
    qemuProcessFree(proc);
    g_assert_false(testPidGone(pid));
    g_assert_true(g_file_test(tl.sock, G_FILE_TEST_EXISTS));

    proc = qemuProcessReconnect(pid, tl.sock, &testCallbacks, &st2, &error);
    g_assert_no_error(error);
    g_assert_nonnull(proc);
    status = testQueryStatus(proc);
    g_assert_cmpstr(status, ==, "running");

    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    g_assert_true(testStateWaitExit(&st2, 10 * G_TIME_SPAN_SECOND));
    g_assert_cmpint(st2.reason, ==, QEMU_PROCESS_EXIT_CRASHED);
    g_assert_true(testPidGone(pid)); /* still our child: reaped by the watcher */
    qemuProcessFree(proc);
    g_assert_cmpint(st1.exits, ==, 0);
    g_assert_cmpint(st2.exits, ==, 1);
    testStateClear(&st1);
    testStateClear(&st2);
    testLaunchClear(&tl);
}

/* Start QEMU through a shell that exits at once, as a previous daemon's QEMU would be:
 * not our child, reparented to init. */
static pid_t
testSpawnOrphanQemu(TestLaunch *tl, const char *extra)
{
    g_autofree char *script = NULL;
    g_autofree char *out = NULL;
    const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    pid_t pid;

    script = g_strdup_printf("%s -S -machine none -nodefaults -display none -no-shutdown "
                             "-no-reboot %s -chardev %s -mon "
                             "chardev=charmonitor,id=monitor,mode=control "
                             "</dev/null >>%s 2>&1 & echo $!",
                             QEMU_BINARY, extra, tl->chardev, tl->log);
    argv[2] = script;
    g_assert_cmpint(qvirTestRun(argv, &out, NULL), ==, 0);
    pid = (pid_t)g_ascii_strtoll(out, NULL, 10);
    g_assert_cmpint(pid, >, 0);
    while (!g_file_test(tl->sock, G_FILE_TEST_EXISTS) && g_get_monotonic_time() < deadline)
        g_usleep(5000);
    g_assert_true(g_file_test(tl->sock, G_FILE_TEST_EXISTS));
    return pid;
}

static void
testReconnectOrphan(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autofree char *status = NULL;
    qemuProcess *proc;
    pid_t pid;
    int wstatus;

    testLaunchInit(&tl);
    testStateInit(&st);
    pid = testSpawnOrphanQemu(&tl, "");
    g_assert_cmpint(waitpid(pid, &wstatus, WNOHANG), ==, -1); /* not ours */

    proc = qemuProcessReconnect(pid, tl.sock, &testCallbacks, &st, &error);
    g_assert_no_error(error);
    status = testQueryStatus(proc);
    g_assert_cmpstr(status, ==, "prelaunch");

    /* the exit of a process that is not our child comes through the pidfd */
    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    g_assert_true(testStateWaitExit(&st, 10 * G_TIME_SPAN_SECOND));
    g_assert_cmpint(st.reason, ==, QEMU_PROCESS_EXIT_CRASHED);
    qemuProcessFree(proc);
    testStateClear(&st);
    testLaunchClear(&tl);
}

static void
testReconnectOrphanStop(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    qemuProcess *proc;
    pid_t pid;
    gint64 deadline;

    testLaunchInit(&tl);
    testStateInit(&st);
    pid = testSpawnOrphanQemu(&tl, "");
    proc = qemuProcessReconnect(pid, tl.sock, &testCallbacks, &st, &error);
    g_assert_no_error(error);

    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    qemuProcessFree(proc);
    /* init reaps it; give it a moment */
    deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    while (!testPidGone(pid) && g_get_monotonic_time() < deadline)
        g_usleep(10000);
    g_assert_true(testPidGone(pid));
    g_assert_false(g_file_test(tl.sock, G_FILE_TEST_EXISTS));
    g_assert_cmpint(st.exits, ==, 0);
    testStateClear(&st);
    testLaunchClear(&tl);
}

/* A guest powered off while no daemon watched: found in "shutdown", ended, reported. */
static void
testReconnectPoweredOff(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ret = NULL;
    qemuMonitor *mon;
    qemuProcess *proc;
    pid_t pid;
    int i;

    testLaunchInit(&tl);
    testStateInit(&st);
    pid = testSpawnOrphanQemu(&tl, "");

    mon = qemuMonitorOpenUnix(tl.sock, 5000, NULL, NULL, &error);
    g_assert_no_error(error);
    ret = qemuMonitorCommand(mon, "cont", NULL, 5000, &error);
    g_assert_no_error(error);
    g_clear_pointer(&ret, json_node_unref);
    ret = qemuMonitorCommand(mon, "system_reset", NULL, 5000, &error);
    g_assert_no_error(error);
    /* the reset is carried out by QEMU's main loop after the reply */
    for (i = 0; i < 500; i++) {
        g_autoptr(JsonNode) status = qemuMonitorCommand(mon, "query-status", NULL, 5000, &error);

        g_assert_no_error(error);
        if (g_str_equal(json_object_get_string_member(json_node_get_object(status), "status"),
                        "shutdown"))
            break;
        g_usleep(10000);
    }
    g_assert_cmpint(i, <, 500);
    qemuMonitorClose(mon);

    proc = qemuProcessReconnect(pid, tl.sock, &testCallbacks, &st, &error);
    g_assert_no_error(error);
    g_assert_true(testStateWaitExit(&st, 10 * G_TIME_SPAN_SECOND));
    g_assert_cmpint(st.reason, ==, QEMU_PROCESS_EXIT_SHUTDOWN);
    qemuProcessFree(proc);
    testStateClear(&st);
    testLaunchClear(&tl);
}

static void
testReconnectErrors(void)
{
    TestLaunch tl;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    qemuProcess *proc;
    GPid child;
    int wstatus;
    const char *sleepArgv[] = {"/bin/sleep", "30", NULL};

    testLaunchInit(&tl);
    testStateInit(&st);

    /* a pid that runs something else must not be adopted */
    g_assert_true(g_spawn_async(NULL, (char **)sleepArgv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                NULL, &child, NULL));
    proc = qemuProcessReconnect(child, tl.sock, &testCallbacks, &st, &error);
    g_assert_null(proc);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(error->message, "is not the QEMU"));
    g_clear_error(&error);
    kill(child, SIGKILL);
    waitpid(child, &wstatus, 0);

    /* a pid that is gone */
    proc = qemuProcessReconnect(child, tl.sock, &testCallbacks, &st, &error);
    g_assert_null(proc);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(error->message, "not running"));
    g_clear_error(&error);

    proc = qemuProcessReconnect(0, tl.sock, &testCallbacks, &st, &error);
    g_assert_null(proc);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);

    g_assert_cmpint(st.exits, ==, 0);
    testStateClear(&st);
    testLaunchClear(&tl);
}

/* ---- O_DIRECT ----------------------------------------------------------------------- */

/* A directory on a filesystem without O_DIRECT: a fresh ramfs mount (tmpfs accepts
 * O_DIRECT since Linux 6.6). NULL when we may not mount. */
static char *
testMountRamfs(void)
{
    g_autofree char *dir = qvirTestTempDirNew("qemuprocesstest-ramfs");

    if (mount("ramfs", dir, "ramfs", 0, "") < 0) {
        qvirTestTempDirRemove(dir);
        return NULL;
    }
    return g_steal_pointer(&dir);
}

static void
testUnmountRamfs(char *dir)
{
    g_assert_cmpint(umount2(dir, MNT_DETACH), ==, 0);
    qvirTestTempDirRemove(dir);
    g_free(dir);
}

/* A directory where O_DIRECT works, under the build tree (never /tmp, which may be
 * a tmpfs on older kernels). */
static char *
testDirectIODir(void)
{
    g_autofree char *base = qvirTestBuildPath("tests/qemuprocesstest-data");
    g_autofree char *tmpl = NULL;

    g_assert_cmpint(g_mkdir_with_parents(base, 0700), ==, 0);
    tmpl = g_build_filename(base, "run-XXXXXX", NULL);
    return g_strdup(qvirTestMkdtemp(tmpl));
}

static void
testWriteFile(const char *path)
{
    g_autofree char *data = g_malloc0(65536);

    g_assert_true(g_file_set_contents(path, data, 65536, NULL));
}

static void
testDirectIOCheck(void)
{
    g_autofree char *ramfs = testMountRamfs();
    g_autofree char *okDir = testDirectIODir();
    g_autofree char *okPath = g_build_filename(okDir, "base.raw", NULL);
    g_autofree char *badPath = NULL;
    g_autoptr(qvirDomainDiskDef) disk = qvirDomainDiskDefNew();
    g_autoptr(GError) error = NULL;
    g_autofree char *expected = NULL;

    if (!ramfs) {
        g_test_skip("cannot mount a ramfs here");
        qvirTestTempDirRemove(okDir);
        return;
    }
    badPath = g_build_filename(ramfs, "top.qcow2", NULL);
    testWriteFile(okPath);
    testWriteFile(badPath);

    disk->dst = g_strdup("vda");
    disk->src->type = QVIR_STORAGE_TYPE_FILE;
    disk->src->path = g_strdup(okPath);
    disk->src->backingStore = qvirStorageSourceNew(); /* terminator */

    disk->cachemode = QVIR_DOMAIN_DISK_CACHE_DISABLE;
    g_assert_true(qemuProcessCheckDirectIO(disk, &error));
    g_assert_no_error(error);

    /* the O_DIRECT-less file is the backing layer: the error names it */
    qvirStorageSourceFree(disk->src->backingStore);
    disk->src->backingStore = qvirStorageSourceNew();
    disk->src->backingStore->type = QVIR_STORAGE_TYPE_FILE;
    disk->src->backingStore->path = g_strdup(badPath);
    disk->src->backingStore->backingStore = qvirStorageSourceNew();

    g_assert_false(qemuProcessCheckDirectIO(disk, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED);
    expected = g_strdup_printf("disk 'vda': file '%s' on a ramfs filesystem does not support "
                               "O_DIRECT needed by cache mode 'none'",
                               badPath);
    g_assert_cmpstr(error->message, ==, expected);
    g_clear_error(&error);

    disk->cachemode = QVIR_DOMAIN_DISK_CACHE_DIRECTSYNC;
    g_assert_false(qemuProcessCheckDirectIO(disk, &error));
    g_assert_nonnull(strstr(error->message, "cache mode 'directsync'"));
    g_clear_error(&error);

    /* caching modes that do not bypass the page cache do not care */
    disk->cachemode = QVIR_DOMAIN_DISK_CACHE_WRITEBACK;
    g_assert_true(qemuProcessCheckDirectIO(disk, &error));
    disk->cachemode = QVIR_DOMAIN_DISK_CACHE_DEFAULT;
    g_assert_true(qemuProcessCheckDirectIO(disk, &error));
    g_assert_no_error(error);

    testUnmountRamfs(g_steal_pointer(&ramfs));
    qvirTestTempDirRemove(okDir);
}

/* ---- the start pipeline from domain XML ---------------------------------------------- */

static qemuCaps *testCaps;

typedef struct {
    char *imgDir; /* images (O_DIRECT capable) */
    char *runDir;
    char *logDir;
    char *domainDir;
    char *base;
    char *mid;
    char *top;
} TestDomain;

/* base.qcow2 <- mid.qcow2 <- top.qcow2 in DIR */
static void
testMakeChain(const char *dir, char **base, char **mid, char **top)
{
    *base = g_build_filename(dir, "base.qcow2", NULL);
    *mid = g_build_filename(dir, "mid.qcow2", NULL);
    *top = g_build_filename(dir, "top.qcow2", NULL);
    qvirTestQcow2Create(*base, NULL, "16M");
    qvirTestQcow2Create(*mid, "base.qcow2", NULL);
    qvirTestQcow2Create(*top, "mid.qcow2", NULL);
}

static void
testDomainInit(TestDomain *td)
{
    td->imgDir = testDirectIODir();
    td->runDir = g_build_filename(td->imgDir, "run", NULL);
    td->logDir = g_build_filename(td->imgDir, "log", NULL);
    td->domainDir = g_build_filename(td->imgDir, "domain-1-chain", NULL);
    testMakeChain(td->imgDir, &td->base, &td->mid, &td->top);
}

static void
testDomainClear(TestDomain *td)
{
    qvirTestTempDirRemove(td->imgDir);
    g_free(td->imgDir);
    g_free(td->runDir);
    g_free(td->logDir);
    g_free(td->domainDir);
    g_free(td->base);
    g_free(td->mid);
    g_free(td->top);
}

static qemuProcessStartOpts
testDomainOpts(TestDomain *td, gboolean paused)
{
    return (qemuProcessStartOpts){
        .runDir = td->runDir,
        .logDir = td->logDir,
        .domainDir = td->domainDir,
        .startPaused = paused,
        .chainConfig = NULL,
        .defaultDiskCache = -1,
    };
}

/* A small pc guest with one virtio disk on TOP; EXTRA is more <devices> content. */
static qvirDomainDef *
testParseDomain(const char *top, const char *cache, const char *backing, const char *extra)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cacheAttr = cache ? g_strdup_printf(" cache='%s'", cache) : g_strdup("");
    g_autofree char *xml =
        g_strdup_printf("<domain type='qemu'>\n"
                        "  <name>chain</name>\n"
                        "  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n"
                        "  <memory unit='MiB'>64</memory>\n"
                        "  <vcpu>1</vcpu>\n"
                        "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                        "  <devices>\n"
                        "    <emulator>" QEMU_BINARY "</emulator>\n"
                        "    <disk type='file' device='disk'>\n"
                        "      <driver name='qemu' type='qcow2'%s/>\n"
                        "      <source file='%s'/>\n"
                        "%s"
                        "      <target dev='vda' bus='virtio'/>\n"
                        "    </disk>\n"
                        "%s"
                        "  </devices>\n"
                        "</domain>\n",
                        cacheAttr, top, backing ? backing : "", extra ? extra : "");
    qvirDomainDef *def = qvirDomainDefParseString(xml, 0, &error);

    g_assert_no_error(error);
    g_assert_nonnull(def);
    return def;
}

static qvirDomainDiskDef *
testDisk(qvirDomainDef *def, guint i)
{
    return g_ptr_array_index(def->disks, i);
}

static JsonObject *
testFindNode(JsonArray *nodes, const char *nodeName)
{
    guint i;

    for (i = 0; i < json_array_get_length(nodes); i++) {
        JsonObject *n = json_array_get_object_element(nodes, i);

        if (g_strcmp0(json_object_get_string_member(n, "node-name"), nodeName) == 0)
            return n;
    }
    return NULL;
}

/* QEMU's view of every layer must be the chain we cached: same files, same order,
 * O_DIRECT on every layer when the cache mode asks for it. */
static void
testAssertQemuChain(qemuProcess *proc, const qvirDomainDiskDef *disk, gboolean direct)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ret = NULL;
    JsonObject *args = json_object_new();
    const qvirStorageSource *src;
    JsonArray *nodes;

    json_object_set_boolean_member(args, "flat", TRUE);
    ret = qemuMonitorCommandSteal(qemuProcessGetMonitor(proc), "query-named-block-nodes", args,
                                  5000, &error);
    g_assert_no_error(error);
    nodes = json_node_get_array(ret);
    if (g_getenv("TEST_DUMP")) {
        g_autofree char *dump = json_to_string(ret, TRUE);
        g_printerr("%s\n", dump);
    }

    for (src = disk->src; qvirStorageSourceIsBacking(src); src = src->backingStore) {
        JsonObject *fmt;
        JsonObject *storage;

        g_assert_nonnull(src->nodeFormat);
        g_assert_nonnull(src->nodeStorage);
        fmt = testFindNode(nodes, src->nodeFormat);
        storage = testFindNode(nodes, src->nodeStorage);
        g_assert_nonnull(fmt);
        g_assert_nonnull(storage);
        /* (the format node's "file" is a json: pseudo-filename with explicit backing) */
        g_assert_cmpstr(json_object_get_string_member(storage, "file"), ==, src->path);
        g_assert_cmpstr(json_object_get_string_member(storage, "drv"), ==, "file");
        g_assert_cmpstr(json_object_get_string_member(fmt, "drv"), ==, "qcow2");
        g_assert_nonnull(strstr(json_object_get_string_member(fmt, "file"), src->path));
        g_assert_cmpint(
            json_object_get_boolean_member(json_object_get_object_member(fmt, "cache"), "direct"),
            ==, direct);
        g_assert_cmpint(json_object_get_boolean_member(
                            json_object_get_object_member(storage, "cache"), "direct"),
                        ==, direct);
        /* flat=true leaves backing_file_depth at 0; backing_file names the layer below */
        if (qvirStorageSourceIsBacking(src->backingStore)) {
            g_assert_nonnull(testFindNode(nodes, src->backingStore->nodeFormat));
            g_assert_true(json_object_has_member(fmt, "backing_file"));
            g_assert_nonnull(strstr(json_object_get_string_member(fmt, "backing_file"),
                                    src->backingStore->path));
        } else {
            g_assert_false(json_object_has_member(fmt, "backing_file"));
        }
    }
}

static gboolean
testNoChildren(void)
{
    int status;

    return waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

static void
testStartChainCacheNone(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *status = NULL;
    g_autofree char *keyPath = NULL;
    g_autofree char *key = NULL;
    qemuProcessStartOpts opts;
    qvirDomainDiskDef *disk;
    qemuProcess *proc;
    gsize keyLen = 0;
    struct stat sb;
    gint64 t0;
    guint64 probes;
    pid_t pid;

    testDomainInit(&td);
    testStateInit(&st);
    def = testParseDomain(td.top, "none", NULL, NULL);
    disk = testDisk(def, 0);
    g_assert_null(disk->src->backingStore); /* nothing known before the start */
    opts = testDomainOpts(&td, FALSE);

    t0 = g_get_monotonic_time();
    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_no_error(error);
    g_assert_nonnull(proc);
    if (g_test_verbose())
        g_printerr("start (probe+argv+spawn+QMP+cont) -> running: %" G_GINT64_FORMAT " ms\n",
                   (g_get_monotonic_time() - t0) / 1000);
    pid = qemuProcessGetPid(proc);

    /* the chain was filled once, top to a terminator */
    g_assert_cmpuint(qvirStorageSourceChainLength(disk->src), ==, 3);
    g_assert_true(qvirStorageSourceChainIsTerminated(disk->src));
    g_assert_cmpstr(disk->src->backingStore->path, ==, td.mid);
    g_assert_cmpstr(disk->src->backingStore->backingStore->path, ==, td.base);
    g_assert_cmpint(disk->src->backingStore->backingStore->format, ==, QVIR_STORAGE_FILE_QCOW2);

    status = testQueryStatus(proc);
    g_assert_cmpstr(status, ==, "running");
    testAssertQemuChain(proc, disk, TRUE);

    /* while it runs, the images are not read again */
    probes = qvirStorageProbeCounter();
    g_assert_true(qemuProcessCheckDirectIO(disk, &error));
    g_assert_cmpuint(qvirStorageProbeCounter(), ==, probes);

    /* the master key the command line points QEMU at */
    keyPath = g_build_filename(td.domainDir, "master-key.aes", NULL);
    g_assert_cmpint(stat(keyPath, &sb), ==, 0);
    g_assert_cmpint(sb.st_mode & 0777, ==, 0600);
    g_assert_true(g_file_get_contents(keyPath, &key, &keyLen, NULL));
    g_assert_cmpuint(keyLen, ==, 32);

    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    g_assert_true(testPidGone(pid));
    g_assert_false(g_file_test(qemuProcessGetMonitorPath(proc), G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(keyPath, G_FILE_TEST_EXISTS));
    qemuProcessFree(proc);
    g_assert_cmpint(st.exits, ==, 0);
    g_assert_true(testNoChildren());

    testStateClear(&st);
    testDomainClear(&td);
}

/*
 * QED over qcow2 over qcow2, as libvirt 9.0 starts it (its AUTO_SAFE rule): the QED does
 * not record its backing's format, so the qcow2 below is guessed and followed to the end.
 * The -blockdev nodes link the whole chain, QEMU opens each layer with the probed driver,
 * and the live XML carries <format type='qcow2'/> for the guessed layer.
 */
static void
testStartQedBackingProbed(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *qed = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *live = NULL;
    g_autofree char *logPath = NULL;
    g_autofree char *log = NULL;
    g_autofree char *expectTop = NULL;
    g_autofree char *expectLive = NULL;
    const char *create[] = {"qemu-img",  "create", "-q",    "-f", "qed", "-b",
                            "mid.qcow2", "-F",     "qcow2", NULL, NULL};
    const qvirStorageSource *mid;
    qemuProcessStartOpts opts;
    qemuProcess *proc;
    JsonArray *nodes;

    testDomainInit(&td);
    testStateInit(&st);
    qed = g_build_filename(td.imgDir, "top.qed", NULL);
    create[9] = qed;
    qvirTestRunOk(create);
    xml = g_strdup_printf("<domain type='qemu'>\n"
                          "  <name>chain</name>\n"
                          "  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n"
                          "  <memory unit='MiB'>64</memory>\n"
                          "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                          "  <devices>\n"
                          "    <emulator>" QEMU_BINARY "</emulator>\n"
                          "    <disk type='file' device='disk'>\n"
                          "      <driver name='qemu' type='qed'/>\n"
                          "      <source file='%s'/>\n"
                          "      <target dev='vda' bus='virtio'/>\n"
                          "    </disk>\n"
                          "  </devices>\n"
                          "</domain>\n",
                          qed);
    def = qvirDomainDefParseString(xml, 0, &error);
    g_assert_no_error(error);
    opts = testDomainOpts(&td, TRUE);

    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_no_error(error);
    g_assert_nonnull(proc);
    g_assert_cmpuint(qvirStorageSourceChainLength(testDisk(def, 0)->src), ==, 3);
    mid = testDisk(def, 0)->src->backingStore;
    g_assert_cmpint(mid->format, ==, QVIR_STORAGE_FILE_QCOW2);
    g_assert_cmpint(mid->backingStore->format, ==, QVIR_STORAGE_FILE_QCOW2);

    /* argv: the QED's format node names the probed qcow2 as its backing */
    logPath = g_build_filename(td.logDir, "chain.log", NULL);
    g_assert_true(g_file_get_contents(logPath, &log, NULL, NULL));
    expectTop = g_strdup_printf("\"driver\":\"qed\",\"file\":\"%s\",\"backing\":\"%s\"",
                                testDisk(def, 0)->src->nodeStorage, mid->nodeFormat);
    g_assert_nonnull(strstr(log, expectTop));
    g_assert_nonnull(strstr(log, "\"driver\":\"qcow2\""));

    /* QEMU opened every layer with the intended driver */
    {
        JsonObject *args = json_object_new();
        const char *drivers[] = {"qed", "qcow2", "qcow2"};
        const qvirStorageSource *src = testDisk(def, 0)->src;

        json_object_set_boolean_member(args, "flat", TRUE);
        ret = qemuMonitorCommandSteal(qemuProcessGetMonitor(proc), "query-named-block-nodes", args,
                                      5000, &error);
        g_assert_no_error(error);
        nodes = json_node_get_array(ret);
        for (guint i = 0; i < G_N_ELEMENTS(drivers); i++, src = src->backingStore) {
            JsonObject *fmt = testFindNode(nodes, src->nodeFormat);

            g_assert_nonnull(fmt);
            g_assert_cmpstr(json_object_get_string_member(fmt, "drv"), ==, drivers[i]);
        }
    }

    /* live XML: the guessed layer shows its format, like libvirt's */
    live = qvirDomainDefFormat(def, QVIR_DOMAIN_DEF_FORMAT_LIVE);
    expectLive = g_strdup_printf("<backingStore type='file' index='%u'>\n"
                                 "        <format type='qcow2'/>\n"
                                 "        <source file='%s'/>\n",
                                 mid->id, td.mid);
    g_assert_nonnull(strstr(live, expectLive));

    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    qemuProcessFree(proc);
    g_assert_true(testNoChildren());
    testStateClear(&st);
    testDomainClear(&td);
}

/*
 * <on_reboot>destroy</on_reboot> with set-action: QEMU has -no-shutdown, so the start sets
 * the reboot action over QMP and a reset ends the domain as a shutdown; with the default
 * (restart) the same reset leaves it running. Both with and without -S at the start.
 */
static void
testStartOnRebootDestroy(void)
{
    static const qvirDomainLifecycleAction actions[] = {QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY,
                                                        QVIR_DOMAIN_LIFECYCLE_ACTION_RESTART};

    g_assert_true(qemuCapsGet(testCaps, QEMU_CAPS_SET_ACTION));
    for (size_t i = 0; i < G_N_ELEMENTS(actions); i++) {
        for (int paused = 0; paused <= 1; paused++) {
            TestDomain td;
            TestProcState st;
            g_autoptr(GError) error = NULL;
            g_autoptr(qvirDomainDef) def = NULL;
            g_autoptr(JsonNode) ret = NULL;
            g_autofree char *status = NULL;
            qemuProcessStartOpts opts;
            qemuProcess *proc;
            pid_t pid;

            testDomainInit(&td);
            testStateInit(&st);
            def = testParseDomain(td.top, NULL, NULL, NULL);
            def->onReboot = actions[i];
            opts = testDomainOpts(&td, paused);
            proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
            g_assert_no_error(error);
            pid = qemuProcessGetPid(proc);
            status = testQueryStatus(proc);
            g_assert_cmpstr(status, ==, paused ? "prelaunch" : "running");

            ret =
                qemuMonitorCommand(qemuProcessGetMonitor(proc), "system_reset", NULL, 5000, &error);
            g_assert_no_error(error);
            if (actions[i] == QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY) {
                g_assert_true(testStateWaitExit(&st, 10 * G_TIME_SPAN_SECOND));
                g_assert_cmpint(st.reason, ==, QEMU_PROCESS_EXIT_SHUTDOWN);
                g_assert_true(testStateHasEvent(&st, "SHUTDOWN"));
                g_assert_true(testPidGone(pid));
            } else {
                g_assert_false(testStateWaitExit(&st, G_TIME_SPAN_SECOND / 2));
                g_assert_true(testStateHasEvent(&st, "RESET"));
                g_assert_false(testStateHasEvent(&st, "SHUTDOWN"));
                g_assert_true(qemuProcessStop(proc, &error));
                g_assert_no_error(error);
            }
            qemuProcessFree(proc);
            testStateClear(&st);
            testDomainClear(&td);
        }
    }
}

/* The guest agent's channel listens on a socket in the domain directory; QEMU takes the
 * virtserialport and the virtio RNG as built. */
static void
testStartAgentChannel(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(JsonNode) chardevs = NULL;
    g_autofree char *sock = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;
    gboolean found = FALSE;
    JsonArray *arr;

    testDomainInit(&td);
    testStateInit(&st);
    def = testParseDomain(td.top, NULL, NULL,
                          "    <channel type='unix'>\n"
                          "      <target type='virtio' name='org.qemu.guest_agent.0'/>\n"
                          "    </channel>\n"
                          "    <rng model='virtio'>\n"
                          "      <backend model='random'>/dev/urandom</backend>\n"
                          "    </rng>\n");
    opts = testDomainOpts(&td, TRUE);
    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_no_error(error);

    sock = g_build_filename(td.domainDir, "org.qemu.guest_agent.0", NULL);
    g_assert_true(g_file_test(sock, G_FILE_TEST_EXISTS));
    chardevs = qemuMonitorCommand(qemuProcessGetMonitor(proc), "query-chardev", NULL, 5000, &error);
    g_assert_no_error(error);
    arr = json_node_get_array(chardevs);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *c = json_array_get_object_element(arr, i);

        if (g_strcmp0(json_object_get_string_member(c, "label"), "charchannel0") == 0) {
            found = TRUE;
            g_assert_nonnull(strstr(json_object_get_string_member(c, "filename"), sock));
        }
    }
    g_assert_true(found);

    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    qemuProcessFree(proc);
    testStateClear(&st);
    testDomainClear(&td);
}

/* Whether process PID has PATH open. */
static gboolean
testPidHasFileOpen(pid_t pid, const char *path)
{
    g_autofree char *fdDir = g_strdup_printf("/proc/%d/fd", (int)pid);
    g_autoptr(GDir) d = g_dir_open(fdDir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *link = g_build_filename(fdDir, name, NULL);
        g_autofree char *target = g_file_read_link(link, NULL);

        if (g_strcmp0(target, path) == 0)
            return TRUE;
    }
    return FALSE;
}

/*
 * A file serial with a <log>: the daemon opens both (the source truncated, as append is
 * off by default; the log appended to, as asked) and QEMU writes through the passed fds.
 */
static void
testStartFileSerial(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *extra = NULL;
    g_autofree char *out = NULL;
    g_autofree char *log = NULL;
    g_autofree char *contents = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;

    testDomainInit(&td);
    testStateInit(&st);
    out = g_build_filename(td.imgDir, "serial, out.txt", NULL);
    log = g_build_filename(td.imgDir, "serial.log", NULL);
    g_assert_true(g_file_set_contents(out, "old output\n", -1, NULL));
    g_assert_true(g_file_set_contents(log, "kept\n", -1, NULL));
    extra = g_strdup_printf("    <serial type='file'>\n"
                            "      <source path='%s'/>\n"
                            "      <log file='%s' append='on'/>\n"
                            "    </serial>\n",
                            out, log);
    def = testParseDomain(td.top, NULL, NULL, extra);
    opts = testDomainOpts(&td, TRUE);
    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_no_error(error);

    g_assert_true(testPidHasFileOpen(qemuProcessGetPid(proc), out));
    g_assert_true(testPidHasFileOpen(qemuProcessGetPid(proc), log));
    g_assert_true(g_file_get_contents(out, &contents, NULL, NULL));
    g_assert_cmpstr(contents, ==, "");
    g_clear_pointer(&contents, g_free);
    g_assert_true(g_file_get_contents(log, &contents, NULL, NULL));
    g_assert_cmpstr(contents, ==, "kept\n");

    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    qemuProcessFree(proc);
    testStateClear(&st);
    testDomainClear(&td);
}

/* <vcpu cpuset=>: every thread of QEMU (emulator, vCPUs, workers) runs on those CPUs. */
static void
testStartCpuset(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *taskDir = NULL;
    g_autoptr(GDir) tasks = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;
    const char *task;
    guint ntasks = 0;

    testDomainInit(&td);
    testStateInit(&st);
    def = testParseDomain(td.top, NULL, NULL, NULL);
    def->cpumask = qvirBitmapParse("0", QVIR_DOMAIN_CPUMASK_LEN, &error);
    g_assert_no_error(error);
    opts = testDomainOpts(&td, FALSE);
    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_no_error(error);

    taskDir = g_strdup_printf("/proc/%d/task", (int)qemuProcessGetPid(proc));
    tasks = g_dir_open(taskDir, 0, &error);
    g_assert_no_error(error);
    while ((task = g_dir_read_name(tasks))) {
        g_autofree char *path = g_build_filename(taskDir, task, "status", NULL);
        g_autofree char *status = NULL;

        if (!g_file_get_contents(path, &status, NULL, NULL))
            continue; /* the thread is gone */
        g_assert_nonnull(strstr(status, "\nCpus_allowed_list:\t0\n"));
        ntasks++;
    }
    g_assert_cmpuint(ntasks, >, 1);

    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    qemuProcessFree(proc);
    testStateClear(&st);
    testDomainClear(&td);
}

/* <iotune> reaches QEMU through block_set_io_throttle before the guest runs. */
static void
testStartIotune(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(JsonNode) blocks = NULL;
    g_autofree char *status = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;
    JsonObject *inserted = NULL;
    JsonArray *arr;

    testDomainInit(&td);
    testStateInit(&st);
    def = testParseDomain(td.top, NULL,
                          "      <iotune>\n"
                          "        <read_bytes_sec>5000000</read_bytes_sec>\n"
                          "        <write_bytes_sec>6000000</write_bytes_sec>\n"
                          "        <total_iops_sec>700</total_iops_sec>\n"
                          "        <total_iops_sec_max>1400</total_iops_sec_max>\n"
                          "        <group_name>slow</group_name>\n"
                          "        <total_iops_sec_max_length>3</total_iops_sec_max_length>\n"
                          "      </iotune>\n",
                          NULL);
    opts = testDomainOpts(&td, FALSE);
    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_no_error(error);

    blocks = qemuMonitorCommand(qemuProcessGetMonitor(proc), "query-block", NULL, 5000, &error);
    g_assert_no_error(error);
    arr = json_node_get_array(blocks);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *b = json_array_get_object_element(arr, i);

        if (g_strcmp0(json_object_get_string_member_with_default(b, "qdev", ""),
                      "/machine/peripheral/virtio-disk0/virtio-backend") == 0)
            inserted = json_object_get_object_member(b, "inserted");
    }
    g_assert_nonnull(inserted);
    g_assert_cmpint(json_object_get_int_member(inserted, "bps"), ==, 0);
    g_assert_cmpint(json_object_get_int_member(inserted, "bps_rd"), ==, 5000000);
    g_assert_cmpint(json_object_get_int_member(inserted, "bps_wr"), ==, 6000000);
    g_assert_cmpint(json_object_get_int_member(inserted, "iops"), ==, 700);
    g_assert_cmpint(json_object_get_int_member(inserted, "iops_max"), ==, 1400);
    g_assert_cmpint(json_object_get_int_member(inserted, "iops_max_length"), ==, 3);
    g_assert_cmpstr(json_object_get_string_member(inserted, "group"), ==, "slow");
    status = testQueryStatus(proc);
    g_assert_cmpstr(status, ==, "running");

    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    qemuProcessFree(proc);
    testStateClear(&st);
    testDomainClear(&td);
}

/* A chain the XML already spells out (terminated) is used as is: no header is read. */
static void
testStartChainFromXML(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *backing = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;
    guint64 probes;

    testDomainInit(&td);
    testStateInit(&st);
    backing = g_strdup_printf("      <backingStore type='file'>\n"
                              "        <format type='qcow2'/>\n"
                              "        <source file='%s'/>\n"
                              "        <backingStore type='file'>\n"
                              "          <format type='qcow2'/>\n"
                              "          <source file='%s'/>\n"
                              "          <backingStore/>\n"
                              "        </backingStore>\n"
                              "      </backingStore>\n",
                              td.mid, td.base);
    def = testParseDomain(td.top, "writeback", backing, NULL);
    g_assert_true(qvirStorageSourceChainIsTerminated(testDisk(def, 0)->src));
    opts = testDomainOpts(&td, TRUE);

    probes = qvirStorageProbeCounter();
    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qvirStorageProbeCounter(), ==, probes);
    {
        g_autofree char *status = testQueryStatus(proc);
        g_assert_cmpstr(status, ==, "prelaunch"); /* the caller asked for paused */
    }
    testAssertQemuChain(proc, testDisk(def, 0), FALSE);

    g_assert_true(qemuProcessStop(proc, &error));
    qemuProcessFree(proc);
    testStateClear(&st);
    testDomainClear(&td);
}

/* default_disk_cache = none applies to disks without a cache mode, and is checked. */
static void
testStartDefaultCache(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;

    testDomainInit(&td);
    testStateInit(&st);
    def = testParseDomain(td.top, NULL, NULL, NULL);
    opts = testDomainOpts(&td, TRUE);
    opts.defaultDiskCache = QVIR_DOMAIN_DISK_CACHE_DISABLE;

    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_no_error(error);
    g_assert_cmpint(testDisk(def, 0)->cachemode, ==, QVIR_DOMAIN_DISK_CACHE_DISABLE);
    testAssertQemuChain(proc, testDisk(def, 0), TRUE);
    g_assert_true(qemuProcessStop(proc, &error));
    qemuProcessFree(proc);
    testStateClear(&st);
    testDomainClear(&td);
}

/* Images on a filesystem without O_DIRECT and cache none: a clear error before QEMU
 * runs, naming disk, file and filesystem; no process, no chain, no files left. */
static void
testStartDirectIOFailure(void)
{
    g_autofree char *ramfs = testMountRamfs();
    g_autofree char *base = NULL;
    g_autofree char *mid = NULL;
    g_autofree char *top = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *monitor = NULL;
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;

    if (!ramfs) {
        g_test_skip("cannot mount a ramfs here");
        return;
    }
    testDomainInit(&td);
    testStateInit(&st);
    testMakeChain(ramfs, &base, &mid, &top);
    def = testParseDomain(top, "none", NULL, NULL);
    opts = testDomainOpts(&td, FALSE);

    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_null(proc);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED);
    expected = g_strdup_printf("disk 'vda': file '%s' on a ramfs filesystem does not support "
                               "O_DIRECT needed by cache mode 'none'",
                               top);
    g_assert_cmpstr(error->message, ==, expected);

    g_assert_null(testDisk(def, 0)->src->backingStore); /* the probed chain was dropped */
    g_assert_true(testNoChildren());
    monitor = g_build_filename(td.runDir, "chain.monitor", NULL);
    g_assert_false(g_file_test(monitor, G_FILE_TEST_EXISTS));
    g_assert_cmpint(st.exits, ==, 0);

    testUnmountRamfs(g_steal_pointer(&ramfs));
    testStateClear(&st);
    testDomainClear(&td);
}

static void
testStartMissingBacking(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;

    testDomainInit(&td);
    testStateInit(&st);
    g_assert_cmpint(g_unlink(td.mid), ==, 0);
    def = testParseDomain(td.top, "none", NULL, NULL);
    opts = testDomainOpts(&td, FALSE);

    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_null(proc);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "mid.qcow2"));
    g_assert_null(testDisk(def, 0)->src->backingStore);
    g_assert_true(testNoChildren());
    g_assert_cmpint(st.exits, ==, 0);
    testStateClear(&st);
    testDomainClear(&td);
}

/* QEMU itself refuses (a second disk whose XML chain names a file that is not there):
 * the first disk's freshly probed chain is rolled back, the child reaped, files gone. */
static void
testStartQemuFailureRollback(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *extra = NULL;
    g_autofree char *monitor = NULL;
    g_autofree char *keyPath = NULL;
    g_autofree char *ghost = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;

    testDomainInit(&td);
    testStateInit(&st);
    ghost = g_build_filename(td.imgDir, "ghost.qcow2", NULL);
    extra = g_strdup_printf("    <disk type='file' device='disk'>\n"
                            "      <driver name='qemu' type='qcow2' cache='writeback'/>\n"
                            "      <source file='%s'/>\n"
                            "      <backingStore/>\n"
                            "      <target dev='vdb' bus='virtio'/>\n"
                            "    </disk>\n",
                            ghost);
    def = testParseDomain(td.top, "none", NULL, extra);
    opts = testDomainOpts(&td, FALSE);

    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);
    g_assert_null(proc);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
    g_assert_nonnull(strstr(error->message, "process exited while connecting to monitor"));
    g_assert_nonnull(strstr(error->message, "ghost.qcow2"));

    g_assert_null(testDisk(def, 0)->src->backingStore);
    /* the XML's own chain of the second disk is not ours to drop */
    g_assert_true(qvirStorageSourceChainIsTerminated(testDisk(def, 1)->src));
    g_assert_true(testNoChildren());
    monitor = g_build_filename(td.runDir, "chain.monitor", NULL);
    g_assert_false(g_file_test(monitor, G_FILE_TEST_EXISTS));
    keyPath = g_build_filename(td.domainDir, "master-key.aes", NULL);
    g_assert_false(g_file_test(keyPath, G_FILE_TEST_EXISTS));
    g_assert_cmpint(st.exits, ==, 0);
    testStateClear(&st);
    testDomainClear(&td);
}

static void
testStartCrashAndReconnect(void)
{
    TestDomain td;
    TestProcState st1, st2;
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *monitor = NULL;
    qemuProcessStartOpts opts;
    qemuProcess *proc;
    pid_t pid;

    testDomainInit(&td);
    testStateInit(&st1);
    testStateInit(&st2);
    def = testParseDomain(td.top, "none", NULL, NULL);
    opts = testDomainOpts(&td, FALSE);

    proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st1, &error);
    g_assert_no_error(error);
    pid = qemuProcessGetPid(proc);
    monitor = g_strdup(qemuProcessGetMonitorPath(proc));

    /* the daemon goes away and comes back */
    qemuProcessFree(proc);
    proc = qemuProcessReconnect(pid, monitor, &testCallbacks, &st2, &error);
    g_assert_no_error(error);
    testAssertQemuChain(proc, testDisk(def, 0), TRUE);

    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    g_assert_true(testStateWaitExit(&st2, 10 * G_TIME_SPAN_SECOND));
    g_assert_cmpint(st2.reason, ==, QEMU_PROCESS_EXIT_CRASHED);
    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_false(g_file_test(monitor, G_FILE_TEST_EXISTS));
    qemuProcessFree(proc);
    g_assert_cmpint(st1.exits, ==, 0);
    g_assert_cmpint(st2.exits, ==, 1);
    g_assert_true(testNoChildren());
    testStateClear(&st1);
    testStateClear(&st2);
    testDomainClear(&td);
}

/* Start to running, N times: the figure the daemon's "virsh start" is made of. */
static void
testStartLatency(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    gint64 total = 0, best = G_MAXINT64, stopTotal = 0;
    const int n = 5;
    int i;

    testDomainInit(&td);
    testStateInit(&st);
    for (i = 0; i < n; i++) {
        g_autoptr(qvirDomainDef) def = testParseDomain(td.top, "none", NULL, NULL);
        qemuProcessStartOpts opts = testDomainOpts(&td, FALSE);
        gint64 t0 = g_get_monotonic_time();
        gint64 t1;
        qemuProcess *proc = qemuProcessStart(def, testCaps, &opts, &testCallbacks, &st, &error);

        g_assert_no_error(error);
        t1 = g_get_monotonic_time() - t0;
        total += t1;
        best = MIN(best, t1);
        t0 = g_get_monotonic_time();
        g_assert_true(qemuProcessStop(proc, &error));
        stopTotal += g_get_monotonic_time() - t0;
        qemuProcessFree(proc);
    }
    g_test_message("start->running: mean %" G_GINT64_FORMAT " ms, best %" G_GINT64_FORMAT
                   " ms; stop: mean %" G_GINT64_FORMAT " ms (%d runs)",
                   total / n / 1000, best / 1000, stopTotal / n / 1000, n);
    if (g_test_verbose())
        g_printerr("start->running: mean %" G_GINT64_FORMAT " ms, best %" G_GINT64_FORMAT
                   " ms; stop: mean %" G_GINT64_FORMAT " ms (%d runs)\n",
                   total / n / 1000, best / 1000, stopTotal / n / 1000, n);
    /* generous bound: a regression to seconds (a missed wake-up, a sleep) must show */
    g_assert_cmpint(total / n, <, 3 * G_TIME_SPAN_SECOND);
    g_assert_cmpint(stopTotal / n, <, 2 * G_TIME_SPAN_SECOND);
    testStateClear(&st);
    testDomainClear(&td);
}

/* ---- the daemon dies, QEMU lives on ------------------------------------------------ */

#define TEST_SPAWN_DOMAIN_ARG "--spawn-domain"

static void
testDomainPaths(TestDomain *td, const char *imgDir)
{
    td->imgDir = g_strdup(imgDir);
    td->runDir = g_build_filename(imgDir, "run", NULL);
    td->logDir = g_build_filename(imgDir, "log", NULL);
    td->domainDir = g_build_filename(imgDir, "domain-1-chain", NULL);
    td->base = g_build_filename(imgDir, "base.qcow2", NULL);
    td->mid = g_build_filename(imgDir, "mid.qcow2", NULL);
    td->top = g_build_filename(imgDir, "top.qcow2", NULL);
}

/* Child mode: a "daemon" that starts the chain domain, prints "PID MONITOR" and dies on
 * the spot, without stopping or even freeing anything. */
static int
testSpawnDomainChild(const char *imgDir)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    TestDomain td;
    qemuProcessStartOpts opts;
    qemuProcess *proc;

    testDomainPaths(&td, imgDir);
    def = testParseDomain(td.top, "none", NULL, NULL);
    opts = testDomainOpts(&td, FALSE);
    if (!(proc = qemuProcessStart(def, testCaps, &opts, NULL, NULL, &error))) {
        g_printerr("start failed: %s\n", error->message);
        return 1;
    }
    printf("%d %s\n", (int)qemuProcessGetPid(proc), qemuProcessGetMonitorPath(proc));
    fflush(stdout);
    _exit(0);
}

static void
testReconnectAfterDaemonDeath(void)
{
    TestDomain td;
    TestProcState st;
    g_autoptr(GError) error = NULL;
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *status = NULL;
    g_auto(GStrv) fields = NULL;
    g_autoptr(JsonNode) nodes = NULL;
    JsonObject *args = json_object_new();
    const char *paths[3];
    const char *argv[] = {self, TEST_SPAWN_DOMAIN_ARG, NULL, NULL};
    qemuProcess *proc;
    gint64 deadline;
    guint i, j;
    pid_t pid;
    int wstatus;

    testDomainInit(&td);
    testStateInit(&st);
    argv[2] = td.imgDir;
    g_assert_cmpint(qvirTestRun(argv, &out, &err), ==, 0);
    fields = g_strsplit(g_strstrip(out), " ", 2);
    g_assert_cmpuint(g_strv_length(fields), ==, 2);
    pid = (pid_t)g_ascii_strtoll(fields[0], NULL, 10);
    g_assert_cmpint(pid, >, 0);

    /* its parent is gone; QEMU is not ours, but alive, its log still written */
    g_assert_false(testPidGone(pid));
    g_assert_cmpint(waitpid(pid, &wstatus, WNOHANG), ==, -1);
    g_assert_cmpint(getsid(pid), ==, pid);

    proc = qemuProcessReconnect(pid, fields[1], &testCallbacks, &st, &error);
    g_assert_no_error(error);
    status = testQueryStatus(proc);
    g_assert_cmpstr(status, ==, "running");

    /* the chain QEMU holds is the one the dead daemon started it with */
    json_object_set_boolean_member(args, "flat", TRUE);
    nodes = qemuMonitorCommandSteal(qemuProcessGetMonitor(proc), "query-named-block-nodes", args,
                                    5000, &error);
    g_assert_no_error(error);
    paths[0] = td.top;
    paths[1] = td.mid;
    paths[2] = td.base;
    for (i = 0; i < G_N_ELEMENTS(paths); i++) {
        gboolean found = FALSE;
        JsonArray *arr = json_node_get_array(nodes);

        for (j = 0; j < json_array_get_length(arr); j++) {
            JsonObject *n = json_array_get_object_element(arr, j);

            if (g_strcmp0(json_object_get_string_member(n, "drv"), "file") == 0 &&
                g_strcmp0(json_object_get_string_member(n, "file"), paths[i]) == 0)
                found = TRUE;
        }
        g_assert_true(found);
    }

    g_assert_true(qemuProcessStop(proc, &error));
    g_assert_no_error(error);
    qemuProcessFree(proc);
    deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    while (!testPidGone(pid) && g_get_monotonic_time() < deadline)
        g_usleep(10000);
    g_assert_true(testPidGone(pid));
    g_assert_false(g_file_test(fields[1], G_FILE_TEST_EXISTS));
    g_assert_cmpint(st.exits, ==, 0);
    testStateClear(&st);
    testDomainClear(&td);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cacheDir = qvirTestBuildPath("tests/qemuprocesstest-data/caps");

    g_mkdir_with_parents(cacheDir, 0700);
    testCaps = qemuCapsCacheLookup(QEMU_BINARY, cacheDir, &error);
    if (!testCaps)
        g_error("cannot probe %s: %s", QEMU_BINARY, error->message);
    if (argc == 3 && g_str_equal(argv[1], TEST_SPAWN_DOMAIN_ARG))
        return testSpawnDomainChild(argv[2]);

    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/qemuprocess/launch/stop", testLaunchStop);
    g_test_add_func("/qemuprocess/launch/paused", testLaunchPaused);
    g_test_add_func("/qemuprocess/launch/failure", testLaunchFailure);
    g_test_add_func("/qemuprocess/launch/stop-hung", testStopHung);
    g_test_add_func("/qemuprocess/exit/sigkill", testCrashSigkill);
    g_test_add_func("/qemuprocess/exit/quit", testQuitIsShutdown);
    g_test_add_func("/qemuprocess/exit/guest-shutdown", testGuestShutdownNoShutdown);
    g_test_add_func("/qemuprocess/exit/monitor-lost", testMonitorLost);
    g_test_add_func("/qemuprocess/reconnect/child", testReconnectChild);
    g_test_add_func("/qemuprocess/reconnect/orphan", testReconnectOrphan);
    g_test_add_func("/qemuprocess/reconnect/orphan-stop", testReconnectOrphanStop);
    g_test_add_func("/qemuprocess/reconnect/powered-off", testReconnectPoweredOff);
    g_test_add_func("/qemuprocess/reconnect/errors", testReconnectErrors);
    g_test_add_func("/qemuprocess/directio", testDirectIOCheck);
    g_test_add_func("/qemuprocess/start/chain-cache-none", testStartChainCacheNone);
    g_test_add_func("/qemuprocess/start/chain-from-xml", testStartChainFromXML);
    g_test_add_func("/qemuprocess/start/qed-backing-probed", testStartQedBackingProbed);
    g_test_add_func("/qemuprocess/start/on-reboot-destroy", testStartOnRebootDestroy);
    g_test_add_func("/qemuprocess/start/agent-channel", testStartAgentChannel);
    g_test_add_func("/qemuprocess/start/file-serial", testStartFileSerial);
    g_test_add_func("/qemuprocess/start/cpuset", testStartCpuset);
    g_test_add_func("/qemuprocess/start/iotune", testStartIotune);
    g_test_add_func("/qemuprocess/start/default-cache", testStartDefaultCache);
    g_test_add_func("/qemuprocess/start/directio-failure", testStartDirectIOFailure);
    g_test_add_func("/qemuprocess/start/missing-backing", testStartMissingBacking);
    g_test_add_func("/qemuprocess/start/qemu-failure-rollback", testStartQemuFailureRollback);
    g_test_add_func("/qemuprocess/start/crash-reconnect", testStartCrashAndReconnect);
    g_test_add_func("/qemuprocess/start/reconnect-after-daemon-death",
                    testReconnectAfterDaemonDeath);
    g_test_add_func("/qemuprocess/start/latency", testStartLatency);

    {
        int ret = g_test_run();

        qemuCapsFree(testCaps);
        return ret;
    }
}
