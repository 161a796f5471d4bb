/*
 * virbitmap.c: sets of small non-negative integers in libvirt's notation.
 */
#include "util/virbitmap.h"

#include "util/virerror.h"

struct _qvirBitmap {
    guint nbits;
    guint8 *map;
};

qvirBitmap *
qvirBitmapNew(guint nbits)
{
    qvirBitmap *map = g_new0(qvirBitmap, 1);

    map->nbits = nbits;
    map->map = g_new0(guint8, (nbits + 7) / 8);
    return map;
}

void
qvirBitmapFree(qvirBitmap *map)
{
    if (!map)
        return;
    g_free(map->map);
    g_free(map);
}

guint
qvirBitmapSize(const qvirBitmap *map)
{
    return map->nbits;
}

gboolean
qvirBitmapIsSet(const qvirBitmap *map, guint bit)
{
    return bit < map->nbits && (map->map[bit / 8] & (1u << (bit % 8)));
}

static void
qvirBitmapSetTo(qvirBitmap *map, guint bit, gboolean on)
{
    if (on)
        map->map[bit / 8] |= (guint8)(1u << (bit % 8));
    else
        map->map[bit / 8] &= (guint8) ~(1u << (bit % 8));
}

gboolean
qvirBitmapIsAllClear(const qvirBitmap *map)
{
    for (guint i = 0; i < map->nbits; i++) {
        if (qvirBitmapIsSet(map, i))
            return FALSE;
    }
    return TRUE;
}

gboolean
qvirBitmapIsAllSet(const qvirBitmap *map)
{
    for (guint i = 0; i < map->nbits; i++) {
        if (!qvirBitmapIsSet(map, i))
            return FALSE;
    }
    return TRUE;
}

static void
qvirBitmapSkipBlanks(const char **cur)
{
    while (g_ascii_isspace(**cur))
        (*cur)++;
}

/* A decimal number below LIMIT at *CUR (libvirt reads it as an int). */
static gboolean
qvirBitmapReadNumber(const char **cur, guint limit, guint *out)
{
    guint64 val = 0;

    if (!g_ascii_isdigit(**cur))
        return FALSE;
    while (g_ascii_isdigit(**cur)) {
        val = val * 10 + (guint64)(**cur - '0');
        if (val >= limit)
            return FALSE;
        (*cur)++;
    }
    *out = (guint)val;
    return TRUE;
}

static gboolean
qvirBitmapParseInto(const char *str, qvirBitmap *map)
{
    const char *cur = str;

    qvirBitmapSkipBlanks(&cur);
    if (*cur == '\0')
        return FALSE;
    while (*cur) {
        gboolean neg = FALSE;
        guint start;
        guint last;

        if (*cur == '^') {
            cur++;
            neg = TRUE;
        }
        if (!qvirBitmapReadNumber(&cur, map->nbits, &start))
            return FALSE;
        qvirBitmapSkipBlanks(&cur);
        last = start;
        if (*cur == '-') {
            if (neg)
                return FALSE;
            cur++;
            qvirBitmapSkipBlanks(&cur);
            if (!qvirBitmapReadNumber(&cur, map->nbits, &last) || last < start)
                return FALSE;
            qvirBitmapSkipBlanks(&cur);
        }
        for (guint i = start; i <= last; i++)
            qvirBitmapSetTo(map, i, !neg);
        if (*cur == ',') {
            cur++;
            qvirBitmapSkipBlanks(&cur);
        } else if (*cur != '\0') {
            return FALSE;
        }
    }
    return TRUE;
}

qvirBitmap *
qvirBitmapParse(const char *str, guint nbits, GError **error)
{
    g_autoptr(qvirBitmap) map = qvirBitmapNew(nbits);

    if (!str || !qvirBitmapParseInto(str, map)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "Failed to parse bitmap '%s'",
                    str ? str : "");
        return NULL;
    }
    return g_steal_pointer(&map);
}

char *
qvirBitmapFormat(const qvirBitmap *map)
{
    GString *buf = g_string_new(NULL);
    guint i = 0;

    while (i < map->nbits) {
        guint start;

        if (!qvirBitmapIsSet(map, i)) {
            i++;
            continue;
        }
        start = i;
        while (i + 1 < map->nbits && qvirBitmapIsSet(map, i + 1))
            i++;
        if (buf->len)
            g_string_append_c(buf, ',');
        if (start == i)
            g_string_append_printf(buf, "%u", start);
        else
            g_string_append_printf(buf, "%u-%u", start, i);
        i++;
    }
    return g_string_free(buf, FALSE);
}
