/*
 * loadtest.c: many python3-libvirt clients at once against the build's qvirtd.
 *
 * tests/hardening/load.py runs CLIENTS threads, each on its own connection doing OPS
 * operations (define, lookup, dumpxml, list, undefine on its own domains), while one
 * thread queries DOMAINS running domains (state, info, live dumpxml) and another destroys
 * and restarts one more domain in a loop. Asserted: no call that should succeed fails, no
 * definition is lost or left behind, every running domain still runs, and qvirtd's peak
 * RSS stays bounded. The figures go to the TAP log.
 *
 * Environment: QVIRT_LOAD_CLIENTS (default 16), QVIRT_LOAD_OPS per client (default 100),
 * QVIRT_LOAD_DOMAINS running (default 2). The full run of issue 7 is
 * QVIRT_LOAD_CLIENTS=32 QVIRT_LOAD_OPS=500 QVIRT_LOAD_DOMAINS=8 (see bench/README.md).
 */
#include <json-glib/json-glib.h>

#include "daemontestutils.h"

/* Without sanitizers qvirtd stays far below this; ASan's shadow and quarantine do not. */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define LOAD_MAX_RSS_KIB (1024 * 1024)
#else
#define LOAD_MAX_RSS_KIB (256 * 1024)
#endif

static guint
loadEnv(const char *name, guint def)
{
    const char *val = g_getenv(name);

    return val ? (guint)g_ascii_strtoull(val, NULL, 10) : def;
}

/* VmHWM / VmRSS of PID in KiB. */
static guint64
loadProcKiB(pid_t pid, const char *field)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", pid);
    g_autofree char *status = NULL;
    const char *p;

    if (!g_file_get_contents(path, &status, NULL, NULL) || !(p = strstr(status, field)))
        return 0;
    return g_ascii_strtoull(p + strlen(field) + 1, NULL, 10);
}

static int G_GNUC_NULL_TERMINATED
loadVirsh(char **err, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *out = NULL;
    const char *arg;
    va_list ap;

    g_ptr_array_add(argv, (char *)"virsh");
    g_ptr_array_add(argv, (char *)"-q");
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, daemonEnv.uri);
    va_start(ap, err);
    while ((arg = va_arg(ap, const char *)))
        g_ptr_array_add(argv, (char *)arg);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    return qvirTestRun((const char *const *)argv->pdata, &out, err);
}

/* Define NAME on its own 3-layer chain; start it when START. */
static void
loadDomain(const char *name, guint i, gboolean start)
{
    g_autofree char *top = daemonMakeChain(daemonEnv.images, name);
    g_autofree char *uuid = g_strdup_printf("6c1a0b7e-2d3f-4a5b-8c9d-%012x", i);
    g_autofree char *xml = daemonDomainXML(name, uuid, top, "none");
    g_autofree char *file = g_strdup_printf("%s.xml", name);
    g_autofree char *path = daemonWriteFile(file, xml);
    g_autofree char *err = NULL;
    g_autofree char *startErr = NULL;

    if (loadVirsh(&err, "define", path, NULL) != 0)
        g_error("define %s: %s", name, err);
    if (start && loadVirsh(&startErr, "start", name, NULL) != 0)
        g_error("start %s: %s", name, startErr);
}

static gint64
loadInt(JsonObject *obj, const char *member)
{
    return json_object_get_int_member_with_default(obj, member, -1);
}

static guint
loadArrayLen(JsonObject *obj, const char *member)
{
    JsonArray *arr = json_object_get_array_member(obj, member);

    return arr ? json_array_get_length(arr) : 0;
}

static void
loadPrintSamples(JsonObject *obj, const char *member)
{
    JsonArray *arr = json_object_get_array_member(obj, member);

    for (guint i = 0; arr && i < json_array_get_length(arr); i++)
        g_test_message("  %s: %s", member, json_array_get_string_element(arr, i));
}

static void
testLoad(void)
{
    guint clients = loadEnv("QVIRT_LOAD_CLIENTS", 16);
    guint ops = loadEnv("QVIRT_LOAD_OPS", 100);
    guint domains = loadEnv("QVIRT_LOAD_DOMAINS", 2);
    g_autoptr(GString) running = g_string_new(NULL);
    g_autoptr(GString) keep = g_string_new(NULL);
    g_autofree char *script = qvirTestSrcPath("hardening/load.py");
    g_autofree char *image = daemonImagePath("shared.qcow2");
    g_autofree char *clientsStr = g_strdup_printf("%u", clients);
    g_autofree char *opsStr = g_strdup_printf("%u", ops);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    guint64 rssStart, hwm;
    JsonObject *res;
    int rc;

    daemonMakeQcow2(image, NULL);
    daemonStart(FALSE);
    rssStart = loadProcKiB(daemonEnv.pid, "VmRSS:");

    for (guint i = 0; i < domains; i++) {
        g_autofree char *name = g_strdup_printf("load-run%u", i);
        loadDomain(name, i, TRUE);
        g_string_append_printf(running, "%s%s", i ? "," : "", name);
    }
    loadDomain("load-churn", 100, TRUE);
    /* Bystanders: defined, never touched by the clients, must all survive. */
    for (guint i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("load-keep%u", i);
        loadDomain(name, 200 + i, FALSE);
        g_string_append_printf(keep, "%s%s", i ? "," : "", name);
    }

    {
        const char *argv[] = {"/usr/bin/python3",
                              script,
                              "--uri",
                              daemonEnv.uri,
                              "--clients",
                              clientsStr,
                              "--ops",
                              opsStr,
                              "--running",
                              running->str,
                              "--keep",
                              keep->str,
                              "--churn",
                              "load-churn",
                              "--image",
                              image,
                              NULL};
        rc = qvirTestRun(argv, &out, &err);
    }
    if (rc != 0)
        g_test_message("load.py failed (%d): %s", rc, err);
    g_assert_cmpint(rc, ==, 0);
    hwm = loadProcKiB(daemonEnv.pid, "VmHWM:");

    g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
    g_assert_no_error(error);
    res = json_node_get_object(json_parser_get_root(parser));

    g_test_message(
        "LOAD: %" G_GINT64_FORMAT " clients, %" G_GINT64_FORMAT
        " operations in %.2f s (%.1f ops/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms), "
        "%" G_GINT64_FORMAT " errors; background %" G_GINT64_FORMAT
        " operations on %u running domains + 1 destroy/start loop, %" G_GINT64_FORMAT
        " errors; qvirtd RSS %" G_GUINT64_FORMAT " KiB at start, peak %" G_GUINT64_FORMAT " KiB",
        loadInt(res, "clients"), loadInt(res, "ops"), json_object_get_double_member(res, "seconds"),
        json_object_get_double_member(res, "ops_per_second"),
        json_object_get_double_member(res, "latency_ms_p50"),
        json_object_get_double_member(res, "latency_ms_p99"),
        json_object_get_double_member(res, "latency_ms_max"), loadInt(res, "errors"),
        loadInt(res, "background_ops"), domains, loadInt(res, "background_errors"), rssStart, hwm);
    loadPrintSamples(res, "error_samples");
    loadPrintSamples(res, "background_error_samples");
    loadPrintSamples(res, "lost");
    loadPrintSamples(res, "leftover");
    loadPrintSamples(res, "not_running");

    g_assert_cmpint(loadInt(res, "ops"), >=, (gint64)clients * ops);
    g_assert_cmpint(loadInt(res, "errors"), ==, 0);
    g_assert_cmpint(loadInt(res, "background_errors"), ==, 0);
    g_assert_cmpuint(loadArrayLen(res, "lost"), ==, 0);
    g_assert_cmpuint(loadArrayLen(res, "leftover"), ==, 0);
    g_assert_cmpuint(loadArrayLen(res, "not_running"), ==, 0);
    g_assert_cmpuint(hwm, <, LOAD_MAX_RSS_KIB);

    /* Running domains stop cleanly and the daemon exits 0 (no leaks under LSan). */
    for (guint i = 0; i < domains; i++) {
        g_autofree char *name = g_strdup_printf("load-run%u", i);
        g_assert_cmpint(loadVirsh(NULL, "destroy", name, NULL), ==, 0);
    }
    g_assert_cmpint(loadVirsh(NULL, "destroy", "load-churn", NULL), ==, 0);
    daemonStop();
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    daemonEnvInit("qvirt-load");
    g_test_add_func("/load/python-clients", testLoad);
    ret = g_test_run();
    if (daemonEnv.pid)
        daemonStop();
    daemonEnvCleanup();
    return ret;
}
