/*
 * netstoragetestutils.c: the network storage servers of netstoragetestutils.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "netstoragetestutils.h"
#include "testutils.h"

NetStorage netStorage;

GQuark
netStorageErrorQuark(void)
{
    return g_quark_from_static_string("qvirt-net-storage-test");
}

typedef struct {
    GPid pid;
    char *name;
    char *log;
    gboolean hardKill; /* tgtd ignores SIGTERM while it has targets */
} NetServer;

static GArray *servers; /* of NetServer */
static struct sigaction oldActions[NSIG];
static const int fatalSignals[] = {SIGABRT, SIGTRAP, SIGTERM, SIGINT, SIGSEGV, SIGBUS};

const char *
netStorageKindName(NetStorageKind kind)
{
    switch (kind) {
    case NET_STORAGE_NBD:
        return "NBD";
    case NET_STORAGE_ISCSI:
        return "iSCSI";
    case NET_STORAGE_HTTP:
        return "HTTP";
    case NET_STORAGE_CEPH:
        return "Ceph";
    }
    return "?";
}

static int
netKindIndex(NetStorageKind kind)
{
    return g_bit_nth_lsf(kind, -1);
}

double
netStorageStartTime(NetStorageKind kind)
{
    return netStorage.startSeconds[netKindIndex(kind)];
}

/* ---- processes ---- */

static void
netChildSetup(gpointer data)
{
    /* the server dies with the test program, however that ends */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* own process group: a ^C at the terminal reaches the test, which stops us in order */
    setpgid(0, 0);
}

static char *
netLogTail(const char *log)
{
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!log || !g_file_get_contents(log, &text, &len, NULL))
        return g_strdup("");
    if (len > 2000)
        return g_strdup(text + len - 2000);
    return g_steal_pointer(&text);
}

static gboolean
netProgramMissing(const char *prog, GError **error)
{
    g_autofree char *path = g_find_program_in_path(prog);

    if (path)
        return FALSE;
    g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_MISSING,
                "%s is not installed (bash run.sh installs it)", prog);
    return TRUE;
}

/* Start ARGV in the foreground as our child, its output in DIR/log/NAME.log. */
static NetServer *
netSpawn(const char *name, const char *const *argv, GError **error)
{
    g_autofree char *logName = g_strdup_printf("%s.log", name);
    g_autofree char *log = g_build_filename(netStorage.dir, "log", logName, NULL);
    NetServer srv = {0};
    int fd;

    if (netProgramMissing(argv[0], error))
        return NULL;
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED, "cannot create %s: %s", log,
                    g_strerror(errno));
        return NULL;
    }
    if (!g_spawn_async_with_fds(netStorage.dir, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, netChildSetup,
                                NULL, &srv.pid, -1, fd, fd, error)) {
        close(fd);
        return NULL;
    }
    close(fd);
    srv.name = g_strdup(name);
    srv.log = g_steal_pointer(&log);
    g_array_append_val(servers, srv);
    return &g_array_index(servers, NetServer, servers->len - 1);
}

/* FALSE (with the log's tail in ERROR) once the server has exited. */
static gboolean
netServerAlive(NetServer *srv, GError **error)
{
    int status;
    g_autofree char *tail = NULL;

    if (srv->pid == 0 || waitpid(srv->pid, &status, WNOHANG) == 0)
        return srv->pid != 0;
    srv->pid = 0;
    tail = netLogTail(srv->log);
    g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED, "%s exited (status %d): %s",
                srv->name, status, tail);
    return FALSE;
}

static gboolean
netConnectOnce(int family, const char *where, guint port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gboolean ok;

    if (fd < 0)
        return FALSE;
    if (family == AF_UNIX) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};

        g_strlcpy(un.sun_path, where, sizeof(un.sun_path));
        ok = connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0;
    } else {
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};

        inet_pton(AF_INET, where, &in.sin_addr);
        ok = connect(fd, (struct sockaddr *)&in, sizeof(in)) == 0;
    }
    close(fd);
    return ok;
}

/* Wait until the server accepts connections on 127.0.0.1:PORT (or the unix SOCKET). */
static gboolean
netWaitListening(NetServer *srv, const char *socketPath, guint port, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    while (g_get_monotonic_time() < deadline) {
        if (socketPath ? netConnectOnce(AF_UNIX, socketPath, 0)
                       : netConnectOnce(AF_INET, "127.0.0.1", port))
            return TRUE;
        if (!netServerAlive(srv, error))
            return FALSE;
        g_usleep(20 * 1000);
    }
    g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED,
                "%s does not listen on %s%u after 30 s", srv->name,
                socketPath ? socketPath : "127.0.0.1:", socketPath ? 0 : port);
    return FALSE;
}

/* Refuse a port someone else already listens on: our server would fail obscurely. */
static gboolean
netPortFree(guint port, GError **error)
{
    if (!netConnectOnce(AF_INET, "127.0.0.1", port))
        return TRUE;
    g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED,
                "port 127.0.0.1:%u is in use by another program (set QVIRT_NETTEST_PORT_BASE)",
                port);
    return FALSE;
}

gboolean
netStorageRun(const char *const *argv, char **out, GError **error)
{
    g_autofree char *outText = NULL;
    g_autofree char *errText = NULL;
    int status = 0;

    if (netProgramMissing(argv[0], error))
        return FALSE;
    if (!g_spawn_sync(netStorage.dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                      &outText, &errText, &status, error))
        return FALSE;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_autofree char *cmd = g_strjoinv(" ", (char **)argv);

        g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED, "'%s' failed (%d): %s%s",
                    cmd, status, outText ? outText : "", errText ? errText : "");
        return FALSE;
    }
    if (out)
        *out = g_steal_pointer(&outText);
    return TRUE;
}

/* PREFIX then ARGS (each NULL-terminated) as one command line, for netStorageRun. */
static gboolean
netRunPrefixed(const char *const *prefix, const char *const *args, char **out, GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();

    for (; *prefix; prefix++)
        g_ptr_array_add(argv, (char *)*prefix);
    for (; *args; args++)
        g_ptr_array_add(argv, (char *)*args);
    g_ptr_array_add(argv, NULL);
    return netStorageRun((const char *const *)argv->pdata, out, error);
}

#define NET_RUN(error, ...)                                                                        \
    ({                                                                                             \
        const char *argv_[] = {__VA_ARGS__, NULL};                                                 \
        netStorageRun(argv_, NULL, (error));                                                       \
    })

static void
netKillAll(gboolean gently)
{
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;

    if (!servers)
        return;
    for (guint i = 0; i < servers->len; i++) {
        NetServer *srv = &g_array_index(servers, NetServer, i);

        if (srv->pid)
            kill(srv->pid, gently && !srv->hardKill ? SIGTERM : SIGKILL);
    }
    for (guint i = 0; i < servers->len; i++) {
        NetServer *srv = &g_array_index(servers, NetServer, i);
        int status;

        while (srv->pid && waitpid(srv->pid, &status, WNOHANG) == 0) {
            if (g_get_monotonic_time() > deadline) {
                kill(srv->pid, SIGKILL);
                waitpid(srv->pid, &status, 0);
                break;
            }
            g_usleep(10 * 1000);
        }
        srv->pid = 0;
    }
}

static void
netRemoveFiles(void)
{
    if (netStorage.iscsiControlPort) {
        g_autofree char *sock =
            g_strdup_printf("/var/run/tgtd/socket.%d", netStorage.iscsiControlPort);
        g_autofree char *lock = g_strdup_printf("%s.lock", sock);

        g_unlink(sock);
        g_unlink(lock);
        g_rmdir("/var/run/tgtd"); /* only when empty: another tgtd may use it */
    }
    if (netStorage.dir) {
        qvirTestTempDirRemove(netStorage.dir);
        g_clear_pointer(&netStorage.dir, g_free);
    }
}

void
netStorageStop(void)
{
    netKillAll(TRUE);
    netRemoveFiles();
    netStorage.started = 0;
}

static void
netOnFatalSignal(int sig)
{
    struct sigaction *old = &oldActions[sig];

    netKillAll(FALSE);
    netRemoveFiles();
    sigaction(sig, old, NULL);
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN)
        old->sa_handler(sig); /* e.g. the daemon's cleanup, which re-raises */
    raise(sig);
}

static void
netAtExit(void)
{
    netStorageStop();
}

/* A program killed outright (SIGKILL: a meson timeout) takes its servers along
 * (PR_SET_PDEATHSIG) but leaves its directory: the next run removes it. */
static void
netSweepStale(void)
{
    g_autoptr(GDir) tmp = g_dir_open(g_get_tmp_dir(), 0, NULL);
    const char *name;

    while (tmp && (name = g_dir_read_name(tmp))) {
        g_autofree char *path = NULL;
        g_autofree char *proc = NULL;
        int pid;

        if (!g_str_has_prefix(name, "qvirt-netstorage-"))
            continue;
        pid = atoi(name + strlen("qvirt-netstorage-"));
        proc = g_strdup_printf("/proc/%d", pid);
        if (pid <= 0 || g_file_test(proc, G_FILE_TEST_EXISTS))
            continue;
        path = g_build_filename(g_get_tmp_dir(), name, NULL);
        qvirTestTempDirRemove(path);
    }
}

void
netStorageInit(void)
{
    const char *base = g_getenv("QVIRT_NETTEST_PORT_BASE");
    g_autofree char *logDir = NULL;

    if (netStorage.dir)
        return;
    netSweepStale();
    {
        g_autofree char *prefix = g_strdup_printf("qvirt-netstorage-%d", (int)getpid());

        netStorage.dir = qvirTestTempDirNew(prefix);
    }
    g_assert_nonnull(netStorage.dir);
    logDir = g_build_filename(netStorage.dir, "log", NULL);
    g_assert_cmpint(g_mkdir(logDir, 0755), ==, 0);
    if (!servers) {
        servers = g_array_new(FALSE, TRUE, sizeof(NetServer));
        for (guint i = 0; i < G_N_ELEMENTS(fatalSignals); i++) {
            struct sigaction sa = {.sa_handler = netOnFatalSignal};

            sigaction(fatalSignals[i], &sa, &oldActions[fatalSignals[i]]);
        }
        atexit(netAtExit);
    }
    netStorage.portBase = base ? (guint)g_ascii_strtoull(base, NULL, 10) : 20000;
    netStorage.nbdPort = netStorage.portBase + 809;
    netStorage.nbdkitPort = netStorage.portBase + 810;
    netStorage.nbdTlsPort = netStorage.portBase + 812;
    netStorage.iscsiPort = netStorage.portBase + 260;
    netStorage.httpPort = netStorage.portBase + 80;
    netStorage.httpsPort = netStorage.portBase + 443;
    netStorage.cephMonV2Port = netStorage.portBase + 300;
    netStorage.cephMonPort = netStorage.portBase + 789;
}

static char *netPath(const char *first, ...) G_GNUC_NULL_TERMINATED;

static char *
netPath(const char *first, ...)
{
    va_list ap;
    g_autoptr(GPtrArray) parts = g_ptr_array_new();
    const char *p;

    g_ptr_array_add(parts, netStorage.dir);
    va_start(ap, first);
    for (p = first; p; p = va_arg(ap, const char *))
        g_ptr_array_add(parts, (char *)p);
    va_end(ap);
    g_ptr_array_add(parts, NULL);
    return g_build_filenamev((char **)parts->pdata);
}

static gboolean
netMkdir(const char *path, GError **error)
{
    if (g_mkdir_with_parents(path, 0755) == 0)
        return TRUE;
    g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED, "cannot create %s: %s", path,
                g_strerror(errno));
    return FALSE;
}

/* ---- images ---- */

static const char *const patternCmds[] = {"-c", "write -P 0xab 0 1M", "-c", "write -P 0xcd 32M 1M"};

gboolean
netStorageWritePattern(const char *filename, const char *fmt, GError **error)
{
    const char *argv[] = {"qemu-io",      "-f",           fmt,
                          patternCmds[0], patternCmds[1], patternCmds[2],
                          patternCmds[3], filename,       NULL};

    return netStorageRun(argv, NULL, error);
}

gboolean
netStorageHasPattern(const char *object, const char *filename, const char *fmt, GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *out = NULL;

    g_ptr_array_add(argv, (char *)"qemu-io");
    g_ptr_array_add(argv, (char *)"-r");
    if (object) {
        g_ptr_array_add(argv, (char *)"--object");
        g_ptr_array_add(argv, (char *)object);
    }
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, (char *)"read -P 0xab 0 1M");
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, (char *)"read -P 0xcd 32M 1M");
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, (char *)"read -P 0 16M 1M");
    if (g_str_has_prefix(filename, "driver=")) {
        g_ptr_array_add(argv, (char *)"--image-opts");
    } else if (fmt) {
        g_ptr_array_add(argv, (char *)"-f");
        g_ptr_array_add(argv, (char *)fmt);
    }
    g_ptr_array_add(argv, (char *)filename);
    g_ptr_array_add(argv, NULL);
    if (!netStorageRun((const char *const *)argv->pdata, &out, error))
        return FALSE;
    if (strstr(out, "Pattern verification failed") || !strstr(out, "read 1048576/1048576")) {
        g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED,
                    "%s does not hold the pattern: %s", filename, out);
        return FALSE;
    }
    return TRUE;
}

/* DIR/base.raw with the pattern, made once per program and copied (sparse) where needed. */
static char *
netBaseImage(GError **error)
{
    g_autofree char *base = netPath("base.raw", NULL);
    g_autofree char *size = g_strdup_printf("%d", NET_PATTERN_SIZE);

    if (g_file_test(base, G_FILE_TEST_EXISTS))
        return g_steal_pointer(&base);
    if (!NET_RUN(error, "qemu-img", "create", "-q", "-f", "raw", base, size) ||
        !netStorageWritePattern(base, "raw", error))
        return NULL;
    return g_steal_pointer(&base);
}

static gboolean
netCopyBase(const char *dst, GError **error)
{
    g_autofree char *base = netBaseImage(error);

    return base && NET_RUN(error, "cp", "--sparse=always", base, dst);
}

/* ---- TLS material: an EC CA, a server certificate for 127.0.0.1 and a client one ---- */

static gboolean
netMakeCert(const char *dir, const char *who, const char *ext, GError **error)
{
    g_autofree char *key = g_strdup_printf("%s/%s-key.pem", dir, who);
    g_autofree char *csr = g_strdup_printf("%s/%s.csr", dir, who);
    g_autofree char *cert = g_strdup_printf("%s/%s-cert.pem", dir, who);
    g_autofree char *extFile = g_strdup_printf("%s/%s.ext", dir, who);
    g_autofree char *ca = g_strdup_printf("%s/ca-cert.pem", dir);
    g_autofree char *caKey = g_strdup_printf("%s/ca-key.pem", dir);
    g_autofree char *subj = g_strdup_printf("/CN=%s", who);

    if (!g_file_set_contents(extFile, ext, -1, error))
        return FALSE;
    return NET_RUN(error, "openssl", "req", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subj, "-keyout", key, "-out",
                   csr) &&
           NET_RUN(error, "openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey,
                   "-CAcreateserial", "-days", "2", "-extfile", extFile, "-out", cert);
}

static gboolean
netMakePki(const char *dir, GError **error)
{
    g_autofree char *caKey = g_strdup_printf("%s/ca-key.pem", dir);
    g_autofree char *ca = g_strdup_printf("%s/ca-cert.pem", dir);

    if (!netMkdir(dir, error) ||
        !NET_RUN(error, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                 "/CN=qvirt test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                 "keyUsage=critical,keyCertSign,cRLSign", "-keyout", caKey, "-out", ca) ||
        !netMakeCert(dir, "server",
                     "basicConstraints=critical,CA:FALSE\n"
                     "keyUsage=critical,digitalSignature,keyEncipherment\n"
                     "extendedKeyUsage=serverAuth\n"
                     "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
                     error) ||
        !netMakeCert(dir, "client",
                     "basicConstraints=critical,CA:FALSE\n"
                     "keyUsage=critical,digitalSignature,keyEncipherment\n"
                     "extendedKeyUsage=clientAuth\n",
                     error))
        return FALSE;
    return TRUE;
}

/* Copy the files named in NAMES from SRC to DST, readable by all: QEMU runs as its own
 * user and reads the client key (libvirt never relabels a TLS directory either). */
static gboolean
netCopyFiles(const char *src, const char *dst, const char *const *names, GError **error)
{
    if (!netMkdir(dst, error))
        return FALSE;
    for (; *names; names++) {
        g_autofree char *from = g_build_filename(src, *names, NULL);
        g_autofree char *to = g_build_filename(dst, *names, NULL);
        g_autofree char *data = NULL;
        gsize len;

        if (!g_file_get_contents(from, &data, &len, error) ||
            !g_file_set_contents(to, data, len, error))
            return FALSE;
        g_chmod(to, 0644);
    }
    return TRUE;
}

/* ---- NBD ---- */

static gboolean
netStartNbd(GError **error)
{
    g_autofree char *dir = netPath("nbd", NULL);
    g_autofree char *pki = netPath("nbd", "pki", NULL);
    g_autofree char *base = netPath("nbd", "base.raw", NULL);
    g_autofree char *rw = netPath("nbd", "rw.raw", NULL);
    g_autofree char *port = g_strdup_printf("%u", netStorage.nbdPort);
    g_autofree char *tlsPort = g_strdup_printf("%u", netStorage.nbdTlsPort);
    g_autofree char *kitPort = g_strdup_printf("%u", netStorage.nbdkitPort);
    g_autofree char *kitBase = NULL;
    g_autofree char *tlsObject = NULL;
    g_autofree char *kitDir = NULL;
    const char *const serverFiles[] = {"ca-cert.pem", "server-cert.pem", "server-key.pem", NULL};
    const char *const clientFiles[] = {"ca-cert.pem", "client-cert.pem", "client-key.pem", NULL};
    NetServer *srv;

    netStorage.nbdSocket = netPath("nbd", "rw.sock", NULL);
    netStorage.nbdkitDir = netPath("nbd", "exports", NULL);
    netStorage.nbdTlsCertDir = netPath("nbd", "client", NULL);
    netStorage.nbdTlsServerDir = netPath("nbd", "server", NULL);
    kitBase = g_build_filename(netStorage.nbdkitDir, "base.raw", NULL);
    tlsObject = g_strdup_printf("tls-creds-x509,id=tls0,endpoint=server,dir=%s,verify-peer=on",
                                netStorage.nbdTlsServerDir);
    kitDir = g_strdup_printf("dir=%s", netStorage.nbdkitDir);

    if (!netPortFree(netStorage.nbdPort, error) || !netPortFree(netStorage.nbdTlsPort, error) ||
        !netPortFree(netStorage.nbdkitPort, error) || !netMkdir(netStorage.nbdkitDir, error) ||
        !netCopyBase(base, error) || !netCopyBase(rw, error) || !netCopyBase(kitBase, error) ||
        !netMakePki(pki, error) ||
        !netCopyFiles(pki, netStorage.nbdTlsServerDir, serverFiles, error) ||
        !netCopyFiles(pki, netStorage.nbdTlsCertDir, clientFiles, error))
        return FALSE;

    {
        const char *argv[] = {
            "qemu-nbd",    "--bind=127.0.0.1", "--port",       port,           "--export-name=base",
            "--read-only", "--shared=32",      "--persistent", "--format=raw", base,
            NULL};

        if (!(srv = netSpawn("qemu-nbd-tcp", argv, error)) ||
            !netWaitListening(srv, NULL, netStorage.nbdPort, error))
            return FALSE;
    }
    {
        const char *argv[] = {
            "qemu-nbd",    "--socket",     netStorage.nbdSocket, "--export-name=rw",
            "--shared=32", "--persistent", "--format=raw",       rw,
            NULL};

        if (!(srv = netSpawn("qemu-nbd-unix", argv, error)) ||
            !netWaitListening(srv, netStorage.nbdSocket, 0, error))
            return FALSE;
        /* QEMU runs as its own user: connecting needs write permission on the socket */
        g_chmod(netStorage.nbdSocket, 0777);
    }
    {
        const char *argv[] = {"qemu-nbd",
                              "--object",
                              tlsObject,
                              "--tls-creds=tls0",
                              "--bind=127.0.0.1",
                              "--port",
                              tlsPort,
                              "--export-name=base",
                              "--read-only",
                              "--shared=32",
                              "--persistent",
                              "--format=raw",
                              base,
                              NULL};

        if (!(srv = netSpawn("qemu-nbd-tls", argv, error)) ||
            !netWaitListening(srv, NULL, netStorage.nbdTlsPort, error))
            return FALSE;
    }
    {
        /* nbdkit ignores the export name unless the file plugin serves a directory: then
         * export NAME is file NAME in it, so one server holds any number of images */
        const char *argv[] = {"nbdkit",   "--foreground", "--exit-with-parent",
                              "--ipaddr", "127.0.0.1",    "--port",
                              kitPort,    "file",         kitDir,
                              NULL};

        if (!(srv = netSpawn("nbdkit", argv, error)) ||
            !netWaitListening(srv, NULL, netStorage.nbdkitPort, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- iSCSI: tgtd ---- */

static gboolean
netTgtadm(const char *const *args, GError **error)
{
    g_autofree char *cp = g_strdup_printf("%d", netStorage.iscsiControlPort);
    const char *prefix[] = {"tgtadm", "-C", cp, "--lld", "iscsi", NULL};

    return netRunPrefixed(prefix, args, NULL, error);
}

#define TGTADM(error, ...)                                                                         \
    ({                                                                                             \
        const char *args_[] = {__VA_ARGS__, NULL};                                                 \
        netTgtadm(args_, (error));                                                                 \
    })

static gboolean
netStartIscsi(GError **error)
{
    g_autofree char *lun1 = netPath("iscsi", "lun-base.raw", NULL);
    g_autofree char *lun2 = netPath("iscsi", "lun-chap.raw", NULL);
    g_autofree char *dir = netPath("iscsi", NULL);
    g_autofree char *portal = NULL;
    g_autofree char *cp = NULL;
    g_autofree char *sock = NULL;
    gint64 deadline;
    NetServer *srv;

    /* a control socket of our own, /var/run/tgtd/socket.N: never a system tgtd's */
    netStorage.iscsiControlPort = (int)netStorage.portBase + 260;
    netStorage.iscsiIqn = g_strdup("iqn.2026-12.org.qvirt.test:base");
    netStorage.iscsiChapIqn = g_strdup("iqn.2026-12.org.qvirt.test:chap");
    netStorage.chapUser = g_strdup("qvirtchap");
    netStorage.chapPassword = g_strdup_printf("pw%08x%08x", g_random_int(), g_random_int());
    portal = g_strdup_printf("portal=127.0.0.1:%u", netStorage.iscsiPort);
    cp = g_strdup_printf("%d", netStorage.iscsiControlPort);
    sock = g_strdup_printf("/var/run/tgtd/socket.%d", netStorage.iscsiControlPort);

    if (!netPortFree(netStorage.iscsiPort, error) || !netMkdir(dir, error) ||
        !netMkdir("/var/run/tgtd", error) || !netCopyBase(lun1, error) || !netCopyBase(lun2, error))
        return FALSE;
    if (g_file_test(sock, G_FILE_TEST_EXISTS) && netConnectOnce(AF_UNIX, sock, 0)) {
        g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED,
                    "another tgtd listens on %s (set QVIRT_NETTEST_PORT_BASE)", sock);
        return FALSE;
    }
    {
        /* the default portal is every address, IPv4 and IPv6 */
        const char *argv[] = {"tgtd", "-f", "-C", cp, "--iscsi", portal, NULL};

        if (!(srv = netSpawn("tgtd", argv, error)))
            return FALSE;
        srv->hardKill = TRUE;
        if (!netWaitListening(srv, NULL, netStorage.iscsiPort, error))
            return FALSE;
    }
    /* the control socket comes up around the same time as the portal */
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!TGTADM(NULL, "--mode", "sys", "--op", "show")) {
        if (g_get_monotonic_time() > deadline || !netServerAlive(srv, error)) {
            if (error && !*error)
                g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED,
                            "tgtd does not answer on %s", sock);
            return FALSE;
        }
        g_usleep(20 * 1000);
    }
    return TGTADM(error, "--mode", "target", "--op", "new", "--tid", "1", "-T",
                  netStorage.iscsiIqn) &&
           TGTADM(error, "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1",
                  "--backing-store", lun1) &&
           TGTADM(error, "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address",
                  "127.0.0.1") &&
           TGTADM(error, "--mode", "target", "--op", "new", "--tid", "2", "-T",
                  netStorage.iscsiChapIqn) &&
           TGTADM(error, "--mode", "logicalunit", "--op", "new", "--tid", "2", "--lun", "1",
                  "--backing-store", lun2) &&
           TGTADM(error, "--mode", "target", "--op", "bind", "--tid", "2", "--initiator-address",
                  "127.0.0.1") &&
           TGTADM(error, "--mode", "account", "--op", "new", "--user", netStorage.chapUser,
                  "--password", netStorage.chapPassword) &&
           TGTADM(error, "--mode", "account", "--op", "bind", "--tid", "2", "--user",
                  netStorage.chapUser);
}

/* ---- HTTP(S) ---- */

/* Static files with byte ranges (QEMU's curl driver insists on 206 answers; python's
 * stock http.server ignores Range), HTTP/1.1 keep-alive, TLS when given a cert and key. */
static const char httpServer[] =
    "import http.server, os, re, socketserver, ssl, sys\n"
    "class Handler(http.server.SimpleHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def send_head(self):\n"
    "        path = self.translate_path(self.path)\n"
    "        try:\n"
    "            f = open(path, 'rb')\n"
    "        except OSError:\n"
    "            self.send_error(404)\n"
    "            return None\n"
    "        size = os.fstat(f.fileno()).st_size\n"
    "        first, last, code = 0, size - 1, 200\n"
    "        m = re.fullmatch(r'bytes=(\\d*)-(\\d*)', self.headers.get('Range') or '')\n"
    "        if m and (m[1] or m[2]):\n"
    "            if m[1]:\n"
    "                first = int(m[1])\n"
    "                last = min(int(m[2]), size - 1) if m[2] else size - 1\n"
    "            else:\n"
    "                first = max(0, size - int(m[2]))\n"
    "            if first > last:\n"
    "                f.close()\n"
    "                self.send_response(416)\n"
    "                self.send_header('Content-Range', 'bytes */%d' % size)\n"
    "                self.send_header('Content-Length', '0')\n"
    "                self.end_headers()\n"
    "                return None\n"
    "            code = 206\n"
    "        self.send_response(code)\n"
    "        if code == 206:\n"
    "            self.send_header('Content-Range', 'bytes %d-%d/%d' % (first, last, size))\n"
    "        self.send_header('Content-Type', 'application/octet-stream')\n"
    "        self.send_header('Accept-Ranges', 'bytes')\n"
    "        self.send_header('Content-Length', str(last - first + 1))\n"
    "        self.end_headers()\n"
    "        f.seek(first)\n"
    "        self.left = last - first + 1\n"
    "        return f\n"
    "    def copyfile(self, src, dst):\n"
    "        while self.left > 0:\n"
    "            data = src.read(min(self.left, 1 << 20))\n"
    "            if not data:\n"
    "                break\n"
    "            dst.write(data)\n"
    "            self.left -= len(data)\n"
    "class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):\n"
    "    daemon_threads = True\n"
    "    allow_reuse_address = True\n"
    "os.chdir(sys.argv[1])\n"
    "srv = Server(('127.0.0.1', int(sys.argv[2])), Handler)\n"
    "if len(sys.argv) > 3:\n"
    "    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "    ctx.load_cert_chain(sys.argv[3], sys.argv[4])\n"
    "    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
    "srv.serve_forever()\n";

static gboolean
netStartHttp(GError **error)
{
    g_autofree char *script = netPath("http", "server.py", NULL);
    g_autofree char *pki = netPath("http", "pki", NULL);
    g_autofree char *cert = netPath("http", "pki", "server-cert.pem", NULL);
    g_autofree char *key = netPath("http", "pki", "server-key.pem", NULL);
    g_autofree char *raw = NULL;
    g_autofree char *qcow2 = NULL;
    g_autofree char *port = g_strdup_printf("%u", netStorage.httpPort);
    g_autofree char *tlsPort = g_strdup_printf("%u", netStorage.httpsPort);
    NetServer *srv;

    netStorage.httpDir = netPath("http", "www", NULL);
    raw = g_build_filename(netStorage.httpDir, "base.raw", NULL);
    qcow2 = g_build_filename(netStorage.httpDir, "base.qcow2", NULL);
    if (!netPortFree(netStorage.httpPort, error) || !netPortFree(netStorage.httpsPort, error) ||
        !netMkdir(netStorage.httpDir, error) || !netCopyBase(raw, error) ||
        !NET_RUN(error, "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, qcow2) ||
        !g_file_set_contents(script, httpServer, -1, error) || !netMakePki(pki, error))
        return FALSE;
    {
        const char *argv[] = {"/usr/bin/python3", script, netStorage.httpDir, port, NULL};

        if (!(srv = netSpawn("http", argv, error)) ||
            !netWaitListening(srv, NULL, netStorage.httpPort, error))
            return FALSE;
    }
    {
        const char *argv[] = {
            "/usr/bin/python3", script, netStorage.httpDir, tlsPort, cert, key, NULL};

        if (!(srv = netSpawn("https", argv, error)) ||
            !netWaitListening(srv, NULL, netStorage.httpsPort, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- Ceph ---- */

char *
netStorageRbdFilename(const char *image)
{
    return g_strdup_printf("rbd:rbd/%s:conf=%s", image, netStorage.cephConf);
}

/* TOOL (ceph, rbd) with the cluster's conf and ARGS, under a 60 s timeout. */
static gboolean
netCeph(const char *tool, const char *const *args, char **out, GError **error)
{
    const char *prefix[] = {"timeout", "60", tool, "-c", netStorage.cephConf, NULL};

    return netRunPrefixed(prefix, args, out, error);
}

#define CEPH(out, error, ...)                                                                      \
    ({                                                                                             \
        const char *args_[] = {__VA_ARGS__, NULL};                                                 \
        netCeph("ceph", args_, (out), (error));                                                    \
    })

gboolean
netStorageRbd(const char *const *args, GError **error)
{
    return netCeph("rbd", args, NULL, error);
}

static char *
netCephKey(const char *keyring, const char *name, GError **error)
{
    const char *argv[] = {"ceph-authtool", "-p", "-n", name, keyring, NULL};
    g_autofree char *out = NULL;

    if (!netStorageRun(argv, &out, error))
        return NULL;
    return g_strdup(g_strstrip(out));
}

static gboolean
netStartCeph(GError **error)
{
    g_autofree char *dir = netPath("ceph", NULL);
    g_autofree char *monData = netPath("ceph", "mon", "ceph-a", NULL);
    g_autofree char *osdData = netPath("ceph", "osd", "ceph-0", NULL);
    g_autofree char *runDir = netPath("ceph", "run", NULL);
    g_autofree char *monKeyring = netPath("ceph", "mon.keyring", NULL);
    g_autofree char *keyring = netPath("ceph", "keyring", NULL);
    g_autofree char *qvirtKeyring = netPath("ceph", "qvirt.keyring", NULL);
    g_autofree char *osdKeyring = netPath("ceph", "osd", "ceph-0", "keyring", NULL);
    g_autofree char *monmap = netPath("ceph", "monmap", NULL);
    g_autofree char *osdSecret = netPath("ceph", "osd-secret.json", NULL);
    g_autofree char *fsid = g_uuid_string_random();
    g_autofree char *osdUuid = g_uuid_string_random();
    g_autofree char *addrs = g_strdup_printf("[v2:127.0.0.1:%u,v1:127.0.0.1:%u]",
                                             netStorage.cephMonV2Port, netStorage.cephMonPort);
    g_autofree char *conf = NULL;
    g_autofree char *osdKey = NULL;
    g_autofree char *osdId = NULL;
    g_autofree char *json = NULL;
    g_autofree char *rbdBase = NULL;
    NetServer *mon;
    NetServer *osd;

    netStorage.cephConf = netPath("ceph", "ceph.conf", NULL);
    netStorage.cephClientConf = netPath("ceph", "client.conf", NULL);
    if (!netPortFree(netStorage.cephMonPort, error) ||
        !netPortFree(netStorage.cephMonV2Port, error) || !netMkdir(monData, error) ||
        !netMkdir(osdData, error) || !netMkdir(runDir, error))
        return FALSE;
    /* loopback only: every address pinned (eth0 has a routable one), every file in DIR
     * (the mon's cluster log too), one OSD so size-1 pools; no mgr (RBD I/O needs none) */
    conf =
        g_strdup_printf("[global]\n"
                        "fsid = %s\n"
                        "mon initial members = a\n"
                        "mon host = %s\n"
                        "public network = 127.0.0.0/8\n"
                        "cluster network = 127.0.0.0/8\n"
                        "public addr = 127.0.0.1\n"
                        "cluster addr = 127.0.0.1\n"
                        "ms bind ipv4 = true\n"
                        "ms bind ipv6 = false\n"
                        "ms bind port min = %u\n"
                        "ms bind port max = %u\n"
                        "auth cluster required = cephx\n"
                        "auth service required = cephx\n"
                        "auth client required = cephx\n"
                        "auth allow insecure global id reclaim = false\n"
                        "mon warn on insecure global id reclaim allowed = false\n"
                        "run dir = %s\n"
                        "admin socket = %s/$cluster-$name.asok\n"
                        "log file = %s/log/ceph-$name.log\n"
                        "mon data = %s/mon/$cluster-$id\n"
                        "osd data = %s/osd/$cluster-$id\n"
                        "keyring = %s\n"
                        "osd pool default size = 1\n"
                        "osd pool default min size = 1\n"
                        "osd pool default pg num = 8\n"
                        "osd pool default pgp num = 8\n"
                        "osd pool default pg autoscale mode = off\n"
                        "osd crush chooseleaf type = 0\n"
                        "mon allow pool size one = true\n"
                        "mon warn on pool no redundancy = false\n"
                        "mon data avail warn = 2\n"
                        "mon data avail crit = 1\n"
                        "mon cluster log file = %s/log/ceph.$channel.log\n"
                        "[osd]\n"
                        "osd objectstore = memstore\n"
                        "memstore device bytes = 1073741824\n"
                        "osd memory target = 939524096\n"
                        "osd op num shards = 1\n"
                        "osd op num threads per shard = 2\n"
                        "[osd.0]\n"
                        "keyring = %s\n",
                        fsid, addrs, netStorage.portBase + 800, netStorage.portBase + 809, runDir,
                        runDir, netStorage.dir, dir, dir, keyring, netStorage.dir, osdKeyring);
    if (!g_file_set_contents(netStorage.cephConf, conf, -1, error) ||
        !g_file_set_contents(netStorage.cephClientConf,
                             "[global]\n"
                             "client mount timeout = 3\n",
                             -1, error))
        return FALSE;

    /* keys: the mon's, client.admin and client.qvirt (what QEMU uses) are known to the
     * mon from its mkfs on, so no 'ceph auth' round trips are needed */
    if (!NET_RUN(error, "ceph-authtool", "--create-keyring", monKeyring, "--gen-key", "-n", "mon.",
                 "--cap", "mon", "allow *") ||
        !NET_RUN(error, "ceph-authtool", "--create-keyring", keyring, "--gen-key", "-n",
                 "client.admin", "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap",
                 "mgr", "allow *") ||
        !NET_RUN(error, "ceph-authtool", "--create-keyring", qvirtKeyring, "--gen-key", "-n",
                 "client.qvirt", "--cap", "mon", "profile rbd", "--cap", "osd",
                 "profile rbd pool=rbd") ||
        !NET_RUN(error, "ceph-authtool", keyring, "--import-keyring", qvirtKeyring) ||
        !NET_RUN(error, "ceph-authtool", monKeyring, "--import-keyring", keyring) ||
        !NET_RUN(error, "monmaptool", "--create", "--fsid", fsid, "--addv", "a", addrs, monmap) ||
        !NET_RUN(error, "ceph-mon", "-c", netStorage.cephConf, "--mkfs", "-i", "a", "--monmap",
                 monmap, "--keyring", monKeyring))
        return FALSE;
    netStorage.cephUser = g_strdup("qvirt");
    if (!(netStorage.cephKey = netCephKey(keyring, "client.qvirt", error)) ||
        !(netStorage.cephAdminKey = netCephKey(keyring, "client.admin", error)))
        return FALSE;
    {
        const char *argv[] = {"ceph-mon", "-f", "-c", netStorage.cephConf, "-i", "a", NULL};

        if (!(mon = netSpawn("ceph-mon", argv, error)) ||
            !netWaitListening(mon, NULL, netStorage.cephMonV2Port, error))
            return FALSE;
    }

    /* the OSD: registered with its own key, made, started */
    {
        const char *argv[] = {"ceph-authtool", "--gen-print-key", NULL};

        if (!netStorageRun(argv, &osdKey, error))
            return FALSE;
        g_strstrip(osdKey);
    }
    json = g_strdup_printf("{\"cephx_secret\": \"%s\"}", osdKey);
    if (!g_file_set_contents(osdSecret, json, -1, error) ||
        !CEPH(&osdId, error, "osd", "new", osdUuid, "-i", osdSecret))
        return FALSE;
    if (g_strcmp0(g_strstrip(osdId), "0") != 0) {
        g_set_error(error, NET_STORAGE_ERROR, NET_STORAGE_ERROR_FAILED,
                    "ceph osd new gave id '%s', not 0", osdId);
        return FALSE;
    }
    if (!NET_RUN(error, "ceph-authtool", "--create-keyring", osdKeyring, "--name", "osd.0",
                 "--add-key", osdKey) ||
        !NET_RUN(error, "ceph-osd", "-c", netStorage.cephConf, "-i", "0", "--mkfs", "--osd-uuid",
                 osdUuid))
        return FALSE;
    {
        const char *argv[] = {"ceph-osd", "-f", "-c", netStorage.cephConf, "-i", "0", NULL};

        if (!(osd = netSpawn("ceph-osd", argv, error)))
            return FALSE;
    }
    /* the pool can be made before the OSD is up; rbd create waits for its PGs */
    if (!CEPH(NULL, error, "osd", "pool", "create", "rbd", "8", "8", "replicated") ||
        !CEPH(NULL, error, "osd", "pool", "application", "enable", "rbd", "rbd"))
        return FALSE;
    {
        const char *args[] = {"create", "--size", "64M", "rbd/base", NULL};

        if (!netStorageRbd(args, error)) {
            if (!netServerAlive(osd, NULL) || !netServerAlive(mon, NULL)) {
                g_autofree char *tail = netLogTail(osd->log);

                g_prefix_error(error, "(ceph-osd log: %s) ", tail);
            }
            return FALSE;
        }
    }
    rbdBase = netStorageRbdFilename("base");
    if (!netStorageWritePattern(rbdBase, "raw", error))
        return FALSE;
    return TRUE;
}

/* ---- entry points ---- */

gboolean
netStorageStart(NetStorageKind kind, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    gboolean ok = FALSE;

    netStorageInit();
    g_assert_false(netStorage.started & kind);
    switch (kind) {
    case NET_STORAGE_NBD:
        ok = netStartNbd(error);
        break;
    case NET_STORAGE_ISCSI:
        ok = netStartIscsi(error);
        break;
    case NET_STORAGE_HTTP:
        ok = netStartHttp(error);
        break;
    case NET_STORAGE_CEPH:
        ok = netStartCeph(error);
        break;
    }
    if (!ok) {
        if (error && *error)
            g_prefix_error(error, "%s servers: ", netStorageKindName(kind));
        return FALSE;
    }
    netStorage.started |= kind;
    netStorage.startSeconds[netKindIndex(kind)] =
        (g_get_monotonic_time() - t0) / (double)G_USEC_PER_SEC;
    return TRUE;
}
