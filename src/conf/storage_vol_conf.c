/*
 * storage_vol_conf.c: the volume XML of file volumes (storagevol.rng).
 */
#include "conf/storage_vol_conf.h"

#include <string.h>
#include <libxml/tree.h>

#include "conf/storage_xml.h"
#include "util/virerror.h"
#include "util/virxml.h"

void
qvirStorageVolDefFree(qvirStorageVolDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->key);
    g_free(def->targetPath);
    qvirStoragePermsClear(&def->perms);
    g_free(def->compat);
    g_free(def->backingPath);
    qvirStoragePermsClear(&def->backingPerms);
    g_free(def);
}

static xmlNodePtr
qvirStorageVolChild(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name))
            return c;
    }
    return NULL;
}

/* <format type='X'/> under NODE into FMT (left alone when absent). */
static gboolean
qvirStorageVolParseFormat(xmlNodePtr node, qvirStorageFileFormat *fmt, GError **error)
{
    xmlNodePtr f = qvirStorageVolChild(node, "format");
    g_autofree char *type = f ? qvirXMLPropString(f, "type") : NULL;
    int v;

    if (!type)
        return TRUE;
    if ((v = qvirStorageFileFormatTypeFromString(type)) <= QVIR_STORAGE_FILE_NONE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: unknown volume format type %s", type);
        return FALSE;
    }
    *fmt = v;
    return TRUE;
}

static gboolean
qvirStorageVolParseSize(xmlNodePtr node, const char *what, guint64 *val, gboolean *set,
                        GError **error)
{
    g_autofree char *unit = NULL;
    g_autofree char *text = NULL;

    if (!node)
        return TRUE;
    unit = qvirXMLPropString(node, "unit");
    text = qvirXMLNodeContent(node);
    if (!qvirStorageScaleInteger(text, unit, val, error, what))
        return FALSE;
    *set = TRUE;
    return TRUE;
}

static gboolean
qvirStorageVolParseTarget(xmlNodePtr target, qvirStorageVolDef *def, GError **error)
{
    xmlNodePtr n;

    if (!target)
        return qvirStoragePermsParse(NULL, &def->perms, error);
    if ((n = qvirStorageVolChild(target, "path"))) {
        g_autofree char *path = g_strstrip(qvirXMLNodeContent(n));

        def->targetPath = qvirStoragePathClean(path);
    }
    if (!qvirStorageVolParseFormat(target, &def->format, error) ||
        !qvirStoragePermsParse(qvirStorageVolChild(target, "permissions"), &def->perms, error))
        return FALSE;
    if ((n = qvirStorageVolChild(target, "compat"))) {
        def->compat = g_strstrip(qvirXMLNodeContent(n));
        if (strspn(def->compat, "0123456789.") != strlen(def->compat) || !*def->compat) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                                "XML error: forbidden characters in 'compat' attribute");
            return FALSE;
        }
    }
    if ((n = qvirStorageVolChild(target, "clusterSize"))) {
        gboolean set = FALSE;

        if (!qvirStorageVolParseSize(n, "clusterSize", &def->clusterSize, &set, error))
            return FALSE;
    }
    if ((n = qvirStorageVolChild(target, "nocow")))
        def->nocow = TRUE;
    if ((n = qvirStorageVolChild(target, "features"))) {
        for (xmlNodePtr c = n->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (!xmlStrEqual(c->name, BAD_CAST "lazy_refcounts")) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: unsupported feature %s", c->name);
                return FALSE;
            }
            def->lazyRefcounts = TRUE;
        }
        def->featuresShown = TRUE;
        /* as libvirt: features imply the qcow2 version that has them */
        if (!def->compat)
            def->compat = g_strdup("1.1");
    }
    return TRUE;
}

static gboolean
qvirStorageVolParseRoot(xmlNodePtr root, gpointer opaque, GError **error)
{
    qvirStorageVolDef *def = opaque;
    g_autofree char *type = qvirXMLPropString(root, "type");
    xmlNodePtr n;

    /* no permissions until the XML or the file says */
    qvirStoragePermsParse(NULL, &def->perms, NULL);
    qvirStoragePermsParse(NULL, &def->backingPerms, NULL);
    if (!xmlStrEqual(root->name, BAD_CAST "volume")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "XML error: unexpected root element <%s>, expecting <volume>", root->name);
        return FALSE;
    }
    if (type && !g_str_equal(type, "file")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: unknown volume type '%s'", type);
        return FALSE;
    }
    if (!(n = qvirStorageVolChild(root, "name"))) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: missing volume name element");
        return FALSE;
    }
    def->name = g_strstrip(qvirXMLNodeContent(n));
    if ((n = qvirStorageVolChild(root, "key")))
        def->key = g_strstrip(qvirXMLNodeContent(n));
    if (!qvirStorageVolParseSize(qvirStorageVolChild(root, "capacity"), "capacity", &def->capacity,
                                 &def->capacitySet, error) ||
        !qvirStorageVolParseSize(qvirStorageVolChild(root, "allocation"), "allocation",
                                 &def->allocation, &def->allocationSet, error))
        return FALSE;
    if (!qvirStorageVolParseTarget(qvirStorageVolChild(root, "target"), def, error))
        return FALSE;
    if ((n = qvirStorageVolChild(root, "backingStore"))) {
        xmlNodePtr p = qvirStorageVolChild(n, "path");

        if (p) {
            g_autofree char *path = g_strstrip(qvirXMLNodeContent(p));

            if (*path)
                def->backingPath = g_steal_pointer(&path);
        }
        if (!qvirStorageVolParseFormat(n, &def->backingFormat, error))
            return FALSE;
    }
    return TRUE;
}

qvirStorageVolDef *
qvirStorageVolDefParseString(const char *xml, GError **error)
{
    return qvirStorageXMLParse(xml, "volume", qvirStorageVolParseRoot, g_new0(qvirStorageVolDef, 1),
                               (GDestroyNotify)qvirStorageVolDefFree, error);
}

gboolean
qvirStorageVolDefValidate(const qvirStorageVolDef *def, gboolean clone, GError **error)
{
    gboolean qcow2 = def->format == QVIR_STORAGE_FILE_QCOW2;

    if (!def->name || !*def->name) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: missing volume name element");
        return FALSE;
    }
    if (strchr(def->name, '/') || g_str_equal(def->name, ".") || g_str_equal(def->name, "..")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: volume name '%s' cannot contain '/'", def->name);
        return FALSE;
    }
    if (!def->capacitySet && !clone && !def->backingPath) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: missing capacity element");
        return FALSE;
    }
    if (def->format != QVIR_STORAGE_FILE_NONE && def->format != QVIR_STORAGE_FILE_RAW && !qcow2 &&
        def->format != QVIR_STORAGE_FILE_QED && def->format != QVIR_STORAGE_FILE_VMDK &&
        def->format != QVIR_STORAGE_FILE_VPC && def->format != QVIR_STORAGE_FILE_VDI &&
        def->format != QVIR_STORAGE_FILE_VHDX && def->format != QVIR_STORAGE_FILE_QCOW) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "Operation not supported: format '%s' cannot be created",
                    qvirStorageFileFormatTypeToString(def->format));
        return FALSE;
    }
    if (!qcow2 && (def->lazyRefcounts || def->clusterSize || def->compat)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: format features are only available "
                            "with qcow2");
        return FALSE;
    }
    if (def->compat && !g_str_equal(def->compat, "0.10") && !g_str_equal(def->compat, "1.1")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unknown qcow2 compat version '%s'", def->compat);
        return FALSE;
    }
    if (def->lazyRefcounts && def->compat && g_str_equal(def->compat, "0.10")) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: lazy_refcounts not supported with compat "
                            "level 0.10");
        return FALSE;
    }
    if (def->backingPath && def->format == QVIR_STORAGE_FILE_RAW) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: backing storage not supported for raw "
                            "volumes");
        return FALSE;
    }
    return TRUE;
}

static void
qvirStorageVolFormatTimestamps(GString *buf, gboolean set, const qvirStorageTimestamp *a,
                               const qvirStorageTimestamp *m, const qvirStorageTimestamp *c)
{
    if (!set)
        return;
    g_string_append(buf, "    <timestamps>\n");
    g_string_append_printf(buf, "      <atime>%" G_GINT64_FORMAT ".%09ld</atime>\n", a->sec,
                           a->nsec);
    g_string_append_printf(buf, "      <mtime>%" G_GINT64_FORMAT ".%09ld</mtime>\n", m->sec,
                           m->nsec);
    g_string_append_printf(buf, "      <ctime>%" G_GINT64_FORMAT ".%09ld</ctime>\n", c->sec,
                           c->nsec);
    /* libvirt prints a birth time it never fills in */
    g_string_append(buf, "      <btime>0</btime>\n    </timestamps>\n");
}

char *
qvirStorageVolDefFormat(const qvirStorageVolDef *def)
{
    GString *buf = g_string_new(def->type == QVIR_STORAGE_VOL_NETWORK ? "<volume type='network'>\n"
                                                                      : "<volume type='file'>\n");
    g_autofree char *name = g_markup_escape_text(def->name, -1);
    g_autofree char *key = g_markup_escape_text(def->key ? def->key : "", -1);
    g_autofree char *path = g_markup_escape_text(def->targetPath ? def->targetPath : "", -1);
    qvirStorageFileFormat fmt = def->format ? def->format : QVIR_STORAGE_FILE_RAW;

    g_string_append_printf(buf, "  <name>%s</name>\n  <key>%s</key>\n", name, key);
    g_string_append_printf(buf, "  <capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>\n",
                           def->capacity);
    g_string_append_printf(buf, "  <allocation unit='bytes'>%" G_GUINT64_FORMAT "</allocation>\n",
                           def->allocation);
    if (def->physical)
        g_string_append_printf(buf, "  <physical unit='bytes'>%" G_GUINT64_FORMAT "</physical>\n",
                               def->physical);
    g_string_append_printf(buf, "  <target>\n    <path>%s</path>\n", path);
    if (!def->formatHidden)
        g_string_append_printf(buf, "    <format type='%s'/>\n",
                               qvirStorageFileFormatTypeToString(fmt));
    qvirStoragePermsFormat(buf, &def->perms, "    ");
    qvirStorageVolFormatTimestamps(buf, def->timestampsSet, &def->atime, &def->mtime, &def->ctime);
    if (def->compat)
        g_string_append_printf(buf, "    <compat>%s</compat>\n", def->compat);
    if (def->clusterSize)
        g_string_append_printf(buf,
                               "    <clusterSize unit='B'>%" G_GUINT64_FORMAT "</clusterSize>\n",
                               def->clusterSize);
    if (def->nocow)
        g_string_append(buf, "    <nocow/>\n");
    if (def->lazyRefcounts)
        g_string_append(buf, "    <features>\n      <lazy_refcounts/>\n    </features>\n");
    else if (def->featuresShown)
        g_string_append(buf, "    <features/>\n");
    g_string_append(buf, "  </target>\n");
    if (def->backingPath) {
        g_autofree char *bpath = g_markup_escape_text(def->backingPath, -1);

        g_string_append_printf(buf, "  <backingStore>\n    <path>%s</path>\n", bpath);
        if (def->backingFormat)
            g_string_append_printf(buf, "    <format type='%s'/>\n",
                                   qvirStorageFileFormatTypeToString(def->backingFormat));
        qvirStoragePermsFormat(buf, &def->backingPerms, "    ");
        qvirStorageVolFormatTimestamps(buf, def->backingTimestampsSet, &def->batime, &def->bmtime,
                                       &def->bctime);
        g_string_append(buf, "  </backingStore>\n");
    }
    g_string_append(buf, "</volume>\n");
    return g_string_free(buf, FALSE);
}
