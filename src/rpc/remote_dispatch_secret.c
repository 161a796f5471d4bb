/*
 * remote_dispatch_secret.c: the REMOTE procedures of secrets, over the secret driver
 * (secret/secret_driver.h) that the qemu driver holds. Read-only connections are refused
 * define, set-value, get-value and undefine by the dispatcher (@serve: write), as
 * libvirt's API refuses them.
 */
#include <string.h>

#include "rpc/remote_dispatch_priv.h"
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
    return qvirSecretSetValue(SECRETS(ctx), args->secret.uuid, args->value.val, args->value.len,
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
