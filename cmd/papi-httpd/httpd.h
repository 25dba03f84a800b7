/* papi-httpd internals shared by its files. Not installed. */
#ifndef PAPI_HTTPD_H
#define PAPI_HTTPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <microhttpd.h>
#include <papi/papi.h>
#include <papi/papi_backend.h> /* papi_buf, papi_json_string, papi_utf8_seq */

#define HTTPD_MAX_URL_BYTES 8192
#define HTTPD_JSON_TYPE "application/json; charset=utf-8"
#define HTTPD_MAX_DATASETS 32
#define HTTPD_MAX_API_KEYS 16
#define HTTPD_MAX_API_KEY_BYTES 256
#define HTTPD_REQUEST_ID_MAX 64
#define HTTPD_MAX_BODY_BYTES 65536
/* The longest id a POST body may carry, as JSON (a text key's 256 bytes, quoted, with a comma
 * and some white space): the body cap is --max-ids of them, plus room for {"ids": }. */
#define HTTPD_POST_ID_BYTES 264
#define HTTPD_POST_SLACK_BYTES 1024
#define HTTPD_MAX_CORS_ORIGINS 32
#define HTTPD_CORS_MAX_AGE_S 600
/* A "select" list longer than this is refused before its names are read (a dataset has at most
 * as many columns; the library pass checks against the real count). */
#define HTTPD_MAX_SELECT 256
#define HTTPD_MAX_COLUMN_BYTES 255
/* libmicrohttpd's memory for each connection: the request head must fit in it (server.c). */
#define HTTPD_CONNECTION_MEMORY_BYTES (24 * 1024)

/* Metrics index of a request: refused before routing, no route, then the route table's rows
 * (routes.c), then one per dataset. */
#define ROUTE_NONE 0
#define ROUTE_NOTFOUND 1
#define HTTPD_FIXED_ROUTES 8 /* room for the table's rows but the two dataset rows */
#define ROUTE_DATASET0 (2 + HTTPD_FIXED_ROUTES)            /* GET /<dataset>/<ids> */
#define ROUTE_BATCH0 (ROUTE_DATASET0 + HTTPD_MAX_DATASETS) /* POST /<dataset> */
#define HTTPD_ROUTES (ROUTE_BATCH0 + HTTPD_MAX_DATASETS)

/* Status codes counted one by one; anything else lands in the last slot. */
#define HTTPD_STATUS_SLOTS 21
#define HTTPD_LATENCY_BUCKETS 15

/* The server's counters: X(id, metric name, help). The three X-Cache outcomes come first, in
 * papi_cache_outcome order, and are rendered as one labelled family. */
#define HTTPD_COUNTERS(X)                                                                          \
    X(XCACHE_HIT, NULL, NULL)                                                                      \
    X(XCACHE_MISS, NULL, NULL)                                                                     \
    X(XCACHE_STALE, NULL, NULL)                                                                    \
    X(UNAUTHORIZED, "papi_http_unauthorized_total",                                                \
      "Requests refused for a missing or wrong API key.")                                          \
    X(CLOSED_EARLY, "papi_http_aborted_total",                                                     \
      "Requests whose connection ended before the answer was sent.")                               \
    X(CLIENT_GONE, "papi_http_client_gone_total",                                                  \
      "Lookups not started because their client had hung up.")                                     \
    X(HEAD_DEADLINE, "papi_http_header_timeouts_total",                                            \
      "Connections closed because a request was not in by --header-timeout.")                      \
    X(EVICTED, "papi_http_evicted_total",                                                          \
      "Connections slow to send a request, closed to make room while the server was full.")        \
    X(READINESS_PROBES, "papi_readiness_probes_total", "Readiness checks that reached the source.")

enum httpd_counter {
#define HTTPD_COUNTER_ENUM(id, name, help) COUNT_##id,
    HTTPD_COUNTERS(HTTPD_COUNTER_ENUM)
#undef HTTPD_COUNTER_ENUM
        HTTPD_NCOUNTERS
};

/* One thread's share of the metrics. Each thread counts in its own shard, so a request touches
 * no cache line another thread writes; /metrics sums the shards. Threads past the number of
 * shards share one, which the atomics keep correct. */
#define HTTPD_METRIC_SHARDS 16
struct httpd_metrics_shard {
    _Alignas(64) _Atomic uint64_t requests[HTTPD_ROUTES][HTTPD_STATUS_SLOTS];
    _Atomic uint64_t latency_bucket[HTTPD_ROUTES][HTTPD_LATENCY_BUCKETS];
    _Atomic uint64_t latency_us_sum[HTTPD_ROUTES];
    _Atomic uint64_t counter[HTTPD_NCOUNTERS];
    _Atomic int64_t in_flight; /* this shard's starts minus its finishes: may be negative */
    _Atomic uint64_t request_ids;
};

struct httpd_metrics {
    struct httpd_metrics_shard shard[HTTPD_METRIC_SHARDS];
    _Atomic unsigned next_shard; /* handed to threads in turn */
};

struct httpd_options {
    char listen[256];
    unsigned threads; /* event-loop threads answering cache hits */
    unsigned workers; /* threads running lookups that may block */
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0: no limit */
    unsigned connection_timeout_s;
    unsigned header_timeout_s;
    unsigned shutdown_timeout_s;
    unsigned ready_cache_ms;
    int access_log;
    papi_log_level log_level;
    unsigned client_max_age_s; /* 0: lookup answers are no-store */
    const char *cors_origin;   /* --cors-origin as given (borrowed), or NULL */
    unsigned sync_interval_s;   /* --sync-interval; 0: the replica is not synced here */
    unsigned replica_max_age_s; /* --replica-max-age; 0: /readyz ignores the replica's age */
};

/* --cors-origin, parsed: any origin, or a list of exact ones. */
struct httpd_cors {
    int any;  /* "*" */
    size_t n; /* origins in the list; 0 and !any: CORS is off */
    char origin[HTTPD_MAX_CORS_ORIGINS][264];
};

/* How many of MHD's log lines this second got through, and how many did not. */
struct httpd_log_budget {
    pthread_mutex_t lock;
    int64_t window_s;
    unsigned used, dropped;
};

struct httpd {
    struct httpd_options opt;
    struct sockaddr_storage listen_addr; /* --listen, resolved while configuring */
    socklen_t listen_len;
    papi_client *client;
    struct MHD_Daemon *daemon;
    uint16_t port;

    size_t ndatasets;
    const char *datasets[HTTPD_MAX_DATASETS];

    size_t napi_keys;
    unsigned char api_keys[HTTPD_MAX_API_KEYS][HTTPD_MAX_API_KEY_BYTES];
    size_t api_key_len[HTTPD_MAX_API_KEYS];

    _Atomic int draining;
    _Atomic unsigned connections; /* open now, over all event-loop threads */
    pthread_mutex_t conns_lock;   /* the list of open connections */
    struct httpd_conn *conns;
    _Atomic unsigned abandoned_unanswered; /* drain: resumed with a 503 not yet sent */
    uint64_t request_id_seed;
    int64_t started_ms;

    pthread_mutex_t ready_lock;
    int64_t ready_checked_ms;
    papi_status ready_status;
    papi_error ready_err; /* the last probe's detail: logged, never sent but its code and id */

    size_t post_max_bytes;         /* a POST body's cap, from --max-ids */
    size_t max_ids;                /* the library's max-ids, as configured */
    char lookup_cache_control[48]; /* Cache-Control of lookup answers (--client-max-age) */
    struct httpd_cors cors;
    char *openapi; /* GET /openapi.json, made once at start */
    size_t openapi_len;

    const char *route_label[HTTPD_ROUTES]; /* metrics labels, from the route table */
    struct httpd_metrics metrics;
    struct httpd_workers *workers;
    struct httpd_log_budget mhd_log;
    struct httpd_replica *replica; /* the first source's replica, watched; NULL: none */
    pthread_mutex_t hot_lock;      /* the list of kept-answer tables (hot.c) */
    struct httpd_hot *hot;
};

/* What a connection waits for, as the head deadline and the eviction of slow clients see it. */
enum httpd_conn_phase {
    CONN_HEAD,    /* a request (head, then any body) is arriving: the deadline runs */
    CONN_IDLE,    /* keep-alive between requests: the connection timeout's business */
    CONN_SERVING, /* a complete request is being answered */
};

/* Per-connection state, made when MHD opens a connection and freed when it closes. The list and
 * the socket (shut down by others, never closed) are under srv->conns_lock; state is written by
 * the connection's thread and the sweeper; req belongs to the connection's thread alone. */
struct httpd_conn {
    struct httpd_conn *next, *prev;
    struct httpd *srv;
    int fd;
    _Atomic uint64_t state;    /* enum httpd_conn_phase, and since when (conn.c packs both) */
    _Atomic int shut;          /* 0, or why we shut its socket down (enum httpd_closed) */
    struct httpd_request *req; /* the request under way */
    struct httpd_request *spare; /* the last one's memory, for the next (the thread's alone) */
};

/* How a request ended without its answer sent, as the access log says it ("closed"). */
enum httpd_closed {
    CLOSED_NOT = 0,  /* the answer was sent */
    CLOSED_CLIENT,   /* the client hung up or the connection broke */
    CLOSED_TIMEOUT,  /* idle past --connection-timeout */
    CLOSED_DEADLINE, /* the request did not arrive in full within --header-timeout */
    CLOSED_EVICTED,  /* closed to make room while the server was full */
    CLOSED_ERROR,    /* refused by the HTTP library itself, or our answer could not be queued */
    CLOSED_SHUTDOWN, /* the server stopped */
};
const char *httpd_closed_name(enum httpd_closed c);

/* The request headers papi reads, found in the one walk of the head the checks make
 * (headcheck.c): each the first of its name, in MHD's memory while the request lives, or NULL. */
struct httpd_head_fields {
    const char *request_id, *if_none_match, *expect, *content_length, *content_type,
        *authorization, *origin;
};
/* Per-request state, made by the URI callback, freed when the request completes or, if MHD
 * drops it without completing it, when its connection closes. */
struct httpd_request {
    struct httpd *srv;
    struct httpd_conn *hc; /* NULL when MHD gave no connection state (out of memory) */
    int64_t start_us;
    char *raw_uri; /* uri_inline when it fits, else on the heap */
    int route;
    unsigned status; /* the status MHD accepted to send; 0 while none */
    enum httpd_closed closed;
    int cache; /* -1 none, else papi_cache_outcome */
    int headers_done;
    int client_gone; /* a worker found the client gone before the lookup began */
    size_t body_bytes;
    char method[16];
    char request_id[HTTPD_REQUEST_ID_MAX + 1];
    struct httpd_job *job; /* set while suspended for a worker and until its answer is sent */
    int abandoned;         /* the drain deadline passed before the worker finished */
    const struct httpd_route *body_route; /* the route taking this request's body, if any */
    char *body;                           /* a POST body being kept (up to post_max_bytes) */
    size_t body_kept;
    int body_over;             /* the body was longer than its route takes: dropped, answered 413 */
    const char *allow;         /* the Allow header of a 405 or an OPTIONS being sent */
    const char *origin;        /* an allowed Origin: the answer carries CORS headers for it */
    struct httpd_head_fields hdr; /* set once the head is in */
    char uri_inline[256];
};

/* workers.c: requests that may block (a lookup past the first cache tier, a readiness probe)
 * leave the event loop suspended and come back through MHD_resume_connection(). */
enum httpd_job_kind { JOB_LOOKUP, JOB_READY };
struct httpd_job {
    struct httpd_job *qnext;             /* the queue */
    struct httpd_job *onext, *oprev;     /* outstanding (queued or running), for the drain */
    enum httpd_job_kind kind;
    struct MHD_Connection *conn;
    struct httpd_request *req;
    const char *dataset;
    size_t ids_len;
    size_t ids_array; /* 0: ids is a comma-separated list; else that many NUL-ended ids */
    struct httpd_select *select; /* ids_array's column selection (owned), or NULL */
    papi_pending *pending; /* a lookup the event loop began: the worker finishes it */
    papi_result *res;
    papi_status st;
    papi_error err;
    int abandoned;   /* under the pool's lock */
    int client_gone; /* the client had hung up when a worker took the job: nothing was fetched */
    char request_id[HTTPD_REQUEST_ID_MAX + 1];
    char ids[];
};
/* The one place a lookup of a list of ids starts, on the event loop: answered there when the
 * first cache tier holds every id, else suspended and finished by a worker (the ids are not
 * parsed twice, the tier not read again). select (nselect names, NULL: every column) is the
 * column selection, checked against the dataset by the library: an unknown or repeated name is
 * a 400 naming it. */
enum MHD_Result httpd_lookup_start(struct httpd *srv, struct MHD_Connection *conn,
                                   struct httpd_request *req, const char *dataset, const char *ids,
                                   size_t len, const char *const *select, size_t nselect);
/* Starts n lookup workers and one thread for readiness probes, which never wait behind lookups. */
int httpd_workers_start(struct httpd *srv, unsigned n);
/* Suspends the connection and queues the job; the handler runs again once it is done. */
void httpd_workers_submit(struct httpd *srv, struct httpd_job *job);
/* Resumes every outstanding job's connection as abandoned (their workers free them later), each
 * to be answered 503; returns how many. */
unsigned httpd_workers_abandon(struct httpd *srv);
/* Joins the workers (each finishes the lookup it runs) and frees the pool. */
void httpd_workers_stop(struct httpd *srv);
void httpd_job_free(struct httpd_job *job);
/* A job for req (ids copied: ids_len bytes); NULL when out of memory. */
struct httpd_job *httpd_job_new(struct httpd_request *req, struct MHD_Connection *conn,
                                enum httpd_job_kind kind, const char *ids, size_t ids_len);
/* Suspends the request until a worker has run the job (the handler answers it then); a NULL job
 * is answered 503 out of memory. */
enum MHD_Result httpd_job_submit(struct httpd *srv, struct MHD_Connection *conn,
                                 struct httpd_request *req, struct httpd_job *job);

/* ready.c: the source's readiness, probed at most once per --ready-cache-ms */
/* The last probe's answer if it is younger than --ready-cache-ms: 1, and *st, *err set; else 0. */
int httpd_ready_cached(struct httpd *srv, papi_status *st, papi_error *err);
/* Pings the source unless a fresh answer exists (readiness thread only); a failure is logged
 * with request_id. */
papi_status httpd_ready_probe(struct httpd *srv, const char *request_id, papi_error *out);

/* Lets a test binary attach its own backends to the configuration before the client is made. */
typedef int (*httpd_config_hook)(papi_config *cfg, void *user);

int httpd_main(int argc, char **argv, httpd_config_hook hook, void *hook_user);

/* conn.c: connections, the request-head deadline, room for new clients, clients that left */
enum MHD_Result httpd_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* Makes and links the state of a connection MHD opened (NULL when out of memory). */
struct httpd_conn *httpd_conn_open(struct httpd *srv, struct MHD_Connection *conn);
/* Unlinks and frees it; returns why it closed, as its request's log line says it. */
enum httpd_closed httpd_conn_close(struct httpd *srv, struct httpd_conn *hc);
struct httpd_conn *httpd_conn_of(struct MHD_Connection *conn);
/* Enters a phase at now_us (httpd_now_us()). */
void httpd_conn_phase(struct httpd_conn *hc, enum httpd_conn_phase phase, int64_t now_us);
/* Closes the connections whose request is overdue; called about every HTTPD_SWEEP_MS. */
void httpd_conns_sweep(struct httpd *srv);
#define HTTPD_SWEEP_MS 250
/* 1 if the client of a suspended connection has closed its end (EOF or error), else 0. */
int httpd_client_gone(struct MHD_Connection *conn);
/* MHD's connection limit for each event-loop thread: ours, with room for the evicted to close. */
unsigned httpd_mhd_connection_limit(const struct httpd *srv);

/* headcheck.c: what MHD's parser lets through and papi refuses (docs/HTTP.md) */
enum httpd_head_verdict {
    HEAD_OK,
    HEAD_HIDDEN_BYTES, /* a NUL (or line folding) hid part of the request line or a header */
    HEAD_CONFLICTING_LENGTH,
    HEAD_CHUNKED, /* Transfer-Encoding: no route reads a body of unknown length */
    HEAD_BODY_TOO_LARGE,
};
/* Also sets *fields (all of them when the verdict is not HEAD_HIDDEN_BYTES; the request id
 * always). */
enum httpd_head_verdict httpd_head_check(struct MHD_Connection *conn, const char *method,
                                         const char *url, size_t uri_len, const char *version,
                                         struct httpd_head_fields *fields);

/* request.c: a request's life */
void *httpd_uri_cb(void *cls, const char *uri, struct MHD_Connection *conn);
void httpd_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe);
void httpd_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe);
/* Logs, counts and frees a request; its connection no longer points to it. */
void httpd_request_finish(struct httpd_request *req, enum httpd_closed closed);
/* Once the head is in: the request's method, and the client's X-Request-Id (req->hdr) if it
 * is sane. */
void httpd_set_request_id(struct httpd_request *req, const char *method);
size_t httpd_no_unescape(void *cls, struct MHD_Connection *conn, char *uri);
/* Length of the path part of a URI (before '?' or '#'). */
size_t httpd_path_len(const char *uri);

/* routes.c: the route table and the handler MHD calls */
enum httpd_method { HTTPD_GET = 1, HTTPD_HEAD = 2, HTTPD_POST = 4, HTTPD_OPTIONS = 8 };
unsigned httpd_method_bit(const char *method);

/* The path cut at its raw '/' first, then each segment decoded: an encoded slash (%2F) is a
 * byte of its segment, never a separator, so "/customer%2F1885" is one segment. */
struct httpd_path {
    size_t n;         /* segments */
    const char *s[2]; /* the first two, decoded */
    size_t len[2];
    const char *error; /* why the path is refused (400), or NULL */
    char buf[HTTPD_MAX_URL_BYTES + 2];
};
/* Decodes %XX strictly into out (at least n+1 bytes). Returns the length, or -1 for a bad
 * escape or an encoded NUL. */
long httpd_percent_decode(const char *in, size_t n, char *out);

typedef enum MHD_Result (*httpd_route_fn)(struct httpd *srv, struct MHD_Connection *conn,
                                          struct httpd_request *req, const struct httpd_path *p);
/* Takes n bytes of the request's body (called as they arrive); MHD_NO ends the connection. */
typedef enum MHD_Result (*httpd_body_fn)(struct httpd_request *req, const char *data, size_t n);
struct httpd_route {
    const char *segment;       /* the path's one segment ("healthz"), or NULL for a dataset's row */
    unsigned dataset_segments; /* dataset rows: 2 for /<dataset>/<ids>, 1 for /<dataset> */
    const char *label;         /* its route label in /metrics (a dataset's: after its name) */
    unsigned methods;          /* enum httpd_method bits; any other method is answered 405 */
    int open;                  /* served without an API key */
    httpd_route_fn handler;    /* answers once the request is in (OPTIONS is answered for it) */
    httpd_body_fn body;        /* takes the body; NULL: a body is read and dropped */
};
/* Fills srv->route_label from the table. */
void httpd_routes_init(struct httpd *srv);
enum MHD_Result httpd_handler(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls);

/* lookups.c: the dataset routes. GET and HEAD /<dataset>/<ids>; POST /<dataset> with the ids in
 * a JSON body. Both answer from the first cache tier on the event loop when it holds every id,
 * and through a worker otherwise. */
enum MHD_Result httpd_route_lookup(struct httpd *srv, struct MHD_Connection *conn,
                                   struct httpd_request *req, const struct httpd_path *p);
enum MHD_Result httpd_route_batch(struct httpd *srv, struct MHD_Connection *conn,
                                  struct httpd_request *req, const struct httpd_path *p);
/* The JSON 413 of a POST body over srv->post_max_bytes. */
enum MHD_Result httpd_send_post_too_large(struct httpd *srv, struct MHD_Connection *conn,
                                          struct httpd_request *req);
/* Keeps a POST body up to srv->post_max_bytes; past that drops it and marks it over. */
enum MHD_Result httpd_batch_body(struct httpd_request *req, const char *data, size_t n);

/* body.c: the ids of a POST body, read by a strict scanner of its own (not a JSON library: ids
 * past 64 bits must keep every digit, and no tree is built for a list of scalars). */
struct httpd_ids {
    char *text; /* the ids: comma-separated, or NUL-ended each when array is set (malloc) */
    size_t len; /* bytes of text (the last id's NUL excluded) */
    size_t n;   /* how many */
    int array;  /* an id holds a comma: only the NUL-ended form carries it (papi_lookup) */
};
enum httpd_ids_rc { IDS_OK = 0, IDS_BAD = -1, IDS_NOMEM = -2 };
/* Reads `[id, ...]` or `{"ids": [id, ...]}`: ids are non-negative JSON integers (their digits
 * kept as text, however many) or strings (escapes decoded, UTF-8 checked, no NUL). IDS_BAD
 * leaves why in msg, naming the id ("id 3 (at index 2) ...") or the byte. */
enum httpd_ids_rc httpd_ids_parse(const char *body, size_t len, struct httpd_ids *out, char *msg,
                                  size_t msg_cap);
void httpd_ids_free(struct httpd_ids *ids);

/* select.c: the "select" query parameter, checked as far as papi-httpd can without the
 * dataset's columns (count, empty names, length, identifier form, repeats in any case). */
struct httpd_select {
    size_t n;
    const char *name[HTTPD_MAX_SELECT];
    char buf[]; /* the decoded names, each NUL-ended */
};
/* query: the raw query string after '?' (qlen bytes). IDS_OK with *out NULL when the query has
 * no select, or a list to free(); IDS_BAD with the reason in msg; IDS_NOMEM. */
enum httpd_ids_rc httpd_select_parse(const char *query, size_t qlen, struct httpd_select **out,
                                     char *msg, size_t msg_cap);
/* A copy of a parsed list (sel->n >= 1) that owns its names, for a job; NULL when out of memory. */
struct httpd_select *httpd_select_copy(const struct httpd_select *sel);

/* etag.c: lookup answers' validators and If-None-Match */
#define HTTPD_ETAG_BYTES 19 /* a quote, 16 hex digits, a quote and a NUL */
/* A strong tag over the exact bytes: a 64-bit hash that reads 8 bytes a step, the same in
 * every replica (no seed), so that one answer has one tag wherever it is served. */
void httpd_etag(const char *body, size_t len, char out[HTTPD_ETAG_BYTES]);
enum httpd_inm { INM_NONE, INM_MATCH, INM_ANY };
/* An If-None-Match header against a tag, compared weakly (W/ ignored) as RFC 9110 13.1.2 says
 * for GET and HEAD: INM_ANY when it holds "*", INM_MATCH when a tag is ours, else INM_NONE. */
enum httpd_inm httpd_if_none_match(const char *header, const char *etag);

/* cors.c: --cors-origin, the Origin of a request, and OPTIONS */
/* Parses --cors-origin into c: 0, or -1 with why in msg. NULL or "" leaves CORS off. */
int httpd_cors_configure(struct httpd_cors *c, const char *spec, char *msg, size_t msg_cap);
/* 1 if s is a serialized origin: scheme "://" host [":" port], or "null". */
int httpd_origin_well_formed(const char *s);
enum httpd_origin { ORIGIN_ABSENT, ORIGIN_ALLOWED, ORIGIN_REFUSED, ORIGIN_MALFORMED };
enum httpd_origin httpd_cors_check(const struct httpd_cors *c, const char *origin);
/* The CORS headers of an answer (none when CORS is off or the origin is not allowed). */
void httpd_cors_headers(const struct httpd *srv, const struct httpd_request *req,
                        struct MHD_Response *resp);
/* OPTIONS on a route that has it: a preflight from an allowed origin gets 204 and the route's
 * methods and headers, from any other origin 403; a plain OPTIONS gets 204 and Allow. */
enum MHD_Result httpd_send_options(struct httpd *srv, struct MHD_Connection *conn,
                                   struct httpd_request *req, unsigned methods);

/* openapi.c: GET /openapi.json, made once from the configured datasets */
struct httpd_column {
    const char *name;
    papi_column_type type;
};
/* What papi-httpd knows of a dataset. columns NULL: not known (see httpd_dataset_describe). */
struct httpd_dataset_desc {
    const char *name;
    const char *key; /* the key column's name, or NULL when not known */
    size_t ncolumns;
    const struct httpd_column *columns;
};
struct httpd_api_desc {
    size_t ndatasets;
    const struct httpd_dataset_desc *datasets;
    int api_keys; /* bearer keys are required */
    size_t max_ids, post_max_bytes;
};
/* The document (malloc, NUL-ended), or NULL when out of memory. */
char *httpd_openapi_render(const struct httpd_api_desc *api, size_t *len);
/* Makes srv->openapi from the client's datasets; -1 when out of memory. */
int httpd_openapi_init(struct httpd *srv);

/* answer.c: every answer, JSON unless a type is given; req->status is set once MHD took it */
enum MHD_Result httpd_send(struct MHD_Connection *conn, struct httpd_request *req, unsigned status,
                           const char *type, struct MHD_Response *resp);
/* The same with a Cache-Control of its own (httpd_send's is no-store); type "" sends none. */
enum MHD_Result httpd_send_cached(struct MHD_Connection *conn, struct httpd_request *req,
                                  unsigned status, const char *type, struct MHD_Response *resp,
                                  const char *cache_control);
enum MHD_Result httpd_send_json(struct MHD_Connection *conn, struct httpd_request *req,
                                unsigned status, const char *body);
enum MHD_Result httpd_send_error(struct MHD_Connection *conn, struct httpd_request *req,
                                 unsigned status, const char *message, const char *code,
                                 int retry_after_s);
/* 405 with an Allow header naming the route's methods. */
enum MHD_Result httpd_send_not_allowed(struct MHD_Connection *conn, struct httpd_request *req,
                                       unsigned methods);
/* A failed lookup: input errors keep their message; a source failure's message goes to the
 * log only, the client gets papi's sentence, the source's code and its query id. */
enum MHD_Result httpd_send_papi_error(struct MHD_Connection *conn, struct httpd_request *req,
                                      papi_status st, const papi_error *err);
/* A failed readiness probe (503), told as a source failure is. */
enum MHD_Result httpd_send_unready(struct MHD_Connection *conn, struct httpd_request *req,
                                   papi_status st, const papi_error *err);
/* A lookup's answer: 200 with its ETag, or 304 (GET, HEAD) / 412 (POST) when If-None-Match
 * holds that tag. Takes res. */
enum MHD_Result httpd_send_result(struct httpd *srv, struct MHD_Connection *conn,
                                  struct httpd_request *req, papi_result *res);
/* hot.c: a one-row cache hit's 200 (no CORS, an id of 16 bytes, no matching If-None-Match)
 * sent from a response this event-loop thread keeps for those bytes, with only its X-Request-Id
 * rewritten. Returns 1 with *r set when it sent it (req->status set as httpd_send_cached() does);
 * 0: build it as usual. Event-loop threads only; the caller keeps res. */
int httpd_hot_send(struct httpd *srv, struct MHD_Connection *conn, struct httpd_request *req,
                   const papi_result *res, enum MHD_Result *r);
/* Frees every thread's kept answers, once no event loop runs. */
void httpd_hot_free(struct httpd *srv);
/* One log line with a source failure's whole detail, joined to the access log by request_id. */
void httpd_log_source_error(const char *request_id, const char *what, papi_status st,
                            const papi_error *err);

/* metrics.c: counted per thread (struct httpd_metrics_shard), summed when read */
void httpd_metrics_record(struct httpd *srv, int route, unsigned status, int64_t elapsed_us);
void httpd_count(struct httpd *srv, enum httpd_counter c);
/* A request started (+1) or finished (-1); httpd_in_flight() sums them. */
void httpd_in_flight_add(struct httpd *srv, int64_t d);
uint64_t httpd_in_flight(struct httpd *srv);
/* A number no other call returns during this run (this thread's shard, then its count). */
uint64_t httpd_next_request_number(struct httpd *srv);
char *httpd_metrics_render(struct httpd *srv, size_t *len);

/* json.c: JSON text over libpapi's papi_buf and papi_json_string */
/* Appends s as a JSON string with its quotes, '<' and '>' escaped too: an answer stays inert
 * should a browser ever render it as markup. */
void httpd_json_inert(papi_buf *b, const char *s, size_t n);
int httpd_utf8_valid(const unsigned char *s, size_t n);

/* replica.c: the replica served as the first source, synced (--sync-interval) and watched
 * (--replica-max-age, /metrics) by a thread of its own */
/* The exit status of a configuration that cannot work (a flag without the source it needs). */
#define HTTPD_EXIT_CONFIG 3
struct httpd_replica;
/* Stores a duration ("300", "5m", "1h", "1d") as unsigned seconds (cmd_store_fn). */
const char *httpd_store_duration(void *field, size_t size, const char *value);
/* Checks --sync-interval and --replica-max-age against the source option and makes
 * srv->replica (with a client of the rest of the chain to sync from). Returns 0, or the exit
 * status after logging why. */
int httpd_replica_configure(struct httpd *srv, const papi_config *cfg, papi_log_fn log,
                            void *log_user);
/* Starts the thread; -1 when it cannot. */
int httpd_replica_start(struct httpd *srv);
/* Stops the thread, abandoning a sync that does not stop within a second (its temporary file
 * removed): then returns 1, and the thread runs on until the process ends. */
int httpd_replica_stop(struct httpd *srv);
void httpd_replica_free(struct httpd *srv);
/* 1 with a message when --replica-max-age is set and the replica is older. */
int httpd_replica_too_old(struct httpd *srv, char *msg, size_t cap);
/* What /metrics tells of the replica. */
struct httpd_replica_stats {
    double age_s;       /* since its last sync ended, whoever ran it */
    uint64_t rows;      /* in the file */
    double last_sync_s; /* the server's last sync, failed or not; -1: none yet */
    uint64_t syncs, failures;
};
/* 1 with *out filled when there is a replica, else 0. */
int httpd_replica_snapshot(struct httpd *srv, struct httpd_replica_stats *out);

/* logline.c: the server's own log lines (JSON, one a line, on stderr) and its clocks */
void httpd_log_line(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t httpd_now_us(void);
/* Writes the wall-clock time as "2026-11-29T22:53:16.123Z" and returns its length. */
#define HTTPD_ISO_NOW_BYTES 32
size_t httpd_iso_now(char out[HTTPD_ISO_NOW_BYTES]);
/* The Date header's value for now ("Sun, 06 Nov 1994 08:49:37 GMT": always 29 bytes), the
 * calling thread's, valid until its next call; *sec (if not NULL) gets the second it names.
 * papi-httpd writes Date itself: MHD is told not to (server.c). */
#define HTTPD_HTTP_DATE_LEN 29
#define HTTPD_HTTP_DATE_BYTES (HTTPD_HTTP_DATE_LEN + 1)
const char *httpd_http_date(time_t *sec);
/* Writes all n bytes to fd (a short write is continued, a failed one dropped). */
void httpd_write_all(int fd, const char *p, size_t n);

/* alog.c: the access log's writer thread, which writes lines in batches */
/* Starts the thread; without it each line is written at once. */
int httpd_alog_start(void);
/* Writes what is buffered and joins the thread. */
void httpd_alog_stop(void);
/* Queues whole lines (or writes them at once when the thread is not running or is behind). */
void httpd_alog_append(const char *lines, size_t n);

/* accesslog.c: one JSON line per finished request on stdout */
void httpd_access_log(const struct httpd_request *req, const char *path, size_t path_len);

/* page.c (generated from page.html) */
extern const char httpd_page_html[];
extern const size_t httpd_page_html_len;

#endif
