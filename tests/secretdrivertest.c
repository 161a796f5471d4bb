/* The secret driver: XML parse/format, define/redefine/undefine as libvirt, values that
 * survive a reopen and are encrypted on disk, refusals that change nothing. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/domain_conf.h"
#include "conf/secret_conf.h"
#include "secret/secret_driver.h"
#include "testutils.h"
#include "util/virerror.h"

#define UUID1 "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
#define UUID2 "5f3c2b1a-0000-4e44-9abc-def012345678"
#define CEPH1                                                                                      \
    "<secret ephemeral='no' private='no'>\n"                                                       \
    "  <uuid>" UUID1 "</uuid>\n"                                                                   \
    "  <description>ceph client.admin</description>\n"                                             \
    "  <usage type='ceph'>\n"                                                                      \
    "    <name>client.admin secret</name>\n"                                                       \
    "  </usage>\n"                                                                                 \
    "</secret>\n"

static guint8 uuid1[16], uuid2[16];
static GString *testLog; /* the driver's warnings, one a line */

static GLogWriterOutput
testLogWriter(GLogLevelFlags level, const GLogField *fields, gsize nfields, gpointer data)
{
    for (gsize i = 0; i < nfields; i++) {
        if (strcmp(fields[i].key, "MESSAGE") == 0) {
            g_string_append_printf(testLog, "%s\n", (const char *)fields[i].value);
            g_autofree char *line = g_strdup(fields[i].value);

            /* one TAP comment line, whatever the message holds */
            g_printerr("# log: %s\n", g_strdelimit(line, "\n", ' '));
        }
    }
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        return g_log_writer_default(level, fields, nfields, data);
    return G_LOG_WRITER_HANDLED;
}

/* The log since the last call matches PATTERN (g_pattern_match_simple, over all lines). */
static void
testLogExpect(const char *pattern)
{
    if (!g_pattern_match_simple(pattern, testLog->str))
        g_error("log '%s' does not match '%s'", testLog->str, pattern);
    g_string_truncate(testLog, 0);
}

static char *
dirEntries(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const char *name;

    while (d && (name = g_dir_read_name(d)))
        g_ptr_array_add(names, (gpointer)name);
    /* a few names: sorted by hand */
    for (guint i = 0; i < names->len; i++)
        for (guint j = i + 1; j < names->len; j++)
            if (strcmp(names->pdata[i], names->pdata[j]) > 0) {
                gpointer t = names->pdata[i];
                names->pdata[i] = names->pdata[j];
                names->pdata[j] = t;
            }
    g_ptr_array_add(names, NULL);
    return g_strjoinv(" ", (char **)names->pdata);
}

static void
testConfRoundTrip(void)
{
    const char *cases[] = {
        CEPH1,
        "<secret ephemeral='yes' private='yes'>\n  <uuid>" UUID2 "</uuid>\n"
        "  <usage type='volume'>\n    <volume>/var/lib/images/a&amp;b.luks</volume>\n"
        "  </usage>\n</secret>\n",
        "<secret ephemeral='no' private='no'>\n  <uuid>" UUID2 "</uuid>\n"
        "  <usage type='iscsi'>\n    <target>libvirtiscsi</target>\n  </usage>\n</secret>\n",
        "<secret ephemeral='no' private='no'>\n  <uuid>" UUID2 "</uuid>\n"
        "  <usage type='tls'>\n    <name>TLS_example</name>\n  </usage>\n</secret>\n",
        "<secret ephemeral='no' private='yes'>\n  <uuid>" UUID2 "</uuid>\n"
        "  <usage type='vtpm'>\n    <name>VTPM_example</name>\n  </usage>\n</secret>\n",
        "<secret ephemeral='no' private='no'>\n  <uuid>" UUID2 "</uuid>\n</secret>\n",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(qvirSecretDef) def = qvirSecretDefParseString(cases[i], &error);
        g_autofree char *out = NULL;

        g_assert_no_error(error);
        g_assert_true(qvirSecretDefValidate(def, &error));
        out = qvirSecretDefFormat(def);
        g_assert_cmpstr(out, ==, cases[i]);
    }
}

static void
testConfDefaults(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirSecretDef) def =
        qvirSecretDefParseString("<secret><usage type='none'/></secret>", &error);
    g_autofree char *out = NULL;
    char uuidstr[QVIR_UUID_STRING_BUFLEN];
    g_autofree char *expect = NULL;

    g_assert_no_error(error);
    g_assert_true(qvirSecretDefValidate(def, &error));
    qvirUUIDFormat(def->uuid, uuidstr);
    expect = g_strdup_printf("<secret ephemeral='no' private='no'>\n  <uuid>%s</uuid>\n"
                             "</secret>\n",
                             uuidstr);
    out = qvirSecretDefFormat(def);
    g_assert_cmpstr(out, ==, expect);
}

/* The formatted documents are what libvirt's own schema accepts. */
static void
testConfSchema(void)
{
    const char *rng = "/usr/share/libvirt/schemas/secret.rng";
    g_autofree char *dir = qvirTestTempDirNew("secretdrivertest");
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirSecretDef) def = qvirSecretDefParseString(CEPH1, &error);
    g_autofree char *out = qvirSecretDefFormat(def);
    g_autofree char *path = g_build_filename(dir, "s.xml", NULL);
    const char *argv[] = {"xmllint", "--noout", "--relaxng", rng, path, NULL};

    g_assert_true(g_file_test(rng, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_set_contents(path, out, -1, NULL));
    qvirTestRunOk(argv);
    qvirTestTempDirRemove(dir);
}

static void
testConfErrors(void)
{
    static const struct {
        const char *xml;
        int code;
        const char *msg;
    } cases[] = {
        {"<secret ephemeral='maybe'/>", QVIR_ERR_XML_ERROR,
         "XML error: invalid value of 'ephemeral'"},
        {"<secret private='1'/>", QVIR_ERR_XML_ERROR, "XML error: invalid value of 'private'"},
        {"<secret><uuid>nope</uuid></secret>", QVIR_ERR_INTERNAL_ERROR,
         "internal error: malformed uuid element"},
        {"<secret><usage/></secret>", QVIR_ERR_XML_ERROR, "XML error: unknown secret usage type"},
        {"<secret><usage type='nfs'/></secret>", QVIR_ERR_CONFIG_UNSUPPORTED,
         "unsupported configuration: unknown secret usage type nfs"},
        {"<secret><usage type='ceph'/></secret>", QVIR_ERR_INTERNAL_ERROR,
         "internal error: Ceph usage specified, but name is missing"},
        {"<secret><usage type='ceph'><target>x</target></usage></secret>", QVIR_ERR_INTERNAL_ERROR,
         "internal error: Ceph usage specified, but name is missing"},
        {"<secret><usage type='iscsi'><name>x</name></usage></secret>", QVIR_ERR_INTERNAL_ERROR,
         "internal error: iSCSI usage specified, but target is missing"},
        {"<secret><usage type='volume'></usage></secret>", QVIR_ERR_INTERNAL_ERROR,
         "internal error: volume usage specified, but volume path is missing"},
        {"<secret><usage type='tls'><name></name></usage></secret>", QVIR_ERR_INTERNAL_ERROR,
         "internal error: TLS usage specified, but name is missing"},
        {"<secret><usage type='vtpm'/></secret>", QVIR_ERR_INTERNAL_ERROR,
         "internal error: vTPM usage specified, but name is missing"},
        {"<pool/>", QVIR_ERR_XML_ERROR,
         "XML error: expecting root element of 'secret', not 'pool'"},
        {"<secret>", QVIR_ERR_XML_DETAIL, "(definition_of_secret):1: "},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(qvirSecretDef) def = qvirSecretDefParseString(cases[i].xml, &error);

        if (def)
            g_assert_false(qvirSecretDefValidate(def, &error));
        g_assert_nonnull(error);
        g_assert_cmpint(error->code, ==, cases[i].code);
        if (!g_str_has_prefix(error->message, cases[i].msg))
            g_error("'%s': got '%s', want '%s'", cases[i].xml, error->message, cases[i].msg);
        if (cases[i].code != QVIR_ERR_XML_DETAIL)
            g_assert_cmpstr(error->message, ==, cases[i].msg);
    }
}

typedef struct {
    int defined, undefined, changed;
} EventCount;

static void
countEvent(const qvirSecretRef *ref, int eventID, int event, gpointer opaque)
{
    EventCount *c = opaque;

    g_assert_nonnull(ref);
    if (eventID == QVIR_SECRET_EVENT_ID_VALUE_CHANGED)
        c->changed++;
    else if (event == QVIR_SECRET_EVENT_DEFINED)
        c->defined++;
    else
        c->undefined++;
}

static void
testDriverLifecycle(void)
{
    g_autofree char *dir = qvirTestTempDirNew("secretdrivertest");
    g_autofree char *sdir = g_build_filename(dir, "secrets", NULL);
    g_autofree char *keyPath = g_build_filename(sdir, "secrets-encryption-key", NULL);
    g_autofree char *valuePath = g_build_filename(sdir, UUID1 ".value", NULL);
    g_autoptr(GError) error = NULL;
    qvirSecretDriver *drv;
    g_autoptr(qvirSecretRef) ref = NULL;
    g_autoptr(GBytes) value = NULL;
    g_autofree char *files = NULL;
    g_autofree char *onDisk = NULL;
    const char *clear = "AQDxuPlc3PZlJBAAl6KVjsxyhu8PoYdnTsLKlg==";
    EventCount ev = {0};
    gsize len = 0;
    struct stat sb;

    drv = qvirSecretDriverOpen(sdir, &error);
    g_assert_no_error(error);
    qvirSecretDriverSetEventCallback(drv, countEvent, &ev);
    g_assert_cmpint(g_stat(sdir, &sb), ==, 0);
    g_assert_cmpint(sb.st_mode & 0777, ==, 0700);
    g_assert_cmpint(g_stat(keyPath, &sb), ==, 0);
    g_assert_cmpint(sb.st_mode & 0777, ==, 0600);
    g_assert_cmpint(sb.st_size, ==, 64);

    ref = qvirSecretDefineXML(drv, CEPH1, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpint(ref->usageType, ==, QVIR_SECRET_USAGE_CEPH);
    g_assert_cmpstr(ref->usageID, ==, "client.admin secret");
    g_assert_cmpint(qvirSecretNumOfSecrets(drv), ==, 1);

    /* no value yet */
    g_assert_null(qvirSecretGetValue(drv, uuid1, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET);
    g_assert_cmpstr(error->message, ==,
                    "Secret not found: secret '" UUID1 "' does not have a value");
    g_clear_error(&error);

    g_assert_true(qvirSecretSetValue(drv, uuid1, (const guint8 *)clear, strlen(clear), 0, &error));
    g_assert_no_error(error);
    value = qvirSecretGetValue(drv, uuid1, 0, &error);
    g_assert_cmpmem(g_bytes_get_data(value, NULL), g_bytes_get_size(value), clear, strlen(clear));
    g_clear_pointer(&value, g_bytes_unref);

    /* on disk: encrypted, 0600 */
    g_assert_true(g_file_get_contents(valuePath, &onDisk, &len, NULL));
    g_assert_null(g_strstr_len(onDisk, (gssize)len, "AQDxuPlc"));
    g_assert_cmpint(g_stat(valuePath, &sb), ==, 0);
    g_assert_cmpint(sb.st_mode & 0777, ==, 0600);
    files = dirEntries(sdir);
    g_assert_cmpstr(files, ==, UUID1 ".value " UUID1 ".xml secrets-encryption-key");

    /* the netdisk lookup: by uuid, by usage */
    value = qvirSecretLookupValue(drv, UUID1, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_bytes_get_size(value), ==, strlen(clear));
    g_clear_pointer(&value, g_bytes_unref);
    value = qvirSecretLookupValue(drv, NULL, "ceph", "client.admin secret", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_bytes_get_size(value), ==, strlen(clear));
    g_clear_pointer(&value, g_bytes_unref);
    g_assert_null(qvirSecretLookupValue(drv, NULL, "iscsi", "client.admin secret", &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET);
    g_assert_cmpstr(error->message, ==,
                    "Secret not found: no secret with matching usage 'client.admin secret'");
    g_clear_error(&error);
    g_assert_null(qvirSecretLookupValue(drv, UUID2, NULL, NULL, &error));
    g_assert_cmpstr(error->message, ==,
                    "Secret not found: no secret with matching uuid '" UUID2 "'");
    g_clear_error(&error);

    /* reopen: the definition and the value are back */
    qvirSecretDriverClose(drv);
    drv = qvirSecretDriverOpen(sdir, &error);
    g_assert_no_error(error);
    qvirSecretDriverSetEventCallback(drv, countEvent, &ev);
    value = qvirSecretGetValue(drv, uuid1, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpmem(g_bytes_get_data(value, NULL), g_bytes_get_size(value), clear, strlen(clear));
    g_clear_pointer(&value, g_bytes_unref);

    /* redefine the same UUID as private: replaces, keeps the value; then it is refused to
     * clients but not to the daemon, and cannot become public again */
    {
        g_autofree char *priv = NULL;
        g_autoptr(qvirSecretRef) r = NULL;
        g_autofree char *xml = NULL;

        priv = g_strdup_printf("<secret private='yes'><uuid>%s</uuid><usage type='ceph'>"
                               "<name>client.admin secret</name></usage></secret>",
                               UUID1);
        r = qvirSecretDefineXML(drv, priv, 0, &error);
        g_assert_no_error(error);
        xml = qvirSecretGetXMLDesc(drv, uuid1, 0, &error);
        g_assert_nonnull(strstr(xml, "private='yes'"));
        g_assert_null(strstr(xml, "<description>"));
    }
    g_assert_null(qvirSecretGetValue(drv, uuid1, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_SECRET);
    g_assert_cmpstr(error->message, ==, "Invalid secret: secret is private");
    g_clear_error(&error);
    value = qvirSecretLookupValue(drv, UUID1, NULL, NULL, &error);
    g_assert_nonnull(value);
    g_clear_pointer(&value, g_bytes_unref);
    g_assert_null(qvirSecretDefineXML(drv, CEPH1, 0, &error));
    g_assert_cmpstr(error->message, ==,
                    "internal error: cannot change private flag on existing secret");
    g_clear_error(&error);

    /* same UUID, other usage; other UUID, same usage */
    g_assert_null(qvirSecretDefineXML(drv,
                                      "<secret private='yes'><uuid>" UUID1 "</uuid><usage "
                                      "type='ceph'><name>other</name></usage></secret>",
                                      0, &error));
    g_assert_cmpstr(error->message, ==,
                    "internal error: a secret with UUID " UUID1
                    " is already defined for use with client.admin secret");
    g_clear_error(&error);
    g_assert_null(qvirSecretDefineXML(drv,
                                      "<secret><uuid>" UUID2 "</uuid><usage type='ceph'><name>"
                                      "client.admin secret</name></usage></secret>",
                                      0, &error));
    g_assert_cmpstr(error->message, ==,
                    "internal error: a secret with UUID " UUID1
                    " already defined for use with client.admin secret");
    g_clear_error(&error);
    g_assert_cmpint(qvirSecretNumOfSecrets(drv), ==, 1);
    g_clear_pointer(&files, g_free);
    files = dirEntries(sdir);
    g_assert_cmpstr(files, ==, UUID1 ".value " UUID1 ".xml secrets-encryption-key");

    /* the same usage id under another type is another usage */
    {
        g_autoptr(qvirSecretRef) r = qvirSecretDefineXML(
            drv,
            "<secret ephemeral='yes'><uuid>" UUID2 "</uuid><usage type='tls'><name>"
            "client.admin secret</name></usage></secret>",
            0, &error);
        g_autoptr(GPtrArray) all = NULL;

        g_assert_no_error(error);
        g_assert_true(qvirSecretSetValue(drv, uuid2, (const guint8 *)"\0\1\2", 3, 0, &error));
        all = qvirSecretListAll(drv, QVIR_CONNECT_LIST_SECRETS_EPHEMERAL, &error);
        g_assert_cmpuint(all->len, ==, 1);
        g_clear_pointer(&all, g_ptr_array_unref);
        all = qvirSecretListAll(drv, QVIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL, &error);
        g_assert_cmpuint(all->len, ==, 1);
        g_assert_cmpmem(((qvirSecretRef *)all->pdata[0])->uuid, 16, uuid1, 16);
        g_clear_pointer(&all, g_ptr_array_unref);
        all = qvirSecretListAll(drv, QVIR_CONNECT_LIST_SECRETS_PRIVATE, &error);
        g_assert_cmpuint(all->len, ==, 1);
        g_clear_pointer(&all, g_ptr_array_unref);
        all = qvirSecretListAll(
            drv, QVIR_CONNECT_LIST_SECRETS_EPHEMERAL | QVIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL,
            &error);
        g_assert_cmpuint(all->len, ==, 2);
        g_clear_pointer(&all, g_ptr_array_unref);
        all = qvirSecretListAll(
            drv, QVIR_CONNECT_LIST_SECRETS_PRIVATE | QVIR_CONNECT_LIST_SECRETS_EPHEMERAL, &error);
        g_assert_cmpuint(all->len, ==, 0);
        g_assert_null(qvirSecretListAll(drv, 1u << 4, &error));
        g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
        g_clear_error(&error);
        /* ephemeral: nothing on disk */
        g_clear_pointer(&files, g_free);
        files = dirEntries(sdir);
        g_assert_cmpstr(files, ==, UUID1 ".value " UUID1 ".xml secrets-encryption-key");
    }

    /* undefine; then lookups fail */
    g_assert_true(qvirSecretUndefine(drv, uuid1, &error));
    g_assert_no_error(error);
    g_assert_false(qvirSecretUndefine(drv, uuid1, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET);
    g_clear_error(&error);
    g_clear_pointer(&files, g_free);
    files = dirEntries(sdir);
    g_assert_cmpstr(files, ==, "secrets-encryption-key");
    g_assert_cmpint(ev.defined, ==, 3);
    g_assert_cmpint(ev.changed, ==, 2);
    g_assert_cmpint(ev.undefined, ==, 1);

    /* the ephemeral one is gone after a reopen */
    qvirSecretDriverClose(drv);
    drv = qvirSecretDriverOpen(sdir, &error);
    g_assert_cmpint(qvirSecretNumOfSecrets(drv), ==, 0);
    qvirSecretDriverClose(drv);
    qvirTestTempDirRemove(dir);
}

/* A damaged value file, a foreign key, a bad XML file: that secret is left out with a
 * warning naming it; the others load. A key file of the wrong size fails the open. */
static void
testDriverCorrupt(void)
{
    g_autofree char *dir = qvirTestTempDirNew("secretdrivertest");
    g_autofree char *sdir = g_build_filename(dir, "secrets", NULL);
    g_autofree char *keyPath = g_build_filename(sdir, "secrets-encryption-key", NULL);
    g_autofree char *valuePath = g_build_filename(sdir, UUID1 ".value", NULL);
    g_autofree char *badXml = g_build_filename(sdir, UUID2 ".xml", NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *contents = NULL;
    g_autoptr(qvirSecretRef) ref = NULL;
    gsize len = 0;
    qvirSecretDriver *drv = qvirSecretDriverOpen(sdir, &error);

    ref = qvirSecretDefineXML(drv, CEPH1, 0, &error);
    g_assert_true(qvirSecretSetValue(drv, uuid1, (const guint8 *)"pw", 2, 0, &error));
    qvirSecretDriverClose(drv);

    /* a flipped bit in the ciphertext */
    g_assert_true(g_file_get_contents(valuePath, &contents, &len, NULL));
    contents[20] ^= 1;
    g_assert_true(g_file_set_contents(valuePath, contents, (gssize)len, NULL));
    g_assert_true(g_file_set_contents(badXml, "<secret><uuid>", -1, NULL));
    g_string_truncate(testLog, 0);
    drv = qvirSecretDriverOpen(sdir, &error);
    testLogExpect("*" UUID1 ".xml' not loaded: *is corrupt or was written with another key\n"
                  "*" UUID2 ".xml' not loaded: (definition_of_secret)*");
    g_assert_no_error(error);
    g_assert_cmpint(qvirSecretNumOfSecrets(drv), ==, 0);
    qvirSecretDriverClose(drv);

    /* the right bytes under another key */
    contents[20] ^= 1;
    g_assert_true(g_file_set_contents(valuePath, contents, (gssize)len, NULL));
    g_unlink(badXml);
    drv = qvirSecretDriverOpen(sdir, &error);
    g_assert_cmpint(qvirSecretNumOfSecrets(drv), ==, 1);
    qvirSecretDriverClose(drv);
    g_unlink(keyPath);
    drv = qvirSecretDriverOpen(sdir, &error);
    testLogExpect("*" UUID1 ".xml' not loaded: *written with another key\n");
    g_assert_cmpint(qvirSecretNumOfSecrets(drv), ==, 0);
    qvirSecretDriverClose(drv);

    /* a truncated value file */
    g_assert_true(g_file_set_contents(valuePath, contents, 12, NULL));
    drv = qvirSecretDriverOpen(sdir, &error);
    testLogExpect("*is not a qvirt secret value\n");
    qvirSecretDriverClose(drv);

    /* a key file that is not one */
    g_assert_true(g_file_set_contents(keyPath, "short", -1, NULL));
    g_assert_null(qvirSecretDriverOpen(sdir, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
    g_assert_nonnull(strstr(error->message, "is corrupt: 5 bytes, expected 64"));
    qvirTestTempDirRemove(dir);
}

/* Bad input changes nothing: a failed define, set-value on a missing secret, a too large
 * value. */
static void
testDriverBadInput(void)
{
    g_autofree char *dir = qvirTestTempDirNew("secretdrivertest");
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirSecretRef) ref = NULL;
    g_autoptr(GBytes) value = NULL;
    g_autofree guint8 *big = g_malloc0(QVIR_SECRET_VALUE_MAX + 1);
    qvirSecretDriver *drv = qvirSecretDriverOpen(dir, &error);

    ref = qvirSecretDefineXML(drv, CEPH1, 0, &error);
    g_assert_true(qvirSecretSetValue(drv, uuid1, (const guint8 *)"old", 3, 0, &error));
    g_assert_false(qvirSecretSetValue(drv, uuid1, big, QVIR_SECRET_VALUE_MAX + 1, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);
    g_assert_false(qvirSecretSetValue(drv, uuid2, (const guint8 *)"x", 1, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_NO_SECRET);
    g_clear_error(&error);
    g_assert_false(qvirSecretSetValue(drv, uuid1, (const guint8 *)"x", 1, 4, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);
    g_assert_null(qvirSecretDefineXML(drv, "<secret><usage type='ceph'/></secret>", 0, &error));
    g_clear_error(&error);
    g_assert_null(qvirSecretDefineXML(drv, CEPH1, QVIR_SECRET_DEFINE_VALIDATE << 1, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);
    g_assert_cmpint(qvirSecretNumOfSecrets(drv), ==, 1);
    value = qvirSecretGetValue(drv, uuid1, 0, &error);
    g_assert_cmpmem(g_bytes_get_data(value, NULL), g_bytes_get_size(value), "old", 3);

    /* NULL, as libvirt's wire decoder gives for an empty value, is refused */
    g_assert_false(qvirSecretSetValue(drv, uuid1, NULL, 0, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_assert_cmpstr(error->message, ==, "value in virSecretSetValue must not be NULL");
    g_clear_error(&error);
    g_clear_pointer(&value, g_bytes_unref);
    value = qvirSecretGetValue(drv, uuid1, 0, &error);
    g_assert_cmpmem(g_bytes_get_data(value, NULL), g_bytes_get_size(value), "old", 3);

    /* VALIDATE: libvirt's schema decides before anything is parsed */
    g_assert_null(
        qvirSecretDefineXML(drv, "<secret><foo/></secret>", QVIR_SECRET_DEFINE_VALIDATE, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_XML_INVALID_SCHEMA);
    g_assert_cmpstr(error->message, ==,
                    "XML document failed to validate against schema: Unable to validate doc "
                    "against /usr/share/libvirt/schemas/secret.rng\n"
                    "Element secret has extra content: foo\n");
    g_clear_error(&error);
    g_assert_null(qvirSecretDefineXML(drv, "<secret>", QVIR_SECRET_DEFINE_VALIDATE, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL);
    g_clear_error(&error);
    {
        g_autoptr(qvirSecretRef) r = qvirSecretDefineXML(
            drv, "<secret><uuid>" UUID2 "</uuid><usage type='tls'><name>t</name></usage></secret>",
            QVIR_SECRET_DEFINE_VALIDATE, &error);

        g_assert_no_error(error);
        g_assert_nonnull(r);
    }
    g_assert_cmpint(qvirSecretNumOfSecrets(drv), ==, 2);
    qvirSecretDriverClose(drv);
    qvirTestTempDirRemove(dir);
}

/* Redefining between ephemeral and persistent moves the value between memory and disk. */
static void
testDriverEphemeralSwitch(void)
{
    g_autofree char *dir = qvirTestTempDirNew("secretdrivertest");
    g_autofree char *files = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) value = NULL;
    const char *eph = "<secret ephemeral='yes'><uuid>" UUID1 "</uuid><usage type='ceph'>"
                      "<name>n</name></usage></secret>";
    const char *pers = "<secret ephemeral='no'><uuid>" UUID1 "</uuid><usage type='ceph'>"
                       "<name>n</name></usage></secret>";
    qvirSecretDriver *drv = qvirSecretDriverOpen(dir, &error);
    qvirSecretRef *ref;

    ref = qvirSecretDefineXML(drv, eph, 0, &error);
    qvirSecretRefFree(ref);
    g_assert_true(qvirSecretSetValue(drv, uuid1, (const guint8 *)"v1", 2, 0, &error));
    files = dirEntries(dir);
    g_assert_cmpstr(files, ==, "secrets-encryption-key");
    g_clear_pointer(&files, g_free);

    ref = qvirSecretDefineXML(drv, pers, 0, &error);
    g_assert_no_error(error);
    qvirSecretRefFree(ref);
    files = dirEntries(dir);
    g_assert_cmpstr(files, ==, UUID1 ".value " UUID1 ".xml secrets-encryption-key");
    g_clear_pointer(&files, g_free);
    qvirSecretDriverClose(drv);
    drv = qvirSecretDriverOpen(dir, &error);
    value = qvirSecretGetValue(drv, uuid1, 0, &error);
    g_assert_cmpmem(g_bytes_get_data(value, NULL), g_bytes_get_size(value), "v1", 2);

    ref = qvirSecretDefineXML(drv, eph, 0, &error);
    g_assert_no_error(error);
    qvirSecretRefFree(ref);
    files = dirEntries(dir);
    g_assert_cmpstr(files, ==, "secrets-encryption-key");
    g_clear_pointer(&value, g_bytes_unref);
    value = qvirSecretGetValue(drv, uuid1, 0, &error);
    g_assert_cmpmem(g_bytes_get_data(value, NULL), g_bytes_get_size(value), "v1", 2);
    qvirSecretDriverClose(drv);
    qvirTestTempDirRemove(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    testLog = g_string_new(NULL);
    g_log_set_writer_func(testLogWriter, NULL, NULL);
    g_assert_true(qvirUUIDParse(UUID1, uuid1));
    g_assert_true(qvirUUIDParse(UUID2, uuid2));
    g_test_add_func("/secret/conf/roundtrip", testConfRoundTrip);
    g_test_add_func("/secret/conf/defaults", testConfDefaults);
    g_test_add_func("/secret/conf/schema", testConfSchema);
    g_test_add_func("/secret/conf/errors", testConfErrors);
    g_test_add_func("/secret/driver/lifecycle", testDriverLifecycle);
    g_test_add_func("/secret/driver/corrupt", testDriverCorrupt);
    g_test_add_func("/secret/driver/bad-input", testDriverBadInput);
    g_test_add_func("/secret/driver/ephemeral-switch", testDriverEphemeralSwitch);
    return g_test_run();
}
