/*
 * netdisktest.c: network disks end to end, on real servers started once for the whole
 * program (tests/netstoragetestutils.h): NBD (qemu-nbd tcp, unix, TLS; nbdkit), iSCSI
 * (tgtd, with CHAP), HTTP(S) and a single-node Ceph cluster (cephx).
 *
 * First each server is proved with QEMU's own tools (qemu-io reads the known pattern
 * through the network, and a client without the right credentials is refused), so a
 * failure there is the fixture's, not qvirt's.
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "netstoragetestutils.h"
#include "testutils.h"

/* Why each kind of server could not start; NULL once it runs. */
static GError *startErrors[4];

static GError **
netStartError(NetStorageKind kind)
{
    return &startErrors[g_bit_nth_lsf(kind, -1)];
}

/* The servers of KIND run, or this case is skipped (a program missing) or fails (any other
 * reason), saying why. */
static gboolean
netNeed(NetStorageKind kind)
{
    GError *err = *netStartError(kind);

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

static void
assertPattern(const char *object, const char *filename, const char *fmt)
{
    g_autoptr(GError) err = NULL;

    if (!netStorageHasPattern(object, filename, fmt, &err))
        g_error("%s", err->message);
}

/* A client that must be refused: qemu-io fails, its error containing NEEDLE. */
static void
assertRefused(const char *object, const char *filename, const char *fmt, const char *needle)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(netStorageHasPattern(object, filename, fmt, &err));
    if (!strstr(err->message, needle))
        g_error("expected '%s' in: %s", needle, err->message);
}

/* ---- the servers themselves, through qemu-io ---- */

static void
testFixtureNbd(void)
{
    g_autofree char *tcp = NULL;
    g_autofree char *unix_ = NULL;
    g_autofree char *kit = NULL;
    g_autofree char *tls = NULL;
    g_autofree char *tlsObj = NULL;

    if (!netNeed(NET_STORAGE_NBD))
        return;
    tcp = g_strdup_printf("nbd://127.0.0.1:%u/base", netStorage.nbdPort);
    unix_ = g_strdup_printf("nbd+unix:///rw?socket=%s", netStorage.nbdSocket);
    kit = g_strdup_printf("nbd://127.0.0.1:%u/base.raw", netStorage.nbdkitPort);
    tls = g_strdup_printf("driver=raw,file.driver=nbd,file.server.type=inet,"
                          "file.server.host=127.0.0.1,file.server.port=%u,file.export=base,"
                          "file.tls-creds=tls0",
                          netStorage.nbdTlsPort);
    tlsObj =
        g_strdup_printf("tls-creds-x509,id=tls0,endpoint=client,dir=%s", netStorage.nbdTlsCertDir);
    assertPattern(NULL, tcp, "raw");
    assertPattern(NULL, unix_, "raw");
    assertPattern(NULL, kit, "raw");
    assertPattern(tlsObj, tls, NULL);
    /* the TLS server refuses a plaintext client */
    {
        g_autofree char *plain = g_strdup_printf("nbd://127.0.0.1:%u/base", netStorage.nbdTlsPort);

        assertRefused(NULL, plain, "raw", "TLS");
    }
}

static void
testFixtureIscsi(void)
{
    g_autofree char *url = NULL;
    g_autofree char *chap = NULL;
    g_autofree char *secret = NULL;
    g_autofree char *noauth = NULL;

    if (!netNeed(NET_STORAGE_ISCSI))
        return;
    url = g_strdup_printf("iscsi://127.0.0.1:%u/%s/1", netStorage.iscsiPort, netStorage.iscsiIqn);
    chap = g_strdup_printf("driver=raw,file.driver=iscsi,file.transport=tcp,"
                           "file.portal=127.0.0.1:%u,file.target=%s,file.lun=1,file.user=%s,"
                           "file.password-secret=chap0",
                           netStorage.iscsiPort, netStorage.iscsiChapIqn, netStorage.chapUser);
    secret = g_strdup_printf("secret,id=chap0,data=%s", netStorage.chapPassword);
    noauth =
        g_strdup_printf("iscsi://127.0.0.1:%u/%s/1", netStorage.iscsiPort, netStorage.iscsiChapIqn);
    assertPattern(NULL, url, "raw");
    assertPattern(secret, chap, NULL);
    assertRefused(NULL, noauth, "raw", "iSCSI");
    {
        g_autofree char *wrong = g_strdup("secret,id=chap0,data=not-the-password");

        assertRefused(wrong, chap, NULL, "iSCSI");
    }
}

static void
testFixtureHttp(void)
{
    g_autofree char *raw = NULL;
    g_autofree char *qcow2 = NULL;
    g_autofree char *tls = NULL;

    if (!netNeed(NET_STORAGE_HTTP))
        return;
    raw = g_strdup_printf("http://127.0.0.1:%u/base.raw", netStorage.httpPort);
    qcow2 = g_strdup_printf("http://127.0.0.1:%u/base.qcow2", netStorage.httpPort);
    tls = g_strdup_printf("driver=qcow2,file.driver=https,file.sslverify=off,"
                          "file.url=https://127.0.0.1:%u/base.qcow2",
                          netStorage.httpsPort);
    assertPattern(NULL, raw, "raw");
    assertPattern(NULL, qcow2, "qcow2");
    assertPattern(NULL, tls, NULL);
    /* a self-signed certificate is refused unless verification is off */
    {
        g_autofree char *verify =
            g_strdup_printf("https://127.0.0.1:%u/base.raw", netStorage.httpsPort);

        assertRefused(NULL, verify, "raw", "certificate");
    }
}

static void
testFixtureCeph(void)
{
    g_autofree char *opts = NULL;
    g_autofree char *secret = NULL;
    g_autofree char *wrong = NULL;

    if (!netNeed(NET_STORAGE_CEPH))
        return;
    /* no ceph.conf on QEMU's side: monitors and key come from the options */
    opts = g_strdup_printf("driver=raw,file.driver=rbd,file.pool=rbd,file.image=base,"
                           "file.server.0.host=127.0.0.1,file.server.0.port=%u,file.user=%s,"
                           "file.key-secret=sec0",
                           netStorage.cephMonPort, netStorage.cephUser);
    secret = g_strdup_printf("secret,id=sec0,format=base64,data=%s", netStorage.cephKey);
    /* a valid key of another entity */
    wrong = g_strdup_printf("secret,id=sec0,format=base64,data=%s", netStorage.cephAdminKey);
    assertPattern(secret, opts, NULL);
    {
        g_autofree char *quick =
            g_strdup_printf("%s,file.conf=%s", opts, netStorage.cephClientConf);

        assertRefused(wrong, quick, NULL, "error connecting");
    }
}

int
main(int argc, char **argv)
{
    static const NetStorageKind kinds[] = {NET_STORAGE_NBD, NET_STORAGE_ISCSI, NET_STORAGE_HTTP,
                                           NET_STORAGE_CEPH};
    int ret;

    g_test_init(&argc, &argv, NULL);
    netStorageInit();
    for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
        if (netStorageStart(kinds[i], netStartError(kinds[i])))
            g_test_message("%s servers started in %.2f s", netStorageKindName(kinds[i]),
                           netStorageStartTime(kinds[i]));
    }

    if (g_getenv("QVIRT_NETTEST_HOLD")) {
        /* debugging: keep the servers up for a look by hand */
        g_printerr("servers under %s; ceph key %s\n", netStorage.dir, netStorage.cephKey);
        g_usleep(atoi(g_getenv("QVIRT_NETTEST_HOLD")) * G_USEC_PER_SEC);
    }
    g_test_add_func("/netdisk/fixture/nbd", testFixtureNbd);
    g_test_add_func("/netdisk/fixture/iscsi", testFixtureIscsi);
    g_test_add_func("/netdisk/fixture/http", testFixtureHttp);
    g_test_add_func("/netdisk/fixture/ceph", testFixtureCeph);
    ret = g_test_run();
    netStorageStop();
    for (guint i = 0; i < G_N_ELEMENTS(startErrors); i++)
        g_clear_error(&startErrors[i]);
    return ret;
}
