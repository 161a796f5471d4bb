/*
 * domain_parse.c: libvirt domain XML -> qvirDomainDef (syntax only).
 *
 * The documents come from users over the wire, so libxml2 is told never to touch the
 * network or substitute entities, documents with a DTD are refused, and the size is capped.
 * Everything we do not understand is an error that names it: an element silently dropped
 * would change what the guest gets without anyone noticing.
 */
#include "conf/domain_conf.h"

#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <string.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>

#include "util/virerror.h"
#include "util/virxml.h"

typedef gboolean (*qvirChildParser)(xmlNodePtr node, void *opaque, unsigned int flags,
                                    GError **error);

typedef struct {
    const char *name;
    qvirChildParser parse;
} qvirChildHandler;

static gboolean
qvirParseIsLive(unsigned int flags)
{
    return (flags & (QVIR_DOMAIN_DEF_PARSE_LIVE | QVIR_DOMAIN_DEF_PARSE_STATUS)) != 0;
}

/* ---- small XML helpers ------------------------------------------------------------ */

static const char *
qvirXMLName(xmlNodePtr node)
{
    return (const char *)node->name;
}

/* "qemu:commandline" for an element in a foreign namespace, so the error names it. */
static char *
qvirXMLQualifiedName(xmlNodePtr node)
{
    if (node->ns && node->ns->prefix)
        return g_strdup_printf("%s:%s", (const char *)node->ns->prefix, qvirXMLName(node));
    return g_strdup(qvirXMLName(node));
}

/* A child element we do not handle: refused by name, never silently dropped. */
static gboolean
qvirXMLUnsupportedChild(xmlNodePtr child, const char *parent, GError **error)
{
    g_autofree char *name = qvirXMLQualifiedName(child);

    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "unsupported element <%s> in <%s>",
                name, parent);
    return FALSE;
}

static gboolean
qvirXMLIsElement(xmlNodePtr node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && !node->ns && strcmp(qvirXMLName(node), name) == 0;
}

static xmlNodePtr
qvirXMLFirstElement(xmlNodePtr node)
{
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE)
            return cur;
    }
    return NULL;
}

/* Text content with surrounding blanks removed (numbers, names). */
static char *
qvirXMLTextStripped(xmlNodePtr node)
{
    return g_strstrip(qvirXMLNodeContent(node));
}

/* Refuse attributes we would otherwise silently drop. ALLOWED is NULL-terminated. */
static gboolean
qvirXMLCheckAttrs(xmlNodePtr node, const char *const *allowed, GError **error)
{
    for (xmlAttrPtr attr = node->properties; attr; attr = attr->next) {
        gboolean ok = FALSE;

        for (size_t i = 0; !attr->ns && allowed && allowed[i]; i++) {
            if (strcmp((const char *)attr->name, allowed[i]) == 0) {
                ok = TRUE;
                break;
            }
        }
        if (!ok) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported attribute '%s' in element '%s'", (const char *)attr->name,
                        qvirXMLName(node));
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
qvirXMLCheckNoChildren(xmlNodePtr node, GError **error)
{
    xmlNodePtr child = qvirXMLFirstElement(node);

    if (child) {
        return qvirXMLUnsupportedChild(child, qvirXMLName(node), error);
    }
    return TRUE;
}

static gboolean
qvirXMLPropRequired(xmlNodePtr node, const char *name, char **out, GError **error)
{
    if (!(*out = qvirXMLPropString(node, name))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Missing required attribute '%s' in element '%s'", name, qvirXMLName(node));
        return FALSE;
    }
    return TRUE;
}

/* libvirt's virXMLPropEnum wording, word for word (clients match on it); the values qvirt
 * accepts are in its documentation, not in the message. */
static void
qvirXMLInvalidValue(GError **error, xmlNodePtr node, const char *attr, const char *value)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                "Invalid value for attribute '%s' in element '%s': '%s'.", attr, qvirXMLName(node),
                value);
}

/*
 * An enumerated attribute through its string table. Absent leaves *OUT alone (or fails
 * when REQUIRED). MINVALUE rejects the table's leading placeholder entries ("", "none").
 */
static gboolean
qvirXMLPropEnumFull(xmlNodePtr node, const char *attr, int (*fromString)(const char *),
                    int minValue, gboolean required, int *out, GError **error)
{
    g_autofree char *str = qvirXMLPropString(node, attr);
    int val;

    if (!str) {
        if (!required)
            return TRUE;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Missing required attribute '%s' in element '%s'", attr, qvirXMLName(node));
        return FALSE;
    }
    if ((val = fromString(str)) < minValue) {
        qvirXMLInvalidValue(error, node, attr, str);
        return FALSE;
    }
    *out = val;
    return TRUE;
}

#define qvirXMLPropEnum(node, attr, name, minValue, required, out, error)                          \
    qvirXMLPropEnumFull(node, attr, name##TypeFromString, minValue, required, out, error)

/* A string attribute that must be one of ALLOWED (NULL-terminated); the value is kept. */
static gboolean
qvirXMLPropChoice(xmlNodePtr node, const char *attr, const char *const *allowed, gboolean required,
                  char **out, GError **error)
{
    g_autofree char *str = qvirXMLPropString(node, attr);

    if (!str) {
        if (!required)
            return TRUE;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Missing required attribute '%s' in element '%s'", attr, qvirXMLName(node));
        return FALSE;
    }
    for (size_t i = 0; allowed[i]; i++) {
        if (strcmp(str, allowed[i]) == 0) {
            g_free(*out);
            *out = g_steal_pointer(&str);
            return TRUE;
        }
    }
    qvirXMLInvalidValue(error, node, attr, str);
    return FALSE;
}

/* Unsigned integer; BASE 0 accepts 0x.. hex as libvirt does for PCI addresses. */
static gboolean
qvirStrToUInt(const char *str, int base, unsigned long long max, unsigned long long *out)
{
    char *end = NULL;
    unsigned long long val;

    if (!str || !*str || *str == '-' || *str == '+' || g_ascii_isspace(*str))
        return FALSE;
    errno = 0;
    val = g_ascii_strtoull(str, &end, base);
    if (errno != 0 || !end || *end != '\0' || val > max)
        return FALSE;
    *out = val;
    return TRUE;
}

static gboolean
qvirXMLPropUInt(xmlNodePtr node, const char *attr, int base, unsigned int max, gboolean required,
                unsigned int *out, GError **error)
{
    g_autofree char *str = qvirXMLPropString(node, attr);
    unsigned long long val;

    if (!str) {
        if (!required)
            return TRUE;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Missing required attribute '%s' in element '%s'", attr, qvirXMLName(node));
        return FALSE;
    }
    if (!qvirStrToUInt(str, base, max, &val)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Invalid value for attribute '%s' in element '%s': '%s'. Expected "
                    "non-negative integer value",
                    attr, qvirXMLName(node), str);
        return FALSE;
    }
    *out = (unsigned int)val;
    return TRUE;
}

static gboolean
qvirXMLPropSwitch(xmlNodePtr node, const char *attr, qvirTristateSwitch *out, GError **error)
{
    int val = *out;

    if (!qvirXMLPropEnum(node, attr, qvirTristateSwitch, QVIR_TRISTATE_SWITCH_ON, FALSE, &val,
                         error))
        return FALSE;
    *out = val;
    return TRUE;
}

static gboolean
qvirXMLPropYesNo(xmlNodePtr node, const char *attr, gboolean *out, GError **error)
{
    int val = QVIR_TRISTATE_BOOL_ABSENT;

    if (!qvirXMLPropEnum(node, attr, qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE, &val, error))
        return FALSE;
    if (val != QVIR_TRISTATE_BOOL_ABSENT)
        *out = val == QVIR_TRISTATE_BOOL_YES;
    return TRUE;
}

/* The virtio transport options of a device's <driver> (libvirt's names, any device). */
static gboolean
qvirDomainVirtioOptionsParse(xmlNodePtr node, qvirDomainVirtioOptions *opts, GError **error)
{
    return qvirXMLPropSwitch(node, "iommu", &opts->iommu, error) &&
           qvirXMLPropSwitch(node, "ats", &opts->ats, error) &&
           qvirXMLPropSwitch(node, "packed", &opts->packed, error) &&
           qvirXMLPropSwitch(node, "page_per_vq", &opts->pagePerVq, error);
}

/*
 * Run the handler named after each child element of NODE; any other child is an error
 * naming it. CONTEXT is how the error names the parent ("device element" for <devices>).
 */
static gboolean
qvirXMLParseChildren(xmlNodePtr node, const qvirChildHandler *handlers, void *opaque,
                     unsigned int flags, const char *unknownFmt, GError **error)
{
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        const qvirChildHandler *h = NULL;

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        g_autofree char *key = NULL;

        /* elements of libvirt's qemu namespace match handlers named "qemu:LOCAL",
         * whatever prefix the document binds to it; other namespaces match nothing */
        if (!cur->ns)
            key = g_strdup(qvirXMLName(cur));
        else if (cur->ns->href &&
                 strcmp((const char *)cur->ns->href, QVIR_DOMAIN_QEMU_NS_HREF) == 0)
            key = g_strdup_printf("qemu:%s", qvirXMLName(cur));
        for (size_t i = 0; key && handlers[i].name; i++) {
            if (strcmp(key, handlers[i].name) == 0) {
                h = &handlers[i];
                break;
            }
        }
        if (!h) {
            g_autofree char *name = qvirXMLQualifiedName(cur);
            if (unknownFmt)
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, unknownFmt, name);
            else
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported element <%s> in <%s>", name, qvirXMLName(node));
            return FALSE;
        }
        if (!h->parse(cur, opaque, flags, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
qvirXMLDuplicate(xmlNodePtr node, GError **error)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "duplicate element <%s> in <%s>",
                qvirXMLName(node), node->parent ? qvirXMLName(node->parent) : "");
    return FALSE;
}

/* ---- device info: <boot>, <alias>, <address> -------------------------------------- */

static gboolean
qvirDomainPCIAddressParse(xmlNodePtr node, qvirPCIDeviceAddress *pci, GError **error)
{
    static const char *const attrs[] = {"type",     "domain",        "bus", "slot",
                                        "function", "multifunction", NULL};
    static const struct {
        const char *name;
        unsigned int max;
        const char *maxStr;
        size_t offset;
    } fields[] = {
        {"domain", 0xFFFF, "0xFFFF", G_STRUCT_OFFSET(qvirPCIDeviceAddress, domain)},
        {"bus", 0xFF, "0xFF", G_STRUCT_OFFSET(qvirPCIDeviceAddress, bus)},
        {"slot", 0x1F, "0x1F", G_STRUCT_OFFSET(qvirPCIDeviceAddress, slot)},
        {"function", 7, "7", G_STRUCT_OFFSET(qvirPCIDeviceAddress, function)},
    };

    if (!qvirXMLCheckAttrs(node, attrs, error))
        return FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        g_autofree char *str = qvirXMLPropString(node, fields[i].name);
        unsigned long long val;

        if (!str)
            continue;
        if (!qvirStrToUInt(str, 0, G_MAXUINT, &val)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Cannot parse <address> '%s' attribute", fields[i].name);
            return FALSE;
        }
        if (val > fields[i].max) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Invalid PCI address %s='%s', must be <= %s", fields[i].name, str,
                        fields[i].maxStr);
            return FALSE;
        }
        G_STRUCT_MEMBER(unsigned int, pci, fields[i].offset) = (unsigned int)val;
    }
    return qvirXMLPropSwitch(node, "multifunction", &pci->multifunction, error);
}

static gboolean
qvirDomainDriveAddressParse(xmlNodePtr node, qvirDomainDeviceDriveAddress *drive, GError **error)
{
    static const char *const attrs[] = {"type", "controller", "bus", "target", "unit", NULL};

    return qvirXMLCheckAttrs(node, attrs, error) &&
           qvirXMLPropUInt(node, "controller", 10, G_MAXINT, FALSE, &drive->controller, error) &&
           qvirXMLPropUInt(node, "bus", 10, G_MAXINT, FALSE, &drive->bus, error) &&
           qvirXMLPropUInt(node, "target", 10, G_MAXINT, FALSE, &drive->target, error) &&
           qvirXMLPropUInt(node, "unit", 10, G_MAXINT, FALSE, &drive->unit, error);
}

static gboolean
qvirDomainUSBAddressParse(xmlNodePtr node, qvirDomainDeviceUSBAddress *usb, GError **error)
{
    static const char *const attrs[] = {"type", "bus", "port", NULL};
    g_autofree char *port = NULL;

    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropUInt(node, "bus", 10, G_MAXINT, FALSE, &usb->bus, error))
        return FALSE;
    if (!(port = qvirXMLPropString(node, "port")))
        return TRUE;
    /* Up to 4 levels of hubs: "1", "1.2", ..., each a small number. */
    if (strlen(port) >= sizeof(usb->port) || !*port ||
        strspn(port, "0123456789.") != strlen(port) || port[0] == '.' ||
        port[strlen(port) - 1] == '.' || strstr(port, "..")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Cannot parse <address> 'port' attribute");
        return FALSE;
    }
    g_strlcpy(usb->port, port, sizeof(usb->port));
    return TRUE;
}

static gboolean
qvirDomainVirtioSerialAddressParse(xmlNodePtr node, qvirDomainDeviceVirtioSerialAddress *vioser,
                                   GError **error)
{
    static const char *const attrs[] = {"type", "controller", "bus", "port", NULL};

    return qvirXMLCheckAttrs(node, attrs, error) &&
           qvirXMLPropUInt(node, "controller", 10, G_MAXINT, FALSE, &vioser->controller, error) &&
           qvirXMLPropUInt(node, "bus", 10, G_MAXINT, FALSE, &vioser->bus, error) &&
           qvirXMLPropUInt(node, "port", 10, G_MAXINT, FALSE, &vioser->port, error);
}

static gboolean
qvirDomainDeviceAddressParse(xmlNodePtr node, qvirDomainDeviceInfo *info, GError **error)
{
    int type = QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE;

    if (info->type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLPropEnum(node, "type", qvirDomainDeviceAddressType,
                         QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI, TRUE, &type, error) ||
        !qvirXMLCheckNoChildren(node, error))
        return FALSE;

    info->type = type;
    switch ((qvirDomainDeviceAddressType)type) {
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_PCI:
        return qvirDomainPCIAddressParse(node, &info->addr.pci, error);
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_DRIVE:
        return qvirDomainDriveAddressParse(node, &info->addr.drive, error);
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_USB:
        return qvirDomainUSBAddressParse(node, &info->addr.usb, error);
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_VIRTIO_SERIAL:
        return qvirDomainVirtioSerialAddressParse(node, &info->addr.vioser, error);
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE:
    case QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_LAST:
        break;
    }
    return TRUE;
}

/* Aliases are assigned at start-up; an inactive definition ignores them, as libvirt does. */
static gboolean
qvirDomainDeviceAliasParse(xmlNodePtr node, qvirDomainDeviceInfo *info, unsigned int flags,
                           GError **error)
{
    static const char *const attrs[] = {"name", NULL};
    g_autofree char *name = NULL;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropRequired(node, "name", &name, error))
        return FALSE;
    if (!qvirParseIsLive(flags))
        return TRUE;
    if (info->alias)
        return qvirXMLDuplicate(node, error);
    info->alias = g_steal_pointer(&name);
    return TRUE;
}

static gboolean
qvirDomainDeviceBootParse(xmlNodePtr node, qvirDomainDeviceInfo *info, GError **error)
{
    static const char *const attrs[] = {"order", NULL};
    unsigned int order = 0;

    if (info->bootIndex)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropUInt(node, "order", 10, G_MAXINT, TRUE, &order, error))
        return FALSE;
    if (order == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Invalid value for attribute 'order' in element 'boot': Zero is not permitted");
        return FALSE;
    }
    info->bootIndex = order;
    return TRUE;
}

/* <acpi index=/>: nonzero; only PCI devices may have one (checked at validation). */
static gboolean
qvirDomainDeviceAcpiParse(xmlNodePtr node, qvirDomainDeviceInfo *info, GError **error)
{
    static const char *const attrs[] = {"index", NULL};
    unsigned int idx = 0;

    if (info->acpiIndex)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropUInt(node, "index", 10, G_MAXUINT, FALSE, &idx, error))
        return FALSE;
    if (xmlHasProp(node, (const xmlChar *)"index") && idx == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Invalid value for attribute 'index' in element 'acpi': Zero is not permitted");
        return FALSE;
    }
    info->acpiIndex = idx;
    return TRUE;
}

/* ---- disks ---------------------------------------------------------------------------- */

static gboolean qvirMemoryUnitScale(const char *unit, unsigned long long *scale);

/*
 * <metadata_cache><max_size unit=>N</max_size></metadata_cache>, the only child <driver>
 * and a backing layer's <format> may have; the size is in bytes unless a unit says else.
 */
static gboolean
qvirStorageMetadataCacheParse(xmlNodePtr parent, qvirStorageSource *src, GError **error)
{
    xmlNodePtr cache = NULL;
    xmlNodePtr size = NULL;

    for (xmlNodePtr cur = parent->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "metadata_cache") && !cache) {
            cache = cur;
            continue;
        }
        return qvirXMLUnsupportedChild(cur, qvirXMLName(parent), error);
    }
    if (!cache)
        return TRUE;
    if (!qvirXMLCheckAttrs(cache, NULL, error))
        return FALSE;
    for (xmlNodePtr cur = cache->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "max_size") && !size) {
            size = cur;
            continue;
        }
        return qvirXMLUnsupportedChild(cur, "metadata_cache", error);
    }
    if (size) {
        static const char *const attrs[] = {"unit", NULL};
        g_autofree char *unit = qvirXMLPropString(size, "unit");
        g_autofree char *text = NULL;
        unsigned long long scale = 1;
        unsigned long long val;

        if (!qvirXMLCheckAttrs(size, attrs, error) || !qvirXMLCheckNoChildren(size, error))
            return FALSE;
        if (unit && !qvirMemoryUnitScale(unit, &scale)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "unknown suffix '%s'", unit);
            return FALSE;
        }
        text = qvirXMLTextStripped(size);
        /* QEMU takes it as a signed 64-bit number */
        if (!qvirStrToUInt(text, 10, G_MAXINT64, &val) || val > G_MAXINT64 / scale) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Invalid value '%s' for element or attribute './max_size[1]'", text);
            return FALSE;
        }
        src->metadataCacheMaxSize = val * scale;
    }
    return TRUE;
}

static gboolean
qvirDomainDiskDriverParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"name",
                                        "type",
                                        "cache",
                                        "io",
                                        "discard",
                                        "detect_zeroes",
                                        "error_policy",
                                        "ioeventfd",
                                        "copy_on_read",
                                        "queues",
                                        "event_idx",
                                        "queue_size",
                                        "rerror_policy",
                                        "iothread",
                                        "iommu",
                                        "ats",
                                        "packed",
                                        "page_per_vq",
                                        NULL};
    qvirDomainDiskDef *disk = opaque;
    int format = disk->src->format;
    int cache = disk->cachemode;
    int io = disk->iomode;
    int discard = disk->discard;
    int dz = disk->detect_zeroes;
    int errorPolicy = QVIR_DOMAIN_DISK_ERROR_POLICY_DEFAULT;
    int rerrorPolicy = QVIR_DOMAIN_DISK_ERROR_POLICY_DEFAULT;

    if (disk->driverName)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirStorageMetadataCacheParse(node, disk->src, error))
        return FALSE;
    if (!qvirXMLPropEnum(node, "type", qvirStorageFileFormat, QVIR_STORAGE_FILE_RAW, FALSE, &format,
                         error) ||
        !qvirXMLPropEnum(node, "cache", qvirDomainDiskCache, 0, FALSE, &cache, error) ||
        !qvirXMLPropEnum(node, "io", qvirDomainDiskIo, 0, FALSE, &io, error) ||
        !qvirXMLPropEnum(node, "discard", qvirDomainDiskDiscard, 0, FALSE, &discard, error) ||
        !qvirXMLPropEnum(node, "detect_zeroes", qvirDomainDiskDetectZeroes, 0, FALSE, &dz, error) ||
        !qvirXMLPropEnum(node, "error_policy", qvirDomainDiskErrorPolicy,
                         QVIR_DOMAIN_DISK_ERROR_POLICY_STOP, FALSE, &errorPolicy, error) ||
        !qvirXMLPropEnum(node, "rerror_policy", qvirDomainDiskErrorPolicy,
                         QVIR_DOMAIN_DISK_ERROR_POLICY_STOP, FALSE, &rerrorPolicy, error) ||
        !qvirXMLPropSwitch(node, "ioeventfd", &disk->ioeventfd, error) ||
        !qvirXMLPropSwitch(node, "event_idx", &disk->eventIdx, error) ||
        !qvirXMLPropSwitch(node, "copy_on_read", &disk->copyOnRead, error) ||
        !qvirXMLPropUInt(node, "queues", 10, G_MAXINT, FALSE, &disk->queues, error) ||
        !qvirXMLPropUInt(node, "queue_size", 10, G_MAXINT, FALSE, &disk->queueSize, error) ||
        !qvirXMLPropUInt(node, "iothread", 10, G_MAXINT, FALSE, &disk->iothread, error) ||
        !qvirDomainVirtioOptionsParse(node, &disk->virtio, error))
        return FALSE;
    /* QEMU has no read-side ENOSPC: libvirt refuses it for rerror_policy. */
    if (rerrorPolicy == QVIR_DOMAIN_DISK_ERROR_POLICY_ENOSPACE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "Invalid disk read error policy: 'enospace'");
        return FALSE;
    }
    disk->errorPolicy = errorPolicy;
    disk->rerrorPolicy = rerrorPolicy;

    disk->driverName = qvirXMLPropString(node, "name");
    if (!disk->driverName)
        disk->driverName = g_strdup("");
    disk->src->format = format;
    disk->cachemode = cache;
    disk->iomode = io;
    disk->discard = discard;
    disk->detect_zeroes = dz;
    return TRUE;
}

/* ---- network sources ------------------------------------------------------------------ */

/* <host name= port= transport= socket=/>, with libvirt's checks and words. */
static gboolean
qvirStorageNetHostParse(xmlNodePtr node, qvirStorageNetHost *host, GError **error)
{
    static const char *const attrs[] = {"name", "port", "transport", "socket", NULL};
    g_autofree char *transport = qvirXMLPropString(node, "transport");
    g_autofree char *port = NULL;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    host->transport = QVIR_STORAGE_NET_HOST_TRANS_TCP;
    if (transport) {
        int t = qvirStorageNetHostTransportTypeFromString(transport);

        if (t < 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unknown protocol transport type '%s'", transport);
            return FALSE;
        }
        host->transport = t;
    }
    host->socket = qvirXMLPropString(node, "socket");
    if (host->transport == QVIR_STORAGE_NET_HOST_TRANS_UNIX) {
        if (!host->socket) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing socket for unix transport");
            return FALSE;
        }
        /* libvirt ignores name= and port= of a unix host; so do we, as it drops them */
        return TRUE;
    }
    if (host->socket) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "transport '%s' does not support socket attribute",
                    transport ? transport : "(null)");
        return FALSE;
    }
    if (!(host->name = qvirXMLPropString(node, "name"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing name for host");
        return FALSE;
    }
    if ((port = qvirXMLPropString(node, "port")) &&
        !qvirStorageNetHostParsePort(port, &host->port, error))
        return FALSE;
    return TRUE;
}

gboolean
qvirStorageAuthParse(xmlNodePtr node, qvirStorageAuthContext context, qvirStorageAuth **out,
                     GError **error)
{
    static const char *const attrs[] = {"username", "type", NULL};
    static const char *const secretAttrs[] = {"type", "uuid", "usage", NULL};
    gboolean pool = context == QVIR_STORAGE_AUTH_POOL;
    g_autoptr(qvirStorageAuth) auth = g_new0(qvirStorageAuth, 1);
    g_autofree char *type = qvirXMLPropString(node, "type");
    xmlNodePtr secret = NULL;
    g_autofree char *uuid = NULL;

    if (!pool && !qvirXMLCheckAttrs(node, attrs, error))
        return FALSE;
    if (!(auth->username = qvirXMLPropString(node, "username"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing username for auth");
        return FALSE;
    }
    if (type) {
        int t = qvirStorageAuthTypeTypeFromString(type);

        /* a pool names a real type: "none" is as unknown as any other word there */
        if (t < 0 || (pool && t == QVIR_STORAGE_AUTH_TYPE_NONE)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "unknown auth type '%s'",
                        type);
            return FALSE;
        }
        auth->authType = t;
    }
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        /* libvirt's pool parser takes the first <secret> and reads nothing else */
        if (pool) {
            if (!secret && xmlStrEqual(cur->name, BAD_CAST "secret"))
                secret = cur;
            continue;
        }
        if (!qvirXMLIsElement(cur, "secret"))
            return qvirXMLUnsupportedChild(cur, "auth", error);
        if (secret)
            return qvirXMLDuplicate(cur, error);
        secret = cur;
    }
    if (!secret) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "Missing <secret> element in auth");
        return FALSE;
    }
    if (!pool &&
        (!qvirXMLCheckAttrs(secret, secretAttrs, error) || !qvirXMLCheckNoChildren(secret, error)))
        return FALSE;
    auth->secretType = qvirXMLPropString(secret, "type");
    uuid = qvirXMLPropString(secret, "uuid");
    auth->secretUsage = qvirXMLPropString(secret, "usage");
    if (!uuid && !auth->secretUsage) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "missing secret uuid or usage attribute");
        return FALSE;
    }
    if (uuid && auth->secretUsage) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "either secret uuid or usage expected");
        return FALSE;
    }
    if (uuid) {
        unsigned char raw[16];
        char canon[QVIR_UUID_STRING_BUFLEN];

        if (!qvirUUIDParse(uuid, raw)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "invalid secret uuid '%s'", uuid);
            return FALSE;
        }
        qvirUUIDFormat(raw, canon);
        auth->secretUUID = g_strdup(canon);
    }
    *out = g_steal_pointer(&auth);
    return TRUE;
}

/* <encryption format= [engine=]><secret type='passphrase' uuid=|usage=/>…</encryption>, in a
 * layer's <source> or (older XML) in <disk>. libvirt's wording for its errors. */
static gboolean
qvirStorageEncryptionParse(xmlNodePtr node, qvirStorageEncryption **out, GError **error)
{
    static const char *const attrs[] = {"format", "engine", NULL};
    static const char *const secretAttrs[] = {"type", "uuid", "usage", NULL};
    g_autoptr(qvirStorageEncryption) enc = g_new0(qvirStorageEncryption, 1);
    g_autofree char *format = qvirXMLPropString(node, "format");
    g_autoptr(GArray) secrets = g_array_new(FALSE, TRUE, sizeof(qvirStorageEncryptionSecret));
    int engine = QVIR_STORAGE_ENCRYPTION_ENGINE_DEFAULT;
    int fmt;

    if (!qvirXMLCheckAttrs(node, attrs, error))
        return FALSE;
    if (!format) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "unknown volume encryption format");
        return FALSE;
    }
    if ((fmt = qvirStorageEncryptionFormatTypeFromString(format)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unknown volume encryption format type %s", format);
        return FALSE;
    }
    enc->format = fmt;
    if (!qvirXMLPropEnum(node, "engine", qvirStorageEncryptionEngine,
                         QVIR_STORAGE_ENCRYPTION_ENGINE_QEMU, FALSE, &engine, error))
        return FALSE;
    enc->engine = engine;

    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        qvirStorageEncryptionSecret secret = {0};
        g_autofree char *type = NULL;
        g_autofree char *uuid = NULL;

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "cipher") || qvirXMLIsElement(cur, "ivgen")) {
            /* only meaningful when creating a volume: a disk refuses <cipher> in
             * validation, and libvirt drops an <ivgen> without one */
            if (qvirXMLIsElement(cur, "cipher"))
                enc->hasCipher = TRUE;
            continue;
        }
        if (!qvirXMLIsElement(cur, "secret"))
            return qvirXMLUnsupportedChild(cur, "encryption", error);
        if (!qvirXMLCheckAttrs(cur, secretAttrs, error) || !qvirXMLCheckNoChildren(cur, error))
            return FALSE;
        if (!(type = qvirXMLPropString(cur, "type"))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "unknown volume encryption secret type");
            return FALSE;
        }
        if (strcmp(type, "passphrase") != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unknown volume encryption secret type %s", type);
            return FALSE;
        }
        uuid = qvirXMLPropString(cur, "uuid");
        secret.usage = qvirXMLPropString(cur, "usage");
        if (!uuid && !secret.usage) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "missing secret uuid or usage attribute");
            return FALSE;
        }
        if (uuid && secret.usage) {
            g_free(secret.usage);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "either secret uuid or usage expected");
            return FALSE;
        }
        if (uuid) {
            unsigned char raw[16];
            char canon[QVIR_UUID_STRING_BUFLEN];

            if (!qvirUUIDParse(uuid, raw)) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "invalid secret uuid '%s'",
                            uuid);
                return FALSE;
            }
            qvirUUIDFormat(raw, canon);
            secret.uuid = g_strdup(canon);
        }
        g_array_append_val(secrets, secret);
    }
    enc->nsecrets = secrets->len;
    enc->secrets = (qvirStorageEncryptionSecret *)(void *)g_array_free(g_steal_pointer(&secrets),
                                                                       enc->nsecrets == 0);
    *out = g_steal_pointer(&enc);
    return TRUE;
}

static gboolean qvirStorageSourceSeclabelParse(xmlNodePtr node, qvirStorageSource *src,
                                               unsigned int flags, GError **error);

/* The children of a local (file, block, volume) <source>: <seclabel> and <encryption>. */
static gboolean
qvirStorageSourceLocalChildrenParse(xmlNodePtr node, qvirStorageSource *src, unsigned int flags,
                                    GError **error)
{
    for (xmlNodePtr cur = qvirXMLFirstElement(node); cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "seclabel")) {
            if (!qvirStorageSourceSeclabelParse(cur, src, flags, error))
                return FALSE;
            continue;
        }
        if (!qvirXMLIsElement(cur, "encryption"))
            return qvirXMLUnsupportedChild(cur, qvirXMLName(node), error);
        if (src->encryption)
            return qvirXMLDuplicate(cur, error);
        if (!qvirStorageEncryptionParse(cur, &src->encryption, error))
            return FALSE;
    }
    return TRUE;
}

/* Characters RFC 6265 forbids in a cookie value (controls, blank, '"', ',', ';', '\'); a
 * name may hold none of them nor a separator. libvirt's checks and words. */
static gboolean
qvirStorageNetCookieCheck(const qvirStorageNetCookie *cookie, GError **error)
{
    static const char badValue[] = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x0F"
                                   "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1A\x1B\x1C\x1D\x1E"
                                   "\x1F \",;\\";
    static const char badName[] = "()<>@:/[]?={}";
    g_autofree char *val = g_strdup(cookie->value);
    const char *check = val;
    size_t len = strlen(val);

    if (!*cookie->name) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "cookie name must not be empty");
        return FALSE;
    }
    if (strpbrk(cookie->name, badValue) || strpbrk(cookie->name, badName)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "cookie name '%s' contains invalid characters", cookie->name);
        return FALSE;
    }
    /* the value may be quoted as a whole */
    if (len > 0 && val[0] == '"') {
        if (len < 2 || val[len - 1] != '"') {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "value of cookie '%s' contains invalid characters", cookie->name);
            return FALSE;
        }
        val[len - 1] = '\0';
        check++;
    }
    if (strpbrk(check, badValue)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "value of cookie '%s' contains invalid characters", cookie->name);
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirStorageNetCookiesParse(xmlNodePtr node, qvirStorageSource *src, GError **error)
{
    static const char *const attrs[] = {"name", NULL};
    g_autoptr(GArray) cookies = g_array_new(FALSE, TRUE, sizeof(qvirStorageNetCookie));

    if (src->cookies)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error))
        return FALSE;
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        qvirStorageNetCookie cookie = {0};

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (!qvirXMLIsElement(cur, "cookie") || !qvirXMLCheckAttrs(cur, attrs, error) ||
            !qvirXMLCheckNoChildren(cur, error)) {
            if (error && !*error)
                qvirXMLUnsupportedChild(cur, "cookies", error);
            goto fail;
        }
        if (!(cookie.name = qvirXMLPropString(cur, "name"))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing cookie name");
            goto fail;
        }
        cookie.value = qvirXMLNodeContent(cur);
        g_array_append_val(cookies, cookie);
        if (!*cookie.value) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing value for cookie '%s'",
                        cookie.name);
            goto fail;
        }
        if (!qvirStorageNetCookieCheck(&cookie, error))
            goto fail;
        for (guint i = 0; i + 1 < cookies->len; i++) {
            if (strcmp(g_array_index(cookies, qvirStorageNetCookie, i).name, cookie.name) == 0) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "duplicate cookie '%s'",
                            cookie.name);
                goto fail;
            }
        }
    }
    src->ncookies = cookies->len;
    src->cookies = (qvirStorageNetCookie *)(void *)g_array_free(g_steal_pointer(&cookies), FALSE);
    return TRUE;

fail:
    for (guint i = 0; i < cookies->len; i++) {
        g_free(g_array_index(cookies, qvirStorageNetCookie, i).name);
        g_free(g_array_index(cookies, qvirStorageNetCookie, i).value);
    }
    return FALSE;
}

/* <readahead size=> / <timeout seconds=>: libvirt reads them as unsigned 64-bit numbers. */
static gboolean
qvirStorageNetULongLongParse(xmlNodePtr node, const char *attr, unsigned long long *out,
                             GError **error)
{
    const char *const attrs[] = {attr, NULL};
    g_autofree char *str = qvirXMLPropString(node, attr);

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    if (str && !qvirStrToUInt(str, 10, G_MAXUINT64, out)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "invalid readahead size or timeout");
        return FALSE;
    }
    return TRUE;
}

/* A child of a network <source> with one attribute kept as a string (<snapshot name=>,
 * <config file=>, <initiator><iqn name=>). */
static gboolean
qvirStorageNetStringChild(xmlNodePtr node, const char *attr, char **out, GError **error)
{
    const char *const attrs[] = {attr, NULL};

    if (*out)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    *out = qvirXMLPropString(node, attr);
    if (!*out)
        *out = g_strdup("");
    return TRUE;
}

static gboolean
qvirStorageNetInitiatorParse(xmlNodePtr node, qvirStorageSource *src, GError **error)
{
    xmlNodePtr iqn = NULL;

    if (!qvirXMLCheckAttrs(node, NULL, error))
        return FALSE;
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (!qvirXMLIsElement(cur, "iqn") || iqn)
            return qvirXMLUnsupportedChild(cur, "initiator", error);
        iqn = cur;
    }
    if (!iqn)
        return TRUE;
    return qvirStorageNetStringChild(iqn, "name", &src->initiatorIQN, error);
}

/*
 * One <seclabel model= relabel= [labelskip=]><label>..</label></seclabel> of a <source>,
 * appended to SRC's labels. labelskip is read from live XML only (libvirt ignores it in an
 * inactive definition); a <label> longer than libvirt's buffer is dropped as libvirt does.
 */
static gboolean
qvirStorageSourceSeclabelParse(xmlNodePtr node, qvirStorageSource *src, unsigned int flags,
                               GError **error)
{
    static const char *const attrs[] = {"model", "relabel", "labelskip", NULL};
    qvirSecurityDeviceLabel def = {NULL, TRUE, FALSE, NULL};
    g_autofree char *model = NULL;
    g_autofree char *label = NULL;
    int relabel = QVIR_TRISTATE_BOOL_ABSENT;
    int labelskip = QVIR_TRISTATE_BOOL_ABSENT;

    if (!qvirXMLCheckAttrs(node, attrs, error))
        return FALSE;
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (!qvirXMLIsElement(cur, "label"))
            return qvirXMLUnsupportedChild(cur, "seclabel", error);
        if (!label) {
            xmlChar *text = xmlNodeGetContent(cur);

            if (text && *text && strlen((const char *)text) < 4096)
                label = g_strdup((const char *)text);
            xmlFree(text);
        }
    }
    model = qvirXMLPropString(node, "model");
    if (model && qvirStorageSourceGetSecurityLabel(src, model)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL,
                    "seclabel for model %s is already provided", model);
        return FALSE;
    }
    if (!qvirXMLPropEnum(node, "relabel", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE, &relabel,
                         error))
        return FALSE;
    def.relabel = relabel != QVIR_TRISTATE_BOOL_NO;
    if (qvirParseIsLive(flags)) {
        if (!qvirXMLPropEnum(node, "labelskip", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE,
                             &labelskip, error))
            return FALSE;
        def.labelskip = labelskip == QVIR_TRISTATE_BOOL_YES;
    }
    if (label && !def.relabel) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Cannot specify a label if relabelling is turned off. model=%s",
                    model ? model : "<null>");
        return FALSE;
    }
    def.model = g_steal_pointer(&model);
    def.label = g_steal_pointer(&label);
    src->seclabels = g_renew(qvirSecurityDeviceLabel, src->seclabels, src->nseclabels + 1);
    src->seclabels[src->nseclabels++] = def;
    return TRUE;
}

/* Which optional children a protocol's <source> may have (libvirt reads the others not at
 * all, so they would vanish: we refuse them instead). */
static gboolean
qvirStorageNetChildAllowed(qvirStorageNetProtocol protocol, const char *name)
{
    gboolean http =
        protocol == QVIR_STORAGE_NET_PROTOCOL_HTTP || protocol == QVIR_STORAGE_NET_PROTOCOL_HTTPS;
    gboolean curl = http || protocol == QVIR_STORAGE_NET_PROTOCOL_FTP ||
                    protocol == QVIR_STORAGE_NET_PROTOCOL_FTPS;

    if (strcmp(name, "ssl") == 0)
        return protocol == QVIR_STORAGE_NET_PROTOCOL_HTTPS ||
               protocol == QVIR_STORAGE_NET_PROTOCOL_FTPS;
    if (strcmp(name, "cookies") == 0)
        return http;
    if (strcmp(name, "readahead") == 0 || strcmp(name, "timeout") == 0)
        return curl;
    if (strcmp(name, "identity") == 0)
        return protocol == QVIR_STORAGE_NET_PROTOCOL_NFS;
    return TRUE;
}

static gboolean
qvirStorageNetSourceChildParse(xmlNodePtr cur, qvirStorageSource *src, GError **error)
{
    const char *name = qvirXMLName(cur);

    if (!qvirStorageNetChildAllowed(src->protocol, name))
        return qvirXMLUnsupportedChild(cur, "source", error);
    if (strcmp(name, "snapshot") == 0)
        return qvirStorageNetStringChild(cur, "name", &src->snapshot, error);
    if (strcmp(name, "config") == 0)
        return qvirStorageNetStringChild(cur, "file", &src->configFile, error);
    if (strcmp(name, "initiator") == 0)
        return qvirStorageNetInitiatorParse(cur, src, error);
    if (strcmp(name, "auth") == 0) {
        if (src->auth)
            return qvirXMLDuplicate(cur, error);
        return qvirStorageAuthParse(cur, QVIR_STORAGE_AUTH_DISK, &src->auth, error);
    }
    if (strcmp(name, "encryption") == 0) {
        if (src->encryption)
            return qvirXMLDuplicate(cur, error);
        return qvirStorageEncryptionParse(cur, &src->encryption, error);
    }
    if (strcmp(name, "ssl") == 0) {
        static const char *const attrs[] = {"verify", NULL};
        int verify = QVIR_TRISTATE_BOOL_ABSENT;

        if (!qvirXMLCheckAttrs(cur, attrs, error) || !qvirXMLCheckNoChildren(cur, error) ||
            !qvirXMLPropEnum(cur, "verify", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE,
                             &verify, error))
            return FALSE;
        src->sslverify = verify;
        return TRUE;
    }
    if (strcmp(name, "cookies") == 0)
        return qvirStorageNetCookiesParse(cur, src, error);
    if (strcmp(name, "readahead") == 0)
        return qvirStorageNetULongLongParse(cur, "size", &src->readahead, error);
    if (strcmp(name, "timeout") == 0)
        return qvirStorageNetULongLongParse(cur, "seconds", &src->timeout, error);
    if (strcmp(name, "identity") == 0) {
        static const char *const attrs[] = {"user", "group", NULL};

        if (!qvirXMLCheckAttrs(cur, attrs, error) || !qvirXMLCheckNoChildren(cur, error))
            return FALSE;
        g_free(src->nfsUser);
        g_free(src->nfsGroup);
        src->nfsUser = qvirXMLPropString(cur, "user");
        src->nfsGroup = qvirXMLPropString(cur, "group");
        return TRUE;
    }
    return qvirXMLUnsupportedChild(cur, "source", error);
}

/*
 * <source protocol= name= [query=] [tls=] [tlsHostname=] [index=]> of a network layer
 * (SRC->type is NETWORK) and its children.
 */
static gboolean
qvirStorageNetSourceParse(xmlNodePtr node, qvirStorageSource *src,
                          qvirDomainStartupPolicy *startupPolicy, unsigned int flags,
                          GError **error)
{
    static const char *const attrs[] = {"protocol",    "name",  "query",         "tls",
                                        "tlsHostname", "index", "tlsFromConfig", NULL};
    static const char *const topAttrs[] = {"protocol",      "name",          "query",
                                           "tls",           "tlsHostname",   "index",
                                           "startupPolicy", "tlsFromConfig", NULL};
    g_autoptr(GArray) hosts = g_array_new(FALSE, TRUE, sizeof(qvirStorageNetHost));
    int protocol = QVIR_STORAGE_NET_PROTOCOL_NONE;
    int tls = QVIR_TRISTATE_BOOL_ABSENT;

    g_array_set_clear_func(hosts, (GDestroyNotify)qvirStorageNetHostClear);
    /* startupPolicy belongs to the disk; validation refuses it for a network one, as
     * libvirt does */
    if (startupPolicy) {
        int policy = QVIR_DOMAIN_STARTUP_POLICY_DEFAULT;

        if (!qvirXMLPropEnum(node, "startupPolicy", qvirDomainStartupPolicy,
                             QVIR_DOMAIN_STARTUP_POLICY_MANDATORY, FALSE, &policy, error))
            return FALSE;
        *startupPolicy = policy;
    }
    if (!qvirXMLCheckAttrs(node, startupPolicy ? topAttrs : attrs, error) ||
        !qvirXMLPropEnum(node, "protocol", qvirStorageNetProtocol, QVIR_STORAGE_NET_PROTOCOL_NBD,
                         TRUE, &protocol, error) ||
        !qvirXMLPropEnum(node, "tls", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE, &tls, error))
        return FALSE;
    src->protocol = protocol;
    src->haveTLS = tls;
    if (qvirParseIsLive(flags) &&
        !qvirXMLPropUInt(node, "index", 10, G_MAXINT, FALSE, &src->id, error))
        return FALSE;

    src->path = qvirXMLPropString(node, "name");
    if (!src->path && src->protocol != QVIR_STORAGE_NET_PROTOCOL_NBD) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing name for disk source");
        return FALSE;
    }
    src->tlsHostname = qvirXMLPropString(node, "tlsHostname");
    /* the daemon's own status XML only (libvirt reads it there alone too) */
    if (flags & QVIR_DOMAIN_DEF_PARSE_STATUS) {
        g_autofree char *fromConfig = qvirXMLPropString(node, "tlsFromConfig");

        src->tlsFromConfig = g_strcmp0(fromConfig, "1") == 0;
    } else if (xmlHasProp(node, (const xmlChar *)"tlsFromConfig")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported attribute 'tlsFromConfig' in element 'source'");
        return FALSE;
    }
    /* libvirt reads query= only for http(s) and forgets it otherwise */
    if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_HTTP ||
        src->protocol == QVIR_STORAGE_NET_PROTOCOL_HTTPS)
        src->query = qvirXMLPropString(node, "query");

    /* rbd's pool and gluster's volume share name= with the image: "pool/image" */
    if (src->path && (src->protocol == QVIR_STORAGE_NET_PROTOCOL_GLUSTER ||
                      src->protocol == QVIR_STORAGE_NET_PROTOCOL_RBD)) {
        char *slash = strchr(src->path, '/');

        if (!slash || slash == src->path) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "can't split path '%s' into pool name and image name", src->path);
            return FALSE;
        }
        src->netVolume = g_strndup(src->path, slash - src->path);
        memmove(src->path, slash + 1, strlen(slash + 1) + 1);
    }

    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (cur->ns)
            return qvirXMLUnsupportedChild(cur, "source", error);
        if (qvirXMLIsElement(cur, "host")) {
            qvirStorageNetHost host = {0};

            g_array_append_val(hosts, host);
            if (!qvirStorageNetHostParse(
                    cur, &g_array_index(hosts, qvirStorageNetHost, hosts->len - 1), error))
                return FALSE;
            continue;
        }
        /* libvirt reads a network layer's labels but never writes them back */
        if (qvirXMLIsElement(cur, "seclabel")) {
            if (!qvirStorageSourceSeclabelParse(cur, src, flags, error))
                return FALSE;
            continue;
        }
        if (!qvirStorageNetSourceChildParse(cur, src, error))
            return FALSE;
    }
    src->nhosts = hosts->len;
    g_array_set_clear_func(hosts, NULL);
    src->hosts = (qvirStorageNetHost *)(void *)g_array_free(g_steal_pointer(&hosts), FALSE);
    if (!src->nhosts)
        g_clear_pointer(&src->hosts, g_free);
    qvirStorageSourceNetworkAssignDefaultPorts(src);
    return TRUE;
}

/*
 * <source file=|dev= [index=] [startupPolicy=]/> into SRC, whose type is already set;
 * STARTUPPOLICY is non-NULL for a disk's top source only. An empty <source/>
 * (or file='') is a cdrom without media: SRC becomes type NONE.
 */
static gboolean
qvirStorageSourceParse(xmlNodePtr node, qvirStorageSource *src,
                       qvirDomainStartupPolicy *startupPolicy, unsigned int flags, GError **error)
{
    static const char *const fileAttrs[] = {"file", "index", NULL};
    static const char *const blockAttrs[] = {"dev", "index", NULL};
    static const char *const fileTopAttrs[] = {"file", "index", "startupPolicy", NULL};
    static const char *const blockTopAttrs[] = {"dev", "index", "startupPolicy", NULL};
    gboolean block = src->type == QVIR_STORAGE_TYPE_BLOCK;
    const char *pathAttr = block ? "dev" : "file";
    g_autofree char *path = NULL;

    if (src->type == QVIR_STORAGE_TYPE_NETWORK)
        return qvirStorageNetSourceParse(node, src, startupPolicy, flags, error);

    /* startupPolicy belongs to the disk: only its top <source> may carry it */
    if (!qvirXMLCheckAttrs(node,
                           startupPolicy ? (block ? blockTopAttrs : fileTopAttrs)
                                         : (block ? blockAttrs : fileAttrs),
                           error) ||
        !qvirStorageSourceLocalChildrenParse(node, src, flags, error))
        return FALSE;
    if (startupPolicy) {
        int policy = QVIR_DOMAIN_STARTUP_POLICY_DEFAULT;

        if (!qvirXMLPropEnum(node, "startupPolicy", qvirDomainStartupPolicy,
                             QVIR_DOMAIN_STARTUP_POLICY_MANDATORY, FALSE, &policy, error))
            return FALSE;
        *startupPolicy = policy;
    }

    if (qvirParseIsLive(flags) &&
        !qvirXMLPropUInt(node, "index", 10, G_MAXINT, FALSE, &src->id, error))
        return FALSE;

    path = qvirXMLPropString(node, pathAttr);
    if (!path || !*path) {
        src->type = QVIR_STORAGE_TYPE_NONE;
        src->ejected = src->id != 0;
        return TRUE;
    }
    src->path = g_steal_pointer(&path);
    return TRUE;
}

static gboolean
qvirStorageTypeParse(xmlNodePtr node, int *type, GError **error)
{
    g_autofree char *str = qvirXMLPropString(node, "type");

    if (!qvirXMLPropEnum(node, "type", qvirStorageType, QVIR_STORAGE_TYPE_FILE, FALSE, type, error))
        return FALSE;
    return TRUE;
}

typedef struct {
    xmlNodePtr format;
    xmlNodePtr source;
    xmlNodePtr backing;
} qvirBackingChildren;

static gboolean
qvirBackingStoreChildren(xmlNodePtr node, qvirBackingChildren *kids, GError **error)
{
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        xmlNodePtr *slot = NULL;

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "format"))
            slot = &kids->format;
        else if (qvirXMLIsElement(cur, "source"))
            slot = &kids->source;
        else if (qvirXMLIsElement(cur, "backingStore"))
            slot = &kids->backing;
        if (!slot) {
            return qvirXMLUnsupportedChild(cur, "backingStore", error);
        }
        if (*slot)
            return qvirXMLDuplicate(cur, error);
        *slot = cur;
    }
    return TRUE;
}

/* One <backingStore> element (not its nested chain). */
static qvirStorageSource *
qvirBackingStoreLayerParse(xmlNodePtr node, const qvirBackingChildren *kids, unsigned int flags,
                           GError **error)
{
    static const char *const attrs[] = {"type", "index", NULL};
    static const char *const statusAttrs[] = {"type", "index", "probed", NULL};
    static const char *const formatAttrs[] = {"type", NULL};
    gboolean status = (flags & QVIR_DOMAIN_DEF_PARSE_STATUS) != 0;
    g_autoptr(qvirStorageSource) layer = qvirStorageSourceNew();
    gboolean probed = FALSE;
    int type = QVIR_STORAGE_TYPE_NONE;
    int format = QVIR_STORAGE_FILE_NONE;

    if (!qvirXMLCheckAttrs(node, status ? statusAttrs : attrs, error) ||
        (status && !qvirXMLPropYesNo(node, "probed", &probed, error)))
        return NULL;
    layer->fromXML = !probed;

    /* An element with neither a type nor children terminates the chain. */
    if (!xmlHasProp(node, (const xmlChar *)"type") && !qvirXMLFirstElement(node))
        return g_steal_pointer(&layer);

    if (!qvirStorageTypeParse(node, &type, error))
        return NULL;
    if (type == QVIR_STORAGE_TYPE_NONE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing disk backing store type");
        return NULL;
    }
    layer->type = type;
    if (qvirParseIsLive(flags) &&
        !qvirXMLPropUInt(node, "index", 10, G_MAXINT, FALSE, &layer->id, error))
        return NULL;

    if (!kids->format) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing disk backing store format");
        return NULL;
    }
    if (!qvirXMLCheckAttrs(kids->format, formatAttrs, error) ||
        !qvirStorageMetadataCacheParse(kids->format, layer, error) ||
        !qvirXMLPropEnum(kids->format, "type", qvirStorageFileFormat, QVIR_STORAGE_FILE_RAW, TRUE,
                         &format, error))
        return NULL;
    layer->format = format;

    if (!kids->source) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing disk backing store source");
        return NULL;
    }
    if (!qvirStorageSourceParse(kids->source, layer, NULL, flags, error))
        return NULL;
    if (layer->type == QVIR_STORAGE_TYPE_NONE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "missing path in disk backing store source");
        return NULL;
    }
    return g_steal_pointer(&layer);
}

#define QVIR_DOMAIN_BACKING_CHAIN_MAX 200

/*
 * The nested <backingStore> chain below TOP, iteratively. No <backingStore> at all leaves
 * the chain unknown (NULL); an empty one terminates it.
 */
static gboolean
qvirDomainDiskBackingChainParse(xmlNodePtr first, qvirStorageSource *top, unsigned int flags,
                                GError **error)
{
    qvirStorageSource *parent = top;
    xmlNodePtr node = first;
    unsigned int depth = 0;

    while (node) {
        qvirBackingChildren kids = {0};
        qvirStorageSource *layer;

        if (!qvirBackingStoreChildren(node, &kids, error))
            return FALSE;
        if (!(layer = qvirBackingStoreLayerParse(node, &kids, flags, error)))
            return FALSE;
        parent->backingStore = layer;
        if (layer->type == QVIR_STORAGE_TYPE_NONE)
            break;
        /* Counted in real layers below the top; the terminator is not one. */
        if (++depth > QVIR_DOMAIN_BACKING_CHAIN_MAX) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "backing chains more than %d layers deep are not supported",
                        QVIR_DOMAIN_BACKING_CHAIN_MAX);
            return FALSE;
        }
        parent = layer;
        node = kids.backing;
    }
    return TRUE;
}

/* Bus from the target name when <target bus=> is absent, as libvirt does. */
static qvirDomainDiskBus
qvirDomainDiskBusFromTarget(const char *dst)
{
    if (g_str_has_prefix(dst, "vd"))
        return QVIR_DOMAIN_DISK_BUS_VIRTIO;
    if (g_str_has_prefix(dst, "sd"))
        return QVIR_DOMAIN_DISK_BUS_SCSI;
    if (g_str_has_prefix(dst, "fd"))
        return QVIR_DOMAIN_DISK_BUS_FDC;
    return QVIR_DOMAIN_DISK_BUS_IDE;
}

static gboolean
qvirDomainDiskTargetParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"dev", "bus", "removable", "tray", "rotation_rate", NULL};
    qvirDomainDiskDef *disk = opaque;
    int bus = QVIR_DOMAIN_DISK_BUS_NONE;
    int tray = QVIR_DOMAIN_DISK_TRAY_CLOSED;
    g_autofree char *dst = NULL;

    if (disk->dst)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropRequired(node, "dev", &dst, error) ||
        !qvirXMLPropEnum(node, "bus", qvirDomainDiskBus, QVIR_DOMAIN_DISK_BUS_IDE, FALSE, &bus,
                         error) ||
        !qvirXMLPropSwitch(node, "removable", &disk->removable, error) ||
        !qvirXMLPropEnum(node, "tray", qvirDomainDiskTray, 0, FALSE, &tray, error) ||
        !qvirXMLPropUInt(node, "rotation_rate", 10, G_MAXINT, FALSE, &disk->rotationRate, error))
        return FALSE;
    disk->tray = tray;
    if (!*dst || strchr(dst, '/')) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "invalid disk target name '%s'", dst);
        return FALSE;
    }
    disk->bus = bus != QVIR_DOMAIN_DISK_BUS_NONE ? (qvirDomainDiskBus)bus
                                                 : qvirDomainDiskBusFromTarget(dst);
    disk->dst = g_steal_pointer(&dst);
    return TRUE;
}

static gboolean
qvirDomainDiskFlagParse(xmlNodePtr node, gboolean *flag, GError **error)
{
    if (*flag)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    *flag = TRUE;
    return TRUE;
}

static gboolean
qvirDomainDiskReadonlyParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    return qvirDomainDiskFlagParse(node, &disk->src->readonly, error);
}

static gboolean
qvirDomainDiskShareableParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    return qvirDomainDiskFlagParse(node, &disk->src->shared, error);
}

static gboolean
qvirDomainDiskTransientParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"shareBacking", NULL};
    qvirDomainDiskDef *disk = opaque;
    int share = QVIR_TRISTATE_BOOL_ABSENT;

    if (disk->transient)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropEnum(node, "shareBacking", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE,
                         &share, error))
        return FALSE;
    disk->transient = TRUE;
    disk->transientShareBacking = share;
    return TRUE;
}

static gboolean
qvirDomainDiskSerialParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    g_autofree char *serial = NULL;

    if (disk->serial)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    serial = qvirXMLNodeContent(node);
    /* QEMU takes the serial as a property value: keep it to libvirt's safe set. */
    if (strspn(serial, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_ .+") !=
        strlen(serial)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "disk serial '%s' contains an "
                    "invalid character",
                    serial);
        return FALSE;
    }
    disk->serial = g_steal_pointer(&serial);
    return TRUE;
}

static gboolean
qvirDomainDiskGeometryParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"cyls", "heads", "secs", "trans", NULL};
    qvirDomainDiskDef *disk = opaque;
    int trans = QVIR_DOMAIN_DISK_TRANS_DEFAULT;

    if (disk->geometry.cylinders)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropUInt(node, "cyls", 10, G_MAXINT, TRUE, &disk->geometry.cylinders, error) ||
        !qvirXMLPropUInt(node, "heads", 10, G_MAXINT, TRUE, &disk->geometry.heads, error) ||
        !qvirXMLPropUInt(node, "secs", 10, G_MAXINT, TRUE, &disk->geometry.sectors, error) ||
        !qvirXMLPropEnum(node, "trans", qvirDomainDiskGeometryTrans, QVIR_DOMAIN_DISK_TRANS_NONE,
                         FALSE, &trans, error))
        return FALSE;
    if (!disk->geometry.cylinders || !disk->geometry.heads || !disk->geometry.sectors) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "disk geometry values cyls, heads and secs must be greater than zero");
        return FALSE;
    }
    disk->geometry.trans = trans;
    return TRUE;
}

static gboolean
qvirDomainDiskBlockIOParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"logical_block_size", "physical_block_size", NULL};
    qvirDomainDiskDef *disk = opaque;

    if (disk->logicalBlockSize || disk->physicalBlockSize)
        return qvirXMLDuplicate(node, error);
    return qvirXMLCheckAttrs(node, attrs, error) && qvirXMLCheckNoChildren(node, error) &&
           qvirXMLPropUInt(node, "logical_block_size", 10, G_MAXINT, FALSE, &disk->logicalBlockSize,
                           error) &&
           qvirXMLPropUInt(node, "physical_block_size", 10, G_MAXINT, FALSE,
                           &disk->physicalBlockSize, error);
}

/* libvirt's virValidateWWN: an optional 0x and exactly 16 hex digits. */
static gboolean
qvirDomainDiskWWNParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    g_autofree char *wwn = NULL;
    const char *digits;

    if (disk->wwn)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    wwn = qvirXMLNodeContent(node);
    digits = g_str_has_prefix(wwn, "0x") ? wwn + 2 : wwn;
    if (strlen(digits) != 16 || strspn(digits, "0123456789abcdefABCDEF") != 16) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "Malformed wwn: %s", wwn);
        return FALSE;
    }
    disk->wwn = g_steal_pointer(&wwn);
    return TRUE;
}

/* SCSI INQUIRY strings: printable ASCII of a fixed maximum length. */
static gboolean
qvirDomainDiskInquiryParse(xmlNodePtr node, const char *what, size_t maxLen, char **out,
                           GError **error)
{
    g_autofree char *text = NULL;

    if (*out)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    text = qvirXMLNodeContent(node);
    for (const char *p = text; *p; p++) {
        if (!g_ascii_isprint(*p)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "disk %s is not printable string",
                        what);
            return FALSE;
        }
    }
    if (strlen(text) > maxLen) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "disk %s is more than %zu characters", what, maxLen);
        return FALSE;
    }
    *out = g_steal_pointer(&text);
    return TRUE;
}

static gboolean
qvirDomainDiskVendorParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    return qvirDomainDiskInquiryParse(node, "vendor", 8, &disk->vendor, error);
}

static gboolean
qvirDomainDiskProductParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    return qvirDomainDiskInquiryParse(node, "product", 16, &disk->product, error);
}

/* <iotune>: one element per limit, and an optional group_name. */
static gboolean
qvirDomainDiskIotuneParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;

    if (qvirDomainDiskHasIotune(disk) || disk->iotuneGroup)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error))
        return FALSE;
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        g_autofree char *text = NULL;
        unsigned long long val;
        int field;

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (!qvirXMLCheckAttrs(cur, NULL, error) || !qvirXMLCheckNoChildren(cur, error))
            return FALSE;
        text = qvirXMLTextStripped(cur);
        if (qvirXMLIsElement(cur, "group_name")) {
            if (disk->iotuneGroup)
                return qvirXMLDuplicate(cur, error);
            disk->iotuneGroup = g_steal_pointer(&text);
            continue;
        }
        if (cur->ns || (field = qvirDomainIotuneFieldTypeFromString(qvirXMLName(cur))) < 0) {
            return qvirXMLUnsupportedChild(cur, "iotune", error);
        }
        if (!qvirStrToUInt(text, 10, G_MAXUINT64, &val)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "disk iotune field '%s' must be an integer", qvirXMLName(cur));
            return FALSE;
        }
        disk->iotune[field] = val;
    }
    return TRUE;
}

static gboolean
qvirDomainDiskBootParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    return qvirDomainDeviceBootParse(node, &disk->info, error);
}

static gboolean
qvirDomainDiskAliasParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    return qvirDomainDeviceAliasParse(node, &disk->info, flags, error);
}

static gboolean
qvirDomainDiskAddressParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    return qvirDomainDeviceAddressParse(node, &disk->info, error);
}

/* <source> and <backingStore> are handled by the disk parser itself: they need each other. */
static gboolean
qvirDomainDiskSkipParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    return TRUE;
}

static gboolean
qvirDomainDiskAcpiParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;
    return qvirDomainDeviceAcpiParse(node, &disk->info, error);
}

/* <auth> as a child of <disk> (older XML): kept aside until <source> is parsed, then
 * moved there; DISK->authInDisk remembers where to write it back. */
static gboolean
qvirDomainDiskAuthParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;

    if (disk->authInDisk)
        return qvirXMLDuplicate(node, error);
    if (!qvirStorageAuthParse(node, QVIR_STORAGE_AUTH_DISK, &disk->src->auth, error))
        return FALSE;
    disk->authInDisk = TRUE;
    return TRUE;
}

/* <encryption> as a child of <disk> (older XML): like the disk-level <auth>. */
static gboolean
qvirDomainDiskEncryptionParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDiskDef *disk = opaque;

    if (disk->encryptionInDisk)
        return qvirXMLDuplicate(node, error);
    if (!qvirStorageEncryptionParse(node, &disk->src->encryption, error))
        return FALSE;
    disk->encryptionInDisk = TRUE;
    return TRUE;
}

static const qvirChildHandler qvirDomainDiskChildren[] = {
    {"driver", qvirDomainDiskDriverParse},
    {"encryption", qvirDomainDiskEncryptionParse},
    {"source", qvirDomainDiskSkipParse},
    {"auth", qvirDomainDiskAuthParse},
    {"backingStore", qvirDomainDiskSkipParse},
    {"target", qvirDomainDiskTargetParse},
    {"readonly", qvirDomainDiskReadonlyParse},
    {"shareable", qvirDomainDiskShareableParse},
    {"transient", qvirDomainDiskTransientParse},
    {"serial", qvirDomainDiskSerialParse},
    {"geometry", qvirDomainDiskGeometryParse},
    {"iotune", qvirDomainDiskIotuneParse},
    {"blockio", qvirDomainDiskBlockIOParse},
    {"wwn", qvirDomainDiskWWNParse},
    {"vendor", qvirDomainDiskVendorParse},
    {"product", qvirDomainDiskProductParse},
    {"boot", qvirDomainDiskBootParse},
    {"alias", qvirDomainDiskAliasParse},
    {"acpi", qvirDomainDiskAcpiParse},
    {"address", qvirDomainDiskAddressParse},
    {NULL, NULL},
};

/*
 * <source pool= volume= [mode=] [startupPolicy=] [index=]/> of a disk of type='volume'.
 * Neither pool nor volume: a cdrom without media. Status XML also keeps the file the
 * volume was resolved to (file=), so a reconnected domain knows its top image.
 */
static gboolean
qvirDomainDiskVolumeSourceParse(xmlNodePtr node, qvirDomainDiskDef *disk, unsigned int flags,
                                GError **error)
{
    static const char *const attrs[] = {"pool", "volume", "mode", "startupPolicy", "index", NULL};
    static const char *const statusAttrs[] = {"pool",  "volume", "mode", "startupPolicy",
                                              "index", "file",   "dev",  NULL};
    gboolean status = (flags & QVIR_DOMAIN_DEF_PARSE_STATUS) != 0;
    qvirStorageSource *src = disk->src;
    g_autofree char *pool = NULL;
    g_autofree char *volume = NULL;
    g_autofree char *file = NULL;
    g_autofree char *dev = NULL;
    int policy = QVIR_DOMAIN_STARTUP_POLICY_DEFAULT;
    int mode = QVIR_STORAGE_POOL_MODE_DEFAULT;

    if (!qvirXMLCheckAttrs(node, status ? statusAttrs : attrs, error) ||
        !qvirStorageSourceLocalChildrenParse(node, src, flags, error) ||
        !qvirXMLPropEnum(node, "startupPolicy", qvirDomainStartupPolicy,
                         QVIR_DOMAIN_STARTUP_POLICY_MANDATORY, FALSE, &policy, error))
        return FALSE;
    disk->startupPolicy = policy;
    if (qvirParseIsLive(flags) &&
        !qvirXMLPropUInt(node, "index", 10, G_MAXINT, FALSE, &src->id, error))
        return FALSE;

    pool = qvirXMLPropString(node, "pool");
    volume = qvirXMLPropString(node, "volume");
    if (!pool && !volume)
        return TRUE;
    if (!pool || !volume) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "'pool' and 'volume' must be specified together for 'pool' type source");
        return FALSE;
    }
    {
        g_autofree char *modeStr = qvirXMLPropString(node, "mode");

        if (modeStr && (mode = qvirStoragePoolModeTypeFromString(modeStr)) <= 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unknown source mode '%s' for volume type disk", modeStr);
            return FALSE;
        }
    }
    src->poolName = g_steal_pointer(&pool);
    src->volName = g_steal_pointer(&volume);
    src->poolMode = mode;

    if (status) {
        file = qvirXMLPropString(node, "file");
        dev = qvirXMLPropString(node, "dev");
        if (file && *file) {
            src->type = QVIR_STORAGE_TYPE_FILE;
            src->path = g_steal_pointer(&file);
        } else if (dev && *dev) {
            src->type = QVIR_STORAGE_TYPE_BLOCK;
            src->path = g_steal_pointer(&dev);
        }
    }
    return TRUE;
}

static gboolean
qvirDomainDiskSourceAndChainParse(xmlNodePtr node, qvirDomainDiskDef *disk, unsigned int flags,
                                  GError **error)
{
    xmlNodePtr source = NULL;
    xmlNodePtr backing = NULL;

    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (qvirXMLIsElement(cur, "source")) {
            if (source)
                return qvirXMLDuplicate(cur, error);
            source = cur;
        } else if (qvirXMLIsElement(cur, "backingStore")) {
            if (backing)
                return qvirXMLDuplicate(cur, error);
            backing = cur;
        }
    }

    if (disk->src->volume) {
        if (source && !qvirDomainDiskVolumeSourceParse(source, disk, flags, error))
            return FALSE;
        if (backing && disk->src->poolName)
            return qvirDomainDiskBackingChainParse(backing, disk->src, flags, error);
        return TRUE;
    }
    if (!source) {
        disk->src->type = QVIR_STORAGE_TYPE_NONE;
    } else {
        /* the disk-level <auth> waits outside while <source> may bring its own */
        g_autoptr(qvirStorageAuth) diskAuth = g_steal_pointer(&disk->src->auth);
        g_autoptr(qvirStorageEncryption) diskEnc = g_steal_pointer(&disk->src->encryption);

        if (!qvirStorageSourceParse(source, disk->src, &disk->startupPolicy, flags, error))
            return FALSE;
        if (diskAuth && disk->src->auth) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "an <auth> definition already found for disk source");
            return FALSE;
        }
        if (diskAuth)
            disk->src->auth = g_steal_pointer(&diskAuth);
        if (diskEnc && disk->src->encryption) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "an <encryption> definition already found for disk source");
            return FALSE;
        }
        if (diskEnc)
            disk->src->encryption = g_steal_pointer(&diskEnc);
    }
    /* A chain below a missing medium means nothing; libvirt drops it too. */
    if (backing && disk->src->type != QVIR_STORAGE_TYPE_NONE)
        return qvirDomainDiskBackingChainParse(backing, disk->src, flags, error);
    return TRUE;
}

static qvirDomainDiskDef *
qvirDomainDiskDefParseNode(xmlNodePtr node, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type",  "device", "snapshot", "model",
                                        "rawio", "sgio",   NULL};
    g_autoptr(qvirDomainDiskDef) disk = qvirDomainDiskDefNew();
    int type = QVIR_STORAGE_TYPE_FILE;
    int device = QVIR_DOMAIN_DISK_DEVICE_DISK;
    int snapshot = QVIR_DOMAIN_SNAPSHOT_LOCATION_DEFAULT;
    int model = QVIR_DOMAIN_DISK_MODEL_DEFAULT;
    int rawio = QVIR_TRISTATE_BOOL_ABSENT;
    int sgio = QVIR_DOMAIN_DEVICE_SGIO_DEFAULT;

    g_autofree char *typeStr = qvirXMLPropString(node, "type");
    /* type='volume' names a pool's volume; its storage type is known once resolved */
    gboolean volume = g_strcmp0(typeStr, "volume") == 0;

    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        (!volume && !qvirStorageTypeParse(node, &type, error)) ||
        !qvirXMLPropEnum(node, "device", qvirDomainDiskDevice, 0, FALSE, &device, error) ||
        !qvirXMLPropEnum(node, "snapshot", qvirDomainSnapshotLocation,
                         QVIR_DOMAIN_SNAPSHOT_LOCATION_NO, FALSE, &snapshot, error) ||
        /* model='default' is accepted and means no model, as in libvirt */
        !qvirXMLPropEnum(node, "model", qvirDomainDiskModel, 0, FALSE, &model, error) ||
        !qvirXMLPropEnum(node, "rawio", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE, &rawio,
                         error) ||
        !qvirXMLPropEnum(node, "sgio", qvirDomainDeviceSGIO, QVIR_DOMAIN_DEVICE_SGIO_FILTERED,
                         FALSE, &sgio, error))
        return NULL;
    disk->model = model;
    disk->rawio = rawio;
    disk->sgio = sgio;
    disk->src->volume = volume;
    disk->src->type = volume ? QVIR_STORAGE_TYPE_NONE : type;
    disk->device = device;
    disk->snapshot = snapshot;

    if (!qvirXMLParseChildren(node, qvirDomainDiskChildren, disk, flags, NULL, error) ||
        !qvirDomainDiskSourceAndChainParse(node, disk, flags, error))
        return NULL;

    if (!disk->dst && !(flags & QVIR_DOMAIN_DEF_PARSE_DISK_SOURCE)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_TARGET,
                    "missing target information for device %s",
                    disk->src->path ? disk->src->path : "");
        return NULL;
    }
    /* libvirt's QEMU driver fills in its own name when <driver> has none. */
    if (!disk->driverName || !*disk->driverName) {
        g_free(disk->driverName);
        disk->driverName = g_strdup("qemu");
    }
    /* An iSCSI name without a LUN means LUN 0; libvirt writes it out ("IQN/0"). */
    if (disk->src->type == QVIR_STORAGE_TYPE_NETWORK &&
        disk->src->protocol == QVIR_STORAGE_NET_PROTOCOL_ISCSI && disk->src->path &&
        !strchr(disk->src->path, '/')) {
        char *lun0 = g_strdup_printf("%s/0", disk->src->path);

        g_free(disk->src->path);
        disk->src->path = lun0;
    }
    /* A cdrom is read-only media whatever the XML says (libvirt forces it too). */
    if (disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM)
        disk->src->readonly = TRUE;
    return g_steal_pointer(&disk);
}

/* ---- controllers ------------------------------------------------------------------------ */

static const char *const qvirControllerModelsSCSI[] = {"virtio-scsi",
                                                       "lsilogic",
                                                       "lsisas1068",
                                                       "lsisas1078",
                                                       "vmpvscsi",
                                                       "virtio-transitional",
                                                       "virtio-non-transitional",
                                                       NULL};
static const char *const qvirControllerModelsVirtioSerial[] = {"virtio", "virtio-transitional",
                                                               "virtio-non-transitional", NULL};
static const char *const qvirControllerModelsUSB[] = {
    "piix3-uhci", "piix4-uhci", "ehci",     "ich9-ehci1", "ich9-uhci1", "ich9-uhci2",
    "ich9-uhci3", "pci-ohci",   "nec-xhci", "qemu-xhci",  "none",       NULL};
static const char *const qvirControllerModelsPCI[] = {"pci-root", "pcie-root", "pcie-root-port",
                                                      "pcie-to-pci-bridge", NULL};
static const char *const qvirControllerModelsIDE[] = {"piix3", "piix4", "ich6", NULL};
static const char *const qvirControllerModelsSATA[] = {NULL};
static const char *const qvirControllerPCIModelNames[] = {"pcie-root-port", "ioh3420",
                                                          "pcie-pci-bridge", NULL};

static const char *const *
qvirDomainControllerModels(qvirDomainControllerType type)
{
    switch (type) {
    case QVIR_DOMAIN_CONTROLLER_TYPE_SCSI:
        return qvirControllerModelsSCSI;
    case QVIR_DOMAIN_CONTROLLER_TYPE_USB:
        return qvirControllerModelsUSB;
    case QVIR_DOMAIN_CONTROLLER_TYPE_PCI:
        return qvirControllerModelsPCI;
    case QVIR_DOMAIN_CONTROLLER_TYPE_IDE:
        return qvirControllerModelsIDE;
    case QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL:
        return qvirControllerModelsVirtioSerial;
    case QVIR_DOMAIN_CONTROLLER_TYPE_SATA:
    case QVIR_DOMAIN_CONTROLLER_TYPE_FDC:
    case QVIR_DOMAIN_CONTROLLER_TYPE_LAST:
        break;
    }
    return qvirControllerModelsSATA;
}

static gboolean
qvirDomainControllerModelParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"name", NULL};
    qvirDomainControllerDef *ctrl = opaque;

    if (ctrl->type != QVIR_DOMAIN_CONTROLLER_TYPE_PCI) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported element <model> in <controller type='%s'>",
                    qvirDomainControllerTypeTypeToString(ctrl->type));
        return FALSE;
    }
    if (ctrl->modelName)
        return qvirXMLDuplicate(node, error);
    return qvirXMLCheckAttrs(node, attrs, error) && qvirXMLCheckNoChildren(node, error) &&
           qvirXMLPropChoice(node, "name", qvirControllerPCIModelNames, TRUE, &ctrl->modelName,
                             error);
}

static gboolean
qvirDomainControllerTargetParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"chassis", "port", NULL};
    qvirDomainControllerDef *ctrl = opaque;
    unsigned int chassis = 0, port = 0;

    if (ctrl->type != QVIR_DOMAIN_CONTROLLER_TYPE_PCI) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported element <target> in <controller type='%s'>",
                    qvirDomainControllerTypeTypeToString(ctrl->type));
        return FALSE;
    }
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    if (xmlHasProp(node, (const xmlChar *)"chassis")) {
        if (!qvirXMLPropUInt(node, "chassis", 0, 255, TRUE, &chassis, error))
            return FALSE;
        ctrl->chassis = chassis;
    }
    if (xmlHasProp(node, (const xmlChar *)"port")) {
        if (!qvirXMLPropUInt(node, "port", 0, 255, TRUE, &port, error))
            return FALSE;
        ctrl->port = port;
    }
    return TRUE;
}

static gboolean
qvirDomainControllerAliasParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainControllerDef *ctrl = opaque;
    return qvirDomainDeviceAliasParse(node, &ctrl->info, flags, error);
}

static gboolean
qvirDomainControllerAddressParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainControllerDef *ctrl = opaque;
    return qvirDomainDeviceAddressParse(node, &ctrl->info, error);
}

/* <driver>: libvirt reads it on every controller; the attributes only virtio-scsi takes are
 * refused on the others when the definition is validated. */
static gboolean
qvirDomainControllerDriverParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"queues",      "cmd_per_lun", "max_sectors", "ioeventfd",
                                        "iothread",    "iommu",       "ats",         "packed",
                                        "page_per_vq", NULL};
    qvirDomainControllerDef *ctrl = opaque;

    if (ctrl->iothread || ctrl->queues || ctrl->cmdPerLun || ctrl->maxSectors ||
        ctrl->ioeventfd != QVIR_TRISTATE_SWITCH_ABSENT ||
        qvirDomainVirtioOptionsIsSet(&ctrl->virtio))
        return qvirXMLDuplicate(node, error);
    return qvirXMLCheckAttrs(node, attrs, error) && qvirXMLCheckNoChildren(node, error) &&
           qvirXMLPropUInt(node, "queues", 10, G_MAXUINT, FALSE, &ctrl->queues, error) &&
           qvirXMLPropUInt(node, "cmd_per_lun", 10, G_MAXUINT, FALSE, &ctrl->cmdPerLun, error) &&
           qvirXMLPropUInt(node, "max_sectors", 10, G_MAXUINT, FALSE, &ctrl->maxSectors, error) &&
           qvirXMLPropSwitch(node, "ioeventfd", &ctrl->ioeventfd, error) &&
           qvirXMLPropUInt(node, "iothread", 10, G_MAXINT, FALSE, &ctrl->iothread, error) &&
           qvirDomainVirtioOptionsParse(node, &ctrl->virtio, error);
}

/* <master startport=/>: libvirt reads it on any controller; only USB companions use it. */
static gboolean
qvirDomainControllerMasterParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"startport", NULL};
    qvirDomainControllerDef *ctrl = opaque;

    if (ctrl->info.usbMaster)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropUInt(node, "startport", 10, G_MAXINT, FALSE, &ctrl->info.usbStartPort, error))
        return FALSE;
    ctrl->info.usbMaster = TRUE;
    return TRUE;
}

static gboolean
qvirDomainControllerAcpiParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainControllerDef *ctrl = opaque;
    return qvirDomainDeviceAcpiParse(node, &ctrl->info, error);
}

static const qvirChildHandler qvirDomainControllerChildren[] = {
    {"model", qvirDomainControllerModelParse},     {"driver", qvirDomainControllerDriverParse},
    {"target", qvirDomainControllerTargetParse},   {"alias", qvirDomainControllerAliasParse},
    {"master", qvirDomainControllerMasterParse},   {"acpi", qvirDomainControllerAcpiParse},
    {"address", qvirDomainControllerAddressParse}, {NULL, NULL},
};

/* An ICH9 UHCI written without <master> is the companion for its usual ports (libvirt's
 * parser fills this in, so it shows in the defined XML). */
static void
qvirDomainControllerDefaultMaster(qvirDomainControllerDef *ctrl)
{
    static const char *const companions[] = {"ich9-uhci1", "ich9-uhci2", "ich9-uhci3"};

    if (ctrl->type != QVIR_DOMAIN_CONTROLLER_TYPE_USB || ctrl->info.usbMaster || !ctrl->model)
        return;
    for (guint i = 0; i < G_N_ELEMENTS(companions); i++) {
        if (strcmp(ctrl->model, companions[i]) == 0) {
            ctrl->info.usbMaster = TRUE;
            ctrl->info.usbStartPort = 2 * i;
        }
    }
}

/* virtio-serial: how many ports and MSI-X vectors the device offers. */
static gboolean
qvirDomainControllerSerialParse(xmlNodePtr node, qvirDomainControllerDef *ctrl, GError **error)
{
    static const char *const names[] = {"ports", "vectors"};
    int *fields[] = {&ctrl->ports, &ctrl->vectors};

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        unsigned int val = 0;

        if (!xmlHasProp(node, (const xmlChar *)names[i]))
            continue;
        if (!qvirXMLPropUInt(node, names[i], 10, G_MAXINT, TRUE, &val, error))
            return FALSE;
        *fields[i] = (int)val;
    }
    return TRUE;
}

static gboolean
qvirDomainControllerParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", "index", "model", NULL};
    static const char *const serialAttrs[] = {"type", "index", "model", "ports", "vectors", NULL};
    static const char *const usbAttrs[] = {"type", "index", "model", "ports", NULL};
    qvirDomainDef *def = opaque;
    qvirDomainControllerDef *ctrl = g_new0(qvirDomainControllerDef, 1);
    int type = 0;
    unsigned int idx = 0;

    ctrl->idx = -1;
    ctrl->chassis = -1;
    ctrl->port = -1;
    ctrl->ports = -1;
    ctrl->vectors = -1;
    /* Owned by the array from here on, so every failure below frees it with the def. */
    g_ptr_array_add(def->controllers, ctrl);

    if (!qvirXMLPropEnum(node, "type", qvirDomainControllerType, 0, TRUE, &type, error))
        return FALSE;
    ctrl->type = type;
    if (!qvirXMLCheckAttrs(node,
                           type == QVIR_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL ? serialAttrs
                           : type == QVIR_DOMAIN_CONTROLLER_TYPE_USB         ? usbAttrs
                                                                             : attrs,
                           error) ||
        !qvirDomainControllerSerialParse(node, ctrl, error))
        return FALSE;
    if (xmlHasProp(node, (const xmlChar *)"index")) {
        if (!qvirXMLPropUInt(node, "index", 10, G_MAXINT, TRUE, &idx, error))
            return FALSE;
        ctrl->idx = idx;
    }
    if (!qvirXMLPropChoice(node, "model", qvirDomainControllerModels(ctrl->type), FALSE,
                           &ctrl->model, error))
        return FALSE;
    if (ctrl->type == QVIR_DOMAIN_CONTROLLER_TYPE_PCI && !ctrl->model) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Missing required attribute 'model' in element 'controller'");
        return FALSE;
    }
    if (!qvirXMLParseChildren(node, qvirDomainControllerChildren, ctrl, flags, NULL, error))
        return FALSE;
    qvirDomainControllerDefaultMaster(ctrl);
    /* Parsed in place at the end of the array; now move it to libvirt's position. */
    g_ptr_array_steal_index(def->controllers, def->controllers->len - 1);
    qvirDomainControllerInsert(def, ctrl);
    return TRUE;
}

/* ---- other devices ------------------------------------------------------------------------- */

/* What the generic <alias>/<address>/<boot> handlers and the device's own handlers need. */
typedef struct {
    qvirDomainDeviceInfo *info;
    void *dev;
} qvirInfoOnly;

static gboolean
qvirInfoOnlyAliasParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirInfoOnly *io = opaque;
    return qvirDomainDeviceAliasParse(node, io->info, flags, error);
}

static gboolean
qvirInfoOnlyAddressParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirInfoOnly *io = opaque;
    return qvirDomainDeviceAddressParse(node, io->info, error);
}

static gboolean
qvirInfoOnlyBootParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirInfoOnly *io = opaque;
    return qvirDomainDeviceBootParse(node, io->info, error);
}

static gboolean
qvirInfoOnlyAcpiParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirInfoOnly *io = opaque;
    return qvirDomainDeviceAcpiParse(node, io->info, error);
}

/* Devices whose only children are <alias>, <acpi> and <address>. */
static const qvirChildHandler qvirInfoOnlyChildren[] = {
    {"alias", qvirInfoOnlyAliasParse},
    {"acpi", qvirInfoOnlyAcpiParse},
    {"address", qvirInfoOnlyAddressParse},
    {NULL, NULL},
};

static gboolean
qvirDomainInputParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", "bus", NULL};
    static const char *const types[] = {"mouse", "keyboard", "tablet", NULL};
    static const char *const buses[] = {"ps2", "usb", "virtio", NULL};
    qvirDomainDef *def = opaque;
    qvirDomainInputDef *input = g_new0(qvirDomainInputDef, 1);
    qvirInfoOnly io = {&input->info, input};

    g_ptr_array_add(def->inputs, input);
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropChoice(node, "type", types, TRUE, &input->type, error) ||
        !qvirXMLPropChoice(node, "bus", buses, FALSE, &input->bus, error) ||
        !qvirXMLParseChildren(node, qvirInfoOnlyChildren, &io, flags, NULL, error))
        return FALSE;
    /* libvirt's x86 defaults: PS/2 mouse and keyboard, USB tablet. */
    if (!input->bus)
        input->bus = g_strdup(strcmp(input->type, "tablet") == 0 ? "usb" : "ps2");
    if (strcmp(input->bus, "ps2") == 0 && strcmp(input->type, "tablet") == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "ps2 bus does not support tablet input device");
        return FALSE;
    }
    return TRUE;
}

/* <source mode=> of tcp and udp: libvirt's default is connect. */
static gboolean
qvirDomainChrSourceNetParse(xmlNodePtr node, qvirDomainChrDef *chr, GError **error)
{
    static const char *const modes[] = {"bind", "connect", NULL};
    g_autofree char *mode = NULL;
    g_autofree char *host = NULL;
    g_autofree char *service = NULL;
    int tls = QVIR_TRISTATE_BOOL_ABSENT;

    if (!qvirXMLPropChoice(node, "mode", modes, FALSE, &mode, error))
        return FALSE;
    host = qvirXMLPropString(node, "host");
    service = qvirXMLPropString(node, "service");
    if (strcmp(chr->type, "tcp") == 0) {
        if (!qvirXMLPropEnum(node, "tls", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE, &tls,
                             error))
            return FALSE;
        chr->tls = tls;
        chr->sourceMode = g_strdup(mode ? mode : "connect");
        chr->host = g_steal_pointer(&host);
        chr->service = g_steal_pointer(&service);
        return TRUE;
    }
    /* udp: one source per direction; libvirt keeps the first of each and ignores the rest */
    if (g_strcmp0(mode, "bind") == 0) {
        if (!chr->bindHost && !chr->bindService) {
            chr->bindHost = g_steal_pointer(&host);
            chr->bindService = g_steal_pointer(&service);
        }
    } else if (!chr->host && !chr->service) {
        chr->host = g_steal_pointer(&host);
        chr->service = g_steal_pointer(&service);
    }
    return TRUE;
}

/*
 * <source> of a serial or console. Only udp takes two (bind and connect); the attributes
 * each type reads are libvirt's, the others are ignored as libvirt ignores them.
 */
static gboolean
qvirDomainChrSourceParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"mode", "path", "append", "host", "service", "tls", NULL};
    static const char *const modes[] = {"bind", "connect", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainChrDef *chr = io->dev;
    g_autofree char *path = NULL;
    g_autofree char *mode = NULL;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    if (strcmp(chr->type, "tcp") == 0 || strcmp(chr->type, "udp") == 0)
        return qvirDomainChrSourceNetParse(node, chr, error);
    if (!qvirXMLPropChoice(node, "mode", modes, FALSE, &mode, error))
        return FALSE;
    path = qvirXMLPropString(node, "path");
    /* a UNIX socket: QEMU connects to it (libvirt's default) or listens on it (bind) */
    if (strcmp(chr->type, "unix") == 0) {
        if (!path || !*path || strlen(path) >= 108) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Missing or invalid source path attribute for char device");
            return FALSE;
        }
        chr->sourceMode = mode ? g_steal_pointer(&mode) : g_strdup("connect");
        chr->sourcePath = g_steal_pointer(&path);
        return TRUE;
    }
    if (strcmp(chr->type, "file") == 0) {
        if (!qvirXMLPropSwitch(node, "append", &chr->sourceAppend, error))
            return FALSE;
        chr->sourcePath = g_steal_pointer(&path);
        return TRUE;
    }
    if (strcmp(chr->type, "dev") == 0 || strcmp(chr->type, "pipe") == 0) {
        chr->sourcePath = g_steal_pointer(&path);
        return TRUE;
    }
    /* The pty is allocated at start-up: only live XML keeps it. */
    if (strcmp(chr->type, "pty") == 0 && qvirParseIsLive(flags) && path) {
        g_free(chr->ptyPath);
        chr->ptyPath = g_steal_pointer(&path);
    }
    return TRUE;
}

/* <log file= append=>: QEMU writes a copy of the guest's output there. */
static gboolean
qvirDomainChrLogParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"file", "append", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainChrDef *chr = io->dev;

    if (chr->logFile) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "only one log element is allowed for character device");
        return FALSE;
    }
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropRequired(node, "file", &chr->logFile, error))
        return FALSE;
    return qvirXMLPropSwitch(node, "append", &chr->logAppend, error);
}

/* <protocol type=>: only a tcp source reads it (libvirt ignores it on the others). */
static gboolean
qvirDomainChrProtocolParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", NULL};
    static const char *const protocols[] = {"raw", "telnet", "telnets", "tls", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainChrDef *chr = io->dev;
    g_autofree char *type = NULL;

    if (chr->protocol) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "only one protocol element is allowed for character device");
        return FALSE;
    }
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    if (strcmp(chr->type, "tcp") != 0)
        return TRUE;
    if ((type = qvirXMLPropString(node, "type")) && !g_strv_contains(protocols, type)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "Unknown protocol '%s'", type);
        return FALSE;
    }
    chr->protocol = g_steal_pointer(&type);
    return TRUE;
}

static gboolean
qvirDomainChrTargetModelParse(xmlNodePtr node, qvirDomainChrDef *chr, GError **error)
{
    static const char *const attrs[] = {"name", NULL};
    static const char *const models[] = {"isa-serial", "usb-serial", "pci-serial", NULL};

    if (chr->targetModel)
        return qvirXMLDuplicate(node, error);
    return qvirXMLCheckAttrs(node, attrs, error) && qvirXMLCheckNoChildren(node, error) &&
           qvirXMLPropChoice(node, "name", models, TRUE, &chr->targetModel, error);
}

static gboolean
qvirDomainChrTargetParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", "port", NULL};
    static const char *const serialTypes[] = {"isa-serial", "usb-serial", "pci-serial", NULL};
    static const char *const consoleTypes[] = {"serial", "virtio", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainChrDef *chr = io->dev;
    unsigned int port = 0;

    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropChoice(node, "type", chr->isConsole ? consoleTypes : serialTypes, FALSE,
                           &chr->targetType, error))
        return FALSE;
    if (xmlHasProp(node, (const xmlChar *)"port")) {
        if (!qvirXMLPropUInt(node, "port", 10, G_MAXINT, TRUE, &port, error))
            return FALSE;
        chr->targetPort = port;
    }
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (!chr->isConsole && qvirXMLIsElement(cur, "model")) {
            if (!qvirDomainChrTargetModelParse(cur, chr, error))
                return FALSE;
            continue;
        }
        return qvirXMLUnsupportedChild(cur, "target", error);
    }
    return TRUE;
}

static const qvirChildHandler qvirDomainChrChildren[] = {
    {"source", qvirDomainChrSourceParse},
    {"log", qvirDomainChrLogParse},
    {"protocol", qvirDomainChrProtocolParse},
    {"target", qvirDomainChrTargetParse},
    {"alias", qvirInfoOnlyAliasParse},
    {"address", qvirInfoOnlyAddressParse}, /* a pci-serial port's */
    {NULL, NULL},
};

/* One <source> per character device; udp alone has two, one per direction. */
static gboolean
qvirDomainChrCountSources(xmlNodePtr node, const qvirDomainChrDef *chr, GError **error)
{
    guint n = 0;

    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (qvirXMLIsElement(cur, "source"))
            n++;
    }
    if (n > 1 && strcmp(chr->type, "udp") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "only one source element is allowed for character device");
        return FALSE;
    }
    if (n > 2) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "only two source elements are allowed for character device");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainChrParse(xmlNodePtr node, GPtrArray *list, gboolean isConsole, unsigned int flags,
                   GError **error)
{
    static const char *const attrs[] = {"type", "tty", NULL};
    static const char *const types[] = {"null",  "vc",  "pty", "dev",  "file", "pipe",
                                        "stdio", "udp", "tcp", "unix", NULL};
    qvirDomainChrDef *chr = g_new0(qvirDomainChrDef, 1);
    qvirInfoOnly io = {&chr->info, chr};

    chr->isConsole = isConsole;
    chr->targetPort = -1;
    g_ptr_array_add(list, chr);
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropChoice(node, "type", types, TRUE, &chr->type, error) ||
        !qvirDomainChrCountSources(node, chr, error) ||
        !qvirXMLParseChildren(node, qvirDomainChrChildren, &io, flags, NULL, error))
        return FALSE;
    if (strcmp(chr->type, "unix") == 0 && !chr->sourcePath) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Missing source path attribute for char device");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainSerialParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDef *def = opaque;
    return qvirDomainChrParse(node, def->serials, FALSE, flags, error);
}

static gboolean
qvirDomainConsoleParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDef *def = opaque;
    return qvirDomainChrParse(node, def->consoles, TRUE, flags, error);
}

/* <channel>'s <source mode= path=/>; a pty channel's path is runtime data (live XML). */
static gboolean
qvirDomainChannelSourceParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"mode", "path", NULL};
    static const char *const modes[] = {"bind", "connect", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainChrDef *chr = io->dev;
    g_autofree char *path = NULL;

    if (chr->sourceMode || chr->sourcePath || chr->ptyPath)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropChoice(node, "mode", modes, FALSE, &chr->sourceMode, error))
        return FALSE;
    path = qvirXMLPropString(node, "path");
    if (strcmp(chr->type, "pty") == 0) {
        if (qvirParseIsLive(flags))
            chr->ptyPath = g_steal_pointer(&path);
        g_clear_pointer(&chr->sourceMode, g_free);
        return TRUE;
    }
    if (path && (!*path || strlen(path) >= 108)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "invalid UNIX socket path '%s' for channel", path);
        return FALSE;
    }
    chr->sourcePath = g_steal_pointer(&path);
    return TRUE;
}

/* <target type='virtio' name= [state=]/>: state is what the guest agent did (live only). */
static gboolean
qvirDomainChannelTargetParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", "name", "state", NULL};
    static const char *const types[] = {"virtio", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainChrDef *chr = io->dev;
    g_autofree char *name = NULL;

    if (chr->targetType)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropChoice(node, "type", types, TRUE, &chr->targetType, error))
        return FALSE;
    if ((name = qvirXMLPropString(node, "name"))) {
        /* the name becomes a QEMU property and the socket's file name */
        if (!*name || strchr(name, '/') || strchr(name, ',') || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "invalid channel target name '%s'",
                        name);
            return FALSE;
        }
        chr->targetName = g_steal_pointer(&name);
    }
    if (qvirParseIsLive(flags)) {
        static const char *const states[] = {"connected", "disconnected", NULL};

        if (!qvirXMLPropChoice(node, "state", states, FALSE, &chr->targetState, error))
            return FALSE;
    }
    return TRUE;
}

static const qvirChildHandler qvirDomainChannelChildren[] = {
    {"source", qvirDomainChannelSourceParse},
    {"target", qvirDomainChannelTargetParse},
    {"alias", qvirInfoOnlyAliasParse},
    {"address", qvirInfoOnlyAddressParse},
    {NULL, NULL},
};

/* <channel type='unix|pty'> with a virtio target: the guest agent's channel. */
static gboolean
qvirDomainChannelParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", NULL};
    static const char *const types[] = {"unix", "pty", NULL};
    qvirDomainDef *def = opaque;
    qvirDomainChrDef *chr = g_new0(qvirDomainChrDef, 1);
    qvirInfoOnly io = {&chr->info, chr};

    chr->isChannel = TRUE;
    chr->targetPort = -1;
    g_ptr_array_add(def->channels, chr);
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropChoice(node, "type", types, TRUE, &chr->type, error) ||
        !qvirXMLParseChildren(node, qvirDomainChannelChildren, &io, flags, NULL, error))
        return FALSE;
    if (!chr->targetType) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Missing required attribute 'type' in element 'target'");
        return FALSE;
    }
    if (chr->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_NONE &&
        chr->info.type != QVIR_DOMAIN_DEVICE_ADDRESS_TYPE_VIRTIO_SERIAL) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "virtio channel needs an address of type 'virtio-serial'");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainRNGBackendParse(xmlNodePtr node, qvirDomainRNGDef *rng, GError **error)
{
    static const char *const attrs[] = {"model", NULL};
    static const char *const models[] = {"random", "builtin", NULL};

    if (rng->backendModel)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropChoice(node, "model", models, TRUE, &rng->backendModel, error))
        return FALSE;
    if (strcmp(rng->backendModel, "random") == 0) {
        rng->file = qvirXMLTextStripped(node);
        if (!*rng->file || rng->file[0] != '/') {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "rng backend model 'random' needs the absolute path of a device");
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
qvirDomainRNGRateParse(xmlNodePtr node, qvirDomainRNGDef *rng, GError **error)
{
    static const char *const attrs[] = {"bytes", "period", NULL};

    if (rng->rateBytes)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropUInt(node, "bytes", 10, G_MAXINT, TRUE, &rng->rateBytes, error) ||
        !qvirXMLPropUInt(node, "period", 10, G_MAXINT, FALSE, &rng->ratePeriod, error))
        return FALSE;
    if (!rng->rateBytes) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "rng rate bytes must be positive");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainRNGParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"model", NULL};
    static const char *const models[] = {"virtio", NULL};
    qvirDomainDef *def = opaque;
    qvirDomainRNGDef *rng = g_new0(qvirDomainRNGDef, 1);
    g_autofree char *model = NULL;

    g_ptr_array_add(def->rngs, rng);
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropChoice(node, "model", models, TRUE, &model, error))
        return FALSE;
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        gboolean ok;

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "backend"))
            ok = qvirDomainRNGBackendParse(cur, rng, error);
        else if (qvirXMLIsElement(cur, "rate"))
            ok = qvirDomainRNGRateParse(cur, rng, error);
        else if (qvirXMLIsElement(cur, "alias"))
            ok = qvirDomainDeviceAliasParse(cur, &rng->info, flags, error);
        else if (qvirXMLIsElement(cur, "acpi"))
            ok = qvirDomainDeviceAcpiParse(cur, &rng->info, error);
        else if (qvirXMLIsElement(cur, "address"))
            ok = qvirDomainDeviceAddressParse(cur, &rng->info, error);
        else {
            return qvirXMLUnsupportedChild(cur, "rng", error);
        }
        if (!ok)
            return FALSE;
    }
    if (!rng->backendModel) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing RNG device backend model");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainGraphicsListenParse(xmlNodePtr node, qvirDomainGraphicsDef *gr, GError **error)
{
    static const char *const attrs[] = {"type", "address", NULL};
    static const char *const types[] = {"address", NULL};
    g_autofree char *type = NULL;
    g_autofree char *address = NULL;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropChoice(node, "type", types, TRUE, &type, error))
        return FALSE;
    address = qvirXMLPropString(node, "address");
    if (address && gr->listen && strcmp(address, gr->listen) != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "graphics 'listen' attribute '%s' must match 'address' attribute of first "
                    "listen element (found '%s')",
                    gr->listen, address);
        return FALSE;
    }
    if (address && !gr->listen)
        gr->listen = g_steal_pointer(&address);
    return TRUE;
}

static gboolean
qvirDomainGraphicsParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", "port", "autoport", "listen", NULL};
    static const char *const types[] = {"vnc", NULL};
    qvirDomainDef *def = opaque;
    qvirDomainGraphicsDef *gr = g_new0(qvirDomainGraphicsDef, 1);
    g_autofree char *port = NULL;
    gboolean seenListen = FALSE;

    g_ptr_array_add(def->graphics, gr);
    gr->port = -1;
    gr->autoport = TRUE;
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropChoice(node, "type", types, TRUE, &gr->type, error))
        return FALSE;

    if ((port = qvirXMLPropString(node, "port")) && strcmp(port, "-1") != 0) {
        unsigned int p = 0;
        if (!qvirXMLPropUInt(node, "port", 10, 65535, TRUE, &p, error))
            return FALSE;
        gr->port = p;
        gr->autoport = FALSE;
    }
    if (!qvirXMLPropYesNo(node, "autoport", &gr->autoport, error))
        return FALSE;
    /* An inactive definition never keeps the port QEMU was given last time. */
    if (gr->autoport && !qvirParseIsLive(flags))
        gr->port = -1;
    gr->listen = qvirXMLPropString(node, "listen");

    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "listen") && !seenListen) {
            seenListen = TRUE;
            if (!qvirDomainGraphicsListenParse(cur, gr, error))
                return FALSE;
            continue;
        }
        return qvirXMLUnsupportedChild(cur, "graphics", error);
    }
    return TRUE;
}

static gboolean
qvirDomainVideoModelParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", "ram", "vram", "vgamem", "heads", "primary", NULL};
    static const char *const models[] = {"vga",   "cirrus", "virtio", "qxl",
                                         "bochs", "ramfb",  "none",   NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainVideoDef *video = io->dev;

    if (video->model)
        return qvirXMLDuplicate(node, error);
    return qvirXMLCheckAttrs(node, attrs, error) && qvirXMLCheckNoChildren(node, error) &&
           qvirXMLPropChoice(node, "type", models, TRUE, &video->model, error) &&
           qvirXMLPropUInt(node, "ram", 10, G_MAXINT, FALSE, &video->ram, error) &&
           qvirXMLPropUInt(node, "vram", 10, G_MAXINT, FALSE, &video->vram, error) &&
           qvirXMLPropUInt(node, "vgamem", 10, G_MAXINT, FALSE, &video->vgamem, error) &&
           qvirXMLPropUInt(node, "heads", 10, 16, FALSE, &video->heads, error) &&
           qvirXMLPropYesNo(node, "primary", &video->primary, error);
}

static const qvirChildHandler qvirDomainVideoChildren[] = {
    {"model", qvirDomainVideoModelParse},
    {"alias", qvirInfoOnlyAliasParse},
    {"acpi", qvirInfoOnlyAcpiParse},
    {"address", qvirInfoOnlyAddressParse},
    {NULL, NULL},
};

static gboolean
qvirDomainVideoParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDef *def = opaque;
    qvirDomainVideoDef *video = g_new0(qvirDomainVideoDef, 1);
    qvirInfoOnly io = {&video->info, video};

    g_ptr_array_add(def->videos, video);
    if (!qvirXMLCheckAttrs(node, NULL, error) ||
        !qvirXMLParseChildren(node, qvirDomainVideoChildren, &io, flags, NULL, error))
        return FALSE;
    if (!video->model)
        video->model = g_strdup("vga");
    return TRUE;
}

static gboolean
qvirDomainMemballoonParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"model", NULL};
    static const char *const models[] = {"virtio", "none", NULL};
    qvirDomainDef *def = opaque;
    qvirInfoOnly io;

    if (def->memballoon)
        return qvirXMLDuplicate(node, error);
    def->memballoon = g_new0(qvirDomainMemballoonDef, 1);
    io.info = &def->memballoon->info;
    io.dev = def->memballoon;
    return qvirXMLCheckAttrs(node, attrs, error) &&
           qvirXMLPropChoice(node, "model", models, TRUE, &def->memballoon->model, error) &&
           qvirXMLParseChildren(node, qvirInfoOnlyChildren, &io, flags, NULL, error);
}

/* "52:54:00:ab:cd:ef", normalised to lower case; multicast addresses are refused. */
static gboolean
qvirMacAddrParse(const char *str, char **out, GError **error)
{
    unsigned int bytes[6];
    char tail;

    if (strlen(str) != 17 || sscanf(str, "%2x:%2x:%2x:%2x:%2x:%2x%c", &bytes[0], &bytes[1],
                                    &bytes[2], &bytes[3], &bytes[4], &bytes[5], &tail) != 6) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "unable to parse mac address '%s'", str);
        return FALSE;
    }
    for (size_t i = 0; i < 17; i++) {
        if ((i % 3 == 2) ? str[i] != ':' : !g_ascii_isxdigit(str[i])) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "unable to parse mac address '%s'",
                        str);
            return FALSE;
        }
    }
    if (bytes[0] & 1) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "expected unicast mac address, found multicast '%s'", str);
        return FALSE;
    }
    *out = g_ascii_strdown(str, -1);
    return TRUE;
}

static gboolean
qvirDomainNetMacParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"address", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainNetDef *net = io->dev;
    g_autofree char *mac = NULL;

    if (net->mac)
        return qvirXMLDuplicate(node, error);
    return qvirXMLCheckAttrs(node, attrs, error) && qvirXMLCheckNoChildren(node, error) &&
           qvirXMLPropRequired(node, "address", &mac, error) &&
           qvirMacAddrParse(mac, &net->mac, error);
}

static gboolean
qvirDomainNetModelParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainNetDef *net = io->dev;
    g_autofree char *model = NULL;

    if (net->model)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropRequired(node, "type", &model, error))
        return FALSE;
    /* The model becomes a QEMU device name: libvirt's character set. */
    if (!*model || strspn(model, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789_-") != strlen(model)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Model name contains invalid characters");
        return FALSE;
    }
    net->model = g_steal_pointer(&model);
    return TRUE;
}

/* virtio-net's <driver>: the backend and queue knobs libvirt's tests and virt-manager use. */
static gboolean
qvirDomainNetDriverParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"name",          "txmode",        "ioeventfd", "event_idx",
                                        "rx_queue_size", "tx_queue_size", NULL};
    static const char *const names[] = {"qemu", "vhost", NULL};
    static const char *const txmodes[] = {"iothread", "timer", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainNetDef *net = io->dev;

    if (net->driverName || net->txmode || net->ioeventfd || net->eventIdx || net->rxQueueSize ||
        net->txQueueSize)
        return qvirXMLDuplicate(node, error);
    return qvirXMLCheckAttrs(node, attrs, error) && qvirXMLCheckNoChildren(node, error) &&
           qvirXMLPropChoice(node, "name", names, FALSE, &net->driverName, error) &&
           qvirXMLPropChoice(node, "txmode", txmodes, FALSE, &net->txmode, error) &&
           qvirXMLPropSwitch(node, "ioeventfd", &net->ioeventfd, error) &&
           qvirXMLPropSwitch(node, "event_idx", &net->eventIdx, error) &&
           qvirXMLPropUInt(node, "rx_queue_size", 10, G_MAXINT, FALSE, &net->rxQueueSize, error) &&
           qvirXMLPropUInt(node, "tx_queue_size", 10, G_MAXINT, FALSE, &net->txQueueSize, error);
}

static void
qvirDomainNetIPDefFree(gpointer data)
{
    qvirDomainNetIPDef *ip = data;

    g_free(ip->address);
    g_free(ip);
}

/* <ip address= [family=] [prefix=]/>, with libvirt's parse errors. */
static gboolean
qvirDomainNetIPParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"address", "family", "prefix", NULL};
    qvirInfoOnly *io = opaque;
    qvirDomainNetDef *net = io->dev;
    g_autofree char *address = NULL;
    g_autofree char *family = NULL;
    g_autofree char *prefix = NULL;
    unsigned char bin[sizeof(struct in6_addr)];
    char text[INET6_ADDRSTRLEN];
    qvirDomainNetIPDef *ip;
    int af;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    if (!(address = qvirXMLPropString(node, "address"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "Missing required address in <ip>");
        return FALSE;
    }
    family = qvirXMLPropString(node, "family");
    if (g_strcmp0(family, "ipv4") == 0)
        af = AF_INET;
    else if (g_strcmp0(family, "ipv6") == 0)
        af = AF_INET6;
    else
        af = strchr(address, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, address, bin) != 1 || !inet_ntop(af, bin, text, sizeof(text))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "Invalid address '%s' in <ip>", address);
        return FALSE;
    }
    ip = g_new0(qvirDomainNetIPDef, 1);
    if (!net->ips)
        net->ips = g_ptr_array_new_with_free_func(qvirDomainNetIPDefFree);
    g_ptr_array_add(net->ips, ip);
    ip->address = g_strdup(text);
    ip->ipv6 = af == AF_INET6;
    if ((prefix = qvirXMLPropString(node, "prefix"))) {
        unsigned long long val;

        if (!qvirStrToUInt(prefix, 10, ip->ipv6 ? 128 : 32, &val)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "Invalid prefix value '%s' in <ip>",
                        prefix);
            return FALSE;
        }
        ip->prefix = val;
    }
    return TRUE;
}

static const qvirChildHandler qvirDomainNetChildren[] = {
    {"mac", qvirDomainNetMacParse},
    {"ip", qvirDomainNetIPParse},
    {"model", qvirDomainNetModelParse},
    {"driver", qvirDomainNetDriverParse},
    {"boot", qvirInfoOnlyBootParse},
    {"alias", qvirInfoOnlyAliasParse},
    {"acpi", qvirInfoOnlyAcpiParse},
    {"address", qvirInfoOnlyAddressParse},
    {NULL, NULL},
};

static gboolean
qvirDomainNetParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", NULL};
    static const char *const types[] = {"user", NULL};
    qvirDomainDef *def = opaque;
    qvirDomainNetDef *net = g_new0(qvirDomainNetDef, 1);
    qvirInfoOnly io = {&net->info, net};

    g_ptr_array_add(def->nets, net);
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropChoice(node, "type", types, TRUE, &net->type, error) ||
        !qvirXMLParseChildren(node, qvirDomainNetChildren, &io, flags, NULL, error))
        return FALSE;
    if (!net->mac) {
        net->mac = g_strdup_printf("52:54:00:%02x:%02x:%02x", g_random_int_range(0, 256),
                                   g_random_int_range(0, 256), g_random_int_range(0, 256));
    }
    return TRUE;
}

static gboolean
qvirDomainDiskParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDef *def = opaque;
    qvirDomainDiskDef *disk = qvirDomainDiskDefParseNode(node, flags, error);

    if (!disk)
        return FALSE;
    qvirDomainDiskInsert(def, disk);
    return TRUE;
}

static gboolean
qvirDomainEmulatorParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDef *def = opaque;

    if (def->emulator)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    def->emulator = qvirXMLTextStripped(node);
    return TRUE;
}

/*
 * <audio id='N' type='none'/>, which libvirt 9.0 adds to every definition it stores (and so
 * to every `virsh dumpxml`). Host audio backends are not supported: qvirt's guests get the
 * silent backend only.
 */
static gboolean
qvirDomainAudioParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"id", "type", NULL};
    qvirDomainDef *def = opaque;
    g_autofree char *type = NULL;
    unsigned int id = 0;

    if (def->audioId) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "more than one <audio> backend is not supported by qvirt");
        return FALSE;
    }
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropUInt(node, "id", 10, G_MAXINT, TRUE, &id, error) ||
        !qvirXMLPropRequired(node, "type", &type, error))
        return FALSE;
    if (id == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "audio id must be greater than 0");
        return FALSE;
    }
    if (strcmp(type, "none") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "audio type '%s' is not supported by qvirt: only 'none'", type);
        return FALSE;
    }
    def->audioId = id;
    return TRUE;
}

static const qvirChildHandler qvirDomainDevicesChildren[] = {
    {"emulator", qvirDomainEmulatorParse},
    {"disk", qvirDomainDiskParse},
    {"controller", qvirDomainControllerParse},
    {"input", qvirDomainInputParse},
    {"serial", qvirDomainSerialParse},
    {"console", qvirDomainConsoleParse},
    {"graphics", qvirDomainGraphicsParse},
    {"video", qvirDomainVideoParse},
    {"memballoon", qvirDomainMemballoonParse},
    {"interface", qvirDomainNetParse},
    {"audio", qvirDomainAudioParse},
    {"channel", qvirDomainChannelParse},
    {"rng", qvirDomainRNGParse},
    {NULL, NULL},
};

static gboolean
qvirDomainDevicesParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    return qvirXMLCheckAttrs(node, NULL, error) &&
           qvirXMLParseChildren(node, qvirDomainDevicesChildren, opaque, flags,
                                "unsupported device element <%s>", error);
}

/* ---- top-level elements ---------------------------------------------------------------- */

static gboolean
qvirDomainTextParse(xmlNodePtr node, char **field, gboolean strip, GError **error)
{
    if (*field)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    *field = strip ? qvirXMLTextStripped(node) : qvirXMLNodeContent(node);
    return TRUE;
}

static gboolean
qvirDomainNameParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDef *def = opaque;
    return qvirDomainTextParse(node, &def->name, TRUE, error);
}

typedef struct {
    qvirDomainDef *def;
    gboolean haveUUID;
    gboolean haveMemory;
    gboolean haveCurrentMemory;
    gboolean haveVcpu;
    gboolean haveOS;
    gboolean haveOSType;
    gboolean haveFeatures;
    gboolean haveClock;
    gboolean havePM;
    gboolean haveDevices;
    gboolean haveLifecycle[3];
} qvirDomainParseState;

static gboolean
qvirDomainNameParseState(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    return qvirDomainNameParse(node, st->def, flags, error);
}

static gboolean
qvirDomainUUIDParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    g_autofree char *str = NULL;

    if (st->haveUUID)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    str = qvirXMLTextStripped(node);
    if (!qvirUUIDParse(str, st->def->uuid)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "malformed uuid element");
        return FALSE;
    }
    st->haveUUID = TRUE;
    return TRUE;
}

static gboolean
qvirDomainTitleParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;

    if (!qvirDomainTextParse(node, &st->def->title, FALSE, error))
        return FALSE;
    if (strchr(st->def->title, '\n')) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "Domain title can't contain newlines");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainDescriptionParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    return qvirDomainTextParse(node, &st->def->description, FALSE, error);
}

/*
 * libvirt's scaled units: "b"/"bytes"; then k, M, G, T, P, E in any case, alone or with
 * "iB" (powers of 1024) or with "B" (powers of 1000).
 */
static gboolean
qvirMemoryUnitScale(const char *unit, unsigned long long *scale)
{
    static const char prefixes[] = "kmgtpe";
    const char *p;
    unsigned long long base;

    if (g_ascii_strcasecmp(unit, "b") == 0 || g_ascii_strcasecmp(unit, "bytes") == 0) {
        *scale = 1;
        return TRUE;
    }
    if (!*unit || !(p = strchr(prefixes, g_ascii_tolower(unit[0]))))
        return FALSE;
    if (unit[1] == '\0' || g_ascii_strcasecmp(unit + 1, "ib") == 0)
        base = 1024;
    else if (g_ascii_strcasecmp(unit + 1, "b") == 0)
        base = 1000;
    else
        return FALSE;
    *scale = 1;
    for (const char *q = prefixes; q <= p; q++)
        *scale *= base;
    return TRUE;
}

/* <memory unit=U>N</memory> into KiB, rounded up as libvirt does. */
static gboolean
qvirDomainMemoryValueParse(xmlNodePtr node, unsigned long long *kib, GError **error)
{
    static const char *const attrs[] = {"unit", NULL};
    g_autofree char *unit = qvirXMLPropString(node, "unit");
    g_autofree char *text = NULL;
    unsigned long long scale = 1024;
    unsigned long long val;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    if (unit && !qvirMemoryUnitScale(unit, &scale)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "unknown suffix '%s'", unit);
        return FALSE;
    }
    text = qvirXMLTextStripped(node);
    if (!qvirStrToUInt(text, 10, G_MAXUINT64, &val)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Invalid value '%s' for element or attribute './%s[1]'", text,
                    qvirXMLName(node));
        return FALSE;
    }
    /* The largest memory size QEMU can address is far below this; anything above overflows. */
    if (val > G_MAXUINT64 / scale || val * scale > (G_MAXUINT64 / 2)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "value too large: %s%s", text,
                    unit ? unit : "");
        return FALSE;
    }
    *kib = (val * scale + 1023) / 1024;
    return TRUE;
}

static gboolean
qvirDomainMemoryParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;

    if (st->haveMemory)
        return qvirXMLDuplicate(node, error);
    st->haveMemory = TRUE;
    return qvirDomainMemoryValueParse(node, &st->def->memoryKiB, error);
}

static gboolean
qvirDomainCurrentMemoryParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;

    if (st->haveCurrentMemory)
        return qvirXMLDuplicate(node, error);
    st->haveCurrentMemory = TRUE;
    return qvirDomainMemoryValueParse(node, &st->def->currentMemoryKiB, error);
}

static gboolean
qvirDomainVcpuParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"placement", "cpuset", "current", NULL};
    static const char *const placements[] = {"static", NULL};
    qvirDomainParseState *st = opaque;
    g_autofree char *placement = NULL;
    g_autofree char *text = NULL;
    g_autofree char *current = NULL;
    g_autofree char *cpuset = NULL;
    unsigned long long val;
    unsigned long long cur = 0;

    if (st->haveVcpu)
        return qvirXMLDuplicate(node, error);
    st->haveVcpu = TRUE;
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropChoice(node, "placement", placements, FALSE, &placement, error))
        return FALSE;
    text = qvirXMLTextStripped(node);
    if (!qvirStrToUInt(text, 10, 4096, &val) || val == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "maximum vcpus count must be an "
                    "integer between 1 and 4096, not '%s'",
                    text);
        return FALSE;
    }
    st->def->vcpus = (unsigned int)val;
    if ((current = qvirXMLPropString(node, "current"))) {
        if (!qvirStrToUInt(current, 10, 4096, &cur) || cur == 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Invalid value for attribute 'current' in element 'vcpu': '%s'.", current);
            return FALSE;
        }
        if (cur > val) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                                "unsupported configuration: maximum vCPU count must not be less "
                                "than current vCPU count");
            return FALSE;
        }
        st->def->vcpusCurrent = cur == val ? 0 : (unsigned int)cur;
    }
    if ((cpuset = qvirXMLPropString(node, "cpuset"))) {
        g_autoptr(qvirBitmap) mask = qvirBitmapParse(cpuset, QVIR_DOMAIN_CPUMASK_LEN, error);

        if (!mask)
            return FALSE;
        if (qvirBitmapIsAllClear(mask)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "Invalid value of 'cpuset': %s", cpuset);
            return FALSE;
        }
        qvirBitmapFree(st->def->cpumask);
        st->def->cpumask = g_steal_pointer(&mask);
    }
    return TRUE;
}

/* <iothreads>N</iothreads>: QEMU I/O threads iothread1..N for disks and virtio-scsi. */
static gboolean
qvirDomainIOThreadsParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    g_autofree char *text = NULL;
    unsigned long long val;

    if (st->def->iothreads)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    text = qvirXMLTextStripped(node);
    if (!qvirStrToUInt(text, 10, 4096, &val)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "invalid iothreads count '%s': expected an integer between 0 and 4096", text);
        return FALSE;
    }
    st->def->iothreads = (unsigned int)val;
    return TRUE;
}

static gboolean
qvirDomainOSTypeParse(xmlNodePtr node, qvirDomainParseState *st, GError **error)
{
    static const char *const attrs[] = {"arch", "machine", NULL};
    qvirDomainOSDef *os = &st->def->os;
    g_autofree char *type = NULL;

    if (st->haveOSType)
        return qvirXMLDuplicate(node, error);
    st->haveOSType = TRUE;
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    type = qvirXMLTextStripped(node);
    if (strcmp(type, "hvm") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported OS type '%s': qvirt runs 'hvm' guests only", type);
        return FALSE;
    }
    os->type = g_steal_pointer(&type);
    os->arch = qvirXMLPropString(node, "arch");
    os->machine = qvirXMLPropString(node, "machine");
    if (os->arch && strcmp(os->arch, "x86_64") != 0 && strcmp(os->arch, "i686") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "unsupported architecture '%s'",
                    os->arch);
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainOSBootParse(xmlNodePtr node, qvirDomainOSDef *os, GError **error)
{
    static const char *const attrs[] = {"dev", NULL};
    int dev = 0;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropEnum(node, "dev", qvirDomainBootOrder, 0, TRUE, &dev, error))
        return FALSE;
    if (os->nBootDevs >= QVIR_DOMAIN_BOOT_LAST) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "too many <boot> elements in <os>");
        return FALSE;
    }
    os->boot[os->nBootDevs++] = dev;
    return TRUE;
}

static gboolean
qvirDomainOSBootMenuParse(xmlNodePtr node, qvirDomainOSDef *os, GError **error)
{
    static const char *const attrs[] = {"enable", "timeout", NULL};
    int enable = QVIR_TRISTATE_BOOL_ABSENT;

    if (os->bootmenu != QVIR_TRISTATE_BOOL_ABSENT)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropEnum(node, "enable", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, TRUE, &enable,
                         error))
        return FALSE;
    os->bootmenu = enable;
    /* libvirt reads the timeout only for an enabled menu */
    if (enable == QVIR_TRISTATE_BOOL_YES && xmlHasProp(node, (const xmlChar *)"timeout")) {
        if (!qvirXMLPropUInt(node, "timeout", 10, G_MAXUINT, TRUE, &os->bmTimeout, error))
            return FALSE;
        os->bmTimeoutSet = TRUE;
    }
    return TRUE;
}

static gboolean
qvirDomainOSBiosParse(xmlNodePtr node, qvirDomainOSDef *os, GError **error)
{
    static const char *const attrs[] = {"useserial", "rebootTimeout", NULL};
    int useserial = QVIR_TRISTATE_BOOL_ABSENT;
    g_autofree char *rt = NULL;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropEnum(node, "useserial", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE,
                         &useserial, error))
        return FALSE;
    os->useserial = useserial;
    if ((rt = qvirXMLPropString(node, "rebootTimeout"))) {
        char *end = NULL;
        gint64 val = g_ascii_strtoll(rt, &end, 10);

        if (!*rt || !end || *end || val < G_MININT || val > G_MAXINT) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Invalid value for attribute 'rebootTimeout' in element 'bios': '%s'. "
                        "Expected integer value",
                        rt);
            return FALSE;
        }
        os->rtDelay = (int)val;
        os->rtSet = TRUE;
    }
    return TRUE;
}

static gboolean
qvirDomainOSParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    qvirDomainOSDef *os = &st->def->os;

    if (st->haveOS)
        return qvirXMLDuplicate(node, error);
    st->haveOS = TRUE;
    if (!qvirXMLCheckAttrs(node, NULL, error))
        return FALSE;

    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        gboolean ok;

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "type"))
            ok = qvirDomainOSTypeParse(cur, st, error);
        else if (qvirXMLIsElement(cur, "boot"))
            ok = qvirDomainOSBootParse(cur, os, error);
        else if (qvirXMLIsElement(cur, "kernel"))
            ok = qvirDomainTextParse(cur, &os->kernel, TRUE, error);
        else if (qvirXMLIsElement(cur, "initrd"))
            ok = qvirDomainTextParse(cur, &os->initrd, TRUE, error);
        else if (qvirXMLIsElement(cur, "cmdline"))
            ok = qvirDomainTextParse(cur, &os->cmdline, FALSE, error);
        else if (qvirXMLIsElement(cur, "bootmenu"))
            ok = qvirDomainOSBootMenuParse(cur, os, error);
        else if (qvirXMLIsElement(cur, "bios"))
            ok = qvirDomainOSBiosParse(cur, os, error);
        else {
            return qvirXMLUnsupportedChild(cur, "os", error);
        }
        if (!ok)
            return FALSE;
    }
    if (!st->haveOSType) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "an os <type> must be specified");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirDomainFeatureFlagParse(xmlNodePtr node, qvirTristateSwitch *field, GError **error)
{
    if (*field != QVIR_TRISTATE_SWITCH_ABSENT)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    *field = QVIR_TRISTATE_SWITCH_ON;
    return TRUE;
}

/* <apic [eoi='on|off']/> */
static gboolean
qvirDomainFeatureAPICParse(xmlNodePtr node, qvirDomainDef *def, GError **error)
{
    static const char *const attrs[] = {"eoi", NULL};

    if (def->apic != QVIR_TRISTATE_SWITCH_ABSENT)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropSwitch(node, "eoi", &def->apicEoi, error))
        return FALSE;
    def->apic = QVIR_TRISTATE_SWITCH_ON;
    return TRUE;
}

/* <vmport state='on|off'/> needs its state; <pvspinlock [state='on|off']/> alone means on, as
 * libvirt reads them (STATEREQUIRED). */
static gboolean
qvirDomainFeatureStateParse(xmlNodePtr node, gboolean stateRequired, qvirTristateSwitch *field,
                            GError **error)
{
    static const char *const attrs[] = {"state", NULL};

    if (*field != QVIR_TRISTATE_SWITCH_ABSENT)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropSwitch(node, "state", field, error))
        return FALSE;
    if (*field != QVIR_TRISTATE_SWITCH_ABSENT)
        return TRUE;
    if (stateRequired) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Missing required attribute 'state' in element '%s'", qvirXMLName(node));
        return FALSE;
    }
    *field = QVIR_TRISTATE_SWITCH_ON;
    return TRUE;
}

/* <smm [state=]>[<tseg unit=>N</tseg>]</smm>: the TSEG size is in MiB unless a unit says. */
static gboolean
qvirDomainFeatureSMMParse(xmlNodePtr node, qvirDomainDef *def, GError **error)
{
    static const char *const attrs[] = {"state", NULL};
    static const char *const tsegAttrs[] = {"unit", NULL};
    xmlNodePtr tseg = NULL;

    if (def->smm != QVIR_TRISTATE_SWITCH_ABSENT)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropSwitch(node, "state", &def->smm, error))
        return FALSE;
    if (def->smm == QVIR_TRISTATE_SWITCH_ABSENT)
        def->smm = QVIR_TRISTATE_SWITCH_ON;
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "tseg") && !tseg) {
            tseg = cur;
            continue;
        }
        return qvirXMLUnsupportedChild(cur, "smm", error);
    }
    /* libvirt reads the size only for SMM switched on */
    if (tseg && def->smm == QVIR_TRISTATE_SWITCH_ON) {
        g_autofree char *unit = qvirXMLPropString(tseg, "unit");
        g_autofree char *text = NULL;
        unsigned long long scale = 1024 * 1024;
        unsigned long long val;

        if (!qvirXMLCheckAttrs(tseg, tsegAttrs, error) || !qvirXMLCheckNoChildren(tseg, error))
            return FALSE;
        if (unit && !qvirMemoryUnitScale(unit, &scale)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "unknown suffix '%s'", unit);
            return FALSE;
        }
        text = qvirXMLTextStripped(tseg);
        if (!qvirStrToUInt(text, 10, G_MAXINT64, &val) || val > G_MAXINT64 / scale) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Invalid value '%s' for element or attribute "
                        "'string(./features/smm/tseg)'",
                        text);
            return FALSE;
        }
        def->tsegBytes = val * scale;
    }
    return TRUE;
}

static gboolean
qvirDomainFeaturesParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;

    if (st->haveFeatures)
        return qvirXMLDuplicate(node, error);
    st->haveFeatures = TRUE;
    if (!qvirXMLCheckAttrs(node, NULL, error))
        return FALSE;
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        gboolean ok;

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "acpi"))
            ok = qvirDomainFeatureFlagParse(cur, &st->def->acpi, error);
        else if (qvirXMLIsElement(cur, "apic"))
            ok = qvirDomainFeatureAPICParse(cur, st->def, error);
        else if (qvirXMLIsElement(cur, "pvspinlock"))
            ok = qvirDomainFeatureStateParse(cur, FALSE, &st->def->pvspinlock, error);
        else if (qvirXMLIsElement(cur, "pae"))
            ok = qvirDomainFeatureFlagParse(cur, &st->def->pae, error);
        else if (qvirXMLIsElement(cur, "vmport"))
            ok = qvirDomainFeatureStateParse(cur, TRUE, &st->def->vmport, error);
        else if (qvirXMLIsElement(cur, "smm"))
            ok = qvirDomainFeatureSMMParse(cur, st->def, error);
        else {
            return qvirXMLUnsupportedChild(cur, "features", error);
        }
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

/* <feature policy= name=/>: the name becomes part of a -cpu argument. */
static gboolean
qvirDomainCPUFeatureParse(xmlNodePtr node, qvirDomainDef *def, GError **error)
{
    static const char *const attrs[] = {"policy", "name", NULL};
    static const char *const policies[] = {"force",   "require", "optional",
                                           "disable", "forbid",  NULL};
    g_autoptr(GError) err = NULL;
    qvirDomainCPUFeature *feature = g_new0(qvirDomainCPUFeature, 1);

    if (!def->cpuFeatures)
        def->cpuFeatures = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainCPUFeatureFree);
    g_ptr_array_add(def->cpuFeatures, feature);
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropChoice(node, "policy", policies, FALSE, &feature->policy, error))
        return FALSE;
    if (!(feature->name = qvirXMLPropString(node, "name"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "Missing CPU feature name");
        return FALSE;
    }
    if (!*feature->name ||
        strspn(feature->name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(feature->name)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "invalid CPU feature name '%s'",
                    feature->name);
        return FALSE;
    }
    for (guint i = 0; i + 1 < def->cpuFeatures->len; i++) {
        const qvirDomainCPUFeature *other = g_ptr_array_index(def->cpuFeatures, i);

        if (strcmp(other->name, feature->name) == 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "CPU feature '%s' specified more than once", feature->name);
            return FALSE;
        }
    }
    if (!feature->policy)
        feature->policy = g_strdup("require");
    return TRUE;
}

/* <cpu ...><model fallback=>NAME</model><feature/>...</cpu> of a custom CPU; in live XML the
 * features are the ones the accelerator added or took away. */
static gboolean
qvirDomainCPUModelParse(xmlNodePtr cpu, qvirDomainDef *def, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"fallback", NULL};
    static const char *const fallbacks[] = {"allow", "forbid", NULL};
    xmlNodePtr model = NULL;

    for (xmlNodePtr cur = cpu->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "model") && !model) {
            model = cur;
            continue;
        }
        if (qvirXMLIsElement(cur, "feature")) {
            if (!qvirDomainCPUFeatureParse(cur, def, error))
                return FALSE;
            continue;
        }
        return qvirXMLUnsupportedChild(cur, "cpu", error);
    }
    if (!model)
        return TRUE;
    if (!qvirXMLCheckAttrs(model, attrs, error) || !qvirXMLCheckNoChildren(model, error) ||
        !qvirXMLPropChoice(model, "fallback", fallbacks, FALSE, &def->cpuFallback, error))
        return FALSE;
    def->cpuModel = qvirXMLTextStripped(model);
    /* The name becomes a -cpu argument: QEMU's model names are this character set. */
    if (!*def->cpuModel ||
        strspn(def->cpuModel,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
            strlen(def->cpuModel)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "invalid CPU model name '%s'",
                    def->cpuModel);
        return FALSE;
    }
    return TRUE;
}

/*
 * What virt-install and libvirt write for the modes we run: mode, match, check and
 * migratable, and a named model for mode='custom' (the default when a model is given).
 */
static gboolean
qvirDomainCPUParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"mode", "match", "check", "migratable", NULL};
    static const char *const modes[] = {"custom", "host-model", "host-passthrough", "maximum",
                                        NULL};
    static const char *const matches[] = {"minimum", "exact", "strict", NULL};
    static const char *const checks[] = {"none", "partial", "full", NULL};
    static const char *const switches[] = {"on", "off", NULL};
    qvirDomainParseState *st = opaque;
    qvirDomainDef *def = st->def;

    if (def->cpuMode)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropChoice(node, "mode", modes, FALSE, &def->cpuMode, error) ||
        !qvirXMLPropChoice(node, "match", matches, FALSE, &def->cpuMatch, error) ||
        !qvirXMLPropChoice(node, "check", checks, FALSE, &def->cpuCheck, error) ||
        !qvirXMLPropChoice(node, "migratable", switches, FALSE, &def->cpuMigratable, error) ||
        !qvirDomainCPUModelParse(node, def, flags, error))
        return FALSE;
    if (!def->cpuMode) {
        if (!def->cpuModel) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Missing required attribute 'mode' in element 'cpu'");
            return FALSE;
        }
        def->cpuMode = g_strdup("custom");
    }
    if (strcmp(def->cpuMode, "custom") == 0) {
        if (!def->cpuModel) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "CPU mode 'custom' needs a <model>: CPU topology and features alone are "
                        "not supported by qvirt");
            return FALSE;
        }
        if (!def->cpuMatch)
            def->cpuMatch = g_strdup("exact");
        if (!def->cpuFallback)
            def->cpuFallback = g_strdup("allow");
    } else {
        /* only a custom CPU matches and falls back; libvirt drops both otherwise */
        g_clear_pointer(&def->cpuMatch, g_free);
        if (def->cpuModel) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "a CPU <model> is only supported by qvirt with mode 'custom', not '%s'",
                        def->cpuMode);
            return FALSE;
        }
        g_clear_pointer(&def->cpuFallback, g_free);
    }
    /* libvirt: migratable only means something for the host CPU passed through. */
    if (def->cpuMigratable && strcmp(def->cpuMode, "host-passthrough") != 0 &&
        strcmp(def->cpuMode, "maximum") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "Attribute migratable is only allowed for 'host-passthrough' / 'maximum' "
                    "CPU mode");
        return FALSE;
    }
    return TRUE;
}

/* <timer name= present= tickpolicy= track=/> for rtc, pit and hpet. */
static gboolean
qvirDomainTimerParse(xmlNodePtr node, qvirDomainDef *def, GError **error)
{
    static const char *const attrs[] = {"name", "present", "tickpolicy", "track", NULL};
    qvirDomainTimerDef timer = {0};
    int name = 0;
    int present = QVIR_TRISTATE_BOOL_ABSENT;
    int tickpolicy = QVIR_DOMAIN_TIMER_TICKPOLICY_NONE;
    int track = QVIR_DOMAIN_TIMER_TRACK_NONE;
    g_autofree char *nameStr = qvirXMLPropString(node, "name");

    if (nameStr && qvirDomainTimerNameTypeFromString(nameStr) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "timer '%s' is not supported by qvirt: only rtc, pit, hpet and kvmclock",
                    nameStr);
        return FALSE;
    }
    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error) ||
        !qvirXMLPropEnum(node, "name", qvirDomainTimerName, 0, TRUE, &name, error) ||
        !qvirXMLPropEnum(node, "present", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE, &present,
                         error) ||
        !qvirXMLPropEnum(node, "tickpolicy", qvirDomainTimerTickpolicy,
                         QVIR_DOMAIN_TIMER_TICKPOLICY_DELAY, FALSE, &tickpolicy, error) ||
        !qvirXMLPropEnum(node, "track", qvirDomainTimerTrack, QVIR_DOMAIN_TIMER_TRACK_BOOT, FALSE,
                         &track, error))
        return FALSE;
    if (track != QVIR_DOMAIN_TIMER_TRACK_NONE && name != QVIR_DOMAIN_TIMER_RTC) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "timer attribute 'track' is only valid for the rtc timer");
        return FALSE;
    }
    for (unsigned int i = 0; i < def->ntimers; i++) {
        if (def->timers[i].name == (qvirDomainTimerName)name) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "duplicate timer '%s'",
                        qvirDomainTimerNameTypeToString(name));
            return FALSE;
        }
    }
    timer.name = name;
    timer.present = present;
    timer.tickpolicy = tickpolicy;
    timer.track = track;
    def->timers[def->ntimers++] = timer;
    return TRUE;
}

static gboolean
qvirDomainClockParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"offset", "start", NULL};
    static const char *const offsets[] = {"utc", "localtime", "absolute", NULL};
    qvirDomainParseState *st = opaque;

    if (st->haveClock)
        return qvirXMLDuplicate(node, error);
    st->haveClock = TRUE;
    if (!qvirXMLCheckAttrs(node, attrs, error) ||
        !qvirXMLPropChoice(node, "offset", offsets, FALSE, &st->def->clockOffset, error))
        return FALSE;
    /* the guest's clock starts at this moment whenever it boots */
    if (g_strcmp0(st->def->clockOffset, "absolute") == 0) {
        g_autofree char *start = qvirXMLPropString(node, "start");
        unsigned long long val;

        if (!qvirStrToUInt(start, 10, G_MAXUINT64, &val)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "missing 'start' attribute for clock with offset='absolute'");
            return FALSE;
        }
        st->def->clockStart = val;
    }
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (!qvirXMLIsElement(cur, "timer")) {
            return qvirXMLUnsupportedChild(cur, "clock", error);
        }
        if (!qvirDomainTimerParse(cur, st->def, error))
            return FALSE;
    }
    return TRUE;
}

/* <pm><suspend-to-mem enabled=/><suspend-to-disk enabled=/></pm> */
static gboolean
qvirDomainPMParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"enabled", NULL};
    qvirDomainParseState *st = opaque;

    if (st->havePM)
        return qvirXMLDuplicate(node, error);
    st->havePM = TRUE;
    if (!qvirXMLCheckAttrs(node, NULL, error))
        return FALSE;
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        qvirTristateBool *field = NULL;
        int val = QVIR_TRISTATE_BOOL_ABSENT;

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (qvirXMLIsElement(cur, "suspend-to-mem"))
            field = &st->def->pmS3;
        else if (qvirXMLIsElement(cur, "suspend-to-disk"))
            field = &st->def->pmS4;
        if (!field) {
            return qvirXMLUnsupportedChild(cur, "pm", error);
        }
        if (*field != QVIR_TRISTATE_BOOL_ABSENT)
            return qvirXMLDuplicate(cur, error);
        if (!qvirXMLCheckAttrs(cur, attrs, error) || !qvirXMLCheckNoChildren(cur, error) ||
            !qvirXMLPropEnum(cur, "enabled", qvirTristateBool, QVIR_TRISTATE_BOOL_YES, FALSE, &val,
                             error))
            return FALSE;
        *field = val;
    }
    return TRUE;
}

/* <resource><partition>/machine</partition></resource>: where libvirt puts the cgroup. */
static gboolean
qvirDomainResourceParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    g_autofree char *partition = NULL;

    if (st->def->resourcePartition)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error))
        return FALSE;
    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE)
            continue;
        if (!qvirXMLIsElement(cur, "partition") || partition) {
            return qvirXMLUnsupportedChild(cur, "resource", error);
        }
        if (!qvirXMLCheckAttrs(cur, NULL, error) || !qvirXMLCheckNoChildren(cur, error))
            return FALSE;
        partition = qvirXMLTextStripped(cur);
    }
    if (!partition || partition[0] != '/') {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "resource partition must start with '/'");
        return FALSE;
    }
    st->def->resourcePartition = g_steal_pointer(&partition);
    return TRUE;
}

/* Drop whitespace-only text, as libvirt's parser does, so formatting re-indents cleanly. */
static void
qvirXMLStripBlanks(xmlNodePtr node)
{
    xmlNodePtr cur = node->children;

    while (cur) {
        xmlNodePtr next = cur->next;

        if (cur->type == XML_TEXT_NODE && xmlIsBlankNode(cur)) {
            xmlUnlinkNode(cur);
            xmlFreeNode(cur);
        } else if (cur->type == XML_ELEMENT_NODE) {
            qvirXMLStripBlanks(cur);
        }
        cur = next;
    }
}

/*
 * <metadata>: applications' own elements, kept verbatim. Serialized here, once, as
 * libvirt's virXMLFormatMetadata would at indent 0 (blanks stripped, libxml2's own
 * indentation), so formatting needs no libxml2: tools that only format (qvirt chain)
 * then start without loading it.
 */
static gboolean
qvirDomainMetadataParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    xmlDocPtr doc;
    xmlNodePtr copy;
    xmlBufferPtr xmlbuf = NULL;
    int oldIndent = xmlIndentTreeOutput;
    gboolean ok = FALSE;

    if (st->def->metadata)
        return qvirXMLDuplicate(node, error);
    if (!qvirXMLCheckAttrs(node, NULL, error))
        return FALSE;
    if (!(doc = xmlNewDoc((const xmlChar *)"1.0")) || !(copy = xmlDocCopyNode(node, doc, 1)))
        goto cleanup;
    xmlDocSetRootElement(doc, copy);
    qvirXMLStripBlanks(copy);
    if (!(xmlbuf = xmlBufferCreate()))
        goto cleanup;
    xmlIndentTreeOutput = 1;
    if (xmlNodeDump(xmlbuf, doc, copy, 0, 1) >= 0) {
        st->def->metadata = g_strdup((const char *)xmlBufferContent(xmlbuf));
        ok = TRUE;
    }
    xmlIndentTreeOutput = oldIndent;

cleanup:
    if (xmlbuf)
        xmlBufferFree(xmlbuf);
    if (doc)
        xmlFreeDoc(doc);
    if (!ok)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_MEMORY, "cannot copy <metadata>");
    return ok;
}

static gboolean
qvirDomainLifecycleParse(xmlNodePtr node, qvirDomainParseState *st, unsigned int which,
                         qvirDomainLifecycleAction *out, GError **error)
{
    g_autofree char *text = NULL;
    int val;

    if (st->haveLifecycle[which])
        return qvirXMLDuplicate(node, error);
    st->haveLifecycle[which] = TRUE;
    if (!qvirXMLCheckAttrs(node, NULL, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    text = qvirXMLTextStripped(node);
    if ((val = qvirDomainLifecycleActionTypeFromString(text)) < 0) {
        /* libvirt's virDomainEventActionParseXML */
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "unknown %s action: %s",
                    qvirXMLName(node), text);
        return FALSE;
    }
    *out = val;
    return TRUE;
}

static gboolean
qvirDomainOnPoweroffParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    return qvirDomainLifecycleParse(node, st, 0, &st->def->onPoweroff, error);
}

static gboolean
qvirDomainOnRebootParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    return qvirDomainLifecycleParse(node, st, 1, &st->def->onReboot, error);
}

static gboolean
qvirDomainOnCrashParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;
    return qvirDomainLifecycleParse(node, st, 2, &st->def->onCrash, error);
}

static gboolean
qvirDomainDevicesParseState(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;

    if (st->haveDevices)
        return qvirXMLDuplicate(node, error);
    st->haveDevices = TRUE;
    return qvirDomainDevicesParse(node, st->def, flags, error);
}

/* ---- libvirt's qemu namespace -------------------------------------------------------- */

static gboolean
qvirDomainQemuArgParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"value", NULL};
    qvirDomainDef *def = opaque;
    g_autofree char *value = NULL;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    if (!(value = qvirXMLPropString(node, "value"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "No qemu command-line argument specified");
        return FALSE;
    }
    if (!def->qemuArgs)
        def->qemuArgs = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(def->qemuArgs, g_steal_pointer(&value));
    return TRUE;
}

/* libvirt's rules: the name goes into QEMU's environment as NAME=VALUE */
static gboolean
qvirDomainQemuEnvParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"name", "value", NULL};
    qvirDomainDef *def = opaque;
    qvirDomainQemuEnvDef *env;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    env = g_new0(qvirDomainQemuEnvDef, 1);
    if (!def->qemuEnv)
        def->qemuEnv = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainQemuEnvDefFree);
    g_ptr_array_add(def->qemuEnv, env);
    env->name = qvirXMLPropString(node, "name");
    env->value = qvirXMLPropString(node, "value");
    if (!env->name) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "No qemu environment name specified");
        return FALSE;
    }
    if (!g_ascii_isalpha(env->name[0]) && env->name[0] != '_') {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "Invalid environment name, it must begin with a letter or underscore");
        return FALSE;
    }
    if (strspn(env->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
        strlen(env->name)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "Invalid environment name, it must contain only alphanumerics and underscore");
        return FALSE;
    }
    return TRUE;
}

static const qvirChildHandler qvirDomainQemuCommandlineChildren[] = {
    {"qemu:arg", qvirDomainQemuArgParse},
    {"qemu:env", qvirDomainQemuEnvParse},
    {NULL, NULL},
};

static gboolean
qvirDomainQemuCommandlineParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;

    return qvirXMLCheckAttrs(node, NULL, error) &&
           qvirXMLParseChildren(node, qvirDomainQemuCommandlineChildren, st->def, flags, NULL,
                                error);
}

static gboolean
qvirDomainQemuCapParse(xmlNodePtr node, GPtrArray **list, GError **error)
{
    static const char *const attrs[] = {"capability", NULL};
    g_autofree char *name = NULL;

    if (!qvirXMLCheckAttrs(node, attrs, error) || !qvirXMLCheckNoChildren(node, error))
        return FALSE;
    if (!(name = qvirXMLPropString(node, "capability"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "missing capability name");
        return FALSE;
    }
    if (!*list)
        *list = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(*list, g_steal_pointer(&name));
    return TRUE;
}

static gboolean
qvirDomainQemuCapAddParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDef *def = opaque;
    return qvirDomainQemuCapParse(node, &def->qemuCapsAdd, error);
}

static gboolean
qvirDomainQemuCapDelParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainDef *def = opaque;
    return qvirDomainQemuCapParse(node, &def->qemuCapsDel, error);
}

static const qvirChildHandler qvirDomainQemuCapabilitiesChildren[] = {
    {"qemu:add", qvirDomainQemuCapAddParse},
    {"qemu:del", qvirDomainQemuCapDelParse},
    {NULL, NULL},
};

static gboolean
qvirDomainQemuCapabilitiesParse(xmlNodePtr node, void *opaque, unsigned int flags, GError **error)
{
    qvirDomainParseState *st = opaque;

    return qvirXMLCheckAttrs(node, NULL, error) &&
           qvirXMLParseChildren(node, qvirDomainQemuCapabilitiesChildren, st->def, flags, NULL,
                                error);
}

static const qvirChildHandler qvirDomainChildren[] = {
    {"qemu:commandline", qvirDomainQemuCommandlineParse},
    {"qemu:capabilities", qvirDomainQemuCapabilitiesParse},
    {"name", qvirDomainNameParseState},
    {"uuid", qvirDomainUUIDParse},
    {"title", qvirDomainTitleParse},
    {"description", qvirDomainDescriptionParse},
    {"metadata", qvirDomainMetadataParse},
    {"resource", qvirDomainResourceParse},
    {"pm", qvirDomainPMParse},
    {"memory", qvirDomainMemoryParse},
    {"currentMemory", qvirDomainCurrentMemoryParse},
    {"vcpu", qvirDomainVcpuParse},
    {"iothreads", qvirDomainIOThreadsParse},
    {"os", qvirDomainOSParse},
    {"features", qvirDomainFeaturesParse},
    {"cpu", qvirDomainCPUParse},
    {"clock", qvirDomainClockParse},
    {"on_poweroff", qvirDomainOnPoweroffParse},
    {"on_reboot", qvirDomainOnRebootParse},
    {"on_crash", qvirDomainOnCrashParse},
    {"devices", qvirDomainDevicesParseState},
    {NULL, NULL},
};

/* ---- post-parse: names, defaults the formatter relies on ---------------------------------- */

/* The name becomes a file name under the state and config directories. */
static gboolean
qvirDomainNameCheck(const char *name, GError **error)
{
    if (!name || !*name) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_NAME, "missing name information");
        return FALSE;
    }
    if (strchr(name, '/')) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "name %s cannot contain '/'", name);
        return FALSE;
    }
    if (name[0] == '.') {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "name %s cannot start with '.'", name);
        return FALSE;
    }
    if (strchr(name, '\n')) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "name %s contains illegal character",
                    name);
        return FALSE;
    }
    return TRUE;
}

/*
 * The index a USB2 part without index= shares with the USB controller just before it, when
 * that one is a USB2 part too and its index has no part of this model yet (libvirt's test
 * for "the XML lists the parts of one USB2 controller together"); -1 otherwise.
 */
static int
qvirDomainControllerUSB2GroupIndex(const qvirDomainDef *def, guint pos)
{
    const qvirDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, pos);
    const qvirDomainControllerDef *prev = NULL;

    if (!qvirDomainControllerIsUSB2(ctrl))
        return -1;
    for (guint i = pos; i > 0 && !prev; i--) {
        const qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i - 1);

        if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB)
            prev = c;
    }
    if (!prev || !qvirDomainControllerIsUSB2(prev))
        return -1;
    for (guint i = 0; i < def->controllers->len; i++) {
        const qvirDomainControllerDef *c = g_ptr_array_index(def->controllers, i);

        if (c->type == QVIR_DOMAIN_CONTROLLER_TYPE_USB && c->idx == prev->idx &&
            g_strcmp0(c->model, ctrl->model) == 0)
            return -1;
    }
    return prev->idx;
}

/* Controllers without index= get the lowest free index of their type, as libvirt does
 * (the parts of a USB2 controller listed together share one). */
static void
qvirDomainControllersAssignIndex(qvirDomainDef *def)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        qvirDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);
        int idx = 0;
        gboolean taken = TRUE;

        if (ctrl->idx >= 0)
            continue;
        if ((ctrl->idx = qvirDomainControllerUSB2GroupIndex(def, i)) >= 0)
            continue;
        while (taken) {
            taken = FALSE;
            for (guint j = 0; j < def->controllers->len; j++) {
                qvirDomainControllerDef *other = g_ptr_array_index(def->controllers, j);
                if (other->type == ctrl->type && other->idx == idx) {
                    taken = TRUE;
                    idx++;
                    break;
                }
            }
        }
        ctrl->idx = idx;
    }
    /* Like libvirt, numbering does not move a controller: it stays where the parser
     * inserted it (after the others of its type). */
}

/* libvirt's x86 serial defaults: ISA serial ports numbered in order, console port 0.. */
static void
qvirDomainChrAssignDefaults(qvirDomainDef *def)
{
    /* A serial console without a serial port gets one (libvirt's console compat): the
     * console is that port's second name. */
    if (def->consoles->len > 0 && def->serials->len == 0) {
        qvirDomainChrDef *con = g_ptr_array_index(def->consoles, 0);

        if (!con->targetType || strcmp(con->targetType, "serial") == 0) {
            qvirDomainChrDef *ser = g_new0(qvirDomainChrDef, 1);

            ser->targetPort = -1;
            qvirDomainChrSourceCopy(ser, con);
            ser->info.alias = g_strdup(con->info.alias);
            g_ptr_array_add(def->serials, ser);
        }
    }
    for (guint i = 0; i < def->serials->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->serials, i);

        if (!chr->targetType)
            chr->targetType = g_strdup("isa-serial");
        if (!chr->targetModel)
            chr->targetModel = g_strdup(chr->targetType);
        if (chr->targetPort < 0)
            chr->targetPort = i;
    }
    for (guint i = 0; i < def->consoles->len; i++) {
        qvirDomainChrDef *chr = g_ptr_array_index(def->consoles, i);

        if (!chr->targetType)
            chr->targetType = g_strdup("serial");
        if (chr->targetPort < 0)
            chr->targetPort = i;
    }
}

static gboolean
qvirDomainDefPostParse(qvirDomainDef *def, const qvirDomainParseState *st, GError **error)
{
    if (!qvirDomainNameCheck(def->name, error))
        return FALSE;
    if (!st->haveUUID)
        qvirUUIDGenerate(def->uuid);
    if (!st->haveOS) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "an os <type> must be specified");
        return FALSE;
    }
    if (def->memoryKiB == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "Memory size must be specified via <memory> or in the <numa> "
                    "configuration");
        return FALSE;
    }
    /* libvirt clamps the balloon target to the maximum. */
    if (!st->haveCurrentMemory || def->currentMemoryKiB == 0 ||
        def->currentMemoryKiB > def->memoryKiB)
        def->currentMemoryKiB = def->memoryKiB;
    qvirDomainControllersAssignIndex(def);
    qvirDomainChrAssignDefaults(def);
    return TRUE;
}

static gboolean
qvirDomainRootAttrsParse(xmlNodePtr root, qvirDomainDef *def, unsigned int flags, GError **error)
{
    static const char *const attrs[] = {"type", "id", NULL};
    int type = 0;
    g_autofree char *typeStr = qvirXMLPropString(root, "type");

    if (!qvirXMLCheckAttrs(root, attrs, error))
        return FALSE;
    if (!typeStr) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "missing domain type attribute");
        return FALSE;
    }
    if (!qvirXMLPropEnum(root, "type", qvirDomainVirtType, 0, TRUE, &type, error))
        return FALSE;
    def->virtType = type;

    if (qvirParseIsLive(flags) && xmlHasProp(root, (const xmlChar *)"id")) {
        g_autofree char *id = qvirXMLPropString(root, "id");
        unsigned int val = 0;

        /* libvirt writes id='-1' for a domain that is not running. */
        if (strcmp(id, "-1") != 0) {
            if (!qvirXMLPropUInt(root, "id", 10, G_MAXINT, TRUE, &val, error))
                return FALSE;
            def->id = (int)val;
        }
    }
    return TRUE;
}

qvirDomainDef *
qvirDomainDefParseNode(xmlDocPtr doc, xmlNodePtr root, unsigned int flags, GError **error)
{
    g_autoptr(qvirDomainDef) def = NULL;
    qvirDomainParseState st = {0};

    g_return_val_if_fail(root != NULL, NULL);

    if (!qvirXMLIsElement(root, "domain")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "unexpected root element <%s>, expecting <domain>", qvirXMLName(root));
        return NULL;
    }
    def = qvirDomainDefNew();
    st.def = def;
    if (!qvirDomainRootAttrsParse(root, def, flags, error) ||
        !qvirXMLParseChildren(root, qvirDomainChildren, &st, flags, NULL, error) ||
        !qvirDomainDefPostParse(def, &st, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* ---- documents ---------------------------------------------------------------------------- */

qvirDomainDef *
qvirDomainDefParseString(const char *xml, unsigned int flags, GError **error)
{
    xmlDocPtr doc;
    qvirDomainDef *def;

    g_return_val_if_fail(xml != NULL, NULL);
    if (!(doc = qvirXMLParseString(xml, "domain", QVIR_DOMAIN_XML_MAX_SIZE,
                                   QVIR_XML_WORDING_DOCUMENT, error)))
        return NULL;
    def = qvirDomainDefParseNode(doc, xmlDocGetRootElement(doc), flags, error);
    xmlFreeDoc(doc);
    return def;
}

qvirDomainDef *
qvirDomainDefParseFile(const char *path, unsigned int flags, GError **error)
{
    g_autofree char *xml = NULL;
    g_autoptr(GError) local = NULL;
    GStatBuf sb;
    gsize len = 0;

    g_return_val_if_fail(path != NULL, NULL);
    /* Check the size before reading, so a huge file is not pulled into memory. */
    if (g_stat(path, &sb) == 0 && sb.st_size > QVIR_DOMAIN_XML_MAX_SIZE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "domain XML file '%s' is too large (limit %d bytes)", path,
                    QVIR_DOMAIN_XML_MAX_SIZE);
        return NULL;
    }
    if (!g_file_get_contents(path, &xml, &len, &local)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPEN_FAILED, "cannot read '%s': %s", path,
                    local->message);
        return NULL;
    }
    if (strlen(xml) != len) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "'%s' contains a NUL byte", path);
        return NULL;
    }
    return qvirDomainDefParseString(xml, flags, error);
}

qvirDomainDiskDef *
qvirDomainDiskDefParseString(const char *xml, unsigned int flags, GError **error)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    qvirDomainDiskDef *disk = NULL;

    g_return_val_if_fail(xml != NULL, NULL);
    if (!(doc = qvirXMLParseString(xml, "device", QVIR_DOMAIN_XML_MAX_SIZE,
                                   QVIR_XML_WORDING_DOCUMENT, error)))
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!qvirXMLIsElement(root, "disk")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported device element <%s>", qvirXMLName(root));
    } else {
        disk = qvirDomainDiskDefParseNode(root, flags, error);
    }
    xmlFreeDoc(doc);
    return disk;
}
