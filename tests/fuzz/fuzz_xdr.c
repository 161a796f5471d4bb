/*
 * fuzz_xdr.c: the XDR reader (src/rpc/xdr.c) and the codec of described types
 * (src/rpc/xdr_type.c with the tables gen_protocol.py makes of remote_protocol.x and
 * virnet_protocol.x) on arbitrary bytes.
 *
 * Byte 0 of 128 or more: bytes 1-2 (little-endian) pick one of the generated types (every
 * _args, _ret and _msg of the REMOTE program, and the packet header, error body and stream
 * hole), and the rest is decoded as that type: fuzz-xdr-type.h says what is checked.
 *
 * Otherwise, the primitive reads: byte 0 gives the number N (mod 32) of operation bytes
 * that follow;
 * the rest is the XDR stream. Each operation byte picks a read (low nibble) and its
 * parameter (high nibble: a fixed opaque length, a string maximum, an array limit).
 * The reads run in order until one fails. Checked:
 *   - a read either succeeds with no error or fails with a QVIR_ERR_RPC error;
 *   - the position never passes the end and stays 4-byte aligned;
 *   - strings are NUL-free, no longer than the maximum asked for;
 *   - array counts respect both the maximum and the bytes left;
 *   - writing the decoded values back gives a prefix of the same length which,
 *     followed by the undecoded tail, decodes with the same operations to the same
 *     values.
 */
#include <string.h>

#include "fuzz-common.h"
#include "fuzz-xdr-type.h"
#include "rpc/remote_protocol.h"
#include "rpc/virnet_protocol.h"
#include "rpc/xdr.h"
#include "util/virerror.h"

#define FUZZ_XDR_MAX_OPS 32

typedef enum {
    FUZZ_XDR_U32,
    FUZZ_XDR_INT,
    FUZZ_XDR_U64,
    FUZZ_XDR_I64,
    FUZZ_XDR_BOOL,
    FUZZ_XDR_OPAQUE,
    FUZZ_XDR_STRING,
    FUZZ_XDR_OPTSTRING,
    FUZZ_XDR_ARRAYLEN,
    FUZZ_XDR_CHECKEND,
    FUZZ_XDR_LAST
} fuzzXdrOp;

typedef struct {
    fuzzXdrOp op;
    guint64 num;
    char *str; /* STRING, OPTSTRING (NULL = absent) */
    guint8 opaque[VIR_UUID_BUFLEN + 3];
    gsize opaqueLen;
} fuzzXdrValue;

static const guint32 fuzzXdrStringMax[16] = {
    0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 255, 256, 4096, 65536, REMOTE_STRING_MAX, G_MAXUINT32,
};

/* Every generated type of a message body, each once. */
static GPtrArray *fuzzXdrTypes;

static void
fuzzXdrAddType(const qvirXdrType *type)
{
    if (type && !g_ptr_array_find(fuzzXdrTypes, type, NULL))
        g_ptr_array_add(fuzzXdrTypes, (gpointer)type);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzCommonInit();
    fuzzXdrTypes = g_ptr_array_new();
    fuzzXdrAddType(&virNetMessageHeader_type);
    fuzzXdrAddType(&virNetMessageError_type);
    fuzzXdrAddType(&virNetStreamHole_type);
    for (guint i = 0; i < REMOTE_PROC_LAST; i++) {
        fuzzXdrAddType(remote_procedure_table[i].args);
        fuzzXdrAddType(remote_procedure_table[i].ret);
        fuzzXdrAddType(remote_procedure_table[i].msg);
    }
    return 0;
}

static void
fuzzXdrCheckFailure(const qvirXdrReader *rd, GError *error)
{
    FUZZ_CHECK(error != NULL, "a failed read must set an error");
    FUZZ_CHECK(g_error_matches(error, QVIR_ERROR, QVIR_ERR_RPC), "code %d: %s", error->code,
               error->message);
    FUZZ_CHECK(rd->pos <= rd->len, "pos %zu len %zu", rd->pos, rd->len);
}

/* Run OPS over the stream; returns the number of reads that succeeded and fills VALS. */
static guint
fuzzXdrDecode(const guint8 *ops, guint nops, const guint8 *data, gsize len, fuzzXdrValue *vals,
              gsize *consumed)
{
    qvirXdrReader rd;
    gsize lastGood = 0;
    guint i;

    qvirXdrReaderInit(&rd, data, len);
    for (i = 0; i < nops; i++) {
        fuzzXdrValue *v = &vals[i];
        guint param = ops[i] >> 4;
        g_autoptr(GError) error = NULL;
        gboolean ok = FALSE;
        gsize before = rd.pos;

        memset(v, 0, sizeof(*v));
        v->op = (ops[i] & 0xf) % FUZZ_XDR_LAST;
        switch (v->op) {
        case FUZZ_XDR_U32: {
            guint32 u;
            ok = qvirXdrReadU32(&rd, &u, &error);
            v->num = u;
            break;
        }
        case FUZZ_XDR_INT: {
            gint32 s;
            ok = qvirXdrReadInt(&rd, &s, &error);
            v->num = (guint32)s;
            break;
        }
        case FUZZ_XDR_U64:
            ok = qvirXdrReadU64(&rd, &v->num, &error);
            break;
        case FUZZ_XDR_I64: {
            gint64 s;
            ok = qvirXdrReadI64(&rd, &s, &error);
            v->num = (guint64)s;
            break;
        }
        case FUZZ_XDR_BOOL: {
            gboolean b = 42;
            ok = qvirXdrReadBool(&rd, &b, &error);
            if (ok)
                FUZZ_CHECK(b == TRUE || b == FALSE, "bool %d", b);
            v->num = b;
            break;
        }
        case FUZZ_XDR_OPAQUE:
            /* 0..16 bytes plus up to 3 of padding; the buffer has room for 19 so a
             * reader that copied the padding too would be caught by ASan anyway. */
            v->opaqueLen = param;
            ok = qvirXdrReadFixedOpaque(&rd, v->opaque, v->opaqueLen, &error);
            break;
        case FUZZ_XDR_STRING:
        case FUZZ_XDR_OPTSTRING: {
            guint32 max = fuzzXdrStringMax[param];
            if (v->op == FUZZ_XDR_STRING) {
                ok = qvirXdrReadString(&rd, max, &v->str, &error);
                if (ok)
                    FUZZ_CHECK(v->str != NULL, "a read string is never NULL");
            } else {
                ok = qvirXdrReadOptString(&rd, max, &v->str, &error);
            }
            if (ok && v->str) {
                gsize slen = strlen(v->str);
                FUZZ_CHECK(slen <= max, "string of %zu > max %u", slen, max);
                /* length word + bytes + padding, and nothing else */
                FUZZ_CHECK(rd.pos - before >= 4 + slen, "string consumed too little");
            }
            if (!ok)
                FUZZ_CHECK(v->str == NULL, "a failed string read must not return one");
            break;
        }
        case FUZZ_XDR_ARRAYLEN: {
            guint32 count = 0;
            guint32 max = fuzzXdrStringMax[param];
            gsize minElem = (param & 3) * 4;
            gsize left = qvirXdrReaderRemaining(&rd);
            ok = qvirXdrReadArrayLen(&rd, max, minElem, &count, &error);
            if (ok) {
                FUZZ_CHECK(count <= max, "count %u > max %u", count, max);
                FUZZ_CHECK((guint64)count * minElem <= left - 4, "count %u does not fit", count);
            }
            v->num = count;
            break;
        }
        case FUZZ_XDR_CHECKEND:
            ok = qvirXdrReaderCheckEnd(&rd, &error);
            FUZZ_CHECK(ok == (rd.pos == rd.len), "CheckEnd disagrees with the position");
            break;
        case FUZZ_XDR_LAST:
            g_assert_not_reached();
        }

        if (!ok) {
            fuzzXdrCheckFailure(&rd, error);
            break;
        }
        FUZZ_CHECK(error == NULL, "success with an error set");
        FUZZ_CHECK(rd.pos <= rd.len, "pos %zu past len %zu", rd.pos, rd.len);
        FUZZ_CHECK(rd.pos % 4 == 0, "pos %zu not aligned", rd.pos);
        lastGood = rd.pos;
    }
    /* Where a failed read leaves the position is not part of the contract. */
    *consumed = lastGood;
    return i;
}

static void
fuzzXdrEncode(GByteArray *buf, const fuzzXdrValue *vals, guint n)
{
    for (guint i = 0; i < n; i++) {
        const fuzzXdrValue *v = &vals[i];
        switch (v->op) {
        case FUZZ_XDR_U32:
        case FUZZ_XDR_ARRAYLEN:
            qvirXdrWriteU32(buf, (guint32)v->num);
            break;
        case FUZZ_XDR_INT:
            qvirXdrWriteInt(buf, (gint32)(guint32)v->num);
            break;
        case FUZZ_XDR_U64:
            qvirXdrWriteU64(buf, v->num);
            break;
        case FUZZ_XDR_I64:
            qvirXdrWriteI64(buf, (gint64)v->num);
            break;
        case FUZZ_XDR_BOOL:
            qvirXdrWriteBool(buf, v->num != 0);
            break;
        case FUZZ_XDR_OPAQUE:
            qvirXdrWriteFixedOpaque(buf, v->opaque, v->opaqueLen);
            break;
        case FUZZ_XDR_STRING:
            qvirXdrWriteString(buf, v->str);
            break;
        case FUZZ_XDR_OPTSTRING:
            qvirXdrWriteOptString(buf, v->str);
            break;
        case FUZZ_XDR_CHECKEND:
        case FUZZ_XDR_LAST:
            break;
        }
    }
}

static void
fuzzXdrFree(fuzzXdrValue *vals, guint n)
{
    for (guint i = 0; i < n; i++)
        g_clear_pointer(&vals[i].str, g_free);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzzXdrValue vals[FUZZ_XDR_MAX_OPS], again[FUZZ_XDR_MAX_OPS];
    g_autoptr(GByteArray) buf = NULL;
    guint nops, nok, nok2;
    gsize consumed, consumed2;

    if (size < 1)
        return 0;
    if (data[0] >= 128) {
        if (size >= 3) {
            guint pick = data[1] | (data[2] << 8);
            const qvirXdrType *type = g_ptr_array_index(fuzzXdrTypes, pick % fuzzXdrTypes->len);

            /* a copy of exactly the bytes, so ASan sees any over-read */
            g_autofree guint8 *copy = fuzzXdrExactCopy(data + 3, size - 3);

            fuzzXdrCheckType(type, copy, size - 3);
        }
        return 0;
    }
    nops = data[0] % FUZZ_XDR_MAX_OPS;
    if (size < 1 + (gsize)nops)
        return 0;

    nok = fuzzXdrDecode(data + 1, nops, data + 1 + nops, size - 1 - nops, vals, &consumed);

    buf = g_byte_array_new();
    fuzzXdrEncode(buf, vals, nok);
    FUZZ_CHECK(buf->len == consumed, "re-encoded %u bytes, decoded %zu", buf->len, consumed);
    /* The canonical encoding of the decoded prefix, followed by the same tail: array
     * counts are checked against the bytes left, so the tail must stay. */
    g_byte_array_append(buf, data + 1 + nops + consumed, size - 1 - nops - consumed);

    /* An empty GByteArray has a NULL data pointer; real callers always hand the
     * reader a pointer into a packet, so give it one too. */
    g_byte_array_append(buf, (const guint8 *)"", 1);
    nok2 = fuzzXdrDecode(data + 1, nok, buf->data, buf->len - 1, again, &consumed2);
    FUZZ_CHECK(nok2 == nok, "re-decoding stopped at %u of %u", nok2, nok);
    FUZZ_CHECK(consumed2 == consumed, "re-decoding consumed %zu, first %zu", consumed2, consumed);
    for (guint i = 0; i < nok; i++) {
        FUZZ_CHECK(vals[i].num == again[i].num, "value %u differs", i);
        FUZZ_CHECK(g_strcmp0(vals[i].str, again[i].str) == 0, "string %u differs", i);
        FUZZ_CHECK(memcmp(vals[i].opaque, again[i].opaque, vals[i].opaqueLen) == 0,
                   "opaque %u differs", i);
    }

    fuzzXdrFree(vals, nok);
    fuzzXdrFree(again, nok2);
    return 0;
}
