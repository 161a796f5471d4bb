/*
 * qemu_driver_snapshot.c: external disk-only snapshots of running domains, their deletion
 * (each overlay committed back into its parent, as libvirt 9.0 does), and their metadata
 * (stateDir/qemu/snapshot/DOMAIN/SNAPSHOT.xml, libvirt's <domainsnapshot> with a <parent>),
 * so snapshot-list and friends survive a daemon restart.
 *
 * The snapshot itself (overlays created, added and switched in one transaction) is
 * qemu_snapshot.c's; here it runs on a copy of the live definition that is swapped in
 * when it succeeded, exactly like the other live disk operations.
 */
#define G_LOG_DOMAIN "qvirt-driver"

#include <errno.h>
#include <string.h>
#include <libxml/parser.h>
#include <glib/gstdio.h>

#include "qemu/qemu_driverpriv.h"
#include "qemu/qemu_process.h"
#include "qemu/qemu_snapshot.h"
#include "util/virerror.h"
#include "util/virfile.h"

/* libvirt-domain-snapshot.h */
#define QEMU_SNAP_CREATE_REDEFINE (1u << 0)
#define QEMU_SNAP_CREATE_CURRENT (1u << 1)
#define QEMU_SNAP_CREATE_NO_METADATA (1u << 2)
#define QEMU_SNAP_CREATE_HALT (1u << 3)
#define QEMU_SNAP_CREATE_DISK_ONLY (1u << 4)
#define QEMU_SNAP_CREATE_REUSE_EXT (1u << 5)
#define QEMU_SNAP_CREATE_QUIESCE (1u << 6)
#define QEMU_SNAP_CREATE_ATOMIC (1u << 7)
#define QEMU_SNAP_CREATE_LIVE (1u << 8)
#define QEMU_SNAP_CREATE_VALIDATE (1u << 9)

#define QEMU_SNAP_LIST_ROOTS (1u << 0)
#define QEMU_SNAP_LIST_DESCENDANTS (1u << 0)
#define QEMU_SNAP_LIST_METADATA (1u << 1)
#define QEMU_SNAP_LIST_LEAVES (1u << 2)
#define QEMU_SNAP_LIST_NO_LEAVES (1u << 3)
#define QEMU_SNAP_LIST_NO_METADATA (1u << 4)
#define QEMU_SNAP_LIST_INACTIVE (1u << 5)
#define QEMU_SNAP_LIST_ACTIVE (1u << 6)
#define QEMU_SNAP_LIST_DISK_ONLY (1u << 7)
#define QEMU_SNAP_LIST_INTERNAL (1u << 8)
#define QEMU_SNAP_LIST_EXTERNAL (1u << 9)
#define QEMU_SNAP_LIST_TOPOLOGICAL (1u << 10)
#define QEMU_SNAP_LIST_ALL 0x7ffu

#define QEMU_SNAP_DELETE_CHILDREN (1u << 0)
#define QEMU_SNAP_DELETE_METADATA_ONLY (1u << 1)
#define QEMU_SNAP_DELETE_CHILDREN_ONLY (1u << 2)

#define QEMU_SNAP_XML_SECURE (1u << 0)

#define QEMU_SNAP_REVERT_RUNNING (1u << 0)
#define QEMU_SNAP_REVERT_PAUSED (1u << 1)
#define QEMU_SNAP_REVERT_FORCE (1u << 2)
#define QEMU_SNAP_REVERT_RESET_NVRAM (1u << 3)

/* ---- metadata files ----------------------------------------------------------------- */

static char *
qemuDriverSnapshotDir(qvirDriver *drv, const char *domain)
{
    return g_build_filename(drv->cfg->stateDir, "qemu", "snapshot", domain, NULL);
}

/* A snapshot name becomes a file name: no separators, nothing hidden. */
/* Metadata files are named after snapshots: libvirt refuses names that would escape
 * (qemuSnapshotCreateXMLValidateDef), with XML_DETAIL's bare text. */
static gboolean
qemuDriverSnapshotCheckName(const char *name, GError **error)
{
    if (strchr(name, '/')) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL,
                    "invalid snapshot name '%s': name can't contain '/'", name);
        return FALSE;
    }
    if (name[0] == '.') {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_DETAIL,
                    "invalid snapshot name '%s': name can't start with '.'", name);
        return FALSE;
    }
    return TRUE;
}

/* <domainsnapshot> with <parent> added where libvirt puts it (after <state>). */
static char *
qemuDriverSnapshotFormat(const qemuDomainSnapshot *snap)
{
    g_autofree char *xml = qemuSnapshotDefFormat(snap->def);
    g_autofree char *esc = NULL;
    const char *at;
    GString *buf;

    if (!snap->parent)
        return g_steal_pointer(&xml);
    esc = g_markup_escape_text(snap->parent, -1);
    if (!(at = strstr(xml, "  <creationTime>")) && !(at = strstr(xml, "  <memory")) &&
        !(at = strstr(xml, "  <disks>")) && !(at = strstr(xml, "</domainsnapshot>")))
        return g_steal_pointer(&xml);
    buf = g_string_new_len(xml, at - xml);
    g_string_append_printf(buf, "  <parent>\n    <name>%s</name>\n  </parent>\n", esc);
    g_string_append(buf, at);
    return g_string_free(buf, FALSE);
}

static gboolean
qemuDriverSnapshotWrite(qvirDriver *drv, qemuDomainObj *obj, const qemuDomainSnapshot *snap,
                        GError **error)
{
    g_autofree char *dir = qemuDriverSnapshotDir(drv, obj->name);
    g_autofree char *file = g_strdup_printf("%s.xml", snap->def->name);
    g_autofree char *path = g_build_filename(dir, file, NULL);
    g_autofree char *xml = qemuDriverSnapshotFormat(snap);

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        int saved = errno;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create directory '%s': %s",
                    dir, g_strerror(saved));
        return FALSE;
    }
    return qvirFileWriteAtomic(path, xml, strlen(xml), 0600, error);
}

static void
qemuDriverSnapshotUnlink(qvirDriver *drv, qemuDomainObj *obj, const char *name)
{
    g_autofree char *dir = qemuDriverSnapshotDir(drv, obj->name);
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    g_autofree char *path = g_build_filename(dir, file, NULL);

    if (g_unlink(path) < 0 && errno != ENOENT)
        g_message("domain '%s': cannot remove '%s': %s", obj->name, path, g_strerror(errno));
    (void)g_rmdir(dir); /* only once empty */
}

/* The <parent><name> of a metadata file (qemu_snapshot.c's parser ignores it). */
static char *
qemuDriverSnapshotParseParent(const char *xml)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "snapshot.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr root;
    char *parent = NULL;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    for (xmlNodePtr cur = root ? root->children : NULL; cur && !parent; cur = cur->next) {
        if (cur->type != XML_ELEMENT_NODE || strcmp((const char *)cur->name, "parent") != 0)
            continue;
        for (xmlNodePtr n = cur->children; n; n = n->next) {
            if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, "name") == 0) {
                xmlChar *content = xmlNodeGetContent(n);
                parent = g_strdup((const char *)content);
                xmlFree(content);
                break;
            }
        }
    }
    xmlFreeDoc(doc);
    return parent;
}

static gint
qemuDriverSnapshotCompare(gconstpointer a, gconstpointer b)
{
    const qemuDomainSnapshot *sa = *(qemuDomainSnapshot *const *)a;
    const qemuDomainSnapshot *sb = *(qemuDomainSnapshot *const *)b;

    if (sa->def->creationTime != sb->def->creationTime)
        return sa->def->creationTime < sb->def->creationTime ? -1 : 1;
    return strcmp(sa->def->name, sb->def->name);
}

static qemuDomainSnapshot *
qemuDriverSnapshotFind(qemuDomainObj *obj, const char *name)
{
    for (guint i = 0; name && i < obj->snapshots->len; i++) {
        qemuDomainSnapshot *snap = g_ptr_array_index(obj->snapshots, i);

        if (strcmp(snap->def->name, name) == 0)
            return snap;
    }
    return NULL;
}

void
qemuDriverLoadSnapshots(qvirDriver *drv, qemuDomainObj *obj)
{
    g_autofree char *dir = qemuDriverSnapshotDir(drv, obj->name);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) loaded = g_ptr_array_new();
    const char *entry;
    gint64 newest = G_MININT64;

    if (!d)
        return;
    while ((entry = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, entry, NULL);
        g_autofree char *xml = NULL;
        g_autoptr(GError) err = NULL;
        qemuDomainSnapshot *snap;
        qemuSnapshotDef *def;

        if (entry[0] == '.' || !g_str_has_suffix(entry, ".xml"))
            continue;
        if (!g_file_get_contents(path, &xml, NULL, &err) ||
            !(def = qemuSnapshotDefParseString(xml, &err))) {
            g_message("skipping snapshot metadata '%s': %s", path, err->message);
            continue;
        }
        if (!def->name || !g_str_has_prefix(entry, def->name) ||
            strlen(entry) != strlen(def->name) + 4) {
            g_message("skipping snapshot metadata '%s': its name does not match", path);
            qemuSnapshotDefFree(def);
            continue;
        }
        /* The embedded <domain> comes back as libxml2 dumped it: make it canonical again
         * so snapshot-dumpxml reads the same before and after a restart. */
        if (def->domainXML) {
            /* read as live data: a running domain's CPU carries the features its
             * accelerator gave it */
            g_autoptr(qvirDomainDef) dom =
                qvirDomainDefParseString(def->domainXML, QVIR_DOMAIN_DEF_PARSE_LIVE, NULL);

            if (dom) {
                g_free(def->domainXML);
                def->domainXML = qvirDomainDefFormat(dom, 0);
            }
        }
        snap = g_new0(qemuDomainSnapshot, 1);
        snap->def = def;
        snap->parent = qemuDriverSnapshotParseParent(xml);
        g_ptr_array_add(loaded, snap);
    }
    g_ptr_array_sort(loaded, qemuDriverSnapshotCompare);

    qemuDomainObjLock(obj);
    for (guint i = 0; i < loaded->len; i++) {
        qemuDomainSnapshot *snap = g_ptr_array_index(loaded, i);

        g_ptr_array_add(obj->snapshots, snap);
        /* The newest snapshot is the current one, as after its creation. */
        if (snap->def->creationTime >= newest) {
            newest = snap->def->creationTime;
            g_free(obj->currentSnapshot);
            obj->currentSnapshot = g_strdup(snap->def->name);
        }
    }
    qemuDomainObjUnlock(obj);
}

void
qemuDriverDiscardSnapshots(qvirDriver *drv, qemuDomainObj *obj)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

    qemuDomainObjLock(obj);
    for (guint i = 0; i < obj->snapshots->len; i++) {
        qemuDomainSnapshot *snap = g_ptr_array_index(obj->snapshots, i);
        g_ptr_array_add(names, g_strdup(snap->def->name));
    }
    g_ptr_array_set_size(obj->snapshots, 0);
    g_clear_pointer(&obj->currentSnapshot, g_free);
    qemuDomainObjUnlock(obj);
    for (guint i = 0; i < names->len; i++)
        qemuDriverSnapshotUnlink(drv, obj, g_ptr_array_index(names, i));
}

guint
qemuDriverSnapshotCount(const qemuDomainObj *obj)
{
    return obj->snapshots->len;
}

/* ---- create ------------------------------------------------------------------------- */

static gboolean
qemuDriverSnapshotCheckFlags(unsigned int flags, GError **error)
{
    if (flags & (QEMU_SNAP_CREATE_REDEFINE | QEMU_SNAP_CREATE_CURRENT)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: redefining snapshots is not supported");
        return FALSE;
    }
    if (flags & QEMU_SNAP_CREATE_QUIESCE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: QEMU guest agent is not configured");
        return FALSE;
    }
    if (flags & QEMU_SNAP_CREATE_HALT) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: halting after a snapshot is not supported");
        return FALSE;
    }
    return TRUE;
}

/*
 * libvirt's checks of a new snapshot, in its order (qemuSnapshotCreateXML: <memory> at
 * parse, then qemuSnapshotCreateAlignDisks, then qemuSnapshotPrepare), so that a request
 * libvirt refuses gets libvirt's words; for a domain that is not running, the overlay
 * files are checked too (qemuSnapshotPrepareDiskExternal). DEF's disks are aligned on
 * return, *PLAN and *MEMORY say what the snapshot would be.
 */
static gboolean
qemuDriverSnapshotValidate(qemuSnapshotDef *def, const qvirDomainDef *domdef, gboolean active,
                           unsigned int flags, qemuSnapshotPlan *plan,
                           qemuSnapshotLocation *memoryOut, GError **error)
{
    gboolean diskOnly = (flags & QEMU_SNAP_CREATE_DISK_ONLY) != 0;
    qemuSnapshotLocation memory = QEMU_SNAPSHOT_LOCATION_DEFAULT;
    qemuSnapshotLocation defLoc = QEMU_SNAPSHOT_LOCATION_INTERNAL;

    if (!qemuSnapshotDefCheckMemory(def, !active || diskOnly, &memory, error))
        return FALSE;
    if ((flags & QEMU_SNAP_CREATE_LIVE) && (!active || memory != QEMU_SNAPSHOT_LOCATION_EXTERNAL)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                            "Operation not supported: live snapshot creation is supported only "
                            "during full system snapshots");
        return FALSE;
    }
    if (diskOnly) {
        defLoc = QEMU_SNAPSHOT_LOCATION_EXTERNAL;
        memory = QEMU_SNAPSHOT_LOCATION_NO;
        /* recorded as libvirt does: virsh snapshot-info reads the location from it */
        g_free(def->memorySnapshot);
        def->memorySnapshot = g_strdup("no");
    } else if (memory == QEMU_SNAPSHOT_LOCATION_EXTERNAL) {
        defLoc = QEMU_SNAPSHOT_LOCATION_EXTERNAL;
    } else {
        if (active && memory == QEMU_SNAPSHOT_LOCATION_NO) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                                "Operation not supported: internal snapshot of a running VM "
                                "must include the memory state");
            return FALSE;
        }
        memory = active ? QEMU_SNAPSHOT_LOCATION_INTERNAL : QEMU_SNAPSHOT_LOCATION_NO;
    }
    if (!qemuSnapshotDefAlignDisksFull(def, domdef, defLoc, error) ||
        !qemuSnapshotPrepare(def, domdef, active, diskOnly, memory, plan, error))
        return FALSE;
    if (!active && plan->external &&
        !qemuSnapshotCheckInactive(domdef, def, (flags & QEMU_SNAP_CREATE_REUSE_EXT) != 0, error))
        return FALSE;
    *memoryOut = memory;
    return TRUE;
}

/*
 * What libvirt would do after its checks (the name included) but qvirt cannot: internal
 * snapshots, memory state, QED overlays, reused overlays of a running domain.
 */
static gboolean
qemuDriverSnapshotCheckSupported(const qemuSnapshotPlan *plan, qemuSnapshotLocation memory,
                                 gboolean active, unsigned int flags, GError **error)
{
    if (plan->qed) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: qvirt creates snapshot overlays in "
                            "qcow2 only");
        return FALSE;
    }
    if (plan->internal || memory != QEMU_SNAPSHOT_LOCATION_NO) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: only external disk-only snapshots are "
                            "supported (--disk-only)");
        return FALSE;
    }
    if (active && (flags & QEMU_SNAP_CREATE_REUSE_EXT)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: reusing existing overlay files is not supported");
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    qvirDriver *drv;
    const char *name;
} qemuDriverSnapshotIntent;

static gboolean
qemuDriverSnapshotSaveIntent(const qvirDomainDiskDef *next, gpointer opaque, GError **error)
{
    qemuDriverSnapshotIntent *in = opaque;

    return qemuDriverSnapshotIntentSave(in->drv, in->name, next, error);
}

/*
 * Record SNAP (taken) as the domain's new current snapshot, its metadata file written.
 * Job held.
 */
static void
qemuDriverSnapshotRecord(qvirDriver *drv, qemuDomainObj *obj, qemuSnapshotDef *def)
{
    g_autoptr(GError) err = NULL;
    qemuDomainSnapshot *snap = g_new0(qemuDomainSnapshot, 1);

    snap->def = def;
    qemuDomainObjLock(obj);
    snap->parent = g_strdup(obj->currentSnapshot);
    g_ptr_array_add(obj->snapshots, snap);
    g_free(obj->currentSnapshot);
    obj->currentSnapshot = g_strdup(snap->def->name);
    qemuDomainObjUnlock(obj);
    /* The snapshot exists on disk whatever happens to its metadata file. */
    if (!qemuDriverSnapshotWrite(drv, obj, snap, &err))
        g_message("domain '%s': snapshot '%s': %s", obj->name, snap->def->name, err->message);
}

/*
 * A disk-only snapshot of a domain that is not running (libvirt 9.0's
 * qemuSnapshotCreateInactiveExternal): qemu-img makes the overlays and the persistent
 * definition names them. Job held; DEF validated against the persistent definition.
 */
static gboolean
qemuDriverSnapshotCreateInactive(qvirDriver *drv, qemuDomainObj *obj, qemuSnapshotDef *def,
                                 unsigned int flags, GError **error)
{
    g_autoptr(qvirDomainDef) work = NULL;
    g_autoptr(GPtrArray) created = NULL;

    if (!obj->def) {
        qemuDriverErrorNotRunning(error);
        return FALSE;
    }
    if (!def->state)
        def->state = g_strdup("shutoff");
    if (!def->domainXML)
        def->domainXML = qvirDomainDefFormat(obj->def, 0);
    if (!(work = qvirDomainDefCopy(obj->def, 0, error)) ||
        !qemuSnapshotCreateInactive(work, def, (flags & QEMU_SNAP_CREATE_REUSE_EXT) != 0, NULL,
                                    &created, error))
        return FALSE;
    if (!qemuDriverCommitConfig(drv, obj, g_steal_pointer(&work), error)) {
        qemuSnapshotRemoveCreated(created);
        return FALSE;
    }
    return TRUE;
}

char *
qvirDriverDomainSnapshotCreateXML(qvirDriver *drv, const unsigned char *uuid, const char *xml,
                                  unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autoptr(qemuSnapshotDef) def = NULL;
    const qemuCaps *caps = NULL;
    qvirDomainDef *work = NULL;
    qemuSnapshotPlan plan;
    qemuSnapshotLocation memory = QEMU_SNAPSHOT_LOCATION_DEFAULT;
    qemuMonitor *mon = NULL;
    qemuBlockJobs *jobs = NULL;
    char *name = NULL;
    gboolean metadata = !(flags & QEMU_SNAP_CREATE_NO_METADATA);

    if (!qvirCheckFlags(flags,
                        QEMU_SNAP_CREATE_REDEFINE | QEMU_SNAP_CREATE_CURRENT |
                            QEMU_SNAP_CREATE_NO_METADATA | QEMU_SNAP_CREATE_HALT |
                            QEMU_SNAP_CREATE_DISK_ONLY | QEMU_SNAP_CREATE_REUSE_EXT |
                            QEMU_SNAP_CREATE_QUIESCE | QEMU_SNAP_CREATE_ATOMIC |
                            QEMU_SNAP_CREATE_LIVE | QEMU_SNAP_CREATE_VALIDATE,
                        __func__, error))
        return NULL;
    if (!(def = qemuSnapshotDefParseString(xml, error)) ||
        !qemuDriverSnapshotCheckFlags(flags, error))
        return NULL;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return NULL;

    qemuDomainObjLock(obj);
    if (qemuDomainObjIsActive(obj) && obj->proc) {
        mon = qemuProcessGetMonitor(obj->proc);
        jobs = obj->blockJobs;
    }
    qemuDomainObjUnlock(obj);
    /* Job held: the definitions are stable and may be read without the mutex. */
    if ((metadata && def->name && !qemuDriverSnapshotCheckName(def->name, error)) ||
        !qemuDriverSnapshotValidate(def, mon ? obj->liveDef : qemuDomainObjGetDef(obj), mon != NULL,
                                    flags, &plan, &memory, error))
        goto out;
    if (qemuDriverSnapshotFind(obj, def->name)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: domain moment %s already exists", def->name);
        goto out;
    }
    if (!qemuDriverSnapshotCheckSupported(&plan, memory, mon != NULL, flags, error))
        goto out;
    if (!def->creationTime)
        def->creationTime = g_get_real_time() / G_USEC_PER_SEC;
    if (!mon) {
        if (!qemuDriverSnapshotCreateInactive(drv, obj, def, flags, error))
            goto out;
        name = g_strdup(def->name);
        if (metadata)
            qemuDriverSnapshotRecord(drv, obj, g_steal_pointer(&def));
        goto out;
    }
    if (!def->state)
        def->state = g_strdup("disk-snapshot");
    if (!def->domainXML)
        def->domainXML = qvirDomainDefFormat(obj->liveDef, 0);
    if (!(caps = qemuDriverGetCaps(
              drv, obj->liveDef->emulator ? obj->liveDef->emulator : drv->cfg->emulator, error)))
        goto out;
    if (!(work = qvirDomainDefCopy(obj->liveDef, QVIR_DOMAIN_DEF_FORMAT_STATUS, error)))
        goto out;
    /* A daemon killed between QEMU's switch and the status write below finds the new
     * chains in these files at its restart, and QEMU tells it which one holds. */
    if (!qemuSnapshotCreateDiskOnlyFull(jobs, mon, caps, work, def, drv->security,
                                        qemuDriverSnapshotSaveIntent,
                                        &(qemuDriverSnapshotIntent){drv, obj->name}, error)) {
        qemuDriverSnapshotIntentsRemove(drv, obj->name, work);
        qvirDomainDefFree(work);
        goto out;
    }

    /* The overlays are in use now: publish the new chains, then the metadata. */
    {
        g_autoptr(GError) err = NULL;
        qvirDomainDef *old;

        qemuDomainObjLock(obj);
        old = obj->liveDef;
        obj->liveDef = work;
        qemuDomainObjUnlock(obj);
        qvirDomainDefFree(old);
        /* Kept unless the status file has the new chains: a restart settles them. */
        if (qemuDriverWriteStatus(drv, obj, &err))
            qemuDriverSnapshotIntentsRemove(drv, obj->name, work);
        else
            g_message("domain '%s': %s", obj->name, err->message);
    }
    name = g_strdup(def->name);
    if (metadata)
        qemuDriverSnapshotRecord(drv, obj, g_steal_pointer(&def));

out:
    qemuDomainObjEndJob(obj);
    return name;
}

/* ---- queries ------------------------------------------------------------------------ */

static gboolean
qemuDriverSnapshotHasChildren(qemuDomainObj *obj, const char *name)
{
    for (guint i = 0; i < obj->snapshots->len; i++) {
        qemuDomainSnapshot *snap = g_ptr_array_index(obj->snapshots, i);

        if (g_strcmp0(snap->parent, name) == 0)
            return TRUE;
    }
    return FALSE;
}

/* ANCESTOR is a (transitive) parent of SNAP. Mutex held. */
static gboolean
qemuDriverSnapshotIsDescendant(qemuDomainObj *obj, const qemuDomainSnapshot *snap,
                               const char *ancestor)
{
    guint guard = obj->snapshots->len + 1;

    while (snap && snap->parent && guard-- > 0) {
        if (strcmp(snap->parent, ancestor) == 0)
            return TRUE;
        snap = qemuDriverSnapshotFind(obj, snap->parent);
    }
    return FALSE;
}

/* Every snapshot here has metadata and is external. Mutex held. */
static gboolean
qemuDriverSnapshotMatch(qemuDomainObj *obj, const qemuDomainSnapshot *snap, unsigned int flags)
{
    unsigned int states =
        flags & (QEMU_SNAP_LIST_INACTIVE | QEMU_SNAP_LIST_ACTIVE | QEMU_SNAP_LIST_DISK_ONLY);
    gboolean leaf = !qemuDriverSnapshotHasChildren(obj, snap->def->name);

    if ((flags & QEMU_SNAP_LIST_LEAVES) && !(flags & QEMU_SNAP_LIST_NO_LEAVES) && !leaf)
        return FALSE;
    if ((flags & QEMU_SNAP_LIST_NO_LEAVES) && !(flags & QEMU_SNAP_LIST_LEAVES) && leaf)
        return FALSE;
    if ((flags & QEMU_SNAP_LIST_NO_METADATA) && !(flags & QEMU_SNAP_LIST_METADATA))
        return FALSE;
    if (states) {
        /* libvirt's virDomainSnapshotFilter: a snapshot of a shut-off domain is "inactive" */
        const char *state = snap->def->state ? snap->def->state : "disk-snapshot";
        unsigned int want = strcmp(state, "disk-snapshot") == 0 ? QEMU_SNAP_LIST_DISK_ONLY
                            : strcmp(state, "shutoff") == 0     ? QEMU_SNAP_LIST_INACTIVE
                                                                : QEMU_SNAP_LIST_ACTIVE;

        if (!(states & want))
            return FALSE;
    }
    if ((flags & QEMU_SNAP_LIST_INTERNAL) && !(flags & QEMU_SNAP_LIST_EXTERNAL))
        return FALSE;
    return TRUE;
}

static GPtrArray *
qemuDriverSnapshotList(qvirDriver *drv, const unsigned char *uuid, const char *of,
                       unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    GPtrArray *names;
    qemuDomainSnapshot *from = NULL;

    if (!qvirCheckFlags(flags, QEMU_SNAP_LIST_ALL, __func__, error))
        return NULL;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return NULL;
    names = g_ptr_array_new_with_free_func(g_free);
    qemuDomainObjLock(obj);
    if (of && !(from = qemuDriverSnapshotFind(obj, of))) {
        qemuDomainObjUnlock(obj);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_DOMAIN_SNAPSHOT,
                    "Domain snapshot not found: no domain snapshot with matching name '%s'", of);
        g_ptr_array_unref(names);
        return NULL;
    }
    /* Creation order keeps parents before children (TOPOLOGICAL). */
    for (guint i = 0; i < obj->snapshots->len; i++) {
        qemuDomainSnapshot *snap = g_ptr_array_index(obj->snapshots, i);

        if (from) {
            /* Children of FROM; all descendants with DESCENDANTS. */
            gboolean child = g_strcmp0(snap->parent, from->def->name) == 0;

            if (!child && !((flags & QEMU_SNAP_LIST_DESCENDANTS) &&
                            qemuDriverSnapshotIsDescendant(obj, snap, from->def->name)))
                continue;
        } else if ((flags & QEMU_SNAP_LIST_ROOTS) && snap->parent) {
            continue;
        }
        if (qemuDriverSnapshotMatch(obj, snap, flags))
            g_ptr_array_add(names, g_strdup(snap->def->name));
    }
    qemuDomainObjUnlock(obj);
    return names;
}

GPtrArray *
qvirDriverDomainListAllSnapshots(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                 GError **error)
{
    return qemuDriverSnapshotList(drv, uuid, NULL, flags, error);
}

GPtrArray *
qvirDriverDomainSnapshotListAllChildren(qvirDriver *drv, const unsigned char *uuid,
                                        const char *name, unsigned int flags, GError **error)
{
    if (!name) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "invalid argument: no snapshot");
        return NULL;
    }
    return qemuDriverSnapshotList(drv, uuid, name, flags, error);
}

int
qvirDriverDomainSnapshotNum(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                            GError **error)
{
    g_autoptr(GPtrArray) names = qvirDriverDomainListAllSnapshots(drv, uuid, flags, error);

    return names ? (int)names->len : -1;
}

static void
qemuDriverNoSnapshot(const char *name, GError **error)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_DOMAIN_SNAPSHOT,
                "Domain snapshot not found: no domain snapshot with matching name '%s'",
                name ? name : "");
}

/* Run FN on snapshot NAME of the domain, with the object's mutex held. */
typedef gboolean (*qemuDriverSnapshotFunc)(qemuDomainObj *obj, qemuDomainSnapshot *snap,
                                           gpointer opaque, GError **error);

static gboolean
qemuDriverWithSnapshot(qvirDriver *drv, const unsigned char *uuid, const char *name,
                       qemuDriverSnapshotFunc fn, gpointer opaque, GError **error)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, error);
    qemuDomainSnapshot *snap;
    gboolean ok;

    if (!obj)
        return FALSE;
    qemuDomainObjLock(obj);
    if (!(snap = qemuDriverSnapshotFind(obj, name))) {
        qemuDomainObjUnlock(obj);
        qemuDriverNoSnapshot(name, error);
        return FALSE;
    }
    ok = fn ? fn(obj, snap, opaque, error) : TRUE;
    qemuDomainObjUnlock(obj);
    return ok;
}

gboolean
qvirDriverDomainSnapshotLookupByName(qvirDriver *drv, const unsigned char *uuid, const char *name,
                                     unsigned int flags, GError **error)
{
    if (!qvirCheckFlags(flags, 0, __func__, error))
        return FALSE;
    return qemuDriverWithSnapshot(drv, uuid, name, NULL, NULL, error);
}

static gboolean
qemuDriverSnapshotGetXML(qemuDomainObj *obj, qemuDomainSnapshot *snap, gpointer opaque,
                         GError **error)
{
    *(char **)opaque = qemuDriverSnapshotFormat(snap);
    return TRUE;
}

char *
qvirDriverDomainSnapshotGetXMLDesc(qvirDriver *drv, const unsigned char *uuid, const char *name,
                                   unsigned int flags, GError **error)
{
    char *xml = NULL;

    if (!qvirCheckFlags(flags, QEMU_SNAP_XML_SECURE, __func__, error))
        return NULL;
    qemuDriverWithSnapshot(drv, uuid, name, qemuDriverSnapshotGetXML, &xml, error);
    return xml;
}

static gboolean
qemuDriverSnapshotGetParentName(qemuDomainObj *obj, qemuDomainSnapshot *snap, gpointer opaque,
                                GError **error)
{
    if (!snap->parent) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_DOMAIN_SNAPSHOT,
                    "Domain snapshot not found: snapshot '%s' does not have a parent",
                    snap->def->name);
        return FALSE;
    }
    *(char **)opaque = g_strdup(snap->parent);
    return TRUE;
}

char *
qvirDriverDomainSnapshotGetParent(qvirDriver *drv, const unsigned char *uuid, const char *name,
                                  unsigned int flags, GError **error)
{
    char *parent = NULL;

    if (!qvirCheckFlags(flags, 0, __func__, error))
        return NULL;
    qemuDriverWithSnapshot(drv, uuid, name, qemuDriverSnapshotGetParentName, &parent, error);
    return parent;
}

char *
qvirDriverDomainSnapshotCurrent(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    char *name;

    if (!qvirCheckFlags(flags, 0, __func__, error) || !(obj = qemuDriverGetObj(drv, uuid, error)))
        return NULL;
    qemuDomainObjLock(obj);
    name = g_strdup(obj->currentSnapshot);
    qemuDomainObjUnlock(obj);
    if (!name)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_NO_DOMAIN_SNAPSHOT,
                    "Domain snapshot not found: the domain does not have a current snapshot");
    return name;
}

int
qvirDriverDomainHasCurrentSnapshot(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                   GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    int ret;

    if (!qvirCheckFlags(flags, 0, __func__, error) || !(obj = qemuDriverGetObj(drv, uuid, error)))
        return -1;
    qemuDomainObjLock(obj);
    ret = obj->currentSnapshot != NULL;
    qemuDomainObjUnlock(obj);
    return ret;
}

static gboolean
qemuDriverSnapshotCheckCurrent(qemuDomainObj *obj, qemuDomainSnapshot *snap, gpointer opaque,
                               GError **error)
{
    *(int *)opaque = g_strcmp0(obj->currentSnapshot, snap->def->name) == 0;
    return TRUE;
}

int
qvirDriverDomainSnapshotIsCurrent(qvirDriver *drv, const unsigned char *uuid, const char *name,
                                  unsigned int flags, GError **error)
{
    int current = 0;

    if (!qvirCheckFlags(flags, 0, __func__, error) ||
        !qemuDriverWithSnapshot(drv, uuid, name, qemuDriverSnapshotCheckCurrent, &current, error))
        return -1;
    return current;
}

int
qvirDriverDomainSnapshotHasMetadata(qvirDriver *drv, const unsigned char *uuid, const char *name,
                                    unsigned int flags, GError **error)
{
    if (!qvirCheckFlags(flags, 0, __func__, error) ||
        !qemuDriverWithSnapshot(drv, uuid, name, NULL, NULL, error))
        return -1;
    return 1; /* a snapshot without metadata is not known here at all */
}

/* ---- delete ------------------------------------------------------------------------ */

/* One disk of an external snapshot to merge away: its overlay into the layer beneath. */
typedef struct {
    char *dst;
    char *overlay;
    qvirStorageSource *parent; /* the disk's source in the snapshot's <domain> */
} qemuDriverSnapshotMerge;

static void
qemuDriverSnapshotMergeFree(qemuDriverSnapshotMerge *m)
{
    g_free(m->dst);
    g_free(m->overlay);
    qvirStorageSourceFree(m->parent);
    g_free(m);
}

static qvirDomainDef *
qemuDriverSnapshotDomain(const qemuSnapshotDef *def)
{
    return def->domainXML
               ? qvirDomainDefParseString(def->domainXML, QVIR_DOMAIN_DEF_PARSE_LIVE, NULL)
               : NULL;
}

/*
 * libvirt 9.0's qemuSnapshotDeleteExternalPrepare, with its errors in its order: every
 * external disk of SNAP has its overlay in DEF's chain of that disk and, when the domain
 * runs, the layer beneath it is the disk the snapshot was taken of.
 */
static GPtrArray *
qemuDriverSnapshotDeletePrepare(const qemuSnapshotDef *snap, const qvirDomainDef *def,
                                gboolean running, GError **error)
{
    g_autoptr(GPtrArray) merges =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuDriverSnapshotMergeFree);
    g_autoptr(qvirDomainDef) snapDom = qemuDriverSnapshotDomain(snap);

    for (guint i = 0; i < snap->disks->len; i++) {
        const qemuSnapshotDiskDef *sd = g_ptr_array_index(snap->disks, i);
        const qvirDomainDiskDef *disk;
        const qvirDomainDiskDef *parentDisk;
        const qvirStorageSource *layer;
        qemuDriverSnapshotMerge *m;

        if (sd->snapshot != QEMU_SNAPSHOT_LOCATION_EXTERNAL)
            continue;
        if (!(disk = qvirDomainDiskByName(def, sd->name))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "invalid argument: disk '%s' not found in domain", sd->name);
            return NULL;
        }
        for (layer = disk->src; qvirStorageSourceIsBacking(layer); layer = layer->backingStore) {
            if (g_strcmp0(layer->path, sd->file) == 0)
                break;
        }
        if (!qvirStorageSourceIsBacking(layer)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "invalid argument: could not find base disk source in disk source chain");
            return NULL;
        }
        if (!snapDom || !(parentDisk = qvirDomainDiskByName(snapDom, sd->name))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "operation failed: failed to find disk '%s' in snapshot VM XML", sd->name);
            return NULL;
        }
        if (running) {
            if (!qvirStorageSourceIsBacking(layer->backingStore)) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "operation failed: failed to find parent disk source in backing "
                            "chain");
                return NULL;
            }
            if (g_strcmp0(layer->backingStore->path, parentDisk->src->path) != 0) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "operation failed: snapshot VM disk source and parent disk source "
                            "are not the same");
                return NULL;
            }
        }
        m = g_new0(qemuDriverSnapshotMerge, 1);
        m->dst = g_strdup(disk->dst);
        m->overlay = g_strdup(sd->file);
        m->parent = qvirStorageSourceCopy(parentDisk->src);
        qvirStorageSourceChainClear(m->parent);
        g_ptr_array_add(merges, m);
    }
    return g_steal_pointer(&merges);
}

/*
 * libvirt 9.0's qemuSnapshotDeleteValidate for an external snapshot (all are here), in its
 * order. Mutex held.
 */
static gboolean
qemuDriverSnapshotDeleteValidate(qemuDomainObj *obj, const qemuDomainSnapshot *target,
                                 unsigned int flags, GError **error)
{
    if (flags & (QEMU_SNAP_DELETE_CHILDREN | QEMU_SNAP_DELETE_CHILDREN_ONLY)) {
        for (guint i = 0; i < obj->snapshots->len; i++) {
            if (qemuDriverSnapshotIsDescendant(obj, g_ptr_array_index(obj->snapshots, i),
                                               target->def->name)) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unsupported configuration: deletion of external children disk "
                            "snapshots not supported");
                return FALSE;
            }
        }
    }
    for (guint i = 0; obj->liveDef && obj->blockJobs && i < obj->liveDef->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(obj->liveDef->disks, i);

        if (qemuBlockJobsDiskHasJob(obj->blockJobs, disk->dst)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                        "Operation not supported: cannot delete external snapshots when there "
                        "is another active block job");
            return FALSE;
        }
    }
    if (flags & QEMU_SNAP_DELETE_CHILDREN) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: deletion of external disk snapshots with "
                    "children not supported");
        return FALSE;
    }
    return TRUE;
}

/*
 * The <domain> of a later snapshot named the merged overlay as the disk's source: it names
 * the layer the overlay went into now, as libvirt's qemuSnapshotUpdateDisksSingle does.
 * TRUE when SNAP changed.
 */
static gboolean
qemuDriverSnapshotRewriteDomain(qemuDomainSnapshot *snap, GPtrArray *merges)
{
    g_autoptr(qvirDomainDef) dom = qemuDriverSnapshotDomain(snap->def);
    gboolean changed = FALSE;

    for (guint i = 0; dom && i < merges->len; i++) {
        const qemuDriverSnapshotMerge *m = g_ptr_array_index(merges, i);
        qvirDomainDiskDef *disk = qvirDomainDiskByName(dom, m->dst);

        if (disk && disk->src && g_strcmp0(disk->src->path, m->overlay) == 0) {
            qvirStorageSourceFree(disk->src);
            disk->src = qvirStorageSourceCopy(m->parent);
            changed = TRUE;
        }
    }
    if (changed) {
        g_free(snap->def->domainXML);
        snap->def->domainXML = qvirDomainDefFormat(dom, 0);
    }
    return changed;
}

/* Merge every overlay of an external snapshot away (job held, domain running). */
static gboolean
qemuDriverSnapshotMergeAll(qvirDriver *drv, qemuDomainObj *obj, GPtrArray *merges, GError **error)
{
    for (guint i = 0; i < merges->len; i++) {
        const qemuDriverSnapshotMerge *m = g_ptr_array_index(merges, i);

        if (!qemuDriverMergeLayer(drv, obj, m->dst, m->overlay, error))
            return FALSE;
    }
    return TRUE;
}

/*
 * The same for a domain that is not running. libvirt 9.0 starts QEMU paused, commits each
 * overlay actively with DELETE and stops QEMU again; what is left is what `qemu-img
 * commit` leaves: the data in the layer beneath, the overlay file gone and the persistent
 * definition naming that layer again. It is done so here, without a QEMU process (no
 * lifecycle events, nothing to label). Disks are merged in turn; the definition is
 * written once, for those merged, even when a later one fails.
 */
static gboolean
qemuDriverSnapshotMergeInactive(qvirDriver *drv, qemuDomainObj *obj, GPtrArray *merges,
                                GError **error)
{
    g_autoptr(qvirDomainDef) edited = qvirDomainDefCopy(obj->def, 0, error);
    g_autoptr(GError) failure = NULL;
    guint done = 0;

    if (!edited)
        return FALSE;
    for (; done < merges->len; done++) {
        const qemuDriverSnapshotMerge *m = g_ptr_array_index(merges, done);
        qvirDomainDiskDef *disk = qvirDomainDiskByName(edited, m->dst);
        qvirStorageSource *src;
        gboolean parentIsBase = FALSE;

        if (!qemuSnapshotMergeInactive(m->overlay, m->parent, NULL, &parentIsBase, &failure))
            break;
        /* the disk's source as the snapshot's <domain> had it; libvirt's block job copies
         * the layer's known end of chain into the definition with it */
        src = qvirStorageSourceCopy(m->parent);
        if (parentIsBase) {
            src->backingStore = qvirStorageSourceNew();
            src->backingStore->fromXML = TRUE;
        }
        if (disk->src) {
            src->readonly = disk->src->readonly;
            src->shared = disk->src->shared;
        }
        qvirStorageSourceFree(disk->src);
        disk->src = src;
    }
    if (done > 0) {
        g_autoptr(GError) saveErr = NULL;

        if (!qemuDriverCommitConfig(drv, obj, g_steal_pointer(&edited), &saveErr)) {
            if (!failure)
                failure = g_steal_pointer(&saveErr);
            else
                g_message("domain '%s': %s", obj->name, saveErr->message);
        }
    }
    if (failure) {
        g_propagate_error(error, g_steal_pointer(&failure));
        return FALSE;
    }
    return TRUE;
}

gboolean
qvirDriverDomainSnapshotDelete(qvirDriver *drv, const unsigned char *uuid, const char *name,
                               unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autoptr(GPtrArray) doomed = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) rewrite = g_ptr_array_new();
    g_autoptr(GPtrArray) merges = NULL;
    qemuDomainSnapshot *target;
    g_autofree char *newParent = NULL;
    gboolean metadataOnly = (flags & QEMU_SNAP_DELETE_METADATA_ONLY) != 0;
    gboolean inactive = FALSE;

    if (!qvirCheckFlags(flags,
                        QEMU_SNAP_DELETE_CHILDREN | QEMU_SNAP_DELETE_METADATA_ONLY |
                            QEMU_SNAP_DELETE_CHILDREN_ONLY,
                        __func__, error))
        return FALSE;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)) ||
        !qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;

    qemuDomainObjLock(obj);
    if (!(target = qemuDriverSnapshotFind(obj, name))) {
        qemuDomainObjUnlock(obj);
        qemuDomainObjEndJob(obj);
        qemuDriverNoSnapshot(name, error);
        return FALSE;
    }
    if (!metadataOnly) {
        gboolean running = qemuDomainObjIsActive(obj) && obj->liveDef;
        const qvirDomainDef *def = running ? obj->liveDef : obj->def;

        if (!def)
            qemuDriverErrorNotRunning(error);
        if (!def || !qemuDriverSnapshotDeleteValidate(obj, target, flags, error) ||
            (!(flags & QEMU_SNAP_DELETE_CHILDREN_ONLY) &&
             !(merges = qemuDriverSnapshotDeletePrepare(target->def, def, running, error)))) {
            qemuDomainObjUnlock(obj);
            qemuDomainObjEndJob(obj);
            return FALSE;
        }
        inactive = merges && !running;
    }
    qemuDomainObjUnlock(obj);

    /* Job held: the snapshot list and the definitions stay as they are meanwhile. */
    if (merges && !(inactive ? qemuDriverSnapshotMergeInactive(drv, obj, merges, error)
                             : qemuDriverSnapshotMergeAll(drv, obj, merges, error))) {
        qemuDomainObjEndJob(obj);
        return FALSE;
    }

    qemuDomainObjLock(obj);
    newParent = g_strdup(target->parent);
    for (guint i = 0; i < obj->snapshots->len; i++) {
        qemuDomainSnapshot *snap = g_ptr_array_index(obj->snapshots, i);
        gboolean descendant = qemuDriverSnapshotIsDescendant(obj, snap, target->def->name);

        if ((snap == target && !(flags & QEMU_SNAP_DELETE_CHILDREN_ONLY)) ||
            (descendant && (flags & (QEMU_SNAP_DELETE_CHILDREN | QEMU_SNAP_DELETE_CHILDREN_ONLY))))
            g_ptr_array_add(doomed, g_strdup(snap->def->name));
        else if (descendant && merges && qemuDriverSnapshotRewriteDomain(snap, merges))
            g_ptr_array_add(rewrite, snap);
    }
    {
        g_autofree char *targetName = g_strdup(target->def->name);
        gboolean currentGone = FALSE;

        for (guint i = 0; i < doomed->len; i++) {
            const char *doomedName = g_ptr_array_index(doomed, i);

            if (g_strcmp0(obj->currentSnapshot, doomedName) == 0)
                currentGone = TRUE;
            g_ptr_array_remove(obj->snapshots, qemuDriverSnapshotFind(obj, doomedName));
        }
        /* The current snapshot moves up to what remains above the deleted ones. */
        if (currentGone) {
            g_free(obj->currentSnapshot);
            obj->currentSnapshot =
                g_strdup((flags & QEMU_SNAP_DELETE_CHILDREN_ONLY) ? targetName : newParent);
        }
    }
    /* Children of a removed snapshot hang on to its parent. */
    for (guint i = 0; i < obj->snapshots->len; i++) {
        qemuDomainSnapshot *snap = g_ptr_array_index(obj->snapshots, i);

        if (snap->parent && !qemuDriverSnapshotFind(obj, snap->parent)) {
            g_free(snap->parent);
            snap->parent = g_strdup(newParent);
            if (!g_ptr_array_find(rewrite, snap, NULL))
                g_ptr_array_add(rewrite, snap);
        }
    }
    if (obj->currentSnapshot && !qemuDriverSnapshotFind(obj, obj->currentSnapshot))
        g_clear_pointer(&obj->currentSnapshot, g_free);
    qemuDomainObjUnlock(obj);

    /* Job held: the list is stable while the files follow it. */
    for (guint i = 0; i < rewrite->len; i++) {
        g_autoptr(GError) err = NULL;

        if (!qemuDriverSnapshotWrite(drv, obj, g_ptr_array_index(rewrite, i), &err))
            g_message("domain '%s': %s", obj->name, err->message);
    }
    for (guint i = 0; i < doomed->len; i++)
        qemuDriverSnapshotUnlink(drv, obj, g_ptr_array_index(doomed, i));
    qemuDomainObjEndJob(obj);
    return TRUE;
}

/* ---- revert ------------------------------------------------------------------------ */

gboolean
qvirDriverDomainRevertToSnapshot(qvirDriver *drv, const unsigned char *uuid, const char *name,
                                 unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    gboolean blockJob = FALSE;

    if (!qvirCheckFlags(flags,
                        QEMU_SNAP_REVERT_RUNNING | QEMU_SNAP_REVERT_PAUSED |
                            QEMU_SNAP_REVERT_FORCE | QEMU_SNAP_REVERT_RESET_NVRAM,
                        __func__, error) ||
        !(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    qemuDomainObjLock(obj);
    for (guint i = 0; obj->liveDef && obj->blockJobs && i < obj->liveDef->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(obj->liveDef->disks, i);

        blockJob |= qemuBlockJobsDiskHasJob(obj->blockJobs, disk->dst);
    }
    qemuDomainObjUnlock(obj);
    if (blockJob) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain has active block job");
        return FALSE;
    }
    if (!qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error))
        return FALSE;
    qemuDomainObjLock(obj);
    if (!qemuDriverSnapshotFind(obj, name)) {
        qemuDriverNoSnapshot(name, error);
    } else if (!obj->def && !(flags & (QEMU_SNAP_REVERT_RUNNING | QEMU_SNAP_REVERT_PAUSED))) {
        /* a disk-only snapshot's state is neither running nor paused */
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: transient domain needs to request run "
                    "or pause to revert to inactive snapshot");
    } else {
        /* every snapshot here is external */
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: revert to external snapshot not supported yet");
    }
    qemuDomainObjUnlock(obj);
    qemuDomainObjEndJob(obj);
    return FALSE;
}
