/*
 * remote_dispatch.h: libvirt's REMOTE program (0x20008086 v1) on top of the
 * qvirt driver, as remote_protocol.x describes it: one handler per procedure that
 * virsh and python3-libvirt use, calling qemu_driver.h. Any other procedure gets
 * libvirt's NO_SUPPORT error, naming it.
 */
#pragma once

#include "qemu/qemu_driver.h"
#include "rpc/rpc_server.h"

/* libvirt 9.0's VIR_DRV_FEATURE_* numbers that qvirtd answers. */
#define QVIR_REMOTE_FEATURE_REMOTE 2
#define QVIR_REMOTE_FEATURE_MIGRATION_P2P 4
#define QVIR_REMOTE_FEATURE_MIGRATION_V3 6
#define QVIR_REMOTE_FEATURE_MIGRATE_CHANGE_PROTECTION 7
#define QVIR_REMOTE_FEATURE_TYPED_PARAM_STRING 9
#define QVIR_REMOTE_FEATURE_PROGRAM_KEEPALIVE 10
#define QVIR_REMOTE_FEATURE_MIGRATION_PARAMS 13
#define QVIR_REMOTE_FEATURE_REMOTE_EVENT_CALLBACK 14
#define QVIR_REMOTE_FEATURE_REMOTE_CLOSE_CALLBACK 15

/* The version qvirtd reports for GET_LIB_VERSION: the libvirt it speaks for. */
#define QVIR_REMOTE_LIB_VERSION 9000000ull

/*
 * Fill PROG with the REMOTE program serving DRV. DRV may be NULL (protocol
 * tests): connection-level procedures work and every domain procedure fails
 * with NO_CONNECT. DRV must outlive the server.
 */
void qvirRemoteProgramInit(qvirRpcProgram *prog, qvirDriver *drv);

/* Number of procedures with a handler (for logs). */
guint qvirRemoteNumProcedures(void);

/* libvirt's public API name for PROC ("virDomainGetMessages"), NULL if unknown. */
const char *qvirRemoteProcName(gint32 proc);
