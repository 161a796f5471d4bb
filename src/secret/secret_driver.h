/*
 * secret_driver.h: libvirt's secrets: small values (passphrases, cephx keys, CHAP
 * passwords) that domains and pools name by UUID or by usage (type + id) instead of
 * carrying them in their XML.
 *
 * A persistent secret is kept as DIR/UUID.xml, its value as DIR/UUID.value encrypted
 * with AES-256-CBC under a key of the daemon's (DIR/secrets-encryption-key, mode 0600,
 * made on first open) and authenticated with HMAC-SHA256, so neither a copy of the
 * directory without the key nor a flipped bit yields a value. Ephemeral secrets live
 * in memory only. Every file is written atomically. One lock guards the driver.
 */
#pragma once

#include <glib.h>

#include "conf/secret_conf.h"

typedef struct _qvirSecretDriver qvirSecretDriver;

/* A secret as clients name it (libvirt's remote_nonnull_secret). */
typedef struct {
    guint8 uuid[16];
    int usageType; /* qvirSecretUsageType */
    char *usageID; /* "" for usage none, as libvirt sends it */
} qvirSecretRef;

void qvirSecretRefFree(qvirSecretRef *ref);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirSecretRef, qvirSecretRefFree);

/* libvirt's virConnectListAllSecretsFlags */
#define QVIR_CONNECT_LIST_SECRETS_EPHEMERAL (1u << 0)
#define QVIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL (1u << 1)
#define QVIR_CONNECT_LIST_SECRETS_PRIVATE (1u << 2)
#define QVIR_CONNECT_LIST_SECRETS_NO_PRIVATE (1u << 3)
/* libvirt's virSecretDefineFlags */
#define QVIR_SECRET_DEFINE_VALIDATE (1u << 0)

/* The largest value libvirt's protocol carries (REMOTE_SECRET_VALUE_MAX). */
#define QVIR_SECRET_VALUE_MAX 65536

/* libvirt's virSecretEventID and virSecretEventLifecycleType. */
typedef enum {
    QVIR_SECRET_EVENT_ID_LIFECYCLE = 0,
    QVIR_SECRET_EVENT_ID_VALUE_CHANGED = 1,
} qvirSecretEventID;
typedef enum {
    QVIR_SECRET_EVENT_DEFINED = 0,
    QVIR_SECRET_EVENT_UNDEFINED = 1,
} qvirSecretEventLifecycle;

/* Called after a change, without the driver's lock held: EVENTID with its EVENT (lifecycle
 * only; 0 for value changes). */
typedef void (*qvirSecretEventFunc)(const qvirSecretRef *secret, int eventID, int event,
                                    gpointer opaque);

/*
 * Open the driver over DIR (made 0700 when missing). A secret whose files cannot be read,
 * parsed or decrypted is logged (g_warning naming the file and why) and left out; only a
 * key file that exists but is not a key, or a directory that cannot be made, fails.
 */
qvirSecretDriver *qvirSecretDriverOpen(const char *dir, GError **error);
void qvirSecretDriverClose(qvirSecretDriver *drv);

/* At most one callback; NULL removes it. */
void qvirSecretDriverSetEventCallback(qvirSecretDriver *drv, qvirSecretEventFunc cb,
                                      gpointer opaque);

/* Number of secrets; their UUIDs as strings, sorted; refs of those FLAGS select, sorted by
 * UUID (NULL with an error for unknown flags). */
int qvirSecretNumOfSecrets(qvirSecretDriver *drv);
GPtrArray *qvirSecretListUUIDs(qvirSecretDriver *drv);
GPtrArray *qvirSecretListAll(qvirSecretDriver *drv, guint flags, GError **error);

qvirSecretRef *qvirSecretLookupByUUID(qvirSecretDriver *drv, const guint8 *uuid, GError **error);
qvirSecretRef *qvirSecretLookupByUsage(qvirSecretDriver *drv, int usageType, const char *usageID,
                                       GError **error);

/* Define (or, for an existing UUID, redefine) a secret from XML, as libvirt does: a
 * redefinition keeps the value and may not change the usage nor drop private; a new
 * UUID whose usage another secret has is refused. */
qvirSecretRef *qvirSecretDefineXML(qvirSecretDriver *drv, const char *xml, guint flags,
                                   GError **error);
gboolean qvirSecretUndefine(qvirSecretDriver *drv, const guint8 *uuid, GError **error);
char *qvirSecretGetXMLDesc(qvirSecretDriver *drv, const guint8 *uuid, guint flags, GError **error);

gboolean qvirSecretSetValue(qvirSecretDriver *drv, const guint8 *uuid, const guint8 *value,
                            gsize len, guint flags, GError **error);
/* The value for a client: refused for a private secret ("secret is private"). */
GBytes *qvirSecretGetValue(qvirSecretDriver *drv, const guint8 *uuid, guint flags, GError **error);

/*
 * The value for the daemon's own use (a disk's <auth>/<encryption> <secret>), private or
 * not. UUID (a string) selects the secret when given; otherwise USAGETYPE ("ceph",
 * "iscsi", "tls", "volume", "vtpm") and USAGEID do. Errors as libvirt words them
 * (QVIR_ERR_NO_SECRET: "no secret with matching uuid '...'", "... matching usage '...'",
 * "secret '...' does not have a value").
 */
GBytes *qvirSecretLookupValue(qvirSecretDriver *drv, const char *uuid, const char *usageType,
                              const char *usageID, GError **error);
