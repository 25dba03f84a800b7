/* project.c: rows cut to selected columns. papi's own rows (compact, column order) and rows a
 * cache outside the process may hold (whitespace, any member order, members missing, repeated or
 * unknown), VARIANT cells whose strings hold brackets and escaped quotes; malformed rows refused
 * without reading past their end (the blobs are cut exactly; the sanitizer build checks). */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core.h"

static const char datasets[] =
    "{\"datasets\":[{\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":["
    "{\"name\":\"ID\",\"type\":\"number\"},{\"name\":\"V\",\"type\":\"variant\"},"
    "{\"name\":\"T\",\"type\":\"text\"},{\"name\":\"D\",\"type\":\"decimal\"}]}]}";

typedef struct fixture {
    papi__datasets *set;
    const papi_dataset *ds;
    papi__select sel;
    char mem[256];
} fixture;

static void pick(fixture *fx, const char *const *names, size_t n)
{
    assert_true(papi__select_scratch(fx->ds, n) <= sizeof fx->mem);
    papi__select_layout(&fx->sel, fx->ds, n, fx->mem);
    assert_int_equal(papi__select_resolve(&fx->sel, fx->ds, names, NULL), PAPI_OK);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_int_equal(papi__datasets_parse(datasets, strlen(datasets), &fx->set, NULL), PAPI_OK);
    fx->ds = papi__datasets_find(fx->set, "p");
    assert_non_null(fx->ds);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    papi__datasets_free(fx->set);
    free(fx);
    return 0;
}

/* Cuts row (exactly its bytes, no NUL after them) to the selection: the new row's text, or NULL
 * with *st. */
static char *cut(fixture *fx, const char *row, papi_status *st)
{
    size_t n = strlen(row);
    char *exact = malloc(n ? n : 1);
    memcpy(exact, row, n);
    papi_blob *out = NULL;
    papi_error err;
    *st = papi__row_project(fx->ds, &fx->sel, exact, n, &out, &err);
    free(exact);
    char *text = out ? strdup(papi_blob_data(out)) : NULL;
    if (out)
        assert_int_equal(strlen(text), papi_blob_len(out));
    papi_blob_unref(out);
    return text;
}

static void expect(fixture *fx, const char *row, const char *want)
{
    papi_status st;
    char *got = cut(fx, row, &st);
    if (st != PAPI_OK || strcmp(got, want) != 0)
        fail_msg("%s\n  gave %s\n  want %s", row, got ? got : papi_status_name(st), want);
    free(got);
}

static void test_own_rows(void **state)
{
    fixture *fx = *state;
    const char *names[] = {"t", "V", "id"};
    pick(fx, names, 3);
    expect(fx,
           "{\"ID\":1,\"V\":{\"a\":[1,{\"b\":\"}]\\\"x\"}],\"c\":\"\\\\\"},\"T\":\"he said "
           "\\\"}\\\" \\\\\",\"D\":1.50}",
           "{\"T\":\"he said \\\"}\\\" \\\\\",\"V\":{\"a\":[1,{\"b\":\"}]\\\"x\"}],\"c\":\"\\\\\"},"
           "\"ID\":1}");
    expect(fx, "{\"ID\":2,\"V\":null,\"T\":null,\"D\":null}", "{\"T\":null,\"V\":null,\"ID\":2}");
    expect(fx, "{\"ID\":3,\"V\":[[[]]],\"T\":\"\",\"D\":-0.5e3}",
           "{\"T\":\"\",\"V\":[[[]]],\"ID\":3}");
    const char *d[] = {"D"};
    pick(fx, d, 1);
    expect(fx, "{\"ID\":1,\"V\":\"[\",\"T\":\"{\",\"D\":12345678901234567890.5}",
           "{\"D\":12345678901234567890.5}");
}

/* What a foreign writer may have put in a shared cache and the row check lets through. */
static void test_foreign_rows(void **state)
{
    fixture *fx = *state;
    const char *names[] = {"D", "ID", "T"};
    pick(fx, names, 3);
    expect(fx, " {\n \"T\" : \"x\" ,\t\"ID\":7 , \"ZZ\": {\"D\": 1} }\r\n",
           "{\"D\":null,\"ID\":7,\"T\":\"x\"}");
    expect(fx, "{\"ID\":7,\"ID\":8,\"T\":\"a\",\"D\":2,\"T\":\"b\"}",
           "{\"D\":2,\"ID\":7,\"T\":\"a\"}");
    expect(fx, "{}", "{\"D\":null,\"ID\":null,\"T\":null}");
    expect(fx, "{\"id\":7}", "{\"D\":null,\"ID\":null,\"T\":null}");
}

static void test_malformed_rows(void **state)
{
    fixture *fx = *state;
    const char *names[] = {"T"};
    pick(fx, names, 1);
    const char *bad[] = {"",
                         "[1]",
                         "{",
                         "{\"ID\":1",
                         "{\"ID\"",
                         "{\"ID\" 1}",
                         "{\"T\":\"ab",
                         "{\"T\":\"ab\\\"}",
                         "{ID:1}",
                         "{\"V\":[1,2}",
                         "{\"ID\":1 \"T\":2}",
                         "{\"V\":{\"a\":\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        papi_status st;
        char *got = cut(fx, bad[i], &st);
        if (st != PAPI_EPROTO)
            fail_msg("%s gave %s", bad[i], got ? got : papi_status_name(st));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_own_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
