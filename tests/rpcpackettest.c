/*
 * rpcpackettest.c: the RPC server against raw sockets.
 *
 * A real qvirRpcServer runs in its own thread on a temporary unix socket; the
 * test speaks bytes to it: the connection preamble of the REMOTE program (with
 * no driver behind it), framing errors (short, oversized, garbage packets, wrong
 * program/version/type), unknown procedures, keepalive, and with a test program
 * whose calls can be held: replies in order per client, no stall across
 * clients, and a client that disconnects while its call runs.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "rpc/remote_dispatch.h"
#include "rpc/remote_protocol.h"
#include "rpc/rpc_server.h"
#include "util/virerror.h"
#include "testutils.h"

#define TEST_PROGRAM 0x51564952u
#define TEST_PROC_ECHO 1      /* returns its int argument */
#define TEST_PROC_HOLD 2      /* waits until released, then returns its argument */
#define TEST_PROC_BIG 3       /* returns a string of its argument's size in bytes */
#define TEST_PROC_SUBSCRIBE 4 /* a thread sends its argument's count of MESSAGEs */
#define TEST_PROC_EVENT 100   /* the procedure of those messages */

/* ---- the server thread -------------------------------------------------------- */

typedef struct {
    gboolean remote; /* REMOTE program without a driver, else the test program */
    char *dir;
    char *path;
    char *roPath; /* the read-only socket beside PATH */
    GThread *thread;
    GMainContext *ctx;
    GMainLoop *loop;
    qvirRpcServer *srv;
    GMutex lock;
    GCond cond;
    gboolean ready;
    /* test program state */
    guint held; /* HOLD calls waiting */
    gboolean release;
    gint clientsFreed;
} TestServer;

static gboolean
testRunInline(gint32 proc)
{
    return proc == TEST_PROC_ECHO || proc == TEST_PROC_BIG;
}

typedef struct {
    qvirRpcClient *client;
    gint32 count;
} TestEvents;

/* Events come from threads of their own, as the driver's do. */
static gpointer
testEventThread(gpointer opaque)
{
    TestEvents *ev = opaque;
    gint32 i;

    g_usleep(50000);
    for (i = 0; i < ev->count; i++) {
        g_autoptr(GByteArray) body = g_byte_array_new();

        qvirXdrWriteInt(body, i);
        qvirRpcClientSendMessage(ev->client, TEST_PROC_EVENT, body);
    }
    qvirRpcClientRelease(ev->client);
    g_free(ev);
    return NULL;
}

static gboolean
testDispatch(gpointer opaque, qvirRpcClient *client, const qvirRpcHeader *hdr, qvirXdrReader *args,
             GByteArray *reply, GError **error)
{
    TestServer *ts = opaque;
    gint32 val;

    if (!qvirXdrReadInt(args, &val, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (hdr->procedure == TEST_PROC_HOLD) {
        g_mutex_lock(&ts->lock);
        ts->held++;
        g_cond_broadcast(&ts->cond);
        while (!ts->release)
            g_cond_wait(&ts->cond, &ts->lock);
        ts->held--;
        g_mutex_unlock(&ts->lock);
    } else if (hdr->procedure == TEST_PROC_SUBSCRIBE) {
        TestEvents *ev = g_new0(TestEvents, 1);

        ev->client = qvirRpcClientHold(client);
        ev->count = val;
        g_thread_unref(g_thread_new("events", testEventThread, ev));
    } else if (hdr->procedure == TEST_PROC_BIG) {
        g_autofree char *big = g_strnfill(val, 'x');

        qvirXdrWriteString(reply, big);
        return TRUE;
    } else if (hdr->procedure != TEST_PROC_ECHO) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SUPPORT, "no procedure %d", hdr->procedure);
        return FALSE;
    }
    qvirXdrWriteInt(reply, val);
    return TRUE;
}

static gpointer
testClientNew(gpointer opaque)
{
    return opaque;
}

static void
testClientFree(gpointer opaque)
{
    TestServer *ts = opaque;

    g_atomic_int_inc(&ts->clientsFreed);
}

static gpointer
testServerThread(gpointer opaque)
{
    TestServer *ts = opaque;
    g_autoptr(GError) err = NULL;
    qvirRpcProgram prog;

    g_main_context_push_thread_default(ts->ctx);
    if (ts->remote) {
        qvirRemoteProgramInit(&prog, NULL);
    } else {
        prog = (qvirRpcProgram){
            .program = TEST_PROGRAM,
            .version = 1,
            .errDomain = QVIR_FROM_QEMU,
            .runInline = testRunInline,
            .dispatch = testDispatch,
            .opaque = ts,
            .clientNew = testClientNew,
            .clientFree = testClientFree,
        };
    }
    ts->srv = qvirRpcServerNew(&prog, 4);
    if (!qvirRpcServerAddUnixSocket(ts->srv, ts->path, &err) ||
        !qvirRpcServerAddUnixSocketFull(ts->srv, ts->roPath, TRUE, &err))
        g_error("cannot listen: %s", err->message);

    g_mutex_lock(&ts->lock);
    ts->ready = TRUE;
    g_cond_broadcast(&ts->cond);
    g_mutex_unlock(&ts->lock);

    g_main_loop_run(ts->loop);
    g_clear_pointer(&ts->srv, qvirRpcServerFree);
    g_main_context_pop_thread_default(ts->ctx);
    return NULL;
}

static TestServer *
testServerStart(gboolean remote)
{
    TestServer *ts = g_new0(TestServer, 1);

    ts->remote = remote;
    ts->dir = qvirTestTempDirNew("qvirt-rpcpacket");
    ts->path = g_build_filename(ts->dir, "sock", NULL);
    ts->roPath = g_build_filename(ts->dir, "sock-ro", NULL);
    ts->ctx = g_main_context_new();
    ts->loop = g_main_loop_new(ts->ctx, FALSE);
    g_mutex_init(&ts->lock);
    g_cond_init(&ts->cond);
    ts->thread = g_thread_new("server", testServerThread, ts);
    g_mutex_lock(&ts->lock);
    while (!ts->ready)
        g_cond_wait(&ts->cond, &ts->lock);
    g_mutex_unlock(&ts->lock);
    return ts;
}

static void
testServerRelease(TestServer *ts)
{
    g_mutex_lock(&ts->lock);
    ts->release = TRUE;
    g_cond_broadcast(&ts->cond);
    g_mutex_unlock(&ts->lock);
}

static void
testServerWaitHeld(TestServer *ts, guint n)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;

    g_mutex_lock(&ts->lock);
    while (ts->held < n)
        g_assert_true(g_cond_wait_until(&ts->cond, &ts->lock, deadline));
    g_mutex_unlock(&ts->lock);
}

static gboolean
testQuitLoop(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_REMOVE;
}

static void
testServerStop(TestServer *ts)
{
    testServerRelease(ts);
    g_main_context_invoke(ts->ctx, testQuitLoop, ts->loop);
    g_thread_join(ts->thread);
    /* The server removes its socket when it goes. */
    g_assert_false(g_file_test(ts->path, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(ts->roPath, G_FILE_TEST_EXISTS));
    g_main_loop_unref(ts->loop);
    g_main_context_unref(ts->ctx);
    g_mutex_clear(&ts->lock);
    g_cond_clear(&ts->cond);
    qvirTestTempDirRemove(ts->dir);
    g_free(ts->dir);
    g_free(ts->path);
    g_free(ts->roPath);
    g_free(ts);
}

/* ---- a raw client --------------------------------------------------------------- */

/* A connected socket to PATH, or -errno of connect(). */
static int
testConnectPath(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = 10};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int saved = errno;

        close(fd);
        return -saved;
    }
    /* A test that would hang fails instead. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int
testConnect(TestServer *ts)
{
    int fd = testConnectPath(ts->path);

    g_assert_cmpint(fd, >=, 0);
    return fd;
}

static void
testSendBytes(int fd, const guint8 *data, gsize len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        g_assert_cmpint(n, >, 0);
        data += n;
        len -= n;
    }
}

static GByteArray *
testPacket(guint32 prog, guint32 vers, gint32 proc, guint32 type, guint32 serial)
{
    qvirRpcHeader hdr = {prog, vers, proc, type, serial, QVIR_RPC_STATUS_OK};

    return qvirRpcPacketStart(&hdr);
}

static void
testSendPacket(int fd, GByteArray *pkt)
{
    g_assert_true(qvirRpcPacketFinish(pkt, NULL));
    testSendBytes(fd, pkt->data, pkt->len);
}

/* A remote call with the body built by the caller (finished and sent here). */
static void
testCall(int fd, gint32 proc, guint32 serial, GByteArray *body)
{
    g_autoptr(GByteArray) pkt =
        testPacket(QVIR_RPC_REMOTE_PROGRAM, QVIR_RPC_REMOTE_VERSION, proc, QVIR_RPC_CALL, serial);

    if (body)
        g_byte_array_append(pkt, body->data, body->len);
    testSendPacket(fd, pkt);
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
    GBytes *body;
} TestReply;

static void
testReplyClear(TestReply *r)
{
    g_clear_pointer(&r->body, g_bytes_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TestReply, testReplyClear);

/* Read one packet; FALSE on EOF (the server closed the connection). */
static gboolean
testRecv(int fd, TestReply *reply)
{
    guint8 lenbuf[4];
    g_autofree guint8 *data = NULL;
    qvirXdrReader rd;
    guint32 len;

    if (!testRecvAll(fd, lenbuf, 4))
        return FALSE;
    qvirXdrReaderInit(&rd, lenbuf, 4);
    g_assert_true(qvirXdrReadU32(&rd, &len, NULL));
    g_assert_true(qvirRpcPacketCheckLength(len, NULL));
    data = g_malloc(len - 4);
    g_assert_true(testRecvAll(fd, data, len - 4));
    qvirXdrReaderInit(&rd, data, len - 4);
    g_assert_true(qvirRpcHeaderDecode(&rd, &reply->hdr, NULL));
    reply->body = g_bytes_new(data + rd.pos, len - 4 - rd.pos);
    return TRUE;
}

static void
testExpectClosed(int fd)
{
    guint8 b;

    g_assert_cmpint(recv(fd, &b, 1, 0), ==, 0);
}

static void
testReplyReader(const TestReply *r, qvirXdrReader *rd)
{
    gsize len;
    const guint8 *data = g_bytes_get_data(r->body, &len);

    qvirXdrReaderInit(rd, data, len);
}

static void
testExpectOk(const TestReply *r, gint32 proc, guint32 serial)
{
    g_assert_cmpuint(r->hdr.program, ==, QVIR_RPC_REMOTE_PROGRAM);
    g_assert_cmpuint(r->hdr.type, ==, QVIR_RPC_REPLY);
    g_assert_cmpint(r->hdr.procedure, ==, proc);
    g_assert_cmpuint(r->hdr.serial, ==, serial);
    g_assert_cmpuint(r->hdr.status, ==, QVIR_RPC_STATUS_OK);
}

/* Check an error reply; its message must contain FRAGMENT. */
static void
testExpectError(const TestReply *r, guint32 serial, int code, const char *fragment)
{
    qvirRpcError err = {0};
    qvirXdrReader rd;

    g_assert_cmpuint(r->hdr.type, ==, QVIR_RPC_REPLY);
    g_assert_cmpuint(r->hdr.serial, ==, serial);
    g_assert_cmpuint(r->hdr.status, ==, QVIR_RPC_STATUS_ERROR);
    testReplyReader(r, &rd);
    g_assert_true(qvirRpcErrorDecode(&rd, &err, NULL));
    g_assert_true(qvirXdrReaderCheckEnd(&rd, NULL));
    g_assert_cmpint(err.code, ==, code);
    g_assert_nonnull(err.message);
    if (!strstr(err.message, fragment))
        g_error("error message '%s' lacks '%s'", err.message, fragment);
    g_free(err.message);
    g_free(err.str1);
    g_free(err.str2);
    g_free(err.str3);
}

static gint32
testReplyInt(const TestReply *r)
{
    qvirXdrReader rd;
    gint32 v;

    testReplyReader(r, &rd);
    g_assert_true(qvirXdrReadInt(&rd, &v, NULL));
    g_assert_true(qvirXdrReaderCheckEnd(&rd, NULL));
    return v;
}

static GByteArray *
testIntBody(gint32 v)
{
    GByteArray *b = g_byte_array_new();

    qvirXdrWriteInt(b, v);
    return b;
}

/* CONNECT_OPEN("qemu:///system", 0) */
static void
testOpen(int fd, guint32 serial)
{
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_auto(TestReply) r = {0};

    qvirXdrWriteOptString(body, "qemu:///system");
    qvirXdrWriteU32(body, 0);
    testCall(fd, 1, serial, body);
    g_assert_true(testRecv(fd, &r));
    testExpectOk(&r, 1, serial);
    g_assert_cmpuint(g_bytes_get_size(r.body), ==, 0);
}

/* ---- REMOTE program ------------------------------------------------------------- */

static void
testSocketMode(void)
{
    TestServer *ts = testServerStart(TRUE);
    GStatBuf st;

    g_assert_cmpint(g_stat(ts->path, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpuint(st.st_mode & 0777, ==, 0600);
    g_assert_cmpint(g_stat(ts->roPath, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpuint(st.st_mode & 0777, ==, 0666);
    testServerStop(ts);
}

/* CONNECT_OPEN("qemu:///system", FLAGS); the reply must be OK. */
static void
testOpenFlags(int fd, guint32 serial, guint32 flags)
{
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_auto(TestReply) r = {0};

    qvirXdrWriteOptString(body, "qemu:///system");
    qvirXdrWriteU32(body, flags);
    testCall(fd, 1, serial, body);
    g_assert_true(testRecv(fd, &r));
    testExpectOk(&r, 1, serial);
}

/* DOMAIN_DEFINE_XML (11), DOMAIN_CREATE (9) and DOMAIN_DESTROY (12) must all be
 * refused as read-only before anything looks at a driver or a domain. */
static void
testExpectWritesDenied(int fd, guint32 serial)
{
    static const struct {
        gint32 proc;
        const char *api;
    } writes[] = {{11, "virDomainDefineXML"}, {9, "virDomainCreate"}, {12, "virDomainDestroy"}};
    guint8 uuid[VIR_UUID_BUFLEN] = {1};
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(writes); i++) {
        g_autoptr(GByteArray) body = g_byte_array_new();
        g_auto(TestReply) r = {0};

        if (writes[i].proc == 11) {
            qvirXdrWriteString(body, "<domain type='kvm'><name>x</name></domain>");
        } else {
            qvirXdrWriteString(body, "x");
            qvirXdrWriteFixedOpaque(body, uuid, sizeof(uuid));
            qvirXdrWriteInt(body, -1);
        }
        testCall(fd, writes[i].proc, serial + i, body);
        g_assert_true(testRecv(fd, &r));
        g_assert_cmpint(r.hdr.procedure, ==, writes[i].proc);
        testExpectError(&r, serial + i, QVIR_ERR_OPERATION_DENIED, writes[i].api);
    }
}

/* The read-only socket makes every client read-only, whatever CONNECT_OPEN asked;
 * on the read-write socket a read-only CONNECT_OPEN is held to the same rule,
 * and a read-write one is not refused as read-only. */
static void
testReadOnlySocket(void)
{
    TestServer *ts = testServerStart(TRUE);
    int fd = testConnectPath(ts->roPath);

    g_assert_cmpint(fd, >=, 0);
    testOpenFlags(fd, 1, 0); /* asks for read-write */
    testExpectWritesDenied(fd, 2);
    close(fd);

    fd = testConnectPath(ts->roPath);
    g_assert_cmpint(fd, >=, 0);
    testOpenFlags(fd, 1, 1); /* VIR_CONNECT_RO */
    testExpectWritesDenied(fd, 2);
    close(fd);

    fd = testConnect(ts);
    testOpenFlags(fd, 1, 1);
    testExpectWritesDenied(fd, 2);
    close(fd);

    /* Read-write: past the read-only check, to the missing driver. */
    fd = testConnect(ts);
    testOpenFlags(fd, 1, 0);
    {
        g_autoptr(GByteArray) body = g_byte_array_new();
        g_auto(TestReply) r = {0};

        qvirXdrWriteString(body, "<domain/>");
        testCall(fd, 11, 2, body);
        g_assert_true(testRecv(fd, &r));
        testExpectError(&r, 2, QVIR_ERR_NO_CONNECT, "no connection driver");
    }
    close(fd);
    testServerStop(ts);
}

#define TEST_NOBODY 65534

/* In a child running as nobody: the read-write socket (its mode loosened by the
 * parent) accepts the connect but closes it without answering CONNECT_OPEN; the
 * read-only socket answers, and refuses writes. Exit status 0 when all held. */
static void G_GNUC_NORETURN
testPeerCredChild(TestServer *ts)
{
    g_autoptr(GByteArray) body = g_byte_array_new();
    int fd;

    if (setresgid(TEST_NOBODY, TEST_NOBODY, TEST_NOBODY) < 0 ||
        setresuid(TEST_NOBODY, TEST_NOBODY, TEST_NOBODY) < 0 || geteuid() != TEST_NOBODY)
        _exit(10);

    fd = testConnectPath(ts->path);
    if (fd < 0)
        _exit(11);
    {
        g_autoptr(GByteArray) pkt =
            testPacket(QVIR_RPC_REMOTE_PROGRAM, QVIR_RPC_REMOTE_VERSION, 1, QVIR_RPC_CALL, 1);
        guint8 b;
        ssize_t n;

        qvirXdrWriteOptString(body, "qemu:///system");
        qvirXdrWriteU32(body, 0);
        g_byte_array_append(pkt, body->data, body->len);
        g_assert_true(qvirRpcPacketFinish(pkt, NULL));
        /* The server may have closed already: the send may fail with EPIPE. */
        (void)!send(fd, pkt->data, pkt->len, MSG_NOSIGNAL);
        /* Closed without a reply: EOF or a reset, never a byte, never the timeout. */
        n = recv(fd, &b, 1, 0);
        if (!(n == 0 || (n < 0 && errno == ECONNRESET)))
            _exit(13);
    }
    close(fd);

    fd = testConnectPath(ts->roPath);
    if (fd < 0)
        _exit(12);
    testOpenFlags(fd, 1, 0);
    testExpectWritesDenied(fd, 2);
    close(fd);
    _exit(0);
}

static void
testPeerCred(void)
{
    TestServer *ts;
    pid_t pid;
    int status;
    int fd;

    if (geteuid() != 0) {
        g_test_skip("SO_PEERCRED: connecting as another uid needs root");
        return;
    }
    ts = testServerStart(TRUE);
    /* nobody must reach the sockets at all: the directory is searchable. */
    g_assert_cmpint(g_chmod(ts->dir, 0711), ==, 0);

    /* With the socket's own mode 0600, nobody cannot even connect. */
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        if (setresuid(TEST_NOBODY, TEST_NOBODY, TEST_NOBODY) < 0)
            _exit(10);
        fd = testConnectPath(ts->path);
        _exit(fd == -EACCES ? 0 : 11);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);

    /* Loosened, the credential check alone must keep nobody out. */
    g_assert_cmpint(g_chmod(ts->path, 0666), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0)
        testPeerCredChild(ts);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);

    /* Root (the daemon's own user here) is still served on the read-write socket. */
    fd = testConnect(ts);
    testOpen(fd, 1);
    close(fd);
    g_assert_cmpuint(qvirRpcServerNumClients(ts->srv), <=, 1);
    testServerStop(ts);
}

/* What virsh sends before its command, and what it expects back. */
static void
testPreamble(void)
{
    TestServer *ts = testServerStart(TRUE);
    int fd = testConnect(ts);
    g_autoptr(GByteArray) f10 = testIntBody(10);
    g_autoptr(GByteArray) f14 = testIntBody(14);
    qvirXdrReader rd;
    g_autofree char *type = NULL;
    guint32 n;
    gint32 auth;
    guint64 ver;

    {
        g_auto(TestReply) r = {0};

        testCall(fd, 66, 1, NULL); /* AUTH_LIST */
        g_assert_true(testRecv(fd, &r));
        testExpectOk(&r, 66, 1);
        testReplyReader(&r, &rd);
        g_assert_true(qvirXdrReadArrayLen(&rd, 20, 4, &n, NULL));
        g_assert_cmpuint(n, ==, 1);
        g_assert_true(qvirXdrReadInt(&rd, &auth, NULL));
        g_assert_cmpint(auth, ==, 0);
    }
    {
        g_auto(TestReply) r = {0};

        testCall(fd, 60, 2, f10); /* SUPPORTS_FEATURE keepalive */
        g_assert_true(testRecv(fd, &r));
        testExpectOk(&r, 60, 2);
        g_assert_cmpint(testReplyInt(&r), ==, 1);
    }
    testOpen(fd, 3);
    {
        g_auto(TestReply) r = {0};
        g_auto(TestReply) dereg = {0};
        g_autoptr(GByteArray) id = testIntBody(12345);
        gint32 events;

        /* Remote event callbacks are offered exactly when their procedures exist:
         * DEREGISTER_ANY then fails for want of a driver, not as unsupported. */
        testCall(fd, 60, 4, f14);
        g_assert_true(testRecv(fd, &r));
        events = testReplyInt(&r);
        g_assert_true(events == 0 || events == 1);
        testCall(fd, 317, 40, id);
        g_assert_true(testRecv(fd, &dereg));
        testExpectError(&dereg, 40, events ? QVIR_ERR_NO_CONNECT : QVIR_ERR_NO_SUPPORT,
                        events ? "no connection driver" : "not supported");
    }
    {
        g_auto(TestReply) r = {0};
        g_autoptr(GByteArray) f999 = testIntBody(999);

        testCall(fd, 60, 41, f999); /* a feature nobody knows */
        g_assert_true(testRecv(fd, &r));
        g_assert_cmpint(testReplyInt(&r), ==, 0);
    }
    {
        g_auto(TestReply) r = {0};

        testCall(fd, 3, 5, NULL); /* GET_TYPE */
        g_assert_true(testRecv(fd, &r));
        testExpectOk(&r, 3, 5);
        testReplyReader(&r, &rd);
        g_assert_true(qvirXdrReadString(&rd, 64, &type, NULL));
        g_assert_cmpstr(type, ==, "QEMU");
    }
    {
        g_auto(TestReply) r = {0};

        testCall(fd, 157, 6, NULL); /* GET_LIB_VERSION */
        g_assert_true(testRecv(fd, &r));
        testReplyReader(&r, &rd);
        g_assert_true(qvirXdrReadU64(&rd, &ver, NULL));
        g_assert_cmpuint(ver, ==, 9000000);
    }
    {
        g_auto(TestReply) r = {0};

        testCall(fd, 2, 7, NULL); /* CONNECT_CLOSE */
        g_assert_true(testRecv(fd, &r));
        testExpectOk(&r, 2, 7);
    }
    close(fd);
    testServerStop(ts);
}

static void
testNotOpen(void)
{
    TestServer *ts = testServerStart(TRUE);
    int fd = testConnect(ts);
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_auto(TestReply) r1 = {0};
    g_auto(TestReply) r2 = {0};
    g_auto(TestReply) r3 = {0};

    testCall(fd, 3, 10, NULL);
    g_assert_true(testRecv(fd, &r1));
    testExpectError(&r1, 10, QVIR_ERR_INTERNAL_ERROR, "connection not open");

    /* A URI for another driver is refused. */
    qvirXdrWriteOptString(body, "xen:///system");
    qvirXdrWriteU32(body, 0);
    testCall(fd, 1, 11, body);
    g_assert_true(testRecv(fd, &r2));
    testExpectError(&r2, 11, QVIR_ERR_NO_CONNECT, "no connection driver available for xen");

    /* Without a driver, domain calls fail cleanly. */
    testOpen(fd, 12);
    testCall(fd, 51, 13, NULL); /* NUM_OF_DOMAINS */
    g_assert_true(testRecv(fd, &r3));
    testExpectError(&r3, 13, QVIR_ERR_NO_CONNECT, "no connection driver");
    close(fd);
    testServerStop(ts);
}

static void
testUnknownProcedure(void)
{
    TestServer *ts = testServerStart(TRUE);
    int fd = testConnect(ts);
    g_auto(TestReply) r1 = {0};
    g_auto(TestReply) r2 = {0};
    g_auto(TestReply) r3 = {0};
    g_auto(TestReply) r4 = {0};

    testOpen(fd, 1);
    testCall(fd, 56, 2, NULL); /* DOMAIN_GET_SCHEDULER_TYPE: known, not served */
    g_assert_true(testRecv(fd, &r1));
    testExpectError(&r1, 2, QVIR_ERR_NO_SUPPORT,
                    "this function is not supported by the connection driver: "
                    "virDomainGetSchedulerType");
    g_assert_cmpint(r1.hdr.procedure, ==, 56);

    testCall(fd, 99999, 3, NULL);
    g_assert_true(testRecv(fd, &r2));
    testExpectError(&r2, 3, QVIR_ERR_NO_SUPPORT, "procedure 99999");

    testCall(fd, -5, 4, NULL);
    g_assert_true(testRecv(fd, &r3));
    testExpectError(&r3, 4, QVIR_ERR_NO_SUPPORT, "procedure -5");

    /* The connection is still fine. */
    testCall(fd, 3, 5, NULL);
    g_assert_true(testRecv(fd, &r4));
    testExpectOk(&r4, 3, 5);
    close(fd);
    testServerStop(ts);
}

static void
testWrongProgramVersion(void)
{
    TestServer *ts = testServerStart(TRUE);
    int fd = testConnect(ts);
    g_autoptr(GByteArray) p1 = testPacket(0x12345678, 1, 3, QVIR_RPC_CALL, 20);
    g_autoptr(GByteArray) p2 = testPacket(QVIR_RPC_REMOTE_PROGRAM, 2, 3, QVIR_RPC_CALL, 21);
    g_autoptr(GByteArray) p3 =
        testPacket(QVIR_RPC_REMOTE_PROGRAM, 1, 3, QVIR_RPC_CALL_WITH_FDS, 22);
    g_auto(TestReply) r1 = {0};
    g_auto(TestReply) r2 = {0};
    g_auto(TestReply) r3 = {0};
    g_auto(TestReply) r4 = {0};

    testSendPacket(fd, p1);
    g_assert_true(testRecv(fd, &r1));
    testExpectError(&r1, 20, QVIR_ERR_RPC, "Cannot find program 305419896 version 1");
    g_assert_cmpuint(r1.hdr.program, ==, 0x12345678);

    testSendPacket(fd, p2);
    g_assert_true(testRecv(fd, &r2));
    testExpectError(&r2, 21, QVIR_ERR_RPC, "version 2");

    testSendPacket(fd, p3);
    g_assert_true(testRecv(fd, &r3));
    testExpectError(&r3, 22, QVIR_ERR_RPC, "Unexpected message type 4");

    testOpen(fd, 23);
    testCall(fd, 3, 24, NULL);
    g_assert_true(testRecv(fd, &r4));
    testExpectOk(&r4, 3, 24);
    close(fd);
    testServerStop(ts);
}

static void
testMalformedArgs(void)
{
    TestServer *ts = testServerStart(TRUE);
    int fd = testConnect(ts);
    g_autoptr(GByteArray) trailing = g_byte_array_new();
    g_autoptr(GByteArray) badStr = g_byte_array_new();
    g_auto(TestReply) r1 = {0};
    g_auto(TestReply) r2 = {0};
    g_auto(TestReply) r3 = {0};
    g_auto(TestReply) r4 = {0};

    testCall(fd, 60, 1, NULL); /* SUPPORTS_FEATURE without its int */
    g_assert_true(testRecv(fd, &r1));
    testExpectError(&r1, 1, QVIR_ERR_RPC, "Unable to decode message payload");

    qvirXdrWriteInt(trailing, 10);
    qvirXdrWriteInt(trailing, 11);
    testCall(fd, 60, 2, trailing);
    g_assert_true(testRecv(fd, &r2));
    testExpectError(&r2, 2, QVIR_ERR_RPC, "trailing");

    /* CONNECT_OPEN whose string length points past the packet. */
    qvirXdrWriteU32(badStr, 1);
    qvirXdrWriteU32(badStr, 0x7fffffff);
    qvirXdrWriteU32(badStr, 0);
    testCall(fd, 1, 3, badStr);
    g_assert_true(testRecv(fd, &r3));
    testExpectError(&r3, 3, QVIR_ERR_RPC, "Unable to decode message payload");

    testOpen(fd, 4);
    testCall(fd, 3, 5, NULL);
    g_assert_true(testRecv(fd, &r4));
    testExpectOk(&r4, 3, 5);
    close(fd);
    testServerStop(ts);
}

/* Packets that cannot be framed close the connection; the server lives on. */
static void
testFramingErrors(void)
{
    TestServer *ts = testServerStart(TRUE);
    static const guint8 tooShort[] = {0, 0, 0, 8, 0, 0, 0, 0};
    static const guint8 zero[] = {0, 0, 0, 0};
    static const guint8 tooLong[] = {0x02, 0x00, 0x00, 0x05, 0, 0, 0, 0};
    static const guint8 *const bad[] = {tooShort, zero, tooLong};
    static const gsize badLen[] = {sizeof(tooShort), sizeof(zero), sizeof(tooLong)};
    guint i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        int fd = testConnect(ts);

        testSendBytes(fd, bad[i], badLen[i]);
        testExpectClosed(fd);
        close(fd);
    }
    for (i = QVIR_RPC_REPLY; i <= QVIR_RPC_STREAM_HOLE; i++) {
        g_autoptr(GByteArray) pkt = NULL;
        int fd;

        /* Calls with FDs get an error reply; stream packets of no stream are dropped
         * (rpcstreamtest). */
        if (i == QVIR_RPC_CALL_WITH_FDS || i == QVIR_RPC_STREAM || i == QVIR_RPC_STREAM_HOLE)
            continue;
        fd = testConnect(ts);
        pkt = testPacket(QVIR_RPC_REMOTE_PROGRAM, 1, 3, i, 1);
        testSendPacket(fd, pkt);
        testExpectClosed(fd);
        close(fd);
    }
    {
        /* A good packet followed by garbage: the reply still comes, then EOF. */
        int fd = testConnect(ts);
        g_autoptr(GByteArray) pkt = testPacket(QVIR_RPC_REMOTE_PROGRAM, 1, 66, QVIR_RPC_CALL, 9);
        g_auto(TestReply) r = {0};

        g_assert_true(qvirRpcPacketFinish(pkt, NULL));
        g_byte_array_append(pkt, tooShort, sizeof(tooShort));
        testSendBytes(fd, pkt->data, pkt->len);
        g_assert_true(testRecv(fd, &r));
        testExpectOk(&r, 66, 9);
        testExpectClosed(fd);
        close(fd);
    }
    {
        int fd = testConnect(ts);
        g_auto(TestReply) r = {0};

        testCall(fd, 66, 1, NULL);
        g_assert_true(testRecv(fd, &r));
        testExpectOk(&r, 66, 1);
        close(fd);
    }
    testServerStop(ts);
}

/* Random bytes from many clients: the server must survive and keep serving. */
static void
testGarbageClients(void)
{
    TestServer *ts = testServerStart(TRUE);
    g_autoptr(GRand) rand = g_rand_new_with_seed(4242);
    guint i;

    for (i = 0; i < 200; i++) {
        int fd = testConnect(ts);
        guint8 buf[64];
        gsize len = g_rand_int_range(rand, 1, sizeof(buf));
        gsize k;

        for (k = 0; k < len; k++)
            buf[k] = g_rand_int_range(rand, 0, 256);
        /* Often a plausible length word, so the header gets parsed too. */
        if (i % 2 == 0 && len >= 4) {
            buf[0] = 0;
            buf[1] = 0;
            buf[2] = 0;
            buf[3] = 28 + 4 * g_rand_int_range(rand, 0, 6);
        }
        testSendBytes(fd, buf, len);
        close(fd);
    }
    {
        int fd = testConnect(ts);
        g_auto(TestReply) r = {0};

        testCall(fd, 66, 77, NULL);
        g_assert_true(testRecv(fd, &r));
        testExpectOk(&r, 66, 77);
        close(fd);
    }
    testServerStop(ts);
}

/* One byte at a time, and several packets in one write. */
static void
testSplitAndCoalesced(void)
{
    TestServer *ts = testServerStart(TRUE);
    int fd = testConnect(ts);
    g_autoptr(GByteArray) pkt = testPacket(QVIR_RPC_REMOTE_PROGRAM, 1, 66, QVIR_RPC_CALL, 31);
    g_autoptr(GByteArray) many = g_byte_array_new();
    guint i;

    g_assert_true(qvirRpcPacketFinish(pkt, NULL));
    for (i = 0; i < pkt->len; i++) {
        testSendBytes(fd, pkt->data + i, 1);
        g_usleep(200);
    }
    {
        g_auto(TestReply) r = {0};

        g_assert_true(testRecv(fd, &r));
        testExpectOk(&r, 66, 31);
    }

    for (i = 0; i < 5; i++) {
        g_autoptr(GByteArray) p = testPacket(QVIR_RPC_REMOTE_PROGRAM, 1, 66, QVIR_RPC_CALL, 40 + i);

        g_assert_true(qvirRpcPacketFinish(p, NULL));
        g_byte_array_append(many, p->data, p->len);
    }
    testSendBytes(fd, many->data, many->len);
    for (i = 0; i < 5; i++) {
        g_auto(TestReply) r = {0};

        g_assert_true(testRecv(fd, &r));
        testExpectOk(&r, 66, 40 + i);
    }
    close(fd);
    testServerStop(ts);
}

static void
testKeepalive(void)
{
    TestServer *ts = testServerStart(TRUE);
    int fd = testConnect(ts);
    g_autoptr(GByteArray) ping = testPacket(QVIR_RPC_KEEPALIVE_PROGRAM, 1, 1, QVIR_RPC_MESSAGE, 0);
    g_autoptr(GByteArray) pong = testPacket(QVIR_RPC_KEEPALIVE_PROGRAM, 1, 2, QVIR_RPC_MESSAGE, 0);
    g_auto(TestReply) r1 = {0};
    g_auto(TestReply) r2 = {0};

    testSendPacket(fd, ping);
    g_assert_true(testRecv(fd, &r1));
    g_assert_cmpuint(r1.hdr.program, ==, QVIR_RPC_KEEPALIVE_PROGRAM);
    g_assert_cmpint(r1.hdr.procedure, ==, QVIR_RPC_KEEPALIVE_PROC_PONG);
    g_assert_cmpuint(r1.hdr.type, ==, QVIR_RPC_MESSAGE);
    g_assert_cmpuint(g_bytes_get_size(r1.body), ==, 0);

    /* A PONG from the client needs no answer: the next packet is the call's reply. */
    testSendPacket(fd, pong);
    testCall(fd, 66, 5, NULL);
    g_assert_true(testRecv(fd, &r2));
    testExpectOk(&r2, 66, 5);
    close(fd);
    testServerStop(ts);
}

/* ---- test program: concurrency ------------------------------------------------------ */

static void
testProgCall(int fd, gint32 proc, guint32 serial, gint32 val)
{
    g_autoptr(GByteArray) pkt = testPacket(TEST_PROGRAM, 1, proc, QVIR_RPC_CALL, serial);

    qvirXdrWriteInt(pkt, val);
    testSendPacket(fd, pkt);
}

static void
testProgExpect(int fd, guint32 serial, gint32 val)
{
    g_auto(TestReply) r = {0};

    g_assert_true(testRecv(fd, &r));
    g_assert_cmpuint(r.hdr.program, ==, TEST_PROGRAM);
    g_assert_cmpuint(r.hdr.serial, ==, serial);
    g_assert_cmpuint(r.hdr.status, ==, QVIR_RPC_STATUS_OK);
    g_assert_cmpint(testReplyInt(&r), ==, val);
}

/* A call blocked in one client does not hold up another client. */
static void
testNoStallAcrossClients(void)
{
    TestServer *ts = testServerStart(FALSE);
    int a = testConnect(ts);
    int b = testConnect(ts);

    testProgCall(a, TEST_PROC_HOLD, 1, 111);
    testServerWaitHeld(ts, 1);
    testProgCall(b, TEST_PROC_ECHO, 2, 222);
    testProgExpect(b, 2, 222);
    testProgCall(b, TEST_PROC_HOLD, 3, 333);
    testServerWaitHeld(ts, 2);
    testServerRelease(ts);
    testProgExpect(a, 1, 111);
    testProgExpect(b, 3, 333);
    close(a);
    close(b);
    testServerStop(ts);
}

/* Replies leave in the order the calls came, even when a later one finishes first;
 * more calls than the in-flight limit are all answered. */
static void
testRepliesInOrder(void)
{
    TestServer *ts = testServerStart(FALSE);
    int fd = testConnect(ts);
    guint i;

    testProgCall(fd, TEST_PROC_HOLD, 1, 1);
    testServerWaitHeld(ts, 1);
    testProgCall(fd, TEST_PROC_ECHO, 2, 2);
    for (i = 3; i <= 3 * QVIR_RPC_CLIENT_MAX_REQUESTS; i++)
        testProgCall(fd, i % 2 ? TEST_PROC_HOLD : TEST_PROC_ECHO, i, i);
    /* Nothing may arrive while the first call is held. */
    {
        struct timeval tv = {.tv_usec = 200000};
        guint8 b;

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        g_assert_cmpint(recv(fd, &b, 1, MSG_PEEK), <, 0);
        g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        tv.tv_sec = 10;
        tv.tv_usec = 0;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    testServerRelease(ts);
    for (i = 1; i <= 3 * QVIR_RPC_CLIENT_MAX_REQUESTS; i++)
        testProgExpect(fd, i, i);
    close(fd);
    testServerStop(ts);
}

/* Messages sent from another thread arrive whole, in order, with serial 0; a
 * closed client takes none and is still freed. */
static void
testMessages(void)
{
    TestServer *ts = testServerStart(FALSE);
    int fd = testConnect(ts);
    int gone = testConnect(ts);
    gint32 i;
    gint64 deadline;

    testProgCall(fd, TEST_PROC_SUBSCRIBE, 1, 5);
    {
        gint32 next = 0;
        guint replies = 0;

        /* The reply and the messages race; the messages keep their order. */
        for (i = 0; i < 6; i++) {
            g_auto(TestReply) r = {0};

            g_assert_true(testRecv(fd, &r));
            g_assert_cmpuint(r.hdr.program, ==, TEST_PROGRAM);
            if (r.hdr.type == QVIR_RPC_REPLY) {
                g_assert_cmpuint(r.hdr.serial, ==, 1);
                g_assert_cmpint(testReplyInt(&r), ==, 5);
                replies++;
                continue;
            }
            g_assert_cmpuint(r.hdr.type, ==, QVIR_RPC_MESSAGE);
            g_assert_cmpint(r.hdr.procedure, ==, TEST_PROC_EVENT);
            g_assert_cmpuint(r.hdr.serial, ==, 0);
            g_assert_cmpint(testReplyInt(&r), ==, next++);
        }
        g_assert_cmpuint(replies, ==, 1);
        g_assert_cmpint(next, ==, 5);
    }
    /* A call after the messages is answered as usual. */
    testProgCall(fd, TEST_PROC_ECHO, 2, 7);
    testProgExpect(fd, 2, 7);

    /* Subscribe and hang up at once: the events find a closed client. */
    testProgCall(gone, TEST_PROC_SUBSCRIBE, 1, 3);
    close(gone);
    deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    while (g_atomic_int_get(&ts->clientsFreed) < 1 && g_get_monotonic_time() < deadline)
        g_usleep(10000);
    g_assert_cmpint(g_atomic_int_get(&ts->clientsFreed), ==, 1);
    close(fd);
    testServerStop(ts);
}

/* More inline calls in one write than may be in flight: all are answered. */
static void
testPipelinedInline(void)
{
    TestServer *ts = testServerStart(FALSE);
    int fd = testConnect(ts);
    g_autoptr(GByteArray) all = g_byte_array_new();
    guint i, n = 5 * QVIR_RPC_CLIENT_MAX_REQUESTS;

    for (i = 1; i <= n; i++) {
        g_autoptr(GByteArray) p = testPacket(TEST_PROGRAM, 1, TEST_PROC_ECHO, QVIR_RPC_CALL, i);

        qvirXdrWriteInt(p, i * 10);
        g_assert_true(qvirRpcPacketFinish(p, NULL));
        g_byte_array_append(all, p->data, p->len);
    }
    testSendBytes(fd, all->data, all->len);
    for (i = 1; i <= n; i++)
        testProgExpect(fd, i, i * 10);
    close(fd);
    testServerStop(ts);
}

/* A client that sends and does not read: the server stops reading once replies
 * pile up, and resumes when they are read; nothing is lost. */
static void
testUnreadReplies(void)
{
    TestServer *ts = testServerStart(FALSE);
    int fd = testConnect(ts);
    guint i, n = 12;
    gsize size = 1024 * 1024;

    for (i = 1; i <= n; i++)
        testProgCall(fd, TEST_PROC_BIG, i, size);
    for (i = 1; i <= n; i++) {
        g_auto(TestReply) r = {0};
        g_autofree char *s = NULL;
        qvirXdrReader rd;

        g_assert_true(testRecv(fd, &r));
        g_assert_cmpuint(r.hdr.serial, ==, i);
        g_assert_cmpuint(r.hdr.status, ==, QVIR_RPC_STATUS_OK);
        testReplyReader(&r, &rd);
        g_assert_true(qvirXdrReadString(&rd, REMOTE_STRING_MAX, &s, NULL));
        g_assert_cmpuint(strlen(s), ==, size);
    }
    close(fd);
    testServerStop(ts);
}

/* A client that hangs up while its call runs: the call finishes, its reply is
 * dropped, the client's data is freed, and the server keeps serving. */
static void
testDisconnectMidCall(void)
{
    TestServer *ts = testServerStart(FALSE);
    int fd = testConnect(ts);
    int other;
    gint64 deadline;

    testProgCall(fd, TEST_PROC_HOLD, 1, 5);
    testProgCall(fd, TEST_PROC_HOLD, 2, 6);
    testServerWaitHeld(ts, 2);
    close(fd);
    g_usleep(100000);
    g_assert_cmpint(g_atomic_int_get(&ts->clientsFreed), ==, 0);
    testServerRelease(ts);

    deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    while (g_atomic_int_get(&ts->clientsFreed) < 1 && g_get_monotonic_time() < deadline)
        g_usleep(10000);
    g_assert_cmpint(g_atomic_int_get(&ts->clientsFreed), ==, 1);

    other = testConnect(ts);
    testProgCall(other, TEST_PROC_ECHO, 9, 99);
    testProgExpect(other, 9, 99);
    close(other);
    testServerStop(ts);
}

/* A message too long for an error packet is cut on a character boundary. */
static void
testErrorMessageCut(void)
{
    qvirRpcHeader call = {QVIR_RPC_REMOTE_PROGRAM, QVIR_RPC_REMOTE_VERSION, 1, QVIR_RPC_CALL, 7, 0};
    g_autoptr(GString) text = g_string_new("x");
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) pkt = NULL;
    g_autoptr(GError) error = NULL;
    qvirRpcError decoded = {0};
    qvirRpcHeader hdr;
    qvirXdrReader rd;
    guint32 len;

    /* "x" then two-byte characters: byte 65536 is the second half of one */
    while (text->len < 70000)
        g_string_append(text, "\xc3\xa9");
    err = g_error_new_literal(QVIR_ERROR, QVIR_ERR_INVALID_ARG, text->str);
    pkt = qvirRpcPacketNewError(&call, err, QVIR_FROM_QEMU);

    qvirXdrReaderInit(&rd, pkt->data, pkt->len);
    g_assert_true(qvirXdrReadU32(&rd, &len, NULL));
    g_assert_cmpuint(len, ==, pkt->len);
    g_assert_true(qvirRpcHeaderDecode(&rd, &hdr, NULL));
    g_assert_cmpuint(hdr.status, ==, QVIR_RPC_STATUS_ERROR);
    g_assert_true(qvirRpcErrorDecode(&rd, &decoded, &error));
    g_assert_no_error(error);
    g_assert_true(qvirXdrReaderCheckEnd(&rd, NULL));
    g_assert_cmpint(decoded.code, ==, QVIR_ERR_INVALID_ARG);
    g_assert_cmpuint(strlen(decoded.message), ==, 65535);
    g_assert_true(g_utf8_validate(decoded.message, -1, NULL));
    /* libvirt's prefix for the code goes first, then as much of the text as fits */
    g_assert_true(g_str_has_prefix(decoded.message, "invalid argument: x"));
    g_assert_true(g_str_has_prefix(text->str, decoded.message + strlen("invalid argument: ")));
    g_free(decoded.message);
    g_free(decoded.str1);
    g_free(decoded.str2);
    g_free(decoded.str3);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rpc/socket-mode", testSocketMode);
    g_test_add_func("/rpc/access/read-only-socket", testReadOnlySocket);
    g_test_add_func("/rpc/access/peer-credentials", testPeerCred);
    g_test_add_func("/rpc/error-message-cut", testErrorMessageCut);
    g_test_add_func("/rpc/remote/preamble", testPreamble);
    g_test_add_func("/rpc/remote/not-open", testNotOpen);
    g_test_add_func("/rpc/remote/unknown-procedure", testUnknownProcedure);
    g_test_add_func("/rpc/remote/wrong-program-version", testWrongProgramVersion);
    g_test_add_func("/rpc/remote/malformed-args", testMalformedArgs);
    g_test_add_func("/rpc/framing/errors", testFramingErrors);
    g_test_add_func("/rpc/framing/garbage-clients", testGarbageClients);
    g_test_add_func("/rpc/framing/split-and-coalesced", testSplitAndCoalesced);
    g_test_add_func("/rpc/keepalive", testKeepalive);
    g_test_add_func("/rpc/server/no-stall-across-clients", testNoStallAcrossClients);
    g_test_add_func("/rpc/server/replies-in-order", testRepliesInOrder);
    g_test_add_func("/rpc/server/disconnect-mid-call", testDisconnectMidCall);
    g_test_add_func("/rpc/server/pipelined-inline", testPipelinedInline);
    g_test_add_func("/rpc/server/unread-replies", testUnreadReplies);
    g_test_add_func("/rpc/server/messages", testMessages);
    return g_test_run();
}
