/* The worker pool: lookups that may wait on the source run here, off the event loop, so a slow
 * source never stalls the cache hits the event-loop threads answer. */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

struct httpd_workers {
    struct httpd *srv;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct httpd_job *head, *tail; /* queue */
    struct httpd_job *outstanding;
    int stop;
    unsigned n;
    pthread_t threads[];
};

void httpd_job_free(struct httpd_job *job)
{
    if (!job)
        return;
    papi_result_free(job->res);
    free(job);
}

static void run_job(struct httpd *srv, struct httpd_job *job)
{
    if (job->kind == JOB_READY) {
        job->st = httpd_ready_probe(srv, job->err.message, sizeof job->err.message);
        return;
    }
    job->st = papi_lookup_list(srv->client, job->dataset, job->ids, job->ids_len, &job->res, &job->err);
}

static void *worker_main(void *arg)
{
    struct httpd_workers *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        struct httpd_job *job = w->head;
        if (!job)
            break; /* stopping and nothing queued */
        w->head = job->qnext;
        if (!w->head)
            w->tail = NULL;
        int abandoned = job->abandoned;
        pthread_mutex_unlock(&w->lock);
        if (!abandoned)
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
    struct httpd_workers *w = calloc(1, sizeof *w + n * sizeof(pthread_t));
    if (!w)
        return -1;
    w->srv = srv;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    srv->workers = w;
    for (; w->n < n; w->n++)
        if (pthread_create(&w->threads[w->n], &attr, worker_main, w) != 0)
            break;
    pthread_attr_destroy(&attr);
    if (w->n == 0) {
        httpd_workers_stop(srv);
        return -1;
    }
    return 0;
}

void httpd_workers_submit(struct httpd *srv, struct httpd_job *job)
{
    struct httpd_workers *w = srv->workers;
    MHD_suspend_connection(job->conn); /* before any worker can resume it */
    pthread_mutex_lock(&w->lock);
    job->qnext = NULL;
    if (w->tail)
        w->tail->qnext = job;
    else
        w->head = job;
    w->tail = job;
    job->oprev = NULL;
    job->onext = w->outstanding;
    if (w->outstanding)
        w->outstanding->oprev = job;
    w->outstanding = job;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void httpd_workers_abandon(struct httpd *srv)
{
    struct httpd_workers *w = srv->workers;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    for (struct httpd_job *job = w->outstanding; job; job = job->onext) {
        job->abandoned = 1;
        job->req->abandoned = 1;
        job->req->job = NULL;
        MHD_resume_connection(job->conn);
    }
    w->outstanding = NULL;
    pthread_mutex_unlock(&w->lock);
}

void httpd_workers_stop(struct httpd *srv)
{
    struct httpd_workers *w = srv->workers;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
    srv->workers = NULL;
}
