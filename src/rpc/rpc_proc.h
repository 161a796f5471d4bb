/*
 * rpc_proc.h: one procedure of a program, as its description declares it. The tables are
 * generated (gen_protocol.py); the server layer looks procedures up by number.
 */
#pragma once

#include <glib.h>

#include "rpc/xdr.h"

typedef enum {
    QVIR_RPC_PROC_SERVED = 1 << 0,  /* has a handler */
    QVIR_RPC_PROC_INLINE = 1 << 1,  /* runs on the main loop: cheap, no driver, ordered with
                                     * the client's later calls */
    QVIR_RPC_PROC_PREOPEN = 1 << 2, /* allowed before CONNECT_OPEN */
    QVIR_RPC_PROC_WRITE = 1 << 3,   /* changes something: refused on read-only connections */
} qvirRpcProcFlags;

/* Decoded ARGS in, RET (all zero on entry) filled in; the caller encodes RET and frees
 * both. CTX is the program's per-call context. */
typedef gboolean (*qvirRpcProcHandler)(gpointer ctx, gpointer args, gpointer ret, GError **error);

typedef struct {
    const char *name;        /* libvirt's API name ("virDomainGetState"), for errors and logs */
    const char *dispatch;    /* libvirt's dispatcher ("remoteDispatchDomainGetState"): the
                              * owner its domain jobs name (util/virthreadjob.h) */
    const qvirXdrType *args; /* NULL: the call carries no arguments */
    const qvirXdrType *ret;  /* NULL: the reply carries nothing */
    const qvirXdrType *msg;  /* the body of an event MESSAGE, NULL for calls */
    unsigned int flags;      /* qvirRpcProcFlags */
    qvirRpcProcHandler handler;
} qvirRpcProcedure;

/*
 * Run PROC: decode its arguments from RD (all of them: trailing bytes are an error), call
 * its handler with CTX, append the encoded return value to REPLY. FALSE with ERROR set
 * when any step fails (REPLY's contents are then to be discarded).
 */
gboolean qvirRpcProcedureCall(const qvirRpcProcedure *proc, gpointer ctx, qvirXdrReader *rd,
                              GByteArray *reply, GError **error);
