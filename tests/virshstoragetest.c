/*
 * virshstoragetest.c: storage pools and volumes through the real clients against the
 * build tree's qvirtd: virsh pool-* and vol-* (libvirt 9.0's output and error texts,
 * XML checked against libvirt's schemas), sparse upload/download round trips, an fs pool
 * on a loop-mounted image (as root), persistence across a daemon restart, python3-libvirt,
 * and Debian's virtinst: virt-install (an imported qcow2 chain with a cache mode, new disks
 * in the default pool, with a backing store and in a directory that is no pool yet),
 * virt-xml (hot-plug with --update, --edit) and virt-clone.
 *
 * One daemon in a temporary --root serves the whole program; the cases build on each
 * other. Whatever happens, the daemon and its QEMUs are killed.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "daemontestutils.h"

typedef struct {
    int rc;
    char *out;
    char *err;
} Result;

static void
resultClear(Result *r)
{
    g_clear_pointer(&r->out, g_free);
    g_clear_pointer(&r->err, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Result, resultClear);

/* PROG (virsh: with -c URI; virt-*: with --connect URI) ARGS... */
static void
runTool(Result *res, const char *prog, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) env = g_get_environ();
    int status;

    g_ptr_array_add(argv, (char *)prog);
    g_ptr_array_add(argv, (char *)(g_str_equal(prog, "virsh") ? "-c" : "--connect"));
    g_ptr_array_add(argv, daemonEnv.uri);
    for (; *args; args++)
        g_ptr_array_add(argv, (char *)*args);
    g_ptr_array_add(argv, NULL);
    env = g_environ_setenv(env, "LC_ALL", "C", TRUE);
    env = g_environ_unsetenv(env, "LIBVIRT_DEFAULT_URI");
    if (!g_spawn_sync(NULL, (char **)argv->pdata, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &res->out,
                      &res->err, &status, &err))
        g_error("cannot run %s: %s", prog, err->message);
    res->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
runToolOk(Result *res, const char *prog, const char *const *args)
{
    runTool(res, prog, args);
    if (res->rc != 0)
        g_error("%s %s failed (%d): %s%s", prog, args[0], res->rc, res->out, res->err);
}

#define VIRSH(res, ...) runTool((res), "virsh", (const char *const[]){__VA_ARGS__, NULL})
#define VIRSH_OK(res, ...) runToolOk((res), "virsh", (const char *const[]){__VA_ARGS__, NULL})
#define TOOL_OK(res, prog, ...) runToolOk((res), (prog), (const char *const[]){__VA_ARGS__, NULL})

static char *poolDir;

static char *
rootPath(const char *name)
{
    return g_build_filename(daemonEnv.root, name, NULL);
}

static void
assertSchemaValid(const char *xml, const char *schema)
{
    g_autofree char *file = rootPath("schema-check.xml");
    g_autofree char *rng = g_strconcat("/usr/share/libvirt/schemas/", schema, NULL);
    g_autofree char *err = NULL;
    const char *argv[] = {"xmllint", "--noout", "--relaxng", rng, file, NULL};

    g_assert_true(g_file_set_contents(file, xml, -1, NULL));
    if (qvirTestRun(argv, NULL, &err) != 0)
        g_error("XML does not validate against %s:\n%s\n%s", schema, err, xml);
}

static void
assertContains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        g_error("expected to find\n%s\nin\n%s", needle, haystack);
}

static void
testPoolLifecycle(void)
{
    g_auto(Result) r = {0};

    poolDir = rootPath("pool");
    VIRSH_OK(&r, "pool-define-as", "images", "dir", "--target", poolDir);
    assertContains(r.out, "Pool images defined");
    resultClear(&r);
    VIRSH_OK(&r, "pool-build", "images");
    assertContains(r.out, "Pool images built");
    resultClear(&r);
    VIRSH_OK(&r, "pool-start", "images");
    resultClear(&r);
    VIRSH_OK(&r, "pool-autostart", "images");
    assertContains(r.out, "Pool images marked as autostarted");
    resultClear(&r);
    VIRSH_OK(&r, "pool-list", "--all");
    assertContains(r.out, " images   active   yes");
    resultClear(&r);
    VIRSH_OK(&r, "pool-info", "images");
    assertContains(r.out, "State:          running\nPersistent:     yes\nAutostart:      yes\n");
    resultClear(&r);
    VIRSH_OK(&r, "pool-dumpxml", "images");
    assertSchemaValid(r.out, "storagepool.rng");
    assertContains(r.out, "    <permissions>\n      <mode>0711</mode>\n");
    resultClear(&r);

    /* libvirt's errors, word for word */
    VIRSH(&r, "pool-info", "nope");
    g_assert_cmpint(r.rc, ==, 1);
    assertContains(r.err, "error: failed to get pool 'nope'\n"
                          "error: Storage pool not found: no storage pool with matching name "
                          "'nope'\n");
    resultClear(&r);
    VIRSH(&r, "pool-define-as", "images2", "dir", "--target", poolDir);
    assertContains(r.err, "error: operation failed: Storage source conflict with pool: 'images'");
    resultClear(&r);
    VIRSH(&r, "pool-undefine", "images");
    assertContains(
        r.err, "error: Requested operation is not valid: storage pool 'images' is still active");
}

static void
testVolumes(void)
{
    g_autofree char *base = g_build_filename(poolDir, "base.qcow2", NULL);
    g_autofree char *top = g_build_filename(poolDir, "top.qcow2", NULL);
    g_autofree char *expect = NULL;
    g_auto(Result) r = {0};

    qvirTestQcow2Create(base, NULL, "64M");
    qvirTestQcow2Create(top, "base.qcow2", NULL);
    VIRSH_OK(&r, "pool-refresh", "images");
    resultClear(&r);
    VIRSH_OK(&r, "vol-list", "images", "--details");
    /* (virsh pads the columns to the longest entry) */
    assertContains(r.out, "/pool/top.qcow2    file   64.00 MiB");
    resultClear(&r);

    VIRSH_OK(&r, "vol-dumpxml", top);
    assertSchemaValid(r.out, "storagevol.rng");
    g_clear_pointer(&expect, g_free);
    expect =
        g_strdup_printf("  <backingStore>\n    <path>%s</path>\n    <format type='qcow2'/>", base);
    assertContains(r.out, expect);
    assertContains(r.out, "<format type='qcow2'/>");
    resultClear(&r);
    VIRSH_OK(&r, "vol-info", "--pool", "images", "top.qcow2");
    assertContains(r.out, "Name:           top.qcow2\nType:           file\n"
                          "Capacity:       64.00 MiB\n");
    resultClear(&r);
    VIRSH_OK(&r, "vol-pool", top);
    assertContains(r.out, "images");
    resultClear(&r);
    VIRSH_OK(&r, "vol-key", "--pool", "images", "top.qcow2");
    assertContains(r.out, top);
    resultClear(&r);

    VIRSH(&r, "vol-info", "/nonexist");
    assertContains(r.err, "error: failed to get vol '/nonexist', specifying --pool might help\n"
                          "error: Storage volume not found: no storage vol with matching path "
                          "'/nonexist'\n");
    resultClear(&r);

    /* new volumes: an overlay with its backing format, raw, refusals */
    VIRSH_OK(&r, "vol-create-as", "images", "new.qcow2", "64M", "--format", "qcow2",
             "--backing-vol", "top.qcow2", "--backing-vol-format", "qcow2");
    assertContains(r.out, "Vol new.qcow2 created");
    resultClear(&r);
    VIRSH_OK(&r, "vol-dumpxml", "--pool", "images", "new.qcow2");
    g_clear_pointer(&expect, g_free);
    expect = g_strdup_printf("  <backingStore>\n    <path>%s</path>\n", top);
    assertContains(r.out, expect);
    assertContains(r.out, "<mode>0600</mode>");
    resultClear(&r);
    VIRSH(&r, "vol-create-as", "images", "top.qcow2", "1G");
    assertContains(r.err, "error: Failed to create vol top.qcow2\n"
                          "error: storage volume 'top.qcow2' exists already\n");
    resultClear(&r);
    VIRSH_OK(&r, "vol-create-as", "images", "data.img", "8M");
    resultClear(&r);
    VIRSH(&r, "vol-resize", "--pool", "images", "new.qcow2", "1M");
    assertContains(r.err, "error: Failed to change size of volume 'new.qcow2' to 1M\n"
                          "error: invalid argument: Can't shrink capacity below current capacity "
                          "unless shrink flag explicitly specified\n");
    resultClear(&r);
    VIRSH_OK(&r, "vol-resize", "--pool", "images", "new.qcow2", "128M");
    assertContains(r.out, "Size of volume 'new.qcow2' successfully changed to 128M");
    resultClear(&r);
    VIRSH_OK(&r, "vol-info", "--pool", "images", "new.qcow2");
    assertContains(r.out, "Capacity:       128.00 MiB");
    resultClear(&r);

    VIRSH_OK(&r, "vol-clone", "--pool", "images", "top.qcow2", "copy.qcow2");
    resultClear(&r);
    VIRSH_OK(&r, "vol-dumpxml", "--pool", "images", "copy.qcow2");
    assertContains(r.out, "<capacity unit='bytes'>67108864</capacity>");
    g_assert_null(strstr(r.out, "<backingStore>"));
    resultClear(&r);
    VIRSH_OK(&r, "vol-wipe", "--pool", "images", "data.img");
    resultClear(&r);
    VIRSH_OK(&r, "vol-delete", "--pool", "images", "copy.qcow2");
    resultClear(&r);
    VIRSH(&r, "vol-info", "--pool", "images", "copy.qcow2");
    g_assert_cmpint(r.rc, ==, 1);
}

static guint64
allocationOf(const char *path)
{
    struct stat sb;

    g_assert_cmpint(stat(path, &sb), ==, 0);
    return (guint64)sb.st_blocks * 512;
}

/* A 64 MiB image with data in three places round-trips byte for byte, and stays sparse. */
static void
testUploadDownload(void)
{
    g_autofree char *src = rootPath("src.img");
    g_autofree char *dst = rootPath("dst.img");
    g_autofree char *full = rootPath("full.img");
    g_autofree char *vol = g_build_filename(poolDir, "up.img", NULL);
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;
    gsize alen, blen;
    g_auto(Result) r = {0};
    int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 64 << 20), ==, 0);
    g_assert_cmpint(pwrite(fd, "head", 4, 0), ==, 4);
    g_assert_cmpint(pwrite(fd, "middle", 6, 1000000), ==, 6);
    g_assert_cmpint(pwrite(fd, "tail", 4, (64 << 20) - 4), ==, 4);
    close(fd);

    VIRSH_OK(&r, "vol-create-as", "images", "up.img", "64M", "--allocation", "0");
    resultClear(&r);
    VIRSH_OK(&r, "vol-upload", "--pool", "images", "up.img", src, "--sparse");
    resultClear(&r);
    g_assert_cmpuint(allocationOf(vol), <, 1 << 20);
    VIRSH_OK(&r, "vol-download", "--pool", "images", "up.img", dst, "--sparse");
    resultClear(&r);
    VIRSH_OK(&r, "vol-download", "--pool", "images", "up.img", full);
    resultClear(&r);
    g_assert_true(g_file_get_contents(src, &a, &alen, NULL));
    g_assert_true(g_file_get_contents(dst, &b, &blen, NULL));
    g_assert_cmpuint(alen, ==, blen);
    g_assert_true(memcmp(a, b, alen) == 0);
    g_assert_cmpuint(allocationOf(dst), <, 1 << 20);
    g_clear_pointer(&b, g_free);
    g_assert_true(g_file_get_contents(full, &b, &blen, NULL));
    g_assert_cmpuint(alen, ==, blen);
    g_assert_true(memcmp(a, b, alen) == 0);
    g_clear_pointer(&b, g_free);

    /* a window of it */
    VIRSH_OK(&r, "vol-download", "--pool", "images", "up.img", dst, "--offset", "999998",
             "--length", "10");
    g_assert_true(g_file_get_contents(dst, &b, &blen, NULL));
    g_assert_cmpuint(blen, ==, 10);
    g_assert_true(memcmp(b, "\0\0middle\0\0", 10) == 0);
}

/* The read-only socket lists and reads, and refuses every change with libvirt's words. */
static void
testReadOnly(void)
{
    g_autofree char *ro = g_strdup_printf("qemu:///system?socket=%s-ro", daemonEnv.socket);
    const char *list[] = {"virsh", "-c", ro, "vol-list", "images", NULL};
    const char *refresh[] = {"virsh", "-c", ro, "pool-refresh", "images", NULL};
    const char *create[] = {"virsh", "-c", ro, "vol-create-as", "images", "ro.img", "1M", NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint(qvirTestRun(list, &out, NULL), ==, 0);
    assertContains(out, "top.qcow2");
    g_assert_cmpint(qvirTestRun(refresh, NULL, &err), !=, 0);
    assertContains(err, "operation forbidden: read only access prevents virStoragePoolRefresh");
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(qvirTestRun(create, NULL, &err), !=, 0);
    assertContains(err, "operation forbidden: read only access prevents virStorageVolCreateXML");
}

/* Pools and their state survive a daemon restart. */
static void
testRestart(void)
{
    g_auto(Result) r = {0};

    daemonStop();
    daemonStart(FALSE);
    VIRSH_OK(&r, "pool-list", "--all");
    assertContains(r.out, " images   active   yes");
    resultClear(&r);
    VIRSH_OK(&r, "vol-info", "--pool", "images", "top.qcow2");
}

/* python3-libvirt's storage calls, and the error code virtinst depends on. */
static void
testPython(void)
{
    g_autofree char *script = g_strdup_printf(
        "import libvirt, sys\n"
        "c = libvirt.open(sys.argv[1])\n"
        "p = c.storagePoolLookupByName('images')\n"
        "names = sorted(v.name() for v in p.listAllVolumes())\n"
        "assert 'top.qcow2' in names and names == sorted(p.listVolumes()), names\n"
        "assert p.numOfVolumes() == len(names)\n"
        "assert [x.name() for x in c.listAllStoragePools()] == ['images']\n"
        "assert c.numOfStoragePools() == 1 and c.listStoragePools() == ['images']\n"
        "assert c.numOfDefinedStoragePools() == len(c.listDefinedStoragePools())\n"
        "try:\n"
        "    p.listAllVolumes(1)\n"
        "    sys.exit('no error')\n"
        "except libvirt.libvirtError as e:\n"
        "    assert e.get_error_code() == libvirt.VIR_ERR_INVALID_ARG, e.get_error_code()\n"
        "    assert 'unsupported flags (0x1) in function storagePoolListAllVolumes' in str(e), e\n"
        "    assert e.get_error_domain() == libvirt.VIR_FROM_STORAGE, e.get_error_domain()\n"
        "v = c.storageVolLookupByPath('%s/top.qcow2')\n"
        "assert v.info()[1] == 64 << 20 and v.storagePoolLookupByVolume().name() == 'images'\n"
        "assert p.info()[0] == libvirt.VIR_STORAGE_POOL_RUNNING\n"
        "try:\n"
        "    c.storageVolLookupByPath('/nonexist')\n"
        "    sys.exit('no error')\n"
        "except libvirt.libvirtError as e:\n"
        "    assert e.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL, e.get_error_code()\n"
        /* the storage driver's errors come from VIR_FROM_STORAGE, as libvirt's */
        "    assert e.get_error_domain() == libvirt.VIR_FROM_STORAGE, e.get_error_domain()\n"
        "print('ok')\n",
        poolDir);
    const char *argv[] = {"/usr/bin/python3", "-c", script, daemonEnv.uri, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("python3-libvirt: %s%s", out, err);
    g_assert_cmpstr(out, ==, "ok\n");
}

static gboolean
isMounted(const char *path)
{
    g_autofree char *mounts = NULL;
    g_autofree char *needle = g_strdup_printf(" %s ", path);

    g_assert_true(g_file_get_contents("/proc/self/mounts", &mounts, NULL, NULL));
    return strstr(mounts, needle) != NULL;
}

/* An fs pool: an ext4 image mounted (through a loop device) at start, unmounted at stop. */
static void
testFsPool(void)
{
    g_autofree char *img = rootPath("fs.img");
    g_autofree char *mnt = rootPath("mnt");
    g_autofree char *volPath = g_build_filename(mnt, "v.qcow2", NULL);
    const char *mkfs[] = {"mkfs.ext4", "-q", "-F", img, NULL};
    g_auto(Result) r = {0};
    int fd;

    if (geteuid() != 0) {
        g_test_skip("mounting needs root");
        return;
    }
    fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 32 << 20), ==, 0);
    close(fd);
    qvirTestRunOk(mkfs);
    VIRSH_OK(&r, "pool-define-as", "fsp", "fs", "--source-dev", img, "--source-format", "ext4",
             "--target", mnt);
    resultClear(&r);
    VIRSH_OK(&r, "pool-build", "fsp");
    resultClear(&r);
    VIRSH_OK(&r, "pool-start", "fsp");
    resultClear(&r);
    g_assert_true(isMounted(mnt));
    VIRSH_OK(&r, "pool-dumpxml", "fsp");
    assertSchemaValid(r.out, "storagepool.rng");
    assertContains(r.out, "<format type='ext4'/>");
    resultClear(&r);
    VIRSH_OK(&r, "vol-create-as", "fsp", "v.qcow2", "16M", "--format", "qcow2");
    resultClear(&r);
    VIRSH_OK(&r, "pool-destroy", "fsp");
    resultClear(&r);
    g_assert_false(isMounted(mnt));
    g_assert_false(g_file_test(volPath, G_FILE_TEST_EXISTS));
    VIRSH_OK(&r, "pool-start", "fsp");
    resultClear(&r);
    VIRSH_OK(&r, "vol-info", "--pool", "fsp", "v.qcow2");
    resultClear(&r);
    VIRSH_OK(&r, "pool-destroy", "fsp");
    resultClear(&r);
    VIRSH_OK(&r, "pool-undefine", "fsp");
    g_assert_false(isMounted(mnt));
}

/* virt-install's own defaults otherwise: on pc that is USB2 (ich9-ehci1 + ich9-uhci1..3
 * companions) with a USB tablet */
#define VIRT_INSTALL_COMMON                                                                        \
    "--memory", "256", "--osinfo", "detect=on,require=off", "--graphics", "none",                  \
        "--noautoconsole", "--network", "none", "--virt-type", "qemu"

/* virt-install --import of a qcow2 chain with cache=none, started for real; then virt-xml
 * hot-plugs a disk with --update and edits the cache mode; virt-clone copies both disks. */
static void
testVirtInstallImport(void)
{
    g_autofree char *disk = g_strdup_printf("path=%s/top.qcow2,cache=none,bus=virtio", poolDir);
    g_autofree char *extra =
        g_strdup_printf("path=%s/data.img,cache=directsync,bus=virtio", poolDir);
    g_autofree char *expect = NULL;
    g_auto(Result) r = {0};

    TOOL_OK(&r, "virt-install", "--import", "--name", "vi1", "--disk", disk, VIRT_INSTALL_COMMON);
    resultClear(&r);
    VIRSH_OK(&r, "domstate", "vi1");
    assertContains(r.out, "running");
    resultClear(&r);
    VIRSH_OK(&r, "dominfo", "vi1");
    assertContains(r.out, "Persistent:     yes");
    resultClear(&r);
    VIRSH_OK(&r, "dumpxml", "vi1");
    assertContains(r.out, "<driver name='qemu' type='qcow2' cache='none'/>");
    /* virt-install's default USB2, running: EHCI with its three UHCI companions */
    assertContains(r.out, "<controller type='usb' index='0' model='ich9-ehci1'>");
    assertContains(r.out, "<controller type='usb' index='0' model='ich9-uhci3'>\n"
                          "      <alias name='usb'/>\n"
                          "      <master startport='4'/>");
    expect = g_strdup_printf("<backingStore type='file' index='2'>\n"
                             "        <format type='qcow2'/>\n"
                             "        <source file='%s/base.qcow2'/>",
                             poolDir);
    assertContains(r.out, expect);
    resultClear(&r);

    TOOL_OK(&r, "virt-xml", "vi1", "--add-device", "--disk", extra, "--update");
    resultClear(&r);
    VIRSH_OK(&r, "dumpxml", "vi1");
    assertContains(r.out, "<driver name='qemu' type='raw' cache='directsync'/>");
    resultClear(&r);
    VIRSH_OK(&r, "dumpxml", "--inactive", "vi1");
    assertContains(r.out, "<driver name='qemu' type='raw' cache='directsync'/>");
    resultClear(&r);
    /* a SCSI disk on the running domain without SCSI controller: as libvirt 9.0 does, an
     * lsilogic controller is hot-plugged first, on the next free slot of pci.0; the
     * persistent definition virt-xml writes gets the same controller when it is defined */
    {
        g_autofree char *scsiImg = g_strdup_printf("%s/scsi.img", poolDir);
        g_autofree char *scsi = g_strdup_printf("path=%s,bus=scsi", scsiImg);
        const char *argv[] = {"qemu-img", "create", "-q", "-f", "raw", scsiImg, "1M", NULL};
        const char *ctrl = "    <controller type='scsi' index='0' model='lsilogic'>\n"
                           "%s"
                           "      <address type='pci' domain='0x0000' bus='0x00' slot='0x06' "
                           "function='0x0'/>\n"
                           "    </controller>\n";
        g_autofree char *liveCtrl = g_strdup_printf(ctrl, "      <alias name='scsi0'/>\n");
        g_autofree char *configCtrl = g_strdup_printf(ctrl, "");
        const char *addr = "      <target dev='sda' bus='scsi'/>\n"
                           "%s"
                           "      <address type='drive' controller='0' bus='0' target='0' "
                           "unit='0'/>\n";
        g_autofree char *liveAddr = g_strdup_printf(addr, "      <alias name='scsi0-0-0'/>\n");
        g_autofree char *configAddr = g_strdup_printf(addr, "");

        qvirTestRunOk(argv);
        TOOL_OK(&r, "virt-xml", "vi1", "--add-device", "--disk", scsi, "--update");
        resultClear(&r);
        VIRSH_OK(&r, "dumpxml", "vi1");
        assertContains(r.out, liveCtrl);
        assertContains(r.out, liveAddr);
        resultClear(&r);
        VIRSH_OK(&r, "dumpxml", "--inactive", "vi1");
        assertContains(r.out, configCtrl);
        assertContains(r.out, configAddr);
        resultClear(&r);
    }
    TOOL_OK(&r, "virt-xml", "vi1", "--edit", "--disk", "cache=unsafe");
    resultClear(&r);
    VIRSH_OK(&r, "dumpxml", "--inactive", "vi1");
    assertContains(r.out, "<driver name='qemu' type='qcow2' cache='unsafe'/>");
    resultClear(&r);

    VIRSH_OK(&r, "destroy", "vi1");
    resultClear(&r);
    TOOL_OK(&r, "virt-clone", "--original", "vi1", "--name", "vi1-clone", "--auto-clone");
    resultClear(&r);
    VIRSH_OK(&r, "dumpxml", "vi1-clone");
    g_clear_pointer(&expect, g_free);
    expect = g_strdup_printf("<source file='%s/top-clone.qcow2'/>", poolDir);
    assertContains(r.out, expect);
    resultClear(&r);
    VIRSH_OK(&r, "vol-dumpxml", "--pool", "images", "top-clone.qcow2");
    assertContains(r.out, "<format type='qcow2'/>");
    assertContains(r.out, "<capacity unit='bytes'>67108864</capacity>");
    resultClear(&r);
    VIRSH_OK(&r, "undefine", "vi1-clone");
    resultClear(&r);
    VIRSH_OK(&r, "undefine", "vi1");
}

/* New disks as volumes: in the default pool, over a backing store, and in a directory that
 * virt-install first turns into a pool (defined, started, autostarted). */
static void
testVirtInstallNewDisks(void)
{
    g_autofree char *defaultDir = rootPath("default-images");
    g_autofree char *other = rootPath("elsewhere");
    g_autofree char *newDisk = g_strdup_printf("path=%s/fresh.qcow2,size=1,format=qcow2", other);
    g_autofree char *overlay = g_strdup_printf(
        "path=%s/ovl.qcow2,size=1,backing_store=%s/top.qcow2,format=qcow2", poolDir, poolDir);
    g_autofree char *xmlFile = rootPath("vi2.xml");
    g_auto(Result) r = {0};

    /* virt-install builds a pool named 'default' when there is none, at libvirt's system
     * images directory; here it finds the test's own */
    VIRSH_OK(&r, "pool-define-as", "default", "dir", "--target", defaultDir);
    resultClear(&r);
    VIRSH_OK(&r, "pool-build", "default");
    resultClear(&r);
    VIRSH_OK(&r, "pool-start", "default");
    resultClear(&r);
    TOOL_OK(&r, "virt-install", "--import", "--name", "vi2", "--disk", "size=1", "--disk", overlay,
            VIRT_INSTALL_COMMON, "--print-xml");
    assertContains(r.out, "/default-images/vi2.qcow2\"/>");
    resultClear(&r);
    VIRSH_OK(&r, "vol-dumpxml", "--pool", "default", "vi2.qcow2");
    assertContains(r.out, "<capacity unit='bytes'>1073741824</capacity>");
    assertContains(r.out, "<lazy_refcounts/>");
    resultClear(&r);
    VIRSH_OK(&r, "vol-dumpxml", "--pool", "images", "ovl.qcow2");
    assertContains(r.out, "/top.qcow2</path>\n    <format type='qcow2'/>");
    resultClear(&r);

    g_assert_cmpint(g_mkdir(other, 0755), ==, 0);
    TOOL_OK(&r, "virt-install", "--import", "--name", "vi3", "--disk", newDisk, VIRT_INSTALL_COMMON,
            "--print-xml");
    g_assert_true(g_file_set_contents(xmlFile, r.out, -1, NULL));
    resultClear(&r);
    VIRSH_OK(&r, "pool-list", "--all");
    assertContains(r.out, " elsewhere   active   yes");
    resultClear(&r);
    VIRSH_OK(&r, "vol-info", "--pool", "elsewhere", "fresh.qcow2");
    assertContains(r.out, "Capacity:       1.00 GiB");
}

/* Without a pool named 'default', virt-install defines and builds one at libvirt's system
 * images directory (its choice for a system URI), starts and autostarts it, and makes the
 * new disk there. The directory is removed afterwards when this test made it. */
static void
testVirtInstallDefaultPool(void)
{
    static const char dir[] = "/var/lib/libvirt/images";
    g_autofree char *name = g_strdup_printf("qvirt-test-%d", (int)getpid());
    g_autofree char *volName = g_strdup_printf("%s.qcow2", name);
    g_autofree char *volPath = g_build_filename(dir, volName, NULL);
    gboolean existed = g_file_test(dir, G_FILE_TEST_IS_DIR);
    g_auto(Result) r = {0};

    if (geteuid() != 0) {
        g_test_skip("building /var/lib/libvirt/images needs root");
        return;
    }
    VIRSH_OK(&r, "pool-destroy", "default");
    resultClear(&r);
    VIRSH_OK(&r, "pool-undefine", "default");
    resultClear(&r);
    TOOL_OK(&r, "virt-install", "--import", "--name", name, "--disk", "size=1", VIRT_INSTALL_COMMON,
            "--print-xml");
    assertContains(r.out, volPath);
    resultClear(&r);
    VIRSH_OK(&r, "pool-dumpxml", "default");
    assertContains(r.out, "<path>/var/lib/libvirt/images</path>");
    resultClear(&r);
    VIRSH_OK(&r, "pool-info", "default");
    assertContains(r.out, "State:          running\nPersistent:     yes\nAutostart:      yes\n");
    resultClear(&r);
    g_assert_true(g_file_test(volPath, G_FILE_TEST_IS_REGULAR));
    VIRSH_OK(&r, "vol-delete", "--pool", "default", volName);
    resultClear(&r);
    VIRSH_OK(&r, "pool-destroy", "default");
    resultClear(&r);
    VIRSH_OK(&r, "pool-undefine", "default");
    if (!existed)
        g_rmdir(dir);
}

/* XML with what legitimately differs between two daemons removed: UUIDs, timestamps and
 * the pool's live space figures (the filesystem changes between the calls). */
static char *
normalize(const char *xml, gboolean pool)
{
    g_autoptr(GRegex) re = g_regex_new("  *<uuid>[^<]*</uuid>\n|"
                                       "  *<timestamps>.*?</timestamps>\n",
                                       G_REGEX_DOTALL, 0, NULL);
    g_autoptr(GRegex) space = g_regex_new("  <(capacity|allocation|available) unit='bytes'>"
                                          "[0-9]*</(capacity|allocation|available)>\n",
                                          0, 0, NULL);
    g_autofree char *out = g_regex_replace_literal(re, xml, -1, 0, "", 0, NULL);

    return pool ? g_regex_replace_literal(space, out, -1, 0, "", 0, NULL) : g_steal_pointer(&out);
}

/* libvirt 9.0's own storage driver (a session daemon as nobody) and qvirtd on the same
 * directory: the pool XML and every volume's XML agree once normalized. */
static void
testLibvirtDifferential(void)
{
    static const char *const vols[] = {"base.qcow2", "top.qcow2", "raw.img", "old.qcow2"};
    g_autofree char *ref = rootPath("ref");
    g_autofree char *dir = g_build_filename(ref, "pool", NULL);
    g_autofree char *base = g_build_filename(dir, "base.qcow2", NULL);
    g_autofree char *top = g_build_filename(dir, "top.qcow2", NULL);
    g_autofree char *raw = g_build_filename(dir, "raw.img", NULL);
    g_autofree char *old = g_build_filename(dir, "old.qcow2", NULL);
    g_autofree char *defineAs = g_strdup_printf("pool-define-as ref dir --target %s", dir);
    g_autoptr(GString) cmds = g_string_new(NULL);
    const char *oldArgv[] = {"qemu-img", "create",      "-q", "-f",  "qcow2",
                             "-o",       "compat=0.10", old,  "16M", NULL};
    const char *chownArgv[] = {"chown", "-R", "nobody", ref, NULL};
    g_autofree char *theirs = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) docs = NULL;
    g_auto(Result) r = {0};
    int rc;

    if (!daemonLibvirtRefPrepare(ref, dir))
        return;
    qvirTestQcow2Create(base, NULL, "32M");
    qvirTestQcow2Create(top, "base.qcow2", NULL);
    qvirTestRunOk(oldArgv);
    g_assert_true(g_file_set_contents(raw, "raw data", -1, NULL));
    qvirTestRunOk(chownArgv);

    /* one virsh: a documents separated by a marker */
    g_string_append_printf(cmds, "%s ; pool-start ref ; echo @@ ; pool-dumpxml ref", defineAs);
    for (guint i = 0; i < G_N_ELEMENTS(vols); i++)
        g_string_append_printf(cmds, " ; echo @@ ; vol-dumpxml --pool ref %s", vols[i]);
    g_string_append(cmds, " ; pool-destroy ref ; pool-undefine ref");
    rc = daemonLibvirtSessionVirsh(ref, cmds->str, &theirs, &err);
    if (rc != 0)
        g_error("libvirt's virsh failed: %s%s", theirs, err);
    docs = g_strsplit(theirs, "@@", -1);
    g_assert_cmpuint(g_strv_length(docs), ==, 2 + G_N_ELEMENTS(vols));

    VIRSH_OK(&r, "pool-define-as", "ref", "dir", "--target", dir);
    resultClear(&r);
    VIRSH_OK(&r, "pool-start", "ref");
    resultClear(&r);
    for (guint i = 0; i <= G_N_ELEMENTS(vols); i++) {
        g_autofree char *a = NULL;
        g_autofree char *b = NULL;

        if (i == 0)
            VIRSH_OK(&r, "pool-dumpxml", "ref");
        else
            VIRSH_OK(&r, "vol-dumpxml", "--pool", "ref", vols[i - 1]);
        a = normalize(docs[i + 1], i == 0);
        b = normalize(r.out, i == 0);
        g_strstrip(a);
        g_strstrip(b);
        if (!g_str_equal(a, b))
            g_error("libvirt 9.0 and qvirtd differ:\n--- libvirt\n%s\n--- qvirtd\n%s", a, b);
        resultClear(&r);
    }
    VIRSH_OK(&r, "pool-destroy", "ref");
    resultClear(&r);
    VIRSH_OK(&r, "pool-undefine", "ref");
}

/* A pool's life with its mistakes (a missing directory, deleting a full one, listing a
 * stopped pool, autostarting a transient one) as one virsh script: libvirt 9.0 and qvirtd
 * print the same, errors included. */
static void
testLibvirtDifferentialErrors(void)
{
    g_autofree char *ref = rootPath("ref2");
    g_autofree char *dir = g_build_filename(ref, "d", NULL);
    g_autofree char *full = g_build_filename(dir, "full", NULL);
    g_autofree char *file = g_build_filename(full, "x", NULL);
    g_autofree char *script = g_strdup_printf(
        "pool-define-as miss dir --target %s/missing ; pool-start miss ; "
        "pool-define-as full dir --target %s ; pool-start full ; pool-destroy full ; "
        "pool-delete full ; vol-list miss ; pool-build miss ; pool-start miss ; "
        "vol-create-as miss a.img 1M ; vol-create-as miss a.img 1M ; "
        "vol-resize --pool miss a.img 1K ; vol-info --pool miss nope ; pool-destroy miss ; "
        "pool-delete miss ; pool-undefine miss ; pool-undefine full ; "
        "pool-create-as tr dir --target %s/tr --build ; pool-autostart tr ; "
        "pool-undefine tr ; pool-destroy tr ; pool-info tr",
        dir, full, dir);
    const char *chownArgv[] = {"chown", "-R", "nobody", ref, NULL};
    const char *rmArgv[] = {"rm", "-rf", dir, NULL};
    g_autofree char *theirOut = NULL;
    g_autofree char *theirErr = NULL;
    g_autofree char *ourOut = NULL;
    g_autofree char *ourErr = NULL;

    if (!daemonLibvirtRefPrepare(ref, full))
        return;
    g_assert_true(g_file_set_contents(file, "", 0, NULL));
    qvirTestRunOk(chownArgv);
    daemonLibvirtSessionVirsh(ref, script, &theirOut, &theirErr);

    qvirTestRunOk(rmArgv);
    g_assert_cmpint(g_mkdir_with_parents(full, 0755), ==, 0);
    g_assert_true(g_file_set_contents(file, "", 0, NULL));
    {
        const char *argv[] = {"virsh", "-q", "-c", daemonEnv.uri, script, NULL};

        qvirTestRun(argv, &ourOut, &ourErr);
    }
    g_assert_cmpstr(ourOut, ==, theirOut);
    g_assert_cmpstr(ourErr, ==, theirErr);
    assertContains(ourErr, "error: internal error: pool has no config file");
}

/* A domain whose disks name volumes (<disk type='volume'>), as libvirt 9.0 shows them:
 * started for real, the live XML keeps pool and volume with the chain read from the
 * volume's file below; another volume disk hot-plugged; libvirt's errors for a missing
 * volume, a missing pool and a pool that is not active. */
static void
testVolumeDisk(void)
{
    g_autofree char *dir = rootPath("volpool");
    g_autofree char *domXml = rootPath("voldom.xml");
    g_autofree char *attXml = rootPath("volatt.xml");
    g_autofree char *badVolXml = rootPath("volatt-novol.xml");
    g_autofree char *badPoolXml = rootPath("volatt-nopool.xml");
    g_autofree char *expect = NULL;
    const char *disk = "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
                       "<source pool='%s' volume='%s'/><target dev='%s' bus='virtio'/></disk>";
    g_autofree char *dom = NULL;
    g_autofree char *att = g_strdup_printf(disk, "vdp", "top2.qcow2", "vdb");
    g_autofree char *badVol = g_strdup_printf(disk, "vdp", "nosuch.qcow2", "vdc");
    g_autofree char *badPool = g_strdup_printf(disk, "nopool", "top2.qcow2", "vdc");
    g_autofree char *vda = g_strdup_printf(disk, "vdp", "top.qcow2", "vda");
    g_auto(Result) r = {0};

    dom = g_strdup_printf("<domain type='qemu'><name>voldom</name><memory unit='MiB'>128</memory>"
                          "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
                          "<features><acpi/></features><devices>%s</devices></domain>",
                          vda);
    g_assert_true(g_file_set_contents(domXml, dom, -1, NULL));
    g_assert_true(g_file_set_contents(attXml, att, -1, NULL));
    g_assert_true(g_file_set_contents(badVolXml, badVol, -1, NULL));
    g_assert_true(g_file_set_contents(badPoolXml, badPool, -1, NULL));

    VIRSH_OK(&r, "pool-define-as", "vdp", "dir", "--target", dir);
    resultClear(&r);
    VIRSH_OK(&r, "pool-build", "vdp");
    resultClear(&r);
    VIRSH_OK(&r, "pool-start", "vdp");
    resultClear(&r);
    VIRSH_OK(&r, "vol-create-as", "vdp", "base.qcow2", "16M", "--format", "qcow2");
    resultClear(&r);
    VIRSH_OK(&r, "vol-create-as", "vdp", "top.qcow2", "16M", "--format", "qcow2", "--backing-vol",
             "base.qcow2", "--backing-vol-format", "qcow2");
    resultClear(&r);
    VIRSH_OK(&r, "vol-create-as", "vdp", "top2.qcow2", "16M", "--format", "qcow2", "--backing-vol",
             "base.qcow2", "--backing-vol-format", "qcow2");
    resultClear(&r);

    VIRSH_OK(&r, "define", domXml);
    resultClear(&r);
    VIRSH_OK(&r, "dumpxml", "--inactive", "voldom");
    assertContains(r.out, "<disk type='volume' device='disk'>\n"
                          "      <driver name='qemu' type='qcow2'/>\n"
                          "      <source pool='vdp' volume='top.qcow2'/>\n"
                          "      <target dev='vda' bus='virtio'/>\n");
    assertSchemaValid(r.out, "domain.rng");
    resultClear(&r);

    /* the pool must be running when the domain starts (libvirt's words) */
    VIRSH_OK(&r, "pool-destroy", "vdp");
    resultClear(&r);
    VIRSH(&r, "start", "voldom");
    g_assert_cmpint(r.rc, !=, 0);
    assertContains(r.err, "error: unsupported configuration: storage pool 'vdp' containing "
                          "volume 'top.qcow2' is not active");
    resultClear(&r);
    VIRSH_OK(&r, "pool-start", "vdp");
    resultClear(&r);

    VIRSH_OK(&r, "start", "--paused", "voldom");
    resultClear(&r);
    VIRSH_OK(&r, "dumpxml", "voldom");
    expect = g_strdup_printf("<disk type='volume' device='disk'>\n"
                             "      <driver name='qemu' type='qcow2'/>\n"
                             "      <source pool='vdp' volume='top.qcow2' index='1'/>\n"
                             "      <backingStore type='file' index='2'>\n"
                             "        <format type='qcow2'/>\n"
                             "        <source file='%s/base.qcow2'/>\n"
                             "        <backingStore/>\n"
                             "      </backingStore>\n"
                             "      <target dev='vda' bus='virtio'/>\n",
                             dir);
    assertContains(r.out, expect);
    assertSchemaValid(r.out, "domain.rng");
    resultClear(&r);
    /* QEMU really opened the volume's file, over its backing file */
    VIRSH_OK(&r, "qemu-monitor-command", "voldom", "{\"execute\":\"query-named-block-nodes\"}");
    g_clear_pointer(&expect, g_free);
    expect = g_strdup_printf("\"filename\":\"%s/top.qcow2\"", dir);
    assertContains(r.out, expect);
    resultClear(&r);

    VIRSH(&r, "attach-device", "voldom", badVolXml, "--live");
    g_assert_cmpint(r.rc, !=, 0);
    assertContains(r.err, "error: Storage volume not found: no storage vol with matching name "
                          "'nosuch.qcow2'");
    resultClear(&r);
    VIRSH(&r, "attach-device", "voldom", badPoolXml, "--live");
    g_assert_cmpint(r.rc, !=, 0);
    assertContains(r.err, "error: Storage pool not found: no storage pool with matching name "
                          "'nopool'");
    resultClear(&r);

    VIRSH_OK(&r, "attach-device", "voldom", attXml, "--live");
    resultClear(&r);
    VIRSH_OK(&r, "dumpxml", "voldom");
    g_clear_pointer(&expect, g_free);
    expect = g_strdup_printf("      <source pool='vdp' volume='top2.qcow2' index='3'/>\n"
                             "      <backingStore type='file' index='4'>\n"
                             "        <format type='qcow2'/>\n"
                             "        <source file='%s/base.qcow2'/>\n"
                             "        <backingStore/>\n"
                             "      </backingStore>\n"
                             "      <target dev='vdb' bus='virtio'/>\n",
                             dir);
    assertContains(r.out, expect);
    resultClear(&r);
    VIRSH_OK(&r, "dumpxml", "--inactive", "voldom");
    g_assert_null(strstr(r.out, "top2.qcow2"));
    resultClear(&r);

    VIRSH_OK(&r, "destroy", "voldom");
    resultClear(&r);
    VIRSH_OK(&r, "undefine", "voldom");
    resultClear(&r);
    VIRSH_OK(&r, "pool-destroy", "vdp");
    resultClear(&r);
    VIRSH_OK(&r, "pool-undefine", "vdp");
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    daemonEnvInit("qvirt-virshstoragetest");
    daemonStart(FALSE);

    g_test_add_func("/virsh-storage/pool-lifecycle", testPoolLifecycle);
    g_test_add_func("/virsh-storage/volumes", testVolumes);
    g_test_add_func("/virsh-storage/upload-download", testUploadDownload);
    g_test_add_func("/virsh-storage/read-only", testReadOnly);
    g_test_add_func("/virsh-storage/restart", testRestart);
    g_test_add_func("/virsh-storage/python", testPython);
    g_test_add_func("/virsh-storage/fs-pool", testFsPool);
    g_test_add_func("/virsh-storage/volume-disk", testVolumeDisk);
    g_test_add_func("/virsh-storage/libvirt-differential", testLibvirtDifferential);
    g_test_add_func("/virsh-storage/libvirt-differential-errors", testLibvirtDifferentialErrors);
    g_test_add_func("/virtinst/import-xml-clone", testVirtInstallImport);
    g_test_add_func("/virtinst/new-disks", testVirtInstallNewDisks);
    g_test_add_func("/virtinst/default-pool", testVirtInstallDefaultPool);
    rc = g_test_run();

    if (daemonEnv.pid)
        daemonStop();
    daemonEnvCleanup();
    g_free(poolDir);
    return rc;
}
