/*
 * qemu_driver_vcpu.c: where a domain's vCPUs run (virsh vcpuinfo, vcpupin without a CPU
 * list), as libvirt's QEMU driver answers: the vCPU threads QEMU names (query-cpus-fast),
 * each one's last host CPU and CPU time from /proc and its affinity from the kernel; the
 * pinning of the definition when the domain is shut off.
 */
#define G_LOG_DOMAIN "qvirt-driver"

#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "qemu/qemu_driverpriv.h"
#include "util/virbitmap.h"
#include "util/virerror.h"

/* virDomainModificationImpact */
#define QEMU_AFFECT_LIVE (1u << 0)
#define QEMU_AFFECT_CONFIG (1u << 1)
/* virVcpuState */
#define QEMU_VCPU_RUNNING 1

#define QEMU_VCPU_QMP_TIMEOUT_MS 10000

/* libvirt's VIR_GET_CPUMAP / VIR_USE_CPU: bit CPU of map NTH in a buffer of MAPLEN-byte
 * maps. */
static void
qemuVcpuMapSet(guint8 *cpumaps, int maplen, int nth, guint cpu)
{
    if (cpu / 8 < (guint)maplen)
        cpumaps[(gsize)nth * maplen + cpu / 8] |= 1u << (cpu % 8);
}

/* As virProcessGetStatInfo: fields of /proc/PID/task/TID/stat (14 utime, 15 stime, 39
 * processor); what cannot be read stays 0, as libvirt only warns. */
static void
qemuVcpuThreadStat(pid_t pid, pid_t tid, unsigned long long *cpuTimeNs, int *cpu)
{
    g_autofree char *path =
        g_strdup_printf("/proc/%lld/task/%lld/stat", (long long)pid, (long long)tid);
    g_autofree char *stat = NULL;
    g_auto(GStrv) fields = NULL;
    const char *rest;
    long hz = sysconf(_SC_CLK_TCK);
    guint64 utime, stime, processor;

    *cpuTimeNs = 0;
    *cpu = 0;
    if (!g_file_get_contents(path, &stat, NULL, NULL) || !(rest = strrchr(stat, ')')))
        return;
    fields = g_strsplit(rest + 2, " ", 0);
    /* fields[0] is field 3 */
    if (g_strv_length(fields) < 37 ||
        !g_ascii_string_to_unsigned(fields[11], 10, 0, G_MAXUINT64, &utime, NULL) ||
        !g_ascii_string_to_unsigned(fields[12], 10, 0, G_MAXUINT64, &stime, NULL) ||
        !g_ascii_string_to_unsigned(fields[36], 10, 0, G_MAXINT, &processor, NULL))
        return;
    if (hz > 0)
        *cpuTimeNs = 1000000000ull * (utime + stime) / (unsigned long long)hz;
    *cpu = (int)processor;
}

static gboolean
qemuVcpuThreadAffinity(pid_t tid, guint8 *cpumaps, int maplen, int nth, GError **error)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    if (sched_getaffinity(tid, sizeof(set), &set) < 0) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "cannot get CPU affinity of process %lld: %s", (long long)tid,
                    g_strerror(saved));
        return FALSE;
    }
    for (guint cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set))
            qemuVcpuMapSet(cpumaps, maplen, nth, cpu);
    return TRUE;
}

typedef struct {
    guint index;
    pid_t tid;
} qemuVcpuThread;

static gint
qemuVcpuThreadCompare(gconstpointer a, gconstpointer b)
{
    const qemuVcpuThread *x = a, *y = b;

    return (x->index > y->index) - (x->index < y->index);
}

/* The online vCPUs' threads (query-cpus-fast), by vCPU number. */
static GArray *
qemuVcpuThreads(qemuMonitor *mon, GError **error)
{
    g_autoptr(JsonNode) cpus =
        qemuMonitorCommand(mon, "query-cpus-fast", NULL, QEMU_VCPU_QMP_TIMEOUT_MS, error);
    g_autoptr(GArray) threads = g_array_new(FALSE, FALSE, sizeof(qemuVcpuThread));
    JsonArray *arr;

    if (!cpus)
        return NULL;
    if (!JSON_NODE_HOLDS_ARRAY(cpus)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "unexpected reply to query-cpus-fast");
        return NULL;
    }
    arr = json_node_get_array(cpus);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *cpu = json_array_get_object_element(arr, i);
        long long index = qemuDriverJsonInt(cpu, "cpu-index");
        long long tid = qemuDriverJsonInt(cpu, "thread-id");
        qemuVcpuThread t;

        if (index < 0 || tid <= 0) {
            /* libvirt: a QEMU without vCPU threads (qemuDomainHasVcpuPids) */
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                                "Requested operation is not valid: cpu affinity is not "
                                "supported");
            return NULL;
        }
        t.index = (guint)index;
        t.tid = (pid_t)tid;
        g_array_append_val(threads, t);
    }
    g_array_sort(threads, qemuVcpuThreadCompare);
    return g_steal_pointer(&threads);
}

int
qvirDriverDomainGetVcpus(qvirDriver *drv, const unsigned char *uuid, qvirVcpuInfo *info,
                         int maxinfo, guint8 *cpumaps, int maplen, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    g_autoptr(GArray) threads = NULL;
    qemuDriverRunning run;
    gboolean active;
    pid_t pid = 0;
    int n = 0;

    if (!obj)
        return -1;
    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj);
    qemuDomainObjUnlock(obj);
    if (!active) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: cannot retrieve vcpu "
                            "information for inactive domain");
        return -1;
    }
    if (maxinfo <= 0)
        return 0;
    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_QUERY, &run, error))
        return -1;
    qemuDomainObjLock(run.obj);
    if (run.obj->proc)
        pid = qemuProcessGetPid(run.obj->proc);
    qemuDomainObjUnlock(run.obj);
    threads = qemuVcpuThreads(run.mon, error);
    qemuDriverRunningEnd(&run);
    if (!threads)
        return -1;

    if (cpumaps)
        memset(cpumaps, 0, (gsize)maxinfo * maplen);
    for (guint i = 0; i < threads->len && n < maxinfo; i++, n++) {
        const qemuVcpuThread *t = &g_array_index(threads, qemuVcpuThread, i);

        if (info) {
            info[n].number = t->index;
            info[n].state = QEMU_VCPU_RUNNING;
            qemuVcpuThreadStat(pid, t->tid, &info[n].cpuTimeNs, &info[n].cpu);
        }
        if (cpumaps && !qemuVcpuThreadAffinity(t->tid, cpumaps, maplen, n, error))
            return -1;
    }
    return n;
}

/* virHostCPUGetAvailableCPUsBitmap: the host's online CPUs. */
static qvirBitmap *
qemuVcpuHostCPUs(GError **error)
{
    g_autofree char *online = NULL;

    if (!g_file_get_contents("/sys/devices/system/cpu/online", &online, NULL, NULL)) {
        g_autofree char *all = g_strdup_printf("0-%u", g_get_num_processors() - 1);

        return qvirBitmapParse(all, QVIR_DOMAIN_CPUMASK_LEN, error);
    }
    return qvirBitmapParse(g_strstrip(online), QVIR_DOMAIN_CPUMASK_LEN, error);
}

int
qvirDriverDomainGetVcpuPinInfo(qvirDriver *drv, const unsigned char *uuid, int ncpumaps,
                               guint8 *cpumaps, int maplen, unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autoptr(qvirBitmap) host = NULL;
    g_autoptr(qvirBitmap) mask = NULL;
    g_autofree char *maskStr = NULL;
    const qvirDomainDef *def;
    const qvirBitmap *use;
    guint maxvcpus = 0;
    int n;

    if (!qvirCheckFlags(flags, QEMU_AFFECT_LIVE | QEMU_AFFECT_CONFIG, "qemuDomainGetVcpuPinInfo",
                        error))
        return -1;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return -1;
    /* virDomainObjGetOneDefState */
    if ((flags & QEMU_AFFECT_LIVE) && (flags & QEMU_AFFECT_CONFIG)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: Flags 'VIR_DOMAIN_AFFECT_LIVE' and "
                            "'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive");
        return -1;
    }
    if (!qemuDriverModificationImpact(obj, &flags, error))
        return -1;
    if (!(host = qemuVcpuHostCPUs(error)))
        return -1;
    qemuDomainObjLock(obj);
    def = (flags & QEMU_AFFECT_LIVE) ? obj->liveDef : obj->def;
    if (def) {
        maxvcpus = def->vcpus;
        /* <vcpu cpuset=>; qvirt has no per-vCPU <vcpupin> */
        if (def->cpumask)
            maskStr = qvirBitmapFormat(def->cpumask);
    }
    qemuDomainObjUnlock(obj);
    if (!def) {
        qemuDriverErrorNotRunning(error);
        return -1;
    }
    if (maskStr && !(mask = qvirBitmapParse(maskStr, QVIR_DOMAIN_CPUMASK_LEN, error)))
        return -1;

    use = mask ? mask : host;
    memset(cpumaps, 0, (gsize)MAX(ncpumaps, 0) * maplen);
    for (n = 0; (guint)n < maxvcpus && n < ncpumaps; n++) {
        for (guint cpu = 0; cpu < qvirBitmapSize(use) && cpu / 8 < (guint)maplen; cpu++)
            if (qvirBitmapIsSet(use, cpu))
                qemuVcpuMapSet(cpumaps, maplen, n, cpu);
    }
    return n;
}
