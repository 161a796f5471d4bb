/*
 * storage_driver.h: libvirt's storage pools and volumes for dir and fs pools, and for rbd
 * and iscsi-direct pools on network storage (storage_backend_net.h).
 *
 * A pool is a directory (dir) or a filesystem mounted on one (fs); its volumes are the
 * regular files in it, probed on every refresh (format, virtual size, the backing file
 * the image records). Persistent pools are kept as CONFIGDIR/NAME.xml (autostart: a link
 * in CONFIGDIR/autostart), active ones as STATEDIR/NAME.xml, all written atomically, as
 * libvirt's storage driver keeps /etc/libvirt/storage and /run/libvirt/storage. Images
 * are made and changed with qemu-img, as libvirt does.
 *
 * Pools are named by UUID, volumes by pool name and volume name. One lock guards the
 * whole driver; the calls that run qemu-img hold it for that time.
 */
#pragma once

#include <glib.h>

#include "conf/storage_pool_conf.h"
#include "conf/storage_vol_conf.h"
#include "secret/secret_driver.h"

typedef struct _qvirStorageDriver qvirStorageDriver;

typedef struct {
    char *name;
    guint8 uuid[16];
} qvirStoragePoolRef;

typedef struct {
    char *pool;
    char *name;
    char *key; /* the path */
} qvirStorageVolRef;

void qvirStoragePoolRefFree(qvirStoragePoolRef *ref);
void qvirStorageVolRefFree(qvirStorageVolRef *ref);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirStoragePoolRef, qvirStoragePoolRefFree);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirStorageVolRef, qvirStorageVolRefFree);

/* libvirt's virStoragePoolState */
typedef enum {
    QVIR_STORAGE_POOL_INACTIVE = 0,
    QVIR_STORAGE_POOL_BUILDING = 1,
    QVIR_STORAGE_POOL_RUNNING = 2,
} qvirStoragePoolState;

typedef struct {
    int state;
    guint64 capacity, allocation, available;
} qvirStoragePoolInfo;

/* flags of libvirt's storage API qvirt honours */
#define QVIR_STORAGE_XML_INACTIVE (1u << 0)
#define QVIR_STORAGE_POOL_BUILD_NO_OVERWRITE (1u << 2)
#define QVIR_STORAGE_POOL_BUILD_OVERWRITE (1u << 3)
#define QVIR_STORAGE_POOL_CREATE_WITH_BUILD (1u << 0)
#define QVIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE (1u << 1)
#define QVIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE (1u << 2)
#define QVIR_STORAGE_VOL_CREATE_PREALLOC_METADATA (1u << 0)
#define QVIR_STORAGE_VOL_RESIZE_ALLOCATE (1u << 0)
#define QVIR_STORAGE_VOL_RESIZE_DELTA (1u << 1)
#define QVIR_STORAGE_VOL_RESIZE_SHRINK (1u << 2)
#define QVIR_STORAGE_VOL_GET_PHYSICAL (1u << 0)
#define QVIR_STORAGE_VOL_STREAM_SPARSE (1u << 0)

/* Open the driver over CONFIGDIR and STATEDIR (made when missing): pools that were
 * active are active again (and refreshed), autostart pools are started; a pool that
 * fails is logged and left inactive. QEMUIMG: the qemu-img to run (NULL: from PATH). */
qvirStorageDriver *qvirStorageDriverOpen(const char *configDir, const char *stateDir,
                                         const char *qemuImg, GError **error);
/* As qvirStorageDriverOpen, with SECRETS (not owned; must outlive the driver) resolving
 * network pools' <auth> secrets. */
qvirStorageDriver *qvirStorageDriverOpenWithSecrets(const char *configDir, const char *stateDir,
                                                    const char *qemuImg, qvirSecretDriver *secrets,
                                                    GError **error);
void qvirStorageDriverClose(qvirStorageDriver *drv);

/* ---- pools ---- */
/* Refs of the pools libvirt's virConnectListAllStoragePools FLAGS select. */
GPtrArray *qvirStorageListAllPools(qvirStorageDriver *drv, guint flags);
/* Names of the active (ACTIVE) or inactive pools. */
GPtrArray *qvirStorageListPoolNames(qvirStorageDriver *drv, gboolean active);
/* How many pools are active (ACTIVE) or inactive. */
int qvirStorageNumOfPools(qvirStorageDriver *drv, gboolean active);

qvirStoragePoolRef *qvirStoragePoolLookupByName(qvirStorageDriver *drv, const char *name,
                                                GError **error);
qvirStoragePoolRef *qvirStoragePoolLookupByUUID(qvirStorageDriver *drv, const guint8 *uuid,
                                                GError **error);
qvirStoragePoolRef *qvirStoragePoolLookupByTargetPath(qvirStorageDriver *drv, const char *path,
                                                      GError **error);
qvirStoragePoolRef *qvirStoragePoolLookupByVolume(qvirStorageDriver *drv, const char *pool,
                                                  GError **error);

qvirStoragePoolRef *qvirStoragePoolDefineXML(qvirStorageDriver *drv, const char *xml, guint flags,
                                             GError **error);
qvirStoragePoolRef *qvirStoragePoolCreateXML(qvirStorageDriver *drv, const char *xml, guint flags,
                                             GError **error);
gboolean qvirStoragePoolUndefine(qvirStorageDriver *drv, const guint8 *uuid, GError **error);
gboolean qvirStoragePoolCreate(qvirStorageDriver *drv, const guint8 *uuid, guint flags,
                               GError **error);
gboolean qvirStoragePoolBuild(qvirStorageDriver *drv, const guint8 *uuid, guint flags,
                              GError **error);
gboolean qvirStoragePoolDestroy(qvirStorageDriver *drv, const guint8 *uuid, GError **error);
gboolean qvirStoragePoolDelete(qvirStorageDriver *drv, const guint8 *uuid, guint flags,
                               GError **error);
gboolean qvirStoragePoolRefresh(qvirStorageDriver *drv, const guint8 *uuid, guint flags,
                                GError **error);
gboolean qvirStoragePoolGetInfo(qvirStorageDriver *drv, const guint8 *uuid,
                                qvirStoragePoolInfo *info, GError **error);
char *qvirStoragePoolGetXMLDesc(qvirStorageDriver *drv, const guint8 *uuid, guint flags,
                                GError **error);
/* -1 on error, else 0/1 */
int qvirStoragePoolGetAutostart(qvirStorageDriver *drv, const guint8 *uuid, GError **error);
gboolean qvirStoragePoolSetAutostart(qvirStorageDriver *drv, const guint8 *uuid, gboolean autostart,
                                     GError **error);
int qvirStoragePoolIsActive(qvirStorageDriver *drv, const guint8 *uuid, GError **error);
int qvirStoragePoolIsPersistent(qvirStorageDriver *drv, const guint8 *uuid, GError **error);
int qvirStoragePoolNumOfVolumes(qvirStorageDriver *drv, const guint8 *uuid, GError **error);
/* Names (VOLS FALSE) or qvirStorageVolRefs (VOLS TRUE) of the volumes, sorted by name. */
GPtrArray *qvirStoragePoolListVolumes(qvirStorageDriver *drv, const guint8 *uuid, gboolean refs,
                                      GError **error);
/* qvirStorageVolRefs of the volumes, as libvirt's virStoragePoolListAllVolumes (which
 * has no flags yet). */
GPtrArray *qvirStoragePoolListAllVolumes(qvirStorageDriver *drv, const guint8 *uuid, guint flags,
                                         GError **error);

/* ---- volumes ---- */
qvirStorageVolRef *qvirStorageVolLookupByName(qvirStorageDriver *drv, const guint8 *poolUUID,
                                              const char *name, GError **error);
qvirStorageVolRef *qvirStorageVolLookupByKey(qvirStorageDriver *drv, const char *key,
                                             GError **error);
qvirStorageVolRef *qvirStorageVolLookupByPath(qvirStorageDriver *drv, const char *path,
                                              GError **error);
qvirStorageVolRef *qvirStorageVolCreateXML(qvirStorageDriver *drv, const guint8 *poolUUID,
                                           const char *xml, guint flags, GError **error);
/* A copy of SRCPOOL's volume SRCNAME as XML describes it (qemu-img convert). */
qvirStorageVolRef *qvirStorageVolCreateXMLFrom(qvirStorageDriver *drv, const guint8 *poolUUID,
                                               const char *xml, const char *srcPool,
                                               const char *srcName, guint flags, GError **error);
gboolean qvirStorageVolDelete(qvirStorageDriver *drv, const char *pool, const char *name,
                              guint flags, GError **error);
gboolean qvirStorageVolWipe(qvirStorageDriver *drv, const char *pool, const char *name,
                            guint algorithm, guint flags, GError **error);
/* TYPE: libvirt's virStorageVolType (file 0). */
gboolean qvirStorageVolGetInfo(qvirStorageDriver *drv, const char *pool, const char *name,
                               guint flags, int *type, guint64 *capacity, guint64 *allocation,
                               GError **error);
char *qvirStorageVolGetXMLDesc(qvirStorageDriver *drv, const char *pool, const char *name,
                               guint flags, GError **error);
char *qvirStorageVolGetPath(qvirStorageDriver *drv, const char *pool, const char *name,
                            GError **error);
gboolean qvirStorageVolResize(qvirStorageDriver *drv, const char *pool, const char *name,
                              guint64 capacity, guint flags, GError **error);

/*
 * Data transfer: the file of POOL's volume NAME opened for an upload (writing) or a
 * download (reading), at OFFSET, with LENGTH the most to transfer (0: to the end);
 * the caller streams it and closes the fd, then (upload) calls qvirStorageVolTransferDone
 * so the volume's sizes are read again. Returns the fd, -1 on error.
 */
int qvirStorageVolOpenTransfer(qvirStorageDriver *drv, const char *pool, const char *name,
                               gboolean upload, guint64 offset, guint64 length, guint flags,
                               guint64 *lengthOut, GError **error);
void qvirStorageVolTransferDone(qvirStorageDriver *drv, const char *pool, const char *name);

/*
 * Resolve a disk of type='volume' (libvirt's virDomainDiskTranslateSourcePool): SRC's
 * pool must exist and be active and hold the volume; SRC becomes the volume's file
 * (TYPE and PATH), or for an iscsi-direct pool the iSCSI network source (protocol, host,
 * IQN/LUN, auth, initiator), keeping the pool and volume names its XML shows; an rbd
 * pool's volume is refused as libvirt 9.0 refuses it. Anything else is left alone. DRV NULL: no
 * storage driver, a volume cannot be resolved.
 */
gboolean qvirStorageTranslateDiskSource(qvirStorageDriver *drv, qvirStorageSource *src,
                                        GError **error);
