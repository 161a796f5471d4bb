/*
 * remote_dispatch_disk.c: REMOTE procedures of live disk operations.
 */
#include "rpc/remote_dispatch_disk.h"

#include <string.h>

#include "util/virerror.h"

enum {
    REMOTE_PROC_DOMAIN_ATTACH_DEVICE = 8,
    REMOTE_PROC_DOMAIN_DETACH_DEVICE = 13,
    REMOTE_PROC_DOMAIN_ATTACH_DEVICE_FLAGS = 160,
    REMOTE_PROC_DOMAIN_DETACH_DEVICE_FLAGS = 161,
    REMOTE_PROC_DOMAIN_UPDATE_DEVICE_FLAGS = 174,
    REMOTE_PROC_DOMAIN_BLOCK_JOB_ABORT = 237,
    REMOTE_PROC_DOMAIN_GET_BLOCK_JOB_INFO = 238,
    REMOTE_PROC_DOMAIN_BLOCK_PULL = 240,
    REMOTE_PROC_DOMAIN_BLOCK_REBASE = 266,
    REMOTE_PROC_DOMAIN_BLOCK_COMMIT = 290,
    REMOTE_PROC_DOMAIN_SNAPSHOT_CREATE_XML = 185,
    REMOTE_PROC_DOMAIN_SNAPSHOT_GET_XML_DESC = 186,
    REMOTE_PROC_DOMAIN_SNAPSHOT_NUM = 187,
    REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_NAMES = 188,
    REMOTE_PROC_DOMAIN_SNAPSHOT_LOOKUP_BY_NAME = 189,
    REMOTE_PROC_DOMAIN_HAS_CURRENT_SNAPSHOT = 190,
    REMOTE_PROC_DOMAIN_SNAPSHOT_CURRENT = 191,
    REMOTE_PROC_DOMAIN_SNAPSHOT_DELETE = 193,
    REMOTE_PROC_DOMAIN_SNAPSHOT_GET_PARENT = 244,
    REMOTE_PROC_DOMAIN_SNAPSHOT_NUM_CHILDREN = 246,
    REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES = 247,
    REMOTE_PROC_DOMAIN_SNAPSHOT_IS_CURRENT = 271,
    REMOTE_PROC_DOMAIN_SNAPSHOT_HAS_METADATA = 272,
    REMOTE_PROC_DOMAIN_LIST_ALL_SNAPSHOTS = 274,
    REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN = 275,
};

enum {
    REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY = 316,
    REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY = 317,
    REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BLOCK_JOB = 326,
    REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2 = 339,
};

/* libvirt-domain.h: virDomainEventID */
#define REMOTE_EVENT_ID_BLOCK_JOB 8
#define REMOTE_EVENT_ID_BLOCK_JOB_2 16
#define REMOTE_EVENT_ID_LAST 27

/* remote_protocol.x: REMOTE_DOMAIN_SNAPSHOT_LIST_MAX */
#define REMOTE_DOMAIN_SNAPSHOT_LIST_MAX 16384

/* remote_nonnull_domain: only the UUID names the domain for the driver. */
static gboolean
remoteDiskReadDomain(qvirXdrReader *rd, guint8 *uuid, GError **error)
{
    g_autofree char *name = NULL;
    gint32 id;

    return qvirXdrReadString(rd, QVIR_XDR_STRING_MAX, &name, error) &&
           qvirXdrReadFixedOpaque(rd, uuid, QVIR_XDR_UUID_LEN, error) &&
           qvirXdrReadInt(rd, &id, error);
}

/* args { dom; remote_nonnull_string xml; [unsigned int flags;] } */
static gboolean
remoteDiskReadDomainXML(qvirXdrReader *rd, guint8 *uuid, char **xml, guint32 *flags, GError **error)
{
    if (!remoteDiskReadDomain(rd, uuid, error) ||
        !qvirXdrReadString(rd, QVIR_XDR_STRING_MAX, xml, error))
        return FALSE;
    if (flags && !qvirXdrReadU32(rd, flags, error))
        return FALSE;
    return qvirXdrReaderCheckEnd(rd, error);
}

static gboolean
remoteDomainAttachDevice(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                         GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *xml = NULL;

    /* virDomainAttachDevice is the LIVE flag of the flags variant (libvirt). */
    return remoteDiskReadDomainXML(args, uuid, &xml, NULL, error) &&
           qvirDriverDomainAttachDevice(drv, uuid, xml, 1, error);
}

static gboolean
remoteDomainAttachDeviceFlags(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                              GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *xml = NULL;
    guint32 flags;

    return remoteDiskReadDomainXML(args, uuid, &xml, &flags, error) &&
           qvirDriverDomainAttachDevice(drv, uuid, xml, flags, error);
}

static gboolean
remoteDomainDetachDevice(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                         GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *xml = NULL;

    return remoteDiskReadDomainXML(args, uuid, &xml, NULL, error) &&
           qvirDriverDomainDetachDevice(drv, uuid, xml, 1, error);
}

static gboolean
remoteDomainDetachDeviceFlags(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                              GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *xml = NULL;
    guint32 flags;

    return remoteDiskReadDomainXML(args, uuid, &xml, &flags, error) &&
           qvirDriverDomainDetachDevice(drv, uuid, xml, flags, error);
}

static gboolean
remoteDomainUpdateDeviceFlags(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                              GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *xml = NULL;
    guint32 flags;

    return remoteDiskReadDomainXML(args, uuid, &xml, &flags, error) &&
           qvirDriverDomainUpdateDevice(drv, uuid, xml, flags, error);
}

/* unsigned hyper bandwidth into the API's unsigned long, refusing what does not fit. */
static gboolean
remoteDiskBandwidth(guint64 wire, unsigned long *out, GError **error)
{
    if (wire > G_MAXULONG) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: bandwidth %" G_GUINT64_FORMAT " is too large", wire);
        return FALSE;
    }
    *out = (unsigned long)wire;
    return TRUE;
}

/* args { dom; path; unsigned hyper bandwidth; unsigned int flags; } */
static gboolean
remoteDomainBlockPull(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args, GByteArray *ret,
                      GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *path = NULL;
    guint64 bw;
    unsigned long bandwidth;
    guint32 flags;

    return remoteDiskReadDomain(args, uuid, error) &&
           qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &path, error) &&
           qvirXdrReadU64(args, &bw, error) && qvirXdrReadU32(args, &flags, error) &&
           qvirXdrReaderCheckEnd(args, error) && remoteDiskBandwidth(bw, &bandwidth, error) &&
           qvirDriverDomainBlockPull(drv, uuid, path, bandwidth, flags, error);
}

/* args { dom; path; remote_string base; unsigned hyper bandwidth; unsigned int flags; } */
static gboolean
remoteDomainBlockRebase(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                        GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *path = NULL;
    g_autofree char *base = NULL;
    guint64 bw;
    unsigned long bandwidth;
    guint32 flags;

    return remoteDiskReadDomain(args, uuid, error) &&
           qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &path, error) &&
           qvirXdrReadOptString(args, QVIR_XDR_STRING_MAX, &base, error) &&
           qvirXdrReadU64(args, &bw, error) && qvirXdrReadU32(args, &flags, error) &&
           qvirXdrReaderCheckEnd(args, error) && remoteDiskBandwidth(bw, &bandwidth, error) &&
           qvirDriverDomainBlockRebase(drv, uuid, path, base, bandwidth, flags, error);
}

/* args { dom; disk; remote_string base; remote_string top; unsigned hyper bandwidth;
 * unsigned int flags; } */
static gboolean
remoteDomainBlockCommit(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                        GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *disk = NULL;
    g_autofree char *base = NULL;
    g_autofree char *top = NULL;
    guint64 bw;
    unsigned long bandwidth;
    guint32 flags;

    return remoteDiskReadDomain(args, uuid, error) &&
           qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &disk, error) &&
           qvirXdrReadOptString(args, QVIR_XDR_STRING_MAX, &base, error) &&
           qvirXdrReadOptString(args, QVIR_XDR_STRING_MAX, &top, error) &&
           qvirXdrReadU64(args, &bw, error) && qvirXdrReadU32(args, &flags, error) &&
           qvirXdrReaderCheckEnd(args, error) && remoteDiskBandwidth(bw, &bandwidth, error) &&
           qvirDriverDomainBlockCommit(drv, uuid, disk, base, top, bandwidth, flags, error);
}

/* args { dom; path; unsigned int flags; } */
static gboolean
remoteDiskReadDomainPathFlags(qvirXdrReader *rd, guint8 *uuid, char **path, guint32 *flags,
                              GError **error)
{
    return remoteDiskReadDomain(rd, uuid, error) &&
           qvirXdrReadString(rd, QVIR_XDR_STRING_MAX, path, error) &&
           qvirXdrReadU32(rd, flags, error) && qvirXdrReaderCheckEnd(rd, error);
}

static gboolean
remoteDomainBlockJobAbort(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                          GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *path = NULL;
    guint32 flags;

    return remoteDiskReadDomainPathFlags(args, uuid, &path, &flags, error) &&
           qvirDriverDomainBlockJobAbort(drv, uuid, path, flags, error);
}

/* ret { int found; int type; unsigned hyper bandwidth; unsigned hyper cur;
 * unsigned hyper end; } : found 0 means the job is over (virsh --wait stops polling). */
static gboolean
remoteDomainGetBlockJobInfo(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                            GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *path = NULL;
    qemuBlockJobInfo info = {0};
    guint32 flags;
    int found;

    if (!remoteDiskReadDomainPathFlags(args, uuid, &path, &flags, error))
        return FALSE;
    if ((found = qvirDriverDomainGetBlockJobInfo(drv, uuid, path, &info, flags, error)) < 0)
        return FALSE;
    qvirXdrWriteInt(ret, found);
    qvirXdrWriteInt(ret, found ? (gint32)info.type : 0);
    qvirXdrWriteU64(ret, found ? info.bandwidth : 0);
    qvirXdrWriteU64(ret, found ? info.cur : 0);
    qvirXdrWriteU64(ret, found ? info.end : 0);
    return TRUE;
}

/* ---- snapshots ------------------------------------------------------------------------ */

/* remote_nonnull_domain_snapshot { remote_nonnull_string name; remote_nonnull_domain dom; } */
static gboolean
remoteDiskReadSnapshot(qvirXdrReader *rd, char **name, guint8 *uuid, GError **error)
{
    return qvirXdrReadString(rd, QVIR_XDR_STRING_MAX, name, error) &&
           remoteDiskReadDomain(rd, uuid, error);
}

static gboolean
remoteDiskReadSnapshotFlags(qvirXdrReader *rd, char **name, guint8 *uuid, guint32 *flags,
                            GError **error)
{
    return remoteDiskReadSnapshot(rd, name, uuid, error) && qvirXdrReadU32(rd, flags, error) &&
           qvirXdrReaderCheckEnd(rd, error);
}

static gboolean
remoteDiskReadDomainFlags(qvirXdrReader *rd, guint8 *uuid, guint32 *flags, GError **error)
{
    return remoteDiskReadDomain(rd, uuid, error) && qvirXdrReadU32(rd, flags, error) &&
           qvirXdrReaderCheckEnd(rd, error);
}

/* The domain as remote_nonnull_domain carries it now (its id may have changed). */
static qvirDomainRef *
remoteDiskDomainRef(qvirDriver *drv, const guint8 *uuid, GError **error)
{
    return qvirDriverDomainLookupByUUID(drv, uuid, error);
}

static void
remoteDiskWriteSnapshot(GByteArray *ret, const char *name, const qvirDomainRef *ref)
{
    qvirXdrWriteString(ret, name);
    qvirXdrWriteString(ret, ref->name);
    qvirXdrWriteFixedOpaque(ret, ref->uuid, QVIR_UUID_BUFLEN);
    qvirXdrWriteInt(ret, ref->id);
}

/* ret { remote_nonnull_domain_snapshot snap; } for NAME (taken), FALSE when NULL. */
static gboolean
remoteDiskReturnSnapshot(qvirDriver *drv, const guint8 *uuid, char *name, GByteArray *ret,
                         GError **error)
{
    g_autofree char *owned = name;
    g_autoptr(qvirDomainRef) ref = NULL;

    if (!owned || !(ref = remoteDiskDomainRef(drv, uuid, error)))
        return FALSE;
    remoteDiskWriteSnapshot(ret, owned, ref);
    return TRUE;
}

/* args { dom; xml_desc; flags; } ret { snap; } */
static gboolean
remoteDomainSnapshotCreateXML(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                              GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *xml = NULL;
    guint32 flags;

    if (!remoteDiskReadDomainXML(args, uuid, &xml, &flags, error))
        return FALSE;
    return remoteDiskReturnSnapshot(
        drv, uuid, qvirDriverDomainSnapshotCreateXML(drv, uuid, xml, flags, error), ret, error);
}

/* args { snap; flags; } ret { xml; } */
static gboolean
remoteDomainSnapshotGetXMLDesc(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                               GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *name = NULL;
    g_autofree char *xml = NULL;
    guint32 flags;

    if (!remoteDiskReadSnapshotFlags(args, &name, uuid, &flags, error) ||
        !(xml = qvirDriverDomainSnapshotGetXMLDesc(drv, uuid, name, flags, error)))
        return FALSE;
    qvirXdrWriteString(ret, xml);
    return TRUE;
}

/* args { dom; flags; } ret { int num; } */
static gboolean
remoteDomainSnapshotNum(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                        GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    guint32 flags;
    int num;

    if (!remoteDiskReadDomainFlags(args, uuid, &flags, error) ||
        (num = qvirDriverDomainSnapshotNum(drv, uuid, flags, error)) < 0)
        return FALSE;
    qvirXdrWriteInt(ret, num);
    return TRUE;
}

/* ret { remote_nonnull_string names<>; } with at most MAXNAMES of NAMES. */
static gboolean
remoteDiskWriteNames(GByteArray *ret, GPtrArray *names, gint32 maxnames, GError **error)
{
    guint n;

    if (maxnames < 0 || maxnames > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "maxnames %d out of range (0..%d)", maxnames,
                    REMOTE_DOMAIN_SNAPSHOT_LIST_MAX);
        return FALSE;
    }
    n = MIN(names->len, (guint)maxnames);
    qvirXdrWriteU32(ret, n);
    for (guint i = 0; i < n; i++)
        qvirXdrWriteString(ret, g_ptr_array_index(names, i));
    return TRUE;
}

/* args { dom; int maxnames; flags; } ret { names<>; } */
static gboolean
remoteDomainSnapshotListNames(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                              GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autoptr(GPtrArray) names = NULL;
    gint32 maxnames;
    guint32 flags;

    if (!remoteDiskReadDomain(args, uuid, error) || !qvirXdrReadInt(args, &maxnames, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (!(names = qvirDriverDomainListAllSnapshots(drv, uuid, flags, error)))
        return FALSE;
    return remoteDiskWriteNames(ret, names, maxnames, error);
}

/* args { dom; name; flags; } ret { snap; } */
static gboolean
remoteDomainSnapshotLookupByName(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                                 GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *name = NULL;
    guint32 flags;

    if (!remoteDiskReadDomain(args, uuid, error) ||
        !qvirXdrReadString(args, QVIR_XDR_STRING_MAX, &name, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error) ||
        !qvirDriverDomainSnapshotLookupByName(drv, uuid, name, flags, error))
        return FALSE;
    return remoteDiskReturnSnapshot(drv, uuid, g_steal_pointer(&name), ret, error);
}

/* args { dom; flags; } ret { int result; } */
static gboolean
remoteDomainHasCurrentSnapshot(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                               GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    guint32 flags;
    int result;

    if (!remoteDiskReadDomainFlags(args, uuid, &flags, error) ||
        (result = qvirDriverDomainHasCurrentSnapshot(drv, uuid, flags, error)) < 0)
        return FALSE;
    qvirXdrWriteInt(ret, result);
    return TRUE;
}

/* args { dom; flags; } ret { snap; } */
static gboolean
remoteDomainSnapshotCurrent(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                            GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    guint32 flags;

    if (!remoteDiskReadDomainFlags(args, uuid, &flags, error))
        return FALSE;
    return remoteDiskReturnSnapshot(
        drv, uuid, qvirDriverDomainSnapshotCurrent(drv, uuid, flags, error), ret, error);
}

/* args { snap; flags; } */
static gboolean
remoteDomainSnapshotDelete(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                           GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *name = NULL;
    guint32 flags;

    return remoteDiskReadSnapshotFlags(args, &name, uuid, &flags, error) &&
           qvirDriverDomainSnapshotDelete(drv, uuid, name, flags, error);
}

/* args { snap; flags; } ret { snap; } */
static gboolean
remoteDomainSnapshotGetParent(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                              GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *name = NULL;
    guint32 flags;

    if (!remoteDiskReadSnapshotFlags(args, &name, uuid, &flags, error))
        return FALSE;
    return remoteDiskReturnSnapshot(
        drv, uuid, qvirDriverDomainSnapshotGetParent(drv, uuid, name, flags, error), ret, error);
}

/* args { snap; flags; } ret { int num; } */
static gboolean
remoteDomainSnapshotNumChildren(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                                GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *name = NULL;
    g_autoptr(GPtrArray) children = NULL;
    guint32 flags;

    if (!remoteDiskReadSnapshotFlags(args, &name, uuid, &flags, error) ||
        !(children = qvirDriverDomainSnapshotListAllChildren(drv, uuid, name, flags, error)))
        return FALSE;
    qvirXdrWriteInt(ret, (gint32)children->len);
    return TRUE;
}

/* args { snap; int maxnames; flags; } ret { names<>; } */
static gboolean
remoteDomainSnapshotListChildrenNames(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                                      GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *name = NULL;
    g_autoptr(GPtrArray) children = NULL;
    gint32 maxnames;
    guint32 flags;

    if (!remoteDiskReadSnapshot(args, &name, uuid, error) ||
        !qvirXdrReadInt(args, &maxnames, error) || !qvirXdrReadU32(args, &flags, error) ||
        !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (!(children = qvirDriverDomainSnapshotListAllChildren(drv, uuid, name, flags, error)))
        return FALSE;
    return remoteDiskWriteNames(ret, children, maxnames, error);
}

/* args { snap; flags; } ret { int; } */
static gboolean
remoteDomainSnapshotIsCurrent(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                              GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *name = NULL;
    guint32 flags;
    int r;

    if (!remoteDiskReadSnapshotFlags(args, &name, uuid, &flags, error) ||
        (r = qvirDriverDomainSnapshotIsCurrent(drv, uuid, name, flags, error)) < 0)
        return FALSE;
    qvirXdrWriteInt(ret, r);
    return TRUE;
}

static gboolean
remoteDomainSnapshotHasMetadata(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                                GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *name = NULL;
    guint32 flags;
    int r;

    if (!remoteDiskReadSnapshotFlags(args, &name, uuid, &flags, error) ||
        (r = qvirDriverDomainSnapshotHasMetadata(drv, uuid, name, flags, error)) < 0)
        return FALSE;
    qvirXdrWriteInt(ret, r);
    return TRUE;
}

/* ret { remote_nonnull_domain_snapshot snapshots<>; int ret; } */
static gboolean
remoteDiskWriteSnapshotList(qvirDriver *drv, const guint8 *uuid, GPtrArray *names,
                            gint32 needResults, GByteArray *ret, GError **error)
{
    g_autoptr(qvirDomainRef) ref = NULL;

    if (names->len > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_RPC, "too many snapshots: %u", names->len);
        return FALSE;
    }
    if (!needResults) {
        qvirXdrWriteU32(ret, 0);
        qvirXdrWriteInt(ret, (gint32)names->len);
        return TRUE;
    }
    if (!(ref = remoteDiskDomainRef(drv, uuid, error)))
        return FALSE;
    qvirXdrWriteU32(ret, names->len);
    for (guint i = 0; i < names->len; i++)
        remoteDiskWriteSnapshot(ret, g_ptr_array_index(names, i), ref);
    qvirXdrWriteInt(ret, (gint32)names->len);
    return TRUE;
}

/* args { dom; int need_results; flags; } */
static gboolean
remoteDomainListAllSnapshots(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                             GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autoptr(GPtrArray) names = NULL;
    gint32 needResults;
    guint32 flags;

    if (!remoteDiskReadDomain(args, uuid, error) || !qvirXdrReadInt(args, &needResults, error) ||
        !qvirXdrReadU32(args, &flags, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (!(names = qvirDriverDomainListAllSnapshots(drv, uuid, flags, error)))
        return FALSE;
    return remoteDiskWriteSnapshotList(drv, uuid, names, needResults, ret, error);
}

/* args { snapshot; int need_results; flags; } */
static gboolean
remoteDomainSnapshotListAllChildren(qvirDriver *drv, qvirRpcClient *client, qvirXdrReader *args,
                                    GByteArray *ret, GError **error)
{
    guint8 uuid[QVIR_XDR_UUID_LEN];
    g_autofree char *name = NULL;
    g_autoptr(GPtrArray) names = NULL;
    gint32 needResults;
    guint32 flags;

    if (!remoteDiskReadSnapshot(args, &name, uuid, error) ||
        !qvirXdrReadInt(args, &needResults, error) || !qvirXdrReadU32(args, &flags, error) ||
        !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (!(names = qvirDriverDomainSnapshotListAllChildren(drv, uuid, name, flags, error)))
        return FALSE;
    return remoteDiskWriteSnapshotList(drv, uuid, names, needResults, ret, error);
}

/* ---- domain event callbacks ------------------------------------------------------------ */

/*
 * One registration of a client (CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY). It holds the
 * client (not its connection): registrations of a client that went away without
 * deregistering are dropped at the next event or registration.
 */
typedef struct {
    qvirRpcClient *client;
    gint32 callbackID;
    gint32 eventID;
    gboolean anyDomain;
    guint8 uuid[QVIR_XDR_UUID_LEN];
} remoteEventReg;

static GMutex remoteEventLock;
static GPtrArray *remoteEventRegs; /* remoteEventReg* */
static gint32 remoteEventNextID = 1;

static void
remoteEventRegFree(remoteEventReg *reg)
{
    qvirRpcClientRelease(reg->client);
    g_free(reg);
}

/* Caller holds remoteEventLock. */
static void
remoteEventPruneLocked(void)
{
    if (!remoteEventRegs)
        remoteEventRegs = g_ptr_array_new_with_free_func((GDestroyNotify)remoteEventRegFree);
    for (guint i = remoteEventRegs->len; i > 0; i--) {
        remoteEventReg *reg = g_ptr_array_index(remoteEventRegs, i - 1);

        if (qvirRpcClientIsClosed(reg->client))
            g_ptr_array_remove_index(remoteEventRegs, i - 1);
    }
}

/* args { int eventID; remote_domain dom; } ret { int callbackID; } */
static gboolean
remoteConnectDomainEventCallbackRegisterAny(qvirDriver *drv, qvirRpcClient *client,
                                            qvirXdrReader *args, GByteArray *ret, GError **error)
{
    remoteEventReg *reg;
    gboolean hasDom;
    gint32 eventID;
    guint8 uuid[QVIR_XDR_UUID_LEN] = {0};

    if (!qvirXdrReadInt(args, &eventID, error) || !qvirXdrReadBool(args, &hasDom, error) ||
        (hasDom && !remoteDiskReadDomain(args, uuid, error)) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    if (eventID < 0 || eventID >= REMOTE_EVENT_ID_LAST) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported event ID %d", eventID);
        return FALSE;
    }
    /* A domain that does not exist is libvirt's NO_DOMAIN, also here. */
    if (hasDom) {
        g_autoptr(qvirDomainRef) ref = remoteDiskDomainRef(drv, uuid, error);

        if (!ref)
            return FALSE;
    }

    reg = g_new0(remoteEventReg, 1);
    reg->client = qvirRpcClientHold(client);
    reg->eventID = eventID;
    reg->anyDomain = !hasDom;
    memcpy(reg->uuid, uuid, sizeof(uuid));
    g_mutex_lock(&remoteEventLock);
    remoteEventPruneLocked();
    reg->callbackID = remoteEventNextID++;
    g_ptr_array_add(remoteEventRegs, reg);
    qvirXdrWriteInt(ret, reg->callbackID);
    g_mutex_unlock(&remoteEventLock);
    return TRUE;
}

/* args { int callbackID; } */
static gboolean
remoteConnectDomainEventCallbackDeregisterAny(qvirDriver *drv, qvirRpcClient *client,
                                              qvirXdrReader *args, GByteArray *ret, GError **error)
{
    gboolean found = FALSE;
    gint32 callbackID;

    if (!qvirXdrReadInt(args, &callbackID, error) || !qvirXdrReaderCheckEnd(args, error))
        return FALSE;
    g_mutex_lock(&remoteEventLock);
    remoteEventPruneLocked();
    for (guint i = 0; i < remoteEventRegs->len; i++) {
        remoteEventReg *reg = g_ptr_array_index(remoteEventRegs, i);

        /* A client removes only its own registrations. */
        if (reg->callbackID == callbackID && reg->client == client) {
            g_ptr_array_remove_index(remoteEventRegs, i);
            found = TRUE;
            break;
        }
    }
    g_mutex_unlock(&remoteEventLock);
    if (!found) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: callback %d not registered", callbackID);
        return FALSE;
    }
    return TRUE;
}

static void
remoteEventWriteDomain(GByteArray *buf, const qvirDomainRef *dom)
{
    qvirXdrWriteString(buf, dom->name);
    qvirXdrWriteFixedOpaque(buf, dom->uuid, QVIR_UUID_BUFLEN);
    qvirXdrWriteInt(buf, dom->id);
}

/*
 * The driver's block job event, to every client registered for it:
 *   326 { int callbackID; { dom; path; int type; int status; } }  (BLOCK_JOB: disk path)
 *   339 { int callbackID; dom; dst; int type; int status; }       (BLOCK_JOB_2: target)
 */
static void
remoteEventBlockJob(qvirDriver *drv, const qvirDomainRef *dom, const qemuBlockJobEvent *ev,
                    gpointer opaque)
{
    g_mutex_lock(&remoteEventLock);
    remoteEventPruneLocked();
    for (guint i = 0; i < remoteEventRegs->len; i++) {
        remoteEventReg *reg = g_ptr_array_index(remoteEventRegs, i);
        g_autoptr(GByteArray) body = NULL;

        if (!reg->anyDomain && memcmp(reg->uuid, dom->uuid, QVIR_UUID_BUFLEN) != 0)
            continue;
        body = g_byte_array_new();
        qvirXdrWriteInt(body, reg->callbackID);
        if (reg->eventID == REMOTE_EVENT_ID_BLOCK_JOB) {
            remoteEventWriteDomain(body, dom);
            qvirXdrWriteString(body, ev->path ? ev->path : "");
            qvirXdrWriteInt(body, ev->type);
            qvirXdrWriteInt(body, ev->status);
            qvirRpcClientSendMessage(reg->client, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BLOCK_JOB,
                                     body);
        } else if (reg->eventID == REMOTE_EVENT_ID_BLOCK_JOB_2) {
            remoteEventWriteDomain(body, dom);
            qvirXdrWriteString(body, ev->dst ? ev->dst : "");
            qvirXdrWriteInt(body, ev->type);
            qvirXdrWriteInt(body, ev->status);
            qvirRpcClientSendMessage(reg->client, REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2, body);
        }
    }
    g_mutex_unlock(&remoteEventLock);
}

void
qvirRemoteEventBroadcast(const qvirDomainRef *dom, gint32 eventID, gint32 proc,
                         const GByteArray *payload)
{
    g_mutex_lock(&remoteEventLock);
    remoteEventPruneLocked();
    for (guint i = 0; i < remoteEventRegs->len; i++) {
        remoteEventReg *reg = g_ptr_array_index(remoteEventRegs, i);
        g_autoptr(GByteArray) body = NULL;

        if (reg->eventID != eventID ||
            (!reg->anyDomain && memcmp(reg->uuid, dom->uuid, QVIR_UUID_BUFLEN) != 0))
            continue;
        body = g_byte_array_new();
        qvirXdrWriteInt(body, reg->callbackID);
        g_byte_array_append(body, payload->data, payload->len);
        qvirRpcClientSendMessage(reg->client, proc, body);
    }
    g_mutex_unlock(&remoteEventLock);
}

void
qvirRemoteDiskInit(qvirDriver *drv)
{
    if (drv)
        qvirDriverSetBlockJobEventCallback(drv, remoteEventBlockJob, NULL);
}

qvirRemoteDiskHandler
qvirRemoteDiskLookup(gint32 proc, gboolean *write)
{
    static const struct {
        gint32 proc;
        qvirRemoteDiskHandler fn;
        gboolean write;
    } procs[] = {
        {REMOTE_PROC_DOMAIN_ATTACH_DEVICE, remoteDomainAttachDevice, TRUE},
        {REMOTE_PROC_DOMAIN_DETACH_DEVICE, remoteDomainDetachDevice, TRUE},
        {REMOTE_PROC_DOMAIN_ATTACH_DEVICE_FLAGS, remoteDomainAttachDeviceFlags, TRUE},
        {REMOTE_PROC_DOMAIN_DETACH_DEVICE_FLAGS, remoteDomainDetachDeviceFlags, TRUE},
        {REMOTE_PROC_DOMAIN_UPDATE_DEVICE_FLAGS, remoteDomainUpdateDeviceFlags, TRUE},
        {REMOTE_PROC_DOMAIN_BLOCK_JOB_ABORT, remoteDomainBlockJobAbort, TRUE},
        {REMOTE_PROC_DOMAIN_GET_BLOCK_JOB_INFO, remoteDomainGetBlockJobInfo, FALSE},
        {REMOTE_PROC_DOMAIN_BLOCK_PULL, remoteDomainBlockPull, TRUE},
        {REMOTE_PROC_DOMAIN_BLOCK_REBASE, remoteDomainBlockRebase, TRUE},
        {REMOTE_PROC_DOMAIN_BLOCK_COMMIT, remoteDomainBlockCommit, TRUE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_CREATE_XML, remoteDomainSnapshotCreateXML, TRUE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_GET_XML_DESC, remoteDomainSnapshotGetXMLDesc, FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_NUM, remoteDomainSnapshotNum, FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_NAMES, remoteDomainSnapshotListNames, FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_LOOKUP_BY_NAME, remoteDomainSnapshotLookupByName, FALSE},
        {REMOTE_PROC_DOMAIN_HAS_CURRENT_SNAPSHOT, remoteDomainHasCurrentSnapshot, FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_CURRENT, remoteDomainSnapshotCurrent, FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_DELETE, remoteDomainSnapshotDelete, TRUE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_GET_PARENT, remoteDomainSnapshotGetParent, FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_NUM_CHILDREN, remoteDomainSnapshotNumChildren, FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES, remoteDomainSnapshotListChildrenNames,
         FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_IS_CURRENT, remoteDomainSnapshotIsCurrent, FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_HAS_METADATA, remoteDomainSnapshotHasMetadata, FALSE},
        {REMOTE_PROC_DOMAIN_LIST_ALL_SNAPSHOTS, remoteDomainListAllSnapshots, FALSE},
        {REMOTE_PROC_DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN, remoteDomainSnapshotListAllChildren, FALSE},
        /* events are for read-only connections too, as in libvirt */
        {REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
         remoteConnectDomainEventCallbackRegisterAny, FALSE},
        {REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
         remoteConnectDomainEventCallbackDeregisterAny, FALSE},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(procs); i++) {
        if (procs[i].proc == proc) {
            if (write)
                *write = procs[i].write;
            return procs[i].fn;
        }
    }
    return NULL;
}
