/* Proves issue 2 item 3: the built-in customer dataset, loading more from a JSON file, every
 * validation error (named by position and field), identifier checks that stop injection, the
 * select SQL and the shape hash; and issue 13 A13: a file that is not JSON is named by path and
 * position, never quoted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static const char *const customer_cols[] = {
    "C_CUSTOMER_SK",     "C_CUSTOMER_ID",          "C_CURRENT_CDEMO_SK",    "C_CURRENT_HDEMO_SK",
    "C_CURRENT_ADDR_SK", "C_FIRST_SHIPTO_DATE_SK", "C_FIRST_SALES_DATE_SK", "C_SALUTATION",
    "C_FIRST_NAME",      "C_LAST_NAME",            "C_PREFERRED_CUST_FLAG", "C_BIRTH_DAY",
    "C_BIRTH_MONTH",     "C_BIRTH_YEAR",           "C_BIRTH_COUNTRY",       "C_LOGIN",
    "C_EMAIL_ADDRESS",   "C_LAST_REVIEW_DATE",
};
static const int customer_is_number[] = {1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0};

static void test_builtin_customer(void **state)
{
    (void)state;
    papi__datasets *set = NULL;
    papi_error err;
    assert_int_equal(papi__datasets_load(NULL, &set, &err), PAPI_OK);
    assert_int_equal(papi__datasets_count(set), 1);
    const papi_dataset *ds = papi__datasets_find(set, "customer");
    assert_ptr_equal(ds, papi__datasets_at(set, 0));
    assert_string_equal(papi_dataset_name(ds), "customer");
    assert_string_equal(papi_dataset_table(ds), "API.DATA.HYBRID_CUSTOMER");
    assert_string_equal(papi_dataset_key_column(ds), "C_CUSTOMER_SK");
    assert_int_equal(papi_dataset_key_index(ds), 0);
    assert_int_equal(papi_dataset_key_type(ds), PAPI_KEY_NUMBER);
    assert_int_equal(papi_dataset_column_count(ds), 18);
    for (size_t i = 0; i < 18; i++) {
        assert_string_equal(papi_dataset_column_name(ds, i), customer_cols[i]);
        assert_int_equal(papi_dataset_column_type(ds, i),
                         customer_is_number[i] ? PAPI_COL_NUMBER : PAPI_COL_TEXT);
    }
    assert_null(papi_dataset_column_name(ds, 18));
    assert_int_equal(papi_dataset_column_type(ds, 18), PAPI_COL_TEXT);
    assert_null(papi__datasets_at(set, 1));
    assert_null(papi__datasets_find(set, "product"));
    assert_null(papi__datasets_find(set, "Customer"));

    const char *h = papi__dataset_shape_hash(ds);
    assert_int_equal(strlen(h), 16);
    assert_int_equal(strspn(h, "0123456789abcdef"), 16);
    papi__datasets_free(set);

    assert_int_equal(papi__datasets_load("", &set, &err), PAPI_OK); /* "" = none, as NULL */
    assert_int_equal(papi__datasets_count(set), 1);
    papi__datasets_free(set);
}

static void test_select_sql(void **state)
{
    (void)state;
    papi__datasets *set = NULL;
    assert_int_equal(papi__datasets_load(NULL, &set, NULL), PAPI_OK);
    const papi_dataset *ds = papi__datasets_at(set, 0);
    char sql[1024];
    size_t n = papi_dataset_select_sql(ds, NULL, 3, sql, sizeof sql);
    const char *want =
        "SELECT C_CUSTOMER_SK, C_CUSTOMER_ID, C_CURRENT_CDEMO_SK, C_CURRENT_HDEMO_SK, "
        "C_CURRENT_ADDR_SK, C_FIRST_SHIPTO_DATE_SK, C_FIRST_SALES_DATE_SK, C_SALUTATION, "
        "C_FIRST_NAME, C_LAST_NAME, C_PREFERRED_CUST_FLAG, C_BIRTH_DAY, C_BIRTH_MONTH, "
        "C_BIRTH_YEAR, C_BIRTH_COUNTRY, C_LOGIN, C_EMAIL_ADDRESS, C_LAST_REVIEW_DATE "
        "FROM API.DATA.HYBRID_CUSTOMER WHERE C_CUSTOMER_SK IN (?, ?, ?)";
    assert_string_equal(sql, want);
    assert_int_equal(n, strlen(want));

    n = papi_dataset_select_sql(ds, "hybrid_customer", 1, sql, sizeof sql);
    assert_non_null(strstr(sql, " FROM hybrid_customer WHERE C_CUSTOMER_SK IN (?)"));
    assert_int_equal(n, strlen(sql));

    /* too small: snprintf-like, cut and terminated, the full length returned */
    char small[16];
    memset(small, 'x', sizeof small);
    size_t need = papi_dataset_select_sql(ds, NULL, 3, small, sizeof small);
    assert_int_equal(need, strlen(want));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, want, sizeof small - 1);
    assert_int_equal(papi_dataset_select_sql(ds, NULL, 3, NULL, 0), strlen(want));

    /* a table override is checked too; no placeholders is not SQL */
    assert_int_equal(papi_dataset_select_sql(ds, "t; DROP TABLE x", 1, sql, sizeof sql), 0);
    assert_string_equal(sql, "");
    assert_int_equal(papi_dataset_select_sql(ds, NULL, 0, sql, sizeof sql), 0);
    assert_int_equal(papi_dataset_select_sql(NULL, NULL, 1, sql, sizeof sql), 0);
    papi__datasets_free(set);
}

static void test_good_file(void **state)
{
    (void)state;
    papi__datasets *set = NULL;
    papi_error err;
    memset(&err, 0, sizeof err);
    papi_status st = papi__datasets_load(PAPI_TEST_DATA "/datasets.json", &set, &err);
    if (st != PAPI_OK)
        fail_msg("%s", err.message);
    assert_int_equal(papi__datasets_count(set), 3);
    assert_ptr_equal(papi__datasets_find(set, "customer"), papi__datasets_at(set, 0));

    const papi_dataset *p = papi__datasets_find(set, "product");
    assert_non_null(p);
    assert_string_equal(papi_dataset_table(p), "API.DATA.PRODUCTS");
    assert_int_equal(papi_dataset_column_count(p), 8);
    assert_int_equal(papi_dataset_key_type(p), PAPI_KEY_NUMBER);
    static const papi_column_type types[] = {PAPI_COL_NUMBER,  PAPI_COL_TEXT,    PAPI_COL_DECIMAL,
                                             PAPI_COL_REAL,    PAPI_COL_BOOLEAN, PAPI_COL_DATE,
                                             PAPI_COL_TIMESTAMP, PAPI_COL_VARIANT};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(papi_dataset_column_type(p, i), types[i]);
    char sql[512];
    papi_dataset_select_sql(p, NULL, 2, sql, sizeof sql);
    assert_string_equal(sql, "SELECT P_ID, P_NAME, P_PRICE, P_WEIGHT_KG, P_ACTIVE, P_LAUNCHED, "
                             "P_UPDATED_AT, P_ATTRS FROM API.DATA.PRODUCTS WHERE P_ID IN (?, ?)");

    /* key named in another case, key_type derived from the key column: text */
    const papi_dataset *s = papi__datasets_find(set, "store-location");
    assert_non_null(s);
    assert_string_equal(papi_dataset_key_column(s), "STORE_CODE");
    assert_int_equal(papi_dataset_key_index(s), 0);
    assert_int_equal(papi_dataset_key_type(s), PAPI_KEY_TEXT);
    assert_int_equal(papi_dataset_column_type(s, 2), PAPI_COL_TIME);
    assert_int_equal(papi_dataset_column_type(s, 3), PAPI_COL_BINARY);

    /* every dataset its own cache namespace */
    assert_string_not_equal(papi__dataset_shape_hash(p), papi__dataset_shape_hash(s));
    papi__datasets_free(set);
}

/* Parses text expecting ECONFIG and a message containing both fragments. */
static void bad(const char *json, const char *frag1, const char *frag2)
{
    papi__datasets *set = (papi__datasets *)1;
    papi_error err;
    memset(&err, 0, sizeof err);
    papi_status st = papi__datasets_parse(json, strlen(json), &set, &err);
    if (st != PAPI_ECONFIG)
        fail_msg("%s: got %s (%s)", json, papi_status_name(st), err.message);
    assert_null(set);
    if (frag1 && !strstr(err.message, frag1))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, frag1);
    if (frag2 && !strstr(err.message, frag2))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, frag2);
    for (const char *p = err.message; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

#define COLS "\"columns\":[{\"name\":\"ID\",\"type\":\"number\"}]"
#define DS(fields) "{\"datasets\":[{" fields "}]}"

static void test_file_errors(void **state)
{
    (void)state;
    bad("", "line 1", NULL);
    bad("{\"datasets\":[", "line 1", NULL);
    bad("[]", "top level must be an object", NULL);
    bad("{}", "\"datasets\" is missing", NULL);
    bad("{\"datasets\":{}}", "not an array", NULL);
    bad("{\"datasets\":[],\"extra\":1}", "unknown top-level field \"extra\"", NULL);
    bad("{\"datasets\":[],\"datasets\":[]}", "duplicate", NULL);
    bad("{\"datasets\":[1]}", "dataset 1 is not an object", NULL);
    bad(DS("\"table\":\"T\",\"key\":\"ID\"," COLS), "dataset 1: \"name\" is missing", NULL);
    bad(DS("\"name\":7,\"table\":\"T\",\"key\":\"ID\"," COLS), "\"name\" is missing or not", NULL);
    bad(DS("\"name\":\"Product\",\"table\":\"T\",\"key\":\"ID\"," COLS), "dataset 1: name must",
        NULL);
    bad(DS("\"name\":\"1abc\",\"table\":\"T\",\"key\":\"ID\"," COLS), "name must", NULL);
    bad(DS("\"name\":\"a/b\",\"table\":\"T\",\"key\":\"ID\"," COLS), "name must", NULL);
    bad(DS("\"name\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"table\":\"T\",\"key\":\"ID\"," COLS),
        "name must", NULL);
    bad(DS("\"name\":\"healthz\",\"table\":\"T\",\"key\":\"ID\"," COLS), "(healthz)", "reserved");
    bad(DS("\"name\":\"test\",\"table\":\"T\",\"key\":\"ID\"," COLS), "reserved", NULL);
    bad(DS("\"name\":\"metrics\",\"table\":\"T\",\"key\":\"ID\"," COLS), "reserved", NULL);
    bad(DS("\"name\":\"readyz\",\"table\":\"T\",\"key\":\"ID\"," COLS), "reserved", NULL);
    bad(DS("\"name\":\"customer\",\"table\":\"T\",\"key\":\"ID\"," COLS), "(customer)",
        "built-in dataset cannot be redefined");
    bad("{\"datasets\":[{\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\"," COLS
        "},{\"name\":\"p\",\"table\":\"U\",\"key\":\"ID\"," COLS "}]}",
        "dataset 2 (p): defined twice", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"colums\":[]"), "unknown field \"colums\"",
        NULL);
    bad(DS("\"name\":\"p\",\"key\":\"ID\"," COLS), "dataset 1 (p): \"table\" must be", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"\",\"key\":\"ID\"," COLS), "\"table\" must be", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\"," COLS), "\"key\" must be", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\""), "\"columns\" must be an array", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[]"), "1 to 1024", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[\"ID\"]"),
        "column 1 is not an object", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"type\":\"number\"}]"),
        "column 1: \"name\" is missing", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\"}]"),
        "column 1 (ID): \"type\" must be one of", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\","
           "\"type\":\"NUMBER\"}]"),
        "\"type\" must be one of", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\","
           "\"type\":\"number\",\"null\":true}]"),
        "column 1: unknown field \"null\"", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\","
           "\"type\":\"number\"},{\"name\":\"id\",\"type\":\"text\"}]"),
        "column 2 (id) repeats column 1", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"K\"," COLS), "key column K is not among",
        NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\","
           "\"type\":\"date\"}]"),
        "key column ID must be of type number or text", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"key_type\":\"text\"," COLS),
        "\"key_type\" is text but key column ID is of type number", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"key_type\":\"int\"," COLS),
        "\"key_type\" must be", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"key_type\":1," COLS),
        "\"key_type\" must be", NULL);
    /* the message names the dataset by position when its name is bad, never echoing it */
    bad(DS("\"name\":\"p\\u001b[2J\",\"table\":\"T\",\"key\":\"ID\"," COLS), "dataset 1: name",
        NULL);
    bad(DS("\"name\":\"p\\u0000\",\"table\":\"T\",\"key\":\"ID\"," COLS), "line 1", NULL);
    bad("{\"datasets\":[\x01\x1b]}", "line 1", NULL); /* the helper checks no raw bytes shown */
    bad("{\"datasets\":[\"\xff\xfe\"]}", "line 1", NULL);
}

static void test_limits(void **state)
{
    (void)state;
    bad("{\"datasets\":[[[[[[[[[[]]]]]]]]]]}", "nested deeper than 8", NULL);
    /* brackets inside strings do not count */
    papi__datasets *set = NULL;
    const char *ok = DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":"
                        "\"ID\",\"type\":\"number\"}]") "  ";
    assert_int_equal(papi__datasets_parse(ok, strlen(ok), &set, NULL), PAPI_OK);
    papi__datasets_free(set);
    bad("{\"datasets\":[],\"x\":\"[[[[[[[[[[[[[[[[\"}", "unknown top-level field", NULL);

    papi_buf b;
    papi_buf_init(&b);
    papi_buf_puts(&b, "{\"datasets\":[");
    for (int i = 0; i < 65; i++)
        papi_buf_printf(&b, "%s{\"name\":\"d%d\",\"table\":\"T\",\"key\":\"ID\"," COLS "}",
                         i ? "," : "", i);
    papi_buf_puts(&b, "]}");
    bad(b.data, "more than 64 datasets", NULL);

    papi_buf_reset(&b);
    papi_buf_puts(&b, "{\"datasets\":[]}");
    while (b.len <= 1024 * 1024)
        papi_buf_append(&b, "                ", 16);
    bad(b.data, "larger than", NULL);
    papi_buf_free(&b);
}

static void test_identifiers(void **state)
{
    (void)state;
    static const char *const good[] = {"T", "_t", "t1", "a$b", "API.DATA.HYBRID_CUSTOMER",
                                       "db.t", "hybrid_customer"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(papi__sql_identifier_ok(good[i], true));
    assert_true(papi__sql_identifier_ok("C_CUSTOMER_SK", false));
    static const char *const evil[] = {"",
                                       "x; DROP TABLE y",
                                       "a.b.c.d",
                                       "\"quoted\"",
                                       "it's",
                                       "a b",
                                       "1abc",
                                       "$a",
                                       "a.",
                                       ".a",
                                       "a..b",
                                       "a-b",
                                       "t--",
                                       "t/*x*/",
                                       "Zoë",
                                       "t\n",
                                       "`t`",
                                       "[t]"};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        if (papi__sql_identifier_ok(evil[i], true))
            fail_msg("accepted \"%s\"", evil[i]);
    }
    assert_false(papi__sql_identifier_ok("a.b", false));
    assert_false(papi__sql_identifier_ok(NULL, true));
    char longest[300];
    memset(longest, 'a', sizeof longest);
    longest[255] = '\0';
    assert_true(papi__sql_identifier_ok(longest, true));
    longest[255] = 'a';
    longest[256] = '\0';
    assert_false(papi__sql_identifier_ok(longest, true));

    /* injection attempts in a file are refused where they stand */
    bad(DS("\"name\":\"p\",\"table\":\"x; DROP TABLE y\",\"key\":\"ID\"," COLS), "\"table\"", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"a.b.c.d\",\"key\":\"ID\"," COLS), "\"table\"", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID) OR (1=1\"," COLS), "\"key\"", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\",\"type\":"
           "\"number\"},{\"name\":\"(SELECT 1)\",\"type\":\"text\"}]"),
        "column 2: name is not an SQL identifier", NULL);
    bad(DS("\"name\":\"p\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\",\"type\":"
           "\"number\"},{\"name\":\"\\\"X\\\"\",\"type\":\"text\"}]"),
        "not an SQL identifier", NULL);
}

static void test_file_errors_on_disk(void **state)
{
    (void)state;
    papi__datasets *set = NULL;
    papi_error err;
    assert_int_equal(papi__datasets_load(PAPI_TEST_DATA "/no-such-file.json", &set, &err),
                     PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "No such file"));
    assert_null(set);
    assert_int_equal(papi__datasets_load(PAPI_TEST_DATA "/datasets-bad-key.json", &set, &err),
                     PAPI_ECONFIG);
    assert_string_equal(err.message,
                        "datasets file " PAPI_TEST_DATA "/datasets-bad-key.json: dataset 1 "
                        "(product): key column P_SKU is not among the columns");
    assert_int_equal(
        papi__datasets_load(PAPI_TEST_DATA "/datasets-bad-injection.json", &set, &err),
        PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "dataset 1 (product): \"table\" must be"));
    assert_int_equal(papi__datasets_load(PAPI_TEST_DATA "/datasets-bad-syntax.json", &set, &err),
                     PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "line 3"));
    assert_null(set);
}

/* Fails when any n-byte window of the input shows up in the message. */
static void assert_quotes_nothing(const char *msg, const char *input, size_t n)
{
    size_t len = strlen(input);
    for (size_t i = 0; i + n <= len; i++) {
        char window[16];
        memcpy(window, input + i, n);
        window[n] = '\0';
        if (strstr(msg, window))
            fail_msg("message \"%s\" quotes \"%s\" from the file", msg, window);
    }
}

/* A key, a token or any file given by mistake: the message says where and why, never what. */
static const char pem_key[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
                              "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
                              "-----END PRIVATE KEY-----\n";

static void test_json_errors_quote_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *text, *message;
    } cases[] = {
        {pem_key, "datasets file: invalid JSON at line 1, column 1"},
        {"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw\n",
         "datasets file: invalid JSON at line 1, column 20"},
        {"ver:1-hint:1234-ETMsDgAAAYxSECRETTOKEN",
         "datasets file: invalid JSON at line 1, column 3"},
        {"{\"k\": \"MIIEvQIBADANBgkqhkiG9w0",
         "datasets file: unexpected end of JSON at line 1, column 30"},
        {"{\"k\": [], \"k\": []}",
         "datasets file: a duplicate key in an object at line 1, column 13"},
        {"{\"k\": []} SECRETTAIL", "datasets file: text after the JSON value at line 1, column 20"},
        {"{\"k\": [\"SEC\xffRET\"]}", "datasets file: invalid UTF-8 at line 1, column 11"},
        {"{\"k\": [1e99999]}", "datasets file: a number out of range at line 1, column 14"},
        {"{\"k\": [\"SECRET\\u0000\"]}",
         "datasets file: a NUL character in a string at line 1, column 21"},
        {"", "datasets file: unexpected end of JSON at line 1, column 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        papi__datasets *set = NULL;
        papi_error err;
        memset(&err, 0, sizeof err);
        assert_int_equal(papi__datasets_parse(cases[i].text, strlen(cases[i].text), &set, &err),
                         PAPI_ECONFIG);
        assert_null(set);
        assert_string_equal(err.message, cases[i].message);
        assert_quotes_nothing(err.message, cases[i].text, 4);
    }

    /* from a file: the path is named, the content is not */
    char dir[] = "/tmp/papi-parse-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], want[160];
    snprintf(path, sizeof path, "%s/rsa_key.p8", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(pem_key, f);
    fclose(f);
    papi__datasets *set = NULL;
    papi_error err;
    assert_int_equal(papi__datasets_load(path, &set, &err), PAPI_ECONFIG);
    assert_null(set);
    snprintf(want, sizeof want, "datasets file %s: invalid JSON at line 1, column 1", path);
    assert_string_equal(err.message, want);
    assert_null(strstr(err.message, "BEGIN"));
    unlink(path);
    rmdir(dir);
}

static void test_shape_hash(void **state)
{
    (void)state;
    /* same shape, same hash, whatever the name; any change in table/key/column/type changes it */
    const char *base = DS("\"name\":\"a\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":"
                          "\"ID\",\"type\":\"number\"},{\"name\":\"V\",\"type\":\"text\"}]");
    const char *variants[] = {
        DS("\"name\":\"b\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\",\"type\":"
           "\"number\"},{\"name\":\"V\",\"type\":\"text\"}]"),
        DS("\"name\":\"a\",\"table\":\"U\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\",\"type\":"
           "\"number\"},{\"name\":\"V\",\"type\":\"text\"}]"),
        DS("\"name\":\"a\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\",\"type\":"
           "\"number\"},{\"name\":\"W\",\"type\":\"text\"}]"),
        DS("\"name\":\"a\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\",\"type\":"
           "\"number\"},{\"name\":\"V\",\"type\":\"variant\"}]"),
        DS("\"name\":\"a\",\"table\":\"T\",\"key\":\"ID\",\"columns\":[{\"name\":\"ID\",\"type\":"
           "\"number\"}]"),
    };
    papi__datasets *s0 = NULL, *s1 = NULL;
    assert_int_equal(papi__datasets_parse(base, strlen(base), &s0, NULL), PAPI_OK);
    const char *h0 = papi__dataset_shape_hash(papi__datasets_at(s0, 1));
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        assert_int_equal(papi__datasets_parse(variants[i], strlen(variants[i]), &s1, NULL),
                         PAPI_OK);
        const char *h1 = papi__dataset_shape_hash(papi__datasets_at(s1, 1));
        if (i == 0)
            assert_string_equal(h0, h1);
        else
            assert_string_not_equal(h0, h1);
        papi__datasets_free(s1);
    }
    assert_string_not_equal(h0, papi__dataset_shape_hash(papi__datasets_at(s0, 0)));
    papi__datasets_free(s0);
    papi__datasets_free(NULL);
}

/* Issue 10: the optional watermark column, checked against the columns, and the scan SQL. */
static void test_watermark(void **state)
{
    (void)state;
    const char *json = DS("\"name\":\"p\",\"table\":\"A.B.P\",\"key\":\"ID\","
                          "\"watermark\":\"updated_at\",\"columns\":["
                          "{\"name\":\"ID\",\"type\":\"number\"},"
                          "{\"name\":\"UPDATED_AT\",\"type\":\"timestamp\"}]");
    papi__datasets *set = NULL;
    papi_error err = {0};
    assert_int_equal(papi__datasets_parse(json, strlen(json), &set, &err), PAPI_OK);
    const papi_dataset *p = papi__datasets_find(set, "p");
    assert_string_equal(papi_dataset_watermark_column(p), "UPDATED_AT"); /* the column's case */
    assert_int_equal(papi_dataset_watermark_index(p), 1);
    char sql[256];
    assert_int_equal(papi_dataset_scan_sql(p, NULL, 1, sql, sizeof sql),
                     strlen("SELECT ID, UPDATED_AT FROM A.B.P WHERE UPDATED_AT > ? ORDER BY ID"));
    assert_string_equal(sql, "SELECT ID, UPDATED_AT FROM A.B.P WHERE UPDATED_AT > ? ORDER BY ID");
    papi_dataset_scan_sql(p, "p", 0, sql, sizeof sql);
    assert_string_equal(sql, "SELECT ID, UPDATED_AT FROM p ORDER BY ID");
    assert_int_equal(papi_dataset_scan_sql(p, "p; DROP TABLE x", 0, sql, sizeof sql), 0);
    assert_string_equal(sql, "");
    /* the shape of rows does not depend on the watermark: shared cache keys stay */
    const papi_dataset *c = papi__datasets_find(set, "customer");
    assert_null(papi_dataset_watermark_column(c));
    assert_int_equal(papi_dataset_watermark_index(c), SIZE_MAX);
    assert_int_equal(papi_dataset_scan_sql(c, NULL, 1, sql, sizeof sql), 0);
    assert_string_equal(papi_dataset_shape_hash(c), papi__dataset_shape_hash(c));
    papi__datasets_free(set);

    bad(DS("\"name\":\"p\",\"table\":\"P\",\"key\":\"ID\",\"watermark\":\"NOPE\"," COLS),
        "dataset 1 (p)", "watermark column NOPE is not among the columns");
    bad(DS("\"name\":\"p\",\"table\":\"P\",\"key\":\"ID\",\"watermark\":\"a;b\"," COLS),
        "dataset 1 (p)", "\"watermark\" must be a column name");
    bad(DS("\"name\":\"p\",\"table\":\"P\",\"key\":\"ID\",\"watermark\":7," COLS), "dataset 1 (p)",
        "\"watermark\" must be a column name");
    bad(DS("\"name\":\"p\",\"table\":\"P\",\"key\":\"ID\",\"watermark\":\"V\","
           "\"columns\":[{\"name\":\"ID\",\"type\":\"number\"},"
           "{\"name\":\"V\",\"type\":\"variant\"}]"),
        "watermark column V is of type variant", "it must order");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watermark),   cmocka_unit_test(test_builtin_customer),
        cmocka_unit_test(test_select_sql),  cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_file_errors), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_identifiers), cmocka_unit_test(test_file_errors_on_disk),
        cmocka_unit_test(test_shape_hash),  cmocka_unit_test(test_json_errors_quote_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
