/*
 * rpc_conn.h: the client side of libvirt's RPC: a connection to a daemon over a unix
 * socket or TCP, one call at a time, blocking. qvirtd uses it to talk to another daemon (the
 * destination of a peer-to-peer migration) from one of its worker threads.
 *
 * A call is a CALL packet (program, version, procedure, serial) with the XDR arguments;
 * its answer is the REPLY with that serial: the return value, or a virNetMessageError that
 * becomes a GError of QVIR_ERROR with the remote code and message, so the daemon's own
 * client sees what the other daemon said. Keepalive PINGs are answered and event
 * MESSAGEs skipped while waiting. A connection whose stream can no longer be trusted
 * (a write or read failed, a packet did not frame) refuses every later call.
 *
 * Not thread-safe: one thread uses a connection at a time.
 */
#pragma once

#include <glib.h>

#include "rpc/rpc_packet.h"

typedef struct _qvirRpcConn qvirRpcConn;

/* Connect to the server on the unix socket PATH that speaks PROGRAM/VERSION. The errors
 * are libvirt's ("Failed to connect socket to 'PATH': No such file or directory"). */
qvirRpcConn *qvirRpcConnOpenUnix(const char *path, guint32 program, guint32 version,
                                 GError **error);

/* Connect to HOST (a name or a numeric address) on TCP port SERVICE, libvirt's errors
 * ("unable to connect to server at 'HOST:PORT': Connection refused"). */
qvirRpcConn *qvirRpcConnOpenTCP(const char *host, const char *service, guint32 program,
                                guint32 version, GError **error);

/*
 * Keepalive as libvirt's virConnectSetKeepAlive: after INTERVAL seconds without a packet
 * from the server a PING goes out, at most COUNT of them INTERVAL apart; when the server
 * stays silent INTERVAL * (COUNT + 1) seconds the connection is broken ("connection
 * closed due to keepalive timeout") and every call fails. It runs while a call waits and
 * each time qvirRpcConnIsAlive is asked. INTERVAL <= 0: off (the default).
 */
void qvirRpcConnSetKeepAlive(qvirRpcConn *conn, int interval, guint count);

/*
 * Call PROCEDURE with ARGS (an instance of ARGSTYPE; NULL type: no arguments) and decode
 * the return value into RET (all zero, an instance of RETTYPE; NULL type: none expected).
 * FALSE with ERROR set when the call failed, remotely or on the way; RET is then all zero.
 */
gboolean qvirRpcConnCall(qvirRpcConn *conn, gint32 procedure, const qvirXdrType *argsType,
                         gconstpointer args, const qvirXdrType *retType, gpointer ret,
                         GError **error);

/* FALSE once a call failed on the way, the server closed its end or the keepalive gave
 * up. Takes the keepalive messages that arrived and sends a PING when one is due, without
 * waiting for the server: a poll loop may (and, for keepalive, should) ask often. A call's
 * remote error leaves it alive. */
gboolean qvirRpcConnIsAlive(qvirRpcConn *conn);

void qvirRpcConnFree(qvirRpcConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirRpcConn, qvirRpcConnFree);
