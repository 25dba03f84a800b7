/* The shared L2 cache: rendered rows in Redis, seen by every replica.
 *
 * A cache must never turn into an error for the caller (STYLE.md 10): every failure here becomes
 * a miss (get) or a no-op (put), bumps the cache_errors counter, and an outage is logged once when
 * it starts and once when it ends. While Redis is away a single caller probes it with a growing,
 * jittered backoff; everyone else skips Redis at the cost of a clock read.
 *
 * Value layout (version-tagged by the first byte so a future layout can coexist):
 *   "F<fresh_until_ms>:<row JSON>"  a row, fresh until that wall-clock time, stored with
 *                                    PX = found_ms + stale_ms so it outlives freshness only by
 *                                    the staleness window (then it is PAPI_CACHE_EXPIRED)
 *   "A"                              a negative entry, stored with PX = absent_ms
 * Freshness uses the wall clock, not the monotonic one: the stamp is written by one replica and
 * read by another, and only the wall clock is shared (to within NTP skew, which is far below any
 * sensible TTL). */
#include "internal.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REDIS_KEY_PREFIX "papi:"
#define REDIS_KEY_PREFIX_LEN 5
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

typedef struct redis_conn {
    redisContext *ctx;
    uint64_t gen; /* the outage generation it was opened in */
} redis_conn;

typedef struct redis_cache {
    char host[REDIS_HOST_MAX + 1];
    int port;
    long db;
    char *password; /* NULL when none; wiped on close */
    int64_t timeout_ms;
    const papi_host *phost;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* a connection came back, or an outage began */
    redis_conn *idle[REDIS_POOL_CAP];
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
} redis_cache;

static int64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count_error(redis_cache *rc)
{
    if (rc->phost && rc->phost->count)
        rc->phost->count(rc->phost->ctx, PAPI_COUNTER_CACHE_ERRORS, 1);
}

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
static papi_status parse_url(redis_cache *rc, const char *spec, papi_error *err)
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
        rc->password = calloc(1, pwlen + 1); /* NUL-terminated even if parsing stops midway */
        if (!rc->password)
            return papi_error_set(err, PAPI_ENOMEM, "out of memory");
        size_t n = 0;
        for (size_t i = 0; i < pwlen; i++) {
            if (pw[i] != '%') {
                rc->password[n++] = pw[i];
                continue;
            }
            int hi = i + 2 < pwlen ? hex_value(pw[i + 1]) : -1;
            int lo = i + 2 < pwlen ? hex_value(pw[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return papi_error_set(err, PAPI_ECONFIG,
                                      "redis cache URL: bad percent-escape in the password");
            rc->password[n++] = (char)(hi * 16 + lo);
            i += 2;
        }
        rc->password[n] = '\0';
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
    memcpy(rc->host, host, hlen);
    rc->host[hlen] = '\0';

    long port = REDIS_DEFAULT_PORT;
    if (*p == ':') {
        const char *ps = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (!parse_number(ps, (size_t)(p - ps), 1, 65535, &port))
            return papi_error_set(err, PAPI_ECONFIG,
                                  "redis cache URL: the port must be a number from 1 to 65535");
    }
    rc->port = (int)port;

    rc->db = 0;
    if (*p == '/') {
        const char *ds = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (!parse_number(ds, (size_t)(p - ds), 0, 999999, &rc->db))
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
static redisContext *connect_one(redis_cache *rc, char *why, size_t why_cap)
{
    struct timeval tv = {(time_t)(rc->timeout_ms / 1000),
                         (suseconds_t)(rc->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(rc->host, rc->port, tv);
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
    snprintf(dbtxt, sizeof dbtxt, "%ld", rc->db);
    const char *argv[2];
    size_t lens[2];
    for (int step = 0; step < 2; step++) {
        if (step == 0 && !rc->password)
            continue;
        if (step == 1 && rc->db == 0)
            continue;
        argv[0] = step == 0 ? "AUTH" : "SELECT";
        argv[1] = step == 0 ? rc->password : dbtxt;
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

static void close_idle_locked(redis_cache *rc)
{
    while (rc->nidle) {
        redis_conn *conn = rc->idle[--rc->nidle];
        redisFree(conn->ctx);
        free(conn);
        rc->nopen--;
    }
}

static int64_t jittered_locked(redis_cache *rc, int64_t ms)
{
    /* xorshift64: up to a quarter more, so replicas that lost Redis together do not knock on
     * its door in step */
    rc->rng ^= rc->rng << 13;
    rc->rng ^= rc->rng >> 7;
    rc->rng ^= rc->rng << 17;
    return ms + (int64_t)(rc->rng % (uint64_t)(ms / 4 + 1));
}

/* Records a failure; returns true when it starts an outage (the caller logs it, unlocked).
 * Only a failed probe grows the backoff: stragglers of the outage's first moments do not. */
static bool mark_down_locked(redis_cache *rc, bool probe)
{
    int64_t now = papi_now_ms();
    bool started = !rc->down;
    if (!started && !probe)
        return false;
    if (started) {
        rc->down = true;
        rc->down_since_ms = now;
        rc->backoff_ms = REDIS_BACKOFF_FIRST_MS;
        rc->gen++;
        close_idle_locked(rc);
        pthread_cond_broadcast(&rc->cv);
    } else {
        rc->backoff_ms *= 2;
        if (rc->backoff_ms > REDIS_BACKOFF_MAX_MS)
            rc->backoff_ms = REDIS_BACKOFF_MAX_MS;
    }
    rc->next_attempt_ms = now + jittered_locked(rc, rc->backoff_ms);
    return started;
}

static void log_outage(redis_cache *rc, const char *why)
{
    papi_host_logf(rc->phost, PAPI_LOG_WARN,
                   "redis cache %s:%d/%ld unavailable (%s); lookups go on without it, "
                   "reconnecting with backoff",
                   rc->host, rc->port, rc->db, why);
}

/* A connection for one command, or NULL: Redis is down, backing off, or every connection stayed
 * busy past the timeout. */
static redis_conn *acquire(redis_cache *rc)
{
    char why[160];
    pthread_mutex_lock(&rc->mu);
    int64_t give_up = papi_now_ms() + rc->timeout_ms;
    for (;;) {
        if (rc->down) {
            if (rc->probing || papi_now_ms() < rc->next_attempt_ms)
                break;
            rc->probing = true;
            pthread_mutex_unlock(&rc->mu);
            redisContext *c = connect_one(rc, why, sizeof why);
            pthread_mutex_lock(&rc->mu);
            rc->probing = false;
            if (!c) {
                mark_down_locked(rc, true);
                break;
            }
            redis_conn *conn = malloc(sizeof *conn);
            if (!conn) {
                redisFree(c);
                break;
            }
            int64_t lasted = papi_now_ms() - rc->down_since_ms;
            rc->down = false;
            conn->ctx = c;
            conn->gen = rc->gen;
            rc->nopen++;
            pthread_mutex_unlock(&rc->mu);
            papi_host_logf(rc->phost, PAPI_LOG_INFO,
                           "redis cache %s:%d/%ld available again after %lld ms", rc->host,
                           rc->port, rc->db, (long long)lasted);
            return conn;
        }
        if (rc->nidle) {
            redis_conn *conn = rc->idle[--rc->nidle];
            pthread_mutex_unlock(&rc->mu);
            return conn;
        }
        if (rc->nopen < rc->pool_max) {
            rc->nopen++;
            uint64_t gen = rc->gen;
            pthread_mutex_unlock(&rc->mu);
            redisContext *c = connect_one(rc, why, sizeof why);
            redis_conn *conn = c ? malloc(sizeof *conn) : NULL;
            if (conn) {
                conn->ctx = c;
                conn->gen = gen;
                return conn;
            }
            if (c)
                redisFree(c);
            pthread_mutex_lock(&rc->mu);
            rc->nopen--;
            bool started = mark_down_locked(rc, false);
            pthread_mutex_unlock(&rc->mu);
            if (started)
                log_outage(rc, c ? "out of memory" : why);
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
        pthread_cond_timedwait(&rc->cv, &rc->mu, &until);
    }
    pthread_mutex_unlock(&rc->mu);
    return NULL;
}

/* Gives a connection back. @p failure is NULL when the connection is healthy, else the reason it
 * broke (it is closed, and an outage begins unless one is already running). */
static void release(redis_cache *rc, redis_conn *conn, const char *failure)
{
    pthread_mutex_lock(&rc->mu);
    bool started = false;
    if (!failure && conn->gen == rc->gen && !rc->down && rc->nidle < rc->pool_max) {
        rc->idle[rc->nidle++] = conn;
        conn = NULL;
        pthread_cond_signal(&rc->cv);
    } else {
        rc->nopen--;
        if (failure && conn->gen == rc->gen)
            started = mark_down_locked(rc, false);
        pthread_cond_signal(&rc->cv);
    }
    pthread_mutex_unlock(&rc->mu);
    if (conn) {
        redisFree(conn->ctx);
        free(conn);
    }
    if (started)
        log_outage(rc, failure);
}

static void note_reply_error(redis_cache *rc, const redisReply *r)
{
    int64_t now = papi_now_ms();
    pthread_mutex_lock(&rc->mu);
    bool log_it = rc->last_reply_error_log_ms == 0 ||
                  now - rc->last_reply_error_log_ms >= REDIS_REPLY_ERROR_LOG_MS;
    if (log_it)
        rc->last_reply_error_log_ms = now;
    pthread_mutex_unlock(&rc->mu);
    if (log_it)
        papi_host_logf(
            rc->phost, PAPI_LOG_WARN, "redis cache %s:%d/%ld refused a command: %.*s", rc->host,
            rc->port, rc->db,
            (int)(r && r->type == REDIS_REPLY_ERROR ? (r->len > 120 ? 120 : r->len) : 16),
            r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
}

/* ---------------------------------------------------------------- backend */

static void free_cache(redis_cache *rc)
{
    if (rc->password) {
        explicit_bzero(rc->password, strlen(rc->password));
        free(rc->password);
    }
    free(rc);
}

static papi_status redis_open(const char *spec, const papi_config *cfg, const papi_host *host,
                              void *user, void **state, papi_error *err)
{
    (void)user;
    if (!spec || !state)
        return papi_error_set(err, PAPI_EINVAL, "redis cache: missing spec");
    *state = NULL;
    redis_cache *rc = calloc(1, sizeof *rc);
    if (!rc)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    papi_status st = parse_url(rc, spec, err);
    if (st != PAPI_OK) {
        free_cache(rc);
        return st;
    }
    rc->timeout_ms = REDIS_DEFAULT_TIMEOUT_MS;
    const char *t = cfg ? papi_config_get(cfg, "redis-timeout-ms") : NULL;
    long tv;
    if (t && *t) {
        if (!parse_number(t, strlen(t), 1, 600000, &tv)) {
            free_cache(rc);
            return papi_error_set(err, PAPI_ECONFIG,
                                  "redis-timeout-ms must be a number of milliseconds from 1");
        }
        rc->timeout_ms = tv;
    }
    rc->pool_max = REDIS_POOL_DEFAULT;
    const char *ps = cfg ? papi_config_get(cfg, "pool-size") : NULL;
    long pv;
    if (ps && parse_number(ps, strlen(ps), 1, 1 << 20, &pv))
        rc->pool_max = pv > REDIS_POOL_CAP ? REDIS_POOL_CAP : (size_t)pv;
    rc->phost = host;
    rc->rng = (uint64_t)wall_now_ms() ^ ((uint64_t)(uintptr_t)rc << 16) ^ 0x9e3779b97f4a7c15ull;
    pthread_mutex_init(&rc->mu, NULL);
    pthread_cond_init(&rc->cv, NULL);

    /* Warm one connection so a misconfiguration shows in the log at start; Redis being down
     * is not an error here: the backend degrades and reconnects later. */
    redis_conn *conn = acquire(rc);
    if (conn)
        release(rc, conn, NULL);
    *state = rc;
    return PAPI_OK;
}

static void redis_close(void *state)
{
    redis_cache *rc = state;
    if (!rc)
        return;
    pthread_mutex_lock(&rc->mu);
    close_idle_locked(rc);
    pthread_mutex_unlock(&rc->mu);
    pthread_cond_destroy(&rc->cv);
    pthread_mutex_destroy(&rc->mu);
    free_cache(rc);
}

/* Builds "papi:"+key for every key in one allocation; argv/lens get the keys at @p first. */
static char *prefixed_keys(const papi_key *keys, size_t n, const char **argv, size_t *lens,
                           size_t first, size_t stride)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += REDIS_KEY_PREFIX_LEN + keys[i].len;
    char *store = malloc(total ? total : 1);
    if (!store)
        return NULL;
    char *w = store;
    for (size_t i = 0; i < n; i++) {
        memcpy(w, REDIS_KEY_PREFIX, REDIS_KEY_PREFIX_LEN);
        if (keys[i].len)
            memcpy(w + REDIS_KEY_PREFIX_LEN, keys[i].ptr, keys[i].len);
        argv[first + i * stride] = w;
        lens[first + i * stride] = REDIS_KEY_PREFIX_LEN + keys[i].len;
        w += REDIS_KEY_PREFIX_LEN + keys[i].len;
    }
    return store;
}

static void decode_value(const redisReply *r, int64_t now_wall, papi_cache_entry *out)
{
    out->state = PAPI_CACHE_MISS;
    out->row = NULL;
    out->fresh_ms = 0;
    if (!r || r->type != REDIS_REPLY_STRING || r->len == 0)
        return;
    if (r->str[0] == 'A' && r->len == 1) {
        out->state = PAPI_CACHE_ABSENT;
        return;
    }
    if (r->str[0] != 'F')
        return; /* a layout we do not know: someone else's, or a newer papi's */
    int64_t fresh_until = 0;
    size_t i = 1;
    for (; i < r->len && i < 21 && r->str[i] >= '0' && r->str[i] <= '9'; i++)
        fresh_until = fresh_until * 10 + (r->str[i] - '0');
    if (i == 1 || i >= r->len || r->str[i] != ':')
        return;
    i++;
    out->row = papi_blob_create(r->str + i, r->len - i);
    if (!out->row)
        return;
    out->state = now_wall < fresh_until ? PAPI_CACHE_FOUND : PAPI_CACHE_EXPIRED;
    if (out->state == PAPI_CACHE_FOUND)
        out->fresh_ms = fresh_until - now_wall;
}

static papi_status redis_get(void *state, const papi_key *keys, size_t n, papi_cache_entry *out,
                             papi_error *err)
{
    (void)err;
    redis_cache *rc = state;
    for (size_t i = 0; i < n; i++) {
        out[i].state = PAPI_CACHE_MISS;
        out[i].row = NULL;
        out[i].fresh_ms = 0;
    }
    if (n == 0)
        return PAPI_OK;
    const char **argv = malloc((n + 1) * sizeof *argv);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    char *store = argv && lens ? prefixed_keys(keys, n, argv, lens, 1, 1) : NULL;
    if (!store) {
        free(argv);
        free(lens);
        count_error(rc);
        return PAPI_OK;
    }
    argv[0] = n == 1 ? "GET" : "MGET";
    lens[0] = n == 1 ? 3 : 4;

    redis_conn *conn = acquire(rc);
    if (!conn) {
        count_error(rc);
        goto done;
    }
    redisReply *r = redisCommandArgv(conn->ctx, (int)(n + 1), argv, lens);
    if (!r) {
        char why[160];
        snprintf(why, sizeof why, "%s", conn->ctx->errstr);
        release(rc, conn, why);
        count_error(rc);
        goto done;
    }
    release(rc, conn, NULL);
    int64_t now_wall = wall_now_ms();
    if (n == 1 && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL)) {
        decode_value(r, now_wall, &out[0]);
    } else if (n > 1 && r->type == REDIS_REPLY_ARRAY && r->elements == n) {
        for (size_t i = 0; i < n; i++)
            decode_value(r->element[i], now_wall, &out[i]);
    } else {
        note_reply_error(rc, r);
        count_error(rc);
    }
    freeReplyObject(r);
done:
    free(store);
    free(argv);
    free(lens);
    return PAPI_OK;
}

static papi_status redis_put(void *state, const papi_key *keys, papi_blob *const *rows, size_t n,
                             const papi_cache_ttl *ttl, papi_error *err)
{
    (void)err;
    redis_cache *rc = state;
    if (n == 0 || !ttl)
        return PAPI_OK;
    int64_t row_px = ttl->found_ms + (ttl->stale_ms > 0 ? ttl->stale_ms : 0);
    int64_t fresh_until = wall_now_ms() + ttl->found_ms;

    /* per key: SET key value PX ms */
    const char **argv = malloc(n * 5 * sizeof *argv);
    size_t *lens = malloc(n * 5 * sizeof *lens);
    char *store = argv && lens ? prefixed_keys(keys, n, argv, lens, 1, 5) : NULL;
    papi__buf vals;
    papi__buf_init(&vals);
    size_t *offs = malloc(n * sizeof *offs);
    char pxtxt[2][24];
    snprintf(pxtxt[0], sizeof pxtxt[0], "%lld", (long long)row_px);
    snprintf(pxtxt[1], sizeof pxtxt[1], "%lld", (long long)ttl->absent_ms);
    if (!store || !offs) {
        count_error(rc);
        goto done;
    }
    /* values first into one buffer (it may move while growing), pointers after */
    for (size_t i = 0; i < n; i++) {
        offs[i] = vals.len;
        if (rows[i]) {
            papi__buf_printf(&vals, "F%lld:", (long long)fresh_until);
            papi__buf_append(&vals, papi_blob_data(rows[i]), papi_blob_len(rows[i]));
        } else {
            papi__buf_putc(&vals, 'A');
        }
    }
    if (vals.oom) {
        count_error(rc);
        goto done;
    }
    /* compacts the commands in place, skipping zero lifetimes: slot argc never passes slot i */
    size_t argc = 0;
    const char **a = argv;
    size_t *l = lens;
    for (size_t i = 0; i < n; i++) {
        const char *px = rows[i] ? pxtxt[0] : pxtxt[1];
        if ((rows[i] ? row_px : ttl->absent_ms) <= 0)
            continue; /* a zero lifetime means "do not keep" */
        a[argc * 5 + 0] = "SET";
        l[argc * 5 + 0] = 3;
        a[argc * 5 + 1] = argv[1 + i * 5];
        l[argc * 5 + 1] = lens[1 + i * 5];
        a[argc * 5 + 2] = vals.data + offs[i];
        l[argc * 5 + 2] = (i + 1 < n ? offs[i + 1] : vals.len) - offs[i];
        a[argc * 5 + 3] = "PX";
        l[argc * 5 + 3] = 2;
        a[argc * 5 + 4] = px;
        l[argc * 5 + 4] = strlen(px);
        argc++;
    }
    if (argc == 0)
        goto done;
    redis_conn *conn = acquire(rc);
    if (!conn) {
        count_error(rc);
        goto done;
    }
    /* pipelined: every SET goes out before the first reply is read */
    bool ok = true;
    for (size_t i = 0; i < argc && ok; i++)
        ok = redisAppendCommandArgv(conn->ctx, 5, argv + i * 5, lens + i * 5) == REDIS_OK;
    bool refused = false;
    redisReply *bad = NULL;
    for (size_t i = 0; i < argc && ok; i++) {
        void *reply = NULL;
        if (redisGetReply(conn->ctx, &reply) != REDIS_OK) {
            ok = false;
            break;
        }
        redisReply *r = reply;
        if (r->type != REDIS_REPLY_STATUS && !refused) {
            refused = true;
            bad = r;
            continue;
        }
        freeReplyObject(r);
    }
    if (!ok) {
        char why[160];
        snprintf(why, sizeof why, "%s", conn->ctx->errstr[0] ? conn->ctx->errstr : "I/O error");
        release(rc, conn, why);
        count_error(rc);
    } else {
        release(rc, conn, NULL);
        if (refused) {
            note_reply_error(rc, bad);
            count_error(rc);
        }
    }
    freeReplyObject(bad);
done:
    papi__buf_free(&vals);
    free(offs);
    free(store);
    free(argv);
    free(lens);
    return PAPI_OK;
}

const papi_cache_backend papi__cache_redis = {
    .abi_version = PAPI_CACHE_ABI_VERSION,
    .struct_size = sizeof(papi_cache_backend),
    .name = "redis",
    .flags = 0,
    .open = redis_open,
    .close = redis_close,
    .get = redis_get,
    .put = redis_put,
};
