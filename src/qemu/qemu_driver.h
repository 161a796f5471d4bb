/*
 * qemu_driver.h: the driver API the RPC layer calls, one function per libvirt API.
 *
 * Domains are named by UUID (as remote_nonnull_domain carries it). Every function is
 * thread-safe: the RPC layer calls them from worker threads; each domain has one lock,
 * and a slow QEMU holds up only calls on its own domain. Errors come back in GError with
 * qvirErrorCode codes and libvirt's wording, e.g.
 *   QVIR_ERR_NO_DOMAIN           "Domain not found: no domain with matching name 'x'"
 *   QVIR_ERR_OPERATION_INVALID   "Requested operation is not valid: domain is not running"
 * Flag values are libvirt's (libvirt-domain.h), passed through from the wire.
 */
#pragma once

#include <glib.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_blockjob.h"
#include "qemu/qemu_command.h"
#include "qemu/qemu_conf.h"
#include "qemu/qemu_iotune.h"
#include "secret/secret_driver.h"
#include "storage/storage_driver.h"

typedef struct _qvirDriver qvirDriver;

/* What remote_nonnull_domain carries. */
typedef struct {
    char *name;
    unsigned char uuid[QVIR_UUID_BUFLEN];
    int id; /* -1 when inactive */
} qvirDomainRef;

void qvirDomainRefFree(qvirDomainRef *ref);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirDomainRef, qvirDomainRefFree);

/* libvirt's virDomainState / reasons (libvirt-domain.h). */
typedef enum {
    QVIR_DOMAIN_NOSTATE = 0,
    QVIR_DOMAIN_RUNNING = 1,
    QVIR_DOMAIN_BLOCKED = 2,
    QVIR_DOMAIN_PAUSED = 3,
    QVIR_DOMAIN_SHUTDOWN = 4,
    QVIR_DOMAIN_SHUTOFF = 5,
    QVIR_DOMAIN_CRASHED = 6,
} qvirDomainState;

typedef struct {
    int state;                      /* qvirDomainState */
    unsigned long long maxMemKiB;
    unsigned long long memoryKiB;
    unsigned int nrVirtCpu;
    unsigned long long cpuTimeNs;
} qvirDomainInfo;

/*
 * Take CFG (ownership passes), create directories, load persistent definitions,
 * reconnect to running domains from their status files (restoring chains from the status
 * XML without probing; a domain whose QEMU died is cleaned up as stopped).
 */
qvirDriver *qvirDriverOpen(qvirDriverConfig *cfg, GError **error);
/* Closes monitors; running QEMUs keep running (they are reconnected next time). */
void qvirDriverClose(qvirDriver *drv);

/* The storage pools and volumes beside DRV's domains (configDir/storage, runDir/storage). */
qvirStorageDriver *qvirDriverGetStorage(qvirDriver *drv);
/* The secrets disks name in <auth> and <encryption> (configDir/secrets). */
qvirSecretDriver *qvirDriverGetSecrets(qvirDriver *drv);
const qvirDriverConfig *qvirDriverGetConfig(qvirDriver *drv);

/* Lifecycle events for clients (libvirt's VIR_DOMAIN_EVENT_ID_LIFECYCLE): EVENT and DETAIL
 * are virDomainEventType and its detail enum (DEFINED/ADDED, STARTED/BOOTED,
 * STOPPED/DESTROYED, ...). Called from a driver thread with no domain lock held, but possibly
 * during the domain's state change: the callback must not start another one on it. */
typedef void (*qvirDriverLifecycleEventFunc)(qvirDriver *drv, const qvirDomainRef *dom,
                                             int event, int detail, gpointer opaque);
void qvirDriverSetLifecycleEventCallback(qvirDriver *drv, qvirDriverLifecycleEventFunc cb,
                                         gpointer opaque);

/* Hypervisor facts for GET_VERSION / GET_CAPABILITIES. */
unsigned long qvirDriverGetVersion(qvirDriver *drv, GError **error); /* QEMU's, as major*1e6+minor*1e3+micro */
char *qvirDriverGetCapabilities(qvirDriver *drv, GError **error);    /* <capabilities> XML */
/* <domainCapabilities> XML; every string argument may be NULL (libvirt's defaults). */
char *qvirDriverConnectGetDomainCapabilities(qvirDriver *drv, const char *emulator,
                                             const char *arch, const char *machine,
                                             const char *virttype, unsigned int flags,
                                             GError **error);

/* Listing. FLAGS: VIR_CONNECT_LIST_DOMAINS_* (ACTIVE 1, INACTIVE 2, PERSISTENT 4,
 * TRANSIENT 8, RUNNING 16, PAUSED 32, SHUTOFF 64, OTHER 128, ...). Array of qvirDomainRef*. */
GPtrArray *qvirDriverListAllDomains(qvirDriver *drv, unsigned int flags);
int qvirDriverNumOfDomains(qvirDriver *drv);            /* active */
GArray *qvirDriverListDomainIDs(qvirDriver *drv);       /* int ids of active domains */
int qvirDriverNumOfDefinedDomains(qvirDriver *drv);     /* inactive persistent */
GPtrArray *qvirDriverListDefinedDomainNames(qvirDriver *drv); /* char* */

qvirDomainRef *qvirDriverDomainLookupByName(qvirDriver *drv, const char *name, GError **error);
qvirDomainRef *qvirDriverDomainLookupByUUID(qvirDriver *drv, const unsigned char *uuid,
                                            GError **error);
qvirDomainRef *qvirDriverDomainLookupByID(qvirDriver *drv, int id, GError **error);

/* Lifecycle. */
qvirDomainRef *qvirDriverDomainDefineXML(qvirDriver *drv, const char *xml, unsigned int flags,
                                         GError **error);
gboolean qvirDriverDomainUndefine(qvirDriver *drv, const unsigned char *uuid,
                                  unsigned int flags, GError **error);
/* Start a defined domain; FLAGS: VIR_DOMAIN_START_PAUSED 1, ... */
gboolean qvirDriverDomainCreate(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                GError **error);
/* Create and start a transient domain. */
qvirDomainRef *qvirDriverDomainCreateXML(qvirDriver *drv, const char *xml, unsigned int flags,
                                         GError **error);
gboolean qvirDriverDomainDestroy(qvirDriver *drv, const unsigned char *uuid,
                                 unsigned int flags, GError **error);

/* Queries. XML FLAGS: VIR_DOMAIN_XML_SECURE 1, INACTIVE 2, UPDATE_CPU 4, MIGRATABLE 8. */
char *qvirDriverDomainGetXMLDesc(qvirDriver *drv, const unsigned char *uuid,
                                 unsigned int flags, GError **error);
gboolean qvirDriverDomainGetState(qvirDriver *drv, const unsigned char *uuid, int *state,
                                  int *reason, GError **error);
gboolean qvirDriverDomainGetInfo(qvirDriver *drv, const unsigned char *uuid,
                                 qvirDomainInfo *info, GError **error);
int qvirDriverDomainIsActive(qvirDriver *drv, const unsigned char *uuid, GError **error);
int qvirDriverDomainIsPersistent(qvirDriver *drv, const unsigned char *uuid, GError **error);

/* virDomainGetMessages: "tainted: ..." lines of a running domain (char*). */
GPtrArray *qvirDriverDomainGetMessages(qvirDriver *drv, const unsigned char *uuid,
                                       unsigned int flags, GError **error);

/* virsh domxml-to-native qemu-argv: FORMAT must be "qemu-argv". */
char *qvirDriverConnectDomainXMLToNative(qvirDriver *drv, const char *format, const char *xml,
                                         unsigned int flags, GError **error);

/* For tests: image headers read by this daemon since it started (from src/storage). */
guint64 qvirDriverGetProbeCount(qvirDriver *drv);

/* CMD on one line as `virsh domxml-to-native qemu-argv` prints it (libvirt's
 * virCommandToString without line breaks): env, then argv, shell-quoted where needed. */
char *qemuDriverCommandLineToString(const qemuCommandLine *cmd);

/* ---- live disk operations -------------------------------------------------------------
 *
 * All on a running domain's cached chains: they are filled at start and attach, edited in
 * place (never re-probed) when a pull, commit or snapshot completes, freed at detach and
 * stop; the status file is rewritten after every change. DISK names a disk by target
 * ("vda") or by the path of its top image. Flags and units are libvirt's.
 */

/* Block job events for clients (libvirt's BLOCK_JOB and BLOCK_JOB_2 events). Called from a
 * driver thread with no domain lock held; EV is borrowed. */
typedef void (*qvirDriverBlockJobEventFunc)(qvirDriver *drv, const qvirDomainRef *dom,
                                            const qemuBlockJobEvent *ev, gpointer opaque);
void qvirDriverSetBlockJobEventCallback(qvirDriver *drv, qvirDriverBlockJobEventFunc cb,
                                        gpointer opaque);

/* BANDWIDTH in MiB/s, or bytes/s with VIR_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES (64). */
gboolean qvirDriverDomainBlockPull(qvirDriver *drv, const unsigned char *uuid, const char *disk,
                                   unsigned long bandwidth, unsigned int flags, GError **error);
/* Without VIR_DOMAIN_BLOCK_REBASE_COPY (8): a pull into DISK from the layers above BASE
 * (NULL: all). Copy jobs are not supported. */
/* virDomainBlockCopy: DESTXML is a <disk> (file or block destination); BANDWIDTH and
 * BUF_SIZE in bytes. */
gboolean qvirDriverDomainBlockCopy(qvirDriver *drv, const unsigned char *uuid, const char *path,
                                   const char *destxml, unsigned long long bandwidth,
                                   unsigned int granularity, unsigned long long bufSize,
                                   unsigned int flags, GError **error);
gboolean qvirDriverDomainBlockRebase(qvirDriver *drv, const unsigned char *uuid,
                                     const char *disk, const char *base,
                                     unsigned long bandwidth, unsigned int flags,
                                     GError **error);
/* FLAGS: SHALLOW 1, DELETE 2 (refused), ACTIVE 4, RELATIVE 8, BANDWIDTH_BYTES 16. */
gboolean qvirDriverDomainBlockCommit(qvirDriver *drv, const unsigned char *uuid,
                                     const char *disk, const char *base, const char *top,
                                     unsigned long bandwidth, unsigned int flags,
                                     GError **error);
/* FLAGS: ASYNC 1, PIVOT 2. Without ASYNC, returns once the job has ended and the chain
 * has been updated. */
gboolean qvirDriverDomainBlockJobAbort(qvirDriver *drv, const unsigned char *uuid,
                                       const char *disk, unsigned int flags, GError **error);
/* virDomainBlockJobSetSpeed: BANDWIDTH in MiB/s, or bytes/s with
 * VIR_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES 1. */
gboolean qvirDriverDomainBlockJobSetSpeed(qvirDriver *drv, const unsigned char *uuid,
                                          const char *disk, unsigned long long bandwidth,
                                          unsigned int flags, GError **error);
/* 1 with INFO filled (bandwidth in MiB/s unless VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES
 * 1), 0 when DISK has no job, -1 on error. A job that ended is applied to the chain first. */
int qvirDriverDomainGetBlockJobInfo(qvirDriver *drv, const unsigned char *uuid,
                                    const char *disk, qemuBlockJobInfo *info,
                                    unsigned int flags, GError **error);

/* Hot-plug of <disk> devices. FLAGS: VIR_DOMAIN_AFFECT_LIVE 1, VIR_DOMAIN_AFFECT_CONFIG 2
 * (0: the current state, as libvirt). A live detach that the guest does not acknowledge
 * within 5 s fails with QVIR_ERR_OPERATION_TIMEOUT: the disk stays in the live XML until
 * QEMU reports DEVICE_DELETED, then it goes (libvirt would say "detached" here). */
gboolean qvirDriverDomainAttachDevice(qvirDriver *drv, const unsigned char *uuid,
                                      const char *xml, unsigned int flags, GError **error);
gboolean qvirDriverDomainDetachDevice(qvirDriver *drv, const unsigned char *uuid,
                                      const char *xml, unsigned int flags, GError **error);
/* Change a cdrom's medium (virsh change-media: an empty <source/> ejects). FLAGS as above,
 * plus VIR_DOMAIN_DEVICE_MODIFY_FORCE 4 (open a locked tray). */
gboolean qvirDriverDomainUpdateDevice(qvirDriver *drv, const unsigned char *uuid,
                                      const char *xml, unsigned int flags, GError **error);

/* ---- block I/O throttling and write thresholds (qemu_driver_iotune.c) ----------------- */

/* virDomainSetBlockIoTune: the fields REQ names (qemu_iotune.h) onto DISK (target or
 * path), the rest kept as libvirt keeps them. FLAGS: AFFECT_LIVE 1 (QMP and the live XML,
 * then the TUNABLE event), AFFECT_CONFIG 2 (the persistent <iotune>); 0: the current state. */
gboolean qvirDriverDomainSetBlockIoTune(qvirDriver *drv, const unsigned char *uuid,
                                        const char *disk, const qemuBlockIoTuneRequest *req,
                                        unsigned int flags, GError **error);
/* libvirt's TUNABLE event of a live throttle change of DISK (as the client named it) by
 * REQ. Called with the domain's job held, no lock. */
typedef void (*qvirDriverBlkdevTunableEventFunc)(qvirDriver *drv, const qvirDomainRef *dom,
                                                 const char *disk,
                                                 const qemuBlockIoTuneRequest *req,
                                                 gpointer opaque);
void qvirDriverSetBlkdevTunableEventCallback(qvirDriver *drv, qvirDriverBlkdevTunableEventFunc cb,
                                             gpointer opaque);
/* virDomainGetBlockIoTune into OUT: what QEMU applies (live) or the persistent <iotune>
 * (config). DISK NULL checks the domain and FLAGS only (the question for the count).
 * FLAGS: AFFECT_LIVE or AFFECT_CONFIG, TYPED_PARAM_STRING_OKAY 4. */
gboolean qvirDriverDomainGetBlockIoTune(qvirDriver *drv, const unsigned char *uuid,
                                        const char *disk, unsigned int flags,
                                        qemuBlockIoTune *out, GError **error);
/* virDomainSetBlockThreshold on DEV, "vda" (the top) or "vda[N]" (the layer index='N');
 * THRESHOLD in bytes of the layer's storage. FLAGS must be 0. */
gboolean qvirDriverDomainSetBlockThreshold(qvirDriver *drv, const unsigned char *uuid,
                                           const char *dev, unsigned long long threshold,
                                           unsigned int flags, GError **error);

/* libvirt's BLOCK_THRESHOLD event: a write to DEV's layer PATH (NULL unless local) went
 * EXCESS bytes past THRESHOLD (QEMU disarms it then). Called with no domain lock held. */
typedef void (*qvirDriverBlockThresholdEventFunc)(qvirDriver *drv, const qvirDomainRef *dom,
                                                  const char *dev, const char *path,
                                                  unsigned long long threshold,
                                                  unsigned long long excess, gpointer opaque);
void qvirDriverSetBlockThresholdEventCallback(qvirDriver *drv, qvirDriverBlockThresholdEventFunc cb,
                                              gpointer opaque);

/* ---- snapshots: external, disk-only, with libvirt's metadata -----------------------------
 * Snapshots are named by domain UUID + snapshot name. CREATE flags: DISK_ONLY 16 (or XML
 * with <memory snapshot='no'/>), NO_METADATA 4, ATOMIC 128 (always atomic), VALIDATE 512;
 * REDEFINE, REUSE_EXT, QUIESCE and HALT are refused. Returns the snapshot's name. */
char *qvirDriverDomainSnapshotCreateXML(qvirDriver *drv, const unsigned char *uuid,
                                        const char *xml, unsigned int flags, GError **error);
/* Names (char*), parents before children. FLAGS: VIR_DOMAIN_SNAPSHOT_LIST_*. */
GPtrArray *qvirDriverDomainListAllSnapshots(qvirDriver *drv, const unsigned char *uuid,
                                            unsigned int flags, GError **error);
GPtrArray *qvirDriverDomainSnapshotListAllChildren(qvirDriver *drv, const unsigned char *uuid,
                                                   const char *name, unsigned int flags,
                                                   GError **error);
int qvirDriverDomainSnapshotNum(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                GError **error);
/* QVIR_ERR_NO_DOMAIN_SNAPSHOT when unknown. */
gboolean qvirDriverDomainSnapshotLookupByName(qvirDriver *drv, const unsigned char *uuid,
                                              const char *name, unsigned int flags,
                                              GError **error);
char *qvirDriverDomainSnapshotGetXMLDesc(qvirDriver *drv, const unsigned char *uuid,
                                         const char *name, unsigned int flags, GError **error);
char *qvirDriverDomainSnapshotGetParent(qvirDriver *drv, const unsigned char *uuid,
                                        const char *name, unsigned int flags, GError **error);
char *qvirDriverDomainSnapshotCurrent(qvirDriver *drv, const unsigned char *uuid,
                                      unsigned int flags, GError **error);
int qvirDriverDomainHasCurrentSnapshot(qvirDriver *drv, const unsigned char *uuid,
                                       unsigned int flags, GError **error);
int qvirDriverDomainSnapshotIsCurrent(qvirDriver *drv, const unsigned char *uuid,
                                      const char *name, unsigned int flags, GError **error);
int qvirDriverDomainSnapshotHasMetadata(qvirDriver *drv, const unsigned char *uuid,
                                        const char *name, unsigned int flags, GError **error);
/* As libvirt 9.0: an external snapshot's overlays merge into their parents (block commit,
 * active with pivot for the top), the files go, children are re-parented; CHILDREN (1)
 * and CHILDREN_ONLY (4) are refused when descendants exist unless METADATA_ONLY (2). */
gboolean qvirDriverDomainSnapshotDelete(qvirDriver *drv, const unsigned char *uuid,
                                        const char *name, unsigned int flags, GError **error);
/* libvirt 9.0 reverts to no external snapshot (and qvirt has no other kind): its checks
 * and errors, nothing else. */
gboolean qvirDriverDomainRevertToSnapshot(qvirDriver *drv, const unsigned char *uuid,
                                          const char *name, unsigned int flags, GError **error);

/* ---- guest control and disk statistics (virsh suspend/resume/shutdown/reboot/reset,
 * domblkinfo/domblkstat/domblkerror/blockresize) -------------------------------------- */

/* QMP stop: paused, reason user (already paused: nothing to do, as libvirt). */
gboolean qvirDriverDomainSuspend(qvirDriver *drv, const unsigned char *uuid, GError **error);
/* QMP cont: running, reason unpaused; "domain is already running" when it runs. */
gboolean qvirDriverDomainResume(qvirDriver *drv, const unsigned char *uuid, GError **error);
/* QMP system_powerdown (ACPI). FLAGS: 0 or VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN (1); the guest
 * agent is not used (GUEST_AGENT 2 fails as libvirt does without an agent). The domain stays
 * running until the guest powers off. */
gboolean qvirDriverDomainShutdown(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                  GError **error);
/* FLAGS: 0 or VIR_DOMAIN_REBOOT_ACPI_POWER_BTN (1). As libvirt: system_powerdown, and when the
 * guest has powered off the domain is started again from its definition (libvirt instead
 * resets the same QEMU; here the new QEMU gets a new domain id). With
 * <on_reboot>destroy</on_reboot> it is a plain shutdown. */
gboolean qvirDriverDomainReboot(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                GError **error);
/* QMP system_reset. FLAGS must be 0. */
gboolean qvirDriverDomainReset(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                               GError **error);

typedef struct {
    unsigned long long capacity;   /* guest-visible size */
    unsigned long long allocation; /* bytes the image uses on its host storage */
    unsigned long long physical;   /* size of the host file */
} qvirDomainBlockInfo;

/* DISK by target or top image path. Running: from QEMU (query-named-block-nodes,
 * query-blockstats), so no image header is read; inactive: from the images. */
gboolean qvirDriverDomainGetBlockInfo(qvirDriver *drv, const unsigned char *uuid,
                                      const char *disk, unsigned int flags,
                                      qvirDomainBlockInfo *info, GError **error);

/* query-blockstats counters; -1 where QEMU has none. */
typedef struct {
    long long rdReq, rdBytes, wrReq, wrBytes, errs;
    long long flushReq, rdTotalTimes, wrTotalTimes, flushTotalTimes; /* times in ns */
} qvirDomainBlockStats;

/* DISK by target or path; "" sums every disk (libvirt). Running domains only. */
gboolean qvirDriverDomainBlockStats(qvirDriver *drv, const unsigned char *uuid, const char *disk,
                                    qvirDomainBlockStats *stats, GError **error);

/* Disks whose I/O status is not "ok" (query-block io-status): array of qvirDomainDiskError. */
typedef struct {
    char *disk; /* target */
    int error;  /* virDomainDiskErrorCode: 1 unspecified, 2 no space */
} qvirDomainDiskError;
void qvirDomainDiskErrorFree(qvirDomainDiskError *err);
GPtrArray *qvirDriverDomainGetDiskErrors(qvirDriver *drv, const unsigned char *uuid,
                                         unsigned int flags, GError **error);

/* block_resize of DISK's top format node to SIZE (KiB, or bytes with
 * VIR_DOMAIN_BLOCK_RESIZE_BYTES 1); the cached capacity follows. */
gboolean qvirDriverDomainBlockResize(qvirDriver *drv, const unsigned char *uuid, const char *disk,
                                     unsigned long long size, unsigned int flags, GError **error);

/* virDomainGetAutostart (0 or 1; -1 with ERROR) and virDomainSetAutostart: a link in
 * defsDir/autostart to the persistent definition. */
int qvirDriverDomainGetAutostart(qvirDriver *drv, const unsigned char *uuid, GError **error);
gboolean qvirDriverDomainSetAutostart(qvirDriver *drv, const unsigned char *uuid, int autostart,
                                      GError **error);

/* virDomainGetVcpus (running domains): per online vCPU, its number, state, CPU time and
 * the host CPU it last ran on into INFO, its affinity into CPUMAPS (MAPLEN bytes each);
 * both may be NULL. Returns how many were filled (at most MAXINFO), -1 with ERROR. */
typedef struct {
    unsigned int number;
    int state; /* virVcpuState */
    unsigned long long cpuTimeNs;
    int cpu;
} qvirVcpuInfo;
int qvirDriverDomainGetVcpus(qvirDriver *drv, const unsigned char *uuid, qvirVcpuInfo *info,
                             int maxinfo, guint8 *cpumaps, int maplen, GError **error);
/* virDomainGetVcpuPinInfo: the CPUs each vCPU may run on, by the definition FLAGS selects
 * (VIR_DOMAIN_AFFECT_*), into NCPUMAPS maps of MAPLEN bytes; the count filled or -1. */
int qvirDriverDomainGetVcpuPinInfo(qvirDriver *drv, const unsigned char *uuid, int ncpumaps,
                                   guint8 *cpumaps, int maplen, unsigned int flags,
                                   GError **error);

/* virDomainMemoryStats as libvirt's QEMU driver answers it (running domains, FLAGS 0):
 * the balloon's statistics, then QEMU's resident set size, all KiB but counts and times. */
typedef struct {
    int tag; /* virDomainMemoryStatTags */
    unsigned long long val;
} qvirDomainMemoryStat;
GArray *qvirDriverDomainMemoryStats(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                    GError **error);

/* One record of virConnectGetAllDomainStats' block group: a disk, or with --backing one
 * layer of its chain. Zero / FALSE fields are left out, as libvirt leaves them out. */
typedef struct {
    char *name;                   /* target */
    char *path;                   /* the layer's local file or device; NULL when none */
    unsigned int backingIndex;    /* the layer's index in the live XML; 0 = none */
    gboolean haveStats;           /* the device's counters (top layer of a running disk) */
    qvirDomainBlockStats stats;   /* -1 where QEMU has none */
    gboolean haveAllocation;      /* allocation is shown (even 0, for a running layer) */
    unsigned long long allocation;
    unsigned long long capacity;
    unsigned long long physical;
    unsigned long long threshold; /* write threshold on the layer's storage node */
} qvirDomainBlockRecord;
void qvirDomainBlockRecordFree(qvirDomainBlockRecord *rec);

/* The block group's records, disk by disk, and with BACKING every layer of each chain
 * (qemu_driver_blockstats.c). A running domain's values come from QEMU (two
 * query-blockstats and one query-named-block-nodes for all disks); an inactive one's from
 * its images, as far as they can be read. */
GPtrArray *qvirDriverDomainGetBlockRecords(qvirDriver *drv, const unsigned char *uuid,
                                           gboolean backing, GError **error);

/* virDomainGetMetadata for TYPE 0 (<description>) and 1 (<title>); FLAGS: AFFECT_LIVE 1 or
 * AFFECT_CONFIG 2 (0: current). Absent: libvirt's VIR_ERR_NO_DOMAIN_METADATA (80). TYPE 2
 * (<metadata> elements) is not supported. */
char *qvirDriverDomainGetMetadata(qvirDriver *drv, const unsigned char *uuid, int type,
                                  unsigned int flags, GError **error);

/* ---- save images (qemu_driver_save.c) -------------------------------------------------
 * FLAGS: libvirt's virDomainSaveRestoreFlags: BYPASS_CACHE 1 (O_DIRECT), RUNNING 2,
 * PAUSED 4. The image (qemu_saveimage.h) is written atomically; a save stops the domain
 * (shut off, reason saved), a restore starts it with the saved state. A managed save image
 * lives at STATEDIR/qemu/save/NAME.save; starting the domain restores from it (FORCE_BOOT
 * discards it), undefine refuses while it exists (unless UNDEFINE_MANAGED_SAVE). */
gboolean qvirDriverDomainSave(qvirDriver *drv, const unsigned char *uuid, const char *to,
                              const char *dxml, unsigned int flags, GError **error);
gboolean qvirDriverDomainRestore(qvirDriver *drv, const char *from, const char *dxml,
                                 unsigned int flags, GError **error);
gboolean qvirDriverDomainManagedSave(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                     GError **error);
int qvirDriverDomainHasManagedSaveImage(qvirDriver *drv, const unsigned char *uuid,
                                        unsigned int flags, GError **error);
gboolean qvirDriverDomainManagedSaveRemove(qvirDriver *drv, const unsigned char *uuid,
                                           unsigned int flags, GError **error);
char *qvirDriverDomainManagedSaveGetXMLDesc(qvirDriver *drv, const unsigned char *uuid,
                                            unsigned int flags, GError **error);
char *qvirDriverDomainSaveImageGetXMLDesc(qvirDriver *drv, const char *file, unsigned int flags,
                                          GError **error);
gboolean qvirDriverDomainSaveImageDefineXML(qvirDriver *drv, const char *file, const char *dxml,
                                            unsigned int flags, GError **error);

/* ---- guest verbs (qemu_driver_guest.c) -------------------------------------------------- */

/* virDomainOpenConsole: an open fd (raw mode) on the pty of DEVNAME (an alias; NULL: the
 * first console, else the first serial port); *KEY names the device for exclusive access.
 * FLAGS: FORCE 1, SAFE 2 (exclusivity is the caller's, per KEY). */
int qvirDriverDomainOpenConsole(qvirDriver *drv, const unsigned char *uuid, const char *devName,
                                unsigned int flags, char **key, GError **error);
/* KiB. FLAGS: AFFECT_LIVE 1 (balloon), AFFECT_CONFIG 2, MEM_MAXIMUM 4 (config only). */
gboolean qvirDriverDomainSetMemory(qvirDriver *drv, const unsigned char *uuid,
                                   unsigned long long memKiB, unsigned int flags, GError **error);
/* FLAGS: AFFECT_LIVE 1 (vCPU hot-plug), AFFECT_CONFIG 2, VCPU_MAXIMUM 4; GUEST 8 needs an
 * agent. */
gboolean qvirDriverDomainSetVcpus(qvirDriver *drv, const unsigned char *uuid, unsigned int nvcpus,
                                  unsigned int flags, GError **error);
int qvirDriverDomainGetVcpusFlags(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                  GError **error);
/* An fd to read the image from (unlinked temporary file), its MIME type in *MIME. */
int qvirDriverDomainScreenshot(qvirDriver *drv, const unsigned char *uuid, unsigned int screen,
                               unsigned int flags, char **mime, GError **error);
gboolean qvirDriverDomainSendKey(qvirDriver *drv, const unsigned char *uuid, unsigned int codeset,
                                 unsigned int holdtime, const guint32 *keycodes, guint nkeycodes,
                                 unsigned int flags, GError **error);
/* Through the guest agent channel org.qemu.guest_agent.0 (unix, bind mode). */
gboolean qvirDriverDomainGetTime(qvirDriver *drv, const unsigned char *uuid, long long *seconds,
                                 unsigned int *nseconds, unsigned int flags, GError **error);
/* virsh qemu-monitor-command: CMD is a QMP command (JSON; QEMU's whole reply comes back, an
 * error reply too) or, with VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP 1, an HMP line (its text
 * output). Taints the domain ("custom-monitor") as libvirt does: a line in its QEMU log and
 * a message for virDomainGetMessages. */
char *qvirDriverDomainQemuMonitorCommand(qvirDriver *drv, const unsigned char *uuid,
                                         const char *cmd, unsigned int flags, GError **error);
/* virDomainGetMessages: FLAGS DEPRECATION 1, TAINTING 2 (0: both). Array of char*. */
GPtrArray *qvirDriverDomainGetMessages(qvirDriver *drv, const unsigned char *uuid,
                                       unsigned int flags, GError **error);
