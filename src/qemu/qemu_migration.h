/*
 * qemu_migration.h: live migration of a running domain between two qvirtd daemons, as
 * libvirt's v3 protocol with typed parameters runs it (the client drives the phases):
 *
 *   source       Begin    the domain XML for the destination and our cookie
 *   destination  Prepare  QEMU started with -incoming defer, listening on a port of the
 *                         configured range (and exporting new disks over NBD for a copy)
 *   source       Perform  disks mirrored (a copy), migrate, poll until done: QEMU paused
 *   destination  Finish   wait for the state, resume, optionally persistent
 *   source       Confirm  success: QEMU stopped and the domain gone (or inactive);
 *                         failure: the guest resumes where it was
 *
 * The source's phases are one job: from Begin to Confirm nothing but queries, destroy,
 * suspend and the migration's own operations change the domain there (qemu_migration.c).
 *
 * A failure in any phase leaves the domain running on the source and nothing on the
 * destination (images it created for a copy included, even across a restart of a killed
 * daemon), with one exception no protocol can close: a destination that resumed the guest
 * in Finish and died before answering keeps it, as libvirt does, and the source, whose
 * images that QEMU holds, stays paused. The destination probes every disk's chain itself from the
 * images it sees; nothing of the source's chain cache travels.
 */
#pragma once

#include <glib.h>

#include "qemu/qemu_driver.h"

/* libvirt's virDomainMigrateFlags. */
typedef enum {
    QVIR_MIGRATE_LIVE = 1 << 0,
    QVIR_MIGRATE_PEER2PEER = 1 << 1,
    QVIR_MIGRATE_TUNNELLED = 1 << 2,
    QVIR_MIGRATE_PERSIST_DEST = 1 << 3,
    QVIR_MIGRATE_UNDEFINE_SOURCE = 1 << 4,
    QVIR_MIGRATE_PAUSED = 1 << 5,
    QVIR_MIGRATE_NON_SHARED_DISK = 1 << 6,
    QVIR_MIGRATE_NON_SHARED_INC = 1 << 7,
    QVIR_MIGRATE_CHANGE_PROTECTION = 1 << 8,
    QVIR_MIGRATE_UNSAFE = 1 << 9,
    QVIR_MIGRATE_OFFLINE = 1 << 10,
    QVIR_MIGRATE_COMPRESSED = 1 << 11,
    QVIR_MIGRATE_ABORT_ON_ERROR = 1 << 12,
    QVIR_MIGRATE_AUTO_CONVERGE = 1 << 13,
} qvirMigrateFlags;

/* libvirt's VIR_MIGRATE_CHANGE_PROTECTION, set by the client library (not the user) on
 * the source's Begin, Perform and Confirm: the job lasts from Begin to Confirm. */

/* The typed parameters of a migration (VIR_MIGRATE_PARAM_*) qvirtd takes. */
typedef struct {
    char *uri;        /* migrate_uri: tcp://HOST[:PORT] or tcp:HOST[:PORT] */
    char *destName;   /* destination_name */
    char *destXML;    /* destination_xml */
    char *persistXML; /* persistent_xml */
    gboolean haveBandwidth;
    guint64 bandwidth;       /* bandwidth, MiB/s */
    char *listenAddress;     /* listen_address */
    GPtrArray *migrateDisks; /* migrate_disks (char*), or NULL: every writable disk */
    int disksPort;           /* disks_port, 0: from the range */
    /* Not a typed parameter: a peer-to-peer source's watch on its connection to the
     * destination daemon. Perform fails ("Lost connection to destination host") once it
     * answers FALSE, as libvirt's does. NULL when the client drives the phases. */
    gboolean (*peerAlive)(gpointer opaque);
    gpointer peerOpaque;
    /* Not a typed parameter either: the client connection whose Begin keeps the job
     * (VIR_MIGRATE_CHANGE_PROTECTION) or whose Prepare started the incoming one, for
     * qvirDriverDomainMigrateConnClosed. */
    gconstpointer conn;
} qvirMigrateParams;

void qvirMigrateParamsClear(qvirMigrateParams *p);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qvirMigrateParams, qvirMigrateParamsClear);

/* libvirt's virDomainJobType / virDomainJobOperation values. */
enum {
    QVIR_DOMAIN_JOB_NONE = 0,
    QVIR_DOMAIN_JOB_UNBOUNDED = 2,
    QVIR_DOMAIN_JOB_COMPLETED = 3,
    QVIR_DOMAIN_JOB_FAILED = 4,
};
enum {
    QVIR_DOMAIN_JOB_OPERATION_MIGRATION_IN = 4,
    QVIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT = 5,
};

/* What virDomainGetJobStats reports of a migration (bytes, milliseconds). */
typedef struct {
    int type;
    int operation;
    guint64 elapsed;
    guint64 memTotal, memProcessed, memRemaining, memBps, memIteration;
    guint64 diskTotal, diskProcessed, diskRemaining;
    gboolean haveDowntime;
    guint64 downtime;
    guint64 setupTime;
} qvirDomainJobInfo;

/* The driver's migration bookkeeping (one per driver). */
typedef struct _qemuMigrationTable qemuMigrationTable;
qemuMigrationTable *qemuMigrationTableNew(void);
void qemuMigrationTableFree(qemuMigrationTable *table);
/* At daemon start, after the domains are back: end the migrations a killed daemon left
 * (an incoming QEMU is stopped and the images its Prepare created go, unless Finish had
 * resumed its guest; an outgoing one loses its mirrors and keeps the guest). */
void qemuMigrationRecover(qvirDriver *drv);

/* The source's job outlives Begin (VIR_MIGRATE_CHANGE_PROTECTION), or the destination's
 * Prepare, and the connection PARAMS->conn of that call closed: the job ends as libvirt's
 * close callback ends it (an incoming migration goes altogether). */
void qvirDriverDomainMigrateConnClosed(qvirDriver *drv, const unsigned char *uuid,
                                       gconstpointer conn);
char *qvirDriverDomainMigrateBegin(qvirDriver *drv, const unsigned char *uuid,
                                   const qvirMigrateParams *params, unsigned int flags,
                                   GBytes **cookieOut, GError **error);
/* *DOM: the domain created here (for the connection's clean-up should it close before
 * Finish). */
gboolean qvirDriverDomainMigratePrepare(qvirDriver *drv, const qvirMigrateParams *params,
                                        GBytes *cookieIn, unsigned int flags, GBytes **cookieOut,
                                        char **uriOut, qvirDomainRef **dom, GError **error);
/* The connection that prepared the incoming run ID of UUID went before Finish: undo
 * Prepare as a cancelled Finish would (the job ends, QEMU goes, the images Prepare made are
 * removed), as libvirt's close callback does. FALSE when there is no such migration. */
gboolean qvirDriverDomainMigrateAbandonIncoming(qvirDriver *drv, const unsigned char *uuid, int id);
gboolean qvirDriverDomainMigratePerform(qvirDriver *drv, const unsigned char *uuid,
                                        const char *dconnuri, const qvirMigrateParams *params,
                                        GBytes *cookieIn, unsigned int flags, GBytes **cookieOut,
                                        GError **error);
qvirDomainRef *qvirDriverDomainMigrateFinish(qvirDriver *drv, const qvirMigrateParams *params,
                                             GBytes *cookieIn, unsigned int flags,
                                             gboolean cancelled, GBytes **cookieOut,
                                             GError **error);
gboolean qvirDriverDomainMigrateConfirm(qvirDriver *drv, const unsigned char *uuid,
                                        const qvirMigrateParams *params, GBytes *cookieIn,
                                        unsigned int flags, gboolean cancelled, GError **error);

/* The running migration job of the domain (COMPLETED: the last one that ended here). */
gboolean qvirDriverDomainGetJobInfo(qvirDriver *drv, const unsigned char *uuid, gboolean completed,
                                    qvirDomainJobInfo *info, GError **error);
gboolean qvirDriverDomainAbortJob(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                  GError **error);
/* MiB/s, as virDomainMigrateSetMaxSpeed takes it. */
gboolean qvirDriverDomainMigrateSetMaxSpeed(qvirDriver *drv, const unsigned char *uuid,
                                            guint64 bandwidth, unsigned int flags, GError **error);
gboolean qvirDriverDomainMigrateGetMaxSpeed(qvirDriver *drv, const unsigned char *uuid,
                                            unsigned int flags, guint64 *bandwidth, GError **error);
