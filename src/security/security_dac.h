/*
 * security_dac.h: QEMU never runs as root. The DAC security driver.
 *
 * A privileged daemon (euid 0) runs each QEMU as an unprivileged user and group (qvirtd.conf
 * `user`, `group`), and makes exactly the files a domain needs accessible to that user:
 * every layer of every disk's cached backing chain, the kernel and initrd, and the
 * per-domain directory. The original owner and mode of each file are remembered in
 * `trusted.qvirt.security.*` extended attributes with a reference count, so several
 * domains sharing a backing file each hold a reference and the last one to let go puts
 * the original owner back. Labels follow the chain the daemon caches; no image is read.
 *
 * An unprivileged daemon behaves as libvirt's session daemon: QEMU runs as the daemon's
 * own user and nothing is relabelled (every call below then succeeds doing nothing).
 *
 * Thread safety: the remember/restore steps of one manager are serialised by its lock.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "conf/domain_conf.h"

typedef struct _qvirSecurityDAC qvirSecurityDAC;

typedef struct {
    const char *user;  /* name or "+UID"; NULL: QVIR_SECURITY_DAC_DEFAULT_USER */
    const char *group; /* name or "+GID"; NULL: QVIR_SECURITY_DAC_DEFAULT_GROUP */
    gboolean dynamicOwnership;
    gboolean rememberOwner;
    gboolean clearCapabilities;
} qvirSecurityDACConfig;

#define QVIR_SECURITY_DAC_DEFAULT_USER "qvirt-qemu"
#define QVIR_SECURITY_DAC_DEFAULT_GROUP "qvirt-qemu"

/*
 * PRIVILEGED: the daemon runs as root and QEMU is to run as CFG's user. Otherwise the
 * manager is inactive (session mode) and CFG's user and group are ignored. Fails when a
 * privileged manager's user or group does not exist.
 */
qvirSecurityDAC *qvirSecurityDACNew(const qvirSecurityDACConfig *cfg, gboolean privileged,
                                    GError **error);
void qvirSecurityDACFree(qvirSecurityDAC *sec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qvirSecurityDAC, qvirSecurityDACFree);

/* FALSE for a NULL or session-mode manager: QEMU keeps the daemon's identity. */
gboolean qvirSecurityDACIsActive(const qvirSecurityDAC *sec);
uid_t qvirSecurityDACGetUser(const qvirSecurityDAC *sec);
gid_t qvirSecurityDACGetGroup(const qvirSecurityDAC *sec);

/*
 * Everything a starting domain needs: every disk's whole chain (the top writable unless the
 * disk is read-only, the backing layers readable), the kernel and the initrd. All or
 * nothing: on failure every label set here is restored. Errors name the disk (or
 * "kernel"/"initrd"), the file and the reason.
 */
gboolean qvirSecurityDACSetDomainLabel(qvirSecurityDAC *sec, const qvirDomainDef *def,
                                       GError **error);
/* Undo qvirSecurityDACSetDomainLabel for DEF as it is now (its chains may have changed
 * since; every layer in it holds one reference). Best effort: problems are logged. */
void qvirSecurityDACRestoreDomainLabel(qvirSecurityDAC *sec, const qvirDomainDef *def);

/* One disk's chain from TOP down (hot-plug, new media). All or nothing. */
gboolean qvirSecurityDACSetChainLabel(qvirSecurityDAC *sec, const qvirDomainDiskDef *disk,
                                      const qvirStorageSource *top, GError **error);
void qvirSecurityDACRestoreChainLabel(qvirSecurityDAC *sec, const qvirStorageSource *top);

/* One layer (a snapshot's new overlay): WRITABLE for a top layer. */
gboolean qvirSecurityDACSetImageLabel(qvirSecurityDAC *sec, const char *diskName,
                                      const qvirStorageSource *src, gboolean writable,
                                      GError **error);
void qvirSecurityDACRestoreImageLabel(qvirSecurityDAC *sec, const qvirStorageSource *src);

/*
 * A block commit writes into SRC, a backing layer QEMU already holds: make it writable for
 * its owner (QEMU's user) if its mode does not allow it. The recorded mode comes back with
 * the last reference.
 */
gboolean qvirSecurityDACSetImageWritable(qvirSecurityDAC *sec, const char *diskName,
                                         const qvirStorageSource *src, GError **error);

/*
 * A live definition changed from OLDDEF to NEWDEF (detach, a finished pull or commit,
 * ejected media): restore every layer OLDDEF holds that NEWDEF does not, counting a path
 * once per reference. Layers that NEWDEF gained were labelled before QEMU opened them.
 */
void qvirSecurityDACRestoreRemoved(qvirSecurityDAC *sec, const qvirDomainDef *olddef,
                                   const qvirDomainDef *newdef);

/*
 * Crash safety for a start. Before the first label, every path DEF is about to take is
 * written to JOURNAL (atomically); the caller removes the journal once the domain's status
 * file records the same chains, or after a failed start has restored them. A daemon that
 * died in between finds the journal at its next start and replays it: one reference
 * dropped per path listed.
 */
gboolean qvirSecurityDACJournalWrite(qvirSecurityDAC *sec, const char *journal,
                                     const qvirDomainDef *def, GError **error);
void qvirSecurityDACJournalReplay(qvirSecurityDAC *sec, const char *journal);

/*
 * A file or directory the daemon made for one domain (its directory, the master key): owned
 * by QEMU's user and group with MODE, nothing remembered (it is removed at stop). The path
 * leading to it must be searchable by QEMU's user: otherwise the error names the directory
 * that is not.
 */
gboolean qvirSecurityDACSetDaemonPath(qvirSecurityDAC *sec, const char *path, mode_t mode,
                                      GError **error);

/*
 * In the forked child, just before exec (async-signal-safe): drop the capability bounding
 * set when clear_emulator_capabilities is on, switch to the configured supplementary
 * groups, gid and uid, clear every remaining capability and set NoNewPrivs. KEEPRAWIO
 * (a disk with rawio='yes') keeps CAP_SYS_RAWIO, and only it, across all of that and the
 * exec, as libvirt does. Does nothing for a NULL manager. On failure writes a line to fd 2
 * (QEMU's log) and _exit()s.
 */
void qvirSecurityDACChildSetup(const qvirSecurityDAC *sec, gboolean keepRawio);
