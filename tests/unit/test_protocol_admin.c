/* CreateTopics, DeleteTopics and DeleteRecords: request golden bytes and response decoding,
 * derived by hand from the Kafka message schemas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode_checks.h"
#include "protocol.h"
#include "protocol_admin.h"

static void assert_bytes(const kk_writer_t *w, const uint8_t *expected, size_t len) {
    assert_false(w->failed);
    assert_int_equal(w->len, len);
    assert_memory_equal(w->data, expected, len);
}

/* ---- CreateTopics requests ---------------------------------------------------------------- */

static const kk_topic_config_in_t retention[] = {{"retention.ms", "1000"}};
static const kk_new_topic_in_t new_topic = {"t", 3, 1, retention, 1};

static void test_create_topics_request_v0_and_v4(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_create_topics_request(&w, 4, &new_topic, 1, 5000, false);
    const uint8_t v4[] = {
        0,   0,   0,   1,                /* 1 topic */
        0,   1,   't', 0,   0,   0,   3, /* num_partitions */
        0,   1,                          /* replication_factor */
        0,   0,   0,   0,                /* no assignments */
        0,   0,   0,   1,                /* 1 config */
        0,   12,  'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n',  '.',
        'm', 's', 0,   4,   '1', '0', '0', '0', 0,   0,   0x13, 0x88, /* timeout 5000 */
        0,                                                            /* validate_only */
    };
    assert_bytes(&w, v4, sizeof(v4));

    /* v0 has no validate_only */
    kk_writer_reset(&w);
    kk_encode_create_topics_request(&w, 0, &new_topic, 1, 5000, true);
    assert_bytes(&w, v4, sizeof(v4) - 1);

    kk_writer_reset(&w);
    kk_encode_create_topics_request(&w, 1, &new_topic, 1, 5000, true);
    assert_int_equal(w.len, sizeof(v4));
    assert_memory_equal(w.data, v4, sizeof(v4) - 1);
    assert_int_equal(w.data[sizeof(v4) - 1], 1);
    kk_writer_free(&w);
}

static void test_create_topics_request_v5_flexible(void **state) {
    (void)state;
    const kk_topic_config_in_t configs[] = {{"retention.ms", "1000"}, {"x", NULL}};
    const kk_new_topic_in_t topics[] = {{"t", 3, 1, configs, 2}, {"u", -1, -1, NULL, 0}};
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_create_topics_request(&w, 5, topics, 2, 5000, true);
    const uint8_t v5[] = {
        3,                                                /* 2 topics */
        2,    't',  0,    0,    0,    3,    0,    1,   1, /* no assignments */
        3,                                                /* 2 configs */
        13,   'r',  'e',  't',  'e',  'n',  't',  'i', 'o', 'n',
        '.',  'm',  's',  5,    '1',  '0',  '0',  '0', 0, /* config tags */
        2,    'x',  0,    0,                              /* "x" = null, tags */
        0,                                                /* topic tags */
        2,    'u',  0xff, 0xff, 0xff, 0xff,               /* broker default partitions */
        0xff, 0xff,                                       /* broker default replication */
        1,    1,    0,    0,    0,    0x13, 0x88, 1,      /* validate_only */
        0,                                                /* request tags */
    };
    assert_bytes(&w, v5, sizeof(v5));
    /* v6 and v7 requests are the same */
    kk_writer_reset(&w);
    kk_encode_create_topics_request(&w, 7, topics, 2, 5000, true);
    assert_bytes(&w, v5, sizeof(v5));
    kk_writer_free(&w);
}

/* ---- CreateTopics responses --------------------------------------------------------------- */

static const uint8_t create_v0[] = {
    0, 0, 0, 2, 0, 1, 'a', 0, 0, 0, 1, 'b', 0, 36, /* TOPIC_ALREADY_EXISTS */
};

static const uint8_t create_v2[] = {
    0, 0, 0,   7,                                             /* throttle */
    0, 0, 0,   2, 0,  1, 'a', 0,   0,   0xff, 0xff,           /* ok, null message */
    0, 1, 'b', 0, 36, 0, 6,   'e', 'x', 'i',  's',  't', 's', /* error with message */
};

static const uint8_t create_v5[] = {
    0, 0,   0,   0,  3,                     /* 2 topics */
    2, 'a', 0,   0,  0,                     /* ok, null message */
    0, 0,   0,   3,  0,   1,                /* partitions 3, replication 1 */
    2,                                      /* 1 config */
    3, 'c', 'p', 2,  'v', 1,   5,   0,   0, /* name, value, read_only, source, sensitive, tags */
    1, 0,   2,   0,  0,                     /* tag 0: topic_config_error_code 0 */
    2, 'b', 0,   36, 4,   'd', 'u', 'p', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* -1, -1 */
    0,                                                                       /* null configs */
    0, 0,                                                                    /* response tags */
};

static const uint8_t create_v7[] = {
    0,    0,    0,    1,    2,    2,    'a', 1,  2,  3,  4,  5,
    6,    7,    8,    9,    10,   11,   12,  13, 14, 15, 16, /* topic id */
    0,    37,   3,    'n',  'o',                             /* INVALID_PARTITIONS */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1,                   /* empty configs */
    0,    0,
};

static void decode_create(const uint8_t *bytes, size_t len, int16_t version,
                          kk_topic_results_t *out) {
    kk_reader_t r;
    kk_error_t err;
    kk_reader_init(&r, bytes, len);
    if (kk_decode_create_topics_response(&r, version, out, &err) != KK_OK)
        fail_msg("CreateTopics v%d: %s", version, err.message);
    assert_int_equal(kk_reader_remaining(&r), 0);
}

static void test_create_topics_responses(void **state) {
    (void)state;
    kk_topic_results_t res;
    decode_create(create_v0, sizeof(create_v0), 0, &res);
    assert_int_equal(res.count, 2);
    assert_int_equal(res.throttle_time_ms, 0);
    assert_string_equal(res.topics[0].name, "a");
    assert_int_equal(res.topics[0].error_code, 0);
    assert_string_equal(res.topics[1].name, "b");
    assert_int_equal(res.topics[1].error_code, 36);
    assert_null(res.topics[1].error_message);
    kk_topic_results_free(&res);
    assert_int_equal(res.count, 0);

    decode_create(create_v2, sizeof(create_v2), 2, &res);
    assert_int_equal(res.throttle_time_ms, 7);
    assert_null(res.topics[0].error_message);
    assert_int_equal(res.topics[1].error_code, 36);
    assert_string_equal(res.topics[1].error_message, "exists");
    kk_topic_results_free(&res);

    /* v1 is v2 without the throttle time */
    decode_create(create_v2 + 4, sizeof(create_v2) - 4, 1, &res);
    assert_string_equal(res.topics[1].error_message, "exists");
    kk_topic_results_free(&res);

    decode_create(create_v5, sizeof(create_v5), 5, &res);
    assert_int_equal(res.count, 2);
    assert_string_equal(res.topics[0].name, "a");
    assert_int_equal(res.topics[0].error_code, 0);
    assert_null(res.topics[0].error_message);
    assert_string_equal(res.topics[1].name, "b");
    assert_int_equal(res.topics[1].error_code, 36);
    assert_string_equal(res.topics[1].error_message, "dup");
    kk_topic_results_free(&res);

    decode_create(create_v7, sizeof(create_v7), 7, &res);
    assert_int_equal(res.throttle_time_ms, 1);
    assert_int_equal(res.count, 1);
    assert_string_equal(res.topics[0].name, "a");
    assert_int_equal(res.topics[0].error_code, 37);
    assert_string_equal(res.topics[0].error_message, "no");
    kk_topic_results_free(&res);
}

/* ---- DeleteTopics --------------------------------------------------------------------------- */

static void test_delete_topics_requests(void **state) {
    (void)state;
    const char *names[] = {"a", "bc"};
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_delete_topics_request(&w, 1, names, 2, 3000);
    const uint8_t v1[] = {0, 0, 0, 2, 0, 1, 'a', 0, 2, 'b', 'c', 0, 0, 0x0b, 0xb8};
    assert_bytes(&w, v1, sizeof(v1));
    kk_writer_reset(&w);
    kk_encode_delete_topics_request(&w, 0, names, 2, 3000);
    assert_bytes(&w, v1, sizeof(v1));

    kk_writer_reset(&w);
    kk_encode_delete_topics_request(&w, 4, names, 2, 3000);
    const uint8_t v4[] = {3, 2, 'a', 3, 'b', 'c', 0, 0, 0x0b, 0xb8, 0};
    assert_bytes(&w, v4, sizeof(v4));
    kk_writer_reset(&w);
    kk_encode_delete_topics_request(&w, 5, names, 2, 3000);
    assert_bytes(&w, v4, sizeof(v4));

    /* v6: topics are {name, topic_id} structs; a zero id means "by name" */
    kk_writer_reset(&w);
    kk_encode_delete_topics_request(&w, 6, names, 2, 3000);
    const uint8_t v6[] = {
        3, 2, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    3,    'b', 'c',
        0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b, 0xb8, 0,
    };
    assert_bytes(&w, v6, sizeof(v6));
    kk_writer_free(&w);
}

static const uint8_t delete_v0[] = {0, 0, 0, 1, 0, 1, 'a', 0, 0};

static const uint8_t delete_v1[] = {
    0, 0, 0, 4, 0, 0, 0, 2, 0, 1, 'a', 0, 0, 0, 1, 'b', 0, 3, /* UNKNOWN_TOPIC_OR_PARTITION */
};

static const uint8_t delete_v5[] = {
    0, 0,   0, 0, 3, 2,   'a', 0,   0,   0, 0, /* ok, null message, tags */
    2, 'b', 0, 3, 5, 'g', 'o', 'n', 'e', 0, 0,
};

static const uint8_t delete_v6[] = {
    0, 0, 0, 0, 3, 2, 'a', 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,   9, 9,
    9, 0, 0, 0, 0, 0, /* null name (deleted by id) */
    1, 1, 1, 1, 1, 1, 1,   1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 3, 2, 'x', 0, 0,
};

static void decode_delete(const uint8_t *bytes, size_t len, int16_t version,
                          kk_topic_results_t *out) {
    kk_reader_t r;
    kk_error_t err;
    kk_reader_init(&r, bytes, len);
    if (kk_decode_delete_topics_response(&r, version, out, &err) != KK_OK)
        fail_msg("DeleteTopics v%d: %s", version, err.message);
    assert_int_equal(kk_reader_remaining(&r), 0);
}

static void test_delete_topics_responses(void **state) {
    (void)state;
    kk_topic_results_t res;
    decode_delete(delete_v0, sizeof(delete_v0), 0, &res);
    assert_int_equal(res.count, 1);
    assert_string_equal(res.topics[0].name, "a");
    kk_topic_results_free(&res);

    decode_delete(delete_v1, sizeof(delete_v1), 1, &res);
    assert_int_equal(res.throttle_time_ms, 4);
    assert_int_equal(res.count, 2);
    assert_int_equal(res.topics[0].error_code, 0);
    assert_string_equal(res.topics[1].name, "b");
    assert_int_equal(res.topics[1].error_code, 3);
    assert_null(res.topics[1].error_message);
    kk_topic_results_free(&res);

    decode_delete(delete_v5, sizeof(delete_v5), 5, &res);
    assert_int_equal(res.count, 2);
    assert_null(res.topics[0].error_message);
    assert_int_equal(res.topics[1].error_code, 3);
    assert_string_equal(res.topics[1].error_message, "gone");
    kk_topic_results_free(&res);

    /* v4 is v5 without the error message */
    const uint8_t delete_v4[] = {0, 0, 0, 0, 2, 2, 'a', 0, 3, 0, 0};
    decode_delete(delete_v4, sizeof(delete_v4), 4, &res);
    assert_int_equal(res.topics[0].error_code, 3);
    assert_null(res.topics[0].error_message);
    kk_topic_results_free(&res);

    decode_delete(delete_v6, sizeof(delete_v6), 6, &res);
    assert_int_equal(res.count, 2);
    assert_string_equal(res.topics[0].name, "a");
    assert_int_equal(res.topics[0].error_code, 0);
    assert_null(res.topics[1].name);
    assert_int_equal(res.topics[1].error_code, 3);
    assert_string_equal(res.topics[1].error_message, "x");
    kk_topic_results_free(&res);
}

/* ---- DeleteRecords -------------------------------------------------------------------------- */

static void test_delete_records_requests(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_delete_records_request(&w, 1, "t", 2, 1, 3000);
    const uint8_t v1[] = {
        0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8,
    };
    assert_bytes(&w, v1, sizeof(v1));
    kk_writer_reset(&w);
    kk_encode_delete_records_request(&w, 0, "t", 2, 1, 3000);
    assert_bytes(&w, v1, sizeof(v1));

    kk_writer_reset(&w);
    kk_encode_delete_records_request(&w, 2, "t", 2, -1, 3000);
    const uint8_t v2[] = {
        2,    2,    't',  2,    0,    0,    0,    2, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, /* offset -1 */
        0,    0,    0,    0x0b, 0xb8, 0,
    };
    assert_bytes(&w, v2, sizeof(v2));
    kk_writer_free(&w);
}

static const uint8_t records_v1[] = {
    0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
};

static const uint8_t records_v2[] = {
    0,    0,    0,    0,    2,    2,    't',  2,    0, 0, 0, 2,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, /* OFFSET_OUT_OF_RANGE */
    0,    0,
};

static void test_delete_records_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    int16_t code = 99;
    int64_t low = 99;
    kk_reader_init(&r, records_v1, sizeof(records_v1));
    assert_int_equal(kk_decode_delete_records_response(&r, 1, &code, &low, &err), KK_OK);
    assert_int_equal(code, 0);
    assert_int_equal(low, 1);
    assert_int_equal(kk_reader_remaining(&r), 0);

    kk_reader_init(&r, records_v2, sizeof(records_v2));
    assert_int_equal(kk_decode_delete_records_response(&r, 2, &code, &low, &err), KK_OK);
    assert_int_equal(code, 1);
    assert_int_equal(low, -1);
    assert_int_equal(kk_reader_remaining(&r), 0);

    /* a topic with no partition results answers nothing about ours */
    const uint8_t empty[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 0};
    kk_reader_init(&r, empty, sizeof(empty));
    assert_int_equal(kk_decode_delete_records_response(&r, 0, &code, &low, &err), KK_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "no partition result"));
}

/* ---- truncation and corruption -------------------------------------------------------------- */

enum which { CREATE, DELETE, RECORDS };

static int decode_any(int which, const uint8_t *bytes, size_t len, int16_t version,
                      kk_error_t *err) {
    kk_reader_t r;
    kk_reader_init(&r, bytes, len);
    if (which == RECORDS) {
        int16_t code = 77;
        int64_t low = 77;
        int rc = kk_decode_delete_records_response(&r, version, &code, &low, err);
        if (rc != KK_OK) {
            assert_int_equal(code, 0);
            assert_int_equal(low, -1);
        }
        return rc;
    }
    kk_topic_results_t res;
    memset(&res, 0x5a, sizeof(res));
    int rc = which == CREATE ? kk_decode_create_topics_response(&r, version, &res, err)
                             : kk_decode_delete_topics_response(&r, version, &res, err);
    if (rc != KK_OK) {
        /* nothing left for the caller to free */
        assert_null(res.topics);
        assert_int_equal(res.count, 0);
    } else {
        kk_topic_results_free(&res);
    }
    return rc;
}

static const decode_case_t valid[] = {
    {CREATE, create_v0, sizeof(create_v0), 0},    {CREATE, create_v2, sizeof(create_v2), 2},
    {CREATE, create_v5, sizeof(create_v5), 5},    {CREATE, create_v7, sizeof(create_v7), 7},
    {DELETE, delete_v0, sizeof(delete_v0), 0},    {DELETE, delete_v1, sizeof(delete_v1), 1},
    {DELETE, delete_v5, sizeof(delete_v5), 5},    {DELETE, delete_v6, sizeof(delete_v6), 6},
    {RECORDS, records_v1, sizeof(records_v1), 1}, {RECORDS, records_v2, sizeof(records_v2), 2},
};

static void test_every_prefix_is_malformed(void **state) {
    (void)state;
    check_every_prefix_malformed(decode_any, valid, sizeof(valid) / sizeof(valid[0]));
}

static void expect_corrupt(enum which which, const uint8_t *bytes, size_t len, int16_t version,
                           size_t offset, uint8_t value) {
    check_corrupt_malformed(decode_any, which, bytes, len, version, offset, value);
}

static void test_corrupt_counts_and_lengths(void **state) {
    (void)state;
    /* non-flexible: ~2 billion elements, and negative counts other than -1 */
    expect_corrupt(CREATE, create_v2, sizeof(create_v2), 2, 4, 0x7f); /* topic count */
    expect_corrupt(CREATE, create_v2, sizeof(create_v2), 2, 4, 0x80);
    expect_corrupt(CREATE, create_v2, sizeof(create_v2), 2, 8, 0x7f);  /* name length */
    expect_corrupt(CREATE, create_v2, sizeof(create_v2), 2, 20, 0x7f); /* message length */
    expect_corrupt(DELETE, delete_v1, sizeof(delete_v1), 1, 4, 0x7f);
    expect_corrupt(DELETE, delete_v1, sizeof(delete_v1), 1, 7, 3);        /* 3 topics, 2 present */
    expect_corrupt(RECORDS, records_v1, sizeof(records_v1), 1, 4, 0x7f);  /* topics */
    expect_corrupt(RECORDS, records_v1, sizeof(records_v1), 1, 11, 0x7f); /* partitions */
    expect_corrupt(RECORDS, records_v1, sizeof(records_v1), 1, 11, 0xff); /* negative */
    /* flexible: counts and lengths past the end */
    expect_corrupt(CREATE, create_v5, sizeof(create_v5), 5, 4, 0x7f);  /* topic count */
    expect_corrupt(CREATE, create_v5, sizeof(create_v5), 5, 16, 0x7f); /* config count */
    expect_corrupt(CREATE, create_v5, sizeof(create_v5), 5, 28, 0x7f); /* tag size */
    expect_corrupt(CREATE, create_v5, sizeof(create_v5), 5, 17, 0);    /* null config name */
    expect_corrupt(DELETE, delete_v6, sizeof(delete_v6), 6, 4, 0x7f);
    expect_corrupt(RECORDS, records_v2, sizeof(records_v2), 2, 7, 0x7f);

    /* a five-byte varint count of 2^31-2 must not reach calloc */
    const uint8_t huge[] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07, 2, 'a', 0, 0, 0, 0, 0};
    kk_error_t err;
    assert_int_equal(decode_any(CREATE, huge, sizeof(huge), 5, &err), KK_ERR_MALFORMED);
    assert_int_equal(decode_any(DELETE, huge, sizeof(huge), 4, &err), KK_ERR_MALFORMED);
    assert_int_equal(decode_any(RECORDS, huge, sizeof(huge), 2, &err), KK_ERR_MALFORMED);
    /* a null topic name before v6 */
    const uint8_t null_name[] = {0, 0, 0, 0, 2, 0, 0, 0, 0, 0};
    assert_int_equal(decode_any(DELETE, null_name, sizeof(null_name), 5, &err), KK_ERR_MALFORMED);
    assert_int_equal(decode_any(DELETE, null_name, sizeof(null_name) - 1, 4, &err),
                     KK_ERR_MALFORMED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_topics_request_v0_and_v4),
        cmocka_unit_test(test_create_topics_request_v5_flexible),
        cmocka_unit_test(test_create_topics_responses),
        cmocka_unit_test(test_delete_topics_requests),
        cmocka_unit_test(test_delete_topics_responses),
        cmocka_unit_test(test_delete_records_requests),
        cmocka_unit_test(test_delete_records_responses),
        cmocka_unit_test(test_every_prefix_is_malformed),
        cmocka_unit_test(test_corrupt_counts_and_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
