/*
 * qemustatustestutils.h: QEMU's own view of a running domain's block graph, asked on its
 * monitor socket while the daemon is stopped (the monitor takes one client), compared with
 * the chains the daemon's status file records. Needs daemontestutils.h's daemonEnv.
 *
 * Static functions: each test program includes this once.
 */
#pragma once

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <json-glib/json-glib.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "daemontestutils.h"

static JsonNode *
testQmp(FILE *f, const char *cmd)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    char line[1 << 16];

    fprintf(f, "%s\n", cmd);
    fflush(f);
    while (fgets(line, sizeof(line), f)) {
        JsonObject *o;

        g_assert_true(json_parser_load_from_data(parser, line, -1, NULL));
        o = json_node_get_object(json_parser_get_root(parser));
        if (json_object_has_member(o, "event"))
            continue;
        g_assert_true(json_object_has_member(o, "return"));
        return json_node_copy(json_object_get_member(o, "return"));
    }
    g_error("QMP connection closed");
    return NULL;
}

/* The file of every node QEMU has, keyed by node name. */
static GHashTable *
testQemuNodes(const char *monitor)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    GHashTable *nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(JsonNode) caps = NULL;
    g_autoptr(JsonNode) ret = NULL;
    char greeting[4096];
    JsonArray *arr;
    FILE *f;
    int fd;

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(addr.sun_path, monitor, sizeof(addr.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    f = fdopen(fd, "r+");
    g_assert_nonnull(fgets(greeting, sizeof(greeting), f));
    caps = testQmp(f, "{\"execute\":\"qmp_capabilities\"}");
    ret = testQmp(f, "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}");
    arr = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *n = json_array_get_object_element(arr, i);

        g_hash_table_insert(nodes, g_strdup(json_object_get_string_member(n, "node-name")),
                            g_strdup(json_object_get_string_member(n, "file")));
    }
    fclose(f);
    return nodes;
}

/* Every storage node of the chains in domain NAME's status file is open in QEMU on that
 * file, and QEMU has no node the status file does not name. */
static void
testAssertStatusMatchesQemu(const char *name)
{
    g_autofree char *base = g_strdup_printf("%s.xml", name);
    g_autofree char *statusPath = g_build_filename(daemonEnv.root, "run", "qemu", base, NULL);
    g_autofree char *status = NULL;
    g_autoptr(GHashTable) nodes = NULL;
    g_autofree char *monitor = NULL;
    const char *p;
    guint named = 0;

    g_assert_true(g_file_get_contents(statusPath, &status, NULL, NULL));
    p = strstr(status, "monitor path='");
    if (!p)
        p = strstr(status, "monitor='");
    g_assert_nonnull(p);
    p = strchr(p, '\'') + 1;
    monitor = g_strndup(p, strchr(p, '\'') - p);
    nodes = testQemuNodes(monitor);

    /* The status XML names layers by index: libvirt-N-storage holds the file of index N
     * (on <source> for a disk's top, on the enclosing <backingStore> below it). */
    {
        xmlDocPtr doc = xmlReadMemory(status, strlen(status), "status.xml", NULL, 0);
        xmlXPathContextPtr ctxt = xmlXPathNewContext(doc);
        xmlXPathObjectPtr obj =
            xmlXPathEvalExpression((const xmlChar *)"//devices/disk//source[@file]", ctxt);

        for (int i = 0; obj->nodesetval && i < obj->nodesetval->nodeNr; i++) {
            xmlNodePtr src = obj->nodesetval->nodeTab[i];
            xmlChar *file = xmlGetProp(src, (const xmlChar *)"file");
            xmlChar *idx = xmlGetProp(src, (const xmlChar *)"index");
            g_autofree char *node = NULL;

            if (!idx)
                idx = xmlGetProp(src->parent, (const xmlChar *)"index");
            g_assert_nonnull(idx);
            node = g_strdup_printf("libvirt-%s-storage", (const char *)idx);
            g_assert_cmpstr(g_hash_table_lookup(nodes, node), ==, (const char *)file);
            named++;
            xmlFree(file);
            xmlFree(idx);
        }
        xmlXPathFreeObject(obj);
        xmlXPathFreeContext(ctxt);
        xmlFreeDoc(doc);
    }
    /* a format and a storage node per layer, nothing else */
    g_assert_cmpuint(g_hash_table_size(nodes), ==, named * 2);
}
