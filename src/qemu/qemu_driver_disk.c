/*
 * qemu_driver_disk.c: live disk operations of the driver: block pull, commit, job abort
 * and info, and the events that complete them.
 *
 * Concurrency: an operation holds the domain's job (never its mutex) while it talks to
 * QEMU. Starting a job only reads the live definition (stable while the job is held). An
 * operation that changes the chains works on a private copy and swaps it in under the
 * mutex, so readers (dumpxml, lists) never see a half-edited chain and never wait for QEMU.
 */
#define G_LOG_DOMAIN "qvirt-driver"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "qemu/qemu_driverpriv.h"
#include "conf/domain_validate.h"
#include "qemu/qemu_block.h"
#include "qemu/qemu_domain.h"
#include "util/virfile.h"
#include "qemu/qemu_chainedit.h"
#include "qemu/qemu_hotplug.h"
#include "qemu/qemu_namespace.h"
#include "qemu/qemu_postparse.h"
#include "qemu/qemu_process.h"
#include "qemu/qemu_snapshot.h"
#include "storage/storage_driver.h"
#include "storage/storage_file.h"
#include "util/virerror.h"

/* libvirt-domain.h flags. */
#define QEMU_BLOCK_PULL_BANDWIDTH_BYTES (1u << 6)
#define QEMU_BLOCK_REBASE_SHALLOW (1u << 0)
#define QEMU_BLOCK_REBASE_REUSE_EXT (1u << 1)
#define QEMU_BLOCK_REBASE_COPY_RAW (1u << 2)
#define QEMU_BLOCK_REBASE_COPY (1u << 3)
#define QEMU_BLOCK_REBASE_RELATIVE (1u << 4)
#define QEMU_BLOCK_REBASE_COPY_DEV (1u << 5)
#define QEMU_BLOCK_REBASE_BANDWIDTH_BYTES (1u << 6)
#define QEMU_BLOCK_COMMIT_SHALLOW (1u << 0)
#define QEMU_BLOCK_COMMIT_DELETE (1u << 1)
#define QEMU_BLOCK_COMMIT_ACTIVE (1u << 2)
#define QEMU_BLOCK_COMMIT_RELATIVE (1u << 3)
#define QEMU_BLOCK_COMMIT_BANDWIDTH_BYTES (1u << 4)
#define QEMU_BLOCK_JOB_ABORT_ASYNC (1u << 0)
#define QEMU_BLOCK_JOB_ABORT_PIVOT (1u << 1)
#define QEMU_BLOCK_JOB_INFO_BANDWIDTH_BYTES (1u << 0)
#define QEMU_BLOCK_JOB_SPEED_BANDWIDTH_BYTES (1u << 0)

/* How long a synchronous abort / pivot waits for QEMU to end the job. */
#define QEMU_DRIVER_BLOCKJOB_WAIT_MS 30000

static gboolean qemuDriverRebaseCopy(qvirDriver *drv, const unsigned char *uuid, const char *path,
                                     const char *base, unsigned long bandwidth, unsigned int flags,
                                     GError **error);
static void qemuDriverMirrorFilesSync(qvirDriver *drv, qemuDomainObj *obj, qemuBlockJobs *jobs);
static void qemuDriverMirrorFilesLoad(qvirDriver *drv, qemuDomainObj *obj, qemuBlockJobs *jobs,
                                      const qvirDomainDef *def);

/* ---- events ---------------------------------------------------------------------- */

void
qvirDriverSetBlockJobEventCallback(qvirDriver *drv, qvirDriverBlockJobEventFunc cb, gpointer opaque)
{
    g_mutex_lock(&drv->eventLock);
    drv->blockJobEventCb = cb;
    drv->blockJobEventOpaque = opaque;
    g_mutex_unlock(&drv->eventLock);
}

static void
qemuDriverEmitBlockJobEvents(qvirDriver *drv, qemuDomainObj *obj, GPtrArray *events)
{
    g_autoptr(qvirDomainRef) ref = NULL;

    if (!events || events->len == 0)
        return;
    ref = qemuDriverMakeRef(obj);
    /* Held while calling out, so the RPC layer can unregister and free OPAQUE safely. */
    g_mutex_lock(&drv->eventLock);
    for (guint i = 0; drv->blockJobEventCb && i < events->len; i++)
        drv->blockJobEventCb(drv, ref, g_ptr_array_index(events, i), drv->blockJobEventOpaque);
    g_mutex_unlock(&drv->eventLock);
}

/* ---- the running domain of an operation ----------------------------------------- */

/* Look up and lock (job) a running domain. */
gboolean
qemuDriverLiveBegin(qvirDriver *drv, const unsigned char *uuid, qemuDomainJob job,
                    qemuDriverLive *live, GError **error)
{
    memset(live, 0, sizeof(*live));
    if (!(live->obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    if (!qemuDriverBeginJob(live->obj, job, error)) {
        g_clear_pointer(&live->obj, qemuDomainObjUnref);
        return FALSE;
    }
    qemuDomainObjLock(live->obj);
    if (qemuDomainObjIsActive(live->obj) && live->obj->proc) {
        live->mon = qemuProcessGetMonitor(live->obj->proc);
        live->jobs = live->obj->blockJobs;
        live->live = live->obj->liveDef;
    }
    qemuDomainObjUnlock(live->obj);
    if (!live->mon || !live->jobs) {
        qemuDriverErrorNotRunning(error);
        qemuDomainObjEndJob(live->obj);
        g_clear_pointer(&live->obj, qemuDomainObjUnref);
        return FALSE;
    }
    return TRUE;
}

void
qemuDriverLiveEnd(qemuDriverLive *live)
{
    if (!live->obj)
        return;
    qemuDomainObjEndJob(live->obj);
    g_clear_pointer(&live->obj, qemuDomainObjUnref);
}

/* A private copy of the live definition to edit, node names and probe data included. */
qvirDomainDef *
qemuDriverLiveCopy(qemuDomainObj *obj, GError **error)
{
    return qvirDomainDefCopy(obj->liveDef, QVIR_DOMAIN_DEF_FORMAT_STATUS, error);
}

/* Publish an edited copy as the live definition and record it in the status file. */
void
qemuDriverLiveCommit(qvirDriver *drv, qemuDomainObj *obj, qvirDomainDef *work)
{
    g_autoptr(GError) err = NULL;
    qvirDomainDef *old;
    pid_t pid;

    /* Layers an edit removed keep their indexes taken, as libvirt's counter does (job held:
     * the live definition is read without the mutex). */
    if (obj->liveDef)
        work->nodeIndexUsed =
            MAX(qemuDomainNextNodeIndex(obj->liveDef), qemuDomainNextNodeIndex(work)) - 1;
    qemuDomainObjLock(obj);
    old = obj->liveDef;
    obj->liveDef = work;
    pid = obj->proc ? qemuProcessGetPid(obj->proc) : 0;
    qemuDomainObjUnlock(obj);
    /* Layers QEMU let go of (detach, pull, commit, eject) go back to their owners and leave
     * its private /dev; new ones were set up before QEMU opened them. */
    qvirSecurityDACRestoreRemoved(drv->security, old, work);
    qemuNamespaceRemoveUnused(pid, old, work);
    qvirDomainDefFree(old);
    if (!qemuDriverWriteStatus(drv, obj, &err))
        g_message("domain '%s': %s", obj->name, err->message);
}

qvirDomainDiskDef *
qemuDriverDiskByName(const qvirDomainDef *def, const char *name, GError **error)
{
    qvirDomainDiskDef *disk = name ? qvirDomainDiskByName(def, name) : NULL;

    if (!disk)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: disk '%s' not found in domain", name ? name : "");
    return disk;
}

/*
 * Apply every block job that ended to the chains (job held, domain running): on a copy,
 * swapped in when something changed; then tell clients. Returns whether anything ended.
 */
static gboolean
qemuDriverApplyBlockJobsFull(qvirDriver *drv, qemuDomainObj *obj, qemuMonitor *mon,
                             qemuBlockJobs *jobs, const char *failedDst, char **failure)
{
    g_autoptr(GPtrArray) events =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuBlockJobEventFree);
    g_autoptr(GError) err = NULL;
    qvirDomainDef *work;

    if (!(work = qemuDriverLiveCopy(obj, &err))) {
        g_message("domain '%s': cannot copy the live definition: %s", obj->name, err->message);
        return FALSE;
    }
    if (!qemuBlockJobsProcess(jobs, mon, work, events, &err))
        g_message("domain '%s': %s", obj->name, err->message);
    if (events->len == 0) {
        qvirDomainDefFree(work);
        return FALSE;
    }
    for (guint i = 0; failure && i < events->len; i++) {
        qemuBlockJobEvent *ev = g_ptr_array_index(events, i);

        if (ev->status == QEMU_BLOCKJOB_STATUS_FAILED && g_strcmp0(ev->dst, failedDst) == 0) {
            g_free(*failure);
            *failure = g_strdup(ev->error ? ev->error : "");
        }
    }
    qemuDriverLiveCommit(drv, obj, work);
    qemuDriverMirrorFilesSync(drv, obj, jobs);
    qemuDriverEmitBlockJobEvents(drv, obj, events);
    return TRUE;
}

static gboolean
qemuDriverApplyBlockJobs(qvirDriver *drv, qemuDomainObj *obj, qemuMonitor *mon, qemuBlockJobs *jobs)
{
    return qemuDriverApplyBlockJobsFull(drv, obj, mon, jobs, NULL, NULL);
}

void
qemuDriverProcessBlockJobs(qvirDriver *drv, qemuDomainObj *obj)
{
    qemuMonitor *mon = NULL;
    qemuBlockJobs *jobs = NULL;

    qemuDomainObjLock(obj);
    if (obj->proc && obj->liveDef) {
        mon = qemuProcessGetMonitor(obj->proc);
        jobs = obj->blockJobs;
    }
    qemuDomainObjUnlock(obj);
    if (mon && jobs)
        (void)qemuDriverApplyBlockJobs(drv, obj, mon, jobs);
}

/* ---- block jobs ------------------------------------------------------------------- */

/* What a disk API returns to its client: a failure's message starts with the prefix
 * libvirt's code gives it ("invalid argument: ", "block copy still active: ", ...), also for
 * the errors of the layers below, which name the problem only. */
static gboolean
qemuDriverDiskResult(gboolean ok, GError **error)
{
    if (!ok && error)
        qvirErrorAddPrefix(*error);
    return ok;
}

/* BANDWIDTH in MiB/s (or bytes/s with BYTES) to bytes/s, refusing overflow as libvirt. */
static gboolean
qemuDriverBandwidthBytes(unsigned long bandwidth, gboolean bytes, unsigned long long *out,
                         GError **error)
{
    const unsigned long long limit = G_MAXINT64 >> 20;

    if (bytes) {
        *out = bandwidth;
        return TRUE;
    }
    if ((unsigned long long)bandwidth > limit) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OVERFLOW,
                    "numerical overflow: bandwidth must be less than %llu", limit);
        return FALSE;
    }
    *out = (unsigned long long)bandwidth << 20;
    return TRUE;
}

static gboolean
qemuDriverPull(qvirDriver *drv, const unsigned char *uuid, const char *path, const char *base,
               unsigned long bandwidth, gboolean bytes, GError **error)
{
    qemuDriverLive live;
    qvirDomainDiskDef *disk;
    unsigned long long bw;
    gboolean ok = FALSE;

    if (!qemuDriverBandwidthBytes(bandwidth, bytes, &bw, error))
        return FALSE;
    if (!qemuDriverLiveBegin(drv, uuid, QEMU_JOB_MODIFY, &live, error))
        return FALSE;
    /* Starting a job only reads the definition: the chain changes when it completes. */
    if ((disk = qemuDriverDiskByName(live.live, path, error)))
        ok = qemuBlockJobPull(live.jobs, live.mon, (qvirDomainDef *)live.live, disk, base, bw,
                              error);
    qemuDriverLiveEnd(&live);
    return ok;
}

static gboolean
qemuDriverDomainBlockPullImpl(qvirDriver *drv, const unsigned char *uuid, const char *disk,
                              unsigned long bandwidth, unsigned int flags, GError **error)
{
    if (!qvirCheckFlags(flags, QEMU_BLOCK_PULL_BANDWIDTH_BYTES, "qvirDriverDomainBlockPull", error))
        return FALSE;
    return qemuDriverPull(drv, uuid, disk, NULL, bandwidth,
                          (flags & QEMU_BLOCK_PULL_BANDWIDTH_BYTES) != 0, error);
}

gboolean
qvirDriverDomainBlockPull(qvirDriver *drv, const unsigned char *uuid, const char *disk,
                          unsigned long bandwidth, unsigned int flags, GError **error)
{
    return qemuDriverDiskResult(
        qemuDriverDomainBlockPullImpl(drv, uuid, disk, bandwidth, flags, error), error);
}

static gboolean
qemuDriverDomainBlockRebaseImpl(qvirDriver *drv, const unsigned char *uuid, const char *disk,
                                const char *base, unsigned long bandwidth, unsigned int flags,
                                GError **error)
{
    const unsigned int copyFlags = QEMU_BLOCK_REBASE_COPY | QEMU_BLOCK_REBASE_SHALLOW |
                                   QEMU_BLOCK_REBASE_REUSE_EXT | QEMU_BLOCK_REBASE_COPY_RAW |
                                   QEMU_BLOCK_REBASE_COPY_DEV;

    if (!qvirCheckFlags(flags,
                        copyFlags | QEMU_BLOCK_REBASE_RELATIVE | QEMU_BLOCK_REBASE_BANDWIDTH_BYTES,
                        "qvirDriverDomainBlockRebase", error))
        return FALSE;
    if (flags & QEMU_BLOCK_REBASE_COPY)
        return qemuDriverRebaseCopy(drv, uuid, disk, base, bandwidth, flags, error);
    /* RELATIVE needs no work: the new backing name is the base's path as the chain has it. */
    return qemuDriverPull(drv, uuid, disk, base, bandwidth,
                          (flags & QEMU_BLOCK_REBASE_BANDWIDTH_BYTES) != 0, error);
}

gboolean
qvirDriverDomainBlockRebase(qvirDriver *drv, const unsigned char *uuid, const char *disk,
                            const char *base, unsigned long bandwidth, unsigned int flags,
                            GError **error)
{
    return qemuDriverDiskResult(
        qemuDriverDomainBlockRebaseImpl(drv, uuid, disk, base, bandwidth, flags, error), error);
}

/* SHALLOW: the base is the layer right below TOP. Returns "DST[INDEX]" for it. */
static char *
qemuDriverShallowBase(const qvirDomainDiskDef *disk, const char *top, GError **error)
{
    qvirStorageSource *topSrc = disk->src;

    if (top && g_strcmp0(top, disk->dst) != 0 &&
        !(topSrc = qemuChainLookup(disk->src, NULL, top, disk->dst, NULL, error)))
        return NULL;
    if (!qvirStorageSourceIsBacking(topSrc->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: top '%s' in chain for '%s' has no backing file",
                    topSrc->path, disk->src->path);
        return NULL;
    }
    return g_strdup_printf("%s[%u]", disk->dst, topSrc->backingStore->id);
}

/*
 * QEMU writes into the commit's base, a layer it opened read-only: it must be writable for
 * QEMU's user. Names that do not resolve are left to qemuBlockJobCommit to report.
 */
static gboolean
qemuDriverCommitBaseWritable(qvirDriver *drv, qvirDomainDiskDef *disk, const char *top,
                             const char *base, GError **error)
{
    qvirStorageSource *topSrc = disk->src;
    qvirStorageSource *baseSrc;

    if (top && g_strcmp0(top, disk->dst) != 0 &&
        !(topSrc = qemuChainLookup(disk->src, NULL, top, disk->dst, NULL, NULL)))
        return TRUE;
    if (!qvirStorageSourceIsBacking(topSrc->backingStore))
        return TRUE;
    if (base) {
        if (!(baseSrc = qemuChainLookup(disk->src, topSrc, base, disk->dst, NULL, NULL)))
            return TRUE;
    } else {
        for (baseSrc = topSrc->backingStore; qvirStorageSourceIsBacking(baseSrc->backingStore);)
            baseSrc = baseSrc->backingStore;
    }
    return qvirSecurityDACSetImageWritable(drv->security, disk->dst, baseSrc, error);
}

/*
 * libvirt looks the disk and the layers up before it asks whether the domain runs
 * (qemuDomainBlockCommit): for a domain that is off, the names are refused first, in the
 * chain its definition spells out (none, usually: "could not find base image"). FALSE
 * with that error; TRUE otherwise, also when the domain runs.
 */
static gboolean
qemuDriverCommitInactive(qvirDriver *drv, const unsigned char *uuid, const char *path,
                         const char *top, const char *base, unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, NULL);
    g_autoptr(qvirDomainDef) def = NULL;
    qvirStorageSource *topSrc, *baseSrc;
    qvirDomainDiskDef *disk;

    if (!obj)
        return TRUE; /* the job's own look-up reports it */
    qemuDomainObjLock(obj);
    if (!qemuDomainObjIsActive(obj) && obj->def)
        def = qvirDomainDefCopy(obj->def, 0, NULL);
    qemuDomainObjUnlock(obj);
    if (!def)
        return TRUE;
    if (!(disk = qemuDriverDiskByName(def, path, error)))
        return FALSE;
    if ((flags & QEMU_BLOCK_COMMIT_SHALLOW) && !base) {
        if (top && g_strcmp0(top, disk->dst) != 0 &&
            !qemuChainLookup(disk->src, NULL, top, disk->dst, NULL, error))
            return FALSE;
    } else if (!qemuBlockJobCommitLookup(disk, top, base, &topSrc, &baseSrc, error)) {
        return FALSE;
    }
    qemuDriverErrorNotRunning(error);
    return FALSE;
}

static gboolean
qemuDriverDomainBlockCommitImpl(qvirDriver *drv, const unsigned char *uuid, const char *path,
                                const char *base, const char *top, unsigned long bandwidth,
                                unsigned int flags, GError **error)
{
    g_autofree char *shallowBase = NULL;
    qemuDriverLive live;
    qvirDomainDiskDef *disk;
    unsigned long long bw;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags,
                        QEMU_BLOCK_COMMIT_SHALLOW | QEMU_BLOCK_COMMIT_DELETE |
                            QEMU_BLOCK_COMMIT_ACTIVE | QEMU_BLOCK_COMMIT_RELATIVE |
                            QEMU_BLOCK_COMMIT_BANDWIDTH_BYTES,
                        "qvirDriverDomainBlockCommit", error))
        return FALSE;
    if (flags & QEMU_BLOCK_COMMIT_DELETE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: deletion of committed images is not supported");
        return FALSE;
    }
    if ((flags & QEMU_BLOCK_COMMIT_SHALLOW) && base) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: base and shallow are mutually exclusive");
        return FALSE;
    }
    if (!qemuDriverBandwidthBytes(bandwidth, (flags & QEMU_BLOCK_COMMIT_BANDWIDTH_BYTES) != 0, &bw,
                                  error))
        return FALSE;
    if (!qemuDriverCommitInactive(drv, uuid, path, top, base, flags, error) ||
        !qemuDriverLiveBegin(drv, uuid, QEMU_JOB_MODIFY, &live, error))
        return FALSE;
    if ((disk = qemuDriverDiskByName(live.live, path, error))) {
        if (flags & QEMU_BLOCK_COMMIT_SHALLOW)
            base = shallowBase = qemuDriverShallowBase(disk, top, error);
        if ((!(flags & QEMU_BLOCK_COMMIT_SHALLOW) || shallowBase) &&
            qemuDriverCommitBaseWritable(drv, disk, top, base, error))
            ok = qemuBlockJobCommit(live.jobs, live.mon, (qvirDomainDef *)live.live, disk, top,
                                    base, (flags & QEMU_BLOCK_COMMIT_ACTIVE) != 0, bw, error);
    }
    qemuDriverLiveEnd(&live);
    return ok;
}

gboolean
qvirDriverDomainBlockCommit(qvirDriver *drv, const unsigned char *uuid, const char *path,
                            const char *base, const char *top, unsigned long bandwidth,
                            unsigned int flags, GError **error)
{
    return qemuDriverDiskResult(
        qemuDriverDomainBlockCommitImpl(drv, uuid, path, base, top, bandwidth, flags, error),
        error);
}

/*
 * Before the pivot onto a reused shallow destination: the backing layers its header names
 * are opened now and put under its top, as libvirt 9.0 does (blockdev-add, then
 * blockdev-snapshot with the destination as the overlay: QEMU allows a write-only overlay
 * there, the mirror's target). Nothing to do for any other job.
 */
static gboolean
qemuDriverCopyOpenBacking(qvirDriver *drv, qemuDriverLive *live, const qvirDomainDiskDef *disk,
                          GError **error)
{
    g_autoptr(qvirStorageSource) mirror = qemuBlockJobsCopyPendingBacking(live->jobs, disk->dst);
    g_autoptr(JsonObject) args = NULL;
    g_autoptr(JsonNode) r = NULL;
    qvirDomainDiskDef view = *disk;
    const qemuCaps *caps;

    if (!mirror)
        return TRUE;
    if (!(caps = qemuDriverGetCaps(
              drv, live->live->emulator ? live->live->emulator : drv->cfg->emulator, error)))
        return FALSE;
    view.src = mirror;
    if (!qemuHotplugBlockdevAddLayers(live->mon, caps, &view, mirror->backingStore, NULL, error))
        return FALSE;
    args = json_object_new();
    json_object_set_string_member(args, "node", mirror->backingStore->nodeFormat);
    json_object_set_string_member(args, "overlay", mirror->nodeFormat);
    if (!(r = qemuMonitorCommand(live->mon, "blockdev-snapshot", args,
                                 QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error))) {
        g_autoptr(GError) err = NULL;

        (void)qemuHotplugBlockdevDelChain(live->mon, mirror->backingStore, &err);
        return FALSE;
    }
    qemuBlockJobsCopyBackingOpened(live->jobs, disk->dst);
    return TRUE;
}

static gboolean
qemuDriverDomainBlockJobAbortImpl(qvirDriver *drv, const unsigned char *uuid, const char *path,
                                  unsigned int flags, GError **error)
{
    g_autofree char *dst = NULL;
    qemuDriverLive live;
    qvirDomainDiskDef *disk;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, QEMU_BLOCK_JOB_ABORT_ASYNC | QEMU_BLOCK_JOB_ABORT_PIVOT,
                        "qvirDriverDomainBlockJobAbort", error))
        return FALSE;
    if (!qemuDriverLiveBegin(drv, uuid, QEMU_JOB_MODIFY, &live, error))
        return FALSE;
    if (!(disk = qemuDriverDiskByName(live.live, path, error)))
        goto out;
    dst = g_strdup(disk->dst);
    if ((flags & QEMU_BLOCK_JOB_ABORT_PIVOT) && !qemuDriverCopyOpenBacking(drv, &live, disk, error))
        goto out;
    if (!qemuBlockJobAbort(live.jobs, live.mon, disk, (flags & QEMU_BLOCK_JOB_ABORT_PIVOT) != 0,
                           error))
        goto out;
    ok = TRUE;
    if (flags & QEMU_BLOCK_JOB_ABORT_ASYNC)
        goto out;
    /* Synchronous: return once the job ended and the chain shows it, as libvirt does. */
    if (!qemuBlockJobWait(live.jobs, dst, FALSE, QEMU_DRIVER_BLOCKJOB_WAIT_MS)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                    "Timed out during operation: block job on disk '%s' did not end", dst);
        ok = FALSE;
        goto out;
    }
    (void)qemuDriverApplyBlockJobs(drv, live.obj, live.mon, live.jobs);

out:
    qemuDriverLiveEnd(&live);
    return ok;
}

gboolean
qvirDriverDomainBlockJobAbort(qvirDriver *drv, const unsigned char *uuid, const char *path,
                              unsigned int flags, GError **error)
{
    return qemuDriverDiskResult(qemuDriverDomainBlockJobAbortImpl(drv, uuid, path, flags, error),
                                error);
}

static int
qemuDriverDomainGetBlockJobInfoImpl(qvirDriver *drv, const unsigned char *uuid, const char *path,
                                    qemuBlockJobInfo *info, unsigned int flags, GError **error)
{
    qemuDriverLive live;
    qvirDomainDiskDef *disk;
    int ret = -1;

    if (!qvirCheckFlags(flags, QEMU_BLOCK_JOB_INFO_BANDWIDTH_BYTES,
                        "qvirDriverDomainGetBlockJobInfo", error))
        return -1;
    memset(info, 0, sizeof(*info));
    if (!qemuDriverLiveBegin(drv, uuid, QEMU_JOB_QUERY, &live, error))
        return -1;
    /* A job that ended is applied first: a client polling for the end (virsh --wait) then
     * finds the new chain in the very next dumpxml. */
    (void)qemuDriverApplyBlockJobs(drv, live.obj, live.mon, live.jobs);
    qemuDomainObjLock(live.obj);
    live.live = live.obj->liveDef;
    qemuDomainObjUnlock(live.obj);

    if ((disk = qemuDriverDiskByName(live.live, path, error)) &&
        (ret = qemuBlockJobGetInfo(live.jobs, live.mon, disk, info, error)) == 1 &&
        !(flags & QEMU_BLOCK_JOB_INFO_BANDWIDTH_BYTES))
        info->bandwidth >>= 20;
    if (ret == 0 && qemuBlockJobsDiskHasJob(live.jobs, disk->dst)) {
        /* QEMU no longer lists the job but its end event is still on the way: wait for
         * it, so "no job" always comes with the final chain. */
        g_autofree char *dst = g_strdup(disk->dst);

        (void)qemuBlockJobWait(live.jobs, dst, FALSE, QEMU_DRIVER_BLOCKJOB_WAIT_MS);
        (void)qemuDriverApplyBlockJobs(drv, live.obj, live.mon, live.jobs);
    }
    qemuDriverLiveEnd(&live);
    return ret;
}

/* ---- merging a layer away (external snapshot deletion) ------------------------------ */

/* Wait for DST's job to end (or be READY); on a timeout the job is cancelled. */
static gboolean
qemuDriverMergeWait(qemuMonitor *mon, qemuBlockJobs *jobs, qvirDomainDiskDef *disk,
                    gboolean forReady, GError **error)
{
    g_autoptr(GError) ignored = NULL;

    if (qemuBlockJobWait(jobs, disk->dst, forReady, QEMU_DRIVER_BLOCKJOB_WAIT_MS))
        return TRUE;
    (void)qemuBlockJobAbort(jobs, mon, disk, FALSE, &ignored);
    g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                "Timed out during operation: block commit of disk '%s' did not end", disk->dst);
    return FALSE;
}

gboolean
qemuDriverMergeLayer(qvirDriver *drv, qemuDomainObj *obj, const char *dst, const char *path,
                     GError **error)
{
    g_autofree char *failure = NULL;
    g_autofree char *base = NULL;
    g_autofree char *top = NULL;
    qvirDomainDiskDef *disk;
    qvirStorageSource *layer;
    qemuMonitor *mon = NULL;
    qemuBlockJobs *jobs = NULL;
    gboolean active;

    qemuDomainObjLock(obj);
    if (obj->proc && obj->liveDef) {
        mon = qemuProcessGetMonitor(obj->proc);
        jobs = obj->blockJobs;
    }
    qemuDomainObjUnlock(obj);
    if (!mon || !jobs) {
        qemuDriverErrorNotRunning(error);
        return FALSE;
    }
    /* Job held: the live definition is read without the mutex. */
    if (!(disk = qemuDriverDiskByName(obj->liveDef, dst, error)) ||
        !(layer = qemuChainLookup(disk->src, NULL, path, dst, NULL, error)))
        return FALSE;
    if (!qvirStorageSourceIsBacking(layer->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: failed to find parent disk source in backing chain");
        return FALSE;
    }
    active = layer == disk->src;
    top = g_strdup_printf("%s[%u]", dst, layer->id);
    base = g_strdup_printf("%s[%u]", dst, layer->backingStore->id);
    if (!qvirSecurityDACSetImageWritable(drv->security, dst, layer->backingStore, error) ||
        !qemuBlockJobCommit(jobs, mon, obj->liveDef, disk, active ? NULL : top, base, active, 0,
                            error) ||
        !qemuDriverMergeWait(mon, jobs, disk, active, error))
        return FALSE;
    /* READY (and its event) first, then the pivot, as libvirt does for an active layer. */
    (void)qemuDriverApplyBlockJobsFull(drv, obj, mon, jobs, dst, &failure);
    if (active && !failure) {
        disk = qvirDomainDiskByName(obj->liveDef, dst);
        if (!qemuBlockJobAbort(jobs, mon, disk, TRUE, error) ||
            !qemuDriverMergeWait(mon, jobs, disk, FALSE, error))
            return FALSE;
        (void)qemuDriverApplyBlockJobsFull(drv, obj, mon, jobs, dst, &failure);
    }
    disk = qvirDomainDiskByName(obj->liveDef, dst);
    for (layer = disk ? disk->src : NULL; !failure && qvirStorageSourceIsBacking(layer);
         layer = layer->backingStore) {
        if (g_strcmp0(layer->path, path) == 0)
            failure = g_strdup("the layer is still in the chain");
    }
    if (failure) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: block commit failed while deleting disk '%s' snapshot: '%s'",
                    dst, failure);
        return FALSE;
    }
    /* libvirt's VIR_DOMAIN_BLOCK_COMMIT_DELETE: the merged overlay goes. */
    if (g_unlink(path) < 0 && errno != ENOENT)
        g_message("domain '%s': cannot remove '%s': %s", obj->name, path, g_strerror(errno));
    return TRUE;
}

int
qvirDriverDomainGetBlockJobInfo(qvirDriver *drv, const unsigned char *uuid, const char *path,
                                qemuBlockJobInfo *info, unsigned int flags, GError **error)
{
    int ret = qemuDriverDomainGetBlockJobInfoImpl(drv, uuid, path, info, flags, error);

    qemuDriverDiskResult(ret >= 0, error);
    return ret;
}

/* libvirt's order: the bandwidth, the domain running, the disk, its job. */
static gboolean
qemuDriverDomainBlockJobSetSpeedImpl(qvirDriver *drv, const unsigned char *uuid, const char *path,
                                     unsigned long long bandwidth, unsigned int flags,
                                     GError **error)
{
    qemuDriverLive live;
    qvirDomainDiskDef *disk;
    unsigned long long bw;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, QEMU_BLOCK_JOB_SPEED_BANDWIDTH_BYTES,
                        "qvirDriverDomainBlockJobSetSpeed", error))
        return FALSE;
    if (!(flags & QEMU_BLOCK_JOB_SPEED_BANDWIDTH_BYTES) && bandwidth > (G_MAXINT64 >> 20)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OVERFLOW,
                    "numerical overflow: bandwidth must be less than %llu",
                    (unsigned long long)(G_MAXINT64 >> 20));
        return FALSE;
    }
    bw = (flags & QEMU_BLOCK_JOB_SPEED_BANDWIDTH_BYTES) ? bandwidth : bandwidth << 20;
    if (!qemuDriverLiveBegin(drv, uuid, QEMU_JOB_MODIFY, &live, error))
        return FALSE;
    if ((disk = qemuDriverDiskByName(live.live, path, error)))
        ok = qemuBlockJobSetSpeed(live.jobs, live.mon, disk, bw, error);
    qemuDriverLiveEnd(&live);
    return ok;
}

gboolean
qvirDriverDomainBlockJobSetSpeed(qvirDriver *drv, const unsigned char *uuid, const char *path,
                                 unsigned long long bandwidth, unsigned int flags, GError **error)
{
    return qemuDriverDiskResult(
        qemuDriverDomainBlockJobSetSpeedImpl(drv, uuid, path, bandwidth, flags, error), error);
}

/* ---- device removal completed by the guest ---------------------------------------- */

void
qemuDriverDeviceDeleted(qvirDriver *drv, qemuDomainObj *obj, const char *alias)
{
    g_autoptr(GError) err = NULL;
    qemuMonitor *mon = NULL;
    qvirDomainDef *work;

    qemuDomainObjLock(obj);
    if (obj->proc && obj->liveDef)
        mon = qemuProcessGetMonitor(obj->proc);
    qemuDomainObjUnlock(obj);
    if (!mon || !alias)
        return;
    if (!(work = qemuDriverLiveCopy(obj, &err))) {
        g_message("domain '%s': %s", obj->name, err->message);
        return;
    }
    /* FALSE without error: no disk has that alias (already removed by the detach call). */
    if (!qemuHotplugDiskRemoved(mon, work, alias, &err)) {
        if (err)
            g_message("domain '%s': removing device '%s': %s", obj->name, alias, err->message);
        qvirDomainDefFree(work);
        return;
    }
    qemuDriverLiveCommit(drv, obj, work);
}

/* ---- hot-plug -------------------------------------------------------------------- */

#define QEMU_AFFECT_LIVE (1u << 0)
#define QEMU_AFFECT_CONFIG (1u << 1)
#define QEMU_DEVICE_MODIFY_FORCE (1u << 2)
/* libvirt waits this long for a guest to release a detached device. */
#define QEMU_DRIVER_DETACH_WAIT_MS 5000

/*
 * libvirt's virDomainObjUpdateModificationImpact: 0 means the live domain when it runs,
 * the persistent definition otherwise; LIVE needs a running domain, CONFIG a persistent
 * one. Called with the job held.
 */
gboolean
qemuDriverModificationImpact(qemuDomainObj *obj, unsigned int *flags, GError **error)
{
    gboolean active, persistent;

    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj) && obj->proc;
    persistent = obj->def != NULL;
    qemuDomainObjUnlock(obj);

    if (!(*flags & (QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG)))
        *flags |= active ? QEMU_AFFECT_LIVE : QEMU_AFFECT_CONFIG;
    if (!active && (*flags & QEMU_AFFECT_LIVE)) {
        qemuDriverErrorNotRunning(error);
        return FALSE;
    }
    if (!persistent && (*flags & QEMU_AFFECT_CONFIG)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: transient domains do not have any "
                    "persistent config");
        return FALSE;
    }
    return TRUE;
}

static qemuHotplugOpts
qemuDriverHotplugOpts(qvirDriver *drv, qvirStorageChainConfig *chainCfg)
{
    qemuHotplugOpts opts = {0};

    qvirStorageChainConfigInit(chainCfg);
    chainCfg->allowFormatProbing = drv->cfg->allowDiskFormatProbing;
    chainCfg->probeNetwork = drv->cfg->probeNetworkBackingChains;
    chainCfg->maxDepth = drv->cfg->maxBackingChainDepth;
    opts.chainConfig = chainCfg;
    opts.defaultDiskCache = drv->cfg->defaultDiskCache;
    opts.security = drv->security;
    opts.transientOverlay = qemuSnapshotCreateTransientOverlay;
    return opts;
}

/*
 * Secrets for what is hot-plugged into OBJ's running QEMU: the secrets driver and the
 * master key of that QEMU (read back from its domain directory after a daemon restart;
 * without it a disk that needs a secret is refused with a clear error). OBJ locked.
 */
static void
qemuDriverHotplugSecrets(qvirDriver *drv, qemuDomainObj *obj, qemuBlockSecretCtx *secrets)
{
    qemuDriverSecretCtxInit(drv, secrets);
    if (!qemuProcessGetMasterKey(obj->proc)) {
        g_autofree char *dir = qemuDriverDomainDir(drv, obj->id, obj->name);
        g_autoptr(GError) err = NULL;

        if (!qemuProcessLoadMasterKey(obj->proc, dir, &err))
            g_debug("no master key for domain '%s': %s", obj->name, err->message);
    }
    secrets->masterKey = qemuProcessGetMasterKey(obj->proc);
}

/* Persist EDITED (a changed copy of OBJ's definition): file first, then memory. */
gboolean
qemuDriverCommitConfig(qvirDriver *drv, qemuDomainObj *obj, qvirDomainDef *edited, GError **error)
{
    qvirDomainDef *old;
    const qemuCaps *caps;

    /* as libvirt, a device added to the config gets its address (and any controller it
     * needs) now, not at the next start */
    if (!qvirDomainDefValidate(edited, error) ||
        !(caps = qemuDriverGetCaps(drv, edited->emulator ? edited->emulator : drv->cfg->emulator,
                                   error)) ||
        !qemuDomainDefPostParse(edited, caps, drv->cfg->emulator, error) ||
        !qemuDriverWriteDefinition(drv, edited, error)) {
        qvirDomainDefFree(edited);
        return FALSE;
    }
    qemuDomainObjLock(obj);
    old = obj->def;
    obj->def = edited;
    qemuDomainObjUnlock(obj);
    qvirDomainDefFree(old);
    return TRUE;
}

/* The persistent definition with DISK (parsed again from XML) added; nothing is written. */
static qvirDomainDef *
qemuDriverConfigAttach(qemuDomainObj *obj, const char *xml, GError **error)
{
    g_autoptr(qvirDomainDef) edited = qvirDomainDefCopy(obj->def, 0, error);
    g_autoptr(qvirDomainDiskDef) disk = NULL;

    if (!edited || !(disk = qvirDomainDiskDefParseString(xml, 0, error)) ||
        !qvirDomainDefCompatibleDisk(edited, disk, error))
        return NULL;
    if (qvirDomainDiskByTarget(edited, disk->dst)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: target %s already exists", disk->dst);
        return NULL;
    }
    if (!qvirDomainDiskDefValidate(edited, disk, error))
        return NULL;
    g_ptr_array_add(edited->disks, g_steal_pointer(&disk));
    return g_steal_pointer(&edited);
}

static gboolean
qemuDriverLiveAttach(qvirDriver *drv, qemuDomainObj *obj, const char *xml, GError **error)
{
    g_autoptr(qvirDomainDiskDef) disk = NULL;
    qvirStorageChainConfig chainCfg;
    qemuHotplugOpts opts = qemuDriverHotplugOpts(drv, &chainCfg);
    qemuBlockSecretCtx secrets;
    const qemuCaps *caps;
    qemuMonitor *mon;
    qvirDomainDef *work;

    if (!(disk = qvirDomainDiskDefParseString(xml, 0, error)))
        return FALSE;
    if (!(caps = qemuDriverGetCaps(
              drv, obj->liveDef->emulator ? obj->liveDef->emulator : drv->cfg->emulator, error)))
        return FALSE;
    if (!qvirDomainDefCompatibleDisk(obj->liveDef, disk, error))
        return FALSE;
    if (!qvirDomainDiskDefValidate(obj->liveDef, disk, error) ||
        !qvirStorageTranslateDiskSource(qvirDriverGetStorage(drv), disk->src, error))
        return FALSE;
    /* a disk without <driver type=> is raw, as one of a started definition */
    qemuDomainDiskDefPostParse(disk);
    qemuDomainDiskApplyNBDTLSDefault(disk, drv->cfg->nbdTLS);
    if (!(work = qemuDriverLiveCopy(obj, error)))
        return FALSE;
    qemuDomainObjLock(obj);
    mon = qemuProcessGetMonitor(obj->proc);
    opts.pid = qemuProcessGetPid(obj->proc);
    qemuDriverHotplugSecrets(drv, obj, &secrets);
    qemuDomainObjUnlock(obj);
    opts.secrets = &secrets;
    if (!qemuHotplugAttachDisk(mon, caps, work, disk, &opts, error)) {
        /* a SCSI controller QEMU took for the disk stays, as in libvirt */
        if (work->controllers->len != obj->liveDef->controllers->len)
            qemuDriverLiveCommit(drv, obj, work);
        else
            qvirDomainDefFree(work);
        return FALSE;
    }
    g_steal_pointer(&disk); /* WORK owns it now */
    qemuDriverLiveCommit(drv, obj, work);
    return TRUE;
}

gboolean
qvirDriverDomainAttachDevice(qvirDriver *drv, const unsigned char *uuid, const char *xml,
                             unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autoptr(qvirDomainDef) config = NULL;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG, __func__, error))
        return FALSE;
    if (!xml) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "invalid argument: no XML");
        return FALSE;
    }
    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    if (!qemuDriverModificationImpact(obj, &flags, error))
        goto out;
    /* The persistent change is checked before anything happens to QEMU. */
    if ((flags & QEMU_AFFECT_CONFIG) && !(config = qemuDriverConfigAttach(obj, xml, error)))
        goto out;
    if ((flags & QEMU_AFFECT_LIVE) && !qemuDriverLiveAttach(drv, obj, xml, error))
        goto out;
    if (config && !qemuDriverCommitConfig(drv, obj, g_steal_pointer(&config), error))
        goto out;
    ok = TRUE;

out:
    qemuDomainObjEndJob(obj);
    /* libvirt's message text: the code's prefix ("internal error: " ...) before the reason */
    if (!ok && error)
        qvirErrorAddPrefix(*error);
    return ok;
}

static void
qemuDriverErrorDiskMissing(const char *dst, GError **error)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_DEVICE_MISSING, "device not found: disk %s not found",
                dst ? dst : "");
}

/* MATCH's target names the disk (as libvirt matches a detach). */
static qvirDomainDiskDef *
qemuDriverMatchDisk(const qvirDomainDef *def, const qvirDomainDiskDef *match, GError **error)
{
    qvirDomainDiskDef *disk = match->dst ? qvirDomainDiskByTarget(def, match->dst) : NULL;

    if (!disk)
        qemuDriverErrorDiskMissing(match->dst, error);
    return disk;
}

static qvirDomainDef *
qemuDriverConfigDetach(qemuDomainObj *obj, const qvirDomainDiskDef *match, GError **error)
{
    g_autoptr(qvirDomainDef) edited = qvirDomainDefCopy(obj->def, 0, error);
    qvirDomainDiskDef *disk;

    if (!edited || !(disk = qemuDriverMatchDisk(edited, match, error)))
        return NULL;
    g_ptr_array_remove(edited->disks, disk); /* frees it */
    return g_steal_pointer(&edited);
}

/* 1 detached, 0 requested but the guest has not released it yet, -1 failed. */
static int
qemuDriverLiveDetach(qvirDriver *drv, qemuDomainObj *obj, const qvirDomainDiskDef *match,
                     GError **error)
{
    qvirDomainDiskDef *disk;
    qvirDomainDef *work;
    qemuMonitor *mon;
    qemuBlockJobs *jobs;
    int rc;

    if (!qemuDriverMatchDisk(obj->liveDef, match, error))
        return -1;
    if (!(work = qemuDriverLiveCopy(obj, error)))
        return -1;
    disk = qvirDomainDiskByTarget(work, match->dst);
    qemuDomainObjLock(obj);
    mon = qemuProcessGetMonitor(obj->proc);
    jobs = obj->blockJobs;
    qemuDomainObjUnlock(obj);

    rc = qemuHotplugDetachDisk(jobs, mon, work, disk, QEMU_DRIVER_DETACH_WAIT_MS, error);
    if (rc < 0) {
        qvirDomainDefFree(work);
        return -1;
    }
    if (rc == QEMU_HOTPLUG_DETACH_PENDING) {
        /* The definition is unchanged until DEVICE_DELETED: the worker finishes then.
         * libvirt 9.0 reports such a request as a success too (the disk stays listed
         * until the guest lets it go); only a guest that refuses the unplug is an error. */
        qvirDomainDefFree(work);
        return 0;
    }
    qemuDriverLiveCommit(drv, obj, work);
    return 1;
}

static gboolean
qemuDriverDomainDetachDeviceImpl(qvirDriver *drv, const unsigned char *uuid, const char *xml,
                                 unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autoptr(qvirDomainDef) config = NULL;
    g_autoptr(qvirDomainDiskDef) match = NULL;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG,
                        "qvirDriverDomainDetachDevice", error))
        return FALSE;
    if (!xml) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "invalid argument: no XML");
        return FALSE;
    }
    if (!(match = qvirDomainDiskDefParseString(xml, 0, error)))
        return FALSE;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    if (!qemuDriverModificationImpact(obj, &flags, error))
        goto out;
    if ((flags & QEMU_AFFECT_CONFIG) && !(config = qemuDriverConfigDetach(obj, match, error)))
        goto out;
    if ((flags & QEMU_AFFECT_LIVE) && qemuDriverLiveDetach(drv, obj, match, error) < 0)
        goto out;
    if (config && !qemuDriverCommitConfig(drv, obj, g_steal_pointer(&config), error))
        goto out;
    ok = TRUE;

out:
    qemuDomainObjEndJob(obj);
    return ok;
}

gboolean
qvirDriverDomainDetachDevice(qvirDriver *drv, const unsigned char *uuid, const char *xml,
                             unsigned int flags, GError **error)
{
    return qemuDriverDiskResult(qemuDriverDomainDetachDeviceImpl(drv, uuid, xml, flags, error),
                                error);
}

static gboolean
qemuDriverCheckRemovable(const qvirDomainDiskDef *disk, GError **error)
{
    if (disk->device != QVIR_DOMAIN_DISK_DEVICE_CDROM) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: disk source can be changed only in removable "
                    "drives");
        return FALSE;
    }
    return TRUE;
}

static qvirDomainDef *
qemuDriverConfigUpdate(qemuDomainObj *obj, const char *xml, GError **error)
{
    g_autoptr(qvirDomainDef) edited = qvirDomainDefCopy(obj->def, 0, error);
    g_autoptr(qvirDomainDiskDef) update = NULL;
    qvirDomainDiskDef *disk;

    if (!edited || !(update = qvirDomainDiskDefParseString(xml, 0, error)) ||
        !(disk = qemuDriverMatchDisk(edited, update, error)) ||
        !qemuDriverCheckRemovable(disk, error))
        return NULL;
    qvirStorageSourceFree(disk->src);
    disk->src = g_steal_pointer(&update->src);
    if (disk->src && disk->src->format == QVIR_STORAGE_FILE_NONE)
        disk->src->format = QVIR_STORAGE_FILE_RAW;
    return g_steal_pointer(&edited);
}

static gboolean
qemuDriverLiveUpdate(qvirDriver *drv, qemuDomainObj *obj, const char *xml, gboolean force,
                     GError **error)
{
    g_autoptr(qvirDomainDiskDef) update = NULL;
    qvirStorageChainConfig chainCfg;
    qemuHotplugOpts opts = qemuDriverHotplugOpts(drv, &chainCfg);
    qemuBlockSecretCtx secrets;
    qvirDomainDiskDef *disk;
    const qemuCaps *caps;
    qemuMonitor *mon;
    qvirDomainDef *work;
    qvirStorageSource *newsrc;

    if (!(update = qvirDomainDiskDefParseString(xml, 0, error)) ||
        !(disk = qemuDriverMatchDisk(obj->liveDef, update, error)) ||
        !qemuDriverCheckRemovable(disk, error))
        return FALSE;
    if (!(caps = qemuDriverGetCaps(
              drv, obj->liveDef->emulator ? obj->liveDef->emulator : drv->cfg->emulator, error)))
        return FALSE;
    if (!(work = qemuDriverLiveCopy(obj, error)))
        return FALSE;
    disk = qvirDomainDiskByTarget(work, update->dst);
    qemuDomainObjLock(obj);
    mon = qemuProcessGetMonitor(obj->proc);
    opts.pid = qemuProcessGetPid(obj->proc);
    qemuDriverHotplugSecrets(drv, obj, &secrets);
    qemuDomainObjUnlock(obj);
    opts.secrets = &secrets;

    /* An empty <source/> (type NONE or no path) ejects; the empty source is kept, with its
     * format, as libvirt 9.0 keeps it. */
    newsrc = update->src;
    /* libvirt's post-parse of the new disk: media without a format is raw */
    if (newsrc && qvirStorageSourceIsBacking(newsrc) && newsrc->format == QVIR_STORAGE_FILE_NONE)
        newsrc->format = QVIR_STORAGE_FILE_RAW;
    if (!qemuHotplugChangeMedia(mon, caps, work, disk, newsrc, force, &opts, error)) {
        qvirDomainDefFree(work);
        return FALSE;
    }
    if (newsrc)
        update->src = NULL; /* consumed */
    qemuDriverLiveCommit(drv, obj, work);
    return TRUE;
}

gboolean
qvirDriverDomainUpdateDevice(qvirDriver *drv, const unsigned char *uuid, const char *xml,
                             unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autoptr(qvirDomainDef) config = NULL;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG | QEMU_DEVICE_MODIFY_FORCE,
                        __func__, error))
        return FALSE;
    if (!xml) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "invalid argument: no XML");
        return FALSE;
    }
    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    if (!qemuDriverModificationImpact(obj, &flags, error))
        goto out;
    if ((flags & QEMU_AFFECT_CONFIG) && !(config = qemuDriverConfigUpdate(obj, xml, error)))
        goto out;
    if ((flags & QEMU_AFFECT_LIVE) &&
        !qemuDriverLiveUpdate(drv, obj, xml, (flags & QEMU_DEVICE_MODIFY_FORCE) != 0, error))
        goto out;
    if (config && !qemuDriverCommitConfig(drv, obj, g_steal_pointer(&config), error))
        goto out;
    ok = TRUE;

out:
    qemuDomainObjEndJob(obj);
    return ok;
}

/* ---- block copy ------------------------------------------------------------------- */

/* virDomainBlockCopyFlags */
#define QEMU_BLOCK_COPY_SHALLOW (1u << 0)
#define QEMU_BLOCK_COPY_REUSE_EXT (1u << 1)
#define QEMU_BLOCK_COPY_TRANSIENT_JOB (1u << 2)
#define QEMU_BLOCK_COPY_SYNCHRONOUS_WRITES (1u << 3)

/*
 * A disk's chain as an operation will leave it, in the run directory beside the status file
 * ("NAME.DST.KIND": not "*.xml", which the status loader reads). KIND "mirror": a running
 * copy's destination chain, as the job holds it; "snapshot": the chain a disk-only snapshot
 * is about to switch to, written before QEMU is asked. A restarted daemon settles both from
 * what QEMU has instead of probing the images QEMU writes.
 */
static char *
qemuDriverDiskFilePath(qvirDriver *drv, const char *name, const char *dst, const char *kind)
{
    g_autofree char *file = g_strdup_printf("%s.%s.%s", name, dst, kind);

    return g_build_filename(drv->cfg->statusDir, file, NULL);
}

static char *
qemuDriverMirrorPath(qvirDriver *drv, const char *name, const char *dst)
{
    return qemuDriverDiskFilePath(drv, name, dst, "mirror");
}

static gboolean
qemuDriverDiskFileSave(qvirDriver *drv, const char *name, const char *kind,
                       const qvirDomainDiskDef *view, GError **error)
{
    g_autofree char *path = qemuDriverDiskFilePath(drv, name, view->dst, kind);
    g_autofree char *xml = qvirDomainDiskDefFormat(view, QVIR_DOMAIN_DEF_FORMAT_STATUS);

    return qvirFileWriteAtomic(path, xml, strlen(xml), 0600, error);
}

/* The saved chain of disk DST of domain NAME (KIND as above), or NULL. */
static qvirDomainDiskDef *
qemuDriverDiskFileLoad(qvirDriver *drv, const char *name, const char *dst, const char *kind)
{
    g_autofree char *path = qemuDriverDiskFilePath(drv, name, dst, kind);
    g_autofree char *xml = NULL;
    g_autoptr(GError) err = NULL;
    qvirDomainDiskDef *saved;

    if (!g_file_get_contents(path, &xml, NULL, NULL))
        return NULL;
    if (!(saved = qvirDomainDiskDefParseString(xml, QVIR_DOMAIN_DEF_PARSE_STATUS, &err)))
        g_message("domain '%s': %s: %s", name, path, err->message);
    return saved;
}

gboolean
qemuDriverSnapshotIntentSave(qvirDriver *drv, const char *name, const qvirDomainDiskDef *next,
                             GError **error)
{
    return qemuDriverDiskFileSave(drv, name, "snapshot", next, error);
}

void
qemuDriverSnapshotIntentsRemove(qvirDriver *drv, const char *name, const qvirDomainDef *def)
{
    for (guint i = 0; def && i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);
        g_autofree char *path = qemuDriverDiskFilePath(drv, name, d->dst, "snapshot");

        (void)g_remove(path);
    }
}

/* Saved destinations of disks without a copy job are gone. */
static void
qemuDriverMirrorFilesSync(qvirDriver *drv, qemuDomainObj *obj, qemuBlockJobs *jobs)
{
    qemuDomainObjLock(obj);
    for (guint i = 0; obj->liveDef && i < obj->liveDef->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(obj->liveDef->disks, i);
        g_autofree char *path = qemuDriverMirrorPath(drv, obj->name, d->dst);

        if (!qemuBlockJobsDiskHasJob(jobs, d->dst))
            (void)g_remove(path);
    }
    qemuDomainObjUnlock(obj);
}

/* Before reconnecting the jobs: hand the saved destinations and snapshot chains to the
 * job table. */
static void
qemuDriverMirrorFilesLoad(qvirDriver *drv, qemuDomainObj *obj, qemuBlockJobs *jobs,
                          const qvirDomainDef *def)
{
    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);
        g_autoptr(qvirDomainDiskDef) mirror = NULL;
        g_autoptr(qvirDomainDiskDef) snap = NULL;
        unsigned int next = 1;

        /* Every layer has its index= from the file: the node names follow from it. */
        if ((mirror = qemuDriverDiskFileLoad(drv, obj->name, d->dst, "mirror"))) {
            qemuDomainPrepareDiskChainNodeNames(mirror, &next);
            qemuBlockJobsAddSavedMirror(jobs, d->dst, g_steal_pointer(&mirror->src));
        }
        next = 1;
        if ((snap = qemuDriverDiskFileLoad(drv, obj->name, d->dst, "snapshot"))) {
            qemuDomainPrepareDiskChainNodeNames(snap, &next);
            qemuBlockJobsAddSavedSnapshot(jobs, d->dst, g_steal_pointer(&snap->src));
        }
    }
}

void
qemuDriverMirrorFilesRelease(qvirDriver *drv, const char *name, const qvirDomainDef *live)
{
    /* a snapshot that was never settled: QEMU is gone, the chain is the status file's */
    qemuDriverSnapshotIntentsRemove(drv, name, live);
    for (guint i = 0; live && i < live->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(live->disks, i);
        g_autofree char *path = qemuDriverMirrorPath(drv, name, d->dst);
        g_autofree char *xml = NULL;
        g_autoptr(qvirDomainDiskDef) saved = NULL;
        g_autoptr(GError) err = NULL;
        qvirStorageSource *m;

        if (!g_file_get_contents(path, &xml, NULL, NULL))
            continue;
        (void)g_unlink(path);
        if (!(saved = qvirDomainDiskDefParseString(xml, QVIR_DOMAIN_DEF_PARSE_STATUS, &err))) {
            g_message("domain '%s': %s: %s", name, path, err->message);
            continue;
        }
        m = saved->src;
        /* A shallow copy's backing layers are the disk's: their labels stay with it. */
        if (qvirStorageSourceIsBacking(m->backingStore) &&
            qvirStorageSourceIsBacking(d->src->backingStore) &&
            m->backingStore->id == d->src->backingStore->id)
            g_clear_pointer(&m->backingStore, qvirStorageSourceFree);
        qvirSecurityDACRestoreChainLabel(drv->security, m);
    }
}

typedef struct {
    gboolean shallow;
    gboolean reuse;
    gboolean transientJob;
    gboolean blockdev; /* the destination must be a block device */
    qemuBlockJobCopyOpts job;
} qemuDriverCopyParams;

/* libvirt's checks of the destination path: what exists and may be used. */
static gboolean
qemuDriverCopyCheckTarget(const qvirDomainDiskDef *disk, const qvirStorageSource *mirror,
                          gboolean reuse, gboolean *existing, GError **error)
{
    struct stat st;

    *existing = reuse;
    if (stat(mirror->path, &st) < 0) {
        if (errno != ENOENT) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "unable to stat block copy target '%s': %s", mirror->path,
                        g_strerror(errno));
            return FALSE;
        }
        if (reuse) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "missing destination file for disk %s: %s: %s", disk->dst, mirror->path,
                        g_strerror(errno));
            return FALSE;
        }
        if (mirror->type == QVIR_STORAGE_TYPE_BLOCK) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "invalid argument: blockdev flag requested for disk %s, but file '%s' "
                        "is not a block device",
                        disk->dst, mirror->path);
            return FALSE;
        }
        return TRUE;
    }
    if (S_ISBLK(st.st_mode)) {
        /* a block device is used as it is: nothing is created */
        *existing = TRUE;
        return TRUE;
    }
    if (mirror->type == QVIR_STORAGE_TYPE_BLOCK) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: blockdev flag requested for disk %s, but file '%s' is "
                    "not a block device",
                    disk->dst, mirror->path);
        return FALSE;
    }
    if (!reuse) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: external destination file for disk %s already "
                    "exists and is not a block device: %s",
                    disk->dst, mirror->path);
        return FALSE;
    }
    return TRUE;
}

/* What a copy set up before its job started, to undo on failure. */
typedef struct {
    qemuMonitor *mon;
    qvirSecurityDAC *security;
    qvirStorageSource *own; /* the layers only the destination has (not owned) */
    const qvirStorageSource *stop;
    gboolean labelled;
    gboolean chainLabelled; /* the layers below STOP too (their nodes are added later) */
    gboolean created;
    gboolean addedStorage; /* the top's storage node alone */
    gboolean addedAll;
} qemuDriverCopyUndo;

static void
qemuDriverCopyRollback(qemuDriverCopyUndo *u)
{
    if (u->addedAll) {
        for (qvirStorageSource *s = u->own; s && s != u->stop && qvirStorageSourceIsBacking(s);
             s = s->backingStore) {
            g_autoptr(JsonObject) a = json_object_new();
            g_autoptr(JsonNode) r = NULL;

            json_object_set_string_member(a, "node-name", s->nodeFormat);
            r = qemuMonitorCommand(u->mon, "blockdev-del", a, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                                   NULL);
            g_clear_pointer(&a, json_object_unref);
            a = json_object_new();
            json_object_set_string_member(a, "node-name", s->nodeStorage);
            g_clear_pointer(&r, json_node_unref);
            r = qemuMonitorCommand(u->mon, "blockdev-del", a, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                                   NULL);
        }
    } else if (u->addedStorage) {
        g_autoptr(JsonObject) a = json_object_new();
        g_autoptr(JsonNode) r = NULL;

        json_object_set_string_member(a, "node-name", u->own->nodeStorage);
        r = qemuMonitorCommand(u->mon, "blockdev-del", a, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, NULL);
    }
    if (u->labelled) {
        if (u->stop && !u->chainLabelled)
            qvirSecurityDACRestoreImageLabel(u->security, u->own);
        else
            qvirSecurityDACRestoreChainLabel(u->security, u->own);
    }
    if (u->created)
        (void)g_unlink(u->own->path);
}

/* Make the new destination's single layer: storage node, format (blockdev-create), format node. */
static gboolean
qemuDriverCopyCreateTop(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDiskDef *view,
                        const qvirDomainDiskDef *disk, qemuDriverCopyUndo *u, GError **error)
{
    qvirStorageSource *m = view->src;
    g_autoptr(JsonNode) sprops = qemuBlockStorageSourceGetBackendProps(view, m, caps);
    g_autoptr(JsonNode) fprops = NULL;
    g_autoptr(JsonNode) r = NULL;

    if (!(r = qemuMonitorCommand(mon, "blockdev-add", json_node_get_object(sprops),
                                 QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error)))
        return FALSE;
    u->addedStorage = TRUE;
    if (u->created && m->format == QVIR_STORAGE_FILE_QCOW2) {
        g_autoptr(JsonObject) fmt = json_object_new();
        g_autofree char *jobId = g_strdup_printf("create-%s", m->nodeFormat);

        json_object_set_string_member(fmt, "driver", "qcow2");
        json_object_set_string_member(fmt, "file", m->nodeStorage);
        json_object_set_int_member(fmt, "size", (gint64)m->capacity);
        if (qvirStorageSourceIsBacking(m->backingStore)) {
            g_autofree char *backing = qemuBlockGetBackingStoreString(m->backingStore, error);

            if (!backing)
                return FALSE;
            json_object_set_string_member(fmt, "backing-file", backing);
            json_object_set_string_member(
                fmt, "backing-fmt", qvirStorageFileFormatTypeToString(m->backingStore->format));
        }
        if (!qemuSnapshotBlockdevCreate(mon, jobId, fmt, error))
            return FALSE;
    }
    fprops = qemuBlockStorageSourceGetFormatProps(view, m, caps);
    g_clear_pointer(&r, json_node_unref);
    if (!(r = qemuMonitorCommand(mon, "blockdev-add", json_node_get_object(fprops),
                                 QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error)))
        return FALSE;
    u->addedStorage = FALSE;
    u->addedAll = TRUE;
    return TRUE;
}

/* An empty file for a new destination, made by the daemon (QEMU's user may not create files
 * there); a raw one gets the disk's size, a qcow2 one is formatted by QEMU. */
static gboolean
qemuDriverCopyCreateFile(const qvirDomainDiskDef *disk, qvirStorageSource *m, GError **error)
{
    int fd = open(m->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    gboolean ok = TRUE;

    if (fd < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "failed to create copy target: %s",
                    g_strerror(errno));
        return FALSE;
    }
    if (m->format == QVIR_STORAGE_FILE_RAW && ftruncate(fd, (off_t)m->capacity) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "failed to create copy target: %s",
                    g_strerror(errno));
        ok = FALSE;
    }
    close(fd);
    if (!ok)
        (void)g_unlink(m->path);
    return ok;
}

static gboolean
qemuDriverCopyStart(qvirDriver *drv, qemuDriverLive *live, qvirDomainDiskDef *disk,
                    qvirStorageSource *mirror, const qemuDriverCopyParams *p, GError **error)
{
    g_autoptr(qvirStorageSource) owned = mirror;
    qvirStorageChainConfig cfg;
    qemuDriverCopyUndo u = {0};
    qvirDomainDiskDef view = *disk;
    qemuBlockJobCopyOpts jobOpts = p->job;
    const qemuCaps *caps;
    gboolean shallow = p->shallow;
    gboolean backingAtPivot = FALSE;
    gboolean existing;
    unsigned int next;
    pid_t pid;

    if (!g_path_is_absolute(mirror->path)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: absolute path must be used as block copy target");
        return FALSE;
    }
    if (!p->transientJob && live->obj->def) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain is not transient");
        return FALSE;
    }
    if (!qemuBlockJobsCheckDiskIdle(live->jobs, disk->dst, error))
        return FALSE;
    if (!qvirStorageSourceIsBacking(disk->src) || !disk->src->nodeFormat) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "disk '%s' does not have a source in use", disk->dst);
        return FALSE;
    }
    /* one layer: nothing to keep below the top */
    if (!qvirStorageSourceIsBacking(disk->src->backingStore))
        shallow = FALSE;
    if (mirror->backingStore && !shallow && qvirStorageSourceIsBacking(mirror->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: backingStore of mirror without "
                    "VIR_DOMAIN_BLOCK_COPY_SHALLOW doesn't make sense");
        return FALSE;
    }
    if (!p->reuse && shallow && mirror->format == QVIR_STORAGE_FILE_RAW) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: shallow copy of disk '%s' into a raw file is "
                    "not possible",
                    disk->dst);
        return FALSE;
    }
    if (!qemuDriverCopyCheckTarget(disk, mirror, p->reuse, &existing, error))
        return FALSE;
    /* No format given: a new destination takes the disk's; a reused local one is read
     * from its header, as libvirt 9.0 does (the user vouches for the file by reusing it). */
    if (mirror->format == QVIR_STORAGE_FILE_NONE && !p->reuse)
        mirror->format = disk->src->format;
    else if (mirror->format == QVIR_STORAGE_FILE_NONE &&
             (mirror->type == QVIR_STORAGE_TYPE_FILE || mirror->type == QVIR_STORAGE_TYPE_BLOCK))
        mirror->format = qvirStorageProbeFileFormat(mirror->path, NULL);
    if (!(caps = qemuDriverGetCaps(
              drv, live->live->emulator ? live->live->emulator : drv->cfg->emulator, error)))
        return FALSE;

    /* The destination's chain: below a new shallow copy the disk's own backing layers
     * (QEMU has them: same nodes); a reused copy's from its images, which a shallow one
     * opens at the pivot as libvirt 9.0 does; a new full one ends there. */
    qvirStorageSourceChainClear(mirror);
    if (shallow && !p->reuse) {
        mirror->backingStore = qvirStorageSourceCopy(disk->src->backingStore);
    } else if (p->reuse) {
        (void)qemuDriverHotplugOpts(drv, &cfg);
        cfg.diskName = disk->dst;
        if (!qvirStorageChainProbe(mirror, &cfg, error))
            return FALSE;
        jobOpts.shallowReused = shallow;
        backingAtPivot = shallow && qvirStorageSourceIsBacking(mirror->backingStore);
        shallow = FALSE; /* the layers below are the destination's own */
    } else {
        mirror->backingStore = qvirStorageSourceNew();
    }
    if (mirror->format == QVIR_STORAGE_FILE_NONE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: reused mirror destination format must be "
                    "specified");
        return FALSE;
    }
    mirror->readonly = FALSE;
    mirror->shared = disk->src->shared;
    /* a new destination has the disk's size (a reused one was probed) */
    if ((!p->reuse || !mirror->capacity) &&
        !qemuSnapshotTopSize(live->mon, disk->src, &mirror->capacity, error))
        return FALSE;
    view.src = mirror;
    next = MAX(qemuDomainNextNodeIndex(live->live), qemuBlockJobsMirrorMaxIndex(live->jobs) + 1);
    qemuDomainPrepareDiskChainNodeNames(&view, &next);

    u.mon = live->mon;
    u.security = drv->security;
    u.own = mirror;
    u.stop = shallow || backingAtPivot ? mirror->backingStore : NULL;
    u.chainLabelled = backingAtPivot;
    if (!existing) {
        if (!qemuDriverCopyCreateFile(disk, mirror, error))
            return FALSE;
        u.created = TRUE;
    }
    /* QEMU's user gets the destination before QEMU opens it. */
    if (shallow || !existing
            ? !qvirSecurityDACSetImageLabel(drv->security, disk->dst, mirror, TRUE, error)
            : !qvirSecurityDACSetChainLabel(drv->security, &view, mirror, error))
        goto fail;
    u.labelled = TRUE;
    qemuDomainObjLock(live->obj);
    pid = live->obj->proc ? qemuProcessGetPid(live->obj->proc) : 0;
    qemuDomainObjUnlock(live->obj);
    if (!qemuNamespaceAddChain(pid, mirror, error))
        goto fail;
    if (!existing || shallow) {
        if (!qemuDriverCopyCreateTop(live->mon, caps, &view, disk, &u, error))
            goto fail;
    } else if (backingAtPivot) {
        /* the top alone, over "backing": null until the pivot */
        qvirStorageSource *below = g_steal_pointer(&mirror->backingStore);
        gboolean added;

        mirror->backingStore = qvirStorageSourceNew();
        added = qemuHotplugBlockdevAddLayers(live->mon, caps, &view, mirror, NULL, error);
        qvirStorageSourceFree(mirror->backingStore);
        mirror->backingStore = below;
        if (!added)
            goto fail;
        u.addedAll = TRUE;
    } else {
        if (!qemuHotplugBlockdevAddLayers(live->mon, caps, &view, mirror, NULL, error))
            goto fail;
        u.addedAll = TRUE;
    }
    if (!qemuDriverDiskFileSave(drv, live->obj->name, "mirror", &view, error))
        goto fail;
    if (!qemuBlockJobCopy(live->jobs, live->mon, (qvirDomainDef *)live->live, disk, &owned,
                          &jobOpts, error)) {
        g_autofree char *path = qemuDriverMirrorPath(drv, live->obj->name, disk->dst);

        (void)g_remove(path);
        goto fail;
    }
    return TRUE;

fail:
    qemuDriverCopyRollback(&u);
    return FALSE;
}

static gboolean
qemuDriverBlockCopy(qvirDriver *drv, const unsigned char *uuid, const char *path,
                    qvirStorageSource *mirror, const qemuDriverCopyParams *p, GError **error)
{
    g_autoptr(qvirStorageSource) owned = mirror;
    qemuDriverLive live;
    qvirDomainDiskDef *disk;
    gboolean ok = FALSE;

    if (!qemuDriverLiveBegin(drv, uuid, QEMU_JOB_MODIFY, &live, error))
        return FALSE;
    if ((disk = qemuDriverDiskByName(live.live, path, error)))
        ok = qemuDriverCopyStart(drv, &live, disk, g_steal_pointer(&owned), p, error);
    qemuDriverLiveEnd(&live);
    return ok;
}

static gboolean
qemuDriverDomainBlockCopyImpl(qvirDriver *drv, const unsigned char *uuid, const char *path,
                              const char *destxml, unsigned long long bandwidth,
                              unsigned int granularity, unsigned long long bufSize,
                              unsigned int flags, GError **error)
{
    g_autoptr(qvirDomainDiskDef) dest = NULL;
    qemuDriverCopyParams p = {0};

    if (!qvirCheckFlags(flags,
                        QEMU_BLOCK_COPY_SHALLOW | QEMU_BLOCK_COPY_REUSE_EXT |
                            QEMU_BLOCK_COPY_TRANSIENT_JOB | QEMU_BLOCK_COPY_SYNCHRONOUS_WRITES,
                        "qvirDriverDomainBlockCopy", error))
        return FALSE;
    if (granularity && (granularity & (granularity - 1)) != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: granularity must be power of 2");
        return FALSE;
    }
    if (bandwidth > (unsigned long long)G_MAXINT64) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: bandwidth must be less than '%llu' bytes/s (%llu MiB/s)",
                    (unsigned long long)G_MAXINT64, (unsigned long long)G_MAXINT64 >> 20);
        return FALSE;
    }
    if (!destxml ||
        !(dest = qvirDomainDiskDefParseString(destxml, QVIR_DOMAIN_DEF_PARSE_DISK_SOURCE, error)))
        return FALSE;
    if (!qvirStorageSourceIsBacking(dest->src) || !dest->src->path ||
        (dest->src->type != QVIR_STORAGE_TYPE_FILE && dest->src->type != QVIR_STORAGE_TYPE_BLOCK)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: block copy destination must be a file or a "
                    "block device");
        return FALSE;
    }
    p.shallow = (flags & QEMU_BLOCK_COPY_SHALLOW) != 0;
    p.reuse = (flags & QEMU_BLOCK_COPY_REUSE_EXT) != 0;
    p.transientJob = (flags & QEMU_BLOCK_COPY_TRANSIENT_JOB) != 0;
    p.job.bandwidth = bandwidth;
    p.job.granularity = granularity;
    p.job.bufSize = bufSize;
    p.job.syncWrites = (flags & QEMU_BLOCK_COPY_SYNCHRONOUS_WRITES) != 0;
    return qemuDriverBlockCopy(drv, uuid, path, g_steal_pointer(&dest->src), &p, error);
}

gboolean
qvirDriverDomainBlockCopy(qvirDriver *drv, const unsigned char *uuid, const char *path,
                          const char *destxml, unsigned long long bandwidth,
                          unsigned int granularity, unsigned long long bufSize, unsigned int flags,
                          GError **error)
{
    return qemuDriverDiskResult(qemuDriverDomainBlockCopyImpl(drv, uuid, path, destxml, bandwidth,
                                                              granularity, bufSize, flags, error),
                                error);
}

/* virDomainBlockRebase with COPY: the destination is BASE, a file (or block device). */
static gboolean
qemuDriverRebaseCopy(qvirDriver *drv, const unsigned char *uuid, const char *path, const char *base,
                     unsigned long bandwidth, unsigned int flags, GError **error)
{
    qemuDriverCopyParams p = {0};
    qvirStorageSource *mirror;

    if (flags & QEMU_BLOCK_REBASE_RELATIVE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: Relative backing during copy not supported yet");
        return FALSE;
    }
    if (!base) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: destination of a block copy is required");
        return FALSE;
    }
    if (!qemuDriverBandwidthBytes(bandwidth, (flags & QEMU_BLOCK_REBASE_BANDWIDTH_BYTES) != 0,
                                  &p.job.bandwidth, error))
        return FALSE;
    mirror = qvirStorageSourceNew();
    mirror->type =
        (flags & QEMU_BLOCK_REBASE_COPY_DEV) ? QVIR_STORAGE_TYPE_BLOCK : QVIR_STORAGE_TYPE_FILE;
    mirror->path = g_strdup(base);
    if (flags & QEMU_BLOCK_REBASE_COPY_RAW)
        mirror->format = QVIR_STORAGE_FILE_RAW;
    p.shallow = (flags & QEMU_BLOCK_REBASE_SHALLOW) != 0;
    p.reuse = (flags & QEMU_BLOCK_REBASE_REUSE_EXT) != 0;
    /* the rebase API has no TRANSIENT_JOB: a persistent domain is refused, as in libvirt */
    return qemuDriverBlockCopy(drv, uuid, path, mirror, &p, error);
}

/* ---- after a daemon restart -------------------------------------------------------- */

void
qemuDriverReconnectBlockJobs(qvirDriver *drv, qemuDomainObj *obj)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    qemuMonitor *mon = NULL;
    qemuBlockJobs *jobs = NULL;
    qvirDomainDef *work;
    gboolean settled;

    qemuDomainObjLock(obj);
    if (obj->proc && obj->liveDef) {
        mon = qemuProcessGetMonitor(obj->proc);
        jobs = obj->blockJobs;
    }
    qemuDomainObjUnlock(obj);
    if (!mon || !jobs || !(work = qemuDriverLiveCopy(obj, &err))) {
        if (err)
            g_message("domain '%s': %s", obj->name, err->message);
        return;
    }
    /* Jobs QEMU still runs are adopted; ones that ended unseen edit the chain now. */
    qemuDriverMirrorFilesLoad(drv, obj, jobs, work);
    settled = qemuBlockJobsReconnect(jobs, mon, work, &err);
    if (!settled)
        g_message("domain '%s': block jobs after restart: %s", obj->name, err->message);
    before = qvirDomainDefFormat(obj->liveDef, QVIR_DOMAIN_DEF_FORMAT_STATUS);
    after = qvirDomainDefFormat(work, QVIR_DOMAIN_DEF_FORMAT_STATUS);
    if (g_strcmp0(before, after) == 0)
        qvirDomainDefFree(work);
    else
        qemuDriverLiveCommit(drv, obj, work);
    /* The status file has the chains QEMU has now: a snapshot's saved chain is settled. */
    if (settled)
        qemuDriverSnapshotIntentsRemove(drv, obj->name, obj->liveDef);
    qemuDriverMirrorFilesSync(drv, obj, jobs);
    (void)qemuDriverApplyBlockJobs(drv, obj, mon, jobs);
}
