/* One contract, every cache backend: what the core relies on from papi_cache_backend.
 *
 *   test_cache_contract SPEC        e.g. memory | none | redis://127.0.0.1:6390/0
 *   PAPI_CONTRACT_CACHE=SPEC test_cache_contract
 *
 * The backend is found by its spec like the client finds it. A backend that keeps nothing
 * ("none") must answer MISS everywhere; every other backend must keep what it is given, for as
 * long as it is given, and never answer another key's bytes. Keys carry a per-run prefix so a
 * shared server (Redis) cannot leak one run into the next. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static const char *spec;
static const papi_cache_backend *B;
static bool keeps; /* false for a backend that stores nothing */
static char run_prefix[64];

typedef struct ctx {
    papi_config *cfg;
    void *st;
} ctx;

static void host_log(void *c, papi_log_level level, const char *message)
{
    (void)c;
    if (level <= PAPI_LOG_WARN)
        fprintf(stderr, "# backend log: %s\n", message);
}
static void host_count(void *c, papi_host_counter counter, uint64_t delta)
{
    (void)c, (void)counter, (void)delta;
}
static const papi_host host = {
    .struct_size = sizeof(papi_host), .ctx = NULL, .log = host_log, .count = host_count};

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    if (papi_config_create(&c->cfg) != PAPI_OK)
        return -1;
    papi_error err;
    if (B->open(spec, c->cfg, &host, NULL, &c->st, &err) != PAPI_OK) {
        fprintf(stderr, "# cannot open %s: %s\n", B->name, err.message);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    B->close(c->st);
    papi_config_destroy(c->cfg);
    free(c);
    return 0;
}

/* key "<run>:<name>" in a static ring so several can be alive at once */
static papi_key K(const char *name)
{
    static char ring[16][256];
    static int at;
    char *k = ring[at++ % 16];
    snprintf(k, 256, "%s:%s", run_prefix, name);
    return (papi_key){k, strlen(k)};
}

static const papi_cache_ttl LONG = {600000, 600000, 0};

static void put(ctx *c, const char *name, const char *row, papi_cache_ttl ttl)
{
    papi_key k = K(name);
    papi_blob *b = row ? papi_blob_create(row, strlen(row)) : NULL;
    papi_error err;
    papi_status st = B->put(c->st, &k, &b, 1, &ttl, &err);
    if (st != PAPI_OK)
        fail_msg("put %s: %s", name, err.message);
    papi_blob_unref(b); /* the backend keeps what it needs */
}

/* state of name; when row != NULL, compares the bytes */
static papi_cache_state get(ctx *c, const char *name, const char *want_row)
{
    papi_key k = K(name);
    /* garbage the backend overwrites */
    papi_cache_entry e = {PAPI_CACHE_FOUND, (papi_blob *)&e, -12345};
    papi_error err;
    papi_status st = B->get(c->st, &k, 1, &e, &err);
    if (st != PAPI_OK)
        fail_msg("get %s: %s", name, err.message);
    if (e.state == PAPI_CACHE_FOUND || e.state == PAPI_CACHE_EXPIRED) {
        assert_non_null(e.row);
        if (want_row) {
            assert_int_equal(papi_blob_len(e.row), strlen(want_row));
            assert_memory_equal(papi_blob_data(e.row), want_row, strlen(want_row));
            assert_int_equal(papi_blob_data(e.row)[papi_blob_len(e.row)], '\0');
        }
    } else {
        assert_null(e.row);
    }
    /* freshness left is unknown (0) or within the longest lifetime the tests give */
    assert_true(e.fresh_ms >= 0 && e.fresh_ms <= LONG.found_ms);
    if (e.state == PAPI_CACHE_MISS || e.state == PAPI_CACHE_EXPIRED)
        assert_int_equal(e.fresh_ms, 0);
    papi_blob_unref(e.row);
    return e.state;
}

static papi_cache_state kept(papi_cache_state s)
{
    return keeps ? s : PAPI_CACHE_MISS;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool eventually(ctx *c, const char *name, papi_cache_state want)
{
    for (int i = 0; i < 1500; i++) { /* 15 s: second-granular servers round lifetimes up */
        if (get(c, name, NULL) == want)
            return true;
        sleep_ms(10);
    }
    return false;
}

static void test_unknown_is_miss(void **state)
{
    ctx *c = *state;
    assert_int_equal(get(c, "never-put", NULL), PAPI_CACHE_MISS);
}

static void test_row_round_trip(void **state)
{
    ctx *c = *state;
    const char *row = "{\"C_CUSTOMER_SK\":1,\"C_FIRST_NAME\":\"J\\u00f6rg\",\"X\":null}";
    put(c, "row", row, LONG);
    assert_int_equal(get(c, "row", row), kept(PAPI_CACHE_FOUND));
    /* UTF-8 and every byte value a JSON text may hold survive */
    const char *utf8 = "{\"n\":\"Zo\xc3\xab O'Brien \xe2\x82\xac\",\"q\":\"a\\\"b\"}";
    put(c, "utf8", utf8, LONG);
    assert_int_equal(get(c, "utf8", utf8), kept(PAPI_CACHE_FOUND));
}

static void test_absent(void **state)
{
    ctx *c = *state;
    put(c, "absent", NULL, LONG);
    assert_int_equal(get(c, "absent", NULL), kept(PAPI_CACHE_ABSENT));
}

static void test_overwrite(void **state)
{
    ctx *c = *state;
    put(c, "over", "{\"v\":1}", LONG);
    put(c, "over", "{\"v\":2}", LONG);
    assert_int_equal(get(c, "over", "{\"v\":2}"), kept(PAPI_CACHE_FOUND));
    put(c, "over", NULL, LONG);
    assert_int_equal(get(c, "over", NULL), kept(PAPI_CACHE_ABSENT));
    put(c, "over", "{\"v\":3}", LONG);
    assert_int_equal(get(c, "over", "{\"v\":3}"), kept(PAPI_CACHE_FOUND));
}

static void test_keys_are_exact(void **state)
{
    ctx *c = *state;
    put(c, "ds:h:1", "{\"id\":1}", LONG);
    put(c, "ds:h:10", "{\"id\":10}", LONG);
    assert_int_equal(get(c, "ds:h:1", "{\"id\":1}"), kept(PAPI_CACHE_FOUND));
    assert_int_equal(get(c, "ds:h:10", "{\"id\":10}"), kept(PAPI_CACHE_FOUND));
    assert_int_equal(get(c, "ds:h:100", NULL), PAPI_CACHE_MISS);
    assert_int_equal(get(c, "ds:h:", NULL), PAPI_CACHE_MISS);
    /* text keys may hold any bytes, including spaces, quotes and UTF-8 */
    put(c, "ds:h:a b\"c\xc3\xa9", "{\"id\":\"x\"}", LONG);
    assert_int_equal(get(c, "ds:h:a b\"c\xc3\xa9", "{\"id\":\"x\"}"), kept(PAPI_CACHE_FOUND));
}

static void test_many_keys_in_order(void **state)
{
    ctx *c = *state;
    enum { M = 50 };
    papi_key keys[M];
    papi_blob *rows[M];
    char names[M][32], bodies[M][32];
    for (int i = 0; i < M; i++) {
        snprintf(names[i], sizeof names[i], "multi:%d", i);
        snprintf(bodies[i], sizeof bodies[i], "{\"i\":%d}", i);
        keys[i] = K(names[i]);
        /* K's ring is short: keep our own copy of each key */
        char *copy = malloc(keys[i].len);
        memcpy(copy, keys[i].ptr, keys[i].len);
        keys[i].ptr = copy;
        rows[i] = i % 5 == 4 ? NULL : papi_blob_create(bodies[i], strlen(bodies[i]));
    }
    papi_error err;
    assert_int_equal(B->put(c->st, keys, rows, M, &LONG, &err), PAPI_OK);
    /* ask in reverse, with unknown keys in between */
    papi_key ask[M + 2];
    for (int i = 0; i < M; i++)
        ask[i] = keys[M - 1 - i];
    ask[M] = K("multi:unknown-a");
    ask[M + 1] = K("multi:unknown-b");
    papi_cache_entry out[M + 2];
    assert_int_equal(B->get(c->st, ask, M + 2, out, &err), PAPI_OK);
    for (int i = 0; i < M; i++) {
        int j = M - 1 - i;
        if (!keeps) {
            assert_int_equal(out[i].state, PAPI_CACHE_MISS);
        } else if (j % 5 == 4) {
            assert_int_equal(out[i].state, PAPI_CACHE_ABSENT);
        } else {
            assert_int_equal(out[i].state, PAPI_CACHE_FOUND);
            assert_string_equal(papi_blob_data(out[i].row), bodies[j]);
        }
        papi_blob_unref(out[i].row);
    }
    assert_int_equal(out[M].state, PAPI_CACHE_MISS);
    assert_int_equal(out[M + 1].state, PAPI_CACHE_MISS);
    for (int i = 0; i < M; i++) {
        free((void *)keys[i].ptr);
        papi_blob_unref(rows[i]);
    }
}

static void test_large_row(void **state)
{
    ctx *c = *state;
    size_t n = 200000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[0] = '"';
    big[n - 1] = '"';
    big[n] = '\0';
    put(c, "large", big, LONG);
    assert_int_equal(get(c, "large", big), kept(PAPI_CACHE_FOUND));
    free(big);
}

static void test_ttl_expiry(void **state)
{
    ctx *c = *state;
    papi_cache_ttl brief = {300, 300, 0};
    put(c, "ttl-row", "{}", brief);
    put(c, "ttl-absent", NULL, brief);
    put(c, "ttl-long", "{\"long\":1}", LONG);
    assert_true(eventually(c, "ttl-row", PAPI_CACHE_MISS));
    assert_true(eventually(c, "ttl-absent", PAPI_CACHE_MISS));
    assert_int_equal(get(c, "ttl-long", "{\"long\":1}"), kept(PAPI_CACHE_FOUND));
}

static void test_stale_copy(void **state)
{
    ctx *c = *state;
    papi_cache_ttl stale = {300, 300, 600000};
    put(c, "stale-row", "{\"old\":1}", stale);
    put(c, "stale-absent", NULL, stale);
    if (keeps) {
        assert_true(eventually(c, "stale-row", PAPI_CACHE_EXPIRED));
        assert_int_equal(get(c, "stale-row", "{\"old\":1}"), PAPI_CACHE_EXPIRED);
    } else {
        assert_int_equal(get(c, "stale-row", NULL), PAPI_CACHE_MISS);
    }
    /* a negative entry is never served as stale */
    assert_true(eventually(c, "stale-absent", PAPI_CACHE_MISS));
    /* a fresh put replaces the stale copy */
    put(c, "stale-row", "{\"new\":1}", LONG);
    assert_int_equal(get(c, "stale-row", "{\"new\":1}"), kept(PAPI_CACHE_FOUND));
}

/* ---- threads: rows carry their key, so cross-talk between keys shows */
typedef struct worker {
    ctx *c;
    unsigned seed;
    int errors;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 3000; i++) {
        int id = (int)(rand_r(&w->seed) % 200);
        char name[32], row[48];
        snprintf(name, sizeof name, "thr:%d", id);
        snprintf(row, sizeof row, "{\"thr\":%d}", id);
        char key[256];
        snprintf(key, sizeof key, "%s:%s", run_prefix, name);
        papi_key k = {key, strlen(key)};
        if (rand_r(&w->seed) % 3 == 0) {
            papi_blob *b = papi_blob_create(row, strlen(row));
            if (B->put(w->c->st, &k, &b, 1, &LONG, NULL) != PAPI_OK)
                w->errors++;
            papi_blob_unref(b);
        } else {
            papi_cache_entry e;
            if (B->get(w->c->st, &k, 1, &e, NULL) != PAPI_OK)
                w->errors++;
            else if (e.state == PAPI_CACHE_FOUND && strcmp(papi_blob_data(e.row), row) != 0)
                w->errors++;
            else if (e.state == PAPI_CACHE_ABSENT || e.state == PAPI_CACHE_EXPIRED)
                w->errors++;
            if (e.state == PAPI_CACHE_FOUND || e.state == PAPI_CACHE_EXPIRED)
                papi_blob_unref(e.row);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    ctx *c = *state;
    enum { N = 4 };
    pthread_t t[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){c, (unsigned)(i * 104729 + 7), 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
}

int main(int argc, char **argv)
{
    spec = argc > 1 ? argv[1] : getenv("PAPI_CONTRACT_CACHE");
    if (!spec || !*spec) {
        fprintf(stderr, "usage: %s CACHE-SPEC (or PAPI_CONTRACT_CACHE)\n", argv[0]);
        return 2;
    }
    B = papi__cache_find(spec, NULL);
    if (!B) {
        fprintf(stderr, "%s: no cache backend for this spec\n", argv[0]);
        return 2;
    }
    keeps = strcmp(B->name, "none") != 0;
    snprintf(run_prefix, sizeof run_prefix, "contract-%ld-%lld", (long)getpid(),
             (long long)papi_now_ms());
    char group[64];
    snprintf(group, sizeof group, "cache contract: %s", B->name);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_is_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_are_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_keys_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return _cmocka_run_group_tests(group, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}
