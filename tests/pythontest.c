/*
 * pythontest.c: /usr/bin/python3 with python3-libvirt against the build tree's qvirtd.
 *
 * Each case runs one step of tests/python/qvirt_client.py, which asserts on the
 * libvirt objects and exceptions and prints an "ok: ..." line per check; here the
 * exit status and the expected lines are required. One daemon in a temporary
 * --root serves every case; it and any QEMU are killed at the end, whatever happens.
 */
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "daemontestutils.h"

#define VM_UUID "5b1b5fd1-1c1e-4d6e-8f0e-2a6c3f9e0a01"
#define TRANSIENT_UUID "5b1b5fd1-1c1e-4d6e-8f0e-2a6c3f9e0a02"
#define API_UUID "5b1b5fd1-1c1e-4d6e-8f0e-2a6c3f9e0a03"
#define VERBS_UUID "5b1b5fd1-1c1e-4d6e-8f0e-2a6c3f9e0a04"
#define RO_UUID "5b1b5fd1-1c1e-4d6e-8f0e-2a6c3f9e0a05"

static char *vmXML;
static char *midImage;
static char *baseImage;

/* Run STEP with ARGS (NULL-terminated); returns stdout, fails on a non-zero exit. */
static char *
pythonStep(const char *step, const char *const *args)
{
    g_autofree char *script = qvirTestSrcPath("python/qvirt_client.py");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *errOut = NULL;
    char *out = NULL;
    int status;

    /* python3-libvirt lives in the system interpreter only. */
    g_ptr_array_add(argv, (char *)"/usr/bin/python3");
    g_ptr_array_add(argv, script);
    g_ptr_array_add(argv, daemonEnv.uri);
    g_ptr_array_add(argv, (char *)step);
    for (; args && *args; args++)
        g_ptr_array_add(argv, (char *)*args);
    g_ptr_array_add(argv, NULL);

    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, 0, NULL, NULL, &out, &errOut, &status,
                      &err))
        g_error("cannot run python3: %s", err->message);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        g_error("python step '%s' failed:\n%s\n%s", step, out, errOut);
    g_test_message("%s", out);
    return out;
}

#define PYTHON(step, ...) pythonStep((step), (const char *const[]){__VA_ARGS__, NULL})

static void
assertContains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        g_error("expected '%s' in:\n%s", needle, haystack);
}

static void
testConnect(void)
{
    g_autofree char *out = pythonStep("connect", NULL);

    assertContains(out, "ok: connect type=QEMU hv=7");
}

static void
testNoDomain(void)
{
    g_autofree char *out = pythonStep("no-domain", NULL);

    assertContains(out, "ok: lookupByName NO_DOMAIN code=42 message=Domain not found: ");
    assertContains(out, "'nosuch'");
    assertContains(out, "ok: lookupByUUIDString NO_DOMAIN code=42");
    assertContains(out, "ok: lookupByID NO_DOMAIN code=42");
}

static void
testLifecycle(void)
{
    g_autofree char *out = PYTHON("lifecycle", vmXML, "pyvm", midImage, baseImage);
    g_autofree char *status = g_build_filename(daemonEnv.root, "run", "qemu", "pyvm.xml", NULL);

    assertContains(out, "ok: defineXML and listAllDomains");
    assertContains(out, "ok: create running id=");
    assertContains(out, "ok: XMLDesc live chain with indexes, inactive without");
    assertContains(out, "ok: create twice OPERATION_INVALID: Requested operation is not valid");
    assertContains(out, "ok: destroy, then destroy again OPERATION_INVALID: ");
    assertContains(out, "ok: undefine");
    /* Nothing left behind by the daemon for the domain. */
    g_assert_false(g_file_test(status, G_FILE_TEST_EXISTS));
}

static void
testBadXML(void)
{
    g_autofree char *top = daemonImagePath("py-top.qcow2");
    g_autofree char *fastXML = daemonDomainXML("pyfast", TRANSIENT_UUID, top, "fast");
    g_autofree char *fast = daemonWriteFile("pyfast.xml", fastXML);
    g_autofree char *out = PYTHON("bad-xml", fast);

    assertContains(out, "ok: defineXML malformed XML_ERROR: ");
    assertContains(out, "ok: defineXML bad cache code=");
}

static void
testTransient(void)
{
    g_autofree char *top = daemonImagePath("py-top.qcow2");
    g_autofree char *xml = daemonDomainXML("pytrans", TRANSIENT_UUID, top, "none");
    g_autofree char *path = daemonWriteFile("pytrans.xml", xml);
    g_autofree char *out = PYTHON("transient", path, "pytrans");

    assertContains(out, "ok: createXML transient running");
    assertContains(out, "ok: transient gone after destroy");
    assertContains(out, "ok: autodestroy domain gone with its connection");
    assertContains(out, "ok: graceful destroy");
}

static void
testThreads(void)
{
    g_autofree char *out = pythonStep("threads", NULL);

    assertContains(out, "ok: threads 5x50 calls");
    g_assert_true(daemonProcessAlive(daemonEnv.pid));
}

static void
testSmallerCalls(void)
{
    g_autofree char *top = daemonImagePath("py-top.qcow2");
    g_autofree char *xml = daemonDomainXML("pyapi", API_UUID, top, "none");
    g_autofree char *path = daemonWriteFile("pyapi.xml", xml);
    g_autofree char *out = PYTHON("api", path, "pyapi");

    assertContains(out, "ok: legacy listing, lookups and small queries");
    assertContains(out, "ok: destroyFlags, undefineFlags, and NO_DOMAIN for a stale handle");
    assertContains(out, "ok: unsupported call NO_SUPPORT: this function is not supported by the "
                        "connection driver: virDomainGetSchedulerType");
}

/* "virtual-size" of qemu-img info --output=json PATH. */
static unsigned long long
imageVirtualSize(const char *path)
{
    const char *argv[] = {"qemu-img", "info", "-U", "--output=json", path, NULL};
    g_autofree char *out = NULL;
    const char *p;

    if (qvirTestRun(argv, &out, NULL) != 0 || !(p = strstr(out, "\"virtual-size\":")))
        g_error("qemu-img info %s failed: %s", path, out ? out : "");
    return g_ascii_strtoull(p + strlen("\"virtual-size\":"), NULL, 10);
}

/* The verbs a user runs on a domain, and the lifecycle events they cause. */
static void
testVerbsEvents(void)
{
    g_autofree char *top = daemonMakeChain(daemonEnv.images, "pyverbs");
    g_autofree char *xml = daemonDomainXML("pyverbs", VERBS_UUID, top, "none");
    g_autofree char *path = daemonWriteFile("pyverbs.xml", xml);
    g_autofree char *size = NULL;
    g_autofree char *out = NULL;
    g_autofree char *expect = NULL;

    size = g_strdup_printf("%llu", imageVirtualSize(top));
    out = PYTHON("verbs", path, "pyverbs", top, size);
    expect = g_strdup_printf("ok: inactive: blockInfo capacity=%s, suspend/blockStats "
                             "OPERATION_INVALID: Requested operation is not valid: domain is "
                             "not running",
                             size);
    assertContains(out, expect);
    assertContains(out, "ok: suspend paused/user, resume running/unpaused, resume again: "
                        "Requested operation is not valid: domain is already running");
    g_free(expect);
    expect = g_strdup_printf("ok: blockInfo running capacity=%s allocation=", size);
    assertContains(out, expect);
    assertContains(out, "vdz: invalid argument: invalid path vdz not assigned to domain");
    assertContains(out, "vdz: invalid argument: invalid path: vdz");
    g_free(expect);
    expect = g_strdup_printf("ok: domainListGetStats block.0.capacity=%s rd.reqs=", size);
    assertContains(out, expect);
    assertContains(out, "enforce perf: Operation not supported: Stats types bits 0x40 are not "
                        "supported by this daemon");
    assertContains(out, "ok: blockResize to ");
    assertContains(out, "ok: shutdown, shutdownFlags(ACPI), reset, reboot accepted; still running; "
                        "reset(1): invalid argument: unsupported flags (0x1)");
    assertContains(out, "ok: metadata without <description>: code=80 metadata not found: "
                        "Requested metadata element is not present");
    assertContains(out, "ok: controlInfo ok, jobStats none, memoryStats actual=65536 rss>0");
    assertContains(out, "ok: lifecycle events [(0, 0), (2, 0), (3, 0), (4, 0), (5, 1), (1, 0)]");
}

static void
testReadOnly(void)
{
    g_autofree char *out = PYTHON("readonly", vmXML);

    assertContains(out, "ok: read-only define OPERATION_DENIED: operation forbidden: read only "
                        "access prevents virDomainDefineXML");
}

/* The daemon's read-only socket beside the read-write one: modes 0666 and 0600,
 * and through python3-libvirt reads answer while changes are OPERATION_DENIED. */
static void
testReadOnlySocket(void)
{
    g_autofree char *roSocket = g_strdup_printf("%s-ro", daemonEnv.socket);
    g_autofree char *roURI = g_strdup_printf("qemu:///system?socket=%s", roSocket);
    g_autofree char *top = daemonImagePath("py-top.qcow2");
    g_autofree char *xml = daemonDomainXML("pyro", RO_UUID, top, "none");
    g_autofree char *path = daemonWriteFile("pyro.xml", xml);
    g_autofree char *out = NULL;
    GStatBuf st;

    g_assert_cmpint(g_stat(daemonEnv.socket, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpuint(st.st_mode & 0777, ==, 0600);
    g_assert_cmpint(g_stat(roSocket, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpuint(st.st_mode & 0777, ==, 0666);

    out = PYTHON("rosocket", roURI, path, "pyro");
    assertContains(out, "ok: openReadOnly on the ro socket: list and dumpxml work, "
                        "define/start/destroy/undefine OPERATION_DENIED");
    assertContains(out, "ok: open on the ro socket: list and dumpxml work");
}

int
main(int argc, char **argv)
{
    g_autofree char *top = NULL;
    g_autofree char *xml = NULL;
    int rc;

    g_test_init(&argc, &argv, NULL);
    daemonEnvInit("qvirt-pythontest");
    top = daemonMakeChain(daemonEnv.images, "py");
    midImage = daemonImagePath("py-mid.qcow2");
    baseImage = daemonImagePath("py-base.qcow2");
    xml = daemonDomainXML("pyvm", VM_UUID, top, "none");
    vmXML = daemonWriteFile("pyvm.xml", xml);
    daemonStart(FALSE);

    g_test_add_func("/python/connect", testConnect);
    g_test_add_func("/python/no-domain", testNoDomain);
    g_test_add_func("/python/lifecycle", testLifecycle);
    g_test_add_func("/python/bad-xml", testBadXML);
    g_test_add_func("/python/transient", testTransient);
    g_test_add_func("/python/threads", testThreads);
    g_test_add_func("/python/read-only", testReadOnly);
    g_test_add_func("/python/read-only-socket", testReadOnlySocket);
    g_test_add_func("/python/smaller-calls", testSmallerCalls);
    g_test_add_func("/python/verbs-events", testVerbsEvents);
    rc = g_test_run();

    if (daemonEnv.pid)
        daemonStop();
    daemonEnvCleanup();
    g_free(vmXML);
    g_free(midImage);
    g_free(baseImage);
    return rc;
}
