#include "storage_source_conf.h"

#include "util/virerror.h"

QVIR_ENUM_IMPL(qvirStoragePoolMode, QVIR_STORAGE_POOL_MODE_LAST, "default", "host", "direct");
QVIR_ENUM_IMPL(qvirStorageType, QVIR_STORAGE_TYPE_LAST, "", "file", "block", "network");
QVIR_ENUM_IMPL(qvirStorageNetProtocol, QVIR_STORAGE_NET_PROTOCOL_LAST, "none", "nbd", "rbd",
               "sheepdog", "gluster", "iscsi", "http", "https", "ftp", "ftps", "tftp", "ssh",
               "vxhs", "nfs");
QVIR_ENUM_IMPL(qvirStorageNetHostTransport, QVIR_STORAGE_NET_HOST_TRANS_LAST, "tcp", "unix",
               "rdma");
QVIR_ENUM_IMPL(qvirStorageAuthType, QVIR_STORAGE_AUTH_TYPE_LAST, "none", "chap", "ceph");
QVIR_ENUM_IMPL(qvirStorageFileFormat, QVIR_STORAGE_FILE_LAST, "none", "raw", "iso", "qcow", "qcow2",
               "qed", "vmdk", "vpc", "vdi", "vhdx", "luks");

QVIR_ENUM_IMPL(qvirStorageEncryptionFormat, QVIR_STORAGE_ENCRYPTION_FORMAT_LAST, "default", "qcow",
               "luks", "luks2");
QVIR_ENUM_IMPL(qvirStorageEncryptionEngine, QVIR_STORAGE_ENCRYPTION_ENGINE_LAST, "default", "qemu",
               "librbd");

void
qvirStorageEncryptionFree(qvirStorageEncryption *enc)
{
    if (!enc)
        return;
    for (size_t i = 0; i < enc->nsecrets; i++) {
        g_free(enc->secrets[i].uuid);
        g_free(enc->secrets[i].usage);
    }
    g_free(enc->secrets);
    g_free(enc);
}

qvirStorageEncryption *
qvirStorageEncryptionCopy(const qvirStorageEncryption *enc)
{
    qvirStorageEncryption *copy;

    if (!enc)
        return NULL;
    copy = g_new0(qvirStorageEncryption, 1);
    *copy = *enc;
    copy->secrets = enc->nsecrets ? g_new0(qvirStorageEncryptionSecret, enc->nsecrets) : NULL;
    for (size_t i = 0; i < enc->nsecrets; i++) {
        copy->secrets[i].uuid = g_strdup(enc->secrets[i].uuid);
        copy->secrets[i].usage = g_strdup(enc->secrets[i].usage);
    }
    return copy;
}

qvirStorageSource *
qvirStorageSourceNew(void)
{
    return g_new0(qvirStorageSource, 1);
}

void
qvirStorageAuthFree(qvirStorageAuth *auth)
{
    if (!auth)
        return;
    g_free(auth->username);
    g_free(auth->secretType);
    g_free(auth->secretUUID);
    g_free(auth->secretUsage);
    g_free(auth);
}

qvirStorageAuth *
qvirStorageAuthCopy(const qvirStorageAuth *auth)
{
    qvirStorageAuth *copy;

    if (!auth)
        return NULL;
    copy = g_new0(qvirStorageAuth, 1);
    copy->username = g_strdup(auth->username);
    copy->authType = auth->authType;
    copy->secretType = g_strdup(auth->secretType);
    copy->secretUUID = g_strdup(auth->secretUUID);
    copy->secretUsage = g_strdup(auth->secretUsage);
    return copy;
}

void
qvirStorageNetHostClear(qvirStorageNetHost *host)
{
    g_clear_pointer(&host->name, g_free);
    g_clear_pointer(&host->socket, g_free);
}

static void
qvirStorageSourceNetworkFree(qvirStorageSource *src)
{
    for (size_t i = 0; i < src->nhosts; i++)
        qvirStorageNetHostClear(&src->hosts[i]);
    g_free(src->hosts);
    for (size_t i = 0; i < src->ncookies; i++) {
        g_free(src->cookies[i].name);
        g_free(src->cookies[i].value);
    }
    g_free(src->cookies);
    qvirStorageAuthFree(src->auth);
    qvirStorageEncryptionFree(src->encryption);
    g_free(src->netVolume);
    g_free(src->query);
    g_free(src->initiatorIQN);
    g_free(src->snapshot);
    g_free(src->configFile);
    g_free(src->tlsHostname);
    g_free(src->nfsUser);
    g_free(src->nfsGroup);
    g_free(src->sshUser);
    for (size_t i = 0; i < src->nseclabels; i++) {
        g_free(src->seclabels[i].model);
        g_free(src->seclabels[i].label);
    }
    g_free(src->seclabels);
}

/* The network fields of COPY are still SRC's pointers (after a struct copy): replace them
 * with copies of their own. */
static void
qvirStorageSourceNetworkCopy(qvirStorageSource *copy, const qvirStorageSource *src)
{
    copy->hosts = src->nhosts ? g_new0(qvirStorageNetHost, src->nhosts) : NULL;
    for (size_t i = 0; i < src->nhosts; i++) {
        copy->hosts[i].name = g_strdup(src->hosts[i].name);
        copy->hosts[i].port = src->hosts[i].port;
        copy->hosts[i].transport = src->hosts[i].transport;
        copy->hosts[i].socket = g_strdup(src->hosts[i].socket);
    }
    copy->cookies = src->ncookies ? g_new0(qvirStorageNetCookie, src->ncookies) : NULL;
    for (size_t i = 0; i < src->ncookies; i++) {
        copy->cookies[i].name = g_strdup(src->cookies[i].name);
        copy->cookies[i].value = g_strdup(src->cookies[i].value);
    }
    copy->auth = qvirStorageAuthCopy(src->auth);
    copy->encryption = qvirStorageEncryptionCopy(src->encryption);
    copy->netVolume = g_strdup(src->netVolume);
    copy->query = g_strdup(src->query);
    copy->initiatorIQN = g_strdup(src->initiatorIQN);
    copy->snapshot = g_strdup(src->snapshot);
    copy->configFile = g_strdup(src->configFile);
    copy->tlsHostname = g_strdup(src->tlsHostname);
    copy->nfsUser = g_strdup(src->nfsUser);
    copy->nfsGroup = g_strdup(src->nfsGroup);
    copy->sshUser = g_strdup(src->sshUser);
    /* (not network-only: every layer keeps its own labels) */
    copy->seclabels = src->nseclabels ? g_new0(qvirSecurityDeviceLabel, src->nseclabels) : NULL;
    for (size_t i = 0; i < src->nseclabels; i++) {
        copy->seclabels[i] = src->seclabels[i];
        copy->seclabels[i].model = g_strdup(src->seclabels[i].model);
        copy->seclabels[i].label = g_strdup(src->seclabels[i].label);
    }
}

const qvirSecurityDeviceLabel *
qvirStorageSourceGetSecurityLabel(const qvirStorageSource *src, const char *model)
{
    for (size_t i = 0; src && i < src->nseclabels; i++) {
        if (g_strcmp0(src->seclabels[i].model, model) == 0)
            return &src->seclabels[i];
    }
    return NULL;
}

static void qvirStorageSourceClearOne(qvirStorageSource *src);

static void
qvirStorageSourceFreeOne(qvirStorageSource *src)
{
    qvirStorageSourceClearOne(src);
    g_free(src);
}

void
qvirStorageSourceMoveInto(qvirStorageSource *dst, qvirStorageSource *src)
{
    qvirStorageSource *below = dst->backingStore;

    dst->backingStore = NULL;
    qvirStorageSourceFree(below);
    qvirStorageSourceClearOne(dst);
    *dst = *src;
    g_free(src);
}

/* Everything one layer owns, not the layer itself nor the chain below it. */
static void
qvirStorageSourceClearOne(qvirStorageSource *src)
{
    qvirStorageSourceNetworkFree(src);
    g_free(src->path);
    g_free(src->relPath);
    g_free(src->poolName);
    g_free(src->volName);
    g_free(src->backingStoreRaw);
    g_free(src->nodeStorage);
    g_free(src->nodeFormat);
}

void
qvirStorageSourceFree(qvirStorageSource *src)
{
    /* Iterative, so a 1000-layer chain cannot exhaust the stack. */
    while (src) {
        qvirStorageSource *next = src->backingStore;
        qvirStorageSourceFreeOne(src);
        src = next;
    }
}

static qvirStorageSource *
qvirStorageSourceCopyOne(const qvirStorageSource *src)
{
    qvirStorageSource *copy = g_new0(qvirStorageSource, 1);

    *copy = *src;
    copy->path = g_strdup(src->path);
    copy->relPath = g_strdup(src->relPath);
    copy->poolName = g_strdup(src->poolName);
    copy->volName = g_strdup(src->volName);
    copy->backingStoreRaw = g_strdup(src->backingStoreRaw);
    copy->nodeStorage = g_strdup(src->nodeStorage);
    copy->nodeFormat = g_strdup(src->nodeFormat);
    qvirStorageSourceNetworkCopy(copy, src);
    copy->backingStore = NULL;
    return copy;
}

qvirStorageSource *
qvirStorageSourceCopy(const qvirStorageSource *src)
{
    qvirStorageSource *top = NULL;
    qvirStorageSource **tail = &top;

    for (; src; src = src->backingStore) {
        *tail = qvirStorageSourceCopyOne(src);
        tail = &(*tail)->backingStore;
    }
    return top;
}

gboolean
qvirStorageSourceIsBacking(const qvirStorageSource *src)
{
    return src && src->type != QVIR_STORAGE_TYPE_NONE;
}

gboolean
qvirStorageSourceChainIsTerminated(const qvirStorageSource *src)
{
    for (; src; src = src->backingStore) {
        if (!qvirStorageSourceIsBacking(src))
            return TRUE;
    }
    return FALSE;
}

unsigned int
qvirStorageSourceChainLength(const qvirStorageSource *src)
{
    unsigned int n = 0;

    for (; qvirStorageSourceIsBacking(src); src = src->backingStore)
        n++;
    return n;
}

void
qvirStorageSourceChainClear(qvirStorageSource *src)
{
    if (!src)
        return;
    qvirStorageSourceFree(src->backingStore);
    src->backingStore = NULL;
}

gboolean
qvirStorageSourceIsNetwork(const qvirStorageSource *src)
{
    return src && src->type == QVIR_STORAGE_TYPE_NETWORK &&
           src->protocol != QVIR_STORAGE_NET_PROTOCOL_NONE;
}

gboolean
qvirStorageNetHostParsePort(const char *str, unsigned int *port, GError **error)
{
    guint64 val = 0;
    char *end = NULL;

    *port = 0;
    if (!str)
        return TRUE;
    if (!g_ascii_isdigit(*str) ||
        (val = g_ascii_strtoull(str, &end, 10), *end != '\0' || val > G_MAXUINT)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "failed to parse port number '%s'",
                    str);
        return FALSE;
    }
    if (val > G_MAXUINT16) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "port '%s' out of range", str);
        return FALSE;
    }
    *port = (unsigned int)val;
    return TRUE;
}

unsigned int
qvirStorageNetProtocolDefaultPort(qvirStorageNetProtocol protocol)
{
    static const unsigned int ports[QVIR_STORAGE_NET_PROTOCOL_LAST] = {
        [QVIR_STORAGE_NET_PROTOCOL_NBD] = 10809,     [QVIR_STORAGE_NET_PROTOCOL_SHEEPDOG] = 7000,
        [QVIR_STORAGE_NET_PROTOCOL_GLUSTER] = 24007, [QVIR_STORAGE_NET_PROTOCOL_ISCSI] = 3260,
        [QVIR_STORAGE_NET_PROTOCOL_HTTP] = 80,       [QVIR_STORAGE_NET_PROTOCOL_HTTPS] = 443,
        [QVIR_STORAGE_NET_PROTOCOL_FTP] = 21,        [QVIR_STORAGE_NET_PROTOCOL_FTPS] = 990,
        [QVIR_STORAGE_NET_PROTOCOL_TFTP] = 69,       [QVIR_STORAGE_NET_PROTOCOL_SSH] = 22,
        [QVIR_STORAGE_NET_PROTOCOL_VXHS] = 9999,
        /* rbd: librados picks its own; nfs: a port cannot be given at all */
    };

    if ((unsigned int)protocol >= QVIR_STORAGE_NET_PROTOCOL_LAST)
        return 0;
    return ports[protocol];
}

void
qvirStorageSourceNetworkAssignDefaultPorts(qvirStorageSource *src)
{
    for (size_t i = 0; i < src->nhosts; i++) {
        if (src->hosts[i].transport == QVIR_STORAGE_NET_HOST_TRANS_TCP && src->hosts[i].port == 0)
            src->hosts[i].port = qvirStorageNetProtocolDefaultPort(src->protocol);
    }
}
