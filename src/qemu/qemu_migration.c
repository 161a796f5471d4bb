/*
 * qemu_migration.c: live migration between qvirtd daemons (see qemu_migration.h).
 *
 * Jobs. The source's migration is one async job (MIGRATION_OUT) from Begin to Confirm, as
 * in libvirt 9.0: Begin starts it when the client asks for change protection (libvirt's
 * client always does) and it outlives the call; Perform continues it, taking the ordinary
 * job as the async job's own (ASYNC_NESTED) while it talks to QEMU; Confirm ends it; so
 * does a failed Perform, and the close of the client's connection (after Begin: nothing
 * happened; after Perform: the guest stays paused). Meanwhile only queries, destroy,
 * suspend and migration operations may begin; anything else waits and times out naming
 * the phase's call. A peer-to-peer Perform runs all of it in one call. The destination
 * holds the domain's job inside Prepare (the start) and Finish. The migration's figures
 * live in the driver's table, keyed by UUID, which is also what virDomainGetJobStats,
 * abort and migrate-setspeed read and write without waiting for a job. Perform's poll
 * loop is the only thread that talks to QEMU about the migration: abort and a new speed
 * are requests it carries out.
 *
 * The cookie is ours (a key file, group [qvirt-migration]); libvirt's daemons do not
 * understand it and neither need to: the destination refuses a cookie it cannot read.
 */
#include "qemu/qemu_migration.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qemu/qemu_driverpriv.h"
#include "util/virenum.h"
#include "util/virerror.h"
#include "util/virsocketaddr.h"

#define QEMU_MIGRATION_COOKIE_GROUP "qvirt-migration"
#define QEMU_MIGRATION_POLL_US (50 * 1000)
/* libvirt's QEMU_DOMAIN_MIG_BANDWIDTH_MAX: what migrate-getspeed says before a setspeed. */
#define QEMU_MIGRATION_BANDWIDTH_MAX (G_MAXINT64 / (1024 * 1024))
#define QEMU_MIGRATION_MIRROR_PREFIX "migration-"

/* Also the source's async job phase (libvirt's BEGIN3, PERFORM3, PERFORM3_DONE, then
 * CONFIRM3 or CONFIRM3_CANCELLED until the job ends). */
typedef enum {
    QEMU_MIGRATION_OUT_BEGUN = 0, /* Begin answered; nothing running yet */
    QEMU_MIGRATION_OUT_PERFORMING,
    QEMU_MIGRATION_OUT_PERFORMED, /* QEMU sent everything; paused until Confirm */
    QEMU_MIGRATION_IN,            /* destination: between Prepare and Finish */
    QEMU_MIGRATION_OUT_CONFIRMING,
} qemuMigrationPhase;

/* What may run beside an outgoing migration, as libvirt 9.0's qemuMigrationJobStart
 * allows (VIR_JOB_DEFAULT_MASK, SUSPEND, MIGRATION_OP): queries, destroy, suspend, and
 * what works on the migration. Everything else waits for Confirm. */
#define QEMU_MIGRATION_OUT_JOB_MASK                                                                \
    (QEMU_JOB_MASK(QEMU_JOB_QUERY) | QEMU_JOB_MASK(QEMU_JOB_DESTROY) |                             \
     QEMU_JOB_MASK(QEMU_JOB_SUSPEND) | QEMU_JOB_MASK(QEMU_JOB_MIGRATION_OP))

typedef struct {
    qemuMigrationPhase phase;
    gint64 started; /* monotonic, µs */
    qvirDomainJobInfo info;
    gboolean abort;                         /* abort requested: the poll loop cancels */
    gboolean (*peerAlive)(gpointer opaque); /* source, peer-to-peer (qvirMigrateParams) */
    gpointer peerOpaque;
    gboolean wasRunning;     /* source: the guest ran before Perform paused it */
    gconstpointer conn;      /* the client connection of Begin or Prepare, or NULL (p2p) */
    gboolean connClosed;     /* ... which closed while Perform ran */
    GPtrArray *createdFiles; /* destination: disk images Prepare made (removed on failure) */
    int domId;               /* destination: the run Prepare started */
    char *marker;            /* the file that tells a restarted daemon about the job */
    char *name;
    unsigned char uuid[QVIR_UUID_BUFLEN];
} qemuMigrationJob;

struct _qemuMigrationTable {
    GMutex lock;
    GHashTable *jobs;      /* UUID string -> qemuMigrationJob* */
    GHashTable *completed; /* UUID string -> qvirDomainJobInfo* (the last job that ended) */
    GHashTable *speeds;    /* UUID string -> guint64* MiB/s set by migrate-setspeed */
};

static void
qemuMigrationJobFree(qemuMigrationJob *job)
{
    if (!job)
        return;
    if (job->createdFiles)
        g_ptr_array_unref(job->createdFiles);
    g_free(job->marker);
    g_free(job->name);
    g_free(job);
}

qemuMigrationTable *
qemuMigrationTableNew(void)
{
    qemuMigrationTable *t = g_new0(qemuMigrationTable, 1);

    g_mutex_init(&t->lock);
    t->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify)qemuMigrationJobFree);
    t->completed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    t->speeds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return t;
}

void
qemuMigrationTableFree(qemuMigrationTable *t)
{
    if (!t)
        return;
    g_hash_table_destroy(t->jobs);
    g_hash_table_destroy(t->completed);
    g_hash_table_destroy(t->speeds);
    g_mutex_clear(&t->lock);
    g_free(t);
}

void
qvirMigrateParamsClear(qvirMigrateParams *p)
{
    g_free(p->uri);
    g_free(p->destName);
    g_free(p->destXML);
    g_free(p->persistXML);
    g_free(p->listenAddress);
    if (p->migrateDisks)
        g_ptr_array_unref(p->migrateDisks);
    memset(p, 0, sizeof(*p));
}

static char *
qemuMigrationKey(const unsigned char *uuid)
{
    char str[QVIR_UUID_STRING_BUFLEN];

    qvirUUIDFormat(uuid, str);
    return g_strdup(str);
}

#define QEMU_MIGRATION_MARKER_IN ".migration-in"
#define QEMU_MIGRATION_MARKER_OUT ".migration-out"

/* RUNDIR/qemu/NAME.migration-in|out: written when a job starts, removed when it ends. A
 * daemon that finds one at start was killed during the job (qemuMigrationRecover). An
 * incoming job's marker lists the images Prepare created, one path a line, so that a
 * restarted daemon removes them with the domain. */
static char *
qemuMigrationMarkerPath(qvirDriver *drv, const char *name, gboolean incoming)
{
    g_autofree char *file =
        g_strconcat(name, incoming ? QEMU_MIGRATION_MARKER_IN : QEMU_MIGRATION_MARKER_OUT, NULL);

    return g_build_filename(drv->cfg->statusDir, file, NULL);
}

/* Rewrite the incoming marker of NAME with the images created so far: before Prepare goes
 * on, a restarted daemon must know every image it has to take back. */
static void
qemuMigrationMarkerWriteCreated(qvirDriver *drv, const char *name, GPtrArray *created)
{
    g_autofree char *path = qemuMigrationMarkerPath(drv, name, TRUE);
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    for (guint i = 0; i < created->len; i++)
        g_string_append_printf(text, "%s\n", (const char *)g_ptr_array_index(created, i));
    /* g_file_set_contents replaces the file by a rename: never half written */
    if (!g_file_set_contents(path, text->str, text->len, &err))
        g_message("domain '%s': cannot record the images of the incoming migration: %s", name,
                  err->message);
}

/* Add a job for UUID; FALSE (an error) when the domain already has one. */
static gboolean
qemuMigrationJobAdd(qvirDriver *drv, const unsigned char *uuid, const char *name,
                    qemuMigrationPhase phase, GError **error)
{
    qemuMigrationTable *t = drv->migration;
    g_autofree char *key = qemuMigrationKey(uuid);
    qemuMigrationJob *job;
    gboolean ok = FALSE;

    g_mutex_lock(&t->lock);
    if (g_hash_table_contains(t->jobs, key)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain '%s' is already being migrated",
                    name);
    } else {
        job = g_new0(qemuMigrationJob, 1);
        job->phase = phase;
        job->started = g_get_monotonic_time();
        job->info.type = QVIR_DOMAIN_JOB_UNBOUNDED;
        job->info.operation = phase == QEMU_MIGRATION_IN ? QVIR_DOMAIN_JOB_OPERATION_MIGRATION_IN
                                                         : QVIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
        job->marker = qemuMigrationMarkerPath(drv, name, phase == QEMU_MIGRATION_IN);
        job->name = g_strdup(name);
        memcpy(job->uuid, uuid, QVIR_UUID_BUFLEN);
        (void)g_file_set_contents(job->marker, "", 0, NULL);
        g_hash_table_insert(t->jobs, g_steal_pointer(&key), job);
        ok = TRUE;
    }
    g_mutex_unlock(&t->lock);
    return ok;
}

/* UUID's job is in PHASE (else an error naming what is wrong). Table lock held. */
static qemuMigrationJob *
qemuMigrationJobFind(qvirDriver *drv, const unsigned char *uuid)
{
    g_autofree char *key = qemuMigrationKey(uuid);

    return g_hash_table_lookup(drv->migration->jobs, key);
}

/* The job ends: its figures become the completed job's (when COMPLETED), the entry goes.
 * Returns the files Prepare created (destination), for the caller to remove or keep. */
static GPtrArray *
qemuMigrationJobEnd(qvirDriver *drv, const unsigned char *uuid, gboolean completed)
{
    qemuMigrationTable *t = drv->migration;
    g_autofree char *key = qemuMigrationKey(uuid);
    qemuMigrationJob *job;
    GPtrArray *files = NULL;

    g_mutex_lock(&t->lock);
    if ((job = g_hash_table_lookup(t->jobs, key))) {
        qvirDomainJobInfo *done = g_new(qvirDomainJobInfo, 1);

        *done = job->info;
        done->type = completed ? QVIR_DOMAIN_JOB_COMPLETED : QVIR_DOMAIN_JOB_FAILED;
        done->elapsed = (g_get_monotonic_time() - job->started) / 1000;
        g_hash_table_replace(t->completed, g_strdup(key), done);
        files = g_steal_pointer(&job->createdFiles);
        if (job->marker)
            (void)g_unlink(job->marker);
        g_hash_table_remove(t->jobs, key);
    }
    g_mutex_unlock(&t->lock);
    return files;
}

static guint64
qemuMigrationGetSpeed(qvirDriver *drv, const unsigned char *uuid)
{
    g_autofree char *key = qemuMigrationKey(uuid);
    guint64 *speed;
    guint64 ret;

    g_mutex_lock(&drv->migration->lock);
    speed = g_hash_table_lookup(drv->migration->speeds, key);
    ret = speed ? *speed : QEMU_MIGRATION_BANDWIDTH_MAX;
    g_mutex_unlock(&drv->migration->lock);
    return ret;
}

/* ---- the cookie ------------------------------------------------------------------ */

typedef struct {
    char *name;
    char *uuid;
    char *hostname;
    char *hostUUID;
    guint64 downtime; /* Perform -> Finish: QEMU's downtime, ms */
    guint64 totalTime;
    gboolean haveDowntime;
    /* A storage copy. Begin -> Prepare: the disks (targets) the source copies, with the
     * virtual size of each (to create them). Prepare -> Perform: the disks exported over
     * NBD (export name = target) on NBDPORT. */
    GStrv disks;
    guint64 *capacities;
    int nbdPort;
} qemuMigrationCookie;

static void
qemuMigrationCookieClear(qemuMigrationCookie *c)
{
    g_free(c->name);
    g_free(c->uuid);
    g_free(c->hostname);
    g_free(c->hostUUID);
    g_strfreev(c->disks);
    g_free(c->capacities);
    memset(c, 0, sizeof(*c));
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qemuMigrationCookie, qemuMigrationCookieClear);

static GBytes *
qemuMigrationCookieFormat(qvirDriver *drv, const char *name, const unsigned char *uuid,
                          const qemuMigrationCookie *extra)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    char uuidStr[QVIR_UUID_STRING_BUFLEN];
    char hostUUID[QVIR_UUID_STRING_BUFLEN];
    gsize len = 0;
    char *data;

    qvirUUIDFormat(uuid, uuidStr);
    qemuDriverHostUUID(drv, hostUUID);
    g_key_file_set_string(kf, QEMU_MIGRATION_COOKIE_GROUP, "name", name);
    g_key_file_set_string(kf, QEMU_MIGRATION_COOKIE_GROUP, "uuid", uuidStr);
    g_key_file_set_string(kf, QEMU_MIGRATION_COOKIE_GROUP, "hostname", g_get_host_name());
    g_key_file_set_string(kf, QEMU_MIGRATION_COOKIE_GROUP, "hostuuid", hostUUID);
    if (extra && extra->disks) {
        g_key_file_set_string_list(kf, QEMU_MIGRATION_COOKIE_GROUP, "disks",
                                   (const char *const *)extra->disks, g_strv_length(extra->disks));
        for (guint i = 0; extra->capacities && extra->disks[i]; i++) {
            g_autofree char *key = g_strdup_printf("capacity-%s", extra->disks[i]);

            g_key_file_set_uint64(kf, QEMU_MIGRATION_COOKIE_GROUP, key, extra->capacities[i]);
        }
    }
    if (extra && extra->nbdPort)
        g_key_file_set_integer(kf, QEMU_MIGRATION_COOKIE_GROUP, "nbd-port", extra->nbdPort);
    if (extra && extra->haveDowntime) {
        g_key_file_set_uint64(kf, QEMU_MIGRATION_COOKIE_GROUP, "downtime", extra->downtime);
        g_key_file_set_uint64(kf, QEMU_MIGRATION_COOKIE_GROUP, "total-time", extra->totalTime);
    }
    data = g_key_file_to_data(kf, &len, NULL);
    return g_bytes_new_take(data, len);
}

/* An empty cookie is none (Perform's of a failed peer); anything else must be ours. */
static gboolean
qemuMigrationCookieParse(GBytes *bytes, qemuMigrationCookie *c, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    gsize len = 0;
    const char *data = bytes ? g_bytes_get_data(bytes, &len) : NULL;
    g_autoptr(GError) err = NULL;

    memset(c, 0, sizeof(*c));
    if (!data || !len)
        return TRUE;
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &err) ||
        !(c->uuid = g_key_file_get_string(kf, QEMU_MIGRATION_COOKIE_GROUP, "uuid", NULL)) ||
        !(c->hostUUID = g_key_file_get_string(kf, QEMU_MIGRATION_COOKIE_GROUP, "hostuuid", NULL))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: migration cookie is not a qvirt migration cookie%s%s",
                    err ? ": " : "", err ? err->message : "");
        return FALSE;
    }
    c->name = g_key_file_get_string(kf, QEMU_MIGRATION_COOKIE_GROUP, "name", NULL);
    c->hostname = g_key_file_get_string(kf, QEMU_MIGRATION_COOKIE_GROUP, "hostname", NULL);
    c->disks = g_key_file_get_string_list(kf, QEMU_MIGRATION_COOKIE_GROUP, "disks", NULL, NULL);
    if (c->disks) {
        c->capacities = g_new0(guint64, g_strv_length(c->disks) + 1);
        for (guint i = 0; c->disks[i]; i++) {
            g_autofree char *key = g_strdup_printf("capacity-%s", c->disks[i]);

            c->capacities[i] = g_key_file_get_uint64(kf, QEMU_MIGRATION_COOKIE_GROUP, key, NULL);
        }
    }
    c->nbdPort = g_key_file_get_integer(kf, QEMU_MIGRATION_COOKIE_GROUP, "nbd-port", NULL);
    if (g_key_file_has_key(kf, QEMU_MIGRATION_COOKIE_GROUP, "downtime", NULL)) {
        c->haveDowntime = TRUE;
        c->downtime = g_key_file_get_uint64(kf, QEMU_MIGRATION_COOKIE_GROUP, "downtime", NULL);
        c->totalTime = g_key_file_get_uint64(kf, QEMU_MIGRATION_COOKIE_GROUP, "total-time", NULL);
    }
    return TRUE;
}

/* libvirt refuses a migration between two hosts with one UUID (it would be onto itself). */
static gboolean
qemuMigrationCookieCheckHost(qvirDriver *drv, const qemuMigrationCookie *c, GError **error)
{
    char hostUUID[QVIR_UUID_STRING_BUFLEN];

    if (!c->hostUUID) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: missing hostuuid element in migration data");
        return FALSE;
    }
    qemuDriverHostUUID(drv, hostUUID);
    if (g_ascii_strcasecmp(hostUUID, c->hostUUID) == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: Attempt to migrate guest to the same host %s", c->hostUUID);
        return FALSE;
    }
    return TRUE;
}

/* ---- checks shared by the phases ---------------------------------------------------- */

/* PEER2PEER: the source daemon drives the phases (src/rpc/remote_migrate_p2p.c); each
 * phase is the same. */
#define QEMU_MIGRATION_FLAGS_SUPPORTED                                                             \
    (QVIR_MIGRATE_LIVE | QVIR_MIGRATE_PEER2PEER | QVIR_MIGRATE_PERSIST_DEST |                      \
     QVIR_MIGRATE_UNDEFINE_SOURCE | QVIR_MIGRATE_PAUSED | QVIR_MIGRATE_UNSAFE |                    \
     QVIR_MIGRATE_ABORT_ON_ERROR | QVIR_MIGRATE_NON_SHARED_DISK | QVIR_MIGRATE_NON_SHARED_INC |    \
     QVIR_MIGRATE_CHANGE_PROTECTION)
#define QEMU_MIGRATION_COPY (QVIR_MIGRATE_NON_SHARED_DISK | QVIR_MIGRATE_NON_SHARED_INC)

static gboolean
qemuMigrationCheckFlags(unsigned int flags, const char *func, GError **error)
{
    if ((flags & QVIR_MIGRATE_NON_SHARED_DISK) && (flags & QVIR_MIGRATE_NON_SHARED_INC)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: flags 'VIR_MIGRATE_NON_SHARED_DISK' and "
                            "'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive");
        return FALSE;
    }
    if (flags & (QVIR_MIGRATE_TUNNELLED | QVIR_MIGRATE_OFFLINE)) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                            "argument unsupported: tunnelled and offline migration are not "
                            "supported by qvirtd");
        return FALSE;
    }
    return qvirCheckFlags(flags, QEMU_MIGRATION_FLAGS_SUPPORTED, func, error);
}

/* HOST and PORT of a tcp URI (tcp://HOST:PORT, tcp:HOST:PORT, either without :PORT: 0). */
static gboolean
qemuMigrationParseURI(const char *uri, char **host, int *port, GError **error)
{
    const char *rest;
    const char *colon;
    guint64 val = 0;

    if (!g_str_has_prefix(uri, "tcp:")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: unsupported scheme in migration URI %s", uri);
        return FALSE;
    }
    rest = uri + strlen("tcp:");
    if (g_str_has_prefix(rest, "//"))
        rest += 2;
    colon = strrchr(rest, ':');
    if (colon && !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &val, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: invalid port in migration URI %s", uri);
        return FALSE;
    }
    *host = colon ? g_strndup(rest, colon - rest) : g_strdup(rest);
    if (g_str_has_suffix(*host, "/"))
        (*host)[strlen(*host) - 1] = '\0';
    *port = (int)val;
    if (!**host) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: missing host in migration URI %s", uri);
        g_clear_pointer(host, g_free);
        return FALSE;
    }
    return TRUE;
}

/* QEMU's "tcp:HOST:PORT" (PORT from qemuMigrationParseURI or the port range: positive). */
static char *
qemuMigrationTcpURI(const char *host, int port)
{
    g_autofree char *hostPort = qvirSocketAddrFormatHostPort(host, (unsigned int)port);

    return g_strconcat("tcp:", hostPort, NULL);
}

/* DISK is one of those a storage copy moves: named in MIGRATEDISKS, or by default every
 * writable disk that has a source and is not shareable (as libvirt picks them). */
static gboolean
qemuMigrationCopiesDisk(const qvirDomainDiskDef *disk, const GPtrArray *migrateDisks)
{
    if (migrateDisks) {
        for (guint i = 0; i < migrateDisks->len; i++) {
            if (g_strcmp0(g_ptr_array_index(migrateDisks, i), disk->dst) == 0)
                return TRUE;
        }
        return FALSE;
    }
    return disk->src && disk->src->type != QVIR_STORAGE_TYPE_NONE && disk->src->path &&
           !disk->src->shared && !disk->src->readonly;
}

/* statfs(2) magic numbers of the file systems libvirt takes as shared between hosts. */
static const unsigned long qemuMigrationSharedFS[] = {
    0x6969,     /* nfs */
    0x01161970, /* gfs2 */
    0x7461636f, /* ocfs2 */
    0x5346414f, /* afs */
    0x517b,     /* smb */
    0xff534d42, /* cifs */
    0xfe534d42, /* smb2 */
    0x00c36400, /* ceph */
    0x47504653, /* gpfs */
    0x61636673, /* acfs */
};

static gboolean
qemuMigrationIsSharedFS(const char *path)
{
    g_autofree char *dir = NULL;
    struct statfs sb;

    /* a file that is not there yet lives in its directory's file system */
    if (statfs(path, &sb) < 0) {
        dir = g_path_get_dirname(path);
        if (statfs(dir, &sb) < 0)
            return FALSE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(qemuMigrationSharedFS); i++) {
        if ((unsigned long)sb.f_type == qemuMigrationSharedFS[i])
            return TRUE;
    }
    return FALSE;
}

/* libvirt refuses (unless --unsafe) to leave a writable disk on a local file system
 * behind: the destination would not see what the source wrote. QEMU 7.2 drops its caches
 * at the switch, so the cache mode does not matter. */
static gboolean
qemuMigrationCheckSafe(const qvirDomainDef *def, unsigned int flags, const GPtrArray *migrateDisks,
                       GError **error)
{
    gboolean copy = (flags & (QVIR_MIGRATE_NON_SHARED_DISK | QVIR_MIGRATE_NON_SHARED_INC)) != 0;

    if (flags & QVIR_MIGRATE_UNSAFE)
        return TRUE;
    for (guint i = 0; i < def->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (!disk->src || disk->src->type == QVIR_STORAGE_TYPE_NONE || !disk->src->path ||
            disk->src->readonly)
            continue;
        if (copy && qemuMigrationCopiesDisk(disk, migrateDisks))
            continue;
        if (disk->src->type != QVIR_STORAGE_TYPE_FILE)
            continue;
        if (!qemuMigrationIsSharedFS(disk->src->path)) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_MIGRATE_UNSAFE,
                                "Unsafe migration: Migration without shared storage is unsafe");
            return FALSE;
        }
    }
    return TRUE;
}

/* ---- Begin (source) ------------------------------------------------------------------ */

/* Start the async job MIGRATION_OUT on OBJ, with its table entry in PHASE. */
static gboolean
qemuMigrationSrcStartJob(qvirDriver *drv, qemuDomainObj *obj, qemuMigrationPhase phase,
                         GError **error)
{
    if (!qemuDomainObjBeginAsyncJob(obj, QEMU_ASYNC_JOB_MIGRATION_OUT, QEMU_MIGRATION_OUT_JOB_MASK,
                                    QEMU_DOMAIN_JOB_WAIT_MS, error))
        return FALSE;
    qemuDomainObjLock(obj);
    qemuDomainObjStartAsyncPhase(obj, phase);
    qemuDomainObjUnlock(obj);
    if (!qemuMigrationJobAdd(drv, obj->uuid, obj->name, phase, error)) {
        qemuDomainObjEndAsyncJob(obj);
        return FALSE;
    }
    return TRUE;
}

/* The async job ends, with its table entry (COMPLETED: as the completed job). */
static void
qemuMigrationSrcFinishJob(qvirDriver *drv, qemuDomainObj *obj, gboolean completed)
{
    g_autoptr(GPtrArray) files = qemuMigrationJobEnd(drv, obj->uuid, completed);

    qemuDomainObjEndAsyncJob(obj);
}

/* The client's connection closed with no Confirm to come, as libvirt 9.0's
 * qemuMigrationAnyConnectionClosed handles it: after Begin the migration is forgotten;
 * after Perform the job ends and the guest stays paused, since whether the destination
 * runs it is unknown. */
static void
qemuMigrationSrcConnClosedDone(qvirDriver *drv, qemuDomainObj *obj)
{
    g_message("The connection which controls migration of domain %s was closed", obj->name);
    qemuMigrationSrcFinishJob(drv, obj, FALSE);
}

static void qemuMigrationDstCleanup(qvirDriver *drv, const unsigned char *uuid);

void
qvirDriverDomainMigrateConnClosed(qvirDriver *drv, const unsigned char *uuid, gconstpointer conn)
{
    g_autoptr(qemuDomainObj) obj = qemuDriverGetObj(drv, uuid, NULL);
    qemuMigrationJob *job;
    gboolean done = FALSE;
    gboolean incoming = FALSE;

    g_mutex_lock(&drv->migration->lock);
    if ((job = qemuMigrationJobFind(drv, uuid)) && job->conn == conn) {
        switch (job->phase) {
        case QEMU_MIGRATION_OUT_BEGUN:
        case QEMU_MIGRATION_OUT_PERFORMED:
            /* no call of that client can take the job on any more */
            job->phase = QEMU_MIGRATION_OUT_CONFIRMING;
            done = TRUE;
            break;
        case QEMU_MIGRATION_OUT_PERFORMING:
            /* Perform ends the job when it is over */
            job->connClosed = TRUE;
            break;
        case QEMU_MIGRATION_IN:
            /* no Finish will come: the incoming QEMU, the images Prepare made and the
             * job go, as libvirt's stop of an incoming domain discards its job */
            incoming = TRUE;
            break;
        case QEMU_MIGRATION_OUT_CONFIRMING:
            break;
        }
    }
    g_mutex_unlock(&drv->migration->lock);
    if (incoming)
        qemuMigrationDstCleanup(drv, uuid);
    if (done && obj)
        qemuMigrationSrcConnClosedDone(drv, obj);
}

static const char *const qemuMigrationPhaseNames[] = {
    "begin3", "perform3", "perform3_done", "prepare", "confirm3",
};

/* The next phase of OBJ's async job: it must be in one of FROM (a bit per phase). NEXT
 * is run by the thread's call from now on. */
static gboolean
qemuMigrationSrcContinueJob(qvirDriver *drv, qemuDomainObj *obj, guint from,
                            qemuMigrationPhase next, GError **error)
{
    qemuMigrationJob *job;
    gboolean active;
    int phase = -1;

    qemuDomainObjLock(obj);
    active = obj->asyncJob == QEMU_ASYNC_JOB_MIGRATION_OUT;
    g_mutex_lock(&drv->migration->lock);
    if (active && (job = qemuMigrationJobFind(drv, obj->uuid))) {
        phase = job->phase;
        if (from & (1u << phase))
            job->phase = next;
    }
    g_mutex_unlock(&drv->migration->lock);
    if (active && phase >= 0 && (from & (1u << phase)))
        qemuDomainObjStartAsyncPhase(obj, next);
    qemuDomainObjUnlock(obj);

    if (!active || phase < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain '%s' is not being migrated",
                    obj->name);
        return FALSE;
    }
    if (!(from & (1u << phase))) {
        g_set_error(
            error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
            "internal error: migration protocol going backwards %s => %s",
            qvirEnumToString(qemuMigrationPhaseNames, G_N_ELEMENTS(qemuMigrationPhaseNames), phase),
            qvirEnumToString(qemuMigrationPhaseNames, G_N_ELEMENTS(qemuMigrationPhaseNames), next));
        return FALSE;
    }
    return TRUE;
}

/* The source's job from Begin to Confirm, as libvirt 9.0 runs it. With
 * VIR_MIGRATE_CHANGE_PROTECTION (virDomainMigrate3 sets it when the driver supports it)
 * Begin starts the async job, which outlives the call; without it Begin holds an ordinary
 * job for its own duration and Perform starts the async job. */
static gboolean
qemuMigrationSrcBeginJob(qvirDriver *drv, qemuDomainObj *obj, unsigned int flags, GError **error)
{
    if (!(flags & QVIR_MIGRATE_CHANGE_PROTECTION))
        return qemuDriverBeginJob(obj, QEMU_JOB_MODIFY, error);
    return qemuMigrationSrcStartJob(drv, obj, QEMU_MIGRATION_OUT_BEGUN, error);
}

/* Begin failed: its job ends. */
static void
qemuMigrationSrcEndJob(qvirDriver *drv, qemuDomainObj *obj, unsigned int flags, gboolean completed)
{
    if (!(flags & QVIR_MIGRATE_CHANGE_PROTECTION)) {
        qemuDomainObjEndJob(obj);
        return;
    }
    qemuMigrationSrcFinishJob(drv, obj, completed);
}

static char *qemuMigrationSrcBeginXML(qvirDriver *drv, qemuDomainObj *obj,
                                      const qvirMigrateParams *params, unsigned int flags,
                                      GBytes **cookieOut, GError **error);

char *
qvirDriverDomainMigrateBegin(qvirDriver *drv, const unsigned char *uuid,
                             const qvirMigrateParams *params, unsigned int flags,
                             GBytes **cookieOut, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autofree char *xml = NULL;

    if (!qemuMigrationCheckFlags(flags, "qemuDomainMigrateBegin3Params", error))
        return NULL;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return NULL;
    if (!qemuMigrationSrcBeginJob(drv, obj, flags, error))
        return NULL;
    if (!(xml = qemuMigrationSrcBeginXML(drv, obj, params, flags, cookieOut, error))) {
        qemuMigrationSrcEndJob(drv, obj, flags, FALSE);
        return NULL;
    }
    if (flags & QVIR_MIGRATE_CHANGE_PROTECTION) {
        /* the job stays until Confirm, or until CONN closes (qemuMigrationSrcConnClosed) */
        g_mutex_lock(&drv->migration->lock);
        qemuMigrationJobFind(drv, uuid)->conn = params->conn;
        g_mutex_unlock(&drv->migration->lock);
    } else {
        qemuDomainObjEndJob(obj);
    }
    return g_steal_pointer(&xml);
}

static char *
qemuMigrationSrcBeginXML(qvirDriver *drv, qemuDomainObj *obj, const qvirMigrateParams *params,
                         unsigned int flags, GBytes **cookieOut, GError **error)
{
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *xml = NULL;
    g_auto(qemuMigrationCookie) out = {0};
    gboolean active;

    qemuDomainObjLock(obj);
    active = qemuDomainObjIsActive(obj) && obj->liveDef;
    /* The inactive view: the destination probes every chain from its own images. */
    if (active)
        def = qvirDomainDefCopy(obj->liveDef, 0, error);
    if (active && (flags & QEMU_MIGRATION_COPY)) {
        g_autoptr(GPtrArray) disks = g_ptr_array_new();
        GArray *caps = g_array_new(TRUE, TRUE, sizeof(guint64));

        for (guint i = 0; i < obj->liveDef->disks->len; i++) {
            const qvirDomainDiskDef *disk = g_ptr_array_index(obj->liveDef->disks, i);

            if (!qemuMigrationCopiesDisk(disk, params->migrateDisks))
                continue;
            g_ptr_array_add(disks, g_strdup(disk->dst));
            g_array_append_val(caps, disk->src->capacity);
        }
        g_ptr_array_add(disks, NULL);
        out.disks = (GStrv)g_ptr_array_free(g_steal_pointer(&disks), FALSE);
        out.capacities = (guint64 *)(void *)g_array_free(caps, FALSE);
    }
    qemuDomainObjUnlock(obj);
    if (!active) {
        qemuDriverErrorNotRunning(error);
        return NULL;
    }
    if (!def || !qemuMigrationCheckSafe(def, flags, params->migrateDisks, error))
        return NULL;

    if (params->destXML) {
        g_autoptr(qvirDomainDef) user = qemuDriverParseDef(drv, params->destXML, error);

        if (!user)
            return NULL;
        if (memcmp(user->uuid, obj->uuid, QVIR_UUID_BUFLEN) != 0) {
            char a[QVIR_UUID_STRING_BUFLEN], b[QVIR_UUID_STRING_BUFLEN];

            qvirUUIDFormat(user->uuid, a);
            qvirUUIDFormat(obj->uuid, b);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported configuration: Target domain uuid %s does not match "
                        "source %s",
                        a, b);
            return NULL;
        }
        if (g_strcmp0(user->name, obj->name) != 0 && !params->destName) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                        "unsupported configuration: Target domain name '%s' does not match "
                        "source '%s'",
                        user->name, obj->name);
            return NULL;
        }
        g_clear_pointer(&def, qvirDomainDefFree);
        def = g_steal_pointer(&user);
    }
    xml = qvirDomainDefFormat(def, 0);
    *cookieOut = qemuMigrationCookieFormat(drv, obj->name, obj->uuid, &out);
    return g_steal_pointer(&xml);
}

/* ---- Prepare (destination) ---------------------------------------------------------- */

/* A port of the configured range free on ADDR; 0 (an error) when none is. */
static int
qemuMigrationFindPort(qvirDriver *drv, const char *addr, GError **error)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};

    for (unsigned int port = drv->cfg->migrationPortMin; port <= drv->cfg->migrationPortMax;
         port++) {
        g_autofree char *service = g_strdup_printf("%u", port);
        struct addrinfo *res = NULL;
        gboolean free_ = FALSE;
        int fd;

        if (getaddrinfo(addr, service, &hints, &res) != 0 || !res)
            continue;
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            int one = 1;

            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            free_ = bind(fd, res->ai_addr, res->ai_addrlen) == 0;
            close(fd);
        }
        freeaddrinfo(res);
        if (free_)
            return (int)port;
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                "internal error: Unable to find an unused port in range 'migration' (%u-%u)",
                drv->cfg->migrationPortMin, drv->cfg->migrationPortMax);
    return 0;
}

typedef struct {
    const char *incomingURI;
} qemuMigrationIncoming;

/* migrate-set-capabilities with the one capability NAME set to STATE. */
static gboolean
qemuMigrationSetCapability(qemuMonitor *mon, const char *name, gboolean state, GError **error)
{
    g_autoptr(JsonObject) args = json_object_new();
    JsonArray *caps = json_array_new();
    JsonObject *cap = json_object_new();
    g_autoptr(JsonNode) ret = NULL;

    json_object_set_string_member(cap, "capability", name);
    json_object_set_boolean_member(cap, "state", state);
    json_array_add_object_element(caps, cap);
    json_object_set_array_member(args, "capabilities", caps);
    ret = qemuMonitorCommand(mon, "migrate-set-capabilities", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                             error);
    return ret != NULL;
}

/* The load step of the start: QEMU, paused with -incoming defer, starts listening. */
static gboolean
qemuMigrationIncomingLoad(qemuProcess *proc, gpointer opaque, GError **error)
{
    qemuMigrationIncoming *in = opaque;
    qemuMonitor *mon = qemuProcessGetMonitor(proc);
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;

    /* The images stay the source's (no write locks taken here) until Finish resumes the
     * guest, as libvirt has it: a source that resumes after a failure can have them back. */
    if (!qemuMigrationSetCapability(mon, "late-block-activate", TRUE, error))
        return FALSE;
    json_object_set_string_member(args, "uri", in->incomingURI);
    ret = qemuMonitorCommand(mon, "migrate-incoming", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    return ret != NULL;
}

/* Take back an image Prepare created, through the pool it was created in: a file removed
 * behind the pool's back stays listed, and the next migration's precreation of the same
 * volume fails with "exists already". */
static void
qemuMigrationRemoveCreated(qvirDriver *drv, const char *path)
{
    g_autoptr(qvirStorageVolRef) vol = qvirStorageVolLookupByPath(drv->storage, path, NULL);
    g_autoptr(GError) err = NULL;

    if (vol && qvirStorageVolDelete(drv->storage, vol->pool, vol->name, 0, &err))
        return;
    if (err)
        g_message("cannot delete volume '%s': %s", path, err->message);
    if (g_unlink(path) < 0 && errno != ENOENT)
        g_message("cannot remove '%s': %s", path, g_strerror(errno));
}

/* Create DISK's image as libvirt 9.0 does (qemuMigrationDstPrecreateStorage): only what is
 * missing, only through the storage pool whose target is the image's directory, of the
 * source's virtual size; never for an incremental copy (the user makes that top layer). */
static gboolean
qemuMigrationPrecreateDisk(qvirDriver *drv, const qvirDomainDiskDef *disk, guint64 capacity,
                           gboolean incremental, GPtrArray *created, GError **error)
{
    g_autoptr(qvirStoragePoolRef) pool = NULL;
    g_autoptr(qvirStorageVolRef) vol = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *volName = NULL;
    g_autofree char *xml = NULL;
    const char *format;

    if (disk->src->type == QVIR_STORAGE_TYPE_NETWORK || !disk->src->path ||
        g_file_test(disk->src->path, G_FILE_TEST_EXISTS))
        return TRUE;
    if (disk->src->type != QVIR_STORAGE_TYPE_FILE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: cannot precreate storage for disk type '%s'",
                    disk->src->type == QVIR_STORAGE_TYPE_BLOCK ? "block" : "none");
        return FALSE;
    }
    if (incremental) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED,
                            "Operation not supported: pre-creation of storage targets for "
                            "incremental storage migration is not supported");
        return FALSE;
    }
    dir = g_path_get_dirname(disk->src->path);
    volName = g_path_get_basename(disk->src->path);
    if (!(pool = qvirStoragePoolLookupByTargetPath(drv->storage, dir, error)))
        return FALSE;
    format = disk->src->format == QVIR_STORAGE_FILE_QCOW2 ? "qcow2" : "raw";
    xml = g_strdup_printf(
        "<volume>\n  <name>%s</name>\n  <capacity>%llu</capacity>\n"
        "  <target>\n    <format type='%s'/>\n%s  </target>\n</volume>\n",
        volName, (unsigned long long)capacity, format,
        disk->src->format == QVIR_STORAGE_FILE_QCOW2 ? "    <compat>1.1</compat>\n" : "");
    /* VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA for qcow2, as libvirt */
    if (!(vol =
              qvirStorageVolCreateXML(drv->storage, pool->uuid, xml,
                                      disk->src->format == QVIR_STORAGE_FILE_QCOW2 ? 1 : 0, error)))
        return FALSE;
    g_ptr_array_add(created, g_strdup(disk->src->path));
    return TRUE;
}

/* The destination's QEMU serves the copied disks' top format nodes over NBD (writable),
 * named by target, on ADDR:PORT. */
static gboolean
qemuMigrationStartNBD(qvirDriver *drv, const unsigned char *uuid, const char *addr, int port,
                      GStrv disks, GError **error)
{
    qemuDriverRunning run;
    g_autoptr(JsonObject) args = json_object_new();
    JsonObject *saddr = json_object_new();
    JsonObject *data = json_object_new();
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *portStr = g_strdup_printf("%d", port);
    gboolean ok = TRUE;

    json_object_set_string_member(data, "host", addr);
    json_object_set_string_member(data, "port", portStr);
    json_object_set_string_member(saddr, "type", "inet");
    json_object_set_object_member(saddr, "data", data);
    json_object_set_object_member(args, "addr", saddr);
    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_MODIFY, &run, error))
        return FALSE;
    ret = qemuMonitorCommand(run.mon, "nbd-server-start", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                             error);
    ok = ret != NULL;
    for (guint i = 0; ok && disks[i]; i++) {
        g_autoptr(JsonObject) exp = json_object_new();
        g_autoptr(JsonNode) r = NULL;
        g_autofree char *id = g_strdup_printf(QEMU_MIGRATION_MIRROR_PREFIX "%s", disks[i]);
        g_autofree char *node = NULL;
        qvirDomainDiskDef *disk;

        qemuDomainObjLock(run.obj);
        disk = run.obj->liveDef ? qvirDomainDiskByTarget(run.obj->liveDef, disks[i]) : NULL;
        node = disk && disk->src ? g_strdup(disk->src->nodeFormat) : NULL;
        qemuDomainObjUnlock(run.obj);
        if (!node) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: unable to find disk by target: %s", disks[i]);
            ok = FALSE;
            break;
        }
        json_object_set_string_member(exp, "type", "nbd");
        json_object_set_string_member(exp, "id", id);
        json_object_set_string_member(exp, "node-name", node);
        json_object_set_string_member(exp, "name", disks[i]);
        json_object_set_boolean_member(exp, "writable", TRUE);
        r = qemuMonitorCommand(run.mon, "block-export-add", exp, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                               error);
        ok = r != NULL;
    }
    qemuDriverRunningEnd(&run);
    return ok;
}

gboolean
qvirDriverDomainMigratePrepare(qvirDriver *drv, const qvirMigrateParams *params, GBytes *cookieIn,
                               unsigned int flags, GBytes **cookieOut, char **uriOut,
                               qvirDomainRef **dom, GError **error)
{
    g_auto(qemuMigrationCookie) cookie = {0};
    g_autoptr(qvirDomainDef) def = NULL;
    g_autofree char *uriHost = NULL;
    g_autofree char *listen = NULL;
    g_autofree char *incomingURI = NULL;
    g_autofree char *name = NULL;
    unsigned char uuid[QVIR_UUID_BUFLEN];
    qemuMigrationIncoming in = {0};
    qemuDriverRestore restore = {0};
    g_auto(qemuMigrationCookie) out = {0};
    g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func(g_free);
    qvirDomainRef *ref;
    int uriPort = 0;
    int port;

    if (!qemuMigrationCheckFlags(flags, "qemuDomainMigratePrepare3Params", error) ||
        !qemuMigrationCookieParse(cookieIn, &cookie, error) ||
        !qemuMigrationCookieCheckHost(drv, &cookie, error))
        return FALSE;
    if (!params->destXML) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: no domain XML passed");
        return FALSE;
    }
    if (!(def = qemuDriverParseDef(drv, params->destXML, error)))
        return FALSE;
    if (params->destName) {
        g_free(def->name);
        def->name = g_strdup(params->destName);
    }
    if (params->uri && !qemuMigrationParseURI(params->uri, &uriHost, &uriPort, error))
        return FALSE;

    listen = g_strdup(params->listenAddress ? params->listenAddress
                      : uriHost             ? uriHost
                                            : "0.0.0.0");
    if (!(port = uriPort ? uriPort : qemuMigrationFindPort(drv, listen, error)))
        return FALSE;
    incomingURI = qemuMigrationTcpURI(listen, port);

    name = g_strdup(def->name);
    memcpy(uuid, def->uuid, QVIR_UUID_BUFLEN);
    if (!qemuMigrationJobAdd(drv, uuid, name, QEMU_MIGRATION_IN, error))
        return FALSE;
    g_mutex_lock(&drv->migration->lock);
    qemuMigrationJobFind(drv, uuid)->conn = params->conn;
    g_mutex_unlock(&drv->migration->lock);

    /* the disks the source copies: what is missing is created here (and removed again
     * when the migration fails) */
    if ((flags & QEMU_MIGRATION_COPY) && cookie.disks) {
        gboolean failed = FALSE;

        for (guint i = 0; !failed && cookie.disks[i]; i++) {
            const qvirDomainDiskDef *disk = qvirDomainDiskByTarget(def, cookie.disks[i]);

            if (!disk) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: unable to find disk by target: %s", cookie.disks[i]);
                failed = TRUE;
            } else if (!qemuMigrationPrecreateDisk(drv, disk, cookie.capacities[i],
                                                   (flags & QVIR_MIGRATE_NON_SHARED_INC) != 0,
                                                   created, error)) {
                failed = TRUE;
            } else if (created->len > 0) {
                qemuMigrationMarkerWriteCreated(drv, name, created);
            }
        }
        if (failed) {
            for (guint i = 0; i < created->len; i++)
                qemuMigrationRemoveCreated(drv, g_ptr_array_index(created, i));
            qemuMigrationJobEnd(drv, uuid, FALSE);
            return FALSE;
        }
    }
    g_mutex_lock(&drv->migration->lock);
    qemuMigrationJobFind(drv, uuid)->createdFiles = g_steal_pointer(&created);
    g_mutex_unlock(&drv->migration->lock);

    in.incomingURI = incomingURI;
    restore.incoming = "defer";
    restore.load = qemuMigrationIncomingLoad;
    restore.opaque = &in;
    restore.run = FALSE;
    if (!(ref = qemuDriverCreateDef(drv, g_steal_pointer(&def), 0, &restore, error))) {
        g_autoptr(GPtrArray) files = qemuMigrationJobEnd(drv, uuid, FALSE);

        for (guint i = 0; files && i < files->len; i++)
            qemuMigrationRemoveCreated(drv, g_ptr_array_index(files, i));
        return FALSE;
    }
    g_mutex_lock(&drv->migration->lock);
    qemuMigrationJobFind(drv, uuid)->domId = ref->id;
    g_mutex_unlock(&drv->migration->lock);

    if ((flags & QEMU_MIGRATION_COPY) && cookie.disks && cookie.disks[0]) {
        /* QEMU listens for the state already: the next free port is another one */
        out.nbdPort =
            params->disksPort ? params->disksPort : qemuMigrationFindPort(drv, listen, error);
        if (!out.nbdPort ||
            !qemuMigrationStartNBD(drv, uuid, listen, out.nbdPort, cookie.disks, error)) {
            qemuMigrationDstCleanup(drv, uuid);
            qvirDomainRefFree(ref);
            return FALSE;
        }
        out.disks = g_strdupv(cookie.disks);
    }

    *uriOut = g_strdup_printf("tcp:%s:%d", uriHost ? uriHost : g_get_host_name(), port);
    if (params->listenAddress && !uriHost && g_strcmp0(params->listenAddress, "0.0.0.0") != 0 &&
        g_strcmp0(params->listenAddress, "::") != 0) {
        g_free(*uriOut);
        *uriOut = g_strdup(incomingURI);
    }
    *cookieOut = qemuMigrationCookieFormat(drv, ref->name, ref->uuid, &out);
    *dom = ref;
    return TRUE;
}

/* ---- Perform (source) ------------------------------------------------------------- */

static guint64
qemuMigrationMemberUInt(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;

    return n && JSON_NODE_HOLDS_VALUE(n) ? (guint64)json_node_get_int(n) : 0;
}

/* ---- storage copy (source) ---------------------------------------------------------- */

/* Mirror each of DISKS (targets) into the destination's NBD export on HOST:PORT. */
static gboolean
qemuMigrationStartMirrors(qemuDomainObj *obj, qemuMonitor *mon, GStrv disks, const char *host,
                          int port, gboolean incremental, guint64 speed, GError **error)
{
    g_autofree char *portStr = g_strdup_printf("%d", port);

    for (guint i = 0; disks[i]; i++) {
        g_autofree char *node = NULL;
        g_autofree char *target =
            g_strdup_printf(QEMU_MIGRATION_MIRROR_PREFIX "%s-storage", disks[i]);
        g_autofree char *jobId = g_strdup_printf(QEMU_MIGRATION_MIRROR_PREFIX "%s", disks[i]);
        g_autoptr(JsonObject) add = json_object_new();
        g_autoptr(JsonObject) mirror = json_object_new();
        JsonObject *server = json_object_new();
        g_autoptr(JsonNode) ret = NULL;
        qvirDomainDiskDef *disk;

        qemuDomainObjLock(obj);
        disk = obj->liveDef ? qvirDomainDiskByTarget(obj->liveDef, disks[i]) : NULL;
        node = disk && disk->src ? g_strdup(disk->src->nodeFormat) : NULL;
        qemuDomainObjUnlock(obj);
        if (!node) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "internal error: unable to find disk by target: %s", disks[i]);
            return FALSE;
        }
        json_object_set_string_member(server, "type", "inet");
        json_object_set_string_member(server, "host", host);
        json_object_set_string_member(server, "port", portStr);
        json_object_set_string_member(add, "driver", "nbd");
        json_object_set_string_member(add, "node-name", target);
        json_object_set_object_member(add, "server", server);
        json_object_set_string_member(add, "export", disks[i]);
        ret = qemuMonitorCommand(mon, "blockdev-add", add, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        if (!ret)
            return FALSE;
        g_clear_pointer(&ret, json_node_unref);
        json_object_set_string_member(mirror, "job-id", jobId);
        json_object_set_string_member(mirror, "device", node);
        json_object_set_string_member(mirror, "target", target);
        json_object_set_string_member(mirror, "sync", incremental ? "top" : "full");
        /* a failed copy stays until we read its error */
        json_object_set_boolean_member(mirror, "auto-dismiss", FALSE);
        if (speed < QEMU_MIGRATION_BANDWIDTH_MAX)
            json_object_set_int_member(mirror, "speed", (gint64)(speed * 1024 * 1024));
        ret = qemuMonitorCommand(mon, "blockdev-mirror", mirror, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                                 error);
        if (!ret)
            return FALSE;
    }
    return TRUE;
}

/* The mirrors' state: TRUE in *READY once all are ready; FALSE (an error) when one ended
 * or failed. Their progress goes into the job's disk figures. */
static gboolean
qemuMigrationMirrorsReady(qvirDriver *drv, const unsigned char *uuid, qemuMonitor *mon, GStrv disks,
                          gboolean *ready, GError **error)
{
    g_autoptr(JsonNode) ret =
        qemuMonitorCommand(mon, "query-block-jobs", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
    JsonArray *jobs;
    guint64 total = 0, done = 0;

    if (!ret)
        return FALSE;
    jobs = JSON_NODE_HOLDS_ARRAY(ret) ? json_node_get_array(ret) : NULL;
    *ready = TRUE;
    for (guint i = 0; disks[i]; i++) {
        g_autofree char *jobId = g_strdup_printf(QEMU_MIGRATION_MIRROR_PREFIX "%s", disks[i]);
        JsonObject *found = NULL;

        for (guint j = 0; jobs && j < json_array_get_length(jobs); j++) {
            JsonObject *o = json_array_get_object_element(jobs, j);

            if (g_strcmp0(qemuDriverJsonString(o, "device"), jobId) == 0)
                found = o;
        }
        if (!found || g_strcmp0(qemuDriverJsonString(found, "status"), "concluded") == 0) {
            const char *err = found ? qemuDriverJsonString(found, "error") : NULL;

            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "operation failed: migration of disk %s failed: %s", disks[i],
                        err ? err : "the copy ended");
            return FALSE;
        }
        total += qemuMigrationMemberUInt(found, "len");
        done += qemuMigrationMemberUInt(found, "offset");
        if (!json_object_get_boolean_member_with_default(found, "ready", FALSE))
            *ready = FALSE;
    }
    g_mutex_lock(&drv->migration->lock);
    {
        qemuMigrationJob *job = qemuMigrationJobFind(drv, uuid);

        if (job) {
            job->info.diskTotal = total;
            job->info.diskProcessed = done;
            job->info.diskRemaining = total > done ? total - done : 0;
        }
    }
    g_mutex_unlock(&drv->migration->lock);
    return TRUE;
}

static gboolean
qemuMigrationAbortRequested(qvirDriver *drv, const unsigned char *uuid)
{
    qemuMigrationJob *job;
    gboolean abort;

    g_mutex_lock(&drv->migration->lock);
    job = qemuMigrationJobFind(drv, uuid);
    abort = job && job->abort;
    g_mutex_unlock(&drv->migration->lock);
    return abort;
}

/* A peer-to-peer source lost its destination daemon: what comes over is nobody's. */
static gboolean
qemuMigrationPeerLost(qvirDriver *drv, const unsigned char *uuid)
{
    gboolean (*alive)(gpointer opaque) = NULL;
    gpointer opaque = NULL;
    qemuMigrationJob *job;

    g_mutex_lock(&drv->migration->lock);
    if ((job = qemuMigrationJobFind(drv, uuid))) {
        alive = job->peerAlive;
        opaque = job->peerOpaque;
    }
    g_mutex_unlock(&drv->migration->lock);
    return alive && !alive(opaque);
}

static void
qemuMigrationErrorPeerLost(GError **error)
{
    g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                        "operation failed: Lost connection to destination host");
}

static gboolean
qemuMigrationWaitMirrorsReady(qvirDriver *drv, const unsigned char *uuid, qemuMonitor *mon,
                              GStrv disks, GError **error)
{
    for (;;) {
        gboolean ready = FALSE;

        if (!qemuMigrationMirrorsReady(drv, uuid, mon, disks, &ready, error))
            return FALSE;
        if (ready)
            return TRUE;
        if (qemuMigrationAbortRequested(drv, uuid)) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_ABORTED,
                                "operation aborted: job 'migration out' canceled by client");
            return FALSE;
        }
        if (qemuMigrationPeerLost(drv, uuid)) {
            qemuMigrationErrorPeerLost(error);
            return FALSE;
        }
        g_usleep(QEMU_MIGRATION_POLL_US);
    }
}

/* End the mirrors (a ready mirror that is cancelled first writes out what it still has:
 * with the guest paused that makes the copy complete) and drop the NBD nodes. FORCE: a
 * failure, nothing needs to be complete. */
static gboolean
qemuMigrationStopMirrors(qemuMonitor *mon, GStrv disks, gboolean force, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_TIME_SPAN_SECOND;
    gboolean ok = TRUE;

    for (guint i = 0; disks && disks[i]; i++) {
        g_autofree char *jobId = g_strdup_printf(QEMU_MIGRATION_MIRROR_PREFIX "%s", disks[i]);
        g_autoptr(JsonObject) args = json_object_new();
        g_autoptr(JsonNode) ret = NULL;

        json_object_set_string_member(args, "device", jobId);
        if (force)
            json_object_set_boolean_member(args, "force", TRUE);
        ret = qemuMonitorCommand(mon, "block-job-cancel", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                                 NULL);
    }
    /* the jobs dismiss themselves when done */
    for (;;) {
        g_autoptr(JsonNode) ret = qemuMonitorCommand(mon, "query-block-jobs", NULL,
                                                     QEMU_MONITOR_DEFAULT_TIMEOUT_MS, NULL);
        JsonArray *jobs = ret && JSON_NODE_HOLDS_ARRAY(ret) ? json_node_get_array(ret) : NULL;
        gboolean left = FALSE;

        for (guint j = 0; jobs && j < json_array_get_length(jobs); j++) {
            JsonObject *o = json_array_get_object_element(jobs, j);
            const char *dev = qemuDriverJsonString(o, "device");

            if (!dev || !g_str_has_prefix(dev, QEMU_MIGRATION_MIRROR_PREFIX))
                continue;
            left = TRUE;
            if (g_strcmp0(qemuDriverJsonString(o, "status"), "concluded") == 0) {
                g_autoptr(JsonObject) id = json_object_new();
                g_autoptr(JsonNode) r = NULL;

                json_object_set_string_member(id, "id", dev);
                r = qemuMonitorCommand(mon, "block-job-dismiss", id,
                                       QEMU_MONITOR_DEFAULT_TIMEOUT_MS, NULL);
            }
        }
        if (!ret || !left)
            break;
        if (g_get_monotonic_time() > deadline) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                                "operation failed: the disk copies did not finish");
            ok = FALSE;
            break;
        }
        g_usleep(QEMU_MIGRATION_POLL_US);
    }
    for (guint i = 0; disks && disks[i]; i++) {
        g_autofree char *node =
            g_strdup_printf(QEMU_MIGRATION_MIRROR_PREFIX "%s-storage", disks[i]);
        g_autoptr(JsonObject) args = json_object_new();
        g_autoptr(JsonNode) ret = NULL;

        json_object_set_string_member(args, "node-name", node);
        ret = qemuMonitorCommand(mon, "blockdev-del", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, NULL);
    }
    return ok;
}

static gboolean
qemuMigrationSetBandwidth(qemuMonitor *mon, guint64 mib, GError **error)
{
    g_autoptr(JsonObject) params = json_object_new();
    g_autoptr(JsonNode) ret = NULL;

    json_object_set_int_member(params, "max-bandwidth", (gint64)(mib * 1024 * 1024));
    ret = qemuMonitorCommand(mon, "migrate-set-parameters", params, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                             error);
    return ret != NULL;
}

static void
qemuMigrationCancel(qemuMonitor *mon)
{
    g_autoptr(JsonNode) ret =
        qemuMonitorCommand(mon, "migrate_cancel", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, NULL);
}

/* A cancelled migration ends asynchronously: the guest can only resume once it has. */
static void
qemuMigrationWaitEnded(qemuMonitor *mon)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;

    while (g_get_monotonic_time() < deadline) {
        g_autoptr(JsonNode) ret =
            qemuMonitorCommand(mon, "query-migrate", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, NULL);
        JsonObject *info = ret && JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
        const char *status = info && json_object_has_member(info, "status")
                                 ? json_object_get_string_member(info, "status")
                                 : NULL;

        if (!ret || !status || g_strcmp0(status, "cancelled") == 0 ||
            g_strcmp0(status, "failed") == 0 || g_strcmp0(status, "completed") == 0 ||
            g_strcmp0(status, "none") == 0)
            return;
        g_usleep(QEMU_MIGRATION_POLL_US);
    }
}

/* Poll query-migrate until QEMU has sent everything; progress into the job's figures. */
static gboolean
qemuMigrationWait(qvirDriver *drv, const unsigned char *uuid, qemuMonitor *mon, guint64 speed,
                  GStrv mirrors, qemuMigrationCookie *result, GError **error)
{
    gboolean cancelled = FALSE;
    gboolean peerLost = FALSE;
    gboolean switchedOver = FALSE;

    for (;;) {
        g_autoptr(JsonNode) ret =
            qemuMonitorCommand(mon, "query-migrate", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        JsonObject *info = ret && JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
        JsonObject *ram;
        const char *status = qemuDriverJsonString(info, "status");
        qemuMigrationJob *job;
        gboolean abort = FALSE;
        guint64 want;

        if (!ret)
            return FALSE;
        ram = info && json_object_has_member(info, "ram")
                  ? json_object_get_object_member(info, "ram")
                  : NULL;
        want = qemuMigrationGetSpeed(drv, uuid);

        g_mutex_lock(&drv->migration->lock);
        if ((job = qemuMigrationJobFind(drv, uuid))) {
            qvirDomainJobInfo *ji = &job->info;

            ji->memTotal = qemuMigrationMemberUInt(ram, "total");
            ji->memProcessed = qemuMigrationMemberUInt(ram, "transferred");
            ji->memRemaining = qemuMigrationMemberUInt(ram, "remaining");
            ji->memBps = (guint64)(ram && json_object_has_member(ram, "mbps")
                                       ? json_object_get_double_member(ram, "mbps") * 1e6 / 8
                                       : 0);
            ji->memIteration = qemuMigrationMemberUInt(ram, "dirty-sync-count");
            ji->setupTime = qemuMigrationMemberUInt(info, "setup-time");
            if (info && json_object_has_member(info, "downtime")) {
                ji->haveDowntime = TRUE;
                ji->downtime = qemuMigrationMemberUInt(info, "downtime");
            }
            abort = job->abort;
        }
        g_mutex_unlock(&drv->migration->lock);

        if (g_strcmp0(status, "pre-switchover") == 0 && !switchedOver) {
            g_autoptr(JsonObject) args = json_object_new();
            g_autoptr(JsonNode) cont = NULL;

            /* the guest is paused: the disks catch up before the state goes over */
            if (!qemuMigrationStopMirrors(mon, mirrors, FALSE, error))
                return FALSE;
            json_object_set_string_member(args, "state", "pre-switchover");
            cont = qemuMonitorCommand(mon, "migrate-continue", args,
                                      QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
            if (!cont)
                return FALSE;
            switchedOver = TRUE;
            continue;
        }
        if (g_strcmp0(status, "completed") == 0) {
            result->haveDowntime = TRUE;
            result->downtime = qemuMigrationMemberUInt(info, "downtime");
            result->totalTime = qemuMigrationMemberUInt(info, "total-time");
            return TRUE;
        }
        if (g_strcmp0(status, "failed") == 0 || g_strcmp0(status, "cancelled") == 0) {
            const char *desc = qemuDriverJsonString(info, "error-desc");

            if (peerLost)
                qemuMigrationErrorPeerLost(error);
            else if (cancelled || g_strcmp0(status, "cancelled") == 0)
                g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_ABORTED,
                                    "operation aborted: job 'migration out' canceled by client");
            else
                g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_FAILED,
                            "operation failed: job 'migration out' failed: %s",
                            desc ? desc : "unexpectedly failed");
            return FALSE;
        }
        if (abort && !cancelled) {
            qemuMigrationCancel(mon);
            cancelled = TRUE;
        }
        if (!cancelled && qemuMigrationPeerLost(drv, uuid)) {
            qemuMigrationCancel(mon);
            cancelled = peerLost = TRUE;
        }
        if (want != speed && !cancelled) {
            if (qemuMigrationSetBandwidth(mon, want, NULL))
                speed = want;
        }
        g_usleep(QEMU_MIGRATION_POLL_US);
    }
}

static void
qemuMigrationSetState(qvirDriver *drv, qemuDomainObj *obj, int state, int reason)
{
    qemuDomainObjLock(obj);
    obj->state = state;
    obj->reason = reason;
    qemuDomainObjUnlock(obj);
    (void)qemuDriverWriteStatus(drv, obj, NULL);
}

static gboolean
qemuMigrationQMP(qemuMonitor *mon, const char *cmd, GError **error)
{
    g_autoptr(JsonNode) ret =
        qemuMonitorCommand(mon, cmd, NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);

    return ret != NULL;
}

/* Perform's cookie (into COOKIE) and the destination's address: its HOST and the URI
 * QEMU migrates to. */
static gboolean
qemuMigrationSrcPerformArgs(const qvirMigrateParams *params, GBytes *cookieIn, unsigned int flags,
                            qemuMigrationCookie *cookie, char **host, char **uri, GError **error)
{
    int port = 0;

    if (!qemuMigrationCookieParse(cookieIn, cookie, error))
        return FALSE;
    if ((flags & QEMU_MIGRATION_COPY) && cookie->disks && cookie->disks[0] && !cookie->nbdPort) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "internal error: the destination exports no disks to copy into");
        return FALSE;
    }
    if (!params->uri) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: migration URI is required");
        return FALSE;
    }
    if (!qemuMigrationParseURI(params->uri, host, &port, error))
        return FALSE;
    if (!port) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: missing port in migration URI %s", params->uri);
        return FALSE;
    }
    *uri = qemuMigrationTcpURI(*host, port);
    return TRUE;
}

gboolean
qvirDriverDomainMigratePerform(qvirDriver *drv, const unsigned char *uuid, const char *dconnuri,
                               const qvirMigrateParams *params, GBytes *cookieIn,
                               unsigned int flags, GBytes **cookieOut, GError **error)
{
    g_auto(qemuMigrationCookie) cookie = {0};
    qemuMigrationCookie result = {0};
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autofree char *host = NULL;
    g_autofree char *uri = NULL;
    gboolean connClosed = FALSE;
    qemuDriverRunning run;
    g_autoptr(JsonObject) args = NULL;
    g_autoptr(JsonNode) ret = NULL;
    guint64 speed;
    gboolean paused = FALSE;
    gboolean copy;
    gboolean ok;

    if (!qemuMigrationCheckFlags(flags, "qemuDomainMigratePerform3Params", error) ||
        !(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    /* Begin started the job when it could (CHANGE_PROTECTION), else it starts here */
    if (flags & QVIR_MIGRATE_CHANGE_PROTECTION) {
        if (!qemuMigrationSrcContinueJob(drv, obj, 1u << QEMU_MIGRATION_OUT_BEGUN,
                                         QEMU_MIGRATION_OUT_PERFORMING, error))
            return FALSE;
    } else if (!qemuMigrationSrcStartJob(drv, obj, QEMU_MIGRATION_OUT_PERFORMING, error)) {
        return FALSE;
    }
    /* from here every failure ends the job: the client calls no Confirm after it */
    if (!qemuMigrationSrcPerformArgs(params, cookieIn, flags, &cookie, &host, &uri, error) ||
        !qemuDriverRunningBegin(drv, uuid, QEMU_JOB_ASYNC_NESTED, &run, error)) {
        qemuMigrationSrcFinishJob(drv, obj, FALSE);
        return FALSE;
    }
    copy = (flags & QEMU_MIGRATION_COPY) && cookie.disks && cookie.disks[0];
    g_mutex_lock(&drv->migration->lock);
    {
        qemuMigrationJob *job = qemuMigrationJobFind(drv, uuid);

        job->wasRunning = run.state == QVIR_DOMAIN_RUNNING;
        job->peerAlive = params->peerAlive;
        job->peerOpaque = params->peerOpaque;
    }
    g_mutex_unlock(&drv->migration->lock);

    if (params->haveBandwidth) {
        g_autofree char *key = qemuMigrationKey(uuid);
        guint64 *val = g_new(guint64, 1);

        *val = params->bandwidth;
        g_mutex_lock(&drv->migration->lock);
        g_hash_table_replace(drv->migration->speeds, g_steal_pointer(&key), val);
        g_mutex_unlock(&drv->migration->lock);
    }
    speed = qemuMigrationGetSpeed(drv, uuid);

    ok = qemuMigrationSetBandwidth(run.mon, speed, error);
    /* Without --live the guest stops first, as libvirt's non-live migration does. */
    if (ok && !(flags & QVIR_MIGRATE_LIVE) && run.state == QVIR_DOMAIN_RUNNING) {
        ok = qemuMigrationQMP(run.mon, "stop", error);
        paused = ok;
        if (ok)
            qemuMigrationSetState(drv, run.obj, QVIR_DOMAIN_PAUSED, QEMU_DOMAIN_PAUSED_MIGRATION);
    }
    if (ok && copy) {
        ok = qemuMigrationSetCapability(run.mon, "pause-before-switchover", TRUE, error) &&
             qemuMigrationStartMirrors(run.obj, run.mon, cookie.disks, host, cookie.nbdPort,
                                       (flags & QVIR_MIGRATE_NON_SHARED_INC) != 0, speed, error) &&
             qemuMigrationWaitMirrorsReady(drv, uuid, run.mon, cookie.disks, error);
    }
    if (ok) {
        args = json_object_new();
        json_object_set_string_member(args, "uri", uri);
        ret = qemuMonitorCommand(run.mon, "migrate", args, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, error);
        ok = ret != NULL && qemuMigrationWait(drv, uuid, run.mon, speed, copy ? cookie.disks : NULL,
                                              &result, error);
    }
    if (copy) {
        /* a later save or migration must not stop before its switch-over */
        (void)qemuMigrationSetCapability(run.mon, "pause-before-switchover", FALSE, NULL);
    }

    if (!ok) {
        g_autoptr(GError) err = NULL;

        /* Nothing has moved: the guest runs on here, as it was. QEMU resumes a guest it
         * paused for the last pass by itself when the migration fails. */
        qemuMigrationCancel(run.mon);
        qemuMigrationWaitEnded(run.mon);
        if (copy)
            (void)qemuMigrationStopMirrors(run.mon, cookie.disks, TRUE, NULL);
        if (run.state == QVIR_DOMAIN_RUNNING) {
            if (!qemuMigrationQMP(run.mon, "cont", &err))
                g_message("domain '%s': cannot resume after a failed migration: %s", run.obj->name,
                          err->message);
            qemuMigrationSetState(drv, run.obj, QVIR_DOMAIN_RUNNING, QEMU_DOMAIN_RUNNING_UNPAUSED);
        }
        (void)paused;
        qemuDriverRunningEnd(&run);
        /* the client calls no Confirm after a failed Perform: the job ends here */
        qemuMigrationSrcFinishJob(drv, obj, FALSE);
        return FALSE;
    }

    /* QEMU is paused ("postmigrate") until Confirm says whether the destination runs. */
    qemuMigrationSetState(drv, run.obj, QVIR_DOMAIN_PAUSED, QEMU_DOMAIN_PAUSED_MIGRATION);
    g_mutex_lock(&drv->migration->lock);
    {
        qemuMigrationJob *job = qemuMigrationJobFind(drv, uuid);

        job->phase = QEMU_MIGRATION_OUT_PERFORMED;
        /* the connection is the p2p caller's; Confirm has no use for it */
        job->peerAlive = NULL;
        job->peerOpaque = NULL;
        job->info.haveDowntime = TRUE;
        job->info.downtime = result.downtime;
        connClosed = job->connClosed;
    }
    g_mutex_unlock(&drv->migration->lock);
    qemuDomainObjLock(obj);
    qemuDomainObjStartAsyncPhase(obj, QEMU_MIGRATION_OUT_PERFORMED);
    qemuDomainObjUnlock(obj);
    *cookieOut = qemuMigrationCookieFormat(drv, run.obj->name, uuid, &result);
    qemuDriverRunningEnd(&run);
    /* the client went while we sent: no Confirm will come (qemuMigrationSrcConnClosed) */
    if (connClosed)
        qemuMigrationSrcConnClosedDone(drv, obj);
    return TRUE;
}

/* ---- Finish (destination) ----------------------------------------------------------- */

/* Undo Prepare: the incoming QEMU goes, with the domain (unless it was defined here). */
static void
qemuMigrationDstCleanup(qvirDriver *drv, const unsigned char *uuid)
{
    g_autoptr(GPtrArray) files = qemuMigrationJobEnd(drv, uuid, FALSE);
    g_autoptr(GError) err = NULL;
    int active = qvirDriverDomainIsActive(drv, uuid, NULL);

    if (active > 0 && !qvirDriverDomainDestroy(drv, uuid, 0, &err))
        g_message("cannot stop the incoming migration's QEMU: %s", err->message);
    for (guint i = 0; files && i < files->len; i++)
        qemuMigrationRemoveCreated(drv, g_ptr_array_index(files, i));
}

gboolean
qvirDriverDomainMigrateAbandonIncoming(qvirDriver *drv, const unsigned char *uuid, int id)
{
    qemuMigrationJob *job;
    g_autofree char *name = NULL;

    g_mutex_lock(&drv->migration->lock);
    job = qemuMigrationJobFind(drv, uuid);
    if (job && job->phase == QEMU_MIGRATION_IN && job->domId == id)
        name = g_strdup(job->name);
    g_mutex_unlock(&drv->migration->lock);
    if (!name)
        return FALSE;
    g_message("domain '%s': the connection that prepared its incoming migration closed before "
              "Finish; undoing Prepare",
              name);
    qemuMigrationDstCleanup(drv, uuid);
    return TRUE;
}

qvirDomainRef *
qvirDriverDomainMigrateFinish(qvirDriver *drv, const qvirMigrateParams *params, GBytes *cookieIn,
                              unsigned int flags, gboolean cancelled, GBytes **cookieOut,
                              GError **error)
{
    g_auto(qemuMigrationCookie) cookie = {0};
    g_autoptr(qvirDomainRef) ref = NULL;
    g_autofree char *persistXML = NULL;
    qemuDriverRunning run;
    unsigned char uuid[QVIR_UUID_BUFLEN];
    const char *name = params->destName;
    gboolean ok;

    if (!qemuMigrationCheckFlags(flags, "qemuDomainMigrateFinish3Params", error))
        return NULL;
    if (!name) {
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                            "invalid argument: missing destination name");
        return NULL;
    }
    /* the job, not the domain: an incoming QEMU whose migration failed has gone already */
    {
        GHashTableIter it;
        gpointer value;
        gboolean found = FALSE;

        g_mutex_lock(&drv->migration->lock);
        g_hash_table_iter_init(&it, drv->migration->jobs);
        while (!found && g_hash_table_iter_next(&it, NULL, &value)) {
            qemuMigrationJob *job = value;

            if (job->phase == QEMU_MIGRATION_IN && g_strcmp0(job->name, name) == 0) {
                memcpy(uuid, job->uuid, QVIR_UUID_BUFLEN);
                found = TRUE;
            }
        }
        g_mutex_unlock(&drv->migration->lock);
        if (!found) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                        "Requested operation is not valid: domain '%s' is not processing "
                        "incoming migration",
                        name);
            return NULL;
        }
    }
    if (cancelled || !qemuMigrationCookieParse(cookieIn, &cookie, error)) {
        qemuMigrationDstCleanup(drv, uuid);
        /* libvirt's answer to a cancelled migration that was undone: the client keeps the
         * source's error, which says what went wrong */
        if (error && !*error)
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_MIGRATE_FINISH_OK,
                                "migration successfully aborted");
        return NULL;
    }

    if (!(ref = qvirDriverDomainLookupByUUID(drv, uuid, error)) ||
        !qemuDriverRunningBegin(drv, uuid, QEMU_JOB_MODIFY, &run, error)) {
        qemuMigrationDstCleanup(drv, uuid);
        return NULL;
    }
    ok = qemuDriverWaitMigration(run.mon, "job 'migration in' failed", QEMU_MIGRATION_POLL_US,
                                 error);
    if (ok && (flags & QEMU_MIGRATION_COPY)) {
        g_autoptr(JsonNode) ret = qemuMonitorCommand(run.mon, "nbd-server-stop", NULL,
                                                     QEMU_MONITOR_DEFAULT_TIMEOUT_MS, NULL);
    }
    if (ok && !(flags & QVIR_MIGRATE_PAUSED))
        ok = qemuMigrationQMP(run.mon, "cont", error);
    if (ok) {
        if (flags & QVIR_MIGRATE_PAUSED)
            qemuMigrationSetState(drv, run.obj, QVIR_DOMAIN_PAUSED, QEMU_DOMAIN_PAUSED_MIGRATION);
        else
            qemuMigrationSetState(drv, run.obj, QVIR_DOMAIN_RUNNING, 2 /* migrated */);
    }
    if (ok && (flags & QVIR_MIGRATE_PERSIST_DEST)) {
        qemuDomainObjLock(run.obj);
        persistXML = params->persistXML ? g_strdup(params->persistXML)
                     : run.obj->liveDef ? qvirDomainDefFormat(run.obj->liveDef, 0)
                                        : NULL;
        qemuDomainObjUnlock(run.obj);
    }
    qemuDriverRunningEnd(&run);
    if (!ok) {
        qemuMigrationDstCleanup(drv, uuid);
        return NULL;
    }
    if (persistXML) {
        g_autoptr(qvirDomainRef) defined = qvirDriverDomainDefineXML(drv, persistXML, 0, error);

        if (!defined) {
            qemuMigrationDstCleanup(drv, uuid);
            return NULL;
        }
    }
    {
        g_autoptr(GPtrArray) files = qemuMigrationJobEnd(drv, uuid, TRUE);
        g_autofree char *key = qemuMigrationKey(uuid);
        qvirDomainJobInfo *done;

        /* the completed job's downtime as the source's QEMU measured it */
        g_mutex_lock(&drv->migration->lock);
        if ((done = g_hash_table_lookup(drv->migration->completed, key)) && cookie.haveDowntime) {
            done->haveDowntime = TRUE;
            done->downtime = cookie.downtime;
            done->elapsed = MAX(done->elapsed, cookie.totalTime);
        }
        g_mutex_unlock(&drv->migration->lock);
    }
    *cookieOut = qemuMigrationCookieFormat(drv, ref->name, uuid, NULL);
    return qvirDriverDomainLookupByUUID(drv, uuid, error);
}

/* ---- Confirm (source) --------------------------------------------------------------- */

gboolean
qvirDriverDomainMigrateConfirm(qvirDriver *drv, const unsigned char *uuid,
                               const qvirMigrateParams *params, GBytes *cookieIn,
                               unsigned int flags, gboolean cancelled, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    qemuMigrationJob *job;
    gboolean persistent;
    gboolean begun;

    if (!qemuMigrationCheckFlags(flags, "qemuDomainMigrateConfirm3Params", error))
        return FALSE;
    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    g_mutex_lock(&drv->migration->lock);
    job = qemuMigrationJobFind(drv, uuid);
    begun = job && job->phase == QEMU_MIGRATION_OUT_BEGUN;
    g_mutex_unlock(&drv->migration->lock);
    /* after Begin only when Prepare failed (the job was kept: CHANGE_PROTECTION) */
    if (!qemuMigrationSrcContinueJob(
            drv, obj, (1u << QEMU_MIGRATION_OUT_BEGUN) | (1u << QEMU_MIGRATION_OUT_PERFORMED),
            QEMU_MIGRATION_OUT_CONFIRMING, error))
        return FALSE;
    if (begun) {
        /* nothing ran: nothing to undo */
        qemuMigrationSrcFinishJob(drv, obj, FALSE);
        return TRUE;
    }
    if (!qemuDriverBeginJob(obj, QEMU_JOB_ASYNC_NESTED, error))
        return FALSE;

    if (cancelled) {
        g_autoptr(GError) err = NULL;
        qemuMonitor *mon;
        gboolean wasRunning;

        g_mutex_lock(&drv->migration->lock);
        wasRunning = qemuMigrationJobFind(drv, uuid)->wasRunning;
        g_mutex_unlock(&drv->migration->lock);
        qemuDomainObjLock(obj);
        mon = obj->proc ? qemuProcessGetMonitor(obj->proc) : NULL;
        qemuDomainObjUnlock(obj);
        /* The destination did not take over: the guest goes on here. */
        if (mon && wasRunning) {
            if (qemuMigrationQMP(mon, "cont", &err))
                qemuMigrationSetState(drv, obj, QVIR_DOMAIN_RUNNING, QEMU_DOMAIN_RUNNING_UNPAUSED);
            else
                g_message("domain '%s': cannot resume after a failed migration: %s", obj->name,
                          err->message);
        }
        qemuDomainObjEndJob(obj);
        qemuMigrationSrcFinishJob(drv, obj, FALSE);
        return TRUE;
    }

    qemuDriverStopMigrated(drv, obj);
    qemuDomainObjLock(obj);
    persistent = obj->def != NULL;
    qemuDomainObjUnlock(obj);
    qemuDomainObjEndJob(obj);
    qemuMigrationSrcFinishJob(drv, obj, TRUE);
    if (persistent && (flags & QVIR_MIGRATE_UNDEFINE_SOURCE)) {
        g_autoptr(GError) err = NULL;

        if (!qvirDriverDomainUndefine(drv, uuid, 0, &err))
            g_message("domain '%s': cannot undefine after migration: %s", obj->name, err->message);
    }
    return TRUE;
}

/* ---- the job from outside ------------------------------------------------------------ */

gboolean
qvirDriverDomainGetJobInfo(qvirDriver *drv, const unsigned char *uuid, gboolean completed,
                           qvirDomainJobInfo *info, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autofree char *key = qemuMigrationKey(uuid);
    qemuMigrationJob *job;
    qvirDomainJobInfo *done;

    if (!(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    memset(info, 0, sizeof(*info));
    g_mutex_lock(&drv->migration->lock);
    if (completed) {
        if ((done = g_hash_table_lookup(drv->migration->completed, key)))
            *info = *done;
    } else if ((job = g_hash_table_lookup(drv->migration->jobs, key))) {
        *info = job->info;
        info->elapsed = (g_get_monotonic_time() - job->started) / 1000;
    }
    g_mutex_unlock(&drv->migration->lock);
    return TRUE;
}

gboolean
qvirDriverDomainAbortJob(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                         GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    g_autofree char *key = qemuMigrationKey(uuid);
    qemuMigrationJob *job;
    gboolean ok = FALSE;

    if (!qvirCheckFlags(flags, 0, "qemuDomainAbortJobFlags", error) ||
        !(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    g_mutex_lock(&drv->migration->lock);
    if ((job = g_hash_table_lookup(drv->migration->jobs, key)) &&
        job->phase == QEMU_MIGRATION_OUT_PERFORMING) {
        job->abort = TRUE;
        ok = TRUE;
    }
    g_mutex_unlock(&drv->migration->lock);
    if (!ok)
        g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: no job is active on the domain");
    return ok;
}

gboolean
qvirDriverDomainMigrateSetMaxSpeed(qvirDriver *drv, const unsigned char *uuid, guint64 bandwidth,
                                   unsigned int flags, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;
    guint64 *val;

    if (!qvirCheckFlags(flags, 0, "qemuDomainMigrateSetMaxSpeed", error) ||
        !(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    if (bandwidth > QEMU_MIGRATION_BANDWIDTH_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OVERFLOW,
                    "value too large: bandwidth must be less than %llu",
                    (unsigned long long)QEMU_MIGRATION_BANDWIDTH_MAX + 1);
        return FALSE;
    }
    val = g_new(guint64, 1);
    *val = bandwidth;
    g_mutex_lock(&drv->migration->lock);
    g_hash_table_replace(drv->migration->speeds, qemuMigrationKey(uuid), val);
    g_mutex_unlock(&drv->migration->lock);
    return TRUE;
}

gboolean
qvirDriverDomainMigrateGetMaxSpeed(qvirDriver *drv, const unsigned char *uuid, unsigned int flags,
                                   guint64 *bandwidth, GError **error)
{
    g_autoptr(qemuDomainObj) obj = NULL;

    if (!qvirCheckFlags(flags, 0, "qemuDomainMigrateGetMaxSpeed", error) ||
        !(obj = qemuDriverGetObj(drv, uuid, error)))
        return FALSE;
    *bandwidth = qemuMigrationGetSpeed(drv, uuid);
    return TRUE;
}

/* ---- after a daemon restart ---------------------------------------------------------- */

/* An outgoing migration whose daemon died: QEMU keeps running the guest here (nothing was
 * confirmed), without the mirrors, their NBD nodes, or a switch-over pause. */
static void
qemuMigrationRecoverOut(qvirDriver *drv, const unsigned char *uuid, const char *name)
{
    g_autoptr(JsonNode) jobs = NULL;
    g_autoptr(JsonNode) status = NULL;
    g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;
    qemuDriverRunning run;
    JsonArray *arr;
    const char *runState;

    if (!qemuDriverRunningBegin(drv, uuid, QEMU_JOB_MODIFY, &run, &err)) {
        g_message("domain '%s': %s", name, err->message);
        return;
    }
    qemuMigrationCancel(run.mon);
    qemuMigrationWaitEnded(run.mon);
    jobs = qemuMonitorCommand(run.mon, "query-block-jobs", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                              NULL);
    arr = jobs && JSON_NODE_HOLDS_ARRAY(jobs) ? json_node_get_array(jobs) : NULL;
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        const char *dev = qemuDriverJsonString(json_array_get_object_element(arr, i), "device");

        if (dev && g_str_has_prefix(dev, QEMU_MIGRATION_MIRROR_PREFIX))
            g_ptr_array_add(disks, g_strdup(dev + strlen(QEMU_MIGRATION_MIRROR_PREFIX)));
    }
    /* the NBD nodes of mirrors that already ended go as well */
    qemuDomainObjLock(run.obj);
    for (guint i = 0; run.obj->liveDef && i < run.obj->liveDef->disks->len; i++) {
        const qvirDomainDiskDef *disk = g_ptr_array_index(run.obj->liveDef->disks, i);
        gboolean listed = FALSE;

        for (guint j = 0; j < disks->len; j++)
            listed |= g_strcmp0(g_ptr_array_index(disks, j), disk->dst) == 0;
        if (!listed)
            g_ptr_array_add(disks, g_strdup(disk->dst));
    }
    qemuDomainObjUnlock(run.obj);
    g_ptr_array_add(disks, NULL);
    (void)qemuMigrationStopMirrors(run.mon, (GStrv)disks->pdata, TRUE, NULL);
    (void)qemuMigrationSetCapability(run.mon, "pause-before-switchover", FALSE, NULL);

    /* QEMU that sent everything waits for a Confirm that will not come: whether the
     * destination runs the guest is unknown, so it stays paused, as libvirt leaves it */
    status =
        qemuMonitorCommand(run.mon, "query-status", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS, NULL);
    runState = status && JSON_NODE_HOLDS_OBJECT(status)
                   ? qemuDriverJsonString(json_node_get_object(status), "status")
                   : NULL;
    if (g_strcmp0(runState, "running") == 0 && run.state != QVIR_DOMAIN_RUNNING)
        qemuMigrationSetState(drv, run.obj, QVIR_DOMAIN_RUNNING, QEMU_DOMAIN_RUNNING_UNPAUSED);
    g_message("domain '%s': the outgoing migration ended with the daemon; the guest stays here",
              name);
    qemuDriverRunningEnd(&run);
}

/*
 * An incoming migration whose daemon died before Finish answered. Its QEMU still paused
 * (Prepare, or Finish before it resumed the guest): the source keeps the guest (Confirm,
 * cancelled, resumes it there), so this one goes. Its guest already running (Finish
 * resumed it and died before answering): the guest's newest state is here and it took
 * the images over, so it stays, as libvirt 9.0 keeps a domain whose CPUs ran in Finish;
 * the source cannot resume the images this QEMU holds. TRUE: kept.
 */
static gboolean
qemuMigrationRecoverIn(qvirDriver *drv, const unsigned char *uuid, const char *name)
{
    g_autoptr(JsonNode) status = NULL;
    g_autoptr(GError) err = NULL;
    qemuDriverRunning run;
    const char *runState = NULL;

    if (qemuDriverRunningBegin(drv, uuid, QEMU_JOB_MODIFY, &run, &err)) {
        status = qemuMonitorCommand(run.mon, "query-status", NULL, QEMU_MONITOR_DEFAULT_TIMEOUT_MS,
                                    NULL);
        runState = status && JSON_NODE_HOLDS_OBJECT(status)
                       ? qemuDriverJsonString(json_node_get_object(status), "status")
                       : NULL;
        if (g_strcmp0(runState, "running") == 0) {
            if (run.state != QVIR_DOMAIN_RUNNING)
                qemuMigrationSetState(drv, run.obj, QVIR_DOMAIN_RUNNING, 2 /* migrated */);
            qemuDriverRunningEnd(&run);
            g_message("domain '%s': the incoming migration's guest runs here already (Finish "
                      "resumed it); keeping it",
                      name);
            return TRUE;
        }
        qemuDriverRunningEnd(&run);
    }
    g_clear_error(&err);
    g_message("domain '%s': stopping the incoming migration the daemon did not finish", name);
    if (!qvirDriverDomainDestroy(drv, uuid, 0, &err))
        g_message("domain '%s': %s", name, err->message);
    return FALSE;
}

/* The images an incoming migration's Prepare created (its marker at PATH lists them): the
 * migration never finished, the domain runs on the source, they go. Orphaned QEMUs that
 * had them open are gone already (qemuDriverKillOrphans). */
static void
qemuMigrationRecoverInFiles(qvirDriver *drv, const char *path, const char *name)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) files = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    files = g_strsplit(text, "\n", -1);
    for (guint i = 0; files[i]; i++) {
        if (!g_path_is_absolute(files[i]))
            continue;
        g_message("domain '%s': removing '%s', created for the unfinished incoming migration", name,
                  files[i]);
        qemuMigrationRemoveCreated(drv, files[i]);
    }
}

void
qemuMigrationRecover(qvirDriver *drv)
{
    g_autoptr(GDir) dir = g_dir_open(drv->cfg->statusDir, 0, NULL);
    const char *entry;

    while (dir && (entry = g_dir_read_name(dir))) {
        gboolean incoming = g_str_has_suffix(entry, QEMU_MIGRATION_MARKER_IN);
        g_autofree char *path = NULL;
        g_autofree char *name = NULL;
        g_autoptr(qvirDomainRef) ref = NULL;
        gboolean kept = FALSE;

        if (!incoming && !g_str_has_suffix(entry, QEMU_MIGRATION_MARKER_OUT))
            continue;
        path = g_build_filename(drv->cfg->statusDir, entry, NULL);
        name = g_strndup(entry, strlen(entry) - strlen(incoming ? QEMU_MIGRATION_MARKER_IN
                                                                : QEMU_MIGRATION_MARKER_OUT));
        ref = qvirDriverDomainLookupByName(drv, name, NULL);
        if (ref && ref->id >= 0) {
            if (!incoming)
                qemuMigrationRecoverOut(drv, ref->uuid, name);
            else if (qemuMigrationRecoverIn(drv, ref->uuid, name))
                kept = TRUE;
        }
        if (incoming && !kept)
            qemuMigrationRecoverInFiles(drv, path, name);
        (void)g_unlink(path);
    }
}
