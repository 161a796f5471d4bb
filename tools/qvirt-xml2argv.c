/*
 * qvirt xml2argv FILE.xml [--caps NAME | --emulator PATH] [--probe-chains]: print the
 * QEMU command line a start would use, in libvirt's test format.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "conf/domain_conf.h"
#include "conf/domain_validate.h"
#include "qemu/qemu_capabilities.h"
#include "qemu/qemu_command.h"
#include "qvirt-caps.h"
#include "qvirt-cmds.h"
#include "storage/storage_chain.h"
#include "util/virerror.h"

static gboolean
qvirtXml2argvProbeChains(qvirDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->disks->len; i++) {
        qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);
        qvirStorageChainConfig cfg;

        if (!disk->src || (disk->src->type != QVIR_STORAGE_TYPE_FILE &&
                           disk->src->type != QVIR_STORAGE_TYPE_BLOCK))
            continue;
        qvirStorageChainConfigInit(&cfg);
        cfg.diskName = disk->dst;
        /* a start probes from scratch; an XML chain is only a hint */
        qvirStorageSourceChainClear(disk->src);
        if (!qvirStorageChainProbe(disk->src, &cfg, error))
            return FALSE;
    }
    return TRUE;
}

int
qvirtCmdXml2argv(int argc, char **argv)
{
    g_autofree char *capsName = NULL;
    g_autofree char *emulator = NULL;
    g_autofree char *monitorPath = NULL;
    gboolean probeChains = FALSE;
    GOptionEntry entries[] = {
        {"caps", 0, 0, G_OPTION_ARG_STRING, &capsName,
         "capabilities: a name under tests/qemucapsdata (latest, qemu-7.2, legacy, "
         "legacy-nocache) or a JSON file",
         "NAME"},
        {"emulator", 0, 0, G_OPTION_ARG_FILENAME, &emulator,
         "probe this QEMU binary (cached in ~/.cache/qvirt/qemucaps)", "PATH"},
        {"probe-chains", 0, 0, G_OPTION_ARG_NONE, &probeChains,
         "fill each disk's backing chain from its images first, as a start does", NULL},
        {"monitor-path", 0, 0, G_OPTION_ARG_FILENAME, &monitorPath,
         "QMP socket path (default: libvirt's test form, fd=1729)", "PATH"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("FILE.xml - print the QEMU command "
                                                         "line for a domain");
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(qemuCaps) caps = NULL;
    g_autofree char *domainDir = NULL;
    g_autofree char *out = NULL;
    qemuBuildCommandLineOpts opts = {
        .monitorFd = 1729, .startPaused = TRUE, .envPath = "/bin", .envUser = "test"};

    g_option_context_set_summary(ctx,
                                 "Print the QEMU argv and environment a start would use, one "
                                 "argument per line\njoined with ' \\', as libvirt's "
                                 "qemuxml2argv tests show them.\nWithout --caps or --emulator "
                                 "the domain's <emulator> (or /usr/bin/qemu-system-x86_64)\nis "
                                 "probed.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "qvirt xml2argv: %s\n", error->message);
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "qvirt xml2argv: expected exactly one FILE.xml (see --help)\n");
        return 2;
    }
    if (capsName && emulator) {
        fprintf(stderr, "qvirt xml2argv: --caps and --emulator are mutually exclusive\n");
        return 2;
    }

    if (!(def = qvirDomainDefParseFile(argv[1], 0, &error)) || !qvirDomainDefValidate(def, &error))
        goto fail;
    if (!(caps = qvirtCapsLoad(capsName, emulator, def, &error)))
        goto fail;
    if (probeChains && !qvirtXml2argvProbeChains(def, &error))
        goto fail;

    domainDir = g_strdup_printf("/tmp/lib/domain--1-%s", def->name);
    opts.domainDir = domainDir;
    opts.monitorPath = monitorPath;
    if (!(out = qemuCommandLineFromDef(def, caps, &opts, &error)))
        goto fail;
    fputs(out, stdout);
    return 0;

fail:
    fprintf(stderr, "error: %s\n", error ? error->message : "unknown error");
    return 1;
}
