/*
 * storage_backend_rbd.c: rbd pools (libvirt's storage_backend_rbd), through Ceph's rbd and
 * rados tools. A pool is one RADOS pool; its volumes are the RBD images in it, raw, shown
 * with the path and key "POOL/IMAGE" as libvirt shows them.
 */
#include "storage/storage_backend_net.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "util/virerror.h"
#include "util/virfile.h"
#include "util/virsocketaddr.h"

/* One conversation with the cluster: the arguments every tool gets, and the private
 * directory holding the cephx key while the tools run. */
typedef struct {
    char *monHost;
    char *dir;
    char *keyFile;
    GPtrArray *args; /* char *, without the tool's name */
    char *poolName;
} qvirRBDConn;

static void
qvirRBDConnFree(qvirRBDConn *conn)
{
    if (!conn)
        return;
    if (conn->keyFile) {
        /* the key must not outlive the call */
        g_unlink(conn->keyFile);
        g_free(conn->keyFile);
    }
    if (conn->dir) {
        g_rmdir(conn->dir);
        g_free(conn->dir);
    }
    g_free(conn->monHost);
    g_free(conn->poolName);
    if (conn->args)
        g_ptr_array_unref(conn->args);
    g_free(conn);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirRBDConn, qvirRBDConnFree);

/* libvirt's mon_host: "host[:port]," for each <host>, IPv6 in brackets. */
static char *
qvirRBDMonHost(const qvirStoragePoolDef *def)
{
    GString *buf = g_string_new(NULL);

    for (size_t i = 0; i < def->nhosts; i++) {
        const char *name = def->hosts[i].name;

        g_autofree char *hostPort = NULL;

        if (!def->hosts[i].port) {
            g_string_append_printf(buf, "%s,", name);
            continue;
        }
        hostPort = qvirSocketAddrFormatHostPort(name, def->hosts[i].port);
        g_string_append_printf(buf, "%s,", hostPort);
    }
    return g_string_free(buf, FALSE);
}

/* Write the base64 cephx key (what librados' "key" option takes; the secret holds the
 * key's bytes, as libvirt keeps them) into a fresh 0600 file only the daemon can read. */
static gboolean
qvirRBDWriteKey(qvirRBDConn *conn, GBytes *value, GError **error)
{
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(value, &len);
    g_autofree char *b64 = g_base64_encode(data, len);
    g_autoptr(GError) err = NULL;
    int fd;

    if (!(conn->dir = g_dir_make_tmp("qvirt-rbd-XXXXXX", &err))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "cannot create a private directory for the cephx key: %s", err->message);
        return FALSE;
    }
    conn->keyFile = g_build_filename(conn->dir, "key", NULL);
    if ((fd = open(conn->keyFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create '%s': %s",
                    conn->keyFile, g_strerror(errno));
        g_clear_pointer(&conn->keyFile, g_free);
        return FALSE;
    }
    if (!qvirFileWriteAll(fd, b64, strlen(b64))) {
        int saved = errno;

        close(fd);
        memset(b64, 0, strlen(b64));
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot write '%s': %s",
                    conn->keyFile, g_strerror(saved));
        return FALSE;
    }
    close(fd);
    memset(b64, 0, strlen(b64));
    return TRUE;
}

static qvirRBDConn *
qvirRBDConnOpen(const qvirStoragePoolDef *def, qvirSecretDriver *secrets, GError **error)
{
    g_autoptr(qvirRBDConn) conn = g_new0(qvirRBDConn, 1);

    conn->monHost = qvirRBDMonHost(def);
    conn->poolName = g_strdup(def->sourceName);
    conn->args = g_ptr_array_new_with_free_func(g_free);
    /* no ceph.conf, no admin socket, no log: the pool XML says everything; libvirt's
     * timeouts so that a cluster that is down fails instead of hanging */
    for (const char *const *a =
             (const char *const[]){
                 "-c", "/dev/null", "--admin-socket=", "--log-file=", "--client-mount-timeout",
                 "30", "--rados-mon-op-timeout", "30", "--rados-osd-op-timeout", "30", NULL};
         *a; a++)
        g_ptr_array_add(conn->args, g_strdup(*a));
    g_ptr_array_add(conn->args, g_strdup("--mon-host"));
    g_ptr_array_add(conn->args, g_strdup(conn->monHost));
    if (def->auth) {
        g_autoptr(GBytes) value = NULL;

        if (def->auth->authType != QVIR_STORAGE_AUTH_TYPE_CEPHX) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                                "unsupported configuration: rbd pool supports only 'ceph' "
                                "auth type");
            return NULL;
        }
        if (!(value = qvirStorageNetSecretValue(def, secrets, "ceph", error)) ||
            !qvirRBDWriteKey(conn, value, error))
            return NULL;
        g_ptr_array_add(conn->args, g_strdup("--id"));
        g_ptr_array_add(conn->args, g_strdup(def->auth->username));
        g_ptr_array_add(conn->args, g_strdup("--keyfile"));
        g_ptr_array_add(conn->args, g_strdup(conn->keyFile));
        g_ptr_array_add(conn->args, g_strdup("--auth-supported"));
        g_ptr_array_add(conn->args, g_strdup("cephx"));
    } else {
        g_ptr_array_add(conn->args, g_strdup("--auth-supported"));
        g_ptr_array_add(conn->args, g_strdup("none"));
    }
    return g_steal_pointer(&conn);
}

/* "rbd: ... failed: (13) Permission denied" -> 13 */
static int
qvirRBDErrno(const char *line)
{
    const char *open = strrchr(line, '(');

    if (!open || !g_ascii_isdigit(open[1]))
        return 0;
    return (int)g_ascii_strtoll(open + 1, NULL, 10);
}

/* Run TOOL with the connection's arguments and EXTRA; *OUT: its stdout. WHAT names the
 * operation in an error ("failed to create volume 'rbd/x'"). */
static gboolean
qvirRBDRun(qvirRBDConn *conn, const char *tool, const char *const *extra, char **out,
           const char *what, GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *stdoutText = NULL;
    g_autofree char *stderrText = NULL;
    g_autofree char *line = NULL;
    int status = 0;
    int err;

    g_ptr_array_add(argv, (gpointer)tool);
    for (guint i = 0; i < conn->args->len; i++)
        g_ptr_array_add(argv, g_ptr_array_index(conn->args, i));
    for (guint i = 0; extra[i]; i++)
        g_ptr_array_add(argv, (gpointer)extra[i]);
    g_ptr_array_add(argv, NULL);
    if (!qvirStorageNetRun((const char *const *)argv->pdata, NULL, &stdoutText, &stderrText,
                           &status, error))
        return FALSE;
    if (g_spawn_check_wait_status(status, NULL)) {
        if (out)
            *out = g_steal_pointer(&stdoutText);
        return TRUE;
    }
    line = qvirStorageNetLastLine(stderrText);
    err = qvirRBDErrno(line);
    /* a key that is no cephx key: librados' connect fails with ENOENT, the tool's own
     * wrapper says EINVAL */
    if (strstr(stderrText, "keyring not found"))
        err = ENOENT;
    if (strstr(stderrText, "couldn't connect to the cluster") ||
        strstr(stderrText, "error connecting to the cluster")) {
        /* libvirt: "failed to connect to the RADOS monitor on: HOSTS,: ERRNO" */
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "failed to connect to the RADOS monitor on: %s: %s", conn->monHost,
                    err ? g_strerror(err) : line);
        return FALSE;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "%s: %s", what,
                err ? g_strerror(err) : line);
    return FALSE;
}

static JsonNode *
qvirRBDParseJSON(const char *text, const char *what, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;

    if (!json_parser_load_from_data(parser, text, -1, &err) || !json_parser_get_root(parser)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: cannot parse the output of %s: %s", what,
                    err ? err->message : "empty");
        return NULL;
    }
    return json_node_copy(json_parser_get_root(parser));
}

static gboolean
qvirRBDJSONHasString(JsonArray *arr, const char *s)
{
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        if (g_strcmp0(json_array_get_string_element(arr, i), s) == 0)
            return TRUE;
    }
    return FALSE;
}

/* The volume of image NAME (SPEC: "POOL/NAME", its path and key), from "rbd info"; USED:
 * what "rbd du" counted for it (-1: not asked). As libvirt: the allocation is the extents
 * in use when the pool asks for it (<refresh><volume allocation='default'/>) and fast-diff
 * can say so cheaply, else every object the image may have. */
static qvirStorageVolDef *
qvirRBDVolFromInfo(const char *spec, const char *name, JsonObject *info, gint64 used)
{
    qvirStorageVolDef *vol = qvirStorageNetVolNew(name, spec);
    JsonArray *features = json_object_has_member(info, "features")
                              ? json_object_get_array_member(info, "features")
                              : NULL;
    JsonArray *flags =
        json_object_has_member(info, "flags") ? json_object_get_array_member(info, "flags") : NULL;
    gboolean fastDiff = qvirRBDJSONHasString(features, "fast-diff") &&
                        !qvirRBDJSONHasString(flags, "fast diff invalid");

    vol->capacity = (guint64)json_object_get_int_member_with_default(info, "size", 0);
    if (fastDiff && used >= 0)
        vol->allocation = (guint64)used;
    else
        vol->allocation = (guint64)json_object_get_int_member_with_default(info, "object_size", 0) *
                          (guint64)json_object_get_int_member_with_default(info, "objects", 0);
    return vol;
}

/* image name -> used bytes, from one "rbd du" over the pool */
static GHashTable *
qvirRBDUsage(qvirRBDConn *conn, GError **error)
{
    g_autofree char *out = NULL;
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *what =
        g_strdup_printf("failed to query the usage of pool '%s'", conn->poolName);
    GHashTable *used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    JsonArray *images;

    if (!qvirRBDRun(conn, "rbd",
                    (const char *const[]){"du", "--format", "json", "-p", conn->poolName, NULL},
                    &out, what, error) ||
        !(root = qvirRBDParseJSON(out, "rbd du", error))) {
        g_hash_table_unref(used);
        return NULL;
    }
    if (JSON_NODE_HOLDS_OBJECT(root) &&
        json_object_has_member(json_node_get_object(root), "images") &&
        (images = json_object_get_array_member(json_node_get_object(root), "images"))) {
        for (guint i = 0; i < json_array_get_length(images); i++) {
            JsonObject *img = json_array_get_object_element(images, i);
            const char *name = json_object_get_string_member_with_default(img, "name", NULL);

            /* snapshots are listed too, with a "snapshot" member */
            if (name && !json_object_has_member(img, "snapshot"))
                g_hash_table_insert(
                    used, g_strdup(name),
                    GSIZE_TO_POINTER(json_object_get_int_member_with_default(img, "used_size", 0)));
        }
    }
    return used;
}

/* libvirt: capacity and available from the cluster's statistics, allocation the pool's
 * bytes. A cluster without a ceph-mgr keeps no statistics: all three read 0 there, for
 * libvirt's librados calls as for the rados tool. */
static gboolean
qvirRBDPoolStats(qvirRBDConn *conn, qvirStoragePoolDef *def, GError **error)
{
    g_autofree char *out = NULL;
    g_autoptr(JsonNode) root = NULL;
    JsonObject *obj;
    JsonArray *pools;

    if (!qvirRBDRun(conn, "rados", (const char *const[]){"df", "--format", "json", NULL}, &out,
                    "failed to stat the RADOS cluster", error) ||
        !(root = qvirRBDParseJSON(out, "rados df", error)))
        return FALSE;
    if (!JSON_NODE_HOLDS_OBJECT(root))
        return TRUE;
    obj = json_node_get_object(root);
    def->capacity = (guint64)json_object_get_int_member_with_default(obj, "total_space", 0) * 1024;
    def->available = (guint64)json_object_get_int_member_with_default(obj, "total_avail", 0) * 1024;
    def->allocation = 0;
    pools =
        json_object_has_member(obj, "pools") ? json_object_get_array_member(obj, "pools") : NULL;
    for (guint i = 0; pools && i < json_array_get_length(pools); i++) {
        JsonObject *p = json_array_get_object_element(pools, i);

        if (g_strcmp0(json_object_get_string_member_with_default(p, "name", NULL),
                      conn->poolName) == 0)
            def->allocation = (guint64)json_object_get_int_member_with_default(p, "size_bytes", 0);
    }
    return TRUE;
}

static gboolean
qvirRBDRefresh(qvirStoragePoolDef *def, qvirSecretDriver *secrets, GPtrArray *vols, GError **error)
{
    g_autoptr(qvirRBDConn) conn = qvirRBDConnOpen(def, secrets, error);
    g_autofree char *out = NULL;
    g_autoptr(JsonNode) names = NULL;
    g_autoptr(GHashTable) used = NULL;
    g_autofree char *what = NULL;
    JsonArray *arr;

    if (!conn)
        return FALSE;
    what = g_strdup_printf("failed to list the images of pool '%s'", def->sourceName);
    if (!qvirRBDRun(conn, "rbd",
                    (const char *const[]){"ls", "--format", "json", def->sourceName, NULL}, &out,
                    what, error) ||
        !(names = qvirRBDParseJSON(out, "rbd ls", error)))
        return FALSE;
    if (!JSON_NODE_HOLDS_ARRAY(names)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: rbd ls did not print a list");
        return FALSE;
    }
    arr = json_node_get_array(names);
    if (def->refreshAllocation == QVIR_STORAGE_POOL_REFRESH_DEFAULT && json_array_get_length(arr) &&
        !(used = qvirRBDUsage(conn, error)))
        return FALSE;
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        const char *name = json_array_get_string_element(arr, i);
        g_autofree char *spec = g_strdup_printf("%s/%s", def->sourceName, name);
        g_autofree char *info = NULL;
        g_autofree char *failed = g_strdup_printf("failed to stat the RBD image '%s'", name);
        g_autoptr(GError) err = NULL;
        g_autoptr(JsonNode) root = NULL;
        gpointer usedBytes = NULL;
        gboolean haveUsed;

        if (!name)
            continue;
        if (!qvirRBDRun(conn, "rbd", (const char *const[]){"info", "--format", "json", spec, NULL},
                        &info, failed, &err)) {
            /* as libvirt: an image removed since the listing is skipped */
            if (g_str_has_suffix(err->message, g_strerror(ENOENT)))
                continue;
            g_propagate_error(error, g_steal_pointer(&err));
            return FALSE;
        }
        if (!(root = qvirRBDParseJSON(info, "rbd info", error)))
            return FALSE;
        if (!JSON_NODE_HOLDS_OBJECT(root))
            continue;
        haveUsed = used && g_hash_table_lookup_extended(used, name, NULL, &usedBytes);
        g_ptr_array_add(vols,
                        qvirRBDVolFromInfo(spec, name, json_node_get_object(root),
                                           haveUsed ? (gint64)GPOINTER_TO_SIZE(usedBytes) : -1));
    }
    return qvirRBDPoolStats(conn, def, error);
}

static gboolean
qvirRBDCreateVol(const qvirStoragePoolDef *def, qvirSecretDriver *secrets,
                 const qvirStorageVolDef *vol, GError **error)
{
    g_autoptr(qvirRBDConn) conn = NULL;
    g_autofree char *spec = g_strdup_printf("%s/%s", def->sourceName, vol->name);
    g_autofree char *size = g_strdup_printf("%" G_GUINT64_FORMAT "B", vol->capacity);
    g_autofree char *what = g_strdup_printf("failed to create volume '%s'", spec);

    if (!vol->capacity) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_NO_SUPPORT,
                            "this function is not supported by the connection driver: volume "
                            "capacity required for this storage pool");
        return FALSE;
    }
    if (vol->format != QVIR_STORAGE_FILE_NONE && vol->format != QVIR_STORAGE_FILE_RAW) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: only RAW volumes are supported by this "
                            "storage pool");
        return FALSE;
    }
    if (!(conn = qvirRBDConnOpen(def, secrets, error)))
        return FALSE;
    return qvirRBDRun(conn, "rbd", (const char *const[]){"create", "--size", size, spec, NULL},
                      NULL, what, error);
}

static gboolean
qvirRBDDeleteVol(const qvirStoragePoolDef *def, qvirSecretDriver *secrets,
                 const qvirStorageVolDef *vol, GError **error)
{
    g_autoptr(qvirRBDConn) conn = qvirRBDConnOpen(def, secrets, error);
    g_autofree char *spec = g_strdup_printf("%s/%s", def->sourceName, vol->name);
    g_autofree char *what = g_strdup_printf("failed to remove volume '%s'", spec);

    if (!conn)
        return FALSE;
    return qvirRBDRun(conn, "rbd", (const char *const[]){"rm", "--no-progress", spec, NULL}, NULL,
                      what, error);
}

const qvirStorageNetBackend qvirStorageBackendRBD = {
    .refresh = qvirRBDRefresh,
    .createVol = qvirRBDCreateVol,
    .deleteVol = qvirRBDDeleteVol,
};
