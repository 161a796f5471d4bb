/*
 * fuzz_rpc_packet.c: libvirt's RPC framing and the REMOTE program's decoders (src/rpc).
 *
 * Byte 0 picks the mode; the rest is the input.
 *
 * Even byte 0: the packet functions alone. The input is a stream of packets; for each,
 * the length word is checked, the header decoded, and a body with status ERROR decoded
 * as a virNetMessageError. An error reply built for the header must itself frame,
 * decode and carry the same serial. The body of a REMOTE packet is also decoded as each
 * generated type of its procedure (_args, _ret, _msg; fuzz-xdr-type.h), and that of a
 * STREAM_HOLE as a virNetStreamHole.
 *
 * Odd byte 0: the input is sent as a client's byte stream to a real qvirRpcServer
 * running the REMOTE program (qvirRemoteProgramInit without a driver: connection
 * procedures work, domain procedures fail before the driver) on a unix socket in this
 * process. The target frames the stream the way the protocol says the server must,
 * and checks what comes back:
 *   - every reply is a well-formed packet, in the order of the calls, with the call's
 *     program, version, procedure and serial, status OK or ERROR, and an ERROR body
 *     that decodes exactly with a libvirt error code and a message;
 *   - each keepalive PING gets a PONG;
 *   - when the stream frames cleanly, every CALL gets its REPLY; stream packets of the
 *     REMOTE program are dropped (it opens no stream here); after a framing error (bad
 *     length, wrong keepalive version, another type) the server closes the
 *     connection, having answered at most the calls before it;
 *   - the server drops the client afterwards (no client is leaked) and keeps
 *     answering: nothing hangs for more than 10 seconds.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "fuzz-xdr-type.h"
#include "rpc/remote_dispatch.h"
#include "rpc/remote_protocol.h"
#include "rpc/rpc_packet.h"
#include "rpc/rpc_server.h"
#include "util/virerror.h"

#define FUZZ_RPC_TIMEOUT_MS 10000

/* ---- packet functions ------------------------------------------------------------ */

static void
fuzzRpcCheckErrorReply(const qvirRpcHeader *call)
{
    g_autoptr(GError) cause = g_error_new_literal(QVIR_ERROR, QVIR_ERR_RPC, "fuzz");
    g_autoptr(GByteArray) pkt = qvirRpcPacketNewError(call, cause, QVIR_FROM_RPC);
    g_autoptr(GError) error = NULL;
    qvirXdrReader rd;
    qvirRpcHeader hdr;
    qvirRpcError err = {0};
    guint32 len;

    qvirXdrReaderInit(&rd, pkt->data, pkt->len);
    FUZZ_CHECK(qvirXdrReadU32(&rd, &len, NULL) && len == pkt->len, "error reply length");
    FUZZ_CHECK(qvirRpcPacketCheckLength(len, NULL), "error reply fails its own length check");
    FUZZ_CHECK(qvirRpcHeaderDecode(&rd, &hdr, NULL), "error reply header");
    FUZZ_CHECK(hdr.serial == call->serial && hdr.procedure == call->procedure &&
                   hdr.program == call->program && hdr.type == QVIR_RPC_REPLY &&
                   hdr.status == QVIR_RPC_STATUS_ERROR,
               "error reply header does not answer the call");
    FUZZ_CHECK(qvirRpcErrorDecode(&rd, &err, &error) && qvirXdrReaderCheckEnd(&rd, NULL),
               "our own error body does not decode: %s", error ? error->message : "trailing");
    FUZZ_CHECK(err.code == QVIR_ERR_RPC && g_strcmp0(err.message, "fuzz") == 0,
               "error body changed");
    qvirRpcErrorClear(&err);
}

/* The body of a packet as each generated type it could carry. */
static void
fuzzRpcCheckBodyTypes(const qvirRpcHeader *hdr, const guint8 *body, gsize len)
{
    /* a copy of exactly the bytes, so ASan sees any over-read */
    g_autofree guint8 *copy = fuzzXdrExactCopy(body, len);
    const qvirRpcProcedure *proc;

    if (hdr->type == QVIR_RPC_STREAM_HOLE)
        fuzzXdrCheckType(&virNetStreamHole_type, copy, len);
    if (hdr->program != QVIR_RPC_REMOTE_PROGRAM || hdr->procedure <= 0 ||
        hdr->procedure >= REMOTE_PROC_LAST)
        return;
    proc = &remote_procedure_table[hdr->procedure];
    if (proc->args)
        fuzzXdrCheckType(proc->args, copy, len);
    if (proc->ret)
        fuzzXdrCheckType(proc->ret, copy, len);
    if (proc->msg)
        fuzzXdrCheckType(proc->msg, copy, len);
}

static void
fuzzRpcPackets(const guint8 *data, gsize size)
{
    gsize off = 0;

    while (size - off >= QVIR_RPC_LEN_SIZE) {
        g_autoptr(GError) error = NULL;
        qvirXdrReader rd;
        qvirRpcHeader hdr;
        guint32 len;

        qvirXdrReaderInit(&rd, data + off, size - off);
        qvirXdrReadU32(&rd, &len, NULL);
        if (!qvirRpcPacketCheckLength(len, &error)) {
            FUZZ_CHECK(error && error->code == QVIR_ERR_RPC, "length check without an error");
            FUZZ_CHECK(len < QVIR_RPC_PACKET_MIN || len > QVIR_RPC_PACKET_MAX, "length %u refused",
                       len);
            return;
        }
        FUZZ_CHECK(len >= QVIR_RPC_PACKET_MIN && len <= QVIR_RPC_PACKET_MAX, "length %u accepted",
                   len);
        if (len > size - off)
            return;

        /* The body alone, as the server sees it. */
        qvirXdrReaderInit(&rd, data + off + QVIR_RPC_LEN_SIZE, len - QVIR_RPC_LEN_SIZE);
        FUZZ_CHECK(qvirRpcHeaderDecode(&rd, &hdr, NULL), "a %u-byte packet has a header", len);
        if (hdr.status == QVIR_RPC_STATUS_ERROR) {
            qvirRpcError err = {0};
            g_autoptr(GError) derr = NULL;

            if (!qvirRpcErrorDecode(&rd, &err, &derr))
                FUZZ_CHECK(derr && derr->code == QVIR_ERR_RPC, "error body without an error");
            /* Whatever was decoded before a failure is the caller's to free. */
            qvirRpcErrorClear(&err);
        }
        fuzzRpcCheckBodyTypes(&hdr, data + off + QVIR_RPC_LEN_SIZE + rd.pos,
                              len - QVIR_RPC_LEN_SIZE - rd.pos);
        fuzzRpcCheckErrorReply(&hdr);
        off += len;
    }
}

/* ---- a server in this process ----------------------------------------------------- */

typedef struct {
    GMutex lock;
    GCond cond;
    gboolean ready;
    GMainContext *ctx;
    qvirRpcServer *srv;
    char *dir;
    char *path;
    guint numClients;
    gboolean counted;
} fuzzRpcServer;

static fuzzRpcServer fuzzServer;

static gpointer
fuzzRpcServerThread(gpointer opaque)
{
    fuzzRpcServer *fs = opaque;
    g_autoptr(GMainLoop) loop = NULL;
    g_autoptr(GError) error = NULL;
    qvirRpcProgram prog;

    g_main_context_push_thread_default(fs->ctx);
    qvirRemoteProgramInit(&prog, NULL);
    fs->srv = qvirRpcServerNew(&prog, 2);
    FUZZ_CHECK(qvirRpcServerAddUnixSocket(fs->srv, fs->path, &error), "listen: %s", error->message);
    loop = g_main_loop_new(fs->ctx, FALSE);

    g_mutex_lock(&fs->lock);
    fs->ready = TRUE;
    g_cond_broadcast(&fs->cond);
    g_mutex_unlock(&fs->lock);

    /* Serves until the process exits. */
    g_main_loop_run(loop);
    return NULL;
}

static void
fuzzRpcServerCleanup(void)
{
    /* The server keeps running until exit; only its files need to go. */
    g_unlink(fuzzServer.path);
    g_rmdir(fuzzServer.dir);
}

static void
fuzzRpcServerStart(void)
{
    fuzzRpcServer *fs = &fuzzServer;

    g_mutex_init(&fs->lock);
    g_cond_init(&fs->cond);
    fs->ctx = g_main_context_new();
    fs->dir = g_dir_make_tmp("qvirt-fuzz-rpc-XXXXXX", NULL);
    FUZZ_CHECK(fs->dir != NULL, "cannot make a temporary directory");
    fs->path = g_build_filename(fs->dir, "sock", NULL);
    g_thread_unref(g_thread_new("fuzz-server", fuzzRpcServerThread, fs));

    g_mutex_lock(&fs->lock);
    while (!fs->ready)
        g_cond_wait(&fs->cond, &fs->lock);
    g_mutex_unlock(&fs->lock);
    atexit(fuzzRpcServerCleanup);
}

/* The server's functions belong to its thread: ask it there. */
static gboolean
fuzzRpcCountClients(gpointer opaque)
{
    fuzzRpcServer *fs = opaque;

    g_mutex_lock(&fs->lock);
    fs->numClients = qvirRpcServerNumClients(fs->srv);
    fs->counted = TRUE;
    g_cond_broadcast(&fs->cond);
    g_mutex_unlock(&fs->lock);
    return G_SOURCE_REMOVE;
}

static guint
fuzzRpcNumClients(void)
{
    fuzzRpcServer *fs = &fuzzServer;
    guint n;

    g_mutex_lock(&fs->lock);
    fs->counted = FALSE;
    g_main_context_invoke(fs->ctx, fuzzRpcCountClients, fs);
    while (!fs->counted)
        g_cond_wait(&fs->cond, &fs->lock);
    n = fs->numClients;
    g_mutex_unlock(&fs->lock);
    return n;
}

static int
fuzzRpcConnect(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    FUZZ_CHECK(fd >= 0, "socket: %s", g_strerror(errno));
    g_strlcpy(addr.sun_path, fuzzServer.path, sizeof(addr.sun_path));
    FUZZ_CHECK(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0,
               "the server stopped accepting: %s", g_strerror(errno));
    return fd;
}

/* ---- what the server must answer ---------------------------------------------------- */

typedef struct {
    GArray *calls; /* qvirRpcHeader of every CALL it must answer, in order */
    guint pings;
    gboolean framingError; /* the server must close the connection */
} fuzzRpcExpect;

/* Frame the stream as the protocol requires the server to. */
static void
fuzzRpcExpectFrom(const guint8 *data, gsize size, fuzzRpcExpect *ex)
{
    gsize off = 0;

    ex->calls = g_array_new(FALSE, FALSE, sizeof(qvirRpcHeader));
    while (size - off >= QVIR_RPC_LEN_SIZE) {
        qvirXdrReader rd;
        qvirRpcHeader hdr;
        guint32 len;

        qvirXdrReaderInit(&rd, data + off, size - off);
        qvirXdrReadU32(&rd, &len, NULL);
        if (len < QVIR_RPC_PACKET_MIN || len > QVIR_RPC_PACKET_MAX) {
            ex->framingError = TRUE;
            return;
        }
        if (len > size - off)
            return; /* incomplete: the server waits for the rest */
        qvirRpcHeaderDecode(&rd, &hdr, NULL);
        off += len;

        if (hdr.program == QVIR_RPC_KEEPALIVE_PROGRAM) {
            if (hdr.version != QVIR_RPC_KEEPALIVE_VERSION) {
                ex->framingError = TRUE;
                return;
            }
            if (hdr.type == QVIR_RPC_MESSAGE && hdr.procedure == QVIR_RPC_KEEPALIVE_PROC_PING)
                ex->pings++;
            continue;
        }
        /* no REMOTE procedure served here opens a stream: its packets are dropped */
        if ((hdr.type == QVIR_RPC_STREAM || hdr.type == QVIR_RPC_STREAM_HOLE) &&
            hdr.program == QVIR_RPC_REMOTE_PROGRAM && hdr.version == QVIR_RPC_REMOTE_VERSION)
            continue;
        if (hdr.type != QVIR_RPC_CALL && hdr.type != QVIR_RPC_CALL_WITH_FDS) {
            ex->framingError = TRUE;
            return;
        }
        g_array_append_val(ex->calls, hdr);
    }
}

typedef struct {
    GByteArray *rx;
    guint replies;
    guint pongs;
} fuzzRpcSeen;

/* Check every complete packet in SEEN->rx against what was expected; drop them. */
static void
fuzzRpcCheckReplies(fuzzRpcSeen *seen, const fuzzRpcExpect *ex)
{
    gsize off = 0;

    while (seen->rx->len - off >= QVIR_RPC_LEN_SIZE) {
        qvirXdrReader rd;
        qvirRpcHeader hdr;
        guint32 len;

        qvirXdrReaderInit(&rd, seen->rx->data + off, seen->rx->len - off);
        qvirXdrReadU32(&rd, &len, NULL);
        FUZZ_CHECK(qvirRpcPacketCheckLength(len, NULL), "server sent a packet of %u bytes", len);
        if (len > seen->rx->len - off)
            break;
        qvirXdrReaderInit(&rd, seen->rx->data + off + QVIR_RPC_LEN_SIZE, len - QVIR_RPC_LEN_SIZE);
        FUZZ_CHECK(qvirRpcHeaderDecode(&rd, &hdr, NULL), "reply header");
        off += len;

        if (hdr.program == QVIR_RPC_KEEPALIVE_PROGRAM) {
            FUZZ_CHECK(hdr.procedure == QVIR_RPC_KEEPALIVE_PROC_PONG &&
                           hdr.type == QVIR_RPC_MESSAGE,
                       "keepalive packet %d type %u from the server", hdr.procedure, hdr.type);
            seen->pongs++;
            FUZZ_CHECK(seen->pongs <= ex->pings, "%u PONGs for %u PINGs", seen->pongs, ex->pings);
            continue;
        }

        FUZZ_CHECK(seen->replies < ex->calls->len, "reply %u to %u calls", seen->replies + 1,
                   ex->calls->len);
        {
            const qvirRpcHeader *call = &g_array_index(ex->calls, qvirRpcHeader, seen->replies);

            FUZZ_CHECK(hdr.type == QVIR_RPC_REPLY, "reply of type %u", hdr.type);
            FUZZ_CHECK(hdr.serial == call->serial && hdr.procedure == call->procedure &&
                           hdr.program == call->program && hdr.version == call->version,
                       "reply %u (serial %u proc %d prog %#x) answers call serial %u proc %d "
                       "prog %#x",
                       seen->replies, hdr.serial, hdr.procedure, hdr.program, call->serial,
                       call->procedure, call->program);
        }
        FUZZ_CHECK(hdr.status == QVIR_RPC_STATUS_OK || hdr.status == QVIR_RPC_STATUS_ERROR,
                   "reply status %u", hdr.status);
        if (hdr.status == QVIR_RPC_STATUS_ERROR) {
            qvirRpcError err = {0};
            g_autoptr(GError) error = NULL;

            FUZZ_CHECK(qvirRpcErrorDecode(&rd, &err, &error), "error body: %s", error->message);
            FUZZ_CHECK(qvirXdrReaderCheckEnd(&rd, NULL), "trailing bytes after an error");
            FUZZ_CHECK(err.code > 0 && err.message && err.message[0],
                       "error reply with code %d and no message", err.code);
            qvirRpcErrorClear(&err);
        }
        seen->replies++;
    }
    g_byte_array_remove_range(seen->rx, 0, off);
}

/* Read what is there within TIMEOUTMS; FALSE at EOF. */
static gboolean
fuzzRpcRead(int fd, fuzzRpcSeen *seen, const fuzzRpcExpect *ex, int timeoutMs)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    guint8 buf[65536];
    ssize_t n;
    int r;

    while ((r = poll(&pfd, 1, timeoutMs)) < 0 && errno == EINTR)
        ;
    FUZZ_CHECK(r > 0,
               "the server did not answer within %d ms (replies %u of %u, pongs %u "
               "of %u%s)",
               timeoutMs, seen->replies, ex->calls->len, seen->pongs, ex->pings,
               ex->framingError ? ", framing error sent" : "");
    n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == ECONNRESET)
        return FALSE; /* closed with our unread data in its buffer */
    FUZZ_CHECK(n >= 0, "recv: %s", g_strerror(errno));
    if (n == 0)
        return FALSE;
    g_byte_array_append(seen->rx, buf, n);
    fuzzRpcCheckReplies(seen, ex);
    return TRUE;
}

/* QVIRT_FUZZ_RPC_MAX_PACKETS=N sends at most the first N packets of each input (0 or
 * unset: all). Useful to keep fuzzing past a known bug that needs many packets. */
static guint fuzzRpcMaxPackets;

static gsize
fuzzRpcLimitPackets(const guint8 *data, gsize size)
{
    gsize off = 0;

    for (guint n = 0; fuzzRpcMaxPackets && n < fuzzRpcMaxPackets; n++) {
        guint32 len;

        if (size - off < QVIR_RPC_LEN_SIZE)
            return size;
        len = ((guint32)data[off] << 24) | ((guint32)data[off + 1] << 16) |
              ((guint32)data[off + 2] << 8) | data[off + 3];
        if (len < QVIR_RPC_PACKET_MIN || len > size - off)
            return size;
        off += len;
    }
    return fuzzRpcMaxPackets ? off : size;
}

static void
fuzzRpcSession(const guint8 *data, gsize size)
{
    fuzzRpcExpect ex = {0};
    fuzzRpcSeen seen = {.rx = g_byte_array_new()};
    gint64 deadline;
    gsize sent = 0;
    int fd;

    size = fuzzRpcLimitPackets(data, size);
    fuzzRpcExpectFrom(data, size, &ex);
    fd = fuzzRpcConnect();

    /* The server may close the connection before taking everything: that is fine. */
    while (sent < size) {
        ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        sent += n;
    }

    if (!ex.framingError) {
        /* Every call must be answered while the connection stays open. */
        while (seen.replies < ex.calls->len || seen.pongs < ex.pings) {
            if (!fuzzRpcRead(fd, &seen, &ex, FUZZ_RPC_TIMEOUT_MS))
                FUZZ_CHECK(FALSE,
                           "the server closed a cleanly framed connection after %u of "
                           "%u replies",
                           seen.replies, ex.calls->len);
        }
        shutdown(fd, SHUT_WR);
    }
    /* Then the server must close: at once after a framing error, at our EOF otherwise. */
    while (fuzzRpcRead(fd, &seen, &ex, FUZZ_RPC_TIMEOUT_MS))
        ;
    FUZZ_CHECK(seen.rx->len == 0 || ex.framingError, "%u bytes of an unfinished packet at the end",
               seen.rx->len);
    close(fd);

    /* The client must go away on the server side too. */
    deadline = g_get_monotonic_time() + FUZZ_RPC_TIMEOUT_MS * 1000;
    while (fuzzRpcNumClients() != 0) {
        FUZZ_CHECK(g_get_monotonic_time() < deadline, "the server kept a closed client");
        g_usleep(100);
    }

    g_array_unref(ex.calls);
    g_byte_array_unref(seen.rx);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *maxPackets;

    fuzzCommonInit();
    maxPackets = g_getenv("QVIRT_FUZZ_RPC_MAX_PACKETS");
    fuzzRpcMaxPackets = maxPackets ? (guint)g_ascii_strtoull(maxPackets, NULL, 10) : 0;
    fuzzRpcServerStart();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fuzzRpcSession(data + 1, size - 1);
    else
        fuzzRpcPackets(data + 1, size - 1);
    return 0;
}
