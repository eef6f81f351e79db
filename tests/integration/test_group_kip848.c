/* KIP-848 consumer groups (group_protocol consumer) and static membership against the real
 * broker. script/kafka starts it with group.consumer.session.timeout.ms=10000 and a 1 s
 * heartbeat interval (the 4.x defaults are 45 s and 5 s), so these tests take seconds:
 *   - three members join one by one and leave one by one while a producer writes numbered
 *     records: every record is processed exactly once (commits after each batch), and the
 *     members that keep partitions never stop for long;
 *   - a member that stops (SIGSTOP) is fenced; its partitions move; when it comes back it
 *     processes nothing another member processed;
 *   - static membership: a member that closes and comes back under the same instance id gets
 *     the same partitions and the other member's partitions never move (both protocols);
 *   - pause and seek survive rebalances that keep the partition (both protocols): a member
 *     pauses and seeks every partition, a second member joins and leaves; the partitions the
 *     first kept are still paused (not fetched while new records arrive), and once resumed
 *     each starts at the sought offset rather than the committed one;
 *   - OffsetFetch v9 names the member: the coordinator answers the member's id and epoch,
 *     refuses a stale epoch (STALE_MEMBER_EPOCH) and an unknown id (UNKNOWN_MEMBER_ID);
 *   - a mixed group with a confluent-kafka member (group.protocol=consumer), when installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_env.h"
#include "client.h"
#include "connection.h"
#include "kafkette.h"
#include "protocol_group.h"

enum { SESSION_MS = 10000, PARTS = 6, MAX_RECORDS = 20000, MAX_MEMBERS = 4 };

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void quiet_log(void *opaque, kk_log_level_t level, const char *message) {
    (void)opaque;
    if (getenv("KK_TEST_VERBOSE") || level <= KK_LOG_WARNING)
        fprintf(stderr, "  [group] %s\n", message);
}

static void count_move(void *opaque, const kk_topic_partition_t *parts, size_t n) {
    (void)parts;
    if (opaque)
        atomic_fetch_add((atomic_int *)opaque, (int)n);
}

static kk_group_t *new_member(const char *group, const char *topic, kk_group_protocol_t protocol,
                              const char *instance_id, atomic_int *moves) {
    static const char *topics[1];
    topics[0] = topic;
    kk_group_config_t cfg;
    kk_group_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.client.log_cb = quiet_log;
    cfg.group_id = group;
    cfg.topics = topics;
    cfg.topic_count = 1;
    cfg.group_protocol = protocol;
    cfg.group_instance_id = instance_id;
    cfg.session_timeout_ms = protocol == KK_GROUP_PROTOCOL_CLASSIC ? 6000 : SESSION_MS;
    cfg.heartbeat_interval_ms = 1000;
    cfg.rebalance_timeout_ms = 10000;
    cfg.auto_commit_interval_ms = 0; /* commits after each batch, by hand */
    cfg.on_assign = count_move;
    cfg.on_revoke = count_move;
    cfg.rebalance_opaque = moves;
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    if (!g)
        fail_msg("kk_group_new: %s", err.message);
    return g;
}

/* ---- a producer of numbered records ------------------------------------------------------- */

typedef struct producer_run {
    const char *topic;
    int total;
    int pace_ms; /* between batches of PARTS records */
    atomic_int written;
} producer_run_t;

static void *produce_numbered(void *arg) {
    producer_run_t *run = arg;
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    assert_non_null(p);
    char values[PARTS][16];
    for (int n = 0; n < run->total; n += PARTS) {
        kk_message_t msgs[PARTS];
        size_t count = 0;
        for (int i = 0; i < PARTS && n + i < run->total; i++) {
            snprintf(values[i], sizeof(values[i]), "%d", n + i);
            msgs[count++] = (kk_message_t){.topic = run->topic,
                                           .value = values[i],
                                           .value_len = strlen(values[i]),
                                           .partition = (n + i) % PARTS};
        }
        if (kk_producer_send(p, msgs, count, &err) != KK_OK)
            fail_msg("produce: %s", err.message);
        atomic_store(&run->written, n + (int)count);
        sleep_ms(run->pace_ms);
    }
    kk_producer_free(p);
    return NULL;
}

/* ---- members on threads ------------------------------------------------------------------- */

typedef struct shared {
    pthread_mutex_t lock;
    int processed[MAX_RECORDS]; /* how often each numbered record was processed */
    atomic_int processed_total;
} shared_t;

typedef struct member {
    const char *group, *topic;
    kk_group_protocol_t protocol;
    const char *instance_id;
    shared_t *shared;
    atomic_bool stop;
    atomic_bool kill; /* stop without closing, as a crash would */
    atomic_bool running;
    atomic_int moves;          /* partitions assigned or revoked (callbacks) */
    int32_t partitions[PARTS]; /* the claims, when the thread ended */
    size_t partition_count;
    /* what the test reads */
    atomic_int claimed;
    atomic_llong longest_gap_ms; /* between batches, once it has had one */
    atomic_llong gap_from_ms;    /* measure gaps only after this time */
    atomic_int batches;
    pthread_t thread;
} member_t;

static void *member_main(void *arg) {
    member_t *m = arg;
    kk_group_t *g = new_member(m->group, m->topic, m->protocol, m->instance_id, &m->moves);
    kk_error_t err;
    int64_t last_batch = -1;
    while (!atomic_load(&m->stop)) {
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        int rc = kk_group_poll(g, 100, &b, &tp, &err);
        if (rc != KK_OK)
            fail_msg("poll: %s", err.message);
        atomic_store(&m->claimed, (int)kk_group_claimed(g, NULL, 0));
        int64_t t = now_ms();
        if (!b) {
            if (kk_group_claimed(g, NULL, 0) == 0)
                last_batch = -1; /* nothing to fetch is no gap */
            continue;
        }
        if (last_batch >= 0 && last_batch >= atomic_load(&m->gap_from_ms) &&
            t - last_batch > atomic_load(&m->longest_gap_ms))
            atomic_store(&m->longest_gap_ms, t - last_batch);
        last_batch = t;
        atomic_fetch_add(&m->batches, 1);
        pthread_mutex_lock(&m->shared->lock);
        for (size_t i = 0; i < b->count; i++) {
            int n = atoi((const char *)b->messages[i].value);
            if (n >= 0 && n < MAX_RECORDS)
                m->shared->processed[n]++;
        }
        pthread_mutex_unlock(&m->shared->lock);
        atomic_fetch_add(&m->shared->processed_total, (int)b->count);
        int64_t next = b->messages[b->count - 1].offset + 1;
        kk_fetch_batch_free(b);
        rc = kk_group_commit(g, tp.topic, tp.partition, next, &err);
        if (rc != KK_OK)
            fail_msg("commit %s[%d]: %s", tp.topic, (int)tp.partition, err.message);
    }
    kk_topic_partition_t claimed[PARTS];
    m->partition_count = kk_group_claimed(g, claimed, PARTS);
    for (size_t i = 0; i < m->partition_count && i < PARTS; i++)
        m->partitions[i] = claimed[i].partition;
    if (!atomic_load(&m->kill) && kk_group_close(g, &err) != KK_OK)
        fail_msg("close: %s", err.message);
    kk_group_free(g);
    atomic_store(&m->running, false);
    return NULL;
}

static void start_member(member_t *m) {
    atomic_store(&m->stop, false);
    atomic_store(&m->kill, false);
    atomic_store(&m->running, true);
    atomic_store(&m->claimed, 0);
    atomic_store(&m->longest_gap_ms, 0);
    atomic_store(&m->gap_from_ms, INT64_MAX);
    assert_int_equal(pthread_create(&m->thread, NULL, member_main, m), 0);
}

static void stop_member(member_t *m) {
    atomic_store(&m->stop, true);
    pthread_join(m->thread, NULL);
}

static int total_claimed(member_t *ms, int n) {
    int total = 0;
    for (int i = 0; i < n; i++)
        if (atomic_load(&ms[i].running) && !atomic_load(&ms[i].stop))
            total += atomic_load(&ms[i].claimed);
    return total;
}

/* Waits until the running members claim every partition and each of them at least one. */
static void wait_balanced(member_t *ms, int n, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        bool each = true;
        for (int i = 0; i < n; i++)
            if (atomic_load(&ms[i].running) && !atomic_load(&ms[i].stop) &&
                atomic_load(&ms[i].claimed) == 0)
                each = false;
        if (each && total_claimed(ms, n) == PARTS)
            return;
        if (now_ms() > deadline)
            fail_msg("the group did not settle in %d ms (%d of %d partitions claimed)", timeout_ms,
                     total_claimed(ms, n), PARTS);
        sleep_ms(50);
    }
}

/* ---- three members join and leave one by one ---------------------------------------------- */

static void join_and_leave(kk_group_protocol_t protocol, const char *name) {
    char topic[128], group[160];
    snprintf(topic, sizeof(topic), "%s", kk_test_unique_topic(name));
    snprintf(group, sizeof(group), "%s-group", topic);
    kk_test_create_topic(topic, PARTS);
    static shared_t shared;
    memset(&shared, 0, sizeof(shared));
    pthread_mutex_init(&shared.lock, NULL);
    producer_run_t run = {.topic = topic, .total = 6000, .pace_ms = 10};
    atomic_store(&run.written, 0);
    member_t ms[3];
    memset(ms, 0, sizeof(ms));
    for (int i = 0; i < 3; i++)
        ms[i] = (member_t){.group = group, .topic = topic, .protocol = protocol, .shared = &shared};
    pthread_t producer;
    assert_int_equal(pthread_create(&producer, NULL, produce_numbered, &run), 0);

    start_member(&ms[0]);
    wait_balanced(ms, 1, 30000);
    atomic_store(&ms[0].gap_from_ms, now_ms());
    for (int i = 1; i < 3; i++) { /* join one by one */
        start_member(&ms[i]);
        wait_balanced(ms, i + 1, 30000);
        sleep_ms(1500);
        atomic_store(&ms[i].gap_from_ms, now_ms());
    }
    for (int i = 2; i >= 1; i--) { /* leave one by one */
        stop_member(&ms[i]);
        wait_balanced(ms, i, 30000);
        sleep_ms(1500);
    }
    pthread_join(producer, NULL);
    int64_t deadline = now_ms() + 30000;
    while (atomic_load(&shared.processed_total) < run.total && now_ms() < deadline)
        sleep_ms(50);
    long long gap0 = atomic_load(&ms[0].longest_gap_ms);
    long long gap1 = atomic_load(&ms[1].longest_gap_ms);
    stop_member(&ms[0]);
    int missing = 0, twice = 0;
    for (int n = 0; n < run.total; n++) {
        missing += shared.processed[n] == 0;
        twice += shared.processed[n] > 1;
    }
    fprintf(stderr,
            "  %s: %d records, %d missing, %d processed twice; longest pause between batches "
            "of a member that stayed: %lld ms (first member), %lld ms (second)\n",
            name, run.total, missing, twice, gap0, gap1);
    assert_int_equal(missing, 0);
    assert_int_equal(twice, 0);
    if (protocol == KK_GROUP_PROTOCOL_CONSUMER) {
        /* members that keep partitions never stop for a rebalance */
        assert_true(gap0 < SESSION_MS / 2);
        assert_true(gap1 < SESSION_MS / 2);
    }
}

static void test_kip848_join_leave_exactly_once(void **state) {
    (void)state;
    join_and_leave(KK_GROUP_PROTOCOL_CONSUMER, "kip848-join-leave");
}

/* ---- fencing --------------------------------------------------------------------------------- */

/* A member process: logs "P <record> <time the poll returned it>" for every record it
 * processes, commits after each batch, closes when stop_path exists. */
static void run_child_member(const char *group, const char *topic, const char *log_path,
                             const char *stop_path) {
    FILE *log = fopen(log_path, "w");
    if (!log)
        _exit(2);
    kk_group_t *g = new_member(group, topic, KK_GROUP_PROTOCOL_CONSUMER, NULL, NULL);
    kk_error_t err;
    while (access(stop_path, F_OK) != 0) {
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        if (kk_group_poll(g, 100, &b, &tp, &err) != KK_OK) {
            fprintf(log, "X %s\n", err.message);
            _exit(1);
        }
        int64_t t = now_ms();
        if (!b)
            continue;
        for (size_t i = 0; i < b->count; i++)
            fprintf(log, "P %d %lld\n", atoi((const char *)b->messages[i].value), (long long)t);
        fflush(log);
        int64_t next = b->messages[b->count - 1].offset + 1;
        kk_fetch_batch_free(b);
        int rc = kk_group_commit(g, tp.topic, tp.partition, next, &err);
        if (rc != KK_OK && rc != KK_ERR_NOT_ASSIGNED) {
            fprintf(log, "X commit: %s\n", err.message);
            _exit(1);
        }
    }
    kk_group_close(g, &err);
    kk_group_free(g);
    fclose(log);
    _exit(0);
}

static void wait_claimed(member_t *m, int want, int timeout_ms, const char *what) {
    int64_t deadline = now_ms() + timeout_ms;
    while (atomic_load(&m->claimed) != want) {
        if (now_ms() > deadline)
            fail_msg("%s: %d partitions claimed after %d ms, expected %d", what,
                     atomic_load(&m->claimed), timeout_ms, want);
        sleep_ms(50);
    }
}

static void test_kip848_fenced_member(void **state) {
    (void)state;
    char topic[128], group[160], log_path[200], stop_path[200];
    snprintf(topic, sizeof(topic), "%s", kk_test_unique_topic("kip848-fence"));
    snprintf(group, sizeof(group), "%s-group", topic);
    snprintf(log_path, sizeof(log_path), "/tmp/%s.log", topic);
    snprintf(stop_path, sizeof(stop_path), "/tmp/%s.stop", topic);
    kk_test_create_topic(topic, PARTS);
    pid_t child = fork(); /* before any thread starts */
    assert_true(child >= 0);
    if (child == 0)
        run_child_member(group, topic, log_path, stop_path);
    static shared_t shared;
    memset(&shared, 0, sizeof(shared));
    pthread_mutex_init(&shared.lock, NULL);
    producer_run_t run = {.topic = topic, .total = 7200, .pace_ms = 25};
    pthread_t producer;
    assert_int_equal(pthread_create(&producer, NULL, produce_numbered, &run), 0);
    member_t b = {
        .group = group, .topic = topic, .protocol = KK_GROUP_PROTOCOL_CONSUMER, .shared = &shared};
    start_member(&b);
    wait_claimed(&b, PARTS / 2, 30000, "sharing with the child");
    sleep_ms(500);
    kill(child, SIGSTOP); /* it stops heartbeating (both threads) */
    int64_t stopped = now_ms();
    wait_claimed(&b, PARTS, SESSION_MS + 10000, "after the child was fenced");
    int64_t moved = now_ms();
    sleep_ms(1000); /* the survivor processes and commits the child's partitions */
    int64_t resumed = now_ms();
    kill(child, SIGCONT);
    wait_claimed(&b, PARTS / 2, 30000, "after the child came back");
    pthread_join(producer, NULL);
    int64_t deadline = now_ms() + 30000;
    int child_after = 0, overlap = 0, processed_by_child = 0;
    for (;;) { /* until every record was processed by one of them */
        static int by_child[MAX_RECORDS];
        memset(by_child, 0, sizeof(by_child));
        child_after = overlap = processed_by_child = 0;
        FILE *f = fopen(log_path, "r");
        assert_non_null(f);
        char line[256];
        int n;
        long long t;
        while (fgets(line, sizeof(line), f)) {
            if (line[0] == 'X')
                fail_msg("child: %s", line);
            if (sscanf(line, "P %d %lld", &n, &t) != 2 || n < 0 || n >= MAX_RECORDS)
                continue;
            by_child[n]++;
            processed_by_child++;
            if (t >= resumed) {
                child_after++;
                pthread_mutex_lock(&shared.lock);
                overlap += shared.processed[n] > 0;
                pthread_mutex_unlock(&shared.lock);
            }
        }
        fclose(f);
        int missing = 0;
        pthread_mutex_lock(&shared.lock);
        for (int i = 0; i < run.total; i++)
            missing += shared.processed[i] + by_child[i] == 0;
        pthread_mutex_unlock(&shared.lock);
        if (missing == 0)
            break;
        if (now_ms() > deadline)
            fail_msg("%d records were never processed", missing);
        sleep_ms(200);
    }
    FILE *stop = fopen(stop_path, "w");
    assert_non_null(stop);
    fclose(stop);
    int status = 0;
    waitpid(child, &status, 0);
    stop_member(&b);
    unlink(log_path);
    unlink(stop_path);
    fprintf(stderr,
            "  fenced: partitions moved %lld ms after the member stopped; after coming back it "
            "processed %d records, %d of them already processed by the survivor\n",
            (long long)(moved - stopped), child_after, overlap);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(child_after > 0); /* it did come back and take part */
    assert_int_equal(overlap, 0);
}

/* ---- static membership ------------------------------------------------------------------------
 */

static void static_restart(kk_group_protocol_t protocol, bool crash, const char *name) {
    char topic[128], group[160];
    snprintf(topic, sizeof(topic), "%s", kk_test_unique_topic(name));
    snprintf(group, sizeof(group), "%s-group", topic);
    kk_test_create_topic(topic, PARTS);
    static shared_t shared;
    memset(&shared, 0, sizeof(shared));
    pthread_mutex_init(&shared.lock, NULL);
    member_t ms[2];
    memset(ms, 0, sizeof(ms));
    const char *ids[] = {"static-1", "static-2"};
    for (int i = 0; i < 2; i++)
        ms[i] = (member_t){.group = group,
                           .topic = topic,
                           .protocol = protocol,
                           .instance_id = ids[i],
                           .shared = &shared};
    start_member(&ms[0]);
    start_member(&ms[1]);
    wait_balanced(ms, 2, 30000);
    sleep_ms(2000); /* settled */
    atomic_store(&ms[1].moves, 0);
    /* the first member goes away and comes back under the same instance id */
    atomic_store(&ms[0].kill, crash);
    stop_member(&ms[0]);
    int32_t before[PARTS];
    size_t before_count = ms[0].partition_count;
    memcpy(before, ms[0].partitions, sizeof(before));
    atomic_store(&ms[0].moves, 0);
    start_member(&ms[0]);
    int64_t deadline = now_ms() + 20000;
    while (atomic_load(&ms[0].claimed) == 0 && now_ms() < deadline)
        sleep_ms(50);
    sleep_ms(3000);
    int other_moves = atomic_load(&ms[1].moves);
    stop_member(&ms[0]);
    stop_member(&ms[1]);
    fprintf(stderr,
            "  %s: restarted member had %zu partition(s), has %zu; the other member saw %d "
            "partition move(s)\n",
            name, before_count, ms[0].partition_count, other_moves);
    assert_int_equal(other_moves, 0);
    assert_int_equal(ms[0].partition_count, before_count);
    assert_memory_equal(ms[0].partitions, before, before_count * sizeof(int32_t));
}

static void test_kip848_static_close_and_return(void **state) {
    (void)state;
    static_restart(KK_GROUP_PROTOCOL_CONSUMER, false, "kip848-static");
}

static void test_classic_static_crash_and_return(void **state) {
    (void)state;
    static_restart(KK_GROUP_PROTOCOL_CLASSIC, true, "classic-static");
}

/* ---- pause and seek through rebalances ------------------------------------------------------
 */

/* Polls a until cond(a, arg) holds, failing on any batch (everything is paused or consumed). */
static void drive_idle(kk_group_t *a, bool (*cond)(kk_group_t *, void *), void *arg, int timeout_ms,
                       const char *what) {
    int64_t deadline = now_ms() + timeout_ms;
    while (!cond(a, arg)) {
        if (now_ms() > deadline)
            fail_msg("%s: not within %d ms", what, timeout_ms);
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        kk_error_t err;
        if (kk_group_poll(a, 100, &b, &tp, &err) != KK_OK)
            fail_msg("poll: %s", err.message);
        if (b)
            fail_msg("%s: a batch of %s[%d] at offset %lld arrived", what, tp.topic,
                     (int)tp.partition, (long long)b->messages[0].offset);
    }
}

static bool shared_with(kk_group_t *a, void *arg) {
    member_t *b = arg;
    int mine = (int)kk_group_claimed(a, NULL, 0);
    return mine > 0 && mine < PARTS && mine + atomic_load(&b->claimed) == PARTS;
}

static bool owns_all(kk_group_t *a, void *arg) {
    (void)arg;
    return kk_group_claimed(a, NULL, 0) == PARTS;
}

static bool until_time(kk_group_t *a, void *arg) {
    (void)a;
    return now_ms() >= *(int64_t *)arg;
}

/* Which partitions are paused, as a bit set. */
static unsigned paused_set(kk_group_t *a) {
    kk_topic_partition_t parts[PARTS];
    size_t n = kk_group_paused(a, parts, PARTS);
    assert_true(n <= PARTS);
    unsigned set = 0;
    for (size_t i = 0; i < n; i++)
        set |= 1u << parts[i].partition;
    return set;
}

static void pause_seek_through_rebalances(kk_group_protocol_t protocol, const char *name) {
    enum { PER_PARTITION = 10, SOUGHT = 3 };
    char topic[128], group[160];
    snprintf(topic, sizeof(topic), "%s", kk_test_unique_topic(name));
    snprintf(group, sizeof(group), "%s-group", topic);
    kk_test_create_topic(topic, PARTS);
    producer_run_t run = {.topic = topic, .total = PARTS * PER_PARTITION, .pace_ms = 0};
    produce_numbered(&run);
    kk_group_t *a = new_member(group, topic, protocol, NULL, NULL);
    kk_error_t err;
    /* consume and commit everything: the committed offset of every partition is 10 */
    int got = 0;
    int64_t deadline = now_ms() + 30000;
    while (got < run.total && now_ms() < deadline) {
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        if (kk_group_poll(a, 200, &b, &tp, &err) != KK_OK)
            fail_msg("poll: %s", err.message);
        if (!b)
            continue;
        got += (int)b->count;
        int64_t next = b->messages[b->count - 1].offset + 1;
        kk_fetch_batch_free(b);
        if (kk_group_commit(a, tp.topic, tp.partition, next, &err) != KK_OK)
            fail_msg("commit: %s", err.message);
    }
    assert_int_equal(got, run.total);
    assert_int_equal(kk_group_claimed(a, NULL, 0), PARTS);
    /* pause and seek every partition */
    assert_int_equal(kk_group_pause(a, topic, PARTS, &err), KK_ERR_NOT_ASSIGNED);
    assert_int_equal(kk_group_seek(a, topic, PARTS, SOUGHT, &err), KK_ERR_NOT_ASSIGNED);
    for (int p = 0; p < PARTS; p++) {
        assert_int_equal(kk_group_pause(a, topic, p, &err), KK_OK);
        assert_int_equal(kk_group_seek(a, topic, p, SOUGHT, &err), KK_OK);
    }
    assert_int_equal(paused_set(a), (1u << PARTS) - 1);

    /* a second member joins: a keeps some partitions, still paused */
    static shared_t shared;
    memset(&shared, 0, sizeof(shared));
    pthread_mutex_init(&shared.lock, NULL);
    member_t b = {.group = group, .topic = topic, .protocol = protocol, .shared = &shared};
    start_member(&b);
    drive_idle(a, shared_with, &b, 30000, "sharing with a second member");
    kk_topic_partition_t claimed[PARTS];
    size_t kept_count = kk_group_claimed(a, claimed, PARTS);
    unsigned kept = 0;
    for (size_t i = 0; i < kept_count; i++)
        kept |= 1u << claimed[i].partition;
    assert_int_equal(paused_set(a), kept);
    /* ... and leaves: a owns everything again; what it kept is still paused */
    stop_member(&b);
    drive_idle(a, owns_all, NULL, 30000, "owning everything again");
    assert_int_equal(paused_set(a), kept);

    /* new records everywhere: the paused partitions are not fetched */
    produce_numbered(&run);
    int64_t first[PARTS];
    for (int p = 0; p < PARTS; p++)
        first[p] = -1;
    int64_t until = now_ms() + 2000;
    while (!until_time(a, &until)) {
        kk_fetch_batch_t *batch = NULL;
        kk_topic_partition_t tp;
        if (kk_group_poll(a, 100, &batch, &tp, &err) != KK_OK)
            fail_msg("poll: %s", err.message);
        if (!batch)
            continue;
        if (kept & (1u << tp.partition))
            fail_msg("paused partition %d was fetched", (int)tp.partition);
        if (first[tp.partition] < 0)
            first[tp.partition] = batch->messages[0].offset;
        kk_fetch_batch_free(batch);
    }
    /* resumed, each kept partition starts at the sought offset, not the committed 10 */
    for (int p = 0; p < PARTS; p++)
        if (kept & (1u << p))
            assert_int_equal(kk_group_resume(a, topic, p, &err), KK_OK);
    assert_int_equal(paused_set(a), 0);
    deadline = now_ms() + 20000;
    for (;;) {
        bool all = true;
        for (int p = 0; p < PARTS; p++)
            all &= first[p] >= 0;
        if (all || now_ms() > deadline)
            break;
        kk_fetch_batch_t *batch = NULL;
        kk_topic_partition_t tp;
        if (kk_group_poll(a, 100, &batch, &tp, &err) != KK_OK)
            fail_msg("poll: %s", err.message);
        if (!batch)
            continue;
        if (first[tp.partition] < 0)
            first[tp.partition] = batch->messages[0].offset;
        kk_fetch_batch_free(batch);
    }
    fprintf(stderr,
            "  %s: kept %zu of %d partitions through the join and the leave; first offsets:", name,
            kept_count, PARTS);
    for (int p = 0; p < PARTS; p++)
        fprintf(stderr, " %d:%lld%s", p, (long long)first[p], kept & (1u << p) ? "*" : "");
    fprintf(stderr, " (* kept)\n");
    for (int p = 0; p < PARTS; p++)
        assert_int_equal(first[p], kept & (1u << p) ? SOUGHT : PER_PARTITION);
    assert_int_equal(kk_group_close(a, &err), KK_OK);
    kk_group_free(a);
}

static void test_kip848_pause_seek_survive_rebalance(void **state) {
    (void)state;
    pause_seek_through_rebalances(KK_GROUP_PROTOCOL_CONSUMER, "kip848-pause-seek");
}

static void test_classic_pause_seek_survive_rebalance(void **state) {
    (void)state;
    pause_seek_through_rebalances(KK_GROUP_PROTOCOL_CLASSIC, "classic-pause-seek");
}

/* ---- OffsetFetch v9 ------------------------------------------------------------------------ */

/* One OffsetFetch on conn; the group-level error, and the offset of (topic, 0) in *offset. */
static int offset_fetch_as(kk_conn_t *conn, int16_t version, const char *group, const char *member,
                           int32_t epoch, const char *topic, int64_t *offset) {
    kk_topic_partition_t tp = {topic, 0};
    kk_writer_t *w = kk_conn_begin(conn, KK_API_OFFSET_FETCH, version);
    kk_encode_offset_fetch_member_request(w, version, group, member, epoch, &tp, 1, false);
    kk_reader_t r;
    kk_error_t err;
    if (kk_conn_roundtrip(conn, &r, &err) != KK_OK)
        fail_msg("OffsetFetch v%d: %s", (int)version, err.message);
    kk_partition_offsets_t res;
    if (kk_decode_offset_fetch_response(&r, version, &res, &err) != KK_OK)
        fail_msg("OffsetFetch v%d: %s", (int)version, err.message);
    *offset = res.count == 1 && res.partitions[0].error_code == 0 ? res.partitions[0].offset : -2;
    int code = res.error_code;
    kk_partition_offsets_free(&res);
    return code;
}

static void test_kip848_offset_fetch_names_the_member(void **state) {
    (void)state;
    char topic[128], group[160];
    snprintf(topic, sizeof(topic), "%s", kk_test_unique_topic("kip848-offset-fetch"));
    snprintf(group, sizeof(group), "%s-group", topic);
    kk_test_create_topic(topic, 1);
    kk_group_t *g = new_member(group, topic, KK_GROUP_PROTOCOL_CONSUMER, NULL, NULL);
    kk_error_t err;
    int64_t deadline = now_ms() + 30000;
    while (kk_group_claimed(g, NULL, 0) == 0 && now_ms() < deadline) {
        kk_fetch_batch_t *b = NULL;
        if (kk_group_poll(g, 100, &b, NULL, &err) != KK_OK)
            fail_msg("poll: %s", err.message);
        kk_fetch_batch_free(b);
    }
    assert_int_equal(kk_group_claimed(g, NULL, 0), 1);
    assert_int_equal(kk_group_commit(g, topic, 0, 5, &err), KK_OK);
    int64_t offset = -1;
    assert_int_equal(kk_group_committed(g, topic, 0, &offset, &err), KK_OK); /* v9, as a member */
    assert_int_equal(offset, 5);

    /* the same request by hand, on a connection of its own to the (only) broker */
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = kk_test_bootstrap();
    kk_client_t *client = kk_client_new(&cfg, &err);
    assert_non_null(client);
    const char *topics[] = {topic};
    kk_metadata_t *md = NULL;
    if (kk_client_metadata(client, topics, 1, &md, &err) != KK_OK)
        fail_msg("metadata: %s", err.message);
    if (md->broker_count != 1) {
        kk_metadata_free(md);
        kk_client_free(client);
        kk_group_close(g, &err);
        kk_group_free(g);
        skip(); /* which broker coordinates is only certain with one */
    }
    kk_conn_t *conn = NULL;
    if (kk_client_broker_conn(client, md, md->brokers[0].node_id, &conn, &err) != KK_OK)
        fail_msg("connect: %s", err.message);
    kk_metadata_free(md);
    int16_t version = kk_conn_version(conn, KK_API_OFFSET_FETCH);
    assert_int_equal(version, 9);
    const char *member = kk_group_member_id(g);
    int32_t epoch = kk_group_generation(g);
    assert_true(epoch > 0);
    assert_int_equal(offset_fetch_as(conn, 9, group, member, epoch, topic, &offset), 0);
    assert_int_equal(offset, 5);
    assert_int_equal(offset_fetch_as(conn, 9, group, member, epoch + 7, topic, &offset), 113);
    assert_int_equal(offset_fetch_as(conn, 9, group, "nobody", epoch, topic, &offset), 25);
    /* v7 (and v9 without a member) check nothing */
    assert_int_equal(offset_fetch_as(conn, 7, group, NULL, -1, topic, &offset), 0);
    assert_int_equal(offset, 5);
    assert_int_equal(offset_fetch_as(conn, 9, group, NULL, -1, topic, &offset), 0);
    assert_int_equal(offset, 5);
    fprintf(stderr,
            "  OffsetFetch v9 as member epoch %d: offset 5; stale epoch: STALE_MEMBER_EPOCH; "
            "unknown id: UNKNOWN_MEMBER_ID\n",
            (int)epoch);
    kk_client_free(client);
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);
}

int main(void) {
    kk_test_bootstrap();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kip848_join_leave_exactly_once),
        cmocka_unit_test(test_kip848_fenced_member),
        cmocka_unit_test(test_kip848_static_close_and_return),
        cmocka_unit_test(test_classic_static_crash_and_return),
        cmocka_unit_test(test_kip848_pause_seek_survive_rebalance),
        cmocka_unit_test(test_classic_pause_seek_survive_rebalance),
        cmocka_unit_test(test_kip848_offset_fetch_names_the_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
