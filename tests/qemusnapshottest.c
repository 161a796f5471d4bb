/*
 * qemusnapshottest: external disk-only snapshots against a real QEMU 7.2 (TCG, -S), and
 * the <domainsnapshot> XML they are requested with.
 */
#include "blockopstestutils.h"
#include "qemu/qemu_chainedit.h"
#include "qemu/qemu_snapshot.h"

static qemuSnapshotDef *
testSnapDef(TestVM *vm, const char *xml)
{
    g_autoptr(GError) error = NULL;
    qemuSnapshotDef *snap = qemuSnapshotDefParseString(xml, &error);

    g_assert_no_error(error);
    g_assert_nonnull(snap);
    g_assert_true(qemuSnapshotDefAlignDisks(snap, vm->def, &error));
    g_assert_no_error(error);
    return snap;
}

static char *
testSnapXML(const char *name, const char *disks)
{
    return g_strdup_printf("<domainsnapshot>\n"
                           "  <name>%s</name>\n"
                           "  <disks>\n%s  </disks>\n"
                           "</domainsnapshot>\n",
                           name, disks);
}

static char *
testSnapDiskXML(const char *dst, const char *file)
{
    if (!file)
        return g_strdup_printf("    <disk name='%s' snapshot='no'/>\n", dst);
    return g_strdup_printf("    <disk name='%s' snapshot='external'>\n"
                           "      <source file='%s'/>\n"
                           "    </disk>\n",
                           dst, file);
}

static void
testSnapshotSingle(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuSnapshotDef) snap = NULL;
    g_autofree char *file = NULL;
    g_autofree char *dxml = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *backing = NULL;
    qvirStorageSource *oldTop;
    qvirDomainDiskDef *disk;
    TestVM vm;

    testVMInitImages(&vm);
    testVMStart(&vm, "q35", "none", NULL);
    disk = testVMDisk(&vm, "vda");
    oldTop = disk->src;
    file = g_build_filename(vm.dir, "snap1.qcow2", NULL);
    dxml = testSnapDiskXML("vda", file);
    xml = testSnapXML("s1", dxml);
    snap = testSnapDef(&vm, xml);

    g_assert_true(
        qemuSnapshotCreateDiskOnly(vm.jobs, vm.mon, testCaps, vm.def, snap, NULL, &error));
    g_assert_no_error(error);

    /* the overlay is the cached top, the old top read-only beneath it */
    g_assert_cmpuint(qvirStorageSourceChainLength(disk->src), ==, 4);
    g_assert_cmpstr(disk->src->path, ==, file);
    g_assert_false(disk->src->readonly);
    g_assert_true(disk->src->backingStore == oldTop);
    g_assert_true(oldTop->readonly);
    g_assert_cmpuint(disk->src->id, >, qemuChainMaxIndex(oldTop));
    testAssertDiskMatchesQemu(&vm, disk);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);

    /* the guest's writes land in the overlay, the old top keeps its data */
    testGuestWrite(&vm, disk->info.alias, 0x55, "4M", "64k");
    testVMStop(&vm);
    backing = testImgBacking(file);
    g_assert_cmpstr(backing, ==, vm.top);
    testAssertGuestData(file);
    g_assert_true(testImgHas(file, 0x55, "4M", "64k"));
    g_assert_true(testImgHas(vm.top, 0x00, "4M", "64k"));
    testAssertGuestData(vm.top);
    testVMFree(&vm);
}

static char *
testSecondDiskXML(const char *path, const char *dst)
{
    return g_strdup_printf("    <disk type='file' device='disk'>\n"
                           "      <driver name='qemu' type='qcow2' cache='none'/>\n"
                           "      <source file='%s'/>\n"
                           "      <target dev='%s' bus='virtio'/>\n"
                           "    </disk>\n",
                           path, dst);
}

/* Two disks in one transaction; then an active commit of the overlay brings vda back. */
static void
testSnapshotTwoDisksThenCommit(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuSnapshotDef) snap = NULL;
    g_autofree char *data = NULL;
    g_autofree char *extra = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *xml = NULL;
    qvirDomainDiskDef *vda;
    qvirDomainDiskDef *vdb;
    TestVM vm;

    testVMInitImages(&vm);
    data = g_build_filename(vm.dir, "data.qcow2", NULL);
    testImgCreate(data, NULL, "8M");
    testImgWrite(data, 0x66, "0", "64k");
    extra = testSecondDiskXML(data, "vdb");
    testVMStart(&vm, "pc", "none", extra);
    vda = testVMDisk(&vm, "vda");
    vdb = testVMDisk(&vm, "vdb");
    before = testChainString(vda->src);

    /* no <disks>: every writable disk gets libvirt's default overlay name */
    xml = g_strdup("<domainsnapshot><name>both</name></domainsnapshot>");
    snap = testSnapDef(&vm, xml);
    {
        g_autofree char *expA = g_build_filename(vm.dir, "top.both", NULL);
        g_autofree char *expB = g_build_filename(vm.dir, "data.both", NULL);
        qemuSnapshotDiskDef *a = g_ptr_array_index(snap->disks, 0);
        qemuSnapshotDiskDef *b = g_ptr_array_index(snap->disks, 1);

        g_assert_cmpstr(a->file, ==, expA);
        g_assert_cmpstr(b->file, ==, expB);
    }
    g_assert_true(
        qemuSnapshotCreateDiskOnly(vm.jobs, vm.mon, testCaps, vm.def, snap, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(qvirStorageSourceChainLength(vda->src), ==, 4);
    g_assert_cmpuint(qvirStorageSourceChainLength(vdb->src), ==, 2);
    g_assert_cmpuint(vda->src->id, !=, vdb->src->id);
    testAssertDiskMatchesQemu(&vm, vda);
    testAssertDiskMatchesQemu(&vm, vdb);
    testAssertNodesAreCached(&vm);

    testGuestWrite(&vm, vda->info.alias, 0x77, "5M", "64k");
    g_assert_true(qemuBlockJobCommit(vm.jobs, vm.mon, vm.def, vda, NULL, vm.top, TRUE, 0, &error));
    g_assert_no_error(error);
    g_assert_true(qemuBlockJobWait(vm.jobs, "vda", TRUE, 30000));
    g_assert_true(qemuBlockJobAbort(vm.jobs, vm.mon, vda, TRUE, &error));
    g_assert_no_error(error);
    testVMWaitJob(&vm, "vda", NULL);

    /* back to the original chain, the old top writable again */
    after = testChainString(vda->src);
    g_assert_cmpstr(after, ==, before);
    testAssertDiskMatchesQemu(&vm, vda);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);
    testVMStop(&vm);
    g_assert_true(testImgHas(vm.top, 0x77, "5M", "64k"));
    testAssertGuestData(vm.top);
    g_assert_true(testImgHas(vdb->src->path, 0x66, "0", "64k"));
    testVMFree(&vm);
}

/* Refused snapshots leave chain, QEMU and files exactly as before. */
static void
testSnapshotFailures(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *data = NULL;
    g_autofree char *extra = NULL;
    g_autofree char *existing = NULL;
    g_autofree char *fresh = NULL;
    g_autofree char *nodir = NULL;
    g_autofree char *files = NULL;
    g_autofree char *beforeA = NULL;
    g_autofree char *beforeB = NULL;
    qvirDomainDiskDef *vda;
    qvirDomainDiskDef *vdb;
    TestVM vm;

    testVMInitImages(&vm);
    data = g_build_filename(vm.dir, "data.qcow2", NULL);
    testImgCreate(data, NULL, "8M");
    extra = testSecondDiskXML(data, "vdb");
    testVMStart(&vm, "pc", "none", extra);
    vda = testVMDisk(&vm, "vda");
    vdb = testVMDisk(&vm, "vdb");
    existing = g_build_filename(vm.dir, "snap-existing.qcow2", NULL);
    g_assert_true(g_file_set_contents(existing, "precious data", -1, NULL));
    fresh = g_build_filename(vm.dir, "snap-fresh.qcow2", NULL);
    nodir = g_build_filename(vm.dir, "missing-dir", "snap.qcow2", NULL);
    beforeA = testChainString(vda->src);
    beforeB = testChainString(vdb->src);
    files = testDirSnapshot(vm.dir);

    /* an existing file is never overwritten (libvirt's wording) */
    {
        g_autofree char *d1 = testSnapDiskXML("vda", existing);
        g_autofree char *d2 = testSnapDiskXML("vdb", NULL);
        g_autofree char *both = g_strconcat(d1, d2, NULL);
        g_autofree char *xml = testSnapXML("e", both);
        g_autoptr(qemuSnapshotDef) snap = testSnapDef(&vm, xml);
        g_autofree char *msg = g_strdup_printf(
            "external snapshot file for disk vda already exists and is not a block device: %s",
            existing);

        g_assert_false(
            qemuSnapshotCreateDiskOnly(vm.jobs, vm.mon, testCaps, vm.def, snap, NULL, &error));
        g_assert_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED);
        g_assert_cmpstr(error->message, ==, msg);
        g_clear_error(&error);
    }

    /* vda's overlay is created and added, vdb's cannot be: all of it is undone */
    {
        g_autofree char *d1 = testSnapDiskXML("vda", fresh);
        g_autofree char *d2 = testSnapDiskXML("vdb", nodir);
        g_autofree char *both = g_strconcat(d1, d2, NULL);
        g_autofree char *xml = testSnapXML("f", both);
        g_autoptr(qemuSnapshotDef) snap = testSnapDef(&vm, xml);

        g_assert_false(
            qemuSnapshotCreateDiskOnly(vm.jobs, vm.mon, testCaps, vm.def, snap, NULL, &error));
        g_assert_nonnull(error);
        g_clear_error(&error);
        g_assert_false(g_file_test(fresh, G_FILE_TEST_EXISTS));
    }

    {
        g_autofree char *a = testChainString(vda->src);
        g_autofree char *b = testChainString(vdb->src);
        g_autofree char *filesAfter = NULL;

        g_assert_cmpstr(a, ==, beforeA);
        g_assert_cmpstr(b, ==, beforeB);
        testAssertDiskMatchesQemu(&vm, vda);
        testAssertDiskMatchesQemu(&vm, vdb);
        testAssertNodesAreCached(&vm);
        testAssertNoProbe(&vm);
        filesAfter = testDirSnapshot(vm.dir);
        g_assert_cmpstr(filesAfter, ==, files);
    }

    /* a disk in a block job is refused before anything is created (the cancelled pull
     * itself may have copied some clusters into top: files are compared above) */
    {
        g_autofree char *d1 = testSnapDiskXML("vda", fresh);
        g_autofree char *xml = testSnapXML("j", d1);
        g_autoptr(qemuSnapshotDef) snap = testSnapDef(&vm, xml);

        g_assert_true(qemuBlockJobPull(vm.jobs, vm.mon, vm.def, vda, NULL, 1024, &error));
        g_assert_false(
            qemuSnapshotCreateDiskOnly(vm.jobs, vm.mon, testCaps, vm.def, snap, NULL, &error));
        g_assert_cmpstr(error->message, ==, "disk 'vda' already in active block job");
        g_clear_error(&error);
        g_assert_true(qemuBlockJobAbort(vm.jobs, vm.mon, vda, FALSE, &error));
        testVMWaitJob(&vm, "vda", NULL);
    }

    g_assert_false(g_file_test(fresh, G_FILE_TEST_EXISTS));
    testVMStop(&vm);
    {
        g_autofree char *content = NULL;

        g_assert_true(g_file_get_contents(existing, &content, NULL, NULL));
        g_assert_cmpstr(content, ==, "precious data");
    }
    testVMFree(&vm);
}

/* An existing empty file is what libvirt lets a snapshot reuse. */
static void
testSnapshotEmptyTarget(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *file = NULL;
    g_autofree char *dxml = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(qemuSnapshotDef) snap = NULL;
    TestVM vm;

    testVMInitImages(&vm);
    testVMStart(&vm, "pc", "writeback", NULL);
    file = g_build_filename(vm.dir, "snap-empty.qcow2", NULL);
    g_assert_true(g_file_set_contents(file, "", 0, NULL));
    dxml = testSnapDiskXML("vda", file);
    xml = testSnapXML("e", dxml);
    snap = testSnapDef(&vm, xml);
    g_assert_true(
        qemuSnapshotCreateDiskOnly(vm.jobs, vm.mon, testCaps, vm.def, snap, NULL, &error));
    g_assert_no_error(error);
    testAssertDiskMatchesQemu(&vm, testVMDisk(&vm, "vda"));
    testVMStop(&vm);
    testAssertGuestData(file);
    testVMFree(&vm);
}

static void
testSnapshotXML(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuSnapshotDef) snap = NULL;
    g_autofree char *out = NULL;
    TestVM vm;
    /* disks come in the domain's order (libvirt sorts virtio before sata) */
    static const char *xml = "<domainsnapshot>\n"
                             "  <name>nightly</name>\n"
                             "  <description>before &amp; after</description>\n"
                             "  <disks>\n"
                             "    <disk name='vda' snapshot='external'>\n"
                             "      <driver type='qcow2'/>\n"
                             "      <source file='/var/lib/x/vda.nightly'/>\n"
                             "    </disk>\n"
                             "  </disks>\n"
                             "</domainsnapshot>\n";

    memset(&vm, 0, sizeof(vm));
    vm.def = qvirDomainDefParseString(
        "<domain type='qemu'><name>x</name><memory>65536</memory>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='/var/lib/x/vda.qcow2'/><target dev='vda' bus='virtio'/></disk>"
        "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
        "<source file='/var/lib/x/cd.iso'/><target dev='sda' bus='sata'/><readonly/></disk>"
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        "<source file='/var/lib/x/data.img'/><target dev='vdb' bus='virtio'/></disk>"
        "</devices></domain>",
        0, &error);
    g_assert_no_error(error);

    snap = qemuSnapshotDefParseString(xml, &error);
    g_assert_no_error(error);
    g_assert_true(qemuSnapshotDefAlignDisks(snap, vm.def, &error));
    g_assert_no_error(error);
    out = qemuSnapshotDefFormat(snap);
    g_assert_cmpstr(out, ==,
                    "<domainsnapshot>\n"
                    "  <name>nightly</name>\n"
                    "  <description>before &amp; after</description>\n"
                    "  <disks>\n"
                    "    <disk name='vda' snapshot='external' type='file'>\n"
                    "      <driver type='qcow2'/>\n"
                    "      <source file='/var/lib/x/vda.nightly'/>\n"
                    "    </disk>\n"
                    "    <disk name='vdb' snapshot='external' type='file'>\n"
                    "      <driver type='qcow2'/>\n"
                    "      <source file='/var/lib/x/data.nightly'/>\n"
                    "    </disk>\n"
                    "    <disk name='sda' snapshot='no'/>\n"
                    "  </disks>\n"
                    "</domainsnapshot>\n");
    g_clear_pointer(&snap, qemuSnapshotDefFree);

    /* a disk by its path, and errors in libvirt's words */
    snap = qemuSnapshotDefParseString("<domainsnapshot><disks><disk name='/var/lib/x/vda.qcow2'>"
                                      "<source file='/s/a'/></disk></disks></domainsnapshot>",
                                      &error);
    g_assert_true(qemuSnapshotDefAlignDisks(snap, vm.def, &error));
    g_assert_nonnull(snap->name); /* generated */
    g_assert_cmpstr(((qemuSnapshotDiskDef *)g_ptr_array_index(snap->disks, 0))->name, ==, "vda");
    g_clear_pointer(&snap, qemuSnapshotDefFree);

    snap = qemuSnapshotDefParseString("<domainsnapshot><disks><disk name='vdz'/></disks>"
                                      "</domainsnapshot>",
                                      &error);
    g_assert_false(qemuSnapshotDefAlignDisks(snap, vm.def, &error));
    g_assert_cmpstr(error->message, ==, "no disk named 'vdz'");
    g_clear_error(&error);
    g_clear_pointer(&snap, qemuSnapshotDefFree);

    snap = qemuSnapshotDefParseString("<domainsnapshot><disks><disk name='vda'/>"
                                      "<disk name='/var/lib/x/vda.qcow2'/></disks>"
                                      "</domainsnapshot>",
                                      &error);
    g_assert_false(qemuSnapshotDefAlignDisks(snap, vm.def, &error));
    g_assert_cmpstr(error->message, ==, "disk '/var/lib/x/vda.qcow2' specified twice");
    g_clear_error(&error);
    g_clear_pointer(&snap, qemuSnapshotDefFree);

    g_assert_null(qemuSnapshotDefParseString("<domainsnapshot><disks><disk name='vda'>"
                                             "<source file='rel.qcow2'/></disk></disks>"
                                             "</domainsnapshot>",
                                             &error));
    g_assert_cmpstr(error->message, ==, "disk snapshot image path 'rel.qcow2' must be absolute");
    g_clear_error(&error);
    g_assert_null(qemuSnapshotDefParseString("<domainsnapshot><disks><disk/></disks>"
                                             "</domainsnapshot>",
                                             &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR);
    g_clear_error(&error);
    g_assert_null(qemuSnapshotDefParseString("<domain/>", &error));
    g_clear_error(&error);
    g_assert_null(qemuSnapshotDefParseString("<domainsnapshot>", &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_XML_ERROR);
    g_clear_error(&error);
    g_assert_null(qemuSnapshotDefParseString("", &error));
    g_clear_error(&error);

    /* the persistent definition follows: overlays become the sources, chains unknown */
    snap = qemuSnapshotDefParseString(xml, &error);
    g_assert_true(qemuSnapshotDefAlignDisks(snap, vm.def, &error));
    qemuSnapshotApplyToDef(vm.def, snap);
    {
        qvirDomainDiskDef *vda = qvirDomainDiskByTarget(vm.def, "vda");
        qvirDomainDiskDef *vdb = qvirDomainDiskByTarget(vm.def, "vdb");
        qvirDomainDiskDef *sda = qvirDomainDiskByTarget(vm.def, "sda");

        g_assert_cmpstr(vda->src->path, ==, "/var/lib/x/vda.nightly");
        g_assert_cmpint(vda->src->format, ==, QVIR_STORAGE_FILE_QCOW2);
        g_assert_null(vda->src->backingStore);
        g_assert_cmpstr(vdb->src->path, ==, "/var/lib/x/data.nightly");
        g_assert_cmpstr(sda->src->path, ==, "/var/lib/x/cd.iso");
        g_assert_true(sda->src->readonly);
    }
    qvirDomainDefFree(vm.def);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    testCapsInit();

    g_test_add_func("/snapshot/xml", testSnapshotXML);
    g_test_add_func("/snapshot/single", testSnapshotSingle);
    g_test_add_func("/snapshot/two-disks-then-commit", testSnapshotTwoDisksThenCommit);
    g_test_add_func("/snapshot/failures", testSnapshotFailures);
    g_test_add_func("/snapshot/empty-target", testSnapshotEmptyTarget);

    int ret = g_test_run();
    qemuCapsFree(testCaps);
    return ret;
}
