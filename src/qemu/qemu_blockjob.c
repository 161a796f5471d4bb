/*
 * qemu_blockjob.c: block pull / commit jobs and QMP event waits of a running domain.
 */
#include "qemu/qemu_blockjob.h"
#include "qemu/qemu_block.h"

#include <string.h>

#include "util/virerror.h"
#include "qemu/qemu_chainedit.h"
#include "qemu/qemu_hotplug.h"
#include "security/security_dac.h"

#define QEMU_BLOCKJOB_TIMEOUT_MS QEMU_MONITOR_DEFAULT_TIMEOUT_MS
/*
 * How long starting a job waits for it to settle (end, or be ready to pivot). A small job
 * is then over before the call returns, so its event goes out before the client's first
 * poll: virsh --wait sleeps 500 ms between polls and would otherwise pay that for a job
 * of a few milliseconds. A long job costs at most this much more.
 */
#define QEMU_BLOCKJOB_SETTLE_MS 50

QVIR_ENUM_IMPL(qemuBlockJobType, QEMU_BLOCKJOB_TYPE_LAST, "", "pull", "copy", "commit",
               "active-commit");

typedef enum {
    QEMU_BLOCKJOB_STATE_RUNNING = 0,
    QEMU_BLOCKJOB_STATE_READY,     /* mirror phase of an active commit: pivot possible */
    QEMU_BLOCKJOB_STATE_CONCLUDED, /* QEMU ended it; the chain edit is still to be done */
} qemuBlockJobState;

typedef struct {
    char *name; /* QEMU job-id */
    char *dst;
    char *path; /* disk top when started, for the BLOCK_JOB event */
    qemuBlockJobType type;
    /* The layers by node name: pointers into the chain could go stale if the disk went
     * away meanwhile; a node name is looked up again when the job is processed. */
    char *topNode;
    char *baseNode; /* NULL: pull of the whole chain */
    char *backingName;
    qemuBlockJobState state;
    gboolean wasReady;
    gboolean readyReported;
    gboolean pivotRequested;
    gboolean abortRequested;
    qemuBlockJobStatus result;
    char *errmsg;
    /* copy: the destination chain QEMU has as nodes (baseNode names its top). With
     * SHALLOW its backing layers are a copy of the disk's own, shared with QEMU's chain. */
    qvirStorageSource *mirror;
    gboolean shallow;
    /* A reused shallow destination's own backing layers are not open in QEMU yet: they
     * are opened under its top at the pivot (qemuBlockJobsCopyPendingBacking). */
    gboolean backingAtPivot;
} qemuBlockJob;

struct _qemuEventWatch {
    qemuBlockJobs *jobs;
    char *name;
    char *key;
    char *value;
    gboolean seen;
};

struct _qemuBlockJobs {
    GMutex lock;
    GCond cond;
    GPtrArray *jobs;           /* qemuBlockJob* */
    GPtrArray *watches;        /* qemuEventWatch*, not owned */
    qvirSecurityDAC *security; /* not owned; NULL: no labels */
    /* Copy destinations read back from the daemon's state after a restart, by disk target,
     * until qemuBlockJobsReconnect adopts their jobs. */
    GHashTable *pendingMirrors;
    /* Chains disk-only snapshots were switching to when the daemon died, by disk target,
     * until qemuBlockJobsReconnect settles them. */
    GHashTable *pendingSnapshots;
};

static void
qemuBlockJobFree(qemuBlockJob *job)
{
    if (!job)
        return;
    g_free(job->name);
    g_free(job->dst);
    g_free(job->path);
    g_free(job->topNode);
    g_free(job->baseNode);
    g_free(job->backingName);
    g_free(job->errmsg);
    qvirStorageSourceFree(job->mirror);
    g_free(job);
}

void
qemuBlockJobEventFree(qemuBlockJobEvent *ev)
{
    if (!ev)
        return;
    g_free(ev->dst);
    g_free(ev->path);
    g_free(ev->error);
    g_free(ev);
}

qemuBlockJobs *
qemuBlockJobsNew(void)
{
    qemuBlockJobs *jobs = g_new0(qemuBlockJobs, 1);

    g_mutex_init(&jobs->lock);
    g_cond_init(&jobs->cond);
    jobs->jobs = g_ptr_array_new_with_free_func((GDestroyNotify)qemuBlockJobFree);
    jobs->watches = g_ptr_array_new();
    jobs->pendingMirrors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                 (GDestroyNotify)qvirStorageSourceFree);
    jobs->pendingSnapshots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                   (GDestroyNotify)qvirStorageSourceFree);
    return jobs;
}

void
qemuBlockJobsFree(qemuBlockJobs *jobs)
{
    if (!jobs)
        return;
    /* Watches belong to waiters, which must be gone before the table is. */
    g_warn_if_fail(jobs->watches->len == 0);
    g_ptr_array_unref(jobs->jobs);
    g_ptr_array_unref(jobs->watches);
    g_hash_table_unref(jobs->pendingMirrors);
    g_hash_table_unref(jobs->pendingSnapshots);
    g_mutex_clear(&jobs->lock);
    g_cond_clear(&jobs->cond);
    g_free(jobs);
}

/* Caller holds jobs->lock. */
static qemuBlockJob *
qemuBlockJobsFindLocked(qemuBlockJobs *jobs, const char *name, const char *dst)
{
    for (guint i = 0; i < jobs->jobs->len; i++) {
        qemuBlockJob *job = g_ptr_array_index(jobs->jobs, i);

        if ((name && strcmp(job->name, name) == 0) || (dst && strcmp(job->dst, dst) == 0))
            return job;
    }
    return NULL;
}

gboolean
qemuBlockJobsDiskHasJob(qemuBlockJobs *jobs, const char *dst)
{
    gboolean ret;

    g_mutex_lock(&jobs->lock);
    ret = qemuBlockJobsFindLocked(jobs, NULL, dst) != NULL;
    g_mutex_unlock(&jobs->lock);
    return ret;
}

gboolean
qemuBlockJobsCheckDiskIdle(qemuBlockJobs *jobs, const char *dst, GError **error)
{
    qemuBlockJob *job;
    gboolean mirror = FALSE;

    g_mutex_lock(&jobs->lock);
    if ((job = qemuBlockJobsFindLocked(jobs, NULL, dst)))
        mirror =
            job->type == QEMU_BLOCKJOB_TYPE_COPY || job->type == QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT;
    g_mutex_unlock(&jobs->lock);
    if (!job)
        return TRUE;
    if (mirror)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_BLOCK_COPY_ACTIVE,
                    "block copy still active: disk '%s' already in active block job", dst);
    else
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "Operation not supported: disk '%s' already in active block job", dst);
    return FALSE;
}

/* ---- events ------------------------------------------------------------------------------ */

static const char *
qemuBlockJobsDataString(JsonObject *data, const char *key)
{
    JsonNode *node;

    if (!data || !(node = json_object_get_member(data, key)) ||
        json_node_get_value_type(node) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string(node);
}

static void
qemuBlockJobsMatchWatches(qemuBlockJobs *jobs, const char *name, JsonObject *data)
{
    for (guint i = 0; i < jobs->watches->len; i++) {
        qemuEventWatch *w = g_ptr_array_index(jobs->watches, i);

        if (w->seen || strcmp(w->name, name) != 0)
            continue;
        if (w->key && g_strcmp0(qemuBlockJobsDataString(data, w->key), w->value) != 0)
            continue;
        w->seen = TRUE;
    }
}

/* Caller holds jobs->lock. Returns TRUE when the job changed state. */
static gboolean
qemuBlockJobsHandleJobEvent(qemuBlockJobs *jobs, const char *name, JsonObject *data)
{
    const char *id = qemuBlockJobsDataString(data, "device");
    qemuBlockJob *job;

    if (!id || !(job = qemuBlockJobsFindLocked(jobs, id, NULL)) ||
        job->state == QEMU_BLOCKJOB_STATE_CONCLUDED)
        return FALSE;

    if (strcmp(name, "BLOCK_JOB_READY") == 0) {
        job->state = QEMU_BLOCKJOB_STATE_READY;
        job->wasReady = TRUE;
        return TRUE;
    }
    if (strcmp(name, "BLOCK_JOB_COMPLETED") == 0) {
        const char *err = qemuBlockJobsDataString(data, "error");

        if (err) {
            job->result = QEMU_BLOCKJOB_STATUS_FAILED;
            job->errmsg = g_strdup(err);
        } else if (job->abortRequested && !job->pivotRequested) {
            /* A ready mirror that is cancelled reports COMPLETED, but nothing pivoted. */
            job->result = QEMU_BLOCKJOB_STATUS_CANCELED;
        } else {
            job->result = QEMU_BLOCKJOB_STATUS_COMPLETED;
        }
        job->state = QEMU_BLOCKJOB_STATE_CONCLUDED;
        return TRUE;
    }
    if (strcmp(name, "BLOCK_JOB_CANCELLED") == 0) {
        job->result = QEMU_BLOCKJOB_STATUS_CANCELED;
        job->state = QEMU_BLOCKJOB_STATE_CONCLUDED;
        return TRUE;
    }
    return FALSE;
}

gboolean
qemuBlockJobsHandleEvent(qemuBlockJobs *jobs, const char *name, JsonObject *data)
{
    gboolean changed = FALSE;

    if (!jobs || !name)
        return FALSE;

    g_mutex_lock(&jobs->lock);
    qemuBlockJobsMatchWatches(jobs, name, data);
    if (g_str_has_prefix(name, "BLOCK_JOB_"))
        changed = qemuBlockJobsHandleJobEvent(jobs, name, data);
    g_cond_broadcast(&jobs->cond);
    g_mutex_unlock(&jobs->lock);
    return changed;
}

qemuEventWatch *
qemuBlockJobsWatchEvent(qemuBlockJobs *jobs, const char *name, const char *key, const char *value)
{
    qemuEventWatch *w = g_new0(qemuEventWatch, 1);

    w->jobs = jobs;
    w->name = g_strdup(name);
    w->key = g_strdup(key);
    w->value = g_strdup(value);
    g_mutex_lock(&jobs->lock);
    g_ptr_array_add(jobs->watches, w);
    g_mutex_unlock(&jobs->lock);
    return w;
}

gboolean
qemuEventWatchWait(qemuEventWatch *watch, unsigned int timeoutMs)
{
    qemuBlockJobs *jobs = watch->jobs;
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutMs * G_TIME_SPAN_MILLISECOND;
    gboolean seen;

    g_mutex_lock(&jobs->lock);
    while (!watch->seen) {
        if (!g_cond_wait_until(&jobs->cond, &jobs->lock, deadline))
            break;
    }
    seen = watch->seen;
    g_mutex_unlock(&jobs->lock);
    return seen;
}

void
qemuEventWatchFree(qemuEventWatch *watch)
{
    if (!watch)
        return;
    g_mutex_lock(&watch->jobs->lock);
    g_ptr_array_remove(watch->jobs->watches, watch);
    g_mutex_unlock(&watch->jobs->lock);
    g_free(watch->name);
    g_free(watch->key);
    g_free(watch->value);
    g_free(watch);
}

gboolean
qemuBlockJobWait(qemuBlockJobs *jobs, const char *dst, gboolean forReady, unsigned int timeoutMs)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutMs * G_TIME_SPAN_MILLISECOND;
    gboolean done = FALSE;

    g_mutex_lock(&jobs->lock);
    for (;;) {
        qemuBlockJob *job = qemuBlockJobsFindLocked(jobs, NULL, dst);

        if (!job || job->state == QEMU_BLOCKJOB_STATE_CONCLUDED ||
            (forReady && job->state == QEMU_BLOCKJOB_STATE_READY)) {
            done = TRUE;
            break;
        }
        if (!g_cond_wait_until(&jobs->cond, &jobs->lock, deadline))
            break;
    }
    g_mutex_unlock(&jobs->lock);
    return done;
}

/* ---- starting jobs -------------------------------------------------------------------- */

static gboolean
qemuBlockJobCheckDisk(qemuBlockJobs *jobs, qvirDomainDiskDef *disk, GError **error)
{
    if (!qvirStorageSourceIsBacking(disk->src) || !disk->src->nodeFormat) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "disk '%s' does not have a source in use", disk->dst);
        return FALSE;
    }
    if (!disk->src->backingStore) {
        /* Not reachable for chains filled at start; refuse rather than guess. */
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "backing chain of disk '%s' is not known", disk->dst);
        return FALSE;
    }
    if (!qemuBlockJobsCheckDiskIdle(jobs, disk->dst, error))
        return FALSE;
    /* its overlay is discarded at stop: a job would move data into or out of it */
    if (disk->transient) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "block jobs are not supported on transient disk '%s'", disk->dst);
        return FALSE;
    }
    return TRUE;
}

/*
 * The job's QEMU id says everything needed to adopt it again after a daemon restart:
 * "TYPE.DST.TOPNODE[.BASENODE]" ('.' never occurs in targets or our node names).
 */
static const char *const qemuBlockJobNamePrefix[QEMU_BLOCKJOB_TYPE_LAST] = {
    [QEMU_BLOCKJOB_TYPE_PULL] = "pull",
    [QEMU_BLOCKJOB_TYPE_COPY] = "copy",
    [QEMU_BLOCKJOB_TYPE_COMMIT] = "commit",
    [QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT] = "acommit",
};

static char *
qemuBlockJobMakeName(qemuBlockJobType type, const char *dst, const char *top, const char *base)
{
    if (base)
        return g_strdup_printf("%s.%s.%s.%s", qemuBlockJobNamePrefix[type], dst, top, base);
    return g_strdup_printf("%s.%s.%s", qemuBlockJobNamePrefix[type], dst, top);
}

static qemuBlockJob *
qemuBlockJobParseName(const char *name)
{
    g_auto(GStrv) parts = g_strsplit(name, ".", 0);
    guint n = g_strv_length(parts);
    qemuBlockJob *job;
    int type = -1;

    if (n != 3 && n != 4)
        return NULL;
    for (int t = 0; t < QEMU_BLOCKJOB_TYPE_LAST; t++) {
        if (qemuBlockJobNamePrefix[t] && strcmp(parts[0], qemuBlockJobNamePrefix[t]) == 0)
            type = t;
    }
    if (type < 0 || !*parts[1] || !*parts[2] || (n == 4 && !*parts[3]))
        return NULL;
    job = g_new0(qemuBlockJob, 1);
    job->type = type;
    job->name = g_strdup(name);
    job->dst = g_strdup(parts[1]);
    job->topNode = g_strdup(parts[2]);
    job->baseNode = n == 4 ? g_strdup(parts[3]) : NULL;
    return job;
}

static qemuBlockJob *
qemuBlockJobNew(qemuBlockJobType type, qvirDomainDiskDef *disk, qvirStorageSource *top,
                qvirStorageSource *base, const char *backingName)
{
    qemuBlockJob *job = g_new0(qemuBlockJob, 1);

    job->type = type;
    job->name =
        qemuBlockJobMakeName(type, disk->dst, top->nodeFormat, base ? base->nodeFormat : NULL);
    job->dst = g_strdup(disk->dst);
    job->path = g_strdup(disk->src->path);
    job->topNode = g_strdup(top->nodeFormat);
    job->baseNode = base ? g_strdup(base->nodeFormat) : NULL;
    job->backingName = g_strdup(backingName);
    return job;
}

/*
 * Register JOB before its command: QEMU may end a small job before the command's reply
 * has been read, and that event must find the job. On failure the job is dropped.
 */
static gboolean
qemuBlockJobStart(qemuBlockJobs *jobs, qemuMonitor *mon, qemuBlockJob *job, const char *command,
                  JsonObject *args, GError **error)
{
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *name = g_strdup(job->name);

    g_mutex_lock(&jobs->lock);
    g_ptr_array_add(jobs->jobs, job);
    g_mutex_unlock(&jobs->lock);

    if ((ret = qemuMonitorCommand(mon, command, args, QEMU_BLOCKJOB_TIMEOUT_MS, error))) {
        g_autofree char *dst = NULL;
        gboolean forReady = FALSE;

        g_mutex_lock(&jobs->lock);
        if ((job = qemuBlockJobsFindLocked(jobs, name, NULL))) {
            dst = g_strdup(job->dst);
            forReady = job->type == QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT ||
                       job->type == QEMU_BLOCKJOB_TYPE_COPY;
        }
        g_mutex_unlock(&jobs->lock);
        if (dst)
            (void)qemuBlockJobWait(jobs, dst, forReady, QEMU_BLOCKJOB_SETTLE_MS);
        return TRUE;
    }

    g_mutex_lock(&jobs->lock);
    if ((job = qemuBlockJobsFindLocked(jobs, name, NULL))) {
        job->mirror = NULL; /* a copy's destination stays the caller's */
        g_ptr_array_remove(jobs->jobs, job);
    }
    g_mutex_unlock(&jobs->lock);
    return FALSE;
}

static qvirStorageSource *
qemuBlockJobDeepest(qvirStorageSource *top)
{
    qvirStorageSource *last = top;

    for (; qvirStorageSourceIsBacking(top); top = top->backingStore)
        last = top;
    return last;
}

gboolean
qemuBlockJobPull(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def, qvirDomainDiskDef *disk,
                 const char *base, unsigned long long bandwidth, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autofree char *backing = NULL;
    qvirStorageSource *baseSrc = NULL;
    qemuBlockJob *job;

    g_return_val_if_fail(jobs != NULL && mon != NULL && def != NULL && disk != NULL, FALSE);

    if (!qemuBlockJobCheckDisk(jobs, disk, error))
        return FALSE;
    if (!qvirStorageSourceIsBacking(disk->src->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "top '%s' in chain for '%s' has no backing file", disk->src->path, disk->dst);
        return FALSE;
    }
    if (base && !(baseSrc = qemuChainLookup(disk->src, disk->src, base, disk->dst, NULL, error)))
        return FALSE;
    if (baseSrc && !baseSrc->nodeFormat) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "image '%s' has no node name",
                    baseSrc->path);
        return FALSE;
    }

    /* the name the overlay keeps for its new backing: a network base's URI or json: */
    if (baseSrc && !(backing = qemuBlockGetBackingStoreString(baseSrc, error)))
        return FALSE;
    job = qemuBlockJobNew(QEMU_BLOCKJOB_TYPE_PULL, disk, disk->src, baseSrc, backing);
    json_object_set_string_member(args, "job-id", job->name);
    json_object_set_string_member(args, "device", disk->src->nodeFormat);
    if (baseSrc) {
        json_object_set_string_member(args, "base-node", baseSrc->nodeFormat);
        json_object_set_string_member(args, "backing-file", backing);
    }
    if (bandwidth)
        json_object_set_int_member(args, "speed", (gint64)MIN(bandwidth, (guint64)G_MAXINT64));
    return qemuBlockJobStart(jobs, mon, job, "block-stream", args, error);
}

gboolean
qemuBlockJobCommitLookup(qvirDomainDiskDef *disk, const char *top, const char *base,
                         qvirStorageSource **topSrc, qvirStorageSource **baseSrc, GError **error)
{
    *topSrc = disk->src;
    if (top && g_strcmp0(top, disk->dst) != 0 &&
        !(*topSrc = qemuChainLookup(disk->src, NULL, top, disk->dst, NULL, error)))
        return FALSE;
    if (base)
        return (*baseSrc = qemuChainLookup(disk->src, *topSrc, base, disk->dst, NULL, error)) !=
               NULL;
    if (!qvirStorageSourceIsBacking(*topSrc) ||
        !qvirStorageSourceIsBacking((*topSrc)->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: could not find base image in chain for '%s'", disk->dst);
        return FALSE;
    }
    *baseSrc = qemuBlockJobDeepest((*topSrc)->backingStore);
    return TRUE;
}

gboolean
qemuBlockJobCommit(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def,
                   qvirDomainDiskDef *disk, const char *top, const char *base, gboolean active,
                   unsigned long long bandwidth, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autofree char *backing = NULL;
    qvirStorageSource *topSrc = disk->src;
    qvirStorageSource *baseSrc;
    qemuBlockJob *job;
    gboolean isActive;

    g_return_val_if_fail(jobs != NULL && mon != NULL && def != NULL && disk != NULL, FALSE);

    /* libvirt's order: both names are looked up first (the base beneath the top), then the
     * disk and the flags are checked (qemuDomainBlockCommit, qemuBlockCommit) */
    if (!qemuBlockJobCommitLookup(disk, top, base, &topSrc, &baseSrc, error))
        return FALSE;
    if (!qemuBlockJobCheckDisk(jobs, disk, error))
        return FALSE;

    isActive = topSrc == disk->src;
    if (isActive && !active) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "commit of '%s' active layer requires active flag", disk->dst);
        return FALSE;
    }
    if (!isActive && active) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "active commit requested but '%s' is not active", topSrc->path);
        return FALSE;
    }
    if (!qvirStorageSourceIsBacking(topSrc->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "top '%s' in chain for '%s' has no backing file", topSrc->path,
                    disk->src->path);
        return FALSE;
    }
    if (!topSrc->nodeFormat || !baseSrc->nodeFormat) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "chain of disk '%s' has layers without node names", disk->dst);
        return FALSE;
    }

    if (!isActive && !(backing = qemuBlockGetBackingStoreString(baseSrc, error)))
        return FALSE;
    job = qemuBlockJobNew(isActive ? QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT : QEMU_BLOCKJOB_TYPE_COMMIT,
                          disk, topSrc, baseSrc, backing);
    json_object_set_string_member(args, "job-id", job->name);
    json_object_set_string_member(args, "device", disk->src->nodeFormat);
    json_object_set_string_member(args, "top-node", topSrc->nodeFormat);
    json_object_set_string_member(args, "base-node", baseSrc->nodeFormat);
    /* QEMU refuses a backing name for the active layer: nothing above it records one. */
    if (!isActive)
        json_object_set_string_member(args, "backing-file", backing);
    if (bandwidth)
        json_object_set_int_member(args, "speed", (gint64)MIN(bandwidth, (guint64)G_MAXINT64));
    return qemuBlockJobStart(jobs, mon, job, "block-commit", args, error);
}

void
qemuBlockJobsSetSecurity(qemuBlockJobs *jobs, qvirSecurityDAC *security)
{
    jobs->security = security;
}

unsigned int
qemuBlockJobsMirrorMaxIndex(qemuBlockJobs *jobs)
{
    unsigned int max = 0;

    g_mutex_lock(&jobs->lock);
    for (guint i = 0; i < jobs->jobs->len; i++) {
        qemuBlockJob *job = g_ptr_array_index(jobs->jobs, i);

        for (qvirStorageSource *s = job->mirror; qvirStorageSourceIsBacking(s); s = s->backingStore)
            max = MAX(max, s->id);
    }
    g_mutex_unlock(&jobs->lock);
    return max;
}

/* Whether MIRROR's backing layers are DISK's own (a shallow copy): same top node name. */
static gboolean
qemuBlockJobMirrorIsShallow(const qvirDomainDiskDef *disk, const qvirStorageSource *mirror)
{
    return qvirStorageSourceIsBacking(mirror->backingStore) &&
           qvirStorageSourceIsBacking(disk->src->backingStore) &&
           g_strcmp0(mirror->backingStore->nodeFormat, disk->src->backingStore->nodeFormat) == 0;
}

gboolean
qemuBlockJobCopy(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def, qvirDomainDiskDef *disk,
                 qvirStorageSource **mirror, const qemuBlockJobCopyOpts *opts, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    qemuBlockJob *job;

    g_return_val_if_fail(jobs != NULL && mon != NULL && def != NULL && disk != NULL, FALSE);
    g_return_val_if_fail(mirror != NULL && *mirror != NULL && (*mirror)->nodeFormat, FALSE);

    if (!qemuBlockJobCheckDisk(jobs, disk, error))
        return FALSE;

    job = qemuBlockJobNew(QEMU_BLOCKJOB_TYPE_COPY, disk, disk->src, *mirror, NULL);
    job->shallow = qemuBlockJobMirrorIsShallow(disk, *mirror);
    job->backingAtPivot =
        opts->shallowReused && qvirStorageSourceIsBacking((*mirror)->backingStore);
    json_object_set_string_member(args, "job-id", job->name);
    json_object_set_string_member(args, "device", disk->src->nodeFormat);
    json_object_set_string_member(args, "target", (*mirror)->nodeFormat);
    json_object_set_string_member(args, "sync",
                                  job->shallow || opts->shallowReused ? "top" : "full");
    if (opts->bandwidth)
        json_object_set_int_member(args, "speed",
                                   (gint64)MIN(opts->bandwidth, (guint64)G_MAXINT64));
    if (opts->granularity)
        json_object_set_int_member(args, "granularity", opts->granularity);
    if (opts->bufSize)
        json_object_set_int_member(args, "buf-size",
                                   (gint64)MIN(opts->bufSize, (guint64)G_MAXINT64));
    if (opts->syncWrites)
        json_object_set_string_member(args, "copy-mode", "write-blocking");
    /* The nodes are ours: QEMU must not delete or replace them on its own. */
    json_object_set_boolean_member(args, "auto-finalize", TRUE);
    json_object_set_boolean_member(args, "auto-dismiss", TRUE);
    job->mirror = *mirror;
    if (!qemuBlockJobStart(jobs, mon, job, "blockdev-mirror", args, error))
        return FALSE;
    *mirror = NULL;
    return TRUE;
}

gboolean
qemuBlockJobAbort(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDiskDef *disk, gboolean pivot,
                  GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *name = NULL;
    qemuBlockJob *job;
    qemuBlockJobState state = QEMU_BLOCKJOB_STATE_RUNNING;
    qemuBlockJobType type = QEMU_BLOCKJOB_TYPE_UNKNOWN;

    g_mutex_lock(&jobs->lock);
    job = qemuBlockJobsFindLocked(jobs, NULL, disk->dst);
    if (job) {
        name = g_strdup(job->name);
        state = job->state;
        type = job->type;
    }
    g_mutex_unlock(&jobs->lock);

    if (!job || state == QEMU_BLOCKJOB_STATE_CONCLUDED) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: disk %s does not have an active block job", disk->dst);
        return FALSE;
    }
    /* libvirt's order (qemuBlockPivot): readiness first, so a pull or an inner commit,
     * never ready, is "not ready" too */
    if (pivot) {
        if (state != QEMU_BLOCKJOB_STATE_READY) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_BLOCK_COPY_ACTIVE,
                        "block copy still active: block job '%s' not ready for pivot yet", name);
            return FALSE;
        }
        if (type != QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT && type != QEMU_BLOCKJOB_TYPE_COPY) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                        "Requested operation is not valid: job type '%s' does not support pivot",
                        qemuBlockJobTypeTypeToString(type));
            return FALSE;
        }
    }

    /* Mark the intent first: the event that ends the job may beat the reply. */
    g_mutex_lock(&jobs->lock);
    if ((job = qemuBlockJobsFindLocked(jobs, name, NULL))) {
        if (pivot)
            job->pivotRequested = TRUE;
        else
            job->abortRequested = TRUE;
    }
    g_mutex_unlock(&jobs->lock);

    if (pivot) {
        json_object_set_string_member(args, "id", name);
        ret = qemuMonitorCommand(mon, "job-complete", args, QEMU_BLOCKJOB_TIMEOUT_MS, error);
    } else {
        json_object_set_string_member(args, "device", name);
        ret = qemuMonitorCommand(mon, "block-job-cancel", args, QEMU_BLOCKJOB_TIMEOUT_MS, error);
    }
    if (ret)
        return TRUE;

    g_mutex_lock(&jobs->lock);
    if ((job = qemuBlockJobsFindLocked(jobs, name, NULL)) &&
        job->state != QEMU_BLOCKJOB_STATE_CONCLUDED) {
        job->pivotRequested = job->abortRequested = FALSE;
    }
    g_mutex_unlock(&jobs->lock);
    return FALSE;
}

static JsonObject *
qemuBlockJobQuery(qemuMonitor *mon, const char *name, GError **error)
{
    g_autoptr(JsonNode) ret = NULL;
    JsonArray *arr;

    if (!(ret = qemuMonitorCommand(mon, "query-block-jobs", NULL, QEMU_BLOCKJOB_TIMEOUT_MS, error)))
        return NULL;
    if (!JSON_NODE_HOLDS_ARRAY(ret)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "unexpected reply to query-block-jobs");
        return NULL;
    }
    arr = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonNode *n = json_array_get_element(arr, i);
        JsonObject *o;

        if (!JSON_NODE_HOLDS_OBJECT(n))
            continue;
        o = json_node_get_object(n);
        if (g_strcmp0(qemuBlockJobsDataString(o, "device"), name) == 0)
            return json_object_ref(o);
    }
    return NULL;
}

static unsigned long long
qemuBlockJobIntMember(JsonObject *o, const char *key)
{
    JsonNode *n = json_object_get_member(o, key);
    gint64 v;

    if (!n || json_node_get_value_type(n) != G_TYPE_INT64)
        return 0;
    v = json_node_get_int(n);
    return v < 0 ? 0 : (unsigned long long)v;
}

gboolean
qemuBlockJobSetSpeed(qemuBlockJobs *jobs, qemuMonitor *mon, const qvirDomainDiskDef *disk,
                     unsigned long long bandwidth, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *name = NULL;
    qemuBlockJob *job;

    g_mutex_lock(&jobs->lock);
    if ((job = qemuBlockJobsFindLocked(jobs, NULL, disk->dst)) &&
        job->state != QEMU_BLOCKJOB_STATE_CONCLUDED)
        name = g_strdup(job->name);
    g_mutex_unlock(&jobs->lock);
    if (!name) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: disk %s does not have an active block job", disk->dst);
        return FALSE;
    }
    json_object_set_string_member(args, "device", name);
    json_object_set_int_member(args, "speed", (gint64)MIN(bandwidth, (guint64)G_MAXINT64));
    ret = qemuMonitorCommand(mon, "block-job-set-speed", args, QEMU_BLOCKJOB_TIMEOUT_MS, error);
    return ret != NULL;
}

int
qemuBlockJobGetInfo(qemuBlockJobs *jobs, qemuMonitor *mon, const qvirDomainDiskDef *disk,
                    qemuBlockJobInfo *info, GError **error)
{
    g_autoptr(JsonObject) o = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;
    qemuBlockJob *job;
    qemuBlockJobType type = QEMU_BLOCKJOB_TYPE_UNKNOWN;
    gboolean ready = FALSE;

    memset(info, 0, sizeof(*info));
    g_mutex_lock(&jobs->lock);
    job = qemuBlockJobsFindLocked(jobs, NULL, disk->dst);
    if (job && job->state != QEMU_BLOCKJOB_STATE_CONCLUDED) {
        name = g_strdup(job->name);
        type = job->type;
        ready = job->state == QEMU_BLOCKJOB_STATE_READY;
    }
    g_mutex_unlock(&jobs->lock);
    if (!name)
        return 0;

    if (!(o = qemuBlockJobQuery(mon, name, &err))) {
        if (err) {
            g_propagate_error(error, g_steal_pointer(&err));
            return -1;
        }
        return 0; /* ended between our look and QEMU's answer; the event follows */
    }

    info->type = type;
    info->cur = qemuBlockJobIntMember(o, "offset");
    info->end = qemuBlockJobIntMember(o, "len");
    info->bandwidth = qemuBlockJobIntMember(o, "speed");
    info->ready =
        ready || (json_object_has_member(o, "ready") && json_object_get_boolean_member(o, "ready"));
    /* virsh --wait --pivot pivots as soon as cur == end; before the job is ready that
     * pivot would be refused, so an active commit shows as unfinished until then. */
    if ((type == QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT || type == QEMU_BLOCKJOB_TYPE_COPY) &&
        !info->ready && info->cur == info->end)
        info->end++;
    return 1;
}

/* ---- processing ended jobs ------------------------------------------------------------ */

static qvirStorageSource *
qemuBlockJobFindNode(qvirStorageSource *top, const char *node)
{
    for (; node && qvirStorageSourceIsBacking(top); top = top->backingStore) {
        if (g_strcmp0(top->nodeFormat, node) == 0)
            return top;
    }
    return NULL;
}

/*
 * Split off the layers of a copy's destination that belong to it alone (with SHALLOW its
 * backing layers are the disk's own) and return them; MIRROR keeps the shared part.
 */
static qvirStorageSource *
qemuBlockJobMirrorOwn(qemuBlockJob *job)
{
    qvirStorageSource *own = g_steal_pointer(&job->mirror);

    if (job->shallow && own)
        g_clear_pointer(&own->backingStore, qvirStorageSourceFree);
    return own;
}

/*
 * A copy that ended without a pivot (aborted, finished, failed): its destination leaves
 * QEMU and goes back to its owner. The disk's chain is untouched.
 */
static void
qemuBlockJobDropMirror(qemuBlockJobs *jobs, qemuMonitor *mon, qemuBlockJob *job)
{
    g_autoptr(qvirStorageSource) own = qemuBlockJobMirrorOwn(job);
    g_autoptr(GError) err = NULL;

    if (!own)
        return;
    if (job->backingAtPivot) {
        /* QEMU has only the top: its backing layers were never opened */
        qvirStorageSource *below = g_steal_pointer(&own->backingStore);

        if (!qemuHotplugBlockdevDelChain(mon, own, &err))
            g_message("block job '%s': %s", job->name, err->message);
        own->backingStore = below;
    } else if (!qemuHotplugBlockdevDelChain(mon, own, &err)) {
        g_message("block job '%s': %s", job->name, err->message);
    }
    qvirSecurityDACRestoreChainLabel(jobs->security, own);
}

/*
 * QEMU switched DISK to the copy's destination (job-complete): the cached chain becomes
 * the destination's, as the job recorded it (no image is read). The layers that left are
 * deleted from QEMU; their labels are restored by the caller, which compares the chains.
 */
static gboolean
qemuBlockJobApplyPivot(qemuMonitor *mon, qvirDomainDiskDef *disk, qemuBlockJob *job, GError **error)
{
    g_autoptr(qvirStorageSource) old = NULL;
    g_autoptr(GError) err = NULL;

    if (!job->mirror || g_strcmp0(disk->src->nodeFormat, job->topNode) != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "chain of disk '%s' no longer holds the layers of block job '%s'", job->dst,
                    job->name);
        return FALSE;
    }
    old = disk->src;
    disk->src = g_steal_pointer(&job->mirror);
    /* A shallow copy's destination sits on the disk's old backing layers: they stay. */
    if (job->shallow)
        g_clear_pointer(&old->backingStore, qvirStorageSourceFree);
    disk->src->readonly = old->readonly;
    disk->src->shared = old->shared;
    if (!qemuHotplugBlockdevDelChain(mon, old, &err))
        g_warning("block job '%s': %s", job->name, err->message);
    return TRUE;
}

/* The chain edit for JOB that QEMU completed. */
static gboolean
qemuBlockJobApply(qemuMonitor *mon, qvirDomainDef *def, qemuBlockJob *job, GError **error)
{
    qvirDomainDiskDef *disk = qvirDomainDiskByTarget(def, job->dst);
    g_autoptr(qvirStorageSource) removed = NULL;
    qvirStorageSource *top;
    qvirStorageSource *base = NULL;
    gboolean ok = FALSE;

    if (!disk) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "disk '%s' of block job '%s' is gone", job->dst, job->name);
        return FALSE;
    }
    if (job->type == QEMU_BLOCKJOB_TYPE_COPY)
        return qemuBlockJobApplyPivot(mon, disk, job, error);
    top = qemuBlockJobFindNode(disk->src, job->topNode);
    if (job->baseNode)
        base = qemuBlockJobFindNode(disk->src, job->baseNode);
    if (!top || (job->baseNode && !base)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "chain of disk '%s' no longer holds the layers of block job '%s'", job->dst,
                    job->name);
        return FALSE;
    }

    switch (job->type) {
    case QEMU_BLOCKJOB_TYPE_PULL:
        ok = qemuChainEditPull(top, base, job->backingName, &removed, error);
        break;
    case QEMU_BLOCKJOB_TYPE_COMMIT:
        ok = qemuChainEditCommit(disk->src, top, base, job->backingName, &removed, error);
        break;
    case QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT:
        ok = qemuChainEditActiveCommit(&disk->src, base, &removed, error);
        break;
    case QEMU_BLOCKJOB_TYPE_COPY:
    case QEMU_BLOCKJOB_TYPE_UNKNOWN:
    case QEMU_BLOCKJOB_TYPE_LAST:
    default:
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "unsupported block job type %d",
                    job->type);
        return FALSE;
    }
    if (!ok)
        return FALSE;

    /* The merged layers left QEMU's graph but their nodes live on until deleted. */
    if (removed) {
        g_autoptr(GError) err = NULL;

        if (!qemuHotplugBlockdevDelChain(mon, removed, &err))
            g_warning("block job '%s': %s", job->name, err->message);
    }
    return TRUE;
}

static qemuBlockJobEvent *
qemuBlockJobEventNew(const qemuBlockJob *job, qemuBlockJobStatus status)
{
    qemuBlockJobEvent *ev = g_new0(qemuBlockJobEvent, 1);

    ev->dst = g_strdup(job->dst);
    ev->path = g_strdup(job->path);
    ev->type = job->type;
    ev->status = status;
    ev->error = g_strdup(job->errmsg);
    return ev;
}

gboolean
qemuBlockJobsProcess(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def, GPtrArray *events,
                     GError **error)
{
    g_autoptr(GPtrArray) ended = g_ptr_array_new_with_free_func((GDestroyNotify)qemuBlockJobFree);
    gboolean ret = TRUE;

    g_mutex_lock(&jobs->lock);
    for (guint i = 0; i < jobs->jobs->len;) {
        qemuBlockJob *job = g_ptr_array_index(jobs->jobs, i);

        /* A job may have become ready and ended between two runs: clients still see
         * the ready event first. */
        if (job->wasReady && !job->readyReported) {
            job->readyReported = TRUE;
            if (events)
                g_ptr_array_add(events, qemuBlockJobEventNew(job, QEMU_BLOCKJOB_STATUS_READY));
        }
        if (job->state == QEMU_BLOCKJOB_STATE_CONCLUDED) {
            g_ptr_array_add(ended, g_ptr_array_steal_index(jobs->jobs, i));
            continue;
        }
        i++;
    }
    g_mutex_unlock(&jobs->lock);

    /* Monitor calls happen without the table's lock: the reader thread needs it. */
    for (guint i = 0; i < ended->len; i++) {
        qemuBlockJob *job = g_ptr_array_index(ended, i);
        qemuBlockJobStatus status = job->result;

        if (status == QEMU_BLOCKJOB_STATUS_FAILED)
            g_message("block job '%s' failed: %s", job->name,
                      job->errmsg ? job->errmsg : "unknown error");
        /* A copy pivots only when asked to; any other end keeps the disk's chain. */
        if (job->type == QEMU_BLOCKJOB_TYPE_COPY &&
            (status != QEMU_BLOCKJOB_STATUS_COMPLETED || !job->pivotRequested)) {
            qemuBlockJobDropMirror(jobs, mon, job);
            if (events)
                g_ptr_array_add(events, qemuBlockJobEventNew(job, status));
            continue;
        }
        if (status == QEMU_BLOCKJOB_STATUS_COMPLETED) {
            GError *err = NULL;

            if (!qemuBlockJobApply(mon, def, job, &err)) {
                status = QEMU_BLOCKJOB_STATUS_FAILED;
                g_free(job->errmsg);
                job->errmsg = g_strdup(err->message);
                if (ret && error)
                    g_propagate_error(error, err);
                else
                    g_error_free(err);
                ret = FALSE;
            }
        }
        if (events)
            g_ptr_array_add(events, qemuBlockJobEventNew(job, status));
    }
    return ret;
}

/* ---- after a daemon restart ----------------------------------------------------------- */

static gint64
qemuBlockJobsGraphId(JsonArray *nodes, const char *name)
{
    for (guint i = 0; i < json_array_get_length(nodes); i++) {
        JsonNode *n = json_array_get_element(nodes, i);
        JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;

        if (o && g_strcmp0(qemuBlockJobsDataString(o, "name"), name) == 0 &&
            json_object_has_member(o, "id"))
            return json_object_get_int_member(o, "id");
    }
    return -1;
}

static const char *
qemuBlockJobsGraphName(JsonArray *nodes, gint64 id)
{
    for (guint i = 0; i < json_array_get_length(nodes); i++) {
        JsonNode *n = json_array_get_element(nodes, i);
        JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;

        if (o && json_object_has_member(o, "id") && json_object_get_int_member(o, "id") == id)
            return qemuBlockJobsDataString(o, "name");
    }
    return NULL;
}

static const char *
qemuBlockJobsGraphChild(JsonArray *nodes, JsonArray *edges, const char *parent, const char *edge)
{
    gint64 pid = qemuBlockJobsGraphId(nodes, parent);

    for (guint i = 0; pid >= 0 && i < json_array_get_length(edges); i++) {
        JsonNode *n = json_array_get_element(edges, i);
        JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;

        if (o && json_object_has_member(o, "parent") && json_object_has_member(o, "child") &&
            json_object_get_int_member(o, "parent") == pid &&
            g_strcmp0(qemuBlockJobsDataString(o, "name"), edge) == 0)
            return qemuBlockJobsGraphName(nodes, json_object_get_int_member(o, "child"));
    }
    return NULL;
}

/* Step over QEMU's implicit filter nodes ("#blockNNN", inserted by running jobs). */
static const char *
qemuBlockJobsGraphSkipImplicit(JsonArray *nodes, JsonArray *edges, const char *name)
{
    for (guint guard = 0; name && name[0] == '#' && guard < 16; guard++) {
        const char *below = qemuBlockJobsGraphChild(nodes, edges, name, "backing");

        name = below ? below : qemuBlockJobsGraphChild(nodes, edges, name, "file");
    }
    return name;
}

/*
 * QEMU's chain under the device ALIAS, as format node names from the top down, read from
 * QEMU's block graph (x-debug-query-block-graph: node names and edges, which no other
 * QMP query of QEMU 7.2 gives). Empty when the device has no medium.
 */
static GPtrArray *
qemuBlockJobsQemuChain(JsonObject *graph, const char *alias)
{
    GPtrArray *chain = g_ptr_array_new_with_free_func(g_free);
    JsonArray *nodes = NULL;
    JsonArray *edges = NULL;
    g_autofree char *plain = g_strdup_printf("/machine/peripheral/%s", alias);
    g_autofree char *virtio = g_strdup_printf("/machine/peripheral/%s/virtio-backend", alias);
    const char *cur = NULL;

    if (json_object_has_member(graph, "nodes"))
        nodes = json_object_get_array_member(graph, "nodes");
    if (json_object_has_member(graph, "edges"))
        edges = json_object_get_array_member(graph, "edges");
    if (!nodes || !edges)
        return chain;

    if (qemuBlockJobsGraphId(nodes, virtio) >= 0)
        cur = qemuBlockJobsGraphChild(nodes, edges, virtio, "root");
    else if (qemuBlockJobsGraphId(nodes, plain) >= 0)
        cur = qemuBlockJobsGraphChild(nodes, edges, plain, "root");

    for (guint depth = 0; depth < 1000; depth++) {
        if (!(cur = qemuBlockJobsGraphSkipImplicit(nodes, edges, cur)))
            break;
        g_ptr_array_add(chain, g_strdup(cur));
        cur = qemuBlockJobsGraphChild(nodes, edges, cur, "backing");
    }
    return chain;
}

static gboolean
qemuBlockJobsStrIn(GPtrArray *list, const char *str)
{
    for (guint i = 0; str && i < list->len; i++) {
        if (strcmp(g_ptr_array_index(list, i), str) == 0)
            return TRUE;
    }
    return FALSE;
}

/*
 * A job ended while nobody listened: QEMU's chain is the cached one with some layers
 * gone. Drop those layers from the cache with the same edits a completed job makes (no
 * image is read); REMOVED collects them for blockdev-del. Layers QEMU has and the cache
 * does not cannot come from a job: refused.
 */
static gboolean
qemuBlockJobsResyncDisk(qvirDomainDiskDef *disk, GPtrArray *qnodes, GPtrArray *removed,
                        GError **error)
{
    guint pos = 0;

    /* QEMU's layers must be the cache's, in the same order. */
    for (qvirStorageSource *s = disk->src; qvirStorageSourceIsBacking(s); s = s->backingStore) {
        if (pos < qnodes->len && g_strcmp0(s->nodeFormat, g_ptr_array_index(qnodes, pos)) == 0)
            pos++;
    }
    if (pos != qnodes->len || qnodes->len == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "chain of disk '%s' in QEMU does not follow its cached chain", disk->dst);
        return FALSE;
    }

    for (;;) {
        qvirStorageSource *parent = NULL;
        qvirStorageSource *drop = NULL;
        qvirStorageSource *keep;
        qvirStorageSource *gone = NULL;
        gboolean ok;

        for (qvirStorageSource *s = disk->src; qvirStorageSourceIsBacking(s);
             parent = s, s = s->backingStore) {
            if (!qemuBlockJobsStrIn(qnodes, s->nodeFormat)) {
                drop = s;
                break;
            }
        }
        if (!drop)
            return TRUE;
        for (keep = drop->backingStore;
             qvirStorageSourceIsBacking(keep) && !qemuBlockJobsStrIn(qnodes, keep->nodeFormat);
             keep = keep->backingStore)
            ;
        if (!qvirStorageSourceIsBacking(keep))
            keep = NULL;

        if (!parent)
            ok = keep && qemuChainEditActiveCommit(&disk->src, keep, &gone, error);
        else if (parent == disk->src)
            ok = qemuChainEditPull(parent, keep, NULL, &gone, error);
        else
            ok = keep && qemuChainEditCommit(disk->src, drop, keep, NULL, &gone, error);
        if (!ok) {
            if (error && !*error)
                g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "cannot follow QEMU's chain of disk '%s'", disk->dst);
            return FALSE;
        }
        if (gone)
            g_ptr_array_add(removed, gone);
    }
}

static void
qemuBlockJobsAdopt(qemuBlockJobs *jobs, qvirDomainDef *def, JsonObject *info)
{
    const char *name = qemuBlockJobsDataString(info, "device");
    qemuBlockJob *job;
    qvirDomainDiskDef *disk;
    qvirStorageSource *base = NULL;
    gboolean exists;

    if (!name || !(job = qemuBlockJobParseName(name)))
        return; /* not one of ours */
    disk = qvirDomainDiskByTarget(def, job->dst);
    if (disk && job->type == QEMU_BLOCKJOB_TYPE_COPY) {
        /* The destination is not in the disk's chain: it comes from the saved state. */
        g_autofree char *key = NULL;

        g_mutex_lock(&jobs->lock);
        if (!g_hash_table_steal_extended(jobs->pendingMirrors, job->dst, (gpointer *)&key,
                                         (gpointer *)&job->mirror))
            job->mirror = NULL;
        g_mutex_unlock(&jobs->lock);
        if (job->mirror && g_strcmp0(job->mirror->nodeFormat, job->baseNode) != 0)
            g_clear_pointer(&job->mirror, qvirStorageSourceFree);
        if (!job->mirror) {
            g_message("block copy '%s' has no saved destination; not adopted", name);
            qemuBlockJobFree(job);
            return;
        }
        job->shallow = qemuBlockJobMirrorIsShallow(disk, job->mirror);
        g_clear_pointer(&job->baseNode, g_free);
        job->baseNode = g_strdup(job->mirror->nodeFormat);
    }
    if (!disk || !qemuBlockJobFindNode(disk->src, job->topNode) ||
        (job->baseNode && job->type != QEMU_BLOCKJOB_TYPE_COPY &&
         !(base = qemuBlockJobFindNode(disk->src, job->baseNode)))) {
        g_message("block job '%s' does not match the cached chain; not adopted", name);
        qemuBlockJobFree(job);
        return;
    }
    job->path = g_strdup(disk->src->path);
    if (base && job->type != QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT)
        job->backingName = g_strdup(base->path);
    if (json_object_has_member(info, "ready") && json_object_get_boolean_member(info, "ready")) {
        job->state = QEMU_BLOCKJOB_STATE_READY;
        job->wasReady = TRUE;
    }

    g_mutex_lock(&jobs->lock);
    exists = qemuBlockJobsFindLocked(jobs, name, job->dst) != NULL;
    if (!exists)
        g_ptr_array_add(jobs->jobs, job);
    g_mutex_unlock(&jobs->lock);
    if (exists)
        qemuBlockJobFree(job);
}

void
qemuBlockJobsAddSavedMirror(qemuBlockJobs *jobs, const char *dst, qvirStorageSource *mirror)
{
    g_mutex_lock(&jobs->lock);
    g_hash_table_replace(jobs->pendingMirrors, g_strdup(dst), mirror);
    g_mutex_unlock(&jobs->lock);
}

qvirStorageSource *
qemuBlockJobsCopyPendingBacking(qemuBlockJobs *jobs, const char *dst)
{
    qvirStorageSource *copy = NULL;
    qemuBlockJob *job;

    g_mutex_lock(&jobs->lock);
    job = qemuBlockJobsFindLocked(jobs, NULL, dst);
    if (job && job->type == QEMU_BLOCKJOB_TYPE_COPY && job->backingAtPivot && job->mirror &&
        job->state == QEMU_BLOCKJOB_STATE_READY)
        copy = qvirStorageSourceCopy(job->mirror);
    g_mutex_unlock(&jobs->lock);
    return copy;
}

void
qemuBlockJobsCopyBackingOpened(qemuBlockJobs *jobs, const char *dst)
{
    qemuBlockJob *job;

    g_mutex_lock(&jobs->lock);
    if ((job = qemuBlockJobsFindLocked(jobs, NULL, dst)) && job->type == QEMU_BLOCKJOB_TYPE_COPY)
        job->backingAtPivot = FALSE;
    g_mutex_unlock(&jobs->lock);
}

/* After a reconnect: a copy whose destination has backing layers of its own that QEMU
 * does not have (GRAPH) still has them to open at its pivot. */
static void
qemuBlockJobsFindPendingBacking(qemuBlockJobs *jobs, JsonObject *graph)
{
    JsonArray *nodes = json_object_has_member(graph, "nodes")
                           ? json_object_get_array_member(graph, "nodes")
                           : NULL;

    g_mutex_lock(&jobs->lock);
    for (guint i = 0; nodes && i < jobs->jobs->len; i++) {
        qemuBlockJob *job = g_ptr_array_index(jobs->jobs, i);

        if (job->type == QEMU_BLOCKJOB_TYPE_COPY && job->mirror && !job->shallow &&
            qvirStorageSourceIsBacking(job->mirror->backingStore) &&
            qemuBlockJobsGraphId(nodes, job->mirror->backingStore->nodeFormat) < 0)
            job->backingAtPivot = TRUE;
    }
    g_mutex_unlock(&jobs->lock);
}

void
qemuBlockJobsAddSavedSnapshot(qemuBlockJobs *jobs, const char *dst, qvirStorageSource *chain)
{
    g_mutex_lock(&jobs->lock);
    g_hash_table_replace(jobs->pendingSnapshots, g_strdup(dst), chain);
    g_mutex_unlock(&jobs->lock);
}

/*
 * DISK had a snapshot under way when the daemon died, to CHAIN (taken). QNODES, QEMU's
 * chain for the disk, tells whether the transaction switched it: then CHAIN is the disk's;
 * else the overlay QEMU was given but never used goes to REMOVED (for blockdev-del).
 */
static void
qemuBlockJobsSettleSnapshot(qvirDomainDiskDef *disk, qvirStorageSource *chain, GPtrArray *qnodes,
                            JsonArray *nodes, GPtrArray *removed)
{
    if (qnodes->len > 0 && g_strcmp0(g_ptr_array_index(qnodes, 0), chain->nodeFormat) == 0) {
        qvirStorageSourceFree(disk->src);
        disk->src = chain;
        return;
    }
    /* Killed between the two blockdev-adds, QEMU may have the storage node alone. */
    if (nodes && chain->nodeFormat && qemuBlockJobsGraphId(nodes, chain->nodeFormat) < 0)
        g_clear_pointer(&chain->nodeFormat, g_free);
    if (nodes && chain->nodeStorage && qemuBlockJobsGraphId(nodes, chain->nodeStorage) < 0)
        g_clear_pointer(&chain->nodeStorage, g_free);
    if (nodes && (chain->nodeFormat || chain->nodeStorage)) {
        g_clear_pointer(&chain->backingStore, qvirStorageSourceFree);
        g_ptr_array_add(removed, chain);
        return;
    }
    qvirStorageSourceFree(chain);
}

/*
 * Copies whose job QEMU no longer runs ended while nobody listened: the disk's chain in
 * QEMU tells whether the pivot happened (its top is the destination's) or not.
 */
static void
qemuBlockJobsSettleMirrors(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def,
                           JsonObject *graph)
{
    g_autoptr(GHashTable) left = NULL;
    GHashTableIter it;
    gpointer key;
    gpointer value;

    g_mutex_lock(&jobs->lock);
    left = g_steal_pointer(&jobs->pendingMirrors);
    jobs->pendingMirrors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                 (GDestroyNotify)qvirStorageSourceFree);
    g_mutex_unlock(&jobs->lock);

    g_hash_table_iter_init(&it, left);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        qvirDomainDiskDef *disk = qvirDomainDiskByTarget(def, key);
        qemuBlockJob tmp = {0};
        g_autoptr(GPtrArray) qnodes = NULL;
        g_autoptr(GError) err = NULL;

        g_hash_table_iter_steal(&it);
        tmp.name = g_strdup_printf("copy.%s", (char *)key);
        tmp.dst = key;
        tmp.mirror = value;
        if (disk) {
            tmp.topNode = g_strdup(disk->src->nodeFormat);
            tmp.shallow = qemuBlockJobMirrorIsShallow(disk, tmp.mirror);
        }
        if (disk && disk->info.alias)
            qnodes = qemuBlockJobsQemuChain(graph, disk->info.alias);
        if (qnodes && qnodes->len > 0 &&
            g_strcmp0(g_ptr_array_index(qnodes, 0), tmp.mirror->nodeFormat) == 0) {
            if (!qemuBlockJobApplyPivot(mon, disk, &tmp, &err))
                g_message("after reconnect: %s", err->message);
        }
        qemuBlockJobDropMirror(jobs, mon, &tmp);
        g_free(tmp.name);
        g_free(tmp.dst);
        g_free(tmp.topNode);
    }
}

gboolean
qemuBlockJobsReconnect(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def, GError **error)
{
    g_autoptr(JsonNode) list = NULL;
    g_autoptr(JsonNode) graph = NULL;
    g_autoptr(GPtrArray) removed =
        g_ptr_array_new_with_free_func((GDestroyNotify)qvirStorageSourceFree);
    g_autoptr(GHashTable) snapshots = NULL;
    gboolean ret = TRUE;

    g_return_val_if_fail(jobs != NULL && mon != NULL && def != NULL, FALSE);

    if (!(list =
              qemuMonitorCommand(mon, "query-block-jobs", NULL, QEMU_BLOCKJOB_TIMEOUT_MS, error)))
        return FALSE;
    if (JSON_NODE_HOLDS_ARRAY(list)) {
        JsonArray *arr = json_node_get_array(list);

        for (guint i = 0; i < json_array_get_length(arr); i++) {
            JsonNode *n = json_array_get_element(arr, i);

            if (JSON_NODE_HOLDS_OBJECT(n))
                qemuBlockJobsAdopt(jobs, def, json_node_get_object(n));
        }
    }

    if (!(graph = qemuMonitorCommand(mon, "x-debug-query-block-graph", NULL,
                                     QEMU_BLOCKJOB_TIMEOUT_MS, error)))
        return FALSE;
    if (JSON_NODE_HOLDS_OBJECT(graph)) {
        qemuBlockJobsSettleMirrors(jobs, mon, def, json_node_get_object(graph));
        qemuBlockJobsFindPendingBacking(jobs, json_node_get_object(graph));
    }
    g_mutex_lock(&jobs->lock);
    snapshots = g_steal_pointer(&jobs->pendingSnapshots);
    jobs->pendingSnapshots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                   (GDestroyNotify)qvirStorageSourceFree);
    g_mutex_unlock(&jobs->lock);
    for (guint i = 0; JSON_NODE_HOLDS_OBJECT(graph) && i < def->disks->len; i++) {
        qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);
        g_autoptr(GPtrArray) qnodes = NULL;
        GError *err = NULL;
        qvirStorageSource *chain = NULL;

        if (disk->info.alias &&
            g_hash_table_steal_extended(snapshots, disk->dst, NULL, (gpointer *)&chain)) {
            JsonObject *g = json_node_get_object(graph);
            g_autoptr(GPtrArray) snapNodes = qemuBlockJobsQemuChain(g, disk->info.alias);

            qemuBlockJobsSettleSnapshot(disk, chain, snapNodes,
                                        json_object_has_member(g, "nodes")
                                            ? json_object_get_array_member(g, "nodes")
                                            : NULL,
                                        removed);
        }
        if (!disk->info.alias || !qvirStorageSourceIsBacking(disk->src) || !disk->src->nodeFormat ||
            qemuBlockJobsDiskHasJob(jobs, disk->dst))
            continue;
        qnodes = qemuBlockJobsQemuChain(json_node_get_object(graph), disk->info.alias);
        if (qnodes->len == 0)
            continue;
        if (!qemuBlockJobsResyncDisk(disk, qnodes, removed, &err)) {
            if (ret && error)
                g_propagate_error(error, err);
            else
                g_error_free(err);
            ret = FALSE;
        }
    }

    for (guint i = 0; i < removed->len; i++) {
        g_autoptr(GError) err = NULL;

        if (!qemuHotplugBlockdevDelChain(mon, g_ptr_array_index(removed, i), &err))
            g_message("after reconnect: %s", err->message);
    }
    return ret;
}
