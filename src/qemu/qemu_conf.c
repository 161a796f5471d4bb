/*
 * qemu_conf.c: the daemon's paths and qvirtd.conf.
 */
#include "qemu/qemu_conf.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "conf/domain_conf.h"
#include "security/security_dac.h"
#include "storage/storage_chain.h"
#include "util/virerror.h"
#include "util/virfile.h"

#define QVIR_CONF_GROUP "qvirtd"
#define QVIR_CONF_DEFAULT_EMULATOR "/usr/bin/qemu-system-x86_64"

QVIR_ENUM_IMPL(qvirConfAuth, QVIR_CONF_AUTH_LAST, "none", "sasl", "polkit");

static void
qvirDriverConfigSetPaths(qvirDriverConfig *cfg, const char *root)
{
    if (root) {
        cfg->root = g_strdup(root);
        cfg->configDir = g_build_filename(root, "etc", NULL);
        cfg->stateDir = g_build_filename(root, "lib", NULL);
        cfg->runDir = g_build_filename(root, "run", NULL);
        cfg->cacheDir = g_build_filename(root, "cache", NULL);
        cfg->logDir = g_build_filename(root, "log", NULL);
    } else if (geteuid() == 0) {
        cfg->configDir = g_strdup("/etc/qvirt");
        cfg->stateDir = g_strdup("/var/lib/qvirt");
        cfg->runDir = g_strdup("/run/qvirt");
        cfg->cacheDir = g_strdup("/var/cache/qvirt");
        cfg->logDir = g_strdup("/var/log/qvirt");
    } else {
        /* The XDG base directories, as libvirt's session daemon uses them. */
        cfg->configDir = g_build_filename(g_get_user_config_dir(), "qvirt", NULL);
        cfg->stateDir = g_build_filename(g_get_user_data_dir(), "qvirt", NULL);
        cfg->runDir = g_build_filename(g_get_user_runtime_dir(), "qvirt", NULL);
        cfg->cacheDir = g_build_filename(g_get_user_cache_dir(), "qvirt", NULL);
        cfg->logDir = g_build_filename(g_get_user_state_dir(), "qvirt", "log", NULL);
    }
    cfg->socketPath = g_build_filename(cfg->runDir, "qvirt-sock", NULL);
    cfg->socketPathRO = g_build_filename(cfg->runDir, "qvirt-sock-ro", NULL);
    cfg->defsDir = g_build_filename(cfg->configDir, "qemu", NULL);
    cfg->statusDir = g_build_filename(cfg->runDir, "qemu", NULL);
}

qvirDriverConfig *
qvirDriverConfigNew(const char *root)
{
    qvirDriverConfig *cfg = g_new0(qvirDriverConfig, 1);

    qvirDriverConfigSetPaths(cfg, root);
    cfg->allowDiskFormatProbing = FALSE;
    cfg->maxBackingChainDepth = QVIR_STORAGE_CHAIN_DEFAULT_MAX_DEPTH;
    cfg->defaultDiskCache = -1;
    cfg->emulator = g_strdup(QVIR_CONF_DEFAULT_EMULATOR);
    cfg->user = g_strdup(QVIR_SECURITY_DAC_DEFAULT_USER);
    cfg->group = g_strdup(QVIR_SECURITY_DAC_DEFAULT_GROUP);
    cfg->dynamicOwnership = TRUE;
    cfg->rememberOwner = TRUE;
    cfg->chardevTLSx509verify = TRUE; /* libvirt's default_tls_x509_verify */
    cfg->clearEmulatorCapabilities = TRUE;
    cfg->mountNamespace = TRUE;
    cfg->migrationPortMin = 49152;
    cfg->migrationPortMax = 49215;
    cfg->tcpPort = QVIR_CONF_DEFAULT_TCP_PORT;
    cfg->authTCP = QVIR_CONF_AUTH_SASL;
    cfg->keepAliveInterval = 5;
    cfg->keepAliveCount = 5;
    return cfg;
}

void
qvirDriverConfigFree(qvirDriverConfig *cfg)
{
    if (!cfg)
        return;
    g_free(cfg->root);
    g_free(cfg->configDir);
    g_free(cfg->stateDir);
    g_free(cfg->runDir);
    g_free(cfg->cacheDir);
    g_free(cfg->logDir);
    g_free(cfg->socketPath);
    g_free(cfg->socketPathRO);
    g_free(cfg->defsDir);
    g_free(cfg->statusDir);
    g_free(cfg->emulator);
    g_free(cfg->nbdTLSx509certdir);
    g_free(cfg->nbdTLSx509secretUUID);
    g_free(cfg->chardevTLSx509certdir);
    g_free(cfg->chardevTLSx509secretUUID);
    g_free(cfg->user);
    g_free(cfg->group);
    g_free(cfg->hostUUID);
    g_free(cfg->listenAddr);
    g_free(cfg);
}

/* ---- qvirtd.conf ------------------------------------------------------------ */

typedef gboolean (*qvirDriverConfigKeyParser)(qvirDriverConfig *cfg, GKeyFile *kf, const char *key,
                                              const char *path, GError **error);

static void
qvirDriverConfigKeyError(GError **error, const char *path, const char *key, GError *cause)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                "configuration file '%s': invalid value for key '%s': %s", path, key,
                cause->message);
}

/* KEY's string value, without surrounding blanks; NULL (and the error) when it is not one. */
static char *
qvirDriverConfigGetString(GKeyFile *kf, const char *key, const char *path, GError **error)
{
    g_autoptr(GError) err = NULL;
    char *str = g_key_file_get_string(kf, QVIR_CONF_GROUP, key, &err);

    if (!str) {
        qvirDriverConfigKeyError(error, path, key, err);
        return NULL;
    }
    return g_strstrip(str);
}

/* The same, one pair of double quotes around it taken off: libvirtd.conf quotes its strings
 * (tcp_port = "16509"), and its lines are copied here as they are. */
static char *
qvirDriverConfigGetQuoted(GKeyFile *kf, const char *key, const char *path, GError **error)
{
    char *str = qvirDriverConfigGetString(kf, key, path, error);
    gsize len = str ? strlen(str) : 0;

    if (len >= 2 && str[0] == '"' && str[len - 1] == '"') {
        memmove(str, str + 1, len - 2);
        str[len - 2] = '\0';
    }
    return str;
}

/* KEY's value as an integer from 1 to MAX; else an error that calls it WHAT ("a port"). */
static gboolean
qvirDriverConfigGetUnsigned(GKeyFile *kf, const char *key, const char *path, guint64 max,
                            const char *what, guint64 *val, GError **error)
{
    g_autofree char *str = g_key_file_get_value(kf, QVIR_CONF_GROUP, key, NULL);

    g_strstrip(str);
    if (!g_ascii_string_to_unsigned(str, 10, 1, max, val, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': invalid value for key '%s': '%s' is not %s "
                    "between 1 and %" G_GUINT64_FORMAT,
                    path, key, str, what, max);
        return FALSE;
    }
    return TRUE;
}

/* The boolean keys, each with the field it sets. */
static gboolean *
qvirDriverConfigBoolField(qvirDriverConfig *cfg, const char *key)
{
    if (strcmp(key, "allow_disk_format_probing") == 0)
        return &cfg->allowDiskFormatProbing;
    if (strcmp(key, "probe_network_backing_chains") == 0)
        return &cfg->probeNetworkBackingChains;
    if (strcmp(key, "dynamic_ownership") == 0)
        return &cfg->dynamicOwnership;
    if (strcmp(key, "remember_owner") == 0)
        return &cfg->rememberOwner;
    if (strcmp(key, "clear_emulator_capabilities") == 0)
        return &cfg->clearEmulatorCapabilities;
    if (strcmp(key, "nbd_tls") == 0)
        return &cfg->nbdTLS;
    if (strcmp(key, "chardev_tls") == 0)
        return &cfg->chardevTLS;
    if (strcmp(key, "chardev_tls_x509_verify") == 0)
        return &cfg->chardevTLSx509verify;
    if (strcmp(key, "listen_tcp") == 0)
        return &cfg->listenTCP;
    g_assert_not_reached();
}

static gboolean
qvirDriverConfigParseBool(qvirDriverConfig *cfg, GKeyFile *kf, const char *key, const char *path,
                          GError **error)
{
    g_autoptr(GError) err = NULL;
    gboolean val = g_key_file_get_boolean(kf, QVIR_CONF_GROUP, key, &err);

    if (err) {
        qvirDriverConfigKeyError(error, path, key, err);
        return FALSE;
    }
    *qvirDriverConfigBoolField(cfg, key) = val;
    return TRUE;
}

/* user / group: a name or "+ID", as libvirt's qemu.conf takes them. */
static gboolean
qvirDriverConfigParseIdentity(qvirDriverConfig *cfg, GKeyFile *kf, const char *key,
                              const char *path, GError **error)
{
    g_autofree char *str = qvirDriverConfigGetString(kf, key, path, error);
    char **field = strcmp(key, "user") == 0 ? &cfg->user : &cfg->group;

    if (!str)
        return FALSE;
    if (!*str || strchr(str, ':') || strchr(str, '/')) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': invalid value for key '%s': '%s' is not a %s "
                    "name or '+ID'",
                    path, key, str, field == &cfg->user ? "user" : "group");
        return FALSE;
    }
    g_free(*field);
    *field = g_steal_pointer(&str);
    return TRUE;
}

/* namespaces: libvirt's list; "mount" (QEMU's private /dev) is the one there is. */
static gboolean
qvirDriverConfigParseNamespaces(qvirDriverConfig *cfg, GKeyFile *kf, const char *key,
                                const char *path, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) list = g_key_file_get_string_list(kf, QVIR_CONF_GROUP, key, NULL, &err);
    gboolean mount = FALSE;

    if (!list && !g_error_matches(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE)) {
        qvirDriverConfigKeyError(error, path, key, err);
        return FALSE;
    }
    for (gsize i = 0; list && list[i]; i++) {
        g_strstrip(list[i]);
        if (!*list[i])
            continue;
        if (strcmp(list[i], "mount") != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                        "configuration file '%s': unknown namespace '%s' for key '%s': "
                        "expected mount",
                        path, list[i], key);
            return FALSE;
        }
        mount = TRUE;
    }
    cfg->mountNamespace = mount;
    return TRUE;
}

static gboolean
qvirDriverConfigParseDepth(qvirDriverConfig *cfg, GKeyFile *kf, const char *key, const char *path,
                           GError **error)
{
    guint64 val = 0;

    if (!qvirDriverConfigGetUnsigned(kf, key, path, 100000, "an integer", &val, error))
        return FALSE;
    cfg->maxBackingChainDepth = (unsigned int)val;
    return TRUE;
}

static gboolean
qvirDriverConfigParseCache(qvirDriverConfig *cfg, GKeyFile *kf, const char *key, const char *path,
                           GError **error)
{
    g_autofree char *str = qvirDriverConfigGetString(kf, key, path, error);
    int mode;

    if (!str)
        return FALSE;
    if ((mode = qvirDomainDiskCacheTypeFromString(str)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': unknown disk cache mode '%s' for key '%s': "
                    "expected one of %s",
                    path, str, key, qvirDomainDiskCacheTypeList());
        return FALSE;
    }
    /* "default" spelled out means the same as leaving the key unset. */
    cfg->defaultDiskCache = mode == QVIR_DOMAIN_DISK_CACHE_DEFAULT ? -1 : mode;
    return TRUE;
}

static gboolean
qvirDriverConfigParseEmulator(qvirDriverConfig *cfg, GKeyFile *kf, const char *key,
                              const char *path, GError **error)
{
    g_autofree char *str = qvirDriverConfigGetString(kf, key, path, error);

    if (!str)
        return FALSE;
    if (!g_path_is_absolute(str)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': invalid value for key '%s': '%s' is not an "
                    "absolute path",
                    path, key, str);
        return FALSE;
    }
    g_free(cfg->emulator);
    cfg->emulator = g_steal_pointer(&str);
    return TRUE;
}

/* {nbd,chardev}_tls_x509_cert_dir (an absolute path) and {nbd,chardev}_tls_x509_secret_uuid
 * (a UUID). */
static gboolean
qvirDriverConfigParseTLS(qvirDriverConfig *cfg, GKeyFile *kf, const char *key, const char *path,
                         GError **error)
{
    g_autofree char *str = qvirDriverConfigGetString(kf, key, path, error);
    gboolean dir = g_str_has_suffix(key, "_tls_x509_cert_dir");
    gboolean nbd = g_str_has_prefix(key, "nbd_");
    char **field = dir ? (nbd ? &cfg->nbdTLSx509certdir : &cfg->chardevTLSx509certdir)
                       : (nbd ? &cfg->nbdTLSx509secretUUID : &cfg->chardevTLSx509secretUUID);

    if (!str)
        return FALSE;
    if (dir ? !g_path_is_absolute(str) : !g_uuid_string_is_valid(str)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': invalid value for key '%s': '%s' is not %s", path,
                    key, str, dir ? "an absolute path" : "a UUID");
        return FALSE;
    }
    g_free(*field);
    *field = g_steal_pointer(&str);
    return TRUE;
}

static gboolean
qvirDriverConfigParseHostUUID(qvirDriverConfig *cfg, GKeyFile *kf, const char *key,
                              const char *path, GError **error)
{
    g_autofree char *str = qvirDriverConfigGetString(kf, key, path, error);
    unsigned char uuid[QVIR_UUID_BUFLEN];
    char formatted[QVIR_UUID_STRING_BUFLEN];

    if (!str)
        return FALSE;
    if (!qvirUUIDParse(str, uuid)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': invalid value for key '%s': '%s' is not a UUID", path,
                    key, str);
        return FALSE;
    }
    qvirUUIDFormat(uuid, formatted);
    g_free(cfg->hostUUID);
    cfg->hostUUID = g_strdup(formatted);
    return TRUE;
}

/* migration_port_min / _max: 1..65535, and min <= max once both are read (checked at load). */
static gboolean
qvirDriverConfigParsePort(qvirDriverConfig *cfg, GKeyFile *kf, const char *key, const char *path,
                          GError **error)
{
    guint64 val = 0;

    if (!qvirDriverConfigGetUnsigned(kf, key, path, 65535, "a port", &val, error))
        return FALSE;
    if (strcmp(key, "migration_port_min") == 0)
        cfg->migrationPortMin = (unsigned int)val;
    else
        cfg->migrationPortMax = (unsigned int)val;
    return TRUE;
}

/* tcp_port: a port number, quoted or not (libvirt also takes a service name; we do not). */
static gboolean
qvirDriverConfigParseTCPPort(qvirDriverConfig *cfg, GKeyFile *kf, const char *key, const char *path,
                             GError **error)
{
    g_autofree char *str = qvirDriverConfigGetQuoted(kf, key, path, error);
    guint64 val = 0;

    if (!str)
        return FALSE;
    if (!g_ascii_string_to_unsigned(str, 10, 1, 65535, &val, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': invalid value for key '%s': '%s' is not a port "
                    "between 1 and 65535",
                    path, key, str);
        return FALSE;
    }
    cfg->tcpPort = (unsigned int)val;
    return TRUE;
}

/* listen_addr: an address or host name, resolved when the daemon listens. */
static gboolean
qvirDriverConfigParseListenAddr(qvirDriverConfig *cfg, GKeyFile *kf, const char *key,
                                const char *path, GError **error)
{
    g_autofree char *str = qvirDriverConfigGetQuoted(kf, key, path, error);

    if (!str)
        return FALSE;
    if (!*str) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': invalid value for key '%s': empty address", path,
                    key);
        return FALSE;
    }
    g_free(cfg->listenAddr);
    cfg->listenAddr = g_steal_pointer(&str);
    return TRUE;
}

/* auth_tcp: libvirt's words, with libvirt's error for another one (remoteConfigGetAuth).
 * Whether qvirtd can serve it is checked once the whole file is read. */
static gboolean
qvirDriverConfigParseAuth(qvirDriverConfig *cfg, GKeyFile *kf, const char *key, const char *path,
                          GError **error)
{
    g_autofree char *str = qvirDriverConfigGetQuoted(kf, key, path, error);
    int auth;

    if (!str)
        return FALSE;
    if ((auth = qvirConfAuthTypeFromString(str)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: %s: %s: unsupported auth %s", path, key, str);
        return FALSE;
    }
    cfg->authTCP = auth;
    return TRUE;
}

/* keepalive_interval: any integer (<= 0 turns keepalive off); keepalive_count: 0 or more. */
static gboolean
qvirDriverConfigParseKeepAlive(qvirDriverConfig *cfg, GKeyFile *kf, const char *key,
                               const char *path, GError **error)
{
    g_autofree char *str = g_key_file_get_value(kf, QVIR_CONF_GROUP, key, NULL);
    gboolean interval = strcmp(key, "keepalive_interval") == 0;
    gint64 val = 0;

    g_strstrip(str);
    if (!g_ascii_string_to_signed(str, 10, interval ? G_MININT32 : 0, G_MAXINT32, &val, NULL)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': invalid value for key '%s': '%s' is not %s", path,
                    key, str, interval ? "an integer" : "an integer of 0 or more");
        return FALSE;
    }
    if (interval)
        cfg->keepAliveInterval = (int)val;
    else
        cfg->keepAliveCount = (unsigned int)val;
    return TRUE;
}

static const struct {
    const char *key;
    qvirDriverConfigKeyParser parse;
} qvirDriverConfigKeys[] = {
    {"allow_disk_format_probing", qvirDriverConfigParseBool},
    {"probe_network_backing_chains", qvirDriverConfigParseBool},
    {"max_backing_chain_depth", qvirDriverConfigParseDepth},
    {"default_disk_cache", qvirDriverConfigParseCache},
    {"emulator", qvirDriverConfigParseEmulator},
    {"user", qvirDriverConfigParseIdentity},
    {"group", qvirDriverConfigParseIdentity},
    {"dynamic_ownership", qvirDriverConfigParseBool},
    {"remember_owner", qvirDriverConfigParseBool},
    {"clear_emulator_capabilities", qvirDriverConfigParseBool},
    {"namespaces", qvirDriverConfigParseNamespaces},
    {"nbd_tls", qvirDriverConfigParseBool},
    {"nbd_tls_x509_cert_dir", qvirDriverConfigParseTLS},
    {"nbd_tls_x509_secret_uuid", qvirDriverConfigParseTLS},
    {"chardev_tls", qvirDriverConfigParseBool},
    {"chardev_tls_x509_cert_dir", qvirDriverConfigParseTLS},
    {"chardev_tls_x509_verify", qvirDriverConfigParseBool},
    {"chardev_tls_x509_secret_uuid", qvirDriverConfigParseTLS},
    {"host_uuid", qvirDriverConfigParseHostUUID},
    {"migration_port_min", qvirDriverConfigParsePort},
    {"migration_port_max", qvirDriverConfigParsePort},
    {"listen_tcp", qvirDriverConfigParseBool},
    {"tcp_port", qvirDriverConfigParseTCPPort},
    {"listen_addr", qvirDriverConfigParseListenAddr},
    {"auth_tcp", qvirDriverConfigParseAuth},
    {"keepalive_interval", qvirDriverConfigParseKeepAlive},
    {"keepalive_count", qvirDriverConfigParseKeepAlive},
};

static qvirDriverConfigKeyParser
qvirDriverConfigFindKey(const char *key)
{
    for (gsize i = 0; i < G_N_ELEMENTS(qvirDriverConfigKeys); i++) {
        if (strcmp(qvirDriverConfigKeys[i].key, key) == 0)
            return qvirDriverConfigKeys[i].parse;
    }
    return NULL;
}

static gboolean
qvirDriverConfigCheckGroups(GKeyFile *kf, const char *path, GError **error)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

    for (gsize i = 0; groups[i]; i++) {
        if (strcmp(groups[i], QVIR_CONF_GROUP) != 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                        "configuration file '%s': unknown group '%s': expected [%s]", path,
                        groups[i], QVIR_CONF_GROUP);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
qvirDriverConfigLoad(qvirDriverConfig *cfg, const char *path, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) keys = NULL;
    g_autofree char *defPath = NULL;

    g_return_val_if_fail(cfg != NULL, FALSE);

    if (!path)
        path = defPath = g_build_filename(cfg->configDir, "qvirtd.conf", NULL);

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
        /* An absent file means every default applies. */
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "cannot read configuration file '%s': %s", path, err->message);
        return FALSE;
    }
    if (!qvirDriverConfigCheckGroups(kf, path, error))
        return FALSE;
    if (!g_key_file_has_group(kf, QVIR_CONF_GROUP))
        return TRUE;

    keys = g_key_file_get_keys(kf, QVIR_CONF_GROUP, NULL, NULL);
    for (gsize i = 0; keys && keys[i]; i++) {
        qvirDriverConfigKeyParser parse = qvirDriverConfigFindKey(keys[i]);

        if (!parse) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                        "configuration file '%s': unknown key '%s' in group [%s]", path, keys[i],
                        QVIR_CONF_GROUP);
            return FALSE;
        }
        if (!parse(cfg, kf, keys[i], path, error))
            return FALSE;
    }
    if (cfg->migrationPortMin > cfg->migrationPortMax) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONF_SYNTAX,
                    "configuration file '%s': migration_port_min (%u) is greater than "
                    "migration_port_max (%u)",
                    path, cfg->migrationPortMin, cfg->migrationPortMax);
        return FALSE;
    }
    /* Refused rather than served without the authentication the file asks for. */
    if (cfg->listenTCP && cfg->authTCP != QVIR_CONF_AUTH_NONE) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "unsupported configuration: %s: auth_tcp '%s' is not supported by qvirtd "
                    "(it has no SASL); listen_tcp needs auth_tcp = \"none\" (auth_tcp defaults "
                    "to \"sasl\", as in libvirtd)",
                    path, qvirConfAuthTypeToString(cfg->authTCP));
        return FALSE;
    }
    return TRUE;
}

gboolean
qvirDriverConfigMakeDirs(const qvirDriverConfig *cfg, GError **error)
{
    g_autofree char *domainsDir = NULL;
    g_autofree char *qemuLogDir = NULL;

    g_return_val_if_fail(cfg != NULL, FALSE);

    domainsDir = g_build_filename(cfg->stateDir, "qemu", NULL);
    qemuLogDir = g_build_filename(cfg->logDir, "qemu", NULL);
    const char *dirs[] = {
        cfg->configDir, cfg->stateDir,  cfg->runDir, cfg->cacheDir, cfg->logDir,
        cfg->defsDir,   cfg->statusDir, domainsDir,  qemuLogDir,
    };

    /* A root daemon creates the way down to its domain directories searchable (a fresh
     * --root DIR included): its QEMU runs as another user. Directories that already exist
     * keep their modes; the start then names one QEMU's user cannot search. */
    if (geteuid() == 0 && !qvirFileMakeDirs(domainsDir, 0711, error))
        return FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(dirs); i++) {
        if (!qvirFileMakeDirs(dirs[i], 0700, error))
            return FALSE;
    }
    /* A root daemon's QEMU (another user) must reach its domain directory below these,
     * as libvirt's /var/lib/libvirt/qemu: searchable, not listable. */
    if (geteuid() == 0) {
        const char *paths[] = {cfg->stateDir, domainsDir};

        for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
            if (chmod(paths[i], 0711) < 0) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_SYSTEM_ERROR,
                            "cannot make directory '%s' searchable: %s", paths[i],
                            g_strerror(errno));
                return FALSE;
            }
        }
    }
    return TRUE;
}
