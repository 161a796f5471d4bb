/*
 * qemu_driver_blockstats.c: the block group of virConnectGetAllDomainStats (virsh domstats
 * --block [--backing]), record by record as libvirt 9.0 builds it
 * (qemuDomainGetStatsBlockExportDisk): one record per disk, or with --backing one per layer
 * of each chain, top first. A running domain's values come from QEMU (one query-blockstats
 * per devices and per nodes, one query-named-block-nodes); an inactive one's from the top
 * image itself (qemuStorageLimitsRefresh), leaving out what cannot be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "qemu/qemu_domainobj.h"
#include "qemu/qemu_driver.h"
#include "qemu/qemu_driverpriv.h"
#include "qemu/qemu_process.h"
#include "storage/storage_probe.h"
#include "util/virerror.h"

void
qvirDomainBlockRecordFree(qvirDomainBlockRecord *rec)
{
    if (!rec)
        return;
    g_free(rec->name);
    g_free(rec->path);
    g_free(rec);
}

/* libvirt's virStorageSourceIsLocalStorage: only such a layer shows its path. */
static gboolean
qemuBlockStatsIsLocal(const qvirStorageSource *src)
{
    return src->type == QVIR_STORAGE_TYPE_FILE || src->type == QVIR_STORAGE_TYPE_BLOCK;
}

static qvirDomainBlockRecord *
qemuBlockStatsRecordNew(const qvirDomainDiskDef *disk, const qvirStorageSource *src)
{
    qvirDomainBlockRecord *rec = g_new0(qvirDomainBlockRecord, 1);

    rec->name = g_strdup(disk->dst);
    if (src && qemuBlockStatsIsLocal(src) && src->path && *src->path)
        rec->path = g_strdup(src->path);
    rec->backingIndex = src ? src->id : 0;
    memset(&rec->stats, 0xff, sizeof(rec->stats));
    return rec;
}

/* ---- an inactive domain: the image's own sizes ------------------------------------------ */

/* The size of an open block device (lseek to its end), 0 when unknown. */
static guint64
qemuBlockStatsDeviceSize(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);

    return end > 0 ? (guint64)end : 0;
}

/*
 * SRC's allocation, capacity and physical size as libvirt reads them with the domain off
 * (qemuStorageLimitsRefresh with skipInaccessible): regular file -> blocks * 512, virtual
 * size from the header (the file size for raw), file size; block device -> its size
 * thrice, allocation 0 unless raw. Anything that cannot be read leaves all three 0 (not
 * shown). Only the declared format is parsed.
 */
static void
qemuBlockStatsInactiveLimits(const qvirStorageSource *src, qvirDomainBlockRecord *rec)
{
    g_autofree guint8 *buf = NULL;
    qvirStorageProbeResult res = {0};
    qvirStorageProbeInput in = {0};
    guint64 alloc, phys, cap;
    struct stat sb;
    ssize_t got = 0;
    int fd;

    if (!src || !qemuBlockStatsIsLocal(src) || !src->path || !*src->path ||
        src->format <= QVIR_STORAGE_FILE_NONE)
        return;
    if ((fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
        return;
    if (fstat(fd, &sb) < 0)
        goto cleanup;
    if (S_ISREG(sb.st_mode)) {
        alloc = (guint64)sb.st_blocks * 512;
        phys = cap = (guint64)sb.st_size;
    } else if (S_ISBLK(sb.st_mode)) {
        alloc = phys = cap = qemuBlockStatsDeviceSize(fd);
    } else {
        goto cleanup;
    }
    /* raw and iso (read as raw by QEMU) are never read: the guest owns those bytes */
    if (src->format != QVIR_STORAGE_FILE_RAW && src->format != QVIR_STORAGE_FILE_ISO) {
        buf = g_malloc(QVIR_STORAGE_PROBE_HEADER_MAX);
        do {
            got = pread(fd, buf, QVIR_STORAGE_PROBE_HEADER_MAX, 0);
        } while (got < 0 && errno == EINTR);
        if (got < 0)
            goto cleanup;
        in = (qvirStorageProbeInput){src->path, buf, (gsize)got, phys, NULL, NULL};
        /* a header not of the declared format (which QEMU will refuse) has no capacity:
         * the file size stands, as libvirt's zero capacity falls back to it */
        if (qvirStorageProbeParse(src->format, &in, &res, NULL) && res.capacity)
            cap = res.capacity;
        qvirStorageProbeResultClear(&res);
    }
    /* QEMU's highest written offset is the allocation of a formatted block device */
    if (S_ISBLK(sb.st_mode) && src->format != QVIR_STORAGE_FILE_RAW)
        alloc = 0;
    rec->allocation = alloc;
    rec->haveAllocation = alloc != 0;
    rec->capacity = cap;
    rec->physical = phys;

cleanup:
    close(fd);
}

static void
qemuBlockStatsInactiveDisk(const qvirDomainDiskDef *disk, gboolean backing, GPtrArray *recs)
{
    /* without a running QEMU the chain is what the definition spells out */
    for (const qvirStorageSource *n = disk->src; qvirStorageSourceIsBacking(n);
         n = n->backingStore) {
        qvirDomainBlockRecord *rec = qemuBlockStatsRecordNew(disk, n);

        qemuBlockStatsInactiveLimits(n, rec);
        g_ptr_array_add(recs, rec);
        if (!backing)
            return;
    }
    if (!qvirStorageSourceIsBacking(disk->src))
        g_ptr_array_add(recs, qemuBlockStatsRecordNew(disk, NULL));
}

/* ---- a running domain: QEMU's view ------------------------------------------------------ */

typedef struct {
    JsonArray *devices; /* query-blockstats */
    JsonArray *nodes;   /* query-blockstats with query-nodes */
    JsonArray *named;   /* query-named-block-nodes, flat */
} qemuBlockStatsReplies;

/* The query-blockstats entry for node NAME: a device's root first, then the nodes'. */
static JsonObject *
qemuBlockStatsNodeEntry(const qemuBlockStatsReplies *q, const char *name)
{
    JsonArray *lists[] = {q->devices, q->nodes};

    for (guint l = 0; name && l < G_N_ELEMENTS(lists); l++) {
        for (guint i = 0; lists[l] && i < json_array_get_length(lists[l]); i++) {
            JsonObject *entry = json_array_get_object_element(lists[l], i);

            if (g_strcmp0(qemuDriverJsonString(entry, "node-name"), name) == 0)
                return entry;
        }
    }
    return NULL;
}

/* The host file's size, as libvirt's qemuDomainStorageUpdatePhysical; 0 when unknown. */
static guint64
qemuBlockStatsFilePhysical(const qvirStorageSource *src)
{
    struct stat sb;
    guint64 size = 0;
    int fd;

    if (!qemuBlockStatsIsLocal(src) || !src->path ||
        (fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
        return 0;
    if (fstat(fd, &sb) == 0)
        size = S_ISBLK(sb.st_mode) ? qemuBlockStatsDeviceSize(fd) : (guint64)sb.st_size;
    close(fd);
    return size;
}

/*
 * Layer N's sizes (qemuDomainGetStatsOneBlock) and write threshold: allocation is the
 * highest offset written into its storage node, present whenever QEMU knows the node;
 * capacity and physical (image virtual and actual size) only when not zero, physical
 * falling back to the file's size.
 */
static void
qemuBlockStatsRunningLayer(const qemuBlockStatsReplies *q, const qvirStorageSource *n,
                           qvirDomainBlockRecord *rec)
{
    JsonObject *entry = qemuBlockStatsNodeEntry(q, n->nodeFormat);
    JsonObject *node = q->named ? qemuDriverFindNode(q->named, n->nodeFormat) : NULL;
    JsonObject *storage = q->named ? qemuDriverFindNode(q->named, n->nodeStorage) : NULL;
    long long v;

    if (entry || node) {
        JsonObject *parent = qemuDriverJsonObjectMember(entry, "parent");
        JsonObject *image = qemuDriverJsonObjectMember(node, "image");

        v = qemuDriverJsonInt(qemuDriverJsonObjectMember(parent, "stats"), "wr_highest_offset");
        rec->haveAllocation = TRUE;
        rec->allocation = v > 0 ? (guint64)v : 0;
        v = qemuDriverJsonInt(image, "virtual-size");
        rec->capacity = v > 0 ? (guint64)v : 0;
        v = qemuDriverJsonInt(image, "actual-size");
        rec->physical = v > 0 ? (guint64)v : qemuBlockStatsFilePhysical(n);
    }
    v = qemuDriverJsonInt(storage, "write_threshold");
    rec->threshold = v > 0 ? (guint64)v : 0;
}

/* The device's counters (query-blockstats' entry for DISK's frontend) into REC. */
static void
qemuBlockStatsFrontend(const qemuBlockStatsReplies *q, const qvirDomainDiskDef *disk,
                       qvirDomainBlockRecord *rec)
{
    for (guint i = 0; q->devices && i < json_array_get_length(q->devices); i++) {
        JsonObject *entry = json_array_get_object_element(q->devices, i);
        JsonObject *s;

        if (!qemuDriverEntryIsDisk(entry, disk))
            continue;
        s = qemuDriverJsonObjectMember(entry, "stats");
        rec->haveStats = TRUE;
        rec->stats.rdReq = qemuDriverJsonInt(s, "rd_operations");
        rec->stats.rdBytes = qemuDriverJsonInt(s, "rd_bytes");
        rec->stats.wrReq = qemuDriverJsonInt(s, "wr_operations");
        rec->stats.wrBytes = qemuDriverJsonInt(s, "wr_bytes");
        rec->stats.flushReq = qemuDriverJsonInt(s, "flush_operations");
        rec->stats.rdTotalTimes = qemuDriverJsonInt(s, "rd_total_time_ns");
        rec->stats.wrTotalTimes = qemuDriverJsonInt(s, "wr_total_time_ns");
        rec->stats.flushTotalTimes = qemuDriverJsonInt(s, "flush_total_time_ns");
        rec->stats.errs = -1;
        return;
    }
}

static void
qemuBlockStatsRunningDisk(const qemuBlockStatsReplies *q, const qvirDomainDiskDef *disk,
                          gboolean backing, GPtrArray *recs)
{
    /* an empty drive is a source too: its record has the device's counters only */
    const qvirStorageSource *n = disk->src;

    if (!n) {
        qvirDomainBlockRecord *rec = qemuBlockStatsRecordNew(disk, NULL);

        qemuBlockStatsFrontend(q, disk, rec);
        g_ptr_array_add(recs, rec);
        return;
    }
    for (; qvirStorageSourceIsBacking(n) || n == disk->src; n = n->backingStore) {
        qvirDomainBlockRecord *rec = qemuBlockStatsRecordNew(disk, n);

        if (n == disk->src)
            qemuBlockStatsFrontend(q, disk, rec);
        if (n->nodeFormat)
            qemuBlockStatsRunningLayer(q, n, rec);
        g_ptr_array_add(recs, rec);
        if (!backing || !n->backingStore)
            return;
    }
}

GPtrArray *
qvirDriverDomainGetBlockRecords(qvirDriver *drv, const unsigned char *uuid, gboolean backing,
                                GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(JsonNode) named = NULL;
    g_autoptr(JsonNode) devices = NULL;
    g_autoptr(JsonNode) nodes = NULL;
    g_autoptr(GPtrArray) recs = NULL;
    qemuBlockStatsReplies q = {0};
    qemuMonitor *mon = NULL;

    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_QUERY, error))
        return NULL;
    qemuDomainObjLock(obj);
    if (qemuDomainObjIsActive(obj) && obj->proc)
        mon = qemuProcessGetMonitor(obj->proc);
    def = qvirDomainDefCopy(qemuDomainObjGetDef(obj), QVIR_DOMAIN_DEF_FORMAT_STATUS, error);
    qemuDomainObjUnlock(obj);
    if (def && mon) {
        g_autoptr(JsonObject) flat = json_object_new();
        g_autoptr(JsonObject) perNode = json_object_new();

        json_object_set_boolean_member(flat, "flat", TRUE);
        json_object_set_boolean_member(perNode, "query-nodes", TRUE);
        /* Statistics are best effort: a QEMU that does not answer leaves them out. */
        devices = qemuDriverQMPArray(mon, "query-blockstats", NULL, NULL);
        nodes = qemuDriverQMPArray(mon, "query-blockstats", perNode, NULL);
        named = qemuDriverQMPArray(mon, "query-named-block-nodes", flat, NULL);
    }
    qemuDomainObjEndJob(obj);
    if (!def)
        return NULL;

    q.devices = devices ? json_node_get_array(devices) : NULL;
    q.nodes = nodes ? json_node_get_array(nodes) : NULL;
    q.named = named ? json_node_get_array(named) : NULL;
    recs = g_ptr_array_new_with_free_func((GDestroyNotify)qvirDomainBlockRecordFree);
    for (guint d = 0; d < def->disks->len; d++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, d);

        if (mon)
            qemuBlockStatsRunningDisk(&q, disk, backing, recs);
        else
            qemuBlockStatsInactiveDisk(disk, backing, recs);
    }
    return g_steal_pointer(&recs);
}
