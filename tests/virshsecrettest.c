/*
 * virshsecrettest.c: secrets through the real clients against the build tree's qvirtd:
 * virsh secret-* (define, set-value from --base64 and --file, get-value, list with its
 * filters, undefine), the refusals (read-only socket, private secrets), persistence across
 * a daemon restart with the value encrypted on disk, python3-libvirt's secret calls, and
 * one virsh script run against libvirt 9.0's own secret driver (a session daemon as
 * nobody) that must print the same, errors included.
 *
 * One daemon in a temporary --root serves the whole program; the cases build on each
 * other. Whatever happens, the daemon is killed.
 */
#include <sys/stat.h>

#include "daemontestutils.h"
#include "virshtestutils.h"

#define CEPH_UUID "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
#define PRIV_UUID "11111111-2222-3333-4444-555555555555"
#define EPH_UUID "5f3c2b1a-0000-4e44-9abc-def012345678"
#define VOL_UUID "44444444-2222-3333-4444-555555555555"

static char *roUri;

#define VIRSH_RO(res, ...) virshArgvUri((res), roUri, (const char *const[]){__VA_ARGS__, NULL})

static char *
rootPath(const char *name)
{
    return g_build_filename(daemonEnv.root, name, NULL);
}

static void
assertContains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        g_error("expected to find\n%s\nin\n%s", needle, haystack);
}

static char *
writeFile(const char *name, const char *contents)
{
    char *path = rootPath(name);

    g_assert_true(g_file_set_contents(path, contents, -1, NULL));
    return path;
}

static char *
secretsDir(void)
{
    return g_build_filename(daemonEnv.root, "etc", "secrets", NULL);
}

static void
testDefineSetGet(void)
{
    g_autofree char *xml = writeFile("ceph.xml", "<secret ephemeral='no' private='no'>\n"
                                                 "  <uuid>" CEPH_UUID "</uuid>\n"
                                                 "  <description>ceph admin</description>\n"
                                                 "  <usage type='ceph'>\n"
                                                 "    <name>client.admin secret</name>\n"
                                                 "  </usage>\n"
                                                 "</secret>\n");
    g_autofree char *b64File = writeFile("value.b64", "cGFzcyB3b3JkIGZyb20gYSBmaWxl");
    g_autofree char *plainFile = writeFile("value.txt", "plain\x01value");
    g_auto(VirshResult) r = {0};

    VIRSH_RES_OK(&r, "secret-define", xml);
    g_assert_cmpstr(r.out, ==, "Secret " CEPH_UUID " created\n\n");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-dumpxml", CEPH_UUID);
    g_assert_cmpstr(r.out, ==,
                    "<secret ephemeral='no' private='no'>\n  <uuid>" CEPH_UUID "</uuid>\n"
                    "  <description>ceph admin</description>\n  <usage type='ceph'>\n"
                    "    <name>client.admin secret</name>\n  </usage>\n</secret>\n\n");
    virshResultClear(&r);

    /* no value yet */
    VIRSH(&r, "secret-get-value", CEPH_UUID);
    g_assert_cmpint(r.rc, !=, 0);
    assertContains(r.err, "error: Secret not found: secret '" CEPH_UUID "' does not have a value");
    virshResultClear(&r);

    VIRSH_RES_OK(&r, "secret-set-value", CEPH_UUID, "--base64", "c2VjcmV0");
    g_assert_cmpstr(r.out, ==, "Secret value set\n\n");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-get-value", CEPH_UUID);
    g_assert_cmpstr(r.out, ==, "c2VjcmV0\n");
    virshResultClear(&r);

    VIRSH_RES_OK(&r, "secret-set-value", CEPH_UUID, "--file", b64File);
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-get-value", CEPH_UUID, "--plain");
    g_assert_cmpstr(r.out, ==, "pass word from a file\n");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-set-value", CEPH_UUID, "--file", plainFile, "--plain");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-get-value", CEPH_UUID);
    g_assert_cmpstr(r.out, ==, "cGxhaW4BdmFsdWU=\n");
    virshResultClear(&r);

    /* a bad base64 value is refused by virsh; an unknown UUID by us */
    VIRSH(&r, "secret-set-value", "00000000-0000-0000-0000-000000000001", "--base64", "c2VjcmV0");
    g_assert_cmpint(r.rc, !=, 0);
    assertContains(r.err, "error: failed to get secret '00000000-0000-0000-0000-000000000001'\n"
                          "error: Secret not found: no secret with matching uuid "
                          "'00000000-0000-0000-0000-000000000001'");
}

static void
testPrivateAndList(void)
{
    g_autofree char *priv = writeFile(
        "priv.xml", "<secret ephemeral='no' private='yes'><uuid>" PRIV_UUID "</uuid>"
                    "<usage type='iscsi'><target>iqn.2013-07.com.example:t1</target></usage>"
                    "</secret>");
    g_autofree char *eph =
        writeFile("eph.xml", "<secret ephemeral='yes' private='no'><uuid>" EPH_UUID "</uuid>"
                             "<usage type='tls'><name>tls-client</name></usage></secret>");
    g_auto(VirshResult) r = {0};

    VIRSH_RES_OK(&r, "secret-define", priv);
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-set-value", PRIV_UUID, "--base64", "Y2hhcA==");
    virshResultClear(&r);
    VIRSH(&r, "secret-get-value", PRIV_UUID);
    g_assert_cmpint(r.rc, !=, 0);
    g_assert_cmpstr(r.err, ==, "error: Invalid secret: secret is private\n");
    virshResultClear(&r);

    VIRSH_RES_OK(&r, "secret-define", eph);
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-set-value", EPH_UUID, "--base64", "ZXBo");
    virshResultClear(&r);

    VIRSH_RES_OK(&r, "secret-list");
    g_assert_true(g_str_has_prefix(r.out, " UUID                                   Usage\n---"));
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "-q", "secret-list");
    g_assert_cmpstr(r.out, ==,
                    " " CEPH_UUID "   ceph client.admin secret\n"
                    " " PRIV_UUID "   iscsi iqn.2013-07.com.example:t1\n"
                    " " EPH_UUID "   tls tls-client\n");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "-q", "secret-list", "--private");
    g_assert_cmpstr(r.out, ==, " " PRIV_UUID "   iscsi iqn.2013-07.com.example:t1\n");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "-q", "secret-list", "--no-private", "--no-ephemeral");
    g_assert_cmpstr(r.out, ==, " " CEPH_UUID "   ceph client.admin secret\n");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "-q", "secret-list", "--ephemeral");
    g_assert_cmpstr(r.out, ==, " " EPH_UUID "   tls tls-client\n");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "-q", "secret-list", "--ephemeral", "--private");
    g_assert_cmpstr(r.out, ==, "");
}

/* The read-only socket lists but neither reads values nor changes anything (virsh without
 * -r, so it is the daemon that refuses). */
static void
testReadOnly(void)
{
    g_autofree char *xml = rootPath("ceph.xml");
    g_auto(VirshResult) r = {0};

    VIRSH_RO(&r, "-q", "secret-list", "--no-ephemeral");
    g_assert_cmpint(r.rc, ==, 0);
    assertContains(r.out, CEPH_UUID "   ceph client.admin secret");
    virshResultClear(&r);
    VIRSH_RO(&r, "secret-dumpxml", CEPH_UUID);
    g_assert_cmpint(r.rc, ==, 0);
    virshResultClear(&r);
    VIRSH_RO(&r, "secret-get-value", CEPH_UUID);
    g_assert_cmpint(r.rc, !=, 0);
    g_assert_cmpstr(r.err, ==,
                    "error: operation forbidden: read only access prevents virSecretGetValue\n");
    virshResultClear(&r);
    VIRSH_RO(&r, "secret-set-value", CEPH_UUID, "--base64", "eA==");
    assertContains(r.err,
                   "error: operation forbidden: read only access prevents virSecretSetValue");
    virshResultClear(&r);
    VIRSH_RO(&r, "secret-define", xml);
    assertContains(r.err,
                   "error: operation forbidden: read only access prevents virSecretDefineXML");
    virshResultClear(&r);
    VIRSH_RO(&r, "secret-undefine", CEPH_UUID);
    assertContains(r.err,
                   "error: operation forbidden: read only access prevents virSecretUndefine");
    virshResultClear(&r);
    /* nothing changed */
    VIRSH_RES_OK(&r, "secret-get-value", CEPH_UUID);
    g_assert_cmpstr(r.out, ==, "cGxhaW4BdmFsdWU=\n");
}

/* Persistent secrets and their values come back; ephemeral ones do not. On disk: the
 * definition, the value encrypted, a 0600 key. */
static void
testRestartAndAtRest(void)
{
    g_autofree char *dir = secretsDir();
    g_autofree char *valuePath = g_build_filename(dir, CEPH_UUID ".value", NULL);
    g_autofree char *privValuePath = g_build_filename(dir, PRIV_UUID ".value", NULL);
    g_autofree char *keyPath = g_build_filename(dir, "secrets-encryption-key", NULL);
    g_autofree char *ephPath = g_build_filename(dir, EPH_UUID ".xml", NULL);
    g_autofree char *contents = NULL;
    g_auto(VirshResult) r = {0};
    gsize len = 0;
    struct stat sb;

    g_assert_cmpint(g_stat(dir, &sb), ==, 0);
    g_assert_cmpint(sb.st_mode & 0777, ==, 0700);
    g_assert_cmpint(g_stat(keyPath, &sb), ==, 0);
    g_assert_cmpint(sb.st_mode & 0777, ==, 0600);
    g_assert_cmpint(g_stat(valuePath, &sb), ==, 0);
    g_assert_cmpint(sb.st_mode & 0777, ==, 0600);
    g_assert_false(g_file_test(ephPath, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_get_contents(valuePath, &contents, &len, NULL));
    g_assert_null(g_strstr_len(contents, (gssize)len, "plain\x01value"));
    g_assert_null(g_strstr_len(contents, (gssize)len, "cGxhaW4BdmFsdWU"));
    g_clear_pointer(&contents, g_free);
    g_assert_true(g_file_get_contents(privValuePath, &contents, &len, NULL));
    g_assert_null(g_strstr_len(contents, (gssize)len, "chap"));

    daemonStop();
    daemonStart(FALSE);
    VIRSH_RES_OK(&r, "-q", "secret-list");
    g_assert_cmpstr(r.out, ==,
                    " " CEPH_UUID "   ceph client.admin secret\n"
                    " " PRIV_UUID "   iscsi iqn.2013-07.com.example:t1\n");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-get-value", CEPH_UUID);
    g_assert_cmpstr(r.out, ==, "cGxhaW4BdmFsdWU=\n");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-dumpxml", PRIV_UUID);
    assertContains(r.out, "<secret ephemeral='no' private='yes'>");
}

/* A damaged value file: the daemon starts, that secret is left out, the others load. */
static void
testCorruptAtLoad(void)
{
    g_autofree char *dir = secretsDir();
    g_autofree char *valuePath = g_build_filename(dir, PRIV_UUID ".value", NULL);
    g_autofree char *xmlPath = g_build_filename(dir, PRIV_UUID ".xml", NULL);
    g_autofree char *saved = NULL;
    g_autofree char *savedXml = NULL;
    g_autofree char *broken = NULL;
    g_auto(VirshResult) r = {0};
    gsize len = 0;

    daemonStop();
    g_assert_true(g_file_get_contents(valuePath, &saved, &len, NULL));
    g_assert_true(g_file_get_contents(xmlPath, &savedXml, NULL, NULL));
    broken = g_memdup2(saved, len);
    broken[len - 1] ^= 0x40;
    g_assert_true(g_file_set_contents(valuePath, broken, (gssize)len, NULL));
    daemonStart(FALSE);
    VIRSH_RES_OK(&r, "-q", "secret-list");
    g_assert_cmpstr(r.out, ==, " " CEPH_UUID "   ceph client.admin secret\n");
    virshResultClear(&r);
    VIRSH(&r, "secret-dumpxml", PRIV_UUID);
    assertContains(r.err, "no secret with matching uuid '" PRIV_UUID "'");
    virshResultClear(&r);

    /* its files are left as they were, and a good copy loads again */
    daemonStop();
    g_assert_true(g_file_test(xmlPath, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_set_contents(valuePath, saved, (gssize)len, NULL));
    daemonStart(FALSE);
    VIRSH_RES_OK(&r, "-q", "secret-list", "--private");
    g_assert_cmpstr(r.out, ==, " " PRIV_UUID "   iscsi iqn.2013-07.com.example:t1\n");
}

static void
testPython(void)
{
    const char *script =
        "import libvirt, sys\n"
        "c = libvirt.open(sys.argv[1])\n"
        "def err(f):\n"
        "    try:\n"
        "        f()\n"
        "    except libvirt.libvirtError as e:\n"
        "        return e.get_error_code(), e.get_error_message()\n"
        "    sys.exit('no error')\n"
        "assert c.numOfSecrets() == 2, c.numOfSecrets()\n"
        "assert sorted(c.listSecrets()) == ['" CEPH_UUID "', '" PRIV_UUID "']\n"
        "s = c.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, 'client.admin secret')\n"
        "assert s.UUIDString() == '" CEPH_UUID "'\n"
        "assert s.usageType() == libvirt.VIR_SECRET_USAGE_TYPE_CEPH and s.usageID() == "
        "'client.admin secret'\n"
        "s.setValue(b'\\x00\\x01binary\\xff')\n"
        "assert s.value() == b'\\x00\\x01binary\\xff'\n"
        "n = c.secretDefineXML(\"<secret ephemeral='yes'><uuid>" VOL_UUID
        "</uuid><usage type='volume'>"
        "<volume>/var/lib/x.luks</volume></usage></secret>\")\n"
        "assert n.usageType() == libvirt.VIR_SECRET_USAGE_TYPE_VOLUME\n"
        "assert [x.UUIDString() for x in "
        "c.listAllSecrets(libvirt.VIR_CONNECT_LIST_SECRETS_EPHEMERAL)] == [n.UUIDString()]\n"
        "assert len(c.listAllSecrets(libvirt.VIR_CONNECT_LIST_SECRETS_PRIVATE)) == 1\n"
        "assert len(c.listAllSecrets()) == 3\n"
        "print(err(lambda: n.setValue(b'')))\n"
        "print(err(lambda: n.value()))\n"
        "n.setValue(b'\\x00')\n"
        "assert n.value() == b'\\x00'\n"
        "print(err(lambda: c.secretLookupByUUIDString('" PRIV_UUID "').value()))\n"
        "print(err(lambda: c.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_ISCSI, 'nope')))\n"
        "print(err(lambda: c.secretLookupByUUIDString('00000000-0000-0000-0000-000000000002')))\n"
        "print(err(lambda: c.secretDefineXML('<secret><usage type=\"tls\"/></secret>')))\n"
        "print(err(lambda: c.secretDefineXML('<secret><foo/></secret>', 1)))\n"
        "n.undefine()\n"
        "assert c.numOfSecrets() == 2\n"
        /* the secret driver's errors come from VIR_FROM_SECRET, as libvirt's */
        "try:\n"
        "    n.value()\n"
        "    sys.exit('no error')\n"
        "except libvirt.libvirtError as e:\n"
        "    assert e.get_error_domain() == libvirt.VIR_FROM_SECRET, e.get_error_domain()\n"
        "r = libvirt.open(sys.argv[2])\n"
        "print(err(lambda: r.secretLookupByUUIDString('" CEPH_UUID "').value()))\n"
        "print(err(lambda: r.secretLookupByUUIDString('" CEPH_UUID "').setValue(b'x')))\n"
        "assert s.value() == b'\\x00\\x01binary\\xff'\n"
        "print('ok')\n";
    const char *argv[] = {"/usr/bin/python3", "-c", script, daemonEnv.uri, roUri, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("python3-libvirt: %s%s", out, err);
    g_assert_cmpstr(out, ==,
                    "(8, 'value in virSecretSetValue must not be NULL')\n"
                    "(66, \"Secret not found: secret '" VOL_UUID "' does not have a value\")\n"
                    "(65, 'Invalid secret: secret is private')\n"
                    "(66, \"Secret not found: no secret with matching usage 'nope'\")\n"
                    "(66, \"Secret not found: no secret with matching uuid "
                    "'00000000-0000-0000-0000-000000000002'\")\n"
                    "(1, 'internal error: TLS usage specified, but name is missing')\n"
                    "(92, 'XML document failed to validate against schema: Unable to validate "
                    "doc against /usr/share/libvirt/schemas/secret.rng\\nElement secret has extra "
                    "content: foo\\n')\n"
                    "(29, 'operation forbidden: read only access prevents virSecretGetValue')\n"
                    "(29, 'operation forbidden: read only access prevents virSecretSetValue')\n"
                    "ok\n");
}

/* Secret events reach python3-libvirt's callbacks, in order. */
static void
testEvents(void)
{
    const char *script =
        "import libvirt, sys, time\n"
        "libvirt.virEventRegisterDefaultImpl()\n"
        "c = libvirt.open(sys.argv[1])\n"
        "got = []\n"
        "def lc(conn, secret, event, detail, opaque):\n"
        "    got.append(('lifecycle', secret.UUIDString(), event, detail))\n"
        "def vc(conn, secret, opaque):\n"
        "    got.append(('value', secret.UUIDString(), secret.usageID()))\n"
        "a = c.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, lc, None)\n"
        "b = c.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_VALUE_CHANGED, vc, None)\n"
        "s = c.secretDefineXML(\"<secret ephemeral='yes'><uuid>" VOL_UUID "</uuid>"
        "<usage type='tls'><name>ev</name></usage></secret>\")\n"
        "s.setValue(b'x')\n"
        "s.undefine()\n"
        "libvirt.virEventAddTimeout(100, lambda t, o: None, None)\n"
        "deadline = time.time() + 20\n"
        "while len(got) < 3 and time.time() < deadline:\n"
        "    libvirt.virEventRunDefaultImpl()\n"
        "c.secretEventDeregisterAny(a)\n"
        "c.secretEventDeregisterAny(b)\n"
        "for g in got:\n"
        "    print(*g)\n";
    const char *argv[] = {"/usr/bin/python3", "-c", script, daemonEnv.uri, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("python3-libvirt: %s%s", out, err);
    g_assert_cmpstr(out, ==,
                    "lifecycle " VOL_UUID " 0 0\n"
                    "value " VOL_UUID " ev\n"
                    "lifecycle " VOL_UUID " 1 0\n");
}

static void
testUndefine(void)
{
    g_autofree char *dir = secretsDir();
    g_autofree char *valuePath = g_build_filename(dir, CEPH_UUID ".value", NULL);
    g_autofree char *xmlPath = g_build_filename(dir, CEPH_UUID ".xml", NULL);
    g_auto(VirshResult) r = {0};

    VIRSH_RES_OK(&r, "secret-undefine", CEPH_UUID);
    g_assert_cmpstr(r.out, ==, "Secret " CEPH_UUID " deleted\n\n");
    virshResultClear(&r);
    g_assert_false(g_file_test(valuePath, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(xmlPath, G_FILE_TEST_EXISTS));
    VIRSH(&r, "secret-undefine", CEPH_UUID);
    g_assert_cmpint(r.rc, !=, 0);
    assertContains(r.err, "error: Secret not found: no secret with matching uuid '" CEPH_UUID "'");
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "secret-undefine", PRIV_UUID);
    virshResultClear(&r);
    VIRSH_RES_OK(&r, "-q", "secret-list");
    g_assert_cmpstr(r.out, ==, "");
}

/* One script with every mistake we know of, against libvirt 9.0 and against qvirtd. */
static void
testLibvirtDifferential(void)
{
    static const struct {
        const char *name;
        const char *xml;
    } files[] = {
        {"s1", "<secret ephemeral='no' private='no'>\n  <uuid>" CEPH_UUID "</uuid>\n"
               "  <description>ceph &amp; \"friends\"</description>\n  <usage type='ceph'>\n"
               "    <name>client.admin secret</name>\n  </usage>\n</secret>\n"},
        {"s1b", "<secret><uuid>" CEPH_UUID "</uuid><usage type='ceph'><name>other</name>"
                "</usage></secret>\n"},
        {"s2", "<secret><uuid>" EPH_UUID "</uuid><usage type='ceph'><name>client.admin "
               "secret</name></usage></secret>\n"},
        {"s3", "<secret><uuid>" EPH_UUID "</uuid><usage type='tls'><name>client.admin "
               "secret</name></usage></secret>\n"},
        {"p", "<secret ephemeral='yes' private='yes'><uuid>" PRIV_UUID "</uuid><usage "
              "type='iscsi'><target>iqn.2013-07.com.example:t1</target></usage></secret>\n"},
        {"p2", "<secret ephemeral='yes' private='no'><uuid>" PRIV_UUID "</uuid><usage "
               "type='iscsi'><target>iqn.2013-07.com.example:t1</target></usage></secret>\n"},
        {"v", "<secret><uuid>22222222-2222-3333-4444-555555555555</uuid><usage type='volume'>"
              "<volume>/var/lib/images/disk.luks</volume></usage></secret>\n"},
        {"none", "<secret><uuid>33333333-2222-3333-4444-555555555555</uuid></secret>\n"},
        {"bad1", "<secret><usage type='ceph'/></secret>\n"},
        {"bad2", "<secret ephemeral='maybe'/>\n"},
        {"bad3", "<secret><usage type='nfs'><name>x</name></usage></secret>\n"},
        {"bad4", "<secret><uuid>zzz</uuid></secret>\n"},
        {"bad5", "<secret><uuid>\n"},
        {"bad6", "<secret>\n  <usage type='iscsi'><name>x</name></usage>\n</secret>\n"},
        {"bad7", "<secret private='no'>\n  <uuid>a</uuid>\n  <oops>\n</secret>\n"},
        {"bad8", "<pool/>\n"},
        {"bad9", "<secret><usage type='vtpm'><name></name></usage></secret>\n"},
    };
    g_autofree char *ref = rootPath("ref");
    g_autofree char *x = g_build_filename(ref, "x", NULL);
    g_autofree char *val = g_build_filename(x, "val", NULL);
    const char *chownArgv[] = {"chown", "-R", "nobody", ref, NULL};
    g_autoptr(GString) s = g_string_new(NULL);
    g_autofree char *script = NULL;
    g_autofree char *theirOut = NULL;
    g_autofree char *theirErr = NULL;
    g_autofree char *ourOut = NULL;
    g_autofree char *ourErr = NULL;

    if (!daemonLibvirtRefPrepare(ref, x))
        return;
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *name = g_strdup_printf("%s.xml", files[i].name);
        g_autofree char *path = g_build_filename(x, name, NULL);

        g_assert_true(g_file_set_contents(path, files[i].xml, -1, NULL));
    }
    g_assert_true(g_file_set_contents(val, "pass word\n", -1, NULL));
    qvirTestRunOk(chownArgv);

    /* the commands, in order; @X@ is the directory of the files */
    static const char *const cmds[] = {
        "secret-define @X@/s1.xml",
        "secret-list",
        "secret-set-value " CEPH_UUID " --base64 c2VjcmV0",
        "secret-get-value " CEPH_UUID,
        "echo",
        "secret-define @X@/s1b.xml",
        "secret-define @X@/s2.xml",
        "secret-define @X@/s3.xml",
        "secret-define @X@/bad1.xml",
        "secret-define @X@/bad2.xml",
        "secret-define @X@/bad3.xml",
        "secret-define @X@/bad4.xml",
        "secret-define @X@/bad5.xml",
        "secret-define @X@/bad6.xml",
        "secret-define @X@/bad7.xml",
        "secret-define @X@/bad8.xml",
        "secret-define @X@/bad9.xml",
        "secret-define @X@/v.xml",
        "secret-define --validate @X@/bad6.xml",
        "secret-define --validate @X@/bad7.xml",
        "secret-define --validate @X@/bad9.xml",
        "secret-define --validate @X@/none.xml",
        "secret-define @X@/none.xml",
        "secret-get-value " EPH_UUID,
        "secret-dumpxml " CEPH_UUID,
        "secret-define @X@/p.xml",
        "secret-get-value " PRIV_UUID,
        "secret-set-value " PRIV_UUID " --file @X@/val --plain",
        "secret-get-value " PRIV_UUID,
        "secret-define @X@/p2.xml",
        "secret-list",
        "secret-list --private",
        "secret-list --ephemeral",
        "secret-list --no-ephemeral --no-private",
        "secret-list --ephemeral --no-ephemeral",
        "secret-undefine " CEPH_UUID,
        "secret-undefine " CEPH_UUID,
        "secret-get-value " CEPH_UUID,
        "secret-dumpxml " PRIV_UUID,
        "secret-dumpxml 33333333-2222-3333-4444-555555555555",
        "secret-set-value " EPH_UUID " --file @X@/val --plain",
        "secret-get-value " EPH_UUID,
        "secret-undefine " PRIV_UUID,
        "secret-undefine " EPH_UUID,
        "secret-undefine 22222222-2222-3333-4444-555555555555",
        "secret-undefine 33333333-2222-3333-4444-555555555555",
        "secret-list",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cmds); i++)
        g_string_append_printf(s, "%s%s", i ? " ; " : "", cmds[i]);
    {
        g_auto(GStrv) parts = g_strsplit(s->str, "@X@", -1);

        script = g_strjoinv(x, parts);
    }
    daemonLibvirtSessionVirsh(ref, script, &theirOut, &theirErr);
    {
        const char *argv[] = {"virsh", "-q", "-c", daemonEnv.uri, script, NULL};

        qvirTestRun(argv, &ourOut, &ourErr);
    }
    g_assert_cmpstr(ourOut, ==, theirOut);
    g_assert_cmpstr(ourErr, ==, theirErr);
    /* the script did reach the interesting places */
    assertContains(ourErr, "error: Invalid secret: secret is private");
    assertContains(ourErr, "already defined for use with client.admin secret");
    assertContains(ourOut, "tls client.admin secret");
    assertContains(ourErr, "error: XML document failed to validate against schema: Unable to "
                           "validate doc against /usr/share/libvirt/schemas/secret.rng\n");
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    daemonEnvInit("qvirt-virshsecrettest");
    daemonStart(FALSE);
    roUri = g_strdup_printf("qemu:///system?socket=%s-ro", daemonEnv.socket);

    g_test_add_func("/virsh-secret/define-set-get", testDefineSetGet);
    g_test_add_func("/virsh-secret/private-and-list", testPrivateAndList);
    g_test_add_func("/virsh-secret/read-only", testReadOnly);
    g_test_add_func("/virsh-secret/restart-and-at-rest", testRestartAndAtRest);
    g_test_add_func("/virsh-secret/corrupt-at-load", testCorruptAtLoad);
    g_test_add_func("/virsh-secret/python", testPython);
    g_test_add_func("/virsh-secret/events", testEvents);
    g_test_add_func("/virsh-secret/undefine", testUndefine);
    g_test_add_func("/virsh-secret/libvirt-differential", testLibvirtDifferential);
    rc = g_test_run();

    if (daemonEnv.pid)
        daemonStop();
    daemonEnvCleanup();
    g_free(roUri);
    return rc;
}
