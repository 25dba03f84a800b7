/* papi-httpd: configuration (env, then flags), the MHD daemon, signals and graceful drain. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "opts.h"

#define EXIT_USAGE 2

#define OPTS(m) CMD_FIELD(struct httpd_options, m)

static papi_status check_cors(const cmd_option *opt, const char *value, papi_error *err)
{
    (void)opt;
    static struct httpd_cors scratch; /* large; only the parser's thread, before serving */
    char msg[PAPI_ERROR_MESSAGE_MAX];
    if (httpd_cors_configure(&scratch, value, msg, sizeof msg) != 0)
        return papi_error_set(err, PAPI_EINVAL, "%s", msg);
    return PAPI_OK;
}

/* The server's own options, one row each: the descriptor (key, env var, type, default, min, max,
 * flags, help, check), then where the value goes. --help and the parser read only this. */
static const cmd_flag server_flags[] = {
    {.opt = {"listen", "PAPI_LISTEN", CMD_OPTION_TEXT, "0.0.0.0:8001", 0, 0, 0,
             "address to listen on: host:port, [v6]:port or port", NULL},
     .store = cmd_store_chars,
     OPTS(listen)},
    {.opt = {"max-connections", "PAPI_MAX_CONNECTIONS", CMD_OPTION_INT, "1024", 1, 65536, 0,
             "concurrent connections", NULL},
     .store = cmd_store_uint,
     OPTS(max_connections)},
    {.opt = {"max-connections-per-ip", "PAPI_MAX_CONNECTIONS_PER_IP", CMD_OPTION_INT, "0", 0, 65536,
             0, "concurrent connections from one address; 0: no limit (keep 0 behind a proxy)",
             NULL},
     .store = cmd_store_uint,
     OPTS(max_connections_per_ip)},
    /* the default, the cores, is set by configure() */
    {.opt = {"threads", "PAPI_THREADS", CMD_OPTION_INT, NULL, 1, 256, 0,
             "event-loop threads answering cache hits (default: the cores)", NULL},
     .store = cmd_store_uint,
     OPTS(threads)},
    /* a request that misses holds its worker while its ids wait for a batch: workers needed =
     * miss rate x miss latency (Little's law), e.g. 3,000/s x 100 ms = 300 (bench/misses:
     * 128 workers fell behind at 3,000 misses/s, 512 kept up); idle threads cost little */
    {.opt = {"workers", "PAPI_WORKERS", CMD_OPTION_INT, "512", 1, 4096, 0,
             "threads for lookups that reach the source", NULL},
     .store = cmd_store_uint,
     OPTS(workers)},
    {.opt = {"connection-timeout", "PAPI_CONNECTION_TIMEOUT", CMD_OPTION_INT, "30", 1, 86400, 0,
             "seconds a connection may stay silent", NULL},
     .store = cmd_store_uint,
     OPTS(connection_timeout_s)},
    {.opt = {"header-timeout", "PAPI_HEADER_TIMEOUT", CMD_OPTION_INT, "10", 1, 3600, 0,
             "seconds a client has to send a whole request", NULL},
     .store = cmd_store_uint,
     OPTS(header_timeout_s)},
    {.opt = {"shutdown-timeout", "PAPI_SHUTDOWN_TIMEOUT", CMD_OPTION_INT, "20", 0, 3600, 0,
             "seconds to finish requests after SIGTERM", NULL},
     .store = cmd_store_uint,
     OPTS(shutdown_timeout_s)},
    {.opt = {"ready-cache-ms", "PAPI_READY_CACHE_MS", CMD_OPTION_INT, "2000", 0, 3600000, 0,
             "how long a readiness probe's answer is reused", NULL},
     .store = cmd_store_uint,
     OPTS(ready_cache_ms)},
    {.opt = {"access-log", "PAPI_ACCESS_LOG", CMD_OPTION_BOOL, "1", 0, 0, 0,
             "write JSON access lines on stdout", NULL},
     .store = cmd_store_bool,
     OPTS(access_log)},
    {.opt = {"log-level", "PAPI_LOG_LEVEL", CMD_OPTION_TEXT, "info", 0, 0, 0,
             "error, warn, info or debug: library messages on stderr", NULL},
     .store = cmd_store_log_level,
     OPTS(log_level)},
    {.opt = {"client-max-age", "PAPI_CLIENT_MAX_AGE", CMD_OPTION_INT, "0", 0, 31536000, 0,
             "seconds browsers and CDNs may keep a lookup answer (Cache-Control: private, "
             "max-age); 0: no-store",
             NULL},
     .store = cmd_store_uint,
     OPTS(client_max_age_s)},
    {.opt = {"cors-origin", "PAPI_CORS_ORIGIN", CMD_OPTION_TEXT, NULL, 0, 0, 0,
             "origins whose pages may call the API: comma-separated scheme://host[:port], or *; "
             "unset: no CORS",
             check_cors},
     .store = cmd_store_str,
     OPTS(cors_origin)},
    /* checked against the source option by httpd_replica_configure() */
    {.opt = {"sync-interval", "PAPI_SYNC_INTERVAL", CMD_OPTION_TEXT, "0", 0, 0, 0,
             "re-sync the replica that is the first source (--source sqlite:FILE,snowflake) "
             "from the rest of the chain this often, e.g. 300, 5m, 1h; 0: never",
             NULL},
     .store = httpd_store_duration,
     OPTS(sync_interval_s)},
    {.opt = {"replica-max-age", "PAPI_REPLICA_MAX_AGE", CMD_OPTION_TEXT, "0", 0, 0, 0,
             "/readyz fails while the replica that is the first source is older than this "
             "(since its last sync ended), e.g. 15m; 0: no limit",
             NULL},
     .store = httpd_store_duration,
     OPTS(replica_max_age_s)},
    /* read by load_api_keys(), which checks it; listed for --help */
    {.opt = {NULL, "PAPI_API_KEYS", CMD_OPTION_TEXT, NULL, 0, 0, CMD_OPTION_SECRET,
             "comma-separated bearer keys; unset: no keys needed", NULL}},
};
#define NSERVER_FLAGS (sizeof server_flags / sizeof server_flags[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: papi-httpd [--option value | --option=value]...\n\n"
               "Server options (flags win over environment variables):\n");
    cmd_opts_help(f, server_flags, NSERVER_FLAGS);
    fprintf(f, "\nLibrary options (flags win over environment variables):\n");
    cmd_opts_help_library(f);
}

static int parse_port(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > 65535)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int load_api_keys(struct httpd *srv)
{
    const char *env = getenv("PAPI_API_KEYS");
    if (!env)
        return 0;
    const char *p = env;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *k = p;
        while (len > 0 && *k == ' ')
            k++, len--;
        while (len > 0 && k[len - 1] == ' ')
            len--;
        if (len > 0) {
            if (len > HTTPD_MAX_API_KEY_BYTES || srv->napi_keys == HTTPD_MAX_API_KEYS) {
                httpd_log_line("error", "PAPI_API_KEYS: at most %d keys of at most %d bytes",
                               HTTPD_MAX_API_KEYS, HTTPD_MAX_API_KEY_BYTES);
                return -1;
            }
            memcpy(srv->api_keys[srv->napi_keys], k, len);
            srv->api_key_len[srv->napi_keys++] = len;
        }
        p = end ? end + 1 : p + strlen(p);
    }
    if (srv->napi_keys == 0) {
        /* Set means keys are wanted: serving everyone because of a typo would fail open. */
        httpd_log_line("error",
                       "PAPI_API_KEYS is set but holds no key: unset it to serve without keys");
        return -1;
    }
    return 0;
}

static void lib_log(void *user, papi_log_level level, const char *message)
{
    (void)user;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    httpd_log_line(names[level <= PAPI_LOG_DEBUG ? level : PAPI_LOG_DEBUG], "%s", message);
}

/* MHD logs a line for each connection it refuses or each request it finds malformed, which a
 * client can make by the thousand: a few lines a second get through, the rest are counted. */
#define MHD_LOG_BURST 20

static int mhd_log_allowed(struct httpd_log_budget *b, unsigned *suppressed)
{
    int64_t now_s = httpd_now_us() / 1000000;
    pthread_mutex_lock(&b->lock);
    if (now_s != b->window_s) {
        b->window_s = now_s;
        b->used = 0;
    }
    int ok = b->used < MHD_LOG_BURST;
    if (ok) {
        b->used++;
        *suppressed = b->dropped;
        b->dropped = 0;
    } else {
        b->dropped++;
    }
    pthread_mutex_unlock(&b->lock);
    return ok;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct httpd *srv = cls;
    unsigned suppressed = 0;
    if (!mhd_log_allowed(&srv->mhd_log, &suppressed))
        return;
    if (suppressed)
        httpd_log_line("warn", "microhttpd: %u messages suppressed", suppressed);
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    httpd_log_line("warn", "microhttpd: %s", msg);
}

/* "host:port", "[v6]:port", ":port" or "port". */
static int resolve_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen)
{
    char host[256] = "", port[16] = "";
    const char *colon;
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof host)
            return -1;
        memcpy(host, spec + 1, (size_t)(rb - spec - 1));
        snprintf(port, sizeof port, "%s", rb + 2);
    } else if ((colon = strrchr(spec, ':')) != NULL) {
        if ((size_t)(colon - spec) >= sizeof host)
            return -1;
        memcpy(host, spec, (size_t)(colon - spec));
        snprintf(port, sizeof port, "%s", colon + 1);
    } else {
        snprintf(port, sizeof port, "%s", spec);
    }
    unsigned p;
    if (parse_port(port, &p) != 0)
        return -1;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &ai) != 0 || !ai)
        return -1;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* Options in order: defaults, environment, then flags (flags win). Returns 0, -1 when done
 * (--help, --version), or the exit code. */
static int configure(struct httpd *srv, papi_config *cfg, int argc, char **argv)
{
    struct httpd_options *o = &srv->opt;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cores > 0 && cores <= 256 ? (unsigned)cores : 1;
    cmd_parser p = {
        .flags = server_flags, .nflags = NSERVER_FLAGS, .target = o, .cfg = cfg, .version = true};
    papi_error err = {0};
    switch (cmd_opts_parse(&p, argc, argv, &err)) {
    case CMD_OPTS_OK:
        break;
    case CMD_OPTS_HELP:
        usage(stdout);
        return -1;
    case CMD_OPTS_VERSION:
        printf("papi-httpd %s (libpapi %s)\n", PAPI_VERSION_STRING, papi_version());
        return -1;
    case CMD_OPTS_EUSAGE:
        httpd_log_line("error", "%s (see --help)", err.message);
        return EXIT_USAGE;
    case CMD_OPTS_EVALUE:
    case CMD_OPTS_ELIBRARY:
        /* the message names the option, never a value (a value may be a secret) */
        httpd_log_line("error", "%s", err.message);
        return err.status == PAPI_ENOMEM ? 1 : EXIT_USAGE;
    }
    if (papi_config_set_log(cfg, lib_log, srv, o->log_level) != PAPI_OK)
        return EXIT_USAGE;
    char msg[PAPI_ERROR_MESSAGE_MAX];
    if (httpd_cors_configure(&srv->cors, o->cors_origin, msg, sizeof msg) != 0) {
        httpd_log_line("error", "--cors-origin: %s", msg); /* checked by the parser already */
        return EXIT_USAGE;
    }
    if (o->client_max_age_s)
        snprintf(srv->lookup_cache_control, sizeof srv->lookup_cache_control, "private, max-age=%u",
                 o->client_max_age_s);
    else
        snprintf(srv->lookup_cache_control, sizeof srv->lookup_cache_control, "no-store");
    if (resolve_listen(o->listen, &srv->listen_addr, &srv->listen_len) != 0) {
        httpd_log_line("error", "bad listen address %s (want host:port, [v6]:port or port)",
                       o->listen);
        return EXIT_USAGE;
    }
    return load_api_keys(srv) == 0 ? 0 : EXIT_USAGE;
}

/* A POST body holds at most --max-ids ids: its cap follows, within the server's body cap. */
static void size_post_bodies(struct httpd *srv, const papi_config *cfg)
{
    const char *v = papi_config_get(cfg, "max-ids");
    unsigned long n = v ? strtoul(v, NULL, 10) : 0;
    srv->max_ids = n ? (size_t)n : 100;
    size_t cap = srv->max_ids * HTTPD_POST_ID_BYTES + HTTPD_POST_SLACK_BYTES;
    srv->post_max_bytes = cap < HTTPD_MAX_BODY_BYTES ? cap : HTTPD_MAX_BODY_BYTES;
}

static struct MHD_Daemon *start_daemon(struct httpd *srv)
{
    struct sockaddr_storage *ss = &srv->listen_addr;
    uint16_t port = ss->ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)ss)->sin6_port)
                                              : ntohs(((struct sockaddr_in *)ss)->sin_port);
    /* A few epoll threads answer what the first cache tier holds without a context switch per
     * request; a request that may wait on the source is suspended and finished by a worker
     * (workers.c), so a slow source never stalls the hits of other clients. */
    /* papi writes the Date header itself, formatted once a second (logline.c), where MHD would
     * format it for every answer; MHD's own error pages (docs/HTTP.md) go without one. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_SUPPRESS_DATE_NO_CLOCK;
    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)httpd_notify_connection, srv},
        {MHD_OPTION_SOCK_ADDR, 0, ss},
        /* Ours is the limit (conn.c); each thread may hold all of it, and the evicted a while. */
        {MHD_OPTION_CONNECTION_LIMIT,
         (intptr_t)(httpd_mhd_connection_limit(srv) * srv->opt.threads), NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)srv->opt.max_connections_per_ip, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)srv->opt.connection_timeout_s, NULL},
        /* MHD zeroes this whole pool before each request of a keep-alive connection: at 128 KiB
         * that was a fifth of a cache hit's CPU, at 32 KiB still the largest item of papi's own
         * (docs/PERFORMANCE.md). 24 KiB holds a request line of about 23 KiB, so URLs past our
         * 8 KiB limit get our JSON 414 up to there (issue 13's 2,000 query arguments included); a
         * longer request line gets MHD's own 414 page (docs/HTTP.md). */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)HTTPD_CONNECTION_MEMORY_BYTES, NULL},
        {MHD_OPTION_THREAD_STACK_SIZE, (intptr_t)(512 * 1024), NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)httpd_uri_cb, srv},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)httpd_completed_cb, srv},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)httpd_no_unescape, srv},
        /* One thread is no pool: MHD warns about a pool of one, so none is asked for. */
        {srv->opt.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
         (intptr_t)srv->opt.threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* The logger first: MHD logs the options that come before it on its own, on stderr. */
    return MHD_start_daemon(flags, port, httpd_accept_policy, srv, httpd_handler, srv,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
}

/* Waits up to wait_us for SIGTERM or SIGINT, and closes overdue connections when a sweep is due.
 * Returns the signal, or 0. */
static int wait_signal(struct httpd *srv, sigset_t *sigs, int64_t wait_us, int64_t *next_sweep_us)
{
    struct timespec t = {wait_us / 1000000, (wait_us % 1000000) * 1000};
    int sig = sigtimedwait(sigs, NULL, &t);
    if (sig > 0)
        return sig;
    int64_t now = httpd_now_us();
    if (now >= *next_sweep_us) {
        httpd_conns_sweep(srv);
        *next_sweep_us = now + HTTPD_SWEEP_MS * 1000;
    }
    return 0;
}

/* How long the answers to requests abandoned at the deadline may take to go out. */
#define ABANDONED_GRACE_US (2 * 1000 * 1000)

static int drain(struct httpd *srv, sigset_t *sigs, int64_t *next_sweep_us)
{
    atomic_store(&srv->draining, 1);
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    int64_t deadline = httpd_now_us() + (int64_t)srv->opt.shutdown_timeout_s * 1000000;
    uint64_t left;
    while ((left = httpd_in_flight(srv)) > 0 && httpd_now_us() < deadline) {
        if (wait_signal(srv, sigs, 10 * 1000, next_sweep_us) > 0) {
            httpd_log_line("warn", "second signal: stopping now");
            break;
        }
    }
    left = httpd_in_flight(srv);
    if (left)
        httpd_log_line("warn", "%llu requests still running at the deadline", (unsigned long long)left);
    /* MHD may not stop with connections suspended, and those still waiting for a worker were
     * promised an answer: they are resumed to be answered 503, which takes their event loop a
     * moment. Stopping the daemon before that would close them empty. */
    if (httpd_workers_abandon(srv) > 0) {
        int64_t grace = httpd_now_us() + ABANDONED_GRACE_US;
        while (atomic_load(&srv->abandoned_unanswered) > 0 && httpd_now_us() < grace) {
            struct timespec t = {0, 10 * 1000 * 1000};
            nanosleep(&t, NULL);
        }
    }
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    httpd_hot_free(srv); /* after the event loops, the only threads that queue kept answers */
    httpd_workers_stop(srv);
    return left ? 1 : 0;
}

int httpd_main(int argc, char **argv, httpd_config_hook hook, void *hook_user)
{
    static struct httpd srv_storage; /* large (metrics arrays): not on the stack */
    struct httpd *srv = &srv_storage;
    memset(srv, 0, sizeof *srv);
    pthread_mutex_init(&srv->ready_lock, NULL);
    pthread_mutex_init(&srv->conns_lock, NULL);
    pthread_mutex_init(&srv->mhd_log.lock, NULL);
    pthread_mutex_init(&srv->hot_lock, NULL);
    if (getrandom(&srv->request_id_seed, sizeof srv->request_id_seed, 0) != sizeof srv->request_id_seed)
        srv->request_id_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

    /* Every thread (MHD's and the library's) inherits this mask; only sigtimedwait() below
     * takes these signals, so no handler runs inside a lookup. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    papi_config *cfg = NULL;
    if (papi_config_create(&cfg) != PAPI_OK) {
        httpd_log_line("error", "out of memory");
        return 1;
    }
    int rc = configure(srv, cfg, argc, argv);
    if (rc != 0) {
        papi_config_destroy(cfg);
        return rc < 0 ? 0 : rc;
    }
    if (hook && hook(cfg, hook_user) != 0) {
        papi_config_destroy(cfg);
        return 1;
    }
    size_post_bodies(srv, cfg);
    if ((rc = httpd_replica_configure(srv, cfg, lib_log, srv)) != 0) {
        httpd_replica_free(srv);
        papi_config_destroy(cfg);
        return rc;
    }
    papi_error err = {0};
    papi_status st = papi_client_create(cfg, &srv->client, &err);
    papi_config_destroy(cfg);
    if (st != PAPI_OK) {
        httpd_log_line("error", "cannot start: %s (%s)", err.message[0] ? err.message : papi_strerror(st),
                       papi_status_name(st));
        httpd_replica_free(srv);
        /* As papi's: 2 for a value no option takes (refused while parsing, above), 3 for options
         * that are each fine but do not make a client (a dataset file, a key, a replica). */
        return st == PAPI_ECONFIG ? HTTPD_EXIT_CONFIG : st == PAPI_EINVAL ? EXIT_USAGE : 1;
    }
    size_t nds = papi_client_dataset_count(srv->client);
    for (size_t i = 0; i < nds && srv->ndatasets < HTTPD_MAX_DATASETS; i++) {
        const char *name = papi_client_dataset_name(srv->client, i);
        if (name)
            srv->datasets[srv->ndatasets++] = name;
    }
    if (nds > HTTPD_MAX_DATASETS)
        httpd_log_line("warn", "only the first %d datasets get routes", HTTPD_MAX_DATASETS);

    httpd_routes_init(srv);
    if (httpd_openapi_init(srv) != 0) {
        httpd_log_line("error", "out of memory");
        httpd_replica_free(srv);
        papi_client_destroy(srv->client);
        return 1;
    }
    if (srv->opt.access_log && httpd_alog_start() != 0)
        httpd_log_line("warn", "access log: no writer thread, writing each line at once");
    if (httpd_workers_start(srv, srv->opt.workers) != 0) {
        httpd_log_line("error", "cannot start worker threads");
        httpd_replica_free(srv);
        papi_client_destroy(srv->client);
        return 1;
    }
    srv->daemon = start_daemon(srv);
    if (!srv->daemon) {
        httpd_log_line("error", "cannot listen on %s", srv->opt.listen);
        httpd_workers_stop(srv);
        httpd_replica_free(srv);
        papi_client_destroy(srv->client);
        return 1;
    }
    if (httpd_replica_start(srv) != 0)
        httpd_log_line("warn", "replica: no thread to sync and watch it");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    httpd_log_line("info", "listening on %s port %u (%zu datasets, %zu API keys, max %u connections)",
                   srv->opt.listen, (unsigned)srv->port, srv->ndatasets, srv->napi_keys,
                   srv->opt.max_connections);
    if (srv->opt.max_connections_per_ip)
        httpd_log_line("info", "at most %u connections per client address",
                       srv->opt.max_connections_per_ip);

    int sig;
    int64_t next_sweep_us = 0;
    while ((sig = wait_signal(srv, &sigs, HTTPD_SWEEP_MS * 1000, &next_sweep_us)) == 0)
        ;
    httpd_log_line("info", "signal %d: draining (up to %u s)", sig, srv->opt.shutdown_timeout_s);
    int abandoned = httpd_replica_stop(srv);
    rc = drain(srv, &sigs, &next_sweep_us);
    httpd_alog_stop();
    httpd_replica_free(srv);
    papi_client_destroy(srv->client);
    free(srv->openapi);
    httpd_log_line("info", "stopped");
    if (abandoned) {
        /* The abandoned sync's thread is still inside the source's client: exit() would run
         * the libraries' clean-ups under it. */
        fflush(NULL);
        _exit(rc);
    }
    return rc;
}
