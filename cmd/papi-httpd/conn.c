/* Connections: the state papi keeps for each one, the deadline for a request to arrive in full,
 * room for new clients while slow ones fill the server, and whether a client is still there. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "httpd.h"

/* A connection must have waited this long before it may be closed to make room: a client that
 * has just connected is not slow yet, and a burst of honest clients must not evict each other. */
#define EVICT_MIN_AGE_US (1000 * 1000)

/* TCP_INFO dates the last byte in jiffies: a byte of the request just answered may look a few
 * milliseconds younger than its answer. */
#define RX_CLOCK_SLACK_US (50 * 1000)

/* Phase and its start share one atomic word, so a change by the connection's thread and one by
 * the sweeper can never interleave into a phase with another phase's start. */
static uint64_t pack(enum httpd_conn_phase phase, int64_t since_us)
{
    return ((uint64_t)since_us << 2) | (uint64_t)phase;
}

static enum httpd_conn_phase phase_of(uint64_t v)
{
    return (enum httpd_conn_phase)(v & 3);
}

static int64_t since_of(uint64_t v)
{
    return (int64_t)(v >> 2);
}

void httpd_conn_phase(struct httpd_conn *hc, enum httpd_conn_phase phase, int64_t now_us)
{
    if (!hc)
        return;
    uint64_t old = atomic_load_explicit(&hc->state, memory_order_relaxed);
    /* A request that began while idle keeps the earlier start the sweeper may have seen. */
    if (phase == CONN_HEAD && phase_of(old) == CONN_HEAD)
        return;
    atomic_store_explicit(&hc->state, pack(phase, now_us), memory_order_relaxed);
}

struct httpd_conn *httpd_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    return ci ? ci->socket_context : NULL;
}

unsigned httpd_mhd_connection_limit(const struct httpd *srv)
{
    unsigned max = srv->opt.max_connections;
    return max + max / 8 + 8;
}

struct httpd_conn *httpd_conn_open(struct httpd *srv, struct MHD_Connection *conn)
{
    atomic_fetch_add_explicit(&srv->connections, 1, memory_order_relaxed);
    struct httpd_conn *hc = calloc(1, sizeof *hc);
    if (!hc)
        return NULL; /* served all the same, without a deadline or a place in the eviction order */
    hc->srv = srv;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    hc->fd = ci ? ci->connect_fd : -1;
    atomic_init(&hc->state, pack(CONN_HEAD, httpd_now_us()));
    pthread_mutex_lock(&srv->conns_lock);
    hc->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = hc;
    srv->conns = hc;
    pthread_mutex_unlock(&srv->conns_lock);
    return hc;
}

enum httpd_closed httpd_conn_close(struct httpd *srv, struct httpd_conn *hc)
{
    atomic_fetch_sub_explicit(&srv->connections, 1, memory_order_relaxed);
    if (!hc)
        return CLOSED_ERROR;
    /* MHD closes the socket only after this returns: once unlinked, nobody shuts it down. */
    pthread_mutex_lock(&srv->conns_lock);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        srv->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    enum httpd_closed why = hc->shut ? (enum httpd_closed)hc->shut : CLOSED_ERROR;
    pthread_mutex_unlock(&srv->conns_lock);
    free(hc->spare);
    free(hc);
    return why;
}

/* Under conns_lock. The socket is only shut down: MHD sees the end on its own thread and closes
 * the connection as it closes any other, completion callbacks and all. */
static void shut(struct httpd_conn *hc, enum httpd_closed why)
{
    hc->shut = why;
    if (hc->fd >= 0)
        shutdown(hc->fd, SHUT_RDWR);
}

/* Closes the connection that has waited longest for a request, if one has waited long enough. */
static int make_room(struct httpd *srv)
{
    int64_t now = httpd_now_us();
    struct httpd_conn *oldest = NULL;
    int64_t oldest_since = now - EVICT_MIN_AGE_US;
    pthread_mutex_lock(&srv->conns_lock);
    for (struct httpd_conn *hc = srv->conns; hc; hc = hc->next) {
        uint64_t v = atomic_load_explicit(&hc->state, memory_order_relaxed);
        if (hc->shut || phase_of(v) == CONN_SERVING || since_of(v) > oldest_since)
            continue;
        oldest = hc;
        oldest_since = since_of(v);
    }
    if (oldest) {
        shut(oldest, CLOSED_EVICTED);
        httpd_count(srv, COUNT_EVICTED);
    }
    pthread_mutex_unlock(&srv->conns_lock);
    return oldest != NULL;
}

/* MHD splits its connection limit between the event-loop threads, and a thread at its share
 * stops accepting: a connection past the limit would wait in the backlog instead of being
 * refused. So the limit is ours, counted over all threads, and checked at accept. When the
 * server is full, a client slow to send its request makes room for the new one, so that slow
 * clients cannot lock everyone else out; the evicted close a moment later, hence the slack. */
enum MHD_Result httpd_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    struct httpd *srv = cls;
    unsigned open = atomic_load_explicit(&srv->connections, memory_order_relaxed);
    if (open < srv->opt.max_connections)
        return MHD_YES;
    if (open >= httpd_mhd_connection_limit(srv))
        return MHD_NO;
    return make_room(srv) ? MHD_YES : MHD_NO;
}

/* When did the client last send a byte? The kernel knows (TCP_INFO), papi does not: MHD reads
 * the next request's first bytes without telling anyone. */
static int64_t last_received_us(int fd, int64_t now_us)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || len < sizeof ti)
        return -1;
    return now_us - (int64_t)ti.tcpi_last_data_recv * 1000;
}

void httpd_conns_sweep(struct httpd *srv)
{
    int64_t now = httpd_now_us();
    int64_t limit = (int64_t)srv->opt.header_timeout_s * 1000000;
    pthread_mutex_lock(&srv->conns_lock);
    for (struct httpd_conn *hc = srv->conns; hc; hc = hc->next) {
        if (hc->shut)
            continue;
        uint64_t v = atomic_load_explicit(&hc->state, memory_order_relaxed);
        if (phase_of(v) == CONN_IDLE) {
            /* Idle keep-alive is the connection timeout's business; the deadline of the next
             * request starts with its first byte. */
            int64_t rx = last_received_us(hc->fd, now);
            if (rx > since_of(v) + RX_CLOCK_SLACK_US)
                atomic_compare_exchange_strong_explicit(&hc->state, &v, pack(CONN_HEAD, rx),
                                                        memory_order_relaxed, memory_order_relaxed);
            continue;
        }
        if (phase_of(v) == CONN_HEAD && now - since_of(v) > limit) {
            shut(hc, CLOSED_DEADLINE);
            httpd_count(srv, COUNT_HEAD_DEADLINE);
        }
    }
    pthread_mutex_unlock(&srv->conns_lock);
}

int httpd_client_gone(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return 0;
    /* As nginx does: end of stream before the answer is a client that left. Bytes still to
     * read (a pipelined request) are a client that is there. */
    char b;
    ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return 1;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}
