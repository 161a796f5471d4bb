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
 */
#include <stdio.h>
#include <string.h>

#include "testutils.h"
#include "conf/domain_conf.h"
#include "conf/domain_validate.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_command.h"
#include "qemu/qemu_domain.h"

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
    {"q35-devices", "latest"},
    {"pc-devices", "latest"},
    /* legacy -drive (no -blockdev) */
    {"cache-none", "legacy"},
    {"cache-directsync", "legacy"},
    {"cache-unsafe", "legacy"},
    {"cache-writethrough", "legacy"},
    {"chain-depth-2", "legacy"},
    {"disk-cdrom-empty", "legacy"},
    {"disk-discard", "legacy"},
    /* capabilities the binary lacks */
    {"cache-directsync", "legacy-nocache"},
    {"cache-unsafe", "legacy-nocache"},
    {"cache-writeback", "legacy-nocache"},
    {"disk-io-uring", "legacy"},
    {"disk-discard", "legacy-nocache"},
};

/* libvirt's test suite treats /dev/cdrom as a host CD-ROM drive. */
static gboolean
qemuxml2argvIsCDROM(const char *path)
{
    return g_strcmp0(path, "/dev/cdrom") == 0;
}

/* The pipeline a start runs: parse, validate, prepare, validate against caps, build. */
static char *
qemuxml2argvRun(const char *xmlPath, const qemuCaps *caps, GError **error)
{
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *domainDir = NULL;
    qemuBuildCommandLineOpts opts = {.monitorFd = 1729, .startPaused = TRUE,
                                     .envPath = "/bin", .envUser = "test"};

    if (!(def = qvirDomainDefParseFile(xmlPath, 0, error)) ||
        !qvirDomainDefValidate(def, error))
        return NULL;
    domainDir = g_strdup_printf("/tmp/lib/domain--1-%s", def->name);
    opts.domainDir = domainDir;
    return qemuCommandLineFromDef(def, caps, &opts, error);
}

static void
qemuxml2argvTestCase(gconstpointer data)
{
    const qemuxml2argvCase *tc = data;
    g_autofree char *xmlRel = g_strdup_printf("qemuxml2argvdata/%s.xml", tc->name);
    g_autofree char *capsRel = g_strdup_printf("qemucapsdata/%s.json", tc->caps);
    g_autofree char *argsRel = g_strdup_printf("qemuxml2argvdata/%s.%s.args", tc->name,
                                               tc->caps);
    g_autofree char *errRel = g_strdup_printf("qemuxml2argvdata/%s.%s.err", tc->name,
                                              tc->caps);
    g_autofree char *xmlPath = qvirTestSrcPath(xmlRel);
    g_autofree char *capsPath = qvirTestSrcPath(capsRel);
    g_autofree char *argsPath = qvirTestSrcPath(argsRel);
    g_autofree char *errPath = qvirTestSrcPath(errRel);
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuCaps) caps = qemuCapsLoadFile(capsPath, &error);
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
    {"type='volume'", "storage pool volumes"},
    {"device='floppy'", "floppy drives"},
    {"vhostuser", "vhost-user"},
    {"type='nvme'", "NVMe disks"},
    {"s390", "s390"},
    {"arch='aarch64'", "non-x86 architectures"},
    {"arch='ppc64'", "non-x86 architectures"},
    {"arch='armv7l'", "non-x86 architectures"},
    {"arch='riscv64'", "non-x86 architectures"},
    {"arch='i686'", "non-x86 architectures"},
    {"bus='sd'", "SD bus"},
    {"error_policy", "disk error policies"},
    {"<geometry", "disk geometry"},
    {"<blockio", "block I/O sizes"},
    {"<wwn", "WWN"},
    {"<vendor", "SCSI vendor/product"},
    {"rotation_rate", "rotation rate"},
    {"<transient", "transient disks"},
    {"<slices", "storage slices"},
    {"<reservations", "persistent reservations"},
    {"metadata_cache", "metadata cache"},
    {"snapshot=", "per-disk snapshot modes"},
    {"fdgroup", "passed file descriptors"},
    {"startupPolicy", "startup policies"},
    {"<bootmenu", "boot menu"},
    {"<pae", "CPU features"},
    {"<cpu", "CPU models"},
    {"<memoryBacking", "memory backing"},
    {"<numa", "NUMA"},
    {"iothread", "I/O threads"},
    {"queues=", "multi-queue"},
    {"ioeventfd", "ioeventfd"},
    {"copy_on_read", "copy-on-read"},
    {"<seclabel", "security labels"},
    {"<auth", "authentication"},
    {"<encryption", "encryption"},
    {"device='lun'", "SCSI passthrough"},
    {"tray=", "tray state"},
    {"<hostdev", "host devices"},
    {"<channel", "channels"},
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
    {"<timer", "clock timers"},
    {"<pm>", "power management"},
    {"<idmap", "ID maps"},
    {"<launchSecurity", "launch security"},
    {"<qemu:", "QEMU namespace"},
    {"<iothreads", "I/O threads"},
    {"<memtune", "memory tuning"},
    {"<cputune", "CPU tuning"},
    {"<maxMemory", "memory hotplug"},
    {"<hugepages", "huge pages"},
    {"<vcpus>", "vCPU hotplug"},
    {"<resource", "resource partitions"},
    {"<keywrap", "key wrapping"},
    {"<genid", "VM generation ID"},
    {"<hyperv", "Hyper-V enlightenments"},
    {"<kvm>", "KVM features"},
    {"model='pci-bridge'", "PCI bridges"},
    {"dmi-to-pci-bridge", "PCI bridges"},
    {"pcie-to-pci-bridge", "PCI bridges"},
    {"pcie-switch", "PCIe switches"},
    {"pci-expander-bus", "PCI expander buses"},
    {"pcie-expander-bus", "PCI expander buses"},
    {"type='virtio-serial'", "virtio-serial"},
    {"type='ccid'", "CCID"},
    {"type='fdc'", "FDC"},
    {"type='xenbus'", "Xen"},
    {"type='xen'", "Xen"},
    {"type='isa'", "ISA controllers"},
    {"<audio", "audio backends"},
    {"type='sdl'", "SDL graphics"},
    {"ats=", "virtio options"},
    {"iommu=", "virtio options"},
    {"packed=", "virtio options"},
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
    g_autoptr(qemuCaps) caps = qemuCapsLoadFile(capsPath, &error);
    g_autoptr(GDir) d = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    qemuxml2argvTotals all = {0}, disk = {0};
    const char *name;

    if (!caps) {
        fprintf(stderr, "%s\n", error->message);
        return 1;
    }
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
        out = qemuxml2argvRun(xmlPath, caps, &err);
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
    printf("\nall cases:    %u total, %u pass, %u fail, %u n/a\n", all.total, all.pass,
           all.fail, all.na);
    printf("disk-* cases: %u total, %u pass, %u fail, %u n/a\n", disk.total, disk.pass,
           disk.fail, disk.na);
    return disk.fail == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    qemuDomainSetIsCDROMFunc(qemuxml2argvIsCDROM);

    for (int i = 1; i < argc; i++) {
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
        g_autofree char *path = g_strdup_printf("/qemuxml2argv/%s/%s", cases[i].name,
                                                cases[i].caps);

        g_test_add_data_func(path, &cases[i], qemuxml2argvTestCase);
    }
    return g_test_run();
}
