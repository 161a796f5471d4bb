/*
 * domain_validate.c: the host-independent semantic checks libvirt makes on a definition.
 *
 * Each check is one small function that either passes or sets an error worded as
 * libvirt 9.0 words it (conf/domain_validate.c, qemu/qemu_validate.c), so scripts that
 * match libvirt's messages keep working. Checks that need QEMU's capabilities (io_uring,
 * ...) live in src/qemu.
 */
#include "conf/domain_validate.h"

#include <string.h>

#include "util/virerror.h"

/* ---- disks ------------------------------------------------------------------------ */

static const char *
qvirDomainDiskSourceName(const qvirDomainDiskDef *disk)
{
    return disk->src->path ? disk->src->path : "<null>";
}

/* Only removable media may be empty (libvirt reports the target as the device). */
static gboolean
qvirDomainDiskValidateSource(const qvirDomainDiskDef *disk, GError **error)
{
    gboolean empty =
        disk->src->volume ? !disk->src->poolName : disk->src->type == QVIR_STORAGE_TYPE_NONE;

    if (disk->device == QVIR_DOMAIN_DISK_DEVICE_DISK && empty) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SOURCE,
                    "missing source information for device %s", disk->dst);
        return FALSE;
    }
    return TRUE;
}

/* libvirt's secret usage types (virSecretUsageType), the words <secret type=> may use. */
static const char *const qvirSecretUsageTypes[] = {"none", "volume", "ceph", "iscsi",
                                                   "tls",  "vtpm",   NULL};

static gboolean
qvirSecretUsageTypeKnown(const char *type)
{
    return type && g_strv_contains(qvirSecretUsageTypes, type);
}

/* <auth> of one network layer: a protocol that authenticates, a known secret type, and the
 * one its protocol needs (iscsi for CHAP, ceph for cephx). */
static gboolean
qvirStorageSourceValidateAuth(const qvirStorageSource *src, GError **error)
{
    const qvirStorageAuth *auth = src->auth;

    if (!auth)
        return TRUE;
    if (src->type != QVIR_STORAGE_TYPE_NETWORK) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "authentication is supported only for network backed disks");
        return FALSE;
    }
    switch (src->protocol) {
    case QVIR_STORAGE_NET_PROTOCOL_ISCSI:
    case QVIR_STORAGE_NET_PROTOCOL_HTTP:
    case QVIR_STORAGE_NET_PROTOCOL_HTTPS:
    case QVIR_STORAGE_NET_PROTOCOL_FTP:
    case QVIR_STORAGE_NET_PROTOCOL_FTPS:
    case QVIR_STORAGE_NET_PROTOCOL_SSH:
    case QVIR_STORAGE_NET_PROTOCOL_RBD:
    case QVIR_STORAGE_NET_PROTOCOL_NONE:
    case QVIR_STORAGE_NET_PROTOCOL_LAST:
        break;
    case QVIR_STORAGE_NET_PROTOCOL_NBD:
    case QVIR_STORAGE_NET_PROTOCOL_SHEEPDOG:
    case QVIR_STORAGE_NET_PROTOCOL_GLUSTER:
    case QVIR_STORAGE_NET_PROTOCOL_TFTP:
    case QVIR_STORAGE_NET_PROTOCOL_VXHS:
    case QVIR_STORAGE_NET_PROTOCOL_NFS:
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "authentication is not supported for protocol '%s'",
                    qvirStorageNetProtocolTypeToString(src->protocol));
        return FALSE;
    }
    if (!qvirSecretUsageTypeKnown(auth->secretType)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "unknown secret type '%s'",
                    auth->secretType ? auth->secretType : "<null>");
        return FALSE;
    }
    if ((src->protocol == QVIR_STORAGE_NET_PROTOCOL_ISCSI &&
         strcmp(auth->secretType, "iscsi") != 0) ||
        (src->protocol == QVIR_STORAGE_NET_PROTOCOL_RBD && strcmp(auth->secretType, "ceph") != 0)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "invalid secret type '%s'",
                    auth->secretType);
        return FALSE;
    }
    return TRUE;
}

/* Every layer of the chain, network ones included (libvirt checks each alike). */
static gboolean
qvirDomainDiskValidateChainSources(const qvirDomainDiskDef *disk, GError **error)
{
    for (const qvirStorageSource *cur = disk->src; cur; cur = cur->backingStore) {
        if (!qvirStorageSourceValidateAuth(cur, error))
            return FALSE;
        if (cur->encryption && cur->encryption->format == QVIR_STORAGE_ENCRYPTION_FORMAT_LUKS &&
            cur->encryption->hasCipher) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "supplying <cipher> for domain disk definition is unnecessary");
            return FALSE;
        }
    }
    return TRUE;
}

/*
 * "vda", "sdb", "hdaa": hd, sd or vd (fd for floppies) and then lower-case letters, which is
 * what libvirt's disk name to index conversion accepts. Like libvirt, the prefix need not
 * match the bus: "hda" on a SCSI bus is a valid name (libvirt's own test data has it).
 */
static gboolean
qvirDomainDiskValidateTarget(const qvirDomainDiskDef *disk, GError **error)
{
    const char *suffix;

    if (disk->device != QVIR_DOMAIN_DISK_DEVICE_FLOPPY && !g_str_has_prefix(disk->dst, "hd") &&
        !g_str_has_prefix(disk->dst, "sd") && !g_str_has_prefix(disk->dst, "vd")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "Invalid harddisk device name: %s",
                    disk->dst);
        return FALSE;
    }
    /* every accepted prefix (hd, sd, vd, and fd checked with the floppy rules) has two
     * letters */
    suffix = strlen(disk->dst) >= 2 ? disk->dst + 2 : "";
    if (!*suffix || strlen(suffix) > 3 ||
        strspn(suffix, "abcdefghijklmnopqrstuvwxyz") != strlen(suffix)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Unknown disk name '%s' and no address specified", disk->dst);
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainDiskValidateDriver(const qvirDomainDiskDef *disk, GError **error)
{
    if (disk->driverName && strcmp(disk->driverName, "qemu") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported driver name '%s' for disk '%s'", disk->driverName, disk->dst);
        return FALSE;
    }
    return TRUE;
}

/* O_DIRECT is what makes Linux AIO asynchronous; without it QEMU would block. */
static gboolean
qvirDomainDiskValidateIO(const qvirDomainDiskDef *disk, GError **error)
{
    if (disk->iomode == QVIR_DOMAIN_DISK_IO_NATIVE &&
        disk->cachemode != QVIR_DOMAIN_DISK_CACHE_DISABLE &&
        disk->cachemode != QVIR_DOMAIN_DISK_CACHE_DIRECTSYNC) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "io='native' needs either no disk cache or directsync cache mode");
        return FALSE;
    }
    return TRUE;
}

/*
 * Two writers on one qcow2 (or any format with metadata) corrupt it; only formats without
 * metadata can be shared writable, as libvirt's concurrent-access check says.
 */
static gboolean
qvirDomainDiskValidateShareable(const qvirDomainDiskDef *disk, GError **error)
{
    qvirStorageFileFormat fmt = disk->src->format;

    if (!disk->src->shared || disk->src->readonly)
        return TRUE;
    if (fmt == QVIR_STORAGE_FILE_NONE || fmt == QVIR_STORAGE_FILE_RAW ||
        fmt == QVIR_STORAGE_FILE_ISO)
        return TRUE;
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                "shared access for disk '%s' requires use of supported storage format", disk->dst);
    return FALSE;
}

/* QEMU's IDE and AHCI disks cannot be read-only; their cdroms always are. */
static gboolean
qvirDomainDiskValidateReadonly(const qvirDomainDiskDef *disk, GError **error)
{
    if (!disk->src->readonly || disk->device != QVIR_DOMAIN_DISK_DEVICE_DISK)
        return TRUE;
    if (disk->bus == QVIR_DOMAIN_DISK_BUS_IDE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "readonly ide disks are not supported");
        return FALSE;
    }
    if (disk->bus == QVIR_DOMAIN_DISK_BUS_SATA) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "readonly sata disks are not supported");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainDiskValidateDevice(const qvirDomainDiskDef *disk, GError **error)
{
    if (disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM && disk->bus == QVIR_DOMAIN_DISK_BUS_VIRTIO) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "disk type of '%s' does not support ejectable media", disk->dst);
        return FALSE;
    }
    if (disk->device == QVIR_DOMAIN_DISK_DEVICE_LUN) {
        if (disk->src->type == QVIR_STORAGE_TYPE_NETWORK) {
            if (disk->src->protocol != QVIR_STORAGE_NET_PROTOCOL_ISCSI) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "disk device='lun' is not supported for protocol='%s'",
                            qvirStorageNetProtocolTypeToString(disk->src->protocol));
                return FALSE;
            }
        } else if (disk->src->type != QVIR_STORAGE_TYPE_BLOCK) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "disk device='lun' is only valid for block type disk source");
            return FALSE;
        }
        if (disk->bus != QVIR_DOMAIN_DISK_BUS_SCSI && disk->bus != QVIR_DOMAIN_DISK_BUS_VIRTIO) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "disk device='lun' is not supported for bus='%s'",
                        qvirDomainDiskBusTypeToString(disk->bus));
            return FALSE;
        }
    }
    if (disk->removable != QVIR_TRISTATE_SWITCH_ABSENT && disk->bus != QVIR_DOMAIN_DISK_BUS_USB) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "removable is only valid for usb disks");
        return FALSE;
    }
    return TRUE;
}

/* A virtio disk sits on PCI, the others on their controller's drive address. */
static gboolean
qvirDomainDiskValidateAddress(const qvirDomainDiskDef *disk, GError **error)
{
    qvirDomainDeviceAddressType want = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE;

    if (disk->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE)
        return TRUE;
    if (disk->bus == QVIR_DOMAIN_DISK_BUS_VIRTIO)
        want = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI;
    else if (disk->bus == QVIR_DOMAIN_DISK_BUS_USB)
        want = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB;
    if (disk->info.type != want) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "address type '%s' is not valid for disk '%s' on bus '%s'",
                    qvirDomainDeviceAddressTypeTypeToString(disk->info.type), disk->dst,
                    qvirDomainDiskBusTypeToString(disk->bus));
        return FALSE;
    }
    return TRUE;
}

gboolean
qvirDomainDiskDefCheckDuplicate(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                                GError **error)
{
    gboolean diskSeen = FALSE;

    if (!def)
        return TRUE;
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *other = g_ptr_array_index(def->disks, i);
        const qvirDomainDiskDef *first = other, *second = disk;

        if (other == disk) {
            diskSeen = TRUE;
            continue;
        }
        if (!other->dst || strcmp(other->dst, disk->dst) != 0)
            continue;
        /* Name them in document order, as libvirt does; a disk being attached comes last. */
        if (diskSeen) {
            first = disk;
            second = other;
        }
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "target '%s' duplicated for disk sources '%s' and '%s'", disk->dst,
                    qvirDomainDiskSourceName(first), qvirDomainDiskSourceName(second));
        return FALSE;
    }
    return TRUE;
}

/* A floppy lives on the fdc and nothing else does. */
static gboolean
qvirDomainDiskValidateFloppy(const qvirDomainDiskDef *disk, GError **error)
{
    gboolean floppy = disk->device == QVIR_DOMAIN_DISK_DEVICE_FLOPPY;

    if (floppy && disk->bus != QVIR_DOMAIN_DISK_BUS_FDC) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "Invalid bus type '%s' for floppy disk",
                    qvirDomainDiskBusTypeToString(disk->bus));
        return FALSE;
    }
    if (!floppy && disk->bus == QVIR_DOMAIN_DISK_BUS_FDC) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "Invalid bus type '%s' for disk",
                    qvirDomainDiskBusTypeToString(disk->bus));
        return FALSE;
    }
    if (floppy && !g_str_has_prefix(disk->dst, "fd")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "Invalid floppy device name: %s",
                    disk->dst);
        return FALSE;
    }
    return TRUE;
}

/* libvirt's refusal of virtio transport options on a device that is not virtio; NULL when
 * none is set. */
static const char *
qvirDomainVirtioOptionsAbsentMessage(const qvirDomainVirtioOptions *opts)
{
    if (opts->iommu != QVIR_TRISTATE_SWITCH_ABSENT)
        return "iommu driver option is only supported for virtio devices";
    if (opts->ats != QVIR_TRISTATE_SWITCH_ABSENT)
        return "ats driver option is only supported for virtio devices";
    if (opts->packed != QVIR_TRISTATE_SWITCH_ABSENT)
        return "packed driver option is only supported for virtio devices";
    if (opts->pagePerVq != QVIR_TRISTATE_SWITCH_ABSENT)
        return "page_per_vq option is only supported for virtio devices";
    return NULL;
}

/*
 * SCSI passthrough settings: SG_IO filtering ("unfiltered" needed a kernel knob libvirt
 * stopped setting) and CAP_SYS_RAWIO belong to device='lun' only; a lun passes commands
 * to the host device, so there is no image format or encryption layer in between.
 */
static gboolean
qvirDomainDiskValidateLUN(const qvirDomainDiskDef *disk, GError **error)
{
    const char *msg = NULL;

    if (disk->sgio == QVIR_DOMAIN_DEVICE_SGIO_UNFILTERED)
        msg = "unfiltered sgio is no longer supported";
    else if (disk->device != QVIR_DOMAIN_DISK_DEVICE_LUN &&
             disk->rawio != QVIR_TRISTATE_BOOL_ABSENT)
        msg = "rawio can be used only with device='lun'";
    else if (disk->device != QVIR_DOMAIN_DISK_DEVICE_LUN &&
             disk->sgio != QVIR_DOMAIN_DEVICE_SGIO_DEFAULT)
        msg = "sgio can be used only with device='lun'";
    else if (disk->device == QVIR_DOMAIN_DISK_DEVICE_LUN &&
             disk->src->format != QVIR_STORAGE_FILE_NONE &&
             disk->src->format != QVIR_STORAGE_FILE_RAW)
        msg = "disk device 'lun' must use 'raw' format";
    else if (disk->device == QVIR_DOMAIN_DISK_DEVICE_LUN && disk->src->encryption &&
             disk->src->encryption->format != QVIR_STORAGE_ENCRYPTION_FORMAT_DEFAULT)
        msg = "disk device 'lun' doesn't support encryption";
    if (msg) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, msg);
        return FALSE;
    }
    return TRUE;
}

/* Where the virtio-blk-only <driver> knobs may go, and the other per-bus properties. */
static gboolean
qvirDomainDiskValidateFrontend(const qvirDomainDiskDef *disk, GError **error)
{
    const char *msg = NULL;

    if (disk->bus != QVIR_DOMAIN_DISK_BUS_VIRTIO) {
        if (disk->model != QVIR_DOMAIN_DISK_MODEL_DEFAULT) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "disk model '%s' not supported for bus '%s'",
                        qvirDomainDiskModelTypeToString(disk->model),
                        qvirDomainDiskBusTypeToString(disk->bus));
            return FALSE;
        }
        if (disk->queues)
            msg = "queues attribute in disk driver element is only supported by virtio-blk";
        else if (disk->queueSize)
            msg = "queue_size attribute in disk driver element is only supported by virtio-blk";
        else if (disk->eventIdx != QVIR_TRISTATE_SWITCH_ABSENT)
            msg = "disk event_idx mode supported only for virtio bus";
        else if (disk->ioeventfd != QVIR_TRISTATE_SWITCH_ABSENT)
            msg = "disk ioeventfd mode supported only for virtio bus";
        else
            msg = qvirDomainVirtioOptionsAbsentMessage(&disk->virtio);
    }
    if (!msg && disk->tray != QVIR_DOMAIN_DISK_TRAY_CLOSED &&
        disk->device != QVIR_DOMAIN_DISK_DEVICE_CDROM &&
        disk->device != QVIR_DOMAIN_DISK_DEVICE_FLOPPY)
        msg = "tray is only valid for cdrom and floppy";
    if (!msg && disk->geometry.trans != QVIR_DOMAIN_DISK_TRANS_DEFAULT &&
        disk->bus != QVIR_DOMAIN_DISK_BUS_IDE)
        msg = "CHS translation mode can only be set for 'ide' bus";
    if (!msg && disk->geometry.cylinders && disk->bus == QVIR_DOMAIN_DISK_BUS_USB)
        msg = "CHS geometry can not be set for 'usb' bus";
    if (!msg && disk->wwn && disk->bus != QVIR_DOMAIN_DISK_BUS_IDE &&
        disk->bus != QVIR_DOMAIN_DISK_BUS_SCSI)
        msg = "Only ide and scsi disk support wwn";
    if (!msg && (disk->vendor || disk->product) && disk->bus != QVIR_DOMAIN_DISK_BUS_SCSI)
        msg = "Only scsi disk supports vendor and product";
    if (!msg && disk->device == QVIR_DOMAIN_DISK_DEVICE_LUN && disk->wwn)
        msg = "Setting wwn is not supported for lun device";
    if (!msg && disk->device == QVIR_DOMAIN_DISK_DEVICE_LUN && (disk->vendor || disk->product))
        msg = "Setting vendor or product is not supported for lun device";
    if (!msg && disk->rotationRate && disk->bus != QVIR_DOMAIN_DISK_BUS_SCSI &&
        disk->bus != QVIR_DOMAIN_DISK_BUS_IDE && disk->bus != QVIR_DOMAIN_DISK_BUS_SATA)
        msg = "rotation rate is only valid for SCSI/IDE/SATA bus";
    if (!msg && disk->rotationRate && disk->device != QVIR_DOMAIN_DISK_DEVICE_DISK)
        msg = "rotation rate is only valid for disk device";
    if (msg) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, msg);
        return FALSE;
    }
    return TRUE;
}

/* An I/O thread serves virtio-blk only, and must be one of <iothreads>. */
static gboolean
qvirDomainDiskValidateIOThread(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                               GError **error)
{
    if (!disk->iothread)
        return TRUE;
    if (disk->bus != QVIR_DOMAIN_DISK_BUS_VIRTIO) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "IOThreads not available for bus %s target %s",
                    qvirDomainDiskBusTypeToString(disk->bus), disk->dst);
        return FALSE;
    }
    if (def && disk->iothread > def->iothreads) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "Disk iothread '%u' not defined in iothreadid", disk->iothread);
        return FALSE;
    }
    return TRUE;
}

/* libvirt's <iotune> rules: a total limit excludes its read/write pair; QEMU's range. */
static gboolean
qvirDomainDiskValidateIotune(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                             GError **error)
{
    static const struct {
        qvirDomainIotuneField total;
        const char *what;
    } pairs[] = {
        {QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC, "bytes_sec"},
        {QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC, "iops_sec"},
        {QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX, "bytes_sec_max"},
        {QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC_MAX, "iops_sec_max"},
    };
    const unsigned long long *t = disk->iotune;

    for (size_t i = 0; i < G_N_ELEMENTS(pairs); i++) {
        /* read and write follow total in the enum */
        if (t[pairs[i].total] && (t[pairs[i].total + 1] || t[pairs[i].total + 2])) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "total and read/write %s cannot be set at the same time", pairs[i].what);
            return FALSE;
        }
    }
    for (int i = 0; i <= QVIR_DOMAIN_IOTUNE_SIZE_IOPS_SEC; i++) {
        if (t[i] > 1000000000000000ULL) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                        "block I/O throttle limit must be no more than 1000000000000000 using "
                        "QEMU");
            return FALSE;
        }
    }
    if (disk->iotuneGroup && !qvirDomainDiskHasIotune(disk)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "group_name can be configured only together with settings");
        return FALSE;
    }
    /* one throttle group has one set of limits */
    for (guint i = 0; def && disk->iotuneGroup && i < def->disks->len; i++) {
        const qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        if (d == disk || g_strcmp0(d->iotuneGroup, disk->iotuneGroup) != 0)
            continue;
        if (memcmp(d->iotune, disk->iotune, sizeof(disk->iotune)) != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "different iotunes for disks %s and %s", disk->dst, d->dst);
            return FALSE;
        }
    }
    return TRUE;
}

/* Copy-on-read writes what it reads into the top image: it needs a writable, fixed disk. */
static gboolean
qvirDomainDiskValidateCopyOnRead(const qvirDomainDiskDef *disk, GError **error)
{
    if (disk->copyOnRead != QVIR_TRISTATE_SWITCH_ON)
        return TRUE;
    if (disk->src->readonly) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "copy_on_read is not compatible with read-only disk '%s'", disk->dst);
        return FALSE;
    }
    if (disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM ||
        disk->device == QVIR_DOMAIN_DISK_DEVICE_FLOPPY) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "copy_on_read is not supported with removable disk '%s'", disk->dst);
        return FALSE;
    }
    if (disk->device == QVIR_DOMAIN_DISK_DEVICE_LUN) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "copy_on_read is not compatible with 'lun' disk '%s'", disk->dst);
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainDiskValidateStartupPolicy(const qvirDomainDiskDef *disk, GError **error)
{
    /* a policy is about a local file that may be missing */
    if (disk->startupPolicy != QVIR_DOMAIN_STARTUP_POLICY_DEFAULT &&
        disk->src->type == QVIR_STORAGE_TYPE_NETWORK && !disk->src->volume) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "disk startupPolicy '%s' is not allowed for disk of '%s' type",
                    qvirDomainStartupPolicyTypeToString(disk->startupPolicy),
                    qvirStorageTypeTypeToString(disk->src->type));
        return FALSE;
    }
    if (disk->startupPolicy == QVIR_DOMAIN_STARTUP_POLICY_REQUISITE &&
        disk->device != QVIR_DOMAIN_DISK_DEVICE_CDROM &&
        disk->device != QVIR_DOMAIN_DISK_DEVICE_FLOPPY) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "disk startupPolicy 'requisite' is allowed only for cdrom or floppy");
        return FALSE;
    }
    return TRUE;
}

gboolean
qvirDomainDiskDefValidate(const qvirDomainDef *def, const qvirDomainDiskDef *disk, GError **error)
{
    g_return_val_if_fail(disk != NULL && disk->src != NULL && disk->dst != NULL, FALSE);

    return qvirDomainDiskValidateSource(disk, error) &&
           qvirDomainDiskValidateChainSources(disk, error) &&
           qvirDomainDiskValidateLUN(disk, error) && qvirDomainDiskValidateFloppy(disk, error) &&
           qvirDomainDiskValidateTarget(disk, error) &&
           qvirDomainDiskValidateFrontend(disk, error) &&
           qvirDomainDiskValidateCopyOnRead(disk, error) &&
           qvirDomainDiskValidateIotune(def, disk, error) &&
           qvirDomainDiskValidateIOThread(def, disk, error) &&
           qvirDomainDiskValidateStartupPolicy(disk, error) &&
           qvirDomainDiskValidateDriver(disk, error) && qvirDomainDiskValidateIO(disk, error) &&
           qvirDomainDiskValidateShareable(disk, error) &&
           qvirDomainDiskValidateReadonly(disk, error) &&
           qvirDomainDiskValidateDevice(disk, error) && qvirDomainDiskValidateAddress(disk, error);
}

gboolean
qvirDomainDefCompatibleDisk(const qvirDomainDef *def, const qvirDomainDiskDef *disk, GError **error)
{
    g_return_val_if_fail(def != NULL && disk != NULL, FALSE);

    if (disk->bus != QVIR_DOMAIN_DISK_BUS_USB)
        return TRUE;
    for (guint i = 0; i < def->controllers->len; i++) {
        const qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB && g_strcmp0(c->model, "none") != 0)
            return TRUE;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                "Device configuration is not compatible: Domain has no USB bus support");
    return FALSE;
}

/* ---- the rest of the definition ------------------------------------------------------ */

/* What QEMU's user networking takes (libvirt's rules): one address of each family, an IPv4
 * prefix of 4-27 bits, an IPv6 prefix of 64. */
static gboolean
qvirDomainNetIPsValidate(const qvirDomainNetDef *net, GError **error)
{
    gboolean have4 = FALSE, have6 = FALSE;

    for (guint i = 0; net->ips && i < net->ips->len; i++) {
        const qvirDomainNetIPDef *ip = g_ptr_array_index(net->ips, i);
        gboolean *seen = ip->ipv6 ? &have6 : &have4;

        if (*seen) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "Only one %s address per interface is allowed", ip->ipv6 ? "IPv6" : "IPv4");
            return FALSE;
        }
        *seen = TRUE;
        if (!ip->ipv6 && ip->prefix > 0 && (ip->prefix < 4 || ip->prefix > 27)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "invalid prefix, must be in range of 4-27");
            return FALSE;
        }
        if (ip->ipv6 && ip->prefix && ip->prefix != 64) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported IPv6 address prefix='%u' - must be 64", ip->prefix);
            return FALSE;
        }
    }
    return TRUE;
}

/* libvirt keeps <driver> of an interface for virtio models only; queue sizes are powers of 2. */
static gboolean
qvirDomainNetsValidate(const qvirDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->nets->len; i++) {
        const qvirDomainNetDef *net = g_ptr_array_index(def->nets, i);
        gboolean hasDriver = net->driverName || net->txmode || net->ioeventfd || net->eventIdx ||
                             net->rxQueueSize || net->txQueueSize;

        if (hasDriver && g_strcmp0(net->model, "virtio") != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "interface <driver> settings are only supported for model 'virtio' "
                        "(interface %s)",
                        net->mac ? net->mac : "");
            return FALSE;
        }
        if (!qvirDomainNetIPsValidate(net, error))
            return FALSE;
        if (net->rxQueueSize && (net->rxQueueSize & (net->rxQueueSize - 1))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "rx_queue_size has to be a power of two");
            return FALSE;
        }
        if (net->txQueueSize && (net->txQueueSize & (net->txQueueSize - 1))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "tx_queue_size has to be a power of two");
            return FALSE;
        }
    }
    return TRUE;
}

/* The <driver> attributes only virtio-scsi has, refused on others in libvirt's order. */
static gboolean
qvirDomainControllerDriverValidate(const qvirDomainControllerDef *c, GError **error)
{
    const char *what = NULL;

    if (qvirDomainControllerIsVirtioSCSI(c))
        return TRUE;
    /* libvirt refuses this one earlier, in its post-parse step, as an XML error */
    if (c->iothread) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "'iothread' attribute only supported for virtio scsi controllers");
        return FALSE;
    }
    if (c->queues)
        what = "'queues' is only supported by virtio-scsi controller";
    else if (c->cmdPerLun)
        what = "'cmd_per_lun' is only supported by virtio-scsi controller";
    else if (c->maxSectors)
        what = "'max_sectors' is only supported by virtio-scsi controller";
    else if (c->ioeventfd != QVIR_TRISTATE_SWITCH_ABSENT)
        what = "'ioeventfd' is only supported by virtio-scsi controller";
    if (what)
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, what);
    return what == NULL;
}

static gboolean
qvirDomainControllersValidate(const qvirDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        const qvirDomainControllerDef *a = g_ptr_array_index(def->controllers, i);

        for (guint j = i + 1; j < def->controllers->len; j++) {
            const qvirDomainControllerDef *b = g_ptr_array_index(def->controllers, j);

            /* USB controllers share an index with their companions; two masters on one
             * index are refused when USB ports are laid out */
            if (a->type == b->type && a->idx == b->idx &&
                a->type != QVIR_DOMAIN_CONTROLLER_TYPE_USB) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "Multiple '%s' controllers with index '%d'",
                            qvirDomainControllerTypeTypeToString(a->type), a->idx);
                return FALSE;
            }
        }
        if (!qvirDomainControllerDriverValidate(a, error))
            return FALSE;
        if (a->iothread && a->iothread > def->iothreads) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "controller iothread '%u' not defined in iothreadid", a->iothread);
            return FALSE;
        }
        /* only xHCI has a configurable number of ports (up to 15), as libvirt checks */
        if (a->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB && a->ports >= 0) {
            if (g_strcmp0(a->model, "qemu-xhci") != 0 && g_strcmp0(a->model, "nec-xhci") != 0) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "usb controller type %s doesn't support 'ports' attribute",
                            a->model ? a->model : "default");
                return FALSE;
            }
            if (a->ports > 15) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "'%s' controller only supports up to '15' ports", a->model);
                return FALSE;
            }
        }
        if (a->type != QVIR_DOMAIN_CONTROLLER_TYPE_PCI || !a->model)
            continue;
        if ((strcmp(a->model, "pci-root") == 0 || strcmp(a->model, "pcie-root") == 0) !=
            (a->idx == 0)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "The PCI controller with index='%d' must not be model='%s': only "
                        "index 0 is a root bus",
                        a->idx, a->model);
            return FALSE;
        }
    }
    return TRUE;
}

/* <acpi index=> names a PCI slot to the guest: PCI devices (or ones yet to be placed) only. */
static gboolean
qvirDomainAcpiIndexValidate(const qvirDomainDef *def, GError **error)
{
    g_autoptr(GPtrArray) infos = g_ptr_array_new();

#define ADD_INFOS(arr, type)                                                                       \
    for (guint i = 0; (arr) && i < (arr)->len; i++)                                                \
        g_ptr_array_add(infos, &((type *)g_ptr_array_index((arr), i))->info);
    ADD_INFOS(def->disks, qvirDomainDiskDef)
    ADD_INFOS(def->controllers, qvirDomainControllerDef)
    ADD_INFOS(def->nets, qvirDomainNetDef)
    ADD_INFOS(def->inputs, qvirDomainInputDef)
    ADD_INFOS(def->videos, qvirDomainVideoDef)
    ADD_INFOS(def->rngs, qvirDomainRNGDef)
#undef ADD_INFOS
    if (def->memballoon)
        g_ptr_array_add(infos, &def->memballoon->info);

    for (guint i = 0; i < infos->len; i++) {
        const qvirDomainDeviceInfo *info = g_ptr_array_index(infos, i);

        if (info->acpiIndex && info->type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE &&
            info->type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "ACPI index is only supported for PCI devices");
            return FALSE;
        }
    }
    return TRUE;
}

/* Per-device <boot order> values are unique and exclude <os><boot dev>. */
static gboolean
qvirDomainBootOrderValidate(const qvirDomainDef *def, GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GPtrArray) infos = g_ptr_array_new();

    for (guint i = 0; i < def->disks->len; i++)
        g_ptr_array_add(infos, &((qvirDomainDiskDef *)g_ptr_array_index(def->disks, i))->info);
    for (guint i = 0; i < def->nets->len; i++)
        g_ptr_array_add(infos, &((qvirDomainNetDef *)g_ptr_array_index(def->nets, i))->info);

    for (guint i = 0; i < infos->len; i++) {
        const qvirDomainDeviceInfo *info = g_ptr_array_index(infos, i);
        unsigned int order = info->bootIndex;

        if (!order)
            continue;
        if (def->os.nBootDevs > 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "per-device boot elements cannot be used together with os/boot "
                        "elements");
            return FALSE;
        }
        if (!g_hash_table_add(seen, GUINT_TO_POINTER(order))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "boot order '%u' used for more than one device", order);
            return FALSE;
        }
    }
    return TRUE;
}

/* <controller type='usb' model='none'/> takes the USB bus away from everything else; USB
 * companion controllers need their master. */
static gboolean
qvirDomainUSBValidate(const qvirDomainDef *def, GError **error)
{
    gboolean usbNone = FALSE, usbOther = FALSE, usbMaster = FALSE;

    for (guint i = 0; i < def->controllers->len; i++) {
        const qvirDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);

        if (ctrl->type != QVIR_DOMAIN_CONTROLLER_TYPE_USB)
            continue;
        if (ctrl->model && strcmp(ctrl->model, "none") == 0)
            usbNone = TRUE;
        else
            usbOther = TRUE;
        if (!ctrl->info.usbMaster)
            usbMaster = TRUE;
    }
    /* companions alone: nothing would give them their master bus */
    if (usbOther && !usbMaster) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL, "No master USB controller specified");
        return FALSE;
    }
    if (!usbNone)
        return TRUE;
    for (guint i = 0; i < def->inputs->len; i++) {
        const qvirDomainInputDef *input = g_ptr_array_index(def->inputs, i);

        if (input->bus && strcmp(input->bus, "usb") == 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "Can't add USB input device. USB bus is disabled");
            return FALSE;
        }
    }
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->bus == QVIR_DOMAIN_DISK_BUS_USB) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "Can't add USB disk '%s'. USB bus is disabled", disk->dst);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
qvirDomainGraphicsValidate(const qvirDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->graphics->len; i++) {
        const qvirDomainGraphicsDef *gr = g_ptr_array_index(def->graphics, i);

        if (!gr->autoport && (gr->port < 5900 || gr->port > 65535)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "vnc port must be in range [5900,65535]");
            return FALSE;
        }
    }
    return TRUE;
}

/* What QEMU can do with each timer's tick policy (libvirt's qemuValidateDomainDefClockTimers). */
static gboolean
qvirDomainTimersValidate(const qvirDomainDef *def, GError **error)
{
    for (unsigned int i = 0; i < def->ntimers && i < QVIR_DOMAIN_TIMER_LAST; i++) {
        const qvirDomainTimerDef *t = &def->timers[i];
        const char *name = qvirDomainTimerNameTypeToString(t->name);

        if ((t->name == QVIR_DOMAIN_TIMER_RTC &&
             (t->tickpolicy == QVIR_DOMAIN_TIMER_TICKPOLICY_MERGE ||
              t->tickpolicy == QVIR_DOMAIN_TIMER_TICKPOLICY_DISCARD)) ||
            (t->name == QVIR_DOMAIN_TIMER_PIT &&
             t->tickpolicy == QVIR_DOMAIN_TIMER_TICKPOLICY_MERGE) ||
            (t->name == QVIR_DOMAIN_TIMER_HPET &&
             t->tickpolicy != QVIR_DOMAIN_TIMER_TICKPOLICY_NONE)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported %s timer tickpolicy '%s'", name,
                        qvirDomainTimerTickpolicyTypeToString(t->tickpolicy));
            return FALSE;
        }
        if (t->track == QVIR_DOMAIN_TIMER_TRACK_BOOT) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported rtc timer track 'boot'");
            return FALSE;
        }
        if (t->present == QVIR_TRISTATE_BOOL_NO && t->name != QVIR_DOMAIN_TIMER_HPET &&
            t->name != QVIR_DOMAIN_TIMER_KVMCLOCK) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "timer '%s' cannot be removed from the machine", name);
            return FALSE;
        }
    }
    return TRUE;
}

/* The ranges QEMU's -boot takes (libvirt's qemuValidateDomainDefBoot). */
static gboolean
qvirDomainBootValidate(const qvirDomainDef *def, GError **error)
{
    if (def->os.bmTimeoutSet && def->os.bmTimeout > 65535) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "invalid value for boot menu timeout, must be in range [0,65535]");
        return FALSE;
    }
    if (def->os.rtSet && (def->os.rtDelay < -1 || def->os.rtDelay > 65535)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "invalid value for rebootTimeout, must be in range [-1,65535]");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainMemoryValidate(const qvirDomainDef *def, GError **error)
{
    if (def->memoryKiB == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Memory size must be specified via <memory> or in the <numa> configuration");
        return FALSE;
    }
    if (def->currentMemoryKiB > def->memoryKiB) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "current memory '%lluk' exceeds maximum '%lluk'", def->currentMemoryKiB,
                    def->memoryKiB);
        return FALSE;
    }
    return TRUE;
}

/* Two disks of one bus at the same drive address (virDomainDefDuplicateDriveAddressesValidate). */
static gboolean
qvirDomainDuplicateDriveAddressesValidate(const qvirDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *a = g_ptr_array_index(def->disks, i);
        const qvirDomainDeviceDriveAddress *da = &a->info.addr.drive;

        if (a->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE)
            continue;
        for (guint j = i + 1; j < def->disks->len; j++) {
            const qvirDomainDiskDef *b = g_ptr_array_index(def->disks, j);
            const qvirDomainDeviceDriveAddress *db = &b->info.addr.drive;

            if (a->bus != b->bus || b->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE ||
                da->controller != db->controller || da->bus != db->bus ||
                da->target != db->target || da->unit != db->unit)
                continue;
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "Found duplicate drive address for disk with target name '%s' "
                        "controller='%u' bus='%u' target='%u' unit='%u'",
                        a->dst, da->controller, da->bus, da->target, da->unit);
            return FALSE;
        }
    }
    return TRUE;
}

/* virDomainChrSourceDefValidate: what each source type cannot do without. */
static gboolean
qvirDomainChrSourceValidate(const qvirDomainChrDef *chr, GError **error)
{
    const char *type = chr->type ? chr->type : "";
    const char *missing = NULL;

    if (strcmp(type, "file") == 0 || strcmp(type, "dev") == 0 || strcmp(type, "pipe") == 0) {
        if (!chr->sourcePath)
            missing = "path";
    } else if (strcmp(type, "tcp") == 0) {
        if (!chr->host)
            missing = "host";
        else if (!chr->service)
            missing = "service";
    } else if (strcmp(type, "udp") == 0) {
        if (!chr->service)
            missing = "service";
    }
    if (missing) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "Missing source %s attribute for char device", missing);
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainChrsValidate(const qvirDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->serials->len; i++) {
        if (!qvirDomainChrSourceValidate(g_ptr_array_index(def->serials, i), error))
            return FALSE;
    }
    for (guint i = 0; i < def->consoles->len; i++) {
        if (!qvirDomainChrSourceValidate(g_ptr_array_index(def->consoles, i), error))
            return FALSE;
    }
    return TRUE;
}

gboolean
qvirDomainDefValidate(const qvirDomainDef *def, GError **error)
{
    g_return_val_if_fail(def != NULL, FALSE);

    if (!qvirDomainMemoryValidate(def, error) || !qvirDomainBootValidate(def, error) ||
        !qvirDomainTimersValidate(def, error) ||
        !qvirDomainDuplicateDriveAddressesValidate(def, error))
        return FALSE;
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (!qvirDomainDiskDefValidate(def, disk, error) ||
            !qvirDomainDiskDefCheckDuplicate(def, disk, error))
            return FALSE;
    }
    return qvirDomainControllersValidate(def, error) && qvirDomainUSBValidate(def, error) &&
           qvirDomainAcpiIndexValidate(def, error) && qvirDomainBootOrderValidate(def, error) &&
           qvirDomainGraphicsValidate(def, error) && qvirDomainNetsValidate(def, error) &&
           qvirDomainChrsValidate(def, error);
}
