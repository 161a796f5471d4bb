/*
 * domain_format.c: qvirDomainDef -> libvirt's canonical domain XML.
 *
 * Element and attribute order follow libvirt 9.0's formatter, so that our output can be
 * compared with libvirt's byte for byte: 2-space indent, single-quoted attributes,
 * empty elements written as <name/>. Formatting never fails on a parsed definition.
 */
#include "conf/domain_conf.h"

#include <string.h>
#include <libxml/tree.h>

/* ---- low-level writers ---------------------------------------------------- */

static void
qvirBufIndent(GString *buf, unsigned int indent)
{
    for (unsigned int i = 0; i < indent; i++)
        g_string_append_c(buf, ' ');
}

/* libvirt's escaping; control characters XML 1.0 cannot carry are dropped. */
static void
qvirBufEscape(GString *buf, const char *str)
{
    for (const char *p = str; *p; p++) {
        switch (*p) {
        case '<':
            g_string_append(buf, "&lt;");
            break;
        case '>':
            g_string_append(buf, "&gt;");
            break;
        case '&':
            g_string_append(buf, "&amp;");
            break;
        case '\'':
            g_string_append(buf, "&apos;");
            break;
        case '"':
            g_string_append(buf, "&quot;");
            break;
        default:
            if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                break;
            g_string_append_c(buf, *p);
        }
    }
}

/* " name='value'" with VALUE escaped; nothing when VALUE is NULL. */
static void
qvirBufAttr(GString *attrs, const char *name, const char *value)
{
    if (!value)
        return;
    g_string_append_printf(attrs, " %s='", name);
    qvirBufEscape(attrs, value);
    g_string_append_c(attrs, '\'');
}

static void
qvirBufAttrUInt(GString *attrs, const char *name, unsigned long long value)
{
    g_string_append_printf(attrs, " %s='%llu'", name, value);
}

/* <name>text</name> on one line; nothing when TEXT is NULL. */
static void
qvirBufTextElement(GString *buf, unsigned int indent, const char *name, const char *text)
{
    if (!text)
        return;
    qvirBufIndent(buf, indent);
    g_string_append_printf(buf, "<%s>", name);
    qvirBufEscape(buf, text);
    g_string_append_printf(buf, "</%s>\n", name);
}

/*
 * Write <name ATTRS/> or <name ATTRS>\nCHILDREN</name>. CHILDREN must already be indented
 * by INDENT + 2. Either may be NULL.
 */
static void
qvirBufElement(GString *buf, unsigned int indent, const char *name, const GString *attrs,
               const GString *children)
{
    qvirBufIndent(buf, indent);
    g_string_append_printf(buf, "<%s%s", name, attrs ? attrs->str : "");
    if (!children || children->len == 0) {
        g_string_append(buf, "/>\n");
        return;
    }
    g_string_append(buf, ">\n");
    g_string_append_len(buf, children->str, children->len);
    qvirBufIndent(buf, indent);
    g_string_append_printf(buf, "</%s>\n", name);
}

/* Like qvirBufElement, but writes nothing at all when both ATTRS and CHILDREN are empty. */
static void
qvirBufElementOptional(GString *buf, unsigned int indent, const char *name, const GString *attrs,
                       const GString *children)
{
    if ((!attrs || attrs->len == 0) && (!children || children->len == 0))
        return;
    qvirBufElement(buf, indent, name, attrs, children);
}

static gboolean
qvirFormatIsLive(unsigned int flags)
{
    return (flags & (QVIR_DOMAIN_DEF_FORMAT_LIVE | QVIR_DOMAIN_DEF_FORMAT_STATUS)) != 0;
}

/* ---- device info: <boot>, <alias>, <address> -------------------------------- */

static void
qvirDomainDeviceAddressFormat(GString *buf, unsigned int indent, const qvirDomainDeviceInfo *info)
{
    g_autoptr(GString) attrs = g_string_new(NULL);

    switch (info->type) {
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI:
        g_string_append_printf(attrs,
                               " type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x'"
                               " function='0x%x'",
                               info->addr.pci.domain, info->addr.pci.bus, info->addr.pci.slot,
                               info->addr.pci.function);
        if (info->addr.pci.multifunction != QVIR_TRISTATE_SWITCH_ABSENT)
            qvirBufAttr(attrs, "multifunction",
                        qvirTristateSwitchTypeToString(info->addr.pci.multifunction));
        break;
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE:
        g_string_append_printf(attrs,
                               " type='drive' controller='%u' bus='%u' target='%u' unit='%u'",
                               info->addr.drive.controller, info->addr.drive.bus,
                               info->addr.drive.target, info->addr.drive.unit);
        break;
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB:
        g_string_append_printf(attrs, " type='usb' bus='%u'", info->addr.usb.bus);
        if (info->addr.usb.port[0])
            qvirBufAttr(attrs, "port", info->addr.usb.port);
        break;
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_VIRTIO_SERIAL:
        g_string_append_printf(attrs, " type='virtio-serial' controller='%u' bus='%u' port='%u'",
                               info->addr.vioser.controller, info->addr.vioser.bus,
                               info->addr.vioser.port);
        break;
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE:
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_LAST:
    default:
        return;
    }
    qvirBufElement(buf, indent, "address", attrs, NULL);
}

/* libvirt's order: <boot>, <alias>, <master>, <acpi>, <address>. Aliases are runtime data: live XML
 * only.
 */
static void
qvirDomainDeviceInfoFormat(GString *buf, unsigned int indent, const qvirDomainDeviceInfo *info,
                           unsigned int flags, gboolean allowBoot)
{
    if (allowBoot && info->bootIndex) {
        qvirBufIndent(buf, indent);
        g_string_append_printf(buf, "<boot order='%u'/>\n", info->bootIndex);
    }
    if (qvirFormatIsLive(flags) && info->alias) {
        qvirBufIndent(buf, indent);
        g_string_append(buf, "<alias name='");
        qvirBufEscape(buf, info->alias);
        g_string_append(buf, "'/>\n");
    }
    if (info->usbMaster) {
        qvirBufIndent(buf, indent);
        g_string_append_printf(buf, "<master startport='%u'/>\n", info->usbStartPort);
    }
    if (info->acpiIndex) {
        qvirBufIndent(buf, indent);
        g_string_append_printf(buf, "<acpi index='%u'/>\n", info->acpiIndex);
    }
    qvirDomainDeviceAddressFormat(buf, indent, info);
}

/* ---- storage sources and backing chains ------------------------------------ */

/*
 * A probed backing string qvirt could not parse (PROTOCOL NONE): its path is the backing
 * name as the overlay stores it. A URI ("nbd://host:10809/export") becomes a protocol/name
 * plus a <host>; anything else ("json:{...}") is shown by its prefix alone.
 */
static void
qvirStorageSourceRawNetworkFormat(GString *attrs, GString *children, unsigned int indent,
                                  const qvirStorageSource *src)
{
    const char *path = src->path ? src->path : "";
    g_autoptr(GUri) uri = g_uri_parse(path, G_URI_FLAGS_NON_DNS, NULL);
    const char *colon = strchr(path, ':');
    g_autofree char *protocol = NULL;

    if (uri && g_uri_get_host(uri) && *g_uri_get_host(uri)) {
        const char *name = g_uri_get_path(uri);

        while (name && *name == '/')
            name++;
        qvirBufAttr(attrs, "protocol", g_uri_get_scheme(uri));
        if (name && *name)
            qvirBufAttr(attrs, "name", name);
        qvirBufIndent(children, indent);
        g_string_append(children, "<host");
        qvirBufAttr(children, "name", g_uri_get_host(uri));
        if (g_uri_get_port(uri) > 0)
            g_string_append_printf(children, " port='%d'", g_uri_get_port(uri));
        g_string_append(children, "/>\n");
        return;
    }
    protocol = colon ? g_strndup(path, colon - path) : g_strdup("nbd");
    qvirBufAttr(attrs, "protocol", protocol);
    qvirBufAttr(attrs, "name", colon ? colon + 1 : path);
}

/* <auth username=><secret type= uuid=|usage=/></auth> */
static void
qvirStorageAuthFormat(GString *buf, unsigned int indent, const qvirStorageAuth *auth)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) secret = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);

    if (auth->authType != QVIR_STORAGE_AUTH_TYPE_NONE)
        qvirBufAttr(attrs, "type", qvirStorageAuthTypeTypeToString(auth->authType));
    qvirBufAttr(attrs, "username", auth->username);
    qvirBufAttr(secret, "type", auth->secretType);
    qvirBufAttr(secret, "uuid", auth->secretUUID);
    qvirBufAttr(secret, "usage", auth->secretUsage);
    qvirBufElement(children, indent + 2, "secret", secret, NULL);
    qvirBufElement(buf, indent, "auth", attrs, children);
}

/*
 * A network layer's <source> attributes and children, in libvirt's order. Cookies may
 * carry session credentials: like libvirt they are written only into the secure view
 * (the daemon's own files, dumpxml --security-info).
 */
static void
qvirStorageSourceNetworkFormat(GString *attrs, GString *children, unsigned int indent,
                               const qvirStorageSource *src, unsigned int flags)
{
    g_autofree char *name = NULL;

    if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_NONE) {
        qvirStorageSourceRawNetworkFormat(attrs, children, indent, src);
        return;
    }
    if (src->netVolume)
        name = g_strdup_printf("%s/%s", src->netVolume, src->path ? src->path : "");
    qvirBufAttr(attrs, "protocol", qvirStorageNetProtocolTypeToString(src->protocol));
    qvirBufAttr(attrs, "name", name ? name : src->path);
    qvirBufAttr(attrs, "query", src->query);
    if (src->haveTLS != QVIR_TRISTATE_BOOL_ABSENT &&
        (!src->tlsFromConfig || qvirFormatIsLive(flags)))
        qvirBufAttr(attrs, "tls", qvirTristateBoolTypeToString(src->haveTLS));
    qvirBufAttr(attrs, "tlsHostname", src->tlsHostname);
    if ((flags & QVIR_DOMAIN_DEF_FORMAT_STATUS) && src->tlsFromConfig)
        qvirBufAttr(attrs, "tlsFromConfig", "1");

    for (size_t i = 0; i < src->nhosts; i++) {
        const qvirStorageNetHost *host = &src->hosts[i];

        qvirBufIndent(children, indent);
        g_string_append(children, "<host");
        qvirBufAttr(children, "name", host->name);
        if (host->port)
            qvirBufAttrUInt(children, "port", host->port);
        if (host->transport != QVIR_STORAGE_NET_HOST_TRANS_TCP)
            qvirBufAttr(children, "transport",
                        qvirStorageNetHostTransportTypeToString(host->transport));
        qvirBufAttr(children, "socket", host->socket);
        g_string_append(children, "/>\n");
    }
    if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_NFS && (src->nfsUser || src->nfsGroup)) {
        qvirBufIndent(children, indent);
        g_string_append(children, "<identity");
        qvirBufAttr(children, "user", src->nfsUser);
        qvirBufAttr(children, "group", src->nfsGroup);
        g_string_append(children, "/>\n");
    }
    if (src->snapshot) {
        qvirBufIndent(children, indent);
        g_string_append(children, "<snapshot");
        qvirBufAttr(children, "name", src->snapshot);
        g_string_append(children, "/>\n");
    }
    if (src->configFile) {
        qvirBufIndent(children, indent);
        g_string_append(children, "<config");
        qvirBufAttr(children, "file", src->configFile);
        g_string_append(children, "/>\n");
    }
    if (src->initiatorIQN) {
        qvirBufIndent(children, indent);
        g_string_append(children, "<initiator>\n");
        qvirBufIndent(children, indent + 2);
        g_string_append(children, "<iqn");
        qvirBufAttr(children, "name", src->initiatorIQN);
        g_string_append(children, "/>\n");
        qvirBufIndent(children, indent);
        g_string_append(children, "</initiator>\n");
    }
    if (src->sslverify != QVIR_TRISTATE_BOOL_ABSENT) {
        qvirBufIndent(children, indent);
        g_string_append_printf(children, "<ssl verify='%s'/>\n",
                               qvirTristateBoolTypeToString(src->sslverify));
    }
    if (src->ncookies &&
        (flags & (QVIR_DOMAIN_DEF_FORMAT_SECURE | QVIR_DOMAIN_DEF_FORMAT_STATUS))) {
        qvirBufIndent(children, indent);
        g_string_append(children, "<cookies>\n");
        for (size_t i = 0; i < src->ncookies; i++) {
            qvirBufIndent(children, indent + 2);
            g_string_append(children, "<cookie");
            qvirBufAttr(children, "name", src->cookies[i].name);
            g_string_append_c(children, '>');
            qvirBufEscape(children, src->cookies[i].value);
            g_string_append(children, "</cookie>\n");
        }
        qvirBufIndent(children, indent);
        g_string_append(children, "</cookies>\n");
    }
    if (src->readahead) {
        qvirBufIndent(children, indent);
        g_string_append_printf(children, "<readahead size='%llu'/>\n", src->readahead);
    }
    if (src->timeout) {
        qvirBufIndent(children, indent);
        g_string_append_printf(children, "<timeout seconds='%llu'/>\n", src->timeout);
    }
}

static void qvirStorageEncryptionDefFormat(GString *buf, unsigned int indent,
                                           const qvirStorageEncryption *enc);

/* A source's <seclabel>s. Inactive XML leaves out a label that says only "relabel as
 * usual" (libvirt does: such one may come from labelskip in live XML). */
static void
qvirStorageSourceSeclabelsFormat(GString *buf, unsigned int indent, const qvirStorageSource *src,
                                 unsigned int flags)
{
    for (size_t i = 0; i < src->nseclabels; i++) {
        const qvirSecurityDeviceLabel *def = &src->seclabels[i];
        g_autoptr(GString) attrs = g_string_new(NULL);
        g_autoptr(GString) children = g_string_new(NULL);

        if (!qvirFormatIsLive(flags) && !def->label && def->relabel)
            continue;
        if (def->model)
            qvirBufAttr(attrs, "model", def->model);
        if (def->labelskip)
            qvirBufAttr(attrs, "labelskip", "yes");
        else
            qvirBufAttr(attrs, "relabel", def->relabel ? "yes" : "no");
        if (def->label)
            qvirBufTextElement(children, indent + 2, "label", def->label);
        qvirBufElement(buf, indent, "seclabel", attrs, children->len ? children : NULL);
    }
}

/*
 * A volume disk's <source>: the pool and volume it names, resolved or not, as libvirt
 * shows it; status XML adds the file it was resolved to, for a reconnect.
 */
static void
qvirDomainDiskVolumeSourceFormat(GString *buf, unsigned int indent, const qvirDomainDiskDef *disk,
                                 unsigned int flags)
{
    const qvirStorageSource *src = disk->src;
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);

    if (src->poolName) {
        qvirBufAttr(attrs, "pool", src->poolName);
        qvirBufAttr(attrs, "volume", src->volName);
        if (src->poolMode != QVIR_STORAGE_POOL_MODE_DEFAULT)
            qvirBufAttr(attrs, "mode", qvirStoragePoolModeTypeToString(src->poolMode));
    }
    if (disk->startupPolicy != QVIR_DOMAIN_STARTUP_POLICY_DEFAULT)
        qvirBufAttr(attrs, "startupPolicy",
                    qvirDomainStartupPolicyTypeToString(disk->startupPolicy));
    /* a volume resolved to network storage (iscsi-direct) is resolved again instead */
    if ((flags & QVIR_DOMAIN_DEF_FORMAT_STATUS) && src->path &&
        src->type != QVIR_STORAGE_TYPE_NETWORK)
        qvirBufAttr(attrs, src->type == QVIR_STORAGE_TYPE_BLOCK ? "dev" : "file", src->path);
    if (qvirFormatIsLive(flags) && src->id)
        qvirBufAttrUInt(attrs, "index", src->id);
    qvirStorageSourceSeclabelsFormat(children, indent + 2, src, flags);
    if (src->encryption && !disk->encryptionInDisk)
        qvirStorageEncryptionDefFormat(children, indent + 2, src->encryption);
    if (attrs->len || children->len)
        qvirBufElement(buf, indent, "source", attrs, children->len ? children : NULL);
}

/* <encryption format= [engine=]><secret type='passphrase' uuid=|usage=/></encryption> */
static void
qvirStorageEncryptionDefFormat(GString *buf, unsigned int indent, const qvirStorageEncryption *enc)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);

    qvirBufAttr(attrs, "format", qvirStorageEncryptionFormatTypeToString(enc->format));
    if (enc->engine != QVIR_STORAGE_ENCRYPTION_ENGINE_DEFAULT)
        qvirBufAttr(attrs, "engine", qvirStorageEncryptionEngineTypeToString(enc->engine));
    for (size_t i = 0; i < enc->nsecrets; i++) {
        g_autoptr(GString) secret = g_string_new(NULL);

        qvirBufAttr(secret, "type", "passphrase");
        qvirBufAttr(secret, "uuid", enc->secrets[i].uuid);
        qvirBufAttr(secret, "usage", enc->secrets[i].usage);
        qvirBufElement(children, indent + 2, "secret", secret, NULL);
    }
    qvirBufElement(buf, indent, "encryption", attrs, children->len ? children : NULL);
}

/* <source file=|dev=|protocol= [index=]/>. SHOWINDEX is set by the caller (live XML only);
 * SKIPAUTH when the disk writes <auth> itself, outside <source>. */
static void
qvirStorageSourceFormat(GString *buf, unsigned int indent, const qvirStorageSource *src,
                        gboolean showIndex, qvirDomainStartupPolicy startupPolicy,
                        unsigned int flags, gboolean skipAuth, gboolean skipEnc)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);

    switch (src->type) {
    case QVIR_STORAGE_TYPE_FILE:
        qvirBufAttr(attrs, "file", src->path);
        break;
    case QVIR_STORAGE_TYPE_BLOCK:
        qvirBufAttr(attrs, "dev", src->path);
        break;
    case QVIR_STORAGE_TYPE_NETWORK:
        qvirStorageSourceNetworkFormat(attrs, children, indent + 2, src, flags);
        /* libvirt never writes a network disk's startupPolicy back */
        startupPolicy = QVIR_DOMAIN_STARTUP_POLICY_DEFAULT;
        break;
    case QVIR_STORAGE_TYPE_NONE:
    case QVIR_STORAGE_TYPE_LAST:
    default:
        /* a cdrom without media keeps its policy on an empty <source>, and after an eject
         * the index libvirt gave the empty medium */
        if (startupPolicy != QVIR_DOMAIN_STARTUP_POLICY_DEFAULT)
            qvirBufAttr(attrs, "startupPolicy", qvirDomainStartupPolicyTypeToString(startupPolicy));
        if (showIndex && src->ejected && src->id)
            qvirBufAttrUInt(attrs, "index", src->id);
        if (attrs->len)
            qvirBufElement(buf, indent, "source", attrs, NULL);
        return;
    }
    if (startupPolicy != QVIR_DOMAIN_STARTUP_POLICY_DEFAULT)
        qvirBufAttr(attrs, "startupPolicy", qvirDomainStartupPolicyTypeToString(startupPolicy));
    /* as libvirt, a network layer's labels are not written back */
    if (src->type != QVIR_STORAGE_TYPE_NETWORK)
        qvirStorageSourceSeclabelsFormat(children, indent + 2, src, flags);
    if (src->auth && !skipAuth)
        qvirStorageAuthFormat(children, indent + 2, src->auth);
    if (src->encryption && !skipEnc)
        qvirStorageEncryptionDefFormat(children, indent + 2, src->encryption);
    if (showIndex && src->id)
        qvirBufAttrUInt(attrs, "index", src->id);
    qvirBufElement(buf, indent, "source", attrs, children);
}

static void
qvirStorageMetadataCacheFormat(GString *buf, unsigned int indent, const qvirStorageSource *src)
{
    if (!src->metadataCacheMaxSize)
        return;
    qvirBufIndent(buf, indent);
    g_string_append(buf, "<metadata_cache>\n");
    qvirBufIndent(buf, indent + 2);
    g_string_append_printf(buf, "<max_size unit='bytes'>%llu</max_size>\n",
                           src->metadataCacheMaxSize);
    qvirBufIndent(buf, indent);
    g_string_append(buf, "</metadata_cache>\n");
}

/* Is LAYER (a member of a chain below a disk's top) shown in this view? */
static gboolean
qvirBackingLayerVisible(const qvirStorageSource *layer, unsigned int flags)
{
    if (qvirFormatIsLive(flags))
        return TRUE;
    return layer->fromXML;
}

/*
 * Iterative: a chain may be hundreds of layers deep, and each level only adds two spaces of
 * indent. The closing tags are written after the loop, innermost first.
 */
void
qvirDomainBackingStoreFormat(GString *buf, const qvirStorageSource *backing, unsigned int flags,
                             unsigned int indent)
{
    gboolean live = qvirFormatIsLive(flags);
    gboolean status = (flags & QVIR_DOMAIN_DEF_FORMAT_STATUS) != 0;
    unsigned int opened = 0;

    g_return_if_fail(buf != NULL);

    for (const qvirStorageSource *cur = backing; cur; cur = cur->backingStore) {
        unsigned int ind = indent + 2 * opened;

        if (!qvirBackingLayerVisible(cur, flags))
            break;

        if (cur->type == QVIR_STORAGE_TYPE_NONE) {
            qvirBufIndent(buf, ind);
            g_string_append(buf, status && !cur->fromXML ? "<backingStore probed='yes'/>\n"
                                                         : "<backingStore/>\n");
            break;
        }

        qvirBufIndent(buf, ind);
        g_string_append(buf, "<backingStore");
        qvirBufAttr(buf, "type", qvirStorageTypeTypeToString(cur->type));
        if (live && cur->id)
            qvirBufAttrUInt(buf, "index", cur->id);
        if (status && !cur->fromXML)
            g_string_append(buf, " probed='yes'");
        g_string_append(buf, ">\n");

        if (cur->format != QVIR_STORAGE_FILE_NONE) {
            qvirBufIndent(buf, ind + 2);
            g_string_append(buf, "<format");
            qvirBufAttr(buf, "type", qvirStorageFileFormatTypeToString(cur->format));
            if (cur->metadataCacheMaxSize) {
                g_string_append(buf, ">\n");
                qvirStorageMetadataCacheFormat(buf, ind + 4, cur);
                qvirBufIndent(buf, ind + 2);
                g_string_append(buf, "</format>\n");
            } else {
                g_string_append(buf, "/>\n");
            }
        }
        qvirStorageSourceFormat(buf, ind + 2, cur, FALSE, QVIR_DOMAIN_STARTUP_POLICY_DEFAULT, flags,
                                FALSE, FALSE);
        opened++;
    }

    while (opened > 0) {
        opened--;
        qvirBufIndent(buf, indent + 2 * opened);
        g_string_append(buf, "</backingStore>\n");
    }
}

/* ---- disks ------------------------------------------------------------------ */

/* libvirt's order: iommu, ats, packed, page_per_vq, after the device's own attributes. */
static void
qvirDomainVirtioOptionsFormat(GString *attrs, const qvirDomainVirtioOptions *opts)
{
    if (opts->iommu != QVIR_TRISTATE_SWITCH_ABSENT)
        qvirBufAttr(attrs, "iommu", qvirTristateSwitchTypeToString(opts->iommu));
    if (opts->ats != QVIR_TRISTATE_SWITCH_ABSENT)
        qvirBufAttr(attrs, "ats", qvirTristateSwitchTypeToString(opts->ats));
    if (opts->packed != QVIR_TRISTATE_SWITCH_ABSENT)
        qvirBufAttr(attrs, "packed", qvirTristateSwitchTypeToString(opts->packed));
    if (opts->pagePerVq != QVIR_TRISTATE_SWITCH_ABSENT)
        qvirBufAttr(attrs, "page_per_vq", qvirTristateSwitchTypeToString(opts->pagePerVq));
}

static void
qvirDomainDiskDriverFormat(GString *buf, unsigned int indent, const qvirDomainDiskDef *disk)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);

    qvirBufAttr(attrs, "name", disk->driverName);
    if (disk->src->format != QVIR_STORAGE_FILE_NONE)
        qvirBufAttr(attrs, "type", qvirStorageFileFormatTypeToString(disk->src->format));
    if (disk->cachemode != QVIR_DOMAIN_DISK_CACHE_DEFAULT)
        qvirBufAttr(attrs, "cache", qvirDomainDiskCacheTypeToString(disk->cachemode));
    if (disk->errorPolicy != QVIR_DOMAIN_DISK_ERROR_POLICY_DEFAULT)
        qvirBufAttr(attrs, "error_policy",
                    qvirDomainDiskErrorPolicyTypeToString(disk->errorPolicy));
    if (disk->rerrorPolicy != QVIR_DOMAIN_DISK_ERROR_POLICY_DEFAULT)
        qvirBufAttr(attrs, "rerror_policy",
                    qvirDomainDiskErrorPolicyTypeToString(disk->rerrorPolicy));
    if (disk->iomode != QVIR_DOMAIN_DISK_IO_DEFAULT)
        qvirBufAttr(attrs, "io", qvirDomainDiskIoTypeToString(disk->iomode));
    if (disk->ioeventfd != QVIR_TRISTATE_SWITCH_ABSENT)
        qvirBufAttr(attrs, "ioeventfd", qvirTristateSwitchTypeToString(disk->ioeventfd));
    if (disk->eventIdx != QVIR_TRISTATE_SWITCH_ABSENT)
        qvirBufAttr(attrs, "event_idx", qvirTristateSwitchTypeToString(disk->eventIdx));
    if (disk->copyOnRead != QVIR_TRISTATE_SWITCH_ABSENT)
        qvirBufAttr(attrs, "copy_on_read", qvirTristateSwitchTypeToString(disk->copyOnRead));
    if (disk->discard != QVIR_DOMAIN_DISK_DISCARD_DEFAULT)
        qvirBufAttr(attrs, "discard", qvirDomainDiskDiscardTypeToString(disk->discard));
    if (disk->iothread)
        qvirBufAttrUInt(attrs, "iothread", disk->iothread);
    if (disk->detect_zeroes != QVIR_DOMAIN_DISK_DETECT_ZEROES_DEFAULT)
        qvirBufAttr(attrs, "detect_zeroes",
                    qvirDomainDiskDetectZeroesTypeToString(disk->detect_zeroes));
    if (disk->queues)
        qvirBufAttrUInt(attrs, "queues", disk->queues);
    if (disk->queueSize)
        qvirBufAttrUInt(attrs, "queue_size", disk->queueSize);
    qvirDomainVirtioOptionsFormat(attrs, &disk->virtio);
    qvirStorageMetadataCacheFormat(children, indent + 2, disk->src);
    qvirBufElementOptional(buf, indent, "driver", attrs, children);
}

static void
qvirDomainDiskTargetFormat(GString *buf, unsigned int indent, const qvirDomainDiskDef *disk)
{
    g_autoptr(GString) attrs = g_string_new(NULL);

    qvirBufAttr(attrs, "dev", disk->dst);
    qvirBufAttr(attrs, "bus", qvirDomainDiskBusTypeToString(disk->bus));
    if ((disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM ||
         disk->device == QVIR_DOMAIN_DISK_DEVICE_FLOPPY) &&
        disk->tray != QVIR_DOMAIN_DISK_TRAY_CLOSED)
        qvirBufAttr(attrs, "tray", qvirDomainDiskTrayTypeToString(disk->tray));
    if (disk->removable != QVIR_TRISTATE_SWITCH_ABSENT)
        qvirBufAttr(attrs, "removable", qvirTristateSwitchTypeToString(disk->removable));
    if (disk->rotationRate)
        qvirBufAttrUInt(attrs, "rotation_rate", disk->rotationRate);
    qvirBufElement(buf, indent, "target", attrs, NULL);
}

/* <geometry> and <blockio>, between the chain and <target> as libvirt writes them. */
static void
qvirDomainDiskGeometryBlockIOFormat(GString *buf, unsigned int indent,
                                    const qvirDomainDiskDef *disk)
{
    g_autoptr(GString) geometry = g_string_new(NULL);
    g_autoptr(GString) blockio = g_string_new(NULL);

    if (disk->geometry.cylinders && disk->geometry.heads && disk->geometry.sectors) {
        qvirBufAttrUInt(geometry, "cyls", disk->geometry.cylinders);
        qvirBufAttrUInt(geometry, "heads", disk->geometry.heads);
        qvirBufAttrUInt(geometry, "secs", disk->geometry.sectors);
        if (disk->geometry.trans != QVIR_DOMAIN_DISK_TRANS_DEFAULT)
            qvirBufAttr(geometry, "trans",
                        qvirDomainDiskGeometryTransTypeToString(disk->geometry.trans));
        qvirBufElement(buf, indent, "geometry", geometry, NULL);
    }
    if (disk->logicalBlockSize)
        qvirBufAttrUInt(blockio, "logical_block_size", disk->logicalBlockSize);
    if (disk->physicalBlockSize)
        qvirBufAttrUInt(blockio, "physical_block_size", disk->physicalBlockSize);
    qvirBufElementOptional(buf, indent, "blockio", blockio, NULL);
}

static void
qvirDomainDiskIotuneFormat(GString *buf, unsigned int indent, const qvirDomainDiskDef *disk)
{
    g_autoptr(GString) children = g_string_new(NULL);

    for (int i = 0; i < QVIR_DOMAIN_IOTUNE_LAST; i++) {
        const char *name = qvirDomainIotuneFieldTypeToString(i);

        if (i == QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH)
            qvirBufTextElement(children, indent + 2, "group_name", disk->iotuneGroup);
        if (!disk->iotune[i])
            continue;
        qvirBufIndent(children, indent + 2);
        g_string_append_printf(children, "<%s>%llu</%s>\n", name, disk->iotune[i], name);
    }
    qvirBufElementOptional(buf, indent, "iotune", NULL, children);
}

/* An empty cdrom has no storage type of its own; libvirt writes it as type='file'. */
static const char *
qvirDomainDiskTypeString(const qvirDomainDiskDef *disk)
{
    if (disk->src->volume)
        return "volume";
    if (disk->src->type == QVIR_STORAGE_TYPE_NONE)
        return "file";
    return qvirStorageTypeTypeToString(disk->src->type);
}

static void
qvirDomainDiskDefFormatBuf(GString *buf, unsigned int indent, const qvirDomainDiskDef *disk,
                           unsigned int flags)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);
    unsigned int ci = indent + 2;

    qvirBufAttr(attrs, "type", qvirDomainDiskTypeString(disk));
    qvirBufAttr(attrs, "device", qvirDomainDiskDeviceTypeToString(disk->device));
    if (disk->model != QVIR_DOMAIN_DISK_MODEL_DEFAULT)
        qvirBufAttr(attrs, "model", qvirDomainDiskModelTypeToString(disk->model));
    if (disk->rawio != QVIR_TRISTATE_BOOL_ABSENT)
        qvirBufAttr(attrs, "rawio", qvirTristateBoolTypeToString(disk->rawio));
    if (disk->sgio != QVIR_DOMAIN_DEVICE_SGIO_DEFAULT)
        qvirBufAttr(attrs, "sgio", qvirDomainDeviceSGIOTypeToString(disk->sgio));
    /* libvirt leaves out snapshot='no' on a read-only disk: that is implied. */
    if (disk->snapshot != QVIR_DOMAIN_SNAPSHOT_LOCATION_DEFAULT &&
        !(disk->snapshot == QVIR_DOMAIN_SNAPSHOT_LOCATION_NO && disk->src->readonly))
        qvirBufAttr(attrs, "snapshot", qvirDomainSnapshotLocationTypeToString(disk->snapshot));

    qvirDomainDiskDriverFormat(children, ci, disk);
    if (disk->src->auth && disk->authInDisk)
        qvirStorageAuthFormat(children, ci, disk->src->auth);
    if (disk->src->volume)
        qvirDomainDiskVolumeSourceFormat(children, ci, disk, flags);
    else
        qvirStorageSourceFormat(children, ci, disk->src, qvirFormatIsLive(flags),
                                disk->startupPolicy, flags, disk->authInDisk,
                                disk->encryptionInDisk);
    if (disk->src->type != QVIR_STORAGE_TYPE_NONE || disk->src->poolName)
        qvirDomainBackingStoreFormat(children, disk->src->backingStore, flags, ci);
    qvirDomainDiskGeometryBlockIOFormat(children, ci, disk);
    qvirDomainDiskTargetFormat(children, ci, disk);
    qvirDomainDiskIotuneFormat(children, ci, disk);
    if (disk->src->readonly) {
        qvirBufIndent(children, ci);
        g_string_append(children, "<readonly/>\n");
    }
    if (disk->src->shared) {
        qvirBufIndent(children, ci);
        g_string_append(children, "<shareable/>\n");
    }
    if (disk->transient) {
        qvirBufIndent(children, ci);
        /* shareBacking='no' is the default and libvirt does not write it back */
        g_string_append(children, disk->transientShareBacking == QVIR_TRISTATE_BOOL_YES
                                      ? "<transient shareBacking='yes'/>\n"
                                      : "<transient/>\n");
    }
    qvirBufTextElement(children, ci, "serial", disk->serial);
    qvirBufTextElement(children, ci, "wwn", disk->wwn);
    qvirBufTextElement(children, ci, "vendor", disk->vendor);
    qvirBufTextElement(children, ci, "product", disk->product);
    if (disk->src->encryption && disk->encryptionInDisk)
        qvirStorageEncryptionDefFormat(children, ci, disk->src->encryption);
    qvirDomainDeviceInfoFormat(children, ci, &disk->info, flags, TRUE);

    qvirBufElement(buf, indent, "disk", attrs, children);
}

char *
qvirDomainDiskDefFormat(const qvirDomainDiskDef *disk, unsigned int flags)
{
    GString *buf = g_string_new(NULL);

    g_return_val_if_fail(disk != NULL && disk->src != NULL, NULL);
    qvirDomainDiskDefFormatBuf(buf, 0, disk, flags);
    return g_string_free(buf, FALSE);
}

/* ---- controllers ------------------------------------------------------------ */

static void
qvirDomainControllerDefFormat(GString *buf, unsigned int indent,
                              const qvirDomainControllerDef *ctrl, unsigned int flags)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);
    g_autoptr(GString) driver = g_string_new(NULL);
    unsigned int ci = indent + 2;

    qvirBufAttr(attrs, "type", qvirDomainControllerTypeTypeToString(ctrl->type));
    g_string_append_printf(attrs, " index='%d'", ctrl->idx);
    qvirBufAttr(attrs, "model", ctrl->model);
    if (ctrl->ports >= 0)
        g_string_append_printf(attrs, " ports='%d'", ctrl->ports);
    if (ctrl->vectors >= 0)
        g_string_append_printf(attrs, " vectors='%d'", ctrl->vectors);

    /* libvirt's attribute order */
    if (ctrl->queues)
        g_string_append_printf(driver, " queues='%u'", ctrl->queues);
    if (ctrl->cmdPerLun)
        g_string_append_printf(driver, " cmd_per_lun='%u'", ctrl->cmdPerLun);
    if (ctrl->maxSectors)
        g_string_append_printf(driver, " max_sectors='%u'", ctrl->maxSectors);
    if (ctrl->ioeventfd != QVIR_TRISTATE_SWITCH_ABSENT)
        qvirBufAttr(driver, "ioeventfd", qvirTristateSwitchTypeToString(ctrl->ioeventfd));
    if (ctrl->iothread)
        g_string_append_printf(driver, " iothread='%u'", ctrl->iothread);
    qvirDomainVirtioOptionsFormat(driver, &ctrl->virtio);
    qvirBufElementOptional(children, ci, "driver", driver, NULL);
    if (ctrl->type == QVIR_DOMAIN_CONTROLLER_TYPE_PCI) {
        g_autoptr(GString) target = g_string_new(NULL);

        if (ctrl->modelName) {
            qvirBufIndent(children, ci);
            g_string_append(children, "<model");
            qvirBufAttr(children, "name", ctrl->modelName);
            g_string_append(children, "/>\n");
        }
        if (ctrl->chassis >= 0)
            g_string_append_printf(target, " chassis='%d'", ctrl->chassis);
        if (ctrl->port >= 0)
            g_string_append_printf(target, " port='0x%x'", (unsigned int)ctrl->port);
        qvirBufElementOptional(children, ci, "target", target, NULL);
    }
    qvirDomainDeviceInfoFormat(children, ci, &ctrl->info, flags, FALSE);

    qvirBufElement(buf, indent, "controller", attrs, children);
}

/* ---- other devices ---------------------------------------------------------- */

static void
qvirDomainNetDefFormat(GString *buf, unsigned int indent, const qvirDomainNetDef *net,
                       unsigned int flags)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);
    unsigned int ci = indent + 2;

    qvirBufAttr(attrs, "type", net->type);
    if (net->mac) {
        qvirBufIndent(children, ci);
        g_string_append(children, "<mac");
        qvirBufAttr(children, "address", net->mac);
        g_string_append(children, "/>\n");
    }
    for (guint i = 0; net->ips && i < net->ips->len; i++) {
        const qvirDomainNetIPDef *ip = g_ptr_array_index(net->ips, i);

        qvirBufIndent(children, ci);
        g_string_append(children, "<ip");
        qvirBufAttr(children, "address", ip->address);
        qvirBufAttr(children, "family", ip->ipv6 ? "ipv6" : "ipv4");
        if (ip->prefix)
            qvirBufAttrUInt(children, "prefix", ip->prefix);
        g_string_append(children, "/>\n");
    }
    if (net->model) {
        qvirBufIndent(children, ci);
        g_string_append(children, "<model");
        qvirBufAttr(children, "type", net->model);
        g_string_append(children, "/>\n");
    }
    if (g_strcmp0(net->model, "virtio") == 0) {
        g_autoptr(GString) driver = g_string_new(NULL);

        qvirBufAttr(driver, "name", net->driverName);
        qvirBufAttr(driver, "txmode", net->txmode);
        if (net->ioeventfd != QVIR_TRISTATE_SWITCH_ABSENT)
            qvirBufAttr(driver, "ioeventfd", qvirTristateSwitchTypeToString(net->ioeventfd));
        if (net->eventIdx != QVIR_TRISTATE_SWITCH_ABSENT)
            qvirBufAttr(driver, "event_idx", qvirTristateSwitchTypeToString(net->eventIdx));
        if (net->rxQueueSize)
            qvirBufAttrUInt(driver, "rx_queue_size", net->rxQueueSize);
        if (net->txQueueSize)
            qvirBufAttrUInt(driver, "tx_queue_size", net->txQueueSize);
        qvirBufElementOptional(children, ci, "driver", driver, NULL);
    }
    qvirDomainDeviceInfoFormat(children, ci, &net->info, flags, TRUE);

    qvirBufElement(buf, indent, "interface", attrs, children);
}

static void
qvirDomainChrTargetFormat(GString *buf, unsigned int indent, const qvirDomainChrDef *chr)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);

    qvirBufAttr(attrs, "type", chr->targetType);
    if (chr->targetPort >= 0)
        g_string_append_printf(attrs, " port='%d'", chr->targetPort);
    if (!chr->isConsole && chr->targetModel) {
        qvirBufIndent(children, indent + 2);
        g_string_append(children, "<model");
        qvirBufAttr(children, "name", chr->targetModel);
        g_string_append(children, "/>\n");
    }
    qvirBufElementOptional(buf, indent, "target", attrs, children);
}

/* One <source> element from its attributes (nothing when it has none). */
static void
qvirDomainChrSourceElement(GString *buf, unsigned int indent, const GString *attrs)
{
    if (attrs->len == 0)
        return;
    qvirBufIndent(buf, indent);
    g_string_append_printf(buf, "<source%s/>\n", attrs->str);
}

/* libvirt's virDomainChrSourceDefFormat for a serial or console: source(s), the tcp
 * protocol, then the log. */
static void
qvirDomainChrSourceFormat(GString *buf, unsigned int indent, const qvirDomainChrDef *chr,
                          gboolean live)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    const char *type = chr->type ? chr->type : "";

    if (strcmp(type, "udp") == 0) {
        if (chr->bindHost || chr->bindService) {
            qvirBufAttr(attrs, "mode", "bind");
            qvirBufAttr(attrs, "host", chr->bindHost);
            qvirBufAttr(attrs, "service", chr->bindService);
            qvirDomainChrSourceElement(buf, indent, attrs);
            g_string_truncate(attrs, 0);
        }
        if (chr->host || chr->service) {
            qvirBufAttr(attrs, "mode", "connect");
            qvirBufAttr(attrs, "host", chr->host);
            qvirBufAttr(attrs, "service", chr->service);
        }
    } else if (strcmp(type, "tcp") == 0) {
        qvirBufAttr(attrs, "mode", chr->sourceMode ? chr->sourceMode : "connect");
        qvirBufAttr(attrs, "host", chr->host);
        qvirBufAttr(attrs, "service", chr->service);
        if (chr->tls != QVIR_TRISTATE_BOOL_ABSENT)
            qvirBufAttr(attrs, "tls", qvirTristateBoolTypeToString(chr->tls));
    } else if (strcmp(type, "unix") == 0) {
        if (chr->sourcePath) {
            qvirBufAttr(attrs, "mode", chr->sourceMode ? chr->sourceMode : "bind");
            qvirBufAttr(attrs, "path", chr->sourcePath);
        }
    } else if (strcmp(type, "pty") == 0) {
        if (live)
            qvirBufAttr(attrs, "path", chr->ptyPath);
    } else {
        /* dev, file, pipe: the path; null, vc, stdio have none */
        qvirBufAttr(attrs, "path", chr->sourcePath);
        if (chr->sourceAppend != QVIR_TRISTATE_SWITCH_ABSENT)
            qvirBufAttr(attrs, "append", qvirTristateSwitchTypeToString(chr->sourceAppend));
    }
    qvirDomainChrSourceElement(buf, indent, attrs);

    if (strcmp(type, "tcp") == 0) {
        qvirBufIndent(buf, indent);
        g_string_append(buf, "<protocol");
        qvirBufAttr(buf, "type", chr->protocol ? chr->protocol : "raw");
        g_string_append(buf, "/>\n");
    }
    if (chr->logFile) {
        qvirBufIndent(buf, indent);
        g_string_append(buf, "<log");
        qvirBufAttr(buf, "file", chr->logFile);
        if (chr->logAppend != QVIR_TRISTATE_SWITCH_ABSENT)
            qvirBufAttr(buf, "append", qvirTristateSwitchTypeToString(chr->logAppend));
        g_string_append(buf, "/>\n");
    }
}

static void
qvirDomainChrDefFormat(GString *buf, unsigned int indent, const qvirDomainChrDef *chr,
                       unsigned int flags)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);
    unsigned int ci = indent + 2;
    gboolean live = qvirFormatIsLive(flags);

    qvirBufAttr(attrs, "type", chr->type);
    /* libvirt's compatibility attribute: the first console's pty, in live XML. */
    if (live && chr->isConsole && chr->targetPort == 0 && chr->ptyPath)
        qvirBufAttr(attrs, "tty", chr->ptyPath);

    qvirDomainChrSourceFormat(children, ci, chr, live);
    qvirDomainChrTargetFormat(children, ci, chr);
    qvirDomainDeviceInfoFormat(children, ci, &chr->info, flags, FALSE);

    qvirBufElement(buf, indent, chr->isConsole ? "console" : "serial", attrs, children);
}

/* libvirt leaves out a <source> without a path (one chosen at start-up is live data). */
static void
qvirDomainChannelDefFormat(GString *buf, unsigned int indent, const qvirDomainChrDef *chr,
                           unsigned int flags)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);
    unsigned int ci = indent + 2;

    qvirBufAttr(attrs, "type", chr->type);
    if (chr->sourcePath) {
        qvirBufIndent(children, ci);
        g_string_append(children, "<source");
        qvirBufAttr(children, "mode", chr->sourceMode ? chr->sourceMode : "bind");
        qvirBufAttr(children, "path", chr->sourcePath);
        g_string_append(children, "/>\n");
    } else if (qvirFormatIsLive(flags) && chr->ptyPath) {
        qvirBufIndent(children, ci);
        g_string_append(children, "<source");
        qvirBufAttr(children, "path", chr->ptyPath);
        g_string_append(children, "/>\n");
    }
    qvirBufIndent(children, ci);
    g_string_append(children, "<target");
    qvirBufAttr(children, "type", chr->targetType);
    qvirBufAttr(children, "name", chr->targetName);
    if (qvirFormatIsLive(flags))
        qvirBufAttr(children, "state", chr->targetState);
    g_string_append(children, "/>\n");
    qvirDomainDeviceInfoFormat(children, ci, &chr->info, flags, FALSE);
    qvirBufElement(buf, indent, "channel", attrs, children);
}

static void
qvirDomainRNGDefFormat(GString *buf, unsigned int indent, const qvirDomainRNGDef *rng,
                       unsigned int flags)
{
    g_autoptr(GString) children = g_string_new(NULL);
    unsigned int ci = indent + 2;

    if (rng->rateBytes) {
        qvirBufIndent(children, ci);
        g_string_append_printf(children, "<rate bytes='%u'", rng->rateBytes);
        if (rng->ratePeriod)
            g_string_append_printf(children, " period='%u'", rng->ratePeriod);
        g_string_append(children, "/>\n");
    }
    qvirBufIndent(children, ci);
    g_string_append(children, "<backend");
    qvirBufAttr(children, "model", rng->backendModel);
    if (rng->file) {
        g_string_append_c(children, '>');
        qvirBufEscape(children, rng->file);
        g_string_append(children, "</backend>\n");
    } else {
        g_string_append(children, "/>\n");
    }
    qvirDomainDeviceInfoFormat(children, ci, &rng->info, flags, FALSE);
    qvirBufIndent(buf, indent);
    g_string_append(buf, "<rng model='virtio'>\n");
    g_string_append_len(buf, children->str, children->len);
    qvirBufIndent(buf, indent);
    g_string_append(buf, "</rng>\n");
}

static void
qvirDomainInputDefFormat(GString *buf, unsigned int indent, const qvirDomainInputDef *input,
                         unsigned int flags)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);

    qvirBufAttr(attrs, "type", input->type);
    qvirBufAttr(attrs, "bus", input->bus);
    qvirDomainDeviceInfoFormat(children, indent + 2, &input->info, flags, FALSE);
    qvirBufElement(buf, indent, "input", attrs, children);
}

static void
qvirDomainGraphicsDefFormat(GString *buf, unsigned int indent, const qvirDomainGraphicsDef *gr,
                            unsigned int flags)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);
    int port = gr->port;

    /* The inactive XML never carries a port picked at start-up. */
    if (gr->autoport && !qvirFormatIsLive(flags))
        port = -1;

    qvirBufAttr(attrs, "type", gr->type);
    g_string_append_printf(attrs, " port='%d'", port);
    qvirBufAttr(attrs, "autoport", gr->autoport ? "yes" : "no");
    qvirBufAttr(attrs, "listen", gr->listen);

    qvirBufIndent(children, indent + 2);
    g_string_append(children, "<listen type='address'");
    qvirBufAttr(children, "address", gr->listen);
    g_string_append(children, "/>\n");

    qvirBufElement(buf, indent, "graphics", attrs, children);
}

static void
qvirDomainVideoDefFormat(GString *buf, unsigned int indent, const qvirDomainVideoDef *video,
                         unsigned int flags)
{
    g_autoptr(GString) model = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);
    unsigned int ci = indent + 2;

    qvirBufAttr(model, "type", video->model);
    if (video->ram)
        qvirBufAttrUInt(model, "ram", video->ram);
    if (video->vram)
        qvirBufAttrUInt(model, "vram", video->vram);
    if (video->vgamem)
        qvirBufAttrUInt(model, "vgamem", video->vgamem);
    if (video->heads)
        qvirBufAttrUInt(model, "heads", video->heads);
    if (video->primary)
        qvirBufAttr(model, "primary", "yes");
    qvirBufElement(children, ci, "model", model, NULL);
    qvirDomainDeviceInfoFormat(children, ci, &video->info, flags, FALSE);

    qvirBufElement(buf, indent, "video", NULL, children);
}

static void
qvirDomainMemballoonDefFormat(GString *buf, unsigned int indent,
                              const qvirDomainMemballoonDef *balloon, unsigned int flags)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) children = g_string_new(NULL);

    qvirBufAttr(attrs, "model", balloon->model);
    qvirDomainDeviceInfoFormat(children, indent + 2, &balloon->info, flags, FALSE);
    qvirBufElement(buf, indent, "memballoon", attrs, children);
}

/* libvirt's device order: disks, controllers, interfaces, serials, consoles, inputs,
 * graphics, audio, videos, memballoon. */
static void
qvirDomainDevicesFormat(GString *buf, unsigned int indent, const qvirDomainDef *def,
                        unsigned int flags)
{
    unsigned int ci = indent + 2;
    guint i;

    qvirBufIndent(buf, indent);
    g_string_append(buf, "<devices>\n");
    qvirBufTextElement(buf, ci, "emulator", def->emulator);
    for (i = 0; def->disks && i < def->disks->len; i++)
        qvirDomainDiskDefFormatBuf(buf, ci, g_ptr_array_index(def->disks, i), flags);
    for (i = 0; def->controllers && i < def->controllers->len; i++)
        qvirDomainControllerDefFormat(buf, ci, g_ptr_array_index(def->controllers, i), flags);
    for (i = 0; def->nets && i < def->nets->len; i++)
        qvirDomainNetDefFormat(buf, ci, g_ptr_array_index(def->nets, i), flags);
    for (i = 0; def->serials && i < def->serials->len; i++)
        qvirDomainChrDefFormat(buf, ci, g_ptr_array_index(def->serials, i), flags);
    for (i = 0; def->consoles && i < def->consoles->len; i++)
        qvirDomainChrDefFormat(buf, ci, g_ptr_array_index(def->consoles, i), flags);
    for (i = 0; def->channels && i < def->channels->len; i++)
        qvirDomainChannelDefFormat(buf, ci, g_ptr_array_index(def->channels, i), flags);
    for (i = 0; def->inputs && i < def->inputs->len; i++)
        qvirDomainInputDefFormat(buf, ci, g_ptr_array_index(def->inputs, i), flags);
    for (i = 0; def->graphics && i < def->graphics->len; i++)
        qvirDomainGraphicsDefFormat(buf, ci, g_ptr_array_index(def->graphics, i), flags);
    if (def->audioId) {
        qvirBufIndent(buf, ci);
        g_string_append_printf(buf, "<audio id='%d' type='none'/>\n", def->audioId);
    }
    for (i = 0; def->videos && i < def->videos->len; i++)
        qvirDomainVideoDefFormat(buf, ci, g_ptr_array_index(def->videos, i), flags);
    if (def->memballoon)
        qvirDomainMemballoonDefFormat(buf, ci, def->memballoon, flags);
    for (i = 0; def->rngs && i < def->rngs->len; i++)
        qvirDomainRNGDefFormat(buf, ci, g_ptr_array_index(def->rngs, i), flags);
    qvirBufIndent(buf, indent);
    g_string_append(buf, "</devices>\n");
}

/* ---- the domain ------------------------------------------------------------- */

static void
qvirDomainOSDefFormat(GString *buf, unsigned int indent, const qvirDomainOSDef *os)
{
    unsigned int ci = indent + 2;

    qvirBufIndent(buf, indent);
    g_string_append(buf, "<os>\n");

    qvirBufIndent(buf, ci);
    g_string_append(buf, "<type");
    qvirBufAttr(buf, "arch", os->arch);
    qvirBufAttr(buf, "machine", os->machine);
    g_string_append_c(buf, '>');
    qvirBufEscape(buf, os->type ? os->type : "hvm");
    g_string_append(buf, "</type>\n");

    qvirBufTextElement(buf, ci, "kernel", os->kernel);
    qvirBufTextElement(buf, ci, "initrd", os->initrd);
    qvirBufTextElement(buf, ci, "cmdline", os->cmdline);
    for (unsigned int i = 0; i < os->nBootDevs && i < QVIR_DOMAIN_BOOT_LAST; i++) {
        qvirBufIndent(buf, ci);
        g_string_append(buf, "<boot");
        qvirBufAttr(buf, "dev", qvirDomainBootOrderTypeToString(os->boot[i]));
        g_string_append(buf, "/>\n");
    }
    if (os->bootmenu != QVIR_TRISTATE_BOOL_ABSENT) {
        qvirBufIndent(buf, ci);
        g_string_append(buf, "<bootmenu");
        qvirBufAttr(buf, "enable", qvirTristateBoolTypeToString(os->bootmenu));
        if (os->bmTimeoutSet)
            qvirBufAttrUInt(buf, "timeout", os->bmTimeout);
        g_string_append(buf, "/>\n");
    }
    if (os->useserial != QVIR_TRISTATE_BOOL_ABSENT || os->rtSet) {
        qvirBufIndent(buf, ci);
        g_string_append(buf, "<bios");
        if (os->useserial != QVIR_TRISTATE_BOOL_ABSENT)
            qvirBufAttr(buf, "useserial", qvirTristateBoolTypeToString(os->useserial));
        if (os->rtSet)
            g_string_append_printf(buf, " rebootTimeout='%d'", os->rtDelay);
        g_string_append(buf, "/>\n");
    }

    qvirBufIndent(buf, indent);
    g_string_append(buf, "</os>\n");
}

static void
qvirDomainFeaturesFormat(GString *buf, unsigned int indent, const qvirDomainDef *def)
{
    g_autoptr(GString) children = g_string_new(NULL);

    if (def->acpi == QVIR_TRISTATE_SWITCH_ON) {
        qvirBufIndent(children, indent + 2);
        g_string_append(children, "<acpi/>\n");
    }
    if (def->apic == QVIR_TRISTATE_SWITCH_ON) {
        qvirBufIndent(children, indent + 2);
        g_string_append(children, "<apic");
        if (def->apicEoi != QVIR_TRISTATE_SWITCH_ABSENT)
            qvirBufAttr(children, "eoi", qvirTristateSwitchTypeToString(def->apicEoi));
        g_string_append(children, "/>\n");
    }
    if (def->pae == QVIR_TRISTATE_SWITCH_ON) {
        qvirBufIndent(children, indent + 2);
        g_string_append(children, "<pae/>\n");
    }
    /* libvirt's order of features: acpi, apic, pae, ..., pvspinlock, ..., vmport, smm */
    if (def->pvspinlock != QVIR_TRISTATE_SWITCH_ABSENT) {
        qvirBufIndent(children, indent + 2);
        g_string_append_printf(children, "<pvspinlock state='%s'/>\n",
                               qvirTristateSwitchTypeToString(def->pvspinlock));
    }
    if (def->vmport != QVIR_TRISTATE_SWITCH_ABSENT) {
        qvirBufIndent(children, indent + 2);
        g_string_append_printf(children, "<vmport state='%s'/>\n",
                               qvirTristateSwitchTypeToString(def->vmport));
    }
    if (def->smm != QVIR_TRISTATE_SWITCH_ABSENT) {
        qvirBufIndent(children, indent + 2);
        g_string_append_printf(children, "<smm state='%s'",
                               qvirTristateSwitchTypeToString(def->smm));
        if (def->smm == QVIR_TRISTATE_SWITCH_ON && def->tsegBytes) {
            /* libvirt's virFormatIntPretty: the largest unit that divides the size */
            static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
            unsigned long long val = def->tsegBytes;
            size_t u = 0;

            while (u + 1 < G_N_ELEMENTS(units) && val % 1024 == 0) {
                val /= 1024;
                u++;
            }
            g_string_append(children, ">\n");
            qvirBufIndent(children, indent + 4);
            g_string_append_printf(children, "<tseg unit='%s'>%llu</tseg>\n", units[u], val);
            qvirBufIndent(children, indent + 2);
            g_string_append(children, "</smm>\n");
        } else {
            g_string_append(children, "/>\n");
        }
    }
    if (children->len)
        qvirBufElement(buf, indent, "features", NULL, children);
}

/*
 * As libvirt's virXMLFormatMetadata, which has libxml2 indent the subtree from INDENT:
 * the parser kept it serialized at indent 0, so every markup line gets INDENT more.
 * A line that continues a text node starts with text, never '<' (escaped in text),
 * and stays as it is, as libxml2 leaves it.
 */
static void
qvirDomainMetadataFormat(GString *buf, unsigned int indent, const char *metadata)
{
    g_auto(GStrv) lines = NULL;

    if (!metadata)
        return;
    lines = g_strsplit(metadata, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        const char *p = lines[i] + strspn(lines[i], " ");

        if (*p == '<')
            qvirBufIndent(buf, indent);
        g_string_append(buf, lines[i]);
        g_string_append_c(buf, '\n');
    }
}

static void
qvirDomainClockFormat(GString *buf, unsigned int indent, const qvirDomainDef *def)
{
    g_autoptr(GString) attrs = g_string_new(NULL);
    g_autoptr(GString) timers = g_string_new(NULL);

    qvirBufAttr(attrs, "offset", def->clockOffset ? def->clockOffset : "utc");
    if (g_strcmp0(def->clockOffset, "absolute") == 0)
        g_string_append_printf(attrs, " start='%llu'", def->clockStart);
    for (unsigned int i = 0; i < def->ntimers && i < QVIR_DOMAIN_TIMER_LAST; i++) {
        const qvirDomainTimerDef *t = &def->timers[i];

        qvirBufIndent(timers, indent + 2);
        g_string_append(timers, "<timer");
        qvirBufAttr(timers, "name", qvirDomainTimerNameTypeToString(t->name));
        if (t->present != QVIR_TRISTATE_BOOL_ABSENT)
            qvirBufAttr(timers, "present", qvirTristateBoolTypeToString(t->present));
        if (t->tickpolicy != QVIR_DOMAIN_TIMER_TICKPOLICY_NONE)
            qvirBufAttr(timers, "tickpolicy", qvirDomainTimerTickpolicyTypeToString(t->tickpolicy));
        if (t->track != QVIR_DOMAIN_TIMER_TRACK_NONE)
            qvirBufAttr(timers, "track", qvirDomainTimerTrackTypeToString(t->track));
        g_string_append(timers, "/>\n");
    }
    qvirBufElement(buf, indent, "clock", attrs, timers);
}

static void
qvirDomainPMFormat(GString *buf, unsigned int indent, const qvirDomainDef *def)
{
    g_autoptr(GString) children = g_string_new(NULL);

    if (def->pmS3 != QVIR_TRISTATE_BOOL_ABSENT) {
        qvirBufIndent(children, indent + 2);
        g_string_append_printf(children, "<suspend-to-mem enabled='%s'/>\n",
                               qvirTristateBoolTypeToString(def->pmS3));
    }
    if (def->pmS4 != QVIR_TRISTATE_BOOL_ABSENT) {
        qvirBufIndent(children, indent + 2);
        g_string_append_printf(children, "<suspend-to-disk enabled='%s'/>\n",
                               qvirTristateBoolTypeToString(def->pmS4));
    }
    if (children->len)
        qvirBufElement(buf, indent, "pm", NULL, children);
}

static void
qvirDomainLifecycleFormat(GString *buf, unsigned int indent, const char *name,
                          qvirDomainLifecycleAction action)
{
    qvirBufTextElement(buf, indent, name, qvirDomainLifecycleActionTypeToString(action));
}

static gboolean
qvirDomainDefHasQemuNamespace(const qvirDomainDef *def)
{
    return def->qemuArgs || def->qemuEnv || def->qemuCapsAdd || def->qemuCapsDel;
}

/* libvirt's qemu namespace after <devices>: the command line, then capability overrides. */
static void
qvirDomainQemuNamespaceFormat(GString *buf, unsigned int indent, const qvirDomainDef *def)
{
    g_autoptr(GString) cmdline = g_string_new(NULL);
    g_autoptr(GString) caps = g_string_new(NULL);

    for (guint i = 0; def->qemuArgs && i < def->qemuArgs->len; i++) {
        qvirBufIndent(cmdline, indent + 2);
        g_string_append(cmdline, "<qemu:arg");
        qvirBufAttr(cmdline, "value", g_ptr_array_index(def->qemuArgs, i));
        g_string_append(cmdline, "/>\n");
    }
    for (guint i = 0; def->qemuEnv && i < def->qemuEnv->len; i++) {
        const qvirDomainQemuEnvDef *env = g_ptr_array_index(def->qemuEnv, i);

        qvirBufIndent(cmdline, indent + 2);
        g_string_append(cmdline, "<qemu:env");
        qvirBufAttr(cmdline, "name", env->name);
        qvirBufAttr(cmdline, "value", env->value);
        g_string_append(cmdline, "/>\n");
    }
    qvirBufElementOptional(buf, indent, "qemu:commandline", NULL, cmdline);

    for (guint i = 0; def->qemuCapsAdd && i < def->qemuCapsAdd->len; i++) {
        qvirBufIndent(caps, indent + 2);
        g_string_append(caps, "<qemu:add");
        qvirBufAttr(caps, "capability", g_ptr_array_index(def->qemuCapsAdd, i));
        g_string_append(caps, "/>\n");
    }
    for (guint i = 0; def->qemuCapsDel && i < def->qemuCapsDel->len; i++) {
        qvirBufIndent(caps, indent + 2);
        g_string_append(caps, "<qemu:del");
        qvirBufAttr(caps, "capability", g_ptr_array_index(def->qemuCapsDel, i));
        g_string_append(caps, "/>\n");
    }
    qvirBufElementOptional(buf, indent, "qemu:capabilities", NULL, caps);
}

void
qvirDomainDefFormatBuf(GString *buf, const qvirDomainDef *def, unsigned int flags,
                       unsigned int indent)
{
    char uuidstr[QVIR_UUID_STRING_BUFLEN];
    unsigned int ci = indent + 2;

    g_return_if_fail(buf != NULL && def != NULL);

    qvirBufIndent(buf, indent);
    g_string_append(buf, "<domain");
    qvirBufAttr(buf, "type", qvirDomainVirtTypeTypeToString(def->virtType));
    if (qvirFormatIsLive(flags) && def->id >= 0)
        g_string_append_printf(buf, " id='%d'", def->id);
    if (qvirDomainDefHasQemuNamespace(def))
        qvirBufAttr(buf, "xmlns:qemu", QVIR_DOMAIN_QEMU_NS_HREF);
    g_string_append(buf, ">\n");

    qvirBufTextElement(buf, ci, "name", def->name);
    qvirUUIDFormat(def->uuid, uuidstr);
    qvirBufTextElement(buf, ci, "uuid", uuidstr);
    qvirBufTextElement(buf, ci, "title", def->title);
    qvirBufTextElement(buf, ci, "description", def->description);
    qvirDomainMetadataFormat(buf, ci, def->metadata);

    qvirBufIndent(buf, ci);
    g_string_append_printf(buf, "<memory unit='KiB'>%llu</memory>\n", def->memoryKiB);
    qvirBufIndent(buf, ci);
    g_string_append_printf(buf, "<currentMemory unit='KiB'>%llu</currentMemory>\n",
                           def->currentMemoryKiB ? def->currentMemoryKiB : def->memoryKiB);
    qvirBufIndent(buf, ci);
    g_string_append(buf, "<vcpu placement='static'");
    /* libvirt leaves out a set that names every possible CPU */
    if (def->cpumask && !qvirBitmapIsAllSet(def->cpumask)) {
        g_autofree char *cpuset = qvirBitmapFormat(def->cpumask);

        g_string_append_printf(buf, " cpuset='%s'", cpuset);
    }
    if (def->vcpusCurrent && def->vcpusCurrent != def->vcpus)
        g_string_append_printf(buf, " current='%u'", def->vcpusCurrent);
    g_string_append_printf(buf, ">%u</vcpu>\n", def->vcpus);
    if (def->iothreads) {
        qvirBufIndent(buf, ci);
        g_string_append_printf(buf, "<iothreads>%u</iothreads>\n", def->iothreads);
    }
    if (def->resourcePartition) {
        qvirBufIndent(buf, ci);
        g_string_append(buf, "<resource>\n");
        qvirBufTextElement(buf, ci + 2, "partition", def->resourcePartition);
        qvirBufIndent(buf, ci);
        g_string_append(buf, "</resource>\n");
    }

    qvirDomainOSDefFormat(buf, ci, &def->os);
    qvirDomainFeaturesFormat(buf, ci, def);
    if (def->cpuMode) {
        g_autoptr(GString) cpu = g_string_new(NULL);
        g_autoptr(GString) model = g_string_new(NULL);

        qvirBufAttr(cpu, "mode", def->cpuMode);
        qvirBufAttr(cpu, "match", def->cpuMatch);
        qvirBufAttr(cpu, "check", def->cpuCheck);
        qvirBufAttr(cpu, "migratable", def->cpuMigratable);
        if (def->cpuModel) {
            qvirBufIndent(model, ci + 2);
            g_string_append(model, "<model");
            qvirBufAttr(model, "fallback", def->cpuFallback);
            g_string_append_c(model, '>');
            qvirBufEscape(model, def->cpuModel);
            g_string_append(model, "</model>\n");
        }
        for (guint i = 0; def->cpuFeatures && i < def->cpuFeatures->len; i++) {
            const qvirDomainCPUFeature *f = g_ptr_array_index(def->cpuFeatures, i);

            qvirBufIndent(model, ci + 2);
            g_string_append(model, "<feature");
            qvirBufAttr(model, "policy", f->policy);
            qvirBufAttr(model, "name", f->name);
            g_string_append(model, "/>\n");
        }
        qvirBufElement(buf, ci, "cpu", cpu, model);
    }
    qvirDomainClockFormat(buf, ci, def);
    qvirDomainLifecycleFormat(buf, ci, "on_poweroff", def->onPoweroff);
    qvirDomainLifecycleFormat(buf, ci, "on_reboot", def->onReboot);
    qvirDomainLifecycleFormat(buf, ci, "on_crash", def->onCrash);
    qvirDomainPMFormat(buf, ci, def);

    qvirDomainDevicesFormat(buf, ci, def, flags);
    qvirDomainQemuNamespaceFormat(buf, ci, def);

    qvirBufIndent(buf, indent);
    g_string_append(buf, "</domain>\n");
}

char *
qvirDomainDefFormat(const qvirDomainDef *def, unsigned int flags)
{
    GString *buf = g_string_new(NULL);

    g_return_val_if_fail(def != NULL, NULL);
    qvirDomainDefFormatBuf(buf, def, flags, 0);
    return g_string_free(buf, FALSE);
}
