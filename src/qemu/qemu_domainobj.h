/*
 * qemu_domainobj.h: the driver's domain objects, their list, and the status file.
 *
 * Locking, as in libvirt:
 *   - the list lock protects only the list's tables and is held for lookups/inserts;
 *   - each object's mutex protects its fields and is held only for short, non-blocking
 *     work (never while talking to QEMU or waiting for a process);
 *   - a state change (start, stop, define, undefine, exit handling) holds the object's
 *     job, which serialises it against other state changes of the same domain without
 *     holding the mutex, so readers (state, XML, lists) never wait for a slow QEMU.
 * Lock order: list lock, then object mutex. Never take the list lock with an object's
 * mutex held.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_blockjob.h"
#include "qemu/qemu_process.h"
#include "qemu/qemu_snapshot.h"

/* libvirt's virDomainJob, as far as qvirt's jobs go: what a job does decides whether it
 * may run beside an async job (an outgoing migration) that holds the domain. */
typedef enum {
    QEMU_JOB_NONE = 0,
    QEMU_JOB_QUERY,        /* reads QEMU's state */
    QEMU_JOB_DESTROY,      /* stops QEMU (destroy, exit handling) */
    QEMU_JOB_SUSPEND,      /* pauses the guest */
    QEMU_JOB_MODIFY,       /* any other change */
    QEMU_JOB_MIGRATION_OP, /* works on the running migration */
    QEMU_JOB_ASYNC_NESTED, /* the async job's own phases (not subject to its mask) */
    QEMU_JOB_LAST
} qemuDomainJob;

#define QEMU_JOB_MASK(job) (1u << (job))

/* libvirt's virDomainAsyncJob, as far as qvirt's go. */
typedef enum {
    QEMU_ASYNC_JOB_NONE = 0,
    QEMU_ASYNC_JOB_MIGRATION_OUT,
    QEMU_ASYNC_JOB_LAST
} qemuDomainAsyncJob;

typedef struct _qemuDomainObj qemuDomainObj;
struct _qemuDomainObj {
    gint refs;
    GMutex lock;
    GCond jobCond;
    qemuDomainJob job; /* the job that holds the object, NONE: none */
    char *ownerAPI;    /* who began it (util/virthreadjob.h), for "held by monitor=..." */
    /* An async job spans several calls (a migration from Begin to Confirm); while it
     * runs, only the jobs in asyncMask may begin, besides its own (ASYNC_NESTED). */
    qemuDomainAsyncJob asyncJob;
    char *asyncOwnerAPI; /* the call that began it or its current phase */
    guint asyncMask;
    int asyncPhase;   /* the async job's phase (qemu_migration.c's) */
    gboolean removed; /* no longer in the list */

    /* Identity: fixed for the object's lifetime, readable without the mutex. */
    char *name;
    unsigned char uuid[QVIR_UUID_BUFLEN];

    qvirDomainDef *def;      /* persistent definition; NULL for a transient domain */
    qvirDomainDef *liveDef;  /* running: the live definition and its cached chains */
    qvirDomainDef *startDef; /* transient domain being created (no def, no liveDef yet) */
    int id;                  /* -1 when inactive */
    int state;               /* qvirDomainState */
    int reason;              /* the state's reason, libvirt's numbering */

    qemuProcess *proc;        /* NULL when inactive */
    gpointer procCtx;         /* the driver's callback context for proc; freed with it */
    qemuBlockJobs *blockJobs; /* running: block jobs and event waits; freed after proc */

    GPtrArray *snapshots;   /* qemuDomainSnapshot*, in creation order (parents first) */
    char *currentSnapshot;  /* name of the current snapshot, or NULL */
    guint64 procGen;        /* bumped on every change of proc, to discard stale exit reports */
    gboolean attaching;     /* a start/reconnect is under way: exits are recorded ... */
    gboolean exitPending;   /* ... here, and handled once it finished */
    int exitPendingReason;  /* qemuProcessExitReason */
    gboolean rebootPending; /* virDomainReboot asked the guest to power off: start again */
    gboolean guestShutdown; /* QEMU reported a SHUTDOWN the guest initiated */
    gboolean shutdownEventPending; /* ... and clients have not been told yet */
    gboolean taintCustomMonitor;   /* qemu-monitor-command was used on this run */
    gboolean autostart; /* defsDir/autostart/NAME.xml links to the definition */
};

/* Snapshot metadata: the definition and its place in the tree. */
typedef struct {
    qemuSnapshotDef *def;
    char *parent; /* NULL for a root */
} qemuDomainSnapshot;

void qemuDomainSnapshotFree(qemuDomainSnapshot *snap);

/* libvirt's reason enums (libvirt-domain.h), as far as we use them. */
typedef enum {
    QEMU_DOMAIN_RUNNING_UNKNOWN = 0,
    QEMU_DOMAIN_RUNNING_BOOTED = 1,
    QEMU_DOMAIN_RUNNING_RESTORED = 3,
    QEMU_DOMAIN_RUNNING_UNPAUSED = 5,
} qemuDomainRunningReason;

typedef enum {
    QEMU_DOMAIN_PAUSED_UNKNOWN = 0,
    QEMU_DOMAIN_PAUSED_USER = 1,
    QEMU_DOMAIN_PAUSED_MIGRATION = 2,
} qemuDomainPausedReason;

typedef enum {
    QEMU_DOMAIN_SHUTOFF_UNKNOWN = 0,
    QEMU_DOMAIN_SHUTOFF_SHUTDOWN = 1,
    QEMU_DOMAIN_SHUTOFF_DESTROYED = 2,
    QEMU_DOMAIN_SHUTOFF_CRASHED = 3,
    QEMU_DOMAIN_SHUTOFF_MIGRATED = 4,
    QEMU_DOMAIN_SHUTOFF_SAVED = 5,
    QEMU_DOMAIN_SHUTOFF_FAILED = 6,
    QEMU_DOMAIN_SHUTOFF_DAEMON = 8,
} qemuDomainShutoffReason;

/* State and reason names as libvirt's status XML spells them. */
const char *qemuDomainStateToString(int state);
int qemuDomainStateFromString(const char *str);
const char *qemuDomainStateReasonToString(int state, int reason);
int qemuDomainStateReasonFromString(int state, const char *str);

qemuDomainObj *qemuDomainObjNew(const char *name, const unsigned char *uuid);
qemuDomainObj *qemuDomainObjRef(qemuDomainObj *obj);
void qemuDomainObjUnref(qemuDomainObj *obj);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuDomainObj, qemuDomainObjUnref);

void qemuDomainObjLock(qemuDomainObj *obj);
void qemuDomainObjUnlock(qemuDomainObj *obj);

/* Acquire the object's JOB, waiting at most timeoutMs, as libvirt 9.0 does: first for
 * an async job that does not allow JOB to end, then for the running job. On timeout the
 * error names the call that holds what JOB waited for (QVIR_ERR_OPERATION_TIMEOUT). The
 * owner is the thread's call (qvirThreadJobGet). Call without the mutex held; returns
 * without it held. */
gboolean qemuDomainObjBeginJob(qemuDomainObj *obj, qemuDomainJob job, guint timeoutMs,
                               GError **error);
void qemuDomainObjEndJob(qemuDomainObj *obj);

/* Begin ASYNCJOB (no job or async job may be running: waits as BeginJob does), letting
 * the jobs in MASK (QEMU_JOB_MASK bits; DESTROY always) begin while it runs. It outlives
 * the call that began it until EndAsyncJob. */
gboolean qemuDomainObjBeginAsyncJob(qemuDomainObj *obj, qemuDomainAsyncJob asyncJob, guint mask,
                                    guint timeoutMs, GError **error);
/* The async job enters PHASE, run by the thread's call (its owner from now on). Mutex
 * held. */
void qemuDomainObjStartAsyncPhase(qemuDomainObj *obj, int phase);
void qemuDomainObjEndAsyncJob(qemuDomainObj *obj);

#define QEMU_DOMAIN_JOB_WAIT_MS 30000

/* With the mutex held. */
gboolean qemuDomainObjIsActive(const qemuDomainObj *obj);
/* The definition a caller should describe: live while running, else persistent. */
const qvirDomainDef *qemuDomainObjGetDef(const qemuDomainObj *obj);

/* ---- the list ----------------------------------------------------------------- */

typedef struct _qemuDomainObjList qemuDomainObjList;

qemuDomainObjList *qemuDomainObjListNew(void);
void qemuDomainObjListFree(qemuDomainObjList *list);

/* Each returns a new reference, or NULL. */
qemuDomainObj *qemuDomainObjListFindByUUID(qemuDomainObjList *list, const unsigned char *uuid);
qemuDomainObj *qemuDomainObjListFindByName(qemuDomainObjList *list, const char *name);
qemuDomainObj *qemuDomainObjListFindByID(qemuDomainObjList *list, int id);

/*
 * Find the object DEF names, or add a new one, applying libvirt's clash rules: a known
 * UUID under another name, or a known name under another UUID, is an error. A new object
 * is inserted with SETUP(obj, DEF, OPAQUE) run under the list lock, so no one sees it
 * half made. *ISNEW tells which. Returns a new reference.
 */
qemuDomainObj *qemuDomainObjListAdd(qemuDomainObjList *list, const qvirDomainDef *def,
                                    void (*setup)(qemuDomainObj *obj, gpointer opaque),
                                    gpointer opaque, gboolean *isNew, GError **error);
/* Remove OBJ (if still listed) and mark it removed. Takes the mutex itself. */
void qemuDomainObjListRemove(qemuDomainObjList *list, qemuDomainObj *obj);
/* Every object, as new references, sorted by name. */
GPtrArray *qemuDomainObjListCollect(qemuDomainObjList *list);

/* ---- the status file ---------------------------------------------------------- */

typedef struct {
    int state;
    int reason;
    pid_t pid;
    char *monitorPath;
    qvirDomainDef *def; /* live definition, chains included */
} qemuDomainStatus;

void qemuDomainStatusClear(qemuDomainStatus *status);

/* <domstatus state= reason= pid=><monitor path= type='unix'/><domain>...</domain></domstatus> */
char *qemuDomainStatusFormat(int state, int reason, pid_t pid, const char *monitorPath,
                             const qvirDomainDef *liveDef);
gboolean qemuDomainStatusParse(const char *xml, qemuDomainStatus *status, GError **error);
