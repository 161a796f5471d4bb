/*
 * fuzzregresstest.c: regression cases for bugs found by the fuzz targets (tests/fuzz).
 *
 * Each case replays, through the public API, the minimal input a fuzzer found; the
 * crashing input itself is kept in tests/fuzz/corpus/TARGET/ and replayed by
 * `meson test --suite fuzz` when the fuzz option is on. Run the whole suite under
 * -Db_sanitize=address,undefined too: some cases (leaks) only fail there.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qemu/qemu_monitor.h"
#include "rpc/remote_dispatch.h"
#include "rpc/remote_protocol.h"
#include "rpc/rpc_packet.h"
#include "rpc/rpc_server.h"
#include "rpc/xdr.h"
#include "testutils.h"
#include "util/virerror.h"

/* ---- an RPC server in a thread --------------------------------------------------- */

typedef struct {
    GMutex lock;
    GCond cond;
    gboolean ready;
    GMainContext *ctx;
    GMainLoop *loop;
    qvirRpcServer *srv;
    GThread *thread;
    char *dir;
    char *path;
} testServer;

static gboolean
testServerQuit(gpointer opaque)
{
    testServer *ts = opaque;

    g_main_loop_quit(ts->loop);
    return G_SOURCE_REMOVE;
}

static gpointer
testServerThread(gpointer opaque)
{
    testServer *ts = opaque;
    g_autoptr(GError) error = NULL;
    qvirRpcProgram prog;

    g_main_context_push_thread_default(ts->ctx);
    qvirRemoteProgramInit(&prog, NULL);
    ts->srv = qvirRpcServerNew(&prog, 2);
    g_assert_true(qvirRpcServerAddUnixSocket(ts->srv, ts->path, &error));
    g_assert_no_error(error);

    g_mutex_lock(&ts->lock);
    ts->ready = TRUE;
    g_cond_broadcast(&ts->cond);
    g_mutex_unlock(&ts->lock);

    g_main_loop_run(ts->loop);
    qvirRpcServerFree(ts->srv);
    g_main_context_pop_thread_default(ts->ctx);
    return NULL;
}

static testServer *
testServerStart(void)
{
    testServer *ts = g_new0(testServer, 1);

    g_mutex_init(&ts->lock);
    g_cond_init(&ts->cond);
    ts->ctx = g_main_context_new();
    ts->loop = g_main_loop_new(ts->ctx, FALSE);
    ts->dir = qvirTestTempDirNew("fuzzregress");
    ts->path = g_build_filename(ts->dir, "sock", NULL);
    ts->thread = g_thread_new("test-server", testServerThread, ts);
    g_mutex_lock(&ts->lock);
    while (!ts->ready)
        g_cond_wait(&ts->cond, &ts->lock);
    g_mutex_unlock(&ts->lock);
    return ts;
}

static void
testServerStop(testServer *ts)
{
    g_main_context_invoke(ts->ctx, testServerQuit, ts);
    g_thread_join(ts->thread);
    g_main_loop_unref(ts->loop);
    g_main_context_unref(ts->ctx);
    qvirTestTempDirRemove(ts->dir);
    g_free(ts->dir);
    g_free(ts->path);
    g_mutex_clear(&ts->lock);
    g_cond_clear(&ts->cond);
    g_free(ts);
}

static int
testConnect(const testServer *ts)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(addr.sun_path, ts->path, sizeof(addr.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    return fd;
}

static void
testAppendCall(GByteArray *stream, gint32 proc, guint32 serial, const GByteArray *body)
{
    qvirRpcHeader hdr = {
        .program = QVIR_RPC_REMOTE_PROGRAM,
        .version = QVIR_RPC_REMOTE_VERSION,
        .procedure = proc,
        .type = QVIR_RPC_CALL,
        .serial = serial,
        .status = QVIR_RPC_STATUS_OK,
    };
    g_autoptr(GByteArray) pkt = qvirRpcPacketStart(&hdr);

    if (body)
        g_byte_array_append(pkt, body->data, body->len);
    g_assert_true(qvirRpcPacketFinish(pkt, NULL));
    g_byte_array_append(stream, pkt->data, pkt->len);
}

/* Read one whole packet within TIMEOUTMS; NULL at EOF or timeout (*timedOut says). */
static GByteArray *
testReadPacket(int fd, int timeoutMs, gboolean *timedOut)
{
    g_autoptr(GByteArray) pkt = g_byte_array_new();
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutMs * 1000;
    guint32 want = 4;

    *timedOut = FALSE;
    while (pkt->len < want) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        guint8 buf[4096];
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, left) == 0) {
            *timedOut = TRUE;
            return NULL;
        }
        n = recv(fd, buf, MIN(sizeof(buf), want - pkt->len), 0);
        if (n <= 0)
            return NULL;
        g_byte_array_append(pkt, buf, n);
        if (pkt->len == 4) {
            want = ((guint32)pkt->data[0] << 24) | ((guint32)pkt->data[1] << 16) |
                   ((guint32)pkt->data[2] << 8) | pkt->data[3];
            g_assert_true(qvirRpcPacketCheckLength(want, NULL));
        }
    }
    return g_steal_pointer(&pkt);
}

/*
 * Found by fuzz_rpc_packet: a client that pipelines QVIR_RPC_CLIENT_MAX_REQUESTS or
 * more calls that the server runs inline (CONNECT_OPEN, GET_TYPE, ...) in one write
 * got no answer past the 8th, and the server stopped reading the socket, so it never
 * noticed the client leaving. Every call must be answered, in order, and the
 * connection closed after the client's EOF.
 */
static void
testRpcPipelinedInlineCalls(gconstpointer opaque)
{
    guint ncalls = GPOINTER_TO_UINT(opaque);
    testServer *ts = testServerStart();
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GByteArray) openArgs = g_byte_array_new();
    g_autoptr(GByteArray) eof = NULL;
    gboolean timedOut;
    int fd;

    qvirXdrWriteOptString(openArgs, "qemu:///system");
    qvirXdrWriteU32(openArgs, 0);
    testAppendCall(stream, 1 /* CONNECT_OPEN */, 0, openArgs);
    for (guint i = 1; i < ncalls; i++)
        testAppendCall(stream, 3 /* CONNECT_GET_TYPE */, i, NULL);

    fd = testConnect(ts);
    g_assert_cmpint(send(fd, stream->data, stream->len, MSG_NOSIGNAL), ==, (gssize)stream->len);

    for (guint i = 0; i < ncalls; i++) {
        g_autoptr(GByteArray) reply = testReadPacket(fd, 5000, &timedOut);
        qvirXdrReader rd;
        qvirRpcHeader hdr;

        if (!reply)
            g_test_message("no reply to call %u of %u (%s)", i + 1, ncalls,
                           timedOut ? "timed out" : "connection closed");
        g_assert_nonnull(reply);
        qvirXdrReaderInit(&rd, reply->data + 4, reply->len - 4);
        g_assert_true(qvirRpcHeaderDecode(&rd, &hdr, NULL));
        g_assert_cmpuint(hdr.serial, ==, i);
        g_assert_cmpuint(hdr.type, ==, QVIR_RPC_REPLY);
        g_assert_cmpuint(hdr.status, ==, QVIR_RPC_STATUS_OK);
    }

    shutdown(fd, SHUT_WR);
    eof = testReadPacket(fd, 5000, &timedOut);
    g_assert_null(eof);
    if (timedOut)
        g_test_message("the server did not close the connection after the client's EOF");
    g_assert_false(timedOut);
    close(fd);
    testServerStop(ts);
}

/*
 * Found by fuzz_xdr under UBSan: a zero-length fixed opaque read from an empty reader
 * whose data pointer is NULL (what g_bytes_new(p, 0) gives the server for a call
 * without arguments) computed NULL + 0. It must simply succeed.
 */
static void
testXdrEmptyOpaqueOnNull(void)
{
    qvirXdrReader rd;
    guint8 buf[1] = {0x5a};
    g_autoptr(GError) error = NULL;

    qvirXdrReaderInit(&rd, NULL, 0);
    g_assert_true(qvirXdrReadFixedOpaque(&rd, buf, 0, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(buf[0], ==, 0x5a);
    g_assert_true(qvirXdrReaderCheckEnd(&rd, NULL));
}

/*
 * Found by fuzz_rpc_packet under UBSan (corpus: crash-read-on-null-reader): a call whose
 * arguments were missing altogether reached the generated decoder with that NULL reader,
 * and the first word's read computed NULL + 0 before its bounds check. Every read must
 * fail cleanly instead.
 */
static void
testXdrReadOnNull(void)
{
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(GError) e3 = NULL;
    remote_connect_open_args args = {0};
    g_autofree char *s = NULL;
    qvirXdrReader rd;
    guint32 u;

    qvirXdrReaderInit(&rd, NULL, 0);
    g_assert_false(qvirXdrReadU32(&rd, &u, &e1));
    g_assert_error(e1, QVIR_ERROR, QVIR_ERR_RPC);
    g_assert_false(qvirXdrReadOptString(&rd, 16, &s, &e2));
    g_assert_error(e2, QVIR_ERROR, QVIR_ERR_RPC);
    g_assert_false(qvirXdrDecode(&rd, &remote_connect_open_args_type, &args, &e3));
    g_assert_error(e3, QVIR_ERROR, QVIR_ERR_RPC);
    g_assert_cmpuint(rd.pos, ==, 0);
}

/*
 * Found by fuzz_xdr under UBSan (corpus: crash-empty-opaque-write): the writer, growing
 * its buffer in place, computed the empty GByteArray's NULL data + 0 to write a
 * zero-length opaque. Writing nothing must leave the buffer as it was.
 */
static void
testXdrWriteEmptyOpaque(void)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    qvirXdrWriteFixedOpaque(buf, NULL, 0);
    g_assert_cmpuint(buf->len, ==, 0);
    qvirXdrWriteString(buf, "");
    g_assert_cmpuint(buf->len, ==, 4);
}

/*
 * Found by fuzz_qmp under LeakSanitizer: json-glib 1.6 leaks what it parsed after a
 * first value and on a high surrogate escape not followed by a low one. QEMU never
 * sends such lines; the monitor must refuse them (with an error, as it refuses any
 * line that is not one JSON object). The leak itself only shows under ASan.
 */
static void
testQmpLinesJsonGlibLeaks(void)
{
    const char *lines[] = {
        "{\"return\": {}}{\"b\": {\"c\": 1}}",
        "1 {\"a\": {\"b\": 2}}",
        "[1]{\"a\": {}}",
        "{\"return\": {\"s\": \"\\ud83d\\u0041\"}}",
        "{\"return\": {\"s\": \"\\ud83d\\u\"}}",
    };

    for (guint i = 0; i < G_N_ELEMENTS(lines); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonObject) obj = qemuMonitorParseLine(lines[i], strlen(lines[i]), &error);

        g_assert_null(obj);
        g_assert_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_data_func("/fuzzregress/rpc/pipelined-inline-calls-8",
                         GUINT_TO_POINTER(QVIR_RPC_CLIENT_MAX_REQUESTS),
                         testRpcPipelinedInlineCalls);
    g_test_add_data_func("/fuzzregress/rpc/pipelined-inline-calls-20", GUINT_TO_POINTER(20),
                         testRpcPipelinedInlineCalls);
    g_test_add_func("/fuzzregress/xdr/empty-opaque-on-null", testXdrEmptyOpaqueOnNull);
    g_test_add_func("/fuzzregress/xdr/read-on-null", testXdrReadOnNull);
    g_test_add_func("/fuzzregress/xdr/write-empty-opaque", testXdrWriteEmptyOpaque);
    g_test_add_func("/fuzzregress/qmp/json-glib-leaky-lines", testQmpLinesJsonGlibLeaks);

    return g_test_run();
}
