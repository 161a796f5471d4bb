/*
 * qemu_command.h: the QEMU argv and environment for a domain.
 */
#pragma once

#include <glib.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_block.h"
#include "qemu/qemu_capabilities.h"

typedef struct {
    /* QMP monitor: a unix socket path the daemon listens on / connects to, or, when
     * monitorFd >= 0, "-chardev socket,id=charmonitor,fd=N,server=on,wait=off"
     * (libvirt's tests use fd=1729; like them, a listening channel socket then gets the
     * same fd=N instead of its path). */
    const char *monitorPath;
    int monitorFd;
    /* Directory for per-domain files (libvirt's tests: /var/lib/libvirt/qemu/domain--1-NAME). */
    const char *domainDir;
    /* Start paused (-S); the daemon always starts paused and issues "cont" itself. */
    gboolean startPaused;
    /* Environment: PATH and USER/LOGNAME (NULL: a standard PATH / the current user;
     * libvirt's tests use "/bin" and "test"). */
    const char *envPath;
    const char *envUser;
    /* With domainDir set, -object secret masterKey0 reads DOMAINDIR/master-key.aes, which
     * the caller must have written; set this to leave it out. */
    gboolean noMasterKey;
    /* -incoming URI (libvirt's restore: "defer", then migrate-incoming); NULL = none. */
    const char *incoming;
    /* Listening sockets of unix channels, opened by the caller and passed to QEMU, one per
     * entry of def->channels (-1: none, the path is used): "-chardev socket,fd=N" as
     * libvirt starts a domain. */
    const int *channelFds;
    guint nChannelFds;
    /* Where the secrets of network disks (iSCSI CHAP, Ceph cephx, http cookies, the NBD TLS
     * key) come from and the master key they are encrypted with; NULL: a disk that needs
     * one is an error. */
    const qemuBlockSecretCtx *secrets;
    /* Files of file chardevs (source and <log>): open PATH for writing, truncated unless
     * APPEND, and return the descriptor QEMU inherits, which it gets as "-add-fd
     * set=N,fd=FD,opaque=NAME" and opens as /dev/fdset/N with append=on, as libvirt does
     * (NAME: "serial0-source", "serial0-log"). NULL: QEMU opens the paths itself. */
    int (*openChrFile)(void *opaque, const char *name, const char *path, gboolean append,
                       GError **error);
    void *openChrFileOpaque;
} qemuBuildCommandLineOpts;

typedef struct {
    GPtrArray *env;  /* "KEY=VALUE" strings, NULL-terminated */
    GPtrArray *argv; /* argv[0] is the emulator, NULL-terminated */
} qemuCommandLine;

void qemuCommandLineFree(qemuCommandLine *cmd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qemuCommandLine, qemuCommandLineFree);

/*
 * Assign what a start assigns (aliases, PCI addresses, node names, chain indexes) on
 * DEF in place. Idempotent: already-assigned values are kept.
 */
gboolean qemuDomainPrepareForStart(qvirDomainDef *def, const qemuCaps *caps, GError **error);

/* Validation against the capabilities (cache modes the binary lacks, io_uring, ...). */
gboolean qemuValidateDomainDef(const qvirDomainDef *def, const qemuCaps *caps, GError **error);
/* libvirt's rules for a <transient/> DISK of DEF (also for a hot-plugged one). */
gboolean qemuValidateDiskTransient(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                                   const qemuCaps *caps, GError **error);

/* DOMAINDIR/master-key.aes: the domain's master key, which the caller writes before a
 * start and -object secret masterKey0 reads. */
char *qemuBuildMasterKeyPath(const char *domainDir);

/* Build argv + env for a prepared DEF. */
qemuCommandLine *qemuBuildCommandLine(const qvirDomainDef *def, const qemuCaps *caps,
                                      const qemuBuildCommandLineOpts *opts, GError **error);

/*
 * The -device properties of controller C of prepared DEF, as a start builds them (the
 * device_add arguments of a hot-plugged controller).
 */
JsonObject *qemuBuildControllerDevProps(const qvirDomainDef *def, const qemuCaps *caps,
                                        const qvirDomainControllerDef *c, GError **error);

/*
 * The -device properties of DISK (its alias, address and node names assigned) next to
 * the devices of running DEF, as a start builds them: the device_add arguments of a
 * hot-plugged disk, as libvirt uses one builder for both.
 */
JsonObject *qemuBuildDiskDevProps(const qvirDomainDef *def, const qemuCaps *caps,
                                  const qvirDomainDiskDef *disk, GError **error);

/* Format as libvirt's tests do: "ENV=... \\\n/usr/bin/qemu \\\n-name ... \n". */
char *qemuCommandLineFormat(const qemuCommandLine *cmd);

/* Prepare + validate + build + format in one go (qvirt xml2argv, tests, benchmarks). */
char *qemuCommandLineFromDef(qvirDomainDef *def, const qemuCaps *caps,
                             const qemuBuildCommandLineOpts *opts, GError **error);
