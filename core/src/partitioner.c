/*
 * Key hashing and partition choice; see partitioner.h.
 */
#include "partitioner.h"

#include <limits.h>
#include <zlib.h>

#include "bytes.h"

uint32_t kk_murmur2(const void *key, size_t len) {
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    const unsigned char *p = key;
    /* Java hashes an int-sized length; unsigned arithmetic reproduces its wrap-around. */
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t blocks = len / 4;

    for (size_t i = 0; i < blocks; i++, p += 4) {
        /* Unsigned bytes: Java masks each (signed) byte with 0xff before shifting. */
        uint32_t k = get_le32(p);
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }

    switch (len & 3) {
    case 3:
        h ^= (uint32_t)p[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)p[1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)p[0];
        h *= m;
        break;
    default:
        break;
    }

    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t kk_partition_murmur2(const void *key, size_t len, int32_t partition_count) {
    if (partition_count <= 0)
        return -1;
    return (int32_t)(kk_murmur2(key, len) & 0x7fffffff) % partition_count;
}

int32_t kk_partition_crc32(const void *key, size_t len, int32_t partition_count) {
    if (partition_count <= 0)
        return -1;
    const unsigned char *p = key;
    uLong crc = crc32(0L, Z_NULL, 0);
    /* zlib takes a uInt length; feed longer keys in pieces. */
    while (len > 0) {
        uInt n = len > UINT_MAX ? UINT_MAX : (uInt)len;
        crc = crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return (int32_t)((uint32_t)crc % (uint32_t)partition_count);
}

int32_t kk_partition_for_key(kk_partitioner_kind_t kind, const void *key, size_t len,
                             int32_t partition_count) {
    switch (kind) {
    case KK_PARTITIONER_MURMUR2:
        return kk_partition_murmur2(key, len, partition_count);
    case KK_PARTITIONER_CRC32:
        return kk_partition_crc32(key, len, partition_count);
    case KK_PARTITIONER_CALLBACK:
    default:
        return -1;
    }
}

void kk_round_robin_init(kk_round_robin_t *rr, uint32_t seed) { rr->next = seed; }

int32_t kk_round_robin_next(kk_round_robin_t *rr, const int32_t *available_partitions,
                            size_t available_count) {
    if (available_count == 0 || available_partitions == NULL)
        return -1;
    /* Unsigned wrap-around after 2^32 records only skews one round; it is harmless. */
    size_t i = (size_t)(rr->next % available_count);
    rr->next++;
    return available_partitions[i];
}
