/*
 * qemu_driver_iotune.c: the driver's block I/O throttling (virDomainSetBlockIoTune,
 * virDomainGetBlockIoTune) and write thresholds (virDomainSetBlockThreshold, with the
 * BLOCK_THRESHOLD event), as libvirt 9.0's QEMU driver does them. The rules and the QMP
 * are qemu_iotune.c's; this file finds the disk, holds the job and keeps the live XML,
 * the status file and the persistent definition in step.
 */
#define G_LOG_DOMAIN "qvirt-driver"

#include <errno.h>
#include <string.h>

#include "qemu/qemu_driverpriv.h"
#include "qemu/qemu_process.h"
#include "util/virerror.h"

/* libvirt-domain.h */
#define QEMU_AFFECT_LIVE (1u << 0)
#define QEMU_AFFECT_CONFIG (1u << 1)
#define QEMU_TYPED_PARAM_STRING_OKAY (1u << 2)

/* ---- throttling ------------------------------------------------------------------- */

/* The live side (job held, OBJ running): QEMU first, then the live XML and the status
 * file; OUT is what the disk has now (its group decides the persistent side's). */
static gboolean
qemuDriverIoTuneLive(qvirDriver *drv, qemuDomainObj *obj, const char *path,
                     const qemuBlockIoTuneRequest *req, qemuBlockIoTune *out, GError **error)
{
    const qvirDomainDef *def = obj->liveDef;
    qvirDomainDiskDef *disk;
    qvirDomainDef *work;

    if (!(disk = qemuDriverDiskByName(def, path, error)) ||
        !qemuBlockIoTuneMerge(def, disk, req,
                              (req->set & QEMU_IOTUNE_SET_GROUP) ? req->t.group : NULL, TRUE, out,
                              error))
        return FALSE;
    /* an empty drive takes its throttle with its next medium, as in libvirt */
    if (qvirStorageSourceIsBacking(disk->src)) {
        const qemuCaps *caps;
        qemuMonitor *mon;

        if (!(caps = qemuDriverGetCaps(drv, def->emulator ? def->emulator : drv->cfg->emulator,
                                       error)))
            return FALSE;
        qemuDomainObjLock(obj);
        mon = qemuProcessGetMonitor(obj->proc);
        qemuDomainObjUnlock(obj);
        if (!qemuBlockIoTuneSet(mon, caps, disk, out, error))
            return FALSE;
    }
    if (!(work = qemuDriverLiveCopy(obj, error)))
        return FALSE;
    qemuBlockIoTuneApply(work, qvirDomainDiskByTarget(work, disk->dst), out);
    qemuDriverLiveCommit(drv, obj, work);
    return TRUE;
}

/* The persistent side (job held): GROUPOF is the group the request's throttle comes from
 * (libvirt looks it up with what the live side ended with). */
static gboolean
qemuDriverIoTuneConfig(qvirDriver *drv, qemuDomainObj *obj, const char *path,
                       const qemuBlockIoTuneRequest *req, const char *groupOf, GError **error)
{
    g_autoptr(qvirDomainDef) edited = qvirDomainDefCopy(obj->def, 0, error);
    g_auto(qemuBlockIoTune) t = {0};
    qvirDomainDiskDef *disk;

    if (!edited)
        return FALSE;
    if (!(disk = qvirDomainDiskByName(edited, path))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: missing persistent configuration for disk '%s'", path);
        return FALSE;
    }
    if (!qemuBlockIoTuneMerge(edited, disk, req, groupOf, FALSE, &t, error))
        return FALSE;
    qemuBlockIoTuneApply(edited, disk, &t);
    return qemuDriverCommitConfig(drv, obj, g_steal_pointer(&edited), error);
}

void
qvirDriverSetBlkdevTunableEventCallback(qvirDriver *drv, qvirDriverBlkdevTunableEventFunc cb,
                                        gpointer opaque)
{
    g_mutex_lock(&drv->eventLock);
    drv->blkdevTunableEventCb = cb;
    drv->blkdevTunableEventOpaque = opaque;
    g_mutex_unlock(&drv->eventLock);
}

/* libvirt's TUNABLE event of a live change: the disk as the client named it, and the
 * request. */
static void
qemuDriverBlkdevTunableEmit(qvirDriver *drv, qemuDomainObj *obj, const char *disk,
                            const qemuBlockIoTuneRequest *req)
{
    g_autoptr(qvirDomainRef) ref = qemuDriverMakeRef(obj);

    /* Held while calling out, so the RPC layer can unregister and free OPAQUE safely. */
    g_mutex_lock(&drv->eventLock);
    if (drv->blkdevTunableEventCb)
        drv->blkdevTunableEventCb(drv, ref, disk, req, drv->blkdevTunableEventOpaque);
    g_mutex_unlock(&drv->eventLock);
}

gboolean
qvirDriverDomainSetBlockIoTune(qvirDriver *drv, const unsigned char *uuid, const char *disk,
                               const qemuBlockIoTuneRequest *req, unsigned int flags,
                               GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_auto(qemuBlockIoTune) live = {0};
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG, "qemuDomainSetBlockIoTune",
                        error))
        return FALSE;
    if (!disk) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: disk in virDomainSetBlockIoTune must not be NULL");
        return FALSE;
    }
    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    /* libvirt's order: the domain's state, then the values, then each side */
    if (!qemuDriverModificationImpact(obj, &flags, error) ||
        !qemuBlockIoTuneCheckRequest(req, error))
        goto out;
    if (flags & QEMU_AFFECT_LIVE) {
        if (!qemuDriverIoTuneLive(drv, obj, disk, req, &live, error))
            goto out;
        qemuDriverBlkdevTunableEmit(drv, obj, disk, req);
    }
    if ((flags & QEMU_AFFECT_CONFIG) &&
        !qemuDriverIoTuneConfig(drv, obj, disk, req,
                                (flags & QEMU_AFFECT_LIVE)           ? live.group
                                : (req->set & QEMU_IOTUNE_SET_GROUP) ? req->t.group
                                                                     : NULL,
                                error))
        goto out;
    ok = TRUE;

out:
    qemuDomainObjEndJob(obj);
    if (!ok && error)
        qvirErrorAddPrefix(*error);
    return ok;
}

gboolean
qvirDriverDomainGetBlockIoTune(qvirDriver *drv, const unsigned char *uuid, const char *path,
                               unsigned int flags, qemuBlockIoTune *out, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    const qvirDomainDiskDef *disk;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG | QEMU_TYPED_PARAM_STRING_OKAY,
                        "qemuDomainGetBlockIoTune", error))
        return FALSE;
    flags &= ~QEMU_TYPED_PARAM_STRING_OKAY;
    if ((flags & QEMU_AFFECT_LIVE) && (flags & QEMU_AFFECT_CONFIG)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: Flags 'VIR_DOMAIN_AFFECT_LIVE' and "
                            "'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive");
        return FALSE;
    }
    qemuBlockIoTuneClear(out);
    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_QUERY, error))
        return FALSE;
    if (!qemuDriverModificationImpact(obj, &flags, error))
        goto out;
    if (!path) {
        ok = TRUE;
        goto out;
    }
    if (flags & QEMU_AFFECT_LIVE) {
        const qvirDomainDef *def = obj->liveDef;
        const qemuCaps *caps;
        qemuMonitor *mon;

        if (!(disk = qemuDriverDiskByName(def, path, error)) ||
            !(caps = qemuDriverGetCaps(drv, def->emulator ? def->emulator : drv->cfg->emulator,
                                       error)))
            goto out;
        qemuDomainObjLock(obj);
        mon = qemuProcessGetMonitor(obj->proc);
        qemuDomainObjUnlock(obj);
        ok = qemuBlockIoTuneGet(mon, caps, disk, out, error);
        goto out;
    }
    if (!(disk = qvirDomainDiskByName(obj->def, path))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: disk '%s' was not found in the domain config", path);
        goto out;
    }
    qemuBlockIoTuneFromDisk(out, disk);
    ok = TRUE;

out:
    qemuDomainObjEndJob(obj);
    if (!ok && error)
        qvirErrorAddPrefix(*error);
    return ok;
}

/* ---- write thresholds ------------------------------------------------------------- */

/*
 * The layer DEV names in DEF (libvirt's qemuDomainGetStorageSourceByDevstr): "vda" is
 * vda's top, "vda[N]" the layer with index N (the top's own index included); anything
 * after the "[" but a decimal number and "]" does not parse.
 */
static qvirStorageSource *
qemuDriverSourceByDevstr(const qvirDomainDef *def, const char *dev, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(dev, "[", 2);
    unsigned long long idx = 0;
    qvirDomainDiskDef *disk;

    if (parts[0] && parts[1]) {
        char *end = NULL;

        errno = 0;
        idx = g_ascii_strtoull(parts[1], &end, 10);
        if (errno || end == parts[1] || strchr(parts[1], '-') || idx > G_MAXUINT ||
            strcmp(end, "]") != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "invalid argument: failed to parse block device '%s'", dev);
            return NULL;
        }
    }
    if (!(disk = qvirDomainDiskByTarget(def, parts[0]))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: failed to find disk '%s'", parts[0]);
        return NULL;
    }
    if (idx == 0)
        return disk->src;
    for (qvirStorageSource *n = disk->src; qvirStorageSourceIsBacking(n); n = n->backingStore) {
        if (n->id == idx)
            return n;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                "invalid argument: failed to find disk '%s'", dev);
    return NULL;
}

gboolean
qvirDriverDomainSetBlockThreshold(qvirDriver *drv, const unsigned char *uuid, const char *dev,
                                  unsigned long long threshold, unsigned int flags, GError **error)
{
    qemuDriverLive live;
    qvirStorageSource *src;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, 0, "qemuDomainSetBlockThreshold", error) ||
        !qemuDriverLiveBegin(drv, uuid, QEMU_JOB_MODIFY, &live, error))
        return FALSE;
    /* the live definition is stable while the job is held: only the flag below changes,
     * under the mutex the event reads it with */
    if (!(src = qemuDriverSourceByDevstr(live.live, dev, error)))
        goto out;
    if (!qemuBlockSetWriteThreshold(live.mon, src->nodeStorage ? src->nodeStorage : src->nodeFormat,
                                    threshold, error))
        goto out;
    qemuDomainObjLock(live.obj);
    src->thresholdEventWithIndex = strchr(dev, '[') != NULL;
    qemuDomainObjUnlock(live.obj);
    ok = TRUE;

out:
    qemuDriverLiveEnd(&live);
    /* QEMU's refusals in libvirt's words ("internal error: unable to execute ...") */
    if (!ok && error)
        qvirErrorAddPrefix(*error);
    return ok;
}

void
qvirDriverSetBlockThresholdEventCallback(qvirDriver *drv, qvirDriverBlockThresholdEventFunc cb,
                                         gpointer opaque)
{
    g_mutex_lock(&drv->eventLock);
    drv->blockThresholdEventCb = cb;
    drv->blockThresholdEventOpaque = opaque;
    g_mutex_unlock(&drv->eventLock);
}

struct _qemuDriverThresholdEvent {
    char *dev;
    char *path;
    unsigned long long threshold;
    unsigned long long excess;
};

void
qemuDriverThresholdEventFree(qemuDriverThresholdEvent *ev)
{
    if (!ev)
        return;
    g_free(ev->dev);
    g_free(ev->path);
    g_free(ev);
}

static void
qemuDriverThresholdEventAdd(GPtrArray *events, char *dev, const char *path,
                            unsigned long long threshold, unsigned long long excess)
{
    qemuDriverThresholdEvent *ev = g_new0(qemuDriverThresholdEvent, 1);

    ev->dev = dev;
    ev->path = g_strdup(path);
    ev->threshold = threshold;
    ev->excess = excess;
    g_ptr_array_add(events, ev);
}

/*
 * As libvirt's qemuProcessHandleBlockThreshold: the top named by its disk ("vda") unless
 * the threshold was set as "vda[N]", and every layer with an index as "vda[N]" too; the
 * path only for local storage.
 */
void
qemuDriverBlockThresholdRecord(qemuDomainObj *obj, JsonObject *data, GPtrArray *events)
{
    const char *node = json_object_get_string_member_with_default(data, "node-name", NULL);
    gint64 threshold = json_object_get_int_member_with_default(data, "write-threshold", 0);
    gint64 excess = json_object_get_int_member_with_default(data, "amount-exceeded", 0);
    const qvirDomainDef *def = obj->liveDef;

    for (guint i = 0; node && def && i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        for (const qvirStorageSource *n = disk->src; n; n = n->backingStore) {
            const char *path;

            if (g_strcmp0(n->nodeStorage, node) != 0 && g_strcmp0(n->nodeFormat, node) != 0)
                continue;
            path = n->type == QVIR_STORAGE_TYPE_FILE || n->type == QVIR_STORAGE_TYPE_BLOCK ? n->path
                                                                                           : NULL;
            if (n == disk->src && !n->thresholdEventWithIndex)
                qemuDriverThresholdEventAdd(events, g_strdup(disk->dst), path, threshold, excess);
            if (n->id)
                qemuDriverThresholdEventAdd(events, g_strdup_printf("%s[%u]", disk->dst, n->id),
                                            path, threshold, excess);
            return;
        }
    }
}

void
qemuDriverBlockThresholdEmit(qvirDriver *drv, qemuDomainObj *obj, GPtrArray *events)
{
    g_autoptr(qvirDomainRef) ref = NULL;

    if (events->len == 0)
        return;
    ref = qemuDriverMakeRef(obj);
    /* Held while calling out, so the RPC layer can unregister and free OPAQUE safely. */
    g_mutex_lock(&drv->eventLock);
    for (guint i = 0; drv->blockThresholdEventCb && i < events->len; i++) {
        const qemuDriverThresholdEvent *ev = g_ptr_array_index(events, i);

        drv->blockThresholdEventCb(drv, ref, ev->dev, ev->path, ev->threshold, ev->excess,
                                   drv->blockThresholdEventOpaque);
    }
    g_mutex_unlock(&drv->eventLock);
}
