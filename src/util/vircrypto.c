/*
 * vircrypto.c: AES-256 (FIPS-197) in CBC mode (SP 800-38A) with PKCS#7 padding.
 *
 * A byte-oriented implementation: the S-box is derived once from its definition (the
 * multiplicative inverse in GF(2^8) followed by the affine map) rather than typed in, so
 * there is no 256-entry table to get wrong. It is not hardened against cache-timing
 * observers; the keys it protects (the daemon's at-rest key, a domain's master key) never
 * meet data an attacker chooses and times.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/vircrypto.h"
#include "util/virerror.h"

#define AES256_ROUNDS 14
#define AES256_KEY_WORDS 8
#define AES_ROUND_KEYS_LEN (QVIR_CRYPTO_AES_BLOCK_LEN * (AES256_ROUNDS + 1))

static guint8 aesSbox[256];
static guint8 aesInvSbox[256];

/* Multiplication by x (that is, 2) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1. */
static guint8
aesXtime(guint8 a)
{
    return (guint8)((a << 1) ^ ((a & 0x80) ? 0x1b : 0x00));
}

/* MixColumns on one column: 2a0+3a1+a2+a3 == a0 + all + 2(a0+a1), and so on round. */
static void
aesMixColumn(guint8 a[4])
{
    guint8 all = a[0] ^ a[1] ^ a[2] ^ a[3];
    guint8 a0 = a[0];

    a[0] ^= all ^ aesXtime(a[0] ^ a[1]);
    a[1] ^= all ^ aesXtime(a[1] ^ a[2]);
    a[2] ^= all ^ aesXtime(a[2] ^ a[3]);
    a[3] ^= all ^ aesXtime(a[3] ^ a0);
}

static guint8
aesRotl8(guint8 v, unsigned int n)
{
    return (guint8)((v << n) | (v >> (8 - n)));
}

static void
aesInitTables(void)
{
    static gsize done;
    guint8 expTab[256];
    guint8 logTab[256] = {0};
    guint8 v = 1;

    if (!g_once_init_enter(&done))
        return;

    /* 3 generates the multiplicative group of GF(2^8): walk it once for log/antilog. */
    for (unsigned int i = 0; i < 255; i++) {
        expTab[i] = v;
        logTab[v] = (guint8)i;
        v ^= aesXtime(v);
    }
    for (unsigned int x = 0; x < 256; x++) {
        guint8 inv = x ? expTab[(255 - logTab[x]) % 255] : 0;
        guint8 s =
            inv ^ aesRotl8(inv, 1) ^ aesRotl8(inv, 2) ^ aesRotl8(inv, 3) ^ aesRotl8(inv, 4) ^ 0x63;

        aesSbox[x] = s;
        aesInvSbox[s] = (guint8)x;
    }
    g_once_init_leave(&done, 1);
}

static void
aesExpandKey(const guint8 key[QVIR_CRYPTO_AES256_KEY_LEN], guint8 rk[AES_ROUND_KEYS_LEN])
{
    guint8 rcon = 0x01;

    memcpy(rk, key, QVIR_CRYPTO_AES256_KEY_LEN);
    for (unsigned int i = AES256_KEY_WORDS; i < AES_ROUND_KEYS_LEN / 4; i++) {
        guint8 t[4];

        memcpy(t, rk + 4 * (i - 1), 4);
        if (i % AES256_KEY_WORDS == 0) {
            guint8 first = t[0];

            t[0] = aesSbox[t[1]] ^ rcon;
            t[1] = aesSbox[t[2]];
            t[2] = aesSbox[t[3]];
            t[3] = aesSbox[first];
            rcon = aesXtime(rcon);
        } else if (i % AES256_KEY_WORDS == 4) {
            for (unsigned int j = 0; j < 4; j++)
                t[j] = aesSbox[t[j]];
        }
        for (unsigned int j = 0; j < 4; j++)
            rk[4 * i + j] = rk[4 * (i - AES256_KEY_WORDS) + j] ^ t[j];
    }
}

static void
aesAddRoundKey(guint8 s[16], const guint8 *rk)
{
    for (unsigned int i = 0; i < 16; i++)
        s[i] ^= rk[i];
}

/* The state is column-major as in FIPS-197: byte r of column c is s[r + 4c]. */
static void
aesEncryptBlock(const guint8 rk[AES_ROUND_KEYS_LEN], guint8 s[16])
{
    aesAddRoundKey(s, rk);
    for (unsigned int round = 1; round <= AES256_ROUNDS; round++) {
        guint8 t[16];

        /* SubBytes and ShiftRows together: row r moves r columns to the left. */
        for (unsigned int c = 0; c < 4; c++)
            for (unsigned int r = 0; r < 4; r++)
                t[r + 4 * c] = aesSbox[s[r + 4 * ((c + r) % 4)]];
        if (round != AES256_ROUNDS)
            for (unsigned int c = 0; c < 4; c++)
                aesMixColumn(t + 4 * c);
        memcpy(s, t, 16);
        aesAddRoundKey(s, rk + 16 * round);
    }
}

static void
aesDecryptBlock(const guint8 rk[AES_ROUND_KEYS_LEN], guint8 s[16])
{
    aesAddRoundKey(s, rk + 16 * AES256_ROUNDS);
    for (unsigned int round = AES256_ROUNDS; round >= 1; round--) {
        guint8 t[16];

        /* InvShiftRows and InvSubBytes. */
        for (unsigned int c = 0; c < 4; c++)
            for (unsigned int r = 0; r < 4; r++)
                t[r + 4 * ((c + r) % 4)] = aesInvSbox[s[r + 4 * c]];
        aesAddRoundKey(t, rk + 16 * (round - 1));
        if (round != 1) {
            for (unsigned int c = 0; c < 4; c++) {
                guint8 *a = t + 4 * c;
                /* InvMixColumns is MixColumns after adding 4(a0+a2) to a0 and a2 and
                 * 4(a1+a3) to a1 and a3 (the inverse matrix factors that way). */
                guint8 u = aesXtime(aesXtime(a[0] ^ a[2]));
                guint8 v = aesXtime(aesXtime(a[1] ^ a[3]));

                a[0] ^= u;
                a[1] ^= v;
                a[2] ^= u;
                a[3] ^= v;
                aesMixColumn(a);
            }
        }
        memcpy(s, t, 16);
    }
}

void
qvirCryptoWipe(void *buf, gsize len)
{
    volatile guint8 *p = buf;

    while (len--)
        *p++ = 0;
}

gboolean
qvirCryptoRandomBytes(guint8 *buf, gsize len, GError **error)
{
    gsize got = 0;
    int fd;

    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOSYS)
            break;
        if (n <= 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "cannot generate random bytes: %s", g_strerror(errno));
            return FALSE;
        }
        got += (gsize)n;
    }
    if (got == len)
        return TRUE;

    /* Kernels before 3.17 have no getrandom(). */
    if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot open /dev/urandom: %s",
                    g_strerror(errno));
        return FALSE;
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot read /dev/urandom: %s",
                        n < 0 ? g_strerror(errno) : "EOF");
            close(fd);
            return FALSE;
        }
        got += (gsize)n;
    }
    close(fd);
    return TRUE;
}

gboolean
qvirCryptoAES256CBCEncrypt(const guint8 key[QVIR_CRYPTO_AES256_KEY_LEN],
                           const guint8 iv[QVIR_CRYPTO_AES_BLOCK_LEN], const guint8 *data,
                           gsize len, guint8 **out, gsize *outlen, GError **error)
{
    guint8 rk[AES_ROUND_KEYS_LEN];
    guint8 chain[QVIR_CRYPTO_AES_BLOCK_LEN];
    guint8 pad;
    guint8 *buf;
    gsize total;

    if (!key || !iv || (!data && len) || !out || !outlen || len > G_MAXSIZE - 16) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: AES-256-CBC encryption needs a key, an IV and data");
        return FALSE;
    }
    aesInitTables();
    aesExpandKey(key, rk);

    /* PKCS#7: always 1..16 bytes of padding, each holding the padding length. */
    pad = (guint8)(QVIR_CRYPTO_AES_BLOCK_LEN - len % QVIR_CRYPTO_AES_BLOCK_LEN);
    total = len + pad;
    buf = g_malloc(total);
    if (len)
        memcpy(buf, data, len);
    memset(buf + len, pad, pad);

    memcpy(chain, iv, sizeof(chain));
    for (gsize off = 0; off < total; off += QVIR_CRYPTO_AES_BLOCK_LEN) {
        guint8 *block = buf + off;

        for (unsigned int i = 0; i < QVIR_CRYPTO_AES_BLOCK_LEN; i++)
            block[i] ^= chain[i];
        aesEncryptBlock(rk, block);
        memcpy(chain, block, sizeof(chain));
    }
    qvirCryptoWipe(rk, sizeof(rk));
    *out = buf;
    *outlen = total;
    return TRUE;
}

gboolean
qvirCryptoAES256CBCDecrypt(const guint8 key[QVIR_CRYPTO_AES256_KEY_LEN],
                           const guint8 iv[QVIR_CRYPTO_AES_BLOCK_LEN], const guint8 *data,
                           gsize len, guint8 **out, gsize *outlen, GError **error)
{
    guint8 rk[AES_ROUND_KEYS_LEN];
    guint8 chain[QVIR_CRYPTO_AES_BLOCK_LEN];
    guint8 pad;
    guint8 badPad = 0;
    guint8 *buf;

    if (!key || !iv || !data || !out || !outlen) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: AES-256-CBC decryption needs a key, an IV and data");
        return FALSE;
    }
    if (len == 0 || len % QVIR_CRYPTO_AES_BLOCK_LEN) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "cannot decrypt %" G_GSIZE_FORMAT " bytes: AES-256-CBC data is a non-zero "
                    "multiple of %d bytes",
                    len, QVIR_CRYPTO_AES_BLOCK_LEN);
        return FALSE;
    }
    aesInitTables();
    aesExpandKey(key, rk);

    buf = g_malloc(len + 1);
    memcpy(chain, iv, sizeof(chain));
    for (gsize off = 0; off < len; off += QVIR_CRYPTO_AES_BLOCK_LEN) {
        guint8 cipher[QVIR_CRYPTO_AES_BLOCK_LEN];
        guint8 *block = buf + off;

        memcpy(cipher, data + off, sizeof(cipher));
        memcpy(block, cipher, sizeof(cipher));
        aesDecryptBlock(rk, block);
        for (unsigned int i = 0; i < QVIR_CRYPTO_AES_BLOCK_LEN; i++)
            block[i] ^= chain[i];
        memcpy(chain, cipher, sizeof(chain));
    }
    qvirCryptoWipe(rk, sizeof(rk));

    pad = buf[len - 1];
    if (pad == 0 || pad > QVIR_CRYPTO_AES_BLOCK_LEN)
        badPad = 1;
    else
        for (unsigned int i = 1; i <= pad; i++)
            badPad |= buf[len - i] ^ pad;
    if (badPad) {
        qvirCryptoWipe(buf, len);
        g_free(buf);
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "cannot decrypt: the AES-256-CBC padding is invalid (wrong key or "
                            "corrupt data)");
        return FALSE;
    }
    buf[len - pad] = '\0';
    *out = buf;
    *outlen = len - pad;
    return TRUE;
}
