/*
 * rpc_server.c: sockets, framing, keepalive and ordered replies.
 *
 * Threading: everything here runs on the main context except the dispatch
 * callback. A call handed to the pool holds a reference on its client; when the
 * worker is done it attaches an idle source to the server's context, which marks
 * the call done and writes every finished reply at the head of the client's
 * queue. A client that disconnects is closed at once; its running calls finish
 * in the pool and are then dropped.
 */
#include "rpc/rpc_server.h"

#include "rpc/rpc_server_priv.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "util/virerror.h"

#define QVIR_RPC_READ_CHUNK 65536

struct _qvirRpcCall {
    qvirRpcClient *client; /* a reference */
    qvirRpcHeader hdr;
    GBytes *args;
    GByteArray *reply; /* a full packet, once done */
    gboolean replyOk;  /* REPLY is not an error */
    gboolean done;
};

typedef struct {
    char *path; /* a unix socket's file; NULL for TCP */
    GSocket *sock;
    GSource *source;
    gboolean readOnly;
    qvirRpcServer *srv;
} qvirRpcListener;

struct _qvirRpcServer {
    qvirRpcProgram prog;
    GMainContext *ctx;
    GThreadPool *pool;
    GPtrArray *listeners; /* qvirRpcListener */
    GPtrArray *clients;   /* qvirRpcClient, one reference each */
};

static void qvirRpcClientClose(qvirRpcClient *client);
static void qvirRpcClientProcessInput(qvirRpcClient *client);
static void qvirRpcClientFlush(qvirRpcClient *client);

/* Detach *SOURCE from its context, drop our reference and clear the pointer. */
static void
qvirRpcSourceClear(GSource **source)
{
    if (!*source)
        return;
    g_source_destroy(*source);
    g_clear_pointer(source, g_source_unref);
}

/* ---- clients and calls ---------------------------------------------------- */

qvirRpcClient *
qvirRpcClientRef(qvirRpcClient *client)
{
    g_atomic_int_inc(&client->refs);
    return client;
}

void
qvirRpcClientUnref(qvirRpcClient *client)
{
    if (!g_atomic_int_dec_and_test(&client->refs))
        return;
    g_assert(client->closed);
    g_assert(client->streams->len == 0);
    g_ptr_array_unref(client->streams);
    g_mutex_clear(&client->streamLock);
    if (client->privFree)
        client->privFree(client->priv);
    g_main_context_unref(client->ctx);
    g_clear_object(&client->sock);
    g_byte_array_unref(client->rx);
    g_byte_array_unref(client->tx);
    g_free(client);
}

gboolean
qvirRpcClientIsReadOnly(qvirRpcClient *client)
{
    return client->readOnly;
}

gpointer
qvirRpcClientGetPrivate(qvirRpcClient *client)
{
    return client->priv;
}

static void
qvirRpcCallFree(qvirRpcCall *call)
{
    g_bytes_unref(call->args);
    if (call->reply)
        g_byte_array_unref(call->reply);
    qvirRpcClientUnref(call->client);
    g_free(call);
}

static GByteArray *
qvirRpcErrorReply(const qvirRpcHeader *hdr, int code, const char *msg, int errDomain)
{
    g_autoptr(GError) err = g_error_new_literal(QVIR_ERROR, code, msg);

    return qvirRpcPacketNewError(hdr, err, errDomain);
}

/* Run the program's dispatch for CALL and store the reply packet. Worker or main. */
static void
qvirRpcCallRun(qvirRpcServer *srv, qvirRpcCall *call)
{
    const qvirRpcProgram *prog = &srv->prog;
    g_autoptr(GError) err = NULL;
    qvirRpcHeader hdr;
    qvirXdrReader rd;
    gsize len;
    const guint8 *data = g_bytes_get_data(call->args, &len);
    GByteArray *pkt;
    int errDomain = 0;

    qvirRpcHeaderForReply(&call->hdr, QVIR_RPC_STATUS_OK, &hdr);
    pkt = qvirRpcPacketStart(&hdr);
    qvirXdrReaderInit(&rd, data, len);

    if (prog->dispatch(prog->opaque, call->client, &call->hdr, &rd, pkt, &err) &&
        qvirRpcPacketFinish(pkt, &err)) {
        call->reply = pkt;
        call->replyOk = TRUE;
        return;
    }
    g_byte_array_unref(pkt);
    if (!err)
        err = g_error_new_literal(QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                                  "internal error: call failed without an error");
    if (err->domain == QVIR_ERROR && err->code == QVIR_ERR_RPC)
        errDomain = QVIR_FROM_RPC;
    else if (prog->errDomainOf)
        errDomain = prog->errDomainOf(call->hdr.program, call->hdr.procedure);
    call->reply = qvirRpcPacketNewError(&call->hdr, err, errDomain ? errDomain : prog->errDomain);
}

static void
qvirRpcCallDone(qvirRpcCall *call)
{
    qvirRpcClient *client = qvirRpcClientRef(call->client);

    call->done = TRUE;
    if (client->closed) {
        g_queue_remove(&client->calls, call);
        qvirRpcCallFree(call);
    } else {
        /* Writes the reply once earlier ones are out; reading may have paused on
         * too many calls in flight. */
        qvirRpcClientProcessInput(client);
    }
    qvirRpcClientUnref(client);
}

static gboolean
qvirRpcCallDoneIdle(gpointer opaque)
{
    qvirRpcCallDone(opaque);
    return G_SOURCE_REMOVE;
}

/*
 * Run FUNC(DATA) on CTX's loop, always later: g_main_context_invoke would run it right
 * here if the context happened to be free, and only the main loop touches sockets.
 */
void
qvirRpcRunLater(GMainContext *ctx, GSourceFunc func, gpointer data)
{
    GSource *idle = g_idle_source_new();

    g_source_set_priority(idle, G_PRIORITY_DEFAULT);
    g_source_set_callback(idle, func, data, NULL);
    g_source_attach(idle, ctx);
    g_source_unref(idle);
}

static void
qvirRpcWorker(gpointer data, gpointer opaque)
{
    qvirRpcCall *call = data;
    qvirRpcServer *srv = opaque;

    qvirRpcCallRun(srv, call);
    qvirRpcRunLater(srv->ctx, qvirRpcCallDoneIdle, call);
}

/* ---- holding clients and sending them messages ---------------------------------- */

qvirRpcClient *
qvirRpcClientHold(qvirRpcClient *client)
{
    return qvirRpcClientRef(client);
}

void
qvirRpcClientRelease(qvirRpcClient *client)
{
    if (client)
        qvirRpcClientUnref(client);
}

gboolean
qvirRpcClientIsClosed(qvirRpcClient *client)
{
    return g_atomic_int_get(&client->closed);
}

typedef struct {
    qvirRpcClient *client; /* a reference */
    GByteArray *pkt;
} qvirRpcMessage;

void
qvirRpcClientQueuePacket(qvirRpcClient *client, const GByteArray *pkt)
{
    g_byte_array_append(client->tx, pkt->data, pkt->len);
}

gsize
qvirRpcClientPending(const qvirRpcClient *client)
{
    return client->tx->len - client->txOff;
}

static gboolean
qvirRpcMessageSendIdle(gpointer opaque)
{
    qvirRpcMessage *msg = opaque;
    qvirRpcClient *client = msg->client;

    /* Like a PONG, a message goes out between any two packets. */
    if (!client->closed) {
        qvirRpcClientQueuePacket(client, msg->pkt);
        qvirRpcClientWrite(client);
    }
    qvirRpcClientUnref(client);
    g_byte_array_unref(msg->pkt);
    g_free(msg);
    return G_SOURCE_REMOVE;
}

void
qvirRpcClientSendMessage(qvirRpcClient *client, gint32 procedure, const GByteArray *body)
{
    qvirRpcHeader hdr = {
        .program = client->program,
        .version = client->version,
        .procedure = procedure,
        .type = QVIR_RPC_MESSAGE,
        .serial = 0,
        .status = QVIR_RPC_STATUS_OK,
    };
    g_autoptr(GError) err = NULL;
    qvirRpcMessage *msg;

    if (qvirRpcClientIsClosed(client))
        return;
    msg = g_new0(qvirRpcMessage, 1);
    msg->pkt = qvirRpcPacketStart(&hdr);
    if (body)
        g_byte_array_append(msg->pkt, body->data, body->len);
    if (!qvirRpcPacketFinish(msg->pkt, &err)) {
        g_warning("dropping message %d: %s", procedure, err->message);
        g_byte_array_unref(msg->pkt);
        g_free(msg);
        return;
    }
    msg->client = qvirRpcClientRef(client);
    qvirRpcRunLater(client->ctx, qvirRpcMessageSendIdle, msg);
}

/* ---- output ----------------------------------------------------------------- */

static gboolean qvirRpcClientOnWritable(GSocket *sock, GIOCondition cond, gpointer opaque);

/* Write what the socket takes now; wait for G_IO_OUT for the rest. */
void
qvirRpcClientWrite(qvirRpcClient *client)
{
    while (client->txOff < client->tx->len) {
        g_autoptr(GError) err = NULL;
        gssize n = g_socket_send(client->sock, (const char *)client->tx->data + client->txOff,
                                 client->tx->len - client->txOff, NULL, &err);

        if (n < 0) {
            if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                break;
            g_debug("closing client: %s", err->message);
            qvirRpcClientClose(client);
            return;
        }
        client->txOff += n;
    }

    if (client->txOff == client->tx->len) {
        g_byte_array_set_size(client->tx, 0);
        client->txOff = 0;
        qvirRpcSourceClear(&client->outSource);
        return;
    }
    if (!client->outSource) {
        client->outSource = g_socket_create_source(client->sock, G_IO_OUT, NULL);
        g_source_set_callback(client->outSource,
                              (GSourceFunc)(void (*)(void))qvirRpcClientOnWritable, client, NULL);
        g_source_attach(client->outSource, client->srv->ctx);
    }
}

static gboolean
qvirRpcClientOnWritable(GSocket *sock, GIOCondition cond, gpointer opaque)
{
    qvirRpcClient *client = qvirRpcClientRef(opaque);
    gboolean again;

    qvirRpcClientWrite(client);
    again = client->outSource != NULL;
    /* Streams may have waited for the socket, and reading may have paused on unread
     * replies. */
    if (!again && !client->closed)
        qvirRpcStreamsFlush(client);
    if (!again && !client->closed)
        qvirRpcClientProcessInput(client);
    qvirRpcClientUnref(client);
    return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Move every finished reply at the head of the queue to the output buffer. */
static void
qvirRpcClientCollect(qvirRpcClient *client)
{
    qvirRpcCall *call;

    while ((call = g_queue_peek_head(&client->calls)) && call->done) {
        g_queue_pop_head(&client->calls);
        qvirRpcClientQueuePacket(client, call->reply);
        /* A stream the call opened may send now, after its reply; or it is over. */
        qvirRpcStreamsCallDone(client, &call->hdr, call->replyOk);
        qvirRpcCallFree(call);
    }
}

/* ... and write them out. */
static void
qvirRpcClientFlush(qvirRpcClient *client)
{
    qvirRpcClientCollect(client);
    qvirRpcClientWrite(client);
}

/* Whether to take more packets from the client: not while too many of its calls
 * are in flight, nor while it leaves too many replies unread (a client that only
 * writes must not make the daemon buffer without bound). */
static gboolean
qvirRpcClientCanRead(const qvirRpcClient *client)
{
    return !client->closed && client->calls.length < QVIR_RPC_CLIENT_MAX_REQUESTS &&
           client->tx->len - client->txOff < QVIR_RPC_CLIENT_MAX_UNREAD;
}

/* ---- input ------------------------------------------------------------------ */

static void
qvirRpcClientReplyNow(qvirRpcClient *client, const qvirRpcHeader *hdr, GByteArray *reply)
{
    qvirRpcCall *call = g_new0(qvirRpcCall, 1);

    /* Goes through the queue so it cannot overtake replies of earlier calls. */
    call->client = qvirRpcClientRef(client);
    call->hdr = *hdr;
    call->args = g_bytes_new(NULL, 0);
    call->reply = reply;
    call->done = TRUE;
    g_queue_push_tail(&client->calls, call);
}

static void
qvirRpcClientHandleKeepalive(qvirRpcClient *client, const qvirRpcHeader *hdr)
{
    g_autoptr(GByteArray) pkt = NULL;

    /* PONGs and anything else we do not know are ignored, as libvirt does. */
    if (hdr->type != QVIR_RPC_MESSAGE || hdr->procedure != QVIR_RPC_KEEPALIVE_PROC_PING)
        return;
    pkt = qvirRpcPacketNewPong();
    /* A PONG is not a reply: it may go out between any two packets. */
    qvirRpcClientQueuePacket(client, pkt);
}

/* Handle one whole packet (without its length word). FALSE: close the client. */
static gboolean
qvirRpcClientHandlePacket(qvirRpcClient *client, const guint8 *data, gsize len)
{
    qvirRpcServer *srv = client->srv;
    const qvirRpcProgram *prog = &srv->prog;
    g_autofree char *msg = NULL;
    qvirRpcHeader hdr;
    qvirXdrReader rd;
    qvirRpcCall *call;
    gboolean foreign;

    qvirXdrReaderInit(&rd, data, len);
    if (!qvirRpcHeaderDecode(&rd, &hdr, NULL))
        return FALSE;

    if (hdr.program == QVIR_RPC_KEEPALIVE_PROGRAM) {
        if (hdr.version != QVIR_RPC_KEEPALIVE_VERSION)
            return FALSE;
        qvirRpcClientHandleKeepalive(client, &hdr);
        return TRUE;
    }

    /* Stream packets go to their stream (or are dropped: rpc_stream.h). */
    if ((hdr.type == QVIR_RPC_STREAM || hdr.type == QVIR_RPC_STREAM_HOLE) &&
        hdr.program == prog->program && hdr.version == prog->version)
        return qvirRpcStreamsHandlePacket(client, &hdr, data + rd.pos, len - rd.pos);

    /* Otherwise only calls come from clients; anything else means we lost the framing.
     * Calls with FDs get an error. */
    if (hdr.type != QVIR_RPC_CALL && hdr.type != QVIR_RPC_CALL_WITH_FDS) {
        g_debug("closing client: unexpected message type %u", hdr.type);
        return FALSE;
    }

    foreign = hdr.program != prog->program || hdr.version != prog->version;
    if (foreign && !(prog->acceptsProgram && prog->acceptsProgram(hdr.program, hdr.version)))
        msg = g_strdup_printf("Cannot find program %d version %d", (int)hdr.program,
                              (int)hdr.version);
    else if (hdr.type != QVIR_RPC_CALL)
        msg = g_strdup_printf("Unexpected message type %u", hdr.type);
    else if (hdr.status != QVIR_RPC_STATUS_OK)
        msg = g_strdup_printf("Unexpected message status %u", hdr.status);
    if (msg) {
        qvirRpcClientReplyNow(client, &hdr,
                              qvirRpcErrorReply(&hdr, QVIR_ERR_RPC, msg, QVIR_FROM_RPC));
        return TRUE;
    }

    call = g_new0(qvirRpcCall, 1);
    call->client = qvirRpcClientRef(client);
    call->hdr = hdr;
    call->args = g_bytes_new(data + rd.pos, len - rd.pos);
    g_queue_push_tail(&client->calls, call);

    if (!foreign && prog->runInline && prog->runInline(hdr.procedure)) {
        qvirRpcCallRun(srv, call);
        call->done = TRUE;
        return TRUE;
    }
    g_thread_pool_push(srv->pool, call, NULL);
    return TRUE;
}

static void qvirRpcClientSetReading(qvirRpcClient *client, gboolean on);

/* On a framing error, replies already made still go out (as far as the socket
 * takes them without waiting), so the client sees answers to its good calls. */
static void
qvirRpcClientCloseAfterFlush(qvirRpcClient *client)
{
    qvirRpcClientFlush(client);
    qvirRpcClientClose(client);
}

/* Frame and handle every complete packet received, as long as the client may
 * send more (qvirRpcClientCanRead), then write what is ready. */
static void
qvirRpcClientProcessInput(qvirRpcClient *client)
{
    gboolean limited;

    do {
        gsize off = 0;

        limited = FALSE;
        while (!client->closed) {
            qvirXdrReader rd;
            guint32 length;
            g_autoptr(GError) err = NULL;

            /* Replies made inline must leave the queue before the limit is checked. */
            qvirRpcClientCollect(client);
            if (!qvirRpcClientCanRead(client)) {
                limited = TRUE;
                break;
            }
            qvirXdrReaderInit(&rd, client->rx->data + off, client->rx->len - off);
            if (!qvirXdrReadU32(&rd, &length, NULL))
                break;
            if (!qvirRpcPacketCheckLength(length, &err)) {
                g_debug("closing client: %s", err->message);
                qvirRpcClientCloseAfterFlush(client);
                return;
            }
            if (client->rx->len - off < length)
                break;
            if (!qvirRpcClientHandlePacket(client, client->rx->data + off + QVIR_RPC_LEN_SIZE,
                                           length - QVIR_RPC_LEN_SIZE)) {
                qvirRpcClientCloseAfterFlush(client);
                return;
            }
            off += length;
        }
        if (client->closed)
            return;
        g_byte_array_remove_range(client->rx, 0, off);
        qvirRpcClientWrite(client);
        if (client->closed)
            return;
        /* Stopped only by unread replies that have just been written: go on. */
    } while (limited && qvirRpcClientCanRead(client));

    qvirRpcClientSetReading(client, qvirRpcClientCanRead(client));
}

static gboolean qvirRpcClientRead(qvirRpcClient *client, GSocket *sock);

/* Callbacks hold a reference: closing drops the server's, and the client must
 * survive until the callback returns. */
static gboolean
qvirRpcClientOnReadable(GSocket *sock, GIOCondition cond, gpointer opaque)
{
    qvirRpcClient *client = qvirRpcClientRef(opaque);
    gboolean again = qvirRpcClientRead(client, sock);

    qvirRpcClientUnref(client);
    return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
qvirRpcClientRead(qvirRpcClient *client, GSocket *sock)
{
    g_autoptr(GError) err = NULL;
    gsize oldLen = client->rx->len;
    gssize n;

    /* Never buffer more than one maximal packet plus one chunk. */
    if (oldLen > QVIR_RPC_PACKET_MAX + QVIR_RPC_READ_CHUNK) {
        qvirRpcClientSetReading(client, FALSE);
        return FALSE;
    }
    g_byte_array_set_size(client->rx, oldLen + QVIR_RPC_READ_CHUNK);
    n = g_socket_receive(sock, (char *)client->rx->data + oldLen, QVIR_RPC_READ_CHUNK, NULL, &err);
    if (n < 0) {
        g_byte_array_set_size(client->rx, oldLen);
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return TRUE;
        g_debug("closing client: %s", err->message);
        qvirRpcClientClose(client);
        return FALSE;
    }
    g_byte_array_set_size(client->rx, oldLen + n);
    if (n == 0) {
        /* EOF: running calls still finish, but nobody is left to read replies. */
        qvirRpcClientClose(client);
        return FALSE;
    }
    qvirRpcClientProcessInput(client);
    return client->inSource != NULL;
}

static void
qvirRpcClientSetReading(qvirRpcClient *client, gboolean on)
{
    if (!on) {
        qvirRpcSourceClear(&client->inSource);
    } else if (!client->inSource && !client->closed) {
        client->inSource =
            g_socket_create_source(client->sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
        g_source_set_callback(client->inSource,
                              (GSourceFunc)(void (*)(void))qvirRpcClientOnReadable, client, NULL);
        g_source_attach(client->inSource, client->srv->ctx);
    }
}

/* Drop the connection now. Calls still in the pool keep the client alive until
 * they finish; finished replies nobody will read are freed. */
static void
qvirRpcClientClose(qvirRpcClient *client)
{
    qvirRpcServer *srv = client->srv;
    GList *l, *next;

    if (client->closed)
        return;
    qvirRpcClientSetReading(client, FALSE);
    g_atomic_int_set(&client->closed, TRUE);
    qvirRpcSourceClear(&client->outSource);
    g_socket_close(client->sock, NULL);
    qvirRpcStreamsClose(client);

    for (l = client->calls.head; l; l = next) {
        qvirRpcCall *call = l->data;

        next = l->next;
        if (call->done) {
            g_queue_delete_link(&client->calls, l);
            qvirRpcCallFree(call);
        }
    }
    /* The program's data lives until the last running call lets go. */
    if (srv && g_ptr_array_remove_fast(srv->clients, client))
        qvirRpcClientUnref(client);
}

/* ---- accepting ---------------------------------------------------------------- */

/*
 * The read-write socket admits only root and the daemon's own user (libvirt's
 * unix_sock_rw_perms with its peer check). The file mode already keeps others
 * out; this holds even if the mode or a parent directory is loosened.
 */
static gboolean
qvirRpcPeerAllowed(GSocket *sock, const char *path)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(g_socket_get_fd(sock), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
        len != sizeof(cred)) {
        g_message("cannot read the peer credentials of a client on '%s': %s; closing it", path,
                  g_strerror(errno));
        return FALSE;
    }
    if (cred.uid != 0 && cred.uid != geteuid()) {
        g_message("client with uid %u (pid %d) is not allowed on the read-write socket '%s'; "
                  "closing the connection",
                  (unsigned int)cred.uid, (int)cred.pid, path);
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirRpcServerOnAccept(GSocket *lsock, GIOCondition cond, gpointer opaque)
{
    qvirRpcListener *lst = opaque;
    qvirRpcServer *srv = lst->srv;
    g_autoptr(GError) err = NULL;
    GSocket *sock = g_socket_accept(lsock, NULL, &err);
    qvirRpcClient *client;

    if (!sock) {
        if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_warning("cannot accept a client: %s", err->message);
        return G_SOURCE_CONTINUE;
    }
    /* TCP has no peer credentials: its clients are whoever auth_tcp = "none" lets in */
    if (!lst->readOnly && lst->path && !qvirRpcPeerAllowed(sock, lst->path)) {
        g_socket_close(sock, NULL);
        g_object_unref(sock);
        return G_SOURCE_CONTINUE;
    }
    g_socket_set_blocking(sock, FALSE);

    client = g_new0(qvirRpcClient, 1);
    client->refs = 1;
    client->srv = srv;
    client->ctx = g_main_context_ref(srv->ctx);
    client->program = srv->prog.program;
    client->version = srv->prog.version;
    client->errDomain = srv->prog.errDomain;
    g_mutex_init(&client->streamLock);
    client->streams = g_ptr_array_new();
    client->sock = sock;
    client->readOnly = lst->readOnly;
    client->rx = g_byte_array_new();
    client->tx = g_byte_array_new();
    g_queue_init(&client->calls);
    if (srv->prog.clientNew)
        client->priv = srv->prog.clientNew(srv->prog.opaque);
    client->privFree = srv->prog.clientFree;
    g_ptr_array_add(srv->clients, client);
    qvirRpcClientSetReading(client, TRUE);
    return G_SOURCE_CONTINUE;
}

static void
qvirRpcListenerFree(qvirRpcListener *lst)
{
    qvirRpcSourceClear(&lst->source);
    if (lst->sock)
        g_socket_close(lst->sock, NULL);
    g_clear_object(&lst->sock);
    if (lst->path)
        g_unlink(lst->path);
    g_free(lst->path);
    g_free(lst);
}

qvirRpcServer *
qvirRpcServerNew(const qvirRpcProgram *prog, guint maxWorkers)
{
    qvirRpcServer *srv;

    g_return_val_if_fail(prog && prog->dispatch, NULL);
    srv = g_new0(qvirRpcServer, 1);
    srv->prog = *prog;
    srv->ctx = g_main_context_ref_thread_default();
    srv->pool = g_thread_pool_new(qvirRpcWorker, srv, maxWorkers ? maxWorkers : 1, FALSE, NULL);
    srv->listeners = g_ptr_array_new_with_free_func((GDestroyNotify)qvirRpcListenerFree);
    srv->clients = g_ptr_array_new();
    return srv;
}

static void
qvirRpcServerAddListener(qvirRpcServer *srv, GSocket **sock, const char *path, gboolean readOnly)
{
    qvirRpcListener *lst = g_new0(qvirRpcListener, 1);

    g_socket_set_blocking(*sock, FALSE);
    lst->path = g_strdup(path);
    lst->sock = g_steal_pointer(sock);
    lst->readOnly = readOnly;
    lst->srv = srv;
    lst->source = g_socket_create_source(lst->sock, G_IO_IN, NULL);
    g_source_set_callback(lst->source, (GSourceFunc)(void (*)(void))qvirRpcServerOnAccept, lst,
                          NULL);
    g_source_attach(lst->source, srv->ctx);
    g_ptr_array_add(srv->listeners, lst);
}

/* TRUE when something accepts connections on PATH. */
static gboolean
qvirRpcSocketIsLive(const char *path)
{
    g_autoptr(GSocket) sock =
        g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);

    return sock && g_socket_connect(sock, addr, NULL, NULL);
}

gboolean
qvirRpcServerAddUnixSocket(qvirRpcServer *srv, const char *path, GError **error)
{
    return qvirRpcServerAddUnixSocketFull(srv, path, FALSE, error);
}

gboolean
qvirRpcServerAddUnixSocketFull(qvirRpcServer *srv, const char *path, gboolean readOnly,
                               GError **error)
{
    mode_t mode = readOnly ? 0666 : 0600;
    g_autoptr(GSocket) sock = NULL;
    g_autoptr(GSocketAddress) addr = NULL;
    g_autofree char *tmpPath = NULL;
    GError *err = NULL;

    if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "socket path '%s' is too long for a unix socket", path);
        return FALSE;
    }
    if (g_file_test(path, G_FILE_TEST_EXISTS) && qvirRpcSocketIsLive(path)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "another daemon is already listening on '%s'", path);
        return FALSE;
    }

    tmpPath = g_strdup_printf("%s.%d.tmp", path, (int)getpid());
    g_unlink(tmpPath);
    sock =
        g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &err);
    if (!sock)
        goto fail;
    addr = g_unix_socket_address_new(tmpPath);
    if (!g_socket_bind(sock, addr, FALSE, &err))
        goto fail;
    if (g_chmod(tmpPath, mode) < 0 || g_rename(tmpPath, path) < 0) {
        int saved = errno;

        g_unlink(tmpPath);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot set up socket '%s': %s", path,
                    g_strerror(saved));
        return FALSE;
    }
    if (!g_socket_listen(sock, &err)) {
        g_unlink(path);
        goto fail;
    }
    qvirRpcServerAddListener(srv, &sock, path, readOnly);
    return TRUE;

fail:
    g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot listen on '%s': %s", path,
                err->message);
    g_error_free(err);
    return FALSE;
}

/* A listening TCP socket on ADDR:PORT; an IPv6 one takes IPv6 only, so that "::" and
 * "0.0.0.0" can both be bound. */
static GSocket *
qvirRpcTCPListen(GInetAddress *addr, guint port, GError **error)
{
    g_autoptr(GSocketAddress) saddr = g_inet_socket_address_new(addr, (guint16)port);
    g_autofree char *host = g_inet_address_to_string(addr);
    GSocketFamily family = g_inet_address_get_family(addr);
    g_autoptr(GSocket) sock = NULL;
    g_autoptr(GError) err = NULL;

    if (!(sock = g_socket_new(family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &err)) ||
        (family == G_SOCKET_FAMILY_IPV6 &&
         !g_socket_set_option(sock, IPPROTO_IPV6, IPV6_V6ONLY, 1, &err)) ||
        !g_socket_bind(sock, saddr, TRUE, &err) || !g_socket_listen(sock, &err)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    family == G_SOCKET_FAMILY_IPV6 ? "cannot listen on [%s]:%u: %s"
                                                   : "cannot listen on %s:%u: %s",
                    host, port, err->message);
        return NULL;
    }
    return g_steal_pointer(&sock);
}

/* ADDR's addresses: a numeric one as it is, a host name as the resolver has it. */
static GList *
qvirRpcTCPResolve(const char *addr, GError **error)
{
    g_autoptr(GResolver) resolver = NULL;
    g_autoptr(GError) err = NULL;
    GInetAddress *numeric;
    GList *list;

    if ((numeric = g_inet_address_new_from_string(addr)))
        return g_list_append(NULL, numeric);
    resolver = g_resolver_get_default();
    if (!(list = g_resolver_lookup_by_name(resolver, addr, NULL, &err))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Unable to resolve address '%s': %s",
                    addr, err->message);
        return NULL;
    }
    return list;
}

gboolean
qvirRpcServerAddTCP(qvirRpcServer *srv, const char *addr, guint port, GPtrArray *bound,
                    GError **error)
{
    GList *addrs;
    g_autoptr(GPtrArray) socks = g_ptr_array_new_with_free_func(g_object_unref);

    g_return_val_if_fail(port > 0 && port <= 65535, FALSE);
    if (addr) {
        if (!(addrs = qvirRpcTCPResolve(addr, error)))
            return FALSE;
    } else {
        /* no listen_addr: every interface, as libvirtd */
        addrs = g_list_append(NULL, g_inet_address_new_any(G_SOCKET_FAMILY_IPV4));
        addrs = g_list_append(addrs, g_inet_address_new_any(G_SOCKET_FAMILY_IPV6));
    }
    /* all or nothing: no listener is added unless every address could be bound */
    for (GList *l = addrs; l; l = l->next) {
        GSocket *sock = qvirRpcTCPListen(l->data, port, error);

        if (!sock) {
            g_resolver_free_addresses(addrs);
            return FALSE;
        }
        g_ptr_array_add(socks, sock);
        if (bound)
            g_ptr_array_add(bound, g_inet_address_to_string(l->data));
    }
    g_resolver_free_addresses(addrs);
    for (guint i = 0; i < socks->len; i++) {
        GSocket *sock = g_object_ref(g_ptr_array_index(socks, i));

        qvirRpcServerAddListener(srv, &sock, NULL, FALSE);
    }
    return TRUE;
}

guint
qvirRpcServerNumClients(qvirRpcServer *srv)
{
    return srv->clients->len;
}

void
qvirRpcServerFree(qvirRpcServer *srv)
{
    if (!srv)
        return;
    g_ptr_array_unref(srv->listeners);
    while (srv->clients->len)
        qvirRpcClientClose(g_ptr_array_index(srv->clients, 0));

    /* Wait for the calls still running, then run their completions, which free
     * them now that their clients are closed. */
    g_thread_pool_free(srv->pool, FALSE, TRUE);
    while (g_main_context_iteration(srv->ctx, FALSE))
        ;
    g_ptr_array_unref(srv->clients);
    g_main_context_unref(srv->ctx);
    g_free(srv);
}
