/* Group assignment fed by member metadata must stay O(n log n): the leader decodes every
 * member's subscription, dedupes the topics, looks them up in the metadata, runs the assignor
 * and encodes each share; a member turns the share it receives into claims. Each step here
 * gets a few hundred thousand topics or partitions: quadratic code needs many minutes for that
 * (far past this test's ctest TIMEOUT of 60 s), n log n well under a second. Not a timed
 * test: nothing here reads a clock. A small randomized comparison with a plain reference
 * implementation keeps the results exactly what they were. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "group_internal.h"

enum { BIG = 300000 };

/* BIG topic names "t000000".."t299999" in one block, and pointers to them. */
static char *names_block;
static const char **names;

static int setup(void **state) {
    (void)state;
    names_block = malloc((size_t)BIG * 8);
    names = malloc((size_t)BIG * sizeof(*names));
    if (!names_block || !names)
        return -1;
    for (size_t i = 0; i < BIG; i++) {
        snprintf(names_block + 8 * i, 8, "t%06zu", i);
        names[i] = names_block + 8 * i;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(names_block);
    free(names);
    return 0;
}

/* Two members subscribed to BIG topics of one partition each, listed in reverse. */
static void test_range_many_topics(void **state) {
    (void)state;
    const char **reversed = malloc((size_t)BIG * sizeof(*reversed));
    kk_assign_topic_t *topics = malloc((size_t)BIG * sizeof(*topics));
    assert_non_null(reversed);
    assert_non_null(topics);
    for (size_t i = 0; i < BIG; i++) {
        reversed[i] = names[BIG - 1 - i];
        topics[i] = (kk_assign_topic_t){names[BIG - 1 - i], 1};
    }
    kk_assign_member_t members[2] = {{"m2", NULL, reversed, BIG}, {"m1", NULL, reversed, BIG}};
    kk_member_assignment_t out[2];
    kk_error_t err;
    assert_int_equal(kk_assign("range", members, 2, topics, BIG, out, &err), KK_OK);
    /* one partition per topic: range gives each to the first member in order, m1 */
    assert_int_equal(out[1].count, BIG);
    assert_int_equal(out[0].count, 0);
    assert_string_equal(out[1].partitions[0].topic, "t000000");
    assert_string_equal(out[1].partitions[BIG - 1].topic, "t299999");

    /* the share's encoding groups partitions by topic */
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_consumer_assignment(&w, 3, out[1].partitions, out[1].count);
    assert_false(w.failed);
    kk_consumer_assignment_t a;
    assert_int_equal(kk_decode_consumer_assignment(w.data, w.len, &a, &err), KK_OK);
    assert_int_equal(a.partitions.topic_count, BIG);
    assert_int_equal(a.partitions.count, BIG);
    kk_consumer_assignment_free(&a);
    kk_writer_free(&w);
    kk_member_assignments_free(out, 2);
    free(reversed);
    free(topics);
}

/* 100,000 members, each subscribed to a topic of its own, sorted the other way round from
 * their topics; and one topic with BIG partitions encoded as one share. */
static void test_many_members(void **state) {
    (void)state;
    enum { M = 100000 };
    kk_assign_member_t *members = calloc(M, sizeof(*members));
    kk_member_assignment_t *out = calloc(M, sizeof(*out));
    kk_assign_topic_t *topics = malloc(M * sizeof(*topics));
    char(*ids)[16] = malloc(M * sizeof(*ids));
    assert_non_null(members);
    assert_non_null(out);
    assert_non_null(topics);
    assert_non_null(ids);
    for (size_t i = 0; i < M; i++) {
        snprintf(ids[i], sizeof(ids[i]), "m%06zu", (size_t)M - 1 - i);
        members[i] = (kk_assign_member_t){ids[i], NULL, &names[i], 1};
        topics[i] = (kk_assign_topic_t){names[i], 2};
    }
    for (int rr = 0; rr < 2; rr++) {
        kk_error_t err;
        assert_int_equal(kk_assign(rr ? "roundrobin" : "range", members, M, topics, M, out, &err),
                         KK_OK);
        for (size_t i = 0; i < M; i += 9973) {
            assert_int_equal(out[i].count, 2);
            assert_ptr_equal(out[i].partitions[0].topic, names[i]);
            assert_int_equal(out[i].partitions[1].partition, 1);
        }
        kk_member_assignments_free(out, M);
    }

    kk_topic_partition_t *parts = malloc((size_t)BIG * sizeof(*parts));
    assert_non_null(parts);
    for (size_t i = 0; i < BIG; i++)
        parts[i] = (kk_topic_partition_t){i % 2 ? "odd" : "even", (int32_t)i};
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_consumer_assignment(&w, 0, parts, BIG);
    kk_consumer_assignment_t a;
    kk_error_t err;
    assert_int_equal(kk_decode_consumer_assignment(w.data, w.len, &a, &err), KK_OK);
    assert_int_equal(a.partitions.topic_count, 2);
    assert_string_equal(a.partitions.topics[0], "even"); /* first appearance first */
    assert_int_equal(a.partitions.partitions[BIG / 2].partition, 1);
    kk_consumer_assignment_free(&a);
    kk_writer_free(&w);
    free(parts);
    free(members);
    free(out);
    free(topics);
    free(ids);
}

/* The leader's topic list from BIG-topic subscriptions (twice each, as two members send). */
static void test_collect_topics(void **state) {
    (void)state;
    kk_consumer_subscription_t subs[2];
    memset(subs, 0, sizeof(subs));
    for (int s = 0; s < 2; s++) {
        subs[s].topics = calloc(BIG + 1, sizeof(char *));
        assert_non_null(subs[s].topics);
        for (size_t i = 0; i < BIG; i++)
            subs[s].topics[i] = (char *)names[s ? i : BIG - 1 - i];
        subs[s].topics[BIG] = (char *)""; /* invalid names are left out */
        subs[s].topic_count = BIG + 1;
    }
    const char **all = NULL;
    size_t count = 0;
    assert_true(kk_grp_collect_topics(subs, 2, &all, &count));
    assert_int_equal(count, BIG);
    /* in order of first appearance */
    assert_ptr_equal(all[0], names[BIG - 1]);
    assert_ptr_equal(all[BIG - 1], names[0]);
    free(all);

    /* and their partition counts from metadata listing BIG topics */
    kk_metadata_t md;
    memset(&md, 0, sizeof(md));
    md.topics = calloc(BIG, sizeof(*md.topics));
    assert_non_null(md.topics);
    md.topic_count = BIG;
    for (size_t i = 0; i < BIG; i++) {
        md.topics[i].name = (char *)names[(i * 7919) % BIG];
        md.topics[i].partition_count = 1 + (i * 7919) % BIG % 5;
        md.topics[i].error_code = (i * 7919) % BIG % 5 == 3 ? 3 : 0;
    }
    int32_t *counts = malloc((size_t)BIG * sizeof(*counts));
    assert_non_null(counts);
    assert_true(kk_grp_lookup_counts(&md, names, BIG, counts));
    for (size_t i = 0; i < BIG; i++)
        assert_int_equal(counts[i], i % 5 == 3 ? 0 : (int32_t)(1 + i % 5));
    const char *missing = "nope";
    assert_true(kk_grp_lookup_counts(&md, &missing, 1, counts));
    assert_int_equal(counts[0], 0);
    free(counts);
    free(md.topics);
    free(subs[0].topics);
    free(subs[1].topics);
}

/* A member subscribed to BIG topics receives BIG partitions (and each one twice). */
static void test_take_assignment(void **state) {
    (void)state;
    kk_group_t g;
    memset(&g, 0, sizeof(g));
    g.topics = (char **)names;
    g.topic_count = BIG;
    g.group_id = (char *)"scale";
    kk_topic_partition_t *parts = malloc(2 * (size_t)BIG * sizeof(*parts));
    assert_non_null(parts);
    for (size_t i = 0; i < BIG; i++) {
        parts[i] = (kk_topic_partition_t){names[BIG - 1 - i], (int32_t)(i % 3)};
        parts[BIG + i] = parts[i];
    }
    kk_writer_t w;
    kk_writer_init(&w);
    kk_encode_consumer_assignment(&w, 1, parts, 2 * (size_t)BIG);
    assert_false(w.failed);
    kk_error_t err;
    assert_int_equal(kk_grp_take_assignment(&g, w.data, w.len, &err), KK_OK);
    assert_int_equal(g.claim_count, BIG);
    for (size_t i = 0; i < BIG; i += 7) {
        assert_ptr_equal(g.claims[i].topic, names[i]);
        int32_t p = (int32_t)((BIG - 1 - i) % 3);
        assert_int_equal(g.claims[i].partition, p);
        assert_ptr_equal(kk_grp_find_claim(&g, names[i], p), &g.claims[i]);
        assert_null(kk_grp_find_claim(&g, names[i], p + 1));
    }
    kk_grp_free_claims(&g);
    kk_writer_free(&w);
    free(parts);
}

/* ---- the same results as the plain algorithm ------------------------------------------- */

static int ref_compare_members(const kk_assign_member_t *a, const kk_assign_member_t *b) {
    if (a->group_instance_id && b->group_instance_id)
        return strcmp(a->group_instance_id, b->group_instance_id);
    if (a->group_instance_id)
        return -1;
    if (b->group_instance_id)
        return 1;
    return strcmp(a->member_id, b->member_id);
}

static bool ref_subscribes(const kk_assign_member_t *m, const char *topic) {
    for (size_t i = 0; i < m->topic_count; i++)
        if (m->topics[i] && strcmp(m->topics[i], topic) == 0)
            return true;
    return false;
}

static int ref_compare_topics(const void *a, const void *b) {
    return strcmp(((const kk_assign_topic_t *)a)->topic, ((const kk_assign_topic_t *)b)->topic);
}

/* Appends "member:topic-partition" lines for the plain range or roundrobin algorithm. */
static void ref_assign(bool range, const kk_assign_member_t *members, size_t n,
                       const kk_assign_topic_t *in_topics, size_t topic_count, char *out,
                       size_t size) {
    size_t order[16], subs[16];
    kk_assign_topic_t topics[16];
    memcpy(topics, in_topics, topic_count * sizeof(*topics));
    qsort(topics, topic_count, sizeof(*topics), ref_compare_topics);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i;
             j > 0 && ref_compare_members(&members[order[j - 1]], &members[order[j]]) > 0; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    out[0] = '\0';
    size_t pos = 0;
    for (size_t t = 0; t < topic_count; t++) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            if (ref_subscribes(&members[order[i]], topics[t].topic))
                subs[c++] = order[i];
        if (c == 0 || topics[t].partition_count <= 0)
            continue;
        for (int32_t p = 0; p < topics[t].partition_count; p++) {
            size_t m;
            if (range) {
                size_t per = (size_t)topics[t].partition_count / c,
                       extra = (size_t)topics[t].partition_count % c, i = 0;
                while ((size_t)p >= per * (i + 1) + (i + 1 < extra ? i + 1 : extra))
                    i++;
                m = subs[i];
            } else {
                while (!ref_subscribes(&members[order[pos]], topics[t].topic))
                    pos = (pos + 1) % n;
                m = order[pos];
                pos = (pos + 1) % n;
            }
            size_t used = strlen(out);
            snprintf(out + used, size - used, "%zu:%s-%d\n", m, topics[t].topic, (int)p);
        }
    }
}

static int compare_lines(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the lines of text in place (so that output order within a member does not matter). */
static void sort_lines(char *text, char *sorted, size_t size) {
    char *lines[4096];
    size_t n = 0;
    for (char *s = strtok(text, "\n"); s && n < 4096; s = strtok(NULL, "\n"))
        lines[n++] = s;
    qsort(lines, n, sizeof(*lines), compare_lines);
    sorted[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(sorted, lines[i], size - strlen(sorted) - 1);
        strncat(sorted, "\n", size - strlen(sorted) - 1);
    }
}

static void test_same_results_as_reference(void **state) {
    (void)state;
    static const char *const pool[] = {"a", "b", "c", "d", "e", "f", NULL};
    static const char *const ids[] = {"m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"};
    static const char *const instances[] = {NULL, NULL, "i2", "i1", NULL, "i3"};
    static char expected[65536], got[65536], a[65536], b[65536];
    uint32_t seed = 7;
#define RAND(n) ((seed = seed * 1103515245u + 12345u), (size_t)((seed >> 16) % (n)))
    for (int round = 0; round < 3000; round++) {
        size_t n = 1 + RAND(8), topic_count = RAND(7);
        kk_assign_topic_t topics[16];
        const char *subs[8][6];
        kk_assign_member_t members[8];
        for (size_t t = 0; t < topic_count; t++) /* duplicates and absent topics included */
            topics[t] = (kk_assign_topic_t){pool[RAND(6)], (int32_t)RAND(7) - 1};
        for (size_t i = 0; i < n; i++) {
            size_t k = RAND(6);
            for (size_t j = 0; j < k; j++)
                subs[i][j] = pool[RAND(7)]; /* NULL entries and repeats included */
            members[i] = (kk_assign_member_t){ids[RAND(8)], instances[RAND(6)], subs[i], k};
        }
        for (int range = 0; range < 2; range++) {
            ref_assign(range, members, n, topics, topic_count, a, sizeof(a));
            kk_member_assignment_t out[8];
            kk_error_t err;
            assert_int_equal(kk_assign(range ? "range" : "roundrobin", members, n, topics,
                                       topic_count, out, &err),
                             KK_OK);
            b[0] = '\0';
            for (size_t i = 0; i < n; i++)
                for (size_t p = 0; p < out[i].count; p++) {
                    size_t used = strlen(b);
                    snprintf(b + used, sizeof(b) - used, "%zu:%s-%d\n", i,
                             out[i].partitions[p].topic, (int)out[i].partitions[p].partition);
                }
            kk_member_assignments_free(out, n);
            sort_lines(a, expected, sizeof(expected));
            sort_lines(b, got, sizeof(got));
            if (strcmp(expected, got) != 0)
                fail_msg("round %d (%s): expected\n%s\ngot\n%s", round, range ? "range" : "rr",
                         expected, got);
        }
    }
#undef RAND
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_results_as_reference),
        cmocka_unit_test(test_range_many_topics),
        cmocka_unit_test(test_many_members),
        cmocka_unit_test(test_collect_topics),
        cmocka_unit_test(test_take_assignment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
