#include "storage_source_conf.h"

QVIR_ENUM_IMPL(qvirStoragePoolMode, QVIR_STORAGE_POOL_MODE_LAST, "default", "host", "direct");
QVIR_ENUM_IMPL(qvirStorageType, QVIR_STORAGE_TYPE_LAST, "", "file", "block", "network");
QVIR_ENUM_IMPL(qvirStorageFileFormat, QVIR_STORAGE_FILE_LAST, "none", "raw", "iso", "qcow", "qcow2",
               "qed", "vmdk", "vpc", "vdi", "vhdx", "luks");

qvirStorageSource *
qvirStorageSourceNew(void)
{
    return g_new0(qvirStorageSource, 1);
}

static void
qvirStorageSourceFreeOne(qvirStorageSource *src)
{
    g_free(src->path);
    g_free(src->relPath);
    g_free(src->poolName);
    g_free(src->volName);
    g_free(src->backingStoreRaw);
    g_free(src->nodeStorage);
    g_free(src->nodeFormat);
    g_free(src);
}

void
qvirStorageSourceFree(qvirStorageSource *src)
{
    /* Iterative, so a 1000-layer chain cannot exhaust the stack. */
    while (src) {
        qvirStorageSource *next = src->backingStore;
        qvirStorageSourceFreeOne(src);
        src = next;
    }
}

static qvirStorageSource *
qvirStorageSourceCopyOne(const qvirStorageSource *src)
{
    qvirStorageSource *copy = g_new0(qvirStorageSource, 1);

    *copy = *src;
    copy->path = g_strdup(src->path);
    copy->relPath = g_strdup(src->relPath);
    copy->poolName = g_strdup(src->poolName);
    copy->volName = g_strdup(src->volName);
    copy->backingStoreRaw = g_strdup(src->backingStoreRaw);
    copy->nodeStorage = g_strdup(src->nodeStorage);
    copy->nodeFormat = g_strdup(src->nodeFormat);
    copy->backingStore = NULL;
    return copy;
}

qvirStorageSource *
qvirStorageSourceCopy(const qvirStorageSource *src)
{
    qvirStorageSource *top = NULL;
    qvirStorageSource **tail = &top;

    for (; src; src = src->backingStore) {
        *tail = qvirStorageSourceCopyOne(src);
        tail = &(*tail)->backingStore;
    }
    return top;
}

gboolean
qvirStorageSourceIsBacking(const qvirStorageSource *src)
{
    return src && src->type != QVIR_STORAGE_TYPE_NONE;
}

gboolean
qvirStorageSourceChainIsTerminated(const qvirStorageSource *src)
{
    for (; src; src = src->backingStore) {
        if (!qvirStorageSourceIsBacking(src))
            return TRUE;
    }
    return FALSE;
}

unsigned int
qvirStorageSourceChainLength(const qvirStorageSource *src)
{
    unsigned int n = 0;

    for (; qvirStorageSourceIsBacking(src); src = src->backingStore)
        n++;
    return n;
}

void
qvirStorageSourceChainClear(qvirStorageSource *src)
{
    if (!src)
        return;
    qvirStorageSourceFree(src->backingStore);
    src->backingStore = NULL;
}
