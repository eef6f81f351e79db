/* Rebalance cost, classic vs KIP-848 (group_protocol consumer), side by side: while a
 * producer writes to a 12-partition topic and member A consumes, member B joins and later
 * leaves. For each change: the time until every partition is owned again (B's start or close
 * until the members' claims add up to all partitions, B holding some after a join) and the
 * longest pause between A's batches in that window. Not a test: figures only.
 * process_ms: how long each batch takes to process (a slow member makes a classic rebalance
 * wait for it; KIP-848 does not).
 *   KAFKETTE_BOOTSTRAP=$(script/kafka start) build/bench/kafkette-rebalance_bench [rounds]
 *   [process_ms] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkette.h"

enum { PARTS = 12 };

static const char *bootstrap;
static int process_ms;

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
        if (process_ms > 0)
            sleep_ms(process_ms);
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
        kk_message_t msgs[PARTS];
        for (int i = 0; i < PARTS; i++)
            msgs[i] = (kk_message_t){.topic = topic, .value = "x", .value_len = 1, .partition = i};
        kk_producer_send(p, msgs, PARTS, &err);
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

static void run(kk_group_protocol_t protocol, int rounds, double out[4]) {
    char topic[64], group[80];
    snprintf(topic, sizeof(topic), "rebalance-bench-%lld", (long long)now_ms());
    snprintf(group, sizeof(group), "%s-%s", topic,
             protocol == KK_GROUP_PROTOCOL_CONSUMER ? "kip848" : "classic");
    kk_client_config_t ccfg;
    kk_client_config_init(&ccfg);
    ccfg.bootstrap_servers = bootstrap;
    kk_error_t err;
    kk_client_t *c = kk_client_new(&ccfg, &err);
    if (!c || kk_client_create_topic(c, topic, PARTS, 1, NULL, 0, 20000, &err) != KK_OK) {
        fprintf(stderr, "create topic: %s\n", err.message);
        exit(1);
    }
    kk_client_free(c);
    atomic_store(&producing, true);
    pthread_t producer;
    pthread_create(&producer, NULL, producer_main, topic);
    member_t a = {.group = group, .topic = topic, .protocol = protocol};
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

int main(int argc, char **argv) {
    bootstrap = getenv("KAFKETTE_BOOTSTRAP");
    if (!bootstrap) {
        fprintf(stderr, "set KAFKETTE_BOOTSTRAP (script/kafka start)\n");
        return 2;
    }
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
