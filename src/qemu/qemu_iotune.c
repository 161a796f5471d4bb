/*
 * qemu_iotune.c: block I/O throttling and write thresholds of running disks (see
 * qemu_iotune.h). The merge rules are libvirt 9.0's qemuDomainSetBlockIoTune* in
 * src/qemu/qemu_driver.c, errors included.
 */
#define G_LOG_DOMAIN "qvirt-qemu"

#include "qemu/qemu_iotune.h"

#include <string.h>

#include "util/virerror.h"

/* QMP's names of the <iotune> fields, in qvirDomainIotuneField order. */
static const char *const qemuIotuneKeys[QVIR_DOMAIN_IOTUNE_LAST] = {
    "bps",
    "bps_rd",
    "bps_wr",
    "iops",
    "iops_rd",
    "iops_wr",
    "bps_max",
    "bps_rd_max",
    "bps_wr_max",
    "iops_max",
    "iops_rd_max",
    "iops_wr_max",
    "iops_size",
    "bps_max_length",
    "bps_rd_max_length",
    "bps_wr_max_length",
    "iops_max_length",
    "iops_rd_max_length",
    "iops_wr_max_length",
};

/* The families libvirt inherits as a whole when a request names none of their fields:
 * each is a run of fields from FIRST, N long. */
static const struct {
    qvirDomainIotuneField first;
    guint n;
} qemuIotuneFamilies[] = {
    {QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC, 3},
    {QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC, 3},
    {QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX, 3},
    {QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC_MAX, 3},
    {QVIR_DOMAIN_IOTUNE_SIZE_IOPS_SEC, 1},
    {QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH, 3},
    {QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC_MAX_LENGTH, 3},
};

/* A burst length F's base limit and maximum: the six lengths follow the six bases and
 * the six maxima in the same order. */
#define QEMU_IOTUNE_LENGTH_BASE(f) ((f)-QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH)
#define QEMU_IOTUNE_LENGTH_MAX(f)                                                                  \
    ((f)-QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH + QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX)

void
qemuBlockIoTuneClear(qemuBlockIoTune *t)
{
    g_clear_pointer(&t->group, g_free);
    memset(t->v, 0, sizeof(t->v));
}

void
qemuBlockIoTuneFromDisk(qemuBlockIoTune *out, const qvirDomainDiskDef *disk)
{
    qemuBlockIoTuneClear(out);
    memcpy(out->v, disk->iotune, sizeof(out->v));
    out->group = g_strdup(disk->iotuneGroup);
}

void
qemuBlockIoTuneToDisk(qvirDomainDiskDef *disk, const qemuBlockIoTune *in)
{
    memcpy(disk->iotune, in->v, sizeof(disk->iotune));
    g_free(disk->iotuneGroup);
    disk->iotuneGroup = g_strdup(in->group);
}

static gboolean
qemuBlockIoTuneHasAny(const qemuBlockIoTune *t)
{
    for (guint i = 0; i < QVIR_DOMAIN_IOTUNE_LAST; i++) {
        if (t->v[i])
            return TRUE;
    }
    return FALSE;
}

gboolean
qemuBlockIoTuneCheckRequest(const qemuBlockIoTuneRequest *r, GError **error)
{
    const qemuBlockIoTune *req = &r->t;

    static const char *const what[] = {"bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"};
    static const qvirDomainIotuneField totals[] = {
        QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC,
        QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC,
        QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX,
        QVIR_DOMAIN_IOTUNE_TOTAL_IOPS_SEC_MAX,
    };

    for (guint i = 0; i < QVIR_DOMAIN_IOTUNE_LAST; i++) {
        if ((r->set & (1u << i)) && req->v[i] > QEMU_BLOCK_IOTUNE_MAX) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                        "argument unsupported: block I/O throttle limit value must be no more "
                        "than %llu",
                        QEMU_BLOCK_IOTUNE_MAX);
            return FALSE;
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(totals); i++) {
        /* read and write follow total in the enum */
        if (req->v[totals[i]] && (req->v[totals[i] + 1] || req->v[totals[i] + 2])) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "invalid argument: total and read/write of %s cannot be set at the same "
                        "time",
                        what[i]);
            return FALSE;
        }
    }
    return TRUE;
}

/* The throttle a request for DISK inherits from: its group's (GROUP names another group
 * some disk of DEF is in) or the disk's own (libvirt's qemuDomainFindGroupBlockIoTune). */
static const qvirDomainDiskDef *
qemuBlockIoTuneFindCurrent(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                           const char *group)
{
    if (!group || g_strcmp0(disk->iotuneGroup, group) == 0)
        return disk;
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        if (g_strcmp0(d->iotuneGroup, group) == 0)
            return d;
    }
    return disk;
}

/* A maximum needs its base and is not below it. libvirt 9.0 words a missing base as
 * "cannot reset" whatever the request was (its test of the flag is a constant). */
static gboolean
qemuBlockIoTuneCheckMax(const qemuBlockIoTune *t, GError **error)
{
    for (guint base = 0; base < 6; base++) {
        guint max = base + QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX;
        const char *baseName = qvirDomainIotuneFieldTypeToString(base);
        const char *maxName = qvirDomainIotuneFieldTypeToString(max);

        if (!t->v[max])
            continue;
        if (!t->v[base]) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported configuration: cannot reset '%s' when '%s' is set", baseName,
                        maxName);
            return FALSE;
        }
        if (t->v[max] < t->v[base]) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported configuration: value '%s' cannot be smaller than '%s'",
                        maxName, baseName);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
qemuBlockIoTuneMerge(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                     const qemuBlockIoTuneRequest *r, const char *groupOf, gboolean checkMax,
                     qemuBlockIoTune *out, GError **error)
{
    const qvirDomainDiskDef *cur = qemuBlockIoTuneFindCurrent(def, disk, groupOf);
    const qemuBlockIoTune *req = &r->t;
    guint32 set = r->set;

    qemuBlockIoTuneClear(out);
    memcpy(out->v, req->v, sizeof(out->v));
    out->group = g_strdup((set & QEMU_IOTUNE_SET_GROUP) ? req->group : cur->iotuneGroup);
    for (guint i = 0; i < G_N_ELEMENTS(qemuIotuneFamilies); i++) {
        guint first = qemuIotuneFamilies[i].first;
        guint32 mask = ((1u << qemuIotuneFamilies[i].n) - 1) << first;
        gboolean lengths = first >= QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH;

        for (guint f = first; f < first + qemuIotuneFamilies[i].n; f++) {
            if (!(set & mask))
                out->v[f] = cur->iotune[f];
            else if (lengths && cur->iotune[f] && !out->v[f])
                /* clearing a burst length QEMU would otherwise refuse: 1 while the
                 * family has a limit (QEMU's own default then) */
                out->v[f] =
                    (out->v[QEMU_IOTUNE_LENGTH_BASE(f)] || out->v[QEMU_IOTUNE_LENGTH_MAX(f)]) ? 1
                                                                                              : 0;
        }
    }

    if (!qemuBlockIoTuneHasAny(out)) {
        if (out->group && g_strcmp0(out->group, disk->iotuneGroup) != 0) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                                "unsupported configuration: creating a new group/updating "
                                "existing with all tune parameters zero is not supported");
            return FALSE;
        }
        /* all zero: no throttle, and out of its group */
        g_clear_pointer(&out->group, g_free);
    }
    return !checkMax || qemuBlockIoTuneCheckMax(out, error);
}

void
qemuBlockIoTuneApply(qvirDomainDef *def, qvirDomainDiskDef *disk, const qemuBlockIoTune *t)
{
    qemuBlockIoTuneToDisk(disk, t);
    for (guint i = 0; t->group && i < def->disks->len; i++) {
        qvirDomainDiskDef *d = g_ptr_array_index(def->disks, i);

        if (g_strcmp0(d->iotuneGroup, t->group) == 0)
            qemuBlockIoTuneToDisk(d, t);
    }
}

/*
 * How QMP names DISK's guest device for throttling: with -blockdev the device's QOM path
 * where its block backend sits (virtio-blk's inner virtio-backend, usb-storage's SCSI
 * disk, else the device itself), as query-block's "qdev" reports it; with -drive the
 * drive ("device"). Exactly one of *ID and *DRIVE is set.
 */
static void
qemuBlockIoTuneDeviceNames(const qemuCaps *caps, const qvirDomainDiskDef *disk, char **id,
                           char **drive)
{
    *id = NULL;
    *drive = NULL;
    if (!qemuCapsGet(caps, QEMU_CAPS_BLOCKDEV))
        *drive = g_strdup_printf("drive-%s", disk->info.alias);
    else if (disk->bus == QVIR_DOMAIN_DISK_BUS_VIRTIO)
        *id = g_strdup_printf("/machine/peripheral/%s/virtio-backend", disk->info.alias);
    else if (disk->bus == QVIR_DOMAIN_DISK_BUS_USB)
        *id = g_strdup_printf("/machine/peripheral/%s/%s.0/legacy[0]", disk->info.alias,
                              disk->info.alias);
    else
        *id = g_strdup(disk->info.alias);
}

gboolean
qemuBlockIoTuneSet(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDiskDef *disk,
                   const qemuBlockIoTune *t, GError **error)
{
    JsonObject *args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *id = NULL;
    g_autofree char *drive = NULL;

    qemuBlockIoTuneDeviceNames(caps, disk, &id, &drive);
    if (drive)
        json_object_set_string_member(args, "device", drive);
    else
        json_object_set_string_member(args, "id", id);
    for (int f = 0; f < QVIR_DOMAIN_IOTUNE_LAST; f++) {
        if (f == QVIR_DOMAIN_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH && t->group)
            json_object_set_string_member(args, "group", t->group);
        if (f <= QVIR_DOMAIN_IOTUNE_SIZE_IOPS_SEC || t->v[f])
            json_object_set_int_member(args, qemuIotuneKeys[f], (gint64)t->v[f]);
    }
    ret = qemuMonitorCommandSteal(mon, "block_set_io_throttle", args,
                                  QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    return ret != NULL;
}

static unsigned long long
qemuBlockIoTuneJsonValue(JsonObject *obj, const char *key)
{
    JsonNode *n = json_object_get_member(obj, key);
    gint64 v = n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_int(n) : 0;

    return v > 0 ? (unsigned long long)v : 0;
}

gboolean
qemuBlockIoTuneGet(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDiskDef *disk,
                   qemuBlockIoTune *out, GError **error)
{
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *id = NULL;
    g_autofree char *drive = NULL;
    JsonArray *arr;

    qemuBlockIoTuneClear(out);
    qemuBlockIoTuneDeviceNames(caps, disk, &id, &drive);
    if (!(ret =
              qemuMonitorCommand(mon, "query-block", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error)))
        return FALSE;
    arr = JSON_NODE_HOLDS_ARRAY(ret) ? json_node_get_array(ret) : NULL;
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonNode *en = json_array_get_element(arr, i);
        JsonObject *entry = JSON_NODE_HOLDS_OBJECT(en) ? json_node_get_object(en) : NULL;
        JsonNode *ins;
        JsonObject *inserted;
        const char *have;

        if (!entry)
            continue;
        have = json_object_get_string_member_with_default(entry, drive ? "device" : "qdev", NULL);
        if (g_strcmp0(have, drive ? drive : id) != 0)
            continue;
        ins = json_object_get_member(entry, "inserted");
        if (!ins || !JSON_NODE_HOLDS_OBJECT(ins)) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                                "internal error: block_io_throttle inserted entry was not in "
                                "expected format");
            return FALSE;
        }
        inserted = json_node_get_object(ins);
        for (int f = 0; f < QVIR_DOMAIN_IOTUNE_LAST; f++)
            out->v[f] = qemuBlockIoTuneJsonValue(inserted, qemuIotuneKeys[f]);
        out->group = g_strdup(json_object_get_string_member_with_default(inserted, "group", NULL));
        return TRUE;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                "internal error: cannot find throttling info for device '%s'", drive ? drive : id);
    return FALSE;
}

gboolean
qemuBlockSetWriteThreshold(qemuMonitor *mon, const char *node, unsigned long long threshold,
                           GError **error)
{
    JsonObject *args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;

    json_object_set_string_member(args, "node-name", node);
    json_object_set_int_member(args, "write-threshold", (gint64)threshold);
    ret = qemuMonitorCommandSteal(mon, "block-set-write-threshold", args,
                                  QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    return ret != NULL;
}
