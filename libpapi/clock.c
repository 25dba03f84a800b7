/* One clock for every deadline: monotonic, immune to wall-clock steps; and the one way to wait
 * on a condition variable until such a deadline. */
#include "internal.h"

#include <errno.h>
#include <stddef.h>
#include <time.h>

int64_t papi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t papi__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int papi__cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

int64_t papi_host_now_ms(const papi_host *host)
{
    if (host && host->now_ms &&
        host->struct_size >= offsetof(papi_host, now_ms) + sizeof host->now_ms)
        return host->now_ms(host->ctx);
    return papi_now_ms();
}

int papi__cond_wait_until_ms(pthread_cond_t *cond, pthread_mutex_t *lock, const papi_host *clock,
                             int64_t deadline_ms)
{
    int64_t left = deadline_ms - papi_host_now_ms(clock);
    if (left <= 0)
        return ETIMEDOUT;
    if (left > 86400000) /* a day at a time: no overflow, and the loop around us waits again */
        left = 86400000;
    papi__cond_wait_until_us(cond, lock, papi__now_us() + left * 1000);
    /* an injected clock may not have moved with the real one: it alone says when time is up */
    return papi_host_now_ms(clock) >= deadline_ms ? ETIMEDOUT : 0;
}

int papi__cond_wait_until_us(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline_us)
{
    if (deadline_us < 0)
        deadline_us = 0;
    struct timespec ts = {(time_t)(deadline_us / 1000000), (long)(deadline_us % 1000000) * 1000L};
    int rc = pthread_cond_timedwait(cond, lock, &ts);
    return rc == ETIMEDOUT ? ETIMEDOUT : 0;
}
