/*
 * qvirt-chain.c: `qvirt chain IMAGE`, an image's backing chain as qvirtd sees it.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "qvirt-cmds.h"
#include "conf/domain_conf.h"
#include "storage/storage_chain.h"
#include "util/virerror.h"

#define QVIRT_CHAIN_DESCRIPTION                                                                    \
    "Probe IMAGE's backing chain the way qvirtd does before starting a domain:\n"                  \
    "each layer is opened once and only its header is read, relative backing names\n"              \
    "resolve against the directory of the image that names them, and a protocol\n"                 \
    "backing (nbd:, json:, URI) ends the chain without being opened. A relative IMAGE\n"           \
    "is made absolute first.\n"                                                                    \
    "\n"                                                                                           \
    "The top image's format must be given with --format, as a disk's <driver type=>\n"             \
    "would give it. Without --format the command refuses to guess, unless --allow-probe\n"         \
    "is given: then the format is guessed from the header, and a guessed image that\n"             \
    "names a backing file is an error (a guest can write any header into a raw disk).\n"           \
    "Each backing image's format must be recorded in its overlay (qemu-img create -F);\n"          \
    "--allow-probe also lets an unrecorded one be guessed under the same rule.\n"                  \
    "\n"                                                                                           \
    "--json (the default) prints an array shaped like\n"                                           \
    "`qemu-img info --backing-chain --output=json`: filename, format, virtual-size,\n"             \
    "backing-filename, full-backing-filename, backing-filename-format (and encrypted).\n"          \
    "--xml prints the chain below IMAGE as the nested <backingStore> elements a\n"                 \
    "running domain's XML shows for the disk (ending in an empty <backingStore/>).\n"              \
    "\n"                                                                                           \
    "Exit status: 0 on success, 1 when the chain cannot be probed, 2 on bad usage."

/*
 * JSON is written by hand, in qemu-img's layout: a 200-layer chain is printed in a
 * fraction of the time a JsonBuilder/JsonGenerator pair takes, and the walk itself
 * is only a few microseconds per layer.
 */
static void
qvirtChainJSONString(GString *out, const char *s)
{
    /* Names that are not UTF-8 keep every byte, each as the Latin-1 code point it is. */
    gboolean utf8 = g_utf8_validate(s, -1, NULL);
    const char *run = s, *p;

    g_string_append_c(out, '"');
    for (p = s; *p; p++) {
        guchar c = (guchar)*p;

        if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x80 || utf8))
            continue;
        g_string_append_len(out, run, p - run);
        run = p + 1;
        if (c == '"')
            g_string_append(out, "\\\"");
        else if (c == '\\')
            g_string_append(out, "\\\\");
        else if (c == '\n')
            g_string_append(out, "\\n");
        else if (c == '\t')
            g_string_append(out, "\\t");
        else
            g_string_append_printf(out, "\\u%04x", c);
    }
    g_string_append_len(out, run, p - run);
    g_string_append_c(out, '"');
}

static void
qvirtChainJSONMember(GString *out, gboolean *first, const char *key)
{
    g_string_append(out, *first ? "\n        \"" : ",\n        \"");
    *first = FALSE;
    g_string_append(out, key);
    g_string_append(out, "\": ");
}

static void
qvirtChainAddLayer(GString *out, const qvirStorageSource *src)
{
    const qvirStorageSource *next = src->backingStore;
    gboolean first = TRUE;

    g_string_append(out, "    {");
    qvirtChainJSONMember(out, &first, "filename");
    qvirtChainJSONString(out, src->path);
    if (src->format != QVIR_STORAGE_FILE_NONE) {
        qvirtChainJSONMember(out, &first, "format");
        qvirtChainJSONString(out, qvirStorageFileFormatTypeToString(src->format));
    }
    /* A network layer is never opened, so its size is not known. */
    if (src->type != QVIR_STORAGE_TYPE_NETWORK) {
        qvirtChainJSONMember(out, &first, "virtual-size");
        g_string_append_printf(out, "%llu", src->capacity);
    }
    if (src->encrypted) {
        qvirtChainJSONMember(out, &first, "encrypted");
        g_string_append(out, "true");
    }
    if (src->backingStoreRaw) {
        qvirtChainJSONMember(out, &first, "backing-filename");
        qvirtChainJSONString(out, src->backingStoreRaw);
        if (qvirStorageSourceIsBacking(next)) {
            qvirtChainJSONMember(out, &first, "full-backing-filename");
            qvirtChainJSONString(out, next->path);
        }
        if (src->backingFormat != QVIR_STORAGE_FILE_NONE) {
            qvirtChainJSONMember(out, &first, "backing-filename-format");
            qvirtChainJSONString(out, qvirStorageFileFormatTypeToString(src->backingFormat));
        }
    }
    g_string_append(out, "\n    }");
}

static char *
qvirtChainFormatJSON(const qvirStorageSource *top)
{
    GString *out = g_string_sized_new(4096);

    g_string_append_c(out, '[');
    for (const qvirStorageSource *src = top; qvirStorageSourceIsBacking(src);
         src = src->backingStore) {
        g_string_append(out, src == top ? "\n" : ",\n");
        qvirtChainAddLayer(out, src);
    }
    g_string_append(out, "\n]\n");
    return g_string_free(out, FALSE);
}

/* The chain below IMAGE as a disk's live XML shows it (the conf layer's formatter). */
static char *
qvirtChainFormatXML(const qvirStorageSource *top)
{
    GString *buf = g_string_new(NULL);

    qvirDomainBackingStoreFormat(buf, top->backingStore, QVIR_DOMAIN_DEF_FORMAT_LIVE, 0);
    return g_string_free(buf, FALSE);
}

int
qvirtCmdChain(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("IMAGE");
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirStorageSource) top = NULL;
    g_autofree char *format = NULL;
    g_autofree char *out = NULL;
    gboolean allowProbe = FALSE, json = FALSE, xml = FALSE;
    gint maxDepth = QVIR_STORAGE_CHAIN_DEFAULT_MAX_DEPTH;
    qvirStorageChainConfig cfg;
    GOptionEntry entries[] = {
        {"format", 'f', 0, G_OPTION_ARG_STRING, &format, "format of IMAGE (qcow2, raw, ...)",
         "FMT"},
        {"allow-probe", 0, 0, G_OPTION_ARG_NONE, &allowProbe,
         "guess formats that are not given or recorded (never followed further)", NULL},
        {"max-depth", 0, 0, G_OPTION_ARG_INT, &maxDepth, "deepest chain accepted (default 200)",
         "N"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "print JSON like qemu-img info (default)", NULL},
        {"xml", 0, 0, G_OPTION_ARG_NONE, &xml, "print libvirt <backingStore> XML", NULL},
        {NULL},
    };

    g_option_context_set_summary(ctx, "Print the backing chain of a disk image.");
    g_option_context_set_description(ctx, QVIRT_CHAIN_DESCRIPTION);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_set_prgname("qvirt chain");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "qvirt chain: %s\n", error->message);
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "qvirt chain: expected exactly one IMAGE (see --help)\n");
        return 2;
    }
    if (json && xml) {
        fprintf(stderr, "qvirt chain: --json and --xml are exclusive\n");
        return 2;
    }
    if (maxDepth < 1) {
        fprintf(stderr, "qvirt chain: --max-depth must be at least 1\n");
        return 2;
    }

    top = qvirStorageSourceNew();
    top->type = QVIR_STORAGE_TYPE_FILE; /* becomes "block" if it is a block device */
    if (g_path_is_absolute(argv[1])) {
        top->path = g_strdup(argv[1]);
    } else {
        /* Absolute, so that every name in the output is one the reader can open. */
        g_autofree char *cwd = g_get_current_dir();
        top->path = g_build_filename(cwd, argv[1], NULL);
    }
    if (format) {
        int fmt = qvirStorageFileFormatTypeFromString(format);
        if (fmt <= QVIR_STORAGE_FILE_NONE) {
            fprintf(stderr, "qvirt chain: unknown format '%s': expected one of %s\n", format,
                    qvirStorageFileFormatTypeList() + strlen("none, "));
            return 2;
        }
        top->format = fmt;
    } else if (!allowProbe) {
        fprintf(stderr,
                "qvirt chain: the format of '%s' is not given: use --format FMT "
                "(or --allow-probe to guess it)\n",
                argv[1]);
        return 2;
    }

    qvirStorageChainConfigInit(&cfg);
    cfg.allowFormatProbing = allowProbe;
    cfg.maxDepth = (unsigned int)maxDepth;
    if (!qvirStorageChainProbe(top, &cfg, &error)) {
        fprintf(stderr, "qvirt chain: error: %s\n", error->message);
        return 1;
    }

    out = xml ? qvirtChainFormatXML(top) : qvirtChainFormatJSON(top);
    fputs(out, stdout);
    if (!g_str_has_suffix(out, "\n"))
        fputc('\n', stdout);
    return 0;
}
