/*
 * CRC-32C throughput, hardware dispatch versus the table version, on 1 MiB buffers.
 * Not part of the CMake build; from the repository root:
 *   cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Icore/src bench/crc32c_bench.c \
 *      core/src/crc32c.c -o /tmp/crc32c_bench && /tmp/crc32c_bench
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crc32c.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const char *name, uint32_t (*fn)(uint32_t, const void *, size_t),
                const uint8_t *buf, size_t len, size_t rounds)
{
    uint32_t sink = 0;
    fn(0, buf, len); /* warm caches */
    double t0 = now();
    for (size_t i = 0; i < rounds; i++)
        sink ^= fn(sink, buf, len);
    double dt = now() - t0;
    printf("%-20s %8zu bytes: %6.2f GB/s (sink %08x)\n", name, len,
           (double)len * (double)rounds / dt / 1e9, (unsigned)sink);
}

int main(void)
{
    const size_t big = 1 << 20;
    uint8_t *buf = malloc(big);
    if (buf == NULL)
        return 1;
    for (size_t i = 0; i < big; i++)
        buf[i] = (uint8_t)(i * 131 + 17);

    printf("hardware path: %s\n", kk_crc32c_hardware_available() ? "SSE4.2" : "none");
    static const size_t sizes[] = {64, 1024, 16384, 1 << 20};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t rounds = (size_t)2000 * 1024 * 1024 / 2 / sizes[s] / 8;
        run("kk_crc32c", kk_crc32c, buf, sizes[s], rounds);
        run("kk_crc32c_portable", kk_crc32c_portable, buf, sizes[s], rounds / 8 + 1);
    }
    free(buf);
    return 0;
}
