/*
 * security_dac.c: run QEMU unprivileged and give it access to exactly its files.
 *
 * Remembering owners. The first reference to a file records "UID:GID:MODE" (mode in
 * octal) in trusted.qvirt.security.dac, the host's boot id in ...timestamp_dac and the
 * count in ...ref_dac (written last: it is what makes the record valid). Later
 * references only count; the last restore puts owner and mode back and drops the
 * record. A record from an earlier boot is stale (no QEMU of that boot still holds the
 * file) and is discarded. Where a filesystem has no xattrs, nothing is remembered and a
 * restore hands a file still owned by QEMU's user back to root, as libvirt does.
 *
 * Reachability. libvirt never changes the directories leading to an image; neither do
 * we, but we check them first: a file QEMU's user could not reach is refused before
 * anything is touched, with the directory named. The check follows the owner / group /
 * other mode bits (POSIX ACLs are not consulted).
 */
#include "security/security_dac.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <linux/capability.h>

#include "util/virerror.h"
#include "util/virfile.h"

#define QVIR_SECURITY_XATTR_OWNER "trusted.qvirt.security.dac"
#define QVIR_SECURITY_XATTR_REF "trusted.qvirt.security.ref_dac"
#define QVIR_SECURITY_XATTR_STAMP "trusted.qvirt.security.timestamp_dac"
#define QVIR_SECURITY_MAX_GROUPS 256

struct _qvirSecurityDAC {
    gboolean active;
    uid_t uid;
    gid_t gid;
    char *userName;
    char *groupName;
    gid_t groups[QVIR_SECURITY_MAX_GROUPS];
    int ngroups;
    int lastCap;
    gboolean dynamicOwnership;
    gboolean rememberOwner;
    gboolean clearCapabilities;
    char *bootId;
    GMutex lock;
};

/* ---- the manager ------------------------------------------------------------------- */

static gboolean
qvirSecurityDACParseId(const char *str, unsigned int *id)
{
    guint64 val;

    if (str[0] != '+' || !g_ascii_string_to_unsigned(str + 1, 10, 0, G_MAXUINT32 - 1, &val, NULL))
        return FALSE;
    *id = (unsigned int)val;
    return TRUE;
}

static gboolean
qvirSecurityDACResolveUser(qvirSecurityDAC *sec, const char *user, GError **error)
{
    struct passwd pwbuf, *pw = NULL;
    char buf[4096];
    unsigned int id;

    if (qvirSecurityDACParseId(user, &id)) {
        sec->uid = (uid_t)id;
        if (getpwuid_r(sec->uid, &pwbuf, buf, sizeof(buf), &pw) == 0 && pw)
            sec->userName = g_strdup(pw->pw_name);
        else
            sec->userName = g_strdup(user);
        return TRUE;
    }
    if (getpwnam_r(user, &pwbuf, buf, sizeof(buf), &pw) != 0 || !pw) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "QEMU user '%s' does not exist: create it (bash run.sh does) or set "
                    "'user' in qvirtd.conf",
                    user);
        return FALSE;
    }
    sec->uid = pw->pw_uid;
    sec->userName = g_strdup(pw->pw_name);
    return TRUE;
}

static gboolean
qvirSecurityDACResolveGroup(qvirSecurityDAC *sec, const char *group, GError **error)
{
    struct group grbuf, *gr = NULL;
    char buf[16384];
    unsigned int id;

    if (qvirSecurityDACParseId(group, &id)) {
        sec->gid = (gid_t)id;
        sec->groupName = g_strdup(group);
        return TRUE;
    }
    if (getgrnam_r(group, &grbuf, buf, sizeof(buf), &gr) != 0 || !gr) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "QEMU group '%s' does not exist: create it (bash run.sh does) or set "
                    "'group' in qvirtd.conf",
                    group);
        return FALSE;
    }
    sec->gid = gr->gr_gid;
    sec->groupName = g_strdup(gr->gr_name);
    return TRUE;
}

/* The user's supplementary groups (e.g. kvm), computed here: not allowed after fork. */
static void
qvirSecurityDACResolveGroups(qvirSecurityDAC *sec)
{
    int n = QVIR_SECURITY_MAX_GROUPS;

    sec->ngroups = 0;
    if (getgrouplist(sec->userName, sec->gid, sec->groups, &n) < 0 || n < 1) {
        sec->groups[0] = sec->gid;
        n = 1;
    }
    sec->ngroups = n;
}

static int
qvirSecurityDACLastCap(void)
{
    g_autofree char *str = NULL;
    guint64 val;

    if (g_file_get_contents("/proc/sys/kernel/cap_last_cap", &str, NULL, NULL) &&
        g_ascii_string_to_unsigned(g_strstrip(str), 10, 0, 255, &val, NULL))
        return (int)val;
    return CAP_LAST_CAP;
}

qvirSecurityDAC *
qvirSecurityDACNew(const qvirSecurityDACConfig *cfg, gboolean privileged, GError **error)
{
    g_autoptr(qvirSecurityDAC) sec = g_new0(qvirSecurityDAC, 1);
    g_autofree char *boot = NULL;

    g_return_val_if_fail(cfg != NULL, NULL);

    g_mutex_init(&sec->lock);
    sec->dynamicOwnership = cfg->dynamicOwnership;
    sec->rememberOwner = cfg->rememberOwner;
    sec->clearCapabilities = cfg->clearCapabilities;
    sec->lastCap = qvirSecurityDACLastCap();
    if (g_file_get_contents("/proc/sys/kernel/random/boot_id", &boot, NULL, NULL))
        sec->bootId = g_strdup(g_strstrip(boot));
    else
        sec->bootId = g_strdup("unknown");

    if (!privileged) {
        sec->uid = geteuid();
        sec->gid = getegid();
        return g_steal_pointer(&sec);
    }
    if (!qvirSecurityDACResolveUser(sec, cfg->user ? cfg->user : QVIR_SECURITY_DAC_DEFAULT_USER,
                                    error) ||
        !qvirSecurityDACResolveGroup(sec, cfg->group ? cfg->group : QVIR_SECURITY_DAC_DEFAULT_GROUP,
                                     error))
        return NULL;
    qvirSecurityDACResolveGroups(sec);
    sec->active = TRUE;
    return g_steal_pointer(&sec);
}

void
qvirSecurityDACFree(qvirSecurityDAC *sec)
{
    if (!sec)
        return;
    g_mutex_clear(&sec->lock);
    g_free(sec->userName);
    g_free(sec->groupName);
    g_free(sec->bootId);
    g_free(sec);
}

gboolean
qvirSecurityDACIsActive(const qvirSecurityDAC *sec)
{
    return sec && sec->active;
}

uid_t
qvirSecurityDACGetUser(const qvirSecurityDAC *sec)
{
    return sec ? sec->uid : geteuid();
}

gid_t
qvirSecurityDACGetGroup(const qvirSecurityDAC *sec)
{
    return sec ? sec->gid : getegid();
}

/* ---- access as QEMU's user ------------------------------------------------------------ */

static gboolean
qvirSecurityDACInGroup(const qvirSecurityDAC *sec, gid_t gid)
{
    if (gid == sec->gid)
        return TRUE;
    for (int i = 0; i < sec->ngroups; i++) {
        if (sec->groups[i] == gid)
            return TRUE;
    }
    return FALSE;
}

/* Would QEMU's user get WANT (R_OK|W_OK|X_OK bits) on a file with ST's owner and mode?
 * (The mode bits only: the fallback when no helper can be forked.) */
static gboolean
qvirSecurityDACPermits(const qvirSecurityDAC *sec, const struct stat *st, int want)
{
    unsigned int bits;

    if (sec->uid == 0)
        return TRUE;
    if (st->st_uid == sec->uid)
        bits = (st->st_mode >> 6) & 7;
    else if (qvirSecurityDACInGroup(sec, st->st_gid))
        bits = (st->st_mode >> 3) & 7;
    else
        bits = st->st_mode & 7;
    return (bits & (unsigned int)want) == (unsigned int)want;
}

#define QVIR_SECURITY_ACCESS_MAX 200

/*
 * The first of PATHS that QEMU's user could not access with WANT, as the kernel judges
 * it (ACLs included): a forked helper takes QEMU's identity and asks access(2). Returns
 * its index, or -1 when every one is accessible.
 */
static int
qvirSecurityDACAccessAs(const qvirSecurityDAC *sec, GPtrArray *paths, int want)
{
    int status = 0;
    pid_t pid;

    if (sec->uid == 0 || paths->len == 0)
        return -1;
    g_return_val_if_fail(paths->len < QVIR_SECURITY_ACCESS_MAX, -1);
    if ((pid = fork()) == 0) {
        /* async-signal-safe from here: the identity switch, then access(2) */
        if (setgroups((size_t)sec->ngroups, sec->groups) < 0 ||
            setresgid(sec->gid, sec->gid, sec->gid) < 0 ||
            setresuid(sec->uid, sec->uid, sec->uid) < 0)
            _exit(255);
        for (guint i = 0; i < paths->len; i++) {
            if (access(g_ptr_array_index(paths, i), want) < 0)
                _exit((int)i + 1);
        }
        _exit(0);
    }
    if (pid > 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(status) && WEXITSTATUS(status) < 255)
            return WEXITSTATUS(status) - 1;
    }
    /* No helper: judge by the mode bits. */
    for (guint i = 0; i < paths->len; i++) {
        struct stat st;

        if (stat(g_ptr_array_index(paths, i), &st) == 0 && !qvirSecurityDACPermits(sec, &st, want))
            return (int)i;
    }
    return -1;
}

static gboolean
qvirSecurityDACAccessible(const qvirSecurityDAC *sec, const char *path, int want)
{
    g_autoptr(GPtrArray) one = g_ptr_array_new();

    g_ptr_array_add(one, (gpointer)path);
    return qvirSecurityDACAccessAs(sec, one, want) < 0;
}

/* The first directory leading to PATH that QEMU's user cannot search, or NULL. */
static char *
qvirSecurityDACUnreachableDir(const qvirSecurityDAC *sec, const char *path)
{
    g_autofree char *real = realpath(path, NULL);
    g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *dir = NULL;
    int bad;

    if (!real)
        return NULL; /* the caller's stat reports a missing file */
    /* From the root down, so the error names the outermost culprit. */
    dir = g_path_get_dirname(real);
    for (char *slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/'))
        g_ptr_array_add(dirs, g_strndup(dir, (gsize)(slash - dir)));
    if (strcmp(dir, "/") != 0)
        g_ptr_array_add(dirs, g_strdup(dir));
    if (dirs->len >= QVIR_SECURITY_ACCESS_MAX)
        return NULL; /* absurdly deep: QEMU's own error will say */
    if ((bad = qvirSecurityDACAccessAs(sec, dirs, X_OK)) < 0)
        return NULL;
    return g_strdup(g_ptr_array_index(dirs, bad));
}

static gboolean
qvirSecurityDACCheckReachable(const qvirSecurityDAC *sec, const char *what, const char *path,
                              GError **error)
{
    g_autofree char *bad = qvirSecurityDACUnreachableDir(sec, path);

    if (!bad)
        return TRUE;
    g_set_error(error, QVIR_ERROR, QVIR_ERR_ACCESS_DENIED,
                "%s: file '%s' is not reachable by QEMU's user '%s' (uid %u, gid %u): no "
                "search permission on directory '%s'",
                what, path, sec->userName, (unsigned int)sec->uid, (unsigned int)sec->gid, bad);
    return FALSE;
}

/* ---- remembered owners ---------------------------------------------------------------- */

typedef struct {
    gboolean valid;
    unsigned int refs;
    uid_t uid;
    gid_t gid;
    mode_t mode;
} qvirSecurityDACRecord;

/* The xattr NAME of PATH as a string, or NULL (errno set; ENODATA when absent). */
static char *
qvirSecurityDACGetXattr(const char *path, const char *name)
{
    char buf[128];
    ssize_t n = getxattr(path, name, buf, sizeof(buf) - 1);

    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return g_strdup(buf);
}

static void
qvirSecurityDACDropRecord(const char *path)
{
    (void)removexattr(path, QVIR_SECURITY_XATTR_REF);
    (void)removexattr(path, QVIR_SECURITY_XATTR_OWNER);
    (void)removexattr(path, QVIR_SECURITY_XATTR_STAMP);
}

/* Read PATH's record. FALSE (errno set) when the filesystem has no xattrs at all. */
static gboolean
qvirSecurityDACReadRecord(const qvirSecurityDAC *sec, const char *path, qvirSecurityDACRecord *rec)
{
    g_autofree char *ref = NULL;
    g_autofree char *owner = NULL;
    g_autofree char *stamp = NULL;
    unsigned int uid, gid, mode;
    guint64 refs;

    memset(rec, 0, sizeof(*rec));
    if (!(ref = qvirSecurityDACGetXattr(path, QVIR_SECURITY_XATTR_REF)))
        return errno == ENODATA;
    owner = qvirSecurityDACGetXattr(path, QVIR_SECURITY_XATTR_OWNER);
    stamp = qvirSecurityDACGetXattr(path, QVIR_SECURITY_XATTR_STAMP);
    if (!owner || !stamp || strcmp(stamp, sec->bootId) != 0 ||
        !g_ascii_string_to_unsigned(ref, 10, 1, G_MAXUINT32, &refs, NULL) ||
        sscanf(owner, "%u:%u:%o", &uid, &gid, &mode) != 3) {
        /* Left by an earlier boot (or damaged): nobody holds the file any more. */
        g_message("discarding stale owner record on '%s'", path);
        qvirSecurityDACDropRecord(path);
        return TRUE;
    }
    rec->valid = TRUE;
    rec->refs = (unsigned int)refs;
    rec->uid = (uid_t)uid;
    rec->gid = (gid_t)gid;
    rec->mode = (mode_t)(mode & 07777);
    return TRUE;
}

static gboolean
qvirSecurityDACWriteRef(const char *path, unsigned int refs)
{
    g_autofree char *val = g_strdup_printf("%u", refs);

    return setxattr(path, QVIR_SECURITY_XATTR_REF, val, strlen(val), 0) == 0;
}

/* First reference: owner, stamp, then the count that makes it valid. */
static gboolean
qvirSecurityDACWriteRecord(const qvirSecurityDAC *sec, const char *path, const struct stat *st)
{
    g_autofree char *owner =
        g_strdup_printf("%u:%u:%o", (unsigned int)st->st_uid, (unsigned int)st->st_gid,
                        (unsigned int)(st->st_mode & 07777));

    if (setxattr(path, QVIR_SECURITY_XATTR_OWNER, owner, strlen(owner), 0) < 0 ||
        setxattr(path, QVIR_SECURITY_XATTR_STAMP, sec->bootId, strlen(sec->bootId), 0) < 0 ||
        !qvirSecurityDACWriteRef(path, 1)) {
        int saved = errno;

        qvirSecurityDACDropRecord(path);
        errno = saved;
        return FALSE;
    }
    return TRUE;
}

static gboolean
qvirSecurityDACXattrUnsupported(int err)
{
    return err == ENOTSUP || err == EOPNOTSUPP || err == EROFS || err == EPERM;
}

/* ---- one path --------------------------------------------------------------------------- */

/*
 * Take one reference on PATH for QEMU: readable, and writable when WRITABLE. WHAT names
 * the user-visible owner of the path ("disk 'vda'", "kernel") for errors.
 */
static gboolean
qvirSecurityDACSetPathAs(qvirSecurityDAC *sec, const char *what, const char *path,
                         gboolean writable, uid_t uid, gid_t gid, GError **error)
{
    int want = R_OK | (writable ? W_OK : 0);
    mode_t need = S_IRUSR | (writable ? S_IWUSR : 0);
    qvirSecurityDACRecord rec = {0};
    gboolean remembered = FALSE;
    struct stat st;

    if (!qvirSecurityDACIsActive(sec))
        return TRUE;
    if (stat(path, &st) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPEN_FAILED, "%s: cannot access file '%s': %s",
                    what, path, g_strerror(errno));
        return FALSE;
    }
    if (!qvirSecurityDACCheckReachable(sec, what, path, error))
        return FALSE;

    if (!sec->dynamicOwnership) {
        if (qvirSecurityDACAccessible(sec, path, want))
            return TRUE;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ACCESS_DENIED,
                    "%s: file '%s' is not %s by QEMU's user '%s' (uid %u, gid %u) and "
                    "dynamic_ownership is off",
                    what, path, writable ? "readable and writable" : "readable", sec->userName,
                    (unsigned int)sec->uid, (unsigned int)sec->gid);
        return FALSE;
    }

    g_mutex_lock(&sec->lock);
    if (sec->rememberOwner && qvirSecurityDACReadRecord(sec, path, &rec)) {
        if (rec.valid) {
            if (st.st_uid != uid || st.st_gid != gid) {
                g_mutex_unlock(&sec->lock);
                g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "%s: setting different DAC user or group on '%s' which is already "
                            "in use",
                            what, path);
                return FALSE;
            }
            remembered = qvirSecurityDACWriteRef(path, rec.refs + 1);
        } else {
            remembered = qvirSecurityDACWriteRecord(sec, path, &st);
        }
        if (!remembered && !qvirSecurityDACXattrUnsupported(errno)) {
            int saved = errno;

            g_mutex_unlock(&sec->lock);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                        "%s: cannot remember the owner of file '%s': %s", what, path,
                        g_strerror(saved));
            return FALSE;
        }
    }

    if ((st.st_uid != uid || st.st_gid != gid) && chown(path, uid, gid) < 0) {
        int saved = errno;

        /* A root-squashed or read-only file QEMU can use as it is needs no label. */
        if (!qvirSecurityDACAccessible(sec, path, want)) {
            if (remembered) {
                if (rec.valid)
                    (void)qvirSecurityDACWriteRef(path, rec.refs);
                else
                    qvirSecurityDACDropRecord(path);
            }
            g_mutex_unlock(&sec->lock);
            if (uid == sec->uid && gid == sec->gid)
                g_set_error(error, QVIR_ERROR, QVIR_ERR_ACCESS_DENIED,
                            "%s: cannot change the owner of file '%s' to %s:%s (%u:%u): %s", what,
                            path, sec->userName, sec->groupName, (unsigned int)uid,
                            (unsigned int)gid, g_strerror(saved));
            else
                g_set_error(error, QVIR_ERROR, QVIR_ERR_ACCESS_DENIED,
                            "%s: cannot change the owner of file '%s' to %u:%u: %s", what, path,
                            (unsigned int)uid, (unsigned int)gid, g_strerror(saved));
            return FALSE;
        }
        g_mutex_unlock(&sec->lock);
        return TRUE;
    }
    /* Only owner bits are added; set-id bits (which chown(2) cleared) are never given to
     * QEMU's user: the recorded mode brings them back with the last reference. */
    if ((st.st_mode & need) != need && chmod(path, (st.st_mode & 0777) | need) < 0)
        g_message("%s: cannot make '%s' %s for its owner: %s", what, path,
                  writable ? "writable" : "readable", g_strerror(errno));
    g_mutex_unlock(&sec->lock);
    return TRUE;
}

/*
 * Drop one reference on PATH; the last one puts the original owner and mode back. With a
 * record this touches only the file's attributes (no stat, no open): a running domain's
 * images are never looked at again once its chain is cached.
 */
static void
qvirSecurityDACRestorePath(qvirSecurityDAC *sec, const char *path)
{
    qvirSecurityDACRecord rec = {0};
    struct stat st;

    if (!qvirSecurityDACIsActive(sec) || !sec->dynamicOwnership)
        return;

    g_mutex_lock(&sec->lock);
    if (sec->rememberOwner && qvirSecurityDACReadRecord(sec, path, &rec) && rec.valid) {
        if (rec.refs > 1) {
            if (!qvirSecurityDACWriteRef(path, rec.refs - 1))
                g_message("cannot update the owner record of '%s': %s", path, g_strerror(errno));
            g_mutex_unlock(&sec->lock);
            return;
        }
        /* chown(2) clears set-id bits: the mode goes back after the owner. */
        if (chown(path, rec.uid, rec.gid) < 0)
            g_message("cannot restore the owner %u:%u of '%s': %s", (unsigned int)rec.uid,
                      (unsigned int)rec.gid, path, g_strerror(errno));
        else if (chmod(path, rec.mode) < 0)
            g_message("cannot restore the mode %o of '%s': %s", (unsigned int)rec.mode, path,
                      g_strerror(errno));
        qvirSecurityDACDropRecord(path);
        g_mutex_unlock(&sec->lock);
        return;
    }
    /* Nothing remembered: as libvirt, a file still labelled for QEMU goes back to root. */
    if (stat(path, &st) == 0 && sec->uid != 0 && st.st_uid == sec->uid && st.st_gid == sec->gid &&
        chown(path, 0, 0) < 0)
        g_message("cannot give '%s' back to root: %s", path, g_strerror(errno));
    g_mutex_unlock(&sec->lock);
}

/* ---- what a domain holds ------------------------------------------------------------- */

typedef struct {
    char *what; /* "disk 'vda'", "kernel" */
    const char *path;
    gboolean writable;
    const char *owner; /* a <seclabel model='dac'><label> "user:group"; NULL: QEMU's user */
} qvirSecurityDACItem;

static void
qvirSecurityDACItemClear(gpointer data)
{
    qvirSecurityDACItem *item = data;

    g_free(item->what);
}

static gboolean
qvirSecurityDACLayerIsLocal(const qvirStorageSource *src)
{
    return (src->type == QVIR_STORAGE_TYPE_FILE || src->type == QVIR_STORAGE_TYPE_BLOCK) &&
           src->path;
}

static void
qvirSecurityDACAddItem(GArray *items, char *what, const char *path, gboolean writable)
{
    qvirSecurityDACItem item = {what, path, writable, NULL};

    g_array_append_val(items, item);
}

/*
 * The dac <seclabel> that decides how LAYER is labelled, as libvirt's DAC driver picks it:
 * the layer's own when it turns relabelling off or names an owner, else the disk's top
 * source's when that does; NULL: the usual owner, QEMU's user.
 */
static const qvirSecurityDeviceLabel *
qvirSecurityDACLayerLabel(const qvirStorageSource *layer, const qvirStorageSource *diskTop)
{
    const qvirSecurityDeviceLabel *own = qvirStorageSourceGetSecurityLabel(layer, "dac");
    const qvirSecurityDeviceLabel *parent = qvirStorageSourceGetSecurityLabel(diskTop, "dac");

    if (own && (!own->relabel || own->label))
        return own;
    if (parent && (!parent->relabel || parent->label))
        return parent;
    return NULL;
}

/* FALSE for a layer whose dac <seclabel> says relabel='no': left as it is, set and restore. */
static gboolean
qvirSecurityDACLayerRelabel(const qvirStorageSource *layer, const qvirStorageSource *diskTop)
{
    const qvirSecurityDeviceLabel *label = qvirSecurityDACLayerLabel(layer, diskTop);

    return !label || label->relabel;
}

static void
qvirSecurityDACCollectChain(GArray *items, const qvirDomainDiskDef *disk,
                            const qvirStorageSource *top)
{
    for (const qvirStorageSource *src = top; qvirStorageSourceIsBacking(src);
         src = src->backingStore) {
        const qvirSecurityDeviceLabel *label = qvirSecurityDACLayerLabel(src, top);

        if (!qvirSecurityDACLayerIsLocal(src))
            continue; /* network layers are opened by QEMU's own drivers */
        if (label && !label->relabel)
            continue;
        qvirSecurityDACAddItem(items, g_strdup_printf("disk '%s'", disk->dst), src->path,
                               src == top && !top->readonly);
        if (label)
            g_array_index(items, qvirSecurityDACItem, items->len - 1).owner = label->label;
    }
}

/*
 * A unix character device QEMU connects to is a socket someone else listens on (libguestfs'
 * console and daemon channel): as libvirt's DAC driver does, QEMU's user gets the socket for
 * the domain's life. Sockets QEMU listens on are passed to it or made in its own directory.
 * A console that mirrors the first serial port names the same socket once.
 */
static void
qvirSecurityDACCollectChardevs(GArray *items, const GPtrArray *chrs, const char *kind)
{
    for (guint i = 0; chrs && i < chrs->len; i++) {
        const qvirDomainChrDef *chr = g_ptr_array_index(chrs, i);
        gboolean seen = FALSE;

        if (g_strcmp0(chr->type, "unix") != 0 || g_strcmp0(chr->sourceMode, "connect") != 0 ||
            !chr->sourcePath)
            continue;
        for (guint j = 0; j < items->len && !seen; j++)
            seen =
                g_strcmp0(g_array_index(items, qvirSecurityDACItem, j).path, chr->sourcePath) == 0;
        if (!seen)
            qvirSecurityDACAddItem(items, g_strdup_printf("%s %u", kind, i), chr->sourcePath, TRUE);
    }
}

static GArray *
qvirSecurityDACItemsNew(void)
{
    GArray *items = g_array_new(FALSE, FALSE, sizeof(qvirSecurityDACItem));

    g_array_set_clear_func(items, qvirSecurityDACItemClear);
    return items;
}

static GArray *
qvirSecurityDACCollectDomain(const qvirDomainDef *def)
{
    GArray *items = qvirSecurityDACItemsNew();

    for (guint i = 0; def->disks && i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        qvirSecurityDACCollectChain(items, disk, disk->src);
    }
    if (def->os.kernel)
        qvirSecurityDACAddItem(items, g_strdup("kernel"), def->os.kernel, FALSE);
    if (def->os.initrd)
        qvirSecurityDACAddItem(items, g_strdup("initrd"), def->os.initrd, FALSE);
    qvirSecurityDACCollectChardevs(items, def->serials, "serial");
    qvirSecurityDACCollectChardevs(items, def->consoles, "console");
    qvirSecurityDACCollectChardevs(items, def->channels, "channel");
    return items;
}

/* A dac label's "user:group": names or "+N" ids, as libvirt reads it. */
static gboolean
qvirSecurityDACParseOwner(const char *label, uid_t *uid, gid_t *gid, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(label, ":", 2);
    unsigned int id;

    if (!parts[0] || !parts[1]) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "Failed to parse uid and gid from '%s'", label);
        return FALSE;
    }
    if (qvirSecurityDACParseId(parts[0], &id)) {
        *uid = (uid_t)id;
    } else {
        struct passwd pwbuf, *pw = NULL;
        char buf[4096];

        if (getpwnam_r(parts[0], &pwbuf, buf, sizeof(buf), &pw) != 0 || !pw) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "Failed to parse user '%s'",
                        parts[0]);
            return FALSE;
        }
        *uid = pw->pw_uid;
    }
    if (qvirSecurityDACParseId(parts[1], &id)) {
        *gid = (gid_t)id;
    } else {
        struct group grbuf, *gr = NULL;
        char buf[16384];

        if (getgrnam_r(parts[1], &grbuf, buf, sizeof(buf), &gr) != 0 || !gr) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "Failed to parse group '%s'",
                        parts[1]);
            return FALSE;
        }
        *gid = gr->gr_gid;
    }
    return TRUE;
}

static gboolean
qvirSecurityDACSetItem(qvirSecurityDAC *sec, const qvirSecurityDACItem *item, GError **error)
{
    uid_t uid = sec->uid;
    gid_t gid = sec->gid;

    if (item->owner && !qvirSecurityDACParseOwner(item->owner, &uid, &gid, error))
        return FALSE;
    return qvirSecurityDACSetPathAs(sec, item->what, item->path, item->writable, uid, gid, error);
}

/* Label every item, or none: what was done is undone on the first failure. */
static gboolean
qvirSecurityDACSetItems(qvirSecurityDAC *sec, GArray *items, GError **error)
{
    for (guint i = 0; i < items->len; i++) {
        qvirSecurityDACItem *item = &g_array_index(items, qvirSecurityDACItem, i);

        if (!qvirSecurityDACSetItem(sec, item, error)) {
            while (i-- > 0)
                qvirSecurityDACRestorePath(sec, g_array_index(items, qvirSecurityDACItem, i).path);
            return FALSE;
        }
    }
    return TRUE;
}

static void
qvirSecurityDACRestoreItems(qvirSecurityDAC *sec, GArray *items)
{
    for (guint i = items->len; i > 0; i--)
        qvirSecurityDACRestorePath(sec, g_array_index(items, qvirSecurityDACItem, i - 1).path);
}

gboolean
qvirSecurityDACSetDomainLabel(qvirSecurityDAC *sec, const qvirDomainDef *def, GError **error)
{
    g_autoptr(GArray) items = NULL;

    g_return_val_if_fail(def != NULL, FALSE);
    if (!qvirSecurityDACIsActive(sec))
        return TRUE;
    items = qvirSecurityDACCollectDomain(def);
    return qvirSecurityDACSetItems(sec, items, error);
}

void
qvirSecurityDACRestoreDomainLabel(qvirSecurityDAC *sec, const qvirDomainDef *def)
{
    g_autoptr(GArray) items = NULL;

    if (!qvirSecurityDACIsActive(sec) || !def)
        return;
    items = qvirSecurityDACCollectDomain(def);
    qvirSecurityDACRestoreItems(sec, items);
}

gboolean
qvirSecurityDACSetChainLabel(qvirSecurityDAC *sec, const qvirDomainDiskDef *disk,
                             const qvirStorageSource *top, GError **error)
{
    g_autoptr(GArray) items = NULL;

    g_return_val_if_fail(disk != NULL, FALSE);
    if (!qvirSecurityDACIsActive(sec))
        return TRUE;
    items = qvirSecurityDACItemsNew();
    qvirSecurityDACCollectChain(items, disk, top);
    return qvirSecurityDACSetItems(sec, items, error);
}

void
qvirSecurityDACRestoreChainLabel(qvirSecurityDAC *sec, const qvirStorageSource *top)
{
    for (const qvirStorageSource *src = top;
         qvirSecurityDACIsActive(sec) && qvirStorageSourceIsBacking(src); src = src->backingStore) {
        if (qvirSecurityDACLayerIsLocal(src) && qvirSecurityDACLayerRelabel(src, top))
            qvirSecurityDACRestorePath(sec, src->path);
    }
}

gboolean
qvirSecurityDACSetImageLabel(qvirSecurityDAC *sec, const char *diskName,
                             const qvirStorageSource *src, gboolean writable, GError **error)
{
    g_autofree char *what = NULL;

    if (!qvirSecurityDACIsActive(sec) || !src || !qvirSecurityDACLayerIsLocal(src))
        return TRUE;
    what = g_strdup_printf("disk '%s'", diskName ? diskName : "?");
    /* a lone image: only its own <seclabel> counts */
    {
        qvirSecurityDACItem item = {what, src->path, writable, NULL};
        const qvirSecurityDeviceLabel *label = qvirSecurityDACLayerLabel(src, NULL);

        if (label && !label->relabel)
            return TRUE;
        item.owner = label ? label->label : NULL;
        return qvirSecurityDACSetItem(sec, &item, error);
    }
}

void
qvirSecurityDACRestoreImageLabel(qvirSecurityDAC *sec, const qvirStorageSource *src)
{
    if (qvirSecurityDACIsActive(sec) && src && qvirSecurityDACLayerIsLocal(src) &&
        qvirSecurityDACLayerRelabel(src, NULL))
        qvirSecurityDACRestorePath(sec, src->path);
}

gboolean
qvirSecurityDACSetImageWritable(qvirSecurityDAC *sec, const char *diskName,
                                const qvirStorageSource *src, GError **error)
{
    qvirSecurityDACRecord rec = {0};
    struct stat st;
    mode_t mode;

    if (!qvirSecurityDACIsActive(sec) || !sec->dynamicOwnership || !src ||
        !qvirSecurityDACLayerIsLocal(src))
        return TRUE;
    /* The record knows the mode (what we set is the original plus owner bits): a running
     * domain's images are not looked at again. */
    g_mutex_lock(&sec->lock);
    if (sec->rememberOwner && qvirSecurityDACReadRecord(sec, src->path, &rec) && rec.valid) {
        mode = rec.mode | S_IRUSR;
    } else if (stat(src->path, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        g_mutex_unlock(&sec->lock);
        return TRUE; /* QEMU's own error names the file */
    }
    if (!(mode & S_IWUSR) && chmod(src->path, mode | S_IWUSR) < 0) {
        int saved = errno;

        g_mutex_unlock(&sec->lock);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ACCESS_DENIED,
                    "disk '%s': cannot make file '%s' writable for QEMU's user '%s': %s",
                    diskName ? diskName : "?", src->path, sec->userName, g_strerror(saved));
        return FALSE;
    }
    g_mutex_unlock(&sec->lock);
    return TRUE;
}

void
qvirSecurityDACRestoreRemoved(qvirSecurityDAC *sec, const qvirDomainDef *olddef,
                              const qvirDomainDef *newdef)
{
    g_autoptr(GArray) before = NULL;
    g_autoptr(GArray) after = NULL;
    g_autoptr(GHashTable) held = NULL;

    if (!qvirSecurityDACIsActive(sec) || !olddef || !newdef)
        return;
    before = qvirSecurityDACCollectDomain(olddef);
    after = qvirSecurityDACCollectDomain(newdef);
    /* path -> references NEWDEF still holds */
    held = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < after->len; i++) {
        const char *path = g_array_index(after, qvirSecurityDACItem, i).path;
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(held, path));

        g_hash_table_insert(held, (gpointer)path, GUINT_TO_POINTER(n + 1));
    }
    for (guint i = before->len; i > 0; i--) {
        const char *path = g_array_index(before, qvirSecurityDACItem, i - 1).path;
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(held, path));

        if (n > 0) {
            g_hash_table_insert(held, (gpointer)path, GUINT_TO_POINTER(n - 1));
            continue;
        }
        qvirSecurityDACRestorePath(sec, path);
    }
}

gboolean
qvirSecurityDACJournalWrite(qvirSecurityDAC *sec, const char *journal, const qvirDomainDef *def,
                            GError **error)
{
    g_autoptr(GArray) items = NULL;
    g_autoptr(GString) buf = g_string_new(NULL);

    if (!qvirSecurityDACIsActive(sec) || !sec->dynamicOwnership)
        return TRUE;
    items = qvirSecurityDACCollectDomain(def);
    /* NUL-separated: a path may hold any other byte. */
    for (guint i = 0; i < items->len; i++)
        g_string_append_len(buf, g_array_index(items, qvirSecurityDACItem, i).path,
                            (gssize)strlen(g_array_index(items, qvirSecurityDACItem, i).path) + 1);
    return qvirFileWriteAtomic(journal, buf->str, buf->len, 0600, error);
}

void
qvirSecurityDACJournalReplay(qvirSecurityDAC *sec, const char *journal)
{
    g_autofree char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(journal, &data, &len, NULL))
        return;
    for (gsize off = 0; off < len;) {
        const char *path = data + off;
        gsize n = strnlen(path, len - off);

        if (n > 0 && n < len - off) {
            g_message("restoring '%s', labelled by a start that never completed", path);
            qvirSecurityDACRestorePath(sec, path);
        }
        off += n + 1;
    }
    (void)unlink(journal);
}

gboolean
qvirSecurityDACSetDaemonPath(qvirSecurityDAC *sec, const char *path, mode_t mode, GError **error)
{
    if (!qvirSecurityDACIsActive(sec))
        return TRUE;
    if (!qvirSecurityDACCheckReachable(sec, "domain directory", path, error))
        return FALSE;
    if (chown(path, sec->uid, sec->gid) < 0 || chmod(path, mode) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "cannot hand '%s' to QEMU's user '%s' (uid %u, gid %u): %s", path,
                    sec->userName, (unsigned int)sec->uid, (unsigned int)sec->gid,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* ---- the child ---------------------------------------------------------------------- */

/* async-signal-safe */
static void G_GNUC_NORETURN
qvirSecurityDACChildFail(const char *step)
{
    qvirFileChildFail("qvirt: cannot drop QEMU's privileges: ", step, NULL);
}

/*
 * CAP_SYS_RAWIO alone, permitted, effective and inheritable, and ambient so that exec
 * keeps it for a QEMU user other than root (async-signal-safe).
 */
static void
qvirSecurityDACChildKeepRawio(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    guint32 mask = CAP_TO_MASK(CAP_SYS_RAWIO);

    memset(data, 0, sizeof(data));
    data[CAP_TO_INDEX(CAP_SYS_RAWIO)].effective = mask;
    data[CAP_TO_INDEX(CAP_SYS_RAWIO)].permitted = mask;
    data[CAP_TO_INDEX(CAP_SYS_RAWIO)].inheritable = mask;
    if (syscall(SYS_capset, &hdr, data) < 0)
        qvirSecurityDACChildFail("capset");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_RAWIO, 0, 0) < 0)
        qvirSecurityDACChildFail("PR_CAP_AMBIENT_RAISE");
}

void
qvirSecurityDACChildSetup(const qvirSecurityDAC *sec, gboolean keepRawio)
{
    /* a root QEMU that keeps its capabilities has CAP_SYS_RAWIO already */
    gboolean rawio = sec && sec->active && keepRawio && (sec->uid != 0 || sec->clearCapabilities);

    if (!sec)
        return;
    if (sec->active) {
        if (sec->clearCapabilities) {
            /* Bounding set first: it needs CAP_SETPCAP, which the uid switch drops. */
            for (int c = 0; c <= sec->lastCap; c++) {
                if (rawio && c == CAP_SYS_RAWIO)
                    continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                    qvirSecurityDACChildFail("PR_CAPBSET_DROP");
            }
            (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        }
        /* the permitted set survives the uid switch only when asked to */
        if (prctl(PR_SET_KEEPCAPS, rawio ? 1 : 0, 0, 0, 0) < 0)
            qvirSecurityDACChildFail("PR_SET_KEEPCAPS");
        if (setgroups((size_t)sec->ngroups, sec->groups) < 0)
            qvirSecurityDACChildFail("setgroups");
        if (setresgid(sec->gid, sec->gid, sec->gid) < 0)
            qvirSecurityDACChildFail("setresgid");
        if (setresuid(sec->uid, sec->uid, sec->uid) < 0)
            qvirSecurityDACChildFail("setresuid");
        if (rawio) {
            qvirSecurityDACChildKeepRawio();
        } else if (sec->clearCapabilities && sec->uid == 0) {
            /* root explicitly: the uid switch kept every capability; clear them. */
            struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
            struct __user_cap_data_struct data[2];

            memset(data, 0, sizeof(data));
            if (syscall(SYS_capset, &hdr, data) < 0)
                qvirSecurityDACChildFail("capset");
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        qvirSecurityDACChildFail("PR_SET_NO_NEW_PRIVS");
}
