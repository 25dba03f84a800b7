/* sfapi.c and sfrows.c: request bodies, ResultSet/partition/status/error parsing (including every
 * truncation of a valid body), rows read straight from the text, the limits of a lookup's
 * answers, context names, column checks and the cell encodings of snowflake-sql-api.md 5.4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snowflake.h"

static const char *const names[] = {"C_CUSTOMER_SK", "C_FIRST_NAME"};
static const papi_column_type types[] = {PAPI_COL_NUMBER, PAPI_COL_TEXT};
static const papi__sf_expect expect2 = {2, names, types};
/* no deadline, room for the partitions of the tests */
static const papi__sf_limits lim = {PAPI__SF_MAX_BODY_BYTES, 16, INT64_MAX, NULL, 0};

static const char result_body[] =
    "{\"resultSetMetaData\":{\"numRows\":2,\"format\":\"jsonv2\","
    "\"partitionInfo\":[{\"rowCount\":2,\"uncompressedSize\":41}],"
    "\"rowType\":[{\"name\":\"C_CUSTOMER_SK\",\"type\":\"fixed\",\"precision\":38,\"scale\":0,"
    "\"nullable\":false},{\"name\":\"C_FIRST_NAME\",\"type\":\"TEXT\",\"scale\":null,"
    "\"length\":20}]},"
    "\"data\":[[\"123456789012345678901234567890\",\"Ada\"],[\"42\",null]],"
    "\"code\":\"090001\",\"sqlState\":\"00000\",\"statementHandle\":\"01b9c6e2-0002-8a1f\","
    "\"statementStatusUrl\":\"/api/v2/statements/01b9c6e2-0002-8a1f?requestId=x\"}";

typedef struct rows {
    int n;
    char text[512];
} rows;

static papi_status collect(void *user, const char *const *cells, const size_t *lens, size_t n,
                           papi_error *err)
{
    (void)err;
    rows *r = user;
    r->n++;
    for (size_t i = 0; i < n; i++) {
        size_t at = strlen(r->text);
        snprintf(r->text + at, sizeof r->text - at, "%.*s|", cells[i] ? (int)lens[i] : 4,
                 cells[i] ? cells[i] : "NULL");
    }
    return PAPI_OK;
}

static void test_statement_body(void **state)
{
    (void)state;
    papi_key keys[] = {{"1885", 4}, {"42", 2}, {"7", 1}};
    papi__sf_context ctx = {.database = "API", .schema = NULL, .warehouse = "",
                            .role = "DATA_API_ROLE", .timeout_s = 10};
    papi_buf b;
    papi_buf_init(&b);
    assert_int_equal(papi__sf_statement_body(&ctx, "SELECT 1 WHERE K IN (?, ?, ?, ?)",
                                             PAPI_KEY_NUMBER, keys, 3, 4, &b, NULL),
                     PAPI_OK);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "database")), "API");
    assert_null(json_object_get(j, "schema"));    /* unset: the user's default applies */
    assert_null(json_object_get(j, "warehouse")); /* empty counts as unset */
    assert_string_equal(json_string_value(json_object_get(j, "role")), "DATA_API_ROLE");
    assert_int_equal(json_integer_value(json_object_get(j, "timeout")), 10);
    json_t *bind = json_object_get(j, "bindings");
    assert_int_equal(json_object_size(bind), 4);
    assert_string_equal(json_string_value(json_object_get(json_object_get(bind, "1"), "type")),
                        "FIXED");
    /* values are JSON strings, never numbers; padding repeats the last id */
    assert_true(json_is_string(json_object_get(json_object_get(bind, "1"), "value")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(bind, "4"), "value")),
                        "7");
    json_t *params = json_object_get(j, "parameters");
    assert_string_equal(json_string_value(json_object_get(params, "query_tag")), "papi");
    assert_string_equal(json_string_value(json_object_get(params, "timezone")), "UTC");
    json_decref(j);
    papi_buf_reset(&b);
    papi_key text[] = {{"a\"b", 3}};
    assert_int_equal(papi__sf_statement_body(&ctx, "S", PAPI_KEY_TEXT, text, 1, 1, &b, NULL),
                     PAPI_OK);
    assert_non_null(strstr(b.data, "{\"type\":\"TEXT\",\"value\":\"a\\\"b\"}"));
    papi_buf_reset(&b);
    papi_key bad[] = {{"\xff", 1}};
    assert_int_equal(papi__sf_statement_body(&ctx, "S", PAPI_KEY_TEXT, bad, 1, 1, &b, NULL),
                     PAPI_EINVAL);
    papi_buf_free(&b);
}

static void test_parse_result(void **state)
{
    (void)state;
    papi__sf_result r;
    assert_int_equal(
        papi__sf_parse_result(result_body, strlen(result_body), &expect2, &lim, &r, NULL), PAPI_OK);
    assert_int_equal(r.npartitions, 1);
    assert_int_equal(r.row_counts[0], 2);
    assert_string_equal(r.handle, "01b9c6e2-0002-8a1f");
    /* the rows are a span of the body, not a copy */
    assert_true(r.data > result_body && r.data < result_body + sizeof result_body);
    rows got = {0};
    assert_int_equal(
        papi__sf_emit_rows(&r, r.data, r.data_len, r.row_counts[0], INT64_MAX, collect, &got, NULL),
        PAPI_OK);
    assert_int_equal(got.n, 2);
    /* 30 digits kept exactly: never through double or int64 */
    assert_string_equal(got.text, "123456789012345678901234567890|Ada|42|NULL|");
    papi_error err = {0};
    assert_int_equal(papi__sf_emit_rows(&r, r.data, r.data_len, 3, INT64_MAX, collect, &got, &err),
                     PAPI_EPROTO);
    assert_int_equal(papi__sf_emit_rows(&r, r.data, r.data_len, 1, INT64_MAX, collect, &got, &err),
                     PAPI_EPROTO);
    papi__sf_result_free(&r);
    papi__sf_result_free(&r); /* idempotent */
}

static void test_column_mismatch(void **state)
{
    (void)state;
    papi__sf_result r;
    papi_error err = {0};
    static const char *const other[] = {"C_CUSTOMER_SK", "C_LAST_NAME"};
    papi__sf_expect e = {2, other, types};
    assert_int_equal(papi__sf_parse_result(result_body, strlen(result_body), &e, &lim, &r, &err),
                     PAPI_EPROTO);
    assert_non_null(strstr(err.message, "column 2 is C_FIRST_NAME"));
    assert_non_null(strstr(err.message, "dataset expects C_LAST_NAME"));
    static const papi_column_type wrong[] = {PAPI_COL_DATE, PAPI_COL_TEXT};
    papi__sf_expect t = {2, names, wrong};
    assert_int_equal(papi__sf_parse_result(result_body, strlen(result_body), &t, &lim, &r, &err),
                     PAPI_EPROTO);
    assert_non_null(strstr(err.message, "column 1"));
    papi__sf_expect one = {1, names, types};
    assert_int_equal(papi__sf_parse_result(result_body, strlen(result_body), &one, &lim, &r, &err),
                     PAPI_EPROTO);
    assert_non_null(strstr(err.message, "2 columns"));
}

static void test_truncated_and_malformed(void **state)
{
    (void)state;
    size_t n = strlen(result_body);
    for (size_t len = 0; len < n; len++) { /* every prefix: an error, never a crash */
        papi__sf_result r;
        papi_error err = {0};
        assert_int_equal(papi__sf_parse_result(result_body, len, &expect2, &lim, &r, &err),
                         PAPI_EPROTO);
        assert_true(err.message[0] != '\0');
        const char *rows = NULL;
        size_t rows_len = 0;
        papi_status st = papi__sf_parse_partition(result_body, len, &rows, &rows_len, &err);
        assert_int_equal(st, PAPI_EPROTO);
        char h[64], u[64];
        assert_int_equal(papi__sf_parse_status(result_body, len, h, sizeof h, u, sizeof u, &err),
                         PAPI_EPROTO);
        papi__sf_error e;
        papi__sf_parse_error(result_body, len, &e);
    }
    static const char *const bad[] = {
        "[]", "{}", "null", "<html>502</html>",
        "{\"resultSetMetaData\":{\"rowType\":{}},\"data\":[]}",
        "{\"resultSetMetaData\":{\"rowType\":[{\"name\":1,\"type\":\"fixed\"},{}]},\"data\":[]}",
        /* partitions disagree with numRows */
        "{\"resultSetMetaData\":{\"numRows\":5,\"partitionInfo\":[{\"rowCount\":2}],\"rowType\":"
        "[{\"name\":\"C_CUSTOMER_SK\",\"type\":\"fixed\"},{\"name\":\"C_FIRST_NAME\",\"type\":"
        "\"text\"}]},\"data\":[]}",
        /* two partitions and no handle to fetch the second */
        "{\"resultSetMetaData\":{\"numRows\":2,\"partitionInfo\":[{\"rowCount\":1},{\"rowCount\":1}"
        "],\"rowType\":[{\"name\":\"C_CUSTOMER_SK\",\"type\":\"fixed\"},{\"name\":\"C_FIRST_NAME\","
        "\"type\":\"text\"}]},\"data\":[[\"1\",\"a\"]]}",
        "{\"code\":\"391908\",\"resultSetMetaData\":{\"rowType\":[]},\"data\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        papi__sf_result r;
        papi_error err = {0};
        assert_int_equal(papi__sf_parse_result(bad[i], strlen(bad[i]), &expect2, &lim, &r, &err),
                         PAPI_EPROTO);
    }
    /* rows that are not arrays of strings */
    static const char ok_meta[] =
        "{\"resultSetMetaData\":{\"numRows\":1,\"rowType\":[{\"name\":\"C_CUSTOMER_SK\",\"type\":"
        "\"fixed\"},{\"name\":\"C_FIRST_NAME\",\"type\":\"text\"}]},\"data\":[[1885,\"a\"]]}";
    papi__sf_result r;
    papi_error err = {0};
    assert_int_equal(papi__sf_parse_result(ok_meta, strlen(ok_meta), &expect2, &lim, &r, &err),
                     PAPI_OK);
    rows got = {0};
    assert_int_equal(papi__sf_emit_rows(&r, r.data, r.data_len, -1, INT64_MAX, collect, &got, &err),
                     PAPI_EPROTO);
    assert_non_null(strstr(err.message, "non-string"));
    static const char *const bad_rows[] = {
        "[[\"1\"]]",
        "[[\"1\",\"a\",\"b\"]]",
        "[[\"1\",\"a\"],]",
        "[[\"1\",\"a\"]] x",
        "{}",
        "[[\"1\",true]]",
        "[[\"1\",\"a\x01\"]]",
        "[[\"1\",\"\\ud800\"]]",
        "[[\"1\",\"\\udc00\"]]",
        "[[\"1\",\"\\ud800\\u0041\"]]",
        "[[\"1\",\"\\u0000\"]]",
        "[[\"1\",\"\xff\"]]",
        "[[\"1\",\"\xc0\xaf\"]]",
        "[[\"1\",\"a\nb\"]]",
        "[[\"1\",\"\\x\"]]",
        "[[\"1\",\"a",
        "[[\"1\",nul]]",
        "",
    };
    for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
        got.n = 0;
        papi_status st = papi__sf_emit_rows(&r, bad_rows[i], strlen(bad_rows[i]), -1, INT64_MAX,
                                            collect, &got, &err);
        if (st != PAPI_EPROTO)
            fail_msg("rows %zu (%s) gave %d", i, bad_rows[i], st);
    }
    /* escapes, surrogate pairs and raw UTF-8 decode like jansson does */
    static const char good_rows[] = " [ [ \"1\" , \"\\\"q\\\\\\/\\b\\f\\n\\r\\t\" ] "
                                    ",[\"2\",\"\\u00e9\\ud83d\\ude00\xc3\xa9\"],[null,null]] ";
    got = (rows){0};
    assert_int_equal(
        papi__sf_emit_rows(&r, good_rows, strlen(good_rows), 3, INT64_MAX, collect, &got, &err),
        PAPI_OK);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.text,
                        "1|\"q\\/\b\f\n\r\t|2|\xc3\xa9\xf0\x9f\x98\x80\xc3\xa9|NULL|NULL|");
    papi__sf_result_free(&r);
    /* no rows: partitionInfo empty, data may be absent */
    static const char empty[] =
        "{\"resultSetMetaData\":{\"numRows\":0,\"partitionInfo\":[],\"rowType\":[{\"name\":"
        "\"C_CUSTOMER_SK\",\"type\":\"fixed\"},{\"name\":\"C_FIRST_NAME\",\"type\":\"text\"}]}}";
    assert_int_equal(papi__sf_parse_result(empty, strlen(empty), &expect2, &lim, &r, &err),
                     PAPI_OK);
    assert_int_equal(r.data_len, 2);
    assert_memory_equal(r.data, "[]", 2);
    papi__sf_result_free(&r);
}

static void test_partitions_status_errors(void **state)
{
    (void)state;
    const char *rows = NULL;
    size_t rows_len = 0;
    const char *p = "{\"data\":[[\"1\",\"a\"]]}";
    assert_int_equal(papi__sf_parse_partition(p, strlen(p), &rows, &rows_len, NULL), PAPI_OK);
    assert_true(rows == p + 8 && rows_len == 11);
    p = " [[\"1\",\"a\"],[\"2\",null]] ";
    assert_int_equal(papi__sf_parse_partition(p, strlen(p), &rows, &rows_len, NULL), PAPI_OK);
    assert_true(rows == p + 1 && rows_len == 22);
    static const char *const bad_parts[] = {
        "{\"rows\":[]}",
        "[[\"1\"]] [",
        "{\"data\":[],\"data\":[]}",
        "{\"data\":{}}",
        "{\"data\":[]",
        "[",
        "",
        "{\"a\":[1,2,{\"b\":tru}],\"data\":[]}",
    };
    for (size_t i = 0; i < sizeof bad_parts / sizeof bad_parts[0]; i++)
        if (papi__sf_parse_partition(bad_parts[i], strlen(bad_parts[i]), &rows, &rows_len, NULL) !=
            PAPI_EPROTO)
            fail_msg("partition %zu (%s) accepted", i, bad_parts[i]);

    char h[64], u[128];
    const char *s = "{\"code\":\"333334\",\"statementHandle\":\"01b9-aa\","
                    "\"statementStatusUrl\":\"/api/v2/statements/01b9-aa?requestId=1\"}";
    assert_int_equal(papi__sf_parse_status(s, strlen(s), h, sizeof h, u, sizeof u, NULL), PAPI_OK);
    assert_string_equal(h, "01b9-aa");
    assert_string_equal(u, "/api/v2/statements/01b9-aa?requestId=1");
    s = "{\"statementHandle\":\"01b9-aa\",\"statementStatusUrl\":\"http://evil/x\"}";
    assert_int_equal(papi__sf_parse_status(s, strlen(s), h, sizeof h, u, sizeof u, NULL), PAPI_OK);
    assert_string_equal(u, "/api/v2/statements/01b9-aa"); /* never leave the configured host */
    s = "{\"statementHandle\":\"../../x\"}";
    assert_int_equal(papi__sf_parse_status(s, strlen(s), h, sizeof h, u, sizeof u, NULL),
                     PAPI_EPROTO);

    papi__sf_error e;
    s = "{\"code\":\"002003\",\"sqlState\":\"42S02\",\"message\":\"SQL compilation error:\\nObject "
        "'X' does not exist\\u001b[31m\",\"statementHandle\":\"01b9c6e2-0002-8a1f-0000-4a2d\"}";
    papi__sf_parse_error(s, strlen(s), &e);
    assert_string_equal(e.code, "002003");
    assert_string_equal(e.sql_state, "42S02");
    /* one line, control bytes escaped (a terminal escape must not reach a log raw) */
    assert_string_equal(e.message, "SQL compilation error:\\nObject 'X' does not exist\\x1b[31m");
    assert_string_equal(e.handle, "01b9c6e2-0002-8a1f-0000-4a2d");
    s = "{\"code\":\"000630\",\"statementHandle\":\"../x\"}"; /* a handle is checked */
    papi__sf_parse_error(s, strlen(s), &e);
    assert_string_equal(e.handle, "");
    papi__sf_parse_error("<html>bad gateway</html>", 24, &e);
    assert_string_equal(e.code, "");
    papi__sf_parse_error("", 0, &e);
    assert_string_equal(e.message, "");
    papi__sf_parse_error("{\"code\":390505}", 15, &e);
    assert_string_equal(e.code, "390505");
}

/* A9: partition row counts near INT64_MAX must not overflow their sum (UBSan would catch it). */
static void test_partition_limits(void **state)
{
    (void)state;
    static const char meta_fmt[] =
        "{\"resultSetMetaData\":{%s\"partitionInfo\":[%s],\"rowType\":[{\"name\":"
        "\"C_CUSTOMER_SK\",\"type\":\"fixed\"},{\"name\":\"C_FIRST_NAME\",\"type\":\"text\"}]},"
        "\"statementHandle\":\"h-1\",\"data\":[[\"1\",\"a\"]]}";
    char body[1024];
    papi__sf_result r;
    papi_error err = {0};
    snprintf(body, sizeof body, meta_fmt, "",
             "{\"rowCount\":9223372036854775807},{\"rowCount\":1}");
    assert_int_equal(papi__sf_parse_result(body, strlen(body), &expect2, &lim, &r, &err),
                     PAPI_EPROTO);
    assert_non_null(strstr(err.message, "overflow"));
    assert_string_equal(r.handle, "h-1"); /* kept for the error's query id */
    snprintf(body, sizeof body, meta_fmt, "\"numRows\":2,",
             "{\"rowCount\":9223372036854775807},{\"rowCount\":9223372036854775807},"
             "{\"rowCount\":4}");
    assert_int_equal(papi__sf_parse_result(body, strlen(body), &expect2, &lim, &r, &err),
                     PAPI_EPROTO);
    /* partitionInfo entries are capped: a lookup of 2 ids needs 2 partitions at most */
    papi__sf_limits two = lim;
    two.max_partitions = 2;
    snprintf(body, sizeof body, meta_fmt, "", "{\"rowCount\":1},{\"rowCount\":1},{\"rowCount\":1}");
    assert_int_equal(papi__sf_parse_result(body, strlen(body), &expect2, &two, &r, &err),
                     PAPI_EPROTO);
    assert_non_null(strstr(err.message, "3 partitions"));
    snprintf(body, sizeof body, meta_fmt, "", "{\"rowCount\":1},{\"rowCount\":1}");
    assert_int_equal(papi__sf_parse_result(body, strlen(body), &expect2, &two, &r, &err), PAPI_OK);
    assert_int_equal(r.npartitions, 2);
    papi__sf_result_free(&r);
}

/* A8: a late answer is a timeout, not a success past the deadline. */
static void test_deadline_after_parsing(void **state)
{
    (void)state;
    papi__sf_limits late = lim;
    late.deadline_ms = papi_now_ms() - 1;
    papi__sf_result r;
    papi_error err = {0};
    assert_int_equal(
        papi__sf_parse_result(result_body, strlen(result_body), &expect2, &late, &r, &err),
        PAPI_ETIMEDOUT);
    assert_string_equal(r.handle, "01b9c6e2-0002-8a1f");
    assert_int_equal(
        papi__sf_parse_result(result_body, strlen(result_body), &expect2, &lim, &r, &err), PAPI_OK);
    rows got = {0};
    assert_int_equal(
        papi__sf_emit_rows(&r, r.data, r.data_len, 2, papi_now_ms() - 1, collect, &got, &err),
        PAPI_ETIMEDOUT);
    /* many rows: the clock is looked at while reading, not only at the end */
    papi_buf many;
    papi_buf_init(&many);
    papi_buf_putc(&many, '[');
    for (int i = 0; i < 2000; i++)
        papi_buf_printf(&many, "%s[\"%d\",\"x\"]", i ? "," : "", i);
    papi_buf_putc(&many, ']');
    got = (rows){0};
    assert_int_equal(
        papi__sf_emit_rows(&r, many.data, many.len, -1, papi_now_ms() - 1, collect, &got, &err),
        PAPI_ETIMEDOUT);
    assert_true(got.n < 2000);
    papi_buf_free(&many);
    papi__sf_result_free(&r);
}

/* A8: a lookup's answers are capped by what its rows can need. */
static void test_lookup_limits(void **state)
{
    (void)state;
    papi__sf_limits l;
    papi__sf_lookup_limits(&expect2, 1, 8192, 42, &l);
    /* one NUMBER (64) and one TEXT (8192) cell, commas and brackets, twice, plus the floor */
    assert_int_equal(l.max_body_bytes, PAPI__SF_BODY_FLOOR_BYTES + 2 * (2 + 65 + 8193));
    assert_int_equal(l.max_partitions, 1);
    assert_int_equal(l.deadline_ms, 42);
    papi__sf_lookup_limits(&expect2, 100, 8192, 42, &l);
    assert_int_equal(l.max_body_bytes, PAPI__SF_BODY_FLOOR_BYTES + 200 * (2 + 65 + 8193));
    assert_int_equal(l.max_partitions, 100);
    assert_true(l.max_body_bytes < (size_t)4 << 20); /* far under the old 64 MiB for everyone */
    papi__sf_lookup_limits(&expect2, 100000, 1 << 24, 42, &l);
    assert_int_equal(l.max_body_bytes, PAPI__SF_MAX_BODY_BYTES); /* never past the ceiling */
    papi__sf_lookup_limits(&expect2, 0, 8192, 42, &l);
    assert_int_equal(l.max_body_bytes, PAPI__SF_BODY_FLOOR_BYTES);
    assert_int_equal(l.max_partitions, 1);
}

static void expect_name(const char *value, const char *want)
{
    char *out = NULL;
    papi_error err = {0};
    papi_status st = papi__sf_context_name("snowflake-warehouse", value, &out, &err);
    if (want) {
        assert_int_equal(st, PAPI_OK);
        assert_string_equal(out, want);
    } else {
        assert_int_equal(st, PAPI_ECONFIG);
        assert_null(out);
        assert_non_null(strstr(err.message, "snowflake-warehouse"));
        if (strlen(value) > 3) /* the message names the option, never the value */
            assert_null(strstr(err.message, value));
    }
    free(out);
}

/* B1: the SQL API wants context names in the case SHOW reports. */
static void test_context_names(void **state)
{
    (void)state;
    char *out = (char *)1;
    assert_int_equal(papi__sf_context_name("snowflake-role", NULL, &out, NULL), PAPI_OK);
    assert_null(out);
    assert_int_equal(papi__sf_context_name("snowflake-role", "", &out, NULL), PAPI_OK);
    assert_null(out);
    expect_name("tutorial_warehouse", "TUTORIAL_WAREHOUSE");
    expect_name("Data_API_wh$1", "DATA_API_WH$1");
    expect_name("_x", "_X");
    expect_name("\"tutorial_warehouse\"", "tutorial_warehouse");
    expect_name("\"My Warehouse\"", "My Warehouse");
    expect_name("\"a\"\"b\"", "a\"b");
    expect_name("\"\"\"\"", "\"");
    expect_name("\"Ünïcode.wh\"", "Ünïcode.wh");
    expect_name("my warehouse", NULL);
    expect_name("1warehouse", NULL);
    expect_name("db.schema", NULL);
    expect_name("wh-1", NULL);
    expect_name("\"unclosed", NULL);
    expect_name("\"", NULL);
    expect_name("\"\"", NULL);
    expect_name("\"a\"b\"", NULL);
    expect_name("\"a\" ", NULL);
    expect_name("\"tab\there\"", NULL);
    expect_name("WH\r\nX-Injected: 1", NULL);
}

static void expect_cell(papi__sf_type t, int scale, papi_column_type target, const char *in,
                        const char *want)
{
    papi__sf_column col = {t, scale, target};
    papi_buf b;
    papi_buf_init(&b);
    papi_error err = {0};
    papi_status st = papi__sf_decode_cell(&col, in, strlen(in), &b, &err);
    if (want) {
        assert_int_equal(st, PAPI_OK);
        assert_string_equal(papi_buf_cstr(&b), want);
    } else {
        assert_int_equal(st, PAPI_EPROTO);
    }
    papi_buf_free(&b);
}

static void test_cells(void **state)
{
    (void)state;
    expect_cell(PAPI__SF_DATE, 0, PAPI_COL_DATE, "18262", "2020-01-01");
    expect_cell(PAPI__SF_DATE, 0, PAPI_COL_DATE, "17982", "2019-03-27");
    expect_cell(PAPI__SF_DATE, 0, PAPI_COL_DATE, "0", "1970-01-01");
    expect_cell(PAPI__SF_DATE, 0, PAPI_COL_DATE, "-1", "1969-12-31");
    expect_cell(PAPI__SF_DATE, 0, PAPI_COL_DATE, "11016", "2000-02-29");
    expect_cell(PAPI__SF_DATE, 0, PAPI_COL_DATE, "2932896", "9999-12-31");
    expect_cell(PAPI__SF_DATE, 0, PAPI_COL_DATE, "x1", NULL);
    expect_cell(PAPI__SF_TIME, 0, PAPI_COL_TIME, "82919.000000000", "23:01:59");
    expect_cell(PAPI__SF_TIME, 3, PAPI_COL_TIME, "82919.123456789", "23:01:59.123");
    expect_cell(PAPI__SF_TIME, 9, PAPI_COL_TIME, "0.5", "00:00:00.500000000");
    expect_cell(PAPI__SF_TIME, 9, PAPI_COL_TIME, "86400.0", NULL);
    expect_cell(PAPI__SF_TIMESTAMP_NTZ, 9, PAPI_COL_TIMESTAMP, "1611871777.123456789",
                "2021-01-28T22:09:37.123456789");
    expect_cell(PAPI__SF_TIMESTAMP_NTZ, -1, PAPI_COL_TIMESTAMP, "1611871777123456789",
                "2021-01-28T22:09:37.123456789"); /* older nanosecond form */
    expect_cell(PAPI__SF_TIMESTAMP_NTZ, 0, PAPI_COL_TIMESTAMP, "-1.500000000",
                "1969-12-31T23:59:58");
    expect_cell(PAPI__SF_TIMESTAMP_NTZ, 3, PAPI_COL_TIMESTAMP, "-1.500000000",
                "1969-12-31T23:59:58.500");
    expect_cell(PAPI__SF_TIMESTAMP_LTZ, 0, PAPI_COL_TIMESTAMP, "0.000000000",
                "1970-01-01T00:00:00Z");
    expect_cell(PAPI__SF_TIMESTAMP_TZ, 0, PAPI_COL_TIMESTAMP, "1616173619.000000000 1500",
                "2021-03-19T18:06:59+01:00");
    expect_cell(PAPI__SF_TIMESTAMP_TZ, 0, PAPI_COL_TIMESTAMP, "1616173619.000000000 1080",
                "2021-03-19T11:06:59-06:00");
    expect_cell(PAPI__SF_TIMESTAMP_TZ, 0, PAPI_COL_TIMESTAMP, "1616173619.000000000", NULL);
    expect_cell(PAPI__SF_TIMESTAMP_TZ, 0, PAPI_COL_TIMESTAMP, "1616173619.0 99999", NULL);
    expect_cell(PAPI__SF_BINARY, 0, PAPI_COL_BINARY, "DEADbeef", "DEADbeef");
    expect_cell(PAPI__SF_BINARY, 0, PAPI_COL_BINARY, "DEADBEEG", NULL);
    expect_cell(PAPI__SF_VARIANT, 0, PAPI_COL_VARIANT, "{\n  \"k\": [\n    1,\n    2\n  ]\n}",
                "{\"k\":[1,2]}");
    expect_cell(PAPI__SF_VARIANT, 0, PAPI_COL_VARIANT, "\"s\"", "\"s\"");
    expect_cell(PAPI__SF_VARIANT, 0, PAPI_COL_VARIANT, "123456789012345678901234567890",
                "123456789012345678901234567890");
    expect_cell(PAPI__SF_FIXED, 0, PAPI_COL_NUMBER, "-3", "-3");
    expect_cell(PAPI__SF_FIXED, 2, PAPI_COL_DECIMAL, "12.50", "12.50");
    expect_cell(PAPI__SF_TEXT, -1, PAPI_COL_TEXT, "Peña", "Peña");
    expect_cell(PAPI__SF_BOOLEAN, -1, PAPI_COL_BOOLEAN, "true", "true");
    assert_true(papi__sf_handle_ok("01b9c6e2-0002-8a1f-0000-4a2d0013f00e"));
    assert_false(papi__sf_handle_ok("a/b"));
    assert_false(papi__sf_handle_ok(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statement_body),
        cmocka_unit_test(test_parse_result),
        cmocka_unit_test(test_column_mismatch),
        cmocka_unit_test(test_truncated_and_malformed),
        cmocka_unit_test(test_partitions_status_errors),
        cmocka_unit_test(test_partition_limits),
        cmocka_unit_test(test_deadline_after_parsing),
        cmocka_unit_test(test_lookup_limits),
        cmocka_unit_test(test_context_names),
        cmocka_unit_test(test_cells),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
