/*
 * qemu_driver.c: the driver behind the RPC layer: domain definitions, their lifecycle on
 * QEMU, status files, and recovery after a daemon restart.
 *
 * Files:
 *   defsDir/NAME.xml    persistent (inactive) definition
 *   statusDir/NAME.xml  live status of a running domain: pid, monitor, live definition
 *                       with every disk's cached chain, so a restarted daemon restores the
 *                       chains without reading an image header.
 * Both are written with qvirFileWriteAtomic: a crash leaves the old or the new file.
 */
#define G_LOG_DOMAIN "qvirt-driver"

#include "qemu/qemu_driver.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <glib/gstdio.h>

#include "conf/domain_validate.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_command.h"
#include "qemu/qemu_domain.h"
#include "qemu/qemu_domcaps.h"
#include "qemu/qemu_domainobj.h"
#include "qemu/qemu_hotplug.h"
#include "qemu/qemu_driverpriv.h"
#include "qemu/qemu_namespace.h"
#include "qemu/qemu_postparse.h"
#include "qemu/qemu_process.h"
#include "qemu/qemu_snapshot.h"
#include "storage/storage_chain.h"
#include "storage/storage_driver.h"
#include "util/virerror.h"
#include "util/virfile.h"
#include "util/virthreadjob.h"

/* libvirt-domain.h flag values we accept. */
#define QEMU_DEFINE_VALIDATE (1u << 0)
#define QEMU_START_PAUSED (1u << 0)
#define QEMU_START_AUTODESTROY (1u << 1)
#define QEMU_START_BYPASS_CACHE (1u << 2)
#define QEMU_START_FORCE_BOOT (1u << 3)
#define QEMU_START_VALIDATE (1u << 4)
#define QEMU_DESTROY_GRACEFUL (1u << 0)
#define QEMU_DESTROY_REMOVE_LOGS (1u << 1)
#define QEMU_XML_SECURE (1u << 0)
#define QEMU_XML_INACTIVE (1u << 1)
#define QEMU_XML_UPDATE_CPU (1u << 2)
#define QEMU_XML_MIGRATABLE (1u << 3)
#define QEMU_UNDEFINE_MANAGED_SAVE (1u << 0)
#define QEMU_UNDEFINE_SNAPSHOTS_METADATA (1u << 1)
#define QEMU_UNDEFINE_ALL_FLAGS 0x7fu

#define QEMU_LIST_ACTIVE (1u << 0)
#define QEMU_LIST_INACTIVE (1u << 1)
#define QEMU_LIST_PERSISTENT (1u << 2)
#define QEMU_LIST_TRANSIENT (1u << 3)
#define QEMU_LIST_RUNNING (1u << 4)
#define QEMU_LIST_PAUSED (1u << 5)
#define QEMU_LIST_SHUTOFF (1u << 6)
#define QEMU_LIST_OTHER (1u << 7)
#define QEMU_LIST_MANAGEDSAVE (1u << 8)
#define QEMU_LIST_NO_MANAGEDSAVE (1u << 9)
#define QEMU_LIST_AUTOSTART (1u << 10)
#define QEMU_LIST_NO_AUTOSTART (1u << 11)
#define QEMU_LIST_HAS_SNAPSHOT (1u << 12)
#define QEMU_LIST_NO_SNAPSHOT (1u << 13)
#define QEMU_LIST_HAS_CHECKPOINT (1u << 14)
#define QEMU_LIST_NO_CHECKPOINT (1u << 15)
#define QEMU_LIST_ALL_FLAGS 0xffffu

typedef enum {
    QEMU_DRIVER_TASK_EXIT = 0,       /* QEMU went away on its own (guest power-off included:
                                      * the process layer ends QEMU after SHUTDOWN) */
    QEMU_DRIVER_TASK_STOP,           /* QMP STOP */
    QEMU_DRIVER_TASK_RESUME,         /* QMP RESUME */
    QEMU_DRIVER_TASK_BLOCKJOBS,      /* a block job changed state: apply it to the chain */
    QEMU_DRIVER_TASK_DEVICE_DELETED, /* QEMU released a device (a pending detach) */
    QEMU_DRIVER_TASK_SHUTDOWN,       /* the guest powered off (QMP SHUTDOWN, guest=true) */
} qemuDriverTaskKind;

typedef struct {
    qemuDomainObj *obj;
    guint64 gen;
    qemuDriverTaskKind kind;
    qemuProcessExitReason reason;
    char *alias; /* DEVICE_DELETED */
} qemuDriverTask;

void
qvirDomainRefFree(qvirDomainRef *ref)
{
    if (!ref)
        return;
    g_free(ref->name);
    g_free(ref);
}

const qvirDriverConfig *
qvirDriverGetConfig(qvirDriver *drv)
{
    return drv->cfg;
}

guint64
qvirDriverGetProbeCount(qvirDriver *drv)
{
    return qvirStorageProbeCounter();
}

/* ---- events ----------------------------------------------------------------------- */

void
qvirDriverSetLifecycleEventCallback(qvirDriver *drv, qvirDriverLifecycleEventFunc cb,
                                    gpointer opaque)
{
    g_mutex_lock(&drv->eventLock);
    drv->lifecycleEventCb = cb;
    drv->lifecycleEventOpaque = opaque;
    g_mutex_unlock(&drv->eventLock);
}

void
qemuDriverEmitLifecycle(qvirDriver *drv, qemuDomainObj *obj, int event, int detail)
{
    g_autoptr(qvirDomainRef) ref = qemuDriverMakeRef(obj);

    /* Held while calling out, so the RPC layer can unregister and free OPAQUE safely. */
    g_mutex_lock(&drv->eventLock);
    if (drv->lifecycleEventCb)
        drv->lifecycleEventCb(drv, ref, event, detail, drv->lifecycleEventOpaque);
    g_mutex_unlock(&drv->eventLock);
}

/* virDomainEventStoppedDetailType for a shutoff reason. */
static int
qemuDriverStoppedDetail(int shutoffReason)
{
    switch (shutoffReason) {
    case QEMU_DOMAIN_SHUTOFF_DESTROYED:
        return 1;
    case QEMU_DOMAIN_SHUTOFF_CRASHED:
        return 2;
    case QEMU_DOMAIN_SHUTOFF_MIGRATED:
        return 3;
    case QEMU_DOMAIN_SHUTOFF_SAVED:
        return 4;
    case QEMU_DOMAIN_SHUTOFF_FAILED:
        return 5;
    default:
        return 0; /* shutdown */
    }
}

/* ---- helpers -------------------------------------------------------------------- */

qvirDomainRef *
qemuDriverMakeRef(qemuDomainObj *obj)
{
    qvirDomainRef *ref = g_new0(qvirDomainRef, 1);

    ref->name = g_strdup(obj->name);
    memcpy(ref->uuid, obj->uuid, QVIR_UUID_BUFLEN);
    qemuDomainObjLock(obj);
    ref->id = qemuDomainObjIsActive(obj) ? obj->id : -1;
    qemuDomainObjUnlock(obj);
    return ref;
}

static void
qemuDriverNoDomainUUID(const unsigned char *uuid, GError **error)
{
    char uuidstr[QVIR_UUID_STRING_BUFLEN];

    qvirUUIDFormat(uuid, uuidstr);
    g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_DOMAIN,
                "Domain not found: no domain with matching uuid '%s'", uuidstr);
}

qemuDomainObj *
qemuDriverGetObj(qvirDriver *drv, const unsigned char *uuid, GError **error)
{
    qemuDomainObj *obj;

    if (!uuid) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "invalid argument: no uuid");
        return NULL;
    }
    if (!(obj = qemuDomainObjListFindByUUID(drv->domains, uuid)))
        qemuDriverNoDomainUUID(uuid, error);
    return obj;
}

/* Begin a job on OBJ and make sure it is still listed (an undefine may have raced). */
gboolean
qemuDriverBeginJob(qemuDomainObj *obj, qemuDomainJob job, GError **error)
{
    gboolean removed;

    if (!qemuDomainObjBeginJob(obj, job, QEMU_DOMAIN_JOB_WAIT_MS, error))
        return FALSE;
    qemuDomainObjLock(obj);
    removed = obj->removed;
    qemuDomainObjUnlock(obj);
    if (removed) {
        qemuDomainObjEndJob(obj);
        qemuDriverNoDomainUUID(obj->uuid, error);
        return FALSE;
    }
    return TRUE;
}

void
qemuDriverErrorNotRunning(GError **error)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                "Requested operation is not valid: domain is not running");
}

static void
qemuDriverErrorRunning(GError **error)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                "Requested operation is not valid: domain is already running");
}

static char *
qemuDriverDefPath(qvirDriver *drv, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(drv->cfg->defsDir, file, NULL);
}

static char *
qemuDriverStatusPath(qvirDriver *drv, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(drv->cfg->statusDir, file, NULL);
}

/* Labels taken by a start whose status file is not written yet (not "*.xml": the status
 * loader passes over it). */
static char *
qemuDriverLabelJournalPath(qvirDriver *drv, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.labels", name);

    return g_build_filename(drv->cfg->statusDir, file, NULL);
}

char *
qemuDriverDomainDir(qvirDriver *drv, int id, const char *name)
{
    g_autofree char *dir = g_strdup_printf("domain-%d-%s", id, name);

    return g_build_filename(drv->cfg->stateDir, "qemu", dir, NULL);
}

static gboolean
qemuDriverUnlink(const char *path, GError **error)
{
    if (g_unlink(path) < 0 && errno != ENOENT) {
        int saved = errno;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot remove '%s': %s", path,
                    g_strerror(saved));
        return FALSE;
    }
    return TRUE;
}

/* Remove a per-domain scratch directory and what QEMU left in it (one level deep). */
static void
qemuDriverRemoveDir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;

    if (!d)
        return;
    while ((entry = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, entry, NULL);
        (void)g_remove(path); /* files, and the empty stage of QEMU's private /dev */
    }
    (void)g_rmdir(dir);
}

/* ---- capabilities --------------------------------------------------------------- */

/* What we know of one emulator binary; replaced when the binary changes on disk. */
typedef struct {
    qemuCaps *caps;
    gint64 mtime;
    goffset size;
} qemuDriverCapsEntry;

static void
qemuDriverCapsEntryFree(qemuDriverCapsEntry *entry)
{
    /* Callers may still use an older entry's caps: retired ones live until close. */
    g_free(entry);
}

const qemuCaps *
qemuDriverGetCaps(qvirDriver *drv, const char *emulator, GError **error)
{
    qemuDriverCapsEntry *entry;
    GStatBuf st;
    gboolean haveStat = g_stat(emulator, &st) == 0;
    qemuCaps *caps;

    g_mutex_lock(&drv->capsLock);
    entry = g_hash_table_lookup(drv->caps, emulator);
    if (entry &&
        (!haveStat || (entry->mtime == (gint64)st.st_mtime && entry->size == st.st_size))) {
        caps = entry->caps;
        g_mutex_unlock(&drv->capsLock);
        return caps;
    }
    /* Held across the probe on purpose: two starts of a new binary probe it once. */
    if ((caps = qemuCapsCacheLookup(emulator, drv->cfg->cacheDir, error))) {
        entry = g_new0(qemuDriverCapsEntry, 1);
        entry->caps = caps;
        entry->mtime = haveStat ? (gint64)st.st_mtime : 0;
        entry->size = haveStat ? st.st_size : 0;
        g_ptr_array_add(drv->allCaps, caps);
        g_hash_table_insert(drv->caps, g_strdup(emulator), entry);
    }
    g_mutex_unlock(&drv->capsLock);
    return caps;
}

static const char *
qemuDriverDefEmulator(qvirDriver *drv, const qvirDomainDef *def)
{
    return def->emulator ? def->emulator : drv->cfg->emulator;
}

/* Parse and check a definition as define/create/domxml-to-native get it. */
qvirDomainDef *
qemuDriverParseDef(qvirDriver *drv, const char *xml, GError **error)
{
    g_autoptr(qvirDomainDef) def = NULL;
    const qemuCaps *caps;

    if (!xml) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "invalid argument: no XML");
        return NULL;
    }
    if (!(def = qvirDomainDefParseString(xml, 0, error)))
        return NULL;
    if (!def->emulator)
        def->emulator = g_strdup(drv->cfg->emulator);
    if (!(caps = qemuDriverGetCaps(drv, def->emulator, error)))
        return NULL;
    /* What libvirt stores at define: canonical machine, defaults, implicit devices,
     * addresses. As in libvirt, this comes before validation, so a domain that fails
     * both gets the same error. */
    if (!qemuDomainDefPostParse(def, caps, drv->cfg->emulator, error) ||
        !qvirDomainDefValidate(def, error) || !qemuValidateDomainDef(def, caps, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* ---- status file ---------------------------------------------------------------- */

/* With the job held. */
gboolean
qemuDriverWriteStatus(qvirDriver *drv, qemuDomainObj *obj, GError **error)
{
    g_autofree char *path = qemuDriverStatusPath(drv, obj->name);
    g_autofree char *xml = NULL;

    qemuDomainObjLock(obj);
    if (!obj->liveDef || !obj->proc) {
        qemuDomainObjUnlock(obj);
        return TRUE;
    }
    xml = qemuDomainStatusFormat(obj->state, obj->reason, qemuProcessGetPid(obj->proc),
                                 qemuProcessGetMonitorPath(obj->proc), obj->liveDef);
    qemuDomainObjUnlock(obj);
    return qvirFileWriteAtomic(path, xml, strlen(xml), 0600, error);
}

/* ---- process handles -------------------------------------------------------------- */

/* What a process handle's callbacks get: the driver and a reference to the object. */
typedef struct {
    qvirDriver *drv;
    qemuDomainObj *obj;
} qemuDriverProcCtx;

static qemuDriverProcCtx *
qemuDriverProcCtxNew(qvirDriver *drv, qemuDomainObj *obj)
{
    qemuDriverProcCtx *ctx = g_new0(qemuDriverProcCtx, 1);

    ctx->drv = drv;
    ctx->obj = qemuDomainObjRef(obj);
    return ctx;
}

static void
qemuDriverProcCtxFree(qemuDriverProcCtx *ctx)
{
    if (!ctx)
        return;
    qemuDomainObjUnref(ctx->obj);
    g_free(ctx);
}

static void
qemuDriverQueueTaskFull(qvirDriver *drv, qemuDomainObj *obj, guint64 gen, qemuDriverTaskKind kind,
                        qemuProcessExitReason reason, const char *alias)
{
    qemuDriverTask *task = g_new0(qemuDriverTask, 1);

    task->obj = qemuDomainObjRef(obj);
    task->gen = gen;
    task->kind = kind;
    task->reason = reason;
    task->alias = g_strdup(alias);
    g_thread_pool_push(drv->workers, task, NULL);
}

static void
qemuDriverQueueTask(qvirDriver *drv, qemuDomainObj *obj, guint64 gen, qemuDriverTaskKind kind,
                    qemuProcessExitReason reason)
{
    qemuDriverQueueTaskFull(drv, obj, gen, kind, reason, NULL);
}

/* Runs on a process/monitor thread: only record and hand over. */
static void
qemuDriverProcExited(qemuProcess *proc, qemuProcessExitReason reason, gpointer opaque)
{
    qemuDriverProcCtx *ctx = opaque;
    qemuDomainObj *obj = ctx->obj;

    qemuDomainObjLock(obj);
    if (obj->proc == proc) {
        qemuDriverQueueTask(ctx->drv, obj, obj->procGen, QEMU_DRIVER_TASK_EXIT, reason);
    } else if (obj->attaching && !obj->proc) {
        /* The start or reconnect that owns PROC has not published it yet. */
        obj->exitPending = TRUE;
        obj->exitPendingReason = reason;
    }
    qemuDomainObjUnlock(obj);
}

static void
qemuDriverProcEvent(qemuProcess *proc, const char *name, JsonObject *data, gpointer opaque)
{
    qemuDriverProcCtx *ctx = opaque;
    qemuDomainObj *obj = ctx->obj;
    g_autoptr(GPtrArray) thresholds =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuDriverThresholdEventFree);

    qemuDomainObjLock(obj);
    if (obj->proc != proc) {
        qemuDomainObjUnlock(obj);
        return;
    }
    /* Block job and DEVICE_DELETED bookkeeping only records (never talks to QEMU), so it
     * is safe here; the chain edit itself runs on a worker. */
    if (obj->blockJobs && qemuBlockJobsHandleEvent(obj->blockJobs, name, data))
        qemuDriverQueueTask(ctx->drv, obj, obj->procGen, QEMU_DRIVER_TASK_BLOCKJOBS, 0);
    if (g_strcmp0(name, "SHUTDOWN") == 0 && data && json_object_has_member(data, "guest") &&
        json_object_get_boolean_member(data, "guest")) {
        /* As libvirt: state "in shutdown" (so the STOP that -no-shutdown brings is not a
         * suspend) and a SHUTDOWN/GUEST lifecycle event, before the STOPPED one. */
        obj->guestShutdown = TRUE;
        obj->shutdownEventPending = TRUE;
        obj->state = QVIR_DOMAIN_SHUTDOWN;
        obj->reason = 0; /* VIR_DOMAIN_SHUTDOWN_UNKNOWN */
        qemuDriverQueueTask(ctx->drv, obj, obj->procGen, QEMU_DRIVER_TASK_SHUTDOWN, 0);
    } else if (g_strcmp0(name, "STOP") == 0) {
        qemuDriverQueueTask(ctx->drv, obj, obj->procGen, QEMU_DRIVER_TASK_STOP, 0);
    } else if (g_strcmp0(name, "RESUME") == 0) {
        qemuDriverQueueTask(ctx->drv, obj, obj->procGen, QEMU_DRIVER_TASK_RESUME, 0);
    } else if (g_strcmp0(name, "BALLOON_CHANGE") == 0 && data &&
               json_object_has_member(data, "actual") && obj->liveDef) {
        /* as libvirt: the live <currentMemory> follows what the guest gave back */
        obj->liveDef->currentMemoryKiB =
            (unsigned long long)json_object_get_int_member(data, "actual") / 1024;
    } else if (g_strcmp0(name, "DEVICE_DELETED") == 0 && data &&
               json_object_has_member(data, "device")) {
        const char *alias = json_object_get_string_member(data, "device");

        if (alias)
            qemuDriverQueueTaskFull(ctx->drv, obj, obj->procGen, QEMU_DRIVER_TASK_DEVICE_DELETED, 0,
                                    alias);
    } else if (g_strcmp0(name, "BLOCK_WRITE_THRESHOLD") == 0 && data) {
        qemuDriverBlockThresholdRecord(obj, data, thresholds);
    }
    qemuDomainObjUnlock(obj);
    /* only sends (the clients' queues): no need to hand it to a worker */
    qemuDriverBlockThresholdEmit(ctx->drv, obj, thresholds);
}

static const qemuProcessCallbacks qemuDriverProcCallbacks = {
    .exited = qemuDriverProcExited,
    .event = qemuDriverProcEvent,
};

/* Publish a started or reconnected process on OBJ (job held). */
static void
qemuDriverAttachProcess(qvirDriver *drv, qemuDomainObj *obj, qemuProcess *proc,
                        qemuDriverProcCtx *ctx, qvirDomainDef *live, int state, int reason)
{
    qemuDomainObjLock(obj);
    obj->proc = proc;
    obj->procCtx = ctx;
    obj->procGen++;
    obj->guestShutdown = FALSE;
    obj->shutdownEventPending = FALSE;
    if (!obj->blockJobs) {
        obj->blockJobs = qemuBlockJobsNew();
        qemuBlockJobsSetSecurity(obj->blockJobs, drv->security);
    }
    obj->liveDef = live;
    obj->id = live->id;
    obj->state = state;
    obj->reason = reason;
    obj->attaching = FALSE;
    if (obj->exitPending) {
        obj->exitPending = FALSE;
        qemuDriverQueueTask(drv, obj, obj->procGen, QEMU_DRIVER_TASK_EXIT, obj->exitPendingReason);
    }
    qemuDomainObjUnlock(obj);
}

/*
 * Detach the process handle from OBJ (job held) and free it, then its callback context:
 * after qemuProcessFree no callback runs any more, so dropping the context is safe.
 * Bumping the generation makes queued reports about this process no-ops.
 */
static void
qemuDriverReleaseProcess(qemuDomainObj *obj)
{
    qemuProcess *proc;
    qemuDriverProcCtx *ctx;
    qemuBlockJobs *jobs;

    qemuDomainObjLock(obj);
    proc = g_steal_pointer(&obj->proc);
    ctx = g_steal_pointer(&obj->procCtx);
    /* Events reach the table only under the object's mutex: none can use it now. */
    jobs = g_steal_pointer(&obj->blockJobs);
    obj->procGen++;
    qemuDomainObjUnlock(obj);
    if (proc)
        qemuProcessFree(proc);
    qemuDriverProcCtxFree(ctx);
    qemuBlockJobsFree(jobs);
}

/*
 * What a stop leaves behind, job held and the process released: the live definition
 * with its cached chains is freed, the status file removed, and a transient domain
 * leaves the list (when REMOVETRANSIENT).
 */
static void
qemuDriverStopCleanup(qvirDriver *drv, qemuDomainObj *obj, int reason, gboolean removeTransient)
{
    g_autofree char *statusPath = qemuDriverStatusPath(drv, obj->name);
    g_autofree char *journalPath = qemuDriverLabelJournalPath(drv, obj->name);
    g_autofree char *domainDir = NULL;
    g_autoptr(GError) err = NULL;
    qvirDomainDef *live;
    gboolean transient;

    /* The guest's writes to <transient/> disks go with the process (libvirt: at stop),
     * before anyone can see the domain shut off. The job is held: the live definition
     * stays as it is. */
    qemuDomainObjLock(obj);
    live = obj->liveDef;
    qemuDomainObjUnlock(obj);
    qemuSnapshotRemoveTransientOverlays(live);

    qemuDomainObjLock(obj);
    live = g_steal_pointer(&obj->liveDef);
    domainDir = qemuDriverDomainDir(drv, obj->id, obj->name);
    obj->id = -1;
    obj->state = QVIR_DOMAIN_SHUTOFF;
    obj->reason = reason;
    obj->taintCustomMonitor = FALSE;
    transient = obj->def == NULL;
    qemuDomainObjUnlock(obj);

    /* QEMU is gone: every file of the chain as it is now goes back to its owner. The
     * status file goes first: a daemon killed in between leaves a reference behind,
     * rather than dropping one that another domain holds when it restores again. */
    if (!qemuDriverUnlink(statusPath, &err))
        g_message("domain '%s': %s", obj->name, err->message);
    (void)g_unlink(journalPath);
    qemuDriverMirrorFilesRelease(drv, obj->name, live);
    qvirSecurityDACRestoreDomainLabel(drv->security, live);
    qvirDomainDefFree(live);
    qemuDriverRemoveDir(domainDir);
    if (transient && removeTransient) {
        qemuDriverDiscardSnapshots(drv, obj);
        qemuDomainObjListRemove(drv->domains, obj);
    }
    /* A start that is rolled back was never announced, so its end is not either. */
    if (removeTransient)
        qemuDriverEmitLifecycle(drv, obj, QEMU_EVENT_STOPPED, qemuDriverStoppedDetail(reason));
}

static int
qemuDriverExitReasonToShutoff(qemuProcessExitReason reason)
{
    switch (reason) {
    case QEMU_PROCESS_EXIT_SHUTDOWN:
        return QEMU_DOMAIN_SHUTOFF_SHUTDOWN;
    case QEMU_PROCESS_EXIT_DESTROYED:
        return QEMU_DOMAIN_SHUTOFF_DESTROYED;
    case QEMU_PROCESS_EXIT_CRASHED:
    default:
        return QEMU_DOMAIN_SHUTOFF_CRASHED;
    }
}

/* ---- the worker: exits and events --------------------------------------------- */

static void
qemuDriverTaskFree(qemuDriverTask *task)
{
    qemuDomainObjUnref(task->obj);
    g_free(task->alias);
    g_free(task);
}

static void
qemuDriverTaskUpdateState(qvirDriver *drv, qemuDomainObj *obj, qemuDriverTaskKind kind)
{
    g_autoptr(GError) err = NULL;
    gboolean changed = FALSE;

    qemuDomainObjLock(obj);
    if (kind == QEMU_DRIVER_TASK_STOP && obj->state == QVIR_DOMAIN_RUNNING) {
        obj->state = QVIR_DOMAIN_PAUSED;
        obj->reason = QEMU_DOMAIN_PAUSED_UNKNOWN;
        changed = TRUE;
    } else if (kind == QEMU_DRIVER_TASK_RESUME && obj->state == QVIR_DOMAIN_PAUSED) {
        obj->state = QVIR_DOMAIN_RUNNING;
        obj->reason = QEMU_DOMAIN_RUNNING_UNPAUSED;
        changed = TRUE;
    }
    qemuDomainObjUnlock(obj);
    if (!changed)
        return;
    if (!qemuDriverWriteStatus(drv, obj, &err))
        g_message("domain '%s': %s", obj->name, err->message);
    qemuDriverEmitLifecycle(
        drv, obj, kind == QEMU_DRIVER_TASK_STOP ? QEMU_EVENT_SUSPENDED : QEMU_EVENT_RESUMED, 0);
}

static gboolean qemuDriverStartDomain(qvirDriver *drv, qemuDomainObj *obj, qvirDomainDef *live,
                                      unsigned int flags, const qemuDriverRestore *restore,
                                      GError **error);

/* libvirt's VIR_DOMAIN_EVENT_SHUTDOWN (6) / _GUEST (1) once for a guest power-off (job held). */
#define QEMU_EVENT_SHUTDOWN 6
static void
qemuDriverEmitGuestShutdown(qvirDriver *drv, qemuDomainObj *obj)
{
    gboolean pending;

    qemuDomainObjLock(obj);
    pending = obj->shutdownEventPending;
    obj->shutdownEventPending = FALSE;
    qemuDomainObjUnlock(obj);
    if (pending)
        qemuDriverEmitLifecycle(drv, obj, QEMU_EVENT_SHUTDOWN, 1 /* guest */);
}

/*
 * QEMU went away (job held). After a virDomainReboot whose guest powered off, the domain is
 * started again from the definition it would start with (libvirt resets the same QEMU; our
 * process layer ends QEMU at the guest's SHUTDOWN, so a new one is started).
 */
static void
qemuDriverHandleExit(qvirDriver *drv, qemuDomainObj *obj, qemuProcessExitReason reason)
{
    g_autoptr(GError) err = NULL;
    qvirDomainDef *restart = NULL;
    int shutoff = qemuDriverExitReasonToShutoff(reason);

    qemuDriverEmitGuestShutdown(drv, obj);
    qemuDomainObjLock(obj);
    /* Only the guest's own power-off completes a reboot; QEMU ended by a signal does not. */
    if (obj->rebootPending && obj->guestShutdown && reason == QEMU_PROCESS_EXIT_SHUTDOWN)
        restart = qvirDomainDefCopy(obj->def ? obj->def : obj->liveDef, 0, &err);
    obj->rebootPending = FALSE;
    obj->guestShutdown = FALSE;
    qemuDomainObjUnlock(obj);

    qemuDriverReleaseProcess(obj);
    /* A transient domain being rebooted stays listed. */
    qemuDriverStopCleanup(drv, obj, shutoff, restart == NULL);
    if (!restart) {
        if (err)
            g_message("domain '%s': no restart after reboot: %s", obj->name, err->message);
        return;
    }
    qemuDriverEmitLifecycle(drv, obj, QEMU_EVENT_STOPPED, qemuDriverStoppedDetail(shutoff));
    if (!qemuDriverStartDomain(drv, obj, restart, 0, NULL, &err)) {
        gboolean transient;

        g_message("domain '%s': restart after reboot failed: %s", obj->name, err->message);
        qemuDomainObjLock(obj);
        transient = obj->def == NULL;
        qemuDomainObjUnlock(obj);
        if (transient)
            qemuDomainObjListRemove(drv->domains, obj);
    }
}

static void
qemuDriverWorker(gpointer data, gpointer userData)
{
    qemuDriverTask *task = data;
    qvirDriver *drv = userData;
    qemuDomainObj *obj = task->obj;
    gboolean current;

    /* libvirt's event worker pool's name: the owner its jobs show */
    qvirThreadJobSetWorker("qemu-event");
    /* A stuck job elsewhere must not make us drop an exit: keep waiting. */
    while (!qemuDomainObjBeginJob(obj, QEMU_JOB_DESTROY, QEMU_DOMAIN_JOB_WAIT_MS, NULL))
        ;
    qemuDomainObjLock(obj);
    current = obj->procGen == task->gen && obj->proc && !obj->removed;
    qemuDomainObjUnlock(obj);

    if (current) {
        switch (task->kind) {
        case QEMU_DRIVER_TASK_EXIT:
            qemuDriverHandleExit(drv, obj, task->reason);
            break;
        case QEMU_DRIVER_TASK_STOP:
        case QEMU_DRIVER_TASK_RESUME:
            qemuDriverTaskUpdateState(drv, obj, task->kind);
            break;
        case QEMU_DRIVER_TASK_BLOCKJOBS:
            qemuDriverProcessBlockJobs(drv, obj);
            break;
        case QEMU_DRIVER_TASK_DEVICE_DELETED:
            qemuDriverDeviceDeleted(drv, obj, task->alias);
            break;
        case QEMU_DRIVER_TASK_SHUTDOWN:
            qemuDriverEmitGuestShutdown(drv, obj);
            break;
        }
    }
    qemuDomainObjEndJob(obj);
    qemuDriverTaskFree(task);
}

/* ---- start ---------------------------------------------------------------------- */

/* Undo a start whose process runs but could not be recorded. Job held. */
static void
qemuDriverStartRollback(qvirDriver *drv, qemuDomainObj *obj)
{
    qemuProcess *proc;

    qemuDomainObjLock(obj);
    proc = obj->proc;
    qemuDomainObjUnlock(obj);
    if (proc)
        (void)qemuProcessStop(proc, NULL);
    qemuDriverReleaseProcess(obj);
    qemuDriverStopCleanup(drv, obj, QEMU_DOMAIN_SHUTOFF_FAILED, FALSE);
}

static gboolean
qemuDriverDefHasTransientDisks(const qvirDomainDef *def)
{
    for (guint i = 0; i < def->disks->len; i++) {
        if (((const qvirDomainDiskDef *)g_ptr_array_index(def->disks, i))->transient)
            return TRUE;
    }
    return FALSE;
}

static gboolean
qemuDriverSetRebootAction(qemuMonitor *mon, const char *action, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;

    json_object_set_string_member(args, "reboot", action);
    ret = qemuMonitorCommand(mon, "set-action", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    return ret != NULL;
}

/*
 * shareBacking='yes' disks are not on the command line: as libvirt 9.0 does, add each
 * one's chain read-only (other domains may share the image), put the overlay on it, then
 * plug the device on the overlay; a system_reset lets the firmware see the new disks.
 */
static gboolean
qemuDriverHotplugSharedTransientDisks(qemuMonitor *mon, qvirDomainDef *def, const qemuCaps *caps,
                                      qvirSecurityDAC *security, GError **error)
{
    g_autoptr(JsonNode) ret = NULL;
    gboolean any = FALSE;

    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);
        gboolean readonly = disk->src->readonly;
        gboolean ok;

        if (!disk->transient || disk->transientShareBacking != QVIR_TRISTATE_BOOL_YES)
            continue;
        disk->src->readonly = TRUE;
        ok = qemuHotplugBlockdevAddChain(mon, caps, disk, disk->src, error);
        disk->src->readonly = readonly;
        if (!ok)
            return FALSE;
        any = TRUE;
    }
    if (!any)
        return TRUE;
    if (!qemuSnapshotCreateTransientOverlays(mon, caps, def, TRUE, security, error))
        return FALSE;
    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->transient && disk->transientShareBacking == QVIR_TRISTATE_BOOL_YES &&
            !qemuHotplugAddDiskDevice(mon, caps, def, disk, error))
            return FALSE;
    }
    /* With set-action reboot=shutdown (on_reboot destroy) QEMU ends on any reset, this one
     * too; libvirt resets before it sets the action, we lift it around the reset. */
    if (qemuCapsGet(caps, QEMU_CAPS_SET_ACTION) &&
        def->onReboot == QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY &&
        !qemuDriverSetRebootAction(mon, "reset", error))
        return FALSE;
    ret = qemuMonitorCommand(mon, "system_reset", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    if (!ret)
        return FALSE;
    if (qemuCapsGet(caps, QEMU_CAPS_SET_ACTION) &&
        def->onReboot == QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY &&
        !qemuDriverSetRebootAction(mon, "shutdown", error))
        return FALSE;
    return TRUE;
}

/*
 * <transient/> disks, as libvirt 9.0 sets them up once QEMU is there and before the vCPUs
 * run: an overlay on each, made like an external snapshot; then "cont" unless PAUSED.
 * A failure leaves overlay files for the caller's qemuSnapshotRemoveTransientOverlays.
 */
static gboolean
qemuDriverSetupTransientDisks(qemuProcess *proc, qvirDomainDef *def, const qemuCaps *caps,
                              qvirSecurityDAC *security, gboolean paused, GError **error)
{
    qemuMonitor *mon = qemuProcessGetMonitor(proc);
    g_autoptr(JsonNode) ret = NULL;

    if (!qemuSnapshotCreateTransientOverlays(mon, caps, def, FALSE, security, error) ||
        !qemuDriverHotplugSharedTransientDisks(mon, def, caps, security, error))
        return FALSE;
    if (paused)
        return TRUE;
    ret = qemuMonitorCommand(mon, "cont", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    return ret != NULL;
}

/* A restore's part of the start: QEMU is up and paused with -incoming; load its state, then
 * "cont" when the image says the guest ran. */
static gboolean
qemuDriverStartRestore(qemuProcess *proc, const qemuDriverRestore *restore, GError **error)
{
    g_autoptr(JsonNode) ret = NULL;

    if (!restore->load(proc, restore->opaque, error))
        return FALSE;
    if (!restore->run)
        return TRUE;
    ret = qemuMonitorCommand(qemuProcessGetMonitor(proc), "cont", NULL,
                             QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    return ret != NULL;
}

gboolean
qemuDriverStartDomainRestore(qvirDriver *drv, qemuDomainObj *obj, qvirDomainDef *live,
                             const qemuDriverRestore *restore, GError **error)
{
    return qemuDriverStartDomain(drv, obj, live, 0, restore, error);
}

/* A network disk's secret, from the secrets driver (UUID, or usage type and id). */
static GBytes *
qemuDriverLookupSecret(void *opaque, const char *uuid, const char *usageType, const char *usageID,
                       GError **error)
{
    qvirDriver *drv = opaque;

    if (!drv->secrets) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET,
                    uuid ? "no secret with matching uuid '%s'"
                         : "no secret with matching usage '%s'",
                    uuid ? uuid : usageID);
        return NULL;
    }
    return qvirSecretLookupValue(drv->secrets, uuid, usageType, usageID, error);
}

void
qemuDriverSecretCtxInit(qvirDriver *drv, qemuBlockSecretCtx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->lookup = qemuDriverLookupSecret;
    ctx->opaque = drv;
    ctx->nbdTLSx509certdir = drv->cfg->nbdTLSx509certdir;
    ctx->nbdTLSx509secretUUID = drv->cfg->nbdTLSx509secretUUID;
    ctx->chardevTLS = drv->cfg->chardevTLS;
    ctx->chardevTLSx509certdir = drv->cfg->chardevTLSx509certdir;
    ctx->chardevTLSx509verify = drv->cfg->chardevTLSx509verify;
    ctx->chardevTLSx509secretUUID = drv->cfg->chardevTLSx509secretUUID;
}

/*
 * Start OBJ on LIVE (a private copy of the definition; ownership passes). Job held.
 * On failure nothing is left: no process, no status file, no chain. RESTORE: the state
 * comes from a save image instead of a boot.
 */
static gboolean
qemuDriverStartDomain(qvirDriver *drv, qemuDomainObj *obj, qvirDomainDef *live, unsigned int flags,
                      const qemuDriverRestore *restore, GError **error)
{
    g_autoptr(qvirDomainDef) def = live;
    g_autofree char *domainDir = NULL;
    g_autofree char *qemuLogDir = g_build_filename(drv->cfg->logDir, "qemu", NULL);
    g_autofree char *journalPath = NULL;
    qvirStorageChainConfig chainCfg;
    qemuProcessStartOpts opts = {0};
    qemuBlockSecretCtx secrets;
    qemuDriverProcCtx *ctx;
    const qemuCaps *caps;
    qemuProcess *proc;
    gboolean paused = restore ? !restore->run : (flags & QEMU_START_PAUSED) != 0;
    gboolean transientDisks = qemuDriverDefHasTransientDisks(def);
    int runReason = restore ? QEMU_DOMAIN_RUNNING_RESTORED : QEMU_DOMAIN_RUNNING_BOOTED;

    if (!(caps = qemuDriverGetCaps(drv, qemuDriverDefEmulator(drv, def), error)))
        return FALSE;

    /* disks that name volumes become their files before anything reads them */
    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (!qvirStorageTranslateDiskSource(drv->storage, disk->src, error))
            return FALSE;
        qemuDomainDiskApplyNBDTLSDefault(disk, drv->cfg->nbdTLS);
    }

    def->id = g_atomic_int_add(&drv->nextId, 1);
    domainDir = qemuDriverDomainDir(drv, def->id, def->name);
    if (g_mkdir_with_parents(domainDir, 0700) < 0) {
        int saved = errno;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create directory '%s': %s",
                    domainDir, g_strerror(saved));
        return FALSE;
    }

    qvirStorageChainConfigInit(&chainCfg);
    chainCfg.allowFormatProbing = drv->cfg->allowDiskFormatProbing;
    chainCfg.probeNetwork = drv->cfg->probeNetworkBackingChains;
    chainCfg.maxDepth = drv->cfg->maxBackingChainDepth;
    opts.runDir = drv->cfg->statusDir;
    opts.logDir = qemuLogDir;
    opts.domainDir = domainDir;
    opts.startPaused = paused || transientDisks;
    opts.chainConfig = &chainCfg;
    opts.defaultDiskCache = drv->cfg->defaultDiskCache;
    opts.security = drv->security;
    opts.privateDev = drv->cfg->mountNamespace;
    opts.labelJournal = journalPath = qemuDriverLabelJournalPath(drv, def->name);
    qemuDriverSecretCtxInit(drv, &secrets);
    opts.secrets = &secrets;
    if (restore) {
        opts.incoming = restore->incoming;
        opts.startPaused = TRUE;
    }

    ctx = qemuDriverProcCtxNew(drv, obj);
    qemuDomainObjLock(obj);
    obj->attaching = TRUE;
    obj->exitPending = FALSE;
    qemuDomainObjUnlock(obj);

    proc = qemuProcessStart(def, caps, &opts, &qemuDriverProcCallbacks, ctx, error);
    if (proc && restore && !qemuDriverStartRestore(proc, restore, error)) {
        (void)qemuProcessStop(proc, NULL);
        qemuProcessFree(g_steal_pointer(&proc));
    }
    if (proc && restore && restore->vcpus)
        def->vcpusCurrent = restore->vcpus == def->vcpus ? 0 : restore->vcpus;
    if (proc && transientDisks &&
        !qemuDriverSetupTransientDisks(proc, def, caps, drv->security, paused, error)) {
        (void)qemuProcessStop(proc, NULL);
        qemuSnapshotRemoveTransientOverlays(def);
        qemuProcessFree(g_steal_pointer(&proc));
    }
    if (!proc) {
        qemuDomainObjLock(obj);
        obj->attaching = FALSE;
        obj->exitPending = FALSE;
        qemuDomainObjUnlock(obj);
        qemuDriverProcCtxFree(ctx);
        qemuDriverRemoveDir(domainDir);
        return FALSE;
    }

    qemuDriverAttachProcess(
        drv, obj, proc, ctx, g_steal_pointer(&def),
        paused ? QVIR_DOMAIN_PAUSED : QVIR_DOMAIN_RUNNING,
        paused ? (restore ? QEMU_DOMAIN_PAUSED_MIGRATION : QEMU_DOMAIN_PAUSED_USER) : runReason);
    qemuDriverUpdateChardevPaths(obj);
    if (!qemuDriverWriteStatus(drv, obj, error)) {
        qemuDriverStartRollback(drv, obj);
        return FALSE;
    }
    /* The status file holds the chains now: it is what a restarted daemon restores from. */
    (void)g_unlink(journalPath);
    /* virDomainEventStartedDetailType BOOTED 0 / RESTORED 2; SuspendedDetail PAUSED 0 /
     * RESTORED 5 (as libvirt: a restore left paused by its image, not by the caller). A
     * restored domain left paused is "paused (migrating)" in libvirt 9.0 too. */
    qemuDriverEmitLifecycle(drv, obj, QEMU_EVENT_STARTED, restore ? 2 : 0);
    if (paused)
        qemuDriverEmitLifecycle(drv, obj, QEMU_EVENT_SUSPENDED,
                                restore && !restore->pausedByFlag ? 5 : 0);
    return TRUE;
}

/* ---- open and close ----------------------------------------------------------- */

static gint
qemuDriverComparePaths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The *.xml names in DIR, sorted. */
static GPtrArray *
qemuDriverListXMLFiles(const char *dir)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;

    if (!d)
        return files;
    while ((entry = g_dir_read_name(d))) {
        /* Temporary files of atomic writes (".NAME.xml.XXXXXX") do not end in .xml. */
        if (!g_str_has_suffix(entry, ".xml"))
            continue;
        g_ptr_array_add(files, g_build_filename(dir, entry, NULL));
    }
    g_ptr_array_sort(files, qemuDriverComparePaths);
    return files;
}

static gboolean
qemuDriverFileMatchesName(const char *path, const char *name)
{
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *expect = g_strdup_printf("%s.xml", name);

    return strcmp(base, expect) == 0;
}

static void
qemuDriverSetupPersistent(qemuDomainObj *obj, gpointer opaque)
{
    qvirDomainDef **defp = opaque;

    obj->def = g_steal_pointer(defp);
}

static void
qemuDriverLoadDefinition(qvirDriver *drv, const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(qemuDomainObj) obj = NULL;
    gboolean isNew;

    if (!(def = qvirDomainDefParseFile(path, 0, &err))) {
        g_message("skipping domain definition '%s': %s", path, err->message);
        return;
    }
    if (!qemuDriverFileMatchesName(path, def->name)) {
        g_message("skipping domain definition '%s': it defines domain '%s'", path, def->name);
        return;
    }
    if (!(obj = qemuDomainObjListAdd(drv->domains, def, qemuDriverSetupPersistent, &def, &isNew,
                                     &err))) {
        g_message("skipping domain definition '%s': %s", path, err->message);
        return;
    }
    if (!isNew) {
        g_message("skipping domain definition '%s': domain '%s' is already loaded", path,
                  obj->name);
        return;
    }
    qemuDriverAutostartLoad(drv, obj);
}

/* A QEMU we cannot talk to any more must not keep running against the images: end it,
 * but only when /proc shows it is the QEMU that owns this monitor socket (a pid may
 * have been reused). */
static void
qemuDriverKillStale(pid_t pid, const char *monitorPath)
{
    g_autofree char *procPath = g_strdup_printf("/proc/%lld/cmdline", (long long)pid);
    g_autofree char *cmdline = NULL;
    gsize len = 0;

    if (!g_file_get_contents(procPath, &cmdline, &len, NULL))
        return;
    for (gsize i = 0; i + 1 < len; i++) {
        if (cmdline[i] == '\0')
            cmdline[i] = ' ';
    }
    if (strstr(cmdline, monitorPath))
        (void)kill(pid, SIGKILL);
}

static void
qemuDriverReconnectDomain(qvirDriver *drv, const char *path, qemuDomainStatus *status)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(qemuDomainObj) obj = NULL;
    qemuDriverProcCtx *ctx;
    qemuProcess *proc;
    gboolean isNew;
    gboolean active;

    if (!qemuDriverFileMatchesName(path, status->def->name)) {
        g_message("skipping status file '%s': it describes domain '%s'", path, status->def->name);
        return;
    }
    /* A domain without a definition file was transient: the object appears here. */
    if (!(obj = qemuDomainObjListAdd(drv->domains, status->def, NULL, NULL, &isNew, &err))) {
        g_message("skipping status file '%s': %s", path, err->message);
        return;
    }
    if (!qemuDomainObjBeginJob(obj, QEMU_JOB_MODIFY, QEMU_DOMAIN_JOB_WAIT_MS, &err)) {
        g_message("skipping status file '%s': %s", path, err->message);
        return;
    }
    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj);
    obj->attaching = !active;
    obj->exitPending = FALSE;
    qemuDomainObjUnlock(obj);
    if (active) {
        g_message("skipping status file '%s': domain '%s' is already running", path, obj->name);
        qemuDomainObjEndJob(obj);
        return;
    }

    ctx = qemuDriverProcCtxNew(drv, obj);
    if (!(proc = qemuProcessReconnect(status->pid, status->monitorPath, &qemuDriverProcCallbacks,
                                      ctx, &err))) {
        g_message("domain '%s': QEMU (pid %lld) is gone (%s); cleaning up as stopped", obj->name,
                  (long long)status->pid, err->message);
        qemuDriverProcCtxFree(ctx);
        qemuDriverKillStale(status->pid, status->monitorPath);
        /* It ended while no daemon watched: its labels are still on the chain it had. */
        qvirSecurityDACRestoreDomainLabel(drv->security, status->def);
        qemuDomainObjLock(obj);
        obj->attaching = FALSE;
        obj->exitPending = FALSE;
        obj->id = status->def->id;
        qemuDomainObjUnlock(obj);
        qemuDriverStopCleanup(drv, obj, QEMU_DOMAIN_SHUTOFF_CRASHED, TRUE);
        qemuDomainObjEndJob(obj);
        return;
    }

    /* Restore the live definition, chains and all, exactly as written: no probing. Node
     * names follow from the indexes, as QEMU was given them. */
    {
        unsigned int next = qemuDomainNextNodeIndex(status->def);

        for (guint i = 0; i < status->def->disks->len; i++)
            qemuDomainPrepareDiskChainNodeNames(g_ptr_array_index(status->def->disks, i), &next);
    }
    if (status->def->id <= 0)
        status->def->id = g_atomic_int_add(&drv->nextId, 1);
    while (TRUE) {
        gint next = g_atomic_int_get(&drv->nextId);
        if (next > status->def->id ||
            g_atomic_int_compare_and_exchange(&drv->nextId, next, status->def->id + 1))
            break;
    }
    qemuDriverAttachProcess(drv, obj, proc, ctx, g_steal_pointer(&status->def), status->state,
                            status->reason);
    qemuDriverReconnectBlockJobs(drv, obj);
    qemuDomainObjEndJob(obj);
}

static void
qemuDriverLoadStatus(qvirDriver *drv, const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    qemuDomainStatus status;

    if (!g_file_get_contents(path, &xml, NULL, &err)) {
        g_message("skipping status file '%s': %s", path, err->message);
        return;
    }
    if (!qemuDomainStatusParse(xml, &status, &err)) {
        g_message("skipping status file '%s': %s", path, err->message);
        return;
    }
    qemuDriverReconnectDomain(drv, path, &status);
    qemuDomainStatusClear(&status);
}

/*
 * The domain name in a monitor argument, or NULL. Two places hold monitors:
 * "path=STATUSDIR/NAME.monitor" (a QEMU that keeps the daemon's identity) and
 * "path=STATEDIR/qemu/domain-ID-NAME/monitor.sock" (one run as QEMU's own user, in the
 * domain directory that user owns).
 */
static char *
qemuDriverMonitorArgDomain(const char *arg, const char *statusPrefix, const char *domainPrefix)
{
    const char *start;
    const char *end;

    if ((start = strstr(arg, statusPrefix))) {
        start += strlen(statusPrefix);
        if (!(end = strstr(start, ".monitor")) || end == start || memchr(start, '/', end - start))
            return NULL;
        return g_strndup(start, end - start);
    }
    if ((start = strstr(arg, domainPrefix))) {
        start += strlen(domainPrefix);
        while (g_ascii_isdigit(*start))
            start++;
        if (*start != '-' || !(end = strstr(++start, "/monitor.sock")) || end == start ||
            memchr(start, '/', end - start))
            return NULL;
        return g_strndup(start, end - start);
    }
    return NULL;
}

/* Which of our domains the QEMU with command line CMDLINE (NUL-separated) was started
 * for, judged by its monitor socket under our directories; NULL if none. */
static char *
qemuDriverQemuDomainName(const char *cmdline, gsize len, const char *statusPrefix,
                         const char *domainPrefix)
{
    g_autofree char *argv0 = g_path_get_basename(cmdline);

    if (!strstr(argv0, "qemu") && !strstr(argv0, "kvm"))
        return NULL;
    for (gsize off = 0; off < len; off += strlen(cmdline + off) + 1) {
        char *name = qemuDriverMonitorArgDomain(cmdline + off, statusPrefix, domainPrefix);

        if (name)
            return name;
    }
    return NULL;
}

/* The directory domain-ID-NAME under DOMAINPREFIX (".../qemu/domain-") that an argument of
 * the QEMU with command line CMDLINE names (its master key, its monitor), or NULL; *ID its
 * ID. */
static char *
qemuDriverQemuDomainDir(const char *cmdline, gsize len, const char *domainPrefix, const char *name,
                        gint64 *id)
{
    g_autofree char *tail = g_strdup_printf("-%s/", name);

    for (gsize off = 0; off < len; off += strlen(cmdline + off) + 1) {
        const char *start = strstr(cmdline + off, domainPrefix);
        const char *p;

        if (!start)
            continue;
        p = start + strlen(domainPrefix);
        if (!g_ascii_isdigit(*p))
            continue;
        *id = g_ascii_strtoll(p, (char **)&p, 10);
        if (g_str_has_prefix(p, tail))
            return g_strndup(start, p + strlen(tail) - 1 - start);
    }
    return NULL;
}

/*
 * A daemon killed in the middle of a start leaves a QEMU without a status file: nobody
 * will ever stop it, and it holds the images. Such a QEMU carries our monitor path in its
 * command line; unless it is the process of a domain we reconnected to, end it.
 */
static void
qemuDriverKillOrphans(qvirDriver *drv)
{
    g_autofree char *prefix = g_strdup_printf("path=%s/", drv->cfg->statusDir);
    g_autofree char *domainPrefix = g_strdup_printf("path=%s/qemu/domain-", drv->cfg->stateDir);
    g_autofree char *domainDirPrefix = g_strdup_printf("%s/qemu/domain-", drv->cfg->stateDir);
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *entry;

    while (dir && (entry = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autofree char *cmdline = NULL;
        g_autofree char *name = NULL;
        g_autoptr(qemuDomainObj) obj = NULL;
        g_autofree char *domainDir = NULL;
        guint64 pid;
        gint64 id = -1;
        gsize len = 0;
        gboolean ours = FALSE;

        if (!g_ascii_string_to_unsigned(entry, 10, 2, G_MAXINT32, &pid, NULL) ||
            (pid_t)pid == getpid())
            continue;
        path = g_strdup_printf("/proc/%s/cmdline", entry);
        if (!g_file_get_contents(path, &cmdline, &len, NULL) || len == 0 ||
            !(name = qemuDriverQemuDomainName(cmdline, len, prefix, domainPrefix)))
            continue;
        domainDir = qemuDriverQemuDomainDir(cmdline, len, domainDirPrefix, name, &id);
        if ((obj = qemuDomainObjListFindByName(drv->domains, name))) {
            qemuDomainObjLock(obj);
            ours = obj->proc && qemuProcessGetPid(obj->proc) == (pid_t)pid;
            /* a domain of that name runs from the same directory: it stays */
            if (obj->proc && obj->id == id)
                g_clear_pointer(&domainDir, g_free);
            qemuDomainObjUnlock(obj);
        }
        if (ours)
            continue;
        g_message("killing QEMU pid %llu of domain '%s': its start never completed",
                  (unsigned long long)pid, name);
        (void)kill((pid_t)pid, SIGKILL);
        /* its scratch directory holds the domain's master key: it goes too */
        if (domainDir)
            qemuDriverRemoveDir(domainDir);
    }
}

/*
 * A daemon killed in the middle of a start leaves the labels it took listed in a journal.
 * Where a status file was written too, that file is the truth (the domain was reconnected or
 * cleaned up from it); otherwise the journal's references are given back.
 */
static void
qemuDriverReplayLabelJournals(qvirDriver *drv)
{
    g_autoptr(GDir) dir = g_dir_open(drv->cfg->statusDir, 0, NULL);
    const char *entry;

    while (dir && (entry = g_dir_read_name(dir))) {
        g_autofree char *name = NULL;
        g_autofree char *journal = NULL;
        g_autofree char *status = NULL;

        if (!g_str_has_suffix(entry, ".labels") || entry[0] == '.')
            continue;
        name = g_strndup(entry, strlen(entry) - strlen(".labels"));
        journal = g_build_filename(drv->cfg->statusDir, entry, NULL);
        status = qemuDriverStatusPath(drv, name);
        if (g_file_test(status, G_FILE_TEST_EXISTS))
            (void)g_unlink(journal);
        else
            qvirSecurityDACJournalReplay(drv->security, journal);
    }
}

qvirDriver *
qvirDriverOpen(qvirDriverConfig *cfg, GError **error)
{
    g_autoptr(qvirDriverConfig) owned = cfg;
    g_autoptr(GPtrArray) defs = NULL;
    g_autoptr(GPtrArray) statuses = NULL;
    g_autoptr(qvirSecurityDAC) security = NULL;
    qvirDriver *drv;

    g_return_val_if_fail(cfg != NULL, NULL);

    if (!qvirDriverConfigMakeDirs(cfg, error))
        return NULL;
    {
        qvirSecurityDACConfig scfg = {
            .user = cfg->user,
            .group = cfg->group,
            .dynamicOwnership = cfg->dynamicOwnership,
            .rememberOwner = cfg->rememberOwner,
            .clearCapabilities = cfg->clearEmulatorCapabilities,
        };

        /* As libvirt's session daemon, one that is not root runs QEMU as itself. */
        if (!(security = qvirSecurityDACNew(&scfg, geteuid() == 0, error)))
            return NULL;
        if (qvirSecurityDACIsActive(security) && cfg->mountNamespace && !qemuNamespaceAvailable())
            g_message("QEMU gets no private /dev: this kernel does not allow a mount "
                      "namespace here");
    }

    drv = g_new0(qvirDriver, 1);
    drv->cfg = g_steal_pointer(&owned);
    drv->security = g_steal_pointer(&security);
    drv->domains = qemuDomainObjListNew();
    drv->nextId = 1;
    g_mutex_init(&drv->capsLock);
    drv->caps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)qemuDriverCapsEntryFree);
    drv->allCaps = g_ptr_array_new_with_free_func((GDestroyNotify)qemuCapsFree);
    drv->workers = g_thread_pool_new(qemuDriverWorker, drv, -1, FALSE, NULL);
    drv->migration = qemuMigrationTableNew();
    g_mutex_init(&drv->eventLock);
    {
        /* As libvirt's secret driver, only a config directory: values must outlive a
         * reboot, so none of it can live under the run directory. */
        g_autofree char *secretsDir = g_build_filename(drv->cfg->configDir, "secrets", NULL);

        if (!(drv->secrets = qvirSecretDriverOpen(secretsDir, error))) {
            qvirDriverClose(drv);
            return NULL;
        }
    }
    {
        g_autofree char *storageConfig = g_build_filename(drv->cfg->configDir, "storage", NULL);
        g_autofree char *storageState = g_build_filename(drv->cfg->runDir, "storage", NULL);

        /* after the secrets: pools that come back up may need their <auth> */

        if (!(drv->storage = qvirStorageDriverOpenWithSecrets(storageConfig, storageState, NULL,
                                                              drv->secrets, error))) {
            qvirDriverClose(drv);
            return NULL;
        }
    }

    defs = qemuDriverListXMLFiles(drv->cfg->defsDir);
    for (guint i = 0; i < defs->len; i++)
        qemuDriverLoadDefinition(drv, g_ptr_array_index(defs, i));
    statuses = qemuDriverListXMLFiles(drv->cfg->statusDir);
    for (guint i = 0; i < statuses->len; i++)
        qemuDriverLoadStatus(drv, g_ptr_array_index(statuses, i));
    qemuDriverReplayLabelJournals(drv);
    qemuDriverKillOrphans(drv);
    qemuMigrationRecover(drv);
    {
        g_autoptr(GPtrArray) objs = qemuDomainObjListCollect(drv->domains);

        for (guint i = 0; i < objs->len; i++)
            qemuDriverLoadSnapshots(drv, g_ptr_array_index(objs, i));
    }
    qemuDriverAutostartDomains(drv);
    return drv;
}

void
qvirDriverClose(qvirDriver *drv)
{
    g_autoptr(GPtrArray) objs = NULL;

    if (!drv)
        return;
    /* Close every monitor first: afterwards no callback can queue work. QEMU itself keeps
     * running and is reconnected from its status file by the next daemon. */
    objs = qemuDomainObjListCollect(drv->domains);
    for (guint i = 0; i < objs->len; i++) {
        qemuDomainObj *obj = g_ptr_array_index(objs, i);

        while (!qemuDomainObjBeginJob(obj, QEMU_JOB_DESTROY, QEMU_DOMAIN_JOB_WAIT_MS, NULL))
            ;
        qemuDriverReleaseProcess(obj);
        qemuDomainObjEndJob(obj);
    }
    g_thread_pool_free(drv->workers, FALSE, TRUE);
    g_clear_pointer(&objs, g_ptr_array_unref);
    qemuDomainObjListFree(drv->domains);
    qemuMigrationTableFree(drv->migration);
    g_hash_table_destroy(drv->caps);
    g_ptr_array_unref(drv->allCaps);
    g_mutex_clear(&drv->capsLock);
    g_mutex_clear(&drv->eventLock);
    qvirStorageDriverClose(drv->storage);
    qvirSecretDriverClose(drv->secrets);
    qvirDriverConfigFree(drv->cfg);
    qvirSecurityDACFree(drv->security);
    g_free(drv);
}

qvirStorageDriver *
qvirDriverGetStorage(qvirDriver *drv)
{
    return drv->storage;
}

qvirSecretDriver *
qvirDriverGetSecrets(qvirDriver *drv)
{
    return drv->secrets;
}

/* ---- lookups and lists ---------------------------------------------------------- */

qvirDomainRef *
qvirDriverDomainLookupByName(qvirDriver *drv, const char *name, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;

    if (!name || !(obj = qemuDomainObjListFindByName(drv->domains, name))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_DOMAIN,
                    "Domain not found: no domain with matching name '%s'", name ? name : "");
        return NULL;
    }
    return qemuDriverMakeRef(obj);
}

qvirDomainRef *
qvirDriverDomainLookupByUUID(qvirDriver *drv, const unsigned char *uuid, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);

    return obj ? qemuDriverMakeRef(obj) : NULL;
}

qvirDomainRef *
qvirDriverDomainLookupByID(qvirDriver *drv, int id, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDomainObjListFindByID(drv->domains, id);

    if (!obj) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_DOMAIN,
                    "Domain not found: no domain with matching id %d", id);
        return NULL;
    }
    return qemuDriverMakeRef(obj);
}

/* One flag group: either both or neither bit set means "don't filter". */
static gboolean
qemuDriverListGroupMatch(unsigned int flags, unsigned int yes, unsigned int no, gboolean value)
{
    gboolean wantYes = (flags & yes) != 0;
    gboolean wantNo = (flags & no) != 0;

    if (wantYes == wantNo)
        return TRUE;
    return wantYes ? value : !value;
}

/* With OBJ's mutex held. */
static gboolean
qemuDriverListMatch(const qemuDomainObj *obj, unsigned int flags)
{
    gboolean active = qemuDomainObjIsActive(obj);
    gboolean persistent = obj->def != NULL;
    unsigned int stateFlags =
        flags & (QEMU_LIST_RUNNING | QEMU_LIST_PAUSED | QEMU_LIST_SHUTOFF | QEMU_LIST_OTHER);

    if (!qemuDomainObjGetDef(obj))
        return FALSE; /* a transient domain still being created */
    if (!qemuDriverListGroupMatch(flags, QEMU_LIST_ACTIVE, QEMU_LIST_INACTIVE, active))
        return FALSE;
    if (!qemuDriverListGroupMatch(flags, QEMU_LIST_PERSISTENT, QEMU_LIST_TRANSIENT, persistent))
        return FALSE;
    if (stateFlags) {
        gboolean ok = FALSE;

        if (obj->state == QVIR_DOMAIN_RUNNING)
            ok = (stateFlags & QEMU_LIST_RUNNING) != 0;
        else if (obj->state == QVIR_DOMAIN_PAUSED)
            ok = (stateFlags & QEMU_LIST_PAUSED) != 0;
        else if (obj->state == QVIR_DOMAIN_SHUTOFF)
            ok = (stateFlags & QEMU_LIST_SHUTOFF) != 0;
        else
            ok = (stateFlags & QEMU_LIST_OTHER) != 0;
        if (!ok)
            return FALSE;
    }
    /* No managed save or checkpoint metadata exists here. */
    if (!qemuDriverListGroupMatch(flags, QEMU_LIST_MANAGEDSAVE, QEMU_LIST_NO_MANAGEDSAVE, FALSE) ||
        !qemuDriverListGroupMatch(flags, QEMU_LIST_AUTOSTART, QEMU_LIST_NO_AUTOSTART,
                                  obj->autostart) ||
        !qemuDriverListGroupMatch(flags, QEMU_LIST_HAS_SNAPSHOT, QEMU_LIST_NO_SNAPSHOT,
                                  qemuDriverSnapshotCount(obj) > 0) ||
        !qemuDriverListGroupMatch(flags, QEMU_LIST_HAS_CHECKPOINT, QEMU_LIST_NO_CHECKPOINT, FALSE))
        return FALSE;
    return TRUE;
}

GPtrArray *
qvirDriverListAllDomains(qvirDriver *drv, unsigned int flags)
{
    g_autoptr(GPtrArray) objs = qemuDomainObjListCollect(drv->domains);
    GPtrArray *refs = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainRefFree);

    for (guint i = 0; i < objs->len; i++) {
        qemuDomainObj *obj = g_ptr_array_index(objs, i);
        gboolean match;

        qemuDomainObjLock(obj);
        match = qemuDriverListMatch(obj, flags & QEMU_LIST_ALL_FLAGS);
        qemuDomainObjUnlock(obj);
        if (match)
            g_ptr_array_add(refs, qemuDriverMakeRef(obj));
    }
    return refs;
}

int
qvirDriverNumOfDomains(qvirDriver *drv)
{
    g_autoptr(GPtrArray) refs = qvirDriverListAllDomains(drv, QEMU_LIST_ACTIVE);

    return (int)refs->len;
}

static gint
qemuDriverCompareInt(gconstpointer a, gconstpointer b)
{
    int ia = *(const int *)a, ib = *(const int *)b;

    return (ia > ib) - (ia < ib);
}

GArray *
qvirDriverListDomainIDs(qvirDriver *drv)
{
    g_autoptr(GPtrArray) refs = qvirDriverListAllDomains(drv, QEMU_LIST_ACTIVE);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int));

    for (guint i = 0; i < refs->len; i++) {
        qvirDomainRef *ref = g_ptr_array_index(refs, i);

        /* A domain stopped between the two looks has id -1: leave it out. */
        if (ref->id > 0)
            g_array_append_val(ids, ref->id);
    }
    g_array_sort(ids, qemuDriverCompareInt);
    return ids;
}

int
qvirDriverNumOfDefinedDomains(qvirDriver *drv)
{
    g_autoptr(GPtrArray) refs = qvirDriverListAllDomains(drv, QEMU_LIST_INACTIVE);

    return (int)refs->len;
}

GPtrArray *
qvirDriverListDefinedDomainNames(qvirDriver *drv)
{
    g_autoptr(GPtrArray) refs = qvirDriverListAllDomains(drv, QEMU_LIST_INACTIVE);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < refs->len; i++) {
        qvirDomainRef *ref = g_ptr_array_index(refs, i);
        g_ptr_array_add(names, g_strdup(ref->name));
    }
    return names;
}

/* ---- define, undefine ------------------------------------------------------------ */

gboolean
qemuDriverWriteDefinition(qvirDriver *drv, const qvirDomainDef *def, GError **error)
{
    g_autofree char *path = qemuDriverDefPath(drv, def->name);
    g_autofree char *xml = qvirDomainDefFormat(def, QVIR_DOMAIN_DEF_FORMAT_SECURE);

    return qvirFileWriteAtomic(path, xml, strlen(xml), 0600, error);
}

static qvirDomainRef *
qvirDriverDomainDefineXMLImpl(qvirDriver *drv, const char *xml, unsigned int flags, GError **error)
{
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(qemuDomainObj) obj = NULL;
    qvirDomainDef *old;
    gboolean isNew;

    if (!qvirCheckFlags(flags, QEMU_DEFINE_VALIDATE, __func__, error))
        return NULL;
    if (!(def = qemuDriverParseDef(drv, xml, error)))
        return NULL;
    def->id = -1;
    if (!(obj = qemuDomainObjListAdd(drv->domains, def, qemuDriverSetupPersistent, &def, &isNew,
                                     error)))
        return NULL;
    if (!qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error)) {
        if (isNew)
            qemuDomainObjListRemove(drv->domains, obj);
        return NULL;
    }

    if (isNew) {
        /* The object holds the definition already; only the file is missing. */
        if (!qemuDriverWriteDefinition(drv, obj->def, error)) {
            qemuDomainObjListRemove(drv->domains, obj);
            qemuDomainObjEndJob(obj);
            return NULL;
        }
    } else {
        /* A redefinition takes effect at the next start; a running domain keeps its live
         * definition, and a transient one becomes persistent. */
        if (!qemuDriverWriteDefinition(drv, def, error)) {
            qemuDomainObjEndJob(obj);
            return NULL;
        }
        qemuDomainObjLock(obj);
        old = obj->def;
        obj->def = g_steal_pointer(&def);
        qemuDomainObjUnlock(obj);
        qvirDomainDefFree(old);
    }
    qemuDomainObjEndJob(obj);
    qemuDriverEmitLifecycle(drv, obj, QEMU_EVENT_DEFINED, isNew ? 0 /* added */ : 1 /* updated */);
    return qemuDriverMakeRef(obj);
}

/* libvirt's message text for what the define/start path refuses (virErrorMsg). */
qvirDomainRef *
qvirDriverDomainDefineXML(qvirDriver *drv, const char *xml, unsigned int flags, GError **error)
{
    qvirDomainRef *ret = qvirDriverDomainDefineXMLImpl(drv, xml, flags, error);

    if (!ret && error)
        qvirErrorAddPrefix(*error);
    return ret;
}

gboolean
qvirDriverDomainUndefine(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                         GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autofree char *path = NULL;
    qvirDomainDef *old;
    gboolean active;
    guint nsnapshots;

    if (!qvirCheckFlags(flags, QEMU_UNDEFINE_ALL_FLAGS, __func__, error))
        return FALSE;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    if (!qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    if (!obj->def) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: cannot undefine transient domain");
        qemuDomainObjEndJob(obj);
        return FALSE;
    }
    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj);
    nsnapshots = qemuDriverSnapshotCount(obj);
    qemuDomainObjUnlock(obj);
    /* As libvirt: an inactive domain keeps no orphaned snapshot metadata. */
    if (!active && nsnapshots > 0 && !(flags & QEMU_UNDEFINE_SNAPSHOTS_METADATA)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: cannot delete inactive domain with %u "
                    "snapshots",
                    nsnapshots);
        qemuDomainObjEndJob(obj);
        return FALSE;
    }
    if (qemuDriverHasManagedSave(drv, obj)) {
        if (!(flags & QEMU_UNDEFINE_MANAGED_SAVE)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                        "Requested operation is not valid: Refusing to undefine while domain "
                        "managed save image exists");
            qemuDomainObjEndJob(obj);
            return FALSE;
        }
        if (!qemuDriverManagedSaveDiscard(drv, obj, error)) {
            qemuDomainObjEndJob(obj);
            return FALSE;
        }
    }
    path = qemuDriverDefPath(drv, obj->name);
    qemuDriverAutostartRemove(drv, obj);
    if (!qemuDriverUnlink(path, error)) {
        qemuDomainObjEndJob(obj);
        return FALSE;
    }
    qemuDomainObjLock(obj);
    old = g_steal_pointer(&obj->def);
    active = qemuDomainObjIsActive(obj);
    qemuDomainObjUnlock(obj);
    qvirDomainDefFree(old);
    /* A running domain stays, now transient; it disappears when it stops. */
    if (!active) {
        qemuDriverDiscardSnapshots(drv, obj);
        qemuDomainObjListRemove(drv->domains, obj);
    }
    qemuDomainObjEndJob(obj);
    qemuDriverEmitLifecycle(drv, obj, QEMU_EVENT_UNDEFINED, 0 /* removed */);
    return TRUE;
}

/* ---- start and stop ------------------------------------------------------------ */

#define QEMU_START_FLAGS                                                                           \
    (QEMU_START_PAUSED | QEMU_START_AUTODESTROY | QEMU_START_BYPASS_CACHE |                        \
     QEMU_START_FORCE_BOOT | QEMU_START_VALIDATE)

static gboolean
qvirDriverDomainCreateImpl(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                           GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    qvirDomainDef *live = NULL;
    gboolean active;
    gboolean ok;

    if (!qvirCheckFlags(flags, QEMU_START_FLAGS, __func__, error))
        return FALSE;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    if (!qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj);
    /* As libvirt (virDomainObjSetDefTransient): the definition itself becomes the live one
     * and a copy, read back through the parser, the persistent one. */
    if (!active && obj->def) {
        qvirDomainDef *copy = qvirDomainDefCopy(obj->def, 0, error);

        if (copy) {
            live = obj->def;
            obj->def = copy;
        }
    }
    qemuDomainObjUnlock(obj);

    if (active) {
        qemuDriverErrorRunning(error);
        ok = FALSE;
    } else if (live && qemuDriverHasManagedSave(drv, obj)) {
        /* As libvirt: the saved state wins unless FORCE_BOOT discards it. */
        qvirDomainDefFree(live);
        if (flags & QEMU_START_FORCE_BOOT)
            ok = qemuDriverManagedSaveDiscard(drv, obj, error) &&
                 (live = qvirDomainDefCopy(obj->def, 0, error)) &&
                 qemuDriverStartDomain(drv, obj, live, flags, NULL, error);
        else
            ok = qemuDriverStartManagedSave(drv, obj, flags, error);
    } else {
        ok = live && qemuDriverStartDomain(drv, obj, live, flags, NULL, error);
    }
    qemuDomainObjEndJob(obj);
    return ok;
}

/* libvirt's message text for what the define/start path refuses (virErrorMsg). */
gboolean
qvirDriverDomainCreate(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                       GError **error)
{
    gboolean ret = qvirDriverDomainCreateImpl(drv, uuid, flags, error);

    if (!ret && error)
        qvirErrorAddPrefix(*error);
    return ret;
}

static void
qemuDriverSetupTransient(qemuDomainObj *obj, gpointer opaque)
{
    qvirDomainDef **defp = opaque;

    obj->startDef = g_steal_pointer(defp);
}

static qvirDomainRef *
qvirDriverDomainCreateXMLImpl(qvirDriver *drv, const char *xml, unsigned int flags, GError **error)
{
    qvirDomainDef *def;

    if (!qvirCheckFlags(flags, QEMU_START_FLAGS, __func__, error))
        return NULL;
    if (!(def = qemuDriverParseDef(drv, xml, error)))
        return NULL;
    return qemuDriverCreateDef(drv, def, flags, NULL, error);
}

qvirDomainRef *
qemuDriverCreateDef(qvirDriver *drv, qvirDomainDef *newDef, unsigned int flags,
                    const qemuDriverRestore *restore, GError **error)
{
    g_autoptr(qvirDomainDef) def = newDef;
    g_autoptr(qemuDomainObj) obj = NULL;
    qvirDomainDef *live = NULL;
    gboolean isNew;
    gboolean active;
    gboolean ok;

    if (!(obj = qemuDomainObjListAdd(drv->domains, def, qemuDriverSetupTransient, &def, &isNew,
                                     error)))
        return NULL;
    if (!qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error)) {
        if (isNew)
            qemuDomainObjListRemove(drv->domains, obj);
        return NULL;
    }

    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj);
    /* The start edits its definition in place: readers keep seeing startDef meanwhile. */
    if (isNew)
        live = qvirDomainDefCopy(obj->startDef, 0, error);
    else if (!active)
        live = g_steal_pointer(&def);
    qemuDomainObjUnlock(obj);

    if (active) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain '%s' is already active", obj->name);
        ok = FALSE;
    } else {
        ok = live && qemuDriverStartDomain(drv, obj, live, flags, restore, error);
    }

    if (isNew) {
        gboolean orphan;

        qemuDomainObjLock(obj);
        g_clear_pointer(&obj->startDef, qvirDomainDefFree);
        /* A define may have made it persistent meanwhile: then it stays. */
        orphan = !obj->def && !qemuDomainObjIsActive(obj);
        qemuDomainObjUnlock(obj);
        if (orphan)
            qemuDomainObjListRemove(drv->domains, obj);
    }
    qemuDomainObjEndJob(obj);
    return ok ? qemuDriverMakeRef(obj) : NULL;
}

/* libvirt's message text for what the define/start path refuses (virErrorMsg). */
qvirDomainRef *
qvirDriverDomainCreateXML(qvirDriver *drv, const char *xml, unsigned int flags, GError **error)
{
    qvirDomainRef *ret = qvirDriverDomainCreateXMLImpl(drv, xml, flags, error);

    if (!ret && error)
        qvirErrorAddPrefix(*error);
    return ret;
}

gboolean
qvirDriverDomainDestroy(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                        GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    qemuProcess *proc;
    gboolean active;

    if (!qvirCheckFlags(flags, QEMU_DESTROY_GRACEFUL | QEMU_DESTROY_REMOVE_LOGS, __func__, error))
        return FALSE;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    if (!qemuDriverBeginJob(obj, QEMU_JOB_DESTROY, error))
        return FALSE;
    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj);
    proc = obj->proc;
    qemuDomainObjUnlock(obj);

    if (!active) {
        qemuDriverErrorNotRunning(error);
        qemuDomainObjEndJob(obj);
        return FALSE;
    }
    if (proc && !qemuProcessStopFull(proc, flags & QEMU_DESTROY_GRACEFUL, error)) {
        qemuDomainObjEndJob(obj);
        return FALSE;
    }
    qemuDriverReleaseProcess(obj);
    qemuDriverStopCleanup(drv, obj, QEMU_DOMAIN_SHUTOFF_DESTROYED, TRUE);
    qemuDomainObjEndJob(obj);
    return TRUE;
}

static void
qemuDriverStopHandedOver(qvirDriver *drv, qemuDomainObj *obj, int reason, const char *what)
{
    g_autoptr(GError) err = NULL;
    qemuProcess *proc;

    qemuDomainObjLock(obj);
    proc = obj->proc;
    qemuDomainObjUnlock(obj);
    if (proc && !qemuProcessStop(proc, &err))
        g_message("domain '%s': stopping QEMU after the %s: %s", obj->name, what, err->message);
    qemuDriverReleaseProcess(obj);
    qemuDriverStopCleanup(drv, obj, reason, TRUE);
}

void
qemuDriverStopSaved(qvirDriver *drv, qemuDomainObj *obj)
{
    qemuDriverStopHandedOver(drv, obj, QEMU_DOMAIN_SHUTOFF_SAVED, "save");
}

void
qemuDriverStopMigrated(qvirDriver *drv, qemuDomainObj *obj)
{
    qemuDriverStopHandedOver(drv, obj, QEMU_DOMAIN_SHUTOFF_MIGRATED, "migration");
}

/* CHRS' pty devices get the path QEMU reports for their chardev "char" + alias. */
static void
qemuDriverSetPtyPaths(GPtrArray *chrs, JsonArray *devs)
{
    for (guint i = 0; chrs && i < chrs->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(chrs, i);
        g_autofree char *label = NULL;

        if (!chr->info.alias || g_strcmp0(chr->type, "pty") != 0)
            continue;
        label = g_strdup_printf("char%s", chr->info.alias);
        for (guint j = 0; j < json_array_get_length(devs); j++) {
            JsonObject *dev = json_array_get_object_element(devs, j);
            const char *file = dev ? qemuDriverJsonString(dev, "filename") : NULL;

            if (!dev || g_strcmp0(qemuDriverJsonString(dev, "label"), label) != 0 || !file ||
                !g_str_has_prefix(file, "pty:"))
                continue;
            g_free(chr->ptyPath);
            chr->ptyPath = g_strdup(file + strlen("pty:"));
        }
    }
}

void
qemuDriverUpdateChardevPaths(qemuDomainObj *obj)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) ret = NULL;
    qemuProcess *proc;
    JsonArray *devs;

    qemuDomainObjLock(obj);
    proc = obj->proc;
    qemuDomainObjUnlock(obj);
    if (!proc)
        return;
    ret = qemuMonitorCommand(qemuProcessGetMonitor(proc), "query-chardev", NULL,
                             QEMU_MONITOR_DEFAULT_TIMEOUT_MS, &err);
    if (!ret || !JSON_NODE_HOLDS_ARRAY(ret)) {
        g_message("domain '%s': query-chardev: %s", obj->name, err ? err->message : "no list");
        return;
    }
    devs = json_node_get_array(ret);
    qemuDomainObjLock(obj);
    if (obj->liveDef) {
        qvirDomainDef *def = obj->liveDef;

        qemuDriverSetPtyPaths(def->serials, devs);
        qemuDriverSetPtyPaths(def->channels, devs);
        /* a serial-type <console> is the first serial port */
        for (guint i = 0; i < def->consoles->len; i++) {
            qvirDomainChrDef *con = g_ptr_array_index(def->consoles, i);

            if (i == 0 && def->serials->len > 0 && g_strcmp0(con->targetType, "virtio") != 0) {
                g_free(con->ptyPath);
                con->ptyPath =
                    g_strdup(((qvirDomainChrDef *)g_ptr_array_index(def->serials, 0))->ptyPath);
            }
        }
        qemuDriverSetPtyPaths(def->consoles, devs);
    }
    qemuDomainObjUnlock(obj);
}

/* ---- queries ---------------------------------------------------------------------- */

char *
qvirDriverDomainGetXMLDesc(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                           GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    char *xml = NULL;
    unsigned int secure = (flags & QEMU_XML_SECURE) ? QVIR_DOMAIN_DEF_FORMAT_SECURE : 0;

    if (!qvirCheckFlags(
            flags, QEMU_XML_SECURE | QEMU_XML_INACTIVE | QEMU_XML_UPDATE_CPU | QEMU_XML_MIGRATABLE,
            __func__, error))
        return NULL;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return NULL;

    qemuDomainObjLock(obj);
    if ((flags & QEMU_XML_INACTIVE) && obj->def)
        xml = qvirDomainDefFormat(obj->def, secure);
    else if (obj->liveDef)
        xml = qvirDomainDefFormat(obj->liveDef, ((flags & (QEMU_XML_INACTIVE | QEMU_XML_MIGRATABLE))
                                                     ? 0
                                                     : QVIR_DOMAIN_DEF_FORMAT_LIVE) |
                                                    secure);
    else if (qemuDomainObjGetDef(obj))
        xml = qvirDomainDefFormat(qemuDomainObjGetDef(obj), secure);
    qemuDomainObjUnlock(obj);

    if (!xml)
        qemuDriverNoDomainUUID(uuid, error);
    return xml;
}

gboolean
qvirDriverDomainGetState(qvirDriver *drv, const unsigned char *uuid, int *state, int *reason,
                         GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);

    if (!obj)
        return FALSE;
    qemuDomainObjLock(obj);
    if (state)
        *state = obj->state;
    if (reason)
        *reason = obj->reason;
    qemuDomainObjUnlock(obj);
    return TRUE;
}

/* CPU time of PID from /proc (utime + stime), in nanoseconds; 0 when unreadable. */
static unsigned long long
qemuDriverProcessCpuTime(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%lld/stat", (long long)pid);
    g_autofree char *stat = NULL;
    g_auto(GStrv) fields = NULL;
    const char *rest;
    long ticks = sysconf(_SC_CLK_TCK);
    guint64 utime, stime;

    if (pid <= 0 || ticks <= 0 || !g_file_get_contents(path, &stat, NULL, NULL))
        return 0;
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    if (!(rest = strrchr(stat, ')')))
        return 0;
    fields = g_strsplit(rest + 2, " ", 0);
    /* fields[0] is field 3 (state); utime is field 14, stime field 15. */
    if (g_strv_length(fields) < 13 ||
        !g_ascii_string_to_unsigned(fields[11], 10, 0, G_MAXUINT64, &utime, NULL) ||
        !g_ascii_string_to_unsigned(fields[12], 10, 0, G_MAXUINT64, &stime, NULL))
        return 0;
    return (utime + stime) * (1000000000ull / (unsigned long long)ticks);
}

gboolean
qvirDriverDomainGetInfo(qvirDriver *drv, const unsigned char *uuid, qvirDomainInfo *info,
                        GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    const qvirDomainDef *def;
    pid_t pid = 0;

    if (!obj)
        return FALSE;
    memset(info, 0, sizeof(*info));
    qemuDomainObjLock(obj);
    if ((def = qemuDomainObjGetDef(obj))) {
        info->maxMemKiB = def->memoryKiB;
        info->memoryKiB = def->currentMemoryKiB ? def->currentMemoryKiB : def->memoryKiB;
        info->nrVirtCpu = def->vcpusCurrent ? def->vcpusCurrent : def->vcpus;
    }
    info->state = obj->state;
    if (obj->proc)
        pid = qemuProcessGetPid(obj->proc);
    qemuDomainObjUnlock(obj);
    if (pid > 0)
        info->cpuTimeNs = qemuDriverProcessCpuTime(pid);
    return TRUE;
}

int
qvirDriverDomainIsActive(qvirDriver *drv, const unsigned char *uuid, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    int ret;

    if (!obj)
        return -1;
    qemuDomainObjLock(obj);
    ret = qemuDomainObjIsActive(obj) ? 1 : 0;
    qemuDomainObjUnlock(obj);
    return ret;
}

int
qvirDriverDomainIsPersistent(qvirDriver *drv, const unsigned char *uuid, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    int ret;

    if (!obj)
        return -1;
    qemuDomainObjLock(obj);
    ret = obj->def ? 1 : 0;
    qemuDomainObjUnlock(obj);
    return ret;
}

/*
 * virDomainGetMessages. FLAGS: VIR_DOMAIN_MESSAGE_DEPRECATION 1, TAINTING 2 (0 = both).
 * The taints are those of the running definition (libvirt's custom-argv and
 * custom-hypervisor-feature for the qemu namespace, high-privileges for a disk with
 * rawio='yes'); they go when the domain stops.
 */
GPtrArray *
qvirDriverDomainGetMessages(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                            GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    GPtrArray *msgs;

    if (!qvirCheckFlags(flags, 1 | 2, "qemuDomainGetMessages", error))
        return NULL;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return NULL;
    msgs = g_ptr_array_new_with_free_func(g_free);
    qemuDomainObjLock(obj);
    if ((!flags || (flags & 2)) && obj->liveDef && qemuDomainObjIsActive(obj)) {
        const qvirDomainDef *live = obj->liveDef;

        /* libvirt's order of taint flags: custom-argv before custom-hypervisor-feature */
        if (live->qemuArgs || live->qemuEnv)
            g_ptr_array_add(msgs, g_strdup("tainted: custom configuration parameters specified"));
        if (obj->taintCustomMonitor)
            g_ptr_array_add(msgs, g_strdup("tainted: custom monitor control commands issued"));
        if (qvirDomainDefNeedsRawio(live))
            g_ptr_array_add(msgs,
                            g_strdup("tainted: running with undesirable elevated privileges"));
        if (live->qemuCapsAdd || live->qemuCapsDel)
            g_ptr_array_add(msgs, g_strdup("tainted: hypervisor feature autodetection override"));
    }
    qemuDomainObjUnlock(obj);
    return msgs;
}

/* ---- hypervisor facts -------------------------------------------------------------- */

unsigned long
qvirDriverGetVersion(qvirDriver *drv, GError **error)
{
    const qemuCaps *caps = qemuDriverGetCaps(drv, drv->cfg->emulator, error);

    return caps ? qemuCapsGetVersion(caps) : 0;
}

/* The host's UUID: host_uuid from qvirtd.conf, else the DMI product UUID when readable,
 * else derived from machine-id. */
void
qemuDriverHostUUID(qvirDriver *drv, char *out)
{
    g_autofree char *text = NULL;
    unsigned char uuid[QVIR_UUID_BUFLEN];

    if (drv->cfg->hostUUID) {
        g_strlcpy(out, drv->cfg->hostUUID, QVIR_UUID_STRING_BUFLEN);
        return;
    }

    if (g_file_get_contents("/sys/class/dmi/id/product_uuid", &text, NULL, NULL) &&
        qvirUUIDParse(g_strstrip(text), uuid)) {
        qvirUUIDFormat(uuid, out);
        return;
    }
    g_clear_pointer(&text, g_free);
    if (g_file_get_contents("/etc/machine-id", &text, NULL, NULL)) {
        g_strstrip(text);
        if (strlen(text) == 32) {
            g_autofree char *dashed = g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", text, text + 8,
                                                      text + 12, text + 16, text + 20);
            if (qvirUUIDParse(dashed, uuid)) {
                qvirUUIDFormat(uuid, out);
                return;
            }
        }
    }
    memset(uuid, 0, sizeof(uuid));
    qvirUUIDFormat(uuid, out);
}

static void
qemuDriverFormatMachines(GString *buf, const qemuCaps *caps)
{
    /* Aliases first so each gets its canonical name; then the versioned types. */
    static const char *const candidates[] = {
        "pc",         "q35",   "pc-i440fx-7.2", "pc-q35-7.2", "pc-i440fx-7.1",
        "pc-q35-7.1", "isapc", "microvm",
    };
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (gsize i = 0; i < G_N_ELEMENTS(candidates); i++) {
        const char *name = candidates[i];
        const char *canon;

        if (!qemuCapsHasMachine(caps, name) || g_hash_table_contains(seen, name))
            continue;
        g_hash_table_add(seen, (gpointer)name);
        canon = qemuCapsGetCanonicalMachine(caps, name);
        if (canon && strcmp(canon, name) != 0)
            g_string_append_printf(
                buf, "      <machine canonical='%s' maxCpus='255'>%s</machine>\n", canon, name);
        else
            g_string_append_printf(buf, "      <machine maxCpus='255'>%s</machine>\n", name);
    }
}

char *
qvirDriverGetCapabilities(qvirDriver *drv, GError **error)
{
    const qemuCaps *caps = qemuDriverGetCaps(drv, drv->cfg->emulator, error);
    g_autofree char *emulator = NULL;
    char uuid[QVIR_UUID_STRING_BUFLEN];
    struct utsname uts;
    GString *buf;

    if (!caps)
        return NULL;
    if (uname(&uts) < 0)
        g_strlcpy(uts.machine, "x86_64", sizeof(uts.machine));
    qemuDriverHostUUID(drv, uuid);
    emulator = g_markup_escape_text(drv->cfg->emulator, -1);

    buf = g_string_new("<capabilities>\n\n  <host>\n");
    g_string_append_printf(buf, "    <uuid>%s</uuid>\n", uuid);
    g_string_append_printf(buf, "    <cpu>\n      <arch>%s</arch>\n    </cpu>\n", uts.machine);
    g_string_append(buf, "    <power_management/>\n"
                         "    <iommu support='no'/>\n"
                         "    <migration_features>\n"
                         "      <live/>\n"
                         "    </migration_features>\n"
                         "  </host>\n\n"
                         "  <guest>\n"
                         "    <os_type>hvm</os_type>\n"
                         "    <arch name='x86_64'>\n"
                         "      <wordsize>64</wordsize>\n");
    g_string_append_printf(buf, "      <emulator>%s</emulator>\n", emulator);
    qemuDriverFormatMachines(buf, caps);
    g_string_append(buf, "      <domain type='qemu'/>\n");
    if (g_access("/dev/kvm", R_OK | W_OK) == 0)
        g_string_append(buf, "      <domain type='kvm'/>\n");
    g_string_append(buf, "    </arch>\n"
                         "    <features>\n"
                         "      <acpi default='on' toggle='yes'/>\n"
                         "      <apic default='on' toggle='no'/>\n"
                         "      <cpuselection/>\n"
                         "      <deviceboot/>\n"
                         "      <disksnapshot default='on' toggle='no'/>\n"
                         "    </features>\n"
                         "  </guest>\n\n"
                         "</capabilities>\n");
    return g_string_free(buf, FALSE);
}

/*
 * A client-named emulator is run to probe it: only a binary that nobody but root (or the
 * daemon's own user) could have written is run, so a client of the read-only socket cannot
 * make the daemon execute a program it planted.
 */
static gboolean
qemuDriverCheckClientEmulator(const char *path, GError **error)
{
    GStatBuf st;

    if (!g_path_is_absolute(path)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "emulator path '%s' must be absolute",
                    path);
        return FALSE;
    }
    if (g_stat(path, &st) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Cannot find QEMU binary %s: %s",
                    path, g_strerror(errno));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR) || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
        (st.st_uid != 0 && st.st_uid != geteuid())) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "emulator '%s' is not an executable file owned by root or the daemon's "
                    "user and writable only by its owner",
                    path);
        return FALSE;
    }
    return TRUE;
}

char *
qvirDriverConnectGetDomainCapabilities(qvirDriver *drv, const char *emulator, const char *arch,
                                       const char *machine, const char *virttype,
                                       unsigned int flags, GError **error)
{
    const qemuCaps *caps;
    const char *canon = NULL;
    qvirDomainVirtType type;
    gboolean kvmUsable;

    if (!qvirCheckFlags(flags, 0, "qemuConnectGetDomainCapabilities", error))
        return NULL;
    if (emulator && g_strcmp0(emulator, drv->cfg->emulator) != 0 &&
        !qemuDriverCheckClientEmulator(emulator, error))
        return NULL;
    if (!(caps = qemuDriverGetCaps(drv, emulator ? emulator : drv->cfg->emulator, error)))
        return NULL;
    /* as in the <capabilities>: KVM domains are offered when /dev/kvm is usable */
    kvmUsable = qemuCapsGet(caps, QEMU_CAPS_KVM) && g_access("/dev/kvm", R_OK | W_OK) == 0;
    if (!qemuDomainCapsResolve(caps, arch, machine, virttype, kvmUsable, &canon, &type, error))
        return NULL;
    return qemuDomainCapsFormat(caps, canon, type);
}

/* ---- domxml-to-native ---------------------------------------------------------------- */

/* Quote as libvirt's virBufferEscapeShell does: only when a shell metacharacter occurs. */
static void
qemuDriverAppendShellEscaped(GString *buf, const char *str)
{
    if (!*str) {
        g_string_append(buf, "''");
        return;
    }
    if (!strpbrk(str, "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~")) {
        g_string_append(buf, str);
        return;
    }
    g_string_append_c(buf, '\'');
    for (const char *p = str; *p; p++) {
        if (*p == '\'')
            g_string_append(buf, "'\\'");
        g_string_append_c(buf, *p);
    }
    g_string_append_c(buf, '\'');
}

/* One line, as libvirt's virCommandToString(cmd, false): env, then argv, space-separated. */
char *
qemuDriverCommandLineToString(const qemuCommandLine *cmd)
{
    GString *buf = g_string_new(NULL);

    for (guint i = 0; cmd->env && i < cmd->env->len; i++) {
        const char *env = g_ptr_array_index(cmd->env, i);
        const char *eq;

        if (!env)
            break;
        if (!(eq = strchr(env, '=')))
            continue;
        g_string_append_len(buf, env, eq + 1 - env);
        qemuDriverAppendShellEscaped(buf, eq + 1);
        g_string_append_c(buf, ' ');
    }
    for (guint i = 0; cmd->argv && i < cmd->argv->len; i++) {
        const char *arg = g_ptr_array_index(cmd->argv, i);

        if (!arg)
            break;
        if (i > 0)
            g_string_append_c(buf, ' ');
        qemuDriverAppendShellEscaped(buf, arg);
    }
    return g_string_free(buf, FALSE);
}

static char *
qvirDriverConnectDomainXMLToNativeImpl(qvirDriver *drv, const char *format, const char *xml,
                                       unsigned int flags, GError **error)
{
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(qemuCommandLine) cmd = NULL;
    g_autofree char *domainDir = NULL;
    g_autofree char *monitorPath = NULL;
    qemuBuildCommandLineOpts opts = {0};
    const qemuCaps *caps;

    if (!qvirCheckFlags(flags, 0, __func__, error))
        return NULL;
    if (g_strcmp0(format, "qemu-argv") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported config type %s", format ? format : "");
        return NULL;
    }
    if (!(def = qemuDriverParseDef(drv, xml, error)))
        return NULL;
    if (!(caps = qemuDriverGetCaps(drv, def->emulator, error)))
        return NULL;
    /* Like libvirt's "pretend" start: id -1, nothing on the host is touched, no image is
     * opened, so chains stay as written (QEMU would open unknown backings itself). */
    def->id = -1;
    if (!qemuDomainPrepareForStart(def, caps, error))
        return NULL;
    domainDir = qemuDriverDomainDir(drv, -1, def->name);
    monitorPath = g_build_filename(domainDir, "monitor.sock", NULL);
    opts.monitorPath = monitorPath;
    opts.monitorFd = -1;
    opts.domainDir = domainDir;
    opts.startPaused = TRUE;
    if (!(cmd = qemuBuildCommandLine(def, caps, &opts, error)))
        return NULL;
    return qemuDriverCommandLineToString(cmd);
}

/* libvirt's message text for what the define/start path refuses (virErrorMsg). */
char *
qvirDriverConnectDomainXMLToNative(qvirDriver *drv, const char *format, const char *xml,
                                   unsigned int flags, GError **error)
{
    char *ret = qvirDriverConnectDomainXMLToNativeImpl(drv, format, xml, flags, error);

    if (!ret && error)
        qvirErrorAddPrefix(*error);
    return ret;
}

/* ---- guest control ------------------------------------------------------------------ */

#define QEMU_SHUTDOWN_ACPI_POWER_BTN (1u << 0)
#define QEMU_SHUTDOWN_GUEST_AGENT (1u << 1)
#define QEMU_REBOOT_ACPI_POWER_BTN (1u << 0)
#define QEMU_REBOOT_GUEST_AGENT (1u << 1)
#define QEMU_BLOCK_RESIZE_BYTES (1u << 0)

/* QMP commands of these verbs answer at once; a QEMU that does not is not waited on long. */
#define QEMU_DRIVER_QMP_TIMEOUT_MS 10000

void
qemuDriverRunningEnd(qemuDriverRunning *run)
{
    if (!run->obj)
        return;
    qemuDomainObjEndJob(run->obj);
    g_clear_pointer(&run->obj, qemuDomainObjUnref);
}

gboolean
qemuDriverRunningBegin(qvirDriver *drv, const unsigned char *uuid, qemuDomainJob job,
                       qemuDriverRunning *run, GError **error)
{
    memset(run, 0, sizeof(*run));
    if (!(run->obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    if (!qemuDriverBeginJob(run->obj, job, error)) {
        g_clear_pointer(&run->obj, qemuDomainObjUnref);
        return FALSE;
    }
    qemuDomainObjLock(run->obj);
    if (qemuDomainObjIsActive(run->obj) && run->obj->proc)
        run->mon = qemuProcessGetMonitor(run->obj->proc);
    run->state = run->obj->state;
    run->reason = run->obj->reason;
    qemuDomainObjUnlock(run->obj);
    if (!run->mon) {
        qemuDriverErrorNotRunning(error);
        qemuDriverRunningEnd(run);
        return FALSE;
    }
    return TRUE;
}

static gboolean
qemuDriverQMPSimple(qemuMonitor *mon, const char *cmd, GError **error)
{
    g_autoptr(JsonNode) ret = qemuMonitorCommand(mon, cmd, NULL, QEMU_DRIVER_QMP_TIMEOUT_MS, error);

    return ret != NULL;
}

/* Record a new state of a running OBJ (job held) and tell clients. */
static void
qemuDriverSetRunState(qvirDriver *drv, qemuDomainObj *obj, int state, int reason, int event,
                      int detail)
{
    g_autoptr(GError) err = NULL;

    qemuDomainObjLock(obj);
    obj->state = state;
    obj->reason = reason;
    qemuDomainObjUnlock(obj);
    if (!qemuDriverWriteStatus(drv, obj, &err))
        g_message("domain '%s': %s", obj->name, err->message);
    qemuDriverEmitLifecycle(drv, obj, event, detail);
}

gboolean
qvirDriverDomainSuspend(qvirDriver *drv, const unsigned char *uuid, GError **error)
{
    qemuDriverRunning run;
    gboolean ok = TRUE;

    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_SUSPEND, &run, error))
        return FALSE;
    /* Already paused is success, as in libvirt. The STOP event QEMU sends finds the
     * state already paused and changes nothing. */
    if (run.state != QVIR_DOMAIN_PAUSED) {
        ok = qemuDriverQMPSimple(run.mon, "stop", error);
        if (ok)
            qemuDriverSetRunState(drv, run.obj, QVIR_DOMAIN_PAUSED, QEMU_DOMAIN_PAUSED_USER,
                                  QEMU_EVENT_SUSPENDED, 0 /* paused */);
    }
    qemuDriverRunningEnd(&run);
    return ok;
}

gboolean
qvirDriverDomainResume(qvirDriver *drv, const unsigned char *uuid, GError **error)
{
    qemuDriverRunning run;
    gboolean ok = FALSE;

    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_MODIFY, &run, error))
        return FALSE;
    if (run.state == QVIR_DOMAIN_RUNNING) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is already running");
    } else if (qemuDriverQMPSimple(run.mon, "cont", error)) {
        qemuDriverSetRunState(drv, run.obj, QVIR_DOMAIN_RUNNING, QEMU_DOMAIN_RUNNING_UNPAUSED,
                              QEMU_EVENT_RESUMED, 0 /* unpaused */);
        ok = TRUE;
    }
    qemuDriverRunningEnd(&run);
    return ok;
}

/* No guest agent client: a request that must use one fails as libvirt's does without one. */
static void
qemuDriverErrorNoAgent(GError **error)
{
    g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                        "argument unsupported: QEMU guest agent is not configured");
}

/* system_powerdown on a running (not paused) domain; REBOOT marks it for a restart. */
static gboolean
qemuDriverPowerdown(qvirDriver *drv, const unsigned char *uuid, gboolean reboot,
                    gboolean needRunning, GError **error)
{
    qemuDriverRunning run;
    gboolean ok = FALSE;

    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_MODIFY, &run, error))
        return FALSE;
    if (needRunning && run.state != QVIR_DOMAIN_RUNNING) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is not running");
    } else {
        qemuDomainObjLock(run.obj);
        run.obj->rebootPending = reboot;
        qemuDomainObjUnlock(run.obj);
        ok = qemuDriverQMPSimple(run.mon, "system_powerdown", error);
        if (!ok) {
            qemuDomainObjLock(run.obj);
            run.obj->rebootPending = FALSE;
            qemuDomainObjUnlock(run.obj);
        }
    }
    qemuDriverRunningEnd(&run);
    return ok;
}

static int
qemuDriverGetLifecycle(qvirDriver *drv, const unsigned char *uuid, gboolean reboot, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    const qvirDomainDef *def;
    int action;

    if (!obj)
        return -1;
    qemuDomainObjLock(obj);
    def = qemuDomainObjGetDef(obj);
    action = reboot ? def->onReboot : def->onPoweroff;
    qemuDomainObjUnlock(obj);
    return action;
}

gboolean
qvirDriverDomainShutdown(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                         GError **error)
{
    int onPoweroff;

    if (!qvirCheckFlags(flags, QEMU_SHUTDOWN_ACPI_POWER_BTN | QEMU_SHUTDOWN_GUEST_AGENT, __func__,
                        error))
        return FALSE;
    if (flags == QEMU_SHUTDOWN_GUEST_AGENT) {
        qemuDriverErrorNoAgent(error);
        return FALSE;
    }
    if ((onPoweroff = qemuDriverGetLifecycle(drv, uuid, FALSE, error)) < 0)
        return FALSE;
    /* libvirt: <on_poweroff>restart</on_poweroff> turns a shutdown into a reboot. */
    return qemuDriverPowerdown(drv, uuid,
                               onPoweroff == QVIR_DOMAIN_LIFECYCLE_ACTION_RESTART ||
                                   onPoweroff == QVIR_DOMAIN_LIFECYCLE_ACTION_RESTART_RENAME,
                               TRUE, error);
}

gboolean
qvirDriverDomainReboot(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                       GError **error)
{
    int onReboot;

    if (!qvirCheckFlags(flags, QEMU_REBOOT_ACPI_POWER_BTN | QEMU_REBOOT_GUEST_AGENT, __func__,
                        error))
        return FALSE;
    if (flags == QEMU_REBOOT_GUEST_AGENT) {
        qemuDriverErrorNoAgent(error);
        return FALSE;
    }
    if ((onReboot = qemuDriverGetLifecycle(drv, uuid, TRUE, error)) < 0)
        return FALSE;
    /* libvirt: <on_reboot>destroy|preserve</on_reboot> turns a reboot into a shutdown. */
    return qemuDriverPowerdown(drv, uuid,
                               onReboot != QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY &&
                                   onReboot != QVIR_DOMAIN_LIFECYCLE_ACTION_PRESERVE,
                               FALSE, error);
}

gboolean
qvirDriverDomainReset(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                      GError **error)
{
    qemuDriverRunning run;
    gboolean ok;

    if (!qvirCheckFlags(flags, 0, __func__, error))
        return FALSE;
    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_MODIFY, &run, error))
        return FALSE;
    ok = qemuDriverQMPSimple(run.mon, "system_reset", error);
    if (ok) {
        /* A reset cancels a pending reboot, as in libvirt. */
        qemuDomainObjLock(run.obj);
        run.obj->rebootPending = FALSE;
        qemuDomainObjUnlock(run.obj);
    }
    qemuDriverRunningEnd(&run);
    return ok;
}

/* ---- disk statistics ------------------------------------------------------------------ */

/* The disk PATH names in DEF (target or top path), or libvirt's error. */
static const qvirDomainDiskDef *
qemuDriverFindDisk(const qvirDomainDef *def, const char *path, const char *fmt, GError **error)
{
    const qvirDomainDiskDef *disk = def ? qvirDomainDiskByName(def, path) : NULL;

    if (!disk)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, fmt, path);
    return disk;
}

JsonObject *
qemuDriverJsonObjectMember(JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member(obj, name) : NULL;

    return node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

const char *
qemuDriverJsonString(JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member(obj, name) : NULL;

    return node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING
               ? json_node_get_string(node)
               : NULL;
}

/* An integer member, or -1 when absent. */
long long
qemuDriverJsonInt(JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member(obj, name) : NULL;

    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
        return -1;
    return json_node_get_int(node);
}

/* The array COMMAND returns (a new reference), or NULL with ERROR. */
JsonNode *
qemuDriverQMPArray(qemuMonitor *mon, const char *command, JsonObject *args, GError **error)
{
    JsonNode *ret = qemuMonitorCommand(mon, command, args, QEMU_DRIVER_QMP_TIMEOUT_MS, error);

    if (ret && !JSON_NODE_HOLDS_ARRAY(ret)) {
        json_node_unref(ret);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: %s reply was not an array", command);
        return NULL;
    }
    return ret;
}

/* Does a query-blockstats / query-block ENTRY belong to DISK? With -blockdev the entry
 * names the device's root node and its qdev (id or QOM path under /machine/peripheral). */
gboolean
qemuDriverEntryIsDisk(JsonObject *entry, const qvirDomainDiskDef *disk)
{
    const char *node = qemuDriverJsonString(entry, "node-name");
    const char *qdev = qemuDriverJsonString(entry, "qdev");
    JsonObject *inserted = qemuDriverJsonObjectMember(entry, "inserted");

    if (!node && inserted)
        node = qemuDriverJsonString(inserted, "node-name");
    if (node && disk->src && g_strcmp0(node, disk->src->nodeFormat) == 0)
        return TRUE;
    if (qdev && disk->info.alias) {
        g_autofree char *qom = g_strdup_printf("/machine/peripheral/%s/", disk->info.alias);

        return g_str_equal(qdev, disk->info.alias) || g_str_has_prefix(qdev, qom);
    }
    return FALSE;
}

/* Running OBJ (job held): a private copy of its live definition. */
static qvirDomainDef *
qemuDriverLiveDefCopy(qemuDomainObj *obj, GError **error)
{
    qvirDomainDef *def;

    qemuDomainObjLock(obj);
    def =
        obj->liveDef ? qvirDomainDefCopy(obj->liveDef, QVIR_DOMAIN_DEF_FORMAT_STATUS, error) : NULL;
    qemuDomainObjUnlock(obj);
    if (!def && error && !*error)
        qemuDriverErrorNotRunning(error);
    return def;
}

static void
qemuDriverStatsAdd(long long *sum, long long val)
{
    if (val < 0)
        return;
    *sum = *sum < 0 ? val : *sum + val;
}

gboolean
qvirDriverDomainBlockStats(qvirDriver *drv, const unsigned char *uuid, const char *path,
                           qvirDomainBlockStats *stats, GError **error)
{
    qemuDriverRunning run;
    g_autoptr(qvirDomainDef) live = NULL;
    g_autoptr(JsonNode) ret = NULL;
    const qvirDomainDiskDef *disk = NULL;
    gboolean all = !path || !*path;
    gboolean found = FALSE;
    JsonArray *arr;

    memset(stats, 0xff, sizeof(*stats)); /* every counter -1 */
    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_QUERY, &run, error))
        return FALSE;
    if (!(live = qemuDriverLiveDefCopy(run.obj, error)) ||
        (!all &&
         !(disk = qemuDriverFindDisk(live, path, "invalid argument: invalid path: %s", error))) ||
        !(ret = qemuDriverQMPArray(run.mon, "query-blockstats", NULL, error))) {
        qemuDriverRunningEnd(&run);
        return FALSE;
    }
    qemuDriverRunningEnd(&run);

    arr = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *entry = json_array_get_object_element(arr, i);
        JsonObject *st = qemuDriverJsonObjectMember(entry, "stats");
        gboolean match = FALSE;

        if (!st)
            continue;
        if (all) {
            /* Every disk of the domain once: entries that belong to one of them. */
            for (guint d = 0; d < live->disks->len && !match; d++)
                match = qemuDriverEntryIsDisk(entry, g_ptr_array_index(live->disks, d));
        } else {
            match = qemuDriverEntryIsDisk(entry, disk);
        }
        if (!match)
            continue;
        found = TRUE;
        qemuDriverStatsAdd(&stats->rdReq, qemuDriverJsonInt(st, "rd_operations"));
        qemuDriverStatsAdd(&stats->rdBytes, qemuDriverJsonInt(st, "rd_bytes"));
        qemuDriverStatsAdd(&stats->wrReq, qemuDriverJsonInt(st, "wr_operations"));
        qemuDriverStatsAdd(&stats->wrBytes, qemuDriverJsonInt(st, "wr_bytes"));
        qemuDriverStatsAdd(&stats->flushReq, qemuDriverJsonInt(st, "flush_operations"));
        qemuDriverStatsAdd(&stats->rdTotalTimes, qemuDriverJsonInt(st, "rd_total_time_ns"));
        qemuDriverStatsAdd(&stats->wrTotalTimes, qemuDriverJsonInt(st, "wr_total_time_ns"));
        qemuDriverStatsAdd(&stats->flushTotalTimes, qemuDriverJsonInt(st, "flush_total_time_ns"));
        if (!all)
            break;
    }
    if (!found && !all) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: cannot find statistics for device '%s'", path);
        return FALSE;
    }
    return TRUE;
}

/* The node NAME of a query-named-block-nodes reply, or NULL. */
JsonObject *
qemuDriverFindNode(JsonArray *nodes, const char *name)
{
    for (guint i = 0; name && i < json_array_get_length(nodes); i++) {
        JsonObject *node = json_array_get_object_element(nodes, i);

        if (g_strcmp0(qemuDriverJsonString(node, "node-name"), name) == 0)
            return node;
    }
    return NULL;
}

/* wr_highest_offset of DISK's storage node from query-blockstats, -1 when unknown. */
static long long
qemuDriverWrHighestOffset(JsonArray *stats, const qvirDomainDiskDef *disk)
{
    for (guint i = 0; i < json_array_get_length(stats); i++) {
        JsonObject *entry = json_array_get_object_element(stats, i);
        JsonObject *parent;

        if (!qemuDriverEntryIsDisk(entry, disk))
            continue;
        /* The format node's "parent" is its storage node, where guest writes land. */
        parent = qemuDriverJsonObjectMember(entry, "parent");
        return qemuDriverJsonInt(qemuDriverJsonObjectMember(parent ? parent : entry, "stats"),
                                 "wr_highest_offset");
    }
    return -1;
}

static gboolean
qemuDriverBlockInfoInactive(qvirDriver *drv, const qvirDomainDiskDef *disk,
                            qvirDomainBlockInfo *info, GError **error)
{
    g_autoptr(qvirStorageSource) src = qvirStorageSourceCopy(disk->src);
    qvirStorageChainConfig cfg;
    GStatBuf st;

    qvirStorageChainConfigInit(&cfg);
    cfg.allowFormatProbing = drv->cfg->allowDiskFormatProbing;
    cfg.probeNetwork = drv->cfg->probeNetworkBackingChains;
    cfg.maxDepth = drv->cfg->maxBackingChainDepth;
    cfg.diskName = disk->dst;
    if (!qvirStorageChainProbe(src, &cfg, error))
        return FALSE;
    if (g_stat(src->path, &st) < 0) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot stat file '%s': %s",
                    src->path, g_strerror(saved));
        return FALSE;
    }
    info->physical = st.st_size;
    info->allocation = (unsigned long long)st.st_blocks * 512;
    info->capacity = src->capacity ? src->capacity : (unsigned long long)st.st_size;
    return TRUE;
}

gboolean
qvirDriverDomainGetBlockInfo(qvirDriver *drv, const unsigned char *uuid, const char *path,
                             unsigned int flags, qvirDomainBlockInfo *info, GError **error)
{
    static const char *badPath = "invalid argument: invalid path %s not assigned to domain";
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(JsonNode) nodes = NULL;
    g_autoptr(JsonNode) stats = NULL;
    g_autoptr(JsonObject) args = NULL;
    const qvirDomainDiskDef *disk;
    qemuMonitor *mon = NULL;
    JsonObject *node, *image;
    long long virtualSize, actualSize, highest;
    unsigned long long entryPhysical;
    GStatBuf st;

    memset(info, 0, sizeof(*info));
    if (!qvirCheckFlags(flags, 0, __func__, error) || !(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_QUERY, error))
        return FALSE;
    qemuDomainObjLock(obj);
    if (qemuDomainObjIsActive(obj) && obj->proc)
        mon = qemuProcessGetMonitor(obj->proc);
    def = qvirDomainDefCopy(qemuDomainObjGetDef(obj), QVIR_DOMAIN_DEF_FORMAT_STATUS, error);
    qemuDomainObjUnlock(obj);
    if (!def || !(disk = qemuDriverFindDisk(def, path, badPath, error)))
        goto error;
    if (!disk->src || !disk->src->path || !*disk->src->path) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: disk '%s' does not currently have a source assigned", path);
        goto error;
    }
    if (!mon) {
        gboolean ok = qemuDriverBlockInfoInactive(drv, disk, info, error);

        qemuDomainObjEndJob(obj);
        return ok;
    }

    args = json_object_new();
    json_object_set_boolean_member(args, "flat", TRUE);
    if (!(nodes = qemuDriverQMPArray(mon, "query-named-block-nodes", args, error)) ||
        !(stats = qemuDriverQMPArray(mon, "query-blockstats", NULL, error)))
        goto error;
    qemuDomainObjEndJob(obj);

    node = qemuDriverFindNode(json_node_get_array(nodes), disk->src->nodeFormat);
    image = qemuDriverJsonObjectMember(node, "image");
    if ((virtualSize = qemuDriverJsonInt(image, "virtual-size")) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: cannot get stats for disk '%s'", disk->dst);
        return FALSE;
    }
    actualSize = qemuDriverJsonInt(image, "actual-size");
    entryPhysical = actualSize > 0 ? (unsigned long long)actualSize : 0;
    highest = qemuDriverWrHighestOffset(json_node_get_array(stats), disk);

    /* libvirt's rules (qemuDomainGetBlockInfo): a qcow2 file, or no write seen, reports the
     * allocated size; otherwise the highest offset written. */
    if (highest < 0 ||
        (disk->src->type == QVIR_STORAGE_TYPE_FILE && disk->src->format == QVIR_STORAGE_FILE_QCOW2))
        info->allocation = entryPhysical;
    else
        info->allocation = highest;
    /* A sparse file: the host file's size is the physical size. */
    if (entryPhysical == 0 || info->allocation == 0 || info->allocation == entryPhysical) {
        if (info->allocation == 0)
            info->allocation = entryPhysical;
        info->physical =
            g_stat(disk->src->path, &st) == 0 ? (unsigned long long)st.st_size : entryPhysical;
    } else {
        info->physical = entryPhysical;
    }
    info->capacity = virtualSize;
    return TRUE;

error:
    qemuDomainObjEndJob(obj);
    return FALSE;
}

void
qvirDomainDiskErrorFree(qvirDomainDiskError *err)
{
    if (!err)
        return;
    g_free(err->disk);
    g_free(err);
}

GPtrArray *
qvirDriverDomainGetDiskErrors(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                              GError **error)
{
    qemuDriverRunning run;
    g_autoptr(qvirDomainDef) live = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(GPtrArray) errs = NULL;
    JsonArray *arr;

    if (!qvirCheckFlags(flags, 0, __func__, error) ||
        !qemuDriverRunningBegin(drv, uuid, QEMU_JOB_QUERY, &run, error))
        return NULL;
    live = qemuDriverLiveDefCopy(run.obj, error);
    ret = live ? qemuDriverQMPArray(run.mon, "query-block", NULL, error) : NULL;
    qemuDriverRunningEnd(&run);
    if (!ret)
        return NULL;

    errs = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainDiskErrorFree);
    arr = json_node_get_array(ret);
    for (guint d = 0; d < live->disks->len; d++) {
        for (guint i = 0; i < json_array_get_length(arr); i++) {
            JsonObject *entry = json_array_get_object_element(arr, i);
            const char *status = qemuDriverJsonString(entry, "io-status");
            qvirDomainDiskError *err;

            if (!qemuDriverEntryIsDisk(entry, g_ptr_array_index(live->disks, d)))
                continue;
            if (!status || g_str_equal(status, "ok"))
                break;
            err = g_new0(qvirDomainDiskError, 1);
            err->disk = g_strdup(((qvirDomainDiskDef *)g_ptr_array_index(live->disks, d))->dst);
            err->error = g_str_equal(status, "nospace") ? 2 : 1;
            g_ptr_array_add(errs, err);
            break;
        }
    }
    return g_steal_pointer(&errs);
}

gboolean
qvirDriverDomainBlockResize(qvirDriver *drv, const unsigned char *uuid, const char *path,
                            unsigned long long size, unsigned int flags, GError **error)
{
    qemuDriverRunning run;
    g_autoptr(qvirDomainDef) live = NULL;
    g_autoptr(JsonNode) ret = NULL;
    JsonObject *args;
    qvirDomainDiskDef *disk;

    if (!qvirCheckFlags(flags, QEMU_BLOCK_RESIZE_BYTES, __func__, error))
        return FALSE;
    if (!(flags & QEMU_BLOCK_RESIZE_BYTES)) {
        if (size > G_MAXUINT64 / 1024) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OVERFLOW,
                        "numerical overflow: size must be less than %llu",
                        (unsigned long long)(G_MAXUINT64 / 1024));
            return FALSE;
        }
        size *= 1024;
    }
    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_MODIFY, &run, error))
        return FALSE;
    if (!(live = qemuDriverLiveDefCopy(run.obj, error)) ||
        !(disk = (qvirDomainDiskDef *)qemuDriverFindDisk(
              live, path, "invalid argument: disk '%s' was not found in the domain config",
              error))) {
        qemuDriverRunningEnd(&run);
        return FALSE;
    }
    /* qcow2 and qed sizes are whole sectors: libvirt rounds up. */
    if ((disk->src->format == QVIR_STORAGE_FILE_QCOW2 ||
         disk->src->format == QVIR_STORAGE_FILE_QED) &&
        size % 512)
        size = (size + 511) & ~511ull;
    /* (an nbd export may be nameless: a network source needs no path) */
    if (!qvirStorageSourceIsBacking(disk->src) ||
        (!disk->src->path && disk->src->type != QVIR_STORAGE_TYPE_NETWORK) || disk->src->readonly ||
        !disk->src->nodeFormat) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "Operation not supported: can't resize empty or readonly disk '%s'", disk->dst);
        qemuDriverRunningEnd(&run);
        return FALSE;
    }
    args = json_object_new();
    json_object_set_string_member(args, "node-name", disk->src->nodeFormat);
    json_object_set_int_member(args, "size", (gint64)size);
    ret = qemuMonitorCommandSteal(run.mon, "block_resize", args, QEMU_DRIVER_QMP_TIMEOUT_MS, error);
    if (ret) {
        g_autoptr(GError) err = NULL;
        qvirDomainDef *old;

        /* The cached capacity follows without reading the header again. */
        disk->src->capacity = size;
        qemuDomainObjLock(run.obj);
        old = run.obj->liveDef;
        run.obj->liveDef = g_steal_pointer(&live);
        qemuDomainObjUnlock(run.obj);
        qvirDomainDefFree(old);
        if (!qemuDriverWriteStatus(drv, run.obj, &err))
            g_message("domain '%s': %s", run.obj->name, err->message);
    }
    qemuDriverRunningEnd(&run);
    return ret != NULL;
}

/* ---- memory statistics ----------------------------------------------------------------- */

/* Resident set size of PID in KiB from /proc (field 24 of stat, in pages); 0 if unknown. */
static unsigned long long
qemuDriverProcessRssKiB(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%lld/stat", (long long)pid);
    g_autofree char *stat = NULL;
    g_auto(GStrv) fields = NULL;
    const char *rest;
    long page = sysconf(_SC_PAGESIZE);
    guint64 pages;

    if (pid <= 0 || page <= 0 || !g_file_get_contents(path, &stat, NULL, NULL) ||
        !(rest = strrchr(stat, ')')))
        return 0;
    fields = g_strsplit(rest + 2, " ", 0);
    /* fields[0] is field 3; rss is field 24. */
    if (g_strv_length(fields) < 22 ||
        !g_ascii_string_to_unsigned(fields[21], 10, 0, G_MAXUINT64, &pages, NULL))
        return 0;
    return pages * (unsigned long long)page / 1024;
}

/* virDomainMemoryStatTags */
typedef enum {
    QEMU_MEMSTAT_SWAP_IN = 0,
    QEMU_MEMSTAT_SWAP_OUT = 1,
    QEMU_MEMSTAT_MAJOR_FAULT = 2,
    QEMU_MEMSTAT_MINOR_FAULT = 3,
    QEMU_MEMSTAT_UNUSED = 4,
    QEMU_MEMSTAT_AVAILABLE = 5,
    QEMU_MEMSTAT_ACTUAL_BALLOON = 6,
    QEMU_MEMSTAT_RSS = 7,
    QEMU_MEMSTAT_USABLE = 8,
    QEMU_MEMSTAT_LAST_UPDATE = 9,
    QEMU_MEMSTAT_DISK_CACHES = 10,
    QEMU_MEMSTAT_HUGETLB_PGALLOC = 11,
    QEMU_MEMSTAT_HUGETLB_PGFAIL = 12,
} qemuDriverMemStatTag;

/* The balloon's guest-stats in libvirt's order (qemuMonitorJSONGetMemoryStats), with the
 * divisor that makes KiB of bytes. "last-update" sits beside "stats", not in it. */
static const struct {
    const char *name;
    int tag;
    guint64 divisor;
} qemuDriverBalloonStats[] = {
    {"stat-swap-in", QEMU_MEMSTAT_SWAP_IN, 1024},
    {"stat-swap-out", QEMU_MEMSTAT_SWAP_OUT, 1024},
    {"stat-major-faults", QEMU_MEMSTAT_MAJOR_FAULT, 1},
    {"stat-minor-faults", QEMU_MEMSTAT_MINOR_FAULT, 1},
    {"stat-free-memory", QEMU_MEMSTAT_UNUSED, 1024},
    {"stat-total-memory", QEMU_MEMSTAT_AVAILABLE, 1024},
    {"stat-available-memory", QEMU_MEMSTAT_USABLE, 1024},
    {"last-update", QEMU_MEMSTAT_LAST_UPDATE, 1},
    {"stat-disk-caches", QEMU_MEMSTAT_DISK_CACHES, 1024},
    {"stat-htlb-pgalloc", QEMU_MEMSTAT_HUGETLB_PGALLOC, 1},
    {"stat-htlb-pgfail", QEMU_MEMSTAT_HUGETLB_PGFAIL, 1},
};

static void
qemuDriverMemStatAdd(GArray *stats, int tag, guint64 val)
{
    qvirDomainMemoryStat st = {.tag = tag, .val = val};

    g_array_append_val(stats, st);
}

/* What the balloon knows, as libvirt asks it: query-balloon's "actual", then guest-stats
 * of the device. A statistic the guest never reported is -1 (QEMU's all-ones uint64) and
 * left out; so, with no polling period set, only last_update (0) remains. As libvirt,
 * a failing query only shortens the list. */
static void
qemuDriverBalloonMemStats(qemuMonitor *mon, const char *alias, GArray *stats)
{
    g_autoptr(JsonNode) balloon = NULL;
    g_autoptr(JsonNode) guest = NULL;
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", alias);
    JsonObject *args;
    JsonObject *data;
    JsonObject *inner;
    long long actual;

    balloon = qemuMonitorCommand(mon, "query-balloon", NULL, QEMU_DRIVER_QMP_TIMEOUT_MS, NULL);
    if (balloon && JSON_NODE_HOLDS_OBJECT(balloon) &&
        (actual = qemuDriverJsonInt(json_node_get_object(balloon), "actual")) >= 0)
        qemuDriverMemStatAdd(stats, QEMU_MEMSTAT_ACTUAL_BALLOON, (guint64)actual / 1024);

    args = json_object_new();
    json_object_set_string_member(args, "path", path);
    json_object_set_string_member(args, "property", "guest-stats");
    guest = qemuMonitorCommandSteal(mon, "qom-get", args, QEMU_DRIVER_QMP_TIMEOUT_MS, NULL);
    if (!guest || !JSON_NODE_HOLDS_OBJECT(guest))
        return;
    data = json_node_get_object(guest);
    if (!(inner = qemuDriverJsonObjectMember(data, "stats")))
        return;
    for (guint i = 0; i < G_N_ELEMENTS(qemuDriverBalloonStats); i++) {
        JsonObject *from = qemuDriverBalloonStats[i].tag == QEMU_MEMSTAT_LAST_UPDATE ? data : inner;
        JsonNode *node = json_object_get_member(from, qemuDriverBalloonStats[i].name);
        gint64 val;

        if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
            continue;
        /* json-glib reads QEMU's 18446744073709551615 as -1 */
        if ((val = json_node_get_int(node)) == -1)
            continue;
        qemuDriverMemStatAdd(stats, qemuDriverBalloonStats[i].tag,
                             (guint64)val / qemuDriverBalloonStats[i].divisor);
    }
}

GArray *
qvirDriverDomainMemoryStats(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                            GError **error)
{
    qemuDriverRunning run;
    g_autoptr(GArray) stats = g_array_new(FALSE, FALSE, sizeof(qvirDomainMemoryStat));
    g_autofree char *alias = NULL;
    const qvirDomainDef *def;
    pid_t pid = 0;

    if (!qvirCheckFlags(flags, 0, "qemuDomainMemoryStats", error))
        return NULL;
    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_QUERY, &run, error))
        return NULL;
    qemuDomainObjLock(run.obj);
    if (run.obj->proc)
        pid = qemuProcessGetPid(run.obj->proc);
    if ((def = qemuDomainObjGetDef(run.obj)) && def->memballoon &&
        g_strcmp0(def->memballoon->model, "virtio") == 0)
        alias = g_strdup(def->memballoon->info.alias ? def->memballoon->info.alias : "balloon0");
    qemuDomainObjUnlock(run.obj);
    if (alias)
        qemuDriverBalloonMemStats(run.mon, alias, stats);
    qemuDriverRunningEnd(&run);
    qemuDriverMemStatAdd(stats, QEMU_MEMSTAT_RSS, qemuDriverProcessRssKiB(pid));
    return g_steal_pointer(&stats);
}

/* ---- metadata -------------------------------------------------------------------------- */

/* libvirt's VIR_ERR_NO_DOMAIN_METADATA; qvirErrorCode has no name for it. */
#define QEMU_ERR_NO_DOMAIN_METADATA 80
#define QEMU_AFFECT_LIVE (1u << 0)
#define QEMU_AFFECT_CONFIG (1u << 1)

char *
qvirDriverDomainGetMetadata(qvirDriver *drv, const unsigned char *uuid, int type,
                            unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    const qvirDomainDef *def;
    char *value = NULL;
    gboolean active;

    if (!qvirCheckFlags(flags, QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG, __func__, error))
        return NULL;
    if ((flags & QEMU_AFFECT_LIVE) && (flags & QEMU_AFFECT_CONFIG)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: Flags 'VIR_DOMAIN_AFFECT_LIVE' and "
                            "'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive");
        return NULL;
    }
    if (type == 2) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                            "argument unsupported: metadata elements are not supported");
        return NULL;
    }
    if (type != 0 && type != 1) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unknown metadata type '%d'", type);
        return NULL;
    }
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return NULL;
    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj);
    if ((flags & QEMU_AFFECT_LIVE) && !active) {
        qemuDomainObjUnlock(obj);
        qemuDriverErrorNotRunning(error);
        return NULL;
    }
    if (flags & QEMU_AFFECT_CONFIG)
        def = obj->def ? obj->def : NULL;
    else
        def = qemuDomainObjGetDef(obj);
    if (def) {
        const char *str = type == 0 ? def->description : def->title;

        value = g_strdup(str);
    }
    qemuDomainObjUnlock(obj);
    if (!value) {
        if ((flags & QEMU_AFFECT_CONFIG) && !def)
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                                "Requested operation is not valid: cannot change persistent "
                                "config of a transient domain");
        else
            g_set_error_literal(error, QVIR_ERROR, QEMU_ERR_NO_DOMAIN_METADATA,
                                "metadata not found: Requested metadata element is not "
                                "present");
    }
    return value;
}
