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

/*
 * libvirt reports a malformed document as "(definition_of_WHAT):LINE: MESSAGE" followed
 * by the offending line and a caret under the column (VIR_ERR_XML_DETAIL, no prefix). The
 * line is only known while the parser runs, so it is caught by the SAX error callback, as
 * libvirt catches it. An error at the very end has no line: libvirt prints "(null)" there.
 */
typedef struct {
    const char *what;
    char *message;
} qvirXMLParseError;

static void
qvirXMLCatchError(void *opaque, const char *msg G_GNUC_UNUSED, ...)
{
    xmlParserCtxtPtr ctxt = opaque;
    qvirXMLParseError *perr = ctxt ? ctxt->_private : NULL;
    const xmlChar *cur, *base;
    g_autoptr(GString) context = NULL;
    g_autoptr(GString) pointer = NULL;
    gsize col;

    if (!perr || perr->message || !ctxt->input || ctxt->lastError.level != XML_ERR_FATAL ||
        !ctxt->lastError.message)
        return;
    cur = ctxt->input->cur;
    base = ctxt->input->base;
    while (cur > base && (*cur == '\n' || *cur == '\r'))
        cur--;
    while (cur > base && *cur != '\n' && *cur != '\r')
        cur--;
    if (*cur == '\n' || *cur == '\r')
        cur++;
    col = (gsize)(ctxt->input->cur - cur);
    context = g_string_new(NULL);
    while (*cur && *cur != '\n' && *cur != '\r')
        g_string_append_c(context, (char)*cur++);
    pointer = g_string_new(NULL);
    for (gsize n = 0; n < col && n < context->len; n++)
        g_string_append_c(pointer, context->str[n] == '\t' ? '\t' : '-');
    g_string_append_c(pointer, '^');
    perr->message = g_strdup_printf("(definition_of_%s):%d: %s%s\n%s", perr->what,
                                    ctxt->lastError.line, ctxt->lastError.message,
                                    context->len ? context->str : "(null)", pointer->str);
}

xmlDocPtr
qvirXMLParseString(const char *xml, const char *what, gsize maxSize, qvirXMLWording wording,
                   GError **error)
{
    gboolean detail = wording == QVIR_XML_WORDING_DETAIL;
    gboolean definition = wording == QVIR_XML_WORDING_DEFINITION || detail;
    qvirXMLParseError perr = {what, NULL};
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    size_t len = strlen(xml);

    if (len > maxSize) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "%s%s XML document is too large (%zu bytes, limit %zu)",
                    detail ? "XML error: " : "", what, len, (size_t)maxSize);
        return NULL;
    }
    if (!(ctxt = xmlNewParserCtxt())) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_NO_MEMORY, "cannot create XML parser");
        return NULL;
    }
    /* the error callback sees the offending line; XML_PARSE_NOERROR would silence it */
    if (detail) {
        ctxt->_private = &perr;
        ctxt->sax->error = qvirXMLCatchError;
    }
    doc =
        xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL,
                          XML_PARSE_NONET | XML_PARSE_NOWARNING | (detail ? 0 : XML_PARSE_NOERROR));
    if (!doc || !ctxt->wellFormed) {
        const xmlError *err = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = g_strdup(err && err->message ? err->message : "malformed XML");

        g_strchomp(msg);
        if (detail && perr.message)
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL, perr.message);
        else if (detail)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL, "(definition_of_%s):%d: %s", what,
                        err ? err->line : 0, msg);
        /* libvirt's storage driver: "(storage_source_specification):LINE: MESSAGE" */
        else if (definition)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL, "XML error: (%s_definition):%d: %s",
                        what, err ? err->line : 0, msg);
        else
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "XML error in %s document: line %d: %s", what, err ? err->line : 0, msg);
        g_free(perr.message);
        if (doc)
            xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    g_free(perr.message);
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
