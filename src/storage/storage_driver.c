/*
 * storage_driver.c: dir and fs storage pools and their file volumes (storage_driver.h).
 */
#include "storage/storage_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <glib/gstdio.h>

#include "conf/domain_conf.h"
#include "storage/storage_backend_net.h"
#include "storage/storage_file.h"
#include "storage/storage_run.h"
#include "util/virerror.h"
#include "util/virfile.h"

/* virConnectListAllStoragePools filters */
#define LIST_INACTIVE (1u << 0)
#define LIST_ACTIVE (1u << 1)
#define LIST_PERSISTENT (1u << 2)
#define LIST_TRANSIENT (1u << 3)
#define LIST_AUTOSTART (1u << 4)
#define LIST_NO_AUTOSTART (1u << 5)
#define LIST_DIR (1u << 6)
#define LIST_FS (1u << 7)
#define LIST_RBD (1u << 14)
#define LIST_ISCSI_DIRECT (1u << 19)

typedef struct {
    qvirStoragePoolDef *def;    /* what runs (or would run) */
    qvirStoragePoolDef *newDef; /* persistent config defined while active, applied at stop */
    gboolean active;
    gboolean persistent;
    gboolean autostart;
    GPtrArray *vols; /* qvirStorageVolDef, sorted by name */
    /* Volumes being made (qemu-img runs without the driver lock): their names. While
     * any is, the pool cannot stop, be refreshed or go away (libvirt's async jobs). */
    GPtrArray *building;
} qvirStoragePoolObj;

struct _qvirStorageDriver {
    GMutex lock;
    char *configDir;
    char *autostartDir;
    char *stateDir;
    char *qemuImg;
    qvirSecretDriver *secrets; /* network pools' <auth>; not owned, may be NULL */
    GPtrArray *pools;          /* qvirStoragePoolObj */
};

void
qvirStoragePoolRefFree(qvirStoragePoolRef *ref)
{
    if (!ref)
        return;
    g_free(ref->name);
    g_free(ref);
}

void
qvirStorageVolRefFree(qvirStorageVolRef *ref)
{
    if (!ref)
        return;
    g_free(ref->pool);
    g_free(ref->name);
    g_free(ref->key);
    g_free(ref);
}

static void
qvirStoragePoolObjFree(qvirStoragePoolObj *obj)
{
    qvirStoragePoolDefFree(obj->def);
    qvirStoragePoolDefFree(obj->newDef);
    g_ptr_array_unref(obj->vols);
    g_ptr_array_unref(obj->building);
    g_free(obj);
}

static qvirStoragePoolRef *
qvirStoragePoolMakeRef(const qvirStoragePoolObj *obj)
{
    qvirStoragePoolRef *ref = g_new0(qvirStoragePoolRef, 1);

    ref->name = g_strdup(obj->def->name);
    memcpy(ref->uuid, obj->def->uuid, sizeof(ref->uuid));
    return ref;
}

static qvirStorageVolRef *
qvirStorageVolMakeRef(const qvirStoragePoolObj *obj, const qvirStorageVolDef *vol)
{
    qvirStorageVolRef *ref = g_new0(qvirStorageVolRef, 1);

    ref->pool = g_strdup(obj->def->name);
    ref->name = g_strdup(vol->name);
    ref->key = g_strdup(vol->key);
    return ref;
}

/* ---- finding things (lock held) ---- */

static qvirStoragePoolObj *
qvirStorageFindByName(qvirStorageDriver *drv, const char *name)
{
    for (guint i = 0; i < drv->pools->len; i++) {
        qvirStoragePoolObj *obj = g_ptr_array_index(drv->pools, i);

        if (g_str_equal(obj->def->name, name))
            return obj;
    }
    return NULL;
}

static qvirStoragePoolObj *
qvirStorageFindByUUID(qvirStorageDriver *drv, const guint8 *uuid)
{
    for (guint i = 0; i < drv->pools->len; i++) {
        qvirStoragePoolObj *obj = g_ptr_array_index(drv->pools, i);

        if (memcmp(obj->def->uuid, uuid, 16) == 0)
            return obj;
    }
    return NULL;
}

static qvirStoragePoolObj *
qvirStorageGetPool(qvirStorageDriver *drv, const guint8 *uuid, GError **error)
{
    qvirStoragePoolObj *obj = qvirStorageFindByUUID(drv, uuid);
    char str[QVIR_UUID_STRING_BUFLEN];

    if (obj)
        return obj;
    qvirUUIDFormat(uuid, str);
    g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_POOL,
                "Storage pool not found: no storage pool with matching uuid '%s'", str);
    return NULL;
}

static gboolean
qvirStorageCheckActive(const qvirStoragePoolObj *obj, GError **error)
{
    if (obj->active)
        return TRUE;
    g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                "Requested operation is not valid: storage pool '%s' is not active",
                obj->def->name);
    return FALSE;
}

/* Refuse to stop, refresh or remove OBJ while volumes are being made in it. */
static gboolean
qvirStorageCheckNoJobs(const qvirStoragePoolObj *obj, GError **error)
{
    if (obj->building->len == 0)
        return TRUE;
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                "internal error: pool '%s' has asynchronous jobs running.", obj->def->name);
    return FALSE;
}

static gboolean
qvirStorageVolIsBuilding(const qvirStoragePoolObj *obj, const char *name)
{
    for (guint i = 0; i < obj->building->len; i++) {
        if (g_str_equal(g_ptr_array_index(obj->building, i), name))
            return TRUE;
    }
    return FALSE;
}

static qvirStorageVolDef *
qvirStoragePoolFindVol(const qvirStoragePoolObj *obj, const char *name)
{
    for (guint i = 0; i < obj->vols->len; i++) {
        qvirStorageVolDef *vol = g_ptr_array_index(obj->vols, i);

        if (g_str_equal(vol->name, name))
            return vol;
    }
    return NULL;
}

/* POOL's volume NAME, in an active pool (see qvirStorageGetReadyVol). */
static qvirStorageVolDef *
qvirStorageGetVol(qvirStorageDriver *drv, const char *pool, const char *name,
                  qvirStoragePoolObj **objOut, GError **error)
{
    qvirStoragePoolObj *obj = qvirStorageFindByName(drv, pool);
    qvirStorageVolDef *vol;

    if (!obj) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_POOL,
                    "Storage pool not found: no storage pool with matching name '%s'", pool);
        return NULL;
    }
    if (!qvirStorageCheckActive(obj, error))
        return NULL;
    if (!(vol = qvirStoragePoolFindVol(obj, name))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_VOL,
                    "Storage volume not found: no storage vol with matching name '%s'", name);
        return NULL;
    }
    if (objOut)
        *objOut = obj;
    return vol;
}

/* As qvirStorageGetVol, for operations on the volume's data: not while it is made. */
static qvirStorageVolDef *
qvirStorageGetReadyVol(qvirStorageDriver *drv, const char *pool, const char *name,
                       qvirStoragePoolObj **objOut, GError **error)
{
    qvirStoragePoolObj *obj = NULL;
    qvirStorageVolDef *vol = qvirStorageGetVol(drv, pool, name, &obj, error);

    if (vol && qvirStorageVolIsBuilding(obj, name)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: volume '%s' is still being allocated.",
                    name);
        return NULL;
    }
    if (objOut)
        *objOut = obj;
    return vol;
}

/* ---- files of the driver ---- */

static char *
qvirStorageConfigFile(qvirStorageDriver *drv, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(drv->configDir, file, NULL);
}

static char *
qvirStorageAutostartLink(qvirStorageDriver *drv, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(drv->autostartDir, file, NULL);
}

static char *
qvirStorageStateFile(qvirStorageDriver *drv, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(drv->stateDir, file, NULL);
}

static gboolean
qvirStorageSaveDef(const char *path, const qvirStoragePoolDef *def, GError **error)
{
    g_autofree char *xml = qvirStoragePoolDefFormat(def);

    return qvirFileWriteAtomic(path, xml, strlen(xml), 0600, error);
}

static gint
qvirStorageVolCompare(gconstpointer a, gconstpointer b)
{
    const qvirStorageVolDef *va = *(qvirStorageVolDef *const *)a;
    const qvirStorageVolDef *vb = *(qvirStorageVolDef *const *)b;

    return strcmp(va->name, vb->name);
}

static void
qvirStoragePoolStatfs(qvirStoragePoolObj *obj)
{
    struct statvfs sv;
    struct stat sb;

    /* a network pool's numbers are those its last refresh read */
    if (qvirStoragePoolTypeIsNetwork(obj->def->type))
        return;
    if (statvfs(obj->def->targetPath, &sv) == 0) {
        obj->def->capacity = (guint64)sv.f_frsize * sv.f_blocks;
        /* as libvirt: free blocks, reserved ones included */
        obj->def->available = (guint64)sv.f_frsize * sv.f_bfree;
        obj->def->allocation = obj->def->capacity - obj->def->available;
    }
    if (stat(obj->def->targetPath, &sb) == 0) {
        g_free(obj->def->perms.label);
        obj->def->perms.label = NULL;
        qvirStorageStatPerms(&sb, &obj->def->perms);
    }
}

/* Ask a network pool's storage for its volumes; the old list stays on failure. */
static gboolean
qvirStoragePoolNetRefresh(qvirStorageDriver *drv, qvirStoragePoolObj *obj, GError **error)
{
    const qvirStorageNetBackend *backend = qvirStorageNetBackendFor(obj->def->type);
    g_autoptr(GPtrArray) vols =
        g_ptr_array_new_with_free_func((GDestroyNotify)qvirStorageVolDefFree);

    if (!backend->refresh(obj->def, drv->secrets, vols, error))
        return FALSE;
    g_ptr_array_sort(vols, qvirStorageVolCompare);
    g_ptr_array_unref(obj->vols);
    obj->vols = g_steal_pointer(&vols);
    return TRUE;
}

/* Scan the pool's directory (or network storage) again. */
static gboolean
qvirStoragePoolDoRefresh(qvirStorageDriver *drv, qvirStoragePoolObj *obj, GError **error)
{
    g_autoptr(GPtrArray) vols = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) dir = NULL;
    const char *name;

    if (qvirStoragePoolTypeIsNetwork(obj->def->type))
        return qvirStoragePoolNetRefresh(drv, obj, error);
    vols = g_ptr_array_new_with_free_func((GDestroyNotify)qvirStorageVolDefFree);
    if (!(dir = g_dir_open(obj->def->targetPath, 0, &err))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot open directory '%s': %s",
                    obj->def->targetPath, err->message);
        return FALSE;
    }
    while ((name = g_dir_read_name(dir))) {
        qvirStorageVolDef *vol = qvirStorageVolProbe(obj->def->targetPath, name);

        if (vol)
            g_ptr_array_add(vols, vol);
    }
    g_ptr_array_sort(vols, qvirStorageVolCompare);
    g_ptr_array_unref(obj->vols);
    obj->vols = g_steal_pointer(&vols);
    qvirStoragePoolStatfs(obj);
    return TRUE;
}

/* Re-read one volume after a change (create, resize, upload, wipe). */
static void
qvirStoragePoolUpdateVol(qvirStoragePoolObj *obj, const char *name)
{
    qvirStorageVolDef *fresh = qvirStorageVolProbe(obj->def->targetPath, name);

    for (guint i = 0; i < obj->vols->len; i++) {
        qvirStorageVolDef *vol = g_ptr_array_index(obj->vols, i);

        if (g_str_equal(vol->name, name)) {
            g_ptr_array_remove_index(obj->vols, i);
            break;
        }
    }
    if (fresh) {
        g_ptr_array_add(obj->vols, fresh);
        g_ptr_array_sort(obj->vols, qvirStorageVolCompare);
    }
    qvirStoragePoolStatfs(obj);
}

/* virStoragePoolCreateFlags' build requests as virStoragePoolBuildFlags. */
static guint
qvirStorageCreateBuildFlags(guint flags)
{
    guint build = 0;

    if (flags & QVIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE)
        build |= QVIR_STORAGE_POOL_BUILD_OVERWRITE;
    if (flags & QVIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE)
        build |= QVIR_STORAGE_POOL_BUILD_NO_OVERWRITE;
    return build;
}

/* Start OBJ: mount, scan, remember it as active. */
static gboolean
qvirStoragePoolDoStart(qvirStorageDriver *drv, qvirStoragePoolObj *obj, GError **error)
{
    g_autofree char *state = qvirStorageStateFile(drv, obj->def->name);

    if (!qvirStoragePoolBackendStart(obj->def, error))
        return FALSE;
    if (!qvirStoragePoolDoRefresh(drv, obj, error) || !qvirStorageSaveDef(state, obj->def, error)) {
        qvirStoragePoolBackendStop(obj->def, NULL);
        return FALSE;
    }
    obj->active = TRUE;
    return TRUE;
}

static void
qvirStoragePoolRemove(qvirStorageDriver *drv, qvirStoragePoolObj *obj)
{
    g_ptr_array_remove(drv->pools, obj);
}

/* ---- opening ---- */

static qvirStoragePoolObj *
qvirStoragePoolObjNew(qvirStoragePoolDef *def)
{
    qvirStoragePoolObj *obj = g_new0(qvirStoragePoolObj, 1);

    obj->def = def;
    obj->vols = g_ptr_array_new_with_free_func((GDestroyNotify)qvirStorageVolDefFree);
    obj->building = g_ptr_array_new_with_free_func(g_free);
    return obj;
}

static qvirStoragePoolDef *
qvirStorageLoadDef(const char *path, GError **error)
{
    g_autofree char *xml = NULL;
    g_autoptr(qvirStoragePoolDef) def = NULL;

    if (!g_file_get_contents(path, &xml, NULL, error))
        return NULL;
    if (!(def = qvirStoragePoolDefParseString(xml, error)) ||
        !qvirStoragePoolDefValidate(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* Every NAME.xml in DIR, persistent or (state directory) active. */
static void
qvirStorageLoadDir(qvirStorageDriver *drv, const char *dirPath, gboolean state)
{
    g_autoptr(GDir) dir = g_dir_open(dirPath, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autoptr(GError) err = NULL;
        qvirStoragePoolDef *def;
        qvirStoragePoolObj *obj;

        if (!g_str_has_suffix(name, ".xml"))
            continue;
        path = g_build_filename(dirPath, name, NULL);
        if (!(def = qvirStorageLoadDef(path, &err))) {
            g_warning("ignoring storage pool file %s: %s", path, err->message);
            continue;
        }
        if ((obj = qvirStorageFindByUUID(drv, def->uuid))) {
            /* a persistent pool that was active: the state file's definition runs */
            if (state) {
                obj->newDef = obj->def;
                obj->def = def;
                obj->active = TRUE;
            } else {
                qvirStoragePoolDefFree(def);
            }
            continue;
        }
        obj = qvirStoragePoolObjNew(def);
        obj->persistent = !state;
        obj->active = state;
        g_ptr_array_add(drv->pools, obj);
    }
}

qvirStorageDriver *
qvirStorageDriverOpen(const char *configDir, const char *stateDir, const char *qemuImg,
                      GError **error)
{
    return qvirStorageDriverOpenWithSecrets(configDir, stateDir, qemuImg, NULL, error);
}

qvirStorageDriver *
qvirStorageDriverOpenWithSecrets(const char *configDir, const char *stateDir, const char *qemuImg,
                                 qvirSecretDriver *secrets, GError **error)
{
    qvirStorageDriver *drv = g_new0(qvirStorageDriver, 1);

    g_mutex_init(&drv->lock);
    drv->secrets = secrets;
    drv->configDir = g_strdup(configDir);
    drv->autostartDir = g_build_filename(configDir, "autostart", NULL);
    drv->stateDir = g_strdup(stateDir);
    drv->qemuImg = g_strdup(qemuImg ? qemuImg : "qemu-img");
    drv->pools = g_ptr_array_new_with_free_func((GDestroyNotify)qvirStoragePoolObjFree);
    if (!qvirFileMakeDirs(drv->autostartDir, 0700, error) ||
        !qvirFileMakeDirs(drv->stateDir, 0700, error)) {
        qvirStorageDriverClose(drv);
        return NULL;
    }
    qvirStorageLoadDir(drv, drv->configDir, FALSE);
    qvirStorageLoadDir(drv, drv->stateDir, TRUE);

    for (guint i = 0; i < drv->pools->len; i++) {
        qvirStoragePoolObj *obj = g_ptr_array_index(drv->pools, i);
        g_autofree char *link = qvirStorageAutostartLink(drv, obj->def->name);
        g_autoptr(GError) err = NULL;

        obj->autostart = obj->persistent && g_file_test(link, G_FILE_TEST_EXISTS);
        if (obj->active) {
            /* active before the restart: still there? */
            obj->active = FALSE;
            if (!qvirStoragePoolDoStart(drv, obj, &err)) {
                g_autofree char *state = qvirStorageStateFile(drv, obj->def->name);

                g_warning("Failed to restart storage pool '%s': %s", obj->def->name, err->message);
                g_unlink(state);
            }
        } else if (obj->autostart && !qvirStoragePoolDoStart(drv, obj, &err)) {
            g_warning("Failed to autostart storage pool '%s': %s", obj->def->name, err->message);
        }
    }
    /* transient pools that could not come back are gone */
    for (guint i = drv->pools->len; i-- > 0;) {
        qvirStoragePoolObj *obj = g_ptr_array_index(drv->pools, i);

        if (!obj->active && !obj->persistent)
            g_ptr_array_remove_index(drv->pools, i);
    }
    return drv;
}

void
qvirStorageDriverClose(qvirStorageDriver *drv)
{
    if (!drv)
        return;
    g_ptr_array_unref(drv->pools);
    g_free(drv->configDir);
    g_free(drv->autostartDir);
    g_free(drv->stateDir);
    g_free(drv->qemuImg);
    g_mutex_clear(&drv->lock);
    g_free(drv);
}

/* ---- pool API ---- */

GPtrArray *
qvirStorageListAllPools(qvirStorageDriver *drv, guint flags)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)qvirStoragePoolRefFree);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);

    for (guint i = 0; i < drv->pools->len; i++) {
        qvirStoragePoolObj *obj = g_ptr_array_index(drv->pools, i);
        guint types = flags & (LIST_DIR | LIST_FS | (0x3fffu << 8));
        static const guint typeFlags[QVIR_STORAGE_POOL_LAST] = {
            [QVIR_STORAGE_POOL_DIR] = LIST_DIR,
            [QVIR_STORAGE_POOL_FS] = LIST_FS,
            [QVIR_STORAGE_POOL_RBD] = LIST_RBD,
            [QVIR_STORAGE_POOL_ISCSI_DIRECT] = LIST_ISCSI_DIRECT,
        };

        if ((flags & (LIST_ACTIVE | LIST_INACTIVE)) &&
            !((flags & LIST_ACTIVE && obj->active) || (flags & LIST_INACTIVE && !obj->active)))
            continue;
        if ((flags & (LIST_PERSISTENT | LIST_TRANSIENT)) &&
            !((flags & LIST_PERSISTENT && obj->persistent) ||
              (flags & LIST_TRANSIENT && !obj->persistent)))
            continue;
        if ((flags & (LIST_AUTOSTART | LIST_NO_AUTOSTART)) &&
            !((flags & LIST_AUTOSTART && obj->autostart) ||
              (flags & LIST_NO_AUTOSTART && !obj->autostart)))
            continue;
        if (types && !(types & typeFlags[obj->def->type]))
            continue;
        g_ptr_array_add(out, qvirStoragePoolMakeRef(obj));
    }
    return out;
}

GPtrArray *
qvirStorageListPoolNames(qvirStorageDriver *drv, gboolean active)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);

    for (guint i = 0; i < drv->pools->len; i++) {
        qvirStoragePoolObj *obj = g_ptr_array_index(drv->pools, i);

        if (obj->active == active)
            g_ptr_array_add(out, g_strdup(obj->def->name));
    }
    return out;
}

int
qvirStorageNumOfPools(qvirStorageDriver *drv, gboolean active)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    int n = 0;

    for (guint i = 0; i < drv->pools->len; i++)
        n += ((qvirStoragePoolObj *)g_ptr_array_index(drv->pools, i))->active == active;
    return n;
}

qvirStoragePoolRef *
qvirStoragePoolLookupByName(qvirStorageDriver *drv, const char *name, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageFindByName(drv, name);

    if (!obj) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_POOL,
                    "Storage pool not found: no storage pool with matching name '%s'", name);
        return NULL;
    }
    return qvirStoragePoolMakeRef(obj);
}

qvirStoragePoolRef *
qvirStoragePoolLookupByUUID(qvirStorageDriver *drv, const guint8 *uuid, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);

    return obj ? qvirStoragePoolMakeRef(obj) : NULL;
}

qvirStoragePoolRef *
qvirStoragePoolLookupByTargetPath(qvirStorageDriver *drv, const char *path, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    g_autofree char *clean = qvirStoragePathClean(path);

    for (guint i = 0; i < drv->pools->len; i++) {
        qvirStoragePoolObj *obj = g_ptr_array_index(drv->pools, i);

        if (obj->active && g_strcmp0(obj->def->targetPath, clean) == 0)
            return qvirStoragePoolMakeRef(obj);
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_POOL,
                "Storage pool not found: no storage pool with matching target path '%s'", path);
    return NULL;
}

qvirStoragePoolRef *
qvirStoragePoolLookupByVolume(qvirStorageDriver *drv, const char *pool, GError **error)
{
    return qvirStoragePoolLookupByName(drv, pool, error);
}

/* Refuse DEF when it clashes with another pool (libvirt's duplicate and source checks);
 * *EXISTING: the pool DEF redefines, or NULL. */
static gboolean
qvirStoragePoolCheckDuplicate(qvirStorageDriver *drv, const qvirStoragePoolDef *def,
                              gboolean checkActive, qvirStoragePoolObj **existing, GError **error)
{
    qvirStoragePoolObj *obj = qvirStorageFindByUUID(drv, def->uuid);
    char uuid[QVIR_UUID_STRING_BUFLEN];

    *existing = NULL;
    if (obj) {
        if (!g_str_equal(obj->def->name, def->name)) {
            qvirUUIDFormat(obj->def->uuid, uuid);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "operation failed: pool '%s' is already defined with uuid %s",
                        obj->def->name, uuid);
            return FALSE;
        }
        if (checkActive && obj->active) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                        "Requested operation is not valid: pool is already active as '%s'",
                        obj->def->name);
            return FALSE;
        }
        *existing = obj;
    } else if ((obj = qvirStorageFindByName(drv, def->name))) {
        qvirUUIDFormat(obj->def->uuid, uuid);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: pool '%s' already exists with uuid %s", def->name, uuid);
        return FALSE;
    }
    /* as libvirt: two rbd or iscsi-direct pools may name the same storage */
    for (guint i = 0; i < drv->pools->len; i++) {
        qvirStoragePoolObj *other = g_ptr_array_index(drv->pools, i);

        if (other == *existing)
            continue;
        if ((def->targetPath && g_strcmp0(other->def->targetPath, def->targetPath) == 0) ||
            (def->type == QVIR_STORAGE_POOL_FS && other->def->type == QVIR_STORAGE_POOL_FS &&
             g_str_equal(other->def->sourceDevice, def->sourceDevice))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "operation failed: Storage source conflict with pool: '%s'",
                        other->def->name);
            return FALSE;
        }
    }
    return TRUE;
}

static qvirStoragePoolDef *
qvirStoragePoolParseValidate(const char *xml, GError **error)
{
    g_autoptr(qvirStoragePoolDef) def = qvirStoragePoolDefParseString(xml, error);

    if (!def || !qvirStoragePoolDefValidate(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

qvirStoragePoolRef *
qvirStoragePoolDefineXML(qvirStorageDriver *drv, const char *xml, guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = NULL;
    g_autoptr(qvirStoragePoolDef) def = NULL;
    g_autofree char *path = NULL;
    qvirStoragePoolObj *obj;

    /* VIR_STORAGE_POOL_DEFINE_VALIDATE: our parser is as strict as the schema needs */
    if (!qvirCheckFlags(flags, 1, "storagePoolDefineXML", error) ||
        !(def = qvirStoragePoolParseValidate(xml, error)))
        return NULL;
    locker = g_mutex_locker_new(&drv->lock);
    if (!qvirStoragePoolCheckDuplicate(drv, def, FALSE, &obj, error))
        return NULL;
    path = qvirStorageConfigFile(drv, def->name);
    if (!qvirStorageSaveDef(path, def, error))
        return NULL;
    if (!obj) {
        obj = qvirStoragePoolObjNew(g_steal_pointer(&def));
        g_ptr_array_add(drv->pools, obj);
    } else if (obj->active) {
        qvirStoragePoolDefFree(obj->newDef);
        obj->newDef = g_steal_pointer(&def);
    } else {
        qvirStoragePoolDefFree(obj->def);
        obj->def = g_steal_pointer(&def);
    }
    obj->persistent = TRUE;
    return qvirStoragePoolMakeRef(obj);
}

qvirStoragePoolRef *
qvirStoragePoolCreateXML(qvirStorageDriver *drv, const char *xml, guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = NULL;
    g_autoptr(qvirStoragePoolDef) def = NULL;
    qvirStoragePoolObj *obj, *existing;
    guint build = flags & (QVIR_STORAGE_POOL_CREATE_WITH_BUILD |
                           QVIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE |
                           QVIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE);

    if (!qvirCheckFlags(flags, 7, "storagePoolCreateXML", error) ||
        !(def = qvirStoragePoolParseValidate(xml, error)))
        return NULL;
    locker = g_mutex_locker_new(&drv->lock);
    if (!qvirStoragePoolCheckDuplicate(drv, def, TRUE, &existing, error))
        return NULL;
    if (existing) {
        /* a defined pool started with a new definition stays persistent */
        obj = existing;
        qvirStoragePoolDefFree(obj->newDef);
        obj->newDef = g_steal_pointer(&obj->def);
        obj->def = g_steal_pointer(&def);
    } else {
        obj = qvirStoragePoolObjNew(g_steal_pointer(&def));
        g_ptr_array_add(drv->pools, obj);
    }
    if ((build &&
         !qvirStoragePoolBackendBuild(obj->def, qvirStorageCreateBuildFlags(flags), error)) ||
        !qvirStoragePoolDoStart(drv, obj, error)) {
        if (!existing) {
            qvirStoragePoolRemove(drv, obj);
        } else {
            qvirStoragePoolDefFree(obj->def);
            obj->def = g_steal_pointer(&obj->newDef);
        }
        return NULL;
    }
    return qvirStoragePoolMakeRef(obj);
}

gboolean
qvirStoragePoolUndefine(qvirStorageDriver *drv, const guint8 *uuid, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);
    g_autofree char *path = NULL;
    g_autofree char *link = NULL;

    if (!obj)
        return FALSE;
    if (obj->active) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: storage pool '%s' is still active",
                    obj->def->name);
        return FALSE;
    }
    if (!obj->persistent) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: pool has no config file");
        return FALSE;
    }
    path = qvirStorageConfigFile(drv, obj->def->name);
    link = qvirStorageAutostartLink(drv, obj->def->name);
    if (g_unlink(path) < 0 && errno != ENOENT) {
        qvirStorageErrSystem(error, errno, "cannot remove config for %s", obj->def->name);
        return FALSE;
    }
    g_unlink(link);
    qvirStoragePoolRemove(drv, obj);
    return TRUE;
}

gboolean
qvirStoragePoolCreate(qvirStorageDriver *drv, const guint8 *uuid, guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);
    guint build = flags & 7;

    if (!obj || !qvirCheckFlags(flags, 7, "storagePoolCreate", error))
        return FALSE;
    if (obj->active) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: storage pool '%s' is already active",
                    obj->def->name);
        return FALSE;
    }
    if (build && !qvirStoragePoolBackendBuild(obj->def, qvirStorageCreateBuildFlags(flags), error))
        return FALSE;
    return qvirStoragePoolDoStart(drv, obj, error);
}

gboolean
qvirStoragePoolBuild(qvirStorageDriver *drv, const guint8 *uuid, guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);

    if (!obj || !qvirCheckFlags(
                    flags, QVIR_STORAGE_POOL_BUILD_OVERWRITE | QVIR_STORAGE_POOL_BUILD_NO_OVERWRITE,
                    "storagePoolBuild", error))
        return FALSE;
    if (obj->active) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: storage pool '%s' is already active",
                    obj->def->name);
        return FALSE;
    }
    return qvirStoragePoolBackendBuild(obj->def, flags, error);
}

gboolean
qvirStoragePoolDestroy(qvirStorageDriver *drv, const guint8 *uuid, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);
    g_autofree char *state = NULL;

    if (!obj || !qvirStorageCheckActive(obj, error) || !qvirStorageCheckNoJobs(obj, error))
        return FALSE;
    if (!qvirStoragePoolBackendStop(obj->def, error))
        return FALSE;
    state = qvirStorageStateFile(drv, obj->def->name);
    g_unlink(state);
    obj->active = FALSE;
    g_ptr_array_set_size(obj->vols, 0);
    if (!obj->persistent) {
        qvirStoragePoolRemove(drv, obj);
        return TRUE;
    }
    if (obj->newDef) {
        qvirStoragePoolDefFree(obj->def);
        obj->def = g_steal_pointer(&obj->newDef);
    }
    return TRUE;
}

gboolean
qvirStoragePoolDelete(qvirStorageDriver *drv, const guint8 *uuid, guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);

    if (!obj || !qvirCheckFlags(flags, 0, "storagePoolDelete", error))
        return FALSE;
    if (obj->active) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: storage pool '%s' is still active",
                    obj->def->name);
        return FALSE;
    }
    if (qvirStoragePoolTypeIsNetwork(obj->def->type)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_NO_SUPPORT,
                            "this function is not supported by the connection driver: pool "
                            "does not support pool deletion");
        return FALSE;
    }
    if (g_rmdir(obj->def->targetPath) < 0 && errno != ENOENT) {
        qvirStorageErrSystem(error, errno, "failed to remove pool '%s'", obj->def->targetPath);
        return FALSE;
    }
    return TRUE;
}

gboolean
qvirStoragePoolRefresh(qvirStorageDriver *drv, const guint8 *uuid, guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);

    if (!obj || !qvirCheckFlags(flags, 0, "storagePoolRefresh", error) ||
        !qvirStorageCheckActive(obj, error) || !qvirStorageCheckNoJobs(obj, error))
        return FALSE;
    return qvirStoragePoolDoRefresh(drv, obj, error);
}

gboolean
qvirStoragePoolGetInfo(qvirStorageDriver *drv, const guint8 *uuid, qvirStoragePoolInfo *info,
                       GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);

    if (!obj)
        return FALSE;
    memset(info, 0, sizeof(*info));
    if (obj->active) {
        qvirStoragePoolStatfs(obj);
        info->state = QVIR_STORAGE_POOL_RUNNING;
        info->capacity = obj->def->capacity;
        info->allocation = obj->def->allocation;
        info->available = obj->def->available;
    }
    return TRUE;
}

char *
qvirStoragePoolGetXMLDesc(qvirStorageDriver *drv, const guint8 *uuid, guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);

    if (!obj || !qvirCheckFlags(flags, QVIR_STORAGE_XML_INACTIVE, "storagePoolGetXMLDesc", error))
        return NULL;
    if ((flags & QVIR_STORAGE_XML_INACTIVE) && obj->newDef)
        return qvirStoragePoolDefFormat(obj->newDef);
    if (obj->active)
        qvirStoragePoolStatfs(obj);
    return qvirStoragePoolDefFormat(obj->def);
}

/* The gboolean at OFFSET in the pool UUID's object, or -1 when there is no such
 * pool. */
static int
qvirStoragePoolGetBoolean(qvirStorageDriver *drv, const guint8 *uuid, glong offset, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);

    return obj ? G_STRUCT_MEMBER(gboolean, obj, offset) : -1;
}

int
qvirStoragePoolGetAutostart(qvirStorageDriver *drv, const guint8 *uuid, GError **error)
{
    return qvirStoragePoolGetBoolean(drv, uuid, G_STRUCT_OFFSET(qvirStoragePoolObj, autostart),
                                     error);
}

gboolean
qvirStoragePoolSetAutostart(qvirStorageDriver *drv, const guint8 *uuid, gboolean autostart,
                            GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);
    g_autofree char *link = NULL;
    g_autofree char *target = NULL;

    if (!obj)
        return FALSE;
    if (!obj->persistent) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: pool has no config file");
        return FALSE;
    }
    autostart = autostart != 0;
    if (obj->autostart == autostart)
        return TRUE;
    link = qvirStorageAutostartLink(drv, obj->def->name);
    target = qvirStorageConfigFile(drv, obj->def->name);
    if (autostart) {
        if (symlink(target, link) < 0 && errno != EEXIST) {
            qvirStorageErrSystem(error, errno, "Failed to create symlink '%s' to '%s'", link,
                                 target);
            return FALSE;
        }
    } else if (g_unlink(link) < 0 && errno != ENOENT) {
        qvirStorageErrSystem(error, errno, "Failed to delete symlink '%s'", link);
        return FALSE;
    }
    obj->autostart = autostart;
    return TRUE;
}

int
qvirStoragePoolIsActive(qvirStorageDriver *drv, const guint8 *uuid, GError **error)
{
    return qvirStoragePoolGetBoolean(drv, uuid, G_STRUCT_OFFSET(qvirStoragePoolObj, active), error);
}

int
qvirStoragePoolIsPersistent(qvirStorageDriver *drv, const guint8 *uuid, GError **error)
{
    return qvirStoragePoolGetBoolean(drv, uuid, G_STRUCT_OFFSET(qvirStoragePoolObj, persistent),
                                     error);
}

int
qvirStoragePoolNumOfVolumes(qvirStorageDriver *drv, const guint8 *uuid, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);

    if (!obj || !qvirStorageCheckActive(obj, error))
        return -1;
    return (int)obj->vols->len;
}

GPtrArray *
qvirStoragePoolListVolumes(qvirStorageDriver *drv, const guint8 *uuid, gboolean refs,
                           GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, uuid, error);
    GPtrArray *out;

    if (!obj || !qvirStorageCheckActive(obj, error))
        return NULL;
    out = g_ptr_array_new_with_free_func(refs ? (GDestroyNotify)qvirStorageVolRefFree : g_free);
    for (guint i = 0; i < obj->vols->len; i++) {
        qvirStorageVolDef *vol = g_ptr_array_index(obj->vols, i);

        g_ptr_array_add(out, refs ? (gpointer)qvirStorageVolMakeRef(obj, vol)
                                  : (gpointer)g_strdup(vol->name));
    }
    return out;
}

GPtrArray *
qvirStoragePoolListAllVolumes(qvirStorageDriver *drv, const guint8 *uuid, guint flags,
                              GError **error)
{
    if (!qvirCheckFlags(flags, 0, "storagePoolListAllVolumes", error))
        return NULL;
    return qvirStoragePoolListVolumes(drv, uuid, TRUE, error);
}

/* ---- volume API ---- */

qvirStorageVolRef *
qvirStorageVolLookupByName(qvirStorageDriver *drv, const guint8 *poolUUID, const char *name,
                           GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, poolUUID, error);
    qvirStorageVolDef *vol;

    if (!obj || !qvirStorageCheckActive(obj, error))
        return NULL;
    if (!(vol = qvirStoragePoolFindVol(obj, name))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_VOL,
                    "Storage volume not found: no storage vol with matching name '%s'", name);
        return NULL;
    }
    return qvirStorageVolMakeRef(obj, vol);
}

/* The volume whose key (KEY TRUE) or path is S, in any active pool. */
static qvirStorageVolRef *
qvirStorageVolFind(qvirStorageDriver *drv, const char *s, gboolean key)
{
    for (guint i = 0; i < drv->pools->len; i++) {
        qvirStoragePoolObj *obj = g_ptr_array_index(drv->pools, i);

        if (!obj->active)
            continue;
        for (guint j = 0; j < obj->vols->len; j++) {
            qvirStorageVolDef *vol = g_ptr_array_index(obj->vols, j);

            if (g_str_equal(key ? vol->key : vol->targetPath, s))
                return qvirStorageVolMakeRef(obj, vol);
        }
    }
    return NULL;
}

qvirStorageVolRef *
qvirStorageVolLookupByKey(qvirStorageDriver *drv, const char *key, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStorageVolRef *ref = qvirStorageVolFind(drv, key, TRUE);

    if (!ref)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_VOL,
                    "Storage volume not found: no storage vol with matching key %s", key);
    return ref;
}

qvirStorageVolRef *
qvirStorageVolLookupByPath(qvirStorageDriver *drv, const char *path, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    g_autofree char *clean = qvirStoragePathClean(path);
    qvirStorageVolRef *ref = qvirStorageVolFind(drv, clean, FALSE);

    /* a path through a symlink or with dots names the same file */
    if (!ref) {
        g_autofree char *real = realpath(clean, NULL);

        if (real)
            ref = qvirStorageVolFind(drv, real, FALSE);
    }
    if (!ref)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_VOL,
                    "Storage volume not found: no storage vol with matching path '%s'", path);
    return ref;
}

/* Parse and check a volume to create in OBJ; its path is in the pool's directory. */
static qvirStorageVolDef *
qvirStorageVolPrepare(qvirStoragePoolObj *obj, const char *xml, gboolean clone, GError **error)
{
    g_autoptr(qvirStorageVolDef) def = qvirStorageVolDefParseString(xml, error);

    if (!def || !qvirStorageVolDefValidate(def, clone, error))
        return NULL;
    if (qvirStoragePoolFindVol(obj, def->name)) {
        g_autofree char *quoted = g_strdup_printf("'%s'", def->name);

        g_set_error(error, QVIR_ERROR, QVIR_ERR_STORAGE_VOL_EXIST,
                    "storage volume %s exists already", quoted);
        return NULL;
    }
    g_free(def->targetPath);
    def->targetPath = g_build_filename(obj->def->targetPath, def->name, NULL);
    if (g_file_test(def->targetPath, G_FILE_TEST_EXISTS)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: storage vol '%s' already exists", def->targetPath);
        return NULL;
    }
    return g_steal_pointer(&def);
}

static void
qvirStorageBuildingRemove(qvirStoragePoolObj *obj, const char *name)
{
    for (guint i = 0; i < obj->building->len; i++) {
        if (g_str_equal(g_ptr_array_index(obj->building, i), name)) {
            g_ptr_array_remove_index(obj->building, i);
            return;
        }
    }
}

/* What a volume shows while qemu-img makes it: its name, path and size, nothing
 * allocated yet. */
static qvirStorageVolDef *
qvirStorageVolPlaceholder(const qvirStorageVolDef *def)
{
    qvirStorageVolDef *vol = g_new0(qvirStorageVolDef, 1);

    vol->name = g_strdup(def->name);
    vol->key = g_strdup(def->targetPath);
    vol->targetPath = g_strdup(def->targetPath);
    vol->format = def->format;
    vol->capacity = def->capacity;
    vol->perms.mode = vol->backingPerms.mode = -1;
    vol->perms.owner = vol->perms.group = -1;
    vol->backingPerms.owner = vol->backingPerms.group = -1;
    return vol;
}

static gboolean
qvirStorageNetNoSupport(const char *what, GError **error)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SUPPORT,
                "this function is not supported by the connection driver: %s", what);
    return FALSE;
}

/* A volume in a network pool: made by the pool's storage, then the pool is read again
 * (the storage decides the volume's key and sizes). The lock is held: these are quick. */
static qvirStorageVolRef *
qvirStorageNetVolCreate(qvirStorageDriver *drv, qvirStoragePoolObj *obj, const char *xml,
                        gboolean clone, GError **error)
{
    const qvirStorageNetBackend *backend = qvirStorageNetBackendFor(obj->def->type);
    g_autoptr(qvirStorageVolDef) def = qvirStorageVolDefParseString(xml, error);
    g_autoptr(GError) err = NULL;
    qvirStorageVolDef *vol;

    if (!def || !qvirStorageVolDefValidate(def, clone, error))
        return NULL;
    if (qvirStoragePoolFindVol(obj, def->name)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_STORAGE_VOL_EXIST,
                    "storage volume '%s' exists already", def->name);
        return NULL;
    }
    if (!backend->createVol || clone) {
        qvirStorageNetNoSupport(clone ? "storage pool does not support volume creation from an "
                                        "existing volume"
                                      : "storage pool does not support volume creation",
                                error);
        return NULL;
    }
    if (!backend->createVol(obj->def, drv->secrets, def, error))
        return NULL;
    if (!qvirStoragePoolNetRefresh(drv, obj, &err))
        g_warning("cannot refresh pool '%s' after creating volume '%s': %s", obj->def->name,
                  def->name, err->message);
    if (!(vol = qvirStoragePoolFindVol(obj, def->name))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: volume '%s' vanished after creation", def->name);
        return NULL;
    }
    return qvirStorageVolMakeRef(obj, vol);
}

/* The image is made without the driver lock (a clone may take minutes, and clients poll
 * the new volume meanwhile): the volume is listed as being made, its pool cannot stop,
 * and the source of a clone cannot change until it is done. */
static qvirStorageVolRef *
qvirStorageVolDoCreate(qvirStorageDriver *drv, const guint8 *poolUUID, const char *xml,
                       const char *srcPool, const char *srcName, guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageGetPool(drv, poolUUID, error);
    qvirStoragePoolObj *srcObj = NULL;
    g_autoptr(qvirStorageVolDef) def = NULL;
    g_autoptr(qvirStorageVolDef) input = NULL;
    qvirStorageVolDef *src = NULL;
    qvirStorageVolDef *vol;
    gboolean ok;

    if (!obj || !qvirCheckFlags(flags, QVIR_STORAGE_VOL_CREATE_PREALLOC_METADATA,
                                srcName ? "storageVolCreateXMLFrom" : "storageVolCreateXML", error))
        return NULL;
    if (!qvirStorageCheckActive(obj, error))
        return NULL;
    if (qvirStoragePoolTypeIsNetwork(obj->def->type))
        return qvirStorageNetVolCreate(drv, obj, xml, srcName != NULL, error);
    if (srcName && !(src = qvirStorageGetReadyVol(drv, srcPool, srcName, &srcObj, error)))
        return NULL;
    if (!(def = qvirStorageVolPrepare(obj, xml, src != NULL, error)))
        return NULL;
    if (src) {
        /* the copy has the source's size unless the XML asks for more, and its format
         * unless the XML names one */
        if (!def->capacitySet || def->capacity < src->capacity)
            def->capacity = src->capacity;
        if (def->format == QVIR_STORAGE_FILE_NONE)
            def->format = src->format ? src->format : QVIR_STORAGE_FILE_RAW;
        input = g_new0(qvirStorageVolDef, 1);
        input->targetPath = g_strdup(src->targetPath);
        input->format = src->format;
    }
    if (def->format == QVIR_STORAGE_FILE_NONE)
        def->format = QVIR_STORAGE_FILE_RAW;
    /* as libvirt: no <allocation> asks for all of it */
    if (!def->allocationSet)
        def->allocation = def->capacity;
    if (def->format == QVIR_STORAGE_FILE_RAW && !input &&
        (flags & QVIR_STORAGE_VOL_CREATE_PREALLOC_METADATA)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: metadata preallocation is not "
                            "supported for raw volumes");
        return NULL;
    }

    g_ptr_array_add(obj->vols, qvirStorageVolPlaceholder(def));
    g_ptr_array_sort(obj->vols, qvirStorageVolCompare);
    g_ptr_array_add(obj->building, g_strdup(def->name));
    if (srcObj)
        g_ptr_array_add(srcObj->building, g_strdup(srcName));
    g_mutex_unlock(&drv->lock);

    if (def->format == QVIR_STORAGE_FILE_RAW && !input)
        ok = qvirStorageCreateRaw(def, error);
    else
        ok = qvirStorageCreateQemuImg(drv->qemuImg, obj->def->targetPath, def, input, flags, error);
    ok = ok && qvirStorageVolApplyPerms(def, error);

    g_mutex_lock(&drv->lock);
    qvirStorageBuildingRemove(obj, def->name);
    if (srcObj)
        qvirStorageBuildingRemove(srcObj, srcName);
    /* the placeholder goes; the image, when it was made, comes in */
    qvirStoragePoolUpdateVol(obj, def->name);
    if (!ok)
        return NULL;
    if (!(vol = qvirStoragePoolFindVol(obj, def->name))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: volume '%s' vanished after creation", def->name);
        return NULL;
    }
    return qvirStorageVolMakeRef(obj, vol);
}

qvirStorageVolRef *
qvirStorageVolCreateXML(qvirStorageDriver *drv, const guint8 *poolUUID, const char *xml,
                        guint flags, GError **error)
{
    return qvirStorageVolDoCreate(drv, poolUUID, xml, NULL, NULL, flags, error);
}

qvirStorageVolRef *
qvirStorageVolCreateXMLFrom(qvirStorageDriver *drv, const guint8 *poolUUID, const char *xml,
                            const char *srcPool, const char *srcName, guint flags, GError **error)
{
    return qvirStorageVolDoCreate(drv, poolUUID, xml, srcPool, srcName, flags, error);
}

gboolean
qvirStorageVolDelete(qvirStorageDriver *drv, const char *pool, const char *name, guint flags,
                     GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = NULL;
    qvirStorageVolDef *vol;

    if (!qvirCheckFlags(flags, 0, "storageVolDelete", error) ||
        !(vol = qvirStorageGetReadyVol(drv, pool, name, &obj, error)))
        return FALSE;
    if (qvirStoragePoolTypeIsNetwork(obj->def->type)) {
        const qvirStorageNetBackend *backend = qvirStorageNetBackendFor(obj->def->type);

        if (!backend->deleteVol)
            return qvirStorageNetNoSupport("storage pool does not support vol deletion", error);
        if (!backend->deleteVol(obj->def, drv->secrets, vol, error))
            return FALSE;
        g_ptr_array_remove(obj->vols, vol);
        return TRUE;
    }
    if (g_unlink(vol->targetPath) < 0 && errno != ENOENT) {
        qvirStorageErrSystem(error, errno, "cannot unlink file '%s'", vol->targetPath);
        return FALSE;
    }
    g_ptr_array_remove(obj->vols, vol);
    qvirStoragePoolStatfs(obj);
    return TRUE;
}

/* Zeroes over the volume's data as libvirt's default algorithm writes them: a raw file
 * is overwritten in place (extents that are holes stay holes); any other format is made
 * again, empty, at the same capacity. */
gboolean
qvirStorageVolWipe(qvirStorageDriver *drv, const char *pool, const char *name, guint algorithm,
                   guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    g_autofree guint8 *zeros = NULL;
    qvirStoragePoolObj *obj = NULL;
    qvirStorageVolDef *vol;
    g_autofree char *volName = NULL;
    off_t pos = 0;
    int fd;

    if (!qvirCheckFlags(flags, 0, "storageVolWipePattern", error) ||
        !(vol = qvirStorageGetReadyVol(drv, pool, name, &obj, error)))
        return FALSE;
    if (qvirStoragePoolTypeIsNetwork(obj->def->type))
        return qvirStorageNetNoSupport("qvirt cannot wipe volumes of network pools", error);
    if (algorithm != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: wiping algorithm %u not supported", algorithm);
        return FALSE;
    }
    volName = g_strdup(vol->name);
    if (vol->format != QVIR_STORAGE_FILE_RAW) {
        g_autofree char *cap = g_strdup_printf("%" G_GUINT64_FORMAT, vol->capacity);
        const char *argv[] = {
            drv->qemuImg,    "create", "-f", qvirStorageFileFormatTypeToString(vol->format),
            vol->targetPath, cap,      NULL};

        if (!qvirStorageRun(argv, error))
            return FALSE;
        qvirStoragePoolUpdateVol(obj, volName);
        return TRUE;
    }
    if ((fd = open(vol->targetPath, O_WRONLY | O_CLOEXEC)) < 0) {
        qvirStorageErrSystem(error, errno, "Failed to open storage volume with path '%s'",
                             vol->targetPath);
        return FALSE;
    }
    zeros = g_malloc0(1024 * 1024);
    while ((guint64)pos < vol->physical) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        off_t hole;

        if (data < 0)
            break; /* only a hole is left */
        hole = lseek(fd, data, SEEK_HOLE);
        for (pos = data; pos < hole;) {
            gsize n = MIN((gsize)(hole - pos), 1024 * 1024);
            ssize_t w = pwrite(fd, zeros, n, pos);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                int saved = errno;

                close(fd);
                qvirStorageErrSystem(error, saved,
                                     "Failed to write %zu bytes to storage volume "
                                     "with path '%s'",
                                     n, vol->targetPath);
                return FALSE;
            }
            pos += w;
        }
    }
    if (fsync(fd) < 0) {
        int saved = errno;

        close(fd);
        qvirStorageErrSystem(error, saved, "cannot sync file '%s'", vol->targetPath);
        return FALSE;
    }
    close(fd);
    qvirStoragePoolUpdateVol(obj, volName);
    return TRUE;
}

gboolean
qvirStorageVolGetInfo(qvirStorageDriver *drv, const char *pool, const char *name, guint flags,
                      int *type, guint64 *capacity, guint64 *allocation, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStorageVolDef *vol;

    if (!qvirCheckFlags(flags, QVIR_STORAGE_VOL_GET_PHYSICAL, "storageVolGetInfoFlags", error) ||
        !(vol = qvirStorageGetVol(drv, pool, name, NULL, error)))
        return FALSE;
    *type = vol->type;
    *capacity = vol->capacity;
    *allocation = (flags & QVIR_STORAGE_VOL_GET_PHYSICAL) ? vol->physical : vol->allocation;
    return TRUE;
}

char *
qvirStorageVolGetXMLDesc(qvirStorageDriver *drv, const char *pool, const char *name, guint flags,
                         GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = NULL;
    qvirStorageVolDef *vol;

    if (!qvirCheckFlags(flags, 0, "storageVolGetXMLDesc", error) ||
        !(vol = qvirStorageGetVol(drv, pool, name, &obj, error)))
        return NULL;
    qvirStorageVolStatBacking(vol);
    return qvirStorageVolDefFormat(vol);
}

char *
qvirStorageVolGetPath(qvirStorageDriver *drv, const char *pool, const char *name, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStorageVolDef *vol = qvirStorageGetVol(drv, pool, name, NULL, error);

    return vol ? g_strdup(vol->targetPath) : NULL;
}

gboolean
qvirStorageVolResize(qvirStorageDriver *drv, const char *pool, const char *name, guint64 capacity,
                     guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = NULL;
    qvirStorageVolDef *vol;
    g_autofree char *volName = NULL;
    guint64 target;

    if (!qvirCheckFlags(flags,
                        QVIR_STORAGE_VOL_RESIZE_ALLOCATE | QVIR_STORAGE_VOL_RESIZE_DELTA |
                            QVIR_STORAGE_VOL_RESIZE_SHRINK,
                        "storageVolResize", error) ||
        !(vol = qvirStorageGetReadyVol(drv, pool, name, &obj, error)))
        return FALSE;
    if (qvirStoragePoolTypeIsNetwork(obj->def->type))
        return qvirStorageNetNoSupport("storage pool does not support changing of volume capacity",
                                       error);
    if (flags & QVIR_STORAGE_VOL_RESIZE_DELTA)
        target = (flags & QVIR_STORAGE_VOL_RESIZE_SHRINK)
                     ? vol->capacity - MIN(capacity, vol->capacity)
                     : vol->capacity + capacity;
    else
        target = capacity;
    if (target < vol->allocation) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: can't shrink capacity below existing allocation");
        return FALSE;
    }
    if (target < vol->capacity && !(flags & QVIR_STORAGE_VOL_RESIZE_SHRINK)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: Can't shrink capacity below current capacity "
                            "unless shrink flag explicitly specified");
        return FALSE;
    }
    if ((flags & QVIR_STORAGE_VOL_RESIZE_ALLOCATE) && target > vol->allocation &&
        target - vol->allocation > obj->def->available) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "operation failed: Not enough space left in storage pool");
        return FALSE;
    }
    volName = g_strdup(vol->name);
    if (vol->format == QVIR_STORAGE_FILE_RAW) {
        int fd = open(vol->targetPath, O_WRONLY | O_CLOEXEC);
        int rc = 0;

        if (fd < 0) {
            qvirStorageErrSystem(error, errno, "Unable to open '%s'", vol->targetPath);
            return FALSE;
        }
        if ((flags & QVIR_STORAGE_VOL_RESIZE_ALLOCATE) && target > vol->capacity)
            rc = posix_fallocate(fd, (off_t)vol->capacity, (off_t)(target - vol->capacity));
        if (rc == 0 && ftruncate(fd, (off_t)target) < 0)
            rc = errno;
        close(fd);
        if (rc != 0) {
            qvirStorageErrSystem(error, rc, "Failed to truncate file '%s'", vol->targetPath);
            return FALSE;
        }
    } else {
        g_autofree char *size = g_strdup_printf("%" G_GUINT64_FORMAT, target);
        const char *argv[] = {drv->qemuImg, "resize", NULL, NULL, NULL, NULL};
        guint n = 2;

        if (flags & QVIR_STORAGE_VOL_RESIZE_SHRINK)
            argv[n++] = "--shrink";
        argv[n++] = vol->targetPath;
        argv[n++] = size;
        if (!qvirStorageRun(argv, error))
            return FALSE;
    }
    qvirStoragePoolUpdateVol(obj, volName);
    return TRUE;
}

int
qvirStorageVolOpenTransfer(qvirStorageDriver *drv, const char *pool, const char *name,
                           gboolean upload, guint64 offset, guint64 length, guint flags,
                           guint64 *lengthOut, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = NULL;
    qvirStorageVolDef *vol;
    int fd;

    if (!qvirCheckFlags(flags, QVIR_STORAGE_VOL_STREAM_SPARSE,
                        upload ? "storageVolUpload" : "storageVolDownload", error) ||
        !(vol = qvirStorageGetReadyVol(drv, pool, name, &obj, error)))
        return -1;
    if (qvirStoragePoolTypeIsNetwork(obj->def->type)) {
        qvirStorageNetNoSupport("qvirt cannot stream volumes of network pools", error);
        return -1;
    }
    if ((fd = open(vol->targetPath, (upload ? O_WRONLY : O_RDONLY) | O_CLOEXEC)) < 0) {
        qvirStorageErrSystem(error, errno, "Unable to open '%s'", vol->targetPath);
        return -1;
    }
    if (lseek(fd, (off_t)offset, SEEK_SET) < 0) {
        int saved = errno;

        close(fd);
        qvirStorageErrSystem(error, saved, "Unable to seek %s to %" G_GUINT64_FORMAT,
                             vol->targetPath, offset);
        return -1;
    }
    if (lengthOut) {
        guint64 avail = vol->physical > offset ? vol->physical - offset : 0;

        *lengthOut = upload ? length : (length ? MIN(length, avail) : avail);
    }
    return fd;
}

void
qvirStorageVolTransferDone(qvirStorageDriver *drv, const char *pool, const char *name)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&drv->lock);
    qvirStoragePoolObj *obj = qvirStorageFindByName(drv, pool);

    if (obj && obj->active)
        qvirStoragePoolUpdateVol(obj, name);
}

/* ---- domain disks that name volumes ---- */

/* A LUN of an iscsi-direct pool becomes what <disk type='network'><source protocol='iscsi'>
 * would say (libvirt's virDomainDiskTranslateISCSIDirect): the portal, "IQN/LUN", the
 * pool's CHAP credentials (as a disk's <auth>: no auth type, secret type iscsi) and
 * initiator. */
static gboolean
qvirStorageTranslateISCSIDirect(const qvirStoragePoolDef *pool, const qvirStorageVolDef *vol,
                                qvirStorageSource *src, GError **error)
{
    const char *lun = strrchr(vol->name, ':');

    if (!lun || !g_str_has_prefix(vol->name, "unit:0:0:")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: unexpected iscsi volume name '%s'", vol->name);
        return FALSE;
    }
    if (src->type != QVIR_STORAGE_TYPE_NETWORK || src->protocol != QVIR_STORAGE_NET_PROTOCOL_ISCSI)
        qvirStorageSourceChainClear(src);
    g_free(src->path);
    src->path = g_strdup_printf("%s/%s", pool->sourceDevice, lun + 1);
    for (size_t i = 0; i < src->nhosts; i++) {
        g_free(src->hosts[i].name);
        g_free(src->hosts[i].socket);
    }
    g_free(src->hosts);
    src->nhosts = 1;
    src->hosts = g_new0(qvirStorageNetHost, 1);
    src->hosts[0].name = g_strdup(pool->hosts[0].name);
    src->hosts[0].port = pool->hosts[0].port ? pool->hosts[0].port : 3260;
    src->hosts[0].transport = QVIR_STORAGE_NET_HOST_TRANS_TCP;
    qvirStorageAuthFree(src->auth);
    src->auth = NULL;
    if (pool->auth) {
        src->auth = qvirStorageAuthCopy(pool->auth);
        src->auth->authType = QVIR_STORAGE_AUTH_TYPE_NONE;
        if (!src->auth->secretType)
            src->auth->secretType = g_strdup("iscsi");
    }
    if (!src->initiatorIQN && pool->initiatorIQN)
        src->initiatorIQN = g_strdup(pool->initiatorIQN);
    src->protocol = QVIR_STORAGE_NET_PROTOCOL_ISCSI;
    src->type = QVIR_STORAGE_TYPE_NETWORK;
    return TRUE;
}

gboolean
qvirStorageTranslateDiskSource(qvirStorageDriver *drv, qvirStorageSource *src, GError **error)
{
    g_autoptr(GMutexLocker) locker = NULL;
    qvirStoragePoolObj *obj;
    qvirStorageVolDef *vol;

    if (!src->volume || !src->poolName)
        return TRUE;
    if (!drv) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "storage pools are not available to resolve volume '%s' of pool '%s'",
                    src->volName, src->poolName);
        return FALSE;
    }
    locker = g_mutex_locker_new(&drv->lock);
    if (!(obj = qvirStorageFindByName(drv, src->poolName))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_POOL,
                    "Storage pool not found: no storage pool with matching name '%s'",
                    src->poolName);
        return FALSE;
    }
    /* libvirt's words here differ from the pool API's "is not active" */
    if (!obj->active) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "storage pool '%s' containing volume '%s' is not active", src->poolName,
                    src->volName);
        return FALSE;
    }
    if (!(vol = qvirStoragePoolFindVol(obj, src->volName))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_STORAGE_VOL,
                    "Storage volume not found: no storage vol with matching name '%s'",
                    src->volName);
        return FALSE;
    }
    if (src->poolMode != QVIR_STORAGE_POOL_MODE_DEFAULT) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "disk source mode is only valid when storage pool is of iscsi type");
        return FALSE;
    }
    if (obj->def->type == QVIR_STORAGE_POOL_RBD) {
        /* libvirt 9.0 resolves no volume of an rbd pool for a disk */
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: using '%s' pools for backing 'volume' disks "
                    "isn't yet supported",
                    qvirStoragePoolTypeTypeToString(obj->def->type));
        return FALSE;
    }
    if (obj->def->type == QVIR_STORAGE_POOL_ISCSI_DIRECT)
        return qvirStorageTranslateISCSIDirect(obj->def, vol, src, error);
    /* dir and fs pools hold files only; a volume now elsewhere drops the chain read before */
    if (g_strcmp0(src->path, vol->targetPath) != 0) {
        if (src->path)
            qvirStorageSourceChainClear(src);
        g_free(src->path);
        src->path = g_strdup(vol->targetPath);
    }
    src->type = QVIR_STORAGE_TYPE_FILE;
    return TRUE;
}
