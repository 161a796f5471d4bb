/*
 * rpc_packet.h: libvirt's RPC packet framing (virnetprotocol.x).
 *
 *   u32 length      whole packet, this word included
 *   u32 program     REMOTE 0x20008086, keepalive 0x6b656570
 *   u32 version     1 for both
 *   i32 procedure
 *   u32 type        CALL 0, REPLY 1, MESSAGE 2, STREAM 3, ...
 *   u32 serial      echoed in the reply
 *   u32 status      OK 0, ERROR 1, CONTINUE 2
 *   XDR body        arguments, return value, or a virNetMessageError
 */
#pragma once

#include <glib.h>

#include "rpc/virnet_protocol.h"
#include "rpc/xdr.h"

#define QVIR_RPC_LEN_SIZE ((guint32)VIR_NET_MESSAGE_LEN_MAX)
#define QVIR_RPC_HEADER_SIZE ((guint32)VIR_NET_MESSAGE_HEADER_MAX)
/* The largest packet, length word included: libvirt 9.0 allows VIR_NET_MESSAGE_MAX
 * (32 MiB of header and payload) plus the length word. */
#define QVIR_RPC_PACKET_MAX ((guint32)VIR_NET_MESSAGE_MAX + QVIR_RPC_LEN_SIZE)
#define QVIR_RPC_PACKET_MIN (QVIR_RPC_LEN_SIZE + QVIR_RPC_HEADER_SIZE)

#define QVIR_RPC_REMOTE_PROGRAM 0x20008086u
#define QVIR_RPC_REMOTE_VERSION 1u
#define QVIR_RPC_KEEPALIVE_PROGRAM 0x6b656570u
#define QVIR_RPC_KEEPALIVE_VERSION 1u
#define QVIR_RPC_KEEPALIVE_PROC_PING 1
#define QVIR_RPC_KEEPALIVE_PROC_PONG 2

typedef enum {
    QVIR_RPC_CALL = VIR_NET_CALL,
    QVIR_RPC_REPLY = VIR_NET_REPLY,
    QVIR_RPC_MESSAGE = VIR_NET_MESSAGE,
    QVIR_RPC_STREAM = VIR_NET_STREAM,
    QVIR_RPC_CALL_WITH_FDS = VIR_NET_CALL_WITH_FDS,
    QVIR_RPC_REPLY_WITH_FDS = VIR_NET_REPLY_WITH_FDS,
    QVIR_RPC_STREAM_HOLE = VIR_NET_STREAM_HOLE,
} qvirRpcType;

typedef enum {
    QVIR_RPC_STATUS_OK = VIR_NET_OK,
    QVIR_RPC_STATUS_ERROR = VIR_NET_ERROR,
    QVIR_RPC_STATUS_CONTINUE = VIR_NET_CONTINUE,
} qvirRpcStatus;

/* program, version, procedure, type, serial, status (virnet_protocol.x) */
typedef virNetMessageHeader qvirRpcHeader;

/* virErrorLevel */
#define QVIR_RPC_ERR_LEVEL_ERROR 2

/* The error body of a REPLY or STREAM with status ERROR. */
typedef virNetMessageError qvirRpcError;

void qvirRpcErrorClear(qvirRpcError *err);
void qvirRpcErrorFree(qvirRpcError *err);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirRpcError, qvirRpcErrorFree);

/*
 * Check the length word at the start of a packet: FALSE with an error when it
 * is below the header size or above QVIR_RPC_PACKET_MAX (the connection must
 * then be dropped, since the stream can no longer be framed).
 */
gboolean qvirRpcPacketCheckLength(guint32 length, GError **error);

/* Decode the header of a packet body (the bytes after the length word). */
gboolean qvirRpcHeaderDecode(qvirXdrReader *rd, qvirRpcHeader *hdr, GError **error);

/* Start a packet: a placeholder length word and HDR. Append the body (qvirXdrEncode or
 * raw bytes), then call qvirRpcPacketFinish. */
GByteArray *qvirRpcPacketStart(const qvirRpcHeader *hdr);
/* Fill in the length word; FALSE when the packet is over the protocol maximum. */
gboolean qvirRpcPacketFinish(GByteArray *pkt, GError **error);

/* A complete keepalive PING or PONG (QVIR_RPC_KEEPALIVE_PROC_*) message. */
GByteArray *qvirRpcPacketNewKeepAlive(int procedure);
/* A complete keepalive PONG (the answer to a PING, from either side). */
GByteArray *qvirRpcPacketNewPong(void);

/* The reply header for a CALL: same program/version/procedure/serial. */
void qvirRpcHeaderForReply(const qvirRpcHeader *call, qvirRpcStatus status, qvirRpcHeader *reply);

/*
 * A complete error REPLY to CALL carrying ERR. Codes of the QVIR_ERROR domain go
 * on the wire unchanged (they are libvirt's virErrorNumber); other GErrors become
 * INTERNAL_ERROR. ERRDOMAIN is the virErrorDomain to report (qvirErrorFrom).
 */
GByteArray *qvirRpcPacketNewError(const qvirRpcHeader *call, const GError *err, int errDomain);

/* Append a virNetMessageError body: ERR's code and message as qvirRpcPacketNewError puts
 * them. */
void qvirRpcErrorEncodeGError(GByteArray *buf, const GError *err, int errDomain);
/* Append a virNetMessageError body. */
void qvirRpcErrorEncode(GByteArray *buf, int code, int errDomain, const char *message);
/* Decode one into ERR (all zero; qvirRpcErrorClear frees it). */
gboolean qvirRpcErrorDecode(qvirXdrReader *rd, qvirRpcError *err, GError **error);
