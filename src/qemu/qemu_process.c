/*
 * qemu_process.c: start, watch, stop and re-attach one QEMU process.
 *
 * Threads. Each handle has one watcher thread that waits (poll) on a pidfd for the QEMU
 * process plus a wake-up pipe; it is the only place that reaps the child and the only
 * caller of the exited callback, so that callback runs at most once and never on the
 * thread of a qemuProcess* caller. The monitor's reader thread reports QMP events and the
 * end of the QMP stream here; both only set flags and wake the watcher. No GMainContext
 * is needed: the daemon's main loop is free to run whatever it likes.
 *
 * Exit reasons: a QMP SHUTDOWN event (guest power-off, "quit") or exit status 0 is a
 * shutdown; a signal, a non-zero status or a lost monitor is a crash. Because QEMU is
 * started with -no-shutdown by libvirt-compatible command lines, a guest power-off leaves
 * it paused; the watcher then ends it (SIGTERM, later SIGKILL), as libvirt does for
 * on_poweroff=destroy.
 */
#include "qemu/qemu_process.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qemu/qemu_command.h"
#include "qemu/qemu_cpu.h"
#include "qemu/qemu_iotune.h"
#include "util/vircrypto.h"
#include "util/virerror.h"
#include "util/virfile.h"

#define QEMU_PROCESS_MONITOR_TIMEOUT_MS 30000
#define QEMU_PROCESS_QUIT_TIMEOUT_MS 2000
/* After "quit", QEMU flushes its images and exits; give it time before signals. */
#define QEMU_PROCESS_QUIT_WAIT_US (3 * G_TIME_SPAN_SECOND)
#define QEMU_PROCESS_TERM_WAIT_US (2 * G_TIME_SPAN_SECOND)
#define QEMU_PROCESS_KILL_WAIT_US (10 * G_TIME_SPAN_SECOND)
/* The monitor is gone but the process is not: it is hung or lost; how long to wait. */
#define QEMU_PROCESS_EOF_GRACE_US (3 * G_TIME_SPAN_SECOND)
/* A powered-off guest: SIGTERM, and SIGKILL when that is ignored this long. */
#define QEMU_PROCESS_SHUTDOWN_TERM_US (5 * G_TIME_SPAN_SECOND)
/* The process is gone: the reader still has to deliver what QEMU wrote before. */
#define QEMU_PROCESS_EOF_DRAIN_US (1 * G_TIME_SPAN_SECOND)
#define QEMU_PROCESS_POLL_MS 100
/* A QEMU that dropped the monitor during start-up: how long until it has exited. */
#define QEMU_PROCESS_EXIT_SETTLE_US (2 * G_TIME_SPAN_SECOND)
#define QEMU_PROCESS_MASTER_KEY_LEN 32
#define QEMU_PROCESS_LOG_TAIL 1024

struct _qemuProcess {
    pid_t pid;
    int pidfd; /* -1 when the kernel has no pidfd_open: the watcher polls */
    gboolean isChild;
    char *monitorPath;
    char *masterKeyPath; /* removed on stop; NULL when we did not create one */
    /* the key masterKey0 holds, kept to encrypt secrets hot-plugged later; valid when
     * haveMasterKey (not after a reconnect: see qemuProcessLoadMasterKey) */
    guint8 masterKey[QEMU_PROCESS_MASTER_KEY_LEN];
    gboolean haveMasterKey;
    qemuMonitor *mon;
    qemuProcessCallbacks cb;
    gpointer opaque;

    GThread *watcher;
    int wakeFds[2];

    GMutex lock; /* the flags below */
    GCond cond;
    gboolean exited; /* the process is gone (and reaped when it is our child) */
    gboolean haveStatus;
    int waitStatus;
    gboolean monitorEOF;
    gboolean sawShutdown; /* QMP SHUTDOWN seen */
    gboolean terminate;   /* a guest power-off: the watcher ends QEMU */
    gboolean stopping;    /* qemuProcessStop: no exited callback */
    gboolean killedLost;  /* the watcher killed a QEMU whose monitor was gone */
    gboolean quit;        /* qemuProcessFree: the watcher returns */
    gboolean selfFree;    /* freed from the exited callback: the watcher frees at exit */
};

/* ---- O_DIRECT ------------------------------------------------------------------- */

typedef struct {
    unsigned long magic;
    const char *name;
} qemuProcessFSType;

/* statfs(2) magic numbers (linux/magic.h) of filesystems users keep images on. */
static const qemuProcessFSType qemuProcessFSTypes[] = {
    {0x01021994, "tmpfs"},    {0x858458f6, "ramfs"}, {0x2fc12fc1, "zfs"},   {0x794c7630, "overlay"},
    {0x65735546, "fuse"},     {0x6969, "nfs"},       {0x9123683e, "btrfs"}, {0xef53, "ext4"},
    {0x58465342, "xfs"},      {0x01021997, "9p"},    {0xff534d42, "cifs"},  {0xfe534d42, "smb2"},
    {0x73717368, "squashfs"}, {0x9660, "iso9660"},   {0x4d44, "vfat"},      {0xf15f, "ecryptfs"},
    {0x9fa0, "proc"},         {0x62656572, "sysfs"}, {0x5346544e, "ntfs"},  {0x2011bab0, "exfat"},
    {0xca451a4e, "bcachefs"}, {0x00c36400, "ceph"},  {0x47504653, "gpfs"},  {0x0bd00bd0, "lustre"},
};

static char *
qemuProcessFSTypeName(const char *path)
{
    struct statfs sb;
    guint i;

    if (statfs(path, &sb) < 0)
        return g_strdup("unknown");
    for (i = 0; i < G_N_ELEMENTS(qemuProcessFSTypes); i++) {
        if ((unsigned long)sb.f_type == qemuProcessFSTypes[i].magic)
            return g_strdup(qemuProcessFSTypes[i].name);
    }
    return g_strdup_printf("0x%lx", (unsigned long)sb.f_type);
}

static gboolean
qemuProcessCheckDirectIOFile(const qvirDomainDiskDef *disk, const char *path, GError **error)
{
    const char *cache = qvirDomainDiskCacheTypeToString(disk->cachemode);
    g_autofree char *fsName = NULL;
    int fd;
    int err;

    fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
        close(fd);
        return TRUE;
    }
    err = errno;
    if (err != EINVAL) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPEN_FAILED, "disk '%s': cannot open file '%s': %s",
                    disk->dst, path, g_strerror(err));
        return FALSE;
    }
    fsName = qemuProcessFSTypeName(path);
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                "disk '%s': file '%s' on a %s filesystem does not support O_DIRECT "
                "needed by cache mode '%s'",
                disk->dst, path, fsName, cache ? cache : "?");
    return FALSE;
}

gboolean
qemuProcessCheckDirectIO(const qvirDomainDiskDef *disk, GError **error)
{
    const qvirStorageSource *src;

    g_return_val_if_fail(disk != NULL, FALSE);

    if (disk->cachemode != QVIR_DOMAIN_DISK_CACHE_DISABLE &&
        disk->cachemode != QVIR_DOMAIN_DISK_CACHE_DIRECTSYNC)
        return TRUE;

    for (src = disk->src; qvirStorageSourceIsBacking(src); src = src->backingStore) {
        /* network layers are opened by QEMU's own drivers, not with O_DIRECT */
        if ((src->type != QVIR_STORAGE_TYPE_FILE && src->type != QVIR_STORAGE_TYPE_BLOCK) ||
            !src->path)
            continue;
        if (!qemuProcessCheckDirectIOFile(disk, src->path, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- signals and waiting -------------------------------------------------------- */

static int
qemuProcessPidfdOpen(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* A pidfd names exactly our process even if its pid were reused; a child's pid cannot
 * be reused before we reap it, so kill() is as good there. */
static int
qemuProcessSignal(qemuProcess *proc, int sig)
{
#ifdef SYS_pidfd_send_signal
    if (proc->pidfd >= 0)
        return (int)syscall(SYS_pidfd_send_signal, proc->pidfd, sig, NULL, 0);
#endif
    return kill(proc->pid, sig);
}

static void
qemuProcessWake(qemuProcess *proc)
{
    char byte = 0;

    while (write(proc->wakeFds[1], &byte, 1) < 0 && errno == EINTR)
        ;
}

/* TRUE when the process has gone; reaps it when it is our child. Watcher thread only. */
static gboolean
qemuProcessCheckGone(qemuProcess *proc)
{
    int status;

    if (proc->isChild) {
        pid_t got = waitpid(proc->pid, &status, WNOHANG);

        if (got == proc->pid) {
            g_mutex_lock(&proc->lock);
            proc->haveStatus = TRUE;
            proc->waitStatus = status;
            g_mutex_unlock(&proc->lock);
            return TRUE;
        }
        /* ECHILD: somebody else reaped it; it is gone all the same */
        return got < 0 && errno == ECHILD;
    }
    if (proc->pidfd >= 0) {
        struct pollfd pfd = {.fd = proc->pidfd, .events = POLLIN};

        return poll(&pfd, 1, 0) > 0;
    }
    return kill(proc->pid, 0) < 0 && errno == ESRCH;
}

static qemuProcessExitReason
qemuProcessExitReasonGet(qemuProcess *proc)
{
    if (proc->killedLost)
        return QEMU_PROCESS_EXIT_CRASHED;
    if (proc->sawShutdown)
        return QEMU_PROCESS_EXIT_SHUTDOWN;
    if (proc->haveStatus && WIFEXITED(proc->waitStatus) && WEXITSTATUS(proc->waitStatus) == 0)
        return QEMU_PROCESS_EXIT_SHUTDOWN;
    return QEMU_PROCESS_EXIT_CRASHED;
}

static void qemuProcessDispose(qemuProcess *proc);

/* The process is gone: wait briefly for the monitor to drain (a SHUTDOWN event QEMU
 * wrote just before exiting decides the reason), then report once. */
static void
qemuProcessWatcherReport(qemuProcess *proc)
{
    gint64 deadline = g_get_monotonic_time() + QEMU_PROCESS_EOF_DRAIN_US;
    qemuProcessExitReason reason;
    gboolean notify;

    g_mutex_lock(&proc->lock);
    proc->exited = TRUE;
    g_cond_broadcast(&proc->cond);
    while (proc->mon && !proc->monitorEOF && !proc->stopping && !proc->quit) {
        if (!g_cond_wait_until(&proc->cond, &proc->lock, deadline))
            break;
    }
    notify = !proc->stopping && !proc->quit;
    reason = qemuProcessExitReasonGet(proc);
    g_mutex_unlock(&proc->lock);

    if (notify && proc->cb.exited)
        proc->cb.exited(proc, reason, proc->opaque);
}

static gpointer
qemuProcessWatcherThread(gpointer data)
{
    qemuProcess *proc = data;
    gint64 eofDeadline = 0;
    gint64 termDeadline = 0;
    gboolean termSent = FALSE;
    gboolean killSent = FALSE;
    gboolean gone = FALSE;
    gboolean selfFree;

    for (;;) {
        struct pollfd fds[2];
        gint64 now = g_get_monotonic_time();
        gint64 next = 0;
        gboolean stopping;
        int nfds = 0;
        int timeout = -1;
        char buf[16];

        if (qemuProcessCheckGone(proc)) {
            gone = TRUE;
            break;
        }

        g_mutex_lock(&proc->lock);
        if (proc->quit) {
            g_mutex_unlock(&proc->lock);
            break;
        }
        stopping = proc->stopping;
        if (proc->monitorEOF && !eofDeadline)
            eofDeadline = now + QEMU_PROCESS_EOF_GRACE_US;
        if (proc->terminate && !termSent && !stopping) {
            termSent = TRUE;
            termDeadline = now + QEMU_PROCESS_SHUTDOWN_TERM_US;
            qemuProcessSignal(proc, SIGTERM);
        }
        if (!stopping && !killSent &&
            ((eofDeadline && now >= eofDeadline) || (termDeadline && now >= termDeadline))) {
            killSent = TRUE;
            /* a powered-off guest that ignored SIGTERM is still a shutdown */
            proc->killedLost = !termSent;
            qemuProcessSignal(proc, SIGKILL);
        }
        g_mutex_unlock(&proc->lock);

        if (!stopping && !killSent) {
            if (eofDeadline)
                next = eofDeadline;
            if (termDeadline && (!next || termDeadline < next))
                next = termDeadline;
        }
        if (next)
            timeout = (int)MAX((next - now) / 1000, 1);
        if (proc->pidfd >= 0) {
            fds[nfds++] = (struct pollfd){.fd = proc->pidfd, .events = POLLIN};
        } else if (timeout < 0 || timeout > QEMU_PROCESS_POLL_MS) {
            timeout = QEMU_PROCESS_POLL_MS;
        }
        fds[nfds++] = (struct pollfd){.fd = proc->wakeFds[0], .events = POLLIN};

        if (poll(fds, nfds, timeout) > 0 && fds[nfds - 1].revents)
            while (read(proc->wakeFds[0], buf, sizeof(buf)) > 0)
                ;
    }

    if (gone)
        qemuProcessWatcherReport(proc);

    g_mutex_lock(&proc->lock);
    selfFree = proc->selfFree;
    g_mutex_unlock(&proc->lock);
    if (selfFree)
        qemuProcessDispose(proc);
    return NULL;
}

/* Wait until the watcher saw the process go, at most TIMEOUT_US. */
static gboolean
qemuProcessWaitExited(qemuProcess *proc, gint64 timeoutUs)
{
    gint64 deadline = g_get_monotonic_time() + timeoutUs;
    gboolean exited;

    g_mutex_lock(&proc->lock);
    while (!proc->exited) {
        if (!g_cond_wait_until(&proc->cond, &proc->lock, deadline))
            break;
    }
    exited = proc->exited;
    g_mutex_unlock(&proc->lock);
    return exited;
}

/* ---- monitor callbacks ---------------------------------------------------------- */

static void
qemuProcessMonitorEvent(qemuMonitor *mon, const char *name, JsonObject *data, gpointer opaque)
{
    qemuProcess *proc = opaque;

    if (g_strcmp0(name, "SHUTDOWN") == 0) {
        g_mutex_lock(&proc->lock);
        proc->sawShutdown = TRUE;
        if (!proc->stopping)
            proc->terminate = TRUE;
        g_cond_broadcast(&proc->cond);
        g_mutex_unlock(&proc->lock);
        qemuProcessWake(proc);
    }
    if (proc->cb.event)
        proc->cb.event(proc, name, data, proc->opaque);
}

static void
qemuProcessMonitorEOF(qemuMonitor *mon, gpointer opaque)
{
    qemuProcess *proc = opaque;

    g_mutex_lock(&proc->lock);
    proc->monitorEOF = TRUE;
    g_cond_broadcast(&proc->cond);
    g_mutex_unlock(&proc->lock);
    qemuProcessWake(proc);
}

static const qemuMonitorCallbacks qemuProcessMonitorCallbacks = {
    .event = qemuProcessMonitorEvent,
    .eof = qemuProcessMonitorEOF,
};

/* ---- handle lifetime ------------------------------------------------------------ */

static qemuProcess *
qemuProcessNew(pid_t pid, const char *monitorPath, const qemuProcessCallbacks *cb, gpointer opaque,
               GError **error)
{
    qemuProcess *proc = g_new0(qemuProcess, 1);

    proc->pid = pid;
    proc->pidfd = -1;
    proc->wakeFds[0] = proc->wakeFds[1] = -1;
    proc->monitorPath = g_strdup(monitorPath);
    if (cb)
        proc->cb = *cb;
    proc->opaque = opaque;
    g_mutex_init(&proc->lock);
    g_cond_init(&proc->cond);

    if (pipe2(proc->wakeFds, O_CLOEXEC | O_NONBLOCK) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create a pipe: %s",
                    g_strerror(errno));
        qemuProcessDispose(proc);
        return NULL;
    }
    return proc;
}

static void
qemuProcessDispose(qemuProcess *proc)
{
    if (proc->watcher)
        g_thread_unref(proc->watcher);
    if (proc->pidfd >= 0)
        close(proc->pidfd);
    if (proc->wakeFds[0] >= 0)
        close(proc->wakeFds[0]);
    if (proc->wakeFds[1] >= 0)
        close(proc->wakeFds[1]);
    g_free(proc->monitorPath);
    g_free(proc->masterKeyPath);
    qvirCryptoWipe(proc->masterKey, sizeof(proc->masterKey));
    g_mutex_clear(&proc->lock);
    g_cond_clear(&proc->cond);
    g_free(proc);
}

/* Take the monitor out of the handle under the lock, then close it (joining its reader,
 * which may itself be waiting for the lock in a callback). */
static void
qemuProcessCloseMonitor(qemuProcess *proc)
{
    qemuMonitor *mon;

    g_mutex_lock(&proc->lock);
    mon = g_steal_pointer(&proc->mon);
    g_mutex_unlock(&proc->lock);
    qemuMonitorClose(mon);
}

static gboolean
qemuProcessStartWatcher(qemuProcess *proc, GError **error)
{
    GThread *thread;

    /* Under the lock: the watcher must see proc->watcher set before it can report (and
     * an exited callback freeing the handle asks whether it runs on the watcher). */
    g_mutex_lock(&proc->lock);
    thread = g_thread_try_new("qemu-watch", qemuProcessWatcherThread, proc, NULL);
    proc->watcher = thread;
    g_mutex_unlock(&proc->lock);
    if (!thread) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "cannot start the QEMU process watcher thread");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qemuProcessOnWatcher(qemuProcess *proc)
{
    return proc->watcher && g_thread_self() == proc->watcher;
}

void
qemuProcessFree(qemuProcess *proc)
{
    gboolean onWatcher;

    if (!proc)
        return;

    onWatcher = qemuProcessOnWatcher(proc);
    g_mutex_lock(&proc->lock);
    proc->quit = TRUE;
    proc->selfFree = onWatcher;
    g_cond_broadcast(&proc->cond);
    g_mutex_unlock(&proc->lock);
    qemuProcessWake(proc);

    /* After this no event callback runs. */
    qemuProcessCloseMonitor(proc);

    if (onWatcher)
        return; /* the watcher disposes of the handle when the exited callback returns */
    if (proc->watcher)
        g_thread_join(g_steal_pointer(&proc->watcher));
    qemuProcessDispose(proc);
}

pid_t
qemuProcessGetPid(const qemuProcess *proc)
{
    return proc->pid;
}

const char *
qemuProcessGetMonitorPath(const qemuProcess *proc)
{
    return proc->monitorPath;
}

qemuMonitor *
qemuProcessGetMonitor(qemuProcess *proc)
{
    return proc->mon;
}

/* ---- stop ----------------------------------------------------------------------- */

static void
qemuProcessRemoveFiles(qemuProcess *proc)
{
    if (proc->monitorPath)
        g_unlink(proc->monitorPath);
    if (proc->masterKeyPath)
        g_unlink(proc->masterKeyPath);
}

gboolean
qemuProcessStop(qemuProcess *proc, GError **error)
{
    return qemuProcessStopFull(proc, FALSE, error);
}

gboolean
qemuProcessStopFull(qemuProcess *proc, gboolean graceful, GError **error)
{
    gboolean exited;
    gboolean monitorUsable;

    g_return_val_if_fail(proc != NULL, FALSE);

    g_mutex_lock(&proc->lock);
    proc->stopping = TRUE;
    exited = proc->exited;
    monitorUsable = proc->mon && !proc->monitorEOF;
    g_cond_broadcast(&proc->cond);
    g_mutex_unlock(&proc->lock);
    qemuProcessWake(proc);

    if (!exited && monitorUsable) {
        g_autoptr(GError) quitError = NULL;
        g_autoptr(JsonNode) ret =
            qemuMonitorCommand(proc->mon, "quit", NULL, QEMU_PROCESS_QUIT_TIMEOUT_MS, &quitError);

        if (ret)
            exited = qemuProcessWaitExited(proc, QEMU_PROCESS_QUIT_WAIT_US);
        else
            g_debug("QEMU pid %d did not take 'quit': %s", (int)proc->pid, quitError->message);
    }
    if (!exited) {
        qemuProcessSignal(proc, SIGTERM);
        exited = qemuProcessWaitExited(proc, QEMU_PROCESS_TERM_WAIT_US);
    }
    if (!exited && graceful) {
        /* libvirt's VIR_DOMAIN_DESTROY_GRACEFUL: never SIGKILL; the process is left as is */
        g_mutex_lock(&proc->lock);
        proc->stopping = FALSE;
        g_mutex_unlock(&proc->lock);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "Failed to terminate process %d with SIGTERM: Device or resource busy",
                    (int)proc->pid);
        return FALSE;
    }
    if (!exited) {
        qemuProcessSignal(proc, SIGKILL);
        exited = qemuProcessWaitExited(proc, QEMU_PROCESS_KILL_WAIT_US);
    }
    if (!exited) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "QEMU process %d did not exit after SIGKILL", (int)proc->pid);
        return FALSE;
    }

    qemuProcessCloseMonitor(proc);
    if (!qemuProcessOnWatcher(proc) && proc->watcher)
        g_thread_join(g_steal_pointer(&proc->watcher));
    qemuProcessRemoveFiles(proc);
    return TRUE;
}

/* ---- spawning ------------------------------------------------------------------- */

static void
qemuProcessChildSetup(gpointer data)
{
    const qemuProcessLaunchOpts *lopts = data;
    sigset_t all;

    /* Its own session: a Ctrl-C or SIGHUP aimed at the daemon's terminal does not reach
     * QEMU, which must outlive a daemon restart. */
    setsid();
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* libvirt pins the emulator and vCPU threads to <vcpu cpuset=> once they exist;
     * setting it here, before exec, gives every thread QEMU creates the same set. */
    if (lopts->cpuAffinity &&
        sched_setaffinity(0, lopts->cpuAffinitySize, (const cpu_set_t *)lopts->cpuAffinity) < 0)
        qvirFileChildFail("qvirt: cannot set CPU affinity: ", "sched_setaffinity", NULL);
    /* Still root: the private /dev first. */
    qemuNamespaceChildSetup(lopts->ns);
    /* Last: after this the child is QEMU's user, without capabilities. */
    qvirSecurityDACChildSetup(lopts->security, lopts->keepRawio);
}

static char *
qemuProcessLogTail(const char *logPath, goffset from)
{
    g_autofree char *contents = NULL;
    gsize len = 0;
    const char *tail;
    gsize start;

    if (!logPath || !g_file_get_contents(logPath, &contents, &len, NULL))
        return g_strdup("");
    start = from >= 0 && (gsize)from <= len ? (gsize)from : 0;
    if (len - start > QEMU_PROCESS_LOG_TAIL)
        start = len - QEMU_PROCESS_LOG_TAIL;
    tail = contents + start;
    {
        /* libvirt leaves out QEMU's "char device redirected to" notices (qemuProcessReadLog):
         * they are not the error */
        g_auto(GStrv) lines = g_strsplit(tail, "\n", -1);
        g_autoptr(GString) kept = g_string_new(NULL);

        for (guint i = 0; lines[i]; i++) {
            if (strstr(lines[i], "char device redirected to"))
                continue;
            if (kept->len)
                g_string_append_c(kept, '\n');
            g_string_append(kept, lines[i]);
        }
        return g_strstrip(g_string_free(g_steal_pointer(&kept), FALSE));
    }
}

static void
qemuProcessLogHeader(int logfd, const char *const *argv)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S.%f");
    g_autofree char *cmd = g_strjoinv(" ", (char **)argv);
    g_autofree char *line = g_strdup_printf("%.23s+0000: starting up\n%s\n", stamp, cmd);

    /* the log is best effort */
    (void)qvirFileWriteAll(logfd, line, strlen(line));
}

/*
 * libvirt's taints for what qvirt passes to QEMU unchecked: <qemu:commandline> is
 * custom-argv, a disk with rawio='yes' (QEMU keeps CAP_SYS_RAWIO) high-privileges,
 * <qemu:capabilities> custom-hypervisor-feature. Logged as libvirt does, in
 * the domain's log after the command line and as a warning.
 */
static void
qemuProcessLogTaints(const qvirDomainDef *def, const char *logPath)
{
    const char *taints[3];
    size_t n = 0;
    int fd;

    /* libvirt's order of taint flags */
    if (def->qemuArgs || def->qemuEnv)
        taints[n++] = "custom-argv";
    if (qvirDomainDefNeedsRawio(def))
        taints[n++] = "high-privileges";
    if (def->qemuCapsAdd || def->qemuCapsDel)
        taints[n++] = "custom-hypervisor-feature";
    if (!n)
        return;
    fd = open(logPath, O_WRONLY | O_APPEND | O_CLOEXEC);
    for (size_t i = 0; i < n; i++) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S.%f");
        g_autofree char *line =
            g_strdup_printf("%.23s+0000: Domain id=%d is tainted: %s\n", stamp, def->id, taints[i]);

        g_message("Domain id=%d name='%s' is tainted: %s", def->id, def->name, taints[i]);
        /* the log is best effort */
        if (fd >= 0)
            (void)qvirFileWriteAll(fd, line, strlen(line));
    }
    if (fd >= 0)
        close(fd);
}

/* Kill and reap a child that never became a running domain. */
static void
qemuProcessAbortChild(pid_t pid)
{
    int status;

    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* TRUE when child PID exited (and was reaped) within TIMEOUT_US. */
static gboolean
qemuProcessReapWithin(pid_t pid, gint64 timeoutUs)
{
    gint64 deadline = g_get_monotonic_time() + timeoutUs;

    for (;;) {
        int status;
        pid_t got = waitpid(pid, &status, WNOHANG);

        if (got == pid || (got < 0 && errno == ECHILD))
            return TRUE;
        if (g_get_monotonic_time() >= deadline)
            return FALSE;
        g_usleep(2000);
    }
}

/*
 * Wait for QEMU to create its QMP socket, noticing a child that died first (bad argv,
 * image it cannot open) so the error carries QEMU's own message rather than a timeout.
 */
static gboolean
qemuProcessWaitSocket(pid_t pid, const char *monitorPath, const char *logPath, goffset logStart,
                      gint64 deadline, gboolean *reaped, GError **error)
{
    for (;;) {
        if (qemuProcessReapWithin(pid, 0)) {
            g_autofree char *tail = qemuProcessLogTail(logPath, logStart);

            *reaped = TRUE;

            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "process exited while connecting to monitor: %s", tail);
            return FALSE;
        }
        if (g_file_test(monitorPath, G_FILE_TEST_EXISTS))
            return TRUE;
        if (g_get_monotonic_time() >= deadline) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                        "timed out waiting for QEMU to create monitor socket '%s'", monitorPath);
            return FALSE;
        }
        g_usleep(2000);
    }
}

static GPtrArray *
qemuProcessStrv(GPtrArray *arr)
{
    GPtrArray *strv = g_ptr_array_new();
    guint i;

    for (i = 0; arr && i < arr->len; i++) {
        if (g_ptr_array_index(arr, i))
            g_ptr_array_add(strv, g_ptr_array_index(arr, i));
    }
    g_ptr_array_add(strv, NULL);
    return strv;
}

qemuProcess *
qemuProcessLaunch(const char *const *argv, const char *const *envp,
                  const qemuProcessLaunchOpts *lopts, const qemuProcessCallbacks *cb,
                  gpointer opaque, GError **error)
{
    gint64 deadline;
    gint64 t0 = g_get_monotonic_time();
    gint64 tSocket = 0;
    gint64 tQMP = 0;
    g_autoptr(GError) monError = NULL;
    qemuProcess *proc = NULL;
    GPid pid = 0;
    goffset logStart = 0;
    gboolean reaped = FALSE;
    int logfd = -1;
    int nullfd = -1;
    struct stat sb;

    g_return_val_if_fail(argv && argv[0] && lopts && lopts->monitorPath && lopts->logPath, NULL);

    logfd = open(lopts->logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot open log file '%s': %s",
                    lopts->logPath, g_strerror(errno));
        return NULL;
    }
    qemuProcessLogHeader(logfd, argv);
    /* QEMU's own messages start here: an error quotes them, not the header or earlier runs. */
    if (fstat(logfd, &sb) == 0)
        logStart = sb.st_size;

    if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot open /dev/null: %s",
                    g_strerror(errno));
        close(logfd);
        return NULL;
    }

    /* A stale socket from a QEMU that died unnoticed must not be mistaken for ours. */
    g_unlink(lopts->monitorPath);

    /* stdout/stderr go to the log (O_APPEND), never to a pipe of ours, so QEMU keeps
     * running when the daemon exits. GLib closes every other descriptor in the child. */
    if (!g_spawn_async_with_pipes_and_fds(NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD,
                                          qemuProcessChildSetup, (gpointer)lopts, nullfd, logfd,
                                          logfd, lopts->passFds, lopts->passFds, lopts->nPassFds,
                                          &pid, NULL, NULL, NULL, error)) {
        close(nullfd);
        close(logfd);
        if (error && *error)
            qvirErrorPrefix(error, "cannot start QEMU '%s': ", argv[0]);
        return NULL;
    }
    close(nullfd);
    close(logfd);

    deadline =
        g_get_monotonic_time() +
        (gint64)(lopts->timeoutMs ? lopts->timeoutMs : QEMU_PROCESS_MONITOR_TIMEOUT_MS) * 1000;

    if (!(proc = qemuProcessNew(pid, lopts->monitorPath, cb, opaque, error)))
        goto error;
    proc->isChild = TRUE;
    proc->pidfd = qemuProcessPidfdOpen(pid);

    if (!qemuProcessWaitSocket(pid, lopts->monitorPath, lopts->logPath, logStart, deadline, &reaped,
                               error))
        goto error;
    tSocket = g_get_monotonic_time();

    proc->mon = qemuMonitorOpenUnix(
        lopts->monitorPath, (unsigned int)MAX((deadline - g_get_monotonic_time()) / 1000, 1),
        &qemuProcessMonitorCallbacks, proc, &monError);
    if (!proc->mon) {
        g_autofree char *tail = NULL;

        /* QEMU creates the socket before it opens the images: a failure there shows
         * as a lost connection, but it is the process's exit that explains it. */
        reaped = qemuProcessReapWithin(pid, QEMU_PROCESS_EXIT_SETTLE_US);
        tail = qemuProcessLogTail(lopts->logPath, logStart);
        if (reaped)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "process exited while connecting to monitor: %s", tail);
        else if (*tail)
            g_set_error(error, QVIR_ERROR, monError->code, "%s: %s", monError->message, tail);
        else
            g_propagate_error(error, g_steal_pointer(&monError));
        goto error;
    }

    tQMP = g_get_monotonic_time();

    if (!lopts->startPaused) {
        g_autoptr(JsonNode) ret =
            qemuMonitorCommand(proc->mon, "cont", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        if (!ret)
            goto error;
    }

    if (!qemuProcessStartWatcher(proc, error))
        goto error;
    g_debug("QEMU pid %d: monitor socket after %" G_GINT64_FORMAT
            " ms, QMP ready after %" G_GINT64_FORMAT " ms, %s after %" G_GINT64_FORMAT " ms",
            (int)pid, (tSocket - t0) / 1000, (tQMP - t0) / 1000,
            lopts->startPaused ? "paused" : "running", (g_get_monotonic_time() - t0) / 1000);
    return proc;

error:
    if (proc) {
        qemuProcessCloseMonitor(proc);
        proc->isChild = FALSE; /* reaped below, not by the watcher */
    }
    if (pid > 0 && !reaped)
        qemuProcessAbortChild(pid);
    g_unlink(lopts->monitorPath);
    if (proc)
        qemuProcessDispose(proc);
    return NULL;
}

/* ---- the start pipeline --------------------------------------------------------- */

/* What a start changed on DEF's disks, to be put back when it fails. Keyed by the disk
 * object, not its index: preparing a start may reorder def->disks. */
typedef struct {
    qvirDomainDiskDef *disk;
    qvirStorageSource *origSrc; /* copy of disk->src before probing; NULL: not probed */
    qvirDomainDiskCache origCache;
} qemuProcessDiskUndo;

static void
qemuProcessUndoDisks(qemuProcessDiskUndo *undo, guint n)
{
    guint i;

    for (i = 0; i < n; i++) {
        qvirDomainDiskDef *disk = undo[i].disk;

        disk->cachemode = undo[i].origCache;
        if (undo[i].origSrc) {
            qvirStorageSourceFree(disk->src);
            disk->src = g_steal_pointer(&undo[i].origSrc);
        }
    }
}

static void
qemuProcessUndoFree(qemuProcessDiskUndo *undo, guint n)
{
    guint i;

    for (i = 0; i < n; i++)
        qvirStorageSourceFree(undo[i].origSrc);
    g_free(undo);
}

static gboolean
qemuProcessDiskNeedsProbe(const qvirDomainDiskDef *disk)
{
    const qvirStorageSource *src = disk->src;

    if (!src || !src->path)
        return FALSE;
    if (src->type != QVIR_STORAGE_TYPE_FILE && src->type != QVIR_STORAGE_TYPE_BLOCK)
        return FALSE;
    return !qvirStorageSourceChainIsTerminated(src);
}

static gboolean
qemuProcessPrepareDisks(const qemuProcessStartOpts *opts, qemuProcessDiskUndo *undo, guint n,
                        GError **error)
{
    qvirStorageChainConfig defaults;
    guint i;

    qvirStorageChainConfigInit(&defaults);

    for (i = 0; i < n; i++) {
        qvirDomainDiskDef *disk = undo[i].disk;
        qvirStorageChainConfig cfg = opts->chainConfig ? *opts->chainConfig : defaults;

        if (qemuProcessDiskNeedsProbe(disk)) {
            undo[i].origSrc = qvirStorageSourceCopy(disk->src);
            cfg.diskName = disk->dst;
            if (!qvirStorageChainProbe(disk->src, &cfg, error))
                return FALSE;
        }
        if (disk->cachemode == QVIR_DOMAIN_DISK_CACHE_DEFAULT && opts->defaultDiskCache > 0 &&
            opts->defaultDiskCache < QVIR_DOMAIN_DISK_CACHE_LAST)
            disk->cachemode = (qvirDomainDiskCache)opts->defaultDiskCache;
    }

    for (i = 0; i < n; i++) {
        if (!qemuProcessCheckDirectIO(undo[i].disk, error))
            return FALSE;
    }
    return TRUE;
}

/* The key QEMU's "-object secret,id=masterKey0,format=raw,file=..." reads: 32 random
 * bytes, readable by us only; also copied to KEYOUT, to encrypt secrets with. */
static char *
qemuProcessWriteMasterKey(const char *domainDir, guint8 *keyOut, GError **error)
{
    g_autofree char *path = qemuBuildMasterKeyPath(domainDir);
    guint8 key[QEMU_PROCESS_MASTER_KEY_LEN];
    gsize got = 0;

    while (got < sizeof(key)) {
        ssize_t n = getrandom(key + got, sizeof(key) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "cannot generate the domain master key: %s", g_strerror(errno));
            return NULL;
        }
        got += (gsize)n;
    }
    if (!qvirFileWriteAtomic(path, (const char *)key, sizeof(key), 0600, error)) {
        qvirCryptoWipe(key, sizeof(key));
        return NULL;
    }
    memcpy(keyOut, key, sizeof(key));
    qvirCryptoWipe(key, sizeof(key));
    return g_steal_pointer(&path);
}

gboolean
qemuProcessLoadMasterKey(qemuProcess *proc, const char *domainDir, GError **error)
{
    g_autofree char *path = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;

    if (proc->haveMasterKey)
        return TRUE;
    path = qemuBuildMasterKeyPath(domainDir);
    if (!g_file_get_contents(path, &data, &len, error))
        return FALSE;
    if (len != QEMU_PROCESS_MASTER_KEY_LEN) {
        qvirCryptoWipe(data, len);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "master key '%s' has %" G_GSIZE_FORMAT " bytes, not %d", path, len,
                    QEMU_PROCESS_MASTER_KEY_LEN);
        return FALSE;
    }
    memcpy(proc->masterKey, data, len);
    qvirCryptoWipe(data, len);
    proc->haveMasterKey = TRUE;
    return TRUE;
}

const guint8 *
qemuProcessGetMasterKey(const qemuProcess *proc)
{
    return proc->haveMasterKey ? proc->masterKey : NULL;
}

/*
 * With set-action QEMU always gets -no-shutdown, so <on_reboot>destroy</on_reboot> (which
 * older binaries got as -no-reboot) is applied over QMP: a guest reset then becomes a
 * SHUTDOWN, which ends the domain. libvirt 9.0 does the same and nothing else here.
 */
static gboolean
qemuProcessNeedsLifecycleActions(const qvirDomainDef *def, const qemuCaps *caps)
{
    return qemuCapsGet(caps, QEMU_CAPS_SET_ACTION) &&
           def->onReboot == QVIR_DOMAIN_LIFECYCLE_ACTION_DESTROY;
}

static gboolean
qemuProcessDiskHasThrottle(const qvirDomainDiskDef *disk)
{
    return qvirDomainDiskHasIotune(disk) && qvirStorageSourceIsBacking(disk->src);
}

/* Anything to set over QMP before the vCPUs may run. */
static gboolean
qemuProcessNeedsSetup(const qvirDomainDef *def, const qemuCaps *caps)
{
    if (qemuProcessNeedsLifecycleActions(def, caps))
        return TRUE;
    for (guint i = 0; def->disks && i < def->disks->len; i++) {
        if (qemuProcessDiskHasThrottle(g_ptr_array_index(def->disks, i)))
            return TRUE;
    }
    return FALSE;
}

/*
 * <iotune> is not on the command line with -blockdev: as libvirt does, each disk's limits
 * go to block_set_io_throttle once QMP is up, addressed by the guest device
 * (qemu_iotune.c). Empty drives take no throttle.
 */
static gboolean
qemuProcessSetupDiskThrottling(qemuProcess *proc, const qvirDomainDef *def, const qemuCaps *caps,
                               GError **error)
{
    for (guint i = 0; def->disks && i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);
        g_auto(qemuBlockIoTune) t = {0};

        if (!qemuProcessDiskHasThrottle(disk))
            continue;
        qemuBlockIoTuneFromDisk(&t, disk);
        if (!qemuBlockIoTuneSet(proc->mon, caps, disk, &t, error)) {
            g_prefix_error(error, "disk '%s': ", disk->dst);
            return FALSE;
        }
    }
    return TRUE;
}

/* Chardev "charALIAS" in query-chardev's reply CHARDEVS; NULL when it is not there. */
static JsonObject *
qemuProcessFindChardev(JsonNode *chardevs, const char *alias)
{
    g_autofree char *label = g_strdup_printf("char%s", alias);
    JsonArray *arr =
        chardevs && JSON_NODE_HOLDS_ARRAY(chardevs) ? json_node_get_array(chardevs) : NULL;

    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);

        if (o &&
            g_strcmp0(json_object_get_string_member_with_default(o, "label", NULL), label) == 0)
            return o;
    }
    return NULL;
}

/* The pty behind chardev "charALIAS", from query-chardev's reply. */
static char *
qemuProcessFindPty(JsonNode *chardevs, const char *alias)
{
    JsonObject *o = qemuProcessFindChardev(chardevs, alias);
    const char *file = o ? json_object_get_string_member_with_default(o, "filename", NULL) : NULL;

    return file && g_str_has_prefix(file, "pty:") ? g_strdup(file + 4) : NULL;
}

static gboolean
qemuProcessChardevOpen(JsonNode *chardevs, const char *alias)
{
    JsonObject *o = qemuProcessFindChardev(chardevs, alias);

    return o && json_object_get_boolean_member_with_default(o, "frontend-open", FALSE);
}

static void
qemuProcessSetPty(qvirDomainChrDef *chr, JsonNode *chardevs)
{
    if (g_strcmp0(chr->type, "pty") != 0 || !chr->info.alias)
        return;
    g_free(chr->ptyPath);
    chr->ptyPath = qemuProcessFindPty(chardevs, chr->info.alias);
}

/*
 * What libvirt reads back from a QEMU that has not run yet, into the live definition: the
 * pty each character device got, the balloon's size, and the vCPU as the accelerator
 * built it (qemuProcessRefreshState, qemuProcessUpdateGuestCPU).
 */
static gboolean
qemuProcessRefreshLive(qemuProcess *proc, qvirDomainDef *def, GError **error)
{
    g_autoptr(JsonNode) chardevs = NULL;

    if (def->serials->len + def->consoles->len + def->channels->len > 0) {
        if (!(chardevs = qemuMonitorCommand(proc->mon, "query-chardev", NULL,
                                            QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error)))
            return FALSE;
        for (guint i = 0; i < def->serials->len; i++)
            qemuProcessSetPty(g_ptr_array_index(def->serials, i), chardevs);
        for (guint i = 0; i < def->channels->len; i++) {
            qvirDomainChrDef *chr = g_ptr_array_index(def->channels, i);

            qemuProcessSetPty(chr, chardevs);
            /* whether the guest has opened the port (libvirt tracks named virtio ones) */
            if (chr->targetName) {
                g_free(chr->targetState);
                chr->targetState =
                    g_strdup(qemuProcessChardevOpen(chardevs, chr->info.alias) ? "connected"
                                                                               : "disconnected");
            }
        }
        for (guint i = 0; i < def->consoles->len; i++) {
            qvirDomainChrDef *con = g_ptr_array_index(def->consoles, i);

            /* the serial console is the first serial port under another name */
            if (i == 0 && g_strcmp0(con->targetType, "serial") == 0 && def->serials->len > 0) {
                g_free(con->ptyPath);
                con->ptyPath =
                    g_strdup(((qvirDomainChrDef *)g_ptr_array_index(def->serials, 0))->ptyPath);
                continue;
            }
            qemuProcessSetPty(con, chardevs);
        }
    }

    if (def->memballoon && g_strcmp0(def->memballoon->model, "virtio") == 0) {
        g_autoptr(JsonNode) balloon = qemuMonitorCommand(proc->mon, "query-balloon", NULL,
                                                         QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        JsonObject *o;

        if (!balloon)
            return FALSE;
        if (JSON_NODE_HOLDS_OBJECT(balloon) && (o = json_node_get_object(balloon)) &&
            json_object_has_member(o, "actual"))
            def->currentMemoryKiB = json_object_get_int_member(o, "actual") / 1024;
    }

    if (g_strcmp0(def->cpuMode, "custom") == 0 && def->cpuModel) {
        g_autoptr(JsonNode) cpus = qemuMonitorCommand(proc->mon, "query-cpus-fast", NULL,
                                                      QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        g_autoptr(JsonNode) words = NULL;
        g_autoptr(JsonNode) filtered = NULL;
        JsonObject *args;
        JsonObject *cpu0;
        const char *path;

        if (!cpus)
            return FALSE;
        if (!JSON_NODE_HOLDS_ARRAY(cpus) || json_array_get_length(json_node_get_array(cpus)) == 0 ||
            !(cpu0 = json_array_get_object_element(json_node_get_array(cpus), 0)) ||
            !(path = json_object_get_string_member_with_default(cpu0, "qom-path", NULL))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "unexpected reply to query-cpus-fast");
            return FALSE;
        }
        args = json_object_new();
        json_object_set_string_member(args, "path", path);
        json_object_set_string_member(args, "property", "feature-words");
        words = qemuMonitorCommandSteal(proc->mon, "qom-get", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                                        error);
        if (!words)
            return FALSE;
        args = json_object_new();
        json_object_set_string_member(args, "path", path);
        json_object_set_string_member(args, "property", "filtered-features");
        filtered = qemuMonitorCommandSteal(proc->mon, "qom-get", args,
                                           QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        if (!filtered || !qemuCPUUpdateLive(def, words, filtered, error))
            return FALSE;
    }
    return TRUE;
}

/* What must happen over QMP before the vCPUs run, then "cont" unless STARTPAUSED. */
static gboolean
qemuProcessSetupBeforeRun(qemuProcess *proc, const qvirDomainDef *def, const qemuCaps *caps,
                          gboolean startPaused, GError **error)
{
    g_autoptr(JsonNode) ret = NULL;
    JsonObject *args;

    if (qemuProcessNeedsSetup(def, caps) && !qemuProcessSetupDiskThrottling(proc, def, caps, error))
        return FALSE;
    if (qemuProcessNeedsLifecycleActions(def, caps)) {
        args = json_object_new();
        json_object_set_string_member(args, "reboot", "shutdown");
        ret = qemuMonitorCommandSteal(proc->mon, "set-action", args,
                                      QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        if (!ret)
            return FALSE;
    }
    if (!startPaused) {
        g_autoptr(JsonNode) cont =
            qemuMonitorCommand(proc->mon, "cont", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);

        if (!cont)
            return FALSE;
    }
    return TRUE;
}

static void
qemuProcessCloseFd(gpointer data)
{
    int fd = *(int *)data;

    if (fd >= 0)
        close(fd);
}

/*
 * libvirt creates the listening socket of a unix channel itself and hands QEMU the
 * descriptor (-chardev socket,fd=N): one per channel of DEF into FDS (-1 for the others).
 * The socket is DOMAINDIR/NAME unless the XML names a path.
 */
static gboolean
qemuProcessOpenChannelSockets(qvirDomainDef *def, const char *domainDir, GArray *fds,
                              GError **error)
{
    for (guint i = 0; def->channels && i < def->channels->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->channels, i);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int fd = -1;

        if (g_strcmp0(chr->type, "unix") == 0 && g_strcmp0(chr->sourceMode, "connect") != 0 &&
            (chr->sourcePath || domainDir)) {
            g_autofree char *path =
                chr->sourcePath
                    ? g_strdup(chr->sourcePath)
                    : g_strdup_printf("%s/%s", domainDir,
                                      chr->targetName ? chr->targetName : chr->info.alias);

            if (strlen(path) >= sizeof(addr.sun_path)) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "channel '%s': UNIX socket path '%s' is too long", chr->info.alias,
                            path);
                return FALSE;
            }
            g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
            g_unlink(path);
            if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
                bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
                int saved = errno;

                if (fd >= 0)
                    close(fd);
                g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                            "Failed to bind socket to '%s': %s", path, g_strerror(saved));
                return FALSE;
            }
        }
        g_array_append_val(fds, fd);
    }
    return TRUE;
}

/*
 * What a start writes into the live definition that define does not: a VNC display
 * without an address listens where qemu.conf's vnc_listen says (127.0.0.1 by default),
 * an empty drive has no format, a custom CPU model does not fall back, and a guest
 * without a balloon has all its memory.
 */
static void
qemuProcessPrepareLiveDefaults(qvirDomainDef *def)
{
    /* the model is pinned: no fallback to another one (qemuProcessUpdateGuestCPU) */
    if (g_strcmp0(def->cpuMode, "custom") == 0 && def->cpuModel) {
        g_free(def->cpuFallback);
        def->cpuFallback = g_strdup("forbid");
    }
    /* without a balloon the guest has all of its memory */
    if (!def->memballoon || g_strcmp0(def->memballoon->model, "none") == 0)
        def->currentMemoryKiB = def->memoryKiB;
    for (guint i = 0; def->graphics && i < def->graphics->len; i++) {
        qvirDomainGraphicsDef *g = g_ptr_array_index(def->graphics, i);

        if (g_strcmp0(g->type, "vnc") == 0 && !g->listen)
            g->listen = g_strdup("127.0.0.1");
    }
    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        if (d->src && d->src->type == QVIR_STORAGE_TYPE_NONE)
            d->src->format = QVIR_STORAGE_FILE_NONE;
    }
}

/* Whether nothing listens on PORT (TCP, any address): the test libvirt's port allocator
 * makes before it hands a port out. */
static gboolean
qemuProcessPortIsFree(int port)
{
    struct sockaddr_in addr = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gboolean ok;

    if (fd < 0)
        return FALSE;
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    ok = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    close(fd);
    return ok;
}

/* An autoport VNC display gets the first free port from 5900, as in libvirt; the live XML
 * shows it. */
static gboolean
qemuProcessAllocateGraphicsPorts(qvirDomainDef *def, GError **error)
{
    for (guint i = 0; def->graphics && i < def->graphics->len; i++) {
        qvirDomainGraphicsDef *g = g_ptr_array_index(def->graphics, i);
        int port;

        if (!g->autoport || g_strcmp0(g->type, "vnc") != 0)
            continue;
        for (port = 5900; port < 65536 && !qemuProcessPortIsFree(port); port++)
            ;
        if (port == 65536) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "Unable to find an unused port in range 'display' (5900-65535)");
            return FALSE;
        }
        g->port = port;
    }
    return TRUE;
}

/*
 * The file of a file chardev, or a chardev's log, opened by the daemon for QEMU to
 * inherit (libvirt's way without virtlogd): QEMU needs no access to the path, and the
 * file is truncated here once unless the XML asks to append.
 */
static int
qemuProcessOpenChrFile(void *opaque, const char *name, const char *path, gboolean append,
                       GError **error)
{
    GArray *fds = opaque;
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);

    if (fd < 0) {
        int err = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Failed to create file '%s': %s",
                    path, g_strerror(err));
        return -1;
    }
    g_array_append_val(fds, fd);
    return fd;
}

/*
 * QEMU's message for an image it could not open names only the node ("-blockdev
 * {"node-name":"libvirt-2-format",…}: Invalid password, …"): add which disk that node
 * belongs to, keeping QEMU's text (and libvirt's start of the message) as they are.
 */
static void
qemuProcessNameFailedDisk(const qvirDomainDef *def, GError **error)
{
    if (!error || !*error)
        return;
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        for (const qvirStorageSource *n = disk->src; qvirStorageSourceIsBacking(n);
             n = n->backingStore) {
            const char *nodes[] = {n->nodeFormat, n->nodeStorage};

            for (size_t k = 0; k < G_N_ELEMENTS(nodes); k++) {
                g_autofree char *needle = NULL;

                if (!nodes[k])
                    continue;
                needle = g_strdup_printf("\"node-name\":\"%s\"", nodes[k]);
                if (strstr((*error)->message, needle)) {
                    g_autofree char *old = g_steal_pointer(&(*error)->message);

                    (*error)->message =
                        g_strdup_printf("%s (disk '%s')", g_strchomp(old), disk->dst);
                    return;
                }
            }
        }
    }
}

typedef cpu_set_t qemuProcessCpuSet;

static void
qemuProcessCpuSetFree(qemuProcessCpuSet *set)
{
    if (set)
        CPU_FREE(set);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuProcessCpuSet, qemuProcessCpuSetFree);

/* <vcpu cpuset=> as a CPU_ALLOC set; NULL when the domain has none. */
static cpu_set_t *
qemuProcessCpuAffinity(const qvirDomainDef *def, gsize *size)
{
    guint n;
    cpu_set_t *set;

    if (!def->cpumask)
        return NULL;
    n = qvirBitmapSize(def->cpumask);
    set = CPU_ALLOC(n);
    *size = CPU_ALLOC_SIZE(n);
    CPU_ZERO_S(*size, set);
    for (guint i = 0; i < n; i++) {
        if (qvirBitmapIsSet(def->cpumask, i))
            CPU_SET_S(i, *size, set);
    }
    return set;
}

qemuProcess *
qemuProcessStart(qvirDomainDef *def, const qemuCaps *caps, const qemuProcessStartOpts *opts,
                 const qemuProcessCallbacks *cb, gpointer opaque, GError **error)
{
    qemuProcessDiskUndo *undo;
    guint ndisks;
    g_autofree char *monitorPath = NULL;
    g_autofree char *logPath = NULL;
    g_autofree char *masterKeyPath = NULL;
    guint8 masterKey[QEMU_PROCESS_MASTER_KEY_LEN];
    qemuBlockSecretCtx secrets = {0};
    g_autoptr(qemuCommandLine) cmd = NULL;
    g_autoptr(GPtrArray) argv = NULL;
    g_autoptr(GPtrArray) envp = NULL;
    qemuBuildCommandLineOpts bopts = {0};
    qemuProcessLaunchOpts lopts = {0};
    qemuProcess *proc = NULL;
    gboolean labelled = FALSE;
    const char *journal = NULL;
    g_autoptr(qemuNamespace) ns = NULL;
    g_autoptr(GArray) channelFds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GArray) passFds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GArray) chrFileFds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(qemuProcessCpuSet) affinity = NULL;
    gsize affinitySize = 0;
    guint i;

    g_return_val_if_fail(def && def->name && caps && opts && opts->runDir && opts->logDir, NULL);
    g_array_set_clear_func(channelFds, qemuProcessCloseFd);
    g_array_set_clear_func(chrFileFds, qemuProcessCloseFd);

    ndisks = def->disks ? def->disks->len : 0;
    undo = g_new0(qemuProcessDiskUndo, ndisks + 1);
    for (i = 0; i < ndisks; i++) {
        undo[i].disk = g_ptr_array_index(def->disks, i);
        undo[i].origCache = undo[i].disk->cachemode;
    }

    if (!qemuProcessPrepareDisks(opts, undo, ndisks, error))
        goto error;
    if (!qemuDomainPrepareForStart(def, caps, error) || !qemuValidateDomainDef(def, caps, error))
        goto error;

    if (!qvirFileMakeDirs(opts->runDir, 0700, error) ||
        !qvirFileMakeDirs(opts->logDir, 0700, error))
        goto error;
    if (opts->domainDir) {
        if (!qvirFileMakeDirs(opts->domainDir, 0700, error) ||
            !(masterKeyPath = qemuProcessWriteMasterKey(opts->domainDir, masterKey, error)))
            goto error;
        /* QEMU's user creates its sockets here and reads the key (libvirt: 0750). */
        if (!qvirSecurityDACSetDaemonPath(opts->security, opts->domainDir, 0750, error) ||
            !qvirSecurityDACSetDaemonPath(opts->security, masterKeyPath, 0600, error))
            goto error;
    }
    /* Every layer of the chains just filled, then the kernel and initrd. */
    if (opts->labelJournal &&
        !qvirSecurityDACJournalWrite(opts->security, opts->labelJournal, def, error))
        goto error;
    journal = opts->labelJournal;
    if (!qvirSecurityDACSetDomainLabel(opts->security, def, error))
        goto error;
    labelled = TRUE;
    /* After the labels: the nodes copy the owners QEMU is to see. */
    if (opts->privateDev && opts->domainDir && qvirSecurityDACIsActive(opts->security) &&
        qemuNamespaceAvailable()) {
        g_autofree char *stage = g_build_filename(opts->domainDir, "dev", NULL);

        if (!(ns = qemuNamespaceNew(def, stage, error)))
            goto error;
    }

    if (!qemuProcessAllocateGraphicsPorts(def, error))
        goto error;
    qemuProcessPrepareLiveDefaults(def);

    if (!qemuProcessOpenChannelSockets(def, opts->domainDir, channelFds, error))
        goto error;

    if (opts->security && opts->domainDir)
        monitorPath = g_build_filename(opts->domainDir, "monitor.sock", NULL);
    else
        monitorPath = g_strdup_printf("%s/%s.monitor", opts->runDir, def->name);
    logPath = g_strdup_printf("%s/%s.log", opts->logDir, def->name);

    bopts.monitorPath = monitorPath;
    bopts.monitorFd = -1;
    bopts.domainDir = opts->domainDir;
    bopts.startPaused = TRUE; /* QEMU always starts with -S; "cont" follows the monitor */
    bopts.incoming = opts->incoming;
    bopts.channelFds = (const int *)channelFds->data;
    bopts.nChannelFds = channelFds->len;
    bopts.openChrFile = qemuProcessOpenChrFile;
    bopts.openChrFileOpaque = chrFileFds;
    if (opts->secrets)
        secrets = *opts->secrets;
    secrets.masterKey = masterKeyPath ? masterKey : NULL;
    bopts.secrets = &secrets;
    if (!(cmd = qemuBuildCommandLine(def, caps, &bopts, error)))
        goto error;

    /* the live XML names the socket a start chose for a unix channel, as libvirt's does */
    for (i = 0; opts->domainDir && i < def->channels->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->channels, i);

        if (g_strcmp0(chr->type, "unix") == 0 && !chr->sourcePath)
            chr->sourcePath = g_strdup_printf("%s/%s", opts->domainDir,
                                              chr->targetName ? chr->targetName : chr->info.alias);
    }
    argv = qemuProcessStrv(cmd->argv);
    envp = cmd->env && cmd->env->len > 0 && g_ptr_array_index(cmd->env, 0)
               ? qemuProcessStrv(cmd->env)
               : NULL;

    lopts.monitorPath = monitorPath;
    lopts.logPath = logPath;
    lopts.security = opts->security;
    lopts.keepRawio = qvirDomainDefNeedsRawio(def);
    lopts.ns = ns;
    for (i = 0; i < channelFds->len; i++) {
        if (g_array_index(channelFds, int, i) >= 0)
            g_array_append_val(passFds, g_array_index(channelFds, int, i));
    }
    g_array_append_vals(passFds, chrFileFds->data, chrFileFds->len);
    affinity = qemuProcessCpuAffinity(def, &affinitySize);
    lopts.cpuAffinity = affinity;
    lopts.cpuAffinitySize = affinitySize;
    lopts.passFds = (const int *)passFds->data;
    lopts.nPassFds = passFds->len;
    /* throttles and lifecycle actions are set before the vCPUs run (below) */
    /* paused until the live definition is read back and the setup is done */
    lopts.startPaused = TRUE;
    if (!(proc = qemuProcessLaunch((const char *const *)argv->pdata,
                                   envp ? (const char *const *)envp->pdata : NULL, &lopts, cb,
                                   opaque, error))) {
        qemuProcessNameFailedDisk(def, error);
        goto error;
    }
    if (!qemuProcessRefreshLive(proc, def, error) ||
        !qemuProcessSetupBeforeRun(proc, def, caps, opts->startPaused, error)) {
        g_autoptr(GError) stopError = NULL;

        qemuProcessStop(proc, &stopError);
        qemuProcessFree(proc);
        proc = NULL;
        goto error;
    }

    if (masterKeyPath) {
        memcpy(proc->masterKey, masterKey, sizeof(masterKey));
        proc->haveMasterKey = TRUE;
    }
    proc->masterKeyPath = g_steal_pointer(&masterKeyPath);
    qvirCryptoWipe(masterKey, sizeof(masterKey));
    qemuProcessUndoFree(undo, ndisks);
    qemuProcessLogTaints(def, logPath);
    return proc;

error:
    qvirCryptoWipe(masterKey, sizeof(masterKey));
    if (masterKeyPath)
        g_unlink(masterKeyPath);
    /* Before the chains are put back: the labels were taken on these. */
    if (labelled)
        qvirSecurityDACRestoreDomainLabel(opts->security, def);
    if (journal)
        g_unlink(journal);
    qemuProcessUndoDisks(undo, ndisks);
    qemuProcessUndoFree(undo, ndisks);
    return NULL;
}

/* ---- reconnect ------------------------------------------------------------------ */

/* /proc/PID/cmdline must show a QEMU that owns MONITORPATH: a recycled pid running
 * something else must never be adopted (or, worse, killed later). */
static gboolean
qemuProcessCheckCmdline(pid_t pid, const char *monitorPath, GError **error)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
    g_autofree char *contents = NULL;
    g_autofree char *argv0 = NULL;
    gboolean hasMonitor = FALSE;
    gsize len = 0;
    gsize off;

    if (!g_file_get_contents(path, &contents, &len, NULL) || len == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "QEMU process %d is not running",
                    (int)pid);
        return FALSE;
    }
    argv0 = g_path_get_basename(contents);
    for (off = 0; off < len; off += strlen(contents + off) + 1) {
        if (strstr(contents + off, monitorPath))
            hasMonitor = TRUE;
    }
    if ((!strstr(argv0, "qemu") && !strstr(argv0, "kvm")) || !hasMonitor) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "process %d ('%s') is not the QEMU with monitor '%s'", (int)pid, contents,
                    monitorPath);
        return FALSE;
    }
    return TRUE;
}

qemuProcess *
qemuProcessReconnect(pid_t pid, const char *monitorPath, const qemuProcessCallbacks *cb,
                     gpointer opaque, GError **error)
{
    g_autoptr(JsonNode) status = NULL;
    const char *state = NULL;
    qemuProcess *proc;
    int wstatus;
    pid_t got;

    g_return_val_if_fail(monitorPath != NULL, NULL);

    if (pid <= 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "invalid QEMU pid %d", (int)pid);
        return NULL;
    }
    if (!(proc = qemuProcessNew(pid, monitorPath, cb, opaque, error)))
        return NULL;

    /* Still our child when the same process re-attaches (tests, an in-process restart). */
    got = waitpid(pid, &wstatus, WNOHANG);
    if (got == pid) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "QEMU process %d is not running",
                    (int)pid);
        goto error;
    }
    proc->isChild = got == 0;

    proc->pidfd = qemuProcessPidfdOpen(pid);
    if (proc->pidfd < 0 && errno == ESRCH) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "QEMU process %d is not running",
                    (int)pid);
        goto error;
    }
    if ((kill(pid, 0) < 0 && errno == ESRCH) || !qemuProcessCheckCmdline(pid, monitorPath, error)) {
        if (error && !*error)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "QEMU process %d is not running", (int)pid);
        goto error;
    }

    if (!(proc->mon =
              qemuMonitorOpenUnix(monitorPath, 3000, &qemuProcessMonitorCallbacks, proc, error)))
        goto error;

    /* A guest that powered off while no daemon watched sits paused in "shutdown". */
    if (!(status = qemuMonitorCommand(proc->mon, "query-status", NULL,
                                      QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error)))
        goto error;
    if (JSON_NODE_HOLDS_OBJECT(status) &&
        json_object_has_member(json_node_get_object(status), "status"))
        state = json_object_get_string_member(json_node_get_object(status), "status");
    if (g_strcmp0(state, "shutdown") == 0) {
        proc->sawShutdown = TRUE;
        proc->terminate = TRUE;
    }

    if (!qemuProcessStartWatcher(proc, error))
        goto error;
    return proc;

error:
    qemuProcessCloseMonitor(proc);
    qemuProcessDispose(proc);
    return NULL;
}

gboolean
qemuProcessIsRunning(qemuProcess *proc)
{
    gboolean exited;

    g_mutex_lock(&proc->lock);
    exited = proc->exited;
    g_mutex_unlock(&proc->lock);
    return !exited;
}
