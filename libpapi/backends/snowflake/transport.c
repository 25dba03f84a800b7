/* The `snowflake` transport: one SQL API statement per fetch (bind variables only), credentials
 * chosen by what is configured, retries with the same requestId, 202 polling, partitions; and
 * the scan of a whole table for replica syncs, a partition at a time. Written against
 * papi_backend.h; one statement's requests in sfstmt.c, wire format in sfapi.c, credentials in
 * sfauth.c (keys in jwt.c), connections in http.c. */
#include "snowflake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* an X-Small warehouse runs 8 statements at once (MAX_CONCURRENCY_LEVEL) */
#define SF_DEFAULT_CONCURRENCY 8
/* Snowflake's longest statement timeout (STATEMENT_TIMEOUT_IN_SECONDS): 7 days */
#define SF_MAX_TIMEOUT_S 604800

typedef papi__sf sf;

/* An integer option, checked by its descriptor when set (options.c); dflt when it has no value. */
static int64_t int_opt(const papi_config *cfg, const char *key, int64_t dflt)
{
    int64_t v;
    return papi_config_get_int(cfg, key, &v) == PAPI_OK ? v : dflt;
}

static papi_status sink_row(void *user, const char *const *cells, const size_t *lens, size_t n,
                            papi_error *err)
{
    return papi_sink_row(user, cells, lens, n, err);
}

/* The columns the result must carry: the dataset's, in order. Frees with expect_free. */
static bool expect_of(const papi_dataset *ds, papi__sf_expect *e)
{
    size_t ncols = papi_dataset_column_count(ds);
    const char **names = calloc(ncols ? ncols : 1, sizeof *names);
    papi_column_type *types = calloc(ncols ? ncols : 1, sizeof *types);
    if (!names || !types) {
        free(names);
        free(types);
        return false;
    }
    for (size_t i = 0; i < ncols; i++) {
        names[i] = papi_dataset_column_name(ds, i);
        types[i] = papi_dataset_column_type(ds, i);
    }
    *e = (papi__sf_expect){.ncols = ncols, .names = names, .types = types};
    return true;
}

static void expect_free(papi__sf_expect *e)
{
    free((void *)e->names);
    free((void *)e->types);
}

static size_t bucket(size_t n)
{
    /* few distinct statement texts, so plans can be reused (4.3): powers of two up to the
     * dispatcher's default batch of 256, then multiples of 256 up to max-batch */
    size_t b = 1;
    while (b < n && b < 256)
        b <<= 1;
    return n <= 256 ? b : (n + 255) / 256 * 256;
}

static papi_status sf_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                            papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    sf *s = state;
    if (n == 0)
        return PAPI_OK;
    size_t nparams = bucket(n);
    papi_buf body;
    papi_buf_init(&body);
    papi__sf_expect expect = {0};
    size_t need = papi_dataset_select_sql(ds, NULL, nparams, NULL, 0);
    char *sql = malloc(need + 1);
    if (!sql || !expect_of(ds, &expect)) {
        free(sql);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    papi_dataset_select_sql(ds, NULL, nparams, sql, need + 1);
    papi__sf_call c = {.s = s, .expect = &expect, .row = sink_row, .row_user = sink};
    /* a lookup of n keys: at most n rows at their widest */
    papi__sf_lookup_limits(&expect, n, s->max_cell_bytes, deadline_ms, &c.lim);
    c.lim.clock = s->host;
    papi_status st = papi__sf_statement_body(&s->ctx, sql, papi_dataset_key_type(ds), keys, n,
                                             nparams, &body, err);
    if (st == PAPI_OK)
        st = papi__sf_run(&c, body.data, body.len, err);
    papi_buf_free(&body);
    free(sql);
    expect_free(&expect);
    return st;
}

/* A scan's row: each cell within scan-max-cell-bytes, then to the caller's sink. */
static papi_status scan_row(void *user, const char *const *cells, const size_t *lens, size_t n,
                            papi_error *err)
{
    papi__sf_call *c = user;
    for (size_t i = 0; i < n; i++)
        if (cells[i] && lens[i] > c->s->scan_cell_bytes)
            return papi_error_set(err, PAPI_EPROTO,
                                  "column %zu of a row holds %zu bytes, more than "
                                  "scan-max-cell-bytes (%zu)",
                                  i + 1, lens[i], c->s->scan_cell_bytes);
    c->rows++;
    return c->scan->row(c->scan->user, cells, lens, n, err);
}

/* The statement body of a scan: the watermark bound as FIXED for a number column (as Snowflake
 * compares numbers), else as TEXT, which Snowflake casts to the column's type; and a statement
 * timeout as long as the scan's budget, not a lookup's. */
static papi_status scan_body(sf *s, const papi_dataset *ds, const char *sql, const char *after,
                             int64_t deadline_ms, papi_buf *body, papi_error *err)
{
    papi__sf_context ctx = s->ctx;
    int64_t left_s = (deadline_ms - papi_host_now_ms(s->host)) / 1000;
    ctx.timeout_s = left_s < 1 ? 1 : left_s > SF_MAX_TIMEOUT_S ? SF_MAX_TIMEOUT_S : left_s;
    if (!after)
        return papi__sf_statement_body(&ctx, sql, PAPI_KEY_TEXT, NULL, 0, 0, body, err);
    papi_key k = {after, strlen(after)};
    bool digits = k.len > (after[0] == '-') && k.len <= 39;
    for (size_t i = after[0] == '-'; digits && i < k.len; i++)
        digits = after[i] >= '0' && after[i] <= '9';
    bool number = papi_dataset_column_type(ds, papi_dataset_watermark_index(ds)) == PAPI_COL_NUMBER;
    return papi__sf_statement_body(&ctx, sql, number && digits ? PAPI_KEY_NUMBER : PAPI_KEY_TEXT,
                                   &k, 1, 1, body, err);
}

static papi_status sf_scan(void *state, const papi_dataset *ds, const char *watermark_after,
                           const papi_scan_sink *sink, int64_t deadline_ms, char *query_id,
                           size_t query_id_cap, papi_error *err)
{
    sf *s = state;
    if (query_id && query_id_cap)
        query_id[0] = '\0';
    size_t need = papi_dataset_scan_sql(ds, NULL, watermark_after != NULL, NULL, 0);
    if (need == 0)
        return papi_error_set(err, PAPI_ECONFIG, "dataset %s has no watermark column",
                              papi_dataset_name(ds));
    papi__sf_expect expect = {0};
    char *sql = malloc(need + 1);
    if (!sql || !expect_of(ds, &expect)) {
        free(sql);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    papi_dataset_scan_sql(ds, NULL, watermark_after != NULL, sql, need + 1);
    /* no total: one partition is held at a time, each within its own cap */
    papi__sf_call c = {.s = s,
                       .expect = &expect,
                       .row = scan_row,
                       .scan = sink,
                       .lim = {.max_body_bytes = SIZE_MAX,
                               .max_partitions = PAPI__SF_SCAN_MAX_PARTITIONS,
                               .deadline_ms = deadline_ms,
                               .clock = s->host,
                               .max_answer_bytes = s->scan_partition_bytes}};
    c.row_user = &c;
    papi_buf body;
    papi_buf_init(&body);
    papi_status st = scan_body(s, ds, sql, watermark_after, deadline_ms, &body, err);
    if (st == PAPI_OK)
        st = papi__sf_run(&c, body.data, body.len, err);
    if (query_id && query_id_cap)
        papi_strlcpy(query_id, c.handle[0] ? c.handle : (err ? err->query_id : ""), query_id_cap);
    papi_buf_free(&body);
    free(sql);
    expect_free(&expect);
    return st;
}

static papi_status sf_ping(void *state, int64_t deadline_ms, papi_error *err)
{
    sf *s = state;
    json_t *o =
        json_pack("{s:s, s:I}", "statement", "SELECT 1", "timeout", (json_int_t)s->ctx.timeout_s);
    const char *names[] = {"database", "schema", "warehouse", "role"};
    const char *vals[] = {s->database, s->schema, s->warehouse, s->role};
    for (size_t i = 0; o && i < 4; i++)
        if (vals[i])
            json_object_set_new(o, names[i], json_string(vals[i]));
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    papi__sf_call c = {.s = s,
                       .lim = {.max_body_bytes = PAPI__SF_BODY_FLOOR_BYTES,
                               .max_partitions = 1,
                               .deadline_ms = deadline_ms,
                               .clock = s->host}};
    papi_status st = papi__sf_run(&c, body, strlen(body), err);
    free(body);
    return st;
}

static void sf_close(void *state)
{
    sf *s = state;
    if (!s)
        return;
    papi__http_destroy(s->http);
    papi__sf_auth_destroy(s->auth);
    free(s->base_url);
    free(s->database);
    free(s->schema);
    free(s->warehouse);
    free(s->role);
    free(s);
}

/* pool-size, raised to the fetches the dispatcher keeps in flight (source-concurrency, 8 when
 * unset): a fetch that finds no handle waits for one, so a smaller pool would cap concurrency
 * below what was asked for, silently. */
static size_t pool_size(const papi_config *cfg)
{
    int64_t pool = int_opt(cfg, "pool-size", 8);
    int64_t concurrency = int_opt(cfg, "source-concurrency", SF_DEFAULT_CONCURRENCY);
    if (pool < 1)
        pool = 8;
    return (size_t)(concurrency > pool ? concurrency : pool);
}

static papi_status sf_open(const char *spec, const papi_config *cfg, const papi_host *host,
                           void *user, void **state, papi_error *err)
{
    (void)spec;
    (void)user;
    *state = NULL;
    sf *s = calloc(1, sizeof *s);
    if (!s)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    s->host = host;
    /* the SQL API compares names as stored, uppercase unless quoted (snowflake-sql-api 4.2) */
    static const char *const ctx_opts[] = {"snowflake-database", "snowflake-schema",
                                           "snowflake-warehouse", "snowflake-role"};
    char **ctx_names[] = {&s->database, &s->schema, &s->warehouse, &s->role};
    papi_status st = PAPI_OK;
    for (size_t i = 0; i < 4 && st == PAPI_OK; i++)
        st = papi__sf_context_name(ctx_opts[i], papi_config_get(cfg, ctx_opts[i]), ctx_names[i],
                                   err);
    s->ctx = (papi__sf_context){.database = s->database,
                                .schema = s->schema,
                                .warehouse = s->warehouse,
                                .role = s->role,
                                .timeout_s = int_opt(cfg, "statement-timeout", 10)};
    s->max_attempts = (int)int_opt(cfg, "max-attempts", 4);
    if (s->max_attempts < 1)
        s->max_attempts = 1;
    s->max_cell_bytes = (size_t)int_opt(cfg, "max-cell-bytes", 8192);
    s->scan_partition_bytes = (size_t)int_opt(cfg, "scan-max-partition-bytes", 134217728);
    s->scan_cell_bytes = (size_t)int_opt(cfg, "scan-max-cell-bytes", 16777216);
    char ua[64];
    snprintf(ua, sizeof ua, "papi/%s", papi_version());
    papi__http_opts hopts = {.pool_size = pool_size(cfg),
                             .connect_timeout_ms = int_opt(cfg, "connect-timeout-ms", 3000),
                             .max_body_bytes = PAPI__SF_MAX_BODY_BYTES,
                             .user_agent = ua,
                             .ca_file = papi_config_get(cfg, "snowflake-ca-file"),
                             .clock = host};
    if (st == PAPI_OK)
        st = papi__sf_base_url(cfg, &s->base_url, err);
    if (st == PAPI_OK)
        st = papi__sf_auth_create(cfg, host, NULL, &s->auth, err);
    if (st == PAPI_OK)
        st = papi__http_create(&hopts, &s->http, err);
    if (st != PAPI_OK) {
        sf_close(s);
        return st;
    }
    papi_host_logf(host, PAPI_LOG_INFO, "snowflake: %s, auth %s, pool %zu", s->base_url,
                   papi__sf_auth_token_type(s->auth), hopts.pool_size);
    *state = s;
    return PAPI_OK;
}

/* The default source (papi.h, papi_config_get): an account is configured, or we run inside SPCS,
 * which mounts the session token file in every container. */
static int sf_detect(const papi_config *cfg)
{
    const char *account = papi_config_get(cfg, "snowflake-account");
    return (account && *account) || access(PAPI__SF_SESSION_TOKEN_PATH, F_OK) == 0;
}

/* Found by name in libpapi/backends.c. */
const papi_transport_backend papi__transport_snowflake = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "snowflake",
    .flags = 0,
    .open = sf_open,
    .close = sf_close,
    .fetch = sf_fetch,
    .ping = sf_ping,
    .default_concurrency = SF_DEFAULT_CONCURRENCY,
    .options = papi__snowflake_options,
    .noptions = PAPI__SNOWFLAKE_NOPTIONS,
    .detect = sf_detect,
    .scan = sf_scan,
};
