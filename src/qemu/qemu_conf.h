/*
 * qemu_conf.h: the daemon's configuration (qvirtd.conf) and its paths.
 */
#pragma once

#include <glib.h>

#include "util/virenum.h"

/* libvirtd.conf's auth_* values. qvirtd has no SASL and no polkit: only "none" is served,
 * the others are known so that a libvirt configuration is refused by name. */
typedef enum {
    QVIR_CONF_AUTH_NONE = 0,
    QVIR_CONF_AUTH_SASL,
    QVIR_CONF_AUTH_POLKIT,
    QVIR_CONF_AUTH_LAST
} qvirConfAuth;
QVIR_ENUM_DECL(qvirConfAuth);

/* libvirt's port for unencrypted TCP (libvirtd.conf's tcp_port). */
#define QVIR_CONF_DEFAULT_TCP_PORT 16509

typedef struct {
    char *root;       /* --root DIR, or NULL */
    char *configDir;  /* root: /etc/qvirt; --root: DIR/etc */
    char *stateDir;   /* /var/lib/qvirt;  DIR/lib   (per-domain data: stateDir/qemu/...) */
    char *runDir;     /* /run/qvirt;      DIR/run   (socket, status files, monitors) */
    char *cacheDir;   /* /var/cache/qvirt; DIR/cache (capabilities cache) */
    char *logDir;     /* /var/log/qvirt;  DIR/log */
    char *socketPath; /* runDir/qvirt-sock */
    char *defsDir;    /* persistent definitions: configDir/qemu/NAME.xml */
    char *statusDir;  /* live status: runDir/qemu/NAME.xml */
    /* runDir/qvirt-sock-ro: read-only connections, mode 0666 */
    char *socketPathRO;

    gboolean allowDiskFormatProbing;    /* allow_disk_format_probing = false */
    gboolean probeNetworkBackingChains; /* probe_network_backing_chains = false */
    unsigned int maxBackingChainDepth;  /* max_backing_chain_depth = 200 */
    int defaultDiskCache;               /* default_disk_cache; -1 = unset (QEMU's default) */
    char *emulator;                     /* emulator = /usr/bin/qemu-system-x86_64 */
    /* Who QEMU runs as when the daemon is root (src/security/security_dac.h); a daemon
     * that is not root runs QEMU as itself and ignores these. */
    char *user;                         /* user = qvirt-qemu ("+UID" or a name; root only
                                         * when written) */
    char *group;                        /* group = qvirt-qemu */
    gboolean dynamicOwnership;          /* dynamic_ownership = true */
    gboolean rememberOwner;             /* remember_owner = true */
    gboolean clearEmulatorCapabilities; /* clear_emulator_capabilities = true */
    gboolean mountNamespace;            /* namespaces = mount (a private /dev; empty: off) */
    /* NBD disks' TLS (libvirt's qemu.conf keys): nbd_tls = false is what a disk without
     * tls= gets; the client certificates are in nbd_tls_x509_cert_dir (NULL: /etc/pki/qemu)
     * and the key's passphrase, if any, in the secret nbd_tls_x509_secret_uuid. */
    gboolean nbdTLS;
    char *nbdTLSx509certdir;
    char *nbdTLSx509secretUUID;
    /* The same for tcp serials and consoles (chardev_tls*); chardev_tls_x509_verify = true
     * (libvirt's default_tls_x509_verify) makes a listening one check client certificates. */
    gboolean chardevTLS;
    char *chardevTLSx509certdir;
    gboolean chardevTLSx509verify;
    char *chardevTLSx509secretUUID;
    /* host_uuid: the UUID this daemon's host has for migration and capabilities (two
     * daemons on one machine stand for two hosts); NULL: read from the machine. */
    char *hostUUID;
    /* migration_port_min / migration_port_max = 49152 / 49215: where incoming migrations
     * and disk copies (NBD) listen, as libvirt's qemu.conf keys. */
    unsigned int migrationPortMin;
    unsigned int migrationPortMax;
    /* libvirtd.conf's TCP listener: listen_tcp = false, tcp_port = 16509, listen_addr (NULL:
     * every interface, as libvirtd) and auth_tcp = "sasl" (libvirt's default where it is
     * built with SASL): a TCP listener needs auth_tcp = "none" written out. */
    gboolean listenTCP;
    unsigned int tcpPort;
    char *listenAddr;
    int authTCP; /* qvirConfAuth */
    /* qemu.conf's keepalive_interval = 5 (<= 0: no keepalive) and keepalive_count = 5: the
     * connection a peer-to-peer migration opens to the destination daemon. */
    int keepAliveInterval;
    unsigned int keepAliveCount;
} qvirDriverConfig;

/* Paths for ROOT (NULL: root's or the XDG paths), defaults for every key. */
qvirDriverConfig *qvirDriverConfigNew(const char *root);
void qvirDriverConfigFree(qvirDriverConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirDriverConfig, qvirDriverConfigFree);

/* Read configDir/qvirtd.conf if present (GKeyFile, group [qvirtd]); unknown keys and bad
 * values are errors naming the key. */
gboolean qvirDriverConfigLoad(qvirDriverConfig *cfg, const char *path, GError **error);
/* Create every directory the daemon writes to. */
gboolean qvirDriverConfigMakeDirs(const qvirDriverConfig *cfg, GError **error);
