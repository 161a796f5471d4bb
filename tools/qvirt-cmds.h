/* Subcommands of the offline tool; each returns the process exit status. */
#pragma once

int qvirtCmdValidate(int argc, char **argv);
int qvirtCmdXml(int argc, char **argv);
int qvirtCmdChain(int argc, char **argv);
int qvirtCmdXml2argv(int argc, char **argv);
