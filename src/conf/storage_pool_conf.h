/*
 * storage_pool_conf.h: libvirt's storage pool XML (storagepool.rng) for the pool types
 * qvirt serves, dir and fs on local storage, rbd and iscsi-direct on network storage: parse (syntax
 * only), validate (semantics) and format, kept apart as for domains. The live numbers (capacity,
 * allocation, available) are the driver's; the definition only carries them to the formatter.
 */
#pragma once

#include <glib.h>

#include "conf/storage_source_conf.h"
#include "util/virenum.h"

typedef enum {
    QVIR_STORAGE_POOL_DIR,
    QVIR_STORAGE_POOL_FS,
    QVIR_STORAGE_POOL_RBD,          /* a Ceph RADOS pool's images */
    QVIR_STORAGE_POOL_ISCSI_DIRECT, /* an iSCSI target's LUNs, through libiscsi's tools */
    QVIR_STORAGE_POOL_LAST
} qvirStoragePoolType;
QVIR_ENUM_DECL(qvirStoragePoolType);

/* libvirt's virStoragePoolFormatFileSystem, in its order. */
typedef enum {
    QVIR_STORAGE_POOL_FS_AUTO,
    QVIR_STORAGE_POOL_FS_EXT2,
    QVIR_STORAGE_POOL_FS_EXT3,
    QVIR_STORAGE_POOL_FS_EXT4,
    QVIR_STORAGE_POOL_FS_UFS,
    QVIR_STORAGE_POOL_FS_ISO,
    QVIR_STORAGE_POOL_FS_UDF,
    QVIR_STORAGE_POOL_FS_GFS,
    QVIR_STORAGE_POOL_FS_GFS2,
    QVIR_STORAGE_POOL_FS_VFAT,
    QVIR_STORAGE_POOL_FS_HFSPLUS,
    QVIR_STORAGE_POOL_FS_XFS,
    QVIR_STORAGE_POOL_FS_OCFS2,
    QVIR_STORAGE_POOL_FS_VMFS,
    QVIR_STORAGE_POOL_FS_LAST
} qvirStoragePoolFsFormat;
QVIR_ENUM_DECL(qvirStoragePoolFsFormat);

/* <refresh><volume allocation=>: how an rbd pool counts a volume's allocation. */
typedef enum {
    QVIR_STORAGE_POOL_REFRESH_NONE = 0, /* no <refresh>: every object the image may have */
    QVIR_STORAGE_POOL_REFRESH_DEFAULT,  /* the extents in use, when fast-diff knows them */
    QVIR_STORAGE_POOL_REFRESH_CAPACITY, /* as NONE */
    QVIR_STORAGE_POOL_REFRESH_LAST
} qvirStoragePoolRefreshAlloc;
QVIR_ENUM_DECL(qvirStoragePoolRefreshAlloc); /* "", "default", "capacity" */

/* <permissions>; -1 (mode, owner, group) = not given. */
typedef struct {
    int mode;
    gint64 owner;
    gint64 group;
    char *label;
} qvirStoragePerms;

void qvirStoragePermsClear(qvirStoragePerms *perms);

/* <source><host name= port=/>; PORT 0: not given. */
typedef struct {
    char *name;
    unsigned int port;
} qvirStoragePoolHost;

typedef struct {
    qvirStoragePoolType type;
    char *name;
    guint8 uuid[16];
    char *sourceDevice; /* fs: <source><device path=>; iscsi-direct: the target's IQN */
    /* network pools: <host>s, <name> (rbd: the RADOS pool), <initiator><iqn name=>
     * (iscsi-direct) and <auth> (AUTH->authType says ceph or chap) */
    qvirStoragePoolHost *hosts;
    size_t nhosts;
    char *sourceName;
    char *initiatorIQN;
    qvirStorageAuth *auth;
    qvirStoragePoolRefreshAlloc refreshAllocation;
    qvirStoragePoolFsFormat sourceFormat;
    gboolean sourceFormatSet;
    char *targetPath; /* cleaned: no doubled or trailing slashes; NULL for network pools */
    qvirStoragePerms perms;

    /* live numbers, bytes; set by the driver before formatting */
    guint64 capacity;
    guint64 allocation;
    guint64 available;
} qvirStoragePoolDef;

void qvirStoragePoolDefFree(qvirStoragePoolDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirStoragePoolDef, qvirStoragePoolDefFree);

/* XML -> definition (a missing UUID is generated). Syntax errors in libvirt's words. */
qvirStoragePoolDef *qvirStoragePoolDefParseString(const char *xml, GError **error);

/* TRUE for the pool types whose volumes live on network storage (no <target>). */
gboolean qvirStoragePoolTypeIsNetwork(qvirStoragePoolType type);

/* What the parser cannot judge alone: the fields each pool type needs. */
gboolean qvirStoragePoolDefValidate(const qvirStoragePoolDef *def, GError **error);

/* libvirt's layout (storagepool.rng), two-space indent, trailing newline. Never fails. */
char *qvirStoragePoolDefFormat(const qvirStoragePoolDef *def);

/* Formatting helpers the volume XML shares. */
void qvirStoragePermsFormat(GString *buf, const qvirStoragePerms *perms, const char *indent);
gboolean qvirStoragePermsParse(void *node, qvirStoragePerms *perms, GError **error);

/* PATH without doubled and trailing slashes, as libvirt stores target paths. */
char *qvirStoragePathClean(const char *path);

/* libvirt's scaled integers: VALUE in UNIT (NULL: bytes) -> bytes; FALSE on overflow or
 * an unknown unit. */
gboolean qvirStorageScaleInteger(const char *value, const char *unit, guint64 *bytes,
                                 GError **error, const char *what);
