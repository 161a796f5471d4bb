/*
 * remote_migrate_p2p.c: the source daemon drives a migration to another daemon (see
 * remote_migrate_p2p.h).
 */
#include "rpc/remote_migrate_p2p.h"

#include <string.h>

#include "rpc/remote_conn.h"
#include "rpc/remote_dispatch.h"
#include "util/virerror.h"

/* What the phases hand on: the destination's answers, each freed with its type. */
typedef struct {
    qvirRpcConn *dconn;
    remote_domain_migrate_prepare3_params_ret prepared;
    remote_domain_migrate_finish3_params_ret finished;
} remoteP2P;

static void
remoteP2PClear(remoteP2P *p2p)
{
    qvirXdrClear(&remote_domain_migrate_prepare3_params_ret_type, &p2p->prepared);
    qvirXdrClear(&remote_domain_migrate_finish3_params_ret_type, &p2p->finished);
    qvirRemoteConnClose(g_steal_pointer(&p2p->dconn));
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(remoteP2P, remoteP2PClear);

/* The destination must take v3 with parameters and peer-to-peer, the one protocol we
 * speak; libvirt also knows older ones. */
static gboolean
remoteP2PCheckPeer(qvirRpcConn *dconn, GError **error)
{
    int p2p, v3 = 0, params = 0;

    if ((p2p = qvirRemoteConnSupportsFeature(dconn, QVIR_REMOTE_FEATURE_MIGRATION_P2P, error)) <
            0 ||
        (v3 = qvirRemoteConnSupportsFeature(dconn, QVIR_REMOTE_FEATURE_MIGRATION_V3, error)) < 0 ||
        (params =
             qvirRemoteConnSupportsFeature(dconn, QVIR_REMOTE_FEATURE_MIGRATION_PARAMS, error)) < 0)
        return FALSE;
    if (!p2p) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "operation failed: Destination libvirt does not support "
                            "peer-to-peer migration protocol");
        return FALSE;
    }
    if (!v3 || !params) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "operation failed: Destination libvirt does not support migration "
                            "protocol 3 with extensible parameters");
        return FALSE;
    }
    return TRUE;
}

static void
remoteP2PParamString(GArray *out, const char *field, const char *value)
{
    remote_typed_param p = {.field = (char *)field};

    p.value.type = VIR_TYPED_PARAM_STRING;
    p.value.u.s = (char *)value;
    g_array_append_val(out, p);
}

/*
 * The parameters for the destination: the client's RAW ones (borrowed, not copied) with
 * destination_xml XML, migrate_uri URI when not NULL, destination_name NAME when not NULL
 * and the client gave none. Free the array alone (g_array_unref), never its strings.
 */
static GArray *
remoteP2PParams(const remote_typed_param *raw, guint32 nraw, const char *xml, const char *uri,
                const char *name)
{
    GArray *out = g_array_new(FALSE, TRUE, sizeof(remote_typed_param));
    gboolean haveName = FALSE;

    for (guint32 i = 0; i < nraw; i++) {
        if (g_str_equal(raw[i].field, "destination_xml") ||
            (uri && g_str_equal(raw[i].field, "migrate_uri")))
            continue;
        haveName |= g_str_equal(raw[i].field, "destination_name");
        g_array_append_val(out, raw[i]);
    }
    remoteP2PParamString(out, "destination_xml", xml);
    if (uri)
        remoteP2PParamString(out, "migrate_uri", uri);
    if (name && !haveName)
        remoteP2PParamString(out, "destination_name", name);
    return out;
}

/* The bytes of COOKIE (NULL: none), for an XDR opaque that is only read. */
static guint8 *
remoteP2PCookie(GBytes *cookie, guint32 *len)
{
    gsize size = 0;
    gconstpointer data = cookie ? g_bytes_get_data(cookie, &size) : NULL;

    *len = (guint32)size;
    return (guint8 *)data;
}

static gboolean
remoteP2PPeerAlive(gpointer opaque)
{
    return qvirRpcConnIsAlive(opaque);
}

/* Finish on the destination: the guest's new home resumes it, or (CANCELLED) undoes
 * Prepare. */
static gboolean
remoteP2PFinish(remoteP2P *p2p, const remote_typed_param *raw, guint32 nraw, const char *xml,
                const char *uri, const char *name, GBytes *cookie, unsigned int destFlags,
                gboolean cancelled, GError **error)
{
    g_autoptr(GArray) params = remoteP2PParams(raw, nraw, xml, uri, name);
    remote_domain_migrate_finish3_params_args args = {
        .params = {.len = params->len, .val = (remote_typed_param *)(void *)params->data},
        .flags = destFlags,
        .cancelled = cancelled,
    };

    args.cookie_in.val = remoteP2PCookie(cookie, &args.cookie_in.len);
    return qvirRemoteConnCall(p2p->dconn, REMOTE_PROC_DOMAIN_MIGRATE_FINISH3_PARAMS, &args,
                              &p2p->finished, error);
}

/* Nothing was sent: the job Begin started ends (a cancelled Confirm). */
static void
remoteP2PCancel(qvirDriver *drv, const unsigned char *uuid, const qvirMigrateParams *params,
                unsigned int flags)
{
    g_autoptr(GError) err = NULL;

    if (!qvirDriverDomainMigrateConfirm(drv, uuid, params, NULL, flags, TRUE, &err))
        g_warning("cannot end the migration job: %s", err->message);
}

/* Begin here, Prepare there: FALSE when either failed (nothing to undo there: a failed
 * Prepare has undone itself; here the job Begin started ends). *XML: the domain XML Begin
 * made. */
static gboolean
remoteP2PBeginPrepare(qvirDriver *drv, remoteP2P *p2p, const unsigned char *uuid,
                      const qvirMigrateParams *params, const remote_typed_param *raw, guint32 nraw,
                      unsigned int flags, unsigned int destFlags, char **xml, GError **error)
{
    g_autoptr(GBytes) cookie = NULL;
    g_autoptr(GArray) prepParams = NULL;
    remote_domain_migrate_prepare3_params_args args = {.flags = destFlags};

    if (!(*xml = qvirDriverDomainMigrateBegin(drv, uuid, params, flags, &cookie, error)))
        return FALSE;
    prepParams = remoteP2PParams(raw, nraw, *xml, NULL, NULL);
    args.params.len = prepParams->len;
    args.params.val = (remote_typed_param *)(void *)prepParams->data;
    args.cookie_in.val = remoteP2PCookie(cookie, &args.cookie_in.len);
    if (qvirRemoteConnCall(p2p->dconn, REMOTE_PROC_DOMAIN_MIGRATE_PREPARE3_PARAMS, &args,
                           &p2p->prepared, error))
        return TRUE;
    remoteP2PCancel(drv, uuid, params, flags);
    return FALSE;
}

static gboolean
remoteP2PRun(qvirDriver *drv, remoteP2P *p2p, const unsigned char *uuid, const char *name,
             const qvirMigrateParams *params, const remote_typed_param *raw, guint32 nraw,
             unsigned int flags, GError **error)
{
    g_autofree char *xml = NULL;
    g_autoptr(GBytes) prepCookie = NULL;
    g_autoptr(GBytes) perfCookie = NULL;
    g_autoptr(GBytes) finishCookie = NULL;
    g_autoptr(GError) perfErr = NULL;
    g_autoptr(GError) finishErr = NULL;
    g_autoptr(GError) confirmErr = NULL;
    qvirMigrateParams perform;
    unsigned int destFlags;
    const char *uri;
    gboolean performed = FALSE;
    gboolean finished;
    int state = 0;

    /* what only concerns the source stays here; a paused guest stays paused there */
    destFlags = flags & ~(QVIR_MIGRATE_ABORT_ON_ERROR | QVIR_MIGRATE_AUTO_CONVERGE);
    /* one job from Begin to Confirm here, as libvirt's p2p Perform holds it */
    flags |= QVIR_MIGRATE_CHANGE_PROTECTION;
    if (qvirDriverDomainGetState(drv, uuid, &state, NULL, NULL) && state == QVIR_DOMAIN_PAUSED)
        destFlags |= QVIR_MIGRATE_PAUSED;

    if (!remoteP2PBeginPrepare(drv, p2p, uuid, params, raw, nraw, flags, destFlags, &xml, error))
        return FALSE;
    prepCookie = g_bytes_new(p2p->prepared.cookie_out.val, p2p->prepared.cookie_out.len);

    uri = p2p->prepared.uri_out ? p2p->prepared.uri_out : params->uri;
    if (!uri) {
        g_set_error_literal(&perfErr, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: domainMigratePrepare3 did not set uri");
        remoteP2PCancel(drv, uuid, params, flags);
    } else {
        /* borrowed: the client's parameters with the destination's URI */
        perform = *params;
        perform.uri = (char *)uri;
        perform.peerAlive = remoteP2PPeerAlive;
        perform.peerOpaque = p2p->dconn;
        performed = qvirDriverDomainMigratePerform(drv, uuid, NULL, &perform, prepCookie, flags,
                                                   &perfCookie, &perfErr);
    }

    finished = remoteP2PFinish(p2p, raw, nraw, xml, uri, name, perfCookie, destFlags, !performed,
                               &finishErr);
    if (!performed) {
        /* Perform has resumed the guest here already: there is nothing to confirm. The
         * destination's reason is the better one only when its QEMU died on it (libvirt's
         * rule: Perform failed as an operation, the destination itself answered Finish with
         * something else than "aborted"). */
        if (finished)
            g_warning("domain '%s': the destination finished a cancelled migration", name);
        if (!finished && perfErr->code == QVIR_ERR_OPERATION_FAILED &&
            qvirRpcConnIsAlive(p2p->dconn) && finishErr->code != QVIR_ERR_MIGRATE_FINISH_OK)
            g_propagate_error(error, g_steal_pointer(&finishErr));
        else
            g_propagate_error(error, g_steal_pointer(&perfErr));
        return FALSE;
    }

    if (finished)
        finishCookie = g_bytes_new(p2p->finished.cookie_out.val, p2p->finished.cookie_out.len);
    /* Finish failed: the destination has no guest, it resumes here */
    if (!qvirDriverDomainMigrateConfirm(drv, uuid, params, finishCookie, flags, !finished,
                                        &confirmErr))
        g_warning("domain '%s' probably left paused on the source: %s", name, confirmErr->message);
    if (!finished) {
        g_propagate_error(error, g_steal_pointer(&finishErr));
        return FALSE;
    }
    return TRUE;
}

gboolean
qvirRemoteMigratePeer2Peer(qvirDriver *drv, const unsigned char *uuid, const char *dconnuri,
                           const qvirMigrateParams *params, const remote_typed_param *raw,
                           guint32 nraw, unsigned int flags, GError **error)
{
    g_auto(remoteP2P) p2p = {0};
    g_autoptr(qvirDomainRef) dom = NULL;
    const qvirDriverConfig *cfg;

    if (!dconnuri) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: dconnuri in virDomainMigratePerform3Params must "
                            "not be NULL");
        return FALSE;
    }
    if (!(dom = qvirDriverDomainLookupByUUID(drv, uuid, error)))
        return FALSE;
    /* the destination is set up completely before anything here changes */
    if (!(p2p.dconn = qvirRemoteConnOpen(dconnuri, error)))
        return FALSE;
    /* qemu.conf's keepalive, as libvirt sets it on its dconn: a destination that stops
     * answering (a frozen daemon, a dead host behind an open TCP connection) fails the
     * migration instead of hanging it, whether a call waits or Perform polls */
    cfg = qvirDriverGetConfig(drv);
    qvirRpcConnSetKeepAlive(p2p.dconn, cfg->keepAliveInterval, cfg->keepAliveCount);
    if (!remoteP2PCheckPeer(p2p.dconn, error))
        return FALSE;
    return remoteP2PRun(drv, &p2p, uuid, dom->name, params, raw, nraw, flags, error);
}
