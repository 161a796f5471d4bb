/*
 * qemu_domcaps.c: <domainCapabilities> for one QEMU binary, machine and virt type.
 *
 * The document has libvirt 9.0's shape (element order, "supported" forms, enum values in
 * libvirt's enum order) so clients read it as they read libvirt's; the values are what
 * qvirt's parser accepts and its command line builds for this binary. Anything qvirt
 * refuses is reported supported='no' or left out of its enum.
 */
#include "qemu/qemu_domcaps.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "qemu/qemu_domain.h"
#include "util/virerror.h"

/* One <enum name=...> with the values whose flag is set, in the table's order. */
typedef struct {
    const char *value;
    gboolean on;
} qemuDomainCapsValue;

static void
qemuDomainCapsEnumFormat(GString *buf, int indent, const char *name,
                         const qemuDomainCapsValue *values, size_t nvalues)
{
    gboolean any = FALSE;

    for (size_t i = 0; i < nvalues; i++)
        any |= values[i].on;
    if (!any) {
        g_string_append_printf(buf, "%*s<enum name='%s'/>\n", indent, "", name);
        return;
    }
    g_string_append_printf(buf, "%*s<enum name='%s'>\n", indent, "", name);
    for (size_t i = 0; i < nvalues; i++) {
        if (values[i].on)
            g_string_append_printf(buf, "%*s<value>%s</value>\n", indent + 2, "", values[i].value);
    }
    g_string_append_printf(buf, "%*s</enum>\n", indent, "");
}

#define ENUM(buf, indent, name, ...)                                                               \
    do {                                                                                           \
        const qemuDomainCapsValue vals_[] = {__VA_ARGS__};                                         \
        qemuDomainCapsEnumFormat(buf, indent, name, vals_, G_N_ELEMENTS(vals_));                   \
    } while (0)

/* KVM's own vCPU limit, as libvirt reads it (KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS). */
static unsigned int
qemuDomainCapsKVMMaxVCPUs(void)
{
    int fd = open("/dev/kvm", O_RDONLY | O_CLOEXEC);
    int n;

    if (fd < 0)
        return 0;
    n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (n <= 0)
        n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    close(fd);
    return n > 0 ? (unsigned int)n : 0;
}

/* libvirt's architecture names (virArch): other names are "unknown". */
static const char *const qemuDomainCapsArchs[] = {
    "i686",      "x86_64",  "aarch64",    "armv6l",       "armv7l", "armv7b", "alpha",   "cris",
    "lm32",      "m68k",    "microblaze", "microblazeel", "mips",   "mipsel", "mips64",  "mips64el",
    "openrisc",  "parisc",  "parisc64",   "ppc",          "ppcle",  "ppc64",  "ppc64le", "ppcemb",
    "riscv32",   "riscv64", "s390",       "s390x",        "sh4",    "sh4eb",  "sparc",   "sparc64",
    "unicore32", "xtensa",  "xtensaeb",   "loongarch64",  NULL,
};

gboolean
qemuDomainCapsResolve(const qemuCaps *caps, const char *arch, const char *machine,
                      const char *virttype, gboolean kvmUsable, const char **machineOut,
                      qvirDomainVirtType *typeOut, GError **error)
{
    const char *binary = qemuCapsGetBinary(caps);
    const char *binArch = qemuCapsGetArch(caps);
    qvirDomainDef probe = {0};
    qemuDomainMachineKind kind;
    const char *canon;
    int type;

    if (virttype) {
        if ((type = qvirDomainVirtTypeTypeFromString(virttype)) < 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "unknown virttype: %s", virttype);
            return FALSE;
        }
    } else {
        type = kvmUsable ? QVIR_DOMAIN_VIRT_KVM : QVIR_DOMAIN_VIRT_QEMU;
    }
    if (arch) {
        if (!g_strv_contains(qemuDomainCapsArchs, arch)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "unknown architecture: %s", arch);
            return FALSE;
        }
        /* an x86 binary serves both x86 architectures, as in libvirt */
        if (strcmp(arch, "x86_64") != 0 && strcmp(arch, "i686") != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "architecture from emulator '%s' doesn't match given architecture '%s'",
                        binArch, arch);
            return FALSE;
        }
    }
    if (type == QVIR_DOMAIN_VIRT_KVM && !kvmUsable) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "the accel 'kvm' is not supported by '%s' on this host", binary);
        return FALSE;
    }
    if (machine) {
        if (!(canon = qemuCapsGetCanonicalMachine(caps, machine))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "the machine '%s' is not supported by emulator '%s'", machine, binary);
            return FALSE;
        }
    } else if (!(canon = qemuCapsGetDefaultMachine(caps))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "emulator '%s' has no default machine type", binary);
        return FALSE;
    }
    /* machines QEMU has but qvirt builds no command line for are refused here too */
    probe.os.machine = (char *)canon;
    if (!qemuDomainGetMachineKind(&probe, &kind, error))
        return FALSE;
    *machineOut = canon;
    *typeOut = type;
    return TRUE;
}

static void
qemuDomainCapsCPUFormat(GString *buf, const qemuCaps *caps, qvirDomainVirtType type)
{
    const GPtrArray *models = qemuCapsGetCPUModels(caps);

    g_string_append(buf, "  <cpu>\n");
    /* -cpu host needs KVM. migratable= is not put on the command line, so it is not
     * offered as an enum. */
    g_string_append_printf(buf, "    <mode name='host-passthrough' supported='%s'/>\n",
                           type == QVIR_DOMAIN_VIRT_KVM ? "yes" : "no");
    g_string_append(buf, "    <mode name='maximum' supported='yes'/>\n");
    /* qvirt has no CPU model database to compute libvirt's host-model from */
    g_string_append(buf, "    <mode name='host-model' supported='no'/>\n");
    if (!models->len) {
        g_string_append(buf, "    <mode name='custom' supported='no'/>\n");
    } else {
        g_string_append(buf, "    <mode name='custom' supported='yes'>\n");
        for (guint i = 0; i < models->len; i++) {
            const qemuCapsCPUModel *m = g_ptr_array_index(models, i);
            /* usability was probed under TCG: for KVM it is not known */
            const char *usable = type == QVIR_DOMAIN_VIRT_KVM ? "unknown"
                                 : m->usable                  ? "yes"
                                                              : "no";

            g_string_append_printf(buf, "      <model usable='%s'%s vendor='%s'>%s</model>\n",
                                   usable, m->deprecated ? " deprecated='yes'" : "",
                                   m->vendor ? m->vendor : "unknown", m->name);
        }
        g_string_append(buf, "    </mode>\n");
    }
    g_string_append(buf, "  </cpu>\n");
}

static void
qemuDomainCapsDevicesFormat(GString *buf, const qemuCaps *caps, gboolean q35)
{
    g_string_append(buf, "  <devices>\n");

    g_string_append(buf, "    <disk supported='yes'>\n");
    ENUM(buf, 6, "diskDevice", {"disk", TRUE}, {"cdrom", TRUE}, {"floppy", TRUE}, {"lun", TRUE});
    ENUM(buf, 6, "bus", {"ide", !q35}, {"fdc", TRUE},
         {"scsi", qemuCapsGet(caps, QEMU_CAPS_DEVICE_VIRTIO_SCSI) ||
                      qemuCapsGet(caps, QEMU_CAPS_DEVICE_LSI)},
         {"virtio", qemuCapsGet(caps, QEMU_CAPS_DEVICE_VIRTIO_BLK)},
         {"usb", qemuCapsGet(caps, QEMU_CAPS_DEVICE_USB_STORAGE)},
         {"sata", qemuCapsGet(caps, QEMU_CAPS_DEVICE_AHCI)});
    ENUM(buf, 6, "model", {"virtio", TRUE},
         {"virtio-transitional", qemuCapsGet(caps, QEMU_CAPS_VIRTIO_PCI_TRANSITIONAL)},
         {"virtio-non-transitional", qemuCapsGet(caps, QEMU_CAPS_VIRTIO_PCI_TRANSITIONAL)});
    g_string_append(buf, "    </disk>\n");

    if (qemuCapsGet(caps, QEMU_CAPS_VNC)) {
        g_string_append(buf, "    <graphics supported='yes'>\n");
        ENUM(buf, 6, "type", {"vnc", TRUE});
        g_string_append(buf, "    </graphics>\n");
    } else {
        g_string_append(buf, "    <graphics supported='no'/>\n");
    }

    g_string_append(buf, "    <video supported='yes'>\n");
    ENUM(buf, 6, "modelType", {"vga", TRUE}, {"cirrus", TRUE}, {"qxl", TRUE}, {"virtio", TRUE},
         {"none", TRUE}, {"bochs", TRUE}, {"ramfb", TRUE});
    g_string_append(buf, "    </video>\n");

    g_string_append(buf, "    <hostdev supported='no'/>\n");

    g_string_append(buf, "    <rng supported='yes'>\n");
    ENUM(buf, 6, "model", {"virtio", TRUE});
    ENUM(buf, 6, "backendModel", {"random", TRUE}, {"builtin", TRUE});
    g_string_append(buf, "    </rng>\n");

    g_string_append(buf, "    <filesystem supported='no'/>\n"
                         "    <tpm supported='no'/>\n"
                         "    <redirdev supported='no'/>\n");

    g_string_append(buf, "    <channel supported='yes'>\n");
    ENUM(buf, 6, "type", {"pty", TRUE}, {"unix", TRUE});
    g_string_append(buf, "    </channel>\n");

    g_string_append(buf, "  </devices>\n");
}

char *
qemuDomainCapsFormat(const qemuCaps *caps, const char *machine, qvirDomainVirtType type)
{
    GString *buf = g_string_new("<domainCapabilities>\n");
    g_autofree char *path = g_markup_escape_text(qemuCapsGetBinary(caps), -1);
    unsigned int maxCpus = qemuCapsGetMachineMaxCpus(caps, machine);
    gboolean q35 = g_str_has_prefix(machine, "pc-q35-");

    if (type == QVIR_DOMAIN_VIRT_KVM) {
        unsigned int kvmMax = qemuDomainCapsKVMMaxVCPUs();

        if (kvmMax && (!maxCpus || kvmMax < maxCpus))
            maxCpus = kvmMax;
    }
    g_string_append_printf(buf, "  <path>%s</path>\n", path);
    g_string_append_printf(buf, "  <domain>%s</domain>\n", qvirDomainVirtTypeTypeToString(type));
    g_string_append_printf(buf, "  <machine>%s</machine>\n", machine);
    g_string_append_printf(buf, "  <arch>%s</arch>\n", qemuCapsGetArch(caps));
    if (maxCpus)
        g_string_append_printf(buf, "  <vcpu max='%u'/>\n", maxCpus);
    g_string_append(buf, "  <iothreads supported='yes'/>\n");

    /* no <loader>: firmware is always the binary's default BIOS */
    g_string_append(buf, "  <os supported='yes'>\n"
                         "    <enum name='firmware'/>\n"
                         "    <loader supported='no'/>\n"
                         "  </os>\n");
    qemuDomainCapsCPUFormat(buf, caps, type);
    g_string_append(buf, "  <memoryBacking supported='no'/>\n");
    qemuDomainCapsDevicesFormat(buf, caps, q35);

    /* backingStoreInput: a <backingStore> chain in the definition is used as given */
    g_string_append(buf, "  <features>\n"
                         "    <gic supported='no'/>\n"
                         "    <vmcoreinfo supported='no'/>\n"
                         "    <genid supported='no'/>\n"
                         "    <backingStoreInput supported='yes'/>\n"
                         "    <backup supported='no'/>\n"
                         "    <sev supported='no'/>\n"
                         "    <sgx supported='no'/>\n"
                         "    <hyperv supported='no'/>\n"
                         "  </features>\n"
                         "</domainCapabilities>\n");
    return g_string_free(buf, FALSE);
}
