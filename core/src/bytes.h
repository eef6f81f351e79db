/*
 * Byte-order and varint primitives on raw memory, shared by buffer.c (the writer and reader),
 * the record batch files, compression.c, connection.c, partitioner.c and crc32c.c. No bounds
 * checks: the caller has made sure the bytes are there (buffer.h's reader is the checked form).
 * Byte-wise, so they are right on any CPU; compilers fuse them into single loads and stores.
 */
#ifndef KK_BYTES_H
#define KK_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* ---- fixed-width, big-endian (Kafka's byte order) -------------------------------------- */

static inline uint16_t get_be16(const uint8_t *p) {
    return (uint16_t)(((unsigned)p[0] << 8) | (unsigned)p[1]);
}

static inline uint32_t get_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t get_be64(const uint8_t *p) {
    return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

/* The put_* functions return the position after what they wrote. */
static inline uint8_t *put_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline uint8_t *put_be64(uint8_t *p, uint64_t v) {
    put_be32(p, (uint32_t)(v >> 32));
    return put_be32(p + 4, (uint32_t)v);
}

/* ---- little-endian (murmur2, xxHash, CRC-32C tables) ----------------------------------- */

static inline uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ---- zigzag and unsigned varints (protobuf style, as Kafka's records use them) --------- */

static inline uint32_t zigzag32(int32_t v) { return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31); }
static inline uint64_t zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int32_t unzigzag32(uint32_t u) { return (int32_t)((u >> 1) ^ (~(u & 1) + 1)); }
static inline int64_t unzigzag64(uint64_t u) { return (int64_t)((u >> 1) ^ (~(u & 1) + 1)); }

/* Longest unsigned varint of a 64-bit value. */
#define KK_UVARINT_MAX 10

/* The number of bytes put_uvarint writes for v. */
static inline size_t uvarint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *put_uvarint(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

#endif
