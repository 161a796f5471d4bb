/* Capabilities for the offline subcommands that complete or build a domain. */
#pragma once

#include "conf/domain_conf.h"
#include "qemu/qemu_capabilities.h"

#define QVIRT_CAPS_DEFAULT_EMULATOR "/usr/bin/qemu-system-x86_64"

/*
 * CAPSNAME: a name under tests/qemucapsdata (found through $QVIRT_CAPSDATA_DIR, ./tests or
 * the source tree the binary was built from) or a JSON file. Otherwise EMULATOR, the
 * domain's <emulator> or QVIRT_CAPS_DEFAULT_EMULATOR is probed (cached in
 * ~/.cache/qvirt/qemucaps).
 */
qemuCaps *qvirtCapsLoad(const char *capsName, const char *emulator, const qvirDomainDef *def,
                        GError **error);
