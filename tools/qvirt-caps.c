/*
 * qvirt-caps.c: the QEMU capabilities an offline subcommand works with: a recorded set
 * (--caps NAME) or the probed binary (--emulator PATH, else the domain's <emulator>).
 */
#include "qvirt-caps.h"

#include <string.h>

#include "util/virerror.h"

/*
 * NAME is a file path when it contains a '/' or ends in .json; otherwise NAME.json is
 * looked up in $QVIRT_CAPSDATA_DIR, ./tests/qemucapsdata and the source tree the binary
 * was built in (BUILDDIR/tools/qvirt -> SRCDIR/tests/qemucapsdata).
 */
static qemuCaps *
qvirtCapsLoadNamed(const char *name, GError **error)
{
    g_autofree char *file = g_strdup_printf("%s.json", name);
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *exeDir = exe ? g_path_get_dirname(exe) : g_strdup(".");
    const char *envDir = g_getenv("QVIRT_CAPSDATA_DIR");
    g_autofree char *c1 = envDir ? g_build_filename(envDir, file, NULL) : NULL;
    g_autofree char *c2 = g_build_filename("tests", "qemucapsdata", file, NULL);
    g_autofree char *c3 = g_build_filename(exeDir, "..", "..", "tests", "qemucapsdata", file, NULL);
    g_autofree char *c4 = g_build_filename(exeDir, "..", "tests", "qemucapsdata", file, NULL);
    const char *candidates[] = {c1, c2, c3, c4};

    if (strchr(name, '/') || g_str_has_suffix(name, ".json"))
        return qemuCapsLoadFile(name, error);
    for (size_t i = 0; i < G_N_ELEMENTS(candidates); i++) {
        if (candidates[i] && g_file_test(candidates[i], G_FILE_TEST_IS_REGULAR))
            return qemuCapsLoadFile(candidates[i], error);
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_OPEN_FAILED,
                "unknown capabilities '%s': no %s in $QVIRT_CAPSDATA_DIR, ./tests/qemucapsdata "
                "or the source tree",
                name, file);
    return NULL;
}

static char *
qvirtCapsCacheDir(void)
{
    return g_build_filename(g_get_user_cache_dir(), "qvirt", "qemucaps", NULL);
}

qemuCaps *
qvirtCapsLoad(const char *capsName, const char *emulator, const qvirDomainDef *def, GError **error)
{
    g_autofree char *cacheDir = NULL;
    const char *bin;

    if (capsName)
        return qvirtCapsLoadNamed(capsName, error);
    cacheDir = qvirtCapsCacheDir();
    bin =
        emulator ? emulator : (def && def->emulator ? def->emulator : QVIRT_CAPS_DEFAULT_EMULATOR);
    return qemuCapsCacheLookup(bin, cacheDir, error);
}
