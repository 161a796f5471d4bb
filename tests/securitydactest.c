/*
 * securitydactest.c: QEMU never runs as root (src/security/security_dac.c).
 *
 * First the driver on real files: remembered owners and modes, reference counts, stale
 * records, all-or-nothing labelling, refusals that name disk, file and reason. Then the
 * build tree's qvirtd as root with real virsh and QEMU 7.2: QEMU's credentials in /proc,
 * the owner of every chain layer while it runs and after destroy, guest power-off and a
 * daemon SIGKILL + restart, two domains sharing a base, hot-plug / snapshot / pull /
 * commit / detach compared with the live XML's chain, and a hostile <kernel>.
 *
 * Everything here needs root (chown, trusted.* xattrs, a daemon that switches uid) and
 * the qvirt-qemu user that `bash run.sh` creates.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_namespace.h"
#include "security/security_dac.h"
#include "util/virerror.h"

#include "daemontestutils.h"
#include "guesttestutils.h"

#define NOBODY 65534
#define XATTR_REF "trusted.qvirt.security.ref_dac"
#define XATTR_OWNER "trusted.qvirt.security.dac"
#define XATTR_STAMP "trusted.qvirt.security.timestamp_dac"

static uid_t qemuUid;
static gid_t qemuGid;

/* ---- helpers ------------------------------------------------------------------------ */

static gboolean
testReady(void)
{
    struct passwd *pw;

    if (geteuid() != 0) {
        g_test_skip("needs root (chown, trusted.* xattrs, a daemon that drops to qvirt-qemu)");
        return FALSE;
    }
    if (!(pw = getpwnam(QVIR_SECURITY_DAC_DEFAULT_USER))) {
        g_test_skip("needs the qvirt-qemu user (bash run.sh creates it)");
        return FALSE;
    }
    qemuUid = pw->pw_uid;
    qemuGid = getgrnam(QVIR_SECURITY_DAC_DEFAULT_GROUP)->gr_gid;
    return TRUE;
}

static void
testSetOwner(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
    g_assert_cmpint(chown(path, uid, gid), ==, 0);
    g_assert_cmpint(chmod(path, mode), ==, 0);
}

static void
testAssertOwnerFull(const char *path, uid_t uid, gid_t gid, mode_t mode, const char *where)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    if (st.st_uid != uid || st.st_gid != gid || (st.st_mode & 07777) != mode)
        g_error("%s: '%s' is %u:%u %o, expected %u:%u %o", where, path, (unsigned int)st.st_uid,
                (unsigned int)st.st_gid, (unsigned int)(st.st_mode & 07777), (unsigned int)uid,
                (unsigned int)gid, (unsigned int)mode);
}
#define testAssertOwner(p, u, g, m) testAssertOwnerFull((p), (u), (g), (m), G_STRLOC)

static void
testAssertQemuOwnedFull(const char *path, const char *where)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    if (st.st_uid != qemuUid || st.st_gid != qemuGid)
        g_error("%s: '%s' is %u:%u, expected QEMU's %u:%u", where, path, (unsigned int)st.st_uid,
                (unsigned int)st.st_gid, (unsigned int)qemuUid, (unsigned int)qemuGid);
}
#define testAssertQemuOwned(p) testAssertQemuOwnedFull((p), G_STRLOC)

/* The reference count recorded on PATH; 0 without a record. */
static int
testRefs(const char *path)
{
    char buf[32];
    ssize_t n = getxattr(path, XATTR_REF, buf, sizeof(buf) - 1);

    if (n < 0)
        return 0;
    buf[n] = '\0';
    return atoi(buf);
}

static void
testAssertNoRecord(const char *path)
{
    char buf[256];

    g_assert_cmpint(getxattr(path, XATTR_REF, buf, sizeof(buf)), <, 0);
    g_assert_cmpint(getxattr(path, XATTR_OWNER, buf, sizeof(buf)), <, 0);
    g_assert_cmpint(getxattr(path, XATTR_STAMP, buf, sizeof(buf)), <, 0);
}

static char *
testMakeFile(const char *dir, const char *name)
{
    char *path = g_build_filename(dir, name, NULL);

    g_assert_true(g_file_set_contents(path, "data", -1, NULL));
    return path;
}

static qvirSecurityDAC *
testManager(gboolean privileged, gboolean dynamicOwnership)
{
    qvirSecurityDACConfig cfg = {NULL, NULL, dynamicOwnership, TRUE, TRUE};
    g_autoptr(GError) err = NULL;
    qvirSecurityDAC *sec = qvirSecurityDACNew(&cfg, privileged, &err);

    g_assert_no_error(err);
    g_assert_nonnull(sec);
    return sec;
}

static qvirStorageSource *
testFileSource(const char *path)
{
    qvirStorageSource *src = qvirStorageSourceNew();

    src->type = QVIR_STORAGE_TYPE_FILE;
    src->path = g_strdup(path);
    return src;
}

/* ---- the driver on files --------------------------------------------------------------- */

static void
testRememberRefcount(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *path = NULL;
    g_autofree char *ro = NULL;
    g_autoptr(qvirSecurityDAC) sec = NULL;
    g_autoptr(qvirStorageSource) src = NULL;
    g_autoptr(qvirStorageSource) roSrc = NULL;
    g_autoptr(GError) err = NULL;

    if (!testReady())
        return;
    dir = qvirTestTempDirNew("securitydactest");
    path = testMakeFile(dir, "base.img");
    ro = testMakeFile(dir, "readonly.img");
    testSetOwner(path, NOBODY, NOBODY, 0640);
    testSetOwner(ro, NOBODY, NOBODY, 0444);
    sec = testManager(TRUE, TRUE);
    src = testFileSource(path);
    roSrc = testFileSource(ro);

    /* two domains take the same backing file */
    g_assert_true(qvirSecurityDACSetImageLabel(sec, "vda", src, FALSE, &err));
    g_assert_no_error(err);
    testAssertOwner(path, qemuUid, qemuGid, 0640);
    g_assert_cmpint(testRefs(path), ==, 1);
    g_assert_true(qvirSecurityDACSetImageLabel(sec, "vdb", src, FALSE, &err));
    g_assert_cmpint(testRefs(path), ==, 2);
    /* the first lets go: the other keeps it */
    qvirSecurityDACRestoreImageLabel(sec, src);
    testAssertOwner(path, qemuUid, qemuGid, 0640);
    g_assert_cmpint(testRefs(path), ==, 1);
    /* the last one restores owner and mode and drops the record */
    qvirSecurityDACRestoreImageLabel(sec, src);
    testAssertOwner(path, NOBODY, NOBODY, 0640);
    testAssertNoRecord(path);

    /* a writable top whose owner may not write gets u+w while in use, and loses it after */
    g_assert_true(qvirSecurityDACSetImageLabel(sec, "vda", roSrc, TRUE, &err));
    testAssertOwner(ro, qemuUid, qemuGid, 0644);
    qvirSecurityDACRestoreImageLabel(sec, roSrc);
    testAssertOwner(ro, NOBODY, NOBODY, 0444);
    testAssertNoRecord(ro);
    qvirTestTempDirRemove(dir);
}

static void
testStaleRecord(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *path = NULL;
    g_autoptr(qvirSecurityDAC) sec = NULL;
    g_autoptr(qvirStorageSource) src = NULL;
    g_autoptr(GError) err = NULL;

    if (!testReady())
        return;
    dir = qvirTestTempDirNew("securitydactest");
    path = testMakeFile(dir, "top.img");
    testSetOwner(path, 0, 0, 0600);
    /* left by a boot whose QEMUs are long gone */
    g_assert_cmpint(setxattr(path, XATTR_OWNER, "65534:65534:644", 15, 0), ==, 0);
    g_assert_cmpint(setxattr(path, XATTR_STAMP, "an-earlier-boot", 15, 0), ==, 0);
    g_assert_cmpint(setxattr(path, XATTR_REF, "3", 1, 0), ==, 0);
    sec = testManager(TRUE, TRUE);
    src = testFileSource(path);

    g_assert_true(qvirSecurityDACSetImageLabel(sec, "vda", src, TRUE, &err));
    g_assert_no_error(err);
    g_assert_cmpint(testRefs(path), ==, 1);
    qvirSecurityDACRestoreImageLabel(sec, src);
    testAssertOwner(path, 0, 0, 0600);
    testAssertNoRecord(path);
    qvirTestTempDirRemove(dir);
}

/* A chain whose base QEMU's user cannot reach: refused, and the top is left as it was. */
static void
testAllOrNothing(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *hidden = NULL;
    g_autofree char *top = NULL;
    g_autofree char *base = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *expect = NULL;
    g_autoptr(qvirDomainDiskDef) disk = NULL;
    g_autoptr(qvirSecurityDAC) sec = NULL;
    g_autoptr(GError) err = NULL;
    const mode_t baseMode = 0600;

    if (!testReady())
        return;
    dir = qvirTestTempDirNew("securitydactest");
    hidden = g_build_filename(dir, "hidden", NULL);
    g_assert_cmpint(g_mkdir(hidden, 0700), ==, 0);
    top = testMakeFile(dir, "top.qcow2");
    base = testMakeFile(hidden, "base.qcow2");
    testSetOwner(top, NOBODY, NOBODY, 0644);
    testSetOwner(base, 0, 0, baseMode);
    xml = g_strdup_printf("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                          "<source file='%s'/><backingStore type='file'><format type='qcow2'/>"
                          "<source file='%s'/><backingStore/></backingStore>"
                          "<target dev='vdb' bus='virtio'/></disk>",
                          top, base);
    disk = qvirDomainDiskDefParseString(xml, 0, &err);
    g_assert_no_error(err);
    sec = testManager(TRUE, TRUE);

    g_assert_false(qvirSecurityDACSetChainLabel(sec, disk, disk->src, &err));
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_ACCESS_DENIED);
    expect = g_strdup_printf("disk 'vdb': file '%s' is not reachable by QEMU's user "
                             "'qvirt-qemu' (uid %u, gid %u): no search permission on "
                             "directory '%s'",
                             base, (unsigned int)qemuUid, (unsigned int)qemuGid, hidden);
    g_assert_cmpstr(err->message, ==, expect);
    testAssertOwner(top, NOBODY, NOBODY, 0644);
    testAssertNoRecord(top);
    testAssertOwner(base, 0, 0, baseMode);
    testAssertNoRecord(base);
    qvirTestTempDirRemove(dir);
}

/* Another user's label on a file in use: refused, the count unchanged. */
static void
testInUseByOther(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *path = NULL;
    g_autofree char *stamp = NULL;
    g_autoptr(qvirSecurityDAC) sec = NULL;
    g_autoptr(qvirStorageSource) src = NULL;
    g_autoptr(GError) err = NULL;

    if (!testReady())
        return;
    g_assert_true(g_file_get_contents("/proc/sys/kernel/random/boot_id", &stamp, NULL, NULL));
    g_strstrip(stamp);
    dir = qvirTestTempDirNew("securitydactest");
    path = testMakeFile(dir, "base.img");
    testSetOwner(path, NOBODY, NOBODY, 0644);
    g_assert_cmpint(setxattr(path, XATTR_OWNER, "0:0:644", 7, 0), ==, 0);
    g_assert_cmpint(setxattr(path, XATTR_STAMP, stamp, strlen(stamp), 0), ==, 0);
    g_assert_cmpint(setxattr(path, XATTR_REF, "1", 1, 0), ==, 0);
    sec = testManager(TRUE, TRUE);
    src = testFileSource(path);

    g_assert_false(qvirSecurityDACSetImageLabel(sec, "vda", src, FALSE, &err));
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID);
    g_assert_nonnull(strstr(err->message, "which is already in use"));
    g_assert_cmpint(testRefs(path), ==, 1);
    testAssertOwner(path, NOBODY, NOBODY, 0644);
    qvirTestTempDirRemove(dir);
}

/* Not root: libvirt's session mode, nothing is relabelled. dynamic_ownership off: files
 * are only checked. */
static void
testSessionAndNoDynamic(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *secret = NULL;
    g_autofree char *open = NULL;
    g_autoptr(qvirSecurityDAC) session = NULL;
    g_autoptr(qvirSecurityDAC) fixed = NULL;
    g_autoptr(qvirStorageSource) secretSrc = NULL;
    g_autoptr(qvirStorageSource) openSrc = NULL;
    g_autoptr(GError) err = NULL;

    if (!testReady())
        return;
    dir = qvirTestTempDirNew("securitydactest");
    secret = testMakeFile(dir, "secret.img");
    open = testMakeFile(dir, "open.img");
    testSetOwner(secret, 0, 0, 0600);
    testSetOwner(open, 0, 0, 0644);
    secretSrc = testFileSource(secret);
    openSrc = testFileSource(open);

    session = testManager(FALSE, TRUE);
    g_assert_false(qvirSecurityDACIsActive(session));
    g_assert_true(qvirSecurityDACSetImageLabel(session, "vda", secretSrc, TRUE, &err));
    g_assert_no_error(err);
    testAssertOwner(secret, 0, 0, 0600);
    testAssertNoRecord(secret);

    fixed = testManager(TRUE, FALSE);
    g_assert_false(qvirSecurityDACSetImageLabel(fixed, "vda", secretSrc, FALSE, &err));
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_ACCESS_DENIED);
    g_assert_nonnull(strstr(err->message, "disk 'vda': file '"));
    g_assert_nonnull(strstr(err->message, "is not readable by QEMU's user 'qvirt-qemu'"));
    g_assert_nonnull(strstr(err->message, "dynamic_ownership is off"));
    g_clear_error(&err);
    g_assert_true(qvirSecurityDACSetImageLabel(fixed, "vda", openSrc, FALSE, &err));
    g_assert_no_error(err);
    qvirSecurityDACRestoreImageLabel(fixed, openSrc);
    testAssertOwner(open, 0, 0, 0644);
    testAssertOwner(secret, 0, 0, 0600);
    qvirTestTempDirRemove(dir);
}

/* A read-only filesystem: a file QEMU can read as it is needs no label; one it cannot is
 * an error naming disk, file and reason. */
static void
testReadOnlyFilesystem(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *mnt = NULL;
    g_autofree char *secret = NULL;
    g_autofree char *open = NULL;
    g_autofree char *roSecret = NULL;
    g_autofree char *roOpen = NULL;
    g_autoptr(qvirSecurityDAC) sec = NULL;
    g_autoptr(qvirStorageSource) secretSrc = NULL;
    g_autoptr(qvirStorageSource) openSrc = NULL;
    g_autoptr(GError) err = NULL;

    if (!testReady())
        return;
    dir = qvirTestTempDirNew("securitydactest");
    mnt = g_build_filename(dir, "ro", NULL);
    g_assert_cmpint(g_mkdir(mnt, 0755), ==, 0);
    secret = testMakeFile(dir, "secret.img");
    open = testMakeFile(dir, "open.img");
    testSetOwner(secret, 0, 0, 0600);
    testSetOwner(open, 0, 0, 0644);
    if (mount(dir, mnt, NULL, MS_BIND, NULL) < 0 ||
        mount(NULL, mnt, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
        umount2(mnt, MNT_DETACH);
        qvirTestTempDirRemove(dir);
        g_test_skip("cannot bind-mount a directory read-only here");
        return;
    }
    roSecret = g_build_filename(mnt, "secret.img", NULL);
    roOpen = g_build_filename(mnt, "open.img", NULL);
    secretSrc = testFileSource(roSecret);
    openSrc = testFileSource(roOpen);
    sec = testManager(TRUE, TRUE);

    g_assert_false(qvirSecurityDACSetImageLabel(sec, "vdc", secretSrc, FALSE, &err));
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_ACCESS_DENIED);
    g_test_message("%s", err->message);
    g_assert_true(g_str_has_prefix(err->message, "disk 'vdc': cannot change the owner of file '"));
    g_assert_nonnull(strstr(err->message, roSecret));
    g_assert_true(g_str_has_suffix(err->message, ": Read-only file system"));
    g_clear_error(&err);
    g_assert_true(qvirSecurityDACSetImageLabel(sec, "vdc", openSrc, FALSE, &err));
    g_assert_no_error(err);
    qvirSecurityDACRestoreImageLabel(sec, openSrc);

    g_assert_cmpint(umount2(mnt, MNT_DETACH), ==, 0);
    testAssertOwner(secret, 0, 0, 0600);
    testAssertOwner(open, 0, 0, 0644);
    testAssertNoRecord(secret);
    testAssertNoRecord(open);
    qvirTestTempDirRemove(dir);
}

/* A root daemon refuses to start with a user or group that does not exist. */
static void
testUnknownIdentity(void)
{
    qvirSecurityDACConfig user = {"qvirt-no-such-user", NULL, TRUE, TRUE, TRUE};
    qvirSecurityDACConfig group = {NULL, "qvirt-no-such-group", TRUE, TRUE, TRUE};
    qvirSecurityDACConfig numeric = {"+4242", "+4343", TRUE, TRUE, TRUE};
    g_autoptr(qvirSecurityDAC) sec = NULL;
    g_autoptr(GError) err = NULL;

    if (!testReady())
        return;
    g_assert_null(qvirSecurityDACNew(&user, TRUE, &err));
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX);
    g_assert_cmpstr(err->message, ==,
                    "QEMU user 'qvirt-no-such-user' does not exist: create it (bash run.sh "
                    "does) or set 'user' in qvirtd.conf");
    g_clear_error(&err);
    g_assert_null(qvirSecurityDACNew(&group, TRUE, &err));
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX);
    g_assert_nonnull(strstr(err->message, "QEMU group 'qvirt-no-such-group' does not exist"));
    g_clear_error(&err);
    /* "+ID" needs no entry in the user database, as in libvirt's qemu.conf */
    sec = qvirSecurityDACNew(&numeric, TRUE, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(qvirSecurityDACGetUser(sec), ==, 4242);
    g_assert_cmpuint(qvirSecurityDACGetGroup(sec), ==, 4343);
}

/* A serial that connects to a client's UNIX socket (libguestfs' console): QEMU's user gets
 * the socket (connect(2) needs write permission) and root has it back at the end; a
 * channel QEMU listens on itself is left alone. */
static void
testConnectSocket(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *sock = NULL;
    g_autofree char *bound = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(qvirSecurityDAC) sec = NULL;
    g_autoptr(GError) err = NULL;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;

    if (!testReady())
        return;
    dir = qvirTestTempDirNew("securitydactest");
    g_assert_cmpint(chmod(dir, 0755), ==, 0);
    sock = g_build_filename(dir, "console.sock", NULL);
    bound = g_build_filename(dir, "bound.sock", NULL);
    g_assert_cmpuint(strlen(sock), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, sock);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    testSetOwner(sock, 0, 0, 0755);
    g_assert_true(g_file_set_contents(bound, "", -1, NULL));
    testSetOwner(bound, 0, 0, 0644);
    xml = g_strdup_printf("<domain type='qemu'><name>fish</name><memory>65536</memory>"
                          "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
                          "<serial type='unix'><source mode='connect' path='%s'/>"
                          "<target port='0'/></serial>"
                          "<channel type='unix'><source mode='bind' path='%s'/>"
                          "<target type='virtio' name='org.example.0'/></channel>"
                          "</devices></domain>",
                          sock, bound);
    def = qvirDomainDefParseString(xml, 0, &err);
    g_assert_no_error(err);
    sec = testManager(TRUE, TRUE);

    g_assert_true(qvirSecurityDACSetDomainLabel(sec, def, &err));
    g_assert_no_error(err);
    testAssertQemuOwned(sock);
    g_assert_cmpint(stat(sock, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpint(st.st_mode & S_IWUSR, !=, 0);
    testAssertOwner(bound, 0, 0, 0644);

    qvirSecurityDACRestoreDomainLabel(sec, def);
    g_assert_cmpint(stat(sock, &st), ==, 0);
    g_assert_cmpint(st.st_uid, ==, 0);
    g_assert_cmpint(st.st_gid, ==, 0);
    testAssertOwner(bound, 0, 0, 0644);
    close(fd);
    qvirTestTempDirRemove(dir);
}

/* ---- qvirtd as root, real virsh and QEMU ------------------------------------------------ */

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

static void
virshArgv(VirshResult *res, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();

    g_ptr_array_add(argv, (char *)"virsh");
    g_ptr_array_add(argv, (char *)"-q");
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, daemonEnv.uri);
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add(argv, (char *)args[i]);
    g_ptr_array_add(argv, NULL);
    res->rc = qvirTestRun((const char *const *)argv->pdata, &res->out, &res->err);
}

static char *
virshArgvOk(const char *const *args)
{
    g_auto(VirshResult) res = {0};

    virshArgv(&res, args);
    if (res.rc != 0)
        g_error("virsh %s failed (%d): %s", args[0], res.rc, res.err);
    return g_steal_pointer(&res.out);
}
#define VIRSH(res, ...) virshArgv((res), (const char *const[]){__VA_ARGS__, NULL})
#define VIRSH_OK(...) virshArgvOk((const char *const[]){__VA_ARGS__, NULL})

static void
testDaemonUp(const char *prefix)
{
    daemonEnvInit(prefix);
    daemonStart(FALSE);
}

static void
testDaemonDown(void)
{
    daemonStop();
    daemonEnvCleanup();
}

/* A field of /proc/PID/status, e.g. "Uid". */
static char *
testProcStatus(pid_t pid, const char *field)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *status = NULL;
    g_autofree char *key = g_strdup_printf("\n%s:", field);
    const char *p;
    const char *end;

    g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
    g_assert_nonnull((p = strstr(status, key)));
    p += strlen(key);
    while (*p == '\t' || *p == ' ')
        p++;
    end = strchr(p, '\n');
    return g_strndup(p, end ? (gsize)(end - p) : strlen(p));
}

static void
testAssertQemuCredentials(const char *name)
{
    pid_t pid = daemonDomainPid(name);
    g_autofree char *uid = NULL;
    g_autofree char *gid = NULL;
    g_autofree char *capEff = NULL;
    g_autofree char *capPrm = NULL;
    g_autofree char *capBnd = NULL;
    g_autofree char *nnp = NULL;
    g_autofree char *seccomp = NULL;
    g_autofree char *expectUid =
        g_strdup_printf("%u\t%u\t%u\t%u", (unsigned int)qemuUid, (unsigned int)qemuUid,
                        (unsigned int)qemuUid, (unsigned int)qemuUid);
    g_autofree char *expectGid =
        g_strdup_printf("%u\t%u\t%u\t%u", (unsigned int)qemuGid, (unsigned int)qemuGid,
                        (unsigned int)qemuGid, (unsigned int)qemuGid);

    g_assert_cmpint(pid, >, 0);
    uid = testProcStatus(pid, "Uid");
    gid = testProcStatus(pid, "Gid");
    capEff = testProcStatus(pid, "CapEff");
    capPrm = testProcStatus(pid, "CapPrm");
    capBnd = testProcStatus(pid, "CapBnd");
    nnp = testProcStatus(pid, "NoNewPrivs");
    seccomp = testProcStatus(pid, "Seccomp");
    g_assert_cmpstr(uid, ==, expectUid);
    g_assert_cmpstr(gid, ==, expectGid);
    g_assert_cmpstr(capEff, ==, "0000000000000000");
    g_assert_cmpstr(capPrm, ==, "0000000000000000");
    g_assert_cmpstr(capBnd, ==, "0000000000000000");
    g_assert_cmpstr(nnp, ==, "1");
    g_assert_cmpstr(seccomp, ==, "2"); /* -sandbox on: a filter is installed */
}

static char *
testDomainXMLWith(const char *name, const char *uuid, const char *top, const char *extraDevices)
{
    return g_strdup_printf("<domain type='qemu'>\n"
                           "  <name>%s</name>\n"
                           "  <uuid>%s</uuid>\n"
                           "  <memory unit='MiB'>64</memory>\n"
                           "  <vcpu>1</vcpu>\n"
                           "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                           "  <devices>\n"
                           "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                           "    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='qcow2'/>\n"
                           "      <source file='%s'/>\n"
                           "      <target dev='vda' bus='virtio'/>\n"
                           "    </disk>\n"
                           "%s"
                           "  </devices>\n"
                           "</domain>\n",
                           name, uuid, top, extraDevices ? extraDevices : "");
}

static void
testCreate(const char *name, const char *xml)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    g_autofree char *path = daemonWriteFile(file, xml);

    g_free(VIRSH_OK("create", path));
}

/* What each chain file of daemonMakeChain looks like before any domain uses it. */
static void
testChainSetOriginal(const char *top)
{
    g_autofree char *dir = g_path_get_dirname(top);
    g_autofree char *prefix = g_path_get_basename(top);
    char *dash = strrchr(prefix, '-');
    g_autofree char *mid = NULL;
    g_autofree char *base = NULL;

    *dash = '\0';
    mid = g_strdup_printf("%s/%s-mid.qcow2", dir, prefix);
    base = g_strdup_printf("%s/%s-base.qcow2", dir, prefix);
    testSetOwner(base, NOBODY, NOBODY, 0640);
    testSetOwner(mid, 0, NOBODY, 0604);
    testSetOwner(top, NOBODY, 0, 0660);
}

static void
testChainAssertOriginal(const char *top)
{
    g_autofree char *dir = g_path_get_dirname(top);
    g_autofree char *prefix = g_path_get_basename(top);
    char *dash = strrchr(prefix, '-');
    g_autofree char *mid = NULL;
    g_autofree char *base = NULL;

    *dash = '\0';
    mid = g_strdup_printf("%s/%s-mid.qcow2", dir, prefix);
    base = g_strdup_printf("%s/%s-base.qcow2", dir, prefix);
    testAssertOwner(base, NOBODY, NOBODY, 0640);
    testAssertOwner(mid, 0, NOBODY, 0604);
    testAssertOwner(top, NOBODY, 0, 0660);
    testAssertNoRecord(base);
    testAssertNoRecord(mid);
    testAssertNoRecord(top);
}

static void
testChainAssertQemu(const char *top, int refs)
{
    g_autofree char *dir = g_path_get_dirname(top);
    g_autofree char *prefix = g_path_get_basename(top);
    char *dash = strrchr(prefix, '-');
    const char *layers[3];
    g_autofree char *mid = NULL;
    g_autofree char *base = NULL;

    *dash = '\0';
    mid = g_strdup_printf("%s/%s-mid.qcow2", dir, prefix);
    base = g_strdup_printf("%s/%s-base.qcow2", dir, prefix);
    layers[0] = top;
    layers[1] = mid;
    layers[2] = base;
    for (guint i = 0; i < G_N_ELEMENTS(layers); i++) {
        testAssertQemuOwned(layers[i]);
        g_assert_cmpint(testRefs(layers[i]), ==, refs);
    }
}

static void
testLifecycle(void)
{
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *domainDir = NULL;

    if (!testReady())
        return;
    testDaemonUp("securitydactest");
    top = daemonMakeChain(daemonEnv.images, "life");
    testChainSetOriginal(top);
    xml = testDomainXMLWith("life", "8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b01", top, NULL);
    testCreate("life", xml);

    testAssertQemuCredentials("life");
    testChainAssertQemu(top, 1);
    {
        /* the status file records the chain: the start's journal is gone */
        g_autofree char *journal =
            g_build_filename(daemonEnv.root, "run", "qemu", "life.labels", NULL);
        g_autofree char *status = g_build_filename(daemonEnv.root, "run", "qemu", "life.xml", NULL);

        g_assert_true(g_file_test(status, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(journal, G_FILE_TEST_EXISTS));
    }
    domainDir = g_build_filename(daemonEnv.root, "lib", "qemu", "domain-1-life", NULL);
    testAssertOwner(domainDir, qemuUid, qemuGid, 0750);

    g_free(VIRSH_OK("destroy", "life"));
    testChainAssertOriginal(top);

    /* QEMU crashes (SIGKILL): the labels come back all the same */
    testCreate("life", xml);
    testChainAssertQemu(top, 1);
    g_assert_cmpint(kill(daemonDomainPid("life"), SIGKILL), ==, 0);
    {
        gint64 deadline = g_get_monotonic_time() + 60 * G_TIME_SPAN_SECOND;
        g_auto(VirshResult) res = {0};

        /* a transient domain is gone once its end has been handled */
        do {
            virshResultClear(&res);
            g_usleep(100 * 1000);
            VIRSH(&res, "domstate", "life");
        } while (res.rc == 0 && g_get_monotonic_time() < deadline);
        g_assert_cmpint(res.rc, !=, 0);
    }
    testChainAssertOriginal(top);
    testDaemonDown();
}

/* user = root, said explicitly: QEMU keeps uid 0 but no capability at all. */
static void
testExplicitRoot(void)
{
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *conf = NULL;
    g_autofree char *confDir = NULL;
    g_autofree char *uid = NULL;
    g_autofree char *capEff = NULL;
    g_autofree char *capBnd = NULL;
    g_autofree char *nnp = NULL;
    pid_t pid;

    if (!testReady())
        return;
    daemonEnvInit("securitydactest");
    confDir = g_build_filename(daemonEnv.root, "etc", NULL);
    g_assert_cmpint(g_mkdir(confDir, 0755), ==, 0);
    conf = g_build_filename(confDir, "qvirtd.conf", NULL);
    g_assert_true(g_file_set_contents(conf, "[qvirtd]\nuser = root\ngroup = root\n", -1, NULL));
    daemonStart(FALSE);
    top = daemonMakeChain(daemonEnv.images, "root");
    xml = testDomainXMLWith("asroot", "8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b09", top, NULL);
    testCreate("asroot", xml);
    pid = daemonDomainPid("asroot");
    uid = testProcStatus(pid, "Uid");
    capEff = testProcStatus(pid, "CapEff");
    capBnd = testProcStatus(pid, "CapBnd");
    nnp = testProcStatus(pid, "NoNewPrivs");
    g_assert_cmpstr(uid, ==, "0\t0\t0\t0");
    g_assert_cmpstr(capEff, ==, "0000000000000000");
    g_assert_cmpstr(capBnd, ==, "0000000000000000");
    g_assert_cmpstr(nnp, ==, "1");
    g_free(VIRSH_OK("destroy", "asroot"));
    testDaemonDown();
}

static void
testRawioChildSetup(gpointer data)
{
    qvirSecurityDACChildSetup(data, TRUE);
}

static void
testPlainChildSetup(gpointer data)
{
    qvirSecurityDACChildSetup(data, FALSE);
}

/* The capability lines of /proc/self/status of a program run through SETUP. */
static char *
testChildCaps(qvirSecurityDAC *sec, GSpawnChildSetupFunc setup)
{
    const char *argv[] = {"/bin/grep", "^Cap\\|^Uid", "/proc/self/status", NULL};
    g_autoptr(GError) err = NULL;
    char *out = NULL;
    int status = 0;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, setup, sec, &out, NULL,
                               &status, &err));
    g_assert_no_error(err);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    return out;
}

/*
 * A disk with rawio='yes' (libvirt's CAP_SYS_RAWIO for SCSI passthrough): the program QEMU
 * would be runs as qvirt-qemu with CAP_SYS_RAWIO alone, bounding, permitted, effective and
 * ambient, so that it survives the exec; without it nothing is left. (A lun QEMU starts
 * needs a real SCSI device, which this host does not have: scsi-block refuses a loop
 * device and QEMU 7.2 refuses virtio-blk scsi=on with virtio 1.0, as it does libvirt's.)
 */
static void
testRawioCaps(void)
{
    g_autoptr(qvirSecurityDAC) sec = NULL;
    g_autofree char *with = NULL;
    g_autofree char *without = NULL;
    g_autofree char *uidLine = NULL;

    if (!testReady())
        return;
    sec = testManager(TRUE, TRUE);
    with = testChildCaps(sec, testRawioChildSetup);
    without = testChildCaps(sec, testPlainChildSetup);
    uidLine = g_strdup_printf("Uid:\t%u\t%u\t%u\t%u\n", (unsigned int)qemuUid,
                              (unsigned int)qemuUid, (unsigned int)qemuUid, (unsigned int)qemuUid);
    g_assert_nonnull(strstr(with, uidLine));
    /* bit 17 */
    g_assert_nonnull(strstr(with, "CapPrm:\t0000000000020000\n"));
    g_assert_nonnull(strstr(with, "CapEff:\t0000000000020000\n"));
    g_assert_nonnull(strstr(with, "CapBnd:\t0000000000020000\n"));
    g_assert_nonnull(strstr(with, "CapAmb:\t0000000000020000\n"));
    g_assert_nonnull(strstr(without, uidLine));
    g_assert_nonnull(strstr(without, "CapPrm:\t0000000000000000\n"));
    g_assert_nonnull(strstr(without, "CapEff:\t0000000000000000\n"));
    g_assert_nonnull(strstr(without, "CapBnd:\t0000000000000000\n"));
}

/*
 * Per-layer <seclabel model='dac'>: a backing layer with relabel='no' keeps its owner, mode
 * and no owner record while the domain runs; a layer whose <label> names an owner gets
 * that owner (here QEMU's uid with group root) instead of QEMU's user and group. Both come
 * back as they were when the domain ends.
 */
static void
testLayerSeclabel(void)
{
    g_autofree char *top = NULL;
    g_autofree char *mid = NULL;
    g_autofree char *base = NULL;
    g_autofree char *disk = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *live = NULL;

    if (!testReady())
        return;
    testDaemonUp("securitydactest");
    top = daemonMakeChain(daemonEnv.images, "seclabel");
    mid = g_build_filename(daemonEnv.images, "seclabel-mid.qcow2", NULL);
    base = g_build_filename(daemonEnv.images, "seclabel-base.qcow2", NULL);
    testChainSetOriginal(top);
    disk = g_strdup_printf("    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='qcow2'/>\n"
                           "      <source file='%s'/>\n"
                           "      <backingStore type='file'>\n"
                           "        <format type='qcow2'/>\n"
                           "        <source file='%s'>\n"
                           "          <seclabel model='dac' relabel='no'/>\n"
                           "        </source>\n"
                           "        <backingStore type='file'>\n"
                           "          <format type='qcow2'/>\n"
                           "          <source file='%s'>\n"
                           "            <seclabel model='dac' relabel='yes'>\n"
                           "              <label>+%u:+0</label>\n"
                           "            </seclabel>\n"
                           "          </source>\n"
                           "          <backingStore/>\n"
                           "        </backingStore>\n"
                           "      </backingStore>\n"
                           "      <target dev='vdb' bus='virtio'/>\n"
                           "    </disk>\n",
                           top, mid, base, (unsigned int)qemuUid);
    /* vda is a throwaway image of its own; vdb carries the labelled chain */
    {
        g_autofree char *own = g_build_filename(daemonEnv.images, "seclabel-own.qcow2", NULL);

        daemonMakeQcow2(own, NULL);
        xml = testDomainXMLWith("seclabel", "8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b21", own, disk);
    }
    testCreate("seclabel", xml);

    testAssertQemuOwned(top);
    g_assert_cmpint(testRefs(top), ==, 1);
    testAssertOwner(mid, 0, NOBODY, 0604); /* relabel='no': untouched */
    testAssertNoRecord(mid);
    testAssertOwner(base, qemuUid, 0, 0640); /* the <label>'s owner */
    g_assert_cmpint(testRefs(base), ==, 1);
    live = VIRSH_OK("dumpxml", "seclabel");
    g_assert_nonnull(strstr(live, "<seclabel model='dac' relabel='no'/>"));
    g_assert_nonnull(strstr(live, "<label>+"));

    g_free(VIRSH_OK("destroy", "seclabel"));
    testChainAssertOriginal(top);
    testDaemonDown();
}

static void
testSharedBase(void)
{
    g_autofree char *base = NULL;
    g_autofree char *topA = NULL;
    g_autofree char *topB = NULL;
    g_autofree char *xmlA = NULL;
    g_autofree char *xmlB = NULL;
    g_autofree char *state = NULL;

    if (!testReady())
        return;
    testDaemonUp("securitydactest");
    base = daemonImagePath("shared-base.qcow2");
    topA = daemonImagePath("a-top.qcow2");
    topB = daemonImagePath("b-top.qcow2");
    daemonMakeQcow2(base, NULL);
    daemonMakeQcow2(topA, base);
    daemonMakeQcow2(topB, base);
    testSetOwner(base, NOBODY, NOBODY, 0444);
    testSetOwner(topA, 0, 0, 0600);
    xmlA = testDomainXMLWith("sharea", "8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b02", topA, NULL);
    xmlB = testDomainXMLWith("shareb", "8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b03", topB, NULL);
    testCreate("sharea", xmlA);
    testCreate("shareb", xmlB);
    testAssertQemuOwned(base);
    g_assert_cmpint(testRefs(base), ==, 2);

    /* the first to stop leaves the base to the second, which keeps running */
    g_free(VIRSH_OK("destroy", "sharea"));
    testAssertQemuOwned(base);
    g_assert_cmpint(testRefs(base), ==, 1);
    state = VIRSH_OK("domstate", "shareb");
    g_assert_cmpstr(g_strstrip(state), ==, "running");
    g_assert_true(daemonProcessAlive(daemonDomainPid("shareb")));
    testAssertOwner(topA, 0, 0, 0600);

    /* the last one restores it */
    g_free(VIRSH_OK("destroy", "shareb"));
    testAssertOwner(base, NOBODY, NOBODY, 0444);
    testAssertNoRecord(base);
    testDaemonDown();
}

/* qvirtd is SIGKILLed while QEMU runs; the next daemon reconnects, then destroys. */
static void
testDaemonKilled(void)
{
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    pid_t qemu;
    int status;

    if (!testReady())
        return;
    testDaemonUp("securitydactest");
    top = daemonMakeChain(daemonEnv.images, "kill");
    testChainSetOriginal(top);
    xml = testDomainXMLWith("killed", "8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b04", top, NULL);
    testCreate("killed", xml);
    qemu = daemonDomainPid("killed");

    g_assert_cmpint(kill(daemonEnv.pid, SIGKILL), ==, 0);
    g_assert_cmpint(waitpid(daemonEnv.pid, &status, 0), ==, daemonEnv.pid);
    daemonEnv.pid = 0;
    g_assert_true(daemonProcessAlive(qemu));
    testChainAssertQemu(top, 1);

    daemonStart(FALSE);
    g_assert_cmpint(daemonDomainPid("killed"), ==, qemu);
    testAssertQemuCredentials("killed");
    g_free(VIRSH_OK("destroy", "killed"));
    g_assert_false(daemonProcessAlive(qemu));
    testChainAssertOriginal(top);
    testDaemonDown();
}

/* qvirtd killed between labelling a start's chain and writing its status file: the next
 * daemon finds the journal and gives the references back. */
static void
testJournalReplay(void)
{
    g_autofree char *top = NULL;
    g_autofree char *mid = NULL;
    g_autofree char *base = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *statusDir = NULL;
    g_autofree char *journal = NULL;
    g_autoptr(qvirDomainDef) def = NULL;
    g_autoptr(qvirSecurityDAC) sec = NULL;
    g_autoptr(GError) err = NULL;

    if (!testReady())
        return;
    daemonEnvInit("securitydactest");
    top = daemonMakeChain(daemonEnv.images, "ghost");
    mid = daemonImagePath("ghost-mid.qcow2");
    base = daemonImagePath("ghost-base.qcow2");
    testChainSetOriginal(top);
    xml = g_strdup_printf("<domain type='qemu'><name>ghost</name><memory>65536</memory>"
                          "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
                          "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                          "<source file='%s'/>"
                          "<backingStore type='file'><format type='qcow2'/><source file='%s'/>"
                          "<backingStore type='file'><format type='qcow2'/><source file='%s'/>"
                          "<backingStore/></backingStore></backingStore>"
                          "<target dev='vda' bus='virtio'/></disk></devices></domain>",
                          top, mid, base);
    def = qvirDomainDefParseString(xml, 0, &err);
    g_assert_no_error(err);
    statusDir = g_build_filename(daemonEnv.root, "run", "qemu", NULL);
    g_assert_cmpint(g_mkdir_with_parents(statusDir, 0700), ==, 0);
    journal = g_build_filename(statusDir, "ghost.labels", NULL);
    sec = testManager(TRUE, TRUE);
    /* what the dead daemon did: journal first, then the labels */
    g_assert_true(qvirSecurityDACJournalWrite(sec, journal, def, &err));
    g_assert_no_error(err);
    g_assert_true(qvirSecurityDACSetDomainLabel(sec, def, &err));
    g_assert_no_error(err);
    testChainAssertQemu(top, 1);

    daemonStart(FALSE);
    testChainAssertOriginal(top);
    g_assert_false(g_file_test(journal, G_FILE_TEST_EXISTS));
    testDaemonDown();
}

/* A guest that powers itself off: Debian's kernel and an initramfs whose /init does it. */
static void
testGuestPowerOff(void)
{
    static const char init[] = "#!/bin/busybox sh\n/bin/busybox poweroff -f\n";
    g_autofree char *kernelSrc = NULL;
    g_autofree char *modules = NULL;
    g_autofree char *kernel = NULL;
    g_autofree char *initrd = NULL;
    g_autofree char *busybox = NULL;
    g_autofree char *data = NULL;
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *path = NULL;
    g_autoptr(GByteArray) cpio = g_byte_array_new();
    gsize len = 0;
    gint64 deadline;
    gboolean off = FALSE;

    if (!testReady())
        return;
    if (!testGuestKernel(&kernelSrc, &modules) ||
        !g_file_get_contents("/bin/busybox", &busybox, &len, NULL)) {
        g_test_skip("needs a Debian kernel in /boot and busybox-static");
        return;
    }
    testDaemonUp("securitydactest");
    /* Root-only copies: QEMU reads them only because qvirtd labels them. */
    kernel = daemonImagePath("vmlinuz");
    initrd = daemonImagePath("initrd.img");
    {
        gsize klen = 0;

        g_assert_true(g_file_get_contents(kernelSrc, &data, &klen, NULL));
        g_assert_true(g_file_set_contents(kernel, data, (gssize)klen, NULL));
    }
    testCpioAdd(cpio, "bin", 040755, NULL, 0);
    testCpioAdd(cpio, "bin/busybox", 0100755, busybox, len);
    testCpioAdd(cpio, "init", 0100755, init, strlen(init));
    testCpioAdd(cpio, "TRAILER!!!", 0, NULL, 0);
    g_assert_true(g_file_set_contents(initrd, (const char *)cpio->data, cpio->len, NULL));
    testSetOwner(kernel, 0, 0, 0600);
    testSetOwner(initrd, 0, 0, 0400);
    top = daemonMakeChain(daemonEnv.images, "off");
    testChainSetOriginal(top);

    xml = g_strdup_printf("<domain type='qemu'>\n"
                          "  <name>poweroff</name>\n"
                          "  <uuid>8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b05</uuid>\n"
                          "  <memory unit='MiB'>192</memory>\n"
                          "  <vcpu>1</vcpu>\n"
                          "  <os><type arch='x86_64' machine='pc'>hvm</type>\n"
                          "    <kernel>%s</kernel><initrd>%s</initrd>\n"
                          "    <cmdline>console=ttyS0 panic=-1 quiet</cmdline></os>\n"
                          "  <features><acpi/></features>\n"
                          "  <devices>\n"
                          "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                          "    <disk type='file' device='disk'>\n"
                          "      <driver name='qemu' type='qcow2'/>\n"
                          "      <source file='%s'/>\n"
                          "      <target dev='vda' bus='virtio'/>\n"
                          "    </disk>\n"
                          "  </devices>\n"
                          "</domain>\n",
                          kernel, initrd, top);
    path = daemonWriteFile("poweroff.xml", xml);
    g_free(VIRSH_OK("define", path));
    g_free(VIRSH_OK("start", "poweroff"));
    /* The guest may already be gone: only what a running QEMU shows is checked then. */
    if (daemonDomainPid("poweroff") > 0) {
        testAssertQemuOwned(kernel);
        testAssertQemuOwned(initrd);
    }

    deadline = g_get_monotonic_time() + 240 * G_TIME_SPAN_SECOND;
    while (!off && g_get_monotonic_time() < deadline) {
        g_autofree char *state = VIRSH_OK("domstate", "--reason", "poweroff");

        off = strstr(state, "shut off (shutdown)") != NULL;
        if (!off)
            g_usleep(200 * 1000);
    }
    g_assert_true(off);
    testAssertOwner(kernel, 0, 0, 0600);
    testAssertOwner(initrd, 0, 0, 0400);
    testAssertNoRecord(kernel);
    testAssertNoRecord(initrd);
    testChainAssertOriginal(top);
    g_free(VIRSH_OK("undefine", "poweroff"));
    testDaemonDown();
}

/* Every source file of NAME's live XML (each disk's whole chain), with its count. */
static GHashTable *
testLiveSources(const char *name)
{
    g_autofree char *xml = VIRSH_OK("dumpxml", name);
    GHashTable *sources = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (const char *p = xml; (p = strstr(p, "<source file='")); p++) {
        const char *start = p + strlen("<source file='");
        const char *end = strchr(start, '\'');
        char *path = g_strndup(start, end - start);
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(sources, path));

        g_hash_table_replace(sources, path, GUINT_TO_POINTER(n + 1));
    }
    return sources;
}

/* Owners follow the chain exactly: a file under the images directory belongs to QEMU with
 * one reference per live use iff the live XML lists it; any other is root's, untouched. */
static void
testAssertOwnersFollowChain(const char *name, const char *step)
{
    g_autoptr(GHashTable) live = testLiveSources(name);
    g_autoptr(GDir) dir = g_dir_open(daemonEnv.images, 0, NULL);
    const char *entry;
    guint seen = 0;

    g_assert_nonnull(dir);
    while ((entry = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(daemonEnv.images, entry, NULL);
        guint uses = GPOINTER_TO_UINT(g_hash_table_lookup(live, path));
        struct stat st;

        g_assert_cmpint(stat(path, &st), ==, 0);
        if (uses) {
            seen++;
            if (st.st_uid != qemuUid || st.st_gid != qemuGid || testRefs(path) != (int)uses)
                g_error("%s: '%s' is in the live chain but %u:%u with %d references", step, path,
                        (unsigned int)st.st_uid, (unsigned int)st.st_gid, testRefs(path));
        } else if (st.st_uid != 0 || st.st_gid != 0 || testRefs(path) != 0) {
            g_error("%s: '%s' is not in the live chain but %u:%u with %d references", step, path,
                    (unsigned int)st.st_uid, (unsigned int)st.st_gid, testRefs(path));
        }
    }
    g_assert_cmpuint(seen, ==, g_hash_table_size(live));
}

/* After the domain is gone: every image is root's again, with no record. */
static void
testAssertNothingLabelled(void)
{
    g_autoptr(GDir) dir = g_dir_open(daemonEnv.images, 0, NULL);
    const char *entry;

    g_assert_nonnull(dir);
    while ((entry = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(daemonEnv.images, entry, NULL);
        struct stat st;

        g_assert_cmpint(stat(path, &st), ==, 0);
        if (st.st_uid != 0 || st.st_gid != 0)
            g_error("'%s' is still %u:%u", path, (unsigned int)st.st_uid, (unsigned int)st.st_gid);
        testAssertNoRecord(path);
    }
}

static void
testHotOperations(void)
{
    static const char scsi[] = "    <controller type='scsi' index='0' model='virtio-scsi'/>\n";
    g_autofree char *top = NULL;
    g_autofree char *mid = NULL;
    g_autofree char *base = NULL;
    g_autofree char *hotBase = NULL;
    g_autofree char *hotTop = NULL;
    g_autofree char *snap = NULL;
    g_autofree char *snapArg = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *diskXml = NULL;
    g_autofree char *diskPath = NULL;
    g_autofree char *out = NULL;

    if (!testReady())
        return;
    testDaemonUp("securitydactest");
    top = daemonMakeChain(daemonEnv.images, "hot");
    mid = daemonImagePath("hot-mid.qcow2");
    base = daemonImagePath("hot-base.qcow2");
    hotBase = daemonImagePath("plug-base.qcow2");
    hotTop = daemonImagePath("plug-top.qcow2");
    daemonMakeQcow2(hotBase, NULL);
    daemonMakeQcow2(hotTop, hotBase);
    snap = daemonImagePath("snap1.qcow2");
    snapArg = g_strdup_printf("vda,file=%s", snap);
    /* a base its owner may not write: the commit below needs it writable */
    testSetOwner(base, 0, 0, 0444);
    xml = testDomainXMLWith("hotops", "8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b06", top, scsi);
    testCreate("hotops", xml);
    testAssertOwnersFollowChain("hotops", "start");

    diskXml = g_strdup_printf("<disk type='file' device='disk'>"
                              "<driver name='qemu' type='qcow2'/><source file='%s'/>"
                              "<target dev='sdb' bus='scsi'/></disk>",
                              hotTop);
    diskPath = daemonWriteFile("plug.xml", diskXml);
    g_free(VIRSH_OK("attach-device", "hotops", diskPath, "--live"));
    testAssertOwnersFollowChain("hotops", "attach");

    g_free(VIRSH_OK("snapshot-create-as", "hotops", "s1", "--disk-only", "--no-metadata",
                    "--diskspec", snapArg, "--diskspec", "sdb,snapshot=no"));
    testAssertOwnersFollowChain("hotops", "snapshot");

    /* snap1 > top > mid > base: pulling into snap1 down to mid drops top */
    g_free(VIRSH_OK("blockpull", "hotops", "vda", "--base", mid, "--wait"));
    testAssertOwnersFollowChain("hotops", "pull");

    /* snap1 > mid > base: committing mid into base drops mid */
    g_free(VIRSH_OK("blockcommit", "hotops", "vda", "--top", mid, "--base", base, "--wait"));
    testAssertOwnersFollowChain("hotops", "commit");

    /* a SCSI disk QEMU unplugs without a guest: its chain goes back */
    g_free(VIRSH_OK("detach-device", "hotops", diskPath, "--live"));
    out = VIRSH_OK("dumpxml", "hotops");
    g_assert_null(strstr(out, "dev='sdb'"));
    testAssertOwnersFollowChain("hotops", "detach");

    g_free(VIRSH_OK("destroy", "hotops"));
    testAssertNothingLabelled();
    testAssertOwner(base, 0, 0, 0444);
    testDaemonDown();
}

/* losetup -f --show FILE: the loop device, or NULL when there is none to be had. */
static char *
testLoopAttach(const char *file)
{
    const char *argv[] = {"losetup", "-f", "--show", file, NULL};
    g_autofree char *out = NULL;

    if (qvirTestRun(argv, &out, NULL) != 0 || !out)
        return NULL;
    return g_strdup(g_strstrip(out));
}

static void
testLoopDetach(const char *dev)
{
    const char *argv[] = {"losetup", "-d", dev, NULL};

    if (dev)
        (void)qvirTestRun(argv, NULL, NULL);
}

/* Is there a node called NAME in QEMU's /dev (seen through /proc/PID/root)? */
static gboolean
testQemuHasDev(pid_t pid, const char *name)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/root/dev/%s", (int)pid, name);
    struct stat st;

    return lstat(path, &st) == 0;
}

/* QEMU's private /dev holds the default devices and its disks' block devices, including a
 * hot-plugged one, and nothing else of the host's. */
static void
testPrivateDev(void)
{
    static const char scsi[] = "    <controller type='scsi' index='0' model='virtio-scsi'/>\n";
    g_autofree char *top = NULL;
    g_autofree char *raw1 = NULL;
    g_autofree char *raw2 = NULL;
    g_autofree char *loop1 = NULL;
    g_autofree char *loop2 = NULL;
    g_autofree char *disk1 = NULL;
    g_autofree char *disk2 = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *path = NULL;
    g_autofree char *ours = NULL;
    g_autofree char *theirs = NULL;
    struct stat st;
    pid_t pid;

    if (!testReady())
        return;
    if (!qemuNamespaceAvailable()) {
        g_test_skip("this kernel does not let us make mount namespaces");
        return;
    }
    testDaemonUp("securitydactest");
    raw1 = daemonImagePath("loop1.raw");
    raw2 = daemonImagePath("loop2.raw");
    g_assert_true(g_file_set_contents(raw1, "", 0, NULL));
    g_assert_true(g_file_set_contents(raw2, "", 0, NULL));
    g_assert_cmpint(truncate(raw1, 1 << 20), ==, 0);
    g_assert_cmpint(truncate(raw2, 1 << 20), ==, 0);
    loop1 = testLoopAttach(raw1);
    loop2 = loop1 ? testLoopAttach(raw2) : NULL;
    if (!loop2) {
        testLoopDetach(loop1);
        testDaemonDown();
        g_test_skip("no loop devices here (losetup -f failed)");
        return;
    }
    g_assert_cmpint(stat(loop1, &st), ==, 0);

    top = daemonMakeChain(daemonEnv.images, "ns");
    disk1 = g_strdup_printf("%s    <disk type='block' device='disk'>\n"
                            "      <driver name='qemu' type='raw'/>\n"
                            "      <source dev='%s'/>\n"
                            "      <target dev='vdb' bus='virtio'/>\n"
                            "    </disk>\n",
                            scsi, loop1);
    xml = testDomainXMLWith("nsdev", "8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b07", top, disk1);
    testCreate("nsdev", xml);
    pid = daemonDomainPid("nsdev");
    g_assert_cmpint(pid, >, 0);

    /* its own mount namespace, /dev a small tmpfs */
    {
        g_autofree char *a = g_strdup_printf("/proc/%d/ns/mnt", (int)pid);
        ours = g_file_read_link("/proc/self/ns/mnt", NULL);
        theirs = g_file_read_link(a, NULL);
        g_assert_cmpstr(ours, !=, theirs);
    }
    g_assert_true(testQemuHasDev(pid, "null"));
    g_assert_true(testQemuHasDev(pid, "urandom"));
    g_assert_true(testQemuHasDev(pid, "ptmx"));
    g_assert_true(testQemuHasDev(pid, "pts"));
    g_assert_true(testQemuHasDev(pid, loop1 + strlen("/dev/")));
    g_assert_false(testQemuHasDev(pid, loop2 + strlen("/dev/")));
    g_assert_false(testQemuHasDev(pid, "loop-control"));
    g_assert_false(testQemuHasDev(pid, "tty0"));
    g_assert_false(testQemuHasDev(pid, "mem"));
    testAssertQemuOwned(loop1);

    /* a hot-plugged block device gets its node in QEMU's /dev, and QEMU opens it */
    disk2 = g_strdup_printf("<disk type='block' device='disk'><driver name='qemu' type='raw'/>"
                            "<source dev='%s'/><target dev='sdb' bus='scsi'/></disk>",
                            loop2);
    path = daemonWriteFile("loop2.xml", disk2);
    g_free(VIRSH_OK("attach-device", "nsdev", path, "--live"));
    g_assert_true(testQemuHasDev(pid, loop2 + strlen("/dev/")));
    testAssertQemuOwned(loop2);

    /* detached, it leaves QEMU's /dev and goes back to its owner */
    g_free(VIRSH_OK("detach-device", "nsdev", path, "--live"));
    g_assert_false(testQemuHasDev(pid, loop2 + strlen("/dev/")));
    testAssertOwner(loop2, st.st_uid, st.st_gid, st.st_mode & 07777);
    g_assert_true(testQemuHasDev(pid, loop1 + strlen("/dev/")));

    g_free(VIRSH_OK("destroy", "nsdev"));
    testAssertOwner(loop1, st.st_uid, st.st_gid, st.st_mode & 07777);
    testAssertOwner(loop2, st.st_uid, st.st_gid, st.st_mode & 07777);
    testAssertNoRecord(loop1);
    testAssertNoRecord(loop2);
    testLoopDetach(loop1);
    testLoopDetach(loop2);
    testDaemonDown();
}

/* A <transient/> disk: the daemon makes its overlay and hands it to QEMU's user; at stop
 * the overlay goes and the image's owner comes back. */
static void
testTransientDisk(void)
{
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *path = NULL;
    g_autoptr(GHashTable) live = NULL;

    if (!testReady())
        return;
    testDaemonUp("securitydactest");
    top = daemonMakeChain(daemonEnv.images, "trans");
    testChainSetOriginal(top);
    xml = g_strdup_printf("<domain type='qemu'>\n"
                          "  <name>transient</name>\n"
                          "  <memory unit='MiB'>64</memory>\n"
                          "  <vcpu>1</vcpu>\n"
                          "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                          "  <devices>\n"
                          "    <disk type='file' device='disk'>\n"
                          "      <driver name='qemu' type='qcow2'/>\n"
                          "      <source file='%s'/>\n"
                          "      <target dev='vda' bus='virtio'/>\n"
                          "      <transient/>\n"
                          "    </disk>\n"
                          "  </devices>\n"
                          "</domain>\n",
                          top);
    path = daemonWriteFile("transient.xml", xml);
    g_free(VIRSH_OK("create", path));
    live = testLiveSources("transient");
    g_assert_cmpuint(g_hash_table_size(live), ==, 4); /* the overlay on the 3 layers */
    testAssertOwnersFollowChain("transient", "start");

    g_free(VIRSH_OK("destroy", "transient"));
    testChainAssertOriginal(top);
    {
        /* the overlay went with the process: only the chain is left */
        g_autoptr(GDir) dir = g_dir_open(daemonEnv.images, 0, NULL);
        guint n = 0;

        while (g_dir_read_name(dir))
            n++;
        g_assert_cmpuint(n, ==, 3);
    }
    testDaemonDown();
}

/* A hostile XML names a root-only file QEMU may not read as its kernel. */
static void
testHostileKernel(void)
{
    g_autofree char *secretDir = NULL;
    g_autofree char *secret = NULL;
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *path = NULL;
    g_autofree char *expect = NULL;
    g_auto(VirshResult) res = {0};

    if (!testReady())
        return;
    testDaemonUp("securitydactest");
    secretDir = g_build_filename(daemonEnv.root, "secret", NULL);
    g_assert_cmpint(g_mkdir(secretDir, 0700), ==, 0);
    secret = g_build_filename(secretDir, "shadow", NULL);
    g_assert_true(g_file_set_contents(secret, "root:$6$secret\n", -1, NULL));
    testSetOwner(secret, 0, 0, 0600);
    top = daemonMakeChain(daemonEnv.images, "evil");
    testChainSetOriginal(top);
    xml = g_strdup_printf("<domain type='qemu'>\n"
                          "  <name>hostile</name>\n"
                          "  <memory unit='MiB'>64</memory>\n"
                          "  <vcpu>1</vcpu>\n"
                          "  <os><type arch='x86_64' machine='pc'>hvm</type>\n"
                          "    <kernel>%s</kernel></os>\n"
                          "  <devices>\n"
                          "    <disk type='file' device='disk'>\n"
                          "      <driver name='qemu' type='qcow2'/>\n"
                          "      <source file='%s'/>\n"
                          "      <target dev='vda' bus='virtio'/>\n"
                          "    </disk>\n"
                          "  </devices>\n"
                          "</domain>\n",
                          secret, top);
    path = daemonWriteFile("hostile.xml", xml);
    VIRSH(&res, "create", path);
    g_assert_cmpint(res.rc, !=, 0);
    expect = g_strdup_printf("kernel: file '%s' is not reachable by QEMU's user 'qvirt-qemu' "
                             "(uid %u, gid %u): no search permission on directory '%s'",
                             secret, (unsigned int)qemuUid, (unsigned int)qemuGid, secretDir);
    if (!strstr(res.err, expect))
        g_error("unexpected error: %s", res.err);
    /* nothing half-labelled: the disk chain taken before the kernel was refused is back */
    testAssertOwner(secret, 0, 0, 0600);
    testAssertNoRecord(secret);
    testChainAssertOriginal(top);
    g_assert_cmpint(daemonDomainPid("hostile"), ==, 0);
    testDaemonDown();
}

static void
testNobodySetup(gpointer data)
{
    static const gid_t none[1] = {NOBODY};

    setpgid(0, 0);
    if (setgroups(1, none) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
        _exit(126);
}

/* qvirtd not run as root: libvirt's session mode. QEMU runs as the daemon's user, in the
 * host's mount namespace, and no file is relabelled. */
static void
testSessionDaemon(void)
{
    g_autofree char *qvirtd = qvirTestBuildPath("tools/qvirtd");
    g_autofree char *top = NULL;
    g_autofree char *mid = NULL;
    g_autofree char *base = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *nsPath = NULL;
    g_autofree char *ours = NULL;
    g_autofree char *theirs = NULL;
    g_autofree char *uid = NULL;
    g_autofree char *home = NULL;
    g_autoptr(GError) err = NULL;
    const char *layers[3];
    int outFd;
    int status;
    pid_t qemu;

    if (!testReady())
        return;
    daemonEnvInit("securitydactest");
    top = daemonMakeChain(daemonEnv.images, "sess");
    mid = daemonImagePath("sess-mid.qcow2");
    base = daemonImagePath("sess-base.qcow2");
    layers[0] = top;
    layers[1] = mid;
    layers[2] = base;
    for (guint i = 0; i < G_N_ELEMENTS(layers); i++)
        testSetOwner(layers[i], NOBODY, NOBODY, 0600);
    g_assert_cmpint(chown(daemonEnv.root, NOBODY, NOBODY), ==, 0);
    g_assert_cmpint(chmod(daemonEnv.root, 0700), ==, 0);
    g_assert_cmpint(chown(daemonEnv.images, NOBODY, NOBODY), ==, 0);
    home = g_strdup_printf("HOME=%s", daemonEnv.root);
    {
        const char *argv[] = {qvirtd, "--root", daemonEnv.root, NULL};
        const char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", home, NULL};

        if (!g_spawn_async_with_pipes(NULL, (char **)argv, (char **)envp, G_SPAWN_DO_NOT_REAP_CHILD,
                                      testNobodySetup, NULL, &daemonEnv.pid, NULL, &outFd, NULL,
                                      &err))
            g_error("cannot start qvirtd as nobody: %s", err->message);
    }
    g_assert_true(daemonWaitListening(outFd));
    close(outFd);

    xml = testDomainXMLWith("session", "8c2d7d3e-16a1-4e0a-9a41-3f3a0c1e5b08", top, NULL);
    testCreate("session", xml);
    qemu = daemonDomainPid("session");
    g_assert_cmpint(qemu, >, 0);
    uid = testProcStatus(qemu, "Uid");
    g_assert_cmpstr(uid, ==, "65534\t65534\t65534\t65534");
    nsPath = g_strdup_printf("/proc/%d/ns/mnt", (int)qemu);
    ours = g_file_read_link("/proc/self/ns/mnt", NULL);
    theirs = g_file_read_link(nsPath, NULL);
    g_assert_cmpstr(ours, ==, theirs);
    for (guint i = 0; i < G_N_ELEMENTS(layers); i++) {
        testAssertOwner(layers[i], NOBODY, NOBODY, 0600);
        testAssertNoRecord(layers[i]);
    }
    g_free(VIRSH_OK("destroy", "session"));
    for (guint i = 0; i < G_N_ELEMENTS(layers); i++)
        testAssertOwner(layers[i], NOBODY, NOBODY, 0600);

    g_assert_cmpint(kill(daemonEnv.pid, SIGTERM), ==, 0);
    g_assert_cmpint(waitpid(daemonEnv.pid, &status, 0), ==, daemonEnv.pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    daemonEnv.pid = 0;
    daemonEnvCleanup();
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/security/dac/remember-refcount", testRememberRefcount);
    g_test_add_func("/security/dac/stale-record", testStaleRecord);
    g_test_add_func("/security/dac/all-or-nothing", testAllOrNothing);
    g_test_add_func("/security/dac/in-use-by-other", testInUseByOther);
    g_test_add_func("/security/dac/session-and-no-dynamic", testSessionAndNoDynamic);
    g_test_add_func("/security/dac/read-only-filesystem", testReadOnlyFilesystem);
    g_test_add_func("/security/dac/unknown-identity", testUnknownIdentity);
    g_test_add_func("/security/dac/connect-socket", testConnectSocket);
    g_test_add_func("/security/daemon/lifecycle", testLifecycle);
    g_test_add_func("/security/daemon/explicit-root", testExplicitRoot);
    g_test_add_func("/security/dac/rawio-caps", testRawioCaps);
    g_test_add_func("/security/daemon/layer-seclabel", testLayerSeclabel);
    g_test_add_func("/security/daemon/shared-base", testSharedBase);
    g_test_add_func("/security/daemon/killed-and-restarted", testDaemonKilled);
    g_test_add_func("/security/daemon/start-journal-replay", testJournalReplay);
    g_test_add_func("/security/daemon/guest-power-off", testGuestPowerOff);
    g_test_add_func("/security/daemon/hot-operations", testHotOperations);
    g_test_add_func("/security/daemon/transient-disk", testTransientDisk);
    g_test_add_func("/security/daemon/hostile-kernel", testHostileKernel);
    g_test_add_func("/security/daemon/private-dev", testPrivateDev);
    g_test_add_func("/security/daemon/session-mode", testSessionDaemon);
    return g_test_run();
}
