/* One Redis connection, driven here rather than by hiredis's blocking calls.
 *
 * hiredis's timeout is per read(): a Redis sending one byte every 100 ms never trips a 200 ms
 * timeout and holds the caller forever. So the socket is non-blocking, and every step (connect,
 * AUTH/SELECT, a command, a pipeline) polls against one deadline on the monotonic clock.
 * hiredis still resolves the name and parses replies, but its reader is fed only what this file
 * reads, no more than the replies asked for could legitimately take, and its constructors refuse
 * an array or a string larger than the caller allows before allocating it (hiredis 0.14 has no
 * such limits of its own). */
#include "redis_conn.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Framing around one value: "$<up to 20 digits>\r\n" before it and "\r\n" after, or an array
 * header. */
#define REPLY_FRAME_BYTES 32
/* AUTH and SELECT answer "+OK" or a short error. */
#define HANDSHAKE_REPLY_MAX 512
#define READ_CHUNK 16384

/* ---------------------------------------------------------------- reply limits */

static void *guarded_string(const redisReadTask *task, char *s, size_t len)
{
    papi__redis_guard *g = task->privdata;
    if (!g || len > g->lim.max_string) {
        if (g)
            g->refused = true;
        return NULL; /* the reader fails: the connection is closed */
    }
    return g->dflt->createString(task, s, len);
}

static void *guarded_array(const redisReadTask *task, int elements)
{
    papi__redis_guard *g = task->privdata;
    /* hiredis allocates the element pointers from the header alone; and only a top-level
     * array (MGET) is ever legitimate: nested ones would multiply the allocation */
    if (!g || task->parent || elements < 0 || (size_t)elements > g->lim.max_elements) {
        if (g)
            g->refused = true;
        return NULL;
    }
    return g->dflt->createArray(task, elements);
}

static void *guarded_integer(const redisReadTask *task, long long value)
{
    papi__redis_guard *g = task->privdata;
    return g ? g->dflt->createInteger(task, value) : NULL;
}

static void *guarded_nil(const redisReadTask *task)
{
    papi__redis_guard *g = task->privdata;
    return g ? g->dflt->createNil(task) : NULL;
}

static const redisReplyObjectFunctions guarded_functions = {
    guarded_string, guarded_array, guarded_integer, guarded_nil, freeReplyObject,
};

/* ---------------------------------------------------------------- the socket */

/* 1 when fd is ready for events, 0 when deadline_ms passed first, -1 when poll failed. */
static int wait_fd(const papi_host *clock, int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - papi_host_now_ms(clock);
        if (left <= 0)
            return 0;
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0)
            return 1; /* POLLERR/POLLHUP too: the next send or recv tells which */
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static bool wait_or_say(const papi_host *clock, int fd, short events, int64_t deadline_ms,
                        char *why, size_t why_cap)
{
    int r = wait_fd(clock, fd, events, deadline_ms);
    if (r == 0)
        snprintf(why, why_cap, "timed out");
    else if (r < 0)
        snprintf(why, why_cap, "poll: %s", strerror(errno));
    return r > 0;
}

static bool connected(const papi__redis_conn *conn, int64_t deadline_ms, char *why, size_t why_cap)
{
    redisContext *c = conn->ctx;
    if (!wait_or_say(conn->clock, c->fd, POLLOUT, deadline_ms, why, why_cap)) {
        if (strcmp(why, "timed out") == 0)
            snprintf(why, why_cap, "connect timed out");
        return false;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr) {
        snprintf(why, why_cap, "connect: %s", strerror(soerr));
        return false;
    }
    return true;
}

static bool send_out(papi__redis_conn *conn, int64_t deadline_ms, char *why, size_t why_cap)
{
    if (conn->out.oom) {
        snprintf(why, why_cap, "out of memory");
        return false;
    }
    int fd = conn->ctx->fd;
    for (size_t off = 0; off < conn->out.len;) {
        ssize_t w = send(fd, conn->out.data + off, conn->out.len - off, MSG_NOSIGNAL);
        if (w >= 0) {
            off += (size_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            snprintf(why, why_cap, "write: %s", strerror(errno));
            return false;
        }
        if (!wait_or_say(conn->clock, fd, POLLOUT, deadline_ms, why, why_cap))
            return false;
    }
    return true;
}

/* The bytes nreplies replies within lim can take at most. */
static size_t reply_budget(size_t nreplies, const papi__redis_limits *lim)
{
    size_t per_value = lim->max_string + REPLY_FRAME_BYTES;
    size_t values = lim->max_elements ? lim->max_elements : 1;
    if (per_value < lim->max_string || values > (SIZE_MAX - REPLY_FRAME_BYTES) / per_value)
        return SIZE_MAX;
    size_t per_reply = values * per_value + REPLY_FRAME_BYTES;
    return nreplies > SIZE_MAX / per_reply ? SIZE_MAX : nreplies * per_reply;
}

/* ---------------------------------------------------------------- commands */

/* "<lead><n>\r\n", the header of a RESP array or string */
static void put_header(papi_buf *b, char lead, size_t n)
{
    char text[24];
    size_t at = sizeof text;
    text[--at] = '\n';
    text[--at] = '\r';
    do {
        text[--at] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    text[--at] = lead;
    papi_buf_append(b, text + at, sizeof text - at);
}

bool papi__redis_conn_append(papi__redis_conn *conn, int argc, const char **argv,
                             const size_t *lens)
{
    /* RESP by hand: straight into the output buffer, no copy kept anywhere else (AUTH) */
    put_header(&conn->out, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        put_header(&conn->out, '$', lens[i]);
        papi_buf_append(&conn->out, argv[i], lens[i]);
        papi_buf_append(&conn->out, "\r\n", 2);
    }
    return !conn->out.oom;
}

/* Reads until one reply is complete: false on a failure (why says which). */
static bool read_reply(papi__redis_conn *conn, size_t budget, size_t *fed, int64_t deadline_ms,
                       void **reply, char *why, size_t why_cap)
{
    redisReader *rd = conn->ctx->reader;
    for (;;) {
        if (redisReaderGetReply(rd, reply) != REDIS_OK) {
            snprintf(why, why_cap, "%s",
                     conn->guard.refused ? "a reply over the size limits" : rd->errstr);
            return false;
        }
        if (*reply)
            return true;
        /* wait first: right after a request, or mid-reply, the bytes are rarely there yet, and a
         * recv() that says EAGAIN is one system call too many on every hit */
        if (!wait_or_say(conn->clock, conn->ctx->fd, POLLIN, deadline_ms, why, why_cap))
            return false;
        char chunk[READ_CHUNK];
        size_t want = budget - *fed < sizeof chunk ? budget - *fed + 1 : sizeof chunk;
        ssize_t n = recv(conn->ctx->fd, chunk, want, 0);
        if (n > 0) {
            *fed += (size_t)n;
            if (*fed > budget) {
                snprintf(why, why_cap, "a reply over the size limits");
                return false;
            }
            if (redisReaderFeed(rd, chunk, (size_t)n) != REDIS_OK) {
                snprintf(why, why_cap, "out of memory");
                return false;
            }
        } else if (n == 0) {
            snprintf(why, why_cap, "connection closed by Redis");
            return false;
        } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            snprintf(why, why_cap, "read: %s", strerror(errno));
            return false;
        }
    }
}

bool papi__redis_conn_exchange(papi__redis_conn *conn, size_t nreplies,
                               const papi__redis_limits *lim, int64_t deadline_ms,
                               redisReply **replies, char *why, size_t why_cap)
{
    for (size_t i = 0; i < nreplies; i++)
        replies[i] = NULL;
    bool ok = send_out(conn, deadline_ms, why, why_cap);
    papi_buf_reset(&conn->out);
    conn->guard.lim = *lim;
    conn->guard.refused = false;
    size_t budget = reply_budget(nreplies, lim), fed = 0;
    for (size_t i = 0; ok && i < nreplies; i++) {
        void *reply = NULL;
        ok = read_reply(conn, budget, &fed, deadline_ms, &reply, why, why_cap);
        replies[i] = reply;
    }
    redisReader *rd = conn->ctx->reader;
    if (ok && rd->pos < rd->len) {
        snprintf(why, why_cap, "unexpected bytes after the reply");
        ok = false;
    }
    if (!ok)
        for (size_t i = 0; i < nreplies; i++) {
            freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
    return ok;
}

/* ---------------------------------------------------------------- open and close */

static bool handshake(papi__redis_conn *conn, const char *password, long db, int64_t deadline_ms,
                      char *why, size_t why_cap)
{
    char dbtxt[24];
    snprintf(dbtxt, sizeof dbtxt, "%ld", db);
    const char *names[2];
    size_t n = 0;
    if (password) {
        const char *argv[2] = {"AUTH", password};
        size_t lens[2] = {4, strlen(password)};
        papi__redis_conn_append(conn, 2, argv, lens);
        names[n++] = "AUTH";
    }
    if (db != 0) {
        const char *argv[2] = {"SELECT", dbtxt};
        size_t lens[2] = {6, strlen(dbtxt)};
        papi__redis_conn_append(conn, 2, argv, lens);
        names[n++] = "SELECT";
    }
    if (n == 0)
        return true;
    redisReply *r[2];
    papi__redis_limits lim = {0, HANDSHAKE_REPLY_MAX};
    bool ok = papi__redis_conn_exchange(conn, n, &lim, deadline_ms, r, why, why_cap);
    if (conn->out.data)
        explicit_bzero(conn->out.data, conn->out.cap); /* it held the password */
    if (!ok) {
        char io[160];
        snprintf(io, sizeof io, "%s", why);
        snprintf(why, why_cap, "%s failed: %s", names[0], io);
        return false;
    }
    for (size_t i = 0; i < n && ok; i++) {
        if (r[i]->type == REDIS_REPLY_STATUS)
            continue;
        ok = false;
        if (r[i]->type == REDIS_REPLY_ERROR)
            snprintf(why, why_cap, "%s refused: %.*s", names[i],
                     (int)(r[i]->len > 120 ? 120 : r[i]->len), r[i]->str);
        else
            snprintf(why, why_cap, "%s: unexpected reply", names[i]);
    }
    for (size_t i = 0; i < n; i++)
        freeReplyObject(r[i]);
    return ok;
}

papi__redis_conn *papi__redis_conn_open(const papi_host *clock, const char *host, int port,
                                        const char *password, long db, int64_t deadline_ms,
                                        char *why, size_t why_cap)
{
    papi__redis_conn *conn = calloc(1, sizeof *conn);
    if (!conn) {
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    conn->clock = clock;
    papi_buf_init(&conn->out);
    conn->ctx = redisConnectNonBlock(host, port);
    if (!conn->ctx) {
        snprintf(why, why_cap, "out of memory");
        goto fail;
    }
    if (conn->ctx->err) {
        snprintf(why, why_cap, "%s", conn->ctx->errstr);
        goto fail;
    }
    if (!connected(conn, deadline_ms, why, why_cap))
        goto fail;
    redisEnableKeepAlive(conn->ctx);
    redisReader *rd = conn->ctx->reader;
    conn->guard.dflt = rd->fn;
    /* hiredis only reads through fn; the table stays constant */
    rd->fn = (redisReplyObjectFunctions *)&guarded_functions;
    rd->privdata = &conn->guard;
    if (!handshake(conn, password, db, deadline_ms, why, why_cap))
        goto fail;
    return conn;
fail:
    papi__redis_conn_close(conn);
    return NULL;
}

void papi__redis_conn_close(papi__redis_conn *conn)
{
    if (!conn)
        return;
    if (conn->ctx)
        redisFree(conn->ctx);
    papi_buf_free(&conn->out);
    free(conn);
}
