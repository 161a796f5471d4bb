/*
 * remote_dispatch_guest.c: the REMOTE procedures of save images (save, restore), memory and
 * vCPU changes, send-key, domtime, and the two that open streams: the console (bytes both
 * ways between the client and the guest's pty) and the screenshot (QEMU's image, then the
 * end of the stream).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "rpc/remote_dispatch_priv.h"
#include "rpc/rpc_stream.h"
#include "util/virerror.h"

/* virDomainConsoleFlags */
#define REMOTE_CONSOLE_FORCE 1u
/* virDomainMemoryModFlags */
#define REMOTE_MEM_MAXIMUM 4u

/* ---- save images, memory, vCPUs, keys, time ---------------------------------------- */

gboolean
remoteDispatchDomainSaveFlags(qvirRemoteCtx *ctx, remote_domain_save_flags_args *args,
                              GError **error)
{
    return qvirDriverDomainSave(ctx->drv, args->dom.uuid, args->to, args->dxml, args->flags, error);
}

gboolean
remoteDispatchDomainRestoreFlags(qvirRemoteCtx *ctx, remote_domain_restore_flags_args *args,
                                 GError **error)
{
    return qvirDriverDomainRestore(ctx->drv, args->from, args->dxml, args->flags, error);
}

gboolean
remoteDispatchDomainSetMemoryFlags(qvirRemoteCtx *ctx, remote_domain_set_memory_flags_args *args,
                                   GError **error)
{
    return qvirDriverDomainSetMemory(ctx->drv, args->dom.uuid, args->memory, args->flags, error);
}

/* virDomainSetMaxMemory: the maximum, in the domain's current state (libvirt). */
gboolean
remoteDispatchDomainSetMaxMemory(qvirRemoteCtx *ctx, remote_domain_set_max_memory_args *args,
                                 GError **error)
{
    return qvirDriverDomainSetMemory(ctx->drv, args->dom.uuid, args->memory, REMOTE_MEM_MAXIMUM,
                                     error);
}

gboolean
remoteDispatchDomainSetVcpusFlags(qvirRemoteCtx *ctx, remote_domain_set_vcpus_flags_args *args,
                                  GError **error)
{
    return qvirDriverDomainSetVcpus(ctx->drv, args->dom.uuid, args->nvcpus, args->flags, error);
}

gboolean
remoteDispatchDomainSendKey(qvirRemoteCtx *ctx, remote_domain_send_key_args *args, GError **error)
{
    return qvirDriverDomainSendKey(ctx->drv, args->dom.uuid, args->codeset, args->holdtime,
                                   args->keycodes.val, args->keycodes.len, args->flags, error);
}

gboolean
remoteDispatchDomainGetTime(qvirRemoteCtx *ctx, remote_domain_get_time_args *args,
                            remote_domain_get_time_ret *ret, GError **error)
{
    long long seconds = 0;
    unsigned int nseconds = 0;

    if (!qvirDriverDomainGetTime(ctx->drv, args->dom.uuid, &seconds, &nseconds, args->flags, error))
        return FALSE;
    ret->seconds = seconds;
    ret->nseconds = nseconds;
    return TRUE;
}

/* ---- the console ----------------------------------------------------------------------- */

/*
 * One console session: a thread copies the pty's output into the stream; the client's
 * data is written to the pty from the stream's callbacks. Sessions are registered by
 * device (the pty) so that one client at a time holds it, as libvirt's virChrdevOpen:
 * another is refused, or with FORCE takes over (the old session's stream ends).
 */
typedef struct {
    gint refs;
    int fd;
    int wake[2]; /* the reader polls wake[0]; ending the session writes to wake[1] */
    gint ended;  /* finish, abort, or taken over */
    gint takenOver;
    char *key;
    qvirRpcStream *st;
} remoteConsole;

static GMutex remoteConsoleLock;
static GHashTable *remoteConsoles; /* key -> remoteConsole* (borrowed; removed when ended) */

static remoteConsole *
remoteConsoleRef(remoteConsole *con)
{
    g_atomic_int_inc(&con->refs);
    return con;
}

static void
remoteConsoleUnref(gpointer data)
{
    remoteConsole *con = data;

    if (!g_atomic_int_dec_and_test(&con->refs))
        return;
    close(con->fd);
    close(con->wake[0]);
    close(con->wake[1]);
    g_free(con->key);
    g_free(con);
}

/* End CON's session (once): wake its reader and drop it from the registry. */
static void
remoteConsoleEnd(remoteConsole *con)
{
    char byte = 0;

    if (!g_atomic_int_compare_and_exchange(&con->ended, 0, 1))
        return;
    while (write(con->wake[1], &byte, 1) < 0 && errno == EINTR)
        ;
    g_mutex_lock(&remoteConsoleLock);
    if (remoteConsoles && g_hash_table_lookup(remoteConsoles, con->key) == con)
        g_hash_table_remove(remoteConsoles, con->key);
    g_mutex_unlock(&remoteConsoleLock);
}

/* The client typed: to the guest. The pty is non-blocking; a full one is waited on briefly. */
static gboolean
remoteConsoleData(gpointer opaque, const guint8 *data, gsize len, GError **error)
{
    remoteConsole *con = opaque;

    while (len > 0) {
        ssize_t n = write(con->fd, data, len);

        if (n > 0) {
            data += n;
            len -= (gsize)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = con->fd, .events = POLLOUT};

            if (poll(&pfd, 1, 1000) > 0)
                continue;
        }
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot write to the console: %s",
                    g_strerror(n < 0 ? errno : EIO));
        return FALSE;
    }
    return TRUE;
}

static gboolean
remoteConsoleFinish(gpointer opaque, GError **error)
{
    remoteConsoleEnd(opaque);
    return TRUE;
}

static void
remoteConsoleAbort(gpointer opaque)
{
    remoteConsoleEnd(opaque);
}

static const qvirRpcStreamFuncs remoteConsoleFuncs = {
    .data = remoteConsoleData,
    .finish = remoteConsoleFinish,
    .abort = remoteConsoleAbort,
};

/* The guest's output to the client, until the session ends or the pty closes (QEMU gone). */
static gpointer
remoteConsoleReader(gpointer opaque)
{
    remoteConsole *con = opaque;
    g_autoptr(GError) err = NULL;
    guint8 buf[4096];

    for (;;) {
        struct pollfd pfds[2] = {{.fd = con->fd, .events = POLLIN},
                                 {.fd = con->wake[0], .events = POLLIN}};
        ssize_t n;

        if (poll(pfds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfds[1].revents || g_atomic_int_get(&con->ended)) {
            /* taken over by another client: this one's console ends cleanly */
            if (g_atomic_int_get(&con->takenOver))
                (void)qvirRpcStreamSendEOF(con->st, NULL);
            break;
        }
        n = read(con->fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            /* EIO: QEMU closed its side */
            (void)qvirRpcStreamSendEOF(con->st, NULL);
            break;
        }
        if (!qvirRpcStreamSendData(con->st, buf, (gsize)n, &err))
            break;
    }
    remoteConsoleEnd(con);
    /* the stream's reference to CON goes when the stream does */
    qvirRpcStreamUnref(g_steal_pointer(&con->st));
    remoteConsoleUnref(con);
    return NULL;
}

gboolean
remoteDispatchDomainOpenConsole(qvirRemoteCtx *ctx, remote_domain_open_console_args *args,
                                GError **error)
{
    g_autofree char *key = NULL;
    remoteConsole *con;
    remoteConsole *old;
    int fd;

    fd = qvirDriverDomainOpenConsole(ctx->drv, args->dom.uuid, args->dev_name, args->flags, &key,
                                     error);
    if (fd < 0)
        return FALSE;
    con = g_new0(remoteConsole, 1);
    con->refs = 1;
    con->fd = fd;
    if (!g_unix_open_pipe(con->wake, FD_CLOEXEC, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create pipe: %s",
                    g_strerror(errno));
        con->wake[0] = con->wake[1] = -1;
        remoteConsoleUnref(con);
        return FALSE;
    }
    con->key = g_strdup(key);

    g_mutex_lock(&remoteConsoleLock);
    if (!remoteConsoles)
        remoteConsoles = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    old = g_hash_table_lookup(remoteConsoles, key);
    if (old && !(args->flags & REMOTE_CONSOLE_FORCE)) {
        g_mutex_unlock(&remoteConsoleLock);
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "operation failed: Active console session exists for this domain");
        remoteConsoleUnref(con);
        return FALSE;
    }
    if (old) {
        g_hash_table_remove(remoteConsoles, key);
        remoteConsoleRef(old);
    }
    g_hash_table_insert(remoteConsoles, g_steal_pointer(&key), con);
    g_mutex_unlock(&remoteConsoleLock);
    if (old) {
        g_atomic_int_set(&old->takenOver, 1);
        remoteConsoleEnd(old);
        remoteConsoleUnref(old);
    }

    /* the stream's callbacks hold one reference to CON, the reader thread another and the
     * stream's (CON->st belongs to the reader) */
    con->st = qvirRpcStreamOpen(ctx->rpcClient, ctx->hdr, &remoteConsoleFuncs,
                                remoteConsoleRef(con), remoteConsoleUnref, FALSE);
    g_thread_unref(g_thread_new("qvirt-console", remoteConsoleReader, remoteConsoleRef(con)));
    remoteConsoleUnref(con);
    return TRUE;
}

/* ---- the screenshot ---------------------------------------------------------------------- */

typedef struct {
    int fd;
    qvirRpcStream *st;
} remoteScreenshot;

static gpointer
remoteScreenshotSender(gpointer opaque)
{
    remoteScreenshot *s = opaque;
    g_autoptr(GError) err = NULL;
    guint8 buf[65536];
    ssize_t n;

    while ((n = read(s->fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(&err, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot read the screenshot: %s",
                        g_strerror(errno));
            qvirRpcStreamSendError(s->st, err);
            break;
        }
        if (!qvirRpcStreamSendData(s->st, buf, (gsize)n, &err))
            break;
    }
    if (n == 0)
        (void)qvirRpcStreamSendEOF(s->st, NULL);
    close(s->fd);
    qvirRpcStreamUnref(s->st);
    g_free(s);
    return NULL;
}

/* The client only reads; its finish or abort needs nothing from us. */
static const qvirRpcStreamFuncs remoteScreenshotFuncs = {0};

gboolean
remoteDispatchDomainScreenshot(qvirRemoteCtx *ctx, remote_domain_screenshot_args *args,
                               remote_domain_screenshot_ret *ret, GError **error)
{
    remoteScreenshot *s;
    char *mime = NULL;
    int fd;

    fd = qvirDriverDomainScreenshot(ctx->drv, args->dom.uuid, args->screen, args->flags, &mime,
                                    error);
    if (fd < 0)
        return FALSE;
    ret->mime = mime;
    s = g_new0(remoteScreenshot, 1);
    s->fd = fd;
    s->st = qvirRpcStreamOpen(ctx->rpcClient, ctx->hdr, &remoteScreenshotFuncs, NULL, NULL, FALSE);
    g_thread_unref(g_thread_new("qvirt-screenshot", remoteScreenshotSender, s));
    return TRUE;
}

/* ---- the QEMU program --------------------------------------------------------- */

static gboolean
remoteQemuMonitorCommand(gpointer opaque, gpointer argsp, gpointer retp, GError **error)
{
    qvirRemoteCtx *ctx = opaque;
    qemu_domain_monitor_command_args *args = argsp;
    qemu_domain_monitor_command_ret *ret = retp;

    ret->result =
        qvirDriverDomainQemuMonitorCommand(ctx->drv, args->dom.uuid, args->cmd, args->flags, error);
    return ret->result != NULL;
}

/* qemu_protocol.x's procedures, numbered from 1 as there. */
static const qvirRpcProcedure remoteQemuProcedures[] = {
    {0},
    {
        .name = "virDomainQemuMonitorCommand",
        .dispatch = "qemuDispatchDomainMonitorCommand",
        .args = &qemu_domain_monitor_command_args_type,
        .ret = &qemu_domain_monitor_command_ret_type,
        .handler = remoteQemuMonitorCommand,
        .flags = QVIR_RPC_PROC_SERVED | QVIR_RPC_PROC_WRITE,
    },
};

const qvirRpcProcedure *
qvirRemoteQemuProcLookup(gint32 proc)
{
    if (proc <= 0 || proc >= (gint32)G_N_ELEMENTS(remoteQemuProcedures))
        return NULL;
    return &remoteQemuProcedures[proc];
}
