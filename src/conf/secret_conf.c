/*
 * secret_conf.c: parsing, validating and formatting secret XML as libvirt 9.0 does.
 *
 * libvirt reads the document with XPath string() lookups, so the first element of a name
 * wins, text is taken as written (no trimming) and an empty element counts as absent.
 * We walk the children once and keep those rules.
 */
#include "conf/secret_conf.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <stdarg.h>

#include "conf/domain_conf.h"
#include "util/virerror.h"
#include "util/virxml.h"

QVIR_ENUM_IMPL(qvirSecretUsage, QVIR_SECRET_USAGE_LAST, "none", "volume", "ceph", "iscsi", "tls",
               "vtpm");

void
qvirSecretDefFree(qvirSecretDef *def)
{
    if (!def)
        return;
    g_free(def->description);
    g_free(def->usageID);
    g_free(def);
}

const char *
qvirSecretUsageElement(qvirSecretUsageType type)
{
    switch (type) {
    case QVIR_SECRET_USAGE_VOLUME:
        return "volume";
    case QVIR_SECRET_USAGE_ISCSI:
        return "target";
    case QVIR_SECRET_USAGE_CEPH:
    case QVIR_SECRET_USAGE_TLS:
    case QVIR_SECRET_USAGE_VTPM:
        return "name";
    case QVIR_SECRET_USAGE_NONE:
    case QVIR_SECRET_USAGE_LAST:
        break;
    }
    return NULL;
}

/* The text of NODE's first child element called NAME; NULL when absent or empty. */
static char *
secretChildText(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name)) {
            g_autofree char *text = qvirXMLNodeContent(c);

            return *text ? g_steal_pointer(&text) : NULL;
        }
    }
    return NULL;
}

static xmlNodePtr
secretChild(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name))
            return c;
    return NULL;
}

/* libvirt's yes/no attributes: exactly "yes" or "no"; absent is no. */
static gboolean
secretParseYesNo(xmlNodePtr root, const char *attr, gboolean *out, GError **error)
{
    g_autofree char *val = qvirXMLPropString(root, attr);

    *out = FALSE;
    if (!val || !*val)
        return TRUE;
    if (g_str_equal(val, "yes")) {
        *out = TRUE;
    } else if (!g_str_equal(val, "no")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "XML error: invalid value of '%s'",
                    attr);
        return FALSE;
    }
    return TRUE;
}

static gboolean
secretParseUsage(xmlNodePtr usage, qvirSecretDef *def, GError **error)
{
    g_autofree char *type = qvirXMLPropString(usage, "type");
    const char *elem;
    int t;

    if (!type || !*type) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "XML error: unknown secret usage type");
        return FALSE;
    }
    if ((t = qvirSecretUsageTypeFromString(type)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: unknown secret usage type %s", type);
        return FALSE;
    }
    def->usageType = t;
    if ((elem = qvirSecretUsageElement(def->usageType)))
        def->usageID = secretChildText(usage, elem);
    return TRUE;
}

static gboolean
secretParseRoot(xmlNodePtr root, qvirSecretDef *def, GError **error)
{
    g_autofree char *uuid = NULL;
    xmlNodePtr usage;

    if (!secretParseYesNo(root, "ephemeral", &def->isEphemeral, error) ||
        !secretParseYesNo(root, "private", &def->isPrivate, error))
        return FALSE;

    if (!(uuid = secretChildText(root, "uuid"))) {
        qvirUUIDGenerate(def->uuid);
    } else if (!qvirUUIDParse(uuid, def->uuid)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: malformed uuid element");
        return FALSE;
    }
    def->description = secretChildText(root, "description");
    if ((usage = secretChild(root, "usage")) && !secretParseUsage(usage, def, error))
        return FALSE;
    return TRUE;
}

/* XML -> document whose root is <secret>, with libvirt's errors for a malformed one. */
static xmlDocPtr
secretReadDoc(const char *xml, GError **error)
{
    xmlDocPtr doc;
    xmlNodePtr root;

    if (!xml) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: xml must not be NULL");
        return NULL;
    }
    if (!(doc = qvirXMLParseString(xml, "secret", QVIR_SECRET_XML_MAX_SIZE, QVIR_XML_WORDING_DETAIL,
                                   error)))
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!xmlStrEqual(root->name, BAD_CAST "secret")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "XML error: expecting root element of 'secret', not '%s'", root->name);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

qvirSecretDef *
qvirSecretDefParseString(const char *xml, GError **error)
{
    g_autoptr(qvirSecretDef) def = NULL;
    xmlDocPtr doc = secretReadDoc(xml, error);
    gboolean ok;

    if (!doc)
        return NULL;
    def = g_new0(qvirSecretDef, 1);
    ok = secretParseRoot(xmlDocGetRootElement(doc), def, error);
    xmlFreeDoc(doc);
    return ok ? g_steal_pointer(&def) : NULL;
}

static void G_GNUC_PRINTF(2, 3) secretRNGErrorCatch(void *opaque, const char *msg, ...)
{
    va_list args;

    va_start(args, msg);
    g_string_append_vprintf(opaque, msg, args);
    va_end(args);
}

static void G_GNUC_PRINTF(2, 3)
    secretRNGErrorIgnore(void *opaque G_GNUC_UNUSED, const char *msg G_GNUC_UNUSED, ...)
{
}

gboolean
qvirSecretXMLValidateSchema(const char *xml, const char *schema, GError **error)
{
    g_autoptr(GString) errors = g_string_new(NULL);
    xmlRelaxNGParserCtxtPtr parser = NULL;
    xmlRelaxNGPtr rng = NULL;
    xmlRelaxNGValidCtxtPtr valid = NULL;
    xmlDocPtr doc = secretReadDoc(xml, error);
    gboolean ok = FALSE;

    if (!doc)
        return FALSE;
    if (!(parser = xmlRelaxNGNewParserCtxt(schema))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: Unable to create RNG parser for %s", schema);
        goto out;
    }
    xmlRelaxNGSetParserErrors(parser, secretRNGErrorCatch, secretRNGErrorIgnore, errors);
    if (!(rng = xmlRelaxNGParse(parser))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: Unable to parse RNG %s: %s", schema, errors->str);
        goto out;
    }
    if (!(valid = xmlRelaxNGNewValidCtxt(rng))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: Unable to create RNG validation context %s", schema);
        goto out;
    }
    xmlRelaxNGSetValidErrors(valid, secretRNGErrorCatch, secretRNGErrorIgnore, errors);
    if (xmlRelaxNGValidateDoc(valid, doc) != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_INVALID_SCHEMA,
                    "XML document failed to validate against schema: Unable to validate doc "
                    "against %s\n%s",
                    schema, errors->str);
        goto out;
    }
    ok = TRUE;

out:
    if (valid)
        xmlRelaxNGFreeValidCtxt(valid);
    if (rng)
        xmlRelaxNGFree(rng);
    if (parser)
        xmlRelaxNGFreeParserCtxt(parser);
    xmlFreeDoc(doc);
    return ok;
}

/* libvirt's virBufferEscapeString: the five XML specials as entities, other control
 * characters (but tab, newline, carriage return) dropped. */
static char *
secretEscape(const char *str)
{
    GString *out = g_string_sized_new(strlen(str));

    for (const char *p = str; *p; p++) {
        switch (*p) {
        case '<':
            g_string_append(out, "&lt;");
            break;
        case '>':
            g_string_append(out, "&gt;");
            break;
        case '&':
            g_string_append(out, "&amp;");
            break;
        case '"':
            g_string_append(out, "&quot;");
            break;
        case '\'':
            g_string_append(out, "&apos;");
            break;
        default:
            if ((guchar)*p >= 0x20 || *p == '\t' || *p == '\n' || *p == '\r')
                g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}

gboolean
qvirSecretDefValidate(const qvirSecretDef *def, GError **error)
{
    static const char *const missing[QVIR_SECRET_USAGE_LAST] = {
        [QVIR_SECRET_USAGE_VOLUME] = "volume usage specified, but volume path is missing",
        [QVIR_SECRET_USAGE_CEPH] = "Ceph usage specified, but name is missing",
        [QVIR_SECRET_USAGE_ISCSI] = "iSCSI usage specified, but target is missing",
        [QVIR_SECRET_USAGE_TLS] = "TLS usage specified, but name is missing",
        [QVIR_SECRET_USAGE_VTPM] = "vTPM usage specified, but name is missing",
    };

    if (def->usageType != QVIR_SECRET_USAGE_NONE && !def->usageID) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "internal error: %s",
                    missing[def->usageType]);
        return FALSE;
    }
    return TRUE;
}

char *
qvirSecretDefFormat(const qvirSecretDef *def)
{
    GString *buf = g_string_new(NULL);
    char uuid[QVIR_UUID_STRING_BUFLEN];

    qvirUUIDFormat(def->uuid, uuid);
    g_string_append_printf(buf, "<secret ephemeral='%s' private='%s'>\n",
                           def->isEphemeral ? "yes" : "no", def->isPrivate ? "yes" : "no");
    g_string_append_printf(buf, "  <uuid>%s</uuid>\n", uuid);
    if (def->description) {
        g_autofree char *desc = secretEscape(def->description);

        g_string_append_printf(buf, "  <description>%s</description>\n", desc);
    }
    if (def->usageType != QVIR_SECRET_USAGE_NONE) {
        const char *elem = qvirSecretUsageElement(def->usageType);

        g_string_append_printf(buf, "  <usage type='%s'>\n",
                               qvirSecretUsageTypeToString(def->usageType));
        if (def->usageID) {
            g_autofree char *id = secretEscape(def->usageID);

            g_string_append_printf(buf, "    <%s>%s</%s>\n", elem, id, elem);
        }
        g_string_append(buf, "  </usage>\n");
    }
    g_string_append(buf, "</secret>\n");
    return g_string_free(buf, FALSE);
}
