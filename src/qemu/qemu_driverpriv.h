/*
 * qemu_driverpriv.h: what qemu_driver.c shares with the driver's other files
 * (qemu_driver_disk.c: live disk operations and snapshots). Not for other layers.
 */
#pragma once

#include "qemu/qemu_blockjob.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_domainobj.h"
#include "qemu/qemu_driver.h"
#include "security/security_dac.h"

struct _qvirDriver {
    qvirDriverConfig *cfg;
    /* Who QEMU runs as and the labels of the files it uses (inactive when not root). */
    qvirSecurityDAC *security;
    qemuDomainObjList *domains;
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
};

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

/* Shared helpers of qemu_driver.c. */
gboolean qemuDriverCheckFlags(unsigned int flags, unsigned int supported, const char *func,
                              GError **error);
qvirDomainRef *qemuDriverMakeRef(qemuDomainObj *obj);
qemuDomainObj *qemuDriverGetObj(qvirDriver *drv, const unsigned char *uuid, GError **error);
/* Begin OBJ's job and make sure it is still listed. */
gboolean qemuDriverBeginJob(qemuDomainObj *obj, const char *jobName, GError **error);
void qemuDriverErrorNotRunning(GError **error);
const qemuCaps *qemuDriverGetCaps(qvirDriver *drv, const char *emulator, GError **error);
/* Job held: write OBJ's status file / a persistent definition atomically. */
gboolean qemuDriverWriteStatus(qvirDriver *drv, qemuDomainObj *obj, GError **error);
gboolean qemuDriverWriteDefinition(qvirDriver *drv, const qvirDomainDef *def, GError **error);

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
void qemuDriverReconnectBlockJobs(qvirDriver *drv, qemuDomainObj *obj);
