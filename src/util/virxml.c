#include "virxml.h"

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
