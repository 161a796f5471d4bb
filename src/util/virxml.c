#include "virxml.h"

#include <string.h>
#include <libxml/parser.h>

#include "util/virerror.h"

char *
qvirXMLPropString(xmlNodePtr node, const char *name)
{
    xmlChar *val = xmlGetNoNsProp(node, (const xmlChar *)name);
    char *ret;

    if (!val)
        return NULL;
    ret = g_strdup((const char *)val);
    xmlFree(val);
    return ret;
}

char *
qvirXMLNodeContent(xmlNodePtr node)
{
    xmlChar *val = xmlNodeGetContent(node);
    char *ret = g_strdup(val ? (const char *)val : "");

    xmlFree(val);
    return ret;
}

xmlDocPtr
qvirXMLParseString(const char *xml, const char *what, gsize maxSize, qvirXMLWording wording,
                   GError **error)
{
    gboolean definition = wording == QVIR_XML_WORDING_DEFINITION;
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    size_t len = strlen(xml);

    if (len > maxSize) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "%s XML document is too large (%zu bytes, limit %zu)", what, len,
                    (size_t)maxSize);
        return NULL;
    }
    if (!(ctxt = xmlNewParserCtxt())) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_NO_MEMORY, "cannot create XML parser");
        return NULL;
    }
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *err = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = g_strdup(err && err->message ? err->message : "malformed XML");

        g_strchomp(msg);
        /* libvirt's storage driver: "(storage_source_specification):LINE: MESSAGE" */
        if (definition)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL, "XML error: (%s_definition):%d: %s",
                        what, err ? err->line : 0, msg);
        else
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "XML error in %s document: line %d: %s", what, err ? err->line : 0, msg);
        if (doc)
            xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    xmlFreeParserCtxt(ctxt);
    if (definition && (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "XML error: invalid %s document", what);
    } else if (doc->intSubset || doc->extSubset) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "%s XML documents with a DOCTYPE/DTD are not accepted", what);
    } else if (!xmlDocGetRootElement(doc)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "%s XML document is empty", what);
    } else {
        return doc;
    }
    xmlFreeDoc(doc);
    return NULL;
}
