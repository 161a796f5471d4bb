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
    gboolean allowFormatProbing;   /* qvirtd.conf allow_disk_format_probing (default FALSE) */
    unsigned int maxDepth;         /* qvirtd.conf max_backing_chain_depth (default 200) */
    const char *diskName;          /* for messages ("... for disk 'vda'"); may be NULL */
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

/* Number of image headers read by this process so far (tests assert "no re-read"). */
guint64 qvirStorageProbeCounter(void);
