/*
 * virthreadjob.c: the API a thread is running (see virthreadjob.h).
 */
#include "util/virthreadjob.h"

static GPrivate qvirThreadJobName;
static GPrivate qvirThreadJobWorker;

void
qvirThreadJobSet(const char *name)
{
    g_private_set(&qvirThreadJobName, (gpointer)name);
}

void
qvirThreadJobSetWorker(const char *name)
{
    g_private_set(&qvirThreadJobWorker, (gpointer)name);
}

const char *
qvirThreadJobGet(void)
{
    const char *name = g_private_get(&qvirThreadJobName);

    return name ? name : g_private_get(&qvirThreadJobWorker);
}
