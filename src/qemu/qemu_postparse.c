/*
 * qemu_postparse.c: what libvirt 9.0's QEMU driver fills in on a definition when it is
 * parsed with the emulator's capabilities (virDomainDefPostParse with the driver's
 * callbacks), so that `virsh define` + `dumpxml --inactive` and domxml-to-native show the
 * same document and argv as libvirt: the canonical machine type, the default boot device and
 * CPU, the implicit devices and controllers, device defaults, and every address.
 *
 * Everything here is idempotent: a definition that went through it once (a stored
 * definition, a live one read back from the status XML) comes out unchanged.
 */
#include "qemu/qemu_postparse.h"

#include <string.h>

#include "qemu/qemu_domain.h"
#include "util/virerror.h"

/* QEMU's x86 machine types start a CPU-less guest with this model (default-cpu-type). */
#define QEMU_POSTPARSE_DEFAULT_CPU "qemu64"

static gboolean
qemuPostParseMachine(qvirDomainDef *def, const qemuCaps *caps, GError **error)
{
    const char *canon;

    /* libvirt fills in the guest architecture from the emulator's when none is given */
    if (!def->os.arch)
        def->os.arch = g_strdup(qemuCapsGetArch(caps));
    if (!def->os.machine) {
        /* libvirt's preferred machine for x86_64 is the default one, i440fx */
        canon = qemuCapsGetCanonicalMachine(caps, "pc");
        def->os.machine = g_strdup(canon ? canon : "pc");
        return TRUE;
    }
    canon = qemuCapsGetCanonicalMachine(caps, def->os.machine);
    if (!canon) {
        const char *bin = qemuCapsGetBinary(caps);

        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: Emulator '%s' does not support machine type "
                    "'%s'",
                    bin ? bin : (def->emulator ? def->emulator : ""), def->os.machine);
        return FALSE;
    }
    /* pinning the alias keeps the guest's ABI across QEMU upgrades */
    if (strcmp(canon, def->os.machine) != 0) {
        g_free(def->os.machine);
        def->os.machine = g_strdup(canon);
    }
    return TRUE;
}

/* virDomainDefBootOrderPostParse: an HVM guest without any boot order boots its disk. */
static void
qemuPostParseBoot(qvirDomainDef *def)
{
    if (def->os.nBootDevs > 0 || qvirDomainDefHasDeviceBootOrder(def))
        return;
    def->os.boot[0] = QVIR_DOMAIN_BOOT_DISK;
    def->os.nBootDevs = 1;
}

static void
qemuPostParseSetStr(char **field, const char *value)
{
    if (*field)
        return;
    *field = g_strdup(value);
}

/*
 * The machine's default CPU with every check off (it may not run on any host as such), and
 * the check libvirt picks for each mode when the XML names none.
 */
static void
qemuPostParseCPU(qvirDomainDef *def)
{
    if (!def->cpuMode || (strcmp(def->cpuMode, "custom") == 0 && !def->cpuModel)) {
        qemuPostParseSetStr(&def->cpuMode, "custom");
        qemuPostParseSetStr(&def->cpuMatch, "exact");
        qemuPostParseSetStr(&def->cpuCheck, "none");
        qemuPostParseSetStr(&def->cpuFallback, "forbid");
        qemuPostParseSetStr(&def->cpuModel, QEMU_POSTPARSE_DEFAULT_CPU);
        return;
    }
    if (strcmp(def->cpuMode, "custom") == 0) {
        qemuPostParseSetStr(&def->cpuMatch, "exact");
        qemuPostParseSetStr(&def->cpuFallback, "allow");
        /* custom CPUs under TCG are not compared with the host's */
        qemuPostParseSetStr(&def->cpuCheck,
                            def->virtType == QVIR_DOMAIN_VIRT_QEMU ? "none" : "partial");
    } else if (strcmp(def->cpuMode, "host-model") == 0) {
        qemuPostParseSetStr(&def->cpuCheck, "partial");
    } else {
        /* host-passthrough, maximum; only host-passthrough gets QEMU 7.2's migratable */
        qemuPostParseSetStr(&def->cpuCheck, "none");
        if (strcmp(def->cpuMode, "host-passthrough") == 0)
            qemuPostParseSetStr(&def->cpuMigratable, "on");
    }
}

static void
qemuPostParseMaybeAddInput(qvirDomainDef *def, const char *type, const char *bus)
{
    qvirDomainInputDef *input;

    for (guint i = 0; i < def->inputs->len; i++) {
        qvirDomainInputDef *in = g_ptr_array_index(def->inputs, i);

        if (g_strcmp0(in->type, type) == 0 && g_strcmp0(in->bus, bus) == 0)
            return;
    }
    input = g_new0(qvirDomainInputDef, 1);
    input->type = g_strdup(type);
    input->bus = g_strdup(bus);
    g_ptr_array_add(def->inputs, input);
}

/* qemuDomainDefAddDefaultDevices for x86: what the machine always has. */
static gboolean
qemuPostParseDefaultDevices(qvirDomainDef *def, qemuDomainMachineKind kind, const qemuCaps *caps,
                            GError **error)
{
    const char *rootModel = kind == QEMU_DOMAIN_MACHINE_Q35 ? "pcie-root" : "pci-root";
    qvirDomainControllerDef *root;

    /* the i8042 PS/2 controller of both chipsets */
    qemuPostParseMaybeAddInput(def, "mouse", "ps2");
    qemuPostParseMaybeAddInput(def, "keyboard", "ps2");

    if (!qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_USB, 0))
        qemuDomainAddController(def, QVIR_DOMAIN_CONTROLLER_TYPE_USB, 0,
                                qemuDomainDefaultUSBModel(kind, caps));
    if (kind == QEMU_DOMAIN_MACHINE_Q35 &&
        !qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_SATA, 0))
        qemuDomainAddController(def, QVIR_DOMAIN_CONTROLLER_TYPE_SATA, 0, NULL);

    if ((root = qemuDomainFindController(def, QVIR_DOMAIN_CONTROLLER_TYPE_PCI, 0))) {
        if (root->model && strcmp(root->model, rootModel) != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "XML error: The PCI controller with index='0' must be model='%s' for "
                        "this machine type, but model='%s' was found instead",
                        rootModel, root->model);
            return FALSE;
        }
    } else {
        qemuDomainAddController(def, QVIR_DOMAIN_CONTROLLER_TYPE_PCI, 0, rootModel);
    }

    if (!def->memballoon) {
        def->memballoon = g_new0(qvirDomainMemballoonDef, 1);
        def->memballoon->model = g_strdup("virtio");
    }
    /* VNC or no graphics at all: libvirt's default audio backend is 'none' */
    if (def->audioId == 0)
        def->audioId = 1;
    return TRUE;
}

static qvirDomainChrDef *
qemuPostParseChrCopy(const qvirDomainChrDef *src, gboolean isConsole)
{
    qvirDomainChrDef *chr = g_new0(qvirDomainChrDef, 1);

    chr->isConsole = isConsole;
    chr->targetPort = src->targetPort;
    /* libvirt copies the whole source: a unix serial's console names the same socket */
    qvirDomainChrSourceCopy(chr, src);
    chr->info.alias = g_strdup(src->info.alias);
    return chr;
}

/*
 * virDomainDefAddConsoleCompat, the half the parser leaves: an ISA serial port with no
 * serial console gets one (a stub at the head of the consoles, which names the port). A
 * serial console without a port became the port when it was parsed. PCI and USB serial
 * ports get no console.
 */
static void
qemuPostParseConsoleCompat(qvirDomainDef *def)
{
    qvirDomainChrDef *ser;
    qvirDomainChrDef *con;

    if (def->serials->len == 0)
        return;
    if (def->consoles->len > 0 &&
        g_strcmp0(((qvirDomainChrDef *)g_ptr_array_index(def->consoles, 0))->targetType,
                  "serial") == 0)
        return;
    ser = g_ptr_array_index(def->serials, 0);
    if (ser->isConsole || g_strcmp0(ser->targetType, "isa-serial") != 0)
        return;
    con = qemuPostParseChrCopy(ser, TRUE);
    con->targetType = g_strdup("serial");
    g_ptr_array_insert(def->consoles, 0, con);
}

/* virDomainDefAddImplicitVideo and the QEMU driver's video defaults. */
static void
qemuPostParseVideo(qvirDomainDef *def)
{
    if (def->graphics->len > 0 && def->videos->len == 0) {
        qvirDomainVideoDef *video = g_new0(qvirDomainVideoDef, 1);

        video->model = g_strdup("cirrus");
        g_ptr_array_add(def->videos, video);
    }
    for (guint i = 0; i < def->videos->len; i++) {
        qvirDomainVideoDef *v = g_ptr_array_index(def->videos, i);

        if (!v->model)
            v->model = g_strdup("cirrus");
        if (strcmp(v->model, "none") == 0)
            continue;
        if (i == 0)
            v->primary = TRUE;
        if (!v->heads)
            v->heads = 1;
        /* virDomainVideoDefaultRAM, and QXL's other two regions */
        if (!v->vram && (strcmp(v->model, "vga") == 0 || strcmp(v->model, "cirrus") == 0 ||
                         strcmp(v->model, "bochs") == 0))
            v->vram = 16384;
        if (strcmp(v->model, "qxl") == 0) {
            if (!v->vram)
                v->vram = 65536;
            if (!v->ram)
                v->ram = 65536;
            if (!v->vgamem)
                v->vgamem = 16384;
        }
    }
}

void
qemuDomainDiskDefPostParse(qvirDomainDiskDef *d)
{
    if (!d->src)
        return;
    /* libvirt's default format, also for an empty drive */
    if (d->src->format == QVIR_STORAGE_FILE_NONE &&
        (qvirStorageSourceIsBacking(d->src) || d->src->type == QVIR_STORAGE_TYPE_NONE))
        d->src->format = QVIR_STORAGE_FILE_RAW;
    if (d->device == QVIR_DOMAIN_DISK_DEVICE_CDROM)
        d->src->readonly = TRUE;
    if (!d->driverName)
        d->driverName = g_strdup("qemu");
    /* libvirt's default encryption engine is QEMU's, written into the definition */
    for (qvirStorageSource *n = d->src; n && (n == d->src || qvirStorageSourceIsBacking(n));
         n = n->backingStore) {
        if (n->encryption && n->encryption->engine == QVIR_STORAGE_ENCRYPTION_ENGINE_DEFAULT)
            n->encryption->engine = QVIR_STORAGE_ENCRYPTION_ENGINE_QEMU;
    }
}

static void
qemuPostParseDisks(qvirDomainDef *def)
{
    for (guint i = 0; i < def->disks->len; i++)
        qemuDomainDiskDefPostParse(g_ptr_array_index(def->disks, i));
}

static void
qemuPostParseControllerModels(qvirDomainDef *def, qemuDomainMachineKind kind, const qemuCaps *caps)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        switch (c->type) {
        case QVIR_DOMAIN_CONTROLLER_TYPE_USB:
            qemuPostParseSetStr(&c->model, qemuDomainDefaultUSBModel(kind, caps));
            break;
        case QVIR_DOMAIN_CONTROLLER_TYPE_SCSI:
            qemuPostParseSetStr(&c->model, qemuDomainDefaultSCSIModel(caps));
            break;
        case QVIR_DOMAIN_CONTROLLER_TYPE_PCI:
            if (c->idx == 0)
                qemuPostParseSetStr(&c->model,
                                    kind == QEMU_DOMAIN_MACHINE_Q35 ? "pcie-root" : "pci-root");
            else
                qemuPostParseSetStr(&c->model, "pcie-root-port");
            if (c->idx > 0 && strcmp(c->model, "pcie-root-port") == 0)
                qemuPostParseSetStr(&c->modelName, "pcie-root-port");
            else if (strcmp(c->model, "pcie-to-pci-bridge") == 0)
                qemuPostParseSetStr(&c->modelName, "pcie-pci-bridge");
            break;
        case QVIR_DOMAIN_CONTROLLER_TYPE_IDE:
        case QVIR_DOMAIN_CONTROLLER_TYPE_SATA:
        case QVIR_DOMAIN_CONTROLLER_TYPE_FDC:
        case QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL:
        case QVIR_DOMAIN_CONTROLLER_TYPE_LAST:
        default:
            break;
        }
    }
}

gboolean
qemuDomainDefPostParse(qvirDomainDef *def, const qemuCaps *caps, const char *emulator,
                       GError **error)
{
    qemuDomainMachineKind kind;

    g_return_val_if_fail(def != NULL && caps != NULL, FALSE);

    if (!def->emulator)
        def->emulator = g_strdup(emulator ? emulator : qemuCapsGetBinary(caps));
    if (!qemuPostParseMachine(def, caps, error) || !qemuDomainGetMachineKind(def, &kind, error))
        return FALSE;

    qemuDomainSortDisks(def);
    qemuPostParseDisks(def);
    if (!qemuPostParseDefaultDevices(def, kind, caps, error))
        return FALSE;
    qemuPostParseCPU(def);
    qemuPostParseBoot(def);
    qemuPostParseConsoleCompat(def);
    if (!qemuDomainAssignDriveAddresses(def, error) ||
        !qemuDomainAddImplicitControllers(def, error))
        return FALSE;
    qemuPostParseVideo(def);
    qemuPostParseControllerModels(def, kind, caps);
    if (!qemuDomainAssignAddresses(def, kind, error))
        return FALSE;
    /* root ports the PCI assignment added */
    qemuPostParseControllerModels(def, kind, caps);
    return TRUE;
}
