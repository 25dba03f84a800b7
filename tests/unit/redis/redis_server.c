#include "redis_server.h"

#include <hiredis/hiredis.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int test_redis_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bool test_redis_start(test_redis *r)
{
    if (r->port <= 0)
        r->port = test_redis_free_port();
    if (r->port <= 0)
        return false;
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        const char *argv[16];
        int n = 0;
        argv[n++] = "redis-server";
        argv[n++] = "--port";
        argv[n++] = port;
        argv[n++] = "--bind";
        argv[n++] = "127.0.0.1";
        argv[n++] = "--save";
        argv[n++] = "";
        argv[n++] = "--appendonly";
        argv[n++] = "no";
        if (r->password[0]) {
            argv[n++] = "--requirepass";
            argv[n++] = r->password;
        }
        argv[n] = NULL;
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 200; i++) {
        sleep_ms(50);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            r->pid = 0;
            return false;
        }
        if (test_redis_cmd(r, 0, "PING", NULL) == 4) /* "PONG" */
            return true;
    }
    test_redis_kill(r);
    return false;
}

void test_redis_kill(test_redis *r)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

long long test_redis_cmd(const test_redis *r, int db, const char *fmt, const char *arg)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        redisFree(c);
        return -2;
    }
    redisSetTimeout(c, tv);
    long long out = -2;
    redisReply *rep = NULL;
    if (r->password[0]) {
        rep = redisCommand(c, "AUTH %s", r->password);
        if (!rep || rep->type != REDIS_REPLY_STATUS)
            goto done;
        freeReplyObject(rep);
    }
    rep = redisCommand(c, "SELECT %d", db);
    if (!rep || rep->type != REDIS_REPLY_STATUS)
        goto done;
    freeReplyObject(rep);
    rep = arg ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
    if (!rep)
        goto done;
    if (rep->type == REDIS_REPLY_INTEGER)
        out = rep->integer;
    else if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
        out = (long long)rep->len;
    else if (rep->type == REDIS_REPLY_NIL)
        out = -1;
done:
    freeReplyObject(rep);
    redisFree(c);
    return out;
}

/* A connection with AUTH and SELECT done, or NULL. */
static redisContext *connect_db(const test_redis *r, int db)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisReply *rep = r->password[0] ? redisCommand(c, "AUTH %s", r->password) : NULL;
    bool ok = !r->password[0] || (rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    rep = ok ? redisCommand(c, "SELECT %d", db) : NULL;
    ok = rep && rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

bool test_redis_find_key(const test_redis *r, int db, const char *pattern, char *out, size_t cap)
{
    redisContext *c = connect_db(r, db);
    redisReply *rep = c ? redisCommand(c, "KEYS %s", pattern) : NULL;
    bool found = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
                 rep->element[0]->type == REDIS_REPLY_STRING && rep->element[0]->len < cap;
    if (found)
        snprintf(out, cap, "%s", rep->element[0]->str);
    freeReplyObject(rep);
    redisFree(c);
    return found;
}

bool test_redis_set(const test_redis *r, int db, const char *key, const char *value, size_t len)
{
    redisContext *c = connect_db(r, db);
    redisReply *rep = c ? redisCommand(c, "SET %s %b", key, value, len) : NULL;
    bool ok = rep && rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    redisFree(c);
    return ok;
}

long test_redis_reads(const test_redis *r)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        redisFree(c);
        return -1;
    }
    long n = -1;
    redisReply *rep = r->password[0] ? redisCommand(c, "AUTH %s", r->password) : NULL;
    freeReplyObject(rep);
    rep = redisCommand(c, "INFO commandstats");
    if (rep && rep->type == REDIS_REPLY_STRING) {
        n = 0;
        static const char *const names[] = {"cmdstat_get:calls=", "cmdstat_mget:calls="};
        for (size_t i = 0; i < 2; i++) {
            const char *p = strstr(rep->str, names[i]);
            if (p)
                n += atol(p + strlen(names[i]));
        }
    }
    freeReplyObject(rep);
    redisFree(c);
    return n;
}

int test_redis_clients(const test_redis *r)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        redisFree(c);
        return -1;
    }
    int n = -1;
    redisReply *rep = r->password[0] ? redisCommand(c, "AUTH %s", r->password) : NULL;
    freeReplyObject(rep);
    rep = redisCommand(c, "INFO clients");
    if (rep && rep->type == REDIS_REPLY_STRING) {
        const char *p = strstr(rep->str, "connected_clients:");
        if (p)
            n = atoi(p + strlen("connected_clients:"));
    }
    freeReplyObject(rep);
    redisFree(c);
    return n;
}
