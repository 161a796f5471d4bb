/*
 * storage_backingstore.h: the backing name an image header stores, turned into a layer.
 *
 * An image names its backing image by a string QEMU understands: a file name (relative to
 * the overlay or absolute), a URI ("nbd://host:port/export", "gluster://host/vol/img",
 * "iscsi://host/target/lun", "http://..."), QEMU's legacy colon syntax ("nbd:host:port:
 * exportname=...", "rbd:pool/image@snap:mon_host=..."), or its JSON pseudo-protocol
 * ("json:{"file":{"driver":"nbd",...}}", nested objects or flat "file.driver" keys).
 * These strings come from image headers a guest may have written, so each is parsed
 * strictly, with libvirt 9.0's rules and error messages, and nothing is opened here.
 */
#pragma once

#include <glib.h>

#include "conf/storage_source_conf.h"

/*
 * libvirt's rule: a colon before any slash means a protocol ("nbd:", "rbd:", "json:",
 * "nbd://"); "./a:b" is how to name a file with a colon.
 */
gboolean qvirStorageBackingNameIsFile(const char *name);

/* The parse went through but the name carries data libvirt does not model (inline
 * credentials in a URI or iSCSI JSON): the layer describes the location, yet must not
 * be used for the VM; the chain stops above it and QEMU opens it itself. */
#define QVIR_STORAGE_BACKING_UNREPRESENTABLE 1

/*
 * Parse NAME, a backing name that is not relative (an absolute file name or a protocol
 * string), into a new layer (*OUT). Returns -1 with ERROR set, 0, or
 * QVIR_STORAGE_BACKING_UNREPRESENTABLE (with *OUT filled). Network layers get the
 * protocol's default port on tcp hosts without one, and never carry <auth> (credentials
 * in a backing string are dropped, as libvirt drops them).
 */
int qvirStorageSourceNewFromBackingAbsolute(const char *name, qvirStorageSource **out,
                                            GError **error);

/*
 * The layer PARENT's header names (PARENT->backingStoreRaw must be set): a relative
 * name resolves against the directory of PARENT's path and, under a network PARENT,
 * stays on the same protocol, hosts and volume (libvirt's rule); anything else goes
 * through qvirStorageSourceNewFromBackingAbsolute. The layer gets relPath = the name
 * as stored, format = PARENT's recorded backing format and readonly. Return values as
 * qvirStorageSourceNewFromBackingAbsolute.
 */
int qvirStorageSourceNewFromBacking(const qvirStorageSource *parent, qvirStorageSource **out,
                                    GError **error);
