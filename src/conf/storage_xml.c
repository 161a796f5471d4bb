/*
 * storage_xml.c: reading pool and volume documents.
 */
#include "conf/storage_xml.h"

#include <string.h>
#include <libxml/parser.h>

#include "util/virerror.h"

xmlDocPtr
qvirStorageXMLParse(const char *xml, const char *what, GError **error)
{
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    size_t len = strlen(xml);

    if (len > QVIR_STORAGE_XML_MAX_SIZE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "%s XML document is too large (%zu bytes, limit %d)", what, len,
                    QVIR_STORAGE_XML_MAX_SIZE);
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
        /* libvirt: "(storage_source_specification):LINE: MESSAGE" */
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL, "XML error: (%s_definition):%d: %s",
                    what, err ? err->line : 0, msg);
        if (doc)
            xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    xmlFreeParserCtxt(ctxt);
    if (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "XML error: invalid %s document", what);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}
