/*
 * remote_dispatch_disk.h: the REMOTE procedures of live disk operations (hot-plug, media
 * change, block pull/rebase/commit, block job abort/info), of snapshots, and of domain
 * event callbacks with the block job events (326, 339) they deliver, kept apart from the
 * core dispatch table. Each handler decodes its remote_*_args completely (libvirt 9.0's
 * remote_protocol.x), calls qemu_driver.h and encodes its remote_*_ret.
 */
#pragma once

#include "qemu/qemu_driver.h"
#include "rpc/rpc_server.h"
#include "rpc/xdr.h"

/* CLIENT is the connection the call came on (event registration keeps it). */
typedef gboolean (*qvirRemoteDiskHandler)(qvirDriver *drv, qvirRpcClient *client,
                                          qvirXdrReader *args, GByteArray *ret, GError **error);

/* The handler of PROC, or NULL when PROC is not one of these. All of them need the driver
 * and may talk to QEMU or the disks (so run in a worker thread). WRITE (may be NULL) tells
 * whether PROC changes a domain: those are refused on read-only connections. */
qvirRemoteDiskHandler qvirRemoteDiskLookup(gint32 proc, gboolean *write);

/* Deliver DRV's block job events to the connections that registered for them. Once, when
 * the REMOTE program is set up. */
void qvirRemoteDiskInit(qvirDriver *drv);

/* Send every registration for EVENTID that matches DOM (any domain, or DOM's UUID) the
 * MESSAGE PROC with body { int callbackID; PAYLOAD } (libvirt's *_callback_*_msg). Any
 * thread. For events raised outside this file (lifecycle, remote_dispatch.c). */
void qvirRemoteEventBroadcast(const qvirDomainRef *dom, gint32 eventID, gint32 proc,
                              const GByteArray *payload);
