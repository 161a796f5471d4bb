/*
 * fuzz_backing_name.c: the backing name an image header stores (src/storage/
 * storage_backingstore.c): file names, URIs, nbd:/rbd: colon strings and json:{...}.
 * The input is parsed as an absolute name and, when it is a relative file name, as the
 * backing of a network parent. A refusal carries a QVIR_ERROR with a message and no
 * layer; an accepted layer carries no error, never credentials, a known type and
 * protocol, hosts that each have a name or a socket, and copies and frees cleanly.
 */
#include <string.h>

#include <libxml/parser.h>

#include "fuzz-common.h"
#include "storage/storage_backingstore.h"
#include "util/virerror.h"

#define FUZZ_NAME_MAX (64 * 1024)

/* GLib and json-glib allocate some state once, on the first error of each kind (quarks,
 * the scanner's per-thread buffers); taken before fuzzing starts, it is not mistaken for
 * a leak of the first input that happens to need it. */
static void
fuzzWarmUp(void)
{
    static const char *const names[] = {
        "json:1{\"a\":1}}",
        "json:{",
        "json:[",
        "json:{\"a\":}",
        "json:\"x",
        "json:1}",
        "json:{\"a\":1,}",
        "json:tru",
        "json:{\"a\" 1}",
        "nbd://h:1/e",
        "json:{\"driver\":\"nbd\",\"host\":\"h\",\"port\":\"x\"}",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autoptr(qvirStorageSource) src = NULL;
        g_autoptr(GError) error = NULL;

        (void)qvirStorageSourceNewFromBackingAbsolute(names[i], &src, &error);
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzCommonInit();
    xmlInitParser();
    fuzzWarmUp();
    return 0;
}

static void
fuzzCheckLayer(int rc, const qvirStorageSource *src, const GError *error)
{
    g_autoptr(qvirStorageSource) copy = NULL;

    if (rc < 0) {
        FUZZ_CHECK(rc == -1, "return value %d", rc);
        FUZZ_CHECK(!src, "a refused name left a layer");
        FUZZ_CHECK(error && error->domain == QVIR_ERROR && error->message && *error->message,
                   "a refusal without a proper error");
        return;
    }
    FUZZ_CHECK(rc == 0 || rc == QVIR_STORAGE_BACKING_UNREPRESENTABLE, "return value %d", rc);
    FUZZ_CHECK(src && !error, "an accepted name without a layer, or with an error");
    FUZZ_CHECK(!src->auth, "credentials kept from a backing name");
    FUZZ_CHECK(src->type == QVIR_STORAGE_TYPE_FILE || src->type == QVIR_STORAGE_TYPE_BLOCK ||
                   src->type == QVIR_STORAGE_TYPE_NETWORK,
               "type %d", src->type);
    if (src->type != QVIR_STORAGE_TYPE_NETWORK) {
        FUZZ_CHECK(src->path != NULL, "a local layer without a path");
    } else {
        FUZZ_CHECK((unsigned int)src->protocol < QVIR_STORAGE_NET_PROTOCOL_LAST, "protocol %d",
                   src->protocol);
        for (size_t i = 0; i < src->nhosts; i++) {
            FUZZ_CHECK((unsigned int)src->hosts[i].transport < QVIR_STORAGE_NET_HOST_TRANS_LAST,
                       "transport %d", src->hosts[i].transport);
            FUZZ_CHECK(src->hosts[i].port <= 65535, "port %u", src->hosts[i].port);
        }
    }
    copy = qvirStorageSourceCopy(src);
    FUZZ_CHECK(copy && copy->nhosts == src->nhosts, "copy differs");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *name = NULL;
    g_autoptr(qvirStorageSource) src = NULL;
    g_autoptr(qvirStorageSource) parent = NULL;
    g_autoptr(qvirStorageSource) child = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    int rc;

    if (size > FUZZ_NAME_MAX)
        return 0;
    name = g_strndup((const char *)data, size);

    rc = qvirStorageSourceNewFromBackingAbsolute(name, &src, &error);
    fuzzCheckLayer(rc, src, error);

    /* the same string as the backing of a network layer */
    parent = qvirStorageSourceNew();
    parent->type = QVIR_STORAGE_TYPE_NETWORK;
    parent->protocol = QVIR_STORAGE_NET_PROTOCOL_GLUSTER;
    parent->path = g_strdup("dir/top.qcow2");
    parent->netVolume = g_strdup("vol");
    parent->nhosts = 1;
    parent->hosts = g_new0(qvirStorageNetHost, 1);
    parent->hosts[0].name = g_strdup("example.org");
    parent->hosts[0].port = 24007;
    parent->backingStoreRaw = g_strdup(name);
    parent->backingFormat = QVIR_STORAGE_FILE_QCOW2;
    rc = qvirStorageSourceNewFromBacking(parent, &child, &error2);
    fuzzCheckLayer(rc, child, error2);
    if (child)
        FUZZ_CHECK(child->readonly && child->format == QVIR_STORAGE_FILE_QCOW2 &&
                       g_strcmp0(child->relPath, name) == 0,
                   "backing layer fields");
    return 0;
}
