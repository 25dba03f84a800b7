/* The replica the server serves as its first source (`--source sqlite:replica.db,snowflake`):
 * kept fresh by a thread of its own (--sync-interval), watched for /readyz (--replica-max-age)
 * and /metrics. A sync goes through the public API alone: papi_replica_sync() from a client of
 * the rest of the chain writes a new file and renames it over the served path; the serving
 * client's sqlite source notices the new file by itself, so no lookup fails or waits for it. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <papi/papi_replica.h>

#include "httpd.h"

/* How often the thread looks at the file (one stat; its metadata read again when it changed):
 * a sync by another process (`papi sync` from cron) shows in /readyz and /metrics too. */
#define WATCH_MS 1000
/* How long SIGTERM waits for a sync to stop between two partitions before abandoning it. */
#define STOP_GRACE_MS 1000
/* A sync's budget: the interval, but never less than this. */
#define MIN_SYNC_BUDGET_S 600
#define MAX_DURATION_S (366u * 24 * 3600)

struct httpd_replica {
    char path[PATH_MAX];
    char dataset[PAPI_REPLICA_TEXT_MAX];
    char shape[PAPI_REPLICA_TEXT_MAX]; /* the served dataset's shape hash */
    unsigned interval_s;               /* 0: watched, never synced here */
    unsigned max_age_s;                /* 0: /readyz does not look at the age */
    papi_client *upstream;             /* the rest of the chain; NULL when interval_s is 0 */
    pthread_t thread;
    int started;

    pthread_mutex_t lock; /* the members below */
    pthread_cond_t wake;
    int stop;
    int exited;
    int known;                /* info holds the file's metadata */
    papi_replica_info info;   /* as last read */
    struct stat seen;         /* the file that metadata was read from */
    double last_sync_s;       /* the last sync's duration, failed or not; -1: none yet */
    uint64_t syncs, failures; /* since start */

    _Atomic int stopping; /* read by the sync's progress callback */
};

/* ------------------------------------------------------------- options */

/* "300", "300s", "5m", "1h", "1d": seconds. */
const char *httpd_store_duration(void *field, size_t size, const char *value)
{
    (void)size;
    char *end;
    errno = 0;
    if (value[0] < '0' || value[0] > '9')
        return "expected a duration: seconds, or a number with s, m, h or d (300, 5m, 1h)";
    unsigned long long n = strtoull(value, &end, 10);
    unsigned long long unit = 1;
    if (*end && !end[1])
        unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
    else if (*end)
        unit = 0;
    if (errno || unit == 0)
        return "expected a duration: seconds, or a number with s, m, h or d (300, 5m, 1h)";
    if (n > MAX_DURATION_S / unit)
        return "a duration of at most 366 days is required";
    *(unsigned *)field = (unsigned)(n * unit);
    return NULL;
}

/* ------------------------------------------------------------- the file */

static int64_t unix_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads the file's metadata again when the path names another file or it changed. A replica of
 * another dataset or shape is one the sqlite source refuses to swap in: it keeps serving the
 * previous file, so the answer stays that file's. */
static void watch(struct httpd_replica *r)
{
    struct stat sb;
    if (stat(r->path, &sb) != 0)
        return;
    pthread_mutex_lock(&r->lock);
    int changed = !r->known || !same_stat(&sb, &r->seen);
    pthread_mutex_unlock(&r->lock);
    if (!changed)
        return;
    papi_replica_info info = {.struct_size = sizeof info};
    /* mid-rename, damaged or foreign: the sqlite source says so; keep the last answer */
    if (papi_replica_stat(r->path, &info, NULL) != PAPI_OK || strcmp(info.dataset, r->dataset) ||
        strcmp(info.shape, r->shape))
        return;
    pthread_mutex_lock(&r->lock);
    r->info = info;
    r->seen = sb;
    r->known = 1;
    pthread_mutex_unlock(&r->lock);
}

/* The temporary files papi_replica_sync() makes in this process: `<path>.tmp-<pid>-<random>`
 * (and any journal of theirs). */
static void remove_own_temps(const struct httpd_replica *r)
{
    char dir[PATH_MAX], prefix[PATH_MAX + 32];
    const char *slash = strrchr(r->path, '/');
    const char *base = slash ? slash + 1 : r->path;
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - r->path), r->path);
    snprintf(prefix, sizeof prefix, "%s.tmp-%ld-", base, (long)getpid());
    DIR *d = opendir(!slash ? "." : slash == r->path ? "/" : dir);
    if (!d)
        return;
    struct dirent *e;
    size_t plen = strlen(prefix);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, plen) != 0)
            continue;
        char full[2 * PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", !slash ? "." : slash == r->path ? "" : dir, e->d_name);
        unlink(full);
    }
    closedir(d);
}

/* ------------------------------------------------------------- the sync thread */

static int on_progress(void *user, uint64_t rows, uint64_t partitions, uint64_t npartitions)
{
    (void)rows, (void)partitions, (void)npartitions;
    struct httpd_replica *r = user;
    return atomic_load(&r->stopping);
}

/* One sync. A failure is one log line: papi's sentence and the source's codes, never a
 * source's own text (it may quote SQL) or a secret; the old file stays in service. */
static void sync_once(struct httpd_replica *r)
{
    unsigned budget_s = r->interval_s > MIN_SYNC_BUDGET_S ? r->interval_s : MIN_SYNC_BUDGET_S;
    papi_replica_opts opts = {.struct_size = sizeof opts,
                              .timeout_ms = (int64_t)budget_s * 1000,
                              .progress = on_progress,
                              .progress_user = r};
    papi_replica_info info = {.struct_size = sizeof info};
    papi_error err = {0};
    int64_t t0 = httpd_now_us();
    papi_status st = papi_replica_sync(r->upstream, r->dataset, r->path, &opts, &info, &err);
    double secs = (double)(httpd_now_us() - t0) / 1e6;
    if (atomic_load(&r->stopping))
        return; /* stopped by SIGTERM: not a failure */
    pthread_mutex_lock(&r->lock);
    r->last_sync_s = secs;
    if (st == PAPI_OK)
        r->syncs++;
    else
        r->failures++;
    pthread_mutex_unlock(&r->lock);
    if (st == PAPI_OK) {
        httpd_log_line("info", "replica: synced %llu rows of %s in %.3f s (query id %s)",
                       (unsigned long long)info.rows, r->dataset, secs,
                       info.query_id[0] ? info.query_id : "-");
        watch(r);
        return;
    }
    int source_text = st == PAPI_ESOURCE;
    httpd_log_line("warn",
                   "replica: sync of %s failed after %.3f s, still serving the previous file: "
                   "%s: %s (source code %s, SQL state %s, query id %s)",
                   r->dataset, secs, papi_status_name(st),
                   !source_text && err.message[0] ? err.message : papi_strerror(st),
                   err.source_code[0] ? err.source_code : "-",
                   err.sql_state[0] ? err.sql_state : "-", err.query_id[0] ? err.query_id : "-");
}

/* When the next sync is due on the monotonic clock (ms): an interval after the file's last
 * sync ended, so a replica already older than that is synced at once. An end time ahead of this
 * host's clock (another host's) counts as now: the wait is never longer than an interval. */
static int64_t first_due_ms(struct httpd_replica *r)
{
    int64_t now = httpd_now_us() / 1000;
    pthread_mutex_lock(&r->lock);
    int64_t age = r->known ? unix_ms() - r->info.finished_unix_ms : 0;
    pthread_mutex_unlock(&r->lock);
    if (age < 0)
        age = 0;
    int64_t wait = (int64_t)r->interval_s * 1000 - age;
    return now + (wait > 0 ? wait : 0);
}

/* Sleeps until ms on the monotonic clock or a stop; returns non-zero on a stop. */
static int sleep_until(struct httpd_replica *r, int64_t until_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t left = until_ms - now_ms;
    if (left > 0) {
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&r->lock);
    while (!r->stop && left > 0 && pthread_cond_timedwait(&r->wake, &r->lock, &ts) != ETIMEDOUT)
        ;
    int stop = r->stop;
    pthread_mutex_unlock(&r->lock);
    return stop;
}

static void *replica_thread(void *arg)
{
    struct httpd_replica *r = arg;
    int64_t due = r->interval_s ? first_due_ms(r) : INT64_MAX;
    for (;;) {
        int64_t now = httpd_now_us() / 1000;
        int64_t next = now + WATCH_MS < due ? now + WATCH_MS : due;
        if (sleep_until(r, next))
            break;
        if (httpd_now_us() / 1000 >= due) {
            sync_once(r);
            due = httpd_now_us() / 1000 + (int64_t)r->interval_s * 1000;
        } else {
            watch(r);
        }
    }
    pthread_mutex_lock(&r->lock);
    r->exited = 1;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ------------------------------------------------------------- start and stop */

/* A client of the chain's sources after the first, with every other option as configured and
 * no cache (a scan reads none). Its library lines only at --log-level debug: a failed sync is
 * the one line sync_once() writes. */
static int make_upstream(struct httpd_replica *r, const papi_config *cfg, const char *rest,
                         papi_log_fn log, void *log_user, papi_log_level level)
{
    papi_config *up = NULL;
    papi_error err = {0};
    papi_status st = papi_config_create(&up);
    for (size_t i = 0, n = papi_config_option_count(); st == PAPI_OK && i < n; i++) {
        const char *key = papi_config_option_key(i, NULL, NULL);
        const char *v = key ? papi_config_get(cfg, key) : NULL;
        if (v && strcmp(key, "source") != 0 && strcmp(key, "cache") != 0)
            st = papi_config_set(up, key, v, &err);
    }
    if (st == PAPI_OK)
        st = papi_config_set(up, "source", rest, &err);
    if (st == PAPI_OK)
        st = papi_config_set(up, "cache", "none", &err);
    if (st == PAPI_OK && level == PAPI_LOG_DEBUG)
        st = papi_config_set_log(up, log, log_user, PAPI_LOG_DEBUG);
    if (st == PAPI_OK)
        st = papi_client_create(up, &r->upstream, &err);
    papi_config_destroy(up);
    if (st == PAPI_OK)
        return 0;
    httpd_log_line("error",
                   "--sync-interval: cannot open the source the replica is synced "
                   "from: %s (%s)",
                   err.message[0] ? err.message : papi_strerror(st), papi_status_name(st));
    return st == PAPI_ENOMEM ? 1 : HTTPD_EXIT_CONFIG;
}

/* The first source, `sqlite:PATH`, and what follows its comma ("" when nothing does). */
static int split_source(const char *source, char *path, size_t cap, const char **rest)
{
    if (!source || strncmp(source, "sqlite:", 7) != 0)
        return -1;
    const char *p = source + 7;
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == 0 || len >= cap)
        return -1;
    memcpy(path, p, len);
    path[len] = '\0';
    *rest = comma ? comma + 1 : "";
    return 0;
}

int httpd_replica_configure(struct httpd *srv, const papi_config *cfg, papi_log_fn log,
                            void *log_user)
{
    const struct httpd_options *o = &srv->opt;
    if (!o->sync_interval_s && !o->replica_max_age_s)
        return 0;
    const char *flag = o->sync_interval_s ? "--sync-interval" : "--replica-max-age";
    struct httpd_replica *r = calloc(1, sizeof *r);
    if (!r) {
        httpd_log_line("error", "out of memory");
        return 1;
    }
    const char *rest = "";
    if (split_source(papi_config_get(cfg, "source"), r->path, sizeof r->path, &rest) != 0) {
        free(r);
        httpd_log_line("error",
                       "%s needs a replica as the first source, e.g. --source "
                       "sqlite:replica.db,snowflake",
                       flag);
        return HTTPD_EXIT_CONFIG;
    }
    if (o->sync_interval_s && !rest[0]) {
        free(r);
        httpd_log_line("error", "--sync-interval needs a source after the replica to sync it "
                                "from, e.g. --source sqlite:replica.db,snowflake");
        return HTTPD_EXIT_CONFIG;
    }
    papi_error err = {0};
    r->info.struct_size = sizeof r->info;
    if (papi_replica_stat(r->path, &r->info, &err) != PAPI_OK) {
        httpd_log_line("error", "%s: %s (make the replica with papi sync first)", flag,
                       err.message[0] ? err.message : "the first source is not a replica");
        free(r);
        return HTTPD_EXIT_CONFIG;
    }
    stat(r->path, &r->seen);
    r->known = 1;
    snprintf(r->dataset, sizeof r->dataset, "%s", r->info.dataset);
    snprintf(r->shape, sizeof r->shape, "%s", r->info.shape);
    r->interval_s = o->sync_interval_s;
    r->max_age_s = o->replica_max_age_s;
    r->last_sync_s = -1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    srv->replica = r;
    if (r->interval_s)
        return make_upstream(r, cfg, rest, log, log_user, o->log_level);
    return 0;
}

int httpd_replica_start(struct httpd *srv)
{
    struct httpd_replica *r = srv->replica;
    if (!r)
        return 0;
    if (pthread_create(&r->thread, NULL, replica_thread, r) != 0)
        return -1;
    r->started = 1;
    if (r->interval_s)
        httpd_log_line("info", "replica: %s synced every %u s from the rest of the chain",
                       r->dataset, r->interval_s);
    return 0;
}

int httpd_replica_stop(struct httpd *srv)
{
    struct httpd_replica *r = srv->replica;
    if (!r || !r->started)
        return 0;
    atomic_store(&r->stopping, 1);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += STOP_GRACE_MS / 1000;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_broadcast(&r->wake);
    while (!r->exited && pthread_cond_timedwait(&r->wake, &r->lock, &ts) != ETIMEDOUT)
        ;
    int exited = r->exited;
    pthread_mutex_unlock(&r->lock);
    if (exited) {
        pthread_join(r->thread, NULL);
        r->started = 0;
        return 0;
    }
    /* Stuck inside the source (a partition on its way): nothing can stop it but the end of the
     * process, which comes next; what it wrote goes now, and the served file was never touched. */
    remove_own_temps(r);
    httpd_log_line("warn", "replica: the sync under way was abandoned (its temporary file "
                           "removed, the replica as it was)");
    return 1;
}

void httpd_replica_free(struct httpd *srv)
{
    struct httpd_replica *r = srv->replica;
    if (!r || r->started)
        return; /* an abandoned sync's thread still holds it: the process ends with it */
    papi_client_destroy(r->upstream);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
    srv->replica = NULL;
}

/* ------------------------------------------------------------- readiness and metrics */

int httpd_replica_too_old(struct httpd *srv, char *msg, size_t cap)
{
    struct httpd_replica *r = srv->replica;
    if (!r || !r->max_age_s)
        return 0;
    pthread_mutex_lock(&r->lock);
    int64_t age_ms = unix_ms() - r->info.finished_unix_ms;
    pthread_mutex_unlock(&r->lock);
    if (age_ms <= (int64_t)r->max_age_s * 1000)
        return 0;
    snprintf(msg, cap, "the replica is %lld s old, older than --replica-max-age (%u s)",
             (long long)(age_ms / 1000), r->max_age_s);
    return 1;
}

int httpd_replica_snapshot(struct httpd *srv, struct httpd_replica_stats *out)
{
    struct httpd_replica *r = srv->replica;
    if (!r)
        return 0;
    pthread_mutex_lock(&r->lock);
    double age = (double)(unix_ms() - r->info.finished_unix_ms) / 1e3;
    out->age_s = age > 0 ? age : 0;
    out->rows = r->info.rows;
    out->last_sync_s = r->last_sync_s;
    out->syncs = r->syncs;
    out->failures = r->failures;
    pthread_mutex_unlock(&r->lock);
    return 1;
}
