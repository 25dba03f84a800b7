/* The `snowflake` transport: one SQL API statement per fetch (bind variables only), credentials
 * chosen by what is configured, retries with the same requestId, 202 polling, partitions.
 * Written against papi_backend.h; wire format in sfapi.c, credentials in sfauth.c (keys in jwt.c),
 * connections in http.c. */
#include "snowflake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#define MAX_BODY_BYTES (64u << 20)
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 2000
#define POLL_FIRST_MS 50
#define POLL_CAP_MS 1000
#define CANCEL_GRACE_MS 1000

typedef struct sf {
    papi__http *http;
    papi_host host;
    bool has_host;
    char *base_url;
    char *database, *schema, *warehouse, *role;
    papi__sf_context ctx;
    int max_attempts;
    papi__sf_auth *auth;
} sf;

typedef struct call {
    sf *s;
    const papi__sf_expect *expect; /* NULL: ping, rows not wanted */
    papi_row_sink *sink;
    int64_t deadline_ms;
    papi__http_response resp;
    papi__buf auth;       /* "Authorization: Bearer ..." */
    uint64_t auth_gen;
    bool auth_renewed;    /* a 401 renews once per fetch */
} call;

static char *dup_opt(const papi_config *cfg, const char *key)
{
    const char *v = papi_config_get(cfg, key);
    return v && *v ? strdup(v) : NULL;
}

static int64_t int_opt(const papi_config *cfg, const char *key, int64_t dflt)
{
    const char *v = papi_config_get(cfg, key);
    char *end;
    if (!v || !*v)
        return dflt;
    long long x = strtoll(v, &end, 10);
    return *end ? dflt : x;
}

static papi_status credential(call *c, bool force, papi_error *err)
{
    return papi__sf_auth_header(c->s->auth, force, &c->auth_gen, &c->auth, err);
}

/* ---------------------------------------------------------------- requests */

static papi_status exchange(call *c, const char *method, const char *url, const char *body,
                            size_t body_len, int64_t deadline_ms, papi_error *err)
{
    char type[80];
    snprintf(type, sizeof type, "X-Snowflake-Authorization-Token-Type: %s", papi__sf_auth_token_type(c->s->auth));
    const char *headers[] = {papi__buf_cstr(&c->auth), type, "Content-Type: application/json",
                             "Accept: application/json"};
    papi__http_request req = {.method = method, .url = url, .headers = headers,
                              .nheaders = 4, .body = body, .body_len = body_len,
                              .deadline_ms = deadline_ms};
    return papi__http_do(c->s->http, &req, &c->resp, err);
}

static uint32_t random_u32(void)
{
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint32_t)papi_now_ms() * 2654435761u;
    return r;
}

static void uuid4(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)random_u32();
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Full jitter (snowflake-sql-api.md 6), at least Retry-After; false when the wait would pass the
 * deadline, so the caller stops instead of sleeping in vain. */
static bool backoff(call *c, int attempt, int32_t retry_after_s)
{
    int64_t ceiling = BACKOFF_BASE_MS << (attempt < 5 ? attempt : 5);
    if (ceiling > BACKOFF_CAP_MS)
        ceiling = BACKOFF_CAP_MS;
    int64_t delay = (int64_t)(random_u32() % (uint32_t)(ceiling + 1));
    if (retry_after_s > 0 && delay < (int64_t)retry_after_s * 1000)
        delay = (int64_t)retry_after_s * 1000;
    if (papi_now_ms() + delay >= c->deadline_ms)
        return false;
    papi_host_logf(c->s->has_host ? &c->s->host : NULL, PAPI_LOG_WARN,
                   "snowflake: HTTP %ld, retrying in %lld ms (attempt %d)", c->resp.status,
                   (long long)delay, attempt + 1);
    sleep_ms(delay);
    return true;
}

static bool retryable_status(long s)
{
    return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static papi_status http_failure(call *c, papi_error *err)
{
    papi__sf_error e;
    papi__sf_parse_error(c->resp.body.data ? c->resp.body.data : "", c->resp.body.len, &e);
    long hs = c->resp.status;
    papi_status st = hs == 401 || hs == 403 ? PAPI_EAUTH
                     : hs == 408            ? PAPI_ETIMEDOUT
                     : retryable_status(hs) || hs >= 500 ? PAPI_EUNAVAIL
                     : hs >= 400                          ? PAPI_ESOURCE
                                                          : PAPI_EPROTO;
    const char *hint = "";
    if (hs == 401 && papi__sf_auth_get_kind(c->s->auth) == PAPI__SF_AUTH_JWT)
        hint = " (check account in org-account form, user, and the registered key fingerprint)";
    else if (hs == 401)
        hint = " (token invalid or expired)";
    papi_error_set(err, st, "Snowflake answered HTTP %ld%s%s%s%s%s", hs, e.code[0] ? " code " : "",
                   e.code, e.message[0] ? ": " : "", e.message, hint);
    papi__error_source(err, (int)hs, e.code, e.sql_state);
    if (err && retryable_status(hs))
        err->retry_after_s = c->resp.retry_after_s;
    return st;
}

/* One logical request with the retry policy of section 6. POSTs of a statement pass retry_url:
 * the same requestId with retry=true, so Snowflake never runs it twice. Returns PAPI_OK with a
 * non-retryable answer in c->resp (2xx or an error status the caller maps). */
static papi_status send_with_retry(call *c, const char *method, const char *url,
                                   const char *retry_url, const char *body, size_t body_len,
                                   papi_error *err)
{
    papi_status st = PAPI_OK;
    for (int attempt = 0;; attempt++) {
        if ((st = credential(c, false, err)) != PAPI_OK)
            return st;
        st = exchange(c, method, attempt > 0 && retry_url ? retry_url : url, body, body_len,
                      c->deadline_ms, err);
        if (st == PAPI_OK && c->resp.status == 401 && !c->auth_renewed &&
            papi__sf_auth_renewable(c->s->auth)) {
            c->auth_renewed = true; /* expired or rotated credential: renew once, no backoff */
            if ((st = credential(c, true, err)) != PAPI_OK)
                return st;
            attempt--;
            continue;
        }
        if (st == PAPI_OK && !retryable_status(c->resp.status))
            return PAPI_OK;
        if (st != PAPI_OK && (st != PAPI_EUNAVAIL || c->resp.permanent))
            return st; /* deadline, body too big, out of memory, untrusted certificate */
        bool more = attempt + 1 < c->s->max_attempts &&
                    backoff(c, attempt, st == PAPI_OK ? c->resp.retry_after_s : 0);
        if (!more) {
            if (st == PAPI_OK)
                return http_failure(c, err);
            if (papi_now_ms() >= c->deadline_ms - 1)
                return papi_error_set(err, PAPI_ETIMEDOUT, "Snowflake did not answer in time");
            return st; /* EUNAVAIL with the connection error */
        }
    }
}

/* ---------------------------------------------------------------- results */

static papi_status sink_row(void *user, const char *const *cells, const size_t *lens, size_t n,
                            papi_error *err)
{
    return papi_sink_row(user, cells, lens, n, err);
}

static papi_status take_result(call *c, papi_error *err)
{
    if (!c->expect) { /* ping: any well-formed result will do */
        json_t *root = json_loadb(c->resp.body.data ? c->resp.body.data : "", c->resp.body.len, 0,
                                  NULL);
        bool ok = json_is_object(root) && json_object_get(root, "resultSetMetaData");
        json_decref(root);
        return ok ? PAPI_OK : papi_error_set(err, PAPI_EPROTO, "malformed answer to SELECT 1");
    }
    papi__sf_result r;
    papi_status st = papi__sf_parse_result(c->resp.body.data ? c->resp.body.data : "",
                                           c->resp.body.len, c->expect, &r, err);
    if (st != PAPI_OK)
        return st;
    st = papi__sf_emit_rows(&r, r.data, r.row_counts[0], sink_row, c->sink, err);
    /* later partitions carry no metadata and come gzip-encoded (5.5): fetch each by handle */
    for (size_t i = 1; st == PAPI_OK && i < r.npartitions; i++) {
        char url[512];
        snprintf(url, sizeof url, "%s/api/v2/statements/%s?partition=%zu", c->s->base_url,
                 r.handle, i);
        if ((st = send_with_retry(c, "GET", url, NULL, NULL, 0, err)) != PAPI_OK)
            break;
        if (c->resp.status != 200) {
            st = http_failure(c, err);
            break;
        }
        json_t *rows = NULL;
        st = papi__sf_parse_partition(c->resp.body.data ? c->resp.body.data : "",
                                      c->resp.body.len, &rows, err);
        if (st == PAPI_OK)
            st = papi__sf_emit_rows(&r, rows, r.row_counts[i], sink_row, c->sink, err);
        json_decref(rows);
    }
    papi__sf_result_free(&r);
    return st;
}

static void cancel(call *c, const char *handle)
{
    char url[512];
    snprintf(url, sizeof url, "%s/api/v2/statements/%s/cancel", c->s->base_url, handle);
    papi_error ignored;
    (void)exchange(c, "POST", url, "{}", 2, papi_now_ms() + CANCEL_GRACE_MS, &ignored);
}

/* 202: poll statementStatusUrl with a growing delay until done or the deadline, then cancel. */
static papi_status poll(call *c, papi_error *err)
{
    char handle[128], path[400], url[600];
    papi_status st = papi__sf_parse_status(c->resp.body.data ? c->resp.body.data : "",
                                           c->resp.body.len, handle, sizeof handle, path,
                                           sizeof path, err);
    if (st != PAPI_OK)
        return st;
    snprintf(url, sizeof url, "%s%s", c->s->base_url, path);
    int64_t delay = POLL_FIRST_MS;
    for (;;) {
        if (papi_now_ms() + delay >= c->deadline_ms) {
            cancel(c, handle);
            return papi_error_set(err, PAPI_ETIMEDOUT,
                                  "statement still running at the deadline; cancelled");
        }
        sleep_ms(delay);
        delay = delay * 3 / 2 > POLL_CAP_MS ? POLL_CAP_MS : delay * 3 / 2;
        if ((st = credential(c, false, err)) != PAPI_OK)
            return st;
        st = exchange(c, "GET", url, NULL, 0, c->deadline_ms, err);
        if (st == PAPI_EUNAVAIL && !c->resp.permanent)
            continue;
        if (st == PAPI_ETIMEDOUT) {
            cancel(c, handle);
            return st;
        }
        if (st != PAPI_OK)
            return st;
        long hs = c->resp.status;
        if (hs == 200)
            return take_result(c, err);
        if (hs == 202 || retryable_status(hs)) /* 429 while polling: still running, slow down */
            continue;
        if (hs == 401 && !c->auth_renewed) {
            c->auth_renewed = true;
            if ((st = credential(c, true, err)) != PAPI_OK)
                return st;
            continue;
        }
        return http_failure(c, err);
    }
}

static papi_status run_statement(sf *s, const char *body, size_t body_len,
                                 const papi__sf_expect *expect, papi_row_sink *sink,
                                 int64_t deadline_ms, papi_error *err)
{
    call c = {.s = s, .expect = expect, .sink = sink, .deadline_ms = deadline_ms};
    papi__http_response_init(&c.resp);
    papi__buf_init(&c.auth);
    char rid[37], url[600], retry_url[640];
    uuid4(rid);
    snprintf(url, sizeof url, "%s/api/v2/statements?requestId=%s", s->base_url, rid);
    snprintf(retry_url, sizeof retry_url, "%s&retry=true", url);
    papi_status st = send_with_retry(&c, "POST", url, retry_url, body, body_len, err);
    if (st == PAPI_OK) {
        if (c.resp.status == 200)
            st = take_result(&c, err);
        else if (c.resp.status == 202)
            st = poll(&c, err);
        else
            st = http_failure(&c, err);
    }
    papi__http_response_free(&c.resp);
    papi__buf_free(&c.auth);
    return st;
}

/* ---------------------------------------------------------------- the backend */

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
    size_t ncols = papi_dataset_column_count(ds);
    const char **names = calloc(ncols ? ncols : 1, sizeof *names);
    papi_column_type *types = calloc(ncols ? ncols : 1, sizeof *types);
    papi__buf body;
    papi__buf_init(&body);
    char *sql = NULL;
    papi_status st;
    size_t need = papi_dataset_select_sql(ds, NULL, nparams, NULL, 0);
    if (!names || !types || !(sql = malloc(need + 1))) {
        st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
        goto done;
    }
    papi_dataset_select_sql(ds, NULL, nparams, sql, need + 1);
    for (size_t i = 0; i < ncols; i++) {
        names[i] = papi_dataset_column_name(ds, i);
        types[i] = papi_dataset_column_type(ds, i);
    }
    papi__sf_expect expect = {.ncols = ncols, .names = names, .types = types};
    st = papi__sf_statement_body(&s->ctx, sql, papi_dataset_key_type(ds), keys, n, nparams, &body,
                                 err);
    if (st == PAPI_OK)
        st = run_statement(s, body.data, body.len, &expect, sink, deadline_ms, err);
done:
    papi__buf_free(&body);
    free(sql);
    free(names);
    free(types);
    return st;
}

static papi_status sf_ping(void *state, int64_t deadline_ms, papi_error *err)
{
    sf *s = state;
    json_t *o = json_pack("{s:s, s:I}", "statement", "SELECT 1", "timeout",
                          (json_int_t)s->ctx.timeout_s);
    const char *names[] = {"database", "schema", "warehouse", "role"};
    const char *vals[] = {s->database, s->schema, s->warehouse, s->role};
    for (size_t i = 0; o && i < 4; i++)
        if (vals[i])
            json_object_set_new(o, names[i], json_string(vals[i]));
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    papi_status st = run_statement(s, body, strlen(body), NULL, NULL, deadline_ms, err);
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

static papi_status sf_open(const char *spec, const papi_config *cfg, const papi_host *host,
                           void *user, void **state, papi_error *err)
{
    (void)spec;
    (void)user;
    *state = NULL;
    sf *s = calloc(1, sizeof *s);
    if (!s)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    if (host) {
        s->host = *host;
        s->has_host = true;
    }
    s->database = dup_opt(cfg, "snowflake-database");
    s->schema = dup_opt(cfg, "snowflake-schema");
    s->warehouse = dup_opt(cfg, "snowflake-warehouse");
    s->role = dup_opt(cfg, "snowflake-role");
    /* case is passed as given: Snowflake stores unquoted names uppercase (snowflake-sql-api 4.2) */
    s->ctx = (papi__sf_context){.database = s->database, .schema = s->schema,
                                .warehouse = s->warehouse, .role = s->role,
                                .timeout_s = int_opt(cfg, "statement-timeout", 10)};
    s->max_attempts = (int)int_opt(cfg, "max-attempts", 4);
    if (s->max_attempts < 1)
        s->max_attempts = 1;
    char ua[64];
    snprintf(ua, sizeof ua, "papi/%s", papi_version());
    int64_t pool = int_opt(cfg, "pool-size", 8);
    papi__http_opts hopts = {.pool_size = pool > 0 ? (size_t)pool : 8,
                             .connect_timeout_ms = int_opt(cfg, "connect-timeout-ms", 3000),
                             .max_body_bytes = MAX_BODY_BYTES,
                             .user_agent = ua,
                             .ca_file = papi_config_get(cfg, "snowflake-ca-file")};
    papi_status st = papi__sf_base_url(cfg, &s->base_url, err);
    if (st == PAPI_OK)
        st = papi__sf_auth_create(cfg, host, &s->auth, err);
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

const papi_transport_backend papi__transport_snowflake = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "snowflake",
    .flags = 0,
    .open = sf_open,
    .close = sf_close,
    .fetch = sf_fetch,
    .ping = sf_ping,
    /* an X-Small warehouse runs 8 statements at once (MAX_CONCURRENCY_LEVEL) */
    .default_concurrency = 8,
};
