/*
 * qemu_driverpriv.h: what qemu_driver.c shares with the driver's other files
 * (qemu_driver_disk.c: live disk operations and snapshots). Not for other layers.
 */
#pragma once

#include "qemu/qemu_block.h"
#include "qemu/qemu_blockjob.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_domainobj.h"
#include "qemu/qemu_driver.h"
#include "qemu/qemu_migration.h"
#include "security/security_dac.h"

struct _qvirDriver {
    qvirDriverConfig *cfg;
    /* Who QEMU runs as and the labels of the files it uses (inactive when not root). */
    qvirSecurityDAC *security;
    qemuDomainObjList *domains;
    qvirStorageDriver *storage;
    qvirSecretDriver *secrets;
    gint nextId;

    GMutex capsLock;
    GHashTable *caps;   /* emulator path -> what we know of it (qemu_driver.c) */
    GPtrArray *allCaps; /* every qemuCaps handed out, freed at close */

    /* Exit and event handling runs here, never on the thread that reported it: that
     * thread belongs to the process/monitor and may be joined by qemuProcessStop. */
    GThreadPool *workers;

    GMutex eventLock;
    qvirDriverBlockJobEventFunc blockJobEventCb;
    gpointer blockJobEventOpaque;
    qvirDriverLifecycleEventFunc lifecycleEventCb;
    gpointer lifecycleEventOpaque;

    qemuMigrationTable *migration; /* migrations in progress (qemu_migration.c) */
};

/* Where network disks' secrets come from: DRV's secrets driver (CTX has no master key;
 * the process adds its own). */
void qemuDriverSecretCtxInit(qvirDriver *drv, qemuBlockSecretCtx *ctx);

/* libvirt's virDomainEventType and the details we emit. */
typedef enum {
    QEMU_EVENT_DEFINED = 0,
    QEMU_EVENT_UNDEFINED = 1,
    QEMU_EVENT_STARTED = 2,
    QEMU_EVENT_SUSPENDED = 3,
    QEMU_EVENT_RESUMED = 4,
    QEMU_EVENT_STOPPED = 5,
} qemuDriverEventType;

/* Tell clients about a lifecycle change of OBJ (no domain lock held). */
void qemuDriverEmitLifecycle(qvirDriver *drv, qemuDomainObj *obj, int event, int detail);

/* OBJ's job held on a running domain: its monitor in MON and its state. */
typedef struct {
    qemuDomainObj *obj;
    qemuMonitor *mon;
    int state;
    int reason;
} qemuDriverRunning;
gboolean qemuDriverRunningBegin(qvirDriver *drv, const unsigned char *uuid, const char *jobName,
                                qemuDriverRunning *run, GError **error);
void qemuDriverRunningEnd(qemuDriverRunning *run);

/* qemu_driver_guest.c: hot-plug vCPUs (sockets) FROM..TO-1 as virsh setvcpus does. */
gboolean qemuDriverPlugVcpus(qemuMonitor *mon, unsigned int from, unsigned int to, GError **error);

/* Shared helpers of qemu_driver.c. */
/* This daemon's host UUID (QVIR_UUID_STRING_BUFLEN): host_uuid or the machine's. */
void qemuDriverHostUUID(qvirDriver *drv, char *out);
/* A running domain's scratch directory (STATEDIR/qemu/domain-ID-NAME). */
char *qemuDriverDomainDir(qvirDriver *drv, int id, const char *name);
qvirDomainRef *qemuDriverMakeRef(qemuDomainObj *obj);
qemuDomainObj *qemuDriverGetObj(qvirDriver *drv, const unsigned char *uuid, GError **error);
/* Begin OBJ's job and make sure it is still listed. */
gboolean qemuDriverBeginJob(qemuDomainObj *obj, const char *jobName, GError **error);
void qemuDriverErrorNotRunning(GError **error);
const qemuCaps *qemuDriverGetCaps(qvirDriver *drv, const char *emulator, GError **error);
/* Job held: write OBJ's status file / a persistent definition atomically. */
gboolean qemuDriverWriteStatus(qvirDriver *drv, qemuDomainObj *obj, GError **error);
gboolean qemuDriverWriteDefinition(qvirDriver *drv, const qvirDomainDef *def, GError **error);
/* OBJ's string member NAME (OBJ may be NULL); NULL when absent or not a string. */
const char *qemuDriverJsonString(JsonObject *obj, const char *name);

/* qemu_driver_disk.c, run by the driver's worker with OBJ's job held. */
void qemuDriverProcessBlockJobs(qvirDriver *drv, qemuDomainObj *obj);
void qemuDriverDeviceDeleted(qvirDriver *drv, qemuDomainObj *obj, const char *alias);
/* Snapshot metadata (qemu_driver_snapshot.c): load at open, count, discard with the domain. */
void qemuDriverLoadSnapshots(qvirDriver *drv, qemuDomainObj *obj);
void qemuDriverDiscardSnapshots(qvirDriver *drv, qemuDomainObj *obj);
guint qemuDriverSnapshotCount(const qemuDomainObj *obj); /* mutex held */
/* After a reconnect (job held): adopt QEMU's block jobs, follow ones that ended unseen. */
/* A stop: the destinations of copies that were running go back to their owners, and the
 * files that saved them (NAME.DST.mirror) are removed. */
void qemuDriverMirrorFilesRelease(qvirDriver *drv, const char *name, const qvirDomainDef *live);
/* A disk-only snapshot (job held): the chain disk NEXT->dst is about to switch to is saved
 * (NAME.DST.snapshot) before the transaction; removed once the status file has the
 * outcome. A restart settles a file left behind from the chain QEMU has. */
gboolean qemuDriverSnapshotIntentSave(qvirDriver *drv, const char *name,
                                      const qvirDomainDiskDef *next, GError **error);
void qemuDriverSnapshotIntentsRemove(qvirDriver *drv, const char *name, const qvirDomainDef *def);
void qemuDriverReconnectBlockJobs(qvirDriver *drv, qemuDomainObj *obj);

/* ---- save images (qemu_driver_save.c) ---- */

/* A start from a save image: QEMU starts paused with -incoming INCOMING; LOAD feeds it the
 * state; RUN: "cont" afterwards (else the domain stays paused). */
typedef struct {
    const char *incoming;
    gboolean (*load)(qemuProcess *proc, gpointer opaque, GError **error);
    gpointer opaque;
    gboolean run;
    unsigned int vcpus;    /* online vCPUs once loaded (some hot-plugged by LOAD); 0: as started */
    gboolean pausedByFlag; /* !RUN because the caller asked (SUSPENDED/PAUSED, not /RESTORED) */
} qemuDriverRestore;

/* Job held, OBJ inactive: start LIVE (ownership passes) from RESTORE. */
gboolean qemuDriverStartDomainRestore(qvirDriver *drv, qemuDomainObj *obj, qvirDomainDef *live,
                                      const qemuDriverRestore *restore, GError **error);
/* Job held, OBJ active: QEMU has written its state; stop it, shut off with reason saved. */
void qemuDriverStopSaved(qvirDriver *drv, qemuDomainObj *obj);
/* Job held, OBJ active: its guest runs on another host now; stop QEMU, shut off with
 * reason migrated (a transient domain goes). */
void qemuDriverStopMigrated(qvirDriver *drv, qemuDomainObj *obj);
/* Poll query-migrate every POLL_US until the migration has ended: TRUE when it completed;
 * else "operation failed: FAILED: " and QEMU's error-desc (or the status). */
gboolean qemuDriverWaitMigration(qemuMonitor *mon, const char *failed, gulong pollUs,
                                 GError **error);
/* Set the live <serial>/<console> pty paths from QEMU (query-chardev). Job held. */
void qemuDriverUpdateChardevPaths(qemuDomainObj *obj);
/* The managed save image of OBJ exists. */
gboolean qemuDriverHasManagedSave(qvirDriver *drv, qemuDomainObj *obj);
/* Job held: remove OBJ's managed save image. */
gboolean qemuDriverManagedSaveDiscard(qvirDriver *drv, qemuDomainObj *obj, GError **error);
/* Job held, OBJ inactive and persistent: start from its managed save image, which is removed
 * once the domain runs. */
gboolean qemuDriverStartManagedSave(qvirDriver *drv, qemuDomainObj *obj, unsigned int flags,
                                    GError **error);
/* Create a transient domain from DEF (ownership passes), or start the inactive domain of
 * that name and UUID on it; RESTORE as for qemuDriverStartDomainRestore (NULL: boot). */
qvirDomainRef *qemuDriverCreateDef(qvirDriver *drv, qvirDomainDef *def, unsigned int flags,
                                   const qemuDriverRestore *restore, GError **error);
/* Parse and validate a domain XML as define and create do. */
qvirDomainDef *qemuDriverParseDef(qvirDriver *drv, const char *xml, GError **error);
