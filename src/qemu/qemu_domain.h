/*
 * qemu_domain.h: what a start assigns on a domain definition before its argv is built
 * (qemuDomainPrepareForStart is declared in qemu_command.h, the contract callers use).
 */
#pragma once

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"

typedef enum {
    QEMU_DOMAIN_MACHINE_PC = 0, /* i440fx */
    QEMU_DOMAIN_MACHINE_Q35,
    QEMU_DOMAIN_MACHINE_LAST
} qemuDomainMachineKind;

/* FALSE (with error) for machine types we do not build argv for. */
gboolean qemuDomainGetMachineKind(const qvirDomainDef *def, qemuDomainMachineKind *kind,
                                  GError **error);

/* The controller of TYPE with index IDX, or NULL. */
qvirDomainControllerDef *qemuDomainFindController(const qvirDomainDef *def,
                                                  qvirDomainControllerType type, int idx);

/* Whether a SCSI controller model is one of the LSI narrow-bus family. */
gboolean qemuDomainSCSIModelIsLSI(const char *model);

/* Cache mode -> the three flags QEMU knows (libvirt's table). FALSE for "default". */
gboolean qemuDomainDiskCacheModeFlags(qvirDomainDiskCache mode, gboolean *writeback,
                                      gboolean *direct, gboolean *noflush);

/*
 * Node names and chain indexes for one disk: layers without a node name get
 * "libvirt-N-storage"/"libvirt-N-format" with N from *NEXT (incremented), src->id = N.
 * Used by a start (all disks) and by hot-plug / snapshots (one disk, *NEXT =
 * qemuDomainNextNodeIndex(def)).
 */
void qemuDomainPrepareDiskChainNodeNames(qvirDomainDiskDef *disk, unsigned int *next);
/* NBD layers of DISK without tls= get TLS (qvirtd.conf's nbd_tls; off when the daemon does
 * not say), marked as the daemon's choice (libvirt's tlsFromConfig) so that only the live
 * XML shows it. */
void qemuDomainDiskApplyNBDTLSDefault(qvirDomainDiskDef *disk, gboolean tls);
/* One more than the highest chain index in use by any disk of DEF. */
unsigned int qemuDomainNextNodeIndex(const qvirDomainDef *def);

/*
 * Tests set this so that "/dev/cdrom" counts as a host CD-ROM as in libvirt's test
 * suite; by default the device is asked with the CDROM_GET_CAPABILITY ioctl.
 */
typedef gboolean (*qemuDomainIsCDROMFunc)(const char *path);
void qemuDomainSetIsCDROMFunc(qemuDomainIsCDROMFunc func);
gboolean qemuDomainDiskIsHostCDROM(const qvirDomainDiskDef *disk);

/* Implicit controllers are added up to the highest index a disk names. */
#define QEMU_DOMAIN_MAX_DISK_CONTROLLER 64

/* Append a controller, as libvirt adds implicit ones. */
qvirDomainControllerDef *qemuDomainAddController(qvirDomainDef *def, qvirDomainControllerType type,
                                                 int idx, const char *model);
/* The USB controller model a machine gets when the XML names none. */
const char *qemuDomainDefaultUSBModel(qemuDomainMachineKind kind, const qemuCaps *caps);
/* The SCSI controller model a domain gets when the XML names none (libvirt: lsilogic when
 * QEMU has it). */
const char *qemuDomainDefaultSCSIModel(const qemuCaps *caps);
/* Disks of one bus together, ordered by target, as libvirt keeps them. */
void qemuDomainSortDisks(qvirDomainDef *def);
/* The drive address of an ide/sata/scsi/fdc DISK without one, from its target name. */
gboolean qemuDomainAssignDiskDriveAddress(qvirDomainDiskDef *disk, GError **error);
/* Drive addresses of ide/sata/scsi/fdc disks from their target names. */
gboolean qemuDomainAssignDriveAddresses(qvirDomainDef *def, GError **error);
/* Disk controllers the drive addresses name, and virtio-serial for channels. */
gboolean qemuDomainAddImplicitControllers(qvirDomainDef *def, GError **error);
/* virtio-serial ports, USB ports and PCI addresses (adding pcie-root-ports on q35). */
gboolean qemuDomainAssignAddresses(qvirDomainDef *def, qemuDomainMachineKind kind, GError **error);

/* Ports of a USB controller model (libvirt: UHCI 2, xHCI 4). */
unsigned int qemuDomainUSBPortCount(const char *model);
