/* Bounded pools of libcurl easy handles (papi_pool). Each handle keeps its connection alive
 * between requests, so a process opens at most pool_size connections to the SQL API, plus one
 * for probes; a share handle lets them all reuse DNS answers and TLS sessions. Taking a handle is
 * the in-flight cap (snowflake-sql-api.md 6). The probe handle is apart so that a readiness
 * check never waits behind lookups holding every other handle (a busy or paused warehouse). */
#include "snowflake.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

struct papi__http {
    papi__http_opts opts;
    char *user_agent;
    char *ca_file; /* NULL: the system's trust store */
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t lock; /* connections */
    papi_pool *pool;      /* lookups' handles */
    papi_pool *probes;    /* one handle for PAPI__HTTP_PROBE requests */
    uint64_t connections; /* guarded by lock */
};

typedef struct exchange {
    papi__http_response *resp;
    size_t max_body;
    bool too_big;
} exchange;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* curl_global_init is process-wide and not safe to race; once is the one piece of global state. */
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
    (void)h;
    (void)access;
    papi__http *http = user;
    pthread_mutex_lock(&http->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *user)
{
    (void)h;
    papi__http *http = user;
    pthread_mutex_unlock(&http->share_locks[data]);
}

static papi_status handle_open(void *user, int64_t deadline_ms, void **handle, papi_error *err)
{
    (void)user;
    (void)deadline_ms;
    *handle = curl_easy_init();
    return *handle ? PAPI_OK : papi_error_set(err, PAPI_ENOMEM, "cannot create a libcurl handle");
}

static void handle_close(void *user, void *handle)
{
    (void)user;
    curl_easy_cleanup(handle);
}

papi_status papi__http_create(const papi__http_opts *opts, papi__http **out, papi_error *err)
{
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return papi_error_set(err, PAPI_EINTERNAL, "libcurl initialization failed");
    papi__http *h = calloc(1, sizeof *h);
    if (!h)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    h->opts = *opts;
    if (h->opts.pool_size == 0)
        h->opts.pool_size = 1;
    h->user_agent = strdup(opts->user_agent ? opts->user_agent : "papi");
    h->share = curl_share_init();
    bool has_ca = opts->ca_file && *opts->ca_file;
    if (has_ca)
        h->ca_file = strdup(opts->ca_file);
    papi_status st = PAPI_OK;
    if (!h->user_agent || !h->share || (has_ca && !h->ca_file) ||
        papi_pool_create(h->opts.pool_size, handle_open, handle_close, h, opts->clock, &h->pool) !=
            PAPI_OK ||
        papi_pool_create(1, handle_open, handle_close, h, opts->clock, &h->probes) != PAPI_OK)
        st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
    /* checked now: later it would look like a TLS failure on every request */
    if (st == PAPI_OK && has_ca && access(h->ca_file, R_OK) != 0) {
        int e = errno;
        st = papi_error_set(err, PAPI_ECONFIG, "cannot read snowflake-ca-file: %s", strerror(e));
    }
    if (st != PAPI_OK) {
        papi_pool_destroy(h->probes);
        papi_pool_destroy(h->pool);
        curl_share_cleanup(h->share);
        free(h->ca_file);
        free(h->user_agent);
        free(h);
        return st;
    }
    h->opts.ca_file = h->ca_file;
    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&h->share_locks[i], NULL);
    pthread_mutex_init(&h->lock, NULL);
    curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *out = h;
    return PAPI_OK;
}

void papi__http_destroy(papi__http *h)
{
    if (!h)
        return;
    /* the handles first: they refer to the share */
    papi_pool_destroy(h->probes);
    papi_pool_destroy(h->pool);
    curl_share_cleanup(h->share);
    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->share_locks[i]);
    pthread_mutex_destroy(&h->lock);
    free(h->ca_file);
    free(h->user_agent);
    free(h);
}

uint64_t papi__http_connections(const papi__http *h)
{
    papi__http *m = (papi__http *)h;
    pthread_mutex_lock(&m->lock);
    uint64_t n = m->connections;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void papi__http_response_init(papi__http_response *r)
{
    r->status = 0;
    r->retry_after_s = 0;
    r->permanent = false;
    papi_buf_init(&r->body);
}

void papi__http_response_free(papi__http_response *r)
{
    if (r)
        papi_buf_free(&r->body);
}

static papi_pool *pool_of(papi__http *h, const papi__http_request *req)
{
    return req->lane == PAPI__HTTP_PROBE ? h->probes : h->pool;
}

static bool tls_untrusted(CURLcode rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
           rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || rc == CURLE_SSL_INVALIDCERTSTATUS;
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    exchange *x = user;
    size_t len = size * n;
    if (x->resp->body.len + len > x->max_body) {
        x->too_big = true;
        return 0; /* cut here: a hostile or broken server cannot make us buffer without bound */
    }
    papi_buf_append(&x->resp->body, p, len);
    return x->resp->body.oom ? 0 : len;
}

/* Content-Length sizes the body buffer once, instead of doubling it up to twice the body; a
 * length over the cap fails the transfer before the body is read. */
static bool on_content_length(exchange *x, const char *p, size_t len)
{
    static const char name[] = "content-length:";
    if (len <= sizeof name - 1 || len >= 64 || strncasecmp(p, name, sizeof name - 1) != 0)
        return true;
    char v[64];
    memcpy(v, p + sizeof name - 1, len - (sizeof name - 1));
    v[len - (sizeof name - 1)] = '\0';
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || (*end && !strchr(" \t\r\n", *end)))
        return true;
    if (n > x->max_body) {
        x->too_big = true;
        return false;
    }
    papi_buf_reserve(&x->resp->body, (size_t)n); /* gzip: decoded is larger, grows from here */
    return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
    exchange *x = user;
    size_t len = size * n;
    if (!on_content_length(x, p, len))
        return 0;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && len < 200 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[200];
        size_t vl = len - (sizeof name - 1);
        memcpy(v, p + sizeof name - 1, vl);
        v[vl] = '\0';
        char *s = v + strspn(v, " \t");
        s[strcspn(s, "\r\n")] = '\0';
        char *end;
        long secs = strtol(s, &end, 10);
        if (end != s && *end == '\0' && secs >= 0) {
            x->resp->retry_after_s = (int32_t)(secs > 86400 ? 86400 : secs);
        } else {
            time_t when = curl_getdate(s, NULL); /* HTTP-date form */
            time_t now = time(NULL);
            if (when > now)
                x->resp->retry_after_s = (int32_t)(when - now > 86400 ? 86400 : when - now);
        }
    }
    return len;
}

papi_status papi__http_do(papi__http *h, const papi__http_request *req, papi__http_response *r,
                          papi_error *err)
{
    r->status = 0;
    r->retry_after_s = 0;
    r->permanent = false;
    papi_buf_reset(&r->body);
    if (papi_host_now_ms(h->opts.clock) >= req->deadline_ms)
        return papi_error_set(err, PAPI_ETIMEDOUT, "deadline passed before the request was sent");
    for (size_t i = 0; i < req->nheaders; i++) /* CR or LF would start another header */
        if (papi__sf_has_control(req->headers[i], strlen(req->headers[i])))
            return papi_error_set(err, PAPI_EINVAL, "a request header holds a control character");
    void *handle = NULL;
    papi_status ast = papi_pool_acquire(pool_of(h, req), req->deadline_ms, &handle, err);
    if (ast == PAPI_ETIMEDOUT)
        return papi_error_set(err, ast, "deadline passed waiting for a free connection");
    if (ast != PAPI_OK)
        return ast;
    CURL *c = handle;
    /* reset keeps the live connection, DNS and session caches; only options are cleared */
    curl_easy_reset(c);
    exchange x = {.resp = r,
                  .max_body = req->max_body_bytes ? req->max_body_bytes : h->opts.max_body_bytes};
    char detail[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL, *tmp;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!(tmp = curl_slist_append(hdrs, req->headers[i])))
            goto oom;
        hdrs = tmp;
    }
    /* an empty Expect: stops libcurl's 100-continue round trip on larger bodies */
    if (!(tmp = curl_slist_append(hdrs, "Expect:")))
        goto oom;
    hdrs = tmp;

    int64_t left = req->deadline_ms - papi_host_now_ms(h->opts.clock);
    if (left < 1)
        left = 1;
    int64_t connect = h->opts.connect_timeout_ms > 0 && h->opts.connect_timeout_ms < left
                          ? h->opts.connect_timeout_ms
                          : left;
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_SHARE, h->share);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    /* HTTP/2 when the server offers it in ALPN, HTTP/1.1 otherwise; plain http stays 1.1 */
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    if (h->ca_file) { /* instead of the system's store, not in addition (a private CA) */
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }

    CURLcode rc = curl_easy_perform(c);
    long conns = 0;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    if (conns > 0) {
        pthread_mutex_lock(&h->lock);
        h->connections += (uint64_t)conns;
        pthread_mutex_unlock(&h->lock);
    }
    curl_slist_free_all(hdrs);
    papi_status st = PAPI_OK;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    } else if (x.too_big) {
        st = papi_error_set(err, PAPI_EPROTO,
                            "response body larger than the %zu bytes this request allows",
                            x.max_body);
    } else if (r->body.oom) {
        st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
    } else if (rc == CURLE_OPERATION_TIMEDOUT &&
               papi_host_now_ms(h->opts.clock) >= req->deadline_ms - 5) {
        st = papi_error_set(err, PAPI_ETIMEDOUT, "no answer within the deadline");
    } else if (tls_untrusted(rc)) {
        /* the same certificate will be refused on every attempt: retrying only burns the budget */
        r->permanent = true;
        st = papi_error_set(err, PAPI_EUNAVAIL,
                            "TLS certificate of the server not trusted: %s (a private or proxy CA "
                            "goes in snowflake-ca-file / SNOWFLAKE_CA_FILE)",
                            detail[0] ? detail : curl_easy_strerror(rc));
    } else if (rc == CURLE_SSL_CONNECT_ERROR) {
        st = papi_error_set(err, PAPI_EUNAVAIL, "TLS handshake failed: %s",
                            detail[0] ? detail : curl_easy_strerror(rc));
    } else {
        /* refused, reset, TLS, DNS, connect timeout with budget left: worth another attempt */
        st = papi_error_set(err, PAPI_EUNAVAIL, "connection failed: %s",
                            detail[0] ? detail : curl_easy_strerror(rc));
    }
    /* a handle whose transfer broke may hold a half-read connection: drop it */
    papi_pool_release(pool_of(h, req), c, rc != CURLE_OK);
    return st;

oom:
    curl_slist_free_all(hdrs);
    papi_pool_release(pool_of(h, req), c, 0);
    return papi_error_set(err, PAPI_ENOMEM, "out of memory");
}
