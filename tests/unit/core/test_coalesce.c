/* coalesce.c through whole clients: concurrent misses of one id make ONE fetch (the test
 * transport blocks until every other thread is waiting on it), errors reach every waiter, a
 * request that leads some ids and waits for others finishes, waits are bounded by the deadline. */
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

enum { N = 4 };

typedef lookup_job job;

static papi_client *make(fake_source *src, const char *cache, const char *timeout_ms)
{
    papi_config *cfg = fake_config(src, cache);
    assert_non_null(cfg);
    if (timeout_ms)
        assert_int_equal(papi_config_set(cfg, "timeout-ms", timeout_ms, NULL), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    src->client = c;
    return c;
}

static void same_id_from(const char *cache, papi_status fail)
{
    fake_source src;
    fake_source_init(&src, 100);
    src.block_until_waits = N - 1;
    if (fail) {
        src.fail_from = 1;
        src.fail_status = fail;
    }
    papi_client *c = make(&src, cache, NULL);
    job jobs[N];
    for (int i = 0; i < N; i++)
        lookup_job_start(&jobs[i], c, "42");
    for (int i = 0; i < N; i++)
        lookup_job_finish(&jobs[i]);
    /* the fetch really waited for every other thread to be waiting */
    assert_int_equal(atomic_load(&src.block_timeouts), 0);
    assert_int_equal(atomic_load(&src.calls), 1);
    papi_stats s = client_stats(c);
    assert_int_equal(s.coalesced_waits, N - 1);
    assert_int_equal(s.source_calls, 1);
    for (int i = 0; i < N; i++) {
        if (fail) {
            assert_int_equal(jobs[i].status, fail);
            assert_int_equal(jobs[i].err.status, fail);
            assert_string_equal(jobs[i].err.source_code, "390144");
            assert_non_null(strstr(jobs[i].err.message, "injected"));
        } else {
            assert_int_equal(jobs[i].status, PAPI_OK);
            assert_int_equal(jobs[i].count, 1);
            assert_non_null(strstr(jobs[i].first, "\"C_CUSTOMER_SK\":42"));
        }
    }
    if (fail)
        assert_int_equal(atomic_load(&src.failures_injected), 1);
    papi_client_destroy(c);
}

static void test_one_fetch_memory(void **state)
{
    (void)state;
    same_id_from("memory", PAPI_OK);
}

static void test_one_fetch_no_cache(void **state)
{
    (void)state;
    same_id_from("none", PAPI_OK);
}

static void test_error_reaches_waiters(void **state)
{
    (void)state;
    same_id_from("memory", PAPI_EUNAVAIL);
}

static void test_absent_reaches_waiters(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    src.block_until_waits = N - 1;
    papi_client *c = make(&src, "none", NULL);
    job jobs[N];
    for (int i = 0; i < N; i++)
        lookup_job_start(&jobs[i], c, "77"); /* does not exist */
    for (int i = 0; i < N; i++) {
        lookup_job_finish(&jobs[i]);
        assert_int_equal(jobs[i].status, PAPI_OK);
        assert_int_equal(jobs[i].count, 0);
    }
    assert_int_equal(atomic_load(&src.block_timeouts), 0);
    assert_int_equal(atomic_load(&src.calls), 1);
    papi_client_destroy(c);
}

static void wait_calls(fake_source *src, int n)
{
    for (int i = 0; i < 5000 && atomic_load(&src->calls) < n; i++)
        sleep_ms(2);
    assert_true(atomic_load(&src->calls) >= n);
}

/* A asks 1,2 and leads both; B asks 2,3: it leads 3 and waits for A's 2. A's fetch is held
 * until B waits, so B must fetch its own id first or nobody finishes. */
static void test_lead_then_wait(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    src.block_until_waits = 1;
    src.block_only_call = 1;
    papi_client *c = make(&src, "memory", NULL);
    job a, b;
    lookup_job_start(&a, c, "1,2");
    wait_calls(&src, 1);
    lookup_job_start(&b, c, "2,3");
    lookup_job_finish(&a);
    lookup_job_finish(&b);
    assert_int_equal(atomic_load(&src.block_timeouts), 0);
    assert_int_equal(a.status, PAPI_OK);
    assert_int_equal(b.status, PAPI_OK);
    assert_int_equal(a.count, 2);
    assert_int_equal(b.count, 2);
    assert_non_null(strstr(b.first, "\"C_CUSTOMER_SK\":2"));
    assert_int_equal(atomic_load(&src.calls), 2);
    assert_int_equal(atomic_load(&src.keys_asked), 3); /* 1,2 then 3 alone */
    assert_string_equal(src.last_keys, "3");
    assert_int_equal(client_stats(c).coalesced_waits, 1);
    papi_client_destroy(c);
}

/* A follower gives up at its deadline while the leader's fetch is still running. */
static void test_wait_bounded_by_deadline(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 10);
    src.hold_ms = 3000;
    papi_client *c = make(&src, "memory", "300");
    job a, b;
    lookup_job_start(&a, c, "5");
    wait_calls(&src, 1);
    int64_t t0 = papi_now_ms();
    lookup_job_start(&b, c, "5");
    lookup_job_finish(&b);
    int64_t waited = papi_now_ms() - t0;
    assert_int_equal(b.status, PAPI_ETIMEDOUT);
    assert_int_equal(b.err.status, PAPI_ETIMEDOUT);
    assert_true(waited < 2900); /* it did not wait for the leader */
    lookup_job_finish(&a);
    assert_int_equal(a.status, PAPI_OK); /* the fake ignores deadlines */
    assert_int_equal(atomic_load(&src.calls), 1);
    papi_client_destroy(c);
}

/* Many threads, overlapping random requests, a small cache that evicts all the time: every
 * answer holds exactly the existing asked ids, in asked order. */
static void test_stress(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 200);
    papi_config *cfg = fake_config(&src, "memory");
    assert_int_equal(papi_config_set(cfg, "cache-max-entries", "64", NULL), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    stress_threads(
        &(stress){.client = c, .rounds = 1500, .max_per = 5, .id_range = 300, .exist = 200}, N,
        31337, 3);
    papi_stats s = client_stats(c);
    assert_int_equal(s.lookups, N * 1500);
    assert_true(s.source_calls > 0);
    assert_int_equal(s.fetches_in_flight, 0);
    papi_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_fetch_memory),
        cmocka_unit_test(test_one_fetch_no_cache),
        cmocka_unit_test(test_error_reaches_waiters),
        cmocka_unit_test(test_absent_reaches_waiters),
        cmocka_unit_test(test_lead_then_wait),
        cmocka_unit_test(test_wait_bounded_by_deadline),
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
