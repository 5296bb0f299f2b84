/* What one timestamp costs on this machine: clock_gettime(CLOCK_REALTIME)
 * (what CUPTI's and vramscope's CPU-side timestamps call on Linux) and the
 * raw TSC, in ns per call. Prints "name value unit" lines.
 *   cc -O2 -o clock_cost bench/clock_cost.c && ./clock_cost */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

static double nowNs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void) {
    const int n = 2000000;
    struct timespec ts;
    uint64_t sink = 0;
    double t0 = nowNs();
    for (int i = 0; i < n; ++i) {
        clock_gettime(CLOCK_REALTIME, &ts);
        sink += (uint64_t)ts.tv_nsec;
    }
    double t1 = nowNs();
    printf("clock_gettime_realtime_ns %.1f ns\n", (t1 - t0) / n);
#if defined(__x86_64__)
    t0 = nowNs();
    for (int i = 0; i < n; ++i) sink += __rdtsc();
    t1 = nowNs();
    printf("rdtsc_ns %.1f ns\n", (t1 - t0) / n);
#endif
    return sink == 42 ? 1 : 0;
}
