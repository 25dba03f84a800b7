/* The redis cache backend table, driven directly against a real redis-server: what it stores,
 * how long, under which Redis keys, and how it degrades when Redis dies, stalls or comes back. */
#include "fake_redis.h"
#include "redis_options.h"
#include "redis_server.h"

#include <papi/papi.h>
#include <papi/papi_backend.h>

/* cmocka needs these before it, in this order */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- stand-ins for the core */

/* Only the options this backend reads; this program links the backend without config.c. */
struct papi_config {
    const char *redis_timeout_ms;
    const char *pool_size;
    const char *redis_max_row_bytes;
};

const char *papi_config_get(const papi_config *cfg, const char *key)
{
    if (cfg && strcmp(key, "redis-timeout-ms") == 0)
        return cfg->redis_timeout_ms;
    if (cfg && strcmp(key, "pool-size") == 0)
        return cfg->pool_size;
    if (cfg && strcmp(key, "redis-max-row-bytes") == 0)
        return cfg->redis_max_row_bytes;
    return NULL;
}

/* As the core's: the value set, else the default, checked against the backend's descriptor
 * (pool-size is the core's: 1..1024, default 8). */
papi_status papi_config_get_int(const papi_config *cfg, const char *key, int64_t *out)
{
    static const papi_option pool_size = {"pool-size", NULL, PAPI_OPTION_INT, "8", 1, 1024, 0,
                                          "",          NULL};
    const papi_option *o = strcmp(key, "pool-size") == 0 ? &pool_size : NULL;
    for (size_t i = 0; !o && i < papi__redis_noptions; i++)
        if (strcmp(papi__redis_options[i].key, key) == 0)
            o = &papi__redis_options[i];
    if (!o)
        return PAPI_EINVAL;
    const char *v = papi_config_get(cfg, key);
    if (!v)
        v = o->def;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || n < o->min || n > o->max)
        return PAPI_ECONFIG;
    *out = n;
    return PAPI_OK;
}

void papi_host_logf(const papi_host *host, papi_log_level level, const char *fmt, ...)
{
    if (!host || !host->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    host->log(host->ctx, level, line);
}

typedef struct test_host {
    pthread_mutex_t mu;
    char lines[32][512];
    papi_log_level levels[32];
    int nlines;
    atomic_uint_fast64_t cache_errors;
    papi_host host;
} test_host;

static void th_log(void *ctx, papi_log_level level, const char *message)
{
    test_host *th = ctx;
    pthread_mutex_lock(&th->mu);
    if (th->nlines < 32) {
        snprintf(th->lines[th->nlines], sizeof th->lines[0], "%s", message);
        th->levels[th->nlines] = level;
    }
    th->nlines++;
    pthread_mutex_unlock(&th->mu);
}

static void th_count(void *ctx, papi_host_counter counter, uint64_t delta)
{
    test_host *th = ctx;
    if (counter == PAPI_COUNTER_CACHE_ERRORS)
        atomic_fetch_add(&th->cache_errors, delta);
}

static void th_init(test_host *th)
{
    memset(th, 0, sizeof *th);
    pthread_mutex_init(&th->mu, NULL);
    th->host.struct_size = sizeof th->host;
    th->host.ctx = th;
    th->host.log = th_log;
    th->host.count = th_count;
}

static int th_count_level(test_host *th, papi_log_level level)
{
    int n = 0;
    pthread_mutex_lock(&th->mu);
    for (int i = 0; i < th->nlines && i < 32; i++)
        n += th->levels[i] == level;
    pthread_mutex_unlock(&th->mu);
    return n;
}

/* ---------------------------------------------------------------- helpers */

extern const papi_cache_backend papi__cache_redis; /* libpapi/backends/redis/redis.c */
static const papi_cache_backend *B = &papi__cache_redis;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static papi_key K(const char *s)
{
    papi_key k = {s, strlen(s)};
    return k;
}

static void *open_ok(const char *url, const papi_config *cfg, test_host *th)
{
    void *st = NULL;
    papi_error err;
    assert_int_equal(B->open(url, cfg, &th->host, NULL, &st, &err), PAPI_OK);
    assert_non_null(st);
    return st;
}

static char *url_of(const test_redis *r, const char *userinfo, int db)
{
    static _Thread_local char url[256];
    snprintf(url, sizeof url, "redis://%s127.0.0.1:%d/%d", userinfo ? userinfo : "", r->port, db);
    return url;
}

static void put_one(void *st, const char *key, const char *json, const papi_cache_ttl *ttl)
{
    papi_key k = K(key);
    papi_blob *b = json ? papi_blob_create(json, strlen(json)) : NULL;
    papi_blob *rows[1] = {b};
    assert_int_equal(B->put(st, &k, rows, 1, ttl, NULL), PAPI_OK);
    papi_blob_unref(b);
}

static papi_cache_state get_one(void *st, const char *key, char *json, size_t cap)
{
    papi_key k = K(key);
    papi_cache_entry e;
    assert_int_equal(B->get(st, &k, 1, &e, NULL), PAPI_OK);
    if (json && cap)
        snprintf(json, cap, "%s", e.row ? papi_blob_data(e.row) : "");
    if (e.state == PAPI_CACHE_FOUND || e.state == PAPI_CACHE_EXPIRED)
        assert_non_null(e.row);
    else
        assert_null(e.row);
    papi_blob_unref(e.row);
    return e.state;
}

static int setup_redis(void **state)
{
    test_redis *r = calloc(1, sizeof *r);
    if (!r || !test_redis_start(r)) {
        free(r);
        return -1;
    }
    *state = r;
    return 0;
}

static int teardown_redis(void **state)
{
    test_redis *r = *state;
    test_redis_kill(r);
    free(r);
    return 0;
}

static const papi_cache_ttl TTL_LONG = {60000, 30000, 0};

/* ---------------------------------------------------------------- URL */

static void test_url_rejected_without_echoing_password(void **state)
{
    (void)state;
    static const char *bad[] = {
        "redis://",
        "redis://:hunter2secret@",
        "redis://h:0/0",
        "redis://h:65536/0",
        "redis://h:63a9/0",
        "redis://h:6379/x",
        "redis://h:6379/",
        "redis://h:6379/0?timeout=1",
        "redis://h:6379/0/1",
        "redis://user:hunter2secret@h:6379/0",
        "redis://:@h:6379/0",
        "redis://:hunter2%zzsecret@h:6379/0",
        "redis://:hunter2secret%4@h:6379/0",
        "redis://[::1:6379/0",
        "redis://ho st:6379/0",
        "redis:/h:6379/0",
    };
    test_host th;
    th_init(&th);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *st = (void *)1;
        papi_error err;
        memset(&err, 0, sizeof err);
        papi_status s = B->open(bad[i], NULL, &th.host, NULL, &st, &err);
        if (s != PAPI_ECONFIG)
            fail_msg("accepted or wrong status for spec #%zu: %d", i, (int)s);
        assert_null(st);
        assert_int_equal(err.status, PAPI_ECONFIG);
        assert_true(strlen(err.message) > 0);
        assert_null(strstr(err.message, "hunter2"));
        assert_null(strstr(err.message, "secret"));
    }
    assert_int_equal(th.nlines, 0);
}

static void test_url_timeout_option_checked(void **state)
{
    (void)state;
    test_host th;
    th_init(&th);
    papi_config cfg = {"0", NULL, NULL};
    void *st = NULL;
    papi_error err;
    assert_int_equal(B->open("redis://127.0.0.1:1/0", &cfg, &th.host, NULL, &st, &err),
                     PAPI_ECONFIG);
    assert_null(st);
}

/* ---------------------------------------------------------------- storage */

static void test_put_get_single_and_mget(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    void *st = open_ok(url_of(r, NULL, 0), NULL, &th);

    papi_key keys[4] = {K("customer:abcd:1"), K("customer:abcd:2"), K("customer:abcd:3"),
                        K("customer:abcd:4")};
    const char *j1 = "{\"C_CUSTOMER_SK\":1,\"NAME\":\"Zoë O'Brien\"}";
    const char *j2 = "{\"C_CUSTOMER_SK\":2}";
    papi_blob *rows[3] = {papi_blob_create(j1, strlen(j1)), papi_blob_create(j2, strlen(j2)), NULL};
    assert_int_equal(B->put(st, keys, rows, 3, &TTL_LONG, NULL), PAPI_OK);

    /* MGET path: several keys in one call, one of them unknown */
    papi_cache_entry e[4];
    assert_int_equal(B->get(st, keys, 4, e, NULL), PAPI_OK);
    assert_int_equal(e[0].state, PAPI_CACHE_FOUND);
    assert_int_equal(papi_blob_len(e[0].row), strlen(j1));
    assert_memory_equal(papi_blob_data(e[0].row), j1, strlen(j1));
    assert_int_equal(e[1].state, PAPI_CACHE_FOUND);
    assert_string_equal(papi_blob_data(e[1].row), j2);
    assert_int_equal(e[2].state, PAPI_CACHE_ABSENT);
    assert_null(e[2].row);
    assert_int_equal(e[3].state, PAPI_CACHE_MISS);
    assert_null(e[3].row);
    for (int i = 0; i < 4; i++)
        papi_blob_unref(e[i].row);

    /* GET path */
    char json[256];
    assert_int_equal(get_one(st, "customer:abcd:2", json, sizeof json), PAPI_CACHE_FOUND);
    assert_string_equal(json, j2);

    /* stored under "papi:" + the key, with PX = found_ms (+ stale_ms, 0 here) */
    assert_true(test_redis_cmd(r, 0, "EXISTS %s", "papi:customer:abcd:1") == 1);
    assert_true(test_redis_cmd(r, 0, "EXISTS %s", "customer:abcd:1") == 0);
    long long pttl = test_redis_cmd(r, 0, "PTTL %s", "papi:customer:abcd:1");
    assert_true(pttl > 50000 && pttl <= 60000);
    pttl = test_redis_cmd(r, 0, "PTTL %s", "papi:customer:abcd:3");
    assert_true(pttl > 20000 && pttl <= 30000);

    papi_blob_unref(rows[0]);
    papi_blob_unref(rows[1]);
    assert_int_equal(atomic_load(&th.cache_errors), 0);
    assert_int_equal(th.nlines, 0);
    B->close(st);
}

static void test_binary_keys_and_namespaces_do_not_collide(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    void *st = open_ok(url_of(r, NULL, 0), NULL, &th);
    /* the same id under two shape hashes and two datasets, and keys with NUL and high bytes */
    put_one(st, "customer:1111111111111111:7", "{\"shape\":1}", &TTL_LONG);
    put_one(st, "customer:2222222222222222:7", "{\"shape\":2}", &TTL_LONG);
    put_one(st, "product:1111111111111111:7", NULL, &TTL_LONG);
    char json[64];
    assert_int_equal(get_one(st, "customer:1111111111111111:7", json, sizeof json),
                     PAPI_CACHE_FOUND);
    assert_string_equal(json, "{\"shape\":1}");
    assert_int_equal(get_one(st, "customer:2222222222222222:7", json, sizeof json),
                     PAPI_CACHE_FOUND);
    assert_string_equal(json, "{\"shape\":2}");
    assert_int_equal(get_one(st, "product:1111111111111111:7", NULL, 0), PAPI_CACHE_ABSENT);

    papi_key bin[2] = {{"t:x:a\0b", 7}, {"t:x:a\0c", 7}};
    papi_blob *rows[2] = {papi_blob_create("\"b\"", 3), papi_blob_create("\"c\"", 3)};
    assert_int_equal(B->put(st, bin, rows, 2, &TTL_LONG, NULL), PAPI_OK);
    papi_cache_entry e[2];
    assert_int_equal(B->get(st, bin, 2, e, NULL), PAPI_OK);
    assert_int_equal(e[0].state, PAPI_CACHE_FOUND);
    assert_int_equal(e[1].state, PAPI_CACHE_FOUND);
    assert_string_equal(papi_blob_data(e[0].row), "\"b\"");
    assert_string_equal(papi_blob_data(e[1].row), "\"c\"");
    for (int i = 0; i < 2; i++) {
        papi_blob_unref(e[i].row);
        papi_blob_unref(rows[i]);
    }
    B->close(st);
}

static void test_foreign_values_are_misses(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    void *st = open_ok(url_of(r, NULL, 0), NULL, &th);
    /* someone else's data (or a future layout) under our prefix is never served as a row */
    assert_true(test_redis_cmd(r, 0, "SET papi:ds:h:junk %s", "hello") >= 0);
    assert_true(test_redis_cmd(r, 0, "LPUSH papi:ds:h:list %s", "x") == 1);
    assert_int_equal(get_one(st, "ds:h:junk", NULL, 0), PAPI_CACHE_MISS);
    /* GET on a list is a reply error: a miss, counted, the connection still fine */
    assert_int_equal(get_one(st, "ds:h:list", NULL, 0), PAPI_CACHE_MISS);
    assert_int_equal(atomic_load(&th.cache_errors), 1);
    put_one(st, "ds:h:ok", "1", &TTL_LONG);
    assert_int_equal(get_one(st, "ds:h:ok", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(th_count_level(&th, PAPI_LOG_WARN), 1); /* the refusal, not an outage */
    B->close(st);
}

/* ---------------------------------------------------------------- lifetimes */

/* Polls until the key's state is no longer @p from; returns the new state and the time it took. */
static papi_cache_state wait_change(void *st, const char *key, papi_cache_state from,
                                    int64_t *took_ms)
{
    int64_t t0 = papi_now_ms();
    papi_cache_state s = from;
    while (s == from && papi_now_ms() - t0 < 10000) {
        sleep_ms(20);
        s = get_one(st, key, NULL, 0);
    }
    *took_ms = papi_now_ms() - t0;
    return s;
}

static void test_row_ttl_expires(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    void *st = open_ok(url_of(r, NULL, 0), NULL, &th);
    papi_cache_ttl ttl = {300, 30000, 0};
    int64_t t_put = papi_now_ms(); /* Redis cannot expire it before t_put + 300 */
    put_one(st, "d:h:ttl", "{}", &ttl);
    assert_int_equal(get_one(st, "d:h:ttl", NULL, 0), PAPI_CACHE_FOUND);
    int64_t took;
    assert_int_equal(wait_change(st, "d:h:ttl", PAPI_CACHE_FOUND, &took), PAPI_CACHE_MISS);
    assert_true(papi_now_ms() - t_put >= 250); /* kept for its lifetime, not dropped at once */
    assert_true(test_redis_cmd(r, 0, "EXISTS %s", "papi:d:h:ttl") == 0);
    B->close(st);
}

static void test_negative_ttl_expires(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    void *st = open_ok(url_of(r, NULL, 0), NULL, &th);
    papi_cache_ttl ttl = {60000, 300, 60000}; /* stale_ms never applies to negatives */
    int64_t t_put = papi_now_ms();
    put_one(st, "d:h:neg", NULL, &ttl);
    assert_int_equal(get_one(st, "d:h:neg", NULL, 0), PAPI_CACHE_ABSENT);
    assert_true(test_redis_cmd(r, 0, "PTTL %s", "papi:d:h:neg") <= 300);
    int64_t took;
    assert_int_equal(wait_change(st, "d:h:neg", PAPI_CACHE_ABSENT, &took), PAPI_CACHE_MISS);
    assert_true(papi_now_ms() - t_put >= 250);
    B->close(st);
}

static void test_expired_within_stale_window(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    void *st = open_ok(url_of(r, NULL, 0), NULL, &th);
    papi_cache_ttl ttl = {300, 1000, 600};
    put_one(st, "d:h:stale", "{\"old\":true}", &ttl);
    long long pttl = test_redis_cmd(r, 0, "PTTL %s", "papi:d:h:stale");
    assert_true(pttl > 700 && pttl <= 900); /* found_ms + stale_ms */
    assert_int_equal(get_one(st, "d:h:stale", NULL, 0), PAPI_CACHE_FOUND);
    int64_t took;
    char json[64];
    assert_int_equal(wait_change(st, "d:h:stale", PAPI_CACHE_FOUND, &took), PAPI_CACHE_EXPIRED);
    assert_int_equal(get_one(st, "d:h:stale", json, sizeof json), PAPI_CACHE_EXPIRED);
    assert_string_equal(json, "{\"old\":true}");
    /* and gone for good once the staleness window has passed too */
    assert_int_equal(wait_change(st, "d:h:stale", PAPI_CACHE_EXPIRED, &took), PAPI_CACHE_MISS);
    B->close(st);
}

/* ---------------------------------------------------------------- password and database */

static void test_password_and_database_from_url(void **state)
{
    (void)state;
    test_redis r = {0};
    snprintf(r.password, sizeof r.password, "s3cr%%t@pw");
    assert_true(test_redis_start(&r));
    test_host th;
    th_init(&th);
    /* '%' percent-encoded as %25; '@' inside the password is allowed (the last '@' ends it) */
    void *st = open_ok(url_of(&r, ":s3cr%25t@pw@", 3), NULL, &th);
    put_one(st, "d:h:db3", "{\"db\":3}", &TTL_LONG);
    assert_int_equal(get_one(st, "d:h:db3", NULL, 0), PAPI_CACHE_FOUND);
    assert_true(test_redis_cmd(&r, 3, "EXISTS %s", "papi:d:h:db3") == 1);
    assert_true(test_redis_cmd(&r, 0, "EXISTS %s", "papi:d:h:db3") == 0);
    assert_int_equal(th.nlines, 0);
    B->close(st);

    /* a wrong password degrades (open succeeds, lookups miss) and the log never shows it */
    test_host th2;
    th_init(&th2);
    st = open_ok(url_of(&r, ":wrongpassword@", 3), NULL, &th2);
    assert_int_equal(get_one(st, "d:h:db3", NULL, 0), PAPI_CACHE_MISS);
    assert_int_equal(th_count_level(&th2, PAPI_LOG_WARN), 1);
    assert_null(strstr(th2.lines[0], "wrongpassword"));
    assert_non_null(strstr(th2.lines[0], "AUTH"));
    assert_true(atomic_load(&th2.cache_errors) >= 1);
    B->close(st);
    test_redis_kill(&r);
}

/* ---------------------------------------------------------------- many threads */

typedef struct hammer_arg {
    void *st;
    int thread;
    int bad;
} hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *a = p;
    for (int i = 0; i < 300; i++) {
        char key[64], json[64], got[64];
        snprintf(key, sizeof key, "d:h:%d:%d", a->thread, i % 50);
        snprintf(json, sizeof json, "{\"t\":%d,\"i\":%d}", a->thread, i % 50);
        put_one(a->st, key, json, &TTL_LONG);
        papi_key k = K(key);
        papi_cache_entry e;
        if (B->get(a->st, &k, 1, &e, NULL) != PAPI_OK || e.state != PAPI_CACHE_FOUND)
            a->bad++;
        else {
            snprintf(got, sizeof got, "%s", papi_blob_data(e.row));
            if (strcmp(got, json) != 0)
                a->bad++;
        }
        papi_blob_unref(e.row);
    }
    return NULL;
}

static void test_many_threads_share_the_pool(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    /* a loaded CI machine must not turn waits for a connection into misses */
    papi_config cfg = {"2000", "3", NULL};
    void *st = open_ok(url_of(r, NULL, 0), &cfg, &th);
    enum { NT = 16 };
    pthread_t t[NT];
    hammer_arg a[NT];
    for (int i = 0; i < NT; i++) {
        a[i] = (hammer_arg){st, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &a[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].bad, 0);
    }
    assert_int_equal(atomic_load(&th.cache_errors), 0);
    /* a bounded pool (pool-size 3): 16 threads share 3 connections (+1: this query's own) */
    int clients = test_redis_clients(r);
    assert_true(clients >= 2);
    assert_true(clients <= 3 + 1);
    B->close(st);
}

/* ---------------------------------------------------------------- outages */

static void test_down_at_open_degrades(void **state)
{
    (void)state;
    test_host th;
    th_init(&th);
    int port = test_redis_free_port();
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    void *st = open_ok(url, NULL, &th);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(get_one(st, "d:h:1", NULL, 0), PAPI_CACHE_MISS);
        put_one(st, "d:h:1", "{}", &TTL_LONG);
    }
    assert_int_equal(th_count_level(&th, PAPI_LOG_WARN), 1);
    assert_non_null(strstr(th.lines[0], "unavailable"));
    assert_true(atomic_load(&th.cache_errors) >= 40);
    B->close(st);
}

static void test_killed_then_restarted(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    void *st = open_ok(url_of(r, NULL, 0), NULL, &th);
    put_one(st, "d:h:k", "{\"k\":1}", &TTL_LONG);
    assert_int_equal(get_one(st, "d:h:k", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(atomic_load(&th.cache_errors), 0);

    test_redis_kill(r); /* the fault: Redis crashes mid-run */
    assert_true(test_redis_cmd(r, 0, "PING", NULL) == -2);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(get_one(st, "d:h:k", NULL, 0), PAPI_CACHE_MISS);
        put_one(st, "d:h:k", "{\"k\":2}", &TTL_LONG);
    }
    assert_true(atomic_load(&th.cache_errors) >= 400);
    assert_int_equal(th.nlines, 1); /* one line per outage, not per call */
    assert_int_equal(th.levels[0], PAPI_LOG_WARN);

    assert_true(test_redis_start(r)); /* same port, empty (no persistence) */
    int64_t t0 = papi_now_ms();
    papi_cache_state s = PAPI_CACHE_MISS;
    while (s != PAPI_CACHE_FOUND && papi_now_ms() - t0 < 15000) {
        put_one(st, "d:h:k", "{\"k\":3}", &TTL_LONG);
        s = get_one(st, "d:h:k", NULL, 0);
        if (s != PAPI_CACHE_FOUND)
            sleep_ms(20);
    }
    assert_int_equal(s, PAPI_CACHE_FOUND);
    assert_int_equal(th_count_level(&th, PAPI_LOG_WARN), 1);
    assert_int_equal(th_count_level(&th, PAPI_LOG_INFO), 1);
    assert_non_null(strstr(th.lines[1], "available again"));
    uint64_t errs = atomic_load(&th.cache_errors);
    for (int i = 0; i < 20; i++)
        assert_int_equal(get_one(st, "d:h:k", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(atomic_load(&th.cache_errors), errs);
    B->close(st);
}

static void test_slow_redis_times_out_to_miss(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    papi_config cfg = {"100", NULL, NULL};
    void *st = open_ok(url_of(r, NULL, 0), &cfg, &th);
    put_one(st, "d:h:slow", "{}", &TTL_LONG);
    assert_int_equal(get_one(st, "d:h:slow", NULL, 0), PAPI_CACHE_FOUND);
    /* the fault: Redis stalls (SIGSTOP: it still accepts TCP, answers nothing) */
    assert_int_equal(kill(r->pid, SIGSTOP), 0);
    int64_t t0 = papi_now_ms();
    assert_int_equal(get_one(st, "d:h:slow", NULL, 0), PAPI_CACHE_MISS);
    int64_t took = papi_now_ms() - t0;
    assert_true(took >= 90);  /* it did wait for Redis: the stall was real */
    assert_true(took < 1000); /* and gave up on the command timeout */
    for (int i = 0; i < 50; i++)
        assert_int_equal(get_one(st, "d:h:slow", NULL, 0), PAPI_CACHE_MISS);
    assert_int_equal(th_count_level(&th, PAPI_LOG_WARN), 1);
    assert_true(atomic_load(&th.cache_errors) >= 51);
    sleep_ms(300);
    assert_int_equal(kill(r->pid, SIGCONT), 0);
    /* recovers after the stall */
    t0 = papi_now_ms();
    papi_cache_state s = PAPI_CACHE_MISS;
    while (s != PAPI_CACHE_FOUND && papi_now_ms() - t0 < 15000) {
        sleep_ms(50);
        s = get_one(st, "d:h:slow", NULL, 0);
    }
    assert_int_equal(s, PAPI_CACHE_FOUND);
    B->close(st);
}

/* A listener that accepts and at once closes every connection, counting them: the backend sees
 * a Redis that is "there but broken" on every attempt, which shows how often it knocks. */
typedef struct door {
    int fd;
    int port;
    atomic_int accepts;
    atomic_bool stop;
    pthread_t thread;
} door;

static void *door_run(void *p)
{
    door *d = p;
    while (!atomic_load(&d->stop)) {
        struct pollfd pfd = {d->fd, POLLIN, 0};
        if (poll(&pfd, 1, 20) > 0) {
            int c = accept(d->fd, NULL, NULL);
            if (c >= 0) {
                atomic_fetch_add(&d->accepts, 1);
                close(c);
            }
        }
    }
    return NULL;
}

static void *lookups_for_1500ms(void *st)
{
    int64_t t0 = papi_now_ms();
    while (papi_now_ms() - t0 < 1500) {
        papi_key k = K("d:h:storm");
        papi_cache_entry e;
        if (B->get(st, &k, 1, &e, NULL) != PAPI_OK || e.state != PAPI_CACHE_MISS)
            return (void *)1;
        sleep_ms(1);
    }
    return NULL;
}

static void test_reconnect_backs_off(void **state)
{
    (void)state;
    door d;
    memset(&d, 0, sizeof d);
    d.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(d.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(d.fd, 64), 0);
    assert_int_equal(getsockname(d.fd, (struct sockaddr *)&a, &len), 0);
    d.port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&d.thread, NULL, door_run, &d), 0);

    test_host th;
    th_init(&th);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/2", d.port); /* SELECT fails: closed */
    void *st = open_ok(url, NULL, &th);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, lookups_for_1500ms, st), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_null(bad);
    }
    atomic_store(&d.stop, true);
    pthread_join(d.thread, NULL);
    close(d.fd);
    int n = atomic_load(&d.accepts);
    /* 100, 200, 400, 800 ms (+ up to a quarter jitter) fit about 4 attempts in 1.5 s, plus the
     * one at open; thousands of lookups ran meanwhile */
    assert_true(n >= 2);
    assert_true(n <= 8);
    assert_int_equal(th_count_level(&th, PAPI_LOG_WARN), 1);
    B->close(st);
}

/* ---------------------------------------------------------------- a hostile Redis */

/* Bound on one call against a Redis that never finishes its reply. redis-timeout-ms is 300 ms
 * in these tests; 3 s leaves a loaded machine ten times that and still tells a bounded call from
 * one that waits for the fake to give up (8 s of dripping). */
#define HOSTILE_BOUND_MS 3000
/* What a refused reply may have cost: the kernel's socket buffers between the fake and us, not
 * the gigabyte the reply announced. */
#define HOSTILE_MAX_SENT ((size_t)16 << 20)

static fake_redis *fake_start(fake_redis_mode mode, size_t stream_max_bytes)
{
    fake_redis *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->mode = mode;
    f->drip_max_ms = 8000;
    f->stream_max_bytes = stream_max_bytes;
    assert_true(fake_redis_start(f));
    return f;
}

static void fake_free(fake_redis *f)
{
    fake_redis_stop(f);
    free(f);
}

static char *fake_url(const fake_redis *f, const char *userinfo, int db)
{
    static _Thread_local char url[256];
    snprintf(url, sizeof url, "redis://%s127.0.0.1:%d/%d", userinfo ? userinfo : "", f->port, db);
    return url;
}

/* The fake notices a hang-up at its next write: wait for it, boundedly. */
static bool wait_dropped(fake_redis *f, int n)
{
    int64_t t0 = papi_now_ms();
    while (atomic_load(&f->dropped) < n && papi_now_ms() - t0 < 5000)
        sleep_ms(20);
    return atomic_load(&f->dropped) >= n;
}

static long rss_bytes(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (fp) {
        if (fscanf(fp, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(fp);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

/* After the one hostile reply of f: the client hung up on it long before its end (refused from
 * its header or at the byte cap, not read through), memory barely moved, and it was counted. */
static void assert_refused_early(fake_redis *f, test_host *th, long rss0, const char *what)
{
    long grew = rss_bytes() - rss0;
    assert_int_equal(atomic_load(&f->faulty), 1);
    assert_true(wait_dropped(f, 1));
    size_t sent = atomic_load(&f->max_sent);
    print_message("%s: the client hung up after %zu bytes; resident memory grew %ld\n", what, sent,
                  grew);
    if (sent >= HOSTILE_MAX_SENT)
        fail_msg("the client read %zu bytes of a refused reply", sent);
    if (grew >= (64L << 20))
        fail_msg("resident memory grew by %ld bytes", grew);
    assert_true(atomic_load(&th->cache_errors) >= 1);
}

static void test_drip_get_is_bounded(void **state)
{
    (void)state;
    fake_redis *f = fake_start(FAKE_REDIS_DRIP_GET, 0);
    test_host th;
    th_init(&th);
    papi_config cfg = {"300", NULL, NULL};
    void *st = open_ok(fake_url(f, NULL, 0), &cfg, &th);

    /* the fault: one byte every 100 ms, so no single read ever waits 300 ms */
    int64_t t0 = papi_now_ms();
    assert_int_equal(get_one(st, "d:h:1", NULL, 0), PAPI_CACHE_MISS);
    int64_t took = papi_now_ms() - t0;
    assert_int_equal(atomic_load(&f->faulty), 1);
    assert_true(took >= 250); /* it did wait for Redis */
    if (took >= HOSTILE_BOUND_MS)
        fail_msg("GET against a dripping Redis took %lld ms", (long long)took);
    assert_true(wait_dropped(f, 1)); /* we hung up; the fake did not give up first */
    assert_true(atomic_load(&th.cache_errors) >= 1);

    /* past the backoff a probe reconnects, and an MGET is bounded the same way */
    sleep_ms(400);
    papi_key keys[3] = {K("d:h:1"), K("d:h:2"), K("d:h:3")};
    papi_cache_entry e[3];
    t0 = papi_now_ms();
    assert_int_equal(B->get(st, keys, 3, e, NULL), PAPI_OK);
    took = papi_now_ms() - t0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(e[i].state, PAPI_CACHE_MISS);
    assert_int_equal(atomic_load(&f->faulty), 2);
    if (took >= HOSTILE_BOUND_MS)
        fail_msg("MGET against a dripping Redis took %lld ms", (long long)took);
    assert_true(wait_dropped(f, 2));
    B->close(st);
    fake_free(f);
}

static void test_drip_handshake_is_bounded(void **state)
{
    (void)state;
    /* every reply dripped: AUTH (a password) and SELECT (db 2) are on the path of a connect */
    fake_redis *f = fake_start(FAKE_REDIS_DRIP, 0);
    test_host th;
    th_init(&th);
    papi_config cfg = {"300", NULL, NULL};
    int64_t t0 = papi_now_ms();
    void *st = open_ok(fake_url(f, ":pw@", 2), &cfg, &th); /* open warms one connection */
    int64_t took = papi_now_ms() - t0;
    assert_int_equal(atomic_load(&f->faulty), 1);
    if (took >= HOSTILE_BOUND_MS)
        fail_msg("open against a dripping Redis took %lld ms", (long long)took);
    assert_int_equal(get_one(st, "d:h:1", NULL, 0), PAPI_CACHE_MISS); /* backing off: at once */
    sleep_ms(400);
    t0 = papi_now_ms();
    assert_int_equal(get_one(st, "d:h:1", NULL, 0), PAPI_CACHE_MISS); /* the probe's AUTH */
    took = papi_now_ms() - t0;
    assert_int_equal(atomic_load(&f->faulty), 2);
    if (took >= HOSTILE_BOUND_MS)
        fail_msg("a reconnect against a dripping Redis took %lld ms", (long long)took);
    assert_true(wait_dropped(f, 2));
    assert_int_equal(th_count_level(&th, PAPI_LOG_WARN), 1); /* one outage, one line */
    B->close(st);
    fake_free(f);
}

static void test_drip_set_is_bounded(void **state)
{
    (void)state;
    fake_redis *f = fake_start(FAKE_REDIS_DRIP_SET, 0);
    test_host th;
    th_init(&th);
    papi_config cfg = {"300", NULL, NULL};
    void *st = open_ok(fake_url(f, NULL, 0), &cfg, &th);
    papi_key keys[3] = {K("d:h:1"), K("d:h:2"), K("d:h:3")};
    papi_blob *rows[3] = {papi_blob_create("{}", 2), NULL, papi_blob_create("[]", 2)};
    int64_t t0 = papi_now_ms();
    assert_int_equal(B->put(st, keys, rows, 3, &TTL_LONG, NULL), PAPI_OK); /* pipelined SETs */
    int64_t took = papi_now_ms() - t0;
    assert_int_equal(atomic_load(&f->faulty), 1);
    if (took >= HOSTILE_BOUND_MS)
        fail_msg("SETs against a dripping Redis took %lld ms", (long long)took);
    assert_true(wait_dropped(f, 1));
    assert_true(atomic_load(&th.cache_errors) >= 1);
    papi_blob_unref(rows[0]);
    papi_blob_unref(rows[2]);
    B->close(st);
    fake_free(f);
}

static void test_huge_array_is_refused(void **state)
{
    (void)state;
    /* the fault: an MGET answered with a 10^9-element array, its elements streamed as fast as
     * the socket goes (32 MiB of them before the fake gives up on its own) */
    fake_redis *f = fake_start(FAKE_REDIS_HUGE_ARRAY, (size_t)32 << 20);
    test_host th;
    th_init(&th);
    papi_config cfg = {"2000", NULL, NULL};
    void *st = open_ok(fake_url(f, NULL, 0), &cfg, &th);
    long rss0 = rss_bytes();
    papi_key keys[3] = {K("d:h:1"), K("d:h:2"), K("d:h:3")};
    papi_cache_entry e[3];
    assert_int_equal(B->get(st, keys, 3, e, NULL), PAPI_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(e[i].state, PAPI_CACHE_MISS);
    assert_refused_early(f, &th, rss0, "huge array");
    B->close(st);
    fake_free(f);
}

static void test_huge_bulk_is_refused(void **state)
{
    (void)state;
    /* the fault: a GET answered with a 1 GiB string (64 MiB of it before the fake gives up) */
    fake_redis *f = fake_start(FAKE_REDIS_HUGE_BULK, (size_t)64 << 20);
    test_host th;
    th_init(&th);
    papi_config cfg = {"2000", NULL, "65536"};
    void *st = open_ok(fake_url(f, NULL, 0), &cfg, &th);
    long rss0 = rss_bytes();
    assert_int_equal(get_one(st, "d:h:1", NULL, 0), PAPI_CACHE_MISS);
    assert_refused_early(f, &th, rss0, "huge bulk");
    B->close(st);
    fake_free(f);
}

static void test_bad_stamps_are_misses(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    void *st = open_ok(url_of(r, NULL, 0), NULL, &th);
    static const char *bad[] = {
        "F99999999999999999999:{}", /* 20 digits: past int64 */
        "F9223372036854775808:{}",  /* INT64_MAX + 1 */
        "F:{}",                     /* no digits */
        "F-5:{}",                   /* a sign */
        "F12x:{}",                  /* not a number */
        "F123",                     /* no row at all */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_true(test_redis_cmd(r, 0, "SET papi:d:h:bad %s", bad[i]) >= 0);
        if (get_one(st, "d:h:bad", NULL, 0) != PAPI_CACHE_MISS)
            fail_msg("value #%zu was not a miss", i);
        assert_int_equal(atomic_load(&th.cache_errors), i + 1);
    }
    assert_int_equal(th_count_level(&th, PAPI_LOG_WARN), 1); /* rate-limited */
    assert_non_null(strstr(th.lines[0], "value"));
    /* the largest stamp is still a stamp */
    assert_true(test_redis_cmd(r, 0, "SET papi:d:h:bad %s", "F9223372036854775807:{}") >= 0);
    assert_int_equal(get_one(st, "d:h:bad", NULL, 0), PAPI_CACHE_FOUND);
    B->close(st);
}

static void test_rows_over_the_cap_are_not_stored(void **state)
{
    test_redis *r = *state;
    test_host th;
    th_init(&th);
    papi_config cfg = {NULL, NULL, "1024"};
    void *st = open_ok(url_of(r, NULL, 0), &cfg, &th);
    char big[2048];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '"';
    big[sizeof big - 2] = '"';
    put_one(st, "d:h:big", big, &TTL_LONG);
    big[1000] = '"';
    big[1001] = '\0';
    put_one(st, "d:h:fits", big, &TTL_LONG);
    assert_true(test_redis_cmd(r, 0, "EXISTS %s", "papi:d:h:big") == 0);
    assert_int_equal(get_one(st, "d:h:big", NULL, 0), PAPI_CACHE_MISS);
    assert_int_equal(get_one(st, "d:h:fits", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(atomic_load(&th.cache_errors), 0); /* a big row is not an error */
    /* one written by someone else is refused on the way in, as any over-long reply is */
    char cmd[2100];
    memset(cmd, 'a', 1500);
    memcpy(cmd, "F9999999999999:\"", 16);
    memcpy(cmd + 1500, "\"", 2);
    assert_true(test_redis_cmd(r, 0, "SET papi:d:h:big %s", cmd) >= 0);
    assert_int_equal(get_one(st, "d:h:big", NULL, 0), PAPI_CACHE_MISS);
    assert_true(atomic_load(&th.cache_errors) >= 1);
    B->close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_rejected_without_echoing_password),
        cmocka_unit_test(test_url_timeout_option_checked),
        cmocka_unit_test_setup_teardown(test_put_get_single_and_mget, setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_binary_keys_and_namespaces_do_not_collide, setup_redis,
                                        teardown_redis),
        cmocka_unit_test_setup_teardown(test_foreign_values_are_misses, setup_redis,
                                        teardown_redis),
        cmocka_unit_test_setup_teardown(test_row_ttl_expires, setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_negative_ttl_expires, setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_expired_within_stale_window, setup_redis,
                                        teardown_redis),
        cmocka_unit_test(test_password_and_database_from_url),
        cmocka_unit_test_setup_teardown(test_many_threads_share_the_pool, setup_redis,
                                        teardown_redis),
        cmocka_unit_test(test_down_at_open_degrades),
        cmocka_unit_test_setup_teardown(test_killed_then_restarted, setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_slow_redis_times_out_to_miss, setup_redis,
                                        teardown_redis),
        cmocka_unit_test(test_reconnect_backs_off),
        cmocka_unit_test(test_drip_get_is_bounded),
        cmocka_unit_test(test_drip_handshake_is_bounded),
        cmocka_unit_test(test_drip_set_is_bounded),
        cmocka_unit_test(test_huge_array_is_refused),
        cmocka_unit_test(test_huge_bulk_is_refused),
        cmocka_unit_test_setup_teardown(test_bad_stamps_are_misses, setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_rows_over_the_cap_are_not_stored, setup_redis,
                                        teardown_redis),
    };
    return cmocka_run_group_tests_name("redis cache backend", tests, NULL, NULL);
}
