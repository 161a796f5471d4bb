/*
 * qemu_iotune.h: block I/O throttling and write thresholds of running disks: libvirt's
 * rules for merging a virDomainSetBlockIoTune request into what a disk has, and the QMP
 * that sets and reads them (block_set_io_throttle, query-block, block-set-write-threshold).
 * Used by the start (a definition's <iotune>) and by the driver's live API calls alike.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_monitor.h"

/* One disk's throttle: the <iotune> limits (0 = none) and the group (NULL = none). */
typedef struct {
    unsigned long long v[QVIR_DOMAIN_IOTUNE_LAST];
    char *group;
} qemuBlockIoTune;

void qemuBlockIoTuneClear(qemuBlockIoTune *t);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qemuBlockIoTune, qemuBlockIoTuneClear);

/* Which fields a request names: bit F for field F, QEMU_IOTUNE_SET_GROUP for group_name. */
#define QEMU_IOTUNE_SET_GROUP (1u << QVIR_DOMAIN_IOTUNE_LAST)
G_STATIC_ASSERT(QVIR_DOMAIN_IOTUNE_LAST < 31);

/* A virDomainSetBlockIoTune request: its values, the fields it names (SET) and their
 * order as the client sent them (a field, or QVIR_DOMAIN_IOTUNE_LAST for group_name):
 * libvirt's TUNABLE event lists them so. */
typedef struct {
    qemuBlockIoTune t;
    guint32 set;
    guint8 order[QVIR_DOMAIN_IOTUNE_LAST + 1];
    guint norder;
} qemuBlockIoTuneRequest;

/* libvirt's (and QEMU's) largest limit. */
#define QEMU_BLOCK_IOTUNE_MAX 1000000000000000ULL

/* DISK's <iotune> into OUT (cleared first). */
void qemuBlockIoTuneFromDisk(qemuBlockIoTune *out, const qvirDomainDiskDef *disk);
/* IN onto DISK's <iotune>. */
void qemuBlockIoTuneToDisk(qvirDomainDiskDef *disk, const qemuBlockIoTune *in);

/* libvirt's first checks of a request REQ: every value it names within
 * QEMU_BLOCK_IOTUNE_MAX, and no total limit beside its read/write pair. */
gboolean qemuBlockIoTuneCheckRequest(const qemuBlockIoTuneRequest *req, GError **error);

/*
 * The throttle DISK of DEF gets from request REQ into OUT, as libvirt's
 * qemuDomainSetBlockIoTune computes it: the limits of a family (bytes, iops, their
 * maxima and burst lengths, size, group) the request leaves out come from what the disk
 * has, or from its group GROUPOF names (NULL: REQ's); all zero leaves the group (a new
 * group with no limits is refused). CHECKMAX (the live side only, as libvirt): a maximum
 * needs its base limit and must not be below it.
 */
gboolean qemuBlockIoTuneMerge(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                              const qemuBlockIoTuneRequest *req, const char *groupOf,
                              gboolean checkMax, qemuBlockIoTune *out, GError **error);

/* T onto DISK and onto every disk of DEF in T's group (one group has one throttle). */
void qemuBlockIoTuneApply(qvirDomainDef *def, qvirDomainDiskDef *disk, const qemuBlockIoTune *t);

/* block_set_io_throttle of T for DISK's guest device (every base limit sent, burst lengths
 * and the group only when set). */
gboolean qemuBlockIoTuneSet(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDiskDef *disk,
                            const qemuBlockIoTune *t, GError **error);
/* What QEMU applies to DISK's device (query-block) into OUT (cleared first). */
gboolean qemuBlockIoTuneGet(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDiskDef *disk,
                            qemuBlockIoTune *out, GError **error);

/* block-set-write-threshold on NODE (a storage node name); 0 disarms. */
gboolean qemuBlockSetWriteThreshold(qemuMonitor *mon, const char *node,
                                    unsigned long long threshold, GError **error);
