/*
 * vircrypto.h: AES-256-CBC and random bytes, written here so qvirt links no TLS library.
 *
 * Used for the secrets kept on disk by the secret driver and for the values a domain's
 * "-object secret,...,keyid=masterKey0,iv=..." hands QEMU (QEMU decrypts those with the
 * master key, AES-256-CBC with PKCS#7 padding, exactly what these functions produce).
 */
#pragma once

#include <glib.h>

#define QVIR_CRYPTO_AES256_KEY_LEN 32
#define QVIR_CRYPTO_AES_BLOCK_LEN 16

/* Fill BUF with LEN bytes from the kernel's random generator (getrandom, falling back to
 * /dev/urandom). FALSE with QVIR_ERR_SYSTEM_ERROR when neither answers. */
gboolean qvirCryptoRandomBytes(guint8 *buf, gsize len, GError **error);

/*
 * Encrypt LEN bytes of DATA (LEN may be 0) with AES-256 in CBC mode under KEY and IV,
 * PKCS#7-padded: *OUT gets a new buffer of *OUTLEN bytes, a multiple of 16 and always
 * longer than LEN. FALSE only for invalid arguments.
 */
gboolean qvirCryptoAES256CBCEncrypt(const guint8 key[QVIR_CRYPTO_AES256_KEY_LEN],
                                    const guint8 iv[QVIR_CRYPTO_AES_BLOCK_LEN], const guint8 *data,
                                    gsize len, guint8 **out, gsize *outlen, GError **error);

/*
 * The inverse: LEN must be a non-zero multiple of 16 and the last block must end in valid
 * PKCS#7 padding, else FALSE with QVIR_ERR_OPERATION_FAILED (wrong key or corrupt data
 * usually shows up as bad padding). *OUT is NUL-terminated one byte past *OUTLEN so a
 * text value can be used as a string; the terminator is not counted.
 */
gboolean qvirCryptoAES256CBCDecrypt(const guint8 key[QVIR_CRYPTO_AES256_KEY_LEN],
                                    const guint8 iv[QVIR_CRYPTO_AES_BLOCK_LEN], const guint8 *data,
                                    gsize len, guint8 **out, gsize *outlen, GError **error);

/* Overwrite LEN bytes at BUF with zeros in a way the compiler may not drop (key material,
 * secret values before they are freed). */
void qvirCryptoWipe(void *buf, gsize len);
