/*
 * virenum.h: enums with one string table beside them.
 *
 *   typedef enum { QVIR_FOO_A, QVIR_FOO_B, QVIR_FOO_LAST } qvirFoo;
 *   QVIR_ENUM_DECL(qvirFoo);                       (in the header)
 *   QVIR_ENUM_IMPL(qvirFoo, QVIR_FOO_LAST, "a", "b");  (in the .c file)
 *
 * gives qvirFooTypeToString(int) (NULL when out of range),
 * qvirFooTypeFromString(const char *) (-1 when unknown) and
 * qvirFooTypeList(void) ("a, b", for error messages naming the allowed values).
 * The table size is checked against the _LAST sentinel at compile time.
 */
#pragma once

#include <glib.h>

const char *qvirEnumToString(const char *const *table, unsigned int ntable, int value);
int qvirEnumFromString(const char *const *table, unsigned int ntable, const char *str);
/* Comma-separated list of the table's entries, built once per table. */
const char *qvirEnumList(const char *const *table, unsigned int ntable, char **cache);

#define QVIR_ENUM_DECL(name)                                                                       \
    const char *name##TypeToString(int value);                                                     \
    int name##TypeFromString(const char *str);                                                     \
    const char *name##TypeList(void)

#define QVIR_ENUM_IMPL(name, lastVal, ...)                                                         \
    static const char *const name##TypeTable[] = {__VA_ARGS__};                                    \
    G_STATIC_ASSERT(G_N_ELEMENTS(name##TypeTable) == (lastVal));                                   \
    const char *name##TypeToString(int value)                                                      \
    {                                                                                              \
        return qvirEnumToString(name##TypeTable, G_N_ELEMENTS(name##TypeTable), value);            \
    }                                                                                              \
    int name##TypeFromString(const char *str)                                                      \
    {                                                                                              \
        return qvirEnumFromString(name##TypeTable, G_N_ELEMENTS(name##TypeTable), str);            \
    }                                                                                              \
    const char *name##TypeList(void)                                                               \
    {                                                                                              \
        static char *cache;                                                                        \
        return qvirEnumList(name##TypeTable, G_N_ELEMENTS(name##TypeTable), &cache);               \
    }

/* Tri-state on/off/absent, spelled as libvirt spells it. */
typedef enum {
    QVIR_TRISTATE_SWITCH_ABSENT = 0,
    QVIR_TRISTATE_SWITCH_ON,
    QVIR_TRISTATE_SWITCH_OFF,
    QVIR_TRISTATE_SWITCH_LAST
} qvirTristateSwitch;
QVIR_ENUM_DECL(qvirTristateSwitch);

typedef enum {
    QVIR_TRISTATE_BOOL_ABSENT = 0,
    QVIR_TRISTATE_BOOL_YES,
    QVIR_TRISTATE_BOOL_NO,
    QVIR_TRISTATE_BOOL_LAST
} qvirTristateBool;
QVIR_ENUM_DECL(qvirTristateBool);
