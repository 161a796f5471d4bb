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
    QVIR_STORAGE_TYPE_NETWORK, /* protocol backing (nbd:, json:, URI): reported, never opened */
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

typedef struct _qvirStorageSource qvirStorageSource;
struct _qvirStorageSource {
    qvirStorageType type;
    char *path;    /* <source file=> or <source dev=>; absolute once resolved */
    char *relPath; /* the backing name exactly as the overlay stores it (NULL for a disk's top) */
    qvirStorageFileFormat format;
    unsigned int id; /* index='N' in live XML; 0 = not assigned */

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

    qvirStorageSource *backingStore;
};

qvirStorageSource *qvirStorageSourceNew(void);
/* Frees the whole chain below SRC as well. */
void qvirStorageSourceFree(qvirStorageSource *src);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirStorageSource, qvirStorageSourceFree);

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
