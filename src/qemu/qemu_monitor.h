/*
 * qemu_monitor.h: a QMP client.
 *
 * One reader thread per monitor reads QMP lines: replies wake the caller waiting in
 * qemuMonitorCommand(), events go to the event callback, end of stream to the eof
 * callback (both called from the reader thread, never with the monitor's lock held).
 * Commands are synchronous with a timeout, so a stuck QEMU blocks only the caller
 * that talks to it, never the daemon's other clients.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct _qemuMonitor qemuMonitor;

typedef struct {
    /* An asynchronous QMP event: name ("BLOCK_JOB_COMPLETED"), its "data" object (may be
     * NULL). */
    void (*event)(qemuMonitor *mon, const char *name, JsonObject *data, gpointer opaque);
    /* The connection ended (QEMU exited or crashed). Called once. */
    void (*eof)(qemuMonitor *mon, gpointer opaque);
} qemuMonitorCallbacks;

#define QEMU_MONITOR_DEFAULT_TIMEOUT_MS 30000

/*
 * Connect to a QMP unix socket (retrying until timeoutMs while QEMU creates it), read the
 * greeting and negotiate capabilities. CB may be NULL.
 */
qemuMonitor *qemuMonitorOpenUnix(const char *path, unsigned int timeoutMs,
                                 const qemuMonitorCallbacks *cb, gpointer opaque, GError **error);
/* The same over an already connected stream: read from RFD, write to WFD (may be equal).
 * The monitor owns the fds. */
qemuMonitor *qemuMonitorOpenFds(int rfd, int wfd, unsigned int timeoutMs,
                                const qemuMonitorCallbacks *cb, gpointer opaque, GError **error);

/* Stop the reader thread, close the connection, free. No callback runs after it returns. */
void qemuMonitorClose(qemuMonitor *mon);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuMonitor, qemuMonitorClose);

/*
 * Run COMMAND with ARGS (borrowed; may be NULL) and return its "return" value (a new
 * reference; an empty object when QEMU returned {}). A QMP error becomes a GError with
 * QEMU's "desc" as message (QVIR_ERR_INTERNAL_ERROR, or QVIR_ERR_OPERATION_FAILED);
 * no reply in timeoutMs gives QVIR_ERR_OPERATION_TIMEOUT; a closed connection
 * QVIR_ERR_OPERATION_FAILED ("QEMU monitor connection closed").
 */
JsonNode *qemuMonitorCommand(qemuMonitor *mon, const char *command, JsonObject *args,
                             unsigned int timeoutMs, GError **error);

/* Same, passing FD (borrowed) to QEMU with the command (SCM_RIGHTS), as "getfd" and
 * "add-fd" expect. */
JsonNode *qemuMonitorCommandWithFd(qemuMonitor *mon, const char *command, JsonObject *args, int fd,
                                   unsigned int timeoutMs, GError **error);
/* Same, but the whole reply object ("return" or "error", and "id"), as QEMU sent it:
 * virsh qemu-monitor-command passes QEMU's errors on as its answer. */
JsonObject *qemuMonitorCommandReply(qemuMonitor *mon, const char *command, JsonObject *args,
                                    unsigned int timeoutMs, GError **error);
/* Same, taking ownership of ARGS (convenience for builders). */
JsonNode *qemuMonitorCommandSteal(qemuMonitor *mon, const char *command, JsonObject *args,
                                  unsigned int timeoutMs, GError **error);

/* Parse one QMP line (used by the reader; exposed for tests and fuzzing). Returns the
 * object or NULL with error for anything that is not a JSON object. */
JsonObject *qemuMonitorParseLine(const char *line, gsize len, GError **error);

/* TRUE once the connection has ended (no more replies or events will come). */
gboolean qemuMonitorIsEOF(qemuMonitor *mon);
/* The QMP greeting ({"QMP": {"version": ...}}), a new reference. */
JsonObject *qemuMonitorGetGreeting(qemuMonitor *mon);
