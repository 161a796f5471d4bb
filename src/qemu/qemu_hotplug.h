/*
 * qemu_hotplug.h: disks added to and removed from a running QEMU, and cdrom media change.
 *
 * The new disk's chain is filled from its images before QEMU sees it (the only time its
 * headers are read), then every layer is added with blockdev-add using the same
 * qemu_block.h properties as a cold start, deepest layer first, and the device is added
 * on a free hot-pluggable port. Any failure removes what was added and leaves the
 * definition and the disk exactly as they were.
 *
 * DEF is the live definition of the running domain; the caller holds the domain's lock.
 */
#pragma once

#include <glib.h>

#include "conf/domain_conf.h"
#include "storage/storage_chain.h"
#include "qemu/qemu_block.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_monitor.h"
#include "security/security_dac.h"
#include "qemu/qemu_blockjob.h"

typedef struct {
    const qvirStorageChainConfig *chainConfig; /* NULL: defaults */
    int defaultDiskCache; /* qvirDomainDiskCache for disks without one; -1 = none */
    /* Labels the new chain for QEMU's user before QEMU opens it, and restores them when
     * the attach or media change fails (NULL: none). Removals are the caller's. */
    qvirSecurityDAC *security;
    /* QEMU's pid: block devices of the new chain get nodes in its private /dev (none
     * when it has none; 0: skip). */
    pid_t pid;
    /* <transient/> disks: put the overlay on the disk's chain, which QEMU has (read-only),
     * before the device is added on it (the driver passes qemu_snapshot.h's
     * qemuSnapshotCreateTransientOverlay); NULL refuses transient disks. */
    gboolean (*transientOverlay)(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDef *def,
                                 qvirDomainDiskDef *disk, qvirSecurityDAC *security,
                                 GError **error);
    /* Secrets of network disks and the domain's master key (NULL: a network disk that
     * needs a secret is refused). */
    const qemuBlockSecretCtx *secrets;
} qemuHotplugOpts;

/*
 * Attach DISK (parsed from <disk> XML) to the running domain. On success DEF owns DISK
 * (appended to def->disks) with its chain, alias, address, node names and indexes set.
 * On failure DISK is exactly as passed in and still the caller's.
 * A SCSI disk whose controller (or a lower-indexed one) the domain lacks gets it first,
 * hot-plugged as libvirt does; such a controller stays in DEF (and in QEMU) even when the
 * disk then fails.
 */
gboolean qemuHotplugAttachDisk(qemuMonitor *mon, const qemuCaps *caps, qvirDomainDef *def,
                               qvirDomainDiskDef *disk, const qemuHotplugOpts *opts,
                               GError **error);

typedef enum {
    QEMU_HOTPLUG_DETACH_DONE = 0,   /* QEMU removed the device; nodes deleted, disk freed */
    QEMU_HOTPLUG_DETACH_PENDING = 1 /* asked; the guest has not released the device yet */
} qemuHotplugDetachResult;

/*
 * Detach DISK (which DEF holds): device_del, then wait up to TIMEOUT_MS for
 * DEVICE_DELETED. When it arrives, every layer is blockdev-del'ed and the disk removed
 * from DEF and freed (DONE). Otherwise the disk stays in DEF, still in use by QEMU, and
 * the result is PENDING: a virtio disk needs the guest's cooperation, so without a
 * running guest the detach cannot complete, and we say so instead of pretending. The
 * caller finishes later with qemuHotplugDiskRemoved() when DEVICE_DELETED arrives.
 * Returns -1 with ERROR on failure (DEF unchanged).
 */
int qemuHotplugDetachDisk(qemuBlockJobs *events, qemuMonitor *mon, qvirDomainDef *def,
                          qvirDomainDiskDef *disk, unsigned int timeoutMs, GError **error);

/*
 * DEVICE_DELETED for ALIAS arrived: delete the nodes of the disk with that alias and
 * remove it from DEF. FALSE (no error set) when no disk of DEF has that alias.
 */
gboolean qemuHotplugDiskRemoved(qemuMonitor *mon, qvirDomainDef *def, const char *alias,
                                GError **error);

/*
 * Change the medium of cdrom DISK: NEWSRC NULL (or type NONE) ejects; otherwise NEWSRC's
 * chain is filled and it replaces the current medium (insert and update alike). On
 * success NEWSRC is consumed (DISK owns it, or it was freed for an eject) and the old
 * medium's nodes are deleted and its chain freed; on failure it is still the caller's.
 * FORCE opens a locked tray. On failure DISK, NEWSRC and QEMU's medium are as before
 * whenever QEMU allows (a failure after the old medium was removed re-inserts it).
 */
gboolean qemuHotplugChangeMedia(qemuMonitor *mon, const qemuCaps *caps, qvirDomainDef *def,
                                qvirDomainDiskDef *disk, qvirStorageSource *newsrc, gboolean force,
                                const qemuHotplugOpts *opts, GError **error);

/*
 * device_add DISK, which DEF already holds with its alias, address and node names and
 * whose chain QEMU already has (a <transient shareBacking='yes'/> disk at start). A USB
 * disk without an address gets the first free port.
 */
gboolean qemuHotplugAddDiskDevice(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDef *def,
                                  qvirDomainDiskDef *disk, GError **error);

/* ---- shared with block jobs and snapshots ---------------------------------------- */

/*
 * blockdev-add the storage then the format node of every layer of TOP's chain, deepest
 * first. On failure, what was added is deleted again.
 */
gboolean qemuHotplugBlockdevAddChain(qemuMonitor *mon, const qemuCaps *caps,
                                     const qvirDomainDiskDef *disk, qvirStorageSource *top,
                                     GError **error);

/* The same for the layers from TOP down to STOP (excluded), which QEMU already has. */
gboolean qemuHotplugBlockdevAddLayers(qemuMonitor *mon, const qemuCaps *caps,
                                      const qvirDomainDiskDef *disk, qvirStorageSource *top,
                                      const qvirStorageSource *stop, GError **error);
/*
 * The same again with network layers' secrets and TLS credentials object-add'ed before
 * their storage node (SCTX: where values come from and the master key; NULL refuses a
 * layer that needs one). On failure the objects added are deleted too.
 */
gboolean qemuHotplugBlockdevAddLayersFull(qemuMonitor *mon, const qemuCaps *caps,
                                          const qvirDomainDiskDef *disk, qvirStorageSource *top,
                                          const qvirStorageSource *stop,
                                          const qemuBlockSecretCtx *sctx, GError **error);

/*
 * blockdev-del the format then the storage node of every layer from TOP down (top first:
 * a layer's overlay must go before it), and object-del a network layer's secrets and TLS
 * credentials after its node. Layers without node names are skipped. Carries on after an
 * error and reports the first one (a missing object is not one).
 */
gboolean qemuHotplugBlockdevDelChain(qemuMonitor *mon, qvirStorageSource *top, GError **error);
