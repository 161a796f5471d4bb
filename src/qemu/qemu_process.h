/*
 * qemu_process.h: one running QEMU for one domain.
 *
 * Start pipeline (every step undone on failure: no process, no files, no chain left):
 *   fill every disk's chain once from its images (unless the XML carries a terminated chain)
 *   -> check O_DIRECT where cache none/directsync needs it -> assign aliases/nodes/indexes
 *   -> build argv -> spawn QEMU as a child (never -daemonize; output to a log file so QEMU
 *   survives the daemon) -> connect QMP -> "cont" unless paused.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "conf/domain_conf.h"
#include "storage/storage_chain.h"
#include "qemu/qemu_block.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_monitor.h"
#include "qemu/qemu_namespace.h"
#include "security/security_dac.h"

typedef struct _qemuProcess qemuProcess;

typedef enum {
    QEMU_PROCESS_EXIT_SHUTDOWN = 0, /* guest powered off / QEMU quit cleanly */
    QEMU_PROCESS_EXIT_CRASHED,      /* killed by a signal or monitor lost unexpectedly */
    QEMU_PROCESS_EXIT_DESTROYED,    /* we stopped it (qemuProcessStop) */
} qemuProcessExitReason;

typedef struct {
    /* QEMU went away on its own (not through qemuProcessStop). Called once, from a
     * thread that is not the caller of any qemuProcess function. */
    void (*exited)(qemuProcess *proc, qemuProcessExitReason reason, gpointer opaque);
    /* A QMP event, forwarded from the monitor. */
    void (*event)(qemuProcess *proc, const char *name, JsonObject *data, gpointer opaque);
} qemuProcessCallbacks;

typedef struct {
    const char *runDir;    /* monitor socket and pid live here: RUNDIR/NAME.monitor */
    const char *logDir;    /* QEMU's stdout/stderr go to LOGDIR/NAME.log */
    const char *domainDir; /* per-domain scratch directory */
    gboolean startPaused;
    const qvirStorageChainConfig *chainConfig;
    int defaultDiskCache; /* qvirDomainDiskCache applied to disks without one; -1 = none */
    /* Who QEMU runs as and which files it gets (NULL: QEMU keeps the caller's identity and
     * nothing is labelled). With it, the monitor socket lives in domainDir (monitor.sock,
     * as libvirt's), which is handed to QEMU's user with the master key, and every
     * chain layer, the kernel and the initrd are labelled before QEMU starts. A failed
     * start restores them; after a successful one the caller restores them at stop
     * (qvirSecurityDACRestoreDomainLabel on the live definition). */
    qvirSecurityDAC *security;
    /* With an active SECURITY and where the kernel allows it: QEMU gets a private /dev
     * (qemu_namespace.h) built in domainDir/dev. */
    gboolean privateDev;
    /* qvirSecurityDACJournalWrite's journal, written before the first label and removed
     * when the start fails; after a success the caller removes it once its status file is
     * written. NULL: none. */
    const char *labelJournal;
    const char *incoming; /* -incoming URI (a restore; implies startPaused); NULL = none */
    /* Secret lookup and TLS settings for network disks; the master key is the start's
     * own. NULL: a disk that needs a secret cannot start. */
    const qemuBlockSecretCtx *secrets;
} qemuProcessStartOpts;

/*
 * Start DEF (a private live copy the caller owns; it is updated in place with the chains,
 * aliases, node names and indexes it gets). On failure DEF's disks have no chain added.
 */
qemuProcess *qemuProcessStart(qvirDomainDef *def, const qemuCaps *caps,
                              const qemuProcessStartOpts *opts, const qemuProcessCallbacks *cb,
                              gpointer opaque, GError **error);

/* Re-attach to a QEMU started by an earlier daemon, from its pid and monitor socket. */
qemuProcess *qemuProcessReconnect(pid_t pid, const char *monitorPath,
                                  const qemuProcessCallbacks *cb, gpointer opaque, GError **error);

/* Stop QEMU (quit, then SIGTERM, then SIGKILL) and wait for it. The exited callback is not
 * called for a stop we asked for. */
gboolean qemuProcessStop(qemuProcess *proc, GError **error);
/* GRACEFUL: quit, then SIGTERM, but never SIGKILL (an error if QEMU is still there). */
gboolean qemuProcessStopFull(qemuProcess *proc, gboolean graceful, GError **error);

/* Free the handle (closes the monitor). Does not stop QEMU. */
void qemuProcessFree(qemuProcess *proc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuProcess, qemuProcessFree);

pid_t qemuProcessGetPid(const qemuProcess *proc);
const char *qemuProcessGetMonitorPath(const qemuProcess *proc);
qemuMonitor *qemuProcessGetMonitor(qemuProcess *proc);
/* The 32 bytes masterKey0 holds (to encrypt secrets for object-add), or NULL when not
 * known: a reconnected process learns it from DOMAINDIR/master-key.aes with
 * qemuProcessLoadMasterKey. */
const guint8 *qemuProcessGetMasterKey(const qemuProcess *proc);
gboolean qemuProcessLoadMasterKey(qemuProcess *proc, const char *domainDir, GError **error);

/*
 * Before a start or hot-plug: every file of DISK's chain must accept O_DIRECT when its
 * cache mode is none or directsync. Error names the disk, the file and the filesystem:
 *   "disk 'vda': file '/dev/shm/a.qcow2' on a tmpfs filesystem does not support O_DIRECT
 *    needed by cache mode 'none'"
 */
gboolean qemuProcessCheckDirectIO(const qvirDomainDiskDef *disk, GError **error);

/*
 * The part of qemuProcessStart after the command line is built: spawn ARGV (ENVP, or
 * the daemon's environment when NULL) as a child in its own session with stdout/stderr
 * appended to LOGPATH, wait for its QMP socket at MONITORPATH, negotiate, "cont" unless
 * startPaused, and watch it. ARGV must make QEMU listen on MONITORPATH and start with -S.
 * On failure the child is killed and reaped and the socket removed.
 *
 * Watching: one watcher thread per handle polls a pidfd (pidfd_open) for the process
 * and is the only caller of the exited callback; no GMainContext is involved. Events
 * are forwarded from the monitor's reader thread.
 */
typedef struct {
    const char *monitorPath;
    const char *logPath;
    gboolean startPaused;
    unsigned int timeoutMs; /* for the QMP socket and greeting; 0 = 30 s */
    /* Applied in the child before exec (qvirSecurityDACChildSetup); NULL: none. */
    const qvirSecurityDAC *security;
    gboolean keepRawio; /* a disk has rawio='yes': QEMU keeps CAP_SYS_RAWIO */
    /* Built in the child before the identity switch (qemuNamespaceChildSetup); NULL: none. */
    const qemuNamespace *ns;
    const int *passFds; /* descriptors QEMU inherits under the same numbers */
    guint nPassFds;
    /* <vcpu cpuset=>: the child's CPU affinity (a CPU_ALLOC set of cpuAffinitySize bytes),
     * set before exec so every QEMU thread inherits it; NULL: left as the daemon's. */
    const void *cpuAffinity;
    gsize cpuAffinitySize;
} qemuProcessLaunchOpts;

qemuProcess *qemuProcessLaunch(const char *const *argv, const char *const *envp,
                               const qemuProcessLaunchOpts *opts, const qemuProcessCallbacks *cb,
                               gpointer opaque, GError **error);

/* FALSE once the watcher has seen the process go. */
gboolean qemuProcessIsRunning(qemuProcess *proc);
