/*
 * Record batches: decoding the Java client's output (unit/vectors/record_batch_vectors.h) for
 * every magic and codec, byte-exact encoding where the format is deterministic, round trips,
 * every truncation, every flipped byte, min_offset, control batches, read_committed, the
 * decompression cap and lying counts.
 *
 * That the Java client (kafka-clients 3.9.1) reads what kk_records_encode writes, for every
 * magic and codec, was checked once with RecordBatchVectors.java's "check" mode (see the
 * comment there); the byte-exact comparisons below cover the uncompressed formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "crc32c.h"
#include "record_batch.h"
#include "unit/vectors/record_batch_vectors.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TS0 INT64_C(1700000000000)
#define LOG_APPEND_TS (TS0 + 999)

/* ---- SET_A: the records of the Java vectors ------------------------------------------- */

static char BIG[301];

static const kk_header_in_t H0[] = {{"h1", 2, (const uint8_t *)"v1", 2}};
static const kk_header_in_t H2[] = {{"h2", 2, NULL, 0},
                                    {"", 0, (const uint8_t *)"empty header key", 16}};

typedef struct expect_rec {
    const char *key; /* NULL = null */
    const char *value;
    size_t value_len;
    int64_t ts;
    const kk_header_in_t *headers;
    size_t header_count;
} expect_rec_t;

static expect_rec_t SET_A[5];

static int setup_set_a(void **state) {
    (void)state;
    for (int i = 0; i < 300; i++) BIG[i] = (char)('0' + i % 10);
    expect_rec_t a[5] = {
        {"key-0", "value-0", 7, TS0, H0, 1},
        {NULL, "value-1 without a key", 21, TS0 + 5, NULL, 0},
        {"key-2", NULL, 0, TS0 - 10, H2, 2},
        {"", "", 0, TS0 + 100, NULL, 0},
        {"key-4", BIG, 300, TS0 + 7, NULL, 0},
    };
    memcpy(SET_A, a, sizeof a);
    return 0;
}

/* SET_A as encoder input (without headers for magic 0/1). */
static void set_a_input(kk_record_in_t out[5], int magic) {
    for (size_t i = 0; i < 5; i++) {
        const expect_rec_t *e = &SET_A[i];
        out[i] = (kk_record_in_t){
            .key = (const uint8_t *)e->key,
            .key_len = e->key ? strlen(e->key) : 0,
            .value = (const uint8_t *)e->value,
            .value_len = e->value_len,
            .timestamp_ms = e->ts,
            .headers = magic == 2 ? e->headers : NULL,
            .header_count = magic == 2 ? e->header_count : 0,
        };
    }
}

/* ---- helpers ------------------------------------------------------------------------- */

/* An exact-size heap copy, so ASan sees any read past the end. */
static uint8_t *heap_copy(const uint8_t *p, size_t n) {
    uint8_t *c = malloc(n > 0 ? n : 1);
    assert_non_null(c);
    if (n > 0) memcpy(c, p, n);
    return c;
}

static int decode(kk_record_set_t *set, const uint8_t *data, size_t len,
                  const kk_decode_options_t *opts, kk_error_t *err) {
    uint8_t *copy = heap_copy(data, len);
    /* The records point into the input: keep the copy alive by handing it to the set, as
     * if it were one of its own buffers (kk_record_set_clear frees it). */
    int rc = kk_records_decode(set, copy, len, opts, err);
    if (set->owned_count == set->owned_cap) {
        size_t ncap = set->owned_cap ? set->owned_cap * 2 : 4;
        uint8_t **p = realloc(set->owned_buffers, ncap * sizeof *p);
        assert_non_null(p);
        set->owned_buffers = p;
        set->owned_cap = ncap;
    }
    set->owned_buffers[set->owned_count++] = copy;
    return rc;
}

static void assert_slice(kk_slice_t s, const char *want, size_t want_len) {
    if (want == NULL) {
        assert_int_equal(s.len, -1);
        return;
    }
    assert_int_equal(s.len, (int32_t)want_len);
    if (want_len > 0) assert_memory_equal(s.ptr, want, want_len);
}

/* Record r of set against SET_A[i]: ts_mode 0 = its own CreateTime, 1 = LogAppendTime at
 * LOG_APPEND_TS, -1 = no timestamp (magic 0). */
static void check_record(const kk_record_set_t *set, size_t r, size_t i, int64_t offset,
                         int ts_mode, bool headers) {
    assert_true(r < set->count);
    const kk_record_out_t *o = &set->records[r];
    const expect_rec_t *e = &SET_A[i];
    assert_int_equal(o->offset, offset);
    if (ts_mode == -1) {
        assert_int_equal(o->timestamp, -1);
        assert_int_equal(o->timestamp_type, -1);
    } else if (ts_mode == 1) {
        assert_int_equal(o->timestamp, LOG_APPEND_TS);
        assert_int_equal(o->timestamp_type, 1);
    } else {
        assert_int_equal(o->timestamp, e->ts);
        assert_int_equal(o->timestamp_type, 0);
    }
    assert_slice(o->key, e->key, e->key ? strlen(e->key) : 0);
    assert_slice(o->value, e->value, e->value_len);
    size_t hc = headers ? e->header_count : 0;
    assert_int_equal(o->header_count, hc);
    if (hc > 0) assert_true(o->header_index + hc <= set->header_count);
    for (size_t h = 0; h < hc; h++) {
        const kk_header_out_t *ho = &set->headers[o->header_index + h];
        assert_slice(ho->key, e->headers[h].key, e->headers[h].key_len);
        assert_slice(ho->value, (const char *)e->headers[h].value, e->headers[h].value_len);
    }
}

/* The whole of SET_A at offsets base..base+4, starting at record `first`. */
static void check_set_a(const kk_record_set_t *set, size_t first, int64_t base, int ts_mode,
                        bool headers) {
    for (size_t i = 0; i < 5; i++) check_record(set, first + i, i, base + (int64_t)i, ts_mode, headers);
}

static void expect_error(int rc, const kk_error_t *err, int code, const char *must_contain) {
    if (rc != code)
        fail_msg("expected %d, got %d (%s)", code, rc, rc ? err->message : "");
    assert_int_equal(err->code, code);
    if (must_contain != NULL && strstr(err->message, must_contain) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err->message, must_contain);
}

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int64_t be64(const uint8_t *p) {
    return (int64_t)(((uint64_t)be32(p) << 32) | be32(p + 4));
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, int64_t v) {
    put32(p, (uint32_t)((uint64_t)v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* Recomputes a v2 batch's CRC after a deliberate edit. */
static void fix_v2_crc(uint8_t *batch, size_t len) {
    put32(batch + 17, kk_crc32c(0, batch + 21, len - 21));
}

/* ---- decoding the Java client's batches ------------------------------------------------ */

typedef struct vector {
    const char *name;
    const uint8_t *data;
    size_t len;
    int64_t base;
    int ts_mode;
    bool headers;
} vector_t;

#define VEC(v, base, ts_mode, headers) {#v, v, sizeof v, base, ts_mode, headers}

static const vector_t VECTORS[] = {
    VEC(RB_V2_NONE, 0, 0, true),
    VEC(RB_V2_GZIP, 0, 0, true),
    VEC(RB_V2_SNAPPY, 0, 0, true),
    VEC(RB_V2_LZ4, 0, 0, true),
    VEC(RB_V2_ZSTD, 0, 0, true),
    VEC(RB_V2_LOG_APPEND, 20, 1, true),
    VEC(RB_V2_IDEMPOTENT_GZIP, 40, 0, true),
    VEC(RB_V1_NONE, 0, 0, false),
    VEC(RB_V1_GZIP, 500, 0, false),
    VEC(RB_V1_SNAPPY, 500, 0, false),
    VEC(RB_V1_LZ4, 500, 0, false),
    VEC(RB_V1_LOG_APPEND_GZIP, 600, 1, false),
    VEC(RB_V1_LOG_APPEND_NONE, 650, 1, false),
    VEC(RB_V0_NONE, 0, -1, false),
    VEC(RB_V0_GZIP, 700, -1, false),
    VEC(RB_V0_SNAPPY, 700, -1, false),
    VEC(RB_V0_LZ4, 800, -1, false), /* KAFKA-3160's header checksum */
};

static void test_java_vectors(void **state) {
    (void)state;
    for (size_t v = 0; v < COUNT(VECTORS); v++) {
        const vector_t *vec = &VECTORS[v];
        kk_record_set_t set;
        kk_record_set_init(&set);
        kk_error_t err = {0};
        int rc = decode(&set, vec->data, vec->len, NULL, &err);
        if (rc != 0) fail_msg("%s: %s", vec->name, err.message);
        assert_int_equal(set.count, 5);
        check_set_a(&set, 0, vec->base, vec->ts_mode, vec->headers);
        assert_int_equal(set.next_offset, vec->base + 5);
        assert_false(set.truncated);
        assert_int_equal(set.truncated_batch_size, 0);
        assert_int_equal(set.header_count, vec->headers ? 3 : 0);
        kk_record_set_clear(&set);
        assert_null(set.records);
        assert_int_equal(set.count, 0);
        assert_int_equal(set.next_offset, -1);
    }
}

static void test_java_vectors_concatenated(void **state) {
    (void)state;
    /* Every vector back to back in one record set, as a Fetch of mixed history returns. */
    size_t total = 0;
    for (size_t v = 0; v < COUNT(VECTORS); v++) total += VECTORS[v].len;
    uint8_t *all = malloc(total);
    assert_non_null(all);
    size_t pos = 0;
    for (size_t v = 0; v < COUNT(VECTORS); v++) {
        memcpy(all + pos, VECTORS[v].data, VECTORS[v].len);
        pos += VECTORS[v].len;
    }
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err = {0};
    assert_int_equal(decode(&set, all, total, NULL, &err), 0);
    assert_int_equal(set.count, 5 * COUNT(VECTORS));
    for (size_t v = 0; v < COUNT(VECTORS); v++)
        check_set_a(&set, 5 * v, VECTORS[v].base, VECTORS[v].ts_mode, VECTORS[v].headers);
    assert_int_equal(set.next_offset, VECTORS[COUNT(VECTORS) - 1].base + 5);
    kk_record_set_clear(&set);
    free(all);
}

/* ---- encoding ------------------------------------------------------------------------ */

static void test_encode_matches_java(void **state) {
    (void)state;
    static const struct {
        int magic;
        const uint8_t *java;
        size_t len;
    } cases[] = {{2, RB_V2_NONE, sizeof RB_V2_NONE},
                 {1, RB_V1_NONE, sizeof RB_V1_NONE},
                 {0, RB_V0_NONE, sizeof RB_V0_NONE}};
    for (size_t c = 0; c < COUNT(cases); c++) {
        kk_record_in_t in[5];
        set_a_input(in, cases[c].magic);
        kk_writer_t w;
        kk_writer_init(&w);
        kk_write_raw(&w, "prefix", 6); /* appends after what is there */
        kk_error_t err = {0};
        int rc = kk_records_encode(&w, (int8_t)cases[c].magic, KK_CODEC_NONE, in, 5, &err);
        if (rc != 0) fail_msg("magic %d: %s", cases[c].magic, err.message);
        assert_int_equal(w.len, 6 + cases[c].len);
        assert_memory_equal(w.data, "prefix", 6);
        assert_memory_equal(w.data + 6, cases[c].java, cases[c].len);
        kk_writer_free(&w);
    }
}

static void test_encode_round_trip(void **state) {
    (void)state;
    for (int magic = 0; magic <= 2; magic++) {
        for (int codec = KK_CODEC_NONE; codec <= KK_CODEC_ZSTD; codec++) {
            if (magic < 2 && codec == KK_CODEC_ZSTD) continue;
            kk_record_in_t in[5];
            set_a_input(in, magic);
            kk_writer_t w;
            kk_writer_init(&w);
            kk_error_t err = {0};
            int rc = kk_records_encode(&w, (int8_t)magic, (kk_codec_t)codec, in, 5, &err);
            if (rc != 0) fail_msg("magic %d %s: %s", magic, kk_codec_name(codec), err.message);

            if (magic == 2) {
                assert_int_equal(be64(w.data), 0);
                assert_int_equal(be32(w.data + 8), w.len - 12);
                assert_int_equal(be32(w.data + 12), UINT32_MAX); /* partitionLeaderEpoch -1 */
                assert_int_equal(w.data[16], 2);
                assert_int_equal(be32(w.data + 17), kk_crc32c(0, w.data + 21, w.len - 21));
                assert_int_equal((w.data[21] << 8) | w.data[22], codec); /* attributes */
                assert_int_equal(be32(w.data + 23), 4);                 /* lastOffsetDelta */
                assert_int_equal(be64(w.data + 27), TS0);               /* first timestamp */
                assert_int_equal(be64(w.data + 35), TS0 + 100);         /* max timestamp */
                assert_int_equal(be64(w.data + 43), -1);                /* producerId */
                assert_int_equal((w.data[51] << 8) | w.data[52], 0xffff);
                assert_int_equal(be32(w.data + 53), UINT32_MAX);        /* baseSequence */
                assert_int_equal(be32(w.data + 57), 5);
            } else if (codec != KK_CODEC_NONE) {
                /* One wrapper: offset of the last inner message, codec in the attributes,
                 * max timestamp (magic 1), null key. */
                assert_int_equal(be64(w.data), 4);
                assert_int_equal(be32(w.data + 8), w.len - 12);
                assert_int_equal(w.data[16], magic);
                assert_int_equal(w.data[17], codec);
                if (magic == 1) assert_int_equal(be64(w.data + 18), TS0 + 100);
                assert_int_equal(be32(w.data + (magic == 1 ? 26 : 18)), UINT32_MAX);
            }

            kk_record_set_t set;
            kk_record_set_init(&set);
            rc = decode(&set, w.data, w.len, NULL, &err);
            if (rc != 0) fail_msg("magic %d %s: %s", magic, kk_codec_name(codec), err.message);
            assert_int_equal(set.count, 5);
            check_set_a(&set, 0, 0, magic == 0 ? -1 : 0, magic == 2);
            assert_int_equal(set.next_offset, 5);
            kk_record_set_clear(&set);
            kk_writer_free(&w);
        }
    }
}

/* kk_records_encode_with, one scratch for many batches (big, then small, every magic and
 * codec): each batch is byte for byte what kk_records_encode writes. */
static void test_encode_with_kept_scratch(void **state) {
    (void)state;
    enum { BIG = 3000 };
    kk_record_in_t *big = calloc(BIG, sizeof *big);
    assert_non_null(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (kk_record_in_t){.value = (const uint8_t *)"a value of some length",
                                  .value_len = 22, .timestamp_ms = TS0 + (int64_t)i};
    kk_writer_t scratch;
    kk_writer_init(&scratch);
    for (int magic = 0; magic <= 2; magic++) {
        for (int codec = KK_CODEC_NONE; codec <= KK_CODEC_ZSTD; codec++) {
            if (magic < 2 && codec == KK_CODEC_ZSTD) continue;
            kk_record_in_t small[5];
            set_a_input(small, magic);
            for (int round = 0; round < 2; round++) {
                const kk_record_in_t *in = round == 0 ? big : small;
                size_t count = round == 0 ? BIG : 5;
                kk_writer_t plain, with;
                kk_writer_init(&plain);
                kk_writer_init(&with);
                kk_error_t err = {0};
                assert_int_equal(
                    kk_records_encode(&plain, (int8_t)magic, (kk_codec_t)codec, in, count, &err), 0);
                assert_int_equal(kk_records_encode_with(&with, &scratch, (int8_t)magic,
                                                        (kk_codec_t)codec, in, count, &err),
                                 0);
                assert_int_equal(with.len, plain.len);
                assert_memory_equal(with.data, plain.data, plain.len);
                kk_writer_free(&plain);
                kk_writer_free(&with);
            }
        }
    }
    kk_writer_free(&scratch);
    free(big);
}

static void test_encode_many_records(void **state) {
    (void)state;
    /* Enough records for two-byte offset deltas and multi-block codecs. */
    enum { N = 20000 };
    kk_record_in_t *in = calloc(N, sizeof *in);
    char(*vals)[32] = calloc(N, sizeof *vals);
    assert_non_null(in);
    assert_non_null(vals);
    for (size_t i = 0; i < N; i++) {
        int n = snprintf(vals[i], sizeof vals[i], "value number %zu", i);
        in[i] = (kk_record_in_t){.key = (const uint8_t *)vals[i], .key_len = 5,
                                 .value = (const uint8_t *)vals[i], .value_len = (size_t)n,
                                 .timestamp_ms = TS0 + (int64_t)(i % 1000) * 1000};
    }
    for (int codec = KK_CODEC_NONE; codec <= KK_CODEC_ZSTD; codec++) {
        kk_writer_t w;
        kk_writer_init(&w);
        kk_error_t err = {0};
        assert_int_equal(kk_records_encode(&w, 2, (kk_codec_t)codec, in, N, &err), 0);
        kk_record_set_t set;
        kk_record_set_init(&set);
        int rc = decode(&set, w.data, w.len, NULL, &err);
        if (rc != 0) fail_msg("%s: %s", kk_codec_name(codec), err.message);
        assert_int_equal(set.count, N);
        for (size_t i = 0; i < N; i++) {
            assert_int_equal(set.records[i].offset, (int64_t)i);
            assert_int_equal(set.records[i].timestamp, in[i].timestamp_ms);
            assert_slice(set.records[i].value, vals[i], in[i].value_len);
            assert_slice(set.records[i].key, vals[i], 5);
        }
        assert_int_equal(set.next_offset, N);
        kk_record_set_clear(&set);
        kk_writer_free(&w);
    }
    free(in);
    free(vals);
}

static void test_encode_errors(void **state) {
    (void)state;
    kk_record_in_t in[5];
    set_a_input(in, 2);
    kk_writer_t w;
    kk_writer_init(&w);
    kk_write_raw(&w, "keep", 4);
    kk_error_t err = {0};
    /* Headers need magic 2; nothing is left behind in the writer. */
    expect_error(kk_records_encode(&w, 1, KK_CODEC_NONE, in, 5, &err), &err, KK_ERR_INVALID_ARG,
                 "headers");
    expect_error(kk_records_encode(&w, 0, KK_CODEC_GZIP, in, 5, &err), &err, KK_ERR_INVALID_ARG,
                 "headers");
    assert_int_equal(w.len, 4);
    set_a_input(in, 1);
    expect_error(kk_records_encode(&w, 3, KK_CODEC_NONE, in, 5, &err), &err, KK_ERR_INVALID_ARG,
                 "magic");
    expect_error(kk_records_encode(&w, -1, KK_CODEC_NONE, in, 5, &err), &err,
                 KK_ERR_INVALID_ARG, "magic");
    expect_error(kk_records_encode(&w, 1, KK_CODEC_ZSTD, in, 5, &err), &err, KK_ERR_INVALID_ARG,
                 "zstd");
    expect_error(kk_records_encode(&w, 2, (kk_codec_t)5, in, 5, &err), &err, KK_ERR_INVALID_ARG,
                 "codec");
    expect_error(kk_records_encode(NULL, 2, KK_CODEC_NONE, in, 5, &err), &err,
                 KK_ERR_INVALID_ARG, NULL);
    expect_error(kk_records_encode(&w, 2, KK_CODEC_NONE, NULL, 5, &err), &err,
                 KK_ERR_INVALID_ARG, NULL);
    kk_record_in_t bad = {.key = NULL, .key_len = 3};
    expect_error(kk_records_encode(&w, 2, KK_CODEC_NONE, &bad, 1, &err), &err,
                 KK_ERR_INVALID_ARG, NULL);
    assert_int_equal(w.len, 4);
    /* No records: nothing written, like the Java client's empty MemoryRecords. */
    assert_int_equal(kk_records_encode(&w, 2, KK_CODEC_GZIP, in, 0, &err), 0);
    assert_int_equal(w.len, 4);
    kk_writer_free(&w);
}

static void test_size_bound(void **state) {
    (void)state;
    for (int magic = 0; magic <= 2; magic++) {
        kk_record_in_t in[5];
        set_a_input(in, magic);
        for (size_t i = 0; i < 5; i++) {
            /* Worst case for the deltas: a record far in time from the batch's first. */
            kk_record_in_t pair[2] = {in[i], in[i]};
            pair[0].timestamp_ms = INT64_MIN / 2;
            pair[1].timestamp_ms = INT64_MAX / 2;
            kk_writer_t one, two;
            kk_writer_init(&one);
            kk_writer_init(&two);
            kk_error_t err = {0};
            assert_int_equal(kk_records_encode(&one, (int8_t)magic, KK_CODEC_NONE, &in[i], 1, &err), 0);
            assert_int_equal(kk_records_encode(&two, (int8_t)magic, KK_CODEC_NONE, pair, 2, &err), 0);
            size_t bound = kk_record_encoded_size_bound((int8_t)magic, &in[i]);
            if (magic == 2) {
                assert_true(one.len - 61 <= bound);
                assert_true(two.len - one.len <= bound); /* the second record's bytes */
            } else {
                assert_int_equal(one.len, bound); /* exact for a message */
            }
            kk_writer_free(&one);
            kk_writer_free(&two);
        }
    }
    assert_int_equal(kk_record_encoded_size_bound(3, &(kk_record_in_t){0}), 0);
}

/* ---- truncation ---------------------------------------------------------------------- */

static void test_every_truncation(void **state) {
    (void)state;
    const uint8_t *all = RB_MIXED;
    size_t total = sizeof RB_MIXED;
    /* Batch ends and their last offsets, read off the framing. */
    size_t ends[64], sizes[64];
    int64_t last[64];
    size_t nb = 0, pos = 0;
    while (pos < total) {
        size_t size = 12 + be32(all + pos + 8);
        int64_t off = be64(all + pos);
        last[nb] = all[pos + 16] == 2 ? off + (int64_t)be32(all + pos + 23) : off;
        sizes[nb] = size;
        pos += size;
        ends[nb++] = pos;
    }
    assert_int_equal(pos, total);
    assert_int_equal(nb, 14); /* 5 v0 messages, 1 v1 wrapper, 2 v2, 5 v1 messages, 1 v2 */
    assert_int_equal(last[nb - 1], 29);

    for (size_t len = 0; len <= total; len++) {
        size_t complete = 0;
        while (complete < nb && ends[complete] <= len) complete++;
        size_t start = complete > 0 ? ends[complete - 1] : 0;
        int64_t want = complete > 0 ? last[complete - 1] + 1 : 0;

        kk_record_set_t set;
        kk_record_set_init(&set);
        kk_error_t err = {0};
        int rc = decode(&set, all, len, NULL, &err);
        if (rc != 0) fail_msg("prefix %zu: %s", len, err.message);
        assert_int_equal(set.count, (size_t)want);
        for (size_t i = 0; i < set.count; i++) {
            size_t b = 0;
            while (last[b] < (int64_t)i) b++;
            int magic = all[b == 0 ? 16 : ends[b - 1] + 16];
            check_record(&set, i, i % 5, (int64_t)i, magic == 0 ? -1 : 0, magic == 2);
        }
        assert_int_equal(set.next_offset, complete > 0 ? want : -1);
        assert_int_equal(set.truncated, len != start);
        size_t announced = len - start >= 12 ? sizes[complete] : 0;
        assert_int_equal(set.truncated_batch_size, len != start ? announced : 0);
        kk_record_set_clear(&set);
    }
}

/* ---- corruption ---------------------------------------------------------------------- */

static bool same_records(const kk_record_set_t *a, const kk_record_set_t *b, int64_t shift) {
    if (a->count != b->count || a->header_count != b->header_count) return false;
    for (size_t i = 0; i < a->count; i++) {
        const kk_record_out_t *x = &a->records[i], *y = &b->records[i];
        if ((int64_t)((uint64_t)x->offset + (uint64_t)shift) != y->offset ||
            x->timestamp != y->timestamp || x->timestamp_type != y->timestamp_type ||
            x->key.len != y->key.len || x->value.len != y->value.len ||
            x->header_count != y->header_count || x->header_index != y->header_index)
            return false;
        if (x->key.len > 0 && memcmp(x->key.ptr, y->key.ptr, (size_t)x->key.len) != 0)
            return false;
        if (x->value.len > 0 && memcmp(x->value.ptr, y->value.ptr, (size_t)x->value.len) != 0)
            return false;
    }
    for (size_t h = 0; h < a->header_count; h++) {
        const kk_header_out_t *x = &a->headers[h], *y = &b->headers[h];
        if (x->key.len != y->key.len || x->value.len != y->value.len) return false;
        if (x->key.len > 0 && memcmp(x->key.ptr, y->key.ptr, (size_t)x->key.len) != 0)
            return false;
        if (x->value.len > 0 && memcmp(x->value.ptr, y->value.ptr, (size_t)x->value.len) != 0)
            return false;
    }
    return true;
}

/* Flips every byte of `batch` (one batch or message, uncompressed or compressed) placed
 * between two good copies of RB_V2_NONE, and checks the result field by field:
 *   offset bytes 0-7     not covered by any CRC: the same records, offsets shifted
 *                        (v0/v1 wrappers: or MALFORMED when below the last inner offset);
 *   length bytes 8-11    a CRC or MALFORMED error, or a truncated tail;
 *   v2 epoch bytes 12-15 not covered, not exposed: the same records;
 *   magic byte 16        CRC or MALFORMED;
 *   everything else      covered by the CRC: KK_ERR_CRC.
 * On any error only the first good batch's records remain. */
static void flip_every_byte(const uint8_t *batch, size_t len, int magic, bool compressed) {
    size_t total = sizeof RB_V2_NONE * 2 + len;
    uint8_t *buf = malloc(total);
    assert_non_null(buf);
    memcpy(buf, RB_V2_NONE, sizeof RB_V2_NONE);
    memcpy(buf + sizeof RB_V2_NONE, batch, len);
    memcpy(buf + sizeof RB_V2_NONE + len, RB_V2_NONE, sizeof RB_V2_NONE);
    uint8_t *mid = buf + sizeof RB_V2_NONE;

    kk_record_set_t ref;
    kk_record_set_init(&ref);
    kk_error_t err = {0};
    assert_int_equal(decode(&ref, mid, len, NULL, &err), 0);
    assert_int_equal(ref.count, 5);
    int64_t ref_next = ref.next_offset;

    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (size_t f = 0; f < COUNT(flips); f++) {
            mid[i] ^= flips[f];
            kk_record_set_t set, alone;
            kk_record_set_init(&set);
            kk_record_set_init(&alone);
            int rc = decode(&set, buf, total, NULL, &err);
            int rc_alone = decode(&alone, mid, len, NULL, &err);
            if (rc != 0) {
                /* The first good batch stays, nothing from the bad one or after it. */
                if (i < 8 || i >= 12) assert_int_equal(rc, rc_alone);
                assert_int_equal(set.count, 5);
                assert_int_equal(set.header_count, 3);
                assert_int_equal(set.next_offset, 5);
            }
            if (rc_alone != 0) assert_int_equal(alone.count, 0);
            if (i < 8) {
                int64_t shift = (int64_t)((uint64_t)be64(mid) - (uint64_t)be64(batch));
                if (rc_alone == KK_ERR_MALFORMED && compressed && magic < 2) {
                    /* A v1 wrapper below its last inner offset (4) and not 0. */
                    assert_true(magic == 1 && be64(mid) < 4 && be64(mid) != 0);
                } else {
                    assert_int_equal(rc_alone, 0);
                    if (magic == 1 && compressed && be64(mid) == 0)
                        shift = -ref.records[0].offset; /* unset wrapper offset: base 0 */
                    else if (magic == 0 && compressed)
                        shift = 0; /* magic 0 inner offsets are absolute */
                    assert_true(same_records(&ref, &alone, shift));
                    /* v2: base + lastOffsetDelta (4) + 1; a wrapper: its offset + 1. */
                    uint64_t next = (uint64_t)be64(mid) + (magic == 2 ? 5 : 1);
                    assert_int_equal(alone.next_offset, (int64_t)next);
                    assert_int_equal(rc, 0);
                    assert_int_equal(set.count, 15);
                }
            } else if (i < 12) {
                /* Together with the batch after it, a longer length swallows that one:
                 * a CRC error, or a truncated tail when it reaches past the end. */
                if (rc == 0) {
                    assert_true(set.truncated);
                    assert_int_equal(set.count, 5);
                }
                if (rc_alone == 0) {
                    /* Longer than the data: a truncated tail, nothing from it. */
                    assert_true(alone.truncated);
                    assert_int_equal(alone.count, 0);
                    assert_int_equal(alone.truncated_batch_size, 12 + (size_t)be32(mid + 8));
                } else if (rc_alone != KK_ERR_CRC && rc_alone != KK_ERR_MALFORMED) {
                    fail_msg("length byte %zu: rc %d", i, rc_alone);
                }
            } else if (magic == 2 && i < 16) {
                assert_int_equal(rc_alone, 0);
                assert_true(same_records(&ref, &alone, 0));
                assert_int_equal(alone.next_offset, ref_next);
            } else if (i == 16) {
                if (rc_alone != KK_ERR_CRC && rc_alone != KK_ERR_MALFORMED)
                    fail_msg("magic byte: rc %d", rc_alone);
            } else {
                if (rc_alone != KK_ERR_CRC)
                    fail_msg("byte %zu ^ 0x%02x: rc %d (%s)", i, flips[f], rc_alone,
                             rc_alone ? err.message : "");
                assert_non_null(strstr(err.message, "offset"));
            }
            kk_record_set_clear(&set);
            kk_record_set_clear(&alone);
            mid[i] ^= flips[f];
        }
    }
    kk_record_set_clear(&ref);
    free(buf);
}

static void test_flip_v2(void **state) {
    (void)state;
    flip_every_byte(RB_V2_NONE, sizeof RB_V2_NONE, 2, false);
    flip_every_byte(RB_V2_ZSTD, sizeof RB_V2_ZSTD, 2, true);
}

static void test_flip_v1(void **state) {
    (void)state;
    flip_every_byte(RB_V1_GZIP, sizeof RB_V1_GZIP, 1, true);
    flip_every_byte(RB_V0_SNAPPY, sizeof RB_V0_SNAPPY, 0, true);
}

static void test_flip_legacy_uncompressed(void **state) {
    (void)state;
    /* One uncompressed message: the first of RB_V1_NONE and of RB_V0_NONE. Offsets and
     * sizes only, since flip_every_byte wants five records; done by hand here. */
    const uint8_t *msgs[] = {RB_V1_NONE, RB_V0_NONE};
    for (size_t m = 0; m < 2; m++) {
        size_t len = 12 + be32(msgs[m] + 8);
        uint8_t *msg = heap_copy(msgs[m], len);
        for (size_t i = 0; i < len; i++) {
            msg[i] ^= 0x5a;
            kk_record_set_t set;
            kk_record_set_init(&set);
            kk_error_t err = {0};
            int rc = decode(&set, msg, len, NULL, &err);
            if (i < 8) {
                assert_int_equal(rc, 0);
                assert_int_equal(set.count, 1);
                assert_int_equal(set.records[0].offset, be64(msg));
                check_record(&set, 0, 0, be64(msg), m == 0 ? 0 : -1, false);
            } else if (i < 12) {
                assert_true(rc == KK_ERR_CRC || rc == KK_ERR_MALFORMED || (rc == 0 && set.truncated));
                assert_int_equal(set.count, 0);
            } else if (i == 16) {
                assert_true(rc == KK_ERR_CRC || rc == KK_ERR_MALFORMED);
            } else {
                expect_error(rc, &err, KK_ERR_CRC, "offset 0");
            }
            kk_record_set_clear(&set);
            msg[i] ^= 0x5a;
        }
        free(msg);
    }
}

static void test_crc_error_names_offset(void **state) {
    (void)state;
    uint8_t *b = heap_copy(RB_V2_LOG_APPEND, sizeof RB_V2_LOG_APPEND);
    b[100] ^= 1;
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err = {0};
    expect_error(decode(&set, b, sizeof RB_V2_LOG_APPEND, NULL, &err), &err, KK_ERR_CRC,
                 "offset 20");
    assert_non_null(strstr(err.message, "CRC"));
    assert_int_equal(set.count, 0);
    assert_int_equal(set.next_offset, -1);
    kk_record_set_clear(&set);
    free(b);
}

/* ---- filtering ----------------------------------------------------------------------- */

static void test_min_offset(void **state) {
    (void)state;
    static const struct {
        const uint8_t *data;
        size_t len;
        int64_t base;
        int ts_mode;
        bool headers;
    } cases[] = {{RB_V2_GZIP, sizeof RB_V2_GZIP, 0, 0, true},
                 {RB_V2_NONE, sizeof RB_V2_NONE, 0, 0, true},
                 {RB_V1_GZIP, sizeof RB_V1_GZIP, 500, 0, false},
                 {RB_V1_NONE, sizeof RB_V1_NONE, 0, 0, false},
                 {RB_V0_GZIP, sizeof RB_V0_GZIP, 700, -1, false}};
    for (size_t c = 0; c < COUNT(cases); c++) {
        for (int64_t skip = 0; skip <= 6; skip++) {
            kk_decode_options_t opts = {.min_offset = cases[c].base + skip};
            kk_record_set_t set;
            kk_record_set_init(&set);
            kk_error_t err = {0};
            assert_int_equal(decode(&set, cases[c].data, cases[c].len, &opts, &err), 0);
            size_t want = skip >= 5 ? 0 : (size_t)(5 - skip);
            assert_int_equal(set.count, want);
            for (size_t r = 0; r < want; r++)
                check_record(&set, r, (size_t)skip + r, cases[c].base + skip + (int64_t)r,
                             cases[c].ts_mode, cases[c].headers);
            /* Headers of dropped records are not kept: record 2 has two, record 0 one. */
            size_t want_headers = !cases[c].headers ? 0 : skip == 0 ? 3 : skip <= 2 ? 2 : 0;
            assert_int_equal(set.header_count, want_headers);
            assert_int_equal(set.next_offset, cases[c].base + 5);
            kk_record_set_clear(&set);
        }
    }
}

static void test_control_batches_skipped(void **state) {
    (void)state;
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err = {0};
    assert_int_equal(decode(&set, RB_TXN_SET, sizeof RB_TXN_SET, NULL, &err), 0);
    /* Markers at 103, 106 and 107 are skipped but move next_offset. */
    assert_int_equal(set.count, 5);
    check_record(&set, 0, 0, 100, 0, true);
    check_record(&set, 1, 1, 101, 0, true);
    check_record(&set, 2, 2, 102, 0, true);
    check_record(&set, 3, 3, 104, 0, true);
    check_record(&set, 4, 4, 105, 0, true);
    assert_int_equal(set.next_offset, 108);
    kk_record_set_clear(&set);

    /* The marker alone: nothing, yet next_offset moves past it. */
    size_t a = 12 + be32(RB_TXN_SET + 8);
    size_t b = a + 12 + be32(RB_TXN_SET + a + 8);
    size_t marker_len = 12 + be32(RB_TXN_SET + b + 8);
    assert_int_equal(be64(RB_TXN_SET + b), 103);
    kk_record_set_init(&set);
    assert_int_equal(decode(&set, RB_TXN_SET + b, marker_len, NULL, &err), 0);
    assert_int_equal(set.count, 0);
    assert_int_equal(set.next_offset, 104);
    kk_record_set_clear(&set);
}

static void expect_offsets(const kk_aborted_txn_t *aborted, size_t n, bool read_committed,
                           const int64_t *want, size_t want_n) {
    kk_decode_options_t opts = {.read_committed = read_committed, .aborted = aborted,
                                .aborted_count = n, .min_offset = 0};
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err = {0};
    assert_int_equal(decode(&set, RB_TXN_SET, sizeof RB_TXN_SET, &opts, &err), 0);
    assert_int_equal(set.count, want_n);
    for (size_t i = 0; i < want_n; i++) {
        assert_int_equal(set.records[i].offset, want[i]);
        /* SET_A[0..5) spread over the batches in order. */
        size_t idx = (size_t)(want[i] < 103 ? want[i] - 100 : want[i] - 101);
        check_record(&set, i, idx, want[i], 0, true);
    }
    assert_int_equal(set.next_offset, 108);
    kk_record_set_clear(&set);
}

static void test_read_committed(void **state) {
    (void)state;
    /* Producer 4242's first transaction (100-101) aborted; its second (104-105) committed. */
    const kk_aborted_txn_t first[] = {{4242, 100}};
    expect_offsets(first, 1, true, (const int64_t[]){102, 104, 105}, 3);
    /* read_uncommitted ignores the list. */
    expect_offsets(first, 1, false, (const int64_t[]){100, 101, 102, 104, 105}, 5);
    /* Both of 4242's transactions aborted, given out of order. */
    const kk_aborted_txn_t both[] = {{4242, 104}, {4242, 100}};
    expect_offsets(both, 2, true, (const int64_t[]){102}, 1);
    /* Only 777's: 4242's stay. */
    const kk_aborted_txn_t other[] = {{777, 102}};
    expect_offsets(other, 1, true, (const int64_t[]){100, 101, 104, 105}, 4);
    /* An aborted transaction that starts later than the batch does not cover it. */
    const kk_aborted_txn_t later[] = {{4242, 104}};
    expect_offsets(later, 1, true, (const int64_t[]){100, 101, 102}, 3);
    /* No list: nothing is aborted. */
    expect_offsets(NULL, 0, true, (const int64_t[]){100, 101, 102, 104, 105}, 5);
}

/* ---- v1 wrappers --------------------------------------------------------------------- */

static void test_v1_wrapper_offsets(void **state) {
    (void)state;
    kk_record_in_t in[5];
    set_a_input(in, 1);
    kk_writer_t w;
    kk_writer_init(&w);
    kk_error_t err = {0};
    assert_int_equal(kk_records_encode(&w, 1, KK_CODEC_GZIP, in, 5, &err), 0);
    /* The wrapper offset is not covered by the CRC: patch it as a broker would. */
    static const struct {
        int64_t wrapper;
        int64_t first; /* -1: MALFORMED */
    } cases[] = {{4, 0}, {1004, 1000}, {0, 0} /* left unset by some producers */,
                 {3, -1}, {-7, -1}};
    for (size_t c = 0; c < COUNT(cases); c++) {
        put64(w.data, cases[c].wrapper);
        kk_record_set_t set;
        kk_record_set_init(&set);
        int rc = decode(&set, w.data, w.len, NULL, &err);
        if (cases[c].first < 0) {
            expect_error(rc, &err, KK_ERR_MALFORMED, "wrapper");
            assert_int_equal(set.count, 0);
        } else {
            assert_int_equal(rc, 0);
            check_set_a(&set, 0, cases[c].first, 0, false);
            assert_int_equal(set.next_offset, cases[c].wrapper + 1);
            /* min_offset applies to the absolute offsets. */
            kk_record_set_t part;
            kk_record_set_init(&part);
            kk_decode_options_t opts = {.min_offset = cases[c].first + 3};
            assert_int_equal(decode(&part, w.data, w.len, &opts, &err), 0);
            assert_int_equal(part.count, 2);
            check_record(&part, 0, 3, cases[c].first + 3, 0, false);
            kk_record_set_clear(&part);
        }
        kk_record_set_clear(&set);
    }
    kk_writer_free(&w);
}

/* A v0/v1 wrapper message at `offset` around `inner` compressed with codec (written by hand,
 * so the inner set can be anything). */
static uint8_t *make_wrapper_ts(int magic, kk_codec_t codec, uint8_t extra_attributes,
                                int64_t wrapper_ts, const uint8_t *inner, size_t inner_len,
                                int64_t offset, size_t *out_len) {
    uint8_t *c = NULL;
    size_t clen = 0;
    kk_error_t err = {0};
    assert_int_equal(kk_compress(codec == KK_CODEC_ZSTD ? KK_CODEC_GZIP : codec, inner, inner_len,
                                 &c, &clen, &err), 0);
    size_t body = 4 + 1 + 1 + (magic == 1 ? 8 : 0) + 4 + 4 + clen;
    size_t len = 12 + body;
    uint8_t *m = malloc(len);
    assert_non_null(m);
    put64(m, offset);
    put32(m + 8, (uint32_t)body);
    size_t p = 16;
    m[p++] = (uint8_t)magic;
    m[p++] = (uint8_t)(codec | extra_attributes);
    if (magic == 1) {
        put64(m + p, wrapper_ts);
        p += 8;
    }
    put32(m + p, UINT32_MAX); /* null key */
    put32(m + p + 4, (uint32_t)clen);
    memcpy(m + p + 8, c, clen);
    put32(m + 12, (uint32_t)crc32(0L, m + 16, (uInt)(len - 16)));
    free(c);
    *out_len = len;
    return m;
}

static uint8_t *make_wrapper(int magic, kk_codec_t codec, const uint8_t *inner, size_t inner_len,
                             int64_t offset, size_t *out_len) {
    return make_wrapper_ts(magic, codec, 0, TS0 + 100, inner, inner_len, offset, out_len);
}

static void test_legacy_wrapper_contents(void **state) {
    (void)state;
    kk_record_in_t in[5];
    set_a_input(in, 1);
    for (int magic = 0; magic <= 1; magic++) {
        kk_writer_t inner;
        kk_writer_init(&inner);
        kk_error_t err = {0};
        assert_int_equal(kk_records_encode(&inner, (int8_t)magic, KK_CODEC_NONE, in, 5, &err), 0);
        size_t len;
        kk_record_set_t set;
        kk_record_set_init(&set);

        /* Sound: the hand-made wrapper decodes (magic 0 inner offsets are absolute). */
        uint8_t *w = make_wrapper(magic, KK_CODEC_SNAPPY, inner.data, inner.len, 4, &len);
        assert_int_equal(decode(&set, w, len, NULL, &err), 0);
        check_set_a(&set, 0, 0, magic == 0 ? -1 : 0, false);
        free(w);
        if (magic == 1) {
            /* A broker with LogAppendTime stamps only the wrapper: every inner record takes
             * the wrapper's timestamp and type. */
            w = make_wrapper_ts(1, KK_CODEC_GZIP, 0x08, LOG_APPEND_TS, inner.data, inner.len, 9,
                                &len);
            kk_record_set_t la;
            kk_record_set_init(&la);
            assert_int_equal(decode(&la, w, len, NULL, &err), 0);
            check_set_a(&la, 0, 5, 1, false);
            kk_record_set_clear(&la);
            free(w);
        }

        /* An inner message with a bad CRC under a good outer CRC. */
        inner.data[inner.len - 1] ^= 1;
        w = make_wrapper(magic, KK_CODEC_GZIP, inner.data, inner.len, 4, &len);
        expect_error(decode(&set, w, len, NULL, &err), &err, KK_ERR_CRC, "offset 4");
        free(w);
        inner.data[inner.len - 1] ^= 1;

        /* A compressed message inside a compressed message. */
        inner.data[17] = KK_CODEC_GZIP;
        put32(inner.data + 12, (uint32_t)crc32(0L, inner.data + 16, (uInt)(be32(inner.data + 8) - 4)));
        w = make_wrapper(magic, KK_CODEC_GZIP, inner.data, inner.len, 4, &len);
        expect_error(decode(&set, w, len, NULL, &err), &err, KK_ERR_MALFORMED, "nested");
        free(w);

        /* A cut inner set, an empty one, and zstd (not allowed below magic 2). */
        w = make_wrapper(magic, KK_CODEC_GZIP, RB_V1_NONE, 20, 4, &len);
        expect_error(decode(&set, w, len, NULL, &err), &err, KK_ERR_MALFORMED, "truncated");
        free(w);
        w = make_wrapper(magic, KK_CODEC_GZIP, (const uint8_t *)"", 0, 4, &len);
        expect_error(decode(&set, w, len, NULL, &err), &err, KK_ERR_MALFORMED, "empty");
        free(w);
        w = make_wrapper(magic, KK_CODEC_ZSTD, inner.data, inner.len, 4, &len);
        expect_error(decode(&set, w, len, NULL, &err), &err, KK_ERR_MALFORMED, "zstd");
        free(w);
        /* Corrupt compressed bytes under a good CRC (gzip: its trailer's CRC-32 catches it;
         * our lz4 frames carry no content checksum). */
        w = make_wrapper(magic, KK_CODEC_GZIP, inner.data, inner.len, 4, &len);
        w[len - 6] ^= 0xff;
        put32(w + 12, (uint32_t)crc32(0L, w + 16, (uInt)(len - 16)));
        expect_error(decode(&set, w, len, NULL, &err), &err, KK_ERR_COMPRESSION, "offset 4");
        free(w);

        assert_int_equal(set.count, 5); /* only the sound one */
        kk_record_set_clear(&set);
        kk_writer_free(&inner);
    }
}

/* ---- limits -------------------------------------------------------------------------- */

static void test_decompression_cap(void **state) {
    (void)state;
    size_t n = 4u << 20;
    uint8_t *zeros = calloc(1, n);
    assert_non_null(zeros);
    kk_record_in_t rec = {.value = zeros, .value_len = n, .timestamp_ms = TS0};
    for (int magic = 1; magic <= 2; magic++) {
        for (int codec = KK_CODEC_GZIP; codec <= KK_CODEC_ZSTD; codec++) {
            if (magic < 2 && codec == KK_CODEC_ZSTD) continue;
            kk_writer_t w;
            kk_writer_init(&w);
            kk_error_t err = {0};
            assert_int_equal(kk_records_encode(&w, (int8_t)magic, (kk_codec_t)codec, &rec, 1, &err), 0);
            assert_true(w.len < n / 16); /* it is a bomb: small on the wire */
            kk_record_set_t set;
            kk_record_set_init(&set);
            kk_decode_options_t opts = {.max_decompressed = 1u << 20};
            expect_error(decode(&set, w.data, w.len, &opts, &err), &err, KK_ERR_COMPRESSION,
                         "offset");
            assert_int_equal(set.count, 0);
            assert_int_equal(set.next_offset, -1);
            kk_record_set_clear(&set);
            opts.max_decompressed = 8u << 20;
            assert_int_equal(decode(&set, w.data, w.len, &opts, &err), 0);
            assert_int_equal(set.count, 1);
            assert_int_equal(set.records[0].value.len, (int32_t)n);
            kk_record_set_clear(&set);
            kk_writer_free(&w);
        }
    }
    free(zeros);
}

/* Three batches of ten records (offsets 0..29), each value 1,000 zero bytes, so a compressed
 * batch decompresses to about 10 KB. Magic 0/1 wrappers get the offset of their last record. */
static void write_three_batches(kk_writer_t *w, int magic, kk_codec_t codec) {
    static uint8_t zeros[1000];
    kk_record_in_t in[10];
    for (int i = 0; i < 10; i++)
        in[i] = (kk_record_in_t){.value = zeros, .value_len = sizeof zeros, .timestamp_ms = TS0};
    for (int b = 0; b < 3; b++) {
        size_t before = w->len;
        kk_error_t err = {0};
        assert_int_equal(kk_records_encode(w, (int8_t)magic, codec, in, 10, &err), 0);
        uint64_t first = (uint64_t)b * 10;
        for (size_t pos = before; pos < w->len;) { /* each message or batch: offset, length */
            uint64_t offset = magic == 2 || codec != KK_CODEC_NONE ? first + (magic == 2 ? 0 : 9) : first++;
            for (int i = 0; i < 8; i++)
                w->data[pos + (size_t)i] = (uint8_t)(offset >> (56 - 8 * i));
            pos += 12 + be32(w->data + pos + 8);
        }
    }
}

/* A fetch's bounds: every decode stops at max_records or before the batch that would pass
 * max_total_decompressed, keeps at least one record, and decoding on from next_offset returns
 * every record exactly once. */
static void test_per_decode_bounds(void **state) {
    (void)state;
    static const struct {
        int magic;
        kk_codec_t codec;
    } formats[] = {{2, KK_CODEC_ZSTD}, {2, KK_CODEC_NONE}, {1, KK_CODEC_GZIP}, {0, KK_CODEC_NONE}};
    static const struct {
        size_t max_records, max_total;
        size_t most; /* the most records one decode may return */
    } bounds[] = {{4, 0, 4}, {1, 0, 1}, {0, 15000, 10}, {0, 100, 10}, {7, 100, 7}, {25, 0, 25}};
    for (size_t f = 0; f < COUNT(formats); f++) {
        kk_writer_t w;
        kk_writer_init(&w);
        write_three_batches(&w, formats[f].magic, formats[f].codec);
        for (size_t b = 0; b < COUNT(bounds); b++) {
            int64_t next = 0, seen = 0;
            for (int round = 0; next < 30; round++) {
                assert_true(round < 30); /* never stalls */
                kk_decode_options_t opts = {.min_offset = next,
                                            .max_records = bounds[b].max_records,
                                            .max_total_decompressed = bounds[b].max_total};
                kk_record_set_t set;
                kk_record_set_init(&set);
                kk_error_t err = {0};
                assert_int_equal(decode(&set, w.data, w.len, &opts, &err), 0);
                /* uncompressed batches decompress nothing: only max_records bounds them */
                size_t most = formats[f].codec != KK_CODEC_NONE ? bounds[b].most
                              : bounds[b].max_records   ? bounds[b].max_records
                                                        : 30;
                if (set.count < 1 || set.count > most)
                    fail_msg("format %zu bounds %zu from %lld: %zu records", f, b, (long long)next, set.count);
                /* the record array is sized by the bound, not by what the batches declare */
                if (bounds[b].max_records)
                    assert_true(set.cap <= 2 * most || set.cap <= 16);
                for (size_t i = 0; i < set.count; i++)
                    assert_int_equal(set.records[i].offset, seen++);
                assert_int_equal(set.next_offset, seen);
                assert_true(set.limited == (seen < 30));
                if (formats[f].codec == KK_CODEC_NONE && !bounds[b].max_records)
                    assert_int_equal(set.count, 30);
                next = set.next_offset;
                kk_record_set_clear(&set);
            }
            assert_int_equal(seen, 30);
        }
        kk_writer_free(&w);
    }
}

/* The first batch of a decode is taken whole however far it passes max_total_decompressed,
 * but not past max_decompressed: that fails, naming the option. */
static void test_first_batch_over_the_bound(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    write_three_batches(&w, 2, KK_CODEC_ZSTD);
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err = {0};
    kk_decode_options_t opts = {.max_total_decompressed = 1, .max_decompressed = 20000};
    assert_int_equal(decode(&set, w.data, w.len, &opts, &err), 0);
    assert_int_equal(set.count, 10);
    assert_true(set.limited);
    kk_record_set_clear(&set);
    opts.max_decompressed = 5000;
    expect_error(decode(&set, w.data, w.len, &opts, &err), &err, KK_ERR_COMPRESSION,
                 "max_decompressed_bytes");
    assert_int_equal(set.count, 0);
    kk_record_set_clear(&set);
    kk_writer_free(&w);
}

static void test_lying_record_count(void **state) {
    (void)state;
    kk_record_in_t in[5];
    set_a_input(in, 2);
    for (int codec = KK_CODEC_NONE; codec <= KK_CODEC_ZSTD; codec += 4) {
        kk_writer_t w;
        kk_writer_init(&w);
        kk_error_t err = {0};
        assert_int_equal(kk_records_encode(&w, 2, (kk_codec_t)codec, in, 2, &err), 0);
        static const uint32_t counts[] = {1000000, 3, 1, 0, 0x7fffffff, 0x80000000u};
        for (size_t c = 0; c < COUNT(counts); c++) {
            uint8_t *b = heap_copy(w.data, w.len);
            put32(b + 57, counts[c]);
            fix_v2_crc(b, w.len);
            kk_record_set_t set;
            kk_record_set_init(&set);
            clock_t t0 = clock();
            expect_error(decode(&set, b, w.len, NULL, &err), &err, KK_ERR_MALFORMED, "offset 0");
            assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5);
            assert_int_equal(set.count, 0);
            /* nothing sized by the claimed count beyond what the bytes could hold */
            assert_true(set.cap <= 16 || set.cap <= w.len / 7);
            kk_record_set_clear(&set);
            free(b);
        }
        kk_writer_free(&w);
    }

    /* A record length pointing past the batch, and one too short for its content. */
    static const uint8_t lens[] = {0x7e, 0x02, 0x00, 0x01 /* -1 */};
    for (size_t l = 0; l < COUNT(lens); l++) {
        uint8_t *b = heap_copy(RB_V2_NONE, sizeof RB_V2_NONE);
        b[61] = lens[l];
        fix_v2_crc(b, sizeof RB_V2_NONE);
        kk_record_set_t set;
        kk_record_set_init(&set);
        kk_error_t err = {0};
        expect_error(decode(&set, b, sizeof RB_V2_NONE, NULL, &err), &err, KK_ERR_MALFORMED, NULL);
        assert_int_equal(set.count, 0);
        kk_record_set_clear(&set);
        free(b);
    }

    /* A header count that cannot fit. Record 0: len, attr, ts delta, offset delta, key (6),
     * value (8), header count at byte 61 + 1 + 1 + 1 + 1 + 6 + 8. */
    uint8_t *b = heap_copy(RB_V2_NONE, sizeof RB_V2_NONE);
    size_t hc_at = 61 + 1 + 1 + 1 + 1 + 6 + 8;
    assert_int_equal(b[hc_at], 2); /* zigzag(1) */
    b[hc_at] = 0x7e;               /* 63 headers */
    fix_v2_crc(b, sizeof RB_V2_NONE);
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err = {0};
    expect_error(decode(&set, b, sizeof RB_V2_NONE, NULL, &err), &err, KK_ERR_MALFORMED, NULL);
    assert_true(set.header_cap <= 16);
    kk_record_set_clear(&set);
    free(b);
}

static void test_bad_framing(void **state) {
    (void)state;
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err = {0};
    /* Empty input: nothing, not truncated. */
    assert_int_equal(decode(&set, (const uint8_t *)"", 0, NULL, &err), 0);
    assert_int_equal(set.count, 0);
    assert_false(set.truncated);
    assert_int_equal(set.next_offset, -1);

    uint8_t *b = heap_copy(RB_V2_NONE, sizeof RB_V2_NONE);
    b[16] = 3; /* unknown magic */
    expect_error(decode(&set, b, sizeof RB_V2_NONE, NULL, &err), &err, KK_ERR_MALFORMED, "magic");
    b[16] = 2;
    put32(b + 8, 13); /* shorter than any message */
    expect_error(decode(&set, b, sizeof RB_V2_NONE, NULL, &err), &err, KK_ERR_MALFORMED, NULL);
    put32(b + 8, 40); /* a v2 length shorter than the v2 header */
    expect_error(decode(&set, b, sizeof RB_V2_NONE, NULL, &err), &err, KK_ERR_MALFORMED, NULL);
    put32(b + 8, 0x80000000u); /* negative */
    expect_error(decode(&set, b, sizeof RB_V2_NONE, NULL, &err), &err, KK_ERR_MALFORMED, NULL);
    assert_int_equal(set.count, 0);
    free(b);

    /* Bytes after the last record inside the batch. */
    size_t len = sizeof RB_V2_NONE + 1;
    b = calloc(1, len);
    assert_non_null(b);
    memcpy(b, RB_V2_NONE, sizeof RB_V2_NONE);
    put32(b + 8, (uint32_t)(len - 12));
    fix_v2_crc(b, len);
    expect_error(decode(&set, b, len, NULL, &err), &err, KK_ERR_MALFORMED, NULL);
    free(b);

    /* A record whose length claims one byte more than its fields use. */
    kk_record_in_t in[5];
    set_a_input(in, 2);
    kk_writer_t w;
    kk_writer_init(&w);
    assert_int_equal(kk_records_encode(&w, 2, KK_CODEC_NONE, &in[1], 1, &err), 0);
    len = w.len + 1;
    b = calloc(1, len);
    assert_non_null(b);
    memcpy(b, w.data, w.len);
    assert_true(b[61] < 0x7e); /* a one-byte varint */
    b[61] += 2;                /* zigzag: length + 1 */
    put32(b + 8, (uint32_t)(len - 12));
    fix_v2_crc(b, len);
    expect_error(decode(&set, b, len, NULL, &err), &err, KK_ERR_MALFORMED, "record length");
    b[61] -= 2; /* the same bytes with the true length: bytes left after the record */
    fix_v2_crc(b, len);
    expect_error(decode(&set, b, len, NULL, &err), &err, KK_ERR_MALFORMED, "left");
    assert_int_equal(set.count, 0);
    free(b);
    kk_writer_free(&w);

    /* Invalid arguments. */
    expect_error(kk_records_decode(NULL, RB_V2_NONE, 10, NULL, &err), &err, KK_ERR_INVALID_ARG,
                 NULL);
    expect_error(kk_records_decode(&set, NULL, 10, NULL, &err), &err, KK_ERR_INVALID_ARG, NULL);
    kk_record_set_clear(&set);
}

static void test_appends_across_calls(void **state) {
    (void)state;
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err = {0};
    assert_int_equal(decode(&set, RB_V2_GZIP, sizeof RB_V2_GZIP, NULL, &err), 0);
    assert_int_equal(decode(&set, RB_V1_SNAPPY, sizeof RB_V1_SNAPPY, NULL, &err), 0);
    assert_int_equal(set.count, 10);
    check_set_a(&set, 0, 0, 0, true);
    check_set_a(&set, 5, 500, 0, false);
    assert_int_equal(set.next_offset, 505);
    kk_record_set_clear(&set);
    assert_int_equal(set.count, 0);
    assert_int_equal(set.owned_count, 0);
    assert_false(set.truncated);
    /* Reusable after clear; truncated describes the latest input only. */
    assert_int_equal(decode(&set, RB_V0_LZ4, sizeof RB_V0_LZ4 - 1, NULL, &err), 0);
    assert_true(set.truncated);
    assert_int_equal(set.truncated_batch_size, sizeof RB_V0_LZ4);
    assert_int_equal(set.count, 0);
    assert_int_equal(decode(&set, RB_V0_LZ4, sizeof RB_V0_LZ4, NULL, &err), 0);
    assert_false(set.truncated);
    assert_int_equal(set.truncated_batch_size, 0);
    check_set_a(&set, 0, 800, -1, false);
    kk_record_set_clear(&set);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_java_vectors),
        cmocka_unit_test(test_java_vectors_concatenated),
        cmocka_unit_test(test_encode_matches_java),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_encode_with_kept_scratch),
        cmocka_unit_test(test_encode_many_records),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_size_bound),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_flip_v2),
        cmocka_unit_test(test_flip_v1),
        cmocka_unit_test(test_flip_legacy_uncompressed),
        cmocka_unit_test(test_crc_error_names_offset),
        cmocka_unit_test(test_min_offset),
        cmocka_unit_test(test_control_batches_skipped),
        cmocka_unit_test(test_read_committed),
        cmocka_unit_test(test_v1_wrapper_offsets),
        cmocka_unit_test(test_legacy_wrapper_contents),
        cmocka_unit_test(test_decompression_cap),
        cmocka_unit_test(test_per_decode_bounds),
        cmocka_unit_test(test_first_batch_over_the_bound),
        cmocka_unit_test(test_lying_record_count),
        cmocka_unit_test(test_bad_framing),
        cmocka_unit_test(test_appends_across_calls),
    };
    return cmocka_run_group_tests(tests, setup_set_a, NULL);
}
