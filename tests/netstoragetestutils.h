/*
 * netstoragetestutils.h: real network storage servers for end-to-end tests, started once
 * per test program on loopback and stopped at its end (also when an assertion aborts it):
 *
 *   NBD    qemu-nbd on TCP (read-only raw export "base"), on a unix socket (writable raw
 *          export "rw"), on TCP with TLS x509 (client certificate required), and nbdkit's
 *          file plugin serving every file of a directory as an export of that name
 *   iSCSI  tgtd (userspace) with two targets: one without authentication, one with CHAP
 *   HTTP   a range-capable static file server, plain and TLS (self-signed certificate)
 *   Ceph   a single-node cluster: one mon, one OSD on memstore, pool "rbd" of size 1,
 *          cephx on, no mgr, every address pinned to 127.0.0.1
 *
 * Every base image is 64 MiB of raw data carrying a known pattern: 0xab in its first MiB
 * and 0xcd in the MiB at 32 MiB, zeros elsewhere.
 *
 * Every server is a child of the test program (foreground, with PR_SET_PDEATHSIG), so a
 * test killed outright takes them with it and nothing waits for PID 1 to reap. Ports come
 * from QVIRT_NETTEST_PORT_BASE (default 20000): NBD base+809..812, iSCSI base+260, HTTP
 * base+80 and base+443, Ceph mon base+300 (v2) and base+789 (v1), OSD base+800..809.
 */
#pragma once

#include <glib.h>

typedef enum {
    NET_STORAGE_NBD = 1 << 0,
    NET_STORAGE_ISCSI = 1 << 1,
    NET_STORAGE_HTTP = 1 << 2,
    NET_STORAGE_CEPH = 1 << 3,
} NetStorageKind;

#define NET_STORAGE_ALL (NET_STORAGE_NBD | NET_STORAGE_ISCSI | NET_STORAGE_HTTP | NET_STORAGE_CEPH)

/* The known pattern of every base image. */
#define NET_PATTERN_SIZE (64 * 1024 * 1024)
#define NET_PATTERN_A 0xab /* at 0, 1 MiB */
#define NET_PATTERN_B 0xcd /* at 32 MiB, 1 MiB */

typedef struct {
    char *dir; /* everything lives here; removed at the end */
    guint portBase;

    /* NBD */
    guint nbdPort;       /* qemu-nbd, export "base", read-only */
    guint nbdTlsPort;    /* qemu-nbd, export "base", TLS x509, read-only */
    guint nbdkitPort;    /* nbdkit file dir=nbdkitDir: export NAME is file NAME, writable */
    char *nbdSocket;     /* qemu-nbd, export "rw", writable raw copy of the base */
    char *nbdkitDir;     /* holds base.raw at start; tests may add files */
    char *nbdTlsCertDir; /* client side: ca-cert.pem, client-cert.pem, client-key.pem */
    char *nbdTlsServerDir;

    /* iSCSI (tgtd) */
    guint iscsiPort;
    int iscsiControlPort; /* tgtadm -C */
    char *iscsiIqn;       /* no auth; LUN 1: writable copy of the base */
    char *iscsiChapIqn;   /* CHAP; LUN 1: writable copy of the base */
    char *chapUser;
    char *chapPassword;

    /* HTTP(S): base.raw and base.qcow2 (a qcow2 copy, no backing) under / */
    guint httpPort;
    guint httpsPort;
    char *httpDir;

    /* Ceph */
    guint cephMonPort; /* msgr v1 */
    guint cephMonV2Port;
    char *cephConf; /* for the rbd/ceph command line tools */
    /* for QEMU (conf=): a wrong key fails after 3 s; librados retries it for 300 s
     * (client mount timeout) otherwise, and QEMU hangs that long */
    char *cephClientConf;
    char *cephUser; /* "qvirt": mon 'profile rbd', osd 'profile rbd pool=rbd' */
    char *cephKey;  /* its cephx key, base64 as ceph-authtool prints it */
    char *cephAdminKey;
    /* pool "rbd", image "base": the pattern */

    NetStorageKind started;
    double startSeconds[4]; /* per kind, in the order of the enum bits */
} NetStorage;

extern NetStorage netStorage;

/* The directory and the cleanup hooks (fatal signals, atexit); called by Start. */
void netStorageInit(void);

/* Start one kind of server (not yet started); FALSE with ERROR naming the failed step and
 * quoting the server's log. A missing program is NET_STORAGE_ERROR_MISSING. */
gboolean netStorageStart(NetStorageKind kind, GError **error);

/* Kill every server, wait for each, remove every file. Safe to call more than once. */
void netStorageStop(void);

/* "NBD", "iSCSI", "HTTP", "Ceph" */
const char *netStorageKindName(NetStorageKind kind);

/* Seconds the start of KIND took (0 when not started). */
double netStorageStartTime(NetStorageKind kind);

#define NET_STORAGE_ERROR (netStorageErrorQuark())
GQuark netStorageErrorQuark(void);
enum {
    NET_STORAGE_ERROR_MISSING, /* a server program is not installed */
    NET_STORAGE_ERROR_FAILED,
};

/* Run ARGV (an rbd/ceph/qemu-img command line); FALSE with its stderr in ERROR. */
gboolean netStorageRun(const char *const *argv, char **out, GError **error);

/* rbd with the cluster's conf as client.admin: e.g. {"create", "--size", "64M", "rbd/x"} */
gboolean netStorageRbd(const char *const *args, GError **error);

/* The qemu-img/qemu-io filename of rbd image POOL/IMAGE as client.admin. */
char *netStorageRbdFilename(const char *image);

/* Write the known pattern into the image FILENAME (qemu-io -f FMT), e.g. after creating
 * an rbd image. */
gboolean netStorageWritePattern(const char *filename, const char *fmt, GError **error);

/* qemu-io read -P of both pattern ranges (and zeros between): TRUE when FILENAME holds the
 * pattern. FMT may be NULL (probed); a FILENAME starting "driver=" is --image-opts; OBJECT,
 * when not NULL, is a --object (a secret, TLS credentials). */
gboolean netStorageHasPattern(const char *object, const char *filename, const char *fmt,
                              GError **error);
