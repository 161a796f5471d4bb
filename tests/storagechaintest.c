/*
 * Backing chains on disk: chains made by the real qemu-img, compared field by field
 * with `qemu-img info --backing-chain --output=json`, and malicious chains (loops,
 * depth, lying raw disks, missing files, unrecorded formats) with libvirt's errors.
 */
#include <glib.h>
#include <errno.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "testutils.h"
#include "storage/storage_chain.h"
#include "util/virerror.h"

#define MiB (1024 * 1024)

static const char *const probeFailedSuffix =
    "was not specified in the image metadata (See https://libvirt.org/kbase/backing_chains.html "
    "for troubleshooting)";

/* ---- helpers --------------------------------------------------------------------------- */

/*
 * qemu-img create -f FMT [-o OPTS] [-u] [-b BACKING -F BFMT] DIR/NAME [SIZE].
 * SIZE NULL takes the backing file's size.
 */
static char *
create(const char *dir, const char *name, const char *fmt, const char *opts, const char *backing,
       const char *bfmt, const char *size, gboolean unsafe)
{
    char *path = g_build_filename(dir, name, NULL);
    const char *argv[16];
    int n = 0;

    argv[n++] = "qemu-img";
    argv[n++] = "create";
    argv[n++] = "-q";
    argv[n++] = "-f";
    argv[n++] = fmt;
    if (opts) {
        argv[n++] = "-o";
        argv[n++] = opts;
    }
    if (unsafe)
        argv[n++] = "-u";
    if (backing) {
        argv[n++] = "-b";
        argv[n++] = backing;
        argv[n++] = "-F";
        argv[n++] = bfmt;
    }
    argv[n++] = path;
    if (size)
        argv[n++] = size;
    argv[n] = NULL;
    qvirTestRunOk(argv);
    return path;
}

static JsonArray *
qemuImgInfoChain(const char *path, JsonParser **parserOut)
{
    const char *argv[] = {"qemu-img", "info", "-U", "--backing-chain", "--output=json", path, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) error = NULL;
    JsonParser *parser = json_parser_new();

    if (qvirTestRun(argv, &out, &err) != 0)
        g_error("qemu-img info %s failed: %s", path, err);
    g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
    *parserOut = parser;
    return json_node_get_array(json_parser_get_root(parser));
}

static qvirStorageSource *
newTop(const char *path, qvirStorageFileFormat fmt)
{
    qvirStorageSource *top = qvirStorageSourceNew();

    top->type = QVIR_STORAGE_TYPE_FILE;
    top->path = g_strdup(path);
    top->format = fmt;
    return top;
}

/* Probe PATH as FMT; headers read must equal READS (raw layers are never read). */
static qvirStorageSource *
probeOk(const char *path, qvirStorageFileFormat fmt, gboolean allowProbe, guint64 reads)
{
    qvirStorageSource *top = newTop(path, fmt);
    g_autoptr(GError) error = NULL;
    qvirStorageChainConfig cfg;
    guint64 before = qvirStorageProbeCounter();

    qvirStorageChainConfigInit(&cfg);
    cfg.allowFormatProbing = allowProbe;
    if (!qvirStorageChainProbe(top, &cfg, &error))
        g_error("probing %s failed: %s", path, error->message);
    g_assert_true(qvirStorageSourceChainIsTerminated(top));
    g_assert_cmpuint(qvirStorageProbeCounter() - before, ==, reads);
    return top;
}

/* Probe must fail with exactly MESSAGE, leaving the top as it was. */
static void
probeFails(const char *path, qvirStorageFileFormat fmt, const qvirStorageChainConfig *cfg,
           const char *message)
{
    g_autoptr(qvirStorageSource) top = newTop(path, fmt);
    g_autoptr(GError) error = NULL;

    g_assert_false(qvirStorageChainProbe(top, cfg, &error));
    g_assert_nonnull(error);
    g_assert_cmpstr(error->message, ==, message);
    g_assert_null(top->backingStore);
    g_assert_null(top->backingStoreRaw);
    g_assert_cmpuint(top->capacity, ==, 0);
    g_assert_cmpint(top->format, ==, fmt);
    g_assert_cmpuint(top->ino, ==, 0);
}

static void
probeFailsDefault(const char *path, qvirStorageFileFormat fmt, const char *message)
{
    qvirStorageChainConfig cfg;

    qvirStorageChainConfigInit(&cfg);
    probeFails(path, fmt, &cfg, message);
}

static const char *
memberOrNull(JsonObject *o, const char *name)
{
    return json_object_has_member(o, name) ? json_object_get_string_member(o, name) : NULL;
}

/* Our chain and qemu-img's, layer by layer, field by field. */
static void
assertMatchesQemuImg(const qvirStorageSource *top, const char *path)
{
    g_autoptr(JsonParser) parser = NULL;
    JsonArray *layers = qemuImgInfoChain(path, &parser);
    const qvirStorageSource *src = top;
    guint n = json_array_get_length(layers);

    g_assert_cmpuint(qvirStorageSourceChainLength(top), ==, n);
    for (guint i = 0; i < n; i++, src = src->backingStore) {
        JsonObject *o = json_array_get_object_element(layers, i);
        const qvirStorageSource *next = src->backingStore;
        const char *bfmt = memberOrNull(o, "backing-filename-format");

        g_assert_cmpstr(json_object_get_string_member(o, "filename"), ==, src->path);
        g_assert_cmpstr(json_object_get_string_member(o, "format"), ==,
                        qvirStorageFileFormatTypeToString(src->format));
        g_assert_cmpint(json_object_get_int_member(o, "virtual-size"), ==, (gint64)src->capacity);
        g_assert_cmpstr(memberOrNull(o, "backing-filename"), ==, src->backingStoreRaw);
        g_assert_cmpstr(memberOrNull(o, "full-backing-filename"), ==,
                        qvirStorageSourceIsBacking(next) ? next->path : NULL);
        g_assert_cmpstr(bfmt, ==,
                        src->backingFormat ? qvirStorageFileFormatTypeToString(src->backingFormat)
                                           : NULL);
        g_assert_cmpint(json_object_has_member(o, "encrypted"), ==, src->encrypted);
        if (qvirStorageSourceIsBacking(next)) {
            g_assert_cmpstr(next->relPath, ==, src->backingStoreRaw);
            g_assert_true(next->readonly);
        }
    }
    g_assert_false(qvirStorageSourceIsBacking(src));
}

/* Minimal qcow2 v3 header written by hand (for chains qemu-img refuses to make). */
static char *
writeQcow2(const char *dir, const char *name, const char *backing, const char *bfmt,
           guint64 incompat)
{
    char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GByteArray) a = g_byte_array_new();
    gsize off = 104;
    g_autoptr(GError) error = NULL;

    g_byte_array_set_size(a, 4096);
    memset(a->data, 0, a->len);
#define BE(o, v, n)                                                                                \
    for (int i_ = 0; i_ < (n); i_++)                                                               \
        a->data[(o) + i_] = (guint8)((guint64)(v) >> (8 * ((n)-1 - i_)));
    memcpy(a->data, "QFI\xfb", 4);
    BE(4, 3, 4);
    BE(20, 16, 4);
    BE(24, MiB, 8);
    BE(72, incompat, 8);
    BE(96, 4, 4);
    BE(100, 104, 4);
    if (bfmt) {
        BE(off, 0xE2792ACA, 4);
        BE(off + 4, strlen(bfmt), 4);
        memcpy(a->data + off + 8, bfmt, strlen(bfmt));
        off += 8 + ((strlen(bfmt) + 7) & ~7U);
    }
    off += 8;
    if (backing) {
        BE(8, off, 8);
        BE(16, strlen(backing), 4);
        memcpy(a->data + off, backing, strlen(backing));
    }
#undef BE
    g_assert_true(g_file_set_contents(path, (const char *)a->data, a->len, &error));
    return path;
}

/* Overwrite LEN bytes at OFF in PATH. */
static void
patchFile(const char *path, gsize off, const void *data, gsize len)
{
    g_autofree char *contents = NULL;
    gsize size;

    g_assert_true(g_file_get_contents(path, &contents, &size, NULL));
    g_assert_cmpuint(off + len, <=, size);
    memcpy(contents + off, data, len);
    g_assert_true(g_file_set_contents(path, contents, size, NULL));
}

/* Find the 4-byte big-endian MAGIC in the first 64 KiB of PATH. */
static gsize
findMagic(const char *path, guint32 magic)
{
    g_autofree char *contents = NULL;
    guint8 m[4] = {magic >> 24, magic >> 16, magic >> 8, magic};
    gsize size;

    g_assert_true(g_file_get_contents(path, &contents, &size, NULL));
    for (gsize i = 0; i + 4 <= MIN(size, 65536); i++) {
        if (memcmp(contents + i, m, 4) == 0)
            return i;
    }
    g_assert_not_reached();
}

/* ---- chains made by qemu-img ----------------------------------------------------------- */

static void
testQcow2Relative(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.raw", "raw", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *mid =
        create(dir, "mid.qcow2", "qcow2", "compat=0.10", "base.raw", "raw", NULL, FALSE);
    g_autofree char *top =
        create(dir, "top.qcow2", "qcow2", "compat=1.1", "mid.qcow2", "qcow2", "2M", FALSE);
    g_autoptr(qvirStorageSource) chain = probeOk(top, QVIR_STORAGE_FILE_QCOW2, FALSE, 2);

    assertMatchesQemuImg(chain, top);
    g_assert_cmpuint(qvirStorageSourceChainLength(chain), ==, 3);
    g_assert_cmpstr(chain->backingStore->backingStore->path, ==, base);
    g_assert_cmpint(chain->backingStore->backingStore->type, ==, QVIR_STORAGE_TYPE_FILE);
    g_assert_cmpuint(chain->capacity, ==, 2 * MiB);
    g_assert_cmpuint(chain->backingStore->capacity, ==, MiB);
    g_assert_null(chain->relPath);
    qvirTestTempDirRemove(dir);
}

static void
testQcow2Absolute(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base =
        create(dir, "base.qcow2", "qcow2", "compat=0.10", NULL, NULL, "1M", FALSE);
    g_autofree char *mid = create(dir, "mid.qcow2", "qcow2", NULL, base, "qcow2", NULL, FALSE);
    g_autofree char *top = create(dir, "top.qcow2", "qcow2", NULL, mid, "qcow2", NULL, FALSE);
    g_autoptr(qvirStorageSource) chain = probeOk(top, QVIR_STORAGE_FILE_QCOW2, FALSE, 3);

    assertMatchesQemuImg(chain, top);
    g_assert_cmpstr(chain->backingStore->relPath, ==, mid);
    qvirTestTempDirRemove(dir);
}

static void
testSubdirectories(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *sub1 = g_build_filename(dir, "base", NULL);
    g_autofree char *sub2 = g_build_filename(dir, "img", NULL);
    g_autofree char *base = NULL, *top = NULL;
    g_autoptr(qvirStorageSource) chain = NULL;

    g_assert_cmpint(g_mkdir(sub1, 0700), ==, 0);
    g_assert_cmpint(g_mkdir(sub2, 0700), ==, 0);
    base = create(sub1, "b.qcow2", "qcow2", NULL, NULL, NULL, "1M", FALSE);
    top = create(sub2, "t.qcow2", "qcow2", NULL, "../base/b.qcow2", "qcow2", NULL, FALSE);
    chain = probeOk(top, QVIR_STORAGE_FILE_QCOW2, FALSE, 2);
    assertMatchesQemuImg(chain, top);
    qvirTestTempDirRemove(dir);
}

static void
testQed(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.raw", "raw", NULL, NULL, NULL, "3M", FALSE);
    g_autofree char *qed = create(dir, "a.qed", "qed", NULL, "base.raw", "raw", NULL, FALSE);
    g_autofree char *top = create(dir, "top.qcow2", "qcow2", NULL, "a.qed", "qed", NULL, FALSE);
    g_autoptr(qvirStorageSource) chain = probeOk(top, QVIR_STORAGE_FILE_QCOW2, FALSE, 2);

    assertMatchesQemuImg(chain, top);
    qvirTestTempDirRemove(dir);
}

/*
 * QED records a non-raw backing format nowhere; its rule (and QEMU's, and libvirt's
 * AUTO_SAFE) is to probe the backing image and follow it, whatever its format.
 */
static void
testQedBackingProbed(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.qcow2", "qcow2", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *mid =
        create(dir, "mid.qcow2", "qcow2", NULL, "base.qcow2", "qcow2", NULL, FALSE);
    g_autofree char *qed = create(dir, "a.qed", "qed", NULL, "mid.qcow2", "qcow2", NULL, FALSE);
    g_autofree char *qed2 = create(dir, "b.qed", "qed", NULL, "a.qed", "qed", NULL, FALSE);
    g_autofree char *top = create(dir, "top.qcow2", "qcow2", NULL, "b.qed", "qed", NULL, FALSE);

    {
        /* QED over qcow2 over qcow2: the guessed qcow2 is followed to its base */
        g_autoptr(qvirStorageSource) chain = probeOk(qed, QVIR_STORAGE_FILE_QED, FALSE, 3);
        assertMatchesQemuImg(chain, qed);
        g_assert_cmpuint(qvirStorageSourceChainLength(chain), ==, 3);
        g_assert_cmpint(chain->backingFormat, ==, QVIR_STORAGE_FILE_NONE);
        g_assert_cmpint(chain->backingStore->format, ==, QVIR_STORAGE_FILE_QCOW2);
        g_assert_cmpint(chain->backingStore->backingStore->format, ==, QVIR_STORAGE_FILE_QCOW2);
    }
    {
        /* qcow2 over QED over QED over qcow2 over qcow2 */
        g_autoptr(qvirStorageSource) chain = probeOk(top, QVIR_STORAGE_FILE_QCOW2, FALSE, 5);
        assertMatchesQemuImg(chain, top);
        g_assert_cmpint(chain->backingStore->backingStore->format, ==, QVIR_STORAGE_FILE_QED);
    }
    qvirTestTempDirRemove(dir);
}

/* QED over raw: qemu-img sets the "raw" bit; without it the raw base is guessed as raw. */
static void
testQedOverRaw(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.raw", "raw", NULL, NULL, NULL, "2M", FALSE);
    g_autofree char *qed = create(dir, "a.qed", "qed", NULL, "base.raw", "raw", NULL, FALSE);
    const guint8 backingOnly[1] = {0x01}; /* features: backing file, no "raw, do not probe" */

    {
        g_autoptr(qvirStorageSource) chain = probeOk(qed, QVIR_STORAGE_FILE_QED, FALSE, 1);
        assertMatchesQemuImg(chain, qed);
        g_assert_cmpint(chain->backingFormat, ==, QVIR_STORAGE_FILE_RAW);
    }
    patchFile(qed, 16, backingOnly, 1);
    {
        /* the raw base is now read once to guess it (2 headers), and found raw */
        g_autoptr(qvirStorageSource) chain = probeOk(qed, QVIR_STORAGE_FILE_QED, FALSE, 2);
        assertMatchesQemuImg(chain, qed);
        g_assert_cmpint(chain->backingFormat, ==, QVIR_STORAGE_FILE_NONE);
        g_assert_cmpint(chain->backingStore->format, ==, QVIR_STORAGE_FILE_RAW);
        g_assert_cmpuint(chain->backingStore->capacity, ==, 2 * MiB);
    }
    qvirTestTempDirRemove(dir);
}

/*
 * The AUTO_SAFE rule covers only the QED's own backing. Below a guessed qcow2 that does
 * not record its backing's format, the usual rule applies again: refused unless probing
 * is allowed, and even then a guessed layer naming a backing file is not followed.
 */
static void
testQedOverUnrecordedQcow2(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.qcow2", "qcow2", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *mid =
        create(dir, "mid.qcow2", "qcow2", NULL, "base.qcow2", "qcow2", NULL, FALSE);
    g_autofree char *qed = create(dir, "a.qed", "qed", NULL, "mid.qcow2", "qcow2", NULL, FALSE);
    g_autofree char *msg = g_strdup_printf("format of backing image 'base.qcow2' of image '%s' %s",
                                           mid, probeFailedSuffix);
    g_autofree char *base2 =
        create(dir, "b2.qcow2", "qcow2", NULL, "base.qcow2", "qcow2", NULL, FALSE);
    g_autofree char *mid2 =
        create(dir, "mid2.qcow2", "qcow2", NULL, "b2.qcow2", "qcow2", NULL, FALSE);
    g_autofree char *qed2 = create(dir, "b.qed", "qed", NULL, "mid2.qcow2", "qcow2", NULL, FALSE);
    g_autofree char *msg2 = g_strdup_printf("format of backing image 'b2.qcow2' of image '%s' %s",
                                            mid2, probeFailedSuffix);
    const guint8 unknownExt[4] = {0x12, 0x34, 0x56, 0x78};
    qvirStorageChainConfig cfg;

    /* hide the backing format records of the two qcow2 images under the QEDs */
    patchFile(mid, findMagic(mid, 0xE2792ACA), unknownExt, 4);
    patchFile(mid2, findMagic(mid2, 0xE2792ACA), unknownExt, 4);
    probeFailsDefault(qed, QVIR_STORAGE_FILE_QED, msg);
    {
        g_autoptr(qvirStorageSource) chain = probeOk(qed, QVIR_STORAGE_FILE_QED, TRUE, 3);
        assertMatchesQemuImg(chain, qed);
    }
    qvirStorageChainConfigInit(&cfg);
    cfg.allowFormatProbing = TRUE;
    probeFails(qed2, QVIR_STORAGE_FILE_QED, &cfg, msg2);
    qvirTestTempDirRemove(dir);
}

static void
testVmdk(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.vmdk", "vmdk", NULL, NULL, NULL, "4M", FALSE);
    g_autofree char *mid = create(dir, "mid.vmdk", "vmdk", NULL, "base.vmdk", "vmdk", NULL, FALSE);
    g_autofree char *top = create(dir, "top.qcow2", "qcow2", NULL, "mid.vmdk", "vmdk", NULL, FALSE);
    g_autofree char *flat =
        create(dir, "flat.vmdk", "vmdk", "subformat=monolithicFlat", NULL, NULL, "2M", FALSE);
    g_autofree char *split = create(dir, "split.vmdk", "vmdk", "subformat=twoGbMaxExtentSparse",
                                    NULL, NULL, "5G", FALSE);
    g_autoptr(qvirStorageSource) chain = probeOk(top, QVIR_STORAGE_FILE_QCOW2, FALSE, 3);
    g_autoptr(qvirStorageSource) flatChain = probeOk(flat, QVIR_STORAGE_FILE_VMDK, FALSE, 1);
    g_autoptr(qvirStorageSource) splitChain = probeOk(split, QVIR_STORAGE_FILE_VMDK, FALSE, 1);

    assertMatchesQemuImg(chain, top);
    assertMatchesQemuImg(flatChain, flat);
    assertMatchesQemuImg(splitChain, split);
    qvirTestTempDirRemove(dir);
}

/* vpc, vdi, vhdx cannot have a backing file in QEMU: each is a chain's base. */
static void
testBaseOnlyFormats(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    const char *fmts[] = {"vpc", "vdi", "vhdx"};

    for (size_t i = 0; i < G_N_ELEMENTS(fmts); i++) {
        g_autofree char *baseName = g_strdup_printf("base.%s", fmts[i]);
        g_autofree char *topName = g_strdup_printf("top-%s.qcow2", fmts[i]);
        g_autofree char *base = create(dir, baseName, fmts[i], NULL, NULL, NULL, "10M", FALSE);
        g_autofree char *top = create(dir, topName, "qcow2", NULL, baseName, fmts[i], NULL, FALSE);
        g_autoptr(qvirStorageSource) chain = probeOk(top, QVIR_STORAGE_FILE_QCOW2, FALSE, 2);

        assertMatchesQemuImg(chain, top);
        g_assert_cmpint(chain->backingStore->format, ==,
                        qvirStorageFileFormatTypeFromString(fmts[i]));
    }
    qvirTestTempDirRemove(dir);
}

static void
testLuksBase(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *path = g_build_filename(dir, "disk.luks", NULL);
    const char *argv[] = {"qemu-img",
                          "create",
                          "-q",
                          "--object",
                          "secret,id=s0,data=pw",
                          "-f",
                          "luks",
                          "-o",
                          "key-secret=s0,iter-time=10",
                          path,
                          "3M",
                          NULL};
    g_autoptr(qvirStorageSource) chain = NULL;

    g_autofree char *enc = g_build_filename(dir, "enc.qcow2", NULL);
    const char *encArgv[] = {"qemu-img",
                             "create",
                             "-q",
                             "--object",
                             "secret,id=s0,data=pw",
                             "-f",
                             "qcow2",
                             "-o",
                             "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10,"
                             "backing_file=disk.luks,backing_fmt=luks",
                             enc,
                             NULL};
    g_autoptr(qvirStorageSource) encChain = NULL;

    qvirTestRunOk(argv);
    chain = probeOk(path, QVIR_STORAGE_FILE_LUKS, FALSE, 1);
    assertMatchesQemuImg(chain, path);
    g_assert_true(chain->encrypted);
    g_assert_cmpuint(chain->capacity, ==, 3 * MiB);

    /* an encrypted qcow2 (LUKS inside) over the LUKS base */
    qvirTestRunOk(encArgv);
    encChain = probeOk(enc, QVIR_STORAGE_FILE_QCOW2, FALSE, 2);
    assertMatchesQemuImg(encChain, enc);
    g_assert_true(encChain->encrypted);
    qvirTestTempDirRemove(dir);
}

static void
testMixed(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *l0 = create(dir, "l0.raw", "raw", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *l1 = create(dir, "l1.qed", "qed", NULL, "l0.raw", "raw", NULL, FALSE);
    g_autofree char *l2 = create(dir, "l2.qcow2", "qcow2", "compat=0.10", l1, "qed", NULL, FALSE);
    g_autofree char *l3 = create(dir, "l3.qcow2", "qcow2", NULL, "l2.qcow2", "qcow2", "8M", FALSE);
    g_autoptr(qvirStorageSource) chain = probeOk(l3, QVIR_STORAGE_FILE_QCOW2, FALSE, 3);

    assertMatchesQemuImg(chain, l3);
    g_assert_cmpuint(qvirStorageSourceChainLength(chain), ==, 4);
    qvirTestTempDirRemove(dir);
}

/* qcow (v1) cannot record a backing format at all. */
static void
testQcow1(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.raw", "raw", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *old = create(dir, "old.qcow", "qcow", NULL, "base.raw", "raw", NULL, FALSE);
    g_autofree char *msg = g_strdup_printf("format of backing image 'base.raw' of image '%s' %s",
                                           old, probeFailedSuffix);
    g_autoptr(qvirStorageSource) chain = NULL;

    probeFailsDefault(old, QVIR_STORAGE_FILE_QCOW, msg);
    /* with probing allowed the base is guessed (raw: it is read once, to guess) */
    chain = probeOk(old, QVIR_STORAGE_FILE_QCOW, TRUE, 2);
    assertMatchesQemuImg(chain, old);
    qvirTestTempDirRemove(dir);
}

static void
testDepth3And50(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *prev = create(dir, "l0.qcow2", "qcow2", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *prevName = g_strdup("l0.qcow2");

    for (unsigned int i = 1; i < 50; i++) {
        g_autofree char *name = g_strdup_printf("l%u.qcow2", i);
        g_autofree char *path = create(dir, name, "qcow2", NULL, prevName, "qcow2", "1M", TRUE);

        if (i == 2) {
            g_autoptr(qvirStorageSource) three = probeOk(path, QVIR_STORAGE_FILE_QCOW2, FALSE, 3);
            assertMatchesQemuImg(three, path);
        }
        g_free(prev);
        prev = g_steal_pointer(&path);
        g_free(prevName);
        prevName = g_steal_pointer(&name);
    }
    {
        g_autoptr(qvirStorageSource) chain = probeOk(prev, QVIR_STORAGE_FILE_QCOW2, FALSE, 50);
        assertMatchesQemuImg(chain, prev);
        g_assert_cmpuint(qvirStorageSourceChainLength(chain), ==, 50);
    }
    qvirTestTempDirRemove(dir);
}

/*
 * A block device as backing (a loop device over a file in the temp dir): type block,
 * size from the device. Needs root and a free loop device; skipped (not passed) without.
 */
static void
testBlockDevice(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *file = g_build_filename(dir, "disk.img", NULL);
    g_autofree char *dev = NULL;
    g_autofree char *err = NULL;
    g_autofree char *top = NULL;
    g_autoptr(qvirStorageSource) chain = NULL;
    g_autoptr(GError) error = NULL;
    qvirStorageChainConfig cfg;
    const char *attach[] = {"losetup", "-f", "--show", file, NULL};
    gboolean ok;

    g_assert_true(g_file_set_contents(file, "", 0, NULL));
    g_assert_cmpint(truncate(file, 8 * MiB), ==, 0);
    if (qvirTestRun(attach, &dev, &err) != 0 || !dev || !g_str_has_prefix(dev, "/dev/")) {
        g_test_skip("cannot attach a loop device here");
        qvirTestTempDirRemove(dir);
        return;
    }
    g_strchomp(dev);
    top = create(dir, "top.qcow2", "qcow2", NULL, dev, "raw", NULL, FALSE);
    chain = newTop(top, QVIR_STORAGE_FILE_QCOW2);
    qvirStorageChainConfigInit(&cfg);
    ok = qvirStorageChainProbe(chain, &cfg, &error);
    if (ok)
        assertMatchesQemuImg(chain, top);
    {
        const char *detach[] = {"losetup", "-d", dev, NULL};
        g_assert_cmpint(qvirTestRun(detach, NULL, NULL), ==, 0);
    }
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_cmpint(chain->backingStore->type, ==, QVIR_STORAGE_TYPE_BLOCK);
    g_assert_cmpstr(chain->backingStore->path, ==, dev);
    g_assert_cmpuint(chain->backingStore->capacity, ==, 8 * MiB);
    qvirTestTempDirRemove(dir);
}

/* Protocol backings are reported as network layers and never opened. */
static void
testNetworkBacking(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    const char *names[] = {"nbd://localhost:10809/export", "nbd:localhost:10809",
                           "json:{\"driver\":\"nbd\",\"server\":{\"type\":\"inet\",\"host\":\"h\","
                           "\"port\":\"1\"}}"};

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *name = g_strdup_printf("top%zu.qcow2", i);
        g_autofree char *top = create(dir, name, "qcow2", NULL, names[i], "raw", "1M", TRUE);
        g_autoptr(qvirStorageSource) chain = newTop(top, QVIR_STORAGE_FILE_QCOW2);
        g_autoptr(GError) error = NULL;
        qvirStorageChainConfig cfg;
        guint64 before = qvirStorageProbeCounter();

        qvirStorageChainConfigInit(&cfg);
        g_assert_true(qvirStorageChainProbe(chain, &cfg, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(qvirStorageProbeCounter() - before, ==, 1);
        g_assert_cmpstr(chain->backingStoreRaw, ==, names[i]);
        g_assert_cmpint(chain->backingStore->type, ==, QVIR_STORAGE_TYPE_NETWORK);
        g_assert_cmpint(chain->backingStore->protocol, ==, QVIR_STORAGE_NET_PROTOCOL_NBD);
        g_assert_cmpstr(chain->backingStore->relPath, ==, names[i]);
        g_assert_cmpint(chain->backingStore->format, ==, QVIR_STORAGE_FILE_RAW);
        /* the chain below a network layer is QEMU's business: unknown, not terminated */
        g_assert_null(chain->backingStore->backingStore);
    }

    /* a network backing whose format is not recorded cannot be probed: refused */
    {
        g_autofree char *top = writeQcow2(dir, "nofmt.qcow2", "nbd://h/e", NULL, 0);
        g_autofree char *msg = g_strdup_printf(
            "format of backing image 'nbd://h/e' of image '%s' %s", top, probeFailedSuffix);
        qvirStorageChainConfig cfg;

        qvirStorageChainConfigInit(&cfg);
        cfg.allowFormatProbing = TRUE;
        probeFails(top, QVIR_STORAGE_FILE_QCOW2, &cfg, msg);
    }
    qvirTestTempDirRemove(dir);
}

/* The tool prints what qemu-img prints, for the fields both have. */
static void
testToolJSON(void)
{
    g_autofree char *tmp = qvirTestTempDirNew("storagechaintest");
    /* quotes, backslashes and tabs in names must come out as valid JSON */
    g_autofree char *dir = g_build_filename(tmp, "a \"quoted\"\\dir\twith tab", NULL);
    g_autofree char *base = NULL;
    g_autofree char *top = g_build_filename(dir, "top.qcow2", NULL);
    g_autofree char *qvirt = qvirTestBuildPath("tools/qvirt");
    const char *argv[] = {qvirt, "chain", "--format", "qcow2", "--json", top, NULL};
    const char *noFormat[] = {qvirt, "chain", top, NULL};
    const char *keys[] = {"filename",
                          "format",
                          "virtual-size",
                          "backing-filename",
                          "full-backing-filename",
                          "backing-filename-format"};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(JsonParser) ours = json_parser_new();
    g_autoptr(JsonParser) theirs = NULL;
    JsonArray *a, *b;

    g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
    base = create(dir, "base.raw", "raw", NULL, NULL, NULL, "1M", FALSE);
    g_free(create(dir, "top.qcow2", "qcow2", NULL, "base.raw", "raw", NULL, FALSE));
    g_assert_cmpint(qvirTestRun(argv, &out, &err), ==, 0);
    g_assert_true(json_parser_load_from_data(ours, out, -1, NULL));
    a = json_node_get_array(json_parser_get_root(ours));
    b = qemuImgInfoChain(top, &theirs);
    g_assert_cmpuint(json_array_get_length(a), ==, json_array_get_length(b));
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *x = json_array_get_object_element(a, i);
        JsonObject *y = json_array_get_object_element(b, i);

        for (size_t k = 0; k < G_N_ELEMENTS(keys); k++) {
            g_assert_cmpint(json_object_has_member(x, keys[k]), ==,
                            json_object_has_member(y, keys[k]));
            if (!json_object_has_member(x, keys[k]))
                continue;
            g_assert_true(json_node_equal(json_object_get_member(x, keys[k]),
                                          json_object_get_member(y, keys[k])));
        }
    }

    /* without --format the tool refuses to guess */
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(qvirTestRun(noFormat, &out, &err), ==, 2);
    g_assert_nonnull(strstr(err, "--format"));
    qvirTestTempDirRemove(tmp);
}

/* --xml: the chain below the image as a running domain's <backingStore> elements. */
static void
testToolXML(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.raw", "raw", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *mid = create(dir, "mid.qcow2", "qcow2", NULL, "base.raw", "raw", NULL, FALSE);
    g_autofree char *top = create(dir, "top.qcow2", "qcow2", NULL, mid, "qcow2", NULL, FALSE);
    g_autofree char *qvirt = qvirTestBuildPath("tools/qvirt");
    const char *argv[] = {qvirt, "chain", "--xml", "--format", "qcow2", top, NULL};
    g_autofree char *expected = g_strdup_printf("<backingStore type='file'>\n"
                                                "  <format type='qcow2'/>\n"
                                                "  <source file='%s'/>\n"
                                                "  <backingStore type='file'>\n"
                                                "    <format type='raw'/>\n"
                                                "    <source file='%s'/>\n"
                                                "    <backingStore/>\n"
                                                "  </backingStore>\n"
                                                "</backingStore>\n",
                                                mid, base);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint(qvirTestRun(argv, &out, &err), ==, 0);
    g_assert_cmpstr(out, ==, expected);
    qvirTestTempDirRemove(dir);
}

/* ---- malicious chains ------------------------------------------------------------------ */

static void
testLoop(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *b = create(dir, "B.qcow2", "qcow2", NULL, "A.qcow2", "qcow2", "1M", TRUE);
    g_autofree char *a = create(dir, "A.qcow2", "qcow2", NULL, "B.qcow2", "qcow2", "1M", TRUE);
    g_autofree char *msg =
        g_strdup_printf("backing store for %s is self-referential or too deeply nested", a);

    probeFailsDefault(a, QVIR_STORAGE_FILE_QCOW2, msg);
    qvirTestTempDirRemove(dir);
}

static void
testSelfLoop(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *s = writeQcow2(dir, "S.qcow2", "S.qcow2", "qcow2", 0);
    g_autofree char *viaDot = writeQcow2(dir, "T.qcow2", "./T.qcow2", "qcow2", 0);
    g_autofree char *msg =
        g_strdup_printf("backing store for %s is self-referential or too deeply nested", s);
    g_autofree char *dotPath = g_build_filename(dir, ".", "T.qcow2", NULL);
    g_autofree char *msg2 =
        g_strdup_printf("backing store for %s is self-referential or too deeply nested", dotPath);

    probeFailsDefault(s, QVIR_STORAGE_FILE_QCOW2, msg);
    /* the same inode under another name is still a loop */
    probeFailsDefault(viaDot, QVIR_STORAGE_FILE_QCOW2, msg2);
    qvirTestTempDirRemove(dir);
}

static void
testDepth201(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = g_build_filename(dir, "l0.raw", NULL);
    g_autofree char *top200 = NULL, *top201 = NULL;
    g_autofree char *msg =
        g_strdup_printf("backing store for %s is self-referential or too deeply nested", base);
    qvirStorageChainConfig cfg;

    g_assert_true(g_file_set_contents(base, "", 0, NULL));
    for (unsigned int i = 1; i <= 200; i++) {
        g_autofree char *name = g_strdup_printf("l%u.qcow2", i);
        g_autofree char *back = i == 1 ? g_strdup("l0.raw") : g_strdup_printf("l%u.qcow2", i - 1);
        g_autofree char *path = writeQcow2(dir, name, back, i == 1 ? "raw" : "qcow2", 0);

        if (i == 199)
            top200 = g_strdup(path);
        if (i == 200)
            top201 = g_strdup(path);
    }

    /* 200 layers (199 qcow2 + raw base) is the limit and is fine */
    {
        g_autoptr(qvirStorageSource) chain = probeOk(top200, QVIR_STORAGE_FILE_QCOW2, FALSE, 199);
        g_assert_cmpuint(qvirStorageSourceChainLength(chain), ==, 200);
    }
    /* the 201st layer is refused before it is opened */
    probeFailsDefault(top201, QVIR_STORAGE_FILE_QCOW2, msg);
    qvirStorageChainConfigInit(&cfg);
    cfg.diskName = "vda";
    probeFails(top201, QVIR_STORAGE_FILE_QCOW2, &cfg,
               "backing chains more than 200 layers deep are not supported for disk 'vda'");
    /* the limit is configurable */
    cfg.maxDepth = 10;
    probeFails(top200, QVIR_STORAGE_FILE_QCOW2, &cfg,
               "backing chains more than 10 layers deep are not supported for disk 'vda'");
    qvirTestTempDirRemove(dir);
}

/*
 * CVE-2010-2237: the guest writes a qcow2 header into its raw disk, naming a host
 * file as backing. A raw layer must never be parsed, and a guessed one never followed.
 */
static void
testRawWithQcow2Header(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *evil = writeQcow2(dir, "guest.raw", "/etc/shadow", "raw", 0);
    g_autofree char *over = NULL;
    g_autofree char *nofmt = writeQcow2(dir, "nofmt.qcow2", "guest.raw", NULL, 0);
    g_autofree char *msgTop = g_strdup_printf(
        "format of image '%s' was probed as 'qcow2', which names backing file '/etc/shadow'; "
        "a probed image is never followed: specify its format",
        evil);
    g_autofree char *msgBacking = g_strdup_printf(
        "format of backing image 'guest.raw' of image '%s' %s", nofmt, probeFailedSuffix);
    qvirStorageChainConfig cfg;

    {
        /* given as raw: not even read */
        g_autoptr(qvirStorageSource) chain = probeOk(evil, QVIR_STORAGE_FILE_RAW, FALSE, 0);
        g_assert_cmpuint(qvirStorageSourceChainLength(chain), ==, 1);
        g_assert_null(chain->backingStoreRaw);
        g_assert_cmpuint(chain->capacity, ==, 4096);
    }
    over = create(dir, "over.qcow2", "qcow2", NULL, "guest.raw", "raw", "1M", TRUE);
    {
        g_autoptr(qvirStorageSource) chain = probeOk(over, QVIR_STORAGE_FILE_QCOW2, FALSE, 1);
        g_assert_cmpuint(qvirStorageSourceChainLength(chain), ==, 2);
        g_assert_cmpint(chain->backingStore->format, ==, QVIR_STORAGE_FILE_RAW);
        g_assert_null(chain->backingStore->backingStoreRaw);
    }
    /* guessed formats: even with probing allowed, a guessed qcow2 is not followed */
    qvirStorageChainConfigInit(&cfg);
    cfg.allowFormatProbing = TRUE;
    probeFails(evil, QVIR_STORAGE_FILE_NONE, &cfg, msgTop);
    probeFails(nofmt, QVIR_STORAGE_FILE_QCOW2, &cfg, msgBacking);
    qvirTestTempDirRemove(dir);
}

static void
testMissingBacking(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *top =
        create(dir, "top.qcow2", "qcow2", NULL, "missing.qcow2", "qcow2", "1M", TRUE);
    g_autofree char *missing = g_build_filename(dir, "missing.qcow2", NULL);
    g_autofree char *msg = g_strdup_printf(
        "Cannot access backing file '%s' of storage file '%s': No such file or directory", missing,
        top);
    g_autofree char *upper =
        create(dir, "upper.qcow2", "qcow2", NULL, "top.qcow2", "qcow2", "1M", TRUE);
    /* libvirt names the disk's top image, however deep the hole is */
    g_autofree char *msgDeep = g_strdup_printf(
        "Cannot access backing file '%s' of storage file '%s': No such file or directory", missing,
        upper);
    g_autofree char *nothing = g_build_filename(dir, "nothing.qcow2", NULL);
    g_autofree char *msgTop =
        g_strdup_printf("Cannot access storage file '%s': No such file or directory", nothing);

    probeFailsDefault(top, QVIR_STORAGE_FILE_QCOW2, msg);
    probeFailsDefault(upper, QVIR_STORAGE_FILE_QCOW2, msgDeep);
    probeFailsDefault(nothing, QVIR_STORAGE_FILE_QCOW2, msgTop);
    qvirTestTempDirRemove(dir);
}

/* qemu-img always records -F now; hide the record to get what old qemu-img wrote. */
static void
testNoBackingFormatRecord(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.raw", "raw", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *top = create(dir, "top.qcow2", "qcow2", NULL, "base.raw", "raw", NULL, FALSE);
    const guint8 unknownExt[4] = {0x12, 0x34, 0x56, 0x78};
    g_autofree char *msg = g_strdup_printf("format of backing image 'base.raw' of image '%s' %s",
                                           top, probeFailedSuffix);
    g_autoptr(qvirStorageSource) chain = NULL;

    patchFile(top, findMagic(top, 0xE2792ACA), unknownExt, 4);
    probeFailsDefault(top, QVIR_STORAGE_FILE_QCOW2, msg);
    /* allowed to probe, the base is guessed as raw, as qemu-img guesses it */
    chain = probeOk(top, QVIR_STORAGE_FILE_QCOW2, TRUE, 2);
    assertMatchesQemuImg(chain, top);
    g_assert_cmpint(chain->backingFormat, ==, QVIR_STORAGE_FILE_NONE);
    qvirTestTempDirRemove(dir);
}

static void
testUnknownIncompatibleOnDisk(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *top = create(dir, "top.qcow2", "qcow2", NULL, NULL, NULL, "1M", FALSE);
    const guint8 bit20[1] = {0x10}; /* byte 5 of the big-endian u64 at 72 */
    g_autofree char *msg = g_strdup_printf(
        "invalid qcow2 image '%s': unsupported qcow2 feature(s): Unknown incompatible feature: "
        "100000",
        top);

    patchFile(top, 72 + 5, bit20, 1);
    probeFailsDefault(top, QVIR_STORAGE_FILE_QCOW2, msg);
    qvirTestTempDirRemove(dir);
}

static void
testTruncatedAndOdd(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *top = create(dir, "top.qcow2", "qcow2", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *msg =
        g_strdup_printf("invalid qcow2 image '%s': header is truncated (50 bytes, need 72)", top);
    g_autofree char *sub = g_build_filename(dir, "adir", NULL);
    g_autofree char *overDir = writeQcow2(dir, "overdir.qcow2", "adir", "raw", 0);
    g_autofree char *msgDir =
        g_strdup_printf("storage file '%s' is not a regular file or block device", sub);

    g_assert_cmpint(truncate(top, 50), ==, 0);
    probeFailsDefault(top, QVIR_STORAGE_FILE_QCOW2, msg);
    g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
    probeFailsDefault(overDir, QVIR_STORAGE_FILE_QCOW2, msgDir);
    qvirTestTempDirRemove(dir);
}

/*
 * A declared format whose signature is not in the file (a raw file said to be qcow2, a
 * qcow2 with a backing file said to be vmdk, a qcow2 of an unknown version): libvirt parses
 * nothing it can trust and QEMU refuses the image in its own words. The layer stands alone,
 * its header names no backing file and is never read as the format it looks like.
 */
static void
testDeclaredFormatWithoutSignature(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *raw = create(dir, "plain.raw", "raw", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *base = create(dir, "base.qcow2", "qcow2", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *top =
        create(dir, "top.qcow2", "qcow2", NULL, "base.qcow2", "qcow2", "1M", FALSE);
    g_autofree char *v4 = create(dir, "v4.qcow2", "qcow2", NULL, NULL, NULL, "1M", FALSE);
    const guint8 version4[4] = {0, 0, 0, 4};
    const struct {
        const char *path;
        qvirStorageFileFormat fmt;
    } cases[] = {
        {raw, QVIR_STORAGE_FILE_QCOW2}, {raw, QVIR_STORAGE_FILE_QED},
        {top, QVIR_STORAGE_FILE_VMDK},  {top, QVIR_STORAGE_FILE_QCOW},
        {v4, QVIR_STORAGE_FILE_QCOW2},
    };

    patchFile(v4, 4, version4, 4);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(qvirStorageSource) chain = probeOk(cases[i].path, cases[i].fmt, TRUE, 1);

        g_assert_cmpint(chain->format, ==, cases[i].fmt);
        g_assert_false(qvirStorageSourceIsBacking(chain->backingStore));
        g_assert_null(chain->backingStoreRaw);
        g_assert_cmpuint(chain->capacity, ==, 0);
    }
    /* the same top, declared as what it is, still has its base */
    {
        g_autoptr(qvirStorageSource) chain = probeOk(top, QVIR_STORAGE_FILE_QCOW2, FALSE, 2);

        g_assert_cmpstr(chain->backingStore->path, ==, base);
    }
    qvirTestTempDirRemove(dir);
}

/*
 * A backing name pointing at something other than a file or block device is refused
 * without being opened: opening some devices has effects of its own (/dev/watchdog arms
 * the watchdog). A FIFO stands in for the device; inotify sees every open of it.
 */
static void
testDeviceBackingNeverOpened(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *fifo = g_build_filename(dir, "device", NULL);
    g_autofree char *over = writeQcow2(dir, "over.qcow2", "device", "raw", 0);
    g_autofree char *msg =
        g_strdup_printf("storage file '%s' is not a regular file or block device", fifo);
    g_autofree char *devMsg =
        g_strdup_printf("storage file '%s' is not a regular file or block device", "/dev/null");
    g_autofree char *overNull = writeQcow2(dir, "overnull.qcow2", "/dev/null", "raw", 0);
    char events[4096];
    int ino;

    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    g_assert_cmpint(ino, >=, 0);
    g_assert_cmpint(inotify_add_watch(ino, fifo, IN_OPEN), >=, 0);

    probeFailsDefault(over, QVIR_STORAGE_FILE_QCOW2, msg);
    g_assert_cmpint(read(ino, events, sizeof(events)), ==, -1);
    g_assert_cmpint(errno, ==, EAGAIN);
    close(ino);

    probeFailsDefault(overNull, QVIR_STORAGE_FILE_QCOW2, devMsg);
    qvirTestTempDirRemove(dir);
}

/* Metadata past the first 4 KiB (but inside 0x8200 bytes) is still found. */
static void
testHeaderPast4K(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *base = create(dir, "base.raw", "raw", NULL, NULL, NULL, "1M", FALSE);
    g_autofree char *far = writeQcow2(dir, "far.qcow2", "base.raw", "raw", 0);
    g_autofree char *contents = NULL;
    g_autoptr(qvirStorageSource) chain = NULL;
    gsize size;
    const guint8 offset[8] = {0, 0, 0, 0, 0, 0, 0x60, 0x00};

    g_assert_true(g_file_get_contents(far, &contents, &size, NULL));
    contents = g_realloc(contents, 0x7000);
    memset(contents + size, 0, 0x7000 - size);
    memcpy(contents + 0x6000, "base.raw", 8);
    memcpy(contents + 8, offset, 8);
    g_assert_true(g_file_set_contents(far, contents, 0x7000, NULL));
    chain = probeOk(far, QVIR_STORAGE_FILE_QCOW2, FALSE, 1);
    g_assert_cmpstr(chain->backingStoreRaw, ==, "base.raw");
    g_assert_cmpstr(chain->backingStore->path, ==, base);
    qvirTestTempDirRemove(dir);
}

/* A failed probe leaves an existing chain below the top exactly as it was. */
static void
testFailureKeepsTop(void)
{
    g_autofree char *dir = qvirTestTempDirNew("storagechaintest");
    g_autofree char *top =
        create(dir, "top.qcow2", "qcow2", NULL, "gone.qcow2", "qcow2", "1M", TRUE);
    g_autoptr(qvirStorageSource) src = newTop(top, QVIR_STORAGE_FILE_QCOW2);
    g_autoptr(GError) error = NULL;
    qvirStorageSource *old = qvirStorageSourceNew();
    qvirStorageChainConfig cfg;

    old->type = QVIR_STORAGE_TYPE_FILE;
    old->path = g_strdup("/user/given.qcow2");
    src->backingStore = old;
    src->capacity = 42;
    qvirStorageChainConfigInit(&cfg);
    g_assert_false(qvirStorageChainProbe(src, &cfg, &error));
    g_assert_true(src->backingStore == old);
    g_assert_cmpstr(old->path, ==, "/user/given.qcow2");
    g_assert_cmpuint(src->capacity, ==, 42);
    g_assert_null(src->backingStoreRaw);

    /* format NONE without probing allowed is refused up front */
    g_clear_error(&error);
    src->format = QVIR_STORAGE_FILE_NONE;
    g_assert_false(qvirStorageChainProbe(src, &cfg, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    qvirTestTempDirRemove(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/storage/chain/qcow2-relative", testQcow2Relative);
    g_test_add_func("/storage/chain/device-backing-never-opened", testDeviceBackingNeverOpened);
    g_test_add_func("/storage/chain/qcow2-absolute", testQcow2Absolute);
    g_test_add_func("/storage/chain/subdirectories", testSubdirectories);
    g_test_add_func("/storage/chain/qed", testQed);
    g_test_add_func("/storage/chain/qed-backing-probed", testQedBackingProbed);
    g_test_add_func("/storage/chain/qed-over-raw", testQedOverRaw);
    g_test_add_func("/storage/chain/qed-over-unrecorded-qcow2", testQedOverUnrecordedQcow2);
    g_test_add_func("/storage/chain/vmdk", testVmdk);
    g_test_add_func("/storage/chain/vpc-vdi-vhdx-bases", testBaseOnlyFormats);
    g_test_add_func("/storage/chain/luks-base", testLuksBase);
    g_test_add_func("/storage/chain/mixed", testMixed);
    g_test_add_func("/storage/chain/qcow", testQcow1);
    g_test_add_func("/storage/chain/depth-3-and-50", testDepth3And50);
    g_test_add_func("/storage/chain/network-backing", testNetworkBacking);
    g_test_add_func("/storage/chain/block-device", testBlockDevice);
    g_test_add_func("/storage/chain/tool-json", testToolJSON);
    g_test_add_func("/storage/chain/tool-xml", testToolXML);
    g_test_add_func("/storage/malicious/loop", testLoop);
    g_test_add_func("/storage/malicious/self-loop", testSelfLoop);
    g_test_add_func("/storage/malicious/depth-201", testDepth201);
    g_test_add_func("/storage/malicious/raw-with-qcow2-header", testRawWithQcow2Header);
    g_test_add_func("/storage/malicious/missing-backing", testMissingBacking);
    g_test_add_func("/storage/malicious/no-backing-format-record", testNoBackingFormatRecord);
    g_test_add_func("/storage/malicious/unknown-incompatible", testUnknownIncompatibleOnDisk);
    g_test_add_func("/storage/malicious/truncated-and-odd", testTruncatedAndOdd);
    g_test_add_func("/storage/malicious/declared-format-without-signature",
                    testDeclaredFormatWithoutSignature);
    g_test_add_func("/storage/chain/failure-keeps-top", testFailureKeepsTop);
    g_test_add_func("/storage/chain/header-past-4k", testHeaderPast4K);

    return g_test_run();
}
