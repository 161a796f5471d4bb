/*
 * virxml.h: reading XML text safely, and small readers over libxml2 nodes, shared by every
 * XML document qvirt parses (domain, status, snapshot, pool, volume), so each is read with
 * the same protections and returns GLib-owned strings the same way.
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

/* The attribute NAME without a namespace, as a GLib string; NULL when absent. */
char *qvirXMLPropString(xmlNodePtr node, const char *name);

/* The node's text content as a GLib string; "" when it has none. */
char *qvirXMLNodeContent(xmlNodePtr node);

/* How qvirXMLParseString words a refusal: the domain parser's words, or those of
 * libvirt's storage or secret driver. */
typedef enum {
    /* QVIR_ERR_XML_ERROR: "XML error in WHAT document: line N: MESSAGE"; a DTD and an
     * empty document each in words of their own */
    QVIR_XML_WORDING_DOCUMENT,
    /* malformed: QVIR_ERR_XML_DETAIL "XML error: (WHAT_definition):N: MESSAGE"; a DTD or
     * no root element: QVIR_ERR_XML_ERROR "XML error: invalid WHAT document" */
    QVIR_XML_WORDING_DEFINITION,
    /* libvirt's own reader (virXMLParse, as the secret driver words it): malformed:
     * QVIR_ERR_XML_DETAIL "(definition_of_WHAT):N: MESSAGE" followed by the offending line
     * and a caret under the column; a DTD or no root element as DEFINITION; too large with
     * "XML error: " before it */
    QVIR_XML_WORDING_DETAIL,
} qvirXMLWording;

/*
 * XML text -> a document with a root element, read with the safe options: no network, no
 * entity substitution, no DTD loading. A document carrying a DTD (internal or external
 * subset) is refused outright, which also rules out entity declarations ("billion
 * laughs"), and so is text longer than MAXSIZE, unread. WHAT names the document in errors
 * ("domain", "pool"), worded as WORDING says.
 */
xmlDocPtr qvirXMLParseString(const char *xml, const char *what, gsize maxSize,
                             qvirXMLWording wording, GError **error);
