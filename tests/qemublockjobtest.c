/*
 * qemublockjobtest: block pull and block commit against a real QEMU 7.2 (TCG, -S).
 *
 * Each case starts a domain on base <- mid <- top (patterns written before the start),
 * runs a job through qemu_blockjob.h, and checks that the cached chain follows QEMU's block
 * graph exactly without any image header being read, that the merged layers' nodes are
 * gone from QEMU, and - after QEMU is stopped - that the data is where it must be.
 */
#include "blockopstestutils.h"
#include "qemu/qemu_blockjob.h"

static void
testAssertEvent(GPtrArray *events, guint i, qemuBlockJobType type, qemuBlockJobStatus status,
                const char *path)
{
    qemuBlockJobEvent *ev;

    g_assert_cmpuint(events->len, >, i);
    ev = g_ptr_array_index(events, i);
    g_assert_cmpstr(ev->dst, ==, "vda");
    g_assert_cmpint(ev->type, ==, type);
    g_assert_cmpint(ev->status, ==, status);
    g_assert_cmpstr(ev->path, ==, path);
}

static void
testPullAll(void)
{
    g_autoptr(GPtrArray) events =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuBlockJobEventFree);
    g_autoptr(GError) error = NULL;
    g_autofree char *backing = NULL;
    qvirDomainDiskDef *disk;
    TestVM vm;

    testVMInitImages(&vm);
    testVMStart(&vm, "pc", "none", NULL);
    disk = testVMDisk(&vm, "vda");
    g_assert_cmpuint(qvirStorageSourceChainLength(disk->src), ==, 3);
    testAssertDiskMatchesQemu(&vm, disk);

    g_assert_true(qemuBlockJobPull(vm.jobs, vm.mon, vm.def, disk, NULL, 0, &error));
    g_assert_no_error(error);
    testVMWaitJob(&vm, "vda", events);

    /* top stands alone: mid and base left the cache and QEMU */
    g_assert_cmpuint(qvirStorageSourceChainLength(disk->src), ==, 1);
    g_assert_cmpstr(disk->src->path, ==, vm.top);
    g_assert_null(disk->src->backingStoreRaw);
    testAssertDiskMatchesQemu(&vm, disk);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);
    g_assert_cmpuint(events->len, ==, 1);
    testAssertEvent(events, 0, QEMU_BLOCKJOB_TYPE_PULL, QEMU_BLOCKJOB_STATUS_COMPLETED, vm.top);

    testVMStop(&vm);
    backing = testImgBacking(vm.top);
    g_assert_cmpstr(backing, ==, "");
    testAssertGuestData(vm.top);
    testVMFree(&vm);
}

static void
testPullToBase(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *backing = NULL;
    qvirDomainDiskDef *disk;
    TestVM vm;

    testVMInitImages(&vm);
    testVMStart(&vm, "q35", "none", NULL);
    disk = testVMDisk(&vm, "vda");

    g_assert_true(qemuBlockJobPull(vm.jobs, vm.mon, vm.def, disk, vm.base, 0, &error));
    g_assert_no_error(error);
    testVMWaitJob(&vm, "vda", NULL);

    g_assert_cmpuint(qvirStorageSourceChainLength(disk->src), ==, 2);
    g_assert_cmpstr(disk->src->backingStore->path, ==, vm.base);
    g_assert_cmpstr(disk->src->backingStoreRaw, ==, vm.base);
    g_assert_true(disk->src->backingStore->readonly);
    testAssertDiskMatchesQemu(&vm, disk);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);

    testVMStop(&vm);
    backing = testImgBacking(vm.top);
    g_assert_cmpstr(backing, ==, vm.base);
    testAssertGuestData(vm.top);
    /* mid's data now lives in top, base kept its own */
    g_assert_true(testImgHas(vm.base, 0x14, "3M", "64k"));
    testVMFree(&vm);
}

static void
testCommitInner(void)
{
    g_autoptr(GPtrArray) events =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuBlockJobEventFree);
    g_autoptr(GError) error = NULL;
    g_autofree char *backing = NULL;
    qvirDomainDiskDef *disk;
    TestVM vm;

    testVMInitImages(&vm);
    testVMStart(&vm, "pc", "writeback", NULL);
    disk = testVMDisk(&vm, "vda");

    /* "vda[2]": the index of mid in libvirt's notation */
    g_assert_cmpuint(disk->src->backingStore->id, >, 0);
    {
        g_autofree char *topName = g_strdup_printf("vda[%u]", disk->src->backingStore->id);

        g_assert_true(
            qemuBlockJobCommit(vm.jobs, vm.mon, vm.def, disk, topName, NULL, FALSE, 0, &error));
    }
    g_assert_no_error(error);
    testVMWaitJob(&vm, "vda", events);

    g_assert_cmpuint(qvirStorageSourceChainLength(disk->src), ==, 2);
    g_assert_cmpstr(disk->src->path, ==, vm.top);
    g_assert_cmpstr(disk->src->backingStore->path, ==, vm.base);
    testAssertDiskMatchesQemu(&vm, disk);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);
    testAssertEvent(events, 0, QEMU_BLOCKJOB_TYPE_COMMIT, QEMU_BLOCKJOB_STATUS_COMPLETED, vm.top);

    testVMStop(&vm);
    backing = testImgBacking(vm.top);
    g_assert_cmpstr(backing, ==, vm.base);
    /* mid's clusters are in base now; top's stayed in top */
    g_assert_true(testImgHas(vm.base, 0x22, "1M", "64k"));
    g_assert_true(testImgHas(vm.base, 0x24, "3M", "64k"));
    g_assert_true(testImgHas(vm.base, 0x00, "2M", "64k"));
    testAssertGuestData(vm.top);
    testVMFree(&vm);
}

static void
testCommitActivePivot(void)
{
    g_autoptr(GPtrArray) events =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuBlockJobEventFree);
    g_autoptr(GError) error = NULL;
    qemuBlockJobInfo info;
    qvirDomainDiskDef *disk;
    TestVM vm;

    testVMInitImages(&vm);
    testVMStart(&vm, "q35", "none", NULL);
    disk = testVMDisk(&vm, "vda");

    g_assert_true(
        qemuBlockJobCommit(vm.jobs, vm.mon, vm.def, disk, NULL, vm.base, TRUE, 0, &error));
    g_assert_no_error(error);
    /* an active commit never ends by itself: it waits in the ready state for a pivot */
    g_assert_true(qemuBlockJobWait(vm.jobs, "vda", TRUE, 30000));
    g_assert_true(qemuBlockJobsProcess(vm.jobs, vm.mon, vm.def, events, &error));
    testAssertEvent(events, 0, QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT, QEMU_BLOCKJOB_STATUS_READY,
                    vm.top);
    g_assert_cmpint(qemuBlockJobGetInfo(vm.jobs, vm.mon, disk, &info, &error), ==, 1);
    g_assert_cmpint(info.type, ==, QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT);
    g_assert_true(info.ready);
    g_assert_cmpuint(info.cur, ==, info.end);
    /* nothing changed while the job runs */
    g_assert_cmpuint(qvirStorageSourceChainLength(disk->src), ==, 3);
    testAssertDiskMatchesQemu(&vm, disk);

    g_assert_true(qemuBlockJobAbort(vm.jobs, vm.mon, disk, TRUE, &error));
    g_assert_no_error(error);
    testVMWaitJob(&vm, "vda", events);
    testAssertEvent(events, 1, QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT, QEMU_BLOCKJOB_STATUS_COMPLETED,
                    vm.top);

    /* base is the writable top now */
    g_assert_cmpuint(qvirStorageSourceChainLength(disk->src), ==, 1);
    g_assert_cmpstr(disk->src->path, ==, vm.base);
    g_assert_false(disk->src->readonly);
    g_assert_null(disk->src->relPath);
    testAssertDiskMatchesQemu(&vm, disk);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);
    g_assert_cmpint(qemuBlockJobGetInfo(vm.jobs, vm.mon, disk, &info, &error), ==, 0);

    testVMStop(&vm);
    testAssertGuestData(vm.base);
    testVMFree(&vm);
}

static void
testCommitActiveAbort(void)
{
    g_autoptr(GPtrArray) events =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuBlockJobEventFree);
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    qvirDomainDiskDef *disk;
    TestVM vm;

    testVMInitImages(&vm);
    testVMStart(&vm, "pc", "none", NULL);
    disk = testVMDisk(&vm, "vda");
    before = testChainString(disk->src);

    g_assert_true(qemuBlockJobCommit(vm.jobs, vm.mon, vm.def, disk, NULL, NULL, TRUE, 0, &error));
    g_assert_true(qemuBlockJobWait(vm.jobs, "vda", TRUE, 30000));
    /* abort without pivot: QEMU reports the ready mirror as "completed", nothing pivoted */
    g_assert_true(qemuBlockJobAbort(vm.jobs, vm.mon, disk, FALSE, &error));
    g_assert_no_error(error);
    testVMWaitJob(&vm, "vda", events);
    g_assert_cmpuint(events->len, ==, 2);
    testAssertEvent(events, 1, QEMU_BLOCKJOB_TYPE_ACTIVE_COMMIT, QEMU_BLOCKJOB_STATUS_CANCELED,
                    vm.top);

    after = testChainString(disk->src);
    g_assert_cmpstr(after, ==, before);
    testAssertDiskMatchesQemu(&vm, disk);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);
    testVMFree(&vm);
}

/* A throttled pull shows progress, and cancelling it leaves the chain. */
static void
testInfoAndCancel(void)
{
    g_autoptr(GPtrArray) events =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuBlockJobEventFree);
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    qemuBlockJobInfo info;
    qvirDomainDiskDef *disk;
    TestVM vm;

    testVMInitImages(&vm);
    testVMStart(&vm, "pc", "none", NULL);
    disk = testVMDisk(&vm, "vda");
    before = testChainString(disk->src);

    g_assert_true(qemuBlockJobPull(vm.jobs, vm.mon, vm.def, disk, NULL, 1024, &error));
    g_assert_no_error(error);
    g_assert_cmpint(qemuBlockJobGetInfo(vm.jobs, vm.mon, disk, &info, &error), ==, 1);
    g_assert_no_error(error);
    g_assert_cmpint(info.type, ==, QEMU_BLOCKJOB_TYPE_PULL);
    g_assert_cmpuint(info.bandwidth, ==, 1024);
    g_assert_cmpuint(info.end, ==, 16 * 1024 * 1024);
    g_assert_cmpuint(info.cur, <, info.end);

    /* one job per disk; a pull cannot pivot */
    g_assert_false(qemuBlockJobPull(vm.jobs, vm.mon, vm.def, disk, NULL, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_UNSUPPORTED);
    g_assert_cmpstr(error->message, ==,
                    "Operation not supported: disk 'vda' already in active block job");
    g_clear_error(&error);
    /* (libvirt checks readiness first: a pull is never ready) */
    g_assert_false(qemuBlockJobAbort(vm.jobs, vm.mon, disk, TRUE, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_BLOCK_COPY_ACTIVE);
    g_clear_error(&error);

    g_assert_true(qemuBlockJobAbort(vm.jobs, vm.mon, disk, FALSE, &error));
    g_assert_no_error(error);
    testVMWaitJob(&vm, "vda", events);
    testAssertEvent(events, 0, QEMU_BLOCKJOB_TYPE_PULL, QEMU_BLOCKJOB_STATUS_CANCELED, vm.top);
    after = testChainString(disk->src);
    g_assert_cmpstr(after, ==, before);
    testAssertDiskMatchesQemu(&vm, disk);
    testAssertNodesAreCached(&vm);

    g_assert_false(qemuBlockJobAbort(vm.jobs, vm.mon, disk, FALSE, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_assert_cmpstr(error->message, ==,
                    "invalid argument: disk vda does not have an active block job");
    testVMFree(&vm);
}

/* Every refused request leaves the cache, QEMU's graph and the files as they were. */
static void
testErrors(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *single = NULL;
    g_autofree char *extra = NULL;
    g_autofree char *before = NULL;
    g_autofree char *files = NULL;
    g_autofree char *after = NULL;
    g_autofree char *filesAfter = NULL;
    qvirDomainDiskDef *disk;
    qvirDomainDiskDef *vdb;
    TestVM vm;

    testVMInitImages(&vm);
    single = g_build_filename(vm.dir, "single.qcow2", NULL);
    testImgCreate(single, NULL, "1M");
    extra = g_strdup_printf("    <disk type='file' device='disk'>\n"
                            "      <driver name='qemu' type='qcow2'/>\n"
                            "      <source file='%s'/>\n"
                            "      <target dev='vdb' bus='virtio'/>\n"
                            "    </disk>\n",
                            single);
    testVMStart(&vm, "pc", "none", extra);
    disk = testVMDisk(&vm, "vda");
    vdb = testVMDisk(&vm, "vdb");
    before = testChainString(disk->src);
    files = testDirSnapshot(vm.dir);

    /* commit base that is not in the chain */
    g_assert_false(
        qemuBlockJobCommit(vm.jobs, vm.mon, vm.def, disk, vm.mid, single, FALSE, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    {
        g_autofree char *msg = g_strdup_printf(
            "could not find image '%s' beneath '%s' in chain for 'vda'", single, vm.mid);
        g_assert_cmpstr(error->message, ==, msg);
    }
    g_clear_error(&error);

    /* base above top */
    g_assert_false(
        qemuBlockJobCommit(vm.jobs, vm.mon, vm.def, disk, vm.base, vm.mid, FALSE, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);

    /* the active layer without the active flag, and the flag on an inner layer */
    g_assert_false(qemuBlockJobCommit(vm.jobs, vm.mon, vm.def, disk, NULL, NULL, FALSE, 0, &error));
    g_assert_cmpstr(error->message, ==, "commit of 'vda' active layer requires active flag");
    g_clear_error(&error);
    g_assert_false(
        qemuBlockJobCommit(vm.jobs, vm.mon, vm.def, disk, vm.mid, NULL, TRUE, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);

    /* pull with a base that is the top itself / not below it */
    g_assert_false(qemuBlockJobPull(vm.jobs, vm.mon, vm.def, disk, vm.top, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);

    /* pull and commit on a disk with no backing */
    g_assert_false(qemuBlockJobPull(vm.jobs, vm.mon, vm.def, vdb, NULL, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    {
        g_autofree char *msg =
            g_strdup_printf("top '%s' in chain for 'vdb' has no backing file", single);
        g_assert_cmpstr(error->message, ==, msg);
    }
    g_clear_error(&error);
    g_assert_false(qemuBlockJobCommit(vm.jobs, vm.mon, vm.def, vdb, NULL, NULL, TRUE, 0, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);

    after = testChainString(disk->src);
    g_assert_cmpstr(after, ==, before);
    testAssertDiskMatchesQemu(&vm, disk);
    testAssertDiskMatchesQemu(&vm, vdb);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);
    testVMStop(&vm);
    filesAfter = testDirSnapshot(vm.dir);
    g_assert_cmpstr(filesAfter, ==, files);
    testAssertGuestData(vm.top);
    testVMFree(&vm);
}

static gboolean
testQemuHasJobs(TestVM *vm)
{
    g_autoptr(JsonNode) ret = testQMP(vm, "query-block-jobs", NULL);

    return json_array_get_length(json_node_get_array(ret)) > 0;
}

static void
testWaitQemuJobsGone(TestVM *vm)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    while (testQemuHasJobs(vm)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(20000);
    }
}

/*
 * The daemon restarts while jobs run or end: a running job is adopted from its QEMU id and
 * completes normally; jobs that ended unseen are found in QEMU's graph and the cache
 * follows with the same edits. No image is read in either case.
 */
static void
testReconnect(void)
{
    g_autoptr(GPtrArray) events =
        g_ptr_array_new_with_free_func((GDestroyNotify)qemuBlockJobEventFree);
    g_autoptr(GError) error = NULL;
    g_autofree char *other = NULL;
    g_autofree char *extra = NULL;
    qvirDomainDiskDef *vda;
    qvirDomainDiskDef *vdb;
    qemuBlockJobInfo info;
    TestVM vm;

    testVMInitImages(&vm);
    other = g_build_filename(vm.dir, "other.qcow2", NULL);
    {
        g_autofree char *obase = g_build_filename(vm.dir, "other-base.qcow2", NULL);
        g_autofree char *omid = g_build_filename(vm.dir, "other-mid.qcow2", NULL);

        testImgCreate(obase, NULL, "4M");
        testImgWrite(obase, 0x61, "0", "64k");
        testImgCreate(omid, "other-base.qcow2", NULL);
        testImgWrite(omid, 0x62, "1M", "64k");
        testImgCreate(other, "other-mid.qcow2", NULL);
    }
    extra = g_strdup_printf("    <disk type='file' device='disk'>\n"
                            "      <driver name='qemu' type='qcow2' cache='none'/>\n"
                            "      <source file='%s'/>\n"
                            "      <target dev='vdb' bus='virtio'/>\n"
                            "    </disk>\n",
                            other);
    testVMStart(&vm, "q35", "none", extra);
    vda = testVMDisk(&vm, "vda");
    vdb = testVMDisk(&vm, "vdb");

    /* vda: a slow pull runs across the restart */
    g_assert_true(qemuBlockJobPull(vm.jobs, vm.mon, vm.def, vda, vm.base, 1024, &error));
    g_assert_no_error(error);
    testVMRestartJobs(&vm, TRUE);

    /* vdb: an inner commit completes while nobody listens (its end event is lost) */
    {
        g_autoptr(qemuBlockJobs) tmp = qemuBlockJobsNew();

        g_assert_true(qemuBlockJobCommit(tmp, vm.mon, vm.def, vdb, vdb->src->backingStore->path,
                                         NULL, FALSE, 0, &error));
        g_assert_no_error(error);
    }
    {
        gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

        /* only vda's throttled pull is left in QEMU once vdb's commit is done */
        for (;;) {
            g_autoptr(JsonNode) ret = testQMP(&vm, "query-block-jobs", NULL);

            if (json_array_get_length(json_node_get_array(ret)) == 1)
                break;
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            g_usleep(20000);
        }
    }

    testVMRestartJobs(&vm, FALSE);
    g_assert_true(qemuBlockJobsReconnect(vm.jobs, vm.mon, vm.def, &error));
    g_assert_no_error(error);

    /* vdb followed QEMU: other-mid was committed into other-base */
    g_assert_cmpuint(qvirStorageSourceChainLength(vdb->src), ==, 2);
    {
        g_autofree char *obase = g_build_filename(vm.dir, "other-base.qcow2", NULL);

        g_assert_cmpstr(vdb->src->backingStore->path, ==, obase);
        g_assert_cmpstr(vdb->src->backingStoreRaw, ==, obase);
    }
    testAssertDiskMatchesQemu(&vm, vdb);

    /* vda's pull was adopted: it reports progress and completes as if nothing happened */
    g_assert_true(qemuBlockJobsDiskHasJob(vm.jobs, "vda"));
    g_assert_cmpint(qemuBlockJobGetInfo(vm.jobs, vm.mon, vda, &info, &error), ==, 1);
    g_assert_cmpint(info.type, ==, QEMU_BLOCKJOB_TYPE_PULL);
    {
        JsonObject *args = json_object_new();
        g_autoptr(JsonNode) ret = NULL;
        g_autoptr(JsonNode) list = testQMP(&vm, "query-block-jobs", NULL);
        JsonObject *job = json_array_get_object_element(json_node_get_array(list), 0);

        json_object_set_string_member(args, "device", json_object_get_string_member(job, "device"));
        json_object_set_int_member(args, "speed", 0);
        ret = testQMP(&vm, "block-job-set-speed", args);
    }
    testVMWaitJob(&vm, "vda", events);
    testAssertEvent(events, 0, QEMU_BLOCKJOB_TYPE_PULL, QEMU_BLOCKJOB_STATUS_COMPLETED, vm.top);
    g_assert_cmpuint(qvirStorageSourceChainLength(vda->src), ==, 2);
    g_assert_cmpstr(vda->src->backingStore->path, ==, vm.base);
    testAssertDiskMatchesQemu(&vm, vda);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);

    /* a job that ends entirely while the daemon is away */
    testVMRestartJobs(&vm, TRUE);
    {
        g_autoptr(qemuBlockJobs) tmp = qemuBlockJobsNew();

        g_assert_true(qemuBlockJobPull(tmp, vm.mon, vm.def, vda, NULL, 0, &error));
        g_assert_no_error(error);
        testWaitQemuJobsGone(&vm);
    }
    testVMRestartJobs(&vm, FALSE);
    g_assert_true(qemuBlockJobsReconnect(vm.jobs, vm.mon, vm.def, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(qvirStorageSourceChainLength(vda->src), ==, 1);
    testAssertDiskMatchesQemu(&vm, vda);
    testAssertNodesAreCached(&vm);
    testAssertNoProbe(&vm);
    /* nothing to do the second time */
    g_assert_true(qemuBlockJobsReconnect(vm.jobs, vm.mon, vm.def, &error));
    testAssertNodesAreCached(&vm);

    testVMStop(&vm);
    testAssertGuestData(vm.top);
    g_assert_true(testImgHas(other, 0x61, "0", "64k"));
    g_assert_true(testImgHas(other, 0x62, "1M", "64k"));
    testVMFree(&vm);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    testCapsInit();

    g_test_add_func("/blockjob/pull/all", testPullAll);
    g_test_add_func("/blockjob/pull/base", testPullToBase);
    g_test_add_func("/blockjob/commit/inner", testCommitInner);
    g_test_add_func("/blockjob/commit/active-pivot", testCommitActivePivot);
    g_test_add_func("/blockjob/commit/active-abort", testCommitActiveAbort);
    g_test_add_func("/blockjob/info-and-cancel", testInfoAndCancel);
    g_test_add_func("/blockjob/errors", testErrors);
    g_test_add_func("/blockjob/reconnect", testReconnect);

    int ret = g_test_run();
    qemuCapsFree(testCaps);
    return ret;
}
