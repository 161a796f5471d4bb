/*
 * rpc_conn.c: a blocking libvirt-protocol client connection (see rpc_conn.h).
 */
#include "rpc/rpc_conn.h"

#include <errno.h>
#include <netdb.h>
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
    /* keepalive, as libvirt's virKeepAlive: after INTERVAL s without a packet from the
     * server a PING goes out, COUNT times; silence after that is death */
    int kaInterval; /* <= 0: off */
    guint kaCount;
    guint kaCountToDeath;
    gint64 kaIntervalStart; /* monotonic µs: the last packet received, or the last PING */
};

static qvirRpcConn *
qvirRpcConnNew(int fd, guint32 program, guint32 version)
{
    qvirRpcConn *conn = g_new0(qvirRpcConn, 1);

    conn->fd = fd;
    conn->program = program;
    conn->version = version;
    return conn;
}

qvirRpcConn *
qvirRpcConnOpenTCP(const char *host, const char *service, guint32 program, guint32 version,
                   GError **error)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG | AI_V4MAPPED};
    struct addrinfo *ai = NULL;
    int saved = 0;
    int fd = -1;
    int rc;

    if ((rc = getaddrinfo(host, service, &hints, &ai)) != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "Unable to resolve address '%s' service '%s': %s", host, service,
                    gai_strerror(rc));
        return NULL;
    }
    for (struct addrinfo *p = ai; p && fd < 0; p = p->ai_next) {
        if ((fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol)) < 0) {
            saved = errno;
            continue;
        }
        while (connect(fd, p->ai_addr, p->ai_addrlen) < 0) {
            if (errno == EINTR)
                continue;
            saved = errno;
            close(fd);
            fd = -1;
            break;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "unable to connect to server at '%s:%s': %s", host, service, g_strerror(saved));
        return NULL;
    }
    return qvirRpcConnNew(fd, program, version);
}

qvirRpcConn *
qvirRpcConnOpenUnix(const char *path, guint32 program, guint32 version, GError **error)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
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
    return qvirRpcConnNew(fd, program, version);
}

void
qvirRpcConnSetKeepAlive(qvirRpcConn *conn, int interval, guint count)
{
    conn->kaInterval = interval;
    conn->kaCount = count;
    conn->kaCountToDeath = count;
    conn->kaIntervalStart = g_get_monotonic_time();
}

/* The server said something: it lives. */
static void
qvirRpcConnKeepAliveSeen(qvirRpcConn *conn)
{
    conn->kaCountToDeath = conn->kaCount;
    conn->kaIntervalStart = g_get_monotonic_time();
}

/* Milliseconds until the keepalive has something to do; -1: never. */
static int
qvirRpcConnKeepAliveTimeout(qvirRpcConn *conn)
{
    gint64 due;

    if (conn->kaInterval <= 0)
        return -1;
    due = conn->kaIntervalStart + (gint64)conn->kaInterval * G_USEC_PER_SEC;
    return (int)MAX(0, (due - g_get_monotonic_time() + 999) / 1000);
}

/* Due: a PING, or (COUNT PINGs unanswered) the end of the connection, with libvirt's
 * error. A PING the socket cannot take now is skipped: the peer is not reading. */
static gboolean
qvirRpcConnKeepAliveTrigger(qvirRpcConn *conn, GError **error)
{
    g_autoptr(GByteArray) ping = NULL;

    if (qvirRpcConnKeepAliveTimeout(conn) != 0)
        return TRUE;
    if (conn->kaCountToDeath == 0) {
        conn->broken = TRUE;
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: connection closed due to keepalive timeout");
        return FALSE;
    }
    conn->kaCountToDeath--;
    conn->kaIntervalStart = g_get_monotonic_time();
    ping = qvirRpcPacketNewKeepAlive(QVIR_RPC_KEEPALIVE_PROC_PING);
    (void)send(conn->fd, ping->data, ping->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return TRUE;
}

/* Wait until the socket is ready for EVENTS, sending PINGs meanwhile; FALSE when the
 * keepalive gave up. Without keepalive the blocking call that follows does the waiting. */
static gboolean
qvirRpcConnWait(qvirRpcConn *conn, short events, GError **error)
{
    for (;;) {
        struct pollfd pfd = {.fd = conn->fd, .events = events};
        int timeout = qvirRpcConnKeepAliveTimeout(conn);
        int n;

        if (timeout < 0)
            return TRUE;
        n = poll(&pfd, 1, timeout);
        if (n > 0 || (n < 0 && errno != EINTR))
            return TRUE;
        if (!qvirRpcConnKeepAliveTrigger(conn, error))
            return FALSE;
    }
}

void
qvirRpcConnFree(qvirRpcConn *conn)
{
    if (!conn)
        return;
    close(conn->fd);
    g_free(conn);
}

/* All LEN bytes of DATA sent (SENDING) or received: short transfers go on, EINTR retries,
 * and a send never raises SIGPIPE in a caller that has not ignored it. */
static gboolean
qvirRpcConnTransfer(qvirRpcConn *conn, guint8 *data, gsize len, gboolean sending, GError **error)
{
    while (len > 0) {
        ssize_t n;

        if (!qvirRpcConnWait(conn, sending ? POLLOUT : POLLIN, error))
            return FALSE;
        n = sending ? send(conn->fd, data, len, MSG_NOSIGNAL) : recv(conn->fd, data, len, 0);

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
    qvirRpcConnKeepAliveSeen(conn);
    return TRUE;
}

/* The server checks that we are alive: we are. */
static gboolean
qvirRpcConnPong(qvirRpcConn *conn, GError **error)
{
    g_autoptr(GByteArray) pkt = qvirRpcPacketNewPong();

    return qvirRpcConnTransfer(conn, pkt->data, pkt->len, TRUE, error);
}

/* Between calls the server sends only keepalive and event MESSAGEs: take what has
 * arrived, answering PINGs. FALSE (the connection broken) at EOF or on a framing error. */
static gboolean
qvirRpcConnDrain(qvirRpcConn *conn, GError **error)
{
    for (;;) {
        struct pollfd pfd = {.fd = conn->fd, .events = POLLIN | POLLRDHUP};
        g_autoptr(GByteArray) body = NULL;
        qvirRpcHeader hdr;
        guint8 byte;

        if (poll(&pfd, 1, 0) <= 0)
            return TRUE;
        if (pfd.revents & (POLLHUP | POLLERR | POLLRDHUP) ||
            recv(conn->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                                "internal error: client socket is closed");
            return FALSE;
        }
        if (!qvirRpcConnReceive(conn, &hdr, &body, error))
            return FALSE;
        if (hdr.program == QVIR_RPC_KEEPALIVE_PROGRAM &&
            hdr.procedure == QVIR_RPC_KEEPALIVE_PROC_PING && !qvirRpcConnPong(conn, error))
            return FALSE;
    }
}

gboolean
qvirRpcConnIsAlive(qvirRpcConn *conn)
{
    g_autoptr(GError) err = NULL;

    if (conn->broken)
        return FALSE;
    if (!qvirRpcConnDrain(conn, &err) || !qvirRpcConnKeepAliveTrigger(conn, &err)) {
        conn->broken = TRUE;
        /* libvirt's event loop reports it in the daemon; the caller says what it meant */
        g_message("connection to the peer daemon lost: %s", err->message);
        return FALSE;
    }
    return TRUE;
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
