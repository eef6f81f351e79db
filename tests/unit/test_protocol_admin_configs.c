/* CreatePartitions, DescribeConfigs and IncrementalAlterConfigs: request golden bytes and
 * response decoding, derived by hand from the Kafka message schemas. */
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

/* ---- CreatePartitions ------------------------------------------------------------------- */

static void test_create_partitions_requests(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    const uint8_t v0[] = {
        0, 0, 0, 1, 0, 1, 't',
        0, 0, 0, 4,             /* the new count */
        0xff, 0xff, 0xff, 0xff, /* assignments: null */
        0, 0, 0x13, 0x88,       /* timeout 5000 */
        0,                      /* validate_only */
    };
    for (int16_t v = 0; v <= 1; v++) {
        kk_writer_reset(&w);
        kk_encode_create_partitions_request(&w, v, "t", 4, 5000, false);
        assert_bytes(&w, v0, sizeof(v0));
    }
    const uint8_t v2[] = {2, 2, 't', 0, 0, 0, 4, 0, 0, 0, 0, 0x13, 0x88, 1, 0};
    for (int16_t v = 2; v <= 3; v++) {
        kk_writer_reset(&w);
        kk_encode_create_partitions_request(&w, v, "t", 4, 5000, true);
        assert_bytes(&w, v2, sizeof(v2));
    }
    kk_writer_free(&w);
}

static const uint8_t partitions_v0[] = {
    0, 0, 0, 0,
    0, 0, 0, 2,
    0, 1, 'a', 0, 0, 0xff, 0xff,
    0, 1, 'b', 0, 37, 0, 3, 'b', 'a', 'd', /* INVALID_PARTITIONS */
};

static const uint8_t partitions_v2[] = {
    0, 0, 0, 5,
    2,
    2, 'a', 0, 37, 4, 'b', 'a', 'd', 0,
    0,
};

static void test_create_partitions_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_topic_results_t res;
    kk_reader_init(&r, partitions_v0, sizeof(partitions_v0));
    assert_int_equal(kk_decode_create_partitions_response(&r, 0, &res, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(res.count, 2);
    assert_string_equal(res.topics[0].name, "a");
    assert_null(res.topics[0].error_message);
    assert_int_equal(res.topics[1].error_code, 37);
    assert_string_equal(res.topics[1].error_message, "bad");
    kk_topic_results_free(&res);

    kk_reader_init(&r, partitions_v2, sizeof(partitions_v2));
    assert_int_equal(kk_decode_create_partitions_response(&r, 2, &res, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(res.throttle_time_ms, 5);
    assert_int_equal(res.count, 1);
    assert_int_equal(res.topics[0].error_code, 37);
    assert_string_equal(res.topics[0].error_message, "bad");
    kk_topic_results_free(&res);
}

/* ---- DescribeConfigs -------------------------------------------------------------------- */

static void test_describe_configs_requests(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    const uint8_t v1[] = {
        0, 0, 0, 1,
        2, 0, 1, 't',           /* topic "t" */
        0xff, 0xff, 0xff, 0xff, /* every key */
        0,                      /* include_synonyms */
        0,                      /* include_documentation (v3+) */
    };
    kk_writer_reset(&w);
    kk_encode_describe_configs_request(&w, 1, KK_RESOURCE_TOPIC, "t");
    assert_bytes(&w, v1, sizeof(v1) - 1);
    kk_writer_reset(&w);
    kk_encode_describe_configs_request(&w, 2, KK_RESOURCE_TOPIC, "t");
    assert_bytes(&w, v1, sizeof(v1) - 1);
    kk_writer_reset(&w);
    kk_encode_describe_configs_request(&w, 3, KK_RESOURCE_TOPIC, "t");
    assert_bytes(&w, v1, sizeof(v1));
    const uint8_t v4[] = {2, 4, 2, '1', 0, 0, 0, 0, 0};
    kk_writer_reset(&w);
    kk_encode_describe_configs_request(&w, 4, KK_RESOURCE_BROKER, "1");
    assert_bytes(&w, v4, sizeof(v4));
    kk_writer_free(&w);
}

static const uint8_t configs_v1[] = {
    0, 0, 0, 0,
    0, 0, 0, 1,
    0, 0, 0xff, 0xff,           /* no error */
    2, 0, 1, 't',
    0, 0, 0, 2,
    0, 12, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', 'm', 's',
    0, 4, '1', '0', '0', '0',
    0, 1, 0,                    /* read_only false, DYNAMIC_TOPIC_CONFIG, not sensitive */
    0, 0, 0, 0,                 /* no synonyms */
    0, 1, 'x', 0xff, 0xff,      /* a sensitive value is null */
    1, 5, 1,                    /* read-only, DEFAULT_CONFIG, sensitive */
    0, 0, 0, 1, 0, 1, 'x', 0xff, 0xff, 5,
};

static const uint8_t configs_v3[] = {
    0, 0, 0, 0,
    0, 0, 0, 1,
    0, 0, 0xff, 0xff,
    2, 0, 1, 't',
    0, 0, 0, 1,
    0, 1, 'x', 0, 1, 'y', 0, 5, 0, 0, 0, 0, 0,
    2, 0, 3, 'd', 'o', 'c',     /* config_type STRING, documentation */
};

static const uint8_t configs_v4[] = {
    0, 0, 0, 0,
    3,                          /* 2 resources: only the first is kept */
    0, 0, 0,
    2, 2, 't',
    3,
    13, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', 'm', 's',
    5, '1', '0', '0', '0',
    0, 1, 0, 1, 3, 0, 0,        /* ro, source, sensitive, no synonyms, type, null doc, tags */
    2, 'x', 0, 1, 5, 1,
    2, 2, 'x', 0, 5, 0,         /* one synonym */
    0, 0, 0,
    0,
    0, 40, 4, 'b', 'a', 'd',    /* INVALID_CONFIG for the second resource */
    2, 2, 'u', 1, 0,
    0,
};

static void test_describe_configs_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_describe_configs_result_t res;
    kk_reader_init(&r, configs_v1, sizeof(configs_v1));
    assert_int_equal(kk_decode_describe_configs_response(&r, 1, &res, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(res.error_code, 0);
    assert_null(res.error_message);
    assert_int_equal(res.configs.count, 2);
    assert_string_equal(res.configs.entries[0].name, "retention.ms");
    assert_string_equal(res.configs.entries[0].value, "1000");
    assert_int_equal(res.configs.entries[0].source, 1);
    assert_false(res.configs.entries[0].is_default);
    assert_false(res.configs.entries[0].read_only);
    assert_string_equal(res.configs.entries[1].name, "x");
    assert_null(res.configs.entries[1].value);
    assert_true(res.configs.entries[1].read_only);
    assert_true(res.configs.entries[1].is_default);
    assert_true(res.configs.entries[1].is_sensitive);
    kk_describe_configs_result_free(&res);
    assert_int_equal(res.configs.count, 0);

    kk_reader_init(&r, configs_v3, sizeof(configs_v3));
    assert_int_equal(kk_decode_describe_configs_response(&r, 3, &res, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_string_equal(res.configs.entries[0].value, "y");
    assert_true(res.configs.entries[0].is_default);
    kk_describe_configs_result_free(&res);

    kk_reader_init(&r, configs_v4, sizeof(configs_v4));
    assert_int_equal(kk_decode_describe_configs_response(&r, 4, &res, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(res.configs.count, 2);
    assert_string_equal(res.configs.entries[0].name, "retention.ms");
    assert_string_equal(res.configs.entries[0].value, "1000");
    assert_string_equal(res.configs.entries[1].name, "x");
    assert_null(res.configs.entries[1].value);
    assert_true(res.configs.entries[1].is_sensitive);
    kk_describe_configs_result_free(&res);
}

/* ---- IncrementalAlterConfigs ------------------------------------------------------------ */

static void test_alter_configs_requests(void **state) {
    (void)state;
    const kk_config_alteration_t alter[] = {
        {"retention.ms", KK_ALTER_SET, "2000"},
        {"x", KK_ALTER_DELETE, "ignored"},
    };
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_incremental_alter_configs_request(&w, 0, KK_RESOURCE_TOPIC, "t", alter, 2, false);
    const uint8_t v0[] = {
        0, 0, 0, 1, 2, 0, 1, 't',
        0, 0, 0, 2,
        0, 12, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', 'm', 's', 0, 0, 4, '2', '0', '0', '0',
        0, 1, 'x', 1, 0xff, 0xff, /* delete: a null value */
        0,
    };
    assert_bytes(&w, v0, sizeof(v0));
    kk_writer_reset(&w);
    kk_encode_incremental_alter_configs_request(&w, 1, KK_RESOURCE_TOPIC, "t", alter, 2, true);
    const uint8_t v1[] = {
        2, 2, 2, 't',
        3,
        13, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', 'm', 's', 0, 5, '2', '0', '0', '0', 0,
        2, 'x', 1, 0, 0,
        0,
        1,
        0,
    };
    assert_bytes(&w, v1, sizeof(v1));
    kk_writer_free(&w);
}

static const uint8_t alter_v0[] = {
    0, 0, 0, 0, 0, 0, 0, 1, 0, 40, 0, 3, 'b', 'a', 'd', 2, 0, 1, 't',
};
static const uint8_t alter_v1[] = {0, 0, 0, 0, 2, 0, 0, 0, 2, 2, 't', 0, 0};

static void test_alter_configs_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    int16_t code;
    char *message;
    kk_reader_init(&r, alter_v0, sizeof(alter_v0));
    assert_int_equal(kk_decode_incremental_alter_configs_response(&r, 0, &code, &message, &err), KK_OK);
    assert_int_equal(code, 40);
    assert_string_equal(message, "bad");
    free(message);
    kk_reader_init(&r, alter_v1, sizeof(alter_v1));
    assert_int_equal(kk_decode_incremental_alter_configs_response(&r, 1, &code, &message, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(code, 0);
    assert_null(message);
}

/* ---- truncations and corruptions -------------------------------------------------------- */

enum which { PARTITIONS, DESCRIBE, ALTER };

static int decode_any(int which, const uint8_t *bytes, size_t len, int16_t version, kk_error_t *err) {
    kk_reader_t r;
    kk_reader_init(&r, bytes, len);
    if (which == PARTITIONS) {
        kk_topic_results_t res;
        int rc = kk_decode_create_partitions_response(&r, version, &res, err);
        kk_topic_results_free(&res);
        return rc;
    }
    if (which == DESCRIBE) {
        kk_describe_configs_result_t res;
        int rc = kk_decode_describe_configs_response(&r, version, &res, err);
        if (rc != KK_OK)
            assert_int_equal(res.configs.count, 0);
        kk_describe_configs_result_free(&res);
        return rc;
    }
    int16_t code;
    char *message;
    int rc = kk_decode_incremental_alter_configs_response(&r, version, &code, &message, err);
    if (rc != KK_OK)
        assert_null(message);
    free(message);
    return rc;
}

static const decode_case_t valid[] = {
    {PARTITIONS, partitions_v0, sizeof(partitions_v0), 0},
    {PARTITIONS, partitions_v2, sizeof(partitions_v2), 2},
    {DESCRIBE, configs_v1, sizeof(configs_v1), 1},
    {DESCRIBE, configs_v3, sizeof(configs_v3), 3},
    {DESCRIBE, configs_v4, sizeof(configs_v4), 4},
    {ALTER, alter_v0, sizeof(alter_v0), 0},
    {ALTER, alter_v1, sizeof(alter_v1), 1},
};

static void test_every_prefix_is_malformed(void **state) {
    (void)state;
    check_every_prefix_malformed(decode_any, valid, sizeof(valid) / sizeof(valid[0]));
}

static void test_corrupt_counts_and_lengths(void **state) {
    (void)state;
    check_corrupt_malformed(decode_any, PARTITIONS, partitions_v0, sizeof(partitions_v0), 0, 4, 0x7f);
    check_corrupt_malformed(decode_any, PARTITIONS, partitions_v0, sizeof(partitions_v0), 0, 8, 0xff);
    check_corrupt_malformed(decode_any, DESCRIBE, configs_v1, sizeof(configs_v1), 1, 4, 0x7f);
    check_corrupt_malformed(decode_any, DESCRIBE, configs_v1, sizeof(configs_v1), 1, 13, 0xff);
    check_corrupt_malformed(decode_any, DESCRIBE, configs_v1, sizeof(configs_v1), 1, 16, 0x7f);
    check_corrupt_malformed(decode_any, DESCRIBE, configs_v1, sizeof(configs_v1), 1, 20, 0xff);
    check_corrupt_malformed(decode_any, DESCRIBE, configs_v1, sizeof(configs_v1), 1, 43, 0xff);
    check_corrupt_malformed(decode_any, DESCRIBE, configs_v4, sizeof(configs_v4), 4, 11, 0x7f);
    check_corrupt_malformed(decode_any, DESCRIBE, configs_v4, sizeof(configs_v4), 4, 12, 0);
    check_corrupt_malformed(decode_any, ALTER, alter_v0, sizeof(alter_v0), 0, 4, 0x7f);
    check_corrupt_malformed(decode_any, ALTER, alter_v0, sizeof(alter_v0), 0, 16, 0xff);
    check_corrupt_malformed(decode_any, ALTER, alter_v1, sizeof(alter_v1), 1, 9, 0);
    /* well-formed but naming no resource */
    const uint8_t none[] = {0, 0, 0, 0, 0, 0, 0, 0};
    kk_error_t err;
    assert_int_equal(decode_any(DESCRIBE, none, sizeof(none), 1, &err), KK_ERR_MALFORMED);
    assert_int_equal(decode_any(ALTER, none, sizeof(none), 0, &err), KK_ERR_MALFORMED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_partitions_requests),
        cmocka_unit_test(test_create_partitions_responses),
        cmocka_unit_test(test_describe_configs_requests),
        cmocka_unit_test(test_describe_configs_responses),
        cmocka_unit_test(test_alter_configs_requests),
        cmocka_unit_test(test_alter_configs_responses),
        cmocka_unit_test(test_every_prefix_is_malformed),
        cmocka_unit_test(test_corrupt_counts_and_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
