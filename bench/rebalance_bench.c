/* Rebalance cost, classic vs KIP-848 (group_protocol consumer), side by side: while a
 * producer writes to a 12-partition topic and member A consumes, member B joins and later
 * leaves. For each change: the time until every partition is owned again (B's start or close
 * until the members' claims add up to all partitions, B holding some after a join) and the
 * longest pause between A's batches in that window. Not a test: figures only.
 * process_ms: how long each batch takes to process (a slow member makes a classic rebalance
 * wait for it; KIP-848 does not).
 *   KAFKETTE_BOOTSTRAP=$(script/kafka start) build/bench/kafkette-rebalance_bench [rounds]
 *   [process_ms]
 * The "many" mode: 6 members share 24 partitions, one of them slow (slow_ms per batch); in each
 * round a fast member leaves and a new one joins. For each change: the longest pause between
 * batches of the other fast members (the ones that stay), and the time until every partition
 * is owned again. Under classic the whole group waits for the slow member to rejoin after
 * its batch; under KIP-848 only the moving partitions wait.
 *   build/bench/kafkette-rebalance_bench many [rounds] [slow_ms] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkette.h"

enum { PARTS = 12, MANY_MEMBERS = 6, MANY_PARTS = 24 };

static const char *bootstrap;
static int process_ms;
static int parts = PARTS; /* the topic's partitions */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct member {
    const char *group, *topic;
    kk_group_protocol_t protocol;
    int process_ms; /* per batch */
    atomic_bool stop, running;
    atomic_int claimed;
    atomic_llong last_batch_ms;
    atomic_llong longest_gap_ms; /* since the last reset */
    pthread_t thread;
} member_t;

static void *member_main(void *arg) {
    member_t *m = arg;
    const char *topics[] = {m->topic};
    kk_group_config_t cfg;
    kk_group_config_init(&cfg);
    cfg.client.bootstrap_servers = bootstrap;
    cfg.group_id = m->group;
    cfg.topics = topics;
    cfg.topic_count = 1;
    cfg.group_protocol = m->protocol;
    cfg.session_timeout_ms = 10000;
    cfg.heartbeat_interval_ms = 1000;
    cfg.rebalance_timeout_ms = 10000;
    cfg.auto_commit_interval_ms = 0;
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    if (!g) {
        fprintf(stderr, "kk_group_new: %s\n", err.message);
        exit(1);
    }
    while (!atomic_load(&m->stop)) {
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        if (kk_group_poll(g, 50, &b, &tp, &err) != KK_OK) {
            fprintf(stderr, "poll: %s\n", err.message);
            exit(1);
        }
        atomic_store(&m->claimed, (int)kk_group_claimed(g, NULL, 0));
        if (!b)
            continue;
        int64_t t = now_ms(), last = atomic_load(&m->last_batch_ms);
        if (last > 0 && t - last > atomic_load(&m->longest_gap_ms))
            atomic_store(&m->longest_gap_ms, t - last);
        atomic_store(&m->last_batch_ms, t);
        int64_t next = b->messages[b->count - 1].offset + 1;
        kk_fetch_batch_free(b);
        if (m->process_ms > 0)
            sleep_ms(m->process_ms);
        kk_group_commit(g, tp.topic, tp.partition, next, &err);
    }
    atomic_store(&m->claimed, 0);
    kk_group_close(g, &err);
    kk_group_free(g);
    return NULL;
}

static void start(member_t *m) {
    atomic_store(&m->stop, false);
    atomic_store(&m->claimed, 0);
    atomic_store(&m->last_batch_ms, 0);
    pthread_create(&m->thread, NULL, member_main, m);
}

static atomic_bool producing;

static void *producer_main(void *arg) {
    const char *topic = arg;
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = bootstrap;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    if (!p)
        exit(1);
    while (atomic_load(&producing)) {
        kk_message_t msgs[MANY_PARTS];
        for (int i = 0; i < parts; i++)
            msgs[i] = (kk_message_t){.topic = topic, .value = "x", .value_len = 1, .partition = i};
        kk_producer_send(p, msgs, (size_t)parts, &err);
        sleep_ms(5);
    }
    kk_producer_free(p);
    return NULL;
}

/* Waits until a and b together own every partition (and b some, when b must); the time. */
static int64_t settle(member_t *a, member_t *b, bool b_owns, int64_t since) {
    for (;;) {
        int ca = atomic_load(&a->claimed), cb = b_owns ? atomic_load(&b->claimed) : 0;
        if (ca + cb == PARTS && (!b_owns || cb > 0) && (b_owns || ca == PARTS))
            return now_ms() - since;
        if (now_ms() - since > 60000)
            return -1;
        sleep_ms(2);
    }
}

static void create_bench_topic(const char *topic) {
    kk_client_config_t ccfg;
    kk_client_config_init(&ccfg);
    ccfg.bootstrap_servers = bootstrap;
    kk_error_t err;
    kk_client_t *c = kk_client_new(&ccfg, &err);
    if (!c || kk_client_create_topic(c, topic, parts, 1, NULL, 0, 20000, &err) != KK_OK) {
        fprintf(stderr, "create topic: %s\n", err.message);
        exit(1);
    }
    kk_client_free(c);
}

static void run(kk_group_protocol_t protocol, int rounds, double out[4]) {
    char topic[64], group[80];
    snprintf(topic, sizeof(topic), "rebalance-bench-%lld", (long long)now_ms());
    snprintf(group, sizeof(group), "%s-%s", topic,
             protocol == KK_GROUP_PROTOCOL_CONSUMER ? "kip848" : "classic");
    create_bench_topic(topic);
    atomic_store(&producing, true);
    pthread_t producer;
    pthread_create(&producer, NULL, producer_main, topic);
    member_t a = {.group = group, .topic = topic, .protocol = protocol, .process_ms = process_ms};
    member_t b = a;
    start(&a);
    settle(&a, &b, false, now_ms());
    memset(out, 0, 4 * sizeof(*out));
    for (int r = 0; r < rounds; r++) {
        sleep_ms(1500);
        atomic_store(&a.longest_gap_ms, 0);
        int64_t t0 = now_ms();
        start(&b); /* join */
        out[0] += (double)settle(&a, &b, true, t0) / rounds;
        sleep_ms(1000);
        out[1] += (double)atomic_load(&a.longest_gap_ms) / rounds;
        sleep_ms(500);
        atomic_store(&a.longest_gap_ms, 0);
        t0 = now_ms();
        atomic_store(&b.stop, true); /* leave */
        out[2] += (double)settle(&a, &b, false, t0) / rounds;
        pthread_join(b.thread, NULL);
        sleep_ms(1000);
        out[3] += (double)atomic_load(&a.longest_gap_ms) / rounds;
    }
    atomic_store(&a.stop, true);
    pthread_join(a.thread, NULL);
    atomic_store(&producing, false);
    pthread_join(producer, NULL);
}

/* ---- many members, one slow ----------------------------------------------------------------- */

/* Waits until the running members (all but `skip`, -1: none) own every partition, each some. */
static int64_t settle_many(member_t *ms, int n, int skip, int64_t since) {
    for (;;) {
        int total = 0;
        bool each = true;
        for (int i = 0; i < n; i++) {
            if (i == skip)
                continue;
            int c = atomic_load(&ms[i].claimed);
            total += c;
            each &= c > 0;
        }
        if (total == parts && each)
            return now_ms() - since;
        if (now_ms() - since > 120000)
            return -1;
        sleep_ms(2);
    }
}

/* The longest pause of the fast members other than `moving` since the last reset. */
static long long stayers_pause(member_t *ms, int n, int moving) {
    long long worst = 0;
    for (int i = 1; i < n; i++) /* 0 is the slow member */
        if (i != moving && atomic_load(&ms[i].longest_gap_ms) > worst)
            worst = atomic_load(&ms[i].longest_gap_ms);
    return worst;
}

static void reset_pauses(member_t *ms, int n) {
    for (int i = 0; i < n; i++)
        atomic_store(&ms[i].longest_gap_ms, 0);
}

/* out: leave settle, leave pause, join settle, join pause (means); worst[]: the largest pauses */
static void run_many(kk_group_protocol_t protocol, int rounds, int slow_ms, double out[4],
                     long long worst[2]) {
    char topic[64], group[80];
    snprintf(topic, sizeof(topic), "rebalance-many-%lld", (long long)now_ms());
    snprintf(group, sizeof(group), "%s-%s", topic,
             protocol == KK_GROUP_PROTOCOL_CONSUMER ? "kip848" : "classic");
    create_bench_topic(topic);
    atomic_store(&producing, true);
    pthread_t producer;
    pthread_create(&producer, NULL, producer_main, topic);
    member_t ms[MANY_MEMBERS];
    for (int i = 0; i < MANY_MEMBERS; i++) {
        memset(&ms[i], 0, sizeof(ms[i]));
        ms[i] = (member_t){.group = group, .topic = topic, .protocol = protocol};
        ms[i].process_ms = i == 0 ? slow_ms : 0;
        start(&ms[i]);
    }
    if (settle_many(ms, MANY_MEMBERS, -1, now_ms()) < 0)
        fprintf(stderr, "the group did not settle\n");
    memset(out, 0, 4 * sizeof(*out));
    worst[0] = worst[1] = 0;
    int moving = MANY_MEMBERS - 1;
    for (int r = 0; r < rounds; r++) {
        sleep_ms(3000);
        reset_pauses(ms, MANY_MEMBERS);
        int64_t t0 = now_ms();
        atomic_store(&ms[moving].stop, true); /* a fast member leaves */
        out[0] += (double)settle_many(ms, MANY_MEMBERS, moving, t0) / rounds;
        pthread_join(ms[moving].thread, NULL);
        sleep_ms(1000 + slow_ms);
        long long pause = stayers_pause(ms, MANY_MEMBERS, moving);
        out[1] += (double)pause / rounds;
        worst[0] = pause > worst[0] ? pause : worst[0];
        sleep_ms(2000);
        reset_pauses(ms, MANY_MEMBERS);
        t0 = now_ms();
        start(&ms[moving]); /* and a new one joins */
        out[2] += (double)settle_many(ms, MANY_MEMBERS, -1, t0) / rounds;
        sleep_ms(1000 + slow_ms);
        pause = stayers_pause(ms, MANY_MEMBERS, moving);
        out[3] += (double)pause / rounds;
        worst[1] = pause > worst[1] ? pause : worst[1];
    }
    for (int i = 0; i < MANY_MEMBERS; i++)
        atomic_store(&ms[i].stop, true);
    for (int i = 0; i < MANY_MEMBERS; i++)
        pthread_join(ms[i].thread, NULL);
    atomic_store(&producing, false);
    pthread_join(producer, NULL);
}

static int main_many(int argc, char **argv) {
    int rounds = argc > 2 ? atoi(argv[2]) : 2;
    if (rounds < 1)
        rounds = 1;
    int slow_ms = argc > 3 ? atoi(argv[3]) : 3000;
    parts = MANY_PARTS;
    double classic[4], kip848[4];
    long long classic_worst[2], kip848_worst[2];
    run_many(KK_GROUP_PROTOCOL_CLASSIC, rounds, slow_ms, classic, classic_worst);
    run_many(KK_GROUP_PROTOCOL_CONSUMER, rounds, slow_ms, kip848, kip848_worst);
    printf("rebalance_bench many: %d members (one takes %d ms per batch), %d partitions; a fast "
           "member leaves, a new one joins; mean of %d rounds (ms)\n",
           MANY_MEMBERS, slow_ms, MANY_PARTS, rounds);
    printf("%-52s %10s %10s\n", "", "classic", "kip848");
    const char *rows[] = {"leave: until every partition is owned again",
                          "leave: longest pause of the other fast members",
                          "join: until every partition is owned again",
                          "join: longest pause of the other fast members"};
    for (int i = 0; i < 4; i++)
        printf("%-52s %10.0f %10.0f\n", rows[i], classic[i], kip848[i]);
    printf("%-52s %10lld %10lld\n", "worst pause of the other fast members (any change)",
           classic_worst[0] > classic_worst[1] ? classic_worst[0] : classic_worst[1],
           kip848_worst[0] > kip848_worst[1] ? kip848_worst[0] : kip848_worst[1]);
    return 0;
}

int main(int argc, char **argv) {
    bootstrap = getenv("KAFKETTE_BOOTSTRAP");
    if (!bootstrap) {
        fprintf(stderr, "set KAFKETTE_BOOTSTRAP (script/kafka start)\n");
        return 2;
    }
    if (argc > 1 && strcmp(argv[1], "many") == 0)
        return main_many(argc, argv);
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    if (rounds < 1)
        rounds = 1;
    process_ms = argc > 2 ? atoi(argv[2]) : 0;
    double classic[4], kip848[4];
    run(KK_GROUP_PROTOCOL_CLASSIC, rounds, classic);
    run(KK_GROUP_PROTOCOL_CONSUMER, rounds, kip848);
    printf("rebalance_bench: %d partitions, a member joins and leaves, %d ms per batch, mean of %d "
           "rounds (ms)\n",
           PARTS, process_ms, rounds);
    printf("%-44s %10s %10s\n", "", "classic", "kip848");
    const char *rows[] = {"join: until every partition is owned again",
                          "join: longest pause of the staying member",
                          "leave: until every partition is owned again",
                          "leave: longest pause of the staying member"};
    for (int i = 0; i < 4; i++)
        printf("%-44s %10.0f %10.0f\n", rows[i], classic[i], kip848[i]);
    return 0;
}
