/*
 * storage_probe.c: image header parsers, one per format, driven by a table.
 *
 * Field offsets follow QEMU's specifications (docs/interop/qcow2.txt, the QED
 * spec, VMware's VMDK, Microsoft's VHD and VHDX, VirtualBox's VDI, LUKS1) and
 * the limits QEMU 7.2 enforces when it opens an image, so an image we accept is
 * one QEMU accepts and the values we report are the ones `qemu-img info` shows.
 */
#include "storage_probe.h"

#include <string.h>

#include "util/virerror.h"

typedef enum {
    PROBE_LE,
    PROBE_BE,
} qvirProbeEndian;

typedef gboolean (*qvirProbeParseFunc)(const qvirStorageProbeInput *in, qvirStorageProbeResult *res,
                                       GError **error);

typedef struct {
    qvirStorageFileFormat format;
    const char *what; /* for messages: "qcow2", "vmdk descriptor", ... */
    guint32 magicOffset;
    const char *magic;
    guint8 magicLen;
    qvirProbeEndian endian;
    gint32 versionOffset; /* -1 when the format has no version field */
    guint8 versionSize;   /* 2 or 4 */
    guint32 versions[3];  /* accepted versions; 0 ends the list */
    qvirProbeParseFunc parse;
} qvirStorageFormatInfo;

/* ---- bounds-checked field access ------------------------------------------------------ */

static gboolean
probeHave(const qvirStorageProbeInput *in, guint64 off, guint64 len)
{
    return off <= in->len && len <= in->len - off;
}

static guint16
rdBE16(const guint8 *p)
{
    return (guint16)((p[0] << 8) | p[1]);
}

static guint32
rdBE32(const guint8 *p)
{
    return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

static guint64
rdBE64(const guint8 *p)
{
    return ((guint64)rdBE32(p) << 32) | rdBE32(p + 4);
}

static guint16
rdLE16(const guint8 *p)
{
    return (guint16)(p[0] | (p[1] << 8));
}

static guint32
rdLE32(const guint8 *p)
{
    return ((guint32)p[3] << 24) | ((guint32)p[2] << 16) | ((guint32)p[1] << 8) | p[0];
}

static guint64
rdLE64(const guint8 *p)
{
    return ((guint64)rdLE32(p + 4) << 32) | rdLE32(p);
}

static gboolean G_GNUC_PRINTF(4, 5) probeFail(const qvirStorageProbeInput *in, const char *what,
                                              GError **error, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, QVIR_ERROR, QVIR_ERR_STORAGE_PROBE_FAILED, "invalid %s image '%s': %s", what,
                in->path ? in->path : "(memory)", msg);
    return FALSE;
}

/*
 * The bytes needed lie past IN->len but inside the header a caller may read (the first
 * QVIR_STORAGE_PROBE_HEADER_MAX bytes of the file): it read only part of the header and
 * may read the rest and parse again.
 */
static void
probeMarkShort(const qvirStorageProbeInput *in, qvirStorageProbeResult *res)
{
    res->headerShort = in->len < MIN(in->fileSize, (guint64)QVIR_STORAGE_PROBE_HEADER_MAX);
}

static gboolean
probeTruncated(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, const char *what,
               guint64 need, GError **error)
{
    probeMarkShort(in, res);
    return probeFail(in, what, error, "header is truncated (%zu bytes, need %" G_GUINT64_FORMAT ")",
                     in->len, need);
}

/*
 * Copy a backing file name stored at OFF..OFF+LEN. The name must lie inside the file and
 * inside the bytes we read, fit QEMU's limit and hold no NUL (QEMU would silently cut the
 * name at the NUL, so the file it opens would not be the one the header appears to name).
 */
static gboolean
probeBackingName(const qvirStorageProbeInput *in, const char *what, guint64 off, guint64 len,
                 guint64 maxLen, qvirStorageProbeResult *res, GError **error)
{
    if (len > maxLen)
        return probeFail(in, what, error,
                         "backing file name is too long (%" G_GUINT64_FORMAT
                         " bytes, at most %" G_GUINT64_FORMAT ")",
                         len, maxLen);
    if (off > in->fileSize || len > in->fileSize - off)
        return probeFail(in, what, error,
                         "backing file name (offset %" G_GUINT64_FORMAT
                         ", length %" G_GUINT64_FORMAT
                         ") lies past the end of the file (%" G_GUINT64_FORMAT " bytes)",
                         off, len, in->fileSize);
    if (!probeHave(in, off, len)) {
        probeMarkShort(in, res);
        return probeFail(in, what, error,
                         "backing file name (offset %" G_GUINT64_FORMAT
                         ", length %" G_GUINT64_FORMAT
                         ") lies outside the first %zu bytes of the image",
                         off, len, in->len);
    }
    if (memchr(in->buf + off, '\0', len))
        return probeFail(in, what, error, "backing file name contains a NUL byte");
    res->backingName = g_strndup((const char *)in->buf + off, len);
    return TRUE;
}

int
qvirStorageProbeFormatFromQemuName(const char *name)
{
    static const struct {
        const char *name;
        qvirStorageFileFormat format;
    } names[] = {
        {"raw", QVIR_STORAGE_FILE_RAW},     {"qcow", QVIR_STORAGE_FILE_QCOW},
        {"qcow2", QVIR_STORAGE_FILE_QCOW2}, {"qed", QVIR_STORAGE_FILE_QED},
        {"vmdk", QVIR_STORAGE_FILE_VMDK},   {"vpc", QVIR_STORAGE_FILE_VPC},
        {"vdi", QVIR_STORAGE_FILE_VDI},     {"vhdx", QVIR_STORAGE_FILE_VHDX},
        {"luks", QVIR_STORAGE_FILE_LUKS},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (strcmp(names[i].name, name) == 0)
            return names[i].format;
    }
    return -1;
}

/* ---- qcow2 (docs/interop/qcow2.txt) --------------------------------------------------- */

#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_MIN_HEADER_LEN 104
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_EXT_END 0x00000000
#define QCOW2_EXT_BACKING_FORMAT 0xE2792ACA
#define QCOW2_EXT_FEATURE_TABLE 0x6803f57a
#define QCOW2_FEATURE_ENTRY_LEN 48
#define QCOW2_FEATURE_NAME_LEN 46
/* dirty, corrupt, external data file, compression type, extended L2: what QEMU 7.2 knows */
#define QCOW2_INCOMPAT_KNOWN G_GUINT64_CONSTANT(0x1f)
#define QCOWX_MAX_BACKING_NAME 1023
/* QEMU keeps the backing format in a 16-byte buffer, NUL included. */
#define QCOW2_MAX_BACKING_FORMAT 15

typedef struct {
    const guint8 *featureTable;
    guint32 featureTableLen;
} qvirQcow2Extensions;

static char *
qcow2IncompatibleNames(const qvirQcow2Extensions *ext, guint64 unknown)
{
    g_autoptr(GString) names = g_string_new(NULL);
    guint64 unnamed = unknown;

    for (guint32 off = 0;
         ext->featureTable && off + QCOW2_FEATURE_ENTRY_LEN <= ext->featureTableLen;
         off += QCOW2_FEATURE_ENTRY_LEN) {
        const guint8 *e = ext->featureTable + off;
        guint8 type = e[0], bit = e[1];

        if (type != 0 || bit >= 64 || !(unnamed & (1ULL << bit)))
            continue;
        unnamed &= ~(1ULL << bit);
        if (names->len)
            g_string_append(names, ", ");
        g_string_append_len(names, (const char *)e + 2,
                            (gssize)strnlen((const char *)e + 2, QCOW2_FEATURE_NAME_LEN));
    }
    if (unnamed) {
        if (names->len)
            g_string_append(names, ", ");
        g_string_append_printf(names, "Unknown incompatible feature: %" G_GINT64_MODIFIER "x",
                               unnamed);
    }
    return g_string_free(g_steal_pointer(&names), FALSE);
}

static gboolean
qcow2ParseBackingFormat(const qvirStorageProbeInput *in, const guint8 *data, guint32 len,
                        qvirStorageProbeResult *res, GError **error)
{
    g_autofree char *name = NULL;
    int fmt;

    if (len > QCOW2_MAX_BACKING_FORMAT)
        return probeFail(in, "qcow2", error, "backing format name is too long (%u bytes)", len);
    if (memchr(data, '\0', len))
        return probeFail(in, "qcow2", error, "backing format name contains a NUL byte");
    name = g_strndup((const char *)data, len);
    if ((fmt = qvirStorageProbeFormatFromQemuName(name)) < 0)
        return probeFail(in, "qcow2", error, "unknown backing format '%s'", name);
    res->backingFormat = fmt;
    return TRUE;
}

/* Walk the header extensions between the header and END (spec: "Header extensions"). */
static gboolean
qcow2ParseExtensions(const qvirStorageProbeInput *in, guint64 start, guint64 end,
                     qvirStorageProbeResult *res, qvirQcow2Extensions *ext, GError **error)
{
    guint64 off = start;

    while (off < end) {
        guint32 magic, len;

        if (end - off < 8)
            return probeFail(in, "qcow2", error,
                             "header extension at offset %" G_GUINT64_FORMAT " is cut short", off);
        if (!probeHave(in, off, 8)) {
            probeMarkShort(in, res);
            return probeFail(in, "qcow2", error,
                             "header extensions run past the first %zu bytes of the image",
                             in->len);
        }
        magic = rdBE32(in->buf + off);
        len = rdBE32(in->buf + off + 4);
        off += 8;
        if (magic == QCOW2_EXT_END)
            return TRUE;
        if (len > end - off)
            return probeFail(in, "qcow2", error, "header extension 0x%08x is too large (%u bytes)",
                             magic, len);
        if (!probeHave(in, off, len)) {
            probeMarkShort(in, res);
            return probeFail(in, "qcow2", error,
                             "header extension 0x%08x runs past the first %zu bytes of the image",
                             magic, in->len);
        }
        switch (magic) {
        case QCOW2_EXT_BACKING_FORMAT:
            if (!qcow2ParseBackingFormat(in, in->buf + off, len, res, error))
                return FALSE;
            break;
        case QCOW2_EXT_FEATURE_TABLE:
            ext->featureTable = in->buf + off;
            ext->featureTableLen = len;
            break;
        default:
            break; /* unknown extensions are skipped, as the spec requires */
        }
        off += ((guint64)len + 7) & ~7ULL;
    }
    return TRUE;
}

static gboolean
qcow2Parse(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, GError **error)
{
    qvirQcow2Extensions ext = {0};
    guint32 version, clusterBits, backingLen, crypt, headerLen = QCOW2_V2_HEADER_LEN;
    guint64 backingOff, clusterSize, incompat = 0, unknown;

    if (!probeHave(in, 0, QCOW2_V2_HEADER_LEN))
        return probeTruncated(in, res, "qcow2", QCOW2_V2_HEADER_LEN, error);
    version = rdBE32(in->buf + 4);
    backingOff = rdBE64(in->buf + 8);
    backingLen = rdBE32(in->buf + 16);
    clusterBits = rdBE32(in->buf + 20);
    res->capacity = rdBE64(in->buf + 24);
    crypt = rdBE32(in->buf + 32);

    if (version != 2 && version != 3)
        return probeFail(in, "qcow2", error, "unsupported qcow2 version %u", version);
    if (clusterBits < QCOW2_MIN_CLUSTER_BITS || clusterBits > QCOW2_MAX_CLUSTER_BITS)
        return probeFail(in, "qcow2", error, "unsupported cluster size 2^%u", clusterBits);
    clusterSize = 1ULL << clusterBits;

    if (version == 3) {
        if (!probeHave(in, 0, QCOW2_V3_MIN_HEADER_LEN))
            return probeTruncated(in, res, "qcow2", QCOW2_V3_MIN_HEADER_LEN, error);
        incompat = rdBE64(in->buf + 72);
        headerLen = rdBE32(in->buf + 100);
        if (headerLen < QCOW2_V3_MIN_HEADER_LEN || headerLen > clusterSize)
            return probeFail(in, "qcow2", error, "invalid header length %u", headerLen);
    }
    if (crypt > 2)
        return probeFail(in, "qcow2", error, "unsupported encryption method %u", crypt);
    res->encrypted = crypt != 0;

    /* Extensions end where the backing name starts, or at the end of the first cluster. */
    if (backingOff > clusterSize)
        return probeFail(in, "qcow2", error, "invalid backing file offset %" G_GUINT64_FORMAT,
                         backingOff);
    if (!qcow2ParseExtensions(in, headerLen, backingOff ? backingOff : clusterSize, res, &ext,
                              error))
        return FALSE;

    /* An unknown incompatible bit means QEMU cannot read the image correctly. */
    if ((unknown = incompat & ~QCOW2_INCOMPAT_KNOWN)) {
        g_autofree char *names = qcow2IncompatibleNames(&ext, unknown);
        return probeFail(in, "qcow2", error, "unsupported qcow2 feature(s): %s", names);
    }

    if (backingOff == 0 || backingLen == 0) {
        res->backingFormat = QVIR_STORAGE_FILE_NONE;
        return TRUE;
    }
    return probeBackingName(in, "qcow2", backingOff, backingLen,
                            MIN((guint64)QCOWX_MAX_BACKING_NAME, clusterSize - backingOff), res,
                            error);
}

/* ---- qcow version 1 (QEMU block/qcow.c) ------------------------------------------------ */

#define QCOW1_HEADER_LEN 48

static gboolean
qcow1Parse(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, GError **error)
{
    guint64 backingOff;
    guint32 backingLen, crypt;
    guint8 clusterBits, l2Bits;

    if (!probeHave(in, 0, QCOW1_HEADER_LEN))
        return probeTruncated(in, res, "qcow", QCOW1_HEADER_LEN, error);
    backingOff = rdBE64(in->buf + 8);
    backingLen = rdBE32(in->buf + 16);
    res->capacity = rdBE64(in->buf + 24);
    clusterBits = in->buf[32];
    l2Bits = in->buf[33];
    crypt = rdBE32(in->buf + 36);

    if (clusterBits < 9 || clusterBits > 16)
        return probeFail(in, "qcow", error, "unsupported cluster size 2^%u", clusterBits);
    if (l2Bits < 6 || l2Bits > 13)
        return probeFail(in, "qcow", error, "unsupported L2 table size 2^%u", l2Bits);
    if (crypt > 1)
        return probeFail(in, "qcow", error, "unsupported encryption method %u", crypt);
    res->encrypted = crypt != 0;

    /* qcow has no place to record the backing format: it stays NONE. */
    if (backingOff == 0 || backingLen == 0)
        return TRUE;
    return probeBackingName(in, "qcow", backingOff, backingLen, QCOWX_MAX_BACKING_NAME, res, error);
}

/* ---- QED (docs/interop/qed_spec.txt) --------------------------------------------------- */

#define QED_HEADER_LEN 64
#define QED_F_BACKING_FILE G_GUINT64_CONSTANT(0x01)
#define QED_F_NEED_CHECK G_GUINT64_CONSTANT(0x02)
#define QED_F_BACKING_FORMAT_NO_PROBE G_GUINT64_CONSTANT(0x04)
#define QED_FEATURE_MASK                                                                           \
    ((guint64)(QED_F_BACKING_FILE | QED_F_NEED_CHECK | QED_F_BACKING_FORMAT_NO_PROBE))
#define QED_MAX_BACKING_NAME 4095

static gboolean
qedParse(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, GError **error)
{
    guint32 clusterSize, tableSize, headerSize, backingOff, backingLen;
    guint64 features, headerBytes;

    if (!probeHave(in, 0, QED_HEADER_LEN))
        return probeTruncated(in, res, "qed", QED_HEADER_LEN, error);
    clusterSize = rdLE32(in->buf + 4);
    tableSize = rdLE32(in->buf + 8);
    headerSize = rdLE32(in->buf + 12);
    features = rdLE64(in->buf + 16);
    res->capacity = rdLE64(in->buf + 48);
    backingOff = rdLE32(in->buf + 56);
    backingLen = rdLE32(in->buf + 60);

    if (clusterSize < 4096 || clusterSize > (64U << 20) || (clusterSize & (clusterSize - 1)))
        return probeFail(in, "qed", error, "invalid cluster size %u", clusterSize);
    if (tableSize < 1 || tableSize > 16)
        return probeFail(in, "qed", error, "invalid table size %u", tableSize);
    if (headerSize < 1)
        return probeFail(in, "qed", error, "invalid header size %u", headerSize);
    if (features & ~QED_FEATURE_MASK)
        return probeFail(in, "qed", error, "unsupported QED features 0x%" G_GINT64_MODIFIER "x",
                         (guint64)(features & ~QED_FEATURE_MASK));
    if (!(features & QED_F_BACKING_FILE))
        return TRUE;

    /* The name must lie inside the header clusters (spec: backing_filename_offset). */
    headerBytes = (guint64)headerSize * clusterSize;
    if ((guint64)backingOff + backingLen > headerBytes)
        return probeFail(in, "qed", error,
                         "backing file name (offset %u, length %u) lies outside the header",
                         backingOff, backingLen);
    if (backingLen == 0)
        return TRUE;
    if (!probeBackingName(in, "qed", backingOff, backingLen, QED_MAX_BACKING_NAME, res, error))
        return FALSE;
    /* QED records only "the backing file is raw"; anything else is probed, by QEMU too. */
    if (features & QED_F_BACKING_FORMAT_NO_PROBE)
        res->backingFormat = QVIR_STORAGE_FILE_RAW;
    else
        res->backingFormatProbe = TRUE;
    return TRUE;
}

/* ---- VMDK (VMware Virtual Disk Format 1.1) --------------------------------------------- */

#define VMDK4_HEADER_LEN 79
#define VMDK_PARENT_HINT "parentFileNameHint=\""

typedef struct {
    gboolean haveExtents;
    guint64 sectors;
} qvirVmdkDescriptor;

/* "RW 4192256 SPARSE "name.vmdk"": access, size in sectors, type[, file[, offset]]. */
static gboolean
vmdkParseExtentLine(const char *line, guint64 *sectors)
{
    static const char *const access[] = {"RW ", "RDONLY ", "NOACCESS "};
    const char *p = NULL;
    char *end;
    guint64 n;

    for (size_t i = 0; i < G_N_ELEMENTS(access); i++) {
        if (g_str_has_prefix(line, access[i])) {
            p = line + strlen(access[i]);
            break;
        }
    }
    if (!p)
        return FALSE;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!g_ascii_isdigit(*p))
        return FALSE;
    n = g_ascii_strtoull(p, &end, 10);
    if (*end != ' ' && *end != '\t')
        return FALSE;
    *sectors = n;
    return TRUE;
}

/*
 * Scan descriptor TEXT (LEN bytes, not NUL-terminated; the text ends at the first NUL,
 * as embedded descriptors are zero-padded) for the parent hint and the extents.
 */
static gboolean
vmdkParseDescriptor(const qvirStorageProbeInput *in, const char *text, gsize len,
                    qvirVmdkDescriptor *desc, qvirStorageProbeResult *res, GError **error)
{
    g_autofree char *copy = g_strndup(text, strnlen(text, len));
    g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);

    for (size_t i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        guint64 sectors;

        if (g_str_has_prefix(line, VMDK_PARENT_HINT)) {
            const char *name = line + strlen(VMDK_PARENT_HINT);
            const char *quote = strchr(name, '"');

            if (!quote)
                return probeFail(in, "vmdk", error, "unterminated parentFileNameHint");
            if (quote - name > QCOWX_MAX_BACKING_NAME)
                return probeFail(in, "vmdk", error, "parentFileNameHint is too long");
            g_clear_pointer(&res->backingName, g_free);
            if (quote > name)
                res->backingName = g_strndup(name, quote - name);
        } else if (vmdkParseExtentLine(line, &sectors)) {
            if (sectors > G_MAXUINT64 / 512 - desc->sectors)
                return probeFail(in, "vmdk", error, "extent sizes overflow");
            desc->sectors += sectors;
            desc->haveExtents = TRUE;
        }
    }
    /* VMDK parents are VMDK by definition, and QEMU opens them as such. */
    res->backingFormat = res->backingName ? QVIR_STORAGE_FILE_VMDK : QVIR_STORAGE_FILE_NONE;
    return TRUE;
}

/*
 * Hand back LEN bytes at OFF: from the header buffer when it holds them, otherwise
 * through the caller's read callback into *OWNED.
 */
static const guint8 *
probeRange(const qvirStorageProbeInput *in, const char *what, guint64 off, guint64 len,
           qvirStorageProbeResult *res, guint8 **owned, GError **error)
{
    if (probeHave(in, off, len))
        return in->buf + off;
    if (off > in->fileSize || len > in->fileSize - off) {
        probeFail(in, what, error,
                  "metadata at offset %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                  " bytes) lies past the end of the file",
                  off, len);
        return NULL;
    }
    if (len > QVIR_STORAGE_PROBE_EXTRA_MAX) {
        probeFail(in, what, error, "metadata of %" G_GUINT64_FORMAT " bytes is too large", len);
        return NULL;
    }
    if (!in->read) {
        probeFail(in, what, error,
                  "metadata at offset %" G_GUINT64_FORMAT " lies outside the probed header", off);
        return NULL;
    }
    /* Bytes already in the header buffer are copied, never read again. */
    *owned = g_malloc(len ? len : 1);
    if (off < in->len) {
        gsize have = in->len - (gsize)off;

        memcpy(*owned, in->buf + off, have);
        if (!in->read(in->opaque, off + have, *owned + have, len - have, error))
            return NULL;
    } else if (!in->read(in->opaque, off, *owned, len, error)) {
        return NULL;
    }
    res->extraReads++;
    return *owned;
}

static gboolean
vmdk4Parse(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, GError **error)
{
    qvirVmdkDescriptor desc = {0};
    g_autofree guint8 *owned = NULL;
    const guint8 *text;
    guint64 capacity, descOff, descLen;

    if (!probeHave(in, 0, VMDK4_HEADER_LEN))
        return probeTruncated(in, res, "vmdk", VMDK4_HEADER_LEN, error);
    capacity = rdLE64(in->buf + 12);
    descOff = rdLE64(in->buf + 28);
    descLen = rdLE64(in->buf + 36);
    if (capacity > G_MAXUINT64 / 512)
        return probeFail(in, "vmdk", error,
                         "capacity of %" G_GUINT64_FORMAT " sectors is too large", capacity);
    res->capacity = capacity * 512;

    /* Stream-optimized and split images may carry no embedded descriptor. */
    if (descOff == 0 || descLen == 0)
        return TRUE;
    if (descOff > in->fileSize / 512 || descLen > QVIR_STORAGE_PROBE_EXTRA_MAX / 512)
        return probeFail(in, "vmdk", error,
                         "embedded descriptor (sector %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                         " sectors) lies outside the file",
                         descOff, descLen);
    descOff *= 512;
    descLen = MIN(descLen * 512, in->fileSize - descOff);
    if (!(text = probeRange(in, "vmdk", descOff, descLen, res, &owned, error)))
        return FALSE;
    return vmdkParseDescriptor(in, (const char *)text, descLen, &desc, res, error);
}

static gboolean
vmdkDescriptorParse(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, GError **error)
{
    qvirVmdkDescriptor desc = {0};
    g_autofree guint8 *owned = NULL;
    const guint8 *text;

    if (in->fileSize > QVIR_STORAGE_PROBE_EXTRA_MAX)
        return probeFail(in, "vmdk", error,
                         "descriptor file is too large (%" G_GUINT64_FORMAT " bytes)",
                         in->fileSize);
    /* A descriptor longer than the header buffer is read whole, once. */
    if (!(text = probeRange(in, "vmdk", 0, MAX(in->fileSize, in->len), res, &owned, error)))
        return FALSE;
    if (!vmdkParseDescriptor(in, (const char *)text, MAX(in->fileSize, in->len), &desc, res, error))
        return FALSE;
    if (!desc.haveExtents)
        return probeFail(in, "vmdk", error, "descriptor names no extents");
    res->capacity = desc.sectors * 512;
    return TRUE;
}

/* ---- VPC / VHD (Microsoft Virtual Hard Disk Image Format Specification) --------------- */

#define VHD_FOOTER_LEN 512
#define VHD_MAX_GEOMETRY (65535ULL * 16 * 255)
#define VHD_MAX_SECTORS 0xff000000ULL

static gboolean
vpcParse(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, GError **error)
{
    const guint8 *f = in->buf;
    guint32 type;
    guint64 sectors;

    if (!probeHave(in, 0, VHD_FOOTER_LEN))
        return probeTruncated(in, res, "vpc", VHD_FOOTER_LEN, error);
    type = rdBE32(f + 60);
    if (type < 2 || type > 4)
        return probeFail(in, "vpc", error, "unknown disk type %u", type);

    /*
     * Virtual PC and QEMU before 2.6 size a disk by its CHS geometry; everybody else
     * (Hyper-V, QEMU's "qem2", ...) by current_size. A disk at the maximum geometry is
     * bigger than its CHS and uses current_size too. This is QEMU's rule, so our size
     * matches `qemu-img info`.
     */
    sectors = (guint64)rdBE16(f + 56) * f[58] * f[59];
    if ((memcmp(f + 28, "vpc ", 4) != 0 && memcmp(f + 28, "qemu", 4) != 0) ||
        sectors == VHD_MAX_GEOMETRY)
        sectors = rdBE64(f + 48) / 512;
    if (sectors > VHD_MAX_SECTORS)
        return probeFail(in, "vpc", error, "disk is larger than 2040 GiB");
    res->capacity = sectors * 512;
    return TRUE;
}

/* ---- VDI (VirtualBox) ------------------------------------------------------------------ */

#define VDI_HEADER_LEN 400

static gboolean
vdiParse(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, GError **error)
{
    guint32 type, sectorSize;
    guint64 size;

    if (!probeHave(in, 0, VDI_HEADER_LEN))
        return probeTruncated(in, res, "vdi", VDI_HEADER_LEN, error);
    type = rdLE32(in->buf + 76);
    sectorSize = rdLE32(in->buf + 360);
    size = rdLE64(in->buf + 368);

    /* 1 = dynamic, 2 = static; undo and differencing images link by UUID: QEMU refuses. */
    if (type != 1 && type != 2)
        return probeFail(in, "vdi", error, "unsupported image type %u", type);
    if (sectorSize != 512)
        return probeFail(in, "vdi", error, "unsupported sector size %u", sectorSize);
    if (size > G_MAXUINT64 - 511)
        return probeFail(in, "vdi", error, "disk size is too large");
    /* VBoxManage can write odd sizes; QEMU rounds them up to whole sectors. */
    res->capacity = (size + 511) & ~511ULL;
    return TRUE;
}

/* ---- VHDX (Microsoft VHDX Format Specification 1.0) ----------------------------------- */

#define VHDX_REGION_TABLE_OFFSET (192 * 1024)
#define VHDX_REGION_TABLE_LEN (64 * 1024)
#define VHDX_METADATA_TABLE_LEN (64 * 1024)
/* QEMU and Hyper-V put the items right after the table: read both at once. */
#define VHDX_METADATA_READ_LEN (128 * 1024)
#define VHDX_PARAMS_HAS_PARENT 0x2

/* GUIDs in their on-disk byte order (first three fields little-endian). */
static const guint8 vhdxMetadataRegionGuid[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                                  0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
static const guint8 vhdxVirtualDiskSizeGuid[16] = {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
                                                   0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8};
static const guint8 vhdxFileParametersGuid[16] = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                                  0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b};

/* Find the metadata region in the region table; its offset and length go to *OFF, *LEN. */
static gboolean
vhdxFindMetadataRegion(const qvirStorageProbeInput *in, const guint8 *tab, guint64 *off,
                       guint64 *len, GError **error)
{
    guint32 count;

    if (memcmp(tab, "regi", 4) != 0)
        return probeFail(in, "vhdx", error, "region table signature is missing");
    count = rdLE32(tab + 8);
    if (count > (VHDX_REGION_TABLE_LEN - 16) / 32)
        return probeFail(in, "vhdx", error, "region table has too many entries (%u)", count);
    for (guint32 i = 0; i < count; i++) {
        const guint8 *e = tab + 16 + i * 32;

        if (memcmp(e, vhdxMetadataRegionGuid, 16) == 0) {
            *off = rdLE64(e + 16);
            *len = rdLE32(e + 24);
            return TRUE;
        }
    }
    return probeFail(in, "vhdx", error, "no metadata region");
}

/* Return the 8-byte metadata item ID from the metadata table, reading it if needed. */
static gboolean
vhdxReadItem(const qvirStorageProbeInput *in, const guint8 *tab, guint64 tabLen, guint64 regionOff,
             guint64 regionLen, const guint8 *guid, qvirStorageProbeResult *res, guint8 out[8],
             GError **error)
{
    guint16 count = rdLE16(tab + 10);
    g_autofree guint8 *owned = NULL;
    const guint8 *data;

    if (count > (VHDX_METADATA_TABLE_LEN - 32) / 32)
        return probeFail(in, "vhdx", error, "metadata table has too many entries (%u)", count);
    for (guint16 i = 0; i < count; i++) {
        const guint8 *e = tab + 32 + i * 32;
        guint32 itemOff = rdLE32(e + 16), itemLen = rdLE32(e + 20);

        if (memcmp(e, guid, 16) != 0)
            continue;
        if (itemLen < 8 || itemOff > regionLen || 8 > regionLen - itemOff)
            return probeFail(in, "vhdx", error, "metadata item lies outside its region");
        if (itemOff + 8ULL <= tabLen) {
            memcpy(out, tab + itemOff, 8);
            return TRUE;
        }
        if (!(data = probeRange(in, "vhdx", regionOff + itemOff, 8, res, &owned, error)))
            return FALSE;
        memcpy(out, data, 8);
        return TRUE;
    }
    return probeFail(in, "vhdx", error, "required metadata item is missing");
}

static gboolean
vhdxParse(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, GError **error)
{
    g_autofree guint8 *regionOwned = NULL;
    g_autofree guint8 *tableOwned = NULL;
    const guint8 *regions, *table;
    guint64 metaOff = 0, metaLen = 0, readLen;
    guint8 params[8], size[8];

    /* The virtual size lives in the metadata region, far past the first 0x8200 bytes. */
    if (!(regions = probeRange(in, "vhdx", VHDX_REGION_TABLE_OFFSET, VHDX_REGION_TABLE_LEN, res,
                               &regionOwned, error)))
        return FALSE;
    if (!vhdxFindMetadataRegion(in, regions, &metaOff, &metaLen, error))
        return FALSE;
    if (metaLen < VHDX_METADATA_TABLE_LEN)
        return probeFail(in, "vhdx", error, "metadata region is too small");
    readLen = MIN(metaLen, VHDX_METADATA_READ_LEN);
    if (metaOff < in->fileSize)
        readLen = MIN(readLen, in->fileSize - metaOff);
    if (readLen < VHDX_METADATA_TABLE_LEN)
        readLen = VHDX_METADATA_TABLE_LEN; /* let probeRange report the short file */
    if (!(table = probeRange(in, "vhdx", metaOff, readLen, res, &tableOwned, error)))
        return FALSE;
    if (memcmp(table, "metadata", 8) != 0)
        return probeFail(in, "vhdx", error, "metadata table signature is missing");
    if (!vhdxReadItem(in, table, readLen, metaOff, metaLen, vhdxFileParametersGuid, res, params,
                      error) ||
        !vhdxReadItem(in, table, readLen, metaOff, metaLen, vhdxVirtualDiskSizeGuid, res, size,
                      error))
        return FALSE;
    /* QEMU cannot open differencing VHDX images; neither will we follow them. */
    if (rdLE32(params + 4) & VHDX_PARAMS_HAS_PARENT)
        return probeFail(in, "vhdx", error, "differencing images are not supported");
    res->capacity = rdLE64(size);
    return TRUE;
}

/* ---- LUKS (LUKS1 On-Disk Format Specification) ----------------------------------------- */

#define LUKS1_HEADER_LEN 592
#define LUKS1_PAYLOAD_OFFSET 104

static gboolean
luksParse(const qvirStorageProbeInput *in, qvirStorageProbeResult *res, GError **error)
{
    guint64 payload;

    if (!probeHave(in, 0, LUKS1_HEADER_LEN))
        return probeTruncated(in, res, "luks", LUKS1_HEADER_LEN, error);
    payload = (guint64)rdBE32(in->buf + LUKS1_PAYLOAD_OFFSET) * 512;
    if (payload > in->fileSize)
        return probeFail(in, "luks", error,
                         "payload offset %" G_GUINT64_FORMAT " lies past the end of the file",
                         payload);
    res->capacity = in->fileSize - payload;
    res->encrypted = TRUE;
    return TRUE;
}

/* ---- the table ------------------------------------------------------------------------- */

#define MAGIC(s) s, sizeof(s) - 1

static const qvirStorageFormatInfo qvirStorageFormats[] = {
    {QVIR_STORAGE_FILE_QCOW, "qcow", 0, MAGIC("QFI\xfb"), PROBE_BE, 4, 4, {1}, qcow1Parse},
    {QVIR_STORAGE_FILE_QCOW2, "qcow2", 0, MAGIC("QFI\xfb"), PROBE_BE, 4, 4, {2, 3}, qcow2Parse},
    {QVIR_STORAGE_FILE_QED, "qed", 0, MAGIC("QED\0"), PROBE_LE, -1, 0, {0}, qedParse},
    {QVIR_STORAGE_FILE_VMDK, "vmdk", 0, MAGIC("KDMV"), PROBE_LE, 4, 4, {1, 2, 3}, vmdk4Parse},
    {QVIR_STORAGE_FILE_VMDK,
     "vmdk",
     0,
     MAGIC("# Disk DescriptorFile"),
     PROBE_LE,
     -1,
     0,
     {0},
     vmdkDescriptorParse},
    {QVIR_STORAGE_FILE_VPC, "vpc", 0, MAGIC("conectix"), PROBE_BE, 12, 4, {0x00010000}, vpcParse},
    {QVIR_STORAGE_FILE_VDI,
     "vdi",
     64,
     MAGIC("\x7f\x10\xda\xbe"),
     PROBE_LE,
     68,
     4,
     {0x00010001},
     vdiParse},
    {QVIR_STORAGE_FILE_VHDX, "vhdx", 0, MAGIC("vhdxfile"), PROBE_LE, -1, 0, {0}, vhdxParse},
    {QVIR_STORAGE_FILE_LUKS, "luks", 0, MAGIC("LUKS\xba\xbe"), PROBE_BE, 6, 2, {1}, luksParse},
    {QVIR_STORAGE_FILE_ISO, "iso", 32769, MAGIC("CD001"), PROBE_LE, -1, 0, {0}, NULL},
};

static gboolean
probeMatchesMagic(const qvirStorageFormatInfo *info, const guint8 *buf, gsize len)
{
    return info->magicOffset <= len && info->magicLen <= len - info->magicOffset &&
           memcmp(buf + info->magicOffset, info->magic, info->magicLen) == 0;
}

/* TRUE when the version field holds one of the accepted values; *VERSION gets it. */
static gboolean
probeMatchesVersion(const qvirStorageFormatInfo *info, const guint8 *buf, gsize len,
                    guint32 *version)
{
    const guint8 *p;

    *version = 0;
    if (info->versionOffset < 0)
        return TRUE;
    if ((gsize)info->versionOffset + info->versionSize > len)
        return FALSE;
    p = buf + info->versionOffset;
    if (info->versionSize == 2)
        *version = info->endian == PROBE_BE ? rdBE16(p) : rdLE16(p);
    else
        *version = info->endian == PROBE_BE ? rdBE32(p) : rdLE32(p);
    for (size_t i = 0; i < G_N_ELEMENTS(info->versions) && info->versions[i]; i++) {
        if (info->versions[i] == *version)
            return TRUE;
    }
    return FALSE;
}

qvirStorageFileFormat
qvirStorageProbeFormat(const guint8 *buf, gsize len)
{
    guint32 version;

    for (size_t i = 0; i < G_N_ELEMENTS(qvirStorageFormats); i++) {
        const qvirStorageFormatInfo *info = &qvirStorageFormats[i];

        if (probeMatchesMagic(info, buf, len) && probeMatchesVersion(info, buf, len, &version))
            return info->format;
    }
    return QVIR_STORAGE_FILE_RAW;
}

gboolean
qvirStorageProbeHasSignature(qvirStorageFileFormat format, const guint8 *buf, gsize len)
{
    guint32 version;

    for (size_t i = 0; i < G_N_ELEMENTS(qvirStorageFormats); i++) {
        const qvirStorageFormatInfo *info = &qvirStorageFormats[i];

        if (info->format == format && probeMatchesMagic(info, buf, len) &&
            probeMatchesVersion(info, buf, len, &version))
            return TRUE;
    }
    return FALSE;
}

gsize
qvirStorageProbeHeaderHint(qvirStorageFileFormat format)
{
    switch (format) {
    case QVIR_STORAGE_FILE_QCOW:
    case QVIR_STORAGE_FILE_QCOW2:
    case QVIR_STORAGE_FILE_QED:
    case QVIR_STORAGE_FILE_VPC:
    case QVIR_STORAGE_FILE_VDI:
    case QVIR_STORAGE_FILE_VHDX:
    case QVIR_STORAGE_FILE_LUKS:
        return 4096;
    default:
        return QVIR_STORAGE_PROBE_HEADER_MAX;
    }
}

void
qvirStorageProbeResultClear(qvirStorageProbeResult *res)
{
    g_clear_pointer(&res->backingName, g_free);
    memset(res, 0, sizeof(*res));
}

gboolean
qvirStorageProbeParse(qvirStorageFileFormat format, const qvirStorageProbeInput *in,
                      qvirStorageProbeResult *res, GError **error)
{
    const qvirStorageFormatInfo *magicOnly = NULL;
    guint32 version = 0;

    g_return_val_if_fail(in != NULL && res != NULL, FALSE);
    g_return_val_if_fail(in->buf != NULL || in->len == 0, FALSE);

    memset(res, 0, sizeof(*res));
    res->format = format;

    /* Raw (and ISO, which QEMU reads as raw) is never parsed: a guest owns those bytes. */
    if (format == QVIR_STORAGE_FILE_RAW || format == QVIR_STORAGE_FILE_ISO) {
        res->capacity = in->fileSize;
        return TRUE;
    }

    for (size_t i = 0; i < G_N_ELEMENTS(qvirStorageFormats); i++) {
        const qvirStorageFormatInfo *info = &qvirStorageFormats[i];

        if (info->format != format || !probeMatchesMagic(info, in->buf, in->len))
            continue;
        if (!probeMatchesVersion(info, in->buf, in->len, &version)) {
            magicOnly = info;
            continue;
        }
        if (!info->parse(in, res, error)) {
            gboolean headerShort = res->headerShort;

            qvirStorageProbeResultClear(res);
            res->headerShort = headerShort;
            return FALSE;
        }
        res->format = format;
        return TRUE;
    }

    if (magicOnly) {
        /* qcow and qcow2 share a magic: name the other one when the version says so. */
        if (magicOnly->format == QVIR_STORAGE_FILE_QCOW2 && version == 1)
            return probeFail(in, magicOnly->what, error, "this is a qcow (version 1) image");
        if (magicOnly->format == QVIR_STORAGE_FILE_QCOW && (version == 2 || version == 3))
            return probeFail(in, magicOnly->what, error, "this is a qcow2 image");
        return probeFail(in, magicOnly->what, error, "unsupported %s version %u", magicOnly->what,
                         version);
    }
    if (format <= QVIR_STORAGE_FILE_NONE || format >= QVIR_STORAGE_FILE_LAST) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "unknown image format %d", format);
        return FALSE;
    }
    return probeFail(in, qvirStorageFileFormatTypeToString(format), error, "%s magic not found",
                     qvirStorageFileFormatTypeToString(format));
}
