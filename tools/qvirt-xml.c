/*
 * qvirt xml FILE.xml [--live] [--caps NAME | --emulator PATH]: print a domain XML file as
 * libvirt's QEMU driver stores it after `virsh define` (completed with the emulator's
 * capabilities: canonical machine type, default devices, addresses).
 */
#include <glib.h>
#include <stdio.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_postparse.h"
#include "qvirt-caps.h"
#include "qvirt-cmds.h"
#include "util/virerror.h"

int
qvirtCmdXml(int argc, char **argv)
{
    gboolean live = FALSE;
    gboolean asWritten = FALSE;
    g_autofree char *capsName = NULL;
    g_autofree char *emulator = NULL;
    GOptionEntry entries[] = {
        {"live", 0, 0, G_OPTION_ARG_NONE, &live,
         "read and print the live view (index=, aliases, chains as written)", NULL},
        {"caps", 0, 0, G_OPTION_ARG_STRING, &capsName,
         "capabilities: a name under tests/qemucapsdata (latest, qemu-7.2, ...) or a JSON file",
         "NAME"},
        {"emulator", 0, 0, G_OPTION_ARG_FILENAME, &emulator,
         "probe this QEMU binary (cached in ~/.cache/qvirt/qemucaps)", "PATH"},
        {"as-written", 0, 0, G_OPTION_ARG_NONE, &asWritten,
         "only parse and format: no defaults, devices or addresses are added", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("FILE.xml - canonical domain XML");
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(qemuCaps) caps = NULL;
    g_autofree char *xml = NULL;

    g_option_context_set_summary(
        ctx, "Print a domain XML file as libvirt's QEMU driver stores it after define.\n"
             "Without --live the inactive (persistent) view is printed. Without --caps or\n"
             "--emulator the domain's <emulator> (or /usr/bin/qemu-system-x86_64) is probed.");
    g_set_prgname("qvirt xml");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "error: %s\n", error->message);
        return 2;
    }
    if (argc != 2) {
        g_autofree char *help = g_option_context_get_help(ctx, TRUE, NULL);
        fprintf(stderr, "%s", help);
        return 2;
    }
    if (capsName && emulator) {
        fprintf(stderr, "error: --caps and --emulator are mutually exclusive\n");
        return 2;
    }

    def = qvirDomainDefParseFile(argv[1], live ? QVIR_DOMAIN_DEF_PARSE_LIVE : 0, &error);
    if (!def)
        goto fail;
    if (!asWritten) {
        if (!(caps = qvirtCapsLoad(capsName, emulator, def, &error)) ||
            !qemuDomainDefPostParse(def, caps, emulator, &error))
            goto fail;
    }
    xml = qvirDomainDefFormat(def, live ? QVIR_DOMAIN_DEF_FORMAT_LIVE : 0);
    fputs(xml, stdout);
    return 0;

fail:
    qvirErrorAddPrefix(error);
    fprintf(stderr, "error: %s\n", error->message);
    return 1;
}
