/*
 * fuzz_image_probe.c: image header probing (src/storage/storage_probe.c), every format.
 *
 * The input is an image file, in one of two shapes:
 *   - plain bytes: the whole file;
 *   - "QVSPARSE" u64le:fileSize, then chunks of u64le:offset u32le:length bytes[length]:
 *     a sparse file of fileSize bytes, zero except where a chunk says otherwise. This
 *     lets a small input describe a real multi-megabyte image (a VHDX keeps its
 *     metadata past 1 MiB, a VMDK its descriptor anywhere), so the parsers' extra
 *     reads are fuzzed too. tests/fuzz/mkimagecorpus.py writes such files from images
 *     made by qemu-img.
 *
 * For the guessed format and then for every format in turn, the header (first 0x8200
 * bytes, and again only the first 512) is parsed with a read callback and without one.
 * Checked: success and error agree with the GError; a failure leaves the result empty;
 * the parser only asks for ranges inside the file and no larger than it promises;
 * the header buffer is an exact-size copy, so any read past it is an ASan report.
 */
#include <string.h>

#include "fuzz-common.h"
#include "storage/storage_probe.h"
#include "util/virerror.h"

#define FUZZ_SPARSE_MAGIC "QVSPARSE"
#define FUZZ_SPARSE_MAX_SIZE (64ull * 1024 * 1024)

typedef struct {
    guint64 offset;
    const guint8 *data;
    gsize len;
} fuzzChunk;

typedef struct {
    guint64 fileSize;
    fuzzChunk *chunks;
    gsize nchunks;
    unsigned int reads;
    qvirStorageFileFormat guessed;
} fuzzImage;

/* QVIRT_FUZZ_VERBOSE=1 prints what each input parses as (to check the seeds). */
static gboolean fuzzVerbose;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzCommonInit();
    fuzzVerbose = g_getenv("QVIRT_FUZZ_VERBOSE") != NULL;
    return 0;
}

static guint64
fuzzLE(const guint8 *p, unsigned int n)
{
    guint64 v = 0;

    for (unsigned int i = n; i > 0; i--)
        v = (v << 8) | p[i - 1];
    return v;
}

/* Read the sparse description; a malformed tail simply ends the chunk list. */
static void
fuzzImageInit(fuzzImage *img, const guint8 *data, gsize size)
{
    gsize pos;

    memset(img, 0, sizeof(*img));
    if (size < 16 || memcmp(data, FUZZ_SPARSE_MAGIC, 8) != 0) {
        img->fileSize = size;
        img->chunks = g_new0(fuzzChunk, 1);
        img->chunks[0] = (fuzzChunk){0, data, size};
        img->nchunks = 1;
        return;
    }
    img->fileSize = MIN(fuzzLE(data + 8, 8), FUZZ_SPARSE_MAX_SIZE);
    img->chunks = g_new0(fuzzChunk, size / 12 + 1);
    for (pos = 16; pos + 12 <= size;) {
        guint64 off = fuzzLE(data + pos, 8);
        gsize len = MIN((gsize)fuzzLE(data + pos + 8, 4), size - pos - 12);

        img->chunks[img->nchunks++] = (fuzzChunk){off, data + pos + 12, len};
        pos += 12 + len;
    }
}

/* Zero-fill BUF, then lay every chunk over it, later chunks winning. */
static void
fuzzImageRead(const fuzzImage *img, guint64 offset, guint8 *buf, gsize len)
{
    memset(buf, 0, len);
    for (gsize i = 0; i < img->nchunks; i++) {
        const fuzzChunk *c = &img->chunks[i];
        guint64 start = MAX(offset, c->offset);
        guint64 end = MIN(offset + len, c->offset + (guint64)c->len);

        if (c->offset > G_MAXUINT64 - c->len || start >= end)
            continue;
        memcpy(buf + (start - offset), c->data + (start - c->offset), end - start);
    }
}

static gboolean
fuzzImageReadCb(void *opaque, guint64 offset, guint8 *buf, gsize len, GError **error)
{
    fuzzImage *img = opaque;

    FUZZ_CHECK(len <= QVIR_STORAGE_PROBE_EXTRA_MAX, "asked for %zu bytes", len);
    FUZZ_CHECK(offset <= img->fileSize && len <= img->fileSize - offset,
               "asked for %zu bytes at %" G_GUINT64_FORMAT " of a %" G_GUINT64_FORMAT "-byte file",
               len, offset, img->fileSize);
    img->reads++;
    fuzzImageRead(img, offset, buf, len);
    return TRUE;
}

static void
fuzzProbeOne(fuzzImage *img, qvirStorageFileFormat format, const guint8 *hdr, gsize hdrLen,
             gboolean withRead)
{
    qvirStorageProbeInput in = {
        .path = "fuzz.img",
        .buf = hdr,
        .len = hdrLen,
        .fileSize = img->fileSize,
        .read = withRead ? fuzzImageReadCb : NULL,
        .opaque = img,
    };
    qvirStorageProbeResult res;
    g_autoptr(GError) error = NULL;
    gboolean ok;

    img->reads = 0;
    ok = qvirStorageProbeParse(format, &in, &res, &error);
    FUZZ_CHECK(img->reads <= 8, "%u extra reads for one header", img->reads);
    if (!ok) {
        FUZZ_CHECK(error != NULL, "failure without an error (format %d)", format);
        if (fuzzVerbose && format == img->guessed)
            g_printerr("  %s%s: %s\n", qvirStorageFileFormatTypeToString(format),
                       withRead ? "" : " (no reads)", error->message);
        FUZZ_CHECK(error->domain == QVIR_ERROR && error->message[0], "bad error");
        FUZZ_CHECK(res.backingName == NULL, "failure left a backing name");
        return;
    }
    FUZZ_CHECK(error == NULL, "success with an error: %s", error->message);
    if (fuzzVerbose)
        g_printerr("  %s%s: capacity %" G_GUINT64_FORMAT " backing '%s' (%s)%s, %u reads\n",
                   qvirStorageFileFormatTypeToString(format), withRead ? "" : " (no reads)",
                   (guint64)res.capacity, res.backingName ? res.backingName : "",
                   qvirStorageFileFormatTypeToString(res.backingFormat),
                   res.encrypted ? " encrypted" : "", res.extraReads);
    FUZZ_CHECK(res.extraReads == img->reads, "%u reads counted, %u made", res.extraReads,
               img->reads);
    FUZZ_CHECK(res.format == format, "parsed as %d, asked %d", res.format, format);
    FUZZ_CHECK(res.backingFormat >= QVIR_STORAGE_FILE_NONE &&
                   res.backingFormat < QVIR_STORAGE_FILE_LAST,
               "backing format %d", res.backingFormat);
    if (res.backingName)
        FUZZ_CHECK(strlen(res.backingName) < 65536, "backing name of absurd length");
    if (format == QVIR_STORAGE_FILE_RAW || format == QVIR_STORAGE_FILE_ISO)
        FUZZ_CHECK(res.capacity == img->fileSize && !res.backingName,
                   "raw/iso must be the file itself");
    qvirStorageProbeResultClear(&res);
    FUZZ_CHECK(res.backingName == NULL, "clear kept the name");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzzImage img;
    gsize hdrLen;
    g_autofree guint8 *hdr = NULL;
    g_autofree guint8 *shortHdr = NULL;
    qvirStorageFileFormat guessed;

    fuzzImageInit(&img, data, size);
    hdrLen = (gsize)MIN(img.fileSize, (guint64)QVIR_STORAGE_PROBE_HEADER_MAX);
    /* Exactly hdrLen bytes: a parser reading past the header trips ASan. */
    hdr = g_malloc(hdrLen ? hdrLen : 1);
    fuzzImageRead(&img, 0, hdr, hdrLen);

    guessed = qvirStorageProbeFormat(hdr, hdrLen);
    FUZZ_CHECK(guessed > QVIR_STORAGE_FILE_NONE && guessed < QVIR_STORAGE_FILE_LAST,
               "guessed format %d", guessed);

    img.guessed = guessed;
    if (fuzzVerbose)
        g_printerr("input of %zu bytes, file of %" G_GUINT64_FORMAT " bytes, guessed %s\n", size,
                   img.fileSize, qvirStorageFileFormatTypeToString(guessed));
    fuzzProbeOne(&img, guessed, hdr, hdrLen, TRUE);
    for (int f = QVIR_STORAGE_FILE_RAW; f < QVIR_STORAGE_FILE_LAST; f++) {
        if ((qvirStorageFileFormat)f == guessed)
            continue;
        fuzzProbeOne(&img, f, hdr, hdrLen, TRUE);
    }
    /* Without a callback, and with a short header that forces more extra reads. */
    fuzzProbeOne(&img, guessed, hdr, hdrLen, FALSE);
    shortHdr = g_memdup2(hdr, MIN(hdrLen, 512) ? MIN(hdrLen, 512) : 1);
    fuzzProbeOne(&img, guessed, shortHdr, MIN(hdrLen, 512), TRUE);
    fuzzProbeOne(&img, guessed, shortHdr, MIN(hdrLen, 512), FALSE);

    g_free(img.chunks);
    return 0;
}
