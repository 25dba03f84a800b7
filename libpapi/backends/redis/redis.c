/* The shared L2 cache: rendered rows in Redis, seen by every replica. The connections, and what
 * happens while Redis is away, are redis_pool.c's.
 *
 * A cache must never turn into an error for the caller (STYLE.md 10): every failure here becomes
 * a miss (get) or a no-op (put) and bumps the cache_errors counter.
 *
 * Value layout (version-tagged by the first byte so a future layout can coexist):
 *   "F<fresh_until_ms>:<row JSON>"  a row, fresh until that wall-clock time, stored with
 *                                    PX = found_ms + stale_ms so it outlives freshness only by
 *                                    the staleness window (then it is PAPI_CACHE_EXPIRED)
 *   "A"                              a negative entry, stored with PX = absent_ms
 * Freshness uses the wall clock, not the monotonic one: the stamp is written by one replica and
 * read by another, and only the wall clock is shared (to within NTP skew, which is far below any
 * sensible TTL).
 *
 * Redis is outside the process and may be hostile: each call is bounded by redis-timeout-ms as a
 * whole, replies by redis-max-row-bytes (redis_conn.c), and a value not in the layout above is a
 * miss. Whether the row inside is a row of the asked id is the core's check (lookup.c): keys
 * here are opaque bytes. */
#include "redis_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REDIS_KEY_PREFIX "papi:"
#define REDIS_KEY_PREFIX_LEN 5
/* SET answers "+OK" or an error line (e.g. OOM under maxmemory). */
#define SET_REPLY_MAX_BYTES 512

typedef struct redis_cache {
    papi__redis_pool *pool;
    const papi_host *phost;
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

/* ---------------------------------------------------------------- backend */

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
    papi_status st = papi__redis_pool_open(spec, cfg, host, &rc->pool, err);
    if (st != PAPI_OK) {
        free(rc);
        return st;
    }
    rc->phost = host;
    *state = rc;
    return PAPI_OK;
}

static void redis_close(void *state)
{
    redis_cache *rc = state;
    if (!rc)
        return;
    papi__redis_pool_close(rc->pool);
    free(rc);
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

/* "F" + the stamp's digits + ":" */
#define STAMP_MAX_BYTES 21

/* The digits of a stamp, within int64: false for none, another character first, or overflow. */
static bool parse_stamp(const char *s, size_t n, size_t *used, int64_t *out)
{
    int64_t v = 0;
    size_t i = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *used = i;
    *out = v;
    return i > 0;
}

/* Fills out from one value; false when it is under our prefix in our layout's form but broken
 * (the caller counts it). A layout we do not know is a plain miss: someone else's, or a newer
 * papi's. */
static bool decode_value(const redisReply *r, int64_t now_wall, papi_cache_entry *out)
{
    out->state = PAPI_CACHE_MISS;
    out->row = NULL;
    out->fresh_ms = 0;
    if (!r || r->type != REDIS_REPLY_STRING || r->len == 0)
        return true;
    if (r->str[0] == 'A' && r->len == 1) {
        out->state = PAPI_CACHE_ABSENT;
        return true;
    }
    if (r->str[0] != 'F')
        return true;
    int64_t fresh_until;
    size_t digits;
    if (!parse_stamp(r->str + 1, r->len - 1, &digits, &fresh_until) || digits + 1 >= r->len ||
        r->str[1 + digits] != ':')
        return false;
    size_t at = digits + 2;
    out->row = papi_blob_create(r->str + at, r->len - at);
    if (!out->row)
        return true; /* out of memory: a miss */
    out->state = now_wall < fresh_until ? PAPI_CACHE_FOUND : PAPI_CACHE_EXPIRED;
    if (out->state == PAPI_CACHE_FOUND)
        out->fresh_ms = fresh_until - now_wall;
    return true;
}

static void decode_reply(redis_cache *rc, const redisReply *r, size_t n, papi_cache_entry *out)
{
    int64_t now_wall = wall_now_ms();
    size_t bad = 0;
    if (n == 1 && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL)) {
        bad += !decode_value(r, now_wall, &out[0]);
    } else if (n > 1 && r->type == REDIS_REPLY_ARRAY && r->elements == n) {
        for (size_t i = 0; i < n; i++)
            bad += !decode_value(r->element[i], now_wall, &out[i]);
    } else {
        papi__redis_pool_note_reply_error(rc->pool, r);
        count_error(rc);
    }
    if (bad) {
        papi__redis_pool_note_bad_value(rc->pool);
        if (rc->phost && rc->phost->count)
            rc->phost->count(rc->phost->ctx, PAPI_COUNTER_CACHE_ERRORS, bad);
    }
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
    int64_t deadline = papi_host_now_ms(rc->phost) + papi__redis_pool_timeout_ms(rc->pool);
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

    papi__redis_conn *conn = papi__redis_pool_acquire(rc->pool, deadline);
    if (!conn) {
        count_error(rc);
        goto done;
    }
    /* a value is a stamped row, so a longer string or more elements than keys is no answer */
    papi__redis_limits lim = {n == 1 ? 0 : n, papi__redis_pool_row_max(rc->pool) + STAMP_MAX_BYTES};
    redisReply *r = NULL;
    char why[160];
    if (!papi__redis_conn_append(conn, (int)(n + 1), argv, lens)) {
        snprintf(why, sizeof why, "out of memory");
    } else if (papi__redis_conn_exchange(conn, 1, &lim, deadline, &r, why, sizeof why)) {
        papi__redis_pool_release(rc->pool, conn, NULL);
        decode_reply(rc, r, n, out);
        freeReplyObject(r);
        goto done;
    }
    papi__redis_pool_release(rc->pool, conn, why);
    count_error(rc);
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
    int64_t deadline = papi_host_now_ms(rc->phost) + papi__redis_pool_timeout_ms(rc->pool);
    size_t row_max = papi__redis_pool_row_max(rc->pool);
    int64_t row_px = ttl->found_ms + (ttl->stale_ms > 0 ? ttl->stale_ms : 0);
    int64_t fresh_until = wall_now_ms() + ttl->found_ms;

    /* per key: SET key value PX ms */
    const char **argv = malloc(n * 5 * sizeof *argv);
    size_t *lens = malloc(n * 5 * sizeof *lens);
    char *store = argv && lens ? prefixed_keys(keys, n, argv, lens, 1, 5) : NULL;
    papi_buf vals;
    papi_buf_init(&vals);
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
        if (rows[i] && papi_blob_len(rows[i]) > row_max) {
            continue; /* no reader would accept it: shared through the source instead */
        } else if (rows[i]) {
            papi_buf_printf(&vals, "F%lld:", (long long)fresh_until);
            papi_buf_append(&vals, papi_blob_data(rows[i]), papi_blob_len(rows[i]));
        } else {
            papi_buf_putc(&vals, 'A');
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
        if (rows[i] && papi_blob_len(rows[i]) > row_max)
            continue;
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
    redisReply **replies = malloc(argc * sizeof *replies);
    papi__redis_conn *conn = replies ? papi__redis_pool_acquire(rc->pool, deadline) : NULL;
    if (!conn) {
        free(replies);
        count_error(rc);
        goto done;
    }
    /* pipelined: every SET goes out before the first reply is read */
    bool ok = true;
    for (size_t i = 0; i < argc && ok; i++)
        ok = papi__redis_conn_append(conn, 5, argv + i * 5, lens + i * 5);
    char why[160];
    papi__redis_limits lim = {0, SET_REPLY_MAX_BYTES};
    if (!ok)
        snprintf(why, sizeof why, "out of memory");
    else
        ok = papi__redis_conn_exchange(conn, argc, &lim, deadline, replies, why, sizeof why);
    papi__redis_pool_release(rc->pool, conn, ok ? NULL : why);
    if (!ok) {
        count_error(rc);
    } else {
        const redisReply *bad = NULL;
        for (size_t i = 0; i < argc && !bad; i++)
            if (replies[i]->type != REDIS_REPLY_STATUS)
                bad = replies[i];
        if (bad) {
            papi__redis_pool_note_reply_error(rc->pool, bad);
            count_error(rc);
        }
        for (size_t i = 0; i < argc; i++)
            freeReplyObject(replies[i]);
    }
    free(replies);
done:
    papi_buf_free(&vals);
    free(offs);
    free(store);
    free(argv);
    free(lens);
    return PAPI_OK;
}

/* Found by name in libpapi/backends.c. */
const papi_cache_backend papi__cache_redis = {
    .abi_version = PAPI_CACHE_ABI_VERSION,
    .struct_size = sizeof(papi_cache_backend),
    .name = "redis",
    .flags = 0,
    .open = redis_open,
    .close = redis_close,
    .get = redis_get,
    .put = redis_put,
    .options = papi__redis_options,
    .noptions = PAPI__REDIS_NOPTIONS,
};
