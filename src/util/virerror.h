/*
 * virerror.h: qvirt's GError domain.
 *
 * Codes mirror libvirt's virErrorNumber values one for one, so the RPC layer
 * can put error->code on the wire unchanged and clients raise the exception
 * they would get from libvirt itself.
 */
#pragma once

#include <glib.h>

#define QVIR_ERROR qvirErrorQuark()
GQuark qvirErrorQuark(void);

typedef enum {
    QVIR_ERR_OK = 0,
    QVIR_ERR_INTERNAL_ERROR = 1,
    QVIR_ERR_NO_MEMORY = 2,
    QVIR_ERR_NO_SUPPORT = 3,
    QVIR_ERR_NO_CONNECT = 5,
    QVIR_ERR_INVALID_CONN = 6,
    QVIR_ERR_INVALID_DOMAIN = 7,
    QVIR_ERR_INVALID_ARG = 8,
    QVIR_ERR_OPERATION_FAILED = 9,
    QVIR_ERR_NO_SOURCE = 19,
    QVIR_ERR_NO_TARGET = 20,
    QVIR_ERR_NO_NAME = 21,
    QVIR_ERR_NO_OS = 22,
    QVIR_ERR_NO_DEVICE = 23,
    QVIR_ERR_XML_ERROR = 27,
    QVIR_ERR_DOM_EXIST = 28,
    QVIR_ERR_OPERATION_DENIED = 29,
    QVIR_ERR_OPEN_FAILED = 30,
    QVIR_ERR_READ_FAILED = 31,
    QVIR_ERR_PARSE_FAILED = 32,
    QVIR_ERR_CONF_SYNTAX = 33,
    QVIR_ERR_WRITE_FAILED = 34,
    QVIR_ERR_XML_DETAIL = 35,
    QVIR_ERR_SYSTEM_ERROR = 38,
    QVIR_ERR_RPC = 39,
    QVIR_ERR_NO_DOMAIN = 42,
    QVIR_ERR_NO_STORAGE_POOL = 49,
    QVIR_ERR_NO_STORAGE_VOL = 50,
    QVIR_ERR_OPERATION_INVALID = 55,
    QVIR_ERR_INVALID_SECRET = 65,
    QVIR_ERR_NO_SECRET = 66,
    QVIR_ERR_CONFIG_UNSUPPORTED = 67,
    QVIR_ERR_OPERATION_TIMEOUT = 68,
    QVIR_ERR_INVALID_DOMAIN_SNAPSHOT = 71,
    QVIR_ERR_NO_DOMAIN_SNAPSHOT = 72,
    QVIR_ERR_ARGUMENT_UNSUPPORTED = 74,
    QVIR_ERR_STORAGE_PROBE_FAILED = 75,
    QVIR_ERR_STORAGE_POOL_BUILT = 76,
    QVIR_ERR_OPERATION_ABORTED = 78,
    QVIR_ERR_MIGRATE_UNSAFE = 81,
    QVIR_ERR_OVERFLOW = 82,
    QVIR_ERR_BLOCK_COPY_ACTIVE = 83,
    QVIR_ERR_OPERATION_UNSUPPORTED = 84,
    QVIR_ERR_AGENT_UNRESPONSIVE = 86,
    QVIR_ERR_RESOURCE_BUSY = 87,
    QVIR_ERR_ACCESS_DENIED = 88,
    QVIR_ERR_STORAGE_VOL_EXIST = 90,
    QVIR_ERR_XML_INVALID_SCHEMA = 92,
    QVIR_ERR_MIGRATE_FINISH_OK = 93,
    QVIR_ERR_DEVICE_MISSING = 99,
} qvirErrorCode;

/* libvirt's virErrorDomain values for the places our errors come from. */
typedef enum {
    QVIR_FROM_NONE = 0,
    QVIR_FROM_RPC = 7,
    QVIR_FROM_QEMU = 10,
    QVIR_FROM_STORAGE = 18,
    QVIR_FROM_DOMAIN = 20,
    QVIR_FROM_SECRET = 30,
    QVIR_FROM_REMOTE = 13,
} qvirErrorFrom;

/* libvirt's check of an API's flags: FALSE with "unsupported flags (0x...) in function
 * FUNC" (FUNC: libvirt's driver callback name) when FLAGS has a bit outside SUPPORTED. */
gboolean qvirCheckFlags(guint flags, guint supported, const char *func, GError **error);

/* Prefix an existing error with context, keeping its code ("disk 'vda': ..."). */
#define qvirErrorPrefix(err, ...) g_prefix_error((err), __VA_ARGS__)

/*
 * libvirt builds a message from its code's template ("unsupported configuration: %s",
 * "XML error: %s", ...; virErrorMsg). Give ERROR that prefix unless its message already
 * starts with it, so a client sees libvirt's exact text. Codes whose template is a bare
 * "%s" are left alone.
 */
void qvirErrorAddPrefix(GError *error);

/* That prefix for CODE ("invalid argument: "), or NULL when its template has none. */
const char *qvirErrorCodePrefix(int code);
