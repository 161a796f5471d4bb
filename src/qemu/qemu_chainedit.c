#include "qemu_chainedit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/virerror.h"

/* "vda[3]" -> target "vda", index 3. FALSE when NAME is not in that notation. */
static gboolean
qemuChainParseIndexName(const char *name, char **target, unsigned int *idx)
{
    const char *open = strrchr(name, '[');
    size_t len = strlen(name);
    char *end = NULL;
    unsigned long long val;

    if (!open || open == name || len < 3 || name[len - 1] != ']')
        return FALSE;
    if (!g_ascii_isdigit(open[1]))
        return FALSE;
    errno = 0;
    val = strtoull(open + 1, &end, 10);
    if (errno != 0 || end != name + len - 1 || val > G_MAXUINT)
        return FALSE;

    *target = g_strndup(name, open - name);
    *idx = (unsigned int)val;
    return TRUE;
}

static gboolean
qemuChainLayerMatches(const qvirStorageSource *src, const char *name)
{
    return g_strcmp0(src->path, name) == 0 || g_strcmp0(src->relPath, name) == 0;
}

qvirStorageSource *
qemuChainLookup(qvirStorageSource *top, const qvirStorageSource *beneath, const char *name,
                const char *dst, qvirStorageSource **parent, GError **error)
{
    g_autofree char *target = NULL;
    unsigned int idx = 0;
    gboolean byIndex = FALSE;
    qvirStorageSource *prev = NULL;
    qvirStorageSource *cur = top;

    g_return_val_if_fail(name != NULL, NULL);

    if (parent)
        *parent = NULL;

    if (qemuChainParseIndexName(name, &target, &idx)) {
        if (dst && strcmp(target, dst) != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "requested target '%s' does not match target '%s'", target, dst);
            return NULL;
        }
        byIndex = TRUE;
    }

    if (beneath) {
        while (qvirStorageSourceIsBacking(cur) && cur != beneath)
            cur = cur->backingStore;
        if (cur != beneath) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "image '%s' is not part of the chain for '%s'",
                        beneath->path ? beneath->path : "", dst ? dst : "");
            return NULL;
        }
        prev = cur;
        cur = cur->backingStore;
    }

    for (; qvirStorageSourceIsBacking(cur); prev = cur, cur = cur->backingStore) {
        gboolean found;

        if (byIndex)
            /* The top of a disk may carry no index yet; "[0]" names it. */
            found = cur->id == idx || (idx == 0 && cur == top);
        else
            found = qemuChainLayerMatches(cur, name);
        if (found) {
            if (parent)
                *parent = prev;
            return cur;
        }
    }

    if (byIndex)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "could not find backing store index '%u' in chain for '%s'", idx,
                    dst ? dst : "");
    else if (beneath)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "could not find image '%s' beneath '%s' in chain for '%s'", name,
                    beneath->path ? beneath->path : "", dst ? dst : "");
    else
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "could not find image '%s' in chain for '%s'", name, dst ? dst : "");
    return NULL;
}

gboolean
qemuChainContains(const qvirStorageSource *above, const qvirStorageSource *layer)
{
    const qvirStorageSource *cur;

    if (!above || !layer)
        return FALSE;
    for (cur = above->backingStore; qvirStorageSourceIsBacking(cur); cur = cur->backingStore) {
        if (cur == layer)
            return TRUE;
    }
    return FALSE;
}

/*
 * Cut the layers from FIRST down to (excluding) STOP out of the chain and return them as
 * a list of their own. STOP must be below FIRST (or NULL/terminator: cut to the end).
 */
static qvirStorageSource *
qemuChainDetachRange(qvirStorageSource *first, const qvirStorageSource *stop)
{
    qvirStorageSource *last = NULL;
    qvirStorageSource *cur;

    if (first == stop)
        return NULL;
    for (cur = first; qvirStorageSourceIsBacking(cur) && cur != stop; cur = cur->backingStore)
        last = cur;
    if (last)
        last->backingStore = NULL;
    return last ? first : NULL;
}

/* The backing name an overlay records for BASE after QEMU rewrote its header. */
static void
qemuChainSetBackingName(qvirStorageSource *overlay, qvirStorageSource *base,
                        const char *backingName)
{
    const char *name = backingName ? backingName : base->path;

    g_free(overlay->backingStoreRaw);
    overlay->backingStoreRaw = g_strdup(name);
    overlay->backingFormat = base->format;
    g_free(base->relPath);
    base->relPath = g_strdup(name);
}

gboolean
qemuChainEditPull(qvirStorageSource *top, qvirStorageSource *base, const char *backingName,
                  qvirStorageSource **removed, GError **error)
{
    qvirStorageSource *cur;
    qvirStorageSource *last = NULL;
    qvirStorageSource *term;

    g_return_val_if_fail(top != NULL && removed != NULL, FALSE);
    *removed = NULL;

    if (!qvirStorageSourceIsBacking(top->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "image '%s' has no backing file to pull", top->path ? top->path : "");
        return FALSE;
    }

    if (base) {
        if (!qemuChainContains(top, base)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "could not find image '%s' beneath '%s' in chain",
                        base->path ? base->path : "", top->path ? top->path : "");
            return FALSE;
        }
        *removed = qemuChainDetachRange(top->backingStore, base);
        top->backingStore = base;
        qemuChainSetBackingName(top, base, backingName);
        return TRUE;
    }

    /* Everything below TOP was pulled: keep (or make) the terminator under TOP. */
    for (cur = top->backingStore; qvirStorageSourceIsBacking(cur); cur = cur->backingStore)
        last = cur;
    term = last->backingStore;
    if (!term) {
        term = qvirStorageSourceNew();
        term->type = QVIR_STORAGE_TYPE_NONE;
    }
    last->backingStore = NULL;
    *removed = top->backingStore;
    top->backingStore = term;
    g_clear_pointer(&top->backingStoreRaw, g_free);
    top->backingFormat = QVIR_STORAGE_FILE_NONE;
    return TRUE;
}

gboolean
qemuChainEditCommit(qvirStorageSource *diskTop, qvirStorageSource *top, qvirStorageSource *base,
                    const char *backingName, qvirStorageSource **removed, GError **error)
{
    qvirStorageSource *parent = NULL;
    qvirStorageSource *cur;

    g_return_val_if_fail(diskTop != NULL && top != NULL && base != NULL && removed != NULL, FALSE);
    *removed = NULL;

    if (top == diskTop) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "commit of '%s' active layer requires active flag", top->path ? top->path : "");
        return FALSE;
    }
    for (cur = diskTop; qvirStorageSourceIsBacking(cur); cur = cur->backingStore) {
        if (cur->backingStore == top) {
            parent = cur;
            break;
        }
    }
    if (!parent) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "could not find image '%s' in chain for '%s'", top->path ? top->path : "",
                    diskTop->path ? diskTop->path : "");
        return FALSE;
    }
    if (!qvirStorageSourceIsBacking(top->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "top '%s' in chain for '%s' has no backing file", top->path ? top->path : "",
                    diskTop->path ? diskTop->path : "");
        return FALSE;
    }
    if (!qemuChainContains(top, base)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "could not find image '%s' beneath '%s' in chain for '%s'",
                    base->path ? base->path : "", top->path ? top->path : "",
                    diskTop->path ? diskTop->path : "");
        return FALSE;
    }

    *removed = qemuChainDetachRange(top, base);
    parent->backingStore = base;
    qemuChainSetBackingName(parent, base, backingName);
    return TRUE;
}

gboolean
qemuChainEditActiveCommit(qvirStorageSource **diskTop, qvirStorageSource *base,
                          qvirStorageSource **removed, GError **error)
{
    qvirStorageSource *old;

    g_return_val_if_fail(diskTop != NULL && *diskTop != NULL && base != NULL && removed != NULL,
                         FALSE);
    *removed = NULL;
    old = *diskTop;

    if (!qvirStorageSourceIsBacking(old->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "top '%s' in chain for '%s' has no backing file", old->path ? old->path : "",
                    old->path ? old->path : "");
        return FALSE;
    }
    if (!qemuChainContains(old, base)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "could not find image '%s' beneath '%s' in chain", base->path ? base->path : "",
                    old->path ? old->path : "");
        return FALSE;
    }

    /* The disk's own flags (<readonly/>, <shareable/>) live on its top layer. */
    base->readonly = old->readonly;
    base->shared = old->shared;
    g_clear_pointer(&base->relPath, g_free);
    *removed = qemuChainDetachRange(old, base);
    *diskTop = base;
    return TRUE;
}

gboolean
qemuChainEditSnapshot(qvirStorageSource **diskTop, qvirStorageSource *overlay, GError **error)
{
    qvirStorageSource *old;

    g_return_val_if_fail(diskTop != NULL && *diskTop != NULL && overlay != NULL, FALSE);
    old = *diskTop;

    if (!qvirStorageSourceIsBacking(old)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "cannot take a snapshot of an empty disk");
        return FALSE;
    }
    if (!qvirStorageSourceIsBacking(overlay)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "snapshot overlay has no source");
        return FALSE;
    }
    if (qvirStorageSourceIsBacking(overlay->backingStore)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "snapshot overlay '%s' already has a backing chain", overlay->path);
        return FALSE;
    }

    g_clear_pointer(&overlay->backingStore, qvirStorageSourceFree);
    overlay->readonly = old->readonly;
    overlay->shared = old->shared;
    overlay->backingStore = old;
    qemuChainSetBackingName(overlay, old, NULL);
    old->readonly = TRUE;
    *diskTop = overlay;
    return TRUE;
}

/* N of "libvirt-N-storage" / "libvirt-N-format"; 0 for anything else. */
static unsigned int
qemuChainNodeIndex(const char *node)
{
    const char *p;
    char *end = NULL;
    unsigned long long val;

    if (!node || !g_str_has_prefix(node, "libvirt-"))
        return 0;
    p = node + strlen("libvirt-");
    if (!g_ascii_isdigit(*p))
        return 0;
    val = strtoull(p, &end, 10);
    if (*end != '-' || val > G_MAXUINT)
        return 0;
    return (unsigned int)val;
}

unsigned int
qemuChainMaxIndex(const qvirStorageSource *chain)
{
    unsigned int max = 0;

    for (; qvirStorageSourceIsBacking(chain); chain = chain->backingStore) {
        max = MAX(max, chain->id);
        max = MAX(max, qemuChainNodeIndex(chain->nodeFormat));
        max = MAX(max, qemuChainNodeIndex(chain->nodeStorage));
    }
    return max;
}
