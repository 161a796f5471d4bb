/*
 * difftestgen.c: seeded domain XML over the space qvirt accepts (and a little beyond, so
 * that refusals are compared too): machine types and their aliases, boot orders given in
 * <os> or per device, every disk bus with the devices it takes, every cache and io mode,
 * image formats and backing chains made by the real qemu-img, implicit and explicit
 * controllers, and the non-disk devices qvirt parses.
 *
 * Every choice draws from one splitmix64 stream seeded by the seed alone, so a seed names
 * one document for as long as the generator's code stays the same. Adding a choice changes
 * what the seeds make; the CI corpus then changes as a whole, which is fine: it is compared
 * against libvirt, not against stored output.
 */
#include "difftestgen.h"

#include <string.h>
#include <glib/gstdio.h>

#include "../testutils.h"

typedef struct {
    guint64 state;
} Rng;

/* splitmix64 (Steele, Lea, Flood 2014): tiny, and its output for a seed never changes. */
static guint64
rngNext(Rng *r)
{
    guint64 z = (r->state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static guint
rngBelow(Rng *r, guint n)
{
    return (guint)(rngNext(r) % n);
}

/* TRUE with probability PERCENT/100. */
static gboolean
rngChance(Rng *r, guint percent)
{
    return rngBelow(r, 100) < percent;
}

#define PICK(r, arr) ((arr)[rngBelow((r), G_N_ELEMENTS(arr))])

typedef enum {
    BUS_VIRTIO,
    BUS_SATA,
    BUS_SCSI,
    BUS_IDE,
    BUS_USB,
    BUS_FDC,
} Bus;

static const char *const busNames[] = {"virtio", "sata", "scsi", "ide", "usb", "fdc"};

/*
 * Most documents are meant to be valid for libvirt 9.0; one in seven carries exactly one
 * thing libvirt refuses (at define or at start), so refusals are compared too without
 * drowning the accepted space in them.
 */
typedef enum {
    R_NONE,
    R_IO_NATIVE,        /* io='native' with cache='writeback' */
    R_COR_READONLY,     /* copy_on_read on a read-only disk */
    R_WWN_SATA,         /* <wwn> on a SATA disk */
    R_RERROR_ENOSPACE,  /* rerror_policy='enospace' */
    R_LUN_FILE,         /* device='lun' on a file */
    R_IDE_Q35,          /* an IDE disk on q35 (on i440fx it is fine) */
    R_MACHINE,          /* a machine type QEMU 7.2 does not have */
    R_BOOT_MIX,         /* <os><boot> and per-device <boot order> together */
    R_IOTHREAD_UNDEF,   /* iothread='3' without such an iothread */
    R_SHARE_QCOW2,      /* <shareable/> on qcow2 */
    R_READONLY_SATA,    /* <readonly/> on a SATA disk */
    R_HOST_PASSTHROUGH, /* cpu host-passthrough under TCG */
    R_USB_NONE_INPUT,   /* a USB tablet with <controller type='usb' model='none'> */
    R_BAD_CACHE,        /* cache='fast' */
    R_LAST,
} Refusal;

typedef struct {
    Rng rng;
    const char *name;
    const char *imageDir; /* this domain's own directory of images */
    gboolean q35;
    GString *xml;
    guint nImages;
    /* next free target letter per name prefix */
    guint vd, sd, hd, fd;
    guint bootOrder;    /* next per-device boot order; 0 = per-device boot not used */
    gboolean iothreads; /* <iothreads>1</iothreads> is defined */
    Refusal refusal;
    guint nDisks;
    guint sataUnit;
    gboolean noUsb; /* <controller type='usb' model='none'> */
    gboolean haveScsi, haveSata, haveIde, haveUsbDisk;
} Gen;

static void
genRun(const char *const *argv)
{
    qvirTestRunOk(argv);
}

/* qemu-img create -q -f FMT [-b BACKING -F BFMT] DIR/FILE 1M; returns FILE's full path. */
static char *
genImageCreate(Gen *g, const char *fmt, const char *backing, const char *backingFmt)
{
    g_autofree char *file = g_strdup_printf("img%u.%s", g->nImages++, fmt);
    char *path = g_build_filename(g->imageDir, file, NULL);
    const char *argv[14] = {"qemu-img", "create", "-q", "-f", fmt};
    int n = 5;

    if (backing) {
        argv[n++] = "-b";
        argv[n++] = backing;
        argv[n++] = "-F";
        argv[n++] = backingFmt;
    }
    argv[n++] = path;
    argv[n++] = "1M";
    argv[n] = NULL;
    genRun(argv);
    return path;
}

/* A backing file name as the overlay records it: absolute, or relative to its directory. */
static const char *
genBackingName(Gen *g, const char *path)
{
    return rngChance(&g->rng, 40) ? strrchr(path, '/') + 1 : path;
}

/*
 * An image with a chain of the shapes libvirt knows: raw; qcow2 alone or over qcow2 / raw /
 * qed / vmdk (absolute or relative backing names, up to three layers); qed alone, over raw
 * (the only format QED records) or over qcow2 (libvirt probes it); vmdk alone or over vmdk.
 * *FMT gets the top's format.
 */
static char *
genImage(Gen *g, const char **fmt)
{
    Rng *r = &g->rng;
    g_autofree char *base = NULL;
    g_autofree char *mid = NULL;

    switch (rngBelow(r, 12)) {
    case 0:
    case 1:
        *fmt = "raw";
        return genImageCreate(g, "raw", NULL, NULL);
    case 2:
    case 3:
        *fmt = "qcow2";
        return genImageCreate(g, "qcow2", NULL, NULL);
    case 4:
        base = genImageCreate(g, "qcow2", NULL, NULL);
        *fmt = "qcow2";
        return genImageCreate(g, "qcow2", genBackingName(g, base), "qcow2");
    case 5:
        base = genImageCreate(g, "qcow2", NULL, NULL);
        mid = genImageCreate(g, "qcow2", genBackingName(g, base), "qcow2");
        *fmt = "qcow2";
        return genImageCreate(g, "qcow2", genBackingName(g, mid), "qcow2");
    case 6:
        base = genImageCreate(g, "raw", NULL, NULL);
        *fmt = "qcow2";
        return genImageCreate(g, "qcow2", genBackingName(g, base), "raw");
    case 7:
        *fmt = "qed";
        return genImageCreate(g, "qed", NULL, NULL);
    case 8:
        base = genImageCreate(g, "raw", NULL, NULL);
        *fmt = "qed";
        return genImageCreate(g, "qed", genBackingName(g, base), "raw");
    case 9:
        base = genImageCreate(g, "qcow2", NULL, NULL);
        *fmt = "qed";
        return genImageCreate(g, "qed", genBackingName(g, base), "qcow2");
    case 10:
        *fmt = "vmdk";
        if (rngChance(r, 50))
            return genImageCreate(g, "vmdk", NULL, NULL);
        base = genImageCreate(g, "vmdk", NULL, NULL);
        return genImageCreate(g, "vmdk", genBackingName(g, base), "vmdk");
    default:
        base = rngChance(r, 50) ? genImageCreate(g, "qed", NULL, NULL)
                                : genImageCreate(g, "vmdk", NULL, NULL);
        *fmt = "qcow2";
        return genImageCreate(g, "qcow2", genBackingName(g, base),
                              g_str_has_suffix(base, ".qed") ? "qed" : "vmdk");
    }
}

static char *
genTarget(Gen *g, Bus bus)
{
    switch (bus) {
    case BUS_VIRTIO:
        return g_strdup_printf("vd%c", 'a' + g->vd++);
    case BUS_IDE:
        return g_strdup_printf("hd%c", 'a' + g->hd++);
    case BUS_FDC:
        return g_strdup_printf("fd%c", 'a' + g->fd++);
    default:
        return g_strdup_printf("sd%c", 'a' + g->sd++);
    }
}

/* The bus of the next disk. */
static Bus
genBus(Gen *g)
{
    Rng *r = &g->rng;

    if (g->nDisks == 0) {
        /* the refusals below that need a particular bus on the first disk */
        switch (g->refusal) {
        case R_WWN_SATA:
        case R_READONLY_SATA:
            return BUS_SATA;
        case R_IDE_Q35:
            return BUS_IDE;
        case R_COR_READONLY:
        case R_IOTHREAD_UNDEF:
        case R_LUN_FILE:
            return BUS_VIRTIO;
        default:
            break;
        }
    }
    for (int tries = 0; tries < 8; tries++) {
        Bus bus = rngBelow(r, 6);

        if (bus == BUS_IDE && (g->hd >= 4 || g->q35))
            continue;
        if (bus == BUS_FDC && g->fd >= 2)
            continue;
        if (bus == BUS_USB && !rngChance(r, 60))
            continue;
        return bus;
    }
    return BUS_VIRTIO;
}

static gboolean
genRefusal(Gen *g, Refusal which)
{
    return g->refusal == which && g->nDisks == 0;
}

static void
genDisk(Gen *g)
{
    static const char *const caches[] = {"none",       "writethrough", "writeback",
                                         "directsync", "unsafe",       "default"};
    static const char *const ios[] = {"native", "threads", "io_uring"};
    static const char *const errorPolicies[] = {"stop", "report", "ignore", "enospace"};
    static const char *const rerrorPolicies[] = {"stop", "report", "ignore"};
    Rng *r = &g->rng;
    GString *x = g->xml;
    Bus bus = genBus(g);
    g_autofree char *target = genTarget(g, bus);
    g_autofree char *image = NULL;
    const char *device = "disk";
    const char *fmt = "raw";
    const char *cache = NULL;
    const char *io = NULL;
    gboolean media = TRUE;
    gboolean readonly = FALSE;
    gboolean isDisk;

    if (bus == BUS_FDC)
        device = "floppy";
    else if ((bus == BUS_SATA || bus == BUS_IDE || bus == BUS_SCSI) && rngChance(r, 35))
        device = "cdrom";
    else if (bus == BUS_USB && rngChance(r, 15))
        device = "cdrom";
    if (genRefusal(g, R_LUN_FILE) || genRefusal(g, R_COR_READONLY) || genRefusal(g, R_WWN_SATA) ||
        genRefusal(g, R_READONLY_SATA))
        device = genRefusal(g, R_LUN_FILE) ? "lun" : "disk";
    isDisk = strcmp(device, "disk") == 0;

    if (strcmp(device, "cdrom") == 0 || strcmp(device, "floppy") == 0) {
        /* QEMU's usb-storage needs a medium: an empty USB cdrom only tests QEMU's error */
        media = bus == BUS_USB || rngChance(r, 60);
        if (media) {
            image = genImageCreate(g, "raw", NULL, NULL);
            fmt = "raw";
        }
        readonly = strcmp(device, "cdrom") == 0;
    } else if (genRefusal(g, R_SHARE_QCOW2)) {
        image = genImageCreate(g, "qcow2", NULL, NULL);
        fmt = "qcow2";
    } else {
        image = genImage(g, &fmt);
    }

    if (rngChance(r, 75))
        cache = PICK(r, caches);
    if (rngChance(r, 25))
        io = PICK(r, ios);
    /* libvirt: io='native' needs cache none or directsync */
    if (io && strcmp(io, "native") == 0 &&
        !(cache && (strcmp(cache, "none") == 0 || strcmp(cache, "directsync") == 0)))
        cache = rngChance(r, 50) ? "none" : "directsync";
    if (genRefusal(g, R_IO_NATIVE)) {
        io = "native";
        cache = "writeback";
    }
    if (genRefusal(g, R_BAD_CACHE))
        cache = "fast";

    g_string_append_printf(x, "    <disk type='file' device='%s'>\n", device);
    if (rngChance(r, 92) || cache || io) {
        g_string_append(x, "      <driver name='qemu'");
        if (!(strcmp(fmt, "raw") == 0 && rngChance(r, 15)))
            g_string_append_printf(x, " type='%s'", fmt);
        if (cache)
            g_string_append_printf(x, " cache='%s'", cache);
        if (io)
            g_string_append_printf(x, " io='%s'", io);
        if (rngChance(r, 10))
            g_string_append_printf(x, " discard='%s'", rngChance(r, 50) ? "unmap" : "ignore");
        if (rngChance(r, 8))
            g_string_append_printf(x, " detect_zeroes='%s'", rngChance(r, 50) ? "on" : "off");
        /* QEMU's floppy device has no error policy properties */
        if (bus != BUS_FDC && rngChance(r, 8))
            g_string_append_printf(x, " error_policy='%s'", PICK(r, errorPolicies));
        if (bus != BUS_FDC && rngChance(r, 4))
            g_string_append_printf(x, " rerror_policy='%s'", PICK(r, rerrorPolicies));
        if (genRefusal(g, R_RERROR_ENOSPACE))
            g_string_append(x, " rerror_policy='enospace'");
        if ((isDisk && !readonly && rngChance(r, 4)) || genRefusal(g, R_COR_READONLY))
            g_string_append(x, " copy_on_read='on'");
        if (bus == BUS_VIRTIO && rngChance(r, 6))
            g_string_append(x, " queues='2'");
        if (bus == BUS_VIRTIO && rngChance(r, 4))
            g_string_append(x, " queue_size='256'");
        if (bus == BUS_VIRTIO && g->iothreads && rngChance(r, 40))
            g_string_append(x, " iothread='1'");
        if (genRefusal(g, R_IOTHREAD_UNDEF))
            g_string_append(x, " iothread='3'");
        g_string_append(x, "/>\n");
    }
    if (image)
        g_string_append_printf(x, "      <source file='%s'/>\n", image);
    g_string_append_printf(x, "      <target dev='%s' bus='%s'", target, busNames[bus]);
    if (bus == BUS_USB && isDisk && rngChance(r, 20))
        g_string_append(x, " removable='on'");
    if ((bus == BUS_SATA || bus == BUS_SCSI || bus == BUS_IDE) && isDisk && rngChance(r, 6))
        g_string_append(x, " rotation_rate='1'");
    if (strcmp(device, "cdrom") == 0 && rngChance(r, 5))
        g_string_append(x, " tray='open'");
    g_string_append(x, "/>\n");
    if (rngChance(r, 4) && media)
        g_string_append(x, "      <iotune>\n"
                           "        <total_iops_sec>1000</total_iops_sec>\n"
                           "      </iotune>\n");
    /* QEMU's floppy takes 512-byte blocks only */
    if (bus != BUS_FDC && rngChance(r, 4))
        g_string_append(x,
                        "      <blockio logical_block_size='512' physical_block_size='4096'/>\n");
    if (g->bootOrder && rngChance(r, 50))
        g_string_append_printf(x, "      <boot order='%u'/>\n", g->bootOrder++);
    /* libvirt refuses read-only IDE and SATA disks */
    if (readonly || genRefusal(g, R_READONLY_SATA) || genRefusal(g, R_COR_READONLY) ||
        (isDisk && bus != BUS_SATA && bus != BUS_IDE && rngChance(r, 8))) {
        readonly = TRUE;
        g_string_append(x, "      <readonly/>\n");
    }
    /* shareable needs raw (libvirt refuses it on qcow2 and the like) */
    if ((!readonly && strcmp(fmt, "raw") == 0 && image && isDisk && rngChance(r, 8)) ||
        genRefusal(g, R_SHARE_QCOW2))
        g_string_append(x, "      <shareable/>\n");
    /* libvirt 9.0's transient disk: a writable file disk whose changes QEMU keeps in an
     * overlay that is discarded when the domain stops */
    else if (!readonly && image && isDisk && rngChance(r, 5))
        g_string_append(x, "      <transient/>\n");
    if (bus != BUS_FDC && rngChance(r, 10))
        g_string_append_printf(x, "      <serial>%s-%s</serial>\n", g->name, target);
    if (((bus == BUS_SCSI || bus == BUS_IDE) && rngChance(r, 5)) || genRefusal(g, R_WWN_SATA))
        g_string_append_printf(x, "      <wwn>0x5000c500%08x</wwn>\n", g->sd + g->hd);
    if (bus == BUS_SCSI && isDisk && rngChance(r, 5))
        g_string_append(x, "      <vendor>QVIRT</vendor>\n"
                           "      <product>DIFFTEST</product>\n");
    if (bus == BUS_SATA && rngChance(r, 25))
        g_string_append_printf(x,
                               "      <address type='drive' controller='0' bus='0' target='0' "
                               "unit='%u'/>\n",
                               g->sataUnit + 2);
    g_string_append(x, "    </disk>\n");

    g->haveScsi |= bus == BUS_SCSI;
    g->haveSata |= bus == BUS_SATA;
    g->haveIde |= bus == BUS_IDE;
    g->haveUsbDisk |= bus == BUS_USB;
    g->sataUnit += bus == BUS_SATA;
    g->nDisks++;
}

static void
genControllers(Gen *g)
{
    static const char *const scsiModels[] = {"virtio-scsi", "lsilogic", "lsisas1068", "lsisas1078",
                                             "vmpvscsi"};
    /* "usb2": virt-install's ICH9 EHCI with its three UHCI companions, written its way */
    static const char *const usbModelsQ35[] = {"qemu-xhci", "nec-xhci", "ich9-ehci1", "none",
                                               "usb2"};
    static const char *const usbModelsPC[] = {"piix3-uhci", "qemu-xhci", "ehci",      "pci-ohci",
                                              "none",       "usb2",      "piix4-uhci"};
    Rng *r = &g->rng;
    GString *x = g->xml;

    if (g->haveScsi && rngChance(r, 60))
        g_string_append_printf(x, "    <controller type='scsi' index='0' model='%s'/>\n",
                               PICK(r, scsiModels));
    if (rngChance(r, 30)) {
        const char *model = g->q35 ? PICK(r, usbModelsQ35) : PICK(r, usbModelsPC);

        /* without a USB bus, USB disks and inputs are refused */
        if (strcmp(model, "none") == 0 && g->haveUsbDisk)
            model = "qemu-xhci";
        if (g->refusal == R_USB_NONE_INPUT)
            model = "none";
        g->noUsb = strcmp(model, "none") == 0;
        if (strcmp(model, "usb2") == 0) {
            g_string_append(x, "    <controller type='usb' model='ich9-ehci1'/>\n");
            for (guint i = 0; i < 3; i++)
                g_string_append_printf(x,
                                       "    <controller type='usb' model='ich9-uhci%u'>\n"
                                       "      <master startport='%u'/>\n"
                                       "    </controller>\n",
                                       i + 1, 2 * i);
        } else {
            g_string_append_printf(x, "    <controller type='usb' index='0' model='%s'/>\n", model);
        }
    }
    if (g->haveSata && rngChance(r, 30))
        g_string_append(x, "    <controller type='sata' index='0'/>\n");
    if (!g->q35 && g->haveIde && rngChance(r, 30))
        g_string_append(x, "    <controller type='ide' index='0'/>\n");
    if (g->q35 && rngChance(r, 15))
        g_string_append(x, "    <controller type='pci' index='0' model='pcie-root'/>\n");
    if (!g->q35 && rngChance(r, 15))
        g_string_append(x, "    <controller type='pci' index='0' model='pci-root'/>\n");
    if (g->q35 && rngChance(r, 15)) {
        guint n = 1 + rngBelow(r, 3);

        for (guint i = 1; i <= n; i++)
            g_string_append_printf(
                x, "    <controller type='pci' index='%u' model='pcie-root-port'/>\n", i);
    }
    if (rngChance(r, 8))
        g_string_append(x, "    <controller type='virtio-serial' index='0'/>\n");
}

static void
genOtherDevices(Gen *g, guint64 seed)
{
    static const char *const nicModels[] = {"virtio", "e1000", "e1000e", "rtl8139"};
    static const char *const videoModels[] = {"vga",   "cirrus", "virtio", "qxl",
                                              "bochs", "ramfb",  "none"};
    Rng *r = &g->rng;
    GString *x = g->xml;

    if (rngChance(r, 40)) {
        g_string_append(x, "    <interface type='user'>\n");
        g_string_append_printf(x, "      <mac address='52:54:00:%02x:%02x:%02x'/>\n",
                               (guint)(seed >> 16) & 0xff, (guint)(seed >> 8) & 0xff,
                               (guint)seed & 0xff);
        g_string_append_printf(x, "      <model type='%s'/>\n", PICK(r, nicModels));
        if (g->bootOrder && rngChance(r, 30))
            g_string_append_printf(x, "      <boot order='%u'/>\n", g->bootOrder++);
        g_string_append(x, "    </interface>\n");
    }
    switch (rngBelow(r, 5)) {
    case 0:
        g_string_append(x, "    <serial type='pty'/>\n");
        break;
    case 1:
        g_string_append(x, "    <serial type='pty'>\n"
                           "      <target port='0'/>\n"
                           "    </serial>\n"
                           "    <console type='pty'>\n"
                           "      <target type='serial' port='0'/>\n"
                           "    </console>\n");
        break;
    case 2:
        g_string_append(x, rngChance(r, 70) ? "    <console type='pty'/>\n"
                                            : "    <console type='pty'>\n"
                                              "      <target type='virtio' port='0'/>\n"
                                              "    </console>\n");
        break;
    case 3:
        if (rngChance(r, 30))
            g_string_append(x, "    <serial type='pty'>\n"
                               "      <target type='pci-serial' port='0'/>\n"
                               "    </serial>\n");
        break;
    default:
        break;
    }
    if ((!g->noUsb && rngChance(r, 25)) || g->refusal == R_USB_NONE_INPUT)
        g_string_append(x, "    <input type='tablet' bus='usb'/>\n");
    if (!g->noUsb && rngChance(r, 10))
        g_string_append(x, "    <input type='keyboard' bus='usb'/>\n");
    if (rngChance(r, 8))
        g_string_append(x, "    <input type='mouse' bus='virtio'/>\n");
    if (rngChance(r, 5))
        g_string_append(x, "    <input type='keyboard' bus='virtio'/>\n");
    if (rngChance(r, 20)) {
        if (rngChance(r, 50))
            g_string_append(x, "    <graphics type='vnc' port='-1' autoport='yes'/>\n");
        else
            g_string_append(x, "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'>\n"
                               "      <listen type='address' address='127.0.0.1'/>\n"
                               "    </graphics>\n");
    }
    if (rngChance(r, 30))
        g_string_append_printf(x,
                               "    <video>\n"
                               "      <model type='%s'/>\n"
                               "    </video>\n",
                               PICK(r, videoModels));
    switch (rngBelow(r, 5)) {
    case 0:
        g_string_append(x, "    <memballoon model='none'/>\n");
        break;
    case 1:
        g_string_append(x, "    <memballoon model='virtio'/>\n");
        break;
    default:
        break;
    }
    if (rngChance(r, 12))
        g_string_append(x, rngChance(r, 50)
                               ? "    <rng model='virtio'>\n"
                                 "      <backend model='random'>/dev/urandom</backend>\n"
                                 "    </rng>\n"
                               : "    <rng model='virtio'>\n"
                                 "      <backend model='builtin'/>\n"
                                 "    </rng>\n");
    if (rngChance(r, 10))
        g_string_append(x, "    <channel type='unix'>\n"
                           "      <target type='virtio' name='org.qemu.guest_agent.0'/>\n"
                           "    </channel>\n");
    if (rngChance(r, 10))
        g_string_append(x, "    <audio id='1' type='none'/>\n");
}

static void
genOS(Gen *g, gboolean perDeviceBoot)
{
    static const char *const q35Machines[] = {"q35", "pc-q35-7.2", "pc-q35-7.1", "pc-q35-5.2"};
    static const char *const pcMachines[] = {"pc", "pc-i440fx-7.2", "pc-i440fx-7.0",
                                             "pc-i440fx-4.2"};
    static const char *const bootDevs[] = {"hd", "cdrom", "fd", "network"};
    Rng *r = &g->rng;
    GString *x = g->xml;
    guint machine = rngBelow(r, 100);

    g_string_append(x, "  <os>\n");
    if (machine < 6) {
        /* no machine: libvirt picks the default machine type (i440fx) */
        g->q35 = FALSE;
        g_string_append(x, "    <type arch='x86_64'>hvm</type>\n");
    } else {
        const char *m;

        g->q35 = machine < 55;
        m = g->q35 ? (rngChance(r, 60) ? q35Machines[rngBelow(r, 2)] : PICK(r, q35Machines))
                   : (rngChance(r, 60) ? pcMachines[rngBelow(r, 2)] : PICK(r, pcMachines));
        if (g->refusal == R_MACHINE)
            m = g->q35 ? "pc-q35-99.0" : "pc-i440fx-1.0";
        g_string_append_printf(x, "    <type arch='x86_64' machine='%s'>hvm</type>\n", m);
    }
    if (!perDeviceBoot || g->refusal == R_BOOT_MIX) {
        /* a boot list (with per-device boot too, libvirt refuses) */
        guint n = rngBelow(r, 4);
        guint used = 0;

        if (g->refusal == R_BOOT_MIX && n == 0)
            n = 1;
        for (guint i = 0; i < n; i++) {
            guint d = rngBelow(r, G_N_ELEMENTS(bootDevs));

            if (used & (1u << d))
                continue;
            used |= 1u << d;
            g_string_append_printf(x, "    <boot dev='%s'/>\n", bootDevs[d]);
        }
    }
    if (rngChance(r, 10))
        g_string_append(x, "    <bootmenu enable='yes' timeout='3000'/>\n");
    if (rngChance(r, 5))
        g_string_append(x, "    <bios rebootTimeout='0'/>\n");
    g_string_append(x, "  </os>\n");
}

static void
genPlatform(Gen *g)
{
    Rng *r = &g->rng;
    GString *x = g->xml;

    if (rngChance(r, 50)) {
        g_string_append(x, "  <features>\n");
        g_string_append(x, "    <acpi/>\n");
        if (rngChance(r, 80))
            g_string_append(x, "    <apic/>\n");
        if (rngChance(r, 15))
            g_string_append(x, "    <pae/>\n");
        if (rngChance(r, 10))
            g_string_append(x, "    <vmport state='off'/>\n");
        if (g->q35 && rngChance(r, 10))
            g_string_append(x, "    <smm state='on'/>\n");
        g_string_append(x, "  </features>\n");
    }
    switch (g->refusal == R_HOST_PASSTHROUGH ? 10 : rngBelow(r, 10)) {
    case 0:
    case 1:
        g_string_append(x, "  <cpu mode='maximum'/>\n");
        break;
    case 2:
        g_string_append(x, "  <cpu mode='custom' match='exact'>\n"
                           "    <model fallback='forbid'>qemu64</model>\n"
                           "  </cpu>\n");
        break;
    case 10:
        g_string_append(x, "  <cpu mode='host-passthrough'/>\n");
        break;
    default:
        break;
    }
    if (rngChance(r, 10))
        g_string_append_printf(x,
                               "  <clock offset='%s'>\n"
                               "    <timer name='rtc' tickpolicy='catchup'/>\n"
                               "    <timer name='pit' tickpolicy='delay'/>\n"
                               "    <timer name='hpet' present='no'/>\n"
                               "  </clock>\n",
                               rngChance(r, 80) ? "utc" : "localtime");
    else if (rngChance(r, 60))
        g_string_append_printf(x, "  <clock offset='%s'/>\n",
                               rngChance(r, 80) ? "utc" : "localtime");
    if (rngChance(r, 30))
        g_string_append(x, "  <on_poweroff>destroy</on_poweroff>\n"
                           "  <on_reboot>restart</on_reboot>\n"
                           "  <on_crash>destroy</on_crash>\n");
    if (rngChance(r, 8))
        g_string_append(x, "  <pm>\n"
                           "    <suspend-to-mem enabled='no'/>\n"
                           "    <suspend-to-disk enabled='no'/>\n"
                           "  </pm>\n");
}

char *
difftestGenerate(guint64 seed, const char *name, const char *imageDir)
{
    g_autofree char *dir = g_build_filename(imageDir, name, NULL);
    Gen g = {.rng = {seed * 0x2545f4914f6cdd1dULL + 1}, .name = name, .imageDir = dir};
    Rng *r = &g.rng;
    gboolean perDeviceBoot = rngChance(r, 25);
    guint nDisks = 1 + rngBelow(r, 4);

    g.refusal = rngChance(r, 15) ? 1 + rngBelow(r, R_LAST - 1) : R_NONE;
    if (g.refusal == R_BOOT_MIX)
        perDeviceBoot = TRUE;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g.xml = g_string_new(NULL);
    g.bootOrder = perDeviceBoot ? 1 : 0;

    g_string_append(g.xml, "<domain type='qemu'>\n");
    g_string_append_printf(g.xml, "  <name>%s</name>\n", name);
    g_string_append_printf(g.xml,
                           "  <uuid>d1ff7e57-0000-4000-8000-%012" G_GINT64_MODIFIER "x</uuid>\n",
                           (guint64)(seed & G_GUINT64_CONSTANT(0xffffffffffff)));
    switch (rngBelow(r, 3)) {
    case 0:
        g_string_append(g.xml, "  <memory unit='MiB'>64</memory>\n");
        break;
    case 1:
        g_string_append(g.xml, "  <memory unit='KiB'>65536</memory>\n"
                               "  <currentMemory unit='KiB'>65536</currentMemory>\n");
        break;
    default:
        g_string_append(g.xml, "  <memory>131072</memory>\n"
                               "  <currentMemory>65536</currentMemory>\n");
        break;
    }
    g_string_append_printf(g.xml, "  <vcpu%s>%u</vcpu>\n",
                           rngChance(r, 30) ? " placement='static'" : "", 1 + rngBelow(r, 2));
    g.iothreads = rngChance(r, 12);
    if (g.iothreads)
        g_string_append(g.xml, "  <iothreads>1</iothreads>\n");
    genOS(&g, perDeviceBoot);
    genPlatform(&g);
    g_string_append(g.xml, "  <devices>\n");
    if (rngChance(r, 70))
        g_string_append(g.xml, "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n");
    for (guint i = 0; i < nDisks; i++)
        genDisk(&g);
    genControllers(&g);
    genOtherDevices(&g, seed);
    g_string_append(g.xml, "  </devices>\n");
    g_string_append(g.xml, "</domain>\n");
    return g_string_free(g.xml, FALSE);
}
