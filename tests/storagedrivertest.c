/*
 * storagedrivertest.c: the storage pool and volume XML (parse, validate, format, checked
 * against libvirt's RNG schemas with xmllint) and the storage driver on real directories
 * with real qemu-img images: pool lifecycle and persistence, volume probing, creation in
 * every form virtinst and virsh ask for, clone, resize, wipe, delete, lookups and
 * libvirt's errors.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "conf/storage_pool_conf.h"
#include "conf/storage_vol_conf.h"
#include "storage/storage_driver.h"
#include "testutils.h"
#include "util/virerror.h"

#define SCHEMAS "/usr/share/libvirt/schemas/"

/* XML must pass xmllint against libvirt's SCHEMA. */
static void
assertSchemaValid(const char *xml, const char *schema)
{
    g_autofree char *dir = qvirTestTempDirNew("storagedrivertest-rng");
    g_autofree char *file = g_build_filename(dir, "doc.xml", NULL);
    g_autofree char *rng = g_strconcat(SCHEMAS, schema, NULL);
    g_autofree char *err = NULL;
    const char *argv[] = {"xmllint", "--noout", "--relaxng", rng, file, NULL};

    g_assert_true(g_file_set_contents(file, xml, -1, NULL));
    if (qvirTestRun(argv, NULL, &err) != 0)
        g_error("%s does not validate against %s:\n%s\n%s", file, schema, err, xml);
    qvirTestTempDirRemove(dir);
}

static void
assertError(GError *err, int code, const char *message)
{
    g_assert_nonnull(err);
    g_assert_cmpint(err->code, ==, code);
    if (message)
        g_assert_cmpstr(err->message, ==, message);
}

/* ---- conf ---- */

static void
testPoolXML(void)
{
    static const char in[] = "<pool type='dir'>\n"
                             "  <name>virtimages</name>\n"
                             "  <uuid>70a7eb15-6c34-ee9c-bf57-69e8e5ff3fb2</uuid>\n"
                             "  <capacity>0</capacity>\n"
                             "  <source>\n  </source>\n"
                             "  <target>\n"
                             "    <path>///var/////lib/libvirt/images//</path>\n"
                             "    <permissions>\n"
                             "      <mode>0700</mode>\n"
                             "      <owner>-1</owner>\n"
                             "      <group>-1</group>\n"
                             "      <label>some_label_t</label>\n"
                             "    </permissions>\n"
                             "  </target>\n"
                             "</pool>\n";
    /* libvirt's storagepoolxml2xmlout/pool-dir.xml */
    static const char out[] = "<pool type='dir'>\n"
                              "  <name>virtimages</name>\n"
                              "  <uuid>70a7eb15-6c34-ee9c-bf57-69e8e5ff3fb2</uuid>\n"
                              "  <capacity unit='bytes'>0</capacity>\n"
                              "  <allocation unit='bytes'>0</allocation>\n"
                              "  <available unit='bytes'>0</available>\n"
                              "  <source>\n  </source>\n"
                              "  <target>\n"
                              "    <path>/var/lib/libvirt/images</path>\n"
                              "    <permissions>\n"
                              "      <mode>0700</mode>\n"
                              "      <label>some_label_t</label>\n"
                              "    </permissions>\n"
                              "  </target>\n"
                              "</pool>\n";
    static const char fs[] = "<pool type='fs'>\n"
                             "  <name>images</name>\n"
                             "  <uuid>7641d5a8-af11-f730-a34e-0a7dfcede71f</uuid>\n"
                             "  <capacity unit='bytes'>0</capacity>\n"
                             "  <allocation unit='bytes'>0</allocation>\n"
                             "  <available unit='bytes'>0</available>\n"
                             "  <source>\n"
                             "    <device path='/dev/sda6'/>\n"
                             "    <format type='ext3'/>\n"
                             "  </source>\n"
                             "  <target>\n"
                             "    <path>/mnt</path>\n"
                             "    <permissions>\n"
                             "      <mode>0700</mode>\n"
                             "      <owner>0</owner>\n"
                             "      <group>0</group>\n"
                             "    </permissions>\n"
                             "  </target>\n"
                             "</pool>\n";
    static const struct {
        const char *xml;
        int code;
        const char *message;
    } bad[] = {
        {"<pool type='dir'><target><path>/a</path></target></pool>", QVIR_ERR_XML_ERROR,
         "XML error: missing pool source name element"},
        {"<pool type='dir'><name>a/b</name><target><path>/a</path></target></pool>",
         QVIR_ERR_XML_ERROR, "XML error: name a/b cannot contain '/'"},
        {"<pool type='lvm'><name>a</name></pool>", QVIR_ERR_INTERNAL_ERROR,
         "internal error: unknown storage pool type lvm"},
        {"<pool type='dir'><name>a</name><uuid>nope</uuid></pool>", QVIR_ERR_XML_ERROR,
         "XML error: malformed uuid element"},
        {"<pool type='dir'><name>a</name><target><permissions><mode>999</mode></permissions>"
         "</target></pool>",
         QVIR_ERR_XML_ERROR, "malformed octal mode"},
        {"<pool type='fs'><name>a</name><source><format type='zfs'/></source></pool>",
         QVIR_ERR_INTERNAL_ERROR, "internal error: unknown pool format type zfs"},
        {"<pool", QVIR_ERR_XML_DETAIL, NULL},
        {"<!DOCTYPE pool [<!ENTITY a 'b'>]><pool type='dir'><name>&a;</name></pool>",
         QVIR_ERR_XML_ERROR, "XML error: invalid pool document"},
    };
    g_autoptr(qvirStoragePoolDef) def = NULL;
    g_autofree char *formatted = NULL;

    g_assert_nonnull((def = qvirStoragePoolDefParseString(in, NULL)));
    g_assert_true(qvirStoragePoolDefValidate(def, NULL));
    formatted = qvirStoragePoolDefFormat(def);
    g_assert_cmpstr(formatted, ==, out);
    assertSchemaValid(formatted, "storagepool.rng");
    g_clear_pointer(&def, qvirStoragePoolDefFree);
    g_clear_pointer(&formatted, g_free);

    g_assert_nonnull((def = qvirStoragePoolDefParseString(fs, NULL)));
    formatted = qvirStoragePoolDefFormat(def);
    g_assert_cmpstr(formatted, ==, fs);
    assertSchemaValid(formatted, "storagepool.rng");

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;

        g_assert_null(qvirStoragePoolDefParseString(bad[i].xml, &err));
        assertError(err, bad[i].code, bad[i].message);
    }
    /* what only validation refuses */
    {
        g_autoptr(qvirStoragePoolDef) nopath =
            qvirStoragePoolDefParseString("<pool type='dir'><name>a</name></pool>", NULL);
        g_autoptr(qvirStoragePoolDef) nodev = qvirStoragePoolDefParseString(
            "<pool type='fs'><name>a</name><target><path>/mnt</path></target></pool>", NULL);
        g_autoptr(GError) err1 = NULL;
        g_autoptr(GError) err2 = NULL;

        g_assert_false(qvirStoragePoolDefValidate(nopath, &err1));
        assertError(err1, QVIR_ERR_XML_ERROR, "XML error: missing storage pool target path");
        g_assert_false(qvirStoragePoolDefValidate(nodev, &err2));
        assertError(err2, QVIR_ERR_XML_ERROR, "XML error: missing storage pool source device name");
    }
}

static void
testVolXML(void)
{
    /* what virtinst sends for a new qcow2 disk */
    static const char virtinst[] = "<volume>\n"
                                   "  <name>vm.qcow2</name>\n"
                                   "  <capacity unit='G'>5</capacity>\n"
                                   "  <allocation>0</allocation>\n"
                                   "  <target>\n"
                                   "    <format type='qcow2'/>\n"
                                   "    <features><lazy_refcounts/></features>\n"
                                   "  </target>\n"
                                   "  <backingStore>\n"
                                   "    <path>/img/base.qcow2</path>\n"
                                   "    <format type='qcow2'/>\n"
                                   "  </backingStore>\n"
                                   "</volume>\n";
    static const struct {
        const char *xml;
        int code;
        const char *message;
    } bad[] = {
        {"<volume><capacity>1</capacity></volume>", QVIR_ERR_XML_ERROR,
         "XML error: missing volume name element"},
        {"<volume><name>a</name><capacity unit='Q'>1</capacity></volume>", QVIR_ERR_INVALID_ARG,
         "invalid argument: unknown suffix 'Q'"},
        {"<volume><name>a</name><capacity>x</capacity></volume>", QVIR_ERR_XML_ERROR,
         "malformed capacity element"},
        {"<volume><name>a</name><capacity>1</capacity><target><format type='foo'/></target>"
         "</volume>",
         QVIR_ERR_INTERNAL_ERROR, "internal error: unknown volume format type foo"},
        {"<volume><name>a</name><capacity>1</capacity><target><features><zstd/></features>"
         "</target></volume>",
         QVIR_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: unsupported feature zstd"},
        {"<volume><name>a</name><capacity>1</capacity><target><compat>1;1</compat></target>"
         "</volume>",
         QVIR_ERR_XML_ERROR, "XML error: forbidden characters in 'compat' attribute"},
    };
    static const struct {
        const char *xml;
        int code;
        const char *message;
    } invalid[] = {
        {"<volume><name>a</name></volume>", QVIR_ERR_XML_ERROR,
         "XML error: missing capacity element"},
        {"<volume><name>../a</name><capacity>1</capacity></volume>", QVIR_ERR_INVALID_ARG,
         "invalid argument: volume name '../a' cannot contain '/'"},
        {"<volume><name>a</name><capacity>1</capacity><target><format type='qcow2'/>"
         "<compat>0.10</compat><features><lazy_refcounts/></features></target></volume>",
         QVIR_ERR_CONFIG_UNSUPPORTED,
         "unsupported configuration: lazy_refcounts not supported with compat level 0.10"},
        {"<volume><name>a</name><capacity>1</capacity><target><format type='raw'/>"
         "<clusterSize>65536</clusterSize></target></volume>",
         QVIR_ERR_CONFIG_UNSUPPORTED,
         "unsupported configuration: format features are only available with qcow2"},
    };
    g_autoptr(qvirStorageVolDef) def = qvirStorageVolDefParseString(virtinst, NULL);
    g_autofree char *formatted = NULL;

    g_assert_nonnull(def);
    g_assert_true(qvirStorageVolDefValidate(def, FALSE, NULL));
    g_assert_cmpuint(def->capacity, ==, 5ull << 30);
    g_assert_true(def->allocationSet);
    g_assert_cmpuint(def->allocation, ==, 0);
    g_assert_cmpint(def->format, ==, QVIR_STORAGE_FILE_QCOW2);
    g_assert_true(def->lazyRefcounts);
    /* libvirt: features without <compat> mean 1.1 */
    g_assert_cmpstr(def->compat, ==, "1.1");
    g_assert_cmpstr(def->backingPath, ==, "/img/base.qcow2");
    g_assert_cmpint(def->backingFormat, ==, QVIR_STORAGE_FILE_QCOW2);
    def->key = g_strdup("/img/vm.qcow2");
    def->targetPath = g_strdup("/img/vm.qcow2");
    formatted = qvirStorageVolDefFormat(def);
    assertSchemaValid(formatted, "storagevol.rng");
    g_assert_nonnull(strstr(formatted, "    <compat>1.1</compat>\n    <features>\n"
                                       "      <lazy_refcounts/>\n    </features>\n"));

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;

        g_assert_null(qvirStorageVolDefParseString(bad[i].xml, &err));
        assertError(err, bad[i].code, bad[i].message);
    }
    for (guint i = 0; i < G_N_ELEMENTS(invalid); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(qvirStorageVolDef) v = qvirStorageVolDefParseString(invalid[i].xml, NULL);

        g_assert_nonnull(v);
        g_assert_false(qvirStorageVolDefValidate(v, FALSE, &err));
        assertError(err, invalid[i].code, invalid[i].message);
    }
}

/* ---- the driver ---- */

typedef struct {
    char *root;
    char *config;
    char *state;
    char *images;
    qvirStorageDriver *drv;
} Fixture;

static void
fixtureOpen(Fixture *f)
{
    g_autoptr(GError) err = NULL;

    f->drv = qvirStorageDriverOpen(f->config, f->state, NULL, &err);
    g_assert_no_error(err);
    g_assert_nonnull(f->drv);
}

static void
fixtureSetUp(Fixture *f, gconstpointer data)
{
    f->root = qvirTestTempDirNew("storagedrivertest");
    f->config = g_build_filename(f->root, "etc", "storage", NULL);
    f->state = g_build_filename(f->root, "run", "storage", NULL);
    f->images = g_build_filename(f->root, "images", NULL);
    fixtureOpen(f);
}

static void
fixtureTearDown(Fixture *f, gconstpointer data)
{
    qvirStorageDriverClose(f->drv);
    qvirTestTempDirRemove(f->root);
    g_free(f->root);
    g_free(f->config);
    g_free(f->state);
    g_free(f->images);
}

static char *
poolXML(const char *name, const char *path)
{
    return g_strdup_printf("<pool type='dir'><name>%s</name><target><path>%s</path></target>"
                           "</pool>",
                           name, path);
}

/* Define, build and start pool NAME over DIR; its UUID into UUID. */
static void
poolStart(Fixture *f, const char *name, const char *dir, guint8 *uuid)
{
    g_autofree char *xml = poolXML(name, dir);
    g_autoptr(GError) err = NULL;
    g_autoptr(qvirStoragePoolRef) ref = qvirStoragePoolDefineXML(f->drv, xml, 0, &err);

    g_assert_no_error(err);
    memcpy(uuid, ref->uuid, 16);
    g_assert_true(qvirStoragePoolBuild(f->drv, uuid, 0, &err));
    g_assert_true(qvirStoragePoolCreate(f->drv, uuid, 0, &err));
    g_assert_no_error(err);
}

static void
testPoolLifecycle(Fixture *f, gconstpointer data)
{
    g_autofree char *xml = poolXML("images", f->images);
    g_autofree char *other = poolXML("other", f->images);
    g_autofree char *again = poolXML("images", "/elsewhere");
    g_autofree char *cfgFile = g_build_filename(f->config, "images.xml", NULL);
    g_autofree char *link = g_build_filename(f->config, "autostart", "images.xml", NULL);
    g_autofree char *stateFile = g_build_filename(f->state, "images.xml", NULL);
    g_autoptr(qvirStoragePoolRef) ref = NULL;
    g_autoptr(GPtrArray) all = NULL;
    g_autofree char *desc = NULL;
    qvirStoragePoolInfo info;
    GError *err = NULL;
    struct stat sb;
    guint8 uuid[16];

    ref = qvirStoragePoolDefineXML(f->drv, xml, 0, &err);
    g_assert_no_error(err);
    memcpy(uuid, ref->uuid, 16);
    g_assert_true(g_file_test(cfgFile, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpint(qvirStoragePoolIsActive(f->drv, uuid, NULL), ==, 0);
    g_assert_cmpint(qvirStoragePoolIsPersistent(f->drv, uuid, NULL), ==, 1);

    /* the same name again without a UUID, and the same directory under another name */
    g_assert_null(qvirStoragePoolDefineXML(f->drv, again, 0, &err));
    assertError(err, QVIR_ERR_OPERATION_FAILED, NULL);
    g_assert_true(g_str_has_prefix(err->message,
                                   "operation failed: pool 'images' already exists with uuid "));
    g_clear_error(&err);
    g_assert_null(qvirStoragePoolDefineXML(f->drv, other, 0, &err));
    assertError(err, QVIR_ERR_OPERATION_FAILED,
                "operation failed: Storage source conflict with pool: 'images'");
    g_clear_error(&err);

    /* not built yet */
    g_assert_false(qvirStoragePoolCreate(f->drv, uuid, 0, &err));
    g_assert_nonnull(err);
    {
        g_autofree char *msg =
            g_strdup_printf("cannot open directory '%s': No such file or directory", f->images);

        assertError(err, QVIR_ERR_SYSTEM_ERROR, msg);
    }
    g_clear_error(&err);
    g_assert_cmpint(qvirStoragePoolNumOfVolumes(f->drv, uuid, &err), ==, -1);
    assertError(err, QVIR_ERR_OPERATION_INVALID,
                "Requested operation is not valid: storage pool 'images' is not active");
    g_clear_error(&err);

    /* build makes the directory with libvirt's mode */
    g_assert_true(qvirStoragePoolBuild(f->drv, uuid, 0, &err));
    g_assert_cmpint(stat(f->images, &sb), ==, 0);
    g_assert_cmpint(sb.st_mode & 0777, ==, 0711);
    g_assert_true(qvirStoragePoolCreate(f->drv, uuid, 0, &err));
    g_assert_no_error(err);
    g_assert_true(g_file_test(stateFile, G_FILE_TEST_IS_REGULAR));
    g_assert_true(qvirStoragePoolGetInfo(f->drv, uuid, &info, &err));
    g_assert_cmpint(info.state, ==, QVIR_STORAGE_POOL_RUNNING);
    g_assert_cmpuint(info.capacity, >, 0);
    g_assert_cmpuint(info.capacity, ==, info.allocation + info.available);
    desc = qvirStoragePoolGetXMLDesc(f->drv, uuid, 0, &err);
    g_assert_no_error(err);
    assertSchemaValid(desc, "storagepool.rng");
    g_assert_nonnull(strstr(desc, "<mode>0711</mode>"));

    g_assert_false(qvirStoragePoolUndefine(f->drv, uuid, &err));
    assertError(err, QVIR_ERR_OPERATION_INVALID,
                "Requested operation is not valid: storage pool 'images' is still active");
    g_clear_error(&err);
    g_assert_true(qvirStoragePoolSetAutostart(f->drv, uuid, TRUE, &err));
    g_assert_true(g_file_test(link, G_FILE_TEST_IS_SYMLINK));

    /* a restart: the active pool is active again */
    qvirStorageDriverClose(f->drv);
    fixtureOpen(f);
    g_assert_cmpint(qvirStoragePoolIsActive(f->drv, uuid, NULL), ==, 1);
    g_assert_cmpint(qvirStoragePoolGetAutostart(f->drv, uuid, NULL), ==, 1);

    /* stopped, it starts again at the next start because of autostart */
    g_assert_true(qvirStoragePoolDestroy(f->drv, uuid, &err));
    g_assert_false(g_file_test(stateFile, G_FILE_TEST_EXISTS));
    qvirStorageDriverClose(f->drv);
    fixtureOpen(f);
    g_assert_cmpint(qvirStoragePoolIsActive(f->drv, uuid, NULL), ==, 1);

    /* without autostart it stays stopped */
    g_assert_true(qvirStoragePoolSetAutostart(f->drv, uuid, FALSE, &err));
    g_assert_true(qvirStoragePoolDestroy(f->drv, uuid, &err));
    qvirStorageDriverClose(f->drv);
    fixtureOpen(f);
    g_assert_cmpint(qvirStoragePoolIsActive(f->drv, uuid, NULL), ==, 0);
    all = qvirStorageListAllPools(f->drv, 1 /* inactive */);
    g_assert_cmpuint(all->len, ==, 1);
    g_clear_pointer(&all, g_ptr_array_unref);
    all = qvirStorageListAllPools(f->drv, 2 /* active */);
    g_assert_cmpuint(all->len, ==, 0);
    g_clear_pointer(&all, g_ptr_array_unref);

    g_assert_true(qvirStoragePoolDelete(f->drv, uuid, 0, &err));
    g_assert_false(g_file_test(f->images, G_FILE_TEST_EXISTS));
    g_assert_true(qvirStoragePoolUndefine(f->drv, uuid, &err));
    g_assert_no_error(err);
    g_assert_false(g_file_test(cfgFile, G_FILE_TEST_EXISTS));
    g_assert_null(qvirStoragePoolLookupByName(f->drv, "images", &err));
    assertError(err, QVIR_ERR_NO_STORAGE_POOL,
                "Storage pool not found: no storage pool with matching name 'images'");
    g_clear_error(&err);
}

/* A transient pool lives while it runs, and across a daemon restart. */
static void
testPoolTransient(Fixture *f, gconstpointer data)
{
    g_autofree char *xml = poolXML("tmp", f->images);
    g_autoptr(qvirStoragePoolRef) ref = NULL;
    GError *err = NULL;
    guint8 uuid[16];

    /* without its directory it cannot start; with the build flag it makes it first */
    g_assert_null(qvirStoragePoolCreateXML(f->drv, xml, 0, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(qvirStoragePoolLookupByName(f->drv, "tmp", NULL));
    ref = qvirStoragePoolCreateXML(f->drv, xml, QVIR_STORAGE_POOL_CREATE_WITH_BUILD, &err);
    g_assert_no_error(err);
    memcpy(uuid, ref->uuid, 16);
    g_assert_cmpint(qvirStoragePoolIsPersistent(f->drv, uuid, NULL), ==, 0);
    g_assert_false(qvirStoragePoolSetAutostart(f->drv, uuid, TRUE, &err));
    assertError(err, QVIR_ERR_INTERNAL_ERROR, "internal error: pool has no config file");
    g_clear_error(&err);
    qvirStorageDriverClose(f->drv);
    fixtureOpen(f);
    g_assert_cmpint(qvirStoragePoolIsActive(f->drv, uuid, NULL), ==, 1);
    g_assert_true(qvirStoragePoolDestroy(f->drv, uuid, &err));
    g_assert_null(qvirStoragePoolLookupByUUID(f->drv, uuid, &err));
    g_assert_cmpint(err->code, ==, QVIR_ERR_NO_STORAGE_POOL);
    g_clear_error(&err);
}

static char *
volXML(Fixture *f, const guint8 *uuid, const char *name)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(qvirStorageVolRef) ref = qvirStorageVolLookupByName(f->drv, uuid, name, &err);

    g_assert_no_error(err);
    xml = qvirStorageVolGetXMLDesc(f->drv, ref->pool, ref->name, 0, &err);
    g_assert_no_error(err);
    assertSchemaValid(xml, "storagevol.rng");
    return g_steal_pointer(&xml);
}

static qvirStorageVolRef *
volCreate(Fixture *f, const guint8 *uuid, const char *xml, guint flags)
{
    g_autoptr(GError) err = NULL;
    qvirStorageVolRef *ref = qvirStorageVolCreateXML(f->drv, uuid, xml, flags, &err);

    g_assert_no_error(err);
    return ref;
}

static guint64
fileAllocation(const char *path)
{
    struct stat sb;

    g_assert_cmpint(stat(path, &sb), ==, 0);
    return (guint64)sb.st_blocks * 512;
}

static void
testVolumes(Fixture *f, gconstpointer data)
{
    g_autofree char *base = g_build_filename(f->images, "base.qcow2", NULL);
    g_autofree char *top = g_build_filename(f->images, "top.qcow2", NULL);
    g_autofree char *raw = g_build_filename(f->images, "disk.img", NULL);
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(qvirStorageVolRef) ref = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *expect = NULL;
    g_autofree char *dotted = NULL;
    guint64 cap = 0, alloc = 0;
    GError *err = NULL;
    guint8 uuid[16];
    int type = -1;

    g_assert_cmpint(g_mkdir(f->images, 0755), ==, 0);
    qvirTestQcow2Create(base, NULL, "64M");
    qvirTestQcow2Create(top, "base.qcow2", NULL);
    g_assert_true(g_file_set_contents(raw, "raw", 3, NULL));
    poolStart(f, "images", f->images, uuid);

    names = qvirStoragePoolListVolumes(f->drv, uuid, FALSE, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(names->len, ==, 3);
    g_assert_cmpstr(g_ptr_array_index(names, 0), ==, "base.qcow2");
    g_assert_cmpstr(g_ptr_array_index(names, 1), ==, "disk.img");
    g_assert_cmpstr(g_ptr_array_index(names, 2), ==, "top.qcow2");

    /* the top of the chain: its format, size and the backing file it records */
    xml = volXML(f, uuid, "top.qcow2");
    expect =
        g_strdup_printf("  <key>%s</key>\n  <capacity unit='bytes'>67108864</capacity>\n", top);
    g_assert_nonnull(strstr(xml, expect));
    g_clear_pointer(&expect, g_free);
    expect = g_strdup_printf("  <backingStore>\n    <path>%s</path>\n"
                             "    <format type='qcow2'/>\n",
                             base);
    g_assert_nonnull(strstr(xml, expect));
    g_assert_nonnull(strstr(xml, "<format type='qcow2'/>\n    <permissions>"));
    g_assert_nonnull(strstr(xml, "<compat>1.1</compat>\n    <clusterSize unit='B'>65536"));
    g_clear_pointer(&xml, g_free);
    xml = volXML(f, uuid, "disk.img");
    g_assert_nonnull(strstr(xml, "<format type='raw'/>"));
    g_assert_nonnull(strstr(xml, "<capacity unit='bytes'>3</capacity>"));
    g_assert_null(strstr(xml, "<backingStore>"));
    g_clear_pointer(&xml, g_free);

    /* lookups: by path (also written with extra slashes), by key; misses are NO_STORAGE_VOL */
    dotted = g_strdup_printf("%s//top.qcow2", f->images);
    ref = qvirStorageVolLookupByPath(f->drv, dotted, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(ref->name, ==, "top.qcow2");
    g_assert_cmpstr(ref->pool, ==, "images");
    g_clear_pointer(&ref, qvirStorageVolRefFree);
    ref = qvirStorageVolLookupByKey(f->drv, top, &err);
    g_assert_no_error(err);
    g_clear_pointer(&ref, qvirStorageVolRefFree);
    g_assert_null(qvirStorageVolLookupByPath(f->drv, "/nonexist", &err));
    assertError(err, QVIR_ERR_NO_STORAGE_VOL,
                "Storage volume not found: no storage vol with matching path '/nonexist'");
    g_clear_error(&err);
    g_assert_null(qvirStorageVolLookupByName(f->drv, uuid, "nope", &err));
    assertError(err, QVIR_ERR_NO_STORAGE_VOL,
                "Storage volume not found: no storage vol with matching name 'nope'");
    g_clear_error(&err);
    g_assert_null(qvirStorageVolLookupByKey(f->drv, "/nope", &err));
    assertError(err, QVIR_ERR_NO_STORAGE_VOL,
                "Storage volume not found: no storage vol with matching key /nope");
    g_clear_error(&err);

    /* a file that appears behind the driver's back shows after a refresh */
    {
        g_autofree char *late = g_build_filename(f->images, "late.img", NULL);

        g_assert_true(g_file_set_contents(late, "x", 1, NULL));
        g_assert_null(qvirStorageVolLookupByPath(f->drv, late, &err));
        g_clear_error(&err);
        g_assert_true(qvirStoragePoolRefresh(f->drv, uuid, 0, &err));
        ref = qvirStorageVolLookupByPath(f->drv, late, &err);
        g_assert_no_error(err);
        g_clear_pointer(&ref, qvirStorageVolRefFree);
    }

    /* raw: sparse, and preallocated when <allocation> says so */
    ref = volCreate(f, uuid,
                    "<volume><name>sparse.img</name><capacity unit='M'>16</capacity>"
                    "<allocation>0</allocation></volume>",
                    0);
    g_assert_true(
        qvirStorageVolGetInfo(f->drv, "images", "sparse.img", 0, &type, &cap, &alloc, &err));
    g_assert_cmpint(type, ==, 0);
    g_assert_cmpuint(cap, ==, 16u << 20);
    g_assert_cmpuint(alloc, <, 1u << 20);
    g_assert_cmpuint(fileAllocation(ref->key), <, 1u << 20);
    g_clear_pointer(&ref, qvirStorageVolRefFree);
    ref = volCreate(f, uuid,
                    "<volume><name>full.img</name><capacity unit='M'>8</capacity>"
                    "<allocation unit='M'>8</allocation></volume>",
                    0);
    g_assert_cmpuint(fileAllocation(ref->key), >=, 8u << 20);
    xml = volXML(f, uuid, "full.img");
    g_assert_nonnull(strstr(xml, "<mode>0600</mode>"));
    g_clear_pointer(&xml, g_free);
    g_clear_pointer(&ref, qvirStorageVolRefFree);

    /* qcow2 with the details libvirt passes to qemu-img */
    ref = volCreate(f, uuid,
                    "<volume><name>lazy.qcow2</name><capacity unit='M'>32</capacity>"
                    "<target><format type='qcow2'/><compat>1.1</compat>"
                    "<clusterSize unit='KiB'>128</clusterSize>"
                    "<features><lazy_refcounts/></features></target></volume>",
                    0);
    xml = volXML(f, uuid, "lazy.qcow2");
    g_assert_nonnull(strstr(xml, "<compat>1.1</compat>\n"
                                 "    <clusterSize unit='B'>131072</clusterSize>\n"
                                 "    <features>\n      <lazy_refcounts/>\n    </features>"));
    g_clear_pointer(&xml, g_free);
    g_clear_pointer(&ref, qvirStorageVolRefFree);
    /* without <compat>: libvirt's 0.10 */
    ref = volCreate(f, uuid,
                    "<volume><name>old.qcow2</name><capacity unit='M'>1</capacity>"
                    "<target><format type='qcow2'/></target></volume>",
                    0);
    xml = volXML(f, uuid, "old.qcow2");
    {
        g_autofree char *content = NULL;

        g_assert_true(g_file_get_contents(ref->key, &content, NULL, NULL));
        g_assert_cmpint(content[7], ==, 2); /* qcow2 version 2 */
    }
    /* libvirt shows neither a compat level nor features for version 2 */
    g_assert_null(strstr(xml, "<compat>"));
    g_assert_null(strstr(xml, "<features"));
    g_clear_pointer(&xml, g_free);
    g_clear_pointer(&ref, qvirStorageVolRefFree);
    /* preallocated metadata */
    ref = volCreate(f, uuid,
                    "<volume><name>meta.qcow2</name><capacity unit='M'>64</capacity>"
                    "<allocation>0</allocation><target><format type='qcow2'/></target></volume>",
                    QVIR_STORAGE_VOL_CREATE_PREALLOC_METADATA);
    g_assert_true(qvirStorageVolGetInfo(f->drv, "images", "meta.qcow2",
                                        QVIR_STORAGE_VOL_GET_PHYSICAL, &type, &cap, &alloc, &err));
    g_assert_cmpuint(alloc, >, 64u << 20); /* physical: the metadata covers the whole disk */
    g_clear_pointer(&ref, qvirStorageVolRefFree);
    /* an overlay: a relative backing name resolves in the pool; its format is recorded */
    ref = volCreate(f, uuid,
                    "<volume><name>overlay.qcow2</name><capacity unit='M'>64</capacity>"
                    "<target><format type='qcow2'/></target>"
                    "<backingStore><path>top.qcow2</path><format type='qcow2'/></backingStore>"
                    "</volume>",
                    0);
    xml = volXML(f, uuid, "overlay.qcow2");
    g_clear_pointer(&expect, g_free);
    expect =
        g_strdup_printf("<backingStore>\n    <path>%s</path>\n    <format type='qcow2'/>", top);
    g_assert_nonnull(strstr(xml, expect));
    g_clear_pointer(&xml, g_free);
    g_clear_pointer(&ref, qvirStorageVolRefFree);

    /* refusals */
    g_assert_null(qvirStorageVolCreateXML(
        f->drv, uuid, "<volume><name>top.qcow2</name><capacity>1</capacity></volume>", 0, &err));
    assertError(err, QVIR_ERR_STORAGE_VOL_EXIST, "storage volume 'top.qcow2' exists already");
    g_clear_error(&err);
    g_assert_null(qvirStorageVolCreateXML(
        f->drv, uuid, "<volume><name>r.img</name><capacity>1</capacity></volume>",
        QVIR_STORAGE_VOL_CREATE_PREALLOC_METADATA, &err));
    g_assert_cmpint(err->code, ==, QVIR_ERR_OPERATION_INVALID);
    g_clear_error(&err);
    g_assert_null(qvirStorageVolCreateXML(
        f->drv, uuid,
        "<volume><name>o.qcow2</name><capacity>1</capacity><target><format type='qcow2'/>"
        "</target><backingStore><path>/nonexistent.qcow2</path></backingStore></volume>",
        0, &err));
    g_assert_cmpint(err->code, ==, QVIR_ERR_SYSTEM_ERROR);
    g_assert_true(
        g_str_has_prefix(err->message, "inaccessible backing store volume /nonexistent.qcow2"));
    g_clear_error(&err);

    /* clone (qemu-img convert): same size and data, the format the XML asks for */
    {
        g_autofree char *clone = g_build_filename(f->images, "clone.qcow2", NULL);
        g_autofree char *out = NULL;
        const char *cmp[] = {"qemu-img", "compare", "-q", top, clone, NULL};

        ref = qvirStorageVolCreateXMLFrom(f->drv, uuid,
                                          "<volume><name>clone.qcow2</name><capacity>0</capacity>"
                                          "<target><format type='qcow2'/></target></volume>",
                                          "images", "top.qcow2", 0, &err);
        g_assert_no_error(err);
        g_assert_cmpint(qvirTestRun(cmp, &out, NULL), ==, 0);
        xml = volXML(f, uuid, "clone.qcow2");
        g_assert_nonnull(strstr(xml, "<capacity unit='bytes'>67108864</capacity>"));
        g_assert_null(strstr(xml, "<backingStore>")); /* a flat copy */
        g_clear_pointer(&xml, g_free);
        g_clear_pointer(&ref, qvirStorageVolRefFree);
    }

    /* resize: grow; shrink only with the flag */
    g_assert_true(qvirStorageVolResize(f->drv, "images", "lazy.qcow2", 64u << 20, 0, &err));
    g_assert_no_error(err);
    g_assert_true(
        qvirStorageVolGetInfo(f->drv, "images", "lazy.qcow2", 0, &type, &cap, &alloc, &err));
    g_assert_cmpuint(cap, ==, 64u << 20);
    g_assert_false(qvirStorageVolResize(f->drv, "images", "lazy.qcow2", 16u << 20, 0, &err));
    assertError(err, QVIR_ERR_INVALID_ARG,
                "invalid argument: Can't shrink capacity below current capacity unless shrink "
                "flag explicitly specified");
    g_clear_error(&err);
    g_assert_true(qvirStorageVolResize(f->drv, "images", "lazy.qcow2", 16u << 20,
                                       QVIR_STORAGE_VOL_RESIZE_SHRINK, &err));
    g_assert_no_error(err);
    g_assert_true(
        qvirStorageVolGetInfo(f->drv, "images", "lazy.qcow2", 0, &type, &cap, &alloc, &err));
    g_assert_cmpuint(cap, ==, 16u << 20);
    g_assert_true(qvirStorageVolResize(f->drv, "images", "sparse.img", 1u << 20,
                                       QVIR_STORAGE_VOL_RESIZE_DELTA, &err));
    g_assert_true(
        qvirStorageVolGetInfo(f->drv, "images", "sparse.img", 0, &type, &cap, &alloc, &err));
    g_assert_cmpuint(cap, ==, 17u << 20);

    /* wipe: the data is zero afterwards, holes stay holes */
    {
        g_autofree char *path = g_build_filename(f->images, "full.img", NULL);
        g_autofree char *content = NULL;
        gsize len = 0;
        int fd = open(path, O_WRONLY);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pwrite(fd, "secret", 6, 4096), ==, 6);
        close(fd);
        g_assert_true(qvirStorageVolWipe(f->drv, "images", "full.img", 0, 0, &err));
        g_assert_no_error(err);
        g_assert_true(g_file_get_contents(path, &content, &len, NULL));
        g_assert_cmpuint(len, ==, 8u << 20);
        for (gsize i = 0; i < len; i++)
            g_assert_cmpint(content[i], ==, 0);
        g_assert_false(qvirStorageVolWipe(f->drv, "images", "full.img", 3, 0, &err));
        assertError(err, QVIR_ERR_INVALID_ARG,
                    "invalid argument: wiping algorithm 3 not supported");
        g_clear_error(&err);
    }

    /* delete */
    g_assert_true(qvirStorageVolDelete(f->drv, "images", "disk.img", 0, &err));
    g_assert_false(g_file_test(raw, G_FILE_TEST_EXISTS));
    g_assert_null(qvirStorageVolLookupByPath(f->drv, raw, &err));
    g_assert_cmpint(err->code, ==, QVIR_ERR_NO_STORAGE_VOL);
    g_clear_error(&err);
    g_assert_false(qvirStorageVolDelete(f->drv, "images", "disk.img", 0, &err));
    g_assert_cmpint(err->code, ==, QVIR_ERR_NO_STORAGE_VOL);
    g_clear_error(&err);

    /* a stopped pool has no volumes to show */
    g_assert_true(qvirStoragePoolDestroy(f->drv, uuid, &err));
    g_assert_null(qvirStorageVolLookupByPath(f->drv, top, &err));
    g_assert_cmpint(err->code, ==, QVIR_ERR_NO_STORAGE_VOL);
    g_clear_error(&err);
}

typedef struct {
    Fixture *f;
    const guint8 *uuid;
    qvirStorageVolRef *ref;
    GError *err;
} CreateJob;

static gpointer
createThread(gpointer opaque)
{
    CreateJob *job = opaque;

    job->ref =
        qvirStorageVolCreateXML(job->f->drv, job->uuid,
                                "<volume><name>slow.qcow2</name><capacity unit='M'>8</capacity>"
                                "<target><format type='qcow2'/></target></volume>",
                                0, &job->err);
    return NULL;
}

/* qemu-img runs without the driver lock: while it makes a volume, the volume is listed
 * and its size known, the rest of the driver answers, and what would pull the ground from
 * under it is refused with libvirt's errors. qemu-img is the real one behind a gate the
 * test opens. */
static void
testCreateUnlocked(Fixture *f, gconstpointer data)
{
    g_autofree char *gate = g_build_filename(f->root, "gate", NULL);
    g_autofree char *wrapper = g_build_filename(f->root, "qemu-img-gated", NULL);
    g_autofree char *script = g_strdup_printf(
        "#!/bin/sh\nwhile [ ! -e '%s' ]; do sleep 0.01; done\nexec qemu-img \"$@\"\n", gate);
    g_autoptr(qvirStorageVolRef) ref = NULL;
    CreateJob job = {.f = f};
    GError *err = NULL;
    GThread *thread;
    guint8 uuid[16];
    guint64 cap = 0, alloc = 0;
    int type;

    g_assert_true(g_file_set_contents(wrapper, script, -1, NULL));
    g_assert_cmpint(chmod(wrapper, 0755), ==, 0);
    qvirStorageDriverClose(f->drv);
    f->drv = qvirStorageDriverOpen(f->config, f->state, wrapper, &err);
    g_assert_no_error(err);
    poolStart(f, "images", f->images, uuid);
    job.uuid = uuid;
    thread = g_thread_new("create", createThread, &job);

    while (!(ref = qvirStorageVolLookupByName(f->drv, uuid, "slow.qcow2", NULL)))
        g_usleep(1000);
    g_assert_true(
        qvirStorageVolGetInfo(f->drv, "images", "slow.qcow2", 0, &type, &cap, &alloc, &err));
    g_assert_cmpuint(cap, ==, 8u << 20);
    g_assert_false(qvirStorageVolDelete(f->drv, "images", "slow.qcow2", 0, &err));
    assertError(err, QVIR_ERR_OPERATION_INVALID,
                "Requested operation is not valid: volume 'slow.qcow2' is still being allocated.");
    g_clear_error(&err);
    g_assert_false(qvirStoragePoolDestroy(f->drv, uuid, &err));
    assertError(err, QVIR_ERR_INTERNAL_ERROR,
                "internal error: pool 'images' has asynchronous jobs running.");
    g_clear_error(&err);
    g_assert_false(qvirStoragePoolRefresh(f->drv, uuid, 0, &err));
    g_assert_cmpint(err->code, ==, QVIR_ERR_INTERNAL_ERROR);
    g_clear_error(&err);
    g_assert_null(qvirStorageVolCreateXML(
        f->drv, uuid, "<volume><name>slow.qcow2</name><capacity>1</capacity></volume>", 0, &err));
    g_assert_cmpint(err->code, ==, QVIR_ERR_STORAGE_VOL_EXIST);
    g_clear_error(&err);
    /* a raw volume needs no qemu-img: made while the other one waits */
    g_clear_pointer(&ref, qvirStorageVolRefFree);
    ref = volCreate(f, uuid, "<volume><name>quick.img</name><capacity>4096</capacity></volume>", 0);
    g_clear_pointer(&ref, qvirStorageVolRefFree);

    g_assert_true(g_file_set_contents(gate, "", 0, NULL));
    g_thread_join(thread);
    g_assert_no_error(job.err);
    g_assert_nonnull(job.ref);
    qvirStorageVolRefFree(job.ref);
    g_assert_true(
        qvirStorageVolGetInfo(f->drv, "images", "slow.qcow2", 0, &type, &cap, &alloc, &err));
    g_assert_cmpuint(alloc, >, 0);
    g_assert_true(qvirStorageVolDelete(f->drv, "images", "slow.qcow2", 0, &err));
    g_assert_true(qvirStoragePoolDestroy(f->drv, uuid, &err));
    g_assert_no_error(err);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/storage/conf/pool-xml", testPoolXML);
    g_test_add_func("/storage/conf/vol-xml", testVolXML);
    g_test_add("/storage/driver/pool-lifecycle", Fixture, NULL, fixtureSetUp, testPoolLifecycle,
               fixtureTearDown);
    g_test_add("/storage/driver/pool-transient", Fixture, NULL, fixtureSetUp, testPoolTransient,
               fixtureTearDown);
    g_test_add("/storage/driver/volumes", Fixture, NULL, fixtureSetUp, testVolumes,
               fixtureTearDown);
    g_test_add("/storage/driver/create-unlocked", Fixture, NULL, fixtureSetUp, testCreateUnlocked,
               fixtureTearDown);
    return g_test_run();
}
