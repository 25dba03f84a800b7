/* chain.c through whole clients: a chain of two fake sources (papi_config_add_transport), the
 * first a "replica" holding fewer ids, the second the "warehouse". Every test counts at the
 * sources (the fakes' fetch logs) and in papi_stats' per-source arrays; none asserts a timing. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <papi/papi_replica.h>

#include "fakes.h"

typedef lookup_job job;

static job run(papi_client *c, const char *list)
{
    job j;
    lookup_job_start(&j, c, list);
    lookup_job_finish(&j);
    return j;
}

/* The replica (fake_chain_transport: one fetch in flight) then the warehouse; options:
 * NULL-terminated key, value pairs. */
static papi_client *make_chain(fake_source *replica, fake_source *wh, const char *cache,
                               log_sink *log, const char *const *options)
{
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_add_transport(cfg, &fake_chain_transport, "replica:", replica),
                     PAPI_OK);
    assert_int_equal(papi_config_add_transport(cfg, &fake_transport, "wh:", wh), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", cache, NULL), PAPI_OK);
    if (log)
        assert_int_equal(papi_config_set_log(cfg, log_sink_fn, log, PAPI_LOG_WARN), PAPI_OK);
    for (size_t i = 0; options && options[i]; i += 2)
        assert_int_equal(papi_config_set(cfg, options[i], options[i + 1], NULL), PAPI_OK);
    papi_client *c = NULL;
    papi_error err;
    if (papi_client_create(cfg, &c, &err) != PAPI_OK)
        fail_msg("client: %s", err.message);
    papi_config_destroy(cfg);
    replica->client = c;
    wh->client = c;
    return c;
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

/* The replica answers what it holds, the warehouse only the rest; an id neither holds is cached
 * as absent, so the second lookup of the same ids asks nobody. */
static void test_only_missing_ids_go_on(void **state)
{
    (void)state;
    fake_source rep, wh;
    fake_source_init(&rep, 100);
    fake_source_init(&wh, 1000);
    papi_client *c = make_chain(&rep, &wh, "memory", NULL, NULL);
    assert_string_equal(papi_client_source_at(c, 0), "fake-replica");
    assert_string_equal(papi_client_source_at(c, 1), "fake");
    assert_null(papi_client_source_at(c, 2));
    assert_null(papi_client_source_at(NULL, 0));
    assert_string_equal(papi_client_source_name(c), "fake"); /* the last: what a scan reads */

    job j = run(c, "5,500,5000,7");
    assert_int_equal(j.status, PAPI_OK);
    assert_int_equal(j.count, 3);
    assert_string_equal(rep.fetch_log, "5,500,5000,7");
    assert_string_equal(wh.fetch_log, "500,5000");
    papi_stats s = client_stats(c);
    assert_int_equal(s.chain_calls[0], 1);
    assert_int_equal(s.chain_calls[1], 1);
    assert_int_equal(s.chain_ids[0], 4);
    assert_int_equal(s.chain_ids[1], 2);
    assert_int_equal(s.chain_rows[0], 2);
    assert_int_equal(s.chain_rows[1], 1);
    assert_int_equal(s.chain_errors[0] + s.chain_errors[1], 0);
    assert_int_equal(s.source_calls, 2);
    assert_int_equal(s.fetch_ids_sum, 6);

    j = run(c, "5,500,5000,7");
    assert_int_equal(j.count, 3);
    assert_int_equal(j.outcome, PAPI_OUTCOME_HIT);
    assert_int_equal(atomic_load(&rep.calls), 1);
    assert_int_equal(atomic_load(&wh.calls), 1);
    s = client_stats(c);
    assert_int_equal(s.cache_hits, 3);
    assert_int_equal(s.cache_negative_hits, 1); /* 5000: absent from both */
    papi_client_destroy(c);
    assert_int_equal(atomic_load(&rep.closed), 1);
    assert_int_equal(atomic_load(&wh.closed), 1);
}

/* Ids all in the replica: the warehouse is never asked. */
static void test_replica_hit_asks_no_warehouse(void **state)
{
    (void)state;
    fake_source rep, wh;
    fake_source_init(&rep, 100);
    fake_source_init(&wh, 1000);
    papi_client *c = make_chain(&rep, &wh, "none", NULL, NULL);
    for (int i = 1; i <= 20; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", i);
        job j = run(c, id);
        assert_row(&j, i);
    }
    assert_int_equal(atomic_load(&rep.calls), 20);
    assert_int_equal(atomic_load(&wh.calls), 0);
    assert_int_equal(client_stats(c).chain_calls[1], 0);
    papi_client_destroy(c);
}

/* A replica that fails passes its ids on: the lookup is answered by the warehouse, the failure
 * counted in chain_errors every time and logged once. */
static void test_failing_replica_falls_through(void **state)
{
    (void)state;
    fake_source rep, wh;
    fake_source_init(&rep, 100);
    fake_source_init(&wh, 1000);
    rep.fail_from = 1;
    rep.fail_status = PAPI_EIO;
    log_sink log;
    log_sink_init(&log);
    papi_client *c = make_chain(&rep, &wh, "none", &log, NULL);
    job j = run(c, "5");
    assert_row(&j, 5);
    j = run(c, "6,2000");
    assert_int_equal(j.status, PAPI_OK);
    assert_int_equal(j.count, 1);
    assert_int_equal(atomic_load(&rep.failures_injected), 2);
    assert_string_equal(wh.fetch_log, "5;6,2000");
    papi_stats s = client_stats(c);
    assert_int_equal(s.chain_errors[0], 2);
    assert_int_equal(s.chain_errors[1], 0);
    assert_int_equal(s.source_errors, 2);
    assert_int_equal(s.chain_rows[0], 0);
    assert_int_equal(s.chain_rows[1], 2);
    assert_int_equal(log.warnings, 1);
    assert_non_null(strstr(log.all, "source 1 (fake-replica) failed"));
    assert_non_null(strstr(log.all, "injected failure on call 1"));
    papi_client_destroy(c);
}

/* The last source's failure is the lookup's, as with one source. */
static void test_failing_warehouse_fails_lookup(void **state)
{
    (void)state;
    fake_source rep, wh;
    fake_source_init(&rep, 100);
    fake_source_init(&wh, 1000);
    wh.fail_from = 1;
    wh.fail_status = PAPI_EUNAVAIL;
    papi_client *c = make_chain(&rep, &wh, "memory", NULL, NULL);
    job j = run(c, "5,500");
    assert_int_equal(j.status, PAPI_EUNAVAIL);
    assert_non_null(strstr(j.err.message, "injected failure on call 1"));
    /* 5 came from the replica and is cached: a lookup of it alone needs nobody */
    j = run(c, "5");
    assert_row(&j, 5);
    assert_int_equal(j.outcome, PAPI_OUTCOME_HIT);
    papi_stats s = client_stats(c);
    assert_int_equal(s.chain_errors[0], 0);
    assert_int_equal(s.chain_errors[1], 1);
    assert_int_equal(s.cache_negative_hits, 0); /* 500 was not cached as absent */
    papi_client_destroy(c);
}

/* A source that does not hold the dataset (holds() says 0) is skipped for it. */
static void test_source_lacking_dataset_skipped(void **state)
{
    (void)state;
    fake_source rep, wh;
    fake_source_init(&rep, 100);
    fake_source_init(&wh, 1000);
    atomic_store(&rep.lacks_dataset, true);
    papi_client *c = make_chain(&rep, &wh, "none", NULL, NULL);
    job j = run(c, "5");
    assert_row(&j, 5);
    assert_int_equal(atomic_load(&rep.calls), 0);
    assert_string_equal(wh.fetch_log, "5");
    atomic_store(&rep.lacks_dataset, false); /* a replica of it swapped in */
    j = run(c, "6");
    assert_row(&j, 6);
    assert_string_equal(rep.fetch_log, "6");
    assert_int_equal(atomic_load(&wh.calls), 1);
    papi_client_destroy(c);
}

/* Many requests for an id the replica lacks, while it is in the replica's fetch: one fetch at
 * each source, every request answered. */
static void test_coalescing_across_the_chain(void **state)
{
    (void)state;
    enum { N = 6 };
    fake_source rep, wh;
    fake_source_init(&rep, 100);
    fake_source_init(&wh, 1000);
    atomic_store(&rep.gate_closed, true);
    papi_client *c = make_chain(&rep, &wh, "none", NULL, NULL);
    static job jobs[N];
    lookup_job_start(&jobs[0], c, "500");
    wait_gated(&rep, 1);
    for (int i = 1; i < N; i++)
        lookup_job_start(&jobs[i], c, "500");
    wait_coalesced(c, N - 1);
    atomic_store(&rep.gate_closed, false);
    for (int i = 0; i < N; i++) {
        lookup_job_finish(&jobs[i]);
        assert_row(&jobs[i], 500);
    }
    assert_string_equal(rep.fetch_log, "500");
    assert_string_equal(wh.fetch_log, "500");
    papi_client_destroy(c);
}

/* A request that gives up while its id is queued at the replica leaves it for a follower; when
 * the replica lacks it, the thread that sent that fetch carries it on to the warehouse, and the
 * follower gets the row. */
static void test_given_up_id_carried_on(void **state)
{
    (void)state;
    fake_source rep, wh;
    fake_source_init(&rep, 100);
    fake_source_init(&wh, 1000);
    atomic_store(&rep.gate_closed, true);
    const char *const opts[] = {"timeout-ms", "4000", NULL};
    papi_client *c = make_chain(&rep, &wh, "none", NULL, opts);
    job a, b, f;
    lookup_job_start(&a, c, "1"); /* holds the replica's one slot */
    wait_gated(&rep, 1);
    lookup_job_start(&b, c, "500");
    wait_depth(c, 1);
    sleep_ms(2000); /* the follower's deadline comes 2 s after b's: room for a loaded machine */
    lookup_job_start(&f, c, "500");
    wait_coalesced(c, 1);
    lookup_job_finish(&b);
    assert_int_equal(b.status, PAPI_ETIMEDOUT);
    assert_int_equal(client_stats(c).queue_depth, 1); /* kept for the follower */
    atomic_store(&rep.gate_closed, false);
    lookup_job_finish(&a);
    lookup_job_finish(&f);
    assert_row(&a, 1);
    assert_row(&f, 500);
    assert_string_equal(rep.fetch_log, "1;500");
    assert_string_equal(wh.fetch_log, "500");
    assert_int_equal(client_stats(c).queue_depth, 0);
    papi_client_destroy(c);
}

/* Many threads through a chain with small batches and an evicting cache: every answer holds
 * exactly the existing asked ids in asked order (ids 1..80 in the replica, up to 200 in the
 * warehouse), the counters add up and nothing is left queued. */
static void test_stress(void **state)
{
    (void)state;
    enum { T = 8 };
    fake_source rep, wh;
    fake_source_init(&rep, 80);
    fake_source_init(&wh, 200);
    const char *const opts[] = {"source-concurrency", "2",  "max-batch", "5",
                                "cache-max-entries",  "32", NULL};
    papi_client *c = make_chain(&rep, &wh, "memory", NULL, opts);
    stress_threads(
        &(stress){.client = c, .rounds = 300, .max_per = 6, .id_range = 300, .exist = 200}, T, 7919,
        11);
    papi_stats s = client_stats(c);
    assert_int_equal(s.queue_depth, 0);
    assert_int_equal(s.fetches_in_flight, 0);
    assert_int_equal(s.source_errors, 0);
    assert_int_equal(s.chain_calls[0], (uint64_t)atomic_load(&rep.calls));
    assert_int_equal(s.chain_calls[1], (uint64_t)atomic_load(&wh.calls));
    assert_int_equal(s.chain_ids[0], (uint64_t)atomic_load(&rep.keys_asked));
    assert_int_equal(s.chain_ids[1], (uint64_t)atomic_load(&wh.keys_asked));
    assert_int_equal(s.chain_calls[0] + s.chain_calls[1], s.source_calls);
    assert_true(s.chain_ids[1] <= s.chain_ids[0] - s.chain_rows[0]);
    assert_true(atomic_load(&wh.max_keys) <= 5);
    papi_client_destroy(c);
}

/* A chain from the "source" option: each element checked, a bad one named by its position. */
static void test_source_option_checks(void **state)
{
    (void)state;
    static const struct {
        const char *v, *msg;
    } bad[] = {
        {"sqlite:a.db,", "source 2 is empty"},
        {",sqlite:a.db", "source 1 is empty"},
        {"sqlite:a.db,,sqlite:b.db", "source 2 is empty"},
        {"sqlite:a.db,bogus", "source 2: unknown kind of source"},
        {"sqlite:a.db,sqlite:", "source 2: sqlite: needs a file path"},
        {"sqlite:a,sqlite:b,sqlite:c,sqlite:d,sqlite:e", "more than 4 sources"},
        {"sqlite:a.db,sqlite:a.db", "source 2 repeats source 1"},
    };
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        papi_error err;
        assert_int_equal(papi_config_set(cfg, "source", bad[i].v, &err), PAPI_ECONFIG);
        if (!strstr(err.message, bad[i].msg))
            fail_msg("%s: %s", bad[i].v, err.message);
    }
    assert_int_equal(papi_config_set(cfg, "source", "sqlite:a.db,sqlite:b.db,sqlite:c,sqlite:d",
                                     NULL),
                     PAPI_OK);
    papi_config_destroy(cfg);

    /* attached transports: at most PAPI_STATS_SOURCES; set_transport replaces the chain */
    fake_source f;
    fake_source_init(&f, 10);
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    for (int i = 0; i < PAPI_STATS_SOURCES; i++)
        assert_int_equal(papi_config_add_transport(cfg, &fake_transport, "f:", &f), PAPI_OK);
    assert_int_equal(papi_config_add_transport(cfg, &fake_transport, "f:", &f), PAPI_EINVAL);
    assert_int_equal(papi_config_set_transport(cfg, &fake_transport, "f:", &f), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    assert_non_null(papi_client_source_at(c, 0));
    assert_null(papi_client_source_at(c, 1));
    papi_client_destroy(c);
    papi_config_destroy(cfg);
}

/* Readiness follows lookups: a source before the last that fails only sends its ids on, so its
 * failing ping is logged but does not fail papi_client_ping(); the last source's does. Every
 * source is pinged. */
static void test_ping_fails_only_with_the_last_source(void **state)
{
    (void)state;
    fake_source rep, wh;
    fake_source_init(&rep, 100);
    fake_source_init(&wh, 1000);
    rep.fail_from = 1;
    rep.fail_status = PAPI_EUNAVAIL;
    log_sink log;
    log_sink_init(&log);
    papi_client *c = make_chain(&rep, &wh, "none", &log, NULL);
    papi_error err;
    assert_int_equal(papi_client_ping(c, &err), PAPI_OK);
    assert_int_equal(papi_client_ping(c, &err), PAPI_OK);
    assert_int_equal(atomic_load(&rep.pings), 2);
    assert_int_equal(atomic_load(&wh.pings), 2);
    assert_int_equal(log.warnings, 1); /* once a minute at most */
    assert_non_null(strstr(log.all, "source 1 (fake-replica) failed a ping"));
    job j = run(c, "5"); /* and lookups are answered meanwhile */
    assert_row(&j, 5);

    rep.fail_from = 0;
    wh.fail_from = 1;
    wh.fail_status = PAPI_EAUTH;
    assert_int_equal(papi_client_ping(c, &err), PAPI_EAUTH);
    assert_non_null(strstr(err.message, "injected ping failure"));
    papi_client_destroy(c);
}

/* A replica slower than the request's deadline (this fake ignores deadlines, as a slow source
 * may overrun them): the ids it lacked are not sent on to the warehouse, whose statement nobody
 * would wait for; the lookup times out, and neither the warehouse's calls nor its errors count. */
static void test_no_next_source_past_the_deadline(void **state)
{
    (void)state;
    fake_source rep, wh;
    fake_source_init(&rep, 100);
    fake_source_init(&wh, 1000);
    rep.hold_ms = 300;
    const char *const opts[] = {"timeout-ms", "100", NULL};
    papi_client *c = make_chain(&rep, &wh, "memory", NULL, opts);
    job j = run(c, "5,500");
    assert_int_equal(j.status, PAPI_ETIMEDOUT);
    assert_int_equal(atomic_load(&rep.calls), 1);
    assert_int_equal(atomic_load(&wh.calls), 0);
    papi_stats s = client_stats(c);
    assert_int_equal(s.chain_calls[1], 0);
    assert_int_equal(s.chain_errors[1], 0);
    assert_int_equal(s.source_errors, 0);
    assert_int_equal(s.cache_negative_hits, 0);
    /* 5 came from the replica and is cached; 500 is not cached as absent: asked again, with
     * time enough, it is the warehouse's */
    rep.hold_ms = 0;
    j = run(c, "500");
    assert_row(&j, 500);
    assert_string_equal(wh.fetch_log, "500");
    j = run(c, "5");
    assert_row(&j, 5);
    assert_int_equal(j.outcome, PAPI_OUTCOME_HIT);
    papi_client_destroy(c);
}

/* A lookup worker of test_deadlines_at_a_slow_replica: timeouts are allowed, a wrong answer or
 * another failure is not. */
typedef struct dl_worker {
    papi_client *client;
    unsigned seed;
    int rounds, timeouts, ok, wrong, other;
} dl_worker;

static void *dl_run(void *arg)
{
    dl_worker *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        int want[16];
        char list[256];
        /* ids 1-10 in the replica, 11-30 in the warehouse, 31-40 nowhere */
        int m = random_ids(&w->seed, 5, 40, 30, list, want);
        papi_result *r = NULL;
        papi_error err;
        papi_status st = papi_lookup_list(w->client, "customer", list, strlen(list), &r, &err);
        if (st != PAPI_OK) {
            w->timeouts += st == PAPI_ETIMEDOUT;
            w->other += st != PAPI_ETIMEDOUT;
            continue;
        }
        bool good = answer_holds(r, want, m);
        w->ok += good;
        w->wrong += !good;
        papi_result_free(r);
    }
    return NULL;
}

/* Requests of ids some in the replica and some not, whose deadlines pass at a slow replica
 * (busier than its one slot) and at the warehouse, with short cache lives: each is answered
 * right or times out, nothing is left queued or in flight, and the client closes cleanly (no
 * stray left, no leak under ASan). */
static void test_deadlines_at_a_slow_replica(void **state)
{
    (void)state;
    enum { T = 8 };
    fake_source rep, wh;
    fake_source_init(&rep, 10);
    fake_source_init(&wh, 30);
    rep.hold_ms = 15;
    wh.hold_ms = 5;
    const char *const opts[] = {"timeout-ms",   "40", "source-concurrency", "2",  "max-batch", "3",
                                "negative-ttl", "1",  "cache-max-entries",  "16", NULL};
    papi_client *c = make_chain(&rep, &wh, "memory", NULL, opts);
    pthread_t t[T];
    dl_worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (dl_worker){.client = c, .seed = (unsigned)(i * 31 + 7), .rounds = 100};
        assert_int_equal(pthread_create(&t[i], NULL, dl_run, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].wrong, 0);
        assert_int_equal(w[i].other, 0);
        assert_int_equal(w[i].ok + w[i].timeouts, w[i].rounds);
    }
    papi_stats s = client_stats(c);
    assert_int_equal(s.queue_depth, 0);
    assert_int_equal(s.fetches_in_flight, 0);
    papi_client_destroy(c);
    assert_int_equal(atomic_load(&rep.block_timeouts) + atomic_load(&wh.block_timeouts), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_missing_ids_go_on),
        cmocka_unit_test(test_replica_hit_asks_no_warehouse),
        cmocka_unit_test(test_failing_replica_falls_through),
        cmocka_unit_test(test_failing_warehouse_fails_lookup),
        cmocka_unit_test(test_source_lacking_dataset_skipped),
        cmocka_unit_test(test_coalescing_across_the_chain),
        cmocka_unit_test(test_given_up_id_carried_on),
        cmocka_unit_test(test_stress),
        cmocka_unit_test(test_source_option_checks),
        cmocka_unit_test(test_ping_fails_only_with_the_last_source),
        cmocka_unit_test(test_no_next_source_past_the_deadline),
        cmocka_unit_test(test_deadlines_at_a_slow_replica),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
