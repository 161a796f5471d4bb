/*
 * fuzz-main.c: a main() for the fuzz targets when libFuzzer is not available.
 *
 * Runs LLVMFuzzerTestOneInput once on every file named on the command line and on
 * every regular file of every directory named there (libFuzzer's own -runs=0
 * behaviour), so the seed corpus is a regression suite with any compiler. Arguments
 * starting with '-' are libFuzzer options and are ignored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static gboolean
fuzzRunFile(const char *path)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;

    if (!g_file_get_contents(path, &data, &len, &error)) {
        fprintf(stderr, "%s\n", error->message);
        return FALSE;
    }
    /* A copy of exactly LEN bytes, so ASan sees a read past the input. */
    g_autofree uint8_t *copy = g_memdup2(data, len ? len : 1);
    LLVMFuzzerTestOneInput(copy, len);
    return TRUE;
}

static gint
fuzzCompareNames(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static gboolean
fuzzRunDir(const char *path, unsigned int *count)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    if (!(dir = g_dir_open(path, 0, &error))) {
        fprintf(stderr, "%s\n", error->message);
        return FALSE;
    }
    while ((name = g_dir_read_name(dir)))
        g_ptr_array_add(names, g_build_filename(path, name, NULL));
    /* A stable order makes a failure reproducible from the log. */
    g_ptr_array_sort(names, fuzzCompareNames);
    for (guint i = 0; i < names->len; i++) {
        const char *file = g_ptr_array_index(names, i);
        if (!g_file_test(file, G_FILE_TEST_IS_REGULAR))
            continue;
        if (!fuzzRunFile(file))
            return FALSE;
        (*count)++;
    }
    return TRUE;
}

int
main(int argc, char **argv)
{
    unsigned int count = 0;

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);

    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            if (!fuzzRunDir(argv[i], &count))
                return EXIT_FAILURE;
        } else {
            if (!fuzzRunFile(argv[i]))
                return EXIT_FAILURE;
            count++;
        }
    }
    fprintf(stderr, "%s: ran %u inputs\n", argv[0], count);
    return EXIT_SUCCESS;
}
