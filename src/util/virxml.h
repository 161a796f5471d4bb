/*
 * virxml.h: small readers over libxml2 nodes, shared by every XML document qvirt parses
 * (domain, status, snapshot), so each returns GLib-owned strings the same way.
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

/* The attribute NAME without a namespace, as a GLib string; NULL when absent. */
char *qvirXMLPropString(xmlNodePtr node, const char *name);

/* The node's text content as a GLib string; "" when it has none. */
char *qvirXMLNodeContent(xmlNodePtr node);
