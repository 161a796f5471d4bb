/*
 * domain_validate.h: semantic checks on a parsed definition, separate from parsing.
 * Host-independent checks only; checks against QEMU capabilities live in src/qemu.
 */
#pragma once

#include "conf/domain_conf.h"

/* The whole definition: every device, duplicate targets, ... */
gboolean qvirDomainDefValidate(const qvirDomainDef *def, GError **error);
/* One disk, in the context of DEF (which may already contain it). */
gboolean qvirDomainDiskDefValidate(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                                   GError **error);
/* libvirt's virDomainDiskDefCheckDuplicateInfo against every other disk of DEF: "target
 * 'vdb' duplicated for disk sources 'A' and 'B'" (XML error), the disks in document order,
 * a disk not in DEF (being attached) last, '<null>' for a disk without a source. */
gboolean qvirDomainDiskDefCheckDuplicate(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                                         GError **error);
/*
 * Whether DEF can take DISK at all, checked before a disk is attached to the live or the
 * persistent definition (libvirt's virDomainDefCompatibleDevice): a USB disk needs a USB
 * controller whose model is not "none".
 */
gboolean qvirDomainDefCompatibleDisk(const qvirDomainDef *def, const qvirDomainDiskDef *disk,
                                     GError **error);
