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
    qvirDriverBlockThresholdEventFunc blockThresholdEventCb;
    gpointer blockThresholdEventOpaque;
    qvirDriverBlkdevTunableEventFunc blkdevTunableEventCb;
    gpointer blkdevTunableEventOpaque;

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
gboolean qemuDriverRunningBegin(qvirDriver *drv, const unsigned char *uuid, qemuDomainJob job,
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
gboolean qemuDriverBeginJob(qemuDomainObj *obj, qemuDomainJob job, GError **error);
void qemuDriverErrorNotRunning(GError **error);
const qemuCaps *qemuDriverGetCaps(qvirDriver *drv, const char *emulator, GError **error);
/* Job held: write OBJ's status file / a persistent definition atomically. */
gboolean qemuDriverWriteStatus(qvirDriver *drv, qemuDomainObj *obj, GError **error);
gboolean qemuDriverWriteDefinition(qvirDriver *drv, const qvirDomainDef *def, GError **error);
/* OBJ's string member NAME (OBJ may be NULL); NULL when absent or not a string. */
const char *qemuDriverJsonString(JsonObject *obj, const char *name);
/* OBJ's object member NAME / integer member NAME (-1 when absent); OBJ may be NULL. */
JsonObject *qemuDriverJsonObjectMember(JsonObject *obj, const char *name);
long long qemuDriverJsonInt(JsonObject *obj, const char *name);
/* The array COMMAND returns (a new reference), or NULL with ERROR. */
JsonNode *qemuDriverQMPArray(qemuMonitor *mon, const char *command, JsonObject *args,
                             GError **error);
/* Does a query-blockstats / query-block ENTRY belong to DISK (its root node or qdev)? */
gboolean qemuDriverEntryIsDisk(JsonObject *entry, const qvirDomainDiskDef *disk);
/* The node NAME of a query-named-block-nodes reply, or NULL. */
JsonObject *qemuDriverFindNode(JsonArray *nodes, const char *name);

/* qemu_driver_disk.c: a running domain an operation holds the job of. */
typedef struct {
    qemuDomainObj *obj;
    qemuMonitor *mon;
    qemuBlockJobs *jobs;
    const qvirDomainDef *live; /* stable while the job is held: read without the mutex */
} qemuDriverLive;
/* Look up UUID and begin its job; "domain is not running" unless it runs. */
gboolean qemuDriverLiveBegin(qvirDriver *drv, const unsigned char *uuid, qemuDomainJob job,
                             qemuDriverLive *live, GError **error);
void qemuDriverLiveEnd(qemuDriverLive *live);
/* Job held: a private copy of the live definition to edit (node names included), and its
 * publication as the live definition, recorded in the status file. */
qvirDomainDef *qemuDriverLiveCopy(qemuDomainObj *obj, GError **error);
void qemuDriverLiveCommit(qvirDriver *drv, qemuDomainObj *obj, qvirDomainDef *work);
/* DEF's disk NAME (target or path); libvirt's "disk 'NAME' not found in domain" else. */
qvirDomainDiskDef *qemuDriverDiskByName(const qvirDomainDef *def, const char *name, GError **error);
/* Job held: FLAGS' AFFECT_LIVE / AFFECT_CONFIG as libvirt resolves them (0: current). */
gboolean qemuDriverModificationImpact(qemuDomainObj *obj, unsigned int *flags, GError **error);
/* Job held: validate and persist EDITED (taken), a changed copy of OBJ's definition. */
gboolean qemuDriverCommitConfig(qvirDriver *drv, qemuDomainObj *obj, qvirDomainDef *edited,
                                GError **error);

/* qemu_driver_disk.c, run by the driver's worker with OBJ's job held. */
void qemuDriverProcessBlockJobs(qvirDriver *drv, qemuDomainObj *obj);
void qemuDriverDeviceDeleted(qvirDriver *drv, qemuDomainObj *obj, const char *alias);
/* qemu_driver_iotune.c, on the monitor's thread with OBJ locked: QEMU's
 * BLOCK_WRITE_THRESHOLD (DATA) as the events libvirt sends, into EVENTS
 * (qemuDriverThresholdEvent*), and their delivery once OBJ is unlocked. */
typedef struct _qemuDriverThresholdEvent qemuDriverThresholdEvent;
void qemuDriverThresholdEventFree(qemuDriverThresholdEvent *ev);
void qemuDriverBlockThresholdRecord(qemuDomainObj *obj, JsonObject *data, GPtrArray *events);
void qemuDriverBlockThresholdEmit(qvirDriver *drv, qemuDomainObj *obj, GPtrArray *events);
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
/* External snapshot deletion (job held, domain running): layer PATH of disk DST merges into
 * the layer beneath it, as blockcommit does (active commit and pivot for the top), with
 * the same chain edit, status write and block job events; then PATH's file is removed. */
gboolean qemuDriverMergeLayer(qvirDriver *drv, qemuDomainObj *obj, const char *dst,
                              const char *path, GError **error);

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

/* ---- autostart (qemu_driver_autostart.c) ---- */

/* Read OBJ's autostart link (after its definition loaded). */
void qemuDriverAutostartLoad(qvirDriver *drv, qemuDomainObj *obj);
/* Job held: the definition goes, its link with it. */
void qemuDriverAutostartRemove(qvirDriver *drv, qemuDomainObj *obj);
/* Daemon start, after reconnecting: start the autostart domains that are not running,
 * once per host boot. */
void qemuDriverAutostartDomains(qvirDriver *drv);
