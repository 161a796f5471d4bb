#include "virenum.h"

#include <string.h>

const char *
qvirEnumToString(const char *const *table, unsigned int ntable, int value)
{
    if (value < 0 || (unsigned int)value >= ntable)
        return NULL;
    return table[value];
}

int
qvirEnumFromString(const char *const *table, unsigned int ntable, const char *str)
{
    if (!str)
        return -1;
    for (unsigned int i = 0; i < ntable; i++) {
        if (table[i] && strcmp(table[i], str) == 0)
            return (int)i;
    }
    return -1;
}

const char *
qvirEnumList(const char *const *table, unsigned int ntable, char **cache)
{
    /* Racing initialisers build identical strings; g_once keeps exactly one. */
    if (g_once_init_enter(cache)) {
        GString *list = g_string_new(NULL);
        for (unsigned int i = 0; i < ntable; i++) {
            if (!table[i] || !*table[i])
                continue;
            if (list->len)
                g_string_append(list, ", ");
            g_string_append(list, table[i]);
        }
        g_once_init_leave(cache, g_string_free(list, FALSE));
    }
    return *cache;
}

QVIR_ENUM_IMPL(qvirTristateSwitch, QVIR_TRISTATE_SWITCH_LAST, "absent", "on", "off");
QVIR_ENUM_IMPL(qvirTristateBool, QVIR_TRISTATE_BOOL_LAST, "absent", "yes", "no");
