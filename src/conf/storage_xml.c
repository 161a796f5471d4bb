/*
 * storage_xml.c: reading pool and volume documents.
 */
#include "conf/storage_xml.h"

#include "util/virxml.h"

xmlDocPtr
qvirStorageXMLParse(const char *xml, const char *what, GError **error)
{
    return qvirXMLParseString(xml, what, QVIR_STORAGE_XML_MAX_SIZE, QVIR_XML_WORDING_DEFINITION,
                              error);
}
