/*
 * xdrtest.c: XDR encoding round trips, exact wire bytes, and every kind of
 * malformed input rejected with an error (never a crash or an over-read).
 */
#include <string.h>

#include "rpc/remote_dispatch.h"
#include "rpc/remote_protocol.h"
#include "rpc/rpc_packet.h"
#include "rpc/xdr.h"
#include "util/virerror.h"
#include "testutils.h"

static void
assertBytes(const GByteArray *buf, const guint8 *expect, gsize len)
{
    g_assert_cmpmem(buf->data, buf->len, expect, len);
}

static void
testWireBytes(void)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    static const guint8 ints[] = {0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xfe,
                                  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    static const guint8 str[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0};
    static const guint8 opt[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 'q', 'e', 'm', 'u'};
    static const guint8 uuid5[] = {1, 2, 3, 4, 5, 0, 0, 0};

    qvirXdrWriteU32(buf, 1);
    qvirXdrWriteInt(buf, -2);
    qvirXdrWriteU64(buf, 0x0102030405060708ull);
    assertBytes(buf, ints, sizeof(ints));

    g_byte_array_set_size(buf, 0);
    qvirXdrWriteString(buf, "abc");
    qvirXdrWriteString(buf, "");
    assertBytes(buf, str, sizeof(str));

    g_byte_array_set_size(buf, 0);
    qvirXdrWriteOptString(buf, NULL);
    qvirXdrWriteOptString(buf, "qemu");
    assertBytes(buf, opt, sizeof(opt));

    g_byte_array_set_size(buf, 0);
    qvirXdrWriteFixedOpaque(buf, uuid5, 5);
    assertBytes(buf, uuid5, sizeof(uuid5));
}

static void
testRoundTrip(void)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    static const char *const strings[] = {"", "a", "ab", "abc", "abcd", "abcde", "domain ünïcode"};
    guint8 uuid[16], uuidOut[16];
    qvirXdrReader rd;
    guint32 u;
    gint32 i;
    guint64 u64;
    gint64 i64;
    gboolean b;
    guint k;

    for (k = 0; k < sizeof(uuid); k++)
        uuid[k] = 0xf0 + k;
    qvirXdrWriteU32(buf, G_MAXUINT32);
    qvirXdrWriteInt(buf, G_MININT32);
    qvirXdrWriteU64(buf, G_MAXUINT64);
    qvirXdrWriteI64(buf, G_MININT64);
    qvirXdrWriteBool(buf, TRUE);
    qvirXdrWriteFixedOpaque(buf, uuid, sizeof(uuid));
    for (k = 0; k < G_N_ELEMENTS(strings); k++)
        qvirXdrWriteString(buf, strings[k]);
    qvirXdrWriteOptString(buf, NULL);
    qvirXdrWriteOptString(buf, "x");
    g_assert_cmpuint(buf->len % 4, ==, 0);

    qvirXdrReaderInit(&rd, buf->data, buf->len);
    g_assert_true(qvirXdrReadU32(&rd, &u, NULL));
    g_assert_cmpuint(u, ==, G_MAXUINT32);
    g_assert_true(qvirXdrReadInt(&rd, &i, NULL));
    g_assert_cmpint(i, ==, G_MININT32);
    g_assert_true(qvirXdrReadU64(&rd, &u64, NULL));
    g_assert_cmpuint(u64, ==, G_MAXUINT64);
    g_assert_true(qvirXdrReadI64(&rd, &i64, NULL));
    g_assert_cmpint(i64, ==, G_MININT64);
    g_assert_true(qvirXdrReadBool(&rd, &b, NULL));
    g_assert_true(b);
    g_assert_true(qvirXdrReadFixedOpaque(&rd, uuidOut, sizeof(uuidOut), NULL));
    g_assert_cmpmem(uuid, sizeof(uuid), uuidOut, sizeof(uuidOut));
    for (k = 0; k < G_N_ELEMENTS(strings); k++) {
        g_autofree char *s = NULL;

        g_assert_true(qvirXdrReadString(&rd, REMOTE_STRING_MAX, &s, NULL));
        g_assert_cmpstr(s, ==, strings[k]);
    }
    {
        static char marker;
        char *none = &marker;
        g_autofree char *x = NULL;

        g_assert_true(qvirXdrReadOptString(&rd, 16, &none, NULL));
        g_assert_null(none);
        g_assert_true(qvirXdrReadOptString(&rd, 16, &x, NULL));
        g_assert_cmpstr(x, ==, "x");
    }
    g_assert_true(qvirXdrReaderCheckEnd(&rd, NULL));
}

/* Every proper prefix of a valid encoding must fail cleanly, never over-read. */
static void
testTruncation(void)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    gsize cut;

    qvirXdrWriteU64(buf, 42);
    qvirXdrWriteString(buf, "hello");
    qvirXdrWriteOptString(buf, "world!");

    for (cut = 0; cut < buf->len; cut++) {
        /* A heap copy of exactly CUT bytes lets ASan catch any over-read. */
        g_autofree guint8 *copy = g_memdup2(buf->data, cut ? cut : 1);
        g_autoptr(GError) err = NULL;
        g_autofree char *s1 = NULL;
        g_autofree char *s2 = NULL;
        qvirXdrReader rd;
        guint64 v;
        gboolean ok;

        qvirXdrReaderInit(&rd, copy, cut);
        ok = qvirXdrReadU64(&rd, &v, &err) &&
             qvirXdrReadString(&rd, REMOTE_STRING_MAX, &s1, &err) &&
             qvirXdrReadOptString(&rd, REMOTE_STRING_MAX, &s2, &err);
        g_assert_false(ok);
        g_assert_error(err, QVIR_ERROR, QVIR_ERR_RPC);
        g_assert_cmpuint(rd.pos, <=, cut);
    }
}

static void
expectStringError(const guint8 *data, gsize len, guint32 max, const char *fragment)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *s = NULL;
    qvirXdrReader rd;

    qvirXdrReaderInit(&rd, data, len);
    g_assert_false(qvirXdrReadString(&rd, max, &s, &err));
    g_assert_null(s);
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_RPC);
    g_assert_nonnull(strstr(err->message, fragment));
}

static void
testMalformedStrings(void)
{
    static const guint8 huge[] = {0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd'};
    static const guint8 overMax[] = {0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e', 0, 0, 0};
    static const guint8 pastEnd[] = {0, 0, 0, 8, 'a', 'b', 'c', 'd'};
    static const guint8 noPad[] = {0, 0, 0, 3, 'a', 'b', 'c'};
    static const guint8 nul[] = {0, 0, 0, 4, 'a', 0, 'c', 'd'};
    static const guint8 badOpt[] = {0, 0, 0, 2, 0, 0, 0, 1, 'a', 0, 0, 0};
    g_autoptr(GError) err = NULL;
    g_autofree char *s = NULL;
    qvirXdrReader rd;

    expectStringError(huge, sizeof(huge), REMOTE_STRING_MAX, "exceeds the maximum");
    expectStringError(overMax, sizeof(overMax), 4, "exceeds the maximum");
    expectStringError(pastEnd, sizeof(pastEnd), REMOTE_STRING_MAX, "left");
    expectStringError(noPad, sizeof(noPad), REMOTE_STRING_MAX, "left");
    expectStringError(nul, sizeof(nul), REMOTE_STRING_MAX, "NUL");

    /* An optional's presence word is a bool: only 0 or 1. */
    qvirXdrReaderInit(&rd, badOpt, sizeof(badOpt));
    g_assert_false(qvirXdrReadOptString(&rd, 16, &s, &err));
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_RPC);
}

static void
testMalformedArrays(void)
{
    static const guint8 tooMany[] = {0, 0, 0x40, 0x01, 0, 0, 0, 0};
    static const guint8 noRoom[] = {0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2};
    static const guint8 fits[] = {0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};
    g_autoptr(GError) err1 = NULL;
    g_autoptr(GError) err2 = NULL;
    g_autoptr(GError) err3 = NULL;
    qvirXdrReader rd;
    guint32 n;

    qvirXdrReaderInit(&rd, tooMany, sizeof(tooMany));
    g_assert_false(qvirXdrReadArrayLen(&rd, 16384, 0, &n, &err1));
    g_assert_error(err1, QVIR_ERROR, QVIR_ERR_RPC);

    /* 3 ints need 12 bytes, only 8 are left: refused before anyone allocates. */
    qvirXdrReaderInit(&rd, noRoom, sizeof(noRoom));
    g_assert_false(qvirXdrReadArrayLen(&rd, 16384, 4, &n, &err2));
    g_assert_error(err2, QVIR_ERROR, QVIR_ERR_RPC);

    qvirXdrReaderInit(&rd, fits, sizeof(fits));
    g_assert_true(qvirXdrReadArrayLen(&rd, 16384, 4, &n, NULL));
    g_assert_cmpuint(n, ==, 2);
    g_assert_false(qvirXdrReaderCheckEnd(&rd, &err3));
    g_assert_error(err3, QVIR_ERROR, QVIR_ERR_RPC);
}

static void
testMalformedScalars(void)
{
    static const guint8 two[] = {0, 0, 0, 2};
    static const guint8 three[] = {1, 2, 3};
    g_autoptr(GError) err1 = NULL;
    g_autoptr(GError) err2 = NULL;
    g_autoptr(GError) err3 = NULL;
    qvirXdrReader rd;
    gboolean b;
    guint32 u;
    guint64 h;

    qvirXdrReaderInit(&rd, two, sizeof(two));
    g_assert_false(qvirXdrReadBool(&rd, &b, &err1));
    g_assert_error(err1, QVIR_ERROR, QVIR_ERR_RPC);

    qvirXdrReaderInit(&rd, three, sizeof(three));
    g_assert_false(qvirXdrReadU32(&rd, &u, &err2));
    g_assert_error(err2, QVIR_ERROR, QVIR_ERR_RPC);
    g_assert_cmpuint(rd.pos, ==, 0);

    qvirXdrReaderInit(&rd, two, sizeof(two));
    g_assert_false(qvirXdrReadU64(&rd, &h, &err3));
    g_assert_error(err3, QVIR_ERROR, QVIR_ERR_RPC);
}

/* Random bytes through every reader: errors are fine, crashes are not. */
static void
testRandomInput(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(20261121);
    guint iter;

    for (iter = 0; iter < 20000; iter++) {
        gsize len = g_rand_int_range(rand, 0, 48);
        g_autofree guint8 *data = g_malloc(len ? len : 1);
        qvirXdrReader rd;
        gsize k;

        for (k = 0; k < len; k++)
            data[k] = g_rand_int_range(rand, 0, 4) == 0
                          ? g_rand_int_range(rand, 0, 256)
                          : (k % 4 == 3 ? g_rand_int_range(rand, 0, 12) : 0);
        qvirXdrReaderInit(&rd, data, len);
        while (qvirXdrReaderRemaining(&rd) > 0) {
            g_autofree char *s = NULL;
            guint8 uuid[16];
            guint32 n;
            gboolean b;
            gboolean ok;

            switch (g_rand_int_range(rand, 0, 5)) {
            case 0:
                ok = qvirXdrReadString(&rd, 64, &s, NULL);
                break;
            case 1:
                ok = qvirXdrReadOptString(&rd, 64, &s, NULL);
                break;
            case 2:
                ok = qvirXdrReadFixedOpaque(&rd, uuid, sizeof(uuid), NULL);
                break;
            case 3:
                ok = qvirXdrReadArrayLen(&rd, 8, 4, &n, NULL);
                break;
            default:
                ok = qvirXdrReadBool(&rd, &b, NULL);
                break;
            }
            g_assert_cmpuint(rd.pos, <=, len);
            if (!ok)
                break;
        }
    }
}

static void
testHeaderAndLength(void)
{
    qvirRpcHeader hdr = {QVIR_RPC_REMOTE_PROGRAM, 1, 273, QVIR_RPC_CALL, 7, 0};
    qvirRpcHeader back;
    g_autoptr(GByteArray) pkt = qvirRpcPacketStart(&hdr);
    g_autoptr(GError) err1 = NULL;
    g_autoptr(GError) err2 = NULL;
    qvirXdrReader rd;
    guint32 len;

    qvirXdrWriteInt(pkt, 1);
    qvirXdrWriteU32(pkt, 0);
    g_assert_true(qvirRpcPacketFinish(pkt, NULL));
    g_assert_cmpuint(pkt->len, ==, 36);

    qvirXdrReaderInit(&rd, pkt->data, pkt->len);
    g_assert_true(qvirXdrReadU32(&rd, &len, NULL));
    g_assert_cmpuint(len, ==, 36);
    g_assert_true(qvirRpcPacketCheckLength(len, NULL));
    g_assert_true(qvirRpcHeaderDecode(&rd, &back, NULL));
    g_assert_cmpmem(&hdr, sizeof(hdr), &back, sizeof(back));

    g_assert_false(qvirRpcPacketCheckLength(27, &err1));
    g_assert_error(err1, QVIR_ERROR, QVIR_ERR_RPC);
    g_assert_true(qvirRpcPacketCheckLength(QVIR_RPC_PACKET_MAX, NULL));
    g_assert_false(qvirRpcPacketCheckLength(QVIR_RPC_PACKET_MAX + 1, &err2));
    g_assert_error(err2, QVIR_ERROR, QVIR_ERR_RPC);
}

static void
testErrorBody(void)
{
    qvirRpcHeader call = {QVIR_RPC_REMOTE_PROGRAM, 1, 23, QVIR_RPC_CALL, 99, 0};
    g_autoptr(GError) gerr =
        g_error_new(QVIR_ERROR, QVIR_ERR_NO_DOMAIN,
                    "Domain not found: no domain with matching name '%s'", "nope");
    g_autoptr(GError) other = g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_FAILED, "boom");
    g_autoptr(GByteArray) pkt = qvirRpcPacketNewError(&call, gerr, 10);
    g_autoptr(GByteArray) pkt2 = qvirRpcPacketNewError(&call, other, 10);
    qvirRpcError body = {0};
    qvirRpcError body2 = {0};
    qvirRpcHeader hdr;
    qvirXdrReader rd;
    guint32 len;

    qvirXdrReaderInit(&rd, pkt->data, pkt->len);
    g_assert_true(qvirXdrReadU32(&rd, &len, NULL));
    g_assert_cmpuint(len, ==, pkt->len);
    g_assert_true(qvirRpcHeaderDecode(&rd, &hdr, NULL));
    g_assert_cmpuint(hdr.type, ==, QVIR_RPC_REPLY);
    g_assert_cmpuint(hdr.status, ==, QVIR_RPC_STATUS_ERROR);
    g_assert_cmpuint(hdr.serial, ==, 99);
    g_assert_cmpint(hdr.procedure, ==, 23);
    g_assert_true(qvirRpcErrorDecode(&rd, &body, NULL));
    g_assert_true(qvirXdrReaderCheckEnd(&rd, NULL));
    g_assert_cmpint(body.code, ==, 42);
    g_assert_cmpint(body.domain, ==, 10);
    g_assert_cmpint(body.level, ==, QVIR_RPC_ERR_LEVEL_ERROR);
    g_assert_cmpstr(body.message, ==, "Domain not found: no domain with matching name 'nope'");

    /* Errors from outside our domain become libvirt's INTERNAL_ERROR. */
    qvirXdrReaderInit(&rd, pkt2->data + 28, pkt2->len - 28);
    g_assert_true(qvirRpcErrorDecode(&rd, &body2, NULL));
    g_assert_cmpint(body2.code, ==, QVIR_ERR_INTERNAL_ERROR);
    g_assert_cmpstr(body2.message, ==, "internal error: boom");

    qvirRpcErrorClear(&body);
    qvirRpcErrorClear(&body2);
}

/* ---- described types (remote_protocol.x through gen_protocol.py and xdr_type.c) ---- */

/* Encode OBJ of TYPE, decode it again, and encode that: the same bytes both times, and
 * every byte consumed. Returns the encoding. */
static GByteArray *
assertTypeRoundTrip(const qvirXdrType *type, gconstpointer obj)
{
    g_autofree guint8 *back = g_malloc0(type->size);
    g_autoptr(GByteArray) again = g_byte_array_new();
    GByteArray *buf = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    qvirXdrReader rd;

    g_assert_true(qvirXdrEncode(buf, type, obj, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(buf->len % 4, ==, 0);
    g_assert_cmpuint(buf->len, >=, type->minWire);
    qvirXdrReaderInit(&rd, buf->data, buf->len);
    g_assert_true(qvirXdrDecode(&rd, type, back, &err));
    g_assert_no_error(err);
    g_assert_true(qvirXdrReaderCheckEnd(&rd, NULL));
    g_assert_true(qvirXdrEncode(again, type, back, NULL));
    g_assert_cmpmem(buf->data, buf->len, again->data, again->len);
    qvirXdrClear(type, back);
    return buf;
}

/* A nested value with every kind the REMOTE program uses: arrays of structs holding
 * strings, fixed opaques and arrays of unions of every arm. */
static void
testTypeRoundTrip(void)
{
    remote_typed_param params[7] = {
        {.field = (char *)"i", .value = {.type = VIR_TYPED_PARAM_INT, .u.i = -5}},
        {.field = (char *)"ui", .value = {.type = VIR_TYPED_PARAM_UINT, .u.ui = 0xfffffff0u}},
        {.field = (char *)"l", .value = {.type = VIR_TYPED_PARAM_LLONG, .u.l = G_MININT64}},
        {.field = (char *)"ul", .value = {.type = VIR_TYPED_PARAM_ULLONG, .u.ul = G_MAXUINT64}},
        {.field = (char *)"d", .value = {.type = VIR_TYPED_PARAM_DOUBLE, .u.d = -2.5}},
        {.field = (char *)"b", .value = {.type = VIR_TYPED_PARAM_BOOLEAN, .u.b = 1}},
        {.field = (char *)"s", .value = {.type = VIR_TYPED_PARAM_STRING, .u.s = (char *)"str"}},
    };
    remote_domain_stats_record recs[2] = {
        {.dom = {.name = (char *)"one", .id = 3}, .params = {G_N_ELEMENTS(params), params}},
        {.dom = {.name = (char *)"two", .id = -1}},
    };
    remote_connect_get_all_domain_stats_ret ret = {.retStats = {2, recs}};
    g_autoptr(GByteArray) buf = NULL;
    /* the double's IEEE bits, big-endian, after field "d" and its discriminant 5 */
    static const guint8 minus2p5[] = {0, 0, 0,    1,    'd', 0, 0, 0, 0, 0,
                                      0, 5, 0xc0, 0x04, 0,   0, 0, 0, 0, 0};

    memset(recs[0].dom.uuid, 0xab, sizeof(recs[0].dom.uuid));
    buf = assertTypeRoundTrip(&remote_connect_get_all_domain_stats_ret_type, &ret);
    g_assert_nonnull(memmem(buf->data, buf->len, minus2p5, sizeof(minus2p5)));
}

/* chars and shorts take a word each; a fixed char array is a word per char. */
static void
testTypeWireBytes(void)
{
    remote_domain_get_info_ret info = {
        .state = 5, .maxMem = 0x0102030405060708ull, .nrVirtCpu = 0xfffe, .cpuTime = 9};
    static const guint8 infoBytes[] = {0, 0, 0, 5, 1, 2, 3,    4,    5, 6, 7, 8, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 9};
    remote_node_get_info_ret node = {.model = "x86_64", .cpus = 2};
    g_autoptr(GByteArray) a = assertTypeRoundTrip(&remote_domain_get_info_ret_type, &info);
    g_autoptr(GByteArray) b = assertTypeRoundTrip(&remote_node_get_info_ret_type, &node);

    g_assert_cmpmem(a->data, a->len, infoBytes, sizeof(infoBytes));
    g_assert_cmpuint(b->len, ==, 32 * 4 + 8 + 6 * 4);
    /* what owns no memory is cleared by zeroing alone */
    g_assert_true(remote_domain_get_info_ret_type.plain);
    g_assert_true(remote_node_get_info_ret_type.plain);
    g_assert_false(remote_nonnull_domain_type.plain);
    g_assert_false(remote_typed_param_value_type.plain);
    g_assert_cmpuint(b->data[3], ==, 'x');
    g_assert_cmpuint(b->data[7], ==, '8');
    g_assert_cmpuint(b->data[4 * 5 + 3], ==, '4');
}

/* Decoding TYPE from DATA fails with a QVIR_ERR_RPC naming FRAGMENT, leaving the object
 * all zero (and nothing allocated: ASan's leak check). */
static void
assertTypeDecodeFails(const qvirXdrType *type, const guint8 *data, gsize len, const char *fragment)
{
    g_autofree guint8 *obj = g_malloc0(type->size);
    g_autofree guint8 *zero = g_malloc0(type->size);
    g_autoptr(GError) err = NULL;
    qvirXdrReader rd;

    qvirXdrReaderInit(&rd, data, len);
    g_assert_false(qvirXdrDecode(&rd, type, obj, &err));
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_RPC);
    if (!strstr(err->message, fragment))
        g_error("'%s' lacks '%s'", err->message, fragment);
    g_assert_cmpmem(obj, type->size, zero, type->size);
}

/* The limits of the description hold both ways; a bad discriminant or a char out of
 * range is refused. */
static void
testTypeLimits(void)
{
    /* 2049 messages: REMOTE_DOMAIN_MESSAGES_MAX is 2048 */
    static const guint8 tooMany[] = {0, 0, 0x08, 0x01, 0, 0, 0, 0};
    /* 3 strings announced, room for 2 */
    static const guint8 noRoom[] = {0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0};
    static const guint8 badArm[] = {0, 0, 0, 1, 'x', 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0};
    static const guint8 bigChar[] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const guint8 badOptional[] = {0, 0, 0, 0, 0, 0, 0, 2};
    g_autofree char **msgs = g_new0(char *, REMOTE_DOMAIN_MESSAGES_MAX + 1);
    remote_domain_get_messages_ret over = {.msgs = {REMOTE_DOMAIN_MESSAGES_MAX + 1, msgs}};
    remote_typed_param bad = {.field = (char *)"f", .value = {.type = 8}};
    remote_connect_get_type_ret missing = {0};
    g_autoptr(GByteArray) buf = g_byte_array_new();
    g_autoptr(GError) err1 = NULL;
    g_autoptr(GError) err2 = NULL;
    g_autoptr(GError) err3 = NULL;

    assertTypeDecodeFails(&remote_domain_get_messages_ret_type, tooMany, sizeof(tooMany),
                          "exceeds the maximum of 2048");
    assertTypeDecodeFails(&remote_domain_get_messages_ret_type, noRoom, sizeof(noRoom),
                          "does not fit");
    assertTypeDecodeFails(&remote_typed_param_type, badArm, sizeof(badArm), "has no case 8");
    assertTypeDecodeFails(&remote_domain_get_info_ret_type, bigChar, sizeof(bigChar),
                          "does not fit in guint8");
    assertTypeDecodeFails(&remote_connect_domain_event_callback_register_any_args_type, badOptional,
                          sizeof(badOptional), "boolean");

    for (guint i = 0; i <= REMOTE_DOMAIN_MESSAGES_MAX; i++)
        msgs[i] = (char *)"m";
    g_assert_false(qvirXdrEncode(buf, &remote_domain_get_messages_ret_type, &over, &err1));
    g_assert_error(err1, QVIR_ERROR, QVIR_ERR_RPC);
    g_assert_false(qvirXdrEncode(buf, &remote_typed_param_type, &bad, &err2));
    g_assert_error(err2, QVIR_ERROR, QVIR_ERR_RPC);
    /* a remote_nonnull_string that is NULL is a bug of the handler, not a crash */
    g_assert_false(qvirXdrEncode(buf, &remote_connect_get_type_ret_type, &missing, &err3));
    g_assert_error(err3, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
}

/* Every proper prefix of a nested encoding fails and frees what it had decoded. */
static void
testTypeTruncation(void)
{
    remote_nonnull_domain dom = {.name = (char *)"guest", .id = 7};
    remote_connect_domain_event_callback_register_any_args reg = {.eventID = 8, .dom = &dom};
    remote_typed_param params[2] = {
        {.field = (char *)"block.0.name", .value = {.type = VIR_TYPED_PARAM_STRING, .u.s = "vda"}},
        {.field = (char *)"x", .value = {.type = VIR_TYPED_PARAM_ULLONG, .u.ul = 1}},
    };
    remote_domain_stats_record rec = {.dom = dom, .params = {2, params}};
    remote_connect_get_all_domain_stats_ret stats = {.retStats = {1, &rec}};
    const struct {
        const qvirXdrType *type;
        gconstpointer obj;
    } cases[] = {
        {&remote_connect_domain_event_callback_register_any_args_type, &reg},
        {&remote_connect_get_all_domain_stats_ret_type, &stats},
    };

    for (guint c = 0; c < G_N_ELEMENTS(cases); c++) {
        g_autoptr(GByteArray) buf = assertTypeRoundTrip(cases[c].type, cases[c].obj);

        for (gsize cut = 0; cut < buf->len; cut++) {
            g_autofree guint8 *copy = g_memdup2(buf->data, cut ? cut : 1);

            assertTypeDecodeFails(cases[c].type, copy, cut, "");
        }
    }
}

/* The procedure table: names for errors and logs, the types of each served procedure. */
static void
testProcedureTable(void)
{
    guint served = 0;

    g_assert_cmpuint(G_N_ELEMENTS(remote_procedure_table), ==, REMOTE_PROC_LAST);
    g_assert_cmpstr(qvirRemoteProcName(REMOTE_PROC_DOMAIN_GET_XML_DESC), ==, "virDomainGetXMLDesc");
    g_assert_cmpstr(qvirRemoteProcName(REMOTE_PROC_NODE_DEVICE_LOOKUP_SCSI_HOST_BY_WWN), ==,
                    "virNodeDeviceLookupSCSIHostByWWN");
    g_assert_cmpstr(qvirRemoteProcName(443), ==, "virDomainFDAssociate");
    g_assert_null(qvirRemoteProcName(0));
    g_assert_null(qvirRemoteProcName(REMOTE_PROC_LAST));
    for (guint i = 1; i < REMOTE_PROC_LAST; i++) {
        const qvirRpcProcedure *p = &remote_procedure_table[i];

        g_assert_true(g_str_has_prefix(p->name, "vir"));
        if (!(p->flags & QVIR_RPC_PROC_SERVED)) {
            g_assert_null(p->handler);
            continue;
        }
        served++;
        g_assert_nonnull(p->handler);
        g_assert_null(p->msg);
    }
    g_assert_cmpuint(served, ==, qvirRemoteNumProcedures());
    /* 91, then 18 for issue 17's verbs, 41 for the storage driver (issue 12), domain
     * capabilities and block copy, 12 for secrets (issue 14), 10 for live migration and its
     * job (issue 15), snapshot revert, block I/O tuning (get, set), the block threshold and
     * a block job's speed, autostart (set), the security label, vCPU info and pinning
     * and the host CPU map */
    g_assert_cmpuint(served, ==, 184);
    /* every migration phase changes a domain: read-write connections only */
    g_assert_true(remote_procedure_table[REMOTE_PROC_DOMAIN_MIGRATE_BEGIN3_PARAMS].flags &
                  QVIR_RPC_PROC_WRITE);
    g_assert_true(remote_procedure_table[REMOTE_PROC_DOMAIN_MIGRATE_PREPARE3_PARAMS].flags &
                  QVIR_RPC_PROC_WRITE);
    g_assert_false(remote_procedure_table[REMOTE_PROC_DOMAIN_GET_JOB_INFO].flags &
                   QVIR_RPC_PROC_WRITE);
    /* opening a console and reading a save image's XML: as libvirt's ACLs */
    g_assert_true(remote_procedure_table[REMOTE_PROC_DOMAIN_OPEN_CONSOLE].flags &
                  QVIR_RPC_PROC_WRITE);
    g_assert_false(remote_procedure_table[REMOTE_PROC_DOMAIN_SAVE_IMAGE_GET_XML_DESC].flags &
                   QVIR_RPC_PROC_WRITE);
    g_assert_true(remote_procedure_table[REMOTE_PROC_STORAGE_VOL_UPLOAD].flags &
                  QVIR_RPC_PROC_WRITE);
    g_assert_true(remote_procedure_table[REMOTE_PROC_STORAGE_VOL_DOWNLOAD].flags &
                  QVIR_RPC_PROC_WRITE);
    g_assert_false(remote_procedure_table[REMOTE_PROC_STORAGE_VOL_GET_XML_DESC].flags &
                   QVIR_RPC_PROC_WRITE);
    g_assert_true(remote_procedure_table[REMOTE_PROC_STORAGE_POOL_DEFINE_XML].flags &
                  QVIR_RPC_PROC_WRITE);
    g_assert_true(remote_procedure_table[REMOTE_PROC_CONNECT_OPEN].flags & QVIR_RPC_PROC_PREOPEN);
    g_assert_true(remote_procedure_table[REMOTE_PROC_DOMAIN_DESTROY].flags & QVIR_RPC_PROC_WRITE);
    g_assert_false(remote_procedure_table[REMOTE_PROC_DOMAIN_GET_STATE].flags &
                   QVIR_RPC_PROC_WRITE);
    g_assert_true(remote_procedure_table[REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2].msg ==
                  &remote_domain_event_block_job_2_msg_type);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xdr/wire-bytes", testWireBytes);
    g_test_add_func("/xdr/round-trip", testRoundTrip);
    g_test_add_func("/xdr/truncation", testTruncation);
    g_test_add_func("/xdr/malformed-strings", testMalformedStrings);
    g_test_add_func("/xdr/malformed-arrays", testMalformedArrays);
    g_test_add_func("/xdr/malformed-scalars", testMalformedScalars);
    g_test_add_func("/xdr/random-input", testRandomInput);
    g_test_add_func("/rpc/header-and-length", testHeaderAndLength);
    g_test_add_func("/rpc/error-body", testErrorBody);
    g_test_add_func("/xdr/type/round-trip", testTypeRoundTrip);
    g_test_add_func("/xdr/type/wire-bytes", testTypeWireBytes);
    g_test_add_func("/xdr/type/limits", testTypeLimits);
    g_test_add_func("/xdr/type/truncation", testTypeTruncation);
    g_test_add_func("/xdr/type/procedure-table", testProcedureTable);
    return g_test_run();
}
