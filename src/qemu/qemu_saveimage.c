/*
 * qemu_saveimage.c: writing and reading qvirt's save images (qemu_saveimage.h).
 */
#include "qemu/qemu_saveimage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "util/virerror.h"

/* O_DIRECT needs buffers, offsets and lengths aligned to the logical block size; 4096
 * covers every device Linux has. */
#define QEMU_SAVE_ALIGN 4096u
#define QEMU_SAVE_BUFSIZE (1024u * 1024)
#define QEMU_SAVE_XML_OFFSET 512u
#define QEMU_SAVE_SHA_LEN 32u

static const char qemuSaveMagic[16] = "QvirtSaveImage\n";

/* The header as stored: big-endian fields at fixed offsets. */
enum {
    QEMU_SAVE_OFF_MAGIC = 0,
    QEMU_SAVE_OFF_VERSION = 16,   /* u32 */
    QEMU_SAVE_OFF_FLAGS = 20,     /* u32: bit 0 the guest was running */
    QEMU_SAVE_OFF_XMLLEN = 24,    /* u32 */
    QEMU_SAVE_OFF_BOOTVCPUS = 28, /* u32: vCPUs QEMU started with; 0 = all online ones */
    QEMU_SAVE_OFF_DATAOFF = 32,   /* u64 */
    QEMU_SAVE_OFF_DATALEN = 40,   /* u64 */
    QEMU_SAVE_OFF_XMLSUM = 48,    /* SHA-256 of the XML */
    QEMU_SAVE_OFF_DATASUM = 80,   /* SHA-256 of the data */
    QEMU_SAVE_OFF_HDRSUM = 112,   /* SHA-256 of bytes 0..111 */
    QEMU_SAVE_HEADER_LEN = 144,
};
#define QEMU_SAVE_FLAG_RUNNING 1u

static void
qemuSavePut32(guint8 *p, guint32 v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, 4);
}

static void
qemuSavePut64(guint8 *p, guint64 v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, 8);
}

static guint32
qemuSaveGet32(const guint8 *p)
{
    guint32 v;

    memcpy(&v, p, 4);
    return GUINT32_FROM_BE(v);
}

static guint64
qemuSaveGet64(const guint8 *p)
{
    guint64 v;

    memcpy(&v, p, 8);
    return GUINT64_FROM_BE(v);
}

static void
qemuSaveSha256(const guint8 *data, gsize len, guint8 *out)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    gsize outLen = QEMU_SAVE_SHA_LEN;

    g_checksum_update(sum, data, len);
    g_checksum_get_digest(sum, out, &outLen);
}

static guint64
qemuSaveRoundUp(guint64 n)
{
    return (n + QEMU_SAVE_ALIGN - 1) / QEMU_SAVE_ALIGN * QEMU_SAVE_ALIGN;
}

static guint8 *
qemuSaveAlignedAlloc(gsize len)
{
    void *p = NULL;

    if (posix_memalign(&p, QEMU_SAVE_ALIGN, len) != 0)
        g_error("out of memory allocating %zu aligned bytes", len);
    memset(p, 0, len);
    return p;
}

/* The errno of an O_DIRECT open, said in the user's terms. */
static void
qemuSaveOpenError(const char *path, int err, gboolean bypassCache, gboolean create, GError **error)
{
    struct statfs sfs;
    g_autofree char *dir = g_path_get_dirname(path);

    if (bypassCache && err == EINVAL) {
        const char *fs = "its";

        /* <linux/magic.h>: TMPFS_MAGIC, RAMFS_MAGIC */
        if (statfs(dir, &sfs) == 0 && sfs.f_type == 0x01021994)
            fs = "the tmpfs";
        else if (statfs(dir, &sfs) == 0 && (unsigned long)sfs.f_type == 0x858458f6ul)
            fs = "the ramfs";
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: cannot bypass the host cache for save image '%s': %s "
                    "filesystem does not support O_DIRECT",
                    path, fs);
        return;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Failed to %s file '%s': %s",
                create ? "create" : "open", path, g_strerror(err));
}

static gboolean
qemuSaveWriteAt(int fd, const guint8 *data, gsize len, guint64 off, const char *path,
                GError **error)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, data, len, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : EIO;

            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "unable to write save image '%s': %s", path, g_strerror(saved));
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
        off += (guint64)n;
    }
    return TRUE;
}

/* ---- writing ------------------------------------------------------------------------ */

struct _qemuSaveImageWriter {
    char *path;
    char *tmpPath;
    int fd;
    gboolean direct;
    gboolean committed;
    char *xml;
    gboolean running;
    guint32 bootVcpus;
    guint64 dataOffset;
    guint64 dataLen; /* bytes written to the file so far, beyond dataOffset */
    guint8 *buf;     /* aligned: data not yet written */
    gsize fill;
    GChecksum *dataSum;
};

void
qemuSaveImageWriterFree(qemuSaveImageWriter *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (!w->committed && w->tmpPath)
        unlink(w->tmpPath);
    g_free(w->path);
    g_free(w->tmpPath);
    g_free(w->xml);
    free(w->buf);
    if (w->dataSum)
        g_checksum_free(w->dataSum);
    g_free(w);
}

qemuSaveImageWriter *
qemuSaveImageWriterOpen(const char *path, const char *xml, gboolean running, guint32 bootVcpus,
                        gboolean bypassCache, GError **error)
{
    g_autoptr(qemuSaveImageWriter) w = g_new0(qemuSaveImageWriter, 1);
    gsize xmlLen = strlen(xml);
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;

    if (xmlLen > QEMU_SAVE_IMAGE_XML_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: invalid header data length: %zu", xmlLen);
        return NULL;
    }
    w->fd = -1;
    w->path = g_strdup(path);
    w->xml = g_strdup(xml);
    w->running = running;
    w->bootVcpus = bootVcpus;
    w->direct = bypassCache;
    w->dataOffset = qemuSaveRoundUp(QEMU_SAVE_XML_OFFSET + xmlLen);
    w->buf = qemuSaveAlignedAlloc(QEMU_SAVE_BUFSIZE);
    w->dataSum = g_checksum_new(G_CHECKSUM_SHA256);
    if (bypassCache)
        flags |= O_DIRECT;
    /* mkostemp cannot add O_DIRECT: pick the name ourselves, O_EXCL guards it */
    for (int tries = 0; w->fd < 0; tries++) {
        g_free(w->tmpPath);
        w->tmpPath = g_strdup_printf("%s.%08x", path, g_random_int());
        w->fd = open(w->tmpPath, flags, 0600);
        if (w->fd < 0 && (errno != EEXIST || tries > 16)) {
            int saved = errno;

            /* Linux creates the file before it finds that the filesystem refuses O_DIRECT;
             * O_EXCL made the name ours */
            if (saved == EINVAL && bypassCache)
                unlink(w->tmpPath);
            g_clear_pointer(&w->tmpPath, g_free);
            qemuSaveOpenError(path, saved, bypassCache, TRUE, error);
            return NULL;
        }
    }
    /* the header stays zero (no magic) until the commit */
    {
        guint8 *head = qemuSaveAlignedAlloc(w->dataOffset);
        gboolean ok;

        memcpy(head + QEMU_SAVE_XML_OFFSET, xml, xmlLen);
        ok = qemuSaveWriteAt(w->fd, head, w->dataOffset, 0, path, error);
        free(head);
        if (!ok)
            return NULL;
    }
    return g_steal_pointer(&w);
}

/* Write the full aligned part of the buffer (all of it when FINAL, padded to the alignment
 * under O_DIRECT; the padding is cut off at the commit). */
static gboolean
qemuSaveWriterFlush(qemuSaveImageWriter *w, gboolean final, GError **error)
{
    gsize len = final ? w->fill : w->fill / QEMU_SAVE_ALIGN * QEMU_SAVE_ALIGN;
    gsize writeLen = w->direct ? qemuSaveRoundUp(len) : len;

    if (len == 0)
        return TRUE;
    if (writeLen > len)
        memset(w->buf + len, 0, writeLen - len);
    if (!qemuSaveWriteAt(w->fd, w->buf, writeLen, w->dataOffset + w->dataLen, w->path, error))
        return FALSE;
    w->dataLen += len;
    memmove(w->buf, w->buf + len, w->fill - len);
    w->fill -= len;
    return TRUE;
}

gboolean
qemuSaveImageWriterWrite(qemuSaveImageWriter *w, const guint8 *data, gsize len, GError **error)
{
    g_checksum_update(w->dataSum, data, len);
    while (len > 0) {
        gsize n = MIN(len, QEMU_SAVE_BUFSIZE - w->fill);

        memcpy(w->buf + w->fill, data, n);
        w->fill += n;
        data += n;
        len -= n;
        if (w->fill == QEMU_SAVE_BUFSIZE && !qemuSaveWriterFlush(w, FALSE, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
qemuSaveImageWriterPump(qemuSaveImageWriter *w, int fd, GError **error)
{
    for (;;) {
        ssize_t n = read(fd, w->buf + w->fill, QEMU_SAVE_BUFSIZE - w->fill);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;

            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "unable to read the migration stream: %s", g_strerror(saved));
            return FALSE;
        }
        if (n == 0)
            return TRUE;
        g_checksum_update(w->dataSum, w->buf + w->fill, (gsize)n);
        w->fill += (gsize)n;
        if (w->fill == QEMU_SAVE_BUFSIZE && !qemuSaveWriterFlush(w, FALSE, error))
            return FALSE;
    }
}

static void
qemuSaveFsyncDir(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

gboolean
qemuSaveImageWriterCommit(qemuSaveImageWriter *w, GError **error)
{
    guint8 *head;
    gsize xmlLen = strlen(w->xml);
    gsize sumLen = QEMU_SAVE_SHA_LEN;
    gboolean ok;

    if (!qemuSaveWriterFlush(w, TRUE, error))
        return FALSE;
    /* O_DIRECT wrote the last block padded */
    if (ftruncate(w->fd, (off_t)(w->dataOffset + w->dataLen)) < 0 || fdatasync(w->fd) < 0) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "unable to sync save image '%s': %s",
                    w->path, g_strerror(saved));
        return FALSE;
    }

    head = qemuSaveAlignedAlloc(QEMU_SAVE_ALIGN);
    memcpy(head + QEMU_SAVE_OFF_MAGIC, qemuSaveMagic, sizeof(qemuSaveMagic));
    qemuSavePut32(head + QEMU_SAVE_OFF_VERSION, QEMU_SAVE_IMAGE_VERSION);
    qemuSavePut32(head + QEMU_SAVE_OFF_FLAGS, w->running ? QEMU_SAVE_FLAG_RUNNING : 0);
    qemuSavePut32(head + QEMU_SAVE_OFF_XMLLEN, (guint32)xmlLen);
    qemuSavePut32(head + QEMU_SAVE_OFF_BOOTVCPUS, w->bootVcpus);
    qemuSavePut64(head + QEMU_SAVE_OFF_DATAOFF, w->dataOffset);
    qemuSavePut64(head + QEMU_SAVE_OFF_DATALEN, w->dataLen);
    qemuSaveSha256((const guint8 *)w->xml, xmlLen, head + QEMU_SAVE_OFF_XMLSUM);
    g_checksum_get_digest(w->dataSum, head + QEMU_SAVE_OFF_DATASUM, &sumLen);
    qemuSaveSha256(head, QEMU_SAVE_OFF_HDRSUM, head + QEMU_SAVE_OFF_HDRSUM);
    memcpy(head + QEMU_SAVE_XML_OFFSET, w->xml,
           MIN(xmlLen, QEMU_SAVE_ALIGN - QEMU_SAVE_XML_OFFSET));
    ok = qemuSaveWriteAt(w->fd, head, QEMU_SAVE_ALIGN, 0, w->path, error);
    free(head);
    if (!ok)
        return FALSE;
    if (fdatasync(w->fd) < 0 || rename(w->tmpPath, w->path) < 0) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "unable to complete save image '%s': %s", w->path, g_strerror(saved));
        return FALSE;
    }
    w->committed = TRUE;
    qemuSaveFsyncDir(w->path);
    return TRUE;
}

/* ---- reading ------------------------------------------------------------------------ */

struct _qemuSaveImage {
    char *path;
    int fd;
    gboolean direct;
    char *xml;
    guint32 xmlLen;
    gboolean running;
    guint32 bootVcpus;
    guint64 dataOffset;
    guint64 dataLen;
    guint8 dataSum[QEMU_SAVE_SHA_LEN];
};

void
qemuSaveImageFree(qemuSaveImage *img)
{
    if (!img)
        return;
    if (img->fd >= 0)
        close(img->fd);
    g_free(img->path);
    g_free(img->xml);
    g_free(img);
}

static gboolean
qemuSaveReadAt(int fd, guint8 *buf, gsize len, guint64 off, gsize *got, const char *path,
               GError **error)
{
    *got = 0;
    while (*got < len) {
        ssize_t n = pread(fd, buf + *got, len - *got, (off_t)(off + *got));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;

            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "unable to read save image '%s': %s", path, g_strerror(saved));
            return FALSE;
        }
        if (n == 0)
            break;
        *got += (gsize)n;
    }
    return TRUE;
}

static gboolean
qemuSaveFail(GError **error, const char *msg)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "operation failed: %s", msg);
    return FALSE;
}

/* Check HEAD (QEMU_SAVE_ALIGN bytes read) and fill IMG's fields from it. */
static gboolean
qemuSaveParseHeader(qemuSaveImage *img, const guint8 *head, gsize got, guint64 fileSize,
                    GError **error)
{
    guint8 sum[QEMU_SAVE_SHA_LEN];
    guint32 version;
    guint32 xmlLen;

    if (got < QEMU_SAVE_HEADER_LEN)
        return qemuSaveFail(error, "failed to read qemu header");
    if (memcmp(head, qemuSaveMagic, sizeof(qemuSaveMagic)) != 0)
        return qemuSaveFail(error, "image magic is incorrect");
    version = qemuSaveGet32(head + QEMU_SAVE_OFF_VERSION);
    if (version > QEMU_SAVE_IMAGE_VERSION || version == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: image version is not supported (%u > %d)", version,
                    QEMU_SAVE_IMAGE_VERSION);
        return FALSE;
    }
    qemuSaveSha256(head, QEMU_SAVE_OFF_HDRSUM, sum);
    if (memcmp(sum, head + QEMU_SAVE_OFF_HDRSUM, sizeof(sum)) != 0)
        return qemuSaveFail(error, "save image header is corrupt");
    xmlLen = qemuSaveGet32(head + QEMU_SAVE_OFF_XMLLEN);
    img->dataOffset = qemuSaveGet64(head + QEMU_SAVE_OFF_DATAOFF);
    img->dataLen = qemuSaveGet64(head + QEMU_SAVE_OFF_DATALEN);
    img->bootVcpus = qemuSaveGet32(head + QEMU_SAVE_OFF_BOOTVCPUS);
    img->running = (qemuSaveGet32(head + QEMU_SAVE_OFF_FLAGS) & QEMU_SAVE_FLAG_RUNNING) != 0;
    memcpy(img->dataSum, head + QEMU_SAVE_OFF_DATASUM, sizeof(img->dataSum));
    if (xmlLen == 0 || xmlLen > QEMU_SAVE_IMAGE_XML_MAX ||
        img->dataOffset != qemuSaveRoundUp(QEMU_SAVE_XML_OFFSET + (guint64)xmlLen)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: invalid header data length: %u", xmlLen);
        return FALSE;
    }
    if (img->dataLen > G_MAXUINT64 - img->dataOffset || fileSize != img->dataOffset + img->dataLen)
        return qemuSaveFail(error, "save image is incomplete");
    img->xmlLen = xmlLen;
    img->xml = g_malloc0((gsize)xmlLen + 1);
    return TRUE;
}

qemuSaveImage *
qemuSaveImageOpen(const char *path, gboolean bypassCache, GError **error)
{
    g_autoptr(qemuSaveImage) img = g_new0(qemuSaveImage, 1);
    guint8 *buf = NULL;
    guint8 sum[QEMU_SAVE_SHA_LEN];
    struct stat st;
    gsize got = 0;
    gboolean ok;

    img->path = g_strdup(path);
    img->direct = bypassCache;
    img->fd = open(path, O_RDONLY | O_CLOEXEC | (bypassCache ? O_DIRECT : 0));
    if (img->fd < 0) {
        qemuSaveOpenError(path, errno, bypassCache, FALSE, error);
        return NULL;
    }
    if (fstat(img->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: '%s' is not a save image file", path);
        return NULL;
    }
    buf = qemuSaveAlignedAlloc(QEMU_SAVE_ALIGN);
    ok = qemuSaveReadAt(img->fd, buf, QEMU_SAVE_ALIGN, 0, &got, path, error) &&
         qemuSaveParseHeader(img, buf, got, (guint64)st.st_size, error);
    free(buf);
    if (!ok)
        return NULL;

    /* the XML region, read whole for O_DIRECT's sake (dataOffset covers XMLLEN: checked) */
    buf = qemuSaveAlignedAlloc((gsize)img->dataOffset);
    ok = qemuSaveReadAt(img->fd, buf, (gsize)img->dataOffset, 0, &got, path, error);
    if (ok && got != img->dataOffset)
        ok = qemuSaveFail(error, "failed to read domain XML");
    if (ok) {
        memcpy(img->xml, buf + QEMU_SAVE_XML_OFFSET, img->xmlLen);
        qemuSaveSha256((const guint8 *)img->xml, img->xmlLen, sum);
        if (memcmp(sum, buf + QEMU_SAVE_OFF_XMLSUM, sizeof(sum)) != 0 ||
            strlen(img->xml) != img->xmlLen)
            ok = qemuSaveFail(error, "failed to read domain XML: checksum mismatch");
    }
    free(buf);
    return ok ? g_steal_pointer(&img) : NULL;
}

const char *
qemuSaveImageGetXML(const qemuSaveImage *img)
{
    return img->xml;
}

gboolean
qemuSaveImageGetRunning(const qemuSaveImage *img)
{
    return img->running;
}

guint32
qemuSaveImageGetBootVcpus(const qemuSaveImage *img)
{
    return img->bootVcpus;
}

/* Hand each chunk of the data to FN. */
static gboolean
qemuSaveImageForEach(qemuSaveImage *img, gboolean (*fn)(const guint8 *, gsize, gpointer, GError **),
                     gpointer opaque, GError **error)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 digest[QEMU_SAVE_SHA_LEN];
    gsize digestLen = sizeof(digest);
    guint8 *buf = qemuSaveAlignedAlloc(QEMU_SAVE_BUFSIZE);
    guint64 done = 0;
    gboolean ok = TRUE;

    while (ok && done < img->dataLen) {
        gsize want = (gsize)MIN((guint64)QEMU_SAVE_BUFSIZE, img->dataLen - done);
        gsize got = 0;

        /* O_DIRECT reads whole blocks; the file ends inside the last one */
        ok = qemuSaveReadAt(img->fd, buf, img->direct ? qemuSaveRoundUp(want) : want,
                            img->dataOffset + done, &got, img->path, error);
        if (ok && got < want)
            ok = qemuSaveFail(error, "save image is incomplete");
        if (!ok)
            break;
        g_checksum_update(sum, buf, want);
        ok = fn(buf, want, opaque, error);
        done += want;
    }
    free(buf);
    if (!ok)
        return FALSE;
    g_checksum_get_digest(sum, digest, &digestLen);
    if (memcmp(digest, img->dataSum, sizeof(digest)) != 0)
        return qemuSaveFail(error, "save image data is corrupt (checksum mismatch)");
    return TRUE;
}

static gboolean
qemuSaveWriteFd(const guint8 *data, gsize len, gpointer opaque, GError **error)
{
    int fd = GPOINTER_TO_INT(opaque);

    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : EIO;

            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "unable to write the migration stream: %s", g_strerror(saved));
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

gboolean
qemuSaveImagePump(qemuSaveImage *img, int fd, GError **error)
{
    return qemuSaveImageForEach(img, qemuSaveWriteFd, GINT_TO_POINTER(fd), error);
}

static gboolean
qemuSaveWriteImage(const guint8 *data, gsize len, gpointer opaque, GError **error)
{
    return qemuSaveImageWriterWrite(opaque, data, len, error);
}

gboolean
qemuSaveImageRewrite(const char *path, const char *xml, gboolean running, guint32 bootVcpus,
                     GError **error)
{
    g_autoptr(qemuSaveImage) img = NULL;
    g_autoptr(qemuSaveImageWriter) w = NULL;

    if (!(img = qemuSaveImageOpen(path, FALSE, error)) ||
        !(w = qemuSaveImageWriterOpen(path, xml, running, bootVcpus, FALSE, error)))
        return FALSE;
    return qemuSaveImageForEach(img, qemuSaveWriteImage, w, error) &&
           qemuSaveImageWriterCommit(w, error);
}
