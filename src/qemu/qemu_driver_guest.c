/*
 * qemu_driver_guest.c: the everyday verbs on a running guest besides its disks: the
 * console (virsh console), memory (setmem/setmaxmem, through the balloon), vCPUs
 * (setvcpus, hot-plugged where QEMU offers hot-pluggable CPUs), screenshot, send-key
 * and domtime (the guest agent).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "qemu/qemu_driverpriv.h"
#include "util/virerror.h"

/* virDomainModificationImpact */
#define QEMU_AFFECT_LIVE (1u << 0)
#define QEMU_AFFECT_CONFIG (1u << 1)
/* virDomainMemoryModFlags / virDomainVcpuFlags */
#define QEMU_MEM_MAXIMUM (1u << 2)
#define QEMU_VCPU_MAXIMUM (1u << 2)
#define QEMU_VCPU_GUEST (1u << 3)
#define QEMU_VCPU_HOTPLUGGABLE (1u << 4)
/* virDomainConsoleFlags */
#define QEMU_CONSOLE_FORCE (1u << 0)
#define QEMU_CONSOLE_SAFE (1u << 1)
/* virKeycodeSet */
#define QEMU_KEYCODE_SET_LINUX 0
#define QEMU_KEYCODE_SET_XT 1
#define QEMU_KEYCODE_SET_QNUM 9

#define QEMU_GUEST_QMP_TIMEOUT_MS 10000
/* A vCPU unplug the guest does not acknowledge within this long is reported, as a disk's */
#define QEMU_VCPU_UNPLUG_WAIT_US (5 * G_USEC_PER_SEC)
#define QEMU_AGENT_TIMEOUT_MS 5000

/* ---- which definitions a change affects (libvirt's virDomainObjGetDefs) -------------- */

typedef struct {
    gboolean live;
    gboolean config;
} qemuGuestAffect;

/* Mutex held. */
static gboolean
qemuGuestGetAffect(qemuDomainObj *obj, unsigned int flags, qemuGuestAffect *aff, GError **error)
{
    gboolean active = qemuDomainObjIsActive(obj);

    aff->live = (flags & QEMU_AFFECT_LIVE) != 0;
    aff->config = (flags & QEMU_AFFECT_CONFIG) != 0;
    if (!aff->live && !aff->config) {
        aff->live = active;
        aff->config = !active;
    }
    if (aff->live && !active) {
        qemuDriverErrorNotRunning(error);
        return FALSE;
    }
    if (aff->config && !obj->def) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: transient domains do not have any "
                            "persistent config");
        return FALSE;
    }
    return TRUE;
}

/* Job held: replace OBJ's persistent definition by NEWDEF (ownership passes) on disk and in
 * memory. */
static gboolean
qemuGuestSaveConfig(qvirDriver *drv, qemuDomainObj *obj, qvirDomainDef *newDef, GError **error)
{
    g_autoptr(qvirDomainDef) def = newDef;
    qvirDomainDef *old;

    if (!qemuDriverWriteDefinition(drv, def, error))
        return FALSE;
    qemuDomainObjLock(obj);
    old = obj->def;
    obj->def = g_steal_pointer(&def);
    qemuDomainObjUnlock(obj);
    qvirDomainDefFree(old);
    return TRUE;
}

/* Job held: a private copy of OBJ's persistent definition. */
static qvirDomainDef *
qemuGuestConfigCopy(qemuDomainObj *obj, GError **error)
{
    qvirDomainDef *copy;

    qemuDomainObjLock(obj);
    copy = obj->def ? qvirDomainDefCopy(obj->def, 0, error) : NULL;
    qemuDomainObjUnlock(obj);
    return copy;
}

static gboolean
qemuGuestBegin(qvirDriver *drv, const unsigned char *uuid, qemuDomainJob job, unsigned int flags,
               qemuDomainObj **objp, qemuGuestAffect *aff, qemuMonitor **mon, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    gboolean ok;

    if (!obj || !qemuDriverBeginJob(obj, job, error))
        return FALSE;
    qemuDomainObjLock(obj);
    ok = qemuGuestGetAffect(obj, flags, aff, error);
    *mon = ok && aff->live && obj->proc ? qemuProcessGetMonitor(obj->proc) : NULL;
    qemuDomainObjUnlock(obj);
    if (!ok) {
        qemuDomainObjEndJob(obj);
        return FALSE;
    }
    *objp = g_steal_pointer(&obj);
    return TRUE;
}

static void
qemuGuestEnd(qemuDomainObj *obj)
{
    qemuDomainObjEndJob(obj);
    qemuDomainObjUnref(obj);
}

/* ---- memory ------------------------------------------------------------------------- */

static gboolean
qemuGuestHasBalloon(const qvirDomainDef *def)
{
    return def->memballoon && g_strcmp0(def->memballoon->model, "none") != 0;
}

gboolean
qvirDriverDomainSetMemory(qvirDriver *drv, const unsigned char *uuid, unsigned long long memKiB,
                          unsigned int flags, GError **error)
{
    qemuDomainObj *obj = NULL;
    qemuGuestAffect aff;
    qemuMonitor *mon;
    g_autoptr(qvirDomainDef) config = NULL;
    unsigned long long maxKiB = 0;
    gboolean balloon = FALSE;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG | QEMU_MEM_MAXIMUM,
                        "qemuDomainSetMemoryFlags", error) ||
        !qemuGuestBegin(drv, uuid, QEMU_JOB_MODIFY, flags, &obj, &aff, &mon, error))
        return FALSE;
    if (aff.config && !(config = qemuGuestConfigCopy(obj, error)))
        goto cleanup;
    qemuDomainObjLock(obj);
    if (aff.live && obj->liveDef) {
        maxKiB = obj->liveDef->memoryKiB;
        balloon = qemuGuestHasBalloon(obj->liveDef);
    }
    qemuDomainObjUnlock(obj);

    if (flags & QEMU_MEM_MAXIMUM) {
        if (aff.live) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                                "Requested operation is not valid: cannot resize the maximum "
                                "memory on an active domain");
            goto cleanup;
        }
        config->memoryKiB = memKiB;
        if (!config->currentMemoryKiB || config->currentMemoryKiB > memKiB)
            config->currentMemoryKiB = memKiB;
        ok = qemuGuestSaveConfig(drv, obj, g_steal_pointer(&config), error);
        goto cleanup;
    }

    if (config && (!maxKiB || maxKiB > config->memoryKiB))
        maxKiB = config->memoryKiB;
    if (memKiB > maxKiB) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: cannot set memory higher than max memory");
        goto cleanup;
    }
    if (aff.live) {
        g_autoptr(JsonObject) args = json_object_new();
        g_autoptr(JsonNode) ret = NULL;

        if (!balloon || !mon) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                                "Requested operation is not valid: Unable to change memory of "
                                "active domain without the balloon device and guest OS balloon "
                                "driver");
            goto cleanup;
        }
        json_object_set_int_member(args, "value", (gint64)(memKiB * 1024));
        if (!(ret = qemuMonitorCommand(mon, "balloon", args, QEMU_GUEST_QMP_TIMEOUT_MS, error)))
            goto cleanup;
    }
    if (config) {
        config->currentMemoryKiB = memKiB;
        if (!qemuGuestSaveConfig(drv, obj, g_steal_pointer(&config), error))
            goto cleanup;
    }
    ok = TRUE;

cleanup:
    qemuGuestEnd(obj);
    return ok;
}

/* ---- vCPUs ---------------------------------------------------------------------------- */

static unsigned int
qemuGuestVcpusCurrent(const qvirDomainDef *def)
{
    return def->vcpusCurrent ? def->vcpusCurrent : def->vcpus;
}

int
qvirDriverDomainGetVcpusFlags(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                              GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    qemuGuestAffect aff;
    const qvirDomainDef *def;
    int n = -1;

    if (!obj)
        return -1;
    if (!qvirCheckFlags(flags,
                        QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG | QEMU_VCPU_MAXIMUM | QEMU_VCPU_GUEST,
                        "qemuDomainGetVcpusFlags", error))
        return -1;
    qemuDomainObjLock(obj);
    if (qemuGuestGetAffect(obj, flags & ~(QEMU_VCPU_MAXIMUM | QEMU_VCPU_GUEST), &aff, error)) {
        if ((flags & QEMU_AFFECT_LIVE) && (flags & QEMU_AFFECT_CONFIG)) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                                "invalid argument: Flags 'VIR_DOMAIN_AFFECT_LIVE' and "
                                "'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive");
        } else if (flags & QEMU_VCPU_GUEST) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                                "argument unsupported: QEMU guest agent is not configured");
        } else {
            def = aff.live ? obj->liveDef : obj->def;
            if (def)
                n = (flags & QEMU_VCPU_MAXIMUM) ? (int)def->vcpus : (int)qemuGuestVcpusCurrent(def);
            else
                qemuDriverErrorNotRunning(error);
        }
    }
    qemuDomainObjUnlock(obj);
    return n;
}

/* query-hotpluggable-cpus' entries without a qom-path (not plugged), by socket. */
static JsonArray *
qemuGuestHotpluggableCpus(qemuMonitor *mon, GError **error)
{
    g_autoptr(JsonNode) ret =
        qemuMonitorCommand(mon, "query-hotpluggable-cpus", NULL, QEMU_GUEST_QMP_TIMEOUT_MS, error);

    if (!ret)
        return NULL;
    if (!JSON_NODE_HOLDS_ARRAY(ret)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: unexpected reply to query-hotpluggable-cpus");
        return NULL;
    }
    return json_array_ref(json_node_get_array(ret));
}

static gint64
qemuGuestCpuSocket(JsonObject *cpu)
{
    JsonObject *props =
        json_object_has_member(cpu, "props") ? json_object_get_object_member(cpu, "props") : NULL;

    return props && json_object_has_member(props, "socket-id")
               ? json_object_get_int_member(props, "socket-id")
               : -1;
}

/* The entry of CPUS for socket SOCKET, or NULL. */
static JsonObject *
qemuGuestCpuBySocket(JsonArray *cpus, gint64 socket)
{
    for (guint i = 0; i < json_array_get_length(cpus); i++) {
        JsonObject *cpu = json_array_get_object_element(cpus, i);

        if (cpu && qemuGuestCpuSocket(cpu) == socket)
            return cpu;
    }
    return NULL;
}

/* Plug sockets FROM..TO-1 (vCPU ids = socket ids: one core, one thread each). */
gboolean
qemuDriverPlugVcpus(qemuMonitor *mon, unsigned int from, unsigned int to, GError **error)
{
    g_autoptr(JsonArray) cpus = qemuGuestHotpluggableCpus(mon, error);

    if (!cpus)
        return FALSE;
    for (unsigned int id = from; id < to; id++) {
        JsonObject *cpu = qemuGuestCpuBySocket(cpus, id);
        g_autoptr(JsonObject) args = NULL;
        g_autoptr(JsonNode) ret = NULL;
        JsonObject *props;
        g_autoptr(GList) members = NULL;
        g_autofree char *alias = NULL;

        if (!cpu || !json_object_has_member(cpu, "type") || !json_object_has_member(cpu, "props")) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                        "Operation not supported: QEMU offers no hot-pluggable vCPU %u", id);
            return FALSE;
        }
        args = json_object_new();
        json_object_set_string_member(args, "driver", json_object_get_string_member(cpu, "type"));
        json_object_set_string_member(args, "id", (alias = g_strdup_printf("vcpu%u", id)));
        props = json_object_get_object_member(cpu, "props");
        members = json_object_get_members(props);
        for (GList *l = members; l; l = l->next)
            json_object_set_member(args, l->data,
                                   json_node_copy(json_object_get_member(props, l->data)));
        if (!(ret = qemuMonitorCommand(mon, "device_add", args, QEMU_GUEST_QMP_TIMEOUT_MS, error)))
            return FALSE;
    }
    return TRUE;
}

/* Unplug sockets TO..FROM-1, highest first, waiting for the guest to let each go. */
static gboolean
qemuGuestUnplugVcpus(qemuMonitor *mon, unsigned int from, unsigned int to, GError **error)
{
    for (unsigned int id = from; id-- > to;) {
        g_autoptr(JsonObject) args = json_object_new();
        g_autoptr(JsonNode) ret = NULL;
        gint64 deadline = g_get_monotonic_time() + QEMU_VCPU_UNPLUG_WAIT_US;
        g_autofree char *alias = g_strdup_printf("vcpu%u", id);

        json_object_set_string_member(args, "id", alias);
        if (!(ret =
                  qemuMonitorCommand(mon, "device_del", args, QEMU_GUEST_QMP_TIMEOUT_MS, error))) {
            g_prefix_error(error, "vcpu '%u' can't be hotunplugged: ", id);
            return FALSE;
        }
        for (;;) {
            g_autoptr(JsonArray) cpus = qemuGuestHotpluggableCpus(mon, error);
            JsonObject *cpu;

            if (!cpus)
                return FALSE;
            cpu = qemuGuestCpuBySocket(cpus, id);
            if (!cpu || !json_object_has_member(cpu, "qom-path"))
                break;
            if (g_get_monotonic_time() > deadline) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                            "Timed out during operation: vcpu unplug request timed out; the "
                            "guest did not release vCPU %u",
                            id);
                return FALSE;
            }
            g_usleep(100 * 1000);
        }
    }
    return TRUE;
}

gboolean
qvirDriverDomainSetVcpus(qvirDriver *drv, const unsigned char *uuid, unsigned int nvcpus,
                         unsigned int flags, GError **error)
{
    qemuDomainObj *obj = NULL;
    qemuGuestAffect aff;
    qemuMonitor *mon;
    g_autoptr(qvirDomainDef) config = NULL;
    unsigned int liveMax = 0, liveCur = 0;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags,
                        QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG | QEMU_VCPU_MAXIMUM |
                            QEMU_VCPU_GUEST | QEMU_VCPU_HOTPLUGGABLE,
                        "qemuDomainSetVcpusFlags", error))
        return FALSE;
    if (nvcpus == 0) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: nvcpus in virDomainSetVcpusFlags must be greater "
                            "than zero");
        return FALSE;
    }
    if (!qemuGuestBegin(drv, uuid, QEMU_JOB_MODIFY, flags, &obj, &aff, &mon, error))
        return FALSE;
    if (flags & QEMU_VCPU_GUEST) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                            "argument unsupported: QEMU guest agent is not configured");
        goto cleanup;
    }
    if (aff.config && !(config = qemuGuestConfigCopy(obj, error)))
        goto cleanup;
    qemuDomainObjLock(obj);
    if (aff.live && obj->liveDef) {
        liveMax = obj->liveDef->vcpus;
        liveCur = qemuGuestVcpusCurrent(obj->liveDef);
    }
    qemuDomainObjUnlock(obj);

    if (flags & QEMU_VCPU_MAXIMUM) {
        if (aff.live) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                                "Operation not supported: maximum vcpu count of a live domain "
                                "can't be modified");
            goto cleanup;
        }
        if (qemuGuestVcpusCurrent(config) > nvcpus)
            config->vcpusCurrent = 0;
        else if (qemuGuestVcpusCurrent(config) < nvcpus)
            config->vcpusCurrent = qemuGuestVcpusCurrent(config);
        config->vcpus = nvcpus;
        if (config->vcpusCurrent == config->vcpus)
            config->vcpusCurrent = 0;
        ok = qemuGuestSaveConfig(drv, obj, g_steal_pointer(&config), error);
        goto cleanup;
    }
    if (aff.live && nvcpus > liveMax) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: requested vcpus is greater than max allowable vcpus for "
                    "the live domain: %u > %u",
                    nvcpus, liveMax);
        goto cleanup;
    }
    if (config && nvcpus > config->vcpus) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: requested vcpus is greater than max allowable vcpus for "
                    "the persistent domain: %u > %u",
                    nvcpus, config->vcpus);
        goto cleanup;
    }
    if (aff.live && nvcpus != liveCur) {
        gboolean changed = nvcpus > liveCur ? qemuDriverPlugVcpus(mon, liveCur, nvcpus, error)
                                            : qemuGuestUnplugVcpus(mon, liveCur, nvcpus, error);
        g_autoptr(GError) statusErr = NULL;

        if (!changed)
            goto cleanup;
        qemuDomainObjLock(obj);
        if (obj->liveDef)
            obj->liveDef->vcpusCurrent = nvcpus == liveMax ? 0 : nvcpus;
        qemuDomainObjUnlock(obj);
        if (!qemuDriverWriteStatus(drv, obj, &statusErr))
            g_message("domain '%s': %s", obj->name, statusErr->message);
    }
    if (config) {
        config->vcpusCurrent = nvcpus == config->vcpus ? 0 : nvcpus;
        if (!qemuGuestSaveConfig(drv, obj, g_steal_pointer(&config), error))
            goto cleanup;
    }
    ok = TRUE;

cleanup:
    qemuGuestEnd(obj);
    return ok;
}

/* ---- console -------------------------------------------------------------------------- */

/* libvirt's choice: DEVNAME among the consoles' then the serials' aliases; without one,
 * the first console, else the first serial port. Mutex held. */
static const qvirDomainChrDef *
qemuGuestFindChr(const qvirDomainDef *def, const char *devName)
{
    if (!devName) {
        if (def->consoles->len)
            return g_ptr_array_index(def->consoles, 0);
        return def->serials->len ? g_ptr_array_index(def->serials, 0) : NULL;
    }
    for (guint i = 0; i < def->consoles->len; i++) {
        const qvirDomainChrDef *chr = g_ptr_array_index(def->consoles, i);

        if (g_strcmp0(chr->info.alias, devName) == 0)
            return chr;
    }
    for (guint i = 0; i < def->serials->len; i++) {
        const qvirDomainChrDef *chr = g_ptr_array_index(def->serials, i);

        if (g_strcmp0(chr->info.alias, devName) == 0)
            return chr;
    }
    return NULL;
}

int
qvirDriverDomainOpenConsole(qvirDriver *drv, const unsigned char *uuid, const char *devName,
                            unsigned int flags, char **key, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autofree char *path = NULL;
    g_autofree char *alias = NULL;
    const qvirDomainChrDef *chr = NULL;
    gboolean active;
    gboolean isPty = FALSE;
    struct termios tio;
    int fd;

    if (!qvirCheckFlags(flags, QEMU_CONSOLE_FORCE | QEMU_CONSOLE_SAFE, "qemuDomainOpenConsole",
                        error) ||
        !(obj = qemuDriverGetObj(drv, uuid, error)))
        return -1;
    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj) && obj->liveDef;
    if (active && (chr = qemuGuestFindChr(obj->liveDef, devName))) {
        isPty = g_strcmp0(chr->type, "pty") == 0;
        path = g_strdup(chr->ptyPath);
        alias = g_strdup(chr->info.alias);
    }
    qemuDomainObjUnlock(obj);
    if (!active) {
        qemuDriverErrorNotRunning(error);
        return -1;
    }
    if (!chr) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: cannot find character device %s",
                    devName ? devName : "<null>");
        return -1;
    }
    if (!isPty || !path) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: character device %s is not using a PTY",
                    devName ? devName : (alias ? alias : "<null>"));
        return -1;
    }
    if ((fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) < 0) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Unable to open tty %s: %s", path,
                    g_strerror(saved));
        return -1;
    }
    /* as libvirt: the bytes pass through untouched (no echo, no line editing) */
    if (tcgetattr(fd, &tio) == 0) {
        cfmakeraw(&tio);
        (void)tcsetattr(fd, TCSADRAIN, &tio);
    }
    *key = g_steal_pointer(&path);
    return fd;
}

/* ---- screenshot ----------------------------------------------------------------------- */

/* QEMU writes the image into an fd set (add-fd): it never opens a path of ours. */
static gboolean
qemuGuestScreendump(qemuMonitor *mon, int wfd, const char *format, GError **error)
{
    g_autoptr(JsonNode) added = NULL;
    g_autoptr(JsonObject) dump = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(JsonObject) rm = json_object_new();
    g_autoptr(JsonNode) removed = NULL;
    g_autofree char *path = NULL;
    gint64 fdset;

    added = qemuMonitorCommandWithFd(mon, "add-fd", NULL, wfd, QEMU_GUEST_QMP_TIMEOUT_MS, error);
    if (!added)
        return FALSE;
    if (!JSON_NODE_HOLDS_OBJECT(added) ||
        !json_object_has_member(json_node_get_object(added), "fdset-id")) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: unexpected reply to add-fd");
        return FALSE;
    }
    fdset = json_object_get_int_member(json_node_get_object(added), "fdset-id");
    path = g_strdup_printf("/dev/fdset/%" G_GINT64_FORMAT, fdset);
    json_object_set_string_member(dump, "filename", path);
    if (format)
        json_object_set_string_member(dump, "format", format);
    ret = qemuMonitorCommand(mon, "screendump", dump, QEMU_GUEST_QMP_TIMEOUT_MS, error);
    json_object_set_int_member(rm, "fdset-id", fdset);
    removed = qemuMonitorCommand(mon, "remove-fd", rm, QEMU_GUEST_QMP_TIMEOUT_MS, NULL);
    return ret != NULL;
}

int
qvirDriverDomainScreenshot(qvirDriver *drv, const unsigned char *uuid, unsigned int screen,
                           unsigned int flags, char **mime, GError **error)
{
    qemuDriverRunning run;
    g_autofree char *tmpl = NULL;
    guint nvideos = 0;
    int rfd = -1, wfd = -1;
    gboolean ok;
    g_autoptr(GError) pngErr = NULL;

    if (!qvirCheckFlags(flags, 0, "qemuDomainScreenshot", error) ||
        !qemuDriverRunningBegin(drv, uuid, QEMU_JOB_QUERY, &run, error))
        return -1;
    qemuDomainObjLock(run.obj);
    if (run.obj->liveDef) {
        for (guint i = 0; i < run.obj->liveDef->videos->len; i++) {
            const qvirDomainVideoDef *v = g_ptr_array_index(run.obj->liveDef->videos, i);

            nvideos += g_strcmp0(v->model, "none") != 0;
        }
    }
    qemuDomainObjUnlock(run.obj);
    if (nvideos == 0) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: no screens to take screenshot from");
        qemuDriverRunningEnd(&run);
        return -1;
    }
    if (screen >= nvideos) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: no screen with ID %u", screen);
        qemuDriverRunningEnd(&run);
        return -1;
    }
    if (screen > 0) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: qemu does not allow specifying screen ID");
        qemuDriverRunningEnd(&run);
        return -1;
    }

    tmpl = g_build_filename(drv->cfg->cacheDir, "qemu.screendump.XXXXXX", NULL);
    if (g_mkdir_with_parents(drv->cfg->cacheDir, 0700) < 0 ||
        (rfd = g_mkstemp_full(tmpl, O_RDONLY | O_CLOEXEC, 0600)) < 0 ||
        (wfd = open(tmpl, O_WRONLY | O_CLOEXEC)) < 0) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "cannot create a temporary file for the screenshot: %s", g_strerror(saved));
        if (rfd >= 0) {
            close(rfd);
            unlink(tmpl);
        }
        qemuDriverRunningEnd(&run);
        return -1;
    }
    unlink(tmpl);
    /* PNG as libvirt 9.0 asks of a QEMU that can; a QEMU built without libpng writes PPM */
    ok = qemuGuestScreendump(run.mon, wfd, "png", &pngErr);
    if (ok) {
        *mime = g_strdup("image/png");
    } else if (pngErr && strstr(pngErr->message, "PNG")) {
        ok = qemuGuestScreendump(run.mon, wfd, NULL, error);
        *mime = ok ? g_strdup("image/x-portable-pixmap") : NULL;
    } else {
        g_propagate_error(error, g_steal_pointer(&pngErr));
    }
    close(wfd);
    qemuDriverRunningEnd(&run);
    if (!ok) {
        close(rfd);
        return -1;
    }
    return rfd;
}

/* ---- send-key --------------------------------------------------------------------------- */

/* Linux input codes beyond the XT range that keyboards commonly have, and their QEMU
 * numbers (XT set 1 with 0xe0 prefixes folded into bit 7); below 84 both are the same. */
static const struct {
    guint16 linux;
    guint16 qnum;
} qemuGuestKeyTable[] = {
    {87, 0x57},  {88, 0x58},  {96, 0x9c},  {97, 0x9d},  {98, 0xb5},  {99, 0xb7},  {100, 0xb8},
    {102, 0xc7}, {103, 0xc8}, {104, 0xc9}, {105, 0xcb}, {106, 0xcd}, {107, 0xcf}, {108, 0xd0},
    {109, 0xd1}, {110, 0xd2}, {111, 0xd3}, {119, 0xc6}, {125, 0xdb}, {126, 0xdc}, {127, 0xdd},
};

static int
qemuGuestKeyToQnum(unsigned int codeset, unsigned int key)
{
    if (codeset == QEMU_KEYCODE_SET_QNUM)
        return (int)key;
    if ((codeset == QEMU_KEYCODE_SET_LINUX || codeset == QEMU_KEYCODE_SET_XT) && key > 0 &&
        key < 84)
        return (int)key;
    if (codeset == QEMU_KEYCODE_SET_LINUX) {
        for (guint i = 0; i < G_N_ELEMENTS(qemuGuestKeyTable); i++) {
            if (qemuGuestKeyTable[i].linux == key)
                return qemuGuestKeyTable[i].qnum;
        }
    }
    return -1;
}

static const char *const qemuGuestCodesetNames[] = {
    "linux", "xt", "atset1", "atset2", "atset3", "osx", "xt_kbd", "usb", "win32", "qnum",
};

gboolean
qvirDriverDomainSendKey(qvirDriver *drv, const unsigned char *uuid, unsigned int codeset,
                        unsigned int holdtime, const guint32 *keycodes, guint nkeycodes,
                        unsigned int flags, GError **error)
{
    qemuDriverRunning run;
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    JsonArray *keys = json_array_new();

    json_object_set_array_member(args, "keys", keys);
    if (!qvirCheckFlags(flags, 0, "qemuDomainSendKey", error))
        return FALSE;
    if (codeset >= G_N_ELEMENTS(qemuGuestCodesetNames)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported codeset: %u", codeset);
        return FALSE;
    }
    for (guint i = 0; i < nkeycodes; i++) {
        int q = qemuGuestKeyToQnum(codeset, keycodes[i]);
        JsonObject *key;

        if (q < 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: cannot translate keycode %u of %s codeset to qnum "
                        "keycode",
                        keycodes[i], qemuGuestCodesetNames[codeset]);
            return FALSE;
        }
        key = json_object_new();
        json_object_set_string_member(key, "type", "number");
        json_object_set_int_member(key, "data", q);
        json_array_add_object_element(keys, key);
    }
    if (holdtime)
        json_object_set_int_member(args, "hold-time", holdtime);
    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_MODIFY, &run, error))
        return FALSE;
    ret = qemuMonitorCommand(run.mon, "send-key", args, QEMU_GUEST_QMP_TIMEOUT_MS, error);
    qemuDriverRunningEnd(&run);
    return ret != NULL;
}

/* ---- domtime: the guest agent ------------------------------------------------------------ */

/* One request to the agent on SOCK, after the guest-sync-delimited handshake; the "return"
 * member of its reply. */
static JsonNode *
qemuGuestAgentCommand(int sock, const char *cmd, GError **error)
{
    guint32 id = g_random_int_range(1, G_MAXINT32);
    g_autofree char *sync =
        g_strdup_printf("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%u}}\n", id);
    g_autofree char *req = g_strdup_printf("{\"execute\":\"%s\"}\n", cmd);
    g_autoptr(GString) in = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + QEMU_AGENT_TIMEOUT_MS * 1000;
    gboolean synced = FALSE;
    const char *step = sync;

    for (;;) {
        char *nl;

        if (step && send(sock, step, strlen(step), MSG_NOSIGNAL) < 0)
            break;
        step = NULL;
        /* the sync reply follows a 0xff byte that discards stale output */
        while ((nl = strchr(in->str, '\n'))) {
            g_autoptr(JsonParser) parser = json_parser_new();
            g_autofree char *line = g_strndup(in->str, nl - in->str);
            const char *start = strrchr(line, '\xff');
            JsonObject *reply;

            g_string_erase(in, 0, nl - in->str + 1);
            if (!json_parser_load_from_data(parser, start ? start + 1 : line, -1, NULL) ||
                !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
                continue;
            reply = json_node_get_object(json_parser_get_root(parser));
            if (!synced) {
                if (json_object_has_member(reply, "return") &&
                    (guint32)json_object_get_int_member(reply, "return") == id) {
                    synced = TRUE;
                    step = req;
                }
                continue;
            }
            if (json_object_has_member(reply, "error")) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: unable to execute QEMU agent command '%s'", cmd);
                return NULL;
            }
            if (json_object_has_member(reply, "return"))
                return json_node_copy(json_object_get_member(reply, "return"));
        }
        if (step)
            continue;
        {
            struct pollfd pfd = {.fd = sock, .events = POLLIN};
            gint64 left = deadline - g_get_monotonic_time();
            char buf[4096];
            ssize_t n;

            if (left <= 0 || poll(&pfd, 1, (int)(left / 1000) + 1) <= 0)
                break;
            if ((n = recv(sock, buf, sizeof(buf), 0)) <= 0)
                break;
            g_string_append_len(in, buf, n);
        }
    }
    g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_AGENT_UNRESPONSIVE,
                        "Guest agent is not responding: QEMU guest agent is not connected");
    return NULL;
}

gboolean
qvirDriverDomainGetTime(qvirDriver *drv, const unsigned char *uuid, long long *seconds,
                        unsigned int *nseconds, unsigned int flags, GError **error)
{
    qemuDriverRunning run;
    g_autofree char *path = NULL;
    g_autoptr(JsonNode) ret = NULL;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    gboolean configured = FALSE;
    int sock;

    if (!qvirCheckFlags(flags, 0, "qemuDomainGetTime", error) ||
        !qemuDriverRunningBegin(drv, uuid, QEMU_JOB_QUERY, &run, error))
        return FALSE;
    qemuDomainObjLock(run.obj);
    for (guint i = 0; run.obj->liveDef && i < run.obj->liveDef->channels->len; i++) {
        const qvirDomainChrDef *chr = g_ptr_array_index(run.obj->liveDef->channels, i);

        if (g_strcmp0(chr->targetName, "org.qemu.guest_agent.0") != 0)
            continue;
        configured = TRUE;
        if (g_strcmp0(chr->type, "unix") != 0 || g_strcmp0(chr->sourceMode, "connect") == 0)
            continue;
        /* where the start put a socket the XML left unnamed (qemu_command.c) */
        if (chr->sourcePath) {
            path = g_strdup(chr->sourcePath);
        } else {
            g_autofree char *dir = qemuDriverDomainDir(drv, run.obj->id, run.obj->name);

            path = g_build_filename(dir, chr->targetName, NULL);
        }
    }
    qemuDomainObjUnlock(run.obj);
    if (!configured) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                            "argument unsupported: QEMU guest agent is not configured");
        qemuDriverRunningEnd(&run);
        return FALSE;
    }
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!path || strlen(path) >= sizeof(addr.sun_path) || sock < 0 ||
        (strcpy(addr.sun_path, path), connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_AGENT_UNRESPONSIVE,
                            "Guest agent is not responding: QEMU guest agent is not connected");
    } else {
        ret = qemuGuestAgentCommand(sock, "guest-get-time", error);
    }
    if (sock >= 0)
        close(sock);
    qemuDriverRunningEnd(&run);
    if (!ret)
        return FALSE;
    if (!JSON_NODE_HOLDS_VALUE(ret)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: malformed return value");
        return FALSE;
    }
    *seconds = json_node_get_int(ret) / 1000000000LL;
    *nseconds = (unsigned int)(json_node_get_int(ret) % 1000000000LL);
    return TRUE;
}

/* ---- qemu-monitor-command ------------------------------------------------------------------ */

#define QEMU_MONITOR_COMMAND_HMP (1u << 0)

/* libvirt's qemuDomainObjTaint: once per run, a line in the domain's QEMU log. */
static void
qemuGuestTaint(qvirDriver *drv, qemuDomainObj *obj)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S.%f");
    g_autofree char *file = g_strdup_printf("%s.log", obj->name);
    g_autofree char *path = g_build_filename(drv->cfg->logDir, "qemu", file, NULL);
    g_autofree char *line = NULL;
    gboolean first;
    int id;
    int fd;

    qemuDomainObjLock(obj);
    first = !obj->taintCustomMonitor;
    obj->taintCustomMonitor = TRUE;
    id = obj->id;
    qemuDomainObjUnlock(obj);
    g_warning("Domain id=%d name='%s' is tainted: custom-monitor", id, obj->name);
    if (!first)
        return;
    /* libvirt's timestamp has milliseconds: cut the microseconds */
    stamp[strlen(stamp) - 3] = '\0';
    line = g_strdup_printf("%s+0000: Domain id=%d is tainted: custom-monitor\n", stamp, id);
    if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) >= 0) {
        if (write(fd, line, strlen(line)) < 0)
            g_message("domain '%s': cannot log the taint: %s", obj->name, g_strerror(errno));
        close(fd);
    }
}

char *
qvirDriverDomainQemuMonitorCommand(qvirDriver *drv, const unsigned char *uuid, const char *cmd,
                                   unsigned int flags, GError **error)
{
    qemuDriverRunning run;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(JsonObject) reply = NULL;
    g_autoptr(JsonObject) hmp = NULL;
    g_autoptr(JsonGenerator) gen = NULL;
    g_autoptr(JsonNode) root = NULL;
    JsonObject *req = NULL;
    const char *execute;

    if (!qvirCheckFlags(flags, QEMU_MONITOR_COMMAND_HMP, "qemuDomainQemuMonitorCommand", error))
        return NULL;
    if (!(flags & QEMU_MONITOR_COMMAND_HMP)) {
        if (!json_parser_load_from_data(parser, cmd, -1, NULL) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)) ||
            !(req = json_node_get_object(json_parser_get_root(parser))) ||
            !json_object_has_member(req, "execute") ||
            !(execute = json_object_get_string_member(req, "execute"))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: cannot parse json %s: not a QMP command", cmd);
            return NULL;
        }
    } else {
        execute = "human-monitor-command";
        hmp = json_object_new();
        json_object_set_string_member(hmp, "command-line", cmd);
    }
    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_QUERY, &run, error))
        return NULL;
    qemuGuestTaint(drv, run.obj);
    reply = qemuMonitorCommandReply(run.mon, execute,
                                    hmp ? hmp
                                    : json_object_has_member(req, "arguments")
                                        ? json_object_get_object_member(req, "arguments")
                                        : NULL,
                                    QEMU_GUEST_QMP_TIMEOUT_MS, error);
    qemuDriverRunningEnd(&run);
    if (!reply)
        return NULL;
    if (hmp) {
        /* HMP's answer is its text */
        if (json_object_has_member(reply, "return") &&
            JSON_NODE_HOLDS_VALUE(json_object_get_member(reply, "return")))
            return g_strdup(json_object_get_string_member(reply, "return"));
        if (json_object_has_member(reply, "error")) {
            JsonObject *e = json_object_get_object_member(reply, "error");

            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: unable to execute QEMU command 'human-monitor-command': "
                        "%s",
                        e && json_object_has_member(e, "desc")
                            ? json_object_get_string_member(e, "desc")
                            : "unknown error");
            return NULL;
        }
    }
    root = json_node_alloc();
    json_node_init_object(root, reply);
    gen = json_generator_new();
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}
