/*
 * qemu_saveimage.h: qvirt's save image (virsh save, managedsave): a checked header, the
 * domain XML, then QEMU's migration stream.
 *
 * Layout (integers big-endian; see qemu_saveimage.c for the fields):
 *   0      header: magic "QvirtSaveImage\n\0", version, flags, XML length, data offset and
 *          length, SHA-256 of the XML, of the data and of the header itself
 *   512    the domain XML (inactive, migratable), zero-padded
 *   offset QEMU's migration stream (offset a multiple of 4096, so O_DIRECT reads and writes
 *          stay aligned)
 *
 * An image is written under a temporary name in its directory and renamed into place only
 * when complete and synced, so a reader never sees half an image. Everything read from a
 * file is bounds-checked; the data checksum is verified while it streams into QEMU, before
 * the guest runs.
 *
 * BYPASSCACHE opens the file with O_DIRECT (libvirt's --bypass-cache, which it does in its
 * iohelper): transfers go through 4096-aligned buffers; a filesystem that refuses O_DIRECT
 * is a clear error.
 */
#pragma once

#include <glib.h>

#define QEMU_SAVE_IMAGE_VERSION 1
/* An XML this large is no domain definition. */
#define QEMU_SAVE_IMAGE_XML_MAX (16u * 1024 * 1024)

typedef struct _qemuSaveImageWriter qemuSaveImageWriter;
typedef struct _qemuSaveImage qemuSaveImage;

/* Start an image for PATH (created as PATH.XXXXXX beside it, mode 0600). */
/* BOOTVCPUS: how many of the XML's online vCPUs QEMU started with (the rest were hot-plugged
 * and must be plugged again before the state loads); 0: all of them. */
qemuSaveImageWriter *qemuSaveImageWriterOpen(const char *path, const char *xml, gboolean running,
                                             guint32 bootVcpus, gboolean bypassCache,
                                             GError **error);
/* Append LEN bytes of migration data. */
gboolean qemuSaveImageWriterWrite(qemuSaveImageWriter *w, const guint8 *data, gsize len,
                                  GError **error);
/* Append everything FD delivers until end of file (QEMU's side of a pipe). */
gboolean qemuSaveImageWriterPump(qemuSaveImageWriter *w, int fd, GError **error);
/* Write the header, sync and rename the image into place. */
gboolean qemuSaveImageWriterCommit(qemuSaveImageWriter *w, GError **error);
/* Free; an image not committed is removed. */
void qemuSaveImageWriterFree(qemuSaveImageWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuSaveImageWriter, qemuSaveImageWriterFree);

/* Open and check PATH's header and XML (libvirt's errors: "image magic is incorrect",
 * "image version is not supported (2 > 1)", "save image is incomplete", ...). */
qemuSaveImage *qemuSaveImageOpen(const char *path, gboolean bypassCache, GError **error);
const char *qemuSaveImageGetXML(const qemuSaveImage *img);
gboolean qemuSaveImageGetRunning(const qemuSaveImage *img);
guint32 qemuSaveImageGetBootVcpus(const qemuSaveImage *img);
/* Copy the migration data to FD (the write end of QEMU's pipe), checking its SHA-256. */
gboolean qemuSaveImagePump(qemuSaveImage *img, int fd, GError **error);
void qemuSaveImageFree(qemuSaveImage *img);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuSaveImage, qemuSaveImageFree);

/* Replace PATH's XML and running flag (save-image-define), atomically. */
gboolean qemuSaveImageRewrite(const char *path, const char *xml, gboolean running,
                              guint32 bootVcpus, GError **error);
