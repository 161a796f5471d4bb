/*
 * xdrtest.c: XDR encoding round trips, exact wire bytes, and every kind of
 * malformed input rejected with an error (never a crash or an over-read).
 */
#include <string.h>

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

        g_assert_true(qvirXdrReadString(&rd, QVIR_XDR_STRING_MAX, &s, NULL));
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
             qvirXdrReadString(&rd, QVIR_XDR_STRING_MAX, &s1, &err) &&
             qvirXdrReadOptString(&rd, QVIR_XDR_STRING_MAX, &s2, &err);
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

    expectStringError(huge, sizeof(huge), QVIR_XDR_STRING_MAX, "exceeds the maximum");
    expectStringError(overMax, sizeof(overMax), 4, "exceeds the maximum");
    expectStringError(pastEnd, sizeof(pastEnd), QVIR_XDR_STRING_MAX, "left");
    expectStringError(noPad, sizeof(noPad), QVIR_XDR_STRING_MAX, "left");
    expectStringError(nul, sizeof(nul), QVIR_XDR_STRING_MAX, "NUL");

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

    g_free(body.message);
    g_free(body.str1);
    g_free(body2.message);
    g_free(body2.str1);
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
    return g_test_run();
}
