/*
 * remote_dispatch_migrate.c: the REMOTE procedures of live migration (libvirt's v3 with
 * typed parameters: 302, 303, 305, 306, 307) and of the domain's job (job info and
 * statistics, abort, migration speed). The driver side: src/qemu/qemu_migration.c.
 */
#include <string.h>

#include "qemu/qemu_migration.h"
#include "rpc/remote_dispatch_priv.h"
#include "util/virerror.h"

/* ---- typed parameters ----------------------------------------------------------------- */

typedef enum {
    REMOTE_MIGRATE_PARAM_URI,
    REMOTE_MIGRATE_PARAM_DEST_NAME,
    REMOTE_MIGRATE_PARAM_DEST_XML,
    REMOTE_MIGRATE_PARAM_PERSIST_XML,
    REMOTE_MIGRATE_PARAM_BANDWIDTH,
    REMOTE_MIGRATE_PARAM_LISTEN_ADDRESS,
    REMOTE_MIGRATE_PARAM_MIGRATE_DISKS,
    REMOTE_MIGRATE_PARAM_DISKS_PORT,
} remoteMigrateParam;

/* libvirt's VIR_MIGRATE_PARAM_* names qvirtd takes, with their types. MIGRATE_DISKS may
 * repeat (one disk each); the others come at most once. */
static const struct {
    const char *name;
    int type;
} remoteMigrateParams[] = {
    [REMOTE_MIGRATE_PARAM_URI] = {"migrate_uri", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_DEST_NAME] = {"destination_name", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_DEST_XML] = {"destination_xml", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_PERSIST_XML] = {"persistent_xml", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_BANDWIDTH] = {"bandwidth", VIR_TYPED_PARAM_ULLONG},
    [REMOTE_MIGRATE_PARAM_LISTEN_ADDRESS] = {"listen_address", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_MIGRATE_DISKS] = {"migrate_disks", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_DISKS_PORT] = {"disks_port", VIR_TYPED_PARAM_INT},
};

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

static gboolean
remoteMigrateParamsParse(const remote_typed_param *val, guint32 len, qvirMigrateParams *out,
                         GError **error)
{
    gboolean seen[G_N_ELEMENTS(remoteMigrateParams)] = {FALSE};

    for (guint32 i = 0; i < len; i++) {
        const remote_typed_param *p = &val[i];
        char **str = NULL;
        guint k;

        for (k = 0; k < G_N_ELEMENTS(remoteMigrateParams); k++) {
            if (g_strcmp0(p->field, remoteMigrateParams[k].name) == 0)
                break;
        }
        if (k == G_N_ELEMENTS(remoteMigrateParams)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "invalid argument: parameter '%s' not supported", p->field);
            return FALSE;
        }
        if (p->value.type != remoteMigrateParams[k].type) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "invalid argument: invalid type '%s' for parameter '%s', expected '%s'",
                        remoteTypedParamTypeName(p->value.type), p->field,
                        remoteTypedParamTypeName(remoteMigrateParams[k].type));
            return FALSE;
        }
        if (seen[k] && k != REMOTE_MIGRATE_PARAM_MIGRATE_DISKS) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "invalid argument: parameter '%s' occurs multiple times", p->field);
            return FALSE;
        }
        seen[k] = TRUE;
        switch ((remoteMigrateParam)k) {
        case REMOTE_MIGRATE_PARAM_URI:
            str = &out->uri;
            break;
        case REMOTE_MIGRATE_PARAM_DEST_NAME:
            str = &out->destName;
            break;
        case REMOTE_MIGRATE_PARAM_DEST_XML:
            str = &out->destXML;
            break;
        case REMOTE_MIGRATE_PARAM_PERSIST_XML:
            str = &out->persistXML;
            break;
        case REMOTE_MIGRATE_PARAM_LISTEN_ADDRESS:
            str = &out->listenAddress;
            break;
        case REMOTE_MIGRATE_PARAM_BANDWIDTH:
            out->haveBandwidth = TRUE;
            out->bandwidth = p->value.u.ul;
            break;
        case REMOTE_MIGRATE_PARAM_MIGRATE_DISKS:
            if (!out->migrateDisks)
                out->migrateDisks = g_ptr_array_new_with_free_func(g_free);
            g_ptr_array_add(out->migrateDisks, g_strdup(p->value.u.s));
            break;
        case REMOTE_MIGRATE_PARAM_DISKS_PORT:
            out->disksPort = p->value.u.i;
            break;
        }
        if (str)
            *str = g_strdup(p->value.u.s);
    }
    return TRUE;
}

/* ---- cookies ---------------------------------------------------------------------------- */

static GBytes *
remoteCookieIn(guint32 len, const guint8 *val)
{
    return g_bytes_new(val, len);
}

static void
remoteCookieOut(GBytes *cookie, guint32 *len, guint8 **val)
{
    gsize size = 0;

    if (!cookie)
        return;
    *val = g_bytes_unref_to_data(cookie, &size);
    *len = (guint32)size;
}

/* ---- the phases ------------------------------------------------------------------------ */

gboolean
remoteDispatchDomainMigrateBegin3Params(qvirRemoteCtx *ctx,
                                        remote_domain_migrate_begin3_params_args *args,
                                        remote_domain_migrate_begin3_params_ret *ret,
                                        GError **error)
{
    g_auto(qvirMigrateParams) params = {0};
    GBytes *cookie = NULL;

    if (!remoteMigrateParamsParse(args->params.val, args->params.len, &params, error))
        return FALSE;
    ret->xml = qvirDriverDomainMigrateBegin(ctx->drv, args->dom.uuid, &params, args->flags, &cookie,
                                            error);
    if (!ret->xml)
        return FALSE;
    remoteCookieOut(cookie, &ret->cookie_out.len, &ret->cookie_out.val);
    return TRUE;
}

gboolean
remoteDispatchDomainMigratePrepare3Params(qvirRemoteCtx *ctx,
                                          remote_domain_migrate_prepare3_params_args *args,
                                          remote_domain_migrate_prepare3_params_ret *ret,
                                          GError **error)
{
    g_auto(qvirMigrateParams) params = {0};
    g_autoptr(GBytes) in = remoteCookieIn(args->cookie_in.len, args->cookie_in.val);
    g_autoptr(qvirDomainRef) dom = NULL;
    GBytes *cookie = NULL;

    if (!remoteMigrateParamsParse(args->params.val, args->params.len, &params, error) ||
        !qvirDriverDomainMigratePrepare(ctx->drv, &params, in, args->flags, &cookie, &ret->uri_out,
                                        &dom, error))
        return FALSE;
    /* A client that goes before Finish takes the incoming domain with it, as libvirt's
     * close callback does. */
    qvirRemoteClientAddAutoDestroy(ctx->client, dom);
    remoteCookieOut(cookie, &ret->cookie_out.len, &ret->cookie_out.val);
    return TRUE;
}

gboolean
remoteDispatchDomainMigratePerform3Params(qvirRemoteCtx *ctx,
                                          remote_domain_migrate_perform3_params_args *args,
                                          remote_domain_migrate_perform3_params_ret *ret,
                                          GError **error)
{
    g_auto(qvirMigrateParams) params = {0};
    g_autoptr(GBytes) in = remoteCookieIn(args->cookie_in.len, args->cookie_in.val);
    GBytes *cookie = NULL;

    if (!remoteMigrateParamsParse(args->params.val, args->params.len, &params, error) ||
        !qvirDriverDomainMigratePerform(ctx->drv, args->dom.uuid, args->dconnuri, &params, in,
                                        args->flags, &cookie, error))
        return FALSE;
    remoteCookieOut(cookie, &ret->cookie_out.len, &ret->cookie_out.val);
    return TRUE;
}

gboolean
remoteDispatchDomainMigrateFinish3Params(qvirRemoteCtx *ctx,
                                         remote_domain_migrate_finish3_params_args *args,
                                         remote_domain_migrate_finish3_params_ret *ret,
                                         GError **error)
{
    g_auto(qvirMigrateParams) params = {0};
    g_autoptr(GBytes) in = remoteCookieIn(args->cookie_in.len, args->cookie_in.val);
    GBytes *cookie = NULL;
    qvirDomainRef *dom;

    if (!remoteMigrateParamsParse(args->params.val, args->params.len, &params, error))
        return FALSE;
    dom = qvirDriverDomainMigrateFinish(ctx->drv, &params, in, args->flags, args->cancelled != 0,
                                        &cookie, error);
    if (!dom)
        return FALSE;
    /* The domain is this host's now: it outlives the client's connection. */
    qvirRemoteClientRemoveAutoDestroy(ctx->client, dom->uuid);
    remoteCookieOut(cookie, &ret->cookie_out.len, &ret->cookie_out.val);
    return qvirRemoteDomainReturn(&ret->dom, dom);
}

gboolean
remoteDispatchDomainMigrateConfirm3Params(qvirRemoteCtx *ctx,
                                          remote_domain_migrate_confirm3_params_args *args,
                                          GError **error)
{
    g_auto(qvirMigrateParams) params = {0};
    g_autoptr(GBytes) in = remoteCookieIn(args->cookie_in.len, args->cookie_in.val);

    return remoteMigrateParamsParse(args->params.val, args->params.len, &params, error) &&
           qvirDriverDomainMigrateConfirm(ctx->drv, args->dom.uuid, &params, in, args->flags,
                                          args->cancelled != 0, error);
}

/* ---- the job ----------------------------------------------------------------------------- */

gboolean
remoteDispatchDomainGetJobInfo(qvirRemoteCtx *ctx, remote_domain_get_job_info_args *args,
                               remote_domain_get_job_info_ret *ret, GError **error)
{
    qvirDomainJobInfo info;

    if (!qvirDriverDomainGetJobInfo(ctx->drv, args->dom.uuid, FALSE, &info, error))
        return FALSE;
    ret->type = info.type;
    ret->timeElapsed = info.elapsed;
    ret->memProcessed = info.memProcessed;
    ret->memRemaining = info.memRemaining;
    ret->dataTotal = info.memTotal + info.diskTotal;
    ret->dataProcessed = info.memProcessed + info.diskProcessed;
    ret->dataRemaining = info.memRemaining + info.diskRemaining;
    ret->memTotal = info.memTotal;
    ret->fileTotal = info.diskTotal;
    ret->fileProcessed = info.diskProcessed;
    ret->fileRemaining = info.diskRemaining;
    return TRUE;
}

static void
remoteJobParamAdd(GArray *params, const char *field, int type, guint64 val)
{
    remote_typed_param p = {0};

    p.field = g_strdup(field);
    p.value.type = type;
    if (type == VIR_TYPED_PARAM_INT)
        p.value.u.i = (gint32)val;
    else
        p.value.u.ul = val;
    g_array_append_val(params, p);
}

/* The fields virsh domjobinfo prints, in libvirt's order; type NONE has none. */
gboolean
remoteDispatchDomainGetJobStats(qvirRemoteCtx *ctx, remote_domain_get_job_stats_args *args,
                                remote_domain_get_job_stats_ret *ret, GError **error)
{
    /* VIR_DOMAIN_JOB_STATS_COMPLETED 1, KEEP_COMPLETED 2 */
    gboolean completed = (args->flags & 1) != 0;
    qvirDomainJobInfo info;
    GArray *p;

    if (args->flags & ~3u) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported flags (0x%x) in function "
                    "qemuDomainGetJobStats",
                    args->flags & ~3u);
        return FALSE;
    }
    if (!completed) {
        int active = qvirDriverDomainIsActive(ctx->drv, args->dom.uuid, error);

        if (active < 0)
            return FALSE;
        if (!active) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                                "Requested operation is not valid: domain is not running");
            return FALSE;
        }
    }
    if (!qvirDriverDomainGetJobInfo(ctx->drv, args->dom.uuid, completed, &info, error))
        return FALSE;
    ret->type = info.type;
    if (info.type == QVIR_DOMAIN_JOB_NONE)
        return TRUE;

    p = g_array_new(FALSE, TRUE, sizeof(remote_typed_param));
    remoteJobParamAdd(p, "operation", VIR_TYPED_PARAM_INT, info.operation);
    remoteJobParamAdd(p, "time_elapsed", VIR_TYPED_PARAM_ULLONG, info.elapsed);
    if (info.haveDowntime && info.type == QVIR_DOMAIN_JOB_COMPLETED)
        remoteJobParamAdd(p, "downtime", VIR_TYPED_PARAM_ULLONG, info.downtime);
    if (info.setupTime)
        remoteJobParamAdd(p, "setup_time", VIR_TYPED_PARAM_ULLONG, info.setupTime);
    remoteJobParamAdd(p, "data_total", VIR_TYPED_PARAM_ULLONG, info.memTotal + info.diskTotal);
    remoteJobParamAdd(p, "data_processed", VIR_TYPED_PARAM_ULLONG,
                      info.memProcessed + info.diskProcessed);
    remoteJobParamAdd(p, "data_remaining", VIR_TYPED_PARAM_ULLONG,
                      info.memRemaining + info.diskRemaining);
    remoteJobParamAdd(p, "memory_total", VIR_TYPED_PARAM_ULLONG, info.memTotal);
    remoteJobParamAdd(p, "memory_processed", VIR_TYPED_PARAM_ULLONG, info.memProcessed);
    remoteJobParamAdd(p, "memory_remaining", VIR_TYPED_PARAM_ULLONG, info.memRemaining);
    remoteJobParamAdd(p, "memory_bps", VIR_TYPED_PARAM_ULLONG, info.memBps);
    remoteJobParamAdd(p, "memory_iteration", VIR_TYPED_PARAM_ULLONG, info.memIteration);
    if (info.diskTotal) {
        remoteJobParamAdd(p, "disk_total", VIR_TYPED_PARAM_ULLONG, info.diskTotal);
        remoteJobParamAdd(p, "disk_processed", VIR_TYPED_PARAM_ULLONG, info.diskProcessed);
        remoteJobParamAdd(p, "disk_remaining", VIR_TYPED_PARAM_ULLONG, info.diskRemaining);
    }
    ret->params.len = p->len;
    ret->params.val = (remote_typed_param *)(void *)g_array_free(p, FALSE);
    return TRUE;
}

gboolean
remoteDispatchDomainAbortJobFlags(qvirRemoteCtx *ctx, remote_domain_abort_job_flags_args *args,
                                  GError **error)
{
    return qvirDriverDomainAbortJob(ctx->drv, args->dom.uuid, args->flags, error);
}

gboolean
remoteDispatchDomainMigrateSetMaxSpeed(qvirRemoteCtx *ctx,
                                       remote_domain_migrate_set_max_speed_args *args,
                                       GError **error)
{
    return qvirDriverDomainMigrateSetMaxSpeed(ctx->drv, args->dom.uuid, args->bandwidth,
                                              args->flags, error);
}

gboolean
remoteDispatchDomainMigrateGetMaxSpeed(qvirRemoteCtx *ctx,
                                       remote_domain_migrate_get_max_speed_args *args,
                                       remote_domain_migrate_get_max_speed_ret *ret, GError **error)
{
    guint64 bw = 0;

    if (!qvirDriverDomainMigrateGetMaxSpeed(ctx->drv, args->dom.uuid, args->flags, &bw, error))
        return FALSE;
    ret->bandwidth = bw;
    return TRUE;
}
