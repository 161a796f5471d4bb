/*
 * fuzz_saveimage.c: reading a save image (src/qemu/qemu_saveimage.c), which virsh restore
 * and save-image-dumpxml point at any file.
 *
 * The input is the file. It is opened and checked; when that succeeds, its XML is a
 * NUL-terminated string within the file's bounds and the data is streamed out, the
 * checksum then deciding. Checked: success and error agree with the GError, and a file
 * that opens gives back what its header promised (a pump into /dev/null never reads past
 * the end: ASan and the length check would say so).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "qemu/qemu_saveimage.h"
#include "util/virerror.h"

static char *fuzzPath;
static int fuzzNull = -1;
/* QVIRT_FUZZ_VERBOSE=1 prints what each input gives (to check the seeds). */
static gboolean fuzzVerbose;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autofree char *dir = g_dir_make_tmp("fuzz-saveimage-XXXXXX", NULL);

    fuzzCommonInit();
    fuzzVerbose = g_getenv("QVIRT_FUZZ_VERBOSE") != NULL;
    fuzzPath = g_build_filename(dir, "image.save", NULL);
    fuzzNull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(qemuSaveImage) img = NULL;

    if (!fuzzPath)
        LLVMFuzzerInitialize(NULL, NULL);
    FUZZ_CHECK(g_file_set_contents(fuzzPath, (const char *)data, size, NULL), "write %s", fuzzPath);
    img = qemuSaveImageOpen(fuzzPath, FALSE, &err);
    FUZZ_CHECK((img == NULL) == (err != NULL), "result and error disagree");
    if (!img) {
        if (fuzzVerbose)
            g_printerr("open: %s\n", err->message);
        return 0;
    }
    FUZZ_CHECK(strlen(qemuSaveImageGetXML(img)) < size, "XML longer than the file");
    if (!qemuSaveImagePump(img, fuzzNull, &err))
        FUZZ_CHECK(err != NULL, "pump failed without an error");
    if (fuzzVerbose)
        g_printerr("open ok, running %d, boot vCPUs %u; data: %s\n", qemuSaveImageGetRunning(img),
                   qemuSaveImageGetBootVcpus(img), err ? err->message : "ok");
    return 0;
}
