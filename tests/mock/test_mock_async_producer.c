/* The asynchronous producer (kk_producer_produce / poll / flush / close) against librdkafka's
 * mock cluster: one report per message, order and no duplicates under injected faults with
 * idempotence, flush and close semantics, a full buffer, interrupts. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kafkette.h"
#include "mock_fixture.h"

static kk_mock_t *start_mock(int brokers) {
    char errbuf[256];
    kk_mock_t *m = kk_mock_start(brokers, errbuf, sizeof(errbuf));
    if (!m)
        fail_msg("mock cluster: %s", errbuf);
    return m;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void base_config(kk_producer_config_t *cfg, kk_mock_t *m) {
    kk_producer_config_init(cfg);
    cfg->client.bootstrap_servers = kk_mock_bootstrap(m);
    cfg->client.request_timeout_ms = 2000;
    cfg->client.connect_timeout_ms = 1000;
    cfg->retry_backoff_ms = 20;
    cfg->max_send_retries = 1000; /* delivery_timeout_ms bounds retries */
    cfg->delivery_timeout_ms = 30000;
}

static kk_producer_t *new_producer(const kk_producer_config_t *cfg) {
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(cfg, &err);
    if (!p)
        fail_msg("producer: %s", err.message);
    return p;
}

/* What the tests remember per message: its index is the opaque (as uintptr_t + 1). */
typedef struct tally {
    size_t n;
    int *reports; /* reports per message */
    int *error;
    int32_t *partition;
    int64_t *offset;
} tally_t;

static void tally_init(tally_t *t, size_t n) {
    t->n = n;
    t->reports = calloc(n, sizeof(int));
    t->error = calloc(n, sizeof(int));
    t->partition = calloc(n, sizeof(int32_t));
    t->offset = calloc(n, sizeof(int64_t));
}

static void tally_free(tally_t *t) {
    free(t->reports);
    free(t->error);
    free(t->partition);
    free(t->offset);
}

static size_t drain(kk_producer_t *p, tally_t *t, int timeout_ms) {
    kk_delivery_report_t r[256];
    size_t got = 0, n;
    while ((n = kk_producer_poll(p, r, 256, timeout_ms)) > 0) {
        for (size_t i = 0; i < n; i++) {
            size_t idx = (size_t)(uintptr_t)r[i].opaque - 1;
            assert_true(idx < t->n);
            t->reports[idx]++;
            t->error[idx] = r[i].error;
            t->partition[idx] = r[i].partition;
            t->offset[idx] = r[i].offset;
        }
        got += n;
        timeout_ms = 0;
    }
    return got;
}

static int produce_value(kk_producer_t *p, const char *topic, int32_t partition, const char *value,
                         size_t idx, kk_error_t *err) {
    kk_produce_message_t msg = {.topic = topic,
                                .partition = partition,
                                .value = value,
                                .value_len = strlen(value),
                                .opaque = (void *)(uintptr_t)(idx + 1)};
    return kk_producer_produce(p, &msg, err);
}

/* Reads a partition back from offset 0 and returns the values (strdup'ed) in order. */
static size_t read_back(kk_mock_t *m, const char *topic, int32_t partition, char ***values) {
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_mock_bootstrap(m);
    cfg.topic = topic;
    cfg.partition = partition;
    cfg.max_wait_ms = 50;
    kk_error_t err;
    kk_consumer_t *c = kk_consumer_new(&cfg, &err);
    assert_non_null(c);
    size_t n = 0, cap = 1024, empty = 0;
    char **out = malloc(cap * sizeof(*out));
    while (empty < 3) {
        kk_fetch_batch_t *batch = NULL;
        if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
            fail_msg("fetch: %s", err.message);
        if (batch->count == 0)
            empty++;
        for (size_t i = 0; i < batch->count; i++) {
            if (n == cap)
                out = realloc(out, (cap *= 2) * sizeof(*out));
            const kk_fetched_message_t *fm = &batch->messages[i];
            out[n] = strndup(fm->value, fm->value_len);
            n++;
        }
        kk_fetch_batch_free(batch);
    }
    kk_consumer_free(c);
    *values = out;
    return n;
}

static void free_values(char **values, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(values[i]);
    free(values);
}

/* Every message gets one report, with its partition and an offset that follows produce order
 * within the partition. */
static void test_reports_one_per_message_in_order(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(3);
    kk_mock_create_topic(m, "t3", 3, 1);
    kk_producer_config_t cfg;
    base_config(&cfg, m);
    kk_producer_t *p = new_producer(&cfg);
    enum { N = 3000 };
    tally_t t;
    tally_init(&t, N);
    kk_error_t err;
    char value[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(value, sizeof(value), "v%zu", i);
        if (produce_value(p, "t3", (int32_t)(i % 3), value, i, &err) != KK_OK)
            fail_msg("produce: %s", err.message);
        if (i % 500 == 0)
            drain(p, &t, 0);
    }
    size_t left = 99;
    if (kk_producer_flush(p, 10000, &left, &err) != KK_OK)
        fail_msg("flush: %s", err.message);
    assert_int_equal(left, 0);
    assert_int_equal(kk_producer_in_flight(p), 0);
    drain(p, &t, 0);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(t.reports[i], 1);
        assert_int_equal(t.error[i], 0);
        assert_int_equal(t.partition[i], (int32_t)(i % 3));
        assert_int_equal(t.offset[i], (int64_t)(i / 3));
    }
    assert_int_equal(kk_producer_close(p, 1000, &err), KK_OK);
    assert_int_equal(drain(p, &t, 0), 0);
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* The event fd is readable exactly while reports wait. */
static void test_event_fd_readable_while_reports_wait(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    kk_mock_create_topic(m, "ev", 1, 1);
    kk_producer_config_t cfg;
    base_config(&cfg, m);
    kk_producer_t *p = new_producer(&cfg);
    kk_error_t err;
    int fd = kk_producer_event_fd(p, &err);
    assert_true(fd >= 0);
    struct pollfd pfd = {fd, POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(produce_value(p, "ev", 0, "x", 0, &err), KK_OK);
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    tally_t t;
    tally_init(&t, 1);
    assert_int_equal(drain(p, &t, 0), 1);
    assert_int_equal(t.error[0], 0);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* Checks that values read back are "<i>" for i = 0..n-1: nothing lost, duplicated or moved. */
static void check_sequence(kk_mock_t *m, const char *topic, int32_t partition, size_t n) {
    char **values;
    size_t got = read_back(m, topic, partition, &values);
    for (size_t i = 0; i < got && i < n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "%zu", i);
        if (strcmp(values[i], want) != 0 && getenv("KK_TEST_DUMP")) {
            for (size_t j = i > 200 ? i - 200 : 0; j < got && j < i + 400; j++)
                fprintf(stderr, "%zu:%s ", j, values[j]);
            fprintf(stderr, "\n");
        }
        if (strcmp(values[i], want) != 0)
            fail_msg("%s[%d] offset %zu holds %s, expected %s", topic, (int)partition, i, values[i],
                     want);
    }
    if (got != n)
        fail_msg("%s[%d] holds %zu records, expected %zu", topic, (int)partition, got, n);
    free_values(values, got);
}

static void produce_numbered(kk_producer_t *p, const char *topic, int partitions,
                             size_t per_partition, tally_t *t) {
    kk_error_t err;
    char value[32];
    for (size_t i = 0; i < per_partition; i++)
        for (int part = 0; part < partitions; part++) {
            snprintf(value, sizeof(value), "%zu", i);
            size_t idx = i * (size_t)partitions + (size_t)part;
            if (produce_value(p, topic, part, value, idx, &err) != KK_OK)
                fail_msg("produce: %s", err.message);
            if (idx % 97 == 0)
                drain(p, t, 0);
        }
}

/* Retriable errors injected among pipelined requests (5 in flight per broker, many small
 * batches): every record is in its partition once, in produce order. The mock appends nothing
 * for a request it fails, but it does not check sequence numbers of a producer without a
 * transactional id, so it would append a batch sent behind a failed one; runs of errors as
 * long as the pipeline make every request behind a failure fail too, as a real broker's
 * OUT_OF_ORDER_SEQUENCE_NUMBER would. What is checked is the producer's own part: nothing new
 * goes out before the retries, retries go out in sequence order, nothing is lost. */
static void run_ordered_retries(int16_t code_a, int16_t code_b, bool idempotent) {
    kk_mock_t *m = start_mock(2);
    kk_mock_create_topic(m, "ordered", 2, 1);
    assert_int_equal(kk_mock_partition_set_leader(m, "ordered", 0, 1), 0);
    assert_int_equal(kk_mock_partition_set_leader(m, "ordered", 1, 2), 0);
    kk_producer_config_t cfg;
    base_config(&cfg, m);
    cfg.batch_size = 2000; /* many small batches: several requests in flight per broker */
    cfg.linger_ms = 1;
    cfg.enable_idempotence = idempotent;
    kk_producer_t *p = new_producer(&cfg);
    enum { PER = 4000, PARTS = 2 };
    tally_t t;
    tally_init(&t, PER * PARTS);
    /* (no dropped connections here: the mock appends a request it then answers by closing
     * the connection, and without sequence checks it appends the retry too; lost answers are
     * tested against a real broker, tests/integration/test_async_producer.c) */
    int16_t codes[] = {0, 0, 0, code_a, code_a, code_a, code_a, code_a, 0,
                       0, 0, 0, 0,      0,      0,      0,      0,      0,
                       0, 0, 0, code_b, code_b, code_b, code_b, code_b, 0};
    size_t count = sizeof(codes) / sizeof(codes[0]);
    assert_int_equal(kk_mock_broker_push_errors(m, 1, KK_API_PRODUCE, count, codes, NULL), 0);
    assert_int_equal(kk_mock_broker_push_errors(m, 2, KK_API_PRODUCE, count, codes, NULL), 0);
    produce_numbered(p, "ordered", PARTS, PER, &t);
    kk_error_t err;
    if (kk_producer_flush(p, 30000, NULL, &err) != KK_OK)
        fail_msg("flush: %s", err.message);
    drain(p, &t, 0);
    for (size_t i = 0; i < (size_t)PER * PARTS; i++) {
        assert_int_equal(t.reports[i], 1);
        if (t.error[i] != 0)
            fail_msg("message %zu: %s", i, kk_err_name(t.error[i]));
    }
    for (int part = 0; part < PARTS; part++)
        check_sequence(m, "ordered", part, PER);
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

static void test_retries_keep_order(void **state) {
    (void)state;
    /* NOT_LEADER_OR_FOLLOWER then NOT_ENOUGH_REPLICAS; REQUEST_TIMED_OUT then NOT_LEADER */
    run_ordered_retries(6, 19, true);
    run_ordered_retries(7, 6, false);
}

/* MESSAGE_TOO_LARGE (a batch over the topic's max.message.bytes): each refused batch is split
 * in halves that go out in its place, in sequence order, nothing lost or reordered. */
static void test_too_large_batches_are_split_in_order(void **state) {
    (void)state;
    run_ordered_retries(10, 10, true);
    run_ordered_retries(10, 6, false);
}

/* UNKNOWN_PRODUCER_ID and OUT_OF_ORDER_SEQUENCE_NUMBER from the first batch the broker has not
 * seen: a new epoch (KIP-360), sequences from 0 again, nothing lost or reordered. */
static void test_unknown_producer_id_bumps_epoch(void **state) {
    (void)state;
    run_ordered_retries(59, 45, true);
}

/* A broker that is down: flush gives up after its timeout and says how many are left; close
 * purges them, each with exactly one report. */
static void test_flush_timeout_then_close_purges(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    kk_mock_create_topic(m, "down", 1, 1);
    kk_producer_config_t cfg;
    base_config(&cfg, m);
    kk_producer_t *p = new_producer(&cfg);
    kk_error_t err;
    tally_t t;
    tally_init(&t, 20);
    assert_int_equal(produce_value(p, "down", 0, "first", 0, &err), KK_OK);
    assert_int_equal(kk_producer_flush(p, 5000, NULL, &err), KK_OK);
    assert_int_equal(kk_mock_broker_set_down(m, 1), 0);
    for (size_t i = 1; i < 20; i++)
        assert_int_equal(produce_value(p, "down", 0, "later", i, &err), KK_OK);
    size_t left = 0;
    int64_t start = now_ms();
    assert_int_equal(kk_producer_flush(p, 300, &left, &err), KK_ERR_TIMED_OUT);
    int64_t took = now_ms() - start;
    assert_true(took >= 290 && took < 2000);
    assert_int_equal(left, 19);
    assert_int_equal(kk_producer_in_flight(p), 19);
    assert_int_equal(kk_producer_close(p, 100, &err), KK_ERR_TIMED_OUT);
    assert_non_null(strstr(err.message, "19 message(s) purged"));
    assert_int_equal(kk_producer_in_flight(p), 0);
    assert_int_equal(drain(p, &t, 0), 20);
    assert_int_equal(t.error[0], 0);
    for (size_t i = 1; i < 20; i++) {
        assert_int_equal(t.reports[i], 1);
        assert_int_equal(t.error[i], KK_ERR_PURGED);
    }
    assert_int_equal(produce_value(p, "down", 0, "closed", 0, &err), KK_ERR_STATE);
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* kk_producer_purge drops what is not sent yet; later messages go through. */
static void test_purge_reports_purged(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    kk_mock_create_topic(m, "purged", 1, 1);
    kk_producer_config_t cfg;
    base_config(&cfg, m);
    cfg.linger_ms = 60000; /* nothing leaves by itself */
    cfg.batch_size = 1 << 20;
    kk_producer_t *p = new_producer(&cfg);
    kk_error_t err;
    tally_t t;
    tally_init(&t, 11);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(produce_value(p, "purged", 0, "x", i, &err), KK_OK);
    kk_producer_purge(p);
    size_t got = 0;
    for (int i = 0; i < 100 && got < 10; i++)
        got += drain(p, &t, 100);
    assert_int_equal(got, 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(t.error[i], KK_ERR_PURGED);
    assert_int_equal(produce_value(p, "purged", 0, "y", 10, &err), KK_OK);
    assert_int_equal(kk_producer_flush(p, 5000, NULL, &err), KK_OK);
    assert_int_equal(drain(p, &t, 0), 1);
    assert_int_equal(t.error[10], 0);
    assert_int_equal(t.offset[10], 0);
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* A mock cluster with topic (one partition) on a broker that is down, so nothing leaves the
 * buffer, and a producer config with a 4 KiB buffer. */
static kk_mock_t *stalled_cluster(const char *topic, kk_producer_config_t *cfg) {
    kk_mock_t *m = start_mock(1);
    kk_mock_create_topic(m, topic, 1, 1);
    assert_int_equal(kk_mock_broker_set_down(m, 1), 0);
    base_config(cfg, m);
    cfg->buffer_memory = 4096;
    return m;
}

/* A full buffer: produce waits max_block_ms, then fails with QUEUE_FULL (at once with 0). */
static void test_full_buffer_blocks_then_fails(void **state) {
    (void)state;
    kk_producer_config_t cfg;
    kk_mock_t *m = stalled_cluster("full", &cfg);
    cfg.max_block_ms = 300;
    kk_producer_t *p = new_producer(&cfg);
    kk_error_t err;
    char value[500];
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    size_t queued = 0;
    int rc;
    int64_t start = 0;
    for (;;) {
        start = now_ms();
        rc = produce_value(p, "full", 0, value, 0, &err);
        if (rc != KK_OK)
            break;
        queued++;
        assert_true(queued < 100);
    }
    int64_t took = now_ms() - start;
    assert_int_equal(rc, KK_ERR_QUEUE_FULL);
    assert_true(queued >= 4 && queued <= 8);
    assert_true(took >= 290 && took < 2000);
    assert_int_equal(kk_producer_in_flight(p), queued);
    kk_producer_free(p);

    cfg.max_block_ms = 0;
    p = new_producer(&cfg);
    for (queued = 0; (rc = produce_value(p, "full", 0, value, 0, &err)) == KK_OK; queued++)
        assert_true(queued < 100);
    start = now_ms();
    assert_int_equal(produce_value(p, "full", 0, value, 0, &err), KK_ERR_QUEUE_FULL);
    assert_true(now_ms() - start < 50);
    kk_producer_free(p);
    kk_mock_stop(m);
}

static int32_t count_calls(void *opaque, const void *key, size_t key_len, int32_t partitions) {
    (void)key;
    (void)key_len;
    (void)partitions;
    (*(int *)opaque)++;
    return 0;
}

/* kk_producer_try_produce queues what it can at once and otherwise queues nothing and returns
 * without waiting (a binding calls it holding its interpreter lock). */
static void test_try_produce_never_waits(void **state) {
    (void)state;
    kk_producer_config_t cfg;
    kk_mock_t *m = stalled_cluster("try", &cfg);
    cfg.max_block_ms = 10000; /* kk_producer_produce would wait this long */
    int partitioner_calls = 0;
    cfg.partitioner = KK_PARTITIONER_CALLBACK;
    cfg.partitioner_cb = count_calls;
    cfg.partitioner_opaque = &partitioner_calls;
    kk_producer_t *p = new_producer(&cfg);
    kk_error_t err;
    char value[500];
    memset(value, 'v', sizeof(value));
    kk_produce_message_t msg = {.topic = "try", .partition = 0, .value = value, .value_len = 500};
    size_t queued = 0;
    bool ok = true;
    int64_t start = now_ms();
    while (ok) {
        assert_int_equal(kk_producer_try_produce(p, &msg, &ok, &err), KK_OK);
        queued += ok;
        assert_true(queued < 100);
    }
    assert_true(now_ms() - start < 5000); /* it did not wait for max_block_ms */
    assert_true(queued >= 4 && queued <= 8);
    assert_int_equal(kk_producer_in_flight(p), queued);

    /* an invalid topic fails every time, also after a valid one was interned */
    msg.topic = "no spaces";
    for (int i = 0; i < 2; i++) {
        ok = true;
        assert_int_equal(kk_producer_try_produce(p, &msg, &ok, &err), KK_ERR_INVALID_ARG);
        assert_false(ok);
        assert_int_equal(kk_producer_produce(p, &msg, &err), KK_ERR_INVALID_ARG);
    }
    msg.topic = NULL;
    assert_int_equal(kk_producer_try_produce(p, &msg, &ok, &err), KK_ERR_INVALID_ARG);

    /* a keyed message for a callback partitioner: not queued, the partitioner not called */
    kk_producer_purge(p);
    kk_delivery_report_t r[16];
    size_t purged = 0;
    while (purged < queued) {
        size_t n = kk_producer_poll(p, r, 16, 1000);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(r[i].error, KK_ERR_PURGED);
        purged += n;
    }
    msg.topic = "try";
    msg.partition = -1;
    msg.key = "k";
    msg.key_len = 1;
    ok = true;
    assert_int_equal(kk_producer_try_produce(p, &msg, &ok, &err), KK_OK);
    assert_false(ok);
    assert_int_equal(partitioner_calls, 0);
    assert_int_equal(kk_producer_in_flight(p), 0);
    kk_producer_free(p);
    kk_mock_stop(m);
}

static void *interrupt_later(void *arg) {
    usleep(200 * 1000);
    kk_client_interrupt(kk_producer_client(arg));
    return NULL;
}

/* kk_client_interrupt wakes a flush that waits without limit. */
static void test_interrupt_during_flush(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    kk_mock_create_topic(m, "intr", 1, 1);
    assert_int_equal(kk_mock_broker_set_down(m, 1), 0);
    kk_producer_config_t cfg;
    base_config(&cfg, m);
    kk_producer_t *p = new_producer(&cfg);
    kk_error_t err;
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(produce_value(p, "intr", 0, "x", i, &err), KK_OK);
    pthread_t th;
    pthread_create(&th, NULL, interrupt_later, p);
    size_t left = 0;
    int64_t start = now_ms();
    assert_int_equal(kk_producer_flush(p, -1, &left, &err), KK_ERR_INTERRUPTED);
    int64_t took = now_ms() - start;
    pthread_join(th, NULL);
    assert_true(took >= 190 && took < 1000);
    assert_int_equal(left, 5);
    /* the messages are still there: bring the broker back and they are delivered */
    kk_client_clear_interrupt(kk_producer_client(p));
    assert_int_equal(kk_mock_broker_set_up(m, 1), 0);
    if (kk_producer_flush(p, 20000, &left, &err) != KK_OK)
        fail_msg("flush after interrupt: %s", err.message);
    tally_t t;
    tally_init(&t, 5);
    assert_int_equal(drain(p, &t, 0), 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(t.error[i], 0);
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* delivery_timeout_ms: a message that cannot be delivered fails in time, with TIMED_OUT. */
static void test_delivery_timeout(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    kk_mock_create_topic(m, "late", 1, 1);
    assert_int_equal(kk_mock_broker_set_down(m, 1), 0);
    kk_producer_config_t cfg;
    base_config(&cfg, m);
    cfg.delivery_timeout_ms = 400;
    kk_producer_t *p = new_producer(&cfg);
    kk_error_t err;
    assert_int_equal(produce_value(p, "late", 0, "x", 0, &err), KK_OK);
    tally_t t;
    tally_init(&t, 1);
    int64_t start = now_ms();
    size_t got = 0;
    while (got == 0 && now_ms() - start < 5000)
        got = drain(p, &t, 100);
    assert_int_equal(got, 1);
    assert_int_equal(t.error[0], KK_ERR_TIMED_OUT);
    assert_true(now_ms() - start < 3000);
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* A broker that accepts connections but answers ApiVersions only after STALL_MS: the engine
 * connects to it off its I/O thread, so the other broker's messages are delivered meanwhile
 * (all of them before any of the slow broker's, and well within the stall), and the slow
 * broker's messages are delivered once it answers. Every message gets exactly one report. */
enum { STALL_MS = 4500 };

static void produce_to_both(kk_producer_t *p, const char *topic, size_t per_partition) {
    kk_error_t err;
    for (size_t i = 0; i < per_partition * 2; i++)
        if (produce_value(p, topic, (int32_t)(i % 2), "x", i, &err) != KK_OK)
            fail_msg("produce: %s", err.message);
}

static kk_mock_t *slow_second_broker(const char *topic, int stall_ms) {
    kk_mock_t *m = start_mock(2);
    kk_mock_create_topic(m, topic, 2, 1);
    assert_int_equal(kk_mock_partition_set_leader(m, topic, 0, 1), 0);
    assert_int_equal(kk_mock_partition_set_leader(m, topic, 1, 2), 0);
    int16_t ok = 0;
    assert_int_equal(kk_mock_broker_push_errors(m, 2, KK_API_API_VERSIONS, 1, &ok, &stall_ms), 0);
    return m;
}

static void slow_broker_config(kk_producer_config_t *cfg, kk_mock_t *m) {
    base_config(cfg, m);
    cfg->client.bootstrap_servers = kk_mock_broker_address(m, 1); /* metadata from the fast one */
    cfg->client.connect_timeout_ms = 60000;
    cfg->client.request_timeout_ms = 60000; /* the ApiVersions wait is a request's */
    cfg->linger_ms = 5;
}

static void test_slow_broker_does_not_stall_the_others(void **state) {
    (void)state;
    kk_mock_t *m = slow_second_broker("slowconn", STALL_MS);
    kk_producer_config_t cfg;
    slow_broker_config(&cfg, m);
    kk_producer_t *p = new_producer(&cfg);
    enum { PER = 50 };
    tally_t t;
    tally_init(&t, 2 * PER);
    int64_t start = now_ms();
    produce_to_both(p, "slowconn", PER);
    size_t fast = 0, slow = 0;
    while (fast < PER && now_ms() - start < 2 * STALL_MS) {
        drain(p, &t, 50);
        fast = slow = 0;
        for (size_t i = 0; i < 2 * PER; i++) {
            fast += i % 2 == 0 && t.reports[i] > 0;
            slow += i % 2 == 1 && t.reports[i] > 0;
        }
    }
    int64_t took = now_ms() - start;
    assert_int_equal(fast, PER);
    print_message("the fast broker's %d reports in %lld ms (stall %d ms)\n", PER, (long long)took,
                  STALL_MS);
    if (slow != 0 || took >= STALL_MS / 3)
        fail_msg("the fast broker's reports took %lld ms (stall %d ms), %zu slow ones came first",
                 (long long)took, STALL_MS, slow);
    size_t left = 99;
    kk_error_t err;
    if (kk_producer_flush(p, 4 * STALL_MS, &left, &err) != KK_OK)
        fail_msg("flush: %s", err.message);
    drain(p, &t, 0);
    for (size_t i = 0; i < 2 * PER; i++) {
        assert_int_equal(t.reports[i], 1);
        if (t.error[i] != 0)
            fail_msg("message %zu: %s", i, kk_err_name(t.error[i]));
        assert_int_equal(t.partition[i], (int32_t)(i % 2));
        assert_int_equal(t.offset[i], (int64_t)(i / 2));
    }
    assert_true(now_ms() - start >= STALL_MS - 100);
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* close() while a connect hangs (an ApiVersions answer 60 s away) returns at once, and every
 * message, the hung broker's and the fast one's unsent, is reported PURGED once. */
static void test_close_during_hung_connect(void **state) {
    (void)state;
    kk_mock_t *m = slow_second_broker("hungconn", 60000);
    kk_producer_config_t cfg;
    slow_broker_config(&cfg, m);
    kk_producer_t *p = new_producer(&cfg);
    enum { PER = 20 };
    tally_t t;
    tally_init(&t, 2 * PER);
    produce_to_both(p, "hungconn", PER);
    /* the fast broker's messages are delivered: the connect to the other one has begun */
    int64_t begin = now_ms();
    size_t fast = 0;
    while (fast < PER && now_ms() - begin < 20000) {
        drain(p, &t, 50);
        fast = 0;
        for (size_t i = 0; i < 2 * PER; i += 2)
            fast += t.reports[i] > 0;
    }
    assert_int_equal(fast, PER);
    usleep(200 * 1000);
    kk_error_t err;
    int64_t start = now_ms();
    assert_int_equal(kk_producer_close(p, 0, &err), KK_ERR_TIMED_OUT);
    int64_t took = now_ms() - start;
    if (took >= 2000)
        fail_msg("close took %lld ms", (long long)took);
    drain(p, &t, 0);
    for (size_t i = 0; i < 2 * PER; i++) {
        assert_int_equal(t.reports[i], 1);
        assert_int_equal(t.error[i], i % 2 == 0 ? KK_OK : KK_ERR_PURGED);
    }
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* A connect that hangs past delivery_timeout_ms: the hung broker's messages fail with
 * TIMED_OUT in time while the other broker's are delivered, each message one report. */
static void test_hung_connect_times_messages_out(void **state) {
    (void)state;
    kk_mock_t *m = slow_second_broker("hungtime", 60000);
    kk_producer_config_t cfg;
    slow_broker_config(&cfg, m);
    cfg.delivery_timeout_ms = 1500;
    kk_producer_t *p = new_producer(&cfg);
    enum { PER = 20 };
    tally_t t;
    tally_init(&t, 2 * PER);
    int64_t start = now_ms();
    produce_to_both(p, "hungtime", PER);
    size_t got = 0;
    while (got < 2 * PER && now_ms() - start < 20000)
        got += drain(p, &t, 50);
    int64_t took = now_ms() - start;
    assert_int_equal(got, 2 * PER);
    for (size_t i = 0; i < 2 * PER; i++) {
        assert_int_equal(t.reports[i], 1);
        assert_int_equal(t.error[i], i % 2 == 0 ? KK_OK : KK_ERR_TIMED_OUT);
    }
    if (took < 1400 || took > 10000)
        fail_msg("the hung broker's messages timed out after %lld ms (delivery_timeout_ms 1500)",
                 (long long)took);
    kk_error_t err;
    start = now_ms();
    assert_int_equal(kk_producer_close(p, 0, &err), KK_OK);
    assert_true(now_ms() - start < 2000);
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* A metadata request that the bootstrap broker answers only after STALL_MS (a new topic asks
 * for one) does not hold up the messages for a broker already connected: they are all
 * delivered meanwhile, and the new topic's message once the answer is there. */
static void test_slow_metadata_does_not_stall_sending(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(2);
    kk_mock_create_topic(m, "mdfast", 1, 1);
    kk_mock_create_topic(m, "mdnew", 1, 1);
    assert_int_equal(kk_mock_partition_set_leader(m, "mdfast", 0, 2), 0);
    assert_int_equal(kk_mock_partition_set_leader(m, "mdnew", 0, 2), 0);
    kk_producer_config_t cfg;
    slow_broker_config(&cfg, m);
    kk_producer_t *p = new_producer(&cfg);
    enum { N = 30 };
    tally_t t;
    tally_init(&t, N + 1);
    kk_error_t err;
    assert_int_equal(produce_value(p, "mdfast", 0, "first", 0, &err), KK_OK);
    assert_int_equal(kk_producer_flush(p, 10000, NULL, &err), KK_OK);
    assert_int_equal(drain(p, &t, 0), 1);
    assert_int_equal(kk_mock_broker_set_rtt(m, 1, STALL_MS), 0); /* the bootstrap broker */
    int64_t start = now_ms();
    assert_int_equal(produce_value(p, "mdnew", 0, "new", N, &err), KK_OK);
    usleep(100 * 1000); /* the metadata request is out */
    for (size_t i = 1; i < N; i++)
        assert_int_equal(produce_value(p, "mdfast", 0, "x", i, &err), KK_OK);
    size_t fast = 1;
    while (fast < N && now_ms() - start < 2 * STALL_MS) {
        drain(p, &t, 50);
        fast = 0;
        for (size_t i = 0; i < N; i++)
            fast += t.reports[i] > 0;
    }
    int64_t took = now_ms() - start;
    print_message("%d reports in %lld ms while the metadata took %d ms\n", N - 1, (long long)took,
                  STALL_MS);
    assert_int_equal(fast, N);
    if (t.reports[N] != 0 || took >= STALL_MS / 3)
        fail_msg("the connected broker's reports took %lld ms (stall %d ms)", (long long)took,
                 STALL_MS);
    assert_int_equal(kk_mock_broker_set_rtt(m, 1, 0), 0);
    if (kk_producer_flush(p, 4 * STALL_MS, NULL, &err) != KK_OK)
        fail_msg("flush: %s", err.message);
    drain(p, &t, 0);
    for (size_t i = 0; i <= N; i++) {
        assert_int_equal(t.reports[i], 1);
        assert_int_equal(t.error[i], 0);
    }
    kk_producer_free(p);
    tally_free(&t);
    kk_mock_stop(m);
}

/* Messages that own their key and value: release is called once each, on poll's thread. */
static int released;
static void release_cb(void *opaque, void *key, void *value) {
    (void)opaque;
    free(key);
    free(value);
    released++;
}

static void test_owned_messages_are_released(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    kk_mock_create_topic(m, "owned", 1, 1);
    kk_producer_config_t cfg;
    base_config(&cfg, m);
    kk_producer_t *p = new_producer(&cfg);
    kk_error_t err;
    released = 0;
    for (size_t i = 0; i < 10; i++) {
        kk_produce_message_t msg = {.topic = "owned",
                                    .partition = 0,
                                    .key = strdup("k"),
                                    .key_len = 1,
                                    .value = strdup("value"),
                                    .value_len = 5,
                                    .opaque = (void *)(uintptr_t)(i + 1),
                                    .release = release_cb};
        assert_int_equal(kk_producer_produce(p, &msg, &err), KK_OK);
    }
    assert_int_equal(kk_producer_flush(p, 5000, NULL, &err), KK_OK);
    tally_t t;
    tally_init(&t, 10);
    assert_int_equal(drain(p, &t, 0), 10);
    assert_int_equal(released, 10);
    /* undrained reports are released by free */
    for (size_t i = 0; i < 3; i++) {
        kk_produce_message_t msg = {.topic = "owned",
                                    .partition = 0,
                                    .value = strdup("v"),
                                    .value_len = 1,
                                    .release = release_cb};
        assert_int_equal(kk_producer_produce(p, &msg, &err), KK_OK);
    }
    kk_producer_free(p);
    assert_int_equal(released, 13);
    tally_free(&t);
    kk_mock_stop(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports_one_per_message_in_order),
        cmocka_unit_test(test_event_fd_readable_while_reports_wait),
        cmocka_unit_test(test_retries_keep_order),
        cmocka_unit_test(test_too_large_batches_are_split_in_order),
        cmocka_unit_test(test_unknown_producer_id_bumps_epoch),
        cmocka_unit_test(test_flush_timeout_then_close_purges),
        cmocka_unit_test(test_purge_reports_purged),
        cmocka_unit_test(test_full_buffer_blocks_then_fails),
        cmocka_unit_test(test_try_produce_never_waits),
        cmocka_unit_test(test_interrupt_during_flush),
        cmocka_unit_test(test_delivery_timeout),
        cmocka_unit_test(test_owned_messages_are_released),
        cmocka_unit_test(test_slow_broker_does_not_stall_the_others),
        cmocka_unit_test(test_close_during_hung_connect),
        cmocka_unit_test(test_hung_connect_times_messages_out),
        cmocka_unit_test(test_slow_metadata_does_not_stall_sending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
