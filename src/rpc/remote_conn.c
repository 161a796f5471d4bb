/*
 * remote_conn.c: opening a libvirt URI on another daemon, and calls of the REMOTE program
 * typed by the procedure table generated from remote_protocol.x (see remote_conn.h).
 */
#include "rpc/remote_conn.h"

#include <string.h>

#include "rpc/remote_dispatch_priv.h"
#include "qemu/qemu_conf.h"
#include "util/virenum.h"
#include "util/virerror.h"

/* What of a URI the client keeps to itself and what goes to the server. */
typedef struct {
    int transport; /* qvirRemoteTransport */
    char *socket;  /* unix: ?socket= */
    char *host;    /* tcp: the server (localhost when the URI names none) */
    char *port;    /* tcp: its port (libvirtd's 16509 when the URI names none) */
    char *name;    /* the URI without the transport, the server and the client's parameters */
} qvirRemoteURI;

/* libvirt's transports (remoteDriverTransport), in its order; we speak unix and tcp */
typedef enum {
    QVIR_REMOTE_TRANSPORT_TLS = 0,
    QVIR_REMOTE_TRANSPORT_UNIX,
    QVIR_REMOTE_TRANSPORT_SSH,
    QVIR_REMOTE_TRANSPORT_LIBSSH2,
    QVIR_REMOTE_TRANSPORT_EXT,
    QVIR_REMOTE_TRANSPORT_TCP,
    QVIR_REMOTE_TRANSPORT_LIBSSH,
    QVIR_REMOTE_TRANSPORT_LAST
} qvirRemoteTransport;

QVIR_ENUM_DECL(qvirRemoteTransport);
QVIR_ENUM_IMPL(qvirRemoteTransport, QVIR_REMOTE_TRANSPORT_LAST, "tls", "unix", "ssh", "libssh2",
               "ext", "tcp", "libssh");

static void
qvirRemoteURIClear(qvirRemoteURI *u)
{
    g_free(u->socket);
    g_free(u->host);
    g_free(u->port);
    g_free(u->name);
    memset(u, 0, sizeof(*u));
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qvirRemoteURI, qvirRemoteURIClear);

/* libvirt's remote driver takes these parameters for itself (remote_driver.c); any other
 * travels to the server in the name. */
static const char *const qvirRemoteURIClientParams[] = {
    "name",    "command",   "socket",       "auth",      "netcat",      "keyfile",
    "sshauth", "no_verify", "no_tty",       "pkipath",   "known_hosts", "known_hosts_verify",
    "mode",    "proxy",     "tls_priority", "no_sanity",
};

static gboolean
qvirRemoteURIParse(const char *str, qvirRemoteURI *out, GError **error)
{
    g_autoptr(GUri) uri = g_uri_parse(str, G_URI_FLAGS_ENCODED_QUERY, NULL);
    g_autoptr(GString) query = g_string_new(NULL);
    g_autofree char *driver = NULL;
    const char *plus;
    const char *host;
    const char *q;
    GUriParamsIter iter;
    char *key, *value;

    if (!uri) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                    "internal error: Unable to parse URI %s", str);
        return FALSE;
    }
    host = g_uri_get_host(uri) && *g_uri_get_host(uri) ? g_uri_get_host(uri) : NULL;
    plus = strchr(g_uri_get_scheme(uri), '+');
    driver = plus ? g_strndup(g_uri_get_scheme(uri), plus - g_uri_get_scheme(uri))
                  : g_strdup(g_uri_get_scheme(uri));
    if (plus) {
        g_autofree char *lower = g_ascii_strdown(plus + 1, -1);

        if ((out->transport = qvirRemoteTransportTypeFromString(lower)) < 0) {
            g_set_error_literal(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                                "invalid argument: remote_open: transport in URL not recognised "
                                "(should be tls|unix|ssh|ext|tcp|libssh2|libssh)");
            return FALSE;
        }
    } else {
        /* no transport and no host: libvirt's local unix socket; a host without one: tls */
        out->transport = host ? QVIR_REMOTE_TRANSPORT_TLS : QVIR_REMOTE_TRANSPORT_UNIX;
    }
    if (out->transport == QVIR_REMOTE_TRANSPORT_UNIX && host) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_INVALID_ARG,
                    "invalid argument: using unix socket and remote server '%s' is not "
                    "supported.",
                    host);
        return FALSE;
    }
    if (out->transport != QVIR_REMOTE_TRANSPORT_UNIX &&
        out->transport != QVIR_REMOTE_TRANSPORT_TCP) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: transport '%s' of URI '%s' is not supported by "
                    "qvirtd: it reaches its peers over unix sockets and tcp",
                    qvirRemoteTransportTypeToString(out->transport), str);
        return FALSE;
    }
    if ((q = g_uri_get_query(uri))) {
        g_uri_params_iter_init(&iter, q, -1, "&", G_URI_PARAMS_NONE);
        for (;;) {
            g_autoptr(GError) err = NULL;
            gboolean client = FALSE;

            if (!g_uri_params_iter_next(&iter, &key, &value, &err)) {
                if (err) {
                    g_set_error(error, QVIR_ERROR, QVIR_ERR_INTERNAL_ERROR,
                                "internal error: Unable to parse URI %s", str);
                    return FALSE;
                }
                break;
            }
            for (guint i = 0; i < G_N_ELEMENTS(qvirRemoteURIClientParams); i++)
                client |= g_ascii_strcasecmp(key, qvirRemoteURIClientParams[i]) == 0;
            if (g_ascii_strcasecmp(key, "socket") == 0) {
                g_free(out->socket);
                out->socket = g_strdup(value);
            } else if (!client) {
                g_autofree char *k = g_uri_escape_string(key, NULL, FALSE);
                g_autofree char *v = g_uri_escape_string(value, NULL, FALSE);

                g_string_append_printf(query, "%s%s=%s", query->len ? "&" : "", k, v);
            }
            g_free(key);
            g_free(value);
        }
    }
    if (out->transport == QVIR_REMOTE_TRANSPORT_TCP) {
        out->host = g_strdup(host ? host : "localhost");
        /* libvirtd's tcp_port when the URI names none */
        out->port = g_strdup_printf("%d", g_uri_get_port(uri) > 0 ? g_uri_get_port(uri)
                                                                  : QVIR_CONF_DEFAULT_TCP_PORT);
    } else if (!out->socket || !*out->socket) {
        g_set_error(error, QVIR_ERROR, QVIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: URI '%s' names no socket: qvirtd reaches its peers "
                    "over the unix socket given as ?socket=PATH",
                    str);
        return FALSE;
    }
    out->name = g_strdup_printf("%s://%s%s%s", driver, g_uri_get_path(uri), query->len ? "?" : "",
                                query->str);
    return TRUE;
}

gboolean
qvirRemoteConnCall(qvirRpcConn *conn, gint32 proc, gconstpointer args, gpointer ret, GError **error)
{
    const qvirRpcProcedure *p = qvirRemoteProcLookup(proc);

    g_return_val_if_fail(p != NULL, FALSE);
    return qvirRpcConnCall(conn, proc, p->args, args, p->ret, ret, error);
}

qvirRpcConn *
qvirRemoteConnOpen(const char *uri, GError **error)
{
    g_auto(qvirRemoteURI) parsed = {0};
    g_autoptr(qvirRpcConn) conn = NULL;
    remote_connect_open_args args = {0};

    if (!qvirRemoteURIParse(uri, &parsed, error))
        return NULL;
    if (parsed.transport == QVIR_REMOTE_TRANSPORT_TCP)
        conn = qvirRpcConnOpenTCP(parsed.host, parsed.port, QVIR_RPC_REMOTE_PROGRAM,
                                  QVIR_RPC_REMOTE_VERSION, error);
    else
        conn = qvirRpcConnOpenUnix(parsed.socket, QVIR_RPC_REMOTE_PROGRAM, QVIR_RPC_REMOTE_VERSION,
                                   error);
    if (!conn)
        return NULL;
    args.name = parsed.name;
    if (!qvirRemoteConnCall(conn, REMOTE_PROC_CONNECT_OPEN, &args, NULL, error))
        return NULL;
    return g_steal_pointer(&conn);
}

int
qvirRemoteConnSupportsFeature(qvirRpcConn *conn, int feature, GError **error)
{
    remote_connect_supports_feature_args args = {.feature = feature};
    remote_connect_supports_feature_ret ret = {0};

    if (!qvirRemoteConnCall(conn, REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, &args, &ret, error))
        return -1;
    return ret.supported != 0;
}

void
qvirRemoteConnClose(qvirRpcConn *conn)
{
    if (!conn)
        return;
    (void)qvirRemoteConnCall(conn, REMOTE_PROC_CONNECT_CLOSE, NULL, NULL, NULL);
    qvirRpcConnFree(conn);
}
