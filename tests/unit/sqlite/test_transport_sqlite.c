/* The sqlite transport against a real SQLite file made here, driven through the public client
 * (cache "none", so every lookup reaches the transport). What it proves: rows and their cells
 * (NULL, non-ASCII, REAL, BLOB), prepared statements reused per placeholder bucket, ids that
 * only ever travel as bound values, clear errors for a missing file/table/column, a writer's
 * lock turning into EUNAVAIL, and many threads sharing a small connection pool. */
#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char db_path[128];
static char ds_path[128];
static char source[160]; /* "sqlite:" + db_path */

static const char customer_schema[] =
    "CREATE TABLE hybrid_customer (C_CUSTOMER_SK INTEGER PRIMARY KEY NOT NULL, C_CUSTOMER_ID TEXT,"
    " C_CURRENT_CDEMO_SK INTEGER, C_CURRENT_HDEMO_SK INTEGER, C_CURRENT_ADDR_SK INTEGER,"
    " C_FIRST_SHIPTO_DATE_SK INTEGER, C_FIRST_SALES_DATE_SK INTEGER, C_SALUTATION TEXT,"
    " C_FIRST_NAME TEXT, C_LAST_NAME TEXT, C_PREFERRED_CUST_FLAG TEXT, C_BIRTH_DAY INTEGER,"
    " C_BIRTH_MONTH INTEGER, C_BIRTH_YEAR INTEGER, C_BIRTH_COUNTRY TEXT, C_LOGIN TEXT,"
    " C_EMAIL_ADDRESS TEXT, C_LAST_REVIEW_DATE TEXT)";

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("sqlite: %s", msg ? msg : "?");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_db(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/papi-sqlite-test-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
    snprintf(ds_path, sizeof ds_path, "%s/datasets.json", dir);
    snprintf(source, sizeof source, "sqlite:%s", db_path);
    sqlite3 *db = NULL;
    if (sqlite3_open(db_path, &db) != SQLITE_OK)
        return -1;
    exec_ok(db, customer_schema);
    exec_ok(db, "BEGIN");
    sqlite3_stmt *ins = NULL;
    sqlite3_prepare_v2(db,
                       "INSERT INTO hybrid_customer VALUES (?1, printf('ID%014d', ?1), ?1 * 3, "
                       "7, 8, 2450000, 2449970, 'Mr.', 'Ann', 'Lee', 'Y', 1, 2, 1970, 'CHILE', "
                       "NULL, 'Ann.Lee@example.com', '2452276')",
                       -1, &ins, NULL);
    for (int i = 1; i <= 500; i++) {
        if (i == 3 || i == 4)
            continue;
        sqlite3_bind_int(ins, 1, i);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    /* row 3: every nullable column NULL; row 4: non-ASCII letters and an apostrophe */
    exec_ok(db, "INSERT INTO hybrid_customer (C_CUSTOMER_SK) VALUES (3)");
    exec_ok(db, "INSERT INTO hybrid_customer VALUES (4, 'AAAAAAAAEAAAAAAA', 1, 2, 3, 4, 5, 'Ms.', "
                "'Zoë', 'O''Brien-Ñúñez', 'N', 9, 10, 1988, 'CÔTE D''IVOIRE', NULL, "
                "'Zoe.OBrien@example.com', '2452766')");
    /* a text-keyed table; one key is itself an injection attempt, stored as data */
    exec_ok(db, "CREATE TABLE things (K TEXT PRIMARY KEY, N INTEGER, R REAL, B BLOB, T TEXT)");
    exec_ok(db, "INSERT INTO things VALUES ('alpha', -12, 0.1, x'DEAD01', 'a')");
    exec_ok(db, "INSERT INTO things VALUES ('beta', 2, 2.5e10, NULL, NULL)");
    exec_ok(db, "INSERT INTO things VALUES ('x'' OR ''1''=''1', 3, -1.5, x'', 'stored injection')");
    exec_ok(db, "COMMIT");
    sqlite3_close(db);
    write_file(ds_path,
               "{\"datasets\": ["
               " {\"name\": \"thing\", \"table\": \"app.main.THINGS\", \"key\": \"K\","
               "  \"key_type\": \"text\", \"columns\": ["
               "   {\"name\": \"K\", \"type\": \"text\"}, {\"name\": \"N\", \"type\": \"number\"},"
               "   {\"name\": \"R\", \"type\": \"real\"}, {\"name\": \"B\", \"type\": \"binary\"},"
               "   {\"name\": \"T\", \"type\": \"text\"}]},"
               " {\"name\": \"ghost\", \"table\": \"app.main.NOT_THERE\", \"key\": \"K\","
               "  \"key_type\": \"text\", \"columns\": [{\"name\": \"K\", \"type\": \"text\"}]},"
               " {\"name\": \"wrongcol\", \"table\": \"THINGS\", \"key\": \"K\","
               "  \"key_type\": \"text\", \"columns\": [{\"name\": \"K\", \"type\": \"text\"},"
               "   {\"name\": \"NOPE\", \"type\": \"text\"}]}"
               "]}");
    return 0;
}

static int teardown_db(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------- helpers */

static atomic_int prepared;

static void count_prepares(void *user, papi_log_level level, const char *message)
{
    (void)user;
    (void)level;
    if (strstr(message, "sqlite: prepared"))
        atomic_fetch_add(&prepared, 1);
}

/* concurrency: the source-concurrency option, NULL for the transport's default (the cores);
 * max_ids: NULL for the default */
static papi_client *client_with(const char *source, const char *pool, const char *timeout_ms,
                                const char *concurrency, const char *max_ids)
{
    papi_config *cfg = NULL;
    papi_error err = {0};
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "source", source, &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", "none", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "datasets", ds_path, &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "pool-size", pool, &err), PAPI_OK);
    if (timeout_ms)
        assert_int_equal(papi_config_set(cfg, "timeout-ms", timeout_ms, &err), PAPI_OK);
    if (concurrency)
        assert_int_equal(papi_config_set(cfg, "source-concurrency", concurrency, &err), PAPI_OK);
    if (max_ids)
        assert_int_equal(papi_config_set(cfg, "max-ids", max_ids, &err), PAPI_OK);
    assert_int_equal(papi_config_set_log(cfg, count_prepares, NULL, PAPI_LOG_DEBUG), PAPI_OK);
    papi_client *c = NULL;
    papi_status s = papi_client_create(cfg, &c, &err);
    papi_config_destroy(cfg);
    if (s != PAPI_OK)
        fail_msg("client: %s", err.message);
    return c;
}

static papi_client *client_for(const char *source, const char *pool, const char *timeout_ms,
                               const char *concurrency)
{
    return client_with(source, pool, timeout_ms, concurrency, NULL);
}

static papi_client *client_default(void)
{
    return client_for(source, "1", NULL, NULL);
}

static papi_status lookup(papi_client *c, const char *ds, const char *ids, papi_result **out,
                          papi_error *err)
{
    return papi_lookup_list(c, ds, ids, strlen(ids), out, err);
}

static char *row(const papi_result *r, size_t i)
{
    size_t len = 0;
    const char *j = papi_result_row_json(r, i, &len);
    assert_non_null(j);
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, j, len);
    s[len] = '\0';
    return s;
}

static void assert_contains(const char *hay, const char *needle)
{
    assert_non_null(hay);
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" in %s", needle ? needle : "", hay ? hay : "");
}

/* ------------------------------------------------------------- tests */

static void customer_rows_and_cells(void **state)
{
    (void)state;
    papi_client *c = client_default();
    papi_result *r = NULL;
    papi_error err = {0};
    assert_int_equal(lookup(c, "customer", "1,3,4,9999", &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 3); /* 9999 does not exist */
    char *r1 = row(r, 0), *r3 = row(r, 1), *r4 = row(r, 2);
    assert_contains(r1, "\"C_CUSTOMER_SK\":1,");
    assert_contains(r1, "\"C_CUSTOMER_ID\":\"ID00000000000001\"");
    assert_contains(r1, "\"C_CURRENT_CDEMO_SK\":3,");
    assert_contains(r1, "\"C_LOGIN\":null");
    assert_contains(r3, "\"C_CUSTOMER_SK\":3,");
    assert_contains(r3, "\"C_CUSTOMER_ID\":null");
    assert_contains(r3, "\"C_BIRTH_YEAR\":null");
    assert_contains(r3, "\"C_LAST_REVIEW_DATE\":null}");
    assert_contains(r4, "\"C_FIRST_NAME\":\"Zoë\"");
    assert_contains(r4, "\"C_LAST_NAME\":\"O'Brien-Ñúñez\"");
    assert_contains(r4, "\"C_BIRTH_COUNTRY\":\"CÔTE D'IVOIRE\"");
    assert_contains(r4, "\"C_LOGIN\":null");
    assert_contains(r4, "\"C_LAST_REVIEW_DATE\":\"2452766\"");
    free(r1);
    free(r3);
    free(r4);
    papi_result_free(r);
    papi_client_destroy(c);
}

static void statements_prepared_once_per_bucket(void **state)
{
    (void)state;
    atomic_store(&prepared, 0);
    papi_client *c = client_default(); /* pool of one: every fetch uses the same connection */
    papi_error err = {0};
    static const struct {
        const char *ids;
        size_t rows;
        int prepared_after; /* buckets 1, 4, 8 */
    } steps[] = {
        {"5", 1, 1},         {"6", 1, 1},         {"1,2,5", 3, 2},       {"7,8,9", 3, 2},
        {"1,2,5,6", 4, 2},   {"1,2,5,6,7", 5, 3}, {"10,11,12,13,14,15,16,17", 8, 3},
        {"20", 1, 3},
    };
    for (int round = 0; round < 10; round++) {
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            papi_result *r = NULL;
            assert_int_equal(lookup(c, "customer", steps[i].ids, &r, &err), PAPI_OK);
            /* padding repeats the last key: it must not repeat rows */
            assert_int_equal(papi_result_count(r), steps[i].rows);
            papi_result_free(r);
            if (round == 0)
                assert_int_equal(atomic_load(&prepared), steps[i].prepared_after);
        }
    }
    assert_int_equal(atomic_load(&prepared), 3);
    papi_client_destroy(c);
}

static void a_hundred_ids_in_one_statement(void **state)
{
    (void)state;
    atomic_store(&prepared, 0);
    papi_client *c = client_default();
    char ids[1024] = "";
    for (int i = 101; i <= 200; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i > 101 ? "," : "", i);
    papi_result *r = NULL;
    papi_error err = {0};
    assert_int_equal(lookup(c, "customer", ids, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 100);
    char *last = row(r, 99);
    assert_contains(last, "\"C_CUSTOMER_SK\":200,");
    free(last);
    papi_result_free(r);
    assert_int_equal(atomic_load(&prepared), 1); /* one 128-placeholder statement */
    papi_client_destroy(c);
}

/* The dispatcher's default batch, 256 ids, is one statement with 256 placeholders; a request
 * of 1,000 ids goes in fetches of max-batch (256) ids, through that same statement. */
static void a_full_batch_in_one_statement(void **state)
{
    (void)state;
    atomic_store(&prepared, 0);
    papi_client *c = client_with(source, "1", NULL, NULL, "1000");
    char *ids = malloc(8 * 1000);
    assert_non_null(ids);
    ids[0] = '\0';
    for (int i = 201; i <= 456; i++)
        sprintf(ids + strlen(ids), "%s%d", i > 201 ? "," : "", i);
    papi_result *r = NULL;
    papi_error err = {0};
    assert_int_equal(lookup(c, "customer", ids, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 256);
    char *last = row(r, 255);
    assert_contains(last, "\"C_CUSTOMER_SK\":456,");
    free(last);
    papi_result_free(r);
    assert_int_equal(atomic_load(&prepared), 1);
    ids[0] = '\0';
    for (int i = 1; i <= 1000; i++) /* ids past 500 do not exist */
        sprintf(ids + strlen(ids), "%s%d", i > 1 ? "," : "", i);
    assert_int_equal(lookup(c, "customer", ids, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 500);
    papi_result_free(r);
    assert_int_equal(atomic_load(&prepared), 1);
    papi_stats st = {.struct_size = sizeof st};
    assert_int_equal(papi_client_stats(c, &st), PAPI_OK);
    assert_int_equal(st.source_calls, 1 + 4);      /* no cache: all 1,000 fetched again */
    assert_int_equal(st.fetch_ids_bucket[8], 1 + 4); /* 129-256 ids each: 256, 256, 256, 232 */
    free(ids);
    papi_client_destroy(c);
}

static void ids_are_only_values(void **state)
{
    (void)state;
    papi_client *c = client_default();
    papi_result *r = NULL;
    papi_error err = {0};
    /* text keys reach SQLite: an injection never widens the match */
    static const char *const none[] = {"1) OR (1=1", "alpha' --", "' OR ''='", "ALPHA"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        assert_int_equal(lookup(c, "thing", none[i], &r, &err), PAPI_OK);
        assert_int_equal(papi_result_count(r), 0);
        papi_result_free(r);
    }
    /* and a key that looks like SQL is just a key */
    const char *inj = "x' OR '1'='1";
    assert_int_equal(papi_lookup(c, "thing", &inj, 1, &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 1);
    char *j = row(r, 0);
    assert_contains(j, "\"T\":\"stored injection\"");
    free(j);
    papi_result_free(r);
    /* number keys: a 24-digit id is bound as text and matches nothing; SQL never parses */
    assert_int_equal(lookup(c, "customer", "123456789012345678901234", &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 0);
    papi_result_free(r);
    assert_int_equal(lookup(c, "customer", "1) OR (1=1", &r, &err), PAPI_EINVAL);
    assert_null(r);
    papi_client_destroy(c);
}

static void text_keys_and_cell_types(void **state)
{
    (void)state;
    papi_client *c = client_default();
    papi_result *r = NULL;
    papi_error err = {0};
    assert_int_equal(lookup(c, "thing", "beta,alpha,gamma", &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 2);
    char *beta = row(r, 0), *alpha = row(r, 1);
    assert_string_equal(beta, "{\"K\":\"beta\",\"N\":2,\"R\":25000000000,\"B\":null,\"T\":null}");
    assert_contains(alpha, "\"N\":-12,");
    assert_contains(alpha, "\"R\":0.1,"); /* shortest round-trip text, not 0.10000000000000001 */
    assert_contains(alpha, "\"B\":\"DEAD01\"");
    free(beta);
    free(alpha);
    papi_result_free(r);
    papi_client_destroy(c);
}

static void missing_table_and_column(void **state)
{
    (void)state;
    papi_client *c = client_default();
    papi_result *r = NULL;
    papi_error err = {0};
    assert_int_equal(lookup(c, "ghost", "k", &r, &err), PAPI_ESOURCE);
    assert_null(r);
    assert_contains(err.message, "no such table");
    assert_contains(err.message, "not_there");
    assert_int_equal(lookup(c, "wrongcol", "k", &r, &err), PAPI_ESOURCE);
    assert_contains(err.message, "no such column");
    /* the failure is per dataset: the others still answer */
    assert_int_equal(lookup(c, "customer", "1", &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 1);
    papi_result_free(r);
    assert_int_equal(papi_client_ping(c, &err), PAPI_OK);
    papi_client_destroy(c);
}

static void missing_or_foreign_file(void **state)
{
    (void)state;
    char path[192], src[200];
    papi_config *cfg = NULL;
    papi_client *c = NULL;
    papi_error err = {0};
    snprintf(path, sizeof path, "%s/absent.db", dir);
    snprintf(src, sizeof src, "sqlite:%s", path);
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "source", src, &err), PAPI_OK);
    assert_int_equal(papi_client_create(cfg, &c, &err), PAPI_ECONFIG);
    assert_null(c);
    assert_contains(err.message, "absent.db");
    assert_int_not_equal(access(path, F_OK), 0); /* read-only: never created */

    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_file(path, "this is not a database, just some text that is long enough to have a "
                     "header of one hundred bytes or so, which SQLite will check and reject.\n");
    snprintf(src, sizeof src, "sqlite:%s", path);
    assert_int_equal(papi_config_set(cfg, "source", src, &err), PAPI_OK);
    assert_int_equal(papi_client_create(cfg, &c, &err), PAPI_ECONFIG);
    assert_null(c);
    assert_contains(err.message, "not a database");
    papi_config_destroy(cfg);
}

static void writer_lock_is_unavailable_then_recovers(void **state)
{
    (void)state;
    papi_client *c = client_for(source, "1", "300", NULL);
    papi_result *r = NULL;
    papi_error err = {0};
    sqlite3 *w = NULL;
    assert_int_equal(sqlite3_open(db_path, &w), SQLITE_OK);
    /* the fault: a writer holding the exclusive lock (rollback journal) */
    assert_int_equal(sqlite3_exec(w, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    int64_t t0 = papi_now_ms();
    papi_status s = lookup(c, "customer", "1", &r, &err);
    int64_t took = papi_now_ms() - t0;
    assert_true(s == PAPI_EUNAVAIL || s == PAPI_ETIMEDOUT);
    assert_null(r);
    assert_true(took >= 150); /* it waited for the lock before giving up */
    assert_true(took < 5000);
    assert_int_equal(sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(w);
    assert_int_equal(lookup(c, "customer", "1", &r, &err), PAPI_OK);
    assert_int_equal(papi_result_count(r), 1);
    papi_result_free(r);
    papi_client_destroy(c);
}

typedef struct worker {
    papi_client *client;
    unsigned seed;
    int failures;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 400; i++) {
        w->seed = w->seed * 1103515245u + 12345u;
        unsigned id = 5 + (w->seed >> 8) % 490;
        char ids[64], want[48];
        if (i % 3 == 0)
            snprintf(ids, sizeof ids, "%u,%u,%u", id, id + 1, 999999);
        else
            snprintf(ids, sizeof ids, "%u", id);
        snprintf(want, sizeof want, "{\"C_CUSTOMER_SK\":%u,", id);
        papi_result *r = NULL;
        papi_error err = {0};
        if (papi_lookup_list(w->client, "customer", ids, strlen(ids), &r, &err) != PAPI_OK ||
            papi_result_count(r) != (i % 3 == 0 ? 2u : 1u)) {
            w->failures++;
        } else {
            size_t len = 0;
            const char *j = papi_result_row_json(r, 0, &len);
            if (len < strlen(want) || memcmp(j, want, strlen(want)) != 0)
                w->failures++;
        }
        papi_result_free(r);
    }
    return NULL;
}

static void many_threads_share_a_small_pool(void **state)
{
    (void)state;
    atomic_store(&prepared, 0);
    /* a slot for every thread: the 3 connections, not the dispatcher, make threads wait, and
     * each fetch holds one request's ids (batches of several requests would prepare more) */
    papi_client *c = client_for(source, "3", NULL, "8");
    enum { N = 8 };
    pthread_t t[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){c, (unsigned)i * 7919u + 1u, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    /* at most 3 connections, each with at most the 1-, 2- and 4-placeholder statements (a
     * request whose other ids another thread is fetching asks for fewer: coalescing) */
    assert_true(atomic_load(&prepared) >= 2);
    assert_true(atomic_load(&prepared) <= 9);
    papi_stats st = {.struct_size = sizeof st};
    assert_int_equal(papi_client_stats(c, &st), PAPI_OK);
    assert_int_equal(st.source_errors, 0);
    papi_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(customer_rows_and_cells),
        cmocka_unit_test(statements_prepared_once_per_bucket),
        cmocka_unit_test(a_hundred_ids_in_one_statement),
        cmocka_unit_test(a_full_batch_in_one_statement),
        cmocka_unit_test(ids_are_only_values),
        cmocka_unit_test(text_keys_and_cell_types),
        cmocka_unit_test(missing_table_and_column),
        cmocka_unit_test(missing_or_foreign_file),
        cmocka_unit_test(writer_lock_is_unavailable_then_recovers),
        cmocka_unit_test(many_threads_share_a_small_pool),
    };
    return cmocka_run_group_tests_name("sqlite transport", tests, setup_db, teardown_db);
}
