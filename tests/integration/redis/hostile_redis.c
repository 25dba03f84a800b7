/* The hostile fake Redis of tests/support/fake_redis.c as a process, for tests that drive
 * papi-httpd over HTTP:
 *
 *   hostile_redis MODE [VALUE]     MODE: drip | drip-get | drip-set | huge-array | huge-bulk |
 *                                        value (VALUE: what every GET/MGET key holds)
 *
 * prints "port N" once listening, serves until its stdin closes, then prints
 * "faulty=N dropped=N finished=N commands=N connections=N" and exits 0. */
#include "fake_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *name;
    fake_redis_mode mode;
} modes[] = {
    {"drip", FAKE_REDIS_DRIP},           {"drip-get", FAKE_REDIS_DRIP_GET},
    {"drip-set", FAKE_REDIS_DRIP_SET},   {"huge-array", FAKE_REDIS_HUGE_ARRAY},
    {"huge-bulk", FAKE_REDIS_HUGE_BULK}, {"value", FAKE_REDIS_VALUE},
};

int main(int argc, char **argv)
{
    static fake_redis f; /* large (the value buffer): not on the stack */
    size_t m = 0;
    while (argc > 1 && m < sizeof modes / sizeof modes[0] && strcmp(argv[1], modes[m].name) != 0)
        m++;
    if (argc < 2 || m == sizeof modes / sizeof modes[0]) {
        fprintf(stderr, "usage: hostile_redis drip|drip-get|drip-set|huge-array|huge-bulk|value "
                        "[VALUE]\n");
        return 2;
    }
    f.mode = modes[m].mode;
    f.drip_max_ms = 120000; /* longer than any test: the client must be the one to give up */
    if (argc > 2) {
        f.value_len = strlen(argv[2]) < sizeof f.value ? strlen(argv[2]) : sizeof f.value;
        memcpy(f.value, argv[2], f.value_len);
    }
    if (!fake_redis_start(&f)) {
        fprintf(stderr, "hostile_redis: cannot listen\n");
        return 1;
    }
    printf("port %d\n", f.port);
    fflush(stdout);
    char buf[256];
    while (read(0, buf, sizeof buf) > 0)
        ;
    fake_redis_stop(&f);
    printf("faulty=%d dropped=%d finished=%d commands=%d connections=%d\n", atomic_load(&f.faulty),
           atomic_load(&f.dropped), atomic_load(&f.finished), atomic_load(&f.commands),
           atomic_load(&f.connections));
    return 0;
}
