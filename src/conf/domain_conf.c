/*
 * domain_conf.c: the domain definition's enums, life cycle, lookups and UUIDs.
 * Parsing lives in domain_parse.c, formatting in domain_format.c.
 */
#include "conf/domain_conf.h"

#include <string.h>

#include "util/virerror.h"

QVIR_ENUM_IMPL(qvirDomainVirtType, QVIR_DOMAIN_VIRT_LAST, "qemu", "kvm");
QVIR_ENUM_IMPL(qvirDomainDiskDevice, QVIR_DOMAIN_DISK_DEVICE_LAST, "disk", "cdrom", "lun",
               "floppy");
QVIR_ENUM_IMPL(qvirDomainDiskBus, QVIR_DOMAIN_DISK_BUS_LAST, "", "ide", "sata", "scsi", "virtio",
               "usb", "fdc");
QVIR_ENUM_IMPL(qvirDomainDiskCache, QVIR_DOMAIN_DISK_CACHE_LAST, "default", "none", "writethrough",
               "writeback", "directsync", "unsafe");
QVIR_ENUM_IMPL(qvirDomainDiskIo, QVIR_DOMAIN_DISK_IO_LAST, "default", "native", "threads",
               "io_uring");
QVIR_ENUM_IMPL(qvirDomainDiskDiscard, QVIR_DOMAIN_DISK_DISCARD_LAST, "default", "unmap", "ignore");
QVIR_ENUM_IMPL(qvirDomainDiskDetectZeroes, QVIR_DOMAIN_DISK_DETECT_ZEROES_LAST, "default", "off",
               "on", "unmap");
QVIR_ENUM_IMPL(qvirDomainDiskErrorPolicy, QVIR_DOMAIN_DISK_ERROR_POLICY_LAST, "default", "stop",
               "report", "ignore", "enospace");
QVIR_ENUM_IMPL(qvirDomainStartupPolicy, QVIR_DOMAIN_STARTUP_POLICY_LAST, "default", "mandatory",
               "requisite", "optional");
QVIR_ENUM_IMPL(qvirDomainDiskGeometryTrans, QVIR_DOMAIN_DISK_TRANS_LAST, "default", "none", "auto",
               "lba");
QVIR_ENUM_IMPL(qvirDomainDiskModel, QVIR_DOMAIN_DISK_MODEL_LAST, "default", "virtio",
               "virtio-transitional", "virtio-non-transitional");
QVIR_ENUM_IMPL(qvirDomainDeviceSGIO, QVIR_DOMAIN_DEVICE_SGIO_LAST, "default", "filtered",
               "unfiltered");
QVIR_ENUM_IMPL(qvirDomainDiskTray, QVIR_DOMAIN_DISK_TRAY_LAST, "closed", "open");
QVIR_ENUM_IMPL(qvirDomainSnapshotLocation, QVIR_DOMAIN_SNAPSHOT_LOCATION_LAST, "default", "no",
               "internal", "external", "manual");
QVIR_ENUM_IMPL(qvirDomainTimerName, QVIR_DOMAIN_TIMER_LAST, "rtc", "pit", "hpet", "kvmclock");
QVIR_ENUM_IMPL(qvirDomainTimerTickpolicy, QVIR_DOMAIN_TIMER_TICKPOLICY_LAST, "", "delay", "catchup",
               "merge", "discard");
QVIR_ENUM_IMPL(qvirDomainTimerTrack, QVIR_DOMAIN_TIMER_TRACK_LAST, "", "boot", "guest", "wall",
               "realtime");
QVIR_ENUM_IMPL(qvirDomainIotuneField, QVIR_DOMAIN_IOTUNE_LAST, "total_bytes_sec", "read_bytes_sec",
               "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec",
               "total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max",
               "total_iops_sec_max", "read_iops_sec_max", "write_iops_sec_max", "size_iops_sec",
               "total_bytes_sec_max_length", "read_bytes_sec_max_length",
               "write_bytes_sec_max_length", "total_iops_sec_max_length",
               "read_iops_sec_max_length", "write_iops_sec_max_length");
QVIR_ENUM_IMPL(qvirDomainDeviceAddressType, QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_LAST, "none", "pci",
               "drive", "usb", "virtio-serial");
QVIR_ENUM_IMPL(qvirDomainControllerType, QVIR_DOMAIN_CONTROLLER_TYPE_LAST, "ide", "sata", "scsi",
               "usb", "pci", "fdc", "virtio-serial");
QVIR_ENUM_IMPL(qvirDomainBootOrder, QVIR_DOMAIN_BOOT_LAST, "fd", "cdrom", "hd", "network");
QVIR_ENUM_IMPL(qvirDomainLifecycleAction, QVIR_DOMAIN_LIFECYCLE_ACTION_LAST, "destroy", "restart",
               "rename-restart", "preserve", "coredump-destroy", "coredump-restart");

/* ---- life cycle -------------------------------------------------------------- */

void
qvirDomainQemuEnvDefFree(qvirDomainQemuEnvDef *env)
{
    if (!env)
        return;
    g_free(env->name);
    g_free(env->value);
    g_free(env);
}

void
qvirDomainCPUFeatureFree(qvirDomainCPUFeature *feature)
{
    if (!feature)
        return;
    g_free(feature->name);
    g_free(feature->policy);
    g_free(feature);
}

static void
qvirDomainDeviceInfoClear(qvirDomainDeviceInfo *info)
{
    g_clear_pointer(&info->alias, g_free);
}

gboolean
qvirDomainDiskHasIotune(const qvirDomainDiskDef *disk)
{
    for (size_t i = 0; i < QVIR_DOMAIN_IOTUNE_LAST; i++) {
        if (disk->iotune[i])
            return TRUE;
    }
    return FALSE;
}

qvirDomainDiskDef *
qvirDomainDiskDefNew(void)
{
    qvirDomainDiskDef *disk = g_new0(qvirDomainDiskDef, 1);

    disk->src = qvirStorageSourceNew();
    return disk;
}

void
qvirDomainDiskDefFree(qvirDomainDiskDef *disk)
{
    if (!disk)
        return;
    qvirStorageSourceFree(disk->src);
    g_free(disk->dst);
    g_free(disk->driverName);
    g_free(disk->serial);
    g_free(disk->wwn);
    g_free(disk->vendor);
    g_free(disk->product);
    g_free(disk->iotuneGroup);
    qvirDomainDeviceInfoClear(&disk->info);
    g_free(disk);
}

void
qvirDomainControllerDefFree(qvirDomainControllerDef *ctrl)
{
    if (!ctrl)
        return;
    g_free(ctrl->model);
    g_free(ctrl->modelName);
    qvirDomainDeviceInfoClear(&ctrl->info);
    g_free(ctrl);
}

static void
qvirDomainInputDefFree(qvirDomainInputDef *input)
{
    if (!input)
        return;
    g_free(input->type);
    g_free(input->bus);
    qvirDomainDeviceInfoClear(&input->info);
    g_free(input);
}

static void
qvirDomainChrDefFree(qvirDomainChrDef *chr)
{
    if (!chr)
        return;
    g_free(chr->type);
    g_free(chr->targetType);
    g_free(chr->targetModel);
    g_free(chr->ptyPath);
    g_free(chr->sourceMode);
    g_free(chr->sourcePath);
    g_free(chr->targetName);
    g_free(chr->targetState);
    g_free(chr->host);
    g_free(chr->service);
    g_free(chr->bindHost);
    g_free(chr->bindService);
    g_free(chr->protocol);
    g_free(chr->logFile);
    qvirDomainDeviceInfoClear(&chr->info);
    g_free(chr);
}

void
qvirDomainChrSourceCopy(qvirDomainChrDef *dst, const qvirDomainChrDef *src)
{
    dst->type = g_strdup(src->type);
    dst->ptyPath = g_strdup(src->ptyPath);
    dst->sourceMode = g_strdup(src->sourceMode);
    dst->sourcePath = g_strdup(src->sourcePath);
    dst->sourceAppend = src->sourceAppend;
    dst->host = g_strdup(src->host);
    dst->service = g_strdup(src->service);
    dst->bindHost = g_strdup(src->bindHost);
    dst->bindService = g_strdup(src->bindService);
    dst->protocol = g_strdup(src->protocol);
    dst->tls = src->tls;
    dst->logFile = g_strdup(src->logFile);
    dst->logAppend = src->logAppend;
}

static void
qvirDomainRNGDefFree(qvirDomainRNGDef *rng)
{
    if (!rng)
        return;
    g_free(rng->backendModel);
    g_free(rng->file);
    qvirDomainDeviceInfoClear(&rng->info);
    g_free(rng);
}

static void
qvirDomainGraphicsDefFree(qvirDomainGraphicsDef *gr)
{
    if (!gr)
        return;
    g_free(gr->type);
    g_free(gr->listen);
    g_free(gr);
}

static void
qvirDomainVideoDefFree(qvirDomainVideoDef *video)
{
    if (!video)
        return;
    g_free(video->model);
    qvirDomainDeviceInfoClear(&video->info);
    g_free(video);
}

static void
qvirDomainMemballoonDefFree(qvirDomainMemballoonDef *balloon)
{
    if (!balloon)
        return;
    g_free(balloon->model);
    qvirDomainDeviceInfoClear(&balloon->info);
    g_free(balloon);
}

static void
qvirDomainNetDefFree(qvirDomainNetDef *net)
{
    if (!net)
        return;
    g_free(net->type);
    g_free(net->mac);
    g_free(net->model);
    g_free(net->driverName);
    g_free(net->txmode);
    g_clear_pointer(&net->ips, g_ptr_array_unref);
    qvirDomainDeviceInfoClear(&net->info);
    g_free(net);
}

qvirDomainDef *
qvirDomainDefNew(void)
{
    qvirDomainDef *def = g_new0(qvirDomainDef, 1);

    def->id = -1;
    def->vcpus = 1;
    def->onPoweroff = QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY;
    def->onReboot = QVIR_DOMAIN_LIFECYCLE_ACTION_RESTART;
    def->onCrash = QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY;
    def->disks = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainDiskDefFree);
    def->controllers = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainControllerDefFree);
    def->inputs = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainInputDefFree);
    def->serials = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainChrDefFree);
    def->consoles = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainChrDefFree);
    def->channels = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainChrDefFree);
    def->rngs = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainRNGDefFree);
    def->graphics = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainGraphicsDefFree);
    def->videos = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainVideoDefFree);
    def->nets = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainNetDefFree);
    return def;
}

void
qvirDomainCPUFeatureUpdate(qvirDomainDef *def, const char *name, const char *policy)
{
    qvirDomainCPUFeature *feature;

    if (!def->cpuFeatures)
        def->cpuFeatures = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainCPUFeatureFree);
    for (guint i = 0; i < def->cpuFeatures->len; i++) {
        feature = g_ptr_array_index(def->cpuFeatures, i);
        if (strcmp(feature->name, name) == 0) {
            g_free(feature->policy);
            feature->policy = g_strdup(policy);
            return;
        }
    }
    feature = g_new0(qvirDomainCPUFeature, 1);
    feature->policy = g_strdup(policy);
    feature->name = g_strdup(name);
    g_ptr_array_add(def->cpuFeatures, feature);
}

void
qvirDomainDefFree(qvirDomainDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->title);
    g_free(def->description);
    g_free(def->os.type);
    g_free(def->os.arch);
    g_free(def->os.machine);
    g_free(def->os.kernel);
    g_free(def->os.initrd);
    g_free(def->os.cmdline);
    g_free(def->cpuMode);
    g_free(def->cpuCheck);
    g_free(def->cpuMigratable);
    g_free(def->cpuMatch);
    g_free(def->resourcePartition);
    g_free(def->metadata);
    g_free(def->cpuModel);
    g_free(def->cpuFallback);
    g_clear_pointer(&def->cpuFeatures, g_ptr_array_unref);
    g_clear_pointer(&def->qemuArgs, g_ptr_array_unref);
    g_clear_pointer(&def->qemuEnv, g_ptr_array_unref);
    g_clear_pointer(&def->qemuCapsAdd, g_ptr_array_unref);
    g_clear_pointer(&def->qemuCapsDel, g_ptr_array_unref);
    g_free(def->clockOffset);
    qvirBitmapFree(def->cpumask);
    g_free(def->emulator);
    g_clear_pointer(&def->disks, g_ptr_array_unref);
    g_clear_pointer(&def->controllers, g_ptr_array_unref);
    g_clear_pointer(&def->inputs, g_ptr_array_unref);
    g_clear_pointer(&def->serials, g_ptr_array_unref);
    g_clear_pointer(&def->consoles, g_ptr_array_unref);
    g_clear_pointer(&def->channels, g_ptr_array_unref);
    g_clear_pointer(&def->rngs, g_ptr_array_unref);
    g_clear_pointer(&def->graphics, g_ptr_array_unref);
    g_clear_pointer(&def->videos, g_ptr_array_unref);
    g_clear_pointer(&def->nets, g_ptr_array_unref);
    qvirDomainMemballoonDefFree(def->memballoon);
    g_free(def);
}

/* ---- lookups ------------------------------------------------------------------ */

qvirDomainDiskDef *
qvirDomainDiskByTarget(const qvirDomainDef *def, const char *dst)
{
    g_return_val_if_fail(def != NULL, NULL);
    if (!dst)
        return NULL;
    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->dst && strcmp(disk->dst, dst) == 0)
            return disk;
    }
    return NULL;
}

qvirDomainDiskDef *
qvirDomainDiskByName(const qvirDomainDef *def, const char *name)
{
    qvirDomainDiskDef *disk;

    g_return_val_if_fail(def != NULL, NULL);
    if (!name)
        return NULL;
    if ((disk = qvirDomainDiskByTarget(def, name)))
        return disk;
    for (guint i = 0; i < def->disks->len; i++) {
        disk = g_ptr_array_index(def->disks, i);
        if (disk->src->path && strcmp(disk->src->path, name) == 0)
            return disk;
    }
    return NULL;
}

int
qvirDiskNameToIndex(const char *name)
{
    static const char *const prefixes[] = {"fd", "hd", "vd", "sd", "xvd", "ubd"};
    const char *p = NULL;
    int idx = 0;
    int letters = 0;

    if (!name)
        return -1;
    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        if (g_str_has_prefix(name, prefixes[i])) {
            p = name + strlen(prefixes[i]);
            break;
        }
    }
    if (!p)
        return -1;
    /* Base 26 with no zero digit: a..z, aa..zz, ...; 6 letters stay far below INT_MAX. */
    for (; *p >= 'a' && *p <= 'z'; p++) {
        if (++letters > 6)
            return -1;
        idx = (letters == 1 ? 0 : (idx + 1) * 26) + (*p - 'a');
    }
    if (letters == 0)
        return -1;
    for (; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return -1;
    }
    return idx;
}

void
qvirDomainDiskInsert(qvirDomainDef *def, qvirDomainDiskDef *disk)
{
    int insertAt = -1;

    g_return_if_fail(def != NULL && disk != NULL);

    /* Walk back over the disks of the same bus: go before the first one with a larger
     * index, or else right after the last one. */
    for (int i = (int)def->disks->len - 1; i >= 0; i--) {
        const qvirDomainDiskDef *cur = g_ptr_array_index(def->disks, i);

        if (cur->bus != disk->bus)
            continue;
        if (cur->dst && disk->dst && qvirDiskNameToIndex(cur->dst) > qvirDiskNameToIndex(disk->dst))
            insertAt = i;
        else if (insertAt == -1)
            insertAt = i + 1;
    }
    if (insertAt < 0)
        g_ptr_array_add(def->disks, disk);
    else
        g_ptr_array_insert(def->disks, insertAt, disk);
}

gboolean
qvirDomainDefNeedsRawio(const qvirDomainDef *def)
{
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->rawio == QVIR_TRISTATE_BOOL_YES)
            return TRUE;
    }
    return FALSE;
}

gboolean
qvirDomainControllerIsVirtioSCSI(const qvirDomainControllerDef *ctrl)
{
    return ctrl->type == QVIR_DOMAIN_CONTROLLER_TYPE_SCSI && ctrl->model &&
           (strcmp(ctrl->model, "virtio-scsi") == 0 ||
            strcmp(ctrl->model, "virtio-transitional") == 0 ||
            strcmp(ctrl->model, "virtio-non-transitional") == 0);
}

/* Both virtio controllers (scsi, virtio-serial) spell the flavours the same way. */
gboolean
qvirDomainControllerIsTransitional(const qvirDomainControllerDef *ctrl)
{
    return (ctrl->type == QVIR_DOMAIN_CONTROLLER_TYPE_SCSI ||
            ctrl->type == QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL) &&
           g_strcmp0(ctrl->model, "virtio-transitional") == 0;
}

gboolean
qvirDomainControllerIsNonTransitional(const qvirDomainControllerDef *ctrl)
{
    return (ctrl->type == QVIR_DOMAIN_CONTROLLER_TYPE_SCSI ||
            ctrl->type == QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL) &&
           g_strcmp0(ctrl->model, "virtio-non-transitional") == 0;
}

gboolean
qvirDomainVirtioOptionsIsSet(const qvirDomainVirtioOptions *opts)
{
    return opts->iommu || opts->ats || opts->packed || opts->pagePerVq;
}

gboolean
qvirDomainControllerIsUSB2(const qvirDomainControllerDef *ctrl)
{
    static const char *const parts[] = {"ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3"};

    if (ctrl->type != QVIR_DOMAIN_CONTROLLER_TYPE_USB || !ctrl->model)
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
        if (strcmp(ctrl->model, parts[i]) == 0)
            return TRUE;
    }
    return FALSE;
}

void
qvirDomainControllerInsert(qvirDomainDef *def, qvirDomainControllerDef *ctrl)
{
    int insertAt = -1;

    g_return_if_fail(def != NULL && ctrl != NULL);

    for (int i = (int)def->controllers->len - 1; i >= 0; i--) {
        const qvirDomainControllerDef *cur = g_ptr_array_index(def->controllers, i);

        if (cur->type != ctrl->type)
            continue;
        if (ctrl->idx == -1) {
            insertAt = i + 1;
            break;
        }
        if (cur->idx > ctrl->idx)
            insertAt = i;
        /* a USB master goes before the companions already there with its index */
        else if (!ctrl->info.usbMaster && cur->info.usbMaster && cur->idx == ctrl->idx)
            insertAt = i;
        else if (insertAt == -1)
            insertAt = i + 1;
    }
    if (insertAt < 0)
        g_ptr_array_add(def->controllers, ctrl);
    else
        g_ptr_array_insert(def->controllers, insertAt, ctrl);
}

/* ---- UUIDs ---------------------------------------------------------------------- */

void
qvirUUIDFormat(const unsigned char *uuid, char *out)
{
    g_snprintf(out, QVIR_UUID_STRING_BUFLEN,
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", uuid[0],
               uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7], uuid[8], uuid[9],
               uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

/* As libvirt: 32 hex digits, '-' allowed between byte pairs, surrounding blanks ignored. */
gboolean
qvirUUIDParse(const char *str, unsigned char *uuid)
{
    unsigned char tmp[QVIR_UUID_BUFLEN];
    const char *p = str;
    unsigned int n = 0;

    if (!str)
        return FALSE;
    while (g_ascii_isspace(*p))
        p++;
    while (n < QVIR_UUID_BUFLEN) {
        if (*p == '-') {
            p++;
            continue;
        }
        if (!g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]))
            return FALSE;
        tmp[n++] = (g_ascii_xdigit_value(p[0]) << 4) | g_ascii_xdigit_value(p[1]);
        p += 2;
    }
    while (g_ascii_isspace(*p))
        p++;
    if (*p)
        return FALSE;
    memcpy(uuid, tmp, QVIR_UUID_BUFLEN);
    return TRUE;
}

/* A random (version 4) UUID. */
void
qvirUUIDGenerate(unsigned char *uuid)
{
    for (unsigned int i = 0; i < QVIR_UUID_BUFLEN; i += 4) {
        guint32 r = g_random_int();
        memcpy(uuid + i, &r, 4);
    }
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
}

gboolean
qvirDomainDefHasDeviceBootOrder(const qvirDomainDef *def)
{
    for (guint i = 0; i < def->disks->len; i++) {
        if (((qvirDomainDiskDef *)g_ptr_array_index(def->disks, i))->info.bootIndex)
            return TRUE;
    }
    for (guint i = 0; def->nets && i < def->nets->len; i++) {
        if (((qvirDomainNetDef *)g_ptr_array_index(def->nets, i))->info.bootIndex)
            return TRUE;
    }
    return FALSE;
}
