/*
 * qemu_driver_save.c: virsh save, restore, managedsave and the save image verbs.
 *
 * As libvirt, QEMU never opens the image: it migrates into a pipe whose other end the
 * daemon drains into the image (libvirt's iohelper, here a thread), and a restore feeds
 * the image back through a pipe to a QEMU started with "-incoming defer". So the image's
 * directory need not be reachable by QEMU's user, --bypass-cache (O_DIRECT) is the
 * daemon's business, and the data is checksummed on the way in and out (qemu_saveimage.h).
 * The domain's disks are not in the image: QEMU stops after the save (its cached chains
 * go with the live definition) and the restore's start fills them again from the images.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "qemu/qemu_driverpriv.h"
#include "qemu/qemu_saveimage.h"
#include "util/virerror.h"
#include "util/virfile.h"

/* virDomainSaveRestoreFlags */
#define QEMU_SAVE_BYPASS_CACHE (1u << 0)
#define QEMU_SAVE_RUNNING (1u << 1)
#define QEMU_SAVE_PAUSED (1u << 2)
#define QEMU_SAVE_RESET_NVRAM (1u << 3)
/* virDomainXMLFlags: VIR_DOMAIN_SAVE_IMAGE_XML_SECURE is VIR_DOMAIN_XML_SECURE */
#define QEMU_SAVE_IMAGE_XML_SECURE (1u << 0)
/* virDomainPausedReason VIR_DOMAIN_PAUSED_SAVE */
#define QEMU_DOMAIN_PAUSED_SAVE 3

#define QEMU_SAVE_FDNAME "qvirt-save"
#define QEMU_RESTORE_FDNAME "qvirt-restore"
#define QEMU_SAVE_POLL_US (20 * 1000)

static gboolean
qemuSaveCheckRunPause(unsigned int flags, GError **error)
{
    if ((flags & QEMU_SAVE_RUNNING) && (flags & QEMU_SAVE_PAUSED)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: Flags 'VIR_DOMAIN_SAVE_RUNNING' and "
                            "'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive");
        return FALSE;
    }
    return TRUE;
}

static char *
qemuSaveManagedPath(qvirDriver *drv, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.save", name);

    return g_build_filename(drv->cfg->stateDir, "qemu", "save", file, NULL);
}

gboolean
qemuDriverHasManagedSave(qvirDriver *drv, qemuDomainObj *obj)
{
    g_autofree char *path = qemuSaveManagedPath(drv, obj->name);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}

gboolean
qemuDriverManagedSaveDiscard(qvirDriver *drv, qemuDomainObj *obj, GError **error)
{
    g_autofree char *path = qemuSaveManagedPath(drv, obj->name);

    if (g_unlink(path) < 0 && errno != ENOENT) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "Failed to remove managed save file '%s': %s", path, g_strerror(saved));
        return FALSE;
    }
    return TRUE;
}

/*
 * libvirt's migratable XML leaves out the socket paths a start chose for unix channels
 * (qemuDomainChrDefDropDefaultPath): they name this run's domain directory, which the
 * restored run does not have; its start chooses them again.
 */
static void
qemuSaveDropDefaultChannelPaths(qvirDomainDef *def, const char *domainDir)
{
    for (guint i = 0; def->channels && i < def->channels->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->channels, i);
        g_autofree char *chosen = NULL;

        if (g_strcmp0(chr->type, "unix") != 0 || !chr->sourcePath)
            continue;
        chosen = g_strdup_printf("%s/%s", domainDir,
                                 chr->targetName ? chr->targetName : chr->info.alias);
        if (strcmp(chosen, chr->sourcePath) == 0)
            g_clear_pointer(&chr->sourcePath, g_free);
    }
}

/* The XML a save stores: DXML when given (same domain), else the live definition as an
 * inactive one (devices and addresses kept, no probed chains). */
static char *
qemuSaveDomainXML(qvirDriver *drv, qemuDomainObj *obj, const char *dxml, GError **error)
{
    g_autoptr(qvirDomainDef) def = NULL;
    char *xml = NULL;

    if (!dxml) {
        g_autoptr(GError) err = NULL;

        qemuDomainObjLock(obj);
        if (obj->liveDef && (def = qvirDomainDefCopy(obj->liveDef, 0, &err))) {
            g_autofree char *dir = qemuDriverDomainDir(drv, obj->liveDef->id, obj->name);

            qemuSaveDropDefaultChannelPaths(def, dir);
            xml = qvirDomainDefFormat(def, 0);
        }
        qemuDomainObjUnlock(obj);
        if (err) {
            g_propagate_error(error, g_steal_pointer(&err));
            return NULL;
        }
        if (!xml)
            qemuDriverErrorNotRunning(error);
        return xml;
    }
    if (!(def = qemuDriverParseDef(drv, dxml, error)))
        return NULL;
    if (memcmp(def->uuid, obj->uuid, QVIR_UUID_BUFLEN) != 0 || g_strcmp0(def->name, obj->name)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: XML for domain '%s' does not describe domain '%s'",
                    def->name, obj->name);
        return NULL;
    }
    return qvirDomainDefFormat(def, 0);
}

/* The pump: QEMU's migration stream into the image (libvirt's iohelper). */
typedef struct {
    qemuSaveImageWriter *w;
    int fd;
    GError *error;
} qemuSavePump;

static gpointer
qemuSavePumpThread(gpointer opaque)
{
    qemuSavePump *p = opaque;

    (void)qemuSaveImageWriterPump(p->w, p->fd, &p->error);
    /* a failed write must not leave QEMU blocked on a full pipe */
    close(p->fd);
    p->fd = -1;
    return NULL;
}

gboolean
qemuDriverWaitMigration(qemuMonitor *mon, const char *failed, gulong pollUs, GError **error)
{
    for (;;) {
        g_autoptr(JsonNode) ret =
            qemuMonitorCommand(mon, "query-migrate", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        JsonObject *info;
        const char *status;

        if (!ret)
            return FALSE;
        info = JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
        status = qemuDriverJsonString(info, "status");
        if (g_strcmp0(status, "completed") == 0)
            return TRUE;
        if (g_strcmp0(status, "failed") == 0 || g_strcmp0(status, "cancelled") == 0) {
            const char *desc = qemuDriverJsonString(info, "error-desc");

            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "operation failed: %s: %s",
                        failed, desc ? desc : status);
            return FALSE;
        }
        g_usleep(pollUs);
    }
}

/* QEMU never took fd NAME into a migration: make it close its end, so the pump thread sees
 * the pipe end instead of waiting on it. */
static void
qemuSaveCloseFd(qemuMonitor *mon, const char *name)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;

    json_object_set_string_member(args, "fdname", name);
    ret = qemuMonitorCommand(mon, "closefd", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, NULL);
}

/* Migrate OBJ's paused QEMU into W. */
static gboolean
qemuSaveMigrate(qemuMonitor *mon, qemuSaveImageWriter *w, GError **error)
{
    g_autoptr(JsonObject) params = json_object_new();
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    qemuSavePump pump = {.w = w, .fd = -1};
    GThread *thread;
    gboolean ok;
    int fds[2];

    if (!g_unix_open_pipe(fds, FD_CLOEXEC, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create pipe: %s",
                    g_strerror(errno));
        return FALSE;
    }
    json_object_set_string_member(args, "fdname", QEMU_SAVE_FDNAME);
    ret = qemuMonitorCommandWithFd(mon, "getfd", args, fds[1], QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                                   error);
    close(fds[1]);
    if (!ret) {
        close(fds[0]);
        return FALSE;
    }
    g_clear_pointer(&ret, json_node_unref);
    /* QEMU's default 128 MiB/s is for networks; a save goes as fast as the disk takes it
     * (libvirt sets its maximum too) */
    json_object_set_int_member(params, "max-bandwidth", G_GINT64_CONSTANT(1) << 40);
    ret = qemuMonitorCommand(mon, "migrate-set-parameters", params, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                             NULL);
    g_clear_pointer(&ret, json_node_unref);

    pump.fd = fds[0];
    thread = g_thread_new("qvirt-save", qemuSavePumpThread, &pump);
    json_object_remove_member(args, "fdname");
    json_object_set_string_member(args, "uri", "fd:" QEMU_SAVE_FDNAME);
    ret = qemuMonitorCommand(mon, "migrate", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    ok = ret && qemuDriverWaitMigration(mon, "domain save job", QEMU_SAVE_POLL_US, error);
    if (!ret)
        qemuSaveCloseFd(mon, QEMU_SAVE_FDNAME);
    g_thread_join(thread);
    if (pump.error) {
        if (ok || (error && !*error))
            g_propagate_error(error, g_steal_pointer(&pump.error));
        g_clear_error(&pump.error);
        return FALSE;
    }
    return ok;
}

static gboolean
qemuSaveSetPaused(qvirDriver *drv, qemuDomainObj *obj, qemuMonitor *mon, gboolean pause,
                  GError **error)
{
    g_autoptr(JsonNode) ret = qemuMonitorCommand(mon, pause ? "stop" : "cont", NULL,
                                                 QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);

    if (!ret)
        return FALSE;
    qemuDomainObjLock(obj);
    obj->state = pause ? QVIR_DOMAIN_PAUSED : QVIR_DOMAIN_RUNNING;
    obj->reason = pause ? QEMU_DOMAIN_PAUSED_SAVE : QEMU_DOMAIN_RUNNING_UNPAUSED;
    qemuDomainObjUnlock(obj);
    return qemuDriverWriteStatus(drv, obj, NULL) || TRUE;
}

/* How many vCPUs QEMU started with, when some were hot-plugged since (those are the
 * -device/device_add ones, under /machine/peripheral); 0 when none were. */
static guint32
qemuSaveBootVcpus(qemuMonitor *mon, GError **error, gboolean *ok)
{
    g_autoptr(JsonNode) ret = qemuMonitorCommand(mon, "query-hotpluggable-cpus", NULL,
                                                 QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    guint32 boot = 0, plugged = 0;
    JsonArray *cpus;

    *ok = ret && JSON_NODE_HOLDS_ARRAY(ret);
    if (!*ok)
        return 0;
    cpus = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(cpus); i++) {
        JsonObject *cpu = json_array_get_object_element(cpus, i);
        const char *path = cpu && json_object_has_member(cpu, "qom-path")
                               ? json_object_get_string_member(cpu, "qom-path")
                               : NULL;

        if (!path)
            continue;
        if (g_str_has_prefix(path, "/machine/peripheral/"))
            plugged++;
        else
            boot++;
    }
    return plugged ? boot : 0;
}

/* Job held: save OBJ to PATH and stop it. On failure the guest runs on as before. */
static gboolean
qemuSaveDomain(qvirDriver *drv, qemuDomainObj *obj, const char *path, const char *dxml,
               unsigned int flags, GError **error)
{
    g_autoptr(qemuSaveImageWriter) w = NULL;
    g_autofree char *xml = NULL;
    qemuMonitor *mon;
    gboolean wasRunning;
    gboolean running;
    gboolean ok;
    guint32 bootVcpus;
    int state;

    qemuDomainObjLock(obj);
    state = obj->state;
    mon = obj->proc ? qemuProcessGetMonitor(obj->proc) : NULL;
    qemuDomainObjUnlock(obj);
    if (!mon || state == QVIR_DOMAIN_SHUTOFF) {
        qemuDriverErrorNotRunning(error);
        return FALSE;
    }
    wasRunning = state == QVIR_DOMAIN_RUNNING;
    running = (flags & QEMU_SAVE_RUNNING) ? TRUE : (flags & QEMU_SAVE_PAUSED) ? FALSE : wasRunning;
    bootVcpus = qemuSaveBootVcpus(mon, error, &ok);
    if (!ok || !(xml = qemuSaveDomainXML(drv, obj, dxml, error)) ||
        !(w = qemuSaveImageWriterOpen(path, xml, running, bootVcpus,
                                      (flags & QEMU_SAVE_BYPASS_CACHE) != 0, error)))
        return FALSE;
    if (wasRunning && !qemuSaveSetPaused(drv, obj, mon, TRUE, error))
        return FALSE;
    if (!qemuSaveMigrate(mon, w, error) || !qemuSaveImageWriterCommit(w, error)) {
        g_autoptr(GError) resumeErr = NULL;

        if (wasRunning && !qemuSaveSetPaused(drv, obj, mon, FALSE, &resumeErr))
            g_message("domain '%s': cannot resume after a failed save: %s", obj->name,
                      resumeErr->message);
        return FALSE;
    }
    qemuDriverStopSaved(drv, obj);
    return TRUE;
}

gboolean
qvirDriverDomainSave(qvirDriver *drv, const unsigned char *uuid, const char *to, const char *dxml,
                     unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    gboolean ok;

    if (!qvirCheckFlags(flags,
                        QEMU_SAVE_BYPASS_CACHE | QEMU_SAVE_RUNNING | QEMU_SAVE_PAUSED |
                            QEMU_SAVE_RESET_NVRAM,
                        "qemuDomainSaveFlags", error) ||
        !qemuSaveCheckRunPause(flags, error))
        return FALSE;
    if (!to || !g_path_is_absolute(to)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: save file path '%s' must be absolute", to ? to : "");
        return FALSE;
    }
    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    ok = qemuSaveDomain(drv, obj, to, dxml, flags, error);
    qemuDomainObjEndJob(obj);
    return ok;
}

gboolean
qvirDriverDomainManagedSave(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                            GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autofree char *path = NULL;
    g_autofree char *dir = NULL;
    gboolean persistent;
    gboolean ok;

    if (!qvirCheckFlags(flags, QEMU_SAVE_BYPASS_CACHE | QEMU_SAVE_RUNNING | QEMU_SAVE_PAUSED,
                        "qemuDomainManagedSave", error) ||
        !qemuSaveCheckRunPause(flags, error))
        return FALSE;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    qemuDomainObjLock(obj);
    persistent = obj->def != NULL;
    qemuDomainObjUnlock(obj);
    path = qemuSaveManagedPath(drv, obj->name);
    dir = g_path_get_dirname(path);
    if (!persistent) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: cannot do managed save for "
                            "transient domain");
        ok = FALSE;
    } else {
        ok = qvirFileMakeDirs(dir, 0700, error) &&
             qemuSaveDomain(drv, obj, path, NULL, flags, error);
    }
    qemuDomainObjEndJob(obj);
    return ok;
}

int
qvirDriverDomainHasManagedSaveImage(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                    GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;

    if (!qvirCheckFlags(flags, 0, "qemuDomainHasManagedSaveImage", error) ||
        !(obj = qemuDriverGetObj(drv, uuid, error)))
        return -1;
    return qemuDriverHasManagedSave(drv, obj) ? 1 : 0;
}

gboolean
qvirDriverDomainManagedSaveRemove(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                  GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    gboolean ok;

    if (!qvirCheckFlags(flags, 0, "qemuDomainManagedSaveRemove", error) ||
        !(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    ok = qemuDriverManagedSaveDiscard(drv, obj, error);
    qemuDomainObjEndJob(obj);
    return ok;
}

/* ---- restore ------------------------------------------------------------------------- */

typedef struct {
    qemuSaveImage *img;
    int fd;
    GError *error;
} qemuRestorePump;

static gpointer
qemuRestorePumpThread(gpointer opaque)
{
    qemuRestorePump *p = opaque;

    (void)qemuSaveImagePump(p->img, p->fd, &p->error);
    close(p->fd);
    p->fd = -1;
    return NULL;
}

/* The incoming migration has ended once QEMU leaves "inmigrate". */
static gboolean
qemuRestoreWait(qemuMonitor *mon, GError **error)
{
    for (;;) {
        g_autoptr(JsonNode) ret =
            qemuMonitorCommand(mon, "query-status", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        JsonObject *info;
        const char *status;

        if (!ret)
            return FALSE;
        info = JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
        status = qemuDriverJsonString(info, "status");
        if (g_strcmp0(status, "inmigrate") != 0)
            break;
        g_usleep(QEMU_SAVE_POLL_US);
    }
    {
        g_autoptr(JsonNode) ret =
            qemuMonitorCommand(mon, "query-migrate", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        JsonObject *info = ret && JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
        const char *status = qemuDriverJsonString(info, "status");

        if (!ret)
            return FALSE;
        if (g_strcmp0(status, "completed") != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "operation failed: domain restore job: %s",
                        status ? status : "QEMU did not load the saved state");
            return FALSE;
        }
    }
    return TRUE;
}

/* What a restore's load needs: the image, and the vCPUs to plug before the state loads. */
typedef struct {
    qemuSaveImage *img;
    unsigned int plugFrom;
    unsigned int plugTo;
} qemuRestoreCtx;

static gboolean
qemuRestoreLoad(qemuProcess *proc, gpointer opaque, GError **error)
{
    qemuRestoreCtx *rctx = opaque;
    qemuSaveImage *img = rctx->img;
    qemuMonitor *mon = qemuProcessGetMonitor(proc);
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    qemuRestorePump pump = {.img = img, .fd = -1};
    GThread *thread;
    gboolean ok;
    int fds[2];

    /* the saved state has the hot-plugged vCPUs: they must exist before it loads */
    if (rctx->plugTo > rctx->plugFrom &&
        !qemuDriverPlugVcpus(mon, rctx->plugFrom, rctx->plugTo, error))
        return FALSE;
    if (!g_unix_open_pipe(fds, FD_CLOEXEC, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create pipe: %s",
                    g_strerror(errno));
        return FALSE;
    }
    json_object_set_string_member(args, "fdname", QEMU_RESTORE_FDNAME);
    ret = qemuMonitorCommandWithFd(mon, "getfd", args, fds[0], QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                                   error);
    close(fds[0]);
    if (!ret) {
        close(fds[1]);
        return FALSE;
    }
    g_clear_pointer(&ret, json_node_unref);
    pump.fd = fds[1];
    thread = g_thread_new("qvirt-restore", qemuRestorePumpThread, &pump);
    json_object_remove_member(args, "fdname");
    json_object_set_string_member(args, "uri", "fd:" QEMU_RESTORE_FDNAME);
    ret = qemuMonitorCommand(mon, "migrate-incoming", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    ok = ret && qemuRestoreWait(mon, error);
    if (!ret)
        qemuSaveCloseFd(mon, QEMU_RESTORE_FDNAME);
    g_thread_join(thread);
    if (pump.error) {
        if (ok)
            g_propagate_error(error, g_steal_pointer(&pump.error));
        g_clear_error(&pump.error);
        return FALSE;
    }
    return ok;
}

/* Start IMG's domain (DXML replacing its XML when given) and remove nothing. */
static gboolean
qemuRestoreImage(qvirDriver *drv, qemuSaveImage *img, const char *dxml, unsigned int flags,
                 qemuDomainObj *obj, GError **error)
{
    qvirDomainDef *def;
    qemuRestoreCtx rctx = {.img = img};
    qemuDriverRestore restore = {
        .incoming = "defer",
        .load = qemuRestoreLoad,
        .opaque = &rctx,
        .run = (flags & QEMU_SAVE_RUNNING)  ? TRUE
               : (flags & QEMU_SAVE_PAUSED) ? FALSE
                                            : qemuSaveImageGetRunning(img),
        .pausedByFlag = (flags & QEMU_SAVE_PAUSED) != 0,
    };
    guint32 boot = qemuSaveImageGetBootVcpus(img);
    unsigned int online;

    if (!(def = qemuDriverParseDef(drv, dxml ? dxml : qemuSaveImageGetXML(img), error)))
        return FALSE;
    online = def->vcpusCurrent ? def->vcpusCurrent : def->vcpus;
    if (boot && boot < online) {
        def->vcpusCurrent = boot;
        rctx.plugFrom = boot;
        rctx.plugTo = restore.vcpus = online;
    }
    if (obj) {
        if (memcmp(def->uuid, obj->uuid, QVIR_UUID_BUFLEN) != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "operation failed: managed save image of domain '%s' describes domain "
                        "'%s'",
                        obj->name, def->name);
            qvirDomainDefFree(def);
            return FALSE;
        }
        return qemuDriverStartDomainRestore(drv, obj, def, &restore, error);
    }
    {
        g_autoptr(qvirDomainRef) ref = qemuDriverCreateDef(drv, def, 0, &restore, error);

        return ref != NULL;
    }
}

gboolean
qvirDriverDomainRestore(qvirDriver *drv, const char *from, const char *dxml, unsigned int flags,
                        GError **error)
{
    g_autoptr(qemuSaveImage) img = NULL;

    if (!qvirCheckFlags(flags,
                        QEMU_SAVE_BYPASS_CACHE | QEMU_SAVE_RUNNING | QEMU_SAVE_PAUSED |
                            QEMU_SAVE_RESET_NVRAM,
                        "qemuDomainRestoreFlags", error) ||
        !qemuSaveCheckRunPause(flags, error))
        return FALSE;
    if (!(img = qemuSaveImageOpen(from, (flags & QEMU_SAVE_BYPASS_CACHE) != 0, error)))
        return FALSE;
    return qemuRestoreImage(drv, img, dxml, flags, NULL, error);
}

gboolean
qemuDriverStartManagedSave(qvirDriver *drv, qemuDomainObj *obj, unsigned int flags, GError **error)
{
    g_autofree char *path = qemuSaveManagedPath(drv, obj->name);
    g_autoptr(qemuSaveImage) img = NULL;
    g_autoptr(GError) err = NULL;
    /* virDomainCreateFlags: PAUSED 1, BYPASS_CACHE 4 */
    unsigned int restoreFlags =
        ((flags & 1u) ? QEMU_SAVE_PAUSED : 0) | ((flags & 4u) ? QEMU_SAVE_BYPASS_CACHE : 0);

    if (!(img = qemuSaveImageOpen(path, (restoreFlags & QEMU_SAVE_BYPASS_CACHE) != 0, error)) ||
        !qemuRestoreImage(drv, img, NULL, restoreFlags, obj, error))
        return FALSE;
    /* the guest runs on from the image: it is spent */
    if (!qemuDriverManagedSaveDiscard(drv, obj, &err))
        g_message("domain '%s': %s", obj->name, err->message);
    return TRUE;
}

/* ---- reading and editing images ------------------------------------------------------ */

char *
qvirDriverDomainSaveImageGetXMLDesc(qvirDriver *drv, const char *file, unsigned int flags,
                                    GError **error)
{
    g_autoptr(qemuSaveImage) img = NULL;

    if (!qvirCheckFlags(flags, QEMU_SAVE_IMAGE_XML_SECURE, "qemuDomainSaveImageGetXMLDesc",
                        error) ||
        !(img = qemuSaveImageOpen(file, FALSE, error)))
        return NULL;
    return g_strdup(qemuSaveImageGetXML(img));
}

char *
qvirDriverDomainManagedSaveGetXMLDesc(qvirDriver *drv, const unsigned char *uuid,
                                      unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autofree char *path = NULL;

    if (!qvirCheckFlags(flags, QEMU_SAVE_IMAGE_XML_SECURE, "qemuDomainManagedSaveGetXMLDesc",
                        error) ||
        !(obj = qemuDriverGetObj(drv, uuid, error)))
        return NULL;
    if (!qemuDriverHasManagedSave(drv, obj)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain does not have managed save "
                            "image");
        return NULL;
    }
    path = qemuSaveManagedPath(drv, obj->name);
    return qvirDriverDomainSaveImageGetXMLDesc(drv, path, flags, error);
}

gboolean
qvirDriverDomainSaveImageDefineXML(qvirDriver *drv, const char *file, const char *dxml,
                                   unsigned int flags, GError **error)
{
    g_autoptr(qemuSaveImage) img = NULL;
    g_autoptr(qvirDomainDef) oldDef = NULL;
    g_autoptr(qvirDomainDef) newDef = NULL;
    g_autofree char *xml = NULL;
    gboolean running;
    guint32 boot;

    if (!qvirCheckFlags(flags, QEMU_SAVE_RUNNING | QEMU_SAVE_PAUSED, "qemuDomainSaveImageDefineXML",
                        error) ||
        !qemuSaveCheckRunPause(flags, error))
        return FALSE;
    if (!(img = qemuSaveImageOpen(file, FALSE, error)) ||
        !(oldDef = qemuDriverParseDef(drv, qemuSaveImageGetXML(img), error)) ||
        !(newDef = qemuDriverParseDef(drv, dxml, error)))
        return FALSE;
    if (memcmp(oldDef->uuid, newDef->uuid, QVIR_UUID_BUFLEN) != 0 ||
        g_strcmp0(oldDef->name, newDef->name) != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: XML for domain '%s' does not describe the saved domain "
                    "'%s'",
                    newDef->name, oldDef->name);
        return FALSE;
    }
    running = (flags & QEMU_SAVE_RUNNING)  ? TRUE
              : (flags & QEMU_SAVE_PAUSED) ? FALSE
                                           : qemuSaveImageGetRunning(img);
    xml = qvirDomainDefFormat(newDef, 0);
    boot = qemuSaveImageGetBootVcpus(img);
    g_clear_pointer(&img, qemuSaveImageFree);
    return qemuSaveImageRewrite(file, xml, running, boot, error);
}
