/*
 * storage_pool_conf.c: the pool XML of dir, fs, rbd and iscsi-direct pools (storagepool.rng).
 */
#include "conf/storage_pool_conf.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "conf/domain_conf.h"
#include "conf/storage_xml.h"
#include "util/virerror.h"
#include "util/virxml.h"

QVIR_ENUM_IMPL(qvirStoragePoolType, QVIR_STORAGE_POOL_LAST, "dir", "fs", "rbd", "iscsi-direct");
QVIR_ENUM_IMPL(qvirStoragePoolRefreshAlloc, QVIR_STORAGE_POOL_REFRESH_LAST, "", "default",
               "capacity");
QVIR_ENUM_IMPL(qvirStoragePoolFsFormat, QVIR_STORAGE_POOL_FS_LAST, "auto", "ext2", "ext3", "ext4",
               "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+", "xfs", "ocfs2", "vmfs");

void
qvirStoragePermsClear(qvirStoragePerms *perms)
{
    g_clear_pointer(&perms->label, g_free);
}

void
qvirStoragePoolDefFree(qvirStoragePoolDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->sourceDevice);
    for (size_t i = 0; i < def->nhosts; i++)
        g_free(def->hosts[i].name);
    g_free(def->hosts);
    g_free(def->sourceName);
    g_free(def->initiatorIQN);
    qvirStorageAuthFree(def->auth);
    g_free(def->targetPath);
    qvirStoragePermsClear(&def->perms);
    g_free(def);
}

char *
qvirStoragePathClean(const char *path)
{
    GString *out = g_string_sized_new(strlen(path));

    for (const char *p = path; *p; p++) {
        if (*p == '/' && out->len && out->str[out->len - 1] == '/')
            continue;
        g_string_append_c(out, *p);
    }
    /* Trailing slashes and the white space the parser strips go together ("/var/ /"), so
     * that a formatted path parses back to itself. */
    while (out->len > 1 &&
           (out->str[out->len - 1] == '/' || g_ascii_isspace(out->str[out->len - 1])))
        g_string_truncate(out, out->len - 1);
    return g_string_free(out, FALSE);
}

/* libvirt's unit suffixes: 1000- and 1024-based, in bytes. */
gboolean
qvirStorageScaleInteger(const char *value, const char *unit, guint64 *bytes, GError **error,
                        const char *what)
{
    static const struct {
        const char *name;
        guint64 scale;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"bytes", 1},
        {"KB", 1000ull},
        {"k", 1024ull},
        {"KiB", 1024},
        {"MB", 1000000},
        {"M", 1ull << 20},
        {"MiB", 1ull << 20},
        {"GB", 1000000000ull},
        {"G", 1ull << 30},
        {"GiB", 1ull << 30},
        {"TB", 1000000000000ull},
        {"T", 1ull << 40},
        {"TiB", 1ull << 40},
        {"PB", 1000000000000000ull},
        {"P", 1ull << 50},
        {"PiB", 1ull << 50},
        {"EB", 1000000000000000000ull},
        {"E", 1ull << 60},
        {"EiB", 1ull << 60},
    };
    guint64 scale = 0, n;
    char *end = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(units); i++) {
        /* libvirt accepts the single letters in either case, and "kb"-style lower case */
        if (g_ascii_strcasecmp(unit ? unit : "", units[i].name) == 0) {
            scale = units[i].scale;
            break;
        }
    }
    if (!scale) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unknown suffix '%s'", unit);
        return FALSE;
    }
    value = value ? value : "";
    while (g_ascii_isspace(*value))
        value++;
    if (!g_ascii_isdigit(*value) ||
        ((n = g_ascii_strtoull(value, &end, 10)), end && *end && !g_ascii_isspace(*end))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "malformed %s element", what);
        return FALSE;
    }
    if (n > G_MAXUINT64 / scale) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OVERFLOW,
                    "numerical overflow: value too large: %s%s", value, unit ? unit : "");
        return FALSE;
    }
    *bytes = n * scale;
    return TRUE;
}

gboolean
qvirStoragePermsParse(void *opaque, qvirStoragePerms *perms, GError **error)
{
    xmlNodePtr node = opaque;

    perms->mode = -1;
    perms->owner = perms->group = -1;
    if (!node)
        return TRUE;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        g_autofree char *text = NULL;
        char *end = NULL;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        text = g_strstrip(qvirXMLNodeContent(c));
        if (xmlStrEqual(c->name, BAD_CAST "mode")) {
            guint64 mode = g_ascii_strtoull(text, &end, 8);

            if (!*text || *end || mode > 0777) {
                g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "malformed octal mode");
                return FALSE;
            }
            perms->mode = (int)mode;
        } else if (xmlStrEqual(c->name, BAD_CAST "owner") ||
                   xmlStrEqual(c->name, BAD_CAST "group")) {
            gboolean owner = xmlStrEqual(c->name, BAD_CAST "owner");
            gint64 id = g_ascii_strtoll(text, &end, 10);

            if (!*text || *end || id < -1 || id > G_MAXUINT32) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "malformed %s element",
                            owner ? "owner" : "group");
                return FALSE;
            }
            *(owner ? &perms->owner : &perms->group) = id;
        } else if (xmlStrEqual(c->name, BAD_CAST "label")) {
            g_free(perms->label);
            perms->label = g_steal_pointer(&text);
        }
    }
    return TRUE;
}

void
qvirStoragePermsFormat(GString *buf, const qvirStoragePerms *perms, const char *indent)
{
    if (perms->mode < 0 && perms->owner < 0 && perms->group < 0 && !perms->label)
        return;
    g_string_append_printf(buf, "%s<permissions>\n", indent);
    if (perms->mode >= 0)
        g_string_append_printf(buf, "%s  <mode>%04o</mode>\n", indent, perms->mode);
    if (perms->owner >= 0)
        g_string_append_printf(buf, "%s  <owner>%" G_GINT64_FORMAT "</owner>\n", indent,
                               perms->owner);
    if (perms->group >= 0)
        g_string_append_printf(buf, "%s  <group>%" G_GINT64_FORMAT "</group>\n", indent,
                               perms->group);
    if (perms->label) {
        g_autofree char *label = g_markup_escape_text(perms->label, -1);

        g_string_append_printf(buf, "%s  <label>%s</label>\n", indent, label);
    }
    g_string_append_printf(buf, "%s</permissions>\n", indent);
}

gboolean
qvirStoragePoolTypeIsNetwork(qvirStoragePoolType type)
{
    return type == QVIR_STORAGE_POOL_RBD || type == QVIR_STORAGE_POOL_ISCSI_DIRECT;
}

static gboolean
qvirStoragePoolParseHost(xmlNodePtr node, qvirStoragePoolDef *def, GError **error)
{
    g_autofree char *name = qvirXMLPropString(node, "name");
    g_autofree char *port = qvirXMLPropString(node, "port");
    guint64 val = 0;

    if (!name) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: missing storage pool host name");
        return FALSE;
    }
    if (port && (!g_ascii_string_to_unsigned(port, 10, 0, G_MAXINT, &val, NULL))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "XML error: Invalid value for attribute 'port' in element 'host': '%s'. "
                    "Expected integer value",
                    port);
        return FALSE;
    }
    def->hosts = g_renew(qvirStoragePoolHost, def->hosts, def->nhosts + 1);
    def->hosts[def->nhosts].name = g_steal_pointer(&name);
    def->hosts[def->nhosts].port = (unsigned int)val;
    def->nhosts++;
    return TRUE;
}

/* <auth type= username=><secret uuid=|usage=/></auth>: the disk's parser in a pool's
 * context, its words with the prefixes libvirt's pool parser writes. */
static gboolean
qvirStoragePoolParseAuth(xmlNodePtr node, qvirStoragePoolDef *def, GError **error)
{
    g_autoptr(qvirStorageAuth) auth = NULL;
    g_autoptr(GError) err = NULL;

    if (!qvirStorageAuthParse(node, QVIR_STORAGE_AUTH_POOL, &auth, &err)) {
        qvirErrorAddPrefix(err);
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }
    if (auth->authType == QVIR_STORAGE_AUTH_TYPE_NONE) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: storage pool missing auth type");
        return FALSE;
    }
    qvirStorageAuthFree(def->auth);
    def->auth = g_steal_pointer(&auth);
    return TRUE;
}

static gboolean
qvirStoragePoolParseSource(xmlNodePtr node, qvirStoragePoolDef *def, GError **error)
{
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrEqual(c->name, BAD_CAST "device")) {
            g_free(def->sourceDevice);
            if (!(def->sourceDevice = qvirXMLPropString(c, "path"))) {
                g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                                    "XML error: missing storage pool source device path");
                return FALSE;
            }
        } else if (xmlStrEqual(c->name, BAD_CAST "format") &&
                   !qvirStoragePoolTypeIsNetwork(def->type)) {
            g_autofree char *type = qvirXMLPropString(c, "type");
            int fmt = type ? qvirStoragePoolFsFormatTypeFromString(type) : -1;

            if (fmt < 0) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: unknown pool format type %s", type ? type : "");
                return FALSE;
            }
            def->sourceFormat = fmt;
            def->sourceFormatSet = TRUE;
        } else if (xmlStrEqual(c->name, BAD_CAST "host")) {
            if (!qvirStoragePoolParseHost(c, def, error))
                return FALSE;
        } else if (xmlStrEqual(c->name, BAD_CAST "name") && !def->sourceName) {
            def->sourceName = g_strstrip(qvirXMLNodeContent(c));
        } else if (xmlStrEqual(c->name, BAD_CAST "initiator")) {
            for (xmlNodePtr i = c->children; i; i = i->next) {
                if (i->type == XML_ELEMENT_NODE && xmlStrEqual(i->name, BAD_CAST "iqn") &&
                    !def->initiatorIQN)
                    def->initiatorIQN = qvirXMLPropString(i, "name");
            }
        } else if (xmlStrEqual(c->name, BAD_CAST "auth")) {
            if (!qvirStoragePoolParseAuth(c, def, error))
                return FALSE;
        }
    }
    if (def->type == QVIR_STORAGE_POOL_RBD && !def->sourceName) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: element 'name' is mandatory for RBD pool");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirStoragePoolParseRefresh(xmlNodePtr node, qvirStoragePoolDef *def, GError **error)
{
    for (xmlNodePtr c = node->children; c; c = c->next) {
        g_autofree char *alloc = NULL;
        int t;

        if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, BAD_CAST "volume") ||
            !(alloc = qvirXMLPropString(c, "allocation")))
            continue;
        if ((t = qvirStoragePoolRefreshAllocTypeFromString(alloc)) <=
            QVIR_STORAGE_POOL_REFRESH_NONE) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported configuration: unknown storage pool volume refresh "
                        "allocation type %s",
                        alloc);
            return FALSE;
        }
        def->refreshAllocation = t;
        return TRUE;
    }
    return TRUE;
}

static gboolean
qvirStoragePoolParseRoot(xmlNodePtr root, gpointer opaque, GError **error)
{
    qvirStoragePoolDef *def = opaque;
    g_autofree char *type = qvirXMLPropString(root, "type");
    g_autofree char *uuid = NULL;
    xmlNodePtr source = NULL, target = NULL, perms = NULL;
    int t;

    if (!xmlStrEqual(root->name, BAD_CAST "pool")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "XML error: unexpected root element <%s>, expecting <pool>", root->name);
        return FALSE;
    }
    if (!type) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: storage pool missing type attribute");
        return FALSE;
    }
    if ((t = qvirStoragePoolTypeTypeFromString(type)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: unknown storage pool type %s", type);
        return FALSE;
    }
    def->type = t;
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrEqual(c->name, BAD_CAST "name") && !def->name)
            def->name = g_strstrip(qvirXMLNodeContent(c));
        else if (xmlStrEqual(c->name, BAD_CAST "uuid") && !uuid)
            uuid = g_strstrip(qvirXMLNodeContent(c));
        else if (xmlStrEqual(c->name, BAD_CAST "source"))
            source = c;
        else if (xmlStrEqual(c->name, BAD_CAST "target"))
            target = c;
        else if (xmlStrEqual(c->name, BAD_CAST "refresh") &&
                 !qvirStoragePoolParseRefresh(c, def, error))
            return FALSE;
    }
    if (!qvirStoragePoolParseSource(source, def, error))
        return FALSE;
    /* as libvirt: an rbd pool without <name> is called after its RADOS pool */
    if (!def->name && def->sourceName)
        def->name = g_strdup(def->sourceName);
    if (!def->name || !*def->name) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: missing pool source name element");
        return FALSE;
    }
    if (strchr(def->name, '/')) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "XML error: name %s cannot contain '/'",
                    def->name);
        return FALSE;
    }
    if (!uuid) {
        qvirUUIDGenerate(def->uuid);
    } else if (!qvirUUIDParse(uuid, def->uuid)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: malformed uuid element");
        return FALSE;
    }
    /* network pools have no <target>: libvirt ignores one */
    if (qvirStoragePoolTypeIsNetwork(def->type))
        target = NULL;
    for (xmlNodePtr c = target ? target->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrEqual(c->name, BAD_CAST "path") && !def->targetPath) {
            g_autofree char *path = g_strstrip(qvirXMLNodeContent(c));

            def->targetPath = qvirStoragePathClean(path);
        } else if (xmlStrEqual(c->name, BAD_CAST "permissions")) {
            perms = c;
        }
    }
    if (!qvirStoragePermsParse(perms, &def->perms, error))
        return FALSE;
    return TRUE;
}

qvirStoragePoolDef *
qvirStoragePoolDefParseString(const char *xml, GError **error)
{
    return qvirStorageXMLParse(xml, "pool", qvirStoragePoolParseRoot, g_new0(qvirStoragePoolDef, 1),
                               (GDestroyNotify)qvirStoragePoolDefFree, error);
}

gboolean
qvirStoragePoolDefValidate(const qvirStoragePoolDef *def, GError **error)
{
    if (qvirStoragePoolTypeIsNetwork(def->type)) {
        if (def->nhosts == 0) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                                "XML error: missing storage pool source host name");
            return FALSE;
        }
        if (def->type == QVIR_STORAGE_POOL_ISCSI_DIRECT && !def->initiatorIQN) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                                "unsupported configuration: missing initiator IQN");
            return FALSE;
        }
        return TRUE;
    }
    if (!def->targetPath || !*def->targetPath) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: missing storage pool target path");
        return FALSE;
    }
    if (def->targetPath[0] != '/') {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "XML error: storage pool target path '%s' must be absolute", def->targetPath);
        return FALSE;
    }
    if (def->type == QVIR_STORAGE_POOL_FS && !def->sourceDevice) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: missing storage pool source device name");
        return FALSE;
    }
    return TRUE;
}

static void
qvirStoragePoolRefreshFormat(GString *buf, const qvirStoragePoolDef *def)
{
    if (def->refreshAllocation == QVIR_STORAGE_POOL_REFRESH_NONE)
        return;
    g_string_append_printf(buf, "  <refresh>\n    <volume allocation='%s'/>\n  </refresh>\n",
                           qvirStoragePoolRefreshAllocTypeToString(def->refreshAllocation));
}

static void
qvirStoragePoolNetSourceFormat(GString *buf, const qvirStoragePoolDef *def)
{
    for (size_t i = 0; i < def->nhosts; i++) {
        g_autofree char *host = g_markup_escape_text(def->hosts[i].name, -1);

        g_string_append_printf(buf, "    <host name='%s'", host);
        if (def->hosts[i].port)
            g_string_append_printf(buf, " port='%u'", def->hosts[i].port);
        g_string_append(buf, "/>\n");
    }
    if (def->sourceDevice) {
        g_autofree char *dev = g_markup_escape_text(def->sourceDevice, -1);

        g_string_append_printf(buf, "    <device path='%s'/>\n", dev);
    }
    if (def->sourceName) {
        g_autofree char *name = g_markup_escape_text(def->sourceName, -1);

        g_string_append_printf(buf, "    <name>%s</name>\n", name);
    }
    if (def->initiatorIQN) {
        g_autofree char *iqn = g_markup_escape_text(def->initiatorIQN, -1);

        g_string_append_printf(buf, "    <initiator>\n      <iqn name='%s'/>\n    </initiator>\n",
                               iqn);
    }
    if (def->auth) {
        g_autofree char *user = g_markup_escape_text(def->auth->username, -1);

        g_string_append_printf(buf, "    <auth type='%s' username='%s'>\n",
                               qvirStorageAuthTypeTypeToString(def->auth->authType), user);
        if (def->auth->secretUUID) {
            g_string_append_printf(buf, "      <secret uuid='%s'/>\n", def->auth->secretUUID);
        } else {
            g_autofree char *usage = g_markup_escape_text(def->auth->secretUsage, -1);

            g_string_append_printf(buf, "      <secret usage='%s'/>\n", usage);
        }
        g_string_append(buf, "    </auth>\n");
    }
}

char *
qvirStoragePoolDefFormat(const qvirStoragePoolDef *def)
{
    GString *buf = g_string_new(NULL);
    char uuid[QVIR_UUID_STRING_BUFLEN];
    g_autofree char *name = g_markup_escape_text(def->name, -1);
    g_autofree char *path = NULL;

    qvirUUIDFormat(def->uuid, uuid);
    g_string_append_printf(buf, "<pool type='%s'>\n", qvirStoragePoolTypeTypeToString(def->type));
    g_string_append_printf(buf, "  <name>%s</name>\n  <uuid>%s</uuid>\n", name, uuid);
    g_string_append_printf(buf,
                           "  <capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>\n"
                           "  <allocation unit='bytes'>%" G_GUINT64_FORMAT "</allocation>\n"
                           "  <available unit='bytes'>%" G_GUINT64_FORMAT "</available>\n",
                           def->capacity, def->allocation, def->available);
    g_string_append(buf, "  <source>\n");
    if (qvirStoragePoolTypeIsNetwork(def->type)) {
        qvirStoragePoolNetSourceFormat(buf, def);
        g_string_append(buf, "  </source>\n");
        qvirStoragePoolRefreshFormat(buf, def);
        g_string_append(buf, "</pool>\n");
        return g_string_free(buf, FALSE);
    }
    if (def->type == QVIR_STORAGE_POOL_FS) {
        g_autofree char *dev = g_markup_escape_text(def->sourceDevice, -1);

        g_string_append_printf(buf, "    <device path='%s'/>\n", dev);
        g_string_append_printf(buf, "    <format type='%s'/>\n",
                               qvirStoragePoolFsFormatTypeToString(def->sourceFormat));
    }
    path = g_markup_escape_text(def->targetPath, -1);
    g_string_append(buf, "  </source>\n");
    g_string_append_printf(buf, "  <target>\n    <path>%s</path>\n", path);
    qvirStoragePermsFormat(buf, &def->perms, "    ");
    g_string_append(buf, "  </target>\n");
    qvirStoragePoolRefreshFormat(buf, def);
    g_string_append(buf, "</pool>\n");
    return g_string_free(buf, FALSE);
}
