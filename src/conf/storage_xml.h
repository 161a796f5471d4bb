/*
 * storage_xml.h: what the pool and volume XML parsers share: reading a document safely
 * (no network, no DTD, a size limit) with libvirt's wording for a malformed one.
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

/* Pool and volume documents are small; anything past this is refused unread. */
#define QVIR_STORAGE_XML_MAX_SIZE (1024 * 1024)

/* XML -> document with a root element; WHAT names it in errors ("pool", "volume"). */
xmlDocPtr qvirStorageXMLParse(const char *xml, const char *what, GError **error);
