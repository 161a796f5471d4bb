/*
 * qemu_block.h: -blockdev / blockdev-add properties for one chain layer, shared by the
 * command line (cold start) and hot-plug, so both produce identical nodes.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"

/* Storage ("file"/"host_device") node properties of layer SRC of DISK. */
JsonNode *qemuBlockStorageSourceGetBackendProps(const qvirDomainDiskDef *disk,
                                                const qvirStorageSource *src, const qemuCaps *caps);
/* Format node properties; "backing" links to src->backingStore's format node (null at a known end).
 */
JsonNode *qemuBlockStorageSourceGetFormatProps(const qvirDomainDiskDef *disk,
                                               const qvirStorageSource *src, const qemuCaps *caps);
/* Serialise JSON properties compactly, in insertion order, as libvirt's argv shows them. */
char *qemuBlockJSONToString(JsonNode *props);

/* Formats whose format node takes a "backing" property (qcow, qcow2, qed, vmdk). */
gboolean qemuBlockFormatSupportsBacking(qvirStorageFileFormat format);
/* detect-zeroes as QEMU gets it ("unmap" becomes "on" without discard=unmap); NULL = default. */
const char *qemuBlockDetectZeroesValue(const qvirDomainDiskDef *disk);

/* libvirt's overlay of a <transient/> disk: IMAGEPATH.TRANSIENT-DOMNAME, beside the image. */
char *qemuBlockTransientOverlayPath(const char *imagePath, const char *domName);
/*
 * Delete the overlay of transient DISK (of domain DOMNAME) when its top is exactly that
 * overlay over its image, so never the image itself (a start that failed before the
 * overlay was made leaves the image on top).
 */
void qemuBlockRemoveTransientOverlay(const qvirDomainDiskDef *disk, const char *domName);
