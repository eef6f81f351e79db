/*
 * Interop over SASL_SSL with SCRAM-SHA-512: confluent-kafka (librdkafka, through
 * tests/security/confluent_peer.py) produces and kafkette consumes, then kafkette produces and
 * confluent-kafka consumes; keys, values and offsets must match exactly. Skipped, loudly,
 * when python3 has no confluent_kafka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "broker_env.h"
#include "kafkette.h"
#include "security_env.h"

#define RECORDS 200

static const char *const pairs[] = {"security_protocol",
                                    "SASL_SSL",
                                    "sasl_mechanism",
                                    "SCRAM-SHA-512",
                                    "sasl_username",
                                    "$KAFKETTE_SASL_USERNAME",
                                    "sasl_password",
                                    "$KAFKETTE_SASL_PASSWORD",
                                    "ssl_cafile",
                                    "$KAFKETTE_CA_FILE",
                                    NULL};

/* Runs the confluent peer; its exit status (77: confluent-kafka missing). */
static int peer(const char *mode, const char *topic) {
    static const char *const vars[] = {"KAFKETTE_SASL_USERNAME", "KAFKETTE_SASL_PASSWORD",
                                       "KAFKETTE_CA_FILE"};
    for (size_t i = 0; i < 3; i++)
        setenv(vars[i], kk_sec_env(vars[i]), 1);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "python3 %s/tests/security/confluent_peer.py %s %s %s %d",
             KAFKETTE_SOURCE_DIR, mode, kk_sec_env("KAFKETTE_BOOTSTRAP_SASL_SSL"), topic, RECORDS);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static kk_producer_t *new_producer(kk_config_t **cfg) {
    *cfg = kk_sec_config(KK_CONFIG_PRODUCER, "KAFKETTE_BOOTSTRAP_SASL_SSL", pairs);
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(kk_config_producer(*cfg), &err);
    if (!p)
        fail_msg("kk_producer_new: %s", err.message);
    return p;
}

static void test_confluent_produces_kafkette_consumes(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("interop-from-confluent");
    kk_config_t *pcfg;
    kk_producer_t *p = new_producer(&pcfg);
    kk_error_t err;
    assert_int_equal(
        kk_client_create_topic(kk_producer_client(p), topic, 1, 1, NULL, 0, 15000, &err), KK_OK);
    kk_producer_free(p);
    kk_config_free(pcfg);
    int rc = peer("produce", topic);
    if (rc == 77) {
        fprintf(stderr,
                "\n*** SKIPPED: python3 cannot import confluent_kafka; interop untested ***\n\n");
        skip();
    }
    assert_int_equal(rc, 0);

    kk_config_t *cfg = kk_sec_config(KK_CONFIG_CONSUMER, "KAFKETTE_BOOTSTRAP_SASL_SSL", pairs);
    kk_consumer_config_t *cc = kk_config_consumer(cfg);
    cc->topic = topic;
    cc->partition = 0;
    kk_consumer_t *c = kk_consumer_new(cc, &err);
    assert_non_null(c);
    int got = 0;
    for (int tries = 0; tries < 50 && got < RECORDS; tries++) {
        kk_fetch_batch_t *b = NULL;
        if (kk_consumer_fetch(c, &KK_FETCH_OPTIONS_DEFAULT, &b, &err) != KK_OK)
            fail_msg("fetch: %s", err.message);
        for (size_t i = 0; i < b->count; i++, got++) {
            char key[16], value[32];
            snprintf(key, sizeof(key), "k%d", got);
            snprintf(value, sizeof(value), "from-confluent-%d", got);
            assert_int_equal(b->messages[i].offset, got);
            assert_int_equal(b->messages[i].key_len, strlen(key));
            assert_memory_equal(b->messages[i].key, key, strlen(key));
            assert_int_equal(b->messages[i].value_len, strlen(value));
            assert_memory_equal(b->messages[i].value, value, strlen(value));
        }
        kk_fetch_batch_free(b);
    }
    assert_int_equal(got, RECORDS);
    kk_consumer_free(c);
    kk_config_free(cfg);
}

static void test_kafkette_produces_confluent_consumes(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("interop-from-kafkette");
    kk_config_t *cfg;
    kk_producer_t *p = new_producer(&cfg);
    kk_error_t err;
    assert_int_equal(
        kk_client_create_topic(kk_producer_client(p), topic, 1, 1, NULL, 0, 15000, &err), KK_OK);
    static char keys[RECORDS][16], values[RECORDS][32];
    kk_message_t msgs[RECORDS];
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < RECORDS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        snprintf(values[i], sizeof(values[i]), "from-kafkette-%d", i);
        msgs[i] = (kk_message_t){.topic = topic,
                                 .partition = 0,
                                 .key = keys[i],
                                 .key_len = strlen(keys[i]),
                                 .value = values[i],
                                 .value_len = strlen(values[i])};
    }
    if (kk_producer_send(p, msgs, RECORDS, &err) != KK_OK)
        fail_msg("send: %s", err.message);
    kk_producer_free(p);
    kk_config_free(cfg);
    int rc = peer("consume", topic);
    if (rc == 77) {
        fprintf(stderr,
                "\n*** SKIPPED: python3 cannot import confluent_kafka; interop untested ***\n\n");
        skip();
    }
    assert_int_equal(rc, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_confluent_produces_kafkette_consumes),
        cmocka_unit_test(test_kafkette_produces_confluent_consumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
