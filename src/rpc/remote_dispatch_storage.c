/*
 * remote_dispatch_storage.c: the REMOTE procedures of storage pools and volumes, over the
 * storage driver (storage/storage_driver.h) that the qemu driver holds; volume upload and
 * download as rpc streams (rpc_stream.h), sparse when the client asks.
 * Dispatch, decoding and encoding: remote_dispatch.c and the generated table; the handlers
 * that are one call into the storage driver are generated (@call in remote_protocol.x).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "rpc/remote_dispatch_priv.h"
#include "rpc/rpc_stream.h"
#include "util/virerror.h"
#include "util/virfile.h"

#define STORAGE(ctx) qvirDriverGetStorage((ctx)->drv)

/* ---- handles ---- */

void
qvirRemotePoolTake(remote_nonnull_storage_pool *out, qvirStoragePoolRef *ref)
{
    out->name = g_steal_pointer(&ref->name);
    memcpy(out->uuid, ref->uuid, sizeof(out->uuid));
}

void
qvirRemoteVolTake(remote_nonnull_storage_vol *out, qvirStorageVolRef *ref)
{
    out->pool = g_steal_pointer(&ref->pool);
    out->name = g_steal_pointer(&ref->name);
    out->key = g_steal_pointer(&ref->key);
}

/* The one-call procedures are generated from their @call in remote_protocol.x. */

/* ---- volumes ---- */

gboolean
remoteDispatchStorageVolGetInfoFlags(qvirRemoteCtx *ctx,
                                     remote_storage_vol_get_info_flags_args *args,
                                     remote_storage_vol_get_info_flags_ret *ret, GError **error)
{
    int type = 0;

    if (!qvirStorageVolGetInfo(STORAGE(ctx), args->vol.pool, args->vol.name, args->flags, &type,
                               &ret->capacity, &ret->allocation, error))
        return FALSE;
    ret->type = (gint8)type;
    return TRUE;
}

/* ---- upload and download ---- */

/* One transfer: the volume's file, and how much of it is left to move. */
typedef struct {
    qvirStorageDriver *storage;
    char *pool;
    char *name;
    int fd;
    guint64 remaining; /* download: bytes still to send; upload: limit (0: none) */
    gboolean limited;
    gboolean sparse;
    qvirRpcStream *st; /* download only: the reader thread's reference */
} remoteVolTransfer;

static void
remoteVolTransferFree(gpointer opaque)
{
    remoteVolTransfer *t = opaque;

    if (t->fd >= 0)
        close(t->fd);
    g_free(t->pool);
    g_free(t->name);
    g_free(t);
}

static gboolean
remoteUploadData(gpointer opaque, const guint8 *data, gsize len, GError **error)
{
    remoteVolTransfer *t = opaque;

    if (t->limited && len > t->remaining) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: stream data exceeds the requested length");
        return FALSE;
    }
    if (!qvirFileWriteAll(t->fd, (const char *)data, len)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot write to volume '%s': %s",
                    t->name, g_strerror(errno));
        return FALSE;
    }
    t->remaining -= t->limited ? len : 0;
    return TRUE;
}

/* A hole: skip it; the file grows over it sparse (ftruncate at the end keeps a trailing
 * hole). */
static gboolean
remoteUploadHole(gpointer opaque, gint64 length, guint flags, GError **error)
{
    remoteVolTransfer *t = opaque;
    off_t pos;

    if (length < 0 || (t->limited && (guint64)length > t->remaining)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: stream hole exceeds the requested length");
        return FALSE;
    }
    if ((pos = lseek(t->fd, length, SEEK_CUR)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "unable to seek in volume '%s': %s",
                    t->name, g_strerror(errno));
        return FALSE;
    }
    t->remaining -= t->limited ? (guint64)length : 0;
    return TRUE;
}

static gboolean
remoteUploadFinish(gpointer opaque, GError **error)
{
    remoteVolTransfer *t = opaque;
    off_t pos = lseek(t->fd, 0, SEEK_CUR);
    struct stat sb;

    /* a trailing hole is only a seek: make the file reach it */
    if (pos >= 0 && fstat(t->fd, &sb) == 0 && sb.st_size < pos && ftruncate(t->fd, pos) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot extend volume '%s': %s",
                    t->name, g_strerror(errno));
        return FALSE;
    }
    if (fsync(t->fd) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot sync volume '%s': %s",
                    t->name, g_strerror(errno));
        return FALSE;
    }
    qvirStorageVolTransferDone(t->storage, t->pool, t->name);
    return TRUE;
}

static void
remoteUploadAbort(gpointer opaque)
{
    remoteVolTransfer *t = opaque;

    qvirStorageVolTransferDone(t->storage, t->pool, t->name);
}

static const qvirRpcStreamFuncs remoteUploadFuncs = {
    .data = remoteUploadData,
    .hole = remoteUploadHole,
    .finish = remoteUploadFinish,
    .abort = remoteUploadAbort,
};

static remoteVolTransfer *
remoteVolTransferOpen(qvirRemoteCtx *ctx, const remote_nonnull_storage_vol *vol, gboolean upload,
                      guint64 offset, guint64 length, guint flags, GError **error)
{
    remoteVolTransfer *t;
    guint64 remaining = 0;
    int fd = qvirStorageVolOpenTransfer(STORAGE(ctx), vol->pool, vol->name, upload, offset, length,
                                        flags, &remaining, error);

    if (fd < 0)
        return NULL;
    t = g_new0(remoteVolTransfer, 1);
    t->storage = STORAGE(ctx);
    t->pool = g_strdup(vol->pool);
    t->name = g_strdup(vol->name);
    t->fd = fd;
    t->remaining = remaining;
    t->limited = !upload || length != 0;
    t->sparse = (flags & QVIR_STORAGE_VOL_STREAM_SPARSE) != 0;
    return t;
}

/* The download's reader: data extents as data, holes (sparse streams) as holes or else
 * as zeros, then the end. */
static gpointer
remoteDownloadThread(gpointer opaque)
{
    remoteVolTransfer *t = opaque;
    g_autoptr(qvirRpcStream) st = g_steal_pointer(&t->st);
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *buf = g_malloc(256 * 1024);
    off_t pos = lseek(t->fd, 0, SEEK_CUR);
    gboolean ok = TRUE;

    while (ok && t->remaining > 0) {
        off_t data = lseek(t->fd, pos, SEEK_DATA);
        guint64 chunk;

        if (data < 0 && errno == ENXIO)
            data = pos + (off_t)t->remaining; /* only a hole is left */
        else if (data < 0)
            data = pos; /* no SEEK_DATA: everything is data */
        if (data > pos) {
            guint64 hole = MIN((guint64)(data - pos), t->remaining);

            if (t->sparse) {
                ok = qvirRpcStreamSendHole(st, (gint64)hole, 0, &err);
            } else {
                memset(buf, 0, 256 * 1024);
                for (guint64 left = hole; ok && left > 0;) {
                    gsize n = (gsize)MIN(left, 256 * 1024);

                    ok = qvirRpcStreamSendData(st, buf, n, &err);
                    left -= n;
                }
            }
            pos += (off_t)hole;
            t->remaining -= hole;
            continue;
        }
        chunk = MIN(t->remaining, 256 * 1024);
        {
            off_t hole = lseek(t->fd, pos, SEEK_HOLE);
            ssize_t n;

            if (hole > pos)
                chunk = MIN(chunk, (guint64)(hole - pos));
            n = pread(t->fd, buf, (gsize)chunk, pos);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                g_set_error(&err, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot read volume '%s': %s",
                            t->name, n < 0 ? g_strerror(errno) : "unexpected end of file");
                qvirRpcStreamSendError(st, err);
                ok = FALSE;
                break;
            }
            ok = qvirRpcStreamSendData(st, buf, (gsize)n, &err);
            pos += n;
            t->remaining -= (guint64)n;
        }
    }
    if (ok)
        ok = qvirRpcStreamSendEOF(st, &err);
    /* a stream the client still waits on learns why it ends (one already over ignores it) */
    if (!ok && err && !qvirRpcStreamIsClosed(st))
        qvirRpcStreamSendError(st, err);
    return NULL;
}

static const qvirRpcStreamFuncs remoteDownloadFuncs = {0};

/* The stream of an upload (UPLOAD) or a download of VOL, opened on the call, with a thread
 * that reads the volume for a download. */
static gboolean
remoteVolTransferStart(qvirRemoteCtx *ctx, const remote_nonnull_storage_vol *vol, gboolean upload,
                       guint64 offset, guint64 length, guint flags, GError **error)
{
    remoteVolTransfer *t = remoteVolTransferOpen(ctx, vol, upload, offset, length, flags, error);
    qvirRpcStream *st;

    if (!t)
        return FALSE;
    /* the stream owns T (the client's connection holds the stream) */
    st = qvirRpcStreamOpen(ctx->rpcClient, ctx->hdr,
                           upload ? &remoteUploadFuncs : &remoteDownloadFuncs, t,
                           remoteVolTransferFree, t->sparse);
    if (upload) {
        qvirRpcStreamUnref(st);
        return TRUE;
    }
    /* the reader holds a reference to the stream until it is done */
    t->st = st;
    g_thread_unref(g_thread_new("vol-download", remoteDownloadThread, t));
    return TRUE;
}

gboolean
remoteDispatchStorageVolUpload(qvirRemoteCtx *ctx, remote_storage_vol_upload_args *args,
                               GError **error)
{
    return remoteVolTransferStart(ctx, &args->vol, TRUE, args->offset, args->length, args->flags,
                                  error);
}

gboolean
remoteDispatchStorageVolDownload(qvirRemoteCtx *ctx, remote_storage_vol_download_args *args,
                                 GError **error)
{
    return remoteVolTransferStart(ctx, &args->vol, FALSE, args->offset, args->length, args->flags,
                                  error);
}
