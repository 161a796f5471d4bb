/*
 * qvirt xml FILE.xml [--live]: print a domain XML file in libvirt's canonical form.
 */
#include <glib.h>
#include <stdio.h>

#include "conf/domain_conf.h"
#include "qvirt-cmds.h"
#include "util/virerror.h"

int
qvirtCmdXml(int argc, char **argv)
{
    gboolean live = FALSE;
    GOptionEntry entries[] = {
        {"live", 0, 0, G_OPTION_ARG_NONE, &live,
         "read and print the live view (index=, aliases, chains as written)", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("FILE.xml - canonical domain XML");
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *xml = NULL;

    g_option_context_set_summary(ctx, "Print a domain XML file in libvirt's canonical form.\n"
                                      "Without --live the inactive (persistent) view is printed.");
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

    def = qvirDomainDefParseFile(argv[1], live ? QVIR_DOMAIN_DEF_PARSE_LIVE : 0, &error);
    if (!def) {
        fprintf(stderr, "error: %s\n", error->message);
        return 1;
    }
    xml = qvirDomainDefFormat(def, live ? QVIR_DOMAIN_DEF_FORMAT_LIVE : 0);
    fputs(xml, stdout);
    return 0;
}
