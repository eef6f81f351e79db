/*
 * The old protocol paths against a Kafka 3.9 broker, which still accepts Produce v0-v2
 * (MessageSet v0/v1) and Fetch v0-v3 (it down-converts stored batches to magic 0/1 for them).
 * script/test.d/10-legacy-broker starts that broker and runs this.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker_env.h"
#include "kafkette.h"

enum { N = 50 };

/* Sends N keyed messages with Produce capped at `version`; returns the send's result. */
static int produce_with(const char *topic, int16_t version, kk_codec_t codec, kk_message_t *msgs,
                        char (*values)[32], kk_error_t *err) {
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.client.max_api_version[KK_API_PRODUCE] = version;
    cfg.compression = codec;
    kk_producer_t *p = kk_producer_new(&cfg, err);
    assert_non_null(p);
    for (int i = 0; i < N; i++) {
        snprintf(values[i], 32, "v%d-%s-p%d", i, kk_codec_name(codec), version);
        msgs[i] = (kk_message_t){.topic = topic,
                                 .key = "k",
                                 .key_len = 1,
                                 .value = values[i],
                                 .value_len = strlen(values[i]),
                                 .partition = 0};
    }
    int rc = kk_producer_send(p, msgs, N, err);
    assert_int_equal(kk_client_api_version(kk_producer_client(p), KK_API_PRODUCE), version);
    kk_producer_free(p);
    return rc;
}

/* Reads the topic from the start with Fetch capped at `version` and checks every value. */
static void read_back_with(const char *topic, int16_t version, char (*values)[32],
                           bool written_with_timestamps) {
    kk_consumer_config_t cfg;
    kk_consumer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.client.max_api_version[KK_API_FETCH] = version;
    cfg.client.max_api_version[KK_API_LIST_OFFSETS] = version < 1 ? 0 : 1;
    cfg.topic = topic;
    kk_error_t err;
    kk_consumer_t *c = kk_consumer_new(&cfg, &err);
    int got = 0;
    for (int tries = 0; got < N && tries < 30; tries++) {
        kk_fetch_batch_t *batch = NULL;
        if (kk_consumer_fetch(c, NULL, &batch, &err) != KK_OK)
            fail_msg("fetch v%d: %s", version, err.message);
        for (size_t i = 0; i < batch->count; i++, got++) {
            const kk_fetched_message_t *m = &batch->messages[i];
            assert_int_equal(m->offset, got);
            assert_int_equal(m->value_len, strlen(values[got]));
            assert_memory_equal(m->value, values[got], m->value_len);
            assert_int_equal(m->key_len, 1);
            /* magic 0 carries no timestamp, whether written so (Produce v0/v1) or read so
             * (Fetch v0/v1); magic 1 and 2 do */
            if (version <= 1 || !written_with_timestamps)
                assert_int_equal(m->timestamp, -1);
            else if (m->timestamp < 1600000000000LL)
                fail_msg("record %d read with Fetch v%d has timestamp %lld (type %d)", got, version,
                         (long long)m->timestamp, m->timestamp_type);
        }
        kk_fetch_batch_free(batch);
    }
    assert_int_equal(got, N);
    assert_int_equal(kk_client_api_version(kk_consumer_client(c), KK_API_FETCH), version);
    kk_consumer_free(c);
}

static void test_broker_is_3x(void **state) {
    (void)state;
    const char *v = getenv("KAFKETTE_KAFKA_VERSION");
    if (!v || strncmp(v, "3.", 2) != 0)
        fail_msg("these tests need a Kafka 3.x broker (KAFKETTE_KAFKA_VERSION=%s); run them "
                 "through script/test.d/10-legacy-broker",
                 v ? v : "(unset)");
}

/* Produce v0-v2 write MessageSet v0/v1 (plain and compressed); every Fetch version reads them. */
static void test_message_set_produce_and_fetch(void **state) {
    (void)state;
    const struct {
        int16_t produce_version;
        kk_codec_t codec;
    } cases[] = {
        {2, KK_CODEC_NONE}, {2, KK_CODEC_GZIP}, {2, KK_CODEC_SNAPPY}, {2, KK_CODEC_LZ4},
        {1, KK_CODEC_NONE}, {0, KK_CODEC_GZIP}, {0, KK_CODEC_SNAPPY},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "kk-legacy-p%d-%s", cases[c].produce_version,
                 kk_codec_name(cases[c].codec));
        const char *topic = kk_test_unique_topic(prefix);
        kk_test_create_topic(topic, 1);
        kk_message_t msgs[N];
        char values[N][32];
        kk_error_t err;
        if (produce_with(topic, cases[c].produce_version, cases[c].codec, msgs, values, &err) !=
            KK_OK)
            fail_msg("produce v%d %s: %s", cases[c].produce_version, kk_codec_name(cases[c].codec),
                     err.message);
        for (int i = 0; i < N; i++)
            assert_int_equal(msgs[i].offset, i);
        /* magic 2 (v12), magic 1 after down-conversion (v2), magic 0 (v0) */
        bool timestamps = cases[c].produce_version >= 2;
        read_back_with(topic, 12, values, timestamps);
        read_back_with(topic, 2, values, timestamps);
        read_back_with(topic, 0, values, timestamps);
    }
}

/* zstd needs RecordBatch v2: on the old path the send fails, saying so. */
static void test_zstd_on_old_produce_is_refused_clearly(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-legacy-zstd");
    kk_test_create_topic(topic, 1);
    kk_message_t msgs[N];
    char values[N][32];
    kk_error_t err;
    int rc = produce_with(topic, 2, KK_CODEC_ZSTD, msgs, values, &err);
    printf("zstd over Produce v2: %s\n", err.message);
    assert_int_equal(rc, msgs[0].error);
    assert_int_not_equal(rc, KK_OK);
    assert_non_null(strstr(err.message, "zstd needs magic 2"));
}

int main(void) {
    /* Unset: not given a broker for these tests (a plain ctest). Set to anything but 3.x:
     * given the wrong one, which test_broker_is_3x reports as a failure. */
    if (!getenv("KAFKETTE_KAFKA_VERSION"))
        kk_test_skip_without_broker("KAFKETTE_KAFKA_VERSION is unset: these tests need the Kafka "
                                    "3.x broker that script/test.d/10-legacy-broker starts");
    printf("broker: %s (Kafka %s)\n", kk_test_bootstrap(), getenv("KAFKETTE_KAFKA_VERSION"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_is_3x),
        cmocka_unit_test(test_message_set_produce_and_fetch),
        cmocka_unit_test(test_zstd_on_old_produce_is_refused_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
