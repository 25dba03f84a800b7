/* Connections to the shared L2 cache's Redis (redis.c sends the commands, redis_conn.c drives
 * each socket against a deadline), kept in a papi_pool.
 *
 * Redis going away must never stall or fail a lookup: an outage is logged once when it starts
 * and once when it ends. While Redis is away a single caller probes it with a growing, jittered
 * backoff; everyone else skips Redis at the cost of a clock read. The outage state lives here,
 * on top of the pool: the pool only bounds and reuses the connections. */
#include "redis_pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Connections per client: the "pool-size" option (default 8), capped so that a thread storm
 * never opens hundreds of sockets against one Redis shared by every replica. */
#define REDIS_POOL_DEFAULT 8
#define REDIS_POOL_CAP 64
/* The "redis-max-row-bytes" option (options.c): a rendered row larger than this is neither
 * stored in Redis nor accepted from it. Nothing else bounds a row (a Snowflake answer may be
 * 64 MiB, an SQLite cell more), so the cap is a choice. */
#define REDIS_BACKOFF_FIRST_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
#define REDIS_DEFAULT_PORT 6379
#define REDIS_HOST_MAX 255
/* A persistent reply error (e.g. OOM under maxmemory) is logged at most this often. */
#define REDIS_REPLY_ERROR_LOG_MS 60000

struct papi__redis_pool {
    char host[REDIS_HOST_MAX + 1];
    int port;
    long db;
    char *password;     /* NULL when none; wiped on close */
    int64_t timeout_ms; /* for each backend call, connecting included */
    size_t row_max;
    const papi_host *phost;

    papi_pool *conns;
    size_t pool_max;
    pthread_mutex_t mu; /* the outage state below */
    uint64_t gen;       /* bumped at each outage: older connections are closed on return */
    bool down;
    bool probing; /* one caller is trying to reconnect */
    int64_t backoff_ms;
    int64_t next_attempt_ms; /* monotonic */
    int64_t down_since_ms;   /* monotonic */
    int64_t last_reply_error_log_ms;
    int64_t last_bad_value_log_ms;
    uint64_t rng;
};

/* ---------------------------------------------------------------- URL */

/* Digits only, within [lo, hi]; the text is never quoted back since it may sit next to a
 * password in the same URL. */
static bool parse_number(const char *s, size_t len, long lo, long hi, long *out)
{
    if (len == 0 || len > 9)
        return false;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* Decodes the percent-escapes of a password into pool->password. */
static papi_status set_password(papi__redis_pool *pool, papi_key userinfo, papi_error *err)
{
    if (userinfo.len == 0 || userinfo.ptr[0] != ':')
        return papi_error_set(err, PAPI_ECONFIG,
                              "redis cache URL: only ':password@' may precede the host "
                              "(no user name)");
    const char *pw = userinfo.ptr + 1;
    size_t pwlen = userinfo.len - 1;
    if (pwlen == 0)
        return papi_error_set(err, PAPI_ECONFIG, "redis cache URL: empty password");
    pool->password = calloc(1, pwlen + 1); /* NUL-terminated even if parsing stops midway */
    if (!pool->password)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < pwlen; i++) {
        if (pw[i] != '%') {
            pool->password[n++] = pw[i];
            continue;
        }
        int hi = i + 2 < pwlen ? hex_value(pw[i + 1]) : -1;
        int lo = i + 2 < pwlen ? hex_value(pw[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return papi_error_set(err, PAPI_ECONFIG,
                                  "redis cache URL: bad percent-escape in the password");
        pool->password[n++] = (char)(hi * 16 + lo);
        i += 2;
    }
    pool->password[n] = '\0';
    return PAPI_OK;
}

/* redis://[:password@]host[:port][/db]; the password may be percent-encoded. The userinfo is
 * split off by papi_url_split(), the function log redaction uses too. */
static papi_status parse_url(papi__redis_pool *pool, const char *spec, papi_error *err)
{
    papi_key scheme, userinfo, rest;
    if (!papi_url_split(spec, strlen(spec), &scheme, &userinfo, &rest) || scheme.len != 5 ||
        memcmp(scheme.ptr, "redis", 5) != 0)
        return papi_error_set(err, PAPI_ECONFIG, "redis cache: the spec must start with redis://");
    if (userinfo.ptr) {
        papi_status st = set_password(pool, userinfo, err);
        if (st != PAPI_OK)
            return st;
    }
    const char *p = rest.ptr;

    const char *host = p, *host_end;
    if (*p == '[') { /* IPv6 literal */
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return papi_error_set(err, PAPI_ECONFIG, "redis cache URL: unclosed '[' in the host");
        for (const char *q = host; q < host_end; q++)
            if (hex_value(*q) < 0 && *q != ':' && *q != '.')
                return papi_error_set(err, PAPI_ECONFIG,
                                      "redis cache URL: bad IPv6 address in the host");
        p = host_end + 1;
    } else {
        while (host_char_ok(*p))
            p++;
        host_end = p;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0)
        return papi_error_set(err, PAPI_ECONFIG, "redis cache URL: missing host");
    if (hlen > REDIS_HOST_MAX)
        return papi_error_set(err, PAPI_ECONFIG, "redis cache URL: host name too long");
    memcpy(pool->host, host, hlen);
    pool->host[hlen] = '\0';

    long port = REDIS_DEFAULT_PORT;
    if (*p == ':') {
        const char *ps = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (!parse_number(ps, (size_t)(p - ps), 1, 65535, &port))
            return papi_error_set(err, PAPI_ECONFIG,
                                  "redis cache URL: the port must be a number from 1 to 65535");
    }
    pool->port = (int)port;

    pool->db = 0;
    if (*p == '/') {
        const char *ds = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (!parse_number(ds, (size_t)(p - ds), 0, 999999, &pool->db))
            return papi_error_set(err, PAPI_ECONFIG,
                                  "redis cache URL: the database must be a number (e.g. /0)");
    }
    if (*p != '\0')
        return papi_error_set(err, PAPI_ECONFIG,
                              "redis cache URL: unexpected characters (expected "
                              "redis://[:password@]host:port/db)");
    return PAPI_OK;
}

/* ---------------------------------------------------------------- connections */

/* The pool's open function: connect, AUTH, SELECT before the deadline. While Redis is down only
 * the prober may connect: a caller that waited for a free slot must not knock as well. The
 * reason of a failure (never holding the password) goes into err's message. */
static papi_status conn_open(void *user, int64_t deadline_ms, void **handle, papi_error *err)
{
    papi__redis_pool *pool = user;
    pthread_mutex_lock(&pool->mu);
    bool refused = pool->down && !pool->probing;
    uint64_t gen = pool->gen;
    pthread_mutex_unlock(&pool->mu);
    if (refused)
        return papi_error_set(err, PAPI_EUNAVAIL, "down, backing off");
    char why[160];
    papi__redis_conn *conn =
        papi__redis_conn_open(pool->phost, pool->host, pool->port, pool->password, pool->db,
                              deadline_ms, why, sizeof why);
    if (!conn)
        return papi_error_set(err, PAPI_EUNAVAIL, "%s", why);
    conn->gen = gen;
    *handle = conn;
    return PAPI_OK;
}

static void conn_close(void *user, void *handle)
{
    (void)user;
    papi__redis_conn_close(handle);
}

static int64_t jittered_locked(papi__redis_pool *pool, int64_t ms)
{
    /* xorshift64: up to a quarter more, so replicas that lost Redis together do not knock on
     * its door in step */
    pool->rng ^= pool->rng << 13;
    pool->rng ^= pool->rng >> 7;
    pool->rng ^= pool->rng << 17;
    return ms + (int64_t)(pool->rng % (uint64_t)(ms / 4 + 1));
}

/* Records a failure; returns true when it starts an outage (the caller logs it, unlocked).
 * Only a failed probe grows the backoff: stragglers of the outage's first moments do not. */
static bool mark_down_locked(papi__redis_pool *pool, bool probe)
{
    int64_t now = papi_host_now_ms(pool->phost);
    bool started = !pool->down;
    if (!started && !probe)
        return false;
    if (started) {
        pool->down = true;
        pool->down_since_ms = now;
        pool->backoff_ms = REDIS_BACKOFF_FIRST_MS;
        pool->gen++; /* the idle connections are drained by the caller, unlocked */
    } else {
        pool->backoff_ms *= 2;
        if (pool->backoff_ms > REDIS_BACKOFF_MAX_MS)
            pool->backoff_ms = REDIS_BACKOFF_MAX_MS;
    }
    pool->next_attempt_ms = now + jittered_locked(pool, pool->backoff_ms);
    return started;
}

static void log_outage(papi__redis_pool *pool, const char *why)
{
    papi_host_logf(pool->phost, PAPI_LOG_WARN,
                   "redis cache %s:%d/%ld unavailable (%s); lookups go on without it, "
                   "reconnecting with backoff",
                   pool->host, pool->port, pool->db, why);
}

/* An outage began: connections from before it are not worth reusing. */
static void outage_started(papi__redis_pool *pool, const char *why)
{
    papi_pool_drain(pool->conns);
    log_outage(pool, why);
}

papi__redis_conn *papi__redis_pool_acquire(papi__redis_pool *pool, int64_t deadline_ms)
{
    pthread_mutex_lock(&pool->mu);
    bool probe = pool->down;
    if (probe) {
        if (pool->probing || papi_host_now_ms(pool->phost) < pool->next_attempt_ms) {
            pthread_mutex_unlock(&pool->mu);
            return NULL;
        }
        pool->probing = true;
    }
    pthread_mutex_unlock(&pool->mu);
    papi_error err;
    void *h = NULL;
    papi_status st = papi_pool_acquire(pool->conns, deadline_ms, &h, &err);
    pthread_mutex_lock(&pool->mu);
    if (probe)
        pool->probing = false;
    /* every slot busy until the deadline says nothing about Redis; a failed connect does */
    bool started = st != PAPI_OK && st != PAPI_ETIMEDOUT && mark_down_locked(pool, probe);
    int64_t lasted = -1;
    if (st == PAPI_OK && probe && pool->down) {
        lasted = papi_host_now_ms(pool->phost) - pool->down_since_ms;
        pool->down = false;
        ((papi__redis_conn *)h)->gen = pool->gen;
    }
    pthread_mutex_unlock(&pool->mu);
    if (started)
        outage_started(pool, err.message);
    if (lasted >= 0)
        papi_host_logf(pool->phost, PAPI_LOG_INFO,
                       "redis cache %s:%d/%ld available again after %lld ms", pool->host,
                       pool->port, pool->db, (long long)lasted);
    return st == PAPI_OK ? h : NULL;
}

void papi__redis_pool_release(papi__redis_pool *pool, papi__redis_conn *conn, const char *failure)
{
    pthread_mutex_lock(&pool->mu);
    bool current = conn->gen == pool->gen;
    bool keep = !failure && current && !pool->down;
    bool started = failure && current && mark_down_locked(pool, false);
    pthread_mutex_unlock(&pool->mu);
    papi_pool_release(pool->conns, conn, !keep);
    if (started)
        outage_started(pool, failure);
}

/* true at most once a minute per *last: a persistent fault is logged, not repeated per call */
static bool log_due(papi__redis_pool *pool, int64_t *last)
{
    int64_t now = papi_host_now_ms(pool->phost);
    pthread_mutex_lock(&pool->mu);
    bool due = *last == 0 || now - *last >= REDIS_REPLY_ERROR_LOG_MS;
    if (due)
        *last = now;
    pthread_mutex_unlock(&pool->mu);
    return due;
}

void papi__redis_pool_note_reply_error(papi__redis_pool *pool, const redisReply *r)
{
    if (log_due(pool, &pool->last_reply_error_log_ms))
        papi_host_logf(
            pool->phost, PAPI_LOG_WARN, "redis cache %s:%d/%ld refused a command: %.*s", pool->host,
            pool->port, pool->db,
            (int)(r && r->type == REDIS_REPLY_ERROR ? (r->len > 120 ? 120 : r->len) : 16),
            r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
}

void papi__redis_pool_note_bad_value(papi__redis_pool *pool)
{
    if (log_due(pool, &pool->last_bad_value_log_ms))
        papi_host_logf(pool->phost, PAPI_LOG_WARN,
                       "redis cache %s:%d/%ld holds a value under papi's prefix that is not in "
                       "papi's layout (bad freshness stamp); treated as a miss, further ones "
                       "are counted in cache_errors",
                       pool->host, pool->port, pool->db);
}

int64_t papi__redis_pool_timeout_ms(const papi__redis_pool *pool)
{
    return pool->timeout_ms;
}

size_t papi__redis_pool_row_max(const papi__redis_pool *pool)
{
    return pool->row_max;
}

/* ---------------------------------------------------------------- the pool */

static void free_pool(papi__redis_pool *pool)
{
    if (pool->password) {
        explicit_bzero(pool->password, strlen(pool->password));
        free(pool->password);
    }
    free(pool);
}

papi_status papi__redis_pool_open(const char *spec, const papi_config *cfg, const papi_host *host,
                                  papi__redis_pool **out, papi_error *err)
{
    *out = NULL;
    papi__redis_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    papi_status st = parse_url(pool, spec, err);
    if (st != PAPI_OK) {
        free_pool(pool);
        return st;
    }
    /* checked against the options' descriptors (options.c) when they were set */
    int64_t timeout_ms = 200, row_max = 1048576, size = REDIS_POOL_DEFAULT;
    if (cfg && (papi_config_get_int(cfg, "redis-timeout-ms", &timeout_ms) != PAPI_OK ||
                papi_config_get_int(cfg, "redis-max-row-bytes", &row_max) != PAPI_OK ||
                papi_config_get_int(cfg, "pool-size", &size) != PAPI_OK)) {
        free_pool(pool);
        return papi_error_set(err, PAPI_ECONFIG, "redis cache: its options are not readable");
    }
    pool->timeout_ms = timeout_ms;
    pool->row_max = (size_t)row_max;
    pool->pool_max = size > REDIS_POOL_CAP ? REDIS_POOL_CAP : (size_t)size;
    pool->phost = host;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    pool->rng = (uint64_t)wall_ms ^ ((uint64_t)(uintptr_t)pool << 16) ^ 0x9e3779b97f4a7c15ull;
    if (papi_pool_create(pool->pool_max, conn_open, conn_close, pool, host, &pool->conns) !=
        PAPI_OK) {
        free_pool(pool);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&pool->mu, NULL);

    /* Warm one connection so a misconfiguration shows in the log at start; Redis being down
     * is not an error here: the backend degrades and reconnects later. */
    papi__redis_conn *conn =
        papi__redis_pool_acquire(pool, papi_host_now_ms(pool->phost) + pool->timeout_ms);
    if (conn)
        papi__redis_pool_release(pool, conn, NULL);
    *out = pool;
    return PAPI_OK;
}

void papi__redis_pool_close(papi__redis_pool *pool)
{
    if (!pool)
        return;
    papi_pool_destroy(pool->conns);
    pthread_mutex_destroy(&pool->mu);
    free_pool(pool);
}
