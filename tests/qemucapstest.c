/*
 * qemucapstest: probing the installed QEMU over QMP, the on-disk cache (a second lookup
 * does not run the binary; a changed binary is probed again), and our JSON format.
 *
 * QVIRT_TEST_REGENERATE_OUTPUT=1 rewrites tests/qemucapsdata/qemu-7.2.json from a probe.
 */
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include <glib/gstdio.h>

#include "testutils.h"
#include "qemu/qemu_capabilities.h"
#include "util/virerror.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"

/* The recorded file holds no binary identity (size/mtime) so it stays comparable. */
static char *
qemucapsFormatStable(qemuCaps *caps)
{
    g_autofree char *json = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GString) out = g_string_new(NULL);

    /* whether /dev/kvm works is the host's business, not the binary's */
    qemuCapsClear(caps, QEMU_CAPS_KVM);
    json = qemuCapsFormatJSON(caps);
    lines = g_strsplit(json, "\n", -1);

    for (size_t i = 0; lines[i]; i++) {
        if (strstr(lines[i], "\"binarySize\"") || strstr(lines[i], "\"binaryMtime\""))
            continue;
        g_string_append(out, lines[i]);
        if (lines[i + 1])
            g_string_append_c(out, '\n');
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static void
testProbeMatchesRecording(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuCaps) caps = qemuCapsProbe(QEMU_BINARY, &error);
    g_autofree char *path = qvirTestSrcPath("qemucapsdata/qemu-7.2.json");
    g_autofree char *actual = NULL;

    g_assert_no_error(error);
    g_assert_nonnull(caps);
    /* the facts the command line depends on */
    g_assert_cmpuint(qemuCapsGetVersion(caps) / 1000, ==, 7002);
    g_assert_true(qemuCapsGet(caps, QEMU_CAPS_BLOCKDEV));
    g_assert_true(qemuCapsGet(caps, QEMU_CAPS_DRIVE_CACHE_DIRECTSYNC));
    g_assert_true(qemuCapsGet(caps, QEMU_CAPS_DRIVE_CACHE_UNSAFE));
    g_assert_true(qemuCapsGet(caps, QEMU_CAPS_DISK_WRITE_CACHE));
    g_assert_true(qemuCapsGet(caps, QEMU_CAPS_DISK_SHARE_RW));
    g_assert_true(qemuCapsGet(caps, QEMU_CAPS_AIO_IO_URING));
    g_assert_true(qemuCapsGet(caps, QEMU_CAPS_OBJECT_JSON));
    g_assert_true(qemuCapsGet(caps, QEMU_CAPS_DEVICE_VIRTIO_BLK));
    g_assert_true(qemuCapsGet(caps, QEMU_CAPS_DEVICE_PCIE_ROOT_PORT));
    g_assert_true(qemuCapsHasMachine(caps, "pc"));
    g_assert_cmpstr(qemuCapsGetCanonicalMachine(caps, "q35"), ==, "pc-q35-7.2");
    g_assert_cmpstr(qemuCapsGetCanonicalMachine(caps, "pc"), ==, "pc-i440fx-7.2");
    g_assert_false(qemuCapsHasMachine(caps, "virt"));

    /* and the whole set equals the recording */
    actual = qemucapsFormatStable(caps);
    g_assert_true(qvirTestCompareToFile(actual, path));
}

static void
testProbeBadBinary(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuCaps) caps = qemuCapsProbe("/nonexistent/qemu-system-x86_64", &error);

    g_assert_null(caps);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR);

    g_clear_error(&error);
    /* a binary that is not QEMU never completes the QMP handshake */
    caps = qemuCapsProbe("/bin/true", &error);
    g_assert_null(caps);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "QMP"));
}

static void
testCache(void)
{
    g_autofree char *dir = qvirTestTempDirNew("qemucaps");
    g_autofree char *cacheDir = g_build_filename(dir, "cache", NULL);
    g_autofree char *bin = g_build_filename(dir, "qemu-system-x86_64", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuCaps) first = NULL;
    g_autoptr(qemuCaps) second = NULL;
    g_autoptr(qemuCaps) third = NULL;
    g_autofree char *j1 = NULL;
    g_autofree char *j2 = NULL;
    guint probes;
    struct utimbuf times = {.actime = 1000000000, .modtime = 1000000000};

    /* a wrapper script stands for the binary: its mtime is ours to change (a copy of
     * QEMU would not find its modules, a symlink shares the real file's mtime) */
    g_assert_true(g_file_set_contents(bin, "#!/bin/sh\nexec " QEMU_BINARY " \"$@\"\n", -1, NULL));
    g_assert_cmpint(g_chmod(bin, 0755), ==, 0);

    probes = qemuCapsProbeCounter();
    first = qemuCapsCacheLookup(bin, cacheDir, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qemuCapsProbeCounter(), ==, probes + 1);

    /* the second lookup is served from disk: QEMU is not run again */
    second = qemuCapsCacheLookup(bin, cacheDir, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qemuCapsProbeCounter(), ==, probes + 1);
    j1 = qemuCapsFormatJSON(first);
    j2 = qemuCapsFormatJSON(second);
    g_assert_cmpstr(j1, ==, j2);

    /* a changed binary (new mtime) is probed again */
    g_assert_cmpint(utime(bin, &times), ==, 0);
    third = qemuCapsCacheLookup(bin, cacheDir, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qemuCapsProbeCounter(), ==, probes + 2);

    /* an entry written by another build of qvirt (which may know other flags) is probed
     * again, even though the QEMU binary is unchanged */
    {
        g_autoptr(GDir) d = g_dir_open(cacheDir, 0, NULL);
        const char *name = g_dir_read_name(d);
        g_autofree char *entry = g_build_filename(cacheDir, name, NULL);
        g_autofree char *contents = NULL;
        g_autoptr(GRegex) re = g_regex_new("\"prober\"\\s*:\\s*\"[^\"]*\"", 0, 0, NULL);
        g_autofree char *older = NULL;
        g_autoptr(qemuCaps) fromOlder = NULL;

        g_assert_true(g_file_get_contents(entry, &contents, NULL, NULL));
        g_assert_true(g_regex_match(re, contents, 0, NULL));
        older = g_regex_replace_literal(re, contents, -1, 0, "\"prober\":\"1:1:1.0\"", 0, NULL);
        g_assert_true(g_file_set_contents(entry, older, -1, NULL));
        fromOlder = qemuCapsCacheLookup(bin, cacheDir, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(qemuCapsProbeCounter(), ==, probes + 3);
    }

    /* a corrupt cache entry is replaced, not fatal */
    {
        g_autoptr(GDir) d = g_dir_open(cacheDir, 0, NULL);
        const char *name = g_dir_read_name(d);
        g_autofree char *entry = g_build_filename(cacheDir, name, NULL);
        g_autoptr(qemuCaps) fourth = NULL;

        g_assert_true(g_file_set_contents(entry, "{not json", -1, NULL));
        fourth = qemuCapsCacheLookup(bin, cacheDir, &error);
        g_assert_no_error(error);
        g_assert_nonnull(fourth);
        g_assert_cmpuint(qemuCapsProbeCounter(), ==, probes + 4);
    }
    qvirTestTempDirRemove(dir);
}

static void
testRoundTrip(gconstpointer data)
{
    const char *name = data;
    g_autofree char *rel = g_strdup_printf("qemucapsdata/%s.json", name);
    g_autofree char *path = qvirTestSrcPath(rel);
    g_autofree char *orig = NULL;
    g_autofree char *formatted = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuCaps) caps = qemuCapsLoadFile(path, &error);
    g_autoptr(qemuCaps) again = NULL;
    g_autofree char *dir = qvirTestTempDirNew("qemucapsrt");
    g_autofree char *copy = g_build_filename(dir, "copy.json", NULL);
    g_autofree char *formatted2 = NULL;

    g_assert_no_error(error);
    formatted = qemuCapsFormatJSON(caps);
    g_assert_true(g_file_set_contents(copy, formatted, -1, NULL));
    again = qemuCapsLoadFile(copy, &error);
    g_assert_no_error(error);
    formatted2 = qemuCapsFormatJSON(again);
    g_assert_cmpstr(formatted, ==, formatted2);
    for (int f = 0; f < QEMU_CAPS_LAST; f++)
        g_assert_cmpint(qemuCapsGet(caps, f), ==, qemuCapsGet(again, f));
    g_assert_cmpuint(qemuCapsGetVersion(caps), ==, qemuCapsGetVersion(again));
    (void)orig;
    qvirTestTempDirRemove(dir);
}

static void
testLegacySets(void)
{
    g_autofree char *p1 = qvirTestSrcPath("qemucapsdata/legacy.json");
    g_autofree char *p2 = qvirTestSrcPath("qemucapsdata/legacy-nocache.json");
    g_autofree char *p3 = qvirTestSrcPath("qemucapsdata/latest.json");
    g_autoptr(qemuCaps) legacy = qemuCapsLoadFile(p1, NULL);
    g_autoptr(qemuCaps) nocache = qemuCapsLoadFile(p2, NULL);
    g_autoptr(qemuCaps) latest = qemuCapsLoadFile(p3, NULL);

    g_assert_nonnull(legacy);
    g_assert_nonnull(nocache);
    g_assert_nonnull(latest);
    g_assert_false(qemuCapsGet(legacy, QEMU_CAPS_BLOCKDEV));
    g_assert_true(qemuCapsGet(legacy, QEMU_CAPS_DRIVE_CACHE_DIRECTSYNC));
    g_assert_true(qemuCapsGet(legacy, QEMU_CAPS_DRIVE_CACHE_UNSAFE));
    g_assert_false(qemuCapsGet(nocache, QEMU_CAPS_BLOCKDEV));
    g_assert_false(qemuCapsGet(nocache, QEMU_CAPS_DRIVE_CACHE_DIRECTSYNC));
    g_assert_false(qemuCapsGet(nocache, QEMU_CAPS_DRIVE_CACHE_UNSAFE));
    g_assert_true(qemuCapsGet(latest, QEMU_CAPS_BLOCKDEV));
    g_assert_cmpstr(qemuCapsGetCanonicalMachine(latest, "pc"), ==, "pc-i440fx-8.0");
}

static void
testLoadErrors(void)
{
    g_autofree char *dir = qvirTestTempDirNew("qemucapsbad");
    g_autofree char *bad = g_build_filename(dir, "bad.json", NULL);
    g_autofree char *flag = g_build_filename(dir, "flag.json", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(qemuCaps) caps = NULL;

    g_assert_true(g_file_set_contents(bad, "[1,2", -1, NULL));
    g_assert_true(g_file_set_contents(flag, "{\"flags\":[\"warp-drive\"]}", -1, NULL));
    caps = qemuCapsLoadFile(bad, &error);
    g_assert_null(caps);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_PARSE_FAILED);
    g_clear_error(&error);
    caps = qemuCapsLoadFile(flag, &error);
    g_assert_null(caps);
    g_assert_nonnull(strstr(error->message, "warp-drive"));
    g_clear_error(&error);
    caps = qemuCapsLoadFile("/nonexistent.json", &error);
    g_assert_null(caps);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPEN_FAILED);
    qvirTestTempDirRemove(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemucaps/probe", testProbeMatchesRecording);
    g_test_add_func("/qemucaps/probe-bad-binary", testProbeBadBinary);
    g_test_add_func("/qemucaps/cache", testCache);
    g_test_add_data_func("/qemucaps/roundtrip/latest", "latest", testRoundTrip);
    g_test_add_data_func("/qemucaps/roundtrip/legacy", "legacy", testRoundTrip);
    g_test_add_data_func("/qemucaps/roundtrip/legacy-nocache", "legacy-nocache", testRoundTrip);
    g_test_add_data_func("/qemucaps/roundtrip/qemu-7.2", "qemu-7.2", testRoundTrip);
    g_test_add_func("/qemucaps/legacy-sets", testLegacySets);
    g_test_add_func("/qemucaps/load-errors", testLoadErrors);
    return g_test_run();
}
