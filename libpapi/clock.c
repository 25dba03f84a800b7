/* One clock for every deadline: monotonic, immune to wall-clock steps; and the one way to wait
 * on a condition variable until such a deadline. */
#include "internal.h"

#include <errno.h>
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

int papi__cond_wait_until_us(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline_us)
{
    if (deadline_us < 0)
        deadline_us = 0;
    struct timespec ts = {(time_t)(deadline_us / 1000000), (long)(deadline_us % 1000000) * 1000L};
    int rc = pthread_cond_timedwait(cond, lock, &ts);
    return rc == ETIMEDOUT ? ETIMEDOUT : 0;
}
