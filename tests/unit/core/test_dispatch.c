/* dispatch.c through whole clients: the miss dispatcher batches the misses of many requests while
 * the source's slots are busy. Every test counts at the source (the fake transport's fetch log
 * and counters) and in papi_stats; none asserts a timing. The fake's gate holds fetches in flight
 * so that a test can fill the queue, watch it (queue_depth), then let everything go. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fakes.h"

typedef lookup_job job;

/* options: NULL-terminated key, value pairs */
static papi_client *make_with(fake_source *src, const papi_transport_backend *t, const char *cache,
                              const char *const *options)
{
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set_transport(cfg, t, "fake:", src), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", cache, NULL), PAPI_OK);
    for (size_t i = 0; options && options[i]; i += 2)
        assert_int_equal(papi_config_set(cfg, options[i], options[i + 1], NULL), PAPI_OK);
    papi_client *c = NULL;
    papi_error err;
    if (papi_client_create(cfg, &c, &err) != PAPI_OK)
        fail_msg("client: %s", err.message);
    papi_config_destroy(cfg);
    src->client = c;
    return c;
}

static papi_client *make(fake_source *src, const char *cache, const char *const *options)
{
    return make_with(src, &fake_transport, cache, options);
}

static uint64_t sum(const uint64_t *v, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

static void assert_row(const job *j, int id)
{
    char want[48];
    snprintf(want, sizeof want, "{\"C_CUSTOMER_SK\":%d,", id);
    if (j->status != PAPI_OK)
        fail_msg("lookup of %s: %s: %s", j->list, papi_status_name(j->status), j->err.message);
    assert_int_equal(j->count, 1);
    assert_memory_equal(j->first, want, strlen(want));
}

/* An idle source: a lone miss is sent at once, by its own thread, without waiting in the queue
 * or lingering. With batch-linger-us set, the same miss does wait: the counters can tell. */
static void test_lone_miss_sent_at_once(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 100);
    const char *const opts[] = {"source-concurrency", "8", NULL};
    papi_client *c = make(&src, "memory", opts);
    job j;
    lookup_job_start(&j, c, "5");
    lookup_job_finish(&j);
    assert_row(&j, 5);
    papi_stats s = client_stats(c);
    assert_int_equal(atomic_load(&src.calls), 1);
    assert_int_equal(s.source_calls, 1);
    assert_int_equal(s.fetch_ids_bucket[0], 1); /* one id */
    assert_int_equal(s.fetch_ids_sum, 1);
    assert_int_equal(s.queue_wait_bucket[0], 1); /* waited 0 */
    assert_int_equal(s.queue_wait_us_sum, 0);
    assert_int_equal(s.fetches_at_limit, 0);
    assert_int_equal(s.queue_depth, 0);
    papi_client_destroy(c);

    fake_source_init(&src, 100);
    const char *const linger[] = {"source-concurrency", "8", "batch-linger-us", "20000", NULL};
    c = make(&src, "memory", linger);
    lookup_job_start(&j, c, "5");
    lookup_job_finish(&j);
    assert_row(&j, 5);
    s = client_stats(c);
    assert_int_equal(s.queue_wait_bucket[0], 0);
    assert_true(s.queue_wait_us_sum >= 20000); /* it lingered for more ids */
    papi_client_destroy(c);
}

/* The burst: 2 slots held busy, 48 more single-id requests queue; when the slots free, the 48
 * ids go in one fetch. 50 ids, 3 fetches. */
static void test_burst_shares_fetches(void **state)
{
    (void)state;
    enum { N = 50 };
    fake_source src;
    fake_source_init(&src, 100);
    atomic_store(&src.gate_closed, true);
    const char *const opts[] = {"source-concurrency", "2", NULL};
    papi_client *c = make(&src, "none", opts);
    static job jobs[N];
    char id[16];
    for (int i = 0; i < 2; i++) {
        snprintf(id, sizeof id, "%d", i + 1);
        lookup_job_start(&jobs[i], c, id);
    }
    wait_gated(&src, 2);
    for (int i = 2; i < N; i++) {
        snprintf(id, sizeof id, "%d", i + 1);
        lookup_job_start(&jobs[i], c, id);
    }
    wait_depth(c, N - 2);
    atomic_store(&src.gate_closed, false);
    for (int i = 0; i < N; i++) {
        lookup_job_finish(&jobs[i]);
        assert_row(&jobs[i], i + 1);
    }
    assert_int_equal(atomic_load(&src.block_timeouts), 0);
    assert_int_equal(atomic_load(&src.calls), 3);
    assert_int_equal(atomic_load(&src.keys_asked), N);
    assert_int_equal(atomic_load(&src.max_keys), N - 2);
    papi_stats s = client_stats(c);
    assert_int_equal(s.source_calls, 3);
    assert_int_equal(s.fetch_ids_bucket[0], 2); /* the two first, alone */
    assert_int_equal(s.fetch_ids_bucket[6], 1); /* 33..64 ids: the 48 */
    assert_int_equal(s.fetch_ids_sum, N);
    assert_int_equal(s.queue_depth, 0);
    assert_int_equal(sum(s.queue_wait_bucket, PAPI_STATS_QUEUE_WAIT_BUCKETS), N);
    assert_true(s.queue_wait_us_sum > 0);
    /* the second request took the last slot, and the batch went out on a handed-over one */
    assert_int_equal(s.fetches_at_limit, 2);
    assert_int_equal(s.fetches_in_flight, 0);
    papi_client_destroy(c);
}

/* One slot, max-batch 4: ids go out in the order they were queued, 4 at most a fetch. */
static void test_fifo_and_max_batch(void **state)
{
    (void)state;
    enum { N = 11 };
    fake_source src;
    fake_source_init(&src, 100);
    atomic_store(&src.gate_closed, true);
    const char *const opts[] = {"source-concurrency", "1", "max-batch", "4", NULL};
    papi_client *c = make(&src, "memory", opts);
    static job jobs[N];
    lookup_job_start(&jobs[0], c, "1");
    wait_gated(&src, 1);
    char id[16];
    for (int i = 1; i < N; i++) { /* one at a time: the queue's order is the start order */
        snprintf(id, sizeof id, "%d", i + 1);
        lookup_job_start(&jobs[i], c, id);
        wait_depth(c, (uint64_t)i);
    }
    atomic_store(&src.gate_closed, false);
    for (int i = 0; i < N; i++) {
        lookup_job_finish(&jobs[i]);
        assert_row(&jobs[i], i + 1);
    }
    assert_string_equal(src.fetch_log, "1;2,3,4,5;6,7,8,9;10,11");
    assert_int_equal(atomic_load(&src.max_keys), 4);
    papi_stats s = client_stats(c);
    assert_int_equal(s.fetch_ids_bucket[0], 1);
    assert_int_equal(s.fetch_ids_bucket[1], 1); /* 2 ids */
    assert_int_equal(s.fetch_ids_bucket[2], 2); /* 3-4 ids */
    assert_int_equal(s.queue_depth, 0);

    /* a request with more ids than max-batch: its own ids go in successive fetches */
    job big;
    lookup_job_start(&big, c, "20,21,22,23,24,25,26,27,28");
    lookup_job_finish(&big);
    assert_int_equal(big.status, PAPI_OK);
    assert_int_equal(big.count, 9);
    assert_string_equal(src.last_keys, "28");
    assert_int_equal(atomic_load(&src.calls), 4 + 3);
    assert_int_equal(atomic_load(&src.max_keys), 4);
    papi_client_destroy(c);
}

/* A request whose deadline passes while its id is queued gets PAPI_ETIMEDOUT; its id leaves the
 * queue and is never fetched. */
static void test_deadline_while_queued(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 100);
    atomic_store(&src.gate_closed, true);
    const char *const opts[] = {"source-concurrency", "1", "timeout-ms", "300", NULL};
    papi_client *c = make(&src, "memory", opts);
    job a, b;
    lookup_job_start(&a, c, "1");
    wait_gated(&src, 1);
    lookup_job_start(&b, c, "2");
    lookup_job_finish(&b); /* the gate is still closed: it can only time out */
    assert_int_equal(b.status, PAPI_ETIMEDOUT);
    assert_int_equal(b.err.status, PAPI_ETIMEDOUT);
    assert_non_null(strstr(b.err.message, "free source slot"));
    assert_int_equal(client_stats(c).queue_depth, 0);
    atomic_store(&src.gate_closed, false);
    lookup_job_finish(&a);
    assert_row(&a, 1);
    assert_int_equal(atomic_load(&src.calls), 1); /* no fetch for 2 alone */
    assert_string_equal(src.fetch_log, "1");
    papi_stats s = client_stats(c);
    assert_int_equal(s.queue_depth, 0);
    assert_int_equal(sum(s.queue_wait_bucket, PAPI_STATS_QUEUE_WAIT_BUCKETS), 1);

    /* the next request for 2 leads a fetch of its own */
    job again;
    lookup_job_start(&again, c, "2");
    lookup_job_finish(&again);
    assert_row(&again, 2);
    assert_string_equal(src.fetch_log, "1;2");
    papi_client_destroy(c);
}

/* ...unless another request still waits on that id: then it stays queued and is fetched for the
 * follower, whose deadline is later. */
static void test_deadline_while_queued_with_follower(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 100);
    atomic_store(&src.gate_closed, true);
    const char *const opts[] = {"source-concurrency", "1", "timeout-ms", "4000", NULL};
    papi_client *c = make(&src, "memory", opts);
    job a, b, f;
    lookup_job_start(&a, c, "1");
    wait_gated(&src, 1);
    lookup_job_start(&b, c, "2");
    wait_depth(c, 1);
    sleep_ms(2000); /* the follower's deadline comes 2 s after b's: room for a loaded machine */
    lookup_job_start(&f, c, "2");
    wait_coalesced(c, 1);
    lookup_job_finish(&b);
    assert_int_equal(b.status, PAPI_ETIMEDOUT);
    assert_int_equal(client_stats(c).queue_depth, 1); /* kept for the follower */
    atomic_store(&src.gate_closed, false);
    lookup_job_finish(&a);
    lookup_job_finish(&f);
    assert_row(&a, 1);
    assert_row(&f, 2);
    assert_string_equal(src.fetch_log, "1;2");
    assert_int_equal(client_stats(c).queue_depth, 0);
    papi_client_destroy(c);
}

/* One failed batch reaches every request in it: those with an expired copy get it (STALE), the
 * others the source's error. */
static void test_failure_fans_out(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 100);
    spy_cache spy;
    spy_cache_init(&spy);
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set_transport(cfg, &fake_transport, "fake:", &src), PAPI_OK);
    assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "spy", &spy), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "source-concurrency", "1", NULL), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    src.client = c;

    job warm;
    lookup_job_start(&warm, c, "2,3"); /* call 1: copies of 2 and 3 in the cache */
    lookup_job_finish(&warm);
    assert_int_equal(warm.status, PAPI_OK);
    spy_cache_expire_all(&spy);

    atomic_store(&src.gate_closed, true);
    job a, q[4];
    lookup_job_start(&a, c, "1"); /* call 2, held */
    wait_gated(&src, 1);
    const char *ids[4] = {"2", "3", "4", "5"};
    for (int i = 0; i < 4; i++) {
        lookup_job_start(&q[i], c, ids[i]);
        wait_depth(c, (uint64_t)i + 1);
    }
    src.fail_status = PAPI_EUNAVAIL;
    src.fail_from = 3; /* the batch of the four */
    atomic_store(&src.gate_closed, false);
    lookup_job_finish(&a);
    assert_row(&a, 1);
    for (int i = 0; i < 4; i++)
        lookup_job_finish(&q[i]);
    assert_int_equal(atomic_load(&src.failures_injected), 1);
    assert_int_equal(atomic_load(&src.calls), 3);
    assert_string_equal(src.last_keys, "2,3,4,5");
    for (int i = 0; i < 2; i++) { /* 2 and 3: their expired copies */
        assert_row(&q[i], i + 2);
        assert_int_equal(q[i].outcome, PAPI_OUTCOME_STALE);
    }
    for (int i = 2; i < 4; i++) { /* 4 and 5: the source's own error */
        assert_int_equal(q[i].status, PAPI_EUNAVAIL);
        assert_string_equal(q[i].err.source_code, "390144");
        assert_non_null(strstr(q[i].err.message, "injected failure on call 3"));
    }
    papi_stats s = client_stats(c);
    assert_int_equal(s.stale_served, 2);
    assert_int_equal(s.source_errors, 1);
    papi_client_destroy(c);
    spy_cache_clear(&spy);
}

/* The same id asked by many requests, while queued and while in flight: one fetch each time. */
static void test_same_id_fetched_once(void **state)
{
    (void)state;
    enum { N = 10 };
    fake_source src;
    fake_source_init(&src, 100);
    atomic_store(&src.gate_closed, true);
    const char *const opts[] = {"source-concurrency", "1", NULL};
    papi_client *c = make(&src, "none", opts);
    static job jobs[N];
    job a;
    lookup_job_start(&a, c, "1");
    wait_gated(&src, 1);
    for (int i = 0; i < N; i++) /* 7 queued once, N - 1 followers */
        lookup_job_start(&jobs[i], c, "7");
    wait_depth(c, 1);
    wait_coalesced(c, N - 1);
    atomic_store(&src.gate_closed, false);
    lookup_job_finish(&a);
    for (int i = 0; i < N; i++) {
        lookup_job_finish(&jobs[i]);
        assert_row(&jobs[i], 7);
    }
    assert_string_equal(src.fetch_log, "1;7");

    atomic_store(&src.gate_closed, true); /* now 9 is in flight when the others ask */
    lookup_job_start(&jobs[0], c, "9");
    wait_gated(&src, 1);
    for (int i = 1; i < N; i++)
        lookup_job_start(&jobs[i], c, "9");
    wait_coalesced(c, 2 * (N - 1));
    assert_int_equal(client_stats(c).queue_depth, 0);
    atomic_store(&src.gate_closed, false);
    for (int i = 0; i < N; i++) {
        lookup_job_finish(&jobs[i]);
        assert_row(&jobs[i], 9);
    }
    assert_string_equal(src.fetch_log, "1;7;9");
    assert_int_equal(atomic_load(&src.keys_asked), 3);
    papi_client_destroy(c);
}

/* source-concurrency 0: no queue, every request sends its own fetch at once. */
static void test_concurrency_zero_is_unbounded(void **state)
{
    (void)state;
    enum { N = 6 };
    fake_source src;
    fake_source_init(&src, 100);
    atomic_store(&src.gate_closed, true);
    const char *const opts[] = {"source-concurrency", "0", NULL};
    papi_client *c = make(&src, "none", opts);
    job jobs[N];
    char id[16];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "%d", i + 1);
        lookup_job_start(&jobs[i], c, id);
    }
    wait_gated(&src, N); /* all in flight at once */
    assert_int_equal(client_stats(c).queue_depth, 0);
    atomic_store(&src.gate_closed, false);
    for (int i = 0; i < N; i++) {
        lookup_job_finish(&jobs[i]);
        assert_row(&jobs[i], i + 1);
    }
    assert_int_equal(atomic_load(&src.calls), N);
    assert_int_equal(atomic_load(&src.max_keys), 1);
    assert_int_equal(client_stats(c).queue_wait_us_sum, 0);
    papi_client_destroy(c);
}

/* Unset source-concurrency is the transport table's default_concurrency, read only when the
 * table's struct_size covers it (an older plug-in gets the cores). */
static void check_default_concurrency(const papi_transport_backend *t, long slots)
{
    enum { N = 6 };
    int want_slots = slots < 1 ? 1 : slots > N ? N : (int)slots;
    fake_source src;
    fake_source_init(&src, 100);
    atomic_store(&src.gate_closed, true);
    papi_client *c = make_with(&src, t, "none", NULL);
    job jobs[N];
    char id[16];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "%d", i + 1);
        lookup_job_start(&jobs[i], c, id);
    }
    wait_gated(&src, want_slots);
    wait_depth(c, (uint64_t)(N - want_slots));
    atomic_store(&src.gate_closed, false);
    for (int i = 0; i < N; i++) {
        lookup_job_finish(&jobs[i]);
        assert_row(&jobs[i], i + 1);
    }
    papi_client_destroy(c);
}

static void test_default_concurrency_from_transport(void **state)
{
    (void)state;
    papi_transport_backend three = fake_transport;
    three.default_concurrency = 3;
    check_default_concurrency(&three, 3);
    papi_transport_backend old = three;
    old.struct_size = (uint32_t)offsetof(papi_transport_backend, default_concurrency);
    check_default_concurrency(&old, sysconf(_SC_NPROCESSORS_ONLN));
}

/* Many threads, overlapping requests, 2 slots, small batches, a cache that evicts: every answer
 * holds exactly the existing asked ids in asked order, and nothing is left queued. */
static void test_stress(void **state)
{
    (void)state;
    enum { T = 8 };
    fake_source src;
    fake_source_init(&src, 200);
    const char *const opts[] = {"source-concurrency", "2",  "max-batch", "5",
                                "cache-max-entries",  "32", NULL};
    papi_client *c = make(&src, "memory", opts);
    stress_threads(
        &(stress){.client = c, .rounds = 400, .max_per = 6, .id_range = 300, .exist = 200}, T, 7919,
        5);
    papi_stats s = client_stats(c);
    assert_int_equal(s.queue_depth, 0);
    assert_int_equal(s.fetches_in_flight, 0);
    assert_int_equal(s.source_errors, 0);
    assert_true(atomic_load(&src.max_keys) <= 5);
    assert_int_equal(sum(s.fetch_ids_bucket, PAPI_STATS_FETCH_IDS_BUCKETS), s.source_calls);
    assert_int_equal(sum(s.queue_wait_bucket, PAPI_STATS_QUEUE_WAIT_BUCKETS), s.fetch_ids_sum);
    assert_int_equal(s.fetch_ids_sum, (uint64_t)atomic_load(&src.keys_asked));
    papi_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lone_miss_sent_at_once),
        cmocka_unit_test(test_burst_shares_fetches),
        cmocka_unit_test(test_fifo_and_max_batch),
        cmocka_unit_test(test_deadline_while_queued),
        cmocka_unit_test(test_deadline_while_queued_with_follower),
        cmocka_unit_test(test_failure_fans_out),
        cmocka_unit_test(test_same_id_fetched_once),
        cmocka_unit_test(test_concurrency_zero_is_unbounded),
        cmocka_unit_test(test_default_concurrency_from_transport),
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
