/* The consumer protocol's subscription/assignment encoding and the range and roundrobin
 * assignors. Every expected value here is what the Java client (kafka-clients 4.4.0) produced
 * for the same input: tests/unit/vectors/AssignorVectors.java prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "assignor.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* ---- encoding, against ConsumerProtocol.serializeSubscription / serializeAssignment ---- */

/* Subscription(topics [b, a], owned [a-2, a-0], generation 7, rack "r1") at v0..v3: Java sorts
 * the topics and the owned partitions. */
static const char *const java_subscriptions[] = {
    "000000000002000161000162ffffffff",
    "000100000002000161000162ffffffff00000001000161000000020000000000000002",
    "000200000002000161000162ffffffff0000000100016100000002000000000000000200000007",
    "000300000002000161000162ffffffff000000010001610000000200000000000000020000000700027231",
};
/* Assignment([a-1, a-4]) at v0..v3 */
static const char *const java_assignments[] = {
    "000000000001000161000000020000000100000004ffffffff",
    "000100000001000161000000020000000100000004ffffffff",
    "000200000001000161000000020000000100000004ffffffff",
    "000300000001000161000000020000000100000004ffffffff",
};

static void test_subscription_matches_java(void **state) {
    (void)state;
    const char *topics[] = {"b", "a"};
    const kk_topic_partition_t owned[] = {{"a", 2}, {"a", 0}};
    for (int16_t v = 0; v <= 3; v++) {
        uint8_t expected[128];
        size_t len = unhex(java_subscriptions[v], expected, sizeof(expected));
        kk_writer_t w;
        kk_writer_init(&w);
        kk_encode_consumer_subscription(&w, v, topics, 2, owned, 2, 7, "r1");
        assert_false(w.failed);
        assert_int_equal(w.len, len);
        assert_memory_equal(w.data, expected, len);

        kk_consumer_subscription_t sub;
        kk_error_t err;
        assert_int_equal(kk_decode_consumer_subscription(w.data, w.len, &sub, &err), KK_OK);
        assert_int_equal(sub.version, v);
        assert_int_equal(sub.topic_count, 2);
        assert_string_equal(sub.topics[0], "a");
        assert_string_equal(sub.topics[1], "b");
        assert_null(sub.user_data);
        assert_int_equal(sub.owned.count, v >= 1 ? 2 : 0);
        if (v >= 1) {
            assert_string_equal(sub.owned.partitions[1].topic, "a");
            assert_int_equal(sub.owned.partitions[1].partition, 2);
        }
        assert_int_equal(sub.generation_id, v >= 2 ? 7 : -1);
        if (v >= 3)
            assert_string_equal(sub.rack_id, "r1");
        else
            assert_null(sub.rack_id);
        kk_consumer_subscription_free(&sub);
        kk_writer_free(&w);
    }
}

static void test_assignment_matches_java(void **state) {
    (void)state;
    const kk_topic_partition_t parts[] = {{"a", 1}, {"a", 4}};
    for (int16_t v = 0; v <= 3; v++) {
        uint8_t expected[128];
        size_t len = unhex(java_assignments[v], expected, sizeof(expected));
        kk_writer_t w;
        kk_writer_init(&w);
        kk_encode_consumer_assignment(&w, v, parts, 2);
        assert_int_equal(w.len, len);
        assert_memory_equal(w.data, expected, len);
        kk_consumer_assignment_t a;
        kk_error_t err;
        assert_int_equal(kk_decode_consumer_assignment(w.data, w.len, &a, &err), KK_OK);
        assert_int_equal(a.version, v);
        assert_int_equal(a.partitions.count, 2);
        assert_int_equal(a.partitions.topic_count, 1);
        assert_string_equal(a.partitions.partitions[0].topic, "a");
        assert_int_equal(a.partitions.partitions[1].partition, 4);
        kk_consumer_assignment_free(&a);
        kk_writer_free(&w);
    }
}

/* A newer member's subscription (v4 with a field we do not know) and an empty assignment. */
static void test_newer_versions_and_empty_assignment(void **state) {
    (void)state;
    uint8_t bytes[128];
    size_t len = unhex(java_subscriptions[3], bytes, sizeof(bytes) - 4);
    bytes[1] = 4;                               /* version 4 */
    memcpy(bytes + len, "\x00\x00\x00\x09", 4); /* an appended field */
    kk_consumer_subscription_t sub;
    kk_error_t err;
    assert_int_equal(kk_decode_consumer_subscription(bytes, len + 4, &sub, &err), KK_OK);
    assert_int_equal(sub.version, 4);
    assert_string_equal(sub.rack_id, "r1");
    kk_consumer_subscription_free(&sub);

    kk_consumer_assignment_t a;
    assert_int_equal(kk_decode_consumer_assignment(NULL, 0, &a, &err), KK_OK);
    assert_int_equal(a.partitions.count, 0);
    kk_consumer_assignment_free(&a);

    /* a negative version is not ours to read */
    const uint8_t negative[] = {0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(kk_decode_consumer_subscription(negative, sizeof(negative), &sub, &err),
                     KK_ERR_MALFORMED);
}

static void test_every_prefix_is_malformed(void **state) {
    (void)state;
    for (int which = 0; which < 2; which++) {
        for (int v = 0; v <= 3; v++) {
            uint8_t bytes[128];
            size_t len =
                unhex(which ? java_assignments[v] : java_subscriptions[v], bytes, sizeof(bytes));
            for (size_t cut = 1; cut < len; cut++) {
                uint8_t *copy = malloc(cut);
                assert_non_null(copy);
                memcpy(copy, bytes, cut);
                kk_error_t err;
                int rc;
                if (which) {
                    kk_consumer_assignment_t a;
                    rc = kk_decode_consumer_assignment(copy, cut, &a, &err);
                    assert_null(a.partitions.partitions);
                } else {
                    kk_consumer_subscription_t sub;
                    rc = kk_decode_consumer_subscription(copy, cut, &sub, &err);
                    assert_null(sub.topics);
                }
                if (rc != KK_ERR_MALFORMED)
                    fail_msg("%s v%d cut %zu: rc %d", which ? "assignment" : "subscription", v, cut,
                             rc);
                free(copy);
            }
        }
    }
    /* a lying topic count must not drive an allocation */
    const uint8_t lying[] = {0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'};
    kk_consumer_assignment_t a;
    kk_error_t err;
    assert_int_equal(kk_decode_consumer_assignment(lying, sizeof(lying), &a, &err),
                     KK_ERR_MALFORMED);
}

/* ---- assignors, against RangeAssignor / RoundRobinAssignor ------------------------------ */

/* Formats a member's share as Java's vector program prints it: "t3-0 t3-1 t5-0", sorted. */
static int compare_text(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

static void format_share(const kk_member_assignment_t *share, char *out, size_t size) {
    char(*items)[32] = calloc(share->count ? share->count : 1, sizeof(*items));
    assert_non_null(items);
    for (size_t i = 0; i < share->count; i++)
        snprintf(items[i], sizeof(items[i]), "%s-%d", share->partitions[i].topic,
                 (int)share->partitions[i].partition);
    qsort(items, share->count, sizeof(*items), compare_text);
    out[0] = '\0';
    for (size_t i = 0; i < share->count; i++) {
        strncat(out, i ? " " : "", size - strlen(out) - 1);
        strncat(out, items[i], size - strlen(out) - 1);
    }
    free(items);
}

typedef struct member_spec {
    const char *id;
    const char *instance;
    const char *topics[4];
    const char *expected; /* Java's answer */
} member_spec_t;

static void check_assignment(const char *assignor, const kk_assign_topic_t *topics,
                             size_t topic_count, const member_spec_t *specs, size_t n) {
    kk_assign_member_t members[8];
    kk_member_assignment_t out[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        while (count < 4 && specs[i].topics[count])
            count++;
        members[i] = (kk_assign_member_t){specs[i].id, specs[i].instance, specs[i].topics, count};
    }
    kk_error_t err;
    assert_int_equal(kk_assign(assignor, members, n, topics, topic_count, out, &err), KK_OK);
    for (size_t i = 0; i < n; i++) {
        char text[512];
        format_share(&out[i], text, sizeof(text));
        if (strcmp(text, specs[i].expected) != 0)
            fail_msg("%s: member %s got \"%s\", Java gives \"%s\"", assignor, specs[i].id, text,
                     specs[i].expected);
        /* topic names point at the caller's strings, not copies */
        for (size_t p = 0; p < out[i].count; p++) {
            bool found = false;
            for (size_t t = 0; t < topic_count; t++)
                found = found || out[i].partitions[p].topic == topics[t].topic;
            assert_true(found);
        }
    }
    kk_member_assignments_free(out, n);
}

static const kk_assign_topic_t t53[] = {{"t5", 5}, {"t3", 3}};
static const kk_assign_topic_t t537[] = {{"t5", 5}, {"t3", 3}, {"t7", 7}};

static void test_range_two_members(void **state) {
    (void)state;
    const member_spec_t m[] = {
        {"m2", NULL, {"t5", "t3"}, "t3-2 t5-3 t5-4"}, /* input order does not matter */
        {"m1", NULL, {"t5", "t3"}, "t3-0 t3-1 t5-0 t5-1 t5-2"},
    };
    check_assignment("range", t53, 2, m, 2);
}

static void test_roundrobin_three_members(void **state) {
    (void)state;
    const member_spec_t m[] = {
        {"m1", NULL, {"t5", "t3"}, "t3-0 t5-0 t5-3"},
        {"m3", NULL, {"t3", "t5"}, "t3-2 t5-2"},
        {"m2", NULL, {"t5", "t3"}, "t3-1 t5-1 t5-4"},
    };
    check_assignment("roundrobin", t53, 2, m, 3);
}

/* "missing" is subscribed but absent from the metadata: skipped, as in Java. */
static void test_uneven_subscriptions(void **state) {
    (void)state;
    const kk_assign_topic_t topics[] = {{"t5", 5}, {"t3", 3}, {"t7", 7}, {"missing", 0}};
    const member_spec_t range[] = {
        {"c", NULL, {"t3", "t7", "missing"}, "t3-2 t7-0 t7-1 t7-2 t7-3 t7-4 t7-5 t7-6"},
        {"a", NULL, {"t5", "t3"}, "t3-0 t3-1 t5-0 t5-1 t5-2"},
        {"b", NULL, {"t5"}, "t5-3 t5-4"},
    };
    check_assignment("range", topics, 4, range, 3);
    const member_spec_t rr[] = {
        {"c", NULL, {"t3", "t7", "missing"}, "t3-1 t7-0 t7-1 t7-2 t7-3 t7-4 t7-5 t7-6"},
        {"a", NULL, {"t5", "t3"}, "t3-0 t3-2 t5-1 t5-3"},
        {"b", NULL, {"t5"}, "t5-0 t5-2 t5-4"},
    };
    check_assignment("roundrobin", t537, 3, rr, 3);
}

/* Members with a group instance id sort first, by that id. */
static void test_instance_ids_sort_first(void **state) {
    (void)state;
    const member_spec_t range[] = {
        {"a", NULL, {"t5", "t3"}, "t3-2 t5-4"},
        {"z", "i2", {"t5", "t3"}, "t3-1 t5-2 t5-3"},
        {"y", "i1", {"t5", "t3"}, "t3-0 t5-0 t5-1"},
    };
    check_assignment("range", t53, 2, range, 3);
    const member_spec_t rr[] = {
        {"a", NULL, {"t5", "t3"}, "t3-2 t5-2"},
        {"z", "i2", {"t5", "t3"}, "t3-1 t5-1 t5-4"},
        {"y", "i1", {"t5", "t3"}, "t3-0 t5-0 t5-3"},
    };
    check_assignment("roundrobin", t53, 2, rr, 3);
}

static void test_more_members_than_partitions(void **state) {
    (void)state;
    const member_spec_t m[] = {
        {"m1", NULL, {"t3"}, "t3-0"},
        {"m2", NULL, {"t3"}, "t3-1"},
        {"m3", NULL, {"t3"}, "t3-2"},
        {"m4", NULL, {"t3"}, ""},
    };
    check_assignment("range", t53, 2, m, 4);
}

/* Nothing owned, nothing assigned: empty arrays (found by tests/fuzz/fuzz_consumer_protocol:
 * the grouping sorted a NULL array, which UBSan reports). */
static void test_empty_partition_lists(void **state) {
    (void)state;
    const char *topics[] = {"a"};
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_consumer_subscription(&w, 1, topics, 1, NULL, 0, -1, NULL);
    kk_encode_consumer_assignment(&w, 1, NULL, 0);
    assert_false(w.failed);
    static const uint8_t expected[] = {0,    1,    0,    0, 0, 1, 0,    1,    'a',  0xff,
                                       0xff, 0xff, 0xff, 0, 0, 0, 0, /* no owned partitions */
                                       0,    1,    0,    0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(w.len, sizeof(expected));
    assert_memory_equal(w.data, expected, sizeof(expected));
    kk_writer_free(&w);
}

static void test_unknown_assignor(void **state) {
    (void)state;
    assert_true(kk_assignor_known("range"));
    assert_true(kk_assignor_known("roundrobin"));
    assert_false(kk_assignor_known("sticky"));
    assert_false(kk_assignor_known(NULL));
    kk_member_assignment_t out[1];
    kk_assign_member_t m = {"m", NULL, NULL, 0};
    kk_error_t err;
    assert_int_equal(kk_assign("cooperative-sticky", &m, 1, t53, 2, out, &err), KK_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "cooperative-sticky"));
    assert_int_equal(kk_assign("range", NULL, 0, t53, 2, NULL, &err), KK_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscription_matches_java),
        cmocka_unit_test(test_assignment_matches_java),
        cmocka_unit_test(test_newer_versions_and_empty_assignment),
        cmocka_unit_test(test_every_prefix_is_malformed),
        cmocka_unit_test(test_range_two_members),
        cmocka_unit_test(test_roundrobin_three_members),
        cmocka_unit_test(test_uneven_subscriptions),
        cmocka_unit_test(test_instance_ids_sort_first),
        cmocka_unit_test(test_more_members_than_partitions),
        cmocka_unit_test(test_empty_partition_lists),
        cmocka_unit_test(test_unknown_assignor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
