/*
 * difftestgen.h: a seeded generator of domain XML for the differential test against
 * libvirt 9.0 (difftest.c).
 *
 * The same seed gives the same document on every machine and every run: the generator
 * uses its own PRNG (splitmix64), never rand() or GLib's, whose sequences may change.
 */
#pragma once

#include <glib.h>

/*
 * The domain for SEED, named NAME. The images its disks use are made with qemu-img in
 * IMAGEDIR/NAME (created here); the caller hands them to the user QEMU runs as. Returns the
 * XML (never NULL: a qemu-img failure aborts the test).
 */
char *difftestGenerate(guint64 seed, const char *name, const char *imageDir);
