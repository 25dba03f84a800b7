/* lookup_calls.c: a lookup in two calls (papi_lookup_begin/finish, papi_pending) and its options
 * (papi_lookup_options, column selection). One pass per miss is proved by counting: the first
 * tier's reads through a spy cache, and the id parses through the linker (--wrap), so a miss
 * handed from begin to finish is parsed once and its answered ids are not read again. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes.h"
#include "internal.h"

/* ------------------------------------------------------------------ counting id parses */

static atomic_int parses;

papi_status __real_papi__ids_parse_list(const char *list, size_t len, papi_key_type type,
                                        size_t max_ids, papi__ids *out, papi_error *err);
papi_status __wrap_papi__ids_parse_list(const char *list, size_t len, papi_key_type type,
                                        size_t max_ids, papi__ids *out, papi_error *err);
papi_status __wrap_papi__ids_parse_list(const char *list, size_t len, papi_key_type type,
                                        size_t max_ids, papi__ids *out, papi_error *err)
{
    atomic_fetch_add(&parses, 1);
    return __real_papi__ids_parse_list(list, len, type, max_ids, out, err);
}

/* ------------------------------------------------------------------ fixture */

typedef struct fixture {
    fake_source src;
    spy_cache upper, lower;
    papi_client *client;
} fixture;

/* The fake source behind one or two spy tiers (first: in-process unless remote_first). */
static fixture *setup(int ntiers, bool remote_first)
{
    fixture *fx = calloc(1, sizeof *fx);
    fake_source_init(&fx->src, 10);
    spy_cache_init(&fx->upper);
    spy_cache_init(&fx->lower);
    papi_config *cfg = fake_config(&fx->src, "none");
    assert_non_null(cfg);
    if (ntiers >= 1)
        assert_int_equal(
            papi_config_add_cache(cfg, remote_first ? &spy_remote_backend : &spy_cache_backend,
                                  "upper", &fx->upper),
            PAPI_OK);
    if (ntiers >= 2)
        assert_int_equal(papi_config_add_cache(cfg, &spy_cache_backend, "lower", &fx->lower),
                         PAPI_OK);
    papi_error err;
    assert_int_equal(papi_client_create(cfg, &fx->client, &err), PAPI_OK);
    papi_config_destroy(cfg);
    atomic_store(&parses, 0);
    return fx;
}

static void teardown(fixture *fx)
{
    papi_client_destroy(fx->client);
    spy_cache_clear(&fx->upper);
    spy_cache_clear(&fx->lower);
    free(fx);
}

static papi_stats stats(fixture *fx)
{
    papi_stats s = {.struct_size = sizeof s};
    assert_int_equal(papi_client_stats(fx->client, &s), PAPI_OK);
    return s;
}

/* Begins a lookup of list that must not be answered at once. */
static papi_pending *begin_pending(fixture *fx, const char *list)
{
    papi_result *r = (papi_result *)fx; /* must be overwritten */
    papi_pending *p = NULL;
    papi_error err;
    papi_status st =
        papi_lookup_begin(fx->client, "customer", list, strlen(list), NULL, &r, &p, &err);
    if (st != PAPI_OK)
        fail_msg("begin %s: %s", list, err.message);
    assert_null(r);
    assert_non_null(p);
    return p;
}

static papi_result *finish_ok(papi_pending *p)
{
    papi_result *r = NULL;
    papi_error err;
    papi_status st = papi_lookup_finish(p, &r, &err);
    if (st != PAPI_OK)
        fail_msg("finish: %s: %s", papi_status_name(st), err.message);
    assert_non_null(r);
    return r;
}

/* ------------------------------------------------------------------ one pass per miss */

/* The server's old way (papi_lookup_list_cached, then papi_lookup_list from scratch) against
 * begin/finish: a miss parsed twice and read from the first tier three times, now once and
 * twice (the second read is the recheck before leading a fetch, kept for coalescing). */
static void test_one_pass_per_miss(void **state)
{
    (void)state;
    fixture *fx = setup(1, false);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list_cached(fx->client, "customer", "4", 1, &r, NULL), PAPI_OK);
    assert_null(r);
    assert_int_equal(papi_lookup_list(fx->client, "customer", "4", 1, &r, NULL), PAPI_OK);
    papi_result_free(r);
    assert_int_equal(atomic_load(&parses), 2);
    assert_int_equal(atomic_load(&fx->upper.gets), 3);

    atomic_store(&parses, 0);
    atomic_store(&fx->upper.gets, 0);
    papi_pending *p = begin_pending(fx, "5");
    assert_int_equal(atomic_load(&parses), 1);
    assert_int_equal(atomic_load(&fx->upper.gets), 1);
    r = finish_ok(p);
    assert_int_equal(papi_result_count(r), 1);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_MISS);
    papi_result_free(r);
    assert_int_equal(atomic_load(&parses), 1);
    assert_int_equal(atomic_load(&fx->upper.gets), 2);
    assert_int_equal(atomic_load(&fx->src.calls), 2);
    teardown(fx);
}

/* What the first tier answered at begin is not asked again: only the missing ids are rechecked
 * and fetched, and the answer keeps the asked order. */
static void test_finish_continues_from_the_first_tier(void **state)
{
    (void)state;
    fixture *fx = setup(1, false);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "2,99", 4, &r, NULL), PAPI_OK);
    papi_result_free(r);
    papi_stats before = stats(fx);
    atomic_store(&fx->upper.keys_got, 0);
    atomic_store(&fx->src.keys_asked, 0);

    papi_pending *p = begin_pending(fx, "3,2,99,4");
    assert_int_equal(atomic_load(&fx->upper.keys_got), 4);
    assert_int_equal(stats(fx).lookups, before.lookups); /* counted when it completes */
    r = finish_ok(p);
    assert_int_equal(atomic_load(&fx->upper.keys_got), 4 + 2); /* the recheck: 3 and 4 only */
    assert_int_equal(atomic_load(&fx->src.keys_asked), 2);
    assert_int_equal(papi_result_count(r), 3); /* 99 does not exist */
    const char *want[] = {"{\"C_CUSTOMER_SK\":3,", "{\"C_CUSTOMER_SK\":2,",
                          "{\"C_CUSTOMER_SK\":4,"};
    for (size_t i = 0; i < 3; i++)
        assert_memory_equal(papi_result_row_json(r, i, NULL), want[i], strlen(want[i]));
    papi_result_free(r);
    papi_stats after = stats(fx);
    assert_int_equal(after.lookups, before.lookups + 1);
    assert_int_equal(after.cache_hits, before.cache_hits + 1);
    assert_int_equal(after.cache_negative_hits, before.cache_negative_hits + 1);
    assert_int_equal(after.cache_misses, before.cache_misses + 2);
    teardown(fx);
}

/* A row only in the lower tier: finish reads it there (not the first tier again), copies it up
 * and answers a HIT without the source. */
static void test_finish_reads_the_lower_tiers(void **state)
{
    (void)state;
    fixture *fx = setup(2, false);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "6", 1, &r, NULL), PAPI_OK);
    papi_result_free(r);
    spy_cache_clear(&fx->upper);
    atomic_store(&fx->upper.gets, 0);
    int lower_gets = atomic_load(&fx->lower.gets);

    papi_pending *p = begin_pending(fx, "6");
    assert_int_equal(atomic_load(&fx->lower.gets), lower_gets); /* begin never goes below */
    r = finish_ok(p);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    papi_result_free(r);
    assert_int_equal(atomic_load(&fx->upper.gets), 1);
    assert_int_equal(atomic_load(&fx->lower.gets), lower_gets + 1);
    assert_int_equal(fx->upper.n, 1); /* copied up */
    assert_int_equal(atomic_load(&fx->src.calls), 1);
    teardown(fx);
}

/* Every id in the first tier: begin answers and no pending lookup is made. */
static void test_begin_answers_hits(void **state)
{
    (void)state;
    fixture *fx = setup(1, false);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "1,2", 3, &r, NULL), PAPI_OK);
    papi_result_free(r);
    papi_stats before = stats(fx);
    papi_pending *p = (papi_pending *)fx;
    assert_int_equal(papi_lookup_begin(fx->client, "customer", "2,1", 3, NULL, &r, &p, NULL),
                     PAPI_OK);
    assert_null(p);
    assert_non_null(r);
    assert_int_equal(papi_result_count(r), 2);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    papi_result_free(r);
    papi_stats after = stats(fx);
    assert_int_equal(after.lookups, before.lookups + 1);
    assert_int_equal(after.cache_hits, before.cache_hits + 2);
    teardown(fx);
}

/* A first tier across the network is not read by begin (it runs on an event loop); finish
 * reads it. No tier at all: a pending lookup too. */
static void test_begin_leaves_a_remote_first_tier(void **state)
{
    (void)state;
    fixture *fx = setup(1, true);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "4", 1, &r, NULL), PAPI_OK);
    papi_result_free(r);
    atomic_store(&fx->upper.gets, 0);
    papi_pending *p = begin_pending(fx, "4");
    assert_int_equal(atomic_load(&fx->upper.gets), 0);
    r = finish_ok(p);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    papi_result_free(r);
    assert_int_equal(atomic_load(&fx->upper.gets), 1);
    teardown(fx);

    fx = setup(0, false);
    p = begin_pending(fx, "4");
    r = finish_ok(p);
    assert_int_equal(papi_result_count(r), 1);
    papi_result_free(r);
    teardown(fx);
}

/* A pending lookup given up holds references (an expired copy from the first tier): freeing it
 * releases them (the sanitizer build checks), fetches nothing and counts nothing. */
static void test_pending_free_unfinished(void **state)
{
    (void)state;
    fixture *fx = setup(1, false);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "1,2", 3, &r, NULL), PAPI_OK);
    papi_result_free(r);
    spy_cache_expire_all(&fx->upper);
    papi_stats before = stats(fx);
    papi_pending *p = begin_pending(fx, "1,2,3");
    papi_pending_free(p);
    papi_pending_free(NULL);
    assert_int_equal(atomic_load(&fx->src.calls), 1);
    assert_int_equal(stats(fx).lookups, before.lookups);
    assert_int_equal(stats(fx).cache_misses, before.cache_misses);
    teardown(fx);
}

/* The expired copy begin found is what finish serves when the source fails. */
static void test_stale_copy_carried_to_finish(void **state)
{
    (void)state;
    fixture *fx = setup(1, false);
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list(fx->client, "customer", "7", 1, &r, NULL), PAPI_OK);
    char fresh[1024];
    snprintf(fresh, sizeof fresh, "%s", papi_result_json(r, NULL));
    papi_result_free(r);
    spy_cache_expire_all(&fx->upper);
    fx->src.fail_from = 2;
    fx->src.fail_status = PAPI_EUNAVAIL;
    papi_pending *p = begin_pending(fx, "7");
    r = finish_ok(p);
    assert_int_equal(atomic_load(&fx->src.failures_injected), 1);
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_STALE);
    assert_string_equal(papi_result_json(r, NULL), fresh);
    papi_result_free(r);
    teardown(fx);
}

typedef struct finisher {
    papi_pending *pending;
    papi_result *result;
    papi_status status;
} finisher;

static void *finish_thread(void *arg)
{
    finisher *f = arg;
    f->status = papi_lookup_finish(f->pending, &f->result, NULL);
    return NULL;
}

/* Begun on one thread (an event loop), finished on others (workers), many at once. */
static void test_finish_on_other_threads(void **state)
{
    (void)state;
    fixture *fx = setup(1, false);
    enum { N = 8 };
    finisher f[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        char list[16];
        snprintf(list, sizeof list, "%d,%d", i + 1, 10 - i);
        f[i] = (finisher){.pending = begin_pending(fx, list)};
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&t[i], NULL, finish_thread, &f[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(f[i].status, PAPI_OK);
        assert_int_equal(papi_result_count(f[i].result), 2);
        papi_result_free(f[i].result);
    }
    teardown(fx);
}

static void test_begin_finish_arguments(void **state)
{
    (void)state;
    fixture *fx = setup(1, false);
    papi_result *r = (papi_result *)fx;
    papi_pending *p = (papi_pending *)fx;
    papi_error err;
    assert_int_equal(papi_lookup_begin(fx->client, "customer", "1", 1, NULL, &r, NULL, &err),
                     PAPI_EINVAL);
    assert_null(r);
    assert_int_equal(papi_lookup_begin(fx->client, "customer", "1", 1, NULL, NULL, &p, &err),
                     PAPI_EINVAL);
    assert_null(p);
    p = (papi_pending *)fx;
    r = (papi_result *)fx;
    assert_int_equal(papi_lookup_begin(fx->client, "customer", "1,,2", 4, NULL, &r, &p, &err),
                     PAPI_EINVAL);
    assert_null(r);
    assert_null(p);
    assert_non_null(strstr(err.message, "id 2 is empty"));
    assert_int_equal(papi_lookup_begin(fx->client, "nope", "1", 1, NULL, &r, &p, &err),
                     PAPI_ENODATASET);
    assert_int_equal(papi_lookup_begin(NULL, "customer", "1", 1, NULL, &r, &p, &err), PAPI_EINVAL);
    assert_int_equal(papi_lookup_begin(fx->client, "customer", NULL, 1, NULL, &r, &p, &err),
                     PAPI_EINVAL);

    assert_int_equal(papi_lookup_finish(NULL, &r, &err), PAPI_EINVAL);
    assert_null(r);
    p = begin_pending(fx, "1");
    assert_int_equal(papi_lookup_finish(p, NULL, &err), PAPI_EINVAL); /* consumed all the same */
    assert_int_equal(atomic_load(&fx->src.calls), 0);
    teardown(fx);
}

/* ------------------------------------------------------------------ options */

static papi_status select_lookup(fixture *fx, const char *list, const char *const *names, size_t n,
                                 papi_result **r, papi_error *err)
{
    papi_lookup_options o = {.struct_size = sizeof o, .select = names, .nselect = n};
    return papi_lookup_list_opts(fx->client, "customer", list, strlen(list), &o, r, err);
}

/* The columns asked for, in the asked order, matched in any case, named as the dataset names
 * them; from the cached full row on a hit (no second fetch), on a miss and through begin/finish;
 * the cache keeps the full row. */
static void test_select_columns(void **state)
{
    (void)state;
    fixture *fx = setup(1, false);
    const char *names[] = {"c_email_address", "C_First_Name", "C_CUSTOMER_SK"};
    const char *want7 = "{\"C_EMAIL_ADDRESS\":\"x@y.z\",\"C_FIRST_NAME\":\"Name7\","
                        "\"C_CUSTOMER_SK\":7}";
    papi_result *r = NULL;
    papi_error err;
    assert_int_equal(select_lookup(fx, "7", names, 3, &r, &err), PAPI_OK); /* a miss */
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_MISS);
    assert_string_equal(papi_result_row_json(r, 0, NULL), want7);
    papi_result_free(r);
    assert_int_equal(select_lookup(fx, "7", names, 3, &r, &err), PAPI_OK); /* a hit */
    assert_int_equal(papi_result_outcome(r), PAPI_OUTCOME_HIT);
    char all[256];
    snprintf(all, sizeof all, "[%s]", want7);
    assert_string_equal(papi_result_json(r, NULL), all);
    papi_result_free(r);
    assert_int_equal(atomic_load(&fx->src.calls), 1);

    /* the cached row is still whole */
    assert_int_equal(papi_lookup_list(fx->client, "customer", "7", 1, &r, NULL), PAPI_OK);
    assert_non_null(strstr(papi_result_json(r, NULL), "\"C_LAST_REVIEW_DATE\":\"2452277\"}"));
    papi_result_free(r);

    /* begin answers a selected hit; finish a selected miss (absent ids left out) */
    papi_lookup_options o = {.struct_size = sizeof o, .select = names + 1, .nselect = 1};
    papi_pending *p = NULL;
    assert_int_equal(papi_lookup_begin(fx->client, "customer", "7", 1, &o, &r, &p, &err), PAPI_OK);
    assert_null(p);
    assert_string_equal(papi_result_json(r, NULL), "[{\"C_FIRST_NAME\":\"Name7\"}]");
    papi_result_free(r);
    assert_int_equal(papi_lookup_begin(fx->client, "customer", "8,99,7", 6, &o, &r, &p, &err),
                     PAPI_OK);
    assert_non_null(p);
    r = finish_ok(p);
    assert_string_equal(papi_result_json(r, NULL),
                        "[{\"C_FIRST_NAME\":\"Name8\"},{\"C_FIRST_NAME\":\"Name7\"}]");
    papi_result_free(r);

    /* the array form; a NULL cell stays null; every column at once */
    const char *ids[] = {"9"};
    const char *login[] = {"C_LOGIN"};
    o = (papi_lookup_options){.struct_size = sizeof o, .select = login, .nselect = 1};
    assert_int_equal(papi_lookup_opts(fx->client, "customer", ids, 1, &o, &r, &err), PAPI_OK);
    assert_string_equal(papi_result_json(r, NULL), "[{\"C_LOGIN\":null}]");
    papi_result_free(r);
    assert_int_equal(papi_lookup_opts(fx->client, "customer", ids, 1, NULL, &r, &err), PAPI_OK);
    size_t whole;
    papi_result_json(r, &whole);
    papi_result_free(r);
    const char *every[18];
    for (size_t i = 0; i < 18; i++)
        every[i] = papi_dataset_column_name(papi_client_dataset(fx->client, 0), 17 - i);
    o = (papi_lookup_options){.struct_size = sizeof o, .select = every, .nselect = 18};
    assert_int_equal(papi_lookup_opts(fx->client, "customer", ids, 1, &o, &r, &err), PAPI_OK);
    size_t reordered;
    assert_non_null(strstr(papi_result_json(r, &reordered), "[{\"C_LAST_REVIEW_DATE\":"));
    assert_int_equal(reordered, whole);
    papi_result_free(r);
    teardown(fx);
}

static void expect_einval(fixture *fx, const papi_lookup_options *o, const char *message)
{
    papi_result *r = (papi_result *)fx;
    papi_error err;
    assert_int_equal(papi_lookup_list_opts(fx->client, "customer", "1", 1, o, &r, &err),
                     PAPI_EINVAL);
    assert_null(r);
    if (!strstr(err.message, message))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, message);
}

/* Unknown, repeated and too many columns are refused naming the problem; what the caller sent is
 * quoted escaped and cut; options a libpapi does not know are never ignored. */
static void test_select_refused(void **state)
{
    (void)state;
    fixture *fx = setup(1, false);
    const char *unknown[] = {"C_FIRST_NAME", "C_NOPE"};
    papi_lookup_options o = {.struct_size = sizeof o, .select = unknown, .nselect = 2};
    expect_einval(fx, &o, "dataset customer has no column \"C_NOPE\"");
    const char *hostile[] = {"A\"B\\\n\x1b\xff"};
    o.select = hostile;
    o.nselect = 1;
    expect_einval(fx, &o, "no column \"A\\\"B\\\\\\x0a\\x1b\\xff\"");
    char long_name[5000];
    memset(long_name, 'X', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *longs[] = {long_name};
    o.select = longs;
    expect_einval(fx, &o, "XXXX...\"");
    const char *twice[] = {"C_LOGIN", "C_FIRST_NAME", "c_login"};
    o.select = twice;
    o.nselect = 3;
    expect_einval(fx, &o, "column \"c_login\" is named twice");
    const char *with_null[] = {"C_LOGIN", NULL};
    o.select = with_null;
    o.nselect = 2;
    expect_einval(fx, &o, "select: name 2 is NULL");

    /* a thousand names: refused by their count, before any is read (they are all NULL) */
    const char **many = calloc(1000, sizeof *many);
    o.select = many;
    o.nselect = 1000;
    expect_einval(fx, &o, "select names 1000 columns: dataset customer has 18");
    free(many);
    o.select = NULL;
    o.nselect = 2;
    expect_einval(fx, &o, "select is NULL");

    o = (papi_lookup_options){.struct_size = 0};
    expect_einval(fx, &o, "struct_size is 0");
    o = (papi_lookup_options){.struct_size = sizeof o, .flags = 1};
    expect_einval(fx, &o, "flags must be 0");
    /* a newer caller's struct: unknown members zero are fine, set are refused */
    struct {
        papi_lookup_options o;
        uint64_t later;
    } newer = {{.struct_size = sizeof newer}, 0};
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_list_opts(fx->client, "customer", "1", 1, &newer.o, &r, NULL),
                     PAPI_OK);
    papi_result_free(r);
    newer.later = 1;
    expect_einval(fx, &newer.o, "does not know");
    assert_int_equal(atomic_load(&fx->src.calls), 1);
    assert_int_equal(stats(fx).lookups, 1); /* refused calls count nothing */
    teardown(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_pass_per_miss),
        cmocka_unit_test(test_finish_continues_from_the_first_tier),
        cmocka_unit_test(test_finish_reads_the_lower_tiers),
        cmocka_unit_test(test_begin_answers_hits),
        cmocka_unit_test(test_begin_leaves_a_remote_first_tier),
        cmocka_unit_test(test_pending_free_unfinished),
        cmocka_unit_test(test_stale_copy_carried_to_finish),
        cmocka_unit_test(test_finish_on_other_threads),
        cmocka_unit_test(test_begin_finish_arguments),
        cmocka_unit_test(test_select_columns),
        cmocka_unit_test(test_select_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
