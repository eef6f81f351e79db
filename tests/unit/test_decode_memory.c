/* Decoding a large fetch response must not need much more memory than the response itself:
 * keys and values are not copied, and the per-record bookkeeping stays small. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <malloc.h>

#include "protocol_group.h"
#include "record_batch.h"

static size_t heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* 64 MiB of 100-byte records in batches of 1,000, uncompressed and lz4. */
static void decode_64_mib(kk_codec_t codec) {
    enum { PER_BATCH = 1000 };
    const size_t target = (size_t)64 << 20;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_record_in_t records[PER_BATCH];
    static uint8_t values[PER_BATCH][100];
    uint32_t seed = 12345;
    size_t total_records = 0;
    while (w.len < target) {
        /* values that do not compress, so that compressed and decompressed sizes are alike */
        for (size_t i = 0; i < sizeof(values); i++) {
            seed = seed * 1103515245u + 12345u;
            values[i / 100][i % 100] = (uint8_t)(seed >> 16);
        }
        for (int i = 0; i < PER_BATCH; i++)
            records[i] = (kk_record_in_t){.key = (const uint8_t *)"key",
                                          .key_len = 3,
                                          .value = values[i],
                                          .value_len = 100,
                                          .timestamp_ms = 1700000000000LL + i};
        size_t before = w.len;
        kk_error_t err;
        assert_int_equal(kk_records_encode(&w, 2, codec, records, PER_BATCH, &err), KK_OK);
        /* give each batch its base offset, as the broker would */
        uint64_t base = total_records;
        for (int b = 0; b < 8; b++)
            w.data[before + (size_t)b] = (uint8_t)(base >> (56 - 8 * b));
        total_records += PER_BATCH;
    }
    /* the checksum covers attributes onwards, so rewriting base offsets kept every batch valid */
    size_t input = w.len;
    size_t decompressed = total_records * 100;
    size_t heap_before = heap_in_use();
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err;
    kk_decode_options_t opts = {.min_offset = 0};
    assert_int_equal(kk_records_decode(&set, w.data, w.len, &opts, &err), KK_OK);
    assert_int_equal(set.count, total_records);
    assert_memory_equal(set.records[total_records - 1].value.ptr, values[PER_BATCH - 1], 100);
    size_t used = heap_in_use() - heap_before;
    print_message(
        "%s: input %zu bytes (%zu records), decode allocated %zu bytes (%.2fx the response)\n",
        kk_codec_name(codec), input, total_records, used, (double)used / (double)input);
    /* Uncompressed: only the bookkeeping (no key or value is copied), at most 0.75x the
     * response. Compressed (and incompressible, so the records take about as much room as
     * the response): the decompressed batches plus the same bookkeeping, at most 2x. */
    size_t allowed = codec == KK_CODEC_NONE ? input / 4 * 3 : input * 2;
    assert_true(decompressed <= input); /* the data really is incompressible */
    assert_true(used <= allowed);
    kk_record_set_clear(&set);
    kk_writer_free(&w);
}

static void test_uncompressed(void **state) {
    (void)state;
    decode_64_mib(KK_CODEC_NONE);
}

static void test_lz4(void **state) {
    (void)state;
    decode_64_mib(KK_CODEC_LZ4);
}

/* OffsetCommit and OffsetFetch responses name a topic once for all its partitions: a response
 * with one 32 KiB topic name and 4,000 partitions is about 60 KiB (OffsetFetch: 100 KiB), and
 * decoding it must take a small multiple of that, not a copy of the name per partition
 * (4,000 x 32 KiB = 128 MiB). */
static void decode_offsets_one_long_topic(bool fetch) {
    enum { PARTITIONS = 4000 };
    static char name[32768];
    memset(name, 't', sizeof(name) - 1); /* 32,767 bytes: the most an int16 length says */
    kk_writer_t w;
    kk_writer_init(&w);
    kk_write_i32(&w, 0); /* throttle_time_ms (v3+) */
    kk_write_array_len(&w, 1);
    kk_write_string(&w, name);
    kk_write_array_len(&w, PARTITIONS);
    for (int32_t p = 0; p < PARTITIONS; p++) {
        kk_write_i32(&w, p);
        if (fetch) {
            kk_write_i64(&w, 1000 + p);
            kk_write_i32(&w, -1);      /* leader epoch (v5+) */
            kk_write_string(&w, NULL); /* metadata */
        }
        kk_write_i16(&w, 0);
    }
    if (fetch)
        kk_write_i16(&w, 0); /* top-level error (v2+) */
    size_t heap_before = heap_in_use();
    kk_reader_t r;
    kk_reader_init(&r, w.data, w.len);
    kk_partition_offsets_t out;
    kk_error_t err;
    int rc = fetch ? kk_decode_offset_fetch_response(&r, 5, &out, &err)
                   : kk_decode_offset_commit_response(&r, 3, &out, &err);
    assert_int_equal(rc, KK_OK);
    size_t used = heap_in_use() - heap_before;
    assert_int_equal(out.count, PARTITIONS);
    assert_string_equal(out.partitions[PARTITIONS - 1].topic, name);
    assert_int_equal(out.partitions[PARTITIONS - 1].partition, PARTITIONS - 1);
    print_message("%s: response %zu bytes, decode allocated %zu bytes (%.1fx the response)\n",
                  fetch ? "OffsetFetch v5" : "OffsetCommit v3", w.len, used,
                  (double)used / (double)w.len);
    /* one result struct per partition (a few times the 6 or 20 bytes each takes on the wire,
     * with room for the array's doubling) plus one copy of the name */
    assert_true(used <= w.len * 16);
    kk_partition_offsets_free(&out);
    kk_writer_free(&w);
}

static void test_offset_commit_one_long_topic(void **state) {
    (void)state;
    decode_offsets_one_long_topic(false);
}

static void test_offset_fetch_one_long_topic(void **state) {
    (void)state;
    decode_offsets_one_long_topic(true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uncompressed),
        cmocka_unit_test(test_lz4),
        cmocka_unit_test(test_offset_commit_one_long_topic),
        cmocka_unit_test(test_offset_fetch_one_long_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
