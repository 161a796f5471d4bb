/*
 * qemu_block.c: -blockdev / blockdev-add properties of one chain layer, in libvirt
 * 9.0's key order, shared by the cold-start argv and hot-plug.
 */
#include "qemu/qemu_block.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "qemu/qemu_domain.h"

/* A node owning OBJ (json_node_init_object would add a reference). */
static JsonNode *
qemuBlockTakeObject(JsonObject *obj)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), obj);

    json_object_unref(obj);
    return node;
}

/* Properties that apply to the whole chain or to its top only (libvirt:
 * qemuDomainPrepareDiskSourceData). */
static gboolean
qemuBlockIsTop(const qvirDomainDiskDef *disk, const qvirStorageSource *src)
{
    return disk->src == src;
}

static void
qemuBlockAddCache(JsonObject *obj, const qvirDomainDiskDef *disk)
{
    gboolean direct = FALSE, noflush = FALSE;
    JsonObject *cache;

    if (!qemuDomainDiskCacheModeFlags(disk->cachemode, NULL, &direct, &noflush))
        return;
    cache = json_object_new();
    json_object_set_boolean_member(cache, "direct", direct);
    json_object_set_boolean_member(cache, "no-flush", noflush);
    json_object_set_object_member(obj, "cache", cache);
}

static const char *
qemuBlockStorageDriver(const qvirDomainDiskDef *disk, const qvirStorageSource *src)
{
    if (src->type != QVIR_STORAGE_TYPE_BLOCK)
        return "file";
    if (qemuBlockIsTop(disk, src) && qemuDomainDiskIsHostCDROM(disk))
        return "host_cdrom";
    return "host_device";
}

JsonNode *
qemuBlockStorageSourceGetBackendProps(const qvirDomainDiskDef *disk, const qvirStorageSource *src,
                                      const qemuCaps *caps)
{
    JsonObject *obj = json_object_new();

    json_object_set_string_member(obj, "driver", qemuBlockStorageDriver(disk, src));
    json_object_set_string_member(obj, "filename", src->path ? src->path : "");
    if (disk->iomode != QVIR_DOMAIN_DISK_IO_DEFAULT)
        json_object_set_string_member(obj, "aio", qvirDomainDiskIoTypeToString(disk->iomode));
    json_object_set_string_member(obj, "node-name", src->nodeStorage ? src->nodeStorage : "");
    qemuBlockAddCache(obj, disk);
    /* QEMU opens read-only layers read-only by itself, and the guest's discard
     * requests reach the protocol layer; the format node decides. */
    json_object_set_boolean_member(obj, "auto-read-only", TRUE);
    json_object_set_string_member(obj, "discard", "unmap");
    (void)caps;
    return qemuBlockTakeObject(obj);
}

static const char *
qemuBlockFormatDriver(qvirStorageFileFormat format)
{
    switch (format) {
    case QVIR_STORAGE_FILE_NONE:
    case QVIR_STORAGE_FILE_RAW:
    case QVIR_STORAGE_FILE_ISO:
        return "raw";
    case QVIR_STORAGE_FILE_QCOW:
    case QVIR_STORAGE_FILE_QCOW2:
    case QVIR_STORAGE_FILE_QED:
    case QVIR_STORAGE_FILE_VMDK:
    case QVIR_STORAGE_FILE_VPC:
    case QVIR_STORAGE_FILE_VDI:
    case QVIR_STORAGE_FILE_VHDX:
    case QVIR_STORAGE_FILE_LUKS:
        return qvirStorageFileFormatTypeToString(format);
    case QVIR_STORAGE_FILE_LAST:
    default:
        return "raw";
    }
}

gboolean
qemuBlockFormatSupportsBacking(qvirStorageFileFormat format)
{
    return format == QVIR_STORAGE_FILE_QCOW || format == QVIR_STORAGE_FILE_QCOW2 ||
           format == QVIR_STORAGE_FILE_QED || format == QVIR_STORAGE_FILE_VMDK;
}

const char *
qemuBlockDetectZeroesValue(const qvirDomainDiskDef *disk)
{
    if (disk->detect_zeroes == QVIR_DOMAIN_DISK_DETECT_ZEROES_DEFAULT)
        return NULL;
    /* QEMU refuses detect-zeroes=unmap unless discard=unmap. */
    if (disk->detect_zeroes == QVIR_DOMAIN_DISK_DETECT_ZEROES_UNMAP &&
        disk->discard != QVIR_DOMAIN_DISK_DISCARD_UNMAP)
        return "on";
    return qvirDomainDiskDetectZeroesTypeToString(disk->detect_zeroes);
}

JsonNode *
qemuBlockStorageSourceGetFormatProps(const qvirDomainDiskDef *disk, const qvirStorageSource *src,
                                     const qemuCaps *caps)
{
    JsonObject *obj = json_object_new();
    gboolean top = qemuBlockIsTop(disk, src);
    const char *dz;

    json_object_set_string_member(obj, "node-name", src->nodeFormat ? src->nodeFormat : "");
    json_object_set_boolean_member(obj, "read-only", top ? src->readonly : TRUE);
    /* libvirt's order: the common properties, then the cache object */
    if (disk->discard != QVIR_DOMAIN_DISK_DISCARD_DEFAULT)
        json_object_set_string_member(obj, "discard",
                                      qvirDomainDiskDiscardTypeToString(disk->discard));
    if (top && (dz = qemuBlockDetectZeroesValue(disk)))
        json_object_set_string_member(obj, "detect-zeroes", dz);
    qemuBlockAddCache(obj, disk);
    json_object_set_string_member(obj, "driver", qemuBlockFormatDriver(src->format));
    /* qcow2's L2 + refcount cache; other formats have no such knob (libvirt ignores it) */
    if (src->format == QVIR_STORAGE_FILE_QCOW2 && src->metadataCacheMaxSize)
        json_object_set_int_member(obj, "cache-size", (gint64)src->metadataCacheMaxSize);
    json_object_set_string_member(obj, "file", src->nodeStorage ? src->nodeStorage : "");

    /* No "backing" key lets QEMU open an unknown chain itself; null ends a known one. */
    if (qemuBlockFormatSupportsBacking(src->format) && src->backingStore) {
        if (qvirStorageSourceIsBacking(src->backingStore))
            json_object_set_string_member(
                obj, "backing", src->backingStore->nodeFormat ? src->backingStore->nodeFormat : "");
        else
            json_object_set_null_member(obj, "backing");
    }
    (void)caps;
    return qemuBlockTakeObject(obj);
}

char *
qemuBlockJSONToString(JsonNode *props)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();

    json_generator_set_root(gen, props);
    return json_generator_to_data(gen, NULL);
}

/* ---- transient disks ------------------------------------------------------------------- */

char *
qemuBlockTransientOverlayPath(const char *imagePath, const char *domName)
{
    return g_strdup_printf("%s.TRANSIENT-%s", imagePath, domName);
}

void
qemuBlockRemoveTransientOverlay(const qvirDomainDiskDef *disk, const char *domName)
{
    const qvirStorageSource *base;
    g_autofree char *expect = NULL;

    if (!disk->transient || !disk->src || !disk->src->path)
        return;
    base = disk->src->backingStore;
    if (!qvirStorageSourceIsBacking(base) || !base->path)
        return;
    expect = qemuBlockTransientOverlayPath(base->path, domName);
    if (strcmp(disk->src->path, expect) != 0)
        return;
    if (g_unlink(expect) < 0 && errno != ENOENT)
        g_message("cannot remove transient overlay '%s' of disk '%s': %s", expect, disk->dst,
                  g_strerror(errno));
}
