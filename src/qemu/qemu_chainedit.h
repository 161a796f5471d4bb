/*
 * qemu_chainedit.h: in-place edits of a disk's cached backing chain.
 *
 * When a block job or a snapshot finishes, QEMU's block graph has changed and the
 * cached chain must follow it exactly, without re-reading any image header (libvirt's
 * rule since -blockdev). These functions are pure: they touch only qvirStorageSource
 * lists, never QEMU or the host, so every edge case is testable on its own
 * (tests/qemuchainedittest.c). Each one either succeeds completely or leaves the chain
 * exactly as it was.
 *
 * Layers an edit removes from the chain are handed back as a detached list (the last
 * one's backingStore is NULL): the caller still has to blockdev-del their nodes, then
 * frees the list with qvirStorageSourceFree().
 */
#pragma once

#include <glib.h>

#include "conf/storage_source_conf.h"

/*
 * Find NAME in the chain starting at TOP: NAME is a path, the backing name as the
 * overlay stores it (relPath), or libvirt's "DST[INDEX]" notation (index = src->id).
 * With BENEATH set, only layers strictly below BENEATH are considered (libvirt looks up
 * --base beneath --top). PARENT, when non-NULL, receives the layer right above the
 * result (NULL for TOP itself). DST names the disk in errors, in libvirt's words:
 *   "could not find image 'X' beneath 'TOP' in chain for 'vda'"
 *   "could not find image 'X' in chain for 'vda'"
 *   "could not find backing store index '7' in chain for 'vda'"
 */
qvirStorageSource *qemuChainLookup(qvirStorageSource *top, const qvirStorageSource *beneath,
                                   const char *name, const char *dst, qvirStorageSource **parent,
                                   GError **error);

/* TRUE when LAYER is one of the real layers strictly below ABOVE. */
gboolean qemuChainContains(const qvirStorageSource *above, const qvirStorageSource *layer);

/*
 * Block pull (block-stream) into TOP finished: the layers between TOP and BASE merged
 * into TOP. BASE NULL means everything below TOP was pulled and TOP has no backing
 * any more. TOP's recorded backing name becomes BACKING_NAME (NULL: BASE's path), as
 * QEMU wrote it into TOP's header. Returns the removed layers (NULL when none were
 * removed); on error (BASE not below TOP, TOP without backing) nothing changes.
 */
gboolean qemuChainEditPull(qvirStorageSource *top, qvirStorageSource *base, const char *backingName,
                           qvirStorageSource **removed, GError **error);

/*
 * Commit of an inner layer finished: TOP and the layers down to BASE (exclusive)
 * merged into BASE; the layer above TOP (which must exist: TOP is not the disk's top)
 * now names BASE as its backing (BACKING_NAME, NULL: BASE's path).
 */
gboolean qemuChainEditCommit(qvirStorageSource *diskTop, qvirStorageSource *top,
                             qvirStorageSource *base, const char *backingName,
                             qvirStorageSource **removed, GError **error);

/*
 * Active commit pivoted: *DISK_TOP and everything down to BASE (exclusive) merged into
 * BASE, which becomes the disk's writable top.
 */
gboolean qemuChainEditActiveCommit(qvirStorageSource **diskTop, qvirStorageSource *base,
                                   qvirStorageSource **removed, GError **error);

/*
 * External snapshot taken: OVERLAY (a single layer without backing) becomes the disk's
 * top, the old top read-only beneath it, recorded by its path in OVERLAY's header.
 */
gboolean qemuChainEditSnapshot(qvirStorageSource **diskTop, qvirStorageSource *overlay,
                               GError **error);

/* Largest N used by a chain layer (index or libvirt-N-* node name) in CHAIN. */
unsigned int qemuChainMaxIndex(const qvirStorageSource *chain);
