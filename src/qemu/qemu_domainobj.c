/*
 * qemu_domainobj.c: domain objects, the object list, the status file.
 */
#include "qemu/qemu_domainobj.h"

#include <string.h>
#include <libxml/parser.h>

#include "util/virerror.h"
#include "util/virthreadjob.h"
#include "util/virxml.h"

/* ---- state names ------------------------------------------------------------- */

static const char *const qemuDomainStateNames[] = {
    "nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended",
};

static const char *const qemuDomainRunningReasonNames[] = {
    "unknown",       "booted",   "migrated",           "restored",
    "from snapshot", "unpaused", "migration canceled", "save canceled",
    "wakeup",        "crashed",  "post-copy",          "post-copy failed",
};

static const char *const qemuDomainPausedReasonNames[] = {
    "unknown",   "user",
    "migration", "save",
    "dump",      "ioerror",
    "watchdog",  "from snapshot",
    "shutdown",  "snapshot",
    "panicked",  "starting up",
    "post-copy", "post-copy failed",
};

static const char *const qemuDomainShutoffReasonNames[] = {
    "unknown", "shutdown", "destroyed",     "crashed", "migrated",
    "saved",   "failed",   "from snapshot", "daemon",
};

static const char *const qemuDomainUnknownReasonNames[] = {"unknown"};

static const char *const *
qemuDomainReasonTable(int state, gsize *n)
{
    switch (state) {
    case 1: /* running */
        *n = G_N_ELEMENTS(qemuDomainRunningReasonNames);
        return qemuDomainRunningReasonNames;
    case 3: /* paused */
        *n = G_N_ELEMENTS(qemuDomainPausedReasonNames);
        return qemuDomainPausedReasonNames;
    case 5: /* shutoff */
        *n = G_N_ELEMENTS(qemuDomainShutoffReasonNames);
        return qemuDomainShutoffReasonNames;
    default:
        *n = G_N_ELEMENTS(qemuDomainUnknownReasonNames);
        return qemuDomainUnknownReasonNames;
    }
}

const char *
qemuDomainStateToString(int state)
{
    return qvirEnumToString(qemuDomainStateNames, G_N_ELEMENTS(qemuDomainStateNames), state);
}

int
qemuDomainStateFromString(const char *str)
{
    return qvirEnumFromString(qemuDomainStateNames, G_N_ELEMENTS(qemuDomainStateNames), str);
}

const char *
qemuDomainStateReasonToString(int state, int reason)
{
    gsize n;
    const char *const *table = qemuDomainReasonTable(state, &n);

    return qvirEnumToString(table, n, reason);
}

int
qemuDomainStateReasonFromString(int state, const char *str)
{
    gsize n;
    const char *const *table = qemuDomainReasonTable(state, &n);

    return qvirEnumFromString(table, n, str);
}

/* ---- objects ------------------------------------------------------------------ */

void
qemuDomainSnapshotFree(qemuDomainSnapshot *snap)
{
    if (!snap)
        return;
    qemuSnapshotDefFree(snap->def);
    g_free(snap->parent);
    g_free(snap);
}

qemuDomainObj *
qemuDomainObjNew(const char *name, const unsigned char *uuid)
{
    qemuDomainObj *obj = g_new0(qemuDomainObj, 1);

    obj->refs = 1;
    g_mutex_init(&obj->lock);
    g_cond_init(&obj->jobCond);
    obj->name = g_strdup(name);
    memcpy(obj->uuid, uuid, QVIR_UUID_BUFLEN);
    obj->id = -1;
    obj->state = 5; /* shutoff */
    obj->reason = QEMU_DOMAIN_SHUTOFF_UNKNOWN;
    obj->snapshots = g_ptr_array_new_with_free_func((GDestroyNotify)qemuDomainSnapshotFree);
    return obj;
}

qemuDomainObj *
qemuDomainObjRef(qemuDomainObj *obj)
{
    g_atomic_int_inc(&obj->refs);
    return obj;
}

void
qemuDomainObjUnref(qemuDomainObj *obj)
{
    if (!obj || !g_atomic_int_dec_and_test(&obj->refs))
        return;
    /* The last reference: nobody can hold the job or a process handle any more
     * (a process handle holds a reference of its own). */
    g_assert(!obj->proc);
    qemuBlockJobsFree(obj->blockJobs);
    if (obj->snapshots)
        g_ptr_array_unref(obj->snapshots);
    g_free(obj->currentSnapshot);
    qvirDomainDefFree(obj->def);
    qvirDomainDefFree(obj->liveDef);
    qvirDomainDefFree(obj->startDef);
    g_free(obj->name);
    g_free(obj->ownerAPI);
    g_free(obj->asyncOwnerAPI);
    g_mutex_clear(&obj->lock);
    g_cond_clear(&obj->jobCond);
    g_free(obj);
}

void
qemuDomainObjLock(qemuDomainObj *obj)
{
    g_mutex_lock(&obj->lock);
}

void
qemuDomainObjUnlock(qemuDomainObj *obj)
{
    g_mutex_unlock(&obj->lock);
}

/* JOB may begin beside the async job (libvirt's virDomainNestedJobAllowed). Mutex held. */
static gboolean
qemuDomainObjNestedJobAllowed(const qemuDomainObj *obj, qemuDomainJob job)
{
    return obj->asyncJob == QEMU_ASYNC_JOB_NONE || job == QEMU_JOB_ASYNC_NESTED ||
           (obj->asyncMask & QEMU_JOB_MASK(job)) != 0;
}

/* libvirt's words when waiting for BLOCKER (an owner API, or none known) timed out. */
static void
qemuDomainObjErrorTimeout(const char *blocker, GError **error)
{
    if (blocker)
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                    "Timed out during operation: cannot acquire state change lock "
                    "(held by monitor=%s)",
                    blocker);
    else
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_TIMEOUT,
                            "Timed out during operation: cannot acquire state change lock");
}

/* Wait (mutex held) until JOB (an async job's when ASYNC) may begin, until DEADLINE. */
static gboolean
qemuDomainObjWaitJob(qemuDomainObj *obj, qemuDomainJob job, gboolean async, gint64 deadline,
                     GError **error)
{
    for (;;) {
        gboolean nested =
            async ? obj->asyncJob == QEMU_ASYNC_JOB_NONE : qemuDomainObjNestedJobAllowed(obj, job);

        if (nested && obj->job == QEMU_JOB_NONE)
            return TRUE;
        if (!g_cond_wait_until(&obj->jobCond, &obj->lock, deadline)) {
            /* libvirt names the async job's owner when that is what the job waits for */
            nested = async ? obj->asyncJob == QEMU_ASYNC_JOB_NONE
                           : qemuDomainObjNestedJobAllowed(obj, job);
            if (nested && obj->job == QEMU_JOB_NONE)
                return TRUE;
            qemuDomainObjErrorTimeout(nested ? obj->ownerAPI : obj->asyncOwnerAPI, error);
            return FALSE;
        }
    }
}

gboolean
qemuDomainObjBeginJob(qemuDomainObj *obj, qemuDomainJob job, guint timeoutMs, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutMs * G_TIME_SPAN_MILLISECOND;

    g_assert(job > QEMU_JOB_NONE && job < QEMU_JOB_LAST);
    g_mutex_lock(&obj->lock);
    if (!qemuDomainObjWaitJob(obj, job, FALSE, deadline, error)) {
        g_mutex_unlock(&obj->lock);
        return FALSE;
    }
    obj->job = job;
    g_free(obj->ownerAPI);
    obj->ownerAPI = g_strdup(qvirThreadJobGet());
    g_mutex_unlock(&obj->lock);
    return TRUE;
}

void
qemuDomainObjEndJob(qemuDomainObj *obj)
{
    g_mutex_lock(&obj->lock);
    obj->job = QEMU_JOB_NONE;
    g_clear_pointer(&obj->ownerAPI, g_free);
    g_cond_broadcast(&obj->jobCond);
    g_mutex_unlock(&obj->lock);
}

gboolean
qemuDomainObjBeginAsyncJob(qemuDomainObj *obj, qemuDomainAsyncJob asyncJob, guint mask,
                           guint timeoutMs, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutMs * G_TIME_SPAN_MILLISECOND;

    g_assert(asyncJob > QEMU_ASYNC_JOB_NONE && asyncJob < QEMU_ASYNC_JOB_LAST);
    g_mutex_lock(&obj->lock);
    if (!qemuDomainObjWaitJob(obj, QEMU_JOB_NONE, TRUE, deadline, error)) {
        g_mutex_unlock(&obj->lock);
        return FALSE;
    }
    obj->asyncJob = asyncJob;
    obj->asyncMask = mask | QEMU_JOB_MASK(QEMU_JOB_DESTROY);
    obj->asyncPhase = 0;
    g_free(obj->asyncOwnerAPI);
    obj->asyncOwnerAPI = g_strdup(qvirThreadJobGet());
    g_mutex_unlock(&obj->lock);
    return TRUE;
}

void
qemuDomainObjStartAsyncPhase(qemuDomainObj *obj, int phase)
{
    obj->asyncPhase = phase;
    g_free(obj->asyncOwnerAPI);
    obj->asyncOwnerAPI = g_strdup(qvirThreadJobGet());
}

void
qemuDomainObjEndAsyncJob(qemuDomainObj *obj)
{
    g_mutex_lock(&obj->lock);
    obj->asyncJob = QEMU_ASYNC_JOB_NONE;
    obj->asyncMask = 0;
    obj->asyncPhase = 0;
    g_clear_pointer(&obj->asyncOwnerAPI, g_free);
    g_cond_broadcast(&obj->jobCond);
    g_mutex_unlock(&obj->lock);
}

gboolean
qemuDomainObjIsActive(const qemuDomainObj *obj)
{
    return obj->liveDef != NULL;
}

const qvirDomainDef *
qemuDomainObjGetDef(const qemuDomainObj *obj)
{
    if (obj->liveDef)
        return obj->liveDef;
    if (obj->def)
        return obj->def;
    return obj->startDef;
}

/* ---- the list ----------------------------------------------------------------- */

struct _qemuDomainObjList {
    GMutex lock;
    GHashTable *byUUID; /* uuid string -> obj (one reference) */
    GHashTable *byName; /* name -> obj (borrowed from byUUID) */
};

qemuDomainObjList *
qemuDomainObjListNew(void)
{
    qemuDomainObjList *list = g_new0(qemuDomainObjList, 1);

    g_mutex_init(&list->lock);
    list->byUUID =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)qemuDomainObjUnref);
    list->byName = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return list;
}

void
qemuDomainObjListFree(qemuDomainObjList *list)
{
    if (!list)
        return;
    g_hash_table_destroy(list->byName);
    g_hash_table_destroy(list->byUUID);
    g_mutex_clear(&list->lock);
    g_free(list);
}

static qemuDomainObj *
qemuDomainObjListFindByUUIDLocked(qemuDomainObjList *list, const unsigned char *uuid)
{
    char uuidstr[QVIR_UUID_STRING_BUFLEN];

    qvirUUIDFormat(uuid, uuidstr);
    return g_hash_table_lookup(list->byUUID, uuidstr);
}

qemuDomainObj *
qemuDomainObjListFindByUUID(qemuDomainObjList *list, const unsigned char *uuid)
{
    qemuDomainObj *obj;

    g_mutex_lock(&list->lock);
    if ((obj = qemuDomainObjListFindByUUIDLocked(list, uuid)))
        qemuDomainObjRef(obj);
    g_mutex_unlock(&list->lock);
    return obj;
}

qemuDomainObj *
qemuDomainObjListFindByName(qemuDomainObjList *list, const char *name)
{
    qemuDomainObj *obj;

    g_mutex_lock(&list->lock);
    if ((obj = g_hash_table_lookup(list->byName, name)))
        qemuDomainObjRef(obj);
    g_mutex_unlock(&list->lock);
    return obj;
}

qemuDomainObj *
qemuDomainObjListFindByID(qemuDomainObjList *list, int id)
{
    GHashTableIter iter;
    gpointer value;
    qemuDomainObj *found = NULL;

    if (id < 0)
        return NULL;
    g_mutex_lock(&list->lock);
    g_hash_table_iter_init(&iter, list->byUUID);
    while (!found && g_hash_table_iter_next(&iter, NULL, &value)) {
        qemuDomainObj *obj = value;

        qemuDomainObjLock(obj);
        if (obj->id == id && qemuDomainObjIsActive(obj))
            found = qemuDomainObjRef(obj);
        qemuDomainObjUnlock(obj);
    }
    g_mutex_unlock(&list->lock);
    return found;
}

qemuDomainObj *
qemuDomainObjListAdd(qemuDomainObjList *list, const qvirDomainDef *def,
                     void (*setup)(qemuDomainObj *obj, gpointer opaque), gpointer opaque,
                     gboolean *isNew, GError **error)
{
    char uuidstr[QVIR_UUID_STRING_BUFLEN];
    qemuDomainObj *obj;

    *isNew = FALSE;
    g_mutex_lock(&list->lock);
    if ((obj = qemuDomainObjListFindByUUIDLocked(list, def->uuid))) {
        if (strcmp(obj->name, def->name) != 0) {
            qvirUUIDFormat(obj->uuid, uuidstr);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "operation failed: domain '%s' is already defined with uuid %s", obj->name,
                        uuidstr);
            g_mutex_unlock(&list->lock);
            return NULL;
        }
        qemuDomainObjRef(obj);
        g_mutex_unlock(&list->lock);
        return obj;
    }
    if ((obj = g_hash_table_lookup(list->byName, def->name))) {
        qvirUUIDFormat(obj->uuid, uuidstr);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                    "operation failed: domain '%s' already exists with uuid %s", def->name,
                    uuidstr);
        g_mutex_unlock(&list->lock);
        return NULL;
    }

    obj = qemuDomainObjNew(def->name, def->uuid);
    if (setup)
        setup(obj, opaque);
    qvirUUIDFormat(obj->uuid, uuidstr);
    g_hash_table_insert(list->byUUID, g_strdup(uuidstr), qemuDomainObjRef(obj));
    g_hash_table_insert(list->byName, g_strdup(obj->name), obj);
    g_mutex_unlock(&list->lock);
    *isNew = TRUE;
    return obj;
}

void
qemuDomainObjListRemove(qemuDomainObjList *list, qemuDomainObj *obj)
{
    char uuidstr[QVIR_UUID_STRING_BUFLEN];

    qvirUUIDFormat(obj->uuid, uuidstr);
    g_mutex_lock(&list->lock);
    qemuDomainObjLock(obj);
    obj->removed = TRUE;
    qemuDomainObjUnlock(obj);
    if (g_hash_table_lookup(list->byUUID, uuidstr) == obj) {
        g_hash_table_remove(list->byName, obj->name);
        /* Drops the list's reference; the caller still holds its own. */
        g_hash_table_remove(list->byUUID, uuidstr);
    }
    g_mutex_unlock(&list->lock);
}

static gint
qemuDomainObjCompareName(gconstpointer a, gconstpointer b)
{
    const qemuDomainObj *oa = *(qemuDomainObj *const *)a;
    const qemuDomainObj *ob = *(qemuDomainObj *const *)b;

    return strcmp(oa->name, ob->name);
}

GPtrArray *
qemuDomainObjListCollect(qemuDomainObjList *list)
{
    GPtrArray *objs = g_ptr_array_new_with_free_func((GDestroyNotify)qemuDomainObjUnref);
    GHashTableIter iter;
    gpointer value;

    g_mutex_lock(&list->lock);
    g_hash_table_iter_init(&iter, list->byUUID);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_ptr_array_add(objs, qemuDomainObjRef(value));
    g_mutex_unlock(&list->lock);
    g_ptr_array_sort(objs, qemuDomainObjCompareName);
    return objs;
}

/* ---- the status file ---------------------------------------------------------- */

void
qemuDomainStatusClear(qemuDomainStatus *status)
{
    g_clear_pointer(&status->monitorPath, g_free);
    g_clear_pointer(&status->def, qvirDomainDefFree);
}

char *
qemuDomainStatusFormat(int state, int reason, pid_t pid, const char *monitorPath,
                       const qvirDomainDef *liveDef)
{
    GString *buf = g_string_new(NULL);
    g_autofree char *escPath = g_markup_escape_text(monitorPath ? monitorPath : "", -1);

    g_string_append_printf(buf, "<domstatus state='%s' reason='%s' pid='%lld'>\n",
                           qemuDomainStateToString(state),
                           qemuDomainStateReasonToString(state, reason), (long long)pid);
    g_string_append_printf(buf, "  <monitor path='%s' type='unix'/>\n", escPath);
    /* libvirt's counter: the next index a new layer takes survives a restart */
    if (liveDef->nodeIndexUsed)
        g_string_append_printf(buf, "  <nodename index='%u'/>\n", liveDef->nodeIndexUsed);
    /* STATUS keeps which layers were probed, so the inactive view of a running domain
     * is the same after a daemon restart. */
    qvirDomainDefFormatBuf(buf, liveDef, QVIR_DOMAIN_DEF_FORMAT_STATUS, 2);
    g_string_append(buf, "</domstatus>\n");
    return g_string_free(buf, FALSE);
}

static xmlNodePtr
qemuDomainStatusChild(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr cur = parent->children; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE && strcmp((const char *)cur->name, name) == 0)
            return cur;
    }
    return NULL;
}

static gboolean
qemuDomainStatusParseHeader(xmlNodePtr root, qemuDomainStatus *status, GError **error)
{
    g_autofree char *state = qvirXMLPropString(root, "state");
    g_autofree char *reason = qvirXMLPropString(root, "reason");
    g_autofree char *pid = qvirXMLPropString(root, "pid");
    guint64 pidval = 0;

    if (!state || (status->state = qemuDomainStateFromString(state)) < 0 ||
        (status->state != 1 && status->state != 3)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "invalid domain state '%s' in status file", state ? state : "");
        return FALSE;
    }
    status->reason = 0;
    if (reason && (status->reason = qemuDomainStateReasonFromString(status->state, reason)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "invalid reason '%s' for state '%s' in status file", reason, state);
        return FALSE;
    }
    if (!pid || !g_ascii_string_to_unsigned(pid, 10, 1, G_MAXINT32, &pidval, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "invalid pid '%s' in status file",
                    pid ? pid : "");
        return FALSE;
    }
    status->pid = (pid_t)pidval;
    return TRUE;
}

gboolean
qemuDomainStatusParse(const char *xml, qemuDomainStatus *status, GError **error)
{
    xmlDocPtr doc;
    xmlNodePtr root, mon, domnode, nodename;
    gboolean ok = FALSE;
    size_t len = strlen(xml);

    memset(status, 0, sizeof(*status));
    if (len > G_MAXINT ||
        !(doc = xmlReadMemory(xml, (int)len, "domstatus.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "XML error: status file is not well-formed XML");
        return FALSE;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "domstatus") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR,
                    "XML error: expected root element <domstatus>");
        goto out;
    }
    if (!qemuDomainStatusParseHeader(root, status, error))
        goto out;
    if (!(mon = qemuDomainStatusChild(root, "monitor")) ||
        !(status->monitorPath = qvirXMLPropString(mon, "path")) ||
        !g_path_is_absolute(status->monitorPath)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "no monitor path in status file");
        goto out;
    }
    if (!(domnode = qemuDomainStatusChild(root, "domain"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "no <domain> in status file");
        goto out;
    }
    status->def = qvirDomainDefParseNode(doc, domnode, QVIR_DOMAIN_DEF_PARSE_STATUS, error);
    ok = status->def != NULL;
    if (ok && (nodename = qemuDomainStatusChild(root, "nodename"))) {
        g_autofree char *index = qvirXMLPropString(nodename, "index");
        guint64 value = 0;

        if (index && g_ascii_string_to_unsigned(index, 10, 0, G_MAXUINT, &value, NULL))
            status->def->nodeIndexUsed = (unsigned int)value;
    }

out:
    xmlFreeDoc(doc);
    if (!ok)
        qemuDomainStatusClear(status);
    return ok;
}
