/*
 * secret_conf.h: libvirt's secret XML (secret.rng): <secret ephemeral= private=> with
 * <uuid>, <description> and <usage type=...> naming what the secret is for. Parse
 * (syntax), validate (what each usage type needs) and format are apart, as for pools.
 */
#pragma once

#include <glib.h>

#include "util/virenum.h"

/* libvirt's virSecretUsageType, in its order (the numbers travel on the wire). */
typedef enum {
    QVIR_SECRET_USAGE_NONE = 0,
    QVIR_SECRET_USAGE_VOLUME = 1,
    QVIR_SECRET_USAGE_CEPH = 2,
    QVIR_SECRET_USAGE_ISCSI = 3,
    QVIR_SECRET_USAGE_TLS = 4,
    QVIR_SECRET_USAGE_VTPM = 5,
    QVIR_SECRET_USAGE_LAST
} qvirSecretUsageType;
QVIR_ENUM_DECL(qvirSecretUsage);

typedef struct {
    guint8 uuid[16];
    gboolean isEphemeral;
    gboolean isPrivate;
    char *description;
    qvirSecretUsageType usageType;
    /* The usage's identifying text: <volume>, <name> or <target>; NULL for none. */
    char *usageID;
} qvirSecretDef;

void qvirSecretDefFree(qvirSecretDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirSecretDef, qvirSecretDefFree);

/* Documents past this size are refused unread. */
#define QVIR_SECRET_XML_MAX_SIZE (64 * 1024)

/* XML -> definition (a missing UUID is generated), errors in libvirt's words. */
qvirSecretDef *qvirSecretDefParseString(const char *xml, GError **error);

/* The document against libvirt's RelaxNG schema SCHEMA (secret.rng), as virsh
 * secret-define --validate asks: QVIR_ERR_XML_INVALID_SCHEMA with libxml2's findings. */
gboolean qvirSecretXMLValidateSchema(const char *xml, const char *schema, GError **error);

/* Each usage type's identifying child is there (libvirt reports these as internal
 * errors: "Ceph usage specified, but name is missing"). */
gboolean qvirSecretDefValidate(const qvirSecretDef *def, GError **error);

/* libvirt's layout: both attributes always, two-space indent, trailing newline. */
char *qvirSecretDefFormat(const qvirSecretDef *def);

/* The element under <usage> that carries TYPE's usage id ("volume", "name", "target"),
 * NULL for none. */
const char *qvirSecretUsageElement(qvirSecretUsageType type);
