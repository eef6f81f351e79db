/* Produce request golden bytes and response decoding, derived by hand from the Kafka message
 * schemas (ProduceRequest.json / ProduceResponse.json). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "protocol_produce.h"
#include "record_batch.h"

static const uint8_t records_abc[] = {'a', 'b', 'c'};

static void encode_one(kk_writer_t *w, int16_t version, int16_t acks) {
    const kk_produce_partition_in_t parts[] = {{1, records_abc, sizeof(records_abc)}};
    const kk_produce_topic_in_t topics[] = {{"t", parts, 1}};
    kk_writer_reset(w);
    kk_encode_produce_request(w, version, acks, 1000, topics, 1);
    assert_false(w->failed);
}

static void test_request_v2_has_no_transactional_id(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    encode_one(&w, 2, 1);
    const uint8_t v2[] = {
        0, 1,              /* acks */
        0, 0, 0x03, 0xe8,  /* timeout 1000 */
        0, 0, 0, 1,        /* 1 topic */
        0, 1, 't',         /* name */
        0, 0, 0, 1,        /* 1 partition */
        0, 0, 0, 1,        /* index 1 */
        0, 0, 0, 3, 'a', 'b', 'c', /* records as BYTES */
    };
    assert_int_equal(w.len, sizeof(v2));
    assert_memory_equal(w.data, v2, sizeof(v2));
    /* v0 and v1 are the same layout */
    encode_one(&w, 0, 1);
    assert_int_equal(w.len, sizeof(v2));
    assert_memory_equal(w.data, v2, sizeof(v2));
    kk_writer_free(&w);
}

static void test_request_v3_leads_with_null_transactional_id(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    encode_one(&w, 3, -1);
    const uint8_t v3[] = {
        0xff, 0xff,        /* transactional_id: null STRING */
        0xff, 0xff,        /* acks -1 */
        0, 0, 0x03, 0xe8,
        0, 0, 0, 1,
        0, 1, 't',
        0, 0, 0, 1,
        0, 0, 0, 1,
        0, 0, 0, 3, 'a', 'b', 'c',
    };
    assert_int_equal(w.len, sizeof(v3));
    assert_memory_equal(w.data, v3, sizeof(v3));
    /* v8 is the last non-flexible version: same bytes */
    encode_one(&w, 8, -1);
    assert_int_equal(w.len, sizeof(v3));
    assert_memory_equal(w.data, v3, sizeof(v3));
    kk_writer_free(&w);
}

static void test_request_v9_is_flexible(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    encode_one(&w, 9, 0);
    const uint8_t v9[] = {
        0,                 /* transactional_id: null COMPACT_STRING */
        0, 0,              /* acks 0 */
        0, 0, 0x03, 0xe8,
        2,                 /* 1 topic */
        2, 't',
        2,                 /* 1 partition */
        0, 0, 0, 1,
        4, 'a', 'b', 'c',  /* COMPACT_RECORDS */
        0,                 /* partition tags */
        0,                 /* topic tags */
        0,                 /* request tags */
    };
    assert_int_equal(w.len, sizeof(v9));
    assert_memory_equal(w.data, v9, sizeof(v9));
    encode_one(&w, 11, 0);
    assert_int_equal(w.len, sizeof(v9));
    assert_memory_equal(w.data, v9, sizeof(v9));
    kk_writer_free(&w);
}

static void test_request_several_topics_and_partitions(void **state) {
    (void)state;
    const uint8_t x[] = {'x'};
    const kk_produce_partition_in_t pa[] = {{0, x, 1}, {2, records_abc, 3}};
    const kk_produce_partition_in_t pb[] = {{5, x, 1}};
    const kk_produce_topic_in_t topics[] = {{"a", pa, 2}, {"bb", pb, 1}};
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_produce_request(&w, 10, 1, -1, topics, 2);
    const uint8_t v10[] = {
        0, 0, 1, 0xff, 0xff, 0xff, 0xff,
        3,                                         /* 2 topics */
        2, 'a', 3,                                 /* "a", 2 partitions */
        0, 0, 0, 0, 2, 'x', 0,                     /* p0 */
        0, 0, 0, 2, 4, 'a', 'b', 'c', 0,           /* p2 */
        0,
        3, 'b', 'b', 2,                            /* "bb", 1 partition */
        0, 0, 0, 5, 2, 'x', 0,
        0,
        0,
    };
    assert_int_equal(w.len, sizeof(v10));
    assert_memory_equal(w.data, v10, sizeof(v10));
    kk_writer_free(&w);
}

/* ---- responses ---------------------------------------------------------------------------- */

static const uint8_t resp_v0[] = {
    0, 0, 0, 1,                 /* 1 topic */
    0, 1, 't',
    0, 0, 0, 2,                 /* 2 partitions */
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,                  /* p1: ok, base 5 */
    0, 0, 0, 7, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* p7: UNKNOWN_TOPIC_OR_PARTITION */
};

static const uint8_t resp_v2[] = {
    0, 0, 0, 1,
    0, 1, 't',
    0, 0, 0, 1,
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, /* p1 ok base 16 */
    0, 0, 0x01, 0x8c, 0, 0, 0, 0,                 /* log_append_time 0x18c00000000 */
    0, 0, 0, 9,                                   /* throttle 9 */
};

static const uint8_t resp_v5[] = {
    0, 0, 0, 1,
    0, 2, 't', 'u',
    0, 0, 0, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3,     /* p0 ok base 3 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* log_append_time -1 */
    0, 0, 0, 0, 0, 0, 0, 2,                       /* log_start_offset 2 */
    0, 0, 0, 0,                                   /* throttle */
};

static const uint8_t resp_v8[] = {
    0, 0, 0, 1,
    0, 1, 't',
    0, 0, 0, 1,
    0, 0, 0, 0, 0, 87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* p0 INVALID_RECORD */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,                    /* log_append_time */
    0, 0, 0, 0, 0, 0, 0, 0,                                            /* log_start_offset */
    0, 0, 0, 2,                                                        /* 2 record errors */
    0, 0, 0, 0, 0, 3, 'b', 'a', 'd',
    0, 0, 0, 1, 0xff, 0xff,                                            /* null message */
    0, 4, 'o', 'o', 'p', 's',                                          /* error_message */
    0, 0, 0, 0,                                                        /* throttle */
};

/* v10: tagged current_leader on a partition and node_endpoints at the top, which we skip. */
static const uint8_t resp_v10[] = {
    2,                                            /* 1 topic */
    2, 't',
    3,                                            /* 2 partitions */
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,     /* p1 ok base 2 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0, 0, 0, 0, 0, 0, 0, 0,
    1,                                            /* no record errors */
    0,                                            /* null error_message */
    0,                                            /* no tags */
    0, 0, 0, 2, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* p2 NOT_LEADER */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    2, 0, 0, 0, 0, 4, 'b', 'a', 'd', 0,           /* 1 record error */
    5, 'm', 'o', 'v', 'e',                        /* error_message "move" */
    1, 0, 9, 0, 0, 0, 2, 0, 0, 0, 7, 0,           /* tag 0: current_leader {2, 7}, tags */
    0,                                            /* topic tags */
    0, 0, 0, 0x20,                                /* throttle 32 */
    1, 0, 13, 2, 0, 0, 0, 2, 2, 'h', 0, 0, 0x23, 0x84, 0, 0, /* tag 0: node_endpoints */
};

static void decode_ok(const uint8_t *bytes, size_t len, int16_t version, kk_produce_response_t *out) {
    kk_reader_t r;
    kk_error_t err;
    kk_reader_init(&r, bytes, len);
    int rc = kk_decode_produce_response(&r, version, out, &err);
    if (rc != KK_OK)
        fail_msg("Produce v%d decode: %s", version, err.message);
    assert_int_equal(kk_reader_remaining(&r), 0);
}

static void test_response_v0(void **state) {
    (void)state;
    kk_produce_response_t resp;
    decode_ok(resp_v0, sizeof(resp_v0), 0, &resp);
    assert_int_equal(resp.topic_count, 1);
    assert_string_equal(resp.topics[0].topic, "t");
    assert_int_equal(resp.throttle_time_ms, 0);
    const kk_produce_partition_result_t *p = kk_produce_response_find(&resp, "t", 1);
    assert_non_null(p);
    assert_int_equal(p->error_code, 0);
    assert_int_equal(p->base_offset, 5);
    assert_int_equal(p->log_append_time, -1);
    assert_int_equal(p->log_start_offset, -1);
    assert_null(p->error_message);
    p = kk_produce_response_find(&resp, "t", 7);
    assert_non_null(p);
    assert_int_equal(p->error_code, 3);
    assert_int_equal(p->base_offset, -1);
    assert_null(kk_produce_response_find(&resp, "t", 0));
    assert_null(kk_produce_response_find(&resp, "u", 1));
    kk_produce_response_free(&resp);
    assert_null(resp.topics);
    assert_int_equal(resp.topic_count, 0);
}

static void test_response_v2_and_v5(void **state) {
    (void)state;
    kk_produce_response_t resp;
    decode_ok(resp_v2, sizeof(resp_v2), 2, &resp);
    const kk_produce_partition_result_t *p = kk_produce_response_find(&resp, "t", 1);
    assert_non_null(p);
    assert_int_equal(p->base_offset, 16);
    assert_int_equal(p->log_append_time, 0x18c00000000LL);
    assert_int_equal(p->log_start_offset, -1);
    assert_int_equal(resp.throttle_time_ms, 9);
    kk_produce_response_free(&resp);

    decode_ok(resp_v5, sizeof(resp_v5), 5, &resp);
    p = kk_produce_response_find(&resp, "tu", 0);
    assert_non_null(p);
    assert_int_equal(p->base_offset, 3);
    assert_int_equal(p->log_append_time, -1);
    assert_int_equal(p->log_start_offset, 2);
    kk_produce_response_free(&resp);
}

static void test_response_v8_error_message(void **state) {
    (void)state;
    kk_produce_response_t resp;
    decode_ok(resp_v8, sizeof(resp_v8), 8, &resp);
    const kk_produce_partition_result_t *p = kk_produce_response_find(&resp, "t", 0);
    assert_non_null(p);
    assert_int_equal(p->error_code, 87);
    assert_int_equal(p->log_start_offset, 0);
    assert_string_equal(p->error_message, "oops");
    kk_produce_response_free(&resp);
}

static void test_response_v10_skips_tagged_fields(void **state) {
    (void)state;
    kk_produce_response_t resp;
    decode_ok(resp_v10, sizeof(resp_v10), 10, &resp);
    assert_int_equal(resp.throttle_time_ms, 32);
    const kk_produce_partition_result_t *p = kk_produce_response_find(&resp, "t", 1);
    assert_non_null(p);
    assert_int_equal(p->error_code, 0);
    assert_int_equal(p->base_offset, 2);
    assert_null(p->error_message);
    p = kk_produce_response_find(&resp, "t", 2);
    assert_non_null(p);
    assert_int_equal(p->error_code, 6);
    assert_string_equal(p->error_message, "move");
    kk_produce_response_free(&resp);
    /* v9 and v11 have the same layout */
    decode_ok(resp_v10, sizeof(resp_v10), 9, &resp);
    kk_produce_response_free(&resp);
    decode_ok(resp_v10, sizeof(resp_v10), 11, &resp);
    kk_produce_response_free(&resp);
}

static void expect_malformed(const uint8_t *bytes, size_t len, int16_t version) {
    kk_reader_t r;
    kk_error_t err;
    kk_produce_response_t resp;
    memset(&resp, 0x5a, sizeof(resp));
    kk_reader_init(&r, bytes, len);
    assert_int_equal(kk_decode_produce_response(&r, version, &resp, &err), KK_ERR_MALFORMED);
    assert_int_equal(err.code, KK_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "Produce"));
    /* nothing is left for the caller to free */
    assert_null(resp.topics);
    assert_int_equal(resp.topic_count, 0);
}

static void test_every_prefix_is_malformed(void **state) {
    (void)state;
    const struct {
        const uint8_t *bytes;
        size_t len;
        int16_t version;
    } cases[] = {
        {resp_v0, sizeof(resp_v0), 0},   {resp_v2, sizeof(resp_v2), 2},
        {resp_v5, sizeof(resp_v5), 5},   {resp_v8, sizeof(resp_v8), 8},
        {resp_v10, sizeof(resp_v10), 10},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (size_t cut = 0; cut < cases[c].len; cut++) {
            /* an exact-size heap copy lets ASan catch any read past the end */
            uint8_t *copy = malloc(cut ? cut : 1);
            assert_non_null(copy);
            memcpy(copy, cases[c].bytes, cut);
            expect_malformed(copy, cut, cases[c].version);
            free(copy);
        }
    }
}

static void test_corrupt_counts_and_lengths(void **state) {
    (void)state;
    /* offset of a count/length field in resp_v8 and the byte written there */
    const struct {
        size_t offset;
        uint8_t value;
    } edits[] = {
        {0, 0x7f},  /* topic count ~2 billion */
        {0, 0x80},  /* topic count negative (< -1) */
        {3, 2},     /* 2 topics, bytes for 1 */
        {4, 0x7f},  /* name length past the end */
        {7, 0x7f},  /* partition count ~2 billion */
        {7, 0xff},  /* partition count negative */
        {41, 0x7f}, /* record error count ~2 billion */
        {41, 0xff}, /* record error count negative */
        {49, 0x7f}, /* record error message length past the end */
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        uint8_t copy[sizeof(resp_v8)];
        memcpy(copy, resp_v8, sizeof(copy));
        copy[edits[i].offset] = edits[i].value;
        expect_malformed(copy, sizeof(copy), 8);
    }
    /* partitions -1 (null): not nullable, although the remaining bytes would still decode */
    uint8_t null_parts[sizeof(resp_v8)];
    memcpy(null_parts, resp_v8, sizeof(null_parts));
    memset(null_parts + 7, 0xff, 4);
    expect_malformed(null_parts, sizeof(null_parts), 8);
    /* a null topic name (-1) */
    uint8_t copy[sizeof(resp_v0)];
    memcpy(copy, resp_v0, sizeof(copy));
    copy[4] = 0xff;
    copy[5] = 0xff;
    expect_malformed(copy, sizeof(copy), 0);

    /* flexible: a five-byte varint topic count of 2^31-2 */
    const uint8_t huge_flexible[] = {0xff, 0xff, 0xff, 0xff, 0x07, 2, 't', 1, 0, 0, 0, 0, 0};
    expect_malformed(huge_flexible, sizeof(huge_flexible), 9);
    /* a varint longer than five bytes */
    const uint8_t long_varint[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0, 0, 0};
    expect_malformed(long_varint, sizeof(long_varint), 9);
    /* a tag section claiming more bytes than remain */
    uint8_t bad_tag[sizeof(resp_v10)];
    memcpy(bad_tag, resp_v10, sizeof(bad_tag));
    bad_tag[sizeof(bad_tag) - 14] = 100; /* node_endpoints size */
    expect_malformed(bad_tag, sizeof(bad_tag), 10);
}

static void test_empty_response_and_free_twice(void **state) {
    (void)state;
    const uint8_t none[] = {0, 0, 0, 0, 0, 0, 0, 0};
    kk_produce_response_t resp;
    decode_ok(none, sizeof(none), 7, &resp);
    assert_int_equal(resp.topic_count, 0);
    assert_null(kk_produce_response_find(&resp, "t", 0));
    kk_produce_response_free(&resp);
    kk_produce_response_free(&resp); /* idempotent */
    kk_produce_response_free(NULL);
}

/* InitProducerId: a null transactional id and no transaction timeout; v3+ carries the producer
 * id and epoch to bump (-1 for a new producer); v2+ is flexible. */
static void test_init_producer_id_request(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_init_producer_id_request(&w, 0, -1, -1);
    const uint8_t v0[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; /* null string, timeout -1 */
    assert_int_equal(w.len, sizeof(v0));
    assert_memory_equal(w.data, v0, sizeof(v0));
    kk_writer_reset(&w);
    kk_encode_init_producer_id_request(&w, 2, -1, -1);
    const uint8_t v2[] = {0, 0xff, 0xff, 0xff, 0xff, 0}; /* compact null, timeout, tags */
    assert_int_equal(w.len, sizeof(v2));
    assert_memory_equal(w.data, v2, sizeof(v2));
    kk_writer_reset(&w);
    kk_encode_init_producer_id_request(&w, 4, 0x0102030405060708LL, 7);
    const uint8_t v4[] = {0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 0, 7, 0};
    assert_int_equal(w.len, sizeof(v4));
    assert_memory_equal(w.data, v4, sizeof(v4));
    kk_writer_free(&w);
}

static void test_init_producer_id_response(void **state) {
    (void)state;
    const uint8_t v0[] = {0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x20, 0, 3};
    kk_reader_t r;
    kk_reader_init(&r, v0, sizeof(v0));
    kk_init_producer_id_response_t resp;
    kk_error_t err;
    assert_int_equal(kk_decode_init_producer_id_response(&r, 0, &resp, &err), KK_OK);
    assert_int_equal(resp.throttle_time_ms, 5);
    assert_int_equal(resp.error_code, 0);
    assert_int_equal(resp.producer_id, 0x1020);
    assert_int_equal(resp.producer_epoch, 3);
    const uint8_t v2[] = {0, 0, 0, 0, 0, 59, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
    kk_reader_init(&r, v2, sizeof(v2));
    assert_int_equal(kk_decode_init_producer_id_response(&r, 2, &resp, &err), KK_OK);
    assert_int_equal(resp.error_code, 59);
    assert_int_equal(resp.producer_id, -1);
    for (size_t n = 0; n < sizeof(v2); n++) {
        kk_reader_init(&r, v2, n);
        assert_int_equal(kk_decode_init_producer_id_response(&r, 2, &resp, &err), KK_ERR_MALFORMED);
    }
}

/* The idempotent producer's fields written into an encoded batch keep it valid (CRC) and say
 * what was written. */
static void test_batch_set_producer(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_record_in_t recs[2] = {{.value = (const uint8_t *)"a", .value_len = 1, .timestamp_ms = 1},
                              {.value = (const uint8_t *)"b", .value_len = 1, .timestamp_ms = 2}};
    kk_error_t err;
    assert_int_equal(kk_records_encode(&w, 2, KK_CODEC_NONE, recs, 2, &err), KK_OK);
    assert_true(kk_record_batch_set_producer(w.data, w.len, 0x1122334455667788LL, 9, 1000));
    const uint8_t fields[] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 9, 0, 0, 0x03, 0xe8};
    assert_memory_equal(w.data + 43, fields, sizeof(fields));
    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_decode_options_t opts = {.min_offset = 0};
    assert_int_equal(kk_records_decode(&set, w.data, w.len, &opts, &err), KK_OK); /* CRC holds */
    assert_int_equal(set.count, 2);
    kk_record_set_clear(&set);
    /* not a v2 batch: refused, untouched */
    w.data[16] = 1;
    assert_false(kk_record_batch_set_producer(w.data, w.len, 1, 1, 1));
    assert_false(kk_record_batch_set_producer(w.data, 60, 1, 1, 1));
    kk_writer_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_v2_has_no_transactional_id),
        cmocka_unit_test(test_request_v3_leads_with_null_transactional_id),
        cmocka_unit_test(test_request_v9_is_flexible),
        cmocka_unit_test(test_request_several_topics_and_partitions),
        cmocka_unit_test(test_response_v0),
        cmocka_unit_test(test_response_v2_and_v5),
        cmocka_unit_test(test_response_v8_error_message),
        cmocka_unit_test(test_response_v10_skips_tagged_fields),
        cmocka_unit_test(test_every_prefix_is_malformed),
        cmocka_unit_test(test_corrupt_counts_and_lengths),
        cmocka_unit_test(test_empty_response_and_free_twice),
        cmocka_unit_test(test_init_producer_id_request),
        cmocka_unit_test(test_init_producer_id_response),
        cmocka_unit_test(test_batch_set_producer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
