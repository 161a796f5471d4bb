/*
 * storage_netprobe.c: one network layer, described to qemu-img and read back.
 *
 * The protocol options are QEMU's blockdev schema (BlockdevOptionsNbd, -Curl, -Iscsi,
 * -Rbd, -Gluster, -Nfs, -Ssh), the same properties the -blockdev of that layer gets.
 */
#include "storage_netprobe.h"

#include <json-glib/json-glib.h>
#include <stdatomic.h>
#include <string.h>

#include "storage_probe.h"
#include "storage_run.h"
#include "util/virerror.h"

static atomic_uint_fast64_t qvirStorageNetProbes;

guint64
qvirStorageNetProbeCounter(void)
{
    return atomic_load(&qvirStorageNetProbes);
}

static char *
qvirNetProbePort(const qvirStorageNetHost *host)
{
    return g_strdup_printf("%u", host->port);
}

/* QAPI SocketAddress: {"type":"inet","host","port"} or {"type":"unix","path"}. */
static void
qvirNetProbeAddSocket(JsonBuilder *b, const qvirStorageNetHost *host, gboolean typed)
{
    json_builder_begin_object(b);
    if (host->transport == QVIR_STORAGE_NET_HOST_TRANS_UNIX) {
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, "unix");
        json_builder_set_member_name(b, "path");
        json_builder_add_string_value(b, host->socket);
    } else {
        g_autofree char *port = qvirNetProbePort(host);

        if (typed) {
            json_builder_set_member_name(b, "type");
            json_builder_add_string_value(b, "inet");
        }
        json_builder_set_member_name(b, "host");
        json_builder_add_string_value(b, host->name);
        if (host->port) {
            json_builder_set_member_name(b, "port");
            json_builder_add_string_value(b, port);
        }
    }
    json_builder_end_object(b);
}

static void
qvirNetProbeString(JsonBuilder *b, const char *key, const char *value)
{
    if (!value)
        return;
    json_builder_set_member_name(b, key);
    json_builder_add_string_value(b, value);
}

static gboolean
qvirNetProbeNeedHost(const qvirStorageSource *src, GError **error)
{
    if (src->nhosts == 0 ||
        (src->hosts[0].transport != QVIR_STORAGE_NET_HOST_TRANS_UNIX && !src->hosts[0].name)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "network layer '%s' names no host", src->path ? src->path : "");
        return FALSE;
    }
    return TRUE;
}

/* The curl drivers take one URL. */
static char *
qvirNetProbeURL(const qvirStorageSource *src)
{
    const qvirStorageNetHost *h = &src->hosts[0];
    gboolean v6 = strchr(h->name, ':') != NULL;

    return g_strdup_printf("%s://%s%s%s:%u/%s%s%s",
                           qvirStorageNetProtocolTypeToString(src->protocol), v6 ? "[" : "",
                           h->name, v6 ? "]" : "", h->port, src->path ? src->path : "",
                           src->query ? "?" : "", src->query ? src->query : "");
}

static gboolean
qvirNetProbeAddProtocol(JsonBuilder *b, const qvirStorageSource *src, GError **error)
{
    const char *proto = qvirStorageNetProtocolTypeToString(src->protocol);

    if (!qvirNetProbeNeedHost(src, error))
        return FALSE;
    json_builder_begin_object(b);
    qvirNetProbeString(b, "driver", proto);
    switch (src->protocol) {
    case QVIR_STORAGE_NET_PROTOCOL_NBD:
        json_builder_set_member_name(b, "server");
        qvirNetProbeAddSocket(b, &src->hosts[0], TRUE);
        qvirNetProbeString(b, "export", src->path);
        break;
    case QVIR_STORAGE_NET_PROTOCOL_HTTP:
    case QVIR_STORAGE_NET_PROTOCOL_HTTPS:
    case QVIR_STORAGE_NET_PROTOCOL_FTP:
    case QVIR_STORAGE_NET_PROTOCOL_FTPS:
    case QVIR_STORAGE_NET_PROTOCOL_TFTP: {
        g_autofree char *url = qvirNetProbeURL(src);

        qvirNetProbeString(b, "url", url);
        if (src->sslverify == QVIR_TRISTATE_BOOL_NO) {
            json_builder_set_member_name(b, "sslverify");
            json_builder_add_boolean_value(b, FALSE);
        }
        if (src->ncookies) {
            g_autoptr(GString) c = g_string_new(NULL);

            for (size_t i = 0; i < src->ncookies; i++)
                g_string_append_printf(c, "%s%s=%s", i ? "; " : "", src->cookies[i].name,
                                       src->cookies[i].value);
            qvirNetProbeString(b, "cookie", c->str);
        }
        if (src->timeout) {
            json_builder_set_member_name(b, "timeout");
            json_builder_add_int_value(b, (gint64)src->timeout);
        }
        break;
    }
    case QVIR_STORAGE_NET_PROTOCOL_ISCSI: {
        /* PATH is "target/lun" */
        const char *slash = src->path ? strrchr(src->path, '/') : NULL;
        g_autofree char *target =
            slash ? g_strndup(src->path, slash - src->path) : g_strdup(src->path);
        g_autofree char *portal = g_strdup_printf("%s:%u", src->hosts[0].name, src->hosts[0].port);

        qvirNetProbeString(b, "transport", "tcp");
        qvirNetProbeString(b, "portal", portal);
        qvirNetProbeString(b, "target", target);
        json_builder_set_member_name(b, "lun");
        json_builder_add_int_value(b, slash ? g_ascii_strtoll(slash + 1, NULL, 10) : 0);
        qvirNetProbeString(b, "initiator-name", src->initiatorIQN);
        break;
    }
    case QVIR_STORAGE_NET_PROTOCOL_RBD:
        qvirNetProbeString(b, "pool", src->netVolume);
        qvirNetProbeString(b, "image", src->path);
        qvirNetProbeString(b, "snapshot", src->snapshot);
        qvirNetProbeString(b, "conf", src->configFile);
        json_builder_set_member_name(b, "server");
        json_builder_begin_array(b);
        for (size_t i = 0; i < src->nhosts; i++)
            qvirNetProbeAddSocket(b, &src->hosts[i], FALSE);
        json_builder_end_array(b);
        break;
    case QVIR_STORAGE_NET_PROTOCOL_GLUSTER:
        qvirNetProbeString(b, "volume", src->netVolume);
        qvirNetProbeString(b, "path", src->path);
        json_builder_set_member_name(b, "server");
        json_builder_begin_array(b);
        for (size_t i = 0; i < src->nhosts; i++)
            qvirNetProbeAddSocket(b, &src->hosts[i], TRUE);
        json_builder_end_array(b);
        break;
    case QVIR_STORAGE_NET_PROTOCOL_NFS:
        json_builder_set_member_name(b, "server");
        qvirNetProbeAddSocket(b, &src->hosts[0], TRUE);
        qvirNetProbeString(b, "path", src->path);
        break;
    case QVIR_STORAGE_NET_PROTOCOL_SSH:
        json_builder_set_member_name(b, "server");
        qvirNetProbeAddSocket(b, &src->hosts[0], FALSE);
        qvirNetProbeString(b, "path", src->path);
        qvirNetProbeString(b, "user", src->sshUser);
        break;
    default:
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "cannot probe a network layer of protocol '%s'", proto);
        return FALSE;
    }
    json_builder_end_object(b);
    return TRUE;
}

char *
qvirStorageNetProbeJSON(const qvirStorageSource *src, GError **error)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;

    if (!qvirStorageSourceIsNetwork(src) || src->format <= QVIR_STORAGE_FILE_NONE ||
        src->format >= QVIR_STORAGE_FILE_LAST) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "network layer probe needs a network source of known format");
        return NULL;
    }
    json_builder_begin_object(b);
    qvirNetProbeString(b, "driver", qvirStorageFileFormatTypeToString(src->format));
    json_builder_set_member_name(b, "file");
    if (!qvirNetProbeAddProtocol(b, src, error))
        return NULL;
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}

static gboolean
qvirNetProbeParseInfo(qvirStorageSource *src, const char *out, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *info;
    const char *backing, *bfmt;

    if (!json_parser_load_from_data(parser, out, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_STORAGE_PROBE_FAILED,
                    "cannot parse qemu-img's description of network layer '%s'", src->path);
        return FALSE;
    }
    info = json_node_get_object(json_parser_get_root(parser));
    if (json_object_has_member(info, "virtual-size"))
        src->capacity = (unsigned long long)json_object_get_int_member(info, "virtual-size");
    src->encrypted = json_object_has_member(info, "encrypted") &&
                     json_object_get_boolean_member(info, "encrypted");
    backing = json_object_has_member(info, "backing-filename")
                  ? json_object_get_string_member(info, "backing-filename")
                  : NULL;
    bfmt = json_object_has_member(info, "backing-filename-format")
               ? json_object_get_string_member(info, "backing-filename-format")
               : NULL;
    g_free(src->backingStoreRaw);
    src->backingStoreRaw = g_strdup(backing);
    src->backingFormat = QVIR_STORAGE_FILE_NONE;
    if (backing && bfmt) {
        int fmt = qvirStorageProbeFormatFromQemuName(bfmt);

        if (fmt < 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_STORAGE_PROBE_FAILED,
                        "unknown backing format '%s' of network layer '%s'", bfmt, src->path);
            return FALSE;
        }
        src->backingFormat = (qvirStorageFileFormat)fmt;
    }
    return TRUE;
}

gboolean
qvirStorageNetProbeLayer(qvirStorageSource *src, const char *qemuImg, GError **error)
{
    g_autofree char *json = NULL;
    g_autofree char *filename = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) spawnErr = NULL;
    int status = 0;

    if (src && src->auth) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "probing network layer '%s' with credentials is not supported", src->path);
        return FALSE;
    }
    if (!(json = qvirStorageNetProbeJSON(src, error)))
        return FALSE;
    filename = g_strconcat("json:", json, NULL);
    {
        /* -U: a layer in use by a running QEMU may be read; nothing is written */
        const char *argv[] = {
            qemuImg ? qemuImg : "qemu-img", "info", "-U", "--output=json", filename, NULL};

        if (!qvirStorageSpawn(argv, NULL, &out, &err, &status, &spawnErr)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot run %s: %s", argv[0],
                        spawnErr->message);
            return FALSE;
        }
    }
    atomic_fetch_add(&qvirStorageNetProbes, 1);
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_STORAGE_PROBE_FAILED,
                    "cannot read network layer '%s' (protocol %s): %s", src->path ? src->path : "",
                    qvirStorageNetProtocolTypeToString(src->protocol), g_strstrip(err));
        return FALSE;
    }
    return qvirNetProbeParseInfo(src, out, error);
}
