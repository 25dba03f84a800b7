/* Proves the id rules of issue 2 item 2: what is accepted, how it is normalized and
 * de-duplicated, and that every refusal is PAPI_EINVAL with a message naming the item safely. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static papi_status parse(const char *list, papi_key_type type, size_t max, papi__ids *ids,
                         papi_error *err)
{
    memset(err, 0, sizeof *err);
    return papi__ids_parse_list(list, strlen(list), type, max, ids, err);
}

/* Parses list (number keys, max 100) and checks the keys equal the expected, in order. */
static void expect_keys(const char *list, papi_key_type type, const char *const *want, size_t n)
{
    papi__ids ids;
    papi_error err;
    assert_int_equal(parse(list, type, 100, &ids, &err), PAPI_OK);
    assert_int_equal(ids.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ids.keys[i].len, strlen(want[i]));
        assert_memory_equal(ids.keys[i].ptr, want[i], ids.keys[i].len);
        assert_int_equal(ids.keys[i].ptr[ids.keys[i].len], '\0');
    }
    papi__ids_free(&ids);
}

/* Parses list expecting EINVAL with a message containing every fragment given. */
static void expect_bad(const char *list, size_t len, papi_key_type type, size_t max,
                       const char *frag1, const char *frag2)
{
    papi__ids ids = {.keys = (papi_key *)1, .n = 7, .storage = (char *)1};
    papi_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(papi__ids_parse_list(list, len, type, max, &ids, &err), PAPI_EINVAL);
    assert_int_equal(err.status, PAPI_EINVAL);
    assert_null(ids.keys);
    assert_int_equal(ids.n, 0);
    if (frag1 && !strstr(err.message, frag1))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, frag1);
    if (frag2 && !strstr(err.message, frag2))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, frag2);
    for (const char *p = err.message; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static void test_single_and_several(void **state)
{
    (void)state;
    expect_keys("1885", PAPI_KEY_NUMBER, (const char *[]){"1885"}, 1);
    expect_keys("1,2,3", PAPI_KEY_NUMBER, (const char *[]){"1", "2", "3"}, 3);
    expect_keys("0", PAPI_KEY_NUMBER, (const char *[]){"0"}, 1);
}

static void test_number_normalized(void **state)
{
    (void)state;
    expect_keys("007,000,0,10", PAPI_KEY_NUMBER, (const char *[]){"7", "0", "10"}, 3);
    /* leading zeros do not count toward the 38 digits */
    expect_keys("0000012345678901234567890123456789012345678", PAPI_KEY_NUMBER,
                (const char *[]){"12345678901234567890123456789012345678"}, 1);
}

static void test_number_digits_limit(void **state)
{
    (void)state;
    const char *d38 = "12345678901234567890123456789012345678";
    expect_keys(d38, PAPI_KEY_NUMBER, (const char *[]){d38}, 1);
    const char *d39 = "123456789012345678901234567890123456789";
    expect_bad(d39, strlen(d39), PAPI_KEY_NUMBER, 100, "id 1 (", "more than 38 digits");
    char big[400];
    memset(big, '1', sizeof big);
    expect_bad(big, sizeof big, PAPI_KEY_NUMBER, 100, "id 1 (\"111111111111111111111111...\")",
               "too long");
}

static void test_number_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {"-1", "+1", " 1", "1 ", "1.0", "1e3", "0x1F", "1_000",
                                      "１", "%31", "1;DROP", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad(bad[i], strlen(bad[i]), PAPI_KEY_NUMBER, 100, "id 1 (",
                   "is not a number: only digits 0-9 are allowed");
    expect_bad("1,1;DROP", 8, PAPI_KEY_NUMBER, 100,
               "id 2 (\"1;DROP\") is not a number: only digits 0-9 are allowed", NULL);
}

static void test_empty_items(void **state)
{
    (void)state;
    expect_bad("", 0, PAPI_KEY_NUMBER, 100, "empty id list", NULL);
    expect_bad(",,", 2, PAPI_KEY_NUMBER, 100, "id 1 is empty", NULL);
    expect_bad("1,", 2, PAPI_KEY_NUMBER, 100, "id 2 is empty", NULL);
    expect_bad(",1", 2, PAPI_KEY_NUMBER, 100, "id 1 is empty", NULL);
    expect_bad("1,,2", 4, PAPI_KEY_NUMBER, 100, "id 2 is empty", NULL);
    expect_bad("", 0, PAPI_KEY_TEXT, 100, "empty id list", NULL);
    expect_bad("a,", 2, PAPI_KEY_TEXT, 100, "id 2 is empty", NULL);
}

static void test_max_ids(void **state)
{
    (void)state;
    papi__ids ids;
    papi_error err;
    assert_int_equal(parse("1,2,3", PAPI_KEY_NUMBER, 3, &ids, &err), PAPI_OK);
    papi__ids_free(&ids);
    expect_bad("1,2,3,4", 7, PAPI_KEY_NUMBER, 3, "too many ids: 4 given, at most 3 allowed",
               NULL);
    /* repeats count as asked: the limit bounds the work of one request */
    expect_bad("1,1,1,1", 7, PAPI_KEY_NUMBER, 3, "too many ids", NULL);

    /* 10,000 allowed at the configured maximum, 10,001 refused */
    papi_buf b;
    papi_buf_init(&b);
    for (int i = 1; i <= 10000; i++)
        papi_buf_printf(&b, i > 1 ? ",%d" : "%d", i);
    assert_int_equal(papi__ids_parse_list(b.data, b.len, PAPI_KEY_NUMBER, 10000, &ids, &err),
                     PAPI_OK);
    assert_int_equal(ids.n, 10000);
    assert_memory_equal(ids.keys[9999].ptr, "10000", 5);
    papi__ids_free(&ids);
    papi_buf_puts(&b, ",10001");
    expect_bad(b.data, b.len, PAPI_KEY_NUMBER, 10000, "10001 given, at most 10000", NULL);
    papi_buf_free(&b);
}

static void test_dedupe_keeps_first_order(void **state)
{
    (void)state;
    expect_keys("3,1,3,2,1,03", PAPI_KEY_NUMBER, (const char *[]){"3", "1", "2"}, 3);
    expect_keys("b,a,b,A", PAPI_KEY_TEXT, (const char *[]){"b", "a", "A"}, 3);

    /* large lists go through the hash table: same answer as the linear path */
    papi_buf b;
    papi_buf_init(&b);
    for (int i = 0; i < 3000; i++)
        papi_buf_printf(&b, i ? ",%d" : "%d", (i * 7919) % 1000);
    papi__ids ids;
    papi_error err;
    assert_int_equal(papi__ids_parse_list(b.data, b.len, PAPI_KEY_NUMBER, 5000, &ids, &err),
                     PAPI_OK);
    assert_int_equal(ids.n, 1000);
    for (size_t i = 0; i < ids.n; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", (int)((i * 7919) % 1000));
        assert_int_equal(ids.keys[i].len, strlen(want));
        assert_memory_equal(ids.keys[i].ptr, want, strlen(want));
    }
    papi__ids_free(&ids);
    papi_buf_free(&b);
}

static void test_text_keys_are_values(void **state)
{
    (void)state;
    /* quotes, semicolons, percent signs, spaces and UTF-8 are kept byte for byte */
    expect_keys("O'Brien;DROP TABLE x,%27,  spaced  ,Zoë,\"q\"", PAPI_KEY_TEXT,
                (const char *[]){"O'Brien;DROP TABLE x", "%27", "  spaced  ", "Zo\xc3\xab",
                                 "\"q\""},
                5);
    char longest[PAPI__MAX_TEXT_KEY_BYTES + 2];
    memset(longest, 'k', sizeof longest);
    longest[PAPI__MAX_TEXT_KEY_BYTES] = '\0';
    expect_keys(longest, PAPI_KEY_TEXT, (const char *[]){longest}, 1);
    longest[PAPI__MAX_TEXT_KEY_BYTES] = 'k';
    expect_bad(longest, PAPI__MAX_TEXT_KEY_BYTES + 1, PAPI_KEY_TEXT, 100, "too long",
               "at most 256 bytes");
    expect_bad("ok,a\0b", 6, PAPI_KEY_TEXT, 100, "id 2 (\"a\\x00b\")", "NUL");
    expect_bad("\xff\xfe", 2, PAPI_KEY_TEXT, 100, "id 1 (\"\\xff\\xfe\")", "not UTF-8");
    expect_bad("\xed\xa0\x80", 3, PAPI_KEY_TEXT, 100, "not UTF-8", NULL); /* a surrogate */
}

static void test_message_is_safe(void **state)
{
    (void)state;
    /* control bytes, quotes and backslashes are escaped; long items are cut */
    expect_bad("1\n\x1b[2J\"\\", 8, PAPI_KEY_NUMBER, 100,
               "id 1 (\"1\\x0a\\x1b[2J\\\"\\\\\")", NULL);
    expect_bad("1;DROP TABLE customers; --", 26, PAPI_KEY_NUMBER, 100,
               "(\"1;DROP TABLE customers; ...\")", NULL);
}

static void test_from_array(void **state)
{
    (void)state;
    papi__ids ids;
    papi_error err;
    const char *in[] = {"42", "007", "42", "7"};
    assert_int_equal(papi__ids_from_array(in, 4, PAPI_KEY_NUMBER, 100, &ids, &err), PAPI_OK);
    assert_int_equal(ids.n, 2);
    assert_string_equal(ids.keys[0].ptr, "42");
    assert_string_equal(ids.keys[1].ptr, "7");
    papi__ids_free(&ids);

    const char *comma[] = {"a,b"}; /* the array form does not split */
    assert_int_equal(papi__ids_from_array(comma, 1, PAPI_KEY_TEXT, 100, &ids, &err), PAPI_OK);
    assert_int_equal(ids.n, 1);
    assert_string_equal(ids.keys[0].ptr, "a,b");
    papi__ids_free(&ids);

    assert_int_equal(papi__ids_from_array(in, 0, PAPI_KEY_NUMBER, 100, &ids, &err), PAPI_EINVAL);
    assert_non_null(strstr(err.message, "empty id list"));
    assert_int_equal(papi__ids_from_array(in, 4, PAPI_KEY_NUMBER, 3, &ids, &err), PAPI_EINVAL);
    assert_non_null(strstr(err.message, "too many ids"));
    const char *bad[] = {"1", "x", NULL};
    assert_int_equal(papi__ids_from_array(bad, 2, PAPI_KEY_NUMBER, 100, &ids, &err), PAPI_EINVAL);
    assert_non_null(strstr(err.message, "id 2 (\"x\") is not a number"));
    assert_null(ids.keys);
    assert_int_equal(papi__ids_from_array(bad, 3, PAPI_KEY_NUMBER, 100, &ids, &err), PAPI_EINVAL);
    assert_non_null(strstr(err.message, "id 3 is NULL"));
    const char *empty[] = {"1", ""};
    assert_int_equal(papi__ids_from_array(empty, 2, PAPI_KEY_NUMBER, 100, &ids, &err),
                     PAPI_EINVAL);
    assert_non_null(strstr(err.message, "id 2 is empty"));
}

static void test_id_check(void **state)
{
    (void)state;
    char out[64];
    size_t n = 99;
    papi_error err;
    assert_int_equal(papi__id_check("0042", 4, PAPI_KEY_NUMBER, out, &n, &err), PAPI_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out, "42");
    assert_int_equal(papi__id_check("4 2", 3, PAPI_KEY_NUMBER, out, &n, &err), PAPI_EINVAL);
    assert_string_equal(err.message, "id (\"4 2\") is not a number: only digits 0-9 are allowed");
    assert_int_equal(papi__id_check("x'y", 3, PAPI_KEY_TEXT, out, &n, &err), PAPI_OK);
    assert_string_equal(out, "x'y");
    assert_int_equal(papi__id_check("", 0, PAPI_KEY_TEXT, out, &n, &err), PAPI_EINVAL);
    assert_int_equal(papi__id_check(NULL, 0, PAPI_KEY_TEXT, out, &n, &err), PAPI_EINVAL);
}

static void test_null_and_free(void **state)
{
    (void)state;
    papi_error err;
    assert_int_equal(papi__ids_parse_list("1", 1, PAPI_KEY_NUMBER, 100, NULL, &err), PAPI_EINVAL);
    papi__ids ids;
    assert_int_equal(papi__ids_parse_list(NULL, 3, PAPI_KEY_NUMBER, 100, &ids, NULL),
                     PAPI_EINVAL);
    papi__ids_free(NULL);
    papi__ids_free(&ids); /* after a failure: zeroed, so freeing again is harmless */
}

/* The one normal form of a key (keyindex.c), shared with the sink's matching of key cells. */
static void test_key_normalize(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"7", "7"},       {"0007", "7"},  {"0", "0"},       {"000", "0"},   {"100", "100"},
        {"12.0", "12"},   {"12.000", "12"}, {"12.", "12"},  {"0.0", "0"},   {"0007.0", "7"},
        {"1.50", "1.50"}, {"10.00", "10"}, {"1.05", "1.05"}, {"120", "120"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        papi_key k = papi__key_normalize(PAPI_KEY_NUMBER, cases[i][0], strlen(cases[i][0]));
        char got[32];
        snprintf(got, sizeof got, "%.*s", (int)k.len, k.ptr);
        assert_string_equal(got, cases[i][1]);
    }
    papi_key t = papi__key_normalize(PAPI_KEY_TEXT, "007.0", 5);
    assert_int_equal(t.len, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_and_several),
        cmocka_unit_test(test_number_normalized),
        cmocka_unit_test(test_number_digits_limit),
        cmocka_unit_test(test_number_rejects),
        cmocka_unit_test(test_empty_items),
        cmocka_unit_test(test_max_ids),
        cmocka_unit_test(test_dedupe_keeps_first_order),
        cmocka_unit_test(test_text_keys_are_values),
        cmocka_unit_test(test_message_is_safe),
        cmocka_unit_test(test_from_array),
        cmocka_unit_test(test_id_check),
        cmocka_unit_test(test_null_and_free),
        cmocka_unit_test(test_key_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
