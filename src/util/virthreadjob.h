/*
 * virthreadjob.h: the API a thread is running, as libvirt's virThreadJobSet records it.
 *
 * libvirt names the owner of a domain job by the RPC dispatcher function that started it
 * ("remoteDispatchDomainDestroyFlags"), which is what its "cannot acquire state change
 * lock (held by monitor=...)" error shows. The RPC layer sets the name around each call;
 * the driver's own threads set a worker name ("qemu-event") once.
 */
#pragma once

#include <glib.h>

/* NAME must outlive the call it names (a string constant). NULL clears it. */
void qvirThreadJobSet(const char *name);
/* The current call's name, else the thread's worker name, else NULL. */
const char *qvirThreadJobGet(void);
/* The thread's name when it runs no call (a worker pool's threads). */
void qvirThreadJobSetWorker(const char *name);
