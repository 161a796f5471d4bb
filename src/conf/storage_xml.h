/*
 * storage_xml.h: what the pool and volume XML parsers share: reading a document safely
 * (no network, no DTD, a size limit) with libvirt's wording for a malformed one.
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

/* Pool and volume documents are small; anything past this is refused unread. */
#define QVIR_STORAGE_XML_MAX_SIZE (1024 * 1024)

/* Parses a document's root element into DEF. */
typedef gboolean (*qvirStorageXMLRootParser)(xmlNodePtr root, gpointer def, GError **error);

/* XML -> DEF (taken, empty), filled by PARSE from the root element of the document read
 * safely; NULL, DEF freed with DEFFREE, when either fails. WHAT names the document in
 * errors ("pool", "volume"). */
gpointer qvirStorageXMLParse(const char *xml, const char *what, qvirStorageXMLRootParser parse,
                             gpointer def, GDestroyNotify defFree, GError **error);
