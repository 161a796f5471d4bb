/*
 * virbitmap.h: sets of small non-negative integers (host CPU numbers) in libvirt's
 * "0-3,8,^2" notation.
 */
#pragma once

#include <glib.h>

typedef struct _qvirBitmap qvirBitmap;

/* An empty set that can hold 0..NBITS-1. */
qvirBitmap *qvirBitmapNew(guint nbits);
void qvirBitmapFree(qvirBitmap *map);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirBitmap, qvirBitmapFree);

/*
 * libvirt's virBitmapParse: comma-separated N, N-M (N <= M) and ^N (take N out again),
 * blanks allowed around the separators; every number below NBITS. NULL with
 * "Failed to parse bitmap 'STR'" (QVIR_ERR_INVALID_ARG) otherwise.
 */
qvirBitmap *qvirBitmapParse(const char *str, guint nbits, GError **error);

/* How many bits the set can hold. */
guint qvirBitmapSize(const qvirBitmap *map);
gboolean qvirBitmapIsSet(const qvirBitmap *map, guint bit);
gboolean qvirBitmapIsAllClear(const qvirBitmap *map);
gboolean qvirBitmapIsAllSet(const qvirBitmap *map);

/* The canonical text (libvirt's virBitmapFormat): ascending, runs as N-M: "1-4,8-20,525";
 * "" for an empty set. */
char *qvirBitmapFormat(const qvirBitmap *map);
