/*
 * storage_file.c: the filesystem side of dir and fs pools (storage_file.h).
 */
#include "storage/storage_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "storage/storage_driver.h" /* the API flags */
#include "storage/storage_probe.h"
#include "storage/storage_run.h"
#include "util/virerror.h"
#include "util/virfile.h"

/* libvirt's defaults for what it creates: pool directories 0711, volumes 0600 */
#define QVIR_STORAGE_POOL_DIR_MODE 0711
#define QVIR_STORAGE_VOL_MODE 0600

void
qvirStorageErrSystem(GError **error, int err, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "%s: %s", msg, g_strerror(err));
}

static void
qvirStorageStatTimes(const struct stat *sb, qvirStorageTimestamp *a, qvirStorageTimestamp *m,
                     qvirStorageTimestamp *c)
{
    a->sec = sb->st_atim.tv_sec;
    a->nsec = sb->st_atim.tv_nsec;
    m->sec = sb->st_mtim.tv_sec;
    m->nsec = sb->st_mtim.tv_nsec;
    c->sec = sb->st_ctim.tv_sec;
    c->nsec = sb->st_ctim.tv_nsec;
}

void
qvirStorageStatPerms(const struct stat *sb, qvirStoragePerms *perms)
{
    perms->mode = sb->st_mode & 07777;
    perms->owner = sb->st_uid;
    perms->group = sb->st_gid;
}

/* Up to LEN bytes of PATH's start into BUF; -1 when it cannot be read. */
static gssize
qvirStorageReadHeader(int fd, guint8 *buf, gsize len)
{
    gsize got = 0;

    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += n;
    }
    return (gssize)got;
}

/* The qcow2 header fields libvirt shows (compat, cluster size, lazy refcounts):
 * version @4, cluster_bits @20, compatible features @80 (v3). */
static void
qvirStorageVolQcow2Details(const guint8 *buf, gsize len, qvirStorageVolDef *vol)
{
    guint32 version, bits;

    if (len < 24)
        return;
    version = GUINT32_FROM_BE(*(const guint32 *)(const void *)(buf + 4));
    bits = GUINT32_FROM_BE(*(const guint32 *)(const void *)(buf + 20));
    /* libvirt names the compat level of version 3 images only */
    if (version >= 3)
        vol->compat = g_strdup("1.1");
    if (bits >= 9 && bits <= 21)
        vol->clusterSize = 1ull << bits;
    if (version >= 3 && len >= 88) {
        guint64 compatible = GUINT64_FROM_BE(*(const guint64 *)(const void *)(buf + 80));

        vol->featuresShown = TRUE;
        vol->lazyRefcounts = (compatible & 1) != 0;
    }
}

qvirStorageFileFormat
qvirStorageProbeFileFormat(const char *path, struct stat *sbOut)
{
    guint8 buf[QVIR_STORAGE_PROBE_HEADER_MAX];
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    gssize n;

    if (fd < 0)
        return QVIR_STORAGE_FILE_NONE;
    if (sbOut && fstat(fd, sbOut) < 0) {
        close(fd);
        return QVIR_STORAGE_FILE_NONE;
    }
    n = qvirStorageReadHeader(fd, buf, sizeof(buf));
    close(fd);
    return n < 0 ? QVIR_STORAGE_FILE_NONE : qvirStorageProbeFormat(buf, (gsize)n);
}

/* The backing file's permissions and times, which only the volume XML shows: read when
 * the XML is asked for, so a refresh opens nothing but the volumes themselves. */
void
qvirStorageVolStatBacking(qvirStorageVolDef *vol)
{
    struct stat bsb;

    if (!vol->backingPath)
        return;
    if (stat(vol->backingPath, &bsb) == 0) {
        qvirStorageStatPerms(&bsb, &vol->backingPerms);
        vol->backingTimestampsSet = TRUE;
        qvirStorageStatTimes(&bsb, &vol->batime, &vol->bmtime, &vol->bctime);
    } else {
        vol->backingPerms.mode = -1;
        vol->backingPerms.owner = vol->backingPerms.group = -1;
        vol->backingTimestampsSet = FALSE;
    }
}

/* The volume DIR/NAME as the pool shows it; NULL when it is no volume (not a regular
 * file, unreadable). One open, fstat and (usually) one 4 KiB read: the whole probe
 * header only when the first block does not name a format that fits in it (a raw file
 * may still be an ISO, whose magic is at 32769). */
qvirStorageVolDef *
qvirStorageVolProbe(const char *dir, const char *name)
{
    g_autoptr(qvirStorageVolDef) vol = g_new0(qvirStorageVolDef, 1);
    guint8 buf[QVIR_STORAGE_PROBE_HEADER_MAX];
    qvirStorageProbeResult res = {0};
    qvirStorageProbeInput in = {0};
    struct stat sb;
    gssize n;
    int fd;

    vol->name = g_strdup(name);
    vol->targetPath = g_build_filename(dir, name, NULL);
    vol->key = g_strdup(vol->targetPath);
    vol->backingPerms.mode = -1;
    vol->backingPerms.owner = vol->backingPerms.group = -1;
    fd = open(vol->targetPath, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
        (n = qvirStorageReadHeader(fd, buf, 4096)) < 0) {
        close(fd);
        return NULL;
    }
    vol->format = qvirStorageProbeFormat(buf, (gsize)n);
    if (n == 4096 && qvirStorageProbeHeaderHint(vol->format) > 4096 &&
        (n = qvirStorageReadHeader(fd, buf, sizeof(buf))) >= 0)
        vol->format = qvirStorageProbeFormat(buf, (gsize)n);
    if (n < 0) {
        close(fd);
        return NULL;
    }

    vol->physical = sb.st_size;
    vol->allocation = (guint64)sb.st_blocks * 512;
    vol->capacity = sb.st_size;
    qvirStorageStatPerms(&sb, &vol->perms);
    vol->timestampsSet = TRUE;
    qvirStorageStatTimes(&sb, &vol->atime, &vol->mtime, &vol->ctime);

    in.path = vol->targetPath;
    in.buf = buf;
    in.len = (gsize)n;
    in.fileSize = sb.st_size;
    if (vol->format != QVIR_STORAGE_FILE_RAW && vol->format != QVIR_STORAGE_FILE_ISO &&
        !qvirStorageProbeParse(vol->format, &in, &res, NULL) && res.headerShort &&
        (n = qvirStorageReadHeader(fd, buf, sizeof(buf))) >= 0) {
        in.len = (gsize)n;
        qvirStorageProbeParse(vol->format, &in, &res, NULL);
    }
    close(fd);
    if (res.capacity)
        vol->capacity = res.capacity;
    if (res.backingName) {
        vol->backingPath = qvirFileResolveRelative(vol->targetPath, res.backingName);
        vol->backingFormat = res.backingFormat;
        /* As libvirt: an unrecorded backing format is probed for the report (one layer,
         * nothing below it is opened); raw when it cannot be read. */
        if (vol->backingFormat == QVIR_STORAGE_FILE_NONE || res.backingFormatProbe)
            vol->backingFormat = qvirStorageProbeFileFormat(vol->backingPath, NULL);
        if (vol->backingFormat == QVIR_STORAGE_FILE_NONE)
            vol->backingFormat = QVIR_STORAGE_FILE_RAW;
    }
    qvirStorageProbeResultClear(&res);
    if (vol->format == QVIR_STORAGE_FILE_QCOW2)
        qvirStorageVolQcow2Details(buf, (gsize)in.len, vol);
    return g_steal_pointer(&vol);
}

static gboolean
qvirStorageIsMounted(const char *target)
{
    g_autofree char *mounts = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents("/proc/self/mounts", &mounts, NULL, NULL))
        return FALSE;
    lines = g_strsplit(mounts, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(lines[i], " ", 3);

        if (f[0] && f[1] && g_str_equal(f[1], target))
            return TRUE;
    }
    return FALSE;
}

gboolean
qvirStoragePoolBackendStart(const qvirStoragePoolDef *def, GError **error)
{
    /* network pools have nothing to mount: refreshing them reaches the storage */
    if (qvirStoragePoolTypeIsNetwork(def->type))
        return TRUE;

    if (!g_file_test(def->targetPath, G_FILE_TEST_IS_DIR)) {
        qvirStorageErrSystem(error,
                             g_file_test(def->targetPath, G_FILE_TEST_EXISTS) ? ENOTDIR : ENOENT,
                             "cannot open directory '%s'", def->targetPath);
        return FALSE;
    }
    if (def->type == QVIR_STORAGE_POOL_FS && !qvirStorageIsMounted(def->targetPath)) {
        const char *fmt = qvirStoragePoolFsFormatTypeToString(def->sourceFormat);
        g_autoptr(GPtrArray) argv = g_ptr_array_new();

        if (!g_file_test(def->sourceDevice, G_FILE_TEST_EXISTS)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "invalid argument: Source device does not exist when mounting '%s'",
                        def->targetPath);
            return FALSE;
        }
        g_ptr_array_add(argv, (char *)"mount");
        if (def->sourceFormatSet && def->sourceFormat != QVIR_STORAGE_POOL_FS_AUTO) {
            g_ptr_array_add(argv, (char *)"-t");
            g_ptr_array_add(argv, (char *)fmt);
        }
        g_ptr_array_add(argv, def->sourceDevice);
        g_ptr_array_add(argv, def->targetPath);
        g_ptr_array_add(argv, NULL);
        if (!qvirStorageRun((const char *const *)argv->pdata, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
qvirStoragePoolBackendStop(const qvirStoragePoolDef *def, GError **error)
{
    const char *argv[] = {"umount", def->targetPath, NULL};

    if (def->type != QVIR_STORAGE_POOL_FS || !qvirStorageIsMounted(def->targetPath))
        return TRUE; /* dir and network pools: nothing to undo */
    return qvirStorageRun(argv, error);
}

gboolean
qvirStoragePoolBackendBuild(const qvirStoragePoolDef *def, guint flags, GError **error)
{
    int mode = def->perms.mode >= 0 ? def->perms.mode : QVIR_STORAGE_POOL_DIR_MODE;

    /* as libvirt: pools without a build step build by doing nothing */
    if (qvirStoragePoolTypeIsNetwork(def->type))
        return TRUE;

    if ((flags & QVIR_STORAGE_POOL_BUILD_OVERWRITE) &&
        (flags & QVIR_STORAGE_POOL_BUILD_NO_OVERWRITE)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: Overwrite and no overwrite flags "
                            "are mutually exclusive");
        return FALSE;
    }
    if (g_mkdir_with_parents(def->targetPath, mode) < 0) {
        qvirStorageErrSystem(error, errno, "cannot create path '%s'", def->targetPath);
        return FALSE;
    }
    if (g_chmod(def->targetPath, mode) < 0) {
        qvirStorageErrSystem(error, errno, "cannot set mode of '%s' to %04o", def->targetPath,
                             mode);
        return FALSE;
    }
    if ((def->perms.owner >= 0 || def->perms.group >= 0) &&
        chown(def->targetPath, (uid_t)def->perms.owner, (gid_t)def->perms.group) < 0) {
        qvirStorageErrSystem(error, errno, "cannot chown '%s' to (%d, %d)", def->targetPath,
                             (int)def->perms.owner, (int)def->perms.group);
        return FALSE;
    }
    /* fs: a new filesystem only when asked to overwrite, as libvirt does */
    if (def->type == QVIR_STORAGE_POOL_FS && (flags & QVIR_STORAGE_POOL_BUILD_OVERWRITE)) {
        const char *fmt = def->sourceFormatSet && def->sourceFormat != QVIR_STORAGE_POOL_FS_AUTO
                              ? qvirStoragePoolFsFormatTypeToString(def->sourceFormat)
                              : "ext4";
        const char *argv[] = {"mkfs", "-t", fmt, "-F", def->sourceDevice, NULL};

        if (!g_str_has_prefix(fmt, "ext"))
            argv[3] = def->sourceDevice, argv[4] = NULL;
        return qvirStorageRun(argv, error);
    }
    return TRUE;
}

/* A raw file of DEF's capacity, sparse except for DEF's allocation (libvirt writes raw
 * volumes itself and preallocates what <allocation> asks for). */
gboolean
qvirStorageCreateRaw(const qvirStorageVolDef *def, GError **error)
{
    int fd = open(def->targetPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, QVIR_STORAGE_VOL_MODE);
    guint64 alloc = MIN(def->allocation, def->capacity);

    if (fd < 0) {
        qvirStorageErrSystem(error, errno, "cannot create path '%s'", def->targetPath);
        return FALSE;
    }
    if (ftruncate(fd, (off_t)def->capacity) < 0 ||
        (alloc && posix_fallocate(fd, 0, (off_t)alloc) != 0) || fsync(fd) < 0) {
        int saved = errno;

        close(fd);
        g_unlink(def->targetPath);
        qvirStorageErrSystem(error, saved,
                             "cannot allocate %" G_GUINT64_FORMAT " bytes in file '%s'", alloc,
                             def->targetPath);
        return FALSE;
    }
    close(fd);
    return TRUE;
}

/* qemu-img create/convert for DEF as libvirt builds the command: "-o" with backing_fmt,
 * preallocation, compat (0.10 when not asked, as libvirt), cluster_size, lazy_refcounts. */
gboolean
qvirStorageCreateQemuImg(const char *qemuImg, const char *poolDir, const qvirStorageVolDef *def,
                         const qvirStorageVolDef *input, guint flags, GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) opts = g_string_new(NULL);
    g_autofree char *backing = NULL;
    qvirStorageFileFormat fmt = def->format;
    qvirStorageFileFormat backingFmt = def->backingFormat;
    gboolean prealloc = (flags & QVIR_STORAGE_VOL_CREATE_PREALLOC_METADATA) != 0;
    guint64 size = def->capacity;

    if (prealloc && fmt != QVIR_STORAGE_FILE_QCOW2) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: metadata preallocation only available "
                            "with qcow2");
        return FALSE;
    }
    if (def->backingPath && !input) {
        if (prealloc) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                                "unsupported configuration: metadata preallocation conflicts "
                                "with backing store");
            return FALSE;
        }
        backing = def->backingPath[0] == '/' ? g_strdup(def->backingPath)
                                             : g_build_filename(poolDir, def->backingPath, NULL);
        if (access(backing, R_OK) < 0) {
            qvirStorageErrSystem(error, errno, "inaccessible backing store volume %s",
                                 def->backingPath);
            return FALSE;
        }
        if (backingFmt == QVIR_STORAGE_FILE_NONE) {
            /* as libvirt: the format the backing image's header shows */
            backingFmt = qvirStorageProbeFileFormat(backing, NULL);
            if (backingFmt == QVIR_STORAGE_FILE_NONE)
                backingFmt = QVIR_STORAGE_FILE_RAW;
        }
        g_string_append_printf(opts, "backing_fmt=%s,",
                               qvirStorageFileFormatTypeToString(backingFmt));
    }
    if (prealloc)
        g_string_append(opts, def->capacity > def->allocation ? "preallocation=metadata,"
                                                              : "preallocation=falloc,");
    if (def->nocow)
        g_string_append(opts, "nocow=on,");
    if (def->compat)
        g_string_append_printf(opts, "compat=%s,", def->compat);
    else if (fmt == QVIR_STORAGE_FILE_QCOW2)
        g_string_append(opts, "compat=0.10,");
    if (def->clusterSize)
        g_string_append_printf(opts, "cluster_size=%" G_GUINT64_FORMAT ",", def->clusterSize);
    if (def->lazyRefcounts) {
        if (!def->compat || g_str_equal(def->compat, "0.10")) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported configuration: lazy_refcounts not supported with compat "
                        "level %s",
                        def->compat ? def->compat : "0.10");
            return FALSE;
        }
        g_string_append(opts, "lazy_refcounts,");
    }
    if (opts->len)
        g_string_truncate(opts, opts->len - 1);

    g_ptr_array_add(argv, g_strdup(qemuImg));
    if (input) {
        g_ptr_array_add(argv, g_strdup("convert"));
        g_ptr_array_add(argv, g_strdup("-f"));
        g_ptr_array_add(argv, g_strdup(qvirStorageFileFormatTypeToString(
                                  input->format ? input->format : QVIR_STORAGE_FILE_RAW)));
        g_ptr_array_add(argv, g_strdup("-O"));
    } else {
        g_ptr_array_add(argv, g_strdup("create"));
        g_ptr_array_add(argv, g_strdup("-f"));
    }
    g_ptr_array_add(argv, g_strdup(qvirStorageFileFormatTypeToString(fmt)));
    if (backing) {
        g_ptr_array_add(argv, g_strdup("-b"));
        g_ptr_array_add(argv, g_strdup(def->backingPath));
    }
    if (opts->len) {
        g_ptr_array_add(argv, g_strdup("-o"));
        g_ptr_array_add(argv, g_strdup(opts->str));
    }
    if (input)
        g_ptr_array_add(argv, g_strdup(input->targetPath));
    g_ptr_array_add(argv, g_strdup(def->targetPath));
    if (!input && (size || !backing))
        g_ptr_array_add(argv, g_strdup_printf("%" G_GUINT64_FORMAT "K", (size + 1023) / 1024));
    g_ptr_array_add(argv, NULL);
    if (!qvirStorageRun((const char *const *)argv->pdata, error)) {
        g_unlink(def->targetPath);
        return FALSE;
    }
    return TRUE;
}

/* Owner and mode of a new volume: what <permissions> asks, else 0600 and the daemon's. */
gboolean
qvirStorageVolApplyPerms(const qvirStorageVolDef *def, GError **error)
{
    int mode = def->perms.mode >= 0 ? def->perms.mode : QVIR_STORAGE_VOL_MODE;

    if (g_chmod(def->targetPath, mode) < 0 ||
        ((def->perms.owner >= 0 || def->perms.group >= 0) &&
         chown(def->targetPath, (uid_t)def->perms.owner, (gid_t)def->perms.group) < 0)) {
        int saved = errno;

        g_unlink(def->targetPath);
        qvirStorageErrSystem(error, saved, "cannot set permissions of '%s'", def->targetPath);
        return FALSE;
    }
    return TRUE;
}
