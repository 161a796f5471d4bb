/*
 * guestfstest: the real libguestfs 1.48 (Debian's guestfish and virt tools) through its
 * libvirt backend against qvirtd, under TCG: domain capabilities, a transient domain with
 * VIR_DOMAIN_START_AUTODESTROY, its XML (cpu maximum with features, kernel boot with
 * useserial, unix serial and channel in connect mode, virtio-scsi disks, qemu:env) and
 * DestroyFlags(GRACEFUL) at the end.
 *
 * The appliance is built by supermin once and kept in QVIRT_GUESTFS_CACHEDIR (default
 * /var/tmp/qvirt-guestfs-cache), so the ASan run of the suite reuses the plain run's.
 */
#include "daemontestutils.h"

typedef struct {
    char *base; /* the chain's base: never written */
    char *top;  /* qcow2 over base: guestfish writes here */
    char *scratch;
    char *copy; /* a copy of top for virt-sparsify */
    /* statvfs of /dev/sda1 as guestfish saw it, for virt-df */
    gint64 frsize, blocks, bfree, bavail;
} GuestfsEnv;

static GuestfsEnv gfs;

static char *
fileChecksum(const char *path)
{
    g_autofree char *data = NULL;
    gsize len = 0;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
}

/* The domain log qvirtd wrote for the one libguestfs domain of this test (the newest). */
static char *
guestfsDomainLog(void)
{
    g_autofree char *dir = g_build_filename(daemonEnv.root, "log", "qemu", NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autofree char *best = NULL;
    gint64 bestTime = -1;
    const char *name;
    char *contents = NULL;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        GStatBuf st;

        if (!g_str_has_prefix(name, "guestfs-") || g_stat(path, &st) < 0)
            continue;
        if ((gint64)st.st_mtime >= bestTime) {
            bestTime = st.st_mtime;
            g_free(best);
            best = g_steal_pointer(&path);
        }
    }
    g_assert_nonnull(best);
    g_assert_true(g_file_get_contents(best, &contents, NULL, NULL));
    /* the next test finds its own */
    g_unlink(best);
    return contents;
}

/* Domains qvirtd lists (virsh list --all --name), one per line. */
static char *
daemonDomainNames(void)
{
    const char *argv[] = {"virsh", "-q", "-c", daemonEnv.uri, "list", "--all", "--name", NULL};
    g_autofree char *out = NULL;

    g_assert_cmpint(qvirTestRun(argv, &out, NULL), ==, 0);
    return g_strstrip(g_steal_pointer(&out));
}

/* guestfish reading SCRIPT on stdin; its stdout. */
static char *
runGuestfish(const char *script, int *status)
{
    g_autofree char *scriptPath = daemonWriteFile("guestfish.script", script);
    g_autofree char *cmd = g_strdup_printf("guestfish < '%s'", scriptPath);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    *status = qvirTestRun(argv, &out, &err);
    if (*status != 0)
        g_printerr("guestfish failed (%d):\n%s\n%s\n", *status, out, err);
    return g_steal_pointer(&out);
}

static void
testWriteChain(void)
{
    g_autofree char *baseSum = fileChecksum(gfs.base);
    g_autofree char *topSum = fileChecksum(gfs.top);
    g_autofree char *script = g_strdup_printf("add-drive %s format:qcow2 cachemode:unsafe\n"
                                              "add-drive %s format:qcow2 cachemode:writeback\n"
                                              "run\n"
                                              "part-disk /dev/sda mbr\n"
                                              "mkfs ext4 /dev/sda1\n"
                                              "mount /dev/sda1 /\n"
                                              "write /hello \"written through qvirtd\"\n"
                                              "cat /hello\n"
                                              "umount-all\n"
                                              "mkfs ext2 /dev/sdb\n"
                                              "mount /dev/sdb /\n"
                                              "write /scratch \"scratch disk\"\n"
                                              "cat /scratch\n",
                                              gfs.top, gfs.scratch);
    g_autofree char *out = NULL;
    g_autofree char *log = NULL;
    g_autofree char *names = NULL;
    g_autofree char *topStorage = NULL;
    g_autofree char *scratchStorage = NULL;
    g_autofree char *afterBase = NULL;
    g_autofree char *afterTop = NULL;
    int status;

    out = runGuestfish(script, &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_nonnull(strstr(out, "written through qvirtd\n"));
    g_assert_nonnull(strstr(out, "scratch disk\n"));

    /* graceful destroy at the end, and the domain was never defined */
    names = daemonDomainNames();
    g_assert_cmpstr(names, ==, "");

    /* the data went into the top image; the base is as it was */
    afterBase = fileChecksum(gfs.base);
    afterTop = fileChecksum(gfs.top);
    g_assert_cmpstr(afterBase, ==, baseSum);
    g_assert_cmpstr(afterTop, !=, topSum);

    /* the argv QEMU ran: each drive's cache mode on both nodes, the chain read-only below,
     * and what libguestfs' XML asks for */
    log = guestfsDomainLog();
    topStorage = g_strdup_printf("\"filename\":\"%s\",\"node-name\":\"libvirt-", gfs.top);
    g_assert_nonnull(strstr(log, topStorage));
    g_assert_nonnull(
        strstr(strstr(log, topStorage), "\"cache\":{\"direct\":false,\"no-flush\":true}"));
    scratchStorage = g_strdup_printf("\"filename\":\"%s\",\"node-name\":\"libvirt-", gfs.scratch);
    g_assert_nonnull(strstr(log, scratchStorage));
    g_assert_nonnull(
        strstr(strstr(log, scratchStorage), "\"cache\":{\"direct\":false,\"no-flush\":false}"));
    g_assert_nonnull(strstr(log,
                            "\"read-only\":true,\"cache\":{\"direct\":false,\"no-flush\":true},"
                            "\"driver\":\"qcow2\""));
    g_assert_nonnull(strstr(log, " -cpu max,la57=off "));
    g_assert_nonnull(strstr(log, "\"name\":\"org.libguestfs.channel.0\""));
    g_assert_nonnull(strstr(log, "-chardev socket,id=charserial0,path="));
    g_assert_nonnull(strstr(log, "is tainted: custom-argv"));
}

/* A virt tool: virt-cat opens the disk read-only, through its own qcow2 overlay. */
static void
testVirtCat(void)
{
    const char *argv[] = {"virt-cat", "--format=qcow2", "-a",     gfs.top,
                          "-m",       "/dev/sda1",      "/hello", NULL};
    g_autofree char *topSum = fileChecksum(gfs.top);
    g_autofree char *afterTop = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *log = NULL;
    g_autofree char *names = NULL;
    g_autofree char *topStorage = NULL;
    const char *p;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("virt-cat failed: %s", err);
    g_assert_cmpstr(out, ==, "written through qvirtd");
    afterTop = fileChecksum(gfs.top);
    g_assert_cmpstr(afterTop, ==, topSum);
    names = daemonDomainNames();
    g_assert_cmpstr(names, ==, "");

    /* the user's image is the read-only backing of an overlay libguestfs made, opened
     * writable with cache unsafe; the chain came from the overlay's header */
    log = guestfsDomainLog();
    topStorage = g_strdup_printf("\"filename\":\"%s\",\"node-name\":\"libvirt-", gfs.top);
    g_assert_nonnull((p = strstr(log, topStorage)));
    g_assert_nonnull(strstr(p, "\"read-only\":true"));
    g_assert_nonnull(strstr(log, "overlay"));
    g_assert_nonnull(strstr(log,
                            "\"read-only\":false,\"cache\":{\"direct\":false,\"no-flush\":true},"
                            "\"driver\":\"qcow2\""));
}

/* The number after "NAME: " at the start of a line of guestfish's statvfs output. */
static gint64
statvfsField(const char *out, const char *name)
{
    g_autofree char *key = g_strdup_printf("\n%s: ", name);
    g_autofree char *text = g_strdup_printf("\n%s", out);
    const char *p = strstr(text, key);
    char *end = NULL;
    gint64 v;

    g_assert_nonnull(p);
    v = g_ascii_strtoll(p + strlen(key), &end, 10);
    g_assert_true(end && *end == '\n');
    return v;
}

static gint64
fileAllocated(const char *path)
{
    GStatBuf st;

    g_assert_cmpint(g_stat(path, &st), ==, 0);
    return (gint64)st.st_blocks * 512;
}

/* add-drive-ro: libguestfs' own overlay (cache unsafe) over the user's image reads the
 * data; statvfs of that filesystem is what virt-df must report.  The same launch fills
 * and frees 8 MiB on a writable copy for virt-sparsify. */
static void
testAddDriveRo(void)
{
    g_autofree char *topSum = fileChecksum(gfs.top);
    g_autofree char *script = NULL;
    g_autofree char *out = NULL;
    g_autofree char *log = NULL;
    g_autofree char *names = NULL;
    g_autofree char *afterTop = NULL;
    g_autofree char *topStorage = NULL;
    g_autofree char *copyStorage = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;
    const char *p;
    int status;

    g_assert_true(g_file_get_contents(gfs.top, &data, &len, NULL));
    g_assert_true(g_file_set_contents(gfs.copy, data, len, NULL));

    script = g_strdup_printf("add-drive-ro %s\n"
                             "add-drive %s format:qcow2 discard:enable\n"
                             "run\n"
                             "mount-ro /dev/sda1 /\n"
                             "cat /hello\n"
                             "statvfs /\n"
                             "umount-all\n"
                             "mount /dev/sdb1 /\n"
                             "fill 0x55 8388608 /big\n"
                             "sync\n"
                             "rm /big\n"
                             "umount-all\n",
                             gfs.top, gfs.copy);
    out = runGuestfish(script, &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_true(g_str_has_prefix(out, "written through qvirtd\n"));
    gfs.frsize = statvfsField(out, "frsize");
    gfs.blocks = statvfsField(out, "blocks");
    gfs.bfree = statvfsField(out, "bfree");
    gfs.bavail = statvfsField(out, "bavail");
    /* an ext4 on a partition of a 64 MiB disk, a little of it used */
    g_assert_cmpint(gfs.frsize, >=, 1024);
    g_assert_cmpint(gfs.blocks * gfs.frsize, >, 48 * 1024 * 1024);
    g_assert_cmpint(gfs.blocks * gfs.frsize, <=, 64 * 1024 * 1024);
    g_assert_cmpint(gfs.bfree, >, 0);
    g_assert_cmpint(gfs.bfree, <, gfs.blocks);
    g_assert_cmpint(gfs.bavail, <=, gfs.bfree);

    afterTop = fileChecksum(gfs.top);
    g_assert_cmpstr(afterTop, ==, topSum);
    names = daemonDomainNames();
    g_assert_cmpstr(names, ==, "");

    /* the image is the read-only backing of libguestfs' overlay, which QEMU opened writable
     * with cache unsafe; the copy is written directly and passes discards down */
    log = guestfsDomainLog();
    topStorage = g_strdup_printf("\"filename\":\"%s\",\"node-name\":\"libvirt-", gfs.top);
    g_assert_nonnull((p = strstr(log, topStorage)));
    g_assert_nonnull(strstr(p, "\"read-only\":true"));
    g_assert_nonnull(strstr(log, "overlay"));
    g_assert_nonnull(strstr(log,
                            "\"read-only\":false,\"cache\":{\"direct\":false,\"no-flush\":true},"
                            "\"driver\":\"qcow2\""));
    copyStorage = g_strdup_printf("\"filename\":\"%s\",\"node-name\":\"libvirt-", gfs.copy);
    g_assert_nonnull((p = strstr(log, copyStorage)));
    g_assert_nonnull(strstr(p, "\"discard\":\"unmap\""));
}

/* virt-df on the prepared image: its figures are the filesystem's statvfs in 1K blocks. */
static void
testVirtDf(void)
{
    const char *argv[] = {"virt-df", "--csv", "--format=qcow2", "-a", gfs.top, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *expect = NULL;
    g_autofree char *names = NULL;
    g_auto(GStrv) lines = NULL;
    const char *row = NULL;
    gint64 k = gfs.frsize / 1024;

    g_assert_cmpint(gfs.blocks, >, 0); /* set by add-drive-ro */
    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("virt-df failed: %s", err);
    g_test_message("virt-df: %s", out);
    lines = g_strsplit(out, "\n", -1);
    g_assert_true(
        g_str_has_prefix(lines[0], "VirtualMachine,Filesystem,1K-blocks,Used,Available,Use%"));
    for (guint i = 1; lines[i]; i++) {
        if (strstr(lines[i], ",/dev/sda1,")) {
            g_assert_null(row);
            row = lines[i];
        }
    }
    g_assert_nonnull(row);
    expect = g_strdup_printf(",/dev/sda1,%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                             ",%" G_GINT64_FORMAT ",",
                             gfs.blocks * k, (gfs.blocks - gfs.bfree) * k, gfs.bavail * k);
    g_assert_nonnull(strstr(row, expect));
    names = daemonDomainNames();
    g_assert_cmpstr(names, ==, "");
    g_free(guestfsDomainLog());
}

/* virt-sparsify --in-place on the copy: the 8 MiB freed by add-drive-ro's run go back to
 * the host, the data stays. */
static void
testVirtSparsify(void)
{
    const char *argv[] = {"virt-sparsify", "--in-place", "--format", "qcow2", "-q", gfs.copy, NULL};
    const char *check[] = {"qemu-img", "check", "-q", gfs.copy, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *names = NULL;
    gint64 before = fileAllocated(gfs.copy);
    gint64 after;

    g_assert_cmpint(before, >, 8 * 1024 * 1024);
    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("virt-sparsify failed: %s\n%s", out, err);
    after = fileAllocated(gfs.copy);
    g_test_message("copy allocated: %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT, before, after);
    g_assert_cmpint(after, <, before - 6 * 1024 * 1024);
    qvirTestRunOk(check);
    names = daemonDomainNames();
    g_assert_cmpstr(names, ==, "");
    g_free(guestfsDomainLog());
}

/* The client dies while its domain runs: qvirtd destroys it (autodestroy). */
static void
testKillClient(void)
{
    g_autofree char *script =
        g_strdup_printf("add-drive %s format:qcow2 readonly:true\nrun\n!sleep 600\n", gfs.top);
    g_autofree char *scriptPath = daemonWriteFile("kill.script", script);
    g_autofree char *cmd = g_strdup_printf("exec guestfish < '%s' > /dev/null 2>&1", scriptPath);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;
    gint64 deadline;
    GPid pid;
    pid_t qemu = 0;
    int status;

    if (!g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                       daemonChildSetup, NULL, &pid, &err))
        g_error("cannot start guestfish: %s", err->message);

    /* wait until the domain runs */
    deadline = g_get_monotonic_time() + 120 * G_TIME_SPAN_SECOND;
    while (g_get_monotonic_time() < deadline) {
        g_free(name);
        name = daemonDomainNames();
        if (*name && (qemu = daemonDomainPid(name)) > 0)
            break;
        g_usleep(100000);
    }
    g_assert_true(g_str_has_prefix(name, "guestfs-"));
    g_assert_cmpint(qemu, >, 0);
    g_assert_true(daemonProcessAlive(qemu));
    {
        /* libguestfs' <qemu:env> taints the domain, as in libvirt (virsh dominfo asks
         * virDomainGetMessages) */
        const char *info[] = {"virsh", "-c", daemonEnv.uri, "dominfo", name, NULL};
        g_autofree char *out = NULL;

        g_assert_cmpint(qvirTestRun(info, &out, NULL), ==, 0);
        g_assert_nonnull(strstr(out, "Persistent:     no\n"));
        g_assert_nonnull(strstr(out, "tainted: custom configuration parameters specified"));
    }

    /* guestfish and its children (the process group) die at once */
    g_assert_cmpint(kill(-pid, SIGKILL), ==, 0);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);

    deadline = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;
    while (g_get_monotonic_time() < deadline && daemonProcessAlive(qemu))
        g_usleep(50000);
    g_assert_false(daemonProcessAlive(qemu));
    g_free(name);
    name = daemonDomainNames();
    g_assert_cmpstr(name, ==, "");
    g_free(guestfsDomainLog());
}

int
main(int argc, char **argv)
{
    const char *cacheDir = g_getenv("QVIRT_GUESTFS_CACHEDIR");
    g_autofree char *backend = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    daemonEnvInit("guestfstest");
    daemonStart(FALSE);

    gfs.base = daemonImagePath("base.qcow2");
    gfs.top = daemonImagePath("top.qcow2");
    gfs.scratch = daemonImagePath("scratch.qcow2");
    gfs.copy = daemonImagePath("copy.qcow2");
    qvirTestQcow2Create(gfs.base, NULL, "64M");
    qvirTestQcow2Create(gfs.top, gfs.base, NULL);
    qvirTestQcow2Create(gfs.scratch, NULL, "32M");

    backend = g_strdup_printf("libvirt:%s", daemonEnv.uri);
    g_setenv("LIBGUESTFS_BACKEND", backend, TRUE);
    /* -cpu max aborts under nested KVM here; libguestfs picks TCG with this */
    g_setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg", TRUE);
    g_setenv("LIBGUESTFS_CACHEDIR", cacheDir ? cacheDir : "/var/tmp/qvirt-guestfs-cache", TRUE);
    g_mkdir_with_parents(g_getenv("LIBGUESTFS_CACHEDIR"), 0755);
    g_unsetenv("LIBGUESTFS_DEBUG");
    g_unsetenv("LIBGUESTFS_TRACE");

    g_test_add_func("/guestfs/guestfish-chain-cachemodes", testWriteChain);
    g_test_add_func("/guestfs/virt-cat", testVirtCat);
    g_test_add_func("/guestfs/add-drive-ro-statvfs", testAddDriveRo);
    g_test_add_func("/guestfs/virt-df", testVirtDf);
    g_test_add_func("/guestfs/virt-sparsify-in-place", testVirtSparsify);
    g_test_add_func("/guestfs/kill-client-autodestroy", testKillClient);
    ret = g_test_run();

    daemonStop();
    daemonEnvCleanup();
    return ret;
}
