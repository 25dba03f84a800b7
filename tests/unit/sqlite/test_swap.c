/* A replica swapped under load: threads look customers up through the sqlite source while the
 * served file is replaced by rename (papi_replica_sync() into the served path), again and again.
 * No lookup may fail, every new file must be noticed (its rows served), and the connections of
 * each old file are closed once its last fetch is done. A file that fails the checks (a replica of
 * another dataset renamed over the path) is not served: the old one stays, still without a
 * failed lookup. */
#include <papi/papi.h>
#include <papi/papi_backend.h>
#include <papi/papi_replica.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define SWAPS 5
#define ROWS 500
#define WAIT_S 30 /* for a swap to be seen: generous, the machine may be loaded */

static char dir[64], src_db[128], served[128], ds_path[128];

static atomic_bool stop;
static atomic_uint_fast64_t lookups, failures;
static atomic_int seen_version; /* the version (C_BIRTH_YEAR) the last lookup saw */
static atomic_int swaps_logged, closes_logged, rejections_logged;

static void exec_file(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sqlite: %s", msg ? msg : "?");
    sqlite3_close(db);
}

static void on_log(void *user, papi_log_level level, const char *message)
{
    (void)user, (void)level;
    if (strstr(message, "names a new file (file"))
        atomic_fetch_add(&swaps_logged, 1);
    if (strstr(message, "closed the connections of file"))
        atomic_fetch_add(&closes_logged, 1);
    if (strstr(message, "still serving the previous one"))
        atomic_fetch_add(&rejections_logged, 1);
}

static papi_client *client_of(const char *source, const char *datasets)
{
    papi_config *cfg = NULL;
    papi_error err = {0};
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "source", source, &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", "none", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "pool-size", "3", &err), PAPI_OK);
    if (datasets)
        assert_int_equal(papi_config_set(cfg, "datasets", datasets, &err), PAPI_OK);
    assert_int_equal(papi_config_set_log(cfg, on_log, NULL, PAPI_LOG_DEBUG), PAPI_OK);
    papi_client *c = NULL;
    if (papi_client_create(cfg, &c, &err) != PAPI_OK)
        fail_msg("client: %s", err.message);
    papi_config_destroy(cfg);
    return c;
}

static void *looker(void *arg)
{
    papi_client *c = arg;
    uint64_t x = (uint64_t)(uintptr_t)&x;
    while (!atomic_load(&stop)) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        int64_t id = 1 + (int64_t)((x >> 33) % ROWS);
        papi_result *r = NULL;
        papi_error err = {0};
        papi_status s = papi_lookup_customers(c, &id, 1, &r, &err);
        if (s != PAPI_OK || papi_result_count(r) != 1) {
            atomic_fetch_add(&failures, 1);
            fprintf(stderr, "lookup of %lld: %s %s\n", (long long)id, papi_status_name(s),
                    err.message);
        } else {
            const char *json = papi_result_row_json(r, 0, NULL);
            const char *y = strstr(json, "\"C_BIRTH_YEAR\":");
            if (y)
                atomic_store(&seen_version, atoi(y + 15));
        }
        papi_result_free(r);
        atomic_fetch_add(&lookups, 1);
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/papi-swap-test-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(src_db, sizeof src_db, "%s/source.db", dir);
    snprintf(served, sizeof served, "%s/served.db", dir);
    snprintf(ds_path, sizeof ds_path, "%s/datasets.json", dir);
    exec_file(src_db,
              "CREATE TABLE hybrid_customer (C_CUSTOMER_SK INTEGER PRIMARY KEY, C_CUSTOMER_ID "
              "TEXT, C_CURRENT_CDEMO_SK INTEGER, C_CURRENT_HDEMO_SK INTEGER, C_CURRENT_ADDR_SK "
              "INTEGER, C_FIRST_SHIPTO_DATE_SK INTEGER, C_FIRST_SALES_DATE_SK INTEGER, "
              "C_SALUTATION TEXT, C_FIRST_NAME TEXT, C_LAST_NAME TEXT, C_PREFERRED_CUST_FLAG "
              "TEXT, C_BIRTH_DAY INTEGER, C_BIRTH_MONTH INTEGER, C_BIRTH_YEAR INTEGER, "
              "C_BIRTH_COUNTRY TEXT, C_LOGIN TEXT, C_EMAIL_ADDRESS TEXT, C_LAST_REVIEW_DATE "
              "TEXT);"
              "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) "
              "INSERT INTO hybrid_customer (C_CUSTOMER_SK, C_FIRST_NAME, C_BIRTH_YEAR) "
              "SELECT i, 'name ' || i, 0 FROM n;"
              "CREATE TABLE products (P_ID INTEGER PRIMARY KEY, P_NAME TEXT);"
              "INSERT INTO products VALUES (1, 'one')");
    FILE *f = fopen(ds_path, "w");
    assert_non_null(f);
    fputs("{\"datasets\": [{\"name\": \"product\", \"table\": \"PRODUCTS\", \"key\": \"P_ID\","
          " \"columns\": [{\"name\": \"P_ID\", \"type\": \"number\"},"
          " {\"name\": \"P_NAME\", \"type\": \"text\"}]}]}",
          f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Version v of the source, synced into path (renamed over it, as papi sync does). */
static void publish(papi_client *src, int v, const char *path)
{
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE hybrid_customer SET C_BIRTH_YEAR = %d", v);
    exec_file(src_db, sql);
    papi_error err = {0};
    if (papi_replica_sync(src, "customer", path, NULL, NULL, &err) != PAPI_OK)
        fail_msg("sync: %s", err.message);
}

static bool wait_for(atomic_int *value, int want)
{
    for (int i = 0; i < WAIT_S * 100; i++) {
        if (atomic_load(value) >= want)
            return true;
        usleep(10000);
    }
    return false;
}

static void swaps_under_load_fail_no_lookup(void **state)
{
    (void)state;
    atomic_store(&failures, 0);
    atomic_store(&swaps_logged, 0);
    atomic_store(&closes_logged, 0);
    atomic_store(&rejections_logged, 0);
    char spec[160];
    snprintf(spec, sizeof spec, "sqlite:%s", src_db);
    papi_client *src = client_of(spec, ds_path);
    publish(src, 1, served);
    snprintf(spec, sizeof spec, "sqlite:%s", served);
    papi_client *c = client_of(spec, NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, looker, c), 0);
    assert_true(wait_for(&seen_version, 1));
    for (int v = 2; v <= SWAPS + 1; v++) {
        publish(src, v, served);
        if (!wait_for(&seen_version, v))
            fail_msg("version %d was not served within %d s", v, WAIT_S);
    }
    assert_int_equal(atomic_load(&swaps_logged), SWAPS);

    /* a replica of another dataset renamed over the path: refused, the old file still served */
    char other[128];
    snprintf(other, sizeof other, "%s/other.db", dir);
    papi_error err = {0};
    assert_int_equal(papi_replica_sync(src, "product", other, NULL, NULL, &err), PAPI_OK);
    assert_int_equal(rename(other, served), 0);
    assert_true(wait_for(&rejections_logged, 1));
    uint64_t before = atomic_load(&lookups);
    while (atomic_load(&lookups) < before + 200)
        usleep(1000);
    assert_int_equal(atomic_load(&seen_version), SWAPS + 1);
    assert_int_equal(atomic_load(&rejections_logged), 1); /* once per file, not per check */

    /* and a good one after it is taken (a sync never overwrites another dataset's replica: this
     * one is made next to it and renamed over it) */
    char next[128];
    snprintf(next, sizeof next, "%s/next.db", dir);
    publish(src, SWAPS + 2, next);
    assert_int_equal(rename(next, served), 0);
    assert_true(wait_for(&seen_version, SWAPS + 2));

    atomic_store(&stop, true);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    assert_true(atomic_load(&lookups) > 1000);
    /* every old file's connections closed when its last fetch let go */
    assert_int_equal(atomic_load(&closes_logged), SWAPS + 1);
    papi_client_destroy(c);
    papi_client_destroy(src);
    fprintf(stderr, "%llu lookups, %d swaps, 0 failed\n", (unsigned long long)atomic_load(&lookups),
            SWAPS + 1);
}

static void *burst(void *arg)
{
    papi_client *c = arg;
    for (int i = 0; i < 300; i++) {
        int64_t id = 1 + i % ROWS;
        papi_result *r = NULL;
        papi_error err = {0};
        if (papi_lookup_customers(c, &id, 1, &r, &err) != PAPI_OK || papi_result_count(r) != 1) {
            atomic_fetch_add(&failures, 1);
            fprintf(stderr, "burst lookup: %s\n", err.message);
        }
        papi_result_free(r);
    }
    return NULL;
}

/* A file the source refuses sits at the path before the connections of the served one were all
 * needed: lookups that need more connections at once still find them (they were opened while
 * the path named the served file), and none fails. */
static void lookups_needing_more_connections_after_a_refused_file(void **state)
{
    (void)state;
    char spec[160], path[128], other[128];
    snprintf(spec, sizeof spec, "sqlite:%s", src_db);
    papi_client *src = client_of(spec, ds_path);
    snprintf(path, sizeof path, "%s/burst.db", dir);
    snprintf(other, sizeof other, "%s/burst-other.db", dir);
    publish(src, 1, path);
    papi_error err = {0};
    assert_int_equal(papi_replica_sync(src, "product", other, NULL, NULL, &err), PAPI_OK);
    snprintf(spec, sizeof spec, "sqlite:%s", path);
    papi_client *c = client_of(spec, NULL);
    int64_t id = 1;
    papi_result *r = NULL;
    assert_int_equal(papi_lookup_customers(c, &id, 1, &r, &err), PAPI_OK); /* one connection */
    papi_result_free(r);
    assert_int_equal(rename(other, path), 0);
    atomic_store(&failures, 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, burst, c), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    papi_client_destroy(c);
    papi_client_destroy(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookups_needing_more_connections_after_a_refused_file),
        cmocka_unit_test(swaps_under_load_fail_no_lookup),
    };
    return cmocka_run_group_tests_name("replica swap", tests, setup, teardown);
}
