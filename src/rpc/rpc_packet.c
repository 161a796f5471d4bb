/*
 * rpc_packet.c: packet framing and the error body.
 */
#include "rpc/rpc_packet.h"

#include "rpc/rpc_proc.h"

#include <string.h>

#include "util/virerror.h"

#define QVIR_RPC_ERROR_MESSAGE_MAX 65536

void
qvirRpcErrorClear(qvirRpcError *err)
{
    qvirXdrClear(&virNetMessageError_type, err);
}

void
qvirRpcErrorFree(qvirRpcError *err)
{
    if (!err)
        return;
    qvirRpcErrorClear(err);
    g_free(err);
}

gboolean
qvirRpcPacketCheckLength(guint32 length, GError **error)
{
    if (length < QVIR_RPC_PACKET_MIN) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "packet length %u is below the minimum of %u",
                    length, QVIR_RPC_PACKET_MIN);
        return FALSE;
    }
    if (length > QVIR_RPC_PACKET_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "packet length %u exceeds the maximum of %u",
                    length, QVIR_RPC_PACKET_MAX);
        return FALSE;
    }
    return TRUE;
}

gboolean
qvirRpcHeaderDecode(qvirXdrReader *rd, qvirRpcHeader *hdr, GError **error)
{
    memset(hdr, 0, sizeof(*hdr));
    return qvirXdrDecode(rd, &virNetMessageHeader_type, hdr, error);
}

GByteArray *
qvirRpcPacketStart(const qvirRpcHeader *hdr)
{
    GByteArray *pkt = g_byte_array_sized_new(256);

    qvirXdrWriteU32(pkt, 0);
    /* a header has no string or array that could exceed a limit */
    qvirXdrEncode(pkt, &virNetMessageHeader_type, hdr, NULL);
    return pkt;
}

gboolean
qvirRpcPacketFinish(GByteArray *pkt, GError **error)
{
    if (pkt->len > QVIR_RPC_PACKET_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC,
                    "message of %u bytes exceeds the maximum of %u", pkt->len, QVIR_RPC_PACKET_MAX);
        return FALSE;
    }
    qvirXdrPatchU32(pkt, 0, pkt->len);
    return TRUE;
}

GByteArray *
qvirRpcPacketNewKeepAlive(int procedure)
{
    const qvirRpcHeader hdr = {
        .program = QVIR_RPC_KEEPALIVE_PROGRAM,
        .version = QVIR_RPC_KEEPALIVE_VERSION,
        .procedure = procedure,
        .type = QVIR_RPC_MESSAGE,
        .serial = 0,
        .status = QVIR_RPC_STATUS_OK,
    };
    GByteArray *pkt = qvirRpcPacketStart(&hdr);

    qvirXdrPatchU32(pkt, 0, pkt->len);
    return pkt;
}

GByteArray *
qvirRpcPacketNewPong(void)
{
    return qvirRpcPacketNewKeepAlive(QVIR_RPC_KEEPALIVE_PROC_PONG);
}

void
qvirRpcHeaderForReply(const qvirRpcHeader *call, qvirRpcStatus status, qvirRpcHeader *reply)
{
    *reply = *call;
    reply->type = QVIR_RPC_REPLY;
    reply->status = status;
}

void
qvirRpcErrorEncode(GByteArray *buf, int code, int errDomain, const char *message)
{
    /* libvirt puts the message into str1 as well; some clients print it. */
    const qvirRpcError body = {
        .code = code,
        .domain = errDomain,
        .message = (char *)message,
        .level = QVIR_RPC_ERR_LEVEL_ERROR,
        .str1 = (char *)message,
    };
    g_autoptr(GError) err = NULL;

    /* The message is cut below the string limit (qvirRpcErrorEncodeGError). */
    if (!qvirXdrEncode(buf, &virNetMessageError_type, &body, &err))
        g_error("cannot encode an error body: %s", err->message);
}

/*
 * The prefix ERR's message takes on the wire. libvirt's argument checks
 * (virReportInvalidNonNullArg and its kin: "value in virSecretSetValue must not be NULL")
 * raise INVALID_ARG without virErrorMsg's template, so those keep their bare text.
 */
static const char *
qvirErrorWirePrefix(const GError *err)
{
    if (err->code == QVIR_ERR_INVALID_ARG &&
        g_regex_match_simple("^\\w+ in \\w+ must ", err->message, 0, 0))
        return NULL;
    return qvirErrorCodePrefix(err->code);
}

void
qvirRpcErrorEncodeGError(GByteArray *buf, const GError *err, int errDomain)
{
    g_autofree char *msg = NULL;
    int code;

    if (err->domain == QVIR_ERROR && err->code > 0) {
        const char *prefix = qvirErrorWirePrefix(err);

        code = err->code;
        /* Every error reaches the client in libvirt's form "PREFIX: detail", as
         * virReportError builds it from the code, wherever in qvirt it was raised. */
        msg = prefix && !g_str_has_prefix(err->message, prefix)
                  ? g_strconcat(prefix, err->message, NULL)
                  : g_strdup(err->message);
    } else {
        code = QVIR_ERR_INTERNAL_ERROR;
        msg = g_strdup_printf("internal error: %s", err->message);
    }
    /* An error message cannot itself overflow the packet: cut it well short, and on a
     * character boundary, since clients decode it as UTF-8. */
    if (strlen(msg) > QVIR_RPC_ERROR_MESSAGE_MAX) {
        gsize cut = QVIR_RPC_ERROR_MESSAGE_MAX;

        while (cut > 0 && ((guchar)msg[cut] & 0xC0) == 0x80)
            cut--;
        msg[cut] = '\0';
    }
    qvirRpcErrorEncode(buf, code, errDomain, msg);
}

GByteArray *
qvirRpcPacketNewError(const qvirRpcHeader *call, const GError *err, int errDomain)
{
    qvirRpcHeader hdr;
    GByteArray *pkt;

    qvirRpcHeaderForReply(call, QVIR_RPC_STATUS_ERROR, &hdr);
    pkt = qvirRpcPacketStart(&hdr);
    qvirRpcErrorEncodeGError(pkt, err, errDomain);
    qvirXdrPatchU32(pkt, 0, pkt->len);
    return pkt;
}

gboolean
qvirRpcErrorDecode(qvirXdrReader *rd, qvirRpcError *err, GError **error)
{
    return qvirXdrDecode(rd, &virNetMessageError_type, err, error);
}

/* Most arguments and return values are a few words: they live on the stack. */
typedef union {
    guint64 align;
    gpointer ptr;
    double d;
    guint8 bytes[256];
} qvirRpcSmallBuf;

static gpointer
qvirRpcValueNew(const qvirXdrType *type, qvirRpcSmallBuf *small)
{
    if (!type)
        return NULL;
    if (type->size <= sizeof(*small)) {
        memset(small, 0, type->size);
        return small;
    }
    return g_malloc0(type->size);
}

static void
qvirRpcValueFree(const qvirXdrType *type, gpointer val, qvirRpcSmallBuf *small)
{
    if (!type)
        return;
    qvirXdrClear(type, val);
    if (val != (gpointer)small)
        g_free(val);
}

gboolean
qvirRpcProcedureCall(const qvirRpcProcedure *proc, gpointer ctx, qvirXdrReader *rd,
                     GByteArray *reply, GError **error)
{
    qvirRpcSmallBuf argsBuf, retBuf;
    gpointer args = qvirRpcValueNew(proc->args, &argsBuf);
    gpointer ret = qvirRpcValueNew(proc->ret, &retBuf);
    gboolean ok = FALSE;

    if ((!args || qvirXdrDecode(rd, proc->args, args, error)) && qvirXdrReaderCheckEnd(rd, error))
        ok = proc->handler(ctx, args, ret, error) &&
             (!ret || qvirXdrEncode(reply, proc->ret, ret, error));
    qvirRpcValueFree(proc->args, args, &argsBuf);
    qvirRpcValueFree(proc->ret, ret, &retBuf);
    return ok;
}
