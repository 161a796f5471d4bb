/*
 * The entry point of one qvirt subcommand program (qvirt-NAME): the build names the
 * subcommand's function in QVIRT_CMD_ENTRY.
 */
#include "qvirt-cmds.h"

int
main(int argc, char **argv)
{
    return QVIRT_CMD_ENTRY(argc, argv);
}
