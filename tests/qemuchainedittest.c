/*
 * qemuchainedittest: the in-place chain edits that follow block jobs and snapshots,
 * without QEMU. Chains are written as "l0 > l1 > l2 > |" (top first, | = terminator,
 * ? = unknown rest); a trailing "*" marks a read-only layer.
 */
#include <string.h>

#include "qemu/qemu_chainedit.h"
#include "util/virerror.h"
#include "testutils.h"

/* A chain of N layers /img/l0.qcow2 (top, id 1) ... /img/l{N-1}.qcow2 (id N), each
 * backing recorded by its file name as its overlay stores it. TERMINATED adds the
 * empty <backingStore/>. */
static qvirStorageSource *
testChainNew(unsigned int n, gboolean terminated)
{
    qvirStorageSource *top = NULL;
    qvirStorageSource **tail = &top;
    unsigned int i;

    for (i = 0; i < n; i++) {
        qvirStorageSource *src = qvirStorageSourceNew();

        src->type = QVIR_STORAGE_TYPE_FILE;
        src->format = QVIR_STORAGE_FILE_QCOW2;
        src->path = g_strdup_printf("/img/l%u.qcow2", i);
        if (i > 0) {
            src->relPath = g_strdup_printf("l%u.qcow2", i);
            src->readonly = TRUE;
        }
        if (i + 1 < n) {
            src->backingStoreRaw = g_strdup_printf("l%u.qcow2", i + 1);
            src->backingFormat = QVIR_STORAGE_FILE_QCOW2;
        }
        src->id = i + 1;
        src->nodeStorage = g_strdup_printf("libvirt-%u-storage", i + 1);
        src->nodeFormat = g_strdup_printf("libvirt-%u-format", i + 1);
        *tail = src;
        tail = &src->backingStore;
    }
    if (terminated)
        *tail = qvirStorageSourceNew();
    return top;
}

/* "l0 > l1* > |": layer names from their paths' basenames without ".qcow2". */
static char *
testChainDescribe(const qvirStorageSource *src)
{
    GString *buf = g_string_new(NULL);

    for (; src; src = src->backingStore) {
        g_autofree char *base = NULL;

        if (buf->len)
            g_string_append(buf, " > ");
        if (!qvirStorageSourceIsBacking(src)) {
            g_string_append(buf, "|");
            return g_string_free(buf, FALSE);
        }
        base = g_path_get_basename(src->path);
        if (g_str_has_suffix(base, ".qcow2"))
            base[strlen(base) - strlen(".qcow2")] = '\0';
        g_string_append(buf, base);
        if (src->readonly)
            g_string_append_c(buf, '*');
    }
    if (buf->len)
        g_string_append(buf, " > ");
    g_string_append(buf, "?");
    return g_string_free(buf, FALSE);
}

static void
testAssertChain(const qvirStorageSource *chain, const char *expected)
{
    g_autofree char *actual = testChainDescribe(chain);
    g_assert_cmpstr(actual, ==, expected);
}

/* The removed list is detached: its last layer must not point back into the chain. */
static void
testAssertRemoved(qvirStorageSource *removed, const char *expected)
{
    g_autofree char *actual = NULL;

    if (!expected) {
        g_assert_null(removed);
        return;
    }
    actual = testChainDescribe(removed);
    g_assert_cmpstr(actual, ==, expected);
}

static void
testLookup(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(4, TRUE);
    g_autoptr(GError) error = NULL;
    qvirStorageSource *parent = NULL;
    qvirStorageSource *found;

    found = qemuChainLookup(top, NULL, "/img/l2.qcow2", "vda", &parent, &error);
    g_assert_no_error(error);
    g_assert_true(found == top->backingStore->backingStore);
    g_assert_true(parent == top->backingStore);

    found = qemuChainLookup(top, NULL, "l3.qcow2", "vda", &parent, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(found->path, ==, "/img/l3.qcow2");

    found = qemuChainLookup(top, NULL, "/img/l0.qcow2", "vda", &parent, &error);
    g_assert_no_error(error);
    g_assert_true(found == top);
    g_assert_null(parent);

    found = qemuChainLookup(top, NULL, "vda[3]", "vda", &parent, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(found->path, ==, "/img/l2.qcow2");

    /* beneath: the top itself and layers above BENEATH are not candidates */
    found = qemuChainLookup(top, top->backingStore, "/img/l3.qcow2", "vda", &parent, &error);
    g_assert_no_error(error);
    g_assert_true(parent == top->backingStore->backingStore);

    found = qemuChainLookup(top, top->backingStore, "/img/l1.qcow2", "vda", NULL, &error);
    g_assert_null(found);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_assert_cmpstr(error->message, ==,
                    "could not find image '/img/l1.qcow2' beneath '/img/l1.qcow2' in chain "
                    "for 'vda'");
    g_clear_error(&error);

    found = qemuChainLookup(top, NULL, "/elsewhere.qcow2", "vda", NULL, &error);
    g_assert_null(found);
    g_assert_cmpstr(error->message, ==,
                    "could not find image '/elsewhere.qcow2' in chain for 'vda'");
    g_clear_error(&error);

    found = qemuChainLookup(top, NULL, "vda[9]", "vda", NULL, &error);
    g_assert_null(found);
    g_assert_cmpstr(error->message, ==,
                    "could not find backing store index '9' in chain for 'vda'");
    g_clear_error(&error);

    found = qemuChainLookup(top, NULL, "vdb[2]", "vda", NULL, &error);
    g_assert_null(found);
    g_assert_cmpstr(error->message, ==, "requested target 'vdb' does not match target 'vda'");
    g_clear_error(&error);

    /* Not index notation: looked up as a file name and not found. */
    found = qemuChainLookup(top, NULL, "vda[x]", "vda", NULL, &error);
    g_assert_null(found);
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);

    /* The terminator is never a match. */
    found = qemuChainLookup(top, NULL, "", "vda", NULL, &error);
    g_assert_null(found);
    g_clear_error(&error);
}

static void
testPullAll(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(3, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(qemuChainEditPull(top, NULL, NULL, &removed, &error));
    g_assert_no_error(error);
    testAssertChain(top, "l0 > |");
    testAssertRemoved(removed, "l1* > l2* > ?");
    g_assert_null(top->backingStoreRaw);
    g_assert_cmpint(top->backingFormat, ==, QVIR_STORAGE_FILE_NONE);
    g_assert_true(qvirStorageSourceChainIsTerminated(top));
}

static void
testPullAllUnterminated(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(2, FALSE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(qemuChainEditPull(top, NULL, NULL, &removed, &error));
    testAssertChain(top, "l0 > |");
    testAssertRemoved(removed, "l1* > ?");
}

static void
testPullToBase(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(5, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;
    qvirStorageSource *base = top->backingStore->backingStore->backingStore; /* l3 */

    g_assert_true(qemuChainEditPull(top, base, NULL, &removed, &error));
    g_assert_no_error(error);
    testAssertChain(top, "l0 > l3* > l4* > |");
    testAssertRemoved(removed, "l1* > l2* > ?");
    g_assert_cmpstr(top->backingStoreRaw, ==, "/img/l3.qcow2");
    g_assert_cmpstr(base->relPath, ==, "/img/l3.qcow2");
    g_assert_cmpint(top->backingFormat, ==, QVIR_STORAGE_FILE_QCOW2);
}

static void
testPullToImmediateBase(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(3, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(qemuChainEditPull(top, top->backingStore, "l1.qcow2", &removed, &error));
    testAssertChain(top, "l0 > l1* > l2* > |");
    testAssertRemoved(removed, NULL);
    g_assert_cmpstr(top->backingStoreRaw, ==, "l1.qcow2");
}

static void
testPullErrors(void)
{
    g_autoptr(qvirStorageSource) single = testChainNew(1, TRUE);
    g_autoptr(qvirStorageSource) top = testChainNew(3, TRUE);
    g_autoptr(qvirStorageSource) other = testChainNew(2, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_false(qemuChainEditPull(single, NULL, NULL, &removed, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_assert_cmpstr(error->message, ==, "image '/img/l0.qcow2' has no backing file to pull");
    g_clear_error(&error);
    testAssertChain(single, "l0 > |");
    g_assert_null(removed);

    /* a base from another chain, and the top itself, are not beneath the top */
    g_assert_false(qemuChainEditPull(top, other->backingStore, NULL, &removed, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);
    g_assert_false(qemuChainEditPull(top, top, NULL, &removed, &error));
    g_clear_error(&error);
    testAssertChain(top, "l0 > l1* > l2* > |");
    g_assert_cmpstr(top->backingStoreRaw, ==, "l1.qcow2");
    g_assert_null(removed);
}

static void
testCommitInner(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(4, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;
    qvirStorageSource *l1 = top->backingStore;
    qvirStorageSource *l3 = l1->backingStore->backingStore;

    g_assert_true(qemuChainEditCommit(top, l1, l3, NULL, &removed, &error));
    g_assert_no_error(error);
    testAssertChain(top, "l0 > l3* > |");
    testAssertRemoved(removed, "l1* > l2* > ?");
    g_assert_cmpstr(top->backingStoreRaw, ==, "/img/l3.qcow2");
    g_assert_cmpstr(l3->relPath, ==, "/img/l3.qcow2");
}

static void
testCommitShallow(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(4, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;
    qvirStorageSource *l1 = top->backingStore;
    qvirStorageSource *l2 = l1->backingStore;
    qvirStorageSource *l3 = l2->backingStore;

    /* l2 into l3: l1 now backs onto l3, the top is untouched */
    g_assert_true(qemuChainEditCommit(top, l2, l3, "l3.qcow2", &removed, &error));
    testAssertChain(top, "l0 > l1* > l3* > |");
    testAssertRemoved(removed, "l2* > ?");
    g_assert_cmpstr(top->backingStoreRaw, ==, "l1.qcow2");
    g_assert_cmpstr(l1->backingStoreRaw, ==, "l3.qcow2");
}

static void
testCommitErrors(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(3, TRUE);
    g_autoptr(qvirStorageSource) other = testChainNew(3, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;
    qvirStorageSource *l1 = top->backingStore;
    qvirStorageSource *l2 = l1->backingStore;

    /* the active layer needs the active-commit edit */
    g_assert_false(qemuChainEditCommit(top, top, l2, NULL, &removed, &error));
    g_assert_cmpstr(error->message, ==,
                    "commit of '/img/l0.qcow2' active layer requires active flag");
    g_clear_error(&error);

    /* base above top */
    g_assert_false(qemuChainEditCommit(top, l2, l1, NULL, &removed, &error));
    g_assert_cmpstr(error->message, ==,
                    "top '/img/l2.qcow2' in chain for '/img/l0.qcow2' has no backing file");
    g_clear_error(&error);

    g_assert_false(
        qemuChainEditCommit(top, l1, other->backingStore->backingStore, NULL, &removed, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_assert_cmpstr(error->message, ==,
                    "could not find image '/img/l2.qcow2' beneath '/img/l1.qcow2' in chain for "
                    "'/img/l0.qcow2'");
    g_clear_error(&error);

    /* top from another chain */
    g_assert_false(qemuChainEditCommit(top, other->backingStore, l2, NULL, &removed, &error));
    g_clear_error(&error);

    testAssertChain(top, "l0 > l1* > l2* > |");
    testAssertChain(other, "l0 > l1* > l2* > |");
    g_assert_cmpstr(l1->backingStoreRaw, ==, "l2.qcow2");
    g_assert_null(removed);
}

static void
testActiveCommit(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(3, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;
    qvirStorageSource *l2 = top->backingStore->backingStore;

    g_assert_true(qemuChainEditActiveCommit(&top, l2, &removed, &error));
    g_assert_no_error(error);
    g_assert_true(top == l2);
    /* the base is now the writable top, with no backing name of its own */
    testAssertChain(top, "l2 > |");
    g_assert_null(top->relPath);
    testAssertRemoved(removed, "l0 > l1* > ?");
}

static void
testActiveCommitKeepsDiskFlags(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(2, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;

    top->shared = TRUE;
    g_assert_true(qemuChainEditActiveCommit(&top, top->backingStore, &removed, &error));
    g_assert_true(top->shared);
    g_assert_false(top->readonly);
    testAssertRemoved(removed, "l0 > ?");
}

static void
testActiveCommitErrors(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(3, TRUE);
    g_autoptr(qvirStorageSource) single = testChainNew(1, TRUE);
    g_autoptr(qvirStorageSource) other = testChainNew(3, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;
    qvirStorageSource *before = top;

    g_assert_false(qemuChainEditActiveCommit(&top, other->backingStore, &removed, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG);
    g_clear_error(&error);
    g_assert_false(qemuChainEditActiveCommit(&top, top, &removed, &error));
    g_clear_error(&error);
    g_assert_true(top == before);
    testAssertChain(top, "l0 > l1* > l2* > |");

    g_assert_false(qemuChainEditActiveCommit(&single, single, &removed, &error));
    g_assert_cmpstr(error->message, ==,
                    "top '/img/l0.qcow2' in chain for '/img/l0.qcow2' has no backing file");
    testAssertChain(single, "l0 > |");
    g_assert_null(removed);
}

static qvirStorageSource *
testOverlayNew(const char *path, unsigned int id)
{
    qvirStorageSource *ov = qvirStorageSourceNew();

    ov->type = QVIR_STORAGE_TYPE_FILE;
    ov->format = QVIR_STORAGE_FILE_QCOW2;
    ov->path = g_strdup(path);
    ov->id = id;
    return ov;
}

static void
testSnapshot(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(2, TRUE);
    g_autoptr(GError) error = NULL;
    qvirStorageSource *old = top;
    qvirStorageSource *ov = testOverlayNew("/img/snap1.qcow2", 3);

    g_assert_true(qemuChainEditSnapshot(&top, ov, &error));
    g_assert_no_error(error);
    g_assert_true(top == ov);
    testAssertChain(top, "snap1 > l0* > l1* > |");
    g_assert_cmpstr(ov->backingStoreRaw, ==, "/img/l0.qcow2");
    g_assert_cmpint(ov->backingFormat, ==, QVIR_STORAGE_FILE_QCOW2);
    g_assert_cmpstr(old->relPath, ==, "/img/l0.qcow2");
    g_assert_cmpuint(qemuChainMaxIndex(top), ==, 3);
}

static void
testSnapshotErrors(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(2, TRUE);
    g_autoptr(qvirStorageSource) ov = testChainNew(2, TRUE);
    g_autoptr(qvirStorageSource) empty = qvirStorageSourceNew();
    g_autoptr(qvirStorageSource) ov2 = testOverlayNew("/img/s.qcow2", 9);
    g_autoptr(GError) error = NULL;
    qvirStorageSource *before = top;

    /* an overlay that already has a backing chain would hide the disk's data */
    g_assert_false(qemuChainEditSnapshot(&top, ov, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR);
    g_clear_error(&error);
    g_assert_true(top == before);
    testAssertChain(top, "l0 > l1* > |");

    /* an empty cdrom has nothing to snapshot */
    g_assert_false(qemuChainEditSnapshot(&empty, ov2, &error));
    g_assert_error(error, QVIR_ERROR, QVIR_ERR_OPERATION_INVALID);
    g_assert_null(ov2->backingStore);
}

/* snapshot, then active commit back: the original layer is the writable top again. */
static void
testSnapshotThenActiveCommit(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(3, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(GError) error = NULL;
    qvirStorageSource *orig = top;

    g_assert_true(qemuChainEditSnapshot(&top, testOverlayNew("/img/s1.qcow2", 4), &error));
    g_assert_true(qemuChainEditSnapshot(&top, testOverlayNew("/img/s2.qcow2", 5), &error));
    testAssertChain(top, "s2 > s1* > l0* > l1* > l2* > |");
    g_assert_true(qemuChainEditActiveCommit(&top, orig, &removed, &error));
    g_assert_no_error(error);
    testAssertChain(top, "l0 > l1* > l2* > |");
    testAssertRemoved(removed, "s2 > s1* > ?");
    g_assert_null(top->relPath);
    g_assert_cmpstr(top->backingStoreRaw, ==, "l1.qcow2");
}

/* 200 layers (the default depth limit): edits in the middle of a deep chain. */
static void
testDeepChain(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(200, TRUE);
    g_autoptr(qvirStorageSource) removed = NULL;
    g_autoptr(qvirStorageSource) removed2 = NULL;
    g_autoptr(GError) error = NULL;
    qvirStorageSource *l10 = qemuChainLookup(top, NULL, "vda[11]", "vda", NULL, &error);
    qvirStorageSource *l150 = qemuChainLookup(top, NULL, "/img/l150.qcow2", "vda", NULL, &error);

    g_assert_no_error(error);
    g_assert_nonnull(l10);
    g_assert_nonnull(l150);
    g_assert_true(qemuChainEditCommit(top, l10, l150, NULL, &removed, &error));
    g_assert_cmpuint(qvirStorageSourceChainLength(top), ==, 200 - 140);
    g_assert_cmpuint(qvirStorageSourceChainLength(removed), ==, 140);
    g_assert_true(qemuChainEditPull(top, NULL, NULL, &removed2, &error));
    g_assert_cmpuint(qvirStorageSourceChainLength(top), ==, 1);
    g_assert_cmpuint(qvirStorageSourceChainLength(removed2), ==, 59);
    g_assert_cmpuint(qemuChainMaxIndex(removed2), ==, 200);
}

static void
testMaxIndex(void)
{
    g_autoptr(qvirStorageSource) top = testChainNew(3, TRUE);

    g_assert_cmpuint(qemuChainMaxIndex(NULL), ==, 0);
    g_assert_cmpuint(qemuChainMaxIndex(top), ==, 3);
    /* a node name counts even when the index was not recorded */
    top->backingStore->id = 0;
    g_free(top->backingStore->nodeFormat);
    top->backingStore->nodeFormat = g_strdup("libvirt-42-format");
    g_assert_cmpuint(qemuChainMaxIndex(top), ==, 42);
    g_free(top->backingStore->nodeFormat);
    top->backingStore->nodeFormat = g_strdup("libvirt-x-format");
    g_assert_cmpuint(qemuChainMaxIndex(top), ==, 3);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/chainedit/lookup", testLookup);
    g_test_add_func("/chainedit/pull/all", testPullAll);
    g_test_add_func("/chainedit/pull/all-unterminated", testPullAllUnterminated);
    g_test_add_func("/chainedit/pull/base", testPullToBase);
    g_test_add_func("/chainedit/pull/immediate-base", testPullToImmediateBase);
    g_test_add_func("/chainedit/pull/errors", testPullErrors);
    g_test_add_func("/chainedit/commit/inner", testCommitInner);
    g_test_add_func("/chainedit/commit/shallow", testCommitShallow);
    g_test_add_func("/chainedit/commit/errors", testCommitErrors);
    g_test_add_func("/chainedit/active-commit/pivot", testActiveCommit);
    g_test_add_func("/chainedit/active-commit/disk-flags", testActiveCommitKeepsDiskFlags);
    g_test_add_func("/chainedit/active-commit/errors", testActiveCommitErrors);
    g_test_add_func("/chainedit/snapshot/overlay", testSnapshot);
    g_test_add_func("/chainedit/snapshot/errors", testSnapshotErrors);
    g_test_add_func("/chainedit/snapshot-then-active-commit", testSnapshotThenActiveCommit);
    g_test_add_func("/chainedit/deep-chain", testDeepChain);
    g_test_add_func("/chainedit/max-index", testMaxIndex);

    return g_test_run();
}
