/*
 * qemu_postparse.h: a definition completed as libvirt 9.0's QEMU driver completes it at
 * define time (and for domxml-to-native), with the emulator's capabilities.
 */
#pragma once

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"

/*
 * Canonical machine type, default boot device and CPU, implicit devices and controllers,
 * device defaults, and drive / USB / virtio-serial / PCI addresses, in place. EMULATOR is
 * the binary written when DEF names none (NULL: the capabilities' binary). Idempotent.
 * Errors carry libvirt's code and message for what libvirt refuses at this stage.
 */
gboolean qemuDomainDefPostParse(qvirDomainDef *def, const qemuCaps *caps, const char *emulator,
                                GError **error);

/*
 * The defaults of one disk (format raw when none is given, read-only cdrom, driver name
 * "qemu", QEMU's encryption engine): what a disk of a definition gets above, and what a
 * hot-plugged disk gets when it is parsed (libvirt's device post-parse).
 */
void qemuDomainDiskDefPostParse(qvirDomainDiskDef *disk);
