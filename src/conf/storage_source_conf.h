/*
 * storage_source_conf.h: one layer of a disk's storage, and the chain of them.
 *
 * A disk's chain is a singly linked list from the top image down:
 *   disk->src -> src->backingStore -> ... -> terminator
 * Following libvirt's convention:
 *   - backingStore == NULL         the chain below this layer is unknown (never probed,
 *                                  not written in the XML); QEMU opens it itself.
 *   - backingStore->type == NONE   a terminator: this layer has no backing image
 *                                  (formatted as an empty <backingStore/>).
 * Parsing lives in src/conf (XML), probing in src/storage (image headers).
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "util/virenum.h"

typedef enum {
    QVIR_STORAGE_TYPE_NONE = 0, /* terminator / empty cdrom */
    QVIR_STORAGE_TYPE_FILE,
    QVIR_STORAGE_TYPE_BLOCK,
    QVIR_STORAGE_TYPE_NETWORK, /* <disk type='network'>: PROTOCOL and the network fields say
                                * where; opened by QEMU's block drivers, never by qvirt. A
                                * probed backing string not (yet) understood keeps PROTOCOL
                                * NONE and the raw string in PATH. */
    QVIR_STORAGE_TYPE_LAST
} qvirStorageType;
QVIR_ENUM_DECL(qvirStorageType); /* "", "file", "block", "network" */

/* Image formats, as libvirt spells them in <driver type=> and <format type=>. */
typedef enum {
    QVIR_STORAGE_FILE_NONE = 0, /* not known (yet) */
    QVIR_STORAGE_FILE_RAW,
    QVIR_STORAGE_FILE_ISO,
    QVIR_STORAGE_FILE_QCOW,
    QVIR_STORAGE_FILE_QCOW2,
    QVIR_STORAGE_FILE_QED,
    QVIR_STORAGE_FILE_VMDK,
    QVIR_STORAGE_FILE_VPC,
    QVIR_STORAGE_FILE_VDI,
    QVIR_STORAGE_FILE_VHDX,
    QVIR_STORAGE_FILE_LUKS,
    QVIR_STORAGE_FILE_LAST
} qvirStorageFileFormat;
QVIR_ENUM_DECL(qvirStorageFileFormat); /* "none", "raw", "iso", "qcow", "qcow2", ... */

/* <source mode=> of a disk naming a volume (libvirt's virStorageSourcePoolMode). */
typedef enum {
    QVIR_STORAGE_POOL_MODE_DEFAULT = 0,
    QVIR_STORAGE_POOL_MODE_HOST,
    QVIR_STORAGE_POOL_MODE_DIRECT,
    QVIR_STORAGE_POOL_MODE_LAST
} qvirStoragePoolMode;
QVIR_ENUM_DECL(qvirStoragePoolMode); /* "default", "host", "direct" */

/* <source protocol=> of a network disk, in libvirt's order (virStorageNetProtocol). */
typedef enum {
    QVIR_STORAGE_NET_PROTOCOL_NONE = 0,
    QVIR_STORAGE_NET_PROTOCOL_NBD,
    QVIR_STORAGE_NET_PROTOCOL_RBD,
    QVIR_STORAGE_NET_PROTOCOL_SHEEPDOG,
    QVIR_STORAGE_NET_PROTOCOL_GLUSTER,
    QVIR_STORAGE_NET_PROTOCOL_ISCSI,
    QVIR_STORAGE_NET_PROTOCOL_HTTP,
    QVIR_STORAGE_NET_PROTOCOL_HTTPS,
    QVIR_STORAGE_NET_PROTOCOL_FTP,
    QVIR_STORAGE_NET_PROTOCOL_FTPS,
    QVIR_STORAGE_NET_PROTOCOL_TFTP,
    QVIR_STORAGE_NET_PROTOCOL_SSH,
    QVIR_STORAGE_NET_PROTOCOL_VXHS,
    QVIR_STORAGE_NET_PROTOCOL_NFS,
    QVIR_STORAGE_NET_PROTOCOL_LAST
} qvirStorageNetProtocol;
QVIR_ENUM_DECL(qvirStorageNetProtocol); /* "none", "nbd", "rbd", "sheepdog", "gluster", ... */

/* <host transport=>: tcp is the default and is written out in formatted XML. */
typedef enum {
    QVIR_STORAGE_NET_HOST_TRANS_TCP = 0,
    QVIR_STORAGE_NET_HOST_TRANS_UNIX,
    QVIR_STORAGE_NET_HOST_TRANS_RDMA,
    QVIR_STORAGE_NET_HOST_TRANS_LAST
} qvirStorageNetHostTransport;
QVIR_ENUM_DECL(qvirStorageNetHostTransport); /* "tcp", "unix", "rdma" */

/* One <host name= port= transport= socket=/>. PORT 0: not given (a default port is filled
 * in at parse time for protocols that have one, as libvirt does); SOCKET only for unix. */
typedef struct {
    char *name;
    unsigned int port;
    qvirStorageNetHostTransport transport;
    char *socket;
} qvirStorageNetHost;

/* One <cookies><cookie name=>VALUE</cookie> of an http(s) source. */
typedef struct {
    char *name;
    char *value;
} qvirStorageNetCookie;

/* <auth type=>: only storage pools write it; a disk's <auth> leaves it NONE and says what
 * kind of credential it is through <secret type=>. */
typedef enum {
    QVIR_STORAGE_AUTH_TYPE_NONE = 0,
    QVIR_STORAGE_AUTH_TYPE_CHAP,
    QVIR_STORAGE_AUTH_TYPE_CEPHX,
    QVIR_STORAGE_AUTH_TYPE_LAST
} qvirStorageAuthType;
QVIR_ENUM_DECL(qvirStorageAuthType); /* "none", "chap", "ceph" */

/* <auth username=><secret type= uuid=|usage=/></auth>. Exactly one of SECRET_UUID (the
 * canonical lower-case form) and SECRET_USAGE is set. SECRET_TYPE is kept as the user wrote
 * it ("iscsi", "ceph"; NULL when absent): validation checks it against the protocol. */
typedef struct {
    char *username;
    qvirStorageAuthType authType;
    char *secretType;
    char *secretUUID;
    char *secretUsage;
} qvirStorageAuth;

/* <encryption format= engine=><secret type='passphrase' uuid=|usage=/></encryption> of a
 * disk layer (libvirt 9.0). */
typedef enum {
    QVIR_STORAGE_ENCRYPTION_FORMAT_DEFAULT = 0,
    QVIR_STORAGE_ENCRYPTION_FORMAT_QCOW,
    QVIR_STORAGE_ENCRYPTION_FORMAT_LUKS,
    QVIR_STORAGE_ENCRYPTION_FORMAT_LUKS2,
    QVIR_STORAGE_ENCRYPTION_FORMAT_LAST
} qvirStorageEncryptionFormat;
QVIR_ENUM_DECL(qvirStorageEncryptionFormat); /* "default", "qcow", "luks", "luks2" */

typedef enum {
    QVIR_STORAGE_ENCRYPTION_ENGINE_DEFAULT = 0,
    QVIR_STORAGE_ENCRYPTION_ENGINE_QEMU,
    QVIR_STORAGE_ENCRYPTION_ENGINE_LIBRBD,
    QVIR_STORAGE_ENCRYPTION_ENGINE_LAST
} qvirStorageEncryptionEngine;
QVIR_ENUM_DECL(qvirStorageEncryptionEngine); /* "default", "qemu", "librbd" */

/* One <secret>: libvirt's only secret type is "passphrase". Exactly one of UUID (canonical
 * form) and USAGE is set. */
typedef struct {
    char *uuid;
    char *usage;
} qvirStorageEncryptionSecret;

typedef struct {
    qvirStorageEncryptionFormat format;
    qvirStorageEncryptionEngine engine;
    qvirStorageEncryptionSecret *secrets;
    size_t nsecrets;
    gboolean hasCipher; /* a <cipher> was written: refused for a domain disk */
} qvirStorageEncryption;

void qvirStorageEncryptionFree(qvirStorageEncryption *enc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirStorageEncryption, qvirStorageEncryptionFree);
qvirStorageEncryption *qvirStorageEncryptionCopy(const qvirStorageEncryption *enc);

/* A per-source <seclabel model= relabel=|labelskip=><label/></seclabel>: how one security
 * model treats this layer. MODEL NULL: whichever model the domain uses. LABEL is the
 * model's own label ("user:group" for dac), NULL when absent. LABELSKIP is live-only. */
typedef struct {
    char *model;
    gboolean relabel;
    gboolean labelskip;
    char *label;
} qvirSecurityDeviceLabel;

typedef struct _qvirStorageSource qvirStorageSource;
struct _qvirStorageSource {
    qvirStorageType type;
    char *path;    /* <source file=> or <source dev=>; absolute once resolved */
    char *relPath; /* the backing name exactly as the overlay stores it (NULL for a disk's top) */
    qvirStorageFileFormat format;
    unsigned int id; /* index='N' in live XML; 0 = not assigned */
    /* An empty source left by an eject: libvirt 9.0 prepares it like new media, so it has
     * an index that live XML shows (<source index='N'/>); a drive empty since the start
     * has none to show. */
    gboolean ejected;

    gboolean readonly;
    gboolean shared;

    /* A disk of type='volume' (top layer only): the user named a storage pool's volume.
     * TYPE stays NONE until the storage driver resolves it at start or attach, which
     * sets TYPE and PATH to the volume's file; the XML keeps showing pool and volume.
     * POOLNAME NULL: a cdrom without media. */
    gboolean volume;
    char *poolName;
    char *volName;
    qvirStoragePoolMode poolMode;

    /* TRUE when this layer was written by the user in the domain XML (a <backingStore>
     * element); probed layers leave it FALSE. The inactive XML shows a chain only as far
     * as it came from the user's XML, so a probed chain never becomes persistent config. */
    gboolean fromXML;

    /* type == NETWORK: <source protocol= name= query= tls= tlsHostname=> and its children.
     * For rbd and gluster, NAME="pool/image" is split as libvirt splits it: NETVOLUME holds the
     * pool (gluster volume) and PATH the image inside it; other protocols keep NAME in PATH
     * (PATH NULL: an nbd export without a name). */
    qvirStorageNetProtocol protocol;
    char *netVolume;
    char *query; /* http(s) query string, without '?' */
    qvirStorageNetHost *hosts;
    size_t nhosts;
    qvirStorageAuth *auth; /* NULL: no <auth> */
    /* <encryption> of this layer (any type); NULL: none */
    qvirStorageEncryption *encryption;
    char *initiatorIQN; /* iscsi <initiator><iqn name=>, NULL when absent */
    char *snapshot;     /* rbd <snapshot name=> */
    char *configFile;   /* rbd <config file=> */
    qvirStorageNetCookie *cookies;
    size_t ncookies;
    qvirTristateBool sslverify;   /* https/ftps <ssl verify=> */
    unsigned long long readahead; /* http(s)/ftp(s) <readahead size=> bytes; 0 = not given */
    unsigned long long timeout;   /* http(s)/ftp(s) <timeout seconds=>; 0 = not given */
    qvirTristateBool haveTLS;     /* nbd (and vxhs) tls='yes|no' */
    /* haveTLS was filled in at start from the daemon's default, not written by the user:
     * the live XML shows it, a migratable/inactive view does not (status XML keeps it) */
    gboolean tlsFromConfig;
    char *tlsHostname; /* nbd tlsHostname= */
    char *nfsUser;     /* nfs <identity user= group=>, as written ("+UID" allowed) */
    char *nfsGroup;
    /* ssh has no XML of its own in libvirt 9.0: these come only from a backing string
     * (json:{"driver":"ssh","user":…,"host-key-check":{"mode":"none"}}) and are passed on
     * to QEMU unchanged. */
    char *sshUser;
    gboolean sshHostKeyCheckDisabled;

    /* <seclabel> children of <source>, in document order (models unique) */
    qvirSecurityDeviceLabel *seclabels;
    size_t nseclabels;

    /* Filled by probing (src/storage); 0 / NULL / NONE when unknown. */
    unsigned long long capacity;         /* virtual size in bytes */
    char *backingStoreRaw;               /* backing name stored in this image's header */
    qvirStorageFileFormat backingFormat; /* backing format recorded in the header */
    gboolean encrypted;
    dev_t dev; /* identity of the opened file, for loop detection */
    ino_t ino;

    /* <metadata_cache><max_size> of this layer's format in bytes (qcow2 cache-size);
     * 0 = QEMU's default. */
    unsigned long long metadataCacheMaxSize;

    /* QEMU node names ("libvirt-N-storage" / "libvirt-N-format") while in use. */
    char *nodeStorage;
    char *nodeFormat;
    /* virDomainSetBlockThreshold named this layer as "vda[N]": its event then names it
     * only so, not also as the disk (runtime only, as the node names). */
    gboolean thresholdEventWithIndex;

    qvirStorageSource *backingStore;
};

qvirStorageSource *qvirStorageSourceNew(void);
/* Frees the whole chain below SRC as well. */
void qvirStorageSourceFree(qvirStorageSource *src);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirStorageSource, qvirStorageSourceFree);

/* DST (kept at its address) becomes SRC, which is consumed; what DST held before, the
 * chain below it included, is freed. */
void qvirStorageSourceMoveInto(qvirStorageSource *dst, qvirStorageSource *src);

/* A deep copy of SRC and everything below it. */
qvirStorageSource *qvirStorageSourceCopy(const qvirStorageSource *src);

/* TRUE for a real layer (file/block/network), FALSE for NULL and terminators. */
gboolean qvirStorageSourceIsBacking(const qvirStorageSource *src);
/* TRUE when the chain below SRC is fully known and ends in a terminator. */
gboolean qvirStorageSourceChainIsTerminated(const qvirStorageSource *src);
/* Number of real layers from SRC down. */
unsigned int qvirStorageSourceChainLength(const qvirStorageSource *src);
/* Drop everything below SRC (the chain becomes unknown). */
void qvirStorageSourceChainClear(qvirStorageSource *src);

/* TRUE when SRC is a network layer (type NETWORK with a protocol). */
gboolean qvirStorageSourceIsNetwork(const qvirStorageSource *src);
/* A network host's port as libvirt reads one, from XML or a backing name: decimal digits up
 * to 65535; NULL is 0 (not given). */
gboolean qvirStorageNetHostParsePort(const char *str, unsigned int *port, GError **error);
/* libvirt's default port for PROTOCOL's tcp hosts; 0 when it has none (rbd: librados
 * chooses; nfs: no port may be given). */
unsigned int qvirStorageNetProtocolDefaultPort(qvirStorageNetProtocol protocol);
/* Give every tcp host of SRC without a port the protocol's default (libvirt does this when
 * it parses, so the formatted XML shows the port). */
void qvirStorageSourceNetworkAssignDefaultPorts(qvirStorageSource *src);
void qvirStorageAuthFree(qvirStorageAuth *auth);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirStorageAuth, qvirStorageAuthFree);
qvirStorageAuth *qvirStorageAuthCopy(const qvirStorageAuth *auth);
void qvirStorageNetHostClear(qvirStorageNetHost *host);
/* SRC's <seclabel> for MODEL ("dac"), NULL when it has none. */
const qvirSecurityDeviceLabel *qvirStorageSourceGetSecurityLabel(const qvirStorageSource *src,
                                                                 const char *model);
