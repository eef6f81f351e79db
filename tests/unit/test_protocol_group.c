/* Group coordination codecs: golden request bytes assembled by hand from Kafka's JSON schemas
 * (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch up to
 * v9's batched groups with KIP-848's member id and epoch) at
 * non-flexible and flexible versions, hand-built responses, every truncation, lying counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode_checks.h"
#include "protocol.h"
#include "protocol_group.h"

#define I16(v) (uint8_t)((uint16_t)(v) >> 8), (uint8_t)(uint16_t)(v)
#define I32(v)                                                                                    \
    (uint8_t)((uint32_t)(v) >> 24), (uint8_t)((uint32_t)(v) >> 16), (uint8_t)((uint32_t)(v) >> 8), \
        (uint8_t)(uint32_t)(v)
#define I64(v) I32((uint64_t)(v) >> 32), I32((uint64_t)(v) & 0xffffffffu)
/* "consumer" as an int16 string and as a compact string */
#define CONSUMER_STR I16(8), 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r'
#define CONSUMER_CSTR 9, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r'

static void assert_encoded(const kk_writer_t *w, const uint8_t *expected, size_t len) {
    assert_false(w->failed);
    if (w->len != len)
        fail_msg("encoded %zu bytes, expected %zu", w->len, len);
    assert_memory_equal(w->data, expected, len);
}

#define CHECK_ENCODED(call, ...)                                   \
    do {                                                           \
        const uint8_t expected_[] = {__VA_ARGS__};                 \
        kk_writer_t w_;                                            \
        kk_writer_init(&w_);                                       \
        kk_writer_t *w = &w_;                                      \
        call;                                                      \
        assert_encoded(w, expected_, sizeof(expected_));           \
        kk_writer_free(w);                                         \
    } while (0)

static void test_version_table(void **state) {
    (void)state;
    static const struct {
        int api;
        int16_t min, max, flexible;
    } rows[] = {
        {KK_API_OFFSET_COMMIT, 2, 9, 8}, {KK_API_OFFSET_FETCH, 1, 9, 6},
        {KK_API_FIND_COORDINATOR, 0, 3, 3}, {KK_API_JOIN_GROUP, 0, 9, 6},
        {KK_API_HEARTBEAT, 0, 4, 4},     {KK_API_LEAVE_GROUP, 0, 5, 4},
        {KK_API_SYNC_GROUP, 0, 5, 4},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int16_t lo, hi;
        assert_true(kk_protocol_supported(rows[i].api, &lo, &hi));
        assert_int_equal(lo, rows[i].min);
        assert_int_equal(hi, rows[i].max);
        assert_false(kk_protocol_is_flexible(rows[i].api, (int16_t)(rows[i].flexible - 1)));
        assert_true(kk_protocol_is_flexible(rows[i].api, rows[i].flexible));
    }
}

/* ---- requests --------------------------------------------------------------------------- */

static void test_find_coordinator_requests(void **state) {
    (void)state;
    CHECK_ENCODED(kk_encode_find_coordinator_request(w, 0, "grp", 0), I16(3), 'g', 'r', 'p');
    CHECK_ENCODED(kk_encode_find_coordinator_request(w, 2, "grp", 0), I16(3), 'g', 'r', 'p', 0);
    CHECK_ENCODED(kk_encode_find_coordinator_request(w, 3, "grp", 1), 4, 'g', 'r', 'p', 1, 0);
}

static const uint8_t meta[] = {0xaa, 0xbb};
static const kk_group_protocol_in_t protocols[] = {{"range", meta, 2}};

static void test_join_group_requests(void **state) {
    (void)state;
    kk_join_group_in_t in = {"g", 10000, 30000, "", NULL, "consumer", protocols, 1, "why"};
    CHECK_ENCODED(kk_encode_join_group_request(w, 0, &in),
                  I16(1), 'g', I32(10000),      /* group id, session timeout */
                  I16(0),                       /* member id "" */
                  CONSUMER_STR,                 /* protocol type */
                  I32(1), I16(5), 'r', 'a', 'n', 'g', 'e', I32(2), 0xaa, 0xbb);
    in.member_id = "m";
    CHECK_ENCODED(kk_encode_join_group_request(w, 5, &in),
                  I16(1), 'g', I32(10000), I32(30000), /* + rebalance timeout (v1+) */
                  I16(1), 'm', I16(-1),                /* member id, null instance id (v5+) */
                  CONSUMER_STR, I32(1), I16(5), 'r', 'a', 'n', 'g', 'e', I32(2), 0xaa, 0xbb);
    in.group_instance_id = "i";
    CHECK_ENCODED(kk_encode_join_group_request(w, 6, &in),
                  2, 'g', I32(10000), I32(30000), 2, 'm', 2, 'i', CONSUMER_CSTR,
                  2, 6, 'r', 'a', 'n', 'g', 'e', 3, 0xaa, 0xbb, 0, /* protocol + its tags */
                  0);
    CHECK_ENCODED(kk_encode_join_group_request(w, 8, &in),
                  2, 'g', I32(10000), I32(30000), 2, 'm', 2, 'i', CONSUMER_CSTR,
                  2, 6, 'r', 'a', 'n', 'g', 'e', 3, 0xaa, 0xbb, 0,
                  4, 'w', 'h', 'y', /* reason (v8+) */
                  0);
    in.reason = NULL;
    in.group_instance_id = NULL;
    CHECK_ENCODED(kk_encode_join_group_request(w, 9, &in),
                  2, 'g', I32(10000), I32(30000), 2, 'm', 0, CONSUMER_CSTR,
                  2, 6, 'r', 'a', 'n', 'g', 'e', 3, 0xaa, 0xbb, 0, 0 /* null reason */, 0);
}

static void test_sync_group_requests(void **state) {
    (void)state;
    const uint8_t a1[] = {1, 2, 3};
    kk_sync_assignment_in_t assignments[] = {{"m1", a1, 3}, {"m2", NULL, 0}};
    kk_sync_group_in_t in = {"g", 7, "m1", NULL, "consumer", "range", assignments, 2};
    CHECK_ENCODED(kk_encode_sync_group_request(w, 0, &in),
                  I16(1), 'g', I32(7), I16(2), 'm', '1',
                  I32(2), I16(2), 'm', '1', I32(3), 1, 2, 3, I16(2), 'm', '2', I32(0));
    CHECK_ENCODED(kk_encode_sync_group_request(w, 3, &in),
                  I16(1), 'g', I32(7), I16(2), 'm', '1', I16(-1), /* instance id (v3+) */
                  I32(2), I16(2), 'm', '1', I32(3), 1, 2, 3, I16(2), 'm', '2', I32(0));
    in.assignment_count = 0; /* a follower */
    CHECK_ENCODED(kk_encode_sync_group_request(w, 4, &in),
                  2, 'g', I32(7), 3, 'm', '1', 0, 1, 0);
    in.assignment_count = 1;
    CHECK_ENCODED(kk_encode_sync_group_request(w, 5, &in),
                  2, 'g', I32(7), 3, 'm', '1', 0,
                  CONSUMER_CSTR, 6, 'r', 'a', 'n', 'g', 'e', /* protocol type and name (v5+) */
                  2, 3, 'm', '1', 4, 1, 2, 3, 0, 0);
}

static void test_heartbeat_requests(void **state) {
    (void)state;
    kk_heartbeat_in_t in = {"g", 3, "m", NULL};
    CHECK_ENCODED(kk_encode_heartbeat_request(w, 0, &in), I16(1), 'g', I32(3), I16(1), 'm');
    CHECK_ENCODED(kk_encode_heartbeat_request(w, 3, &in), I16(1), 'g', I32(3), I16(1), 'm', I16(-1));
    in.group_instance_id = "i";
    CHECK_ENCODED(kk_encode_heartbeat_request(w, 4, &in), 2, 'g', I32(3), 2, 'm', 2, 'i', 0);
}

static void test_leave_group_requests(void **state) {
    (void)state;
    CHECK_ENCODED(kk_encode_leave_group_request(w, 0, "g", "m", NULL, "bye"), I16(1), 'g', I16(1), 'm');
    CHECK_ENCODED(kk_encode_leave_group_request(w, 3, "g", "m", NULL, "bye"),
                  I16(1), 'g', I32(1), I16(1), 'm', I16(-1));
    CHECK_ENCODED(kk_encode_leave_group_request(w, 4, "g", "m", NULL, "bye"),
                  2, 'g', 2, 2, 'm', 0, 0, 0);
    CHECK_ENCODED(kk_encode_leave_group_request(w, 5, "g", "m", NULL, "bye"),
                  2, 'g', 2, 2, 'm', 0, 4, 'b', 'y', 'e', 0, 0);
}

/* Entries of topic "a" are not adjacent: the encoder groups them by first appearance. */
static const kk_offset_commit_entry_t commit_entries[] = {
    {"a", 0, 10, -1, ""}, {"b", 1, 20, 5, NULL}, {"a", 2, 30, -1, "x"}};

static void test_offset_commit_requests(void **state) {
    (void)state;
    kk_offset_commit_in_t in = {"g", 4, "m", NULL, commit_entries, 3};
    CHECK_ENCODED(kk_encode_offset_commit_request(w, 2, &in),
                  I16(1), 'g', I32(4), I16(1), 'm', I64(-1), /* retention (v2..v4) */
                  I32(2),
                  I16(1), 'a', I32(2), I32(0), I64(10), I16(0), I32(2), I64(30), I16(1), 'x',
                  I16(1), 'b', I32(1), I32(1), I64(20), I16(-1));
    CHECK_ENCODED(kk_encode_offset_commit_request(w, 6, &in),
                  I16(1), 'g', I32(4), I16(1), 'm', /* no retention from v5 */
                  I32(2),
                  I16(1), 'a', I32(2), I32(0), I64(10), I32(-1), I16(0), /* + leader epoch (v6+) */
                  I32(2), I64(30), I32(-1), I16(1), 'x',
                  I16(1), 'b', I32(1), I32(1), I64(20), I32(5), I16(-1));
    CHECK_ENCODED(kk_encode_offset_commit_request(w, 7, &in),
                  I16(1), 'g', I32(4), I16(1), 'm', I16(-1), /* instance id (v7+) */
                  I32(2),
                  I16(1), 'a', I32(2), I32(0), I64(10), I32(-1), I16(0),
                  I32(2), I64(30), I32(-1), I16(1), 'x',
                  I16(1), 'b', I32(1), I32(1), I64(20), I32(5), I16(-1));
    CHECK_ENCODED(kk_encode_offset_commit_request(w, 8, &in),
                  2, 'g', I32(4), 2, 'm', 0,
                  3,
                  2, 'a', 3, I32(0), I64(10), I32(-1), 1, 0, I32(2), I64(30), I32(-1), 2, 'x', 0, 0,
                  2, 'b', 2, I32(1), I64(20), I32(5), 0, 0, 0,
                  0);
}

static const kk_topic_partition_t fetch_parts[] = {{"a", 0}, {"b", 1}, {"a", 2}};

static void test_offset_fetch_requests(void **state) {
    (void)state;
    CHECK_ENCODED(kk_encode_offset_fetch_request(w, 1, "g", fetch_parts, 3, false),
                  I16(1), 'g', I32(2), I16(1), 'a', I32(2), I32(0), I32(2), I16(1), 'b', I32(1), I32(1));
    CHECK_ENCODED(kk_encode_offset_fetch_request(w, 1, "g", NULL, 0, false), I16(1), 'g', I32(0));
    CHECK_ENCODED(kk_encode_offset_fetch_request(w, 2, "g", NULL, 0, false), I16(1), 'g', I32(-1));
    CHECK_ENCODED(kk_encode_offset_fetch_request(w, 6, "g", fetch_parts, 3, true),
                  2, 'g', 3, 2, 'a', 3, I32(0), I32(2), 0, 2, 'b', 2, I32(1), 0, 0);
    CHECK_ENCODED(kk_encode_offset_fetch_request(w, 7, "g", fetch_parts, 1, true),
                  2, 'g', 2, 2, 'a', 2, I32(0), 0, 1 /* require stable (v7+) */, 0);
    CHECK_ENCODED(kk_encode_offset_fetch_request(w, 7, "g", NULL, 0, false), 2, 'g', 0, 0, 0);
    /* v8: a list of groups, each with its topics and tags */
    CHECK_ENCODED(kk_encode_offset_fetch_request(w, 8, "g", fetch_parts, 3, true),
                  2, 2, 'g', 3, 2, 'a', 3, I32(0), I32(2), 0, 2, 'b', 2, I32(1), 0, 0 /* group tags */,
                  1, 0);
    /* v9: the member id and epoch after the group id */
    CHECK_ENCODED(kk_encode_offset_fetch_member_request(w, 9, "g", "m", 5, fetch_parts, 1, false),
                  2, 2, 'g', 2, 'm', I32(5), 2, 2, 'a', 2, I32(0), 0, 0, 0, 0);
    CHECK_ENCODED(kk_encode_offset_fetch_request(w, 9, "g", NULL, 0, false),
                  2, 2, 'g', 0 /* null member id */, I32(-1), 0 /* null topics */, 0, 0, 0);
    /* below v9 the member is not sent */
    CHECK_ENCODED(kk_encode_offset_fetch_member_request(w, 8, "g", "m", 5, NULL, 0, false),
                  2, 2, 'g', 0, 0, 0, 0);
    CHECK_ENCODED(kk_encode_offset_fetch_member_request(w, 7, "g", "m", 5, NULL, 0, false),
                  2, 'g', 0, 0, 0);
}

/* ---- responses -------------------------------------------------------------------------- */

static const uint8_t find_v0[] = {I16(0), I32(2), I16(4), 'h', 'o', 's', 't', I32(9092)};
static const uint8_t find_v1[] = {I32(0), I16(15), I16(3), 'n', 'o', '!', I32(-1), I16(-1), I32(-1)};
static const uint8_t find_v3[] = {I32(5), I16(0), 0, I32(3), 5, 'h', 'o', 's', 't', I32(19092), 0};

static void test_find_coordinator_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_coordinator_result_t res;
    kk_reader_init(&r, find_v0, sizeof(find_v0));
    assert_int_equal(kk_decode_find_coordinator_response(&r, 0, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 0);
    assert_int_equal(res.node_id, 2);
    assert_string_equal(res.host, "host");
    assert_int_equal(res.port, 9092);
    assert_null(res.error_message);
    kk_coordinator_result_free(&res);

    kk_reader_init(&r, find_v1, sizeof(find_v1));
    assert_int_equal(kk_decode_find_coordinator_response(&r, 1, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 15);
    assert_string_equal(res.error_message, "no!");
    assert_null(res.host); /* a null host comes with an error (librdkafka's mock sends one) */
    kk_coordinator_result_free(&res);

    kk_reader_init(&r, find_v3, sizeof(find_v3));
    assert_int_equal(kk_decode_find_coordinator_response(&r, 3, &res, &err), KK_OK);
    assert_int_equal(res.throttle_time_ms, 5);
    assert_int_equal(res.node_id, 3);
    assert_string_equal(res.host, "host");
    assert_int_equal(res.port, 19092);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_coordinator_result_free(&res);
}

static const uint8_t join_v0[] = {
    I16(0), I32(3),                       /* error, generation */
    I16(5), 'r', 'a', 'n', 'g', 'e',      /* protocol name */
    I16(2), 'm', '1', I16(2), 'm', '1',   /* leader, member id */
    I32(2),                               /* members */
    I16(2), 'm', '1', I32(2), 0xaa, 0xbb,
    I16(2), 'm', '2', I32(0),
};
static const uint8_t join_v5[] = {
    I32(0), I16(0), I32(3), I16(5), 'r', 'a', 'n', 'g', 'e', I16(2), 'm', '2', I16(2), 'm', '1',
    I32(1), I16(2), 'm', '2', I16(1), 'i', I32(1), 0xcc,
};
static const uint8_t join_v7[] = {
    I32(0), I16(0), I32(4),
    CONSUMER_CSTR, 6, 'r', 'a', 'n', 'g', 'e', /* protocol type (v7+), name */
    3, 'm', '1', 3, 'm', '1',
    3,                                          /* 2 members */
    3, 'm', '1', 0, 3, 0xaa, 0xbb, 0,
    3, 'm', '2', 2, 'i', 1, 0,
    0,
};
static const uint8_t join_v9[] = {
    I32(0), I16(79), I32(-1), 0, 0, 1,         /* MEMBER_ID_REQUIRED: null type/name, leader "" */
    1,                                          /* skip assignment (v9+) */
    8, 'n', 'e', 'w', '-', 'i', 'd', '1', 1, 0,
};

static void test_join_group_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_join_group_result_t res;
    kk_reader_init(&r, join_v0, sizeof(join_v0));
    assert_int_equal(kk_decode_join_group_response(&r, 0, &res, &err), KK_OK);
    assert_int_equal(res.generation_id, 3);
    assert_string_equal(res.protocol_name, "range");
    assert_string_equal(res.leader, "m1");
    assert_string_equal(res.member_id, "m1");
    assert_int_equal(res.member_count, 2);
    assert_string_equal(res.members[0].member_id, "m1");
    assert_int_equal(res.members[0].metadata_len, 2);
    assert_memory_equal(res.members[0].metadata, meta, 2);
    assert_null(res.members[1].metadata);
    assert_null(res.members[0].group_instance_id);
    kk_join_group_result_free(&res);

    kk_reader_init(&r, join_v5, sizeof(join_v5));
    assert_int_equal(kk_decode_join_group_response(&r, 5, &res, &err), KK_OK);
    assert_string_equal(res.leader, "m2");
    assert_string_equal(res.members[0].group_instance_id, "i");
    assert_int_equal(res.members[0].metadata[0], 0xcc);
    kk_join_group_result_free(&res);

    kk_reader_init(&r, join_v7, sizeof(join_v7));
    assert_int_equal(kk_decode_join_group_response(&r, 7, &res, &err), KK_OK);
    assert_int_equal(res.generation_id, 4);
    assert_string_equal(res.protocol_type, "consumer");
    assert_int_equal(res.member_count, 2);
    assert_null(res.members[0].group_instance_id);
    assert_string_equal(res.members[1].group_instance_id, "i");
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_join_group_result_free(&res);

    kk_reader_init(&r, join_v9, sizeof(join_v9));
    assert_int_equal(kk_decode_join_group_response(&r, 9, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 79);
    assert_null(res.protocol_type);
    assert_null(res.protocol_name);
    assert_string_equal(res.leader, "");
    assert_true(res.skip_assignment);
    assert_string_equal(res.member_id, "new-id1");
    assert_int_equal(res.member_count, 0);
    kk_join_group_result_free(&res);
}

static const uint8_t sync_v0[] = {I16(0), I32(3), 1, 2, 3};
static const uint8_t sync_v1[] = {I32(0), I16(27), I32(0)};
static const uint8_t sync_v4[] = {I32(0), I16(0), 3, 7, 8, 0};
static const uint8_t sync_v5[] = {I32(0), I16(0), CONSUMER_CSTR, 6, 'r', 'a', 'n', 'g', 'e', 2, 9, 0};

static void test_sync_group_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_sync_group_result_t res;
    kk_reader_init(&r, sync_v0, sizeof(sync_v0));
    assert_int_equal(kk_decode_sync_group_response(&r, 0, &res, &err), KK_OK);
    assert_int_equal(res.assignment_len, 3);
    assert_int_equal(res.assignment[2], 3);
    kk_sync_group_result_free(&res);
    kk_reader_init(&r, sync_v1, sizeof(sync_v1));
    assert_int_equal(kk_decode_sync_group_response(&r, 1, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 27);
    assert_null(res.assignment);
    kk_sync_group_result_free(&res);
    kk_reader_init(&r, sync_v4, sizeof(sync_v4));
    assert_int_equal(kk_decode_sync_group_response(&r, 4, &res, &err), KK_OK);
    assert_int_equal(res.assignment_len, 2);
    assert_int_equal(res.assignment[1], 8);
    kk_sync_group_result_free(&res);
    kk_reader_init(&r, sync_v5, sizeof(sync_v5));
    assert_int_equal(kk_decode_sync_group_response(&r, 5, &res, &err), KK_OK);
    assert_string_equal(res.protocol_name, "range");
    assert_int_equal(res.assignment[0], 9);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_sync_group_result_free(&res);
}

static const uint8_t heartbeat_v0[] = {I16(27)};
static const uint8_t heartbeat_v1[] = {I32(0), I16(25)};
static const uint8_t heartbeat_v4[] = {I32(0), I16(22), 0};
static const uint8_t leave_v0[] = {I16(0)};
static const uint8_t leave_v3[] = {I32(0), I16(0), I32(1), I16(1), 'm', I16(-1), I16(25)};
static const uint8_t leave_v4[] = {I32(0), I16(0), 2, 2, 'm', 0, I16(0), 0, 0};

static void test_heartbeat_and_leave_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    int16_t code = -5, member_code = -5;
    kk_reader_init(&r, heartbeat_v0, sizeof(heartbeat_v0));
    assert_int_equal(kk_decode_heartbeat_response(&r, 0, &code, &err), KK_OK);
    assert_int_equal(code, 27);
    kk_reader_init(&r, heartbeat_v1, sizeof(heartbeat_v1));
    assert_int_equal(kk_decode_heartbeat_response(&r, 1, &code, &err), KK_OK);
    assert_int_equal(code, 25);
    kk_reader_init(&r, heartbeat_v4, sizeof(heartbeat_v4));
    assert_int_equal(kk_decode_heartbeat_response(&r, 4, &code, &err), KK_OK);
    assert_int_equal(code, 22);
    assert_int_equal(kk_reader_remaining(&r), 0);

    kk_reader_init(&r, leave_v0, sizeof(leave_v0));
    assert_int_equal(kk_decode_leave_group_response(&r, 0, &code, &member_code, &err), KK_OK);
    assert_int_equal(code, 0);
    assert_int_equal(member_code, 0);
    kk_reader_init(&r, leave_v3, sizeof(leave_v3));
    assert_int_equal(kk_decode_leave_group_response(&r, 3, &code, &member_code, &err), KK_OK);
    assert_int_equal(member_code, 25);
    kk_reader_init(&r, leave_v4, sizeof(leave_v4));
    assert_int_equal(kk_decode_leave_group_response(&r, 4, &code, &member_code, &err), KK_OK);
    assert_int_equal(member_code, 0);
    assert_int_equal(kk_reader_remaining(&r), 0);
}

static const uint8_t commit_v2[] = {
    I32(2), I16(1), 'a', I32(2), I32(0), I16(0), I32(2), I16(22), I16(1), 'b', I32(1), I32(1), I16(0),
};
static const uint8_t commit_v3[] = {I32(7), I32(1), I16(1), 'a', I32(1), I32(0), I16(0)};
static const uint8_t commit_v8[] = {I32(0), 2, 2, 'a', 3, I32(0), I16(0), 0, I32(2), I16(25), 0, 0, 0};

static void test_offset_commit_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_partition_offsets_t res;
    kk_reader_init(&r, commit_v2, sizeof(commit_v2));
    assert_int_equal(kk_decode_offset_commit_response(&r, 2, &res, &err), KK_OK);
    assert_int_equal(res.count, 3);
    assert_string_equal(res.partitions[1].topic, "a");
    assert_int_equal(res.partitions[1].partition, 2);
    assert_int_equal(res.partitions[1].error_code, 22);
    assert_string_equal(res.partitions[2].topic, "b");
    kk_partition_offsets_free(&res);
    kk_reader_init(&r, commit_v3, sizeof(commit_v3));
    assert_int_equal(kk_decode_offset_commit_response(&r, 3, &res, &err), KK_OK);
    assert_int_equal(res.throttle_time_ms, 7);
    assert_int_equal(res.count, 1);
    kk_partition_offsets_free(&res);
    kk_reader_init(&r, commit_v8, sizeof(commit_v8));
    assert_int_equal(kk_decode_offset_commit_response(&r, 8, &res, &err), KK_OK);
    assert_int_equal(res.count, 2);
    assert_int_equal(res.partitions[1].error_code, 25);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_partition_offsets_free(&res);
}

static const uint8_t fetch_v1[] = {
    I32(1), I16(1), 'a', I32(2),
    I32(0), I64(42), I16(0), I16(0),       /* offset 42, metadata "" */
    I32(1), I64(-1), I16(-1), I16(0),      /* nothing committed */
};
static const uint8_t fetch_v2[] = {I32(0), I16(16)}; /* top-level NOT_COORDINATOR (v2+) */
static const uint8_t fetch_v5[] = {
    I32(0), I32(1), I16(1), 'a', I32(1), I32(3), I64(7), I32(9), I16(1), 'x', I16(0), I16(0),
};
static const uint8_t fetch_v6[] = {
    I32(0), 2, 2, 'a', 2, I32(3), I64(7), I32(-1), 0, I16(88), 0, 0, I16(0), 0,
};

static const uint8_t fetch_v8[] = {
    I32(0), 2 /* one group */, 2, 'g',
    3, 2, 'a', 3, I32(3), I64(7), I32(-1), 0, I16(0), 0, I32(4), I64(-1), I32(2), 2, 'x', I16(0), 0, 0,
    2, 'b', 2, I32(0), I64(1), I32(-1), 1, I16(0), 0, 0,
    I16(0) /* group error */, 0, 0,
};
static const uint8_t fetch_v9_stale[] = {
    I32(0), 2, 2, 'g', 1 /* no topics */, I16(113) /* STALE_MEMBER_EPOCH */, 0, 0,
};

static void test_offset_fetch_responses(void **state) {
    (void)state;
    kk_reader_t r;
    kk_error_t err;
    kk_partition_offsets_t res;
    kk_reader_init(&r, fetch_v1, sizeof(fetch_v1));
    assert_int_equal(kk_decode_offset_fetch_response(&r, 1, &res, &err), KK_OK);
    assert_int_equal(res.count, 2);
    assert_int_equal(res.partitions[0].offset, 42);
    assert_string_equal(res.partitions[0].metadata, "");
    assert_int_equal(res.partitions[1].offset, -1);
    assert_null(res.partitions[1].metadata);
    assert_int_equal(res.partitions[1].leader_epoch, -1);
    kk_partition_offsets_free(&res);
    kk_reader_init(&r, fetch_v2, sizeof(fetch_v2));
    assert_int_equal(kk_decode_offset_fetch_response(&r, 2, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 16);
    assert_int_equal(res.count, 0);
    kk_partition_offsets_free(&res);
    kk_reader_init(&r, fetch_v5, sizeof(fetch_v5));
    assert_int_equal(kk_decode_offset_fetch_response(&r, 5, &res, &err), KK_OK);
    assert_int_equal(res.partitions[0].partition, 3);
    assert_int_equal(res.partitions[0].offset, 7);
    assert_int_equal(res.partitions[0].leader_epoch, 9);
    assert_string_equal(res.partitions[0].metadata, "x");
    kk_partition_offsets_free(&res);
    kk_reader_init(&r, fetch_v6, sizeof(fetch_v6));
    assert_int_equal(kk_decode_offset_fetch_response(&r, 6, &res, &err), KK_OK);
    assert_int_equal(res.count, 1);
    assert_int_equal(res.partitions[0].error_code, 88);
    assert_int_equal(kk_reader_remaining(&r), 0);
    kk_partition_offsets_free(&res);
    for (int16_t v = 8; v <= 9; v++) {
        kk_reader_init(&r, fetch_v8, sizeof(fetch_v8));
        assert_int_equal(kk_decode_offset_fetch_response(&r, v, &res, &err), KK_OK);
        assert_int_equal(res.error_code, 0);
        assert_int_equal(res.count, 3);
        assert_string_equal(res.partitions[0].topic, "a");
        assert_int_equal(res.partitions[0].partition, 3);
        assert_int_equal(res.partitions[0].offset, 7);
        assert_null(res.partitions[0].metadata);
        assert_int_equal(res.partitions[1].offset, -1);
        assert_int_equal(res.partitions[1].leader_epoch, 2);
        assert_string_equal(res.partitions[1].metadata, "x");
        assert_string_equal(res.partitions[2].topic, "b");
        assert_int_equal(res.partitions[2].offset, 1);
        assert_string_equal(res.partitions[2].metadata, "");
        assert_int_equal(kk_reader_remaining(&r), 0);
        kk_partition_offsets_free(&res);
    }
    kk_reader_init(&r, fetch_v9_stale, sizeof(fetch_v9_stale));
    assert_int_equal(kk_decode_offset_fetch_response(&r, 9, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 113);
    assert_int_equal(res.count, 0);
    kk_partition_offsets_free(&res);
    /* an answer for no group, or for two, is not an answer for ours */
    const uint8_t no_group[] = {I32(0), 1, 0};
    const uint8_t two_groups[] = {I32(0), 3, 2, 'g', 1, I16(0), 0, 2, 'h', 1, I16(0), 0, 0};
    kk_reader_init(&r, no_group, sizeof(no_group));
    assert_int_equal(kk_decode_offset_fetch_response(&r, 9, &res, &err), KK_ERR_MALFORMED);
    kk_reader_init(&r, two_groups, sizeof(two_groups));
    assert_int_equal(kk_decode_offset_fetch_response(&r, 8, &res, &err), KK_ERR_MALFORMED);
    assert_null(res.partitions);
}

/* ---- truncation and corruption ---------------------------------------------------------- */

enum which { FIND, JOIN, SYNC, HEARTBEAT, LEAVE, COMMIT, FETCH };

static int decode_any(int which, const uint8_t *bytes, size_t len, int16_t version,
                      kk_error_t *err) {
    kk_reader_t r;
    kk_reader_init(&r, bytes, len);
    int rc;
    switch (which) {
    case FIND: {
        kk_coordinator_result_t res;
        rc = kk_decode_find_coordinator_response(&r, version, &res, err);
        if (rc != KK_OK) {
            assert_null(res.host);
            assert_null(res.error_message);
        }
        kk_coordinator_result_free(&res);
        return rc;
    }
    case JOIN: {
        kk_join_group_result_t res;
        rc = kk_decode_join_group_response(&r, version, &res, err);
        if (rc != KK_OK) {
            assert_null(res.members);
            assert_null(res.member_id);
            assert_null(res.leader);
        }
        kk_join_group_result_free(&res);
        return rc;
    }
    case SYNC: {
        kk_sync_group_result_t res;
        rc = kk_decode_sync_group_response(&r, version, &res, err);
        if (rc != KK_OK)
            assert_null(res.assignment);
        kk_sync_group_result_free(&res);
        return rc;
    }
    case HEARTBEAT: {
        int16_t code = 5;
        rc = kk_decode_heartbeat_response(&r, version, &code, err);
        if (rc != KK_OK)
            assert_int_equal(code, 0);
        return rc;
    }
    case LEAVE: {
        int16_t code = 5, member = 5;
        return kk_decode_leave_group_response(&r, version, &code, &member, err);
    }
    case COMMIT:
    case FETCH: {
        kk_partition_offsets_t res;
        rc = which == COMMIT ? kk_decode_offset_commit_response(&r, version, &res, err)
                             : kk_decode_offset_fetch_response(&r, version, &res, err);
        if (rc != KK_OK) {
            assert_null(res.partitions);
            assert_int_equal(res.count, 0);
        }
        kk_partition_offsets_free(&res);
        return rc;
    }
    }
    return -1;
}

static const decode_case_t valid[] = {
#define CASE(w, b, v) {w, b, sizeof(b), v}
    CASE(FIND, find_v0, 0),      CASE(FIND, find_v1, 1),      CASE(FIND, find_v3, 3),
    CASE(JOIN, join_v0, 0),      CASE(JOIN, join_v5, 5),      CASE(JOIN, join_v7, 7),
    CASE(JOIN, join_v9, 9),      CASE(SYNC, sync_v0, 0),      CASE(SYNC, sync_v1, 1),
    CASE(SYNC, sync_v4, 4),      CASE(SYNC, sync_v5, 5),      CASE(HEARTBEAT, heartbeat_v0, 0),
    CASE(HEARTBEAT, heartbeat_v1, 1), CASE(HEARTBEAT, heartbeat_v4, 4), CASE(LEAVE, leave_v0, 0),
    CASE(LEAVE, leave_v3, 3),    CASE(LEAVE, leave_v4, 4),    CASE(COMMIT, commit_v2, 2),
    CASE(COMMIT, commit_v3, 3),  CASE(COMMIT, commit_v8, 8),  CASE(FETCH, fetch_v1, 1),
    CASE(FETCH, fetch_v2, 2),    CASE(FETCH, fetch_v5, 5),    CASE(FETCH, fetch_v6, 6),
    CASE(FETCH, fetch_v8, 8),    CASE(FETCH, fetch_v8, 9),    CASE(FETCH, fetch_v9_stale, 9),
#undef CASE
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
    expect_corrupt(JOIN, join_v0, sizeof(join_v0), 0, 21, 0x7f);   /* member count */
    expect_corrupt(JOIN, join_v0, sizeof(join_v0), 0, 21, 0x80);   /* negative count */
    expect_corrupt(JOIN, join_v0, sizeof(join_v0), 0, 29, 0x7f);   /* metadata length */
    expect_corrupt(JOIN, join_v7, sizeof(join_v7), 7, 31, 0x7f);   /* compact member count */
    expect_corrupt(SYNC, sync_v0, sizeof(sync_v0), 0, 2, 0x7f);    /* assignment length */
    expect_corrupt(SYNC, sync_v4, sizeof(sync_v4), 4, 6, 0x7f);
    expect_corrupt(COMMIT, commit_v2, sizeof(commit_v2), 2, 0, 0x7f); /* topic count */
    expect_corrupt(COMMIT, commit_v2, sizeof(commit_v2), 2, 0, 0xff); /* negative topic count */
    expect_corrupt(COMMIT, commit_v2, sizeof(commit_v2), 2, 7, 0x7f); /* partition count */
    expect_corrupt(FETCH, fetch_v1, sizeof(fetch_v1), 1, 4, 0xff);    /* negative name length */
    expect_corrupt(FETCH, fetch_v6, sizeof(fetch_v6), 6, 4, 0x7f);    /* compact topic count */
    expect_corrupt(FETCH, fetch_v6, sizeof(fetch_v6), 6, 7, 0x7f);    /* compact partition count */
    expect_corrupt(FETCH, fetch_v8, sizeof(fetch_v8), 8, 4, 0x7f);    /* compact group count */
    expect_corrupt(FETCH, fetch_v8, sizeof(fetch_v8), 8, 7, 0x7f);    /* compact topic count */
    expect_corrupt(LEAVE, leave_v3, sizeof(leave_v3), 3, 6, 0x7f);    /* member count */
    expect_corrupt(FIND, find_v3, sizeof(find_v3), 3, 11, 0x7f);      /* host length */

    /* a five-byte varint count of 2^31-2 must not reach calloc */
    const uint8_t huge[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x07, 0};
    kk_error_t err;
    assert_int_equal(decode_any(JOIN, huge, sizeof(huge), 6, &err), KK_ERR_MALFORMED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_table),
        cmocka_unit_test(test_find_coordinator_requests),
        cmocka_unit_test(test_join_group_requests),
        cmocka_unit_test(test_sync_group_requests),
        cmocka_unit_test(test_heartbeat_requests),
        cmocka_unit_test(test_leave_group_requests),
        cmocka_unit_test(test_offset_commit_requests),
        cmocka_unit_test(test_offset_fetch_requests),
        cmocka_unit_test(test_find_coordinator_responses),
        cmocka_unit_test(test_join_group_responses),
        cmocka_unit_test(test_sync_group_responses),
        cmocka_unit_test(test_heartbeat_and_leave_responses),
        cmocka_unit_test(test_offset_commit_responses),
        cmocka_unit_test(test_offset_fetch_responses),
        cmocka_unit_test(test_every_prefix_is_malformed),
        cmocka_unit_test(test_corrupt_counts_and_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
