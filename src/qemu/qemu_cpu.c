/*
 * qemu_cpu.c: the guest CPU as the accelerator gave it, written back into the live
 * definition as libvirt 9.0 does after a start (virCPUx86UpdateLive).
 *
 * QEMU reports the CPUID words the vCPU got ("feature-words") and the bits the
 * accelerator could not give ("filtered-features"). libvirt names CPUID bits with its CPU
 * map (x86_features.xml) and knows each model's features (x86_MODEL.xml); the map ships
 * with libvirt's client library, so we read the same files rather than copy the tables.
 * Every map feature the vCPU has beyond the model becomes policy='require', every model
 * feature it lacks policy='disable', and the check becomes 'full'.
 */
#include "qemu/qemu_cpu.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "util/virerror.h"

#define QEMU_CPU_MAP_DIR "/usr/share/libvirt/cpu_map"

enum { QEMU_CPU_EAX, QEMU_CPU_EBX, QEMU_CPU_ECX, QEMU_CPU_EDX, QEMU_CPU_NREGS };

typedef struct {
    guint32 eaxIn;
    guint32 ecxIn;
    guint32 regs[QEMU_CPU_NREGS];
} qemuCPUIDWord;

typedef struct {
    char *name;
    GArray *words; /* qemuCPUIDWord; empty for MSR-only features, which QEMU does not report */
} qemuCPUFeature;

static void
qemuCPUFeatureFree(gpointer data)
{
    qemuCPUFeature *f = data;

    g_free(f->name);
    g_array_unref(f->words);
    g_free(f);
}

static const char *const qemuCPURegNames[QEMU_CPU_NREGS] = {"eax", "ebx", "ecx", "edx"};

static gboolean
qemuCPUParseHex(xmlNodePtr node, const char *attr, guint32 *out)
{
    g_autofree char *str = (char *)xmlGetProp(node, (const xmlChar *)attr);
    char *end = NULL;
    guint64 val;

    *out = 0;
    if (!str)
        return TRUE;
    val = g_ascii_strtoull(str, &end, 0);
    if (!end || *end || val > G_MAXUINT32)
        return FALSE;
    *out = (guint32)val;
    return TRUE;
}

static void
qemuCPUWordsAdd(GArray *words, const qemuCPUIDWord *w)
{
    for (guint i = 0; i < words->len; i++) {
        qemuCPUIDWord *cur = &g_array_index(words, qemuCPUIDWord, i);

        if (cur->eaxIn == w->eaxIn && cur->ecxIn == w->ecxIn) {
            for (int r = 0; r < QEMU_CPU_NREGS; r++)
                cur->regs[r] |= w->regs[r];
            return;
        }
    }
    g_array_append_val(words, *w);
}

/* Every bit of SUB is set in DATA; an empty SUB (an MSR feature) is in nothing. */
static gboolean
qemuCPUWordsSubset(GArray *data, GArray *sub)
{
    if (sub->len == 0)
        return FALSE;
    for (guint i = 0; i < sub->len; i++) {
        const qemuCPUIDWord *s = &g_array_index(sub, qemuCPUIDWord, i);
        const qemuCPUIDWord *d = NULL;

        for (guint j = 0; j < data->len && !d; j++) {
            const qemuCPUIDWord *cand = &g_array_index(data, qemuCPUIDWord, j);

            if (cand->eaxIn == s->eaxIn && cand->ecxIn == s->ecxIn)
                d = cand;
        }
        for (int r = 0; r < QEMU_CPU_NREGS; r++) {
            if (s->regs[r] && (!d || (d->regs[r] & s->regs[r]) != s->regs[r]))
                return FALSE;
        }
    }
    return TRUE;
}

static xmlDocPtr
qemuCPUReadMapFile(const char *dir, const char *file)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);

    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
        return NULL;
    return xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* x86_features.xml in file order, the order libvirt walks its map in. */
static GPtrArray *
qemuCPULoadFeatures(const char *dir)
{
    xmlDocPtr doc = qemuCPUReadMapFile(dir, "x86_features.xml");
    GPtrArray *features;
    xmlNodePtr root;

    if (!doc)
        return NULL;
    features = g_ptr_array_new_with_free_func(qemuCPUFeatureFree);
    root = xmlDocGetRootElement(doc);
    for (xmlNodePtr n = root ? root->children : NULL; n; n = n->next) {
        qemuCPUFeature *f;

        if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, (const xmlChar *)"feature"))
            continue;
        f = g_new0(qemuCPUFeature, 1);
        f->name = (char *)xmlGetProp(n, (const xmlChar *)"name");
        f->words = g_array_new(FALSE, TRUE, sizeof(qemuCPUIDWord));
        for (xmlNodePtr c = n->children; c; c = c->next) {
            qemuCPUIDWord w = {0};
            gboolean ok;

            if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, (const xmlChar *)"cpuid"))
                continue;
            ok = qemuCPUParseHex(c, "eax_in", &w.eaxIn) && qemuCPUParseHex(c, "ecx_in", &w.ecxIn);
            for (int r = 0; r < QEMU_CPU_NREGS && ok; r++)
                ok = qemuCPUParseHex(c, qemuCPURegNames[r], &w.regs[r]);
            if (ok)
                qemuCPUWordsAdd(f->words, &w);
        }
        if (!f->name) {
            qemuCPUFeatureFree(f);
            continue;
        }
        g_ptr_array_add(features, f);
    }
    xmlFreeDoc(doc);
    return features;
}

/* The feature names of MODEL (x86_MODEL.xml), or NULL when libvirt's map lacks it. */
static GHashTable *
qemuCPULoadModel(const char *dir, const char *model)
{
    g_autofree char *file = g_strdup_printf("x86_%s.xml", model);
    xmlDocPtr doc;
    GHashTable *names;
    xmlNodePtr root;

    if (strchr(model, '/') || !(doc = qemuCPUReadMapFile(dir, file)))
        return NULL;
    names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    root = xmlDocGetRootElement(doc);
    for (xmlNodePtr m = root ? root->children : NULL; m; m = m->next) {
        g_autofree char *name = NULL;

        if (m->type != XML_ELEMENT_NODE || !xmlStrEqual(m->name, (const xmlChar *)"model"))
            continue;
        name = (char *)xmlGetProp(m, (const xmlChar *)"name");
        if (g_strcmp0(name, model) != 0)
            continue;
        for (xmlNodePtr f = m->children; f; f = f->next) {
            char *fname;

            if (f->type != XML_ELEMENT_NODE || !xmlStrEqual(f->name, (const xmlChar *)"feature"))
                continue;
            if ((fname = (char *)xmlGetProp(f, (const xmlChar *)"name")))
                g_hash_table_add(names, fname);
        }
    }
    xmlFreeDoc(doc);
    return names;
}

/* QEMU's X86CPUFeatureWordInfo list into CPUID words. */
static GArray *
qemuCPUWordsFromQMP(JsonNode *node, GError **error)
{
    g_autoptr(GArray) words = g_array_new(FALSE, TRUE, sizeof(qemuCPUIDWord));
    JsonArray *arr;

    if (!node || !JSON_NODE_HOLDS_ARRAY(node)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "unexpected reply to qom-get of the vCPU's feature words");
        return NULL;
    }
    arr = json_node_get_array(node);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);
        const char *reg;
        qemuCPUIDWord w = {0};
        int r;

        if (!o || !(reg = json_object_get_string_member_with_default(o, "cpuid-register", NULL)))
            continue;
        for (r = 0; r < QEMU_CPU_NREGS; r++) {
            if (g_ascii_strcasecmp(reg, qemuCPURegNames[r]) == 0)
                break;
        }
        if (r == QEMU_CPU_NREGS)
            continue;
        w.eaxIn = (guint32)json_object_get_int_member_with_default(o, "cpuid-input-eax", 0);
        w.ecxIn = (guint32)json_object_get_int_member_with_default(o, "cpuid-input-ecx", 0);
        w.regs[r] = (guint32)json_object_get_int_member_with_default(o, "features", 0);
        qemuCPUWordsAdd(words, &w);
    }
    return g_steal_pointer(&words);
}

gboolean
qemuCPUUpdateLive(qvirDomainDef *def, JsonNode *featureWords, JsonNode *filteredFeatures,
                  GError **error)
{
    const char *dir = g_getenv("QVIRT_CPU_MAP_DIR");
    g_autoptr(GPtrArray) features = NULL;
    g_autoptr(GHashTable) model = NULL;
    g_autoptr(GArray) enabled = NULL;
    g_autoptr(GArray) disabled = NULL;

    if (g_strcmp0(def->cpuMode, "custom") != 0 || !def->cpuModel)
        return TRUE;
    if (!dir)
        dir = QEMU_CPU_MAP_DIR;
    /* without libvirt's map the CPU stays as written */
    if (!(features = qemuCPULoadFeatures(dir)) || !(model = qemuCPULoadModel(dir, def->cpuModel)))
        return TRUE;
    if (!(enabled = qemuCPUWordsFromQMP(featureWords, error)) ||
        !(disabled = qemuCPUWordsFromQMP(filteredFeatures, error)))
        return FALSE;

    for (guint i = 0; i < features->len; i++) {
        qemuCPUFeature *f = g_ptr_array_index(features, i);
        gboolean expected = g_hash_table_contains(model, f->name);

        if (!expected && qemuCPUWordsSubset(enabled, f->words))
            qvirDomainCPUFeatureUpdate(def, f->name, "require");
        if (qemuCPUWordsSubset(disabled, f->words) ||
            (expected && f->words->len > 0 && !qemuCPUWordsSubset(enabled, f->words)))
            qvirDomainCPUFeatureUpdate(def, f->name, "disable");
    }
    g_free(def->cpuCheck);
    def->cpuCheck = g_strdup("full");
    return TRUE;
}
