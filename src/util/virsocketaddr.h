/*
 * virsocketaddr.h: writing network addresses the way QEMU, Ceph, libiscsi and migration
 * URIs all read them.
 */
#pragma once

#include <glib.h>

/* "HOST:PORT", an IPv6 literal (a HOST with a ':') in brackets: "[::1]:3260". A NULL HOST
 * is written as "". */
char *qvirSocketAddrFormatHostPort(const char *host, unsigned int port);
