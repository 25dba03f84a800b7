/* The worker pool: lookups that may wait on the source run here, off the event loop, so a slow
 * source never stalls the cache hits the event-loop threads answer. Readiness probes have a lane
 * and a thread of their own: an orchestrator's probe never queues behind lookups. */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

enum { LANE_LOOKUP, LANE_READY, LANES };

struct lane {
    struct httpd_job *head, *tail;
    pthread_cond_t cond;
};

struct worker {
    struct httpd_workers *pool;
    int lane;
    pthread_t thread;
};

struct httpd_workers {
    struct httpd *srv;
    pthread_mutex_t lock;
    struct lane lanes[LANES];
    struct httpd_job *outstanding; /* queued or running, for the drain */
    int stop;
    unsigned n;
    struct worker threads[];
};

void httpd_job_free(struct httpd_job *job)
{
    if (!job)
        return;
    papi_result_free(job->res);
    papi_pending_free(job->pending); /* its client left before a worker took it */
    free(job->select);
    free(job);
}

struct httpd_job *httpd_job_new(struct httpd_request *req, struct MHD_Connection *conn,
                                enum httpd_job_kind kind, const char *ids, size_t ids_len)
{
    struct httpd_job *job = calloc(1, sizeof *job + ids_len + 1);
    if (!job)
        return NULL;
    job->kind = kind;
    job->conn = conn;
    job->req = req;
    job->ids_len = ids_len;
    memcpy(job->request_id, req->request_id, sizeof job->request_id);
    if (ids_len)
        memcpy(job->ids, ids, ids_len);
    return job;
}

enum MHD_Result httpd_job_submit(struct httpd *srv, struct MHD_Connection *conn,
                                 struct httpd_request *req, struct httpd_job *job)
{
    if (!job)
        return httpd_send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
    req->job = job;
    httpd_workers_submit(srv, job);
    return MHD_YES;
}

/* Ids a comma would split (text keys) travel NUL-ended, to papi_lookup(). */
static papi_status lookup_array(struct httpd *srv, struct httpd_job *job)
{
    const char **ids = malloc(job->ids_array * sizeof *ids);
    if (!ids)
        return papi_error_set(&job->err, PAPI_ENOMEM, "out of memory for %zu ids", job->ids_array);
    const char *p = job->ids;
    for (size_t i = 0; i < job->ids_array; i++, p += strlen(p) + 1)
        ids[i] = p;
    papi_lookup_options opts = {.struct_size = sizeof opts};
    if (job->select) {
        opts.select = job->select->name;
        opts.nselect = job->select->n;
    }
    papi_status st = papi_lookup_opts(srv->client, job->dataset, ids, job->ids_array, &opts,
                                      &job->res, &job->err);
    free(ids);
    return st;
}

static void run_job(struct httpd *srv, struct httpd_job *job)
{
    if (job->kind == JOB_READY) {
        job->st = httpd_ready_probe(srv, job->request_id, &job->err);
        return;
    }
    if (job->pending) {
        papi_pending *p = job->pending;
        job->pending = NULL;
        job->st = papi_lookup_finish(p, &job->res, &job->err);
        return;
    }
    if (job->ids_array) {
        job->st = lookup_array(srv, job);
        return;
    }
    job->st =
        papi_lookup_list(srv->client, job->dataset, job->ids, job->ids_len, &job->res, &job->err);
}

/* Under the pool's lock, which keeps the connection suspended (the drain resumes connections
 * under it too), so its socket is still the client's. */
static int gone(struct httpd *srv, struct httpd_job *job)
{
    if (job->kind != JOB_LOOKUP || !httpd_client_gone(job->conn))
        return 0;
    httpd_count(srv, COUNT_CLIENT_GONE);
    return 1;
}

static void *worker_main(void *arg)
{
    struct worker *self = arg;
    struct httpd_workers *w = self->pool;
    struct lane *lane = &w->lanes[self->lane];
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!lane->head && !w->stop)
            pthread_cond_wait(&lane->cond, &w->lock);
        struct httpd_job *job = lane->head;
        if (!job)
            break; /* stopping and nothing queued */
        lane->head = job->qnext;
        if (!lane->head)
            lane->tail = NULL;
        int skip = job->abandoned || (job->client_gone = gone(w->srv, job));
        pthread_mutex_unlock(&w->lock);
        if (!skip)
            run_job(w->srv, job);
        pthread_mutex_lock(&w->lock);
        if (job->abandoned) {
            httpd_job_free(job); /* its connection was resumed and answered by the drain */
            continue;
        }
        if (job->oprev)
            job->oprev->onext = job->onext;
        else
            w->outstanding = job->onext;
        if (job->onext)
            job->onext->oprev = job->oprev;
        /* Once off the list the drain cannot touch it; the handler takes it on resume. */
        pthread_mutex_unlock(&w->lock);
        MHD_resume_connection(job->conn);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int httpd_workers_start(struct httpd *srv, unsigned n)
{
    struct httpd_workers *w = calloc(1, sizeof *w + (n + 1) * sizeof(struct worker));
    if (!w)
        return -1;
    w->srv = srv;
    pthread_mutex_init(&w->lock, NULL);
    for (int l = 0; l < LANES; l++)
        pthread_cond_init(&w->lanes[l].cond, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    srv->workers = w;
    /* the readiness thread first: without it the server does not start */
    for (; w->n < n + 1; w->n++) {
        struct worker *t = &w->threads[w->n];
        t->pool = w;
        t->lane = w->n == 0 ? LANE_READY : LANE_LOOKUP;
        if (pthread_create(&t->thread, &attr, worker_main, t) != 0)
            break;
    }
    pthread_attr_destroy(&attr);
    if (w->n < 2) {
        httpd_workers_stop(srv);
        return -1;
    }
    return 0;
}

void httpd_workers_submit(struct httpd *srv, struct httpd_job *job)
{
    struct httpd_workers *w = srv->workers;
    struct lane *lane = &w->lanes[job->kind == JOB_READY ? LANE_READY : LANE_LOOKUP];
    MHD_suspend_connection(job->conn); /* before any worker can resume it */
    pthread_mutex_lock(&w->lock);
    job->qnext = NULL;
    if (lane->tail)
        lane->tail->qnext = job;
    else
        lane->head = job;
    lane->tail = job;
    job->oprev = NULL;
    job->onext = w->outstanding;
    if (w->outstanding)
        w->outstanding->oprev = job;
    w->outstanding = job;
    pthread_cond_signal(&lane->cond);
    pthread_mutex_unlock(&w->lock);
}

unsigned httpd_workers_abandon(struct httpd *srv)
{
    struct httpd_workers *w = srv->workers;
    unsigned n = 0;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    for (struct httpd_job *job = w->outstanding; job; job = job->onext) {
        job->abandoned = 1;
        job->req->abandoned = 1;
        job->req->job = NULL;
        atomic_fetch_add_explicit(&srv->abandoned_unanswered, 1, memory_order_relaxed);
        n++;
        MHD_resume_connection(job->conn);
    }
    w->outstanding = NULL;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void httpd_workers_stop(struct httpd *srv)
{
    struct httpd_workers *w = srv->workers;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    for (int l = 0; l < LANES; l++)
        pthread_cond_broadcast(&w->lanes[l].cond);
    pthread_mutex_unlock(&w->lock);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->threads[i].thread, NULL);
    pthread_mutex_destroy(&w->lock);
    for (int l = 0; l < LANES; l++)
        pthread_cond_destroy(&w->lanes[l].cond);
    free(w);
    srv->workers = NULL;
}
