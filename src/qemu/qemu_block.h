/*
 * qemu_block.h: -blockdev / blockdev-add properties for one chain layer, shared by the
 * command line (cold start) and hot-plug, so both produce identical nodes.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"

/* Storage ("file"/"host_device") node properties of local layer SRC of DISK. */
JsonNode *qemuBlockStorageSourceGetBackendProps(const qvirDomainDiskDef *disk,
                                                const qvirStorageSource *src, const qemuCaps *caps);
/* The same for any layer, network ones included ("nbd", "rbd", "iscsi", ... with libvirt
 * 9.0's keys); NULL with an error for a network layer QEMU cannot be given (one host
 * where the protocol takes one, an unparsed backing string). */
JsonNode *qemuBlockStorageSourceGetBackendPropsFull(const qvirDomainDiskDef *disk,
                                                    const qvirStorageSource *src,
                                                    const qemuCaps *caps, GError **error);

/*
 * The name an overlay records for backing layer SRC, as libvirt writes it: a local
 * layer's path; a network layer's URI ("nbd://host:10809/exp", "iscsi://host:3260/iqn/1")
 * where that says everything, else "json:{"file":{...}}" with the storage node's
 * properties minus credentials (secrets stay with the domain, never in an image).
 */
char *qemuBlockGetBackingStoreString(const qvirStorageSource *src, GError **error);

/* libvirt's default_tls_x509_cert_dir, where nbd's client certificates are looked for */
#define QEMU_BLOCK_DEFAULT_TLS_X509_CERT_DIR "/etc/pki/qemu"

/*
 * A secret's value by UUID (NULL: by USAGETYPE "iscsi"/"ceph"/"tls" and USAGEID), as the
 * secrets driver answers it (qvirSecretLookupValue); NULL with an error when there is none.
 */
typedef GBytes *(*qemuSecretLookupFunc)(void *opaque, const char *uuid, const char *usageType,
                                        const char *usageID, GError **error);

/* What the objects beside a network layer need: where secret values come from and the key
 * QEMU's masterKey0 holds, to encrypt them with. */
typedef struct {
    qemuSecretLookupFunc lookup;
    void *opaque;
    const guint8 *masterKey; /* QVIR_CRYPTO_AES256_KEY_LEN bytes; NULL: none (secrets fail) */
    /* tests: the IV is the bytes 0..15, as libvirt's tests mock random bytes */
    gboolean fixedIV;
    const char *nbdTLSx509certdir;    /* NULL: QEMU_BLOCK_DEFAULT_TLS_X509_CERT_DIR */
    const char *nbdTLSx509secretUUID; /* the client key's passphrase secret, or NULL */
    /* The same for tcp character devices (qemu.conf's chardev_tls*): with chardevTLS a
     * tcp source without tls= uses TLS; chardevTLSx509verify makes a listening one check
     * its clients' certificates. */
    gboolean chardevTLS;
    const char *chardevTLSx509certdir; /* NULL: QEMU_BLOCK_DEFAULT_TLS_X509_CERT_DIR */
    gboolean chardevTLSx509verify;
    const char *chardevTLSx509secretUUID;
} qemuBlockSecretCtx;

/* The secret object ALIAS (AES-encrypted with the master key) for the value the secrets
 * driver has for UUID, or for USAGETYPE and USAGEID. */
JsonObject *qemuBlockLookupSecretObject(const char *alias, const qemuBlockSecretCtx *sctx,
                                        const char *uuid, const char *usageType,
                                        const char *usageID, GError **error);

/* A tls-creds-x509 object as libvirt builds it (qemuBuildTLSx509BackendProps): a client
 * always verifies its peer, a server (LISTEN) when VERIFY; PASSWORDID names the secret
 * with the key's passphrase (NULL: none). */
JsonObject *qemuBlockTLSCredsObject(const char *alias, const char *dir, gboolean listen,
                                    gboolean verify, const char *passwordid);

/* Aliases of a layer's objects, as libvirt names them after the storage node:
 * "libvirt-N-storage-WHAT-secret0" and "objlibvirt-N-storage_tls0". */
char *qemuBlockSecretAlias(const qvirStorageSource *src, const char *what);
char *qemuBlockTLSAlias(const qvirStorageSource *src);
/* "libvirt-N-format-encryption-secret0": the LUKS passphrase of SRC, named after its format
 * node as libvirt names it (also for librbd, which decrypts in the storage node). */
char *qemuBlockEncryptionSecretAlias(const qvirStorageSource *src);

/*
 * The objects layer SRC's storage node refers to, to be created before it (-object on
 * the command line, object-add when hot-plugging): the auth secret, the LUKS passphrase
 * secret (of its format node, also for a local layer), the http cookie secret, the TLS key
 * secret and TLS credentials, in that order, appended to OBJECTS (JsonNode*). Secret values
 * are looked up through SCTX and encrypted with the master key.
 */
gboolean qemuBlockStorageSourceGetDepObjects(const qvirStorageSource *src,
                                             const qemuBlockSecretCtx *sctx, GPtrArray *objects,
                                             GError **error);
/* Their ids (char*), in the order to delete them. */
void qemuBlockStorageSourceGetDepObjectIds(const qvirStorageSource *src,
                                           const qemuBlockSecretCtx *sctx, GPtrArray *ids);
/* Format node properties; "backing" links to src->backingStore's format node (null at a known end).
 */
JsonNode *qemuBlockStorageSourceGetFormatProps(const qvirDomainDiskDef *disk,
                                               const qvirStorageSource *src, const qemuCaps *caps);
/* Serialise JSON properties compactly, in insertion order, as libvirt's argv shows them. */
char *qemuBlockJSONToString(JsonNode *props);
/* Set OBJ's string member KEY to VALUE, taking ownership of VALUE. */
void qemuJSONSetStrFree(JsonObject *obj, const char *key, char *value);

/* Formats whose format node takes a "backing" property (qcow, qcow2, qed, vmdk). */
gboolean qemuBlockFormatSupportsBacking(qvirStorageFileFormat format);
/* detect-zeroes as QEMU gets it ("unmap" becomes "on" without discard=unmap); NULL = default. */
const char *qemuBlockDetectZeroesValue(const qvirDomainDiskDef *disk);

/* libvirt's overlay of a <transient/> disk: IMAGEPATH.TRANSIENT-DOMNAME, beside the image. */
char *qemuBlockTransientOverlayPath(const char *imagePath, const char *domName);
/*
 * Delete the overlay of transient DISK (of domain DOMNAME) when its top is exactly that
 * overlay over its image, so never the image itself (a start that failed before the
 * overlay was made leaves the image on top).
 */
void qemuBlockRemoveTransientOverlay(const qvirDomainDiskDef *disk, const char *domName);
