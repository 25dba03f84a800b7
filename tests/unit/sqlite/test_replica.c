/* Replicas at the library level, on real SQLite files made here, the source being the sqlite
 * transport over another file (so no network): papi_replica_sync() copies every row with its
 * metadata, an incremental sync upserts the rows past the watermark, each bad input is refused
 * with PAPI_ECONFIG and the file left byte for byte, a caller can stop a sync, and the sqlite
 * source refuses at open a replica of another dataset or shape and a damaged file. Also the scan
 * itself (the watermark bound), and a version-2 transport table, which has no scan. */
#include <papi/papi.h>
#include <papi/papi_backend.h>
#include <papi/papi_replica.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char src_db[128], ds_path[128], ds_other[128], src_spec[160];

#define NPRODUCTS 3000

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sqlite: %s", msg ? msg : "?");
}

static void exec_file(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, sql);
    sqlite3_close(db);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The source: a products table with an update time (the watermark) and the customer table. */
static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/papi-replica-test-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(src_db, sizeof src_db, "%s/source.db", dir);
    snprintf(ds_path, sizeof ds_path, "%s/datasets.json", dir);
    snprintf(ds_other, sizeof ds_other, "%s/datasets-other.json", dir);
    snprintf(src_spec, sizeof src_spec, "sqlite:%s", src_db);
    sqlite3 *db = NULL;
    if (sqlite3_open(src_db, &db) != SQLITE_OK)
        return -1;
    exec_ok(db, "CREATE TABLE products (P_ID INTEGER PRIMARY KEY, P_NAME TEXT, P_PRICE TEXT, "
                "P_UPDATED TEXT, P_SEQ INTEGER)");
    exec_ok(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
                "INSERT INTO products SELECT i, 'product ' || i, printf('%d.50', i), "
                "printf('2024-01-01T00:%02d:%02d.000Z', i / 60 % 60, i % 60), i FROM n");
    exec_ok(db, "UPDATE products SET P_NAME = 'Zoë''s \"special\"', P_PRICE = NULL WHERE P_ID = 7");
    exec_ok(db, "CREATE TABLE hybrid_customer (C_CUSTOMER_SK INTEGER PRIMARY KEY, C_CUSTOMER_ID "
                "TEXT, C_CURRENT_CDEMO_SK INTEGER, C_CURRENT_HDEMO_SK INTEGER, C_CURRENT_ADDR_SK "
                "INTEGER, C_FIRST_SHIPTO_DATE_SK INTEGER, C_FIRST_SALES_DATE_SK INTEGER, "
                "C_SALUTATION TEXT, C_FIRST_NAME TEXT, C_LAST_NAME TEXT, C_PREFERRED_CUST_FLAG "
                "TEXT, C_BIRTH_DAY INTEGER, C_BIRTH_MONTH INTEGER, C_BIRTH_YEAR INTEGER, "
                "C_BIRTH_COUNTRY TEXT, C_LOGIN TEXT, C_EMAIL_ADDRESS TEXT, C_LAST_REVIEW_DATE "
                "TEXT)");
    exec_ok(db, "INSERT INTO hybrid_customer (C_CUSTOMER_SK, C_FIRST_NAME) VALUES (1, 'Ann'), "
                "(2, 'Bob'), (9223372036854775807, 'Max')");
    /* number keys past 64 bits (stored as text here), and text keys */
    exec_ok(db, "CREATE TABLE big (K TEXT PRIMARY KEY, V TEXT);"
                "INSERT INTO big VALUES ('1', 'a'), ('123456789012345678901234567890', 'b');"
                "CREATE TABLE words (W TEXT PRIMARY KEY, N INTEGER);"
                "INSERT INTO words VALUES ('b', 2), ('a', 1), ('x'' OR ''1''=''1', 3)");
    sqlite3_close(db);
    write_file(ds_path, "{\"datasets\": [{\"name\": \"product\", \"table\": \"API.DATA.PRODUCTS\","
                        " \"key\": \"P_ID\", \"watermark\": \"P_UPDATED\", \"columns\": ["
                        " {\"name\": \"P_ID\", \"type\": \"number\"},"
                        " {\"name\": \"P_NAME\", \"type\": \"text\"},"
                        " {\"name\": \"P_PRICE\", \"type\": \"decimal\"},"
                        " {\"name\": \"P_UPDATED\", \"type\": \"timestamp\"},"
                        " {\"name\": \"P_SEQ\", \"type\": \"number\"}]},"
                        " {\"name\": \"big\", \"table\": \"BIG\", \"key\": \"K\", \"columns\": ["
                        " {\"name\": \"K\", \"type\": \"number\"},"
                        " {\"name\": \"V\", \"type\": \"text\"}]},"
                        " {\"name\": \"word\", \"table\": \"WORDS\", \"key\": \"W\", \"columns\": ["
                        " {\"name\": \"W\", \"type\": \"text\"},"
                        " {\"name\": \"N\", \"type\": \"number\"}]}]}");
    /* the same dataset name with one column less: another shape */
    write_file(ds_other, "{\"datasets\": [{\"name\": \"product\", \"table\": \"API.DATA.PRODUCTS\","
                         " \"key\": \"P_ID\", \"watermark\": \"P_SEQ\", \"columns\": ["
                         " {\"name\": \"P_ID\", \"type\": \"number\"},"
                         " {\"name\": \"P_NAME\", \"type\": \"text\"},"
                         " {\"name\": \"P_SEQ\", \"type\": \"number\"}]}]}");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------- helpers */

static papi_client *client_of(const char *source, const char *datasets, papi_status want,
                              papi_error *err)
{
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "source", source, err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", "none", err), PAPI_OK);
    if (datasets)
        assert_int_equal(papi_config_set(cfg, "datasets", datasets, err), PAPI_OK);
    papi_client *c = NULL;
    papi_status s = papi_client_create(cfg, &c, err);
    papi_config_destroy(cfg);
    if (s != want)
        fail_msg("client of %s: %s (%s)", source, papi_status_name(s), err->message);
    return c;
}

static papi_client *source_client(void)
{
    papi_error err = {0};
    return client_of(src_spec, ds_path, PAPI_OK, &err);
}

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* The whole file, for byte-for-byte comparisons; *len its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void assert_same_bytes(const char *path, const char *before, size_t len)
{
    size_t now_len = 0;
    char *now = slurp(path, &now_len);
    assert_int_equal(now_len, len);
    assert_memory_equal(now, before, len);
    free(now);
}

/* No `<name>.tmp-*` is left next to the target. */
static void assert_no_temp(const char *name)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s.tmp-", name);
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            fail_msg("temporary file left: %s", e->d_name);
    closedir(d);
}

/* One query's rows as text, "|"-separated, for comparing a table with its copy. */
static char *dump(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    papi_buf b;
    papi_buf_init(&b);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);
            papi_buf_printf(&b, "%s%s", i ? "|" : "", t ? t : "<null>");
        }
        papi_buf_putc(&b, '\n');
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    char *s = papi_buf_steal(&b, NULL);
    assert_non_null(s);
    return s;
}

static void assert_same_rows(const char *a, const char *b, const char *sql)
{
    char *x = dump(a, sql), *y = dump(b, sql);
    assert_string_equal(x, y);
    free(x);
    free(y);
}

static papi_status sync_to(papi_client *src, const char *ds, const char *path, int incremental,
                           papi_replica_info *info, papi_error *err)
{
    papi_replica_opts o = {.struct_size = sizeof o, .incremental = incremental};
    info->struct_size = sizeof *info;
    return papi_replica_sync(src, ds, path, &o, info, err);
}

static const char products_sql[] =
    "SELECT P_ID, P_NAME, P_PRICE, P_UPDATED, P_SEQ FROM products ORDER BY P_ID";

/* ------------------------------------------------------------- tests */

static void full_sync_copies_every_row_with_metadata(void **state)
{
    (void)state;
    char path[128];
    path_in(path, sizeof path, "products.db");
    papi_client *src = source_client();
    papi_replica_info info;
    papi_error err = {0};
    assert_int_equal(sync_to(src, "product", path, 0, &info, &err), PAPI_OK);
    assert_same_rows(src_db, path, products_sql);
    assert_string_equal(info.dataset, "product");
    assert_string_equal(info.table, "products");
    assert_string_equal(info.source, "sqlite");
    assert_int_equal(info.rows, NPRODUCTS);
    assert_int_equal(info.rows_synced, NPRODUCTS);
    assert_int_equal(info.incremental, 0);
    assert_string_equal(info.watermark_column, "P_UPDATED");
    assert_string_equal(info.watermark, "2024-01-01T00:50:00.000Z"); /* product 3000's */
    assert_true(info.finished_unix_ms >= info.started_unix_ms && info.started_unix_ms > 0);
    assert_int_equal(info.full_unix_ms, info.finished_unix_ms);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(info.bytes, (uint64_t)sb.st_size);
    assert_no_temp("products.db");

    /* what papi_replica_stat() reads back is what the sync reported */
    papi_replica_info again = {.struct_size = sizeof again};
    assert_int_equal(papi_replica_stat(path, &again, &err), PAPI_OK);
    assert_memory_equal(&again, &info, sizeof info);

    /* the replica serves lookups as the source does, byte for byte */
    papi_client *rep = NULL;
    char spec[160];
    snprintf(spec, sizeof spec, "sqlite:%s", path);
    rep = client_of(spec, ds_path, PAPI_OK, &err);
    const char *ids = "7,1,2999,5000";
    papi_result *a = NULL, *b = NULL;
    assert_int_equal(papi_lookup_list(src, "product", ids, strlen(ids), &a, &err), PAPI_OK);
    assert_int_equal(papi_lookup_list(rep, "product", ids, strlen(ids), &b, &err), PAPI_OK);
    assert_int_equal(papi_result_count(b), 3);
    assert_string_equal(papi_result_json(a, NULL), papi_result_json(b, NULL));
    papi_result_free(a);
    papi_result_free(b);
    papi_client_destroy(rep);

    /* the built-in dataset, with a key of 19 digits */
    path_in(path, sizeof path, "customers.db");
    assert_int_equal(sync_to(src, "customer", path, 0, &info, &err), PAPI_OK);
    assert_int_equal(info.rows, 3);
    assert_string_equal(info.watermark_column, "");
    snprintf(spec, sizeof spec, "sqlite:%s", path);
    rep = client_of(spec, NULL, PAPI_OK, &err);
    const char *big = "9223372036854775807";
    assert_int_equal(papi_lookup_list(rep, "customer", big, strlen(big), &b, &err), PAPI_OK);
    assert_int_equal(papi_result_count(b), 1);
    papi_result_free(b);
    papi_client_destroy(rep);

    /* a text key: a WITHOUT ROWID table, looked up as text */
    path_in(path, sizeof path, "words.db");
    assert_int_equal(sync_to(src, "word", path, 0, &info, &err), PAPI_OK);
    snprintf(spec, sizeof spec, "sqlite:%s", path);
    rep = client_of(spec, ds_path, PAPI_OK, &err);
    const char *w = "x' OR '1'='1,a";
    assert_int_equal(papi_lookup_list(rep, "word", w, strlen(w), &b, &err), PAPI_OK);
    assert_int_equal(papi_result_count(b), 2);
    papi_result_free(b);
    papi_client_destroy(rep);

    /* a number key past 64 bits cannot be a replica's key: a clear failure, no file */
    path_in(path, sizeof path, "big.db");
    assert_int_equal(sync_to(src, "big", path, 0, &info, &err), PAPI_EPROTO);
    assert_non_null(strstr(err.message, "does not fit a 64-bit integer"));
    assert_int_not_equal(access(path, F_OK), 0);
    assert_no_temp("big.db");
    papi_client_destroy(src);
}

static void incremental_sync_upserts_rows_past_the_watermark(void **state)
{
    (void)state;
    char path[128];
    path_in(path, sizeof path, "incremental.db");
    papi_client *src = source_client();
    papi_replica_info info;
    papi_error err = {0};
    assert_int_equal(sync_to(src, "product", path, 1, &info, &err), PAPI_OK);
    assert_int_equal(info.incremental, 0); /* no file yet: a full sync */
    assert_int_equal(info.rows, NPRODUCTS);
    int64_t full = info.full_unix_ms;

    /* three rows change (their update time moves on) and one is new */
    exec_file(src_db, "UPDATE products SET P_NAME = 'renamed ' || P_ID, "
                      "P_UPDATED = '2024-02-01T00:00:0' || (P_ID % 10) || '.000Z' "
                      "WHERE P_ID IN (5, 1500, 2999);"
                      "INSERT INTO products VALUES (3001, 'new', '1.00', "
                      "'2024-02-01T00:00:09.000Z', 3001)");
    assert_int_equal(sync_to(src, "product", path, 1, &info, &err), PAPI_OK);
    assert_int_equal(info.incremental, 1);
    assert_int_equal(info.rows_synced, 4);
    assert_int_equal(info.rows, NPRODUCTS + 1);
    assert_string_equal(info.watermark, "2024-02-01T00:00:09.000Z");
    assert_int_equal(info.full_unix_ms, full);
    assert_same_rows(src_db, path, products_sql);
    assert_no_temp("incremental.db");

    /* nothing new: no row, the watermark stays */
    assert_int_equal(sync_to(src, "product", path, 1, &info, &err), PAPI_OK);
    assert_int_equal(info.rows_synced, 0);
    assert_string_equal(info.watermark, "2024-02-01T00:00:09.000Z");

    /* back as it was, for the other tests */
    exec_file(src_db, "DELETE FROM products WHERE P_ID = 3001;"
                      "UPDATE products SET P_NAME = 'product ' || P_ID, P_UPDATED = "
                      "printf('2024-01-01T00:%02d:%02d.000Z', P_ID / 60 % 60, P_ID % 60) "
                      "WHERE P_ID IN (5, 1500, 2999)");
    papi_client_destroy(src);
}

/* Each bad input: PAPI_ECONFIG, a message saying what, the file there left as it was. */
static void bad_inputs_overwrite_nothing(void **state)
{
    (void)state;
    papi_client *src = source_client();
    papi_replica_info info;
    papi_error err = {0};
    char path[128], other[128];

    path_in(path, sizeof path, "no/such/folder/r.db");
    assert_int_equal(sync_to(src, "product", path, 0, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "does not exist"));

    /* a replica of another dataset */
    path_in(other, sizeof other, "customers-only.db");
    assert_int_equal(sync_to(src, "customer", other, 0, &info, &err), PAPI_OK);
    size_t len = 0;
    char *before = slurp(other, &len);
    assert_int_equal(sync_to(src, "product", other, 0, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "replica of dataset customer, not of product"));
    assert_non_null(strstr(err.message, "not overwritten"));
    assert_same_bytes(other, before, len);
    free(before);

    /* the demo database (no metadata), and a text file */
    assert_int_equal(sync_to(src, "customer", src_db, 0, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "not a papi replica"));
    path_in(path, sizeof path, "notes.txt");
    write_file(path, "not a database");
    assert_int_equal(sync_to(src, "product", path, 0, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "not a database"));

    /* a replica of the same dataset with another shape */
    path_in(path, sizeof path, "shape.db");
    assert_int_equal(sync_to(src, "product", path, 0, &info, &err), PAPI_OK);
    before = slurp(path, &len);
    papi_client *narrow = client_of(src_spec, ds_other, PAPI_OK, &err);
    assert_int_equal(sync_to(narrow, "product", path, 0, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "another shape"));
    assert_non_null(strstr(err.message, "column 3 is 'P_PRICE decimal' in the file, "
                                        "'P_SEQ number' in the dataset"));
    assert_same_bytes(path, before, len);
    papi_client_destroy(narrow);

    /* truncated: the first half of a replica */
    char cut[128];
    path_in(cut, sizeof cut, "cut.db");
    FILE *f = fopen(cut, "wb");
    assert_non_null(f);
    fwrite(before, 1, len / 2, f);
    fclose(f);
    char *cut_bytes = slurp(cut, &len);
    assert_int_equal(sync_to(src, "product", cut, 0, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "truncated"));
    assert_same_bytes(cut, cut_bytes, len);
    free(cut_bytes);

    /* corrupt: a page of the table overwritten with garbage */
    size_t full_len = 0;
    char *bytes = slurp(path, &full_len);
    memset(bytes + 16 * 4096, 0x5a, 4096); /* a leaf of the table */
    path_in(cut, sizeof cut, "corrupt.db");
    f = fopen(cut, "wb");
    assert_non_null(f);
    fwrite(bytes, 1, full_len, f);
    fclose(f);
    assert_int_equal(sync_to(src, "product", cut, 0, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "corrupt"));
    assert_same_bytes(cut, bytes, full_len);
    free(bytes);
    free(before);

    /* incremental for a dataset without a watermark */
    path_in(path, sizeof path, "customers-inc.db");
    assert_int_equal(sync_to(src, "customer", path, 1, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "watermark"));
    assert_int_not_equal(access(path, F_OK), 0);
    assert_no_temp("customers-inc.db");
    papi_client_destroy(src);
}

/* The sqlite source checks the file at open: a replica of a dataset the client does not serve
 * or of another shape, a truncated or corrupt file. */
static void source_refuses_foreign_or_damaged_replicas(void **state)
{
    (void)state;
    papi_client *src = source_client();
    papi_replica_info info;
    papi_error err = {0};
    char path[128], spec[160];
    path_in(path, sizeof path, "served.db");
    assert_int_equal(sync_to(src, "product", path, 0, &info, &err), PAPI_OK);
    papi_client_destroy(src);
    snprintf(spec, sizeof spec, "sqlite:%s", path);

    assert_null(client_of(spec, NULL, PAPI_ECONFIG, &err)); /* customer only */
    assert_non_null(strstr(err.message, "served.db"));
    assert_non_null(strstr(err.message, "replica of dataset product, which this client does not "
                                        "serve"));
    assert_null(client_of(spec, ds_other, PAPI_ECONFIG, &err));
    assert_non_null(strstr(err.message, "another shape"));
    papi_client_destroy(client_of(spec, ds_path, PAPI_OK, &err));

    size_t len = 0;
    char *bytes = slurp(path, &len);
    char bad[128];
    path_in(bad, sizeof bad, "served-cut.db");
    FILE *f = fopen(bad, "wb");
    fwrite(bytes, 1, len - 4096, f);
    fclose(f);
    snprintf(spec, sizeof spec, "sqlite:%s", bad);
    assert_null(client_of(spec, ds_path, PAPI_ECONFIG, &err));
    assert_non_null(strstr(err.message, "truncated"));

    memset(bytes + 16 * 4096, 0xa5, 4096); /* a leaf of the table */
    f = fopen(bad, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    assert_null(client_of(spec, ds_path, PAPI_ECONFIG, &err));
    assert_non_null(strstr(err.message, "corrupt"));
    free(bytes);
}

/* A FIFO at the path (no writer on the other end) is refused at once, not waited on: as the
 * served file, by papi_replica_stat() and by a sync onto it. The alarm fails a hang. */
static void a_fifo_is_refused_without_waiting(void **state)
{
    (void)state;
    char path[128], spec[160];
    path_in(path, sizeof path, "fifo.db");
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(20);
    papi_error err = {0};
    snprintf(spec, sizeof spec, "sqlite:%s", path);
    assert_null(client_of(spec, NULL, PAPI_ECONFIG, &err));
    assert_non_null(strstr(err.message, "not a regular file"));
    papi_replica_info info = {.struct_size = sizeof info};
    assert_int_equal(papi_replica_stat(path, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "not a regular file"));
    papi_client *src = source_client();
    assert_int_equal(sync_to(src, "customer", path, 0, &info, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "not a regular file"));
    papi_client_destroy(src);
    alarm(0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode)); /* not overwritten */
    unlink(path);
}

static int stop_after_first(void *user, uint64_t rows, uint64_t partitions, uint64_t npartitions)
{
    (void)rows, (void)partitions, (void)npartitions;
    int *calls = user;
    return ++*calls >= 1;
}

static void a_stopped_sync_leaves_the_old_file(void **state)
{
    (void)state;
    papi_client *src = source_client();
    char path[128];
    path_in(path, sizeof path, "stopped.db");
    papi_replica_info info;
    papi_error err = {0};
    assert_int_equal(sync_to(src, "customer", path, 0, &info, &err), PAPI_OK);
    size_t len = 0;
    char *before = slurp(path, &len);
    int calls = 0;
    papi_replica_opts o = {
        .struct_size = sizeof o, .progress = stop_after_first, .progress_user = &calls};
    assert_int_equal(papi_replica_sync(src, "product", path, &o, NULL, &err), PAPI_ECONFIG);
    path_in(path, sizeof path, "stopped-products.db");
    assert_int_equal(papi_replica_sync(src, "product", path, &o, NULL, &err), PAPI_ETIMEDOUT);
    assert_non_null(strstr(err.message, "stopped by its caller"));
    assert_true(calls >= 1);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_no_temp("stopped-products.db");
    free(before);
    papi_client_destroy(src);
}

typedef struct collected {
    size_t rows;
    size_t partitions;
    char first[32];
} collected;

static papi_status collect_row(void *user, const char *const *cells, const size_t *lens, size_t n,
                               papi_error *err)
{
    (void)err, (void)n;
    collected *c = user;
    if (c->rows++ == 0)
        snprintf(c->first, sizeof c->first, "%.*s", (int)lens[0], cells[0]);
    return PAPI_OK;
}

static void collect_partition(void *user, size_t index, size_t npartitions, uint64_t rows)
{
    (void)index, (void)npartitions, (void)rows;
    ((collected *)user)->partitions++;
}

static void scan_binds_the_watermark(void **state)
{
    (void)state;
    papi_client *src = source_client();
    papi_error err = {0};
    collected c = {0};
    papi_scan_sink sink = {
        .struct_size = sizeof sink, .user = &c, .row = collect_row, .partition = collect_partition};
    char qid[64] = "x";
    assert_int_equal(papi_client_scan(src, "product", NULL, &sink, 0, qid, sizeof qid, &err),
                     PAPI_OK);
    assert_int_equal(c.rows, NPRODUCTS);
    assert_string_equal(c.first, "1"); /* ORDER BY the key */
    assert_true(c.partitions >= 1);
    assert_string_equal(qid, "");
    memset(&c, 0, sizeof c);
    /* a value that is also an injection attempt: bound, so it only compares */
    assert_int_equal(papi_client_scan(src, "product", "2024-01-01T00:49:58.000Z' OR '1'='1", &sink,
                                      0, NULL, 0, &err),
                     PAPI_OK);
    assert_int_equal(c.rows, 2); /* 00:49:59 and 00:50:00 (products 2999 and 3000) */
    assert_int_equal(papi_client_scan(src, "customer", "1", &sink, 0, NULL, 0, &err), PAPI_ECONFIG);
    assert_int_equal(papi_client_scan(src, "nope", NULL, &sink, 0, NULL, 0, &err), PAPI_ENODATASET);
    papi_scan_sink no_row = {.struct_size = sizeof no_row};
    assert_int_equal(papi_client_scan(src, "product", NULL, &no_row, 0, NULL, 0, &err),
                     PAPI_EINVAL);
    papi_client_destroy(src);
}

/* ------------------------------------------------------------- a version-2 transport */

static papi_status v2_open(const char *spec, const papi_config *cfg, const papi_host *host,
                           void *user, void **state, papi_error *err)
{
    (void)spec, (void)cfg, (void)host, (void)user, (void)err;
    *state = NULL;
    return PAPI_OK;
}

static papi_status v2_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                            papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    (void)state, (void)ds, (void)keys, (void)n, (void)sink, (void)deadline_ms, (void)err;
    return PAPI_OK;
}

static void a_version_2_transport_attaches_and_cannot_scan(void **state)
{
    (void)state;
    papi_transport_backend t = {.abi_version = 2,
                                .struct_size = offsetof(papi_transport_backend, scan),
                                .name = "old",
                                .open = v2_open,
                                .fetch = v2_fetch};
    papi_config *cfg = NULL;
    papi_error err = {0};
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(papi_config_set_transport(cfg, &t, "old", NULL), PAPI_OK);
    papi_client *c = NULL;
    assert_int_equal(papi_client_create(cfg, &c, &err), PAPI_OK);
    papi_config_destroy(cfg);
    collected got = {0};
    papi_scan_sink sink = {.struct_size = sizeof sink, .user = &got, .row = collect_row};
    assert_int_equal(papi_client_scan(c, "customer", NULL, &sink, 0, NULL, 0, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "the old source cannot scan"));
    char path[128];
    path_in(path, sizeof path, "never.db");
    assert_int_equal(papi_replica_sync(c, "customer", path, NULL, NULL, &err), PAPI_ECONFIG);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_no_temp("never.db");
    papi_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_sync_copies_every_row_with_metadata),
        cmocka_unit_test(incremental_sync_upserts_rows_past_the_watermark),
        cmocka_unit_test(bad_inputs_overwrite_nothing),
        cmocka_unit_test(source_refuses_foreign_or_damaged_replicas),
        cmocka_unit_test(a_fifo_is_refused_without_waiting),
        cmocka_unit_test(a_stopped_sync_leaves_the_old_file),
        cmocka_unit_test(scan_binds_the_watermark),
        cmocka_unit_test(a_version_2_transport_attaches_and_cannot_scan),
    };
    return cmocka_run_group_tests_name("replica", tests, setup, teardown);
}
