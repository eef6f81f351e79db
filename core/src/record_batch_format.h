/*
 * The wire layout of record batches (v2) and messages (v0/v1), shared by
 * record_batch_write.c and record_batch_read.c. Private to those two files.
 */
#ifndef KK_RECORD_BATCH_FORMAT_H
#define KK_RECORD_BATCH_FORMAT_H

#include <stdint.h>

/* Entry framing common to every magic: offset int64, length int32. */
#define LOG_OVERHEAD 12
#define MAGIC_OFFSET 16

/* v2 header field positions (from the start of the batch). */
#define V2_CRC_OFFSET 17
#define V2_ATTRIBUTES_OFFSET 21
#define V2_HEADER_SIZE 61

#define ATTR_CODEC_MASK 0x07
#define ATTR_LOG_APPEND_TIME 0x08
#define ATTR_TRANSACTIONAL 0x10
#define ATTR_CONTROL 0x20

/* The smallest v2 record: length, attributes, timestamp delta, offset delta, key length,
 * value length and header count, one byte each. */
#define V2_MIN_RECORD 7
/* The smallest v2 header: key length and value length. */
#define V2_MIN_HEADER 2

/* Legacy message: crc, magic, attributes, [timestamp], key length, value length. */
#define LEGACY_MIN_V0 14
#define LEGACY_MIN_V1 22

/* Offsets and timestamps off the wire (or from the caller) are arbitrary: add and subtract
 * without signed overflow. */
static inline int64_t add_wrap(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static inline int64_t sub_wrap(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

#endif
