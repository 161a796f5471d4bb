/*
 * fuzz_storage_xml.c: storage pool and volume XML parse -> validate -> format -> parse
 * (src/conf/storage_*). The input is parsed as a pool and as a volume. Whenever parsing
 * succeeds, validation answers with an error exactly when it fails, and the formatted
 * XML parses again and formats to the very same text (format never writes what parse
 * refuses, and the round trip agrees). A pool or volume name never holds a '/' (it
 * becomes a file name). Every failure comes with a QVIR_ERROR error and a message.
 */
#include <string.h>

#include <libxml/parser.h>

#include "conf/storage_pool_conf.h"
#include "conf/storage_vol_conf.h"
#include "fuzz-common.h"
#include "util/virerror.h"

#define FUZZ_XML_MAX (64 * 1024)

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

static void
fuzzPool(const char *xml)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(qvirStoragePoolDef) def = qvirStoragePoolDefParseString(xml, &err);
    g_autoptr(qvirStoragePoolDef) again = NULL;
    g_autofree char *first = NULL;
    g_autofree char *second = NULL;
    gboolean valid;

    if (!def) {
        fuzzCheckError(err, "pool parse");
        return;
    }
    FUZZ_CHECK(!strchr(def->name, '/'), "pool name '%s' holds a slash", def->name);
    valid = qvirStoragePoolDefValidate(def, &err);
    if (!valid)
        fuzzCheckError(err, "pool validate");
    g_clear_error(&err);
    if (!valid)
        return; /* format needs what validation guarantees (a target path) */
    first = qvirStoragePoolDefFormat(def);
    again = qvirStoragePoolDefParseString(first, &err);
    FUZZ_CHECK(again != NULL, "formatted pool does not parse: %s\n%s", err->message, first);
    FUZZ_CHECK(qvirStoragePoolDefValidate(again, NULL), "formatted pool does not validate");
    second = qvirStoragePoolDefFormat(again);
    FUZZ_CHECK(g_str_equal(first, second), "pool round trip differs:\n%s\n%s", first, second);
}

static void
fuzzVol(const char *xml)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(qvirStorageVolDef) def = qvirStorageVolDefParseString(xml, &err);
    g_autoptr(qvirStorageVolDef) again = NULL;
    g_autofree char *first = NULL;
    g_autofree char *second = NULL;

    if (!def) {
        fuzzCheckError(err, "volume parse");
        return;
    }
    if (!qvirStorageVolDefValidate(def, FALSE, &err)) {
        fuzzCheckError(err, "volume validate");
        g_clear_error(&err);
    } else {
        FUZZ_CHECK(!strchr(def->name, '/'), "volume name '%s' holds a slash", def->name);
    }
    first = qvirStorageVolDefFormat(def);
    again = qvirStorageVolDefParseString(first, &err);
    FUZZ_CHECK(again != NULL, "formatted volume does not parse: %s\n%s", err->message, first);
    second = qvirStorageVolDefFormat(again);
    FUZZ_CHECK(g_str_equal(first, second), "volume round trip differs:\n%s\n%s", first, second);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = NULL;

    if (size > FUZZ_XML_MAX)
        return 0;
    xml = g_strndup((const char *)data, size);
    fuzzPool(xml);
    fuzzVol(xml);
    return 0;
}
