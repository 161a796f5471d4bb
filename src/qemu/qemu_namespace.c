/*
 * qemu_namespace.c: QEMU's private /dev.
 *
 * The child (qemu_process.c's spawn hook, still root) runs qemuNamespaceChildSetup: a new
 * mount namespace in which "/" becomes a slave (nothing it mounts reaches the host), a
 * tmpfs on the stage directory filled with the planned nodes, links and bind mounts, then
 * moved onto /dev. Every path and number was computed here in the daemon beforehand: after
 * fork() in a threaded process only system calls are safe.
 */
#include "qemu/qemu_namespace.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "util/virerror.h"
#include "util/virfile.h"

/* libvirt's default cgroup_device_acl: what every QEMU may open. */
static const char *const qemuNamespaceDefaultDevices[] = {
    "/dev/null", "/dev/full", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/ptmx", "/dev/kvm",
};

static const char *const qemuNamespaceLinks[][2] = {
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
};

typedef struct {
    char *path; /* where the node goes: under the stage (start) or /dev (hot-plug) */
    mode_t mode;
    dev_t rdev;
    uid_t uid;
    gid_t gid;
} qemuNamespaceNode;

struct _qemuNamespace {
    char *stage;
    GPtrArray *dirs;  /* directories to make below the stage, parents first */
    GArray *nodes;    /* qemuNamespaceNode */
    GPtrArray *links; /* link path, target, link path, target, ... */
    GPtrArray *binds; /* host mount, stage directory, ... */
};

static void
qemuNamespaceNodeClear(gpointer data)
{
    qemuNamespaceNode *node = data;

    g_free(node->path);
}

static GArray *
qemuNamespaceNodesNew(void)
{
    GArray *nodes = g_array_new(FALSE, TRUE, sizeof(qemuNamespaceNode));

    g_array_set_clear_func(nodes, qemuNamespaceNodeClear);
    return nodes;
}

void
qemuNamespaceFree(qemuNamespace *ns)
{
    if (!ns)
        return;
    g_free(ns->stage);
    g_ptr_array_unref(ns->dirs);
    g_array_unref(ns->nodes);
    g_ptr_array_unref(ns->links);
    g_ptr_array_unref(ns->binds);
    g_free(ns);
}

/* ---- planning ----------------------------------------------------------------------- */

/* The directories between ROOT and REL's last component, parents first, each once. */
static void
qemuNamespaceAddParents(GPtrArray *dirs, const char *root, const char *rel)
{
    g_autofree char *copy = g_strdup(rel);

    for (char *slash = strchr(copy, '/'); slash; slash = strchr(slash + 1, '/')) {
        g_autofree char *dir = NULL;
        gboolean known = FALSE;

        *slash = '\0';
        dir = g_build_filename(root, copy, NULL);
        *slash = '/';
        for (guint i = 0; i < dirs->len && !known; i++)
            known = strcmp(g_ptr_array_index(dirs, i), dir) == 0;
        if (!known)
            g_ptr_array_add(dirs, g_steal_pointer(&dir));
    }
}

/* A device node for PATH (under /dev) placed at ROOT/<PATH without /dev/>; FALSE when PATH
 * is not a device node (a file on a bound mount such as /dev/shm needs nothing). */
static gboolean
qemuNamespaceAddNode(GArray *nodes, GPtrArray *dirs, const char *root, const char *path)
{
    const char *rel = path + strlen("/dev/");
    g_autofree char *where = g_build_filename(root, rel, NULL);
    qemuNamespaceNode node = {0};
    struct stat st;

    if (stat(path, &st) < 0 || (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)))
        return FALSE;
    for (guint i = 0; i < nodes->len; i++) {
        if (strcmp(g_array_index(nodes, qemuNamespaceNode, i).path, where) == 0)
            return TRUE;
    }
    qemuNamespaceAddParents(dirs, root, rel);
    node.path = g_steal_pointer(&where);
    node.mode = st.st_mode;
    node.rdev = st.st_rdev;
    node.uid = st.st_uid;
    node.gid = st.st_gid;
    g_array_append_val(nodes, node);
    return TRUE;
}

static gboolean
qemuNamespaceIsDevPath(const char *path)
{
    return path && g_str_has_prefix(path, "/dev/") && !strstr(path, "/../");
}

static void
qemuNamespaceAddChainNodes(GArray *nodes, GPtrArray *dirs, const char *root,
                           const qvirStorageSource *top)
{
    for (const qvirStorageSource *src = top; qvirStorageSourceIsBacking(src);
         src = src->backingStore) {
        if ((src->type == QVIR_STORAGE_TYPE_FILE || src->type == QVIR_STORAGE_TYPE_BLOCK) &&
            qemuNamespaceIsDevPath(src->path))
            (void)qemuNamespaceAddNode(nodes, dirs, root, src->path);
    }
}

/* The host's mounts directly under /dev (pts, shm, mqueue, hugepages): bound in as they are. */
static void
qemuNamespaceAddMounts(qemuNamespace *ns)
{
    g_autofree char *mounts = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents("/proc/self/mounts", &mounts, NULL, NULL))
        return;
    lines = g_strsplit(mounts, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) fields = g_strsplit(lines[i], " ", 3);
        const char *target;
        gboolean known = FALSE;

        if (g_strv_length(fields) < 2)
            continue;
        target = fields[1];
        if (!g_str_has_prefix(target, "/dev/") || strchr(target + 5, '/') || strchr(target, '\\'))
            continue;
        for (guint j = 0; j < ns->binds->len && !known; j += 2)
            known = strcmp(g_ptr_array_index(ns->binds, j), target) == 0;
        if (known)
            continue;
        g_ptr_array_add(ns->binds, g_strdup(target));
        g_ptr_array_add(ns->binds, g_build_filename(ns->stage, target + 5, NULL));
    }
}

qemuNamespace *
qemuNamespaceNew(const qvirDomainDef *def, const char *stageDir, GError **error)
{
    g_autoptr(qemuNamespace) ns = g_new0(qemuNamespace, 1);

    g_return_val_if_fail(def != NULL && stageDir != NULL, NULL);

    if (g_mkdir_with_parents(stageDir, 0700) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create directory '%s': %s",
                    stageDir, g_strerror(errno));
        return NULL;
    }
    ns->stage = g_strdup(stageDir);
    ns->dirs = g_ptr_array_new_with_free_func(g_free);
    ns->nodes = qemuNamespaceNodesNew();
    ns->links = g_ptr_array_new_with_free_func(g_free);
    ns->binds = g_ptr_array_new_with_free_func(g_free);

    for (gsize i = 0; i < G_N_ELEMENTS(qemuNamespaceDefaultDevices); i++)
        (void)qemuNamespaceAddNode(ns->nodes, ns->dirs, ns->stage, qemuNamespaceDefaultDevices[i]);
    for (guint i = 0; def->disks && i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        qemuNamespaceAddChainNodes(ns->nodes, ns->dirs, ns->stage, disk->src);
    }
    /* a serial or console on a host device (type='dev'): QEMU opens that node */
    for (guint i = 0; def->serials && i < def->serials->len; i++) {
        const qvirDomainChrDef *chr = g_ptr_array_index(def->serials, i);

        if (g_strcmp0(chr->type, "dev") == 0 && qemuNamespaceIsDevPath(chr->sourcePath))
            (void)qemuNamespaceAddNode(ns->nodes, ns->dirs, ns->stage, chr->sourcePath);
    }
    for (guint i = 0; def->consoles && i < def->consoles->len; i++) {
        const qvirDomainChrDef *chr = g_ptr_array_index(def->consoles, i);

        if (g_strcmp0(chr->type, "dev") == 0 && qemuNamespaceIsDevPath(chr->sourcePath))
            (void)qemuNamespaceAddNode(ns->nodes, ns->dirs, ns->stage, chr->sourcePath);
    }
    if (qemuNamespaceIsDevPath(def->os.kernel))
        (void)qemuNamespaceAddNode(ns->nodes, ns->dirs, ns->stage, def->os.kernel);
    if (qemuNamespaceIsDevPath(def->os.initrd))
        (void)qemuNamespaceAddNode(ns->nodes, ns->dirs, ns->stage, def->os.initrd);
    for (gsize i = 0; i < G_N_ELEMENTS(qemuNamespaceLinks); i++) {
        g_ptr_array_add(ns->links, g_build_filename(ns->stage, qemuNamespaceLinks[i][0], NULL));
        g_ptr_array_add(ns->links, g_strdup(qemuNamespaceLinks[i][1]));
    }
    qemuNamespaceAddMounts(ns);
    return g_steal_pointer(&ns);
}

/* ---- is it allowed here? -------------------------------------------------------------- */

static gpointer
qemuNamespaceProbe(gpointer data)
{
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
            mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID, "size=4k") < 0)
            _exit(1);
        _exit(0);
    }
    if (pid < 0)
        return GINT_TO_POINTER(FALSE);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return GINT_TO_POINTER(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

gboolean
qemuNamespaceAvailable(void)
{
    static GOnce once = G_ONCE_INIT;

    g_once(&once, qemuNamespaceProbe, NULL);
    return GPOINTER_TO_INT(once.retval);
}

/* ---- in the child ----------------------------------------------------------------------- */

/* async-signal-safe */
static void G_GNUC_NORETURN
qemuNamespaceChildFail(const char *step, const char *path)
{
    qvirFileChildFail("qvirt: cannot set up QEMU's private /dev: ", step, path);
}

static void
qemuNamespaceMakeNode(const qemuNamespaceNode *node, gboolean replace)
{
    if (mknod(node->path, node->mode, node->rdev) < 0) {
        if (errno != EEXIST || !replace)
            qemuNamespaceChildFail("mknod", node->path);
        if (unlink(node->path) < 0 || mknod(node->path, node->mode, node->rdev) < 0)
            qemuNamespaceChildFail("mknod", node->path);
    }
    if (chown(node->path, node->uid, node->gid) < 0)
        qemuNamespaceChildFail("chown", node->path);
    if (chmod(node->path, node->mode & 07777) < 0)
        qemuNamespaceChildFail("chmod", node->path);
}

void
qemuNamespaceChildSetup(const qemuNamespace *ns)
{
    if (!ns)
        return;
    if (unshare(CLONE_NEWNS) < 0)
        qemuNamespaceChildFail("unshare", NULL);
    /* Nothing mounted from here on propagates to the host. */
    if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        qemuNamespaceChildFail("mount --make-rslave", "/");
    if (mount("tmpfs", ns->stage, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536") < 0)
        qemuNamespaceChildFail("mount tmpfs", ns->stage);
    for (guint i = 0; i < ns->dirs->len; i++) {
        if (mkdir(g_ptr_array_index(ns->dirs, i), 0755) < 0 && errno != EEXIST)
            qemuNamespaceChildFail("mkdir", g_ptr_array_index(ns->dirs, i));
    }
    for (guint i = 0; i < ns->nodes->len; i++)
        qemuNamespaceMakeNode(&g_array_index(ns->nodes, qemuNamespaceNode, i), FALSE);
    for (guint i = 0; i + 1 < ns->links->len; i += 2) {
        if (symlink(g_ptr_array_index(ns->links, i + 1), g_ptr_array_index(ns->links, i)) < 0)
            qemuNamespaceChildFail("symlink", g_ptr_array_index(ns->links, i));
    }
    for (guint i = 0; i + 1 < ns->binds->len; i += 2) {
        const char *dest = g_ptr_array_index(ns->binds, i + 1);

        if (mkdir(dest, 0755) < 0 && errno != EEXIST)
            qemuNamespaceChildFail("mkdir", dest);
        if (mount(g_ptr_array_index(ns->binds, i), dest, NULL, MS_BIND | MS_REC, NULL) < 0)
            qemuNamespaceChildFail("mount --rbind", dest);
    }
    if (mount(ns->stage, "/dev", NULL, MS_MOVE, NULL) < 0)
        qemuNamespaceChildFail("mount --move", "/dev");
}

/* ---- hot-plug ---------------------------------------------------------------------------- */

/* Does PID live in a mount namespace of its own (a QEMU started with a private /dev)? */
static gboolean
qemuNamespaceIsPrivate(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/ns/mnt", (int)pid);
    struct stat theirs, ours;

    if (stat(path, &theirs) < 0 || stat("/proc/self/ns/mnt", &ours) < 0)
        return FALSE;
    return theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev;
}

/* In a helper that joins PID's mount namespace: make NODES (and DIRS) or, with REMOVE,
 * unlink them. FALSE when the helper failed. */
static gboolean
qemuNamespaceRunInside(pid_t pid, GPtrArray *dirs, GArray *nodes, gboolean remove, GError **error)
{
    g_autofree char *nsPath = g_strdup_printf("/proc/%d/ns/mnt", (int)pid);
    int status = 0;
    pid_t child;
    int fd;

    if ((fd = open(nsPath, O_RDONLY | O_CLOEXEC)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "cannot open QEMU's mount namespace '%s': %s", nsPath, g_strerror(errno));
        return FALSE;
    }
    /* setns() into a mount namespace needs a single-threaded caller: a forked helper. */
    if ((child = fork()) == 0) {
        if (setns(fd, CLONE_NEWNS) < 0)
            qemuNamespaceChildFail("setns", NULL);
        for (guint i = 0; !remove && i < dirs->len; i++) {
            if (mkdir(g_ptr_array_index(dirs, i), 0755) < 0 && errno != EEXIST)
                qemuNamespaceChildFail("mkdir", g_ptr_array_index(dirs, i));
        }
        for (guint i = 0; i < nodes->len; i++) {
            const qemuNamespaceNode *node = &g_array_index(nodes, qemuNamespaceNode, i);

            if (!remove)
                qemuNamespaceMakeNode(node, TRUE);
            else if (unlink(node->path) < 0 && errno != ENOENT)
                qemuNamespaceChildFail("unlink", node->path);
        }
        _exit(0);
    }
    close(fd);
    if (child < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot fork: %s", g_strerror(errno));
        return FALSE;
    }
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "cannot %s device nodes in QEMU's /dev (pid %d)", remove ? "remove" : "create",
                    (int)pid);
        return FALSE;
    }
    return TRUE;
}

void
qemuNamespaceRemoveUnused(pid_t pid, const qvirDomainDef *olddef, const qvirDomainDef *newdef)
{
    g_autoptr(GArray) before = qemuNamespaceNodesNew();
    g_autoptr(GArray) after = qemuNamespaceNodesNew();
    g_autoptr(GArray) gone = qemuNamespaceNodesNew();
    g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;

    if (pid <= 0 || !olddef || !newdef || !qemuNamespaceIsPrivate(pid))
        return;
    for (guint i = 0; olddef->disks && i < olddef->disks->len; i++)
        qemuNamespaceAddChainNodes(before, dirs, "/dev",
                                   ((qvirDomainDiskDef *)g_ptr_array_index(olddef->disks, i))->src);
    for (guint i = 0; newdef->disks && i < newdef->disks->len; i++)
        qemuNamespaceAddChainNodes(after, dirs, "/dev",
                                   ((qvirDomainDiskDef *)g_ptr_array_index(newdef->disks, i))->src);
    for (guint i = 0; i < before->len; i++) {
        qemuNamespaceNode *node = &g_array_index(before, qemuNamespaceNode, i);
        gboolean kept = FALSE;

        for (guint j = 0; j < after->len && !kept; j++)
            kept = strcmp(node->path, g_array_index(after, qemuNamespaceNode, j).path) == 0;
        if (!kept) {
            qemuNamespaceNode copy = *node;

            copy.path = g_strdup(node->path);
            g_array_append_val(gone, copy);
        }
    }
    if (gone->len > 0 && !qemuNamespaceRunInside(pid, dirs, gone, TRUE, &err))
        g_message("%s", err->message);
}

gboolean
qemuNamespaceAddChain(pid_t pid, const qvirStorageSource *top, GError **error)
{
    g_autoptr(GArray) nodes = qemuNamespaceNodesNew();
    g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func(g_free);

    if (pid <= 0 || !qemuNamespaceIsPrivate(pid))
        return TRUE;
    qemuNamespaceAddChainNodes(nodes, dirs, "/dev", top);
    if (nodes->len == 0)
        return TRUE;
    if (!qemuNamespaceRunInside(pid, dirs, nodes, FALSE, error)) {
        g_prefix_error(error, "'%s': ", top && top->path ? top->path : "?");
        return FALSE;
    }
    return TRUE;
}
