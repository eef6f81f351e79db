/* ListOffsets and Fetch codecs: golden request bytes assembled by hand from Kafka's JSON
 * schemas, hand-built responses at several versions, every truncation, lying counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol_fetch.h"

/* Big-endian bytes of integer constants, for writing wire images by hand. */
#define I16(v) (uint8_t)((uint16_t)(v) >> 8), (uint8_t)(uint16_t)(v)
#define I32(v)                                                                                     \
    (uint8_t)((uint32_t)(v) >> 24), (uint8_t)((uint32_t)(v) >> 16), (uint8_t)((uint32_t)(v) >> 8), \
        (uint8_t)(uint32_t)(v)
#define I64(v) I32((uint64_t)(v) >> 32), I32((uint64_t)(v)&0xffffffffu)

static void assert_encoded(const kk_writer_t *w, const uint8_t *expected, size_t len) {
    assert_false(w->failed);
    assert_int_equal(w->len, len);
    assert_memory_equal(w->data, expected, len);
}

/* ---- ListOffsets requests ---------------------------------------------------------------- */

static void test_list_offsets_request_v0(void **state) {
    (void)state;
    const uint8_t expected[] = {
        I32(-1),      /* replica_id */
        I32(1),       /* topics */
        I16(1),  't', /*   name */
        I32(1),       /*   partitions */
        I32(2),       /*     partition_index */
        I64(-2),      /*     timestamp (earliest) */
        I32(1),       /*     max_num_offsets */
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_list_offsets_request(&w, 0, "t", 2, KK_OFFSET_SPEC_EARLIEST, 1);
    assert_encoded(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

static void test_list_offsets_request_v1(void **state) {
    (void)state;
    const uint8_t expected[] = {
        I32(-1), I32(1), I16(1),  't',
        I32(1),  I32(2), I64(-1), /* timestamp (latest); no max_num_offsets from v1, no isolation
                                     before v2 */
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_list_offsets_request(&w, 1, "t", 2, KK_OFFSET_SPEC_LATEST, 1);
    assert_encoded(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

static void test_list_offsets_request_v4(void **state) {
    (void)state;
    const uint8_t expected[] = {
        I32(-1),
        1, /* replica_id, isolation_level */
        I32(1),
        I16(1),
        't',
        I32(1),
        I32(2),
        I32(-1),            /* current_leader_epoch */
        I64(1700000000123), /* timestamp */
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_list_offsets_request(&w, 4, "t", 2, 1700000000123, 1);
    assert_encoded(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

static void test_list_offsets_request_v6_flexible(void **state) {
    (void)state;
    const uint8_t expected[] = {
        I32(-1), 0,                     /* replica_id, isolation_level */
        2,                              /* compact topics: 1 */
        4,       'a',     'b',     'c', /*   compact name */
        2,                              /*   compact partitions: 1 */
        I32(7),  I32(-1), I64(-2), 0,   /*     partition tags */
        0,                              /*   topic tags */
        0,                              /* tags */
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_list_offsets_request(&w, 6, "abc", 7, KK_OFFSET_SPEC_EARLIEST, 0);
    assert_encoded(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

/* ---- Fetch requests ---------------------------------------------------------------------- */

static const kk_fetch_request_in_t fetch_in = {
    .topic = "t",
    .partition = 2,
    .fetch_offset = 5,
    .current_leader_epoch = 7,
    .max_wait_ms = 500,
    .min_bytes = 1,
    .max_bytes = 1048576,
    .partition_max_bytes = 65536,
    .isolation_level = 1,
};

static void test_fetch_request_v0(void **state) {
    (void)state;
    const uint8_t expected[] = {
        I32(-1),    I32(500), I32(1), /* replica_id, max_wait_ms, min_bytes */
        I32(1),     I16(1),   't',    /* topics, name */
        I32(1),     I32(2),   I64(5), /* partitions, partition, fetch_offset */
        I32(65536),                   /* partition_max_bytes */
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_fetch_request(&w, 0, &fetch_in);
    assert_encoded(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

static void test_fetch_request_v4(void **state) {
    (void)state;
    const uint8_t expected[] = {
        I32(-1), I32(500), I32(1), I32(1048576), 1, /* max_bytes, isolation_level */
        I32(1),  I16(1),   't',    I32(1),       I32(2), I64(5), I32(65536),
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_fetch_request(&w, 4, &fetch_in);
    assert_encoded(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

static void test_fetch_request_v11(void **state) {
    (void)state;
    const uint8_t expected[] = {
        I32(-1),    I32(500), I32(1),  I32(1048576),
        1,          I32(0),   I32(-1), /* session_id, session_epoch: no session */
        I32(1),     I16(1),   't',     I32(1),
        I32(2),     I32(7),   I64(5), /* partition, current_leader_epoch, fetch_offset */
        I64(-1),                      /* log_start_offset */
        I32(65536), I32(0),           /* forgotten_topics_data: empty */
        I16(0),                       /* rack_id: "" */
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_fetch_request(&w, 11, &fetch_in);
    assert_encoded(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

/* v10 is v11 without rack_id */
static void test_fetch_request_v10(void **state) {
    (void)state;
    const uint8_t expected[] = {
        I32(-1), I32(500), I32(1), I32(1048576), 1,      I32(0),  I32(-1),    I32(1), I16(1),
        't',     I32(1),   I32(2), I32(7),       I64(5), I64(-1), I32(65536), I32(0),
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_fetch_request(&w, 10, &fetch_in);
    assert_encoded(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

static void test_fetch_request_v12_flexible(void **state) {
    (void)state;
    const uint8_t expected[] = {
        I32(-1), I32(500),   I32(1), I32(1048576), 1, I32(0),
        I32(-1), 2,          2,      't',     /* compact topics: 1, compact name */
        2,                                    /* compact partitions: 1 */
        I32(2),  I32(7),     I64(5), I32(-1), /* last_fetched_epoch */
        I64(-1), I32(65536), 0,               /* partition tags */
        0,                                    /* topic tags */
        1,                                    /* forgotten_topics_data: compact empty */
        1,                                    /* rack_id: compact "" */
        0,                                    /* tags (no cluster_id) */
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_fetch_request(&w, 12, &fetch_in);
    assert_encoded(&w, expected, sizeof(expected));
    kk_writer_free(&w);
}

/* ---- ListOffsets responses --------------------------------------------------------------- */

static const uint8_t lo_v0[] = {
    I32(1), I16(1), 't',     I32(1), I32(2),
    I16(0), I32(2), I64(42), I64(7), /* old_style_offsets: the first is ours */
};

static const uint8_t lo_v0_empty_offsets[] = {
    I32(1), I16(1), 't', I32(1), I32(2), I16(0), I32(0),
};

static const uint8_t lo_v1_error[] = {
    I32(1),  I16(1),  't', I32(1), I32(2), I16(6), /* NOT_LEADER_OR_FOLLOWER */
    I64(-1), I64(-1),
};

/* Another topic first, then our topic with another partition before ours. */
static const uint8_t lo_v4[] = {
    I32(0), /* throttle */
    I32(2), I16(5), 'o',    't',      'h',    'e',    'r',    I32(1),
    I32(2), I16(0), I64(1), I64(999), I32(9), I16(1), 't',    I32(2),
    I32(1), I16(0), I64(2), I64(888), I32(8), I32(2), I16(0), I64(1700000000000),
    I64(3), I32(5),
};

static const uint8_t lo_v6[] = {
    I32(0), 2, /* compact topics: 1 */
    2,      't', 2, I32(2), I16(0), I64(1700000000001), I64(4), I32(6),
    1,      9,   2, 0xab,   0xcd, /* partition tags: one unknown tag (9) of 2 bytes */
    0,                            /* topic tags */
    0,
};

static int decode_lo(const uint8_t *body, size_t len, int16_t version,
                     kk_list_offsets_result_t *out, kk_error_t *err) {
    kk_reader_t r;
    kk_reader_init(&r, body, len);
    return kk_decode_list_offsets_response(&r, version, "t", 2, out, err);
}

static void test_list_offsets_response_versions(void **state) {
    (void)state;
    kk_list_offsets_result_t res;
    kk_error_t err;

    assert_int_equal(decode_lo(lo_v0, sizeof(lo_v0), 0, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 0);
    assert_int_equal(res.offset, 42);
    assert_int_equal(res.timestamp, -1);
    assert_int_equal(res.leader_epoch, -1);

    assert_int_equal(decode_lo(lo_v0_empty_offsets, sizeof(lo_v0_empty_offsets), 0, &res, &err),
                     KK_OK);
    assert_int_equal(res.offset, -1);

    assert_int_equal(decode_lo(lo_v1_error, sizeof(lo_v1_error), 1, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 6);
    assert_int_equal(res.offset, -1);

    assert_int_equal(decode_lo(lo_v4, sizeof(lo_v4), 4, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 0);
    assert_int_equal(res.timestamp, 1700000000000);
    assert_int_equal(res.offset, 3);
    assert_int_equal(res.leader_epoch, 5);

    for (int16_t v = 6; v <= 7; v++) { /* v7 only adds a timestamp meaning */
        assert_int_equal(decode_lo(lo_v6, sizeof(lo_v6), v, &res, &err), KK_OK);
        assert_int_equal(res.timestamp, 1700000000001);
        assert_int_equal(res.offset, 4);
        assert_int_equal(res.leader_epoch, 6);
    }
}

static void test_list_offsets_missing_partition(void **state) {
    (void)state;
    kk_list_offsets_result_t res;
    kk_error_t err;
    kk_reader_t r;
    kk_reader_init(&r, lo_v4, sizeof(lo_v4));
    assert_int_equal(kk_decode_list_offsets_response(&r, 4, "t", 3, &res, &err), KK_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "t/3"));
    kk_reader_init(&r, lo_v4, sizeof(lo_v4));
    assert_int_equal(kk_decode_list_offsets_response(&r, 4, "u", 2, &res, &err), KK_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "u/2"));
    /* a topic whose name only starts like ours is not ours */
    kk_reader_init(&r, lo_v4, sizeof(lo_v4));
    assert_int_equal(kk_decode_list_offsets_response(&r, 4, "oth", 2, &res, &err),
                     KK_ERR_MALFORMED);
}

/* ---- Fetch responses --------------------------------------------------------------------- */

static const uint8_t fetch_v0[] = {
    I32(1), I16(1), 't', I32(1), I32(2), I16(0), I64(3), I32(4), 'a', 'b', 'c', 'd',
};

static const uint8_t fetch_v1_null_records[] = {
    I32(0),                                               /* throttle */
    I32(1),  I16(1), 't', I32(1), I32(2), I16(1), I64(3), /* OFFSET_OUT_OF_RANGE */
    I32(-1),                                              /* records: null */
};

/* Another topic (with aborted transactions of its own) first, then two partitions of ours. */
static const uint8_t fetch_v4[] = {
    I32(0),    I32(2),  I16(5),  'o',    't',    'h',      'e',     'r',    I32(1),    I32(2),
    I16(0),    I64(9),  I64(9),  I32(1), I64(1), I64(2), /* aborted */
    I32(3),    'x',     'y',     'z',    I16(1), 't',      I32(2),  I32(1), I16(0),    I64(1),
    I64(1),    I32(-1), I32(-1), I32(2), I16(0), I64(100), I64(90), I32(2), I64(1000), I64(80),
    I64(1001), I64(85), I32(5),  1,      2,      3,        4,       5,
};

static const uint8_t fetch_v5[] = {
    I32(0), I32(1), I16(1),  't',     I32(1),
    I32(2), I16(0), I64(10), I64(10), I64(4), /* hw, lso, log_start */
    I32(0),                                   /* aborted: empty */
    I32(0),                                   /* records: empty, not null */
};

static const uint8_t fetch_v7_top_error[] = {
    I32(0), I16(70), I32(0), /* throttle, FETCH_SESSION_ID_NOT_FOUND, session */
    I32(0),                  /* no topics */
};

static const uint8_t fetch_v7_top_error_with_partition[] = {
    I32(0), I16(-1), I32(0), I32(1), I16(1),  't',    I32(1), I32(2),
    I16(0), I64(8),  I64(8), I64(0), I32(-1), I32(2), 'h',    'i',
};

static const uint8_t fetch_v10[] = {
    I32(0), I16(0), I32(0), I32(1), I16(1), 't', I32(1), I32(2), I16(0),
    I64(3), I64(3), I64(0), I32(0), I32(2), 'o', 'k', /* no preferred_read_replica before v11 */
};

static const uint8_t fetch_v11[] = {
    I32(0), I16(0), I32(0), I32(1), I16(1), 't',     I32(1),
    I32(2), I16(0), I64(3), I64(3), I64(0), I32(-1), /* aborted: null */
    I32(3),                                          /* preferred_read_replica */
    I32(2), 'o',    'k',
};

static const uint8_t fetch_v12[] = {
    I32(5),  I16(0), I32(0),  3, /* compact topics: 2 */
    2,       'u',    2,          /*   "u", one partition */
    I32(2),  I16(0), I64(1),  I64(1),  I64(0),  1,    I32(-1), 1,       0, 0,
    2,       't',    3, /*   "t", two partitions */
    I32(0),  I16(0), I64(7),  I64(7),  I64(0),  0,    I32(-1), 0,       0, /* aborted null, records
                                                                              null */
    I32(2),  I16(0), I64(50), I64(40), I64(10), 2,    I64(77), I64(41), 0, /* compact aborted: 1,
                                                                              with entry tags */
    I32(-1), 4,      'r',     'e',     'c',                                /* compact records */
    3, /* partition tags: diverging_epoch, current_leader, snapshot_id */
    0,       12,     I32(4),  I64(45), 1,       8,    I32(1),  I32(5),  2, 12,
    I64(30), I32(3), 1,       0x7f,    1,       0xee, /* topic tags: an unknown one */
    0,
};

static int decode_fetch(const uint8_t *body, size_t len, int16_t version,
                        kk_fetch_partition_result_t *out, kk_error_t *err) {
    kk_reader_t r;
    kk_reader_init(&r, body, len);
    return kk_decode_fetch_response(&r, version, "t", 2, out, err);
}

static void assert_records(const kk_fetch_partition_result_t *res, const uint8_t *body,
                           size_t body_len, const char *expected) {
    size_t n = strlen(expected);
    assert_non_null(res->records);
    assert_int_equal(res->records_len, n);
    /* a view into the response, not a copy */
    assert_true(res->records >= body && res->records + n <= body + body_len);
    assert_memory_equal(res->records, expected, n);
}

static void test_fetch_response_v0_and_v1(void **state) {
    (void)state;
    kk_fetch_partition_result_t res;
    kk_error_t err;
    assert_int_equal(decode_fetch(fetch_v0, sizeof(fetch_v0), 0, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 0);
    assert_int_equal(res.high_watermark, 3);
    assert_int_equal(res.last_stable_offset, -1);
    assert_int_equal(res.log_start_offset, -1);
    assert_int_equal(res.preferred_read_replica, -1);
    assert_null(res.aborted);
    assert_records(&res, fetch_v0, sizeof(fetch_v0), "abcd");
    kk_fetch_partition_result_free(&res);

    assert_int_equal(
        decode_fetch(fetch_v1_null_records, sizeof(fetch_v1_null_records), 1, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 1);
    assert_null(res.records);
    assert_int_equal(res.records_len, 0);
    kk_fetch_partition_result_free(&res);
}

static void test_fetch_response_v4_aborted_transactions(void **state) {
    (void)state;
    kk_fetch_partition_result_t res;
    kk_error_t err;
    assert_int_equal(decode_fetch(fetch_v4, sizeof(fetch_v4), 4, &res, &err), KK_OK);
    assert_int_equal(res.high_watermark, 100);
    assert_int_equal(res.last_stable_offset, 90);
    assert_int_equal(res.log_start_offset, -1);
    assert_int_equal(res.aborted_count, 2);
    assert_int_equal(res.aborted[0].producer_id, 1000);
    assert_int_equal(res.aborted[0].first_offset, 80);
    assert_int_equal(res.aborted[1].producer_id, 1001);
    assert_int_equal(res.aborted[1].first_offset, 85);
    assert_records(&res, fetch_v4, sizeof(fetch_v4), "\1\2\3\4\5");
    kk_fetch_partition_result_free(&res);
    assert_null(res.aborted);
    assert_int_equal(res.aborted_count, 0);

    /* partition 1 of "t": null aborted list, null records */
    kk_reader_t r;
    kk_reader_init(&r, fetch_v4, sizeof(fetch_v4));
    assert_int_equal(kk_decode_fetch_response(&r, 4, "t", 1, &res, &err), KK_OK);
    assert_null(res.aborted);
    assert_null(res.records);
    assert_int_equal(res.high_watermark, 1);
    kk_fetch_partition_result_free(&res);
}

static void test_fetch_response_v5_empty_records(void **state) {
    (void)state;
    kk_fetch_partition_result_t res;
    kk_error_t err;
    assert_int_equal(decode_fetch(fetch_v5, sizeof(fetch_v5), 5, &res, &err), KK_OK);
    assert_int_equal(res.log_start_offset, 4);
    assert_null(res.aborted);
    assert_int_equal(res.aborted_count, 0);
    assert_non_null(res.records); /* empty but present */
    assert_int_equal(res.records_len, 0);
    kk_fetch_partition_result_free(&res);
}

static void test_fetch_response_v7_top_level_error(void **state) {
    (void)state;
    kk_fetch_partition_result_t res;
    kk_error_t err;
    assert_int_equal(decode_fetch(fetch_v7_top_error, sizeof(fetch_v7_top_error), 7, &res, &err),
                     KK_OK);
    assert_int_equal(res.error_code, 70);
    assert_null(res.records);
    assert_null(res.aborted);
    kk_fetch_partition_result_free(&res);

    /* the top-level error wins over a clean partition */
    assert_int_equal(decode_fetch(fetch_v7_top_error_with_partition,
                                  sizeof(fetch_v7_top_error_with_partition), 7, &res, &err),
                     KK_OK);
    assert_int_equal(res.error_code, -1);
    kk_fetch_partition_result_free(&res);
}

static void test_fetch_response_v11_preferred_replica(void **state) {
    (void)state;
    kk_fetch_partition_result_t res;
    kk_error_t err;
    assert_int_equal(decode_fetch(fetch_v11, sizeof(fetch_v11), 11, &res, &err), KK_OK);
    assert_int_equal(res.preferred_read_replica, 3);
    assert_null(res.aborted);
    assert_records(&res, fetch_v11, sizeof(fetch_v11), "ok");
    kk_fetch_partition_result_free(&res);

    assert_int_equal(decode_fetch(fetch_v10, sizeof(fetch_v10), 10, &res, &err), KK_OK);
    assert_int_equal(res.preferred_read_replica, -1);
    assert_records(&res, fetch_v10, sizeof(fetch_v10), "ok");
    kk_fetch_partition_result_free(&res);
}

static void test_fetch_response_v12_flexible_with_tags(void **state) {
    (void)state;
    kk_fetch_partition_result_t res;
    kk_error_t err;
    assert_int_equal(decode_fetch(fetch_v12, sizeof(fetch_v12), 12, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 0);
    assert_int_equal(res.high_watermark, 50);
    assert_int_equal(res.last_stable_offset, 40);
    assert_int_equal(res.log_start_offset, 10);
    assert_int_equal(res.aborted_count, 1);
    assert_int_equal(res.aborted[0].producer_id, 77);
    assert_int_equal(res.aborted[0].first_offset, 41);
    assert_int_equal(res.preferred_read_replica, -1);
    assert_records(&res, fetch_v12, sizeof(fetch_v12), "rec");
    kk_fetch_partition_result_free(&res);

    kk_reader_t r;
    kk_reader_init(&r, fetch_v12, sizeof(fetch_v12));
    assert_int_equal(kk_decode_fetch_response(&r, 12, "t", 0, &res, &err), KK_OK);
    assert_int_equal(res.high_watermark, 7);
    assert_null(res.records);
    kk_fetch_partition_result_free(&res);
}

static void test_fetch_missing_partition(void **state) {
    (void)state;
    kk_fetch_partition_result_t res;
    kk_error_t err;
    kk_reader_t r;
    kk_reader_init(&r, fetch_v4, sizeof(fetch_v4));
    assert_int_equal(kk_decode_fetch_response(&r, 4, "t", 9, &res, &err), KK_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "t/9"));
    assert_null(res.aborted);
    /* "other" partition 2 has aborted transactions; asking for it under another name does not
     * leak them */
    kk_reader_init(&r, fetch_v4, sizeof(fetch_v4));
    assert_int_equal(kk_decode_fetch_response(&r, 4, "othe", 2, &res, &err), KK_ERR_MALFORMED);
    assert_null(res.aborted);
    kk_reader_init(&r, fetch_v12, sizeof(fetch_v12));
    assert_int_equal(kk_decode_fetch_response(&r, 12, "v", 2, &res, &err), KK_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "v/2"));
}

/* ---- truncation and lying counts --------------------------------------------------------- */

typedef struct vector {
    const uint8_t *body;
    size_t len;
    int16_t version;
} vector_t;

#define VEC(body, version) \
    { body, sizeof(body), version }

static const vector_t lo_vectors[] = {
    VEC(lo_v0, 0), VEC(lo_v0_empty_offsets, 0), VEC(lo_v1_error, 1), VEC(lo_v4, 4), VEC(lo_v6, 6),
    VEC(lo_v6, 7),
};

static const vector_t fetch_vectors[] = {
    VEC(fetch_v0, 0),           VEC(fetch_v1_null_records, 1),
    VEC(fetch_v4, 4),           VEC(fetch_v5, 5),
    VEC(fetch_v7_top_error, 7), VEC(fetch_v7_top_error_with_partition, 8),
    VEC(fetch_v10, 10),         VEC(fetch_v11, 11),
    VEC(fetch_v12, 12),
};

/* Every proper prefix, each in a heap block of exactly its size so that ASan sees any read
 * past the end. */
static void test_list_offsets_every_truncation_fails(void **state) {
    (void)state;
    for (size_t v = 0; v < sizeof(lo_vectors) / sizeof(lo_vectors[0]); v++) {
        const vector_t *vec = &lo_vectors[v];
        for (size_t len = 0; len < vec->len; len++) {
            uint8_t *copy = malloc(len ? len : 1);
            assert_non_null(copy);
            memcpy(copy, vec->body, len);
            kk_list_offsets_result_t res;
            kk_error_t err;
            int rc = decode_lo(copy, len, vec->version, &res, &err);
            if (rc != KK_ERR_MALFORMED)
                fail_msg("ListOffsets vector %zu (v%d) cut at %zu of %zu: rc %d", v, vec->version,
                         len, vec->len, rc);
            assert_int_equal(res.offset, -1);
            free(copy);
        }
    }
}

static void test_fetch_every_truncation_fails(void **state) {
    (void)state;
    for (size_t v = 0; v < sizeof(fetch_vectors) / sizeof(fetch_vectors[0]); v++) {
        const vector_t *vec = &fetch_vectors[v];
        for (size_t len = 0; len < vec->len; len++) {
            uint8_t *copy = malloc(len ? len : 1);
            assert_non_null(copy);
            memcpy(copy, vec->body, len);
            kk_fetch_partition_result_t res;
            kk_error_t err;
            int rc = decode_fetch(copy, len, vec->version, &res, &err);
            if (rc != KK_ERR_MALFORMED)
                fail_msg("Fetch vector %zu (v%d) cut at %zu of %zu: rc %d", v, vec->version, len,
                         vec->len, rc);
            assert_null(res.aborted); /* nothing left to free after a failure */
            assert_null(res.records);
            free(copy);
        }
        /* and the whole vector decodes */
        kk_fetch_partition_result_t res;
        kk_error_t err;
        assert_int_equal(decode_fetch(vec->body, vec->len, vec->version, &res, &err), KK_OK);
        kk_fetch_partition_result_free(&res);
    }
}

/* Patches 4 bytes at pos of a copy of body and expects MALFORMED. */
static void expect_fetch_malformed_with_i32(const uint8_t *body, size_t len, int16_t version,
                                            size_t pos, uint32_t value) {
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, body, len);
    copy[pos] = (uint8_t)(value >> 24);
    copy[pos + 1] = (uint8_t)(value >> 16);
    copy[pos + 2] = (uint8_t)(value >> 8);
    copy[pos + 3] = (uint8_t)value;
    kk_fetch_partition_result_t res;
    kk_error_t err;
    int rc = decode_fetch(copy, len, version, &res, &err);
    if (rc != KK_ERR_MALFORMED)
        fail_msg("Fetch v%d with 0x%08x at %zu: rc %d (%s)", version, (unsigned)value, pos, rc,
                 err.message);
    assert_null(res.aborted);
    free(copy);
}

static void test_fetch_lying_counts_fail_fast(void **state) {
    (void)state;
    /* offsets into fetch_v4: topics count at 4, "other" partitions count at 15, its aborted
     * count at 41, its records length at 61; "t" partitions count at 71; the aborted count
     * of t/2, the partition we ask for (so the one whose list gets allocated), at 127 */
    const size_t positions[] = {4, 15, 41, 61, 71, 127};
    const uint32_t values[] = {0x7fffffffu, 0x10000000u, 0xfffffffeu /* -2 */};
    for (size_t p = 0; p < sizeof(positions) / sizeof(positions[0]); p++)
        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++)
            expect_fetch_malformed_with_i32(fetch_v4, sizeof(fetch_v4), 4, positions[p], values[v]);
    /* one topic or partition more than present */
    expect_fetch_malformed_with_i32(fetch_v4, sizeof(fetch_v4), 4, 4, 3);
    expect_fetch_malformed_with_i32(fetch_v4, sizeof(fetch_v4), 4, 71, 3);

    /* flexible: a compact topic count of 2^31 - 2 (uvarint ff ff ff ff 07) */
    uint8_t huge[] = {I32(0), I16(0), I32(0), 0xff, 0xff, 0xff, 0xff, 0x07};
    kk_fetch_partition_result_t res;
    kk_error_t err;
    assert_int_equal(decode_fetch(huge, sizeof(huge), 12, &res, &err), KK_ERR_MALFORMED);
    /* a varint longer than 5 bytes */
    uint8_t overlong[] = {I32(0), I16(0), I32(0), 0x81, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(decode_fetch(overlong, sizeof(overlong), 12, &res, &err), KK_ERR_MALFORMED);
}

static void test_list_offsets_lying_counts_fail_fast(void **state) {
    (void)state;
    kk_list_offsets_result_t res;
    kk_error_t err;
    /* v0 offsets count claims 2^31 - 1 entries */
    uint8_t v0[] = {I32(1), I16(1), 't', I32(1), I32(2), I16(0), I32(0x7fffffff), I64(1)};
    assert_int_equal(decode_lo(v0, sizeof(v0), 0, &res, &err), KK_ERR_MALFORMED);
    uint8_t topics[] = {I32(0), I32(0x7fffffff), I16(1), 't'};
    assert_int_equal(decode_lo(topics, sizeof(topics), 4, &res, &err), KK_ERR_MALFORMED);
    uint8_t negative[] = {I32(0), I32(-5)};
    assert_int_equal(decode_lo(negative, sizeof(negative), 4, &res, &err), KK_ERR_MALFORMED);
    /* two partitions announced, one present */
    uint8_t short_parts[] = {I32(1), I16(1), 't', I32(2), I32(2), I16(0), I64(0), I64(1)};
    assert_int_equal(decode_lo(short_parts, sizeof(short_parts), 1, &res, &err), KK_ERR_MALFORMED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_offsets_request_v0),
        cmocka_unit_test(test_list_offsets_request_v1),
        cmocka_unit_test(test_list_offsets_request_v4),
        cmocka_unit_test(test_list_offsets_request_v6_flexible),
        cmocka_unit_test(test_fetch_request_v0),
        cmocka_unit_test(test_fetch_request_v4),
        cmocka_unit_test(test_fetch_request_v10),
        cmocka_unit_test(test_fetch_request_v11),
        cmocka_unit_test(test_fetch_request_v12_flexible),
        cmocka_unit_test(test_list_offsets_response_versions),
        cmocka_unit_test(test_list_offsets_missing_partition),
        cmocka_unit_test(test_fetch_response_v0_and_v1),
        cmocka_unit_test(test_fetch_response_v4_aborted_transactions),
        cmocka_unit_test(test_fetch_response_v5_empty_records),
        cmocka_unit_test(test_fetch_response_v7_top_level_error),
        cmocka_unit_test(test_fetch_response_v11_preferred_replica),
        cmocka_unit_test(test_fetch_response_v12_flexible_with_tags),
        cmocka_unit_test(test_fetch_missing_partition),
        cmocka_unit_test(test_list_offsets_every_truncation_fails),
        cmocka_unit_test(test_fetch_every_truncation_fails),
        cmocka_unit_test(test_fetch_lying_counts_fail_fast),
        cmocka_unit_test(test_list_offsets_lying_counts_fail_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
