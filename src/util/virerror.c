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

void
qvirErrorAddPrefix(GError *error)
{
    static const struct {
        int code;
        const char *prefix;
    } prefixes[] = {
        {QVIR_ERR_INTERNAL_ERROR, "internal error: "},
        {QVIR_ERR_INVALID_ARG, "invalid argument: "},
        {QVIR_ERR_OPERATION_FAILED, "operation failed: "},
        {QVIR_ERR_XML_ERROR, "XML error: "},
        {QVIR_ERR_OPERATION_INVALID, "Requested operation is not valid: "},
        {QVIR_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: "},
        {QVIR_ERR_OPERATION_UNSUPPORTED, "Operation not supported: "},
        {QVIR_ERR_INVALID_SECRET, "Invalid secret: "},
        {QVIR_ERR_NO_SECRET, "Secret not found: "},
        {QVIR_ERR_OPERATION_TIMEOUT, "Timed out during operation: "},
        {QVIR_ERR_ARGUMENT_UNSUPPORTED, "argument unsupported: "},
        {QVIR_ERR_OPERATION_ABORTED, "operation aborted: "},
        {QVIR_ERR_OVERFLOW, "numerical overflow: "},
        {QVIR_ERR_BLOCK_COPY_ACTIVE, "block copy still active: "},
        {QVIR_ERR_RESOURCE_BUSY, "resource busy: "},
        {QVIR_ERR_DEVICE_MISSING, "device not found: "},
    };
    char *msg;

    if (!error || error->domain != QVIR_ERROR)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        if (prefixes[i].code != error->code)
            continue;
        if (g_str_has_prefix(error->message, prefixes[i].prefix))
            return;
        msg = g_strconcat(prefixes[i].prefix, error->message, NULL);
        g_free(error->message);
        error->message = msg;
        return;
    }
}
