/*
 * storage_run.c: running the storage tools (storage_run.h).
 */
#include "storage/storage_run.h"

#include <string.h>
#include <sys/wait.h>

#include "util/virerror.h"

gboolean
qvirStorageSpawn(const char *const *argv, const char *const *envp, char **out, char **err,
                 int *status, GError **error)
{
    g_auto(GStrv) env = NULL;

    /* NULL: the child inherits the daemon's environment as it is */
    if (envp) {
        env = g_get_environ();
        for (guint i = 0; envp[i]; i++) {
            const char *eq = strchr(envp[i], '=');
            g_autofree char *name = g_strndup(envp[i], eq - envp[i]);

            env = g_environ_setenv(env, name, eq + 1, TRUE);
        }
    }
    return g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err, status,
                        error);
}

gboolean
qvirStorageRunCapture(const char *const *argv, const char *const *envp, char **out, char **err,
                      int *status, GError **error)
{
    g_autoptr(GError) spawnErr = NULL;

    if (!qvirStorageSpawn(argv, envp, out, err, status, &spawnErr)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "internal error: Cannot run %s: %s",
                    argv[0], spawnErr->message);
        return FALSE;
    }
    return TRUE;
}

gboolean
qvirStorageRun(const char *const *argv, GError **error)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;

    if (!qvirStorageRunCapture(argv, NULL, &out, &err, &status, error))
        return FALSE;
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_autofree char *cmd = g_strjoinv(" ", (char **)argv);

        g_strstrip(err);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: Child process (%s) unexpected exit status %d: %s", cmd,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1, err);
        return FALSE;
    }
    return TRUE;
}
