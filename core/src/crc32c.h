/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of a v2 RecordBatch.
 *
 * The zlib CRC-32 (v0/v1 message sets, the crc32 partitioner) is zlib's crc32(); it needs
 * no wrapper.
 */
#ifndef KK_CRC32C_H
#define KK_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC-32C of len bytes at data, continuing from crc. Start with 0; the result of one call is
 * the crc argument for the next, so kk_crc32c(kk_crc32c(0, a, n), b, m) equals the CRC of a
 * followed by b. data may be NULL when len is 0. Uses the SSE4.2 crc32 instruction when the
 * CPU has it, the table version otherwise; both give the same result. Thread-safe. */
uint32_t kk_crc32c(uint32_t crc, const void *data, size_t len);

/* The table (slicing-by-8) version, for any CPU. Same contract as kk_crc32c(). */
uint32_t kk_crc32c_portable(uint32_t crc, const void *data, size_t len);

/* True when kk_crc32c() uses the hardware instruction on this machine (so tests and
 * benchmarks know whether comparing it with kk_crc32c_portable() compares two paths). */
bool kk_crc32c_hardware_available(void);

#endif
