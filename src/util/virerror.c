#include "virerror.h"

GQuark
qvirErrorQuark(void)
{
    return g_quark_from_static_string("qvir-error-quark");
}

gboolean
qvirCheckFlags(guint flags, guint supported, const char *func, GError **error)
{
    if (!(flags & ~supported))
        return TRUE;
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                "invalid argument: unsupported flags (0x%x) in function %s", flags & ~supported,
                func);
    return FALSE;
}

/* libvirt's message templates (virErrorMsg) that put a fixed prefix before the detail,
 * for the codes qvirt reports. Templates that are a bare "%s" (SYSTEM_ERROR, XML_DETAIL,
 * RPC) or embed the detail mid-sentence ("domain %s exists already") have no entry, nor
 * has STORAGE_PROBE_FAILED: qvirt gives it to image header errors, where libvirt's
 * "Storage pool probe failed" template would mislead. */
static const struct {
    int code;
    const char *prefix;
} qvirErrorPrefixes[] = {
    {QVIR_ERR_INTERNAL_ERROR, "internal error: "},
    {QVIR_ERR_NO_MEMORY, "out of memory: "},
    {QVIR_ERR_NO_SUPPORT, "this function is not supported by the connection driver: "},
    {QVIR_ERR_INVALID_ARG, "invalid argument: "},
    {QVIR_ERR_OPERATION_FAILED, "operation failed: "},
    {QVIR_ERR_XML_ERROR, "XML error: "},
    {QVIR_ERR_OPERATION_DENIED, "operation forbidden: "},
    {QVIR_ERR_CONF_SYNTAX, "configuration file syntax error: "},
    {QVIR_ERR_WRITE_FAILED, "failed to write configuration file: "},
    {QVIR_ERR_NO_DOMAIN, "Domain not found: "},
    {QVIR_ERR_NO_STORAGE_POOL, "Storage pool not found: "},
    {QVIR_ERR_NO_STORAGE_VOL, "Storage volume not found: "},
    {QVIR_ERR_OPERATION_INVALID, "Requested operation is not valid: "},
    {QVIR_ERR_INVALID_SECRET, "Invalid secret: "},
    {QVIR_ERR_NO_SECRET, "Secret not found: "},
    {QVIR_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: "},
    {QVIR_ERR_OPERATION_TIMEOUT, "Timed out during operation: "},
    {QVIR_ERR_INVALID_DOMAIN_SNAPSHOT, "Invalid domain snapshot: "},
    {QVIR_ERR_NO_DOMAIN_SNAPSHOT, "Domain snapshot not found: "},
    {QVIR_ERR_ARGUMENT_UNSUPPORTED, "argument unsupported: "},
    {QVIR_ERR_STORAGE_POOL_BUILT, "Storage pool already built: "},
    {QVIR_ERR_OPERATION_ABORTED, "operation aborted: "},
    {QVIR_ERR_MIGRATE_UNSAFE, "Unsafe migration: "},
    {QVIR_ERR_OVERFLOW, "numerical overflow: "},
    {QVIR_ERR_BLOCK_COPY_ACTIVE, "block copy still active: "},
    {QVIR_ERR_OPERATION_UNSUPPORTED, "Operation not supported: "},
    {QVIR_ERR_AGENT_UNRESPONSIVE, "Guest agent is not responding: "},
    {QVIR_ERR_RESOURCE_BUSY, "resource busy: "},
    {QVIR_ERR_ACCESS_DENIED, "access denied: "},
    {QVIR_ERR_XML_INVALID_SCHEMA, "XML document failed to validate against schema: "},
    {QVIR_ERR_MIGRATE_FINISH_OK, "migration successfully aborted: "},
    {QVIR_ERR_DEVICE_MISSING, "device not found: "},
};

const char *
qvirErrorCodePrefix(int code)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qvirErrorPrefixes); i++) {
        if (qvirErrorPrefixes[i].code == code)
            return qvirErrorPrefixes[i].prefix;
    }
    return NULL;
}

void
qvirErrorAddPrefix(GError *error)
{
    const char *prefix;
    char *msg;

    if (!error || error->domain != QVIR_ERROR || !(prefix = qvirErrorCodePrefix(error->code)))
        return;
    if (g_str_has_prefix(error->message, prefix))
        return;
    msg = g_strconcat(prefix, error->message, NULL);
    g_free(error->message);
    error->message = msg;
}
