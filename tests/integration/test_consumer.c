/* The partition consumer against the real broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <time.h>

#include "broker_env.h"
#include "kafkette.h"

enum { N = 100 };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static kk_client_t *admin_client(void) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    return kk_client_new(&cfg, &err);
}

static void create_topic(const char *topic, int partitions) {
    kk_client_t *client = admin_client();
    kk_error_t err;
    if (kk_client_create_topic(client, topic, partitions, 1, NULL, 0, 30000, &err) != KK_OK)
        fail_msg("create %s: %s", topic, err.message);
    kk_client_free(client);
}

/* Produces N messages "value-<i>" keyed "key-<i>" with timestamps base_ts + i * 1000. */
static void produce_numbered(const char *topic, int64_t base_ts, kk_codec_t codec) {
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.compression = codec;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    kk_message_t msgs[N];
    char keys[N][16], values[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
        snprintf(values[i], sizeof(values[i]), "value-%d", i);
        msgs[i] = (kk_message_t){.topic = topic, .key = keys[i], .key_len = strlen(keys[i]),
                                 .value = values[i], .value_len = strlen(values[i]), .partition = 0,
                                 .timestamp_ms = base_ts + i * 1000};
    }
    if (kk_producer_send(p, msgs, N, &err) != KK_OK)
        fail_msg("produce: %s", err.message);
    kk_producer_free(p);
}

typedef struct log_capture {
    char text[4096];
} log_capture_t;

static void capture_log(void *opaque, kk_log_level_t level, const char *message) {
    (void)level;
    log_capture_t *cap = opaque;
    size_t used = strlen(cap->text);
    snprintf(cap->text + used, sizeof(cap->text) - used, "%s\n", message);
}

static kk_consumer_t *new_consumer(const char *topic, kk_offset_spec_t offset, int32_t max_bytes,
                                   log_capture_t *cap) {
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.topic = topic;
    cfg.partition = 0;
    cfg.offset = offset;
    if (max_bytes > 0)
        cfg.max_bytes = max_bytes;
    if (cap) {
        cfg.client.log_cb = capture_log;
        cfg.client.log_opaque = cap;
    }
    kk_error_t err;
    kk_consumer_t *c = kk_consumer_new(&cfg, &err);
    if (!c)
        fail_msg("consumer: %s", err.message);
    return c;
}

/* Fetches until `want` messages arrived (or 50 fetches), checking they are value-<first..>. */
static int64_t read_numbered(kk_consumer_t *c, int64_t first, int want) {
    int got = 0;
    for (int tries = 0; got < want && tries < 50; tries++) {
        kk_fetch_batch_t *batch = NULL;
        kk_error_t err;
        if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
            fail_msg("fetch: %s", err.message);
        for (size_t i = 0; i < batch->count; i++, got++) {
            const kk_fetched_message_t *m = &batch->messages[i];
            char expected[32];
            snprintf(expected, sizeof(expected), "value-%d", (int)(first + got));
            assert_int_equal(m->offset, first + got);
            assert_int_equal(m->value_len, strlen(expected));
            assert_memory_equal(m->value, expected, m->value_len);
            snprintf(expected, sizeof(expected), "key-%d", (int)(first + got));
            assert_memory_equal(m->key, expected, m->key_len);
            assert_int_equal(m->timestamp_type, 0);
        }
        assert_int_equal(batch->high_watermark, N);
        kk_fetch_batch_free(batch);
    }
    assert_int_equal(got, want);
    return kk_consumer_next_offset(c);
}

static void test_offsets_forms(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-cons-offsets");
    create_topic(topic, 1);
    int64_t base_ts = 1700000000000LL;
    produce_numbered(topic, base_ts, KK_CODEC_NONE);

    kk_consumer_t *c = new_consumer(topic, (kk_offset_spec_t){KK_OFFSET_EARLIEST, 0}, 0, NULL);
    assert_int_equal(read_numbered(c, 0, N), N);
    assert_int_equal(kk_consumer_highwater_mark(c), N);
    assert_int_equal(kk_consumer_log_start_offset(c), 0);
    kk_consumer_free(c);

    c = new_consumer(topic, (kk_offset_spec_t){KK_OFFSET_FROM_LATEST, 10}, 0, NULL);
    assert_int_equal(read_numbered(c, N - 10, 10), N);
    kk_consumer_free(c);

    c = new_consumer(topic, (kk_offset_spec_t){KK_OFFSET_AT, 42}, 0, NULL);
    assert_int_equal(read_numbered(c, 42, N - 42), N);
    kk_consumer_free(c);

    c = new_consumer(topic, (kk_offset_spec_t){KK_OFFSET_AT_TIME, base_ts + 50 * 1000 - 1}, 0, NULL);
    kk_error_t err;
    assert_int_equal(kk_consumer_connect(c, &err), KK_OK);
    assert_int_equal(kk_consumer_next_offset(c), 50);
    assert_int_equal(read_numbered(c, 50, N - 50), N);
    kk_consumer_free(c);

    c = new_consumer(topic, (kk_offset_spec_t){KK_OFFSET_LATEST, 0}, 0, NULL);
    assert_int_equal(kk_consumer_connect(c, &err), KK_OK);
    assert_int_equal(kk_consumer_next_offset(c), N);
    kk_consumer_free(c);
}

static void test_max_wait_honoured_when_empty(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-cons-wait");
    create_topic(topic, 1);
    kk_consumer_t *c = new_consumer(topic, (kk_offset_spec_t){KK_OFFSET_LATEST, 0}, 0, NULL);
    kk_error_t err;
    assert_int_equal(kk_consumer_connect(c, &err), KK_OK);
    kk_fetch_options_t opts = {-1, 1, 700};
    double start = now_s();
    kk_fetch_batch_t *batch = NULL;
    assert_int_equal(kk_consumer_fetch(c, &opts, &batch, &err), KK_OK);
    double elapsed = now_s() - start;
    assert_int_equal(batch->count, 0);
    assert_true(elapsed >= 0.6 && elapsed < 5.0);
    kk_fetch_batch_free(batch);
    kk_consumer_free(c);
}

/* A record bigger than max_bytes is still consumed (v3+ brokers return the first batch
 * whole; for older ones the consumer grows the limit). */
static void test_record_bigger_than_max_bytes(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-cons-big");
    create_topic(topic, 1);
    kk_producer_config_t pcfg;
    kk_producer_config_init(&pcfg);
    pcfg.client.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&pcfg, &err);
    size_t big_len = 200 * 1024;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    kk_message_t msgs[2] = {{.topic = topic, .value = big, .value_len = big_len, .partition = 0},
                            {.topic = topic, .value = "small", .value_len = 5, .partition = 0}};
    assert_int_equal(kk_producer_send(p, msgs, 2, &err), KK_OK);
    kk_producer_free(p);

    kk_consumer_t *c = new_consumer(topic, (kk_offset_spec_t){KK_OFFSET_EARLIEST, 0}, 10 * 1024, NULL);
    int got = 0;
    for (int tries = 0; got < 2 && tries < 10; tries++) {
        kk_fetch_batch_t *batch = NULL;
        if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
            fail_msg("fetch: %s", err.message);
        for (size_t i = 0; i < batch->count; i++, got++) {
            if (got == 0) {
                assert_int_equal(batch->messages[i].value_len, big_len);
                assert_memory_equal(batch->messages[i].value, big, big_len);
            } else {
                assert_memory_equal(batch->messages[i].value, "small", 5);
            }
        }
        kk_fetch_batch_free(batch);
    }
    assert_int_equal(got, 2);
    free(big);
    kk_consumer_free(c);
}

/* Records written by another client (kcat/librdkafka) with every codec decode identically. */
static void test_other_clients_records_with_every_codec(void **state) {
    (void)state;
    const char *codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    for (size_t k = 0; k < 5; k++) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "kk-cons-kcat-%s", codecs[k]);
        const char *topic = kk_test_unique_topic(prefix);
        create_topic(topic, 1);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "kcat -b '%s' -P -t '%s' -p 0 -K: -z %s -X linger.ms=50", kk_test_bootstrap(),
                 topic, codecs[k]);
        FILE *f = popen(cmd, "w");
        for (int i = 0; i < N; i++)
            fprintf(f, "key-%d:value-%d\n", i, i);
        assert_int_equal(pclose(f), 0);
        kk_consumer_t *c = new_consumer(topic, (kk_offset_spec_t){KK_OFFSET_EARLIEST, 0}, 0, NULL);
        int got = 0;
        for (int tries = 0; got < N && tries < 50; tries++) {
            kk_fetch_batch_t *batch = NULL;
            kk_error_t err;
            if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
                fail_msg("fetch (%s): %s", codecs[k], err.message);
            for (size_t i = 0; i < batch->count; i++, got++) {
                char expected[32];
                snprintf(expected, sizeof(expected), "value-%d", got);
                assert_int_equal(batch->messages[i].offset, got);
                assert_int_equal(batch->messages[i].value_len, strlen(expected));
                assert_memory_equal(batch->messages[i].value, expected, strlen(expected));
                snprintf(expected, sizeof(expected), "key-%d", got);
                assert_int_equal(batch->messages[i].key_len, strlen(expected));
                assert_memory_equal(batch->messages[i].key, expected, strlen(expected));
            }
            kk_fetch_batch_free(batch);
        }
        assert_int_equal(got, N);
        kk_consumer_free(c);
    }
}

/* After DeleteRecords moves the log start, the out-of-range policy decides, visibly. */
static void test_out_of_range_policies(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-cons-oor");
    create_topic(topic, 1);
    produce_numbered(topic, 1700000000000LL, KK_CODEC_GZIP);
    kk_client_t *admin = admin_client();
    kk_error_t err;
    int64_t low = -1;
    if (kk_client_delete_records(admin, topic, 0, 60, 30000, &low, &err) != KK_OK)
        fail_msg("delete records: %s", err.message);
    assert_int_equal(low, 60);
    kk_client_free(admin);

    /* default policy: earliest, with a log line */
    log_capture_t cap = {""};
    kk_consumer_t *c = new_consumer(topic, (kk_offset_spec_t){KK_OFFSET_AT, 10}, 0, &cap);
    assert_int_equal(read_numbered(c, 60, N - 60), N);
    assert_non_null(strstr(cap.text, "offset 10 is out of range"));
    assert_non_null(strstr(cap.text, "reset to the earliest offset 60"));
    kk_consumer_free(c);

    /* raise */
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.topic = topic;
    cfg.offset = (kk_offset_spec_t){KK_OFFSET_AT, 10};
    cfg.offset_reset = KK_RESET_ERROR;
    c = kk_consumer_new(&cfg, &err);
    kk_fetch_batch_t *batch = NULL;
    assert_int_equal(kk_consumer_fetch(c, NULL, &batch, &err), 1);
    assert_null(batch);
    assert_non_null(strstr(err.message, "out of range"));
    assert_int_equal(kk_consumer_next_offset(c), 10);
    kk_consumer_free(c);

    /* latest, from beyond the end */
    cfg.offset = (kk_offset_spec_t){KK_OFFSET_AT, 5000};
    cfg.offset_reset = KK_RESET_LATEST;
    c = kk_consumer_new(&cfg, &err);
    assert_int_equal(kk_consumer_fetch(c, &(kk_fetch_options_t){-1, -1, 10}, &batch, &err), KK_OK);
    assert_int_equal(batch->count, 0);
    assert_int_equal(kk_consumer_next_offset(c), N);
    kk_fetch_batch_free(batch);
    kk_consumer_free(c);
}

static void test_bad_input(void **state) {
    (void)state;
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    cfg.topic = "whatever";
    cfg.partition = -1;
    assert_null(kk_consumer_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_PARTITION);
    cfg.topic = NULL;
    cfg.partition = 0;
    assert_null(kk_consumer_new(&cfg, &err));
    assert_int_equal(err.code, KK_ERR_INVALID_ARG);

    /* an unknown topic is reported, not created */
    const char *missing = kk_test_unique_topic("kk-cons-missing");
    cfg.topic = missing;
    kk_consumer_t *c = kk_consumer_new(&cfg, &err);
    kk_fetch_batch_t *batch = NULL;
    assert_int_equal(kk_consumer_fetch(c, NULL, &batch, &err), 3);
    assert_non_null(strstr(err.message, "does not exist"));
    kk_consumer_free(c);
    kk_client_t *admin = admin_client();
    kk_metadata_t *md = NULL;
    const char *topics[] = {missing};
    kk_client_config_t probe_cfg;
    kk_client_config_init(&probe_cfg);
    probe_cfg.bootstrap_servers = kk_test_bootstrap();
    probe_cfg.allow_auto_topic_creation = false;
    kk_client_t *probe = kk_client_new(&probe_cfg, &err);
    assert_int_equal(kk_client_metadata(probe, topics, 1, &md, &err), KK_OK);
    assert_int_equal(kk_metadata_topic(md, missing)->error_code, 3);
    kk_metadata_free(md);
    kk_client_free(probe);
    kk_client_free(admin);

    /* a partition the topic does not have */
    const char *topic = kk_test_unique_topic("kk-cons-parts");
    create_topic(topic, 2);
    cfg.topic = topic;
    cfg.partition = 2;
    c = kk_consumer_new(&cfg, &err);
    assert_int_equal(kk_consumer_fetch(c, NULL, &batch, &err), KK_ERR_INVALID_PARTITION);
    assert_non_null(strstr(err.message, "no partition 2"));
    kk_consumer_free(c);
}

int main(void) {
    printf("broker: %s\n", kk_test_bootstrap());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_forms),
        cmocka_unit_test(test_max_wait_honoured_when_empty),
        cmocka_unit_test(test_record_bigger_than_max_bytes),
        cmocka_unit_test(test_other_clients_records_with_every_codec),
        cmocka_unit_test(test_out_of_range_policies),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
