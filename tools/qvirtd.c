/*
 * qvirtd.c: the daemon. Loads qvirtd.conf, opens the driver (which reconnects
 * to domains still running from an earlier daemon), serves libvirt's remote
 * protocol on a unix socket (and TCP when listen_tcp says so) and stops cleanly on SIGTERM/SIGINT,
 * leaving running QEMUs alone so the next start picks them up again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <glib-unix.h>

#include "qemu/qemu_conf.h"
#include "qemu/qemu_driver.h"
#include "rpc/remote_dispatch.h"
#include "rpc/rpc_server.h"

/* Calls dispatched at the same time, across all clients. */
#define QVIRTD_WORKERS 16

static gboolean
qvirtdOnSignal(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_CONTINUE;
}

/*
 * One daemon per state directory: two drivers on the same status files would
 * both reconnect to (and clean up after) the same QEMUs. The lock is taken
 * before the driver opens and held until exit; the fd is close-on-exec so QEMU
 * does not inherit it.
 */
static int
qvirtdLock(const qvirDriverConfig *cfg, GError **error)
{
    g_autofree char *path = g_build_filename(cfg->runDir, "qvirtd.pid", NULL);
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    int fd;

    if (!qvirDriverConfigMakeDirs(cfg, error))
        return -1;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot open '%s': %s",
                    path, g_strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                    "another qvirtd is running on '%s' (lock '%s' is held)", cfg->runDir, path);
        close(fd);
        return -1;
    }
    if (ftruncate(fd, 0) < 0 || write(fd, pid, strlen(pid)) < 0) {
        /* Only informational: the lock is what counts. */
    }
    return fd;
}

static gboolean
qvirtdParseArgs(int *argc, char ***argv, char **root, char **config)
{
    GOptionEntry entries[] = {
        {"root", 0, 0, G_OPTION_ARG_FILENAME, root,
         "keep everything (config, state, socket) under DIR; the socket is DIR/run/qvirt-sock",
         "DIR"},
        {"config", 0, 0, G_OPTION_ARG_FILENAME, config,
         "read FILE instead of CONFIGDIR/qvirtd.conf", "FILE"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- libvirt-compatible QEMU daemon");
    g_autoptr(GError) err = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(
        ctx, "Without --root, paths are /etc/qvirt, /var/lib/qvirt and /run/qvirt/qvirt-sock\n"
             "as root, the XDG directories otherwise. Clients connect with\n"
             "  virsh -c 'qemu:///system?socket=SOCKET'\n"
             "or, read-only, on SOCKET-ro (mode 0666) with\n"
             "  virsh -r -c 'qemu:///system?socket=SOCKET-ro'\n"
             "and, with listen_tcp = 1 and auth_tcp = \"none\" in qvirtd.conf, with\n"
             "  virsh -c qemu+tcp://LISTEN_ADDR:TCP_PORT/system\n"
             "The daemon runs until SIGTERM or SIGINT; running domains keep running.\n");
    if (!g_option_context_parse(ctx, argc, argv, &err)) {
        g_printerr("qvirtd: %s\n", err->message);
        return FALSE;
    }
    if (*argc > 1) {
        g_printerr("qvirtd: unexpected argument '%s' (see --help)\n", (*argv)[1]);
        return FALSE;
    }
    return TRUE;
}

int
main(int argc, char **argv)
{
    g_autofree char *root = NULL;
    g_autofree char *config = NULL;
    g_autoptr(qvirDriverConfig) cfg = NULL;
    g_autoptr(GMainLoop) loop = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *socketPath = NULL;
    g_autofree char *socketPathRO = NULL;
    g_autofree char *listenAddr = NULL;
    g_autoptr(GPtrArray) tcpAddrs = g_ptr_array_new_with_free_func(g_free);
    gboolean listenTCP;
    guint tcpPort;
    qvirRpcServer *srv;
    qvirRpcProgram prog;
    qvirDriver *drv;
    guint sigterm, sigint;
    int lockFd;

    if (!qvirtdParseArgs(&argc, &argv, &root, &config))
        return 2;

    /* Clients vanish at any time; a write to them must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);

    cfg = qvirDriverConfigNew(root);
    if (!qvirDriverConfigLoad(cfg, config, &err)) {
        g_printerr("qvirtd: %s\n", err->message);
        return 1;
    }
    if ((lockFd = qvirtdLock(cfg, &err)) < 0) {
        g_printerr("qvirtd: %s\n", err->message);
        return 1;
    }
    socketPath = g_strdup(cfg->socketPath);
    socketPathRO = g_strdup(cfg->socketPathRO);
    listenTCP = cfg->listenTCP;
    tcpPort = cfg->tcpPort;
    listenAddr = g_strdup(cfg->listenAddr);
    if (!(drv = qvirDriverOpen(g_steal_pointer(&cfg), &err))) {
        g_printerr("qvirtd: %s\n", err->message);
        return 1;
    }

    loop = g_main_loop_new(NULL, FALSE);
    qvirRemoteProgramInit(&prog, drv);
    srv = qvirRpcServerNew(&prog, QVIRTD_WORKERS);
    if (!qvirRpcServerAddUnixSocketFull(srv, socketPath, FALSE, &err) ||
        !qvirRpcServerAddUnixSocketFull(srv, socketPathRO, TRUE, &err) ||
        (listenTCP && !qvirRpcServerAddTCP(srv, listenAddr, tcpPort, tcpAddrs, &err))) {
        g_printerr("qvirtd: %s\n", err->message);
        qvirRpcServerFree(srv);
        qvirDriverClose(drv);
        return 1;
    }
    sigterm = g_unix_signal_add(SIGTERM, qvirtdOnSignal, loop);
    sigint = g_unix_signal_add(SIGINT, qvirtdOnSignal, loop);

    /* Tests and scripts parse the first line: keep it as it is. */
    printf("qvirtd: listening on qemu:///system?socket=%s\n", socketPath);
    printf("qvirtd: read-only on qemu:///system?socket=%s\n", socketPathRO);
    for (guint i = 0; i < tcpAddrs->len; i++) {
        const char *addr = g_ptr_array_index(tcpAddrs, i);

        printf(strchr(addr, ':') ? "qvirtd: listening on qemu+tcp://[%s]:%u/system\n"
                                 : "qvirtd: listening on qemu+tcp://%s:%u/system\n",
               addr, tcpPort);
    }
    fflush(stdout);

    g_main_loop_run(loop);

    g_source_remove(sigterm);
    g_source_remove(sigint);
    /* The server first: it waits for calls still using the driver. */
    qvirRpcServerFree(srv);
    qvirDriverClose(drv);
    /* Events the driver sent while closing are queued for clients that are gone. */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    close(lockFd);
    printf("qvirtd: stopped\n");
    return 0;
}
