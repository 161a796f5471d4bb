/*
 * qvirt: the offline tool. Dispatches to one subcommand per file (qvirt-NAME.c).
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "qvirt-cmds.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} qvirtCommand;

static const qvirtCommand qvirtCommands[] = {
#ifdef QVIRT_HAVE_CMD_VALIDATE
    {"validate", qvirtCmdValidate, "check a domain XML file (parse and validate)"},
#endif
#ifdef QVIRT_HAVE_CMD_XML
    {"xml", qvirtCmdXml, "print a domain XML file in canonical form"},
#endif
#ifdef QVIRT_HAVE_CMD_CHAIN
    {"chain", qvirtCmdChain, "probe an image's backing chain"},
#endif
#ifdef QVIRT_HAVE_CMD_XML2ARGV
    {"xml2argv", qvirtCmdXml2argv, "print the QEMU command line for a domain XML file"},
#endif
    {NULL, NULL, NULL},
};

static void
qvirtUsage(FILE *out)
{
    fprintf(out, "usage: qvirt COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; qvirtCommands[i].name; i++)
        fprintf(out, "  %-10s %s\n", qvirtCommands[i].name, qvirtCommands[i].summary);
    fprintf(out, "\n'qvirt COMMAND --help' describes one command.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        qvirtUsage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        qvirtUsage(stdout);
        return 0;
    }
    for (size_t i = 0; qvirtCommands[i].name; i++) {
        if (strcmp(argv[1], qvirtCommands[i].name) == 0)
            return qvirtCommands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "qvirt: unknown command '%s'\n", argv[1]);
    qvirtUsage(stderr);
    return 2;
}
