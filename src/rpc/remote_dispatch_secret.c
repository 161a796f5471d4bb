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

static void
remoteSecretTake(remote_nonnull_secret *out, qvirSecretRef *ref)
{
    memcpy(out->uuid, ref->uuid, sizeof(out->uuid));
    out->usageType = ref->usageType;
    out->usageID = g_steal_pointer(&ref->usageID);
}

/* OUT names REF (taken); FALSE when REF is NULL (the driver's error). */
static gboolean
remoteSecretReturn(remote_nonnull_secret *out, qvirSecretRef *ref)
{
    g_autoptr(qvirSecretRef) owned = ref;

    if (!owned)
        return FALSE;
    remoteSecretTake(out, owned);
    return TRUE;
}

gboolean
remoteDispatchConnectNumOfSecrets(qvirRemoteCtx *ctx, remote_connect_num_of_secrets_ret *ret,
                                  GError **error)
{
    ret->num = qvirSecretNumOfSecrets(SECRETS(ctx));
    return TRUE;
}

gboolean
remoteDispatchConnectListSecrets(qvirRemoteCtx *ctx, remote_connect_list_secrets_args *args,
                                 remote_connect_list_secrets_ret *ret, GError **error)
{
    return qvirRemoteStringsTake(&ret->uuids.len, &ret->uuids.val,
                                 qvirSecretListUUIDs(SECRETS(ctx)), args->maxuuids,
                                 REMOTE_SECRET_LIST_MAX, "maxuuids", error);
}

gboolean
remoteDispatchConnectListAllSecrets(qvirRemoteCtx *ctx, remote_connect_list_all_secrets_args *args,
                                    remote_connect_list_all_secrets_ret *ret, GError **error)
{
    g_autoptr(GPtrArray) refs = qvirSecretListAll(SECRETS(ctx), args->flags, error);

    if (!refs)
        return FALSE;
    ret->ret = refs->len;
    if (!args->need_results)
        return TRUE;
    ret->secrets.val = g_new0(remote_nonnull_secret, refs->len + 1);
    ret->secrets.len = refs->len;
    for (guint i = 0; i < refs->len; i++)
        remoteSecretTake(&ret->secrets.val[i], g_ptr_array_index(refs, i));
    return TRUE;
}

gboolean
remoteDispatchSecretLookupByUUID(qvirRemoteCtx *ctx, remote_secret_lookup_by_uuid_args *args,
                                 remote_secret_lookup_by_uuid_ret *ret, GError **error)
{
    return remoteSecretReturn(&ret->secret,
                              qvirSecretLookupByUUID(SECRETS(ctx), args->uuid, error));
}

gboolean
remoteDispatchSecretLookupByUsage(qvirRemoteCtx *ctx, remote_secret_lookup_by_usage_args *args,
                                  remote_secret_lookup_by_usage_ret *ret, GError **error)
{
    return remoteSecretReturn(
        &ret->secret, qvirSecretLookupByUsage(SECRETS(ctx), args->usageType, args->usageID, error));
}

gboolean
remoteDispatchSecretDefineXML(qvirRemoteCtx *ctx, remote_secret_define_xml_args *args,
                              remote_secret_define_xml_ret *ret, GError **error)
{
    return remoteSecretReturn(&ret->secret,
                              qvirSecretDefineXML(SECRETS(ctx), args->xml, args->flags, error));
}

gboolean
remoteDispatchSecretGetXMLDesc(qvirRemoteCtx *ctx, remote_secret_get_xml_desc_args *args,
                               remote_secret_get_xml_desc_ret *ret, GError **error)
{
    ret->xml = qvirSecretGetXMLDesc(SECRETS(ctx), args->secret.uuid, args->flags, error);
    return ret->xml != NULL;
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

gboolean
remoteDispatchSecretUndefine(qvirRemoteCtx *ctx, remote_secret_undefine_args *args, GError **error)
{
    return qvirSecretUndefine(SECRETS(ctx), args->secret.uuid, error);
}

/* ---- secret events ---- */

/* libvirt's virSecretEventID range */
#define REMOTE_SECRET_EVENT_ID_LAST 2

/* One registration (CONNECT_SECRET_EVENT_REGISTER_ANY); dropped with its client. */
typedef struct {
    qvirRpcClient *client;
    gint32 callbackID;
    gint32 eventID;
    gboolean anySecret;
    guint8 uuid[VIR_UUID_BUFLEN];
} remoteSecretEventReg;

static GMutex remoteSecretEventLock;
static GPtrArray *remoteSecretEventRegs; /* remoteSecretEventReg* */
static gint32 remoteSecretEventNextID = 1;

static void
remoteSecretEventRegFree(remoteSecretEventReg *reg)
{
    qvirRpcClientRelease(reg->client);
    g_free(reg);
}

/* Caller holds remoteSecretEventLock. */
static void
remoteSecretEventPruneLocked(void)
{
    if (!remoteSecretEventRegs)
        remoteSecretEventRegs =
            g_ptr_array_new_with_free_func((GDestroyNotify)remoteSecretEventRegFree);
    for (guint i = remoteSecretEventRegs->len; i > 0; i--) {
        remoteSecretEventReg *reg = g_ptr_array_index(remoteSecretEventRegs, i - 1);

        if (qvirRpcClientIsClosed(reg->client))
            g_ptr_array_remove_index(remoteSecretEventRegs, i - 1);
    }
}

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
    g_mutex_lock(&remoteSecretEventLock);
    remoteSecretEventPruneLocked();
    for (guint i = 0; i < remoteSecretEventRegs->len; i++) {
        remoteSecretEventReg *reg = g_ptr_array_index(remoteSecretEventRegs, i);
        g_autoptr(GByteArray) body = NULL;
        g_autoptr(GError) err = NULL;

        if (reg->eventID != eventID ||
            (!reg->anySecret && memcmp(reg->uuid, secret->uuid, sizeof(reg->uuid)) != 0))
            continue;
        *(gint32 *)msg = reg->callbackID;
        body = g_byte_array_new();
        if (!qvirXdrEncode(body, remote_procedure_table[proc].msg, msg, &err)) {
            g_warning("dropping event %s: %s", remote_procedure_table[proc].name, err->message);
            continue;
        }
        qvirRpcClientSendMessage(reg->client, proc, body);
    }
    g_mutex_unlock(&remoteSecretEventLock);
}

gboolean
remoteDispatchConnectSecretEventRegisterAny(qvirRemoteCtx *ctx,
                                            remote_connect_secret_event_register_any_args *args,
                                            remote_connect_secret_event_register_any_ret *ret,
                                            GError **error)
{
    remoteSecretEventReg *reg;

    if (args->eventID < 0 || args->eventID >= REMOTE_SECRET_EVENT_ID_LAST) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported secret event ID %d", args->eventID);
        return FALSE;
    }
    /* The driver has one listener, this file; setting it again is harmless. */
    qvirSecretDriverSetEventCallback(SECRETS(ctx), remoteSecretEvent, NULL);

    reg = g_new0(remoteSecretEventReg, 1);
    reg->client = qvirRpcClientHold(ctx->rpcClient);
    reg->eventID = args->eventID;
    reg->anySecret = !args->secret;
    if (args->secret)
        memcpy(reg->uuid, args->secret->uuid, sizeof(reg->uuid));
    g_mutex_lock(&remoteSecretEventLock);
    remoteSecretEventPruneLocked();
    reg->callbackID = remoteSecretEventNextID++;
    g_ptr_array_add(remoteSecretEventRegs, reg);
    ret->callbackID = reg->callbackID;
    g_mutex_unlock(&remoteSecretEventLock);
    return TRUE;
}

gboolean
remoteDispatchConnectSecretEventDeregisterAny(qvirRemoteCtx *ctx,
                                              remote_connect_secret_event_deregister_any_args *args,
                                              GError **error)
{
    gboolean found = FALSE;

    g_mutex_lock(&remoteSecretEventLock);
    remoteSecretEventPruneLocked();
    for (guint i = 0; i < remoteSecretEventRegs->len; i++) {
        remoteSecretEventReg *reg = g_ptr_array_index(remoteSecretEventRegs, i);

        /* A client removes only its own registrations. */
        if (reg->callbackID == args->callbackID && reg->client == ctx->rpcClient) {
            g_ptr_array_remove_index(remoteSecretEventRegs, i);
            found = TRUE;
            break;
        }
    }
    g_mutex_unlock(&remoteSecretEventLock);
    if (!found) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: callback %d not registered", args->callbackID);
        return FALSE;
    }
    return TRUE;
}
