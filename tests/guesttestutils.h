/*
 * guesttestutils.h: a minimal Linux guest for tests, under TCG: Debian's cloud kernel
 * from /boot and an initramfs built here from busybox-static and the kernel's virtio
 * modules (no cpio tool needed). The guest's /init announces itself on the serial console
 * (QVIRT-READY), waits for a hot-plugged /dev/vdb, writes 64 KiB of 0x5a at 2 MiB
 * (QVIRT-WROTE) and reports when the disk is gone again (QVIRT-GONE): its kernel
 * acknowledges the unplug, which no paused QEMU does.
 *
 * Static functions: each test program includes this once.
 */
#pragma once

#pragma GCC diagnostic ignored "-Wunused-function"

#include <string.h>
#include <unistd.h>
#include <glib.h>

/*
 * A minimal Linux guest under TCG: Debian's cloud kernel and an initramfs built here from
 * busybox-static and the kernel's virtio modules. The guest waits for a hot-plugged disk,
 * writes a pattern to it, and its kernel answers the unplug request, so device_del really
 * completes (DEVICE_DELETED) - which no paused QEMU can show.
 */
#define GUEST_INIT                                                                                 \
    "#!/bin/busybox sh\n"                                                                          \
    "/bin/busybox --install -s /bin\n"                                                             \
    "mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev\n"              \
    "for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci "          \
    "virtio_blk; do insmod /lib/$m.ko; done\n"                                                     \
    "echo QVIRT-READY\n"                                                                           \
    "while [ ! -e /sys/block/vdb ]; do sleep 0.2; done\n"                                          \
    "sleep 0.5\n"                                                                                  \
    "dd if=/dev/zero bs=65536 count=1 2>/dev/null | tr '\\000' '\\132' | "                         \
    "dd of=/dev/vdb bs=65536 seek=32 conv=fsync 2>/dev/null && echo QVIRT-WROTE\n"                 \
    "while [ -e /sys/block/vdb ]; do sleep 0.2; done\n"                                            \
    "echo QVIRT-GONE\n"                                                                            \
    "while true; do sleep 10; done\n"

static const char *const testGuestModules[] = {
    "kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio.ko",
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
    "kernel/drivers/virtio/virtio_pci.ko",
    "kernel/drivers/block/virtio_blk.ko",
};

/* One entry of a "newc" cpio archive (the initramfs format). */
static void
testCpioAdd(GByteArray *out, const char *name, guint32 mode, const char *data, gsize len)
{
    static guint32 ino = 1;
    g_autofree char *hdr = g_strdup_printf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X"
                                           "%08X%08X%08X",
                                           ino++, mode, 0u, 0u, 1u, 0u, (guint32)len, 0u, 0u, 0u,
                                           0u, (guint32)strlen(name) + 1, 0u);
    static const guint8 zeros[4] = {0};

    g_byte_array_append(out, (const guint8 *)hdr, strlen(hdr));
    g_byte_array_append(out, (const guint8 *)name, strlen(name) + 1);
    g_byte_array_append(out, zeros, (4 - out->len % 4) % 4);
    if (len)
        g_byte_array_append(out, (const guint8 *)data, len);
    g_byte_array_append(out, zeros, (4 - out->len % 4) % 4);
}

/* The kernel image and its modules directory, or FALSE when not installed. */
static gboolean
testGuestKernel(char **kernel, char **modules)
{
    g_autoptr(GDir) dir = g_dir_open("/boot", 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *mods = NULL;

        if (!g_str_has_prefix(name, "vmlinuz-"))
            continue;
        mods = g_build_filename("/lib/modules", name + strlen("vmlinuz-"), NULL);
        if (!g_file_test(mods, G_FILE_TEST_IS_DIR))
            continue;
        *kernel = g_build_filename("/boot", name, NULL);
        *modules = g_steal_pointer(&mods);
        return TRUE;
    }
    return FALSE;
}

/* The initramfs with INIT as /init and, besides the virtio modules, EXTRA (module paths
 * under MODULES, NULL-terminated; may be NULL). */
static gboolean
testGuestInitrdFull(const char *modules, const char *path, const char *init,
                    const char *const *extra)
{
    g_autoptr(GByteArray) cpio = g_byte_array_new();
    g_autofree char *busybox = NULL;
    guint nextra = extra ? g_strv_length((char **)extra) : 0;
    gsize len = 0;

    if (!g_file_get_contents("/bin/busybox", &busybox, &len, NULL))
        return FALSE;
    testCpioAdd(cpio, "bin", 040755, NULL, 0);
    testCpioAdd(cpio, "lib", 040755, NULL, 0);
    testCpioAdd(cpio, "proc", 040755, NULL, 0);
    testCpioAdd(cpio, "sys", 040755, NULL, 0);
    testCpioAdd(cpio, "dev", 040755, NULL, 0);
    testCpioAdd(cpio, "bin/busybox", 0100755, busybox, len);
    testCpioAdd(cpio, "init", 0100755, init, strlen(init));
    for (guint i = 0; i < G_N_ELEMENTS(testGuestModules) + nextra; i++) {
        const char *mod = i < G_N_ELEMENTS(testGuestModules)
                              ? testGuestModules[i]
                              : extra[i - G_N_ELEMENTS(testGuestModules)];
        g_autofree char *src = g_build_filename(modules, mod, NULL);
        g_autofree char *base = g_path_get_basename(mod);
        g_autofree char *dst = g_build_filename("lib", base, NULL);
        g_autofree char *data = NULL;
        gsize dlen = 0;

        if (!g_file_get_contents(src, &data, &dlen, NULL))
            return FALSE;
        testCpioAdd(cpio, dst, 0100644, data, dlen);
    }
    testCpioAdd(cpio, "TRAILER!!!", 0, NULL, 0);
    return g_file_set_contents(path, (const char *)cpio->data, cpio->len, NULL);
}

static gboolean
testGuestInitrd(const char *modules, const char *path)
{
    return testGuestInitrdFull(modules, path, GUEST_INIT, NULL);
}

/* Read the console into LOG until it shows WHAT (TRUE) or TIMEOUT_S passes. */
static gboolean
testGuestWaitFor(int fd, GString *log, const char *what, guint timeoutS)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutS * G_USEC_PER_SEC;

    while (!strstr(log->str, what)) {
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n > 0) {
            g_string_append_len(log, buf, n);
            continue;
        }
        if (g_get_monotonic_time() > deadline)
            return FALSE;
        g_usleep(50 * 1000);
    }
    return TRUE;
}
