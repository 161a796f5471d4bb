/*
 * storage_file.h: the filesystem side of dir and fs pools, for the storage driver: a
 * pool's directory (made, mounted, unmounted), its files read as volumes (one open, fstat
 * and header read each), and images made the way libvirt makes them (raw files itself,
 * the rest with qemu-img). Nothing here keeps state or takes the driver's lock.
 */
#pragma once

#include <glib.h>
#include <sys/stat.h>

#include "conf/storage_pool_conf.h"
#include "conf/storage_vol_conf.h"

/* ERROR: "MESSAGE: strerror(ERR)", QVIR_ERR_SYSTEM_ERROR. */
void qvirStorageErrSystem(GError **error, int err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* ---- pools ---- */
/* The target directory must exist; an fs pool's device is mounted there if it is not. */
gboolean qvirStoragePoolBackendStart(const qvirStoragePoolDef *def, GError **error);
/* An fs pool's target is unmounted; nothing for dir. */
gboolean qvirStoragePoolBackendStop(const qvirStoragePoolDef *def, GError **error);
/* The target directory with DEF's mode (0711) and owner; an fs pool's filesystem made anew
 * only with QVIR_STORAGE_POOL_BUILD_OVERWRITE (storage_driver.h). */
gboolean qvirStoragePoolBackendBuild(const qvirStoragePoolDef *def, guint flags, GError **error);
/* MODE, owner and group of the file or directory SB. */
void qvirStorageStatPerms(const struct stat *sb, qvirStoragePerms *perms);

/* The format of the image at PATH guessed from its header, one layer, never followed
 * further (libvirt's virStorageFileProbeFormat): raw when no magic matches, NONE when it
 * cannot be read; SBOUT, when given, gets its fstat. For what the user names and vouches
 * for (a volume shown, a reused copy destination), never to trust a backing name. */
qvirStorageFileFormat qvirStorageProbeFileFormat(const char *path, struct stat *sbOut);

/* ---- volumes ---- */
/* The file DIR/NAME as a volume (format, sizes, permissions, times, the backing file it
 * records); NULL when it is no regular readable file. */
qvirStorageVolDef *qvirStorageVolProbe(const char *dir, const char *name);
/* Fill in VOL's backing file's permissions and times (the volume XML shows them). */
void qvirStorageVolStatBacking(qvirStorageVolDef *vol);

/* DEF as a raw file of its capacity with its allocation preallocated, mode 0600. */
gboolean qvirStorageCreateRaw(const qvirStorageVolDef *def, GError **error);
/* DEF (or a copy of INPUT, converted) with QEMUIMG, as libvirt builds the command; a
 * relative backing name resolves in POOLDIR. FLAGS: QVIR_STORAGE_VOL_CREATE_PREALLOC_METADATA. */
gboolean qvirStorageCreateQemuImg(const char *qemuImg, const char *poolDir,
                                  const qvirStorageVolDef *def, const qvirStorageVolDef *input,
                                  guint flags, GError **error);
/* DEF's <permissions> on the new file (default 0600); the file is removed on failure. */
gboolean qvirStorageVolApplyPerms(const qvirStorageVolDef *def, GError **error);
