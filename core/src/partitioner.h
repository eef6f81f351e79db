/*
 * Keys to partitions: the Java client's murmur2 partitioner, the zlib CRC-32 partitioner of
 * Poseidon and librdkafka's "consistent" partitioners, and round-robin for keyless
 * messages. Pure functions; the round-robin counter is state the caller owns.
 */
#ifndef KK_PARTITIONER_H
#define KK_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

#include "kafkette.h"

/* Which partitioner a producer uses. (Moves to kafkette.h once the producer exposes it.) */
/* kk_partitioner_kind_t is public (kafkette.h). */

/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): seed 0x9747b28c,
 * h = seed ^ len, bytes read as unsigned, little-endian 4-byte blocks. Returns the hash's
 * 32 bits as unsigned (Java's int reinterpreted). key may be NULL when len is 0. */
uint32_t kk_murmur2(const void *key, size_t len);

/* The Java client's default for a keyed record: (murmur2(key) & 0x7fffffff) % count, over
 * all partitions whether or not they have a leader. -1 when partition_count <= 0. */
int32_t kk_partition_murmur2(const void *key, size_t len, int32_t partition_count);

/* zlib crc32(key) % count, the CRC taken as unsigned (Ruby's Zlib.crc32 and librdkafka's
 * rd_crc32 both are). -1 when partition_count <= 0. */
int32_t kk_partition_crc32(const void *key, size_t len, int32_t partition_count);

/* One of the built-in partitioners by kind; -1 for KK_PARTITIONER_CALLBACK, an unknown kind
 * or partition_count <= 0. */
int32_t kk_partition_for_key(kk_partitioner_kind_t kind, const void *key, size_t len,
                             int32_t partition_count);

/* Round-robin over the partitions that currently have a leader, for records without a key.
 * The caller seeds it (randomly, so producers do not all start on partition 0) and keeps one
 * per topic; it is not thread-safe. */
typedef struct kk_round_robin {
    uint32_t next;
} kk_round_robin_t;

void kk_round_robin_init(kk_round_robin_t *rr, uint32_t seed);

/* The next partition id from available_partitions (the ids with a leader, as the caller
 * found them in the metadata), advancing the counter; -1, without advancing, when
 * available_count is 0. */
int32_t kk_round_robin_next(kk_round_robin_t *rr, const int32_t *available_partitions,
                            size_t available_count);

#endif
