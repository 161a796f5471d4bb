/*
 * virfile.h: file helpers shared by every layer.
 */
#pragma once

#include <glib.h>

/*
 * Replace PATH with DATA atomically: write a temporary file in the same
 * directory, fsync it, rename it over PATH, fsync the directory. On failure
 * PATH is untouched and no temporary file is left behind.
 */
gboolean qvirFileWriteAtomic(const char *path, const char *data, gsize len, int mode,
                             GError **error);

/* Write all LEN bytes of DATA to FD, retrying on EINTR and short writes. FALSE with errno
 * set when a write fails. */
gboolean qvirFileWriteAll(int fd, const char *data, gsize len);

/* g_mkdir_with_parents with a GError naming the directory (QVIR_ERR_SYSTEM_ERROR). */
gboolean qvirFileMakeDirs(const char *path, int mode, GError **error);

/* Resolve NAME relative to the directory holding BASE_PATH (absolute NAME is returned as is). */
char *qvirFileResolveRelative(const char *basePath, const char *name);

/* For a forked child that fails before it execs: write "HEAD STEP 'PATH' failed, errno N"
 * (no PATH part when PATH is NULL) to stderr and _exit(127). Async-signal-safe: no
 * stdio, no allocation. */
void qvirFileChildFail(const char *head, const char *step, const char *path) G_GNUC_NORETURN;
