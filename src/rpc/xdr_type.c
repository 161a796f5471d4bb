/*
 * xdr_type.c: the one codec of described types (qvirXdrType tables from gen_protocol.py).
 *
 * Decoding trusts nothing: every count is checked against its limit and against the bytes
 * left (through the element's smallest encoding) before anything is allocated, a union
 * needs an arm for its discriminant, and a failure anywhere frees what the value had
 * gathered so far. Encoding checks the same limits, so the daemon never sends what a
 * libvirt client would refuse to decode.
 *
 * Each kind has its three operations in one row of qvirXdrKinds; the aggregates recurse
 * through qvirXdrDecodeValue / qvirXdrEncode / qvirXdrFreeContents.
 */
#include "rpc/xdr.h"

#include <string.h>

#include "util/virerror.h"

#define QVIR_XDR_SCALAR(var, kindName, ctype, wire)                                                \
    const qvirXdrType var = {.name = #ctype,                                                       \
                             .kind = QVIR_XDR_KIND_##kindName,                                     \
                             .size = sizeof(ctype),                                                \
                             .minWire = wire,                                                      \
                             .plain = TRUE}

QVIR_XDR_SCALAR(qvirXdrTypeInt, INT, gint32, 4);
QVIR_XDR_SCALAR(qvirXdrTypeUInt, UINT, guint32, 4);
QVIR_XDR_SCALAR(qvirXdrTypeHyper, HYPER, gint64, 8);
QVIR_XDR_SCALAR(qvirXdrTypeUHyper, UHYPER, guint64, 8);
QVIR_XDR_SCALAR(qvirXdrTypeBool, BOOL, gboolean, 4);
QVIR_XDR_SCALAR(qvirXdrTypeChar, CHAR, gint8, 4);
QVIR_XDR_SCALAR(qvirXdrTypeUChar, UCHAR, guint8, 4);
QVIR_XDR_SCALAR(qvirXdrTypeShort, SHORT, gint16, 4);
QVIR_XDR_SCALAR(qvirXdrTypeUShort, USHORT, guint16, 4);
QVIR_XDR_SCALAR(qvirXdrTypeDouble, DOUBLE, double, 8);

/* The C shape of a variable-length opaque or array. */
typedef struct {
    guint32 len;
    gpointer val;
} qvirXdrVarArray;

typedef struct {
    gboolean (*decode)(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error);
    gboolean (*encode)(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error);
    /* NULL: the kind owns no memory */
    void (*freeContents)(const qvirXdrType *type, gpointer obj);
} qvirXdrKindOps;

static const qvirXdrKindOps *qvirXdrOps(const qvirXdrType *type);

static gpointer
qvirXdrAt(gconstpointer obj, gsize offset)
{
    return (guint8 *)obj + offset;
}

static const qvirXdrMember *
qvirXdrUnionArm(const qvirXdrType *type, gint32 discriminant)
{
    for (guint i = 0; i < type->nmembers; i++) {
        if (type->members[i].value == discriminant)
            return &type->members[i];
    }
    return NULL;
}

static void
qvirXdrFreeContents(const qvirXdrType *type, gpointer obj)
{
    if (!type->plain)
        qvirXdrOps(type)->freeContents(type, obj);
}

/* On failure OBJ may hold part of the value: the caller frees it (every allocation is
 * reachable from OBJ at any point, and the rest is still zero). */
static gboolean
qvirXdrDecodeValue(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    return qvirXdrOps(type)->decode(rd, type, obj, error);
}

static gboolean
qvirXdrCheckLimit(const qvirXdrType *type, gsize len, GError **error)
{
    if (len <= type->max)
        return TRUE;
    g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                "Unable to encode message payload: %" G_GSIZE_FORMAT
                " elements of %s exceed the maximum of %u",
                len, type->name, type->max);
    return FALSE;
}

/* ---- scalars ------------------------------------------------------------------- */

/* int, unsigned, hyper, unsigned hyper, double: 4 or 8 bytes, big-endian (a double's
 * IEEE bits). */
static gboolean
qvirXdrNumberDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    guint64 bits;

    if (type->size == 4)
        return qvirXdrReadU32(rd, obj, error);
    if (!qvirXdrReadU64(rd, &bits, error))
        return FALSE;
    memcpy(obj, &bits, sizeof(bits));
    return TRUE;
}

static gboolean
qvirXdrNumberEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    guint64 bits;

    if (type->size == 4) {
        qvirXdrWriteU32(buf, *(const guint32 *)obj);
    } else {
        memcpy(&bits, obj, sizeof(bits));
        qvirXdrWriteU64(buf, bits);
    }
    return TRUE;
}

static gboolean
qvirXdrBoolDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    return qvirXdrReadBool(rd, obj, error);
}

static gboolean
qvirXdrBoolEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    qvirXdrWriteBool(buf, *(const gboolean *)obj);
    return TRUE;
}

/* char and short take a word each on the wire; the value must fit back. */
static gboolean
qvirXdrSmallSigned(const qvirXdrType *type)
{
    return type->kind == QVIR_XDR_KIND_CHAR || type->kind == QVIR_XDR_KIND_SHORT;
}

static gboolean
qvirXdrSmallDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    guint bits = type->size * 8;
    gint64 lo = qvirXdrSmallSigned(type) ? -((gint64)1 << (bits - 1)) : 0;
    gint64 hi = qvirXdrSmallSigned(type) ? ((gint64)1 << (bits - 1)) - 1 : ((gint64)1 << bits) - 1;
    gint32 v;

    if (!qvirXdrReadInt(rd, &v, error))
        return FALSE;
    if (v < lo || v > hi) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                    "Unable to decode message payload: %d does not fit in %s", v, type->name);
        return FALSE;
    }
    if (type->size == 1)
        *(guint8 *)obj = (guint8)v;
    else
        *(guint16 *)obj = (guint16)v;
    return TRUE;
}

static gboolean
qvirXdrSmallEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    gint32 v;

    if (type->size == 1)
        v = qvirXdrSmallSigned(type) ? *(const gint8 *)obj : *(const guint8 *)obj;
    else
        v = qvirXdrSmallSigned(type) ? *(const gint16 *)obj : *(const guint16 *)obj;
    qvirXdrWriteInt(buf, v);
    return TRUE;
}

/* ---- strings and opaques ----------------------------------------------------------- */

static gboolean
qvirXdrStringDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    if (type->kind == QVIR_XDR_KIND_STRING)
        return qvirXdrReadString(rd, type->max, obj, error);
    return qvirXdrReadOptString(rd, type->max, obj, error);
}

static gboolean
qvirXdrStringEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    const char *str = *(char *const *)obj;

    if (!str && type->kind == QVIR_XDR_KIND_STRING) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: missing string of type %s", type->name);
        return FALSE;
    }
    if (type->kind == QVIR_XDR_KIND_OPT_STRING)
        qvirXdrWriteBool(buf, str != NULL);
    if (str) {
        gsize len = strlen(str);

        if (!qvirXdrCheckLimit(type, len, error))
            return FALSE;
        qvirXdrWriteU32(buf, (guint32)len);
        qvirXdrWriteFixedOpaque(buf, (const guint8 *)str, len);
    }
    return TRUE;
}

static void
qvirXdrPointerFree(const qvirXdrType *type, gpointer obj)
{
    g_free(*(gpointer *)obj);
}

static gboolean
qvirXdrFixedOpaqueDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    return qvirXdrReadFixedOpaque(rd, obj, type->max, error);
}

static gboolean
qvirXdrFixedOpaqueEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj,
                         GError **error)
{
    qvirXdrWriteFixedOpaque(buf, obj, type->max);
    return TRUE;
}

/* ---- variable-length opaques and arrays ------------------------------------------- */

static gboolean
qvirXdrVarDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    qvirXdrVarArray *arr = obj;
    gboolean opaque = type->kind == QVIR_XDR_KIND_OPAQUE_VAR;
    gsize elemSize = opaque ? 1 : type->elem->size;
    guint32 n;

    if (!qvirXdrReadArrayLen(rd, type->max, opaque ? 1 : type->elem->minWire, &n, error))
        return FALSE;
    if (n == 0)
        return TRUE;
    arr->val = g_malloc0_n(n, elemSize);
    arr->len = n;
    if (opaque)
        return qvirXdrReadFixedOpaque(rd, arr->val, n, error);
    for (guint32 i = 0; i < n; i++) {
        if (!qvirXdrDecodeValue(rd, type->elem, qvirXdrAt(arr->val, i * elemSize), error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
qvirXdrElementsEncode(GByteArray *buf, const qvirXdrType *elem, gconstpointer val, guint32 n,
                      GError **error)
{
    for (guint32 i = 0; i < n; i++) {
        if (!qvirXdrEncode(buf, elem, qvirXdrAt(val, i * elem->size), error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
qvirXdrVarEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    const qvirXdrVarArray *arr = obj;

    if (!qvirXdrCheckLimit(type, arr->len, error))
        return FALSE;
    qvirXdrWriteU32(buf, arr->len);
    if (type->kind == QVIR_XDR_KIND_OPAQUE_VAR) {
        qvirXdrWriteFixedOpaque(buf, arr->val, arr->len);
        return TRUE;
    }
    return qvirXdrElementsEncode(buf, type->elem, arr->val, arr->len, error);
}

static void
qvirXdrElementsFree(const qvirXdrType *elem, gpointer val, guint32 n)
{
    for (guint32 i = 0; i < n; i++)
        qvirXdrFreeContents(elem, qvirXdrAt(val, i * elem->size));
}

static void
qvirXdrVarFree(const qvirXdrType *type, gpointer obj)
{
    qvirXdrVarArray *arr = obj;

    if (arr->val && type->kind == QVIR_XDR_KIND_ARRAY_VAR)
        qvirXdrElementsFree(type->elem, arr->val, arr->len);
    g_free(arr->val);
}

static gboolean
qvirXdrFixedArrayDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    for (guint32 i = 0; i < type->max; i++) {
        if (!qvirXdrDecodeValue(rd, type->elem, qvirXdrAt(obj, i * type->elem->size), error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
qvirXdrFixedArrayEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    return qvirXdrElementsEncode(buf, type->elem, obj, type->max, error);
}

static void
qvirXdrFixedArrayFree(const qvirXdrType *type, gpointer obj)
{
    qvirXdrElementsFree(type->elem, obj, type->max);
}

/* ---- structs, unions, optionals ----------------------------------------------- */

/* int and unsigned members, most of every struct, are read and written in place: the
 * hot path of every call goes through here (its header, its arguments). */
static gboolean
qvirXdrIsWord(const qvirXdrType *type)
{
    return type->kind == QVIR_XDR_KIND_INT || type->kind == QVIR_XDR_KIND_UINT;
}

static gboolean
qvirXdrStructDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    for (guint i = 0; i < type->nmembers; i++) {
        const qvirXdrMember *m = &type->members[i];
        gpointer field = qvirXdrAt(obj, m->offset);

        if (!(qvirXdrIsWord(m->type) ? qvirXdrReadU32(rd, field, error)
                                     : qvirXdrDecodeValue(rd, m->type, field, error)))
            return FALSE;
    }
    return TRUE;
}

static gboolean
qvirXdrStructEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    for (guint i = 0; i < type->nmembers; i++) {
        const qvirXdrMember *m = &type->members[i];
        gconstpointer field = qvirXdrAt(obj, m->offset);

        if (qvirXdrIsWord(m->type))
            qvirXdrWriteU32(buf, *(const guint32 *)field);
        else if (!qvirXdrEncode(buf, m->type, field, error))
            return FALSE;
    }
    return TRUE;
}

static void
qvirXdrStructFree(const qvirXdrType *type, gpointer obj)
{
    for (guint i = 0; i < type->nmembers; i++)
        qvirXdrFreeContents(type->members[i].type, qvirXdrAt(obj, type->members[i].offset));
}

static const qvirXdrMember *
qvirXdrUnionArmOf(const qvirXdrType *type, gint32 discriminant, const char *verb, GError **error)
{
    const qvirXdrMember *arm = qvirXdrUnionArm(type, discriminant);

    if (!arm)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                    "Unable to %s message payload: %s has no case %d", verb, type->name,
                    discriminant);
    return arm;
}

static gboolean
qvirXdrUnionDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    const qvirXdrMember *arm;

    if (!qvirXdrReadInt(rd, obj, error) ||
        !(arm = qvirXdrUnionArmOf(type, *(gint32 *)obj, "decode", error)))
        return FALSE;
    return qvirXdrDecodeValue(rd, arm->type, qvirXdrAt(obj, arm->offset), error);
}

static gboolean
qvirXdrUnionEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    gint32 discriminant = *(const gint32 *)obj;
    const qvirXdrMember *arm = qvirXdrUnionArmOf(type, discriminant, "encode", error);

    if (!arm)
        return FALSE;
    qvirXdrWriteInt(buf, discriminant);
    return qvirXdrEncode(buf, arm->type, qvirXdrAt(obj, arm->offset), error);
}

static void
qvirXdrUnionFree(const qvirXdrType *type, gpointer obj)
{
    const qvirXdrMember *arm = qvirXdrUnionArm(type, *(gint32 *)obj);

    if (arm)
        qvirXdrFreeContents(arm->type, qvirXdrAt(obj, arm->offset));
}

static gboolean
qvirXdrOptionalDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    gpointer *ptr = obj;
    gboolean present;

    if (!qvirXdrReadBool(rd, &present, error))
        return FALSE;
    if (!present)
        return TRUE;
    *ptr = g_malloc0(type->elem->size);
    return qvirXdrDecodeValue(rd, type->elem, *ptr, error);
}

static gboolean
qvirXdrOptionalEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    gconstpointer val = *(const gconstpointer *)obj;

    qvirXdrWriteBool(buf, val != NULL);
    return !val || qvirXdrEncode(buf, type->elem, val, error);
}

static void
qvirXdrOptionalFree(const qvirXdrType *type, gpointer obj)
{
    gpointer val = *(gpointer *)obj;

    if (val)
        qvirXdrFreeContents(type->elem, val);
    g_free(val);
}

/* ---- the table ------------------------------------------------------------------- */

static const qvirXdrKindOps qvirXdrKinds[] = {
    [QVIR_XDR_KIND_INT] = {qvirXdrNumberDecode, qvirXdrNumberEncode, NULL},
    [QVIR_XDR_KIND_UINT] = {qvirXdrNumberDecode, qvirXdrNumberEncode, NULL},
    [QVIR_XDR_KIND_HYPER] = {qvirXdrNumberDecode, qvirXdrNumberEncode, NULL},
    [QVIR_XDR_KIND_UHYPER] = {qvirXdrNumberDecode, qvirXdrNumberEncode, NULL},
    [QVIR_XDR_KIND_DOUBLE] = {qvirXdrNumberDecode, qvirXdrNumberEncode, NULL},
    [QVIR_XDR_KIND_BOOL] = {qvirXdrBoolDecode, qvirXdrBoolEncode, NULL},
    [QVIR_XDR_KIND_CHAR] = {qvirXdrSmallDecode, qvirXdrSmallEncode, NULL},
    [QVIR_XDR_KIND_UCHAR] = {qvirXdrSmallDecode, qvirXdrSmallEncode, NULL},
    [QVIR_XDR_KIND_SHORT] = {qvirXdrSmallDecode, qvirXdrSmallEncode, NULL},
    [QVIR_XDR_KIND_USHORT] = {qvirXdrSmallDecode, qvirXdrSmallEncode, NULL},
    [QVIR_XDR_KIND_STRING] = {qvirXdrStringDecode, qvirXdrStringEncode, qvirXdrPointerFree},
    [QVIR_XDR_KIND_OPT_STRING] = {qvirXdrStringDecode, qvirXdrStringEncode, qvirXdrPointerFree},
    [QVIR_XDR_KIND_OPAQUE_FIXED] = {qvirXdrFixedOpaqueDecode, qvirXdrFixedOpaqueEncode, NULL},
    [QVIR_XDR_KIND_OPAQUE_VAR] = {qvirXdrVarDecode, qvirXdrVarEncode, qvirXdrVarFree},
    [QVIR_XDR_KIND_STRUCT] = {qvirXdrStructDecode, qvirXdrStructEncode, qvirXdrStructFree},
    [QVIR_XDR_KIND_UNION] = {qvirXdrUnionDecode, qvirXdrUnionEncode, qvirXdrUnionFree},
    [QVIR_XDR_KIND_OPTIONAL] = {qvirXdrOptionalDecode, qvirXdrOptionalEncode, qvirXdrOptionalFree},
    [QVIR_XDR_KIND_ARRAY_FIXED] = {qvirXdrFixedArrayDecode, qvirXdrFixedArrayEncode,
                                   qvirXdrFixedArrayFree},
    [QVIR_XDR_KIND_ARRAY_VAR] = {qvirXdrVarDecode, qvirXdrVarEncode, qvirXdrVarFree},
};

static const qvirXdrKindOps *
qvirXdrOps(const qvirXdrType *type)
{
    g_assert((gsize)type->kind < G_N_ELEMENTS(qvirXdrKinds));
    return &qvirXdrKinds[type->kind];
}

/* ---- entry points ------------------------------------------------------------------ */

gboolean
qvirXdrDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error)
{
    if (qvirXdrDecodeValue(rd, type, obj, error))
        return TRUE;
    qvirXdrClear(type, obj);
    return FALSE;
}

gboolean
qvirXdrEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error)
{
    return qvirXdrOps(type)->encode(buf, type, obj, error);
}

void
qvirXdrClear(const qvirXdrType *type, gpointer obj)
{
    qvirXdrFreeContents(type, obj);
    memset(obj, 0, type->size);
}
