/*
 * qemuxml2argvtest: domain XML -> QEMU argv, the libvirt way.
 *
 *   tests/qemuxml2argvdata/NAME.xml  ->  NAME.CAPS.args  (or NAME.CAPS.err)
 *
 * one line per case below; QVIRT_TEST_REGENERATE_OUTPUT=1 rewrites the expected files.
 *
 * With --libvirt-data DIR (libvirt 9.0.0's tests/qemuxml2argvdata) the same pipeline
 * runs every NAME.xml that has a NAME.x86_64-latest.args and compares byte for byte,
 * printing pass / fail / n/a per case and the totals (all cases and disk-* cases).
 *
 * With --virsh (root; runs libvirt as nobody) every case's XML also goes through
 * libvirt 9.0's `virsh -c qemu:///embed?root=D domxml-to-native qemu-argv`, and the two
 * command lines are compared once environment, monitor and machine alias are set aside.
 */
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "testutils.h"
#include "conf/domain_conf.h"
#include "conf/domain_validate.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_command.h"
#include "qemu/qemu_domain.h"
#include "util/virerror.h"

typedef struct {
    const char *name;
    const char *caps; /* tests/qemucapsdata/CAPS.json */
} qemuxml2argvCase;

/* Expected output is NAME.CAPS.args, or NAME.CAPS.err when that file exists. */
static const qemuxml2argvCase cases[] = {
    /* every cache mode on every bus (ide, sata, scsi, virtio, usb) */
    {"cache-default", "latest"},
    {"cache-none", "latest"},
    {"cache-writethrough", "latest"},
    {"cache-writeback", "latest"},
    {"cache-directsync", "latest"},
    {"cache-unsafe", "latest"},
    {"cache-none-q35", "latest"},
    {"cache-unsafe-q35", "latest"},
    {"cache-virtio-scsi", "latest"},
    /* one vCPU online at start, one more hot-pluggable (libvirt's smp case) */
    {"vcpu-current", "latest"},
    /* the same with the recorded QEMU 7.2 */
    {"cache-none", "qemu-7.2"},
    {"cache-directsync", "qemu-7.2"},
    {"cache-unsafe-q35", "qemu-7.2"},
    /* backing chains of depth 0-12, explicit <backingStore> */
    {"chain-depth-0", "latest"},
    {"chain-depth-1", "latest"},
    {"chain-depth-2", "latest"},
    {"chain-depth-3", "latest"},
    {"chain-depth-4", "latest"},
    {"chain-depth-5", "latest"},
    {"chain-depth-6", "latest"},
    {"chain-depth-7", "latest"},
    {"chain-depth-8", "latest"},
    {"chain-depth-9", "latest"},
    {"chain-depth-10", "latest"},
    {"chain-depth-11", "latest"},
    {"chain-depth-12", "latest"},
    {"chain-unknown", "latest"},
    {"chain-vmdk", "latest"},
    {"chain-raw-base", "latest"},
    {"chain-multi-disk", "latest"},
    {"chain-cache-writethrough", "latest"},
    {"chain-backing-no-format", "latest"},
    /* formats, sources, devices */
    {"disk-raw", "latest"},
    {"disk-qcow2", "latest"},
    {"disk-block", "latest"},
    {"disk-cdrom", "latest"},
    {"disk-cdrom-empty", "latest"},
    {"disk-readonly", "latest"},
    {"disk-shareable", "latest"},
    {"disk-io-native", "latest"},
    {"disk-io-threads", "latest"},
    {"disk-io-uring", "latest"},
    {"disk-io-native-writeback", "latest"},
    {"disk-discard", "latest"},
    {"disk-detect-zeroes", "latest"},
    {"disk-serial", "latest"},
    {"disk-boot-order", "latest"},
    {"disk-network", "latest"},
    {"disk-many-virtio", "latest"},
    {"disk-frontend-props", "latest"},
    {"disk-frontend-props", "qemu-7.2"},
    {"disk-floppy", "latest"},
    {"disk-floppy-q35", "latest"},
    {"os-bootmenu", "latest"},
    {"os-bootmenu-off", "latest"},
    /* what libguestfs 1.48's libvirt backend sends, as libvirt 9.0's domxml-to-native has it */
    {"libguestfs", "latest"},
    {"libguestfs", "qemu-7.2"},
    {"serial-unix-bind", "latest"},
    /* every serial source type and a <log>; files go through -add-fd as libvirt starts them */
    {"serial-sources", "latest"},
    /* <apic eoi=>, <pvspinlock>, the kvmclock timer and an absolute clock */
    {"features-paravirt", "latest"},
    /* a unix serial or console without mode connects, as in libvirt */
    {"serial-unix-default", "latest"},
    /* tls='yes' on tcp serials, client and server, without chardev_tls in the config */
    {"serial-tcp-tls", "latest"},
    {"qemu-ns-bad-capability", "latest"},
    {"cpu-custom-audio", "latest"},
    {"cpu-custom-defaults", "latest"},
    {"virtio-serial-net-driver", "latest"},
    {"virtio-serial-net-driver-q35", "latest"},
    {"virt-install-pc", "latest"},
    {"virt-install-q35", "latest"},
    {"virt-install-pc", "qemu-7.2"},
    {"virt-install-q35", "qemu-7.2"},
    /* what define completes (qemu_postparse.c): machine, boot, CPU, implicit devices, a
     * pcie-to-pci-bridge for conventional PCI on q35, pci-serial, virtio console, ich9-ehci1 */
    {"postparse-q35-bridge", "qemu-7.2"},
    {"postparse-pc-consoles", "qemu-7.2"},
    {"postparse-console-only", "qemu-7.2"},
    {"guest-agent-rng", "latest"},
    {"guest-agent-rng-q35", "latest"},
    {"disk-iotune", "latest"},
    {"disk-metadata-cache", "latest"},
    {"disk-metadata-cache", "legacy"},
    {"disk-metadata-cache-raw", "latest"},
    {"disk-iothreads", "latest"},
    {"scsi-controller-models", "latest"},
    /* virtio-scsi's <driver queues= cmd_per_lun= max_sectors= ioeventfd=> */
    {"controller-virtio-scsi-driver", "latest"},
    /* pcie-root-ports placed by libvirt's single walk up the slots: an empty slot before
     * a partly used one shared by root ports */
    {"pcie-root-port-slot-walk", "latest"},
    /* <acpi index=> on PCI devices: "acpi-index" after the address */
    {"devices-acpi-index", "latest"},
    /* virt-install's USB2 (ICH9 EHCI + UHCI companions) on pc and q35, three USB2 buses
     * written out of order, companions placed by a peer's address, piix4-uhci and ehci */
    {"usb-ich9-virt-install", "latest"},
    {"usb-ich9-virt-install-noindex", "latest"},
    {"usb-ich9-q35", "latest"},
    {"usb-ich9-multi-bus", "latest"},
    {"usb-ich9-addr", "latest"},
    {"features-smm-tseg", "latest"},
    {"features-smm-off", "latest"},
    {"features-smm-tseg-pc", "latest"},
    {"features-smm-tseg-odd", "latest"},
    {"q35-devices", "latest"},
    {"pc-devices", "latest"},
    {"disk-transient-q35", "latest"},
    {"disk-transient-legacy", "legacy"},
    {"disk-transient-readonly", "latest"},
    {"disk-transient-block", "latest"},
    {"disk-transient-cdrom", "latest"},
    {"disk-transient-empty", "latest"},
    {"disk-transient-share-sata", "latest"},
    {"disk-transient-floppy", "latest"},
    /* legacy -drive (no -blockdev) */
    {"cache-none", "legacy"},
    {"cache-directsync", "legacy"},
    {"cache-unsafe", "legacy"},
    {"cache-writethrough", "legacy"},
    {"chain-depth-2", "legacy"},
    {"disk-cdrom-empty", "legacy"},
    {"disk-discard", "legacy"},
    {"disk-floppy", "legacy"},
    {"disk-frontend-props", "legacy"},
    /* capabilities the binary lacks */
    {"cache-directsync", "legacy-nocache"},
    {"cache-unsafe", "legacy-nocache"},
    {"cache-writeback", "legacy-nocache"},
    {"disk-io-uring", "legacy"},
    {"disk-discard", "legacy-nocache"},
    /* network disks, one protocol family each, checked against libvirt 9.0's
     * domxml-to-native (secret values and IVs aside: libvirt's master key is random) */
    {"disk-net-nbd", "latest"},
    {"disk-net-iscsi", "latest"},
    {"disk-net-rbd", "latest"},
    {"disk-net-curl", "latest"},
    {"disk-net-gluster-nfs", "latest"},
    {"disk-net-chain", "latest"},
    {"disk-net-tftp", "latest"},
    {"disk-net-nbd", "legacy"},
    /* what libvirt refuses only when it builds the command line */
    {"disk-net-err-tls-rbd", "latest"},
    {"disk-net-err-nbd-twohosts", "latest"},
    {"disk-net-err-nbd-nohost", "latest"},
    {"disk-net-err-nfs-port", "latest"},
    {"disk-net-err-rdma-gluster", "latest"},
    /* <encryption format='luks'>: QEMU's luks driver, qcow2's encrypt, librbd; the legacy
     * <encryption> under <disk>. libvirt's own luks-* and rbd cases run with --libvirt-data */
    {"disk-luks", "latest"},
    {"disk-luks-err-vmdk", "latest"},
    {"disk-luks-err-qcow", "latest"},
    {"disk-luks-err-luks2", "latest"},
    {"disk-luks-err-librbd-file", "latest"},
    {"disk-luks-err-cipher", "latest"},
    {"disk-luks-err-secret-type", "latest"},
    {"disk-luks-err-format", "latest"},
    {"disk-luks-err-both", "latest"},
    /* virtio-blk/-scsi/-serial models (transitional ones in conventional PCI slots), virtio
     * options (iommu, ats, packed, page_per_vq), lun passthrough with rawio/sgio; virtio
     * options on an lsilogic controller are kept in the XML and unused, as in libvirt */
    {"disk-virtio-transitional-q35", "latest"},
    {"disk-virtio-transitional-pc", "latest"},
    {"disk-virtio-options", "latest"},
    {"disk-lun-passthrough", "latest"},
    {"controller-lsi-virtio-options", "latest"},
    {"disk-err-sgio-unfiltered", "latest"},
    {"disk-err-rawio-disk", "latest"},
    {"disk-err-sgio-disk", "latest"},
    {"disk-err-lun-qcow2", "latest"},
    {"disk-err-lun-file", "latest"},
    {"disk-err-model-bus", "latest"},
    {"disk-err-virtio-option-bus", "latest"},
    /* bad input: clear errors, no crash */
    {"disk-bad-controller", "latest"},
    {"disk-bad-target", "latest"},
    {"disk-bad-pci", "latest"},
};

/* libvirt's test suite treats /dev/cdrom as a host CD-ROM drive. */
static gboolean
qemuxml2argvIsCDROM(const char *path)
{
    return g_strcmp0(path, "/dev/cdrom") == 0;
}

/*
 * libvirt's test secret driver: every secret holds the same value, found by any UUID or by
 * the two usage names its test data uses; any other usage is an error.
 */
static GBytes *
qemuxml2argvLookupSecret(void *opaque, const char *uuid, const char *usageType, const char *usageID,
                         GError **error)
{
    static const char value[] = "AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A";

    /* volume (LUKS passphrase) secrets are named by the image they unlock */
    if (!uuid && g_strcmp0(usageType, "volume") == 0) {
        if (!g_str_has_prefix(usageID ? usageID : "", "/storage/guest_disks/")) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "test provided invalid volume storage prefix '%s'", usageID ? usageID : "");
            return NULL;
        }
    } else if (!uuid && g_strcmp0(usageID, "mycluster_myname") != 0 &&
               g_strcmp0(usageID, "client.admin secret") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "test provided incorrect usage '%s'", usageID ? usageID : "");
        return NULL;
    }
    return g_bytes_new_static(value, strlen(value));
}

/* libvirt's tests mock random bytes as 0, 1, 2, ...: the master key and every IV. */
static const guint8 qemuxml2argvMasterKey[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                                 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                                 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* libvirt's test qemu.conf for network disks */
static const qemuBlockSecretCtx qemuxml2argvSecrets = {
    .lookup = qemuxml2argvLookupSecret,
    .masterKey = qemuxml2argvMasterKey,
    .fixedIV = TRUE,
    .nbdTLSx509certdir = "/etc/pki/libvirt-nbd/dummy,path",
    .nbdTLSx509secretUUID = "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea",
    /* qvirtd's default, as libvirt's (default_tls_x509_verify) */
    .chardevTLSx509verify = TRUE,
};

/* libvirt's tests hand QEMU fake descriptors for a chardev's file (1750) and log (1751). */
static int
qemuxml2argvOpenChrFile(void *opaque, const char *name, const char *path, gboolean append,
                        GError **error)
{
    return g_str_has_suffix(name, "-log") ? 1751 : 1750;
}

/* The pipeline a start runs: parse, validate, prepare, validate against caps, build. */
static char *
qemuxml2argvRunFull(const char *xmlPath, const qemuCaps *caps, gboolean passFiles,
                    const qemuBlockSecretCtx *secrets, GError **error)
{
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *domainDir = NULL;
    qemuBuildCommandLineOpts opts = {.monitorFd = 1729,
                                     .startPaused = TRUE,
                                     .envPath = "/bin",
                                     .envUser = "test",
                                     .secrets = secrets,
                                     .openChrFile = passFiles ? qemuxml2argvOpenChrFile : NULL};

    if (!(def = qvirDomainDefParseFile(xmlPath, 0, error)) || !qvirDomainDefValidate(def, error))
        return NULL;
    domainDir = g_strdup_printf("/tmp/lib/domain--1-%s", def->name);
    opts.domainDir = domainDir;
    return qemuCommandLineFromDef(def, caps, &opts, error);
}

/* As a start builds it: chardev files passed as descriptors. */
static char *
qemuxml2argvRun(const char *xmlPath, const qemuCaps *caps, GError **error)
{
    return qemuxml2argvRunFull(xmlPath, caps, TRUE, &qemuxml2argvSecrets, error);
}

/*
 * libvirt's qemuxml2argvtest turns chardev_tls on for its serial-tcp-tlsx509-* cases, with
 * its test certificate directory, and adds the key passphrase secret for -secret-chardev.
 */
static char *
qemuxml2argvRunLibvirtCase(const char *name, const char *xmlPath, const qemuCaps *caps,
                           GError **error)
{
    qemuBlockSecretCtx secrets = qemuxml2argvSecrets;

    if (g_str_has_prefix(name, "serial-tcp-tlsx509-")) {
        secrets.chardevTLS = TRUE;
        secrets.chardevTLSx509certdir = "/etc/pki/libvirt-chardev";
        secrets.chardevTLSx509verify = strstr(name, "-verify") != NULL;
        if (strstr(name, "-secret-"))
            secrets.chardevTLSx509secretUUID = "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea";
    }
    return qemuxml2argvRunFull(xmlPath, caps, TRUE, &secrets, error);
}

/* As libvirt's tests: the "latest" set keeps machine aliases as written. */
static qemuCaps *
qemuxml2argvLoadCaps(const char *path, GError **error)
{
    qemuCaps *caps = qemuCapsLoadFile(path, error);

    if (caps && g_str_has_suffix(path, "/latest.json"))
        qemuCapsStripMachineAliases(caps);
    return caps;
}

static void
qemuxml2argvTestCase(gconstpointer data)
{
    const qemuxml2argvCase *tc = data;
    g_autofree char *xmlRel = g_strdup_printf("qemuxml2argvdata/%s.xml", tc->name);
    g_autofree char *capsRel = g_strdup_printf("qemucapsdata/%s.json", tc->caps);
    g_autofree char *argsRel = g_strdup_printf("qemuxml2argvdata/%s.%s.args", tc->name, tc->caps);
    g_autofree char *errRel = g_strdup_printf("qemuxml2argvdata/%s.%s.err", tc->name, tc->caps);
    g_autofree char *xmlPath = qvirTestSrcPath(xmlRel);
    g_autofree char *capsPath = qvirTestSrcPath(capsRel);
    g_autofree char *argsPath = qvirTestSrcPath(argsRel);
    g_autofree char *errPath = qvirTestSrcPath(errRel);
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuCaps) caps = qemuxml2argvLoadCaps(capsPath, &error);
    g_autofree char *out = NULL;
    gboolean expectErr = g_file_test(errPath, G_FILE_TEST_EXISTS);

    g_assert_no_error(error);
    out = qemuxml2argvRun(xmlPath, caps, &error);

    if (qvirTestRegenerate() && !g_file_test(argsPath, G_FILE_TEST_EXISTS) && !expectErr)
        expectErr = out == NULL;
    if (expectErr) {
        g_autofree char *msg = NULL;

        if (out)
            g_error("%s with %s: expected an error, got a command line", tc->name, tc->caps);
        msg = g_strdup_printf("%s\n", error->message);
        g_assert_true(qvirTestCompareToFile(msg, errPath));
        return;
    }
    if (!out)
        g_error("%s with %s: %s", tc->name, tc->caps, error->message);
    g_assert_true(qvirTestCompareToFile(out, argsPath));
}

/* ---- libvirt's own data ------------------------------------------------------------ */

/*
 * Features qvirt rejects with a clear error. A libvirt case whose XML mentions one of
 * them and that our pipeline refuses counts as not applicable; any other refusal, and
 * any output that differs, is a failure.
 */
static const struct {
    const char *pattern; /* substring of the XML */
    const char *feature;
} qemuxml2argvNotApplicable[] = {
    {"type='network'", "network disks/interfaces"},
    /* libvirt's cases name volumes of its fake disk and iscsi pools and fat directory
     * volumes; qvirt's storage driver has dir and fs pools of files only */
    {"type='volume'", "volumes of disk/iscsi pools"},
    {"vhostuser", "vhost-user"},
    {"type='nvme'", "NVMe disks"},
    {"s390", "s390"},
    {"arch='aarch64'", "non-x86 architectures"},
    {"arch='ppc64'", "non-x86 architectures"},
    {"arch='armv7l'", "non-x86 architectures"},
    {"arch='riscv64'", "non-x86 architectures"},
    {"arch='i686'", "non-x86 architectures"},
    {"bus='sd'", "SD bus"},
    {"<slices", "storage slices"},
    {"<reservations", "persistent reservations"},
    {"fdgroup", "passed file descriptors"},
    {"<feature ", "CPU features"},
    {"<topology", "CPU topology"},
    {"<cpu mode='host-model'>", "host-model CPU definitions"},
    {"<memoryBacking", "memory backing"},
    {"<numa", "NUMA"},
    {"<seclabel", "security labels"},
    {"<auth", "authentication"},
    {"<hostdev", "host devices"},
    {"type='spicevmc'", "SPICE channels"},
    {"type='guestfwd'", "guestfwd channels"},
    {"type='qemu-vdagent'", "QEMU vdagent channels"},
    {"<sound", "sound"},
    {"<redirdev", "USB redirection"},
    {"type='spice'", "SPICE"},
    {"<filesystem", "filesystems"},
    {"<smartcard", "smartcards"},
    {"<watchdog", "watchdogs"},
    {"<rng", "RNG devices"},
    {"<tpm", "TPM"},
    {"<panic", "panic devices"},
    {"<shmem", "shared memory"},
    {"<iommu", "IOMMU"},
    {"<vsock", "vsock"},
    {"<sysinfo", "SMBIOS"},
    {"<loader", "firmware loaders"},
    {"<nvram", "NVRAM"},
    {"<hub", "USB hubs"},
    {"<parallel", "parallel ports"},
    {"<idmap", "ID maps"},
    {"<launchSecurity", "launch security"},
    {"<qemu:", "QEMU namespace"},
    {"<iothreadids", "I/O thread IDs"},
    {"<memtune", "memory tuning"},
    {"<cputune", "CPU tuning"},
    {"<maxMemory", "memory hotplug"},
    {"<hugepages", "huge pages"},
    {"<vcpus>", "vCPU hotplug"},
    {"<keywrap", "key wrapping"},
    {"<genid", "VM generation ID"},
    {"<hyperv", "Hyper-V enlightenments"},
    {"<kvm>", "KVM features"},
    {"model='ibmvscsi'", "SCSI controller models"},
    {"model='pci-bridge'", "PCI bridges"},
    {"dmi-to-pci-bridge", "PCI bridges"},
    {"pcie-to-pci-bridge", "PCI bridges"},
    {"pcie-switch", "PCIe switches"},
    {"pci-expander-bus", "PCI expander buses"},
    {"pcie-expander-bus", "PCI expander buses"},
    {"type='ccid'", "CCID"},
    {"type='xenbus'", "Xen"},
    {"type='xen'", "Xen"},
    {"type='isa'", "ISA controllers"},
    {"type='alsa'", "host audio backends"},
    {"type='pulseaudio'", "host audio backends"},
    {"type='coreaudio'", "host audio backends"},
    {"type='jack'", "host audio backends"},
    {"type='oss'", "host audio backends"},
    {"type='dbus'", "host audio backends"},
    {"<audio id='1' type='file'", "host audio backends"},
    {"timerPeriod", "audio backend settings"},
    {"<audio id='1' type='none'>", "audio backend settings"},
    {"type='sdl'", "SDL graphics"},
    /* disks and controllers take them; interfaces, balloons, inputs and the rest not yet */
    {"ats=", "virtio options on other devices"},
    {"iommu=", "virtio options on other devices"},
    {"packed=", "virtio options on other devices"},
};

typedef struct {
    guint total, pass, fail, na;
} qemuxml2argvTotals;

static const char *
qemuxml2argvFindNotApplicable(const char *xml)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qemuxml2argvNotApplicable); i++) {
        if (strstr(xml, qemuxml2argvNotApplicable[i].pattern))
            return qemuxml2argvNotApplicable[i].feature;
    }
    return NULL;
}

/* First line where A and B differ, for the report. */
static char *
qemuxml2argvFirstDiff(const char *a, const char *b)
{
    g_auto(GStrv) la = g_strsplit(a, "\n", -1);
    g_auto(GStrv) lb = g_strsplit(b, "\n", -1);

    for (guint i = 0; la[i] || lb[i]; i++) {
        if (!la[i] || !lb[i] || strcmp(la[i], lb[i]) != 0)
            return g_strdup_printf("line %u: ours '%s' libvirt '%s'", i + 1,
                                   la[i] ? la[i] : "(end)", lb[i] ? lb[i] : "(end)");
    }
    return g_strdup("identical");
}

static gint
qemuxml2argvCompareNames(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
qemuxml2argvRunLibvirt(const char *dir, const char *only)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *capsPath = qvirTestSrcPath("qemucapsdata/latest.json");
    g_autoptr(qemuCaps) caps = qemuxml2argvLoadCaps(capsPath, &error);
    g_autoptr(GDir) d = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    qemuxml2argvTotals all = {0}, disk = {0};
    const char *name;

    if (!caps) {
        fprintf(stderr, "%s\n", error->message);
        return 1;
    }
    /* libvirt's test capabilities come from a host with KVM */
    qemuCapsSet(caps, QEMU_CAPS_KVM);
    if (!(d = g_dir_open(dir, 0, &error))) {
        fprintf(stderr, "%s\n", error->message);
        return 1;
    }
    while ((name = g_dir_read_name(d))) {
        if (g_str_has_suffix(name, ".x86_64-latest.args"))
            g_ptr_array_add(names, g_strndup(name, strlen(name) - strlen(".x86_64-latest.args")));
    }
    g_ptr_array_sort(names, qemuxml2argvCompareNames);

    for (guint i = 0; i < names->len; i++) {
        const char *n = g_ptr_array_index(names, i);
        g_autofree char *xmlPath = g_strdup_printf("%s/%s.xml", dir, n);
        g_autofree char *argsPath = g_strdup_printf("%s/%s.x86_64-latest.args", dir, n);
        g_autofree char *xml = NULL;
        g_autofree char *expected = NULL;
        g_autofree char *out = NULL;
        g_autoptr(GError) err = NULL;
        gboolean isDisk = g_str_has_prefix(n, "disk-");
        qemuxml2argvTotals *t[2] = {&all, isDisk ? &disk : NULL};
        const char *na;
        int verdict; /* 0 pass, 1 fail, 2 n/a */

        if (only && !g_str_has_prefix(n, only))
            continue;
        if (!g_file_get_contents(xmlPath, &xml, NULL, NULL) ||
            !g_file_get_contents(argsPath, &expected, NULL, NULL))
            continue;
        out = qemuxml2argvRunLibvirtCase(n, xmlPath, caps, &err);
        na = qemuxml2argvFindNotApplicable(xml);
        if (out && strcmp(out, expected) == 0) {
            verdict = 0;
            printf("pass %s\n", n);
        } else if (!out && na) {
            verdict = 2;
            printf("n/a  %s: %s (%s)\n", n, na, err->message);
        } else if (!out) {
            verdict = 1;
            printf("FAIL %s: %s\n", n, err->message);
        } else {
            g_autofree char *diff = qemuxml2argvFirstDiff(out, expected);

            verdict = 1;
            printf("FAIL %s: %s%s\n", n, diff, na ? " [uses an n/a feature]" : "");
        }
        for (size_t k = 0; k < 2; k++) {
            if (!t[k])
                continue;
            t[k]->total++;
            if (verdict == 0)
                t[k]->pass++;
            else if (verdict == 1)
                t[k]->fail++;
            else
                t[k]->na++;
        }
    }
    printf("\nall cases:    %u total, %u pass, %u fail, %u n/a\n", all.total, all.pass, all.fail,
           all.na);
    printf("disk-* cases: %u total, %u pass, %u fail, %u n/a\n", disk.total, disk.pass, disk.fail,
           disk.na);
    return disk.fail == 0 ? 0 : 1;
}

/* ---- comparison with libvirt itself ------------------------------------------------- */

/*
 * One argument group per line from "-name" on, without what legitimately differs
 * between a test run and libvirt's embedded driver: environment and emulator, monitor
 * socket, master-key path, and the machine alias libvirt canonicalises at define time.
 */
static GPtrArray *
qemuxml2argvNormalise(const char *text)
{
    g_autoptr(GString) joined = g_string_new(NULL);
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
    const char *start;
    const char *p;

    for (p = text; *p; p++) {
        if (p[0] == ' ' && p[1] == '\\' && p[2] == '\n') {
            g_string_append_c(joined, ' ');
            p += 2;
        } else if (*p != '\n') {
            g_string_append_c(joined, *p);
        }
    }
    if (!(start = strstr(joined->str, " -name ")))
        return g_steal_pointer(&out);
    for (p = start + 1; *p;) {
        const char *end = p + 1;
        g_autofree char *arg = NULL;

        while (*end && !(end[0] == ' ' && end[1] == '-' && g_ascii_islower(end[2])))
            end++;
        arg = g_strndup(p, end - p);
        p = *end ? end + 1 : end;
        if (strstr(arg, "charmonitor") || strstr(arg, "master-key"))
            continue;
        /* a listening channel socket: libvirt's embedded driver gives its path, our test
         * harness (like libvirt's own) a passed fd */
        if (g_str_has_prefix(arg, "-chardev socket,") && strstr(arg, ",server=on,wait=off")) {
            const char *id = strstr(arg, "id=");
            const char *idEnd = id ? strchr(id, ',') : NULL;
            char *fixed = g_strdup_printf("-chardev socket,%.*s,SOCKET,server=on,wait=off",
                                          idEnd ? (int)(idEnd - id) : 0, id ? id : "");

            g_free(arg);
            arg = fixed;
        }
        if (g_str_has_prefix(arg, "-machine pc-q35-") ||
            g_str_has_prefix(arg, "-machine pc-i440fx-")) {
            const char *comma = strchr(arg, ',');
            char *fixed = g_strdup_printf("-machine %s%s",
                                          g_str_has_prefix(arg, "-machine pc-q35-") ? "q35" : "pc",
                                          comma ? comma : "");

            g_free(arg);
            arg = fixed;
        }
        g_ptr_array_add(out, g_steal_pointer(&arg));
    }
    return g_steal_pointer(&out);
}

static char *
qemuxml2argvVirsh(const char *work, const char *xmlPath, char **errOut)
{
    g_autofree char *home = g_strdup_printf("HOME=%s", work);
    g_autofree char *run = g_strdup_printf("XDG_RUNTIME_DIR=%s/run", work);
    g_autofree char *conf = g_strdup_printf("XDG_CONFIG_HOME=%s/config", work);
    g_autofree char *cache = g_strdup_printf("XDG_CACHE_HOME=%s/cache", work);
    g_autofree char *uri = g_strdup_printf("qemu:///embed?root=%s/embed", work);
    /* libvirt 9.0 itself spins on some bad input (disk-bad-target's 'sdzzzzz'): bound it */
    const char *argv[] = {"timeout",
                          "60",
                          "runuser",
                          "-u",
                          "nobody",
                          "--",
                          "env",
                          "-i",
                          "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                          home,
                          run,
                          conf,
                          cache,
                          "virsh",
                          "-c",
                          uri,
                          "domxml-to-native",
                          "qemu-argv",
                          xmlPath,
                          NULL};
    char *out = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, errOut,
                      &status, NULL) ||
        !g_spawn_check_wait_status(status, NULL)) {
        g_free(out);
        return NULL;
    }
    return out;
}

/* Our pipeline (recorded QEMU 7.2 capabilities) against libvirt 9.0 on the same XML. */
static int
qemuxml2argvRunVirshCompare(void)
{
    g_autofree char *capsPath = qvirTestSrcPath("qemucapsdata/qemu-7.2.json");
    g_autoptr(qemuCaps) caps = qemuxml2argvLoadCaps(capsPath, NULL);
    g_autofree char *work = g_dir_make_tmp("qemuxml2argv-virsh-XXXXXX", NULL);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    guint same = 0, differ = 0, bothRefuse = 0, skipped = 0;

    if (!caps || !work || g_chmod(work, 0777) < 0) {
        fprintf(stderr, "cannot set up the comparison\n");
        return 1;
    }
    /* libvirt asks the host whether a device is a CD-ROM drive; so do we, here */
    qemuDomainSetIsCDROMFunc(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *name = cases[i].name;
        g_autofree char *rel = g_strdup_printf("qemuxml2argvdata/%s.xml", name);
        g_autofree char *src = qvirTestSrcPath(rel);
        g_autofree char *copy = g_strdup_printf("%s/%s.xml", work, name);
        g_autofree char *xml = NULL;
        g_autofree char *lvErr = NULL;
        g_autofree char *ours = NULL;
        g_autofree char *theirs = NULL;
        g_autoptr(GError) err = NULL;

        if (!g_hash_table_add(seen, (gpointer)name))
            continue;
        if (!g_file_get_contents(src, &xml, NULL, NULL) ||
            !g_file_set_contents(copy, xml, -1, NULL) || g_chmod(copy, 0644) < 0)
            continue;
        /* domxml-to-native opens no files: QEMU gets the paths */
        ours = qemuxml2argvRunFull(src, caps, FALSE, &qemuxml2argvSecrets, &err);
        theirs = qemuxml2argvVirsh(work, copy, &lvErr);
        if (!theirs && lvErr && strstr(lvErr, "tap device")) {
            skipped++;
            printf("skip %s: libvirt cannot run it unprivileged (%s)\n", name, g_strstrip(lvErr));
        } else if (!ours && !theirs) {
            bothRefuse++;
            printf("both refuse %s: ours '%s' libvirt '%s'\n", name, err->message,
                   lvErr ? g_strstrip(lvErr) : "");
        } else if (!ours && qemuxml2argvFindNotApplicable(xml)) {
            skipped++;
            printf("n/a  %s: %s (%s)\n", name, qemuxml2argvFindNotApplicable(xml), err->message);
        } else if (!ours || !theirs) {
            differ++;
            printf("DIFF %s: %s\n", name, ours ? g_strstrip(lvErr) : err->message);
        } else {
            g_autoptr(GPtrArray) a = qemuxml2argvNormalise(ours);
            g_autoptr(GPtrArray) b = qemuxml2argvNormalise(theirs);
            guint k;

            for (k = 0; k < a->len && k < b->len; k++) {
                if (strcmp(g_ptr_array_index(a, k), g_ptr_array_index(b, k)) != 0)
                    break;
            }
            if (k == a->len && k == b->len) {
                same++;
                printf("same %s\n", name);
            } else {
                differ++;
                printf("DIFF %s at %u: ours '%s' libvirt '%s'\n", name, k,
                       k < a->len ? (char *)g_ptr_array_index(a, k) : "(end)",
                       k < b->len ? (char *)g_ptr_array_index(b, k) : "(end)");
            }
        }
    }
    printf("\nagainst libvirt 9.0 domxml-to-native: %u same, %u both refuse, %u differ, "
           "%u skipped or n/a\n",
           same, bothRefuse, differ, skipped);
    qvirTestTempDirRemove(work);
    return differ == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    qemuDomainSetIsCDROMFunc(qemuxml2argvIsCDROM);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--virsh") == 0)
            return qemuxml2argvRunVirshCompare();
        if (strcmp(argv[i], "--libvirt-data") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "usage: %s --libvirt-data DIR [PREFIX]\n", argv[0]);
                return 2;
            }
            return qemuxml2argvRunLibvirt(argv[i + 1], i + 2 < argc ? argv[i + 2] : NULL);
        }
    }

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/qemuxml2argv/%s/%s", cases[i].name, cases[i].caps);

        g_test_add_data_func(path, &cases[i], qemuxml2argvTestCase);
    }
    return g_test_run();
}
