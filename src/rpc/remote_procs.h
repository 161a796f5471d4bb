/*
 * remote_procs.h: names of libvirt's remote procedures.
 */
#pragma once

#include <glib.h>

/* libvirt's public API name for PROC ("virDomainGetMessages"), NULL if unknown. */
const char *qvirRemoteProcName(int proc);
