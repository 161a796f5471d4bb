/*
 * storage_xml.c: reading pool and volume documents.
 */
#include "conf/storage_xml.h"

#include "util/virxml.h"

gpointer
qvirStorageXMLParse(const char *xml, const char *what, qvirStorageXMLRootParser parse, gpointer def,
                    GDestroyNotify defFree, GError **error)
{
    xmlDocPtr doc = qvirXMLParseString(xml, what, QVIR_STORAGE_XML_MAX_SIZE,
                                       QVIR_XML_WORDING_DEFINITION, error);
    gboolean ok = doc && parse(xmlDocGetRootElement(doc), def, error);

    if (doc)
        xmlFreeDoc(doc);
    if (!ok) {
        defFree(def);
        return NULL;
    }
    return def;
}
