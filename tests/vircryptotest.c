/* AES-256-CBC against FIPS-197 / SP 800-38A vectors, openssl enc and QEMU's own secret
 * decryption; random bytes. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "testutils.h"
#include "util/vircrypto.h"
#include "util/virerror.h"

static guint8 *
hexDecode(const char *hex, gsize *len)
{
    gsize n = strlen(hex) / 2;
    guint8 *buf = g_malloc(n + 1);

    for (gsize i = 0; i < n; i++)
        buf[i] = (guint8)((g_ascii_xdigit_value(hex[2 * i]) << 4) |
                          g_ascii_xdigit_value(hex[2 * i + 1]));
    *len = n;
    return buf;
}

static char *
hexEncode(const guint8 *buf, gsize len)
{
    GString *s = g_string_new(NULL);

    for (gsize i = 0; i < len; i++)
        g_string_append_printf(s, "%02x", buf[i]);
    return g_string_free(s, FALSE);
}

/* FIPS-197 appendix C.3: one block, AES-256. With a zero IV the first CBC block is the
 * bare block cipher. */
static void
testFips197(void)
{
    gsize klen, plen;
    g_autofree guint8 *key = hexDecode("000102030405060708090a0b0c0d0e0f"
                                       "101112131415161718191a1b1c1d1e1f",
                                       &klen);
    g_autofree guint8 *pt = hexDecode("00112233445566778899aabbccddeeff", &plen);
    guint8 iv[16] = {0};
    g_autofree guint8 *out = NULL;
    g_autofree guint8 *back = NULL;
    g_autofree char *hex = NULL;
    gsize outlen = 0, backlen = 0;
    g_autoptr(GError) error = NULL;

    g_assert_true(qvirCryptoAES256CBCEncrypt(key, iv, pt, plen, &out, &outlen, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(outlen, ==, 32);
    hex = hexEncode(out, 16);
    g_assert_cmpstr(hex, ==, "8ea2b7ca516745bfeafc49904b496089");
    g_assert_true(qvirCryptoAES256CBCDecrypt(key, iv, out, outlen, &back, &backlen, &error));
    g_assert_cmpuint(backlen, ==, 16);
    g_assert_cmpmem(back, backlen, pt, plen);
}

/* SP 800-38A F.2.5 / F.2.6 CBC-AES256: four blocks; our output has a fifth, the padding. */
static void
testSp80038a(void)
{
    gsize klen, ivlen, plen, clen;
    g_autofree guint8 *key =
        hexDecode("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", &klen);
    g_autofree guint8 *iv = hexDecode("000102030405060708090a0b0c0d0e0f", &ivlen);
    g_autofree guint8 *pt = hexDecode("6bc1bee22e409f96e93d7e117393172a"
                                      "ae2d8a571e03ac9c9eb76fac45af8e51"
                                      "30c81c46a35ce411e5fbc1191a0a52ef"
                                      "f69f2445df4f9b17ad2b417be66c3710",
                                      &plen);
    g_autofree guint8 *ct = hexDecode("f58c4c04d6e5f1ba779eabfb5f7bfbd6"
                                      "9cfc4e967edb808d679f777bc6702c7d"
                                      "39f23369a9d9bacfa530e26304231461"
                                      "b2eb05e2c39be9fcda6c19078c6a9d1b",
                                      &clen);
    g_autofree guint8 *out = NULL;
    g_autofree guint8 *back = NULL;
    gsize outlen = 0, backlen = 0;
    g_autoptr(GError) error = NULL;

    g_assert_true(qvirCryptoAES256CBCEncrypt(key, iv, pt, plen, &out, &outlen, &error));
    g_assert_cmpuint(outlen, ==, plen + 16);
    g_assert_cmpmem(out, clen, ct, clen);
    g_assert_true(qvirCryptoAES256CBCDecrypt(key, iv, out, outlen, &back, &backlen, &error));
    g_assert_no_error(error);
    g_assert_cmpmem(back, backlen, pt, plen);
    g_assert_cmpint(back[backlen], ==, '\0');
}

/* Every length from 0 to 80 against `openssl enc -aes-256-cbc`, both ways. */
static void
testOpenssl(void)
{
    g_autofree char *dir = qvirTestTempDirNew("vircryptotest");
    g_autofree char *inPath = g_build_filename(dir, "in", NULL);
    g_autofree char *encPath = g_build_filename(dir, "enc", NULL);
    guint8 key[32], iv[16], data[80];
    g_autofree char *keyHex = NULL;
    g_autofree char *ivHex = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(qvirCryptoRandomBytes(key, sizeof(key), &error));
    g_assert_true(qvirCryptoRandomBytes(iv, sizeof(iv), &error));
    g_assert_true(qvirCryptoRandomBytes(data, sizeof(data), &error));
    g_assert_no_error(error);
    keyHex = hexEncode(key, sizeof(key));
    ivHex = hexEncode(iv, sizeof(iv));

    for (gsize len = 0; len <= sizeof(data); len++) {
        const char *encArgv[] = {"openssl", "enc", "-aes-256-cbc", "-K",   keyHex,  "-iv",
                                 ivHex,     "-in", inPath,         "-out", encPath, NULL};
        const char *decArgv[] = {"openssl", "enc", "-d",  "-aes-256-cbc", "-K", keyHex,
                                 "-iv",     ivHex, "-in", encPath,        NULL};
        g_autofree guint8 *ours = NULL;
        g_autofree char *theirs = NULL;
        g_autofree char *plain = NULL;
        g_autofree char *err = NULL;
        gsize ourlen = 0, theirlen = 0;

        g_assert_true(g_file_set_contents(inPath, (const char *)data, len, NULL));
        qvirTestRunOk(encArgv);
        g_assert_true(g_file_get_contents(encPath, &theirs, &theirlen, NULL));
        g_assert_true(qvirCryptoAES256CBCEncrypt(key, iv, data, len, &ours, &ourlen, &error));
        g_assert_cmpmem(ours, ourlen, theirs, theirlen);

        /* and openssl reads back what we wrote (a flipped padding byte would fail here) */
        g_assert_true(g_file_set_contents(encPath, (const char *)ours, ourlen, NULL));
        g_assert_cmpint(qvirTestRun(decArgv, &plain, &err), ==, 0);
        g_assert_cmpmem(plain, len, data, len);
    }
    qvirTestTempDirRemove(dir);
}

/*
 * What the netdisk code does with it: QEMU's "-object secret,data=...,keyid=K,iv=..."
 * decrypts with K. Create a LUKS image whose passphrase is given that way, then open it
 * with the passphrase in clear (qemu-io reads a sector; 'qemu-img info' opens LUKS without
 * the key): only a correct encryption makes the two agree.
 */
static void
testQemuSecret(void)
{
    g_autofree char *dir = qvirTestTempDirNew("vircryptotest");
    g_autofree char *keyPath = g_build_filename(dir, "master-key.aes", NULL);
    g_autofree char *img = g_build_filename(dir, "disk.luks", NULL);
    const char *value = "a passphrase that is not a multiple of sixteen";
    guint8 key[32], iv[16];
    g_autofree guint8 *enc = NULL;
    gsize enclen = 0;
    g_autofree char *encB64 = NULL;
    g_autofree char *ivB64 = NULL;
    g_autofree char *masterObj = NULL;
    g_autofree char *secObj = NULL;
    g_autofree char *plainObj = NULL;
    g_autofree char *wrongObj = NULL;
    g_autofree char *imageOpts = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(qvirCryptoRandomBytes(key, sizeof(key), &error));
    g_assert_true(qvirCryptoRandomBytes(iv, sizeof(iv), &error));
    g_assert_true(g_file_set_contents(keyPath, (const char *)key, sizeof(key), NULL));
    g_assert_true(qvirCryptoAES256CBCEncrypt(key, iv, (const guint8 *)value, strlen(value), &enc,
                                             &enclen, &error));
    encB64 = g_base64_encode(enc, enclen);
    ivB64 = g_base64_encode(iv, sizeof(iv));
    masterObj = g_strdup_printf("secret,id=masterKey0,format=raw,file=%s", keyPath);
    secObj = g_strdup_printf("secret,id=sec0,data=%s,keyid=masterKey0,iv=%s,format=base64", encB64,
                             ivB64);
    plainObj = g_strdup_printf("secret,id=plain0,data=%s", value);
    wrongObj = g_strdup("secret,id=plain0,data=not the passphrase");
    imageOpts = g_strdup_printf("driver=luks,key-secret=plain0,file.filename=%s", img);

    {
        const char *argv[] = {"qemu-img",
                              "create",
                              "-q",
                              "--object",
                              masterObj,
                              "--object",
                              secObj,
                              "-f",
                              "luks",
                              "-o",
                              "key-secret=sec0,iter-time=10",
                              img,
                              "1M",
                              NULL};
        qvirTestRunOk(argv);
    }
    {
        const char *argv[] = {"qemu-io", "--object", plainObj,     "--image-opts",
                              imageOpts, "-c",       "read 0 512", NULL};
        g_autofree char *out = NULL;
        g_autofree char *perr = NULL;

        g_assert_cmpint(qvirTestRun(argv, &out, &perr), ==, 0);
        g_assert_nonnull(strstr(out, "read 512/512 bytes at offset 0"));
    }
    {
        const char *argv[] = {"qemu-io", "--object", wrongObj,     "--image-opts",
                              imageOpts, "-c",       "read 0 512", NULL};
        g_assert_cmpint(qvirTestRun(argv, NULL, &err), !=, 0);
        g_assert_nonnull(strstr(err, "Invalid password"));
    }
    qvirTestTempDirRemove(dir);
}

static void
testDecryptRefuses(void)
{
    guint8 key[32] = {1}, iv[16] = {2}, other[32] = {3};
    const char *value = "secret value";
    g_autofree guint8 *enc = NULL;
    guint8 *out = NULL;
    gsize enclen = 0, outlen = 0;
    g_autoptr(GError) error = NULL;
    gboolean wrongKeyFailed = FALSE;

    g_assert_true(qvirCryptoAES256CBCEncrypt(key, iv, (const guint8 *)value, strlen(value), &enc,
                                             &enclen, &error));
    g_assert_cmpuint(enclen, ==, 16);

    g_assert_false(qvirCryptoAES256CBCDecrypt(key, iv, enc, 0, &out, &outlen, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED);
    g_clear_error(&error);
    g_assert_false(qvirCryptoAES256CBCDecrypt(key, iv, enc, 15, &out, &outlen, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED);
    g_clear_error(&error);
    g_assert_null(out);

    /* A wrong key gives valid padding by chance about once in 256 tries; try several keys
     * and demand that at least one is refused and none returns the value. */
    for (guint8 k = 3; k < 13; k++) {
        other[0] = k;
        if (!qvirCryptoAES256CBCDecrypt(other, iv, enc, enclen, &out, &outlen, &error)) {
            g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED);
            g_assert_nonnull(strstr(error->message, "padding"));
            g_clear_error(&error);
            wrongKeyFailed = TRUE;
        } else {
            g_assert_false(outlen == strlen(value) && memcmp(out, value, outlen) == 0);
            g_clear_pointer(&out, g_free);
        }
    }
    g_assert_true(wrongKeyFailed);

    g_assert_false(qvirCryptoAES256CBCEncrypt(key, iv, NULL, 4, &out, &outlen, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
}

static void
testRandom(void)
{
    guint8 a[64] = {0}, b[64] = {0}, zero[64] = {0};
    g_autoptr(GError) error = NULL;

    g_assert_true(qvirCryptoRandomBytes(a, sizeof(a), &error));
    g_assert_true(qvirCryptoRandomBytes(b, sizeof(b), &error));
    g_assert_no_error(error);
    g_assert_true(memcmp(a, b, sizeof(a)) != 0);
    g_assert_true(memcmp(a, zero, sizeof(a)) != 0);
    qvirCryptoWipe(a, sizeof(a));
    g_assert_cmpmem(a, sizeof(a), zero, sizeof(zero));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/aes256/fips197", testFips197);
    g_test_add_func("/crypto/aes256cbc/sp800-38a", testSp80038a);
    g_test_add_func("/crypto/aes256cbc/openssl", testOpenssl);
    g_test_add_func("/crypto/aes256cbc/qemu-secret", testQemuSecret);
    g_test_add_func("/crypto/aes256cbc/refuses", testDecryptRefuses);
    g_test_add_func("/crypto/random", testRandom);
    return g_test_run();
}
