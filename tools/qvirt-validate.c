/*
 * qvirt validate FILE.xml...: parse and validate domain XML files, as `virsh define` would.
 */
#include <glib.h>
#include <stdio.h>

#include "conf/domain_conf.h"
#include "conf/domain_validate.h"
#include "qvirt-cmds.h"

static gboolean
qvirtValidateOne(const char *path, gboolean quiet)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qvirDomainDef) def = qvirDomainDefParseFile(path, 0, &error);

    if (!def || !qvirDomainDefValidate(def, &error)) {
        fprintf(stderr, "error: %s\n", error->message);
        return FALSE;
    }
    if (!quiet)
        printf("%s: valid\n", path);
    return TRUE;
}

int
qvirtCmdValidate(int argc, char **argv)
{
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "print nothing for valid files", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("FILE.xml... - check domain XML");
    g_autoptr(GError) error = NULL;
    int ret = 0;

    g_option_context_set_summary(ctx, "Parse and validate domain XML files the way 'virsh define' "
                                      "would.\nExit status 0 when every file is valid, 1 otherwise "
                                      "(the error goes to stderr).");
    g_set_prgname("qvirt validate");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "error: %s\n", error->message);
        return 2;
    }
    if (argc < 2) {
        g_autofree char *help = g_option_context_get_help(ctx, TRUE, NULL);
        fprintf(stderr, "%s", help);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (!qvirtValidateOne(argv[i], quiet))
            ret = 1;
    }
    return ret;
}
