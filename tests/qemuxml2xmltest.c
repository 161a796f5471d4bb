/*
 * qemuxml2xmltest: domain XML in, canonical domain XML out.
 *
 * Every file tests/qemuxml2xmldata/NAME.xml is one GTest case (/qemuxml2xml/NAME):
 *
 *   NAME.err           present: an error case. Parsing + validation must fail with exactly
 *                      this message (one line; the trailing newline is ignored).
 *   NAME.out.xml       otherwise: the inactive (persistent) XML we must format.
 *   NAME.live.out.xml  for cases named "live-*": the input is read as the daemon's status
 *                      XML (index=, aliases, ids, pty paths, and probed='yes' marking layers
 *                      that came from probing rather than from the user), and this file holds
 *                      the live XML. NAME.out.xml then shows what survives into the inactive
 *                      view: no index=, no alias, no probed layer.
 *
 * Every successful case also checks that formatting is a fixed point for each view
 * (format(parse(format(parse(x)))) == format(parse(x))) and that every XML we format
 * validates against libvirt's own schema, /usr/share/libvirt/schemas/domain.rng.
 *
 * QVIRT_TEST_REGENERATE_OUTPUT=1 rewrites NAME.out.xml / NAME.live.out.xml / NAME.err from
 * what the code produces now (a new failing input without expected files gets a NAME.err).
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include "conf/domain_conf.h"
#include "conf/domain_validate.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_postparse.h"
#include "testutils.h"
#include "util/virerror.h"

#define SCHEMA_PATH "/usr/share/libvirt/schemas/domain.rng"

/* Assertions are non-fatal (see main); stop the current case where going on would crash. */
#define TEST_REQUIRE(expr)                                                                         \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            g_printerr("%s:%d: requirement failed: %s\n", __FILE__, __LINE__, #expr);              \
            g_test_fail();                                                                         \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static xmlRelaxNGPtr schema;

static void
testSilentErrors(void *ctx, const char *msg, ...)
{
}

/* Loaded once: parsing libvirt's schema is the slowest thing this program does. */
static xmlRelaxNGPtr
testSchema(void)
{
    xmlRelaxNGParserCtxtPtr pctxt;

    if (schema)
        return schema;
    pctxt = xmlRelaxNGNewParserCtxt(SCHEMA_PATH);
    g_assert_nonnull(pctxt);
    schema = xmlRelaxNGParse(pctxt);
    xmlRelaxNGFreeParserCtxt(pctxt);
    if (!schema)
        g_error("cannot load %s (package libvirt0)", SCHEMA_PATH);
    return schema;
}

/* Errors collected from the validator, so a failure says what is wrong. */
static void
testSchemaError(void *opaque, const char *fmt, ...)
{
    GString *errors = opaque;
    va_list ap;

    va_start(ap, fmt);
    g_string_append_vprintf(errors, fmt, ap);
    va_end(ap);
}

static gboolean
testSchemaCheck(const char *xml, GString *errors)
{
    xmlRelaxNGValidCtxtPtr vctxt;
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "formatted.xml", NULL, XML_PARSE_NONET);
    int rc;

    if (!doc) {
        g_string_append(errors, "not well-formed XML\n");
        return FALSE;
    }
    vctxt = xmlRelaxNGNewValidCtxt(testSchema());
    xmlRelaxNGSetValidErrors(vctxt, testSchemaError, testSchemaError, errors);
    rc = xmlRelaxNGValidateDoc(vctxt, doc);
    xmlRelaxNGFreeValidCtxt(vctxt);
    xmlFreeDoc(doc);
    return rc == 0;
}

static void
testAssertSchemaValid(const char *xml, const char *what)
{
    g_autoptr(GString) errors = g_string_new(NULL);

    if (!testSchemaCheck(xml, errors)) {
        g_printerr("%s does not validate against %s:\n%s\n%s", what, SCHEMA_PATH, errors->str, xml);
        g_test_fail();
    }
}

static char *
testDataPath(const char *name, const char *suffix)
{
    g_autofree char *base = g_strdup_printf("qemuxml2xmldata/%s%s", name, suffix);
    return qvirTestSrcPath(base);
}

/* The recorded QEMU 7.2, so outputs are what libvirt 9.0 stores on this Debian 12 host. */
static qemuCaps *
testCaps(void)
{
    static qemuCaps *caps;

    if (!caps) {
        g_autofree char *path = qvirTestSrcPath("qemucapsdata/qemu-7.2.json");
        g_autoptr(GError) error = NULL;

        if (!(caps = qemuCapsLoadFile(path, &error)))
            g_error("%s", error->message);
        /* as on a host with /dev/kvm, so type='kvm' domains are accepted */
        qemuCapsSet(caps, QEMU_CAPS_KVM);
    }
    return caps;
}

/* What `virsh define` stores: parse, the QEMU driver's post-parse, then validation. */
static qvirDomainDef *
testParseValidate(const char *xml, unsigned int flags, GError **error)
{
    g_autoptr(qvirDomainDef) def = qvirDomainDefParseString(xml, flags, error);

    if (!def || !qemuDomainDefPostParse(def, testCaps(), "/usr/bin/qemu-system-x86_64", error) ||
        !qvirDomainDefValidate(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

static int
testCompareLines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of XML, sorted: the same multiset means "only the order differs". */
static char *
testSortedLines(const char *xml)
{
    g_auto(GStrv) lines = g_strsplit(xml, "\n", -1);
    guint n = g_strv_length(lines);

    qsort(lines, n, sizeof(char *), testCompareLines);
    return g_strjoinv("\n", lines);
}

/*
 * format(parse(X)) == X for a formatted X, in one view. The one exception is libvirt's
 * own: a controller the post-parse appended (virtio-serial after pcie-root, say) moves
 * among its type when the document is parsed again, as libvirt's parser inserts it
 * there. Then only the order may differ, and the second round must be a fixed point.
 */
static void
testAssertFixedPoint(const char *formatted, unsigned int parseFlags, unsigned int formatFlags,
                     const char *what)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = testParseValidate(formatted, parseFlags, &error);
    g_autoptr(qvirDomainDef) def2 = NULL;
    g_autofree char *again = NULL;
    g_autofree char *again2 = NULL;
    g_autofree char *sorted1 = NULL;
    g_autofree char *sorted2 = NULL;

    if (!def) {
        g_printerr("re-parsing the %s XML failed: %s\n", what, error->message);
        g_test_fail();
        return;
    }
    again = qvirDomainDefFormat(def, formatFlags);
    if (strcmp(again, formatted) == 0)
        return;
    sorted1 = testSortedLines(formatted);
    sorted2 = testSortedLines(again);
    def2 = testParseValidate(again, parseFlags, &error);
    again2 = def2 ? qvirDomainDefFormat(def2, formatFlags) : g_strdup("");
    if (strcmp(sorted1, sorted2) != 0 || strcmp(again, again2) != 0) {
        g_printerr("%s XML is not stable under parse+format\n--- first\n%s+++ second\n%s", what,
                   formatted, again);
        g_test_fail();
    }
}

static void
testErrorCase(const char *name, const char *input, unsigned int parseFlags)
{
    g_autofree char *errPath = testDataPath(name, ".err");
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = testParseValidate(input, parseFlags, &error);
    g_autofree char *expected = NULL;

    TEST_REQUIRE(def || error);
    if (def) {
        g_autofree char *xml = qvirDomainDefFormat(def, 0);
        g_printerr("%s: expected an error, but it parsed and validated:\n%s", name, xml);
        g_test_fail();
        return;
    }
    if (qvirTestRegenerate()) {
        g_autofree char *line = g_strdup_printf("%s\n", error->message);
        g_assert_true(qvirTestCompareToFile(line, errPath));
        return;
    }
    if (!g_file_get_contents(errPath, &expected, NULL, NULL)) {
        g_test_fail();
        return;
    }
    g_strchomp(expected);
    g_assert_cmpstr(error->message, ==, expected);
}

static void
testOutputCase(const char *name, const char *input, gboolean live)
{
    unsigned int parseFlags = live ? QVIR_DOMAIN_DEF_PARSE_STATUS : 0;
    g_autofree char *outPath = testDataPath(name, ".out.xml");
    g_autofree char *livePath = testDataPath(name, ".live.out.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = testParseValidate(input, parseFlags, &error);
    g_autofree char *inactive = NULL;

    if (!def) {
        if (qvirTestRegenerate() && !g_file_test(outPath, G_FILE_TEST_EXISTS)) {
            testErrorCase(name, input, parseFlags);
            return;
        }
        g_printerr("%s: unexpected error: %s\n", name, error->message);
        g_test_fail();
        return;
    }

    inactive = qvirDomainDefFormat(def, 0);
    g_assert_true(qvirTestCompareToFile(inactive, outPath));
    testAssertFixedPoint(inactive, 0, 0, "inactive");
    testAssertSchemaValid(inactive, outPath);

    if (live) {
        g_autofree char *liveXML = qvirDomainDefFormat(def, QVIR_DOMAIN_DEF_FORMAT_LIVE);
        g_autofree char *status = qvirDomainDefFormat(def, QVIR_DOMAIN_DEF_FORMAT_STATUS);
        g_autoptr(qvirDomainDef) fromStatus = NULL;
        g_autofree char *inactive2 = NULL;

        g_assert_true(qvirTestCompareToFile(liveXML, livePath));
        testAssertFixedPoint(liveXML, QVIR_DOMAIN_DEF_PARSE_LIVE, QVIR_DOMAIN_DEF_FORMAT_LIVE,
                             "live");
        testAssertFixedPoint(status, QVIR_DOMAIN_DEF_PARSE_STATUS, QVIR_DOMAIN_DEF_FORMAT_STATUS,
                             "status");
        testAssertSchemaValid(liveXML, livePath);

        /* The status XML keeps enough to give back the same inactive view after a restart. */
        fromStatus = qvirDomainDefParseString(status, QVIR_DOMAIN_DEF_PARSE_STATUS, &error);
        g_assert_no_error(error);
        if (!fromStatus)
            return;
        inactive2 = qvirDomainDefFormat(fromStatus, 0);
        g_assert_cmpstr(inactive2, ==, inactive);
    } else {
        g_assert_false(g_file_test(livePath, G_FILE_TEST_EXISTS));
    }
}

static void
testDataFile(gconstpointer data)
{
    const char *name = data;
    g_autofree char *inPath = testDataPath(name, ".xml");
    g_autofree char *errPath = testDataPath(name, ".err");
    g_autofree char *input = NULL;
    gboolean live = g_str_has_prefix(name, "live-");

    if (!g_file_get_contents(inPath, &input, NULL, NULL)) {
        g_test_fail();
        return;
    }
    if (g_file_test(errPath, G_FILE_TEST_EXISTS))
        testErrorCase(name, input, live ? QVIR_DOMAIN_DEF_PARSE_STATUS : 0);
    else
        testOutputCase(name, input, live);
}

static gint
testCompareNamesRef(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- cases that are not files ----------------------------------------------------------- */

static const char *minimalXML =
    "<domain type='kvm'><name>gen</name><memory>1024</memory>"
    "<os><type>hvm</type></os><devices>"
    "<disk type='file' device='disk'><source file='/img/a.qcow2'/><target dev='vda'/></disk>"
    "<interface type='user'/>"
    "</devices></domain>";

static void
testGeneratedUUIDAndMAC(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) a = qvirDomainDefParseString(minimalXML, 0, &error);
    g_autoptr(qvirDomainDef) b = qvirDomainDefParseString(minimalXML, 0, &error);
    const qvirDomainNetDef *net;
    unsigned char zero[QVIR_UUID_BUFLEN] = {0};
    unsigned char parsed[QVIR_UUID_BUFLEN];
    char str[QVIR_UUID_STRING_BUFLEN];

    g_assert_no_error(error);
    TEST_REQUIRE(a && b);
    g_assert_true(memcmp(a->uuid, zero, sizeof(zero)) != 0);
    g_assert_true(memcmp(a->uuid, b->uuid, sizeof(zero)) != 0);
    qvirUUIDFormat(a->uuid, str);
    g_assert_cmpint(str[14], ==, '4'); /* version 4 */
    g_assert_true(qvirUUIDParse(str, parsed));
    g_assert_true(memcmp(parsed, a->uuid, sizeof(parsed)) == 0);
    TEST_REQUIRE(a->nets->len == 1 && a->disks->len == 1);
    g_assert_false(qvirUUIDParse("c7a5fdbd-edaf-9455-926a-d65c16db180", parsed));
    g_assert_false(qvirUUIDParse("c7a5fdbd-edaf-9455-926a-d65c16db1809x", parsed));

    net = g_ptr_array_index(a->nets, 0);
    g_assert_true(g_str_has_prefix(net->mac, "52:54:00:"));
    g_assert_cmpuint(strlen(net->mac), ==, 17);
    /* Defaults filled in by parsing. */
    g_assert_cmpuint(a->memoryKiB, ==, 1024);
    g_assert_cmpuint(a->currentMemoryKiB, ==, 1024);
    g_assert_cmpint(((qvirDomainDiskDef *)g_ptr_array_index(a->disks, 0))->bus, ==,
                    QVIR_DOMAIN_DISK_BUS_VIRTIO);
}

/* A chain set up the way src/storage's probing leaves it (fromXML FALSE). */
static void
testProbedChainHiddenWhenInactive(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = qvirDomainDefParseString(minimalXML, 0, &error);
    qvirDomainDiskDef *disk;
    qvirStorageSource *base = qvirStorageSourceNew();
    g_autofree char *inactive = NULL;
    g_autofree char *live = NULL;
    g_autoptr(GString) chain = g_string_new(NULL);

    g_assert_no_error(error);
    TEST_REQUIRE(def);
    disk = qvirDomainDiskByTarget(def, "vda");
    TEST_REQUIRE(disk);
    g_assert_true(qvirDomainDiskByName(def, "/img/a.qcow2") == disk);
    g_assert_null(qvirDomainDiskByName(def, "vdb"));
    base->type = QVIR_STORAGE_TYPE_FILE;
    base->path = g_strdup("/img/base.raw");
    base->format = QVIR_STORAGE_FILE_RAW;
    base->id = 2;
    base->backingStore = qvirStorageSourceNew();
    disk->src->backingStore = base;
    disk->src->id = 1;

    inactive = qvirDomainDefFormat(def, 0);
    live = qvirDomainDefFormat(def, QVIR_DOMAIN_DEF_FORMAT_LIVE);
    g_assert_null(strstr(inactive, "backingStore"));
    g_assert_null(strstr(inactive, "index="));
    g_assert_nonnull(strstr(live, "<backingStore type='file' index='2'>"));
    g_assert_nonnull(strstr(live, "<source file='/img/a.qcow2' index='1'/>"));

    qvirDomainBackingStoreFormat(chain, disk->src->backingStore, QVIR_DOMAIN_DEF_FORMAT_LIVE, 4);
    g_assert_cmpstr(chain->str, ==,
                    "    <backingStore type='file' index='2'>\n"
                    "      <format type='raw'/>\n"
                    "      <source file='/img/base.raw'/>\n"
                    "      <backingStore/>\n"
                    "    </backingStore>\n");
    g_string_truncate(chain, 0);
    qvirDomainBackingStoreFormat(chain, disk->src->backingStore, 0, 4);
    g_assert_cmpstr(chain->str, ==, "");

    /* A probed protocol backing (never opened by us) shows as libvirt's network source. */
    qvirStorageSourceFree(base->backingStore);
    base->backingStore = qvirStorageSourceNew();
    base->backingStore->type = QVIR_STORAGE_TYPE_NETWORK;
    base->backingStore->path = g_strdup("nbd://192.0.2.1:10809/export1");
    base->backingStore->format = QVIR_STORAGE_FILE_RAW;
    g_clear_pointer(&live, g_free);
    live = qvirDomainDefFormat(def, QVIR_DOMAIN_DEF_FORMAT_LIVE);
    g_assert_nonnull(strstr(live, "          <source protocol='nbd' name='export1'>\n"
                                  "            <host name='192.0.2.1' port='10809'/>\n"
                                  "          </source>\n"));
    testAssertSchemaValid(live, "live XML with a network backing layer");
}

static void
testCopyKeepsLiveData(void)
{
    g_autofree char *path = qvirTestSrcPath("qemuxml2xmldata/live-chain-depth3.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def =
        qvirDomainDefParseFile(path, QVIR_DOMAIN_DEF_PARSE_STATUS, &error);
    g_autoptr(qvirDomainDef) copy = NULL;
    g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    qvirDomainDiskDef *disk;

    g_assert_no_error(error);
    TEST_REQUIRE(def);
    disk = g_ptr_array_index(def->disks, 0);
    disk->src->nodeFormat = g_strdup("libvirt-1-format");
    copy = qvirDomainDefCopy(def, QVIR_DOMAIN_DEF_FORMAT_LIVE, &error);
    g_assert_no_error(error);
    TEST_REQUIRE(copy);
    a = qvirDomainDefFormat(def, QVIR_DOMAIN_DEF_FORMAT_STATUS);
    b = qvirDomainDefFormat(copy, QVIR_DOMAIN_DEF_FORMAT_STATUS);
    g_assert_cmpstr(a, ==, b);
    c = qvirDomainDefFormat(def, 0);
    d = qvirDomainDefFormat(copy, 0);
    g_assert_cmpstr(c, ==, d);
    g_assert_cmpstr(((qvirDomainDiskDef *)g_ptr_array_index(copy->disks, 0))->src->nodeFormat, ==,
                    "libvirt-1-format");
    g_assert_cmpuint(qvirStorageSourceChainLength(disk->src), ==, 4);
}

static void
testDiskDefString(void)
{
    const char *xml = "<disk type='block' device='disk'>\n"
                      "  <driver name='qemu' type='raw' cache='directsync' io='native'/>\n"
                      "  <source dev='/dev/vg/hot'/>\n"
                      "  <target dev='vdb' bus='virtio'/>\n"
                      "</disk>\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDiskDef) disk = qvirDomainDiskDefParseString(xml, 0, &error);
    g_autofree char *out = NULL;

    g_assert_no_error(error);
    TEST_REQUIRE(disk);
    g_assert_true(qvirDomainDiskDefValidate(NULL, disk, &error));
    out = qvirDomainDiskDefFormat(disk, 0);
    g_assert_cmpstr(out, ==, xml);

    g_clear_pointer(&disk, qvirDomainDiskDefFree);
    disk = qvirDomainDiskDefParseString("<hostdev mode='subsystem'/>", 0, &error);
    g_assert_null(disk);
    TEST_REQUIRE(error);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED);
    g_assert_cmpstr(error->message, ==, "unsupported device element <hostdev>");
}

/* Attaching a disk whose target is taken names both sources, the existing one first (a
 * check of its own: a live attach makes it after reading the new disk's chain). */
static void
testDiskValidateAgainstDef(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = qvirDomainDefParseString(minimalXML, 0, &error);
    g_autoptr(qvirDomainDiskDef) disk = qvirDomainDiskDefParseString(
        "<disk type='file'><source file='/img/b.raw'/><target dev='vda'/></disk>", 0, &error);

    g_assert_no_error(error);
    TEST_REQUIRE(def && disk);
    g_assert_true(qvirDomainDiskDefValidate(def, disk, &error));
    g_assert_false(qvirDomainDiskDefCheckDuplicate(def, disk, &error));
    TEST_REQUIRE(error);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR);
    g_assert_cmpstr(error->message, ==,
                    "target 'vda' duplicated for disk sources '/img/a.qcow2' and '/img/b.raw'");
}

static void
testDocumentLimits(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GString) big = g_string_new("<domain type='kvm'><description>");
    g_autoptr(qvirDomainDef) def = NULL;

    while (big->len <= QVIR_DOMAIN_XML_MAX_SIZE)
        g_string_append(big, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    g_string_append(big, "</description></domain>");
    def = qvirDomainDefParseString(big->str, 0, &error);
    g_assert_null(def);
    TEST_REQUIRE(error);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR);
    g_assert_nonnull(strstr(error->message, "too large"));
    g_clear_error(&error);

    /* An external entity must never be fetched, even without a DTD being accepted. */
    def = qvirDomainDefParseString("<!DOCTYPE domain SYSTEM 'http://127.0.0.1:1/x.dtd'>"
                                   "<domain type='kvm'/>",
                                   0, &error);
    g_assert_null(def);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR);
    g_clear_error(&error);

    def = qvirDomainDefParseString("", 0, &error);
    g_assert_null(def);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR);
}

static char *
testDeepChainXML(unsigned int depth)
{
    GString *xml = g_string_new("<domain type='qemu'><name>deep</name><memory>1024</memory>"
                                "<os><type>hvm</type></os><devices><disk type='file'>"
                                "<driver name='qemu' type='qcow2'/>"
                                "<source file='/img/top.qcow2'/>");

    for (unsigned int i = 0; i < depth; i++)
        g_string_append_printf(xml,
                               "<backingStore type='file'><format type='qcow2'/>"
                               "<source file='/img/layer%u.qcow2'/>",
                               i);
    g_string_append(xml, "<backingStore/>");
    for (unsigned int i = 0; i < depth; i++)
        g_string_append(xml, "</backingStore>");
    g_string_append(xml, "<target dev='vda' bus='virtio'/></disk></devices></domain>");
    return g_string_free(xml, FALSE);
}

/* 200 layers is libvirt's limit and ours; one more is refused, not truncated. */
static void
testChainDepthLimit(void)
{
    g_autofree char *ok = testDeepChainXML(200);
    g_autofree char *tooDeep = testDeepChainXML(201);
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = qvirDomainDefParseString(ok, 0, &error);
    g_autoptr(qvirDomainDef) bad = NULL;
    g_autofree char *formatted = NULL;
    g_autoptr(qvirDomainDef) again = NULL;

    g_assert_no_error(error);
    TEST_REQUIRE(def);
    g_assert_cmpuint(
        qvirStorageSourceChainLength(((qvirDomainDiskDef *)g_ptr_array_index(def->disks, 0))->src),
        ==, 201);
    formatted = qvirDomainDefFormat(def, 0);
    again = qvirDomainDefParseString(formatted, 0, &error);
    g_assert_no_error(error);

    bad = qvirDomainDefParseString(tooDeep, 0, &error);
    g_assert_null(bad);
    TEST_REQUIRE(error);
    g_assert_cmpstr(error->message, ==,
                    "backing chains more than 200 layers deep are not supported");
}

static void
testDiskNameToIndex(void)
{
    g_assert_cmpint(qvirDiskNameToIndex("sda"), ==, 0);
    g_assert_cmpint(qvirDiskNameToIndex("hdz"), ==, 25);
    g_assert_cmpint(qvirDiskNameToIndex("vdaa"), ==, 26);
    g_assert_cmpint(qvirDiskNameToIndex("vdba"), ==, 52);
    g_assert_cmpint(qvirDiskNameToIndex("xvdb"), ==, 1);
    g_assert_cmpint(qvirDiskNameToIndex("sdb3"), ==, 1);
    g_assert_cmpint(qvirDiskNameToIndex("vd"), ==, -1);
    g_assert_cmpint(qvirDiskNameToIndex("vd1"), ==, -1);
    g_assert_cmpint(qvirDiskNameToIndex("vda-"), ==, -1);
    g_assert_cmpint(qvirDiskNameToIndex("nvme0n1"), ==, -1);
    g_assert_cmpint(qvirDiskNameToIndex("vdaaaaaaa"), ==, -1);
    g_assert_cmpint(qvirDiskNameToIndex(NULL), ==, -1);
}

/* The schema check must be able to fail, or the suite proves nothing. */
static void
testSchemaRejectsInvalid(void)
{
    g_autoptr(GString) errors = g_string_new(NULL);

    g_assert_false(testSchemaCheck("<domain type='bogus'><name>x</name></domain>", errors));
    g_assert_cmpuint(errors->len, >, 0);
    g_string_truncate(errors, 0);
    g_assert_false(testSchemaCheck("<domain type='kvm'><name>x</name><memory unit='KiB'>1"
                                   "</memory><os><type>hvm</type></os><devices><disk "
                                   "type='file' device='floppy-ish'/></devices></domain>",
                                   errors));
    g_string_truncate(errors, 0);
    g_assert_true(testSchemaCheck("<domain type='kvm'><name>x</name><memory unit='KiB'>1"
                                  "</memory><os><type>hvm</type></os></domain>",
                                  errors));
}

/* The shipped examples validate and are already in canonical form. */
static void
testExample(gconstpointer data)
{
    const char *path = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *content = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *formatted = NULL;

    TEST_REQUIRE(g_file_get_contents(path, &content, NULL, NULL));
    def = testParseValidate(content, 0, &error);
    g_assert_no_error(error);
    TEST_REQUIRE(def);
    formatted = qvirDomainDefFormat(def, 0);
    g_assert_cmpstr(formatted, ==, content);
    testAssertSchemaValid(formatted, path);
}

static void
testAddExamples(void)
{
    g_autofree char *dir = qvirTestSrcPath("../examples");
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const char *entry;

    if (!d)
        return;
    while ((entry = g_dir_read_name(d))) {
        if (g_str_has_suffix(entry, ".xml"))
            g_ptr_array_add(names, g_strdup(entry));
    }
    g_ptr_array_sort(names, testCompareNamesRef);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *name = g_ptr_array_index(names, i);
        g_autofree char *test = g_strdup_printf("/qemuxml2xml/examples/%s", name);
        /* Lives as long as the test run. */
        char *path = g_build_filename(dir, name, NULL);
        g_test_add_data_func_full(test, path, testExample, g_free);
    }
}

/* ---- the offline tool: qvirt validate / qvirt xml ---------------------------------------- */

typedef struct {
    int status;
    char *out;
    char *err;
} testToolResult;

static void
testToolResultClear(testToolResult *res)
{
    g_free(res->out);
    g_free(res->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(testToolResult, testToolResultClear);

static void
testToolRun(testToolResult *res, const char *cmd, const char *arg1, const char *arg2)
{
    g_autofree char *qvirt = qvirTestBuildPath("tools/qvirt");
    const char *argv[] = {qvirt, cmd, arg1, arg2, NULL};

    res->status = qvirTestRun(argv, &res->out, &res->err);
}

static void
testToolValidate(void)
{
    g_autofree char *good = qvirTestSrcPath("../examples/demo-q35.xml");
    g_autofree char *bad = qvirTestSrcPath("qemuxml2xmldata/err-cache-invalid.xml");
    g_autofree char *badErr = qvirTestSrcPath("qemuxml2xmldata/err-cache-invalid.err");
    g_autofree char *expectedOut = g_strdup_printf("%s: valid\n", good);
    g_autofree char *msg = NULL;
    g_autofree char *expectedErr = NULL;
    g_auto(testToolResult) ok = {0};
    g_auto(testToolResult) fail = {0};
    g_auto(testToolResult) help = {0};

    testToolRun(&ok, "validate", good, NULL);
    g_assert_cmpint(ok.status, ==, 0);
    g_assert_cmpstr(ok.out, ==, expectedOut);
    g_assert_cmpstr(ok.err, ==, "");

    TEST_REQUIRE(g_file_get_contents(badErr, &msg, NULL, NULL));
    expectedErr = g_strdup_printf("error: %s", msg);
    testToolRun(&fail, "validate", bad, NULL);
    g_assert_cmpint(fail.status, ==, 1);
    g_assert_cmpstr(fail.out, ==, "");
    g_assert_cmpstr(fail.err, ==, expectedErr);

    testToolRun(&help, "validate", "--help", NULL);
    g_assert_cmpint(help.status, ==, 0);
    g_assert_nonnull(strstr(help.out, "qvirt validate"));
}

static void
testToolXml(void)
{
    g_autofree char *in = qvirTestSrcPath("qemuxml2xmldata/disk-chain-user.xml");
    g_autofree char *outPath = qvirTestSrcPath("qemuxml2xmldata/disk-chain-user.out.xml");
    g_autofree char *livePath = qvirTestSrcPath("qemuxml2xmldata/live-chain-depth2.live.out.xml");
    g_autofree char *expected = NULL;
    g_autofree char *liveExpected = NULL;
    g_auto(testToolResult) inactive = {0};
    g_auto(testToolResult) live = {0};
    g_auto(testToolResult) help = {0};
    g_auto(testToolResult) missing = {0};

    TEST_REQUIRE(g_file_get_contents(outPath, &expected, NULL, NULL));
    TEST_REQUIRE(g_file_get_contents(livePath, &liveExpected, NULL, NULL));

    testToolRun(&inactive, "xml", in, NULL);
    g_assert_cmpint(inactive.status, ==, 0);
    g_assert_cmpstr(inactive.out, ==, expected);

    /* Live XML read back with --live comes out unchanged, index= and aliases included. */
    testToolRun(&live, "xml", livePath, "--live");
    g_assert_cmpint(live.status, ==, 0);
    g_assert_cmpstr(live.out, ==, liveExpected);

    testToolRun(&help, "xml", "--help", NULL);
    g_assert_cmpint(help.status, ==, 0);
    g_assert_nonnull(strstr(help.out, "--live"));

    testToolRun(&missing, "xml", "/nonexistent/dom.xml", NULL);
    g_assert_cmpint(missing.status, ==, 1);
    g_assert_true(g_str_has_prefix(missing.err, "error: cannot read '/nonexistent/dom.xml'"));
}

/* ---- registration ---------------------------------------------------------------------- */

static GPtrArray *
testListCases(void)
{
    g_autofree char *dir = qvirTestSrcPath("qemuxml2xmldata");
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *entry;

    g_assert_nonnull(d);
    while ((entry = g_dir_read_name(d))) {
        if (!g_str_has_suffix(entry, ".xml") || g_str_has_suffix(entry, ".out.xml"))
            continue;
        g_ptr_array_add(names, g_strndup(entry, strlen(entry) - strlen(".xml")));
    }
    return names;
}

int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    /* One broken case must not hide the others' results. */
    g_test_set_nonfatal_assertions();
    /* libxml2's generic error printer would mix parse errors of error cases into the TAP
     * stream; our own code never relies on it. */
    xmlSetGenericErrorFunc(NULL, testSilentErrors);

    names = testListCases();
    g_ptr_array_sort(names, testCompareNamesRef);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autofree char *path = g_strdup_printf("/qemuxml2xml/%s", name);
        g_test_add_data_func(path, name, testDataFile);
    }
    testAddExamples();
    g_test_add_func("/qemuxml2xml/api/generated-uuid-and-mac", testGeneratedUUIDAndMAC);
    g_test_add_func("/qemuxml2xml/api/probed-chain-hidden-when-inactive",
                    testProbedChainHiddenWhenInactive);
    g_test_add_func("/qemuxml2xml/api/copy-keeps-live-data", testCopyKeepsLiveData);
    g_test_add_func("/qemuxml2xml/api/disk-def-string", testDiskDefString);
    g_test_add_func("/qemuxml2xml/api/disk-validate-against-def", testDiskValidateAgainstDef);
    g_test_add_func("/qemuxml2xml/api/document-limits", testDocumentLimits);
    g_test_add_func("/qemuxml2xml/api/schema-rejects-invalid", testSchemaRejectsInvalid);
    g_test_add_func("/qemuxml2xml/api/disk-name-to-index", testDiskNameToIndex);
    g_test_add_func("/qemuxml2xml/api/chain-depth-limit", testChainDepthLimit);
    g_test_add_func("/qemuxml2xml/tool/validate", testToolValidate);
    g_test_add_func("/qemuxml2xml/tool/xml", testToolXml);

    ret = g_test_run();
    if (schema)
        xmlRelaxNGFree(schema);
    return ret;
}
