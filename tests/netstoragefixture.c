/*
 * netstoragefixture: the network storage servers of netstoragetestutils.h for scripts
 * (bench/netchain, debugging by hand).
 *
 *   netstoragefixture nbd|iscsi|http|ceph...
 *
 * Starts the servers named, prints what a client needs as shell assignments (NET_DIR=...,
 * NBD_PORT=..., CEPH_KEY=... and NET_START_<KIND>=seconds), then a line READY, and keeps
 * them up until its standard input ends (or SIGTERM/SIGINT): then it stops every server
 * and removes every file.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netstoragetestutils.h"

static void
printVar(const char *name, const char *value)
{
    g_autofree char *quoted = g_shell_quote(value ? value : "");

    printf("%s=%s\n", name, quoted);
}

static void
printPort(const char *name, guint port)
{
    printf("%s=%u\n", name, port);
}

int
main(int argc, char **argv)
{
    NetStorageKind kinds = 0;
    char buf[256];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "nbd") == 0)
            kinds |= NET_STORAGE_NBD;
        else if (strcmp(argv[i], "iscsi") == 0)
            kinds |= NET_STORAGE_ISCSI;
        else if (strcmp(argv[i], "http") == 0)
            kinds |= NET_STORAGE_HTTP;
        else if (strcmp(argv[i], "ceph") == 0)
            kinds |= NET_STORAGE_CEPH;
        else {
            fprintf(stderr, "usage: %s nbd|iscsi|http|ceph...\n", argv[0]);
            return 2;
        }
    }
    netStorageInit();
    for (NetStorageKind k = NET_STORAGE_NBD; k <= NET_STORAGE_CEPH; k <<= 1) {
        g_autoptr(GError) err = NULL;
        g_autofree char *upper = NULL;

        if (!(kinds & k))
            continue;
        if (!netStorageStart(k, &err)) {
            fprintf(stderr, "netstoragefixture: %s\n", err->message);
            netStorageStop();
            return 1;
        }
        upper = g_ascii_strup(netStorageKindName(k), -1);
        printf("NET_START_%s=%.2f\n", upper, netStorageStartTime(k));
    }
    printVar("NET_DIR", netStorage.dir);
    if (kinds & NET_STORAGE_NBD) {
        printPort("NBD_PORT", netStorage.nbdPort);
        printPort("NBD_TLS_PORT", netStorage.nbdTlsPort);
        printPort("NBDKIT_PORT", netStorage.nbdkitPort);
        printVar("NBDKIT_DIR", netStorage.nbdkitDir);
        printVar("NBD_SOCKET", netStorage.nbdSocket);
        printVar("NBD_TLS_CERT_DIR", netStorage.nbdTlsCertDir);
    }
    if (kinds & NET_STORAGE_ISCSI) {
        printPort("ISCSI_PORT", netStorage.iscsiPort);
        printVar("ISCSI_IQN", netStorage.iscsiIqn);
        printVar("ISCSI_CHAP_IQN", netStorage.iscsiChapIqn);
        printVar("CHAP_USER", netStorage.chapUser);
        printVar("CHAP_PASSWORD", netStorage.chapPassword);
    }
    if (kinds & NET_STORAGE_HTTP) {
        printPort("HTTP_PORT", netStorage.httpPort);
        printPort("HTTPS_PORT", netStorage.httpsPort);
        printVar("HTTP_DIR", netStorage.httpDir);
    }
    if (kinds & NET_STORAGE_CEPH) {
        printPort("CEPH_MON_PORT", netStorage.cephMonPort);
        printVar("CEPH_CONF", netStorage.cephConf);
        printVar("CEPH_CLIENT_CONF", netStorage.cephClientConf);
        printVar("CEPH_USER", netStorage.cephUser);
        printVar("CEPH_KEY", netStorage.cephKey);
    }
    printf("READY\n");
    fflush(stdout);
    while (fgets(buf, sizeof(buf), stdin))
        ;
    netStorageStop();
    return 0;
}
