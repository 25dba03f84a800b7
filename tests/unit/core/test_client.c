/* client.c: a test registers its own transport AND its own cache and the client uses both
 * (issue 2 item 9); tiers in order, a lower tier's hit filling the upper one; ping, datasets,
 * counters, the log callback and its level filter; failures while creating. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "fakes.h"
#include "internal.h"

static void test_own_transport_and_cache(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    spy_cache spy;
    spy_cache_init(&spy);
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set_transport(cfg, &fake_transport, "fake:", &src), PAPI_OK);
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "spy", &spy), PAPI_OK);
    papi_client *c = NULL;
    papi_error err;
    assert_int_equal(papi_client_create(cfg, &c, &err), PAPI_OK);
    papi_config_destroy(cfg); /* the client keeps its own copy */
    assert_int_equal(atomic_load(&src.opened), 1);
    assert_int_equal(atomic_load(&spy.opened), 1);

    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(c, "customer", "1,2,99", 6, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 2);
    papi_result_free(r);
    assert_int_equal(atomic_load(&src.calls), 1);
    assert_int_equal(atomic_load(&spy.gets), 2); /* the read, and the look before fetching */
    assert_int_equal(atomic_load(&spy.puts), 1);
    assert_int_equal(atomic_load(&spy.keys_put), 3); /* two rows and one negative entry */
    /* the keys are namespaced: <dataset>:<16 hex digits>:<id> */
    assert_int_equal(spy.n, 3);
    assert_int_equal(spy.items[0].key_len, strlen("customer:") + 16 + 2);
    assert_memory_equal(spy.items[0].key, "customer:", 9);
    assert_int_equal(spy.items[0].key[25], ':');
    assert_int_equal(spy.items[2].state_on_get, PAPI_CACHE_ABSENT);

    /* answered by the attached cache alone */
    assert_int_equal(papi_lookup_list(c, "customer", "2,99,1", 6, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 2);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    papi_result_free(r);
    assert_int_equal(atomic_load(&src.calls), 1);
    assert_int_equal(atomic_load(&spy.gets), 3);

    assert_int_equal(papi_client_ping(c, &err), PAPI_OK);
    assert_int_equal(atomic_load(&src.pings), 1);
    papi_client_destroy(c);
    assert_int_equal(atomic_load(&src.closed), 1);
    assert_int_equal(atomic_load(&spy.closed), 1);
    spy_cache_clear(&spy);
}

/* A fetch that lands between a request's cache read and its join leaves no flight to join:
 * the request looks at the first tier again instead of fetching a second time. */
static void test_recheck_before_fetch(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    spy_cache spy;
    spy_cache_init(&spy);
    papi_config *cfg = fake_config(&src, "none");
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "spy", &spy), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(c, "customer", "7,8", 3, &r, NULL), PAPI_OK);
    papi_result_free(r);
    assert_int_equal(atomic_load(&src.calls), 1);
    /* the next read misses (as if just before another thread's put); the second look finds */
    spy.hide_until_get = atomic_load(&spy.gets) + 2;
    assert_int_equal(papi_lookup_list(c, "customer", "8,7", 3, &r, NULL), PAPI_OK);
    assert_int_equal(papi_result_count(r), 2);
    assert_int_equal(atomic_load(&spy.gets), spy.hide_until_get);
    papi_result_free(r);
    assert_int_equal(atomic_load(&src.calls), 1);
    papi_client_destroy(c);
    spy_cache_clear(&spy);
}

static void test_lower_tier_fills_upper(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    spy_cache upper, lower;
    spy_cache_init(&upper);
    spy_cache_init(&lower);
    papi_config *cfg = fake_config(&src, "memory");
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "upper", &upper), PAPI_OK);
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "lower", &lower), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(c, "customer", "4,5", 3, &r, NULL), PAPI_OK);
    papi_result_free(r);
    assert_int_equal(upper.n, 2);
    assert_int_equal(lower.n, 2);
    /* the upper tier forgets; the lower answers and refills it */
    spy_cache_clear(&upper);
    assert_int_equal(papi_lookup_list(c, "customer", "5,4", 3, &r, NULL), PAPI_OK);
    assert_int_equal(papi_result_count(r), 2);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    papi_result_free(r);
    assert_int_equal(atomic_load(&src.calls), 1);
    assert_int_equal(upper.n, 2);
    assert_int_equal(atomic_load(&lower.gets), 2);
    /* now the upper answers alone: the lower is not asked */
    assert_int_equal(papi_lookup_list(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    papi_result_free(r);
    assert_int_equal(atomic_load(&lower.gets), 2);
    papi_client_destroy(c);
    spy_cache_clear(&upper);
    spy_cache_clear(&lower);
}

/* papi_lookup_list_cached answers from the first tier alone: rows and negative entries there
 * make a result; anything else (unseen id, a row only in a lower tier, no tier) gives NULL and
 * never reaches the source or the lower tier, and counts nothing. */
static papi_stats stats_of(papi_client *c)
{
    papi_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    assert_int_equal(papi_client_stats(c, &st), PAPI_OK);
    return st;
}

static void test_lookup_cached_first_tier_only(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    spy_cache upper, lower;
    spy_cache_init(&upper);
    spy_cache_init(&lower);
    papi_config *cfg = fake_config(&src, "none");
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "upper", &upper), PAPI_OK);
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "lower", &lower), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    papi_error err;
    papi_result *r = (papi_result *)&err; /* must be overwritten */

    /* nothing cached yet: no result, no source call, no lower tier, no counters */
    assert_int_equal(papi_lookup_list_cached(c, "customer", "4,99", 4, &r, &err), PAPI_OK);
    assert_null(r);
    assert_int_equal(atomic_load(&src.calls), 0);
    assert_int_equal(atomic_load(&lower.gets), 0);
    assert_int_equal(stats_of(c).lookups, 0);

    assert_int_equal(papi_lookup_list(c, "customer", "4,99", 4, &r, NULL), PAPI_OK);
    papi_result_free(r);
    assert_int_equal(atomic_load(&src.calls), 1);
    papi_stats before = stats_of(c);

    /* a row and a negative entry in the first tier: a HIT, in the asked order */
    assert_int_equal(papi_lookup_list_cached(c, "customer", "99,4", 4, &r, &err), PAPI_OK);
    assert_non_null(r);
    assert_int_equal(papi_result_count(r), 1);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    papi_result_free(r);
    papi_stats after = stats_of(c);
    assert_int_equal(after.lookups, before.lookups + 1);
    assert_int_equal(after.cache_hits, before.cache_hits + 1);
    assert_int_equal(after.cache_negative_hits, before.cache_negative_hits + 1);

    /* one id more than the first tier holds: no result, nothing fetched */
    int gets = atomic_load(&lower.gets);
    assert_int_equal(papi_lookup_list_cached(c, "customer", "4,5", 3, &r, &err), PAPI_OK);
    assert_null(r);
    /* the row only in the lower tier: still no result, the lower tier is not asked */
    spy_cache_clear(&upper);
    assert_int_equal(papi_lookup_list_cached(c, "customer", "4", 1, &r, &err), PAPI_OK);
    assert_null(r);
    assert_int_equal(atomic_load(&lower.gets), gets);
    assert_int_equal(atomic_load(&src.calls), 1);

    /* bad input is refused as papi_lookup_list refuses it */
    assert_int_equal(papi_lookup_list_cached(c, "customer", "4,,5", 4, &r, &err), PAPI_EINVAL);
    assert_null(r);
    assert_int_equal(papi_lookup_list_cached(c, "nope", "4", 1, &r, &err), PAPI_ENODATASET);
    papi_client_destroy(c);
    spy_cache_clear(&upper);
    spy_cache_clear(&lower);
}

static void test_lookup_cached_without_tiers(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    papi_config *cfg = fake_config(&src, "none");
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    papi_result_free(r);
    assert_int_equal(papi_lookup_list_cached(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    assert_null(r);
    assert_int_equal(atomic_load(&src.calls), 1);
    papi_client_destroy(c);
}

/* A row copied up from a lower tier lives in the upper one no longer than it stays fresh below
 * (issue 5: the memory TTL no longer than Redis's), or it could be served for almost two TTLs. */
static void test_fill_keeps_lower_freshness(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    spy_cache lower;
    spy_cache_init(&lower);
    /* a first client leaves the row in the lower tier only */
    papi_config *cfg = fake_config(&src, "none");
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "lower", &lower), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    papi_result_free(r);
    papi_client_destroy(c);
    assert_int_equal(atomic_load(&src.calls), 1);

    /* a second client with memory in front: the lower tier says 150 ms of freshness are left */
    lower.fresh_ms = 150;
    cfg = fake_config(&src, "none");
    assert_int_equal(papi_config_add_cache(cfg, papi__cache_find("memory", NULL), "memory", NULL),
                     PAPI_OK);
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "lower", &lower), PAPI_OK);
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    assert_int_equal(papi_lookup_list(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    papi_result_free(r);
    assert_int_equal(atomic_load(&src.calls), 1);
    /* the lower tier forgets; once the 150 ms are over, memory must not answer either (with
     * the full 180 s TTL it would) */
    spy_cache_clear(&lower);
    struct timespec pause = {0, 400 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_int_equal(papi_lookup_list(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    assert_int_equal(papi_result_count(r), 1);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_MISS);
    papi_result_free(r);
    assert_int_equal(atomic_load(&src.calls), 2);
    papi_client_destroy(c);
    spy_cache_clear(&lower);
}

static void test_datasets_stats_ping(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    papi_config *cfg = fake_config(&src, "memory,none");
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    assert_int_equal(papi_client_dataset_count(c), 1);
    assert_string_equal(papi_client_dataset_name(c, 0), "customer");
    assert_null(papi_client_dataset_name(c, 1));
    const papi_dataset *ds = papi_client_dataset(c, 0);
    assert_non_null(ds);
    assert_string_equal(papi_dataset_name(ds), "customer");
    assert_int_equal(papi_dataset_column_count(ds), 18);
    assert_null(papi_client_dataset(c, 1));
    assert_null(papi_client_dataset(NULL, 0));

    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(c, "customer", "1", 1, &r, NULL), PAPI_OK);
    papi_result_free(r);
    /* an older caller's shorter struct gets only what it has room for */
    struct {
        papi_stats s;
        uint64_t guard;
    } old;
    memset(&old, 0xAB, sizeof old);
    old.s.struct_size = (uint32_t)offsetof(papi_stats, cache_hits);
    assert_int_equal(papi_client_stats(c, &old.s), PAPI_OK);
    assert_int_equal(old.s.lookups, 1);
    assert_int_equal(old.s.cache_hits, 0xABABABABABABABABull);
    papi_stats bad = {.struct_size = 0};
    assert_int_equal(papi_client_stats(c, &bad), PAPI_EINVAL);
    assert_int_equal(papi_client_stats(NULL, &bad), PAPI_EINVAL);

    papi_error err;
    src.fail_from = 1;
    src.fail_status = PAPI_EAUTH;
    assert_int_equal(papi_client_ping(c, &err), PAPI_EAUTH);
    assert_int_equal(papi_client_ping(NULL, &err), PAPI_EINVAL);
    papi_client_destroy(c);
    papi_client_destroy(NULL);
}

static void test_log_level_filter(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    src.fail_from = 1;
    src.fail_status = PAPI_EUNAVAIL;
    log_sink quiet, loud;
    log_sink_init(&quiet);
    log_sink_init(&loud);
    const struct {
        log_sink *sink;
        papi_log_level max;
    } runs[] = {{&quiet, PAPI_LOG_ERROR}, {&loud, PAPI_LOG_DEBUG}};
    for (size_t i = 0; i < 2; i++) {
        papi_config *cfg = fake_config(&src, "memory");
        assert_int_equal(papi_config_set_log(cfg, log_sink_fn, runs[i].sink, runs[i].max), PAPI_OK);
        papi_client *c = NULL;
        assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
        papi_config_destroy(cfg);
        papi_result *r = NULL;
        assert_int_equal(papi_lookup_list(c, "customer", "1", 1, &r, NULL), PAPI_EUNAVAIL);
        papi_client_destroy(c);
    }
    assert_int_equal(quiet.lines, 0);
    assert_true(loud.warnings >= 1);
    assert_non_null(strstr(loud.all, "EUNAVAIL"));
}

static papi_status failing_open(const char *spec, const papi_config *cfg, const papi_host *host,
                                void *user, void **state, papi_error *err)
{
    (void)spec, (void)cfg, (void)user, (void)state;
    /* backends may log and count through the host while opening */
    papi_host_logf(host, PAPI_LOG_ERROR, "cannot open %s", "the test cache");
    host->count(host->ctx, PAPI_COUNTER_CACHE_ERRORS, 1);
    return papi_error_set(err, PAPI_EIO, "test cache refused to open");
}

static void test_create_failures(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    log_sink log;
    log_sink_init(&log);
    papi_cache_backend broken = spy_cache_backend;
    broken.open = failing_open;
    papi_config *cfg = fake_config(&src, "memory");
    assert_int_equal(papi_config_set_log(cfg, log_sink_fn, &log, PAPI_LOG_INFO), PAPI_OK);
    assert_int_equal(papi_config_add_cache(cfg, &broken, "broken", NULL), PAPI_OK);
    papi_client *c = (papi_client *)&c;
    papi_error err;
    assert_int_equal(papi_client_create(cfg, &c, &err), PAPI_EIO);
    assert_null(c);
    assert_non_null(strstr(err.message, "refused"));
    assert_non_null(strstr(log.all, "cannot open the test cache"));
    /* the transport opened before the cache failed is closed again */
    assert_int_equal(atomic_load(&src.opened), 1);
    assert_int_equal(atomic_load(&src.closed), 1);
    papi_config_destroy(cfg);

    /* a datasets file that does not exist */
    cfg = fake_config(&src, "memory");
    assert_int_equal(papi_config_set(cfg, "datasets", "/nonexistent/datasets.json", NULL), PAPI_OK);
    assert_int_not_equal(papi_client_create(cfg, &c, &err), PAPI_OK);
    assert_null(c);
    assert_int_equal(papi_client_create(cfg, NULL, &err), PAPI_EINVAL);
    papi_config_destroy(cfg);
    assert_int_equal(papi_client_create(NULL, &c, &err), PAPI_EINVAL);
}

/* Issue 13 A2: a first tier across the network (no PAPI_CACHE_IN_PROCESS) would put its I/O on a
 * server's event loop; papi_lookup_list_cached() answers "no result" at once without reading it. */
static void test_lookup_cached_skips_a_remote_first_tier(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    spy_cache remote;
    spy_cache_init(&remote);
    papi_config *cfg = fake_config(&src, "none");
    assert_int_equal(papi_config_add_cache(cfg, &spy_remote_backend, "remote", &remote), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    papi_result_free(r);
    assert_int_equal(remote.n, 1); /* the row is there */
    int gets = atomic_load(&remote.gets);
    papi_stats before = stats_of(c);
    r = (papi_result *)&r;
    assert_int_equal(papi_lookup_list_cached(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    assert_null(r);
    assert_int_equal(atomic_load(&remote.gets), gets); /* not even asked */
    assert_int_equal(stats_of(c).lookups, before.lookups);
    /* the lookup that may block still reads it */
    assert_int_equal(papi_lookup_list(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    papi_result_free(r);
    assert_int_equal(atomic_load(&src.calls), 1);
    papi_client_destroy(c);
    spy_cache_clear(&remote);
}

/* Issue 13 A4: a row from a tier outside the process is served, or copied up, only when it is a
 * well-formed row of the asked id; anything else is a counted miss. */
static void test_remote_rows_are_checked(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    spy_cache upper, remote;
    spy_cache_init(&upper);
    spy_cache_init(&remote);
    log_sink log;
    log_sink_init(&log);
    papi_config *cfg = fake_config(&src, "none");
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "upper", &upper), PAPI_OK);
    assert_int_equal(papi_config_add_cache(cfg, &spy_remote_backend, "remote", &remote), PAPI_OK);
    assert_int_equal(papi_config_set_log(cfg, log_sink_fn, &log, PAPI_LOG_WARN), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    /* the keys of ids 4 and 5, and the genuine row of 5 */
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(c, "customer", "4,5", 3, &r, NULL), PAPI_OK);
    papi_result_free(r);
    assert_int_equal(remote.n, 2);
    char key4[160];
    snprintf(key4, sizeof key4, "%.*s", (int)remote.items[0].key_len, remote.items[0].key);
    assert_non_null(strstr(key4, ":4"));
    char row5[1024];
    snprintf(row5, sizeof row5, "%s", papi_blob_data(remote.items[1].row));
    assert_non_null(strstr(row5, "\"C_CUSTOMER_SK\":5,"));

    /* the source is down from now on: a bad row would be all there is to serve */
    src.fail_from = atomic_load(&src.calls) + 1;
    src.fail_status = PAPI_EUNAVAIL;
    static const char *bad[] = {
        "not json at all",
        "",
        NULL, /* the row of id 5 */
        "{\"C_CUSTOMER_SK\":4,\"C_FIRST_NAME\":\"\xff\"}",
        "{\"C_CUSTOMER_SK\":4,\"C_FIRST_NAME\":\"\\ud800\"}",
        "{\"C_CUSTOMER_SK\":4,",
        "{\"C_CUSTOMER_SK\":4} trailing",
        "{\"C_FIRST_NAME\":\"no key\"}",
        "{\"C_CUSTOMER_SK\":4,\"C_CUSTOMER_SK\":4}",
        "{\"C_CUSTOMER_SK\":\"4\"}",
        "{\"C_CUSTOMER_SK\":4.0}",
        "{\"C_CUSTOMER_SK\":04}",
        "[{\"C_CUSTOMER_SK\":4}]",
    };
    size_t nbad = sizeof bad / sizeof bad[0];
    for (size_t i = 0; i < nbad + 1; i++) {
        const char *row = i < nbad ? (bad[i] ? bad[i] : row5) : bad[0];
        spy_cache_clear(&upper);
        spy_cache_clear(&remote);
        spy_cache_plant(&remote, key4, row, strlen(row));
        if (i == nbad)
            spy_cache_expire_all(&remote); /* an expired bad row is no stale copy either */
        papi_stats before = stats_of(c);
        r = NULL;
        papi_status st = papi_lookup_list(c, "customer", "4", 1, &r, NULL);
        if (st != PAPI_EUNAVAIL)
            fail_msg("bad row #%zu was served: %s", i, r ? papi_result_json(r, NULL) : "-");
        assert_null(r);
        assert_int_equal(stats_of(c).cache_errors, before.cache_errors + 1);
        assert_int_equal(upper.n, 0); /* never copied up */
    }
    assert_int_equal(src.failures_injected, (int)nbad + 1);
    assert_int_equal(log.warnings - (int)nbad - 1, 1); /* one per source failure, one for rows */
    assert_non_null(strstr(log.all, "not a well-formed row"));

    /* a genuine row of 4, a 38-digit integer and nested JSON in it, is served and copied up */
    const char *good = "{\"C_CUSTOMER_SK\":4,\"BIG\":12345678901234567890123456789012345678,"
                       "\"V\":{\"a\":[1,-2.5e3,true,null,\"\\u00e9\\ud83d\\ude00 \xc3\xa9\"]}}";
    spy_cache_clear(&remote);
    spy_cache_plant(&remote, key4, good, strlen(good));
    papi_stats before = stats_of(c);
    assert_int_equal(papi_lookup_list(c, "customer", "4", 1, &r, NULL), PAPI_OK);
    assert_string_equal(papi_result_row_json(r, 0, NULL), good);
    papi_result_free(r);
    assert_int_equal(stats_of(c).cache_errors, before.cache_errors);
    assert_int_equal(upper.n, 1);
    papi_client_destroy(c);
    spy_cache_clear(&upper);
    spy_cache_clear(&remote);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_transport_and_cache),
        cmocka_unit_test(test_recheck_before_fetch),
        cmocka_unit_test(test_lower_tier_fills_upper),
        cmocka_unit_test(test_lookup_cached_first_tier_only),
        cmocka_unit_test(test_lookup_cached_without_tiers),
        cmocka_unit_test(test_fill_keeps_lower_freshness),
        cmocka_unit_test(test_datasets_stats_ping),
        cmocka_unit_test(test_log_level_filter),
        cmocka_unit_test(test_create_failures),
        cmocka_unit_test(test_lookup_cached_skips_a_remote_first_tier),
        cmocka_unit_test(test_remote_rows_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
