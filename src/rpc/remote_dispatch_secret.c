/*
 * remote_dispatch_secret.c: the REMOTE procedures of secrets, over the secret driver
 * (secret/secret_driver.h) that the qemu driver holds. Read-only connections are refused
 * define, set-value, get-value and undefine by the dispatcher (@serve: write), as
 * libvirt's API refuses them. Secret events (lifecycle, value changed) go to the clients
 * that registered for them, as the domain events of remote_dispatch_disk.c do.
 */
#include <string.h>

#include "rpc/remote_dispatch_priv.h"
#include "rpc/xdr.h"
#include "util/virerror.h"

#define SECRETS(ctx) qvirDriverGetSecrets((ctx)->drv)

void
qvirRemoteSecretTake(remote_nonnull_secret *out, qvirSecretRef *ref)
{
    memcpy(out->uuid, ref->uuid, sizeof(out->uuid));
    out->usageType = ref->usageType;
    out->usageID = g_steal_pointer(&ref->usageID);
}

gboolean
remoteDispatchSecretSetValue(qvirRemoteCtx *ctx, remote_secret_set_value_args *args, GError **error)
{
    /* libvirt's decoder leaves an empty opaque NULL, which its API then refuses */
    return qvirSecretSetValue(SECRETS(ctx), args->secret.uuid,
                              args->value.len ? args->value.val : NULL, args->value.len,
                              args->flags, error);
}

gboolean
remoteDispatchSecretGetValue(qvirRemoteCtx *ctx, remote_secret_get_value_args *args,
                             remote_secret_get_value_ret *ret, GError **error)
{
    g_autoptr(GBytes) value =
        qvirSecretGetValue(SECRETS(ctx), args->secret.uuid, args->flags, error);
    gsize len = 0;
    const guint8 *data;

    if (!value)
        return FALSE;
    data = g_bytes_get_data(value, &len);
    /* one spare byte: an empty value still gets a buffer */
    ret->value.val = g_malloc(len + 1);
    if (len)
        memcpy(ret->value.val, data, len);
    ret->value.len = (guint32)len;
    return TRUE;
}

/* ---- secret events ---- */

/* libvirt's virSecretEventID range */
#define REMOTE_SECRET_EVENT_ID_LAST 2

static qvirRemoteEventRegistry remoteSecretEvents = QVIR_REMOTE_EVENT_REGISTRY_INIT;

/* The secret driver's event, to every registration that matches: MSG starts with the int
 * callbackID, set per registration before encoding. */
static void
remoteSecretEvent(const qvirSecretRef *secret, int eventID, int event, gpointer opaque)
{
    remote_nonnull_secret wire = {.usageType = secret->usageType, .usageID = secret->usageID};
    remote_secret_event_lifecycle_msg lifecycle = {.event = event, .detail = 0};
    remote_secret_event_value_changed_msg changed = {0};
    gint32 proc;
    gpointer msg;

    memcpy(wire.uuid, secret->uuid, sizeof(wire.uuid));
    if (eventID == QVIR_SECRET_EVENT_ID_LIFECYCLE) {
        lifecycle.secret = wire;
        proc = REMOTE_PROC_SECRET_EVENT_LIFECYCLE;
        msg = &lifecycle;
    } else {
        changed.secret = wire;
        proc = REMOTE_PROC_SECRET_EVENT_VALUE_CHANGED;
        msg = &changed;
    }
    qvirRemoteEventSend(&remoteSecretEvents, secret->uuid, eventID, proc, msg);
}

gboolean
remoteDispatchConnectSecretEventRegisterAny(qvirRemoteCtx *ctx,
                                            remote_connect_secret_event_register_any_args *args,
                                            remote_connect_secret_event_register_any_ret *ret,
                                            GError **error)
{
    if (args->eventID < 0 || args->eventID >= REMOTE_SECRET_EVENT_ID_LAST) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported secret event ID %d", args->eventID);
        return FALSE;
    }
    /* The driver has one listener, this file; setting it again is harmless. */
    qvirSecretDriverSetEventCallback(SECRETS(ctx), remoteSecretEvent, NULL);

    ret->callbackID = qvirRemoteEventRegister(&remoteSecretEvents, ctx->rpcClient, args->eventID,
                                              args->secret ? args->secret->uuid : NULL);
    return TRUE;
}

gboolean
remoteDispatchConnectSecretEventDeregisterAny(qvirRemoteCtx *ctx,
                                              remote_connect_secret_event_deregister_any_args *args,
                                              GError **error)
{
    return qvirRemoteEventDeregister(&remoteSecretEvents, ctx->rpcClient, args->callbackID, error);
}
