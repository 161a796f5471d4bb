/*
 * qemu_capabilities.c: probing a QEMU binary over QMP, our JSON format, and the
 * on-disk cache keyed by the binary's path, size and mtime.
 */
#include "qemu/qemu_capabilities.h"

#include <errno.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/virerror.h"
#include "util/virfile.h"

/* Bump when the cache entry's layout changes. */
#define QEMU_CAPS_CACHE_FORMAT 2

QVIR_ENUM_IMPL(qemuCaps, QEMU_CAPS_LAST, "blockdev", "drive-cache-directsync", "drive-cache-unsafe",
               "disk-write-cache", "aio-io-uring", "drive-discard", "drive-detect-zeroes",
               "disk-share-rw", "virtio-blk", "virtio-scsi", "lsi", "ahci", "qemu-xhci",
               "usb-storage", "pcie-root-port", "object-json", "piix3-usb-uhci", "virtio-net",
               "virtio-balloon", "usb-tablet", "isa-serial", "vnc", "seccomp-sandbox", "kvm",
               "set-action", "machine-hpet", "virtio-pci-non-transitional", "virtio-blk-pci.scsi",
               "virtio-blk-pci.scsi.default.disabled");

typedef struct {
    char *name;
    char *alias;
    gboolean isDefault;
    unsigned int maxCpus; /* query-machines' cpu-max; 0 if unknown */
} qemuCapsMachine;

struct _qemuCaps {
    char *binary;
    char *package;
    unsigned int version;
    gboolean flags[QEMU_CAPS_LAST];
    GPtrArray *machines;  /* qemuCapsMachine* */
    char *arch;           /* query-target; NULL in data files that predate it */
    GPtrArray *cpuModels; /* qemuCapsCPUModel*, in QEMU's order */
    /* identity of the binary the set was probed from, for the cache */
    gint64 binarySize;
    gint64 binaryMtime;
    /* cache entries only: the program that probed (qemuCapsProberStamp) */
    char *prober;
};

static guint qemuCapsProbes;

static void
qemuCapsCPUModelFree(gpointer data)
{
    qemuCapsCPUModel *m = data;

    g_free(m->name);
    g_free(m->vendor);
    g_free(m);
}

static void
qemuCapsMachineFree(gpointer data)
{
    qemuCapsMachine *m = data;

    g_free(m->name);
    g_free(m->alias);
    g_free(m);
}

qemuCaps *
qemuCapsNew(void)
{
    qemuCaps *caps = g_new0(qemuCaps, 1);

    caps->machines = g_ptr_array_new_with_free_func(qemuCapsMachineFree);
    caps->cpuModels = g_ptr_array_new_with_free_func(qemuCapsCPUModelFree);
    return caps;
}

void
qemuCapsFree(qemuCaps *caps)
{
    if (!caps)
        return;
    g_free(caps->binary);
    g_free(caps->package);
    g_free(caps->prober);
    g_ptr_array_unref(caps->machines);
    g_ptr_array_unref(caps->cpuModels);
    g_free(caps->arch);
    g_free(caps);
}

gboolean
qemuCapsGet(const qemuCaps *caps, qemuCapsFlags flag)
{
    if (!caps || flag < 0 || flag >= QEMU_CAPS_LAST)
        return FALSE;
    return caps->flags[flag];
}

void
qemuCapsSet(qemuCaps *caps, qemuCapsFlags flag)
{
    g_return_if_fail(flag >= 0 && flag < QEMU_CAPS_LAST);
    caps->flags[flag] = TRUE;
}

void
qemuCapsClear(qemuCaps *caps, qemuCapsFlags flag)
{
    g_return_if_fail(flag >= 0 && flag < QEMU_CAPS_LAST);
    caps->flags[flag] = FALSE;
}

unsigned int
qemuCapsGetVersion(const qemuCaps *caps)
{
    return caps->version;
}

const char *
qemuCapsGetBinary(const qemuCaps *caps)
{
    return caps->binary;
}

guint
qemuCapsProbeCounter(void)
{
    return g_atomic_int_get(&qemuCapsProbes);
}

const char *
qemuCapsGetArch(const qemuCaps *caps)
{
    return caps->arch ? caps->arch : "x86_64";
}

static void
qemuCapsAddMachine(qemuCaps *caps, const char *name, const char *alias, gboolean isDefault,
                   unsigned int maxCpus)
{
    qemuCapsMachine *m = g_new0(qemuCapsMachine, 1);

    m->name = g_strdup(name);
    m->alias = g_strdup(alias);
    m->isDefault = isDefault;
    m->maxCpus = maxCpus;
    g_ptr_array_add(caps->machines, m);
}

static qemuCapsMachine *
qemuCapsFindMachine(const qemuCaps *caps, const char *canonical)
{
    for (guint i = 0; canonical && i < caps->machines->len; i++) {
        qemuCapsMachine *m = g_ptr_array_index(caps->machines, i);

        if (strcmp(m->name, canonical) == 0)
            return m;
    }
    return NULL;
}

const char *
qemuCapsGetDefaultMachine(const qemuCaps *caps)
{
    for (guint i = 0; i < caps->machines->len; i++) {
        qemuCapsMachine *m = g_ptr_array_index(caps->machines, i);

        if (m->isDefault)
            return m->name;
    }
    return NULL;
}

unsigned int
qemuCapsGetMachineMaxCpus(const qemuCaps *caps, const char *machine)
{
    qemuCapsMachine *m = qemuCapsFindMachine(caps, qemuCapsGetCanonicalMachine(caps, machine));

    return m ? m->maxCpus : 0;
}

const GPtrArray *
qemuCapsGetCPUModels(const qemuCaps *caps)
{
    return caps->cpuModels;
}

static void
qemuCapsAddCPUModel(qemuCaps *caps, const char *name, gboolean usable, gboolean deprecated,
                    const char *vendor)
{
    qemuCapsCPUModel *m = g_new0(qemuCapsCPUModel, 1);

    m->name = g_strdup(name);
    m->usable = usable;
    m->deprecated = deprecated;
    m->vendor = g_strdup(vendor);
    g_ptr_array_add(caps->cpuModels, m);
}

const char *
qemuCapsGetCanonicalMachine(const qemuCaps *caps, const char *machine)
{
    if (!machine)
        return NULL;
    for (guint i = 0; i < caps->machines->len; i++) {
        qemuCapsMachine *m = g_ptr_array_index(caps->machines, i);

        if (g_strcmp0(m->alias, machine) == 0)
            return m->name;
    }
    for (guint i = 0; i < caps->machines->len; i++) {
        qemuCapsMachine *m = g_ptr_array_index(caps->machines, i);

        if (g_strcmp0(m->name, machine) == 0)
            return m->name;
    }
    return NULL;
}

void
qemuCapsStripMachineAliases(qemuCaps *caps)
{
    guint n = caps->machines->len;

    /* as libvirt's virQEMUCapsStripMachineAliases: each alias becomes a machine of its own */
    for (guint i = 0; i < n; i++) {
        qemuCapsMachine *m = g_ptr_array_index(caps->machines, i);
        g_autofree char *alias = g_steal_pointer(&m->alias);

        if (alias)
            qemuCapsAddMachine(caps, alias, NULL, FALSE, m->maxCpus);
    }
}

gboolean
qemuCapsHasMachine(const qemuCaps *caps, const char *machine)
{
    return qemuCapsGetCanonicalMachine(caps, machine) != NULL;
}

/* ---- our JSON format ---------------------------------------------------------- */

char *
qemuCapsFormatJSON(const qemuCaps *caps)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "binary");
    json_builder_add_string_value(b, caps->binary ? caps->binary : "");
    json_builder_set_member_name(b, "version");
    json_builder_add_int_value(b, caps->version);
    json_builder_set_member_name(b, "package");
    json_builder_add_string_value(b, caps->package ? caps->package : "");
    json_builder_set_member_name(b, "binarySize");
    json_builder_add_int_value(b, caps->binarySize);
    json_builder_set_member_name(b, "binaryMtime");
    json_builder_add_int_value(b, caps->binaryMtime);
    if (caps->prober) {
        json_builder_set_member_name(b, "prober");
        json_builder_add_string_value(b, caps->prober);
    }

    json_builder_set_member_name(b, "flags");
    json_builder_begin_array(b);
    for (int i = 0; i < QEMU_CAPS_LAST; i++) {
        if (caps->flags[i])
            json_builder_add_string_value(b, qemuCapsTypeToString(i));
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "machines");
    json_builder_begin_array(b);
    for (guint i = 0; i < caps->machines->len; i++) {
        qemuCapsMachine *m = g_ptr_array_index(caps->machines, i);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, m->name);
        if (m->alias) {
            json_builder_set_member_name(b, "alias");
            json_builder_add_string_value(b, m->alias);
        }
        if (m->isDefault) {
            json_builder_set_member_name(b, "default");
            json_builder_add_boolean_value(b, TRUE);
        }
        if (m->maxCpus) {
            json_builder_set_member_name(b, "maxCpus");
            json_builder_add_int_value(b, m->maxCpus);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    if (caps->arch) {
        json_builder_set_member_name(b, "arch");
        json_builder_add_string_value(b, caps->arch);
    }
    json_builder_set_member_name(b, "cpuModels");
    json_builder_begin_array(b);
    for (guint i = 0; i < caps->cpuModels->len; i++) {
        qemuCapsCPUModel *m = g_ptr_array_index(caps->cpuModels, i);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, m->name);
        json_builder_set_member_name(b, "usable");
        json_builder_add_boolean_value(b, m->usable);
        if (m->deprecated) {
            json_builder_set_member_name(b, "deprecated");
            json_builder_add_boolean_value(b, TRUE);
        }
        if (m->vendor) {
            json_builder_set_member_name(b, "vendor");
            json_builder_add_string_value(b, m->vendor);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);

    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 2);
    {
        g_autofree char *data = json_generator_to_data(gen, NULL);

        return g_strdup_printf("%s\n", data);
    }
}

static qemuCaps *
qemuCapsParseJSON(const char *data, gsize len, const char *path, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(qemuCaps) caps = qemuCapsNew();
    g_autoptr(GError) err = NULL;
    JsonObject *obj;
    JsonNode *root;

    if (!json_parser_load_from_data(parser, data, len, &err)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_PARSE_FAILED,
                    "cannot parse QEMU capabilities '%s': %s", path, err->message);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_PARSE_FAILED,
                    "QEMU capabilities '%s' are not a JSON object", path);
        return NULL;
    }
    obj = json_node_get_object(root);

    caps->binary = g_strdup(json_object_get_string_member_with_default(obj, "binary", ""));
    caps->package = g_strdup(json_object_get_string_member_with_default(obj, "package", ""));
    caps->version = json_object_get_int_member_with_default(obj, "version", 0);
    caps->binarySize = json_object_get_int_member_with_default(obj, "binarySize", -1);
    caps->binaryMtime = json_object_get_int_member_with_default(obj, "binaryMtime", -1);
    caps->prober = g_strdup(json_object_get_string_member_with_default(obj, "prober", NULL));

    if (json_object_has_member(obj, "flags")) {
        JsonArray *flags = json_object_get_array_member(obj, "flags");

        for (guint i = 0; flags && i < json_array_get_length(flags); i++) {
            const char *name = json_array_get_string_element(flags, i);
            int flag = name ? qemuCapsTypeFromString(name) : -1;

            if (flag < 0) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_PARSE_FAILED,
                            "unknown QEMU capability '%s' in '%s'", name ? name : "", path);
                return NULL;
            }
            caps->flags[flag] = TRUE;
        }
    }

    if (json_object_has_member(obj, "machines")) {
        JsonArray *machines = json_object_get_array_member(obj, "machines");

        for (guint i = 0; machines && i < json_array_get_length(machines); i++) {
            JsonNode *n = json_array_get_element(machines, i);
            JsonObject *m;

            if (!JSON_NODE_HOLDS_OBJECT(n))
                continue;
            m = json_node_get_object(n);
            if (!json_object_has_member(m, "name"))
                continue;
            qemuCapsAddMachine(caps, json_object_get_string_member(m, "name"),
                               json_object_get_string_member_with_default(m, "alias", NULL),
                               json_object_get_boolean_member_with_default(m, "default", FALSE),
                               json_object_get_int_member_with_default(m, "maxCpus", 0));
        }
    }
    caps->arch = g_strdup(json_object_get_string_member_with_default(obj, "arch", NULL));
    if (json_object_has_member(obj, "cpuModels")) {
        JsonArray *models = json_object_get_array_member(obj, "cpuModels");

        for (guint i = 0; models && i < json_array_get_length(models); i++) {
            JsonObject *m = json_array_get_object_element(models, i);
            const char *name =
                m ? json_object_get_string_member_with_default(m, "name", NULL) : NULL;

            if (!name)
                continue;
            qemuCapsAddCPUModel(caps, name,
                                json_object_get_boolean_member_with_default(m, "usable", FALSE),
                                json_object_get_boolean_member_with_default(m, "deprecated", FALSE),
                                json_object_get_string_member_with_default(m, "vendor", NULL));
        }
    }
    return g_steal_pointer(&caps);
}

qemuCaps *
qemuCapsCopy(const qemuCaps *caps)
{
    g_autofree char *json = qemuCapsFormatJSON(caps);
    qemuCaps *copy = qemuCapsParseJSON(json, strlen(json), "(copy)", NULL);

    /* our own output always parses back */
    g_assert(copy != NULL);
    return copy;
}

qemuCaps *
qemuCapsLoadFile(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_OPEN_FAILED,
                    "cannot read QEMU capabilities '%s': %s", path, err->message);
        return NULL;
    }
    return qemuCapsParseJSON(data, len, path, error);
}

/* ---- probing ------------------------------------------------------------------- */

/* The device whose properties decide the disk-device flags. */
#define QEMU_CAPS_PROBE_DISK_DEVICE "virtio-blk-pci"

static const char *const qemuCapsProbeCommands[] = {
    "{\"execute\":\"qmp_capabilities\",\"id\":\"caps\"}",
    "{\"execute\":\"query-version\",\"id\":\"version\"}",
    "{\"execute\":\"query-machines\",\"id\":\"machines\"}",
    "{\"execute\":\"query-qmp-schema\",\"id\":\"schema\"}",
    "{\"execute\":\"qom-list-types\",\"id\":\"types\"}",
    "{\"execute\":\"query-command-line-options\",\"arguments\":{\"option\":\"drive\"},"
    "\"id\":\"drive\"}",
    "{\"execute\":\"device-list-properties\",\"arguments\":{\"typename\":"
    "\"" QEMU_CAPS_PROBE_DISK_DEVICE "\"},\"id\":\"diskprops\"}",
    "{\"execute\":\"query-command-line-options\",\"arguments\":{\"option\":\"machine\"},"
    "\"id\":\"machineopts\"}",
    "{\"execute\":\"query-kvm\",\"id\":\"kvm\"}",
    "{\"execute\":\"query-target\",\"id\":\"target\"}",
    "{\"execute\":\"query-cpu-definitions\",\"id\":\"cpudefs\"}",
};

/* QOM type -> flag */
static const struct {
    const char *type;
    qemuCapsFlags flag;
} qemuCapsTypeFlags[] = {
    {"virtio-blk-pci", QEMU_CAPS_DEVICE_VIRTIO_BLK},
    {"virtio-blk-pci-non-transitional", QEMU_CAPS_VIRTIO_PCI_TRANSITIONAL},
    {"virtio-scsi-pci", QEMU_CAPS_DEVICE_VIRTIO_SCSI},
    {"lsi53c895a", QEMU_CAPS_DEVICE_LSI},
    {"ich9-ahci", QEMU_CAPS_DEVICE_AHCI},
    {"qemu-xhci", QEMU_CAPS_DEVICE_QEMU_XHCI},
    {"usb-storage", QEMU_CAPS_DEVICE_USB_STORAGE},
    {"pcie-root-port", QEMU_CAPS_DEVICE_PCIE_ROOT_PORT},
    {"piix3-usb-uhci", QEMU_CAPS_DEVICE_PIIX3_USB_UHCI},
    {"virtio-net-pci", QEMU_CAPS_DEVICE_VIRTIO_NET},
    {"virtio-balloon-pci", QEMU_CAPS_DEVICE_VIRTIO_BALLOON},
    {"usb-tablet", QEMU_CAPS_DEVICE_USB_TABLET},
    {"isa-serial", QEMU_CAPS_DEVICE_ISA_SERIAL},
};

static JsonObject *
qemuCapsReplyReturnObject(GHashTable *replies, const char *id)
{
    JsonNode *ret = g_hash_table_lookup(replies, id);

    return ret && JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
}

static JsonArray *
qemuCapsReplyReturnArray(GHashTable *replies, const char *id)
{
    JsonNode *ret = g_hash_table_lookup(replies, id);

    return ret && JSON_NODE_HOLDS_ARRAY(ret) ? json_node_get_array(ret) : NULL;
}

static gboolean
qemuCapsProcessVersion(qemuCaps *caps, GHashTable *replies, GError **error)
{
    JsonObject *ver = qemuCapsReplyReturnObject(replies, "version");
    JsonObject *q;

    if (!ver || !json_object_has_member(ver, "qemu")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "QEMU binary '%s' did not answer query-version", caps->binary);
        return FALSE;
    }
    q = json_object_get_object_member(ver, "qemu");
    caps->version = json_object_get_int_member_with_default(q, "major", 0) * 1000000 +
                    json_object_get_int_member_with_default(q, "minor", 0) * 1000 +
                    json_object_get_int_member_with_default(q, "micro", 0);
    caps->package = g_strdup(json_object_get_string_member_with_default(ver, "package", ""));
    return TRUE;
}

static gint
qemuCapsMachineCompare(gconstpointer a, gconstpointer b)
{
    const qemuCapsMachine *ma = *(qemuCapsMachine *const *)a;
    const qemuCapsMachine *mb = *(qemuCapsMachine *const *)b;

    return strcmp(ma->name, mb->name);
}

static void
qemuCapsProcessMachines(qemuCaps *caps, GHashTable *replies)
{
    JsonArray *arr = qemuCapsReplyReturnArray(replies, "machines");

    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *m = json_array_get_object_element(arr, i);
        const char *name;

        if (!m || !(name = json_object_get_string_member_with_default(m, "name", NULL)))
            continue;
        if (strcmp(name, "none") == 0)
            continue;
        qemuCapsAddMachine(caps, name, json_object_get_string_member_with_default(m, "alias", NULL),
                           json_object_get_boolean_member_with_default(m, "is-default", FALSE),
                           json_object_get_int_member_with_default(m, "cpu-max", 0));
    }
    /* QEMU lists machines in hash order; sort so the file is stable. */
    g_ptr_array_sort(caps->machines, qemuCapsMachineCompare);
}

static void
qemuCapsProcessSchema(qemuCaps *caps, GHashTable *replies)
{
    JsonArray *arr = qemuCapsReplyReturnArray(replies, "schema");
    g_autoptr(GHashTable) byName = g_hash_table_new(g_str_hash, g_str_equal);
    JsonObject *objectAdd = NULL;
    gboolean deviceJSON = FALSE;

    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *e = json_array_get_object_element(arr, i);
        const char *name = e ? json_object_get_string_member_with_default(e, "name", NULL) : NULL;
        const char *meta = e ? json_object_get_string_member_with_default(e, "meta-type", "") : "";

        if (!name)
            continue;
        g_hash_table_insert(byName, (gpointer)name, e);

        if (strcmp(meta, "command") == 0) {
            if (strcmp(name, "blockdev-add") == 0)
                caps->flags[QEMU_CAPS_BLOCKDEV] = TRUE;
            if (strcmp(name, "set-action") == 0)
                caps->flags[QEMU_CAPS_SET_ACTION] = TRUE;
            if (strcmp(name, "object-add") == 0)
                objectAdd = e;
            if (strcmp(name, "device_add") == 0 && json_object_has_member(e, "features")) {
                JsonArray *feat = json_object_get_array_member(e, "features");

                for (guint j = 0; feat && j < json_array_get_length(feat); j++) {
                    if (g_strcmp0(json_array_get_string_element(feat, j), "json-cli") == 0)
                        deviceJSON = TRUE;
                }
            }
        } else if (strcmp(meta, "enum") == 0 && json_object_has_member(e, "values")) {
            /* BlockdevAioOptions: type names are masked, so recognise it by its values. */
            JsonArray *vals = json_object_get_array_member(e, "values");
            gboolean native = FALSE, threads = FALSE, uring = FALSE;

            for (guint j = 0; vals && j < json_array_get_length(vals); j++) {
                const char *v = json_array_get_string_element(vals, j);

                native |= g_strcmp0(v, "native") == 0;
                threads |= g_strcmp0(v, "threads") == 0;
                uring |= g_strcmp0(v, "io_uring") == 0;
            }
            if (native && threads && uring)
                caps->flags[QEMU_CAPS_AIO_IO_URING] = TRUE;
        }
    }

    /* -object takes JSON once object-add's qom-type is an enum (QAPI-fied objects), and
     * -device once device_add advertises 'json-cli'; we use both together. */
    if (objectAdd && deviceJSON) {
        const char *argType = json_object_get_string_member_with_default(objectAdd, "arg-type", "");
        JsonObject *arg = g_hash_table_lookup(byName, argType);

        if (arg && json_object_has_member(arg, "members")) {
            JsonArray *members = json_object_get_array_member(arg, "members");

            for (guint j = 0; members && j < json_array_get_length(members); j++) {
                JsonObject *m = json_array_get_object_element(members, j);

                if (m &&
                    g_strcmp0(json_object_get_string_member_with_default(m, "name", ""),
                              "qom-type") == 0 &&
                    g_strcmp0(json_object_get_string_member_with_default(m, "type", ""), "str") !=
                        0)
                    caps->flags[QEMU_CAPS_OBJECT_JSON] = TRUE;
            }
        }
    }
}

static void
qemuCapsProcessTypes(qemuCaps *caps, GHashTable *replies)
{
    JsonArray *arr = qemuCapsReplyReturnArray(replies, "types");

    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *t = json_array_get_object_element(arr, i);
        const char *name = t ? json_object_get_string_member_with_default(t, "name", NULL) : NULL;

        if (!name)
            continue;
        for (size_t j = 0; j < G_N_ELEMENTS(qemuCapsTypeFlags); j++) {
            if (strcmp(name, qemuCapsTypeFlags[j].type) == 0)
                caps->flags[qemuCapsTypeFlags[j].flag] = TRUE;
        }
    }
}

static void
qemuCapsProcessDriveOptions(qemuCaps *caps, GHashTable *replies)
{
    JsonArray *arr = qemuCapsReplyReturnArray(replies, "drive");

    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *opt = json_array_get_object_element(arr, i);
        JsonArray *params;

        if (!opt || !json_object_has_member(opt, "parameters"))
            continue;
        params = json_object_get_array_member(opt, "parameters");
        for (guint j = 0; params && j < json_array_get_length(params); j++) {
            JsonObject *p = json_array_get_object_element(params, j);
            const char *name = p ? json_object_get_string_member_with_default(p, "name", "") : "";

            /* cache=directsync is direct without writeback; unsafe is no-flush. */
            if (strcmp(name, "cache.direct") == 0)
                caps->flags[QEMU_CAPS_DRIVE_CACHE_DIRECTSYNC] = TRUE;
            else if (strcmp(name, "cache.no-flush") == 0)
                caps->flags[QEMU_CAPS_DRIVE_CACHE_UNSAFE] = TRUE;
            else if (strcmp(name, "discard") == 0)
                caps->flags[QEMU_CAPS_DRIVE_DISCARD] = TRUE;
            else if (strcmp(name, "detect-zeroes") == 0)
                caps->flags[QEMU_CAPS_DRIVE_DETECT_ZEROES] = TRUE;
        }
    }
}

/* libvirt decides between -machine hpet= and -no-hpet by the legacy option list, which
 * names hpet from QEMU 8.0 on although the machine property is older. */
static void
qemuCapsProcessMachineOptions(qemuCaps *caps, GHashTable *replies)
{
    JsonArray *arr = qemuCapsReplyReturnArray(replies, "machineopts");

    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *opt = json_array_get_object_element(arr, i);
        JsonArray *params;

        if (!opt || !json_object_has_member(opt, "parameters"))
            continue;
        params = json_object_get_array_member(opt, "parameters");
        for (guint j = 0; params && j < json_array_get_length(params); j++) {
            JsonObject *p = json_array_get_object_element(params, j);

            if (p &&
                g_strcmp0(json_object_get_string_member_with_default(p, "name", ""), "hpet") == 0)
                caps->flags[QEMU_CAPS_MACHINE_HPET] = TRUE;
        }
    }
}

static void
qemuCapsProcessDiskProps(qemuCaps *caps, GHashTable *replies)
{
    JsonArray *arr = qemuCapsReplyReturnArray(replies, "diskprops");

    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *p = json_array_get_object_element(arr, i);
        const char *name = p ? json_object_get_string_member_with_default(p, "name", "") : "";

        if (strcmp(name, "write-cache") == 0)
            caps->flags[QEMU_CAPS_DISK_WRITE_CACHE] = TRUE;
        else if (strcmp(name, "share-rw") == 0)
            caps->flags[QEMU_CAPS_DISK_SHARE_RW] = TRUE;
        else if (strcmp(name, "scsi") == 0) {
            caps->flags[QEMU_CAPS_VIRTIO_BLK_SCSI] = TRUE;
            /* libvirt then leaves the property out for disks that are not luns */
            if (json_object_has_member(p, "default-value") &&
                !json_object_get_boolean_member_with_default(p, "default-value", TRUE))
                caps->flags[QEMU_CAPS_VIRTIO_BLK_SCSI_DEFAULT_DISABLED] = TRUE;
        }
    }
}

static void
qemuCapsProcessKVM(qemuCaps *caps, GHashTable *replies)
{
    JsonObject *kvm = qemuCapsReplyReturnObject(replies, "kvm");

    if (kvm && json_object_get_boolean_member_with_default(kvm, "present", FALSE))
        caps->flags[QEMU_CAPS_KVM] = TRUE;
}

/* Split QEMU's output into replies keyed by the "id" we sent. */
static GHashTable *
qemuCapsCollectReplies(const char *out, GError **error)
{
    g_autoptr(GHashTable) replies =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_node_unref);
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);

    for (size_t i = 0; lines[i]; i++) {
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *obj;
        JsonNode *root;
        const char *id;

        if (!*g_strstrip(lines[i]))
            continue;
        if (!json_parser_load_from_data(parser, lines[i], -1, NULL))
            continue; /* not QMP (stray diagnostics) */
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root))
            continue;
        obj = json_node_get_object(root);
        if (!json_object_has_member(obj, "id") || !json_object_has_member(obj, "return"))
            continue; /* greeting, events, errors: the flag simply stays off */
        id = json_object_get_string_member_with_default(obj, "id", NULL);
        if (!id)
            continue;
        g_hash_table_replace(replies, g_strdup(id),
                             json_node_copy(json_object_get_member(obj, "return")));
    }
    if (!g_hash_table_contains(replies, "caps")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "QEMU did not complete the QMP handshake");
        return NULL;
    }
    return g_steal_pointer(&replies);
}

/*
 * libvirt's vendor names for the CPUID vendor strings QEMU models carry. QEMU's generic
 * models borrow a vendor string, but they stand for no vendor's CPU and libvirt lists them
 * with vendor 'unknown': so do we.
 */
static const char *
qemuCapsCPUVendorName(const char *model, const char *cpuid)
{
    static const char *const generic[] = {"qemu64",  "qemu32",   "kvm64",    "kvm32",
                                          "pentium", "pentium2", "pentium3", "486"};
    static const struct {
        const char *cpuid;
        const char *name;
    } vendors[] = {
        {"GenuineIntel", "Intel"},
        {"AuthenticAMD", "AMD"},
        {"HygonGenuine", "Hygon"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(generic); i++) {
        if (strcmp(model, generic[i]) == 0)
            return NULL;
    }
    for (size_t i = 0; cpuid && i < G_N_ELEMENTS(vendors); i++) {
        if (strcmp(cpuid, vendors[i].cpuid) == 0)
            return vendors[i].name;
    }
    return NULL;
}

static void
qemuCapsProcessCPUModels(qemuCaps *caps, GHashTable *replies)
{
    JsonArray *arr = qemuCapsReplyReturnArray(replies, "cpudefs");

    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *d = json_array_get_object_element(arr, i);
        const char *name = d ? json_object_get_string_member_with_default(d, "name", NULL) : NULL;
        g_autofree char *id = NULL;
        JsonObject *exp, *model, *props;
        JsonArray *missing;
        const char *vendor = NULL;

        if (!name || !json_object_get_string_member_with_default(d, "alias-of", NULL))
            continue;
        id = g_strdup_printf("cpu:%s", name);
        if ((exp = qemuCapsReplyReturnObject(replies, id)) &&
            (model = json_object_get_object_member(exp, "model")) &&
            json_object_has_member(model, "props") &&
            (props = json_object_get_object_member(model, "props")))
            vendor = json_object_get_string_member_with_default(props, "vendor", NULL);
        missing = json_object_has_member(d, "unavailable-features")
                      ? json_object_get_array_member(d, "unavailable-features")
                      : NULL;
        qemuCapsAddCPUModel(caps, name, !missing || json_array_get_length(missing) == 0,
                            json_object_get_boolean_member_with_default(d, "deprecated", FALSE),
                            qemuCapsCPUVendorName(name, vendor));
    }
}

static gboolean
qemuCapsStatBinary(const char *binary, gint64 *size, gint64 *mtime, GError **error)
{
    struct stat sb;

    if (stat(binary, &sb) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "Cannot find QEMU binary %s: %s",
                    binary, g_strerror(errno));
        return FALSE;
    }
    *size = sb.st_size;
    *mtime = (gint64)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    return TRUE;
}

/* Whether LINE is QMP's answer to the command with ID. */
static gboolean
qemuCapsLineAnswers(const char *line, const char *id)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root;
    JsonObject *obj;

    if (!json_parser_load_from_data(parser, line, -1, NULL))
        return FALSE;
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return FALSE;
    obj = json_node_get_object(root);
    return g_strcmp0(json_object_get_string_member_with_default(obj, "id", NULL), id) == 0;
}

/*
 * Read lines from SOCK into TRANSCRIPT until the answer to ID (NULL: the greeting, i.e.
 * the first line) has arrived. PENDING holds bytes of a line not yet complete.
 */
static gboolean
qemuCapsSessionWait(GSocket *sock, GString *pending, GString *transcript, const char *id,
                    GError **error)
{
    for (;;) {
        char buf[65536];
        gssize n;
        char *nl;

        while ((nl = memchr(pending->str, '\n', pending->len))) {
            g_autofree char *line = g_strndup(pending->str, nl - pending->str);

            g_string_erase(pending, 0, nl - pending->str + 1);
            g_string_append_printf(transcript, "%s\n", line);
            if (!id || qemuCapsLineAnswers(line, id))
                return TRUE;
        }
        n = g_socket_receive(sock, buf, sizeof(buf), NULL, error);
        if (n < 0)
            return FALSE;
        if (n == 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "QEMU closed the monitor before answering '%s'", id ? id : "hello");
            return FALSE;
        }
        g_string_append_len(pending, buf, n);
    }
}

static gboolean
qemuCapsSessionCommand(GSocket *sock, GString *pending, GString *transcript, const char *cmd,
                       const char *id, GError **error)
{
    g_autofree char *line = g_strdup_printf("%s\n", cmd);
    gsize off = 0;
    gsize len = strlen(line);

    while (off < len) {
        gssize n = g_socket_send(sock, line + off, len - off, NULL, error);

        if (n < 0)
            return FALSE;
        off += n;
    }
    return qemuCapsSessionWait(sock, pending, transcript, id, error);
}

/* The unversioned CPU models (QEMU's aliases of "NAME-vN"), the names libvirt lists. */
static GPtrArray *
qemuCapsCPUDefinitionNames(const char *transcript)
{
    g_autoptr(GHashTable) replies = qemuCapsCollectReplies(transcript, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    JsonArray *arr = replies ? qemuCapsReplyReturnArray(replies, "cpudefs") : NULL;

    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *d = json_array_get_object_element(arr, i);
        const char *name = d ? json_object_get_string_member_with_default(d, "name", NULL) : NULL;

        if (name && json_object_get_string_member_with_default(d, "alias-of", NULL))
            g_ptr_array_add(names, g_strdup(name));
    }
    return names;
}

/*
 * One command at a time over a socketpair: QEMU may exit early (not QEMU, wrong
 * options) without SIGPIPE-ing us, a slow reader cannot make QEMU drop output it still
 * has buffered when "quit" arrives, and a hung binary hits the socket timeout. After the
 * fixed commands, each CPU model is expanded to learn its vendor.
 */
static gboolean
qemuCapsRunSession(GSocket *sock, GString *transcript, GError **error)
{
    g_autoptr(GString) pending = g_string_new(NULL);
    g_autoptr(GPtrArray) models = NULL;
    g_autoptr(GError) quitErr = NULL;

    if (!qemuCapsSessionWait(sock, pending, transcript, NULL, error))
        return FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS(qemuCapsProbeCommands); i++) {
        const char *cmd = qemuCapsProbeCommands[i];
        const char *idp = strstr(cmd, "\"id\":\"");
        g_autofree char *id = NULL;

        g_assert(idp);
        id = g_strndup(idp + 6, strchr(idp + 6, '"') - (idp + 6));
        if (!qemuCapsSessionCommand(sock, pending, transcript, cmd, id, error))
            return FALSE;
    }
    models = qemuCapsCPUDefinitionNames(transcript->str);
    for (guint i = 0; i < models->len; i++) {
        const char *name = g_ptr_array_index(models, i);
        g_autofree char *id = g_strdup_printf("cpu:%s", name);
        g_autofree char *cmd = g_strdup_printf(
            "{\"execute\":\"query-cpu-model-expansion\",\"arguments\":{\"type\":\"full\","
            "\"model\":{\"name\":\"%s\"}},\"id\":\"%s\"}",
            name, id);

        if (!qemuCapsSessionCommand(sock, pending, transcript, cmd, id, error))
            return FALSE;
    }
    /* QEMU may close right after answering quit */
    qemuCapsSessionCommand(sock, pending, transcript, "{\"execute\":\"quit\",\"id\":\"quit\"}",
                           "quit", &quitErr);
    return TRUE;
}

qemuCaps *
qemuCapsProbe(const char *binary, GError **error)
{
    g_autoptr(qemuCaps) caps = qemuCapsNew();
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GSocket) sock = NULL;
    g_autoptr(GString) transcript = g_string_new(NULL);
    g_autoptr(GHashTable) replies = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) lerr = NULL;
    g_autoptr(GError) sessionErr = NULL;
    int sv[2];
    const char *argv[] = {binary,
                          "-S",
                          "-machine",
                          "none",
                          "-nodefaults",
                          "-display",
                          "none",
                          "-chardev",
                          "socket,id=qmp,fd=3",
                          "-mon",
                          "chardev=qmp,mode=control",
                          NULL};

    g_return_val_if_fail(binary != NULL, NULL);

    caps->binary = g_strdup(binary);
    if (!qemuCapsStatBinary(binary, &caps->binarySize, &caps->binaryMtime, error))
        return NULL;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR, "cannot create a socket pair: %s",
                    g_strerror(errno));
        return NULL;
    }
    if (!(sock = g_socket_new_from_fd(sv[0], &lerr))) {
        close(sv[0]);
        close(sv[1]);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "%s", lerr->message);
        return NULL;
    }
    g_socket_set_timeout(sock, 60);
    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                         G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_set_stdin_file_path(launcher, "/dev/null");
    g_subprocess_launcher_take_fd(launcher, sv[1], 3);
    proc = g_subprocess_launcher_spawnv(launcher, argv, &lerr);
    /* the launcher owns the child's end; dropping it closes our copy */
    g_clear_object(&launcher);
    if (!proc) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "cannot run QEMU binary '%s': %s",
                    binary, lerr->message);
        return NULL;
    }
    g_atomic_int_inc(&qemuCapsProbes);

    if (!qemuCapsRunSession(sock, transcript, &sessionErr))
        g_subprocess_force_exit(proc);
    g_socket_close(sock, NULL);
    if (!g_subprocess_communicate_utf8(proc, NULL, NULL, NULL, &err, &lerr)) {
        g_subprocess_force_exit(proc);
        g_subprocess_wait(proc, NULL, NULL);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "cannot probe QEMU binary '%s': %s",
                    binary, lerr->message);
        return NULL;
    }
    g_subprocess_wait(proc, NULL, NULL);

    if (sessionErr || !(replies = qemuCapsCollectReplies(transcript->str, &lerr))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "cannot probe QEMU binary '%s': QEMU did not complete the QMP handshake "
                    "(%s): %s",
                    binary, sessionErr ? sessionErr->message : lerr->message,
                    err && *err ? g_strstrip(err) : "no error output");
        return NULL;
    }
    if (!qemuCapsProcessVersion(caps, replies, error))
        return NULL;
    qemuCapsProcessMachines(caps, replies);
    qemuCapsProcessSchema(caps, replies);
    qemuCapsProcessTypes(caps, replies);
    qemuCapsProcessDriveOptions(caps, replies);
    qemuCapsProcessMachineOptions(caps, replies);
    qemuCapsProcessDiskProps(caps, replies);
    qemuCapsProcessKVM(caps, replies);
    qemuCapsProcessCPUModels(caps, replies);
    {
        JsonObject *target = qemuCapsReplyReturnObject(replies, "target");

        if (target)
            caps->arch = g_strdup(json_object_get_string_member_with_default(target, "arch", NULL));
    }
    /* Every QEMU new enough to speak QMP with schema introspection has these two. */
    caps->flags[QEMU_CAPS_VNC] = g_hash_table_contains(replies, "schema");
    caps->flags[QEMU_CAPS_SECCOMP_SANDBOX] = g_hash_table_contains(replies, "schema");
    return g_steal_pointer(&caps);
}

/* ---- cache ------------------------------------------------------------------------ */

static char *
qemuCapsCachePath(const char *binary, const char *cacheDir)
{
    g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, binary, -1);
    g_autofree char *name = g_strdup_printf("%s.json", hash);

    return g_build_filename(cacheDir, name, NULL);
}

/*
 * The program doing the lookup, as "FORMAT:SIZE:MTIME" of /proc/self/exe. An entry is only
 * trusted by the build that wrote it: a newer qvirt may detect more flags or detect them
 * differently, and a stale entry would silently build the wrong command line (libvirt keys
 * its cache on its daemon binary for the same reason).
 */
static char *
qemuCapsProberStamp(void)
{
    struct stat sb;

    if (stat("/proc/self/exe", &sb) < 0)
        return g_strdup_printf("%d:unknown", QEMU_CAPS_CACHE_FORMAT);
    return g_strdup_printf("%d:%lld:%lld.%09ld", QEMU_CAPS_CACHE_FORMAT, (long long)sb.st_size,
                           (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
}

qemuCaps *
qemuCapsCacheLookup(const char *binary, const char *cacheDir, GError **error)
{
    g_autofree char *path = NULL;
    g_autoptr(qemuCaps) caps = NULL;
    g_autofree char *json = NULL;
    g_autofree char *prober = qemuCapsProberStamp();
    gint64 size, mtime;

    g_return_val_if_fail(binary != NULL, NULL);

    if (!cacheDir)
        return qemuCapsProbe(binary, error);
    if (!qemuCapsStatBinary(binary, &size, &mtime, error))
        return NULL;

    path = qemuCapsCachePath(binary, cacheDir);
    if (g_file_test(path, G_FILE_TEST_EXISTS)) {
        /* A broken or stale entry is not an error: probe again and overwrite it. */
        caps = qemuCapsLoadFile(path, NULL);
        if (caps && g_strcmp0(caps->binary, binary) == 0 && caps->binarySize == size &&
            caps->binaryMtime == mtime && g_strcmp0(caps->prober, prober) == 0)
            return g_steal_pointer(&caps);
        g_clear_pointer(&caps, qemuCapsFree);
    }

    if (!(caps = qemuCapsProbe(binary, error)))
        return NULL;

    if (g_mkdir_with_parents(cacheDir, 0755) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                    "cannot create capabilities cache directory '%s': %s", cacheDir,
                    g_strerror(errno));
        return NULL;
    }
    caps->prober = g_steal_pointer(&prober);
    json = qemuCapsFormatJSON(caps);
    if (!qvirFileWriteAtomic(path, json, strlen(json), 0644, error))
        return NULL;
    return g_steal_pointer(&caps);
}
