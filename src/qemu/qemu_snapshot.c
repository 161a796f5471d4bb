/*
 * qemu_snapshot.c: external disk-only snapshots.
 */
#include "qemu/qemu_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>

#include "util/virerror.h"
#include "util/virxml.h"
#include "storage/storage_chain.h"
#include "storage/storage_run.h"
#include "qemu/qemu_block.h"
#include "qemu/qemu_chainedit.h"
#include "qemu/qemu_domain.h"
#include "qemu/qemu_hotplug.h"

#define QEMU_SNAPSHOT_TIMEOUT_MS QEMU_MONITOR_DEFAULT_TIMEOUT_MS
#define QEMU_SNAPSHOT_XML_MAX (1024 * 1024)

QVIR_ENUM_IMPL(qemuSnapshotLocation, QEMU_SNAPSHOT_LOCATION_LAST, "default", "no", "internal",
               "external");

/* ---- the definition ----------------------------------------------------------------- */

static void
qemuSnapshotDiskDefFree(qemuSnapshotDiskDef *disk)
{
    if (!disk)
        return;
    g_free(disk->name);
    g_free(disk->file);
    g_free(disk);
}

void
qemuSnapshotDefFree(qemuSnapshotDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->description);
    g_free(def->state);
    g_free(def->memorySnapshot);
    g_free(def->memoryFile);
    if (def->disks)
        g_ptr_array_unref(def->disks);
    g_free(def->domainXML);
    g_free(def);
}

static qemuSnapshotDef *
qemuSnapshotDefNew(void)
{
    qemuSnapshotDef *def = g_new0(qemuSnapshotDef, 1);

    def->disks = g_ptr_array_new_with_free_func((GDestroyNotify)qemuSnapshotDiskDefFree);
    return def;
}

static gboolean
qemuSnapshotXMLIs(xmlNodePtr node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && strcmp((const char *)node->name, name) == 0;
}

static qemuSnapshotDiskDef *
qemuSnapshotDiskDefParse(xmlNodePtr node, GError **error)
{
    g_autoptr(GPtrArray) holder =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuSnapshotDiskDefFree);
    qemuSnapshotDiskDef *disk = g_new0(qemuSnapshotDiskDef, 1);
    g_autofree char *snapshot = NULL;
    g_autofree char *type = NULL;

    g_ptr_array_add(holder, disk);
    if (!(disk->name = qvirXMLPropString(node, "name"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "missing name from disk snapshot element");
        return NULL;
    }
    if ((snapshot = qvirXMLPropString(node, "snapshot"))) {
        int loc = qemuSnapshotLocationTypeFromString(snapshot);

        if (loc <= 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported disk snapshot type '%s'", snapshot);
            return NULL;
        }
        disk->snapshot = loc;
    }
    if ((type = qvirXMLPropString(node, "type")) && strcmp(type, "file") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported disk snapshot source type '%s'", type);
        return NULL;
    }

    for (xmlNodePtr cur = node->children; cur; cur = cur->next) {
        if (qemuSnapshotXMLIs(cur, "source")) {
            g_free(disk->file);
            disk->file = qvirXMLPropString(cur, "file");
        } else if (qemuSnapshotXMLIs(cur, "driver")) {
            g_autofree char *fmt = qvirXMLPropString(cur, "type");
            int f;

            if (!fmt)
                continue;
            if ((f = qvirStorageFileFormatTypeFromString(fmt)) <= QVIR_STORAGE_FILE_NONE) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "unknown disk snapshot driver '%s'", fmt);
                return NULL;
            }
            disk->format = f;
        }
    }
    if (disk->file && !g_path_is_absolute(disk->file)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "disk snapshot image path '%s' must be absolute", disk->file);
        return NULL;
    }
    if (disk->file && disk->snapshot == QEMU_SNAPSHOT_LOCATION_DEFAULT)
        disk->snapshot = QEMU_SNAPSHOT_LOCATION_EXTERNAL;
    return g_ptr_array_steal_index(holder, 0);
}

qemuSnapshotDef *
qemuSnapshotDefParseString(const char *xml, GError **error)
{
    g_autoptr(qemuSnapshotDef) def = NULL;
    xmlDocPtr doc;
    xmlNodePtr root;
    gboolean ok = TRUE;
    size_t len;

    if (!xml || (len = strlen(xml)) == 0 || len > QEMU_SNAPSHOT_XML_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR, "invalid snapshot XML document");
        return NULL;
    }
    doc = xmlReadMemory(xml, (int)len, "domainsnapshot.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "(domain_snapshot):1: malformed snapshot XML");
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !qemuSnapshotXMLIs(root, "domainsnapshot")) {
        xmlFreeDoc(doc);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "expected root element 'domainsnapshot'");
        return NULL;
    }

    def = qemuSnapshotDefNew();
    for (xmlNodePtr cur = root->children; cur && ok; cur = cur->next) {
        if (qemuSnapshotXMLIs(cur, "name")) {
            g_free(def->name);
            def->name = qvirXMLNodeContent(cur);
        } else if (qemuSnapshotXMLIs(cur, "description")) {
            g_free(def->description);
            def->description = qvirXMLNodeContent(cur);
        } else if (qemuSnapshotXMLIs(cur, "state")) {
            g_free(def->state);
            def->state = qvirXMLNodeContent(cur);
        } else if (qemuSnapshotXMLIs(cur, "creationTime")) {
            g_autofree char *t = qvirXMLNodeContent(cur);

            def->creationTime = t ? g_ascii_strtoll(t, NULL, 10) : 0;
        } else if (qemuSnapshotXMLIs(cur, "memory")) {
            g_free(def->memorySnapshot);
            def->memorySnapshot = qvirXMLPropString(cur, "snapshot");
            g_free(def->memoryFile);
            def->memoryFile = qvirXMLPropString(cur, "file");
        } else if (qemuSnapshotXMLIs(cur, "disks")) {
            for (xmlNodePtr d = cur->children; d; d = d->next) {
                qemuSnapshotDiskDef *disk;

                if (!qemuSnapshotXMLIs(d, "disk"))
                    continue;
                if (!(disk = qemuSnapshotDiskDefParse(d, error))) {
                    ok = FALSE;
                    break;
                }
                g_ptr_array_add(def->disks, disk);
            }
        } else if (qemuSnapshotXMLIs(cur, "domain")) {
            xmlBufferPtr buf = xmlBufferCreate();

            if (xmlNodeDump(buf, doc, cur, 0, 0) > 0) {
                g_free(def->domainXML);
                def->domainXML = g_strdup((const char *)xmlBufferContent(buf));
            }
            xmlBufferFree(buf);
        }
    }
    xmlFreeDoc(doc);
    if (!ok)
        return NULL;
    if (def->name && !*def->name)
        g_clear_pointer(&def->name, g_free);
    return g_steal_pointer(&def);
}

static gboolean
qemuSnapshotDiskDefaultNo(const qvirDomainDiskDef *disk)
{
    return !qvirStorageSourceIsBacking(disk->src) || disk->src->readonly ||
           disk->device == QVIR_DOMAIN_DISK_DEVICE_CDROM;
}

/* libvirt's default overlay name: the top's path without its suffix, then ".NAME". */
static char *
qemuSnapshotDefaultFile(const qvirDomainDiskDef *disk, const char *snapName, GError **error)
{
    g_autofree char *base = NULL;
    char *dot;

    if (disk->src->type != QVIR_STORAGE_TYPE_FILE || !disk->src->path) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "cannot generate external snapshot name for disk '%s' on a '%s' device",
                    disk->dst, qvirStorageTypeTypeToString(disk->src->type));
        return NULL;
    }
    base = g_strdup(disk->src->path);
    if ((dot = strrchr(base, '.')) && !strchr(dot, '/'))
        *dot = '\0';
    return g_strdup_printf("%s.%s", base, snapName);
}

/* The disk's own default (<disk snapshot=>), with libvirt's post-parse rule that read-only
 * disks (cdroms among them) and empty drives are left out. */
static qemuSnapshotLocation
qemuSnapshotDiskOwnLocation(const qvirDomainDiskDef *disk)
{
    if (qemuSnapshotDiskDefaultNo(disk))
        return QEMU_SNAPSHOT_LOCATION_NO;
    switch (disk->snapshot) {
    case QVIR_DOMAIN_SNAPSHOT_LOCATION_NO:
        return QEMU_SNAPSHOT_LOCATION_NO;
    case QVIR_DOMAIN_SNAPSHOT_LOCATION_INTERNAL:
        return QEMU_SNAPSHOT_LOCATION_INTERNAL;
    case QVIR_DOMAIN_SNAPSHOT_LOCATION_EXTERNAL:
        return QEMU_SNAPSHOT_LOCATION_EXTERNAL;
    default:
        return QEMU_SNAPSHOT_LOCATION_DEFAULT;
    }
}

gboolean
qemuSnapshotDefAlignDisks(qemuSnapshotDef *snap, const qvirDomainDef *domdef, GError **error)
{
    return qemuSnapshotDefAlignDisksFull(snap, domdef, QEMU_SNAPSHOT_LOCATION_EXTERNAL, error);
}

gboolean
qemuSnapshotDefAlignDisksFull(qemuSnapshotDef *snap, const qvirDomainDef *domdef,
                              qemuSnapshotLocation defLoc, GError **error)
{
    gboolean requireMatch = defLoc == QEMU_SNAPSHOT_LOCATION_INTERNAL;
    g_autoptr(GPtrArray) aligned =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuSnapshotDiskDefFree);

    if (!snap->name)
        snap->name = g_strdup_printf("%lld", (long long)(g_get_real_time() / G_USEC_PER_SEC));
    if (snap->disks->len > domdef->disks->len) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "too many disk snapshot requests for domain");
        return FALSE;
    }
    for (guint i = 0; i < domdef->disks->len; i++)
        g_ptr_array_add(aligned, NULL);

    for (guint i = 0; i < snap->disks->len; i++) {
        qemuSnapshotDiskDef *sd = g_ptr_array_index(snap->disks, i);
        qvirDomainDiskDef *dd = qvirDomainDiskByName(domdef, sd->name);
        guint idx;

        if (!dd) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "no disk named '%s'",
                        sd->name);
            return FALSE;
        }
        g_ptr_array_find(domdef->disks, dd, &idx);
        if (g_ptr_array_index(aligned, idx)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "disk '%s' specified twice",
                        sd->name);
            return FALSE;
        }
        if (sd->snapshot == QEMU_SNAPSHOT_LOCATION_DEFAULT) {
            qemuSnapshotLocation own = qemuSnapshotDiskOwnLocation(dd);

            sd->snapshot = own != QEMU_SNAPSHOT_LOCATION_DEFAULT &&
                                   (!requireMatch || own == QEMU_SNAPSHOT_LOCATION_NO)
                               ? own
                               : defLoc;
        } else if (requireMatch && sd->snapshot != defLoc &&
                   !(sd->snapshot == QEMU_SNAPSHOT_LOCATION_NO &&
                     qemuSnapshotDiskOwnLocation(dd) == QEMU_SNAPSHOT_LOCATION_NO)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "disk '%s' must use snapshot mode '%s'", sd->name,
                        qemuSnapshotLocationTypeToString(defLoc));
            return FALSE;
        }
        if (sd->file && sd->snapshot != QEMU_SNAPSHOT_LOCATION_EXTERNAL) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "file '%s' for disk '%s' requires use of external snapshot mode", sd->file,
                        sd->name);
            return FALSE;
        }
        g_free(sd->name);
        sd->name = g_strdup(dd->dst);
        aligned->pdata[idx] = g_ptr_array_steal_index(snap->disks, i--);
    }

    for (guint i = 0; i < domdef->disks->len; i++) {
        qvirDomainDiskDef *dd = g_ptr_array_index(domdef->disks, i);
        qemuSnapshotDiskDef *sd = g_ptr_array_index(aligned, i);

        if (!sd) {
            qemuSnapshotLocation own = qemuSnapshotDiskOwnLocation(dd);

            sd = g_new0(qemuSnapshotDiskDef, 1);
            sd->name = g_strdup(dd->dst);
            sd->snapshot = own != QEMU_SNAPSHOT_LOCATION_DEFAULT ? own : defLoc;
            aligned->pdata[i] = sd;
        }
        if (sd->snapshot == QEMU_SNAPSHOT_LOCATION_EXTERNAL && !sd->file &&
            !(sd->file = qemuSnapshotDefaultFile(dd, snap->name, error)))
            return FALSE;
        for (guint j = 0; j < i && sd->file; j++) {
            qemuSnapshotDiskDef *other = g_ptr_array_index(aligned, j);

            if (g_strcmp0(other->file, sd->file) == 0) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "cannot generate external snapshot name for disk '%s': collision "
                            "with disk '%s'",
                            sd->name, other->name);
                return FALSE;
            }
        }
    }

    g_ptr_array_unref(snap->disks);
    snap->disks = g_steal_pointer(&aligned);
    return TRUE;
}

gboolean
qemuSnapshotDefCheckMemory(const qemuSnapshotDef *snap, gboolean offline,
                           qemuSnapshotLocation *memory, GError **error)
{
    int loc = QEMU_SNAPSHOT_LOCATION_DEFAULT;

    if (snap->memorySnapshot) {
        if (strcmp(snap->memorySnapshot, "manual") == 0) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                                "'manual' memory snapshot mode not supported");
            return FALSE;
        }
        if ((loc = qemuSnapshotLocationTypeFromString(snap->memorySnapshot)) <= 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                        "Invalid value for attribute 'snapshot' in element 'memory': '%s'.",
                        snap->memorySnapshot);
            return FALSE;
        }
    }
    if (loc == QEMU_SNAPSHOT_LOCATION_DEFAULT && snap->memoryFile)
        loc = QEMU_SNAPSHOT_LOCATION_EXTERNAL;
    if (snap->memoryFile && loc != QEMU_SNAPSHOT_LOCATION_EXTERNAL) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "memory filename '%s' requires external snapshot", snap->memoryFile);
        return FALSE;
    }
    if (!snap->memoryFile && loc == QEMU_SNAPSHOT_LOCATION_EXTERNAL) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "external memory snapshots require a filename");
        return FALSE;
    }
    if (offline && loc != QEMU_SNAPSHOT_LOCATION_DEFAULT && loc != QEMU_SNAPSHOT_LOCATION_NO) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                            "memory state cannot be saved with offline or disk-only snapshot");
        return FALSE;
    }
    if (snap->memoryFile && !g_path_is_absolute(snap->memoryFile)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "memory snapshot file path (%s) must be absolute", snap->memoryFile);
        return FALSE;
    }
    *memory = (qemuSnapshotLocation)loc;
    return TRUE;
}

gboolean
qemuSnapshotPrepare(const qemuSnapshotDef *snap, const qvirDomainDef *domdef, gboolean active,
                    gboolean diskOnly, qemuSnapshotLocation memory, qemuSnapshotPlan *plan,
                    GError **error)
{
    gboolean forbidInternal = FALSE;

    memset(plan, 0, sizeof(*plan));
    for (guint i = 0; i < snap->disks->len; i++) {
        const qemuSnapshotDiskDef *sd = g_ptr_array_index(snap->disks, i);
        const qvirDomainDiskDef *dd = qvirDomainDiskByTarget(domdef, sd->name);

        if (!dd)
            continue;
        switch (sd->snapshot) {
        case QEMU_SNAPSHOT_LOCATION_INTERNAL:
            plan->internal++;
            if (diskOnly && active) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "active qemu domains require external disk snapshots; disk %s "
                            "requested internal",
                            sd->name);
                return FALSE;
            }
            if (dd->src && dd->src->format > QVIR_STORAGE_FILE_NONE &&
                dd->src->format != QVIR_STORAGE_FILE_QCOW2) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "internal snapshot for disk %s unsupported for storage type %s",
                            sd->name, qvirStorageFileFormatTypeToString(dd->src->format));
                return FALSE;
            }
            break;
        case QEMU_SNAPSHOT_LOCATION_EXTERNAL:
            if (sd->format > QVIR_STORAGE_FILE_NONE && sd->format != QVIR_STORAGE_FILE_QCOW2 &&
                sd->format != QVIR_STORAGE_FILE_QED) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "external snapshot format for disk %s is unsupported: %s", sd->name,
                            qvirStorageFileFormatTypeToString(sd->format));
                return FALSE;
            }
            if (sd->format == QVIR_STORAGE_FILE_QED)
                plan->qed++;
            plan->external++;
            break;
        case QEMU_SNAPSHOT_LOCATION_NO:
            /* a disk with data left out of the snapshot */
            if (dd->src && qvirStorageSourceIsBacking(dd->src) && !dd->src->readonly)
                forbidInternal = TRUE;
            break;
        case QEMU_SNAPSHOT_LOCATION_DEFAULT:
        case QEMU_SNAPSHOT_LOCATION_LAST:
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "unexpected code path");
            return FALSE;
        }
    }
    if (!plan->internal && !plan->external && memory == QEMU_SNAPSHOT_LOCATION_NO) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "nothing selected for snapshot");
        return FALSE;
    }
    if ((memory == QEMU_SNAPSHOT_LOCATION_INTERNAL && !plan->internal) ||
        (plan->internal && forbidInternal)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "internal and full system snapshots require all disks to be "
                            "selected for snapshot");
        return FALSE;
    }
    if (diskOnly && !plan->external) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "disk-only snapshots require at least one disk to be selected for "
                            "snapshot");
        return FALSE;
    }
    if ((plan->internal && plan->external) ||
        (memory == QEMU_SNAPSHOT_LOCATION_INTERNAL && plan->external) ||
        (memory == QEMU_SNAPSHOT_LOCATION_EXTERNAL && plan->internal)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "mixing internal and external targets for a snapshot is not yet "
                            "supported");
        return FALSE;
    }
    return TRUE;
}

static void
qemuSnapshotEscape(GString *buf, const char *str)
{
    g_autofree char *esc = g_markup_escape_text(str, -1);

    g_string_append(buf, esc);
}

char *
qemuSnapshotDefFormat(const qemuSnapshotDef *snap)
{
    GString *buf = g_string_new("<domainsnapshot>\n");

    if (snap->name) {
        g_string_append(buf, "  <name>");
        qemuSnapshotEscape(buf, snap->name);
        g_string_append(buf, "</name>\n");
    }
    if (snap->description) {
        g_string_append(buf, "  <description>");
        qemuSnapshotEscape(buf, snap->description);
        g_string_append(buf, "</description>\n");
    }
    if (snap->state)
        g_string_append_printf(buf, "  <state>%s</state>\n", snap->state);
    if (snap->creationTime)
        g_string_append_printf(buf, "  <creationTime>%lld</creationTime>\n", snap->creationTime);
    if (snap->memorySnapshot)
        g_string_append_printf(buf, "  <memory snapshot='%s'/>\n", snap->memorySnapshot);
    if (snap->disks->len) {
        g_string_append(buf, "  <disks>\n");
        for (guint i = 0; i < snap->disks->len; i++) {
            const qemuSnapshotDiskDef *d = g_ptr_array_index(snap->disks, i);

            g_string_append(buf, "    <disk name='");
            qemuSnapshotEscape(buf, d->name);
            g_string_append_printf(buf, "' snapshot='%s'",
                                   qemuSnapshotLocationTypeToString(d->snapshot));
            if (!d->file) {
                g_string_append(buf, "/>\n");
                continue;
            }
            g_string_append(buf, " type='file'>\n");
            g_string_append_printf(
                buf, "      <driver type='%s'/>\n",
                qvirStorageFileFormatTypeToString(d->format ? d->format : QVIR_STORAGE_FILE_QCOW2));
            g_string_append(buf, "      <source file='");
            qemuSnapshotEscape(buf, d->file);
            g_string_append(buf, "'/>\n    </disk>\n");
        }
        g_string_append(buf, "  </disks>\n");
    }
    if (snap->domainXML) {
        g_auto(GStrv) lines = g_strsplit(snap->domainXML, "\n", -1);

        for (guint i = 0; lines[i]; i++) {
            if (!*lines[i])
                continue;
            g_string_append_printf(buf, "  %s\n", lines[i]);
        }
    }
    g_string_append(buf, "</domainsnapshot>\n");
    return g_string_free(buf, FALSE);
}

void
qemuSnapshotApplyToDef(qvirDomainDef *def, const qemuSnapshotDef *snap)
{
    for (guint i = 0; i < snap->disks->len; i++) {
        const qemuSnapshotDiskDef *sd = g_ptr_array_index(snap->disks, i);
        qvirDomainDiskDef *disk;
        qvirStorageSource *src;

        if (sd->snapshot != QEMU_SNAPSHOT_LOCATION_EXTERNAL || !sd->file ||
            !(disk = qvirDomainDiskByTarget(def, sd->name)))
            continue;
        src = qvirStorageSourceNew();
        src->type = QVIR_STORAGE_TYPE_FILE;
        src->format = QVIR_STORAGE_FILE_QCOW2;
        src->path = g_strdup(sd->file);
        if (disk->src) {
            src->readonly = disk->src->readonly;
            src->shared = disk->src->shared;
        }
        qvirStorageSourceFree(disk->src);
        disk->src = src;
    }
}

/* ---- a domain that is not running ---------------------------------------------------- */

/*
 * libvirt's qemuSnapshotPrepareDiskExternalInactive and the local-file half of
 * qemuSnapshotPrepareDiskExternal, in their order and words: only file and block disks
 * can have an overlay made by qemu-img; an existing non-empty overlay is refused unless
 * reused, a reused one must exist.
 */
static gboolean
qemuSnapshotInactiveCheckDisk(const qvirDomainDiskDef *disk, const qemuSnapshotDiskDef *sd,
                              gboolean reuse, GError **error)
{
    struct stat st;

    if (!disk->src ||
        (disk->src->type != QVIR_STORAGE_TYPE_FILE && disk->src->type != QVIR_STORAGE_TYPE_BLOCK)) {
        qvirStorageType type = disk->src ? disk->src->type : QVIR_STORAGE_TYPE_NONE;

        if (type == QVIR_STORAGE_TYPE_NETWORK)
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: external inactive snapshots are not supported on "
                        "'network' disks using '%s' protocol",
                        qvirStorageNetProtocolTypeToString(disk->src->protocol));
        else
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: external inactive snapshots are not supported on "
                        "'%s' disks",
                        type == QVIR_STORAGE_TYPE_NONE ? "none"
                                                       : qvirStorageTypeTypeToString(type));
        return FALSE;
    }
    if (stat(sd->file, &st) < 0) {
        int saved = errno;

        if (saved != ENOENT || reuse) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "%s for disk %s: %s: %s",
                        saved != ENOENT ? "unable to stat" : "missing existing file", sd->name,
                        sd->file, g_strerror(saved));
            return FALSE;
        }
        return TRUE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: mismatch between configured type for snapshot "
                    "disk '%s' and the type of existing file '%s'",
                    sd->name, sd->file);
        return FALSE;
    }
    if (!reuse && st.st_size > 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: external snapshot file for disk %s already "
                    "exists and is not a block device: %s",
                    sd->name, sd->file);
        return FALSE;
    }
    return TRUE;
}

static void
qemuSnapshotUnlinkAll(GPtrArray *files)
{
    for (guint i = 0; i < files->len; i++) {
        const char *path = g_ptr_array_index(files, i);

        if (g_unlink(path) < 0)
            g_message("failed to remove snapshot image '%s': %s", path, g_strerror(errno));
    }
}

gboolean
qemuSnapshotCheckInactive(const qvirDomainDef *def, const qemuSnapshotDef *snap, gboolean reuse,
                          GError **error)
{
    for (guint i = 0; i < snap->disks->len; i++) {
        const qemuSnapshotDiskDef *sd = g_ptr_array_index(snap->disks, i);
        const qvirDomainDiskDef *disk;

        if (sd->snapshot != QEMU_SNAPSHOT_LOCATION_EXTERNAL ||
            !(disk = qvirDomainDiskByTarget(def, sd->name)))
            continue;
        if (!qemuSnapshotInactiveCheckDisk(disk, sd, reuse, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
qemuSnapshotCreateInactive(qvirDomainDef *def, const qemuSnapshotDef *snap, gboolean reuse,
                           const char *qemuImg, GPtrArray **created, GError **error)
{
    g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);

    /* checked again: a refused snapshot leaves no file behind */
    if (!qemuSnapshotCheckInactive(def, snap, reuse, error))
        return FALSE;
    /* A reused overlay is the user's: it is taken as it is (libvirt does not look). */
    for (guint i = 0; i < snap->disks->len && !reuse; i++) {
        const qemuSnapshotDiskDef *sd = g_ptr_array_index(snap->disks, i);
        const qvirDomainDiskDef *disk;
        qvirStorageFileFormat fmt;
        gboolean fresh;

        if (sd->snapshot != QEMU_SNAPSHOT_LOCATION_EXTERNAL ||
            !(disk = qvirDomainDiskByTarget(def, sd->name)))
            continue;
        fmt =
            disk->src->format > QVIR_STORAGE_FILE_NONE ? disk->src->format : QVIR_STORAGE_FILE_RAW;
        fresh = !g_file_test(sd->file, G_FILE_TEST_EXISTS);
        {
            const char *argv[] = {qemuImg ? qemuImg : "qemu-img",
                                  "create",
                                  "-q",
                                  "-f",
                                  qvirStorageFileFormatTypeToString(
                                      sd->format ? sd->format : QVIR_STORAGE_FILE_QCOW2),
                                  "-F",
                                  qvirStorageFileFormatTypeToString(fmt),
                                  "-b",
                                  disk->src->path,
                                  sd->file,
                                  NULL};

            if (!qvirStorageRun(argv, error)) {
                /* qemu-img may have left a file it did not finish */
                if (fresh && g_file_test(sd->file, G_FILE_TEST_EXISTS))
                    g_ptr_array_add(made, g_strdup(sd->file));
                qemuSnapshotUnlinkAll(made);
                return FALSE;
            }
        }
        if (fresh)
            g_ptr_array_add(made, g_strdup(sd->file));
    }
    qemuSnapshotApplyToDef(def, snap);
    *created = g_steal_pointer(&made);
    return TRUE;
}

void
qemuSnapshotRemoveCreated(GPtrArray *created)
{
    if (created)
        qemuSnapshotUnlinkAll(created);
}

gboolean
qemuSnapshotMergeInactive(const char *overlay, const qvirStorageSource *parent, const char *qemuImg,
                          gboolean *parentIsBase, GError **error)
{
    g_autoptr(qvirStorageSource) top = qvirStorageSourceNew();
    qvirStorageChainConfig cfg;
    const char *argv[] = {
        qemuImg ? qemuImg : "qemu-img", "commit", "-q", "-f", "qcow2", overlay, NULL};

    /* What libvirt's second qemuSnapshotDeleteExternalPrepare checks once QEMU has
     * opened the chain: the overlay's backing is the disk the snapshot was taken of. */
    top->type = QVIR_STORAGE_TYPE_FILE;
    top->format = QVIR_STORAGE_FILE_QCOW2;
    top->path = g_strdup(overlay);
    qvirStorageChainConfigInit(&cfg);
    cfg.qemuImg = qemuImg;
    if (!qvirStorageChainProbe(top, &cfg, error))
        return FALSE;
    if (!qvirStorageSourceIsBacking(top->backingStore)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "operation failed: failed to find parent disk source in backing "
                            "chain");
        return FALSE;
    }
    if (g_strcmp0(top->backingStore->path, parent->path) != 0) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "operation failed: snapshot VM disk source and parent disk source "
                            "are not the same");
        return FALSE;
    }
    if (!qvirStorageRun(argv, error))
        return FALSE;
    *parentIsBase = !qvirStorageSourceIsBacking(top->backingStore->backingStore);
    /* libvirt commits with VIR_DOMAIN_BLOCK_COMMIT_DELETE: the overlay goes */
    if (g_unlink(overlay) < 0)
        g_message("failed to remove snapshot image '%s': %s", overlay, g_strerror(errno));
    return TRUE;
}

/* ---- creating overlays ---------------------------------------------------------------- */

/* One disk's overlay while the snapshot is prepared. */
typedef struct {
    qvirDomainDiskDef *disk;
    qvirStorageSource *overlay; /* owned until the chain takes it */
    gboolean createdFile;
    gboolean addedStorage;
    gboolean addedFormat;
    qvirSecurityDAC *security; /* QEMU's user gets the overlay (NULL: none) */
    gboolean labelled;
} qemuSnapshotDiskData;

static void
qemuSnapshotDiskDataFree(qemuSnapshotDiskData *dd)
{
    if (!dd)
        return;
    qvirStorageSourceFree(dd->overlay);
    g_free(dd);
}

static const char *
qemuSnapshotJSONString(JsonObject *o, const char *key)
{
    JsonNode *n = json_object_get_member(o, key);

    if (!n || json_node_get_value_type(n) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string(n);
}

/*
 * blockdev-create is a job: wait until it concludes (polling query-jobs, which needs no
 * event plumbing and costs a few monitor round trips for a small file), report its error,
 * then dismiss it.
 */
gboolean
qemuSnapshotBlockdevCreate(qemuMonitor *mon, const char *jobId, JsonObject *options, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    gint64 deadline =
        g_get_monotonic_time() + (gint64)QEMU_SNAPSHOT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
    g_autofree char *jobError = NULL;
    gulong sleepUs = 100;

    json_object_set_string_member(args, "job-id", jobId);
    json_object_set_object_member(args, "options", json_object_ref(options));
    if (!(ret = qemuMonitorCommand(mon, "blockdev-create", args, QEMU_SNAPSHOT_TIMEOUT_MS, error)))
        return FALSE;

    for (;;) {
        g_autoptr(JsonNode) jobs = NULL;
        gboolean concluded = FALSE;
        gboolean found = FALSE;
        JsonArray *arr;

        if (!(jobs = qemuMonitorCommand(mon, "query-jobs", NULL, QEMU_SNAPSHOT_TIMEOUT_MS, error)))
            return FALSE;
        arr = JSON_NODE_HOLDS_ARRAY(jobs) ? json_node_get_array(jobs) : NULL;
        for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
            JsonNode *n = json_array_get_element(arr, i);
            JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;

            if (!o || g_strcmp0(qemuSnapshotJSONString(o, "id"), jobId) != 0)
                continue;
            found = TRUE;
            if (g_strcmp0(qemuSnapshotJSONString(o, "status"), "concluded") == 0) {
                concluded = TRUE;
                jobError = g_strdup(qemuSnapshotJSONString(o, "error"));
            }
        }
        if (!found) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "blockdev-create job '%s' disappeared", jobId);
            return FALSE;
        }
        if (concluded)
            break;
        if (g_get_monotonic_time() > deadline) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                        "timed out waiting for blockdev-create job '%s'", jobId);
            return FALSE;
        }
        g_usleep(sleepUs);
        sleepUs = MIN(sleepUs * 2, 2000);
    }

    {
        g_autoptr(JsonObject) dargs = json_object_new();
        g_autoptr(JsonNode) dret = NULL;

        json_object_set_string_member(dargs, "id", jobId);
        dret = qemuMonitorCommand(mon, "job-dismiss", dargs, QEMU_SNAPSHOT_TIMEOUT_MS, NULL);
    }
    if (jobError) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "blockdev-create job '%s' failed: %s", jobId, jobError);
        return FALSE;
    }
    return TRUE;
}

/* The virtual size of the top: cached from the probe, else QEMU's own view of the node. */
gboolean
qemuSnapshotTopSize(qemuMonitor *mon, const qvirStorageSource *top, unsigned long long *size,
                    GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    JsonArray *arr;

    if (top->capacity) {
        *size = top->capacity;
        return TRUE;
    }
    json_object_set_boolean_member(args, "flat", TRUE);
    if (!(ret = qemuMonitorCommand(mon, "query-named-block-nodes", args, QEMU_SNAPSHOT_TIMEOUT_MS,
                                   error)))
        return FALSE;
    arr = JSON_NODE_HOLDS_ARRAY(ret) ? json_node_get_array(ret) : NULL;
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonNode *n = json_array_get_element(arr, i);
        JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
        JsonNode *img;

        if (!o || g_strcmp0(qemuSnapshotJSONString(o, "node-name"), top->nodeFormat) != 0)
            continue;
        if ((img = json_object_get_member(o, "image")) && JSON_NODE_HOLDS_OBJECT(img) &&
            json_object_has_member(json_node_get_object(img), "virtual-size")) {
            *size = (unsigned long long)json_object_get_int_member(json_node_get_object(img),
                                                                   "virtual-size");
            return TRUE;
        }
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "cannot determine the size of '%s'",
                top->path);
    return FALSE;
}

/* libvirt refuses to overwrite data: only a missing or empty file may be the target. */
static gboolean
qemuSnapshotCheckTarget(const qvirDomainDiskDef *disk, const char *file, gboolean *exists,
                        GError **error)
{
    struct stat st;

    *exists = FALSE;
    if (stat(file, &st) < 0) {
        if (errno == ENOENT)
            return TRUE;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "unable to stat for disk %s: %s: %s",
                    disk->dst, file, g_strerror(errno));
        return FALSE;
    }
    *exists = TRUE;
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "mismatch between configured type for snapshot disk '%s' and the type of "
                    "existing file '%s'",
                    disk->dst, file);
        return FALSE;
    }
    if (st.st_size > 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "external snapshot file for disk %s already exists and is not a block "
                    "device: %s",
                    disk->dst, file);
        return FALSE;
    }
    return TRUE;
}

static void
qemuSnapshotDiskRollback(qemuMonitor *mon, qemuSnapshotDiskData *dd)
{
    if (dd->addedFormat)
        qemuHotplugBlockdevDelChain(mon, dd->overlay, NULL); /* format, then storage */
    else if (dd->addedStorage) {
        g_autoptr(JsonObject) args = json_object_new();
        g_autoptr(JsonNode) ret = NULL;

        json_object_set_string_member(args, "node-name", dd->overlay->nodeStorage);
        ret = qemuMonitorCommand(mon, "blockdev-del", args, QEMU_SNAPSHOT_TIMEOUT_MS, NULL);
    }
    if (dd->labelled)
        qvirSecurityDACRestoreImageLabel(dd->security, dd->overlay);
    if (dd->createdFile)
        g_unlink(dd->overlay->path);
    dd->addedFormat = dd->addedStorage = dd->createdFile = dd->labelled = FALSE;
}

/* DD's disk as the transaction will leave it (its overlay named), told to INTENT. */
static gboolean
qemuSnapshotTellIntent(qemuSnapshotDiskData *dd, qemuSnapshotIntentFunc intent, gpointer opaque,
                       GError **error)
{
    qvirDomainDiskDef after = *dd->disk;
    g_autoptr(qvirStorageSource) top = qvirStorageSourceCopy(dd->disk->src);
    qvirStorageSource *ov = qvirStorageSourceCopy(dd->overlay);

    if (!qemuChainEditSnapshot(&top, ov, error)) {
        qvirStorageSourceFree(ov);
        return FALSE;
    }
    after.src = top;
    return intent(&after, opaque, error);
}

static gboolean
qemuSnapshotDiskPrepare(qemuMonitor *mon, const qemuCaps *caps, qemuSnapshotDiskData *dd,
                        const qemuSnapshotDiskDef *sd, unsigned int *next,
                        qemuSnapshotIntentFunc intent, gpointer opaque, GError **error)
{
    qvirDomainDiskDef *disk = dd->disk;
    qvirStorageSource *top = disk->src;
    qvirDomainDiskDef view = *disk; /* the disk as it will be: overlay on top */
    g_autoptr(JsonObject) fileOpts = json_object_new();
    g_autoptr(JsonObject) fmtOpts = json_object_new();
    g_autoptr(JsonNode) sprops = NULL;
    g_autoptr(JsonNode) fprops = NULL;
    g_autofree char *jobId = NULL;
    unsigned long long size = 0;
    gboolean exists;
    qvirStorageSource *ov;

    if (!qemuSnapshotCheckTarget(disk, sd->file, &exists, error))
        return FALSE;
    if (!qemuSnapshotTopSize(mon, top, &size, error))
        return FALSE;

    ov = dd->overlay = qvirStorageSourceNew();
    ov->type = QVIR_STORAGE_TYPE_FILE;
    ov->format = QVIR_STORAGE_FILE_QCOW2;
    ov->path = g_strdup(sd->file);
    ov->capacity = size;
    ov->readonly = top->readonly;
    ov->shared = top->shared;
    /* A known end below the new node: "backing": null, QEMU must not open the backing
     * file named in the new header by itself; blockdev-snapshot links the old top. */
    ov->backingStore = qvirStorageSourceNew();
    view.src = ov;
    qemuDomainPrepareDiskChainNodeNames(&view, next);
    /* Told before QEMU has any of it: a restart can then find and drop what was added. */
    if (intent && !qemuSnapshotTellIntent(dd, intent, opaque, error))
        return FALSE;

    jobId = g_strdup_printf("create-%s", ov->nodeStorage);
    json_object_set_string_member(fileOpts, "driver", "file");
    json_object_set_string_member(fileOpts, "filename", ov->path);
    json_object_set_int_member(fileOpts, "size", 0);
    /* Set first: a job that fails half-way may still have created the file. */
    dd->createdFile = !exists;
    /* QEMU may run as a user that cannot create files here: as libvirt does, the daemon
     * makes the empty file and hands it to QEMU's user, then QEMU formats it. */
    if (qvirSecurityDACIsActive(dd->security)) {
        if (!exists) {
            int fd = open(ov->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

            if (fd < 0) {
                dd->createdFile = FALSE;
                g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                            "unable to create external snapshot file for disk %s: %s: %s",
                            disk->dst, ov->path, g_strerror(errno));
                return FALSE;
            }
            close(fd);
        }
        if (!qvirSecurityDACSetImageLabel(dd->security, disk->dst, ov, !ov->readonly, error))
            return FALSE;
        dd->labelled = TRUE;
    }
    if (!qemuSnapshotBlockdevCreate(mon, jobId, fileOpts, error))
        return FALSE;

    sprops = qemuBlockStorageSourceGetBackendProps(&view, ov, caps);
    {
        g_autoptr(JsonNode) r = qemuMonitorCommand(
            mon, "blockdev-add", json_node_get_object(sprops), QEMU_SNAPSHOT_TIMEOUT_MS, error);
        if (!r)
            return FALSE;
    }
    dd->addedStorage = TRUE;

    g_free(jobId);
    jobId = g_strdup_printf("create-%s", ov->nodeFormat);
    json_object_set_string_member(fmtOpts, "driver", "qcow2");
    json_object_set_string_member(fmtOpts, "file", ov->nodeStorage);
    json_object_set_int_member(fmtOpts, "size", (gint64)size);
    /* a network top is named by its URI or json: description, as libvirt writes it */
    {
        g_autofree char *backing = qemuBlockGetBackingStoreString(top, error);

        if (!backing)
            return FALSE;
        json_object_set_string_member(fmtOpts, "backing-file", backing);
    }
    json_object_set_string_member(fmtOpts, "backing-fmt",
                                  qvirStorageFileFormatTypeToString(top->format));
    if (!qemuSnapshotBlockdevCreate(mon, jobId, fmtOpts, error))
        return FALSE;

    fprops = qemuBlockStorageSourceGetFormatProps(&view, ov, caps);
    {
        g_autoptr(JsonNode) r = qemuMonitorCommand(
            mon, "blockdev-add", json_node_get_object(fprops), QEMU_SNAPSHOT_TIMEOUT_MS, error);
        if (!r)
            return FALSE;
    }
    dd->addedFormat = TRUE;
    return TRUE;
}

static gboolean
qemuSnapshotCheckDisk(qemuBlockJobs *jobs, const qvirDomainDiskDef *disk, gboolean transient,
                      GError **error)
{
    if (transient)
        return TRUE; /* validated at define and start; any format takes a qcow2 overlay */
    if (disk->transient) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "block jobs are not supported on transient disk '%s'", disk->dst);
        return FALSE;
    }
    if (!qvirStorageSourceIsBacking(disk->src) || !disk->src->nodeFormat) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "cannot create external snapshot of disk '%s' without source", disk->dst);
        return FALSE;
    }
    if (disk->src->format != QVIR_STORAGE_FILE_QCOW2 &&
        disk->src->format != QVIR_STORAGE_FILE_RAW) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "external snapshot of disk '%s' with format '%s' is not supported", disk->dst,
                    qvirStorageFileFormatTypeToString(disk->src->format));
        return FALSE;
    }
    if (jobs && qemuBlockJobsDiskHasJob(jobs, disk->dst)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "disk '%s' already in active block job", disk->dst);
        return FALSE;
    }
    return TRUE;
}

/*
 * TRANSIENT: the overlays of <transient/> disks, not a user's snapshot. EXTRA: a disk being
 * hot-plugged, not in DEF yet, that SNAP may name too.
 */
static gboolean
qemuSnapshotCreateDisks(qemuBlockJobs *jobs, qemuMonitor *mon, const qemuCaps *caps,
                        const qvirDomainDef *def, qvirDomainDiskDef *extra,
                        const qemuSnapshotDef *snap, gboolean transient, qvirSecurityDAC *security,
                        qemuSnapshotIntentFunc intent, gpointer opaque, GError **error)
{
    g_autoptr(GPtrArray) data =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuSnapshotDiskDataFree);
    g_autoptr(JsonObject) args = NULL;
    g_autoptr(JsonNode) ret = NULL;
    JsonArray *actions;
    unsigned int next;

    g_return_val_if_fail(mon != NULL && def != NULL && snap != NULL, FALSE);

    /* Every check before anything is created. */
    for (guint i = 0; i < snap->disks->len; i++) {
        const qemuSnapshotDiskDef *sd = g_ptr_array_index(snap->disks, i);
        qvirDomainDiskDef *disk;
        qemuSnapshotDiskData *dd;

        if (sd->snapshot != QEMU_SNAPSHOT_LOCATION_EXTERNAL)
            continue;
        if (extra && g_strcmp0(extra->dst, sd->name) == 0)
            disk = extra;
        else if (!(disk = qvirDomainDiskByName(def, sd->name))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED, "no disk named '%s'",
                        sd->name);
            return FALSE;
        }
        if (!sd->file || !g_path_is_absolute(sd->file)) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "disk snapshot image path '%s' must be absolute", sd->file ? sd->file : "");
            return FALSE;
        }
        if (!qemuSnapshotCheckDisk(jobs, disk, transient, error))
            return FALSE;
        for (guint j = 0; j < data->len; j++) {
            qemuSnapshotDiskData *other = g_ptr_array_index(data, j);

            if (other->disk == disk) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                            "disk '%s' specified twice", sd->name);
                return FALSE;
            }
        }
        dd = g_new0(qemuSnapshotDiskData, 1);
        dd->disk = disk;
        dd->security = security;
        g_ptr_array_add(data, dd);
    }
    if (data->len == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "nothing selected for snapshot");
        return FALSE;
    }

    next = qemuDomainNextNodeIndex(def);
    /* the destinations of running copies are in no chain yet but hold their indexes */
    if (jobs)
        next = MAX(next, qemuBlockJobsMirrorMaxIndex(jobs) + 1);
    if (extra)
        next = MAX(next, qemuChainMaxIndex(extra->src) + 1);
    for (guint i = 0, k = 0; i < snap->disks->len; i++) {
        const qemuSnapshotDiskDef *sd = g_ptr_array_index(snap->disks, i);

        if (sd->snapshot != QEMU_SNAPSHOT_LOCATION_EXTERNAL)
            continue;
        if (!qemuSnapshotDiskPrepare(mon, caps, g_ptr_array_index(data, k++), sd, &next, intent,
                                     opaque, error))
            goto rollback;
    }

    args = json_object_new();
    actions = json_array_new();
    for (guint i = 0; i < data->len; i++) {
        qemuSnapshotDiskData *dd = g_ptr_array_index(data, i);
        JsonObject *action = json_object_new();
        JsonObject *adata = json_object_new();

        json_object_set_string_member(adata, "node", dd->disk->src->nodeFormat);
        json_object_set_string_member(adata, "overlay", dd->overlay->nodeFormat);
        json_object_set_string_member(action, "type", "blockdev-snapshot");
        json_object_set_object_member(action, "data", adata);
        json_array_add_object_element(actions, action);
    }
    json_object_set_array_member(args, "actions", actions);
    if (!(ret = qemuMonitorCommand(mon, "transaction", args, QEMU_SNAPSHOT_TIMEOUT_MS, error)))
        goto rollback;

    /* QEMU switched every disk: the cache follows, no header is read. */
    for (guint i = 0; i < data->len; i++) {
        qemuSnapshotDiskData *dd = g_ptr_array_index(data, i);
        g_autoptr(GError) err = NULL;

        if (!qemuChainEditSnapshot(&dd->disk->src, dd->overlay, &err)) {
            /* Cannot happen for an overlay built above; keep the cache honest anyway. */
            g_warning("snapshot of disk '%s': %s", dd->disk->dst, err->message);
            continue;
        }
        dd->overlay = NULL;
    }
    return TRUE;

rollback:
    for (guint i = data->len; i > 0; i--)
        qemuSnapshotDiskRollback(mon, g_ptr_array_index(data, i - 1));
    return FALSE;
}

gboolean
qemuSnapshotCreateDiskOnly(qemuBlockJobs *jobs, qemuMonitor *mon, const qemuCaps *caps,
                           qvirDomainDef *def, const qemuSnapshotDef *snap,
                           qvirSecurityDAC *security, GError **error)
{
    return qemuSnapshotCreateDisks(jobs, mon, caps, def, NULL, snap, FALSE, security, NULL, NULL,
                                   error);
}

gboolean
qemuSnapshotCreateDiskOnlyFull(qemuBlockJobs *jobs, qemuMonitor *mon, const qemuCaps *caps,
                               qvirDomainDef *def, const qemuSnapshotDef *snap,
                               qvirSecurityDAC *security, qemuSnapshotIntentFunc intent,
                               gpointer opaque, GError **error)
{
    return qemuSnapshotCreateDisks(jobs, mon, caps, def, NULL, snap, FALSE, security, intent,
                                   opaque, error);
}

/* ---- transient disks ------------------------------------------------------------------ */

/* The overlay of transient DISK, or "already exists" (it may be another domain's). */
static char *
qemuSnapshotTransientTarget(const qvirDomainDiskDef *disk, const char *domName, GError **error)
{
    g_autofree char *path = qemuBlockTransientOverlayPath(disk->src->path, domName);

    if (g_file_test(path, G_FILE_TEST_EXISTS) || g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                    "Overlay file '%s' for transient disk '%s' already exists", path, disk->dst);
        return NULL;
    }
    return g_steal_pointer(&path);
}

static qemuSnapshotDiskDef *
qemuSnapshotTransientDiskDef(const qvirDomainDiskDef *disk, char *path)
{
    qemuSnapshotDiskDef *sd = g_new0(qemuSnapshotDiskDef, 1);

    sd->name = g_strdup(disk->dst);
    sd->snapshot = QEMU_SNAPSHOT_LOCATION_EXTERNAL;
    sd->file = path;
    sd->format = QVIR_STORAGE_FILE_QCOW2;
    return sd;
}

gboolean
qemuSnapshotCreateTransientOverlays(qemuMonitor *mon, const qemuCaps *caps, qvirDomainDef *def,
                                    gboolean shareBacking, qvirSecurityDAC *security,
                                    GError **error)
{
    g_autoptr(qemuSnapshotDef) snap = qemuSnapshotDefNew();

    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);
        char *path;

        if (!disk->transient ||
            (disk->transientShareBacking == QVIR_TRISTATE_BOOL_YES) != shareBacking)
            continue;
        if (!(path = qemuSnapshotTransientTarget(disk, def->name, error)))
            return FALSE;
        g_ptr_array_add(snap->disks, qemuSnapshotTransientDiskDef(disk, path));
    }
    if (snap->disks->len == 0)
        return TRUE;
    return qemuSnapshotCreateDisks(NULL, mon, caps, def, NULL, snap, TRUE, security, NULL, NULL,
                                   error);
}

gboolean
qemuSnapshotCreateTransientOverlay(qemuMonitor *mon, const qemuCaps *caps, const qvirDomainDef *def,
                                   qvirDomainDiskDef *disk, qvirSecurityDAC *security,
                                   GError **error)
{
    g_autoptr(qemuSnapshotDef) snap = qemuSnapshotDefNew();
    char *path;

    if (!(path = qemuSnapshotTransientTarget(disk, def->name, error)))
        return FALSE;
    g_ptr_array_add(snap->disks, qemuSnapshotTransientDiskDef(disk, path));
    return qemuSnapshotCreateDisks(NULL, mon, caps, def, disk, snap, TRUE, security, NULL, NULL,
                                   error);
}

void
qemuSnapshotRemoveTransientOverlays(const qvirDomainDef *def)
{
    for (guint i = 0; def && def->disks && i < def->disks->len; i++)
        qemuBlockRemoveTransientOverlay(g_ptr_array_index(def->disks, i), def->name);
}
