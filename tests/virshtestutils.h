/*
 * virshtestutils.h: the real virsh against the build's qvirtd (daemontestutils.h's
 * daemonEnv.uri, or any URI through virshArgvUri), in the C locale: VIRSH keeps the exit
 * status, stdout and stderr, VIRSH_OK requires success and returns stdout, VIRSH_RES_OK
 * requires success and keeps the result, VIRSH_FAILS requires a failure naming a message.
 *
 * Static functions: each test program includes this once.
 */
#pragma once

/* Each test program uses a different subset of these helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <string.h>
#include <sys/wait.h>
#include <glib.h>

#include "daemontestutils.h"

typedef struct {
    int rc;
    char *out;
    char *err;
} VirshResult;

static void
virshResultClear(VirshResult *r)
{
    g_clear_pointer(&r->out, g_free);
    g_clear_pointer(&r->err, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VirshResult, virshResultClear);

/* virsh -c URI ARGS... in the C locale. RES is cleared first, so one result can be reused. */
static void
virshArgvUri(VirshResult *res, const char *uri, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) env = g_get_environ();
    int status;

    virshResultClear(res);
    g_ptr_array_add(argv, (char *)"virsh");
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, (char *)uri);
    for (; *args; args++)
        g_ptr_array_add(argv, (char *)*args);
    g_ptr_array_add(argv, NULL);

    env = g_environ_setenv(env, "LC_ALL", "C", TRUE);
    env = g_environ_unsetenv(env, "LIBVIRT_DEFAULT_URI");
    if (!g_spawn_sync(NULL, (char **)argv->pdata, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &res->out,
                      &res->err, &status, &err))
        g_error("cannot run virsh: %s", err->message);
    res->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The same, and the test fails unless virsh succeeded. */
static void
virshArgvUriOk(VirshResult *res, const char *uri, const char *const *args)
{
    virshArgvUri(res, uri, args);
    if (res->rc != 0)
        g_error("virsh %s failed (%d): %s%s", args[0], res->rc, res->out, res->err);
}

static void
virshArgv(VirshResult *res, const char *const *args)
{
    virshArgvUri(res, daemonEnv.uri, args);
}

#define VIRSH(res, ...)                                                                            \
    do {                                                                                           \
        const char *args_[] = {__VA_ARGS__, NULL};                                                 \
        virshArgv((res), args_);                                                                   \
    } while (0)

static char *
virshOk(const char *const *args)
{
    g_auto(VirshResult) res = {0};

    virshArgvUriOk(&res, daemonEnv.uri, args);
    return g_steal_pointer(&res.out);
}

#define VIRSH_OK(...)                                                                              \
    ({                                                                                             \
        const char *args_[] = {__VA_ARGS__, NULL};                                                 \
        virshOk(args_);                                                                            \
    })

/* virsh succeeds; RES keeps its output. */
#define VIRSH_RES_OK(res, ...)                                                                     \
    virshArgvUriOk((res), daemonEnv.uri, (const char *const[]){__VA_ARGS__, NULL})

/* virsh fails with a message containing MSG. */
#define VIRSH_FAILS(msg, ...)                                                                      \
    do {                                                                                           \
        g_auto(VirshResult) r_ = {0};                                                              \
        VIRSH(&r_, __VA_ARGS__);                                                                   \
        if (r_.rc == 0 || !strstr(r_.err, (msg)))                                                  \
            g_error("expected '%s', got rc %d: %s%s", (msg), r_.rc, r_.out, r_.err);               \
    } while (0)
