/*
 * storage_probe.h: reading image headers from memory.
 *
 * Every parser here works on a buffer the caller has already read (the first
 * QVIR_STORAGE_PROBE_HEADER_MAX bytes of the image, fewer when the file is
 * shorter). Nothing in the header is trusted: each offset and length is checked
 * against the buffer and the file size before use, and a header that is
 * truncated or points outside itself is an error, never a read past the buffer.
 *
 * Two formats keep their metadata outside the first 0x8200 bytes: a VMDK
 * descriptor may sit (or continue) further into the file and VHDX keeps the
 * virtual size in its metadata region. For those the parser asks the caller's
 * read callback for the exact extra range it needs; without a callback it fails.
 */
#pragma once

#include <glib.h>

#include "conf/storage_source_conf.h"

/* ISO 9660's "CD001" sits at 32769; 0x8200 covers it and every binary header. */
#define QVIR_STORAGE_PROBE_HEADER_MAX 0x8200

/* Largest extra range a parser will ask for (a VMDK descriptor, VHDX tables). */
#define QVIR_STORAGE_PROBE_EXTRA_MAX (1024 * 1024)

/* Read exactly LEN bytes at OFFSET into BUF; a short read is an error. */
typedef gboolean (*qvirStorageProbeReadFunc)(void *opaque, guint64 offset, guint8 *buf, gsize len,
                                             GError **error);

typedef struct {
    const char *path;              /* for messages */
    const guint8 *buf;             /* the first bytes of the image */
    gsize len;                     /* valid bytes in buf */
    guint64 fileSize;              /* size of the whole image file/device */
    qvirStorageProbeReadFunc read; /* extra reads (vmdk, vhdx); may be NULL */
    void *opaque;
} qvirStorageProbeInput;

typedef struct {
    qvirStorageFileFormat format;        /* the format the header was parsed as */
    guint64 capacity;                    /* virtual size in bytes */
    char *backingName;                   /* backing name exactly as stored; NULL = none */
    qvirStorageFileFormat backingFormat; /* as recorded (or implied by the format); NONE = not */
    /* The format's own rule is to probe the backing file's format: a QED image records
     * only "the backing file is raw" and otherwise leaves the format to be guessed, as
     * QEMU guesses it (libvirt's VIR_STORAGE_FILE_AUTO_SAFE). Set only with backingName. */
    gboolean backingFormatProbe;
    gboolean encrypted;
    unsigned int extraReads; /* reads made through the callback */
    /* Set on failure when the parse needed header bytes the caller did not read (it read
     * fewer than the first QVIR_STORAGE_PROBE_HEADER_MAX bytes of a longer file). */
    gboolean headerShort;
} qvirStorageProbeResult;

void qvirStorageProbeResultClear(qvirStorageProbeResult *res);

/*
 * Guess the format of a header from its magic and version, the way QEMU and
 * libvirt do. Returns QVIR_STORAGE_FILE_RAW when nothing matches (and when a
 * magic matches but its version is unknown). Callers must not trust a guessed
 * format to name a backing file.
 */
qvirStorageFileFormat qvirStorageProbeFormat(const guint8 *buf, gsize len);

/*
 * Does the header carry FORMAT's magic and one of its known versions? FALSE for a format
 * without a signature here (raw, iso, bochs, ...). Says nothing about the rest of the
 * header, and never names another format.
 */
gboolean qvirStorageProbeHasSignature(qvirStorageFileFormat format, const guint8 *buf, gsize len);

/*
 * Parse IN as an image of FORMAT (which must not be NONE). RAW and ISO are
 * never parsed: their capacity is the file size. On failure RES is cleared.
 */
gboolean qvirStorageProbeParse(qvirStorageFileFormat format, const qvirStorageProbeInput *in,
                               qvirStorageProbeResult *res, GError **error);

/*
 * How much of the header to read first for FORMAT. The fixed headers of qcow, qcow2,
 * qed, vpc, vdi, vhdx and LUKS, and everything qemu-img writes after them, fit in
 * 4 KiB; format probing (ISO's magic is at 32769) and VMDK (a 10 KiB embedded
 * descriptor) get the whole QVIR_STORAGE_PROBE_HEADER_MAX. A parse that needs more
 * of the header than was read fails with res->headerShort set; the caller then reads
 * the rest of the header and parses again.
 */
gsize qvirStorageProbeHeaderHint(qvirStorageFileFormat format);

/* Map a backing format string as QEMU records it ("qcow2", "raw", ...). -1 when unknown. */
int qvirStorageProbeFormatFromQemuName(const char *name);
