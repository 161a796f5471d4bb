/*
 * Image header probes, from headers this test writes byte by byte in memory:
 * one well-formed image per format, then lying and truncated ones.
 */
#include <glib.h>
#include <string.h>

#include "testutils.h"
#include "storage/storage_probe.h"
#include "util/virerror.h"

#define MiB (1024 * 1024)

/* ---- byte writers ---------------------------------------------------------------------- */

static void
ensure(GByteArray *a, gsize size)
{
    if (a->len < size) {
        gsize old = a->len;
        g_byte_array_set_size(a, size);
        memset(a->data + old, 0, size - old);
    }
}

static void
putBytes(GByteArray *a, gsize off, const void *data, gsize len)
{
    ensure(a, off + len);
    memcpy(a->data + off, data, len);
}

static void
putStr(GByteArray *a, gsize off, const char *s)
{
    putBytes(a, off, s, strlen(s));
}

static void
putBE(GByteArray *a, gsize off, guint64 v, unsigned int n)
{
    ensure(a, off + n);
    for (unsigned int i = 0; i < n; i++)
        a->data[off + i] = (guint8)(v >> (8 * (n - 1 - i)));
}

static void
putLE(GByteArray *a, gsize off, guint64 v, unsigned int n)
{
    ensure(a, off + n);
    for (unsigned int i = 0; i < n; i++)
        a->data[off + i] = (guint8)(v >> (8 * i));
}

/* ---- image builders -------------------------------------------------------------------- */

typedef struct {
    guint32 version;
    guint64 size;
    const char *backing;
    const char *backingFmt;
    guint64 incompat;
    const char *featureName; /* a feature-name table entry for incompatible bit featureBit */
    guint8 featureBit;
    guint32 crypt;
} Qcow2Spec;

/* Returns the offset after the extension. */
static gsize
putQcow2Ext(GByteArray *a, gsize off, guint32 magic, const void *data, guint32 len)
{
    putBE(a, off, magic, 4);
    putBE(a, off + 4, len, 4);
    putBytes(a, off + 8, data, len);
    return off + 8 + ((len + 7) & ~7U);
}

static GByteArray *
buildQcow2(const Qcow2Spec *s)
{
    GByteArray *a = g_byte_array_new();
    gsize hdrLen = s->version == 3 ? 104 : 72;
    gsize off = hdrLen;

    ensure(a, 0x10000); /* one 64 KiB cluster */
    putStr(a, 0, "QFI\xfb");
    putBE(a, 4, s->version, 4);
    putBE(a, 20, 16, 4);
    putBE(a, 24, s->size, 8);
    putBE(a, 32, s->crypt, 4);
    if (s->version == 3) {
        putBE(a, 72, s->incompat, 8);
        putBE(a, 96, 4, 4);
        putBE(a, 100, hdrLen, 4);
    }
    if (s->backingFmt)
        off = putQcow2Ext(a, off, 0xE2792ACA, s->backingFmt, strlen(s->backingFmt));
    if (s->featureName) {
        guint8 entry[48] = {0};
        entry[0] = 0;
        entry[1] = s->featureBit;
        memcpy(entry + 2, s->featureName, strlen(s->featureName));
        off = putQcow2Ext(a, off, 0x6803f57a, entry, sizeof(entry));
    }
    off += 8; /* end-of-extensions: already zero */
    if (s->backing) {
        putStr(a, off, s->backing);
        putBE(a, 8, off, 8);
        putBE(a, 16, strlen(s->backing), 4);
    }
    return a;
}

static GByteArray *
buildQcow1(guint64 size, const char *backing)
{
    GByteArray *a = g_byte_array_new();

    ensure(a, 4096); /* before the byte stores below */
    putStr(a, 0, "QFI\xfb");
    putBE(a, 4, 1, 4);
    putBE(a, 24, size, 8);
    a->data[32] = 12; /* cluster_bits */
    a->data[33] = 9;  /* l2_bits */
    if (backing) {
        putBE(a, 8, 48, 8);
        putBE(a, 16, strlen(backing), 4);
        putStr(a, 48, backing);
    }
    return a;
}

static GByteArray *
buildQed(guint64 size, const char *backing, guint64 features)
{
    GByteArray *a = g_byte_array_new();

    ensure(a, 0x10000 * 4);
    putStr(a, 0, "QED");
    putLE(a, 4, 0x10000, 4);
    putLE(a, 8, 4, 4);
    putLE(a, 12, 1, 4);
    putLE(a, 16, features, 8);
    putLE(a, 48, size, 8);
    if (backing) {
        putLE(a, 56, 64, 4);
        putLE(a, 60, strlen(backing), 4);
        putStr(a, 64, backing);
    }
    return a;
}

static char *
vmdkDescriptor(const char *createType, const char *parent, const char *extents)
{
    return g_strdup_printf("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
                           "createType=\"%s\"\n%s%s%s\n# Extent description\n%s\n"
                           "# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n",
                           createType, parent ? "parentFileNameHint=\"" : "", parent ? parent : "",
                           parent ? "\"" : "", extents);
}

/* Monolithic sparse: a binary header, the descriptor embedded at DESC_SECTOR. */
static GByteArray *
buildVmdkSparse(guint64 sectors, const char *parent, guint64 descSector)
{
    GByteArray *a = g_byte_array_new();
    g_autofree char *desc = vmdkDescriptor("monolithicSparse", parent, "RW 2048 SPARSE \"x.vmdk\"");

    putStr(a, 0, "KDMV");
    putLE(a, 4, 1, 4);
    putLE(a, 8, 3, 4);
    putLE(a, 12, sectors, 8);
    putLE(a, 20, 128, 8);
    putLE(a, 28, descSector, 8);
    putLE(a, 36, 20, 8);
    putStr(a, descSector * 512, desc);
    ensure(a, (descSector + 20) * 512 + 4096);
    return a;
}

static GByteArray *
buildVpc(const char *creator, guint64 currentSize, guint16 cyls, guint8 heads, guint8 secs)
{
    GByteArray *a = g_byte_array_new();

    ensure(a, 3 * 512 + 512);
    putStr(a, 0, "conectix");
    putBE(a, 8, 2, 4);
    putBE(a, 12, 0x00010000, 4);
    putBE(a, 16, 512, 8);
    putStr(a, 28, creator);
    putBE(a, 40, currentSize, 8);
    putBE(a, 48, currentSize, 8);
    putBE(a, 56, cyls, 2);
    a->data[58] = heads;
    a->data[59] = secs;
    putBE(a, 60, 3, 4);
    putStr(a, 512, "cxsparse");
    return a;
}

static GByteArray *
buildVdi(guint64 size, guint32 type)
{
    GByteArray *a = g_byte_array_new();

    putStr(a, 0, "<<< QEMU VM Virtual Disk Image >>>\n");
    putLE(a, 64, 0xbeda107f, 4);
    putLE(a, 68, 0x00010001, 4);
    putLE(a, 72, 0x190, 4);
    putLE(a, 76, type, 4);
    putLE(a, 360, 512, 4);
    putLE(a, 368, size, 8);
    putLE(a, 376, MiB, 4);
    ensure(a, 0x200 + 4096);
    return a;
}

static const guint8 vhdxMetaRegion[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                          0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
static const guint8 vhdxBatRegion[16] = {0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
                                         0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08};
static const guint8 vhdxSizeItem[16] = {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
                                        0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8};
static const guint8 vhdxParamsItem[16] = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                          0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b};

static GByteArray *
buildVhdx(guint64 size, guint32 paramFlags)
{
    GByteArray *a = g_byte_array_new();
    gsize rt = 192 * 1024, meta = MiB;

    putStr(a, 0, "vhdxfile");
    putStr(a, rt, "regi");
    putLE(a, rt + 8, 2, 4);
    putBytes(a, rt + 16, vhdxBatRegion, 16);
    putLE(a, rt + 16 + 16, 2 * MiB, 8);
    putLE(a, rt + 16 + 24, MiB, 4);
    putBytes(a, rt + 48, vhdxMetaRegion, 16);
    putLE(a, rt + 48 + 16, meta, 8);
    putLE(a, rt + 48 + 24, MiB, 4);
    putStr(a, meta, "metadata");
    putLE(a, meta + 10, 2, 2);
    putBytes(a, meta + 32, vhdxParamsItem, 16);
    putLE(a, meta + 32 + 16, 0x10000, 4);
    putLE(a, meta + 32 + 20, 8, 4);
    putBytes(a, meta + 64, vhdxSizeItem, 16);
    putLE(a, meta + 64 + 16, 0x10008, 4);
    putLE(a, meta + 64 + 20, 8, 4);
    putLE(a, meta + 0x10000, 32 * MiB, 4);
    putLE(a, meta + 0x10004, paramFlags, 4);
    putLE(a, meta + 0x10008, size, 8);
    ensure(a, 3 * MiB);
    return a;
}

static GByteArray *
buildLuks(guint32 payloadSectors, gsize dataLen)
{
    GByteArray *a = g_byte_array_new();

    putStr(a, 0, "LUKS\xba\xbe");
    putBE(a, 6, 1, 2);
    putStr(a, 8, "aes");
    putStr(a, 40, "xts-plain64");
    putStr(a, 72, "sha256");
    putBE(a, 104, payloadSectors, 4);
    ensure(a, (gsize)payloadSectors * 512 + dataLen);
    return a;
}

static GByteArray *
buildIso(void)
{
    GByteArray *a = g_byte_array_new();

    putStr(a, 0x8000,
           "\x01"
           "CD001");
    ensure(a, 0x9000);
    return a;
}

/* ---- probing from memory --------------------------------------------------------------- */

typedef struct {
    const guint8 *data;
    gsize size;
    unsigned int reads;
    guint64 lowestRead; /* lowest offset asked for through the callback */
} MemFile;

static gboolean
memRead(void *opaque, guint64 off, guint8 *buf, gsize len, GError **error)
{
    MemFile *m = opaque;

    if (off > m->size || len > m->size - off) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_READ_FAILED, "short read");
        return FALSE;
    }
    memcpy(buf, m->data + off, len);
    if (m->reads == 0 || off < m->lowestRead)
        m->lowestRead = off;
    m->reads++;
    return TRUE;
}

/* Probe the first FILESIZE bytes of IMG as a file of that size. */
static gboolean
probeSized(qvirStorageFileFormat fmt, const GByteArray *img, gsize fileSize, gboolean withRead,
           qvirStorageProbeResult *res, GError **error)
{
    MemFile m = {img->data, MIN(fileSize, img->len), 0, 0};
    qvirStorageProbeInput in = {"test.img",
                                img->data,
                                MIN(m.size, QVIR_STORAGE_PROBE_HEADER_MAX),
                                m.size,
                                withRead ? memRead : NULL,
                                &m};
    gboolean ok = qvirStorageProbeParse(fmt, &in, res, error);

    if (ok)
        g_assert_cmpuint(m.reads, ==, res->extraReads);
    return ok;
}

static gboolean
probe(qvirStorageFileFormat fmt, const GByteArray *img, qvirStorageProbeResult *res, GError **error)
{
    return probeSized(fmt, img, img->len, TRUE, res, error);
}

/* Parse must fail with exactly MESSAGE (and leave RES empty). */
static void
assertProbeError(qvirStorageFileFormat fmt, const GByteArray *img, const char *message)
{
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_false(probe(fmt, img, &res, &error));
    g_assert_nonnull(error);
    g_assert_cmpstr(error->message, ==, message);
    g_assert_null(res.backingName);
}

/* ---- well-formed images ---------------------------------------------------------------- */

static void
testQcow2V3(void)
{
    Qcow2Spec spec = {3, 10 * MiB, "base.qcow2", "qcow2", 0, NULL, 0, 0};
    g_autoptr(GByteArray) img = buildQcow2(&spec);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qvirStorageProbeFormat(img->data, img->len), ==, QVIR_STORAGE_FILE_QCOW2);
    g_assert_true(probe(QVIR_STORAGE_FILE_QCOW2, img, &res, &error));
    g_assert_no_error(error);
    g_assert_cmpint(res.format, ==, QVIR_STORAGE_FILE_QCOW2);
    g_assert_cmpuint(res.capacity, ==, 10 * MiB);
    g_assert_cmpstr(res.backingName, ==, "base.qcow2");
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_QCOW2);
    g_assert_false(res.encrypted);
    g_assert_cmpuint(res.extraReads, ==, 0);
    qvirStorageProbeResultClear(&res);
}

static void
testQcow2V2(void)
{
    Qcow2Spec spec = {2, 3 * MiB, "/abs/base.raw", "raw", 0, NULL, 0, 0};
    g_autoptr(GByteArray) img = buildQcow2(&spec);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qvirStorageProbeFormat(img->data, img->len), ==, QVIR_STORAGE_FILE_QCOW2);
    g_assert_true(probe(QVIR_STORAGE_FILE_QCOW2, img, &res, &error));
    g_assert_cmpuint(res.capacity, ==, 3 * MiB);
    g_assert_cmpstr(res.backingName, ==, "/abs/base.raw");
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_RAW);
    qvirStorageProbeResultClear(&res);
}

static void
testQcow2NoBacking(void)
{
    Qcow2Spec spec = {3, 5 * MiB, NULL, NULL, 0, NULL, 0, 2 /* LUKS */};
    g_autoptr(GByteArray) img = buildQcow2(&spec);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_true(probe(QVIR_STORAGE_FILE_QCOW2, img, &res, &error));
    g_assert_null(res.backingName);
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_NONE);
    g_assert_true(res.encrypted);
    g_assert_cmpuint(res.capacity, ==, 5 * MiB);
}

/* Without the backing-format extension the format stays NONE: the chain walk refuses it. */
static void
testQcow2NoBackingFormat(void)
{
    Qcow2Spec spec = {3, MiB, "base.img", NULL, 0, NULL, 0, 0};
    g_autoptr(GByteArray) img = buildQcow2(&spec);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_true(probe(QVIR_STORAGE_FILE_QCOW2, img, &res, &error));
    g_assert_cmpstr(res.backingName, ==, "base.img");
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_NONE);
    qvirStorageProbeResultClear(&res);
}

static void
testQcow1(void)
{
    g_autoptr(GByteArray) img = buildQcow1(7 * MiB, "old.img");
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qvirStorageProbeFormat(img->data, img->len), ==, QVIR_STORAGE_FILE_QCOW);
    g_assert_true(probe(QVIR_STORAGE_FILE_QCOW, img, &res, &error));
    g_assert_cmpuint(res.capacity, ==, 7 * MiB);
    g_assert_cmpstr(res.backingName, ==, "old.img");
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_NONE);
    qvirStorageProbeResultClear(&res);

    /* qcow and qcow2 share a magic: the version tells them apart, both ways. */
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, img,
                     "invalid qcow2 image 'test.img': this is a qcow (version 1) image");
}

static void
testQed(void)
{
    g_autoptr(GByteArray) raw = buildQed(4 * MiB, "base.raw", 0x1 | 0x4);
    g_autoptr(GByteArray) probed = buildQed(4 * MiB, "base.qcow2", 0x1);
    g_autoptr(GByteArray) none = buildQed(4 * MiB, NULL, 0);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qvirStorageProbeFormat(raw->data, raw->len), ==, QVIR_STORAGE_FILE_QED);
    g_assert_true(probe(QVIR_STORAGE_FILE_QED, raw, &res, &error));
    g_assert_cmpuint(res.capacity, ==, 4 * MiB);
    g_assert_cmpstr(res.backingName, ==, "base.raw");
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_RAW);
    g_assert_false(res.backingFormatProbe);
    qvirStorageProbeResultClear(&res);

    /* QED records only "raw, do not probe"; anything else is unrecorded and, by the
     * format's own rule, probed (libvirt's AUTO_SAFE). */
    g_assert_true(probe(QVIR_STORAGE_FILE_QED, probed, &res, &error));
    g_assert_cmpstr(res.backingName, ==, "base.qcow2");
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_NONE);
    g_assert_true(res.backingFormatProbe);
    qvirStorageProbeResultClear(&res);

    g_assert_true(probe(QVIR_STORAGE_FILE_QED, none, &res, &error));
    g_assert_null(res.backingName);
    g_assert_false(res.backingFormatProbe);
}

static void
testVmdkSparse(void)
{
    g_autoptr(GByteArray) img = buildVmdkSparse(2048, "base.vmdk", 1);
    g_autoptr(GByteArray) noParent = buildVmdkSparse(4096, NULL, 1);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qvirStorageProbeFormat(img->data, img->len), ==, QVIR_STORAGE_FILE_VMDK);
    g_assert_true(probe(QVIR_STORAGE_FILE_VMDK, img, &res, &error));
    g_assert_cmpuint(res.capacity, ==, 2048 * 512);
    g_assert_cmpstr(res.backingName, ==, "base.vmdk");
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_VMDK);
    g_assert_cmpuint(res.extraReads, ==, 0);
    qvirStorageProbeResultClear(&res);

    g_assert_true(probe(QVIR_STORAGE_FILE_VMDK, noParent, &res, &error));
    g_assert_null(res.backingName);
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_NONE);
    g_assert_cmpuint(res.capacity, ==, 4096 * 512);
}

/* A descriptor beyond the first 0x8200 bytes costs exactly one more read. */
static void
testVmdkFarDescriptor(void)
{
    g_autoptr(GByteArray) img = buildVmdkSparse(2048, "far.vmdk", 128);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_true(probe(QVIR_STORAGE_FILE_VMDK, img, &res, &error));
    g_assert_cmpstr(res.backingName, ==, "far.vmdk");
    g_assert_cmpuint(res.extraReads, ==, 1);
    qvirStorageProbeResultClear(&res);

    /* Without a way to read further, the probe says so rather than guessing. */
    g_assert_false(probeSized(QVIR_STORAGE_FILE_VMDK, img, img->len, FALSE, &res, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid vmdk image 'test.img': metadata at offset 65536 lies outside the "
                    "probed header");
}

static void
testVmdkDescriptorFile(void)
{
    g_autofree char *text = vmdkDescriptor("twoGbMaxExtentSparse", "parent.vmdk",
                                           "RW 4192256 SPARSE \"d-s001.vmdk\"\n"
                                           "RW 4192256 SPARSE \"d-s002.vmdk\"\n"
                                           "RDONLY 1024 FLAT \"d-f001.vmdk\" 0");
    g_autoptr(GByteArray) img = g_byte_array_new();
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    putStr(img, 0, text);
    g_assert_cmpint(qvirStorageProbeFormat(img->data, img->len), ==, QVIR_STORAGE_FILE_VMDK);
    g_assert_true(probe(QVIR_STORAGE_FILE_VMDK, img, &res, &error));
    g_assert_cmpuint(res.capacity, ==, (4192256ULL * 2 + 1024) * 512);
    g_assert_cmpstr(res.backingName, ==, "parent.vmdk");
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_VMDK);
    qvirStorageProbeResultClear(&res);
}

/* A descriptor file longer than the header: only the part past the header is read. */
static void
testVmdkLongDescriptorFile(void)
{
    g_autoptr(GString) padding = g_string_new(NULL);
    g_autofree char *text = NULL;
    g_autoptr(GByteArray) img = g_byte_array_new();
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;
    MemFile m;
    qvirStorageProbeInput in;

    while (padding->len < 40000)
        g_string_append(padding, "# a comment line to make the descriptor long\n");
    text = vmdkDescriptor("monolithicFlat", "late-parent.vmdk", padding->str);
    putStr(img, 0, text);
    g_string_printf(padding, "RW 2048 FLAT \"f.vmdk\" 0\n");
    putStr(img, img->len, padding->str);

    m = (MemFile){img->data, img->len, 0, 0};
    in = (qvirStorageProbeInput){"test.img", img->data, QVIR_STORAGE_PROBE_HEADER_MAX,
                                 img->len,   memRead,   &m};
    g_assert_true(qvirStorageProbeParse(QVIR_STORAGE_FILE_VMDK, &in, &res, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(res.backingName, ==, "late-parent.vmdk");
    g_assert_cmpuint(res.capacity, ==, 2048 * 512);
    g_assert_cmpuint(m.reads, ==, 1);
    g_assert_cmpuint(m.lowestRead, ==, QVIR_STORAGE_PROBE_HEADER_MAX);
    qvirStorageProbeResultClear(&res);
}

/* Given only the first 4 KiB, a name further in fails with headerShort set; not so
 * when the whole header was given, or when the file itself is that short. */
static void
testHeaderShort(void)
{
    Qcow2Spec spec = {3, MiB, "base.qcow2", "qcow2", 0, NULL, 0, 0};
    g_autoptr(GByteArray) img = buildQcow2(&spec);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;
    qvirStorageProbeInput in;

    putBE(img, 8, 0x6000, 8);
    putStr(img, 0x6000, "base.qcow2");
    in = (qvirStorageProbeInput){"test.img", img->data, 4096, img->len, NULL, NULL};
    g_assert_false(qvirStorageProbeParse(QVIR_STORAGE_FILE_QCOW2, &in, &res, &error));
    g_assert_true(res.headerShort);
    g_assert_null(res.backingName);
    g_clear_error(&error);

    in.len = QVIR_STORAGE_PROBE_HEADER_MAX;
    g_assert_true(qvirStorageProbeParse(QVIR_STORAGE_FILE_QCOW2, &in, &res, &error));
    g_assert_cmpstr(res.backingName, ==, "base.qcow2");
    qvirStorageProbeResultClear(&res);

    g_byte_array_set_size(img, 4096); /* now the file ends there: a real error */
    in = (qvirStorageProbeInput){"test.img", img->data, 4096, 4096, NULL, NULL};
    g_assert_false(qvirStorageProbeParse(QVIR_STORAGE_FILE_QCOW2, &in, &res, &error));
    g_assert_false(res.headerShort);
}

static void
testVpc(void)
{
    /* QEMU-created ("qemu"): size from CHS, 302*4*17 sectors, not current_size. */
    g_autoptr(GByteArray) chs = buildVpc("qemu", 10 * MiB, 302, 4, 17);
    /* Hyper-V ("win "): current_size wins. */
    g_autoptr(GByteArray) hyperv = buildVpc("win ", 10 * MiB, 302, 4, 17);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qvirStorageProbeFormat(chs->data, chs->len), ==, QVIR_STORAGE_FILE_VPC);
    g_assert_true(probe(QVIR_STORAGE_FILE_VPC, chs, &res, &error));
    g_assert_cmpuint(res.capacity, ==, 302ULL * 4 * 17 * 512);
    g_assert_true(probe(QVIR_STORAGE_FILE_VPC, hyperv, &res, &error));
    g_assert_cmpuint(res.capacity, ==, 10 * MiB);
    g_assert_null(res.backingName);
}

static void
testVdi(void)
{
    g_autoptr(GByteArray) img = buildVdi(10 * MiB + 3, 1);
    g_autoptr(GByteArray) diff = buildVdi(10 * MiB, 4);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qvirStorageProbeFormat(img->data, img->len), ==, QVIR_STORAGE_FILE_VDI);
    g_assert_true(probe(QVIR_STORAGE_FILE_VDI, img, &res, &error));
    /* odd sizes round up to whole sectors, as QEMU does */
    g_assert_cmpuint(res.capacity, ==, 10 * MiB + 512);
    assertProbeError(QVIR_STORAGE_FILE_VDI, diff,
                     "invalid vdi image 'test.img': unsupported image type 4");
}

static void
testVhdx(void)
{
    g_autoptr(GByteArray) img = buildVhdx(64 * MiB, 0);
    g_autoptr(GByteArray) diff = buildVhdx(64 * MiB, 0x2);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qvirStorageProbeFormat(img->data, img->len), ==, QVIR_STORAGE_FILE_VHDX);
    g_assert_true(probe(QVIR_STORAGE_FILE_VHDX, img, &res, &error));
    g_assert_cmpuint(res.capacity, ==, 64 * MiB);
    /* the region table, then the metadata table read together with the items after it */
    g_assert_cmpuint(res.extraReads, ==, 2);
    assertProbeError(QVIR_STORAGE_FILE_VHDX, diff,
                     "invalid vhdx image 'test.img': differencing images are not supported");
}

static void
testLuks(void)
{
    g_autoptr(GByteArray) img = buildLuks(4096, MiB);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qvirStorageProbeFormat(img->data, img->len), ==, QVIR_STORAGE_FILE_LUKS);
    g_assert_true(probe(QVIR_STORAGE_FILE_LUKS, img, &res, &error));
    g_assert_cmpuint(res.capacity, ==, MiB);
    g_assert_true(res.encrypted);

    /* the payload offset may not point past the end of the file */
    g_assert_false(probeSized(QVIR_STORAGE_FILE_LUKS, img, 4096, TRUE, &res, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid luks image 'test.img': payload offset 2097152 lies past the end of "
                    "the file");
}

static void
testIsoAndRaw(void)
{
    g_autoptr(GByteArray) iso = buildIso();
    g_autoptr(GByteArray) zeros = g_byte_array_new();
    Qcow2Spec spec = {3, MiB, "/etc/shadow", "raw", 0, NULL, 0, 0};
    g_autoptr(GByteArray) evil = buildQcow2(&spec);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    ensure(zeros, 0x9000);
    g_assert_cmpint(qvirStorageProbeFormat(iso->data, iso->len), ==, QVIR_STORAGE_FILE_ISO);
    g_assert_cmpint(qvirStorageProbeFormat(zeros->data, zeros->len), ==, QVIR_STORAGE_FILE_RAW);
    g_assert_cmpint(qvirStorageProbeFormat(iso->data, 0x8004), ==, QVIR_STORAGE_FILE_RAW);

    /* A raw image holding a qcow2 header is parsed as nothing: size only, no backing. */
    g_assert_true(probe(QVIR_STORAGE_FILE_RAW, evil, &res, &error));
    g_assert_cmpuint(res.capacity, ==, evil->len);
    g_assert_null(res.backingName);
    g_assert_cmpint(res.backingFormat, ==, QVIR_STORAGE_FILE_NONE);
    g_assert_true(probe(QVIR_STORAGE_FILE_ISO, iso, &res, &error));
    g_assert_cmpuint(res.capacity, ==, iso->len);
}

static void
testUnknownVersionIsRaw(void)
{
    Qcow2Spec spec = {3, MiB, NULL, NULL, 0, NULL, 0, 0};
    g_autoptr(GByteArray) img = buildQcow2(&spec);

    putBE(img, 4, 4, 4);
    /* a guessed format never comes from a header whose version we do not know */
    g_assert_cmpint(qvirStorageProbeFormat(img->data, img->len), ==, QVIR_STORAGE_FILE_RAW);
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, img,
                     "invalid qcow2 image 'test.img': unsupported qcow2 version 4");
}

static void
testWrongMagic(void)
{
    g_autoptr(GByteArray) img = buildVdi(MiB, 1);

    assertProbeError(QVIR_STORAGE_FILE_QCOW2, img,
                     "invalid qcow2 image 'test.img': qcow2 magic not found");
    assertProbeError(QVIR_STORAGE_FILE_VMDK, img,
                     "invalid vmdk image 'test.img': vmdk magic not found");
}

/* ---- malicious headers ----------------------------------------------------------------- */

static void
testQcow2Truncated(void)
{
    Qcow2Spec spec = {3, MiB, "base.qcow2", "qcow2", 0, NULL, 0, 0};
    g_autoptr(GByteArray) img = buildQcow2(&spec);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    g_assert_false(probeSized(QVIR_STORAGE_FILE_QCOW2, img, 50, TRUE, &res, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid qcow2 image 'test.img': header is truncated (50 bytes, need 72)");
    g_clear_error(&error);
    g_assert_false(probeSized(QVIR_STORAGE_FILE_QCOW2, img, 100, TRUE, &res, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid qcow2 image 'test.img': header is truncated (100 bytes, need 104)");
    g_clear_error(&error);
    /* cut inside an extension header, then inside its data */
    g_assert_false(probeSized(QVIR_STORAGE_FILE_QCOW2, img, 110, TRUE, &res, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid qcow2 image 'test.img': header extensions run past the first 110 "
                    "bytes of the image");
    g_clear_error(&error);
    g_assert_false(probeSized(QVIR_STORAGE_FILE_QCOW2, img, 114, TRUE, &res, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid qcow2 image 'test.img': header extension 0xe2792aca runs past the "
                    "first 114 bytes of the image");
    g_clear_error(&error);
    /* cut inside the end-of-extensions marker, then inside the backing name */
    g_assert_false(probeSized(QVIR_STORAGE_FILE_QCOW2, img, 125, TRUE, &res, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid qcow2 image 'test.img': header extensions run past the first 125 "
                    "bytes of the image");
    g_clear_error(&error);
    g_assert_false(probeSized(QVIR_STORAGE_FILE_QCOW2, img, 133, TRUE, &res, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid qcow2 image 'test.img': backing file name (offset 128, length 10) "
                    "lies past the end of the file (133 bytes)");
}

static void
testQcow2BackingPastEOF(void)
{
    Qcow2Spec spec = {3, MiB, "base.qcow2", "qcow2", 0, NULL, 0, 0};
    g_autoptr(GByteArray) offPast = buildQcow2(&spec);
    g_autoptr(GByteArray) lenPast = buildQcow2(&spec);
    g_autoptr(GByteArray) outside = buildQcow2(&spec);

    putBE(offPast, 8, 0x9000, 8); /* name offset beyond a 0x8000-byte file */
    g_byte_array_set_size(offPast, 0x8000);
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, offPast,
                     "invalid qcow2 image 'test.img': backing file name (offset 36864, length "
                     "10) lies past the end of the file (32768 bytes)");

    putBE(lenPast, 16, 1000, 4); /* in range for QEMU's limit, but the file ends first */
    g_byte_array_set_size(lenPast, 512);
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, lenPast,
                     "invalid qcow2 image 'test.img': backing file name (offset 128, length "
                     "1000) lies past the end of the file (512 bytes)");

    /* inside the file and the cluster, but beyond the bytes a probe reads */
    putBE(outside, 8, 0xF000, 8);
    putStr(outside, 0xF000, "base.qcow2");
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, outside,
                     "invalid qcow2 image 'test.img': backing file name (offset 61440, length "
                     "10) lies outside the first 33280 bytes of the image");

    /* past the first cluster: QEMU's own limit */
    putBE(outside, 8, 0x20000, 8);
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, outside,
                     "invalid qcow2 image 'test.img': invalid backing file offset 131072");
}

static void
testQcow2Length4G(void)
{
    Qcow2Spec spec = {3, MiB, "base.qcow2", "qcow2", 0, NULL, 0, 0};
    g_autoptr(GByteArray) img = buildQcow2(&spec);

    putBE(img, 16, 0xFFFFFFFFULL, 4);
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, img,
                     "invalid qcow2 image 'test.img': backing file name is too long (4294967295 "
                     "bytes, at most 1023)");

    /* a 4 GiB extension length must not wrap the walk */
    putBE(img, 104 + 4, 0xFFFFFFFFULL, 4);
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, img,
                     "invalid qcow2 image 'test.img': header extension 0xe2792aca is too large "
                     "(4294967295 bytes)");
}

static void
testQcow2NulInName(void)
{
    Qcow2Spec spec = {3, MiB, "base.qcow2", "qcow2", 0, NULL, 0, 0};
    g_autoptr(GByteArray) img = buildQcow2(&spec);
    Qcow2Spec fmtSpec = {3, MiB, "base.qcow2", "qcow2", 0, NULL, 0, 0};
    g_autoptr(GByteArray) fmtNul = buildQcow2(&fmtSpec);

    img->data[128 + 4] = '\0'; /* "base\0qcow2": QEMU would open "base" */
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, img,
                     "invalid qcow2 image 'test.img': backing file name contains a NUL byte");

    fmtNul->data[104 + 8 + 2] = '\0';
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, fmtNul,
                     "invalid qcow2 image 'test.img': backing format name contains a NUL byte");
}

static void
testQcow2UnknownIncompatible(void)
{
    Qcow2Spec named = {3, MiB, NULL, NULL, 1ULL << 20, "future-feature", 20, 0};
    Qcow2Spec unnamed = {3, MiB, NULL, NULL, (1ULL << 20) | (1ULL << 40), "future-feature", 20, 0};
    Qcow2Spec known = {3, MiB, NULL, NULL, 0x1f, NULL, 0, 0};
    g_autoptr(GByteArray) a = buildQcow2(&named);
    g_autoptr(GByteArray) b = buildQcow2(&unnamed);
    g_autoptr(GByteArray) c = buildQcow2(&known);
    qvirStorageProbeResult res = {0};
    g_autoptr(GError) error = NULL;

    assertProbeError(QVIR_STORAGE_FILE_QCOW2, a,
                     "invalid qcow2 image 'test.img': unsupported qcow2 feature(s): "
                     "future-feature");
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, b,
                     "invalid qcow2 image 'test.img': unsupported qcow2 feature(s): "
                     "future-feature, Unknown incompatible feature: 10000000000");
    /* dirty, corrupt, data file, compression type, extended L2 are all known */
    g_assert_true(probe(QVIR_STORAGE_FILE_QCOW2, c, &res, &error));
    g_assert_no_error(error);
}

static void
testQcow2BadBackingFormat(void)
{
    Qcow2Spec spec = {3, MiB, "base", "bochs", 0, NULL, 0, 0};
    Qcow2Spec longSpec = {3, MiB, "base", "averyveryverylongformat", 0, NULL, 0, 0};
    g_autoptr(GByteArray) img = buildQcow2(&spec);
    g_autoptr(GByteArray) longImg = buildQcow2(&longSpec);

    assertProbeError(QVIR_STORAGE_FILE_QCOW2, img,
                     "invalid qcow2 image 'test.img': unknown backing format 'bochs'");
    assertProbeError(QVIR_STORAGE_FILE_QCOW2, longImg,
                     "invalid qcow2 image 'test.img': backing format name is too long (23 bytes)");
}

static void
testOtherFormatsLying(void)
{
    g_autoptr(GByteArray) qed = buildQed(MiB, "base", 0x1);
    g_autoptr(GByteArray) qedFeat = buildQed(MiB, NULL, 0x100);
    g_autoptr(GByteArray) qcow1 = buildQcow1(MiB, "base");
    g_autoptr(GByteArray) vmdk = buildVmdkSparse(2048, "base.vmdk", 1);
    g_autoptr(GByteArray) vhdx = buildVhdx(MiB, 0);

    putLE(qed, 56, 0xFFFF0, 4); /* name beyond the single header cluster */
    assertProbeError(QVIR_STORAGE_FILE_QED, qed,
                     "invalid qed image 'test.img': backing file name (offset 1048560, length 4) "
                     "lies outside the header");
    assertProbeError(QVIR_STORAGE_FILE_QED, qedFeat,
                     "invalid qed image 'test.img': unsupported QED features 0x100");

    putBE(qcow1, 16, 0xFFFFFFFFULL, 4);
    assertProbeError(QVIR_STORAGE_FILE_QCOW, qcow1,
                     "invalid qcow image 'test.img': backing file name is too long (4294967295 "
                     "bytes, at most 1023)");

    putLE(vmdk, 28, G_MAXUINT64 / 256, 8); /* descriptor sector that overflows when scaled */
    assertProbeError(QVIR_STORAGE_FILE_VMDK, vmdk,
                     "invalid vmdk image 'test.img': embedded descriptor (sector "
                     "72057594037927935, 20 sectors) lies outside the file");

    putLE(vhdx, 192 * 1024 + 8, 100000, 4);
    assertProbeError(QVIR_STORAGE_FILE_VHDX, vhdx,
                     "invalid vhdx image 'test.img': region table has too many entries (100000)");
}

/*
 * Every prefix of every well-formed image, and random corruptions of its header:
 * the parsers must return an answer (result or error), never read outside the buffer
 * (run under ASan/valgrind to see that), never leave a half-filled result.
 */
static void
testNoCrashOnGarbage(void)
{
    Qcow2Spec q3 = {3, MiB, "base.qcow2", "qcow2", 0, "feat", 30, 0};
    Qcow2Spec q2 = {2, MiB, "base.raw", "raw", 0, NULL, 0, 0};
    g_autofree char *desc = vmdkDescriptor("monolithicFlat", "p.vmdk", "RW 100 FLAT \"f\" 0");
    GByteArray *descImg = g_byte_array_new();
    struct {
        qvirStorageFileFormat fmt;
        GByteArray *img;
    } cases[] = {
        {QVIR_STORAGE_FILE_QCOW2, buildQcow2(&q3)},
        {QVIR_STORAGE_FILE_QCOW2, buildQcow2(&q2)},
        {QVIR_STORAGE_FILE_QCOW, buildQcow1(MiB, "b")},
        {QVIR_STORAGE_FILE_QED, buildQed(MiB, "b", 1)},
        {QVIR_STORAGE_FILE_VMDK, buildVmdkSparse(2048, "b.vmdk", 1)},
        {QVIR_STORAGE_FILE_VMDK, descImg},
        {QVIR_STORAGE_FILE_VPC, buildVpc("qemu", MiB, 30, 4, 17)},
        {QVIR_STORAGE_FILE_VDI, buildVdi(MiB, 1)},
        {QVIR_STORAGE_FILE_VHDX, buildVhdx(MiB, 0)},
        {QVIR_STORAGE_FILE_LUKS, buildLuks(8, 4096)},
    };
    g_autoptr(GRand) rand = g_rand_new_with_seed(20261121);

    putStr(descImg, 0, desc);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GByteArray *img = cases[i].img;
        gsize headerLen = MIN(img->len, QVIR_STORAGE_PROBE_HEADER_MAX);
        g_autoptr(GByteArray) copy = g_byte_array_new();

        for (gsize cut = 0; cut <= headerLen; cut += cut < 1024 ? 1 : 61) {
            qvirStorageProbeResult res = {0};
            g_autoptr(GError) error = NULL;

            if (probeSized(cases[i].fmt, img, cut, TRUE, &res, &error))
                g_assert_no_error(error);
            else
                g_assert_nonnull(error);
            qvirStorageProbeResultClear(&res);
        }
        for (unsigned int round = 0; round < 3000; round++) {
            qvirStorageProbeResult res = {0};
            g_autoptr(GError) error = NULL;
            unsigned int flips = g_rand_int_range(rand, 1, 5);

            g_byte_array_set_size(copy, 0);
            g_byte_array_append(copy, img->data, img->len);
            for (unsigned int f = 0; f < flips; f++) {
                /* mostly the first 512 bytes, where the fields are */
                gint32 range =
                    g_rand_boolean(rand) ? MIN(512, (gint32)headerLen) : (gint32)headerLen;
                gsize at = g_rand_int_range(rand, 0, range);
                copy->data[at] = (guint8)g_rand_int_range(rand, 0, 256);
            }
            if (probe(cases[i].fmt, copy, &res, &error))
                g_assert_no_error(error);
            else
                g_assert_null(res.backingName);
            (void)qvirStorageProbeFormat(copy->data, MIN(copy->len, QVIR_STORAGE_PROBE_HEADER_MAX));
            qvirStorageProbeResultClear(&res);
        }
        g_byte_array_unref(img);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/storage/probe/qcow2-v3", testQcow2V3);
    g_test_add_func("/storage/probe/qcow2-v2", testQcow2V2);
    g_test_add_func("/storage/probe/qcow2-no-backing-encrypted", testQcow2NoBacking);
    g_test_add_func("/storage/probe/qcow2-no-backing-format", testQcow2NoBackingFormat);
    g_test_add_func("/storage/probe/qcow", testQcow1);
    g_test_add_func("/storage/probe/qed", testQed);
    g_test_add_func("/storage/probe/vmdk-sparse", testVmdkSparse);
    g_test_add_func("/storage/probe/vmdk-far-descriptor", testVmdkFarDescriptor);
    g_test_add_func("/storage/probe/vmdk-descriptor-file", testVmdkDescriptorFile);
    g_test_add_func("/storage/probe/vmdk-long-descriptor-file", testVmdkLongDescriptorFile);
    g_test_add_func("/storage/probe/header-short", testHeaderShort);
    g_test_add_func("/storage/probe/vpc", testVpc);
    g_test_add_func("/storage/probe/vdi", testVdi);
    g_test_add_func("/storage/probe/vhdx", testVhdx);
    g_test_add_func("/storage/probe/luks", testLuks);
    g_test_add_func("/storage/probe/iso-and-raw", testIsoAndRaw);
    g_test_add_func("/storage/probe/unknown-version-is-raw", testUnknownVersionIsRaw);
    g_test_add_func("/storage/probe/wrong-magic", testWrongMagic);
    g_test_add_func("/storage/malicious/qcow2-truncated", testQcow2Truncated);
    g_test_add_func("/storage/malicious/qcow2-backing-past-eof", testQcow2BackingPastEOF);
    g_test_add_func("/storage/malicious/qcow2-length-4g", testQcow2Length4G);
    g_test_add_func("/storage/malicious/qcow2-nul-in-name", testQcow2NulInName);
    g_test_add_func("/storage/malicious/qcow2-unknown-incompatible", testQcow2UnknownIncompatible);
    g_test_add_func("/storage/malicious/qcow2-bad-backing-format", testQcow2BadBackingFormat);
    g_test_add_func("/storage/malicious/other-formats", testOtherFormatsLying);
    g_test_add_func("/storage/malicious/no-crash-on-garbage", testNoCrashOnGarbage);

    return g_test_run();
}
