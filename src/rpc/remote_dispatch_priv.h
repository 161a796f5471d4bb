/*
 * remote_dispatch_priv.h: what the REMOTE program's handler files share. The handlers
 * themselves are declared by the generated remote_protocol.h, one per @serve procedure
 * of remote_protocol.x; the dispatcher (remote_dispatch.c) decodes their arguments,
 * checks access and encodes their return values, so a handler only calls the driver.
 */
#pragma once

#include "qemu/qemu_driver.h"
#include "rpc/remote_dispatch.h"
#include "rpc/remote_protocol.h"
#include "rpc/rpc_server.h"

/* Per-connection state. Set on the main loop (open/close run inline), read by workers,
 * hence atomics. */
typedef struct {
    gint opened;
    gint readonly;
    qvirDriver *drv;
    /* Domains this connection started with VIR_DOMAIN_START_AUTODESTROY, as
     * qvirDomainRef* (UUID and the id of that run): destroyed when the client goes. */
    GMutex autoDestroyLock;
    GPtrArray *autoDestroy;
    /* Domains whose outgoing migration this connection's Begin keeps (as UUIDs, under
     * autoDestroyLock): their jobs end when the client goes. */
    GPtrArray *migrations;
} qvirRemoteClient;

/* Remember that CLIENT's call started DOM with VIR_DOMAIN_START_AUTODESTROY. */
void qvirRemoteClientAddAutoDestroy(qvirRemoteClient *client, const qvirDomainRef *dom);
/* ... and forget every such domain with UUID (an incoming migration that finished). */
void qvirRemoteClientRemoveAutoDestroy(qvirRemoteClient *client, const unsigned char *uuid);
/* CLIENT's Begin keeps the job of UUID's outgoing migration (or its Prepare started an
 * incoming one). */
void qvirRemoteClientAddMigration(qvirRemoteClient *client, const unsigned char *uuid);

/* What a handler gets besides its arguments. DRV is NULL only in protocol tests, where
 * procedures that need it are refused before their handler runs. */
struct _qvirRemoteCtx {
    qvirDriver *drv;
    qvirRemoteClient *client;
    qvirRpcClient *rpcClient;
    const qvirRpcHeader *hdr; /* the call: a procedure that opens a stream names it */
};

/* OUT (zero) names REF: a copy; or with REF's name moved (Take); or with REF taken, FALSE
 * when it is NULL (the driver's error: Return). */
void qvirRemoteDomainSet(remote_nonnull_domain *out, const qvirDomainRef *ref);
void qvirRemoteDomainTake(remote_nonnull_domain *out, qvirDomainRef *ref);
gboolean qvirRemoteDomainReturn(remote_nonnull_domain *out, qvirDomainRef *ref);

/* OUT (zero) names the pool or volume REF: its strings move (REF keeps the rest). */
void qvirRemotePoolTake(remote_nonnull_storage_pool *out, qvirStoragePoolRef *ref);
void qvirRemoteVolTake(remote_nonnull_storage_vol *out, qvirStorageVolRef *ref);
/* ... and the secret REF: its usage ID moves. */
void qvirRemoteSecretTake(remote_nonnull_secret *out, qvirSecretRef *ref);

/* Existence check for procedures whose answer is constant but which must still fail with
 * NO_DOMAIN for a domain that does not exist. */
gboolean qvirRemoteDomainExists(qvirDriver *drv, const guint8 *uuid, GError **error);

/* FALSE (OPERATION_INVALID) unless DOM is running. */
gboolean qvirRemoteCheckRunning(qvirRemoteCtx *ctx, const remote_nonnull_domain *dom,
                                GError **error);

/* A typed parameter list being built (GArray of remote_typed_param): a new parameter named
 * by FMT of TYPE, whose value the caller sets. */
G_GNUC_PRINTF(3, 4)
remote_typed_param_value *qvirRemoteParamAdd(GArray *params, int type, const char *fmt, ...);
/* PARAMS's elements into the array LEN/VAL (PARAMS is freed). */
void qvirRemoteParamsSteal(GArray *params, guint32 *len, remote_typed_param **val);

/* A typed parameter an API takes: its name and VIR_TYPED_PARAM_* type. */
typedef struct {
    const char *name;
    int type;
} qvirRemoteParamSpec;

/* P's index in SPECS (NSPECS of them), checked as libvirt's virTypedParamsValidate does:
 * a known name, its type, at most once (SEEN, one per spec, records it) unless it is
 * REPEATABLE's (an index, or -1). -1 with an INVALID_ARG error otherwise. */
int qvirRemoteTypedParamCheck(const remote_typed_param *p, const qvirRemoteParamSpec *specs,
                              guint nspecs, gboolean *seen, int repeatable, GError **error);

/* At most MAX of LIST (strings; taken) into the array LEN/VAL of remote_nonnull_string;
 * FALSE when LIST is NULL (the driver's error) or MAX is out of 0..LIMIT (WHAT names it
 * in the error). */
gboolean qvirRemoteStringsTake(guint32 *len, char ***val, GPtrArray *list, gint32 max, gint32 limit,
                               const char *what, GError **error);

/* PROC's entry in the REMOTE program's table, NULL when it is no procedure of libvirt 9.0
 * (the client side, remote_conn.c, takes its argument and return types from it too). */
const qvirRpcProcedure *qvirRemoteProcLookup(gint32 proc);

/* The procedures of libvirt's QEMU program qvirtd serves (remote_dispatch_guest.c): PROC's
 * entry, NULL for others. */
const qvirRpcProcedure *qvirRemoteQemuProcLookup(gint32 proc);

/* Deliver DRV's block job events to the connections that registered for them. Once, when
 * the REMOTE program is set up (remote_dispatch_disk.c). */
void qvirRemoteDiskInit(qvirDriver *drv);

/* The event registrations of one kind of object (domains, secrets), each with its own
 * callback IDs from 1. Static, initialised with QVIR_REMOTE_EVENT_REGISTRY_INIT. */
typedef struct {
    GMutex lock;
    GPtrArray *regs; /* registrations, private to remote_dispatch_disk.c */
    gint32 nextID;
} qvirRemoteEventRegistry;
#define QVIR_REMOTE_EVENT_REGISTRY_INIT                                                            \
    {                                                                                              \
        .nextID = 1                                                                                \
    }

/* Register CLIENT for EVENTID of the object UUID (NULL: any); returns the callbackID. */
gint32 qvirRemoteEventRegister(qvirRemoteEventRegistry *registry, qvirRpcClient *client,
                               gint32 eventID, const guint8 *uuid);
/* Remove CLIENT's registration CALLBACKID; FALSE (INVALID_ARG) when it has none. */
gboolean qvirRemoteEventDeregister(qvirRemoteEventRegistry *registry, qvirRpcClient *client,
                                   gint32 callbackID, GError **error);
/* Send every registration for EVENTID that matches UUID the event MESSAGE PROC with body
 * MSG, an instance of PROC's _msg type, which starts with the int callbackID: it is set to
 * each registration's before encoding. Any thread. */
void qvirRemoteEventSend(qvirRemoteEventRegistry *registry, const guint8 *uuid, gint32 eventID,
                         gint32 proc, gpointer msg);

/* Send every registration for EVENTID that matches DOM (any domain, or DOM's UUID) the
 * event MESSAGE PROC with body MSG, an instance of PROC's _msg type, which starts with the
 * int callbackID: it is set to each registration's before encoding. Any thread. */
void qvirRemoteEventBroadcast(const qvirDomainRef *dom, gint32 eventID, gint32 proc, gpointer msg);
