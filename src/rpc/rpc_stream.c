/*
 * rpc_stream.c: data streams of a client (rpc_stream.h).
 *
 * Threading: a stream's incoming packets and the end of its life are handled on the
 * server's main loop; its outgoing packets may be made in any thread. Those wait in the
 * stream's queue (under its lock) until the main loop moves them to the client's output,
 * which happens only once the opening call's reply is there and while the socket keeps
 * up: a sender blocks on the condition while the queue holds more than the window.
 */
#include "rpc/rpc_stream.h"

#include <string.h>

#include "rpc/rpc_server_priv.h"
#include "util/virerror.h"

/* Allocated with g_atomic_rc_box: any thread may hold a reference. */
struct _qvirRpcStream {
    qvirRpcClient *client; /* a reference */
    qvirRpcHeader call;    /* program, version, procedure and serial of every packet */
    gboolean holes;
    const qvirRpcStreamFuncs *funcs;
    gpointer opaque;
    GDestroyNotify opaqueFree;

    GMutex lock; /* guards the rest */
    GCond cond;  /* the queue shrank, or the stream closed */
    GQueue out;  /* GByteArray packets for the client */
    gsize outBytes;
    gboolean started;  /* the call's reply is out: packets may follow */
    gboolean closed;   /* over: nothing more is taken in either direction */
    gboolean sinkDone; /* finish or abort has run */
    gboolean flushQueued;
};

qvirRpcStream *
qvirRpcStreamRef(qvirRpcStream *st)
{
    return g_atomic_rc_box_acquire(st);
}

static void
qvirRpcStreamDispose(gpointer data)
{
    qvirRpcStream *st = data;

    g_queue_clear_full(&st->out, (GDestroyNotify)g_byte_array_unref);
    if (st->opaqueFree)
        st->opaqueFree(st->opaque);
    qvirRpcClientUnref(st->client);
    g_mutex_clear(&st->lock);
    g_cond_clear(&st->cond);
}

void
qvirRpcStreamUnref(qvirRpcStream *st)
{
    if (st)
        g_atomic_rc_box_release_full(st, qvirRpcStreamDispose);
}

static gboolean qvirRpcStreamEndIdle(gpointer opaque);

qvirRpcStream *
qvirRpcStreamOpen(qvirRpcClient *client, const qvirRpcHeader *call, const qvirRpcStreamFuncs *funcs,
                  gpointer opaque, GDestroyNotify opaqueFree, gboolean holes)
{
    qvirRpcStream *st = g_atomic_rc_box_new0(qvirRpcStream);

    st->client = qvirRpcClientRef(client);
    st->call = *call;
    st->holes = holes;
    st->funcs = funcs;
    st->opaque = opaque;
    st->opaqueFree = opaqueFree;
    g_mutex_init(&st->lock);
    g_cond_init(&st->cond);
    g_queue_init(&st->out);

    g_mutex_lock(&client->streamLock);
    /* The connection closes the streams on its list once it is marked closed: a stream
     * that comes later is over at once (from the main loop, like every end). */
    if (!qvirRpcClientIsClosed(client))
        g_ptr_array_add(client->streams, qvirRpcStreamRef(st));
    else
        qvirRpcRunLater(client->ctx, qvirRpcStreamEndIdle, qvirRpcStreamRef(st));
    g_mutex_unlock(&client->streamLock);
    return st;
}

gboolean
qvirRpcStreamIsClosed(qvirRpcStream *st)
{
    gboolean closed;

    g_mutex_lock(&st->lock);
    closed = st->closed;
    g_mutex_unlock(&st->lock);
    return closed;
}

/* ---- the main loop's side ------------------------------------------------------ */

static void qvirRpcStreamEnd(qvirRpcStream *st, gboolean abort);

static gboolean
qvirRpcStreamEndIdle(gpointer opaque)
{
    qvirRpcStream *st = opaque;

    qvirRpcStreamEnd(st, TRUE);
    qvirRpcStreamUnref(st);
    return G_SOURCE_REMOVE;
}

static GByteArray *
qvirRpcStreamPacketNew(const qvirRpcStream *st, guint32 type, guint32 status)
{
    qvirRpcHeader hdr = st->call;

    hdr.type = type;
    hdr.status = status;
    return qvirRpcPacketStart(&hdr);
}

/* Caller holds the lock. PKT (taken) goes after what is queued; the main loop is asked
 * to move it on. */
static void qvirRpcStreamQueueLocked(qvirRpcStream *st, GByteArray *pkt);

/* Move queued packets to the client while its socket keeps up. Main loop. */
static void
qvirRpcStreamFlush(qvirRpcStream *st)
{
    qvirRpcClient *client = st->client;
    gboolean moved = FALSE;
    gboolean ended;

    g_mutex_lock(&st->lock);
    st->flushQueued = FALSE;
    while (st->started && !client->closed && !g_queue_is_empty(&st->out)) {
        GByteArray *pkt;

        if (qvirRpcClientPending(client) >= QVIR_RPC_STREAM_WINDOW) {
            /* Write what the socket takes now; when it has taken everything, the client
             * flushes its streams again. */
            g_mutex_unlock(&st->lock);
            qvirRpcClientWrite(client);
            g_mutex_lock(&st->lock);
            if (qvirRpcClientPending(client) >= QVIR_RPC_STREAM_WINDOW)
                break;
            continue;
        }
        pkt = g_queue_pop_head(&st->out);
        st->outBytes -= pkt->len;
        qvirRpcClientQueuePacket(client, pkt);
        g_byte_array_unref(pkt);
        moved = TRUE;
    }
    /* A stream the sender ended (qvirRpcStreamSendError) leaves once its last packet is
     * out. */
    ended = st->closed && g_queue_is_empty(&st->out);
    g_cond_broadcast(&st->cond);
    g_mutex_unlock(&st->lock);
    if (moved && !client->closed)
        qvirRpcClientWrite(client);
    if (ended)
        qvirRpcStreamEnd(st, TRUE);
}

static gboolean
qvirRpcStreamFlushIdle(gpointer opaque)
{
    qvirRpcStream *st = opaque;

    qvirRpcStreamFlush(st);
    qvirRpcStreamUnref(st);
    return G_SOURCE_REMOVE;
}

static void
qvirRpcStreamQueueLocked(qvirRpcStream *st, GByteArray *pkt)
{
    g_autoptr(GError) err = NULL;

    if (!qvirRpcPacketFinish(pkt, &err)) {
        /* only a body over the packet limit, which the senders never build */
        g_warning("dropping a stream packet: %s", err->message);
        g_byte_array_unref(pkt);
        return;
    }
    st->outBytes += pkt->len;
    g_queue_push_tail(&st->out, pkt);
    if (!st->flushQueued) {
        st->flushQueued = TRUE;
        qvirRpcRunLater(st->client->ctx, qvirRpcStreamFlushIdle, qvirRpcStreamRef(st));
    }
}

/* The stream is over. Runs the sink's abort unless finish or abort already ran (ABORT
 * FALSE: the caller just ran finish). Takes the stream off the client's list. Main loop. */
static void
qvirRpcStreamEnd(qvirRpcStream *st, gboolean abort)
{
    qvirRpcClient *client = st->client;
    gboolean runAbort;

    g_mutex_lock(&st->lock);
    st->closed = TRUE;
    runAbort = abort && !st->sinkDone;
    st->sinkDone = TRUE;
    g_cond_broadcast(&st->cond);
    g_mutex_unlock(&st->lock);
    if (runAbort && st->funcs->abort)
        st->funcs->abort(st->opaque);

    g_mutex_lock(&client->streamLock);
    if (g_ptr_array_remove_fast(client->streams, st))
        qvirRpcStreamUnref(st);
    g_mutex_unlock(&client->streamLock);
}

/* A packet of the server that ends the stream: STREAM OK (confirming the client's finish
 * or abort), or a REPLY / STREAM with status ERROR carrying ERR. */
static void
qvirRpcStreamReplyEnd(qvirRpcStream *st, guint32 type, const GError *err)
{
    GByteArray *pkt =
        qvirRpcStreamPacketNew(st, type, err ? QVIR_RPC_STATUS_ERROR : QVIR_RPC_STATUS_OK);

    if (err)
        qvirRpcErrorEncodeGError(pkt, err, st->client->errDomain);
    g_mutex_lock(&st->lock);
    qvirRpcStreamQueueLocked(st, pkt);
    g_mutex_unlock(&st->lock);
}

/* The sink refused what the client sent: abort it, and the client gets ERR as the
 * stream's reply. */
static void
qvirRpcStreamFail(qvirRpcStream *st, const GError *err)
{
    g_info("stream of procedure %d serial %u failed: %s", st->call.procedure, st->call.serial,
           err->message);
    qvirRpcStreamReplyEnd(st, QVIR_RPC_REPLY, err);
    qvirRpcStreamEnd(st, TRUE);
}

/* The stream of CLIENT that PKT belongs to, a reference; NULL when none is open. */
static qvirRpcStream *
qvirRpcStreamFind(qvirRpcClient *client, const qvirRpcHeader *hdr)
{
    qvirRpcStream *found = NULL;

    g_mutex_lock(&client->streamLock);
    for (guint i = 0; i < client->streams->len && !found; i++) {
        qvirRpcStream *st = g_ptr_array_index(client->streams, i);

        if (st->call.serial == hdr->serial && st->call.procedure == hdr->procedure &&
            st->call.program == hdr->program && st->call.version == hdr->version)
            found = qvirRpcStreamRef(st);
    }
    g_mutex_unlock(&client->streamLock);
    return found;
}

static gboolean
qvirRpcStreamHandleHole(qvirRpcStream *st, const guint8 *body, gsize len)
{
    g_autoptr(GError) err = NULL;
    virNetStreamHole hole = {0};
    qvirXdrReader rd;

    /* As libvirt: a client that sends holes it did not announce, or that cannot be read,
     * has lost track of the protocol. */
    if (!st->holes || !st->funcs->hole) {
        g_info("unexpected stream hole for procedure %d serial %u: closing the client",
               st->call.procedure, st->call.serial);
        qvirRpcStreamEnd(st, TRUE);
        return FALSE;
    }
    qvirXdrReaderInit(&rd, body, len);
    if (!qvirXdrDecode(&rd, &virNetStreamHole_type, &hole, &err) ||
        !qvirXdrReaderCheckEnd(&rd, &err)) {
        g_info("bad stream hole: %s; closing the client", err->message);
        qvirRpcStreamEnd(st, TRUE);
        return FALSE;
    }
    if (!st->funcs->hole(st->opaque, hole.length, hole.flags, &err))
        qvirRpcStreamFail(st, err);
    return TRUE;
}

static void
qvirRpcStreamHandleData(qvirRpcStream *st, const guint8 *body, gsize len)
{
    g_autoptr(GError) err = NULL;

    if (!st->funcs->data)
        g_set_error_literal(&err, QVIR_ERROR, QVIR_ERR_RPC, "this stream does not take data");
    else
        st->funcs->data(st->opaque, body, len, &err);
    if (err)
        qvirRpcStreamFail(st, err);
}

static void
qvirRpcStreamHandleFinish(qvirRpcStream *st)
{
    g_autoptr(GError) err = NULL;

    g_mutex_lock(&st->lock);
    st->sinkDone = TRUE;
    g_mutex_unlock(&st->lock);
    if (st->funcs->finish && !st->funcs->finish(st->opaque, &err)) {
        if (!err)
            err = g_error_new_literal(QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                                      "internal error: stream finish failed");
        qvirRpcStreamReplyEnd(st, QVIR_RPC_REPLY, err);
    } else {
        qvirRpcStreamReplyEnd(st, QVIR_RPC_STREAM, NULL);
    }
    qvirRpcStreamEnd(st, FALSE);
}

/* STREAM ERROR from the client is its abort, confirmed with STREAM OK; any other status
 * is a protocol error it gets back, and aborts the stream as well. */
static void
qvirRpcStreamHandleAbort(qvirRpcStream *st, guint32 status)
{
    g_autoptr(GError) err = NULL;

    if (status != QVIR_RPC_STATUS_ERROR)
        err = g_error_new(QVIR_ERROR, QVIR_ERR_RPC, "stream aborted with unexpected status %u",
                          status);
    qvirRpcStreamEnd(st, TRUE);
    qvirRpcStreamReplyEnd(st, err ? QVIR_RPC_REPLY : QVIR_RPC_STREAM, err);
}

gboolean
qvirRpcStreamsHandlePacket(qvirRpcClient *client, const qvirRpcHeader *hdr, const guint8 *body,
                           gsize len)
{
    g_autoptr(qvirRpcStream) st = qvirRpcStreamFind(client, hdr);

    if (!st || qvirRpcStreamIsClosed(st)) {
        g_debug("ignoring stream packet of procedure %d serial %u status %u", hdr->procedure,
                hdr->serial, hdr->status);
        return TRUE;
    }
    if (hdr->type == QVIR_RPC_STREAM_HOLE)
        return qvirRpcStreamHandleHole(st, body, len);
    if (hdr->status == QVIR_RPC_STATUS_CONTINUE)
        qvirRpcStreamHandleData(st, body, len);
    else if (hdr->status == QVIR_RPC_STATUS_OK)
        qvirRpcStreamHandleFinish(st);
    else
        qvirRpcStreamHandleAbort(st, hdr->status);
    return TRUE;
}

/* Every stream of CLIENT, references, for walking without the list's lock; NULL when it
 * has none (every reply passes here: that costs no allocation). */
static GPtrArray *
qvirRpcStreamsList(qvirRpcClient *client)
{
    GPtrArray *list;

    g_mutex_lock(&client->streamLock);
    if (client->streams->len == 0) {
        g_mutex_unlock(&client->streamLock);
        return NULL;
    }
    list = g_ptr_array_new_full(client->streams->len, (GDestroyNotify)qvirRpcStreamUnref);
    for (guint i = 0; i < client->streams->len; i++)
        g_ptr_array_add(list, qvirRpcStreamRef(g_ptr_array_index(client->streams, i)));
    g_mutex_unlock(&client->streamLock);
    return list;
}

void
qvirRpcStreamsCallDone(qvirRpcClient *client, const qvirRpcHeader *call, gboolean ok)
{
    g_autoptr(GPtrArray) list = qvirRpcStreamsList(client);

    for (guint i = 0; list && i < list->len; i++) {
        qvirRpcStream *st = g_ptr_array_index(list, i);

        if (st->call.serial != call->serial || st->call.procedure != call->procedure)
            continue;
        if (!ok) {
            qvirRpcStreamEnd(st, TRUE);
            continue;
        }
        g_mutex_lock(&st->lock);
        st->started = TRUE;
        g_mutex_unlock(&st->lock);
        qvirRpcStreamFlush(st);
    }
}

void
qvirRpcStreamsFlush(qvirRpcClient *client)
{
    g_autoptr(GPtrArray) list = qvirRpcStreamsList(client);

    for (guint i = 0; list && i < list->len && !client->closed; i++)
        qvirRpcStreamFlush(g_ptr_array_index(list, i));
}

void
qvirRpcStreamsClose(qvirRpcClient *client)
{
    g_autoptr(GPtrArray) list = qvirRpcStreamsList(client);

    for (guint i = 0; list && i < list->len; i++)
        qvirRpcStreamEnd(g_ptr_array_index(list, i), TRUE);
}

/* ---- the sender's side (any thread) ----------------------------------------------- */

/* Queue PKT (taken) once the window has room; FALSE when the stream is over. */
static gboolean
qvirRpcStreamSend(qvirRpcStream *st, GByteArray *pkt, GError **error)
{
    g_mutex_lock(&st->lock);
    while (!st->closed && st->outBytes >= QVIR_RPC_STREAM_WINDOW)
        g_cond_wait(&st->cond, &st->lock);
    if (st->closed) {
        g_mutex_unlock(&st->lock);
        g_byte_array_unref(pkt);
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC, "stream is closed");
        return FALSE;
    }
    qvirRpcStreamQueueLocked(st, pkt);
    g_mutex_unlock(&st->lock);
    return TRUE;
}

gboolean
qvirRpcStreamSendData(qvirRpcStream *st, const guint8 *data, gsize len, GError **error)
{
    gsize off = 0;

    /* An empty write sends nothing: an empty CONTINUE would mean the end. */
    while (off < len) {
        gsize n = MIN(len - off, (gsize)VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX);
        GByteArray *pkt = qvirRpcStreamPacketNew(st, QVIR_RPC_STREAM, QVIR_RPC_STATUS_CONTINUE);

        g_byte_array_append(pkt, data + off, n);
        if (!qvirRpcStreamSend(st, pkt, error))
            return FALSE;
        off += n;
    }
    return TRUE;
}

gboolean
qvirRpcStreamSendHole(qvirRpcStream *st, gint64 length, guint flags, GError **error)
{
    const virNetStreamHole hole = {.length = length, .flags = flags};
    GByteArray *pkt;

    if (!st->holes) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: a hole in a stream opened without holes");
        return FALSE;
    }
    pkt = qvirRpcStreamPacketNew(st, QVIR_RPC_STREAM_HOLE, QVIR_RPC_STATUS_CONTINUE);
    qvirXdrEncode(pkt, &virNetStreamHole_type, &hole, NULL);
    return qvirRpcStreamSend(st, pkt, error);
}

gboolean
qvirRpcStreamSendEOF(qvirRpcStream *st, GError **error)
{
    return qvirRpcStreamSend(
        st, qvirRpcStreamPacketNew(st, QVIR_RPC_STREAM, QVIR_RPC_STATUS_CONTINUE), error);
}

void
qvirRpcStreamSendError(qvirRpcStream *st, const GError *err)
{
    GByteArray *pkt = qvirRpcStreamPacketNew(st, QVIR_RPC_STREAM, QVIR_RPC_STATUS_ERROR);

    qvirRpcErrorEncodeGError(pkt, err, st->client->errDomain);
    g_mutex_lock(&st->lock);
    /* No window here: the error must go out, and nothing follows it. */
    if (!st->closed)
        qvirRpcStreamQueueLocked(st, pkt);
    else
        g_byte_array_unref(pkt);
    st->closed = TRUE;
    g_cond_broadcast(&st->cond);
    g_mutex_unlock(&st->lock);
}
