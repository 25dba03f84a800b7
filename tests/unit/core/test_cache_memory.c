/* cache_memory.c through its backend table: FOUND/ABSENT/MISS, TTLs (lifetimes in ms; fresh
 * checks use long TTLs and expiry checks poll with generous bounds, so load cannot flake them),
 * stale copies, eviction by entries and by bytes in LRU order, shared blobs, many threads. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const papi_cache_backend *B; /* the built-in, found by name in main() */

static void *open_cache(const char *max_entries, const char *max_bytes)
{
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    if (max_entries)
        assert_int_equal(papi_config_set(cfg, "cache-max-entries", max_entries, NULL), PAPI_OK);
    if (max_bytes)
        assert_int_equal(papi_config_set(cfg, "cache-max-bytes", max_bytes, NULL), PAPI_OK);
    void *st = NULL;
    assert_int_equal(B->open("memory", cfg, NULL, NULL, &st, NULL), PAPI_OK);
    papi_config_destroy(cfg); /* open copies what it keeps */
    return st;
}

static papi_key K(const char *s)
{
    return (papi_key){s, strlen(s)};
}

static void put1(void *st, const char *key, const char *row, papi_cache_ttl ttl)
{
    papi_key k = K(key);
    papi_blob *b = row ? papi_blob_create(row, strlen(row)) : NULL;
    assert_int_equal(B->put(st, &k, &b, 1, &ttl, NULL), PAPI_OK);
    papi_blob_unref(b); /* the cache holds its own reference */
}

/* Returns the state; *row gets a copy of the bytes (or "") */
static papi_cache_state get1(void *st, const char *key, char *row, size_t cap)
{
    papi_key k = K(key);
    papi_cache_entry e;
    assert_int_equal(B->get(st, &k, 1, &e, NULL), PAPI_OK);
    if (row) {
        snprintf(row, cap, "%s", e.row ? papi_blob_data(e.row) : "");
    }
    if (e.state == PAPI_CACHE_FOUND || e.state == PAPI_CACHE_EXPIRED)
        assert_non_null(e.row);
    else
        assert_null(e.row);
    papi_blob_unref(e.row);
    return e.state;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls until key reaches want, for at most 10 s. */
static bool eventually(void *st, const char *key, papi_cache_state want)
{
    for (int i = 0; i < 1000; i++) {
        if (get1(st, key, NULL, 0) == want)
            return true;
        sleep_ms(10);
    }
    return false;
}

static const papi_cache_ttl LONG = {600000, 600000, 0};

static void test_found_absent_miss(void **state)
{
    (void)state;
    void *st = open_cache(NULL, NULL);
    char row[64];
    assert_int_equal(get1(st, "customer:h:1", row, sizeof row), PAPI_CACHE_MISS);
    put1(st, "customer:h:1", "{\"a\":1}", LONG);
    put1(st, "customer:h:2", NULL, LONG);
    assert_int_equal(get1(st, "customer:h:1", row, sizeof row), PAPI_CACHE_FOUND);
    assert_string_equal(row, "{\"a\":1}");
    assert_int_equal(get1(st, "customer:h:2", row, sizeof row), PAPI_CACHE_ABSENT);
    /* keys that share a prefix are different keys */
    assert_int_equal(get1(st, "customer:h:10", row, sizeof row), PAPI_CACHE_MISS);
    assert_int_equal(get1(st, "customer:h:", row, sizeof row), PAPI_CACHE_MISS);
    /* overwrite: a row replaces an absent entry and vice versa */
    put1(st, "customer:h:2", "{\"b\":2}", LONG);
    assert_int_equal(get1(st, "customer:h:2", row, sizeof row), PAPI_CACHE_FOUND);
    assert_string_equal(row, "{\"b\":2}");
    put1(st, "customer:h:1", NULL, LONG);
    assert_int_equal(get1(st, "customer:h:1", row, sizeof row), PAPI_CACHE_ABSENT);

    /* several keys in one call, answered in order */
    papi_key keys[3] = {K("customer:h:2"), K("nope"), K("customer:h:1")};
    papi_cache_entry e[3];
    assert_int_equal(B->get(st, keys, 3, e, NULL), PAPI_OK);
    assert_int_equal(e[0].state, PAPI_CACHE_FOUND);
    assert_int_equal(e[1].state, PAPI_CACHE_MISS);
    assert_int_equal(e[2].state, PAPI_CACHE_ABSENT);
    papi_blob_unref(e[0].row);
    B->close(st);
}

static void test_hit_shares_blob(void **state)
{
    (void)state;
    void *st = open_cache(NULL, NULL);
    papi_blob *b = papi_blob_create("{\"x\":1}", 7);
    papi_key k = K("k");
    assert_int_equal(B->put(st, &k, &b, 1, &LONG, NULL), PAPI_OK);
    papi_cache_entry e;
    assert_int_equal(B->get(st, &k, 1, &e, NULL), PAPI_OK);
    assert_ptr_equal(e.row, b); /* a hit is a reference, not a copy */
    papi_blob_unref(e.row);
    papi_blob_unref(b);
    /* the cache's own reference keeps the bytes alive */
    char row[16];
    assert_int_equal(get1(st, "k", row, sizeof row), PAPI_CACHE_FOUND);
    assert_string_equal(row, "{\"x\":1}");
    B->close(st);
}

static void test_ttl(void **state)
{
    (void)state;
    void *st = open_cache(NULL, NULL);
    papi_cache_ttl short_found = {1, 600000, 0};
    papi_cache_ttl short_absent = {600000, 1, 0};
    put1(st, "row-short", "{}", short_found);
    put1(st, "row-long", "{}", LONG);
    put1(st, "absent-short", NULL, short_absent);
    put1(st, "absent-long", NULL, LONG);
    assert_true(eventually(st, "row-short", PAPI_CACHE_MISS));
    assert_true(eventually(st, "absent-short", PAPI_CACHE_MISS));
    assert_int_equal(get1(st, "row-long", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(get1(st, "absent-long", NULL, 0), PAPI_CACHE_ABSENT);
    /* a zero lifetime stores nothing */
    papi_cache_ttl zero = {0, 0, 0};
    put1(st, "zero", "{}", zero);
    assert_int_equal(get1(st, "zero", NULL, 0), PAPI_CACHE_MISS);
    B->close(st);
}

static void test_stale(void **state)
{
    (void)state;
    void *st = open_cache(NULL, NULL);
    papi_cache_ttl stale = {1, 1, 600000};
    put1(st, "row", "{\"old\":true}", stale);
    put1(st, "absent", NULL, stale);
    assert_true(eventually(st, "row", PAPI_CACHE_EXPIRED));
    char row[32];
    assert_int_equal(get1(st, "row", row, sizeof row), PAPI_CACHE_EXPIRED);
    assert_string_equal(row, "{\"old\":true}");
    /* negative entries are never served stale */
    assert_true(eventually(st, "absent", PAPI_CACHE_MISS));
    /* past stale_ms the copy is gone */
    papi_cache_ttl brief = {1, 1, 1};
    put1(st, "brief", "{}", brief);
    assert_true(eventually(st, "brief", PAPI_CACHE_MISS));
    /* a fresh put replaces the stale copy */
    put1(st, "row", "{\"new\":true}", LONG);
    assert_int_equal(get1(st, "row", row, sizeof row), PAPI_CACHE_FOUND);
    assert_string_equal(row, "{\"new\":true}");
    B->close(st);
}

static void test_evict_by_entries_lru(void **state)
{
    (void)state;
    void *st = open_cache("3", NULL);
    put1(st, "a", "{}", LONG);
    put1(st, "b", "{}", LONG);
    put1(st, "c", "{}", LONG);
    assert_int_equal(get1(st, "a", NULL, 0), PAPI_CACHE_FOUND); /* a is now the newest */
    put1(st, "d", "{}", LONG);                                  /* evicts b, the oldest */
    assert_int_equal(get1(st, "b", NULL, 0), PAPI_CACHE_MISS);
    assert_int_equal(get1(st, "a", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(get1(st, "c", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(get1(st, "d", NULL, 0), PAPI_CACHE_FOUND);
    /* negative entries count too */
    put1(st, "e", NULL, LONG); /* evicts a (c, d, a were touched in that order) */
    assert_int_equal(get1(st, "a", NULL, 0), PAPI_CACHE_MISS);
    assert_int_equal(get1(st, "e", NULL, 0), PAPI_CACHE_ABSENT);
    B->close(st);
}

static void test_evict_by_bytes(void **state)
{
    (void)state;
    void *st = open_cache(NULL, "2048");
    char big[701];
    memset(big, 'x', 700);
    big[700] = '\0';
    put1(st, "one", big, LONG);
    put1(st, "two", big, LONG);
    assert_int_equal(get1(st, "one", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(get1(st, "two", NULL, 0), PAPI_CACHE_FOUND);
    put1(st, "three", big, LONG); /* 3 x ~800 bytes > 2048: the oldest (one) goes */
    assert_int_equal(get1(st, "one", NULL, 0), PAPI_CACHE_MISS);
    assert_int_equal(get1(st, "two", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(get1(st, "three", NULL, 0), PAPI_CACHE_FOUND);
    /* a row larger than the whole budget is not kept and evicts nothing */
    char *huge = malloc(4096);
    memset(huge, 'y', 4095);
    huge[4095] = '\0';
    put1(st, "huge", huge, LONG);
    free(huge);
    assert_int_equal(get1(st, "huge", NULL, 0), PAPI_CACHE_MISS);
    assert_int_equal(get1(st, "two", NULL, 0), PAPI_CACHE_FOUND);
    assert_int_equal(get1(st, "three", NULL, 0), PAPI_CACHE_FOUND);
    B->close(st);
}

/* ---- many threads: rows carry their key, so any cross-talk shows */
static _Atomic int64_t fake_now = 1; /* test_threads_promote_and_expire's clock */

typedef struct worker {
    void *st;
    unsigned seed;
    int errors;
    int hits;
    const papi_cache_ttl *ttl; /* NULL: LONG */
    bool moves_clock;          /* every 1000 operations, fake_now jumps 3 s */
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 40000; i++) {
        if (w->moves_clock && i % 1000 == 0)
            atomic_fetch_add(&fake_now, 3000);
        int id = (int)(rand_r(&w->seed) % 3000);
        char key[32], row[64];
        snprintf(key, sizeof key, "ds:h:%d", id);
        snprintf(row, sizeof row, "{\"id\":%d}", id);
        papi_key k = {key, strlen(key)};
        if (rand_r(&w->seed) % 4 == 0) {
            papi_blob *b = id % 7 ? papi_blob_create(row, strlen(row)) : NULL;
            if (B->put(w->st, &k, &b, 1, w->ttl ? w->ttl : &LONG, NULL) != PAPI_OK)
                w->errors++;
            papi_blob_unref(b);
        } else {
            papi_cache_entry e;
            if (B->get(w->st, &k, 1, &e, NULL) != PAPI_OK)
                w->errors++;
            if (e.state == PAPI_CACHE_FOUND || e.state == PAPI_CACHE_EXPIRED) {
                w->hits++;
                if (id % 7 == 0 || strcmp(papi_blob_data(e.row), row) != 0)
                    w->errors++;
            } else if (e.state == PAPI_CACHE_ABSENT && id % 7 != 0) {
                w->errors++;
            }
            papi_blob_unref(e.row);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    /* 1000 entries for 3000 keys: eviction runs all the time; big enough for several shards */
    const char *sizes[][2] = {{"1000", NULL}, {"200000", NULL}};
    for (size_t s = 0; s < 2; s++) {
        void *st = open_cache(sizes[s][0], sizes[s][1]);
        enum { N = 4 };
        pthread_t t[N];
        worker w[N];
        for (int i = 0; i < N; i++) {
            w[i] = (worker){st, (unsigned)(i * 7919 + 1), 0, 0, NULL, false};
            assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
        }
        int hits = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(w[i].errors, 0);
            hits += w[i].hits;
        }
        assert_true(hits > 0);
        B->close(st);
    }
}

/* A big (many-shard) cache whose clock jumps ahead while threads read and write it, so hits
 * promote entries (a writer taking every lock of a shard) and find expired ones to drop, while
 * other threads read under their own CPU's lock. The rows carry their key: any cross-talk or
 * freed row read shows (in the sanitizer build too). */
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}

static void test_threads_promote_and_expire(void **state)
{
    (void)state;
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache-max-entries", "200000", NULL), PAPI_OK);
    papi_host host = {.struct_size = sizeof host, .now_ms = fake_clock};
    void *st = NULL;
    assert_int_equal(B->open("memory", cfg, &host, NULL, &st, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    /* short lives: entries expire (and are dropped on a later get) while the test runs */
    const papi_cache_ttl ttl = {60000, 30000, 20000};
    enum { N = 4 };
    pthread_t t[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){st, (unsigned)(i * 104729 + 3), 0, 0, &ttl, i == 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    int hits = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].errors, 0);
        hits += w[i].hits;
    }
    assert_true(hits > 0);
    assert_true(atomic_load(&fake_now) > 60000); /* the clock did move past some lives */
    B->close(st);
}

int main(void)
{
    B = papi__cache_find("memory", NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found_absent_miss),
        cmocka_unit_test(test_hit_shares_blob),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_evict_by_entries_lru),
        cmocka_unit_test(test_evict_by_bytes),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_threads_promote_and_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
