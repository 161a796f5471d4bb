/*
 * fuzz_secret_xml.c: secret XML parse -> validate -> format -> parse (src/conf/
 * secret_conf.c). Every failure comes with a QVIR_ERROR error and a message. Whenever a
 * definition parses and validates, its formatted XML parses and validates again, and
 * formatting that gives the same text once more. (The first text may differ from the
 * second: as libvirt, the formatter writes a carriage return it read from "&#13;" as is,
 * and the parser reads it back as a newline.)
 */
#include <string.h>

#include <libxml/parser.h>

#include "conf/secret_conf.h"
#include "fuzz-common.h"
#include "util/virerror.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzCommonInit();
    xmlInitParser();
    return 0;
}

static void
fuzzCheckError(const GError *error, const char *what)
{
    FUZZ_CHECK(error != NULL, "%s failed without an error", what);
    FUZZ_CHECK(error->domain == QVIR_ERROR, "%s: error of another domain", what);
    FUZZ_CHECK(error->message && *error->message, "%s: empty error message", what);
}

/* XML -> validated definition -> its text; NULL (with the error checked) when refused. */
static char *
fuzzRound(const char *xml, gboolean mustPass)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(qvirSecretDef) def = qvirSecretDefParseString(xml, &err);

    if (!def) {
        FUZZ_CHECK(!mustPass, "formatted secret does not parse: %s\n%s", err->message, xml);
        fuzzCheckError(err, "secret parse");
        return NULL;
    }
    if (!qvirSecretDefValidate(def, &err)) {
        FUZZ_CHECK(!mustPass, "formatted secret does not validate: %s\n%s", err->message, xml);
        fuzzCheckError(err, "secret validate");
        return NULL;
    }
    FUZZ_CHECK(def->usageType < QVIR_SECRET_USAGE_LAST, "usage type %d", def->usageType);
    FUZZ_CHECK(def->usageType == QVIR_SECRET_USAGE_NONE || def->usageID, "usage %d without an id",
               def->usageType);
    return qvirSecretDefFormat(def);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = NULL;
    g_autofree char *first = NULL;
    g_autofree char *second = NULL;
    g_autofree char *third = NULL;

    if (size > QVIR_SECRET_XML_MAX_SIZE)
        return 0;
    xml = g_strndup((const char *)data, size);
    if (!(first = fuzzRound(xml, FALSE)))
        return 0;
    second = fuzzRound(first, TRUE);
    third = fuzzRound(second, TRUE);
    FUZZ_CHECK(g_str_equal(second, third), "secret round trip differs:\n%s\n%s", second, third);
    return 0;
}
