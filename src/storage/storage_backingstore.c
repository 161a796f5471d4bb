/*
 * storage_backingstore.c: parsing the backing names image headers store.
 *
 * Three syntaxes name network storage (see the header); all three end in the same
 * qvirStorageSource network fields that <source protocol=> fills from XML. The facts
 * (which keys, which defaults, which strings are refused and with what words) are
 * libvirt 9.0's; the JSON is read with json-glib, URIs with libxml2's RFC 3986 parser
 * (the one libvirt uses, so percent-decoding and IPv6 literals come out the same).
 */
#include "storage_backingstore.h"

#include <json-glib/json-glib.h>
#include <libxml/uri.h>
#include <string.h>

#include "util/virerror.h"
#include "util/virfile.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlURI, xmlFreeURI);

gboolean
qvirStorageBackingNameIsFile(const char *name)
{
    const char *colon, *slash;

    if (!name)
        return FALSE;
    colon = strchr(name, ':');
    slash = strchr(name, '/');
    return !colon || (slash && slash < colon);
}

/* ---- small parsers shared by the three syntaxes ----------------------------------------- */

static qvirStorageNetHost *
qvirBackingAddHost(qvirStorageSource *src)
{
    src->hosts = g_renew(qvirStorageNetHost, src->hosts, src->nhosts + 1);
    memset(&src->hosts[src->nhosts], 0, sizeof(src->hosts[0]));
    return &src->hosts[src->nhosts++];
}

/* rbd and gluster keep "pool/image" (gluster: "volume/path") split in two. */
static gboolean
qvirBackingSplitGlusterPath(qvirStorageSource *src, GError **error)
{
    char *slash;

    if (!src->path) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "missing volume name and path for gluster volume");
        return FALSE;
    }
    if (!(slash = strchr(src->path, '/')) || slash == src->path) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "missing volume name or file name in gluster source path '%s'", src->path);
        return FALSE;
    }
    src->netVolume = g_strndup(src->path, slash - src->path);
    memmove(src->path, slash + 1, strlen(slash + 1) + 1);
    return TRUE;
}

/* ---- URIs: nbd://, nbd+unix://, gluster://, iscsi://, http(s)://, ftp(s)://, ssh://, ... */

static int
qvirBackingParseURI(qvirStorageSource *src, const char *str, GError **error)
{
    g_autoptr(xmlURI) uri = xmlParseURI(str);
    g_auto(GStrv) scheme = NULL;
    qvirStorageNetHost *host;
    const char *path;
    int protocol, transport;

    if (!uri) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "failed to parse backing file location '%s'", str);
        return -1;
    }
    host = qvirBackingAddHost(src);
    scheme = uri->scheme ? g_strsplit(uri->scheme, "+", 2) : NULL;
    if (!scheme || !scheme[0] || (protocol = qvirStorageNetProtocolTypeFromString(scheme[0])) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "invalid backing protocol '%s'",
                    scheme && scheme[0] ? scheme[0] : "<null>");
        return -1;
    }
    src->protocol = (qvirStorageNetProtocol)protocol;
    if (scheme[1]) {
        if ((transport = qvirStorageNetHostTransportTypeFromString(scheme[1])) < 0) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                        "invalid protocol transport type '%s'", scheme[1]);
            return -1;
        }
        host->transport = (qvirStorageNetHostTransport)transport;
    }

    if (uri->query_raw) {
        if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_HTTP ||
            src->protocol == QVIR_STORAGE_NET_PROTOCOL_HTTPS)
            src->query = g_strdup(uri->query_raw);
        else if (g_str_has_prefix(uri->query_raw, "socket="))
            /* nbd+unix:///export?socket=/path: the rest of the query is the path */
            host->socket = g_strdup(uri->query_raw + strlen("socket="));
    }

    /* No path at all ("nbd://host:port") reads as an empty one; the leading slash goes. */
    path = uri->path ? uri->path : "";
    if (*path == '/')
        path++;
    /* NBD's default export is the one without a name. */
    if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_NBD && *path == '\0')
        path = NULL;
    src->path = g_strdup(path);

    if (src->protocol == QVIR_STORAGE_NET_PROTOCOL_GLUSTER &&
        !qvirBackingSplitGlusterPath(src, error))
        return -1;

    /* libxml2 leaves an IPv6 literal in its brackets; the XML has none. */
    if (uri->server && *uri->server) {
        gsize len = strlen(uri->server);

        if (uri->server[0] == '[' && uri->server[len - 1] == ']')
            host->name = g_strndup(uri->server + 1, len - 2);
        else
            host->name = g_strdup(uri->server);
        /* libxml2 takes any digits; libvirt would keep a port its own XML parser then
         * refuses (the status XML could not be read back), so refuse it here, in the
         * words of that parser. */
        if (uri->port > G_MAXUINT16) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "port '%d' out of range",
                        uri->port);
            return -1;
        }
        host->port = uri->port > 0 ? (unsigned int)uri->port : 0;
    } else {
        host->name = uri->server ? g_strdup("") : NULL;
    }

    /* Credentials in the URI have no place in the XML: usable location, unusable layer. */
    return uri->user ? QVIR_STORAGE_BACKING_UNREPRESENTABLE : 0;
}

/* ---- QEMU's legacy colon syntax: nbd:..., rbd:... ---------------------------------------- */

/*
 * One monitor of rbd's mon_host: "host", "host\:port" or "[v6]\:port"; inside a host
 * name "\:" stands for ':'.
 */
static gboolean
qvirBackingRBDAddHost(qvirStorageSource *src, char *hostport, GError **error)
{
    qvirStorageNetHost *host = qvirBackingAddHost(src);
    g_auto(GStrv) parts = NULL;
    char *port = NULL;
    char *bracket;

    host->transport = QVIR_STORAGE_NET_HOST_TRANS_TCP;
    if (*hostport == '[' && (bracket = strchr(hostport, ']'))) {
        *bracket = '\0';
        hostport++;
        if (g_str_has_prefix(bracket + 1, "\\:"))
            port = bracket + 3;
    } else if ((port = strstr(hostport, "\\:"))) {
        *port = '\0';
        port += 2;
    }
    if (port && !qvirStorageNetHostParsePort(port, &host->port, error))
        return FALSE;
    parts = g_strsplit(hostport, "\\:", 0);
    host->name = g_strjoinv(":", parts);
    return TRUE;
}

/* The value of mon_host: monitors separated by "\;", "\," or "\ ". */
static gboolean
qvirBackingRBDParseMonHost(qvirStorageSource *src, char *h, GError **error)
{
    while (*h) {
        char *sep = h;

        for (; *sep; sep++) {
            if (sep[0] == '\\' && (sep[1] == ',' || sep[1] == ';' || sep[1] == ' ')) {
                *sep = '\0';
                sep += 2;
                break;
            }
        }
        if (!qvirBackingRBDAddHost(src, h, error))
            return FALSE;
        h = sep;
    }
    return TRUE;
}

/* "rbd:pool/image@snap:opt=val:opt=val" (":" inside a value escaped as "\:"). */
static gboolean
qvirBackingParseRBDColon(qvirStorageSource *src, const char *str, GError **error)
{
    g_autofree char *options = NULL;
    gboolean haveId = FALSE;
    char *p;

    if (g_str_has_prefix(str, "rbd:"))
        str += strlen("rbd:");
    src->path = g_strdup(str);
    if ((p = strchr(src->path, ':'))) {
        options = g_strdup(p + 1);
        *p = '\0';
    }
    if ((p = strchr(src->path, '@'))) {
        src->snapshot = g_strdup(p + 1);
        *p = '\0';
    }
    if ((p = strchr(src->path, '/'))) {
        src->netVolume = g_strndup(src->path, p - src->path);
        memmove(src->path, p + 1, strlen(p + 1) + 1);
    }

    for (p = options; p && *p;) {
        char *e = p, *next;

        /* the option ends at the first unescaped ':' */
        for (; *e && *e != ':'; e++) {
            if (*e == '\\' && e[1] != '\0')
                e++;
        }
        next = *e ? e + 1 : e;
        *e = '\0';

        if (g_str_has_prefix(p, "id=")) {
            /* A cephx user without its secret is useless to the VM; libvirt drops it from
             * a backing layer, but still refuses two of them. */
            if (haveId) {
                g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                            "duplicate 'id' found in '%s'", src->path);
                return FALSE;
            }
            haveId = TRUE;
        } else if (g_str_has_prefix(p, "mon_host=")) {
            if (!qvirBackingRBDParseMonHost(src, p + strlen("mon_host="), error))
                return FALSE;
        } else if (g_str_has_prefix(p, "conf=")) {
            g_free(src->configFile);
            src->configFile = g_strdup(p + strlen("conf="));
        }
        p = next;
    }
    return TRUE;
}

static gboolean
qvirBackingNBDMalformed(const char *str, GError **error)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "malformed nbd string '%s'", str);
    return FALSE;
}

/* "nbd:unix:/SOCKET[:exportname=NAME]" or "nbd:HOST:PORT[:exportname=NAME]", as QEMU reads it. */
static gboolean
qvirBackingParseNBDColon(qvirStorageSource *src, const char *str, GError **error)
{
    g_autofree char *nbd = g_strdup(str);
    qvirStorageNetHost *host = qvirBackingAddHost(src);
    char *exportName, *spec, *port;

    if ((exportName = strstr(nbd, ":exportname="))) {
        src->path = g_strdup(exportName + strlen(":exportname="));
        *exportName = '\0';
    }
    if (!g_str_has_prefix(nbd, "nbd:") || nbd[strlen("nbd:")] == '\0')
        return qvirBackingNBDMalformed(str, error);
    spec = nbd + strlen("nbd:");

    if (g_str_has_prefix(spec, "unix:")) {
        host->transport = QVIR_STORAGE_NET_HOST_TRANS_UNIX;
        spec += strlen("unix:");
        if (*spec == '\0')
            return qvirBackingNBDMalformed(str, error);
        host->socket = g_strdup(spec);
        return TRUE;
    }

    host->transport = QVIR_STORAGE_NET_HOST_TRANS_TCP;
    if (*spec == ':')
        return qvirBackingNBDMalformed(str, error);
    if (*spec == '[') {
        spec++;
        if (!(port = strstr(spec, "]:")) || port == spec)
            return qvirBackingNBDMalformed(str, error);
        *port = '\0';
        port += 2;
    } else {
        if (!(port = strchr(spec, ':')))
            return qvirBackingNBDMalformed(str, error);
        *port++ = '\0';
    }
    if (!qvirStorageNetHostParsePort(port, &host->port, error))
        return FALSE;
    host->name = g_strdup(spec);
    return TRUE;
}

static gboolean
qvirBackingParseColon(qvirStorageSource *src, const char *str, GError **error)
{
    const char *colon = strchr(str, ':');
    g_autofree char *name = NULL;
    int protocol;

    if (!colon) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "invalid backing protocol string '%s'", str);
        return FALSE;
    }
    name = g_strndup(str, colon - str);
    if ((protocol = qvirStorageNetProtocolTypeFromString(name)) < 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "invalid backing protocol '%s'",
                    name);
        return FALSE;
    }
    src->protocol = (qvirStorageNetProtocol)protocol;

    switch (src->protocol) {
    case QVIR_STORAGE_NET_PROTOCOL_NBD:
        return qvirBackingParseNBDColon(src, str, error);
    case QVIR_STORAGE_NET_PROTOCOL_RBD:
        return qvirBackingParseRBDColon(src, str, error);
    case QVIR_STORAGE_NET_PROTOCOL_NONE:
    case QVIR_STORAGE_NET_PROTOCOL_SHEEPDOG:
    case QVIR_STORAGE_NET_PROTOCOL_LAST:
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "backing store parser is not implemented for protocol %s", name);
        return FALSE;
    default:
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "malformed backing store path for protocol %s", name);
        return FALSE;
    }
}

/* ---- json:{...} ------------------------------------------------------------------------- */

/*
 * Readers with libvirt's typing: a string member is only a JSON string (a number where
 * QEMU's schema wants a string, e.g. "port":6000, reads as absent), numbers only numbers.
 * Each returns NULL / FALSE when OBJ is not an object or the member is missing.
 */
static JsonNode *
jsonMember(JsonNode *obj, const char *key)
{
    if (!obj || !JSON_NODE_HOLDS_OBJECT(obj))
        return NULL;
    return json_object_get_member(json_node_get_object(obj), key);
}

static const char *
jsonString(JsonNode *obj, const char *key)
{
    JsonNode *n = jsonMember(obj, key);

    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string(n);
}

static JsonNode *
jsonObject(JsonNode *obj, const char *key)
{
    JsonNode *n = jsonMember(obj, key);
    return n && JSON_NODE_HOLDS_OBJECT(n) ? n : NULL;
}

static JsonArray *
jsonArray(JsonNode *obj, const char *key)
{
    JsonNode *n = jsonMember(obj, key);
    return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

static gboolean
jsonIsInteger(JsonNode *n)
{
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64;
}

/* A string, or a number's text ("lun": 6 and "lun": "6" are one thing). */
static char *
jsonStringOrNumber(JsonNode *obj, const char *key)
{
    JsonNode *n = jsonMember(obj, key);

    if (!n || !JSON_NODE_HOLDS_VALUE(n))
        return NULL;
    if (json_node_get_value_type(n) == G_TYPE_STRING)
        return g_strdup(json_node_get_string(n));
    if (json_node_get_value_type(n) == G_TYPE_INT64)
        return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
    if (json_node_get_value_type(n) == G_TYPE_DOUBLE) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        return g_strdup(g_ascii_dtostr(buf, sizeof(buf), json_node_get_double(n)));
    }
    return NULL;
}

/* A non-negative integer member; FALSE when it is anything else. */
static gboolean
jsonUlong(JsonNode *obj, const char *key, unsigned long long *val)
{
    JsonNode *n = jsonMember(obj, key);

    if (!jsonIsInteger(n) || json_node_get_int(n) < 0)
        return FALSE;
    *val = (unsigned long long)json_node_get_int(n);
    return TRUE;
}

static gboolean
jsonInt(JsonNode *obj, const char *key, int *val)
{
    JsonNode *n = jsonMember(obj, key);

    if (!jsonIsInteger(n) || json_node_get_int(n) < G_MININT || json_node_get_int(n) > G_MAXINT)
        return FALSE;
    *val = (int)json_node_get_int(n);
    return TRUE;
}

static JsonNode *qvirBackingJSONDeflattenObject(JsonObject *obj, GError **error);

/* "a.b.c": VALUE becomes RET["a"]["b"]["c"]; "a" whose value is an object is deflattened too. */
static gboolean
qvirBackingJSONDeflattenMember(JsonObject *ret, const char *key, JsonNode *value, GError **error)
{
    const char *dot = strchr(key, '.');
    g_autofree char *head = NULL;
    JsonNode *exist;

    if (!dot) {
        JsonNode *copy = JSON_NODE_HOLDS_OBJECT(value)
                             ? qvirBackingJSONDeflattenObject(json_node_get_object(value), error)
                             : json_node_copy(value);

        if (!copy)
            return FALSE;
        if (json_object_has_member(ret, key)) {
            json_node_unref(copy);
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "can't deflatten colliding key '%s'", key);
            return FALSE;
        }
        json_object_set_member(ret, key, copy);
        return TRUE;
    }

    head = g_strndup(key, dot - key);
    if (!(exist = json_object_get_member(ret, head))) {
        exist = json_node_init_object(json_node_alloc(), json_object_new());
        json_object_set_member(ret, head, exist);
        json_object_unref(json_node_get_object(exist)); /* the node holds its own ref */
    } else if (!JSON_NODE_HOLDS_OBJECT(exist)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "mixing nested objects and values is forbidden in JSON deflattening");
        return FALSE;
    }
    return qvirBackingJSONDeflattenMember(json_node_get_object(exist), dot + 1, value, error);
}

static JsonNode *
qvirBackingJSONDeflattenObject(JsonObject *obj, GError **error)
{
    g_autoptr(JsonNode) ret = json_node_init_object(json_node_alloc(), json_object_new());
    GList *members = json_object_get_members(obj);
    gboolean ok = TRUE;

    json_object_unref(json_node_get_object(ret));
    for (GList *l = members; l && ok; l = l->next)
        ok = qvirBackingJSONDeflattenMember(json_node_get_object(ret), l->data,
                                            json_object_get_member(obj, l->data), error);
    g_list_free(members);
    return ok ? g_steal_pointer(&ret) : NULL;
}

/* A key that is a plain decimal index ("0", "12"). */
static gboolean
qvirBackingJSONIndex(const char *key, guint *idx)
{
    guint64 v;
    char *end;

    if (!g_ascii_isdigit(*key))
        return FALSE;
    v = g_ascii_strtoull(key, &end, 10);
    if (*end || v > G_MAXUINT)
        return FALSE;
    *idx = (guint)v;
    return TRUE;
}

/* "server.0.host" made {"server":{"0":{...}}}: an object whose keys are exactly 0..n-1
 * is the array QEMU meant. Returns a new tree; inner objects are converted first. */
static JsonNode *
qvirBackingJSONDeflattenArrays(JsonNode *node)
{
    g_autoptr(JsonObject) copy = NULL;
    g_autofree JsonNode **items = NULL;
    JsonObject *obj;
    GList *members;
    JsonArray *arr;
    JsonNode *ret;
    guint n, idx;
    gboolean isArray = TRUE;

    if (!JSON_NODE_HOLDS_OBJECT(node))
        return json_node_copy(node);
    obj = json_node_get_object(node);
    copy = json_object_new();
    members = json_object_get_members(obj);
    n = g_list_length(members);
    items = g_new0(JsonNode *, n + 1);
    for (GList *l = members; l; l = l->next) {
        JsonNode *child = qvirBackingJSONDeflattenArrays(json_object_get_member(obj, l->data));

        json_object_set_member(copy, l->data, child);
        if (!isArray || !qvirBackingJSONIndex(l->data, &idx) || idx >= n || items[idx])
            isArray = FALSE;
        else
            items[idx] = child;
    }
    g_list_free(members);

    ret = json_node_alloc();
    if (!isArray)
        return json_node_init_object(ret, copy);
    arr = json_array_sized_new(n);
    for (guint i = 0; i < n; i++)
        json_array_add_element(arr, json_node_copy(items[i]));
    json_node_init_array(ret, arr);
    json_array_unref(arr);
    return ret;
}

static int qvirBackingParseJSONDriver(qvirStorageSource *src, JsonNode *json, const char *jsonstr,
                                      gboolean allowFormat, GError **error);

typedef int (*qvirBackingJSONParser)(qvirStorageSource *src, JsonNode *json, const char *jsonstr,
                                     int opaque, GError **error);

static int
qvirBackingJSONPath(qvirStorageSource *src, JsonNode *json, const char *jsonstr G_GNUC_UNUSED,
                    int type, GError **error)
{
    const char *path = jsonString(json, "filename");

    if (!path) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing 'filename' field in JSON backing volume definition");
        return -1;
    }
    src->path = g_strdup(path);
    src->type = (qvirStorageType)type;
    return 0;
}

static int
qvirBackingJSONUriStr(qvirStorageSource *src, const char *uri, qvirStorageNetProtocol protocol,
                      GError **error)
{
    int rc = qvirBackingParseURI(src, uri, error);

    if (rc < 0)
        return -1;
    if (src->protocol != protocol) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "expected protocol '%s' but got '%s' in URI JSON volume definition",
                    qvirStorageNetProtocolTypeToString(protocol),
                    qvirStorageNetProtocolTypeToString(src->protocol));
        return -1;
    }
    return rc;
}

/* "name=value; name2=value2", QEMU's curl "cookie" option. */
static gboolean
qvirBackingJSONCookies(qvirStorageSource *src, JsonNode *json, const char *jsonstr, GError **error)
{
    g_auto(GStrv) cookies = NULL;
    const char *str;

    if (!jsonMember(json, "cookie"))
        return TRUE;
    if (!(str = jsonString(json, "cookie"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "wrong format of 'cookie' field in backing store definition '%s'", jsonstr);
        return FALSE;
    }
    cookies = g_strsplit(str, ";", 0);
    src->ncookies = g_strv_length(cookies);
    src->cookies = g_new0(qvirStorageNetCookie, src->ncookies);
    for (size_t i = 0; i < src->ncookies; i++) {
        const char *name = cookies[i];
        const char *eq;

        while (g_ascii_isspace(*name))
            name++;
        if (!(eq = strchr(name, '='))) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "malformed http cookie '%s' in backing store definition '%s'", cookies[i],
                        jsonstr);
            return FALSE;
        }
        src->cookies[i].name = g_strndup(name, eq - name);
        src->cookies[i].value = g_strdup(eq + 1);
    }
    return TRUE;
}

/* http, https, ftp, ftps, tftp: QEMU's curl driver, a "url" and its options. */
static int
qvirBackingJSONUri(qvirStorageSource *src, JsonNode *json, const char *jsonstr, int protocol,
                   GError **error)
{
    const char *uri = jsonString(json, "url");

    if (!uri) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing 'url' in JSON backing volume definition");
        return -1;
    }
    if ((protocol == QVIR_STORAGE_NET_PROTOCOL_HTTPS ||
         protocol == QVIR_STORAGE_NET_PROTOCOL_FTPS) &&
        jsonMember(json, "sslverify")) {
        JsonNode *n = jsonMember(json, "sslverify");

        /* libguestfs writes the undocumented "off" */
        if (g_strcmp0(jsonString(json, "sslverify"), "off") == 0) {
            src->sslverify = QVIR_TRISTATE_BOOL_NO;
        } else if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN) {
            src->sslverify =
                json_node_get_boolean(n) ? QVIR_TRISTATE_BOOL_YES : QVIR_TRISTATE_BOOL_NO;
        } else {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "malformed 'sslverify' field in backing store definition '%s'", jsonstr);
            return -1;
        }
    }
    if ((protocol == QVIR_STORAGE_NET_PROTOCOL_HTTPS ||
         protocol == QVIR_STORAGE_NET_PROTOCOL_HTTP) &&
        !qvirBackingJSONCookies(src, json, jsonstr, error))
        return -1;
    if (jsonMember(json, "readahead") && !jsonUlong(json, "readahead", &src->readahead)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "malformed 'readahead' field in backing store definition '%s'", jsonstr);
        return -1;
    }
    if (jsonMember(json, "timeout") && !jsonUlong(json, "timeout", &src->timeout)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "malformed 'timeout' field in backing store definition '%s'", jsonstr);
        return -1;
    }
    return qvirBackingJSONUriStr(src, uri, (qvirStorageNetProtocol)protocol, error);
}

static gboolean
qvirBackingJSONMissingServer(GError **error)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                "missing remote server specification in JSON backing volume definition");
    return FALSE;
}

/* QAPI's InetSocketAddress: "host" and a "port" string. */
static gboolean
qvirBackingJSONInet(qvirStorageNetHost *host, JsonNode *json, GError **error)
{
    const char *name;

    if (!json)
        return qvirBackingJSONMissingServer(error);
    if (!(name = jsonString(json, "host"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing hostname for tcp backing server in JSON backing volume definition");
        return FALSE;
    }
    host->transport = QVIR_STORAGE_NET_HOST_TRANS_TCP;
    host->name = g_strdup(name);
    return qvirStorageNetHostParsePort(jsonString(json, "port"), &host->port, error);
}

/* QAPI's SocketAddress: "type" inet (or its old name tcp) or unix. */
static gboolean
qvirBackingJSONSocket(qvirStorageNetHost *host, JsonNode *json, GError **error)
{
    const char *type, *path;

    if (!json)
        return qvirBackingJSONMissingServer(error);
    if (!(type = jsonString(json, "type"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing socket address type in JSON backing volume definition");
        return FALSE;
    }
    if (g_str_equal(type, "tcp") || g_str_equal(type, "inet"))
        return qvirBackingJSONInet(host, json, error);
    if (!g_str_equal(type, "unix")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "backing store protocol '%s' is not yet supported", type);
        return FALSE;
    }
    host->transport = QVIR_STORAGE_NET_HOST_TRANS_UNIX;
    /* gluster's old spelling is "socket" */
    if (!(path = jsonString(json, "path")) && !(path = jsonString(json, "socket"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing socket path for udp backing server in JSON backing volume "
                    "definition");
        return FALSE;
    }
    host->socket = g_strdup(path);
    return TRUE;
}

static void
qvirBackingSetNetwork(qvirStorageSource *src, qvirStorageNetProtocol protocol)
{
    src->type = QVIR_STORAGE_TYPE_NETWORK;
    src->protocol = protocol;
}

static int
qvirBackingJSONGluster(qvirStorageSource *src, JsonNode *json, const char *jsonstr G_GNUC_UNUSED,
                       int opaque G_GNUC_UNUSED, GError **error)
{
    const char *uri = jsonString(json, "filename");
    const char *volume = jsonString(json, "volume");
    const char *path = jsonString(json, "path");
    JsonArray *servers = jsonArray(json, "server");
    guint n;

    if (uri)
        return qvirBackingJSONUriStr(src, uri, QVIR_STORAGE_NET_PROTOCOL_GLUSTER, error);
    if (!volume || !path || !servers) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing 'volume', 'path' or 'server' attribute in JSON backing definition "
                    "for gluster volume");
        return -1;
    }
    qvirBackingSetNetwork(src, QVIR_STORAGE_NET_PROTOCOL_GLUSTER);
    src->netVolume = g_strdup(volume);
    src->path = g_strdup(path);
    if ((n = json_array_get_length(servers)) == 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "at least 1 server is necessary in JSON backing definition for gluster "
                    "volume");
        return -1;
    }
    for (guint i = 0; i < n; i++) {
        if (!qvirBackingJSONSocket(qvirBackingAddHost(src), json_array_get_element(servers, i),
                                   error))
            return -1;
    }
    return 0;
}

static int
qvirBackingJSONiSCSI(qvirStorageSource *src, JsonNode *json, const char *jsonstr G_GNUC_UNUSED,
                     int opaque G_GNUC_UNUSED, GError **error)
{
    const char *transport = jsonString(json, "transport");
    const char *portal = jsonString(json, "portal");
    const char *target = jsonString(json, "target");
    g_autofree char *lun = jsonStringOrNumber(json, "lun");
    qvirStorageNetHost *host;
    const char *uri;
    char *port;

    if ((uri = jsonString(json, "filename")))
        return qvirBackingJSONUriStr(src, uri, QVIR_STORAGE_NET_PROTOCOL_ISCSI, error);

    qvirBackingSetNetwork(src, QVIR_STORAGE_NET_PROTOCOL_ISCSI);
    host = qvirBackingAddHost(src);
    if (g_strcmp0(transport, "tcp") != 0) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "only TCP transport is supported for iSCSI volumes");
        return -1;
    }
    host->transport = QVIR_STORAGE_NET_HOST_TRANS_TCP;
    if (!portal) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing 'portal' address in iSCSI backing definition");
        return -1;
    }
    if (!target) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing 'target' in iSCSI backing definition");
        return -1;
    }
    /* "host:port" or "[v6]:port"; a v6 literal keeps its brackets in the host name */
    host->name = g_strdup(portal);
    if ((port = strrchr(host->name, ':')) && !strchr(port, ']')) {
        if (!qvirStorageNetHostParsePort(port + 1, &host->port, error))
            return -1;
        *port = '\0';
    }
    src->path = g_strdup_printf("%s/%s", target, lun ? lun : "0");

    if (jsonString(json, "user") || jsonString(json, "password"))
        return QVIR_STORAGE_BACKING_UNREPRESENTABLE;
    return 0;
}

static int
qvirBackingJSONNbd(qvirStorageSource *src, JsonNode *json, const char *jsonstr G_GNUC_UNUSED,
                   int opaque G_GNUC_UNUSED, GError **error)
{
    const char *path = jsonString(json, "path");
    const char *hostname = jsonString(json, "host");
    JsonNode *server = jsonObject(json, "server");
    qvirStorageNetHost *host;

    if (!path && !hostname && !server) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing host specification of NBD server in JSON backing volume definition");
        return -1;
    }
    qvirBackingSetNetwork(src, QVIR_STORAGE_NET_PROTOCOL_NBD);
    src->path = g_strdup(jsonString(json, "export"));
    host = qvirBackingAddHost(src);
    if (server)
        return qvirBackingJSONSocket(host, server, error) ? 0 : -1;
    if (path) {
        host->transport = QVIR_STORAGE_NET_HOST_TRANS_UNIX;
        host->socket = g_strdup(path);
        return 0;
    }
    host->transport = QVIR_STORAGE_NET_HOST_TRANS_TCP;
    host->name = g_strdup(hostname);
    return qvirStorageNetHostParsePort(jsonString(json, "port"), &host->port, error) ? 0 : -1;
}

static int
qvirBackingJSONSheepdog(qvirStorageSource *src, JsonNode *json, const char *jsonstr G_GNUC_UNUSED,
                        int opaque G_GNUC_UNUSED, GError **error)
{
    const char *filename = jsonString(json, "filename");
    const char *vdi = jsonString(json, "vdi");

    if (filename) {
        if (strstr(filename, "://"))
            return qvirBackingJSONUriStr(src, filename, QVIR_STORAGE_NET_PROTOCOL_SHEEPDOG, error);
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing sheepdog URI in JSON backing volume definition");
        return -1;
    }
    qvirBackingSetNetwork(src, QVIR_STORAGE_NET_PROTOCOL_SHEEPDOG);
    if (!vdi) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "missing sheepdog vdi name");
        return -1;
    }
    src->path = g_strdup(vdi);
    return qvirBackingJSONSocket(qvirBackingAddHost(src), jsonObject(json, "server"), error) ? 0
                                                                                             : -1;
}

static int
qvirBackingJSONSSH(qvirStorageSource *src, JsonNode *json, const char *jsonstr G_GNUC_UNUSED,
                   int opaque G_GNUC_UNUSED, GError **error)
{
    const char *path = jsonString(json, "path");
    const char *hostname = jsonString(json, "host");
    JsonNode *server = jsonObject(json, "server");
    qvirStorageNetHost *host;

    if (!(hostname || server) || !path) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing host/server or path of SSH JSON backing volume definition");
        return -1;
    }
    qvirBackingSetNetwork(src, QVIR_STORAGE_NET_PROTOCOL_SSH);
    src->path = g_strdup(path);
    host = qvirBackingAddHost(src);
    if (server) {
        if (!qvirBackingJSONInet(host, server, error))
            return -1;
    } else {
        host->transport = QVIR_STORAGE_NET_HOST_TRANS_TCP;
        host->name = g_strdup(hostname);
        if (!qvirStorageNetHostParsePort(jsonString(json, "port"), &host->port, error))
            return -1;
    }
    /* not modelled in the XML; kept only to be handed back to QEMU */
    src->sshUser = g_strdup(jsonString(json, "user"));
    src->sshHostKeyCheckDisabled = g_strcmp0(jsonString(json, "host_key_check"), "no") == 0;
    return 0;
}

static int
qvirBackingJSONRBD(qvirStorageSource *src, JsonNode *json, const char *jsonstr G_GNUC_UNUSED,
                   int opaque G_GNUC_UNUSED, GError **error)
{
    const char *filename = jsonString(json, "filename");
    const char *pool = jsonString(json, "pool");
    const char *image = jsonString(json, "image");
    JsonArray *servers = jsonArray(json, "server");

    qvirBackingSetNetwork(src, QVIR_STORAGE_NET_PROTOCOL_RBD);
    if (filename)
        return qvirBackingParseRBDColon(src, filename, error) ? 0 : -1;
    if (!pool || !image) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing pool or image name in ceph backing volume JSON specification");
        return -1;
    }
    src->netVolume = g_strdup(pool);
    src->path = g_strdup(image);
    src->snapshot = g_strdup(jsonString(json, "snapshot"));
    src->configFile = g_strdup(jsonString(json, "conf"));
    for (guint i = 0; servers && i < json_array_get_length(servers); i++) {
        if (!qvirBackingJSONInet(qvirBackingAddHost(src), json_array_get_element(servers, i),
                                 error))
            return -1;
    }
    return 0;
}

static int
qvirBackingJSONVxHS(qvirStorageSource *src, JsonNode *json, const char *jsonstr G_GNUC_UNUSED,
                    int opaque G_GNUC_UNUSED, GError **error)
{
    const char *vdisk = jsonString(json, "vdisk-id");
    JsonNode *server = jsonObject(json, "server");

    if (!vdisk || !server) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing 'vdisk-id' or 'server' attribute in JSON backing definition for "
                    "VxHS volume");
        return -1;
    }
    qvirBackingSetNetwork(src, QVIR_STORAGE_NET_PROTOCOL_VXHS);
    src->path = g_strdup(vdisk);
    return qvirBackingJSONInet(qvirBackingAddHost(src), server, error) ? 0 : -1;
}

static int
qvirBackingJSONNFS(qvirStorageSource *src, JsonNode *json, const char *jsonstr G_GNUC_UNUSED,
                   int opaque G_GNUC_UNUSED, GError **error)
{
    JsonNode *server = jsonObject(json, "server");
    int uid = -1, gid = -1;
    gboolean haveUid = jsonInt(json, "user", &uid);
    gboolean haveGid = jsonInt(json, "group", &gid);

    if (!server) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing 'server' attribute in JSON backing definition for NFS volume");
        return -1;
    }
    if (!haveUid || !haveGid) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing 'user' or 'group' attribute in JSON backing definition for NFS "
                    "volume");
        return -1;
    }
    if (!jsonString(json, "path")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "missing 'path' attribute in JSON backing definition for NFS volume");
        return -1;
    }
    src->path = g_strdup(jsonString(json, "path"));
    src->nfsUser = g_strdup_printf("+%d", uid);
    src->nfsGroup = g_strdup_printf("+%d", gid);
    qvirBackingSetNetwork(src, QVIR_STORAGE_NET_PROTOCOL_NFS);
    return qvirBackingJSONInet(qvirBackingAddHost(src), server, error) ? 0 : -1;
}

/* "raw" is a format driver: only at the top, and only around a protocol driver. */
static int
qvirBackingJSONRaw(qvirStorageSource *src, JsonNode *json, const char *jsonstr,
                   int opaque G_GNUC_UNUSED, GError **error)
{
    JsonNode *file;

    /* libvirt keeps these as a <slices> element qvirt does not model; taking the layer
     * without them would hand the guest the wrong bytes. */
    if (jsonMember(json, "offset") || jsonMember(json, "size")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "storage slices ('offset'/'size' of the 'raw' driver) in backing store "
                    "definition '%s' are not supported",
                    jsonstr);
        return -1;
    }
    if (!(file = jsonObject(json, "file"))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "JSON backing volume definition '%s' lacks 'file' object", jsonstr);
        return -1;
    }
    return qvirBackingParseJSONDriver(src, file, jsonstr, FALSE, error);
}

static int
qvirBackingJSONUnsupported(qvirStorageSource *src G_GNUC_UNUSED, JsonNode *json G_GNUC_UNUSED,
                           const char *jsonstr, int opaque G_GNUC_UNUSED, GError **error)
{
    g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                "NVMe storage in backing store definition '%s' is not supported", jsonstr);
    return -1;
}

typedef struct {
    const char *driver;
    gboolean formatDriver;
    qvirBackingJSONParser parse;
    int opaque;
} qvirBackingJSONDriverInfo;

static const qvirBackingJSONDriverInfo qvirBackingJSONDrivers[] = {
    {"file", FALSE, qvirBackingJSONPath, QVIR_STORAGE_TYPE_FILE},
    {"host_device", FALSE, qvirBackingJSONPath, QVIR_STORAGE_TYPE_BLOCK},
    {"host_cdrom", FALSE, qvirBackingJSONPath, QVIR_STORAGE_TYPE_BLOCK},
    {"http", FALSE, qvirBackingJSONUri, QVIR_STORAGE_NET_PROTOCOL_HTTP},
    {"https", FALSE, qvirBackingJSONUri, QVIR_STORAGE_NET_PROTOCOL_HTTPS},
    {"ftp", FALSE, qvirBackingJSONUri, QVIR_STORAGE_NET_PROTOCOL_FTP},
    {"ftps", FALSE, qvirBackingJSONUri, QVIR_STORAGE_NET_PROTOCOL_FTPS},
    {"tftp", FALSE, qvirBackingJSONUri, QVIR_STORAGE_NET_PROTOCOL_TFTP},
    {"gluster", FALSE, qvirBackingJSONGluster, 0},
    {"iscsi", FALSE, qvirBackingJSONiSCSI, 0},
    {"nbd", FALSE, qvirBackingJSONNbd, 0},
    {"sheepdog", FALSE, qvirBackingJSONSheepdog, 0},
    {"ssh", FALSE, qvirBackingJSONSSH, 0},
    {"rbd", FALSE, qvirBackingJSONRBD, 0},
    {"raw", TRUE, qvirBackingJSONRaw, 0},
    {"nfs", FALSE, qvirBackingJSONNFS, 0},
    {"vxhs", FALSE, qvirBackingJSONVxHS, 0},
    {"nvme", FALSE, qvirBackingJSONUnsupported, 0},
};

static int
qvirBackingParseJSONDriver(qvirStorageSource *src, JsonNode *json, const char *jsonstr,
                           gboolean allowFormat, GError **error)
{
    const char *driver = jsonString(json, "driver");

    if (!driver) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "JSON backing volume definition '%s' lacks driver name", jsonstr);
        return -1;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(qvirBackingJSONDrivers); i++) {
        const qvirBackingJSONDriverInfo *info = &qvirBackingJSONDrivers[i];

        if (!g_str_equal(driver, info->driver))
            continue;
        if (info->formatDriver && !allowFormat) {
            g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                        "JSON backing volume definition '%s' must not have nested format "
                        "drivers",
                        jsonstr);
            return -1;
        }
        return info->parse(src, json, jsonstr, info->opaque, error);
    }
    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                "missing parser implementation for JSON backing volume driver '%s'", driver);
    return -1;
}

/* TRUE when TEXT is one JSON object with nothing after it but white space. json-glib
 * keeps whatever follows a complete top-level value ("1{...}", "{...}{...}") in memory
 * it never frees, so such text must not reach it. Only brackets outside strings are
 * counted here; whether the object itself is well formed is json-glib's to say (an
 * object left open is handed on, and json-glib refuses it). */
static gboolean
qvirBackingJSONIsOneObject(const char *text)
{
    const char *p = text + strspn(text, " \t\r\n");
    size_t depth = 0;
    gboolean inString = FALSE;

    if (*p != '{')
        return FALSE;
    for (; *p; p++) {
        if (inString) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                inString = FALSE;
            continue;
        }
        if (*p == '"') {
            inString = TRUE;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (--depth == 0)
                return p[1 + strspn(p + 1, " \t\r\n")] == '\0';
        }
    }
    return TRUE;
}

static int
qvirBackingParseJSON(qvirStorageSource *src, const char *jsonstr, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(JsonNode) keys = NULL;
    g_autoptr(JsonNode) flat = NULL;
    g_autoptr(GError) err = NULL;
    JsonNode *root, *file = NULL;

    /* Only an object can describe a layer; checked before json-glib sees the text. */
    if (!qvirBackingJSONIsOneObject(jsonstr)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "cannot parse json %s: not one JSON object", jsonstr);
        return -1;
    }
    if (!json_parser_load_from_data(parser, jsonstr, -1, &err) ||
        !(root = json_parser_get_root(parser))) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR, "cannot parse json %s: %s", jsonstr,
                    err ? err->message : "empty document");
        return -1;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "JSON backing volume definition '%s' is not a JSON object", jsonstr);
        return -1;
    }
    if (!(keys = qvirBackingJSONDeflattenObject(json_node_get_object(root), error)))
        return -1;
    flat = qvirBackingJSONDeflattenArrays(keys);

    /* json:{"file":{"driver":...}} and json:{"driver":...} say the same */
    if (!jsonMember(flat, "driver"))
        file = jsonObject(flat, "file");
    return qvirBackingParseJSONDriver(src, file ? file : flat, jsonstr, TRUE, error);
}

/* ---- entry points ----------------------------------------------------------------------- */

int
qvirStorageSourceNewFromBackingAbsolute(const char *name, qvirStorageSource **out, GError **error)
{
    g_autoptr(qvirStorageSource) src = qvirStorageSourceNew();
    const char *json;
    int rc;

    *out = NULL;
    if (!name) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "backing store name is missing");
        return -1;
    }
    if (qvirStorageBackingNameIsFile(name)) {
        src->type = QVIR_STORAGE_TYPE_FILE;
        src->path = g_strdup(name);
        *out = g_steal_pointer(&src);
        return 0;
    }
    /* QEMU's vvfat ("fat:DIR") is a directory source, which qvirt does not have. */
    if (g_str_has_prefix(name, "fat:")) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_CONFIG_UNSUPPORTED,
                    "backing store '%s' is a directory (vvfat), which is not supported", name);
        return -1;
    }

    src->type = QVIR_STORAGE_TYPE_NETWORK;
    if ((json = g_str_has_prefix(name, "json:") ? name + strlen("json:") : NULL))
        rc = qvirBackingParseJSON(src, json, error);
    else if (strstr(name, "://"))
        rc = qvirBackingParseURI(src, name, error);
    else
        rc = qvirBackingParseColon(src, name, error) ? 0 : -1;
    if (rc < 0)
        return -1;

    qvirStorageSourceNetworkAssignDefaultPorts(src);
    /* Credentials a backing string carries could never be right for the VM. */
    g_clear_pointer(&src->auth, qvirStorageAuthFree);
    *out = g_steal_pointer(&src);
    return rc;
}

/* A relative name under a network parent stays on its server: same protocol, hosts and
 * volume, the path next to the parent's (libvirt joins with '/' without normalising). */
static qvirStorageSource *
qvirBackingNewRelative(const qvirStorageSource *parent, const char *rel)
{
    qvirStorageSource *src = qvirStorageSourceNew();

    if (parent->type != QVIR_STORAGE_TYPE_NETWORK) {
        src->type = QVIR_STORAGE_TYPE_FILE; /* BLOCK once stat says so */
        src->path = qvirFileResolveRelative(parent->path, rel);
        return src;
    }

    {
        g_autofree char *dir = g_path_get_dirname(parent->path ? parent->path : "");

        src->path = g_str_equal(dir, "/") ? g_strdup_printf("/%s", rel)
                                          : g_strdup_printf("%s/%s", dir, rel);
    }
    src->type = QVIR_STORAGE_TYPE_NETWORK;
    src->protocol = parent->protocol;
    src->nhosts = parent->nhosts;
    src->hosts = parent->nhosts ? g_new0(qvirStorageNetHost, parent->nhosts) : NULL;
    for (size_t i = 0; i < parent->nhosts; i++) {
        src->hosts[i].name = g_strdup(parent->hosts[i].name);
        src->hosts[i].port = parent->hosts[i].port;
        src->hosts[i].transport = parent->hosts[i].transport;
        src->hosts[i].socket = g_strdup(parent->hosts[i].socket);
    }
    src->netVolume = g_strdup(parent->netVolume);
    return src;
}

int
qvirStorageSourceNewFromBacking(const qvirStorageSource *parent, qvirStorageSource **out,
                                GError **error)
{
    const char *name = parent ? parent->backingStoreRaw : NULL;
    g_autoptr(qvirStorageSource) src = NULL;
    int rc = 0;

    *out = NULL;
    if (!name) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG, "backing store name is missing");
        return -1;
    }
    if (!g_path_is_absolute(name) && qvirStorageBackingNameIsFile(name))
        src = qvirBackingNewRelative(parent, name);
    else if ((rc = qvirStorageSourceNewFromBackingAbsolute(name, &src, error)) < 0)
        return -1;

    src->relPath = g_strdup(name);
    src->format = parent->backingFormat;
    src->readonly = TRUE;
    *out = g_steal_pointer(&src);
    return rc;
}
