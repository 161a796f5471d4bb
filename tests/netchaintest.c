/*
 * netchaintest.c: backing chains that cross the network, end to end: a local qcow2
 * overlay whose header names an NBD export on a real qemu-nbd (tests/netstoragetestutils.h,
 * ports from QVIRT_NETTEST_PORT_BASE, 22000 here), started by qvirtd and driven by the
 * real virsh. The live XML must be libvirt 9.0's, recorded from its own `virsh start` +
 * `dumpxml` on a qemu:///session daemon (the expected <disk> below), the chain must be
 * what QEMU opened (query-named-block-nodes), survive a daemon restart through the status
 * XML without being probed again, and never reach the inactive XML.
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "daemontestutils.h"
#include "netstoragetestutils.h"
#include "testutils.h"
#include "virshtestutils.h"
#include "storage/storage_backingstore.h"
#include "storage/storage_chain.h"
#include "storage/storage_netprobe.h"

#define DOM_NAME "netchain"
#define DOM_UUID "4d6c1a52-8d0b-4b5e-9a51-0f1e2d3c4b5a"

static GError *nbdStartError;

static gboolean
needNbd(void)
{
    if (netStorage.started & NET_STORAGE_NBD)
        return TRUE;
    if (g_error_matches(nbdStartError, NET_STORAGE_ERROR, NET_STORAGE_ERROR_MISSING)) {
        g_test_skip(nbdStartError->message);
        return FALSE;
    }
    g_error("NBD servers did not start: %s",
            nbdStartError ? nbdStartError->message : "unknown reason");
    return FALSE;
}

/* The <disk>...</disk> element of a dumpxml. */
static char *
diskElement(const char *xml)
{
    const char *a = strstr(xml, "    <disk ");
    const char *b = a ? strstr(a, "</disk>\n") : NULL;

    g_assert_nonnull(b);
    return g_strndup(a, b + strlen("</disk>\n") - a);
}

static char *
domainXML(const char *top)
{
    return g_strdup_printf("<domain type='qemu'>\n"
                           "  <name>" DOM_NAME "</name>\n"
                           "  <uuid>" DOM_UUID "</uuid>\n"
                           "  <memory unit='MiB'>128</memory>\n"
                           "  <vcpu>1</vcpu>\n"
                           "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                           "  <devices>\n"
                           "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                           "    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='qcow2'/>\n"
                           "      <source file='%s'/>\n"
                           "      <target dev='vda' bus='virtio'/>\n"
                           "    </disk>\n"
                           "  </devices>\n"
                           "</domain>\n",
                           top);
}

/* libvirt 9.0's live <disk> for a qcow2 overlay over a raw NBD export (HOSTXML: the
 * <host> line), recorded from libvirt's session daemon with this very domain and an
 * nbd://127.0.0.1:PORT/base header; the json: and unix-socket cases change only what
 * libvirt's backing parser (virstoragetest's cases) says they change. */
static char *
expectedLiveDisk(const char *top, const char *sourceAttrs, const char *hostXML)
{
    return g_strdup_printf("    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='qcow2'/>\n"
                           "      <source file='%s' index='1'/>\n"
                           "      <backingStore type='network' index='2'>\n"
                           "        <format type='raw'/>\n"
                           "        <source protocol='nbd' %s tls='no'>\n"
                           "          %s\n"
                           "        </source>\n"
                           "      </backingStore>\n"
                           "      <target dev='vda' bus='virtio'/>\n"
                           "      <alias name='virtio-disk0'/>\n"
                           "      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' "
                           "function='0x0'/>\n"
                           "    </disk>\n",
                           top, sourceAttrs, hostXML);
}

static const char *const inactiveDiskFmt = "    <disk type='file' device='disk'>\n"
                                           "      <driver name='qemu' type='qcow2'/>\n"
                                           "      <source file='%s'/>\n"
                                           "      <target dev='vda' bus='virtio'/>\n"
                                           "      <address type='pci' domain='0x0000' "
                                           "bus='0x00' slot='0x02' function='0x0'/>\n"
                                           "    </disk>\n";

/* query-named-block-nodes of the running domain, as node-name -> node object. */
static JsonObject *
findNode(JsonArray *nodes, const char *name)
{
    for (guint i = 0; i < json_array_get_length(nodes); i++) {
        JsonObject *n = json_array_get_object_element(nodes, i);

        if (g_strcmp0(json_object_get_string_member(n, "node-name"), name) == 0)
            return n;
    }
    g_error("QEMU has no node '%s'", name);
    return NULL;
}

/* NBDFILENAME: QEMU's own name for the export, however the overlay's header names it. */
static void
assertQemuChain(const char *top, const char *nbdFilename)
{
    const char *cmd[] = {"qemu-monitor-command", DOM_NAME,
                         "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}",
                         NULL};
    g_autofree char *out = virshOk(cmd);
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonArray *nodes;
    JsonObject *n;

    g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
    nodes =
        json_object_get_array_member(json_node_get_object(json_parser_get_root(parser)), "return");
    /* exactly the two layers of the live XML, each a storage and a format node */
    g_assert_cmpuint(json_array_get_length(nodes), ==, 4);
    n = findNode(nodes, "libvirt-1-storage");
    g_assert_cmpstr(json_object_get_string_member(n, "drv"), ==, "file");
    g_assert_cmpstr(json_object_get_string_member(n, "file"), ==, top);
    n = findNode(nodes, "libvirt-1-format");
    g_assert_cmpstr(json_object_get_string_member(n, "drv"), ==, "qcow2");
    g_assert_cmpstr(json_object_get_string_member(n, "backing_file"), ==, nbdFilename);
    g_assert_false(json_object_get_boolean_member(n, "ro"));
    n = findNode(nodes, "libvirt-2-storage");
    g_assert_cmpstr(json_object_get_string_member(n, "drv"), ==, "nbd");
    n = findNode(nodes, "libvirt-2-format");
    g_assert_cmpstr(json_object_get_string_member(n, "drv"), ==, "raw");
    g_assert_cmpstr(json_object_get_string_member(n, "file"), ==, nbdFilename);
    g_assert_true(json_object_get_boolean_member(n, "ro"));
    g_assert_cmpint(
        json_object_get_int_member(json_object_get_object_member(n, "image"), "virtual-size"), ==,
        NET_PATTERN_SIZE);
}

/* One case: an overlay whose header says BACKING (checked by qemu-img: the server must
 * answer), started, compared, restarted, stopped. */
static void
runOverlayCase(const char *name, const char *backing, const char *qemuFilename,
               const char *sourceAttrs, const char *hostXML)
{
    g_autofree char *top = daemonImagePath(name);
    const char *create[] = {"qemu-img", "create", "-q",  "-f", "qcow2", "-b",
                            backing,    "-F",     "raw", top,  NULL};
    g_autofree char *xml = domainXML(top);
    g_autofree char *xmlPath = daemonWriteFile("netchain.xml", xml);
    const char *define[] = {"define", xmlPath, NULL};
    const char *start[] = {"start", DOM_NAME, NULL};
    const char *dump[] = {"dumpxml", DOM_NAME, NULL};
    const char *dumpInactive[] = {"dumpxml", "--inactive", DOM_NAME, NULL};
    const char *destroy[] = {"destroy", DOM_NAME, NULL};
    const char *undefine[] = {"undefine", DOM_NAME, NULL};
    g_autofree char *want = expectedLiveDisk(top, sourceAttrs, hostXML);
    g_autofree char *wantInactive = g_strdup_printf(inactiveDiskFmt, top);
    g_autofree char *out = NULL;
    g_autofree char *disk = NULL;

    qvirTestRunOk(create);
    g_free(virshOk(define));
    g_free(virshOk(start));

    out = virshOk(dump);
    disk = diskElement(out);
    g_assert_cmpstr(disk, ==, want);
    assertQemuChain(top, qemuFilename);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&disk, g_free);

    /* a probed chain is never persistent config */
    out = virshOk(dumpInactive);
    disk = diskElement(out);
    g_assert_cmpstr(disk, ==, wantInactive);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&disk, g_free);

    /* the status XML carries the chain across a daemon restart: same live XML, and
     * QEMU still has the same nodes */
    daemonStop();
    daemonStart(FALSE);
    out = virshOk(dump);
    disk = diskElement(out);
    g_assert_cmpstr(disk, ==, want);
    assertQemuChain(top, qemuFilename);

    g_free(virshOk(destroy));
    g_free(virshOk(undefine));
}

static void
testNbdTcpURI(void)
{
    g_autofree char *backing = NULL;
    g_autofree char *host = NULL;

    if (!needNbd())
        return;
    backing = g_strdup_printf("nbd://127.0.0.1:%u/base", netStorage.nbdPort);
    host = g_strdup_printf("<host name='127.0.0.1' port='%u'/>", netStorage.nbdPort);
    runOverlayCase("uri.qcow2", backing, backing, "name='base'", host);
}

/* The same export named by QEMU's JSON pseudo-protocol (flat "file." keys): the same
 * layer, the same XML. */
static void
testNbdJSON(void)
{
    g_autofree char *backing = NULL;
    g_autofree char *host = NULL;
    g_autofree char *qemuName = NULL;

    if (!needNbd())
        return;
    backing = g_strdup_printf("json:{\"file.driver\":\"nbd\",\"file.server.type\":\"inet\","
                              "\"file.server.host\":\"127.0.0.1\",\"file.server.port\":\"%u\","
                              "\"file.export\":\"base\"}",
                              netStorage.nbdPort);
    host = g_strdup_printf("<host name='127.0.0.1' port='%u'/>", netStorage.nbdPort);
    qemuName = g_strdup_printf("nbd://127.0.0.1:%u/base", netStorage.nbdPort);
    runOverlayCase("json.qcow2", backing, qemuName, "name='base'", host);
}

/* The legacy colon syntax over a unix socket (the writable "rw" export). */
static void
testNbdUnixColon(void)
{
    g_autofree char *backing = NULL;
    g_autofree char *host = NULL;
    g_autofree char *qemuName = NULL;

    if (!needNbd())
        return;
    backing = g_strdup_printf("nbd:unix:%s:exportname=rw", netStorage.nbdSocket);
    host = g_strdup_printf("<host transport='unix' socket='%s'/>", netStorage.nbdSocket);
    qemuName = g_strdup_printf("nbd+unix:///rw?socket=%s", netStorage.nbdSocket);
    runOverlayCase("unix.qcow2", backing, qemuName, "name='rw'", host);
}

/* A backing string libvirt refuses fails the start with its words and changes nothing. */
static void
testMalformedBacking(void)
{
    g_autofree char *top = daemonImagePath("bad.qcow2");
    const char *create[] = {
        "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "nbd:127.0.0.1:notaport",
        "-F",       "raw",    top,  "1M", NULL};
    g_autofree char *xml = domainXML(top);
    g_autofree char *xmlPath = daemonWriteFile("bad.xml", xml);
    const char *define[] = {"define", xmlPath, NULL};
    const char *state[] = {"domstate", DOM_NAME, NULL};
    const char *undefine[] = {"undefine", DOM_NAME, NULL};
    g_autofree char *st = NULL;

    qvirTestRunOk(create);
    g_free(virshOk(define));
    VIRSH_FAILS("failed to parse port number 'notaport'", "start", DOM_NAME);
    st = virshOk(state);
    g_assert_cmpstr(g_strstrip(st), ==, "shut off");
    g_free(virshOk(undefine));
}

/*
 * probe_network_backing_chains: a local overlay over a qcow2 served by nbdkit, whose own
 * header names the raw qemu-nbd export. Off (libvirt's behaviour) the chain stops, unknown,
 * at the first NBD layer and nothing is read from the network; on, QEMU's block layer reads
 * that one layer (qemu-img, one process for one layer) and the chain is known to its end.
 */
static void
testProbeNetworkChain(void)
{
    g_autofree char *mid = NULL;
    g_autofree char *midURI = NULL;
    g_autofree char *baseURI = NULL;
    g_autofree char *top = daemonImagePath("probe-top.qcow2");
    qvirStorageChainConfig cfg;
    const qvirStorageSource *l2, *l3;
    guint64 before;

    if (!needNbd())
        return;
    mid = g_build_filename(netStorage.nbdkitDir, "mid.qcow2", NULL);
    baseURI = g_strdup_printf("nbd://127.0.0.1:%u/base", netStorage.nbdPort);
    midURI = g_strdup_printf("nbd://127.0.0.1:%u/mid.qcow2", netStorage.nbdkitPort);
    {
        const char *mkMid[] = {"qemu-img", "create", "-q",  "-f", "qcow2", "-b",
                               baseURI,    "-F",     "raw", mid,  NULL};
        const char *mkTop[] = {"qemu-img", "create", "-q",    "-f", "qcow2", "-b",
                               midURI,     "-F",     "qcow2", top,  NULL};

        qvirTestRunOk(mkMid);
        qvirTestRunOk(mkTop);
    }

    qvirStorageChainConfigInit(&cfg);
    {
        g_autoptr(qvirStorageSource) src = qvirStorageSourceNew();
        g_autoptr(GError) error = NULL;

        src->type = QVIR_STORAGE_TYPE_FILE;
        src->path = g_strdup(top);
        src->format = QVIR_STORAGE_FILE_QCOW2;
        before = qvirStorageNetProbeCounter();
        g_assert_true(qvirStorageChainProbe(src, &cfg, &error));
        g_assert_cmpuint(qvirStorageNetProbeCounter(), ==, before);
        g_assert_cmpstr(src->backingStore->path, ==, "mid.qcow2");
        g_assert_null(src->backingStore->backingStore);
    }

    cfg.probeNetwork = TRUE;
    {
        g_autoptr(qvirStorageSource) src = qvirStorageSourceNew();
        g_autoptr(GError) error = NULL;

        src->type = QVIR_STORAGE_TYPE_FILE;
        src->path = g_strdup(top);
        src->format = QVIR_STORAGE_FILE_QCOW2;
        before = qvirStorageNetProbeCounter();
        if (!qvirStorageChainProbe(src, &cfg, &error))
            g_error("probe: %s", error->message);
        /* one qemu-img for the qcow2 on NBD; the raw layer below needs none */
        g_assert_cmpuint(qvirStorageNetProbeCounter() - before, ==, 1);
        l2 = src->backingStore;
        g_assert_cmpint(l2->protocol, ==, QVIR_STORAGE_NET_PROTOCOL_NBD);
        g_assert_cmpstr(l2->path, ==, "mid.qcow2");
        g_assert_cmpint(l2->format, ==, QVIR_STORAGE_FILE_QCOW2);
        g_assert_cmpuint(l2->capacity, ==, NET_PATTERN_SIZE);
        g_assert_cmpstr(l2->backingStoreRaw, ==, baseURI);
        l3 = l2->backingStore;
        g_assert_nonnull(l3);
        g_assert_cmpint(l3->protocol, ==, QVIR_STORAGE_NET_PROTOCOL_NBD);
        g_assert_cmpstr(l3->path, ==, "base");
        g_assert_cmpuint(l3->hosts[0].port, ==, netStorage.nbdPort);
        g_assert_cmpint(l3->format, ==, QVIR_STORAGE_FILE_RAW);
        g_assert_true(l3->readonly);
        /* the chain is known to its end */
        g_assert_true(qvirStorageSourceChainIsTerminated(src));
        g_assert_cmpuint(qvirStorageSourceChainLength(src), ==, 3);
    }

    /* a layer the server does not have: QEMU's words, the layer named */
    {
        g_autoptr(qvirStorageSource) src = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *bad =
            g_strdup_printf("nbd://127.0.0.1:%u/nosuch.qcow2", netStorage.nbdkitPort);

        g_assert_cmpint(qvirStorageSourceNewFromBackingAbsolute(bad, &src, &error), ==, 0);
        src->format = QVIR_STORAGE_FILE_QCOW2;
        g_assert_false(qvirStorageNetProbeLayer(src, NULL, &error));
        g_assert_nonnull(
            strstr(error->message, "cannot read network layer 'nosuch.qcow2' (protocol nbd)"));
    }
    g_unlink(mid);
}

/* The same chain started by qvirtd with probe_network_backing_chains = true: the live XML
 * shows all three layers and ends in <backingStore/>, QEMU opened exactly those nodes (the
 * NBD qcow2 layer's "backing" is ours, not its header's), and a daemon restart keeps it. */
static void
testProbeNetworkDaemon(void)
{
    g_autofree char *mid = NULL;
    g_autofree char *midURI = NULL;
    g_autofree char *baseURI = NULL;
    g_autofree char *top = daemonImagePath("probe-daemon.qcow2");
    g_autofree char *xml = domainXML(top);
    g_autofree char *xmlPath = daemonWriteFile("netchain.xml", xml);
    g_autofree char *etc = g_build_filename(daemonEnv.root, "etc", NULL);
    g_autofree char *conf = g_build_filename(etc, "qvirtd.conf", NULL);
    const char *define[] = {"define", xmlPath, NULL};
    const char *start[] = {"start", DOM_NAME, NULL};
    const char *dump[] = {"dumpxml", DOM_NAME, NULL};
    const char *destroy[] = {"destroy", DOM_NAME, NULL};
    const char *undefine[] = {"undefine", DOM_NAME, NULL};
    const char *query[] = {
        "qemu-monitor-command", DOM_NAME,
        "{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}", NULL};
    g_autofree char *wantChain = NULL;
    g_autofree char *out = NULL;
    g_autofree char *disk = NULL;
    g_autofree char *again = NULL;
    g_autofree char *nodes = NULL;

    if (!needNbd())
        return;
    mid = g_build_filename(netStorage.nbdkitDir, "dmid.qcow2", NULL);
    baseURI = g_strdup_printf("nbd://127.0.0.1:%u/base", netStorage.nbdPort);
    midURI = g_strdup_printf("nbd://127.0.0.1:%u/dmid.qcow2", netStorage.nbdkitPort);
    {
        const char *mkMid[] = {"qemu-img", "create", "-q",  "-f", "qcow2", "-b",
                               baseURI,    "-F",     "raw", mid,  NULL};
        const char *mkTop[] = {"qemu-img", "create", "-q",    "-f", "qcow2", "-b",
                               midURI,     "-F",     "qcow2", top,  NULL};

        qvirTestRunOk(mkMid);
        qvirTestRunOk(mkTop);
    }
    g_assert_cmpint(g_mkdir_with_parents(etc, 0755), ==, 0);
    g_assert_true(
        g_file_set_contents(conf, "[qvirtd]\nprobe_network_backing_chains = true\n", -1, NULL));
    daemonStop();
    daemonStart(FALSE);

    g_free(virshOk(define));
    g_free(virshOk(start));
    out = virshOk(dump);
    disk = diskElement(out);
    wantChain = g_strdup_printf("      <backingStore type='network' index='2'>\n"
                                "        <format type='qcow2'/>\n"
                                "        <source protocol='nbd' name='dmid.qcow2' tls='no'>\n"
                                "          <host name='127.0.0.1' port='%u'/>\n"
                                "        </source>\n"
                                "        <backingStore type='network' index='3'>\n"
                                "          <format type='raw'/>\n"
                                "          <source protocol='nbd' name='base' tls='no'>\n"
                                "            <host name='127.0.0.1' port='%u'/>\n"
                                "          </source>\n"
                                "          <backingStore/>\n"
                                "        </backingStore>\n"
                                "      </backingStore>\n",
                                netStorage.nbdkitPort, netStorage.nbdPort);
    if (!strstr(disk, wantChain))
        g_error("live disk:\n%s\nlacks:\n%s", disk, wantChain);
    nodes = virshOk(query);
    g_assert_nonnull(strstr(nodes, "\"libvirt-3-format\""));
    g_assert_nonnull(strstr(nodes, "\"libvirt-2-format\""));
    g_assert_null(strstr(nodes, "\"libvirt-4-"));

    daemonStop();
    daemonStart(FALSE);
    g_free(out);
    out = virshOk(dump);
    again = diskElement(out);
    g_assert_cmpstr(again, ==, disk);

    g_free(virshOk(destroy));
    g_free(virshOk(undefine));
    g_unlink(conf);
    daemonStop();
    daemonStart(FALSE);
    g_unlink(mid);
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    /* this helper's port range; a run may choose another */
    g_setenv("QVIRT_NETTEST_PORT_BASE", "22000", FALSE);
    daemonEnvInit("netchaintest");
    if (!netStorageStart(NET_STORAGE_NBD, &nbdStartError))
        g_printerr("# NBD servers: %s\n", nbdStartError->message);
    daemonStart(FALSE);

    g_test_add_func("/netchain/nbd-tcp-uri", testNbdTcpURI);
    g_test_add_func("/netchain/nbd-json", testNbdJSON);
    g_test_add_func("/netchain/nbd-unix-colon", testNbdUnixColon);
    g_test_add_func("/netchain/malformed-backing", testMalformedBacking);
    g_test_add_func("/netchain/probe-network-chain", testProbeNetworkChain);
    g_test_add_func("/netchain/probe-network-daemon", testProbeNetworkDaemon);
    ret = g_test_run();

    daemonStop();
    daemonEnvCleanup();
    netStorageStop();
    g_clear_error(&nbdStartError);
    return ret;
}
