/*
 * Backing names that image headers store, parsed into layers: every string and expected
 * result of libvirt 9.0's tests/virstoragetest.c "Backing store parse" cases (its
 * expectations are written as the <source> XML libvirt formats, and this file formats our
 * layer the same way to compare), plus the refusals with libvirt's words, relative names
 * under network parents, and qcow2 headers naming network storage walked by the chain
 * probe (which never opens them).
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "testutils.h"
#include "storage/storage_backingstore.h"
#include "storage/storage_chain.h"
#include "util/virerror.h"

/* ---- libvirt's <source> element for one layer (its domain_conf.c order) ---------------- */

static void
escAttr(GString *buf, const char *fmt, const char *value)
{
    g_autofree char *esc = NULL;
    GString *e;

    if (!value)
        return;
    e = g_string_new(NULL);
    for (const char *p = value; *p; p++) {
        switch (*p) {
        case '<':
            g_string_append(e, "&lt;");
            break;
        case '>':
            g_string_append(e, "&gt;");
            break;
        case '&':
            g_string_append(e, "&amp;");
            break;
        case '\'':
            g_string_append(e, "&apos;");
            break;
        case '"':
            g_string_append(e, "&quot;");
            break;
        default:
            g_string_append_c(e, *p);
        }
    }
    esc = g_string_free(e, FALSE);
    g_string_append_printf(buf, fmt, esc);
}

static char *
formatSource(const qvirStorageSource *src)
{
    GString *attr = g_string_new("<source");
    GString *child = g_string_new(NULL);
    g_autofree char *name = NULL;

    switch (src->type) {
    case QVIR_STORAGE_TYPE_FILE:
        escAttr(attr, " file='%s'", src->path);
        break;
    case QVIR_STORAGE_TYPE_BLOCK:
        escAttr(attr, " dev='%s'", src->path);
        break;
    case QVIR_STORAGE_TYPE_NETWORK:
        g_string_append_printf(attr, " protocol='%s'",
                               qvirStorageNetProtocolTypeToString(src->protocol));
        if (src->netVolume)
            name = g_strdup_printf("%s/%s", src->netVolume, src->path);
        escAttr(attr, " name='%s'", name ? name : src->path);
        escAttr(attr, " query='%s'", src->query);
        for (size_t i = 0; i < src->nhosts; i++) {
            const qvirStorageNetHost *h = &src->hosts[i];

            g_string_append(child, "  <host");
            escAttr(child, " name='%s'", h->name);
            if (h->port)
                g_string_append_printf(child, " port='%u'", h->port);
            if (h->transport != QVIR_STORAGE_NET_HOST_TRANS_TCP)
                g_string_append_printf(child, " transport='%s'",
                                       qvirStorageNetHostTransportTypeToString(h->transport));
            escAttr(child, " socket='%s'", h->socket);
            g_string_append(child, "/>\n");
        }
        if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_NFS && (src->nfsUser || src->nfsGroup)) {
            g_string_append(child, "  <identity");
            escAttr(child, " user='%s'", src->nfsUser);
            escAttr(child, " group='%s'", src->nfsGroup);
            g_string_append(child, "/>\n");
        }
        escAttr(child, "  <snapshot name='%s'/>\n", src->snapshot);
        escAttr(child, "  <config file='%s'/>\n", src->configFile);
        if (src->sslverify != QVIR_TRISTATE_BOOL_ABSENT)
            g_string_append_printf(child, "  <ssl verify='%s'/>\n",
                                   src->sslverify == QVIR_TRISTATE_BOOL_YES ? "yes" : "no");
        if (src->ncookies) {
            g_string_append(child, "  <cookies>\n");
            for (size_t i = 0; i < src->ncookies; i++) {
                escAttr(child, "    <cookie name='%s'>", src->cookies[i].name);
                escAttr(child, "%s</cookie>\n", src->cookies[i].value);
            }
            g_string_append(child, "  </cookies>\n");
        }
        if (src->readahead)
            g_string_append_printf(child, "  <readahead size='%llu'/>\n", src->readahead);
        if (src->timeout)
            g_string_append_printf(child, "  <timeout seconds='%llu'/>\n", src->timeout);
        break;
    default:
        g_assert_not_reached();
    }
    if (child->len) {
        g_string_append_printf(attr, ">\n%s</source>\n", child->str);
    } else {
        g_string_append(attr, "/>\n");
    }
    g_string_free(child, TRUE);
    return g_string_free(attr, FALSE);
}

/* ---- libvirt's cases -------------------------------------------------------------------- */

typedef struct {
    const char *backing;
    const char *expect; /* NULL: refused */
    int rv;             /* 0, or 1 for "parsed, but not usable for the VM" */
} ParseCase;

static const ParseCase libvirtCases[] = {
    {"path", "<source file='path'/>\n", 0},
    {"://", NULL, 0},
    {"http://example.com",
     "<source protocol='http' name=''>\n  <host name='example.com' port='80'/>\n</source>\n", 0},
    {"http://example.com/",
     "<source protocol='http' name=''>\n  <host name='example.com' port='80'/>\n</source>\n", 0},
    {"http://example.com/file",
     "<source protocol='http' name='file'>\n  <host name='example.com' port='80'/>\n</source>\n",
     0},
    {"http://user:pass@example.com/file",
     "<source protocol='http' name='file'>\n  <host name='example.com' port='80'/>\n</source>\n",
     1},
    {"rbd:testshare:id=asdf:mon_host=example.com",
     "<source protocol='rbd' name='testshare'>\n  <host name='example.com'/>\n</source>\n", 0},
    {"nbd:example.org:6000:exportname=blah",
     "<source protocol='nbd' name='blah'>\n  <host name='example.org' port='6000'/>\n</source>\n",
     0},
    {"nbd:example.org:6000:exportname=:",
     "<source protocol='nbd' name=':'>\n  <host name='example.org' port='6000'/>\n</source>\n", 0},
    {"nbd:example.org:6000:exportname=:test",
     "<source protocol='nbd' name=':test'>\n  <host name='example.org' port='6000'/>\n</source>\n",
     0},
    {"nbd:[::1]:6000:exportname=:test",
     "<source protocol='nbd' name=':test'>\n  <host name='::1' port='6000'/>\n</source>\n", 0},
    {"nbd:127.0.0.1:6000:exportname=:test",
     "<source protocol='nbd' name=':test'>\n  <host name='127.0.0.1' port='6000'/>\n</source>\n",
     0},
    {"nbd:unix:/tmp/sock:exportname=/",
     "<source protocol='nbd' name='/'>\n  <host transport='unix' socket='/tmp/sock'/>\n</source>\n",
     0},
    {"nbd:unix:/tmp/sock:",
     "<source protocol='nbd'>\n  <host transport='unix' socket='/tmp/sock:'/>\n</source>\n", 0},
    {"nbd:unix:/tmp/sock::exportname=:",
     "<source protocol='nbd' name=':'>\n  <host transport='unix' "
     "socket='/tmp/sock:'/>\n</source>\n",
     0},
    {"nbd://example.org:1234",
     "<source protocol='nbd'>\n  <host name='example.org' port='1234'/>\n</source>\n", 0},
    {"nbd://example.org:1234/",
     "<source protocol='nbd'>\n  <host name='example.org' port='1234'/>\n</source>\n", 0},
    {"nbd://example.org:1234/exportname",
     "<source protocol='nbd' name='exportname'>\n  <host name='example.org' port='1234'/>\n"
     "</source>\n",
     0},
    {"nbd+unix://?socket=/tmp/sock",
     "<source protocol='nbd'>\n  <host transport='unix' socket='/tmp/sock'/>\n</source>\n", 0},
    {"nbd+unix:///?socket=/tmp/sock",
     "<source protocol='nbd'>\n  <host transport='unix' socket='/tmp/sock'/>\n</source>\n", 0},
    {"nbd+unix:////?socket=/tmp/sock",
     "<source protocol='nbd' name='/'>\n  <host transport='unix' socket='/tmp/sock'/>\n</source>\n",
     0},
    {"nbd+unix:///exp?socket=/tmp/sock",
     "<source protocol='nbd' name='exp'>\n  <host transport='unix' socket='/tmp/sock'/>\n"
     "</source>\n",
     0},
    {"nbd+unix:////exp?socket=/tmp/sock",
     "<source protocol='nbd' name='/exp'>\n  <host transport='unix' socket='/tmp/sock'/>\n"
     "</source>\n",
     0},
    {"iscsi://testuser:testpass@example.org:1234/exportname",
     "<source protocol='iscsi' name='exportname'>\n  <host name='example.org' port='1234'/>\n"
     "</source>\n",
     1},
    {"json:", NULL, 0},
    {"json:asdgsdfg", NULL, 0},
    {"json:{}", NULL, 0},
    {"json: { \"file.driver\":\"blah\"}", NULL, 0},
    {"json:{\"file.driver\":\"file\"}", NULL, 0},
    {"json:{\"file.driver\":\"file\", \"file.filename\":\"/path/to/file\"}",
     "<source file='/path/to/file'/>\n", 0},
    {"json:{\"file.driver\":\"file\", \"filename\":\"/path/to/file\"}", NULL, 0},
    {"json:{\"file\" : { \"driver\":\"file\",\"filename\":\"/path/to/file\"}}",
     "<source file='/path/to/file'/>\n", 0},
    {"json:{\"driver\":\"file\",\"filename\":\"/path/to/file\"}",
     "<source file='/path/to/file'/>\n", 0},
    {"json:{\"file.driver\":\"host_device\", \"file.filename\":\"/path/to/dev\"}",
     "<source dev='/path/to/dev'/>\n", 0},
    {"json:{\"file.driver\":\"host_cdrom\", \"file.filename\":\"/path/to/cdrom\"}",
     "<source dev='/path/to/cdrom'/>\n", 0},
    {"json:{\"file.driver\":\"http\", \"file.url\":\"http://example.com/file\"}",
     "<source protocol='http' name='file'>\n  <host name='example.com' port='80'/>\n</source>\n",
     0},
    {"json:{\"file\":{ \"driver\":\"http\",\"url\":\"http://example.com/file\"}}",
     "<source protocol='http' name='file'>\n  <host name='example.com' port='80'/>\n</source>\n",
     0},
    {"json:{\"file.driver\":\"ftp\", \"file.url\":\"http://example.com/file\"}", NULL, 0},
    {"json:{\"file.driver\":\"gluster\", \"file.filename\":\"gluster://example.com/vol/file\"}",
     "<source protocol='gluster' name='vol/file'>\n  <host name='example.com' port='24007'/>\n"
     "</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"gluster\",\"volume\":\"testvol\",\"path\":\"img.qcow2\","
     "\"server\":[ { \"type\":\"tcp\",\"host\":\"example.com\",\"port\":\"1234\"},"
     "{ \"type\":\"unix\",\"socket\":\"/path/socket\"},"
     "{ \"type\":\"tcp\",\"host\":\"example.com\"}]}}",
     "<source protocol='gluster' name='testvol/img.qcow2'>\n"
     "  <host name='example.com' port='1234'/>\n"
     "  <host transport='unix' socket='/path/socket'/>\n"
     "  <host name='example.com' port='24007'/>\n"
     "</source>\n",
     0},
    {"json:{\"file.driver\":\"gluster\",\"file.volume\":\"testvol\",\"file.path\":\"img.qcow2\","
     "\"file.server\":[ { \"type\":\"tcp\",\"host\":\"example.com\",\"port\":\"1234\"},"
     "{ \"type\":\"unix\",\"socket\":\"/path/socket\"},"
     "{ \"type\":\"inet\",\"host\":\"example.com\"}]}",
     "<source protocol='gluster' name='testvol/img.qcow2'>\n"
     "  <host name='example.com' port='1234'/>\n"
     "  <host transport='unix' socket='/path/socket'/>\n"
     "  <host name='example.com' port='24007'/>\n"
     "</source>\n",
     0},
    {"json:{\"driver\": \"raw\",\"file\": {\"server.0.host\": \"A.A.A.A\","
     "\"server.1.host\": \"B.B.B.B\",\"server.2.host\": \"C.C.C.C\",\"driver\": \"gluster\","
     "\"path\": \"raw\",\"server.0.type\": \"tcp\",\"server.1.type\": \"tcp\","
     "\"server.2.type\": \"tcp\",\"server.0.port\": \"24007\",\"server.1.port\": \"24007\","
     "\"server.2.port\": \"24007\",\"volume\": \"vol1\"}}",
     "<source protocol='gluster' name='vol1/raw'>\n"
     "  <host name='A.A.A.A' port='24007'/>\n"
     "  <host name='B.B.B.B' port='24007'/>\n"
     "  <host name='C.C.C.C' port='24007'/>\n"
     "</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"nbd\",\"path\":\"/path/to/socket\"}}",
     "<source protocol='nbd'>\n  <host transport='unix' socket='/path/to/socket'/>\n</source>\n",
     0},
    {"json:{\"driver\":\"nbd\",\"path\":\"/path/to/socket\"}",
     "<source protocol='nbd'>\n  <host transport='unix' socket='/path/to/socket'/>\n</source>\n",
     0},
    {"json:{\"file.driver\":\"nbd\",\"file.path\":\"/path/to/socket\"}",
     "<source protocol='nbd'>\n  <host transport='unix' socket='/path/to/socket'/>\n</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"nbd\",\"export\":\"blah\",\"host\":\"example.org\","
     "\"port\":\"6000\"}}",
     "<source protocol='nbd' name='blah'>\n  <host name='example.org' port='6000'/>\n</source>\n",
     0},
    {"json:{\"file.driver\":\"nbd\",\"file.export\":\"blah\",\"file.host\":\"example.org\","
     "\"file.port\":\"6000\"}",
     "<source protocol='nbd' name='blah'>\n  <host name='example.org' port='6000'/>\n</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"nbd\",\"export\":\"blah\",\"server\": { \"type\":\"inet\","
     "\"host\":\"example.org\",\"port\":\"6000\"}}}",
     "<source protocol='nbd' name='blah'>\n  <host name='example.org' port='6000'/>\n</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"nbd\",\"server\": { \"type\":\"unix\","
     "\"path\":\"/path/socket\"}}}",
     "<source protocol='nbd'>\n  <host transport='unix' socket='/path/socket'/>\n</source>\n", 0},
    {"json:{\"file\":{\"driver\":\"ssh\",\"host\":\"example.org\",\"port\":\"6000\","
     "\"path\":\"blah\",\"user\":\"user\"}}",
     "<source protocol='ssh' name='blah'>\n  <host name='example.org' port='6000'/>\n</source>\n",
     0},
    {"json:{\"file.driver\":\"ssh\",\"file.host\":\"example.org\",\"file.port\":\"6000\","
     "\"file.path\":\"blah\",\"file.user\":\"user\"}",
     "<source protocol='ssh' name='blah'>\n  <host name='example.org' port='6000'/>\n</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"ssh\",\"path\":\"blah\",\"server\":{ \"host\":\"example.org\","
     "\"port\":\"6000\"},\"user\":\"user\"}}",
     "<source protocol='ssh' name='blah'>\n  <host name='example.org' port='6000'/>\n</source>\n",
     0},
    {"json:{\"file.driver\":\"rbd\","
     "\"file.filename\":\"rbd:testshare:id=asdf:mon_host=example.com\"}",
     "<source protocol='rbd' name='testshare'>\n  <host name='example.com'/>\n</source>\n", 0},
    {"json:{\"file\":{\"driver\":\"rbd\",\"image\":\"test\",\"pool\":\"libvirt\","
     "\"conf\":\"/path/to/conf\",\"snapshot\":\"snapshotname\","
     "\"server\":[ {\"host\":\"example.com\",\"port\":\"1234\"},{\"host\":\"example2.com\"}]}}",
     "<source protocol='rbd' name='libvirt/test'>\n"
     "  <host name='example.com' port='1234'/>\n"
     "  <host name='example2.com'/>\n"
     "  <snapshot name='snapshotname'/>\n"
     "  <config file='/path/to/conf'/>\n"
     "</source>\n",
     0},
    {"json:{ \"file\": { \"driver\": \"raw\",\"file\": {\"driver\": \"file\","
     "\"filename\": \"/path/to/file\" } } }",
     "<source file='/path/to/file'/>\n", 0},
    {"json:{\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"test.org\","
     "\"target\":\"iqn.2016-12.com.virttest:emulated-iscsi-noauth.target\"}}",
     "<source protocol='iscsi' name='iqn.2016-12.com.virttest:emulated-iscsi-noauth.target/0'>\n"
     "  <host name='test.org' port='3260'/>\n"
     "</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"test.org\","
     "\"user\":\"testuser\","
     "\"target\":\"iqn.2016-12.com.virttest:emulated-iscsi-auth.target\"}}",
     "<source protocol='iscsi' name='iqn.2016-12.com.virttest:emulated-iscsi-auth.target/0'>\n"
     "  <host name='test.org' port='3260'/>\n"
     "</source>\n",
     1},
    {"json:{\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"test.org\","
     "\"password\":\"testpass\","
     "\"target\":\"iqn.2016-12.com.virttest:emulated-iscsi-auth.target\"}}",
     "<source protocol='iscsi' name='iqn.2016-12.com.virttest:emulated-iscsi-auth.target/0'>\n"
     "  <host name='test.org' port='3260'/>\n"
     "</source>\n",
     1},
    {"json:{\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"test.org:1234\","
     "\"target\":\"iqn.2016-12.com.virttest:emulated-iscsi-noauth.target\",\"lun\":\"6\"}}",
     "<source protocol='iscsi' name='iqn.2016-12.com.virttest:emulated-iscsi-noauth.target/6'>\n"
     "  <host name='test.org' port='1234'/>\n"
     "</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"[2001::0]:1234\","
     "\"target\":\"iqn.2016-12.com.virttest:emulated-iscsi-noauth.target\",\"lun\":6}}",
     "<source protocol='iscsi' name='iqn.2016-12.com.virttest:emulated-iscsi-noauth.target/6'>\n"
     "  <host name='[2001::0]' port='1234'/>\n"
     "</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"[2001::0]\","
     "\"target\":\"iqn.2016-12.com.virttest:emulated-iscsi-noauth.target\",\"lun\":6}}",
     "<source protocol='iscsi' name='iqn.2016-12.com.virttest:emulated-iscsi-noauth.target/6'>\n"
     "  <host name='[2001::0]' port='3260'/>\n"
     "</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"sheepdog\",\"vdi\":\"test\",\"server\":{ \"type\":\"inet\","
     "\"host\":\"example.com\",\"port\":\"321\"}}}",
     "<source protocol='sheepdog' name='test'>\n  <host name='example.com' port='321'/>\n"
     "</source>\n",
     0},
    {"json:{\"driver\": \"raw\",\"file\": {\"server.host\": \"10.10.10.10\","
     "\"server.port\": \"7000\",\"tag\": \"\",\"driver\": \"sheepdog\","
     "\"server.type\": \"inet\",\"vdi\": \"Alice\"}}",
     "<source protocol='sheepdog' name='Alice'>\n  <host name='10.10.10.10' port='7000'/>\n"
     "</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"vxhs\",\"vdisk-id\":\"c6718f6b-0401-441d-a8c3-1f0064d75ee0\","
     "\"server\": {  \"host\":\"example.com\",\"port\":\"9999\"}}}",
     "<source protocol='vxhs' name='c6718f6b-0401-441d-a8c3-1f0064d75ee0'>\n"
     "  <host name='example.com' port='9999'/>\n"
     "</source>\n",
     0},
    {"json:{\"file\":{\"driver\":\"nfs\",\"user\":2,\"group\":9,\"path\":\"/foo/bar/baz\","
     "\"server\": {  \"host\":\"example.com\",\"type\":\"inet\"}}}",
     "<source protocol='nfs' name='/foo/bar/baz'>\n"
     "  <host name='example.com'/>\n"
     "  <identity user='+2' group='+9'/>\n"
     "</source>\n",
     0},
    {"json:{ \"file.cookie\": \"vmware_soap_session=\\\"0c8db85112873a79b7ef74f294cb70ef7f\\\"\","
     "\"file.sslverify\": false,\"file.driver\": \"https\","
     "\"file.url\": \"https://host/folder/esx6.5-rhel7.7-x86%5f64/"
     "esx6.5-rhel7.7-x86%5f64-flat.vmdk?dcPath=data&dsName=esx6.5-matrix\","
     "\"file.timeout\": 2000}",
     "<source protocol='https' name='folder/esx6.5-rhel7.7-x86_64/esx6.5-rhel7.7-x86_64-flat.vmdk' "
     "query='dcPath=data&amp;dsName=esx6.5-matrix'>\n"
     "  <host name='host' port='443'/>\n"
     "  <ssl verify='no'/>\n"
     "  <cookies>\n"
     "    <cookie name='vmware_soap_session'>&quot;0c8db85112873a79b7ef74f294cb70ef7f&quot;"
     "</cookie>\n"
     "  </cookies>\n"
     "  <timeout seconds='2000'/>\n"
     "</source>\n",
     0},
    {"json:{ \"file.cookie\": \"vmware_soap_session=\\\"0c8db85112873a79b7ef74f294cb70ef7f\\\"\","
     "\"file.sslverify\": \"off\",\"file.driver\": \"https\","
     "\"file.url\": \"https://host/folder/esx6.5-rhel7.7-x86%5f64/"
     "esx6.5-rhel7.7-x86%5f64-flat.vmdk?dcPath=data&dsName=esx6.5-matrix\","
     "\"file.timeout\": 2000}",
     "<source protocol='https' name='folder/esx6.5-rhel7.7-x86_64/esx6.5-rhel7.7-x86_64-flat.vmdk' "
     "query='dcPath=data&amp;dsName=esx6.5-matrix'>\n"
     "  <host name='host' port='443'/>\n"
     "  <ssl verify='no'/>\n"
     "  <cookies>\n"
     "    <cookie name='vmware_soap_session'>&quot;0c8db85112873a79b7ef74f294cb70ef7f&quot;"
     "</cookie>\n"
     "  </cookies>\n"
     "  <timeout seconds='2000'/>\n"
     "</source>\n",
     0},
};

/* Strings beyond libvirt's list, each with the result libvirt 9.0's parser gives. */
static const ParseCase moreCases[] = {
    {"nbd+tcp://127.0.0.1:22001/export",
     "<source protocol='nbd' name='export'>\n  <host name='127.0.0.1' port='22001'/>\n</source>\n",
     0},
    {"nbd://[::1]:22001/e",
     "<source protocol='nbd' name='e'>\n  <host name='::1' port='22001'/>\n</source>\n", 0},
    {"nbd://host", "<source protocol='nbd'>\n  <host name='host' port='10809'/>\n</source>\n", 0},
    {"gluster://example.org/vol/dir/img.qcow2",
     "<source protocol='gluster' name='vol/dir/img.qcow2'>\n"
     "  <host name='example.org' port='24007'/>\n</source>\n",
     0},
    {"gluster+unix:///vol/img?socket=/run/glusterd.socket",
     "<source protocol='gluster' name='vol/img'>\n"
     "  <host transport='unix' socket='/run/glusterd.socket'/>\n</source>\n",
     0},
    {"iscsi://example.org:3261/iqn.2013-07.com.example:iscsi-pool/1",
     "<source protocol='iscsi' name='iqn.2013-07.com.example:iscsi-pool/1'>\n"
     "  <host name='example.org' port='3261'/>\n</source>\n",
     0},
    {"iscsi://example.org/iqn.2013-07.com.example:t/0",
     "<source protocol='iscsi' name='iqn.2013-07.com.example:t/0'>\n"
     "  <host name='example.org' port='3260'/>\n</source>\n",
     0},
    {"https://example.org/images/base.img?token=a&b=c",
     "<source protocol='https' name='images/base.img' query='token=a&amp;b=c'>\n"
     "  <host name='example.org' port='443'/>\n</source>\n",
     0},
    {"ftp://example.org/pub/base.img",
     "<source protocol='ftp' name='pub/base.img'>\n  <host name='example.org' port='21'/>\n"
     "</source>\n",
     0},
    {"ftps://example.org:2121/base.img",
     "<source protocol='ftps' name='base.img'>\n  <host name='example.org' port='2121'/>\n"
     "</source>\n",
     0},
    {"ssh://example.org/var/lib/images/base.qcow2",
     "<source protocol='ssh' name='var/lib/images/base.qcow2'>\n"
     "  <host name='example.org' port='22'/>\n</source>\n",
     0},
    {"ssh://root@example.org/base.qcow2",
     "<source protocol='ssh' name='base.qcow2'>\n  <host name='example.org' port='22'/>\n"
     "</source>\n",
     1},
    {"nfs://example.org/export/base.qcow2",
     "<source protocol='nfs' name='export/base.qcow2'>\n  <host name='example.org'/>\n</source>\n",
     0},
    /* colons escaped in values, several monitors with ports, IPv6, a snapshot and a config */
    {"rbd:pool/image@snap:conf=/etc/ceph/ceph.conf:id=admin:mon_host=mon1\\:6789\\;"
     "[\\:\\:1]\\:6790\\,mon3",
     "<source protocol='rbd' name='pool/image'>\n"
     "  <host name='mon1' port='6789'/>\n"
     "  <host name='::1' port='6790'/>\n"
     "  <host name='mon3'/>\n"
     "  <snapshot name='snap'/>\n"
     "  <config file='/etc/ceph/ceph.conf'/>\n"
     "</source>\n",
     0},
    {"rbd:pool/image", "<source protocol='rbd' name='pool/image'/>\n", 0},
    /* an unescaped ':' ends the option, even inside brackets (libvirt reads it so too) */
    {"rbd:p/i:mon_host=[::1]",
     "<source protocol='rbd' name='p/i'>\n  <host name='['/>\n</source>\n", 0},
    {"json:{\"file.driver\":\"nbd\",\"file.server.type\":\"inet\","
     "\"file.server.host\":\"127.0.0.1\",\"file.server.port\":\"22001\",\"file.export\":\"e\"}",
     "<source protocol='nbd' name='e'>\n  <host name='127.0.0.1' port='22001'/>\n</source>\n", 0},
    /* a number where QEMU's schema has a string is not read at all: the default port */
    {"json:{\"driver\":\"nbd\",\"host\":\"h\",\"port\":6000}",
     "<source protocol='nbd'>\n  <host name='h' port='10809'/>\n</source>\n", 0},
    {"json:{\"file\":{\"driver\":\"rbd\",\"pool\":\"p\",\"image\":\"i\"}}",
     "<source protocol='rbd' name='p/i'/>\n", 0},
    {"json:{\"file\":{\"driver\":\"http\",\"url\":\"http://h/a\",\"readahead\":65536,"
     "\"cookie\":\"a=1; b=2\"}}",
     "<source protocol='http' name='a'>\n  <host name='h' port='80'/>\n  <cookies>\n"
     "    <cookie name='a'>1</cookie>\n    <cookie name='b'>2</cookie>\n  </cookies>\n"
     "  <readahead size='65536'/>\n</source>\n",
     0},
    {"./a:b", "<source file='./a:b'/>\n", 0},
    {"/abs/a:b", "<source file='/abs/a:b'/>\n", 0},
};

typedef struct {
    const char *backing;
    const char *error;
} ErrorCase;

/* libvirt's refusals, word for word (json-glib's own parse messages aside). */
static const ErrorCase errorCases[] = {
    {"://", "failed to parse backing file location '://'"},
    {"foo://host/x", "invalid backing protocol 'foo'"},
    {"nbd+udp://host/x", "invalid protocol transport type 'udp'"},
    {"gluster://host/vol", "missing volume name or file name in gluster source path 'vol'"},
    {"gluster://host", "missing volume name or file name in gluster source path ''"},
    {"nbd:", "malformed nbd string 'nbd:'"},
    {"nbd:host", "malformed nbd string 'nbd:host'"},
    {"nbd::1234", "malformed nbd string 'nbd::1234'"},
    {"nbd:unix:", "malformed nbd string 'nbd:unix:'"},
    {"nbd:[::1:6000", "malformed nbd string 'nbd:[::1:6000'"},
    {"nbd:host:port", "failed to parse port number 'port'"},
    {"nbd:host:70000", "port '70000' out of range"},
    /* libvirt keeps this one, then cannot parse its own <host port='1010809'/> back */
    {"nbd://127.0.1:1010809/export", "port '1010809' out of range"},
    {"sheepdog:vdi", "backing store parser is not implemented for protocol sheepdog"},
    {"iscsi:x", "malformed backing store path for protocol iscsi"},
    {"gluster:x", "malformed backing store path for protocol gluster"},
    {"C:\\image.qcow2", "invalid backing protocol 'C'"},
    {"rbd:p/i:id=a:id=b", "duplicate 'id' found in 'i'"},
    {"json:{}", "JSON backing volume definition '{}' lacks driver name"},
    {"json:{\"file\":{\"driver\":\"qcow2\"}}",
     "missing parser implementation for JSON backing volume driver 'qcow2'"},
    {"json:{\"file\":{\"driver\":\"raw\",\"file\":{\"driver\":\"raw\"}}}",
     "JSON backing volume definition "
     "'{\"file\":{\"driver\":\"raw\",\"file\":{\"driver\":\"raw\"}}}' "
     "must not have nested format drivers"},
    {"json:{\"driver\":\"raw\"}", "JSON backing volume definition '{\"driver\":\"raw\"}' lacks "
                                  "'file' object"},
    {"json:{\"driver\":\"file\"}", "missing 'filename' field in JSON backing volume definition"},
    {"json:{\"driver\":\"http\"}", "missing 'url' in JSON backing volume definition"},
    {"json:{\"driver\":\"ftp\",\"url\":\"http://h/a\"}",
     "expected protocol 'ftp' but got 'http' in URI JSON volume definition"},
    {"json:{\"driver\":\"https\",\"url\":\"https://h/a\",\"sslverify\":\"no\"}",
     "malformed 'sslverify' field in backing store definition "
     "'{\"driver\":\"https\",\"url\":\"https://h/a\",\"sslverify\":\"no\"}'"},
    {"json:{\"driver\":\"http\",\"url\":\"http://h/a\",\"cookie\":\"a\"}",
     "malformed http cookie 'a' in backing store definition "
     "'{\"driver\":\"http\",\"url\":\"http://h/a\",\"cookie\":\"a\"}'"},
    {"json:{\"driver\":\"http\",\"url\":\"http://h/a\",\"cookie\":1}",
     "wrong format of 'cookie' field in backing store definition "
     "'{\"driver\":\"http\",\"url\":\"http://h/a\",\"cookie\":1}'"},
    {"json:{\"driver\":\"http\",\"url\":\"http://h/a\",\"timeout\":\"5\"}",
     "malformed 'timeout' field in backing store definition "
     "'{\"driver\":\"http\",\"url\":\"http://h/a\",\"timeout\":\"5\"}'"},
    {"json:{\"driver\":\"http\",\"url\":\"http://h/a\",\"readahead\":-1}",
     "malformed 'readahead' field in backing store definition "
     "'{\"driver\":\"http\",\"url\":\"http://h/a\",\"readahead\":-1}'"},
    {"json:{\"driver\":\"nbd\"}",
     "missing host specification of NBD server in JSON backing volume definition"},
    {"json:{\"driver\":\"nbd\",\"server\":{\"host\":\"h\"}}",
     "missing socket address type in JSON backing volume definition"},
    {"json:{\"driver\":\"nbd\",\"server\":{\"type\":\"vsock\"}}",
     "backing store protocol 'vsock' is not yet supported"},
    {"json:{\"driver\":\"nbd\",\"server\":{\"type\":\"unix\"}}",
     "missing socket path for udp backing server in JSON backing volume definition"},
    {"json:{\"driver\":\"nbd\",\"server\":{\"type\":\"inet\"}}",
     "missing hostname for tcp backing server in JSON backing volume definition"},
    {"json:{\"driver\":\"nbd\",\"host\":\"h\",\"port\":\"x\"}", "failed to parse port number 'x'"},
    {"json:{\"driver\":\"gluster\",\"volume\":\"v\",\"path\":\"p\"}",
     "missing 'volume', 'path' or 'server' attribute in JSON backing definition for gluster "
     "volume"},
    {"json:{\"driver\":\"gluster\",\"volume\":\"v\",\"path\":\"p\",\"server\":[]}",
     "at least 1 server is necessary in JSON backing definition for gluster volume"},
    {"json:{\"driver\":\"iscsi\",\"portal\":\"h\",\"target\":\"t\"}",
     "only TCP transport is supported for iSCSI volumes"},
    {"json:{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"target\":\"t\"}",
     "missing 'portal' address in iSCSI backing definition"},
    {"json:{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"h\"}",
     "missing 'target' in iSCSI backing definition"},
    {"json:{\"driver\":\"ssh\",\"host\":\"h\"}",
     "missing host/server or path of SSH JSON backing volume definition"},
    {"json:{\"driver\":\"rbd\",\"pool\":\"p\"}",
     "missing pool or image name in ceph backing volume JSON specification"},
    {"json:{\"driver\":\"rbd\",\"pool\":\"p\",\"image\":\"i\",\"server\":[{\"port\":\"1\"}]}",
     "missing hostname for tcp backing server in JSON backing volume definition"},
    {"json:{\"driver\":\"sheepdog\",\"filename\":\"sheepdog:x\"}",
     "missing sheepdog URI in JSON backing volume definition"},
    {"json:{\"driver\":\"sheepdog\"}", "missing sheepdog vdi name"},
    {"json:{\"driver\":\"vxhs\"}",
     "missing 'vdisk-id' or 'server' attribute in JSON backing definition for VxHS volume"},
    {"json:{\"driver\":\"nfs\",\"user\":1,\"group\":1,\"path\":\"/p\"}",
     "missing 'server' attribute in JSON backing definition for NFS volume"},
    {"json:{\"driver\":\"nfs\",\"server\":{\"host\":\"h\"},\"user\":1,\"path\":\"/p\"}",
     "missing 'user' or 'group' attribute in JSON backing definition for NFS volume"},
    {"json:{\"driver\":\"nfs\",\"server\":{\"host\":\"h\"},\"user\":1,\"group\":1}",
     "missing 'path' attribute in JSON backing definition for NFS volume"},
    {"json:{\"file.driver\":\"nbd\",\"file\":{\"path\":\"/s\"}}",
     "can't deflatten colliding key 'file'"},
    {"json:{\"file\":\"x\",\"file.driver\":\"nbd\"}",
     "mixing nested objects and values is forbidden in JSON deflattening"},
};

static void
checkCase(const ParseCase *c)
{
    g_autoptr(qvirStorageSource) src = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    int rc = qvirStorageSourceNewFromBackingAbsolute(c->backing, &src, &error);

    if (!c->expect) {
        if (rc != -1)
            g_error("'%s' should have been refused", c->backing);
        g_assert_null(src);
        g_assert_nonnull(error);
        return;
    }
    if (rc < 0)
        g_error("'%s' refused: %s", c->backing, error->message);
    g_assert_cmpint(rc, ==, c->rv);
    g_assert_null(src->auth);
    xml = formatSource(src);
    if (!g_str_equal(xml, c->expect))
        g_error("backing '%s'\nexpected:\n%sactual:\n%s", c->backing, c->expect, xml);
}

static void
testLibvirtCases(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(libvirtCases); i++)
        checkCase(&libvirtCases[i]);
}

static void
testMoreCases(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(moreCases); i++)
        checkCase(&moreCases[i]);
}

static void
testErrors(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(errorCases); i++) {
        g_autoptr(qvirStorageSource) src = NULL;
        g_autoptr(GError) error = NULL;

        if (qvirStorageSourceNewFromBackingAbsolute(errorCases[i].backing, &src, &error) != -1)
            g_error("'%s' should have been refused", errorCases[i].backing);
        g_assert_null(src);
        if (!g_str_equal(error->message, errorCases[i].error))
            g_error("'%s'\nexpected error: %s\nactual error:   %s", errorCases[i].backing,
                    errorCases[i].error, error->message);
    }
}

/* Not libvirt's words, but never accepted: each refused with a message naming the string. */
static void
testUnsupported(void)
{
    static const char *const cases[] = {
        "fat:/somedir",
        "json:{\"file\":{\"driver\":\"nvme\",\"device\":\"0000:01:00.0\",\"namespace\":1}}",
        "json:{\"driver\":\"raw\",\"offset\":10752,\"size\":4063232,"
        "\"file\":{\"driver\":\"file\",\"filename\":\"/tmp/testfle\"}}",
        "json:[1,2]",
        "json:1{\"driver\":\"nbd\",\"path\":\"/s\"}",
        /* two objects; brackets and quotes inside strings do not end the first */
        "json:{\"driver\":\"nbd\",\"path\":\"/s}\\\"\"} {\"driver\":\"nbd\"}",
        "json:{\"driver\":\"nbd\",\"path\":\"/s\"}]",
        "json:asdgsdfg",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(qvirStorageSource) src = NULL;
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(qvirStorageSourceNewFromBackingAbsolute(cases[i], &src, &error), ==, -1);
        g_assert_null(src);
        g_assert_nonnull(
            strstr(error->message, cases[i] + (g_str_has_prefix(cases[i], "json:") ? 5 : 0)));
    }
}

/* The file-or-protocol rule: a colon before any slash names a protocol. */
static void
testIsFile(void)
{
    g_assert_true(qvirStorageBackingNameIsFile("base.qcow2"));
    g_assert_true(qvirStorageBackingNameIsFile("./a:b"));
    g_assert_true(qvirStorageBackingNameIsFile("/x/nbd:1"));
    g_assert_false(qvirStorageBackingNameIsFile("nbd:x"));
    g_assert_false(qvirStorageBackingNameIsFile("nbd://h/x"));
    g_assert_false(qvirStorageBackingNameIsFile("json:{\"driver\":\"file\"}"));
    g_assert_false(qvirStorageBackingNameIsFile(NULL));
}

/* Relative names resolve against the parent: on a network parent they stay on its
 * server (libvirt copies protocol, hosts and volume, and joins the path with '/'). */
static void
testRelative(void)
{
    static const struct {
        const char *parent, *rel, *expect;
    } cases[] = {
        {"gluster://example.org:24008/vol/dir/top.qcow2", "base.qcow2",
         "<source protocol='gluster' name='vol/dir/base.qcow2'>\n"
         "  <host name='example.org' port='24008'/>\n</source>\n"},
        {"gluster://example.org/vol/top.qcow2", "../base.qcow2",
         "<source protocol='gluster' name='vol/./../base.qcow2'>\n"
         "  <host name='example.org' port='24007'/>\n</source>\n"},
        {"nfs://example.org/export/images/top.qcow2", "sub/base.qcow2",
         "<source protocol='nfs' name='export/images/sub/base.qcow2'>\n"
         "  <host name='example.org'/>\n</source>\n"},
        {"ssh://example.org/top.qcow2", "base.qcow2",
         "<source protocol='ssh' name='./base.qcow2'>\n"
         "  <host name='example.org' port='22'/>\n</source>\n"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(qvirStorageSource) parent = NULL;
        g_autoptr(qvirStorageSource) child = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = NULL;

        g_assert_cmpint(qvirStorageSourceNewFromBackingAbsolute(cases[i].parent, &parent, &error),
                        ==, 0);
        parent->backingStoreRaw = g_strdup(cases[i].rel);
        parent->backingFormat = QVIR_STORAGE_FILE_QCOW2;
        g_assert_cmpint(qvirStorageSourceNewFromBacking(parent, &child, &error), ==, 0);
        xml = formatSource(child);
        if (!g_str_equal(xml, cases[i].expect))
            g_error("relative '%s' under '%s'\nexpected:\n%sactual:\n%s", cases[i].rel,
                    cases[i].parent, cases[i].expect, xml);
        g_assert_cmpstr(child->relPath, ==, cases[i].rel);
        g_assert_cmpint(child->format, ==, QVIR_STORAGE_FILE_QCOW2);
        g_assert_true(child->readonly);
    }

    /* under a local parent: next to it, as before */
    {
        g_autoptr(qvirStorageSource) parent = qvirStorageSourceNew();
        g_autoptr(qvirStorageSource) child = NULL;
        g_autoptr(GError) error = NULL;

        parent->type = QVIR_STORAGE_TYPE_FILE;
        parent->path = g_strdup("/img/dir/top.qcow2");
        parent->backingStoreRaw = g_strdup("base.raw");
        parent->backingFormat = QVIR_STORAGE_FILE_RAW;
        g_assert_cmpint(qvirStorageSourceNewFromBacking(parent, &child, &error), ==, 0);
        g_assert_cmpint(child->type, ==, QVIR_STORAGE_TYPE_FILE);
        g_assert_cmpstr(child->path, ==, "/img/dir/base.raw");
    }
}

/* ---- the chain probe over headers that name network storage ----------------------------- */

/* qemu-img create -f FMT -u -b BACKING -F BFMT DIR/NAME 1M (-u: the backing is never
 * opened, its server need not exist). qcow (v1) has no place for BFMT and drops it. */
static char *
makeImage(const char *dir, const char *name, const char *fmt, const char *backing, const char *bfmt)
{
    char *path = g_build_filename(dir, name, NULL);
    const char *argv[] = {"qemu-img", "create", "-q", "-f", fmt,  "-u", "-b",
                          backing,    "-F",     bfmt, path, "1M", NULL};

    qvirTestRunOk(argv);
    return path;
}

static char *
makeOverlay(const char *dir, const char *name, const char *backing, const char *bfmt)
{
    return makeImage(dir, name, "qcow2", backing, bfmt);
}

static void
testChainNetworkBacking(void)
{
    g_autofree char *dir = qvirTestTempDirNew("backing");
    g_autofree char *top = makeOverlay(dir, "top.qcow2", "nbd://127.0.0.1:22999/export", "raw");
    g_autoptr(qvirStorageSource) src = qvirStorageSourceNew();
    g_autoptr(GError) error = NULL;
    qvirStorageChainConfig cfg;
    guint64 before = qvirStorageProbeCounter();
    const qvirStorageSource *nbd;

    qvirStorageChainConfigInit(&cfg);
    src->type = QVIR_STORAGE_TYPE_FILE;
    src->path = g_strdup(top);
    src->format = QVIR_STORAGE_FILE_QCOW2;
    g_assert_true(qvirStorageChainProbe(src, &cfg, &error));
    /* one header read: the overlay's; the NBD layer is never opened */
    g_assert_cmpuint(qvirStorageProbeCounter() - before, ==, 1);
    nbd = src->backingStore;
    g_assert_nonnull(nbd);
    g_assert_cmpint(nbd->type, ==, QVIR_STORAGE_TYPE_NETWORK);
    g_assert_cmpint(nbd->protocol, ==, QVIR_STORAGE_NET_PROTOCOL_NBD);
    g_assert_cmpstr(nbd->path, ==, "export");
    g_assert_cmpuint(nbd->nhosts, ==, 1);
    g_assert_cmpstr(nbd->hosts[0].name, ==, "127.0.0.1");
    g_assert_cmpuint(nbd->hosts[0].port, ==, 22999);
    g_assert_cmpint(nbd->format, ==, QVIR_STORAGE_FILE_RAW);
    g_assert_cmpstr(nbd->relPath, ==, "nbd://127.0.0.1:22999/export");
    g_assert_true(nbd->readonly);
    /* libvirt cannot read an NBD layer: the chain below it stays unknown */
    g_assert_null(nbd->backingStore);
    qvirTestTempDirRemove(dir);
}

static void
testChainRBDAndJSONBacking(void)
{
    g_autofree char *dir = qvirTestTempDirNew("backing");
    g_autofree char *base = g_build_filename(dir, "base.raw", NULL);
    g_autofree char *json = g_strdup_printf(
        "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}", base);
    g_autofree char *mid = makeOverlay(dir, "mid.qcow2", json, "raw");
    g_autofree char *top =
        makeOverlay(dir, "top.qcow2", "rbd:pool/img:mon_host=127.0.0.1", "qcow2");
    g_autoptr(qvirStorageSource) src = qvirStorageSourceNew();
    g_autoptr(qvirStorageSource) msrc = qvirStorageSourceNew();
    g_autoptr(GError) error = NULL;
    qvirStorageChainConfig cfg;

    g_assert_true(g_file_set_contents(base, "", 0, NULL));
    qvirStorageChainConfigInit(&cfg);
    src->type = QVIR_STORAGE_TYPE_FILE;
    src->path = g_strdup(top);
    src->format = QVIR_STORAGE_FILE_QCOW2;
    g_assert_true(qvirStorageChainProbe(src, &cfg, &error));
    g_assert_cmpint(src->backingStore->protocol, ==, QVIR_STORAGE_NET_PROTOCOL_RBD);
    g_assert_cmpstr(src->backingStore->netVolume, ==, "pool");
    g_assert_cmpstr(src->backingStore->path, ==, "img");
    g_assert_cmpint(src->backingStore->format, ==, QVIR_STORAGE_FILE_QCOW2);
    g_assert_null(src->backingStore->backingStore);

    /* a json: name for a local file is a local layer, opened and followed as any other */
    msrc->type = QVIR_STORAGE_TYPE_FILE;
    msrc->path = g_strdup(mid);
    msrc->format = QVIR_STORAGE_FILE_QCOW2;
    g_assert_true(qvirStorageChainProbe(msrc, &cfg, &error));
    g_assert_cmpint(msrc->backingStore->type, ==, QVIR_STORAGE_TYPE_FILE);
    g_assert_cmpstr(msrc->backingStore->path, ==, base);
    g_assert_cmpint(msrc->backingStore->format, ==, QVIR_STORAGE_FILE_RAW);
    g_assert_false(qvirStorageSourceIsBacking(msrc->backingStore->backingStore));
    g_assert_nonnull(msrc->backingStore->backingStore);
    qvirTestTempDirRemove(dir);
}

static void
testChainNetworkRefusals(void)
{
    g_autofree char *dir = qvirTestTempDirNew("backing");
    g_autofree char *bad = makeOverlay(dir, "bad.qcow2", "nbd:host:notaport", "raw");
    g_autofree char *cred = makeOverlay(dir, "cred.qcow2", "http://u:p@127.0.0.1:22998/x", "raw");
    g_autofree char *nofmt = makeImage(dir, "nofmt.qcow", "qcow", "nbd://127.0.0.1:22999/e", "raw");
    qvirStorageChainConfig cfg;

    qvirStorageChainConfigInit(&cfg);
    {
        g_autoptr(qvirStorageSource) src = qvirStorageSourceNew();
        g_autoptr(GError) error = NULL;

        src->type = QVIR_STORAGE_TYPE_FILE;
        src->path = g_strdup(bad);
        src->format = QVIR_STORAGE_FILE_QCOW2;
        g_assert_false(qvirStorageChainProbe(src, &cfg, &error));
        g_assert_cmpstr(error->message, ==, "failed to parse port number 'notaport'");
        g_assert_null(src->backingStore);
    }
    {
        /* inline credentials: the chain stops above the layer, QEMU opens it itself */
        g_autoptr(qvirStorageSource) src = qvirStorageSourceNew();
        g_autoptr(GError) error = NULL;

        src->type = QVIR_STORAGE_TYPE_FILE;
        src->path = g_strdup(cred);
        src->format = QVIR_STORAGE_FILE_QCOW2;
        g_assert_true(qvirStorageChainProbe(src, &cfg, &error));
        g_assert_null(src->backingStore);
        g_assert_cmpstr(src->backingStoreRaw, ==, "http://u:p@127.0.0.1:22998/x");
    }
    {
        g_autoptr(qvirStorageSource) src = qvirStorageSourceNew();
        g_autoptr(GError) error = NULL;
        g_autofree char *want = g_strdup_printf(
            "format of backing image 'nbd://127.0.0.1:22999/e' of image '%s' was not specified "
            "in the image metadata (See https://libvirt.org/kbase/backing_chains.html for "
            "troubleshooting)",
            nofmt);

        src->type = QVIR_STORAGE_TYPE_FILE;
        src->path = g_strdup(nofmt);
        src->format = QVIR_STORAGE_FILE_QCOW;
        cfg.allowFormatProbing = TRUE; /* even then: a network layer is never guessed */
        g_assert_false(qvirStorageChainProbe(src, &cfg, &error));
        g_assert_cmpstr(error->message, ==, want);
    }
    qvirTestTempDirRemove(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/backing/libvirt-cases", testLibvirtCases);
    g_test_add_func("/backing/more-cases", testMoreCases);
    g_test_add_func("/backing/errors", testErrors);
    g_test_add_func("/backing/unsupported", testUnsupported);
    g_test_add_func("/backing/is-file", testIsFile);
    g_test_add_func("/backing/relative", testRelative);
    g_test_add_func("/backing/chain-nbd", testChainNetworkBacking);
    g_test_add_func("/backing/chain-rbd-json", testChainRBDAndJSONBacking);
    g_test_add_func("/backing/chain-refusals", testChainNetworkRefusals);
    return g_test_run();
}
