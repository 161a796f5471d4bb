/*
 * storage_vol_conf.h: libvirt's storage volume XML (storagevol.rng) for file volumes:
 * what a client asks to create (parse, validate) and what the driver reports (format).
 * The live values (allocation, physical, timestamps, the backing store the image
 * records) are filled by the driver from the image itself.
 */
#pragma once

#include <glib.h>

#include "conf/storage_pool_conf.h"
#include "conf/storage_source_conf.h"

typedef struct {
    gint64 sec;
    long nsec;
} qvirStorageTimestamp;

/* libvirt's virStorageVolType, as far as qvirt's pools have them. */
typedef enum {
    QVIR_STORAGE_VOL_FILE = 0,
    QVIR_STORAGE_VOL_NETWORK = 3,
} qvirStorageVolType;

typedef struct {
    qvirStorageVolType type;
    gboolean formatHidden; /* iscsi-direct LUNs have no <format> in libvirt's XML */
    char *name;
    char *key;
    guint64 capacity;
    gboolean capacitySet;
    guint64 allocation;
    gboolean allocationSet;
    guint64 physical; /* live only; 0 = not shown */

    char *targetPath;
    qvirStorageFileFormat format; /* NONE: not given (raw when created) */
    qvirStoragePerms perms;
    char *compat;           /* qcow2 "0.10" / "1.1"; NULL: default (1.1) */
    guint64 clusterSize;    /* bytes; 0: not given */
    gboolean lazyRefcounts; /* <features><lazy_refcounts/> */
    gboolean featuresShown; /* format <features/> (a qcow2 v3 image) */
    gboolean nocow;

    char *backingPath; /* <backingStore><path>; NULL: none */
    qvirStorageFileFormat backingFormat;
    qvirStoragePerms backingPerms;            /* live */
    gboolean timestampsSet;                   /* live */
    qvirStorageTimestamp atime, mtime, ctime; /* of the target */
    gboolean backingTimestampsSet;
    qvirStorageTimestamp batime, bmtime, bctime;
} qvirStorageVolDef;

void qvirStorageVolDefFree(qvirStorageVolDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirStorageVolDef, qvirStorageVolDefFree);

/* XML -> definition, syntax only, libvirt's messages. */
qvirStorageVolDef *qvirStorageVolDefParseString(const char *xml, GError **error);

/* Semantics for creating DEF in a pool: a capacity (unless cloning: CLONE), a name
 * without '/', the features only qcow2 has. */
gboolean qvirStorageVolDefValidate(const qvirStorageVolDef *def, gboolean clone, GError **error);

/* libvirt's layout, two-space indent, trailing newline. Never fails. */
char *qvirStorageVolDefFormat(const qvirStorageVolDef *def);
