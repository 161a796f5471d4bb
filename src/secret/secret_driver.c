/*
 * secret_driver.c: defining, listing and looking up secrets, their values encrypted at
 * rest (see secret_driver.h for the layout on disk).
 *
 * A value file is MAGIC | IV (16) | AES-256-CBC(value, PKCS#7) | HMAC-SHA256 (32) of all
 * that precedes it. The key file holds 64 random bytes: the AES key, then the HMAC key.
 * Encrypt-then-MAC means a wrong key or a damaged file is told apart from a value before
 * anything is decrypted, and never yields a wrong value.
 */
#include "secret/secret_driver.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "conf/domain_conf.h"
#include "util/vircrypto.h"
#include "util/virerror.h"
#include "util/virfile.h"

/* libvirt's schema, which virsh secret-define --validate checks against. */
#define QVIR_SECRET_SCHEMA "/usr/share/libvirt/schemas/secret.rng"
#define SECRET_KEY_FILE "secrets-encryption-key"
#define SECRET_KEY_LEN (QVIR_CRYPTO_AES256_KEY_LEN + 32)
#define SECRET_VALUE_MAGIC "QVIRTSV1"
#define SECRET_VALUE_MAGIC_LEN 8
#define SECRET_HMAC_LEN 32

typedef struct {
    qvirSecretDef *def;
    GBytes *value; /* NULL: no value set */
} qvirSecretObj;

struct _qvirSecretDriver {
    GMutex lock;
    char *dir;
    guint8 key[SECRET_KEY_LEN];
    GHashTable *secrets; /* UUID string -> qvirSecretObj */

    GMutex eventLock;
    qvirSecretEventFunc eventCb;
    gpointer eventOpaque;
};

void
qvirSecretRefFree(qvirSecretRef *ref)
{
    if (!ref)
        return;
    g_free(ref->usageID);
    g_free(ref);
}

static void
secretObjFree(qvirSecretObj *obj)
{
    if (!obj)
        return;
    qvirSecretDefFree(obj->def);
    if (obj->value)
        g_bytes_unref(obj->value);
    g_free(obj);
}

/* GBytes holding a secret: wiped before it is freed. */
static void
secretValueWipeFree(gpointer data)
{
    GByteArray *arr = data;

    qvirCryptoWipe(arr->data, arr->len);
    g_byte_array_unref(arr);
}

static GBytes *
secretValueNew(const guint8 *data, gsize len)
{
    GByteArray *arr = g_byte_array_sized_new(len ? (guint)len : 1);

    g_byte_array_append(arr, data, (guint)len);
    return g_bytes_new_with_free_func(arr->data, arr->len, secretValueWipeFree, arr);
}

static qvirSecretRef *
secretRefNew(const qvirSecretDef *def)
{
    qvirSecretRef *ref = g_new0(qvirSecretRef, 1);

    memcpy(ref->uuid, def->uuid, sizeof(ref->uuid));
    ref->usageType = def->usageType;
    ref->usageID = g_strdup(def->usageID ? def->usageID : "");
    return ref;
}

static qvirSecretRef *
secretRefCopy(const qvirSecretRef *ref)
{
    qvirSecretRef *copy = g_new0(qvirSecretRef, 1);

    memcpy(copy->uuid, ref->uuid, sizeof(copy->uuid));
    copy->usageType = ref->usageType;
    copy->usageID = g_strdup(ref->usageID);
    return copy;
}

static void
secretEmit(qvirSecretDriver *drv, qvirSecretRef *ref, int eventID, int event)
{
    g_autoptr(qvirSecretRef) owned = ref;
    qvirSecretEventFunc cb;
    gpointer opaque;

    g_mutex_lock(&drv->eventLock);
    cb = drv->eventCb;
    opaque = drv->eventOpaque;
    g_mutex_unlock(&drv->eventLock);
    if (cb && owned)
        cb(owned, eventID, event, opaque);
}

void
qvirSecretDriverSetEventCallback(qvirSecretDriver *drv, qvirSecretEventFunc cb, gpointer opaque)
{
    g_mutex_lock(&drv->eventLock);
    drv->eventCb = cb;
    drv->eventOpaque = opaque;
    g_mutex_unlock(&drv->eventLock);
}

/* ---- files ---- */

static char *
secretPath(qvirSecretDriver *drv, const guint8 *uuid, const char *suffix)
{
    char uuidstr[QVIR_UUID_STRING_BUFLEN];
    g_autofree char *name = NULL;

    qvirUUIDFormat(uuid, uuidstr);
    name = g_strconcat(uuidstr, suffix, NULL);
    return g_build_filename(drv->dir, name, NULL);
}

static void
secretHmac(qvirSecretDriver *drv, const guint8 *data, gsize len, guint8 out[SECRET_HMAC_LEN])
{
    GHmac *hmac = g_hmac_new(G_CHECKSUM_SHA256, drv->key + QVIR_CRYPTO_AES256_KEY_LEN, 32);
    gsize outlen = SECRET_HMAC_LEN;

    g_hmac_update(hmac, data, (gssize)len);
    g_hmac_get_digest(hmac, out, &outlen);
    g_hmac_unref(hmac);
}

static gboolean
secretSaveValue(qvirSecretDriver *drv, const qvirSecretDef *def, GBytes *value, GError **error)
{
    g_autofree char *path = secretPath(drv, def->uuid, ".value");
    guint8 iv[QVIR_CRYPTO_AES_BLOCK_LEN];
    g_autofree guint8 *enc = NULL;
    gsize enclen = 0;
    g_autoptr(GByteArray) file = NULL;
    guint8 mac[SECRET_HMAC_LEN];
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(value, &len);

    if (!qvirCryptoRandomBytes(iv, sizeof(iv), error) ||
        !qvirCryptoAES256CBCEncrypt(drv->key, iv, data, len, &enc, &enclen, error))
        return FALSE;
    file = g_byte_array_new();
    g_byte_array_append(file, (const guint8 *)SECRET_VALUE_MAGIC, SECRET_VALUE_MAGIC_LEN);
    g_byte_array_append(file, iv, sizeof(iv));
    g_byte_array_append(file, enc, (guint)enclen);
    secretHmac(drv, file->data, file->len, mac);
    g_byte_array_append(file, mac, sizeof(mac));
    return qvirFileWriteAtomic(path, (const char *)file->data, file->len, 0600, error);
}

static GBytes *
secretLoadValue(qvirSecretDriver *drv, const char *path, GError **error)
{
    g_autofree char *contents = NULL;
    const guint8 *buf;
    gsize len = 0;
    gsize bodylen;
    guint8 mac[SECRET_HMAC_LEN];
    guint8 diff = 0;
    g_autofree guint8 *plain = NULL;
    gsize plainlen = 0;
    GBytes *value;

    if (!g_file_get_contents(path, &contents, &len, error))
        return NULL;
    buf = (const guint8 *)contents;
    if (len < SECRET_VALUE_MAGIC_LEN + 2 * QVIR_CRYPTO_AES_BLOCK_LEN + SECRET_HMAC_LEN ||
        memcmp(buf, SECRET_VALUE_MAGIC, SECRET_VALUE_MAGIC_LEN) != 0 ||
        (len - SECRET_VALUE_MAGIC_LEN - SECRET_HMAC_LEN) % QVIR_CRYPTO_AES_BLOCK_LEN) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: secret value file '%s' is not a qvirt secret value", path);
        return NULL;
    }
    bodylen = len - SECRET_HMAC_LEN;
    secretHmac(drv, buf, bodylen, mac);
    for (gsize i = 0; i < SECRET_HMAC_LEN; i++)
        diff |= mac[i] ^ buf[bodylen + i];
    if (diff) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: secret value file '%s' is corrupt or was written with "
                    "another key",
                    path);
        return NULL;
    }
    if (!qvirCryptoAES256CBCDecrypt(drv->key, buf + SECRET_VALUE_MAGIC_LEN,
                                    buf + SECRET_VALUE_MAGIC_LEN + QVIR_CRYPTO_AES_BLOCK_LEN,
                                    bodylen - SECRET_VALUE_MAGIC_LEN - QVIR_CRYPTO_AES_BLOCK_LEN,
                                    &plain, &plainlen, error)) {
        g_prefix_error(error, "secret value file '%s': ", path);
        return NULL;
    }
    value = secretValueNew(plain, plainlen);
    qvirCryptoWipe(plain, plainlen);
    return value;
}

static gboolean
secretSaveConfig(qvirSecretDriver *drv, const qvirSecretDef *def, GError **error)
{
    g_autofree char *path = secretPath(drv, def->uuid, ".xml");
    g_autofree char *xml = qvirSecretDefFormat(def);

    return qvirFileWriteAtomic(path, xml, strlen(xml), 0600, error);
}

static gboolean
secretDeleteFile(const char *path, GError **error)
{
    if (g_unlink(path) < 0 && errno != ENOENT) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot delete '%s': %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* The 64-byte key: read, or made when there is none. */
static gboolean
secretLoadKey(qvirSecretDriver *drv, GError **error)
{
    g_autofree char *path = g_build_filename(drv->dir, SECRET_KEY_FILE, NULL);
    g_autofree char *contents = NULL;
    g_autoptr(GError) local = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &contents, &len, &local)) {
        if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_READ_FAILED,
                        "cannot read secret encryption key '%s': %s", path, local->message);
            return FALSE;
        }
        if (!qvirCryptoRandomBytes(drv->key, sizeof(drv->key), error))
            return FALSE;
        return qvirFileWriteAtomic(path, (const char *)drv->key, sizeof(drv->key), 0600, error);
    }
    if (len != SECRET_KEY_LEN) {
        qvirCryptoWipe(contents, len);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: secret encryption key '%s' is corrupt: %" G_GSIZE_FORMAT
                    " bytes, expected %d",
                    path, len, SECRET_KEY_LEN);
        return FALSE;
    }
    memcpy(drv->key, contents, sizeof(drv->key));
    qvirCryptoWipe(contents, len);
    /* Whoever made the file, it stays the daemon's alone. */
    if (g_chmod(path, 0600) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot chmod '%s': %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* ---- lookups (lock held) ---- */

static qvirSecretObj *
secretFindByUUID(qvirSecretDriver *drv, const guint8 *uuid)
{
    char uuidstr[QVIR_UUID_STRING_BUFLEN];

    qvirUUIDFormat(uuid, uuidstr);
    return g_hash_table_lookup(drv->secrets, uuidstr);
}

/* As libvirt: a usage of type none matches nothing. */
static qvirSecretObj *
secretFindByUsage(qvirSecretDriver *drv, int usageType, const char *usageID)
{
    GHashTableIter iter;
    gpointer value;

    if (usageType == QVIR_SECRET_USAGE_NONE || !usageID)
        return NULL;
    g_hash_table_iter_init(&iter, drv->secrets);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        qvirSecretObj *obj = value;

        if ((int)obj->def->usageType == usageType && g_strcmp0(obj->def->usageID, usageID) == 0)
            return obj;
    }
    return NULL;
}

static qvirSecretObj *
secretGetByUUID(qvirSecretDriver *drv, const guint8 *uuid, GError **error)
{
    qvirSecretObj *obj = secretFindByUUID(drv, uuid);

    if (!obj) {
        char uuidstr[QVIR_UUID_STRING_BUFLEN];

        qvirUUIDFormat(uuid, uuidstr);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET,
                    "Secret not found: no secret with matching uuid '%s'", uuidstr);
    }
    return obj;
}

static void
secretInsert(qvirSecretDriver *drv, qvirSecretObj *obj)
{
    char uuidstr[QVIR_UUID_STRING_BUFLEN];

    qvirUUIDFormat(obj->def->uuid, uuidstr);
    g_hash_table_insert(drv->secrets, g_strdup(uuidstr), obj);
}

/* ---- open and close ---- */

/* One persistent secret from its XML file (and value file, when there is one). */
static gboolean
secretLoadOne(qvirSecretDriver *drv, const char *file, GError **error)
{
    g_autofree char *path = g_build_filename(drv->dir, file, NULL);
    g_autofree char *xml = NULL;
    g_autofree char *valuePath = NULL;
    g_autoptr(qvirSecretDef) def = NULL;
    g_autoptr(GBytes) value = NULL;
    char uuidstr[QVIR_UUID_STRING_BUFLEN];
    qvirSecretObj *obj;

    if (!g_file_get_contents(path, &xml, NULL, error))
        return FALSE;
    if (!(def = qvirSecretDefParseString(xml, error)) || !qvirSecretDefValidate(def, error))
        return FALSE;
    qvirUUIDFormat(def->uuid, uuidstr);
    if (strlen(file) != strlen(uuidstr) + 4 || strncmp(file, uuidstr, strlen(uuidstr)) != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: <uuid> does not match secret file name '%s'", path);
        return FALSE;
    }
    if (secretFindByUUID(drv, def->uuid) || secretFindByUsage(drv, def->usageType, def->usageID)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: a secret with UUID %s already defined for use with %s",
                    uuidstr, def->usageID ? def->usageID : "(null)");
        return FALSE;
    }
    valuePath = secretPath(drv, def->uuid, ".value");
    if (g_file_test(valuePath, G_FILE_TEST_EXISTS) &&
        !(value = secretLoadValue(drv, valuePath, error)))
        return FALSE;

    obj = g_new0(qvirSecretObj, 1);
    obj->def = g_steal_pointer(&def);
    obj->value = g_steal_pointer(&value);
    secretInsert(drv, obj);
    return TRUE;
}

static gint
secretNameCompare(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

qvirSecretDriver *
qvirSecretDriverOpen(const char *dir, GError **error)
{
    g_autoptr(GDir) d = NULL;
    g_autoptr(GPtrArray) names = NULL;
    qvirSecretDriver *drv;
    const char *name;

    if (!qvirFileMakeDirs(dir, 0700, error))
        return NULL;
    drv = g_new0(qvirSecretDriver, 1);
    g_mutex_init(&drv->lock);
    g_mutex_init(&drv->eventLock);
    drv->dir = g_strdup(dir);
    drv->secrets =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)secretObjFree);
    if (!secretLoadKey(drv, error)) {
        qvirSecretDriverClose(drv);
        return NULL;
    }
    if (!(d = g_dir_open(dir, 0, NULL)))
        return drv;
    /* In name order, so which of two secrets with one usage wins does not depend on the
     * directory's order. */
    names = g_ptr_array_new_with_free_func(g_free);
    while ((name = g_dir_read_name(d)))
        if (g_str_has_suffix(name, ".xml"))
            g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, secretNameCompare);
    for (guint i = 0; i < names->len; i++) {
        g_autoptr(GError) local = NULL;

        name = g_ptr_array_index(names, i);
        if (!secretLoadOne(drv, name, &local))
            g_warning("secret '%s/%s' not loaded: %s", dir, name, local->message);
    }
    return drv;
}

void
qvirSecretDriverClose(qvirSecretDriver *drv)
{
    if (!drv)
        return;
    g_hash_table_destroy(drv->secrets);
    qvirCryptoWipe(drv->key, sizeof(drv->key));
    g_free(drv->dir);
    g_mutex_clear(&drv->lock);
    g_mutex_clear(&drv->eventLock);
    g_free(drv);
}

/* ---- listing ---- */

static gint
secretRefCompare(gconstpointer a, gconstpointer b)
{
    const qvirSecretRef *ra = *(qvirSecretRef *const *)a;
    const qvirSecretRef *rb = *(qvirSecretRef *const *)b;

    return memcmp(ra->uuid, rb->uuid, sizeof(ra->uuid));
}

int
qvirSecretNumOfSecrets(qvirSecretDriver *drv)
{
    int n;

    g_mutex_lock(&drv->lock);
    n = (int)g_hash_table_size(drv->secrets);
    g_mutex_unlock(&drv->lock);
    return n;
}

GPtrArray *
qvirSecretListAll(qvirSecretDriver *drv, guint flags, GError **error)
{
    const guint known = QVIR_CONNECT_LIST_SECRETS_EPHEMERAL |
                        QVIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL | QVIR_CONNECT_LIST_SECRETS_PRIVATE |
                        QVIR_CONNECT_LIST_SECRETS_NO_PRIVATE;
    GPtrArray *refs;
    GHashTableIter iter;
    gpointer value;

    if (!qvirCheckFlags(flags, known, "secretConnectListAllSecrets", error))
        return NULL;
    refs = g_ptr_array_new_with_free_func((GDestroyNotify)qvirSecretRefFree);
    g_mutex_lock(&drv->lock);
    g_hash_table_iter_init(&iter, drv->secrets);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const qvirSecretDef *def = ((qvirSecretObj *)value)->def;

        /* Each pair of flags filters only when exactly one of the two is given. */
        if ((flags & QVIR_CONNECT_LIST_SECRETS_EPHEMERAL) &&
            !(flags & QVIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL) && !def->isEphemeral)
            continue;
        if ((flags & QVIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL) &&
            !(flags & QVIR_CONNECT_LIST_SECRETS_EPHEMERAL) && def->isEphemeral)
            continue;
        if ((flags & QVIR_CONNECT_LIST_SECRETS_PRIVATE) &&
            !(flags & QVIR_CONNECT_LIST_SECRETS_NO_PRIVATE) && !def->isPrivate)
            continue;
        if ((flags & QVIR_CONNECT_LIST_SECRETS_NO_PRIVATE) &&
            !(flags & QVIR_CONNECT_LIST_SECRETS_PRIVATE) && def->isPrivate)
            continue;
        g_ptr_array_add(refs, secretRefNew(def));
    }
    g_mutex_unlock(&drv->lock);
    g_ptr_array_sort(refs, secretRefCompare);
    return refs;
}

GPtrArray *
qvirSecretListUUIDs(qvirSecretDriver *drv)
{
    g_autoptr(GPtrArray) refs = qvirSecretListAll(drv, 0, NULL);
    GPtrArray *uuids = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < refs->len; i++) {
        char uuidstr[QVIR_UUID_STRING_BUFLEN];

        qvirUUIDFormat(((qvirSecretRef *)g_ptr_array_index(refs, i))->uuid, uuidstr);
        g_ptr_array_add(uuids, g_strdup(uuidstr));
    }
    return uuids;
}

/* ---- lookups ---- */

qvirSecretRef *
qvirSecretLookupByUUID(qvirSecretDriver *drv, const guint8 *uuid, GError **error)
{
    qvirSecretRef *ref = NULL;
    qvirSecretObj *obj;

    g_mutex_lock(&drv->lock);
    if ((obj = secretGetByUUID(drv, uuid, error)))
        ref = secretRefNew(obj->def);
    g_mutex_unlock(&drv->lock);
    return ref;
}

qvirSecretRef *
qvirSecretLookupByUsage(qvirSecretDriver *drv, int usageType, const char *usageID, GError **error)
{
    qvirSecretRef *ref = NULL;
    qvirSecretObj *obj;

    g_mutex_lock(&drv->lock);
    if ((obj = secretFindByUsage(drv, usageType, usageID)))
        ref = secretRefNew(obj->def);
    else
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET,
                    "Secret not found: no secret with matching usage '%s'",
                    usageID ? usageID : "(null)");
    g_mutex_unlock(&drv->lock);
    return ref;
}

/* ---- define and undefine ---- */

/* Make the files match DEF after it replaced OLD (NULL: a new secret) with VALUE. On
 * failure the files are as they were. */
static gboolean
secretPersist(qvirSecretDriver *drv, const qvirSecretDef *def, const qvirSecretDef *old,
              GBytes *value, GError **error)
{
    if (!def->isEphemeral) {
        gboolean wroteValue = FALSE;

        if (old && old->isEphemeral && value) {
            if (!secretSaveValue(drv, def, value, error))
                return FALSE;
            wroteValue = TRUE;
        }
        if (!secretSaveConfig(drv, def, error)) {
            if (wroteValue) {
                g_autofree char *valuePath = secretPath(drv, def->uuid, ".value");

                secretDeleteFile(valuePath, NULL);
            }
            return FALSE;
        }
    } else if (old && !old->isEphemeral) {
        g_autofree char *xmlPath = secretPath(drv, def->uuid, ".xml");
        g_autofree char *valuePath = secretPath(drv, def->uuid, ".value");

        if (!secretDeleteFile(xmlPath, error))
            return FALSE;
        secretDeleteFile(valuePath, NULL);
    }
    return TRUE;
}

qvirSecretRef *
qvirSecretDefineXML(qvirSecretDriver *drv, const char *xml, guint flags, GError **error)
{
    g_autoptr(qvirSecretDef) def = NULL;
    qvirSecretRef *ref = NULL;
    qvirSecretObj *obj;
    char uuidstr[QVIR_UUID_STRING_BUFLEN];

    if (!qvirCheckFlags(flags, QVIR_SECRET_DEFINE_VALIDATE, "secretDefineXML", error))
        return NULL;
    if ((flags & QVIR_SECRET_DEFINE_VALIDATE) &&
        !qvirSecretXMLValidateSchema(xml, QVIR_SECRET_SCHEMA, error))
        return NULL;
    if (!(def = qvirSecretDefParseString(xml, error)) || !qvirSecretDefValidate(def, error))
        return NULL;
    qvirUUIDFormat(def->uuid, uuidstr);

    g_mutex_lock(&drv->lock);
    if ((obj = secretFindByUUID(drv, def->uuid))) {
        if (g_strcmp0(obj->def->usageID, def->usageID) != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: a secret with UUID %s is already defined for use "
                        "with %s",
                        uuidstr, obj->def->usageID ? obj->def->usageID : "(null)");
            goto out;
        }
        if (obj->def->isPrivate && !def->isPrivate) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                                "internal error: cannot change private flag on existing secret");
            goto out;
        }
        if (!secretPersist(drv, def, obj->def, obj->value, error))
            goto out;
        qvirSecretDefFree(obj->def);
        obj->def = g_steal_pointer(&def);
    } else {
        qvirSecretObj *other = secretFindByUsage(drv, def->usageType, def->usageID);

        if (other) {
            qvirUUIDFormat(other->def->uuid, uuidstr);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: a secret with UUID %s already defined for use with %s",
                        uuidstr, def->usageID);
            goto out;
        }
        if (!secretPersist(drv, def, NULL, NULL, error))
            goto out;
        obj = g_new0(qvirSecretObj, 1);
        obj->def = g_steal_pointer(&def);
        secretInsert(drv, obj);
    }
    ref = secretRefNew(obj->def);

out:
    g_mutex_unlock(&drv->lock);
    if (ref)
        secretEmit(drv, secretRefCopy(ref), QVIR_SECRET_EVENT_ID_LIFECYCLE,
                   QVIR_SECRET_EVENT_DEFINED);
    return ref;
}

gboolean
qvirSecretUndefine(qvirSecretDriver *drv, const guint8 *uuid, GError **error)
{
    qvirSecretRef *ref = NULL;
    qvirSecretObj *obj;

    g_mutex_lock(&drv->lock);
    if ((obj = secretGetByUUID(drv, uuid, error))) {
        g_autofree char *xmlPath = secretPath(drv, uuid, ".xml");
        g_autofree char *valuePath = secretPath(drv, uuid, ".value");

        /* The definition goes first: a value file without one is never loaded. */
        if (!obj->def->isEphemeral && !secretDeleteFile(xmlPath, error)) {
            obj = NULL;
        } else {
            if (!obj->def->isEphemeral && !secretDeleteFile(valuePath, NULL))
                g_warning("secret value file '%s' left behind", valuePath);
            char uuidstr[QVIR_UUID_STRING_BUFLEN];

            qvirUUIDFormat(uuid, uuidstr);
            ref = secretRefNew(obj->def);
            g_hash_table_remove(drv->secrets, uuidstr);
        }
    }
    g_mutex_unlock(&drv->lock);
    if (!ref)
        return FALSE;
    secretEmit(drv, ref, QVIR_SECRET_EVENT_ID_LIFECYCLE, QVIR_SECRET_EVENT_UNDEFINED);
    return TRUE;
}

char *
qvirSecretGetXMLDesc(qvirSecretDriver *drv, const guint8 *uuid, guint flags, GError **error)
{
    char *xml = NULL;
    qvirSecretObj *obj;

    if (!qvirCheckFlags(flags, 0, "secretGetXMLDesc", error))
        return NULL;
    g_mutex_lock(&drv->lock);
    if ((obj = secretGetByUUID(drv, uuid, error)))
        xml = qvirSecretDefFormat(obj->def);
    g_mutex_unlock(&drv->lock);
    return xml;
}

/* ---- values ---- */

gboolean
qvirSecretSetValue(qvirSecretDriver *drv, const guint8 *uuid, const guint8 *value, gsize len,
                   guint flags, GError **error)
{
    g_autoptr(GBytes) bytes = NULL;
    qvirSecretRef *ref = NULL;
    qvirSecretObj *obj;

    if (!qvirCheckFlags(flags, 0, "secretSetValue", error))
        return FALSE;
    /* libvirt's API takes no NULL value, and its wire decoder gives NULL for an empty one:
     * an empty value can never be set. */
    if (!value) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "value in virSecretSetValue must not be NULL");
        return FALSE;
    }
    if (len > QVIR_SECRET_VALUE_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: a secret value is at most %d bytes", QVIR_SECRET_VALUE_MAX);
        return FALSE;
    }
    bytes = secretValueNew(value, len);
    g_mutex_lock(&drv->lock);
    if ((obj = secretGetByUUID(drv, uuid, error)) &&
        (obj->def->isEphemeral || secretSaveValue(drv, obj->def, bytes, error))) {
        if (obj->value)
            g_bytes_unref(obj->value);
        obj->value = g_steal_pointer(&bytes);
        ref = secretRefNew(obj->def);
    }
    g_mutex_unlock(&drv->lock);
    if (!ref)
        return FALSE;
    secretEmit(drv, ref, QVIR_SECRET_EVENT_ID_VALUE_CHANGED, 0);
    return TRUE;
}

/* OBJ's value (a new reference), or libvirt's error when it has none. Lock held. */
static GBytes *
secretObjGetValue(qvirSecretObj *obj, GError **error)
{
    if (!obj->value) {
        char uuidstr[QVIR_UUID_STRING_BUFLEN];

        qvirUUIDFormat(obj->def->uuid, uuidstr);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET,
                    "Secret not found: secret '%s' does not have a value", uuidstr);
        return NULL;
    }
    return g_bytes_ref(obj->value);
}

GBytes *
qvirSecretGetValue(qvirSecretDriver *drv, const guint8 *uuid, guint flags, GError **error)
{
    GBytes *value = NULL;
    qvirSecretObj *obj;

    if (!qvirCheckFlags(flags, 0, "secretGetValue", error))
        return NULL;
    g_mutex_lock(&drv->lock);
    if ((obj = secretGetByUUID(drv, uuid, error))) {
        /* libvirt refuses every client here, whoever it runs as: only the daemon itself
         * (qvirSecretLookupValue) reads a private value. */
        if (obj->def->isPrivate)
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_SECRET,
                                "Invalid secret: secret is private");
        else
            value = secretObjGetValue(obj, error);
    }
    g_mutex_unlock(&drv->lock);
    return value;
}

GBytes *
qvirSecretLookupValue(qvirSecretDriver *drv, const char *uuid, const char *usageType,
                      const char *usageID, GError **error)
{
    GBytes *value = NULL;
    qvirSecretObj *obj = NULL;
    guint8 raw[16];

    if (!drv) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: secret state driver is not active");
        return NULL;
    }
    if (uuid) {
        if (!qvirUUIDParse(uuid, raw)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET,
                        "Secret not found: no secret with matching uuid '%s'", uuid);
            return NULL;
        }
        g_mutex_lock(&drv->lock);
        obj = secretGetByUUID(drv, raw, error);
    } else {
        int type = usageType ? qvirSecretUsageTypeFromString(usageType) : -1;

        g_mutex_lock(&drv->lock);
        if (type > QVIR_SECRET_USAGE_NONE && usageID)
            obj = secretFindByUsage(drv, type, usageID);
        if (!obj)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET,
                        "Secret not found: no secret with matching usage '%s'",
                        usageID ? usageID : "(null)");
    }
    if (obj)
        value = secretObjGetValue(obj, error);
    g_mutex_unlock(&drv->lock);
    return value;
}
