/*
 * storage_netprobe.h: reading one network layer's metadata through QEMU's own block layer.
 *
 * qvirt never opens network storage itself: a layer on NBD, RBD, iSCSI, HTTP(S), Gluster,
 * NFS or SSH is described to `qemu-img info --output=json` as a json:{} filename of that
 * one layer (its format driver over its protocol driver; qemu-img opens it without its
 * backing chain), and the reply gives format, size, backing name and backing format. Each
 * probe costs QEMU's connection set-up (about 0.1 s against a local qemu-nbd), which is
 * why the chain probe uses it only when asked to (libvirt 9.0 never reads a network layer
 * and leaves the chain below it to QEMU).
 */
#pragma once

#include <glib.h>

#include "conf/storage_source_conf.h"

/*
 * Fill SRC->capacity, encrypted, backingStoreRaw and backingFormat from QEMU's view of
 * the network layer SRC (type NETWORK with a protocol; its format must be known). Layers
 * with <auth> are refused (their secrets never reach a command line; probing them is not
 * implemented). QEMU_IMG NULL: "qemu-img" from PATH.
 */
gboolean qvirStorageNetProbeLayer(qvirStorageSource *src, const char *qemuImg, GError **error);

/*
 * The json:{} filename QEMU opens SRC by (format driver over protocol driver), without the
 * "json:" prefix. NULL with ERROR set for a protocol QEMU cannot open.
 */
char *qvirStorageNetProbeJSON(const qvirStorageSource *src, GError **error);

/* Number of network layers probed by this process so far (tests assert "no re-probe"). */
guint64 qvirStorageNetProbeCounter(void);
