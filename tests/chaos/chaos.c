/*
 * kafkette-chaos: a producer with acks=all sends numbered records to a replicated topic while
 * partition leaders are killed (-9) and restarted, and a consumer group of three members
 * processes the records with a commit after each batch. Afterwards every acknowledged record
 * must be readable (none lost) and none written twice (the producer is idempotent), and the
 * group must have processed every acknowledged record (no gap). Prints the counts; exits 1 when
 * anything acknowledged was lost, duplicated or skipped.
 *
 *   kafkette-chaos --bootstrap H:P,... --kafka-script PATH [--kills N] [--pause-ms MS]
 *                  [--group-protocol classic|consumer]
 *
 * The cluster is the one `script/kafka start --brokers 3` started (KAFKETTE_KAFKA_DIR names
 * its state dir); nodes are killed with `script/kafka stop-node ID --kill` and started again
 * with `start-node`. script/chaos runs a long version; script/test.d/15-cluster a short one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafkette.h"

enum { PARTITIONS = 6, MEMBERS = 3, BATCH = 50, MAX_RECORDS = 2000000 };

typedef struct run {
    const char *bootstrap;
    const char *kafka_script;
    char topic[128];
    char group_id[160];
    atomic_bool stop_producing;
    atomic_bool stop_consuming;
    atomic_int sent;
    atomic_int acknowledged;
    atomic_int send_errors;
    atomic_uchar *acked;     /* [MAX_RECORDS]: 1 when the broker acknowledged seq */
    atomic_uchar *processed; /* [MAX_RECORDS]: how often the group processed seq (capped) */
    atomic_int group_errors;
    kk_group_protocol_t group_protocol;
    atomic_int rebalances;
} run_t;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "chaos: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static kk_client_t *new_client(const run_t *r) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = r->bootstrap;
    kk_error_t err;
    kk_client_t *c = kk_client_new(&cfg, &err);
    if (!c) {
        say("client: %s", err.message);
        exit(2);
    }
    return c;
}

/* ---- producer --------------------------------------------------------------------------- */

static void *produce(void *arg) {
    run_t *r = arg;
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = r->bootstrap;
    cfg.required_acks = -1;
    cfg.max_send_retries = 30;
    cfg.retry_backoff_ms = 250;
    cfg.client.request_timeout_ms = 10000;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    if (!p) {
        say("producer: %s", err.message);
        exit(2);
    }
    char values[BATCH][24];
    kk_message_t msgs[BATCH];
    int seq = 0;
    while (!atomic_load(&r->stop_producing) && seq + BATCH < MAX_RECORDS) {
        for (int i = 0; i < BATCH; i++) {
            int n = snprintf(values[i], sizeof(values[i]), "%d", seq + i);
            msgs[i] = (kk_message_t){.topic = r->topic,
                                     .key = values[i],
                                     .key_len = (size_t)n,
                                     .value = values[i],
                                     .value_len = (size_t)n,
                                     .partition = -1};
        }
        int rc = kk_producer_send(p, msgs, BATCH, &err);
        atomic_fetch_add(&r->sent, BATCH);
        for (int i = 0; i < BATCH; i++) {
            if (msgs[i].error == 0) {
                atomic_store(&r->acked[seq + i], 1);
                atomic_fetch_add(&r->acknowledged, 1);
            }
        }
        if (rc != KK_OK) {
            atomic_fetch_add(&r->send_errors, 1);
            say("send of %d..%d: %s", seq, seq + BATCH - 1, err.message);
            sleep_ms(200);
        }
        seq += BATCH;
    }
    kk_producer_free(p);
    return NULL;
}

/* ---- the group -------------------------------------------------------------------------- */

static void on_assign(void *opaque, const kk_topic_partition_t *parts, size_t count) {
    (void)parts;
    (void)count;
    atomic_fetch_add(&((run_t *)opaque)->rebalances, 1);
}

static void *consume(void *arg) {
    run_t *r = arg;
    kk_group_config_t cfg;
    kk_group_config_init(&cfg);
    cfg.client.bootstrap_servers = r->bootstrap;
    cfg.client.request_timeout_ms = 10000;
    cfg.group_id = r->group_id;
    const char *topics[] = {r->topic};
    cfg.topics = topics;
    cfg.topic_count = 1;
    cfg.session_timeout_ms = 10000;
    cfg.auto_commit_interval_ms = 0; /* a commit after each batch, below */
    cfg.group_protocol = r->group_protocol;
    cfg.on_assign = on_assign;
    cfg.rebalance_opaque = r;
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    if (!g) {
        say("group: %s", err.message);
        exit(2);
    }
    while (!atomic_load(&r->stop_consuming)) {
        kk_fetch_batch_t *batch = NULL;
        kk_topic_partition_t tp;
        int rc = kk_group_poll(g, 500, &batch, &tp, &err);
        if (rc != KK_OK) {
            atomic_fetch_add(&r->group_errors, 1);
            say("group poll: %s", err.message);
            sleep_ms(300);
            continue;
        }
        if (!batch)
            continue;
        for (size_t i = 0; i < batch->count; i++) {
            const kk_fetched_message_t *m = &batch->messages[i];
            char text[24];
            size_t n = m->value_len < sizeof(text) - 1 ? m->value_len : sizeof(text) - 1;
            memcpy(text, m->value, n);
            text[n] = '\0';
            long seq = strtol(text, NULL, 10);
            if (seq >= 0 && seq < MAX_RECORDS && atomic_load(&r->processed[seq]) < 255)
                atomic_fetch_add(&r->processed[seq], 1);
        }
        kk_fetch_batch_free(batch);
        /* a lost partition's commit is refused; its records come again to the new owner */
        if (kk_group_commit_consumed(g, &err) != KK_OK && err.code != KK_ERR_NOT_ASSIGNED)
            say("commit: %s", err.message);
    }
    kk_group_close(g, &err);
    kk_group_free(g);
    return NULL;
}

/* ---- killing leaders -------------------------------------------------------------------- */

/* The node of the group's coordinator, or -1. */
static int32_t coordinator_of(const run_t *r) {
    kk_client_t *c = new_client(r);
    kk_group_description_t *d = NULL;
    kk_error_t err;
    int32_t node = -1;
    if (kk_client_describe_group(c, r->group_id, &d, &err) == KK_OK)
        node = d->coordinator;
    kk_group_description_free(d);
    kk_client_free(c);
    return node;
}

static int32_t leader_of(const run_t *r, int32_t partition) {
    kk_client_t *c = new_client(r);
    kk_metadata_t *md = NULL;
    kk_error_t err;
    int32_t leader = -1;
    const char *topics[] = {r->topic};
    if (kk_client_metadata(c, topics, 1, &md, &err) == KK_OK) {
        const kk_topic_info_t *t = kk_metadata_topic(md, r->topic);
        if (t && (size_t)partition < t->partition_count)
            leader = t->partitions[partition].leader;
    }
    kk_metadata_free(md);
    kk_client_free(c);
    return leader;
}

/* Waits until every partition has its full ISR again (or the deadline passes). */
static bool wait_in_sync(const run_t *r, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        kk_client_t *c = new_client(r);
        kk_metadata_t *md = NULL;
        kk_error_t err;
        const char *topics[] = {r->topic};
        bool synced = false;
        if (kk_client_metadata(c, topics, 1, &md, &err) == KK_OK) {
            const kk_topic_info_t *t = kk_metadata_topic(md, r->topic);
            synced = t && t->partition_count == PARTITIONS;
            for (size_t i = 0; synced && i < t->partition_count; i++)
                synced = t->partitions[i].isr_count == 3 && t->partitions[i].leader >= 0;
        }
        kk_metadata_free(md);
        kk_client_free(c);
        if (synced)
            return true;
        sleep_ms(500);
    }
    return false;
}

static int run_script(const run_t *r, const char *verb, int32_t node, const char *extra) {
    char command[1024];
    snprintf(command, sizeof(command), "%s %s %d %s >&2", r->kafka_script, verb, (int)node, extra);
    return system(command);
}

int main(int argc, char **argv) {
    run_t *r = calloc(1, sizeof(*r));
    int kills = 3, pause_ms = 3000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bootstrap") == 0 && i + 1 < argc)
            r->bootstrap = argv[++i];
        else if (strcmp(argv[i], "--kafka-script") == 0 && i + 1 < argc)
            r->kafka_script = argv[++i];
        else if (strcmp(argv[i], "--kills") == 0 && i + 1 < argc)
            kills = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pause-ms") == 0 && i + 1 < argc)
            pause_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--group-protocol") == 0 && i + 1 < argc)
            r->group_protocol = strcmp(argv[++i], "consumer") == 0 ? KK_GROUP_PROTOCOL_CONSUMER
                                                                   : KK_GROUP_PROTOCOL_CLASSIC;
        else {
            fprintf(stderr,
                    "usage: %s --bootstrap H:P,... --kafka-script PATH [--kills N] "
                    "[--pause-ms MS] [--group-protocol classic|consumer]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!r->bootstrap || !r->kafka_script) {
        fprintf(stderr, "kafkette-chaos: --bootstrap and --kafka-script are required\n");
        return 2;
    }
    r->acked = calloc(MAX_RECORDS, sizeof(*r->acked));
    r->processed = calloc(MAX_RECORDS, sizeof(*r->processed));
    snprintf(r->topic, sizeof(r->topic), "chaos-%ld-%ld", (long)getpid(), (long)time(NULL));
    snprintf(r->group_id, sizeof(r->group_id), "%s-group", r->topic);

    kk_client_t *admin = new_client(r);
    kk_topic_config_t configs[] = {{"min.insync.replicas", "2"}};
    kk_error_t err;
    if (kk_client_create_topic(admin, r->topic, PARTITIONS, 3, configs, 1, 30000, &err) != KK_OK) {
        say("create %s: %s", r->topic, err.message);
        return 2;
    }
    kk_client_free(admin);
    if (!wait_in_sync(r, 30000)) {
        say("the topic's replicas are not in sync after 30 s");
        return 2;
    }

    pthread_t producer, members[MEMBERS];
    pthread_create(&producer, NULL, produce, r);
    for (int i = 0; i < MEMBERS; i++)
        pthread_create(&members[i], NULL, consume, r);
    sleep_ms(pause_ms);

    int survived = 0;
    for (int k = 0; k < kills; k++) {
        /* the first kill takes the group's coordinator, the others partition leaders */
        int32_t victim = k == 0 ? coordinator_of(r) : -1;
        const char *role = "the group's coordinator";
        if (victim < 0) {
            victim = leader_of(r, k % PARTITIONS);
            role = "a partition leader";
        }
        if (victim < 0) {
            say("no leader for partition %d; skipping kill %d", k % PARTITIONS, k + 1);
            sleep_ms(pause_ms);
            continue;
        }
        say("kill %d: node %d (%s), at %d acknowledged", k + 1, (int)victim, role,
            atomic_load(&r->acknowledged));
        if (run_script(r, "stop-node", victim, "--kill") != 0)
            say("stop-node %d failed", (int)victim);
        sleep_ms(pause_ms);
        if (run_script(r, "start-node", victim, "") != 0) {
            say("start-node %d failed", (int)victim);
            break;
        }
        if (!wait_in_sync(r, 60000))
            say("replicas not back in sync 60 s after restarting node %d", (int)victim);
        survived++;
        sleep_ms(pause_ms);
    }
    atomic_store(&r->stop_producing, true);
    pthread_join(producer, NULL);

    /* let the group catch up with everything acknowledged */
    int acknowledged = atomic_load(&r->acknowledged);
    int last_seq = atomic_load(&r->sent);
    int64_t deadline = now_ms() + 90000;
    int gap = 0;
    do {
        gap = 0;
        for (int s = 0; s < last_seq; s++)
            gap += atomic_load(&r->acked[s]) && !atomic_load(&r->processed[s]);
        if (gap == 0)
            break;
        sleep_ms(500);
    } while (now_ms() < deadline);
    atomic_store(&r->stop_consuming, true);
    for (int i = 0; i < MEMBERS; i++)
        pthread_join(members[i], NULL);

    /* read every partition back from the start */
    unsigned char *read = calloc((size_t)MAX_RECORDS, 1);
    long read_total = 0, duplicated = 0, group_duplicates = 0;
    for (int32_t p = 0; p < PARTITIONS; p++) {
        kk_consumer_config_t cc;
        kk_consumer_config_init(&cc);
        cc.client.bootstrap_servers = r->bootstrap;
        cc.topic = r->topic;
        cc.partition = p;
        cc.max_wait_ms = 50;
        kk_consumer_t *c = kk_consumer_new(&cc, &err);
        int64_t end = -1;
        for (int round = 0; round < 10000; round++) {
            kk_fetch_batch_t *batch = NULL;
            if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK) {
                say("read back partition %d: %s", (int)p, err.message);
                break;
            }
            end = batch->high_watermark;
            for (size_t i = 0; i < batch->count; i++) {
                char text[24];
                size_t n = batch->messages[i].value_len < 23 ? batch->messages[i].value_len : 23;
                memcpy(text, batch->messages[i].value, n);
                text[n] = '\0';
                long seq = strtol(text, NULL, 10);
                if (seq >= 0 && seq < MAX_RECORDS) {
                    duplicated += read[seq] > 0;
                    read[seq] = 1;
                }
                read_total++;
            }
            kk_fetch_batch_free(batch);
            if (kk_consumer_next_offset(c) >= end)
                break;
        }
        kk_consumer_free(c);
    }
    long lost = 0;
    for (int s = 0; s < last_seq; s++) {
        lost += atomic_load(&r->acked[s]) && !read[s];
        group_duplicates += atomic_load(&r->processed[s]) > 1;
    }
    printf("%s group: ", r->group_protocol == KK_GROUP_PROTOCOL_CONSUMER ? "consumer" : "classic");
    printf("sent %d, acknowledged %d, read %ld, lost %ld, duplicated %ld, restarts survived %d "
           "of %d; group: gap %d, processed twice %ld, rebalances %d, poll errors %d\n",
           last_seq, acknowledged, read_total, lost, duplicated, survived, kills, gap,
           group_duplicates, atomic_load(&r->rebalances), atomic_load(&r->group_errors));
    /* the producer is idempotent (acks=all): a retry is never written twice */
    bool ok = lost == 0 && duplicated == 0 && gap == 0 && survived == kills && acknowledged > 0;
    free(read);
    free(r->acked);
    free(r->processed);
    free(r);
    return ok ? 0 : 1;
}
