/*
 * storage_run.h: running the storage tools (qemu-img, mkfs, mount, rbd, iscsi-ls), the one
 * place the storage layer spawns a child and waits for it.
 */
#pragma once

#include <glib.h>

/* Run ARGV (searched in PATH) and wait for it. ENVP ("NAME=VALUE", later ones winning; NULL:
 * none) is added to the daemon's environment. *OUT and *ERR, when wanted, get its stdout and
 * stderr, *STATUS (when wanted) its wait status. FALSE only when it cannot be started: ERROR is
 * then GLib's own spawn error, for the caller to word. */
gboolean qvirStorageSpawn(const char *const *argv, const char *const *envp, char **out, char **err,
                          int *status, GError **error);

/* qvirStorageSpawn, with libvirt's words when ARGV cannot be started. */
gboolean qvirStorageRunCapture(const char *const *argv, const char *const *envp, char **out,
                               char **err, int *status, GError **error);

/* Run ARGV (searched in PATH); its stderr in the error when it fails, libvirt's words. */
gboolean qvirStorageRun(const char *const *argv, GError **error);
