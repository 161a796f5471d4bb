/*
 * fuzz-xdr-type.h: one described type (gen_protocol.py's tables, xdr_type.c's codec) on
 * arbitrary bytes, for the fuzz targets that reach the generated code.
 */
#pragma once

#include <string.h>

#include "fuzz-common.h"
#include "rpc/xdr.h"
#include "util/virerror.h"

/* A heap copy of exactly LEN bytes of DATA (at least one byte allocated, since an empty
 * reader still wants a pointer): ASan then sees any read past them. */
static inline guint8 *
fuzzXdrExactCopy(const guint8 *data, gsize len)
{
    guint8 *copy = g_malloc(len ? len : 1);

    if (len)
        memcpy(copy, data, len);
    return copy;
}

/*
 * Decode TYPE from DATA. A failure must be an RPC error that leaves the value all zero
 * (and nothing allocated: LeakSanitizer). A success must stay within the bytes, encode
 * again (what was decoded respects every limit) into as many bytes as it consumed, and
 * that encoding must decode and encode to itself.
 */
static inline void
fuzzXdrCheckType(const qvirXdrType *type, const guint8 *data, gsize len)
{
    g_autofree guint8 *obj = g_malloc0(type->size);
    g_autofree guint8 *again = g_malloc0(type->size);
    g_autofree guint8 *zero = g_malloc0(type->size);
    g_autoptr(GByteArray) enc = g_byte_array_new();
    g_autoptr(GByteArray) enc2 = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    qvirXdrReader rd;

    qvirXdrReaderInit(&rd, data, len);
    if (!qvirXdrDecode(&rd, type, obj, &error)) {
        FUZZ_CHECK(error && error->domain == QVIR_ERROR && error->code == QVIR_ERR_RPC,
                   "%s: a failed decode without an RPC error", type->name);
        FUZZ_CHECK(memcmp(obj, zero, type->size) == 0, "%s: a failed decode left data behind",
                   type->name);
        return;
    }
    FUZZ_CHECK(rd.pos <= len && rd.pos % 4 == 0 && rd.pos >= type->minWire,
               "%s: consumed %zu of %zu", type->name, rd.pos, len);
    FUZZ_CHECK(qvirXdrEncode(enc, type, obj, &error), "%s: decoded but cannot encode: %s",
               type->name, error->message);
    FUZZ_CHECK(enc->len == rd.pos, "%s: %u bytes re-encoded, %zu decoded", type->name, enc->len,
               rd.pos);
    /* an empty GByteArray has no data pointer; the reader wants one */
    g_byte_array_append(enc, (const guint8 *)"", 1);
    qvirXdrReaderInit(&rd, enc->data, enc->len - 1);
    FUZZ_CHECK(qvirXdrDecode(&rd, type, again, &error) && qvirXdrReaderCheckEnd(&rd, NULL),
               "%s: its own encoding does not decode", type->name);
    FUZZ_CHECK(qvirXdrEncode(enc2, type, again, NULL), "%s: encode of the re-decoded", type->name);
    FUZZ_CHECK(enc2->len == enc->len - 1 && memcmp(enc->data, enc2->data, enc2->len) == 0,
               "%s: the encoding is not stable", type->name);
    qvirXdrClear(type, obj);
    qvirXdrClear(type, again);
    FUZZ_CHECK(memcmp(obj, zero, type->size) == 0, "%s: clear left data", type->name);
}
