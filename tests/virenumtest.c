/* The enum string tables: both directions, range checks and the allowed-values list. */
#include <glib.h>

#include "util/virenum.h"

typedef enum { TEST_FRUIT_APPLE = 0, TEST_FRUIT_PEAR, TEST_FRUIT_PLUM, TEST_FRUIT_LAST } testFruit;
QVIR_ENUM_DECL(testFruit);
QVIR_ENUM_IMPL(testFruit, TEST_FRUIT_LAST, "apple", "pear", "plum");

static void
testEnumRoundTrip(void)
{
    for (int i = 0; i < TEST_FRUIT_LAST; i++)
        g_assert_cmpint(testFruitTypeFromString(testFruitTypeToString(i)), ==, i);
}

static void
testEnumOutOfRange(void)
{
    g_assert_null(testFruitTypeToString(-1));
    g_assert_null(testFruitTypeToString(TEST_FRUIT_LAST));
    g_assert_cmpint(testFruitTypeFromString("kiwi"), ==, -1);
    g_assert_cmpint(testFruitTypeFromString(NULL), ==, -1);
    g_assert_cmpint(testFruitTypeFromString("Apple"), ==, -1);
}

static void
testEnumList(void)
{
    g_assert_cmpstr(testFruitTypeList(), ==, "apple, pear, plum");
    /* built once: the same pointer every time */
    g_assert_true(testFruitTypeList() == testFruitTypeList());
}

static void
testTristate(void)
{
    g_assert_cmpstr(qvirTristateSwitchTypeToString(QVIR_TRISTATE_SWITCH_ON), ==, "on");
    g_assert_cmpint(qvirTristateBoolTypeFromString("no"), ==, QVIR_TRISTATE_BOOL_NO);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/enum/roundtrip", testEnumRoundTrip);
    g_test_add_func("/enum/out-of-range", testEnumOutOfRange);
    g_test_add_func("/enum/list", testEnumList);
    g_test_add_func("/enum/tristate", testTristate);
    return g_test_run();
}
