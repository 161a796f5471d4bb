/*
 * remote_dispatch.c: the REMOTE program: dispatch through the procedure table generated
 * from remote_protocol.x, and the handlers of the connection, host, listing, lifecycle and
 * query procedures (live disk operations, snapshots and events: remote_dispatch_disk.c).
 *
 * The dispatcher checks access, decodes the arguments completely (trailing bytes are an
 * error: client and server would disagree on the struct), runs the handler and encodes
 * what it returned; a handler only calls the driver and fills in its _ret.
 */
#include "rpc/remote_dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "qemu/qemu_migration.h"
#include "rpc/remote_dispatch_priv.h"
#include "util/virbitmap.h"
#include "util/virerror.h"
#include "util/virthreadjob.h"

/* virDomainStatsTypes qvirtd reports */
#define REMOTE_STATS_STATE (1u << 0)
#define REMOTE_STATS_CPU_TOTAL (1u << 1)
#define REMOTE_STATS_BALLOON (1u << 2)
#define REMOTE_STATS_VCPU (1u << 3)
#define REMOTE_STATS_BLOCK (1u << 5)
#define REMOTE_STATS_SUPPORTED                                                                     \
    (REMOTE_STATS_STATE | REMOTE_STATS_CPU_TOTAL | REMOTE_STATS_BALLOON | REMOTE_STATS_VCPU |      \
     REMOTE_STATS_BLOCK)
/* virConnectGetAllDomainStatsFlags beyond the listing filters (the low byte) */
/* VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING: a block record per chain layer */
#define REMOTE_STATS_BACKING (1u << 30)
#define REMOTE_STATS_ENFORCE (1u << 31)

/* virDomainEventID */
#define REMOTE_EVENT_ID_LIFECYCLE 0

/* VIR_CONNECT_RO */
#define REMOTE_CONNECT_RO 1

/* ---- shared helpers ----------------------------------------------------------- */

void
qvirRemoteDomainSet(remote_nonnull_domain *out, const qvirDomainRef *ref)
{
    out->name = g_strdup(ref->name);
    memcpy(out->uuid, ref->uuid, sizeof(out->uuid));
    out->id = ref->id;
}

void
qvirRemoteDomainTake(remote_nonnull_domain *out, qvirDomainRef *ref)
{
    out->name = g_steal_pointer(&ref->name);
    memcpy(out->uuid, ref->uuid, sizeof(out->uuid));
    out->id = ref->id;
}

gboolean
qvirRemoteDomainReturn(remote_nonnull_domain *out, qvirDomainRef *ref)
{
    g_autoptr(qvirDomainRef) owned = ref;

    if (!owned)
        return FALSE;
    qvirRemoteDomainTake(out, owned);
    return TRUE;
}

gboolean
qvirRemoteStringsTake(guint32 *len, char ***val, GPtrArray *list, gint32 max, gint32 limit,
                      const char *what, GError **error)
{
    g_autoptr(GPtrArray) names = list;
    guint n;

    if (!names)
        return FALSE;
    if (max < 0 || max > limit) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "%s '%d' must be in the range 0..%d", what,
                    max, limit);
        return FALSE;
    }
    n = MIN(names->len, (guint)max);
    *val = g_new0(char *, n + 1);
    for (guint i = 0; i < n; i++)
        (*val)[i] = g_strdup(g_ptr_array_index(names, i));
    *len = n;
    return TRUE;
}

gboolean
qvirRemoteDomainExists(qvirDriver *drv, const guint8 *uuid, GError **error)
{
    return qvirDriverDomainIsActive(drv, uuid, error) >= 0;
}

static const char *const remoteTypedParamTypeNames[] = {
    "", "int", "uint", "llong", "ullong", "double", "boolean", "string",
};

static const char *
remoteTypedParamTypeName(int type)
{
    return type > 0 && type < (int)G_N_ELEMENTS(remoteTypedParamTypeNames)
               ? remoteTypedParamTypeNames[type]
               : "unknown";
}

int
qvirRemoteTypedParamCheck(const remote_typed_param *p, const qvirRemoteParamSpec *specs,
                          guint nspecs, gboolean *seen, int repeatable, GError **error)
{
    guint k;

    for (k = 0; k < nspecs; k++) {
        if (g_strcmp0(p->field, specs[k].name) == 0)
            break;
    }
    if (k == nspecs) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: parameter '%s' not supported", p->field);
        return -1;
    }
    if (p->value.type != specs[k].type) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: invalid type '%s' for parameter '%s', expected '%s'",
                    remoteTypedParamTypeName(p->value.type), p->field,
                    remoteTypedParamTypeName(specs[k].type));
        return -1;
    }
    if (seen[k] && (int)k != repeatable) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: parameter '%s' occurs multiple times", p->field);
        return -1;
    }
    seen[k] = TRUE;
    return (int)k;
}

/* ---- connection --------------------------------------------------------------- */

gboolean
remoteDispatchConnectOpen(qvirRemoteCtx *ctx, remote_connect_open_args *args, GError **error)
{
    const char *name = args->name;

    /* The client strips transport parameters (socket=...) before sending. */
    if (name && *name && !g_str_equal(name, "qemu:///system") &&
        !g_str_equal(name, "qemu:///session") && !g_str_equal(name, "qemu:///")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_CONNECT, "no connection driver available for %s",
                    name);
        return FALSE;
    }
    g_atomic_int_set(&ctx->client->readonly, (args->flags & REMOTE_CONNECT_RO) != 0);
    g_atomic_int_set(&ctx->client->opened, 1);
    return TRUE;
}

gboolean
remoteDispatchConnectClose(qvirRemoteCtx *ctx, GError **error)
{
    g_atomic_int_set(&ctx->client->opened, 0);
    return TRUE;
}

/* A unix socket owned by the daemon's user needs no authentication. */
gboolean
remoteDispatchAuthList(qvirRemoteCtx *ctx, remote_auth_list_ret *ret, GError **error)
{
    ret->types.val = g_new0(gint32, 1);
    ret->types.val[0] = REMOTE_AUTH_NONE;
    ret->types.len = 1;
    return TRUE;
}

gboolean
remoteDispatchConnectSupportsFeature(qvirRemoteCtx *ctx, remote_connect_supports_feature_args *args,
                                     remote_connect_supports_feature_ret *ret, GError **error)
{
    switch (args->feature) {
    case QVIR_REMOTE_FEATURE_REMOTE:
    case QVIR_REMOTE_FEATURE_PROGRAM_KEEPALIVE:
    case QVIR_REMOTE_FEATURE_REMOTE_CLOSE_CALLBACK:
    case QVIR_REMOTE_FEATURE_TYPED_PARAM_STRING:
    case QVIR_REMOTE_FEATURE_REMOTE_EVENT_CALLBACK:
    case QVIR_REMOTE_FEATURE_MIGRATION_V3:
    case QVIR_REMOTE_FEATURE_MIGRATE_CHANGE_PROTECTION:
    case QVIR_REMOTE_FEATURE_MIGRATION_P2P:
    case QVIR_REMOTE_FEATURE_MIGRATION_PARAMS:
        ret->supported = 1;
        break;
    default:
        ret->supported = 0;
        break;
    }
    return TRUE;
}

gboolean
remoteDispatchConnectGetHostname(qvirRemoteCtx *ctx, remote_connect_get_hostname_ret *ret,
                                 GError **error)
{
    ret->hostname = g_strdup(g_get_host_name());
    return TRUE;
}

/* Close callbacks fire when the connection drops, which clients detect by themselves;
 * registering needs no server state. */
gboolean
remoteDispatchConnectRegisterCloseCallback(qvirRemoteCtx *ctx, GError **error)
{
    return TRUE;
}

gboolean
remoteDispatchConnectGetVersion(qvirRemoteCtx *ctx, remote_connect_get_version_ret *ret,
                                GError **error)
{
    ret->hv_ver = qvirDriverGetVersion(ctx->drv, error);
    return ret->hv_ver != 0;
}

/* A wire string as libvirt's daemon sends one into a fixed buffer: its NUL included. */
static void
remoteSetCharArray(guint32 *len, gint8 **val, const char *str)
{
    *len = strlen(str) + 1;
    *val = (gint8 *)g_strdup(str);
}

/* libvirt's QEMU driver without SELinux or AppArmor stacks the "none" driver first and,
 * when privileged, DAC under it; the host's model is the first of the stack, so both the
 * session and the system daemon answer "none" with DOI "0" (virsh dominfo prints them). */
gboolean
remoteDispatchNodeGetSecurityModel(qvirRemoteCtx *ctx, remote_node_get_security_model_ret *ret,
                                   GError **error)
{
    remoteSetCharArray(&ret->model.len, &ret->model.val, "none");
    remoteSetCharArray(&ret->doi.len, &ret->doi.val, "0");
    return TRUE;
}

/* qemuDomainGetSecurityLabel asks the stack's primary driver, "none", whose process label
 * is empty (not enforcing): running or not, only the domain has to exist. */
gboolean
remoteDispatchDomainGetSecurityLabel(qvirRemoteCtx *ctx,
                                     remote_domain_get_security_label_args *args,
                                     remote_domain_get_security_label_ret *ret, GError **error)
{
    if (!qvirRemoteDomainExists(ctx->drv, args->dom.uuid, error))
        return FALSE;
    remoteSetCharArray(&ret->label.len, &ret->label.val, "");
    ret->enforcing = 0;
    return TRUE;
}

/* ---- host ------------------------------------------------------------------------ */

/* The first number after "KEY" and a colon in FILE's line starting with KEY, or 0. */
static guint64
remoteProcNumber(const char *file, const char *key)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    gsize i;

    if (!g_file_get_contents(file, &text, NULL, NULL))
        return 0;
    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i]; i++) {
        const char *colon;

        if (!g_str_has_prefix(lines[i], key) || !(colon = strchr(lines[i], ':')))
            continue;
        return g_ascii_strtoull(colon + 1, NULL, 10);
    }
    return 0;
}

/* Topology is reported flat, as one node and one socket. */
gboolean
remoteDispatchNodeGetInfo(qvirRemoteCtx *ctx, remote_node_get_info_ret *ret, GError **error)
{
    static const char model[] = "x86_64";

    memcpy(ret->model, model, sizeof(model));
    ret->memory = remoteProcNumber("/proc/meminfo", "MemTotal");
    ret->cpus = ret->cores = g_get_num_processors();
    ret->mhz = (gint32)remoteProcNumber("/proc/cpuinfo", "cpu MHz");
    ret->nodes = ret->sockets = ret->threads = 1;
    return TRUE;
}

/* A /sys/devices/system/cpu list ("0-1"), or NULL. */
static qvirBitmap *
remoteSysCPUs(const char *file)
{
    g_autofree char *path = g_build_filename("/sys/devices/system/cpu", file, NULL);
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return qvirBitmapParse(g_strstrip(text), QVIR_DOMAIN_CPUMASK_LEN, NULL);
}

/* virHostCPUGetMap: as many CPUs as the highest present one + 1, the online ones in the
 * map. python3-libvirt sizes every vCPU map from this. */
gboolean
remoteDispatchNodeGetCPUMap(qvirRemoteCtx *ctx, remote_node_get_cpu_map_args *args,
                            remote_node_get_cpu_map_ret *ret, GError **error)
{
    g_autoptr(qvirBitmap) present = NULL;
    g_autoptr(qvirBitmap) online = NULL;
    guint count = 0;

    if (!qvirCheckFlags(args->flags, 0, "virHostCPUGetMap", error))
        return FALSE;
    if (!(present = remoteSysCPUs("present")) || !(online = remoteSysCPUs("online"))) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: cannot read the host's CPUs from "
                            "/sys/devices/system/cpu");
        return FALSE;
    }
    for (guint i = 0; i < qvirBitmapSize(present); i++)
        if (qvirBitmapIsSet(present, i))
            count = i + 1;
    if (args->need_map) {
        ret->cpumap.len = (count + 7) / 8;
        ret->cpumap.val = g_new0(guint8, MAX(ret->cpumap.len, 1));
    }
    for (guint i = 0; i < count; i++) {
        if (!qvirBitmapIsSet(online, i))
            continue;
        if (args->need_map)
            ret->cpumap.val[i / 8] |= 1u << (i % 8);
        if (args->need_online)
            ret->online++;
    }
    ret->ret = (gint32)count;
    return TRUE;
}

/* Bytes, from MemFree. */
gboolean
remoteDispatchNodeGetFreeMemory(qvirRemoteCtx *ctx, remote_node_get_free_memory_ret *ret,
                                GError **error)
{
    ret->freeMem = remoteProcNumber("/proc/meminfo", "MemFree") * 1024;
    return TRUE;
}

/* KVM's vCPU limit as libvirt reads it (KVM_CHECK_EXTENSION on /dev/kvm). */
static int
remoteKVMMaxVcpus(GError **error)
{
    /* <linux/kvm.h>: KVM_CHECK_EXTENSION = _IO(0xAE, 0x03), KVM_CAP_NR_VCPUS 9,
     * KVM_CAP_MAX_VCPUS 66 */
    const unsigned long checkExtension = 0xAE03;
    int fd = open("/dev/kvm", O_RDONLY | O_CLOEXEC);
    int n;

    if (fd < 0) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Unable to open /dev/kvm: %s",
                    g_strerror(saved));
        return -1;
    }
    if ((n = ioctl(fd, checkExtension, 66)) <= 0 && (n = ioctl(fd, checkExtension, 9)) <= 0)
        n = 4; /* KVM's documented default when neither capability answers */
    close(fd);
    return n;
}

/* libvirt's answers, 16 for TCG. */
gboolean
remoteDispatchConnectGetMaxVcpus(qvirRemoteCtx *ctx, remote_connect_get_max_vcpus_args *args,
                                 remote_connect_get_max_vcpus_ret *ret, GError **error)
{
    if (!args->type || g_ascii_strcasecmp(args->type, "qemu") == 0) {
        ret->max_vcpus = 16;
        return TRUE;
    }
    if (g_ascii_strcasecmp(args->type, "kvm") == 0)
        return (ret->max_vcpus = remoteKVMMaxVcpus(error)) >= 0;
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "invalid argument: unknown type '%s'",
                args->type);
    return FALSE;
}

/* ---- listing ------------------------------------------------------------------- */

gboolean
remoteDispatchConnectListDomains(qvirRemoteCtx *ctx, remote_connect_list_domains_args *args,
                                 remote_connect_list_domains_ret *ret, GError **error)
{
    g_autoptr(GArray) ids = NULL;

    if (args->maxids < 0 || args->maxids > REMOTE_DOMAIN_LIST_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "maxids '%d' must be in the range 0..%d",
                    args->maxids, REMOTE_DOMAIN_LIST_MAX);
        return FALSE;
    }
    ids = qvirDriverListDomainIDs(ctx->drv);
    g_array_set_size(ids, MIN(ids->len, (guint)args->maxids));
    ret->ids.len = ids->len;
    ret->ids.val = (gint32 *)(void *)g_array_free(g_steal_pointer(&ids), FALSE);
    return TRUE;
}

/* ---- lifecycle ------------------------------------------------------------------- */

/* VIR_DOMAIN_START_AUTODESTROY */
#define QVIR_REMOTE_START_AUTODESTROY (1u << 1)

/* OUT names DOM (taken), which a call with FLAGS just started, with its new id; FALSE when
 * DOM is NULL (the driver's error). With VIR_DOMAIN_START_AUTODESTROY, the client's going
 * destroys it. */
static gboolean
remoteDomainStarted(qvirRemoteCtx *ctx, guint flags, qvirDomainRef *dom, remote_nonnull_domain *out)
{
    if (dom && (flags & QVIR_REMOTE_START_AUTODESTROY))
        qvirRemoteClientAddAutoDestroy(ctx->client, dom);
    return qvirRemoteDomainReturn(out, dom);
}

gboolean
remoteDispatchDomainCreateXML(qvirRemoteCtx *ctx, remote_domain_create_xml_args *args,
                              remote_domain_create_xml_ret *ret, GError **error)
{
    return remoteDomainStarted(
        ctx, args->flags, qvirDriverDomainCreateXML(ctx->drv, args->xml_desc, args->flags, error),
        &ret->dom);
}

gboolean
remoteDispatchDomainCreateWithFlags(qvirRemoteCtx *ctx, remote_domain_create_with_flags_args *args,
                                    remote_domain_create_with_flags_ret *ret, GError **error)
{
    if (!qvirDriverDomainCreate(ctx->drv, args->dom.uuid, args->flags, error))
        return FALSE;
    return remoteDomainStarted(
        ctx, args->flags, qvirDriverDomainLookupByUUID(ctx->drv, args->dom.uuid, error), &ret->dom);
}

/* ---- queries --------------------------------------------------------------------- */

gboolean
remoteDispatchDomainGetState(qvirRemoteCtx *ctx, remote_domain_get_state_args *args,
                             remote_domain_get_state_ret *ret, GError **error)
{
    return qvirDriverDomainGetState(ctx->drv, args->dom.uuid, &ret->state, &ret->reason, error);
}

gboolean
remoteDispatchDomainGetVcpusFlags(qvirRemoteCtx *ctx, remote_domain_get_vcpus_flags_args *args,
                                  remote_domain_get_vcpus_flags_ret *ret, GError **error)
{
    ret->num = qvirDriverDomainGetVcpusFlags(ctx->drv, args->dom.uuid, args->flags, error);
    return ret->num >= 0;
}

/* x86 QEMU guests are "hvm". */
gboolean
remoteDispatchDomainGetOSType(qvirRemoteCtx *ctx, remote_domain_get_os_type_args *args,
                              remote_domain_get_os_type_ret *ret, GError **error)
{
    if (!qvirRemoteDomainExists(ctx->drv, args->dom.uuid, error))
        return FALSE;
    ret->type = g_strdup("hvm");
    return TRUE;
}

/* ---- disk statistics ------------------------------------------------------------ */

remote_typed_param_value *
qvirRemoteParamAdd(GArray *params, int type, const char *fmt, ...)
{
    remote_typed_param p = {0};
    va_list ap;

    va_start(ap, fmt);
    p.field = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    p.value.type = type;
    g_array_append_val(params, p);
    return &g_array_index(params, remote_typed_param, params->len - 1).value;
}

void
qvirRemoteParamsSteal(GArray *params, guint32 *len, remote_typed_param **val)
{
    *len = params->len;
    *val = (remote_typed_param *)(void *)g_array_free(params, FALSE);
}

/* The fields libvirt's QEMU driver returns, in its order; NPARAMS 0 asks for their number
 * only. */
gboolean
remoteDispatchDomainBlockStatsFlags(qvirRemoteCtx *ctx, remote_domain_block_stats_flags_args *args,
                                    remote_domain_block_stats_flags_ret *ret, GError **error)
{
    GArray *params;
    qvirDomainBlockStats st;
    guint n;

    if (args->nparams < 0) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: nparams must be non-negative");
        return FALSE;
    }
    if (args->nparams > REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: nparams too large");
        return FALSE;
    }
    if (!qvirDriverDomainBlockStats(ctx->drv, args->dom.uuid, args->path, &st, error))
        return FALSE;

    params = g_array_new(FALSE, TRUE, sizeof(remote_typed_param));
#define REMOTE_STAT(name, val)                                                                     \
    do {                                                                                           \
        if ((val) >= 0)                                                                            \
            qvirRemoteParamAdd(params, VIR_TYPED_PARAM_LLONG, name)->u.l = (val);                  \
    } while (0)
    REMOTE_STAT("wr_bytes", st.wrBytes);
    REMOTE_STAT("wr_operations", st.wrReq);
    REMOTE_STAT("rd_bytes", st.rdBytes);
    REMOTE_STAT("rd_operations", st.rdReq);
    REMOTE_STAT("flush_operations", st.flushReq);
    REMOTE_STAT("wr_total_times", st.wrTotalTimes);
    REMOTE_STAT("rd_total_times", st.rdTotalTimes);
    REMOTE_STAT("flush_total_times", st.flushTotalTimes);
#undef REMOTE_STAT

    /* NPARAMS 0: the count alone; otherwise the first NPARAMS fields */
    n = args->nparams ? MIN(params->len, (guint)args->nparams) : 0;
    ret->nparams = args->nparams ? n : params->len;
    for (guint i = n; i < params->len; i++)
        g_free(g_array_index(params, remote_typed_param, i).field);
    g_array_set_size(params, n);
    qvirRemoteParamsSteal(params, &ret->params.len, &ret->params.val);
    return TRUE;
}

/* MAXERRORS 0 asks for the count only. */
gboolean
remoteDispatchDomainGetDiskErrors(qvirRemoteCtx *ctx, remote_domain_get_disk_errors_args *args,
                                  remote_domain_get_disk_errors_ret *ret, GError **error)
{
    g_autoptr(GPtrArray) errs = NULL;
    guint n;

    if (args->maxerrors > REMOTE_DOMAIN_DISK_ERRORS_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC, "maxerrors too large");
        return FALSE;
    }
    if (!(errs = qvirDriverDomainGetDiskErrors(ctx->drv, args->dom.uuid, args->flags, error)))
        return FALSE;
    n = MIN(errs->len, args->maxerrors);
    ret->errors.val = g_new0(remote_domain_disk_error, n + 1);
    ret->errors.len = n;
    for (guint i = 0; i < n; i++) {
        qvirDomainDiskError *e = g_ptr_array_index(errs, i);

        ret->errors.val[i].disk = g_strdup(e->disk);
        ret->errors.val[i].error = e->error;
    }
    ret->nerrors = args->maxerrors ? n : errs->len;
    return TRUE;
}

/* ---- small live queries ------------------------------------------------------------ */

gboolean
qvirRemoteCheckRunning(qvirRemoteCtx *ctx, const remote_nonnull_domain *dom, GError **error)
{
    int active = qvirDriverDomainIsActive(ctx->drv, dom->uuid, error);

    if (active < 0)
        return FALSE;
    if (!active) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is not running");
        return FALSE;
    }
    return TRUE;
}

/* The monitor is never left busy between calls, so a running domain's control is "ok"
 * (the zero _ret). */
gboolean
remoteDispatchDomainGetControlInfo(qvirRemoteCtx *ctx, remote_domain_get_control_info_args *args,
                                   remote_domain_get_control_info_ret *ret, GError **error)
{
    return qvirCheckFlags(args->flags, 0, "qemuDomainGetControlInfo", error) &&
           qvirRemoteCheckRunning(ctx, &args->dom, error);
}

/* As libvirt without a balloon: actual (the current memory) and rss. */
gboolean
remoteDispatchDomainMemoryStats(qvirRemoteCtx *ctx, remote_domain_memory_stats_args *args,
                                remote_domain_memory_stats_ret *ret, GError **error)
{
    g_autoptr(GArray) stats = NULL;
    guint n;

    if (args->maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC,
                            "maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX");
        return FALSE;
    }
    if (!(stats = qvirDriverDomainMemoryStats(ctx->drv, args->dom.uuid, args->flags, error)))
        return FALSE;
    n = MIN(args->maxStats, stats->len);
    ret->stats.val = g_new0(remote_domain_memory_stat, MAX(n, 1));
    ret->stats.len = n;
    for (guint i = 0; i < n; i++) {
        const qvirDomainMemoryStat *st = &g_array_index(stats, qvirDomainMemoryStat, i);

        ret->stats.val[i].tag = st->tag;
        ret->stats.val[i].val = st->val;
    }
    return TRUE;
}

/* As libvirt's daemon: the client's buffers are sent back whole (MAXINFO maps), only
 * the filled part of INFO. */
gboolean
remoteDispatchDomainGetVcpus(qvirRemoteCtx *ctx, remote_domain_get_vcpus_args *args,
                             remote_domain_get_vcpus_ret *ret, GError **error)
{
    g_autofree qvirVcpuInfo *info = NULL;
    g_autofree guint8 *cpumaps = NULL;
    int n;

    if (args->maxinfo > REMOTE_VCPUINFO_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC, "maxinfo > REMOTE_VCPUINFO_MAX");
        return FALSE;
    }
    if (args->maxinfo < 0 || args->maplen < 0 ||
        (gint64)args->maxinfo * args->maplen > REMOTE_CPUMAPS_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC,
                            "maxinfo * maplen > REMOTE_CPUMAPS_MAX");
        return FALSE;
    }
    info = g_new0(qvirVcpuInfo, MAX(args->maxinfo, 1));
    cpumaps = g_new0(guint8, MAX(args->maxinfo * args->maplen, 1));
    n = qvirDriverDomainGetVcpus(ctx->drv, args->dom.uuid, info, args->maxinfo,
                                 args->maplen > 0 ? cpumaps : NULL, args->maplen, error);
    if (n < 0)
        return FALSE;
    ret->info.len = n;
    ret->info.val = g_new0(remote_vcpu_info, MAX(n, 1));
    for (int i = 0; i < n; i++) {
        ret->info.val[i].number = info[i].number;
        ret->info.val[i].state = info[i].state;
        ret->info.val[i].cpu_time = info[i].cpuTimeNs;
        ret->info.val[i].cpu = info[i].cpu;
    }
    ret->cpumaps.len = args->maxinfo * args->maplen;
    ret->cpumaps.val = (gpointer)g_steal_pointer(&cpumaps);
    return TRUE;
}

gboolean
remoteDispatchDomainGetVcpuPinInfo(qvirRemoteCtx *ctx, remote_domain_get_vcpu_pin_info_args *args,
                                   remote_domain_get_vcpu_pin_info_ret *ret, GError **error)
{
    g_autofree guint8 *cpumaps = NULL;
    int n;

    if (args->ncpumaps > REMOTE_VCPUINFO_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC, "ncpumaps > REMOTE_VCPUINFO_MAX");
        return FALSE;
    }
    if (args->ncpumaps < 0 || args->maplen < 0 ||
        (gint64)args->ncpumaps * args->maplen > REMOTE_CPUMAPS_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC,
                            "maxinfo * maplen > REMOTE_CPUMAPS_MAX");
        return FALSE;
    }
    cpumaps = g_new0(guint8, MAX(args->ncpumaps * args->maplen, 1));
    n = qvirDriverDomainGetVcpuPinInfo(ctx->drv, args->dom.uuid, args->ncpumaps, cpumaps,
                                       args->maplen, args->flags, error);
    if (n < 0)
        return FALSE;
    ret->num = n;
    ret->cpumaps.len = args->ncpumaps * args->maplen;
    ret->cpumaps.val = (gpointer)g_steal_pointer(&cpumaps);
    return TRUE;
}

/* ---- all-domain statistics (virsh domstats) ---------------------------------------- */

/* libvirt's order within a record: name, path, backingIndex, the device's counters, then
 * allocation, capacity, physical and threshold (qemuDomainGetStatsBlockExportDisk). */
static void
remoteStatsBlock(qvirRemoteCtx *ctx, const qvirDomainRef *ref, gboolean backing, GArray *p)
{
    g_autoptr(GPtrArray) recs = qvirDriverDomainGetBlockRecords(ctx->drv, ref->uuid, backing, NULL);

    if (!recs)
        return;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_UINT, "block.count")->u.ui = recs->len;
    for (guint i = 0; i < recs->len; i++) {
        const qvirDomainBlockRecord *r = g_ptr_array_index(recs, i);
        const qvirDomainBlockStats *st = &r->stats;

        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_STRING, "block.%u.name", i)->u.s = g_strdup(r->name);
        if (r->path)
            qvirRemoteParamAdd(p, VIR_TYPED_PARAM_STRING, "block.%u.path", i)->u.s =
                g_strdup(r->path);
        if (r->backingIndex)
            qvirRemoteParamAdd(p, VIR_TYPED_PARAM_UINT, "block.%u.backingIndex", i)->u.ui =
                r->backingIndex;
#define REMOTE_BLOCK_STAT(val, key)                                                                \
    do {                                                                                           \
        if ((val) >= 0)                                                                            \
            qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "block.%u." key, i)->u.ul = (val);       \
    } while (0)
        if (r->haveStats) {
            REMOTE_BLOCK_STAT(st->rdReq, "rd.reqs");
            REMOTE_BLOCK_STAT(st->rdBytes, "rd.bytes");
            REMOTE_BLOCK_STAT(st->rdTotalTimes, "rd.times");
            REMOTE_BLOCK_STAT(st->wrReq, "wr.reqs");
            REMOTE_BLOCK_STAT(st->wrBytes, "wr.bytes");
            REMOTE_BLOCK_STAT(st->wrTotalTimes, "wr.times");
            REMOTE_BLOCK_STAT(st->flushReq, "fl.reqs");
            REMOTE_BLOCK_STAT(st->flushTotalTimes, "fl.times");
        }
#undef REMOTE_BLOCK_STAT
#define REMOTE_BLOCK_SIZE(val, key)                                                                \
    do {                                                                                           \
        if (val)                                                                                   \
            qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "block.%u." key, i)->u.ul = (val);       \
    } while (0)
        if (r->haveAllocation)
            qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "block.%u.allocation", i)->u.ul =
                r->allocation;
        REMOTE_BLOCK_SIZE(r->capacity, "capacity");
        REMOTE_BLOCK_SIZE(r->physical, "physical");
        REMOTE_BLOCK_SIZE(r->threshold, "threshold");
#undef REMOTE_BLOCK_SIZE
    }
}

/* REF's record into REC (REF's name moves there); FALSE when the domain went away. */
static gboolean
remoteStatsRecord(qvirRemoteCtx *ctx, qvirDomainRef *ref, guint32 stats, guint32 flags,
                  remote_domain_stats_record *rec)
{
    GArray *p;
    qvirDomainInfo info;
    int state, reason;

    if (!qvirDriverDomainGetState(ctx->drv, ref->uuid, &state, &reason, NULL) ||
        !qvirDriverDomainGetInfo(ctx->drv, ref->uuid, &info, NULL))
        return FALSE;
    /* room for the usual groups without growing */
    p = g_array_sized_new(FALSE, TRUE, sizeof(remote_typed_param), 16);
    if (stats & REMOTE_STATS_STATE) {
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_INT, "state.state")->u.i = state;
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_INT, "state.reason")->u.i = reason;
    }
    if ((stats & REMOTE_STATS_CPU_TOTAL) && ref->id > 0)
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "cpu.time")->u.ul = info.cpuTimeNs;
    if (stats & REMOTE_STATS_BALLOON) {
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "balloon.current")->u.ul = info.memoryKiB;
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "balloon.maximum")->u.ul = info.maxMemKiB;
    }
    if (stats & REMOTE_STATS_VCPU) {
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_UINT, "vcpu.current")->u.ui = info.nrVirtCpu;
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_UINT, "vcpu.maximum")->u.ui = info.nrVirtCpu;
    }
    if (stats & REMOTE_STATS_BLOCK)
        remoteStatsBlock(ctx, ref, (flags & REMOTE_STATS_BACKING) != 0, p);

    qvirRemoteDomainTake(&rec->dom, ref);
    qvirRemoteParamsSteal(p, &rec->params.len, &rec->params.val);
    return TRUE;
}

/* Groups: state, cpu-total, balloon, vcpu (counts) and block (QEMU's counters and sizes). */
gboolean
remoteDispatchConnectGetAllDomainStats(qvirRemoteCtx *ctx,
                                       remote_connect_get_all_domain_stats_args *args,
                                       remote_connect_get_all_domain_stats_ret *ret, GError **error)
{
    g_autoptr(GPtrArray) refs = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainRefFree);
    guint32 stats = args->stats;

    for (guint32 i = 0; i < args->doms.len; i++) {
        qvirDomainRef *ref = qvirDriverDomainLookupByUUID(ctx->drv, args->doms.val[i].uuid, error);

        if (!ref)
            return FALSE;
        g_ptr_array_add(refs, ref);
    }
    if ((args->flags & REMOTE_STATS_ENFORCE) && (stats & ~REMOTE_STATS_SUPPORTED)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "Operation not supported: Stats types bits 0x%x are not supported by this "
                    "daemon",
                    stats & ~REMOTE_STATS_SUPPORTED);
        return FALSE;
    }
    stats = stats ? stats & REMOTE_STATS_SUPPORTED : REMOTE_STATS_SUPPORTED;
    if (args->doms.len == 0) {
        g_autoptr(GPtrArray) all = qvirDriverListAllDomains(ctx->drv, args->flags & 0xffu);

        for (guint i = 0; i < all->len; i++)
            g_ptr_array_add(refs, g_steal_pointer(&all->pdata[i]));
    }
    ret->retStats.val = g_new0(remote_domain_stats_record, refs->len + 1);
    for (guint i = 0; i < refs->len; i++) {
        if (remoteStatsRecord(ctx, g_ptr_array_index(refs, i), stats, args->flags,
                              &ret->retStats.val[ret->retStats.len]))
            ret->retStats.len++;
    }
    return TRUE;
}

/* ---- dispatch --------------------------------------------------------------------- */

const qvirRpcProcedure *
qvirRemoteProcLookup(gint32 proc)
{
    if (proc <= 0 || proc >= REMOTE_PROC_LAST || !remote_procedure_table[proc].name)
        return NULL;
    return &remote_procedure_table[proc];
}

guint
qvirRemoteNumProcedures(void)
{
    guint n = 0;

    for (guint i = 0; i < G_N_ELEMENTS(remote_procedure_table); i++)
        n += (remote_procedure_table[i].flags & QVIR_RPC_PROC_SERVED) != 0;
    return n;
}

const char *
qvirRemoteProcName(gint32 proc)
{
    const qvirRpcProcedure *p = qvirRemoteProcLookup(proc);

    return p ? p->name : NULL;
}

static gboolean
qvirRemoteRunInline(gint32 proc)
{
    const qvirRpcProcedure *p = qvirRemoteProcLookup(proc);

    /* Unknown and unserved procedures are answered on the spot too: no driver involved. */
    return !p || !(p->flags & QVIR_RPC_PROC_SERVED) || (p->flags & QVIR_RPC_PROC_INLINE);
}

/* The checks every procedure passes before its handler: an open connection, a driver
 * when it needs one, and write access when it changes something. */
static gboolean
qvirRemoteCheckAccess(const qvirRemoteCtx *ctx, const qvirRpcProcedure *p, GError **error)
{
    if (!(p->flags & QVIR_RPC_PROC_PREOPEN) && !g_atomic_int_get(&ctx->client->opened)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: connection not open");
        return FALSE;
    }
    /* Before the driver check, as libvirt's API entry points do. A client of the
     * read-only socket is read-only whatever flags its CONNECT_OPEN carried. */
    if ((p->flags & QVIR_RPC_PROC_WRITE) &&
        (g_atomic_int_get(&ctx->client->readonly) || qvirRpcClientIsReadOnly(ctx->rpcClient))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_DENIED,
                    "operation forbidden: read only access prevents %s", p->name);
        return FALSE;
    }
    /* Every procedure off the main loop needs the driver. */
    if (!(p->flags & QVIR_RPC_PROC_INLINE) && !ctx->drv) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_CONNECT, "no connection driver available for %s",
                    p->name);
        return FALSE;
    }
    return TRUE;
}

/* libvirt's QEMU program (qemu_protocol.x) */
#define QVIR_RPC_QEMU_PROGRAM 0x20008087u
#define QVIR_RPC_QEMU_VERSION 1u

/* libvirt's storage and secret APIs (libvirt-storage.c, libvirt-secret.c and their
 * drivers) report their errors from VIR_FROM_STORAGE and VIR_FROM_SECRET; their names are
 * the only ones with those words. */
static int
qvirRemoteErrDomainOf(guint32 program, gint32 proc)
{
    const qvirRpcProcedure *entry =
        program == QVIR_RPC_REMOTE_PROGRAM ? qvirRemoteProcLookup(proc) : NULL;
    const char *name = entry ? entry->name : "";

    if (strstr(name, "Storage"))
        return QVIR_FROM_STORAGE;
    if (strstr(name, "Secret"))
        return QVIR_FROM_SECRET;
    return 0;
}

static gboolean
qvirRemoteAcceptsProgram(guint32 program, guint32 version)
{
    return program == QVIR_RPC_QEMU_PROGRAM && version == QVIR_RPC_QEMU_VERSION;
}

static gboolean
qvirRemoteDispatch(gpointer opaque, qvirRpcClient *rpcClient, const qvirRpcHeader *hdr,
                   qvirXdrReader *args, GByteArray *reply, GError **error)
{
    const qvirRpcProcedure *p = hdr->program == QVIR_RPC_QEMU_PROGRAM
                                    ? qvirRemoteQemuProcLookup(hdr->procedure)
                                    : qvirRemoteProcLookup(hdr->procedure);
    qvirRemoteCtx ctx = {
        .drv = opaque,
        .client = qvirRpcClientGetPrivate(rpcClient),
        .rpcClient = rpcClient,
        .hdr = hdr,
    };
    gboolean ok;

    if (!p || !(p->flags & QVIR_RPC_PROC_SERVED)) {
        g_info("unsupported procedure %d (%s)", hdr->procedure, p ? p->name : "unknown");
        if (p)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SUPPORT,
                        "this function is not supported by the connection driver: %s", p->name);
        else
            g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SUPPORT,
                        "this function is not supported by the connection driver: "
                        "procedure %d",
                        hdr->procedure);
        return FALSE;
    }
    if (!qvirRemoteCheckAccess(&ctx, p, error))
        return FALSE;
    /* the jobs the call takes name it as libvirt's do */
    qvirThreadJobSet(p->dispatch);
    ok = qvirRpcProcedureCall(p, &ctx, args, reply, error);
    qvirThreadJobSet(NULL);
    return ok;
}

/* The driver's lifecycle event as libvirt's 318 to every client registered for
 * VIR_DOMAIN_EVENT_ID_LIFECYCLE (registrations: remote_dispatch_disk.c). */
static void
qvirRemoteLifecycleEvent(qvirDriver *drv, const qvirDomainRef *dom, int event, int detail,
                         gpointer opaque)
{
    remote_domain_event_callback_lifecycle_msg msg = {
        .msg = {.dom = {.name = (char *)dom->name, .id = dom->id},
                .event = event,
                .detail = detail},
    };

    memcpy(msg.msg.dom.uuid, dom->uuid, sizeof(msg.msg.dom.uuid));
    qvirRemoteEventBroadcast(dom, REMOTE_EVENT_ID_LIFECYCLE,
                             REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, &msg);
}

static void
qvirRemoteDomainRefFree(gpointer data)
{
    qvirDomainRef *ref = data;

    g_free(ref->name);
    g_free(ref);
}

static gpointer
qvirRemoteClientNew(gpointer opaque)
{
    qvirRemoteClient *client = g_new0(qvirRemoteClient, 1);

    client->drv = opaque;
    g_mutex_init(&client->autoDestroyLock);
    client->autoDestroy = g_ptr_array_new_with_free_func(qvirRemoteDomainRefFree);
    client->migrations = g_ptr_array_new_with_free_func(g_free);
    return client;
}

void
qvirRemoteClientAddMigration(qvirRemoteClient *client, const unsigned char *uuid)
{
    gboolean known = FALSE;

    /* one entry a domain: a connection that migrates it again and again stays small */
    g_mutex_lock(&client->autoDestroyLock);
    for (guint i = 0; !known && i < client->migrations->len; i++)
        known = memcmp(g_ptr_array_index(client->migrations, i), uuid, QVIR_UUID_BUFLEN) == 0;
    if (!known)
        g_ptr_array_add(client->migrations, g_memdup2(uuid, QVIR_UUID_BUFLEN));
    g_mutex_unlock(&client->autoDestroyLock);
}

void
qvirRemoteClientAddAutoDestroy(qvirRemoteClient *client, const qvirDomainRef *dom)
{
    qvirDomainRef *ref = g_new0(qvirDomainRef, 1);

    ref->name = g_strdup(dom->name);
    memcpy(ref->uuid, dom->uuid, sizeof(ref->uuid));
    ref->id = dom->id;
    g_mutex_lock(&client->autoDestroyLock);
    g_ptr_array_add(client->autoDestroy, ref);
    g_mutex_unlock(&client->autoDestroyLock);
}

void
qvirRemoteClientRemoveAutoDestroy(qvirRemoteClient *client, const unsigned char *uuid)
{
    g_mutex_lock(&client->autoDestroyLock);
    for (guint i = client->autoDestroy->len; i > 0; i--) {
        const qvirDomainRef *ref = g_ptr_array_index(client->autoDestroy, i - 1);

        if (memcmp(ref->uuid, uuid, QVIR_UUID_BUFLEN) == 0)
            g_ptr_array_remove_index(client->autoDestroy, i - 1);
    }
    g_mutex_unlock(&client->autoDestroyLock);
}

/*
 * The last reference to the connection is gone: it closed, the client died, or the daemon
 * is shutting down (libvirt destroys them then too). Only the run this connection started
 * goes: a domain since restarted under the same UUID (a new id) is someone else's. This
 * runs before the driver can close, so the destroys are done here and now.
 */
static void
qvirRemoteClientFree(gpointer data)
{
    qvirRemoteClient *client = data;

    for (guint i = 0; client->drv && i < client->autoDestroy->len; i++) {
        const qvirDomainRef *ref = g_ptr_array_index(client->autoDestroy, i);
        g_autoptr(GError) error = NULL;
        qvirDomainRef *now = NULL;
        gboolean same;

        /* an incoming migration ends with its job, even when its QEMU has gone already */
        if (qvirDriverDomainMigrateAbandonIncoming(client->drv, ref->uuid, ref->id))
            continue;
        now = qvirDriverDomainLookupByUUID(client->drv, ref->uuid, NULL);
        same = now && ref->id >= 0 && now->id == ref->id;
        if (now)
            qvirRemoteDomainRefFree(now);
        if (!same)
            continue;
        g_info("destroying domain '%s' (id %d): the connection that started it closed", ref->name,
               ref->id);
        if (!qvirDriverDomainDestroy(client->drv, ref->uuid, 0, &error))
            g_warning("cannot auto-destroy domain '%s': %s", ref->name, error->message);
    }
    /* libvirt's close callback of an outgoing migration (the driver ends only the job
     * this connection's Begin started) */
    for (guint i = 0; client->drv && i < client->migrations->len; i++)
        qvirDriverDomainMigrateConnClosed(client->drv, g_ptr_array_index(client->migrations, i),
                                          client);
    g_clear_pointer(&client->migrations, g_ptr_array_unref);
    g_clear_pointer(&client->autoDestroy, g_ptr_array_unref);
    g_mutex_clear(&client->autoDestroyLock);
    g_free(client);
}

void
qvirRemoteProgramInit(qvirRpcProgram *prog, qvirDriver *drv)
{
    qvirRemoteDiskInit(drv);
    if (drv)
        qvirDriverSetLifecycleEventCallback(drv, qvirRemoteLifecycleEvent, NULL);
    *prog = (qvirRpcProgram){
        .program = QVIR_RPC_REMOTE_PROGRAM,
        .version = QVIR_RPC_REMOTE_VERSION,
        .errDomain = QVIR_FROM_QEMU,
        .errDomainOf = qvirRemoteErrDomainOf,
        .runInline = qvirRemoteRunInline,
        .acceptsProgram = qvirRemoteAcceptsProgram,
        .dispatch = qvirRemoteDispatch,
        .opaque = drv,
        .clientNew = qvirRemoteClientNew,
        .clientFree = qvirRemoteClientFree,
    };
}
