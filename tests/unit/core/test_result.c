/* result.c: papi_result_json() cannot fail for lack of memory once a lookup returned its result
 * (papi-httpd hands its bytes to the client as a 200 body). Memory is made to run out with the
 * linker's --wrap=malloc: the result's own allocation must already hold the array's room. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fakes.h"

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);

static atomic_bool malloc_fails;
static atomic_int malloc_refused;

void *__wrap_malloc(size_t n)
{
    if (atomic_load(&malloc_fails)) {
        atomic_fetch_add(&malloc_refused, 1);
        return NULL;
    }
    return __real_malloc(n);
}

static void test_json_needs_no_memory(void **state)
{
    (void)state;
    fake_source src;
    fake_source_init(&src, 100);
    papi_config *cfg = fake_config(&src, "memory");
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, NULL), PAPI_OK);
    papi_config_destroy(cfg);
    papi_result *r = NULL;
    for (int round = 0; round < 2; round++) { /* a miss, then a hit */
        assert_int_equal(papi_lookup_list(c, "customer", "3,1,2", 5, &r, NULL), PAPI_OK);
        assert_int_equal(papi_result_count(r), 3);
        atomic_store(&malloc_refused, 0);
        atomic_store(&malloc_fails, true);
        size_t len = 0;
        const char *json = papi_result_json(r, &len);
        atomic_store(&malloc_fails, false);
        assert_non_null(json);
        assert_int_equal(strlen(json), len);
        assert_true(json[0] == '[' && json[len - 1] == ']');
        size_t l0, l1, l2;
        papi_result_row_json(r, 0, &l0);
        papi_result_row_json(r, 1, &l1);
        papi_result_row_json(r, 2, &l2);
        assert_int_equal(len, l0 + l1 + l2 + 4);
        assert_int_equal(atomic_load(&malloc_refused), 0); /* it did not even ask */
        papi_result_free(r);
    }
    /* without memory a lookup fails with ENOMEM: no result, never one without its JSON */
    atomic_store(&malloc_fails, true);
    papi_error err;
    papi_status st = papi_lookup_list(c, "customer", "1", 1, &r, &err);
    atomic_store(&malloc_fails, false);
    assert_int_equal(st, PAPI_ENOMEM);
    assert_null(r);
    assert_true(atomic_load(&malloc_refused) > 0);
    papi_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_needs_no_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
