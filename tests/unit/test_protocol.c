/* Golden bytes for request headers, ApiVersions and Metadata, and hostile responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"

static void test_request_header_v1_and_v2(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_request_header(&w, KK_API_METADATA, 1, 7, "ab");
    const uint8_t v1[] = {0, 3, 0, 1, 0, 0, 0, 7, 0, 2, 'a', 'b'};
    assert_int_equal(w.len, sizeof(v1));
    assert_memory_equal(w.data, v1, sizeof(v1));

    kk_writer_reset(&w);
    kk_encode_request_header(&w, KK_API_METADATA, 9, 7, "ab");
    /* flexible: the client id keeps its int16 length, then an empty tag section */
    const uint8_t v2[] = {0, 3, 0, 9, 0, 0, 0, 7, 0, 2, 'a', 'b', 0};
    assert_int_equal(w.len, sizeof(v2));
    assert_memory_equal(w.data, v2, sizeof(v2));
    kk_writer_free(&w);
}

static void test_response_header_correlation(void **state) {
    (void)state;
    const uint8_t v1[] = {0, 0, 0, 5, 0};
    kk_reader_t r;
    kk_error_t err;
    kk_reader_init(&r, v1, sizeof(v1));
    assert_int_equal(kk_decode_response_header(&r, 1, 5, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_reader_init(&r, v1, sizeof(v1));
    assert_int_equal(kk_decode_response_header(&r, 0, 6, &err), KK_ERR_CORRELATION);
    assert_non_null(strstr(err.message, "correlation id 5, expected 6"));
    kk_reader_init(&r, v1, 3);
    assert_int_equal(kk_decode_response_header(&r, 0, 5, &err), KK_ERR_MALFORMED);
}

static void test_flexible_version_table(void **state) {
    (void)state;
    assert_false(kk_protocol_is_flexible(KK_API_METADATA, 8));
    assert_true(kk_protocol_is_flexible(KK_API_METADATA, 9));
    assert_true(kk_protocol_is_flexible(KK_API_PRODUCE, 9));
    assert_false(kk_protocol_is_flexible(KK_API_FETCH, 11));
    assert_true(kk_protocol_is_flexible(KK_API_API_VERSIONS, 3));
    /* ApiVersions responses keep header v0 even when the request is flexible. */
    assert_int_equal(kk_protocol_response_header_version(KK_API_API_VERSIONS, 3), 0);
    assert_int_equal(kk_protocol_response_header_version(KK_API_METADATA, 9), 1);
    assert_int_equal(kk_protocol_response_header_version(KK_API_METADATA, 8), 0);
}

static void test_api_versions_request_v3(void **state) {
    (void)state;
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_api_versions_request(&w, 0);
    assert_int_equal(w.len, 0);
    kk_encode_api_versions_request(&w, 3);
    kk_reader_t r;
    kk_reader_init(&r, w.data, w.len);
    kk_slice_t name = kk_read_compact_string(&r);
    assert_int_equal(name.len, 8);
    assert_memory_equal(name.ptr, "kafkette", 8);
    kk_slice_t version = kk_read_compact_string(&r);
    assert_int_equal(version.len, (int)strlen(KK_VERSION_STRING));
    kk_read_skip_tags(&r);
    assert_false(r.failed);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_writer_free(&w);
}

/* ApiVersions v3 response body: Produce 3..11, Metadata 0..13, ApiVersions 0..4, an API key
 * we do not know (99) and Fetch 4..17. */
static const uint8_t api_versions_v3[] = {
    0, 0,                  /* error */
    6,                     /* 5 entries */
    0, 0,  0, 3, 0, 11, 0, /* Produce */
    0, 3,  0, 0, 0, 13, 0, /* Metadata */
    0, 18, 0, 0, 0, 4,  0, /* ApiVersions */
    0, 99, 0, 0, 0, 1,  0, /* unknown */
    0, 1,  0, 4, 0, 17, 0, /* Fetch */
    0, 0,  0, 0,           /* throttle */
    0,                     /* tags */
};

static void test_api_versions_v3_decode_and_negotiate(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_api_versions_response_t resp;
    kk_reader_init(&r, api_versions_v3, sizeof(api_versions_v3));
    assert_int_equal(kk_decode_api_versions_response(&r, 3, &resp, &err), KK_OK);
    assert_int_equal(resp.range_count, 5);
    assert_int_equal(resp.ranges[1].api_key, KK_API_METADATA);
    assert_int_equal(resp.ranges[1].max_version, 13);

    int16_t versions[KK_API__COUNT];
    kk_negotiate_versions(&resp, NULL, versions);
    assert_int_equal(versions[KK_API_METADATA], 12); /* our maximum */
    assert_int_equal(versions[KK_API_API_VERSIONS], 3);
    assert_int_equal(versions[KK_API_OFFSET_COMMIT], -1); /* broker did not list it */

    int16_t caps[KK_API__COUNT];
    for (int i = 0; i < KK_API__COUNT; i++)
        caps[i] = -1;
    caps[KK_API_METADATA] = 1;
    kk_negotiate_versions(&resp, caps, versions);
    assert_int_equal(versions[KK_API_METADATA], 1);
    kk_api_versions_response_free(&resp);
}

static void test_api_versions_disjoint_ranges_give_no_version(void **state) {
    (void)state;
    kk_api_version_range_t range = {KK_API_METADATA, 20, 25};
    kk_api_versions_response_t resp = {0, &range, 1, 0};
    int16_t versions[KK_API__COUNT];
    kk_negotiate_versions(&resp, NULL, versions);
    assert_int_equal(versions[KK_API_METADATA], -1);
}

/* KIP-511: asked v3, a broker that only knows v0..2 answers UNSUPPORTED_VERSION in v0 layout. */
static void test_api_versions_unsupported_version_uses_v0_layout(void **state) {
    (void)state;
    const uint8_t body[] = {0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 2};
    kk_reader_t r;
    kk_error_t err;
    kk_api_versions_response_t resp;
    kk_reader_init(&r, body, sizeof(body));
    assert_int_equal(kk_decode_api_versions_response(&r, 3, &resp, &err), KK_OK);
    assert_int_equal(resp.error_code, 35);
    assert_int_equal(resp.range_count, 1);
    assert_int_equal(resp.ranges[0].max_version, 2);
    kk_api_versions_response_free(&resp);
}

/* librdkafka's mock writes an UNSUPPORTED_VERSION answer that is not in the v0 layout: the
 * error code still comes through, so the caller retries with v0. */
static void test_api_versions_unsupported_version_with_odd_body(void **state) {
    (void)state;
    const uint8_t body[] = {0, 35, 1, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0};
    kk_reader_t r;
    kk_error_t err;
    kk_api_versions_response_t resp;
    kk_reader_init(&r, body, sizeof(body));
    assert_int_equal(kk_decode_api_versions_response(&r, 3, &resp, &err), KK_OK);
    assert_int_equal(resp.error_code, 35);
    assert_int_equal(resp.range_count, 0);
    kk_api_versions_response_free(&resp);
}

static void test_legacy_versions(void **state) {
    (void)state;
    int16_t versions[KK_API__COUNT];
    kk_legacy_versions(versions);
    assert_int_equal(versions[KK_API_METADATA], 0);
    assert_int_equal(versions[KK_API_API_VERSIONS], -1);
}

static void test_metadata_request_versions(void **state) {
    (void)state;
    const char *topics[] = {"t"};
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_metadata_request(&w, 1, topics, 1, true);
    const uint8_t v1[] = {0, 0, 0, 1, 0, 1, 't'};
    assert_int_equal(w.len, sizeof(v1));
    assert_memory_equal(w.data, v1, sizeof(v1));

    kk_writer_reset(&w);
    kk_encode_metadata_request(&w, 1, NULL, 0, true);
    const uint8_t v1_all[] = {0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(w.data, v1_all, sizeof(v1_all));

    kk_writer_reset(&w);
    kk_encode_metadata_request(&w, 0, NULL, 0, true);
    const uint8_t v0_all[] = {0, 0, 0, 0};
    assert_int_equal(w.len, 4);
    assert_memory_equal(w.data, v0_all, sizeof(v0_all));

    kk_writer_reset(&w);
    kk_encode_metadata_request(&w, 12, topics, 1, false);
    const uint8_t v12[] = {2, 0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* uuid */
                           2, 't', 0,                                           /* name, tags */
                           0, /* allow auto creation */
                           0, /* include topic authorized operations */
                           0};
    assert_int_equal(w.len, sizeof(v12));
    assert_memory_equal(w.data, v12, sizeof(v12));
    kk_writer_free(&w);
}

static const uint8_t metadata_v1[] = {
    0, 0, 0, 1,                                                 /* 1 broker */
    0, 0, 0, 1, 0,   2, 'h', '1', 0, 0, 0x23, 0x84, 0xff, 0xff, /* node 1 h1:9092 rack null */
    0, 0, 0, 1,                                                 /* controller */
    0, 0, 0, 1,                                                 /* 1 topic */
    0, 0, 0, 1, 't', 0,                                         /* error, name, internal */
    0, 0, 0, 2,                                                 /* 2 partitions, out of order */
    0, 0, 0, 0, 0,   1, 0,   0,   0, 1, 0,    0,    0,    1,    0, 0, 0, 1, 0, 0, 0, 1,
    0, 0, 0, 1, 0,   5, 0,   0,   0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void test_metadata_v1_decode(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_metadata_t *md = NULL;
    kk_reader_init(&r, metadata_v1, sizeof(metadata_v1));
    assert_int_equal(kk_decode_metadata_response(&r, 1, &md, &err), KK_OK);
    assert_int_equal(md->broker_count, 1);
    assert_string_equal(md->brokers[0].host, "h1");
    assert_int_equal(md->brokers[0].port, 9092);
    assert_null(md->brokers[0].rack);
    assert_int_equal(md->controller_id, 1);
    const kk_topic_info_t *t = kk_metadata_topic(md, "t");
    assert_non_null(t);
    assert_int_equal(t->partition_count, 2);
    /* sorted by partition id */
    assert_int_equal(t->partitions[0].partition, 0);
    assert_int_equal(t->partitions[0].leader, -1);
    assert_int_equal(t->partitions[0].error_code, 5);
    assert_int_equal(t->partitions[1].partition, 1);
    assert_int_equal(t->partitions[1].leader, 1);
    assert_int_equal(t->partitions[1].replica_count, 1);
    assert_int_equal(t->partitions[1].isr[0], 1);
    assert_non_null(kk_metadata_broker(md, 1));
    assert_null(kk_metadata_broker(md, 2));
    assert_null(kk_metadata_topic(md, "other"));
    kk_metadata_free(md);
}

static const uint8_t metadata_v9[] = {
    0,    0,   0, 0,                                                /* throttle */
    2,    0,   0, 0,   1, 3, 'h', '1', 0, 0, 0x23, 0x84, 2, 'r', 0, /* broker 1, rack "r" */
    2,    'c',                                                      /* cluster id */
    0,    0,   0, 1,                                                /* controller */
    2,                                                              /* 1 topic */
    0,    0,   2, 't', 0,                                           /* error, name, internal */
    2,                                                              /* 1 partition */
    0,    0,   0, 0,   0, 0, 0,   0,   0, 1, 0,    0,    0, 5, /* error, index, leader, epoch */
    2,    0,   0, 0,   1, 2, 0,   0,   0, 1, 1,    0,          /* replicas, isr, offline, tags */
    0x80, 0,   0, 0,   0,                                      /* topic authorized ops, tags */
    0x80, 0,   0, 0,                                           /* cluster authorized ops */
    0,                                                         /* tags */
};

static void test_metadata_v9_decode(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_metadata_t *md = NULL;
    kk_reader_init(&r, metadata_v9, sizeof(metadata_v9));
    assert_int_equal(kk_decode_metadata_response(&r, 9, &md, &err), KK_OK);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_string_equal(md->cluster_id, "c");
    assert_string_equal(md->brokers[0].rack, "r");
    assert_int_equal(md->topics[0].partitions[0].leader_epoch, 5);
    assert_int_equal(md->topics[0].partitions[0].offline_replica_count, 0);
    kk_metadata_free(md);
}

/* Every proper prefix of a valid response is rejected as malformed, never read past. */
static void test_metadata_every_prefix_is_malformed(void **state) {
    (void)state;
    struct {
        const uint8_t *bytes;
        size_t len;
        int16_t version;
    } cases[] = {{metadata_v1, sizeof(metadata_v1), 1}, {metadata_v9, sizeof(metadata_v9), 9}};
    for (size_t c = 0; c < 2; c++) {
        for (size_t cut = 0; cut < cases[c].len; cut++) {
            /* a heap copy of exactly cut bytes lets ASan catch any over-read */
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, cases[c].bytes, cut);
            kk_reader_t r;
            kk_error_t err;
            kk_metadata_t *md = (kk_metadata_t *)1;
            kk_reader_init(&r, copy, cut);
            assert_int_equal(kk_decode_metadata_response(&r, cases[c].version, &md, &err),
                             KK_ERR_MALFORMED);
            assert_null(md);
            assert_non_null(strstr(err.message, "malformed"));
            free(copy);
        }
    }
}

/* Corrupting any length/count field to a large value is rejected without a huge allocation. */
static void test_metadata_corrupt_length_fields(void **state) {
    (void)state;
    const size_t count_offsets[] = {0, 22, 32,
                                    46}; /* broker count, topic count, partitions, replicas */
    for (size_t i = 0; i < sizeof(count_offsets) / sizeof(count_offsets[0]); i++) {
        uint8_t copy[sizeof(metadata_v1)];
        memcpy(copy, metadata_v1, sizeof(copy));
        copy[count_offsets[i]] = 0x7f; /* about two billion elements */
        kk_reader_t r;
        kk_error_t err;
        kk_metadata_t *md = NULL;
        kk_reader_init(&r, copy, sizeof(copy));
        assert_int_equal(kk_decode_metadata_response(&r, 1, &md, &err), KK_ERR_MALFORMED);
        assert_null(md);
    }
    /* a host string length pointing outside the buffer */
    uint8_t copy[sizeof(metadata_v1)];
    memcpy(copy, metadata_v1, sizeof(copy));
    copy[8] = 0x7f;
    kk_reader_t r;
    kk_error_t err;
    kk_metadata_t *md = NULL;
    kk_reader_init(&r, copy, sizeof(copy));
    assert_int_equal(kk_decode_metadata_response(&r, 1, &md, &err), KK_ERR_MALFORMED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_header_v1_and_v2),
        cmocka_unit_test(test_response_header_correlation),
        cmocka_unit_test(test_flexible_version_table),
        cmocka_unit_test(test_api_versions_request_v3),
        cmocka_unit_test(test_api_versions_v3_decode_and_negotiate),
        cmocka_unit_test(test_api_versions_disjoint_ranges_give_no_version),
        cmocka_unit_test(test_api_versions_unsupported_version_uses_v0_layout),
        cmocka_unit_test(test_api_versions_unsupported_version_with_odd_body),
        cmocka_unit_test(test_legacy_versions),
        cmocka_unit_test(test_metadata_request_versions),
        cmocka_unit_test(test_metadata_v1_decode),
        cmocka_unit_test(test_metadata_v9_decode),
        cmocka_unit_test(test_metadata_every_prefix_is_malformed),
        cmocka_unit_test(test_metadata_corrupt_length_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
