/*
 * qemu_hotplug.c: hot-attach and detach of disks, cdrom media change.
 */
#include "qemu/qemu_hotplug.h"

#include <string.h>

#include "conf/domain_validate.h"
#include "util/virerror.h"
#include "qemu/qemu_block.h"
#include "qemu/qemu_command.h"
#include "qemu/qemu_domain.h"
#include "qemu/qemu_namespace.h"
#include "qemu/qemu_process.h"

#define QEMU_HOTPLUG_TIMEOUT_MS QEMU_MONITOR_DEFAULT_TIMEOUT_MS

/* ---- node add / delete -------------------------------------------------------------- */

static gboolean
qemuHotplugBlockdevAdd(qemuMonitor *mon, JsonNode *props, GError **error)
{
    g_autoptr(JsonNode) ret = NULL;

    if (!props || !JSON_NODE_HOLDS_OBJECT(props)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "cannot build blockdev properties");
        return FALSE;
    }
    ret = qemuMonitorCommand(mon, "blockdev-add", json_node_get_object(props),
                             QEMU_HOTPLUG_TIMEOUT_MS, error);
    return ret != NULL;
}

static gboolean
qemuHotplugBlockdevDel(qemuMonitor *mon, const char *node, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;

    json_object_set_string_member(args, "node-name", node);
    ret = qemuMonitorCommand(mon, "blockdev-del", args, QEMU_HOTPLUG_TIMEOUT_MS, error);
    return ret != NULL;
}

/* Keep the first error, drop later ones (the caller reports one). */
static void
qemuHotplugKeepFirstError(GError **error, GError *err)
{
    if (!err)
        return;
    if (error && !*error)
        g_propagate_error(error, err);
    else
        g_error_free(err);
}

static gboolean
qemuHotplugObjectAdd(qemuMonitor *mon, JsonNode *props, GError **error)
{
    g_autoptr(JsonNode) ret = qemuMonitorCommand(mon, "object-add", json_node_get_object(props),
                                                 QEMU_HOTPLUG_TIMEOUT_MS, error);

    return ret != NULL;
}

/* object-del, quietly: an object that is not there (never added, or gone) is no error. */
static void
qemuHotplugObjectDel(qemuMonitor *mon, const char *id)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(GError) err = NULL;

    json_object_set_string_member(args, "id", id);
    ret = qemuMonitorCommand(mon, "object-del", args, QEMU_HOTPLUG_TIMEOUT_MS, &err);
}

/* The secrets and TLS credentials of network layer SRC, once its node is gone. */
static void
qemuHotplugDelLayerObjects(qemuMonitor *mon, const qvirStorageSource *src)
{
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    /* the TLS key secret exists only with a configured uuid; deleting it blindly is safe */
    qemuBlockSecretCtx all = {.nbdTLSx509secretUUID = ""};

    qemuBlockStorageSourceGetDepObjectIds(src, &all, ids);
    for (guint i = 0; i < ids->len; i++)
        qemuHotplugObjectDel(mon, g_ptr_array_index(ids, i));
}

static void
qemuHotplugDelLayer(qemuMonitor *mon, qvirStorageSource *src, gboolean format, gboolean storage,
                    GError **error)
{
    GError *err = NULL;

    if (format && src->nodeFormat && !qemuHotplugBlockdevDel(mon, src->nodeFormat, &err))
        qemuHotplugKeepFirstError(error, g_steal_pointer(&err));
    if (storage && src->nodeStorage) {
        if (!qemuHotplugBlockdevDel(mon, src->nodeStorage, &err))
            qemuHotplugKeepFirstError(error, g_steal_pointer(&err));
        else
            qemuHotplugDelLayerObjects(mon, src);
    }
}

gboolean
qemuHotplugBlockdevDelChain(qemuMonitor *mon, qvirStorageSource *top, GError **error)
{
    GError *first = NULL;

    for (; qvirStorageSourceIsBacking(top); top = top->backingStore)
        qemuHotplugDelLayer(mon, top, TRUE, TRUE, &first);
    if (first) {
        g_propagate_error(error, first);
        return FALSE;
    }
    return TRUE;
}

gboolean
qemuHotplugBlockdevAddChain(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDiskDef *disk,
                            qvirStorageSource *top, GError **error)
{
    return qemuHotplugBlockdevAddLayers(mon, caps, disk, top, NULL, error);
}

gboolean
qemuHotplugBlockdevAddLayers(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDiskDef *disk,
                             qvirStorageSource *top, const qvirStorageSource *stop, GError **error)
{
    return qemuHotplugBlockdevAddLayersFull(mon, caps, disk, top, stop, NULL, error);
}

/* object-add the secrets and TLS credentials of SRC (a local layer: its LUKS secret); on failure
 * those added are deleted again. */
static gboolean
qemuHotplugAddLayerObjects(qemuMonitor *mon, const qvirStorageSource *src,
                           const qemuBlockSecretCtx *sctx, GError **error)
{
    g_autoptr(GPtrArray) objects = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);

    if (!qemuBlockStorageSourceGetDepObjects(src, sctx, objects, error))
        return FALSE;
    for (guint i = 0; i < objects->len; i++) {
        if (!qemuHotplugObjectAdd(mon, g_ptr_array_index(objects, i), error)) {
            while (i-- > 0) {
                JsonObject *obj = json_node_get_object(g_ptr_array_index(objects, i));

                qemuHotplugObjectDel(mon, json_object_get_string_member(obj, "id"));
            }
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
qemuHotplugBlockdevAddLayersFull(qemuMonitor *mon, const qemuCaps *caps,
                                 const qvirDomainDiskDef *disk, qvirStorageSource *top,
                                 const qvirStorageSource *stop, const qemuBlockSecretCtx *sctx,
                                 GError **error)
{
    g_autoptr(GPtrArray) layers = g_ptr_array_new();
    qvirStorageSource *src;
    guint added;
    gboolean storageAdded = FALSE;
    gboolean objectsAdded = FALSE;

    for (src = top; qvirStorageSourceIsBacking(src) && src != stop; src = src->backingStore)
        g_ptr_array_add(layers, src);

    /* Deepest first: a format node names its backing node, which must exist. */
    for (added = 0; added < layers->len; added++) {
        src = g_ptr_array_index(layers, layers->len - 1 - added);
        g_autoptr(JsonNode) sprops = NULL;
        g_autoptr(JsonNode) fprops = NULL;

        storageAdded = objectsAdded = FALSE;
        if (!(sprops = qemuBlockStorageSourceGetBackendPropsFull(disk, src, caps, error)) ||
            !qemuHotplugAddLayerObjects(mon, src, sctx, error))
            goto rollback;
        objectsAdded = TRUE;
        if (!qemuHotplugBlockdevAdd(mon, sprops, error))
            goto rollback;
        storageAdded = TRUE;
        fprops = qemuBlockStorageSourceGetFormatProps(disk, src, caps);
        if (!qemuHotplugBlockdevAdd(mon, fprops, error))
            goto rollback;
    }
    return TRUE;

rollback:
    /* The layer that failed half-way, then the complete ones, top-most first. */
    if (storageAdded)
        qemuHotplugDelLayer(mon, src, FALSE, TRUE, NULL);
    else if (objectsAdded)
        qemuHotplugDelLayerObjects(mon, src);
    for (guint i = layers->len - added; i < layers->len; i++)
        qemuHotplugDelLayer(mon, g_ptr_array_index(layers, i), TRUE, TRUE, NULL);
    return FALSE;
}

/* ---- attach --------------------------------------------------------------------------- */

/* What an attach changes on the disk, to put back exactly on failure. */
typedef struct {
    qvirStorageSource *src; /* deep copy of the chain as passed in */
    qvirDomainDeviceInfo info;
    char *alias;
    qvirDomainDiskCache cachemode;
} qemuHotplugDiskBackup;

static void
qemuHotplugDiskBackupSave(qemuHotplugDiskBackup *bak, const qvirDomainDiskDef *disk)
{
    bak->src = qvirStorageSourceCopy(disk->src);
    bak->info = disk->info;
    bak->alias = g_strdup(disk->info.alias);
    bak->cachemode = disk->cachemode;
}

static void
qemuHotplugDiskBackupRestore(qemuHotplugDiskBackup *bak, qvirDomainDiskDef *disk)
{
    qvirStorageSourceFree(disk->src);
    disk->src = g_steal_pointer(&bak->src);
    g_free(disk->info.alias);
    disk->info = bak->info;
    disk->info.alias = g_steal_pointer(&bak->alias);
    disk->cachemode = bak->cachemode;
}

static void
qemuHotplugDiskBackupClear(qemuHotplugDiskBackup *bak)
{
    qvirStorageSourceFree(bak->src);
    g_free(bak->alias);
}

static gboolean
qemuHotplugCheckBus(const qvirDomainDiskDef *disk, GError **error)
{
    if (disk->device == QVIR_DOMAIN_DISK_DEVICE_FLOPPY) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "floppy device hotplug isn't supported");
        return FALSE;
    }
    switch (disk->bus) {
    case QVIR_DOMAIN_DISK_BUS_VIRTIO:
        if (disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "disk type of '%s' does not support ejectable media", disk->dst);
            return FALSE;
        }
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_SCSI:
    case QVIR_DOMAIN_DISK_BUS_USB:
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_IDE:
    case QVIR_DOMAIN_DISK_BUS_SATA:
        /* libvirt 9.0 says "cannot be hotplugged" but goes on (its switch lacks the jump
         * out): the client sees the missing controller or QEMU's refusal of the device,
         * which is what qemuHotplugCheckDriveController and device_add give here. */
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_NONE:
    case QVIR_DOMAIN_DISK_BUS_LAST:
    default:
        break;
    }
    g_set_error(
        error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED, "disk bus '%s' cannot be hotplugged.",
        qvirDomainDiskBusTypeToString(disk->bus) ? qvirDomainDiskBusTypeToString(disk->bus) : "");
    return FALSE;
}

/*
 * The start preparation of DEF with one PCI device added failed. When DEF alone prepares,
 * the device is what did not fit: on pc, pci.0 has no free slot, and a running machine
 * does not grow the pci-bridge a start would add. libvirt's words for it, then.
 */
static void
qemuHotplugExplainNoSlot(const qvirDomainDef *def, const qemuCaps *caps, GError **error)
{
    g_autoptr(qvirDomainDef) copy = qvirDomainDefCopy(def, QVIR_DOMAIN_DEF_FORMAT_STATUS, NULL);

    if (!error || !*error || !copy || !qemuDomainPrepareForStart(copy, caps, NULL))
        return;
    g_clear_error(error);
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "No more available PCI slots");
}

/*
 * Alias, drive/PCI address, cache policy and node names exactly as a cold start assigns
 * them: run the start preparation on a copy of the live definition with DISK added. If
 * that needed a new controller (no free hot-pluggable port), QEMU cannot take the disk:
 * a running machine does not grow PCI buses.
 */
static gboolean
qemuHotplugPrepareDisk(const qvirDomainDef *def, const qemuCaps *caps, qvirDomainDiskDef *disk,
                       GError **error)
{
    g_autoptr(qvirDomainDef) copy = NULL;
    /* a virtio disk to place: its preparation can only fail for want of a slot */
    gboolean placing = disk->bus == QVIR_DOMAIN_DISK_BUS_VIRTIO &&
                       disk->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE;
    guint ncontrollers;
    gboolean ok;

    if (!(copy = qvirDomainDefCopy(def, QVIR_DOMAIN_DEF_FORMAT_STATUS, error)))
        return FALSE;
    ncontrollers = copy->controllers->len;

    g_ptr_array_add(copy->disks, disk);
    ok = qemuDomainPrepareForStart(copy, caps, error);
    /* Take DISK back wherever the preparation put it (disks may be reordered by bus). */
    {
        guint idx;

        if (!g_ptr_array_find(copy->disks, disk, &idx))
            g_error("hot-plugged disk lost from the prepared definition");
        g_ptr_array_steal_index(copy->disks, idx);
    }
    if (!ok) {
        if (placing)
            qemuHotplugExplainNoSlot(def, caps, error);
        return FALSE;
    }

    /* (an IDE or SATA disk was checked against the controllers already: the preparation
     * adds the machine's own to the copy, which need no plugging) */
    if (copy->controllers->len != ncontrollers && disk->bus != QVIR_DOMAIN_DISK_BUS_IDE &&
        disk->bus != QVIR_DOMAIN_DISK_BUS_SATA) {
        if (disk->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "No more available PCI slots");
        else
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                        "disk '%s' needs a controller the running domain does not have", disk->dst);
        return FALSE;
    }
    if (!disk->info.alias) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "no alias assigned to disk '%s'",
                    disk->dst);
        return FALSE;
    }
    return TRUE;
}

/*
 * An IDE or SATA disk goes on a controller the domain has (libvirt hot-plugs none of
 * these): the machine's own (PIIX3's IDE on pc, the AHCI of q35 as SATA controller 0),
 * else the one its drive address names.
 */
static gboolean
qemuHotplugCheckDriveController(const qvirDomainDef *def, qvirDomainDiskDef *disk, GError **error)
{
    gboolean ide = disk->bus == QVIR_DOMAIN_DISK_BUS_IDE;
    qvirDomainControllerType type =
        ide ? QVIR_DOMAIN_CONTROLLER_TYPE_IDE : QVIR_DOMAIN_CONTROLLER_TYPE_SATA;
    qemuDomainMachineKind kind = QEMU_DOMAIN_MACHINE_PC;

    if (!qemuDomainAssignDiskDriveAddress(disk, error) ||
        !qemuDomainGetMachineKind(def, &kind, error))
        return FALSE;
    if (disk->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE) {
        unsigned int idx = disk->info.addr.drive.controller;

        if (ide && kind == QEMU_DOMAIN_MACHINE_PC)
            return TRUE;
        if (!ide && kind == QEMU_DOMAIN_MACHINE_Q35 && idx == 0)
            return TRUE;
        if (qemuDomainFindController(def, type, (int)idx))
            return TRUE;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                "Could not find %s controller with index %u required for device",
                qvirDomainControllerTypeTypeToString(type),
                disk->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE
                    ? disk->info.addr.drive.controller
                    : 0);
    return FALSE;
}

/* ---- SCSI controllers --------------------------------------------------------------------- */

/*
 * The model of a SCSI controller plugged for a disk: libvirt repeats the model of the last
 * SCSI controller the domain has (a disk on controller 1 next to a virtio-scsi 0 gets a
 * second virtio-scsi), and otherwise takes the machine's default.
 */
static const char *
qemuHotplugSCSIControllerModel(const qvirDomainDef *def, const qemuCaps *caps)
{
    const char *model = NULL;

    for (guint i = 0; i < def->controllers->len; i++) {
        const qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_SCSI)
            model = c->model;
    }
    return model ? model : qemuDomainDefaultSCSIModel(caps);
}

/*
 * SCSI controller IDX for the running domain DEF, with its alias and PCI address placed as a
 * start would place it. A placement that needs a new pcie-root-port or pcie-to-pci-bridge
 * (an LSI controller on q35 without a free bridge slot, virtio-scsi without a free root
 * port) is refused as libvirt refuses it: a running machine does not grow PCI buses.
 */
static qvirDomainControllerDef *
qemuHotplugPrepareSCSIController(const qvirDomainDef *def, const qemuCaps *caps, int idx,
                                 GError **error)
{
    g_autoptr(qvirDomainDef) copy = NULL;
    qvirDomainControllerDef *cont;
    guint ncontrollers;
    guint at;

    if (!(copy = qvirDomainDefCopy(def, QVIR_DOMAIN_DEF_FORMAT_STATUS, error)))
        return NULL;
    ncontrollers = copy->controllers->len;
    cont = qemuDomainAddController(copy, QVIR_DOMAIN_CONTROLLER_TYPE_SCSI, idx,
                                   qemuHotplugSCSIControllerModel(def, caps));
    if (!qemuDomainPrepareForStart(copy, caps, error)) {
        qemuHotplugExplainNoSlot(def, caps, error);
        return NULL;
    }
    if (copy->controllers->len != ncontrollers + 1) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "No more available PCI slots");
        return NULL;
    }
    if (cont->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI || !cont->info.alias) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "no PCI address or alias assigned to SCSI controller %d", idx);
        return NULL;
    }
    if (!g_ptr_array_find(copy->controllers, cont, &at))
        g_error("hot-plugged controller lost from the prepared definition");
    return g_ptr_array_steal_index(copy->controllers, at);
}

/*
 * libvirt hot-plugs the SCSI controllers a disk needs before the disk: the one its drive
 * address names and every lower index the running domain lacks (indexes have no holes).
 * Each one that QEMU took stays in DEF, even when the disk then fails, as in libvirt.
 */
static gboolean
qemuHotplugAttachSCSIControllers(qemuMonitor *mon, const qemuCaps *caps, qvirDomainDef *def,
                                 qvirDomainDiskDef *disk, GError **error)
{
    unsigned int last;

    if (!qemuDomainAssignDiskDriveAddress(disk, error))
        return FALSE;
    if (disk->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "unexpected disk address type %s",
                    qvirDomainDeviceAddressTypeTypeToString(disk->info.type));
        return FALSE;
    }
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *other = g_ptr_array_index(def->disks, i);
        const qvirDomainDeviceDriveAddress *a = &other->info.addr.drive;
        const qvirDomainDeviceDriveAddress *b = &disk->info.addr.drive;

        if (other->bus == QVIR_DOMAIN_DISK_BUS_SCSI &&
            other->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE &&
            a->controller == b->controller && a->bus == b->bus && a->target == b->target &&
            a->unit == b->unit) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                        "Domain already contains a disk with that address");
            return FALSE;
        }
    }
    last = disk->info.addr.drive.controller;
    if (last > QEMU_DOMAIN_MAX_DISK_CONTROLLER) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "disk '%s': controller index %u is out of range (at most %u)", disk->dst, last,
                    QEMU_DOMAIN_MAX_DISK_CONTROLLER);
        return FALSE;
    }
    for (unsigned int idx = 0; idx <= last; idx++) {
        g_autoptr(qvirDomainControllerDef) cont = NULL;
        g_autoptr(JsonObject) props = NULL;
        g_autoptr(JsonNode) ret = NULL;

        if (qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_SCSI, (int)idx))
            continue;
        if (!(cont = qemuHotplugPrepareSCSIController(def, caps, (int)idx, error)) ||
            !(props = qemuBuildControllerDevProps(def, caps, cont, error)))
            return FALSE;
        g_info("no SCSI controller %u in domain '%s': hot-plugging a %s one", idx, def->name,
               cont->model);
        if (!(ret = qemuMonitorCommand(mon, "device_add", props, QEMU_HOTPLUG_TIMEOUT_MS, error)))
            return FALSE;
        qvirDomainControllerInsert(def, g_steal_pointer(&cont));
    }
    return TRUE;
}

/* ---- USB ports -------------------------------------------------------------------------- */

/* Ports of USB controller 0 (libvirt's per-model numbers; a model left out is the
 * machine's default: qemu-xhci on q35, piix3-uhci on pc). 0: no USB bus. */
static unsigned int
qemuHotplugUSBPorts(const qvirDomainDef *def)
{
    qvirDomainControllerDef *c = qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_USB, 0);
    qemuDomainMachineKind kind = QEMU_DOMAIN_MACHINE_PC;
    const char *model = c ? c->model : NULL;

    if (g_strcmp0(model, "none") == 0)
        return 0;
    if (!model) {
        qemuDomainGetMachineKind(def, &kind, NULL);
        model = kind == QEMU_DOMAIN_MACHINE_Q35 ? "qemu-xhci" : "piix3-uhci";
    }
    if (strcmp(model, "qemu-xhci") == 0 || strcmp(model, "nec-xhci") == 0)
        return c && c->ports > 0 ? (unsigned int)c->ports : 4;
    if (strcmp(model, "ehci") == 0 || strcmp(model, "ich9-ehci1") == 0)
        return 6;
    if (strcmp(model, "pci-ohci") == 0)
        return 3;
    return 2; /* the UHCIs */
}

static void
qemuHotplugUSBMarkUsed(GHashTable *used, const qvirDomainDeviceInfo *info)
{
    if (info->type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB && info->addr.usb.bus == 0 &&
        info->addr.usb.port[0])
        g_hash_table_add(used, g_strdup(info->addr.usb.port));
}

/*
 * The USB ports in use on bus 0: the addresses the live definition records, and what QEMU
 * has plugged (devices of a cold start get their port on the command line only), from
 * HMP "info usb" lines such as "  Device 0.2, Port 1, Speed 5000 Mb/s, Product ...".
 */
static GHashTable *
qemuHotplugUSBUsedPorts(qemuMonitor *mon, const qvirDomainDef *def, GError **error)
{
    g_autoptr(GHashTable) used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    g_auto(GStrv) lines = NULL;

    for (guint i = 0; i < def->disks->len; i++)
        qemuHotplugUSBMarkUsed(used,
                               &((qvirDomainDiskDef *)g_ptr_array_index(def->disks, i))->info);
    for (guint i = 0; def->inputs && i < def->inputs->len; i++)
        qemuHotplugUSBMarkUsed(used,
                               &((qvirDomainInputDef *)g_ptr_array_index(def->inputs, i))->info);

    json_object_set_string_member(args, "command-line", "info usb");
    if (!(ret = qemuMonitorCommand(mon, "human-monitor-command", args, QEMU_HOTPLUG_TIMEOUT_MS,
                                   error)))
        return NULL;
    if (!JSON_NODE_HOLDS_VALUE(ret) || json_node_get_value_type(ret) != G_TYPE_STRING)
        return g_steal_pointer(&used);
    lines = g_strsplit(json_node_get_string(ret), "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        const char *p = strstr(lines[i], "Device 0.");
        const char *port;
        gsize len;

        if (!p || !(port = strstr(p, ", Port ")))
            continue;
        port += strlen(", Port ");
        len = strcspn(port, ",");
        if (len > 0 && len < sizeof(((qvirDomainDeviceUSBAddress *)NULL)->port))
            g_hash_table_add(used, g_strndup(port, len));
    }
    return g_steal_pointer(&used);
}

/*
 * libvirt's virDomainUSBAddressEnsure for a hot-plugged disk: an address the XML gives is
 * reserved as it is, otherwise the first free port of bus 0 is taken.
 */
static gboolean
qemuHotplugAssignUSBPort(qemuMonitor *mon, const qvirDomainDef *def, qvirDomainDiskDef *disk,
                         GError **error)
{
    g_autoptr(GHashTable) used = NULL;
    qvirDomainDeviceInfo *info = &disk->info;
    unsigned int nports = qemuHotplugUSBPorts(def);

    if (nports == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "USB is disabled for this domain, but USB devices are present in the domain "
                    "XML");
        return FALSE;
    }
    if (!(used = qemuHotplugUSBUsedPorts(mon, def, error)))
        return FALSE;
    if (info->type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB && info->addr.usb.port[0]) {
        if (info->addr.usb.bus != 0 || g_hash_table_contains(used, info->addr.usb.port)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Duplicate USB address bus %u port %s", info->addr.usb.bus,
                        info->addr.usb.port);
            return FALSE;
        }
        return TRUE;
    }
    for (unsigned int port = 1; port <= nports; port++) {
        g_autofree char *str = g_strdup_printf("%u", port);

        if (g_hash_table_contains(used, str))
            continue;
        memset(&info->addr, 0, sizeof(info->addr));
        info->type = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB;
        info->addr.usb.bus = 0;
        g_strlcpy(info->addr.usb.port, str, sizeof(info->addr.usb.port));
        return TRUE;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "No free USB ports");
    return FALSE;
}

/* The device_add arguments of DISK: what a start would give it, as libvirt builds both alike. */
static JsonObject *
qemuHotplugBuildDiskDevice(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                           const qemuCaps *caps, GError **error)
{
    JsonObject *props;

    if (disk->bus == QVIR_DOMAIN_DISK_BUS_VIRTIO &&
        disk->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "No more available PCI slots");
        return NULL;
    }
    if (!(props = qemuBuildDiskDevProps(def, caps, disk, error)))
        return NULL;
    /* a start derives boot indexes from <os><boot> over all disks; DISK is not among them */
    if (disk->info.bootIndex && !json_object_has_member(props, "bootindex"))
        json_object_set_int_member(props, "bootindex", disk->info.bootIndex);
    return props;
}

static gboolean
qemuHotplugAttachDiskLive(qemuMonitor *mon, const qemuCaps *caps, qvirDomainDef *def,
                          qvirDomainDiskDef *disk, const qemuHotplugOpts *opts, GError **error)
{
    qvirStorageChainConfig defcfg;
    qvirStorageChainConfig cfg;
    g_autoptr(JsonObject) dev = NULL;
    g_autoptr(JsonNode) ret = NULL;
    qvirStorageSource *src;
    gboolean readonly;
    gboolean ok;

    if (!qemuHotplugCheckBus(disk, error))
        return FALSE;
    if (disk->transient) {
        if (!qemuValidateDiskTransient(def, disk, caps, error))
            return FALSE;
        if (!opts || !opts->transientOverlay) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                        "transient disk '%s' cannot be hot-plugged here", disk->dst);
            return FALSE;
        }
    }
    /* (an nbd export may be nameless: a network source needs no path) */
    if (!qvirStorageSourceIsBacking(disk->src) ||
        (!disk->src->path && disk->src->type != QVIR_STORAGE_TYPE_NETWORK)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "disk '%s' has no source to attach", disk->dst);
        return FALSE;
    }
    if (disk->cachemode == QVIR_DOMAIN_DISK_CACHE_DEFAULT && opts && opts->defaultDiskCache > 0 &&
        opts->defaultDiskCache < QVIR_DOMAIN_DISK_CACHE_LAST)
        disk->cachemode = opts->defaultDiskCache;

    /* Indexes and node names in the attached XML mean nothing to this domain. */
    for (src = disk->src; src; src = src->backingStore) {
        src->id = 0;
        g_clear_pointer(&src->nodeStorage, g_free);
        g_clear_pointer(&src->nodeFormat, g_free);
    }
    g_clear_pointer(&disk->info.alias, g_free);

    /* The one time this disk's headers are read: the chain is the cache from now on. A
     * network top is never opened here: its chain is what the XML gives, and QEMU opens
     * whatever lies below that itself. */
    if (!qvirStorageSourceChainIsTerminated(disk->src) &&
        disk->src->type != QVIR_STORAGE_TYPE_NETWORK) {
        if (opts && opts->chainConfig) {
            cfg = *opts->chainConfig;
        } else {
            qvirStorageChainConfigInit(&defcfg);
            cfg = defcfg;
        }
        cfg.diskName = disk->dst;
        qvirStorageSourceChainClear(disk->src);
        if (!qvirStorageChainProbe(disk->src, &cfg, error))
            return FALSE;
    }
    /* after the chain, as libvirt: a missing image is reported before a taken target */
    if (!qvirDomainDiskDefCheckDuplicate(def, disk, error))
        return FALSE;

    /* (before the preparation, whose device count would refuse a full bus less clearly) */
    if (disk->bus == QVIR_DOMAIN_DISK_BUS_USB && !qemuHotplugAssignUSBPort(mon, def, disk, error))
        return FALSE;
    if (disk->bus == QVIR_DOMAIN_DISK_BUS_SCSI &&
        !qemuHotplugAttachSCSIControllers(mon, caps, def, disk, error))
        return FALSE;
    if ((disk->bus == QVIR_DOMAIN_DISK_BUS_IDE || disk->bus == QVIR_DOMAIN_DISK_BUS_SATA) &&
        !qemuHotplugCheckDriveController(def, disk, error))
        return FALSE;
    if (!qemuHotplugPrepareDisk(def, caps, disk, error))
        return FALSE;
    if (!qemuProcessCheckDirectIO(disk, error))
        return FALSE;
    if (!(dev = qemuHotplugBuildDiskDevice(def, disk, caps, error)))
        return FALSE;

    if (!qvirSecurityDACSetChainLabel(opts ? opts->security : NULL, disk, disk->src, error))
        return FALSE;
    if (!qemuNamespaceAddChain(opts ? opts->pid : 0, disk->src, error))
        goto unlabel;
    /* A transient disk's image is opened read-only, as libvirt does: only its overlay,
     * which goes on top before the device, is written. */
    readonly = disk->src->readonly;
    disk->src->readonly |= disk->transient;
    ok = qemuHotplugBlockdevAddLayersFull(mon, caps, disk, disk->src, NULL,
                                          opts ? opts->secrets : NULL, error);
    disk->src->readonly = readonly;
    if (!ok)
        goto unlabel;
    if (disk->transient) {
        /* on success the overlay (labelled by its maker) is the chain's new top */
        if (!opts->transientOverlay(mon, caps, def, disk, opts->security, error)) {
            qemuHotplugBlockdevDelChain(mon, disk->src, NULL);
            goto unlabel;
        }
        json_object_set_string_member(dev, "drive", disk->src->nodeFormat);
    }
    if (!(ret = qemuMonitorCommand(mon, "device_add", dev, QEMU_HOTPLUG_TIMEOUT_MS, error))) {
        qemuHotplugBlockdevDelChain(mon, disk->src, NULL);
        qvirSecurityDACRestoreChainLabel(opts ? opts->security : NULL, disk->src);
        qemuBlockRemoveTransientOverlay(disk, def->name);
        return FALSE;
    }
    return TRUE;

unlabel:
    qvirSecurityDACRestoreChainLabel(opts ? opts->security : NULL, disk->src);
    return FALSE;
}

gboolean
qemuHotplugAttachDisk(qemuMonitor *mon, const qemuCaps *caps, qvirDomainDef *def,
                      qvirDomainDiskDef *disk, const qemuHotplugOpts *opts, GError **error)
{
    qemuHotplugDiskBackup bak = {0};

    g_return_val_if_fail(mon != NULL && def != NULL && disk != NULL, FALSE);

    if (!disk->dst) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing disk target");
        return FALSE;
    }

    qemuHotplugDiskBackupSave(&bak, disk);
    if (!qemuHotplugAttachDiskLive(mon, caps, def, disk, opts, error)) {
        qemuHotplugDiskBackupRestore(&bak, disk);
        return FALSE;
    }
    qemuHotplugDiskBackupClear(&bak);
    /* Where the parser would put it (by bus and index): copies of the definition go
     * through XML and pair their disks with these by position. */
    qvirDomainDiskInsert(def, disk);
    return TRUE;
}

gboolean
qemuHotplugAddDiskDevice(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDef *def,
                         qvirDomainDiskDef *disk, GError **error)
{
    g_autoptr(JsonObject) dev = NULL;
    g_autoptr(JsonNode) ret = NULL;

    g_return_val_if_fail(mon != NULL && def != NULL && disk != NULL, FALSE);

    /* a cold start hands out USB ports on the command line, which this disk was not on */
    if (disk->bus == QVIR_DOMAIN_DISK_BUS_USB &&
        disk->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB &&
        !qemuHotplugAssignUSBPort(mon, def, disk, error))
        return FALSE;
    if (!(dev = qemuHotplugBuildDiskDevice(def, disk, caps, error)))
        return FALSE;
    ret = qemuMonitorCommand(mon, "device_add", dev, QEMU_HOTPLUG_TIMEOUT_MS, error);
    return ret != NULL;
}

/* ---- detach --------------------------------------------------------------------------- */

static gboolean
qemuHotplugRemoveDiskFromDef(qvirDomainDef *def, qvirDomainDiskDef *disk)
{
    for (guint i = 0; i < def->disks->len; i++) {
        if (g_ptr_array_index(def->disks, i) == disk) {
            g_ptr_array_steal_index(def->disks, i);
            return TRUE;
        }
    }
    return FALSE;
}

gboolean
qemuHotplugDiskRemoved(qemuMonitor *mon, qvirDomainDef *def, const char *alias, GError **error)
{
    qvirDomainDiskDef *disk = NULL;
    gboolean ok;

    for (guint i = 0; alias && i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        if (g_strcmp0(d->info.alias, alias) == 0) {
            disk = d;
            break;
        }
    }
    if (!disk)
        return FALSE;

    /* The device is gone from QEMU, so the disk leaves the definition whatever happens to
     * its nodes; a node that cannot be deleted is reported, not kept in the cache. */
    ok = qemuHotplugBlockdevDelChain(mon, disk->src, error);
    /* a transient disk's writes go with it (libvirt deletes the overlay too) */
    qemuBlockRemoveTransientOverlay(disk, def->name);
    qemuHotplugRemoveDiskFromDef(def, disk);
    qvirDomainDiskDefFree(disk);
    return ok;
}

int
qemuHotplugDetachDisk(qemuBlockJobs *events, qemuMonitor *mon, qvirDomainDef *def,
                      qvirDomainDiskDef *disk, unsigned int timeoutMs, GError **error)
{
    g_autoptr(qemuEventWatch) watch = NULL;
    g_autoptr(JsonObject) args = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *alias = NULL;
    GError *err = NULL;

    g_return_val_if_fail(events != NULL && mon != NULL && def != NULL && disk != NULL, -1);

    if (disk->bus != QVIR_DOMAIN_DISK_BUS_VIRTIO && disk->bus != QVIR_DOMAIN_DISK_BUS_SCSI &&
        disk->bus != QVIR_DOMAIN_DISK_BUS_USB) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "This type of disk cannot be hot unplugged");
        return -1;
    }
    if (!disk->info.alias) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "device alias not found for disk '%s'", disk->dst);
        return -1;
    }
    if (!qemuBlockJobsCheckDiskIdle(events, disk->dst, error))
        return -1;

    alias = g_strdup(disk->info.alias);
    watch = qemuBlockJobsWatchEvent(events, "DEVICE_DELETED", "device", alias);
    args = json_object_new();
    json_object_set_string_member(args, "id", alias);
    if (!(ret = qemuMonitorCommand(mon, "device_del", args, QEMU_HOTPLUG_TIMEOUT_MS, error)))
        return -1;

    if (!qemuEventWatchWait(watch, timeoutMs))
        return QEMU_HOTPLUG_DETACH_PENDING;

    if (!qemuHotplugDiskRemoved(mon, def, alias, &err) && err) {
        /* The disk is gone from the guest and the definition; only cleanup failed. */
        g_warning("disk '%s' detached but its nodes could not be deleted: %s", alias, err->message);
        g_error_free(err);
    }
    return QEMU_HOTPLUG_DETACH_DONE;
}

/* ---- media change --------------------------------------------------------------------- */

static gboolean
qemuHotplugTrayCommand(qemuMonitor *mon, const char *command, const char *id, int force,
                       const char *node, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;

    json_object_set_string_member(args, "id", id);
    if (force >= 0)
        json_object_set_boolean_member(args, "force", force != 0);
    if (node)
        json_object_set_string_member(args, "node-name", node);
    ret = qemuMonitorCommand(mon, command, args, QEMU_HOTPLUG_TIMEOUT_MS, error);
    return ret != NULL;
}

/* Fill NEWSRC's chain, name its nodes above DEF's and add them (not yet in the drive). */
static gboolean
qemuHotplugPrepareMedium(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDef *def,
                         qvirDomainDiskDef *disk, qvirStorageSource *newsrc,
                         const qemuHotplugOpts *opts, GError **error)
{
    qvirDomainDiskDef tmp = *disk;
    qvirStorageChainConfig cfg;
    unsigned int next;

    if (opts && opts->chainConfig)
        cfg = *opts->chainConfig;
    else
        qvirStorageChainConfigInit(&cfg);
    cfg.diskName = disk->dst;

    /* Operate on a view of the disk whose top is the new medium: the node builders and
     * the O_DIRECT check read the disk's cache mode and the top's flags. */
    newsrc->readonly = TRUE;
    tmp.src = newsrc;
    if (!qvirStorageSourceChainIsTerminated(newsrc) && newsrc->type != QVIR_STORAGE_TYPE_NETWORK) {
        qvirStorageSourceChainClear(newsrc);
        if (!qvirStorageChainProbe(newsrc, &cfg, error))
            return FALSE;
    }
    if (!qemuProcessCheckDirectIO(&tmp, error))
        goto fail;
    next = qemuDomainNextNodeIndex(def);
    qemuDomainPrepareDiskChainNodeNames(&tmp, &next);
    if (!qvirSecurityDACSetChainLabel(opts ? opts->security : NULL, &tmp, newsrc, error))
        goto fail;
    if (!qemuNamespaceAddChain(opts ? opts->pid : 0, newsrc, error) ||
        !qemuHotplugBlockdevAddLayersFull(mon, caps, &tmp, newsrc, NULL,
                                          opts ? opts->secrets : NULL, error)) {
        qvirSecurityDACRestoreChainLabel(opts ? opts->security : NULL, newsrc);
        goto fail;
    }
    return TRUE;

fail:
    for (qvirStorageSource *s = newsrc; s; s = s->backingStore) {
        s->id = 0;
        g_clear_pointer(&s->nodeStorage, g_free);
        g_clear_pointer(&s->nodeFormat, g_free);
    }
    return FALSE;
}

gboolean
qemuHotplugChangeMedia(qemuMonitor *mon, const qemuCaps *caps, qvirDomainDef *def,
                       qvirDomainDiskDef *disk, qvirStorageSource *newsrc, gboolean force,
                       const qemuHotplugOpts *opts, GError **error)
{
    g_autoptr(qvirStorageSource) backup = NULL;
    gboolean insert = qvirStorageSourceIsBacking(newsrc);
    gboolean hadMedium;
    qvirStorageSource *old;
    const char *id;

    g_return_val_if_fail(mon != NULL && def != NULL && disk != NULL, FALSE);

    if (disk->device != QVIR_DOMAIN_DISK_DEVICE_CDROM) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "Removable media not supported for %s device",
                    qvirDomainDiskDeviceTypeToString(disk->device));
        return FALSE;
    }
    if (!(id = disk->info.alias)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "device alias not found for disk '%s'", disk->dst);
        return FALSE;
    }
    if (insert && !newsrc->path && newsrc->type != QVIR_STORAGE_TYPE_NETWORK) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "new medium for disk '%s' has no source", disk->dst);
        return FALSE;
    }
    hadMedium = qvirStorageSourceIsBacking(disk->src) && disk->src->nodeFormat;
    if (!insert && !hadMedium) {
        qvirStorageSourceFree(newsrc); /* ejecting an empty drive: nothing to do */
        return TRUE;
    }

    if (insert) {
        backup = qvirStorageSourceCopy(newsrc);
        if (!qemuHotplugPrepareMedium(mon, caps, def, disk, newsrc, opts, error))
            goto restore;
    }

    if (!qemuHotplugTrayCommand(mon, "blockdev-open-tray", id, force ? 1 : 0, NULL, error))
        goto del_new;
    if (hadMedium && !qemuHotplugTrayCommand(mon, "blockdev-remove-medium", id, -1, NULL, error))
        goto close_tray;
    if (insert &&
        !qemuHotplugTrayCommand(mon, "blockdev-insert-medium", id, -1, newsrc->nodeFormat, error)) {
        if (hadMedium)
            qemuHotplugTrayCommand(mon, "blockdev-insert-medium", id, -1, disk->src->nodeFormat,
                                   NULL);
        goto close_tray;
    }
    /* A tray the guest keeps open (or a locked one without force) is not an error of the
     * change itself; QEMU reports the tray state in query-block. */
    qemuHotplugTrayCommand(mon, "blockdev-close-tray", id, -1, NULL, NULL);

    old = disk->src;
    if (hadMedium)
        qemuHotplugBlockdevDelChain(mon, old, NULL);
    if (!insert) {
        /* libvirt 9.0 prepares the empty source like any new medium: it takes the next
         * index (so the live XML shows <source index='N'/>, and virsh can eject again). */
        if (!newsrc)
            newsrc = qvirStorageSourceNew();
        qvirStorageSourceChainClear(newsrc);
        newsrc->type = QVIR_STORAGE_TYPE_NONE;
        g_clear_pointer(&newsrc->path, g_free);
        newsrc->id = qemuDomainNextNodeIndex(def);
        newsrc->ejected = TRUE;
    }
    newsrc->readonly = TRUE;
    disk->src = newsrc;
    qvirStorageSourceFree(old);
    return TRUE;

close_tray:
    qemuHotplugTrayCommand(mon, "blockdev-close-tray", id, -1, NULL, NULL);
del_new:
    if (insert) {
        qemuHotplugBlockdevDelChain(mon, newsrc, NULL);
        qvirSecurityDACRestoreChainLabel(opts ? opts->security : NULL, newsrc);
    }
restore:
    if (insert) {
        /* NEWSRC goes back to the caller exactly as it came. */
        qvirStorageSourceMoveInto(newsrc, g_steal_pointer(&backup));
    }
    return FALSE;
}
