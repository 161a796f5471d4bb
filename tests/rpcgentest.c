/*
 * rpcgentest.c: the protocol compiler (src/rpc/gen_protocol.py) on small descriptions:
 * what it makes of a good one (types, tables, procedure names, handler prototypes and the
 * handlers it writes itself), and that a description it cannot honour is refused with a
 * message naming the fault, never compiled into something else.
 */
#include <string.h>

#include <glib/gstdio.h>

#include "testutils.h"

typedef struct {
    int status;
    char *header;
    char *source;
    char *err;
} GenResult;

static void
genResultClear(GenResult *r)
{
    g_free(r->header);
    g_free(r->source);
    g_free(r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(GenResult, genResultClear);

static const char genCommon[] = "const LIST_MAX = 4;\n"
                                "typedef string name_t<64>;\n"
                                "typedef name_t *optname_t;\n"
                                "struct test_handle { name_t name; opaque uuid[16]; };\n";

/* Compile TEXT (after genCommon) with the procedure options qvirtd's build uses, and the
 * NULL-terminated EXTRA options. */
static void
genRunWith(const char *text, const char *const *extra, GenResult *r)
{
    g_autofree char *dir = qvirTestTempDirNew("qvirt-rpcgen");
    g_autofree char *desc = g_build_filename(dir, "test.x", NULL);
    g_autofree char *hdr = g_build_filename(dir, "test.h", NULL);
    g_autofree char *src = g_build_filename(dir, "test.c", NULL);
    g_autofree char *script = qvirTestSrcPath("../src/rpc/gen_protocol.py");
    g_autofree char *full = g_strconcat(genCommon, text, NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    const char *fixed[] = {
        "python3",    script,          "--procedures", "test_procedure",   "--prefix",
        "test",       "--proc-prefix", "TEST_PROC_",   "--handler-prefix", "testDispatch",
        "--ctx",      "testCtx",       "--handle",     "test_handle:uuid", "--include",
        "test_priv.h"};

    for (guint i = 0; i < G_N_ELEMENTS(fixed); i++)
        g_ptr_array_add(argv, (gpointer)fixed[i]);
    for (; extra && *extra; extra++)
        g_ptr_array_add(argv, (gpointer)*extra);
    g_ptr_array_add(argv, desc);
    g_ptr_array_add(argv, hdr);
    g_ptr_array_add(argv, src);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_file_set_contents(desc, full, -1, NULL));
    r->status = qvirTestRun((const char *const *)argv->pdata, NULL, &r->err);
    g_file_get_contents(hdr, &r->header, NULL, NULL);
    g_file_get_contents(src, &r->source, NULL, NULL);
    qvirTestTempDirRemove(dir);
}

static void
genRun(const char *text, GenResult *r)
{
    genRunWith(text, NULL, r);
}

static void
genAssertContains(const char *text, const char *want)
{
    g_assert_nonnull(text);
    if (!strstr(text, want))
        g_error("generated text lacks '%s':\n%s", want, text);
}

static void
testGood(void)
{
    g_auto(GenResult) r = {0};

    genRun("union test_value switch (int type) { case 1: int i; case 2: name_t s; };\n"
           "struct test_get_args { test_handle h; unsigned int flags; };\n"
           "struct test_get_ret { name_t xml; };\n"
           "struct test_get_flagless_args { test_handle h; };\n"
           "struct test_get_flagless_ret { name_t xml; };\n"
           "struct test_list_ret { test_value vals<LIST_MAX>; optname_t next; char tag[3]; };\n"
           "struct test_count_ret { int num; };\n"
           "enum test_procedure {\n"
           "    /* @serve: inline preopen */\n"
           "    TEST_PROC_LIST = 1,\n"
           "    /* @serve: write */\n"
           "    /* @call: xml = driverGet(h, flags) */\n"
           "    TEST_PROC_GET = 2,\n"
           "    /* @serve: write as GET flags=7 */\n"
           "    TEST_PROC_GET_FLAGLESS = 3,\n"
           "    /* @serve */\n"
           "    /* @reply: num = 12 */\n"
           "    TEST_PROC_COUNT = 4,\n"
           "    TEST_PROC_NODE_GET_CPU_STATS_URI_XML = 5\n"
           "};\n",
           &r);
    g_assert_cmpint(r.status, ==, 0);
    /* the C types, with the limits of the description */
    genAssertContains(r.header, "#define LIST_MAX 4\n");
    genAssertContains(r.header, "typedef struct test_value {\n    gint32 type;\n    union {");
    genAssertContains(r.header, "        guint32 len;\n        test_value *val;\n    } vals;");
    genAssertContains(r.header, "    char *next;\n    gint8 tag[3];\n} test_list_ret;");
    genAssertContains(r.source, ".kind = QVIR_XDR_KIND_ARRAY_VAR,");
    genAssertContains(r.source, ".max = 4u,");
    genAssertContains(r.source, ".name = \"s\", .value = 2, .offset = offsetof(test_value, u.s)");
    /* only the hand-written handler is declared; the others are generated */
    genAssertContains(r.header, "gboolean testDispatchList(testCtx *ctx, test_list_ret *ret, "
                                "GError **error);");
    g_assert_null(strstr(r.header, "testDispatchGet("));
    genAssertContains(r.source, "#include \"test_priv.h\"");
    genAssertContains(r.source,
                      "    ret->xml = driverGet(ctx->drv, args->h.uuid, args->flags, error);\n"
                      "    return ret->xml != NULL;\n");
    genAssertContains(r.source, "    test_get_args targs = {.flags = 7};\n");
    genAssertContains(r.source, "    ok = testDispatchGet(ctx, &targs, &tret, error);\n");
    genAssertContains(r.source, "    ret->num = 12;\n    return TRUE;\n");
    /* names, flags and types of the table */
    genAssertContains(r.source, ".name = \"virNodeGetCPUStatsURIXML\",");
    genAssertContains(r.source, ".flags = QVIR_RPC_PROC_SERVED | QVIR_RPC_PROC_INLINE | "
                                "QVIR_RPC_PROC_PREOPEN,");
    genAssertContains(r.source, ".flags = QVIR_RPC_PROC_SERVED | QVIR_RPC_PROC_WRITE,");
    genAssertContains(r.header, "    TEST_PROC_LAST = 6,");
}

/* @call with another driver, handles of two keys returned through their ref type, lists
 * of handles and of names, a struct the driver fills, a function without GError; and the
 * old handle form (a key alone: returned by --handle-return) still as before. */
static void
testCallForms(void)
{
    static const char *const extra[] = {"--driver", "other=otherDriver(ctx->drv)", "--handle",
                                        "test_vol:pool,name:testVolRef:testVolTake", NULL};
    g_auto(GenResult) r = {0};

    genRunWith("struct test_vol { name_t pool; name_t name; };\n"
               "struct test_vol_get_args { test_vol vol; unsigned int flags; };\n"
               "struct test_vol_get_ret { test_vol vol; };\n"
               "struct test_list_vols_args { int need_results; unsigned int flags; };\n"
               "struct test_list_vols_ret { test_vol vols<LIST_MAX>; unsigned int ret; };\n"
               "struct test_names_args { int maxnames; };\n"
               "struct test_names_ret { name_t names<LIST_MAX>; };\n"
               "struct test_info_args { test_handle h; };\n"
               "struct test_info_ret { unsigned char state; unsigned hyper size; };\n"
               "struct test_lookup_args { name_t name; };\n"
               "struct test_lookup_ret { test_handle h; };\n"
               "struct test_count_ret { int num; };\n"
               "struct test_uuids_args { int maxuuids; };\n"
               "struct test_uuids_ret { name_t uuids<LIST_MAX>; };\n"
               "enum test_procedure {\n"
               "    /* @serve */ /* @call: vol = otherVolGet(vol, flags) */\n"
               "    TEST_PROC_VOL_GET = 1,\n"
               "    /* @serve */ /* @call: vols = otherListVols(flags) noerror */\n"
               "    TEST_PROC_LIST_VOLS = 2,\n"
               "    /* @serve */ /* @call: names = driverNames(TRUE) noerror */\n"
               "    TEST_PROC_NAMES = 3,\n"
               "    /* @serve */ /* @call: driverInfo(h, &testInfo) ret.size=sizeBytes */\n"
               "    TEST_PROC_INFO = 4,\n"
               "    /* @serve */ /* @call: h = driverLookup(name) */\n"
               "    TEST_PROC_LOOKUP = 5,\n"
               "    /* @serve */ /* @call: num = driverCount() noerror */\n"
               "    TEST_PROC_COUNT = 6,\n"
               "    /* @serve */ /* @call: uuids = driverUUIDs() noerror */\n"
               "    TEST_PROC_UUIDS = 7\n"
               "};\n",
               extra, &r);
    g_assert_cmpint(r.status, ==, 0);
    genAssertContains(r.source,
                      "    g_autoptr(testVolRef) ref = otherVolGet(otherDriver(ctx->drv), "
                      "args->vol.pool, args->vol.name, args->flags, error);\n\n"
                      "    if (!ref)\n        return FALSE;\n"
                      "    testVolTake(&ret->vol, ref);\n    return TRUE;\n");
    genAssertContains(r.source,
                      "    g_autoptr(GPtrArray) list = otherListVols(otherDriver(ctx->drv), "
                      "args->flags);\n\n    if (!list)\n        return FALSE;\n"
                      "    ret->ret = list->len;\n"
                      "    if (!args->need_results)\n        return TRUE;\n"
                      "    ret->vols.val = g_new0(test_vol, list->len + 1);\n"
                      "    ret->vols.len = list->len;\n"
                      "    for (guint i = 0; i < list->len; i++)\n"
                      "        testVolTake(&ret->vols.val[i], g_ptr_array_index(list, i));\n");
    genAssertContains(r.source,
                      "    return qvirRemoteStringsTake(&ret->names.len, &ret->names.val, "
                      "driverNames(ctx->drv, TRUE), args->maxnames, 4, \"maxnames\", "
                      "error);\n");
    genAssertContains(r.source, "    testInfo out = {0};\n\n"
                                "    if (!driverInfo(ctx->drv, args->h.uuid, &out, error))\n"
                                "        return FALSE;\n"
                                "    ret->state = (guint8)out.state;\n"
                                "    ret->size = (guint64)out.sizeBytes;\n    return TRUE;\n");
    genAssertContains(r.source, "    return qvirRemoteDomainReturn(&ret->h, "
                                "driverLookup(ctx->drv, args->name, error));\n");
    genAssertContains(r.source, "    ret->num = driverCount(ctx->drv);\n    return TRUE;\n");
    genAssertContains(r.source, "&ret->uuids.val, driverUUIDs(ctx->drv), args->maxuuids, 4, "
                                "\"maxuuids\", error);\n");
}

static void
testRefused(void)
{
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"struct a { int x; };\nstruct a { int y; };\n", "'a' is declared twice"},
        {"struct a { nosuch x; };\n", "unknown type 'nosuch'"},
        {"struct a { string s[4]; };\n", "a string has a variable length"},
        {"struct a { int x; }\n", "expected ';'"},
        {"const X = Y;\n", "expected a number or a constant"},
        {"/* @serve */\nconst X = 1;\n", "stray annotation"},
        {"union u switch (hyper h) { case 1: int i; };\n", "discriminant must be an int"},
        {"enum test_procedure { /* @serve: fast */ TEST_PROC_A = 1 };\n",
         "unknown @serve word 'fast'"},
        {"enum test_procedure { /* @frobnicate */ TEST_PROC_A = 1 };\n",
         "unknown annotation '@frobnicate'"},
        {"enum test_procedure { TEST_PROC_A = 1, TEST_PROC_B = 1 };\n",
         "procedure number 1 is taken"},
        {"enum test_procedure { OTHER_A = 1 };\n", "does not start with TEST_PROC_"},
        {"enum test_procedure { TEST_PROC_A = 1,\n /* @serve: as A */ TEST_PROC_B = 2 };\n",
         "not served by a handler of its own"},
        {"struct test_a_args { int x; };\nstruct test_b_args { hyper x; };\n"
         "enum test_procedure { /* @serve */ TEST_PROC_A = 1,\n"
         " /* @serve: as A */ TEST_PROC_B = 2 };\n",
         "no field of test_b_args matches 'x'"},
        {"struct test_a_args { int x; };\nstruct test_b_args { int x; int extra; };\n"
         "enum test_procedure { /* @serve */ TEST_PROC_A = 1,\n"
         " /* @serve: as A */ TEST_PROC_B = 2 };\n",
         "matches 'extra' of test_a_args"},
        {"struct test_a_args { int x; };\nenum test_procedure {\n"
         " /* @serve: as A y=3 */ TEST_PROC_B = 2, /* @serve */ TEST_PROC_A = 1 };\n",
         "test_a_args has no field 'y'"},
        {"struct test_b_args { int x; };\nenum test_procedure {\n"
         " /* @serve: as A */ TEST_PROC_B = 2, /* @serve */ TEST_PROC_A = 1 };\n",
         "TEST_PROC_A takes no arguments"},
        {"struct test_a_args { test_handle h; };\nenum test_procedure {\n"
         " /* @serve */ /* @call: drv(nosuch) */ TEST_PROC_A = 1 };\n",
         "has no field 'nosuch'"},
        {"struct test_a_ret { int n; };\nenum test_procedure {\n"
         " /* @serve */ /* @call: drv() */ TEST_PROC_A = 1 };\n",
         "must say which field"},
        {"struct test_a_ret { int n; };\nenum test_procedure {\n"
         " /* @serve */ /* @reply: n = \"text\" */ TEST_PROC_A = 1 };\n",
         "does not suit 'n'"},
        {"enum test_procedure { /* @call: drv() */ TEST_PROC_A = 1 };\n",
         "@call goes with a @serve"},
        {"struct test_a_args { test_handle h; };\nenum test_procedure {\n"
         " /* @serve */ /* @call: = drv(h) sometimes */ TEST_PROC_A = 1 };\n",
         "unknown @call word 'sometimes'"},
        {"struct test_a_args { test_handle h; };\nstruct test_a_ret { int n; };\n"
         "enum test_procedure {\n"
         " /* @serve */ /* @call: n = drv(h) ret.n=m */ TEST_PROC_A = 1 };\n",
         "'ret.' words go with a '&TYPE' parameter"},
        {"struct test_a_args { test_handle h; };\nstruct test_a_ret { name_t s; };\n"
         "enum test_procedure {\n"
         " /* @serve */ /* @call: drv(h, &info) */ TEST_PROC_A = 1 };\n",
         "'&info' fills scalars only"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_auto(GenResult) r = {0};

        genRun(cases[i].text, &r);
        if (r.status == 0 || !r.err || !strstr(r.err, cases[i].message))
            g_error("case %u: status %d, wanted '%s', said: %s", i, r.status, cases[i].message,
                    r.err ? r.err : "");
        /* nothing half-written is left for the build to pick up */
        g_assert_null(r.header);
        g_assert_null(r.source);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rpc/gen/good", testGood);
    g_test_add_func("/rpc/gen/call-forms", testCallForms);
    g_test_add_func("/rpc/gen/refused", testRefused);
    return g_test_run();
}
