/*
 * qemuconftest.c: qvirtd's paths and qvirtd.conf parsing.
 */
#include <string.h>
#include <glib/gstdio.h>

#include "conf/domain_conf.h"
#include "qemu/qemu_conf.h"
#include "testutils.h"
#include "util/virerror.h"

static void
testConfRootPaths(void)
{
    g_autoptr(qvirDriverConfig) cfg = qvirDriverConfigNew("/srv/q");

    g_assert_cmpstr(cfg->root, ==, "/srv/q");
    g_assert_cmpstr(cfg->configDir, ==, "/srv/q/etc");
    g_assert_cmpstr(cfg->stateDir, ==, "/srv/q/lib");
    g_assert_cmpstr(cfg->runDir, ==, "/srv/q/run");
    g_assert_cmpstr(cfg->cacheDir, ==, "/srv/q/cache");
    g_assert_cmpstr(cfg->logDir, ==, "/srv/q/log");
    g_assert_cmpstr(cfg->socketPath, ==, "/srv/q/run/qvirt-sock");
    g_assert_cmpstr(cfg->defsDir, ==, "/srv/q/etc/qemu");
    g_assert_cmpstr(cfg->statusDir, ==, "/srv/q/run/qemu");
}

static void
testConfDefaults(void)
{
    g_autoptr(qvirDriverConfig) cfg = qvirDriverConfigNew(NULL);

    g_assert_null(cfg->root);
    g_assert_false(cfg->allowDiskFormatProbing);
    g_assert_cmpuint(cfg->maxBackingChainDepth, ==, 200);
    g_assert_cmpint(cfg->defaultDiskCache, ==, -1);
    g_assert_cmpstr(cfg->emulator, ==, "/usr/bin/qemu-system-x86_64");
    /* QEMU never runs as root unless qvirtd.conf says so. */
    g_assert_cmpstr(cfg->user, ==, "qvirt-qemu");
    g_assert_cmpstr(cfg->group, ==, "qvirt-qemu");
    g_assert_true(cfg->dynamicOwnership);
    g_assert_true(cfg->rememberOwner);
    g_assert_true(cfg->clearEmulatorCapabilities);
    g_assert_true(cfg->mountNamespace);
    g_assert_true(g_str_has_suffix(cfg->socketPath, "/qvirt-sock"));
    if (geteuid() == 0) {
        g_assert_cmpstr(cfg->configDir, ==, "/etc/qvirt");
        g_assert_cmpstr(cfg->stateDir, ==, "/var/lib/qvirt");
        g_assert_cmpstr(cfg->socketPath, ==, "/run/qvirt/qvirt-sock");
        g_assert_cmpstr(cfg->cacheDir, ==, "/var/cache/qvirt");
        g_assert_cmpstr(cfg->logDir, ==, "/var/log/qvirt");
    } else {
        g_autofree char *conf = g_build_filename(g_get_user_config_dir(), "qvirt", NULL);
        g_assert_cmpstr(cfg->configDir, ==, conf);
    }
}

/* Write CONTENT as DIR/qvirtd.conf and load it into a fresh config. */
static gboolean
testConfLoad(const char *content, qvirDriverConfig **cfgOut, GError **error)
{
    g_autofree char *dir = qvirTestTempDirNew("qemuconftest");
    g_autoptr(qvirDriverConfig) cfg = qvirDriverConfigNew(dir);
    g_autofree char *path = g_build_filename(cfg->configDir, "qvirtd.conf", NULL);
    gboolean ok;

    g_assert_cmpint(g_mkdir_with_parents(cfg->configDir, 0700), ==, 0);
    g_assert_true(g_file_set_contents(path, content, -1, NULL));
    ok = qvirDriverConfigLoad(cfg, NULL, error);
    qvirTestTempDirRemove(dir);
    if (cfgOut)
        *cfgOut = g_steal_pointer(&cfg);
    return ok;
}

static void
testConfAllKeys(void)
{
    g_autoptr(qvirDriverConfig) cfg = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(testConfLoad("# comment\n[qvirtd]\nallow_disk_format_probing = true\n"
                               "max_backing_chain_depth = 50\ndefault_disk_cache = none\n"
                               "emulator = /opt/qemu/bin/qemu-system-x86_64\n",
                               &cfg, &err));
    g_assert_no_error(err);
    g_assert_true(cfg->allowDiskFormatProbing);
    g_assert_false(cfg->probeNetworkBackingChains);
    g_assert_cmpuint(cfg->maxBackingChainDepth, ==, 50);
    g_assert_cmpint(cfg->defaultDiskCache, ==, QVIR_DOMAIN_DISK_CACHE_DISABLE);
    g_assert_cmpstr(cfg->emulator, ==, "/opt/qemu/bin/qemu-system-x86_64");
}

static void
testConfProbeNetwork(void)
{
    g_autoptr(qvirDriverConfig) cfg = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(testConfLoad("[qvirtd]\nprobe_network_backing_chains = true\n", &cfg, &err));
    g_assert_no_error(err);
    g_assert_true(cfg->probeNetworkBackingChains);
}

static void
testConfSecurityKeys(void)
{
    g_autoptr(qvirDriverConfig) cfg = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(testConfLoad("[qvirtd]\nuser = root\ngroup = +0\ndynamic_ownership = false\n"
                               "remember_owner = false\nclear_emulator_capabilities = false\n"
                               "namespaces =\n",
                               &cfg, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(cfg->user, ==, "root");
    g_assert_cmpstr(cfg->group, ==, "+0");
    g_assert_false(cfg->dynamicOwnership);
    g_assert_false(cfg->rememberOwner);
    g_assert_false(cfg->clearEmulatorCapabilities);
    g_assert_false(cfg->mountNamespace);
    g_clear_pointer(&cfg, qvirDriverConfigFree);
    g_assert_true(testConfLoad("[qvirtd]\nnamespaces = mount;\n", &cfg, &err));
    g_assert_no_error(err);
    g_assert_true(cfg->mountNamespace);
}

/* libvirt's NBD TLS keys; off and unset by default. */
static void
testConfNBDTLSKeys(void)
{
    g_autoptr(qvirDriverConfig) cfg = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(testConfLoad("[qvirtd]\n", &cfg, &err));
    g_assert_false(cfg->nbdTLS);
    g_assert_null(cfg->nbdTLSx509certdir);
    g_assert_null(cfg->nbdTLSx509secretUUID);
    g_clear_pointer(&cfg, qvirDriverConfigFree);
    g_assert_true(testConfLoad("[qvirtd]\nnbd_tls = true\nnbd_tls_x509_cert_dir = /etc/pki/nbd\n"
                               "nbd_tls_x509_secret_uuid = 6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea\n",
                               &cfg, &err));
    g_assert_no_error(err);
    g_assert_true(cfg->nbdTLS);
    g_assert_cmpstr(cfg->nbdTLSx509certdir, ==, "/etc/pki/nbd");
    g_assert_cmpstr(cfg->nbdTLSx509secretUUID, ==, "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea");
}

/* chardev_tls*: off, /etc/pki/qemu and verify by default, as libvirt's qemu.conf. */
static void
testConfChardevTLSKeys(void)
{
    g_autoptr(qvirDriverConfig) cfg = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(testConfLoad("[qvirtd]\n", &cfg, &err));
    g_assert_false(cfg->chardevTLS);
    g_assert_true(cfg->chardevTLSx509verify);
    g_assert_null(cfg->chardevTLSx509certdir);
    g_assert_null(cfg->chardevTLSx509secretUUID);
    g_clear_pointer(&cfg, qvirDriverConfigFree);
    g_assert_true(
        testConfLoad("[qvirtd]\nchardev_tls = true\nchardev_tls_x509_verify = false\n"
                     "chardev_tls_x509_cert_dir = /etc/pki/chardev\n"
                     "chardev_tls_x509_secret_uuid = 6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea\n",
                     &cfg, &err));
    g_assert_no_error(err);
    g_assert_true(cfg->chardevTLS);
    g_assert_false(cfg->chardevTLSx509verify);
    g_assert_cmpstr(cfg->chardevTLSx509certdir, ==, "/etc/pki/chardev");
    g_assert_cmpstr(cfg->chardevTLSx509secretUUID, ==, "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea");
    g_assert_null(cfg->nbdTLSx509certdir);
}

/* Two daemons on one machine stand for two hosts: their own host UUID and port range. */
static void
testConfMigrationKeys(void)
{
    g_autoptr(qvirDriverConfig) cfg = qvirDriverConfigNew("/srv/q");
    g_autoptr(GError) err = NULL;

    g_assert_null(cfg->hostUUID);
    g_assert_cmpuint(cfg->migrationPortMin, ==, 49152);
    g_assert_cmpuint(cfg->migrationPortMax, ==, 49215);
    g_clear_pointer(&cfg, qvirDriverConfigFree);
    g_assert_true(testConfLoad("[qvirtd]\nhost_uuid = 11111111222233334444555555555501\n"
                               "migration_port_min = 21000\nmigration_port_max = 21009\n",
                               &cfg, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(cfg->hostUUID, ==, "11111111-2222-3333-4444-555555555501");
    g_assert_cmpuint(cfg->migrationPortMin, ==, 21000);
    g_assert_cmpuint(cfg->migrationPortMax, ==, 21009);
}

/* libvirtd.conf's TCP keys and qemu.conf's keepalive, with libvirt's defaults. */
static void
testConfListenKeys(void)
{
    g_autoptr(qvirDriverConfig) cfg = qvirDriverConfigNew("/srv/q");
    g_autoptr(GError) err = NULL;

    g_assert_false(cfg->listenTCP);
    g_assert_cmpuint(cfg->tcpPort, ==, 16509);
    g_assert_null(cfg->listenAddr);
    g_assert_cmpint(cfg->authTCP, ==, QVIR_CONF_AUTH_SASL);
    g_assert_cmpint(cfg->keepAliveInterval, ==, 5);
    g_assert_cmpuint(cfg->keepAliveCount, ==, 5);
    g_clear_pointer(&cfg, qvirDriverConfigFree);
    /* as libvirtd.conf writes them: quoted strings, 1 for true */
    g_assert_true(testConfLoad("[qvirtd]\nlisten_tcp = 1\ntcp_port = \"22000\"\n"
                               "listen_addr = \"127.0.0.1\"\nauth_tcp = \"none\"\n"
                               "keepalive_interval = -1\nkeepalive_count = 0\n",
                               &cfg, &err));
    g_assert_no_error(err);
    g_assert_true(cfg->listenTCP);
    g_assert_cmpuint(cfg->tcpPort, ==, 22000);
    g_assert_cmpstr(cfg->listenAddr, ==, "127.0.0.1");
    g_assert_cmpint(cfg->authTCP, ==, QVIR_CONF_AUTH_NONE);
    g_assert_cmpint(cfg->keepAliveInterval, ==, -1);
    g_assert_cmpuint(cfg->keepAliveCount, ==, 0);
    g_clear_pointer(&cfg, qvirDriverConfigFree);
    /* auth_tcp only matters with a listener */
    g_assert_true(testConfLoad("[qvirtd]\nauth_tcp = sasl\ntcp_port = 22001\n", &cfg, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->tcpPort, ==, 22001);
}

/* A TCP listener is never served with less authentication than the file asks for. */
static void
testConfListenAuthRefused(void)
{
    g_autoptr(GError) err = NULL;
    static const char *const cases[] = {
        "[qvirtd]\nlisten_tcp = 1\n", /* auth_tcp defaults to sasl, as in libvirtd */
        "[qvirtd]\nlisten_tcp = 1\nauth_tcp = \"sasl\"\n",
        "[qvirtd]\nlisten_tcp = true\nauth_tcp = polkit\n",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_clear_error(&err);
        g_assert_false(testConfLoad(cases[i], NULL, &err));
        g_assert_error(err, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED);
        if (!strstr(err->message, "is not supported by qvirtd (it has no SASL); listen_tcp "
                                  "needs auth_tcp = \"none\""))
            g_error("case %zu: %s", i, err->message);
        g_assert_true(g_str_has_prefix(err->message, "unsupported configuration: "));
    }
    /* a word libvirt does not know: libvirt's error (remoteConfigGetAuth) */
    g_clear_error(&err);
    g_assert_false(testConfLoad("[qvirtd]\nauth_tcp = \"kerberos\"\n", NULL, &err));
    g_assert_error(err, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED);
    g_assert_true(g_str_has_prefix(err->message, "unsupported configuration: "));
    g_assert_true(
        g_str_has_suffix(err->message, "qvirtd.conf: auth_tcp: unsupported auth kerberos"));
}

static void
testConfMissingFile(void)
{
    g_autofree char *dir = qvirTestTempDirNew("qemuconftest");
    g_autoptr(qvirDriverConfig) cfg = qvirDriverConfigNew(dir);
    g_autoptr(GError) err = NULL;

    /* No file: defaults, no error. */
    g_assert_true(qvirDriverConfigLoad(cfg, NULL, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->maxBackingChainDepth, ==, 200);
    qvirTestTempDirRemove(dir);
}

static void
testConfErrors(void)
{
    static const struct {
        const char *content;
        const char *needle;
    } cases[] = {
        {"[qvirtd]\nmax_backing_chains = 3\n", "unknown key 'max_backing_chains'"},
        {"[qvirtd]\nemulator = /usr/bin/qemu\n[other]\nx = 1\n", "unknown group 'other'"},
        {"[qvirtd]\ndefault_disk_cache = fast\n",
         "unknown disk cache mode 'fast' for key 'default_disk_cache': expected one of "
         "default, none, writethrough, writeback, directsync, unsafe"},
        {"[qvirtd]\nmax_backing_chain_depth = -1\n", "'max_backing_chain_depth'"},
        {"[qvirtd]\nmax_backing_chain_depth = 0\n", "'max_backing_chain_depth'"},
        {"[qvirtd]\nmax_backing_chain_depth = 12abc\n", "'max_backing_chain_depth'"},
        {"[qvirtd]\nallow_disk_format_probing = maybe\n", "'allow_disk_format_probing'"},
        {"[qvirtd]\nprobe_network_backing_chains = 2\n", "'probe_network_backing_chains'"},
        {"[qvirtd]\nemulator = qemu-system-x86_64\n", "not an absolute path"},
        {"[qvirtd]\nuser =\n", "invalid value for key 'user': '' is not a user name or '+ID'"},
        {"[qvirtd]\ngroup = a:b\n", "invalid value for key 'group': 'a:b' is not a group name"},
        {"[qvirtd]\ndynamic_ownership = sometimes\n", "'dynamic_ownership'"},
        {"[qvirtd]\nremember_owner = 2\n", "'remember_owner'"},
        {"[qvirtd]\nclear_emulator_capabilities = yes please\n", "'clear_emulator_capabilities'"},
        {"[qvirtd]\nsecurity_driver = none\n", "unknown key 'security_driver'"},
        {"[qvirtd]\nnamespaces = mount;net\n",
         "unknown namespace 'net' for key 'namespaces': expected mount"},
        {"[qvirtd]\nnbd_tls_x509_cert_dir = pki\n",
         "invalid value for key 'nbd_tls_x509_cert_dir': 'pki' is not an absolute path"},
        {"[qvirtd]\nnbd_tls_x509_secret_uuid = 123\n",
         "invalid value for key 'nbd_tls_x509_secret_uuid': '123' is not a UUID"},
        {"[qvirtd]\nchardev_tls_x509_cert_dir = pki\n",
         "invalid value for key 'chardev_tls_x509_cert_dir': 'pki' is not an absolute path"},
        {"[qvirtd]\nchardev_tls_x509_secret_uuid = 123\n",
         "invalid value for key 'chardev_tls_x509_secret_uuid': '123' is not a UUID"},
        {"[qvirtd]\nhost_uuid = not-a-uuid\n",
         "invalid value for key 'host_uuid': 'not-a-uuid' is not a UUID"},
        {"[qvirtd]\nmigration_port_min = 0\n", "'migration_port_min'"},
        {"[qvirtd]\nmigration_port_max = 70000\n", "'migration_port_max'"},
        {"[qvirtd]\nmigration_port_min = 21010\nmigration_port_max = 21000\n",
         "migration_port_min (21010) is greater than migration_port_max (21000)"},
        {"[qvirtd]\nlisten_tcp = 2\n", "'listen_tcp'"},
        {"[qvirtd]\ntcp_port = \"libvirt\"\n",
         "invalid value for key 'tcp_port': 'libvirt' is not a port between 1 and 65535"},
        {"[qvirtd]\ntcp_port = 0\n", "'tcp_port'"},
        {"[qvirtd]\nlisten_addr = \"\"\n", "invalid value for key 'listen_addr': empty address"},
        {"[qvirtd]\nkeepalive_interval = often\n",
         "invalid value for key 'keepalive_interval': 'often' is not an integer"},
        {"[qvirtd]\nkeepalive_count = -1\n",
         "invalid value for key 'keepalive_count': '-1' is not an integer of 0 or more"},
        {"this is not a key file\n", "qvirtd.conf"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;

        g_assert_false(testConfLoad(cases[i].content, NULL, &err));
        g_assert_error(err, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX);
        if (!strstr(err->message, cases[i].needle))
            g_error("case %zu: '%s' does not contain '%s'", i, err->message, cases[i].needle);
    }
}

static void
testConfMakeDirs(void)
{
    g_autofree char *dir = qvirTestTempDirNew("qemuconftest");
    g_autoptr(qvirDriverConfig) cfg = qvirDriverConfigNew(dir);
    g_autoptr(GError) err = NULL;

    g_assert_true(qvirDriverConfigMakeDirs(cfg, &err));
    g_assert_no_error(err);
    g_assert_true(g_file_test(cfg->defsDir, G_FILE_TEST_IS_DIR));
    g_assert_true(g_file_test(cfg->statusDir, G_FILE_TEST_IS_DIR));
    g_assert_true(g_file_test(cfg->cacheDir, G_FILE_TEST_IS_DIR));
    g_assert_true(g_file_test(cfg->logDir, G_FILE_TEST_IS_DIR));
    qvirTestTempDirRemove(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemuconf/root-paths", testConfRootPaths);
    g_test_add_func("/qemuconf/defaults", testConfDefaults);
    g_test_add_func("/qemuconf/all-keys", testConfAllKeys);
    g_test_add_func("/qemuconf/probe-network", testConfProbeNetwork);
    g_test_add_func("/qemuconf/security-keys", testConfSecurityKeys);
    g_test_add_func("/qemuconf/nbd-tls-keys", testConfNBDTLSKeys);
    g_test_add_func("/qemuconf/chardev-tls-keys", testConfChardevTLSKeys);
    g_test_add_func("/qemuconf/migration-keys", testConfMigrationKeys);
    g_test_add_func("/qemuconf/listen-keys", testConfListenKeys);
    g_test_add_func("/qemuconf/listen-auth-refused", testConfListenAuthRefused);
    g_test_add_func("/qemuconf/missing-file", testConfMissingFile);
    g_test_add_func("/qemuconf/errors", testConfErrors);
    g_test_add_func("/qemuconf/make-dirs", testConfMakeDirs);
    return g_test_run();
}
