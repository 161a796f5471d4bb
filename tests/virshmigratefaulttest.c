/*
 * virshmigratefaulttest.c: a daemon dies in the phases of a live migration (virsh migrate
 * --live, client-managed v3 with parameters) that virshmigratetest does not reach: the
 * destination inside Prepare before it answered, between Prepare and Perform, inside
 * Finish after the state went over; the source between Prepare and Perform; and Prepare
 * fails after it created the copy's image. Real processes, no hooks in the product: the
 * test freezes a daemon with SIGSTOP at a moment it can see from outside (the incoming
 * QEMU appears, its ports listen, the source pauses for the switch-over, a call waits
 * unread on the frozen daemon's socket), kills it with SIGKILL and starts it again.
 *
 * Each time the domain runs on the source as before (resumed where the migration had
 * paused it), its live chain is the one QEMU has open, and the destination has nothing:
 * no domain, no QEMU, no status or marker file, no scratch directory, no image it created
 * for --copy-storage-all (in its pool's list neither). Last, the destination dies inside
 * Finish after it resumed the guest (strace kills it at the end of the job): it keeps the
 * guest, as libvirt does. The two daemons and the guest are started once; each case
 * leaves them as it found them.
 *
 * Ports: incoming migrations listen on 127.0.0.1, ports 21150-21199 only (moved by
 * QVIRT_MIGRATE_TEST_PORT_BASE: migratetestutils.h).
 */
#include "migratetestutils.h"

#define PORT_A migratePort(21150)
#define PORT_B migratePort(21175)
#define PORTS 25

static char *dstDir; /* B's storage pool: --copy-storage-all creates its images here */
static char *dstTop;
static char *dstXmlPath; /* the domain's XML for B, with its top in the pool */
static char *chain;      /* the domain's chain on A before any case */

/* QEMU processes under H's root (the incoming one only: INCOMING), as pids; zombies left
 * to a parent that is gone do not count. */
static GArray *
testQemuPids(const Host *h, gboolean incoming)
{
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autofree char *cmdline = NULL;
        g_autofree char *stat = NULL;
        g_autofree char *argv0 = NULL;
        gboolean found = FALSE;
        gboolean wanted = !incoming;
        gsize len = 0;
        pid_t pid;

        if (!g_ascii_isdigit(name[0]))
            continue;
        path = g_strdup_printf("/proc/%s/cmdline", name);
        if (!g_file_get_contents(path, &cmdline, &len, NULL) || len == 0)
            continue;
        argv0 = g_path_get_basename(cmdline);
        if (!g_str_has_prefix(argv0, "qemu-system"))
            continue;
        for (gsize off = 0; off < len && !found; off += strlen(cmdline + off) + 1)
            found = strstr(cmdline + off, h->root) != NULL;
        for (gsize off = 0; off < len && found && !wanted; off += strlen(cmdline + off) + 1)
            wanted = strcmp(cmdline + off, "-incoming") == 0;
        if (!found || !wanted)
            continue;
        g_clear_pointer(&path, g_free);
        path = g_strdup_printf("/proc/%s/stat", name);
        if (g_file_get_contents(path, &stat, NULL, NULL) && strstr(stat, ") Z "))
            continue;
        pid = atoi(name);
        g_array_append_val(pids, pid);
    }
    return pids;
}

/* The first incoming QEMU under H's root, or 0. */
static pid_t
testIncomingQemu(const Host *h)
{
    g_autoptr(GArray) pids = testQemuPids(h, TRUE);

    return pids->len ? g_array_index(pids, pid_t, 0) : 0;
}

/* Wait for B's incoming QEMU of the migration RUN (in THREAD) runs. */
static pid_t
testWaitIncomingQemu(GThread *thread, MigrateRun *run)
{
    pid_t qemu = 0;

    for (guint i = 0; i < 60 * 200 && !(qemu = testIncomingQemu(&hostB)); i++)
        g_usleep(5 * 1000);
    if (!qemu) {
        g_thread_join(thread);
        g_error("no incoming QEMU on B; virsh migrate: %d %s%s", run->res.rc, run->res.out,
                run->res.err);
    }
    return qemu;
}

/* TCP sockets listening on 127.0.0.1, ports MIN..MIN+PORTS-1. */
static guint
testListening(unsigned int min)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    guint n = 0;

    g_assert_true(g_file_get_contents("/proc/net/tcp", &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 1; lines[i]; i++) {
        unsigned int addr, port, state;

        /* "  0: 0100007F:5214 00000000:0000 0A ..." */
        if (sscanf(lines[i], " %*u: %8X:%4X %*8X:%*4X %2X", &addr, &port, &state) == 3 &&
            addr == 0x0100007F && state == 0x0A && port >= min && port < min + PORTS)
            n++;
    }
    return n;
}

/* The most bytes waiting unread on a connected Unix socket of H's daemon (ss(8) reads
 * them from the kernel). A frozen daemon's client request shows there: a keepalive is 28
 * bytes, a migration call with its parameters and cookie hundreds. */
static guint
testDaemonQueued(const Host *h)
{
    g_autofree char *needle = g_strdup_printf(",pid=%d,", (int)h->pid);
    const char *argv[] = {"ss", "-xnpH", "state", "established", NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) lines = NULL;
    guint most = 0;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("ss failed (bash run.sh installs iproute2): %s", err);
    lines = g_strsplit(out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        guint queued;

        /* "u_str 1234 0 PATH INODE * PEER users:(("qvirtd",pid=N,fd=M))" */
        if (strstr(lines[i], needle) && sscanf(lines[i], "%*s %u", &queued) == 1)
            most = MAX(most, queued);
    }
    return most;
}

/* Wait until frozen H has a client's call of more than 100 bytes waiting. */
static void
testWaitQueued(const Host *h)
{
    for (guint i = 0; i < 60 * 20; i++) {
        if (testDaemonQueued(h) > 100)
            return;
        g_usleep(50 * 1000);
    }
    g_error("no call waits for the frozen daemon %s", h->tag);
}

static void
hostSignal(const Host *h, int sig)
{
    g_assert_cmpint(h->pid, >, 0);
    g_assert_cmpint(kill(h->pid, sig), ==, 0);
}

/* Wait (20 s at most) until PID has gone. */
static gboolean
testPidGone(const Host *h, pid_t pid)
{
    for (guint i = 0; i < 400; i++) {
        g_autoptr(GArray) pids = testQemuPids(h, FALSE);
        gboolean alive = FALSE;

        for (guint j = 0; j < pids->len; j++)
            alive |= g_array_index(pids, pid_t, j) == pid;
        if (!alive)
            return TRUE;
        g_usleep(50 * 1000);
    }
    return FALSE;
}

/* The image B created for the copy is gone, from its pool too: a new migration can create
 * it again. */
static void
testAssertNoImage(void)
{
    g_autofree char *vols = VIRSH_HOST_OK(&hostB, "vol-list", "dst");

    g_assert_false(g_file_test(dstTop, G_FILE_TEST_EXISTS));
    g_assert_null(strstr(vols, "top.qcow2"));
}

/* B keeps no scratch directory of the domain (its master key among them). */
static void
testAssertNoDomainDir(void)
{
    g_autofree char *dirPath = g_build_filename(hostB.root, "lib", "qemu", NULL);
    g_autoptr(GDir) dir = g_dir_open(dirPath, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        if (g_str_has_prefix(name, "domain-") && g_str_has_suffix(name, "-" VM))
            g_error("B keeps %s/%s", dirPath, name);
    }
}

/* B (restarted if it was killed) has nothing of the migration left. QEMU, the PID of the
 * incoming QEMU the test saw (0: none). */
static void
testAssertDestClean(pid_t qemu)
{
    g_autofree char *state = NULL;
    g_autofree char *status = g_build_filename(hostB.root, "run", "qemu", VM ".xml", NULL);
    g_autofree char *marker = g_build_filename(hostB.root, "run", "qemu", VM ".migration-in", NULL);
    g_autoptr(GArray) pids = NULL;

    if (!hostB.pid)
        hostStart(&hostB, HOST_B, PORT_B);
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "none");
    if (qemu)
        g_assert_true(testPidGone(&hostB, qemu));
    pids = testQemuPids(&hostB, FALSE);
    g_assert_cmpuint(pids->len, ==, 0);
    g_assert_false(g_file_test(status, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(testListening(PORT_B), ==, 0);
    testAssertNoImage();
    testAssertNoDomainDir();
}

static const char *migrateArgsCopy[] = {"migrate",
                                        "--live",
                                        "--unsafe",
                                        "--copy-storage-all",
                                        "--xml",
                                        NULL, /* 5: the destination's XML */
                                        "--listen-address",
                                        "127.0.0.1",
                                        "--migrateuri",
                                        "tcp://127.0.0.1",
                                        VM,
                                        NULL, /* 11: B */
                                        NULL};

/* Start virsh migrate (copying the disks into B's pool) in RUN's thread. */
static GThread *
testMigrateCopyStart(MigrateRun *run, const char **args)
{
    memcpy(args, migrateArgsCopy, sizeof(migrateArgsCopy));
    args[5] = dstXmlPath;
    args[11] = hostB.uri;
    run->src = &hostA;
    run->args = args;
    return g_thread_new("migrate", testMigrateThread, run);
}

/* A's QEMU's migration: "completed" with its total time, or "none". */
static char *
testSourceMigration(void)
{
    g_autofree char *out =
        VIRSH_HOST_OK(&hostA, "qemu-monitor-command", VM, "{\"execute\":\"query-migrate\"}");
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *ret;

    g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
    ret =
        json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)), "return");
    if (!json_object_has_member(ret, "status"))
        return g_strdup("none");
    return g_strdup_printf("%s %" G_GINT64_FORMAT, json_object_get_string_member(ret, "status"),
                           json_object_has_member(ret, "total-time")
                               ? json_object_get_int_member(ret, "total-time")
                               : -1);
}

/* How far A got: SWITCHEDOVER, its QEMU sent everything (a new completed migration, the
 * failed job of the API); else the migration never reached Perform (nothing changed). */
static void
testAssertSourceJob(gboolean switchedOver)
{
    static char *last;
    g_autofree char *info = VIRSH_HOST_OK(&hostA, "domjobinfo", VM, "--completed");
    g_autofree char *now = testSourceMigration();

    g_test_message("on A: QEMU's migration %s; the last job: %s", now, info);
    if (switchedOver) {
        g_assert_true(g_str_has_prefix(now, "completed "));
        g_assert_cmpstr(now, !=, last ? last : "");
        g_assert_nonnull(strstr(info, "Failed"));
    } else {
        g_assert_cmpstr(now, ==, last ? last : "none");
    }
    g_free(last);
    last = g_steal_pointer(&now);
}

static void
testJoinFailed(GThread *thread, MigrateRun *run)
{
    g_thread_join(thread);
    g_assert_cmpint(run->res.rc, !=, 0);
    g_test_message("the migration failed: %s", run->res.err);
    virshResultClear(&run->res);
}

/*
 * Prepare fails after it made the image: the destination's QEMU cannot open the guest's
 * second disk. The image goes with the failure, from the pool as well.
 */
static void
testPrepareFails(void)
{
    g_autofree char *missing = g_build_filename(daemonEnv.root, "nowhere", "counter.raw", NULL);
    g_autofree char *good = testDomainXML(guestKernel, guestInitrd, dstTop);
    GString *xml = g_string_new(good);
    g_autofree char *bad = NULL;
    g_autofree char *badPath = NULL;
    g_autofree char *state = NULL;
    const char *args[G_N_ELEMENTS(migrateArgsCopy)];

    g_assert_cmpuint(g_string_replace(xml, counterImg, missing, 0), ==, 1);
    bad = g_string_free(xml, FALSE);
    badPath = daemonWriteFile("mig1-bad.xml", bad);
    memcpy(args, migrateArgsCopy, sizeof(migrateArgsCopy));
    args[5] = badPath;
    args[11] = hostB.uri;
    for (guint i = 0; i < 2; i++) {
        g_auto(VirshResult) r = {0};

        virshArgvUri(&r, hostA.uri, args);
        g_assert_cmpint(r.rc, !=, 0);
        if (!strstr(r.err, missing))
            g_error("expected '%s' in: %s", missing, r.err);
        testAssertNoImage();
    }
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "none");
    testAssertSourceJob(FALSE);
    testAssertSurvived(chain);
}

/*
 * B dies inside Prepare, before it answered: it has made the image the copy goes into and
 * started the incoming QEMU, which outlives it. The source never began to send.
 */
static void
testDestKilledInPrepare(void)
{
    const char *args[G_N_ELEMENTS(migrateArgsCopy)];
    MigrateRun run = {0};
    g_autofree char *status = g_build_filename(hostB.root, "run", "qemu", VM ".xml", NULL);
    GThread *thread = testMigrateCopyStart(&run, args);
    pid_t qemu = testWaitIncomingQemu(thread, &run);

    /* the new QEMU first: B's start waits on its answers and cannot get further */
    g_assert_cmpint(kill(qemu, SIGSTOP), ==, 0);
    hostSignal(&hostB, SIGSTOP);
    /* frozen inside Prepare: the image is there, the domain's status is not yet */
    g_assert_true(g_file_test(dstTop, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(status, G_FILE_TEST_EXISTS));
    hostKill(&hostB);
    testJoinFailed(thread, &run);

    /* the orphan lives on, for B's restart to find */
    g_assert_cmpint(kill(qemu, SIGCONT), ==, 0);
    testAssertDestClean(qemu);
    testAssertSourceJob(FALSE);
    testAssertSurvived(chain);
}

/*
 * B answered Prepare (its QEMU listens for the state and serves the disks over NBD) and
 * dies before Perform begins: the source is frozen meanwhile, so Perform only starts once
 * B is gone. It copies and migrates into B's orphaned QEMU, Finish cannot reach B, and
 * Confirm (cancelled) resumes the guest the switch-over paused.
 */
static void
testDestKilledBeforePerform(void)
{
    const char *args[G_N_ELEMENTS(migrateArgsCopy)];
    MigrateRun run = {0};
    GThread *thread = NULL;
    pid_t qemu = 0;
    guint i;

    thread = testMigrateCopyStart(&run, args);
    /* Begin is over once B's QEMU exists: A has nothing to do until Perform */
    qemu = testWaitIncomingQemu(thread, &run);
    hostSignal(&hostA, SIGSTOP);
    /* the state's port and the disks' NBD port: Prepare's last step */
    for (i = 0; i < 60 * 20 && testListening(PORT_B) < 2; i++)
        g_usleep(50 * 1000);
    g_assert_cmpuint(testListening(PORT_B), ==, 2);
    /* B answered: virsh's Perform waits for frozen A */
    testWaitQueued(&hostA);
    hostKill(&hostB);
    hostSignal(&hostA, SIGCONT);
    testJoinFailed(thread, &run);

    testAssertSourceJob(TRUE);
    testAssertSurvived(chain);
    testAssertDestClean(qemu);
}

/*
 * B dies inside Finish: it was frozen while the memory went over, the source's QEMU sent
 * everything and paused, and virsh's Finish waits on frozen B. The source learns nothing
 * from B; Confirm (cancelled) resumes the guest there.
 */
static void
testDestKilledInFinish(void)
{
    const char *args[] = {
        "migrate", "--live",           "--unsafe",  "--persistent", "--bandwidth",
        "1",       "--listen-address", "127.0.0.1", "--migrateuri", "tcp://127.0.0.1",
        VM,        hostB.uri,          NULL};
    MigrateRun run = {.src = &hostA, .args = args};
    GThread *thread = g_thread_new("migrate", testMigrateThread, &run);
    pid_t qemu;
    guint i;

    testWaitJob(&hostA, "Memory processed");
    hostSignal(&hostB, SIGSTOP);
    qemu = testIncomingQemu(&hostB);
    g_assert_cmpint(qemu, >, 0);
    g_free(VIRSH_HOST_OK(&hostA, "migrate-setspeed", VM, "1000"));
    /* Perform is over: A's QEMU sent everything and waits for Confirm */
    for (i = 0; i < 60 * 20; i++) {
        g_autofree char *state = testState(&hostA);

        if (strcmp(state, "paused") == 0)
            break;
        g_usleep(50 * 1000);
    }
    g_assert_cmpuint(i, <, 60 * 20);
    /* virsh's Finish waits for frozen B */
    testWaitQueued(&hostB);
    hostKill(&hostB);
    testJoinFailed(thread, &run);

    testAssertSourceJob(TRUE);
    testAssertSurvived(chain);
    testAssertDestClean(qemu);
}

/*
 * The source daemon dies between Prepare and Perform (frozen, with virsh's Perform
 * waiting): virsh cancels the migration on B with Finish, B takes back its QEMU and the
 * image, and the restarted source finds its guest running, untouched.
 */
static void
testSourceKilledBeforePerform(void)
{
    const char *args[G_N_ELEMENTS(migrateArgsCopy)];
    MigrateRun run = {0};
    GThread *thread = testMigrateCopyStart(&run, args);
    pid_t qemu = testWaitIncomingQemu(thread, &run);

    hostSignal(&hostA, SIGSTOP);
    testWaitQueued(&hostA);
    hostKill(&hostA);
    testJoinFailed(thread, &run);
    /* B was not restarted: virsh's cancelled Finish did it all */
    g_assert_cmpint(hostB.pid, >, 0);
    testAssertDestClean(qemu);

    hostStart(&hostA, HOST_A, PORT_A);
    testAssertSourceJob(FALSE);
    testAssertSurvived(chain);
}

/* Attach strace to H's daemon: the daemon dies of SIGKILL as it unlinks PATH (the unlink
 * itself skipped), at that precise point of its code and nowhere else. */
static GPid
testKillAtUnlink(const Host *h, const char *path)
{
    return qvirTestKillAtSyscall(h->pid, path, "unlink,unlinkat", "error=ENOENT:signal=SIGKILL");
}

/* H's daemon died of SIGKILL (not at our hand). Its tracer TRACER, which followed the
 * daemon's QEMU too, lets that go and ends. */
static void
hostReapKilled(Host *h, GPid tracer)
{
    int status = 0;

    g_assert_cmpint(waitpid(h->pid, &status, 0), ==, h->pid);
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
    h->pid = 0;
    g_assert_cmpint(kill(tracer, SIGTERM), ==, 0);
    g_assert_cmpint(waitpid(tracer, &status, 0), ==, tracer);
}

/*
 * B dies inside Finish after it resumed the guest, before it answered: strace kills it
 * as it ends the job (its marker's unlink). The guest's newest state runs on B and B's
 * QEMU holds the images, so A's Confirm (cancelled) cannot resume them: A stays paused.
 * The restarted B keeps the running guest, as libvirt 9.0 keeps a domain whose CPUs ran
 * in Finish; stopping it would leave the guest running nowhere, and resuming A would run
 * an older state over disks B's guest wrote. Then A's paused copy goes and the guest
 * migrates back to A.
 */
static void
testDestKilledAfterResume(void)
{
    const char *args[] = {
        "migrate",      "--live",          "--unsafe", "--listen-address", "127.0.0.1",
        "--migrateuri", "tcp://127.0.0.1", VM,         hostB.uri,          NULL};
    g_autofree char *marker = g_build_filename(hostB.root, "run", "qemu", VM ".migration-in", NULL);
    g_autofree char *state = NULL;
    MigrateRun run = {.src = &hostA, .args = args};
    GPid tracer = testKillAtUnlink(&hostB, marker);
    GThread *thread = g_thread_new("migrate", testMigrateThread, &run);
    guint64 before;

    testJoinFailed(thread, &run);
    hostReapKilled(&hostB, tracer);
    g_assert_true(g_file_test(marker, G_FILE_TEST_EXISTS));
    state = testState(&hostA);
    g_assert_cmpstr(state, ==, "paused");
    g_clear_pointer(&state, g_free);

    hostStart(&hostB, HOST_B, PORT_B);
    g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "running");
    g_clear_pointer(&state, g_free);
    before = testCounter();
    g_assert_true(testCounterPasses(before + 5, 60));
    testAssertChain(&hostB);

    /* the guest comes home */
    g_free(VIRSH_HOST_OK(&hostA, "destroy", VM));
    g_free(VIRSH_HOST_OK(&hostB, "migrate", "--live", "--unsafe", "--listen-address", "127.0.0.1",
                         "--migrateuri", "tcp://127.0.0.1", VM, hostA.uri));
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "none");
    testAssertSurvived(chain);
}

/* ---- the source's migration job (Begin to Confirm) -------------------------------- */

static const char *migrateArgsShared[] = {
    "migrate",   "--live",       "--unsafe",        "--listen-address",
    "127.0.0.1", "--migrateuri", "tcp://127.0.0.1", VM,
    NULL, /* 8: B */
    NULL};

/* The virsh process of this test's migration to B (its arguments name B's socket). */
static pid_t
testVirshMigratePid(void)
{
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", name);
        g_autofree char *cmdline = NULL;
        g_autofree char *argv0 = NULL;
        gboolean migrate = FALSE, toB = FALSE;
        gsize len = 0;

        if (!g_ascii_isdigit(name[0]) || !g_file_get_contents(path, &cmdline, &len, NULL) ||
            len == 0)
            continue;
        argv0 = g_path_get_basename(cmdline);
        if (strcmp(argv0, "virsh") != 0)
            continue;
        for (gsize off = 0; off < len; off += strlen(cmdline + off) + 1) {
            migrate |= strcmp(cmdline + off, "migrate") == 0;
            toB |= strcmp(cmdline + off, hostB.uri) == 0;
        }
        if (migrate && toB)
            return atoi(name);
    }
    return 0;
}

/* SIGKILL virsh migrate (run by THREAD): the source sees its client's connection close. */
static void
testKillVirsh(GThread *thread, MigrateRun *run)
{
    pid_t virsh = testVirshMigratePid();

    g_assert_cmpint(virsh, >, 0);
    g_assert_cmpint(kill(virsh, SIGKILL), ==, 0);
    g_thread_join(thread);
    g_assert_cmpint(run->res.rc, !=, 0);
    virshResultClear(&run->res);
}

/* A has no migration job any more (its close callback ran): domjobinfo says None. */
static void
testWaitNoJob(void)
{
    for (guint i = 0; i < 400; i++) {
        g_autofree char *info = VIRSH_HOST_OK(&hostA, "domjobinfo", VM);

        if (strstr(info, "None"))
            return;
        g_usleep(50 * 1000);
    }
    g_error("the migration job stays on A");
}

/* The guest goes to B and back: nothing of an earlier migration is in the way. */
static void
testMigrateThereAndBack(void)
{
    g_autofree char *state = NULL;
    const char *args[G_N_ELEMENTS(migrateArgsShared)];

    memcpy(args, migrateArgsShared, sizeof(migrateArgsShared));
    args[8] = hostB.uri;
    g_free(virshHostOk(&hostA, args));
    state = testState(&hostB);
    g_assert_cmpstr(state, ==, "running");
    args[8] = hostA.uri;
    g_free(virshHostOk(&hostB, args));
    testAssertSurvived(chain);
}

typedef struct {
    const char *const *args;
    VirshResult res;
} Blocked;

static gpointer
testBlockedThread(gpointer data)
{
    Blocked *b = data;

    virshArgvUri(&b->res, hostA.uri, b->args);
    return NULL;
}

/*
 * virsh migrate stalls after Begin (B frozen inside Prepare): A's migration job holds the
 * domain, as libvirt 9.0's async job does. Calls that change the domain (attach-disk,
 * resume) wait for it and give up after 30 s with libvirt's error, naming the call that
 * holds it; domjobinfo and dominfo answer meanwhile. Then virsh dies: A's job goes with
 * its connection, the guest runs as it did, and the next migrations work.
 */
static void
testJobAfterBegin(void)
{
    const char *args[G_N_ELEMENTS(migrateArgsShared)];
    const char *attach[] = {"attach-disk", VM, counterImg, "vdc", "--live", NULL};
    const char *resume[] = {"resume", VM, NULL};
    Blocked blocked[] = {{.args = attach}, {.args = resume}};
    GThread *threads[G_N_ELEMENTS(blocked)];
    MigrateRun run = {.src = &hostA, .args = args};
    g_autofree char *info = NULL;
    g_autofree char *state = NULL;
    GThread *thread;
    pid_t qemu;
    gint64 start;

    memcpy(args, migrateArgsShared, sizeof(migrateArgsShared));
    args[8] = hostB.uri;
    thread = g_thread_new("migrate", testMigrateThread, &run);
    qemu = testWaitIncomingQemu(thread, &run);
    g_assert_cmpint(kill(qemu, SIGSTOP), ==, 0);
    hostSignal(&hostB, SIGSTOP);

    info = VIRSH_HOST_OK(&hostA, "domjobinfo", VM);
    g_assert_nonnull(strstr(info, "Unbounded"));
    g_assert_nonnull(strstr(info, "Outgoing migration"));
    g_clear_pointer(&info, g_free);
    start = g_get_monotonic_time();
    for (guint i = 0; i < G_N_ELEMENTS(blocked); i++)
        threads[i] = g_thread_new("blocked", testBlockedThread, &blocked[i]);
    /* what reads goes on while they wait */
    info = VIRSH_HOST_OK(&hostA, "dominfo", VM);
    g_assert_nonnull(strstr(info, "running"));
    g_clear_pointer(&info, g_free);
    info = VIRSH_HOST_OK(&hostA, "domjobinfo", VM);
    g_assert_nonnull(strstr(info, "Outgoing migration"));
    for (guint i = 0; i < G_N_ELEMENTS(blocked); i++) {
        g_thread_join(threads[i]);
        g_test_message("%s: %s", blocked[i].args[0], blocked[i].res.err);
        g_assert_cmpint(blocked[i].res.rc, !=, 0);
        if (!strstr(blocked[i].res.err,
                    "error: Timed out during operation: cannot acquire state change lock (held "
                    "by monitor=remoteDispatchDomainMigrateBegin3Params)"))
            g_error("%s: not libvirt's error: %s", blocked[i].args[0], blocked[i].res.err);
        virshResultClear(&blocked[i].res);
    }
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 29 * G_USEC_PER_SEC);

    testKillVirsh(thread, &run);
    testWaitNoJob();
    /* the guest never stopped; a change goes through at once */
    g_free(VIRSH_HOST_OK(&hostA, "suspend", VM));
    g_free(VIRSH_HOST_OK(&hostA, "resume", VM));
    state = testState(&hostA);
    g_assert_cmpstr(state, ==, "running");

    /* B finishes its Prepare for nobody: the incoming domain goes with the client */
    g_assert_cmpint(kill(qemu, SIGCONT), ==, 0);
    hostSignal(&hostB, SIGCONT);
    g_assert_true(testPidGone(&hostB, qemu));
    testAssertDestClean(qemu);
    testMigrateThereAndBack();
}

/*
 * virsh dies after Perform (A's QEMU sent everything and paused; virsh's Finish waits on
 * frozen B): A's job ends with the connection and, as libvirt 9.0 leaves it, the guest
 * stays paused (reason migration, "migrating" in virsh): whether B runs it is unknown. B, killed
 * before its Finish ran, drops its incoming QEMU; the user resumes the guest on A, and the next
 * migrations work.
 */
static void
testJobAfterPerform(void)
{
    const char *args[] = {"migrate",          "--live",    "--unsafe",     "--bandwidth",     "1",
                          "--listen-address", "127.0.0.1", "--migrateuri", "tcp://127.0.0.1", VM,
                          hostB.uri,          NULL};
    MigrateRun run = {.src = &hostA, .args = args};
    GThread *thread = g_thread_new("migrate", testMigrateThread, &run);
    g_autofree char *state = NULL;
    g_autofree char *reason = NULL;
    pid_t qemu;
    guint i;

    testWaitJob(&hostA, "Memory processed");
    hostSignal(&hostB, SIGSTOP);
    qemu = testIncomingQemu(&hostB);
    g_assert_cmpint(qemu, >, 0);
    g_free(VIRSH_HOST_OK(&hostA, "migrate-setspeed", VM, "1000"));
    for (i = 0; i < 60 * 20; i++) {
        g_autofree char *now = testState(&hostA);

        if (strcmp(now, "paused") == 0)
            break;
        g_usleep(50 * 1000);
    }
    g_assert_cmpuint(i, <, 60 * 20);
    testWaitQueued(&hostB);

    testKillVirsh(thread, &run);
    testWaitNoJob();
    reason = VIRSH_HOST_OK(&hostA, "domstate", VM, "--reason");
    g_assert_cmpstr(g_strstrip(reason), ==, "paused (migrating)");

    hostKill(&hostB);
    testAssertDestClean(qemu);
    g_free(VIRSH_HOST_OK(&hostA, "resume", VM));
    state = testState(&hostA);
    g_assert_cmpstr(state, ==, "running");
    testAssertSurvived(chain);
    testMigrateThereAndBack();
}

int
main(int argc, char **argv)
{
    g_autofree char *xml = NULL;
    g_autofree char *xmlPath = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    migrateTestSetup("qvirt-migfault");
    dstDir = g_build_filename(daemonEnv.root, "dst", NULL);
    dstTop = g_build_filename(dstDir, "top.qcow2", NULL);
    g_assert_cmpint(g_mkdir(dstDir, 0755), ==, 0);
    hostPortSpan = PORTS;
    hostStart(&hostA, HOST_A, PORT_A);
    hostStart(&hostB, HOST_B, PORT_B);
    /* a pool that comes back with B after each restart */
    g_free(VIRSH_HOST_OK(&hostB, "pool-define-as", "dst", "dir", "--target", dstDir));
    g_free(VIRSH_HOST_OK(&hostB, "pool-start", "dst"));
    g_free(VIRSH_HOST_OK(&hostB, "pool-autostart", "dst"));

    /* the guest runs on A through every case */
    xml = testDomainXML(guestKernel, guestInitrd, topImg);
    xmlPath = daemonWriteFile("mig1.xml", xml);
    g_free(VIRSH_HOST_OK(&hostA, "create", xmlPath));
    if (!testCounterPasses(5, 240))
        g_error("the guest does not count");
    chain = testLiveChain(&hostA);
    testAssertChain(&hostA);
    g_clear_pointer(&xml, g_free);
    xml = testDomainXML(guestKernel, guestInitrd, dstTop);
    dstXmlPath = daemonWriteFile("mig1-dst.xml", xml);

    g_test_add_func("/virshmigratefault/prepare-fails", testPrepareFails);
    g_test_add_func("/virshmigratefault/dest-killed-in-prepare", testDestKilledInPrepare);
    g_test_add_func("/virshmigratefault/dest-killed-before-perform", testDestKilledBeforePerform);
    g_test_add_func("/virshmigratefault/dest-killed-in-finish", testDestKilledInFinish);
    g_test_add_func("/virshmigratefault/source-killed-before-perform",
                    testSourceKilledBeforePerform);
    g_test_add_func("/virshmigratefault/dest-killed-after-resume", testDestKilledAfterResume);
    g_test_add_func("/virshmigratefault/job/after-begin", testJobAfterBegin);
    g_test_add_func("/virshmigratefault/job/after-perform", testJobAfterPerform);
    ret = g_test_run();
    g_free(VIRSH_HOST_OK(&hostA, "destroy", VM));
    hostStop(&hostA);
    hostStop(&hostB);
    for (Host *h = &hostA; h; h = h == &hostA ? &hostB : NULL) {
        if (h->pid)
            kill(h->pid, SIGKILL);
        g_free(h->root);
        g_free(h->uri);
        g_free(h->p2pUri);
    }
    daemonEnvCleanup();
    g_free(topImg);
    g_free(counterImg);
    g_free(guestKernel);
    g_free(guestInitrd);
    g_free(dstDir);
    g_free(dstTop);
    g_free(dstXmlPath);
    g_free(chain);
    return ret;
}
