/* lookup.c and result.c: asked order, duplicates once, absent ids left out, [] when none, one
 * fetch for all misses, negative entries, key cells matched like ids, stale-if-error, cache
 * failures degrading to misses, argument checks. The source is a test transport plug-in. */
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

typedef struct fixture {
    fake_source src;
    log_sink log;
    papi_client *client;
} fixture;

/* A test's clock: papi_config_set_clock() makes the client read it, so time moves when the test
 * says, without sleeping. */
static int64_t test_clock(void *user)
{
    return atomic_load((_Atomic int64_t *)user);
}

static fixture *setup_clock(const char *cache, int max_id, const char *k1, const char *v1,
                            _Atomic int64_t *clock)
{
    fixture *fx = calloc(1, sizeof *fx);
    fake_source_init(&fx->src, max_id);
    log_sink_init(&fx->log);
    papi_config *cfg = fake_config(&fx->src, cache);
    assert_non_null(cfg);
    assert_int_equal(papi_config_set_log(cfg, log_sink_fn, &fx->log, PAPI_LOG_DEBUG), PAPI_OK);
    if (clock)
        assert_int_equal(papi_config_set_clock(cfg, test_clock, clock), PAPI_OK);
    if (k1)
        assert_int_equal(papi_config_set(cfg, k1, v1, NULL), PAPI_OK);
    papi_error err;
    assert_int_equal(papi_client_create(cfg, &fx->client, &err), PAPI_OK);
    papi_config_destroy(cfg);
    fx->src.client = fx->client;
    return fx;
}

static fixture *setup(const char *cache, int max_id, const char *k1, const char *v1)
{
    return setup_clock(cache, max_id, k1, v1, NULL);
}

static void teardown(fixture *fx)
{
    papi_client_destroy(fx->client);
    assert_int_equal(atomic_load(&fx->src.closed), 1);
    free(fx);
}

static papi_result *lookup_ok(fixture *fx, const char *list)
{
    papi_result *r = NULL;
    papi_error err;
    papi_status st = papi_lookup_list(fx->client, "customer", list, strlen(list), &r, &err);
    if (st != PAPI_OK)
        fail_msg("lookup of %s: %s: %s", list, papi_status_name(st), err.message);
    assert_non_null(r);
    return r;
}

/* The id in row i (C_CUSTOMER_SK is the first member). */
static long row_id(const papi_result *r, size_t i)
{
    size_t len = 0;
    const char *j = papi_result_row_json(r, i, &len);
    assert_non_null(j);
    const char *p = strstr(j, "\"C_CUSTOMER_SK\":");
    assert_non_null(p);
    assert_true(p - j < 3);
    return strtol(p + 16, NULL, 10);
}

static papi_stats stats(fixture *fx)
{
    papi_stats s = {.struct_size = sizeof s};
    assert_int_equal(papi_client_stats(fx->client, &s), PAPI_OK);
    return s;
}

static void test_order_and_json(void **state)
{
    (void)state;
    fixture *fx = setup("memory", 10, NULL, NULL);
    fx->src.reverse = true; /* the source's order must not matter */
    papi_result *r = lookup_ok(fx, "3,1,2");
    assert_int_equal(papi_result_count(r), 3);
    assert_int_equal(row_id(r, 0), 3);
    assert_int_equal(row_id(r, 1), 1);
    assert_int_equal(row_id(r, 2), 2);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_MISS);
    /* the whole answer is the rows joined in an array */
    size_t l0, l1, l2, total;
    const char *r0 = papi_result_row_json(r, 0, &l0);
    const char *r1 = papi_result_row_json(r, 1, &l1);
    const char *r2 = papi_result_row_json(r, 2, &l2);
    const char *all = papi_result_json(r, &total);
    assert_int_equal(total, l0 + l1 + l2 + 4);
    assert_int_equal(strlen(all), total);
    char *want = malloc(total + 1);
    snprintf(want, total + 1, "[%.*s,%.*s,%.*s]", (int)l0, r0, (int)l1, r1, (int)l2, r2);
    assert_string_equal(all, want);
    free(want);
    assert_ptr_equal(papi_result_json(r, NULL), all); /* built once */
    assert_null(papi_result_row_json(r, 3, &l0));
    assert_int_equal(l0, 0);
    assert_int_equal(atomic_load(&fx->src.calls), 1);
    papi_result_free(r);

    /* the same ids again: all from the cache, in the new asked order */
    r = lookup_ok(fx, "2,3");
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    assert_int_equal(row_id(r, 0), 2);
    assert_int_equal(row_id(r, 1), 3);
    assert_int_equal(atomic_load(&fx->src.calls), 1);
    papi_result_free(r);
    papi_stats s = stats(fx);
    assert_int_equal(s.lookups, 2);
    assert_int_equal(s.cache_hits, 2);
    assert_int_equal(s.cache_misses, 3);
    assert_int_equal(s.source_calls, 1);
    assert_int_equal(s.fetches_in_flight, 0);
    teardown(fx);
}

static void test_duplicates_once(void **state)
{
    (void)state;
    fixture *fx = setup("none", 10, NULL, NULL);
    papi_result *r = lookup_ok(fx, "4,04,4,5");
    assert_int_equal(papi_result_count(r), 2);
    assert_int_equal(row_id(r, 0), 4);
    assert_int_equal(row_id(r, 1), 5);
    assert_string_equal(fx->src.last_keys, "4,5");
    papi_result_free(r);
    /* the source repeating rows and sending unasked ones changes nothing */
    fx->src.extra_rows = true;
    r = lookup_ok(fx, "5,4");
    assert_int_equal(papi_result_count(r), 2);
    assert_int_equal(row_id(r, 0), 5);
    assert_int_equal(row_id(r, 1), 4);
    papi_result_free(r);
    teardown(fx);
}

static void test_key_cells_normalized(void **state)
{
    (void)state;
    fixture *fx = setup("none", 10, NULL, NULL);
    fx->src.noisy_keys = true; /* the source answers "0007.0" for 7 */
    papi_result *r = lookup_ok(fx, "7,8");
    assert_int_equal(papi_result_count(r), 2);
    papi_result_free(r);
    teardown(fx);
}

static void test_absent_and_negative_entries(void **state)
{
    (void)state;
    fixture *fx = setup("memory", 10, NULL, NULL);
    papi_result *r = lookup_ok(fx, "1,999,2");
    assert_int_equal(papi_result_count(r), 2);
    assert_int_equal(row_id(r, 0), 1);
    assert_int_equal(row_id(r, 1), 2);
    papi_result_free(r);
    /* 999 is now known to be absent: no fetch */
    r = lookup_ok(fx, "999");
    assert_int_equal(papi_result_count(r), 0);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    assert_int_equal(atomic_load(&fx->src.calls), 1);
    assert_int_equal(stats(fx).cache_negative_hits, 1);
    papi_result_free(r);
    /* none found is an empty array */
    r = lookup_ok(fx, "500,501");
    assert_int_equal(papi_result_count(r), 0);
    size_t len = 99;
    assert_string_equal(papi_result_json(r, &len), "[]");
    assert_int_equal(len, 2);
    papi_result_free(r);
    teardown(fx);
}

static void test_one_fetch_for_all_misses(void **state)
{
    (void)state;
    fixture *fx = setup("memory", 100, NULL, NULL);
    papi_result *r = lookup_ok(fx, "1,2,3,4,5");
    papi_result_free(r);
    assert_int_equal(atomic_load(&fx->src.calls), 1);
    assert_string_equal(fx->src.last_keys, "1,2,3,4,5");
    /* only the ids no cache answers reach the source, together */
    r = lookup_ok(fx, "4,6,5,7");
    assert_int_equal(papi_result_count(r), 4);
    assert_int_equal(row_id(r, 1), 6);
    papi_result_free(r);
    assert_int_equal(atomic_load(&fx->src.calls), 2);
    assert_string_equal(fx->src.last_keys, "6,7");
    /* a big request (hash-matched rows) */
    char list[4096] = "";
    for (int i = 100; i >= 1; i--) {
        char item[8];
        snprintf(item, sizeof item, i == 100 ? "%d" : ",%d", i);
        strcat(list, item);
    }
    r = lookup_ok(fx, list);
    assert_int_equal(papi_result_count(r), 100);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(row_id(r, i), 100 - (long)i);
    papi_result_free(r);
    assert_int_equal(atomic_load(&fx->src.calls), 3);
    teardown(fx);
}

static void test_lookup_customers_and_array(void **state)
{
    (void)state;
    fixture *fx = setup("memory", 10, NULL, NULL);
    int64_t ids[] = {9, 2, 9};
    papi_result *r = NULL;
    papi_error err;
    assert_int_equal(papi_lookup_customers(fx->client, ids, 3, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 2);
    assert_int_equal(row_id(r, 0), 9);
    assert_int_equal(row_id(r, 1), 2);
    papi_result_free(r);
    const char *text[] = {"2", "3"};
    assert_int_equal(papi_lookup(fx->client, "customer", text, 2, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 2);
    papi_result_free(r);
    /* more ids than the 16 kept on the stack */
    int64_t many[40];
    for (int i = 0; i < 40; i++)
        many[i] = i % 12;
    assert_int_equal(papi_lookup_customers(fx->client, many, 40, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 10); /* 1..10 exist; 0 and 11 do not */
    papi_result_free(r);
    teardown(fx);
}

static void test_bad_input(void **state)
{
    (void)state;
    fixture *fx = setup("memory", 10, "max-ids", "3");
    papi_result *r = (papi_result *)&r;
    papi_error err;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "1,,2", 4, &r, &err), PAPI_EINVAL);
    assert_null(r);
    assert_int_equal(papi_lookup_list(fx->client, "customer", "", 0, &r, &err), PAPI_EINVAL);
    assert_int_equal(papi_lookup_list(fx->client, "customer", "1,2,3,4", 7, &r, &err), PAPI_EINVAL);
    assert_int_equal(papi_lookup_list(fx->client, "customer", "1;DROP", 6, &r, &err), PAPI_EINVAL);
    assert_int_equal(papi_lookup_list(fx->client, "nope", "1", 1, &r, &err), PAPI_ENODATASET);
    assert_int_equal(err.status, PAPI_ENODATASET);
    int64_t four[] = {1, 2, 3, 4};
    r = (papi_result *)&r;
    assert_int_equal(papi_lookup_customers(fx->client, four, 4, &r, &err), PAPI_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err.message, "too many"));
    int64_t neg[] = {1, -5};
    assert_int_equal(papi_lookup_customers(fx->client, neg, 2, &r, &err), PAPI_EINVAL);
    assert_non_null(strstr(err.message, "2"));
    assert_int_equal(papi_lookup_customers(fx->client, neg, 0, &r, &err), PAPI_EINVAL);
    assert_int_equal(papi_lookup(NULL, "customer", NULL, 0, &r, &err), PAPI_EINVAL);
    assert_int_equal(papi_lookup(fx->client, "customer", NULL, 1, &r, &err), PAPI_EINVAL);
    assert_int_equal(papi_lookup(fx->client, "customer", NULL, 0, NULL, &err), PAPI_EINVAL);
    assert_int_equal(atomic_load(&fx->src.calls), 0);
    assert_int_equal(stats(fx).lookups, 0);
    papi_result_free(NULL);
    assert_int_equal(papi_result_count(NULL), 0);
    teardown(fx);
}

static void test_source_error_detail(void **state)
{
    (void)state;
    fixture *fx = setup("memory", 10, NULL, NULL);
    fx->src.fail_from = 1;
    fx->src.fail_status = PAPI_EUNAVAIL;
    papi_result *r = (papi_result *)&r;
    papi_error err;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "1,2", 3, &r, &err), PAPI_EUNAVAIL);
    assert_null(r);
    assert_int_equal(atomic_load(&fx->src.failures_injected), 1);
    assert_int_equal(err.status, PAPI_EUNAVAIL);
    assert_string_equal(err.source_code, "390144");
    assert_non_null(strstr(err.message, "injected"));
    papi_stats s = stats(fx);
    assert_int_equal(s.source_errors, 1);
    assert_int_equal(s.stale_served, 0);
    assert_true(fx->log.warnings >= 1);
    /* the failure was not cached: the source is asked again */
    fx->src.fail_from = 0;
    r = lookup_ok(fx, "1,2");
    assert_int_equal(papi_result_count(r), 2);
    papi_result_free(r);
    assert_int_equal(atomic_load(&fx->src.calls), 2);
    teardown(fx);
}

static void test_malformed_rows(void **state)
{
    (void)state;
    fixture *fx = setup("memory", 10, NULL, NULL);
    papi_result *r = (papi_result *)&r;
    papi_error err;
    fx->src.bad_rows = 1;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "1", 1, &r, &err), PAPI_EPROTO);
    assert_null(r);
    assert_non_null(strstr(err.message, "17"));
    fx->src.bad_rows = 2;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "1", 1, &r, &err), PAPI_EPROTO);
    assert_non_null(strstr(err.message, "C_CURRENT_CDEMO_SK")); /* names the column */
    assert_null(strstr(err.message, "12x"));                    /* not the value */
    /* a row with a NULL key answers no id */
    fx->src.bad_rows = 3;
    r = lookup_ok(fx, "1");
    assert_int_equal(papi_result_count(r), 0);
    papi_result_free(r);
    assert_int_equal(stats(fx).source_errors, 2);
    teardown(fx);
}

static void test_stale_if_error_spy(void **state)
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
    papi_error err;
    assert_int_equal(papi_lookup_list(c, "customer", "1", 1, &r, &err), PAPI_OK);
    size_t len;
    char fresh[1024];
    snprintf(fresh, sizeof fresh, "%s", papi_result_json(r, &len));
    papi_result_free(r);

    /* the copy expires, then the source fails on its second call */
    spy_cache_expire_all(&spy);
    src.fail_from = 2;
    src.fail_status = PAPI_ETIMEDOUT;
    assert_int_equal(papi_lookup_list(c, "customer", "1", 1, &r, &err), PAPI_OK);
    assert_int_equal(atomic_load(&src.failures_injected), 1);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_STALE);
    assert_string_equal(papi_result_json(r, NULL), fresh);
    papi_result_free(r);
    papi_stats s = {.struct_size = sizeof s};
    assert_int_equal(papi_client_stats(c, &s), PAPI_OK);
    assert_int_equal(s.stale_served, 1);

    /* an id with no expired copy still fails the request */
    assert_int_equal(papi_lookup_list(c, "customer", "1,2", 3, &r, &err), PAPI_ETIMEDOUT);
    assert_int_equal(atomic_load(&src.failures_injected), 2);
    assert_string_equal(err.source_code, "390144");

    /* a source that answers again replaces the stale copy */
    src.fail_from = 0;
    assert_int_equal(papi_lookup_list(c, "customer", "1", 1, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_MISS);
    papi_result_free(r);
    papi_client_destroy(c);
    spy_cache_clear(&spy);
}

static papi_cache_outcome lookup_outcome(fixture *fx, const char *list)
{
    papi_result *r = lookup_ok(fx, list);
    papi_cache_outcome oc = papi_result_outcome(r);
    papi_result_free(r);
    return oc;
}

static void test_ttl_on_injected_clock(void **state)
{
    (void)state;
    /* the memory tier's TTLs run on the client's clock: moved by the test, never slept */
    _Atomic int64_t now = 1000000;
    fixture *fx = setup_clock("memory", 10, "cache-ttl", "60", &now);
    assert_int_equal(lookup_outcome(fx, "3"), PAPI_OUTCOME_MISS);
    atomic_store(&now, 1000000 + 59999);
    assert_int_equal(lookup_outcome(fx, "3"), PAPI_OUTCOME_HIT);
    assert_int_equal(atomic_load(&fx->src.calls), 1);
    atomic_store(&now, 1000000 + 60000);
    assert_int_equal(lookup_outcome(fx, "3"), PAPI_OUTCOME_MISS);
    assert_int_equal(atomic_load(&fx->src.calls), 2);
    /* negative entries: negative-ttl, 30 s by default */
    assert_int_equal(lookup_outcome(fx, "99"), PAPI_OUTCOME_MISS);
    atomic_store(&now, 1000000 + 60000 + 29999);
    assert_int_equal(lookup_outcome(fx, "99"), PAPI_OUTCOME_HIT);
    atomic_store(&now, 1000000 + 60000 + 30000);
    assert_int_equal(lookup_outcome(fx, "99"), PAPI_OUTCOME_MISS);
    assert_int_equal(atomic_load(&fx->src.calls), 4);
    teardown(fx);
}

static void test_stale_if_error_memory(void **state)
{
    (void)state;
    /* the memory tier with a 1 s TTL and a 10 s stale window, on an injected clock */
    _Atomic int64_t now = 5000;
    fixture *fx = setup_clock("memory", 10, "cache-ttl", "1", &now);
    papi_result *r = lookup_ok(fx, "3");
    char fresh[1024];
    snprintf(fresh, sizeof fresh, "%s", papi_result_json(r, NULL));
    papi_result_free(r);
    fx->src.fail_from = 2;
    fx->src.fail_status = PAPI_EUNAVAIL;
    atomic_store(&now, 5999);
    assert_int_equal(lookup_outcome(fx, "3"), PAPI_OUTCOME_HIT);
    atomic_store(&now, 6000); /* expired: the source fails, the expired copy is served */
    r = lookup_ok(fx, "3");
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_STALE);
    assert_string_equal(papi_result_json(r, NULL), fresh);
    papi_result_free(r);
    assert_int_equal(atomic_load(&fx->src.failures_injected), 1);
    assert_int_equal(stats(fx).stale_served, 1);
    /* past stale-max (3600 s by default) the copy is gone: the failure reaches the caller */
    atomic_store(&now, 6000 + 3600 * 1000);
    papi_error err;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "3", 1, &r, &err), PAPI_EUNAVAIL);
    assert_null(r);
    assert_int_equal(atomic_load(&fx->src.failures_injected), 2);
    teardown(fx);
}

static void test_cache_failure_is_a_miss(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    spy_cache spy;
    spy_cache_init(&spy);
    atomic_store(&spy.failing, true);
    log_sink log;
    log_sink_init(&log);
    papi_config *cfg = fake_config(&src, "none");
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "spy", &spy), PAPI_OK);
    assert_int_equal(papi_config_set_log(cfg, log_sink_fn, &log, PAPI_LOG_WARN), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    papi_result *r = NULL;
    papi_error err;
    assert_int_equal(papi_lookup_list(c, "customer", "1,2", 3, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 2);
    papi_result_free(r);
    papi_stats s = {.struct_size = sizeof s};
    assert_int_equal(papi_client_stats(c, &s), PAPI_OK);
    assert_int_equal(s.cache_errors, 3); /* the read, the look before fetching, the put */
    assert_true(atomic_load(&spy.gets) >= 1);
    assert_true(log.warnings >= 2);
    assert_non_null(strstr(log.all, "spy cache is failing"));
    papi_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_json),
        cmocka_unit_test(test_duplicates_once),
        cmocka_unit_test(test_key_cells_normalized),
        cmocka_unit_test(test_absent_and_negative_entries),
        cmocka_unit_test(test_one_fetch_for_all_misses),
        cmocka_unit_test(test_lookup_customers_and_array),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_source_error_detail),
        cmocka_unit_test(test_malformed_rows),
        cmocka_unit_test(test_stale_if_error_spy),
        cmocka_unit_test(test_stale_if_error_memory),
        cmocka_unit_test(test_ttl_on_injected_clock),
        cmocka_unit_test(test_cache_failure_is_a_miss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
