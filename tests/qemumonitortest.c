/*
 * QMP client against a real QEMU 7.2 (-S -machine none, TCG) and against a scripted fake
 * server on a socketpair for the protocol corners QEMU never produces.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutils.h"
#include "qemu/qemu_monitor.h"
#include "util/virerror.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"

typedef struct {
    GMutex lock;
    GCond cond;
    GPtrArray *events; /* event names, in order */
    int eofs;
    gboolean closeOnEof;
} TestMonitorState;

static void
testStateInit(TestMonitorState *st)
{
    memset(st, 0, sizeof(*st));
    g_mutex_init(&st->lock);
    g_cond_init(&st->cond);
    st->events = g_ptr_array_new_with_free_func(g_free);
}

static void
testStateClear(TestMonitorState *st)
{
    g_ptr_array_unref(st->events);
    g_mutex_clear(&st->lock);
    g_cond_clear(&st->cond);
}

static void
testEventCb(qemuMonitor *mon, const char *name, JsonObject *data, gpointer opaque)
{
    TestMonitorState *st = opaque;

    g_mutex_lock(&st->lock);
    g_ptr_array_add(st->events, g_strdup(name));
    g_cond_broadcast(&st->cond);
    g_mutex_unlock(&st->lock);
}

static void
testEofCb(qemuMonitor *mon, gpointer opaque)
{
    TestMonitorState *st = opaque;

    if (st->closeOnEof)
        qemuMonitorClose(mon); /* from the reader thread itself */
    g_mutex_lock(&st->lock);
    st->eofs++;
    g_cond_broadcast(&st->cond);
    g_mutex_unlock(&st->lock);
}

static const qemuMonitorCallbacks testCallbacks = {
    .event = testEventCb,
    .eof = testEofCb,
};

/* Wait until event NAME was seen (or EOF when NAME is NULL), at most 10 s. */
static gboolean
testStateWait(TestMonitorState *st, const char *name)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    gboolean found = FALSE;

    g_mutex_lock(&st->lock);
    for (;;) {
        guint i;

        if (!name) {
            found = st->eofs > 0;
        } else {
            for (i = 0; i < st->events->len; i++)
                if (g_str_equal(g_ptr_array_index(st->events, i), name))
                    found = TRUE;
        }
        if (found || !g_cond_wait_until(&st->cond, &st->lock, deadline))
            break;
    }
    g_mutex_unlock(&st->lock);
    return found;
}

typedef struct {
    GPid pid;
    char *dir;
    char *sock;
} TestQemu;

static void
testQemuStart(TestQemu *q)
{
    g_autofree char *qmp = NULL;
    g_autoptr(GError) error = NULL;

    q->dir = qvirTestTempDirNew("qemumonitortest");
    q->sock = g_build_filename(q->dir, "qmp.sock", NULL);
    qmp = g_strdup_printf("unix:%s,server=on,wait=off", q->sock);
    {
        const char *argv[] = {QEMU_BINARY, "-S",   "-machine", "none", "-nodefaults",
                              "-display",  "none", "-qmp",     qmp,    NULL};

        g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                        G_SPAWN_STDERR_TO_DEV_NULL,
                                    NULL, NULL, &q->pid, &error));
    }
    g_assert_no_error(error);
}

static void
testQemuStop(TestQemu *q)
{
    int status;

    kill(q->pid, SIGCONT);
    kill(q->pid, SIGKILL);
    g_assert_cmpint(waitpid(q->pid, &status, 0), ==, q->pid);
    qvirTestTempDirRemove(q->dir);
    g_free(q->dir);
    g_free(q->sock);
}

static qemuMonitor *
testQemuConnect(TestQemu *q, TestMonitorState *st)
{
    g_autoptr(GError) error = NULL;
    qemuMonitor *mon = qemuMonitorOpenUnix(q->sock, 10000, &testCallbacks, st, &error);

    g_assert_no_error(error);
    g_assert_nonnull(mon);
    return mon;
}

static void
testQueryVersionStatus(void)
{
    TestQemu q;
    TestMonitorState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ver = NULL;
    g_autoptr(JsonNode) status = NULL;
    g_autoptr(JsonObject) greeting = NULL;
    qemuMonitor *mon;
    JsonObject *qemu;

    testStateInit(&st);
    testQemuStart(&q);
    mon = testQemuConnect(&q, &st);

    greeting = qemuMonitorGetGreeting(mon);
    g_assert_nonnull(greeting);
    g_assert_true(json_object_has_member(greeting, "QMP"));

    ver = qemuMonitorCommand(mon, "query-version", NULL, 5000, &error);
    g_assert_no_error(error);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(ver));
    qemu = json_object_get_object_member(json_node_get_object(ver), "qemu");
    g_assert_cmpint(json_object_get_int_member(qemu, "major"), ==, 7);
    g_assert_cmpint(json_object_get_int_member(qemu, "minor"), ==, 2);

    status = qemuMonitorCommand(mon, "query-status", NULL, 5000, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(json_object_get_string_member(json_node_get_object(status), "status"), ==,
                    "prelaunch");
    g_assert_false(json_object_get_boolean_member(json_node_get_object(status), "running"));
    g_assert_false(qemuMonitorIsEOF(mon));

    qemuMonitorClose(mon);
    testQemuStop(&q);
    /* closed before QEMU died: the eof callback must not have run */
    g_assert_cmpint(st.eofs, ==, 0);
    testStateClear(&st);
}

static void
testCommandErrors(void)
{
    TestQemu q;
    TestMonitorState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(JsonNode) ok = NULL;
    qemuMonitor *mon;
    JsonObject *args;

    testStateInit(&st);
    testQemuStart(&q);
    mon = testQemuConnect(&q, &st);

    ret = qemuMonitorCommand(mon, "no-such-command", NULL, 5000, &error);
    g_assert_null(ret);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
    g_assert_nonnull(strstr(error->message, "no-such-command"));
    g_assert_nonnull(strstr(error->message, "has not been found"));
    g_clear_error(&error);

    /* a wrong argument: QEMU's desc is passed on */
    args = json_object_new();
    json_object_set_string_member(args, "node-name", "nope");
    json_object_set_boolean_member(args, "bogus-argument", TRUE);
    ret = qemuMonitorCommandSteal(mon, "blockdev-del", args, 5000, &error);
    g_assert_null(ret);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
    g_assert_nonnull(strstr(error->message, "bogus-argument"));
    g_clear_error(&error);

    /* the connection is still usable; {} comes back as an empty object */
    ok = qemuMonitorCommand(mon, "stop", NULL, 5000, &error);
    g_assert_no_error(error);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(ok));
    g_assert_cmpint(json_object_get_size(json_node_get_object(ok)), ==, 0);

    qemuMonitorClose(mon);
    testQemuStop(&q);
    testStateClear(&st);
}

static void
testEvents(void)
{
    TestQemu q;
    TestMonitorState st;
    g_autoptr(GError) error = NULL;
    qemuMonitor *mon;
    JsonNode *ret;

    testStateInit(&st);
    testQemuStart(&q);
    mon = testQemuConnect(&q, &st);

    ret = qemuMonitorCommand(mon, "cont", NULL, 5000, &error);
    g_assert_no_error(error);
    json_node_unref(ret);
    g_assert_true(testStateWait(&st, "RESUME"));

    ret = qemuMonitorCommand(mon, "stop", NULL, 5000, &error);
    g_assert_no_error(error);
    json_node_unref(ret);
    g_assert_true(testStateWait(&st, "STOP"));

    g_mutex_lock(&st.lock);
    g_assert_cmpuint(st.events->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(st.events, 0), ==, "RESUME");
    g_assert_cmpstr(g_ptr_array_index(st.events, 1), ==, "STOP");
    g_mutex_unlock(&st.lock);

    qemuMonitorClose(mon);
    testQemuStop(&q);
    testStateClear(&st);
}

static void
testEofOnKill(void)
{
    TestQemu q;
    TestMonitorState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ret = NULL;
    qemuMonitor *mon;

    testStateInit(&st);
    testQemuStart(&q);
    mon = testQemuConnect(&q, &st);

    kill(q.pid, SIGKILL);
    g_assert_true(testStateWait(&st, NULL));
    g_assert_true(qemuMonitorIsEOF(mon));

    ret = qemuMonitorCommand(mon, "query-status", NULL, 5000, &error);
    g_assert_null(ret);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED);
    g_assert_cmpstr(error->message, ==, "QEMU monitor connection closed");

    g_usleep(50 * 1000);
    qemuMonitorClose(mon);
    g_assert_cmpint(st.eofs, ==, 1);
    testQemuStop(&q);
    testStateClear(&st);
}

static void
testCloseFromEofCallback(void)
{
    TestQemu q;
    TestMonitorState st;

    testStateInit(&st);
    st.closeOnEof = TRUE;
    testQemuStart(&q);
    testQemuConnect(&q, &st); /* the eof callback closes and frees it */

    kill(q.pid, SIGKILL);
    g_assert_true(testStateWait(&st, NULL));
    g_assert_cmpint(st.eofs, ==, 1);
    testQemuStop(&q);
    testStateClear(&st);
}

static void
testTimeout(void)
{
    TestQemu q;
    TestMonitorState st;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(JsonNode) ver = NULL;
    qemuMonitor *mon;
    gint64 start, elapsed;

    testStateInit(&st);
    testQemuStart(&q);
    mon = testQemuConnect(&q, &st);

    g_assert_cmpint(kill(q.pid, SIGSTOP), ==, 0);
    start = g_get_monotonic_time();
    ret = qemuMonitorCommand(mon, "query-status", NULL, 300, &error);
    elapsed = g_get_monotonic_time() - start;
    g_assert_null(ret);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT);
    g_assert_nonnull(strstr(error->message, "query-status"));
    g_assert_cmpint(elapsed, >=, 290 * 1000);
    g_assert_cmpint(elapsed, <, 3 * G_TIME_SPAN_SECOND);
    g_clear_error(&error);

    /* The late query-status reply must not be taken for the next command's. */
    g_assert_cmpint(kill(q.pid, SIGCONT), ==, 0);
    ver = qemuMonitorCommand(mon, "query-version", NULL, 5000, &error);
    g_assert_no_error(error);
    g_assert_true(json_object_has_member(json_node_get_object(ver), "qemu"));

    qemuMonitorClose(mon);
    testQemuStop(&q);
    testStateClear(&st);
}

typedef struct {
    qemuMonitor *mon;
    int failures;
} TestConcurrent;

static gpointer
testConcurrentThread(gpointer data)
{
    TestConcurrent *tc = data;
    int i;

    for (i = 0; i < 25; i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) a = qemuMonitorCommand(tc->mon, "query-status", NULL, 10000, &error);
        g_autoptr(JsonNode) b = qemuMonitorCommand(tc->mon, "query-version", NULL, 10000, &error);

        if (!a || !b || !json_object_has_member(json_node_get_object(a), "status") ||
            !json_object_has_member(json_node_get_object(b), "qemu"))
            g_atomic_int_inc(&tc->failures);
    }
    return NULL;
}

static void
testConcurrentCommands(void)
{
    TestQemu q;
    TestMonitorState st;
    TestConcurrent tc = {0};
    GThread *threads[4];
    guint i;

    testStateInit(&st);
    testQemuStart(&q);
    tc.mon = testQemuConnect(&q, &st);

    for (i = 0; i < G_N_ELEMENTS(threads); i++)
        threads[i] = g_thread_new("cmd", testConcurrentThread, &tc);
    for (i = 0; i < G_N_ELEMENTS(threads); i++)
        g_thread_join(threads[i]);
    g_assert_cmpint(tc.failures, ==, 0);

    qemuMonitorClose(tc.mon);
    testQemuStop(&q);
    testStateClear(&st);
}

/* QMP over a pair of pipes (-chardev stdio): qemuMonitorOpenFds with rfd != wfd. */
static void
testOpenFdsStdio(void)
{
    const char *argv[] = {QEMU_BINARY,
                          "-S",
                          "-machine",
                          "none",
                          "-nodefaults",
                          "-display",
                          "none",
                          "-chardev",
                          "stdio,id=mon0",
                          "-mon",
                          "chardev=mon0,mode=control",
                          NULL};
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) status = NULL;
    TestMonitorState st;
    qemuMonitor *mon;
    GPid pid;
    int in, out, wstatus;

    testStateInit(&st);
    g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                           NULL, NULL, &pid, &in, &out, NULL, &error));
    g_assert_no_error(error);

    mon = qemuMonitorOpenFds(out, in, 10000, &testCallbacks, &st, &error);
    g_assert_no_error(error);
    status = qemuMonitorCommand(mon, "query-status", NULL, 5000, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(json_object_get_string_member(json_node_get_object(status), "status"), ==,
                    "prelaunch");

    kill(pid, SIGKILL);
    g_assert_true(testStateWait(&st, NULL));
    qemuMonitorClose(mon);
    g_assert_cmpint(waitpid(pid, &wstatus, 0), ==, pid);
    testStateClear(&st);
}

static void
testOpenUnixTimeout(void)
{
    g_autofree char *dir = qvirTestTempDirNew("qemumonitortest");
    g_autofree char *sock = g_build_filename(dir, "missing.sock", NULL);
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    qemuMonitor *mon = qemuMonitorOpenUnix(sock, 200, NULL, NULL, &error);

    g_assert_null(mon);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT);
    g_assert_nonnull(strstr(error->message, sock));
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 190 * 1000);
    qvirTestTempDirRemove(dir);
}

/* ---- a scripted fake QEMU on a socketpair ------------------------------------------ */

static void
testWriteAll(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        g_assert_cmpint(n, >, 0);
        data += n;
        len -= (gsize)n;
    }
}

static void
testWriteStr(int fd, const char *s)
{
    testWriteAll(fd, s, strlen(s));
}

/* Read one command line from the client and return its "id". */
static char *
testReadCommandId(int fd, char **execute)
{
    g_autoptr(GString) line = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonObject) obj = NULL;
    char c;

    while (read(fd, &c, 1) == 1 && c != '\n')
        g_string_append_c(line, c);
    obj = qemuMonitorParseLine(line->str, line->len, &error);
    g_assert_no_error(error);
    if (execute)
        *execute = g_strdup(json_object_get_string_member(obj, "execute"));
    return g_strdup(json_object_get_string_member(obj, "id"));
}

typedef struct {
    int fd;
} TestFakeServer;

static gpointer
testFakeServerThread(gpointer data)
{
    TestFakeServer *fs = data;
    g_autofree char *capsId = NULL;
    g_autofree char *cmdId = NULL;
    g_autofree char *execute = NULL;
    g_autofree char *reply = NULL;
    g_autofree char *deep = NULL;
    g_autofree char *wrong = NULL;
    const char *garbage[] = {
        "\r\n",
        "not json at all\r\n",
        "[1, 2, 3]\r\n",
        "{\"unterminated\": \r\n",
        "\"just a string\"\r\n",
        "{\"event\": 42}\r\n",
        "{\"return\": {}, \"id\": 17}\r\n",
        "{\"neither\": true}\r\n",
        "{\"bad\xff utf8\": 1}\r\n",
    };
    guint i;

    /* garbage before the greeting is ignored */
    for (i = 0; i < G_N_ELEMENTS(garbage); i++)
        testWriteStr(fs->fd, garbage[i]);
    testWriteAll(fs->fd, "{\"nul\": \"a\0b\"}\r\n", 16);
    testWriteStr(fs->fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");

    capsId = testReadCommandId(fs->fd, &execute);
    g_assert_cmpstr(execute, ==, "qmp_capabilities");
    /* the reply arrives split over several writes */
    reply = g_strdup_printf("{\"return\": {}, \"id\": \"%s\"}\r\n", capsId);
    testWriteAll(fs->fd, reply, 5);
    g_usleep(20 * 1000);
    testWriteStr(fs->fd, reply + 5);

    g_clear_pointer(&execute, g_free);
    cmdId = testReadCommandId(fs->fd, &execute);
    g_assert_cmpstr(execute, ==, "query-things");

    /* A hostile nesting, a reply for somebody else, an event, then ours. */
    deep = g_strnfill(100000, '[');
    testWriteStr(fs->fd, deep);
    testWriteStr(fs->fd, "\r\n");
    wrong = g_strdup_printf("{\"return\": {\"who\": \"other\"}, \"id\": \"%s-x\"}\r\n", cmdId);
    testWriteStr(fs->fd, wrong);
    for (i = 0; i < G_N_ELEMENTS(garbage); i++)
        testWriteStr(fs->fd, garbage[i]);
    testWriteStr(fs->fd, "{\"event\": \"BLOCK_JOB_READY\", \"data\": {\"device\": \"vda\"}, "
                         "\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n");
    g_free(reply);
    reply = g_strdup_printf("{\"return\": {\"who\": \"me\"}, \"id\": \"%s\"}\r\n", cmdId);
    testWriteStr(fs->fd, reply);

    /* a last event without data, then hang up */
    testWriteStr(fs->fd, "{\"event\": \"SHUTDOWN\"}\r\n");
    g_usleep(20 * 1000);
    close(fs->fd);
    return NULL;
}

static void
testFakeServerGarbage(void)
{
    TestMonitorState st;
    TestFakeServer fs;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) ret = NULL;
    qemuMonitor *mon;
    GThread *thread;
    int sv[2];

    testStateInit(&st);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    fs.fd = sv[1];
    thread = g_thread_new("fake-qemu", testFakeServerThread, &fs);

    mon = qemuMonitorOpenFds(sv[0], sv[0], 5000, &testCallbacks, &st, &error);
    g_assert_no_error(error);
    g_assert_nonnull(mon);

    ret = qemuMonitorCommand(mon, "query-things", NULL, 5000, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(json_object_get_string_member(json_node_get_object(ret), "who"), ==, "me");

    g_assert_true(testStateWait(&st, "BLOCK_JOB_READY"));
    g_assert_true(testStateWait(&st, "SHUTDOWN"));
    g_assert_true(testStateWait(&st, NULL));
    g_thread_join(thread);
    qemuMonitorClose(mon);

    g_assert_cmpuint(st.events->len, ==, 2);
    g_assert_cmpint(st.eofs, ==, 1);
    testStateClear(&st);
}

static gpointer
testSilentServerThread(gpointer data)
{
    int fd = GPOINTER_TO_INT(data);
    char buf[64];

    /* never greets; returns when the client hangs up */
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);
    return NULL;
}

static void
testGreetingTimeout(void)
{
    g_autoptr(GError) error = NULL;
    qemuMonitor *mon;
    GThread *thread;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    thread = g_thread_new("silent", testSilentServerThread, GINT_TO_POINTER(sv[1]));
    mon = qemuMonitorOpenFds(sv[0], sv[0], 200, NULL, NULL, &error);
    g_assert_null(mon);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT);
    g_assert_nonnull(strstr(error->message, "greeting"));
    g_thread_join(thread); /* the failed open closed our end */
}

/* Greets at once, then answers qmp_capabilities only after the client's open timeout. */
static gpointer
testLateCapsServerThread(gpointer data)
{
    int fd = GPOINTER_TO_INT(data);
    g_autofree char *capsId = NULL;
    g_autofree char *execute = NULL;
    g_autofree char *reply = NULL;

    testWriteStr(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
    capsId = testReadCommandId(fd, &execute);
    g_assert_cmpstr(execute, ==, "qmp_capabilities");
    g_usleep(600 * 1000);
    reply = g_strdup_printf("{\"return\": {}, \"id\": \"%s\"}\r\n", capsId);
    testWriteStr(fd, reply);
    {
        char buf[64];

        while (read(fd, buf, sizeof(buf)) > 0)
            ;
    }
    close(fd);
    return NULL;
}

/*
 * The open timeout covers QEMU's start up to its greeting; negotiation afterwards is not
 * squeezed into what is left of it (a start slowed by load used to leave qmp_capabilities
 * a few milliseconds, and the open failed on a QEMU that answered).
 */
static void
testCapsAfterOpenTimeout(void)
{
    g_autoptr(GError) error = NULL;
    qemuMonitor *mon;
    GThread *thread;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    thread = g_thread_new("late-caps", testLateCapsServerThread, GINT_TO_POINTER(sv[1]));
    mon = qemuMonitorOpenFds(sv[0], sv[0], 300, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(mon);
    qemuMonitorClose(mon);
    g_thread_join(thread);
}

static void
testParseLine(void)
{
    struct {
        const char *line;
        gssize len;
        gboolean ok;
    } cases[] = {
        {"{}", -1, TRUE},
        {"{\"return\": {}, \"id\": \"qvirt-1\"}", -1, TRUE},
        {"  {\"a\": [1, 2.5, null, true, \"\\u00e9\"]}  ", -1, TRUE},
        {"{\"s\": \"[[[[{{{{\"}", -1, TRUE},
        /* a surrogate pair is one character; escaped quotes and backslashes end nothing */
        {"{\"s\": \"\\ud83d\\ude00 \\\" \\\\\"}\r\n", -1, TRUE},
        {"{\"s\": \"\\ud83d\"}", -1, FALSE},
        {"{\"s\": \"\\ude00\\ud83d\"}", -1, FALSE},
        {"{} {}", -1, FALSE},
        {"{}x", -1, FALSE},
        {"", 0, FALSE},
        {"{", -1, FALSE},
        {"}", -1, FALSE},
        {"[]", -1, FALSE},
        {"null", -1, FALSE},
        {"42", -1, FALSE},
        {"\"str\"", -1, FALSE},
        {"{\"a\":}", -1, FALSE},
        {"{\"a\": \"\xc3\x28\"}", -1, FALSE},
        {"{\"a\": \"b\0c\"}", 12, FALSE},
        {"{\"a\": \"unterminated}", -1, FALSE},
    };
    g_autofree char *deep = NULL;
    g_autofree char *okDeep = NULL;
    guint i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        gsize len = cases[i].len < 0 ? strlen(cases[i].line) : (gsize)cases[i].len;
        g_autoptr(JsonObject) obj = qemuMonitorParseLine(cases[i].line, len, &error);

        if (cases[i].ok) {
            g_assert_no_error(error);
            g_assert_nonnull(obj);
        } else {
            g_assert_null(obj);
            g_assert_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
        }
    }

    /* Deep nesting is refused before json-glib recurses into it. */
    deep = g_strnfill(1000000, '{');
    {
        g_autoptr(GError) error = NULL;
        g_assert_null(qemuMonitorParseLine(deep, strlen(deep), &error));
        g_assert_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
        g_assert_nonnull(strstr(error->message, "nests deeper"));
    }
    /* ... while ordinary depth is fine */
    okDeep = g_strdup_printf("{\"a\":%s1%s}", "[[[[[[[[[[", "]]]]]]]]]]");
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonObject) obj = qemuMonitorParseLine(okDeep, strlen(okDeep), &error);
        g_assert_no_error(error);
        g_assert_nonnull(obj);
    }

    /* Every prefix of a valid message: no crash, only objects or errors. */
    {
        const char *msg = "{\"event\": \"STOP\", \"data\": {\"x\": [1, {\"y\": \"z\\\"\"}]}, "
                          "\"timestamp\": {\"seconds\": 1}}";
        gsize len;

        for (len = 0; len <= strlen(msg); len++) {
            g_autoptr(GError) error = NULL;
            g_autoptr(JsonObject) obj = qemuMonitorParseLine(msg, len, &error);

            g_assert_true((obj != NULL) == (error == NULL));
            g_assert_true((obj != NULL) == (len == strlen(msg)));
        }
    }

    /* Random bytes: never a crash, always one of the two outcomes. */
    {
        GRand *rand = g_rand_new_with_seed(1729);
        guint n;

        for (n = 0; n < 2000; n++) {
            char buf[64];
            gsize len = (gsize)g_rand_int_range(rand, 1, sizeof(buf));
            gsize k;
            g_autoptr(GError) error = NULL;
            g_autoptr(JsonObject) obj = NULL;
            static const char alphabet[] = "{}[]\":,\\ 0123456789abcdeflnrstu\xff\x80";

            for (k = 0; k < len; k++)
                buf[k] = alphabet[g_rand_int_range(rand, 0, sizeof(alphabet) - 1)];
            obj = qemuMonitorParseLine(buf, len, &error);
            g_assert_true((obj != NULL) == (error == NULL));
        }
        g_rand_free(rand);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/qemumonitor/parse-line", testParseLine);
    g_test_add_func("/qemumonitor/fake/garbage", testFakeServerGarbage);
    g_test_add_func("/qemumonitor/fake/greeting-timeout", testGreetingTimeout);
    g_test_add_func("/qemumonitor/fake/caps-after-open-timeout", testCapsAfterOpenTimeout);
    g_test_add_func("/qemumonitor/open-unix-timeout", testOpenUnixTimeout);
    g_test_add_func("/qemumonitor/qemu/query", testQueryVersionStatus);
    g_test_add_func("/qemumonitor/qemu/errors", testCommandErrors);
    g_test_add_func("/qemumonitor/qemu/events", testEvents);
    g_test_add_func("/qemumonitor/qemu/eof", testEofOnKill);
    g_test_add_func("/qemumonitor/qemu/close-from-eof", testCloseFromEofCallback);
    g_test_add_func("/qemumonitor/qemu/timeout", testTimeout);
    g_test_add_func("/qemumonitor/qemu/concurrent", testConcurrentCommands);
    g_test_add_func("/qemumonitor/qemu/stdio-fds", testOpenFdsStdio);

    return g_test_run();
}
