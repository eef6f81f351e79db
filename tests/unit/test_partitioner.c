/*
 * Partitioner tests. Every expected number below was computed outside this library:
 *  - murmur2 hashes and partitions: the Java client itself (kafka-clients 3.9.1,
 *    Utils.murmur2 and BuiltInPartitioner.partitionForKey for 1..10 partitions), and the same
 *    numbers again from kafka-python 3.0.12 (kafka.partitioner.default.murmur2) and from
 *    librdkafka's rd_kafka_msg_partitioner_murmur2;
 *  - crc32 hashes and partitions: python3 zlib.crc32(key) % n, identical to Ruby's
 *    Zlib.crc32(key) % n (Poseidon) and librdkafka's rd_kafka_msg_partitioner_consistent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "partitioner.h"

typedef struct hash_vector {
    const char *key; /* may hold NUL bytes, hence len */
    size_t len;
    uint32_t hash;
    int32_t partitions[10]; /* partition for 1..10 partitions */
} hash_vector_t;

/* Lengths 0..13, covering every tail length, with bytes >= 0x80 in the blocks and in the
 * tails (where a signed-char implementation would go wrong). */
static const hash_vector_t murmur2_vectors[] = {
    {"", 0, 0x106e08d9, {0, 1, 0, 1, 1, 3, 2, 1, 0, 1}},
    {"a", 1, 0xa2d0b27c, {0, 0, 1, 0, 4, 4, 5, 4, 4, 4}},
    {"ab", 2, 0x12d8262a, {0, 0, 2, 2, 4, 2, 0, 2, 5, 4}},
    {"abc", 3, 0x1c94221b, {0, 1, 0, 3, 2, 3, 4, 3, 3, 7}},
    {"1234", 4, 0x9fc97b14, {0, 0, 0, 0, 0, 0, 0, 4, 6, 0}},
    {"kafka", 5, 0xd067cf64, {0, 0, 1, 0, 0, 4, 3, 4, 1, 0}},
    {"\x80", 1, 0x331f517c, {0, 0, 2, 0, 2, 2, 1, 4, 5, 2}},
    {"\xff\xfe", 2, 0x6660fe8b, {0, 1, 0, 3, 1, 3, 0, 3, 3, 1}},
    {"\x80\x81\x82", 3, 0x8a3e2003, {0, 1, 2, 3, 2, 5, 6, 3, 8, 7}},
    {"\xff\xff\xff\xff", 4, 0x266546a5, {0, 1, 2, 1, 4, 5, 6, 5, 2, 9}},
    {"hello", 5, 0x7f1ddbbd, {0, 1, 0, 1, 4, 3, 4, 5, 0, 9}},
    {"\xc3\xa9t\xc3\xa9!", 6, 0x483f2e24, {0, 0, 1, 0, 2, 4, 5, 4, 4, 2}},
    {"abcdefg", 7, 0xeb595499, {0, 1, 1, 1, 3, 1, 4, 1, 4, 3}},
    {"\x80\x90\xa0\xb0\xc0\xd0\xe0\xf0", 8, 0x5892e7ec, {0, 0, 2, 0, 1, 2, 0, 4, 2, 6}},
    {"123456789", 9, 0x9362de66, {0, 0, 0, 2, 1, 0, 1, 6, 3, 6}},
    {"\xfe\xdc\xba\x98vT2\x10\xff\x7f", 10, 0xbda363d9, {0, 1, 0, 1, 0, 3, 6, 1, 6, 5}},
    {"key-1234567", 11, 0xad229128, {0, 0, 0, 0, 4, 0, 5, 0, 3, 4}},
    {"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b",
     12,
     0x4182daf8,
     {0, 0, 1, 0, 1, 4, 3, 0, 7, 6}},
    {"user:\xe2\x82\xac\xf0\x9f\x98\x80!", 13, 0xb8d9e69f, {0, 1, 2, 3, 2, 5, 1, 7, 8, 7}},
    {"abcdefghijklm", 13, 0x17177e67, {0, 1, 2, 3, 0, 5, 4, 7, 8, 5}},
};

static const hash_vector_t crc32_vectors[] = {
    {"", 0, 0x00000000, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"kafka", 5, 0x5bbc7517, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
    {"1234", 4, 0x9be3e0a3, {0, 1, 1, 3, 4, 1, 2, 3, 4, 9}},
    {"hello", 5, 0x3610a686, {0, 0, 1, 2, 0, 4, 2, 6, 1, 0}},
    {"123456789", 9, 0xcbf43926, {0, 0, 2, 2, 2, 2, 5, 6, 8, 2}},
    {"\xff\x80"
     "abc",
     5,
     0x2b7a1e7a,
     {0, 0, 2, 2, 2, 2, 4, 2, 5, 2}},
    {"user-42", 7, 0x7d06b873, {0, 1, 1, 3, 0, 1, 1, 3, 1, 5}},
    {"order:9001", 10, 0x1ab77944, {0, 0, 2, 0, 3, 2, 6, 4, 5, 8}},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_murmur2_hash_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(murmur2_vectors); i++) {
        const hash_vector_t *v = &murmur2_vectors[i];
        assert_int_equal(kk_murmur2(v->key, v->len), v->hash);
    }
}

static void test_murmur2_empty_key_may_be_null(void **state) {
    (void)state;
    assert_int_equal(kk_murmur2(NULL, 0), 0x106e08d9);
    assert_int_equal(kk_partition_murmur2(NULL, 0, 3), (int32_t)(0x106e08d9 & 0x7fffffff) % 3);
}

static void test_murmur2_partitions(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(murmur2_vectors); i++) {
        const hash_vector_t *v = &murmur2_vectors[i];
        for (int32_t n = 1; n <= 10; n++) {
            /* Java: Utils.toPositive(hash) % numPartitions, from the known hash... */
            int32_t from_hash = (int32_t)(v->hash & 0x7fffffff) % n;
            /* ...which must match what the Java client answered. */
            assert_int_equal(from_hash, v->partitions[n - 1]);
            assert_int_equal(kk_partition_murmur2(v->key, v->len, n), v->partitions[n - 1]);
            assert_int_equal(kk_partition_for_key(KK_PARTITIONER_MURMUR2, v->key, v->len, n),
                             v->partitions[n - 1]);
        }
    }
}

static void test_murmur2_partition_high_bit_hash_is_positive(void **state) {
    (void)state;
    /* "kafka" hashes to 0xd067cf64, negative as a Java int: the sign bit is masked, not
     * negated or taken as abs(): 0x5067cf64 % 1000 = 580 (abs() would give 68). */
    assert_int_equal(kk_partition_murmur2("kafka", 5, 1000), 580);
    /* And with a partition count that is not small. */
    assert_int_equal(kk_partition_murmur2("kafka", 5, 0x7fffffff), 0x5067cf64);
}

static void test_crc32_hash_vectors(void **state) {
    (void)state;
    /* The hash is zlib's; this pins the vectors the partition rows below come from. */
    for (size_t i = 0; i < COUNT(crc32_vectors); i++) {
        const hash_vector_t *v = &crc32_vectors[i];
        assert_int_equal((uint32_t)crc32(0L, (const Bytef *)v->key, (uInt)v->len), v->hash);
    }
}

static void test_crc32_partitions(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(crc32_vectors); i++) {
        const hash_vector_t *v = &crc32_vectors[i];
        for (int32_t n = 1; n <= 10; n++) {
            int32_t from_hash = (int32_t)(v->hash % (uint32_t)n);
            assert_int_equal(from_hash, v->partitions[n - 1]);
            assert_int_equal(kk_partition_crc32(v->key, v->len, n), v->partitions[n - 1]);
            assert_int_equal(kk_partition_for_key(KK_PARTITIONER_CRC32, v->key, v->len, n),
                             v->partitions[n - 1]);
        }
    }
    /* The CRC is unsigned: 0xcbf43926 % 100 = 62, where a signed int would give -34. */
    assert_int_equal(kk_partition_crc32("123456789", 9, 100), 62);
    assert_int_equal(kk_partition_crc32(NULL, 0, 7), 0);
}

static void test_partitioners_differ(void **state) {
    (void)state;
    /* "kafka" over 10 partitions: murmur2 says 0, crc32 says 9; a swapped dispatch fails. */
    assert_int_equal(kk_partition_for_key(KK_PARTITIONER_MURMUR2, "kafka", 5, 10), 0);
    assert_int_equal(kk_partition_for_key(KK_PARTITIONER_CRC32, "kafka", 5, 10), 9);
}

static void test_bad_partition_counts_and_kinds(void **state) {
    (void)state;
    assert_int_equal(kk_partition_murmur2("kafka", 5, 0), -1);
    assert_int_equal(kk_partition_murmur2("kafka", 5, -3), -1);
    assert_int_equal(kk_partition_crc32("kafka", 5, 0), -1);
    assert_int_equal(kk_partition_crc32("kafka", 5, -3), -1);
    assert_int_equal(kk_partition_for_key(KK_PARTITIONER_MURMUR2, "kafka", 5, 0), -1);
    assert_int_equal(kk_partition_for_key(KK_PARTITIONER_CALLBACK, "kafka", 5, 10), -1);
    assert_int_equal(kk_partition_for_key((kk_partitioner_kind_t)42, "kafka", 5, 10), -1);
    /* One partition: everything goes to 0. */
    assert_int_equal(kk_partition_murmur2("kafka", 5, 1), 0);
    assert_int_equal(kk_partition_crc32("kafka", 5, 1), 0);
}

static void test_round_robin_cycles(void **state) {
    (void)state;
    const int32_t all[] = {0, 1, 2};
    const int32_t expect[] = {0, 1, 2, 0, 1, 2, 0};
    kk_round_robin_t rr;
    kk_round_robin_init(&rr, 0);
    for (size_t i = 0; i < COUNT(expect); i++)
        assert_int_equal(kk_round_robin_next(&rr, all, COUNT(all)), expect[i]);
}

static void test_round_robin_seed_sets_start(void **state) {
    (void)state;
    const int32_t ids[] = {3, 7, 9};
    kk_round_robin_t rr;
    kk_round_robin_init(&rr, 5); /* 5 % 3 = 2: starts on the third entry */
    assert_int_equal(kk_round_robin_next(&rr, ids, 3), 9);
    assert_int_equal(kk_round_robin_next(&rr, ids, 3), 3);
    assert_int_equal(kk_round_robin_next(&rr, ids, 3), 7);
    assert_int_equal(kk_round_robin_next(&rr, ids, 3), 9);
}

static void test_round_robin_skips_partitions_without_leader(void **state) {
    (void)state;
    /* Six partitions, only 0, 2 and 5 have a leader: the caller passes just those. */
    const int32_t available[] = {0, 2, 5};
    int hits[6] = {0};
    kk_round_robin_t rr;
    kk_round_robin_init(&rr, 0xdeadbeef);
    for (int i = 0; i < 300; i++) {
        int32_t p = kk_round_robin_next(&rr, available, COUNT(available));
        assert_in_range(p, 0, 5);
        hits[p]++;
    }
    assert_int_equal(hits[0], 100);
    assert_int_equal(hits[2], 100);
    assert_int_equal(hits[5], 100);
    assert_int_equal(hits[1] + hits[3] + hits[4], 0);
}

static void test_round_robin_follows_changing_availability(void **state) {
    (void)state;
    const int32_t before[] = {0, 1, 2, 3};
    const int32_t after[] = {1, 3}; /* 0 and 2 lost their leader */
    kk_round_robin_t rr;
    kk_round_robin_init(&rr, 0);
    assert_int_equal(kk_round_robin_next(&rr, before, 4), 0);
    assert_int_equal(kk_round_robin_next(&rr, before, 4), 1);
    assert_int_equal(kk_round_robin_next(&rr, after, 2), 1); /* counter 2: 2 % 2 = 0 */
    assert_int_equal(kk_round_robin_next(&rr, after, 2), 3);
    assert_int_equal(kk_round_robin_next(&rr, after, 2), 1);
}

static void test_round_robin_none_available(void **state) {
    (void)state;
    const int32_t ids[] = {4, 8};
    kk_round_robin_t rr;
    kk_round_robin_init(&rr, 1);
    assert_int_equal(kk_round_robin_next(&rr, ids, 0), -1);
    assert_int_equal(kk_round_robin_next(&rr, NULL, 0), -1);
    assert_int_equal(rr.next, 1); /* a failed pick does not advance */
    assert_int_equal(kk_round_robin_next(&rr, ids, 2), 8);
    assert_int_equal(kk_round_robin_next(&rr, ids, 2), 4);
}

static void test_round_robin_counter_wraps(void **state) {
    (void)state;
    const int32_t ids[] = {10, 11};
    kk_round_robin_t rr;
    kk_round_robin_init(&rr, UINT32_MAX); /* odd: picks index 1, then wraps to 0 */
    assert_int_equal(kk_round_robin_next(&rr, ids, 2), 11);
    assert_int_equal(rr.next, 0);
    assert_int_equal(kk_round_robin_next(&rr, ids, 2), 10);
    assert_int_equal(kk_round_robin_next(&rr, ids, 2), 11);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2_hash_vectors),
        cmocka_unit_test(test_murmur2_empty_key_may_be_null),
        cmocka_unit_test(test_murmur2_partitions),
        cmocka_unit_test(test_murmur2_partition_high_bit_hash_is_positive),
        cmocka_unit_test(test_crc32_hash_vectors),
        cmocka_unit_test(test_crc32_partitions),
        cmocka_unit_test(test_partitioners_differ),
        cmocka_unit_test(test_bad_partition_counts_and_kinds),
        cmocka_unit_test(test_round_robin_cycles),
        cmocka_unit_test(test_round_robin_seed_sets_start),
        cmocka_unit_test(test_round_robin_skips_partitions_without_leader),
        cmocka_unit_test(test_round_robin_follows_changing_availability),
        cmocka_unit_test(test_round_robin_none_available),
        cmocka_unit_test(test_round_robin_counter_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
