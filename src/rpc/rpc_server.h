/*
 * rpc_server.h: a libvirt-protocol server on a GLib main loop.
 *
 * The server accepts clients on unix sockets (and TCP), frames their packets, answers
 * keepalive PINGs and hands every CALL of its one program to that program's
 * dispatch function: cheap connection-level calls run on the main loop,
 * everything else on a GThreadPool, so a call waiting on a slow QEMU never
 * stalls another client. Replies go out in the order their calls arrived,
 * and every CALL gets a REPLY (an error one when dispatch fails). Stream packets
 * go to the stream their call opened (rpc_stream.h). Packets that cannot be framed
 * (bad length, other types) close the connection.
 *
 * All server and client functions except the dispatch callback run in the
 * thread that owns the main context the server was created in.
 */
#pragma once

#include <glib.h>

#include "rpc/rpc_packet.h"

typedef struct _qvirRpcServer qvirRpcServer;
typedef struct _qvirRpcClient qvirRpcClient;

/* At most this many calls of one client are in flight; reading from the client
 * pauses until one completes (libvirt's max_client_requests). */
#define QVIR_RPC_CLIENT_MAX_REQUESTS 8
/* Reading also pauses while this many bytes of replies wait for the client. */
#define QVIR_RPC_CLIENT_MAX_UNREAD (4u * 1024 * 1024)

typedef struct {
    guint32 program;
    guint32 version;
    /* virErrorDomain reported with dispatch errors (RPC errors use QVIR_FROM_RPC). */
    int errDomain;
    /* Optional: the virErrorDomain of the errors of PROGRAM's PROC when it is not
     * errDomain (libvirt's storage and secret APIs report their own); 0: errDomain. */
    int (*errDomainOf)(guint32 program, gint32 proc);
    /* TRUE: dispatch PROC on the main loop, before any later packet of the
     * client is looked at (connection open/close, features, ...). */
    gboolean (*runInline)(gint32 proc);
    /* Optional: TRUE for another PROGRAM/VERSION whose calls DISPATCH serves too (libvirt's
     * QEMU program beside REMOTE); they always run on a worker and have no streams. */
    gboolean (*acceptsProgram)(guint32 program, guint32 version);
    /* Decode ARGS, do the call, append the XDR return value to REPLY. Runs in a
     * worker thread unless runInline said so. FALSE with ERROR set sends an error
     * reply (REPLY's contents are then discarded). */
    gboolean (*dispatch)(gpointer opaque, qvirRpcClient *client, const qvirRpcHeader *hdr,
                         qvirXdrReader *args, GByteArray *reply, GError **error);
    gpointer opaque;
    /* Per-client private data, created on connect and freed with the client. */
    gpointer (*clientNew)(gpointer opaque);
    GDestroyNotify clientFree;
} qvirRpcProgram;

/* MAXWORKERS: threads dispatching calls concurrently. Attaches to the
 * thread-default main context. */
qvirRpcServer *qvirRpcServerNew(const qvirRpcProgram *prog, guint maxWorkers);

/*
 * Listen on PATH with mode 0600 (bound under a temporary name, then renamed,
 * so the socket is never reachable with looser permissions). A stale socket
 * file is replaced; a live one (another server answering) is an error.
 */
gboolean qvirRpcServerAddUnixSocket(qvirRpcServer *srv, const char *path, GError **error);

/*
 * The same, READONLY choosing the kind: a read-write socket (mode 0600) admits
 * only peers whose SO_PEERCRED uid is 0 or the daemon's own euid, and closes any
 * other connection at once (logged); a read-only one (mode 0666) admits everyone,
 * and its clients answer TRUE to qvirRpcClientIsReadOnly().
 */
gboolean qvirRpcServerAddUnixSocketFull(qvirRpcServer *srv, const char *path, gboolean readOnly,
                                        GError **error);

/*
 * Listen on TCP PORT of ADDR (a numeric address or a host name, every address it resolves
 * to; NULL: every interface, IPv4 and IPv6), libvirtd's listen_tcp with auth_tcp = "none":
 * the clients are read-write, nobody is asked who they are. BOUND (optional) receives the
 * addresses listened on, as strings. All or nothing: on failure nothing listens.
 */
gboolean qvirRpcServerAddTCP(qvirRpcServer *srv, const char *addr, guint port, GPtrArray *bound,
                             GError **error);

/* Clients currently connected (for tests and logging). */
guint qvirRpcServerNumClients(qvirRpcServer *srv);

/* Stop listening (removing the socket files), drop every client, wait for the
 * calls still running, free everything. */
void qvirRpcServerFree(qvirRpcServer *srv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirRpcServer, qvirRpcServerFree);

/* TRUE when CLIENT came in on a read-only socket: the program must then refuse
 * every call that changes something, whatever the client asked for. Safe from
 * worker threads (fixed before the first call). */
gboolean qvirRpcClientIsReadOnly(qvirRpcClient *client);

/* The program's per-client data (from clientNew). Safe from worker threads. */
gpointer qvirRpcClientGetPrivate(qvirRpcClient *client);

/*
 * Keep CLIENT beyond the call that named it (event registrations), from any thread.
 * A held client may be closed meanwhile (the peer went away or the server stopped):
 * it then stays valid memory but takes no more messages.
 */
qvirRpcClient *qvirRpcClientHold(qvirRpcClient *client);
void qvirRpcClientRelease(qvirRpcClient *client);
gboolean qvirRpcClientIsClosed(qvirRpcClient *client);

/*
 * Send CLIENT an asynchronous MESSAGE packet of the server's program (serial 0, status
 * OK: libvirt's events) with PROCEDURE and BODY (copied). Safe from any thread; the packet goes out
 * from the main loop between two whole packets. Dropped if the client is closed.
 */
void qvirRpcClientSendMessage(qvirRpcClient *client, gint32 procedure, const GByteArray *body);
