/*
 * The asynchronous producer against the real broker: idempotence with answers lost after the
 * broker applied the requests (the broker's sequence checks make the retries duplicates, not
 * new records), flat memory over 100,000 produce/poll cycles, and fork() while messages are in
 * flight and while the producer is idle. The idle one also runs under valgrind, children
 * included (integration_valgrind_fork in CMakeLists.txt, KK_TEST_FILTER=test_fork_while_idle): a
 * child must leave nothing of the parent's engine lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <malloc.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_env.h"
#include "kafkette.h"
#include "producer_internal.h"

static kk_producer_t *new_producer(int batch_size, int linger_ms) {
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.batch_size = batch_size;
    cfg.linger_ms = linger_ms;
    cfg.retry_backoff_ms = 20;
    cfg.max_send_retries = 100;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    if (!p)
        fail_msg("producer: %s", err.message);
    return p;
}

static void produce_text(kk_producer_t *p, const char *topic, int32_t partition, const char *text,
                         void *opaque) {
    kk_produce_message_t msg = {.topic = topic,
                                .partition = partition,
                                .value = text,
                                .value_len = strlen(text),
                                .opaque = opaque};
    kk_error_t err;
    if (kk_producer_produce(p, &msg, &err) != KK_OK)
        fail_msg("produce: %s", err.message);
}

/* Reads the whole partition; values[i] is a copy of offset i's value. */
static size_t read_partition(const char *topic, int32_t partition, size_t expect, char ***values) {
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.topic = topic;
    cfg.partition = partition;
    cfg.max_wait_ms = 100;
    kk_error_t err;
    kk_consumer_t *c = kk_consumer_new(&cfg, &err);
    assert_non_null(c);
    size_t n = 0, cap = expect + 16;
    char **out = calloc(cap, sizeof(*out));
    for (int round = 0; round < 100 && n < expect; round++) {
        kk_fetch_batch_t *batch;
        if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
            fail_msg("fetch: %s", err.message);
        for (size_t i = 0; i < batch->count; i++) {
            if (n == cap)
                out = realloc(out, (cap *= 2) * sizeof(*out));
            out[n++] = strndup(batch->messages[i].value, batch->messages[i].value_len);
        }
        kk_fetch_batch_free(batch);
    }
    /* anything beyond what was expected (a duplicate) arrives in the next fetch */
    kk_fetch_batch_t *batch;
    if (kk_consumer_fetch(c, NULL, &batch, &err) == KK_OK) {
        n += batch->count;
        kk_fetch_batch_free(batch);
    }
    kk_consumer_free(c);
    *values = out;
    return n;
}

/* Answers lost after the broker applied the requests: with 5 requests in flight and the
 * connection "dropped" several times, every record is in the log once and in order, and every
 * message gets one successful report. */
static void test_lost_answers_no_duplicates(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("async-lost");
    kk_test_create_topic(topic, 1);
    kk_producer_t *p = new_producer(1500, 1);
    enum { N = 6000 };
    static int reports[N];
    memset(reports, 0, sizeof(reports));
    kk_error_t err;
    char text[32];
    kk_delivery_report_t r[512];
    for (size_t i = 0; i < N; i++) {
        if (i % 1000 == 500)
            assert_int_equal(kk_producer_test_drop_answers(p, 2, &err), KK_OK);
        snprintf(text, sizeof(text), "%zu", i);
        produce_text(p, topic, 0, text, (void *)(uintptr_t)(i + 1));
        size_t n = kk_producer_poll(p, r, 512, 0);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(r[j].error, 0);
            reports[(uintptr_t)r[j].opaque - 1]++;
        }
    }
    if (kk_producer_flush(p, 30000, NULL, &err) != KK_OK)
        fail_msg("flush: %s", err.message);
    size_t n;
    while ((n = kk_producer_poll(p, r, 512, 0)) > 0)
        for (size_t j = 0; j < n; j++) {
            if (r[j].error != 0)
                fail_msg("report: %s", kk_err_name(r[j].error));
            reports[(uintptr_t)r[j].opaque - 1]++;
        }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(reports[i], 1);
    char **values;
    size_t got = read_partition(topic, 0, N, &values);
    for (size_t i = 0; i < N && i < got; i++) {
        snprintf(text, sizeof(text), "%zu", i);
        if (strcmp(values[i], text) != 0)
            fail_msg("offset %zu holds %s, expected %s", i, values[i], text);
    }
    assert_int_equal(got, N);
    for (size_t i = 0; i < N && i < got; i++)
        free(values[i]);
    free(values);
    kk_producer_free(p);
}

static size_t heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* One kk_producer_flush with timeout 0 (what an event loop calls between its waits) sends what
 * was queued without lingering, even when the connection comes up only after the call
 * returned: here linger_ms is 10 minutes and the producer has not connected yet. */
static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_flush_with_no_wait_ends_the_linger(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("async-flush0");
    kk_test_create_topic(topic, 1);
    kk_producer_t *p = new_producer(16384, 600000);
    for (int i = 0; i < 5; i++)
        produce_text(p, topic, 0, "lingering", NULL);
    kk_error_t err;
    size_t left = 0;
    kk_producer_flush(p, 0, &left, &err);
    kk_delivery_report_t r[8];
    size_t got = 0;
    int64_t deadline = now_ms() + 15000;
    while (got < 5 && now_ms() < deadline) {
        size_t n = kk_producer_poll(p, r, 8, 200);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(r[i].error, 0);
        got += n;
    }
    assert_int_equal(got, 5);
    kk_producer_free(p);
}

/* 100,000 produce/poll cycles: the heap after them is what it was after the first 10,000. */
static void test_produce_poll_memory_is_flat(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("async-mem");
    kk_test_create_topic(topic, 2);
    kk_producer_t *p = new_producer(16384, 5);
    kk_error_t err;
    char value[100];
    memset(value, 'm', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    kk_delivery_report_t r[64];
    size_t reported = 0, baseline = 0;
    for (size_t i = 0; i < 100000; i++) {
        produce_text(p, topic, -1, value, NULL);
        size_t n = kk_producer_poll(p, r, 64, 0);
        for (size_t j = 0; j < n; j++)
            assert_int_equal(r[j].error, 0);
        reported += n;
        if (i == 9999 || i == 99999) {
            if (kk_producer_flush(p, 30000, NULL, &err) != KK_OK)
                fail_msg("flush: %s", err.message);
            while ((n = kk_producer_poll(p, r, 64, 0)) > 0)
                reported += n;
            kk_producer_poll(p, r, 64, 0); /* frees what the last poll handed out */
            malloc_trim(0);
            if (i == 9999)
                baseline = heap_in_use();
        }
    }
    size_t after = heap_in_use();
    assert_int_equal(reported, 100000);
    print_message("heap after 10,000: %zu bytes; after 100,000: %zu bytes\n", baseline, after);
    assert_true(after < baseline + 256 * 1024);
    kk_producer_free(p);
}

/* In a forked child: produces count messages (opaque 2) to topic and partition, flushes, and
 * checks that each got one successful report. 0, or base + 1..4 saying which step failed (the
 * child's exit status). */
static int child_produces(kk_producer_t *p, const char *topic, int32_t partition, size_t count,
                          int base) {
    kk_error_t err;
    char text[32];
    for (size_t i = 0; i < count; i++) {
        snprintf(text, sizeof(text), "child-%zu", i);
        kk_produce_message_t msg = {.topic = topic,
                                    .partition = partition,
                                    .value = text,
                                    .value_len = strlen(text),
                                    .opaque = (void *)(uintptr_t)2};
        if (kk_producer_produce(p, &msg, &err) != KK_OK)
            return base + 1;
    }
    if (kk_producer_flush(p, 30000, NULL, &err) != KK_OK)
        return base + 2;
    kk_delivery_report_t r[256];
    size_t n, total = 0;
    while ((n = kk_producer_poll(p, r, 256, 0)) > 0)
        for (size_t j = 0; j < n; j++, total++)
            if (r[j].error != 0 || (uintptr_t)r[j].opaque != 2)
                return base + 3;
    return total == count ? 0 : base + 4;
}
/* fork() while messages are queued and in flight: the child starts its own thread and
 * connections with an empty queue (no reports for the parent's messages), the parent's
 * messages are all delivered by the parent, and the topic holds each message once. */
static void test_fork_with_messages_in_flight(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("async-fork");
    kk_test_create_topic(topic, 1);
    kk_producer_t *p = new_producer(2000, 50);
    enum { PARENT = 3000, CHILD = 1000 };
    char text[32];
    for (size_t i = 0; i < PARENT; i++) {
        snprintf(text, sizeof(text), "parent-%zu", i);
        produce_text(p, topic, 0, text, (void *)(uintptr_t)1);
        /* connected first, so that at fork() the I/O thread works and no job thread starts:
         * the sanitizer build's allocator is not fork-safe (a child's malloc can wait for ever
         * on a lock that a thread of the parent held at fork) */
        kk_error_t err;
        if (i == 0 && kk_producer_flush(p, 30000, NULL, &err) != KK_OK)
            fail_msg("parent flush: %s", err.message);
    }
    assert_true(kk_producer_in_flight(p) > 0);
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* the parent's messages are not the child's */
        int status = kk_producer_in_flight(p) != 0 ? 10 : child_produces(p, topic, 0, CHILD, 10);
        kk_producer_free(p);
        _exit(status);
    }
    kk_error_t err;
    if (kk_producer_flush(p, 30000, NULL, &err) != KK_OK)
        fail_msg("parent flush: %s", err.message);
    kk_delivery_report_t r[256];
    size_t n, total = 0;
    while ((n = kk_producer_poll(p, r, 256, 0)) > 0)
        for (size_t j = 0; j < n; j++, total++) {
            assert_int_equal(r[j].error, 0);
            assert_int_equal((uintptr_t)r[j].opaque, 1);
        }
    assert_int_equal(total, PARENT);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char **values;
    size_t got = read_partition(topic, 0, PARENT + CHILD, &values);
    assert_int_equal(got, PARENT + CHILD);
    size_t parent_next = 0, child_next = 0;
    for (size_t i = 0; i < got; i++) {
        /* each process's records in its own order, each once */
        if (strncmp(values[i], "parent-", 7) == 0)
            assert_int_equal(atoi(values[i] + 7), parent_next++);
        else
            assert_int_equal(atoi(values[i] + 6), child_next++);
        free(values[i]);
    }
    free(values);
    assert_int_equal(parent_next, PARENT);
    assert_int_equal(child_next, CHILD);
    kk_producer_free(p);
}

/* fork() while the producer is idle, its reports not all taken: the child frees the copy of
 * the parent's engine (nothing of it was being changed at fork), with no report of the parent's
 * and no callback, and produces on its own; the parent still has its reports. */
static void test_fork_while_idle(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("async-fork-idle");
    kk_test_create_topic(topic, 2);
    kk_producer_t *p = new_producer(16384, 5);
    enum { PARENT = 200, CHILD = 100 };
    for (size_t i = 0; i < PARENT; i++)
        produce_text(p, topic, (int32_t)(i % 2), "parent", (void *)(uintptr_t)1);
    kk_error_t err;
    if (kk_producer_flush(p, 30000, NULL, &err) != KK_OK)
        fail_msg("parent flush: %s", err.message);
    kk_delivery_report_t r[256];
    size_t total = kk_producer_poll(p, r, 50, 0); /* some taken, the rest waiting */
    usleep(300 * 1000);                           /* the I/O thread waits in poll() */
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        bool fresh = kk_producer_in_flight(p) == 0 && kk_producer_poll(p, r, 256, 0) == 0;
        int status = !fresh ? 20 : child_produces(p, topic, -1, CHILD, 20);
        kk_producer_free(p);
        _exit(status);
    }
    size_t n;
    while ((n = kk_producer_poll(p, r, 256, 0)) > 0)
        for (size_t j = 0; j < n; j++, total++)
            assert_int_equal((uintptr_t)r[j].opaque, 1);
    assert_int_equal(total, PARENT);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    kk_producer_free(p);
}

int main(void) {
    kk_test_bootstrap();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_answers_no_duplicates),
        cmocka_unit_test(test_flush_with_no_wait_ends_the_linger),
        cmocka_unit_test(test_produce_poll_memory_is_flat),
        cmocka_unit_test(test_fork_with_messages_in_flight),
        cmocka_unit_test(test_fork_while_idle),
    };
    if (getenv("KK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("KK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
