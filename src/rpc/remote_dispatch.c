/*
 * remote_dispatch.c: the REMOTE program's procedures.
 *
 * Each handler decodes its arguments completely (trailing bytes are an error,
 * since they mean client and server disagree on the struct), calls the driver
 * and encodes the return value. Wire layouts are libvirt 9.0's
 * remote_protocol.x; the comment above each handler gives them.
 */
#include "rpc/remote_dispatch.h"

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "rpc/remote_procs.h"
#include "util/virerror.h"
#ifdef QVIR_HAVE_REMOTE_DISK
#include "rpc/remote_dispatch_disk.h"
#endif

/* remote_protocol.x limits */
#define REMOTE_DOMAIN_LIST_MAX 16384
#define REMOTE_AUTH_TYPE_LIST_MAX 20
#define REMOTE_DOMAIN_MESSAGES_MAX 2048
#define REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX 16
#define REMOTE_DOMAIN_DISK_ERRORS_MAX 256

#define REMOTE_DOMAIN_MEMORY_STATS_MAX 1024
/* virDomainMemoryStatTags */
#define REMOTE_MEMORY_STAT_ACTUAL_BALLOON 6
#define REMOTE_MEMORY_STAT_RSS 7

/* virTypedParameterType */
#define REMOTE_TYPED_PARAM_INT 1
#define REMOTE_TYPED_PARAM_UINT 2
#define REMOTE_TYPED_PARAM_LLONG 3
#define REMOTE_TYPED_PARAM_ULLONG 4
#define REMOTE_TYPED_PARAM_STRING 7

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
#define REMOTE_STATS_ENFORCE (1u << 31)
#define REMOTE_STATS_BACKING (1u << 30)
#define REMOTE_STATS_NOWAIT (1u << 29)

/* virDomainEventID */
#define REMOTE_EVENT_ID_LIFECYCLE 0

#define REMOTE_AUTH_NONE 0

/* VIR_CONNECT_RO */
#define REMOTE_CONNECT_RO 1

typedef enum {
    REMOTE_PROC_CONNECT_OPEN = 1,
    REMOTE_PROC_CONNECT_CLOSE = 2,
    REMOTE_PROC_CONNECT_GET_TYPE = 3,
    REMOTE_PROC_CONNECT_GET_VERSION = 4,
    REMOTE_PROC_CONNECT_GET_MAX_VCPUS = 5,
    REMOTE_PROC_NODE_GET_INFO = 6,
    REMOTE_PROC_CONNECT_GET_CAPABILITIES = 7,
    REMOTE_PROC_DOMAIN_CREATE = 9,
    REMOTE_PROC_DOMAIN_CREATE_XML = 10,
    REMOTE_PROC_DOMAIN_DEFINE_XML = 11,
    REMOTE_PROC_DOMAIN_DESTROY = 12,
    REMOTE_PROC_DOMAIN_GET_XML_DESC = 14,
    REMOTE_PROC_DOMAIN_GET_AUTOSTART = 15,
    REMOTE_PROC_DOMAIN_GET_INFO = 16,
    REMOTE_PROC_DOMAIN_GET_MAX_MEMORY = 17,
    REMOTE_PROC_DOMAIN_GET_OS_TYPE = 19,
    REMOTE_PROC_DOMAIN_REBOOT = 27,
    REMOTE_PROC_DOMAIN_RESUME = 28,
    REMOTE_PROC_DOMAIN_SHUTDOWN = 33,
    REMOTE_PROC_DOMAIN_SUSPEND = 34,
    REMOTE_PROC_DOMAIN_BLOCK_STATS = 64,
    REMOTE_PROC_CONNECT_LIST_DEFINED_DOMAINS = 21,
    REMOTE_PROC_DOMAIN_LOOKUP_BY_ID = 22,
    REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME = 23,
    REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID = 24,
    REMOTE_PROC_CONNECT_NUM_OF_DEFINED_DOMAINS = 25,
    REMOTE_PROC_DOMAIN_UNDEFINE = 35,
    REMOTE_PROC_CONNECT_LIST_DOMAINS = 37,
    REMOTE_PROC_DOMAIN_MEMORY_STATS = 159,
    REMOTE_PROC_DOMAIN_GET_CONTROL_INFO = 229,
    REMOTE_PROC_DOMAIN_GET_JOB_STATS = 298,
    REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS = 344,
    REMOTE_PROC_CONNECT_NUM_OF_DOMAINS = 51,
    REMOTE_PROC_NODE_GET_FREE_MEMORY = 102,
    REMOTE_PROC_CONNECT_GET_HOSTNAME = 59,
    REMOTE_PROC_CONNECT_SUPPORTS_FEATURE = 60,
    REMOTE_PROC_AUTH_LIST = 66,
    REMOTE_PROC_CONNECT_GET_URI = 110,
    REMOTE_PROC_NODE_GET_SECURITY_MODEL = 122,
    REMOTE_PROC_CONNECT_DOMAIN_XML_TO_NATIVE = 136,
    REMOTE_PROC_CONNECT_IS_SECURE = 149,
    REMOTE_PROC_DOMAIN_IS_ACTIVE = 150,
    REMOTE_PROC_DOMAIN_IS_PERSISTENT = 151,
    REMOTE_PROC_CONNECT_GET_LIB_VERSION = 157,
    REMOTE_PROC_DOMAIN_HAS_MANAGED_SAVE_IMAGE = 183,
    REMOTE_PROC_DOMAIN_SNAPSHOT_NUM = 187,
    REMOTE_PROC_DOMAIN_GET_BLOCK_INFO = 194,
    REMOTE_PROC_DOMAIN_CREATE_WITH_FLAGS = 196,
    REMOTE_PROC_DOMAIN_GET_VCPUS_FLAGS = 200,
    REMOTE_PROC_DOMAIN_IS_UPDATED = 202,
    REMOTE_PROC_DOMAIN_GET_STATE = 212,
    REMOTE_PROC_DOMAIN_UNDEFINE_FLAGS = 231,
    REMOTE_PROC_DOMAIN_DESTROY_FLAGS = 234,
    REMOTE_PROC_DOMAIN_BLOCK_STATS_FLAGS = 243,
    REMOTE_PROC_DOMAIN_RESET = 245,
    REMOTE_PROC_DOMAIN_BLOCK_RESIZE = 251,
    REMOTE_PROC_DOMAIN_SHUTDOWN_FLAGS = 258,
    REMOTE_PROC_DOMAIN_GET_DISK_ERRORS = 263,
    REMOTE_PROC_DOMAIN_GET_METADATA = 265,
    REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS = 273,
    REMOTE_PROC_DOMAIN_LIST_ALL_SNAPSHOTS = 274,
    REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE = 318,
    REMOTE_PROC_DOMAIN_DEFINE_XML_FLAGS = 350,
    REMOTE_PROC_CONNECT_REGISTER_CLOSE_CALLBACK = 360,
    REMOTE_PROC_CONNECT_UNREGISTER_CLOSE_CALLBACK = 361,
    REMOTE_PROC_DOMAIN_LIST_ALL_CHECKPOINTS = 413,
    REMOTE_PROC_DOMAIN_GET_MESSAGES = 426,
    REMOTE_PROC_LAST = 444,
} qvirRemoteProcedure;

/* Per-connection state. Set on the main loop (open/close run inline), read by
 * workers, hence atomics. */
typedef struct {
    gint opened;
    gint readonly;
} qvirRemoteClient;

typedef struct {
    qvirDriver *drv;
    qvirRemoteClient *client;
    qvirRpcClient *rpcClient;
} qvirRemoteCtx;

typedef gboolean (*qvirRemoteHandler)(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                                      GError **error);

typedef enum {
    REMOTE_INLINE = 1 << 0,  /* run on the main loop: cheap, and ordered with later calls */
    REMOTE_PREOPEN = 1 << 1, /* allowed before CONNECT_OPEN */
    REMOTE_DRIVER = 1 << 2,  /* needs the driver */
    REMOTE_WRITE = 1 << 3,   /* refused on a read-only connection */
} qvirRemoteProcFlags;

typedef struct {
    qvirRemoteHandler fn;
    unsigned int flags;
} qvirRemoteProc;

/* ---- wire helpers ----------------------------------------------------------- */

/* remote_nonnull_domain { remote_nonnull_string name; remote_uuid uuid; int id; } */
typedef struct {
    char *name;
    guint8 uuid[QVIR_XDR_UUID_LEN];
    gint32 id;
} qvirRemoteDomainArg;

static void
qvirRemoteDomainArgClear(qvirRemoteDomainArg *dom)
{
    g_clear_pointer(&dom->name, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qvirRemoteDomainArg, qvirRemoteDomainArgClear);

static gboolean
qvirRemoteReadDomain(qvirXdrReader *rd, qvirRemoteDomainArg *dom, GError **error)
{
    return qvirXdrReadString(rd, QVIR_XDR_STRING_MAX, &dom->name, error) &&
           qvirXdrReadFixedOpaque(rd, dom->uuid, sizeof(dom->uuid), error) &&
           qvirXdrReadInt(rd, &dom->id, error);
}

static void
qvirRemoteWriteDomain(GByteArray *buf, const qvirDomainRef *ref)
{
    qvirXdrWriteString(buf, ref->name);
    qvirXdrWriteFixedOpaque(buf, ref->uuid, QVIR_UUID_BUFLEN);
    qvirXdrWriteInt(buf, ref->id);
}

/* Args that are just a domain. */
static gboolean
qvirRemoteReadDomainOnly(qvirXdrReader *rd, qvirRemoteDomainArg *dom, GError **error)
{
    return qvirRemoteReadDomain(rd, dom, error) && qvirXdrReaderCheckEnd(rd, error);
}

/* Args { remote_nonnull_domain dom; unsigned int flags; } */
static gboolean
qvirRemoteReadDomainFlags(qvirXdrReader *rd, qvirRemoteDomainArg *dom, guint32 *flags,
                          GError **error)
{
    return qvirRemoteReadDomain(rd, dom, error) && qvirXdrReadU32(rd, flags, error) &&
           qvirXdrReaderCheckEnd(rd, error);
}

/* Existence check for procedures whose answer is constant but which must still
 * fail with NO_DOMAIN for a domain that does not exist. */
static gboolean
qvirRemoteDomainExists(qvirRemoteCtx *ctx, const qvirRemoteDomainArg *dom, GError **error)
{
    return qvirDriverDomainIsActive(ctx->drv, dom->uuid, error) >= 0;
}

/* ---- connection ------------------------------------------------------------- */

/* args { remote_string name; unsigned int flags; } */
static gboolean
remoteConnectOpen(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_autofree char *name = NULL;
    guint32 flags;

    if (!qvirXdrReadOptString(args, QVIR_XDR_STRING_MAX, &name, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;

    /* The client strips transport parameters (socket=...) before sending. */
    if (name && *name && !g_str_equal(name, "qemu:///system") &&
        !g_str_equal(name, "qemu:///session") && !g_str_equal(name, "qemu:///")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_CONNECT, "no connection driver available for %s",
                    name);
        return FALSE;
    }
    g_atomic_int_set(&ctx->client->readonly, (flags & REMOTE_CONNECT_RO) != 0);
    g_atomic_int_set(&ctx->client->opened, 1);
    return TRUE;
}

static gboolean
remoteConnectClose(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    g_atomic_int_set(&ctx->client->opened, 0);
    return TRUE;
}

/* ret { remote_auth_type types<REMOTE_AUTH_TYPE_LIST_MAX>; } : a unix socket
 * owned by the daemon's user needs no authentication. */
static gboolean
remoteAuthList(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    qvirXdrWriteU32(ret, 1);
    qvirXdrWriteInt(ret, REMOTE_AUTH_NONE);
    return TRUE;
}

/* args { int feature; } ret { int supported; } */
static gboolean
remoteConnectSupportsFeature(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                             GError **error)
{
    gint32 feature;
    gboolean supported;

    if (!qvirXdrReadInt(args, &feature, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    switch (feature) {
    case QVIR_REMOTE_FEATURE_REMOTE:
    case QVIR_REMOTE_FEATURE_PROGRAM_KEEPALIVE:
    case QVIR_REMOTE_FEATURE_REMOTE_CLOSE_CALLBACK:
    case QVIR_REMOTE_FEATURE_TYPED_PARAM_STRING:
        supported = TRUE;
        break;
    case QVIR_REMOTE_FEATURE_REMOTE_EVENT_CALLBACK:
        /* Event callbacks (316/317) come with the disk procedures; without them,
         * answering 0 keeps clients from relying on events. */
#ifdef QVIR_HAVE_REMOTE_DISK
        supported = TRUE;
#else
        supported = FALSE;
#endif
        break;
    default:
        supported = FALSE;
        break;
    }
    qvirXdrWriteInt(ret, supported);
    return TRUE;
}

static gboolean
remoteWriteStringRet(qvirXdrReader *args, GByteArray *ret, const char *str, GError **error)
{
    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    qvirXdrWriteString(ret, str);
    return TRUE;
}

/* ret { remote_nonnull_string type; } */
static gboolean
remoteConnectGetType(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    return remoteWriteStringRet(args, ret, "QEMU", error);
}

static gboolean
remoteConnectGetHostname(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    return remoteWriteStringRet(args, ret, g_get_host_name(), error);
}

static gboolean
remoteConnectGetURI(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    return remoteWriteStringRet(args, ret, "qemu:///system", error);
}

/* ret { int secure; } : a local unix socket is not observable by others. */
static gboolean
remoteConnectIsSecure(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    qvirXdrWriteInt(ret, 1);
    return TRUE;
}

/* ret { unsigned hyper lib_ver; } */
static gboolean
remoteConnectGetLibVersion(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    qvirXdrWriteU64(ret, QVIR_REMOTE_LIB_VERSION);
    return TRUE;
}

/* Close callbacks fire when the connection drops, which clients detect by
 * themselves; registering needs no server state. */
static gboolean
remoteConnectCloseCallback(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    return qvirXdrReaderCheckEnd(args, error);
}

/* ret { unsigned hyper hv_ver; } */
static gboolean
remoteConnectGetVersion(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    unsigned long ver;

    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    ver = qvirDriverGetVersion(ctx->drv, error);
    if (ver == 0)
        return FALSE;
    qvirXdrWriteU64(ret, ver);
    return TRUE;
}

/* ret { remote_nonnull_string capabilities; } */
static gboolean
remoteConnectGetCapabilities(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                             GError **error)
{
    g_autofree char *caps = NULL;

    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (!(caps = qvirDriverGetCapabilities(ctx->drv, error)))
        return FALSE;
    qvirXdrWriteString(ret, caps);
    return TRUE;
}

/* ret { char model<REMOTE_SECURITY_MODEL_MAX>; char doi<REMOTE_SECURITY_DOI_MAX>; }
 * No security driver: both empty, which virsh dominfo takes as "none". */
static gboolean
remoteNodeGetSecurityModel(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    qvirXdrWriteU32(ret, 0);
    qvirXdrWriteU32(ret, 0);
    return TRUE;
}

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

/* ret { char model[32]; unsigned hyper memory; int cpus; int mhz; int nodes;
 * int sockets; int cores; int threads; } : a fixed char array is 32 XDR chars,
 * a word each. Topology is reported flat, as one node and one socket. */
static gboolean
remoteNodeGetInfo(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    static const char model[32] = "x86_64";
    guint cpus = g_get_num_processors();
    guint i;

    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    for (i = 0; i < sizeof(model); i++)
        qvirXdrWriteInt(ret, model[i]);
    qvirXdrWriteU64(ret, remoteProcNumber("/proc/meminfo", "MemTotal"));
    qvirXdrWriteInt(ret, cpus);
    qvirXdrWriteInt(ret, (gint32)remoteProcNumber("/proc/cpuinfo", "cpu MHz"));
    qvirXdrWriteInt(ret, 1);
    qvirXdrWriteInt(ret, 1);
    qvirXdrWriteInt(ret, cpus);
    qvirXdrWriteInt(ret, 1);
    return TRUE;
}

/* args { nativeFormat; domainXml; flags; } ret { remote_nonnull_string nativeConfig; } */
static gboolean
remoteConnectDomainXMLToNative(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                               GError **error)
{
    g_autofree char *format = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *native = NULL;
    guint32 flags;

    if (!qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &format, error) ||
        !qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &xml, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (!(native = qvirDriverConnectDomainXMLToNative(ctx->drv, format, xml, flags, error)))
        return FALSE;
    qvirXdrWriteString(ret, native);
    return TRUE;
}

/* ---- listing ---------------------------------------------------------------- */

/* args { int need_results; unsigned int flags; }
 * ret { remote_nonnull_domain domains<REMOTE_DOMAIN_LIST_MAX>; unsigned int ret; } */
static gboolean
remoteConnectListAllDomains(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                            GError **error)
{
    g_autoptr(GPtrArray) doms = NULL;
    gint32 needResults;
    guint32 flags;
    guint i;

    if (!qvirXdrReadInt(args, &needResults, error) || !qvirXdrReadU32(args, &flags, error) ||
        !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    doms = qvirDriverListAllDomains(ctx->drv, flags);
    if (doms->len > REMOTE_DOMAIN_LIST_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "Too many domains '%u' for limit '%d'",
                    doms->len, REMOTE_DOMAIN_LIST_MAX);
        return FALSE;
    }
    if (needResults) {
        qvirXdrWriteU32(ret, doms->len);
        for (i = 0; i < doms->len; i++)
            qvirRemoteWriteDomain(ret, g_ptr_array_index(doms, i));
    } else {
        qvirXdrWriteU32(ret, 0);
    }
    qvirXdrWriteU32(ret, doms->len);
    return TRUE;
}

static gboolean
remoteCheckMax(gint32 max, const char *what, GError **error)
{
    if (max < 0 || max > REMOTE_DOMAIN_LIST_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "%s '%d' must be in the range 0..%d", what,
                    max, REMOTE_DOMAIN_LIST_MAX);
        return FALSE;
    }
    return TRUE;
}

/* args { int maxids; } ret { int ids<REMOTE_DOMAIN_LIST_MAX>; } */
static gboolean
remoteConnectListDomains(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_autoptr(GArray) ids = NULL;
    gint32 maxids;
    guint i, n;

    if (!qvirXdrReadInt(args, &maxids, error) || !qvirXdrReaderCheckEnd(args, error) ||
        !remoteCheckMax(maxids, "maxids", error))
        return FALSE;
    ids = qvirDriverListDomainIDs(ctx->drv);
    n = MIN(ids->len, (guint)maxids);
    qvirXdrWriteU32(ret, n);
    for (i = 0; i < n; i++)
        qvirXdrWriteInt(ret, g_array_index(ids, int, i));
    return TRUE;
}

/* args { int maxnames; } ret { remote_nonnull_string names<REMOTE_DOMAIN_LIST_MAX>; } */
static gboolean
remoteConnectListDefinedDomains(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                                GError **error)
{
    g_autoptr(GPtrArray) names = NULL;
    gint32 maxnames;
    guint i, n;

    if (!qvirXdrReadInt(args, &maxnames, error) || !qvirXdrReaderCheckEnd(args, error) ||
        !remoteCheckMax(maxnames, "maxnames", error))
        return FALSE;
    names = qvirDriverListDefinedDomainNames(ctx->drv);
    n = MIN(names->len, (guint)maxnames);
    qvirXdrWriteU32(ret, n);
    for (i = 0; i < n; i++)
        qvirXdrWriteString(ret, g_ptr_array_index(names, i));
    return TRUE;
}

/* ret { int num; } */
static gboolean
remoteConnectNumOfDomains(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    qvirXdrWriteInt(ret, qvirDriverNumOfDomains(ctx->drv));
    return TRUE;
}

static gboolean
remoteConnectNumOfDefinedDomains(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                                 GError **error)
{
    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    qvirXdrWriteInt(ret, qvirDriverNumOfDefinedDomains(ctx->drv));
    return TRUE;
}

/* ---- lookup ----------------------------------------------------------------- */

static gboolean
remoteWriteDomainRet(GByteArray *ret, qvirDomainRef *ref)
{
    g_autoptr(qvirDomainRef) owned = ref;

    if (!owned)
        return FALSE;
    qvirRemoteWriteDomain(ret, owned);
    return TRUE;
}

/* args { int id; } ret { remote_nonnull_domain dom; } */
static gboolean
remoteDomainLookupByID(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    gint32 id;

    if (!qvirXdrReadInt(args, &id, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    return remoteWriteDomainRet(ret, qvirDriverDomainLookupByID(ctx->drv, id, error));
}

/* args { remote_nonnull_string name; } */
static gboolean
remoteDomainLookupByName(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_autofree char *name = NULL;

    if (!qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &name, error) ||
        !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    return remoteWriteDomainRet(ret, qvirDriverDomainLookupByName(ctx->drv, name, error));
}

/* args { remote_uuid uuid; } */
static gboolean
remoteDomainLookupByUUID(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];

    if (!qvirXdrReadFixedOpaque(args, uuid, sizeof(uuid), error) ||
        !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    return remoteWriteDomainRet(ret, qvirDriverDomainLookupByUUID(ctx->drv, uuid, error));
}

/* ---- lifecycle ---------------------------------------------------------------- */

/* DEFINE_XML args { xml; } ; DEFINE_XML_FLAGS args { xml; flags; } ; ret { dom; } */
static gboolean
remoteDomainDefineXML(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_autofree char *xml = NULL;

    if (!qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &xml, error) ||
        !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    return remoteWriteDomainRet(ret, qvirDriverDomainDefineXML(ctx->drv, xml, 0, error));
}

static gboolean
remoteDomainDefineXMLFlags(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_autofree char *xml = NULL;
    guint32 flags;

    if (!qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &xml, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    return remoteWriteDomainRet(ret, qvirDriverDomainDefineXML(ctx->drv, xml, flags, error));
}

/* args { dom; } */
static gboolean
remoteDomainUndefine(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};

    return qvirRemoteReadDomainOnly(args, &dom, error) &&
           qvirDriverDomainUndefine(ctx->drv, dom.uuid, 0, error);
}

/* args { dom; flags; } */
static gboolean
remoteDomainUndefineFlags(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    return qvirRemoteReadDomainFlags(args, &dom, &flags, error) &&
           qvirDriverDomainUndefine(ctx->drv, dom.uuid, flags, error);
}

/* args { dom; } (the client looks the domain up again for its new id) */
static gboolean
remoteDomainCreate(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};

    return qvirRemoteReadDomainOnly(args, &dom, error) &&
           qvirDriverDomainCreate(ctx->drv, dom.uuid, 0, error);
}

/* args { dom; flags; } ret { dom; } with the new id */
static gboolean
remoteDomainCreateWithFlags(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                            GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    if (!qvirRemoteReadDomainFlags(args, &dom, &flags, error) ||
        !qvirDriverDomainCreate(ctx->drv, dom.uuid, flags, error))
        return FALSE;
    return remoteWriteDomainRet(ret, qvirDriverDomainLookupByUUID(ctx->drv, dom.uuid, error));
}

/* args { xml_desc; flags; } ret { dom; } */
static gboolean
remoteDomainCreateXML(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_autofree char *xml = NULL;
    guint32 flags;

    if (!qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &xml, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    return remoteWriteDomainRet(ret, qvirDriverDomainCreateXML(ctx->drv, xml, flags, error));
}

static gboolean
remoteDomainDestroy(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};

    return qvirRemoteReadDomainOnly(args, &dom, error) &&
           qvirDriverDomainDestroy(ctx->drv, dom.uuid, 0, error);
}

static gboolean
remoteDomainDestroyFlags(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    return qvirRemoteReadDomainFlags(args, &dom, &flags, error) &&
           qvirDriverDomainDestroy(ctx->drv, dom.uuid, flags, error);
}

/* ---- queries ------------------------------------------------------------------ */

/* args { dom; flags; } ret { remote_nonnull_string xml; } */
static gboolean
remoteDomainGetXMLDesc(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    g_autofree char *xml = NULL;
    guint32 flags;

    if (!qvirRemoteReadDomainFlags(args, &dom, &flags, error) ||
        !(xml = qvirDriverDomainGetXMLDesc(ctx->drv, dom.uuid, flags, error)))
        return FALSE;
    qvirXdrWriteString(ret, xml);
    return TRUE;
}

/* args { dom; flags; } ret { int state; int reason; } */
static gboolean
remoteDomainGetState(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;
    int state, reason;

    if (!qvirRemoteReadDomainFlags(args, &dom, &flags, error) ||
        !qvirDriverDomainGetState(ctx->drv, dom.uuid, &state, &reason, error))
        return FALSE;
    qvirXdrWriteInt(ret, state);
    qvirXdrWriteInt(ret, reason);
    return TRUE;
}

/* args { dom; } ret { unsigned char state; unsigned hyper maxMem; unsigned hyper memory;
 * unsigned short nrVirtCpu; unsigned hyper cpuTime; } (char and short take a word each) */
static gboolean
remoteDomainGetInfo(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    qvirDomainInfo info = {0};

    if (!qvirRemoteReadDomainOnly(args, &dom, error) ||
        !qvirDriverDomainGetInfo(ctx->drv, dom.uuid, &info, error))
        return FALSE;
    qvirXdrWriteU32(ret, (guint8)info.state);
    qvirXdrWriteU64(ret, info.maxMemKiB);
    qvirXdrWriteU64(ret, info.memoryKiB);
    qvirXdrWriteU32(ret, (guint16)info.nrVirtCpu);
    qvirXdrWriteU64(ret, info.cpuTimeNs);
    return TRUE;
}

/* args { dom; } ret { unsigned hyper memory; } */
static gboolean
remoteDomainGetMaxMemory(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    qvirDomainInfo info = {0};

    if (!qvirRemoteReadDomainOnly(args, &dom, error) ||
        !qvirDriverDomainGetInfo(ctx->drv, dom.uuid, &info, error))
        return FALSE;
    qvirXdrWriteU64(ret, info.maxMemKiB);
    return TRUE;
}

/* libvirt's virDomainModificationImpact / virDomainVcpuFlags bits */
#define REMOTE_AFFECT_LIVE 1
#define REMOTE_VCPU_GUEST 8

/* args { dom; flags; } ret { int num; } : qvirt has no vCPU hot-plug, so the
 * current, maximum, live and config counts are all the defined <vcpu>. */
static gboolean
remoteDomainGetVcpusFlags(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    qvirDomainInfo info = {0};
    guint32 flags;

    if (!qvirRemoteReadDomainFlags(args, &dom, &flags, error) ||
        !qvirDriverDomainGetInfo(ctx->drv, dom.uuid, &info, error))
        return FALSE;
    if (flags & REMOTE_VCPU_GUEST) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                            "argument unsupported: guest vCPU counts need a guest agent");
        return FALSE;
    }
    if ((flags & REMOTE_AFFECT_LIVE) && info.state == QVIR_DOMAIN_SHUTOFF) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is not running");
        return FALSE;
    }
    qvirXdrWriteInt(ret, info.nrVirtCpu);
    return TRUE;
}

/* args { dom; } ret { remote_nonnull_string type; } : x86 QEMU guests are "hvm". */
static gboolean
remoteDomainGetOSType(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};

    if (!qvirRemoteReadDomainOnly(args, &dom, error) || !qvirRemoteDomainExists(ctx, &dom, error))
        return FALSE;
    qvirXdrWriteString(ret, "hvm");
    return TRUE;
}

/* args { dom; } ret { int active; } */
static gboolean
remoteDomainIsActive(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    int active;

    if (!qvirRemoteReadDomainOnly(args, &dom, error) ||
        (active = qvirDriverDomainIsActive(ctx->drv, dom.uuid, error)) < 0)
        return FALSE;
    qvirXdrWriteInt(ret, active);
    return TRUE;
}

/* args { dom; } ret { int persistent; } */
static gboolean
remoteDomainIsPersistent(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    int persistent;

    if (!qvirRemoteReadDomainOnly(args, &dom, error) ||
        (persistent = qvirDriverDomainIsPersistent(ctx->drv, dom.uuid, error)) < 0)
        return FALSE;
    qvirXdrWriteInt(ret, persistent);
    return TRUE;
}

/* Features qvirt does not have: autostart, managed save, snapshots and
 * checkpoints, live XML updates. The answers are "none" for an existing domain. */

/* GET_AUTOSTART args { dom; } ret { int autostart; } ; IS_UPDATED likewise */
static gboolean
remoteDomainZeroInt(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};

    if (!qvirRemoteReadDomainOnly(args, &dom, error) || !qvirRemoteDomainExists(ctx, &dom, error))
        return FALSE;
    qvirXdrWriteInt(ret, 0);
    return TRUE;
}

/* HAS_MANAGED_SAVE_IMAGE / SNAPSHOT_NUM args { dom; flags; } ret { int; } */
static gboolean
remoteDomainZeroIntFlags(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    if (!qvirRemoteReadDomainFlags(args, &dom, &flags, error) ||
        !qvirRemoteDomainExists(ctx, &dom, error))
        return FALSE;
    qvirXdrWriteInt(ret, 0);
    return TRUE;
}

/* LIST_ALL_SNAPSHOTS / LIST_ALL_CHECKPOINTS args { dom; int need_results; flags; }
 * ret { items<...>; int ret; } */
static gboolean
remoteDomainListNone(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    gint32 needResults;
    guint32 flags;

    if (!qvirRemoteReadDomain(args, &dom, error) || !qvirXdrReadInt(args, &needResults, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error) ||
        !qvirRemoteDomainExists(ctx, &dom, error))
        return FALSE;
    qvirXdrWriteU32(ret, 0);
    qvirXdrWriteInt(ret, 0);
    return TRUE;
}

/* args { dom; flags; } ret { remote_nonnull_string msgs<REMOTE_DOMAIN_MESSAGES_MAX>; } */
static gboolean
remoteDomainGetMessages(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    if (!qvirRemoteReadDomainFlags(args, &dom, &flags, error) ||
        !qvirRemoteDomainExists(ctx, &dom, error))
        return FALSE;
    qvirXdrWriteU32(ret, 0);
    return TRUE;
}

/* ---- guest control ------------------------------------------------------------ */

/* SUSPEND / RESUME / SHUTDOWN args { dom; } */
static gboolean
remoteDomainSuspend(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};

    return qvirRemoteReadDomainOnly(args, &dom, error) &&
           qvirDriverDomainSuspend(ctx->drv, dom.uuid, error);
}

static gboolean
remoteDomainResume(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};

    return qvirRemoteReadDomainOnly(args, &dom, error) &&
           qvirDriverDomainResume(ctx->drv, dom.uuid, error);
}

static gboolean
remoteDomainShutdown(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};

    return qvirRemoteReadDomainOnly(args, &dom, error) &&
           qvirDriverDomainShutdown(ctx->drv, dom.uuid, 0, error);
}

/* SHUTDOWN_FLAGS / REBOOT / RESET args { dom; unsigned int flags; } */
static gboolean
remoteDomainShutdownFlags(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    return qvirRemoteReadDomainFlags(args, &dom, &flags, error) &&
           qvirDriverDomainShutdown(ctx->drv, dom.uuid, flags, error);
}

static gboolean
remoteDomainReboot(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    return qvirRemoteReadDomainFlags(args, &dom, &flags, error) &&
           qvirDriverDomainReboot(ctx->drv, dom.uuid, flags, error);
}

static gboolean
remoteDomainReset(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    return qvirRemoteReadDomainFlags(args, &dom, &flags, error) &&
           qvirDriverDomainReset(ctx->drv, dom.uuid, flags, error);
}

/* ---- disk statistics ------------------------------------------------------------ */

/* args { dom; remote_nonnull_string path; unsigned int flags; }
 * ret { unsigned hyper allocation; unsigned hyper capacity; unsigned hyper physical; } */
static gboolean
remoteDomainGetBlockInfo(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    g_autofree char *path = NULL;
    qvirDomainBlockInfo info;
    guint32 flags;

    if (!qvirRemoteReadDomain(args, &dom, error) ||
        !qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &path, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error) ||
        !qvirDriverDomainGetBlockInfo(ctx->drv, dom.uuid, path, flags, &info, error))
        return FALSE;
    qvirXdrWriteU64(ret, info.allocation);
    qvirXdrWriteU64(ret, info.capacity);
    qvirXdrWriteU64(ret, info.physical);
    return TRUE;
}

/* args { dom; remote_nonnull_string path; }
 * ret { hyper rd_req; hyper rd_bytes; hyper wr_req; hyper wr_bytes; hyper errs; } */
static gboolean
remoteDomainBlockStats(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    g_autofree char *path = NULL;
    qvirDomainBlockStats st;

    if (!qvirRemoteReadDomain(args, &dom, error) ||
        !qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &path, error) ||
        !qvirXdrReaderCheckEnd(args, error) ||
        !qvirDriverDomainBlockStats(ctx->drv, dom.uuid, path, &st, error))
        return FALSE;
    qvirXdrWriteU64(ret, (guint64)st.rdReq);
    qvirXdrWriteU64(ret, (guint64)st.rdBytes);
    qvirXdrWriteU64(ret, (guint64)st.wrReq);
    qvirXdrWriteU64(ret, (guint64)st.wrBytes);
    qvirXdrWriteU64(ret, (guint64)st.errs);
    return TRUE;
}

/* args { dom; path; int nparams; unsigned int flags; }
 * ret { remote_typed_param params<16>; int nparams; } : the fields libvirt's QEMU driver
 * returns, in its order; NPARAMS 0 asks for their number only. */
static gboolean
remoteDomainBlockStatsFlags(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                            GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    g_autofree char *path = NULL;
    qvirDomainBlockStats st;
    gint32 nparams;
    guint32 flags;
    guint n = 0, i;
    struct {
        const char *field;
        long long value;
    } params[8];

    if (!qvirRemoteReadDomain(args, &dom, error) ||
        !qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &path, error) ||
        !qvirXdrReadInt(args, &nparams, error) || !qvirXdrReadU32(args, &flags, error) ||
        !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (nparams < 0) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: nparams must be non-negative");
        return FALSE;
    }
    if (nparams > REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: nparams too large");
        return FALSE;
    }
    if (!qvirDriverDomainBlockStats(ctx->drv, dom.uuid, path, &st, error))
        return FALSE;

#define REMOTE_STAT(name, val)                                                                     \
    do {                                                                                           \
        if ((val) >= 0) {                                                                          \
            params[n].field = (name);                                                              \
            params[n].value = (val);                                                               \
            n++;                                                                                   \
        }                                                                                          \
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

    if (nparams == 0) {
        qvirXdrWriteU32(ret, 0);
        qvirXdrWriteInt(ret, n);
        return TRUE;
    }
    n = MIN(n, (guint)nparams);
    qvirXdrWriteU32(ret, n);
    for (i = 0; i < n; i++) {
        qvirXdrWriteString(ret, params[i].field);
        qvirXdrWriteInt(ret, REMOTE_TYPED_PARAM_LLONG);
        qvirXdrWriteU64(ret, (guint64)params[i].value);
    }
    qvirXdrWriteInt(ret, n);
    return TRUE;
}

/* args { dom; unsigned int maxerrors; unsigned int flags; }
 * ret { remote_domain_disk_error errors<256>; int nerrors; } : MAXERRORS 0 asks for the
 * count only. */
static gboolean
remoteDomainGetDiskErrors(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    g_autoptr(GPtrArray) errs = NULL;
    guint32 maxerrors, flags;
    guint n, i;

    if (!qvirRemoteReadDomain(args, &dom, error) || !qvirXdrReadU32(args, &maxerrors, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (maxerrors > REMOTE_DOMAIN_DISK_ERRORS_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC, "maxerrors too large");
        return FALSE;
    }
    if (!(errs = qvirDriverDomainGetDiskErrors(ctx->drv, dom.uuid, flags, error)))
        return FALSE;
    n = MIN(errs->len, maxerrors);
    qvirXdrWriteU32(ret, n);
    for (i = 0; i < n; i++) {
        qvirDomainDiskError *e = g_ptr_array_index(errs, i);

        qvirXdrWriteString(ret, e->disk);
        qvirXdrWriteInt(ret, e->error);
    }
    qvirXdrWriteInt(ret, maxerrors ? n : errs->len);
    return TRUE;
}

/* args { dom; remote_nonnull_string disk; unsigned hyper size; unsigned int flags; } */
static gboolean
remoteDomainBlockResize(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    g_autofree char *disk = NULL;
    guint64 size;
    guint32 flags;

    return qvirRemoteReadDomain(args, &dom, error) &&
           qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &disk, error) &&
           qvirXdrReadU64(args, &size, error) && qvirXdrReadU32(args, &flags, error) &&
           qvirXdrReaderCheckEnd(args, error) &&
           qvirDriverDomainBlockResize(ctx->drv, dom.uuid, disk, size, flags, error);
}

/* ---- small live queries ---------------------------------------------------------- */

static gboolean
remoteCheckRunning(qvirRemoteCtx *ctx, const qvirRemoteDomainArg *dom, GError **error)
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

/* args { dom; unsigned int flags; }
 * ret { unsigned int state; unsigned int details; unsigned hyper stateTime; } : the
 * monitor is never left busy between calls, so a running domain's control is "ok". */
static gboolean
remoteDomainGetControlInfo(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    if (!qvirRemoteReadDomainFlags(args, &dom, &flags, error))
        return FALSE;
    if (flags) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported flags (0x%x) in function "
                    "qemuDomainGetControlInfo",
                    flags);
        return FALSE;
    }
    if (!remoteCheckRunning(ctx, &dom, error))
        return FALSE;
    qvirXdrWriteU32(ret, 0);
    qvirXdrWriteU32(ret, 0);
    qvirXdrWriteU64(ret, 0);
    return TRUE;
}

/* args { dom; unsigned int flags; } ret { int type; remote_typed_param params<>; } :
 * qvirt runs no migration or dump jobs, so there is never a job to report (type NONE). */
static gboolean
remoteDomainGetJobStats(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    guint32 flags;

    if (!qvirRemoteReadDomainFlags(args, &dom, &flags, error))
        return FALSE;
    /* VIR_DOMAIN_JOB_STATS_COMPLETED 1, KEEP_COMPLETED 2 */
    if (flags & ~3u) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported flags (0x%x) in function "
                    "qemuDomainGetJobStats",
                    flags & ~3u);
        return FALSE;
    }
    if (!(flags & 1) && !remoteCheckRunning(ctx, &dom, error))
        return FALSE;
    if ((flags & 1) && !qvirRemoteDomainExists(ctx, &dom, error))
        return FALSE;
    qvirXdrWriteInt(ret, 0);
    qvirXdrWriteU32(ret, 0);
    return TRUE;
}

/* args { dom; unsigned int maxStats; unsigned int flags; }
 * ret { remote_domain_memory_stat stats<1024>; } with { int tag; unsigned hyper val; } :
 * as libvirt without a balloon: actual (the current memory) and rss. */
static gboolean
remoteDomainMemoryStats(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    unsigned long long actual = 0, rss = 0;
    guint32 maxStats, flags;
    guint n = 0;

    if (!qvirRemoteReadDomain(args, &dom, error) || !qvirXdrReadU32(args, &maxStats, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC,
                            "maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX");
        return FALSE;
    }
    if (!qvirDriverDomainMemoryStats(ctx->drv, dom.uuid, &actual, &rss, error))
        return FALSE;
    n = MIN(maxStats, 2u);
    qvirXdrWriteU32(ret, n);
    if (n >= 1) {
        qvirXdrWriteInt(ret, REMOTE_MEMORY_STAT_ACTUAL_BALLOON);
        qvirXdrWriteU64(ret, actual);
    }
    if (n >= 2) {
        qvirXdrWriteInt(ret, REMOTE_MEMORY_STAT_RSS);
        qvirXdrWriteU64(ret, rss);
    }
    return TRUE;
}

/* ---- all-domain statistics (virsh domstats) ---------------------------------------- */

/* A typed parameter list being built: count + encoded remote_typed_param items. */
typedef struct {
    guint n;
    GByteArray *buf;
} remoteParams;

static void
remoteParamHeader(remoteParams *p, int type, const char *fmt, va_list ap)
{
    g_autofree char *field = g_strdup_vprintf(fmt, ap);

    qvirXdrWriteString(p->buf, field);
    qvirXdrWriteInt(p->buf, type);
    p->n++;
}

G_GNUC_PRINTF(3, 4) static void remoteParamInt(remoteParams *p, int value, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    remoteParamHeader(p, REMOTE_TYPED_PARAM_INT, fmt, ap);
    va_end(ap);
    qvirXdrWriteInt(p->buf, value);
}

G_GNUC_PRINTF(3, 4) static void remoteParamUInt(remoteParams *p, guint value, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    remoteParamHeader(p, REMOTE_TYPED_PARAM_UINT, fmt, ap);
    va_end(ap);
    qvirXdrWriteU32(p->buf, value);
}

G_GNUC_PRINTF(3, 4)
static void
remoteParamULLong(remoteParams *p, guint64 value, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    remoteParamHeader(p, REMOTE_TYPED_PARAM_ULLONG, fmt, ap);
    va_end(ap);
    qvirXdrWriteU64(p->buf, value);
}

G_GNUC_PRINTF(3, 4)
static void
remoteParamString(remoteParams *p, const char *value, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    remoteParamHeader(p, REMOTE_TYPED_PARAM_STRING, fmt, ap);
    va_end(ap);
    qvirXdrWriteString(p->buf, value);
}

static void
remoteStatsBlock(qvirRemoteCtx *ctx, const qvirDomainRef *ref, remoteParams *p)
{
    g_autoptr(GPtrArray) recs = qvirDriverDomainGetBlockRecords(ctx->drv, ref->uuid, NULL);

    if (!recs)
        return;
    remoteParamUInt(p, recs->len, "block.count");
    for (guint i = 0; i < recs->len; i++) {
        const qvirDomainBlockRecord *r = g_ptr_array_index(recs, i);
        const qvirDomainBlockStats *st = &r->stats;

        remoteParamString(p, r->name, "block.%u.name", i);
        if (r->path)
            remoteParamString(p, r->path, "block.%u.path", i);
        if (!r->haveStats)
            continue;
#define REMOTE_BLOCK_STAT(val, key)                                                                \
    do {                                                                                           \
        if ((val) >= 0)                                                                            \
            remoteParamULLong(p, (val), "block.%u." key, i);                                       \
    } while (0)
        REMOTE_BLOCK_STAT(st->rdReq, "rd.reqs");
        REMOTE_BLOCK_STAT(st->rdBytes, "rd.bytes");
        REMOTE_BLOCK_STAT(st->rdTotalTimes, "rd.times");
        REMOTE_BLOCK_STAT(st->wrReq, "wr.reqs");
        REMOTE_BLOCK_STAT(st->wrBytes, "wr.bytes");
        REMOTE_BLOCK_STAT(st->wrTotalTimes, "wr.times");
        REMOTE_BLOCK_STAT(st->flushReq, "fl.reqs");
        REMOTE_BLOCK_STAT(st->flushTotalTimes, "fl.times");
        REMOTE_BLOCK_STAT(r->wrHighestOffset, "allocation");
#undef REMOTE_BLOCK_STAT
        if (r->capacity)
            remoteParamULLong(p, r->capacity, "block.%u.capacity", i);
        if (r->physical)
            remoteParamULLong(p, r->physical, "block.%u.physical", i);
    }
}

/* One remote_domain_stats_record for REF into RET; FALSE when the domain went away. */
static gboolean
remoteStatsRecord(qvirRemoteCtx *ctx, const qvirDomainRef *ref, guint32 stats, GByteArray *ret)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    remoteParams p = {.n = 0, .buf = buf};
    qvirDomainInfo info;
    int state, reason;

    if (!qvirDriverDomainGetState(ctx->drv, ref->uuid, &state, &reason, NULL) ||
        !qvirDriverDomainGetInfo(ctx->drv, ref->uuid, &info, NULL))
        return FALSE;
    if (stats & REMOTE_STATS_STATE) {
        remoteParamInt(&p, state, "state.state");
        remoteParamInt(&p, reason, "state.reason");
    }
    if ((stats & REMOTE_STATS_CPU_TOTAL) && ref->id > 0)
        remoteParamULLong(&p, info.cpuTimeNs, "cpu.time");
    if (stats & REMOTE_STATS_BALLOON) {
        remoteParamULLong(&p, info.memoryKiB, "balloon.current");
        remoteParamULLong(&p, info.maxMemKiB, "balloon.maximum");
    }
    if (stats & REMOTE_STATS_VCPU) {
        remoteParamUInt(&p, info.nrVirtCpu, "vcpu.current");
        remoteParamUInt(&p, info.nrVirtCpu, "vcpu.maximum");
    }
    if (stats & REMOTE_STATS_BLOCK)
        remoteStatsBlock(ctx, ref, &p);

    qvirRemoteWriteDomain(ret, ref);
    qvirXdrWriteU32(ret, p.n);
    g_byte_array_append(ret, buf->data, buf->len);
    return TRUE;
}

/* args { remote_nonnull_domain doms<16384>; unsigned int stats; unsigned int flags; }
 * ret { remote_domain_stats_record retStats<16384>; } with
 *     { remote_nonnull_domain dom; remote_typed_param params<262144>; }
 * Groups: state, cpu-total, balloon, vcpu (counts) and block (QEMU's counters and sizes). */
static gboolean
remoteConnectGetAllDomainStats(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret,
                               GError **error)
{
    g_autoptr(GPtrArray) refs = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainRefFree);
    g_autoptr(GByteArray) records = g_byte_array_new();
    guint32 ndoms, stats, flags;
    guint nrecords = 0;

    if (!qvirXdrReadU32(args, &ndoms, error))
        return FALSE;
    if (ndoms > REMOTE_DOMAIN_LIST_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "Too many domains '%u' for limit '%d'", ndoms,
                    REMOTE_DOMAIN_LIST_MAX);
        return FALSE;
    }
    for (guint32 i = 0; i < ndoms; i++) {
        g_auto(qvirRemoteDomainArg) dom = {0};
        qvirDomainRef *ref;

        if (!qvirRemoteReadDomain(args, &dom, error))
            return FALSE;
        if (!(ref = qvirDriverDomainLookupByUUID(ctx->drv, dom.uuid, error)))
            return FALSE;
        g_ptr_array_add(refs, ref);
    }
    if (!qvirXdrReadU32(args, &stats, error) || !qvirXdrReadU32(args, &flags, error) ||
        !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if ((flags & REMOTE_STATS_ENFORCE) && (stats & ~REMOTE_STATS_SUPPORTED)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "Operation not supported: Stats types bits 0x%x are not supported by this "
                    "daemon",
                    stats & ~REMOTE_STATS_SUPPORTED);
        return FALSE;
    }
    stats = stats ? stats & REMOTE_STATS_SUPPORTED : REMOTE_STATS_SUPPORTED;
    if (ndoms == 0) {
        g_autoptr(GPtrArray) all = qvirDriverListAllDomains(ctx->drv, flags & 0xffu);

        for (guint i = 0; i < all->len; i++)
            g_ptr_array_add(refs, g_steal_pointer(&all->pdata[i]));
    }
    for (guint i = 0; i < refs->len; i++) {
        if (remoteStatsRecord(ctx, g_ptr_array_index(refs, i), stats, records))
            nrecords++;
    }
    qvirXdrWriteU32(ret, nrecords);
    g_byte_array_append(ret, records->data, records->len);
    return TRUE;
}

/* ---- host limits ------------------------------------------------------------------ */

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

/* args { remote_string type; } ret { int max_vcpus; } : libvirt's answers, 16 for TCG. */
static gboolean
remoteConnectGetMaxVcpus(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_autofree char *type = NULL;
    int n;

    if (!qvirXdrReadOptString(args, QVIR_XDR_STRING_MAX, &type, error) ||
        !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (!type || g_ascii_strcasecmp(type, "qemu") == 0) {
        n = 16;
    } else if (g_ascii_strcasecmp(type, "kvm") == 0) {
        if ((n = remoteKVMMaxVcpus(error)) < 0)
            return FALSE;
    } else {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "invalid argument: unknown type '%s'",
                    type);
        return FALSE;
    }
    qvirXdrWriteInt(ret, n);
    return TRUE;
}

/* ret { unsigned hyper freeMem; } : bytes, from MemFree. */
static gboolean
remoteNodeGetFreeMemory(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    if (!qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    qvirXdrWriteU64(ret, remoteProcNumber("/proc/meminfo", "MemFree") * 1024);
    return TRUE;
}

/* args { dom; int type; remote_string uri; unsigned int flags; }
 * ret { remote_nonnull_string metadata; } : <description> and <title>. */
static gboolean
remoteDomainGetMetadata(qvirRemoteCtx *ctx, qvirXdrReader *args, GByteArray *ret, GError **error)
{
    g_auto(qvirRemoteDomainArg) dom = {0};
    g_autofree char *uri = NULL;
    g_autofree char *value = NULL;
    gint32 type;
    guint32 flags;

    if (!qvirRemoteReadDomain(args, &dom, error) || !qvirXdrReadInt(args, &type, error) ||
        !qvirXdrReadOptString(args, QVIR_XDR_STRING_MAX, &uri, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error) ||
        !(value = qvirDriverDomainGetMetadata(ctx->drv, dom.uuid, type, flags, error)))
        return FALSE;
    qvirXdrWriteString(ret, value);
    return TRUE;
}

/* ---- the table ---------------------------------------------------------------- */

#define CONN (REMOTE_INLINE)
#define DRV (REMOTE_DRIVER)
#define DRVW (REMOTE_DRIVER | REMOTE_WRITE)

static const qvirRemoteProc qvirRemoteProcs[REMOTE_PROC_LAST] = {
    [REMOTE_PROC_CONNECT_OPEN] = {remoteConnectOpen, CONN | REMOTE_PREOPEN},
    [REMOTE_PROC_CONNECT_CLOSE] = {remoteConnectClose, CONN | REMOTE_PREOPEN},
    [REMOTE_PROC_AUTH_LIST] = {remoteAuthList, CONN | REMOTE_PREOPEN},
    [REMOTE_PROC_CONNECT_SUPPORTS_FEATURE] = {remoteConnectSupportsFeature, CONN | REMOTE_PREOPEN},
    [REMOTE_PROC_CONNECT_GET_TYPE] = {remoteConnectGetType, CONN},
    [REMOTE_PROC_CONNECT_GET_HOSTNAME] = {remoteConnectGetHostname, CONN},
    [REMOTE_PROC_CONNECT_GET_URI] = {remoteConnectGetURI, CONN},
    [REMOTE_PROC_CONNECT_IS_SECURE] = {remoteConnectIsSecure, CONN},
    [REMOTE_PROC_CONNECT_GET_LIB_VERSION] = {remoteConnectGetLibVersion, CONN},
    [REMOTE_PROC_CONNECT_REGISTER_CLOSE_CALLBACK] = {remoteConnectCloseCallback, CONN},
    [REMOTE_PROC_CONNECT_UNREGISTER_CLOSE_CALLBACK] = {remoteConnectCloseCallback, CONN},
    [REMOTE_PROC_NODE_GET_SECURITY_MODEL] = {remoteNodeGetSecurityModel, CONN},
    [REMOTE_PROC_NODE_GET_INFO] = {remoteNodeGetInfo, DRV},
    [REMOTE_PROC_CONNECT_GET_VERSION] = {remoteConnectGetVersion, DRV},
    [REMOTE_PROC_CONNECT_GET_CAPABILITIES] = {remoteConnectGetCapabilities, DRV},
    [REMOTE_PROC_CONNECT_DOMAIN_XML_TO_NATIVE] = {remoteConnectDomainXMLToNative, DRV},
    [REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS] = {remoteConnectListAllDomains, DRV},
    [REMOTE_PROC_CONNECT_LIST_DOMAINS] = {remoteConnectListDomains, DRV},
    [REMOTE_PROC_CONNECT_LIST_DEFINED_DOMAINS] = {remoteConnectListDefinedDomains, DRV},
    [REMOTE_PROC_CONNECT_NUM_OF_DOMAINS] = {remoteConnectNumOfDomains, DRV},
    [REMOTE_PROC_CONNECT_NUM_OF_DEFINED_DOMAINS] = {remoteConnectNumOfDefinedDomains, DRV},
    [REMOTE_PROC_DOMAIN_LOOKUP_BY_ID] = {remoteDomainLookupByID, DRV},
    [REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME] = {remoteDomainLookupByName, DRV},
    [REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID] = {remoteDomainLookupByUUID, DRV},
    [REMOTE_PROC_DOMAIN_DEFINE_XML] = {remoteDomainDefineXML, DRVW},
    [REMOTE_PROC_DOMAIN_DEFINE_XML_FLAGS] = {remoteDomainDefineXMLFlags, DRVW},
    [REMOTE_PROC_DOMAIN_UNDEFINE] = {remoteDomainUndefine, DRVW},
    [REMOTE_PROC_DOMAIN_UNDEFINE_FLAGS] = {remoteDomainUndefineFlags, DRVW},
    [REMOTE_PROC_DOMAIN_CREATE] = {remoteDomainCreate, DRVW},
    [REMOTE_PROC_DOMAIN_CREATE_WITH_FLAGS] = {remoteDomainCreateWithFlags, DRVW},
    [REMOTE_PROC_DOMAIN_CREATE_XML] = {remoteDomainCreateXML, DRVW},
    [REMOTE_PROC_DOMAIN_DESTROY] = {remoteDomainDestroy, DRVW},
    [REMOTE_PROC_DOMAIN_DESTROY_FLAGS] = {remoteDomainDestroyFlags, DRVW},
    [REMOTE_PROC_DOMAIN_GET_XML_DESC] = {remoteDomainGetXMLDesc, DRV},
    [REMOTE_PROC_DOMAIN_GET_STATE] = {remoteDomainGetState, DRV},
    [REMOTE_PROC_DOMAIN_GET_INFO] = {remoteDomainGetInfo, DRV},
    [REMOTE_PROC_DOMAIN_GET_MAX_MEMORY] = {remoteDomainGetMaxMemory, DRV},
    [REMOTE_PROC_DOMAIN_GET_OS_TYPE] = {remoteDomainGetOSType, DRV},
    [REMOTE_PROC_DOMAIN_GET_VCPUS_FLAGS] = {remoteDomainGetVcpusFlags, DRV},
    [REMOTE_PROC_DOMAIN_IS_ACTIVE] = {remoteDomainIsActive, DRV},
    [REMOTE_PROC_DOMAIN_IS_PERSISTENT] = {remoteDomainIsPersistent, DRV},
    [REMOTE_PROC_DOMAIN_GET_AUTOSTART] = {remoteDomainZeroInt, DRV},
    [REMOTE_PROC_DOMAIN_IS_UPDATED] = {remoteDomainZeroInt, DRV},
    [REMOTE_PROC_DOMAIN_HAS_MANAGED_SAVE_IMAGE] = {remoteDomainZeroIntFlags, DRV},
    [REMOTE_PROC_DOMAIN_SNAPSHOT_NUM] = {remoteDomainZeroIntFlags, DRV},
    [REMOTE_PROC_DOMAIN_LIST_ALL_SNAPSHOTS] = {remoteDomainListNone, DRV},
    [REMOTE_PROC_DOMAIN_LIST_ALL_CHECKPOINTS] = {remoteDomainListNone, DRV},
    [REMOTE_PROC_DOMAIN_GET_MESSAGES] = {remoteDomainGetMessages, DRV},
    [REMOTE_PROC_DOMAIN_SUSPEND] = {remoteDomainSuspend, DRVW},
    [REMOTE_PROC_DOMAIN_RESUME] = {remoteDomainResume, DRVW},
    [REMOTE_PROC_DOMAIN_SHUTDOWN] = {remoteDomainShutdown, DRVW},
    [REMOTE_PROC_DOMAIN_SHUTDOWN_FLAGS] = {remoteDomainShutdownFlags, DRVW},
    [REMOTE_PROC_DOMAIN_REBOOT] = {remoteDomainReboot, DRVW},
    [REMOTE_PROC_DOMAIN_RESET] = {remoteDomainReset, DRVW},
    [REMOTE_PROC_DOMAIN_GET_BLOCK_INFO] = {remoteDomainGetBlockInfo, DRV},
    [REMOTE_PROC_DOMAIN_BLOCK_STATS] = {remoteDomainBlockStats, DRV},
    [REMOTE_PROC_DOMAIN_BLOCK_STATS_FLAGS] = {remoteDomainBlockStatsFlags, DRV},
    [REMOTE_PROC_DOMAIN_GET_DISK_ERRORS] = {remoteDomainGetDiskErrors, DRV},
    [REMOTE_PROC_DOMAIN_BLOCK_RESIZE] = {remoteDomainBlockResize, DRVW},
    [REMOTE_PROC_DOMAIN_GET_CONTROL_INFO] = {remoteDomainGetControlInfo, DRV},
    [REMOTE_PROC_DOMAIN_GET_JOB_STATS] = {remoteDomainGetJobStats, DRV},
    [REMOTE_PROC_DOMAIN_MEMORY_STATS] = {remoteDomainMemoryStats, DRV},
    [REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS] = {remoteConnectGetAllDomainStats, DRV},
    [REMOTE_PROC_CONNECT_GET_MAX_VCPUS] = {remoteConnectGetMaxVcpus, CONN},
    [REMOTE_PROC_NODE_GET_FREE_MEMORY] = {remoteNodeGetFreeMemory, CONN},
    [REMOTE_PROC_DOMAIN_GET_METADATA] = {remoteDomainGetMetadata, DRV},
};

static const qvirRemoteProc *
qvirRemoteProcLookup(gint32 proc)
{
    if (proc <= 0 || proc >= REMOTE_PROC_LAST || !qvirRemoteProcs[proc].fn)
        return NULL;
    return &qvirRemoteProcs[proc];
}

guint
qvirRemoteNumProcedures(void)
{
    guint i, n = 0;

    for (i = 0; i < G_N_ELEMENTS(qvirRemoteProcs); i++)
        n += qvirRemoteProcs[i].fn != NULL;
    return n;
}

/* Live disk operations, snapshots and event callbacks (remote_dispatch_disk.c) come
 * first: where both have a procedure (snapshot counts), theirs is the real one. */
static gboolean
qvirRemoteDiskProc(gint32 proc, qvirRemoteDiskHandler *fn, gboolean *write)
{
#ifdef QVIR_HAVE_REMOTE_DISK
    *write = FALSE;
    *fn = qvirRemoteDiskLookup(proc, write);
    return *fn != NULL;
#else
    return FALSE;
#endif
}

static gboolean
qvirRemoteRunInline(gint32 proc)
{
    const qvirRemoteProc *p = qvirRemoteProcLookup(proc);
    qvirRemoteDiskHandler disk;
    gboolean write;

    /* They talk to QEMU or the disks: always a worker. */
    if (qvirRemoteDiskProc(proc, &disk, &write))
        return FALSE;

    /* Unknown procedures are answered on the spot too: no driver involved. */
    return !p || (p->flags & REMOTE_INLINE);
}

/* The checks every procedure passes before its handler: an open connection, a
 * driver when it needs one, and write access when it changes something. */
static gboolean
qvirRemoteCheckAccess(const qvirRemoteCtx *ctx, unsigned int flags, const char *api, GError **error)
{
    if (!(flags & REMOTE_PREOPEN) && !g_atomic_int_get(&ctx->client->opened)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: connection not open");
        return FALSE;
    }
    /* Before the driver check, as libvirt's API entry points do. A client of the
     * read-only socket is read-only whatever flags its CONNECT_OPEN carried. */
    if ((flags & REMOTE_WRITE) &&
        (g_atomic_int_get(&ctx->client->readonly) || qvirRpcClientIsReadOnly(ctx->rpcClient))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_DENIED,
                    "operation forbidden: read only access prevents %s", api);
        return FALSE;
    }
    if ((flags & REMOTE_DRIVER) && !ctx->drv) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_CONNECT, "no connection driver available for %s",
                    api);
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirRemoteDispatch(gpointer opaque, qvirRpcClient *rpcClient, const qvirRpcHeader *hdr,
                   qvirXdrReader *args, GByteArray *reply, GError **error)
{
    const qvirRemoteProc *p = qvirRemoteProcLookup(hdr->procedure);
    const char *api = qvirRemoteProcName(hdr->procedure);
    qvirRemoteCtx ctx = {
        .drv = opaque,
        .client = qvirRpcClientGetPrivate(rpcClient),
        .rpcClient = rpcClient,
    };
    qvirRemoteDiskHandler disk;
    gboolean write;

    if (qvirRemoteDiskProc(hdr->procedure, &disk, &write)) {
        if (!qvirRemoteCheckAccess(&ctx, REMOTE_DRIVER | (write ? REMOTE_WRITE : 0), api, error))
            return FALSE;
        return disk(ctx.drv, rpcClient, args, reply, error);
    }
    if (!p) {
        g_info("unsupported procedure %d (%s)", hdr->procedure, api ? api : "unknown");
        if (api)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SUPPORT,
                        "this function is not supported by the connection driver: %s", api);
        else
            g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SUPPORT,
                        "this function is not supported by the connection driver: "
                        "procedure %d",
                        hdr->procedure);
        return FALSE;
    }
    if (!qvirRemoteCheckAccess(&ctx, p->flags, api, error))
        return FALSE;
    return p->fn(&ctx, args, reply, error);
}

#ifdef QVIR_HAVE_REMOTE_DISK
/* The driver's lifecycle event as libvirt's 318
 * { int callbackID; { remote_nonnull_domain dom; int event; int detail; } } to every
 * client registered for VIR_DOMAIN_EVENT_ID_LIFECYCLE (registrations: remote_dispatch_disk.c). */
static void
qvirRemoteLifecycleEvent(qvirDriver *drv, const qvirDomainRef *dom, int event, int detail,
                         gpointer opaque)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();

    qvirRemoteWriteDomain(payload, dom);
    qvirXdrWriteInt(payload, event);
    qvirXdrWriteInt(payload, detail);
    qvirRemoteEventBroadcast(dom, REMOTE_EVENT_ID_LIFECYCLE,
                             REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, payload);
}
#endif

static gpointer
qvirRemoteClientNew(gpointer opaque)
{
    return g_new0(qvirRemoteClient, 1);
}

void
qvirRemoteProgramInit(qvirRpcProgram *prog, qvirDriver *drv)
{
#ifdef QVIR_HAVE_REMOTE_DISK
    qvirRemoteDiskInit(drv);
    if (drv)
        qvirDriverSetLifecycleEventCallback(drv, qvirRemoteLifecycleEvent, NULL);
#endif
    *prog = (qvirRpcProgram){
        .program = QVIR_RPC_REMOTE_PROGRAM,
        .version = QVIR_RPC_REMOTE_VERSION,
        .errDomain = QVIR_FROM_QEMU,
        .runInline = qvirRemoteRunInline,
        .dispatch = qvirRemoteDispatch,
        .opaque = drv,
        .clientNew = qvirRemoteClientNew,
        .clientFree = g_free,
    };
}
