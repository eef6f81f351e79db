/* ListGroups and DescribeGroups: request golden bytes and response decoding, derived by hand
 * from the Kafka message schemas. */
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
    if (len)
        assert_memory_equal(w->data, expected, len);
}

/* ---- ListGroups ------------------------------------------------------------------------- */

static void test_list_groups_requests(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    for (int16_t v = 0; v <= 2; v++) {
        kk_writer_reset(&w);
        kk_encode_list_groups_request(&w, v);
        assert_bytes(&w, NULL, 0); /* an empty body */
    }
    const uint8_t v3[] = {0}, v4[] = {1, 0}, v5[] = {1, 1, 0}; /* empty filters, tags */
    kk_writer_reset(&w);
    kk_encode_list_groups_request(&w, 3);
    assert_bytes(&w, v3, sizeof(v3));
    kk_writer_reset(&w);
    kk_encode_list_groups_request(&w, 4);
    assert_bytes(&w, v4, sizeof(v4));
    kk_writer_reset(&w);
    kk_encode_list_groups_request(&w, 5);
    assert_bytes(&w, v5, sizeof(v5));
    kk_writer_free(&w);
}

static const uint8_t list_v0[] = {
    0, 0,                                            /* error */
    0, 0, 0, 2,
    0, 2, 'g', '1', 0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
    0, 2, 'g', '2', 0, 0,                            /* protocol type "" */
};

static const uint8_t list_v1[] = {
    0, 0, 0, 9,                                      /* throttle */
    0, 0x10,                                         /* COORDINATOR_LOAD_IN_PROGRESS (16)... */
    0, 0, 0, 1,
    0, 2, 'g', '1', 0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
};

static const uint8_t list_v3[] = {
    0, 0, 0, 0,
    0, 0,
    2,                                               /* 1 group */
    3, 'g', '1', 9, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', 0,
    0,
};

static const uint8_t list_v5[] = {
    0, 0, 0, 0,
    0, 0,
    3,                                               /* 2 groups */
    3, 'g', '1', 9, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
    7, 'S', 't', 'a', 'b', 'l', 'e', 8, 'c', 'l', 'a', 's', 's', 'i', 'c', 0,
    3, 'g', '2', 1,                                  /* protocol type "" */
    6, 'E', 'm', 'p', 't', 'y', 9, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
    1, 0, 0,                                         /* a tagged field we do not know */
    0,
};

static void test_list_groups_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    int16_t code;
    kk_group_listing_t *groups;
    size_t count;

    kk_reader_init(&r, list_v0, sizeof(list_v0));
    assert_int_equal(kk_decode_list_groups_response(&r, 0, &code, &groups, &count, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(code, 0);
    assert_int_equal(count, 2);
    assert_string_equal(groups[0].group_id, "g1");
    assert_string_equal(groups[0].protocol_type, "consumer");
    assert_null(groups[0].state);
    assert_null(groups[0].type);
    assert_int_equal(groups[0].coordinator, -1);
    assert_string_equal(groups[1].protocol_type, "");
    kk_group_listings_free(groups, count);

    kk_reader_init(&r, list_v1, sizeof(list_v1));
    assert_int_equal(kk_decode_list_groups_response(&r, 1, &code, &groups, &count, &err), KK_OK);
    assert_int_equal(code, 16);
    assert_int_equal(count, 1);
    kk_group_listings_free(groups, count);

    kk_reader_init(&r, list_v3, sizeof(list_v3));
    assert_int_equal(kk_decode_list_groups_response(&r, 3, &code, &groups, &count, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(count, 1);
    assert_string_equal(groups[0].group_id, "g1");
    assert_null(groups[0].state);
    kk_group_listings_free(groups, count);

    kk_reader_init(&r, list_v5, sizeof(list_v5));
    assert_int_equal(kk_decode_list_groups_response(&r, 5, &code, &groups, &count, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(count, 2);
    assert_string_equal(groups[0].state, "Stable");
    assert_string_equal(groups[0].type, "classic");
    assert_string_equal(groups[1].group_id, "g2");
    assert_string_equal(groups[1].protocol_type, "");
    assert_string_equal(groups[1].state, "Empty");
    assert_string_equal(groups[1].type, "consumer");
    kk_group_listings_free(groups, count);
}

/* ---- DescribeGroups --------------------------------------------------------------------- */

static void test_describe_groups_requests(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    const uint8_t v0[] = {0, 0, 0, 1, 0, 1, 'g'};
    for (int16_t v = 0; v <= 2; v++) {
        kk_writer_reset(&w);
        kk_encode_describe_groups_request(&w, v, "g");
        assert_bytes(&w, v0, sizeof(v0));
    }
    const uint8_t v3[] = {0, 0, 0, 1, 0, 1, 'g', 0}; /* include_authorized_operations false */
    kk_writer_reset(&w);
    kk_encode_describe_groups_request(&w, 3, "g");
    assert_bytes(&w, v3, sizeof(v3));
    kk_writer_reset(&w);
    kk_encode_describe_groups_request(&w, 4, "g");
    assert_bytes(&w, v3, sizeof(v3));
    const uint8_t v5[] = {2, 2, 'g', 0, 0};
    kk_writer_reset(&w);
    kk_encode_describe_groups_request(&w, 5, "g");
    assert_bytes(&w, v5, sizeof(v5));
    kk_writer_free(&w);
}

/* A ConsumerProtocolAssignment v0: topic "t", partitions 0 and 1, null user data (25 bytes). */
#define ASSIGNMENT 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, \
                   0xff, 0xff, 0xff, 0xff

static const uint8_t describe_v0[] = {
    0, 0, 0, 1,
    0, 0,
    0, 1, 'g',
    0, 6, 'S', 't', 'a', 'b', 'l', 'e',
    0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
    0, 5, 'r', 'a', 'n', 'g', 'e',
    0, 0, 0, 1,                                        /* 1 member */
    0, 2, 'm', '1',
    0, 1, 'c',
    0, 10, '/', '1', '2', '7', '.', '0', '.', '0', '.', '1',
    0, 0, 0, 0,                                        /* empty metadata */
    0, 0, 0, 25, ASSIGNMENT,
};

static const uint8_t describe_v4[] = {
    0, 0, 0, 3,                                        /* throttle */
    0, 0, 0, 1,
    0, 0,
    0, 1, 'g',
    0, 4, 'D', 'e', 'a', 'd',
    0, 0, 0, 0,                                        /* "" type, "" protocol */
    0, 0, 0, 2,                                        /* 2 members */
    0, 2, 'm', '1', 0xff, 0xff,                        /* dynamic */
    0, 1, 'c', 0, 1, 'h', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0, 2, 'm', '2', 0, 1, 'i',                         /* static member "i" */
    0, 1, 'c', 0, 1, 'h', 0, 0, 0, 0, 0, 0, 0, 1, 7,
    0x80, 0, 0, 0,                                     /* authorized operations: unknown */
};

static const uint8_t describe_v5[] = {
    0, 0, 0, 0,
    2,
    0, 0,
    2, 'g',
    7, 'S', 't', 'a', 'b', 'l', 'e',
    9, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
    6, 'r', 'a', 'n', 'g', 'e',
    2,                                                 /* 1 member */
    3, 'm', '1', 0,                                    /* null instance id */
    2, 'c', 11, '/', '1', '2', '7', '.', '0', '.', '0', '.', '1',
    1,                                                 /* empty metadata */
    26, ASSIGNMENT,
    0,
    0x80, 0, 0, 0,
    0,
    0,
};

static void decode_describe(const uint8_t *bytes, size_t len, int16_t version,
                            kk_describe_group_result_t *out) {
    kk_reader_t r;
    kk_error_t err;
    kk_reader_init(&r, bytes, len);
    if (kk_decode_describe_groups_response(&r, version, out, &err) != KK_OK)
        fail_msg("DescribeGroups v%d: %s", version, err.message);
    assert_int_equal(kk_reader_remaining(&r), 0);
}

static void test_describe_groups_responses(void **state) {
    (void)state;
    const uint8_t assignment[] = {ASSIGNMENT};
    kk_describe_group_result_t res;
    decode_describe(describe_v0, sizeof(describe_v0), 0, &res);
    assert_int_equal(res.error_code, 0);
    assert_string_equal(res.group.group_id, "g");
    assert_string_equal(res.group.state, "Stable");
    assert_string_equal(res.group.protocol_type, "consumer");
    assert_string_equal(res.group.protocol, "range");
    assert_int_equal(res.group.coordinator, -1);
    assert_int_equal(res.group.member_count, 1);
    kk_group_member_description_t *m = &res.group.members[0];
    assert_string_equal(m->member_id, "m1");
    assert_null(m->group_instance_id);
    assert_string_equal(m->client_id, "c");
    assert_string_equal(m->client_host, "/127.0.0.1");
    assert_int_equal(m->assignment_len, sizeof(assignment));
    assert_memory_equal(m->assignment_bytes, assignment, sizeof(assignment));
    assert_null(m->assignment); /* left raw for the caller */
    kk_group_description_clear(&res.group);

    decode_describe(describe_v4, sizeof(describe_v4), 4, &res);
    assert_string_equal(res.group.state, "Dead");
    assert_string_equal(res.group.protocol_type, "");
    assert_int_equal(res.group.member_count, 2);
    assert_null(res.group.members[0].group_instance_id);
    assert_null(res.group.members[0].assignment_bytes);
    assert_string_equal(res.group.members[1].group_instance_id, "i");
    assert_int_equal(res.group.members[1].assignment_len, 1);
    kk_group_description_clear(&res.group);

    decode_describe(describe_v5, sizeof(describe_v5), 5, &res);
    assert_string_equal(res.group.protocol, "range");
    assert_string_equal(res.group.members[0].client_host, "/127.0.0.1");
    assert_int_equal(res.group.members[0].assignment_len, sizeof(assignment));
    assert_memory_equal(res.group.members[0].assignment_bytes, assignment, sizeof(assignment));
    kk_group_description_clear(&res.group);
}

/* ---- truncations and corruptions -------------------------------------------------------- */

enum which { LIST, DESCRIBE };

static int decode_any(int which, const uint8_t *bytes, size_t len, int16_t version, kk_error_t *err) {
    kk_reader_t r;
    kk_reader_init(&r, bytes, len);
    if (which == LIST) {
        int16_t code;
        kk_group_listing_t *groups;
        size_t count;
        int rc = kk_decode_list_groups_response(&r, version, &code, &groups, &count, err);
        if (rc == KK_OK)
            kk_group_listings_free(groups, count);
        else
            assert_null(groups);
        return rc;
    }
    kk_describe_group_result_t res;
    int rc = kk_decode_describe_groups_response(&r, version, &res, err);
    if (rc != KK_OK)
        assert_int_equal(res.group.member_count, 0);
    kk_group_description_clear(&res.group);
    return rc;
}

static const decode_case_t valid[] = {
    {LIST, list_v0, sizeof(list_v0), 0},
    {LIST, list_v1, sizeof(list_v1), 1},
    {LIST, list_v3, sizeof(list_v3), 3},
    {LIST, list_v5, sizeof(list_v5), 5},
    {DESCRIBE, describe_v0, sizeof(describe_v0), 0},
    {DESCRIBE, describe_v4, sizeof(describe_v4), 4},
    {DESCRIBE, describe_v5, sizeof(describe_v5), 5},
};

static void test_every_prefix_is_malformed(void **state) {
    (void)state;
    check_every_prefix_malformed(decode_any, valid, sizeof(valid) / sizeof(valid[0]));
}

static void test_corrupt_counts_and_lengths(void **state) {
    (void)state;
    check_corrupt_malformed(decode_any, LIST, list_v0, sizeof(list_v0), 0, 2, 0x7f);  /* count */
    check_corrupt_malformed(decode_any, LIST, list_v0, sizeof(list_v0), 0, 2, 0xff);  /* -1: null */
    check_corrupt_malformed(decode_any, LIST, list_v0, sizeof(list_v0), 0, 6, 0xff);  /* null id */
    check_corrupt_malformed(decode_any, LIST, list_v5, sizeof(list_v5), 5, 6, 0x7f);
    check_corrupt_malformed(decode_any, LIST, list_v5, sizeof(list_v5), 5, 19, 0);    /* null state */
    check_corrupt_malformed(decode_any, DESCRIBE, describe_v0, sizeof(describe_v0), 0, 0, 0x7f);
    check_corrupt_malformed(decode_any, DESCRIBE, describe_v0, sizeof(describe_v0), 0, 7, 0xff);
    check_corrupt_malformed(decode_any, DESCRIBE, describe_v0, sizeof(describe_v0), 0, 36, 0x7f);
    check_corrupt_malformed(decode_any, DESCRIBE, describe_v0, sizeof(describe_v0), 0, 36, 0xff);
    check_corrupt_malformed(decode_any, DESCRIBE, describe_v0, sizeof(describe_v0), 0, 38, 0xff); /* member id */
    check_corrupt_malformed(decode_any, DESCRIBE, describe_v5, sizeof(describe_v5), 5, 4, 0x7f);
    check_corrupt_malformed(decode_any, DESCRIBE, describe_v5, sizeof(describe_v5), 5, 7, 0);
    /* an empty group array is well-formed but useless: DescribeGroups names no group */
    const uint8_t none[] = {0, 0, 0, 0, 0, 0, 0, 0};
    kk_error_t err;
    assert_int_equal(decode_any(DESCRIBE, none, sizeof(none), 1, &err), KK_ERR_MALFORMED);
    assert_non_null(strstr(err.message, "names no group"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_groups_requests),
        cmocka_unit_test(test_list_groups_responses),
        cmocka_unit_test(test_describe_groups_requests),
        cmocka_unit_test(test_describe_groups_responses),
        cmocka_unit_test(test_every_prefix_is_malformed),
        cmocka_unit_test(test_corrupt_counts_and_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
