/*
 * fuzz_qmp.c: what QEMU sends on the QMP socket, from a QEMU that lies.
 *
 * Byte 0 picks the mode; the rest is the input.
 *
 * Even byte 0: qemuMonitorParseLine() on the input as one line. It must return an
 * object or set an error, never both or neither, and only for valid UTF-8 without
 * NUL bytes; every node of the object must be readable.
 *
 * Odd byte 0: a whole monitor session over a socketpair. A fake QEMU thread sends a
 * valid greeting, then answers each of our two commands (qmp_capabilities from
 * qemuMonitorOpenFds, then query-status) with a chunk of the input (split at its
 * first NUL byte) followed by a well-formed reply, and hangs up. The monitor must
 * open or fail with an error, the command must return a result or an error, events
 * must reach the callback with a name, and the eof callback must run exactly once.
 * The reader thread's line splitting, reply matching and event dispatch all see
 * the fuzzed bytes.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "qemu/qemu_monitor.h"
#include "util/virerror.h"

#define FUZZ_QMP_GREETING                                                                          \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "              \
    "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzCommonInit();
    return 0;
}

/* Touch every node, so a parser that handed out freed or half-built nodes shows up
 * under ASan; returns the number of nodes. */
static gsize
fuzzQmpWalk(JsonNode *node, guint depth)
{
    gsize n = 1;

    FUZZ_CHECK(depth <= 1024, "nesting of %u levels got through", depth);
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT: {
        JsonObjectIter iter;
        const char *member;
        JsonNode *child;

        json_object_iter_init(&iter, json_node_get_object(node));
        while (json_object_iter_next(&iter, &member, &child)) {
            FUZZ_CHECK(member != NULL, "member without a name");
            n += fuzzQmpWalk(child, depth + 1);
        }
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *arr = json_node_get_array(node);
        for (guint i = 0; i < json_array_get_length(arr); i++)
            n += fuzzQmpWalk(json_array_get_element(arr, i), depth + 1);
        break;
    }
    case JSON_NODE_VALUE:
        if (json_node_get_value_type(node) == G_TYPE_STRING)
            FUZZ_CHECK(json_node_get_string(node) != NULL, "string value without a string");
        break;
    case JSON_NODE_NULL:
        break;
    }
    return n;
}

/* json-glib 1.6 cannot round-trip its own output (1e308 is written as "1e+308.0",
 * and integers past G_MAXINT64 wrap), so the check here is structural only. */
static void
fuzzQmpParseOne(const char *line, gsize len)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonObject) obj = qemuMonitorParseLine(line, len, &error);
    g_autoptr(JsonNode) root = NULL;

    if (!obj) {
        FUZZ_CHECK(error != NULL, "NULL without an error");
        FUZZ_CHECK(error->domain == QVIR_ERROR, "foreign error domain: %s", error->message);
        FUZZ_CHECK(error->message && *error->message, "empty error message");
        return;
    }
    FUZZ_CHECK(error == NULL, "an object and an error: %s", error->message);
    FUZZ_CHECK(memchr(line, '\0', len) == NULL, "accepted a line with a NUL byte");
    FUZZ_CHECK(g_utf8_validate_len(line, len, NULL), "accepted a line that is not UTF-8");

    root = json_node_alloc();
    json_node_init_object(root, obj);
    fuzzQmpWalk(root, 0);
}

/* ---- a whole session ---------------------------------------------------------- */

typedef struct {
    int fd;
    const guint8 *chunks[2];
    gsize chunkLens[2];
} fuzzQmpQemu;

typedef struct {
    gint events;
    gint eofs;
} fuzzQmpSeen;

static gboolean
fuzzQmpWrite(int fd, const void *data, gsize len)
{
    const char *p = data;

    while (len > 0) {
        /* send, not write: a monitor that hung up must not kill the fuzzer with SIGPIPE */
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE; /* the monitor gave up on us: fine */
        p += n;
        len -= n;
    }
    return TRUE;
}

/* Wait for one command line from the monitor; FALSE when it hung up. */
static gboolean
fuzzQmpReadCommand(int fd)
{
    char c;

    for (;;) {
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        if (c == '\n')
            return TRUE;
    }
}

static gpointer
fuzzQmpQemuThread(gpointer data)
{
    fuzzQmpQemu *qemu = data;

    if (!fuzzQmpWrite(qemu->fd, FUZZ_QMP_GREETING, strlen(FUZZ_QMP_GREETING)))
        goto out;
    for (guint i = 0; i < 2; i++) {
        g_autofree char *reply = NULL;

        if (!fuzzQmpReadCommand(qemu->fd))
            goto out;
        /* The monitor numbers its commands qvirt-1, qvirt-2, ... */
        reply = g_strdup_printf("\n{\"return\": {}, \"id\": \"qvirt-%u\"}\n", i + 1);
        if (!fuzzQmpWrite(qemu->fd, qemu->chunks[i], qemu->chunkLens[i]) ||
            !fuzzQmpWrite(qemu->fd, reply, strlen(reply)))
            goto out;
    }
out:
    shutdown(qemu->fd, SHUT_RDWR);
    return NULL;
}

static void
fuzzQmpEvent(qemuMonitor *mon, const char *name, JsonObject *data, gpointer opaque)
{
    fuzzQmpSeen *seen = opaque;

    FUZZ_CHECK(name != NULL, "event without a name");
    if (data)
        json_object_get_size(data); /* must be a live object */
    g_atomic_int_inc(&seen->events);
}

static void
fuzzQmpEof(qemuMonitor *mon, gpointer opaque)
{
    fuzzQmpSeen *seen = opaque;

    g_atomic_int_inc(&seen->eofs);
}

static void
fuzzQmpSession(const guint8 *data, gsize size)
{
    const qemuMonitorCallbacks cb = {.event = fuzzQmpEvent, .eof = fuzzQmpEof};
    fuzzQmpSeen seen = {0};
    fuzzQmpQemu qemu = {0};
    const guint8 *nul = memchr(data, '\0', size);
    g_autoptr(GError) error = NULL;
    qemuMonitor *mon;
    GThread *thread;
    int sv[2];

    qemu.chunks[0] = data;
    qemu.chunkLens[0] = nul ? (gsize)(nul - data) : size;
    qemu.chunks[1] = nul ? nul + 1 : data + size;
    qemu.chunkLens[1] = nul ? size - (gsize)(nul - data) - 1 : 0;

    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s",
               g_strerror(errno));
    qemu.fd = sv[1];
    thread = g_thread_new("fake-qemu", fuzzQmpQemuThread, &qemu);

    /* Every line is answered at once, so these timeouts are only a safety net. */
    mon = qemuMonitorOpenFds(sv[0], sv[0], 5000, &cb, &seen, &error);
    if (!mon) {
        FUZZ_CHECK(error != NULL, "open failed without an error");
        /* On failure the fd is not the monitor's (it was closed with it or not taken). */
    } else {
        g_autoptr(GError) cmdError = NULL;
        g_autoptr(JsonNode) ret = qemuMonitorCommand(mon, "query-status", NULL, 5000, &cmdError);
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        FUZZ_CHECK((ret != NULL) != (cmdError != NULL), "result %p, error %p", (void *)ret,
                   (void *)cmdError);
        if (cmdError)
            FUZZ_CHECK(cmdError->code != QVIR_ERR_OPERATION_TIMEOUT,
                       "timed out although the reply was sent: %s", cmdError->message);

        /* The fake QEMU hangs up after the second reply: the reader must notice. */
        while (!qemuMonitorIsEOF(mon) && g_get_monotonic_time() < deadline)
            g_usleep(100);
        FUZZ_CHECK(qemuMonitorIsEOF(mon), "no EOF after the peer hung up");
        qemuMonitorClose(mon);
        FUZZ_CHECK(g_atomic_int_get(&seen.eofs) == 1, "eof callback ran %d times",
                   g_atomic_int_get(&seen.eofs));
    }

    shutdown(sv[1], SHUT_RDWR);
    g_thread_join(thread);
    close(sv[1]);
}

/*
 * Two json-glib 1.6.6 bugs leak memory on input QEMU never writes, and would stop the
 * fuzzer at once; inputs that reach them are skipped, so LeakSanitizer stays on for
 * every leak of our own:
 *   - a \u escape with fewer than four hex digits after a high surrogate, or a high
 *     surrogate followed by anything but a low one ("\ud83d\u0041", "\ud83#\uee00")
 *     leaks a GString of the scanner;
 *   - a second value after the first ('{"a":1}{"b":{}}', '1 {"a":2}') leaks the
 *     objects parsed after the first.
 * Both are reported to the monitor's owner: qemuMonitorParseLine can refuse such
 * lines before json-glib sees them.
 */
static int
fuzzQmpHexVal(const guint8 *p)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        int d = g_ascii_xdigit_value(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A \u escape without four hex digits, or a high surrogate not followed by a low one. */
static gboolean
fuzzQmpBadEscape(const guint8 *data, gsize size)
{
    for (gsize i = 0; i + 1 < size; i++) {
        int hi, lo;

        if (data[i] != '\\' || data[i + 1] != 'u')
            continue;
        if (i + 6 > size || (hi = fuzzQmpHexVal(data + i + 2)) < 0)
            return TRUE;
        if (hi < 0xd800 || hi > 0xdbff)
            continue;
        if (i + 12 > size || data[i + 6] != '\\' || data[i + 7] != 'u')
            return TRUE;
        lo = fuzzQmpHexVal(data + i + 8);
        if (lo < 0xdc00 || lo > 0xdfff)
            return TRUE;
    }
    return FALSE;
}

/* Does one line (as the reader splits them) hold a container after a first value? */
static gboolean
fuzzQmpSecondValue(const guint8 *line, gsize len)
{
    gboolean inString = FALSE, sawValue = FALSE;
    unsigned int depth = 0;

    for (gsize i = 0; i < len; i++) {
        guint8 c = line[i];

        if (inString) {
            if (c == '\\')
                i++;
            else if (c == '"')
                inString = FALSE;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == 0 && sawValue)
                return TRUE;
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth > 0 && --depth == 0)
                sawValue = TRUE;
        } else if (depth == 0 && !g_ascii_isspace(c)) {
            sawValue = TRUE; /* a top-level scalar (or its first byte) */
            if (c == '"')
                inString = TRUE;
        } else if (c == '"') {
            inString = TRUE;
        }
    }
    return FALSE;
}

static gboolean
fuzzQmpHitsJsonGlibLeak(const guint8 *data, gsize size)
{
    gsize start = 0;

    if (fuzzQmpBadEscape(data, size))
        return TRUE;
    for (gsize i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n' && data[i] != '\0')
            continue;
        if (fuzzQmpSecondValue(data + start, i - start))
            return TRUE;
        start = i + 1;
    }
    return FALSE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || fuzzQmpHitsJsonGlibLeak(data + 1, size - 1))
        return 0;
    if (data[0] & 1)
        fuzzQmpSession(data + 1, size - 1);
    else
        fuzzQmpParseOne((const char *)data + 1, size - 1);
    return 0;
}
