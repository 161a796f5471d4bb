#include "virsocketaddr.h"

#include <string.h>

char *
qvirSocketAddrFormatHostPort(const char *host, unsigned int port)
{
    /* without brackets the last ':' of an IPv6 literal would read as the port's */
    if (host && strchr(host, ':'))
        return g_strdup_printf("[%s]:%u", host, port);
    return g_strdup_printf("%s:%u", host ? host : "", port);
}
