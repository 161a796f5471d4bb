/*
 * fuzz-common.h: set-up shared by the fuzz targets.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A GLib critical or warning from library code on fuzzed input is a bug (a failed
 * g_return_if_fail means a caller passed garbage on), so make it abort where the
 * fuzzer sees it. Debug and info messages are dropped: printing them would only slow
 * the fuzzer down. */
static inline void
fuzzCommonInit(void)
{
    g_setenv("G_SLICE", "always-malloc", FALSE);
    g_setenv("G_MESSAGES_DEBUG", "", TRUE);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* Fail loudly with the reason; abort() is what libFuzzer and the replayer catch. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            g_printerr("fuzz check failed: %s: ", #cond);                                          \
            g_printerr(__VA_ARGS__);                                                               \
            g_printerr("\n");                                                                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
