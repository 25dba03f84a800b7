/* papi-httpd internals shared by its files. Not installed. */
#ifndef PAPI_HTTPD_H
#define PAPI_HTTPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>
#include <papi/papi.h>

#define HTTPD_MAX_URL_BYTES 8192
#define HTTPD_MAX_DATASETS 32
#define HTTPD_MAX_API_KEYS 16
#define HTTPD_MAX_API_KEY_BYTES 256
#define HTTPD_REQUEST_ID_MAX 64
#define HTTPD_MAX_BODY_BYTES 65536

/* Routes as metrics see them; datasets follow ROUTE_DATASET0. */
enum httpd_route {
    ROUTE_NONE = 0, /* not routed yet (refused before routing) */
    ROUTE_ROOT,
    ROUTE_TEST,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_NOTFOUND,
    ROUTE_DATASET0
};
#define HTTPD_ROUTES (ROUTE_DATASET0 + HTTPD_MAX_DATASETS)

/* Status codes counted one by one; anything else lands in the last slot. */
#define HTTPD_STATUS_SLOTS 14
#define HTTPD_LATENCY_BUCKETS 15

struct httpd_metrics {
    _Atomic uint64_t requests[HTTPD_ROUTES][HTTPD_STATUS_SLOTS];
    _Atomic uint64_t latency_bucket[HTTPD_ROUTES][HTTPD_LATENCY_BUCKETS];
    _Atomic uint64_t latency_us_sum[HTTPD_ROUTES];
    _Atomic uint64_t in_flight;
    _Atomic uint64_t x_cache[3]; /* HIT, MISS, STALE answers */
    _Atomic uint64_t unauthorized;
    _Atomic uint64_t readiness_probes;
    _Atomic uint64_t connections_closed_early;
};

struct httpd_options {
    char listen[256];
    unsigned threads; /* event-loop threads answering cache hits */
    unsigned workers; /* threads running lookups that may block */
    unsigned max_connections;
    unsigned connection_timeout_s;
    unsigned shutdown_timeout_s;
    unsigned ready_cache_ms;
    int access_log;
    papi_log_level log_level;
};

struct httpd {
    struct httpd_options opt;
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
    uint64_t request_id_seed;
    _Atomic uint64_t request_id_counter;
    int64_t started_ms;

    pthread_mutex_t ready_lock;
    int64_t ready_checked_ms;
    papi_status ready_status;
    char ready_message[PAPI_ERROR_MESSAGE_MAX];

    struct httpd_metrics metrics;
    struct httpd_workers *workers;
};

/* Per-request state, made by the URI callback, freed when the request completes. */
struct httpd_request {
    struct httpd *srv;
    int64_t start_us;
    char *raw_uri;
    int route;
    unsigned status;
    int cache; /* -1 none, else papi_cache_outcome */
    int headers_done;
    size_t body_bytes;
    char method[16];
    char request_id[HTTPD_REQUEST_ID_MAX + 1];
    struct httpd_job *job; /* set while suspended for a worker and until its answer is sent */
    int abandoned;         /* the drain deadline passed before the worker finished */
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
    papi_result *res;
    papi_status st;
    papi_error err;
    int abandoned; /* under the pool's lock */
    char ids[];
};
int httpd_workers_start(struct httpd *srv, unsigned n);
/* Suspends the connection and queues the job; the handler runs again once it is done. */
void httpd_workers_submit(struct httpd *srv, struct httpd_job *job);
/* Resumes every outstanding job's connection as abandoned (their workers free them later). */
void httpd_workers_abandon(struct httpd *srv);
/* Joins the workers (each finishes the lookup it runs) and frees the pool. */
void httpd_workers_stop(struct httpd *srv);
void httpd_job_free(struct httpd_job *job);
papi_status httpd_ready_probe(struct httpd *srv, char *msg, size_t cap);

/* Lets a test binary attach its own backends to the configuration before the client is made. */
typedef int (*httpd_config_hook)(papi_config *cfg, void *user);

int httpd_main(int argc, char **argv, httpd_config_hook hook, void *hook_user);

/* routes.c */
void *httpd_uri_cb(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result httpd_handler(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls);
void httpd_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe);
size_t httpd_no_unescape(void *cls, struct MHD_Connection *conn, char *uri);
int64_t httpd_now_us(void);

/* metrics.c */
void httpd_metrics_record(struct httpd *srv, int route, unsigned status, int64_t elapsed_us);
char *httpd_metrics_render(struct httpd *srv, size_t *len);

/* accesslog.c: JSON helpers and the access log */
struct httpd_sb {
    char *p;
    size_t len, cap;
    int oom;
    int on_heap;
};
void sb_free(struct httpd_sb *sb);
void sb_put(struct httpd_sb *sb, const char *s, size_t n);
void sb_puts(struct httpd_sb *sb, const char *s);
void sb_printf(struct httpd_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends @p n bytes as the inside of a JSON string; invalid UTF-8 becomes U+FFFD. */
void sb_json_str(struct httpd_sb *sb, const char *s, size_t n);
int httpd_utf8_valid(const unsigned char *s, size_t n);
void httpd_access_log(const struct httpd_request *req, const char *path, size_t path_len);
/* Starts the thread that writes access lines in batches; without it each line is written at once. */
int httpd_access_log_start(void);
/* Writes what is buffered and joins the thread. */
void httpd_access_log_stop(void);
void httpd_log_line(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* page.c (generated from page.html) */
extern const char httpd_page_html[];
extern const size_t httpd_page_html_len;

#endif
