/*
 * remote_conn.h: the REMOTE program from the client's side: qvirtd opening a libvirt URI
 * on another daemon (the destination of a peer-to-peer migration) and calling its
 * procedures, as libvirt's remote driver does inside libvirtd.
 *
 * URIs: DRIVER[+unix]:///PATH?socket=SOCKET (qemu+unix:///system?socket=/run/qvirt/...),
 * the form libvirt's client accepts for a daemon on the same machine, and
 * DRIVER+tcp://[HOST][:PORT]/PATH (localhost and libvirtd's 16509 by default), a daemon
 * listening with listen_tcp and auth_tcp = "none". The transport, the server and the
 * client's parameters are the client's; the server is sent the rest (qemu:///system).
 * libvirt's other transports (tls, the default with a host; ssh, libssh, libssh2, ext) are
 * refused, an unknown one with libvirt's error.
 */
#pragma once

#include <glib.h>

#include "rpc/rpc_conn.h"

/* Connect to URI's daemon and open the connection (CONNECT_OPEN, read-write). */
qvirRpcConn *qvirRemoteConnOpen(const char *uri, GError **error);

/* Call the REMOTE procedure PROC: ARGS and RET are instances of its _args and _ret types
 * (remote_protocol.x), RET all zero; as qvirRpcConnCall. */
gboolean qvirRemoteConnCall(qvirRpcConn *conn, gint32 proc, gconstpointer args, gpointer ret,
                            GError **error);

/* CONNECT_SUPPORTS_FEATURE: 1 or 0, -1 with ERROR set. */
int qvirRemoteConnSupportsFeature(qvirRpcConn *conn, int feature, GError **error);

/* CONNECT_CLOSE (its failure is of no consequence: the socket closes anyway), then free. */
void qvirRemoteConnClose(qvirRpcConn *conn);
