/*
 * qemu_validate.c: checks of a definition against what the QEMU binary can do and
 * what qvirt builds argv for. Host-independent checks live in src/conf.
 */
#include "qemu/qemu_command.h"

#include <string.h>

#include "qemu/qemu_domain.h"
#include "util/virerror.h"

static gboolean
qemuValidateDiskCache(const qvirDomainDiskDef *disk, const qemuCaps *caps, GError **error)
{
    /* With -blockdev every mode is expressed with cache.direct / cache.no-flush. */
    if (qemuCapsGet(caps, QEMU_CAPS_BLOCKDEV))
        return TRUE;
    if ((disk->cachemode == QVIR_DOMAIN_DISK_CACHE_DIRECTSYNC &&
         !qemuCapsGet(caps, QEMU_CAPS_DRIVE_CACHE_DIRECTSYNC)) ||
        (disk->cachemode == QVIR_DOMAIN_DISK_CACHE_UNSAFE &&
         !qemuCapsGet(caps, QEMU_CAPS_DRIVE_CACHE_UNSAFE))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "disk cache mode '%s' is not supported by this QEMU binary",
                    qvirDomainDiskCacheTypeToString(disk->cachemode));
        return FALSE;
    }
    return TRUE;
}

static gboolean
qemuValidateDiskIO(const qvirDomainDiskDef *disk, const qemuCaps *caps, GError **error)
{
    if (disk->iomode == QVIR_DOMAIN_DISK_IO_NATIVE &&
        disk->cachemode != QVIR_DOMAIN_DISK_CACHE_DISABLE &&
        disk->cachemode != QVIR_DOMAIN_DISK_CACHE_DIRECTSYNC &&
        disk->device != QVIR_DOMAIN_DISK_DEVICE_CDROM) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "io='native' needs either no disk cache or directsync cache mode");
        return FALSE;
    }
    if (disk->iomode == QVIR_DOMAIN_DISK_IO_URING && !qemuCapsGet(caps, QEMU_CAPS_AIO_IO_URING)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "io uring is not supported by this QEMU binary");
        return FALSE;
    }
    if (disk->discard != QVIR_DOMAIN_DISK_DISCARD_DEFAULT &&
        !qemuCapsGet(caps, QEMU_CAPS_DRIVE_DISCARD)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "discard is not supported by this QEMU binary");
        return FALSE;
    }
    if (disk->detect_zeroes != QVIR_DOMAIN_DISK_DETECT_ZEROES_DEFAULT &&
        !qemuCapsGet(caps, QEMU_CAPS_DRIVE_DETECT_ZEROES)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "detect_zeroes is not supported by this QEMU binary");
        return FALSE;
    }
    return TRUE;
}

/*
 * A network layer QEMU can be given (checked at define, as libvirt does): no tftp, nfs
 * with one tcp host and no port, through -blockdev only (qvirt builds no legacy URI for
 * -drive), and a protocol qvirt understood (a probed backing string it could not parse
 * has none). What libvirt checks only at start (the number of hosts, TLS) is refused
 * when the node is built (qemu_block.c).
 */
static gboolean
qemuValidateDiskNetworkLayer(const qvirDomainDiskDef *disk, const qvirStorageSource *src,
                             const qemuCaps *caps, GError **error)
{
    /* libvirt's words for what QEMU cannot do at all */
    if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_TFTP) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "'tftp' protocol is not supported with this QEMU binary");
        return FALSE;
    }
    if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_NFS) {
        const char *msg = NULL;

        if (src->nhosts != 1)
            msg = "'nfs' protocol requires the usage of exactly one host";
        else if (src->hosts[0].transport != QVIR_STORAGE_NET_HOST_TRANS_TCP)
            msg = "'nfs' host must use TCP protocol";
        else if (src->hosts[0].port != 0)
            msg = "port cannot be specified in 'nfs' protocol host";
        if (msg) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "%s", msg);
            return FALSE;
        }
    }
    if (!qemuCapsGet(caps, QEMU_CAPS_BLOCKDEV)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "network disk '%s' needs a QEMU with -blockdev", disk->dst);
        return FALSE;
    }
    if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_NONE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "backing store '%s' of disk '%s' names a network location qvirt cannot "
                    "hand to QEMU",
                    src->path ? src->path : "", disk->dst);
        return FALSE;
    }
    return TRUE;
}

/* <encryption> of one layer, as libvirt 9.0 checks it against QEMU: LUKS through QEMU's own
 * luks driver (raw) or qcow2's encrypt option, or through librbd on an rbd layer. */
static gboolean
qemuValidateDiskEncryption(const qvirStorageSource *src, const qemuCaps *caps, GError **error)
{
    const qvirStorageEncryption *enc = src->encryption;

    if (enc->format == QVIR_STORAGE_ENCRYPTION_FORMAT_DEFAULT ||
        enc->format == QVIR_STORAGE_ENCRYPTION_FORMAT_QCOW) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "old qcow/qcow2 encryption is not supported");
        return FALSE;
    }
    switch (enc->engine) {
    case QVIR_STORAGE_ENCRYPTION_ENGINE_LIBRBD:
        /* QEMU 6.1 added the rbd driver's encrypt option */
        if (qemuCapsGetVersion(caps) < 6001000) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "librbd encryption is not supported by this QEMU binary");
            return FALSE;
        }
        if (src->type != QVIR_STORAGE_TYPE_NETWORK &&
            src->protocol != QVIR_STORAGE_NET_PROTOCOL_RBD) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "librbd encryption is supported only with RBD backed disks");
            return FALSE;
        }
        return TRUE;
    case QVIR_STORAGE_ENCRYPTION_ENGINE_DEFAULT:
    case QVIR_STORAGE_ENCRYPTION_ENGINE_QEMU:
    case QVIR_STORAGE_ENCRYPTION_ENGINE_LAST:
    default:
        break;
    }
    if (enc->format == QVIR_STORAGE_ENCRYPTION_FORMAT_LUKS2) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "luks2 is currently not supported by the qemu encryption engine");
        return FALSE;
    }
    if (src->format != QVIR_STORAGE_FILE_QCOW2 && src->format != QVIR_STORAGE_FILE_RAW) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "encryption is supported only with 'raw' and 'qcow2' image format");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qemuValidateDiskChain(const qvirDomainDiskDef *disk, const qemuCaps *caps, GError **error)
{
    for (const qvirStorageSource *src = disk->src; src; src = src->backingStore) {
        if (!qvirStorageSourceIsBacking(src))
            break;
        if (src->type == QVIR_STORAGE_TYPE_NETWORK) {
            if (!qemuValidateDiskNetworkLayer(disk, src, caps, error))
                return FALSE;
        } else if (!src->path || !*src->path) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "disk '%s' has a layer without a source path", disk->dst);
            return FALSE;
        }
        if (src != disk->src && src->format == QVIR_STORAGE_FILE_NONE) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "format of backing image '%s' of disk '%s' is not specified", src->path,
                        disk->dst);
            return FALSE;
        }
        if (src->encryption) {
            if (!qemuValidateDiskEncryption(src, caps, error))
                return FALSE;
        } else if (src->format == QVIR_STORAGE_FILE_LUKS || src->encrypted) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "encrypted image '%s' of disk '%s' is not supported", src->path, disk->dst);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
qemuValidateDiskBus(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                    qemuDomainMachineKind kind, const qemuCaps *caps, GError **error)
{
    qemuCapsFlags need = QEMU_CAPS_LAST;

    switch (disk->bus) {
    case QVIR_DOMAIN_DISK_BUS_IDE:
        if (kind == QEMU_DOMAIN_MACHINE_Q35) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "IDE controllers are unsupported for this QEMU binary or machine "
                        "type");
            return FALSE;
        }
        break;
    case QVIR_DOMAIN_DISK_BUS_SATA:
        need = QEMU_CAPS_DEVICE_AHCI;
        break;
    case QVIR_DOMAIN_DISK_BUS_VIRTIO:
        need = QEMU_CAPS_DEVICE_VIRTIO_BLK;
        if (disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "disk type 'virtio' of '%s' does not support ejectable media", disk->dst);
            return FALSE;
        }
        break;
    case QVIR_DOMAIN_DISK_BUS_USB:
        need = QEMU_CAPS_DEVICE_USB_STORAGE;
        break;
    case QVIR_DOMAIN_DISK_BUS_FDC:
        /* the ISA floppy controller has two drives */
        if (disk->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE &&
            (disk->info.addr.drive.controller != 0 || disk->info.addr.drive.bus != 0 ||
             disk->info.addr.drive.target != 0 || disk->info.addr.drive.unit > 1)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "floppy disk '%s' must be on controller 0, bus 0, unit 0 or 1", disk->dst);
            return FALSE;
        }
        break;
    case QVIR_DOMAIN_DISK_BUS_SCSI: {
        const qvirDomainControllerDef *c = NULL;

        if (disk->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE)
            c = qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_SCSI,
                                         disk->info.addr.drive.controller);
        if (c && qvirDomainControllerIsVirtioSCSI(c))
            need = QEMU_CAPS_DEVICE_VIRTIO_SCSI;
        else if (c && qemuDomainSCSIModelIsLSI(c->model))
            need = QEMU_CAPS_DEVICE_LSI;
        break;
    }
    case QVIR_DOMAIN_DISK_BUS_NONE:
    case QVIR_DOMAIN_DISK_BUS_LAST:
    default:
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported disk bus for disk '%s'", disk->dst);
        return FALSE;
    }
    if (need != QEMU_CAPS_LAST && !qemuCapsGet(caps, need)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "disk bus '%s' of disk '%s' is not supported by this QEMU binary "
                    "(no %s)",
                    qvirDomainDiskBusTypeToString(disk->bus), disk->dst,
                    qemuCapsTypeToString(need));
        return FALSE;
    }
    /* -drive has no per-layer format options, and only qcow2 has this cache */
    for (const qvirStorageSource *s = disk->src; s; s = s->backingStore) {
        if (s->metadataCacheMaxSize && s->format != QVIR_STORAGE_FILE_QCOW2) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "metadata cache max size control is supported only with qcow2 images");
            return FALSE;
        }
        if (s->metadataCacheMaxSize && !qemuCapsGet(caps, QEMU_CAPS_BLOCKDEV)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "metadata_cache of disk '%s' needs -blockdev, which this QEMU binary lacks",
                        disk->dst);
            return FALSE;
        }
    }
    /* the filter node only exists with -blockdev */
    if (disk->copyOnRead == QVIR_TRISTATE_SWITCH_ON && !qemuCapsGet(caps, QEMU_CAPS_BLOCKDEV)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "copy_on_read of disk '%s' needs -blockdev, which this QEMU binary lacks",
                    disk->dst);
        return FALSE;
    }
    if (disk->src && disk->src->shared && !disk->src->readonly &&
        !qemuCapsGet(caps, QEMU_CAPS_DISK_SHARE_RW) && qemuCapsGet(caps, QEMU_CAPS_BLOCKDEV)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "shareable disk '%s' needs share-rw, which this QEMU binary lacks", disk->dst);
        return FALSE;
    }
    return TRUE;
}

/*
 * <transient/>: the overlay is a qcow2 file created with blockdev-create next to a local
 * image (libvirt's rules and words), and shareBacking='yes' means hot-plugging the disk
 * after start, so only buses that hot-plug qualify.
 */
gboolean
qemuValidateDiskTransient(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                          const qemuCaps *caps, GError **error)
{
    if (!disk->transient)
        return TRUE;
    if (disk->src->type == QVIR_STORAGE_TYPE_NONE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "transient disk '%s' must not be empty", disk->dst);
        return FALSE;
    }
    if (disk->src->readonly) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "transient disk '%s' must not be read-only", disk->dst);
        return FALSE;
    }
    if (disk->src->type != QVIR_STORAGE_TYPE_FILE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "transient disk supported only with 'file' type (%s)", disk->dst);
        return FALSE;
    }
    if (disk->device != QVIR_DOMAIN_DISK_DEVICE_DISK) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "transient disk supported only with 'disk' device (%s)", disk->dst);
        return FALSE;
    }
    /* libvirt 9.0 knows only -blockdev QEMUs; the overlay needs blockdev-create */
    if (!qemuCapsGet(caps, QEMU_CAPS_BLOCKDEV)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "transient disk '%s' needs -blockdev, which this QEMU binary lacks", disk->dst);
        return FALSE;
    }
    if (disk->transientShareBacking != QVIR_TRISTATE_BOOL_YES)
        return TRUE;
    /* the hot-plugged disk needs a system_reset to be bootable, which a guest reset
     * must survive: without set-action only a domain that may reboot qualifies */
    if (!qemuCapsGet(caps, QEMU_CAPS_SET_ACTION) &&
        def->onReboot == QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY &&
        def->onPoweroff == QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY &&
        (def->onCrash == QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY ||
         def->onCrash == QVIR_DOMAIN_LIFECYCLE_ACTION_COREDUMP_DESTROY)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "transient disk backing image sharing with destroy action of lifecycle "
                    "isn't supported by this QEMU binary");
        return FALSE;
    }
    if (disk->bus != QVIR_DOMAIN_DISK_BUS_USB && disk->bus != QVIR_DOMAIN_DISK_BUS_VIRTIO &&
        disk->bus != QVIR_DOMAIN_DISK_BUS_SCSI) {
        /* (libvirt's message, its spelling included) */
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "disk bus '%s' doesn't support transiend disk backing image sharing",
                    qvirDomainDiskBusTypeToString(disk->bus));
        return FALSE;
    }
    return TRUE;
}

/* 9999-12-31T23:59:59 UTC, the last moment -rtc base= can name */
#define QEMU_VALIDATE_CLOCK_START_MAX 253402300799ULL

gboolean
qemuValidateDomainDef(const qvirDomainDef *def, const qemuCaps *caps, GError **error)
{
    qemuDomainMachineKind kind;

    g_return_val_if_fail(def != NULL && caps != NULL, FALSE);

    if (!qemuDomainGetMachineKind(def, &kind, error))
        return FALSE;
    if (def->virtType == QVIR_DOMAIN_VIRT_KVM && !qemuCapsGet(caps, QEMU_CAPS_KVM)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: Emulator '%s' does not support virt type 'kvm'",
                    qemuCapsGetBinary(caps) ? qemuCapsGetBinary(caps) : "");
        return FALSE;
    }
    if (def->os.machine && !qemuCapsHasMachine(caps, def->os.machine)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "Emulator '%s' does not support machine type '%s'",
                    qemuCapsGetBinary(caps) ? qemuCapsGetBinary(caps) : "", def->os.machine);
        return FALSE;
    }
    /* -rtc base= takes a date: QEMU (and GLib) stop at the end of year 9999. libvirt 9.0
     * writes "base=(null)" beyond it; qvirt refuses. */
    if (g_strcmp0(def->clockOffset, "absolute") == 0 &&
        def->clockStart > QEMU_VALIDATE_CLOCK_START_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "clock start time '%llu' is after 9999-12-31T23:59:59 UTC", def->clockStart);
        return FALSE;
    }
    if (def->tsegBytes) {
        if (kind != QEMU_DOMAIN_MACHINE_Q35) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "SMM TSEG is only supported with q35 machine type");
            return FALSE;
        }
        if (def->tsegBytes & ((1 << 20) - 1)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "SMM TSEG size must be divisible by 1 MiB");
            return FALSE;
        }
    }
    for (guint i = 0; def->disks && i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (!qemuValidateDiskTransient(def, disk, caps, error) ||
            !qemuValidateDiskChain(disk, caps, error) ||
            !qemuValidateDiskBus(def, disk, kind, caps, error) ||
            !qemuValidateDiskCache(disk, caps, error) || !qemuValidateDiskIO(disk, caps, error))
            return FALSE;
    }
    return TRUE;
}
