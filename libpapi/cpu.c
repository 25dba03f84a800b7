/* Which CPU the calling thread runs on, for counters kept per CPU: two threads running at the
 * same moment are on two CPUs, so they never write the same stripe (a thread's stack address, the
 * earlier key, collided for one run in 16 and then shared a line on every hit). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>

#include "core.h"

size_t papi__stripe_now(void)
{
    /* glibc reads it from the thread's rseq area: no system call */
    int cpu = sched_getcpu();
    if (cpu >= 0)
        return (size_t)cpu % PAPI__STRIPES;
    char probe; /* no CPU number: thread stacks lie megabytes apart */
    uint64_t a = (uint64_t)(uintptr_t)&probe;
    return (size_t)(((a >> 20) * 0x9E3779B97F4A7C15ULL) >> 60) % PAPI__STRIPES;
}
