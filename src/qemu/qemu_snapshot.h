/*
 * qemu_snapshot.h: external disk-only snapshots of a running domain.
 *
 * For every disk: blockdev-create the overlay file, blockdev-add its storage node,
 * blockdev-create the qcow2 on it (backing-file / backing-fmt = the current top),
 * blockdev-add the format node with "backing": null; then one `transaction` of
 * blockdev-snapshot actions switches all disks at once (atomic: all or none). The new
 * overlay becomes the cached top and the old top is read-only beneath it; no image
 * header is read. Any failure removes the nodes and the files this call created.
 */
#pragma once

#include <glib.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_blockjob.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_monitor.h"
#include "security/security_dac.h"

typedef enum {
    QEMU_SNAPSHOT_LOCATION_DEFAULT = 0,
    QEMU_SNAPSHOT_LOCATION_NO,
    QEMU_SNAPSHOT_LOCATION_INTERNAL,
    QEMU_SNAPSHOT_LOCATION_EXTERNAL,
    QEMU_SNAPSHOT_LOCATION_LAST
} qemuSnapshotLocation;
QVIR_ENUM_DECL(qemuSnapshotLocation); /* "default", "no", "internal", "external" */

/* One <disk> of <domainsnapshot><disks>. */
typedef struct {
    char *name; /* target ("vda") or source path, as written; the target after alignment */
    qemuSnapshotLocation snapshot;
    char *file;                   /* <source file=>: the new overlay */
    qvirStorageFileFormat format; /* <driver type=>; NONE = qcow2 */
} qemuSnapshotDiskDef;

/* <domainsnapshot>: what a disk-only snapshot needs. */
typedef struct {
    char *name;
    char *description;
    long long creationTime; /* seconds since the epoch */
    char *state;            /* "disk-snapshot" for disk-only snapshots */
    char *memorySnapshot;   /* <memory snapshot=>, NULL when absent */
    char *memoryFile;       /* <memory file=>, NULL when absent */
    GPtrArray *disks;       /* qemuSnapshotDiskDef* */
    char *domainXML;        /* the domain's <domain> when the snapshot was taken (metadata) */
} qemuSnapshotDef;

void qemuSnapshotDefFree(qemuSnapshotDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuSnapshotDef, qemuSnapshotDefFree);

/* Parse <domainsnapshot> XML (syntax only). A missing name is generated later. */
qemuSnapshotDef *qemuSnapshotDefParseString(const char *xml, GError **error);

/*
 * Match the snapshot's disks with DOMDEF's for a disk-only snapshot, as libvirt does:
 * unknown or repeated disks are errors, unlisted disks get the default (external, or
 * "no" for read-only and empty disks), and external disks without a file get
 * "TOP_WITHOUT_SUFFIX.SNAPNAME". Generates a name (the creation time) when missing.
 */
gboolean qemuSnapshotDefAlignDisks(qemuSnapshotDef *snap, const qvirDomainDef *domdef,
                                   GError **error);

/*
 * The same for any snapshot, as libvirt's virDomainSnapshotAlignDisks with QEMU's uniform
 * internal rule: DEFLOC is where a disk goes unless it says otherwise (external for a
 * disk-only or external-memory snapshot, internal otherwise), and when it is internal
 * every listed disk must be internal too.
 */
gboolean qemuSnapshotDefAlignDisksFull(qemuSnapshotDef *snap, const qvirDomainDef *domdef,
                                       qemuSnapshotLocation defLoc, GError **error);

/*
 * libvirt's checks of <memory> when it parses a snapshot (virDomainSnapshotDefParse):
 * OFFLINE when the domain is not running or the snapshot is disk-only. Sets *MEMORY to the
 * memory location (DEFAULT when the XML leaves it open).
 */
gboolean qemuSnapshotDefCheckMemory(const qemuSnapshotDef *snap, gboolean offline,
                                    qemuSnapshotLocation *memory, GError **error);

/* What qemuSnapshotPrepare found among an aligned snapshot's disks. */
typedef struct {
    guint internal; /* disks snapshotted inside their image */
    guint external; /* disks that get an overlay */
    guint qed; /* of those, overlays asked for in QED (libvirt allows it; qvirt makes qcow2 only) */
} qemuSnapshotPlan;

/*
 * libvirt's checks of an aligned snapshot against the domain (qemuSnapshotPrepare), in its
 * order and words: internal disks on a running domain's disk-only snapshot, formats, nothing
 * selected, internal snapshots that leave disks out, mixed internal and external. DISKONLY:
 * the snapshot is disk-only; MEMORY: its memory location.
 */
gboolean qemuSnapshotPrepare(const qemuSnapshotDef *snap, const qvirDomainDef *domdef,
                             gboolean active, gboolean diskOnly, qemuSnapshotLocation memory,
                             qemuSnapshotPlan *plan, GError **error);

/* <domainsnapshot> XML for metadata and snapshot-dumpxml (DOMAINXML inside when set). */
char *qemuSnapshotDefFormat(const qemuSnapshotDef *snap);

/*
 * What a disk-only snapshot means for a definition that is not running (libvirt updates
 * the persistent definition too): each snapshotted disk's source becomes its overlay
 * (qcow2), with an unknown chain that the next start fills. Disks SNAP does not name, or
 * that DEF does not have, are left alone.
 */
void qemuSnapshotApplyToDef(qvirDomainDef *def, const qemuSnapshotDef *snap);

/*
 * libvirt 9.0's qemuSnapshotCreateInactiveExternal, for a domain that is not running: each
 * external disk of SNAP gets its overlay from `qemu-img create -f qcow2 -F FMT -b TOP
 * OVERLAY` (QEMU_IMG; NULL: PATH's qemu-img), or, with REUSE, the existing file as the
 * user made it; then DEF (the persistent definition) names the overlays
 * (qemuSnapshotApplyToDef). libvirt's checks of the overlay files come first. On success
 * *CREATED lists the files made here, for qemuSnapshotRemoveCreated should the caller fail
 * to persist DEF; on failure nothing made here is left and DEF is as before. The daemon
 * makes the files; QEMU's user gets them at the next start, with the rest of the chain.
 */
/* libvirt's checks of SNAP's overlay files for a domain that is not running, with DEF its
 * persistent definition (qemuSnapshotPrepareDiskExternal, its words): file and block disks
 * only; an overlay must not exist with data in it, or must exist with REUSE. */
gboolean qemuSnapshotCheckInactive(const qvirDomainDef *def, const qemuSnapshotDef *snap,
                                   gboolean reuse, GError **error);
gboolean qemuSnapshotCreateInactive(qvirDomainDef *def, const qemuSnapshotDef *snap, gboolean reuse,
                                    const char *qemuImg, GPtrArray **created, GError **error);
void qemuSnapshotRemoveCreated(GPtrArray *created);

/*
 * Delete an inactive domain's disk-only snapshot on one disk: OVERLAY (qcow2, the disk's
 * top) must have PARENT (the disk's source when the snapshot was taken) as its backing
 * file, in libvirt's words when not; `qemu-img commit` writes it into PARENT and the
 * overlay file is removed. What libvirt 9.0 does by starting QEMU paused, an active block
 * commit with DELETE and a stop, without a QEMU process. *PARENTISBASE: PARENT has no
 * backing file (libvirt's definition then ends its chain there: <backingStore/>).
 */
gboolean qemuSnapshotMergeInactive(const char *overlay, const qvirStorageSource *parent,
                                   const char *qemuImg, gboolean *parentIsBase, GError **error);

/*
 * Take the external snapshot of every disk of SNAP with location external, in one
 * transaction. JOBS: a disk in a block job is refused. On failure DEF, its chains and
 * the host's files are as before. SECURITY (NULL: none): when QEMU runs as its own user,
 * each new overlay file is created by the daemon and labelled for QEMU before QEMU
 * formats it (all of this, too, is undone on failure).
 */
gboolean qemuSnapshotCreateDiskOnly(qemuBlockJobs *jobs, qemuMonitor *mon, const qemuCaps *caps,
                                    qvirDomainDef *def, const qemuSnapshotDef *snap,
                                    qvirSecurityDAC *security, GError **error);

/*
 * Called for every disk once its overlay is named, before QEMU is given any of it and so
 * before the transaction that switches the disks: NEXT is the disk as it will be (overlay
 * on top of its chain). A FALSE return (with ERROR) undoes everything and sends nothing.
 */
typedef gboolean (*qemuSnapshotIntentFunc)(const qvirDomainDiskDef *next, gpointer opaque,
                                           GError **error);

/* qemuSnapshotCreateDiskOnly, with INTENT (may be NULL) told each disk's new chain first:
 * a daemon that dies while QEMU switches can learn afterwards what QEMU was asked. */
gboolean qemuSnapshotCreateDiskOnlyFull(qemuBlockJobs *jobs, qemuMonitor *mon, const qemuCaps *caps,
                                        qvirDomainDef *def, const qemuSnapshotDef *snap,
                                        qvirSecurityDAC *security, qemuSnapshotIntentFunc intent,
                                        gpointer opaque, GError **error);

/* ---- <transient/> disks --------------------------------------------------------------- */

/*
 * At start, before the vCPUs run: put a fresh qcow2 overlay on every <transient/> disk
 * in one transaction, as libvirt 9.0 does: the disks QEMU has from the command line, or
 * (SHAREBACKING) the shareBacking='yes' ones, whose read-only chain is already added but
 * no device yet. An existing overlay file is refused. On failure nothing was created.
 */
gboolean qemuSnapshotCreateTransientOverlays(qemuMonitor *mon, const qemuCaps *caps,
                                             qvirDomainDef *def, gboolean shareBacking,
                                             qvirSecurityDAC *security, GError **error);

/*
 * Hot-plug of transient DISK (not in DEF yet; its chain is in QEMU, no device yet): its
 * overlay, as at start. On failure nothing was created.
 */
gboolean qemuSnapshotCreateTransientOverlay(qemuMonitor *mon, const qemuCaps *caps,
                                            const qvirDomainDef *def, qvirDomainDiskDef *disk,
                                            qvirSecurityDAC *security, GError **error);

/*
 * At stop: delete the overlay of every transient disk of the live DEF whose top is
 * exactly the overlay's name over its original image (so never the image itself).
 */
void qemuSnapshotRemoveTransientOverlays(const qvirDomainDef *def);

/* Run QEMU's blockdev-create job JOBID with OPTIONS and wait for its end (block copy
 * formats its new destination with it too). */
gboolean qemuSnapshotBlockdevCreate(qemuMonitor *mon, const char *jobId, JsonObject *options,
                                    GError **error);

/* TOP's virtual size: the cached one, else QEMU's view of its node (a status file read
 * after a restart does not record sizes). */
gboolean qemuSnapshotTopSize(qemuMonitor *mon, const qvirStorageSource *top,
                             unsigned long long *size, GError **error);
