/*
 * remote_migrate_p2p.h: peer-to-peer live migration (VIR_MIGRATE_PEER2PEER). The client
 * talks to the source daemon only: virDomainMigrateToURI3 sends it Perform with the
 * destination daemon's URI, and the source runs the whole v3 protocol itself as that
 * daemon's client (remote_conn.h), as libvirt's qemu driver does:
 *
 *   open the destination URI, check it speaks v3 with parameters and peer-to-peer
 *   here   Begin     the domain XML and our cookie
 *   there  Prepare   its QEMU waits for the state
 *   here   Perform   the state (and a copy's disks) go over
 *   there  Finish    cancelled when Perform failed: the destination undoes Prepare
 *   here   Confirm   cancelled when Finish failed: the guest goes on here
 *
 * The parameters the client gave travel to Prepare and Finish as they are, but for the
 * domain XML (Begin's), the migration URI (Prepare's answer, for Finish) and the name.
 * A failure anywhere leaves the domain running here and nothing there; the client gets
 * the first error (a remote one with the destination's own message).
 */
#pragma once

#include "qemu/qemu_migration.h"
#include "rpc/remote_protocol.h"

/* Migrate the domain UUID to the daemon at DCONNURI. PARAMS: the client's NPARAMS
 * typed parameters RAW, parsed. */
gboolean qvirRemoteMigratePeer2Peer(qvirDriver *drv, const unsigned char *uuid,
                                    const char *dconnuri, const qvirMigrateParams *params,
                                    const remote_typed_param *raw, guint32 nraw, unsigned int flags,
                                    GError **error);
