/* rowcheck.c (issue 13 A4): the strict JSON validator and the row-of-this-id check applied to
 * rows from a cache outside the process. What papi renders always passes; anything that is not
 * JSON, not UTF-8, or a row of another id does not. */
/* cmocka needs these before it, in this order */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const datasets_json =
    "{\"datasets\":[{\"name\":\"num\",\"table\":\"T\",\"key\":\"ID\",\"columns\":["
    "{\"name\":\"NAME\",\"type\":\"text\"},{\"name\":\"ID\",\"type\":\"number\"},"
    "{\"name\":\"V\",\"type\":\"variant\"}]},"
    "{\"name\":\"txt\",\"table\":\"U\",\"key\":\"CODE\",\"key_type\":\"text\",\"columns\":["
    "{\"name\":\"CODE\",\"type\":\"text\"},{\"name\":\"N\",\"type\":\"number\"}]}]}";

static papi__datasets *set;

static int setup(void **state)
{
    (void)state;
    return papi__datasets_parse(datasets_json, strlen(datasets_json), &set, NULL) == PAPI_OK ? 0
                                                                                             : -1;
}

static int teardown(void **state)
{
    (void)state;
    papi__datasets_free(set);
    return 0;
}

static bool valid(const char *s)
{
    return papi__json_valid(s, strlen(s));
}

static void test_json_accepted(void **state)
{
    (void)state;
    static const char *good[] = {
        "0",
        "-0",
        "1",
        "-12.5e+3",
        "1E-7",
        "12345678901234567890123456789012345678",
        "123456789012345678901234567890123456789012345678901234567890.5e999",
        "true",
        "false",
        "null",
        "\"\"",
        "[]",
        "{}",
        " \t\r\n[ 1 , 2 ]\n",
        "{\"a\":{\"b\":[{},[],\"c\"]}}",
        "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000 \\u00e9 \\uD83D\\uDE00\"",
        "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"",
        "{\"dup\":1,\"dup\":2}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!valid(good[i]))
            fail_msg("refused #%zu: %s", i, good[i]);
}

static void test_json_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        " ",
        "01",
        "-",
        "+1",
        ".5",
        "1.",
        "1e",
        "1e+",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "tru",
        "nul",
        "falsey",
        "True",
        "'a'",
        "\"a",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\uzzzz\"",
        "\"\\ud800\"",          /* lone high surrogate */
        "\"\\udc00\"",          /* lone low surrogate */
        "\"\\ud800\\u0041\"",   /* high surrogate, then not a low one */
        "\"\x01\"",             /* a raw control character */
        "\"\xff\"",             /* not UTF-8 */
        "\"\xc0\x80\"",         /* overlong */
        "\"\xed\xa0\x80\"",     /* an encoded surrogate */
        "\"\xf4\x90\x80\x80\"", /* past U+10FFFF */
        "\"\xe2\x82\"",         /* cut short */
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{a:1}",
        "{1:1}",
        "[1 2]",
        "1 2",
        "{\"a\":1}}",
        "[",
        "]",
        "{",
        "}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (valid(bad[i]))
            fail_msg("accepted #%zu: %s", i, bad[i]);
    assert_false(papi__json_valid("\"a\0b\"", 5)); /* a raw NUL */
    assert_false(papi__json_valid("1\0", 2));
    assert_false(papi__json_valid(NULL, 0));
}

static void test_depth_limit(void **state)
{
    (void)state;
    /* a row (1) holding a VARIANT as deep as render.c takes (64): 65 containers pass, 66 not */
    char deep[200];
    for (size_t depth = 64; depth <= 66; depth++) {
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        if (papi__json_valid(deep, depth * 2) != (depth <= 65))
            fail_msg("depth %zu", depth);
    }
}

static bool row_ok(const char *dataset, const char *id, const char *row)
{
    const papi_dataset *ds = papi__datasets_find(set, dataset);
    return papi__row_check(ds, id, strlen(id), row, strlen(row));
}

static void test_rendered_rows_pass(void **state)
{
    (void)state;
    const papi_dataset *ds = papi__datasets_find(set, "num");
    const char *cells[3] = {"Zo\xc3\xab \"O'Brien\"\n\x01", "0001885.0",
                            "{\"deep\": [1, 2.50, \"x\"], \"n\": 123456789012345678901234567890}"};
    size_t lens[3] = {strlen(cells[0]), strlen(cells[1]), strlen(cells[2])};
    papi_buf b;
    papi_buf_init(&b);
    assert_int_equal(papi__render_row(ds, cells, lens, 3, &b, NULL), PAPI_OK);
    assert_true(papi__json_valid(b.data, b.len));
    assert_true(papi__row_check(ds, "1885", 4, b.data, b.len));
    assert_false(papi__row_check(ds, "1886", 4, b.data, b.len));
    assert_false(papi__row_check(ds, "188", 3, b.data, b.len));

    /* a text key with every character the renderer escapes */
    const papi_dataset *ts = papi__datasets_find(set, "txt");
    const char *id = "a\"b\\c/d\te\x01\xc3\xa9\xf0\x9f\x98\x80";
    const char *tcells[2] = {id, "7"};
    size_t tlens[2] = {strlen(id), 1};
    papi_buf_reset(&b);
    assert_int_equal(papi__render_row(ts, tcells, tlens, 2, &b, NULL), PAPI_OK);
    assert_true(papi__row_check(ts, id, strlen(id), b.data, b.len));
    assert_false(papi__row_check(ts, "a", 1, b.data, b.len));
    papi_buf_free(&b);
}

static void test_key_member(void **state)
{
    (void)state;
    assert_true(row_ok("num", "7", "{\"NAME\":\"x\",\"ID\":7,\"V\":null}"));
    assert_true(row_ok("num", "7", " { \"ID\" : 7 } "));
    assert_true(row_ok("num", "12345678901234567890123456789012345678",
                       "{\"ID\":12345678901234567890123456789012345678}"));
    assert_false(row_ok("num", "7", "{\"ID\":8}"));
    assert_false(row_ok("num", "7", "{\"ID\":-7}"));
    assert_false(row_ok("num", "7", "{\"ID\":7.0}"));
    assert_false(row_ok("num", "7", "{\"ID\":7e0}"));
    assert_false(row_ok("num", "7", "{\"ID\":\"7\"}"));
    assert_false(row_ok("num", "7", "{\"ID\":[7]}"));
    assert_false(row_ok("num", "7", "{\"ID\":7,\"ID\":7}"));
    assert_false(row_ok("num", "7", "{\"id\":7}"));
    assert_false(row_ok("num", "7", "{\"\\u0049D\":7}")); /* not a name render.c writes */
    assert_false(row_ok("num", "7", "{\"NAME\":{\"ID\":7}}"));
    assert_false(row_ok("num", "7", "{}"));
    assert_false(row_ok("num", "7", "[{\"ID\":7}]"));
    assert_false(row_ok("num", "7", "{\"ID\":7,\"NAME\":\"\xff\"}"));
    assert_false(row_ok("num", "7", "{\"ID\":7} {\"ID\":7}"));
    assert_false(row_ok("num", "7", ""));

    assert_true(row_ok("txt", "abc", "{\"CODE\":\"abc\",\"N\":1}"));
    assert_true(row_ok("txt", "abc", "{\"CODE\":\"\\u0061b\\u0063\"}"));
    assert_true(row_ok("txt", "\xc3\xa9", "{\"CODE\":\"\\u00E9\"}"));
    assert_true(row_ok("txt", "\xf0\x9f\x98\x80", "{\"CODE\":\"\\ud83d\\ude00\"}"));
    assert_true(row_ok("txt", "a/b", "{\"CODE\":\"a\\/b\"}"));
    assert_false(row_ok("txt", "abc", "{\"CODE\":\"abcd\"}"));
    assert_false(row_ok("txt", "abc", "{\"CODE\":\"ab\"}"));
    assert_false(row_ok("txt", "7", "{\"CODE\":7}"));
    assert_false(row_ok("txt", "\xc3\xa9", "{\"CODE\":\"\\u00E8\"}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_accepted), cmocka_unit_test(test_json_refused),
        cmocka_unit_test(test_depth_limit),   cmocka_unit_test(test_rendered_rows_pass),
        cmocka_unit_test(test_key_member),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
