/*
 * qemu_domain.c: what a start assigns on a definition before its argv is built, in
 * libvirt 9.0's way: implicit controllers and the default balloon, drive addresses,
 * aliases, USB ports, PCI addresses (with pcie-root-ports auto-added on q35, plus one
 * spare for hot-plug), cache defaults, and node names / chain indexes.
 */
#include "qemu/qemu_domain.h"

#include <fcntl.h>
#include <linux/cdrom.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "qemu/qemu_command.h"
#include "qemu/qemu_postparse.h"
#include "util/virerror.h"

/* ---- small lookups ---------------------------------------------------------- */

gboolean
qemuDomainGetMachineKind(const qvirDomainDef *def, qemuDomainMachineKind *kind, GError **error)
{
    const char *m = def->os.machine;

    if (!m || strcmp(m, "pc") == 0 || g_str_has_prefix(m, "pc-i440fx-") ||
        g_str_has_prefix(m, "pc-0.") || g_str_has_prefix(m, "pc-1.")) {
        *kind = QEMU_DOMAIN_MACHINE_PC;
        return TRUE;
    }
    if (strcmp(m, "q35") == 0 || g_str_has_prefix(m, "pc-q35-")) {
        *kind = QEMU_DOMAIN_MACHINE_Q35;
        return TRUE;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                "machine type '%s' is not supported: expected pc, q35, pc-i440fx-* or "
                "pc-q35-*",
                m);
    return FALSE;
}

qvirDomainControllerDef *
qemuDomainFindController(const qvirDomainDef *def, qvirDomainControllerType type, int idx)
{
    for (guint i = 0; def->controllers && i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type == type && c->idx == idx)
            return c;
    }
    return NULL;
}

gboolean
qemuDomainSCSIModelIsLSI(const char *model)
{
    return !model || strcmp(model, "lsilogic") == 0;
}

gboolean
qemuDomainDiskCacheModeFlags(qvirDomainDiskCache mode, gboolean *writeback, gboolean *direct,
                             gboolean *noflush)
{
    gboolean wb = FALSE, d = FALSE, nf = FALSE;

    switch (mode) {
    case QVIR_DOMAIN_DISK_CACHE_DISABLE:
        wb = TRUE;
        d = TRUE;
        break;
    case QVIR_DOMAIN_DISK_CACHE_WRITETHRU:
        break;
    case QVIR_DOMAIN_DISK_CACHE_WRITEBACK:
        wb = TRUE;
        break;
    case QVIR_DOMAIN_DISK_CACHE_DIRECTSYNC:
        d = TRUE;
        break;
    case QVIR_DOMAIN_DISK_CACHE_UNSAFE:
        wb = TRUE;
        nf = TRUE;
        break;
    case QVIR_DOMAIN_DISK_CACHE_DEFAULT:
    case QVIR_DOMAIN_DISK_CACHE_LAST:
    default:
        return FALSE;
    }
    if (writeback)
        *writeback = wb;
    if (direct)
        *direct = d;
    if (noflush)
        *noflush = nf;
    return TRUE;
}

static gboolean
qemuDomainIsCDROMDefault(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    gboolean ret;

    if (fd < 0)
        return FALSE;
    ret = ioctl(fd, CDROM_GET_CAPABILITY, 0) >= 0;
    close(fd);
    return ret;
}

static qemuDomainIsCDROMFunc qemuDomainIsCDROM = qemuDomainIsCDROMDefault;

void
qemuDomainSetIsCDROMFunc(qemuDomainIsCDROMFunc func)
{
    qemuDomainIsCDROM = func ? func : qemuDomainIsCDROMDefault;
}

gboolean
qemuDomainDiskIsHostCDROM(const qvirDomainDiskDef *disk)
{
    return disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM && disk->src &&
           disk->src->type == QVIR_STORAGE_TYPE_BLOCK &&
           disk->src->format == QVIR_STORAGE_FILE_RAW && disk->src->path &&
           qemuDomainIsCDROM(disk->src->path);
}

/* virDiskNameToIndex: "sda" -> 0, "hdc" -> 2, "vdaa" -> 26; -1 when not a disk name. */
static int
qemuDomainDiskNameToIndex(const char *name)
{
    static const char *const prefixes[] = {"fd", "hd", "vd", "sd", "xvd", "ubd"};
    const char *p = NULL;
    int idx = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        if (g_str_has_prefix(name, prefixes[i])) {
            p = name + strlen(prefixes[i]);
            break;
        }
    }
    if (!p || !*p)
        return -1;
    for (; *p; p++) {
        if (*p < 'a' || *p > 'z')
            return -1;
        if (idx > (G_MAXINT / 26) - 26)
            return -1;
        idx = idx * 26 + (*p - 'a' + 1);
    }
    return idx - 1;
}

/* ---- implicit devices ---------------------------------------------------------- */

qvirDomainControllerDef *
qemuDomainAddController(qvirDomainDef *def, qvirDomainControllerType type, int idx,
                        const char *model)
{
    qvirDomainControllerDef *c = g_new0(qvirDomainControllerDef, 1);
    c->type = type;
    c->idx = idx;
    c->model = g_strdup(model);
    c->chassis = -1;
    c->port = -1;
    c->ports = -1;
    c->vectors = -1;
    /* virDomainDefAddController appends: implicit controllers follow the XML's */
    g_ptr_array_add(def->controllers, c);
    return c;
}

const char *
qemuDomainDefaultUSBModel(qemuDomainMachineKind kind, const qemuCaps *caps)
{
    if (kind == QEMU_DOMAIN_MACHINE_Q35 && qemuCapsGet(caps, QEMU_CAPS_DEVICE_QEMU_XHCI))
        return "qemu-xhci";
    return "piix3-uhci";
}

const char *
qemuDomainDefaultSCSIModel(const qemuCaps *caps)
{
    return qemuCapsGet(caps, QEMU_CAPS_DEVICE_LSI) ? "lsilogic" : "virtio-scsi";
}

static gboolean
qemuDomainNeedsVirtioSerial(const qvirDomainDef *def)
{
    if (def->channels && def->channels->len > 0)
        return TRUE;
    for (guint i = 0; def->consoles && i < def->consoles->len; i++) {
        qvirDomainChrDef *con = g_ptr_array_index(def->consoles, i);

        if (g_strcmp0(con->targetType, "virtio") == 0)
            return TRUE;
    }
    return FALSE;
}

gboolean
qemuDomainAddImplicitControllers(qvirDomainDef *def, GError **error)
{
    /* virDomainDefAddImplicitControllers' order */
    static const struct {
        qvirDomainDiskBus bus;
        qvirDomainControllerType type;
    } diskControllers[] = {
        {QVIR_DOMAIN_DISK_BUS_SCSI, QVIR_DOMAIN_CONTROLLER_TYPE_SCSI},
        {QVIR_DOMAIN_DISK_BUS_FDC, QVIR_DOMAIN_CONTROLLER_TYPE_FDC},
        {QVIR_DOMAIN_DISK_BUS_IDE, QVIR_DOMAIN_CONTROLLER_TYPE_IDE},
        {QVIR_DOMAIN_DISK_BUS_SATA, QVIR_DOMAIN_CONTROLLER_TYPE_SATA},
    };

    for (size_t t = 0; t < G_N_ELEMENTS(diskControllers); t++) {
        int maxIdx = -1;

        for (guint i = 0; i < def->disks->len; i++) {
            qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

            if (disk->bus != diskControllers[t].bus ||
                disk->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE)
                continue;
            if (disk->info.addr.drive.controller > QEMU_DOMAIN_MAX_DISK_CONTROLLER) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "disk '%s': controller index %u is out of range (at most %u)",
                            disk->dst, disk->info.addr.drive.controller,
                            QEMU_DOMAIN_MAX_DISK_CONTROLLER);
                return FALSE;
            }
            if ((int)disk->info.addr.drive.controller > maxIdx)
                maxIdx = disk->info.addr.drive.controller;
        }
        for (int idx = 0; idx <= maxIdx; idx++) {
            if (!qemuDomainFindController(def, diskControllers[t].type, idx))
                qemuDomainAddController(def, diskControllers[t].type, idx, NULL);
        }
    }

    /* virtio channels and consoles need a virtio-serial controller (libvirt adds index 0) */
    if (qemuDomainNeedsVirtioSerial(def) &&
        !qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL, 0))
        qemuDomainAddController(def, QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL, 0, NULL);
    return TRUE;
}

/* ---- drive addresses and aliases ------------------------------------------------ */

gboolean
qemuDomainAssignDiskDriveAddress(qvirDomainDiskDef *disk, GError **error)
{
    int idx;

    if (!disk->dst) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_TARGET, "missing disk target");
        return FALSE;
    }
    if (disk->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE)
        return TRUE;
    if (disk->bus != QVIR_DOMAIN_DISK_BUS_IDE && disk->bus != QVIR_DOMAIN_DISK_BUS_SATA &&
        disk->bus != QVIR_DOMAIN_DISK_BUS_SCSI && disk->bus != QVIR_DOMAIN_DISK_BUS_FDC)
        return TRUE;

    if ((idx = qemuDomainDiskNameToIndex(disk->dst)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Unknown disk name '%s' and no address specified", disk->dst);
        return FALSE;
    }
    disk->info.type = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE;
    memset(&disk->info.addr.drive, 0, sizeof(disk->info.addr.drive));
    switch (disk->bus) {
    case QVIR_DOMAIN_DISK_BUS_IDE:
        /* 2 units per bus, 2 buses per controller */
        disk->info.addr.drive.controller = idx / 4;
        disk->info.addr.drive.bus = (idx % 4) / 2;
        disk->info.addr.drive.unit = idx % 2;
        break;
    case QVIR_DOMAIN_DISK_BUS_SATA:
        disk->info.addr.drive.controller = idx / 6;
        disk->info.addr.drive.unit = idx % 6;
        break;
    case QVIR_DOMAIN_DISK_BUS_FDC:
        /* 2 drives per floppy controller */
        disk->info.addr.drive.controller = idx / 2;
        disk->info.addr.drive.unit = idx % 2;
        break;
    default:
        /* SCSI: libvirt's narrow bus, 7 units per controller */
        disk->info.addr.drive.controller = idx / 7;
        disk->info.addr.drive.unit = idx % 7;
        break;
    }
    return TRUE;
}

gboolean
qemuDomainAssignDriveAddresses(qvirDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->disks->len; i++) {
        if (!qemuDomainAssignDiskDriveAddress(g_ptr_array_index(def->disks, i), error))
            return FALSE;
    }
    return TRUE;
}

static void
qemuDomainSetAlias(qvirDomainDeviceInfo *info, char *alias)
{
    if (info->alias) {
        g_free(alias);
        return;
    }
    info->alias = alias;
}

static gboolean
qemuDomainAssignDiskAlias(const qvirDomainDef *def, qvirDomainDiskDef *disk, GError **error)
{
    const qvirDomainDeviceDriveAddress *a = &disk->info.addr.drive;
    qvirDomainControllerDef *cont;
    int idx;

    if (disk->info.alias)
        return TRUE;

    switch (disk->bus) {
    case QVIR_DOMAIN_DISK_BUS_IDE:
        qemuDomainSetAlias(&disk->info,
                           g_strdup_printf("ide%u-%u-%u", a->controller, a->bus, a->unit));
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_SATA:
        qemuDomainSetAlias(&disk->info,
                           g_strdup_printf("sata%u-%u-%u", a->controller, a->bus, a->unit));
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_FDC:
        qemuDomainSetAlias(&disk->info,
                           g_strdup_printf("fdc%u-%u-%u", a->controller, a->bus, a->unit));
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_SCSI:
        cont = qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_SCSI, a->controller);
        if (cont && qemuDomainSCSIModelIsLSI(cont->model))
            qemuDomainSetAlias(&disk->info,
                               g_strdup_printf("scsi%u-%u-%u", a->controller, a->bus, a->unit));
        else
            qemuDomainSetAlias(&disk->info, g_strdup_printf("scsi%u-%u-%u-%u", a->controller,
                                                            a->bus, a->target, a->unit));
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_VIRTIO:
    case QVIR_DOMAIN_DISK_BUS_USB:
        if ((idx = qemuDomainDiskNameToIndex(disk->dst)) < 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "Unable to determine disk index of '%s'", disk->dst);
            return FALSE;
        }
        qemuDomainSetAlias(
            &disk->info,
            g_strdup_printf("%s%d",
                            disk->bus == QVIR_DOMAIN_DISK_BUS_VIRTIO ? "virtio-disk" : "usb-disk",
                            idx));
        return TRUE;
    case QVIR_DOMAIN_DISK_BUS_NONE:
    case QVIR_DOMAIN_DISK_BUS_LAST:
    default:
        break;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                "unsupported disk bus for disk '%s'", disk->dst);
    return FALSE;
}

static char *
qemuDomainControllerAlias(const qvirDomainControllerDef *c, qemuDomainMachineKind kind)
{
    switch (c->type) {
    case QVIR_DOMAIN_CONTROLLER_TYPE_IDE:
        return c->idx == 0 ? g_strdup("ide") : g_strdup_printf("ide%d", c->idx);
    case QVIR_DOMAIN_CONTROLLER_TYPE_SATA:
        /* q35's built-in AHCI is QEMU's "ide" bus */
        if (c->idx == 0 && kind == QEMU_DOMAIN_MACHINE_Q35)
            return g_strdup("ide");
        return g_strdup_printf("sata%d", c->idx);
    case QVIR_DOMAIN_CONTROLLER_TYPE_SCSI:
        return g_strdup_printf("scsi%d", c->idx);
    case QVIR_DOMAIN_CONTROLLER_TYPE_FDC:
        return g_strdup_printf("fdc%d", c->idx);
    case QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL:
        return g_strdup_printf("virtio-serial%d", c->idx);
    case QVIR_DOMAIN_CONTROLLER_TYPE_USB:
        return c->idx == 0 ? g_strdup("usb") : g_strdup_printf("usb%d", c->idx);
    case QVIR_DOMAIN_CONTROLLER_TYPE_PCI:
        if (c->idx == 0)
            return g_strdup(kind == QEMU_DOMAIN_MACHINE_Q35 ? "pcie.0" : "pci.0");
        return g_strdup_printf("pci.%d", c->idx);
    case QVIR_DOMAIN_CONTROLLER_TYPE_LAST:
    default:
        return g_strdup_printf("controller%d", c->idx);
    }
}

/*
 * Virtio channels on virtio-serial ports: controller 0, bus 0, from port 1 up (port 0 is
 * the console's), skipping ports already taken, as libvirt hands them out.
 */
static gboolean
qemuDomainAssignVirtioSerialAddresses(qvirDomainDef *def, GError **error)
{
    for (guint i = 0; def->channels && i < def->channels->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->channels, i);
        unsigned int port = 1;
        gboolean taken = TRUE;

        if (chr->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_VIRTIO_SERIAL) {
            if (!qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL,
                                          chr->info.addr.vioser.controller)) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "virtio-serial controller %u for channel '%s' does not exist",
                            chr->info.addr.vioser.controller,
                            chr->targetName ? chr->targetName : "");
                return FALSE;
            }
            if (chr->info.addr.vioser.port != 0)
                continue;
        }
        while (taken) {
            taken = FALSE;
            for (guint j = 0; j < def->channels->len; j++) {
                qvirDomainChrDef *other = g_ptr_array_index(def->channels, j);

                if (other != chr &&
                    other->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_VIRTIO_SERIAL &&
                    other->info.addr.vioser.controller == 0 && other->info.addr.vioser.bus == 0 &&
                    other->info.addr.vioser.port == port) {
                    taken = TRUE;
                    port++;
                    break;
                }
            }
        }
        chr->info.type = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_VIRTIO_SERIAL;
        chr->info.addr.vioser.controller = 0;
        chr->info.addr.vioser.bus = 0;
        chr->info.addr.vioser.port = port;
    }
    return TRUE;
}

static gboolean
qemuDomainAssignAliases(qvirDomainDef *def, qemuDomainMachineKind kind, GError **error)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        qemuDomainSetAlias(&c->info, qemuDomainControllerAlias(c, kind));
    }
    for (guint i = 0; i < def->disks->len; i++) {
        if (!qemuDomainAssignDiskAlias(def, g_ptr_array_index(def->disks, i), error))
            return FALSE;
    }
    for (guint i = 0; def->nets && i < def->nets->len; i++) {
        qvirDomainNetDef *n = g_ptr_array_index(def->nets, i);

        qemuDomainSetAlias(&n->info, g_strdup_printf("net%u", i));
    }
    for (guint i = 0; def->inputs && i < def->inputs->len; i++) {
        qvirDomainInputDef *in = g_ptr_array_index(def->inputs, i);

        qemuDomainSetAlias(&in->info, g_strdup_printf("input%u", i));
    }
    for (guint i = 0; def->serials && i < def->serials->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->serials, i);

        qemuDomainSetAlias(&chr->info, g_strdup_printf("serial%u", i));
    }
    for (guint i = 0; def->consoles && i < def->consoles->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->consoles, i);

        /* A serial console is the first serial port itself. */
        if (i == 0 && chr->targetType && strcmp(chr->targetType, "serial") == 0 && def->serials &&
            def->serials->len > 0) {
            qvirDomainChrDef *ser = g_ptr_array_index(def->serials, 0);

            qemuDomainSetAlias(&chr->info, g_strdup(ser->info.alias));
            continue;
        }
        qemuDomainSetAlias(&chr->info, g_strdup_printf("console%u", i));
    }
    for (guint i = 0; def->channels && i < def->channels->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->channels, i);

        qemuDomainSetAlias(&chr->info, g_strdup_printf("channel%u", i));
    }
    for (guint i = 0; def->videos && i < def->videos->len; i++) {
        qvirDomainVideoDef *v = g_ptr_array_index(def->videos, i);

        qemuDomainSetAlias(&v->info, g_strdup_printf("video%u", i));
    }
    for (guint i = 0; def->rngs && i < def->rngs->len; i++) {
        qvirDomainRNGDef *rng = g_ptr_array_index(def->rngs, i);

        qemuDomainSetAlias(&rng->info, g_strdup_printf("rng%u", i));
    }
    if (def->memballoon && g_strcmp0(def->memballoon->model, "none") != 0)
        qemuDomainSetAlias(&def->memballoon->info, g_strdup("balloon0"));
    return TRUE;
}

/* ---- USB ports ---------------------------------------------------------------------- */

unsigned int
qemuDomainUSBPortCount(const char *model)
{
    if (g_strcmp0(model, "qemu-xhci") == 0 || g_strcmp0(model, "nec-xhci") == 0)
        return 4;
    if (g_strcmp0(model, "pci-ohci") == 0)
        return 3;
    if (g_strcmp0(model, "ich9-ehci1") == 0 || g_strcmp0(model, "ehci") == 0)
        return 6;
    return 2; /* piix3-uhci and the other UHCI models */
}

/* Ports of the root hub of USB bus IDX: its master controller's (companions bring no bus of
 * their own, they serve ports of their master's); 0 = no such bus. */
static guint
qemuDomainUSBBusPorts(const qvirDomainDef *def, unsigned int idx)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type != QVIR_DOMAIN_CONTROLLER_TYPE_USB || c->idx != (int)idx || c->info.usbMaster)
            continue;
        if (g_strcmp0(c->model, "none") == 0)
            return 0;
        return c->ports > 0 ? (guint)c->ports : qemuDomainUSBPortCount(c->model);
    }
    return 0;
}

/* The USB devices qvirt knows, in libvirt's order (disks, then inputs). */
static GPtrArray *
qemuDomainUSBDeviceInfos(qvirDomainDef *def)
{
    GPtrArray *infos = g_ptr_array_new();

    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        if (d->bus == QVIR_DOMAIN_DISK_BUS_USB)
            g_ptr_array_add(infos, &d->info);
    }
    for (guint i = 0; def->inputs && i < def->inputs->len; i++) {
        qvirDomainInputDef *in = g_ptr_array_index(def->inputs, i);

        if (g_strcmp0(in->bus, "usb") == 0)
            g_ptr_array_add(infos, &in->info);
    }
    return infos;
}

static gboolean
qemuDomainUSBInfoHasPort(const qvirDomainDeviceInfo *info)
{
    return info->type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB && info->addr.usb.port[0];
}

/* Whether one of INFOS holds port PORT of bus BUS. */
static gboolean
qemuDomainUSBPortTaken(GPtrArray *infos, unsigned int bus, const char *port)
{
    for (guint i = 0; i < infos->len; i++) {
        const qvirDomainDeviceInfo *info = g_ptr_array_index(infos, i);

        if (qemuDomainUSBInfoHasPort(info) && info->addr.usb.bus == bus &&
            strcmp(info->addr.usb.port, port) == 0)
            return TRUE;
    }
    return FALSE;
}

/* The first free root-hub port: of bus BUSREQ when >= 0, else of the lowest bus with one. */
static gboolean
qemuDomainAssignUSBPort(GPtrArray *infos, qvirDomainDeviceInfo *info, guint nbuses,
                        const guint *ports, int busReq, GError **error)
{
    for (guint bus = busReq >= 0 ? (guint)busReq : 0; bus < nbuses; bus++) {
        for (guint port = 1; port <= ports[bus]; port++) {
            char buf[16];

            g_snprintf(buf, sizeof(buf), "%u", port);
            if (qemuDomainUSBPortTaken(infos, bus, buf))
                continue;
            info->type = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB;
            info->addr.usb.bus = bus;
            g_strlcpy(info->addr.usb.port, buf, sizeof(info->addr.usb.port));
            return TRUE;
        }
        if (busReq >= 0)
            break;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "No free USB ports");
    return FALSE;
}

/* libvirt's check when it lays out USB buses: one master controller per index. */
static gboolean
qemuDomainUSBCheckMasters(const qvirDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *a = g_ptr_array_index(def->controllers, i);

        if (a->type != QVIR_DOMAIN_CONTROLLER_TYPE_USB || a->info.usbMaster ||
            g_strcmp0(a->model, "none") == 0)
            continue;
        for (guint j = i + 1; j < def->controllers->len; j++) {
            qvirDomainControllerDef *b = g_ptr_array_index(def->controllers, j);

            if (b->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB && !b->info.usbMaster &&
                b->idx == a->idx && g_strcmp0(b->model, "none") != 0) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "Duplicate USB controllers with index %d", a->idx);
                return FALSE;
            }
        }
    }
    return TRUE;
}

/*
 * Ports of the root hubs in libvirt's order (disks, then inputs; each on the lowest bus
 * with a free port), after checking that they suffice (qvirt adds no USB hubs).
 */
static gboolean
qemuDomainAssignUSBAddresses(qvirDomainDef *def, GError **error)
{
    g_autoptr(GPtrArray) infos = NULL;
    g_autofree guint *ports = NULL;
    qvirDomainControllerDef *usb0;
    guint nbuses = 0, total = 0;

    if (!qemuDomainUSBCheckMasters(def, error))
        return FALSE;
    infos = qemuDomainUSBDeviceInfos(def);
    if (infos->len == 0)
        return TRUE;
    /* libvirt's parser refuses USB devices with USB disabled (qvirDomainDefValidate) */
    usb0 = qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_USB, 0);
    if (usb0 && g_strcmp0(usb0->model, "none") == 0)
        return TRUE;
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB && c->idx >= (int)nbuses)
            nbuses = c->idx + 1;
    }
    ports = g_new0(guint, nbuses + 1);
    for (guint bus = 0; bus < nbuses; bus++)
        total += ports[bus] = qemuDomainUSBBusPorts(def, bus);
    if (total == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "USB is disabled for this domain, but USB devices are present in the "
                    "domain XML");
        return FALSE;
    }
    if (infos->len > total) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "%u USB devices do not fit the %u ports of the USB controllers (USB hubs "
                    "are not supported)",
                    infos->len, total);
        return FALSE;
    }
    for (guint i = 0; i < infos->len; i++) {
        qvirDomainDeviceInfo *info = g_ptr_array_index(infos, i);

        if (info->type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB &&
            (info->addr.usb.bus >= nbuses || ports[info->addr.usb.bus] == 0)) {
            /* libvirt words it by whether the address names a port */
            if (qemuDomainUSBInfoHasPort(info))
                g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "Missing USB bus %u",
                            info->addr.usb.bus);
            else
                g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "USB bus %u requested but no controller with that index is present",
                            info->addr.usb.bus);
            return FALSE;
        }
    }
    for (guint i = 0; i < infos->len; i++) {
        qvirDomainDeviceInfo *info = g_ptr_array_index(infos, i);

        if (qemuDomainUSBInfoHasPort(info))
            continue;
        if (!qemuDomainAssignUSBPort(
                infos, info, nbuses, ports,
                info->type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB ? (int)info->addr.usb.bus : -1,
                error))
            return FALSE;
    }
    return TRUE;
}

/* ---- PCI addresses ------------------------------------------------------------------ */

#define QEMU_PCI_SLOTS 32

typedef struct {
    gboolean rootPort;                  /* pcie-root-port: only slot 0 takes a device */
    gboolean bridge;                    /* pcie-to-pci-bridge: slots 1-31, conventional PCI */
    guint8 funcs[QEMU_PCI_SLOTS];       /* bitmask of used functions per slot */
    gboolean aggregate[QEMU_PCI_SLOTS]; /* slot shared by root ports, one per function */
} qemuPCIBus;

typedef struct {
    qemuDomainMachineKind kind;
    GArray *buses; /* qemuPCIBus, index = PCI controller index */
    int xmlMaxIdx;
    gboolean addedPorts;
    GPtrArray *assigned; /* qvirDomainDeviceInfo* given an address by this pass */
} qemuPCIAddrSet;

static qemuPCIBus *
qemuPCIBusGet(qemuPCIAddrSet *set, guint idx)
{
    return idx < set->buses->len ? &g_array_index(set->buses, qemuPCIBus, idx) : NULL;
}

static gboolean
qemuPCIReserve(qemuPCIAddrSet *set, const qvirPCIDeviceAddress *a, const char *who, GError **error)
{
    qemuPCIBus *bus = qemuPCIBusGet(set, a->bus);

    if (a->domain != 0 || !bus || a->slot >= QEMU_PCI_SLOTS || a->function > 7 ||
        (bus->rootPort && a->slot != 0)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "PCI address %04x:%02x:%02x.%x of %s is not valid for this domain", a->domain,
                    a->bus, a->slot, a->function, who);
        return FALSE;
    }
    if (bus->funcs[a->slot] & (1u << a->function)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "Attempted double use of PCI Address %04x:%02x:%02x.%x", a->domain, a->bus,
                    a->slot, a->function);
        return FALSE;
    }
    bus->funcs[a->slot] |= 1u << a->function;
    return TRUE;
}

static void
qemuPCISetInfo(qvirDomainDeviceInfo *info, guint bus, guint slot, guint function)
{
    info->type = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI;
    memset(&info->addr.pci, 0, sizeof(info->addr.pci));
    info->addr.pci.bus = bus;
    info->addr.pci.slot = slot;
    info->addr.pci.function = function;
}

/* An address this pass hands out (a dry run takes them back). */
static void
qemuPCIGiveInfo(qemuPCIAddrSet *set, qvirDomainDeviceInfo *info, guint bus, guint slot,
                guint function)
{
    qemuPCISetInfo(info, bus, slot, function);
    g_ptr_array_add(set->assigned, info);
}

static guint
qemuPCIAddRootPortBus(qemuPCIAddrSet *set)
{
    qemuPCIBus bus = {0};

    bus.rootPort = TRUE;
    g_array_append_val(set->buses, bus);
    set->addedPorts = TRUE;
    return set->buses->len - 1;
}

/* A conventional slot on bus 0 (i440fx). */
static gboolean
qemuPCIAssignOnRoot(qemuPCIAddrSet *set, qvirDomainDeviceInfo *info, const char *who,
                    GError **error)
{
    qemuPCIBus *bus = qemuPCIBusGet(set, 0);

    for (guint slot = 1; slot < QEMU_PCI_SLOTS; slot++) {
        if (bus->funcs[slot] == 0) {
            bus->funcs[slot] = 1;
            qemuPCIGiveInfo(set, info, 0, slot, 0);
            return TRUE;
        }
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                "no free PCI slot for %s (pci-bridge auto-adding is not supported)", who);
    return FALSE;
}

/* A PCIe endpoint (q35): slot 0 of the first free pcie-root-port, adding one if needed. */
static void
qemuPCIAssignOnRootPort(qemuPCIAddrSet *set, qvirDomainDeviceInfo *info)
{
    guint idx;

    for (idx = 1; idx < set->buses->len; idx++) {
        qemuPCIBus *bus = qemuPCIBusGet(set, idx);

        if (bus->rootPort && bus->funcs[0] == 0)
            break;
    }
    if (idx == set->buses->len)
        idx = qemuPCIAddRootPortBus(set);
    qemuPCIBusGet(set, idx)->funcs[0] = 1;
    qemuPCIGiveInfo(set, info, idx, 0, 0);
}

/*
 * A conventional PCI device on q35: a free slot (1-31) of a pcie-to-pci-bridge. Without
 * one, libvirt adds a pcie-root-port and the bridge plugged into it, in that order.
 */
static gboolean
qemuPCIAssignOnBridge(qemuPCIAddrSet *set, qvirDomainDeviceInfo *info, const char *who,
                      GError **error)
{
    qemuPCIBus bridge = {0};
    guint port;

    for (guint idx = 1; idx < set->buses->len; idx++) {
        qemuPCIBus *bus = qemuPCIBusGet(set, idx);

        if (!bus->bridge)
            continue;
        for (guint slot = 1; slot < QEMU_PCI_SLOTS; slot++) {
            if (bus->funcs[slot] == 0) {
                bus->funcs[slot] = 1;
                qemuPCIGiveInfo(set, info, idx, slot, 0);
                return TRUE;
            }
        }
    }
    if (set->buses->len + 2 > 256) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "no free PCI slot for %s", who);
        return FALSE;
    }
    port = qemuPCIAddRootPortBus(set);
    qemuPCIBusGet(set, port)->funcs[0] = 1; /* the bridge's own slot */
    bridge.bridge = TRUE;
    g_array_append_val(set->buses, bridge);
    qemuPCIBusGet(set, set->buses->len - 1)->funcs[1] = 1;
    qemuPCIGiveInfo(set, info, set->buses->len - 1, 1, 0);
    return TRUE;
}

/* Root ports on pcie.0 share slots, one per function (libvirt's aggregate slots). */
static gboolean
qemuPCIAssignRootPortAddr(qemuPCIAddrSet *set, qvirDomainDeviceInfo *info, GError **error)
{
    qemuPCIBus *root = qemuPCIBusGet(set, 0);

    /* one walk up the slots, as libvirt searches: the first that is empty or shares
     * functions with other root ports and has one free */
    for (guint slot = 1; slot < QEMU_PCI_SLOTS; slot++) {
        if (root->funcs[slot] == 0) {
            root->aggregate[slot] = TRUE;
            root->funcs[slot] = 1;
            qemuPCIGiveInfo(set, info, 0, slot, 0);
            return TRUE;
        }
        if (!root->aggregate[slot] || root->funcs[slot] == 0xff)
            continue;
        for (guint fn = 0; fn < 8; fn++) {
            if (!(root->funcs[slot] & (1u << fn))) {
                root->funcs[slot] |= 1u << fn;
                qemuPCIGiveInfo(set, info, 0, slot, fn);
                return TRUE;
            }
        }
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                "no free slot on pcie.0 for another pcie-root-port");
    return FALSE;
}

typedef enum {
    QEMU_PCI_DEV_NONE = 0, /* not a PCI device */
    QEMU_PCI_DEV_PCIE,     /* PCIe endpoint: a root port on q35 */
    QEMU_PCI_DEV_PCI,      /* conventional PCI: bus 0 on i440fx only */
} qemuPCIDevKind;

static gboolean
qemuPCIAssignDevice(qemuPCIAddrSet *set, qvirDomainDeviceInfo *info, qemuPCIDevKind dk,
                    const char *who, GError **error)
{
    if (dk == QEMU_PCI_DEV_NONE || info->type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI)
        return TRUE;
    if (set->kind == QEMU_DOMAIN_MACHINE_PC)
        return qemuPCIAssignOnRoot(set, info, who, error);
    if (dk == QEMU_PCI_DEV_PCI)
        return qemuPCIAssignOnBridge(set, info, who, error);
    qemuPCIAssignOnRootPort(set, info);
    return TRUE;
}

static qemuPCIDevKind
qemuPCIControllerKind(const qvirDomainControllerDef *c, qemuDomainMachineKind kind)
{
    switch (c->type) {
    case QVIR_DOMAIN_CONTROLLER_TYPE_USB:
        if (g_strcmp0(c->model, "none") == 0)
            return QEMU_PCI_DEV_NONE;
        if (g_strcmp0(c->model, "qemu-xhci") == 0 || g_strcmp0(c->model, "nec-xhci") == 0)
            return QEMU_PCI_DEV_PCIE;
        return QEMU_PCI_DEV_PCI;
    case QVIR_DOMAIN_CONTROLLER_TYPE_SCSI:
        /* a transitional virtio device needs a conventional slot for its legacy I/O BAR */
        return qvirDomainControllerIsVirtioSCSI(c) && !qvirDomainControllerIsTransitional(c)
                   ? QEMU_PCI_DEV_PCIE
                   : QEMU_PCI_DEV_PCI;
    case QVIR_DOMAIN_CONTROLLER_TYPE_SATA:
        return kind == QEMU_DOMAIN_MACHINE_Q35 ? QEMU_PCI_DEV_PCIE : QEMU_PCI_DEV_PCI;
    case QVIR_DOMAIN_CONTROLLER_TYPE_IDE:
        return c->idx == 0 ? QEMU_PCI_DEV_NONE : QEMU_PCI_DEV_PCI;
    case QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL:
        return qvirDomainControllerIsTransitional(c) ? QEMU_PCI_DEV_PCI : QEMU_PCI_DEV_PCIE;
    case QVIR_DOMAIN_CONTROLLER_TYPE_PCI:
    case QVIR_DOMAIN_CONTROLLER_TYPE_LAST:
    default:
        return QEMU_PCI_DEV_NONE;
    }
}

static qemuPCIDevKind
qemuPCINetKind(const qvirDomainNetDef *net)
{
    if (!net->model || g_str_has_prefix(net->model, "virtio") || strcmp(net->model, "e1000e") == 0)
        return QEMU_PCI_DEV_PCIE;
    return QEMU_PCI_DEV_PCI;
}

static gboolean
qemuPCIVideoIsPCI(const qvirDomainVideoDef *v)
{
    return v->model && strcmp(v->model, "none") != 0 && strcmp(v->model, "ramfb") != 0;
}

/* Every device with an address in the XML keeps it. */
static gboolean
qemuPCIReserveExisting(qemuPCIAddrSet *set, qvirDomainDef *def, GError **error)
{
#define RESERVE(infoptr, who)                                                                      \
    do {                                                                                           \
        if ((infoptr)->type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI &&                              \
            !qemuPCIReserve(set, &(infoptr)->addr.pci, (who), error))                              \
            return FALSE;                                                                          \
    } while (0)

    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI) {
            RESERVE(&c->info, c->info.alias);
            if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_PCI && c->info.addr.pci.bus == 0 &&
                c->info.addr.pci.slot < QEMU_PCI_SLOTS)
                qemuPCIBusGet(set, 0)->aggregate[c->info.addr.pci.slot] = TRUE;
        }
    }
    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        RESERVE(&d->info, d->dst);
    }
    for (guint i = 0; def->nets && i < def->nets->len; i++)
        RESERVE(&((qvirDomainNetDef *)g_ptr_array_index(def->nets, i))->info, "interface");
    for (guint i = 0; def->videos && i < def->videos->len; i++)
        RESERVE(&((qvirDomainVideoDef *)g_ptr_array_index(def->videos, i))->info, "video");
    for (guint i = 0; def->inputs && i < def->inputs->len; i++) {
        qvirDomainInputDef *in = g_ptr_array_index(def->inputs, i);

        if (g_strcmp0(in->bus, "virtio") == 0)
            RESERVE(&in->info, "input");
    }
    if (def->memballoon)
        RESERVE(&def->memballoon->info, "memballoon");
    for (guint i = 0; def->serials && i < def->serials->len; i++)
        RESERVE(&((qvirDomainChrDef *)g_ptr_array_index(def->serials, i))->info, "serial");
#undef RESERVE
    return TRUE;
}

/* Devices built into the chipset, and the primary video's traditional slot. */
static gboolean
qemuPCIReserveChipset(qemuPCIAddrSet *set, qvirDomainDef *def, GError **error)
{
    qemuPCIBus *root = qemuPCIBusGet(set, 0);
    qvirDomainVideoDef *video =
        def->videos && def->videos->len > 0 ? g_ptr_array_index(def->videos, 0) : NULL;
    guint videoSlot;

    if (set->kind == QEMU_DOMAIN_MACHINE_PC) {
        /* PIIX3: ISA bridge 1.0, IDE 1.1, USB 1.2, ACPI/SMBus 1.3 */
        for (guint i = 0; i < def->controllers->len; i++) {
            qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

            if (c->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE || c->idx != 0)
                continue;
            if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_IDE)
                qemuPCISetInfo(&c->info, 0, 1, 1);
            else if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB &&
                     g_strcmp0(c->model, "piix3-uhci") == 0)
                qemuPCISetInfo(&c->info, 0, 1, 2);
            else
                continue;
            root->funcs[1] |= 1u << c->info.addr.pci.function;
        }
        root->funcs[1] |= 1u << 0 | 1u << 3;
        videoSlot = 2;
    } else {
        qvirDomainControllerDef *sata =
            qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_SATA, 0);

        if (sata && sata->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE) {
            qemuPCISetInfo(&sata->info, 0, 0x1f, 2);
            root->funcs[0x1f] |= 1u << 2;
        }
        /* ICH9's own places for USB2, 00:1D then 00:1A, while free (libvirt's preference,
         * not a requirement); the other parts of each follow UHCI1 into its slot */
        for (guint i = 0; i < def->controllers->len; i++) {
            qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);
            guint slot = root->funcs[0x1d] == 0 ? 0x1d : root->funcs[0x1a] == 0 ? 0x1a : 0;

            if (c->type != QVIR_DOMAIN_CONTROLLER_TYPE_USB ||
                g_strcmp0(c->model, "ich9-uhci1") != 0 ||
                c->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE || slot == 0)
                continue;
            qemuPCISetInfo(&c->info, 0, slot, 0);
            c->info.addr.pci.multifunction = QVIR_TRISTATE_SWITCH_ON;
            root->funcs[slot] |= 1u;
        }
        root->funcs[0x1f] |= 1u << 0 | 1u << 3;
        videoSlot = 1;
    }

    if (video && qemuPCIVideoIsPCI(video) &&
        video->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE) {
        if (root->funcs[videoSlot] == 0) {
            root->funcs[videoSlot] = 1;
            qemuPCISetInfo(&video->info, 0, videoSlot, 0);
        } else if (!qemuPCIAssignOnRoot(set, &video->info, "video", error)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* The PCI function of a part of an ICH9 USB2 controller (the EHCI and its three UHCI
 * companions share one slot, as on the real chipset); -1 for any other controller. */
static int
qemuPCIUSB2Function(const qvirDomainControllerDef *c)
{
    static const char *const parts[] = {"ich9-uhci1", "ich9-uhci2", "ich9-uhci3"};

    if (c->type != QVIR_DOMAIN_CONTROLLER_TYPE_USB || !c->model)
        return -1;
    if (strcmp(c->model, "ich9-ehci1") == 0)
        return 7;
    for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
        if (strcmp(c->model, parts[i]) == 0)
            return i;
    }
    return -1;
}

/*
 * libvirt's placement of a USB2 part without an address: into the slot of the first part
 * with its index that has one, else into a free slot of its own; at the part's function,
 * UHCI1 (function 0) marked multifunction.
 */
static gboolean
qemuPCIAssignUSB2(qemuPCIAddrSet *set, qvirDomainDef *def, qvirDomainControllerDef *c,
                  GError **error)
{
    int function = qemuPCIUSB2Function(c);
    qvirTristateSwitch multi =
        function == 0 ? QVIR_TRISTATE_SWITCH_ON : QVIR_TRISTATE_SWITCH_ABSENT;
    const qvirDomainControllerDef *peer = NULL;

    if (c->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI)
        return TRUE;
    for (guint i = 0; i < def->controllers->len && !peer; i++) {
        const qvirDomainControllerDef *o = g_ptr_array_index(def->controllers, i);

        if (qemuPCIUSB2Function(o) >= 0 && o->idx == c->idx &&
            o->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI)
            peer = o;
    }
    if (peer) {
        qvirPCIDeviceAddress a = peer->info.addr.pci;

        a.function = function;
        if (!qemuPCIReserve(set, &a, "usb", error))
            return FALSE;
        qemuPCIGiveInfo(set, &c->info, a.bus, a.slot, function);
    } else {
        qemuPCIBus *bus;

        if (!qemuPCIAssignDevice(set, &c->info, QEMU_PCI_DEV_PCI, "usb", error))
            return FALSE;
        bus = qemuPCIBusGet(set, c->info.addr.pci.bus);
        bus->funcs[c->info.addr.pci.slot] = 1u << function;
        c->info.addr.pci.function = function;
    }
    c->info.addr.pci.multifunction = multi;
    return TRUE;
}

static gboolean
qemuPCIAssignDevices(qemuPCIAddrSet *set, qvirDomainDef *def, GError **error)
{
    /* libvirt's order: PCI controllers, nets, other controllers, virtio disks, balloon,
     * videos, virtio inputs. */
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type != QVIR_DOMAIN_CONTROLLER_TYPE_PCI || c->idx == 0 ||
            c->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI)
            continue;
        /* a pcie-to-pci-bridge is a PCIe endpoint: the first free root port */
        if (g_strcmp0(c->model, "pcie-to-pci-bridge") == 0)
            qemuPCIAssignOnRootPort(set, &c->info);
        else if (!qemuPCIAssignRootPortAddr(set, &c->info, error))
            return FALSE;
    }
    for (guint i = 0; def->nets && i < def->nets->len; i++) {
        qvirDomainNetDef *n = g_ptr_array_index(def->nets, i);

        if (!qemuPCIAssignDevice(set, &n->info, qemuPCINetKind(n), "interface", error))
            return FALSE;
    }
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (qemuPCIUSB2Function(c) >= 0) {
            if (!qemuPCIAssignUSB2(set, def, c, error))
                return FALSE;
        } else if (!qemuPCIAssignDevice(set, &c->info, qemuPCIControllerKind(c, set->kind),
                                        qvirDomainControllerTypeTypeToString(c->type), error)) {
            return FALSE;
        }
    }
    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        if (d->bus != QVIR_DOMAIN_DISK_BUS_VIRTIO)
            continue;
        if (d->info.type == QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "virtio disk cannot have an address of type 'drive'");
            return FALSE;
        }
        if (!qemuPCIAssignDevice(set, &d->info,
                                 d->model == QVIR_DOMAIN_DISK_MODEL_VIRTIO_TRANSITIONAL
                                     ? QEMU_PCI_DEV_PCI
                                     : QEMU_PCI_DEV_PCIE,
                                 d->dst, error))
            return FALSE;
    }
    if (def->memballoon && g_strcmp0(def->memballoon->model, "virtio") == 0 &&
        !qemuPCIAssignDevice(set, &def->memballoon->info, QEMU_PCI_DEV_PCIE, "memballoon", error))
        return FALSE;
    for (guint i = 0; def->rngs && i < def->rngs->len; i++) {
        qvirDomainRNGDef *rng = g_ptr_array_index(def->rngs, i);

        if (!qemuPCIAssignDevice(set, &rng->info, QEMU_PCI_DEV_PCIE, "rng", error))
            return FALSE;
    }
    for (guint i = 0; def->videos && i < def->videos->len; i++) {
        qvirDomainVideoDef *v = g_ptr_array_index(def->videos, i);

        if (qemuPCIVideoIsPCI(v) &&
            !qemuPCIAssignDevice(set, &v->info, QEMU_PCI_DEV_PCIE, "video", error))
            return FALSE;
    }
    for (guint i = 0; def->inputs && i < def->inputs->len; i++) {
        qvirDomainInputDef *in = g_ptr_array_index(def->inputs, i);

        if (g_strcmp0(in->bus, "virtio") == 0 &&
            !qemuPCIAssignDevice(set, &in->info, QEMU_PCI_DEV_PCIE, "input", error))
            return FALSE;
    }
    for (guint i = 0; def->serials && i < def->serials->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->serials, i);

        if (g_strcmp0(chr->targetType, "pci-serial") == 0 &&
            !qemuPCIAssignDevice(set, &chr->info, QEMU_PCI_DEV_PCI, "serial", error))
            return FALSE;
    }
    return TRUE;
}

/* Reflect the root ports the assignment created into the controller list. */
static gboolean
qemuPCIAddNewRootPorts(qemuPCIAddrSet *set, qvirDomainDef *def, GError **error)
{
    /* One spare root port for hot-plug, when libvirt manages the PCI topology. */
    if (set->kind == QEMU_DOMAIN_MACHINE_Q35 && set->addedPorts && set->xmlMaxIdx <= 0)
        qemuPCIAddRootPortBus(set);

    for (guint idx = 1; idx < set->buses->len; idx++) {
        qvirDomainControllerDef *c;

        if (qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_PCI, idx))
            continue;
        if (qemuPCIBusGet(set, idx)->bridge) {
            /* plugged into the root port added just before it */
            c = qemuDomainAddController(def, QVIR_DOMAIN_CONTROLLER_TYPE_PCI, idx,
                                        "pcie-to-pci-bridge");
            qemuPCIGiveInfo(set, &c->info, idx - 1, 0, 0);
            continue;
        }
        c = qemuDomainAddController(def, QVIR_DOMAIN_CONTROLLER_TYPE_PCI, idx, "pcie-root-port");
        if (!qemuPCIAssignRootPortAddr(set, &c->info, error))
            return FALSE;
    }
    return TRUE;
}

/* Function 0 of a slot whose other functions are in use is a multifunction device. */
static void
qemuPCISetMulti(qemuPCIAddrSet *set, qvirDomainDeviceInfo *info)
{
    qemuPCIBus *bus;

    if (info->type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI || info->addr.pci.function != 0 ||
        info->addr.pci.multifunction != QVIR_TRISTATE_SWITCH_ABSENT)
        return;
    bus = qemuPCIBusGet(set, info->addr.pci.bus);
    if (bus && info->addr.pci.slot < QEMU_PCI_SLOTS && (bus->funcs[info->addr.pci.slot] & ~1u))
        info->addr.pci.multifunction = QVIR_TRISTATE_SWITCH_ON;
}

/*
 * One pass over DEF: buses from its PCI controllers, existing addresses reserved, then
 * every device without one placed in libvirt's order, adding buses as needed. *GREW says
 * whether buses were added.
 */
static gboolean
qemuPCIAssignPass(qvirDomainDef *def, qemuDomainMachineKind kind, qemuPCIAddrSet *set,
                  gboolean *grew, GError **error)
{
    guint initialBuses;

    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type != QVIR_DOMAIN_CONTROLLER_TYPE_PCI)
            continue;
        if (c->idx < 0 || c->idx >= 256) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "PCI controller index %d is out of range", c->idx);
            return FALSE;
        }
        if (c->idx > set->xmlMaxIdx)
            set->xmlMaxIdx = c->idx;
        if (c->idx > 0 &&
            (kind != QEMU_DOMAIN_MACHINE_Q35 || (g_strcmp0(c->model, "pcie-root-port") != 0 &&
                                                 g_strcmp0(c->model, "pcie-to-pci-bridge") != 0))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "PCI controller model '%s' is not supported (only pcie-root-port "
                        "and pcie-to-pci-bridge on q35)",
                        c->model ? c->model : "");
            return FALSE;
        }
    }
    g_array_set_size(set->buses, set->xmlMaxIdx + 1);
    for (guint i = 1; i < set->buses->len; i++) {
        qvirDomainControllerDef *c =
            qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_PCI, i);

        if (!c) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "PCI controller indexes must be contiguous: index %u is missing", i);
            return FALSE;
        }
        if (g_strcmp0(c->model, "pcie-to-pci-bridge") == 0) {
            g_array_index(set->buses, qemuPCIBus, i).bridge = TRUE;
            g_array_index(set->buses, qemuPCIBus, i).funcs[0] = 0xff; /* slot 0 reserved */
        } else {
            g_array_index(set->buses, qemuPCIBus, i).rootPort = TRUE;
        }
    }
    initialBuses = set->buses->len;

    if (!qemuPCIReserveExisting(set, def, error) || !qemuPCIReserveChipset(set, def, error) ||
        !qemuPCIAssignDevices(set, def, error) || !qemuPCIAddNewRootPorts(set, def, error))
        return FALSE;
    *grew = set->buses->len > initialBuses;
    return TRUE;
}

static gboolean
qemuDomainAssignPCIAddresses(qvirDomainDef *def, qemuDomainMachineKind kind, GError **error)
{
    g_autoptr(GArray) buses = g_array_new(FALSE, TRUE, sizeof(qemuPCIBus));
    g_autoptr(GPtrArray) assigned = g_ptr_array_new();
    qemuPCIAddrSet set = {.kind = kind, .xmlMaxIdx = 0, .buses = buses, .assigned = assigned};
    gboolean grew = FALSE;

    if (!qemuPCIAssignPass(def, kind, &set, &grew, error))
        return FALSE;
    /*
     * Like libvirt, a pass that had to add buses was a dry run to learn the topology: the
     * controllers it added stay, and everything is placed again with them in the list,
     * controllers first (a pcie-to-pci-bridge takes the first free root port).
     */
    if (grew) {
        for (guint i = 0; i < assigned->len; i++) {
            qvirDomainDeviceInfo *info = g_ptr_array_index(assigned, i);

            info->type = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE;
            memset(&info->addr, 0, sizeof(info->addr));
        }
        g_ptr_array_set_size(assigned, 0);
        g_array_set_size(buses, 0);
        set.xmlMaxIdx = 0;
        set.addedPorts = FALSE;
        if (!qemuPCIAssignPass(def, kind, &set, &grew, error))
            return FALSE;
        if (grew) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "PCI topology did not settle after adding controllers");
            return FALSE;
        }
    }

    /* chassis / port of root ports, as libvirt fills them in */
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type != QVIR_DOMAIN_CONTROLLER_TYPE_PCI || c->idx == 0)
            continue;
        if (g_strcmp0(c->model, "pcie-root-port") == 0) {
            if (c->chassis < 0)
                c->chassis = c->idx;
            if (c->port < 0)
                c->port = (c->info.addr.pci.slot << 3) + c->info.addr.pci.function;
        }
        qemuPCISetMulti(&set, &c->info);
    }
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type != QVIR_DOMAIN_CONTROLLER_TYPE_PCI)
            qemuPCISetMulti(&set, &c->info);
    }
    return TRUE;
}

/* ---- disks: cache default, node names, chain indexes --------------------------------- */

static unsigned int
qemuDomainChainMaxIndex(const qvirStorageSource *src)
{
    unsigned int max = src && src->type == QVIR_STORAGE_TYPE_NONE ? src->id : 0;

    for (; qvirStorageSourceIsBacking(src); src = src->backingStore) {
        if (src->id > max)
            max = src->id;
    }
    return max;
}

unsigned int
qemuDomainNextNodeIndex(const qvirDomainDef *def)
{
    unsigned int max = 0;

    for (guint i = 0; def->disks && i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);
        unsigned int m = qemuDomainChainMaxIndex(d->src);

        if (m > max)
            max = m;
    }
    return MAX(max, def->nodeIndexUsed) + 1;
}

/*
 * libvirt names a disk's layers in two rounds: first the layers it knows when it prepares
 * the disk (the top, and a chain written in the XML), then, once it has probed the
 * images, the layers it found. PROBED picks the round.
 */
static void
qemuDomainPrepareDiskChainRound(qvirDomainDiskDef *disk, unsigned int *next, gboolean probed)
{
    /* An empty drive still takes an index, as in libvirt, so numbering matches. */
    if (disk->src && disk->src->type == QVIR_STORAGE_TYPE_NONE) {
        if (!probed && disk->src->id == 0)
            disk->src->id = (*next)++;
        return;
    }
    for (qvirStorageSource *src = disk->src; qvirStorageSourceIsBacking(src);
         src = src->backingStore) {
        gboolean known = src == disk->src || src->fromXML;

        if (known == probed || (src->nodeStorage && src->nodeFormat))
            continue;
        /* An index from live XML names the nodes, as libvirt does on reconnect. */
        if (src->id == 0)
            src->id = (*next)++;
        g_free(src->nodeStorage);
        g_free(src->nodeFormat);
        src->nodeStorage = g_strdup_printf("libvirt-%u-storage", src->id);
        src->nodeFormat = g_strdup_printf("libvirt-%u-format", src->id);
    }
}

void
qemuDomainPrepareDiskChainNodeNames(qvirDomainDiskDef *disk, unsigned int *next)
{
    qemuDomainPrepareDiskChainRound(disk, next, FALSE);
    qemuDomainPrepareDiskChainRound(disk, next, TRUE);
}

void
qemuDomainDiskApplyNBDTLSDefault(qvirDomainDiskDef *disk, gboolean tls)
{
    for (qvirStorageSource *s = disk->src; qvirStorageSourceIsBacking(s); s = s->backingStore) {
        if (s->type == QVIR_STORAGE_TYPE_NETWORK && s->protocol == QVIR_STORAGE_NET_PROTOCOL_NBD &&
            s->haveTLS == QVIR_TRISTATE_BOOL_ABSENT) {
            s->haveTLS = tls ? QVIR_TRISTATE_BOOL_YES : QVIR_TRISTATE_BOOL_NO;
            s->tlsFromConfig = TRUE;
        }
    }
}

static void
qemuDomainPrepareDisks(qvirDomainDef *def)
{
    unsigned int next = qemuDomainNextNodeIndex(def);

    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        /* A writable disk shared between guests must not be cached by the host. */
        if (d->cachemode == QVIR_DOMAIN_DISK_CACHE_DEFAULT && d->src && d->src->shared &&
            !d->src->readonly)
            d->cachemode = QVIR_DOMAIN_DISK_CACHE_DISABLE;
        /* libvirt's default format for a disk that names none */
        if (d->src && qvirStorageSourceIsBacking(d->src) &&
            d->src->format == QVIR_STORAGE_FILE_NONE)
            d->src->format = QVIR_STORAGE_FILE_RAW;
        /* A cdrom is always read-only. */
        if (d->device == QVIR_DOMAIN_DISK_DEVICE_CDROM && d->src)
            d->src->readonly = TRUE;
        /* a start through the driver has applied its nbd_tls already; libvirt's default
         * otherwise (off) */
        qemuDomainDiskApplyNBDTLSDefault(d, FALSE);
    }

    /* libvirt prepares disks last to first, so the last disk's top layer is libvirt-1;
     * the layers it probes are numbered after every disk's known ones, again last to
     * first. */
    for (guint i = def->disks->len; i > 0; i--)
        qemuDomainPrepareDiskChainRound(g_ptr_array_index(def->disks, i - 1), &next, FALSE);
    for (guint i = def->disks->len; i > 0; i--)
        qemuDomainPrepareDiskChainRound(g_ptr_array_index(def->disks, i - 1), &next, TRUE);
}

/*
 * libvirt keeps disks of one bus together, ordered by target (virDomainDiskInsert at
 * parse time); argv, node names and PCI slots follow that order.
 */
void
qemuDomainSortDisks(qvirDomainDef *def)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();

    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);
        int newIdx = qemuDomainDiskNameToIndex(disk->dst);
        gint insertAt = -1;

        for (gint j = (gint)sorted->len - 1; j >= 0; j--) {
            qvirDomainDiskDef *cur = g_ptr_array_index(sorted, j);

            if (cur->bus != disk->bus)
                continue;
            if (qemuDomainDiskNameToIndex(cur->dst) > newIdx)
                insertAt = j;
            else if (insertAt == -1)
                insertAt = j + 1;
        }
        if (insertAt < 0)
            g_ptr_array_add(sorted, disk);
        else
            g_ptr_array_insert(sorted, insertAt, disk);
    }
    for (guint i = 0; i < sorted->len; i++)
        def->disks->pdata[i] = sorted->pdata[i];
}

gboolean
qemuDomainAssignAddresses(qvirDomainDef *def, qemuDomainMachineKind kind, GError **error)
{
    return qemuDomainAssignVirtioSerialAddresses(def, error) &&
           qemuDomainAssignUSBAddresses(def, error) &&
           qemuDomainAssignPCIAddresses(def, kind, error);
}

gboolean
qemuDomainPrepareForStart(qvirDomainDef *def, const qemuCaps *caps, GError **error)
{
    qemuDomainMachineKind kind;

    g_return_val_if_fail(def != NULL && caps != NULL, FALSE);

    if (!def->name) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_NAME, "missing domain name");
        return FALSE;
    }
    /* a definition stored before it was completed, or one built by hand */
    if (!qemuDomainDefPostParse(def, caps, NULL, error) ||
        !qemuDomainGetMachineKind(def, &kind, error))
        return FALSE;

    /* libvirt's start-time check of the CPU mode against what the accelerator offers */
    if (def->virtType == QVIR_DOMAIN_VIRT_QEMU &&
        (g_strcmp0(def->cpuMode, "host-passthrough") == 0 ||
         g_strcmp0(def->cpuMode, "host-model") == 0)) {
        if (strcmp(def->cpuMode, "host-passthrough") == 0)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported configuration: CPU mode 'host-passthrough' for x86_64 "
                        "qemu domain on x86_64 host is not supported by hypervisor");
        else
            /* libvirt expands the host's CPU model for TCG; qvirt does not (yet) */
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported configuration: CPU mode 'host-model' is not supported by "
                        "qvirt for a qemu (TCG) domain; use mode 'maximum' or a named model");
        return FALSE;
    }
    /* QEMU wants whole MiB; libvirt rounds up */
    def->memoryKiB = (def->memoryKiB + 1023) / 1024 * 1024;
    if (!qemuDomainAssignAliases(def, kind, error))
        return FALSE;
    qemuDomainPrepareDisks(def);
    return TRUE;
}
