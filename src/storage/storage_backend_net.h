/*
 * storage_backend_net.h: storage pools whose volumes live on network storage (rbd,
 * iscsi-direct). qvirt links no storage client library: each backend runs the storage's
 * own command-line tools (Ceph's rbd/rados, libiscsi's iscsi-ls/iscsi-readcapacity16) and
 * reads their output. Credentials never appear on a command line: a cephx key goes in a
 * 0600 file in a private directory that is removed right after, a CHAP password in the
 * child's environment (LIBISCSI_CHAP_PASSWORD, which libiscsi reads).
 */
#pragma once

#include <glib.h>

#include "conf/storage_pool_conf.h"
#include "conf/storage_vol_conf.h"
#include "secret/secret_driver.h"

typedef struct {
    /* Fill VOLS (qvirStorageVolDef) with the pool's volumes and set DEF's capacity,
     * allocation and available. Fails when the storage cannot be reached. */
    gboolean (*refresh)(qvirStoragePoolDef *def, qvirSecretDriver *secrets, GPtrArray *vols,
                        GError **error);
    /* NULL: the pool type cannot make or remove volumes (libvirt's words then). */
    gboolean (*createVol)(const qvirStoragePoolDef *def, qvirSecretDriver *secrets,
                          const qvirStorageVolDef *vol, GError **error);
    gboolean (*deleteVol)(const qvirStoragePoolDef *def, qvirSecretDriver *secrets,
                          const qvirStorageVolDef *vol, GError **error);
} qvirStorageNetBackend;

extern const qvirStorageNetBackend qvirStorageBackendRBD;
extern const qvirStorageNetBackend qvirStorageBackendISCSIDirect;

/* The backend of a network pool TYPE, NULL for local pools. */
const qvirStorageNetBackend *qvirStorageNetBackendFor(qvirStoragePoolType type);

/* ---- shared by the backends ---- */

/* qvirStorageRunCapture (storage_run.h) in the C locale, whose messages the backends parse:
 * ENVP is added after LC_ALL=C; stderr is always captured, *ERR gets it when wanted. */
gboolean qvirStorageNetRun(const char *const *argv, const char *const *envp, char **out, char **err,
                           int *status, GError **error);

/* The value of DEF's <auth> secret, as the secrets driver holds it; USAGETYPE is what
 * a usage= lookup means ("ceph", "iscsi"). */
GBytes *qvirStorageNetSecretValue(const qvirStoragePoolDef *def, qvirSecretDriver *secrets,
                                  const char *usageType, GError **error);

/* The last non-empty line of TEXT (a tool's stderr), for error messages. */
char *qvirStorageNetLastLine(const char *text);

/* A raw volume of a network pool: NAME, with KEY also its path; the owner and mode are
 * unknown (no <permissions>, as libvirt shows them). */
qvirStorageVolDef *qvirStorageNetVolNew(const char *name, const char *key);
