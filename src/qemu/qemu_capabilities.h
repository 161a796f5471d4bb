/*
 * qemu_capabilities.h: what a QEMU binary can do, as far as building its argv needs.
 * Owned by the capabilities/command-line work; the flags below are the contract,
 * more may be added (append before QEMU_CAPS_LAST, add the string).
 */
#pragma once

#include <glib.h>

#include "util/virenum.h"

typedef enum {
    QEMU_CAPS_BLOCKDEV = 0,           /* -blockdev and blockdev-add */
    QEMU_CAPS_DRIVE_CACHE_DIRECTSYNC, /* -drive cache=directsync */
    QEMU_CAPS_DRIVE_CACHE_UNSAFE,     /* -drive cache=unsafe */
    QEMU_CAPS_DISK_WRITE_CACHE,       /* write-cache property on disk devices */
    QEMU_CAPS_AIO_IO_URING,           /* aio=io_uring */
    QEMU_CAPS_DRIVE_DISCARD,          /* discard= */
    QEMU_CAPS_DRIVE_DETECT_ZEROES,    /* detect-zeroes= */
    QEMU_CAPS_DISK_SHARE_RW,          /* share-rw on disk devices */
    QEMU_CAPS_DEVICE_VIRTIO_BLK,
    QEMU_CAPS_DEVICE_VIRTIO_SCSI,
    QEMU_CAPS_DEVICE_LSI,
    QEMU_CAPS_DEVICE_AHCI,
    QEMU_CAPS_DEVICE_QEMU_XHCI,
    QEMU_CAPS_DEVICE_USB_STORAGE,
    QEMU_CAPS_DEVICE_PCIE_ROOT_PORT,
    QEMU_CAPS_OBJECT_JSON, /* -object / -device with JSON */
    QEMU_CAPS_DEVICE_PIIX3_USB_UHCI,
    QEMU_CAPS_DEVICE_VIRTIO_NET,
    QEMU_CAPS_DEVICE_VIRTIO_BALLOON,
    QEMU_CAPS_DEVICE_USB_TABLET,
    QEMU_CAPS_DEVICE_ISA_SERIAL,
    QEMU_CAPS_VNC,                     /* -vnc */
    QEMU_CAPS_SECCOMP_SANDBOX,         /* -sandbox */
    QEMU_CAPS_KVM,                     /* query-kvm says present (host property, not binary) */
    QEMU_CAPS_SET_ACTION,              /* QMP set-action: reboot/shutdown actions at runtime */
    QEMU_CAPS_MACHINE_HPET,            /* -machine hpet= (else -no-hpet), as libvirt detects it */
    QEMU_CAPS_VIRTIO_PCI_TRANSITIONAL, /* virtio-*-pci-transitional / -non-transitional */
    QEMU_CAPS_VIRTIO_BLK_SCSI,         /* virtio-blk-pci's scsi (SG_IO passthrough) property */
    QEMU_CAPS_VIRTIO_BLK_SCSI_DEFAULT_DISABLED, /* ... and it is off unless asked for */
    QEMU_CAPS_LAST
} qemuCapsFlags;
QVIR_ENUM_DECL(qemuCaps);

typedef struct _qemuCaps qemuCaps;

qemuCaps *qemuCapsNew(void);
void qemuCapsFree(qemuCaps *caps);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuCaps, qemuCapsFree);

gboolean qemuCapsGet(const qemuCaps *caps, qemuCapsFlags flag);
void qemuCapsSet(qemuCaps *caps, qemuCapsFlags flag);
void qemuCapsClear(qemuCaps *caps, qemuCapsFlags flag);
/* Version as major * 1000000 + minor * 1000 + micro. */
unsigned int qemuCapsGetVersion(const qemuCaps *caps);
const char *qemuCapsGetBinary(const qemuCaps *caps);
gboolean qemuCapsHasMachine(const qemuCaps *caps, const char *machine);
/* The canonical machine type behind an alias ("q35" -> "pc-q35-7.2"); NULL if unknown. */
const char *qemuCapsGetCanonicalMachine(const qemuCaps *caps, const char *machine);

/*
 * Forget which machine types are aliases, so "pc" and "q35" stay as written. libvirt's
 * tests do this for their "latest" capabilities, whose versioned names change with every
 * QEMU release; ours do the same so both sets of expected files agree.
 */
void qemuCapsStripMachineAliases(qemuCaps *caps);

/* The binary's target architecture ("x86_64" for data that does not record one). */
const char *qemuCapsGetArch(const qemuCaps *caps);
/* The machine QEMU picks when none is given (canonical name); NULL if none is marked. */
const char *qemuCapsGetDefaultMachine(const qemuCaps *caps);
/* query-machines' cpu-max of MACHINE (alias or canonical); 0 if unknown. */
unsigned int qemuCapsGetMachineMaxCpus(const qemuCaps *caps, const char *machine);

/* A named CPU model as QEMU lists it under its accelerator at probe time (TCG). */
typedef struct {
    char *name;
    gboolean usable; /* no unavailable features */
    gboolean deprecated;
    char *vendor; /* "Intel", "AMD", "Hygon"; NULL if none */
} qemuCapsCPUModel;
/* qemuCapsCPUModel*, in QEMU's order. */
const GPtrArray *qemuCapsGetCPUModels(const qemuCaps *caps);

/* A private copy (for per-domain overrides). */
qemuCaps *qemuCapsCopy(const qemuCaps *caps);

/* Our own JSON format (tests/qemucapsdata/NAME.json). */
qemuCaps *qemuCapsLoadFile(const char *path, GError **error);
char *qemuCapsFormatJSON(const qemuCaps *caps);

/* Probe the binary (QMP over stdio, -S -machine none). */
qemuCaps *qemuCapsProbe(const char *binary, GError **error);
/*
 * Cached probe: CACHEDIR/HASH.json keyed by the binary's path, size and mtime, so a
 * second lookup of an unchanged binary does not run it. CACHEDIR may be NULL (no cache).
 */
qemuCaps *qemuCapsCacheLookup(const char *binary, const char *cacheDir, GError **error);
/* Number of times this process ran a binary to probe it (tests assert cache hits). */
guint qemuCapsProbeCounter(void);
