/*
 * qemu_monitor.c: a QMP client with one reader thread per connection.
 *
 * Threads: callers of qemuMonitorCommand() write the command (serialised by writeLock)
 * and sleep on COND until the reader thread files the reply with the same "id" into
 * their pending slot. The reader never holds LOCK while it runs a callback, so a
 * callback may call anything except a synchronous command on this same monitor (its
 * reply could only be read by the thread that is waiting for it).
 */
#include "qemu/qemu_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/virerror.h"

/* A reply to query-named-block-nodes with hundreds of layers is a few MiB; anything far
 * beyond that is not QEMU talking. */
#define QEMU_MONITOR_MAX_LINE (64 * 1024 * 1024)
/* QMP replies nest a handful of levels; json-glib recurses once per level. */
#define QEMU_MONITOR_MAX_DEPTH 256
#define QEMU_MONITOR_CONNECT_RETRY_US (5 * 1000)

typedef struct {
    char *id;
    JsonObject *reply; /* set by the reader */
} qemuMonitorPending;

struct _qemuMonitor {
    int rfd;
    int wfd;
    int wakeFds[2]; /* the reader polls wakeFds[0]; close writes to wakeFds[1] */

    GMutex lock; /* everything below */
    GCond cond;
    GPtrArray *pending; /* qemuMonitorPending*, owned by the waiting callers */
    guint64 nextId;
    JsonObject *greeting;
    gboolean eof;      /* the reader has stopped: no more replies will come */
    gboolean broken;   /* a write was cut short: the stream can no longer be trusted */
    gboolean closing;  /* qemuMonitorClose() has begun: no more callbacks */
    gboolean selfFree; /* closed from a callback: the reader frees the monitor at exit */

    gint refs;        /* the owner's, plus one per command in flight */
    GMutex writeLock; /* one command on the wire at a time */
    GThread *reader;

    qemuMonitorCallbacks cb;
    gpointer opaque;
};

/* ---- parsing -------------------------------------------------------------------- */

static gboolean
qemuMonitorJSONIsSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The code unit of the "\uXXXX" escape at P (P[0] is the backslash), or -1 when P does not
 * start one with four hex digits in the LEFT bytes it has. */
static int
qemuMonitorJSONUnicodeEscape(const char *p, gsize left)
{
    int unit = 0;

    if (left < 6 || p[0] != '\\' || p[1] != 'u')
        return -1;
    for (int i = 2; i < 6; i++) {
        int digit = g_ascii_xdigit_value(p[i]);

        if (digit < 0)
            return -1;
        unit = unit * 16 + digit;
    }
    return unit;
}

/*
 * Check what json-glib 1.6 mishandles before it sees the line (fuzz_qmp found it leaking on
 * both): the line must be exactly one object, with nothing but white space after it, and
 * every UTF-16 surrogate escape must be half of a pair. Also bounds the nesting, since
 * json-glib recurses once per level. Brackets inside strings do not count.
 */
static gboolean
qemuMonitorJSONCheckShape(const char *line, gsize len, GError **error)
{
    unsigned int depth = 0;
    gboolean inString = FALSE;
    gsize i = 0;

    while (i < len && qemuMonitorJSONIsSpace(line[i]))
        i++;
    if (i == len || line[i] != '{') {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "QEMU monitor message is not a JSON object");
        return FALSE;
    }
    for (; i < len; i++) {
        char c = line[i];

        if (inString) {
            int unit;

            if (c == '"') {
                inString = FALSE;
                continue;
            }
            if (c != '\\')
                continue;
            unit = qemuMonitorJSONUnicodeEscape(line + i, len - i);
            if (unit >= 0xD800 && unit <= 0xDBFF) {
                int low = qemuMonitorJSONUnicodeEscape(line + i + 6, len - i - 6);

                if (low < 0xDC00 || low > 0xDFFF)
                    goto surrogate;
                i += 11; /* both escapes */
            } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
                goto surrogate;
            } else {
                i++; /* the escaped character cannot end the string */
            }
            continue;
        }
        if (c == '"') {
            inString = TRUE;
        } else if (c == '{' || c == '[') {
            if (++depth > QEMU_MONITOR_MAX_DEPTH) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "QEMU monitor message nests deeper than %d levels",
                            QEMU_MONITOR_MAX_DEPTH);
                return FALSE;
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            if (--depth == 0)
                break; /* the object is complete */
        }
    }
    for (i++; i < len; i++) {
        if (!qemuMonitorJSONIsSpace(line[i])) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "QEMU monitor message has data after its JSON object");
            return FALSE;
        }
    }
    return TRUE;

surrogate:
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                "QEMU monitor message has an unpaired UTF-16 surrogate escape");
    return FALSE;
}

JsonObject *
qemuMonitorParseLine(const char *line, gsize len, GError **error)
{
    g_autoptr(JsonParser) parser = NULL;
    g_autoptr(GError) jsonError = NULL;
    JsonNode *root;

    if (!line || len == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "empty QEMU monitor message");
        return NULL;
    }
    if (len > QEMU_MONITOR_MAX_LINE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "QEMU monitor message of %" G_GSIZE_FORMAT " bytes is too long", len);
        return NULL;
    }
    /* Also rejects embedded NUL bytes, which json-glib would otherwise stop at. */
    if (!g_utf8_validate_len(line, len, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "QEMU monitor message is not valid UTF-8");
        return NULL;
    }
    if (!qemuMonitorJSONCheckShape(line, len, error))
        return NULL;

    parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, line, (gssize)len, &jsonError)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "cannot parse QEMU monitor message: %s", jsonError->message);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "QEMU monitor message is not a JSON object");
        return NULL;
    }
    return json_object_ref(json_node_get_object(root));
}

/* ---- reader thread -------------------------------------------------------------- */

static const char *
qemuMonitorObjectGetString(JsonObject *obj, const char *member)
{
    JsonNode *node = json_object_get_member(obj, member);

    if (!node || JSON_NODE_TYPE(node) != JSON_NODE_VALUE ||
        json_node_get_value_type(node) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string(node);
}

/* File REPLY (taken) with the caller waiting for its id; replies nobody waits for any more
 * (the caller timed out) are dropped. Called with LOCK held. */
static void
qemuMonitorDispatchReply(qemuMonitor *mon, JsonObject *reply)
{
    const char *id = qemuMonitorObjectGetString(reply, "id");
    gboolean hasId = json_object_has_member(reply, "id");
    guint i;

    for (i = 0; i < mon->pending->len; i++) {
        qemuMonitorPending *p = g_ptr_array_index(mon->pending, i);

        if (p->reply)
            continue;
        /* QEMU omits the id only when it could not parse our command at all; that
         * answer belongs to the oldest command still waiting. */
        if (!hasId || g_strcmp0(p->id, id) == 0) {
            p->reply = reply;
            g_cond_broadcast(&mon->cond);
            return;
        }
    }
    g_debug("dropping QEMU monitor reply with id '%s' nobody waits for", id ? id : "(none)");
    json_object_unref(reply);
}

static void
qemuMonitorDispatchEvent(qemuMonitor *mon, JsonObject *msg)
{
    const char *name = qemuMonitorObjectGetString(msg, "event");
    JsonNode *data = json_object_get_member(msg, "data");
    JsonObject *dataObj = NULL;
    gboolean closing;

    if (data && JSON_NODE_HOLDS_OBJECT(data))
        dataObj = json_node_get_object(data);

    g_mutex_lock(&mon->lock);
    closing = mon->closing;
    g_mutex_unlock(&mon->lock);

    if (!closing && mon->cb.event)
        mon->cb.event(mon, name, dataObj, mon->opaque);
}

static void
qemuMonitorHandleLine(qemuMonitor *mon, const char *line, gsize len)
{
    g_autoptr(GError) error = NULL;
    JsonObject *msg;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return;

    if (!(msg = qemuMonitorParseLine(line, len, &error))) {
        g_debug("ignoring QEMU monitor line: %s", error->message);
        return;
    }

    if (json_object_has_member(msg, "QMP")) {
        g_mutex_lock(&mon->lock);
        if (!mon->greeting)
            mon->greeting = json_object_ref(msg);
        g_cond_broadcast(&mon->cond);
        g_mutex_unlock(&mon->lock);
    } else if (qemuMonitorObjectGetString(msg, "event")) {
        qemuMonitorDispatchEvent(mon, msg);
    } else if (json_object_has_member(msg, "return") || json_object_has_member(msg, "error")) {
        g_mutex_lock(&mon->lock);
        qemuMonitorDispatchReply(mon, json_object_ref(msg));
        g_mutex_unlock(&mon->lock);
    } else {
        g_debug("ignoring QEMU monitor message that is neither reply nor event");
    }
    json_object_unref(msg);
}

/* Consume every complete line of BUF; an overlong partial line is thrown away up to its
 * end (*SKIPPING), so one absurd message cannot exhaust memory. */
static void
qemuMonitorHandleBuffer(qemuMonitor *mon, GByteArray *buf, gboolean *skipping)
{
    gsize start = 0;
    gsize i;

    for (i = 0; i < buf->len; i++) {
        if (buf->data[i] != '\n')
            continue;
        if (!*skipping)
            qemuMonitorHandleLine(mon, (const char *)buf->data + start, i - start);
        *skipping = FALSE;
        start = i + 1;

        g_mutex_lock(&mon->lock);
        if (mon->closing) {
            g_mutex_unlock(&mon->lock);
            break;
        }
        g_mutex_unlock(&mon->lock);
    }
    g_byte_array_remove_range(buf, 0, MIN(start, buf->len));

    if (buf->len > QEMU_MONITOR_MAX_LINE) {
        g_debug("discarding an overlong QEMU monitor line");
        g_byte_array_set_size(buf, 0);
        *skipping = TRUE;
    }
}

static void qemuMonitorUnref(qemuMonitor *mon);

static gpointer
qemuMonitorReaderThread(gpointer data)
{
    qemuMonitor *mon = data;
    g_autoptr(GByteArray) buf = g_byte_array_new();
    gboolean skipping = FALSE;
    gboolean closing;
    gboolean selfFree;
    char chunk[65536];

    for (;;) {
        struct pollfd fds[2] = {
            {.fd = mon->rfd, .events = POLLIN},
            {.fd = mon->wakeFds[0], .events = POLLIN},
        };
        ssize_t got;

        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents)
            break;
        if (!fds[0].revents)
            continue;

        got = read(mon->rfd, chunk, sizeof(chunk));
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            break;
        g_byte_array_append(buf, (const guint8 *)chunk, (guint)got);
        qemuMonitorHandleBuffer(mon, buf, &skipping);

        g_mutex_lock(&mon->lock);
        closing = mon->closing;
        g_mutex_unlock(&mon->lock);
        if (closing)
            break;
    }

    g_mutex_lock(&mon->lock);
    mon->eof = TRUE;
    g_cond_broadcast(&mon->cond);
    closing = mon->closing;
    g_mutex_unlock(&mon->lock);

    if (!closing && mon->cb.eof)
        mon->cb.eof(mon, mon->opaque);

    /* The eof callback itself may have closed the monitor. */
    g_mutex_lock(&mon->lock);
    selfFree = mon->selfFree;
    g_mutex_unlock(&mon->lock);
    if (selfFree)
        qemuMonitorUnref(mon);
    return NULL;
}

/* ---- opening and closing -------------------------------------------------------- */

static gboolean
qemuMonitorSetupFd(int fd, GError **error)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "cannot set up QEMU monitor descriptor %d: %s", fd, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static void
qemuMonitorFree(qemuMonitor *mon)
{
    if (mon->reader)
        g_thread_unref(mon->reader);
    if (mon->rfd >= 0)
        close(mon->rfd);
    if (mon->wfd >= 0 && mon->wfd != mon->rfd)
        close(mon->wfd);
    if (mon->wakeFds[0] >= 0)
        close(mon->wakeFds[0]);
    if (mon->wakeFds[1] >= 0)
        close(mon->wakeFds[1]);
    g_clear_pointer(&mon->greeting, json_object_unref);
    g_ptr_array_unref(mon->pending);
    g_mutex_clear(&mon->lock);
    g_cond_clear(&mon->cond);
    g_mutex_clear(&mon->writeLock);
    g_free(mon);
}

/* A command in flight keeps the monitor alive, so a close from another thread cannot pull
 * the lock from under a caller that is still waking up. */
static void
qemuMonitorUnref(qemuMonitor *mon)
{
    if (g_atomic_int_dec_and_test(&mon->refs))
        qemuMonitorFree(mon);
}

void
qemuMonitorClose(qemuMonitor *mon)
{
    char byte = 0;
    gboolean onReader;

    if (!mon)
        return;

    onReader = mon->reader && g_thread_self() == mon->reader;

    g_mutex_lock(&mon->lock);
    mon->closing = TRUE;
    mon->selfFree = onReader;
    g_cond_broadcast(&mon->cond);
    g_mutex_unlock(&mon->lock);

    if (onReader)
        return; /* the reader sees CLOSING when the callback returns and drops our ref */

    if (mon->reader) {
        while (write(mon->wakeFds[1], &byte, 1) < 0 && errno == EINTR)
            ;
        g_thread_join(g_steal_pointer(&mon->reader));
    }
    qemuMonitorUnref(mon);
}

static gboolean
qemuMonitorWaitGreeting(qemuMonitor *mon, gint64 deadline, GError **error)
{
    gboolean ok = TRUE;

    g_mutex_lock(&mon->lock);
    while (!mon->greeting && !mon->eof) {
        if (!g_cond_wait_until(&mon->cond, &mon->lock, deadline))
            break;
    }
    if (!mon->greeting) {
        ok = FALSE;
        if (mon->eof)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "QEMU monitor connection closed before the greeting");
        else
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                        "timed out waiting for the QEMU monitor greeting");
    }
    g_mutex_unlock(&mon->lock);
    return ok;
}

static unsigned int
qemuMonitorRemainingMs(gint64 deadline)
{
    gint64 left = deadline - g_get_monotonic_time();

    return left > 0 ? (unsigned int)MAX(left / 1000, 1) : 1;
}

qemuMonitor *
qemuMonitorOpenFds(int rfd, int wfd, unsigned int timeoutMs, const qemuMonitorCallbacks *cb,
                   gpointer opaque, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutMs * 1000;
    qemuMonitor *mon;
    g_autoptr(JsonNode) reply = NULL;

    g_return_val_if_fail(rfd >= 0 && wfd >= 0, NULL);

    mon = g_new0(qemuMonitor, 1);
    mon->refs = 1;
    mon->rfd = rfd;
    mon->wfd = wfd;
    mon->wakeFds[0] = mon->wakeFds[1] = -1;
    g_mutex_init(&mon->lock);
    g_cond_init(&mon->cond);
    g_mutex_init(&mon->writeLock);
    mon->pending = g_ptr_array_new();
    if (cb)
        mon->cb = *cb;
    mon->opaque = opaque;

    if (!qemuMonitorSetupFd(rfd, error) || (wfd != rfd && !qemuMonitorSetupFd(wfd, error)))
        goto error;
    if (pipe2(mon->wakeFds, O_CLOEXEC) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create a pipe: %s",
                    g_strerror(errno));
        goto error;
    }
    /* Under the lock: a callback closing the monitor from the reader thread must find
     * mon->reader already set. */
    g_mutex_lock(&mon->lock);
    mon->reader = g_thread_try_new("qemu-monitor", qemuMonitorReaderThread, mon, NULL);
    g_mutex_unlock(&mon->lock);
    if (!mon->reader) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "cannot start the QEMU monitor reader thread");
        goto error;
    }

    if (!qemuMonitorWaitGreeting(mon, deadline, error))
        goto error;
    /*
     * TIMEOUTMS bounds the wait for QEMU to come up and greet. Once it has, negotiating is
     * an ordinary command and gets an ordinary command's time: with only what a slow
     * start left of the deadline (down to 1 ms), a QEMU that answers promptly could still
     * miss it, and the failure would be blamed on qmp_capabilities.
     */
    if (!(reply = qemuMonitorCommand(
              mon, "qmp_capabilities", NULL,
              MAX(qemuMonitorRemainingMs(deadline), QEMU_MONITOR_DEFAULT_TIMEOUT_MS), error)))
        goto error;
    return mon;

error:
    qemuMonitorClose(mon);
    return NULL;
}

static int
qemuMonitorConnectUnix(const char *path, gint64 deadline, GError **error)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "QEMU monitor socket path '%s' is too long", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);

    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int err;

        if (fd < 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create a socket: %s",
                        g_strerror(errno));
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
            return fd;
        err = errno;
        close(fd);

        /* QEMU creates the socket a little after it starts: wait for it. */
        if ((err != ENOENT && err != ECONNREFUSED && err != EINTR && err != EAGAIN) ||
            g_get_monotonic_time() >= deadline) {
            g_set_error(error, QVIR_ERROR,
                        err == ENOENT || err == ECONNREFUSED ? QVIR_ERR_OPERATION_TIMEOUT
                                                             : QVIR_ERR_SYSTEM_ERROR,
                        "cannot connect to QEMU monitor socket '%s': %s", path, g_strerror(err));
            return -1;
        }
        g_usleep(QEMU_MONITOR_CONNECT_RETRY_US);
    }
}

qemuMonitor *
qemuMonitorOpenUnix(const char *path, unsigned int timeoutMs, const qemuMonitorCallbacks *cb,
                    gpointer opaque, GError **error)
{
    gint64 start = g_get_monotonic_time();
    gint64 deadline = start + (gint64)timeoutMs * 1000;
    int fd;

    g_return_val_if_fail(path != NULL, NULL);

    if ((fd = qemuMonitorConnectUnix(path, deadline, error)) < 0)
        return NULL;
    return qemuMonitorOpenFds(fd, fd, qemuMonitorRemainingMs(deadline), cb, opaque, error);
}

gboolean
qemuMonitorIsEOF(qemuMonitor *mon)
{
    gboolean eof;

    g_mutex_lock(&mon->lock);
    eof = mon->eof;
    g_mutex_unlock(&mon->lock);
    return eof;
}

JsonObject *
qemuMonitorGetGreeting(qemuMonitor *mon)
{
    JsonObject *greeting;

    g_mutex_lock(&mon->lock);
    greeting = mon->greeting ? json_object_ref(mon->greeting) : NULL;
    g_mutex_unlock(&mon->lock);
    return greeting;
}

/* ---- commands ------------------------------------------------------------------- */

/* Write all of DATA before DEADLINE. A socket write must not raise SIGPIPE in the daemon. */
/* The first bytes of a command, carrying FD as SCM_RIGHTS (QEMU's getfd takes the fd
 * that arrives with the command). */
static ssize_t
qemuMonitorSendWithFd(int sock, const char *data, gsize len, int fd)
{
    char control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control,
        .msg_controllen = sizeof(control),
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

static gboolean
qemuMonitorWriteAll(qemuMonitor *mon, const char *data, gsize len, int fd, gint64 deadline,
                    const char *command, GError **error)
{
    gsize done = 0;
    gboolean isSocket = TRUE;

    while (done < len) {
        struct pollfd pfd = {.fd = mon->wfd, .events = POLLOUT};
        gint64 left = deadline - g_get_monotonic_time();
        ssize_t n;

        if (fd >= 0) {
            n = qemuMonitorSendWithFd(mon->wfd, data + done, len - done, fd);
            if (n < 0 && errno == ENOTSOCK) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "cannot pass a file descriptor with '%s': the monitor is no socket",
                            command);
                return FALSE;
            }
            if (n > 0)
                fd = -1;
        } else if (isSocket) {
            n = send(mon->wfd, data + done, len - done, MSG_NOSIGNAL);
            if (n < 0 && errno == ENOTSOCK) {
                isSocket = FALSE;
                continue;
            }
        } else {
            n = write(mon->wfd, data + done, len - done);
        }
        if (n >= 0) {
            done += (gsize)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "QEMU monitor connection closed (%s)", g_strerror(errno));
            return FALSE;
        }
        if (left <= 0 || poll(&pfd, 1, (int)MAX(left / 1000, 1)) == 0) {
            if (g_get_monotonic_time() < deadline)
                continue;
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                        "timed out sending '%s' to the QEMU monitor", command);
            if (done > 0) {
                /* Half a command is on the wire: nothing after it would parse. */
                g_mutex_lock(&mon->lock);
                mon->broken = TRUE;
                g_mutex_unlock(&mon->lock);
            }
            return FALSE;
        }
    }
    return TRUE;
}

static char *
qemuMonitorFormatCommand(const char *command, JsonObject *args, const char *id)
{
    g_autoptr(JsonObject) obj = json_object_new();
    g_autoptr(JsonNode) root = json_node_alloc();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_object_set_string_member(obj, "execute", command);
    if (args)
        json_object_set_object_member(obj, "arguments", json_object_ref(args));
    json_object_set_string_member(obj, "id", id);

    json_node_init_object(root, obj);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    return g_strdup_printf("%s\r\n", text);
}

static JsonNode *
qemuMonitorReplyToResult(JsonObject *reply, const char *command, GError **error)
{
    JsonNode *ret = json_object_get_member(reply, "return");
    JsonNode *err = json_object_get_member(reply, "error");

    if (err) {
        const char *desc = NULL;
        const char *klass = NULL;

        if (JSON_NODE_HOLDS_OBJECT(err)) {
            desc = qemuMonitorObjectGetString(json_node_get_object(err), "desc");
            klass = qemuMonitorObjectGetString(json_node_get_object(err), "class");
        }
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "unable to execute QEMU command '%s': %s", command,
                    desc    ? desc
                    : klass ? klass
                            : "unknown error");
        return NULL;
    }
    if (!ret) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "QEMU monitor reply to '%s' has no result", command);
        return NULL;
    }
    return json_node_copy(ret);
}

JsonNode *
qemuMonitorCommand(qemuMonitor *mon, const char *command, JsonObject *args, unsigned int timeoutMs,
                   GError **error)
{
    return qemuMonitorCommandWithFd(mon, command, args, -1, timeoutMs, error);
}

/* Send COMMAND (with FD when >= 0) and wait for its reply object, whatever it says. */
static JsonObject *
qemuMonitorExchange(qemuMonitor *mon, const char *command, JsonObject *args, int fd,
                    unsigned int timeoutMs, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutMs * 1000;
    qemuMonitorPending p = {0};
    g_autofree char *msg = NULL;
    g_autofree char *id = NULL;
    g_autoptr(JsonObject) reply = NULL;
    gboolean written;

    g_return_val_if_fail(mon != NULL && command != NULL, NULL);

    if (mon->reader && g_thread_self() == mon->reader) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "QEMU command '%s' issued from the monitor's own thread", command);
        return NULL;
    }

    g_mutex_lock(&mon->lock);
    if (mon->eof || mon->closing || mon->broken) {
        g_mutex_unlock(&mon->lock);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED, "QEMU monitor connection closed");
        return NULL;
    }
    g_atomic_int_inc(&mon->refs);
    id = g_strdup_printf("qvirt-%" G_GUINT64_FORMAT, ++mon->nextId);
    p.id = id;
    g_ptr_array_add(mon->pending, &p);
    g_mutex_unlock(&mon->lock);

    msg = qemuMonitorFormatCommand(command, args, id);

    g_mutex_lock(&mon->writeLock);
    written = qemuMonitorWriteAll(mon, msg, strlen(msg), fd, deadline, command, error);
    g_mutex_unlock(&mon->writeLock);

    g_mutex_lock(&mon->lock);
    while (written && !p.reply && !mon->eof && !mon->closing) {
        if (!g_cond_wait_until(&mon->cond, &mon->lock, deadline))
            break;
    }
    g_ptr_array_remove_fast(mon->pending, &p);
    reply = g_steal_pointer(&p.reply);
    if (written && !reply) {
        if (mon->eof || mon->closing)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "QEMU monitor connection closed");
        else
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                        "timed out waiting for the QEMU monitor reply to '%s'", command);
    }
    g_mutex_unlock(&mon->lock);
    qemuMonitorUnref(mon);
    return g_steal_pointer(&reply);
}

JsonNode *
qemuMonitorCommandWithFd(qemuMonitor *mon, const char *command, JsonObject *args, int fd,
                         unsigned int timeoutMs, GError **error)
{
    g_autoptr(JsonObject) reply = qemuMonitorExchange(mon, command, args, fd, timeoutMs, error);

    if (!reply)
        return NULL;
    return qemuMonitorReplyToResult(reply, command, error);
}

JsonObject *
qemuMonitorCommandReply(qemuMonitor *mon, const char *command, JsonObject *args,
                        unsigned int timeoutMs, GError **error)
{
    return qemuMonitorExchange(mon, command, args, -1, timeoutMs, error);
}

JsonNode *
qemuMonitorCommandSteal(qemuMonitor *mon, const char *command, JsonObject *args,
                        unsigned int timeoutMs, GError **error)
{
    JsonNode *ret = qemuMonitorCommand(mon, command, args, timeoutMs, error);

    if (args)
        json_object_unref(args);
    return ret;
}
