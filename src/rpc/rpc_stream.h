/*
 * rpc_stream.h: libvirt's data streams (virnetprotocol.x) on a connection of the server.
 *
 * A stream belongs to the CALL that opened it (volume upload or download, a console):
 * its packets carry that call's program, procedure and serial, type STREAM with raw bytes
 * (status CONTINUE: data; OK: the end; ERROR: an abort, or from the server an error
 * body), or type STREAM_HOLE with a virNetStreamHole (a hole of a sparse stream, only
 * when the call allowed them). The flow, as libvirt's daemon runs it:
 *
 *   client -> server (upload)      server -> client (download)
 *   CONTINUE data ...              CONTINUE data ..., HOLE ..., CONTINUE empty (EOF)
 *   OK: finish; the server         ERROR + error body: the source failed
 *     confirms with OK, or
 *     answers a REPLY ERROR        and either side: the client's OK (finish) or ERROR
 *   ERROR: abort; confirmed          (abort), confirmed with OK as on the left
 *     with OK
 *
 * Data the client sends for a sink that fails, and a finish that fails, get the error as
 * a REPLY with status ERROR (and the stream is over). A hole that was not allowed, or one
 * that does not decode, closes the connection. Stream packets nothing is waiting for (a
 * stream already over, a serial never opened) are dropped, as libvirt does: the client
 * may send data before it learns that the stream ended.
 */
#pragma once

#include <glib.h>

#include "rpc/rpc_server.h"

typedef struct _qvirRpcStream qvirRpcStream;

/*
 * What becomes of the bytes the client sends. Each runs in the server's main loop, in
 * the order the packets came, so it must not block for long; FALSE with ERROR set ends
 * the stream (the client gets the error). After finish or abort none runs again.
 */
typedef struct {
    /* DATA of a STREAM CONTINUE packet; NULL: the stream takes no data. */
    gboolean (*data)(gpointer opaque, const guint8 *data, gsize len, GError **error);
    /* A hole of LENGTH bytes; NULL: holes are refused. */
    gboolean (*hole)(gpointer opaque, gint64 length, guint flags, GError **error);
    /* The client is done (STREAM OK): complete the transfer. NULL: nothing to do. */
    gboolean (*finish)(gpointer opaque, GError **error);
    /* The stream ends without finish: the client aborted, its data could not be taken,
     * its call failed, or the connection went away. NULL: nothing to do. */
    void (*abort)(gpointer opaque);
} qvirRpcStreamFuncs;

/*
 * Open a stream on CLIENT for CALL, from the program's dispatch (any thread): as the last
 * thing the handler does, since the client's packets may reach FUNCS at once. Packets of
 * the server go out only after CALL's reply; if that reply is an error, the stream is
 * aborted. HOLES: the client may send STREAM_HOLE. OPAQUE goes to FUNCS and is freed with
 * OPAQUEFREE when the last reference goes. The caller owns the reference returned.
 */
qvirRpcStream *qvirRpcStreamOpen(qvirRpcClient *client, const qvirRpcHeader *call,
                                 const qvirRpcStreamFuncs *funcs, gpointer opaque,
                                 GDestroyNotify opaqueFree, gboolean holes);

qvirRpcStream *qvirRpcStreamRef(qvirRpcStream *st);
void qvirRpcStreamUnref(qvirRpcStream *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirRpcStream, qvirRpcStreamUnref);

/* The stream is over (finished, aborted, failed, or its connection is gone). Any thread. */
gboolean qvirRpcStreamIsClosed(qvirRpcStream *st);

/*
 * Sending, from any thread (typically one that reads the source). Each call blocks while
 * more than QVIR_RPC_STREAM_WINDOW bytes of the stream wait for the client's socket, so a
 * fast source never outruns a slow client; each fails once the stream is over.
 */
#define QVIR_RPC_STREAM_WINDOW (1024u * 1024)

/* DATA, in packets of at most VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX bytes. */
gboolean qvirRpcStreamSendData(qvirRpcStream *st, const guint8 *data, gsize len, GError **error);
/* A hole of LENGTH bytes (the stream must have been opened with HOLES). */
gboolean qvirRpcStreamSendHole(qvirRpcStream *st, gint64 length, guint flags, GError **error);
/* The end of the data: an empty CONTINUE. The client then finishes (or aborts). */
gboolean qvirRpcStreamSendEOF(qvirRpcStream *st, GError **error);
/* The source failed: a STREAM ERROR carrying ERR, and the stream is over. */
void qvirRpcStreamSendError(qvirRpcStream *st, const GError *err);
