/*
 * rpc_conn.c: a blocking libvirt-protocol client connection (see rpc_conn.h).
 */
#include "rpc/rpc_conn.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/virerror.h"

struct _qvirRpcConn {
    int fd;
    guint32 program;
    guint32 version;
    guint32 serial;
    gboolean broken; /* the stream is out of step: no more calls */
};

qvirRpcConn *
qvirRpcConnOpenUnix(const char *path, guint32 program, guint32 version, GError **error)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    qvirRpcConn *conn;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "Path %s too long for unix socket: %s", path, g_strerror(ENOMEM));
        return NULL;
    }
    memcpy(addr.sun_path, path, strlen(path));
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Failed to create socket: %s",
                    g_strerror(errno));
        return NULL;
    }
    while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int saved = errno;

        if (saved == EINTR)
            continue;
        close(fd);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "Failed to connect socket to '%s': %s", path, g_strerror(saved));
        return NULL;
    }
    conn = g_new0(qvirRpcConn, 1);
    conn->fd = fd;
    conn->program = program;
    conn->version = version;
    return conn;
}

void
qvirRpcConnFree(qvirRpcConn *conn)
{
    if (!conn)
        return;
    close(conn->fd);
    g_free(conn);
}

gboolean
qvirRpcConnIsAlive(qvirRpcConn *conn)
{
    struct pollfd pfd = {.fd = conn->fd, .events = POLLIN | POLLRDHUP};
    guint8 byte;

    if (conn->broken)
        return FALSE;
    if (poll(&pfd, 1, 0) <= 0)
        return TRUE;
    if (pfd.revents & (POLLHUP | POLLERR | POLLRDHUP))
        return FALSE;
    /* something to read between calls: a keepalive PING is no sign of death, EOF is */
    return recv(conn->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) != 0;
}

/* All LEN bytes of DATA sent (SENDING) or received: short transfers go on, EINTR retries,
 * and a send never raises SIGPIPE in a caller that has not ignored it. */
static gboolean
qvirRpcConnTransfer(qvirRpcConn *conn, guint8 *data, gsize len, gboolean sending, GError **error)
{
    while (len > 0) {
        ssize_t n =
            sending ? send(conn->fd, data, len, MSG_NOSIGNAL) : recv(conn->fd, data, len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Cannot %s data: %s",
                        sending ? "write" : "recv", g_strerror(errno));
            return FALSE;
        }
        if (n == 0 && !sending) {
            /* the peer went away (a daemon killed mid-call) */
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "End of file while reading data: %s", g_strerror(EIO));
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

/* The next whole packet: its header, and its body in *BODY. */
static gboolean
qvirRpcConnReceive(qvirRpcConn *conn, qvirRpcHeader *hdr, GByteArray **body, GError **error)
{
    guint8 lenWord[QVIR_RPC_LEN_SIZE];
    g_autoptr(GByteArray) pkt = NULL;
    qvirXdrReader rd;
    guint32 length;

    if (!qvirRpcConnTransfer(conn, lenWord, sizeof(lenWord), FALSE, error))
        return FALSE;
    qvirXdrReaderInit(&rd, lenWord, sizeof(lenWord));
    if (!qvirXdrReadU32(&rd, &length, error) || !qvirRpcPacketCheckLength(length, error))
        return FALSE;
    pkt = g_byte_array_sized_new(length - QVIR_RPC_LEN_SIZE);
    g_byte_array_set_size(pkt, length - QVIR_RPC_LEN_SIZE);
    if (!qvirRpcConnTransfer(conn, pkt->data, pkt->len, FALSE, error))
        return FALSE;
    qvirXdrReaderInit(&rd, pkt->data, pkt->len);
    if (!qvirRpcHeaderDecode(&rd, hdr, error))
        return FALSE;
    g_byte_array_remove_range(pkt, 0, (guint)rd.pos);
    *body = g_steal_pointer(&pkt);
    return TRUE;
}

/* The server checks that we are alive: we are. */
static gboolean
qvirRpcConnPong(qvirRpcConn *conn, GError **error)
{
    g_autoptr(GByteArray) pkt = qvirRpcPacketNewPong();

    return qvirRpcConnTransfer(conn, pkt->data, pkt->len, TRUE, error);
}

/* The remote error of an ERROR reply, with its code and message. */
static void
qvirRpcConnSetRemoteError(GByteArray *body, GError **error)
{
    qvirRpcError err = {0};
    g_autoptr(GError) bad = NULL;
    qvirXdrReader rd;

    qvirXdrReaderInit(&rd, body->data, body->len);
    if (!qvirRpcErrorDecode(&rd, &err, &bad)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "cannot decode the error reply: %s",
                    bad->message);
        return;
    }
    g_set_error_literal(error, QVIR_ERROR, err.code > 0 ? err.code : QVIR_ERR_INTERNAL_ERROR,
                        err.message ? err.message : "An error occurred, but the cause is unknown");
    qvirRpcErrorClear(&err);
}

/* Wait for the REPLY to SERIAL and decode it into RET. */
static gboolean
qvirRpcConnAwaitReply(qvirRpcConn *conn, guint32 serial, gint32 procedure,
                      const qvirXdrType *retType, gpointer ret, gboolean *remoteError,
                      GError **error)
{
    for (;;) {
        g_autoptr(GByteArray) body = NULL;
        qvirRpcHeader hdr;
        qvirXdrReader rd;

        if (!qvirRpcConnReceive(conn, &hdr, &body, error))
            return FALSE;
        if (hdr.program == QVIR_RPC_KEEPALIVE_PROGRAM) {
            if (hdr.procedure == QVIR_RPC_KEEPALIVE_PROC_PING && !qvirRpcConnPong(conn, error))
                return FALSE;
            continue;
        }
        /* events of a registration we never made, or of another program */
        if (hdr.type == QVIR_RPC_MESSAGE)
            continue;
        if (hdr.program != conn->program || hdr.version != conn->version ||
            hdr.type != QVIR_RPC_REPLY || hdr.serial != serial || hdr.procedure != procedure) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                        "unexpected packet (program %#x, procedure %d, type %d, serial %u) "
                        "while waiting for the reply to serial %u",
                        hdr.program, hdr.procedure, hdr.type, hdr.serial, serial);
            return FALSE;
        }
        if (hdr.status == QVIR_RPC_STATUS_ERROR) {
            qvirRpcConnSetRemoteError(body, error);
            *remoteError = TRUE;
            return FALSE;
        }
        if (hdr.status != QVIR_RPC_STATUS_OK) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "unexpected status %d of a reply",
                        hdr.status);
            return FALSE;
        }
        qvirXdrReaderInit(&rd, body->data, body->len);
        if (retType && !qvirXdrDecode(&rd, retType, ret, error))
            return FALSE;
        if (!qvirXdrReaderCheckEnd(&rd, error)) {
            if (retType)
                qvirXdrClear(retType, ret);
            return FALSE;
        }
        return TRUE;
    }
}

gboolean
qvirRpcConnCall(qvirRpcConn *conn, gint32 procedure, const qvirXdrType *argsType,
                gconstpointer args, const qvirXdrType *retType, gpointer ret, GError **error)
{
    const qvirRpcHeader hdr = {
        .program = conn->program,
        .version = conn->version,
        .procedure = procedure,
        .type = QVIR_RPC_CALL,
        .serial = ++conn->serial,
        .status = QVIR_RPC_STATUS_OK,
    };
    g_autoptr(GByteArray) pkt = NULL;
    gboolean remoteError = FALSE;

    /* a peer that hung up between calls, as libvirt's client knows it from its event loop */
    if (!qvirRpcConnIsAlive(conn)) {
        conn->broken = TRUE;
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: client socket is closed");
        return FALSE;
    }
    pkt = qvirRpcPacketStart(&hdr);
    /* arguments over a limit are the caller's error: nothing was sent */
    if (argsType && !qvirXdrEncode(pkt, argsType, args, error))
        return FALSE;
    if (!qvirRpcPacketFinish(pkt, error))
        return FALSE;
    if (!qvirRpcConnTransfer(conn, pkt->data, pkt->len, TRUE, error))
        conn->broken = TRUE;
    else if (qvirRpcConnAwaitReply(conn, hdr.serial, procedure, retType, ret, &remoteError, error))
        return TRUE;
    else if (!remoteError)
        conn->broken = TRUE;
    return FALSE;
}
