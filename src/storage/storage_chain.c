/*
 * storage_chain.c: walking a disk's backing chain, one layer at a time.
 *
 * Per layer: stat (only regular files and block devices are opened), open (O_RDONLY),
 * one pread of at most 0x8200 bytes, close.
 * A raw layer is not read at all. Only a VMDK whose descriptor lies further in
 * and a VHDX (whose size is in its metadata region) read more, through the
 * probe's read callback. The walk builds the new chain off to the side and
 * grafts it onto TOP only when every layer succeeded.
 */
#include "storage_chain.h"
#include "storage_backingstore.h"
#include "storage_netprobe.h"
#include "storage_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#endif

#include "util/virerror.h"
#include "util/virfile.h"

static atomic_uint_fast64_t qvirStorageProbeHeaders;

guint64
qvirStorageProbeCounter(void)
{
    return atomic_load(&qvirStorageProbeHeaders);
}

void
qvirStorageChainConfigInit(qvirStorageChainConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->allowFormatProbing = FALSE;
    cfg->maxDepth = QVIR_STORAGE_CHAIN_DEFAULT_MAX_DEPTH;
}

typedef struct {
    int fd;
    const char *path;
} qvirChainReader;

static gboolean
qvirChainPread(int fd, guint64 offset, guint8 *buf, gsize len, gsize *got)
{
    *got = 0;
    while (*got < len) {
        ssize_t n = pread(fd, buf + *got, len - *got, (off_t)(offset + *got));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FALSE;
        }
        if (n == 0)
            break;
        *got += (gsize)n;
    }
    return TRUE;
}

/* The probe's callback for the few formats that keep metadata past the header. */
static gboolean
qvirChainReadExtra(void *opaque, guint64 offset, guint8 *buf, gsize len, GError **error)
{
    qvirChainReader *r = opaque;
    gsize got;

    if (!qvirChainPread(r->fd, offset, buf, len, &got)) {
        int saved = errno;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot read header '%s': %s",
                    r->path, g_strerror(saved));
        return FALSE;
    }
    if (got != len) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_STORAGE_PROBE_FAILED,
                    "cannot read header '%s': unexpected end of file", r->path);
        return FALSE;
    }
    return TRUE;
}

static void
qvirChainReportAccess(int errcode, const qvirStorageSource *src, const qvirStorageSource *top,
                      GError **error)
{
    if (src == top)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Cannot access storage file '%s': %s",
                    src->path, g_strerror(errcode));
    else
        /* libvirt names the disk's top image here, not the direct overlay. */
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "Cannot access backing file '%s' of storage file '%s': %s", src->path,
                    top->path, g_strerror(errcode));
}

static void
qvirChainReportTooDeep(const qvirStorageSource *src, const qvirStorageChainConfig *cfg,
                       GError **error)
{
    if (cfg->diskName)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "backing chains more than %u layers deep are not supported for disk '%s'",
                    cfg->maxDepth, cfg->diskName);
    else
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "backing store for %s is self-referential or too deeply nested", src->path);
}

static guint
qvirChainIdHash(gconstpointer key)
{
    const qvirStorageSource *src = key;
    return g_int64_hash(&(gint64){(gint64)src->ino}) ^ (guint)src->dev;
}

static gboolean
qvirChainIdEqual(gconstpointer a, gconstpointer b)
{
    const qvirStorageSource *x = a, *y = b;
    return x->dev == y->dev && x->ino == y->ino;
}

/* Size of an opened file or block device; block devices need one ioctl. */
static gboolean
qvirChainLayerSize(int fd, const struct stat *sb, guint64 *size)
{
    if (S_ISREG(sb->st_mode)) {
        *size = (guint64)sb->st_size;
        return TRUE;
    }
#ifdef BLKGETSIZE64
    {
        guint64 bytes = 0;
        if (ioctl(fd, BLKGETSIZE64, &bytes) == 0) {
            *size = bytes;
            return TRUE;
        }
    }
#endif
    return FALSE;
}

/*
 * Open SRC, identify it, read its header once and fill its metadata. SEEN holds the
 * layers above; a repeat of dev+ino is a loop.
 */
static gboolean
qvirChainProbeLayer(qvirStorageSource *src, const qvirStorageSource *top, GHashTable *seen,
                    gboolean probed, gboolean *backingProbe, GError **error)
{
    g_autofree guint8 *buf = NULL;
    qvirStorageProbeResult res = {0};
    qvirStorageProbeInput in = {0};
    qvirChainReader reader;
    struct stat sb;
    g_autoptr(GError) err = NULL;
    guint64 size = 0;
    gsize got = 0, full = 0;
    int fd;
    gboolean ok = FALSE;

    /* Look before opening: a backing name comes from an image a guest can write, and
     * merely opening some character devices has side effects (/dev/watchdog arms the
     * hardware watchdog). Only regular files and block devices are ever opened. */
    if (stat(src->path, &sb) < 0) {
        qvirChainReportAccess(errno, src, top, error);
        return FALSE;
    }
    if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "storage file '%s' is not a regular file or block device", src->path);
        return FALSE;
    }
    src->type = S_ISBLK(sb.st_mode) ? QVIR_STORAGE_TYPE_BLOCK : QVIR_STORAGE_TYPE_FILE;
    src->dev = sb.st_dev;
    src->ino = sb.st_ino;
    if (g_hash_table_contains(seen, src)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "backing store for %s is self-referential or too deeply nested", src->path);
        return FALSE;
    }
    /* O_NONBLOCK: should the path be swapped for a FIFO after the stat, no hang. */
    if ((fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
        qvirChainReportAccess(errno, src, top, error);
        return FALSE;
    }
    if (!qvirChainLayerSize(fd, &sb, &size)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot get size of '%s': %s",
                    src->path, g_strerror(errno));
        goto cleanup;
    }

    /* Raw (and ISO, which QEMU reads as raw) is never read: its bytes belong to the
     * guest, whatever they look like. */
    if (src->format != QVIR_STORAGE_FILE_RAW && src->format != QVIR_STORAGE_FILE_ISO) {
        /* Never more than the file holds (one pread), and for most formats only the
         * first 4 KiB: copying the full 0x8200 bytes is most of the cost of a layer. */
        full = (gsize)MIN(size, (guint64)QVIR_STORAGE_PROBE_HEADER_MAX);
        buf = g_malloc(QVIR_STORAGE_PROBE_HEADER_MAX);
        if (!qvirChainPread(fd, 0, buf, MIN(full, qvirStorageProbeHeaderHint(src->format)), &got)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot read header '%s': %s",
                        src->path, g_strerror(errno));
            goto cleanup;
        }
        atomic_fetch_add(&qvirStorageProbeHeaders, 1);
        if (probed)
            src->format = qvirStorageProbeFormat(buf, got);
    }

    /* A declared format whose signature is not there: libvirt reads nothing it can trust
     * from such a header and lets QEMU refuse the image in its own words ("Image is not in
     * qcow2 format"). The layer is taken as it is, with no backing file, and its bytes are
     * never parsed as anything else: a guest can write any header into its disk. */
    if (!probed && src->format != QVIR_STORAGE_FILE_RAW && src->format != QVIR_STORAGE_FILE_ISO &&
        !qvirStorageProbeHasSignature(src->format, buf, got)) {
        src->capacity = 0;
        src->encrypted = FALSE;
        src->backingFormat = QVIR_STORAGE_FILE_NONE;
        *backingProbe = FALSE;
        g_clear_pointer(&src->backingStoreRaw, g_free);
        ok = TRUE;
        goto cleanup;
    }

    reader = (qvirChainReader){fd, src->path};
    in = (qvirStorageProbeInput){src->path, buf, got, size, qvirChainReadExtra, &reader};
    if (!qvirStorageProbeParse(src->format, &in, &res, &err)) {
        /* Metadata laid out past the first 4 KiB (not what qemu-img writes): read the
         * rest of the header, never the same byte twice, and parse again. */
        if (!res.headerShort || got >= full) {
            g_propagate_error(error, g_steal_pointer(&err));
            goto cleanup;
        }
        g_clear_error(&err);
        if (!qvirChainReadExtra(&reader, got, buf + got, full - got, error))
            goto cleanup;
        in.len = full;
        if (!qvirStorageProbeParse(src->format, &in, &res, error))
            goto cleanup;
    }

    src->capacity = res.capacity;
    src->encrypted = res.encrypted;
    src->backingFormat = res.backingFormat;
    *backingProbe = res.backingFormatProbe;
    g_free(src->backingStoreRaw);
    src->backingStoreRaw = g_steal_pointer(&res.backingName);
    ok = TRUE;

cleanup:
    qvirStorageProbeResultClear(&res);
    close(fd);
    return ok;
}

static gboolean
qvirChainCheckArgs(const qvirStorageSource *top, const qvirStorageChainConfig *cfg, GError **error)
{
    if (!top || !cfg || !top->path || !*top->path) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "backing chain probe needs a storage source with a path");
        return FALSE;
    }
    if (top->type != QVIR_STORAGE_TYPE_FILE && top->type != QVIR_STORAGE_TYPE_BLOCK) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "cannot probe the backing chain of '%s': not a file or block device",
                    top->path);
        return FALSE;
    }
    if (top->format <= QVIR_STORAGE_FILE_NONE && !cfg->allowFormatProbing) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "format of image '%s' is not specified and format probing is disabled",
                    top->path);
        return FALSE;
    }
    if (top->format >= QVIR_STORAGE_FILE_LAST) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "unknown format %d of image '%s'",
                    top->format, top->path);
        return FALSE;
    }
    return TRUE;
}

/*
 * A layer whose format we guessed cannot be trusted to name another file: a guest
 * can write any header into a disk it owns. libvirt refuses such a chain.
 */
static void
qvirChainReportProbedBacking(const qvirStorageSource *layer, const qvirStorageSource *overlay,
                             GError **error)
{
    if (overlay)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "format of backing image '%s' of image '%s' was not specified in the image "
                    "metadata (See https://libvirt.org/kbase/backing_chains.html for "
                    "troubleshooting)",
                    overlay->backingStoreRaw, overlay->path);
    else
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "format of image '%s' was probed as '%s', which names backing file '%s'; "
                    "a probed image is never followed: specify its format",
                    layer->path, qvirStorageFileFormatTypeToString(layer->format),
                    layer->backingStoreRaw);
}

gboolean
qvirStorageChainProbe(qvirStorageSource *top, const qvirStorageChainConfig *cfg, GError **error)
{
    g_autoptr(GHashTable) seen = NULL;
    g_autoptr(qvirStorageSource) scratch = NULL;
    qvirStorageSource *cur, *overlay = NULL;
    unsigned int depth = 1;
    /* CUR's overlay is a format whose rule is to probe its backing (QED without the raw
     * bit): CUR is guessed and followed, as QEMU and libvirt (AUTO_SAFE) follow it. */
    gboolean safeProbe = FALSE;

    if (!qvirChainCheckArgs(top, cfg, error))
        return FALSE;

    /* Work on a copy of TOP so that a failure leaves it untouched. */
    scratch = qvirStorageSourceNew();
    scratch->type = top->type;
    scratch->path = g_strdup(top->path);
    scratch->format = top->format;
    seen = g_hash_table_new(qvirChainIdHash, qvirChainIdEqual);

    for (cur = scratch;; overlay = cur, cur = cur->backingStore, depth++) {
        gboolean probed = cur->format == QVIR_STORAGE_FILE_NONE;
        gboolean backingProbe = FALSE;
        qvirStorageSource *next = NULL;
        int rc;

        if (depth > cfg->maxDepth) {
            qvirChainReportTooDeep(cur, cfg, error);
            return FALSE;
        }
        /* An unrecorded backing format is refused unless probing is allowed (or the
         * overlay's format says to probe), and a network layer cannot be probed at all
         * (libvirt refuses both alike). */
        if (probed && overlay &&
            ((!cfg->allowFormatProbing && !safeProbe) || cur->type == QVIR_STORAGE_TYPE_NETWORK)) {
            qvirChainReportProbedBacking(cur, overlay, error);
            return FALSE;
        }
        if (cur->type == QVIR_STORAGE_TYPE_NETWORK) {
            /* Never opened here. libvirt 9.0 leaves the chain below a network layer to
             * QEMU; on request QEMU's own block layer reads it (a raw layer has nothing
             * below it and costs no round trip). */
            if (!cfg->probeNetwork)
                break;
            if (cur->format != QVIR_STORAGE_FILE_RAW &&
                !qvirStorageNetProbeLayer(cur, cfg->qemuImg, error))
                return FALSE;
        } else {
            if (!qvirChainProbeLayer(cur, scratch, seen, probed, &backingProbe, error))
                return FALSE;
            /* A layer guessed only because probing is allowed is never followed; one
             * guessed by its overlay's own rule is, as QEMU follows it. */
            if (probed && !safeProbe && cur->backingStoreRaw) {
                qvirChainReportProbedBacking(cur, overlay, error);
                return FALSE;
            }
            /* network layers have no dev/ino; the depth limit stops their loops */
            g_hash_table_add(seen, cur);
        }
        if (!cur->backingStoreRaw) {
            cur->backingStore = qvirStorageSourceNew(); /* terminator */
            break;
        }
        rc = qvirStorageSourceNewFromBacking(cur, &next, error);
        if (rc < 0)
            return FALSE;
        /* A backing string with inline credentials names storage the XML cannot describe:
         * the chain stays unknown below CUR and QEMU opens it from the header itself. */
        if (rc == QVIR_STORAGE_BACKING_UNREPRESENTABLE) {
            qvirStorageSourceFree(next);
            break;
        }
        cur->backingStore = next;
        safeProbe = backingProbe;
    }

    /* Graft: TOP keeps its identity and caller-owned fields, gains the probed ones. */
    top->type = scratch->type;
    top->format = scratch->format;
    top->capacity = scratch->capacity;
    top->encrypted = scratch->encrypted;
    top->backingFormat = scratch->backingFormat;
    top->dev = scratch->dev;
    top->ino = scratch->ino;
    g_free(top->backingStoreRaw);
    top->backingStoreRaw = g_steal_pointer(&scratch->backingStoreRaw);
    qvirStorageSourceChainClear(top);
    top->backingStore = g_steal_pointer(&scratch->backingStore);
    return TRUE;
}
