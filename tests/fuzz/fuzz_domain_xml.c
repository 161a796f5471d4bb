/*
 * fuzz_domain_xml.c: domain XML parse -> validate -> format -> parse (src/conf).
 *
 * The input is a document, parsed three ways: as an inactive definition, as live XML
 * and as the daemon's status XML (each with its matching format flags), and as a lone
 * <disk> (attach-device). Whenever parsing succeeds:
 *   - validation returns an answer with an error exactly when it fails;
 *   - the formatted XML parses again with the same flags (format never produces what
 *     parse refuses), formats to the very same text (the round trip agrees), and
 *     validates the same way as the first definition;
 *   - a deep copy formats to the same text too;
 *   - the name, which becomes a file name, cannot leave the state directory.
 * Every failure must come with a QVIR_ERROR error and a message.
 */
#include <string.h>

#include <libxml/parser.h>

#include "conf/domain_conf.h"
#include "conf/domain_validate.h"
#include "fuzz-common.h"
#include "util/virerror.h"

/* Well past any real domain; keeps each run fast (the parser's own limit is 10 MiB). */
#define FUZZ_XML_MAX (256 * 1024)

static const struct {
    unsigned int parse;
    unsigned int format;
    const char *name;
} fuzzXmlModes[] = {
    {0, 0, "inactive"},
    {QVIR_DOMAIN_DEF_PARSE_LIVE, QVIR_DOMAIN_DEF_FORMAT_LIVE, "live"},
    {QVIR_DOMAIN_DEF_PARSE_STATUS, QVIR_DOMAIN_DEF_FORMAT_STATUS, "status"},
};

static gboolean fuzzVerbose;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzCommonInit();
    xmlInitParser();
    fuzzVerbose = g_getenv("QVIRT_FUZZ_VERBOSE") != NULL;
    return 0;
}

static void
fuzzCheckError(const GError *error, const char *what)
{
    FUZZ_CHECK(error != NULL, "%s failed without an error", what);
    FUZZ_CHECK(error->domain == QVIR_ERROR, "%s: foreign error domain: %s", what, error->message);
    FUZZ_CHECK(error->message && error->message[0], "%s: empty error message", what);
}

static gboolean
fuzzValidate(const qvirDomainDef *def, char **message)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = qvirDomainDefValidate(def, &error);

    if (ok) {
        FUZZ_CHECK(error == NULL, "validation passed with an error");
    } else {
        fuzzCheckError(error, "validation");
        *message = g_strdup(error->message);
    }
    return ok;
}

static void
fuzzDomainRoundTrip(const char *xml, unsigned int mode)
{
    unsigned int pflags = fuzzXmlModes[mode].parse;
    unsigned int fflags = fuzzXmlModes[mode].format;
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    g_autoptr(GError) copyError = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(qvirDomainDef) def2 = NULL;
    g_autoptr(qvirDomainDef) copy = NULL;
    g_autofree char *out = NULL;
    g_autofree char *out2 = NULL;
    g_autofree char *copyOut = NULL;
    g_autofree char *why = NULL;
    g_autofree char *why2 = NULL;
    gboolean valid, valid2;

    if (!(def = qvirDomainDefParseString(xml, pflags, &error))) {
        fuzzCheckError(error, "parse");
        if (fuzzVerbose)
            g_printerr("  %s: parse: %s\n", fuzzXmlModes[mode].name, error->message);
        return;
    }
    FUZZ_CHECK(error == NULL, "parse succeeded with an error: %s", error->message);
    /* The name becomes a file name under the state directory: it must not escape it. */
    FUZZ_CHECK(def->name && def->name[0] && !strchr(def->name, '/') &&
                   strcmp(def->name, ".") != 0 && strcmp(def->name, "..") != 0,
               "accepted the domain name '%s'", def->name ? def->name : "(null)");
    valid = fuzzValidate(def, &why);

    out = qvirDomainDefFormat(def, fflags);
    FUZZ_CHECK(out != NULL && out[0] == '<', "format gave nothing");
    FUZZ_CHECK(g_str_has_suffix(out, "\n"), "format output lacks the final newline");

    def2 = qvirDomainDefParseString(out, pflags, &error2);
    FUZZ_CHECK(def2 != NULL,
               "%s: our own output does not parse back: %s\n--- input\n%s\n"
               "--- output\n%s",
               fuzzXmlModes[mode].name, error2 ? error2->message : "?", xml, out);
    out2 = qvirDomainDefFormat(def2, fflags);
    FUZZ_CHECK(strcmp(out, out2) == 0, "%s: round trip differs\n--- first\n%s\n--- second\n%s",
               fuzzXmlModes[mode].name, out, out2);
    valid2 = fuzzValidate(def2, &why2);
    FUZZ_CHECK(valid == valid2, "%s: validation changed over the round trip: '%s' / '%s'\n%s",
               fuzzXmlModes[mode].name, why ? why : "valid", why2 ? why2 : "valid", out);

    copy = qvirDomainDefCopy(def, fflags, &copyError);
    FUZZ_CHECK(copy != NULL, "copy failed: %s", copyError ? copyError->message : "?");
    copyOut = qvirDomainDefFormat(copy, fflags);
    FUZZ_CHECK(strcmp(out, copyOut) == 0, "%s: copy formats differently", fuzzXmlModes[mode].name);
    if (fuzzVerbose)
        g_printerr("  %s: ok, %s\n", fuzzXmlModes[mode].name, why ? why : "valid");
}

static void
fuzzDiskRoundTrip(const char *xml)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    g_autoptr(qvirDomainDiskDef) disk = NULL;
    g_autoptr(qvirDomainDiskDef) disk2 = NULL;
    g_autofree char *out = NULL;
    g_autofree char *out2 = NULL;

    if (!(disk = qvirDomainDiskDefParseString(xml, 0, &error))) {
        fuzzCheckError(error, "disk parse");
        return;
    }
    out = qvirDomainDiskDefFormat(disk, 0);
    disk2 = qvirDomainDiskDefParseString(out, 0, &error2);
    FUZZ_CHECK(disk2 != NULL, "our own <disk> does not parse back: %s\n%s",
               error2 ? error2->message : "?", out);
    out2 = qvirDomainDiskDefFormat(disk2, 0);
    FUZZ_CHECK(strcmp(out, out2) == 0, "disk round trip differs\n%s\n%s", out, out2);
    if (fuzzVerbose)
        g_printerr("  disk: ok\n");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = NULL;

    if (size > FUZZ_XML_MAX)
        return 0;
    /* The API takes a C string: an embedded NUL just ends the document early. */
    xml = g_strndup((const char *)data, size);

    for (unsigned int mode = 0; mode < G_N_ELEMENTS(fuzzXmlModes); mode++)
        fuzzDomainRoundTrip(xml, mode);
    fuzzDiskRoundTrip(xml);
    return 0;
}
