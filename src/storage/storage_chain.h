/*
 * storage_chain.h: filling a disk's backing chain from its images.
 *
 * The probe result is the cache: each layer is opened, fstat'ed and read once
 * (at most 0x8200 bytes, plus one more read for a vmdk descriptor), and the
 * resulting qvirStorageSource chain is what every later operation consults.
 */
#pragma once

#include "conf/storage_source_conf.h"

typedef struct {
    gboolean allowFormatProbing; /* qvirtd.conf allow_disk_format_probing (default FALSE) */
    unsigned int maxDepth;       /* qvirtd.conf max_backing_chain_depth (default 200) */
    const char *diskName;        /* for messages ("... for disk 'vda'"); may be NULL */
    /* qvirtd.conf probe_network_backing_chains (default FALSE, libvirt's behaviour: the
     * chain below a network layer stays unknown and QEMU opens it). TRUE: a network
     * layer of a format that can have a backing is read through qemu-img (QEMU_IMG, NULL
     * for PATH's), one layer at a time, and the chain followed as far as it goes. */
    gboolean probeNetwork;
    const char *qemuImg;
} qvirStorageChainConfig;

#define QVIR_STORAGE_CHAIN_DEFAULT_MAX_DEPTH 200

void qvirStorageChainConfigInit(qvirStorageChainConfig *cfg);

/*
 * Fill the chain below TOP (which must be a file or block source with path set).
 * TOP->format may be NONE only when cfg->allowFormatProbing is set. On success
 * TOP->backingStore is a terminated chain (or ends at a network backing, which is
 * reported and not opened). On failure TOP is exactly as before and error says why,
 * in libvirt's words.
 */
gboolean qvirStorageChainProbe(qvirStorageSource *top, const qvirStorageChainConfig *cfg,
                               GError **error);
/*
 * Details of qvirStorageChainProbe (src/storage/storage_chain.c):
 *  - On success any chain already below TOP is replaced; TOP's type becomes "block" when
 *    its path is a block device, and a probed TOP gets the guessed format.
 *  - Backing layers get relPath = the name as stored, path = it resolved against the
 *    directory of the image naming it, format = the overlay's recorded backing format,
 *    readonly = TRUE. A layer named by a protocol string (colon before any slash: nbd:,
 *    json:, URIs; see storage_backingstore.h) is a NETWORK layer: never opened, and the
 *    chain below it stays unknown unless cfg->probeNetwork (storage_netprobe.h). A name
 *    with inline credentials leaves the chain unknown below the layer naming it.
 *  - A format that is neither given nor recorded is an error unless allowFormatProbing;
 *    then the layer is guessed from its header, and a guessed layer that names a backing
 *    file is an error (libvirt's "format of backing image ... was not specified").
 *    The exception is libvirt's AUTO_SAFE rule: the backing of a QED image without the
 *    "backing is raw" bit is always guessed, and followed further, as QEMU does.
 *  - Raw and ISO layers are never read. Other layers: open, fstat, one pread (4 KiB for
 *    formats whose metadata fits, else 0x8200 bytes), close; VMDK and VHDX may need more
 *    reads of metadata further in; no byte is read twice.
 *  - Depth counts the top as 1; layer maxDepth + 1 is refused before it is opened:
 *    "backing chains more than N layers deep are not supported for disk 'D'" when
 *    cfg->diskName is set, else libvirt's "backing store for P is self-referential or too
 *    deeply nested", which is also the error for a loop (same st_dev and st_ino twice).
 */

/* Number of image headers read by this process so far (tests assert "no re-read"). */
guint64 qvirStorageProbeCounter(void);
