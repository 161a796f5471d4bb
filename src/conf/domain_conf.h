/*
 * domain_conf.h: the libvirt domain definition qvirt understands.
 *
 * Three separate steps, as in libvirt:
 *   parse     XML -> qvirDomainDef, syntax only, never looks at the host;
 *   validate  semantic checks (domain_validate.h);
 *   format    qvirDomainDef -> XML, never fails on a parsed object.
 * The same structure holds the inactive (persistent) definition and the live one;
 * the QVIR_DOMAIN_DEF_FORMAT_LIVE / _PARSE_LIVE flags decide whether chain
 * indexes, aliases and probed <backingStore> chains are read and written.
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "util/virbitmap.h"
#include "util/virenum.h"
#include "conf/storage_source_conf.h"

#define QVIR_UUID_BUFLEN 16
#define QVIR_UUID_STRING_BUFLEN 37

typedef enum {
    QVIR_DOMAIN_VIRT_QEMU = 0,
    QVIR_DOMAIN_VIRT_KVM,
    QVIR_DOMAIN_VIRT_LAST
} qvirDomainVirtType;
QVIR_ENUM_DECL(qvirDomainVirtType); /* "qemu", "kvm" */

/* ---- disks ---------------------------------------------------------------- */

typedef enum {
    QVIR_DOMAIN_DISK_DEVICE_DISK = 0,
    QVIR_DOMAIN_DISK_DEVICE_CDROM,
    QVIR_DOMAIN_DISK_DEVICE_LUN,
    QVIR_DOMAIN_DISK_DEVICE_FLOPPY,
    QVIR_DOMAIN_DISK_DEVICE_LAST
} qvirDomainDiskDevice;
QVIR_ENUM_DECL(qvirDomainDiskDevice);

typedef enum {
    QVIR_DOMAIN_DISK_BUS_NONE = 0,
    QVIR_DOMAIN_DISK_BUS_IDE,
    QVIR_DOMAIN_DISK_BUS_SATA,
    QVIR_DOMAIN_DISK_BUS_SCSI,
    QVIR_DOMAIN_DISK_BUS_VIRTIO,
    QVIR_DOMAIN_DISK_BUS_USB,
    QVIR_DOMAIN_DISK_BUS_FDC,
    QVIR_DOMAIN_DISK_BUS_LAST
} qvirDomainDiskBus;
QVIR_ENUM_DECL(qvirDomainDiskBus); /* "", "ide", "sata", "scsi", "virtio", "usb", "fdc" */

/* libvirt's order; the table is the single place the spellings live. */
typedef enum {
    QVIR_DOMAIN_DISK_CACHE_DEFAULT = 0,
    QVIR_DOMAIN_DISK_CACHE_DISABLE,    /* "none" */
    QVIR_DOMAIN_DISK_CACHE_WRITETHRU,  /* "writethrough" */
    QVIR_DOMAIN_DISK_CACHE_WRITEBACK,  /* "writeback" */
    QVIR_DOMAIN_DISK_CACHE_DIRECTSYNC, /* "directsync" */
    QVIR_DOMAIN_DISK_CACHE_UNSAFE,     /* "unsafe" */
    QVIR_DOMAIN_DISK_CACHE_LAST
} qvirDomainDiskCache;
QVIR_ENUM_DECL(qvirDomainDiskCache);

typedef enum {
    QVIR_DOMAIN_DISK_IO_DEFAULT = 0,
    QVIR_DOMAIN_DISK_IO_NATIVE,
    QVIR_DOMAIN_DISK_IO_THREADS,
    QVIR_DOMAIN_DISK_IO_URING,
    QVIR_DOMAIN_DISK_IO_LAST
} qvirDomainDiskIo;
QVIR_ENUM_DECL(qvirDomainDiskIo); /* "default", "native", "threads", "io_uring" */

typedef enum {
    QVIR_DOMAIN_DISK_DISCARD_DEFAULT = 0,
    QVIR_DOMAIN_DISK_DISCARD_UNMAP,
    QVIR_DOMAIN_DISK_DISCARD_IGNORE,
    QVIR_DOMAIN_DISK_DISCARD_LAST
} qvirDomainDiskDiscard;
QVIR_ENUM_DECL(qvirDomainDiskDiscard);

typedef enum {
    QVIR_DOMAIN_DISK_DETECT_ZEROES_DEFAULT = 0,
    QVIR_DOMAIN_DISK_DETECT_ZEROES_OFF,
    QVIR_DOMAIN_DISK_DETECT_ZEROES_ON,
    QVIR_DOMAIN_DISK_DETECT_ZEROES_UNMAP,
    QVIR_DOMAIN_DISK_DETECT_ZEROES_LAST
} qvirDomainDiskDetectZeroes;
QVIR_ENUM_DECL(qvirDomainDiskDetectZeroes);

/* <driver error_policy= rerror_policy=> */
typedef enum {
    QVIR_DOMAIN_DISK_ERROR_POLICY_DEFAULT = 0,
    QVIR_DOMAIN_DISK_ERROR_POLICY_STOP,
    QVIR_DOMAIN_DISK_ERROR_POLICY_REPORT,
    QVIR_DOMAIN_DISK_ERROR_POLICY_IGNORE,
    QVIR_DOMAIN_DISK_ERROR_POLICY_ENOSPACE,
    QVIR_DOMAIN_DISK_ERROR_POLICY_LAST
} qvirDomainDiskErrorPolicy;
QVIR_ENUM_DECL(qvirDomainDiskErrorPolicy); /* "default", "stop", "report", "ignore", "enospace" */

/* <source startupPolicy=>: what a start does when the source is missing */
typedef enum {
    QVIR_DOMAIN_STARTUP_POLICY_DEFAULT = 0,
    QVIR_DOMAIN_STARTUP_POLICY_MANDATORY,
    QVIR_DOMAIN_STARTUP_POLICY_REQUISITE,
    QVIR_DOMAIN_STARTUP_POLICY_OPTIONAL,
    QVIR_DOMAIN_STARTUP_POLICY_LAST
} qvirDomainStartupPolicy;
QVIR_ENUM_DECL(qvirDomainStartupPolicy);

/* <disk model=>: which virtio-blk flavour a virtio disk is. A transitional device speaks
 * both legacy virtio 0.9 and 1.0 and needs a conventional PCI slot for its I/O BAR. */
typedef enum {
    QVIR_DOMAIN_DISK_MODEL_DEFAULT = 0,
    QVIR_DOMAIN_DISK_MODEL_VIRTIO,
    QVIR_DOMAIN_DISK_MODEL_VIRTIO_TRANSITIONAL,
    QVIR_DOMAIN_DISK_MODEL_VIRTIO_NON_TRANSITIONAL,
    QVIR_DOMAIN_DISK_MODEL_LAST
} qvirDomainDiskModel;
QVIR_ENUM_DECL(qvirDomainDiskModel); /* "default", "virtio", "virtio-transitional", ... */

/* <disk sgio=> of a lun */
typedef enum {
    QVIR_DOMAIN_DEVICE_SGIO_DEFAULT = 0,
    QVIR_DOMAIN_DEVICE_SGIO_FILTERED,
    QVIR_DOMAIN_DEVICE_SGIO_UNFILTERED,
    QVIR_DOMAIN_DEVICE_SGIO_LAST
} qvirDomainDeviceSGIO;
QVIR_ENUM_DECL(qvirDomainDeviceSGIO); /* "default", "filtered", "unfiltered" */

/* <driver iommu= ats= packed= page_per_vq=>: virtio transport options any virtio device
 * takes; ABSENT = not written, QEMU's default. */
typedef struct {
    qvirTristateSwitch iommu;
    qvirTristateSwitch ats;
    qvirTristateSwitch packed;
    qvirTristateSwitch pagePerVq;
} qvirDomainVirtioOptions;

/* TRUE when any of OPTS is set. */
gboolean qvirDomainVirtioOptionsIsSet(const qvirDomainVirtioOptions *opts);

/* <geometry trans=> */
typedef enum {
    QVIR_DOMAIN_DISK_TRANS_DEFAULT = 0,
    QVIR_DOMAIN_DISK_TRANS_NONE,
    QVIR_DOMAIN_DISK_TRANS_AUTO,
    QVIR_DOMAIN_DISK_TRANS_LBA,
    QVIR_DOMAIN_DISK_TRANS_LAST
} qvirDomainDiskGeometryTrans;
QVIR_ENUM_DECL(qvirDomainDiskGeometryTrans);

/* <target tray=> of a cdrom or floppy */
typedef enum {
    QVIR_DOMAIN_DISK_TRAY_CLOSED = 0,
    QVIR_DOMAIN_DISK_TRAY_OPEN,
    QVIR_DOMAIN_DISK_TRAY_LAST
} qvirDomainDiskTray;
QVIR_ENUM_DECL(qvirDomainDiskTray);

/* <disk snapshot=>: the default location of this disk in a snapshot */
typedef enum {
    QVIR_DOMAIN_SNAPSHOT_LOCATION_DEFAULT = 0,
    QVIR_DOMAIN_SNAPSHOT_LOCATION_NO,
    QVIR_DOMAIN_SNAPSHOT_LOCATION_INTERNAL,
    QVIR_DOMAIN_SNAPSHOT_LOCATION_EXTERNAL,
    QVIR_DOMAIN_SNAPSHOT_LOCATION_MANUAL,
    QVIR_DOMAIN_SNAPSHOT_LOCATION_LAST
} qvirDomainSnapshotLocation;
QVIR_ENUM_DECL(qvirDomainSnapshotLocation);

/* <iotune> children, in libvirt's order (group_name is formatted between SIZE_IOPS_SEC and
 * the *_MAX_LENGTH fields). */
typedef enum {
    QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC = 0,
    QVIR_DOMAIN_IOTUNE_READ_BYTES_SEC,
    QVIR_DOMAIN_IOTUNE_WRITE_BYTES_SEC,
    QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC,
    QVIR_DOMAIN_IOTUNE_READ_IOPS_SEC,
    QVIR_DOMAIN_IOTUNE_WRITE_IOPS_SEC,
    QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX,
    QVIR_DOMAIN_IOTUNE_READ_BYTES_SEC_MAX,
    QVIR_DOMAIN_IOTUNE_WRITE_BYTES_SEC_MAX,
    QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC_MAX,
    QVIR_DOMAIN_IOTUNE_READ_IOPS_SEC_MAX,
    QVIR_DOMAIN_IOTUNE_WRITE_IOPS_SEC_MAX,
    QVIR_DOMAIN_IOTUNE_SIZE_IOPS_SEC,
    QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH,
    QVIR_DOMAIN_IOTUNE_READ_BYTES_SEC_MAX_LENGTH,
    QVIR_DOMAIN_IOTUNE_WRITE_BYTES_SEC_MAX_LENGTH,
    QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC_MAX_LENGTH,
    QVIR_DOMAIN_IOTUNE_READ_IOPS_SEC_MAX_LENGTH,
    QVIR_DOMAIN_IOTUNE_WRITE_IOPS_SEC_MAX_LENGTH,
    QVIR_DOMAIN_IOTUNE_LAST
} qvirDomainIotuneField;
QVIR_ENUM_DECL(qvirDomainIotuneField); /* "total_bytes_sec", ... as the XML elements */

/* ---- device addressing ------------------------------------------------------ */

typedef enum {
    QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE = 0,
    QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI,
    QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE,
    QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB,
    QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_VIRTIO_SERIAL,
    QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_LAST
} qvirDomainDeviceAddressType;
QVIR_ENUM_DECL(qvirDomainDeviceAddressType); /* "none", "pci", "drive", "usb", "virtio-serial" */

typedef struct {
    unsigned int domain;
    unsigned int bus;
    unsigned int slot;
    unsigned int function;
    qvirTristateSwitch multifunction;
} qvirPCIDeviceAddress;

typedef struct {
    unsigned int controller;
    unsigned int bus;
    unsigned int target;
    unsigned int unit;
} qvirDomainDeviceDriveAddress;

typedef struct {
    unsigned int bus;
    char port[16]; /* "1" or "1.2" (hub ports); "" = unset */
} qvirDomainDeviceUSBAddress;

/* A port of a virtio-serial controller (channels). */
typedef struct {
    unsigned int controller;
    unsigned int bus;
    unsigned int port;
} qvirDomainDeviceVirtioSerialAddress;

typedef struct {
    char *alias; /* <alias name=>, live XML only */
    qvirDomainDeviceAddressType type;
    union {
        qvirPCIDeviceAddress pci;
        qvirDomainDeviceDriveAddress drive;
        qvirDomainDeviceUSBAddress usb;
        qvirDomainDeviceVirtioSerialAddress vioser;
    } addr;
    unsigned int bootIndex; /* <boot order=>; 0 = none */
    unsigned int acpiIndex; /* <acpi index=>: the guest's name for a PCI device; 0 = none */
    /* <master startport=/>: a USB companion controller (ich9-uhci1..3) that serves ports
     * from usbStartPort up of the master controller with the same index */
    gboolean usbMaster;
    unsigned int usbStartPort;
} qvirDomainDeviceInfo;

typedef struct _qvirDomainDiskDef qvirDomainDiskDef;
struct _qvirDomainDiskDef {
    qvirStorageSource *src; /* top of the chain; type NONE for an empty cdrom. src->readonly
                             * and src->shared hold <readonly/> and <shareable/> */
    qvirDomainDiskDevice device;
    qvirDomainDiskBus bus;
    qvirDomainDiskModel model; /* <disk model=> */
    qvirTristateBool rawio;    /* <disk rawio=>, lun only */
    qvirDomainDeviceSGIO sgio; /* <disk sgio=>, lun only */
    char *dst;                 /* <target dev=> */
    qvirTristateSwitch removable;

    char *driverName; /* <driver name=>, normally "qemu" */
    qvirDomainDiskCache cachemode;
    qvirDomainDiskIo iomode;
    qvirDomainDiskDiscard discard;
    qvirDomainDiskDetectZeroes detect_zeroes;

    char *serial;
    qvirDomainDeviceInfo info;

    /* guest-visible properties and policies; 0 / ABSENT / NULL = not written */
    qvirDomainDiskErrorPolicy errorPolicy;  /* <driver error_policy=> */
    qvirDomainDiskErrorPolicy rerrorPolicy; /* <driver rerror_policy=> */
    qvirTristateSwitch ioeventfd;           /* <driver ioeventfd=>, virtio only */
    qvirTristateSwitch eventIdx;            /* <driver event_idx=>, virtio only */
    qvirTristateSwitch copyOnRead;          /* <driver copy_on_read=> */
    unsigned int queues;                    /* <driver queues=>, virtio only */
    unsigned int queueSize;                 /* <driver queue_size=>, virtio only */
    unsigned int iothread;                  /* <driver iothread=>, virtio only; 0 = none */
    qvirDomainVirtioOptions virtio;         /* <driver iommu= ...>, virtio only */
    qvirDomainStartupPolicy startupPolicy;  /* <source startupPolicy=> */
    qvirDomainSnapshotLocation snapshot;    /* <disk snapshot=> */
    struct {
        unsigned int cylinders, heads, sectors; /* all three or none */
        qvirDomainDiskGeometryTrans trans;
    } geometry;
    unsigned int logicalBlockSize;  /* <blockio logical_block_size=> */
    unsigned int physicalBlockSize; /* <blockio physical_block_size=> */
    qvirDomainDiskTray tray;        /* <target tray=> */
    unsigned int rotationRate;      /* <target rotation_rate=> */
    char *wwn;                      /* <wwn>: 16 hex digits, optionally 0x-prefixed */
    char *vendor;                   /* <vendor>, SCSI only, up to 8 characters */
    char *product;                  /* <product>, SCSI only, up to 16 characters */
    unsigned long long iotune[QVIR_DOMAIN_IOTUNE_LAST]; /* <iotune>; 0 = not set */
    char *iotuneGroup;                                  /* <iotune><group_name> */
    /* <transient/>: the guest writes to an overlay created at start and deleted at stop;
     * with shareBacking='yes' the disk is hot-plugged after start over a read-only image. */
    gboolean transient;
    qvirTristateBool transientShareBacking;
    /* src->auth was written as a child of <disk> rather than of <source>; it is formatted
     * back where it was found, as libvirt does. */
    gboolean authInDisk;
    gboolean encryptionInDisk; /* <encryption> was (and is written) under <disk> */
};

/* ---- other devices ---------------------------------------------------------- */

typedef enum {
    QVIR_DOMAIN_CONTROLLER_TYPE_IDE = 0,
    QVIR_DOMAIN_CONTROLLER_TYPE_SATA,
    QVIR_DOMAIN_CONTROLLER_TYPE_SCSI,
    QVIR_DOMAIN_CONTROLLER_TYPE_USB,
    QVIR_DOMAIN_CONTROLLER_TYPE_PCI,
    QVIR_DOMAIN_CONTROLLER_TYPE_FDC,
    QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL,
    QVIR_DOMAIN_CONTROLLER_TYPE_LAST
} qvirDomainControllerType;
QVIR_ENUM_DECL(qvirDomainControllerType);

/* Model strings are kept as written (scsi: "virtio-scsi", "virtio-transitional",
 * "virtio-non-transitional", "lsilogic"; virtio-serial: "virtio", "virtio-transitional",
 * "virtio-non-transitional"; usb: "qemu-xhci",
 * "piix3-uhci", "none", ...; pci: "pci-root", "pcie-root", "pcie-root-port"). */
typedef struct {
    qvirDomainControllerType type;
    int idx;     /* <controller index=> */
    char *model; /* NULL = default */
    /* pcie-root-port only: <target chassis= port=/>; -1 = unset */
    int chassis;
    int port;
    char *modelName;       /* pci: <model name=> ("pcie-root-port", "ioh3420"); NULL = absent */
    int ports;             /* virtio-serial, usb (xhci): <controller ports=>; -1 = unset */
    int vectors;           /* virtio-serial: <controller vectors=>; -1 = unset */
    unsigned int iothread; /* virtio-scsi: <driver iothread=>; 0 = none */
    /* virtio-scsi only (refused on others at validation): <driver queues= cmd_per_lun=
     * max_sectors= ioeventfd=>; 0 / ABSENT = not written */
    unsigned int queues;
    unsigned int cmdPerLun;
    unsigned int maxSectors;
    qvirTristateSwitch ioeventfd;
    /* <driver iommu= ats= packed= page_per_vq=>: read on every controller as libvirt does,
     * used by the virtio ones (virtio-scsi, virtio-serial) only */
    qvirDomainVirtioOptions virtio;
    qvirDomainDeviceInfo info;
} qvirDomainControllerDef;

typedef struct {
    char *type; /* "mouse", "keyboard", "tablet" */
    char *bus;  /* "ps2", "usb", "virtio" */
    qvirDomainDeviceInfo info;
} qvirDomainInputDef;

typedef struct {
    gboolean isConsole; /* <console> rather than <serial> */
    /* the host side: "null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp", "tcp",
     * "unix" (a <channel>: "unix" or "pty") */
    char *type;
    int targetPort;    /* <target port=>; -1 = unset */
    char *targetType;  /* console: "serial", "virtio"; serial: "isa-serial" */
    char *targetModel; /* serial: <target><model name=>, e.g. "isa-serial"; NULL = absent */
    char *ptyPath;     /* live XML: <source path=> */
    qvirDomainDeviceInfo info;
    /* <channel> only: type "unix" or "pty", target type "virtio" */
    gboolean isChannel;
    char *sourceMode;  /* unix: "bind" (default) or "connect" */
    char *sourcePath;  /* unix: the socket; NULL = chosen at start-up */
    char *targetName;  /* <target name=>, e.g. "org.qemu.guest_agent.0" */
    char *targetState; /* live: <target state=>, "connected" / "disconnected"; NULL = absent */
    /* The other sources (libvirt's virDomainChrSourceDef). dev, file, pipe keep their path
     * in sourcePath; tcp its mode in sourceMode ("connect" when absent). */
    qvirTristateSwitch sourceAppend; /* file: <source append=> */
    char *host;                      /* tcp: <source host=>; udp: the connect source's host */
    char *service;                   /* tcp: <source service=>; udp: the connect source's service */
    char *bindHost;                  /* udp: <source mode='bind' host=> */
    char *bindService;               /* udp: <source mode='bind' service=> */
    char *protocol;       /* tcp: <protocol type=>: "raw" (written when absent), "telnet", ... */
    qvirTristateBool tls; /* tcp: <source tls=> */
    char *logFile;        /* <log file=>: QEMU copies what the guest writes there */
    qvirTristateSwitch logAppend; /* <log append=> */
} qvirDomainChrDef;

/* Copy the host side of SRC (type, source, log) into DST, which has none yet: libvirt's
 * console compat makes a serial port and its console share one source. */
void qvirDomainChrSourceCopy(qvirDomainChrDef *dst, const qvirDomainChrDef *src);

/* <rng model='virtio'>: a virtio RNG fed by /dev/(u)random or QEMU's builtin source */
typedef struct {
    char *backendModel;      /* "random", "builtin" */
    char *file;              /* random: the device read */
    unsigned int rateBytes;  /* <rate bytes=>; 0 = unlimited */
    unsigned int ratePeriod; /* <rate period=> in ms; 0 = absent */
    qvirDomainDeviceInfo info;
} qvirDomainRNGDef;

typedef struct {
    char *type; /* "vnc" */
    int port;   /* -1 = autoport */
    gboolean autoport;
    char *listen; /* <listen type='address' address=> */
} qvirDomainGraphicsDef;

typedef struct {
    char *model;      /* "vga", "cirrus", "virtio", "qxl", "bochs", "none" */
    unsigned int ram; /* qxl: <model ram=> in KiB; 0 = absent */
    unsigned int vram;
    unsigned int vgamem; /* qxl: <model vgamem=> in KiB; 0 = absent */
    unsigned int heads;
    gboolean primary;
    qvirDomainDeviceInfo info;
} qvirDomainVideoDef;

typedef struct {
    char *model; /* "virtio", "none" */
    qvirDomainDeviceInfo info;
} qvirDomainMemballoonDef;

/* <interface><ip address= family= prefix=/>: the guest side of user networking */
typedef struct {
    char *address; /* in inet_ntop's canonical form */
    gboolean ipv6;
    unsigned int prefix; /* 0 = not given */
} qvirDomainNetIPDef;

typedef struct {
    char *type;     /* "user" */
    char *mac;      /* "52:54:00:..."; generated when absent */
    GPtrArray *ips; /* qvirDomainNetIPDef*; NULL = none */
    char *model;    /* "virtio", "e1000", ... */
    qvirDomainDeviceInfo info;
    /* virtio only: <driver name= txmode= ioeventfd= event_idx= rx_queue_size= tx_queue_size=> */
    char *driverName; /* "qemu", "vhost"; NULL = absent */
    char *txmode;     /* "iothread", "timer"; NULL = absent */
    qvirTristateSwitch ioeventfd;
    qvirTristateSwitch eventIdx;
    unsigned int rxQueueSize;
    unsigned int txQueueSize;
} qvirDomainNetDef;

/* ---- the domain ------------------------------------------------------------- */

typedef enum {
    QVIR_DOMAIN_BOOT_FLOPPY = 0,
    QVIR_DOMAIN_BOOT_CDROM,
    QVIR_DOMAIN_BOOT_DISK,
    QVIR_DOMAIN_BOOT_NET,
    QVIR_DOMAIN_BOOT_LAST
} qvirDomainBootOrder;
QVIR_ENUM_DECL(qvirDomainBootOrder); /* "fd", "cdrom", "hd", "network" */

typedef enum {
    QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY = 0,
    QVIR_DOMAIN_LIFECYCLE_ACTION_RESTART,
    QVIR_DOMAIN_LIFECYCLE_ACTION_RESTART_RENAME,
    QVIR_DOMAIN_LIFECYCLE_ACTION_PRESERVE,
    QVIR_DOMAIN_LIFECYCLE_ACTION_COREDUMP_DESTROY,
    QVIR_DOMAIN_LIFECYCLE_ACTION_COREDUMP_RESTART,
    QVIR_DOMAIN_LIFECYCLE_ACTION_LAST
} qvirDomainLifecycleAction;
QVIR_ENUM_DECL(qvirDomainLifecycleAction);

typedef struct {
    char *type;    /* "hvm" */
    char *arch;    /* "x86_64" */
    char *machine; /* "pc", "q35", "pc-q35-7.2", ... */
    qvirDomainBootOrder boot[QVIR_DOMAIN_BOOT_LAST];
    unsigned int nBootDevs;
    char *kernel;
    char *initrd;
    char *cmdline;
    qvirTristateBool bootmenu;  /* <bootmenu enable=> */
    gboolean bmTimeoutSet;      /* <bootmenu timeout=> given (only with enable='yes') */
    unsigned int bmTimeout;     /* milliseconds */
    qvirTristateBool useserial; /* <bios useserial=> */
    gboolean rtSet;             /* <bios rebootTimeout=> given */
    int rtDelay;                /* milliseconds; -1 = never reboot after a failed boot */
} qvirDomainOSDef;

/* <clock><timer>: the platform timers QEMU's x86 machines take settings for. */
typedef enum {
    QVIR_DOMAIN_TIMER_RTC = 0,
    QVIR_DOMAIN_TIMER_PIT,
    QVIR_DOMAIN_TIMER_HPET,
    QVIR_DOMAIN_TIMER_KVMCLOCK, /* KVM's paravirtual clock: a -cpu flag */
    QVIR_DOMAIN_TIMER_LAST
} qvirDomainTimerName;
QVIR_ENUM_DECL(qvirDomainTimerName); /* "rtc", "pit", "hpet", "kvmclock" */

typedef enum {
    QVIR_DOMAIN_TIMER_TICKPOLICY_NONE = 0,
    QVIR_DOMAIN_TIMER_TICKPOLICY_DELAY,
    QVIR_DOMAIN_TIMER_TICKPOLICY_CATCHUP,
    QVIR_DOMAIN_TIMER_TICKPOLICY_MERGE,
    QVIR_DOMAIN_TIMER_TICKPOLICY_DISCARD,
    QVIR_DOMAIN_TIMER_TICKPOLICY_LAST
} qvirDomainTimerTickpolicy;
QVIR_ENUM_DECL(qvirDomainTimerTickpolicy); /* "", "delay", "catchup", "merge", "discard" */

typedef enum {
    QVIR_DOMAIN_TIMER_TRACK_NONE = 0,
    QVIR_DOMAIN_TIMER_TRACK_BOOT,
    QVIR_DOMAIN_TIMER_TRACK_GUEST,
    QVIR_DOMAIN_TIMER_TRACK_WALL,
    QVIR_DOMAIN_TIMER_TRACK_REALTIME,
    QVIR_DOMAIN_TIMER_TRACK_LAST
} qvirDomainTimerTrack;
QVIR_ENUM_DECL(qvirDomainTimerTrack); /* "", "boot", "guest", "wall", "realtime" */

typedef struct {
    qvirDomainTimerName name;
    qvirTristateBool present;
    qvirDomainTimerTickpolicy tickpolicy;
    qvirDomainTimerTrack track; /* rtc only */
} qvirDomainTimerDef;

/* <cpu><feature policy= name=/> */
typedef struct {
    char *policy; /* "force", "require", "optional", "disable", "forbid" */
    char *name;   /* the CPUID feature's name */
} qvirDomainCPUFeature;

/* <qemu:env name= value=/> of libvirt's qemu namespace */
typedef struct {
    char *name;
    char *value; /* NULL: absent (QEMU gets an empty value) */
} qvirDomainQemuEnvDef;

void qvirDomainQemuEnvDefFree(qvirDomainQemuEnvDef *env);

#define QVIR_DOMAIN_QEMU_NS_HREF "http://libvirt.org/schemas/domain/qemu/1.0"

typedef struct _qvirDomainDef qvirDomainDef;

void qvirDomainCPUFeatureFree(qvirDomainCPUFeature *feature);
/* Set NAME's POLICY, adding the feature at the end when it is not there yet. */
void qvirDomainCPUFeatureUpdate(qvirDomainDef *def, const char *name, const char *policy);
/* Whether any disk asks for CAP_SYS_RAWIO (<disk device='lun' rawio='yes'>). */
gboolean qvirDomainDefNeedsRawio(const qvirDomainDef *def);
/* Whether any disk or interface has a per-device <boot order=>. */
gboolean qvirDomainDefHasDeviceBootOrder(const qvirDomainDef *def);
struct _qvirDomainDef {
    qvirDomainVirtType virtType;
    int id; /* live: the running id; -1 otherwise */
    /* live: the highest chain index handed out so far (libvirt's nodename counter, kept
     * in the status file as <nodename index=>): indexes are never reused, even once the
     * layers that had them left the chains */
    unsigned int nodeIndexUsed;
    char *name;
    unsigned char uuid[QVIR_UUID_BUFLEN];
    char *title;
    char *description;

    unsigned long long memoryKiB;        /* <memory>, stored in KiB whatever the unit written */
    unsigned long long currentMemoryKiB; /* <currentMemory>; defaults to memory */
    unsigned int vcpus;                  /* <vcpu>: the maximum */
    unsigned int vcpusCurrent;           /* <vcpu current=>: online at start; 0 = all of them */
    qvirBitmap *cpumask;    /* <vcpu cpuset=>: host CPUs QEMU's threads may run on; NULL = any */
    unsigned int iothreads; /* <iothreads>N</iothreads>: iothread1..N */

    qvirDomainOSDef os;
    qvirTristateSwitch acpi; /* <features><acpi/> present = ON */
    qvirTristateSwitch apic;
    qvirTristateSwitch apicEoi;    /* <apic eoi=>: KVM's paravirtual end of interrupt */
    qvirTristateSwitch pvspinlock; /* <features><pvspinlock state=> (state defaults to on) */
    char *cpuMode;  /* <cpu mode=>: "host-model", "host-passthrough", "maximum", "custom"; NULL */
    char *cpuCheck; /* <cpu check=>: "none", "partial", "full"; NULL = absent */
    char *cpuMigratable;    /* <cpu migratable=>: "on", "off"; NULL = absent */
    char *cpuMatch;         /* custom: <cpu match=>: "exact" (default), "minimum", "strict" */
    char *cpuModel;         /* custom: <model>NAME</model>, a QEMU CPU model name */
    char *cpuFallback;      /* custom: <model fallback=>: "allow" (default), "forbid" */
    GPtrArray *cpuFeatures; /* qvirDomainCPUFeature*, in document order; NULL = none */
    char *clockOffset;      /* "utc", "localtime", "absolute"; NULL = absent */
    unsigned long long clockStart; /* absolute: <clock start=>, seconds since the epoch (UTC) */
    qvirDomainTimerDef timers[QVIR_DOMAIN_TIMER_LAST]; /* in document order, one per name */
    unsigned int ntimers;
    qvirTristateBool pmS3;        /* <pm><suspend-to-mem enabled=> */
    qvirTristateBool pmS4;        /* <pm><suspend-to-disk enabled=> */
    qvirTristateSwitch pae;       /* <features><pae/> */
    qvirTristateSwitch vmport;    /* <features><vmport state=> */
    qvirTristateSwitch smm;       /* <features><smm state=> (state defaults to on) */
    unsigned long long tsegBytes; /* <smm><tseg>; 0 = not given */
    char *resourcePartition;      /* <resource><partition> */
    char *metadata;               /* <metadata>, kept verbatim: serialized once when parsed, at
                                   * indent 0 (formatting re-indents it without libxml2) */
    qvirDomainLifecycleAction onPoweroff;
    qvirDomainLifecycleAction onReboot;
    qvirDomainLifecycleAction onCrash;

    char *emulator;
    GPtrArray *disks;                    /* qvirDomainDiskDef* */
    GPtrArray *controllers;              /* qvirDomainControllerDef* */
    GPtrArray *inputs;                   /* qvirDomainInputDef* */
    GPtrArray *serials;                  /* qvirDomainChrDef* */
    GPtrArray *consoles;                 /* qvirDomainChrDef* */
    GPtrArray *graphics;                 /* qvirDomainGraphicsDef* */
    GPtrArray *videos;                   /* qvirDomainVideoDef* */
    GPtrArray *nets;                     /* qvirDomainNetDef* */
    qvirDomainMemballoonDef *memballoon; /* NULL = absent */
    GPtrArray *channels;                 /* qvirDomainChrDef* (isChannel) */
    GPtrArray *rngs;                     /* qvirDomainRNGDef* */
    int audioId; /* <audio id=N type='none'/>; 0 = absent (QEMU gets audio1, driver none) */

    /* libvirt's qemu namespace (xmlns:qemu=QVIR_DOMAIN_QEMU_NS_HREF): passed to QEMU as
     * written; a domain using it is tainted. NULL = none. */
    GPtrArray *qemuArgs;    /* char*: <qemu:commandline><qemu:arg value=/> */
    GPtrArray *qemuEnv;     /* qvirDomainQemuEnvDef*: <qemu:commandline><qemu:env/> */
    GPtrArray *qemuCapsAdd; /* char*: <qemu:capabilities><qemu:add capability=/> */
    GPtrArray *qemuCapsDel; /* char*: <qemu:capabilities><qemu:del capability=/> */
};

/* libvirt's VIR_DOMAIN_CPUMASK_LEN: host CPU numbers in a cpuset are below it. */
#define QVIR_DOMAIN_CPUMASK_LEN 16384

typedef enum {
    /* Live/status XML: read and write index=, <alias>, probed chains, domain id. */
    QVIR_DOMAIN_DEF_PARSE_LIVE = 1 << 0,
    /* The daemon's own status XML (implies LIVE): also reads which <backingStore> layers
     * were probed (probed='yes'), so the inactive view survives a daemon restart. */
    QVIR_DOMAIN_DEF_PARSE_STATUS = 1 << 1,
    /* A lone <disk> that only describes a source (a block copy destination): no <target>
     * needed. */
    QVIR_DOMAIN_DEF_PARSE_DISK_SOURCE = 1 << 2,
} qvirDomainDefParseFlags;

typedef enum {
    QVIR_DOMAIN_DEF_FORMAT_LIVE = 1 << 0,
    /* Status XML for the daemon (implies LIVE): marks probed layers with probed='yes'.
     * Not for users: that attribute is not in libvirt's schema. */
    QVIR_DOMAIN_DEF_FORMAT_STATUS = 1 << 1,
    /* Also what libvirt writes only for VIR_DOMAIN_XML_SECURE: a network source's http
     * cookies. Status XML implies it. */
    QVIR_DOMAIN_DEF_FORMAT_SECURE = 1 << 2,
} qvirDomainDefFormatFlags;

/* Largest domain XML document accepted. */
#define QVIR_DOMAIN_XML_MAX_SIZE (10 * 1024 * 1024)

qvirDomainDef *qvirDomainDefNew(void);
void qvirDomainDefFree(qvirDomainDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirDomainDef, qvirDomainDefFree);

qvirDomainDiskDef *qvirDomainDiskDefNew(void);
void qvirDomainDiskDefFree(qvirDomainDiskDef *disk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirDomainDiskDef, qvirDomainDiskDefFree);
void qvirDomainControllerDefFree(qvirDomainControllerDef *ctrl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirDomainControllerDef, qvirDomainControllerDefFree);

/* Deep copy (through format + parse is acceptable, but must keep live data when asked). */
qvirDomainDef *qvirDomainDefCopy(const qvirDomainDef *def, unsigned int formatFlags,
                                 GError **error);

/* Parse a whole <domain> document. Errors: QVIR_ERR_XML_ERROR / QVIR_ERR_CONFIG_UNSUPPORTED /
 * QVIR_ERR_INTERNAL_ERROR with libvirt's wording. */
qvirDomainDef *qvirDomainDefParseString(const char *xml, unsigned int parseFlags, GError **error);
qvirDomainDef *qvirDomainDefParseFile(const char *path, unsigned int parseFlags, GError **error);
/* Parse a <domain> element inside an already parsed document (e.g. the daemon's status XML
 * wraps <domain> in <domstatus>). ROOT must be the <domain> element. */
qvirDomainDef *qvirDomainDefParseNode(xmlDocPtr doc, xmlNodePtr root, unsigned int parseFlags,
                                      GError **error);

/* Parse a lone <disk> element's document (attach-device). */
qvirDomainDiskDef *qvirDomainDiskDefParseString(const char *xml, unsigned int parseFlags,
                                                GError **error);

/* Where an <auth> element stands, which decides how strictly it is read. */
typedef enum {
    /* a disk's (in <source>, or in <disk> as older XML writes it): unknown attributes and
     * children refused, type= optional ("none" allowed) */
    QVIR_STORAGE_AUTH_DISK,
    /* a storage pool's, read as libvirt's pool parser reads it: other attributes and
     * children ignored, the first <secret> taken, type= other than "none" */
    QVIR_STORAGE_AUTH_POOL,
} qvirStorageAuthContext;

/* <auth username= [type=]><secret [type=] uuid=|usage=/></auth> -> *OUT. Errors in
 * libvirt's words without their prefix (qvirErrorAddPrefix gives it). */
gboolean qvirStorageAuthParse(xmlNodePtr node, qvirStorageAuthContext context,
                              qvirStorageAuth **out, GError **error);

/* Canonical libvirt-style XML, 2-space indent, trailing newline. Never fails. */
char *qvirDomainDefFormat(const qvirDomainDef *def, unsigned int formatFlags);
/* A lone <disk> element (indent 0). */
char *qvirDomainDiskDefFormat(const qvirDomainDiskDef *disk, unsigned int formatFlags);
/* Append <domain>...</domain> to BUF, every line indented by INDENT spaces. */
void qvirDomainDefFormatBuf(GString *buf, const qvirDomainDef *def, unsigned int formatFlags,
                            unsigned int indent);
/*
 * Append BACKING and the chain below it as nested <backingStore> elements to BUF at INDENT;
 * pass the layer below a disk's top (disk->src->backingStore). Nothing when BACKING is NULL
 * (unknown chain); an empty <backingStore/> for a terminator. Without
 * QVIR_DOMAIN_DEF_FORMAT_LIVE this is the inactive view: only layers with fromXML set are
 * shown (so a probed chain prints nothing) and index= is left out. To show a probed chain,
 * pass QVIR_DOMAIN_DEF_FORMAT_LIVE (index= appears only for layers with an id).
 */
void qvirDomainBackingStoreFormat(GString *buf, const qvirStorageSource *backing,
                                  unsigned int formatFlags, unsigned int indent);

/* TRUE when DISK has any <iotune> limit (a group name alone is not one). */
gboolean qvirDomainDiskHasIotune(const qvirDomainDiskDef *disk);

/* Lookups. */
qvirDomainDiskDef *qvirDomainDiskByTarget(const qvirDomainDef *def, const char *dst);
/* Accepts a target ("vda") or a source path of the top image. */
qvirDomainDiskDef *qvirDomainDiskByName(const qvirDomainDef *def, const char *name);

/* libvirt's disk name to index: "sda" -> 0, "hdz" -> 25, "vdaa" -> 26; trailing digits
 * (partitions) ignored; -1 when NAME is not a disk name. */
int qvirDiskNameToIndex(const char *name);
/* Add DISK to DEF (which takes ownership) where libvirt puts it: after the other disks on
 * the same bus, ordered by target name; disks of a new bus go last. */
void qvirDomainDiskInsert(qvirDomainDef *def, qvirDomainDiskDef *disk);

/* Add CTRL to DEF (which takes ownership) where libvirt puts it: grouped by type, ordered by
 * index; a controller without an index (-1) goes after the others of its type. */
void qvirDomainControllerInsert(qvirDomainDef *def, qvirDomainControllerDef *ctrl);

/* Whether CTRL is a virtio-scsi controller, of any of its three models. */
gboolean qvirDomainControllerIsVirtioSCSI(const qvirDomainControllerDef *ctrl);
/* Whether CTRL's model asks for the transitional (or non-transitional) virtio device. */
gboolean qvirDomainControllerIsTransitional(const qvirDomainControllerDef *ctrl);
gboolean qvirDomainControllerIsNonTransitional(const qvirDomainControllerDef *ctrl);

/* Whether CTRL is a part of an ICH9 USB2 controller: ich9-ehci1 or an ich9-uhci1..3
 * companion (they share one index and one PCI slot). */
gboolean qvirDomainControllerIsUSB2(const qvirDomainControllerDef *ctrl);

void qvirUUIDFormat(const unsigned char *uuid, char *out /* QVIR_UUID_STRING_BUFLEN */);
gboolean qvirUUIDParse(const char *str, unsigned char *uuid);
void qvirUUIDGenerate(unsigned char *uuid);
