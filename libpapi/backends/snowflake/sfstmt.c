/* One statement's life on the SQL API (snowflake-sql-api.md 4 to 6): the POST with a requestId
 * and its retries (the same id, retry=true), 401 renewals, 202 polling and cancel, partition 0 and
 * the partitions fetched after it, each body read within the statement's limits and its rows
 * handed on before the next body comes, so a statement holds one partition at a time. */
#include "snowflake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 2000
#define POLL_FIRST_MS 50
#define POLL_CAP_MS 1000
#define CANCEL_GRACE_MS 1000

static papi_status credential(papi__sf_call *c, bool force, papi_error *err)
{
    return papi__sf_auth_header(c->s->auth, force, c->alternate, &c->auth_gen, &c->form, &c->auth,
                                err);
}

/* The statement an answer named, for support (papi_error.query_id); after the status is set. */
static papi_status with_query_id(papi_error *err, papi_status st, const char *handle)
{
    if (handle && *handle)
        papi_error_set_source(err, err ? err->http_status : 0, NULL, NULL, handle);
    return st;
}

/* ---------------------------------------------------------------- requests */

static papi_status exchange(papi__sf_call *c, const char *method, const char *url, const char *body,
                            size_t body_len, int64_t deadline_ms, papi_error *err)
{
    char type[80];
    snprintf(type, sizeof type, "X-Snowflake-Authorization-Token-Type: %s",
             papi__sf_auth_token_type(c->s->auth));
    const char *headers[] = {papi_buf_cstr(&c->auth), "Content-Type: application/json",
                             "Accept: application/json", type};
    size_t left = c->lim.max_body_bytes > c->body_used ? c->lim.max_body_bytes - c->body_used : 0;
    if (c->lim.max_answer_bytes && left > c->lim.max_answer_bytes)
        left = c->lim.max_answer_bytes;
    if (left == 0)
        return papi_error_set(err, PAPI_EPROTO,
                              "Snowflake's answers exceed the %zu bytes this statement allows",
                              c->lim.max_body_bytes);
    /* the Snowflake Token form goes without a token type (public SPCS code's form) */
    /* a ping has a handle of its own: readiness must not wait behind lookups */
    papi__http_request req = {.method = method,
                              .lane = c->expect ? PAPI__HTTP_LOOKUP : PAPI__HTTP_PROBE,
                              .url = url,
                              .headers = headers,
                              .nheaders = c->form == PAPI__SF_FORM_BEARER ? 4 : 3,
                              .body = body,
                              .body_len = body_len,
                              .deadline_ms = deadline_ms,
                              .max_body_bytes = left};
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
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Full jitter (snowflake-sql-api.md 6), at least Retry-After; false when the wait would pass the
 * deadline, so the caller stops instead of sleeping in vain. why: the connection failure, or NULL
 * for an HTTP status worth retrying. */
static bool backoff(papi__sf_call *c, int attempt, int32_t retry_after_s, const char *why)
{
    int64_t ceiling = BACKOFF_BASE_MS << (attempt < 5 ? attempt : 5);
    if (ceiling > BACKOFF_CAP_MS)
        ceiling = BACKOFF_CAP_MS;
    int64_t delay = (int64_t)(random_u32() % (uint32_t)(ceiling + 1));
    if (retry_after_s > 0 && delay < (int64_t)retry_after_s * 1000)
        delay = (int64_t)retry_after_s * 1000;
    if (papi_host_now_ms(c->s->host) + delay >= c->deadline_ms)
        return false;
    const papi_host *h = c->s->host;
    if (why)
        papi_host_logf(h, PAPI_LOG_WARN, "snowflake: %s, retrying in %lld ms (attempt %d)", why,
                       (long long)delay, attempt + 1);
    else
        papi_host_logf(h, PAPI_LOG_WARN, "snowflake: HTTP %ld, retrying in %lld ms (attempt %d)",
                       c->resp.status, (long long)delay, attempt + 1);
    sleep_ms(delay);
    return true;
}

static bool retryable_status(long s)
{
    return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* Cuts message (cap bytes) where the credential of this call begins, should a server ever echo
 * it: messages go to logs. */
static void drop_credential(papi__sf_call *c, char *message, size_t cap)
{
    const char *line = papi_buf_cstr(&c->auth);
    const char *tok = line ? strchr(line, ' ') : NULL; /* "Authorization: <scheme> <token>" */
    tok = tok ? strchr(tok + 1, ' ') : NULL;
    if (!tok)
        return;
    tok++;
    if (strncmp(tok, "Token=\"", 7) == 0)
        tok += 7;
    size_t n = strcspn(tok, "\"");
    if (n < 8)
        return;
    char probe[17];
    papi_strlcpy(probe, tok, n < sizeof probe ? n + 1 : sizeof probe);
    char *at = strstr(message, probe);
    if (at)
        snprintf(at, cap - (size_t)(at - message), "[credential removed]");
}

static papi_status http_failure(papi__sf_call *c, papi_error *err)
{
    papi__sf_error e;
    papi__sf_parse_error(c->resp.body.data ? c->resp.body.data : "", c->resp.body.len, &e);
    drop_credential(c, e.message, sizeof e.message);
    long hs = c->resp.status;
    papi_status st = hs == 401 || hs == 403              ? PAPI_EAUTH
                     : hs == 408                         ? PAPI_ETIMEDOUT
                     : retryable_status(hs) || hs >= 500 ? PAPI_EUNAVAIL
                     : hs >= 400                         ? PAPI_ESOURCE
                                                         : PAPI_EPROTO;
    const char *hint = "";
    if (hs == 401 && papi__sf_auth_get_kind(c->s->auth) == PAPI__SF_AUTH_JWT)
        hint = " (check account in org-account form, user, and the registered key fingerprint)";
    else if (hs == 401)
        hint = " (token invalid or expired)";
    papi_error_set(err, st, "Snowflake answered HTTP %ld%s%s%s%s%s", hs, e.code[0] ? " code " : "",
                   e.code, e.message[0] ? ": " : "", e.message, hint);
    papi_error_set_source(err, (int32_t)hs, e.code, e.sql_state, NULL);
    if (err && retryable_status(hs))
        err->retry_after_s = c->resp.retry_after_s;
    return with_query_id(err, st, e.handle);
}

/* A 401: renew the credential once (expired or rotated); then, for token file auth whose Bearer
 * form never worked, try the Snowflake Token form once. *again: worth sending again. */
static papi_status after_401(papi__sf_call *c, bool *again, papi_error *err)
{
    *again = false;
    if (!c->auth_renewed && papi__sf_auth_renewable(c->s->auth)) {
        c->auth_renewed = true;
        *again = true;
        return credential(c, true, err);
    }
    if (!c->alternate && papi__sf_auth_alternate_ok(c->s->auth)) {
        c->alternate = true;
        *again = true;
    }
    return PAPI_OK;
}

/* One logical request with the retry policy of section 6. POSTs of a statement pass retry_url:
 * once the statement went out, every resend (after a 401 too) carries the same requestId with
 * retry=true, so Snowflake never runs it twice and one id traces the whole request. Returns
 * PAPI_OK with a non-retryable answer in c->resp (2xx or an error status the caller maps). */
static papi_status send_with_retry(papi__sf_call *c, const char *method, const char *url,
                                   const char *retry_url, const char *body, size_t body_len,
                                   papi_error *err)
{
    papi_status st = PAPI_OK;
    papi_error xerr; /* the exchange's own detail: logged before a retry */
    for (int attempt = 0;; attempt++) {
        if ((st = credential(c, false, err)) != PAPI_OK)
            return st;
        st = exchange(c, method, c->posted && retry_url ? retry_url : url, body, body_len,
                      c->deadline_ms, &xerr);
        c->posted = c->posted || retry_url;
        if (st == PAPI_OK && c->resp.status == 401) {
            bool again;
            if ((st = after_401(c, &again, err)) != PAPI_OK)
                return st;
            if (again) { /* no backoff, and not an attempt of max-attempts */
                attempt--;
                continue;
            }
        }
        if (st == PAPI_OK && c->resp.status >= 200 && c->resp.status < 300)
            papi__sf_auth_worked(c->s->auth, c->form);
        if (st == PAPI_OK && !retryable_status(c->resp.status))
            return PAPI_OK;
        if (st != PAPI_OK && (st != PAPI_EUNAVAIL || c->resp.permanent)) {
            if (err) /* deadline, body too big, out of memory, untrusted certificate */
                *err = xerr;
            return st;
        }
        bool more = attempt + 1 < c->s->max_attempts &&
                    backoff(c, attempt, st == PAPI_OK ? c->resp.retry_after_s : 0,
                            st == PAPI_OK ? NULL : xerr.message);
        if (!more) {
            if (st == PAPI_OK)
                return http_failure(c, err);
            if (papi_host_now_ms(c->s->host) >= c->deadline_ms - 1)
                return papi_error_set(err, PAPI_ETIMEDOUT, "Snowflake did not answer in time");
            if (err) /* EUNAVAIL with the connection error */
                *err = xerr;
            return st;
        }
    }
}

/* ---------------------------------------------------------------- results */

static void partition_done(papi__sf_call *c, const papi__sf_result *r, size_t i)
{
    if (c->scan && c->scan->partition)
        c->scan->partition(c->scan->user, i, r->npartitions, c->rows);
}

static papi_status take_ping(papi__sf_call *c, papi_error *err)
{
    json_t *root =
        json_loadb(c->resp.body.data ? c->resp.body.data : "", c->resp.body.len, 0, NULL);
    bool ok = json_is_object(root) && json_object_get(root, "resultSetMetaData");
    json_decref(root);
    return ok ? PAPI_OK : papi_error_set(err, PAPI_EPROTO, "malformed answer to SELECT 1");
}

/* Partitions 1..n-1 carry no metadata and come gzip-encoded (5.5): each fetched by handle, its
 * rows read straight from its body, within what is left of the statement's byte budget. */
static papi_status take_partitions(papi__sf_call *c, const papi__sf_result *r, papi_error *err)
{
    papi_status st = PAPI_OK;
    for (size_t i = 1; st == PAPI_OK && i < r->npartitions; i++) {
        char url[512];
        snprintf(url, sizeof url, "%s/api/v2/statements/%s?partition=%zu", c->s->base_url,
                 r->handle, i);
        if ((st = send_with_retry(c, "GET", url, NULL, NULL, 0, err)) != PAPI_OK)
            break;
        if (c->resp.status != 200) {
            st = http_failure(c, err);
            break;
        }
        c->body_used += c->resp.body.len;
        const char *rows = NULL;
        size_t rows_len = 0;
        st = papi__sf_parse_partition(c->resp.body.data ? c->resp.body.data : "", c->resp.body.len,
                                      &rows, &rows_len, err);
        if (st == PAPI_OK)
            st = papi__sf_emit_rows(r, rows, rows_len, r->row_counts[i], c->deadline_ms, c->row,
                                    c->row_user, err);
        if (st == PAPI_OK)
            partition_done(c, r, i);
    }
    return st;
}

static papi_status take_result(papi__sf_call *c, papi_error *err)
{
    if (!c->expect)
        return take_ping(c, err);
    papi__sf_result r;
    papi_buf *body = &c->resp.body;
    papi_status st =
        papi__sf_parse_result(body->data ? body->data : "", body->len, c->expect, &c->lim, &r, err);
    papi_strlcpy(c->handle, r.handle, sizeof c->handle);
    if (st != PAPI_OK)
        return with_query_id(err, st, r.handle);
    c->body_used += body->len;
    st = papi__sf_emit_rows(&r, r.data, r.data_len, r.row_counts[0], c->deadline_ms, c->row,
                            c->row_user, err);
    papi_buf_free(body); /* partition 0 is read: its body goes before any other comes */
    if (st == PAPI_OK)
        partition_done(c, &r, 0);
    if (st == PAPI_OK)
        st = take_partitions(c, &r, err);
    if (st != PAPI_OK)
        with_query_id(err, st, r.handle);
    papi__sf_result_free(&r);
    return st;
}

static void cancel(papi__sf_call *c, const char *handle)
{
    char url[512];
    snprintf(url, sizeof url, "%s/api/v2/statements/%s/cancel", c->s->base_url, handle);
    papi_error ignored;
    (void)exchange(c, "POST", url, "{}", 2, papi_host_now_ms(c->s->host) + CANCEL_GRACE_MS,
                   &ignored);
}

/* 202: poll statementStatusUrl with a growing delay until done or the deadline, then cancel. */
static papi_status poll(papi__sf_call *c, papi_error *err)
{
    char handle[128], path[400], url[600];
    papi_status st =
        papi__sf_parse_status(c->resp.body.data ? c->resp.body.data : "", c->resp.body.len, handle,
                              sizeof handle, path, sizeof path, err);
    if (st != PAPI_OK)
        return st;
    snprintf(url, sizeof url, "%s%s", c->s->base_url, path);
    int64_t delay = POLL_FIRST_MS;
    for (;;) {
        if (papi_host_now_ms(c->s->host) + delay >= c->deadline_ms) {
            cancel(c, handle);
            return with_query_id(err,
                                 papi_error_set(err, PAPI_ETIMEDOUT,
                                                "statement still running at the deadline; "
                                                "cancelled"),
                                 handle);
        }
        sleep_ms(delay);
        delay = delay * 3 / 2 > POLL_CAP_MS ? POLL_CAP_MS : delay * 3 / 2;
        if ((st = credential(c, false, err)) != PAPI_OK)
            return with_query_id(err, st, handle);
        st = exchange(c, "GET", url, NULL, 0, c->deadline_ms, err);
        if (st == PAPI_EUNAVAIL && !c->resp.permanent)
            continue;
        if (st == PAPI_ETIMEDOUT)
            cancel(c, handle);
        if (st != PAPI_OK)
            return with_query_id(err, st, handle);
        long hs = c->resp.status;
        if (hs == 200)
            return take_result(c, err);
        if (hs == 202 || retryable_status(hs)) /* 429 while polling: still running, slow down */
            continue;
        if (hs == 401) {
            bool again;
            if ((st = after_401(c, &again, err)) != PAPI_OK)
                return with_query_id(err, st, handle);
            if (again)
                continue;
        }
        return with_query_id(err, http_failure(c, err), handle);
    }
}

papi_status papi__sf_run(papi__sf_call *c, const char *body, size_t body_len, papi_error *err)
{
    c->deadline_ms = c->lim.deadline_ms;
    papi__http_response_init(&c->resp);
    papi_buf_init(&c->auth);
    char rid[37], url[600], retry_url[640];
    uuid4(rid);
    snprintf(url, sizeof url, "%s/api/v2/statements?requestId=%s", c->s->base_url, rid);
    snprintf(retry_url, sizeof retry_url, "%s&retry=true", url);
    papi_status st = send_with_retry(c, "POST", url, retry_url, body, body_len, err);
    if (st == PAPI_OK) {
        if (c->resp.status == 200)
            st = take_result(c, err);
        else if (c->resp.status == 202)
            st = poll(c, err);
        else
            st = http_failure(c, err);
    }
    papi__http_response_free(&c->resp);
    papi_buf_free(&c->auth);
    return st;
}
