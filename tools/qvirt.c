/*
 * qvirt: the offline tool's dispatcher. `qvirt NAME ARGS...` executes the program
 * qvirt-NAME found beside this binary (the build tree) or in the libexec directory
 * (an installed tree). Plain libc on purpose: it adds almost nothing to a subcommand's
 * start-up, which matters for `qvirt chain` in scripts that probe many images.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    const char *summary;
} qvirtCommand;

static const qvirtCommand qvirtCommands[] = {
    {"validate", "check domain XML files (parse and validate)"},
    {"xml", "print a domain XML file in canonical form"},
    {"chain", "probe an image's backing chain"},
    {"xml2argv", "print the QEMU command line for a domain XML file"},
    {NULL, NULL},
};

static void
qvirtUsage(FILE *out)
{
    fprintf(out, "usage: qvirt COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; qvirtCommands[i].name; i++)
        fprintf(out, "  %-10s %s\n", qvirtCommands[i].name, qvirtCommands[i].summary);
    fprintf(out, "\n'qvirt COMMAND --help' describes one command.\n");
}

/* Directory of this executable, so a build tree runs its own subcommand programs. */
static int
qvirtSelfDir(char *dir, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", dir, len - 1);
    char *slash;

    if (n <= 0)
        return -1;
    dir[n] = '\0';
    if (!(slash = strrchr(dir, '/')))
        return -1;
    *slash = '\0';
    return 0;
}

static int
qvirtExec(const char *dir, const char *name, char **argv)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof(path), "%s/qvirt-%s", dir, name) >= (int)sizeof(path))
        return ENAMETOOLONG;
    execv(path, argv);
    return errno;
}

int
main(int argc, char **argv)
{
    const qvirtCommand *cmd = NULL;
    char selfDir[PATH_MAX];
    int err;

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
            cmd = &qvirtCommands[i];
    }
    if (!cmd) {
        fprintf(stderr, "qvirt: unknown command '%s'\n", argv[1]);
        qvirtUsage(stderr);
        return 2;
    }

    /* The subcommand sees itself as argv[0] = NAME, as it did when linked in. */
    if (qvirtSelfDir(selfDir, sizeof(selfDir)) == 0) {
        err = qvirtExec(selfDir, cmd->name, argv + 1);
        if (err != ENOENT)
            goto error;
    }
    err = qvirtExec(QVIRT_LIBEXECDIR, cmd->name, argv + 1);
 error:
    fprintf(stderr, "qvirt: cannot run qvirt-%s: %s\n", cmd->name, strerror(err));
    return 127;
}
