/*
 * rpc_server_priv.h: what the server's connection code (rpc_server.c) and its streams
 * (rpc_stream.c) share. Not for programs: they use rpc_server.h and rpc_stream.h.
 */
#pragma once

#include <gio/gio.h>

#include "rpc/rpc_server.h"
#include "rpc/rpc_stream.h"

typedef struct _qvirRpcCall qvirRpcCall;

struct _qvirRpcClient {
    gint refs;
    qvirRpcServer *srv; /* NULL once the server let go of it */
    GSocket *sock;
    GSource *inSource;  /* NULL while reading is paused or closed */
    GSource *outSource; /* NULL unless a write is pending */
    GByteArray *rx;     /* received bytes not yet framed */
    GByteArray *tx;     /* framed replies not yet written */
    gsize txOff;
    GQueue calls;      /* qvirRpcCall, in arrival order */
    gint closed;       /* written on the main loop only; read anywhere with g_atomic */
    GMainContext *ctx; /* the server's, kept for messages sent from other threads */
    guint32 program;   /* the server's program and version, for those messages */
    guint32 version;
    int errDomain; /* the program's, for the error bodies of streams */
    gpointer priv;
    GDestroyNotify privFree;
    gboolean readOnly;  /* came in on a read-only socket; set before any call runs */
    GMutex streamLock;  /* guards STREAMS: streams open from worker threads */
    GPtrArray *streams; /* qvirRpcStream, one reference each, until they are over */
};

/* rpc_server.c, for the streams (main loop unless said otherwise) */
qvirRpcClient *qvirRpcClientRef(qvirRpcClient *client); /* any thread */
void qvirRpcClientUnref(qvirRpcClient *client);         /* any thread */
void qvirRpcClientQueuePacket(qvirRpcClient *client, const GByteArray *pkt);
/* Bytes queued for the socket and not written yet. */
gsize qvirRpcClientPending(const qvirRpcClient *client);
void qvirRpcClientWrite(qvirRpcClient *client);
/* Run FUNC(DATA) on CTX's loop, always later. Any thread. */
void qvirRpcRunLater(GMainContext *ctx, GSourceFunc func, gpointer data);

/* rpc_stream.c, for the server (main loop) */
/* A STREAM or STREAM_HOLE packet of the client (BODY after the header); FALSE: close the
 * connection. */
gboolean qvirRpcStreamsHandlePacket(qvirRpcClient *client, const qvirRpcHeader *hdr,
                                    const guint8 *body, gsize len);
/* The reply to CALL has been queued (OK: successfully): its streams may send, or are over. */
void qvirRpcStreamsCallDone(qvirRpcClient *client, const qvirRpcHeader *call, gboolean ok);
/* The socket took what was queued: streams may send more. */
void qvirRpcStreamsFlush(qvirRpcClient *client);
/* The connection is gone: every stream is over. */
void qvirRpcStreamsClose(qvirRpcClient *client);
