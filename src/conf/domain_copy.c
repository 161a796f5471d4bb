/*
 * domain_copy.c: deep copies of a domain definition.
 *
 * Kept apart from domain_conf.c because it goes through the XML parser: code that only
 * formats (the chain tool) then links without libxml2.
 */
#include "conf/domain_conf.h"

/*
 * Through format + parse: the formatter and parser are each other's inverse (the test suite
 * checks that on every case), so one code path covers every field. The status flavour keeps
 * which chain layers were probed; node names are runtime-only and are copied by hand.
 */
qvirDomainDef *
qvirDomainDefCopy(const qvirDomainDef *def, unsigned int formatFlags, GError **error)
{
    /* a copy keeps everything, cookies included */
    unsigned int fflags = formatFlags | QVIR_DOMAIN_DEF_FORMAT_SECURE;
    unsigned int pflags = 0;
    g_autofree char *xml = NULL;
    qvirDomainDef *copy;

    g_return_val_if_fail(def != NULL, NULL);

    if (fflags & (QVIR_DOMAIN_DEF_FORMAT_LIVE | QVIR_DOMAIN_DEF_FORMAT_STATUS)) {
        fflags |= QVIR_DOMAIN_DEF_FORMAT_STATUS;
        pflags = QVIR_DOMAIN_DEF_PARSE_LIVE | QVIR_DOMAIN_DEF_PARSE_STATUS;
    }
    xml = qvirDomainDefFormat(def, fflags);
    if (!(copy = qvirDomainDefParseString(xml, pflags, error)))
        return NULL;

    if (!pflags)
        return copy;

    /* Carry over what the XML does not hold: probed metadata and node names. */
    copy->nodeIndexUsed = def->nodeIndexUsed;
    for (guint i = 0; i < def->disks->len && i < copy->disks->len; i++) {
        const qvirDomainDiskDef *from = g_ptr_array_index(def->disks, i);
        qvirDomainDiskDef *to = g_ptr_array_index(copy->disks, i);
        const qvirStorageSource *a = from->src;
        qvirStorageSource *b = to->src;

        for (; a && b; a = a->backingStore, b = b->backingStore) {
            b->relPath = g_strdup(a->relPath);
            b->capacity = a->capacity;
            b->backingStoreRaw = g_strdup(a->backingStoreRaw);
            b->backingFormat = a->backingFormat;
            b->encrypted = a->encrypted;
            b->dev = a->dev;
            b->ino = a->ino;
            b->nodeStorage = g_strdup(a->nodeStorage);
            b->nodeFormat = g_strdup(a->nodeFormat);
            b->thresholdEventWithIndex = a->thresholdEventWithIndex;
            /* ssh's user and host-key mode come only from a probed backing string */
            if (!b->sshUser)
                b->sshUser = g_strdup(a->sshUser);
            b->sshHostKeyCheckDisabled = a->sshHostKeyCheckDisabled;
        }
    }
    return copy;
}
