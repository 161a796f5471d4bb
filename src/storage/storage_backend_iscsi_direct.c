/*
 * storage_backend_iscsi_direct.c: iscsi-direct pools (libvirt's userspace iSCSI pool),
 * through libiscsi's tools: iscsi-ls reports the target's LUNs (iscsi-inq when iscsi-ls
 * cannot reach them), iscsi-readcapacity16 their sizes. Volumes are the LUNs, named "unit:0:0:N"
 * with the path and key "ip-HOST:PORT-iscsi-IQN-lun-N", as libvirt names them. LUNs cannot be made
 * or removed.
 *
 * CHAP: libiscsi takes the credentials from LIBISCSI_CHAP_USERNAME/LIBISCSI_CHAP_PASSWORD
 * in the tool's environment, which only the daemon's user can read, instead of the URL's
 * user%password that any user would see in the process list.
 */
#include "storage/storage_backend_net.h"

#include <string.h>

#include "util/virerror.h"
#include "util/virsocketaddr.h"

#define ISCSI_DEFAULT_PORT 3260

/* "HOST:PORT" as libvirt writes the portal ("[ADDR]:PORT" for IPv6). */
static char *
qvirISCSIDirectPortal(const qvirStoragePoolDef *def, GError **error)
{
    const qvirStoragePoolHost *host = &def->hosts[0];
    unsigned int port = host->port ? host->port : ISCSI_DEFAULT_PORT;

    if (def->nhosts != 1) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: Expected exactly 1 host for the "
                            "storage pool");
        return NULL;
    }
    /* as libvirt: the default port goes without brackets, even after an IPv6 literal */
    if (!host->port)
        return g_strdup_printf("%s:%u", host->name, port);
    return qvirSocketAddrFormatHostPort(host->name, port);
}

/* The environment that carries DEF's CHAP credentials (NULL without <auth>). */
static gboolean
qvirISCSIDirectAuthEnv(const qvirStoragePoolDef *def, qvirSecretDriver *secrets, GStrv *env,
                       GError **error)
{
    g_autoptr(GBytes) value = NULL;
    g_autofree char *password = NULL;
    gsize len = 0;
    const char *data;

    *env = NULL;
    if (!def->auth)
        return TRUE;
    if (def->auth->authType != QVIR_STORAGE_AUTH_TYPE_CHAP) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: iscsi-direct pool only supports 'chap' auth type");
        return FALSE;
    }
    if (!(value = qvirStorageNetSecretValue(def, secrets, "iscsi", error)))
        return FALSE;
    data = g_bytes_get_data(value, &len);
    password = g_strndup(data, len);
    *env = g_new0(char *, 3);
    (*env)[0] = g_strdup_printf("LIBISCSI_CHAP_USERNAME=%s", def->auth->username);
    (*env)[1] = g_strdup_printf("LIBISCSI_CHAP_PASSWORD=%s", password);
    memset(password, 0, strlen(password));
    return TRUE;
}

static void
qvirISCSIDirectEnvFree(GStrv env)
{
    for (guint i = 0; env && env[i]; i++)
        memset(env[i], 0, strlen(env[i]));
    g_strfreev(env);
}

typedef struct {
    unsigned int lun;
    gboolean directAccess;
} qvirISCSILun;

/* What libiscsi's tools print when they fail, without the tool's own prefix. */
static char *
qvirISCSIDirectToolError(const char *out, const char *err)
{
    g_autofree char *line = qvirStorageNetLastLine(err && *err ? err : out);
    const char *p = line;

    if (g_str_has_prefix(p, "list_luns: iscsi_connect failed. "))
        p += strlen("list_luns: iscsi_connect failed. ");
    else if (g_str_has_prefix(p, "Login Failed. "))
        p += strlen("Login Failed. ");
    return g_strdup(p);
}

/*
 * When iscsi-ls stopped at another target before TARGET: ask the LUNs one by one with a
 * standard INQUIRY, from 0 up to the first that is not there (tgt numbers them densely).
 */
static GArray *
qvirISCSIDirectProbeLuns(const char *portal, const char *initiator, const char *target,
                         const char *const *env, GError **error)
{
    g_autoptr(GArray) luns = g_array_new(FALSE, FALSE, sizeof(qvirISCSILun));

    for (unsigned int l = 0; l < 256; l++) {
        g_autofree char *url = g_strdup_printf("iscsi://%s/%s/%u", portal, target, l);
        const char *argv[] = {"iscsi-inq", "-i", initiator, url, NULL};
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        qvirISCSILun lun = {.lun = l};
        int status = 0;

        if (!qvirStorageNetRun(argv, env, &out, &err, &status, error))
            return NULL;
        if (!g_spawn_check_wait_status(status, NULL) || !strstr(out, "Peripheral Device Type:")) {
            g_autofree char *msg = NULL;

            if (l > 0)
                break;
            msg = qvirISCSIDirectToolError(out, err);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: Failed to login: %s", msg);
            return NULL;
        }
        lun.directAccess = strstr(out, "Peripheral Device Type:DIRECT_ACCESS") != NULL;
        g_array_append_val(luns, lun);
    }
    return g_steal_pointer(&luns);
}

/*
 * The LUNs of TARGET, as its REPORT LUNS lists them through iscsi-ls -s. iscsi-ls logs in
 * to every target the portal lists, one after the other, and stops at the first it cannot
 * log in to: TARGET's list is complete when its section ends in another target's header
 * or the tool succeeded; when the tool stopped before TARGET, the LUNs are probed.
 */
static GArray *
qvirISCSIDirectListLuns(const char *portal, const char *initiator, const char *target,
                        const char *const *env, GError **error)
{
    g_autofree char *url = g_strdup_printf("iscsi://%s/", portal);
    const char *argv[] = {"iscsi-ls", "-s", "-i", initiator, url, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GArray) luns = g_array_new(FALSE, FALSE, sizeof(qvirISCSILun));
    gboolean inTarget = FALSE, found = FALSE, complete = FALSE;
    int status = 0;

    if (!qvirStorageNetRun(argv, env, &out, &err, &status, error))
        return NULL;
    lines = g_strsplit(out ? out : "", "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        const char *line = lines[i];

        if (g_str_has_prefix(line, "Target:")) {
            const char *name = line + strlen("Target:");
            const char *end = strchr(name, ' ');
            g_autofree char *iqn = end ? g_strndup(name, end - name) : g_strdup(name);

            if (inTarget)
                complete = TRUE;
            inTarget = g_str_equal(iqn, target);
            found = found || inTarget;
        } else if (inTarget && g_str_has_prefix(line, "Lun:")) {
            qvirISCSILun lun = {0};

            lun.lun = (unsigned int)g_ascii_strtoull(line + 4, NULL, 10);
            lun.directAccess = strstr(line, "Type:DIRECT_ACCESS") != NULL;
            g_array_append_val(luns, lun);
        }
    }
    if (g_spawn_check_wait_status(status, NULL)) {
        if (found)
            return g_steal_pointer(&luns);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: Failed to login: target '%s' not found on portal '%s'", target,
                    portal);
        return NULL;
    }
    if (found && complete)
        return g_steal_pointer(&luns);
    if (found) {
        g_autofree char *msg = qvirISCSIDirectToolError(out, err);

        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: Failed to login: %s", msg);
        return NULL;
    }
    return qvirISCSIDirectProbeLuns(portal, initiator, target, env, error);
}

/* Block length and the last LBA (what libvirt multiplies, one block short of the size). */
static gboolean
qvirISCSIDirectCapacity(const char *portal, const char *initiator, const char *target,
                        unsigned int lun, const char *const *env, guint64 *blockSize,
                        guint64 *lastLBA, GError **error)
{
    g_autofree char *url = g_strdup_printf("iscsi://%s/%s/%u", portal, target, lun);
    const char *argv[] = {"iscsi-readcapacity16", "-i", initiator, url, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) lines = NULL;
    gboolean haveLen = FALSE, haveLBA = FALSE;
    int status = 0;

    if (!qvirStorageNetRun(argv, env, &out, &err, &status, error))
        return FALSE;
    lines = g_strsplit(out ? out : "", "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "RETURNED LOGICAL BLOCK ADDRESS:")) {
            *lastLBA =
                g_ascii_strtoull(lines[i] + strlen("RETURNED LOGICAL BLOCK ADDRESS:"), NULL, 10);
            haveLBA = TRUE;
        } else if (g_str_has_prefix(lines[i], "LOGICAL BLOCK LENGTH IN BYTES:")) {
            *blockSize =
                g_ascii_strtoull(lines[i] + strlen("LOGICAL BLOCK LENGTH IN BYTES:"), NULL, 10);
            haveLen = TRUE;
        }
    }
    if (!g_spawn_check_wait_status(status, NULL) || !haveLen || !haveLBA) {
        g_autofree char *last = qvirISCSIDirectToolError(out, err);

        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: Failed to get capacity of lun: %s", last);
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirISCSIDirectRefresh(qvirStoragePoolDef *def, qvirSecretDriver *secrets, GPtrArray *vols,
                       GError **error)
{
    g_autofree char *portal = qvirISCSIDirectPortal(def, error);
    g_autoptr(GArray) luns = NULL;
    GStrv env = NULL;
    gboolean ok = FALSE;

    if (!portal || !qvirISCSIDirectAuthEnv(def, secrets, &env, error))
        return FALSE;
    if (!(luns = qvirISCSIDirectListLuns(portal, def->initiatorIQN, def->sourceDevice,
                                         (const char *const *)env, error)))
        goto cleanup;
    def->capacity = def->allocation = def->available = 0;
    for (guint i = 0; i < luns->len; i++) {
        const qvirISCSILun *lun = &g_array_index(luns, qvirISCSILun, i);
        g_autofree char *name = NULL;
        g_autofree char *key = NULL;
        qvirStorageVolDef *vol;
        guint64 blockSize = 0, lastLBA = 0;

        /* as libvirt: a LUN that is no disk (the target's controller) has no size */
        if (lun->directAccess &&
            !qvirISCSIDirectCapacity(portal, def->initiatorIQN, def->sourceDevice, lun->lun,
                                     (const char *const *)env, &blockSize, &lastLBA, error))
            goto cleanup;
        name = g_strdup_printf("unit:0:0:%u", lun->lun);
        key = g_strdup_printf("ip-%s-iscsi-%s-lun-%u", portal, def->sourceDevice, lun->lun);
        vol = qvirStorageNetVolNew(name, key);
        vol->formatHidden = TRUE;
        vol->capacity = vol->allocation = blockSize * lastLBA;
        def->capacity += vol->capacity;
        def->allocation += vol->allocation;
        g_ptr_array_add(vols, vol);
    }
    ok = TRUE;
cleanup:
    qvirISCSIDirectEnvFree(env);
    return ok;
}

const qvirStorageNetBackend qvirStorageBackendISCSIDirect = {
    .refresh = qvirISCSIDirectRefresh,
    .createVol = NULL,
    .deleteVol = NULL,
};
