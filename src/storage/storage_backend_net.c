/*
 * storage_backend_net.c: what the network pool backends share (storage_backend_net.h).
 */
#include "storage/storage_backend_net.h"

#include <string.h>

#include "storage/storage_run.h"
#include "util/virerror.h"

const qvirStorageNetBackend *
qvirStorageNetBackendFor(qvirStoragePoolType type)
{
    switch (type) {
    case QVIR_STORAGE_POOL_RBD:
        return &qvirStorageBackendRBD;
    case QVIR_STORAGE_POOL_ISCSI_DIRECT:
        return &qvirStorageBackendISCSIDirect;
    case QVIR_STORAGE_POOL_DIR:
    case QVIR_STORAGE_POOL_FS:
    case QVIR_STORAGE_POOL_LAST:
    default:
        return NULL;
    }
}

gboolean
qvirStorageNetRun(const char *const *argv, const char *const *envp, char **out, char **err,
                  int *status, GError **error)
{
    g_autoptr(GPtrArray) env = g_ptr_array_new();
    g_autofree char *errText = NULL;

    /* the tools' messages are parsed: keep them in English (ENVP may still say otherwise) */
    g_ptr_array_add(env, (gpointer) "LC_ALL=C");
    for (guint i = 0; envp && envp[i]; i++)
        g_ptr_array_add(env, (gpointer)envp[i]);
    g_ptr_array_add(env, NULL);
    if (!qvirStorageRunCapture(argv, (const char *const *)env->pdata, out, &errText, status, error))
        return FALSE;
    if (err)
        *err = g_steal_pointer(&errText);
    return TRUE;
}

GBytes *
qvirStorageNetSecretValue(const qvirStoragePoolDef *def, qvirSecretDriver *secrets,
                          const char *usageType, GError **error)
{
    if (!secrets) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                            "Operation not supported: no secrets driver to resolve the "
                            "storage pool's <auth> secret");
        return NULL;
    }
    return qvirSecretLookupValue(secrets, def->auth->secretUUID, usageType, def->auth->secretUsage,
                                 error);
}

char *
qvirStorageNetLastLine(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);

    for (guint i = g_strv_length(lines); i-- > 0;) {
        g_strstrip(lines[i]);
        if (*lines[i])
            return g_strdup(lines[i]);
    }
    return g_strdup("");
}

qvirStorageVolDef *
qvirStorageNetVolNew(const char *name, const char *key)
{
    qvirStorageVolDef *vol = g_new0(qvirStorageVolDef, 1);

    vol->type = QVIR_STORAGE_VOL_NETWORK;
    vol->name = g_strdup(name);
    vol->key = g_strdup(key);
    vol->targetPath = g_strdup(key);
    vol->format = QVIR_STORAGE_FILE_RAW;
    vol->perms.mode = vol->backingPerms.mode = -1;
    vol->perms.owner = vol->perms.group = -1;
    vol->backingPerms.owner = vol->backingPerms.group = -1;
    return vol;
}
