/*
 * xdr.h: the subset of XDR (RFC 4506) libvirt's remote protocol uses.
 *
 * Everything is big-endian in 4-byte units: int/unsigned/enum/bool/char/short
 * take one word, hyper two; strings and variable opaques are a length word,
 * the bytes, and zero padding to a multiple of 4; an optional value
 * ("type *name" in the .x files) is a 0/1 word followed by the value.
 *
 * The reader never trusts the packet: every length is checked against both
 * the bytes left and the protocol's declared maximum before anything is
 * allocated, and a failed read leaves a GError (QVIR_ERR_RPC) instead of
 * partial data. Strings must not contain NUL bytes, since they become C strings.
 */
#pragma once

#include <glib.h>

typedef struct {
    const guint8 *data;
    gsize len;
    gsize pos;
} qvirXdrReader;

void qvirXdrReaderInit(qvirXdrReader *rd, const guint8 *data, gsize len);
gsize qvirXdrReaderRemaining(const qvirXdrReader *rd);

gboolean qvirXdrReadU32(qvirXdrReader *rd, guint32 *val, GError **error);
gboolean qvirXdrReadInt(qvirXdrReader *rd, gint32 *val, GError **error);
gboolean qvirXdrReadU64(qvirXdrReader *rd, guint64 *val, GError **error);
gboolean qvirXdrReadI64(qvirXdrReader *rd, gint64 *val, GError **error);
/* XDR bool: exactly 0 or 1, anything else is malformed. */
gboolean qvirXdrReadBool(qvirXdrReader *rd, gboolean *val, GError **error);
/* Fixed-length opaque (e.g. a UUID): LEN bytes plus padding. */
gboolean qvirXdrReadFixedOpaque(qvirXdrReader *rd, guint8 *buf, gsize len, GError **error);
/* A string of at most MAXLEN bytes; *val is a new NUL-terminated copy. */
gboolean qvirXdrReadString(qvirXdrReader *rd, guint32 maxlen, char **val, GError **error);
/* "string *" : *val is NULL when absent. */
gboolean qvirXdrReadOptString(qvirXdrReader *rd, guint32 maxlen, char **val, GError **error);
/* The count word of a variable-length array, checked against MAX and against
 * the bytes left (each element takes at least MINELEMSIZE bytes). */
gboolean qvirXdrReadArrayLen(qvirXdrReader *rd, guint32 max, gsize minElemSize, guint32 *count,
                             GError **error);
/* Arguments must be consumed exactly: trailing bytes mean a mismatched struct. */
gboolean qvirXdrReaderCheckEnd(const qvirXdrReader *rd, GError **error);

/* The writer appends to a GByteArray; it cannot fail except on a string that
 * exceeds the protocol maximum, which callers check before sending. */
void qvirXdrWriteU32(GByteArray *buf, guint32 val);
void qvirXdrWriteInt(GByteArray *buf, gint32 val);
void qvirXdrWriteU64(GByteArray *buf, guint64 val);
void qvirXdrWriteI64(GByteArray *buf, gint64 val);
void qvirXdrWriteBool(GByteArray *buf, gboolean val);
void qvirXdrWriteFixedOpaque(GByteArray *buf, const guint8 *data, gsize len);
void qvirXdrWriteString(GByteArray *buf, const char *str);
void qvirXdrWriteOptString(GByteArray *buf, const char *str);

/* Store VAL big-endian at OFFSET of an already written buffer (length words). */
void qvirXdrPatchU32(GByteArray *buf, gsize offset, guint32 val);

/*
 * Whole types, from a description (the .x files of src/rpc, compiled by gen_protocol.py into
 * tables of qvirXdrType): one codec walks the table, so every struct, array, union and
 * optional value of the protocol is read, written and freed by the same checked code.
 *
 * C layout of each kind (what the generator declares):
 *   scalars          gint32/guint32/gint64/guint64/gboolean/gint8/guint8/gint16/guint16/double
 *   STRING           char *              (never NULL once decoded)
 *   OPT_STRING       char *              (NULL when absent: "string *name")
 *   OPAQUE_FIXED     guint8 name[max]
 *   OPAQUE_VAR       struct { guint32 len; guint8 *val; }
 *   STRUCT           the fields at their offsets
 *   UNION            gint32 discriminant at offset 0, the arms at their own offsets
 *   OPTIONAL         T *                 (NULL when absent)
 *   ARRAY_FIXED      T name[max]
 *   ARRAY_VAR        struct { guint32 len; T *val; }
 */
typedef enum {
    QVIR_XDR_KIND_INT,
    QVIR_XDR_KIND_UINT,
    QVIR_XDR_KIND_HYPER,
    QVIR_XDR_KIND_UHYPER,
    QVIR_XDR_KIND_BOOL,
    QVIR_XDR_KIND_CHAR,
    QVIR_XDR_KIND_UCHAR,
    QVIR_XDR_KIND_SHORT,
    QVIR_XDR_KIND_USHORT,
    QVIR_XDR_KIND_DOUBLE,
    QVIR_XDR_KIND_STRING,
    QVIR_XDR_KIND_OPT_STRING,
    QVIR_XDR_KIND_OPAQUE_FIXED,
    QVIR_XDR_KIND_OPAQUE_VAR,
    QVIR_XDR_KIND_STRUCT,
    QVIR_XDR_KIND_UNION,
    QVIR_XDR_KIND_OPTIONAL,
    QVIR_XDR_KIND_ARRAY_FIXED,
    QVIR_XDR_KIND_ARRAY_VAR,
} qvirXdrKind;

typedef struct _qvirXdrType qvirXdrType;

/* A struct member, or a union arm (VALUE is then its discriminant value). */
typedef struct {
    const char *name;
    gint32 value;
    gsize offset;
    const qvirXdrType *type;
} qvirXdrMember;

struct _qvirXdrType {
    const char *name;
    qvirXdrKind kind;
    gsize size;              /* of the C object */
    guint32 max;             /* the limit of a string, opaque or array; the count of a fixed one */
    gsize minWire;           /* the fewest bytes an encoding takes: a count is checked against it
                              * before anything is allocated */
    gboolean plain;          /* the C object owns no memory: clearing it is zeroing it */
    const qvirXdrType *elem; /* OPTIONAL, ARRAY_FIXED, ARRAY_VAR */
    const qvirXdrMember *members; /* STRUCT fields, UNION arms */
    guint nmembers;
};

extern const qvirXdrType qvirXdrTypeInt;
extern const qvirXdrType qvirXdrTypeUInt;
extern const qvirXdrType qvirXdrTypeHyper;
extern const qvirXdrType qvirXdrTypeUHyper;
extern const qvirXdrType qvirXdrTypeBool;
extern const qvirXdrType qvirXdrTypeChar;
extern const qvirXdrType qvirXdrTypeUChar;
extern const qvirXdrType qvirXdrTypeShort;
extern const qvirXdrType qvirXdrTypeUShort;
extern const qvirXdrType qvirXdrTypeDouble;

/* Decode one TYPE into OBJ (TYPE->size bytes; all zero on entry). On failure OBJ is
 * all zero again, with nothing left allocated. */
gboolean qvirXdrDecode(qvirXdrReader *rd, const qvirXdrType *type, gpointer obj, GError **error);
/* Append OBJ's encoding; FALSE (BUF then holds a partial encoding) when a string or
 * array is over its limit or a union has no arm for its discriminant. */
gboolean qvirXdrEncode(GByteArray *buf, const qvirXdrType *type, gconstpointer obj, GError **error);
/* Free what OBJ owns and zero it. */
void qvirXdrClear(const qvirXdrType *type, gpointer obj);
