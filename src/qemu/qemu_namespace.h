/*
 * qemu_namespace.h: QEMU's private /dev (libvirt's namespaces = ["mount"]).
 *
 * A QEMU started by a root daemon gets its own mount namespace whose /dev is a small tmpfs
 * holding only what the domain needs: /dev/null, full, zero, random, urandom, ptmx and kvm
 * (libvirt's default device list), the block devices of its disk chains, and the host's
 * mounts under /dev (pts, shm, mqueue, hugepages) bound in. Everything is planned in the
 * daemon; the forked child only makes system calls. Hot-plugged block devices are added
 * to the running QEMU's /dev from a helper that joins its namespace.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "conf/domain_conf.h"

typedef struct _qemuNamespace qemuNamespace;

/*
 * Plan QEMU's /dev for DEF (chains filled and labelled): STAGEDIR (created here, inside the
 * domain's private directory) is where the child builds it before moving it onto /dev.
 */
qemuNamespace *qemuNamespaceNew(const qvirDomainDef *def, const char *stageDir, GError **error);
void qemuNamespaceFree(qemuNamespace *ns);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuNamespace, qemuNamespaceFree);

/* TRUE when this kernel lets us make mount namespaces at all (tested once, in a child). */
gboolean qemuNamespaceAvailable(void);

/*
 * In the forked child, as root, before the identity switch (async-signal-safe): unshare
 * the mount namespace and replace /dev. Does nothing for a NULL plan. On failure writes
 * a line to fd 2 (QEMU's log) and _exit()s.
 */
void qemuNamespaceChildSetup(const qemuNamespace *ns);

/* Create the device nodes of TOP's chain that live under /dev inside running QEMU PID's
 * /dev (hot-plug). PID 0, or no such layer: nothing to do. */
gboolean qemuNamespaceAddChain(pid_t pid, const qvirStorageSource *top, GError **error);

/* After a live change from OLDDEF to NEWDEF (detach, eject, a finished job): the nodes of
 * block devices no disk of NEWDEF uses any more leave QEMU's /dev. Best effort. */
void qemuNamespaceRemoveUnused(pid_t pid, const qvirDomainDef *olddef, const qvirDomainDef *newdef);
