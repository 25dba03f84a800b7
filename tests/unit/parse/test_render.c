/* Proves issue 2 item 4: a row's JSON exactly as DESIGN.md "One row as JSON" says, for every
 * column type, and that a cell not fitting its type is PAPI_EPROTO naming the column (never
 * the value) with the output left as it was. Every output is also parsed back by jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* One dataset with a column of every type, in papi_column_type order. */
static const char *const all_types_json =
    "{\"datasets\":[{\"name\":\"all\",\"table\":\"T\",\"key\":\"N\",\"columns\":["
    "{\"name\":\"N\",\"type\":\"number\"},{\"name\":\"D\",\"type\":\"decimal\"},"
    "{\"name\":\"R\",\"type\":\"real\"},{\"name\":\"T\",\"type\":\"text\"},"
    "{\"name\":\"B\",\"type\":\"boolean\"},{\"name\":\"DT\",\"type\":\"date\"},"
    "{\"name\":\"TM\",\"type\":\"time\"},{\"name\":\"TS\",\"type\":\"timestamp\"},"
    "{\"name\":\"V\",\"type\":\"variant\"},{\"name\":\"BIN\",\"type\":\"binary\"}]}]}";

static papi__datasets *set;

static int setup(void **state)
{
    (void)state;
    return papi__datasets_parse(all_types_json, strlen(all_types_json), &set, NULL) == PAPI_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    papi__datasets_free(set);
    return 0;
}

static void assert_valid_json(const char *s, size_t len)
{
    json_error_t jerr;
    /* as reals: jansson's integers would overflow on 38 digits */
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    if (!v)
        fail_msg("not JSON (%s): %s", jerr.text, s);
    json_decref(v);
}

/* Renders one cell of column col (type index in the all-types dataset), others NULL, and
 * returns the JSON value written for it in out (the text after "\"NAME\":"). */
static papi_status render_cell(size_t col, const char *cell, size_t len, char *out, size_t cap,
                               papi_error *err)
{
    const papi_dataset *ds = papi__datasets_find(set, "all");
    const char *cells[10] = {0};
    size_t lens[10] = {0};
    cells[col] = cell;
    lens[col] = len;
    papi_buf b;
    papi_buf_init(&b);
    papi_buf_puts(&b, "prefix");
    papi_status st = papi__render_row(ds, cells, lens, 10, &b, err);
    if (st != PAPI_OK) {
        assert_string_equal(b.data, "prefix"); /* left as it was */
        papi_buf_free(&b);
        return st;
    }
    assert_memory_equal(b.data, "prefix{", 7);
    assert_valid_json(b.data + 6, b.len - 6);
    /* every other cell is NULL, so all around the value is known exactly */
    char head[256] = "prefix{", tail[256] = "";
    for (size_t i = 0; i < 10; i++) {
        char *dst = i < col ? head : tail;
        size_t at = strlen(dst);
        if (i == col)
            snprintf(head + strlen(head), sizeof head - strlen(head), "%s\"%s\":", i ? "," : "",
                     papi_dataset_column_name(ds, i));
        else
            snprintf(dst + at, 256 - at, "%s\"%s\":null", i ? "," : "",
                     papi_dataset_column_name(ds, i));
    }
    strcat(tail, "}");
    size_t hl = strlen(head), tl = strlen(tail);
    assert_true(b.len >= hl + tl);
    assert_memory_equal(b.data, head, hl);
    assert_memory_equal(b.data + b.len - tl, tail, tl);
    size_t n = b.len - hl - tl;
    assert_true(n < cap);
    memcpy(out, b.data + hl, n);
    out[n] = '\0';
    papi_buf_free(&b);
    return PAPI_OK;
}

static void ok(size_t col, const char *cell, const char *want)
{
    char got[512];
    papi_error err;
    papi_status st = render_cell(col, cell, strlen(cell), got, sizeof got, &err);
    if (st != PAPI_OK)
        fail_msg("\"%s\": %s", cell, err.message);
    if (strcmp(got, want) != 0)
        fail_msg("\"%s\" rendered %s, want %s", cell, got, want);
}

static void eproto(size_t col, const char *cell, size_t len)
{
    char got[512];
    papi_error err;
    memset(&err, 0, sizeof err);
    papi_status st = render_cell(col, cell, len, got, sizeof got, &err);
    if (st != PAPI_EPROTO)
        fail_msg("\"%s\" accepted as %s", cell, got);
    char colname[32];
    snprintf(colname, sizeof colname, "column %s:",
             papi_dataset_column_name(papi__datasets_find(set, "all"), col));
    if (!strstr(err.message, colname))
        fail_msg("message \"%s\" does not name the column", err.message);
    if (len >= 6 && strstr(err.message, cell))
        fail_msg("message \"%s\" echoes the value", err.message);
}

static void test_whole_row(void **state)
{
    (void)state;
    const papi_dataset *ds = papi__datasets_find(set, "customer");
    const char *cells[18] = {"1885", "AAAAAAAANGHAAAAA", NULL, "2", "3", "4", "5", "Mr.",
                             "Zoë", "O'Brien \"Jr\"", "Y", "1", "12", "1980", "CÔTE D'IVOIRE",
                             NULL, "zoe@example.com", "2452000"};
    size_t lens[18];
    for (int i = 0; i < 18; i++)
        lens[i] = cells[i] ? strlen(cells[i]) : 0;
    papi_buf b;
    papi_buf_init(&b);
    assert_int_equal(papi__render_row(ds, cells, lens, 18, &b, NULL), PAPI_OK);
    assert_string_equal(
        b.data,
        "{\"C_CUSTOMER_SK\":1885,\"C_CUSTOMER_ID\":\"AAAAAAAANGHAAAAA\",\"C_CURRENT_CDEMO_SK\":null,"
        "\"C_CURRENT_HDEMO_SK\":2,\"C_CURRENT_ADDR_SK\":3,\"C_FIRST_SHIPTO_DATE_SK\":4,"
        "\"C_FIRST_SALES_DATE_SK\":5,\"C_SALUTATION\":\"Mr.\",\"C_FIRST_NAME\":\"Zoë\","
        "\"C_LAST_NAME\":\"O'Brien \\\"Jr\\\"\",\"C_PREFERRED_CUST_FLAG\":\"Y\",\"C_BIRTH_DAY\":1,"
        "\"C_BIRTH_MONTH\":12,\"C_BIRTH_YEAR\":1980,\"C_BIRTH_COUNTRY\":\"CÔTE D'IVOIRE\","
        "\"C_LOGIN\":null,\"C_EMAIL_ADDRESS\":\"zoe@example.com\",\"C_LAST_REVIEW_DATE\":"
        "\"2452000\"}");
    assert_valid_json(b.data, b.len);

    /* appends: two rows in one buffer */
    size_t first = b.len;
    assert_int_equal(papi__render_row(ds, cells, lens, 18, &b, NULL), PAPI_OK);
    assert_int_equal(b.len, 2 * first);

    papi_error err;
    assert_int_equal(papi__render_row(ds, cells, lens, 17, &b, &err), PAPI_EPROTO);
    assert_non_null(strstr(err.message, "17 cells, not 18"));
    assert_int_equal(b.len, 2 * first);
    papi_buf_free(&b);
}

static void test_number(void **state)
{
    (void)state;
    ok(0, "1885", "1885");
    ok(0, "0", "0");
    ok(0, "-3", "-3");
    ok(0, "-0", "0");
    ok(0, "007", "7");
    ok(0, "1885.0", "1885");
    ok(0, "1885.000", "1885");
    ok(0, "99999999999999999999999999999999999999", "99999999999999999999999999999999999999");
    ok(0, "-12345678901234567890123456789012345678", "-12345678901234567890123456789012345678");
    eproto(0, "123456789012345678901234567890123456789", 39);
    eproto(0, "", 0);
    eproto(0, "-", 1);
    eproto(0, "+1", 2);
    eproto(0, " 1", 2);
    eproto(0, "1.5", 3);
    eproto(0, "1.", 2);
    eproto(0, ".0", 2);
    eproto(0, "1e3", 3);
    eproto(0, "12abc", 5);
    eproto(0, "1\0", 2);
}

static void test_decimal_and_real(void **state)
{
    (void)state;
    ok(1, "12.50", "12.50");
    ok(1, "-3", "-3");
    ok(1, "0.000001", "0.000001");
    ok(1, "1.2345E+39", "1.2345E+39");
    eproto(1, "12,50", 5);
    eproto(1, "012.5", 5);
    eproto(1, "", 0);
    eproto(1, "1.", 2);
    eproto(1, "NaN", 3);
    ok(2, "1.25", "1.25");
    ok(2, "2.5e+10", "2.5e+10");
    ok(2, "-0.0", "-0.0");
    ok(2, "NaN", "\"NaN\"");
    ok(2, "nan", "\"NaN\"");
    ok(2, "inf", "\"Infinity\"");
    ok(2, "-Infinity", "\"-Infinity\"");
    ok(2, ".5", "0.5");
    ok(2, "+2.", "2");
    eproto(2, "", 0);
    eproto(2, "-", 1); /* found by fuzz_render: read past a lone sign */
    eproto(2, "+", 1);
    eproto(2, "abc", 3);
    eproto(2, "0x1p3", 5);
    eproto(2, "1.5 ", 4);
    eproto(2, "1e999", 5);
}

static void test_text(void **state)
{
    (void)state;
    ok(3, "Ada", "\"Ada\"");
    ok(3, "", "\"\"");
    ok(3, "Zoë Ωμέγα 日本 🙂", "\"Zoë Ωμέγα 日本 🙂\""); /* UTF-8 kept as is */
    ok(3, "a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    ok(3, "l1\nl2\r\t\b\f", "\"l1\\nl2\\r\\t\\b\\f\"");
    ok(3, "\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    ok(3, "\x1b[2J", "\"\\u001b[2J\"");
    /* invalid UTF-8: each bad byte becomes U+FFFD, good text around it is kept */
    ok(3, "a\xffz", "\"a\xEF\xBF\xBDz\"");
    ok(3, "\xc3", "\"\xEF\xBF\xBD\"");                        /* cut sequence */
    ok(3, "\xc0\xaf", "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");        /* overlong '/' */
    ok(3, "\xed\xa0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""); /* surrogate */
    ok(3, "\xf4\x90\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""); /* > U+10FFFF */

    /* embedded NUL is a control character like any other */
    char got[64];
    assert_int_equal(render_cell(3, "a\0b", 3, got, sizeof got, NULL), PAPI_OK);
    assert_string_equal(got, "\"a\\u0000b\"");

    papi_buf b;
    papi_buf_init(&b);
    papi_json_string(&b, "x\"\n", 3);
    assert_string_equal(b.data, "\"x\\\"\\n\"");
    papi_buf_free(&b);
}

static void test_boolean_and_strings(void **state)
{
    (void)state;
    ok(4, "true", "true");
    ok(4, "FALSE", "false");
    ok(4, "1", "true");
    ok(4, "0", "false");
    eproto(4, "yes", 3);
    eproto(4, "", 0);
    eproto(4, "truex", 5);
    ok(5, "2020-01-01", "\"2020-01-01\"");
    ok(6, "23:01:59.123456789", "\"23:01:59.123456789\"");
    ok(7, "2021-01-28T22:09:37.123456789Z", "\"2021-01-28T22:09:37.123456789Z\"");
    ok(9, "DEADBEEF", "\"DEADBEEF\"");
}

static void test_variant(void **state)
{
    (void)state;
    ok(8, "{\"k\":[1,2]}", "{\"k\":[1,2]}");
    ok(8, "{\n  \"k\" : [ 1 , 2 ] ,\n  \"s\": \"a b\\n\" \n}", "{\"k\":[1,2],\"s\":\"a b\\n\"}");
    ok(8, "  42 ", "42");
    ok(8, "\"just text\"", "\"just text\"");
    ok(8, "null", "null");
    ok(8, "[true,false,null,{}]", "[true,false,null,{}]");
    ok(8, "[]", "[]");
    ok(8, "{}", "{}");
    /* big numbers kept as written, not cut */
    ok(8, "{\"n\":123456789012345678901234567890123456789}",
       "{\"n\":123456789012345678901234567890123456789}");
    ok(8, "[\"\\u00e9\\ud83d\\ude42\"]", "[\"\\u00e9\\ud83d\\ude42\"]");
    ok(8, "[\"a\xffz\"]", "[\"a\xEF\xBF\xBDz\"]");
    ok(8, "[\"\\ud800x\\udc00\\ud83d\"]", "[\"\\ufffdx\\ufffd\\ufffd\"]"); /* lone surrogates */
    eproto(8, "", 0);
    eproto(8, "   ", 3);
    eproto(8, "{", 1);
    eproto(8, "{\"k\":}", 6);
    eproto(8, "{\"k\" 1}", 7);
    eproto(8, "{k:1}", 5);
    eproto(8, "[1,]", 4);
    eproto(8, "[1 2]", 5);
    eproto(8, "{\"a\":1,}", 8);
    eproto(8, "[1]x", 4);
    eproto(8, "[1]]", 4);
    eproto(8, "tru", 3);
    eproto(8, "01", 2);
    eproto(8, "[\"a\nb\"]", 7);
    eproto(8, "[\"\\x\"]", 6);
    eproto(8, "[\"\\u12g4\"]", 10);
    eproto(8, "[\"abc", 5);
    eproto(8, "{\"a\":1]", 7);
    eproto(8, "[}", 2);

    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    char want[200];
    memcpy(want, deep, 129);
    ok(8, deep, want);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    eproto(8, deep, 130);
}

static void test_select_sql_text(void **state)
{
    (void)state;
    char sql[256];
    papi_dataset_select_sql(papi__datasets_find(set, "all"), "t", 2, sql, sizeof sql);
    assert_string_equal(sql, "SELECT N, D, R, T, B, DT, TM, TS, V, BIN FROM t WHERE N IN (?, ?)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_row),
        cmocka_unit_test(test_number),
        cmocka_unit_test(test_decimal_and_real),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_boolean_and_strings),
        cmocka_unit_test(test_variant),
        cmocka_unit_test(test_select_sql_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
