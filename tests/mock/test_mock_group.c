/* Consumer groups against librdkafka's mock cluster (old protocol versions: JoinGroup v5,
 * SyncGroup v3, Heartbeat v3, LeaveGroup v1, OffsetCommit v7, OffsetFetch v5,
 * FindCoordinator v2) with injected coordinator faults: a coordinator that moves
 * (NOT_COORDINATOR), REBALANCE_IN_PROGRESS and UNKNOWN_MEMBER_ID are handled by finding the
 * coordinator again or rejoining, never returned from kk_group_poll. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kafkette.h"
#include "mock_fixture.h"

/* The mock holds a group's first join for 3 s while the session clock runs, and waits
 * session - 1 s for members to rejoin a rebalance: 3.5 s is about the shortest that works. */
enum { PARTITIONS = 4, PER_PARTITION = 30, SESSION_MS = 3500 };

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static kk_mock_t *start_with_data(const char *topic) {
    char errbuf[256];
    kk_mock_t *m = kk_mock_start(3, errbuf, sizeof(errbuf));
    if (!m)
        fail_msg("mock cluster: %s", errbuf);
    assert_int_equal(kk_mock_create_topic(m, topic, PARTITIONS, 1), 0);
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_mock_bootstrap(m);
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    assert_non_null(p);
    for (int part = 0; part < PARTITIONS; part++) {
        kk_message_t msgs[PER_PARTITION];
        char values[PER_PARTITION][16];
        for (int i = 0; i < PER_PARTITION; i++) {
            snprintf(values[i], sizeof(values[i]), "%d-%d", part, i);
            msgs[i] = (kk_message_t){.topic = topic,
                                     .value = values[i],
                                     .value_len = strlen(values[i]),
                                     .partition = part};
        }
        if (kk_producer_send(p, msgs, PER_PARTITION, &err) != KK_OK)
            fail_msg("produce to the mock: %s", err.message);
    }
    kk_producer_free(p);
    return m;
}

static void produce_more(kk_mock_t *m, const char *topic, int32_t partition, int first, int count) {
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_mock_bootstrap(m);
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    assert_non_null(p);
    for (int i = 0; i < count; i++) {
        char value[16];
        snprintf(value, sizeof(value), "%d-%d", (int)partition, first + i);
        kk_message_t msg = {
            .topic = topic, .value = value, .value_len = strlen(value), .partition = partition};
        if (kk_producer_send(p, &msg, 1, &err) != KK_OK)
            fail_msg("produce to the mock: %s", err.message);
    }
    kk_producer_free(p);
}

typedef struct watch {
    int assigns, revokes;
    size_t last_assigned;
    char log[8192];
} watch_t;

static void on_assign(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    (void)parts;
    watch_t *w = opaque;
    w->assigns++;
    w->last_assigned = n;
}

static void on_revoke(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    (void)parts;
    (void)n;
    watch_t *w = opaque;
    w->revokes++;
}

static void capture_log(void *opaque, kk_log_level_t level, const char *message) {
    (void)level;
    watch_t *w = opaque;
    size_t used = strlen(w->log);
    if (used + 2 < sizeof(w->log))
        snprintf(w->log + used, sizeof(w->log) - used, "%s\n", message);
}

static kk_group_t *group_for(kk_mock_t *m, const char *group, const char *topic, watch_t *w,
                             int auto_commit_ms) {
    static const char *topics[1];
    topics[0] = topic;
    kk_group_config_t cfg;
    kk_group_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_mock_bootstrap(m);
    cfg.client.connect_timeout_ms = 1000;
    cfg.client.request_timeout_ms = 5000;
    cfg.client.log_cb = capture_log;
    cfg.client.log_opaque = w;
    cfg.group_id = group;
    cfg.topics = topics;
    cfg.topic_count = 1;
    cfg.session_timeout_ms = SESSION_MS;
    cfg.heartbeat_interval_ms = 300;
    cfg.rebalance_timeout_ms = 5000;
    cfg.max_wait_ms = 10;
    cfg.retry_backoff_ms = 50;
    cfg.auto_commit_interval_ms = auto_commit_ms;
    cfg.on_assign = on_assign;
    cfg.on_revoke = on_revoke;
    cfg.rebalance_opaque = w;
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    if (!g)
        fail_msg("kk_group_new: %s", err.message);
    return g;
}

/* Polls for ms milliseconds (or until `count` records arrived, when count > 0); every poll
 * must succeed. Records are counted per partition into seen[] (values checked). */
static int poll_for(kk_group_t *g, int ms, int count, int seen[PARTITIONS]) {
    int got = 0;
    int64_t until = now_ms() + ms;
    while (now_ms() < until && (count <= 0 || got < count)) {
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        kk_error_t err;
        if (kk_group_poll(g, 100, &b, &tp, &err) != KK_OK)
            fail_msg("poll raised %s: %s", kk_err_name(err.code), err.message);
        if (!b)
            continue;
        for (size_t i = 0; i < b->count; i++) {
            char expected[16];
            snprintf(expected, sizeof(expected), "%d-%lld", (int)tp.partition,
                     (long long)b->messages[i].offset);
            assert_int_equal(b->messages[i].value_len, strlen(expected));
            assert_memory_equal(b->messages[i].value, expected, strlen(expected));
            if (seen && b->messages[i].offset == seen[tp.partition])
                seen[tp.partition]++;
        }
        got += (int)b->count;
        kk_fetch_batch_free(b);
    }
    return got;
}

/* One poll: records per partition go into first[] (the first offset returned, -1 none) and
 * count[]; returns the generation after the poll, which rejoins before it fetches. */
static int32_t poll_track(kk_group_t *g, int first[PARTITIONS], int count[PARTITIONS]) {
    kk_fetch_batch_t *b = NULL;
    kk_topic_partition_t tp;
    kk_error_t err;
    if (kk_group_poll(g, 100, &b, &tp, &err) != KK_OK)
        fail_msg("poll raised %s: %s", kk_err_name(err.code), err.message);
    if (b) {
        if (first[tp.partition] < 0)
            first[tp.partition] = (int)b->messages[0].offset;
        count[tp.partition] += (int)b->count;
        kk_fetch_batch_free(b);
    }
    return kk_group_generation(g);
}

static void reset_track(int first[PARTITIONS], int count[PARTITIONS]) {
    for (int p = 0; p < PARTITIONS; p++)
        first[p] = -1, count[p] = 0;
}

static int tracked_partitions(const int count[PARTITIONS]) {
    int n = 0;
    for (int p = 0; p < PARTITIONS; p++)
        n += count[p] > 0;
    return n;
}

static void test_join_consume_commit_leave(void **state) {
    (void)state;
    kk_mock_t *m = start_with_data("plain");
    watch_t w = {0};
    kk_group_t *g = group_for(m, "g-plain", "plain", &w, 0);
    int seen[PARTITIONS] = {0};
    assert_int_equal(poll_for(g, 15000, PARTITIONS * PER_PARTITION, seen),
                     PARTITIONS * PER_PARTITION);
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(seen[p], PER_PARTITION);
    assert_int_equal(w.assigns, 1);
    assert_int_equal(w.last_assigned, PARTITIONS);
    assert_true(kk_group_is_leader(g));
    kk_error_t err;
    assert_int_equal(kk_group_commit_consumed(g, &err), KK_OK);
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t offset = -2;
        assert_int_equal(kk_group_committed(g, "plain", p, &offset, &err), KK_OK);
        assert_int_equal(offset, PER_PARTITION);
    }
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    assert_int_equal(w.revokes, 1);
    assert_non_null(strstr(w.log, "left the group"));
    kk_group_free(g);
    kk_mock_stop(m);
}

/* The coordinator moves to another broker while the member is up: the heartbeat thread finds
 * the new one (otherwise the mock would expire the member and the group would rebalance), and
 * commits that meet NOT_COORDINATOR are retried there. */
static void test_coordinator_moves(void **state) {
    (void)state;
    kk_mock_t *m = start_with_data("moving");
    assert_int_equal(kk_mock_coordinator_set(m, "group", "g-moving", 1), 0);
    /* the first join meets a coordinator that is not there yet, then one that moved */
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_JOIN_GROUP, 15, 16), 0);
    watch_t w = {0};
    kk_group_t *g = group_for(m, "g-moving", "moving", &w, 0);
    int seen[PARTITIONS] = {0};
    assert_int_equal(poll_for(g, 15000, PARTITIONS * PER_PARTITION, seen),
                     PARTITIONS * PER_PARTITION);
    assert_non_null(strstr(w.log, "COORDINATOR_NOT_AVAILABLE"));
    assert_non_null(strstr(w.log, "NOT_COORDINATOR"));
    int32_t generation = kk_group_generation(g);

    /* longer than the session timeout: the mock would drop a member whose heartbeats fail */
    assert_int_equal(kk_mock_coordinator_set(m, "group", "g-moving", 2), 0);
    poll_for(g, SESSION_MS + 1500, 0, NULL);
    assert_int_equal(kk_group_generation(g), generation); /* no rebalance: the session lived on */
    assert_int_equal(w.assigns, 1);

    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_OFFSET_COMMIT, 16, 16), 0);
    kk_error_t err;
    assert_int_equal(kk_group_commit(g, "moving", 1, 10, &err), KK_OK);
    int64_t offset = -2;
    assert_int_equal(kk_group_committed(g, "moving", 1, &offset, &err), KK_OK);
    assert_int_equal(offset, 10);

    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);
    kk_mock_stop(m);
}

/* REBALANCE_IN_PROGRESS, then UNKNOWN_MEMBER_ID, on a heartbeat: the member gives its
 * partitions up, rejoins and gets them back, resuming at its commits; poll never fails. */
static void test_heartbeat_errors_rejoin(void **state) {
    (void)state;
    kk_mock_t *m = start_with_data("rebalancing");
    watch_t w = {0};
    kk_group_t *g = group_for(m, "g-rebalancing", "rebalancing", &w, 0);
    int first[PARTITIONS], count[PARTITIONS];
    reset_track(first, count);
    int64_t until = now_ms() + 15000;
    while (tracked_partitions(count) == 0 && now_ms() < until)
        poll_track(g, first, count);
    int committed_part = -1;
    for (int p = 0; p < PARTITIONS; p++)
        if (count[p])
            committed_part = p;
    assert_true(committed_part >= 0);
    assert_int_equal(count[committed_part], PER_PARTITION); /* the mock sends one whole batch */
    kk_error_t err;
    assert_int_equal(kk_group_commit_consumed(g, &err), KK_OK);
    int32_t generation = kk_group_generation(g);

    /* the rejoin happens inside a poll, before it fetches: count from that poll on */
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_HEARTBEAT, 27), 0);
    until = now_ms() + 15000;
    for (;;) {
        int f[PARTITIONS], c[PARTITIONS];
        reset_track(f, c);
        if (poll_track(g, f, c) > generation) {
            memcpy(first, f, sizeof(f));
            memcpy(count, c, sizeof(c));
            break;
        }
        if (now_ms() > until)
            fail_msg("no rejoin 15 s after REBALANCE_IN_PROGRESS");
    }
    assert_int_equal(w.revokes, 1);
    assert_int_equal(w.assigns, 2);
    assert_int_equal(w.last_assigned, PARTITIONS);
    assert_non_null(strstr(w.log, "REBALANCE_IN_PROGRESS"));
    /* after the rejoin: the uncommitted partitions start over at the beginning, the committed
     * one is not read again */
    until = now_ms() + 10000;
    while (tracked_partitions(count) < PARTITIONS - 1 && now_ms() < until)
        poll_track(g, first, count);
    for (int64_t quiet = now_ms() + 300; now_ms() < quiet;)
        poll_track(g, first, count);
    for (int p = 0; p < PARTITIONS; p++) {
        if (p == committed_part) {
            assert_int_equal(count[p], 0);
        } else {
            assert_int_equal(first[p], 0);
            assert_int_equal(count[p], PER_PARTITION);
        }
    }

    /* UNKNOWN_MEMBER_ID: the member starts over with a new id. The mock keeps the old id as a
     * dead member (and the group's leader) until its session expires, so this takes a few
     * rounds; none reaches the application as an error. */
    char old_id[256];
    snprintf(old_id, sizeof(old_id), "%s", kk_group_member_id(g));
    assert_true(old_id[0] != '\0');
    int revokes = w.revokes;
    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_HEARTBEAT, 25), 0);
    until = now_ms() + 25000;
    while ((strcmp(kk_group_member_id(g), old_id) == 0 ||
            kk_group_claimed(g, NULL, 0) != PARTITIONS) &&
           now_ms() < until)
        poll_for(g, 100, 0, NULL);
    assert_string_not_equal(kk_group_member_id(g), old_id);
    assert_int_equal(kk_group_claimed(g, NULL, 0), PARTITIONS);
    assert_true(w.revokes > revokes);
    assert_non_null(strstr(w.log, "UNKNOWN_MEMBER_ID"));
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);
    kk_mock_stop(m);
}

/* A commit after the generation was lost is refused clearly; the next poll rejoins, the
 * records after the last successful commit come again, and commits work again. */
static void test_commit_after_losing_the_generation(void **state) {
    (void)state;
    kk_mock_t *m = start_with_data("lost");
    watch_t w = {0};
    kk_group_t *g = group_for(m, "g-lost", "lost", &w, 0);
    assert_int_equal(poll_for(g, 15000, PARTITIONS * PER_PARTITION, NULL),
                     PARTITIONS * PER_PARTITION);
    kk_error_t err;
    assert_int_equal(kk_group_commit_consumed(g, &err), KK_OK);
    produce_more(m, "lost", 0, PER_PARTITION, 10);
    int seen[PARTITIONS] = {PER_PARTITION, PER_PARTITION, PER_PARTITION, PER_PARTITION};
    assert_int_equal(poll_for(g, 10000, 10, seen), 10);
    int32_t generation = kk_group_generation(g);

    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_OFFSET_COMMIT, 22), 0);
    assert_int_equal(kk_group_commit(g, "lost", 0, PER_PARTITION + 10, &err), KK_ERR_NOT_ASSIGNED);
    assert_non_null(strstr(err.message, "ILLEGAL_GENERATION"));
    assert_int_equal(kk_group_claimed(g, NULL, 0), 0); /* its claims have ended */
    assert_int_equal(kk_group_commit(g, "lost", 0, PER_PARTITION + 10, &err), KK_ERR_NOT_ASSIGNED);
    int64_t offset = -2;
    assert_int_equal(kk_group_committed(g, "lost", 0, &offset, &err), KK_OK);
    assert_int_equal(offset, PER_PARTITION);

    /* the next polls rejoin and deliver partition 0's uncommitted records again */
    seen[0] = PER_PARTITION;
    assert_int_equal(poll_for(g, 15000, 10, seen), 10);
    assert_int_equal(seen[0], PER_PARTITION + 10);
    assert_true(kk_group_generation(g) > generation);
    assert_int_equal(kk_group_claimed(g, NULL, 0), PARTITIONS);
    assert_int_equal(kk_group_commit(g, "lost", 0, PER_PARTITION + 10, &err), KK_OK);
    assert_int_equal(kk_group_committed(g, "lost", 0, &offset, &err), KK_OK);
    assert_int_equal(offset, PER_PARTITION + 10);
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);
    kk_mock_stop(m);
}

/* Auto-commits that meet REBALANCE_IN_PROGRESS rejoin quietly, then commit. */
static void test_auto_commit_errors_rejoin_quietly(void **state) {
    (void)state;
    kk_mock_t *m = start_with_data("auto");
    watch_t w = {0};
    kk_group_t *g = group_for(m, "g-auto", "auto", &w, 200);
    assert_int_equal(poll_for(g, 15000, PARTITIONS * PER_PARTITION, NULL),
                     PARTITIONS * PER_PARTITION);
    kk_error_t err;
    int64_t offset = -2;
    int64_t until = now_ms() + 5000;
    while (offset != PER_PARTITION && now_ms() < until) {
        poll_for(g, 100, 0, NULL);
        assert_int_equal(kk_group_committed(g, "auto", 1, &offset, &err), KK_OK);
    }
    assert_int_equal(offset, PER_PARTITION);
    int32_t generation = kk_group_generation(g);

    assert_int_equal(KK_MOCK_PUSH_ERRORS(m, KK_API_OFFSET_COMMIT, 27), 0);
    produce_more(m, "auto", 1, PER_PARTITION, 10);
    until = now_ms() + 15000;
    while ((kk_group_generation(g) <= generation || offset != PER_PARTITION + 10) &&
           now_ms() < until) {
        poll_for(g, 100, 0, NULL);
        assert_int_equal(kk_group_committed(g, "auto", 1, &offset, &err), KK_OK);
    }
    assert_true(kk_group_generation(g) > generation);
    assert_int_equal(offset, PER_PARTITION + 10);
    assert_non_null(strstr(w.log, "auto-commit failed"));
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);
    kk_mock_stop(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_consume_commit_leave),
        cmocka_unit_test(test_coordinator_moves),
        cmocka_unit_test(test_heartbeat_errors_rejoin),
        cmocka_unit_test(test_commit_after_losing_the_generation),
        cmocka_unit_test(test_auto_commit_errors_rejoin_quietly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
