/*
 * qemu_block.c: -blockdev / blockdev-add properties of one chain layer, in libvirt
 * 9.0's key order, shared by the cold-start argv and hot-plug.
 */
#include "qemu/qemu_block.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <glib/gstdio.h>

#include "qemu/qemu_domain.h"
#include "util/vircrypto.h"
#include "util/virerror.h"
#include "util/virsocketaddr.h"

void
qemuJSONSetStrFree(JsonObject *obj, const char *key, char *value)
{
    json_object_set_string_member(obj, key, value);
    g_free(value);
}

/* libvirt passes ports to QEMU as strings */
static void
qemuJSONSetPortString(JsonObject *obj, unsigned int port)
{
    qemuJSONSetStrFree(obj, "port", g_strdup_printf("%u", port));
}

/* A node owning OBJ (json_node_init_object would add a reference). */
static JsonNode *
qemuBlockTakeObject(JsonObject *obj)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), obj);

    json_object_unref(obj);
    return node;
}

/* Properties that apply to the whole chain or to its top only (libvirt:
 * qemuDomainPrepareDiskSourceData). */
static gboolean
qemuBlockIsTop(const qvirDomainDiskDef *disk, const qvirStorageSource *src)
{
    return disk->src == src;
}

static void
qemuBlockAddCache(JsonObject *obj, const qvirDomainDiskDef *disk)
{
    gboolean direct = FALSE, noflush = FALSE;
    JsonObject *cache;

    if (!qemuDomainDiskCacheModeFlags(disk->cachemode, NULL, &direct, &noflush))
        return;
    cache = json_object_new();
    json_object_set_boolean_member(cache, "direct", direct);
    json_object_set_boolean_member(cache, "no-flush", noflush);
    json_object_set_object_member(obj, "cache", cache);
}

static const char *
qemuBlockStorageDriver(const qvirDomainDiskDef *disk, const qvirStorageSource *src)
{
    if (src->type != QVIR_STORAGE_TYPE_BLOCK)
        return "file";
    if (qemuBlockIsTop(disk, src) && qemuDomainDiskIsHostCDROM(disk))
        return "host_cdrom";
    return "host_device";
}

/* ---- network layers ---------------------------------------------------------------- */

char *
qemuBlockSecretAlias(const qvirStorageSource *src, const char *what)
{
    return g_strdup_printf("%s-%s-secret0", src->nodeStorage ? src->nodeStorage : "", what);
}

char *
qemuBlockEncryptionSecretAlias(const qvirStorageSource *src)
{
    return g_strdup_printf("%s-encryption-secret0", src->nodeFormat ? src->nodeFormat : "");
}

/* TRUE when SRC's LUKS passphrase goes to QEMU (a <secret> in its <encryption>). */
static gboolean
qemuBlockHasEncryptionSecret(const qvirStorageSource *src)
{
    return src->encryption && src->encryption->nsecrets > 0;
}

/* {"format":"luks"|"luks2","key-secret":ALIAS}: qcow2's and librbd's encrypt option. */
static void
qemuBlockAddEncrypt(JsonObject *obj, const qvirStorageSource *src)
{
    JsonObject *enc = json_object_new();

    json_object_set_string_member(enc, "format",
                                  qvirStorageEncryptionFormatTypeToString(src->encryption->format));
    qemuJSONSetStrFree(enc, "key-secret", qemuBlockEncryptionSecretAlias(src));
    json_object_set_object_member(obj, "encrypt", enc);
}

char *
qemuBlockTLSAlias(const qvirStorageSource *src)
{
    return g_strdup_printf("obj%s_tls0", src->nodeStorage ? src->nodeStorage : "");
}

/* QEMU's SocketAddress: inet with the port as a string, or unix. */
static JsonObject *
qemuBlockSocketAddress(const qvirStorageNetHost *host, GError **error)
{
    JsonObject *obj = json_object_new();

    switch (host->transport) {
    case QVIR_STORAGE_NET_HOST_TRANS_TCP:
        json_object_set_string_member(obj, "type", "inet");
        json_object_set_string_member(obj, "host", host->name ? host->name : "");
        qemuJSONSetPortString(obj, host->port);
        return obj;
    case QVIR_STORAGE_NET_HOST_TRANS_UNIX:
        json_object_set_string_member(obj, "type", "unix");
        json_object_set_string_member(obj, "path", host->socket ? host->socket : "");
        return obj;
    case QVIR_STORAGE_NET_HOST_TRANS_RDMA:
    case QVIR_STORAGE_NET_HOST_TRANS_LAST:
        break;
    }
    json_object_unref(obj);
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                "transport protocol '%s' is not yet supported",
                qvirStorageNetHostTransportTypeToString(host->transport));
    return NULL;
}

/* QEMU's InetSocketAddress (host, port as a string): tcp hosts only. */
static JsonObject *
qemuBlockInetSocketAddress(const qvirStorageNetHost *host, GError **error)
{
    JsonObject *obj;

    if (host->transport != QVIR_STORAGE_NET_HOST_TRANS_TCP) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "only TCP protocol can be converted to InetSocketAddress");
        return NULL;
    }
    obj = json_object_new();
    json_object_set_string_member(obj, "host", host->name ? host->name : "");
    qemuJSONSetPortString(obj, host->port);
    return obj;
}

static gboolean
qemuBlockOneHost(const qvirStorageSource *src, const char *what, GError **error)
{
    if (src->nhosts == 1)
        return TRUE;
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "%s accepts only one host", what);
    return FALSE;
}

/* "http://host:port/path?query" as libvirt builds it for the curl drivers. */
static char *
qemuBlockSourceURI(const qvirStorageSource *src, GError **error)
{
    const qvirStorageNetHost *host;
    const char *proto = qvirStorageNetProtocolTypeToString(src->protocol);
    g_autoptr(GString) uri = g_string_new(NULL);

    if (src->nhosts != 1) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "protocol '%s' accepts only one host", proto);
        return NULL;
    }
    host = &src->hosts[0];
    if (host->transport == QVIR_STORAGE_NET_HOST_TRANS_TCP)
        g_string_append_printf(uri, "%s://", proto);
    else
        g_string_append_printf(uri, "%s+%s://", proto,
                               qvirStorageNetHostTransportTypeToString(host->transport));
    if (host->name) {
        /* an IPv6 literal goes in brackets */
        if (strchr(host->name, ':'))
            g_string_append_printf(uri, "[%s]", host->name);
        else
            g_string_append_uri_escaped(uri, host->name,
                                        G_URI_RESERVED_CHARS_SUBCOMPONENT_DELIMITERS, FALSE);
    }
    if (host->transport == QVIR_STORAGE_NET_HOST_TRANS_TCP && host->port)
        g_string_append_printf(uri, ":%u", host->port);
    if (src->path) {
        g_autofree char *path = NULL;

        if (src->netVolume)
            path = g_strdup_printf("/%s/%s", src->netVolume, src->path);
        else
            path = g_strdup_printf("%s%s", src->path[0] == '/' ? "" : "/", src->path);
        g_string_append_uri_escaped(uri, path, G_URI_RESERVED_CHARS_ALLOWED_IN_PATH, FALSE);
    }
    if (src->query)
        g_string_append_printf(uri, "?%s", src->query);
    return g_string_free(g_steal_pointer(&uri), FALSE);
}

/* NFS's numeric user/group: "+N" is N, a name is looked up; absent: -1 (QEMU's default). */
static gboolean
qemuBlockNFSId(const char *name, gboolean group, gint64 *out, GError **error)
{
    guint64 num;

    *out = -1;
    if (!name)
        return TRUE;
    if (name[0] == '+' &&
        g_ascii_string_to_unsigned(name + 1, 10, 0, G_MAXUINT32 - 1, &num, NULL)) {
        *out = (gint64)num;
        return TRUE;
    }
    if (group) {
        struct group grbuf, *gr = NULL;
        char buf[4096];

        if (getgrnam_r(name, &grbuf, buf, sizeof(buf), &gr) == 0 && gr) {
            *out = gr->gr_gid;
            return TRUE;
        }
    } else {
        struct passwd pwbuf, *pw = NULL;
        char buf[4096];

        if (getpwnam_r(name, &pwbuf, buf, sizeof(buf), &pw) == 0 && pw) {
            *out = pw->pw_uid;
            return TRUE;
        }
    }
    if (g_ascii_string_to_unsigned(name, 10, 0, G_MAXUINT32 - 1, &num, NULL)) {
        *out = (gint64)num;
        return TRUE;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "Failed to parse %s '%s'",
                group ? "group" : "user", name);
    return FALSE;
}

/* libvirt's cookie string: "name=value; name=value". */
static char *
qemuBlockCookieString(const qvirStorageSource *src)
{
    g_autoptr(GString) buf = g_string_new(NULL);

    for (size_t i = 0; i < src->ncookies; i++) {
        if (i)
            g_string_append(buf, "; ");
        g_string_append_printf(buf, "%s=%s", src->cookies[i].name, src->cookies[i].value);
    }
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

/* libvirt's gluster_debug_level default (qvirt has no such setting) */
#define QEMU_BLOCK_GLUSTER_DEBUG_LEVEL 4

/*
 * The protocol part of a network layer's storage node, in libvirt 9.0's key order; the
 * caller adds node-name and the common tail. Secrets are named by alias only: their
 * values travel in objects made beside (qemuBlockStorageSourceGetDepObjects).
 */
static gboolean
qemuBlockNetworkProps(JsonObject *obj, const qvirStorageSource *src, gboolean onlyTarget,
                      GError **error)
{
    /* ONLYTARGET: what names the image and nothing else (no credentials, no tuning), for
     * a backing string written into an overlay */
    g_autofree char *authAlias =
        src->auth && !onlyTarget ? qemuBlockSecretAlias(src, "auth") : NULL;
    const char *proto = qvirStorageNetProtocolTypeToString(src->protocol);

    if (!onlyTarget && src->haveTLS == QVIR_TRISTATE_BOOL_YES &&
        src->protocol != QVIR_STORAGE_NET_PROTOCOL_NBD &&
        src->protocol != QVIR_STORAGE_NET_PROTOCOL_VXHS) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "TLS transport is not supported for disk protocol '%s'", proto);
        return FALSE;
    }

    switch (src->protocol) {
    case QVIR_STORAGE_NET_PROTOCOL_GLUSTER: {
        JsonArray *servers = json_array_new();

        json_object_set_string_member(obj, "volume", src->netVolume ? src->netVolume : "");
        json_object_set_string_member(obj, "path", src->path ? src->path : "");
        json_object_set_array_member(obj, "server", servers);
        for (size_t i = 0; i < src->nhosts; i++) {
            JsonObject *server = qemuBlockSocketAddress(&src->hosts[i], error);

            if (!server)
                return FALSE;
            json_array_add_object_element(servers, server);
        }
        if (!onlyTarget)
            json_object_set_int_member(obj, "debug", QEMU_BLOCK_GLUSTER_DEBUG_LEVEL);
        return TRUE;
    }
    case QVIR_STORAGE_NET_PROTOCOL_VXHS: {
        JsonObject *server;

        if (!qemuBlockOneHost(src, "VxHS protocol", error) ||
            !(server = qemuBlockInetSocketAddress(&src->hosts[0], error)))
            return FALSE;
        if (src->haveTLS == QVIR_TRISTATE_BOOL_YES && !onlyTarget)
            qemuJSONSetStrFree(obj, "tls-creds", qemuBlockTLSAlias(src));
        json_object_set_string_member(obj, "vdisk-id", src->path ? src->path : "");
        json_object_set_object_member(obj, "server", server);
        return TRUE;
    }
    case QVIR_STORAGE_NET_PROTOCOL_HTTP:
    case QVIR_STORAGE_NET_PROTOCOL_HTTPS:
    case QVIR_STORAGE_NET_PROTOCOL_FTP:
    case QVIR_STORAGE_NET_PROTOCOL_FTPS:
    case QVIR_STORAGE_NET_PROTOCOL_TFTP: {
        char *url = qemuBlockSourceURI(src, error);

        if (!url)
            return FALSE;
        qemuJSONSetStrFree(obj, "url", url);
        if (authAlias) {
            json_object_set_string_member(obj, "username", src->auth->username);
            json_object_set_string_member(obj, "password-secret", authAlias);
        }
        if (src->sslverify != QVIR_TRISTATE_BOOL_ABSENT)
            json_object_set_boolean_member(obj, "sslverify",
                                           src->sslverify == QVIR_TRISTATE_BOOL_YES);
        if (src->ncookies && onlyTarget)
            qemuJSONSetStrFree(obj, "cookie", qemuBlockCookieString(src));
        else if (src->ncookies)
            qemuJSONSetStrFree(obj, "cookie-secret", qemuBlockSecretAlias(src, "httpcookie"));
        if (src->timeout)
            json_object_set_int_member(obj, "timeout", (gint64)src->timeout);
        if (src->readahead)
            json_object_set_int_member(obj, "readahead", (gint64)src->readahead);
        return TRUE;
    }
    case QVIR_STORAGE_NET_PROTOCOL_ISCSI: {
        const qvirStorageNetHost *host;
        g_autofree char *target = g_strdup(src->path ? src->path : "");
        char *lunStr = strchr(target, '/');
        guint64 lun = 0;

        if (src->nhosts < 1) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "protocol 'iscsi' accepts only one host");
            return FALSE;
        }
        host = &src->hosts[0];
        if (lunStr) {
            *lunStr++ = '\0';
            if (!g_ascii_string_to_unsigned(lunStr, 10, 0, G_MAXUINT, &lun, NULL)) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "cannot parse target for lunStr '%s'", target);
                return FALSE;
            }
        }
        qemuJSONSetStrFree(obj, "portal", qvirSocketAddrFormatHostPort(host->name, host->port));
        json_object_set_string_member(obj, "target", target);
        json_object_set_int_member(obj, "lun", (gint64)lun);
        json_object_set_string_member(obj, "transport", "tcp");
        if (authAlias) {
            json_object_set_string_member(obj, "user", src->auth->username);
            json_object_set_string_member(obj, "password-secret", authAlias);
        }
        if (src->initiatorIQN)
            json_object_set_string_member(obj, "initiator-name", src->initiatorIQN);
        return TRUE;
    }
    case QVIR_STORAGE_NET_PROTOCOL_NBD: {
        JsonObject *server;

        if (!qemuBlockOneHost(src, "nbd protocol", error) ||
            !(server = qemuBlockSocketAddress(&src->hosts[0], error)))
            return FALSE;
        json_object_set_object_member(obj, "server", server);
        if (src->path)
            json_object_set_string_member(obj, "export", src->path);
        if (src->haveTLS == QVIR_TRISTATE_BOOL_YES && !onlyTarget) {
            qemuJSONSetStrFree(obj, "tls-creds", qemuBlockTLSAlias(src));
            if (src->tlsHostname)
                json_object_set_string_member(obj, "tls-hostname", src->tlsHostname);
        }
        return TRUE;
    }
    case QVIR_STORAGE_NET_PROTOCOL_RBD: {
        json_object_set_string_member(obj, "pool", src->netVolume ? src->netVolume : "");
        json_object_set_string_member(obj, "image", src->path ? src->path : "");
        if (src->snapshot)
            json_object_set_string_member(obj, "snapshot", src->snapshot);
        if (src->configFile)
            json_object_set_string_member(obj, "conf", src->configFile);
        if (src->nhosts > 0) {
            JsonArray *servers = json_array_new();

            json_object_set_array_member(obj, "server", servers);
            for (size_t i = 0; i < src->nhosts; i++) {
                JsonObject *server = qemuBlockInetSocketAddress(&src->hosts[i], error);

                if (!server)
                    return FALSE;
                json_array_add_object_element(servers, server);
            }
        }
        if (!onlyTarget && qemuBlockHasEncryptionSecret(src) &&
            src->encryption->engine == QVIR_STORAGE_ENCRYPTION_ENGINE_LIBRBD)
            qemuBlockAddEncrypt(obj, src);
        if (authAlias) {
            JsonArray *modes = json_array_new();

            json_object_set_string_member(obj, "user", src->auth->username);
            /* libvirt's choice: cephx, falling back to none */
            json_array_add_string_element(modes, "cephx");
            json_array_add_string_element(modes, "none");
            json_object_set_array_member(obj, "auth-client-required", modes);
            json_object_set_string_member(obj, "key-secret", authAlias);
        }
        return TRUE;
    }
    case QVIR_STORAGE_NET_PROTOCOL_SHEEPDOG: {
        JsonObject *server;

        if (!qemuBlockOneHost(src, "sheepdog protocol", error) ||
            !(server = qemuBlockSocketAddress(&src->hosts[0], error)))
            return FALSE;
        json_object_set_object_member(obj, "server", server);
        json_object_set_string_member(obj, "vdi", src->path ? src->path : "");
        return TRUE;
    }
    case QVIR_STORAGE_NET_PROTOCOL_SSH: {
        JsonObject *server;
        const char *user = src->auth ? src->auth->username : src->sshUser;

        if (!qemuBlockOneHost(src, "ssh protocol", error) ||
            !(server = qemuBlockInetSocketAddress(&src->hosts[0], error)))
            return FALSE;
        json_object_set_string_member(obj, "path", src->path ? src->path : "");
        json_object_set_object_member(obj, "server", server);
        if (user)
            json_object_set_string_member(obj, "user", user);
        if (src->sshHostKeyCheckDisabled) {
            JsonObject *check = json_object_new();

            json_object_set_string_member(check, "mode", "none");
            json_object_set_object_member(obj, "host-key-check", check);
        }
        return TRUE;
    }
    case QVIR_STORAGE_NET_PROTOCOL_NFS: {
        JsonObject *server;
        gint64 uid, gid;

        if (src->nhosts < 1) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "protocol 'nfs' accepts only one host");
            return FALSE;
        }
        if (!qemuBlockNFSId(src->nfsUser, FALSE, &uid, error) ||
            !qemuBlockNFSId(src->nfsGroup, TRUE, &gid, error))
            return FALSE;
        server = json_object_new();
        json_object_set_string_member(server, "host", src->hosts[0].name ? src->hosts[0].name : "");
        json_object_set_string_member(server, "type", "inet");
        json_object_set_object_member(obj, "server", server);
        if (src->path)
            json_object_set_string_member(obj, "path", src->path);
        if (uid != -1)
            json_object_set_int_member(obj, "user", uid);
        if (gid != -1)
            json_object_set_int_member(obj, "group", gid);
        return TRUE;
    }
    case QVIR_STORAGE_NET_PROTOCOL_NONE:
    case QVIR_STORAGE_NET_PROTOCOL_LAST:
        break;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                "backing store '%s' is not in a form qvirt can hand QEMU",
                src->path ? src->path : "");
    return FALSE;
}

JsonNode *
qemuBlockStorageSourceGetBackendPropsFull(const qvirDomainDiskDef *disk,
                                          const qvirStorageSource *src, const qemuCaps *caps,
                                          GError **error)
{
    JsonObject *obj = json_object_new();

    if (src->type == QVIR_STORAGE_TYPE_NETWORK) {
        json_object_set_string_member(obj, "driver",
                                      qvirStorageNetProtocolTypeToString(src->protocol));
        if (!qemuBlockNetworkProps(obj, src, FALSE, error)) {
            json_object_unref(obj);
            return NULL;
        }
    } else {
        json_object_set_string_member(obj, "driver", qemuBlockStorageDriver(disk, src));
        json_object_set_string_member(obj, "filename", src->path ? src->path : "");
        if (disk->iomode != QVIR_DOMAIN_DISK_IO_DEFAULT)
            json_object_set_string_member(obj, "aio", qvirDomainDiskIoTypeToString(disk->iomode));
    }
    json_object_set_string_member(obj, "node-name", src->nodeStorage ? src->nodeStorage : "");
    qemuBlockAddCache(obj, disk);
    /* QEMU opens read-only layers read-only by itself, and the guest's discard
     * requests reach the protocol layer; the format node decides. */
    json_object_set_boolean_member(obj, "auto-read-only", TRUE);
    json_object_set_string_member(obj, "discard", "unmap");
    (void)caps;
    return qemuBlockTakeObject(obj);
}

JsonNode *
qemuBlockStorageSourceGetBackendProps(const qvirDomainDiskDef *disk, const qvirStorageSource *src,
                                      const qemuCaps *caps)
{
    g_autoptr(GError) error = NULL;
    JsonNode *props = qemuBlockStorageSourceGetBackendPropsFull(disk, src, caps, &error);

    /* callers of this form hand over local layers only, which cannot fail */
    g_return_val_if_fail(props != NULL, NULL);
    return props;
}

/* ---- secrets and TLS objects of a layer ------------------------------------------------ */

/* {"qom-type":"secret","id":ID,"data":…,"keyid":"masterKey0","iv":…,"format":"base64"}:
 * VALUE encrypted with the domain's master key, so it never appears in clear. */
static JsonObject *
qemuBlockSecretObject(const char *id, const guint8 *value, gsize len,
                      const qemuBlockSecretCtx *sctx, GError **error)
{
    guint8 iv[QVIR_CRYPTO_AES_BLOCK_LEN];
    g_autofree guint8 *cipher = NULL;
    gsize cipherLen = 0;
    JsonObject *obj;

    if (!sctx || !sctx->masterKey) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "cannot pass secret '%s' to QEMU: the domain has no master key", id);
        return NULL;
    }
    if (sctx->fixedIV) {
        for (guint i = 0; i < sizeof(iv); i++)
            iv[i] = (guint8)i;
    } else if (!qvirCryptoRandomBytes(iv, sizeof(iv), error)) {
        return NULL;
    }
    if (!qvirCryptoAES256CBCEncrypt(sctx->masterKey, iv, value, len, &cipher, &cipherLen, error))
        return NULL;
    obj = json_object_new();
    json_object_set_string_member(obj, "qom-type", "secret");
    json_object_set_string_member(obj, "id", id);
    qemuJSONSetStrFree(obj, "data", g_base64_encode(cipher, cipherLen));
    json_object_set_string_member(obj, "keyid", "masterKey0");
    qemuJSONSetStrFree(obj, "iv", g_base64_encode(iv, sizeof(iv)));
    json_object_set_string_member(obj, "format", "base64");
    return obj;
}

JsonObject *
qemuBlockLookupSecretObject(const char *alias, const qemuBlockSecretCtx *sctx, const char *uuid,
                            const char *usageType, const char *usageID, GError **error)
{
    g_autoptr(GBytes) value = NULL;
    const guint8 *data;
    gsize len = 0;

    if (!sctx || !sctx->lookup) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "no secret driver to look up the %s secret '%s'", usageType,
                    uuid ? uuid : usageID);
        return NULL;
    }
    if (!(value = sctx->lookup(sctx->opaque, uuid, usageType, usageID, error)))
        return NULL;
    data = g_bytes_get_data(value, &len);
    return qemuBlockSecretObject(alias, data, len, sctx, error);
}

/* The auth secret's value: iscsi usage for every protocol but rbd, as libvirt asks. */
static JsonObject *
qemuBlockAuthSecretObject(const qvirStorageSource *src, const qemuBlockSecretCtx *sctx,
                          GError **error)
{
    const char *usage = src->protocol == QVIR_STORAGE_NET_PROTOCOL_RBD ? "ceph" : "iscsi";
    g_autofree char *alias = qemuBlockSecretAlias(src, "auth");

    return qemuBlockLookupSecretObject(alias, sctx, src->auth->secretUUID, usage,
                                       src->auth->secretUsage, error);
}

/* The LUKS passphrase as a secret object: libvirt looks it up as a "volume" secret. */
static gboolean
qemuBlockEncryptionSecretDep(const qvirStorageSource *src, const qemuBlockSecretCtx *sctx,
                             GPtrArray *objects, GError **error)
{
    g_autofree char *alias = NULL;
    JsonObject *obj;

    if (!qemuBlockHasEncryptionSecret(src))
        return TRUE;
    alias = qemuBlockEncryptionSecretAlias(src);
    if (!(obj = qemuBlockLookupSecretObject(alias, sctx, src->encryption->secrets[0].uuid, "volume",
                                            src->encryption->secrets[0].usage, error)))
        return FALSE;
    g_ptr_array_add(objects, qemuBlockTakeObject(obj));
    return TRUE;
}

JsonObject *
qemuBlockTLSCredsObject(const char *alias, const char *dir, gboolean listen, gboolean verify,
                        const char *passwordid)
{
    JsonObject *obj = json_object_new();

    json_object_set_string_member(obj, "qom-type", "tls-creds-x509");
    json_object_set_string_member(obj, "id", alias);
    json_object_set_string_member(obj, "dir", dir);
    json_object_set_string_member(obj, "endpoint", listen ? "server" : "client");
    json_object_set_boolean_member(obj, "verify-peer", listen ? verify : TRUE);
    if (passwordid)
        json_object_set_string_member(obj, "passwordid", passwordid);
    return obj;
}

gboolean
qemuBlockStorageSourceGetDepObjects(const qvirStorageSource *src, const qemuBlockSecretCtx *sctx,
                                    GPtrArray *objects, GError **error)
{
    JsonObject *obj;

    if (src->type != QVIR_STORAGE_TYPE_NETWORK)
        return qemuBlockEncryptionSecretDep(src, sctx, objects, error);
    if (src->auth) {
        if (!(obj = qemuBlockAuthSecretObject(src, sctx, error)))
            return FALSE;
        g_ptr_array_add(objects, qemuBlockTakeObject(obj));
    }
    if (!qemuBlockEncryptionSecretDep(src, sctx, objects, error))
        return FALSE;
    if (src->ncookies) {
        g_autofree char *alias = qemuBlockSecretAlias(src, "httpcookie");
        g_autofree char *cookies = qemuBlockCookieString(src);

        if (!(obj = qemuBlockSecretObject(alias, (const guint8 *)cookies, strlen(cookies), sctx,
                                          error)))
            return FALSE;
        g_ptr_array_add(objects, qemuBlockTakeObject(obj));
    }
    if (src->haveTLS == QVIR_TRISTATE_BOOL_YES &&
        (src->protocol == QVIR_STORAGE_NET_PROTOCOL_NBD ||
         src->protocol == QVIR_STORAGE_NET_PROTOCOL_VXHS)) {
        g_autofree char *tlsAlias = qemuBlockTLSAlias(src);
        g_autofree char *keyAlias = NULL;
        const char *dir = sctx && sctx->nbdTLSx509certdir ? sctx->nbdTLSx509certdir
                                                          : QEMU_BLOCK_DEFAULT_TLS_X509_CERT_DIR;

        if (sctx && sctx->nbdTLSx509secretUUID) {
            keyAlias = g_strdup_printf("%s-secret0", tlsAlias);
            if (!(obj = qemuBlockLookupSecretObject(keyAlias, sctx, sctx->nbdTLSx509secretUUID,
                                                    "tls", NULL, error)))
                return FALSE;
            g_ptr_array_add(objects, qemuBlockTakeObject(obj));
        }
        obj = qemuBlockTLSCredsObject(tlsAlias, dir, FALSE, TRUE, keyAlias);
        g_ptr_array_add(objects, qemuBlockTakeObject(obj));
    }
    return TRUE;
}

void
qemuBlockStorageSourceGetDepObjectIds(const qvirStorageSource *src, const qemuBlockSecretCtx *sctx,
                                      GPtrArray *ids)
{
    if (src->type != QVIR_STORAGE_TYPE_NETWORK) {
        if (qemuBlockHasEncryptionSecret(src))
            g_ptr_array_add(ids, qemuBlockEncryptionSecretAlias(src));
        return;
    }
    if (src->auth)
        g_ptr_array_add(ids, qemuBlockSecretAlias(src, "auth"));
    if (qemuBlockHasEncryptionSecret(src))
        g_ptr_array_add(ids, qemuBlockEncryptionSecretAlias(src));
    if (src->ncookies)
        g_ptr_array_add(ids, qemuBlockSecretAlias(src, "httpcookie"));
    if (src->haveTLS == QVIR_TRISTATE_BOOL_YES &&
        (src->protocol == QVIR_STORAGE_NET_PROTOCOL_NBD ||
         src->protocol == QVIR_STORAGE_NET_PROTOCOL_VXHS)) {
        g_autofree char *tlsAlias = qemuBlockTLSAlias(src);

        /* the credentials first: they hold a reference to their key secret */
        g_ptr_array_add(ids, g_strdup(tlsAlias));
        if (sctx && sctx->nbdTLSx509secretUUID)
            g_ptr_array_add(ids, g_strdup_printf("%s-secret0", tlsAlias));
    }
}

static const char *
qemuBlockFormatDriver(qvirStorageFileFormat format)
{
    switch (format) {
    case QVIR_STORAGE_FILE_NONE:
    case QVIR_STORAGE_FILE_RAW:
    case QVIR_STORAGE_FILE_ISO:
        return "raw";
    case QVIR_STORAGE_FILE_QCOW:
    case QVIR_STORAGE_FILE_QCOW2:
    case QVIR_STORAGE_FILE_QED:
    case QVIR_STORAGE_FILE_VMDK:
    case QVIR_STORAGE_FILE_VPC:
    case QVIR_STORAGE_FILE_VDI:
    case QVIR_STORAGE_FILE_VHDX:
    case QVIR_STORAGE_FILE_LUKS:
        return qvirStorageFileFormatTypeToString(format);
    case QVIR_STORAGE_FILE_LAST:
    default:
        return "raw";
    }
}

gboolean
qemuBlockFormatSupportsBacking(qvirStorageFileFormat format)
{
    return format == QVIR_STORAGE_FILE_QCOW || format == QVIR_STORAGE_FILE_QCOW2 ||
           format == QVIR_STORAGE_FILE_QED || format == QVIR_STORAGE_FILE_VMDK;
}

const char *
qemuBlockDetectZeroesValue(const qvirDomainDiskDef *disk)
{
    if (disk->detect_zeroes == QVIR_DOMAIN_DISK_DETECT_ZEROES_DEFAULT)
        return NULL;
    /* QEMU refuses detect-zeroes=unmap unless discard=unmap. */
    if (disk->detect_zeroes == QVIR_DOMAIN_DISK_DETECT_ZEROES_UNMAP &&
        disk->discard != QVIR_DOMAIN_DISK_DISCARD_UNMAP)
        return "on";
    return qvirDomainDiskDetectZeroesTypeToString(disk->detect_zeroes);
}

JsonNode *
qemuBlockStorageSourceGetFormatProps(const qvirDomainDiskDef *disk, const qvirStorageSource *src,
                                     const qemuCaps *caps)
{
    JsonObject *obj = json_object_new();
    gboolean top = qemuBlockIsTop(disk, src);
    const char *dz;

    json_object_set_string_member(obj, "node-name", src->nodeFormat ? src->nodeFormat : "");
    json_object_set_boolean_member(obj, "read-only", top ? src->readonly : TRUE);
    /* libvirt's order: the common properties, then the cache object */
    if (disk->discard != QVIR_DOMAIN_DISK_DISCARD_DEFAULT)
        json_object_set_string_member(obj, "discard",
                                      qvirDomainDiskDiscardTypeToString(disk->discard));
    if (top && (dz = qemuBlockDetectZeroesValue(disk)))
        json_object_set_string_member(obj, "detect-zeroes", dz);
    qemuBlockAddCache(obj, disk);
    if (qemuBlockHasEncryptionSecret(src) &&
        src->encryption->engine == QVIR_STORAGE_ENCRYPTION_ENGINE_QEMU &&
        src->encryption->format == QVIR_STORAGE_ENCRYPTION_FORMAT_LUKS &&
        (src->format == QVIR_STORAGE_FILE_RAW || src->format == QVIR_STORAGE_FILE_NONE)) {
        /* a raw LUKS image: QEMU's luks driver decrypts it */
        json_object_set_string_member(obj, "driver", "luks");
        qemuJSONSetStrFree(obj, "key-secret", qemuBlockEncryptionSecretAlias(src));
    } else {
        json_object_set_string_member(obj, "driver", qemuBlockFormatDriver(src->format));
    }
    if (src->format == QVIR_STORAGE_FILE_QCOW2 && qemuBlockHasEncryptionSecret(src) &&
        src->encryption->engine == QVIR_STORAGE_ENCRYPTION_ENGINE_QEMU)
        qemuBlockAddEncrypt(obj, src);
    /* qcow2's L2 + refcount cache; other formats have no such knob (libvirt ignores it) */
    if (src->format == QVIR_STORAGE_FILE_QCOW2 && src->metadataCacheMaxSize)
        json_object_set_int_member(obj, "cache-size", (gint64)src->metadataCacheMaxSize);
    json_object_set_string_member(obj, "file", src->nodeStorage ? src->nodeStorage : "");

    /* No "backing" key lets QEMU open an unknown chain itself; null ends a known one. */
    if (qemuBlockFormatSupportsBacking(src->format) && src->backingStore) {
        if (qvirStorageSourceIsBacking(src->backingStore))
            json_object_set_string_member(
                obj, "backing", src->backingStore->nodeFormat ? src->backingStore->nodeFormat : "");
        else
            json_object_set_null_member(obj, "backing");
    }
    (void)caps;
    return qemuBlockTakeObject(obj);
}

char *
qemuBlockJSONToString(JsonNode *props)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();

    json_generator_set_root(gen, props);
    return json_generator_to_data(gen, NULL);
}

/* ---- transient disks ------------------------------------------------------------------- */

char *
qemuBlockTransientOverlayPath(const char *imagePath, const char *domName)
{
    return g_strdup_printf("%s.TRANSIENT-%s", imagePath, domName);
}

void
qemuBlockRemoveTransientOverlay(const qvirDomainDiskDef *disk, const char *domName)
{
    const qvirStorageSource *base;
    g_autofree char *expect = NULL;

    if (!disk->transient || !disk->src || !disk->src->path)
        return;
    base = disk->src->backingStore;
    if (!qvirStorageSourceIsBacking(base) || !base->path)
        return;
    expect = qemuBlockTransientOverlayPath(base->path, domName);
    if (strcmp(disk->src->path, expect) != 0)
        return;
    if (g_unlink(expect) < 0 && errno != ENOENT)
        g_message("cannot remove transient overlay '%s' of disk '%s': %s", expect, disk->dst,
                  g_strerror(errno));
}

char *
qemuBlockGetBackingStoreString(const qvirStorageSource *src, GError **error)
{
    g_autoptr(JsonObject) obj = NULL;
    g_autoptr(JsonNode) node = NULL;
    g_autofree char *json = NULL;

    if (src->type != QVIR_STORAGE_TYPE_NETWORK || src->protocol == QVIR_STORAGE_NET_PROTOCOL_NONE)
        return g_strdup(src->path);

    /* a plain URI where it says everything (libvirt's simplified form) */
    if (src->nhosts == 1 && src->hosts[0].transport == QVIR_STORAGE_NET_HOST_TRANS_TCP &&
        src->timeout == 0 && src->ncookies == 0 && src->sslverify == QVIR_TRISTATE_BOOL_ABSENT &&
        src->readahead == 0) {
        switch (src->protocol) {
        case QVIR_STORAGE_NET_PROTOCOL_NBD:
        case QVIR_STORAGE_NET_PROTOCOL_HTTP:
        case QVIR_STORAGE_NET_PROTOCOL_HTTPS:
        case QVIR_STORAGE_NET_PROTOCOL_FTP:
        case QVIR_STORAGE_NET_PROTOCOL_FTPS:
        case QVIR_STORAGE_NET_PROTOCOL_TFTP:
        case QVIR_STORAGE_NET_PROTOCOL_ISCSI:
        case QVIR_STORAGE_NET_PROTOCOL_GLUSTER:
            return qemuBlockSourceURI(src, error);
        default:
            break;
        }
    }

    /* QEMU's json: pseudo-protocol otherwise: the storage node, credentials left out */
    obj = json_object_new();
    json_object_set_string_member(obj, "driver", qvirStorageNetProtocolTypeToString(src->protocol));
    if (!qemuBlockNetworkProps(obj, src, TRUE, error))
        return NULL;
    node = json_node_init_object(json_node_alloc(), obj);
    json = qemuBlockJSONToString(node);
    return g_strdup_printf("json:{\"file\":%s}", json);
}
