/* Connections to the shared L2 cache's Redis (cache_redis.c sends the commands).
 *
 * Redis going away must never stall or fail a lookup: an outage is logged once when it starts
 * and once when it ends. While Redis is away a single caller probes it with a growing, jittered
 * backoff; everyone else skips Redis at the cost of a clock read. */
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
#define REDIS_DEFAULT_TIMEOUT_MS 200
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
    char *password; /* NULL when none; wiped on close */
    int64_t timeout_ms;
    const papi_host *phost;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* a connection came back, or an outage began */
    papi__redis_conn *idle[REDIS_POOL_CAP];
    size_t pool_max;
    size_t nidle;
    size_t nopen; /* idle + checked out */
    uint64_t gen; /* bumped at each outage: older connections are closed on return */
    bool down;
    bool probing; /* one caller is trying to reconnect */
    int64_t backoff_ms;
    int64_t next_attempt_ms; /* monotonic */
    int64_t down_since_ms;   /* monotonic */
    int64_t last_reply_error_log_ms;
    uint64_t rng;
};

/* ---------------------------------------------------------------- URL */

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

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* redis://[:password@]host[:port][/db]; the password may be percent-encoded. */
static papi_status parse_url(papi__redis_pool *pool, const char *spec, papi_error *err)
{
    const char *p = spec + 8; /* backends.c matched "redis://" */
    if (strncmp(spec, "redis://", 8) != 0)
        return papi_error_set(err, PAPI_ECONFIG, "redis cache: the spec must start with redis://");
    const char *at = strrchr(p, '@');
    if (at) {
        if (*p != ':')
            return papi_error_set(err, PAPI_ECONFIG,
                                  "redis cache URL: only ':password@' may precede the host "
                                  "(no user name)");
        const char *pw = p + 1;
        size_t pwlen = (size_t)(at - pw);
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
        p = at + 1;
    }

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

/* Returns a ready connection or NULL with a reason (never containing the password). */
static redisContext *connect_one(papi__redis_pool *pool, char *why, size_t why_cap)
{
    struct timeval tv = {(time_t)(pool->timeout_ms / 1000),
                         (suseconds_t)(pool->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(pool->host, pool->port, tv);
    if (!c) {
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(why, why_cap, "%s", c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(why, why_cap, "cannot set the command timeout");
        redisFree(c);
        return NULL;
    }
    redisEnableKeepAlive(c);

    char dbtxt[16];
    snprintf(dbtxt, sizeof dbtxt, "%ld", pool->db);
    const char *argv[2];
    size_t lens[2];
    for (int step = 0; step < 2; step++) {
        if (step == 0 && !pool->password)
            continue;
        if (step == 1 && pool->db == 0)
            continue;
        argv[0] = step == 0 ? "AUTH" : "SELECT";
        argv[1] = step == 0 ? pool->password : dbtxt;
        lens[0] = strlen(argv[0]);
        lens[1] = strlen(argv[1]);
        redisReply *r = redisCommandArgv(c, 2, argv, lens);
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        if (!ok) {
            if (!r)
                snprintf(why, why_cap, "%s failed: %s", argv[0], c->errstr);
            else if (r->type == REDIS_REPLY_ERROR)
                snprintf(why, why_cap, "%s refused: %.*s", argv[0],
                         (int)(r->len > 120 ? 120 : r->len), r->str);
            else
                snprintf(why, why_cap, "%s: unexpected reply", argv[0]);
            freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c;
}

static void close_idle_locked(papi__redis_pool *pool)
{
    while (pool->nidle) {
        papi__redis_conn *conn = pool->idle[--pool->nidle];
        redisFree(conn->ctx);
        free(conn);
        pool->nopen--;
    }
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
    int64_t now = papi_now_ms();
    bool started = !pool->down;
    if (!started && !probe)
        return false;
    if (started) {
        pool->down = true;
        pool->down_since_ms = now;
        pool->backoff_ms = REDIS_BACKOFF_FIRST_MS;
        pool->gen++;
        close_idle_locked(pool);
        pthread_cond_broadcast(&pool->cv);
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

papi__redis_conn *papi__redis_pool_acquire(papi__redis_pool *pool)
{
    char why[160];
    pthread_mutex_lock(&pool->mu);
    int64_t give_up = papi_now_ms() + pool->timeout_ms;
    for (;;) {
        if (pool->down) {
            if (pool->probing || papi_now_ms() < pool->next_attempt_ms)
                break;
            pool->probing = true;
            pthread_mutex_unlock(&pool->mu);
            redisContext *c = connect_one(pool, why, sizeof why);
            pthread_mutex_lock(&pool->mu);
            pool->probing = false;
            if (!c) {
                mark_down_locked(pool, true);
                break;
            }
            papi__redis_conn *conn = malloc(sizeof *conn);
            if (!conn) {
                redisFree(c);
                break;
            }
            int64_t lasted = papi_now_ms() - pool->down_since_ms;
            pool->down = false;
            conn->ctx = c;
            conn->gen = pool->gen;
            pool->nopen++;
            pthread_mutex_unlock(&pool->mu);
            papi_host_logf(pool->phost, PAPI_LOG_INFO,
                           "redis cache %s:%d/%ld available again after %lld ms", pool->host,
                           pool->port, pool->db, (long long)lasted);
            return conn;
        }
        if (pool->nidle) {
            papi__redis_conn *conn = pool->idle[--pool->nidle];
            pthread_mutex_unlock(&pool->mu);
            return conn;
        }
        if (pool->nopen < pool->pool_max) {
            pool->nopen++;
            uint64_t gen = pool->gen;
            pthread_mutex_unlock(&pool->mu);
            redisContext *c = connect_one(pool, why, sizeof why);
            papi__redis_conn *conn = c ? malloc(sizeof *conn) : NULL;
            if (conn) {
                conn->ctx = c;
                conn->gen = gen;
                return conn;
            }
            if (c)
                redisFree(c);
            pthread_mutex_lock(&pool->mu);
            pool->nopen--;
            bool started = mark_down_locked(pool, false);
            pthread_mutex_unlock(&pool->mu);
            if (started)
                log_outage(pool, c ? "out of memory" : why);
            return NULL;
        }
        int64_t now = papi_now_ms();
        if (now >= give_up)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t wait_ms = give_up - now;
        until.tv_sec += (time_t)(wait_ms / 1000);
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&pool->cv, &pool->mu, &until);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

void papi__redis_pool_release(papi__redis_pool *pool, papi__redis_conn *conn, const char *failure)
{
    pthread_mutex_lock(&pool->mu);
    bool started = false;
    if (!failure && conn->gen == pool->gen && !pool->down && pool->nidle < pool->pool_max) {
        pool->idle[pool->nidle++] = conn;
        conn = NULL;
        pthread_cond_signal(&pool->cv);
    } else {
        pool->nopen--;
        if (failure && conn->gen == pool->gen)
            started = mark_down_locked(pool, false);
        pthread_cond_signal(&pool->cv);
    }
    pthread_mutex_unlock(&pool->mu);
    if (conn) {
        redisFree(conn->ctx);
        free(conn);
    }
    if (started)
        log_outage(pool, failure);
}

void papi__redis_pool_note_reply_error(papi__redis_pool *pool, const redisReply *r)
{
    int64_t now = papi_now_ms();
    pthread_mutex_lock(&pool->mu);
    bool log_it = pool->last_reply_error_log_ms == 0 ||
                  now - pool->last_reply_error_log_ms >= REDIS_REPLY_ERROR_LOG_MS;
    if (log_it)
        pool->last_reply_error_log_ms = now;
    pthread_mutex_unlock(&pool->mu);
    if (log_it)
        papi_host_logf(
            pool->phost, PAPI_LOG_WARN, "redis cache %s:%d/%ld refused a command: %.*s", pool->host,
            pool->port, pool->db,
            (int)(r && r->type == REDIS_REPLY_ERROR ? (r->len > 120 ? 120 : r->len) : 16),
            r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
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
    pool->timeout_ms = REDIS_DEFAULT_TIMEOUT_MS;
    const char *t = cfg ? papi_config_get(cfg, "redis-timeout-ms") : NULL;
    long tv;
    if (t && *t) {
        if (!parse_number(t, strlen(t), 1, 600000, &tv)) {
            free_pool(pool);
            return papi_error_set(err, PAPI_ECONFIG,
                                  "redis-timeout-ms must be a number of milliseconds from 1");
        }
        pool->timeout_ms = tv;
    }
    pool->pool_max = REDIS_POOL_DEFAULT;
    const char *ps = cfg ? papi_config_get(cfg, "pool-size") : NULL;
    long pv;
    if (ps && parse_number(ps, strlen(ps), 1, 1 << 20, &pv))
        pool->pool_max = pv > REDIS_POOL_CAP ? REDIS_POOL_CAP : (size_t)pv;
    pool->phost = host;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    pool->rng = (uint64_t)wall_ms ^ ((uint64_t)(uintptr_t)pool << 16) ^ 0x9e3779b97f4a7c15ull;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);

    /* Warm one connection so a misconfiguration shows in the log at start; Redis being down
     * is not an error here: the backend degrades and reconnects later. */
    papi__redis_conn *conn = papi__redis_pool_acquire(pool);
    if (conn)
        papi__redis_pool_release(pool, conn, NULL);
    *out = pool;
    return PAPI_OK;
}

void papi__redis_pool_close(papi__redis_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    close_idle_locked(pool);
    pthread_mutex_unlock(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    free_pool(pool);
}
