#include "virfile.h"
#include "virerror.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

gboolean
qvirFileWriteAll(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

gboolean
qvirFileWriteAtomic(const char *path, const char *data, gsize len, int mode, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *tmpl = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
    int fd;
    int saved;

    if ((fd = g_mkstemp_full(tmpl, O_WRONLY | O_CLOEXEC, mode)) < 0) {
        saved = errno;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_WRITE_FAILED,
                    "cannot create temporary file for '%s': %s", path, g_strerror(saved));
        return FALSE;
    }
    if (fchmod(fd, mode) < 0 || !qvirFileWriteAll(fd, data, len) || fsync(fd) < 0) {
        saved = errno;
        close(fd);
        unlink(tmpl);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_WRITE_FAILED, "cannot write '%s': %s", path,
                    g_strerror(saved));
        return FALSE;
    }
    if (close(fd) < 0) {
        saved = errno;
        unlink(tmpl);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_WRITE_FAILED, "cannot write '%s': %s", path,
                    g_strerror(saved));
        return FALSE;
    }
    /* renameat: the same rename, and tracers that match the target (strace -P) see it */
    if (renameat(AT_FDCWD, tmpl, AT_FDCWD, path) < 0) {
        saved = errno;
        unlink(tmpl);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_WRITE_FAILED, "cannot rename '%s' to '%s': %s",
                    tmpl, path, g_strerror(saved));
        return FALSE;
    }
    /* The rename is durable only once the directory entry is on disk. */
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    return TRUE;
}

gboolean
qvirFileMakeDirs(const char *path, int mode, GError **error)
{
    if (g_mkdir_with_parents(path, mode) < 0) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create directory '%s': %s",
                    path, g_strerror(saved));
        return FALSE;
    }
    return TRUE;
}

char *
qvirFileResolveRelative(const char *basePath, const char *name)
{
    g_autofree char *dir = NULL;

    if (g_path_is_absolute(name))
        return g_strdup(name);
    dir = g_path_get_dirname(basePath);
    return g_build_filename(dir, name, NULL);
}

void
qvirFileChildFail(const char *head, const char *step, const char *path)
{
    char num[16];
    int err = errno;
    int i = (int)sizeof(num);

    num[--i] = '\n';
    do {
        num[--i] = (char)('0' + err % 10);
        err /= 10;
    } while (err && i > 0);
    (void)!write(STDERR_FILENO, head, strlen(head));
    (void)!write(STDERR_FILENO, step, strlen(step));
    if (path) {
        (void)!write(STDERR_FILENO, " '", 2);
        (void)!write(STDERR_FILENO, path, strlen(path));
        (void)!write(STDERR_FILENO, "'", 1);
    }
    (void)!write(STDERR_FILENO, " failed, errno ", 15);
    (void)!write(STDERR_FILENO, num + i, sizeof(num) - (size_t)i);
    _exit(127);
}
