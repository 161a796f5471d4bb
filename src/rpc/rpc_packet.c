/*
 * rpc_packet.c: packet framing and the error body.
 */
#include "rpc/rpc_packet.h"

#include <string.h>

#include "util/virerror.h"

#define QVIR_RPC_ERROR_MESSAGE_MAX 65536

void
qvirRpcErrorFree(qvirRpcError *err)
{
    if (!err)
        return;
    g_free(err->message);
    g_free(err->str1);
    g_free(err->str2);
    g_free(err->str3);
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
    return qvirXdrReadU32(rd, &hdr->program, error) && qvirXdrReadU32(rd, &hdr->version, error) &&
           qvirXdrReadInt(rd, &hdr->procedure, error) && qvirXdrReadU32(rd, &hdr->type, error) &&
           qvirXdrReadU32(rd, &hdr->serial, error) && qvirXdrReadU32(rd, &hdr->status, error);
}

GByteArray *
qvirRpcPacketStart(const qvirRpcHeader *hdr)
{
    GByteArray *pkt = g_byte_array_sized_new(256);

    qvirXdrWriteU32(pkt, 0);
    qvirXdrWriteU32(pkt, hdr->program);
    qvirXdrWriteU32(pkt, hdr->version);
    qvirXdrWriteInt(pkt, hdr->procedure);
    qvirXdrWriteU32(pkt, hdr->type);
    qvirXdrWriteU32(pkt, hdr->serial);
    qvirXdrWriteU32(pkt, hdr->status);
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
    qvirXdrWriteInt(buf, code);
    qvirXdrWriteInt(buf, errDomain);
    qvirXdrWriteOptString(buf, message);
    qvirXdrWriteInt(buf, QVIR_RPC_ERR_LEVEL_ERROR);
    qvirXdrWriteBool(buf, FALSE); /* dom */
    /* libvirt puts the message into str1 as well; some clients print it. */
    qvirXdrWriteOptString(buf, message);
    qvirXdrWriteOptString(buf, NULL);
    qvirXdrWriteOptString(buf, NULL);
    qvirXdrWriteInt(buf, 0);
    qvirXdrWriteInt(buf, 0);
    qvirXdrWriteBool(buf, FALSE); /* net */
}

GByteArray *
qvirRpcPacketNewError(const qvirRpcHeader *call, const GError *err, int errDomain)
{
    qvirRpcHeader hdr;
    GByteArray *pkt;
    g_autofree char *msg = NULL;
    int code;

    qvirRpcHeaderForReply(call, QVIR_RPC_STATUS_ERROR, &hdr);
    pkt = qvirRpcPacketStart(&hdr);

    if (err->domain == QVIR_ERROR && err->code > 0) {
        code = err->code;
        msg = g_strdup(err->message);
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
    qvirRpcErrorEncode(pkt, code, errDomain, msg);
    qvirXdrPatchU32(pkt, 0, pkt->len);
    return pkt;
}

static gboolean
qvirRpcSkipOptNamedObject(qvirXdrReader *rd, gboolean withId, GError **error)
{
    gboolean present;
    g_autofree char *name = NULL;
    guint8 uuid[QVIR_XDR_UUID_LEN];
    gint32 id;

    if (!qvirXdrReadBool(rd, &present, error))
        return FALSE;
    if (!present)
        return TRUE;
    if (!qvirXdrReadString(rd, QVIR_XDR_STRING_MAX, &name, error) ||
        !qvirXdrReadFixedOpaque(rd, uuid, sizeof(uuid), error))
        return FALSE;
    return !withId || qvirXdrReadInt(rd, &id, error);
}

gboolean
qvirRpcErrorDecode(qvirXdrReader *rd, qvirRpcError *err, GError **error)
{
    return qvirXdrReadInt(rd, &err->code, error) && qvirXdrReadInt(rd, &err->domain, error) &&
           qvirXdrReadOptString(rd, QVIR_XDR_STRING_MAX, &err->message, error) &&
           qvirXdrReadInt(rd, &err->level, error) && qvirRpcSkipOptNamedObject(rd, TRUE, error) &&
           qvirXdrReadOptString(rd, QVIR_XDR_STRING_MAX, &err->str1, error) &&
           qvirXdrReadOptString(rd, QVIR_XDR_STRING_MAX, &err->str2, error) &&
           qvirXdrReadOptString(rd, QVIR_XDR_STRING_MAX, &err->str3, error) &&
           qvirXdrReadInt(rd, &err->int1, error) && qvirXdrReadInt(rd, &err->int2, error) &&
           qvirRpcSkipOptNamedObject(rd, FALSE, error);
}
