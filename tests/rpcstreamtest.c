/*
 * rpcstreamtest.c: libvirt's data streams in the rpc layer (rpc_stream.h), against a real
 * qvirRpcServer in a thread and a raw client speaking the wire protocol: upload (data,
 * holes, finish, abort, a sink that fails), download (data in order and in bounded
 * packets after the call's reply, holes, EOF, the source's error, a slow reader that
 * holds the sender back), a call that fails after opening its stream, a client that goes
 * away mid-stream, and stream packets nothing waits for.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/rpc_server.h"
#include "rpc/rpc_stream.h"
#include "util/virerror.h"
#include "testutils.h"

#define TEST_PROGRAM 0x51565354u
#define TEST_PROC_UPLOAD 1        /* arg: TEST_UPLOAD_* bits; a stream into the sink */
#define TEST_PROC_DOWNLOAD 2      /* arg: size; the pattern, a hole, 10 bytes, EOF */
#define TEST_PROC_OPEN_AND_FAIL 3 /* opens a stream, then the call fails */
#define TEST_PROC_DOWNLOAD_FAIL 4 /* 10 bytes, then the source's error */
#define TEST_PROC_ECHO 5          /* returns its argument */

#define TEST_UPLOAD_HOLES 1        /* the client may send holes */
#define TEST_UPLOAD_SINK_FULL 2    /* the sink takes 1000 bytes, then fails */
#define TEST_UPLOAD_FINISH_FAILS 4 /* the sink cannot complete */

#define TEST_HOLE 4096
#define TEST_TAIL 10

/* ---- the server ------------------------------------------------------------------- */

typedef struct {
    char *dir;
    char *path;
    GThread *thread;
    GMainContext *ctx;
    GMainLoop *loop;
    GMutex lock;
    GCond cond;
    gboolean ready;
    GString *events;    /* what the sinks saw: "data 5;hole 4096;finish;" */
    GByteArray *upload; /* the bytes the sinks took */
    guint producers;    /* download threads that ended */
    gboolean producerFailed;
} TestServer;

static TestServer *testServer; /* the sinks' and producers' view of it */

static void testEvent(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
testEvent(const char *fmt, ...)
{
    va_list ap;

    g_mutex_lock(&testServer->lock);
    va_start(ap, fmt);
    g_string_append_vprintf(testServer->events, fmt, ap);
    va_end(ap);
    g_string_append_c(testServer->events, ';');
    g_cond_broadcast(&testServer->cond);
    g_mutex_unlock(&testServer->lock);
}

typedef struct {
    guint mode;
    gsize taken;
} TestSink;

static gboolean
testSinkData(gpointer opaque, const guint8 *data, gsize len, GError **error)
{
    TestSink *sink = opaque;

    if ((sink->mode & TEST_UPLOAD_SINK_FULL) && sink->taken + len > 1000) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "the sink is full");
        return FALSE;
    }
    sink->taken += len;
    g_mutex_lock(&testServer->lock);
    g_byte_array_append(testServer->upload, data, len);
    g_mutex_unlock(&testServer->lock);
    testEvent("data %zu", len);
    return TRUE;
}

static gboolean
testSinkHole(gpointer opaque, gint64 length, guint flags, GError **error)
{
    testEvent("hole %" G_GINT64_FORMAT " %u", length, flags);
    return TRUE;
}

static gboolean
testSinkFinish(gpointer opaque, GError **error)
{
    TestSink *sink = opaque;

    testEvent("finish");
    if (sink->mode & TEST_UPLOAD_FINISH_FAILS) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "cannot complete");
        return FALSE;
    }
    return TRUE;
}

static void
testSinkAbort(gpointer opaque)
{
    testEvent("abort");
}

static const qvirRpcStreamFuncs testSinkFuncs = {
    .data = testSinkData,
    .hole = testSinkHole,
    .finish = testSinkFinish,
    .abort = testSinkAbort,
};

static guint8
testPattern(gsize i)
{
    return (guint8)((i * 7) % 251);
}

typedef struct {
    qvirRpcStream *st;
    gsize size;
    gboolean fail;
} TestProducer;

/* A source in a thread of its own, as a volume download's reader would be. */
static gpointer
testProducerThread(gpointer opaque)
{
    TestProducer *p = opaque;
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *buf = g_malloc(100000);
    gboolean ok = TRUE;

    if (p->fail) {
        g_autoptr(GError) cause =
            g_error_new_literal(QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "the source failed");

        ok = qvirRpcStreamSendData(p->st, buf, TEST_TAIL, &err);
        qvirRpcStreamSendError(p->st, cause);
    } else {
        for (gsize off = 0; ok && off < p->size; off += 100000) {
            gsize n = MIN(100000, p->size - off);

            for (gsize i = 0; i < n; i++)
                buf[i] = testPattern(off + i);
            ok = qvirRpcStreamSendData(p->st, buf, n, &err);
        }
        memset(buf, 0xee, TEST_TAIL);
        ok = ok && qvirRpcStreamSendHole(p->st, TEST_HOLE, 0, &err) &&
             qvirRpcStreamSendData(p->st, buf, TEST_TAIL, &err) &&
             qvirRpcStreamSendEOF(p->st, &err);
    }
    g_mutex_lock(&testServer->lock);
    testServer->producers++;
    testServer->producerFailed |= !ok;
    g_cond_broadcast(&testServer->cond);
    g_mutex_unlock(&testServer->lock);
    qvirRpcStreamUnref(p->st);
    g_free(p);
    return NULL;
}

static gboolean
testDispatch(gpointer opaque, qvirRpcClient *client, const qvirRpcHeader *hdr, qvirXdrReader *args,
             GByteArray *reply, GError **error)
{
    TestSink *sink;
    TestProducer *p;
    gint32 val;

    if (!qvirXdrReadInt(args, &val, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    switch (hdr->procedure) {
    case TEST_PROC_UPLOAD:
    case TEST_PROC_OPEN_AND_FAIL:
        sink = g_new0(TestSink, 1);
        sink->mode = val;
        qvirRpcStreamUnref(
            qvirRpcStreamOpen(client, hdr, &testSinkFuncs, sink, g_free, val & TEST_UPLOAD_HOLES));
        if (hdr->procedure == TEST_PROC_UPLOAD)
            return TRUE;
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "the call failed");
        return FALSE;
    case TEST_PROC_DOWNLOAD:
    case TEST_PROC_DOWNLOAD_FAIL:
        p = g_new0(TestProducer, 1);
        p->size = val;
        p->fail = hdr->procedure == TEST_PROC_DOWNLOAD_FAIL;
        /* the sink sees the client's finish or abort of the download */
        p->st = qvirRpcStreamOpen(client, hdr, &testSinkFuncs, g_new0(TestSink, 1), g_free, TRUE);
        g_thread_unref(g_thread_new("producer", testProducerThread, p));
        return TRUE;
    case TEST_PROC_ECHO:
        qvirXdrWriteInt(reply, val);
        return TRUE;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SUPPORT, "no procedure %d", hdr->procedure);
    return FALSE;
}

static gboolean
testRunInline(gint32 proc)
{
    return proc == TEST_PROC_ECHO;
}

static gpointer
testServerThread(gpointer opaque)
{
    TestServer *ts = opaque;
    g_autoptr(GError) err = NULL;
    qvirRpcProgram prog = {
        .program = TEST_PROGRAM,
        .version = 1,
        .errDomain = QVIR_FROM_QEMU,
        .runInline = testRunInline,
        .dispatch = testDispatch,
    };
    qvirRpcServer *srv;

    g_main_context_push_thread_default(ts->ctx);
    srv = qvirRpcServerNew(&prog, 4);
    if (!qvirRpcServerAddUnixSocket(srv, ts->path, &err))
        g_error("cannot listen: %s", err->message);
    g_mutex_lock(&ts->lock);
    ts->ready = TRUE;
    g_cond_broadcast(&ts->cond);
    g_mutex_unlock(&ts->lock);
    g_main_loop_run(ts->loop);
    qvirRpcServerFree(srv);
    g_main_context_pop_thread_default(ts->ctx);
    return NULL;
}

static void
testServerStart(void)
{
    TestServer *ts = g_new0(TestServer, 1);

    ts->dir = qvirTestTempDirNew("qvirt-rpcstream");
    ts->path = g_build_filename(ts->dir, "sock", NULL);
    ts->ctx = g_main_context_new();
    ts->loop = g_main_loop_new(ts->ctx, FALSE);
    ts->events = g_string_new(NULL);
    ts->upload = g_byte_array_new();
    g_mutex_init(&ts->lock);
    g_cond_init(&ts->cond);
    testServer = ts;
    ts->thread = g_thread_new("server", testServerThread, ts);
    g_mutex_lock(&ts->lock);
    while (!ts->ready)
        g_cond_wait(&ts->cond, &ts->lock);
    g_mutex_unlock(&ts->lock);
}

static gboolean
testQuitLoop(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_REMOVE;
}

static void
testServerStop(void)
{
    TestServer *ts = testServer;

    g_main_context_invoke(ts->ctx, testQuitLoop, ts->loop);
    g_thread_join(ts->thread);
    g_main_loop_unref(ts->loop);
    g_main_context_unref(ts->ctx);
    g_string_free(ts->events, TRUE);
    g_byte_array_unref(ts->upload);
    g_mutex_clear(&ts->lock);
    g_cond_clear(&ts->cond);
    qvirTestTempDirRemove(ts->dir);
    g_free(ts->dir);
    g_free(ts->path);
    g_free(ts);
    testServer = NULL;
}

/* Wait until the sinks' events contain WANT; FALSE after 10 seconds. */
static gboolean
testWaitEvent(const char *want)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    gboolean found;

    g_mutex_lock(&testServer->lock);
    while (!(found = strstr(testServer->events->str, want) != NULL) &&
           g_cond_wait_until(&testServer->cond, &testServer->lock, deadline))
        ;
    g_mutex_unlock(&testServer->lock);
    return found;
}

static gboolean
testWaitProducers(guint n)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;
    gboolean done;

    g_mutex_lock(&testServer->lock);
    while (!(done = testServer->producers >= n) &&
           g_cond_wait_until(&testServer->cond, &testServer->lock, deadline))
        ;
    g_mutex_unlock(&testServer->lock);
    return done;
}

static char *
testEvents(void)
{
    g_autofree char *copy = NULL;

    g_mutex_lock(&testServer->lock);
    copy = g_strdup(testServer->events->str);
    g_string_truncate(testServer->events, 0);
    g_byte_array_set_size(testServer->upload, 0);
    g_mutex_unlock(&testServer->lock);
    return g_steal_pointer(&copy);
}

/* ---- the client --------------------------------------------------------------------- */

static int
testConnect(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = 10};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sun.sun_path, testServer->path, sizeof(sun.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void
testSend(int fd, gint32 proc, guint32 type, guint32 serial, guint32 status, const guint8 *body,
         gsize len)
{
    qvirRpcHeader hdr = {TEST_PROGRAM, 1, proc, type, serial, status};
    g_autoptr(GByteArray) pkt = qvirRpcPacketStart(&hdr);
    gsize off = 0;

    if (len)
        g_byte_array_append(pkt, body, len);
    g_assert_true(qvirRpcPacketFinish(pkt, NULL));
    while (off < pkt->len) {
        ssize_t n = send(fd, pkt->data + off, pkt->len - off, MSG_NOSIGNAL);

        g_assert_cmpint(n, >, 0);
        off += n;
    }
}

static void
testCall(int fd, gint32 proc, guint32 serial, gint32 arg)
{
    guint8 body[4] = {arg >> 24, arg >> 16, arg >> 8, arg};

    testSend(fd, proc, QVIR_RPC_CALL, serial, QVIR_RPC_STATUS_OK, body, sizeof(body));
}

static gboolean
testRecvAll(int fd, guint8 *buf, gsize len)
{
    while (len > 0) {
        ssize_t n = recv(fd, buf, len, 0);

        if (n <= 0)
            return FALSE;
        buf += n;
        len -= n;
    }
    return TRUE;
}

typedef struct {
    qvirRpcHeader hdr;
    GByteArray *body;
} TestPacket;

static void
testPacketClear(TestPacket *p)
{
    g_clear_pointer(&p->body, g_byte_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TestPacket, testPacketClear);

/* One packet; FALSE at EOF. */
static gboolean
testRecv(int fd, TestPacket *p)
{
    guint8 word[4];
    g_autofree guint8 *data = NULL;
    qvirXdrReader rd;
    guint32 len;

    testPacketClear(p);
    if (!testRecvAll(fd, word, 4))
        return FALSE;
    qvirXdrReaderInit(&rd, word, 4);
    g_assert_true(qvirXdrReadU32(&rd, &len, NULL));
    g_assert_true(qvirRpcPacketCheckLength(len, NULL));
    data = g_malloc(len - 4);
    g_assert_true(testRecvAll(fd, data, len - 4));
    qvirXdrReaderInit(&rd, data, len - 4);
    g_assert_true(qvirRpcHeaderDecode(&rd, &p->hdr, NULL));
    g_assert_cmpuint(p->hdr.program, ==, TEST_PROGRAM);
    p->body = g_byte_array_new();
    g_byte_array_append(p->body, data + rd.pos, len - 4 - rd.pos);
    return TRUE;
}

static void
testExpect(const TestPacket *p, gint32 proc, guint32 serial, guint32 type, guint32 status)
{
    g_assert_cmpint(p->hdr.procedure, ==, proc);
    g_assert_cmpuint(p->hdr.serial, ==, serial);
    g_assert_cmpuint(p->hdr.type, ==, type);
    g_assert_cmpuint(p->hdr.status, ==, status);
}

/* P carries an error body whose message contains FRAGMENT. */
static void
testExpectErrorBody(const TestPacket *p, const char *fragment)
{
    qvirRpcError err = {0};
    qvirXdrReader rd;

    qvirXdrReaderInit(&rd, p->body->data, p->body->len);
    g_assert_true(qvirRpcErrorDecode(&rd, &err, NULL));
    g_assert_true(qvirXdrReaderCheckEnd(&rd, NULL));
    g_assert_nonnull(strstr(err.message, fragment));
    qvirRpcErrorClear(&err);
}

static void
testExpectEcho(int fd, guint32 serial)
{
    g_auto(TestPacket) p = {0};

    testCall(fd, TEST_PROC_ECHO, serial, 42);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_ECHO, serial, QVIR_RPC_REPLY, QVIR_RPC_STATUS_OK);
    g_assert_cmpuint(p.body->len, ==, 4);
}

static void
testExpectClosed(int fd)
{
    guint8 b;

    g_assert_cmpint(recv(fd, &b, 1, 0), ==, 0);
}

static void
testOpenUpload(int fd, guint32 serial, gint32 mode)
{
    g_auto(TestPacket) p = {0};

    testCall(fd, TEST_PROC_UPLOAD, serial, mode);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_UPLOAD, serial, QVIR_RPC_REPLY, QVIR_RPC_STATUS_OK);
}

static void
testSendData(int fd, guint32 serial, gsize len)
{
    g_autofree guint8 *data = g_malloc(len);

    for (gsize i = 0; i < len; i++)
        data[i] = testPattern(i);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, serial, QVIR_RPC_STATUS_CONTINUE, data, len);
}

/* ---- upload ---------------------------------------------------------------------- */

static void
testUpload(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};
    g_autofree char *events = NULL;
    static const gsize sizes[] = {100000, 300000, 1};
    gsize total = 0;

    testOpenUpload(fd, 10, 0);
    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        testSendData(fd, 10, sizes[i]);
        total += sizes[i];
    }
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, 10, QVIR_RPC_STATUS_OK, NULL, 0);
    /* the finish is confirmed with an empty STREAM OK */
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_UPLOAD, 10, QVIR_RPC_STREAM, QVIR_RPC_STATUS_OK);
    g_assert_cmpuint(p.body->len, ==, 0);

    g_mutex_lock(&testServer->lock);
    g_assert_cmpuint(testServer->upload->len, ==, total);
    for (guint i = 0, off = 0; i < G_N_ELEMENTS(sizes); off += sizes[i], i++)
        for (gsize k = 0; k < sizes[i]; k++)
            g_assert_cmpuint(testServer->upload->data[off + k], ==, testPattern(k));
    g_mutex_unlock(&testServer->lock);
    events = testEvents();
    g_assert_cmpstr(events, ==, "data 100000;data 300000;data 1;finish;");

    /* The stream is over: more of its data is dropped, and the connection serves on. */
    testSendData(fd, 10, 5);
    testExpectEcho(fd, 11);
    g_free(events);
    events = testEvents();
    g_assert_cmpstr(events, ==, "");
    close(fd);
}

static void
testUploadAbort(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};
    g_autofree char *events = NULL;

    testOpenUpload(fd, 20, 0);
    testSendData(fd, 20, 64);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, 20, QVIR_RPC_STATUS_ERROR, NULL, 0);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_UPLOAD, 20, QVIR_RPC_STREAM, QVIR_RPC_STATUS_OK);
    g_assert_cmpuint(p.body->len, ==, 0);
    testSendData(fd, 20, 64);
    testExpectEcho(fd, 21);
    events = testEvents();
    g_assert_cmpstr(events, ==, "data 64;abort;");
    close(fd);
}

/* A status that is neither CONTINUE, OK nor ERROR aborts too, with an error back. */
static void
testUploadBadStatus(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};
    g_autofree char *events = NULL;

    testOpenUpload(fd, 25, 0);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, 25, 7, NULL, 0);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_UPLOAD, 25, QVIR_RPC_REPLY, QVIR_RPC_STATUS_ERROR);
    testExpectErrorBody(&p, "stream aborted with unexpected status 7");
    events = testEvents();
    g_assert_cmpstr(events, ==, "abort;");
    close(fd);
}

static void
testUploadSinkFails(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};
    g_autofree char *events = NULL;

    testOpenUpload(fd, 30, TEST_UPLOAD_SINK_FULL);
    testSendData(fd, 30, 600);
    testSendData(fd, 30, 600);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_UPLOAD, 30, QVIR_RPC_REPLY, QVIR_RPC_STATUS_ERROR);
    testExpectErrorBody(&p, "the sink is full");
    /* what the client sends before it learns is dropped */
    testSendData(fd, 30, 600);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, 30, QVIR_RPC_STATUS_OK, NULL, 0);
    testExpectEcho(fd, 31);
    events = testEvents();
    g_assert_cmpstr(events, ==, "data 600;abort;");
    close(fd);
}

static void
testUploadFinishFails(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};
    g_autofree char *events = NULL;

    testOpenUpload(fd, 40, TEST_UPLOAD_FINISH_FAILS);
    testSendData(fd, 40, 8);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, 40, QVIR_RPC_STATUS_OK, NULL, 0);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_UPLOAD, 40, QVIR_RPC_REPLY, QVIR_RPC_STATUS_ERROR);
    testExpectErrorBody(&p, "cannot complete");
    events = testEvents();
    g_assert_cmpstr(events, ==, "data 8;finish;");
    close(fd);
}

static GByteArray *
testHoleBody(gint64 length, guint32 flags)
{
    GByteArray *b = g_byte_array_new();

    qvirXdrWriteI64(b, length);
    qvirXdrWriteU32(b, flags);
    return b;
}

static void
testUploadHoles(void)
{
    g_autoptr(GByteArray) hole = testHoleBody(G_GINT64_CONSTANT(1) << 40, 1);
    g_autofree char *events = NULL;
    int fd = testConnect();

    {
        g_auto(TestPacket) p = {0};

        testOpenUpload(fd, 50, TEST_UPLOAD_HOLES);
        testSendData(fd, 50, 3);
        testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM_HOLE, 50, QVIR_RPC_STATUS_CONTINUE,
                 hole->data, hole->len);
        testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, 50, QVIR_RPC_STATUS_OK, NULL, 0);
        g_assert_true(testRecv(fd, &p));
        testExpect(&p, TEST_PROC_UPLOAD, 50, QVIR_RPC_STREAM, QVIR_RPC_STATUS_OK);
        events = testEvents();
        g_assert_cmpstr(events, ==, "data 3;hole 1099511627776 1;finish;");
    }
    close(fd);

    /* A hole the call did not allow, or one that does not decode, ends the connection. */
    fd = testConnect();
    testOpenUpload(fd, 51, 0);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM_HOLE, 51, QVIR_RPC_STATUS_CONTINUE, hole->data,
             hole->len);
    testExpectClosed(fd);
    close(fd);
    g_assert_true(testWaitEvent("abort;"));
    g_free(events);
    events = testEvents();

    fd = testConnect();
    testOpenUpload(fd, 52, TEST_UPLOAD_HOLES);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM_HOLE, 52, QVIR_RPC_STATUS_CONTINUE, hole->data,
             hole->len - 4);
    testExpectClosed(fd);
    close(fd);
    g_assert_true(testWaitEvent("abort;"));
    g_free(events);
    events = testEvents();
}

/* ---- download -------------------------------------------------------------------- */

/* Read a download of SIZE bytes through its EOF, checking every packet. */
static void
testReadDownload(int fd, guint32 serial, gsize size)
{
    g_auto(TestPacket) p = {0};
    gsize got = 0;
    gboolean sawHole = FALSE;

    for (;;) {
        g_assert_true(testRecv(fd, &p));
        g_assert_cmpint(p.hdr.procedure, ==, TEST_PROC_DOWNLOAD);
        g_assert_cmpuint(p.hdr.serial, ==, serial);
        g_assert_cmpuint(p.hdr.status, ==, QVIR_RPC_STATUS_CONTINUE);
        if (p.hdr.type == QVIR_RPC_STREAM_HOLE) {
            virNetStreamHole hole = {0};
            qvirXdrReader rd;

            g_assert_cmpuint(got, ==, size);
            qvirXdrReaderInit(&rd, p.body->data, p.body->len);
            g_assert_true(qvirXdrDecode(&rd, &virNetStreamHole_type, &hole, NULL));
            g_assert_true(qvirXdrReaderCheckEnd(&rd, NULL));
            g_assert_cmpint(hole.length, ==, TEST_HOLE);
            sawHole = TRUE;
            continue;
        }
        g_assert_cmpuint(p.hdr.type, ==, QVIR_RPC_STREAM);
        /* libvirt's clients take at most this much in one packet */
        g_assert_cmpuint(p.body->len, <=, VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX);
        if (p.body->len == 0)
            break;
        if (sawHole) {
            g_assert_cmpuint(p.body->len, ==, TEST_TAIL);
            g_assert_cmpuint(p.body->data[0], ==, 0xee);
            continue;
        }
        for (gsize i = 0; i < p.body->len; i++)
            g_assert_cmpuint(p.body->data[i], ==, testPattern(got + i));
        got += p.body->len;
    }
    g_assert_true(sawHole);
    g_assert_cmpuint(got, ==, size);
}

static void
testDownload(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};
    g_autofree char *events = NULL;
    const gsize size = 3 * 1024 * 1024 + 17;

    testCall(fd, TEST_PROC_DOWNLOAD, 60, size);
    /* the call's reply comes first, whatever the producer has sent meanwhile */
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_DOWNLOAD, 60, QVIR_RPC_REPLY, QVIR_RPC_STATUS_OK);
    testReadDownload(fd, 60, size);
    g_assert_true(testWaitProducers(1));
    g_assert_false(testServer->producerFailed);

    testSend(fd, TEST_PROC_DOWNLOAD, QVIR_RPC_STREAM, 60, QVIR_RPC_STATUS_OK, NULL, 0);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_DOWNLOAD, 60, QVIR_RPC_STREAM, QVIR_RPC_STATUS_OK);
    testExpectEcho(fd, 61);
    events = testEvents();
    g_assert_cmpstr(events, ==, "finish;");
    close(fd);
    testServer->producers = 0;
}

/* A client that does not read holds the producer back: the daemon buffers a window, not
 * the whole download. */
static void
testDownloadSlowReader(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};
    const gsize size = 48 * 1024 * 1024;

    testCall(fd, TEST_PROC_DOWNLOAD, 70, size);
    g_usleep(500 * 1000);
    g_mutex_lock(&testServer->lock);
    g_assert_cmpuint(testServer->producers, ==, 0);
    g_mutex_unlock(&testServer->lock);

    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_DOWNLOAD, 70, QVIR_RPC_REPLY, QVIR_RPC_STATUS_OK);
    testReadDownload(fd, 70, size);
    g_assert_true(testWaitProducers(1));
    g_assert_false(testServer->producerFailed);
    close(fd);
    g_assert_true(testWaitEvent("abort;"));
    g_free(testEvents());
    testServer->producers = 0;
}

static void
testDownloadSourceFails(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};

    testCall(fd, TEST_PROC_DOWNLOAD_FAIL, 80, 0);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_DOWNLOAD_FAIL, 80, QVIR_RPC_REPLY, QVIR_RPC_STATUS_OK);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_DOWNLOAD_FAIL, 80, QVIR_RPC_STREAM, QVIR_RPC_STATUS_CONTINUE);
    g_assert_cmpuint(p.body->len, ==, TEST_TAIL);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_DOWNLOAD_FAIL, 80, QVIR_RPC_STREAM, QVIR_RPC_STATUS_ERROR);
    testExpectErrorBody(&p, "the source failed");
    /* the stream is over: the sink learns it, and a late abort of the client is dropped */
    g_assert_true(testWaitEvent("abort;"));
    testSend(fd, TEST_PROC_DOWNLOAD_FAIL, QVIR_RPC_STREAM, 80, QVIR_RPC_STATUS_ERROR, NULL, 0);
    testExpectEcho(fd, 81);
    g_assert_true(testWaitProducers(1));
    g_free(testEvents());
    close(fd);
    testServer->producers = 0;
    testServer->producerFailed = FALSE;
}

/* The client goes away mid-download: the producer's next send fails, the sink aborts. */
static void
testDownloadDisconnect(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};

    testCall(fd, TEST_PROC_DOWNLOAD, 90, 256 * 1024 * 1024);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_DOWNLOAD, 90, QVIR_RPC_REPLY, QVIR_RPC_STATUS_OK);
    g_assert_true(testRecv(fd, &p));
    close(fd);
    g_assert_true(testWaitEvent("abort;"));
    g_assert_true(testWaitProducers(1));
    g_assert_true(testServer->producerFailed);
    g_free(testEvents());
    testServer->producers = 0;
    testServer->producerFailed = FALSE;
}

/* ---- the rest -------------------------------------------------------------------------- */

/* A call that fails after opening its stream: the stream is aborted, nothing of it goes
 * out, and packets the client sends for it are dropped. */
static void
testCallFails(void)
{
    int fd = testConnect();
    g_auto(TestPacket) p = {0};
    g_autofree char *events = NULL;

    testCall(fd, TEST_PROC_OPEN_AND_FAIL, 100, 0);
    g_assert_true(testRecv(fd, &p));
    testExpect(&p, TEST_PROC_OPEN_AND_FAIL, 100, QVIR_RPC_REPLY, QVIR_RPC_STATUS_ERROR);
    testExpectErrorBody(&p, "the call failed");
    testSend(fd, TEST_PROC_OPEN_AND_FAIL, QVIR_RPC_STREAM, 100, QVIR_RPC_STATUS_CONTINUE,
             (const guint8 *)"abcd", 4);
    testExpectEcho(fd, 101);
    events = testEvents();
    g_assert_cmpstr(events, ==, "abort;");
    close(fd);
}

/* Stream packets of no stream (never opened, or of another program) are dropped. */
static void
testStrayPackets(void)
{
    int fd = testConnect();
    g_autoptr(GByteArray) hole = testHoleBody(1, 0);

    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, 999, QVIR_RPC_STATUS_CONTINUE,
             (const guint8 *)"data", 4);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, 999, QVIR_RPC_STATUS_OK, NULL, 0);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM, 999, QVIR_RPC_STATUS_ERROR, NULL, 0);
    testSend(fd, TEST_PROC_UPLOAD, QVIR_RPC_STREAM_HOLE, 999, QVIR_RPC_STATUS_CONTINUE, hole->data,
             hole->len);
    testExpectEcho(fd, 1000);
    close(fd);
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    testServerStart();
    g_test_add_func("/rpc/stream/upload", testUpload);
    g_test_add_func("/rpc/stream/upload-abort", testUploadAbort);
    g_test_add_func("/rpc/stream/upload-bad-status", testUploadBadStatus);
    g_test_add_func("/rpc/stream/upload-sink-fails", testUploadSinkFails);
    g_test_add_func("/rpc/stream/upload-finish-fails", testUploadFinishFails);
    g_test_add_func("/rpc/stream/upload-holes", testUploadHoles);
    g_test_add_func("/rpc/stream/download", testDownload);
    g_test_add_func("/rpc/stream/download-slow-reader", testDownloadSlowReader);
    g_test_add_func("/rpc/stream/download-source-fails", testDownloadSourceFails);
    g_test_add_func("/rpc/stream/download-disconnect", testDownloadDisconnect);
    g_test_add_func("/rpc/stream/call-fails", testCallFails);
    g_test_add_func("/rpc/stream/stray-packets", testStrayPackets);
    ret = g_test_run();
    testServerStop();
    return ret;
}
