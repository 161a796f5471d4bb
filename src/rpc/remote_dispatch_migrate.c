/*
 * remote_dispatch_migrate.c: the REMOTE procedures of live migration (libvirt's v3 with
 * typed parameters: 302, 303, 305, 306, 307; a peer-to-peer Perform: remote_migrate_p2p.c)
 * and of the domain's job (job info and statistics, abort, migration speed). The driver
 * side: src/qemu/qemu_migration.c.
 */
#include <string.h>

#include "qemu/qemu_migration.h"
#include "rpc/remote_dispatch_priv.h"
#include "rpc/remote_migrate_p2p.h"
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
static const qvirRemoteParamSpec remoteMigrateParams[] = {
    [REMOTE_MIGRATE_PARAM_URI] = {"migrate_uri", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_DEST_NAME] = {"destination_name", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_DEST_XML] = {"destination_xml", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_PERSIST_XML] = {"persistent_xml", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_BANDWIDTH] = {"bandwidth", VIR_TYPED_PARAM_ULLONG},
    [REMOTE_MIGRATE_PARAM_LISTEN_ADDRESS] = {"listen_address", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_MIGRATE_DISKS] = {"migrate_disks", VIR_TYPED_PARAM_STRING},
    [REMOTE_MIGRATE_PARAM_DISKS_PORT] = {"disks_port", VIR_TYPED_PARAM_INT},
};

/* Where each string parameter goes in qvirMigrateParams. */
static const goffset remoteMigrateParamStrings[] = {
    [REMOTE_MIGRATE_PARAM_URI] = G_STRUCT_OFFSET(qvirMigrateParams, uri),
    [REMOTE_MIGRATE_PARAM_DEST_NAME] = G_STRUCT_OFFSET(qvirMigrateParams, destName),
    [REMOTE_MIGRATE_PARAM_DEST_XML] = G_STRUCT_OFFSET(qvirMigrateParams, destXML),
    [REMOTE_MIGRATE_PARAM_PERSIST_XML] = G_STRUCT_OFFSET(qvirMigrateParams, persistXML),
    [REMOTE_MIGRATE_PARAM_LISTEN_ADDRESS] = G_STRUCT_OFFSET(qvirMigrateParams, listenAddress),
};

static gboolean
remoteMigrateParamsParse(const remote_typed_param *val, guint32 len, qvirMigrateParams *out,
                         GError **error)
{
    gboolean seen[G_N_ELEMENTS(remoteMigrateParams)] = {FALSE};

    for (guint32 i = 0; i < len; i++) {
        const remote_typed_param *p = &val[i];
        char **str = NULL;
        int k = qvirRemoteTypedParamCheck(p, remoteMigrateParams, G_N_ELEMENTS(remoteMigrateParams),
                                          seen, REMOTE_MIGRATE_PARAM_MIGRATE_DISKS, error);

        if (k < 0)
            return FALSE;
        switch ((remoteMigrateParam)k) {
        case REMOTE_MIGRATE_PARAM_URI:
        case REMOTE_MIGRATE_PARAM_DEST_NAME:
        case REMOTE_MIGRATE_PARAM_DEST_XML:
        case REMOTE_MIGRATE_PARAM_PERSIST_XML:
        case REMOTE_MIGRATE_PARAM_LISTEN_ADDRESS:
            str = G_STRUCT_MEMBER_P(out, remoteMigrateParamStrings[k]);
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

/* ---- what every phase has ------------------------------------------------------------- */

/* A phase's parameters, the cookie it got and the one it sends back. */
typedef struct {
    qvirMigrateParams params;
    GBytes *in;
    GBytes *out;
} remoteMigratePhase;

static void
remoteMigratePhaseClear(remoteMigratePhase *phase)
{
    qvirMigrateParamsClear(&phase->params);
    g_clear_pointer(&phase->in, g_bytes_unref);
    g_clear_pointer(&phase->out, g_bytes_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(remoteMigratePhase, remoteMigratePhaseClear);

/* PHASE (zero) from the call's LEN parameters VAL and its cookie (COOKIELEN bytes). */
static gboolean
remoteMigratePhaseStart(remoteMigratePhase *phase, const remote_typed_param *val, guint32 len,
                        const guint8 *cookie, guint32 cookieLen, GError **error)
{
    phase->in = g_bytes_new(cookie, cookieLen);
    return remoteMigrateParamsParse(val, len, &phase->params, error);
}

/* The phase's outcome, OK: when it succeeded, the cookie the driver made (none: an empty
 * one) moves into the reply's LEN/VAL. */
static gboolean
remoteMigratePhaseEnd(remoteMigratePhase *phase, gboolean ok, guint32 *len, guint8 **val)
{
    gsize size = 0;

    if (!ok || !phase->out)
        return ok;
    *val = g_bytes_unref_to_data(g_steal_pointer(&phase->out), &size);
    *len = (guint32)size;
    return TRUE;
}

/* A phase's call: its parameters and the cookie it got, for remoteMigratePhaseStart. */
#define REMOTE_MIGRATE_PHASE_IN(args)                                                              \
    (args)->params.val, (args)->params.len, (args)->cookie_in.val, (args)->cookie_in.len

/* ---- the phases ------------------------------------------------------------------------ */

gboolean
remoteDispatchDomainMigrateBegin3Params(qvirRemoteCtx *ctx,
                                        remote_domain_migrate_begin3_params_args *args,
                                        remote_domain_migrate_begin3_params_ret *ret,
                                        GError **error)
{
    g_auto(remoteMigratePhase) phase = {0};

    if (!remoteMigratePhaseStart(&phase, args->params.val, args->params.len, NULL, 0, error))
        return FALSE;
    phase.params.conn = ctx->client;
    ret->xml = qvirDriverDomainMigrateBegin(ctx->drv, args->dom.uuid, &phase.params, args->flags,
                                            &phase.out, error);
    /* the job outlives this call: it ends with Confirm, or when the client goes */
    if (ret->xml && (args->flags & QVIR_MIGRATE_CHANGE_PROTECTION))
        qvirRemoteClientAddMigration(ctx->client, args->dom.uuid);
    return remoteMigratePhaseEnd(&phase, ret->xml != NULL, &ret->cookie_out.len,
                                 &ret->cookie_out.val);
}

gboolean
remoteDispatchDomainMigratePrepare3Params(qvirRemoteCtx *ctx,
                                          remote_domain_migrate_prepare3_params_args *args,
                                          remote_domain_migrate_prepare3_params_ret *ret,
                                          GError **error)
{
    g_auto(remoteMigratePhase) phase = {0};
    g_autoptr(qvirDomainRef) dom = NULL;

    if (!remoteMigratePhaseStart(&phase, REMOTE_MIGRATE_PHASE_IN(args), error))
        return FALSE;
    phase.params.conn = ctx->client;
    if (!qvirDriverDomainMigratePrepare(ctx->drv, &phase.params, phase.in, args->flags, &phase.out,
                                        &ret->uri_out, &dom, error))
        return FALSE;
    /* A client that goes before Finish takes the incoming domain with it, as libvirt's
     * close callback does, and the migration's job and images. */
    qvirRemoteClientAddAutoDestroy(ctx->client, dom);
    qvirRemoteClientAddMigration(ctx->client, dom->uuid);
    return remoteMigratePhaseEnd(&phase, TRUE, &ret->cookie_out.len, &ret->cookie_out.val);
}

gboolean
remoteDispatchDomainMigratePerform3Params(qvirRemoteCtx *ctx,
                                          remote_domain_migrate_perform3_params_args *args,
                                          remote_domain_migrate_perform3_params_ret *ret,
                                          GError **error)
{
    g_auto(remoteMigratePhase) phase = {0};

    if (!remoteMigratePhaseStart(&phase, REMOTE_MIGRATE_PHASE_IN(args), error))
        return FALSE;
    /* peer-to-peer: this daemon runs every phase itself; the client gets no cookie */
    if (args->flags & QVIR_MIGRATE_PEER2PEER)
        return qvirRemoteMigratePeer2Peer(ctx->drv, args->dom.uuid, args->dconnuri, &phase.params,
                                          args->params.val, args->params.len, args->flags, error);
    return remoteMigratePhaseEnd(
        &phase,
        qvirDriverDomainMigratePerform(ctx->drv, args->dom.uuid, args->dconnuri, &phase.params,
                                       phase.in, args->flags, &phase.out, error),
        &ret->cookie_out.len, &ret->cookie_out.val);
}

gboolean
remoteDispatchDomainMigrateFinish3Params(qvirRemoteCtx *ctx,
                                         remote_domain_migrate_finish3_params_args *args,
                                         remote_domain_migrate_finish3_params_ret *ret,
                                         GError **error)
{
    g_auto(remoteMigratePhase) phase = {0};
    qvirDomainRef *dom;

    if (!remoteMigratePhaseStart(&phase, REMOTE_MIGRATE_PHASE_IN(args), error))
        return FALSE;
    dom = qvirDriverDomainMigrateFinish(ctx->drv, &phase.params, phase.in, args->flags,
                                        args->cancelled != 0, &phase.out, error);
    /* The domain is this host's now: it outlives the client's connection. */
    if (dom)
        qvirRemoteClientRemoveAutoDestroy(ctx->client, dom->uuid);
    return remoteMigratePhaseEnd(&phase, dom != NULL, &ret->cookie_out.len, &ret->cookie_out.val) &&
           qvirRemoteDomainReturn(&ret->dom, dom);
}

gboolean
remoteDispatchDomainMigrateConfirm3Params(qvirRemoteCtx *ctx,
                                          remote_domain_migrate_confirm3_params_args *args,
                                          GError **error)
{
    g_auto(remoteMigratePhase) phase = {0};

    return remoteMigratePhaseStart(&phase, REMOTE_MIGRATE_PHASE_IN(args), error) &&
           qvirDriverDomainMigrateConfirm(ctx->drv, args->dom.uuid, &phase.params, phase.in,
                                          args->flags, args->cancelled != 0, error);
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

/* The fields virsh domjobinfo prints, in libvirt's order; type NONE has none. */
gboolean
remoteDispatchDomainGetJobStats(qvirRemoteCtx *ctx, remote_domain_get_job_stats_args *args,
                                remote_domain_get_job_stats_ret *ret, GError **error)
{
    /* VIR_DOMAIN_JOB_STATS_COMPLETED 1, KEEP_COMPLETED 2 */
    gboolean completed = (args->flags & 1) != 0;
    qvirDomainJobInfo info;
    GArray *p;

    if (!qvirCheckFlags(args->flags, 3, "qemuDomainGetJobStats", error))
        return FALSE;
    if (!completed && !qvirRemoteCheckRunning(ctx, &args->dom, error))
        return FALSE;
    if (!qvirDriverDomainGetJobInfo(ctx->drv, args->dom.uuid, completed, &info, error))
        return FALSE;
    ret->type = info.type;
    if (info.type == QVIR_DOMAIN_JOB_NONE)
        return TRUE;

    p = g_array_new(FALSE, TRUE, sizeof(remote_typed_param));
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_INT, "operation")->u.i = info.operation;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "time_elapsed")->u.ul = info.elapsed;
    if (info.haveDowntime && info.type == QVIR_DOMAIN_JOB_COMPLETED)
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "downtime")->u.ul = info.downtime;
    if (info.setupTime)
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "setup_time")->u.ul = info.setupTime;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "data_total")->u.ul =
        info.memTotal + info.diskTotal;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "data_processed")->u.ul =
        info.memProcessed + info.diskProcessed;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "data_remaining")->u.ul =
        info.memRemaining + info.diskRemaining;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "memory_total")->u.ul = info.memTotal;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "memory_processed")->u.ul = info.memProcessed;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "memory_remaining")->u.ul = info.memRemaining;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "memory_bps")->u.ul = info.memBps;
    qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "memory_iteration")->u.ul = info.memIteration;
    if (info.diskTotal) {
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "disk_total")->u.ul = info.diskTotal;
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "disk_processed")->u.ul = info.diskProcessed;
        qvirRemoteParamAdd(p, VIR_TYPED_PARAM_ULLONG, "disk_remaining")->u.ul = info.diskRemaining;
    }
    qvirRemoteParamsSteal(p, &ret->params.len, &ret->params.val);
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
