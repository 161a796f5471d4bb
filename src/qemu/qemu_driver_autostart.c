/*
 * qemu_driver_autostart.c: domains that start with the daemon, as libvirt's QEMU driver
 * keeps them: a symlink defsDir/autostart/NAME.xml pointing at the definition
 * defsDir/NAME.xml, read when the definitions load, and started once per host boot (a
 * marker in the run directory, as virDriverShouldAutostart) by the daemon that comes up
 * first. Domains still running from the last daemon are reconnected, never restarted.
 */
#define G_LOG_DOMAIN "qvirt-driver"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "qemu/qemu_driverpriv.h"
#include "util/virerror.h"
#include "util/virfile.h"

static char *
qemuDriverAutostartDir(qvirDriver *drv)
{
    return g_build_filename(drv->cfg->defsDir, "autostart", NULL);
}

static char *
qemuDriverAutostartLink(qvirDriver *drv, const char *name)
{
    g_autofree char *dir = qemuDriverAutostartDir(drv);
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(dir, file, NULL);
}

static char *
qemuDriverAutostartTarget(qvirDriver *drv, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(drv->cfg->defsDir, file, NULL);
}

/* As virFileLinkPointsTo: the link names the definition itself, not just any file. */
void
qemuDriverAutostartLoad(qvirDriver *drv, qemuDomainObj *obj)
{
    g_autofree char *link = qemuDriverAutostartLink(drv, obj->name);
    g_autofree char *target = qemuDriverAutostartTarget(drv, obj->name);
    GStatBuf a, b;
    gboolean on;

    on = g_stat(link, &a) == 0 && g_stat(target, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
    qemuDomainObjLock(obj);
    obj->autostart = on && obj->def != NULL;
    qemuDomainObjUnlock(obj);
}

/* virDomainDeleteConfig: the link goes with the definition, whatever it points at. */
void
qemuDriverAutostartRemove(qvirDriver *drv, qemuDomainObj *obj)
{
    g_autofree char *link = qemuDriverAutostartLink(drv, obj->name);

    (void)g_unlink(link);
    qemuDomainObjLock(obj);
    obj->autostart = FALSE;
    qemuDomainObjUnlock(obj);
}

int
qvirDriverDomainGetAutostart(qvirDriver *drv, const unsigned char *uuid, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    int autostart;

    if (!obj)
        return -1;
    qemuDomainObjLock(obj);
    autostart = obj->autostart ? 1 : 0;
    qemuDomainObjUnlock(obj);
    return autostart;
}

static gboolean
qemuDriverAutostartApply(qvirDriver *drv, qemuDomainObj *obj, gboolean on, GError **error)
{
    g_autofree char *dir = qemuDriverAutostartDir(drv);
    g_autofree char *link = qemuDriverAutostartLink(drv, obj->name);
    g_autofree char *target = qemuDriverAutostartTarget(drv, obj->name);

    if (on) {
        if (g_mkdir_with_parents(dir, 0777) < 0) {
            int saved = errno;

            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "cannot create autostart directory %s: %s", dir, g_strerror(saved));
            return FALSE;
        }
        if (symlink(target, link) < 0) {
            int saved = errno;

            /* libvirt's message, its unbalanced quote included */
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "Failed to create symlink '%s to '%s': %s", link, target,
                        g_strerror(saved));
            return FALSE;
        }
    } else if (unlink(link) < 0 && errno != ENOENT && errno != ENOTDIR) {
        int saved = errno;

        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Failed to delete symlink '%s': %s",
                    link, g_strerror(saved));
        return FALSE;
    }
    return TRUE;
}

gboolean
qvirDriverDomainSetAutostart(qvirDriver *drv, const unsigned char *uuid, int autostart,
                             GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    gboolean on = autostart != 0;
    gboolean persistent, current, ok;

    if (!obj)
        return FALSE;
    qemuDomainObjLock(obj);
    persistent = obj->def != NULL;
    current = obj->autostart;
    qemuDomainObjUnlock(obj);
    if (!persistent) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: cannot set autostart for "
                            "transient domain");
        return FALSE;
    }
    if (current == on)
        return TRUE;
    if (!qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    qemuDomainObjLock(obj);
    persistent = obj->def != NULL; /* undefined while we waited for the job */
    qemuDomainObjUnlock(obj);
    if (!persistent) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: cannot set autostart for "
                            "transient domain");
        ok = FALSE;
    } else if ((ok = qemuDriverAutostartApply(drv, obj, on, error))) {
        qemuDomainObjLock(obj);
        obj->autostart = on;
        qemuDomainObjUnlock(obj);
    }
    qemuDomainObjEndJob(obj);
    return ok;
}

/* virDriverShouldAutostart: the run directory does not outlive the host, so a marker
 * there lets only the first daemon of a boot start domains. */
static gboolean
qemuDriverShouldAutostart(qvirDriver *drv)
{
    g_autofree char *marker = g_build_filename(drv->cfg->statusDir, "autostarted", NULL);
    g_autoptr(GError) err = NULL;

    if (g_file_test(marker, G_FILE_TEST_EXISTS))
        return FALSE;
    if (!g_file_set_contents_full(marker, "", 0, G_FILE_SET_CONTENTS_NONE, 0600, &err))
        g_warning("cannot create '%s': %s", marker, err->message);
    return TRUE;
}

void
qemuDriverAutostartDomains(qvirDriver *drv)
{
    g_autoptr(GPtrArray) objs = NULL;

    if (!qemuDriverShouldAutostart(drv))
        return;
    objs = qemuDomainObjListCollect(drv->domains);
    for (guint i = 0; i < objs->len; i++) {
        qemuDomainObj *obj = g_ptr_array_index(objs, i);
        g_autoptr(GError) err = NULL;
        gboolean start;

        qemuDomainObjLock(obj);
        start = obj->autostart && !qemuDomainObjIsActive(obj);
        qemuDomainObjUnlock(obj);
        /* qvirDriverDomainCreate prefers a managed save image, as qemuDomainObjStart */
        if (start && !qvirDriverDomainCreate(drv, obj->uuid, 0, &err))
            g_warning("Failed to autostart VM '%s': %s", obj->name, err->message);
    }
}
