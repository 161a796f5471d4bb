/*
 * difftest.c: qvirt against the real libvirt 9.0, document by document.
 *
 * For each domain (generated from a seed by difftestgen.c, or hand-written) it asks both:
 *   inactive  define + dumpxml --inactive (a refusal at define is compared as its error)
 *   native    domxml-to-native qemu-argv of the file as given
 *   live      start --paused + dumpxml (a refusal at start is compared as its error)
 *   argv      the started QEMU's /proc/PID/cmdline, one argument a line
 * libvirt runs as user nobody: qemu:///embed (libvirt-ref.py, one process for the whole
 * batch) for inactive and native, and one qemu:///session daemon started here for live and
 * argv. qvirt is this build's qvirtd under a temporary --root, driven by the real virsh.
 * Heavy work happens once in main(); the GTest cases then only compare, one subtest per
 * domain and document, so every difference is its own "not ok" with a diff.
 *
 * Normalisation, applied the same way to both sides (and nothing else is touched):
 *   - a path inside a daemon's private directories (libvirt's HOME/embed root, qvirtd's
 *     --root) becomes <runtime>/BASENAME: master key, monitor socket, domain dirs, channel
 *     sockets, the HOME and XDG_* of QEMU's environment;
 *   - the monitor chardev's fd=N or path=P becomes <monitor>; other fd=N become fd=N;
 *   - the running domain's id='N' becomes id='ID'; /dev/pts/N becomes /dev/pts/N;
 *   - an autoport VNC port (live XML, and the display in -vnc) becomes <autoport>;
 *   - QEMU's log timestamps (quoted in start errors) become <time>, and libvirt's two
 *     wordings for a QEMU that died at start (which one is a race) become one;
 *   - domxml-to-native's environment prefix (LC_ALL=C PATH=… HOME=…) becomes <environment>:
 *     it depends on the daemon's privilege (libvirt runs as nobody, qvirtd as root);
 *   - for a hand-written document without <uuid> (or <mac>), the generated value.
 * Image paths are shared by both sides and compared as they are.
 *
 * Usage (see tests/difftest/README):
 *   difftest [--tap]                      the CI corpus (seeds 1..80 and the hand-written ones)
 *   difftest --report --seeds 1-300       summary per document, then every diff
 *   options: --seeds A-B, --no-hand, --no-live, --keep (leave the temp dir), --verbose
 */
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <json-glib/json-glib.h>

#include "../daemontestutils.h"
#include "difftestgen.h"

typedef enum {
    KIND_INACTIVE,
    KIND_NATIVE,
    KIND_LIVE,
    KIND_ARGV,
    KIND_LAST,
} Kind;

static const char *const kindNames[] = {"inactive", "native", "live", "argv"};
static const char *const kindTitles[] = {"inactive XML", "domxml-to-native argv", "live XML",
                                         "started QEMU argv"};

typedef struct {
    gboolean set;   /* the side produced something for this document */
    gboolean error; /* TEXT is "error: MESSAGE" */
    int code;       /* with ERROR at define or domxml-to-native: the libvirt error code */
    char *text;
} Result;

typedef struct {
    char *name;
    char *file;
    char *source;     /* a hand-written document's file in the source tree */
    gboolean noLive;  /* not started: a hand-written domain on a host block device */
    gboolean genUuid; /* the input has no <uuid>: each daemon makes one up */
    gboolean genMac;  /* an <interface> without <mac> */
    gboolean hasNic;  /* domxml-to-native is not compared: see applies() */
    Result lv[KIND_LAST];
    Result qv[KIND_LAST];
    gboolean lvRefused; /* refused at define: nothing was started */
    gboolean qvRefused;
} Doc;

typedef struct {
    Doc *doc;
    Kind kind;
} Case;

static struct {
    char *dir;     /* everything, owned by nobody, 0755 */
    char *images;  /* shared by both sides */
    char *xmlDir;  /* the documents */
    char *lvHome;  /* libvirt's HOME (and XDG dirs, embed root) */
    char *qvRoot;  /* qvirtd --root */
    char *diffDir; /* normalised outputs, for diff -u */
    uid_t uid;     /* nobody */
    gid_t gid;
    GPid libvirtd; /* libvirt-ref.py's reaper, libvirtd's parent; its process group */
    gboolean keep;
    gboolean verbose;
    gboolean live; /* start the domains (live XML, argv) */
} env;

static GPtrArray *docs;

/* ---- processes ------------------------------------------------------------------------ */

static void
childAsNobody(gpointer data)
{
    setpgid(0, 0);
    if (setgroups(0, NULL) < 0 || setgid(env.gid) < 0 || setuid(env.uid) < 0)
        _exit(127);
}

static char **
libvirtEnviron(void)
{
    g_autofree char *run = g_build_filename(env.lvHome, "r", NULL);
    g_autofree char *cfg = g_build_filename(env.lvHome, "c", NULL);
    g_autofree char *cache = g_build_filename(env.lvHome, "k", NULL);
    char **e = NULL;

    e = g_environ_setenv(e, "PATH", "/usr/sbin:/usr/bin:/sbin:/bin", TRUE);
    e = g_environ_setenv(e, "LC_ALL", "C", TRUE);
    if (env.verbose)
        e = g_environ_setenv(e, "DIFFTEST_VERBOSE", "1", TRUE);
    e = g_environ_setenv(e, "HOME", env.lvHome, TRUE);
    e = g_environ_setenv(e, "XDG_RUNTIME_DIR", run, TRUE);
    e = g_environ_setenv(e, "XDG_CONFIG_HOME", cfg, TRUE);
    e = g_environ_setenv(e, "XDG_CACHE_HOME", cache, TRUE);
    return e;
}

static void
cleanupAll(void)
{
    if (!env.dir)
        return;
    if (daemonEnv.pid)
        kill(daemonEnv.pid, SIGKILL);
    daemonEnv.pid = 0;
    if (env.libvirtd)
        kill(-env.libvirtd, SIGKILL);
    env.libvirtd = 0;
    /* every QEMU either side started, and libvirt-ref.py, name a file under the directory */
    daemonKillUnderRoot(env.dir);
    if (!env.keep)
        qvirTestTempDirRemove(env.dir);
    else
        g_printerr("difftest: kept %s\n", env.dir);
    g_clear_pointer(&env.dir, g_free);
}

static void
onFatalSignal(int sig)
{
    cleanupAll();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
mkdirOwned(const char *path, int mode, gboolean nobody)
{
    g_assert_cmpint(g_mkdir_with_parents(path, mode), ==, 0);
    g_assert_cmpint(chmod(path, mode), ==, 0);
    if (nobody)
        g_assert_cmpint(chown(path, env.uid, env.gid), ==, 0);
}

/* A run killed with SIGKILL cannot clean up after itself: the next run removes what such a
 * run left (its directory names a pid in owner.pid that no longer runs), QEMUs included. */
static void
sweepStaleDirs(void)
{
    g_autoptr(GDir) dir = g_dir_open("/var/tmp", 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autofree char *pidFile = NULL;
        g_autofree char *pidText = NULL;
        g_autofree char *procPath = NULL;

        if (!g_str_has_prefix(name, "qvdt-"))
            continue;
        path = g_build_filename("/var/tmp", name, NULL);
        pidFile = g_build_filename(path, "owner.pid", NULL);
        if (!g_file_get_contents(pidFile, &pidText, NULL, NULL))
            continue;
        procPath = g_strdup_printf("/proc/%d", atoi(pidText));
        if (atoi(pidText) <= 0 || g_file_test(procPath, G_FILE_TEST_EXISTS))
            continue;
        daemonKillUnderRoot(path);
        qvirTestTempDirRemove(path);
    }
}

static void
setupDirs(void)
{
    struct passwd *pw = getpwnam("nobody");
    char tmpl[] = "/var/tmp/qvdt-XXXXXX";

    g_assert_nonnull(pw);
    env.uid = pw->pw_uid;
    env.gid = pw->pw_gid;
    g_assert_nonnull(g_mkdtemp(tmpl));
    env.dir = g_strdup(tmpl);
    mkdirOwned(env.dir, 0755, TRUE);
    {
        g_autofree char *pidFile = g_build_filename(env.dir, "owner.pid", NULL);
        g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());

        g_assert_true(g_file_set_contents(pidFile, pid, -1, NULL));
    }
    env.images = g_build_filename(env.dir, "images", NULL);
    env.xmlDir = g_build_filename(env.dir, "xml", NULL);
    /* short names: libvirt's channel sockets live under its XDG config dir, and a UNIX
     * socket path must fit in 108 bytes */
    env.lvHome = g_build_filename(env.dir, "l", NULL);
    env.qvRoot = g_build_filename(env.dir, "q", NULL);
    env.diffDir = g_build_filename(env.dir, "diff", NULL);
    mkdirOwned(env.images, 0755, TRUE);
    mkdirOwned(env.xmlDir, 0755, TRUE);
    mkdirOwned(env.lvHome, 0700, TRUE);
    /* searchable: a root qvirtd runs QEMU as its unprivileged user, which must reach the
     * per-domain directories under the root */
    mkdirOwned(env.qvRoot, 0755, FALSE);
    mkdirOwned(env.diffDir, 0700, FALSE);
    {
        g_autofree char *run = g_build_filename(env.lvHome, "r", NULL);
        mkdirOwned(run, 0700, TRUE);
    }

    signal(SIGABRT, onFatalSignal);
    signal(SIGTRAP, onFatalSignal);
    signal(SIGTERM, onFatalSignal);
    signal(SIGINT, onFatalSignal);
    signal(SIGSEGV, onFatalSignal);
    signal(SIGBUS, onFatalSignal);
    /* `difftest --report | head` */
    signal(SIGPIPE, onFatalSignal);
    signal(SIGHUP, onFatalSignal);
    atexit(cleanupAll);
}

/* chown -R nobody: the images, so libvirt's QEMU (run as nobody) can open them read-write. */
static void
chownTree(const char *path)
{
    g_autofree char *owner = g_strdup_printf("%u:%u", env.uid, env.gid);
    const char *argv[] = {"chown", "-R", owner, path, NULL};

    qvirTestRunOk(argv);
}

/* ---- documents -------------------------------------------------------------------------- */

static Doc *
docAdd(const char *name, const char *xml, gboolean hand)
{
    Doc *doc = g_new0(Doc, 1);
    g_autofree char *base = g_strdup_printf("%s.xml", name);

    doc->name = g_strdup(name);
    doc->file = g_build_filename(env.xmlDir, base, NULL);
    doc->noLive = hand && strstr(xml, "type='block'") != NULL;
    doc->genUuid = !strstr(xml, "<uuid>");
    doc->hasNic = strstr(xml, "<interface") != NULL;
    doc->genMac = doc->hasNic && !strstr(xml, "<mac ");
    g_assert_true(g_file_set_contents(doc->file, xml, -1, NULL));
    g_assert_cmpint(chmod(doc->file, 0644), ==, 0);
    g_ptr_array_add(docs, doc);
    return doc;
}

/* The hand-written documents name images under /var/lib/qvirt/images: make each one in
 * images/NAME (qcow2 for *.qcow2, raw otherwise; a chain the XML writes out is taken from the
 * XML, not from the headers) and point the document there, so that it can start. */
static char *
handImages(const char *xml, const char *name)
{
    g_autoptr(GRegex) re = g_regex_new("/var/lib/qvirt/images/([^'/]+)", 0, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;
    g_autofree char *dir = g_build_filename(env.images, name, NULL);
    g_autofree char *repl = g_strdup_printf("%s/\\1", dir);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_regex_match(re, xml, 0, &m);
    while (g_match_info_matches(m)) {
        g_autofree char *base = g_match_info_fetch(m, 1);
        g_autofree char *img = g_build_filename(dir, base, NULL);
        const char *fmt = g_str_has_suffix(base, ".qcow2") ? "qcow2" : "raw";
        const char *argv[] = {"qemu-img", "create", "-q", "-f", fmt, img, "1M", NULL};

        if (!g_file_test(img, G_FILE_TEST_EXISTS))
            qvirTestRunOk(argv);
        g_match_info_next(m, NULL);
    }
    return g_regex_replace(re, xml, -1, 0, repl, 0, NULL);
}

/* A hand-written document, renamed NAME so that documents never share a name. */
static void
docAddHand(const char *path, const char *name)
{
    g_autofree char *xml = NULL;
    g_autoptr(GRegex) re = g_regex_new("<name>[^<]*</name>", 0, 0, NULL);
    g_autofree char *repl = g_strdup_printf("<name>%s</name>", name);
    g_autofree char *renamed = NULL;
    g_autofree char *relocated = NULL;

    if (!g_file_get_contents(path, &xml, NULL, NULL))
        g_error("cannot read %s", path);
    renamed = g_regex_replace_literal(re, xml, -1, 0, repl, G_REGEX_MATCH_DEFAULT, NULL);
    relocated = handImages(renamed, name);
    docAdd(name, relocated, TRUE)->source = g_strdup(path);
}

static const char *const handExamples[] = {"demo-q35", "demo-pc", "demo-chain"};
static const char *const handXml2xml[] = {
    "cdrom-empty",
    "cdrom-media",
    "controller-order",
    "cpu-custom-defaults",
    "disk-bus-ide",
    "disk-bus-sata",
    "disk-bus-scsi-lsilogic",
    "disk-bus-scsi-virtio",
    "disk-bus-usb",
    "disk-bus-virtio",
    "disk-cache-none",
    "disk-discard-detect-zeroes",
    "disk-bus-usb-iotune",
};

static void
addHandDocs(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(handExamples); i++) {
        g_autofree char *rel = g_strdup_printf("../examples/%s.xml", handExamples[i]);
        g_autofree char *path = qvirTestSrcPath(rel);
        g_autofree char *name = g_strdup_printf("hand-%s", handExamples[i]);

        docAddHand(path, name);
    }
    for (guint i = 0; i < G_N_ELEMENTS(handXml2xml); i++) {
        g_autofree char *rel = g_strdup_printf("qemuxml2xmldata/%s.xml", handXml2xml[i]);
        g_autofree char *path = qvirTestSrcPath(rel);
        g_autofree char *name = g_strdup_printf("hand-%s", handXml2xml[i]);

        docAddHand(path, name);
    }
}

static void
addGeneratedDocs(guint64 first, guint64 last)
{
    for (guint64 seed = first; seed <= last; seed++) {
        g_autofree char *name = g_strdup_printf("gen-%04" G_GUINT64_FORMAT, seed);
        g_autofree char *xml = difftestGenerate(seed, name, env.images);

        docAdd(name, xml, FALSE);
    }
    chownTree(env.images);
}

static void
resultSet(Result *r, gboolean error, const char *text)
{
    g_free(r->text);
    r->set = TRUE;
    r->error = error;
    r->code = -1;
    r->text = error ? g_strdup_printf("error: %s", text) : g_strdup(text);
}

/* ---- libvirt 9.0 ------------------------------------------------------------------------ */

static char *
writeJobs(const char *file, gboolean (*want)(const Doc *doc))
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    char *path = g_build_filename(env.dir, file, NULL);

    json_builder_begin_array(b);
    for (guint i = 0; i < docs->len; i++) {
        Doc *doc = docs->pdata[i];

        if (want && !want(doc))
            continue;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, doc->name);
        json_builder_set_member_name(b, "file");
        json_builder_add_string_value(b, doc->file);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    g_assert_true(json_generator_to_file(gen, path, NULL));
    g_assert_cmpint(chmod(path, 0644), ==, 0);
    return path;
}

/* Run libvirt-ref.py (as nobody, or as root for qvirtd's root-only socket); returns the
 * parsed OUT.json object. */
static JsonParser *
runLibvirtRef(const char *mode, const char *where, const char *jobs, gboolean asNobody)
{
    g_autofree char *script = qvirTestSrcPath("difftest/libvirt-ref.py");
    g_autofree char *out = g_strdup_printf("%s.out.json", jobs);
    const char *argv[] = {"/usr/bin/python3", script, mode, where, jobs, out, NULL};
    g_auto(GStrv) e = libvirtEnviron();
    g_autofree char *stdoutText = NULL;
    g_autofree char *stderrText = NULL;
    g_autoptr(GError) err = NULL;
    JsonParser *parser = json_parser_new();
    int status = 0;

    if (!g_spawn_sync(env.dir, (char **)argv, e, G_SPAWN_DEFAULT, asNobody ? childAsNobody : NULL,
                      NULL, &stdoutText, &stderrText, &status, &err))
        g_error("cannot run libvirt-ref.py: %s", err->message);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        g_error("libvirt-ref.py %s failed: %s", mode, stderrText);
    if (env.verbose)
        g_printerr("%s", stderrText);
    if (!json_parser_load_from_file(parser, out, &err))
        g_error("libvirt-ref.py %s: %s", mode, err->message);
    return parser;
}

/* RES[KEY] is {"ok": X} or {"error": {...}}; fill R (argv arrays become one arg a line). */
static gboolean
takeResult(JsonObject *res, const char *key, Result *r)
{
    JsonObject *o;

    if (!json_object_has_member(res, key))
        return FALSE;
    o = json_object_get_object_member(res, key);
    if (json_object_has_member(o, "error")) {
        JsonObject *e = json_object_get_object_member(o, "error");

        resultSet(r, TRUE, json_object_get_string_member(e, "message"));
        r->code = (int)json_object_get_int_member(e, "code");
        return TRUE;
    }
    if (r == NULL)
        return TRUE;
    if (JSON_NODE_HOLDS_ARRAY(json_object_get_member(o, "ok"))) {
        JsonArray *a = json_object_get_array_member(o, "ok");
        g_autoptr(GString) s = g_string_new(NULL);

        for (guint i = 0; i < json_array_get_length(a); i++)
            g_string_append_printf(s, "%s\n", json_array_get_string_element(a, i));
        resultSet(r, FALSE, s->str);
    } else {
        resultSet(r, FALSE, json_object_get_string_member(o, "ok"));
    }
    return TRUE;
}

static gboolean
wantLive(const Doc *doc)
{
    return !doc->noLive;
}

static void
runLibvirtEmbed(void)
{
    g_autofree char *jobs = writeJobs("jobs-embed.json", NULL);
    g_autofree char *root = g_build_filename(env.lvHome, "embed", NULL);
    g_autoptr(JsonParser) p = runLibvirtRef("embed", root, jobs, TRUE);
    JsonObject *all = json_node_get_object(json_parser_get_root(p));

    for (guint i = 0; i < docs->len; i++) {
        Doc *doc = docs->pdata[i];
        JsonObject *res = json_object_get_object_member(all, doc->name);
        Result dummy = {0};

        if (takeResult(res, "define", &dummy) && dummy.error) {
            doc->lv[KIND_INACTIVE] = dummy;
            doc->lvRefused = TRUE;
            if (!doc->noLive && env.live) {
                /* what a start would have said: the same refusal */
                resultSet(&doc->lv[KIND_LIVE], TRUE, dummy.text + strlen("error: "));
                resultSet(&doc->lv[KIND_ARGV], TRUE, dummy.text + strlen("error: "));
            }
        } else {
            g_free(dummy.text);
            takeResult(res, "inactive", &doc->lv[KIND_INACTIVE]);
        }
        takeResult(res, "native", &doc->lv[KIND_NATIVE]);
    }
}

static void
startLibvirtd(void)
{
    g_autofree char *script = qvirTestSrcPath("difftest/libvirt-ref.py");
    const char *argv[] = {"/usr/bin/python3", script, "reaper", "/usr/sbin/libvirtd", NULL};
    g_auto(GStrv) e = libvirtEnviron();
    g_autofree char *sock = g_build_filename(env.lvHome, "r", "libvirt", "libvirt-sock", NULL);
    g_autoptr(GError) err = NULL;
    gint64 deadline = g_get_monotonic_time() + 60 * G_TIME_SPAN_SECOND;

    if (!g_spawn_async(env.lvHome, (char **)argv, e,
                       G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                           G_SPAWN_STDERR_TO_DEV_NULL,
                       childAsNobody, NULL, &env.libvirtd, &err))
        g_error("cannot start libvirtd: %s", err->message);
    while (!g_file_test(sock, G_FILE_TEST_EXISTS)) {
        if (g_get_monotonic_time() > deadline)
            g_error("libvirtd did not create %s", sock);
        if (waitpid(env.libvirtd, NULL, WNOHANG) == env.libvirtd)
            g_error("libvirtd exited at start");
        g_usleep(20000);
    }
}

static void
stopLibvirtd(void)
{
    if (!env.libvirtd)
        return;
    /* the reaper and libvirtd share the process group */
    kill(-env.libvirtd, SIGTERM);
    for (int i = 0; i < 500 && waitpid(env.libvirtd, NULL, WNOHANG) != env.libvirtd; i++)
        g_usleep(10000);
    kill(-env.libvirtd, SIGKILL);
    waitpid(env.libvirtd, NULL, WNOHANG);
    env.libvirtd = 0;
}

static void
runLibvirtSession(void)
{
    g_autofree char *jobs = writeJobs("jobs-session.json", wantLive);
    g_autofree char *run = g_build_filename(env.lvHome, "r", NULL);
    g_autoptr(JsonParser) p = NULL;
    JsonObject *all;

    startLibvirtd();
    p = runLibvirtRef("session", run, jobs, TRUE);
    stopLibvirtd();
    all = json_node_get_object(json_parser_get_root(p));
    for (guint i = 0; i < docs->len; i++) {
        Doc *doc = docs->pdata[i];
        JsonObject *res;
        Result def = {0};

        if (doc->noLive)
            continue;
        res = json_object_get_object_member(all, doc->name);
        if (takeResult(res, "define", &def) && def.error) {
            /* the embedded driver saw the same refusal; nothing was started */
            g_free(def.text);
            continue;
        }
        g_free(def.text);
        if (takeResult(res, "start", &doc->lv[KIND_LIVE]) && doc->lv[KIND_LIVE].error) {
            resultSet(&doc->lv[KIND_ARGV], TRUE, doc->lv[KIND_LIVE].text + strlen("error: "));
            continue;
        }
        takeResult(res, "live", &doc->lv[KIND_LIVE]);
        takeResult(res, "argv", &doc->lv[KIND_ARGV]);
    }
}

/* ---- qvirt ------------------------------------------------------------------------------ */

typedef struct {
    int rc;
    char *out;
    char *err;
} Virsh;

static void
virshClear(Virsh *v)
{
    g_clear_pointer(&v->out, g_free);
    g_clear_pointer(&v->err, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Virsh, virshClear);

static void
virshRun(Virsh *v, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_auto(GStrv) e = g_get_environ();
    g_autoptr(GError) err = NULL;
    int status = 0;

    g_ptr_array_add(argv, (char *)"virsh");
    g_ptr_array_add(argv, (char *)"-q");
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, daemonEnv.uri);
    for (; *args; args++)
        g_ptr_array_add(argv, (char *)*args);
    g_ptr_array_add(argv, NULL);
    e = g_environ_setenv(e, "LC_ALL", "C", TRUE);
    e = g_environ_unsetenv(e, "LIBVIRT_DEFAULT_URI");
    if (!g_spawn_sync(NULL, (char **)argv->pdata, e, G_SPAWN_SEARCH_PATH, NULL, NULL, &v->out,
                      &v->err, &status, &err))
        g_error("cannot run virsh: %s", err->message);
    v->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define VIRSH(v, ...) virshRun((v), (const char *const[]){__VA_ARGS__, NULL})

/* virsh prints "error: Failed to define domain from F" and then "error: MESSAGE": keep
 * the libvirt error's own message, as libvirt-ref.py records it. */
static void
virshTake(Virsh *v, Result *r)
{
    const char *msg = v->err ? v->err : "";
    const char *last = NULL;

    if (v->rc == 0) {
        resultSet(r, FALSE, v->out);
        return;
    }
    for (const char *p = msg; (p = strstr(p, "error: ")); p++) {
        if (p == msg || p[-1] == '\n')
            last = p;
    }
    if (last) {
        g_autofree char *m = g_strdup(last + strlen("error: "));

        resultSet(r, TRUE, g_strstrip(m));
    } else {
        g_autofree char *m = g_strdup_printf("virsh exited %d: %s", v->rc, msg);

        resultSet(r, TRUE, m);
    }
}

static char *
procCmdline(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", pid);
    g_autofree char *raw = NULL;
    gsize len = 0;
    GString *s = g_string_new(NULL);

    if (!g_file_get_contents(path, &raw, &len, NULL))
        return g_string_free(s, FALSE);
    for (gsize i = 0; i < len; i++)
        g_string_append_c(s, raw[i] ? raw[i] : '\n');
    return g_string_free(s, FALSE);
}

static void
runQvirtDoc(Doc *doc, gboolean live)
{
    g_auto(Virsh) def = {0};
    g_auto(Virsh) xml = {0};
    g_auto(Virsh) native = {0};

    VIRSH(&native, "domxml-to-native", "qemu-argv", doc->file);
    virshTake(&native, &doc->qv[KIND_NATIVE]);
    VIRSH(&def, "define", doc->file);
    if (def.rc != 0) {
        Result *r = &doc->qv[KIND_INACTIVE];

        virshTake(&def, r);
        doc->qvRefused = TRUE;
        if (live && !doc->noLive) {
            resultSet(&doc->qv[KIND_LIVE], TRUE, r->text + strlen("error: "));
            resultSet(&doc->qv[KIND_ARGV], TRUE, r->text + strlen("error: "));
        }
        return;
    }
    VIRSH(&xml, "dumpxml", "--inactive", doc->name);
    virshTake(&xml, &doc->qv[KIND_INACTIVE]);
    if (live && !doc->noLive) {
        g_auto(Virsh) start = {0};

        VIRSH(&start, "start", "--paused", doc->name);
        if (start.rc != 0) {
            virshTake(&start, &doc->qv[KIND_LIVE]);
            resultSet(&doc->qv[KIND_ARGV], TRUE, doc->qv[KIND_LIVE].text + strlen("error: "));
        } else {
            g_auto(Virsh) dump = {0};
            g_auto(Virsh) destroy = {0};
            g_autofree char *argv = NULL;

            VIRSH(&dump, "dumpxml", doc->name);
            virshTake(&dump, &doc->qv[KIND_LIVE]);
            argv = procCmdline(daemonDomainPid(doc->name));
            resultSet(&doc->qv[KIND_ARGV], FALSE, argv);
            VIRSH(&destroy, "destroy", doc->name);
        }
    }
    {
        g_auto(Virsh) undef = {0};

        VIRSH(&undef, "undefine", doc->name);
    }
}

static gboolean
wantQvirtRefusal(const Doc *doc)
{
    return doc->qv[KIND_INACTIVE].error || doc->qv[KIND_NATIVE].error;
}

/* virsh prints an error's message, not its code: ask qvirtd again through python3-libvirt,
 * for the documents it refused at define or domxml-to-native. */
static void
qvirtRefusalCodes(void)
{
    g_autofree char *jobs = writeJobs("jobs-qvirt-codes.json", wantQvirtRefusal);
    g_autoptr(JsonParser) p = runLibvirtRef("uri", daemonEnv.uri, jobs, FALSE);
    JsonObject *all = json_node_get_object(json_parser_get_root(p));

    for (guint i = 0; i < docs->len; i++) {
        Doc *doc = docs->pdata[i];
        JsonObject *res;
        Result r = {0};

        if (!wantQvirtRefusal(doc))
            continue;
        res = json_object_get_object_member(all, doc->name);
        if (doc->qv[KIND_INACTIVE].error && takeResult(res, "define", &r) && r.error)
            doc->qv[KIND_INACTIVE].code = r.code;
        g_clear_pointer(&r.text, g_free);
        if (doc->qv[KIND_NATIVE].error && takeResult(res, "native", &r) && r.error)
            doc->qv[KIND_NATIVE].code = r.code;
        g_clear_pointer(&r.text, g_free);
        if (env.verbose)
            g_printerr("difftest: %s refused by qvirt: define code %d (libvirt %d), "
                       "domxml-to-native code %d (libvirt %d)\n",
                       doc->name, doc->qv[KIND_INACTIVE].code, doc->lv[KIND_INACTIVE].code,
                       doc->qv[KIND_NATIVE].code, doc->lv[KIND_NATIVE].code);
    }
}

/* How qvirtd ended: "exit 0" after SIGTERM is right (under ASan a leak makes it 1). */
static char *qvirtdExit;

static void
qvirtdStop(void)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_TIME_SPAN_SECOND;
    int status = 0;
    pid_t r = 0;

    kill(daemonEnv.pid, SIGTERM);
    while (g_get_monotonic_time() < deadline && (r = waitpid(daemonEnv.pid, &status, WNOHANG)) == 0)
        g_usleep(10000);
    if (r != daemonEnv.pid) {
        kill(daemonEnv.pid, SIGKILL);
        waitpid(daemonEnv.pid, &status, 0);
        qvirtdExit = g_strdup("did not exit within 60 s of SIGTERM");
    } else if (WIFEXITED(status)) {
        qvirtdExit = g_strdup_printf("exit %d", WEXITSTATUS(status));
    } else {
        qvirtdExit = g_strdup_printf("killed by signal %d", WTERMSIG(status));
    }
    daemonEnv.pid = 0;
}

static void
testQvirtdExit(void)
{
    g_assert_cmpstr(qvirtdExit, ==, "exit 0");
}

static void
runQvirt(gboolean live)
{
    daemonEnv.root = g_strdup(env.qvRoot);
    daemonEnv.socket = g_build_filename(env.qvRoot, "run", "qvirt-sock", NULL);
    daemonEnv.uri = g_strdup_printf("qemu:///system?socket=%s", daemonEnv.socket);
    /* QEMU's environment holds the daemon's PATH; give it libvirt's. */
    g_setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", TRUE);
    daemonStart(FALSE);
    for (guint i = 0; i < docs->len; i++)
        runQvirtDoc(docs->pdata[i], live);
    qvirtRefusalCodes();
    qvirtdStop();
    g_clear_pointer(&daemonEnv.root, g_free);
}

/* ---- normalisation and comparison ------------------------------------------------------- */

/* Paths under a daemon's private directory ROOT become <runtime>/BASENAME. */
static char *
normaliseRoot(const char *text, const char *root)
{
    GString *s = g_string_new(NULL);
    size_t rootLen = strlen(root);
    const char *p = text;
    const char *hit;

    while ((hit = strstr(p, root))) {
        const char *end = hit + rootLen;
        const char *base = end;

        if (*end != '/' && *end != '\0' && !strchr(" '\",\n\\:", *end)) {
            g_string_append_len(s, p, end - p);
            p = end;
            continue;
        }
        while (*end && !strchr(" '\",\n\\:", *end)) {
            if (*end == '/')
                base = end + 1;
            end++;
        }
        g_string_append_len(s, p, hit - p);
        g_string_append(s, "<runtime>");
        if (base < end && base > hit + rootLen) {
            g_string_append_c(s, '/');
            g_string_append_len(s, base, end - base);
        }
        p = end;
    }
    g_string_append(s, p);
    return g_string_free(s, FALSE);
}

static char *
regexReplace(const char *text, const char *pattern, const char *repl)
{
    g_autoptr(GRegex) re = g_regex_new(pattern, G_REGEX_MULTILINE, 0, NULL);

    g_assert_nonnull(re);
    return g_regex_replace(re, text, -1, 0, repl, 0, NULL);
}

static char *
normalise(const Doc *doc, Kind kind, const char *text)
{
    static const char *const rules[][2] = {
        {"^(<domain type='[a-z]+') id='[0-9]+'", "\\1 id='ID'"},
        {"/dev/pts/[0-9]+", "/dev/pts/N"},
        {"id=charmonitor,(fd=[0-9]+|path=[^,\n ]*)", "id=charmonitor,<monitor>"},
        {"\\bfd=[0-9]+", "fd=N"},
        /* a VNC port chosen at start (autoport): whatever was free on the host */
        {"(<graphics type='vnc' port=')[0-9]+(' autoport='yes')", "\\1<autoport>\\2"},
        {"^(-vnc\n[^:\n]*):[0-9]+", "\\1:<autoport>"},
        /* libvirt words a QEMU that died at start in two ways, depending only on whether
         * the monitor was connected yet (a race): one wording for both */
        {"(qemu unexpectedly closed the monitor|process exited while connecting to monitor): ",
         "<qemu exited at start>: "},
        /* QEMU's log timestamps, quoted in errors about a QEMU that failed to start */
        {"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z", "<time>"},
    };
    g_autofree char *a = normaliseRoot(text, env.lvHome);
    char *b = normaliseRoot(a, env.qvRoot);

    for (guint i = 0; i < G_N_ELEMENTS(rules); i++) {
        char *next = regexReplace(b, rules[i][0], rules[i][1]);

        g_free(b);
        b = next;
    }
    if (doc->genUuid) {
        char *next = regexReplace(b, "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                  "<uuid>");
        g_free(b);
        b = next;
    }
    if (doc->genMac) {
        char *next = regexReplace(b, "52:54:00(:[0-9a-f]{2}){3}", "<mac>");
        g_free(b);
        b = next;
    }
    if (kind == KIND_NATIVE) {
        /* QEMU's environment depends on the daemon's privilege: libvirt as nobody passes its
         * own HOME and sets XDG_CACHE_HOME only; as root (like qvirtd) it sets HOME, USER,
         * LOGNAME and the three XDG dirs. Not comparable here. */
        char *next = regexReplace(b, "^LC_ALL=[^ ]*( [A-Z_]+=[^ ]*)* ", "<environment> ");

        g_free(b);
        b = next;
        /* one option a line, so that diffs are readable (both sides alike) */
        next = regexReplace(b, " (-[a-z])", "\n\\1");
        g_free(b);
        b = next;
    }
    return b;
}

/* What is compared: the document, or a refusal's message and (at define and
 * domxml-to-native, where both sides' codes are known) its libvirt error code. */
static char *
resultText(const Result *r, Kind kind, const char *none)
{
    if (!r->set)
        return g_strdup(none);
    if (r->error && (kind == KIND_INACTIVE || kind == KIND_NATIVE))
        return g_strdup_printf("%s\n(error code %d)\n", r->text, r->code);
    return g_strdup(r->text);
}

/* unified diff of the two normalised texts; NULL when identical */
static char *
compare(const Doc *doc, Kind kind)
{
    const Result *lv = &doc->lv[kind];
    const Result *qv = &doc->qv[kind];
    g_autofree char *ta = resultText(lv, kind, "(libvirt produced nothing)\n");
    g_autofree char *tb = resultText(qv, kind, "(qvirt produced nothing)\n");
    g_autofree char *a = normalise(doc, kind, ta);
    g_autofree char *b = normalise(doc, kind, tb);
    g_autofree char *fa = NULL;
    g_autofree char *fb = NULL;
    g_autofree char *out = NULL;
    const char *argv[] = {"diff",  "-u", "--label", "libvirt-9.0", "--label",
                          "qvirt", NULL, NULL,      NULL};

    if (strcmp(a, b) == 0)
        return NULL;
    fa = g_strdup_printf("%s/%s.%s.libvirt", env.diffDir, doc->name, kindNames[kind]);
    fb = g_strdup_printf("%s/%s.%s.qvirt", env.diffDir, doc->name, kindNames[kind]);
    g_assert_true(g_file_set_contents(fa, a, -1, NULL));
    g_assert_true(g_file_set_contents(fb, b, -1, NULL));
    argv[6] = fa;
    argv[7] = fb;
    qvirTestRun(argv, &out, NULL);
    return g_steal_pointer(&out);
}

/* Is there anything to compare for this document? */
static gboolean
applies(const Doc *doc, Kind kind)
{
    /* libvirt's domxml-to-native turns every NIC into a tap device that it creates on the
     * host; as nobody that fails ("Unable to create tap device vnetN"), as root it would
     * create real host devices. The started QEMU's argv compares NICs instead. */
    if (kind == KIND_NATIVE)
        return !doc->hasNic;
    if (kind == KIND_INACTIVE)
        return TRUE;
    /* both refused at define: the inactive subtest compares that refusal */
    if (doc->lvRefused && doc->qvRefused)
        return FALSE;
    return doc->lv[kind].set || doc->qv[kind].set;
}

static void
testCompare(gconstpointer data)
{
    const Case *c = data;
    g_autofree char *diff = compare(c->doc, c->kind);

    if (diff) {
        g_auto(GStrv) lines = g_strsplit(diff, "\n", -1);

        /* the temporary directory is gone when the log is read: say how to get it back */
        if (g_str_has_prefix(c->doc->name, "gen-"))
            g_test_message("%s differs from libvirt 9.0; to see the input: difftest --report "
                           "--keep --no-hand --seeds %s-%s",
                           kindTitles[c->kind], c->doc->name + 4, c->doc->name + 4);
        else
            g_test_message("%s differs from libvirt 9.0 (input: %s, renamed %s):",
                           kindTitles[c->kind], c->doc->source, c->doc->name);
        for (guint i = 0; lines[i]; i++)
            g_test_message("%s", lines[i]);
        g_test_fail();
    }
}

/* ---- report mode ------------------------------------------------------------------------ */

static gint
countCompare(gconstpointer a, gconstpointer b, gpointer counts)
{
    guint ca = GPOINTER_TO_UINT(g_hash_table_lookup(counts, *(const char *const *)a));
    guint cb = GPOINTER_TO_UINT(g_hash_table_lookup(counts, *(const char *const *)b));

    if (ca != cb)
        return ca > cb ? -1 : 1;
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Count each changed line of DIFF (once per document), with the document's own name and
 * image directory blanked, so the same difference in many documents adds up. */
static void
countDiffLines(GHashTable *counts, const Doc *doc, Kind kind, const char *diff)
{
    g_auto(GStrv) lines = NULL;
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *mixed = NULL;

    /* one side refused, the other did not: count the refusal, not the whole document */
    if (doc->lv[kind].error && !doc->qv[kind].error)
        mixed = g_strdup_printf("only libvirt refused: %s", doc->lv[kind].text);
    else if (doc->qv[kind].error && !doc->lv[kind].error)
        mixed = g_strdup_printf("only qvirt refused: %s", doc->qv[kind].text);
    if (mixed) {
        g_autofree char *n = normalise(doc, kind, mixed);
        g_autofree char *key = regexReplace(n, "(gen|hand)-[0-9a-z-]+", "NAME");

        g_autofree char *line = g_strdup_printf("+%s", key);

        lines = g_strsplit(line, "\n", 2);
    } else {
        lines = g_strsplit(diff, "\n", -1);
    }

    for (guint i = 0; lines[i]; i++) {
        char *key;
        char *tmp;

        if ((lines[i][0] != '-' && lines[i][0] != '+') || g_str_has_prefix(lines[i], "---") ||
            g_str_has_prefix(lines[i], "+++"))
            continue;
        tmp = regexReplace(lines[i], "(gen|hand)-[0-9a-z-]+", "NAME");
        key = g_strdup_printf("%-8s %s", kindNames[kind], tmp);
        g_free(tmp);
        if (g_hash_table_contains(seen, key)) {
            g_free(key);
            continue;
        }
        g_hash_table_add(seen, key);
        if (!g_hash_table_contains(counts, key))
            g_hash_table_insert(counts, g_strdup(key), GUINT_TO_POINTER(0));
        g_hash_table_insert(
            counts, g_strdup(key),
            GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(counts, key)) + 1));
    }
}

static void
printTopLines(GHashTable *counts, guint max)
{
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    GHashTableIter it;
    gpointer k;

    g_hash_table_iter_init(&it, counts);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(keys, k);
    g_ptr_array_sort_with_data(keys, countCompare, counts);
    printf(
        "difftest: the most frequent differing lines (documents: kind, -libvirt/+qvirt line):\n");
    for (guint i = 0; i < keys->len && i < max; i++)
        printf("%5u  %s\n", GPOINTER_TO_UINT(g_hash_table_lookup(counts, keys->pdata[i])),
               (char *)keys->pdata[i]);
}

static int
report(gboolean printDiffs)
{
    guint same[KIND_LAST] = {0}, total[KIND_LAST] = {0};
    guint rejSame = 0, rejTotal = 0;
    g_autoptr(GString) diffs = g_string_new(NULL);
    g_autoptr(GString) rejDiffs = g_string_new(NULL);
    g_autoptr(GHashTable) counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < docs->len; i++) {
        Doc *doc = docs->pdata[i];

        for (Kind k = 0; k < KIND_LAST; k++) {
            g_autofree char *diff = NULL;

            if (!applies(doc, k))
                continue;
            diff = compare(doc, k);
            if (diff)
                countDiffLines(counts, doc, k, diff);
            /* a refusal at define counts once, under inactive */
            if ((k == KIND_LIVE || k == KIND_ARGV) && (doc->lvRefused || doc->qvRefused)) {
                if (diff)
                    g_string_append_printf(rejDiffs, "== %s %s (%s)\n%s\n", doc->name, kindNames[k],
                                           doc->file, diff);
                continue;
            }
            if (doc->lv[k].error || doc->qv[k].error) {
                rejTotal++;
                rejSame += diff == NULL;
                if (diff)
                    g_string_append_printf(rejDiffs, "== %s %s (%s)\n%s\n", doc->name, kindNames[k],
                                           doc->file, diff);
                continue;
            }
            total[k]++;
            same[k] += diff == NULL;
            if (diff)
                g_string_append_printf(diffs, "== %s %s (%s)\n%s\n", doc->name, kindNames[k],
                                       doc->file, diff);
        }
    }
    if (printDiffs) {
        printf("%s", diffs->str);
        printf("%s", rejDiffs->str);
    }
    printTopLines(counts, 40);
    printf("difftest: qvirt (this build) against libvirt 9.0 (%s), %u documents\n",
           "qemu:///embed + qemu:///session, as nobody", docs->len);
    for (Kind k = 0; k < KIND_LAST; k++)
        printf("  %-22s %u/%u identical\n", kindTitles[k], same[k], total[k]);
    printf("  %-22s %u/%u identical\n", "rejections", rejSame, rejTotal);
    printf("(documents both daemons produced; rejections: a refusal by either side at define,\n"
           " domxml-to-native or start, counted once per step)\n");
    for (Kind k = 0; k < KIND_LAST; k++) {
        if (same[k] != total[k])
            return 1;
    }
    return rejSame == rejTotal ? 0 : 1;
}

static void
testNeedsRoot(void)
{
    g_test_skip("difftest runs libvirt as nobody: it needs root to switch to that user");
}

/* ---- main ------------------------------------------------------------------------------- */

static gint64 phaseStart;

static void
phaseTime(const char *what)
{
    gint64 now = g_get_monotonic_time();

    if (env.verbose)
        g_printerr("difftest: %s: %.1f s\n", what, (now - phaseStart) / 1e6);
    phaseStart = now;
}

static gboolean
parseSeeds(const char *arg, guint64 *first, guint64 *last)
{
    g_auto(GStrv) parts = g_strsplit(arg, "-", 2);

    if (!parts[0] || !g_ascii_string_to_unsigned(parts[0], 10, 0, G_MAXUINT32, first, NULL))
        return FALSE;
    if (!parts[1]) {
        /* a count: seeds 1..N */
        *last = *first;
        *first = 1;
        return *last >= 1;
    }
    return g_ascii_string_to_unsigned(parts[1], 10, *first, G_MAXUINT32, last, NULL);
}

int
main(int argc, char **argv)
{
    guint64 first = 1, last = 80;
    gboolean hand = TRUE, live = TRUE, reportMode = FALSE, diffs = TRUE;
    g_autoptr(GPtrArray) rest = g_ptr_array_new();
    g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func(g_free);
    int ret;

    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            if (!parseSeeds(argv[++i], &first, &last)) {
                g_printerr("difftest: --seeds takes A-B or N\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--no-hand") == 0) {
            hand = FALSE;
        } else if (strcmp(argv[i], "--no-live") == 0) {
            live = FALSE;
        } else if (strcmp(argv[i], "--report") == 0) {
            reportMode = TRUE;
        } else if (strcmp(argv[i], "--summary") == 0) {
            reportMode = TRUE;
            diffs = FALSE;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            env.verbose = TRUE;
        } else if (strcmp(argv[i], "--keep") == 0) {
            env.keep = TRUE;
        } else {
            g_ptr_array_add(rest, argv[i]);
        }
    }
    /* every document is compared even after one differs */
    if (!reportMode)
        g_ptr_array_add(rest, (char *)"--keep-going");
    g_ptr_array_add(rest, NULL);
    argc = rest->len - 1;
    argv = (char **)rest->pdata;
    if (!reportMode)
        g_test_init(&argc, &argv, NULL);
    if (geteuid() != 0) {
        /* libvirt runs as nobody, which needs root to switch to */
        if (reportMode) {
            g_printerr("difftest: must run as root\n");
            return 77;
        }
        g_test_add_func("/difftest/needs-root", testNeedsRoot);
        return g_test_run();
    }

    docs = g_ptr_array_new();
    phaseStart = g_get_monotonic_time();
    sweepStaleDirs();
    setupDirs();
    addGeneratedDocs(first, last);
    if (hand) {
        addHandDocs();
        chownTree(env.images);
    }
    env.live = live;
    phaseTime("generated documents and images");
    runLibvirtEmbed();
    phaseTime("libvirt qemu:///embed");
    if (live) {
        runLibvirtSession();
        phaseTime("libvirt qemu:///session");
    }
    runQvirt(live);
    phaseTime("qvirtd");

    if (reportMode) {
        ret = report(diffs);
        cleanupAll();
        return ret;
    }
    for (guint i = 0; i < docs->len; i++) {
        Doc *doc = docs->pdata[i];

        for (Kind k = 0; k < KIND_LAST; k++) {
            Case *c;
            g_autofree char *path = NULL;

            if (!applies(doc, k))
                continue;
            c = g_new0(Case, 1);
            c->doc = doc;
            c->kind = k;
            g_ptr_array_add(cases, c);
            path = g_strdup_printf("/difftest/%s/%s", doc->name, kindNames[k]);
            g_test_add_data_func(path, c, testCompare);
        }
    }
    g_test_add_func("/difftest/qvirtd-exit", testQvirtdExit);
    ret = g_test_run();
    cleanupAll();
    return ret;
}
