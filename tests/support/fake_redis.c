#include "fake_redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POLL_STEP_MS 20
#define REQUEST_MAX_BYTES (1 << 20)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note_sent(fake_redis *f, size_t sent)
{
    size_t seen = atomic_load(&f->max_sent);
    while (sent > seen && !atomic_compare_exchange_weak(&f->max_sent, &seen, sent))
        ;
}

/* Sends it all, or gives up when the peer is gone or the fake stops. *sent counts what left. */
static bool send_all(fake_redis *f, int fd, const char *p, size_t n, size_t *sent)
{
    while (n) {
        if (atomic_load(&f->stop))
            return false;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            *sent += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            poll(&pfd, 1, POLL_STEP_MS);
            continue;
        }
        return false;
    }
    return true;
}

static bool sleep_unless_stopped(fake_redis *f, int ms)
{
    int64_t until = now_ms() + ms;
    while (!atomic_load(&f->stop)) {
        int64_t left = until - now_ms();
        if (left <= 0)
            return true;
        struct timespec ts = {0, (left < POLL_STEP_MS ? left : POLL_STEP_MS) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* One byte per drip_ms of a status line that never ends. Always ends the connection. */
static bool drip(fake_redis *f, int fd)
{
    atomic_fetch_add(&f->faulty, 1);
    int64_t give_up = now_ms() + (f->drip_max_ms ? f->drip_max_ms : 20000);
    size_t sent = 0;
    const char *b = "+";
    while (now_ms() < give_up) {
        if (!send_all(f, fd, b, 1, &sent)) {
            note_sent(f, sent);
            if (!atomic_load(&f->stop))
                atomic_fetch_add(&f->dropped, 1);
            return false;
        }
        b = "x";
        if (!sleep_unless_stopped(f, f->drip_ms ? f->drip_ms : 100))
            break;
    }
    note_sent(f, sent);
    atomic_fetch_add(&f->finished, 1);
    return false;
}

/* A header promising a huge reply, then the pattern as fast as the socket takes it. */
static bool stream(fake_redis *f, int fd, const char *header, const char *pattern)
{
    atomic_fetch_add(&f->faulty, 1);
    size_t budget = f->stream_max_bytes ? f->stream_max_bytes : (size_t)64 << 20;
    char chunk[65536];
    size_t plen = strlen(pattern);
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = pattern[i % plen];
    size_t sent = 0;
    bool ok = send_all(f, fd, header, strlen(header), &sent);
    while (ok && sent < budget)
        ok = send_all(f, fd, chunk, sizeof chunk / plen * plen, &sent);
    note_sent(f, sent);
    if (ok)
        atomic_fetch_add(&f->finished, 1);
    else if (!atomic_load(&f->stop))
        atomic_fetch_add(&f->dropped, 1);
    return false;
}

static bool send_text(fake_redis *f, int fd, const char *text)
{
    size_t sent = 0;
    return send_all(f, fd, text, strlen(text), &sent);
}

/* GET (nkeys 0) or MGET of nkeys: the configured value for each. */
static bool send_values(fake_redis *f, int fd, long nkeys)
{
    char head[64];
    size_t sent = 0;
    atomic_fetch_add(&f->faulty, 1);
    if (nkeys > 0) {
        snprintf(head, sizeof head, "*%ld\r\n", nkeys);
        if (!send_all(f, fd, head, strlen(head), &sent))
            return false;
    }
    for (long i = 0; i < (nkeys > 0 ? nkeys : 1); i++) {
        snprintf(head, sizeof head, "$%zu\r\n", f->value_len);
        if (!send_all(f, fd, head, strlen(head), &sent) ||
            !send_all(f, fd, f->value, f->value_len, &sent) || !send_all(f, fd, "\r\n", 2, &sent))
            return false;
    }
    return true;
}

static bool send_nils(fake_redis *f, int fd, long nkeys)
{
    char head[32];
    snprintf(head, sizeof head, "*%ld\r\n", nkeys);
    if (nkeys > 0 && !send_text(f, fd, head))
        return false;
    for (long i = 0; i < (nkeys > 0 ? nkeys : 1); i++)
        if (!send_text(f, fd, "$-1\r\n"))
            return false;
    return true;
}

/* Answers one command; false ends the connection. */
static bool answer(fake_redis *f, int fd, const char *name, long argc)
{
    bool get = strcasecmp(name, "GET") == 0, mget = strcasecmp(name, "MGET") == 0;
    long nkeys = mget ? argc - 1 : 0;
    bool set = strcasecmp(name, "SET") == 0;
    switch (f->mode) {
    case FAKE_REDIS_DRIP:
        return drip(f, fd);
    case FAKE_REDIS_DRIP_GET:
        if (get || mget)
            return drip(f, fd);
        break;
    case FAKE_REDIS_DRIP_SET:
        if (set)
            return drip(f, fd);
        if (get || mget)
            return send_nils(f, fd, nkeys);
        break;
    case FAKE_REDIS_HUGE_ARRAY:
        if (get || mget)
            return stream(f, fd, "*1000000000\r\n", ":1\r\n");
        break;
    case FAKE_REDIS_HUGE_BULK:
        if (get || mget)
            return stream(f, fd, "$1073741824\r\n", "x");
        break;
    case FAKE_REDIS_VALUE:
        if (get || mget)
            return send_values(f, fd, nkeys);
        break;
    }
    if (strcasecmp(name, "PING") == 0)
        return send_text(f, fd, "+PONG\r\n");
    if (set || strcasecmp(name, "AUTH") == 0 || strcasecmp(name, "SELECT") == 0)
        return send_text(f, fd, "+OK\r\n");
    if (get || mget)
        return send_nils(f, fd, nkeys);
    return send_text(f, fd, "-ERR unknown command\r\n");
}

/* "<lead><digits>\r\n" at b[*i]; advances *i. 0 incomplete, -1 malformed, 1 read. */
static int read_number(const char *b, size_t n, size_t *i, char lead, long *out)
{
    size_t k = *i;
    if (k >= n)
        return 0;
    if (b[k++] != lead)
        return -1;
    long v = 0;
    size_t digits = 0;
    while (k < n && b[k] >= '0' && b[k] <= '9' && digits < 9) {
        v = v * 10 + (b[k++] - '0');
        digits++;
    }
    if (k + 1 >= n)
        return 0;
    if (!digits || b[k] != '\r' || b[k + 1] != '\n')
        return -1;
    *i = k + 2;
    *out = v;
    return 1;
}

/* One RESP command (an array of bulk strings) at the start of b: its first argument and argc.
 * Returns the bytes it takes, 0 when incomplete, -1 when malformed. */
static long parse_command(const char *b, size_t n, char *name, size_t cap, long *argc)
{
    size_t i = 0;
    int r = read_number(b, n, &i, '*', argc);
    if (r <= 0)
        return r;
    if (*argc < 1)
        return -1;
    name[0] = '\0';
    for (long a = 0; a < *argc; a++) {
        long len;
        if ((r = read_number(b, n, &i, '$', &len)) <= 0)
            return r;
        if (i + (size_t)len + 2 > n)
            return 0;
        if (a == 0)
            snprintf(name, cap, "%.*s", (int)len, b + i);
        i += (size_t)len + 2;
    }
    return (long)i;
}

typedef struct conn_arg {
    fake_redis *f;
    int fd;
} conn_arg;

static void *serve(void *p)
{
    conn_arg a = *(conn_arg *)p;
    free(p);
    char *buf = malloc(REQUEST_MAX_BYTES);
    size_t len = 0;
    bool open = buf != NULL;
    while (open && !atomic_load(&a.f->stop)) {
        char name[32];
        long argc = 0;
        long used = parse_command(buf, len, name, sizeof name, &argc);
        if (used < 0)
            break;
        if (used > 0) {
            atomic_fetch_add(&a.f->commands, 1);
            open = answer(a.f, a.fd, name, argc);
            memmove(buf, buf + used, len - (size_t)used);
            len -= (size_t)used;
            continue;
        }
        struct pollfd pfd = {a.fd, POLLIN, 0};
        if (poll(&pfd, 1, POLL_STEP_MS) <= 0)
            continue;
        if (len == REQUEST_MAX_BYTES)
            break;
        ssize_t r = recv(a.fd, buf + len, REQUEST_MAX_BYTES - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    free(buf);
    close(a.fd);
    return NULL;
}

static void *accept_loop(void *p)
{
    fake_redis *f = p;
    while (!atomic_load(&f->stop)) {
        struct pollfd pfd = {f->listen_fd, POLLIN, 0};
        if (poll(&pfd, 1, POLL_STEP_MS) <= 0)
            continue;
        int fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        /* a small send buffer: what the client has not read stays here, countable */
        int sndbuf = 65536;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        atomic_fetch_add(&f->connections, 1);
        conn_arg *a = malloc(sizeof *a);
        pthread_mutex_lock(&f->mu);
        bool room = a && f->nconn_threads < FAKE_REDIS_MAX_CONNS;
        if (room) {
            *a = (conn_arg){f, fd};
            room = pthread_create(&f->conn_threads[f->nconn_threads], NULL, serve, a) == 0;
            if (room)
                f->nconn_threads++;
        }
        pthread_mutex_unlock(&f->mu);
        if (!room) {
            free(a);
            close(fd);
        }
    }
    return NULL;
}

bool fake_redis_start(fake_redis *f)
{
    f->running = false;
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->listen_fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(f->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(f->listen_fd, 64) != 0 ||
        getsockname(f->listen_fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(f->listen_fd);
        f->listen_fd = -1;
        return false;
    }
    f->port = ntohs(sa.sin_port);
    atomic_store(&f->stop, false);
    pthread_mutex_init(&f->mu, NULL);
    if (pthread_create(&f->acceptor, NULL, accept_loop, f) != 0) {
        close(f->listen_fd);
        f->listen_fd = -1;
        pthread_mutex_destroy(&f->mu);
        return false;
    }
    f->running = true;
    return true;
}

void fake_redis_stop(fake_redis *f)
{
    if (!f->running)
        return;
    f->running = false;
    atomic_store(&f->stop, true);
    pthread_join(f->acceptor, NULL);
    for (int i = 0; i < f->nconn_threads; i++)
        pthread_join(f->conn_threads[i], NULL);
    f->nconn_threads = 0;
    close(f->listen_fd);
    f->listen_fd = -1;
    pthread_mutex_destroy(&f->mu);
}
