/*
 * domcapstest: <domainCapabilities> from the recorded QEMU 7.2 capabilities (expected
 * files in tests/domcapsdata, checked against libvirt's domaincaps.rng), the argument
 * rules and errors of virConnectGetDomainCapabilities, a comparison with what the real
 * libvirt 9.0 writes for the installed QEMU (as user nobody, qemu:///embed), and the call
 * through qvirtd with the real virsh.
 *
 * QVIRT_TEST_REGENERATE_OUTPUT=1 rewrites the expected files.
 */
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <pwd.h>

#include "daemontestutils.h"
#include "qemu/qemu_domcaps.h"
#include "util/virerror.h"

#define SCHEMA_PATH "/usr/share/libvirt/schemas/domaincaps.rng"

static qemuCaps *
loadCaps(void)
{
    g_autofree char *path = qvirTestSrcPath("qemucapsdata/qemu-7.2.json");
    g_autoptr(GError) error = NULL;
    qemuCaps *caps = qemuCapsLoadFile(path, &error);

    g_assert_no_error(error);
    return caps;
}

static void
validateSchema(const char *xml)
{
    g_autofree char *dir = qvirTestTempDirNew("domcaps");
    g_autofree char *file = g_build_filename(dir, "caps.xml", NULL);
    const char *argv[] = {"xmllint", "--noout", "--relaxng", SCHEMA_PATH, file, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_true(g_file_set_contents(file, xml, -1, NULL));
    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("schema rejects domain capabilities: %s", err);
    qvirTestTempDirRemove(dir);
}

typedef struct {
    const char *name;
    const char *machine;
    const char *virttype;
    gboolean kvmUsable;
} FormatCase;

static void
testFormat(gconstpointer data)
{
    const FormatCase *c = data;
    g_autoptr(qemuCaps) caps = loadCaps();
    g_autoptr(GError) error = NULL;
    g_autofree char *rel = g_strdup_printf("domcapsdata/%s.xml", c->name);
    g_autofree char *path = qvirTestSrcPath(rel);
    g_autofree char *xml = NULL;
    const char *machine = NULL;
    qvirDomainVirtType type;

    g_assert_true(qemuDomainCapsResolve(caps, NULL, c->machine, c->virttype, c->kvmUsable, &machine,
                                        &type, &error));
    g_assert_no_error(error);
    xml = qemuDomainCapsFormat(caps, machine, type);
    validateSchema(xml);
    g_assert_true(qvirTestCompareToFile(xml, path));
}

typedef struct {
    const char *arch;
    const char *machine;
    const char *virttype;
    gboolean kvmUsable;
    int code;
    const char *message;
} ErrorCase;

static const ErrorCase errorCases[] = {
    {NULL, NULL, "xen", TRUE, QVIR_ERR_INVALID_ARG, "unknown virttype: xen"},
    {"foo", NULL, NULL, TRUE, QVIR_ERR_INVALID_ARG, "unknown architecture: foo"},
    {"aarch64", NULL, NULL, TRUE, QVIR_ERR_INVALID_ARG,
     "architecture from emulator 'x86_64' doesn't match given architecture 'aarch64'"},
    {NULL, NULL, "kvm", FALSE, QVIR_ERR_INVALID_ARG,
     "the accel 'kvm' is not supported by '/usr/bin/qemu-system-x86_64' on this host"},
    {NULL, "virt", NULL, TRUE, QVIR_ERR_INVALID_ARG,
     "the machine 'virt' is not supported by emulator '/usr/bin/qemu-system-x86_64'"},
    /* QEMU has it, qvirt builds no command line for it */
    {NULL, "isapc", NULL, TRUE, QVIR_ERR_CONFIG_UNSUPPORTED,
     "machine type 'isapc' is not supported: expected pc, q35, pc-i440fx-* or pc-q35-*"},
};

static void
testResolveErrors(void)
{
    g_autoptr(qemuCaps) caps = loadCaps();

    for (size_t i = 0; i < G_N_ELEMENTS(errorCases); i++) {
        const ErrorCase *c = &errorCases[i];
        g_autoptr(GError) error = NULL;
        const char *machine = NULL;
        qvirDomainVirtType type;

        g_assert_false(qemuDomainCapsResolve(caps, c->arch, c->machine, c->virttype, c->kvmUsable,
                                             &machine, &type, &error));
        g_assert_error(error, QVIR_ERROR, c->code);
        g_assert_cmpstr(error->message, ==, c->message);
    }
}

static void
testResolveDefaults(void)
{
    g_autoptr(qemuCaps) caps = loadCaps();
    g_autoptr(GError) error = NULL;
    const char *machine = NULL;
    qvirDomainVirtType type;

    /* libvirt's defaults: kvm when usable, the binary's default machine */
    g_assert_true(qemuDomainCapsResolve(caps, NULL, NULL, NULL, TRUE, &machine, &type, &error));
    g_assert_cmpint(type, ==, QVIR_DOMAIN_VIRT_KVM);
    g_assert_cmpstr(machine, ==, "pc-i440fx-7.2");
    g_assert_true(qemuDomainCapsResolve(caps, "i686", "q35", NULL, FALSE, &machine, &type, &error));
    g_assert_cmpint(type, ==, QVIR_DOMAIN_VIRT_QEMU);
    g_assert_cmpstr(machine, ==, "pc-q35-7.2");
    g_assert_no_error(error);
}

/* ---- against the real libvirt 9.0 ---------------------------------------------------- */

static char *
libvirtDomcaps(const char *dir, const char *extra)
{
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    const char *argv[] = {"sh", "-c", NULL, NULL};
    struct passwd *nobody = getpwnam("nobody");

    g_assert_nonnull(nobody);
    g_assert_cmpint(chown(dir, nobody->pw_uid, nobody->pw_gid), ==, 0);
    cmd = g_strdup_printf("runuser -u nobody -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=%s "
                          "XDG_CACHE_HOME=%s/cache XDG_CONFIG_HOME=%s/config "
                          "virsh -c 'qemu:///embed?root=%s/embed' domcapabilities %s",
                          dir, dir, dir, dir, extra);
    argv[2] = cmd;
    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("libvirt's domcapabilities failed: %s", err);
    return g_steal_pointer(&out);
}

/* The texts XPATH selects, one per node, joined with '\n'. */
static char *
xpathTexts(xmlDocPtr doc, const char *xpath)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr obj = xmlXPathEvalExpression((const xmlChar *)xpath, ctx);

    for (int i = 0; obj && obj->nodesetval && i < obj->nodesetval->nodeNr; i++) {
        xmlChar *text = xmlNodeGetContent(obj->nodesetval->nodeTab[i]);

        g_string_append_printf(buf, "%s\n", (const char *)text);
        xmlFree(text);
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

/* Element paths in document order: the shape of the document. */
static void
elementPaths(xmlNodePtr node, const char *prefix, GString *out)
{
    for (xmlNodePtr cur = node; cur; cur = cur->next) {
        g_autofree char *path = NULL;
        xmlChar *name = NULL;

        if (cur->type != XML_ELEMENT_NODE)
            continue;
        name = xmlGetProp(cur, (const xmlChar *)"name");
        path = g_strdup_printf("%s/%s%s%s%s", prefix, (const char *)cur->name, name ? "[" : "",
                               name ? (const char *)name : "", name ? "]" : "");
        xmlFree(name);
        /* what is inside a supported element differs by design: stop at those qvirt
         * reports supported='no' and at the CPU models */
        g_string_append_printf(out, "%s\n", path);
        if (strcmp((const char *)cur->name, "model") != 0)
            elementPaths(cur->children, path, out);
    }
}

static void
testAgainstLibvirt(gconstpointer data)
{
    const char *machine = data;
    g_autofree char *dir = qvirTestTempDirNew("domcaps-libvirt");
    g_autofree char *extra = g_strdup_printf("--virttype qemu%s%s", machine ? " --machine " : "",
                                             machine ? machine : "");
    g_autofree char *theirs = libvirtDomcaps(dir, extra);
    g_autoptr(qemuCaps) caps = loadCaps();
    g_autoptr(GError) error = NULL;
    g_autofree char *ours = NULL;
    const char *canon = NULL;
    qvirDomainVirtType type;
    xmlDocPtr a, b;
    static const char *const same[] = {
        "/domainCapabilities/path",
        "/domainCapabilities/domain",
        "/domainCapabilities/machine",
        "/domainCapabilities/arch",
        "/domainCapabilities/vcpu/@max",
        "/domainCapabilities/iothreads/@supported",
        "/domainCapabilities/os/enum[@name='firmware']",
        "/domainCapabilities/devices/disk/enum[@name='diskDevice']/value",
        "/domainCapabilities/devices/disk/enum[@name='bus']/value",
        "/domainCapabilities/devices/disk/enum[@name='model']/value",
        "/domainCapabilities/devices/rng/enum[@name='backendModel']/value[.!='egd']",
        "/domainCapabilities/devices/channel/enum[@name='type']/value[.!='spicevmc']",
        "/domainCapabilities/features/gic/@supported",
        "/domainCapabilities/features/sev/@supported",
        "/domainCapabilities/features/sgx/@supported",
        "/domainCapabilities/features/backingStoreInput/@supported",
        /* the models both list, with their usability and vendor, in the same order */
        "/domainCapabilities/cpu/mode[@name='custom']/model[.!='KnightsMill' and "
        ".!='Denverton']",
        "/domainCapabilities/cpu/mode[@name='custom']/model[.!='KnightsMill' and "
        ".!='Denverton']/@usable",
        "/domainCapabilities/cpu/mode[@name='custom']/model[.!='KnightsMill' and "
        ".!='Denverton']/@vendor",
    };
    g_autoptr(GString) shapeA = g_string_new(NULL);
    g_autoptr(GString) shapeB = g_string_new(NULL);

    g_assert_true(qemuDomainCapsResolve(caps, NULL, machine, "qemu", FALSE, &canon, &type, &error));
    ours = qemuDomainCapsFormat(caps, canon, type);
    a = xmlReadMemory(theirs, strlen(theirs), "libvirt.xml", NULL, XML_PARSE_NONET);
    b = xmlReadMemory(ours, strlen(ours), "qvirt.xml", NULL, XML_PARSE_NONET);
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    for (size_t i = 0; i < G_N_ELEMENTS(same); i++) {
        g_autofree char *ta = xpathTexts(a, same[i]);
        g_autofree char *tb = xpathTexts(b, same[i]);

        if (g_strcmp0(ta, tb) != 0)
            g_error("%s differs:\nlibvirt:\n%sqvirt:\n%s", same[i], ta, tb);
    }
    /* qvirt's document has libvirt's elements in libvirt's order, minus the insides of
     * what qvirt does not support */
    elementPaths(xmlDocGetRootElement(a), "", shapeA);
    elementPaths(xmlDocGetRootElement(b), "", shapeB);
    {
        g_auto(GStrv) la = g_strsplit(shapeA->str, "\n", -1);
        g_auto(GStrv) lb = g_strsplit(shapeB->str, "\n", -1);
        size_t j = 0;

        /* every qvirt element appears in libvirt's, in the same order */
        for (size_t i = 0; lb[i] && *lb[i]; i++) {
            while (la[j] && g_strcmp0(la[j], lb[i]) != 0)
                j++;
            if (!la[j])
                g_error("qvirt's element %s is not where libvirt has it", lb[i]);
        }
    }
    xmlFreeDoc(a);
    xmlFreeDoc(b);
    qvirTestTempDirRemove(dir);
}

/* ---- through qvirtd and the real virsh -------------------------------------------- */

static char *
virshDomcaps(const char *args, int *status)
{
    g_autofree char *cmd =
        g_strdup_printf("virsh -q -c '%s' domcapabilities %s", daemonEnv.uri, args);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    *status = qvirTestRun(argv, &out, &err);
    return *status == 0 ? g_steal_pointer(&out) : g_steal_pointer(&err);
}

static void
testThroughDaemon(void)
{
    g_autoptr(qemuCaps) caps = loadCaps();
    g_autofree char *all = NULL;
    g_autofree char *q35 = NULL;
    g_autofree char *bad = NULL;
    g_autofree char *expected = NULL;
    const char *canon = NULL;
    qvirDomainVirtType type;
    int status;

    daemonEnvInit("domcapstest");
    daemonStart(FALSE);

    /* all-NULL arguments, as libguestfs and virt-install ask first */
    all = virshDomcaps("", &status);
    g_assert_cmpint(status, ==, 0);
    validateSchema(all);
    g_assert_nonnull(strstr(all, "<machine>pc-i440fx-7.2</machine>"));
    g_assert_nonnull(strstr(all, "<value>scsi</value>"));

    /* every argument: the document equals the formatter's for the same resolution */
    q35 = virshDomcaps("--emulatorbin /usr/bin/qemu-system-x86_64 --arch x86_64 --machine q35 "
                       "--virttype qemu",
                       &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_true(qemuDomainCapsResolve(caps, "x86_64", "q35", "qemu", FALSE, &canon, &type, NULL));
    expected = qemuDomainCapsFormat(caps, canon, type);
    /* the daemon probed the binary itself: only the probe-independent parts are compared */
    g_assert_nonnull(strstr(q35, "<domain>qemu</domain>\n  <machine>pc-q35-7.2</machine>\n"
                                 "  <arch>x86_64</arch>\n  <vcpu max='288'/>"));
    /* (virsh adds a blank line) */
    g_assert_true(g_str_has_prefix(strstr(q35, "<devices>"), strstr(expected, "<devices>")));

    bad = virshDomcaps("--virttype qemu --machine virt", &status);
    g_assert_cmpint(status, !=, 0);
    g_assert_nonnull(strstr(bad, "the machine 'virt' is not supported by emulator"));
    g_clear_pointer(&bad, g_free);
    bad = virshDomcaps("--emulatorbin qemu-system-x86_64", &status);
    g_assert_cmpint(status, !=, 0);
    g_assert_nonnull(strstr(bad, "must be absolute"));
    g_clear_pointer(&bad, g_free);
    /* a binary others can write is never run */
    bad = virshDomcaps("--emulatorbin /tmp", &status);
    g_assert_cmpint(status, !=, 0);
    g_assert_nonnull(strstr(bad, "is not an executable file owned by root"));

    daemonStop();
    daemonEnvCleanup();
}

static const FormatCase formatCases[] = {
    {"qemu-i440fx", NULL, "qemu", FALSE},
    {"qemu-q35", "q35", "qemu", FALSE},
    {"kvm-i440fx", "pc-i440fx-7.2", NULL, TRUE},
};

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(formatCases); i++) {
        g_autofree char *name = g_strdup_printf("/domcaps/format/%s", formatCases[i].name);

        g_test_add_data_func(name, &formatCases[i], testFormat);
    }
    g_test_add_func("/domcaps/resolve-defaults", testResolveDefaults);
    g_test_add_func("/domcaps/resolve-errors", testResolveErrors);
    g_test_add_data_func("/domcaps/libvirt/default", NULL, testAgainstLibvirt);
    g_test_add_data_func("/domcaps/libvirt/q35", "q35", testAgainstLibvirt);
    g_test_add_func("/domcaps/daemon", testThroughDaemon);
    return g_test_run();
}
