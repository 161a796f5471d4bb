/*
 * remote_dispatch_storage.c: the REMOTE procedures of storage pools and volumes, over the
 * storage driver (storage/storage_driver.h) that the qemu driver holds; volume upload and
 * download as rpc streams (rpc_stream.h), sparse when the client asks.
 * Dispatch, decoding and encoding: remote_dispatch.c and the generated table.
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

static void
remotePoolTake(remote_nonnull_storage_pool *out, qvirStoragePoolRef *ref)
{
    out->name = g_steal_pointer(&ref->name);
    memcpy(out->uuid, ref->uuid, sizeof(out->uuid));
}

/* OUT names REF (taken); FALSE when REF is NULL (the driver's error). */
static gboolean
remotePoolReturn(remote_nonnull_storage_pool *out, qvirStoragePoolRef *ref)
{
    g_autoptr(qvirStoragePoolRef) owned = ref;

    if (!owned)
        return FALSE;
    remotePoolTake(out, owned);
    return TRUE;
}

static void
remoteVolTake(remote_nonnull_storage_vol *out, qvirStorageVolRef *ref)
{
    out->pool = g_steal_pointer(&ref->pool);
    out->name = g_steal_pointer(&ref->name);
    out->key = g_steal_pointer(&ref->key);
}

static gboolean
remoteVolReturn(remote_nonnull_storage_vol *out, qvirStorageVolRef *ref)
{
    g_autoptr(qvirStorageVolRef) owned = ref;

    if (!owned)
        return FALSE;
    remoteVolTake(out, owned);
    return TRUE;
}

/* ---- listing ---- */

gboolean
remoteDispatchConnectNumOfStoragePools(qvirRemoteCtx *ctx,
                                       remote_connect_num_of_storage_pools_ret *ret, GError **error)
{
    g_autoptr(GPtrArray) names = qvirStorageListPoolNames(STORAGE(ctx), TRUE);

    ret->num = (gint32)names->len;
    return TRUE;
}

gboolean
remoteDispatchConnectNumOfDefinedStoragePools(qvirRemoteCtx *ctx,
                                              remote_connect_num_of_defined_storage_pools_ret *ret,
                                              GError **error)
{
    g_autoptr(GPtrArray) names = qvirStorageListPoolNames(STORAGE(ctx), FALSE);

    ret->num = (gint32)names->len;
    return TRUE;
}

gboolean
remoteDispatchConnectListStoragePools(qvirRemoteCtx *ctx,
                                      remote_connect_list_storage_pools_args *args,
                                      remote_connect_list_storage_pools_ret *ret, GError **error)
{
    return qvirRemoteStringsTake(&ret->names.len, &ret->names.val,
                                 qvirStorageListPoolNames(STORAGE(ctx), TRUE), args->maxnames,
                                 REMOTE_STORAGE_POOL_LIST_MAX, "maxnames", error);
}

gboolean
remoteDispatchConnectListDefinedStoragePools(qvirRemoteCtx *ctx,
                                             remote_connect_list_defined_storage_pools_args *args,
                                             remote_connect_list_defined_storage_pools_ret *ret,
                                             GError **error)
{
    return qvirRemoteStringsTake(&ret->names.len, &ret->names.val,
                                 qvirStorageListPoolNames(STORAGE(ctx), FALSE), args->maxnames,
                                 REMOTE_STORAGE_POOL_LIST_MAX, "maxnames", error);
}

gboolean
remoteDispatchConnectListAllStoragePools(qvirRemoteCtx *ctx,
                                         remote_connect_list_all_storage_pools_args *args,
                                         remote_connect_list_all_storage_pools_ret *ret,
                                         GError **error)
{
    g_autoptr(GPtrArray) pools = qvirStorageListAllPools(STORAGE(ctx), args->flags);

    ret->ret = pools->len;
    if (!args->need_results)
        return TRUE;
    ret->pools.val = g_new0(remote_nonnull_storage_pool, pools->len + 1);
    ret->pools.len = pools->len;
    for (guint i = 0; i < pools->len; i++)
        remotePoolTake(&ret->pools.val[i], g_ptr_array_index(pools, i));
    return TRUE;
}

gboolean
remoteDispatchStoragePoolNumOfVolumes(qvirRemoteCtx *ctx,
                                      remote_storage_pool_num_of_volumes_args *args,
                                      remote_storage_pool_num_of_volumes_ret *ret, GError **error)
{
    ret->num = qvirStoragePoolNumOfVolumes(STORAGE(ctx), args->pool.uuid, error);
    return ret->num >= 0;
}

gboolean
remoteDispatchStoragePoolListVolumes(qvirRemoteCtx *ctx,
                                     remote_storage_pool_list_volumes_args *args,
                                     remote_storage_pool_list_volumes_ret *ret, GError **error)
{
    return qvirRemoteStringsTake(
        &ret->names.len, &ret->names.val,
        qvirStoragePoolListVolumes(STORAGE(ctx), args->pool.uuid, FALSE, error), args->maxnames,
        REMOTE_STORAGE_VOL_LIST_MAX, "maxnames", error);
}

gboolean
remoteDispatchStoragePoolListAllVolumes(qvirRemoteCtx *ctx,
                                        remote_storage_pool_list_all_volumes_args *args,
                                        remote_storage_pool_list_all_volumes_ret *ret,
                                        GError **error)
{
    g_autoptr(GPtrArray) vols = NULL;

    if (args->flags) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported flags (0x%x) in function "
                    "storagePoolListAllVolumes",
                    args->flags);
        return FALSE;
    }
    if (!(vols = qvirStoragePoolListVolumes(STORAGE(ctx), args->pool.uuid, TRUE, error)))
        return FALSE;
    ret->ret = vols->len;
    if (!args->need_results)
        return TRUE;
    ret->vols.val = g_new0(remote_nonnull_storage_vol, vols->len + 1);
    ret->vols.len = vols->len;
    for (guint i = 0; i < vols->len; i++)
        remoteVolTake(&ret->vols.val[i], g_ptr_array_index(vols, i));
    return TRUE;
}

/* ---- pools ---- */

gboolean
remoteDispatchStoragePoolLookupByName(qvirRemoteCtx *ctx,
                                      remote_storage_pool_lookup_by_name_args *args,
                                      remote_storage_pool_lookup_by_name_ret *ret, GError **error)
{
    return remotePoolReturn(&ret->pool,
                            qvirStoragePoolLookupByName(STORAGE(ctx), args->name, error));
}

gboolean
remoteDispatchStoragePoolLookupByUUID(qvirRemoteCtx *ctx,
                                      remote_storage_pool_lookup_by_uuid_args *args,
                                      remote_storage_pool_lookup_by_uuid_ret *ret, GError **error)
{
    return remotePoolReturn(&ret->pool,
                            qvirStoragePoolLookupByUUID(STORAGE(ctx), args->uuid, error));
}

gboolean
remoteDispatchStoragePoolLookupByVolume(qvirRemoteCtx *ctx,
                                        remote_storage_pool_lookup_by_volume_args *args,
                                        remote_storage_pool_lookup_by_volume_ret *ret,
                                        GError **error)
{
    return remotePoolReturn(&ret->pool,
                            qvirStoragePoolLookupByVolume(STORAGE(ctx), args->vol.pool, error));
}

gboolean
remoteDispatchStoragePoolLookupByTargetPath(qvirRemoteCtx *ctx,
                                            remote_storage_pool_lookup_by_target_path_args *args,
                                            remote_storage_pool_lookup_by_target_path_ret *ret,
                                            GError **error)
{
    return remotePoolReturn(&ret->pool,
                            qvirStoragePoolLookupByTargetPath(STORAGE(ctx), args->path, error));
}

gboolean
remoteDispatchStoragePoolCreateXML(qvirRemoteCtx *ctx, remote_storage_pool_create_xml_args *args,
                                   remote_storage_pool_create_xml_ret *ret, GError **error)
{
    return remotePoolReturn(&ret->pool,
                            qvirStoragePoolCreateXML(STORAGE(ctx), args->xml, args->flags, error));
}

gboolean
remoteDispatchStoragePoolDefineXML(qvirRemoteCtx *ctx, remote_storage_pool_define_xml_args *args,
                                   remote_storage_pool_define_xml_ret *ret, GError **error)
{
    return remotePoolReturn(&ret->pool,
                            qvirStoragePoolDefineXML(STORAGE(ctx), args->xml, args->flags, error));
}

gboolean
remoteDispatchStoragePoolBuild(qvirRemoteCtx *ctx, remote_storage_pool_build_args *args,
                               GError **error)
{
    return qvirStoragePoolBuild(STORAGE(ctx), args->pool.uuid, args->flags, error);
}

gboolean
remoteDispatchStoragePoolUndefine(qvirRemoteCtx *ctx, remote_storage_pool_undefine_args *args,
                                  GError **error)
{
    return qvirStoragePoolUndefine(STORAGE(ctx), args->pool.uuid, error);
}

gboolean
remoteDispatchStoragePoolCreate(qvirRemoteCtx *ctx, remote_storage_pool_create_args *args,
                                GError **error)
{
    return qvirStoragePoolCreate(STORAGE(ctx), args->pool.uuid, args->flags, error);
}

gboolean
remoteDispatchStoragePoolDestroy(qvirRemoteCtx *ctx, remote_storage_pool_destroy_args *args,
                                 GError **error)
{
    return qvirStoragePoolDestroy(STORAGE(ctx), args->pool.uuid, error);
}

gboolean
remoteDispatchStoragePoolDelete(qvirRemoteCtx *ctx, remote_storage_pool_delete_args *args,
                                GError **error)
{
    return qvirStoragePoolDelete(STORAGE(ctx), args->pool.uuid, args->flags, error);
}

gboolean
remoteDispatchStoragePoolRefresh(qvirRemoteCtx *ctx, remote_storage_pool_refresh_args *args,
                                 GError **error)
{
    return qvirStoragePoolRefresh(STORAGE(ctx), args->pool.uuid, args->flags, error);
}

gboolean
remoteDispatchStoragePoolGetXMLDesc(qvirRemoteCtx *ctx, remote_storage_pool_get_xml_desc_args *args,
                                    remote_storage_pool_get_xml_desc_ret *ret, GError **error)
{
    ret->xml = qvirStoragePoolGetXMLDesc(STORAGE(ctx), args->pool.uuid, args->flags, error);
    return ret->xml != NULL;
}

gboolean
remoteDispatchStoragePoolGetInfo(qvirRemoteCtx *ctx, remote_storage_pool_get_info_args *args,
                                 remote_storage_pool_get_info_ret *ret, GError **error)
{
    qvirStoragePoolInfo info;

    if (!qvirStoragePoolGetInfo(STORAGE(ctx), args->pool.uuid, &info, error))
        return FALSE;
    ret->state = (guint8)info.state;
    ret->capacity = info.capacity;
    ret->allocation = info.allocation;
    ret->available = info.available;
    return TRUE;
}

gboolean
remoteDispatchStoragePoolGetAutostart(qvirRemoteCtx *ctx,
                                      remote_storage_pool_get_autostart_args *args,
                                      remote_storage_pool_get_autostart_ret *ret, GError **error)
{
    ret->autostart = qvirStoragePoolGetAutostart(STORAGE(ctx), args->pool.uuid, error);
    return ret->autostart >= 0;
}

gboolean
remoteDispatchStoragePoolSetAutostart(qvirRemoteCtx *ctx,
                                      remote_storage_pool_set_autostart_args *args, GError **error)
{
    return qvirStoragePoolSetAutostart(STORAGE(ctx), args->pool.uuid, args->autostart != 0, error);
}

gboolean
remoteDispatchStoragePoolIsActive(qvirRemoteCtx *ctx, remote_storage_pool_is_active_args *args,
                                  remote_storage_pool_is_active_ret *ret, GError **error)
{
    ret->active = qvirStoragePoolIsActive(STORAGE(ctx), args->pool.uuid, error);
    return ret->active >= 0;
}

gboolean
remoteDispatchStoragePoolIsPersistent(qvirRemoteCtx *ctx,
                                      remote_storage_pool_is_persistent_args *args,
                                      remote_storage_pool_is_persistent_ret *ret, GError **error)
{
    ret->persistent = qvirStoragePoolIsPersistent(STORAGE(ctx), args->pool.uuid, error);
    return ret->persistent >= 0;
}

/* ---- volumes ---- */

gboolean
remoteDispatchStorageVolLookupByName(qvirRemoteCtx *ctx,
                                     remote_storage_vol_lookup_by_name_args *args,
                                     remote_storage_vol_lookup_by_name_ret *ret, GError **error)
{
    return remoteVolReturn(
        &ret->vol, qvirStorageVolLookupByName(STORAGE(ctx), args->pool.uuid, args->name, error));
}

gboolean
remoteDispatchStorageVolLookupByKey(qvirRemoteCtx *ctx, remote_storage_vol_lookup_by_key_args *args,
                                    remote_storage_vol_lookup_by_key_ret *ret, GError **error)
{
    return remoteVolReturn(&ret->vol, qvirStorageVolLookupByKey(STORAGE(ctx), args->key, error));
}

gboolean
remoteDispatchStorageVolLookupByPath(qvirRemoteCtx *ctx,
                                     remote_storage_vol_lookup_by_path_args *args,
                                     remote_storage_vol_lookup_by_path_ret *ret, GError **error)
{
    return remoteVolReturn(&ret->vol, qvirStorageVolLookupByPath(STORAGE(ctx), args->path, error));
}

gboolean
remoteDispatchStorageVolCreateXML(qvirRemoteCtx *ctx, remote_storage_vol_create_xml_args *args,
                                  remote_storage_vol_create_xml_ret *ret, GError **error)
{
    return remoteVolReturn(&ret->vol, qvirStorageVolCreateXML(STORAGE(ctx), args->pool.uuid,
                                                              args->xml, args->flags, error));
}

gboolean
remoteDispatchStorageVolCreateXMLFrom(qvirRemoteCtx *ctx,
                                      remote_storage_vol_create_xml_from_args *args,
                                      remote_storage_vol_create_xml_from_ret *ret, GError **error)
{
    return remoteVolReturn(&ret->vol,
                           qvirStorageVolCreateXMLFrom(STORAGE(ctx), args->pool.uuid, args->xml,
                                                       args->clonevol.pool, args->clonevol.name,
                                                       args->flags, error));
}

gboolean
remoteDispatchStorageVolDelete(qvirRemoteCtx *ctx, remote_storage_vol_delete_args *args,
                               GError **error)
{
    return qvirStorageVolDelete(STORAGE(ctx), args->vol.pool, args->vol.name, args->flags, error);
}

gboolean
remoteDispatchStorageVolWipePattern(qvirRemoteCtx *ctx, remote_storage_vol_wipe_pattern_args *args,
                                    GError **error)
{
    return qvirStorageVolWipe(STORAGE(ctx), args->vol.pool, args->vol.name, args->algorithm,
                              args->flags, error);
}

gboolean
remoteDispatchStorageVolGetXMLDesc(qvirRemoteCtx *ctx, remote_storage_vol_get_xml_desc_args *args,
                                   remote_storage_vol_get_xml_desc_ret *ret, GError **error)
{
    ret->xml =
        qvirStorageVolGetXMLDesc(STORAGE(ctx), args->vol.pool, args->vol.name, args->flags, error);
    return ret->xml != NULL;
}

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

gboolean
remoteDispatchStorageVolGetPath(qvirRemoteCtx *ctx, remote_storage_vol_get_path_args *args,
                                remote_storage_vol_get_path_ret *ret, GError **error)
{
    ret->name = qvirStorageVolGetPath(STORAGE(ctx), args->vol.pool, args->vol.name, error);
    return ret->name != NULL;
}

gboolean
remoteDispatchStorageVolResize(qvirRemoteCtx *ctx, remote_storage_vol_resize_args *args,
                               GError **error)
{
    return qvirStorageVolResize(STORAGE(ctx), args->vol.pool, args->vol.name, args->capacity,
                                args->flags, error);
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

gboolean
remoteDispatchStorageVolUpload(qvirRemoteCtx *ctx, remote_storage_vol_upload_args *args,
                               GError **error)
{
    remoteVolTransfer *t = remoteVolTransferOpen(ctx, &args->vol, TRUE, args->offset, args->length,
                                                 args->flags, error);

    if (!t)
        return FALSE;
    qvirRpcStreamUnref(qvirRpcStreamOpen(ctx->rpcClient, ctx->hdr, &remoteUploadFuncs, t,
                                         remoteVolTransferFree, t->sparse));
    return TRUE;
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

gboolean
remoteDispatchStorageVolDownload(qvirRemoteCtx *ctx, remote_storage_vol_download_args *args,
                                 GError **error)
{
    remoteVolTransfer *t = remoteVolTransferOpen(ctx, &args->vol, FALSE, args->offset, args->length,
                                                 args->flags, error);

    if (!t)
        return FALSE;
    /* the stream owns T; the reader holds a reference to the stream until it is done */
    t->st = qvirRpcStreamOpen(ctx->rpcClient, ctx->hdr, &remoteDownloadFuncs, t,
                              remoteVolTransferFree, t->sparse);
    g_thread_unref(g_thread_new("vol-download", remoteDownloadThread, t));
    return TRUE;
}
