/*
 * qemu_blockjob.h: block pull and block commit on a running domain, and the per-domain
 * bookkeeping of QMP events the live disk operations wait for.
 *
 * Jobs run asynchronously in QEMU. The monitor's reader thread feeds every QMP event to
 * qemuBlockJobsHandleEvent(), which only records state (it must not talk to QEMU: the
 * reader thread would wait for its own reply). When it returns TRUE, the owner of the
 * domain calls qemuBlockJobsProcess() from a thread that holds the domain's lock; that
 * applies the chain edit of every job that ended (qemu_chainedit.h: no image is
 * re-read), deletes the nodes QEMU no longer uses and hands back the events to deliver to
 * clients (libvirt's VIR_DOMAIN_EVENT_ID_BLOCK_JOB / BLOCK_JOB_2).
 *
 * One job per disk at a time, as in libvirt. Functions that take a def expect the caller
 * to hold the domain's lock; qemuBlockJobsHandleEvent and the wait functions only take the
 * table's own lock.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_monitor.h"
#include "security/security_dac.h"

/* libvirt's virDomainBlockJobType. */
typedef enum {
    QEMU_BLOCKJOB_TYPE_UNKNOWN = 0,
    QEMU_BLOCKJOB_TYPE_PULL = 1,
    QEMU_BLOCKJOB_TYPE_COPY = 2,
    QEMU_BLOCKJOB_TYPE_COMMIT = 3,
    QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT = 4,
    QEMU_BLOCKJOB_TYPE_LAST
} qemuBlockJobType;
QVIR_ENUM_DECL(qemuBlockJobType); /* "", "pull", "copy", "commit", "active-commit" */

/* libvirt's virConnectDomainEventBlockJobStatus. */
typedef enum {
    QEMU_BLOCKJOB_STATUS_COMPLETED = 0,
    QEMU_BLOCKJOB_STATUS_FAILED = 1,
    QEMU_BLOCKJOB_STATUS_CANCELED = 2,
    QEMU_BLOCKJOB_STATUS_READY = 3,
} qemuBlockJobStatus;

/* A block job event for clients. */
typedef struct {
    char *dst;  /* disk target ("vda"), BLOCK_JOB_2 */
    char *path; /* the disk's top image when the job started, BLOCK_JOB */
    qemuBlockJobType type;
    qemuBlockJobStatus status;
    char *error; /* QEMU's message for a failed job, or NULL */
} qemuBlockJobEvent;

void qemuBlockJobEventFree(qemuBlockJobEvent *ev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuBlockJobEvent, qemuBlockJobEventFree);

/* virDomainBlockJobInfo. */
typedef struct {
    qemuBlockJobType type;
    unsigned long long bandwidth; /* bytes/s, 0 = unlimited */
    unsigned long long cur;
    unsigned long long end;
    gboolean ready;
} qemuBlockJobInfo;

typedef struct _qemuBlockJobs qemuBlockJobs;

qemuBlockJobs *qemuBlockJobsNew(void);
void qemuBlockJobsFree(qemuBlockJobs *jobs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuBlockJobs, qemuBlockJobsFree);

/*
 * Record QMP event NAME (DATA may be NULL). Safe from any thread, never blocks on QEMU.
 * Returns TRUE when a job changed state and qemuBlockJobsProcess() should run.
 */
gboolean qemuBlockJobsHandleEvent(qemuBlockJobs *jobs, const char *name, JsonObject *data);

/*
 * Apply what ended jobs did to DEF's chains, blockdev-del the nodes of removed layers and
 * append qemuBlockJobEvent* to EVENTS (may be NULL) for every job that ended or became
 * ready. Returns FALSE only when a chain could not be edited (the error says why; the job
 * is dropped either way, its event reports it as failed).
 */
gboolean qemuBlockJobsProcess(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def,
                              GPtrArray *events, GError **error);

/* TRUE when DISK (by target) has a job that has not been processed yet. */
gboolean qemuBlockJobsDiskHasJob(qemuBlockJobs *jobs, const char *dst);
/* FALSE with libvirt's refusal when DST has such a job: "disk 'vda' already in active block
 * job", a block-copy-active error for a job with a mirror (copy, active commit), otherwise
 * an unsupported operation (libvirt's qemuDomainDiskBlockJobIsActive). */
gboolean qemuBlockJobsCheckDiskIdle(qemuBlockJobs *jobs, const char *dst, GError **error);

/*
 * Starting a job waits up to 50 ms for it to end (or to become ready to pivot), so small
 * jobs are over when the call returns; the end is still reported (and applied) through
 * qemuBlockJobsProcess as for any job.
 *
 * Start a block pull (block-stream) into DISK's top from the layers above BASE (NULL:
 * all of them). BASE is a path, a backing name or "vda[N]". BANDWIDTH in bytes/s.
 */
gboolean qemuBlockJobPull(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def,
                          qvirDomainDiskDef *disk, const char *base, unsigned long long bandwidth,
                          GError **error);

/* The layers a commit of DISK from TOP into BASE names, as libvirt looks them up: TOP (NULL
 * or the target: the active layer), then BASE beneath it (NULL: the deepest layer, "could
 * not find base image in chain for 'vda'" when there is none). */
gboolean qemuBlockJobCommitLookup(qvirDomainDiskDef *disk, const char *top, const char *base,
                                  qvirStorageSource **topSrc, qvirStorageSource **baseSrc,
                                  GError **error);

/*
 * Start a block commit of TOP (NULL: the active layer) into BASE (NULL: the deepest
 * layer). Committing the active layer needs ACTIVE (libvirt's
 * VIR_DOMAIN_BLOCK_COMMIT_ACTIVE) and then a pivot (qemuBlockJobAbort with PIVOT) once
 * the job is ready.
 */
gboolean qemuBlockJobCommit(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def,
                            qvirDomainDiskDef *disk, const char *top, const char *base,
                            gboolean active, unsigned long long bandwidth, GError **error);

/* Labels of copy destinations that leave QEMU are restored through SECURITY (may be NULL). */
void qemuBlockJobsSetSecurity(qemuBlockJobs *jobs, qvirSecurityDAC *security);

typedef struct {
    unsigned long long bandwidth; /* bytes/s, 0 = unlimited */
    unsigned int granularity;     /* bytes, power of two; 0 = QEMU's choice */
    unsigned long long bufSize;   /* bytes; 0 = QEMU's choice */
    gboolean syncWrites;          /* guest writes reach the destination before completing */
    /* libvirt's SHALLOW with REUSE_EXT: only the top is copied, and the backing layers the
     * destination's header names (its own, probed) are opened at the pivot, as libvirt
     * 9.0 does (they may still be being filled until then); QEMU has the top alone, over
     * "backing": null, until qemuBlockJobsCopyBackingOpened. */
    gboolean shallowReused;
} qemuBlockJobCopyOpts;

/*
 * Start a block copy (blockdev-mirror) of DISK into *MIRROR, a chain the caller has
 * labelled and blockdev-add'ed with node names. When *MIRROR's backing layers carry the
 * node names of DISK's own backing layers, only the top is copied (shallow). On success
 * the job owns the chain (*MIRROR is set to NULL); at a pivot (qemuBlockJobAbort with
 * PIVOT once ready) it becomes DISK's chain, at any other end its own layers are deleted
 * from QEMU and their labels restored, and DISK's chain stays as it was.
 */
gboolean qemuBlockJobCopy(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def,
                          qvirDomainDiskDef *disk, qvirStorageSource **mirror,
                          const qemuBlockJobCopyOpts *opts, GError **error);

/*
 * A deep copy (node names included) of the destination chain of DST's copy when it is
 * ready and its own backing layers are still to be opened in QEMU, else NULL: the caller
 * blockdev-adds them and puts them under the destination's top (blockdev-snapshot) before
 * the pivot, then calls qemuBlockJobsCopyBackingOpened.
 */
qvirStorageSource *qemuBlockJobsCopyPendingBacking(qemuBlockJobs *jobs, const char *dst);
void qemuBlockJobsCopyBackingOpened(qemuBlockJobs *jobs, const char *dst);

/*
 * End DISK's job: PIVOT completes a ready active commit (job-complete: the base becomes
 * the top); otherwise the job is cancelled (block-job-cancel) and the chain stays.
 * Asynchronous: the end arrives as an event; wait with qemuBlockJobWait.
 */
gboolean qemuBlockJobAbort(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDiskDef *disk,
                           gboolean pivot, GError **error);

/* block-job-set-speed of DISK's job to BANDWIDTH bytes/s; without a job, libvirt's
 * "disk vda does not have an active block job" (invalid argument). */
gboolean qemuBlockJobSetSpeed(qemuBlockJobs *jobs, qemuMonitor *mon, const qvirDomainDiskDef *disk,
                              unsigned long long bandwidth, GError **error);

/* Progress of DISK's job: 1 with INFO filled, 0 when DISK has no running job. */
int qemuBlockJobGetInfo(qemuBlockJobs *jobs, qemuMonitor *mon, const qvirDomainDiskDef *disk,
                        qemuBlockJobInfo *info, GError **error);

/*
 * Wait until DISK's job has ended (or, with FOR_READY, is ready to pivot). TRUE when it
 * did within TIMEOUT_MS, also when there is no job. The ended job still has to be
 * processed.
 */
gboolean qemuBlockJobWait(qemuBlockJobs *jobs, const char *dst, gboolean forReady,
                          unsigned int timeoutMs);

/* The highest chain index the destinations of running copies use (0: none): they are in
 * no disk's chain yet, and a second copy must not reuse their node names. */
unsigned int qemuBlockJobsMirrorMaxIndex(qemuBlockJobs *jobs);

/*
 * Before qemuBlockJobsReconnect: the destination of DST's copy as saved when it started
 * (taken). The job is adopted with it; when QEMU no longer runs the job, the destination
 * becomes the disk's chain if QEMU's shows that the pivot happened, or is dropped.
 */
void qemuBlockJobsAddSavedMirror(qemuBlockJobs *jobs, const char *dst, qvirStorageSource *mirror);

/*
 * Before qemuBlockJobsReconnect: the chain disk DST was switching to in a disk-only
 * snapshot when the daemon died (taken). It becomes the disk's chain if QEMU's device has
 * the new overlay on top; else the overlay's nodes, if QEMU has them, are deleted.
 */
void qemuBlockJobsAddSavedSnapshot(qemuBlockJobs *jobs, const char *dst, qvirStorageSource *chain);

/*
 * After a daemon restart, with DEF's chains restored from the status file: adopt the jobs
 * of ours QEMU still runs (their ids say type, disk and layers), and make every other
 * disk's cached chain follow QEMU's when a job ended while nobody listened - with the
 * same in-place edits, deleting the nodes of the merged layers, reading no image. FALSE
 * when a disk's chain in QEMU cannot be explained by such an end (left as it was).
 */
gboolean qemuBlockJobsReconnect(qemuBlockJobs *jobs, qemuMonitor *mon, qvirDomainDef *def,
                                GError **error);

/*
 * Waiting for one QMP event (DEVICE_DELETED, ...). Register the watch BEFORE the command
 * that triggers the event, so an event arriving before the command's reply is not lost.
 * KEY/VALUE (may be NULL) must match a string member of the event's data.
 */
typedef struct _qemuEventWatch qemuEventWatch;

qemuEventWatch *qemuBlockJobsWatchEvent(qemuBlockJobs *jobs, const char *name, const char *key,
                                        const char *value);
/* TRUE when the event arrived (before or during the wait) within TIMEOUT_MS. */
gboolean qemuEventWatchWait(qemuEventWatch *watch, unsigned int timeoutMs);
void qemuEventWatchFree(qemuEventWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuEventWatch, qemuEventWatchFree);
