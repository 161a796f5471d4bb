/*
 * qemu_domcaps.h: <domainCapabilities> (virConnectGetDomainCapabilities) for one QEMU
 * binary, machine and virt type, advertising only what qvirt parses and builds argv for.
 */
#pragma once

#include <glib.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"

/*
 * Resolve the client's optional arguments as libvirt 9.0 does: ARCH must match the
 * binary's, VIRTTYPE defaults to kvm when KVM_USABLE, MACHINE (an alias or a canonical
 * name) defaults to the binary's default machine. On success *MACHINE_OUT is the canonical
 * name (owned by CAPS) and *TYPE_OUT the virt type.
 */
gboolean qemuDomainCapsResolve(const qemuCaps *caps, const char *arch, const char *machine,
                               const char *virttype, gboolean kvmUsable, const char **machineOut,
                               qvirDomainVirtType *typeOut, GError **error);

/* The XML, in libvirt 9.0's element order and formatting. */
char *qemuDomainCapsFormat(const qemuCaps *caps, const char *machine, qvirDomainVirtType type);
