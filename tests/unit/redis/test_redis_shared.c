/* Full clients sharing one real Redis as their second tier, with a counting test transport in
 * place of the source: what one replica fetched, another does not fetch again; a dataset whose
 * columns changed never reads the old shape; Redis dying costs no client an error. */
#include <papi/papi.h>
#include <papi/papi_backend.h>

#include "fake_redis.h"
#include "redis_server.h"

/* cmocka needs these before it, in this order */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- a counting source */

typedef struct source {
    atomic_int fetches; /* calls to fetch */
    atomic_int keys;    /* ids asked in all */
    atomic_int last_n;  /* ids asked by the last call */
    atomic_bool fail;   /* fault switch: the source is down */
} source;

static papi_status src_open(const char *spec, const papi_config *cfg, const papi_host *host,
                            void *user, void **state, papi_error *err)
{
    (void)spec, (void)cfg, (void)host, (void)err;
    *state = user;
    return PAPI_OK;
}

static void src_close(void *state)
{
    (void)state;
}

/* Ids below 1000 exist; a row is (ID, NAME[, EXTRA]) by the dataset's column count. */
static papi_status src_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                             papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    (void)deadline_ms;
    source *s = state;
    atomic_fetch_add(&s->fetches, 1);
    atomic_fetch_add(&s->keys, (int)n);
    atomic_store(&s->last_n, (int)n);
    if (atomic_load(&s->fail))
        return papi_error_set(err, PAPI_EUNAVAIL, "test source is down");
    for (size_t i = 0; i < n; i++) {
        char id[64], name[80];
        snprintf(id, sizeof id, "%.*s", (int)keys[i].len, keys[i].ptr);
        if (atoi(id) >= 1000)
            continue;
        snprintf(name, sizeof name, "name-%s", id);
        const char *cells[3] = {id, name, "extra"};
        size_t lens[3] = {strlen(id), strlen(name), 5};
        papi_status st = papi_sink_row(sink, cells, lens, papi_dataset_column_count(ds), err);
        if (st != PAPI_OK)
            return st;
    }
    return PAPI_OK;
}

static const papi_transport_backend counting = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "counting",
    .open = src_open,
    .close = src_close,
    .fetch = src_fetch,
};

/* ---------------------------------------------------------------- fixtures */

typedef struct logbook {
    pthread_mutex_t mu;
    int warn, info;
    char first_warn[512];
} logbook;

static void log_cb(void *user, papi_log_level level, const char *message)
{
    logbook *lb = user;
    pthread_mutex_lock(&lb->mu);
    if (level == PAPI_LOG_WARN && strstr(message, "redis")) {
        if (lb->warn++ == 0)
            snprintf(lb->first_warn, sizeof lb->first_warn, "%s", message);
    }
    if (level == PAPI_LOG_INFO && strstr(message, "available again"))
        lb->info++;
    pthread_mutex_unlock(&lb->mu);
}

typedef struct world {
    test_redis redis;
    source src;
    char dir[64];
    char ds2[128], ds3[128]; /* the same dataset, two shapes */
} world;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    if (!w || !test_redis_start(&w->redis)) {
        free(w);
        return -1;
    }
    snprintf(w->dir, sizeof w->dir, "/tmp/papi-redis-XXXXXX");
    if (!mkdtemp(w->dir))
        return -1;
    snprintf(w->ds2, sizeof w->ds2, "%s/two.json", w->dir);
    snprintf(w->ds3, sizeof w->ds3, "%s/three.json", w->dir);
    write_file(w->ds2, "{\"datasets\":[{\"name\":\"thing\",\"table\":\"THINGS\",\"key\":\"ID\","
                       "\"columns\":[{\"name\":\"ID\",\"type\":\"number\"},"
                       "{\"name\":\"NAME\",\"type\":\"text\"}]}]}");
    write_file(w->ds3, "{\"datasets\":[{\"name\":\"thing\",\"table\":\"THINGS\",\"key\":\"ID\","
                       "\"columns\":[{\"name\":\"ID\",\"type\":\"number\"},"
                       "{\"name\":\"NAME\",\"type\":\"text\"},"
                       "{\"name\":\"EXTRA\",\"type\":\"text\"}]}]}");
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    test_redis_kill(&w->redis);
    unlink(w->ds2);
    unlink(w->ds3);
    rmdir(w->dir);
    free(w);
    return 0;
}

/* A replica: its own client (own memory tier when @p memory) over the shared Redis. */
static papi_client *replica(world *w, const char *datasets, bool memory, const char *ttl_s,
                            logbook *lb)
{
    papi_config *cfg = NULL;
    papi_error err;
    char cache[128];
    snprintf(cache, sizeof cache, "%sredis://127.0.0.1:%d/0", memory ? "memory," : "",
             w->redis.port);
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", cache, &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "datasets", datasets, &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache-ttl", ttl_s ? ttl_s : "180", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "redis-timeout-ms", "500", &err), PAPI_OK);
    assert_int_equal(papi_config_set_transport(cfg, &counting, "counting", &w->src), PAPI_OK);
    if (lb)
        assert_int_equal(papi_config_set_log(cfg, log_cb, lb, PAPI_LOG_INFO), PAPI_OK);
    papi_client *c = NULL;
    papi_status st = papi_client_create(cfg, &c, &err);
    if (st != PAPI_OK)
        fail_msg("client_create: %s", err.message);
    papi_config_destroy(cfg);
    return c;
}

static char *lookup(papi_client *c, const char *list, papi_cache_outcome *outcome)
{
    papi_result *r = NULL;
    papi_error err;
    papi_status st = papi_lookup_list(c, "thing", list, strlen(list), &r, &err);
    if (st != PAPI_OK)
        fail_msg("lookup %s: %s (%s)", list, papi_status_name(st), err.message);
    if (outcome)
        *outcome = papi_result_outcome(r);
    char *json = strdup(papi_result_json(r, NULL));
    papi_result_free(r);
    return json;
}

/* ---------------------------------------------------------------- tests */

static void test_one_source_query_across_replicas(void **state)
{
    world *w = *state;
    papi_client *a = replica(w, w->ds2, true, NULL, NULL);
    papi_client *b = replica(w, w->ds2, true, NULL, NULL);
    papi_cache_outcome oa, ob;
    char *ja = lookup(a, "7", &oa);
    assert_int_equal(atomic_load(&w->src.fetches), 1);
    char *jb = lookup(b, "7", &ob); /* B's memory misses; the shared Redis answers */
    assert_int_equal(atomic_load(&w->src.fetches), 1);
    assert_string_equal(ja, jb);
    assert_non_null(strstr(jb, "\"name-7\""));
    assert_int_equal(oa, PAPI_OUTCOME_MISS);
    assert_int_equal(ob, PAPI_OUTCOME_HIT);
    papi_stats sb = {.struct_size = sizeof sb};
    assert_int_equal(papi_client_stats(b, &sb), PAPI_OK);
    assert_int_equal(sb.source_calls, 0);
    assert_int_equal(sb.cache_hits, 1);
    assert_int_equal(sb.cache_errors, 0);
    free(ja);
    free(jb);

    /* several ids: B asks for 1,2,3 after A fetched them, plus 4 nobody fetched yet; the
     * absent id 5000 fetched by A is a negative entry B reads from Redis too */
    free(lookup(a, "1,2,3,5000", NULL));
    assert_int_equal(atomic_load(&w->src.fetches), 2);
    char *j = lookup(b, "1,2,3,4,5000", NULL);
    assert_int_equal(atomic_load(&w->src.fetches), 3);
    assert_int_equal(atomic_load(&w->src.last_n), 1); /* only id 4 went to the source */
    assert_non_null(strstr(j, "name-1"));
    assert_non_null(strstr(j, "name-4"));
    free(j);
    papi_client_destroy(a);
    papi_client_destroy(b);
}

static void test_changed_columns_never_read_old_shape(void **state)
{
    world *w = *state;
    papi_client *old = replica(w, w->ds2, false, NULL, NULL);
    papi_client *neu = replica(w, w->ds3, false, NULL, NULL);
    char *j2 = lookup(old, "9", NULL);
    assert_int_equal(atomic_load(&w->src.fetches), 1);
    char *j3 = lookup(neu, "9", NULL); /* same dataset name and id, different shape hash */
    assert_int_equal(atomic_load(&w->src.fetches), 2);
    assert_null(strstr(j2, "EXTRA"));
    assert_non_null(strstr(j3, "\"EXTRA\""));
    free(j2);
    free(j3);
    /* and each shape is cached under its own key */
    free(lookup(neu, "9", NULL));
    free(lookup(old, "9", NULL));
    assert_int_equal(atomic_load(&w->src.fetches), 2);
    papi_client_destroy(old);
    papi_client_destroy(neu);
}

static void test_redis_killed_mid_run_no_client_errors(void **state)
{
    world *w = *state;
    logbook lb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    /* memory tier off: every lookup needs Redis, so its loss shows at once */
    papi_client *a = replica(w, w->ds2, false, NULL, &lb);
    free(lookup(a, "11", NULL));
    free(lookup(a, "11", NULL));
    assert_int_equal(atomic_load(&w->src.fetches), 1);

    test_redis_kill(&w->redis); /* the fault */
    assert_true(test_redis_cmd(&w->redis, 0, "PING", NULL) == -2);
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", 11 + i % 3);
        free(lookup(a, id, NULL)); /* fails the test on any error */
    }
    assert_true(atomic_load(&w->src.fetches) >= 100); /* answered by the source instead */
    papi_stats s = {.struct_size = sizeof s};
    assert_int_equal(papi_client_stats(a, &s), PAPI_OK);
    assert_true(s.cache_errors >= 100);
    assert_int_equal(lb.warn, 1);

    /* back: the same client finds Redis again after its backoff */
    assert_true(test_redis_start(&w->redis));
    int before = atomic_load(&w->src.fetches);
    int64_t t0 = papi_now_ms();
    bool hit = false;
    while (!hit && papi_now_ms() - t0 < 15000) {
        free(lookup(a, "12", NULL));
        papi_cache_outcome o;
        free(lookup(a, "12", &o));
        hit = o == PAPI_OUTCOME_HIT;
        if (!hit) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(hit);
    assert_true(atomic_load(&w->src.fetches) > before);
    assert_int_equal(lb.warn, 1);
    assert_int_equal(lb.info, 1);
    papi_client_destroy(a);
}

static void test_stale_from_redis_when_source_fails(void **state)
{
    world *w = *state;
    /* memory tier off: the expired copy can only come from Redis */
    papi_client *a = replica(w, w->ds2, false, "1", NULL);
    char *fresh = lookup(a, "21", NULL);
    struct timespec ts = {1, 300 * 1000000L};
    nanosleep(&ts, NULL); /* past cache-ttl (1 s), well within stale-max (3600 s) */
    atomic_store(&w->src.fail, true);
    int before = atomic_load(&w->src.fetches);
    papi_cache_outcome o;
    char *stale = lookup(a, "21", &o);
    assert_true(atomic_load(&w->src.fetches) > before); /* the source was tried and failed */
    assert_int_equal(o, PAPI_OUTCOME_STALE);
    assert_string_equal(stale, fresh);
    atomic_store(&w->src.fail, false);
    free(fresh);
    free(stale);
    papi_client_destroy(a);
}

/* Every log line of a client, for tests that look for what must never be there. */
typedef struct transcript {
    pthread_mutex_t mu;
    char text[16384];
    size_t len;
} transcript;

static void transcript_cb(void *user, papi_log_level level, const char *message)
{
    (void)level;
    transcript *t = user;
    pthread_mutex_lock(&t->mu);
    int n = snprintf(t->text + t->len, sizeof t->text - t->len, "%s\n", message);
    if (n > 0 && (size_t)n < sizeof t->text - t->len)
        t->len += (size_t)n;
    pthread_mutex_unlock(&t->mu);
}

/* Issue 13 A7: redaction split at the first '@' and the URL parser at the last, so a password
 * holding '@' was logged in part: "***@ssW0rd-SECRET@host:port/db". */
static void test_password_with_at_is_never_logged(void **state)
{
    world *w = *state;
    test_redis r = {0};
    snprintf(r.password, sizeof r.password, "ssW0rd@SECRET");
    assert_true(test_redis_start(&r));
    transcript t = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char cache[160], want[160];
    snprintf(cache, sizeof cache, "memory,redis://:ssW0rd@SECRET@127.0.0.1:%d/0", r.port);
    snprintf(want, sizeof want, "cache tier 2: redis://***@127.0.0.1:%d/0", r.port);
    papi_config *cfg = NULL;
    papi_error err;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", cache, &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "datasets", w->ds2, &err), PAPI_OK);
    assert_int_equal(papi_config_set_transport(cfg, &counting, "counting", &w->src), PAPI_OK);
    assert_int_equal(papi_config_set_log(cfg, transcript_cb, &t, PAPI_LOG_DEBUG), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, &err), PAPI_OK);
    papi_config_destroy(cfg);
    free(lookup(c, "7", NULL));
    /* the password worked: the row is in Redis, written through AUTH */
    assert_true(test_redis_cmd(&r, 0, "DBSIZE", NULL) == 1);
    test_redis_kill(&r); /* an outage line too */
    free(lookup(c, "8", NULL));
    papi_client_destroy(c);
    if (!strstr(t.text, want))
        fail_msg("no line \"%s\" in:\n%s", want, t.text);
    if (strstr(t.text, "SECRET") || strstr(t.text, "ssW0rd"))
        fail_msg("the password reached the log:\n%s", t.text);
}

/* Issue 13 A4: a value in Redis that is not a well-formed row of its id (anyone with access to
 * Redis can write one) is a miss: never served, never a stale copy, never copied into memory. */
static void test_garbage_in_redis_is_never_served(void **state)
{
    world *w = *state;
    papi_client *a = replica(w, w->ds2, false, NULL, NULL);
    free(lookup(a, "7", NULL));
    free(lookup(a, "8", NULL));
    papi_client_destroy(a);
    char key7[160], key8[160], good7[512], row8[512];
    assert_true(test_redis_find_key(&w->redis, 0, "papi:thing:*:7", key7, sizeof key7));
    assert_true(test_redis_find_key(&w->redis, 0, "papi:thing:*:8", key8, sizeof key8));
    long long stamp = (long long)time(NULL) * 1000 + 3600000; /* fresh for an hour */
    snprintf(good7, sizeof good7, "F%lld:{\"ID\":7,\"NAME\":\"name-7\"}", stamp);
    snprintf(row8, sizeof row8, "F%lld:{\"ID\":8,\"NAME\":\"name-8\"}", stamp);
    char bad[6][512];
    snprintf(bad[0], sizeof bad[0], "F%lld:not json at all", stamp); /* the example */
    snprintf(bad[1], sizeof bad[1], "%s", row8);                     /* another id's row */
    snprintf(bad[2], sizeof bad[2], "F%lld:", stamp);                /* empty */
    snprintf(bad[3], sizeof bad[3], "F%lld:{\"ID\":7,\"NAME\":\"\xff\"}", stamp);
    snprintf(bad[4], sizeof bad[4], "F%lld:{\"ID\":7,\"NAME\":\"name-7\"", stamp);
    snprintf(bad[5], sizeof bad[5], "F99999999999999999999:{\"ID\":7,\"NAME\":\"name-7\"}");

    logbook lb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    papi_client *b = replica(w, w->ds2, true, NULL, &lb); /* memory, then Redis */
    atomic_store(&w->src.fail, true); /* a bad value would be all there is to serve */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_true(test_redis_set(&w->redis, 0, key7, bad[i], strlen(bad[i])));
        papi_stats before = {.struct_size = sizeof before};
        assert_int_equal(papi_client_stats(b, &before), PAPI_OK);
        papi_result *r = NULL;
        papi_status st = papi_lookup_list(b, "thing", "7", 1, &r, NULL);
        if (st != PAPI_EUNAVAIL)
            fail_msg("value #%zu was served: %s", i, r ? papi_result_json(r, NULL) : "-");
        /* and not copied into the memory tier */
        assert_int_equal(papi_lookup_list_cached(b, "thing", "7", 1, &r, NULL), PAPI_OK);
        assert_null(r);
        papi_stats after = {.struct_size = sizeof after};
        assert_int_equal(papi_client_stats(b, &after), PAPI_OK);
        assert_int_equal(after.cache_errors, before.cache_errors + 1);
        assert_int_equal(after.cache_hits, before.cache_hits);
    }
    /* a genuine value is served from Redis as before */
    assert_true(test_redis_set(&w->redis, 0, key7, good7, strlen(good7)));
    papi_cache_outcome o;
    char *json = lookup(b, "7", &o);
    assert_int_equal(o, PAPI_OUTCOME_HIT);
    assert_string_equal(json, "[{\"ID\":7,\"NAME\":\"name-7\"}]");
    free(json);
    atomic_store(&w->src.fail, false);
    papi_client_destroy(b);
}

/* A client whose only tier is a hostile Redis. */
static papi_client *over_fake(world *w, const fake_redis *f)
{
    papi_config *cfg = NULL;
    papi_error err;
    char cache[96];
    snprintf(cache, sizeof cache, "redis://127.0.0.1:%d/0", f->port);
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", cache, &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "datasets", w->ds2, &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "redis-timeout-ms", "300", &err), PAPI_OK);
    assert_int_equal(papi_config_set_transport(cfg, &counting, "counting", &w->src), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, &err), PAPI_OK);
    papi_config_destroy(cfg);
    return c;
}

/* Issue 13 A2: with Redis as the first tier, the path a server runs on its event loop never
 * touches Redis, and a lookup against a dripping Redis ends by its deadline, from the source. */
static void test_dripping_redis_first_tier(void **state)
{
    world *w = *state;
    fake_redis f = {.mode = FAKE_REDIS_DRIP_GET, .drip_max_ms = 8000};
    assert_true(fake_redis_start(&f));
    papi_client *c = over_fake(w, &f);
    int64_t t0 = papi_now_ms();
    papi_result *r = (papi_result *)&r;
    assert_int_equal(papi_lookup_list_cached(c, "thing", "7", 1, &r, NULL), PAPI_OK);
    assert_null(r);
    assert_true(papi_now_ms() - t0 < 1000);
    assert_int_equal(atomic_load(&f.faulty), 0); /* Redis was not asked */
    t0 = papi_now_ms();
    char *json = lookup(c, "7", NULL);
    int64_t took = papi_now_ms() - t0;
    assert_int_equal(atomic_load(&f.faulty), 1); /* this one did ask, and it dripped */
    if (took >= 3000)
        fail_msg("a lookup over a dripping Redis took %lld ms", (long long)took);
    assert_non_null(strstr(json, "name-7"));
    free(json);
    papi_client_destroy(c);
    fake_redis_stop(&f);
}

/* With Redis as the first tier a miss reads Redis once: the re-read before leading a fetch (which
 * closes a race with a fetch that just filled an in-process tier) is not worth a network trip. */
static void test_redis_first_tier_one_read_per_miss(void **state)
{
    world *w = *state;
    papi_client *c = replica(w, w->ds2, false, NULL, NULL);
    long before = test_redis_reads(&w->redis);
    assert_true(before >= 0);
    free(lookup(c, "7", NULL)); /* a miss: Redis, then the source */
    assert_int_equal(test_redis_reads(&w->redis) - before, 1);
    assert_int_equal(atomic_load(&w->src.fetches), 1);
    papi_cache_outcome oc;
    free(lookup(c, "7", &oc)); /* a hit from Redis */
    assert_int_equal(oc, PAPI_OUTCOME_HIT);
    assert_int_equal(test_redis_reads(&w->redis) - before, 2);
    assert_int_equal(atomic_load(&w->src.fetches), 1);
    papi_client_destroy(c);
}

/* The fake's garbage mode: every key holds the same fresh non-row. */
static void test_garbage_redis_first_tier(void **state)
{
    world *w = *state;
    fake_redis f = {.mode = FAKE_REDIS_VALUE};
    long long stamp = (long long)time(NULL) * 1000 + 3600000;
    f.value_len = (size_t)snprintf(f.value, sizeof f.value, "F%lld:not json at all", stamp);
    assert_true(fake_redis_start(&f));
    papi_client *c = over_fake(w, &f);
    int before = atomic_load(&w->src.fetches);
    papi_cache_outcome o;
    char *json = lookup(c, "7,8", &o);
    assert_true(atomic_load(&f.faulty) >= 1);
    assert_int_equal(o, PAPI_OUTCOME_MISS);
    assert_int_equal(atomic_load(&w->src.fetches), before + 1);
    assert_non_null(strstr(json, "name-7"));
    assert_null(strstr(json, "not json"));
    free(json);
    papi_stats s = {.struct_size = sizeof s};
    assert_int_equal(papi_client_stats(c, &s), PAPI_OK);
    assert_true(s.cache_errors >= 2); /* each bad value, at each read (the look before fetching) */
    papi_client_destroy(c);
    fake_redis_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_source_query_across_replicas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_columns_never_read_old_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_killed_mid_run_no_client_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_from_redis_when_source_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_with_at_is_never_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_in_redis_is_never_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dripping_redis_first_tier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_redis_first_tier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_first_tier_one_read_per_miss, setup, teardown),
    };
    return cmocka_run_group_tests_name("clients sharing one redis", tests, NULL, NULL);
}
