/*
 * rpcconntest.c: the client side of the RPC (rpc_conn.c, remote_conn.c), as qvirtd uses it
 * to reach another daemon in a peer-to-peer migration.
 *
 * Against a real qvirRpcServer with the REMOTE program (no driver behind it): which URIs
 * open and what name the server gets, over a unix socket and TCP (127.0.0.1, ports
 * 22000-22001), features, remote errors arriving with their code and message, and the
 * connection's death when the server goes. Against a scripted peer that speaks raw
 * packets: keepalive PINGs answered and events skipped while a reply is awaited, a reply
 * to another serial and a peer that hangs up mid-call (the connection then refuses further
 * calls), an error reply relayed as it came, and our own keepalive: a slow peer that
 * answers PINGs lives, a silent one is given up with libvirt's error (between calls, and
 * while a call waits).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/remote_conn.h"
#include "rpc/remote_dispatch.h"
#include "rpc/remote_protocol.h"
#include "rpc/rpc_server.h"
#include "util/virerror.h"
#include "testutils.h"

static char *tmpDir;

/* ---- a real server, on a thread and main context of its own ------------------------ */

/* TCP: the listener of the real server, and a port where nothing listens */
#define TEST_TCP_PORT 22000
#define TEST_TCP_PORT_DEAF "22001"

typedef struct {
    char *path;
    guint port; /* also on 127.0.0.1:PORT */
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    GAsyncQueue *started;
} ServerThread;

static gpointer
serverThreadRun(gpointer opaque)
{
    ServerThread *st = opaque;
    g_autoptr(GError) err = NULL;
    qvirRpcProgram prog;
    qvirRpcServer *srv;

    g_main_context_push_thread_default(st->ctx);
    qvirRemoteProgramInit(&prog, NULL);
    srv = qvirRpcServerNew(&prog, 2);
    if (!qvirRpcServerAddUnixSocket(srv, st->path, &err) ||
        (st->port && !qvirRpcServerAddTCP(srv, "127.0.0.1", st->port, NULL, &err)))
        g_error("cannot listen on %s: %s", st->path, err->message);
    g_async_queue_push(st->started, GINT_TO_POINTER(1));
    g_main_loop_run(st->loop);
    qvirRpcServerFree(srv);
    g_main_context_pop_thread_default(st->ctx);
    return NULL;
}

static ServerThread *
serverStart(const char *name, guint port)
{
    ServerThread *st = g_new0(ServerThread, 1);

    st->path = g_build_filename(tmpDir, name, NULL);
    st->port = port;
    st->ctx = g_main_context_new();
    st->loop = g_main_loop_new(st->ctx, FALSE);
    st->started = g_async_queue_new();
    st->thread = g_thread_new("server", serverThreadRun, st);
    g_async_queue_pop(st->started);
    return st;
}

static gboolean
serverQuit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static void
serverStop(ServerThread *st)
{
    g_main_context_invoke(st->ctx, serverQuit, st->loop);
    g_thread_join(st->thread);
    g_main_loop_unref(st->loop);
    g_main_context_unref(st->ctx);
    g_async_queue_unref(st->started);
    g_free(st->path);
    g_free(st);
}

/* ---- URIs and errors against the real server ----------------------------------------- */

static void
assertError(const GError *err, int code, const char *message)
{
    g_assert_nonnull(err);
    g_assert_true(err->domain == QVIR_ERROR);
    g_assert_cmpstr(err->message, ==, message);
    g_assert_cmpint(err->code, ==, code);
}

static void
testOpenFails(const char *uri, int code, const char *message)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(qvirRemoteConnOpen(uri, &err));
    assertError(err, code, message);
}

static void
testRemoteURIs(void)
{
    ServerThread *st = serverStart("qvirt-sock", TEST_TCP_PORT);
    g_autofree char *tcpUri = g_strdup_printf("qemu+tcp://127.0.0.1:%d/system", TEST_TCP_PORT);
    g_autofree char *uri = g_strdup_printf("qemu+unix:///system?socket=%s", st->path);
    g_autofree char *bare = g_strdup_printf("qemu:///system?socket=%s", st->path);
    g_autofree char *other = g_strdup_printf("test+unix:///default?socket=%s", st->path);
    g_autofree char *extra =
        g_strdup_printf("qemu+unix:///system?mode=direct&socket=%s&x=a%%20b", st->path);
    g_autofree char *missing = g_build_filename(tmpDir, "nowhere", "sock", NULL);
    g_autofree char *missingUri = g_strdup_printf("qemu+unix:///system?socket=%s", missing);
    g_autofree char *missingMsg =
        g_strdup_printf("Failed to connect socket to '%s': No such file or directory", missing);
    g_autofree char *deaf = g_build_filename(tmpDir, "deaf-sock", NULL);
    g_autofree char *deafUri = g_strdup_printf("qemu+unix:///system?socket=%s", deaf);
    g_autofree char *deafMsg =
        g_strdup_printf("Failed to connect socket to '%s': Connection refused", deaf);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_autoptr(GError) err = NULL;
    remote_domain_migrate_prepare3_params_args args = {0};
    remote_domain_migrate_prepare3_params_ret ret = {0};
    qvirRpcConn *conn;
    int fd;

    /* a unix socket or tcp; libvirt's other transports are refused by name */
    testOpenFails("qemu+tls://example.org/system", QVIR_ERR_ARGUMENT_UNSUPPORTED,
                  "argument unsupported: transport 'tls' of URI 'qemu+tls://example.org/system' "
                  "is not supported by qvirtd: it reaches its peers over unix sockets and tcp");
    testOpenFails("qemu://example.org/system", QVIR_ERR_ARGUMENT_UNSUPPORTED,
                  "argument unsupported: transport 'tls' of URI 'qemu://example.org/system' is "
                  "not supported by qvirtd: it reaches its peers over unix sockets and tcp");
    testOpenFails("qemu+SSH://root@example.org/system", QVIR_ERR_ARGUMENT_UNSUPPORTED,
                  "argument unsupported: transport 'ssh' of URI 'qemu+SSH://root@example.org/"
                  "system' is not supported by qvirtd: it reaches its peers over unix sockets "
                  "and tcp");
    /* libvirt's words (remoteSplitURIScheme) */
    testOpenFails("qemu+udp://example.org/system", QVIR_ERR_INVALID_ARG,
                  "invalid argument: remote_open: transport in URL not recognised (should be "
                  "tls|unix|ssh|ext|tcp|libssh2|libssh)");
    testOpenFails("qemu+unix://example.org/system", QVIR_ERR_INVALID_ARG,
                  "invalid argument: using unix socket and remote server 'example.org' is not "
                  "supported.");
    testOpenFails("qemu+tcp://127.0.0.1:" TEST_TCP_PORT_DEAF "/system", QVIR_ERR_SYSTEM_ERROR,
                  "unable to connect to server at '127.0.0.1:" TEST_TCP_PORT_DEAF
                  "': Connection refused");
    testOpenFails("qemu+unix:///system", QVIR_ERR_ARGUMENT_UNSUPPORTED,
                  "argument unsupported: URI 'qemu+unix:///system' names no socket: qvirtd "
                  "reaches its peers over the unix socket given as ?socket=PATH");
    testOpenFails("::", QVIR_ERR_INTERNAL_ERROR, "internal error: Unable to parse URI ::");
    /* libvirt's words when nobody is there */
    testOpenFails(missingUri, QVIR_ERR_SYSTEM_ERROR, missingMsg);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(addr.sun_path, deaf, sizeof(addr.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    testOpenFails(deafUri, QVIR_ERR_SYSTEM_ERROR, deafMsg);
    close(fd);

    /* the server is told the URI without what is the client's: its refusal names it */
    testOpenFails(other, QVIR_ERR_NO_CONNECT, "no connection driver available for test:///default");
    testOpenFails(extra, QVIR_ERR_NO_CONNECT,
                  "no connection driver available for qemu:///system?x=a%20b");

    conn = qvirRemoteConnOpen(bare, &err);
    g_assert_no_error(err);
    qvirRemoteConnClose(conn);

    /* over TCP the same server, the same answers */
    conn = qvirRemoteConnOpen(tcpUri, &err);
    g_assert_no_error(err);
    g_assert_cmpint(qvirRemoteConnSupportsFeature(conn, QVIR_REMOTE_FEATURE_MIGRATION_P2P, &err),
                    ==, 1);
    g_assert_no_error(err);
    qvirRemoteConnClose(conn);

    conn = qvirRemoteConnOpen(uri, &err);
    g_assert_no_error(err);
    g_assert_true(qvirRpcConnIsAlive(conn));
    g_assert_cmpint(qvirRemoteConnSupportsFeature(conn, QVIR_REMOTE_FEATURE_MIGRATION_P2P, &err),
                    ==, 1);
    g_assert_cmpint(qvirRemoteConnSupportsFeature(conn, QVIR_REMOTE_FEATURE_MIGRATION_PARAMS, &err),
                    ==, 1);
    g_assert_cmpint(qvirRemoteConnSupportsFeature(conn, 1 /* MIGRATION_V1 */, &err), ==, 0);
    g_assert_no_error(err);
    /* the remote error arrives as it was sent; the connection lives on */
    g_assert_false(
        qvirRemoteConnCall(conn, REMOTE_PROC_DOMAIN_MIGRATE_PREPARE3_PARAMS, &args, &ret, &err));
    assertError(err, QVIR_ERR_NO_CONNECT,
                "no connection driver available for virDomainMigratePrepare3Params");
    g_assert_null(ret.uri_out);
    g_clear_error(&err);
    g_assert_true(qvirRpcConnIsAlive(conn));
    g_assert_cmpint(qvirRemoteConnSupportsFeature(conn, QVIR_REMOTE_FEATURE_MIGRATION_V3, &err), ==,
                    1);

    /* the daemon goes: the connection knows without a call */
    serverStop(st);
    g_assert_false(qvirRpcConnIsAlive(conn));
    g_assert_cmpint(qvirRemoteConnSupportsFeature(conn, QVIR_REMOTE_FEATURE_MIGRATION_V3, &err), ==,
                    -1);
    assertError(err, QVIR_ERR_INTERNAL_ERROR, "internal error: client socket is closed");
    qvirRemoteConnClose(conn);
}

/* ---- a scripted peer ------------------------------------------------------------------- */

typedef enum {
    PEER_PING_EVENT_REPLY, /* PING (expects the PONG), an event MESSAGE, then the reply */
    PEER_ERROR,            /* an error reply */
    PEER_WRONG_SERIAL,     /* a reply to a call never made */
    PEER_HANG_UP,          /* reads the call, closes */
    PEER_KEEPALIVE,        /* answers PINGs for a while, replies, then reads without a word */
    PEER_SILENT,           /* reads the call and the PINGs, never answers */
} PeerScript;

/* our keepalive against PEER_KEEPALIVE: a PING after 1 s of silence, given up after 2 s */
#define PEER_KA_INTERVAL 1
#define PEER_KA_COUNT 1
/* how long the peer takes to reply, answering PINGs: more than the 2 s of silence allowed */
#define PEER_KA_SLOW_REPLY_US (5 * G_USEC_PER_SEC / 2)

typedef struct {
    int listenFd;
    PeerScript script;
    gboolean sawPong;
    guint pongsSent;    /* PEER_KEEPALIVE: PINGs answered before the reply */
    guint pingsIgnored; /* ... and the ones it kept quiet about afterwards */
} Peer;

static gboolean
peerReadPacket(int fd, qvirRpcHeader *hdr)
{
    guint8 buf[4096];
    guint32 len;
    qvirXdrReader rd;
    gsize got = 0;

    if (recv(fd, buf, 4, MSG_WAITALL) != 4)
        return FALSE;
    len = GUINT32_FROM_BE(*(guint32 *)(void *)buf);
    g_assert_cmpuint(len, <=, sizeof(buf));
    while (got < len - 4) {
        ssize_t n = recv(fd, buf + 4 + got, len - 4 - got, 0);

        g_assert_cmpint(n, >, 0);
        got += (gsize)n;
    }
    qvirXdrReaderInit(&rd, buf + 4, len - 4);
    return qvirRpcHeaderDecode(&rd, hdr, NULL);
}

static void
peerSend(int fd, const qvirRpcHeader *hdr, GByteArray *body)
{
    g_autoptr(GByteArray) pkt = qvirRpcPacketStart(hdr);

    if (body)
        g_byte_array_append(pkt, body->data, body->len);
    g_assert_true(qvirRpcPacketFinish(pkt, NULL));
    g_assert_cmpint(send(fd, pkt->data, pkt->len, MSG_NOSIGNAL), ==, (ssize_t)pkt->len);
}

/* The packets FD sends within US microseconds, every PING answered: how many. */
static guint
peerAnswerPings(int fd, gint64 us)
{
    gint64 end = g_get_monotonic_time() + us;
    guint pongs = 0;

    for (gint64 now; (now = g_get_monotonic_time()) < end;) {
        g_autoptr(GByteArray) pong = qvirRpcPacketNewPong();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        qvirRpcHeader hdr;

        if (poll(&pfd, 1, (int)((end - now) / 1000) + 1) <= 0)
            continue;
        g_assert_true(peerReadPacket(fd, &hdr));
        g_assert_cmpuint(hdr.program, ==, QVIR_RPC_KEEPALIVE_PROGRAM);
        g_assert_cmpint(hdr.procedure, ==, QVIR_RPC_KEEPALIVE_PROC_PING);
        g_assert_cmpint(send(fd, pong->data, pong->len, MSG_NOSIGNAL), ==, (ssize_t)pong->len);
        pongs++;
    }
    return pongs;
}

static gpointer
peerRun(gpointer opaque)
{
    Peer *peer = opaque;
    int fd = accept(peer->listenFd, NULL, NULL);
    qvirRpcHeader call, hdr;
    g_autoptr(GByteArray) body = g_byte_array_new();

    g_assert_cmpint(fd, >=, 0);
    g_assert_true(peerReadPacket(fd, &call));
    qvirRpcHeaderForReply(&call, QVIR_RPC_STATUS_OK, &hdr);
    switch (peer->script) {
    case PEER_PING_EVENT_REPLY: {
        qvirRpcHeader ping = {.program = QVIR_RPC_KEEPALIVE_PROGRAM,
                              .version = QVIR_RPC_KEEPALIVE_VERSION,
                              .procedure = QVIR_RPC_KEEPALIVE_PROC_PING,
                              .type = QVIR_RPC_MESSAGE};
        qvirRpcHeader event = {.program = QVIR_RPC_REMOTE_PROGRAM,
                               .version = QVIR_RPC_REMOTE_VERSION,
                               .procedure = REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                               .type = QVIR_RPC_MESSAGE};
        qvirRpcHeader pong;

        peerSend(fd, &ping, NULL);
        g_assert_true(peerReadPacket(fd, &pong));
        peer->sawPong = pong.program == QVIR_RPC_KEEPALIVE_PROGRAM &&
                        pong.procedure == QVIR_RPC_KEEPALIVE_PROC_PONG &&
                        pong.type == QVIR_RPC_MESSAGE;
        peerSend(fd, &event, NULL);
        qvirXdrWriteInt(body, 1); /* remote_connect_supports_feature_ret: supported */
        peerSend(fd, &hdr, body);
        break;
    }
    case PEER_ERROR:
        hdr.status = QVIR_RPC_STATUS_ERROR;
        qvirRpcErrorEncode(body, QVIR_ERR_OPERATION_INVALID, QVIR_FROM_QEMU,
                           "Requested operation is not valid: domain is not running");
        peerSend(fd, &hdr, body);
        break;
    case PEER_WRONG_SERIAL:
        hdr.serial += 5;
        qvirXdrWriteInt(body, 1);
        peerSend(fd, &hdr, body);
        break;
    case PEER_HANG_UP:
        break;
    case PEER_KEEPALIVE:
        peer->pongsSent = peerAnswerPings(fd, PEER_KA_SLOW_REPLY_US);
        qvirXdrWriteInt(body, 1);
        peerSend(fd, &hdr, body);
        /* from now on PINGs go unanswered until the client hangs up */
        while (peerReadPacket(fd, &call))
            peer->pingsIgnored++;
        break;
    case PEER_SILENT:
        while (peerReadPacket(fd, &call))
            peer->pingsIgnored++;
        break;
    }
    /* the client hangs up first, except for HANG_UP */
    if (peer->script != PEER_HANG_UP && peer->script != PEER_KEEPALIVE &&
        peer->script != PEER_SILENT)
        (void)peerReadPacket(fd, &call);
    close(fd);
    return NULL;
}

static void
testScriptedPeer(gconstpointer data)
{
    PeerScript script = GPOINTER_TO_INT(data);
    g_autofree char *path = g_strdup_printf("%s/peer-%d", tmpDir, script);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    Peer peer = {.script = script};
    remote_connect_supports_feature_args args = {.feature = QVIR_REMOTE_FEATURE_MIGRATION_P2P};
    remote_connect_supports_feature_ret ret = {0};
    g_autoptr(GError) err = NULL;
    qvirRpcConn *conn;
    GThread *thread;
    gboolean ok;

    peer.listenFd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    g_assert_cmpint(bind(peer.listenFd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(peer.listenFd, 1), ==, 0);
    thread = g_thread_new("peer", peerRun, &peer);

    conn = qvirRpcConnOpenUnix(path, QVIR_RPC_REMOTE_PROGRAM, QVIR_RPC_REMOTE_VERSION, &err);
    g_assert_no_error(err);
    if (script == PEER_KEEPALIVE || script == PEER_SILENT)
        qvirRpcConnSetKeepAlive(conn, PEER_KA_INTERVAL, PEER_KA_COUNT);
    ok = qvirRemoteConnCall(conn, REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, &args, &ret, &err);
    switch (script) {
    case PEER_PING_EVENT_REPLY:
        g_assert_no_error(err);
        g_assert_true(ok);
        g_assert_cmpint(ret.supported, ==, 1);
        g_assert_true(qvirRpcConnIsAlive(conn));
        break;
    case PEER_ERROR:
        g_assert_false(ok);
        assertError(err, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain is not running");
        g_assert_true(qvirRpcConnIsAlive(conn));
        break;
    case PEER_WRONG_SERIAL:
    case PEER_HANG_UP:
        g_assert_false(ok);
        g_assert_cmpint(ret.supported, ==, 0);
        if (script == PEER_HANG_UP)
            assertError(err, QVIR_ERR_SYSTEM_ERROR,
                        "End of file while reading data: Input/output error");
        else
            g_assert_cmpint(err->code, ==, QVIR_ERR_RPC);
        g_clear_error(&err);
        /* out of step with the peer: no further call goes out */
        g_assert_false(qvirRpcConnIsAlive(conn));
        g_assert_false(
            qvirRemoteConnCall(conn, REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, &args, &ret, &err));
        assertError(err, QVIR_ERR_INTERNAL_ERROR, "internal error: client socket is closed");
        break;
    case PEER_SILENT:
        /* the call waiting for its reply gives up itself, with libvirt's words */
        g_assert_false(ok);
        assertError(err, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: connection closed due to keepalive timeout");
        g_assert_false(qvirRpcConnIsAlive(conn));
        break;
    case PEER_KEEPALIVE: {
        gint64 start = g_get_monotonic_time();
        gint64 gone;

        /* slow, but answering: the call waits longer than silence would be allowed */
        g_assert_no_error(err);
        g_assert_true(ok);
        g_assert_cmpint(ret.supported, ==, 1);
        /* then silent: a poll loop (Perform's) sees it die after INTERVAL * (COUNT + 1) */
        while (qvirRpcConnIsAlive(conn)) {
            g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
            g_usleep(50 * 1000);
        }
        gone = g_get_monotonic_time() - start;
        g_assert_cmpint(gone, >=, (PEER_KA_INTERVAL * (PEER_KA_COUNT + 1) - 1) * G_USEC_PER_SEC);
        g_assert_false(
            qvirRemoteConnCall(conn, REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, &args, &ret, &err));
        assertError(err, QVIR_ERR_INTERNAL_ERROR, "internal error: client socket is closed");
        break;
    }
    }
    qvirRpcConnFree(conn);
    g_thread_join(thread);
    close(peer.listenFd);
    if (script == PEER_PING_EVENT_REPLY)
        g_assert_true(peer.sawPong);
    if (script == PEER_KEEPALIVE) {
        g_assert_cmpuint(peer.pongsSent, >=, 2);
        g_assert_cmpuint(peer.pingsIgnored, ==, PEER_KA_COUNT);
    }
    if (script == PEER_SILENT)
        g_assert_cmpuint(peer.pingsIgnored, ==, PEER_KA_COUNT);
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpDir = qvirTestTempDirNew("qvirt-rpcconn");
    g_test_add_func("/rpcconn/remote-uris", testRemoteURIs);
    g_test_add_data_func("/rpcconn/peer/ping-event-reply", GINT_TO_POINTER(PEER_PING_EVENT_REPLY),
                         testScriptedPeer);
    g_test_add_data_func("/rpcconn/peer/error", GINT_TO_POINTER(PEER_ERROR), testScriptedPeer);
    g_test_add_data_func("/rpcconn/peer/wrong-serial", GINT_TO_POINTER(PEER_WRONG_SERIAL),
                         testScriptedPeer);
    g_test_add_data_func("/rpcconn/peer/hang-up", GINT_TO_POINTER(PEER_HANG_UP), testScriptedPeer);
    g_test_add_data_func("/rpcconn/peer/keepalive", GINT_TO_POINTER(PEER_KEEPALIVE),
                         testScriptedPeer);
    g_test_add_data_func("/rpcconn/peer/keepalive-silent", GINT_TO_POINTER(PEER_SILENT),
                         testScriptedPeer);
    ret = g_test_run();
    qvirTestTempDirRemove(tmpDir);
    g_free(tmpDir);
    return ret;
}
