/*
 * remote_dispatch_disk.c: the REMOTE procedures of live disk operations (hot-plug, media
 * change, block pull/rebase/commit, block job abort/info, block I/O throttling), of
 * snapshots, and of domain event callbacks with the events they deliver (318 from
 * remote_dispatch.c, 326, 339, 346, 385).
 * Dispatch, decoding and encoding: remote_dispatch.c and the generated table.
 */
#include <string.h>

#include "rpc/remote_dispatch_priv.h"
#include "util/virerror.h"

/* libvirt-domain.h: virDomainEventID */
#define REMOTE_EVENT_ID_BLOCK_JOB 8
#define REMOTE_EVENT_ID_BLOCK_JOB_2 16
#define REMOTE_EVENT_ID_TUNABLE 17
#define REMOTE_EVENT_ID_BLOCK_THRESHOLD 24
#define REMOTE_EVENT_ID_LAST 27

/* ---- block jobs ----------------------------------------------------------------- */

/* The block job procedures (generated from remote_protocol.x) hand the wire's unsigned
 * hyper bandwidth to the driver's unsigned long unchanged: that needs an LP64 host. */
G_STATIC_ASSERT(sizeof(unsigned long) == sizeof(guint64));

/* found 0 means the job is over (virsh --wait stops polling); the rest is then zero. */
gboolean
remoteDispatchDomainGetBlockJobInfo(qvirRemoteCtx *ctx, remote_domain_get_block_job_info_args *args,
                                    remote_domain_get_block_job_info_ret *ret, GError **error)
{
    qemuBlockJobInfo info = {0};
    int found = qvirDriverDomainGetBlockJobInfo(ctx->drv, args->dom.uuid, args->path, &info,
                                                args->flags, error);

    if (found <= 0) {
        ret->found = found;
        return found == 0;
    }
    *ret = (remote_domain_get_block_job_info_ret){.found = found,
                                                  .type = (gint32)info.type,
                                                  .bandwidth = info.bandwidth,
                                                  .cur = info.cur,
                                                  .end = info.end};
    return TRUE;
}

/*
 * virDomainBlockCopy's typed parameters, checked as libvirt does: only these three names,
 * each with its type, each at most once.
 */
gboolean
remoteDispatchDomainBlockCopy(qvirRemoteCtx *ctx, remote_domain_block_copy_args *args,
                              GError **error)
{
    static const qvirRemoteParamSpec known[] = {
        {"bandwidth", VIR_TYPED_PARAM_ULLONG},
        {"granularity", VIR_TYPED_PARAM_UINT},
        {"buf-size", VIR_TYPED_PARAM_ULLONG},
    };
    gboolean seen[G_N_ELEMENTS(known)] = {FALSE};
    unsigned long long bandwidth = 0;
    unsigned long long bufSize = 0;
    unsigned int granularity = 0;

    for (guint32 i = 0; i < args->params.len; i++) {
        const remote_typed_param *p = &args->params.val[i];
        int k = qvirRemoteTypedParamCheck(p, known, G_N_ELEMENTS(known), seen, -1, error);

        if (k < 0)
            return FALSE;
        if (k == 0)
            bandwidth = p->value.u.ul;
        else if (k == 1)
            granularity = p->value.u.ui;
        else
            bufSize = p->value.u.ul;
    }
    return qvirDriverDomainBlockCopy(ctx->drv, args->dom.uuid, args->path, args->destxml, bandwidth,
                                     granularity, bufSize, args->flags, error);
}

/* ---- block I/O throttling ------------------------------------------------------------ */

/* virTypedParameterFlags */
#define REMOTE_TYPED_PARAM_STRING_OKAY (1u << 2)

/* libvirt's VIR_DOMAIN_BLOCK_IOTUNE_* names are the <iotune> elements': the limits (ullong)
 * in qvirDomainIotuneField order, then group_name (string). */
#define REMOTE_IOTUNE_GROUP QVIR_DOMAIN_IOTUNE_LAST

static void
remoteIoTuneSpecs(qvirRemoteParamSpec *specs)
{
    for (int f = 0; f < QVIR_DOMAIN_IOTUNE_LAST; f++)
        specs[f] =
            (qvirRemoteParamSpec){qvirDomainIotuneFieldTypeToString(f), VIR_TYPED_PARAM_ULLONG};
    specs[REMOTE_IOTUNE_GROUP] = (qvirRemoteParamSpec){"group_name", VIR_TYPED_PARAM_STRING};
}

gboolean
remoteDispatchDomainSetBlockIoTune(qvirRemoteCtx *ctx, remote_domain_set_block_io_tune_args *args,
                                   GError **error)
{
    qvirRemoteParamSpec specs[REMOTE_IOTUNE_GROUP + 1];
    gboolean seen[REMOTE_IOTUNE_GROUP + 1] = {FALSE};
    qemuBlockIoTuneRequest req = {0};
    gboolean ok;

    /* virDomainSetBlockIoTune's own checks */
    if (args->params.len == 0) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: nparams in virDomainSetBlockIoTune must be greater "
                            "than zero");
        return FALSE;
    }
    remoteIoTuneSpecs(specs);
    for (guint32 i = 0; i < args->params.len; i++) {
        const remote_typed_param *p = &args->params.val[i];
        int k = qvirRemoteTypedParamCheck(p, specs, G_N_ELEMENTS(specs), seen, -1, error);

        if (k < 0) {
            qemuBlockIoTuneClear(&req.t);
            return FALSE;
        }
        /* each at most once (checked above): ORDER has room for all */
        req.set |= 1u << k;
        req.order[req.norder++] = (guint8)k;
        if (k == REMOTE_IOTUNE_GROUP)
            req.t.group = g_strdup(p->value.u.s);
        else
            req.t.v[k] = p->value.u.ul;
    }
    ok = qvirDriverDomainSetBlockIoTune(ctx->drv, args->dom.uuid, args->disk, &req, args->flags,
                                        error);
    qemuBlockIoTuneClear(&req.t);
    return ok;
}

/* NPARAMS 0 asks for the count (the disk may be NULL then); otherwise the first NPARAMS
 * in libvirt's order, the group only to a client that takes strings. */
gboolean
remoteDispatchDomainGetBlockIoTune(qvirRemoteCtx *ctx, remote_domain_get_block_io_tune_args *args,
                                   remote_domain_get_block_io_tune_ret *ret, GError **error)
{
    g_auto(qemuBlockIoTune) t = {0};
    GArray *params;
    guint n;

    if (args->nparams < 0) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: nparams must be non-negative");
        return FALSE;
    }
    if (args->nparams > REMOTE_DOMAIN_BLOCK_IO_TUNE_PARAMETERS_MAX) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: nparams too large");
        return FALSE;
    }
    if (args->nparams && !args->disk) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: disk in virDomainGetBlockIoTune must not be NULL");
        return FALSE;
    }
    if (!qvirDriverDomainGetBlockIoTune(ctx->drv, args->dom.uuid, args->nparams ? args->disk : NULL,
                                        args->flags, &t, error))
        return FALSE;
    if (args->nparams == 0) {
        ret->nparams = REMOTE_IOTUNE_GROUP + 1;
        return TRUE;
    }

    n = MIN((guint)args->nparams, REMOTE_IOTUNE_GROUP + 1);
    params = g_array_sized_new(FALSE, TRUE, sizeof(remote_typed_param), n);
    for (guint i = 0; i < n; i++) {
        /* group_name sits between size_iops_sec and the burst lengths */
        int f = i <= QVIR_DOMAIN_IOTUNE_SIZE_IOPS_SEC ? (int)i : (int)i - 1;

        if (i == QVIR_DOMAIN_IOTUNE_SIZE_IOPS_SEC + 1) {
            if (args->flags & REMOTE_TYPED_PARAM_STRING_OKAY)
                qvirRemoteParamAdd(params, VIR_TYPED_PARAM_STRING, "group_name")->u.s =
                    g_strdup(t.group ? t.group : "");
            continue;
        }
        qvirRemoteParamAdd(params, VIR_TYPED_PARAM_ULLONG, "%s",
                           qvirDomainIotuneFieldTypeToString(f))
            ->u.ul = t.v[f];
    }
    qvirRemoteParamsSteal(params, &ret->params.len, &ret->params.val);
    return TRUE;
}

/* ---- snapshots -------------------------------------------------------------------- */

/* OUT names the snapshot NAME (taken) of the domain UUID as it is now (its id may have
 * changed); FALSE when NAME is NULL (the driver's error). */
static gboolean
remoteSnapshotReturn(qvirRemoteCtx *ctx, const guint8 *uuid, char *name,
                     remote_nonnull_domain_snapshot *out, GError **error)
{
    g_autofree char *owned = name;

    if (!owned ||
        !qvirRemoteDomainReturn(&out->dom, qvirDriverDomainLookupByUUID(ctx->drv, uuid, error)))
        return FALSE;
    out->name = g_steal_pointer(&owned);
    return TRUE;
}

gboolean
remoteDispatchDomainSnapshotCreateXML(qvirRemoteCtx *ctx,
                                      remote_domain_snapshot_create_xml_args *args,
                                      remote_domain_snapshot_create_xml_ret *ret, GError **error)
{
    return remoteSnapshotReturn(ctx, args->dom.uuid,
                                qvirDriverDomainSnapshotCreateXML(
                                    ctx->drv, args->dom.uuid, args->xml_desc, args->flags, error),
                                &ret->snap, error);
}

gboolean
remoteDispatchDomainSnapshotLookupByName(qvirRemoteCtx *ctx,
                                         remote_domain_snapshot_lookup_by_name_args *args,
                                         remote_domain_snapshot_lookup_by_name_ret *ret,
                                         GError **error)
{
    if (!qvirDriverDomainSnapshotLookupByName(ctx->drv, args->dom.uuid, args->name, args->flags,
                                              error))
        return FALSE;
    return remoteSnapshotReturn(ctx, args->dom.uuid, g_steal_pointer(&args->name), &ret->snap,
                                error);
}

gboolean
remoteDispatchDomainSnapshotCurrent(qvirRemoteCtx *ctx, remote_domain_snapshot_current_args *args,
                                    remote_domain_snapshot_current_ret *ret, GError **error)
{
    return remoteSnapshotReturn(
        ctx, args->dom.uuid,
        qvirDriverDomainSnapshotCurrent(ctx->drv, args->dom.uuid, args->flags, error), &ret->snap,
        error);
}

gboolean
remoteDispatchDomainSnapshotGetParent(qvirRemoteCtx *ctx,
                                      remote_domain_snapshot_get_parent_args *args,
                                      remote_domain_snapshot_get_parent_ret *ret, GError **error)
{
    return remoteSnapshotReturn(ctx, args->snap.dom.uuid,
                                qvirDriverDomainSnapshotGetParent(ctx->drv, args->snap.dom.uuid,
                                                                  args->snap.name, args->flags,
                                                                  error),
                                &ret->snap, error);
}

gboolean
remoteDispatchDomainSnapshotNumChildren(qvirRemoteCtx *ctx,
                                        remote_domain_snapshot_num_children_args *args,
                                        remote_domain_snapshot_num_children_ret *ret,
                                        GError **error)
{
    g_autoptr(GPtrArray) children = qvirDriverDomainSnapshotListAllChildren(
        ctx->drv, args->snap.dom.uuid, args->snap.name, args->flags, error);

    if (!children)
        return FALSE;
    ret->num = (gint32)children->len;
    return TRUE;
}

/* LIST (names of snapshots of the domain UUID; taken) into the array LEN/VAL and COUNT;
 * with NEEDRESULTS 0 the count alone. FALSE when LIST is NULL (the driver's error). */
static gboolean
remoteSnapshotList(qvirRemoteCtx *ctx, const guint8 *uuid, GPtrArray *list, gint32 needResults,
                   guint32 *len, remote_nonnull_domain_snapshot **val, gint32 *count,
                   GError **error)
{
    g_autoptr(GPtrArray) names = list;
    g_autoptr(qvirDomainRef) ref = NULL;

    if (!names)
        return FALSE;
    *count = (gint32)names->len;
    if (!needResults)
        return TRUE;
    if (!(ref = qvirDriverDomainLookupByUUID(ctx->drv, uuid, error)))
        return FALSE;
    *val = g_new0(remote_nonnull_domain_snapshot, names->len + 1);
    *len = names->len;
    for (guint i = 0; i < names->len; i++) {
        (*val)[i].name = g_strdup(g_ptr_array_index(names, i));
        qvirRemoteDomainSet(&(*val)[i].dom, ref);
    }
    return TRUE;
}

gboolean
remoteDispatchDomainListAllSnapshots(qvirRemoteCtx *ctx,
                                     remote_domain_list_all_snapshots_args *args,
                                     remote_domain_list_all_snapshots_ret *ret, GError **error)
{
    return remoteSnapshotList(
        ctx, args->dom.uuid,
        qvirDriverDomainListAllSnapshots(ctx->drv, args->dom.uuid, args->flags, error),
        args->need_results, &ret->snapshots.len, &ret->snapshots.val, &ret->ret, error);
}

gboolean
remoteDispatchDomainSnapshotListAllChildren(qvirRemoteCtx *ctx,
                                            remote_domain_snapshot_list_all_children_args *args,
                                            remote_domain_snapshot_list_all_children_ret *ret,
                                            GError **error)
{
    const remote_nonnull_domain_snapshot *snap = &args->snapshot;

    return remoteSnapshotList(ctx, snap->dom.uuid,
                              qvirDriverDomainSnapshotListAllChildren(
                                  ctx->drv, snap->dom.uuid, snap->name, args->flags, error),
                              args->need_results, &ret->snapshots.len, &ret->snapshots.val,
                              &ret->ret, error);
}

/* ---- domain event callbacks ------------------------------------------------------------ */

/*
 * One registration of a client (CONNECT_*_EVENT_*REGISTER_ANY). It holds the client (not
 * its connection): registrations of a client that went away without deregistering are
 * dropped at the next event or registration.
 */
typedef struct {
    qvirRpcClient *client;
    gint32 callbackID;
    gint32 eventID;
    gboolean anyObject;
    guint8 uuid[VIR_UUID_BUFLEN];
} remoteEventReg;

static void
remoteEventRegFree(remoteEventReg *reg)
{
    qvirRpcClientRelease(reg->client);
    g_free(reg);
}

/* Caller holds REGISTRY's lock. */
static void
remoteEventPruneLocked(qvirRemoteEventRegistry *registry)
{
    if (!registry->regs)
        registry->regs = g_ptr_array_new_with_free_func((GDestroyNotify)remoteEventRegFree);
    for (guint i = registry->regs->len; i > 0; i--) {
        remoteEventReg *reg = g_ptr_array_index(registry->regs, i - 1);

        if (qvirRpcClientIsClosed(reg->client))
            g_ptr_array_remove_index(registry->regs, i - 1);
    }
}

gint32
qvirRemoteEventRegister(qvirRemoteEventRegistry *registry, qvirRpcClient *client, gint32 eventID,
                        const guint8 *uuid)
{
    remoteEventReg *reg = g_new0(remoteEventReg, 1);
    gint32 callbackID;

    reg->client = qvirRpcClientHold(client);
    reg->eventID = eventID;
    reg->anyObject = !uuid;
    if (uuid)
        memcpy(reg->uuid, uuid, sizeof(reg->uuid));
    g_mutex_lock(&registry->lock);
    remoteEventPruneLocked(registry);
    callbackID = reg->callbackID = registry->nextID++;
    g_ptr_array_add(registry->regs, reg);
    g_mutex_unlock(&registry->lock);
    return callbackID;
}

gboolean
qvirRemoteEventDeregister(qvirRemoteEventRegistry *registry, qvirRpcClient *client,
                          gint32 callbackID, GError **error)
{
    gboolean found = FALSE;

    g_mutex_lock(&registry->lock);
    remoteEventPruneLocked(registry);
    for (guint i = 0; i < registry->regs->len; i++) {
        remoteEventReg *reg = g_ptr_array_index(registry->regs, i);

        /* A client removes only its own registrations. */
        if (reg->callbackID == callbackID && reg->client == client) {
            g_ptr_array_remove_index(registry->regs, i);
            found = TRUE;
            break;
        }
    }
    g_mutex_unlock(&registry->lock);
    if (!found) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: callback %d not registered", callbackID);
        return FALSE;
    }
    return TRUE;
}

void
qvirRemoteEventSend(qvirRemoteEventRegistry *registry, const guint8 *uuid, gint32 eventID,
                    gint32 proc, gpointer msg)
{
    const qvirXdrType *type = remote_procedure_table[proc].msg;

    /* Every _msg of a callback event starts with its int callbackID. */
    g_assert(type && type->members[0].offset == 0 && type->members[0].type == &qvirXdrTypeInt);
    g_mutex_lock(&registry->lock);
    remoteEventPruneLocked(registry);
    for (guint i = 0; i < registry->regs->len; i++) {
        remoteEventReg *reg = g_ptr_array_index(registry->regs, i);
        g_autoptr(GByteArray) body = NULL;
        g_autoptr(GError) err = NULL;

        if (reg->eventID != eventID ||
            (!reg->anyObject && memcmp(reg->uuid, uuid, sizeof(reg->uuid)) != 0))
            continue;
        *(gint32 *)msg = reg->callbackID;
        body = g_byte_array_new();
        if (!qvirXdrEncode(body, type, msg, &err)) {
            g_warning("dropping event %s: %s", remote_procedure_table[proc].name, err->message);
            continue;
        }
        qvirRpcClientSendMessage(reg->client, proc, body);
    }
    g_mutex_unlock(&registry->lock);
}

/* Domain event callbacks: their own callback IDs, as libvirt numbers each kind apart. */
static qvirRemoteEventRegistry remoteDomainEvents = QVIR_REMOTE_EVENT_REGISTRY_INIT;

gboolean
remoteDispatchConnectDomainEventCallbackRegisterAny(
    qvirRemoteCtx *ctx, remote_connect_domain_event_callback_register_any_args *args,
    remote_connect_domain_event_callback_register_any_ret *ret, GError **error)
{
    if (args->eventID < 0 || args->eventID >= REMOTE_EVENT_ID_LAST) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported event ID %d", args->eventID);
        return FALSE;
    }
    /* A domain that does not exist is libvirt's NO_DOMAIN, also here. */
    if (args->dom) {
        g_autoptr(qvirDomainRef) ref =
            qvirDriverDomainLookupByUUID(ctx->drv, args->dom->uuid, error);

        if (!ref)
            return FALSE;
    }
    ret->callbackID = qvirRemoteEventRegister(&remoteDomainEvents, ctx->rpcClient, args->eventID,
                                              args->dom ? args->dom->uuid : NULL);
    return TRUE;
}

gboolean
remoteDispatchConnectDomainEventCallbackDeregisterAny(
    qvirRemoteCtx *ctx, remote_connect_domain_event_callback_deregister_any_args *args,
    GError **error)
{
    return qvirRemoteEventDeregister(&remoteDomainEvents, ctx->rpcClient, args->callbackID, error);
}

void
qvirRemoteEventBroadcast(const qvirDomainRef *dom, gint32 eventID, gint32 proc, gpointer msg)
{
    qvirRemoteEventSend(&remoteDomainEvents, dom->uuid, eventID, proc, msg);
}

/* The driver's block job event, to the clients registered for either form: BLOCK_JOB
 * names the disk by path, BLOCK_JOB_2 by target. */
static void
remoteEventBlockJob(qvirDriver *drv, const qvirDomainRef *dom, const qemuBlockJobEvent *ev,
                    gpointer opaque)
{
    remote_nonnull_domain wireDom = {.name = (char *)dom->name, .id = dom->id};
    remote_domain_event_callback_block_job_msg job = {
        .msg = {.path = (char *)(ev->path ? ev->path : ""), .type = ev->type, .status = ev->status},
    };
    remote_domain_event_block_job_2_msg job2 = {
        .dst = (char *)(ev->dst ? ev->dst : ""), .type = ev->type, .status = ev->status};

    memcpy(wireDom.uuid, dom->uuid, sizeof(wireDom.uuid));
    job.msg.dom = wireDom;
    job2.dom = wireDom;
    qvirRemoteEventBroadcast(dom, REMOTE_EVENT_ID_BLOCK_JOB,
                             REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BLOCK_JOB, &job);
    qvirRemoteEventBroadcast(dom, REMOTE_EVENT_ID_BLOCK_JOB_2, REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2,
                             &job2);
}

/* The driver's write threshold event: one per name libvirt gives the layer. */
static void
remoteEventBlockThreshold(qvirDriver *drv, const qvirDomainRef *dom, const char *dev,
                          const char *path, unsigned long long threshold, unsigned long long excess,
                          gpointer opaque)
{
    remote_domain_event_block_threshold_msg msg = {
        .dom = {.name = (char *)dom->name, .id = dom->id},
        .dev = (char *)dev,
        .path = (char *)path,
        .threshold = threshold,
        .excess = excess,
    };

    memcpy(msg.dom.uuid, dom->uuid, sizeof(msg.dom.uuid));
    qvirRemoteEventBroadcast(dom, REMOTE_EVENT_ID_BLOCK_THRESHOLD,
                             REMOTE_PROC_DOMAIN_EVENT_BLOCK_THRESHOLD, &msg);
}

/* A live throttle change as libvirt's TUNABLE event: the disk, then what the request
 * named, in its order, each under "blkdeviotune.". */
static void
remoteEventBlkdevTunable(qvirDriver *drv, const qvirDomainRef *dom, const char *disk,
                         const qemuBlockIoTuneRequest *req, gpointer opaque)
{
    remote_domain_event_callback_tunable_msg msg = {
        .dom = {.name = (char *)dom->name, .id = dom->id},
    };
    GArray *params = g_array_new(FALSE, TRUE, sizeof(remote_typed_param));

    memcpy(msg.dom.uuid, dom->uuid, sizeof(msg.dom.uuid));
    qvirRemoteParamAdd(params, VIR_TYPED_PARAM_STRING, "blkdeviotune.disk")->u.s = g_strdup(disk);
    for (guint i = 0; i < req->norder; i++) {
        int f = req->order[i];

        if (f == REMOTE_IOTUNE_GROUP)
            qvirRemoteParamAdd(params, VIR_TYPED_PARAM_STRING, "blkdeviotune.group_name")->u.s =
                g_strdup(req->t.group);
        else
            qvirRemoteParamAdd(params, VIR_TYPED_PARAM_ULLONG, "blkdeviotune.%s",
                               qvirDomainIotuneFieldTypeToString(f))
                ->u.ul = req->t.v[f];
    }
    qvirRemoteParamsSteal(params, &msg.params.len, &msg.params.val);
    qvirRemoteEventBroadcast(dom, REMOTE_EVENT_ID_TUNABLE,
                             REMOTE_PROC_DOMAIN_EVENT_CALLBACK_TUNABLE, &msg);
    msg.dom.name = NULL; /* borrowed */
    qvirXdrClear(&remote_domain_event_callback_tunable_msg_type, &msg);
}

void
qvirRemoteDiskInit(qvirDriver *drv)
{
    if (!drv)
        return;
    qvirDriverSetBlkdevTunableEventCallback(drv, remoteEventBlkdevTunable, NULL);
    qvirDriverSetBlockJobEventCallback(drv, remoteEventBlockJob, NULL);
    qvirDriverSetBlockThresholdEventCallback(drv, remoteEventBlockThreshold, NULL);
}
