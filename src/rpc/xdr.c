/*
 * xdr.c: bounds-checked XDR reader and an appending writer.
 */
#include "rpc/xdr.h"

#include <string.h>

#include "util/virerror.h"

static gsize
qvirXdrPadding(gsize len)
{
    return (4 - (len & 3)) & 3;
}

void
qvirXdrReaderInit(qvirXdrReader *rd, const guint8 *data, gsize len)
{
    rd->data = data;
    rd->len = len;
    rd->pos = 0;
}

gsize
qvirXdrReaderRemaining(const qvirXdrReader *rd)
{
    return rd->len - rd->pos;
}

/* Every read goes through here, so no read can run past the packet. */
static gboolean
qvirXdrNeed(const qvirXdrReader *rd, gsize n, const char *what, GError **error)
{
    if (n > qvirXdrReaderRemaining(rd)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                    "Unable to decode message payload: %s needs %" G_GSIZE_FORMAT
                    " bytes, %" G_GSIZE_FORMAT " left",
                    what, n, qvirXdrReaderRemaining(rd));
        return FALSE;
    }
    return TRUE;
}

/* The next N bytes, consumed; NULL when fewer are left. The reader of an empty body may
 * have no buffer at all: no pointer arithmetic before the check (NULL + 0 is undefined). */
static const guint8 *
qvirXdrTake(qvirXdrReader *rd, gsize n, const char *what, GError **error)
{
    const guint8 *p;

    if (!qvirXdrNeed(rd, n, what, error))
        return NULL;
    p = rd->data + rd->pos;
    rd->pos += n;
    return p;
}

gboolean
qvirXdrReadU32(qvirXdrReader *rd, guint32 *val, GError **error)
{
    const guint8 *p = qvirXdrTake(rd, 4, "integer", error);

    if (p)
        *val = ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
    return p != NULL;
}

/* Signed and unsigned variants of a type may alias (C11 6.5p7): one read serves both. */
gboolean
qvirXdrReadInt(qvirXdrReader *rd, gint32 *val, GError **error)
{
    return qvirXdrReadU32(rd, (guint32 *)val, error);
}

gboolean
qvirXdrReadU64(qvirXdrReader *rd, guint64 *val, GError **error)
{
    guint32 hi, lo;

    if (!qvirXdrNeed(rd, 8, "hyper", error))
        return FALSE;
    qvirXdrReadU32(rd, &hi, NULL);
    qvirXdrReadU32(rd, &lo, NULL);
    *val = ((guint64)hi << 32) | lo;
    return TRUE;
}

gboolean
qvirXdrReadI64(qvirXdrReader *rd, gint64 *val, GError **error)
{
    return qvirXdrReadU64(rd, (guint64 *)val, error);
}

gboolean
qvirXdrReadBool(qvirXdrReader *rd, gboolean *val, GError **error)
{
    guint32 u;

    if (!qvirXdrReadU32(rd, &u, error))
        return FALSE;
    if (u > 1) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                    "Unable to decode message payload: boolean value %u", u);
        return FALSE;
    }
    *val = u == 1;
    return TRUE;
}

gboolean
qvirXdrReadFixedOpaque(qvirXdrReader *rd, guint8 *buf, gsize len, GError **error)
{
    gsize total = len + qvirXdrPadding(len);

    if (!qvirXdrNeed(rd, total, "opaque", error))
        return FALSE;
    /* An empty reader may hold no buffer at all: memcpy from NULL is undefined even for 0. */
    if (len)
        memcpy(buf, rd->data + rd->pos, len);
    rd->pos += total;
    return TRUE;
}

gboolean
qvirXdrReadString(qvirXdrReader *rd, guint32 maxlen, char **val, GError **error)
{
    guint32 len;
    gsize start = rd->pos;

    if (!qvirXdrReadU32(rd, &len, error))
        return FALSE;
    if (len > maxlen) {
        rd->pos = start;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                    "Unable to decode message payload: string of %u bytes exceeds the "
                    "maximum of %u",
                    len, maxlen);
        return FALSE;
    }
    if (!qvirXdrNeed(rd, (gsize)len + qvirXdrPadding(len), "string", error)) {
        rd->pos = start;
        return FALSE;
    }
    if (memchr(rd->data + rd->pos, '\0', len)) {
        rd->pos = start;
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_RPC,
                            "Unable to decode message payload: string contains a NUL byte");
        return FALSE;
    }
    *val = g_strndup((const char *)rd->data + rd->pos, len);
    rd->pos += (gsize)len + qvirXdrPadding(len);
    return TRUE;
}

gboolean
qvirXdrReadOptString(qvirXdrReader *rd, guint32 maxlen, char **val, GError **error)
{
    gboolean present;

    if (!qvirXdrReadBool(rd, &present, error))
        return FALSE;
    if (!present) {
        *val = NULL;
        return TRUE;
    }
    return qvirXdrReadString(rd, maxlen, val, error);
}

gboolean
qvirXdrReadArrayLen(qvirXdrReader *rd, guint32 max, gsize minElemSize, guint32 *count,
                    GError **error)
{
    guint32 n;

    if (!qvirXdrReadU32(rd, &n, error))
        return FALSE;
    if (n > max) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                    "Unable to decode message payload: array of %u elements exceeds the "
                    "maximum of %u",
                    n, max);
        return FALSE;
    }
    /* Reject a huge count before a caller allocates for it. */
    if (minElemSize && (guint64)n * minElemSize > qvirXdrReaderRemaining(rd)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                    "Unable to decode message payload: array of %u elements does not fit "
                    "in the %" G_GSIZE_FORMAT " bytes left",
                    n, qvirXdrReaderRemaining(rd));
        return FALSE;
    }
    *count = n;
    return TRUE;
}

gboolean
qvirXdrReaderCheckEnd(const qvirXdrReader *rd, GError **error)
{
    if (qvirXdrReaderRemaining(rd) != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                    "Unable to decode message payload: %" G_GSIZE_FORMAT
                    " unexpected trailing bytes",
                    qvirXdrReaderRemaining(rd));
        return FALSE;
    }
    return TRUE;
}

/* N (> 0) more bytes at the end of BUF, to fill in: one resize instead of an append per
 * piece. (An empty GByteArray has no buffer: adding 0 to its NULL would be undefined.) */
static guint8 *
qvirXdrGrow(GByteArray *buf, gsize n)
{
    gsize len = buf->len;

    g_assert(n > 0);
    g_byte_array_set_size(buf, len + n);
    return buf->data + len;
}

void
qvirXdrWriteU32(GByteArray *buf, guint32 val)
{
    guint8 *p = qvirXdrGrow(buf, 4);

    p[0] = val >> 24;
    p[1] = val >> 16;
    p[2] = val >> 8;
    p[3] = val;
}

void
qvirXdrWriteInt(GByteArray *buf, gint32 val)
{
    qvirXdrWriteU32(buf, (guint32)val);
}

void
qvirXdrWriteU64(GByteArray *buf, guint64 val)
{
    qvirXdrWriteU32(buf, (guint32)(val >> 32));
    qvirXdrWriteU32(buf, (guint32)val);
}

void
qvirXdrWriteI64(GByteArray *buf, gint64 val)
{
    qvirXdrWriteU64(buf, (guint64)val);
}

void
qvirXdrWriteBool(GByteArray *buf, gboolean val)
{
    qvirXdrWriteU32(buf, val ? 1 : 0);
}

void
qvirXdrWriteFixedOpaque(GByteArray *buf, const guint8 *data, gsize len)
{
    gsize pad = qvirXdrPadding(len);
    guint8 *p;

    if (len == 0)
        return; /* and no padding either; DATA may be NULL */
    p = qvirXdrGrow(buf, len + pad);
    memcpy(p, data, len);
    memset(p + len, 0, pad);
}

void
qvirXdrWriteString(GByteArray *buf, const char *str)
{
    gsize len = str ? strlen(str) : 0;

    qvirXdrWriteU32(buf, (guint32)len);
    qvirXdrWriteFixedOpaque(buf, (const guint8 *)(str ? str : ""), len);
}

void
qvirXdrWriteOptString(GByteArray *buf, const char *str)
{
    qvirXdrWriteBool(buf, str != NULL);
    if (str)
        qvirXdrWriteString(buf, str);
}

void
qvirXdrPatchU32(GByteArray *buf, gsize offset, guint32 val)
{
    g_assert(offset + 4 <= buf->len);
    buf->data[offset] = val >> 24;
    buf->data[offset + 1] = val >> 16;
    buf->data[offset + 2] = val >> 8;
    buf->data[offset + 3] = val;
}
