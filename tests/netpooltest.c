/*
 * netpooltest.c: storage pools on network storage (rbd, iscsi-direct) end to end: a real
 * qvirtd driven by the real virsh, against a one-OSD cephx Ceph cluster and a tgtd iSCSI
 * target with and without CHAP (tests/netstoragetestutils, started once for the program).
 *
 * Pools are defined, started, listed and refreshed; their volumes listed, inspected,
 * made and removed where the pool type can; a wrong secret is a clear error that leaves
 * the pool inactive and the storage as it was; a <disk type='volume'> on an iscsi-direct
 * LUN starts a QEMU that opens the LUN through its iscsi driver, while one on an rbd
 * image is refused as libvirt 9.0 refuses it. When libvirt 9.0's own rbd and
 * iscsi-direct backends are installed, its session daemon (as nobody) reads the same
 * pools and its XML must equal ours.
 */
#include <pwd.h>

#include "daemontestutils.h"
#include "netstoragetestutils.h"
#include "virshtestutils.h"

#define POOL_UUID_RBD "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f01"
#define POOL_UUID_ISCSI "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f02"
#define CEPH_USAGE "netpool ceph"
#define CEPH_BAD_USAGE "netpool ceph malformed"
#define CHAP_USAGE "netpool chap"
#define CHAP_BAD_USAGE "netpool chap wrong"
#define INITIATOR "iqn.2026-12.org.qvirt.test:netpool-initiator"
/* decodes as base64, but is no cephx key: librados fails at once ("keyring not found") */
#define MALFORMED_CEPH_KEY "AQBub3QgYSBjZXBoeCBrZXkgYXQgYWxsIQ=="

static GError *startErrors[4];

static void
assertContains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        g_error("expected to find\n%s\nin\n%s", needle, haystack);
}

/* virsh's output (one blank line more) is exactly EXPECT */
static void
assertSameXML(const char *out, const char *expect)
{
    g_autofree char *a = g_strchomp(g_strdup(out));
    g_autofree char *b = g_strchomp(g_strdup(expect));

    g_assert_cmpstr(a, ==, b);
}

/* virsh failed, saying NEEDLE */
static void
assertFails(const VirshResult *r, const char *needle)
{
    if (r->rc == 0)
        g_error("expected a failure saying '%s', got success: %s", needle, r->out);
    assertContains(r->err, needle);
}

/* The servers of KIND run, or the case is skipped (a program missing) or fails. */
static gboolean
netNeed(NetStorageKind kind)
{
    GError *err = startErrors[g_bit_nth_lsf(kind, -1)];

    if (netStorage.started & kind)
        return TRUE;
    if (err && g_error_matches(err, NET_STORAGE_ERROR, NET_STORAGE_ERROR_MISSING)) {
        g_autofree char *why = g_strdup_printf("%s: %s", netStorageKindName(kind), err->message);

        g_test_skip(why);
        return FALSE;
    }
    g_error("%s servers did not start: %s", netStorageKindName(kind),
            err ? err->message : "unknown reason");
    return FALSE;
}

static char *
writeFile(const char *name, const char *contents)
{
    g_autofree char *path = g_build_filename(daemonEnv.root, name, NULL);

    g_assert_true(g_file_set_contents(path, contents, -1, NULL));
    return g_steal_pointer(&path);
}

/* A secret of TYPE (ceph: usage <name>, iscsi: <target>) whose value is VALUE: base64 of
 * the bytes (BASE64), or the bytes themselves. */
static void
defineSecret(const char *type, const char *usage, const char *value, gboolean base64)
{
    g_autofree char *xml = g_strdup_printf(
        "<secret ephemeral='no' private='yes'><usage type='%s'><%s>%s</%s></usage></secret>", type,
        g_str_equal(type, "ceph") ? "name" : "target", usage,
        g_str_equal(type, "ceph") ? "name" : "target");
    g_autofree char *file = writeFile("secret.xml", xml);
    g_autofree char *valueFile = NULL;
    g_auto(VirshResult) r = {0};
    g_autofree char *uuid = NULL;

    VIRSH_RES_OK(&r, "secret-define", file);
    /* "Secret UUID created" */
    uuid = g_strndup(r.out + strlen("Secret "), 36);
    if (base64) {
        valueFile = writeFile("secret.value", value);
        VIRSH_RES_OK(&r, "secret-set-value", uuid, "--file", valueFile);
    } else {
        valueFile = writeFile("secret.value", value);
        VIRSH_RES_OK(&r, "secret-set-value", uuid, "--file", valueFile, "--plain");
    }
    g_unlink(valueFile);
}

static char *
rbdPoolXML(const char *name, const char *uuid, const char *usage, const char *refresh)
{
    return g_strdup_printf("<pool type='rbd'>\n"
                           "  <name>%s</name>\n"
                           "  <uuid>%s</uuid>\n"
                           "  <capacity unit='bytes'>0</capacity>\n"
                           "  <allocation unit='bytes'>0</allocation>\n"
                           "  <available unit='bytes'>0</available>\n"
                           "  <source>\n"
                           "    <host name='127.0.0.1' port='%u'/>\n"
                           "    <name>rbd</name>\n"
                           "    <auth type='ceph' username='admin'>\n"
                           "      <secret usage='%s'/>\n"
                           "    </auth>\n"
                           "  </source>\n"
                           "%s"
                           "</pool>\n",
                           name, uuid, netStorage.cephMonV2Port, usage, refresh ? refresh : "");
}

/* The pool XML of an iscsi-direct pool on IQN; USAGE NULL: no <auth>. The live capacity
 * and allocation are CAPACITY. */
static char *
iscsiPoolXML(const char *name, const char *uuid, const char *iqn, const char *usage,
             guint64 capacity)
{
    g_autofree char *auth = usage ? g_strdup_printf("    <auth type='chap' username='%s'>\n"
                                                    "      <secret usage='%s'/>\n"
                                                    "    </auth>\n",
                                                    netStorage.chapUser, usage)
                                  : g_strdup("");

    return g_strdup_printf("<pool type='iscsi-direct'>\n"
                           "  <name>%s</name>\n"
                           "  <uuid>%s</uuid>\n"
                           "  <capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>\n"
                           "  <allocation unit='bytes'>%" G_GUINT64_FORMAT "</allocation>\n"
                           "  <available unit='bytes'>0</available>\n"
                           "  <source>\n"
                           "    <host name='127.0.0.1' port='%u'/>\n"
                           "    <device path='%s'/>\n"
                           "    <initiator>\n"
                           "      <iqn name='" INITIATOR "'/>\n"
                           "    </initiator>\n"
                           "%s"
                           "  </source>\n"
                           "</pool>\n",
                           name, uuid, capacity, capacity, netStorage.iscsiPort, iqn, auth);
}

/* The images of the RADOS pool, as the cluster itself lists them. */
static char *
rbdList(void)
{
    const char *argv[] = {"rbd", "-c", netStorage.cephConf, "ls", "rbd", NULL};
    g_autoptr(GError) err = NULL;
    char *out = NULL;

    if (!netStorageRun(argv, &out, &err))
        g_error("rbd ls: %s", err->message);
    return out;
}

static gboolean
rbdHas(const char *image)
{
    g_autofree char *list = rbdList();
    g_auto(GStrv) lines = g_strsplit(list, "\n", -1);

    return g_strv_contains((const char *const *)lines, image);
}

/* No cephx key file is left behind by the daemon (it writes one per call). */
static void
assertNoKeyLeft(void)
{
    g_autoptr(GDir) dir = g_dir_open(g_get_tmp_dir(), 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        if (g_str_has_prefix(name, "qvirt-rbd-"))
            g_error("a cephx key directory was left behind: %s/%s", g_get_tmp_dir(), name);
    }
}

static void
testRbdPool(void)
{
    g_autofree char *xml = NULL;
    g_autofree char *file = NULL;
    g_autofree char *volXML = NULL;
    g_autofree char *volXMLFile = NULL;
    g_auto(VirshResult) r = {0};

    if (!netNeed(NET_STORAGE_CEPH))
        return;
    xml = rbdPoolXML("ceph", POOL_UUID_RBD, CEPH_USAGE, NULL);
    file = writeFile("rbd-pool.xml", xml);
    VIRSH_RES_OK(&r, "pool-define", file);
    VIRSH_RES_OK(&r, "pool-list", "--all", "--type", "rbd");
    assertContains(r.out, " ceph ");
    assertContains(r.out, "inactive");
    VIRSH_RES_OK(&r, "pool-start", "ceph");
    VIRSH_RES_OK(&r, "pool-list", "--type", "rbd");
    assertContains(r.out, "active");
    VIRSH_RES_OK(&r, "pool-list", "--type", "dir");
    g_assert_null(strstr(r.out, "ceph"));
    VIRSH_RES_OK(&r, "pool-info", "ceph");
    assertContains(r.out, "running");
    /* a cluster without a ceph-mgr keeps no statistics: 0 for libvirt as for us */
    VIRSH_RES_OK(&r, "pool-dumpxml", "ceph");
    assertSameXML(r.out, xml);

    /* the fixture's 64 MiB image: 16 objects of 4 MiB, all counted without <refresh> */
    VIRSH_RES_OK(&r, "vol-list", "ceph", "--details");
    assertContains(r.out, " base ");
    assertContains(r.out, "rbd/base");
    VIRSH_RES_OK(&r, "vol-dumpxml", "base", "--pool", "ceph");
    assertSameXML(r.out, "<volume type='network'>\n"
                         "  <name>base</name>\n"
                         "  <key>rbd/base</key>\n"
                         "  <capacity unit='bytes'>67108864</capacity>\n"
                         "  <allocation unit='bytes'>67108864</allocation>\n"
                         "  <target>\n"
                         "    <path>rbd/base</path>\n"
                         "    <format type='raw'/>\n"
                         "  </target>\n"
                         "</volume>\n");
    VIRSH_RES_OK(&r, "vol-info", "base", "--pool", "ceph", "--bytes");
    assertContains(r.out, "network");
    assertContains(r.out, "67108864 bytes");
    VIRSH_RES_OK(&r, "vol-path", "base", "--pool", "ceph");
    assertContains(r.out, "rbd/base");
    VIRSH_RES_OK(&r, "vol-key", "base", "--pool", "ceph");
    assertContains(r.out, "rbd/base");

    /* a volume made through the pool is an image in the cluster, 10 MB = 3 objects */
    VIRSH_RES_OK(&r, "vol-create-as", "ceph", "made", "10M");
    g_assert_true(rbdHas("made"));
    VIRSH_RES_OK(&r, "vol-info", "made", "--pool", "ceph", "--bytes");
    assertContains(r.out, "10485760 bytes");
    assertContains(r.out, "12582912 bytes");
    /* what libvirt refuses */
    VIRSH(&r, "vol-create-as", "ceph", "q", "10M", "--format", "qcow2");
    assertFails(&r, "unsupported configuration: only RAW volumes are supported by this storage "
                    "pool");
    g_assert_false(rbdHas("q"));
    VIRSH(&r, "vol-create-as", "ceph", "made", "1M");
    assertFails(&r, "storage volume 'made' exists already");
    volXML = g_strdup("<volume><name>made2</name><capacity>1048576</capacity></volume>");
    volXMLFile = writeFile("vol.xml", volXML);
    VIRSH(&r, "vol-create-from", "ceph", volXMLFile, "made", "--inputpool", "ceph");
    g_assert_cmpint(r.rc, !=, 0);
    g_assert_false(rbdHas("made2"));

    /* an image made behind the pool's back shows after a refresh */
    {
        g_autoptr(GError) err = NULL;

        if (!netStorageRbd((const char *const[]){"create", "--size", "4M", "rbd/outside", NULL},
                           &err))
            g_error("rbd create: %s", err->message);
    }
    VIRSH_RES_OK(&r, "vol-list", "ceph");
    g_assert_null(strstr(r.out, "outside"));
    VIRSH_RES_OK(&r, "pool-refresh", "ceph");
    VIRSH_RES_OK(&r, "vol-list", "ceph");
    assertContains(r.out, "rbd/outside");

    VIRSH_RES_OK(&r, "vol-delete", "made", "--pool", "ceph");
    VIRSH_RES_OK(&r, "vol-delete", "outside", "--pool", "ceph");
    g_assert_false(rbdHas("made"));
    g_assert_false(rbdHas("outside"));
    g_assert_true(rbdHas("base"));
    VIRSH_RES_OK(&r, "vol-list", "ceph");
    g_assert_null(strstr(r.out, "made"));
    assertNoKeyLeft();
}

/* <refresh><volume allocation='default'/>: fast-diff's count of the objects in use. */
static void
testRbdRefreshAllocation(void)
{
    g_autofree char *xml = NULL;
    g_autofree char *file = NULL;
    g_auto(VirshResult) r = {0};

    if (!netNeed(NET_STORAGE_CEPH))
        return;
    xml = rbdPoolXML("ceph-used", "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f03", CEPH_USAGE,
                     "  <refresh>\n    <volume allocation='default'/>\n  </refresh>\n");
    file = writeFile("rbd-used.xml", xml);
    VIRSH_RES_OK(&r, "pool-create", file);
    VIRSH_RES_OK(&r, "pool-dumpxml", "ceph-used");
    assertSameXML(r.out, xml);
    /* the pattern fills the first MiB and the MiB at 32 MiB: two 4 MiB objects */
    VIRSH_RES_OK(&r, "vol-info", "base", "--pool", "ceph-used", "--bytes");
    assertContains(r.out, "Allocation:     8388608 bytes");
    VIRSH_RES_OK(&r, "pool-destroy", "ceph-used");
    /* transient: gone */
    VIRSH(&r, "pool-info", "ceph-used");
    g_assert_cmpint(r.rc, !=, 0);
}

static void
testRbdWrongSecret(void)
{
    g_autofree char *xml = NULL;
    g_autofree char *file = NULL;
    g_autofree char *expect = NULL;
    g_autofree char *before = NULL;
    g_auto(VirshResult) r = {0};

    if (!netNeed(NET_STORAGE_CEPH))
        return;
    before = rbdList();
    xml = rbdPoolXML("ceph-bad", "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f04", CEPH_BAD_USAGE, NULL);
    file = writeFile("rbd-bad.xml", xml);
    VIRSH_RES_OK(&r, "pool-define", file);
    VIRSH(&r, "pool-start", "ceph-bad");
    /* libvirt 9.0's words for what librados' connect says */
    expect = g_strdup_printf("error: failed to connect to the RADOS monitor on: 127.0.0.1:%u,: "
                             "No such file or directory",
                             netStorage.cephMonV2Port);
    assertFails(&r, expect);
    VIRSH_RES_OK(&r, "pool-list", "--inactive");
    assertContains(r.out, "ceph-bad");
    VIRSH(&r, "vol-list", "ceph-bad");
    assertFails(&r, "storage pool 'ceph-bad' is not active");

    /* a secret that does not exist */
    VIRSH_RES_OK(&r, "pool-undefine", "ceph-bad");
    g_free(xml);
    xml = rbdPoolXML("ceph-none", "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f05", "no such secret", NULL);
    g_free(file);
    file = writeFile("rbd-none.xml", xml);
    VIRSH(&r, "pool-create", file);
    assertFails(&r, "no secret with matching usage 'no such secret'");
    VIRSH_RES_OK(&r, "pool-list", "--all");
    g_assert_null(strstr(r.out, "ceph-none"));
    {
        g_autofree char *after = rbdList();

        g_assert_cmpstr(before, ==, after);
    }
    assertNoKeyLeft();
}

static void
testIscsiDirectPool(void)
{
    /* libvirt multiplies the block length by the last LBA: one block short of 64 MiB */
    const guint64 lun1 = 67108864 - 512;
    g_autofree char *xml = NULL;
    g_autofree char *file = NULL;
    g_autofree char *path0 = NULL;
    g_autofree char *path1 = NULL;
    g_autofree char *volXML = NULL;
    g_auto(VirshResult) r = {0};

    if (!netNeed(NET_STORAGE_ISCSI))
        return;
    xml = iscsiPoolXML("isc", POOL_UUID_ISCSI, netStorage.iscsiChapIqn, CHAP_USAGE, 0);
    file = writeFile("isc.xml", xml);
    VIRSH_RES_OK(&r, "pool-define", file);
    VIRSH_RES_OK(&r, "pool-dumpxml", "isc");
    assertSameXML(r.out, xml);
    VIRSH_RES_OK(&r, "pool-start", "isc");
    VIRSH_RES_OK(&r, "pool-list", "--type", "iscsi-direct");
    assertContains(r.out, " isc ");
    g_free(xml);
    xml = iscsiPoolXML("isc", POOL_UUID_ISCSI, netStorage.iscsiChapIqn, CHAP_USAGE, lun1);
    VIRSH_RES_OK(&r, "pool-dumpxml", "isc");
    assertSameXML(r.out, xml);

    /* LUN 0 is the target's controller (no size), LUN 1 the disk */
    path0 = g_strdup_printf("ip-127.0.0.1:%u-iscsi-%s-lun-0", netStorage.iscsiPort,
                            netStorage.iscsiChapIqn);
    path1 = g_strdup_printf("ip-127.0.0.1:%u-iscsi-%s-lun-1", netStorage.iscsiPort,
                            netStorage.iscsiChapIqn);
    VIRSH_RES_OK(&r, "vol-list", "isc");
    assertContains(r.out, "unit:0:0:0");
    assertContains(r.out, path0);
    assertContains(r.out, "unit:0:0:1");
    assertContains(r.out, path1);
    volXML = g_strdup_printf("<volume type='network'>\n"
                             "  <name>unit:0:0:1</name>\n"
                             "  <key>%s</key>\n"
                             "  <capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>\n"
                             "  <allocation unit='bytes'>%" G_GUINT64_FORMAT "</allocation>\n"
                             "  <target>\n"
                             "    <path>%s</path>\n"
                             "  </target>\n"
                             "</volume>\n",
                             path1, lun1, lun1, path1);
    VIRSH_RES_OK(&r, "vol-dumpxml", "unit:0:0:1", "--pool", "isc");
    assertSameXML(r.out, volXML);
    VIRSH_RES_OK(&r, "vol-info", "unit:0:0:0", "--pool", "isc", "--bytes");
    assertContains(r.out, "Capacity:       0 bytes");
    VIRSH_RES_OK(&r, "vol-info", "--vol", path1, "--bytes");
    assertContains(r.out, "network");

    /* LUNs are the target's: libvirt's refusals */
    VIRSH(&r, "vol-create-as", "isc", "new", "1M");
    assertFails(&r, "this function is not supported by the connection driver: storage pool does "
                    "not support volume creation");
    VIRSH(&r, "vol-delete", "unit:0:0:1", "--pool", "isc");
    assertFails(&r, "this function is not supported by the connection driver: storage pool does "
                    "not support vol deletion");
    VIRSH(&r, "pool-delete", "isc");
    g_assert_cmpint(r.rc, !=, 0);
    VIRSH_RES_OK(&r, "pool-refresh", "isc");
    VIRSH_RES_OK(&r, "vol-list", "isc");
    assertContains(r.out, "unit:0:0:1");
    VIRSH_RES_OK(&r, "pool-destroy", "isc");
    VIRSH(&r, "pool-delete", "isc");
    assertFails(&r, "pool does not support pool deletion");
    VIRSH_RES_OK(&r, "pool-undefine", "isc");
}

/* The target without CHAP, whichever order the portal lists its targets in. */
static void
testIscsiDirectNoAuth(void)
{
    g_autofree char *xml = NULL;
    g_autofree char *file = NULL;
    g_auto(VirshResult) r = {0};

    if (!netNeed(NET_STORAGE_ISCSI))
        return;
    xml =
        iscsiPoolXML("iscn", "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f06", netStorage.iscsiIqn, NULL, 0);
    file = writeFile("iscn.xml", xml);
    VIRSH_RES_OK(&r, "pool-define", file);
    VIRSH_RES_OK(&r, "pool-start", "iscn");
    VIRSH_RES_OK(&r, "vol-info", "unit:0:0:1", "--pool", "iscn", "--bytes");
    assertContains(r.out, "67108352 bytes");
}

static void
testIscsiDirectWrongSecret(void)
{
    g_autofree char *xml = NULL;
    g_autofree char *file = NULL;
    g_auto(VirshResult) r = {0};

    if (!netNeed(NET_STORAGE_ISCSI))
        return;
    xml = iscsiPoolXML("iscw", "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f07", netStorage.iscsiChapIqn,
                       CHAP_BAD_USAGE, 0);
    file = writeFile("iscw.xml", xml);
    VIRSH_RES_OK(&r, "pool-define", file);
    VIRSH(&r, "pool-start", "iscw");
    assertFails(&r, "error: internal error: Failed to login: Failed to log in to target. Status: "
                    "Authentication failure(513)");
    VIRSH_RES_OK(&r, "pool-list", "--inactive");
    assertContains(r.out, "iscw");
    VIRSH_RES_OK(&r, "pool-dumpxml", "iscw");
    assertSameXML(r.out, xml);
    VIRSH_RES_OK(&r, "pool-undefine", "iscw");

    /* an auth type the pool type does not take */
    g_free(xml);
    xml = g_strdup_printf("<pool type='iscsi-direct'><name>iscx</name><source>"
                          "<host name='127.0.0.1' port='%u'/><device path='%s'/>"
                          "<initiator><iqn name='" INITIATOR "'/></initiator>"
                          "<auth type='ceph' username='u'><secret usage='" CHAP_USAGE "'/></auth>"
                          "</source></pool>",
                          netStorage.iscsiPort, netStorage.iscsiChapIqn);
    g_free(file);
    file = writeFile("iscx.xml", xml);
    VIRSH(&r, "pool-create", file);
    assertFails(&r, "iscsi-direct pool only supports 'chap' auth type");
    VIRSH(&r, "pool-define-as", "--name", "noinit", "--type", "iscsi-direct", "--source-host",
          "127.0.0.1", "--source-dev", "iqn.x");
    assertFails(&r, "unsupported configuration: missing initiator IQN");
    VIRSH(&r, "pool-define-as", "--name", "nosrc", "--type", "rbd", "--source-host", "127.0.0.1");
    assertFails(&r, "XML error: element 'name' is mandatory for RBD pool");
    VIRSH_RES_OK(&r, "pool-list", "--all");
    g_assert_null(strstr(r.out, "iscx"));
    g_assert_null(strstr(r.out, "noinit"));
}

static char *
volumeDomainXML(const char *name, const char *pool, const char *vol)
{
    return g_strdup_printf("<domain type='qemu'>\n"
                           "  <name>%s</name>\n"
                           "  <memory unit='MiB'>64</memory>\n"
                           "  <vcpu>1</vcpu>\n"
                           "  <os>\n"
                           "    <type arch='x86_64' machine='pc'>hvm</type>\n"
                           "  </os>\n"
                           "  <devices>\n"
                           "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                           "    <disk type='volume' device='disk'>\n"
                           "      <driver name='qemu' type='raw'/>\n"
                           "      <source pool='%s' volume='%s'/>\n"
                           "      <target dev='vda' bus='virtio'/>\n"
                           "    </disk>\n"
                           "  </devices>\n"
                           "</domain>\n",
                           name, pool, vol);
}

/* A disk naming an iscsi-direct LUN opens the LUN itself through QEMU's iscsi driver (the
 * pool's portal, target, LUN and initiator); one naming an rbd image is refused. */
static void
testVolumeDisk(void)
{
    g_autofree char *xml = NULL;
    g_autofree char *file = NULL;
    g_autofree char *cmdline = NULL;
    g_autofree char *cmdPath = NULL;
    g_autofree char *expect = NULL;
    g_auto(VirshResult) r = {0};
    gsize len = 0;
    pid_t pid;

    if (!netNeed(NET_STORAGE_ISCSI))
        return;
    xml = volumeDomainXML("voldisk", "iscn", "unit:0:0:1");
    file = writeFile("voldisk.xml", xml);
    VIRSH_RES_OK(&r, "define", file);
    VIRSH_RES_OK(&r, "start", "voldisk");
    VIRSH_RES_OK(&r, "dumpxml", "voldisk");
    assertContains(r.out, "<disk type='volume' device='disk'>");
    assertContains(r.out, "<source pool='iscn' volume='unit:0:0:1' index='1'/>");
    pid = daemonDomainPid("voldisk");
    g_assert_cmpint(pid, >, 0);
    cmdPath = g_strdup_printf("/proc/%d/cmdline", pid);
    g_assert_true(g_file_get_contents(cmdPath, &cmdline, &len, NULL));
    for (gsize i = 0; i + 1 < len; i++) {
        if (cmdline[i] == '\0')
            cmdline[i] = ' ';
    }
    expect = g_strdup_printf("{\"driver\":\"iscsi\",\"portal\":\"127.0.0.1:%u\",\"target\":\"%s\","
                             "\"lun\":1,\"transport\":\"tcp\",\"initiator-name\":\"" INITIATOR
                             "\",\"node-name\":\"libvirt-1-storage\"",
                             netStorage.iscsiPort, netStorage.iscsiIqn);
    assertContains(cmdline, expect);
    VIRSH_RES_OK(&r, "destroy", "voldisk");
    VIRSH_RES_OK(&r, "undefine", "voldisk");

    /* with CHAP: the pool's credentials become the disk's, a secret object for QEMU */
    {
        g_autofree char *poolXML = iscsiPoolXML("iscc", "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f08",
                                                netStorage.iscsiChapIqn, CHAP_USAGE, 0);
        g_autofree char *poolFile = writeFile("iscc.xml", poolXML);
        g_autofree char *chapCmd = NULL;
        g_autofree char *chapPath = NULL;
        g_autofree char *user = NULL;

        VIRSH_RES_OK(&r, "pool-create", poolFile);
        g_free(xml);
        xml = volumeDomainXML("chapdisk", "iscc", "unit:0:0:1");
        g_free(file);
        file = writeFile("chapdisk.xml", xml);
        VIRSH_RES_OK(&r, "create", file);
        pid = daemonDomainPid("chapdisk");
        g_assert_cmpint(pid, >, 0);
        chapPath = g_strdup_printf("/proc/%d/cmdline", pid);
        g_assert_true(g_file_get_contents(chapPath, &chapCmd, &len, NULL));
        for (gsize i = 0; i + 1 < len; i++) {
            if (chapCmd[i] == '\0')
                chapCmd[i] = ' ';
        }
        g_free(expect);
        expect = g_strdup_printf("\"target\":\"%s\",\"lun\":1", netStorage.iscsiChapIqn);
        assertContains(chapCmd, expect);
        user = g_strdup_printf("\"user\":\"%s\",\"password-secret\":", netStorage.chapUser);
        assertContains(chapCmd, user);
        assertContains(chapCmd, "\"qom-type\":\"secret\"");
        /* never in clear */
        g_assert_null(strstr(chapCmd, netStorage.chapPassword));
        VIRSH_RES_OK(&r, "destroy", "chapdisk");
        VIRSH_RES_OK(&r, "pool-destroy", "iscc");
    }

    if (!netNeed(NET_STORAGE_CEPH))
        return;
    g_free(xml);
    xml = volumeDomainXML("rbddisk", "ceph", "base");
    g_free(file);
    file = writeFile("rbddisk.xml", xml);
    VIRSH_RES_OK(&r, "define", file);
    VIRSH(&r, "start", "rbddisk");
    assertFails(&r, "unsupported configuration: using 'rbd' pools for backing 'volume' disks "
                    "isn't yet supported");
    VIRSH_RES_OK(&r, "domstate", "rbddisk");
    assertContains(r.out, "shut off");
    VIRSH_RES_OK(&r, "undefine", "rbddisk");
}

/* Pools survive a daemon restart: the rbd pool comes back active, reaching its cluster
 * with the secret again. */
static void
testRestart(void)
{
    g_auto(VirshResult) r = {0};

    if (!netNeed(NET_STORAGE_CEPH))
        return;
    daemonStop();
    daemonStart(FALSE);
    VIRSH_RES_OK(&r, "pool-list");
    assertContains(r.out, "ceph");
    VIRSH_RES_OK(&r, "vol-list", "ceph");
    assertContains(r.out, "rbd/base");
    assertNoKeyLeft();
}

static gboolean
libvirtHasBackends(void)
{
    static const char *const modules[] = {
        "/usr/lib/x86_64-linux-gnu/libvirt/storage-backend/libvirt_storage_backend_rbd.so",
        "/usr/lib/x86_64-linux-gnu/libvirt/storage-backend/libvirt_storage_backend_iscsi-direct.so",
    };

    if (geteuid() != 0 || !g_file_test("/usr/sbin/libvirtd", G_FILE_TEST_IS_EXECUTABLE))
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(modules); i++) {
        if (!g_file_test(modules[i], G_FILE_TEST_EXISTS))
            return FALSE;
    }
    return TRUE;
}

/* The same script, in which "@@" separates the documents to compare, for both daemons:
 * every document and the errors must be equal. */
static void
testLibvirtDifferential(void)
{
    g_autofree char *ref = NULL;
    g_autofree char *run = NULL;
    g_autofree char *rbdXML = NULL;
    g_autofree char *iscXML = NULL;
    g_autofree char *theirs = NULL;
    g_autofree char *theirErr = NULL;
    g_autoptr(GString) script = g_string_new(NULL);
    g_autoptr(GString) ours = g_string_new(NULL);
    g_autoptr(GString) ourErr = g_string_new(NULL);
    const char *chownArgv[] = {"chown", "-R", "nobody", NULL, NULL};
    g_auto(GStrv) cmds = NULL;
    g_auto(GStrv) a = NULL;
    g_auto(GStrv) b = NULL;
    int rc;

    if (!netNeed(NET_STORAGE_CEPH) || !netNeed(NET_STORAGE_ISCSI))
        return;
    if (!libvirtHasBackends()) {
        g_test_skip("needs root (to run libvirt as nobody), libvirtd and libvirt's rbd and "
                    "iscsi-direct storage backends");
        return;
    }
    ref = g_build_filename(daemonEnv.root, "ref", NULL);
    run = g_build_filename(ref, "run", NULL);
    g_assert_cmpint(g_mkdir_with_parents(run, 0700), ==, 0);
    g_assert_cmpint(chmod(daemonEnv.root, 0755), ==, 0);
    rbdXML = rbdPoolXML("dceph", "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f11", CEPH_USAGE, NULL);
    iscXML = iscsiPoolXML("disc", "6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f12", netStorage.iscsiChapIqn,
                          CHAP_USAGE, 0);
    {
        g_autofree char *f1 = g_build_filename(ref, "rbd.xml", NULL);
        g_autofree char *f2 = g_build_filename(ref, "isc.xml", NULL);
        g_autofree char *f3 = g_build_filename(ref, "ceph.secret.xml", NULL);
        g_autofree char *f4 = g_build_filename(ref, "chap.secret.xml", NULL);
        g_autofree char *f5 = g_build_filename(ref, "ceph.key", NULL);
        g_autofree char *f6 = g_build_filename(ref, "chap.pw", NULL);

        g_assert_true(g_file_set_contents(f1, rbdXML, -1, NULL));
        g_assert_true(g_file_set_contents(f2, iscXML, -1, NULL));
        g_assert_true(g_file_set_contents(f3,
                                          "<secret ephemeral='no' private='yes' >"
                                          "<uuid>6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f21</uuid>"
                                          "<usage type='ceph'><name>" CEPH_USAGE
                                          "</name></usage></secret>",
                                          -1, NULL));
        g_assert_true(g_file_set_contents(f4,
                                          "<secret ephemeral='no' private='yes'>"
                                          "<uuid>6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f22</uuid>"
                                          "<usage type='iscsi'><target>" CHAP_USAGE
                                          "</target></usage></secret>",
                                          -1, NULL));
        g_assert_true(g_file_set_contents(f5, netStorage.cephAdminKey, -1, NULL));
        g_assert_true(g_file_set_contents(f6, netStorage.chapPassword, -1, NULL));
    }
    chownArgv[3] = ref;
    qvirTestRunOk(chownArgv);

    /* run from REF: the files are named relative to it */
    g_string_append(script,
                    "secret-define ceph.secret.xml ; secret-define chap.secret.xml ; "
                    "secret-set-value 6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f21 --file ceph.key ; "
                    "secret-set-value 6a1f0c3e-5b2d-4e8f-9a10-1b2c3d4e5f22 --file chap.pw --plain");
    g_string_append(script, " ; echo @@ ; pool-define rbd.xml ; pool-start dceph ; echo @@ ; "
                            "pool-dumpxml dceph ; echo @@ ; vol-dumpxml base --pool dceph ; "
                            "echo @@ ; vol-create-as dceph lvnew 10M ; echo @@ ; "
                            "vol-dumpxml lvnew --pool dceph ; echo @@ ; vol-delete lvnew "
                            "--pool dceph ; echo @@ ; vol-list dceph ; echo @@ ; "
                            "vol-create-as dceph q 10M --format qcow2 ; "
                            "pool-destroy dceph ; pool-undefine dceph");
    g_string_append(script, " ; echo @@ ; pool-define isc.xml ; pool-start disc ; echo @@ ; "
                            "pool-dumpxml disc ; echo @@ ; vol-dumpxml unit:0:0:0 --pool disc ; "
                            "echo @@ ; vol-dumpxml unit:0:0:1 --pool disc ; echo @@ ; "
                            "vol-list disc ; echo @@ ; vol-create-as disc x 1M ; "
                            "vol-delete unit:0:0:1 --pool disc ; pool-destroy disc ; "
                            "pool-undefine disc");
    {
        g_autofree char *cwd = g_get_current_dir();

        g_assert_cmpint(chdir(ref), ==, 0);
        rc = daemonLibvirtSessionVirsh(ref, script->str, &theirs, &theirErr);
        g_assert_cmpint(chdir(cwd), ==, 0);
    }
    /* the refusals make libvirt's virsh exit 1 */
    if (rc != 0 && rc != 1)
        g_error("libvirt's virsh failed (%d): %s%s", rc, theirs, theirErr);

    /* the same commands, one virsh each, against qvirtd (its secrets exist already) */
    cmds = g_strsplit(script->str, " ; echo @@ ; ", -1);
    for (guint i = 1; cmds[i]; i++) {
        g_auto(GStrv) steps = g_strsplit(cmds[i], " ; ", -1);

        g_string_append(ours, "@@");
        for (guint j = 0; steps[j]; j++) {
            g_auto(GStrv) words = g_strsplit(steps[j], " ", -1);
            g_auto(VirshResult) r = {0};

            for (guint k = 0; words[k]; k++) {
                if (g_str_has_suffix(words[k], ".xml")) {
                    g_autofree char *path = g_build_filename(ref, words[k], NULL);

                    g_free(words[k]);
                    words[k] = g_steal_pointer(&path);
                }
            }
            {
                g_autoptr(GPtrArray) args = g_ptr_array_new();

                /* quiet, as libvirt's virsh ran */
                g_ptr_array_add(args, (char *)"-q");
                for (guint k = 0; words[k]; k++)
                    g_ptr_array_add(args, words[k]);
                g_ptr_array_add(args, NULL);
                virshArgv(&r, (const char *const *)args->pdata);
            }
            g_string_append(ours, r.out);
            g_string_append(ourErr, r.err);
        }
    }
    a = g_strsplit(theirs, "@@", -1);
    b = g_strsplit(ours->str, "@@", -1);
    g_assert_cmpuint(g_strv_length(a), ==, g_strv_length(b));
    /* document 0 is the secrets' set-up */
    for (guint i = 1; a[i]; i++) {
        g_autofree char *x = g_strstrip(g_strdup(a[i]));
        g_autofree char *y = g_strstrip(g_strdup(b[i]));

        if (!g_str_equal(x, y))
            g_error("document %u: libvirt 9.0 and qvirtd differ:\n--- libvirt\n%s\n--- qvirtd\n%s",
                    i, x, y);
    }
    /* the same refusals in the same words */
    assertContains(theirErr, "only RAW volumes are supported by this storage pool");
    g_assert_cmpstr(ourErr->str, ==, theirErr);
}

int
main(int argc, char **argv)
{
    static const NetStorageKind kinds[] = {NET_STORAGE_ISCSI, NET_STORAGE_CEPH};
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (getuid() != 0) {
        /* tgtd and a Ceph cluster need root */
        printf("1..0 # SKIP netpooltest runs as root (as CI does)\n");
        return 0;
    }
    /* this program's ports (23000-23999), apart from netdisktest's */
    g_setenv("QVIRT_NETTEST_PORT_BASE", "23000", FALSE);
    daemonEnvInit("qvirt-netpool");
    netStorageInit();
    for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
        GError **err = &startErrors[g_bit_nth_lsf(kinds[i], -1)];

        if (netStorageStart(kinds[i], err))
            g_test_message("%s servers started in %.2f s", netStorageKindName(kinds[i]),
                           netStorageStartTime(kinds[i]));
        else
            g_test_message("%s servers: %s", netStorageKindName(kinds[i]), (*err)->message);
    }
    daemonStart(FALSE);
    if (netStorage.started & NET_STORAGE_CEPH) {
        defineSecret("ceph", CEPH_USAGE, netStorage.cephAdminKey, TRUE);
        defineSecret("ceph", CEPH_BAD_USAGE, MALFORMED_CEPH_KEY, TRUE);
    }
    if (netStorage.started & NET_STORAGE_ISCSI) {
        defineSecret("iscsi", CHAP_USAGE, netStorage.chapPassword, FALSE);
        defineSecret("iscsi", CHAP_BAD_USAGE, "not-the-password", FALSE);
    }

    g_test_add_func("/netpool/rbd/pool", testRbdPool);
    g_test_add_func("/netpool/rbd/refresh-allocation", testRbdRefreshAllocation);
    g_test_add_func("/netpool/rbd/wrong-secret", testRbdWrongSecret);
    g_test_add_func("/netpool/iscsi-direct/pool", testIscsiDirectPool);
    g_test_add_func("/netpool/iscsi-direct/no-auth", testIscsiDirectNoAuth);
    g_test_add_func("/netpool/iscsi-direct/wrong-secret", testIscsiDirectWrongSecret);
    g_test_add_func("/netpool/disk/volume", testVolumeDisk);
    g_test_add_func("/netpool/libvirt/differential", testLibvirtDifferential);
    g_test_add_func("/netpool/daemon/restart", testRestart);
    ret = g_test_run();

    if (daemonEnv.pid)
        daemonStop();
    daemonEnvCleanup();
    netStorageStop();
    for (guint i = 0; i < G_N_ELEMENTS(startErrors); i++)
        g_clear_error(&startErrors[i]);
    return ret;
}
