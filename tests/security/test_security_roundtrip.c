/*
 * Produce, fetch and a consumer group over every secured listener of `script/kafka start
 * --security`: SSL, mutual TLS (client certificate with an encrypted key), and SASL_PLAINTEXT
 * and SASL_SSL with each of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER. Everything goes
 * through the option table, as a binding would pass it. Each case fails if a record is lost,
 * altered or repeated, or if anything (metadata, the leader, the coordinator, the heartbeat
 * connection) falls back to a plaintext listener: the broker advertises the listener the client
 * came in on, so all those connections are secured too.
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
#include "client.h"
#include "kafkette.h"
#include "security_env.h"

#define RECORDS 60
#define PARTITIONS 2

static char value_of[RECORDS][32];

static void check_ok(int rc, const kk_error_t *err, const char *what) {
    if (rc != KK_OK)
        fail_msg("%s: %s (%s)", what, err->message, kk_err_name(rc));
}

static void produce(const char *bootstrap, const char *const *pairs, const char *topic) {
    kk_config_t *cfg = kk_sec_config(KK_CONFIG_PRODUCER, bootstrap, pairs);
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(kk_config_producer(cfg), &err);
    if (!p)
        fail_msg("kk_producer_new: %s", err.message);
    check_ok(
        kk_client_create_topic(kk_producer_client(p), topic, PARTITIONS, 1, NULL, 0, 15000, &err),
        &err, "create topic");
    kk_message_t msgs[RECORDS];
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < RECORDS; i++) {
        snprintf(value_of[i], sizeof(value_of[i]), "secured-%d", i);
        msgs[i].topic = topic;
        msgs[i].partition = i % PARTITIONS;
        msgs[i].value = value_of[i];
        msgs[i].value_len = strlen(value_of[i]);
    }
    check_ok(kk_producer_send(p, msgs, RECORDS, &err), &err, "send");
    for (int i = 0; i < RECORDS; i++)
        assert_int_equal(msgs[i].offset, i / PARTITIONS);
    /* the producer's connections really are the secured ones */
    kk_client_t *client = kk_producer_client(p);
    const char *expected = kk_sec_env(bootstrap);
    assert_non_null(strstr(expected, kk_client_bootstrap_broker(client)));
    for (size_t i = 0; i < client->broker_count; i++)
        assert_non_null(strstr(expected, client->brokers[i]->conn.label));
    kk_producer_free(p);
    kk_config_free(cfg);
}

static void fetch(const char *bootstrap, const char *const *pairs, const char *topic) {
    for (int32_t part = 0; part < PARTITIONS; part++) {
        kk_config_t *cfg = kk_sec_config(KK_CONFIG_CONSUMER, bootstrap, pairs);
        kk_consumer_config_t *cc = kk_config_consumer(cfg);
        cc->topic = topic;
        cc->partition = part;
        kk_error_t err;
        kk_consumer_t *c = kk_consumer_new(cc, &err);
        if (!c)
            fail_msg("kk_consumer_new: %s", err.message);
        int got = 0;
        for (int tries = 0; tries < 50 && got < RECORDS / PARTITIONS; tries++) {
            kk_fetch_batch_t *b = NULL;
            check_ok(kk_consumer_fetch(c, &KK_FETCH_OPTIONS_DEFAULT, &b, &err), &err, "fetch");
            for (size_t i = 0; i < b->count; i++) {
                const kk_fetched_message_t *m = &b->messages[i];
                int index = (int)m->offset * PARTITIONS + part;
                assert_int_equal(m->offset, got);
                assert_int_equal(m->value_len, strlen(value_of[index]));
                assert_memory_equal(m->value, value_of[index], m->value_len);
                got++;
            }
            kk_fetch_batch_free(b);
        }
        assert_int_equal(got, RECORDS / PARTITIONS);
        kk_consumer_free(c);
        kk_config_free(cfg);
    }
}

static void group(const char *bootstrap, const char *const *pairs, const char *topic) {
    kk_config_t *cfg = kk_sec_config(KK_CONFIG_GROUP, bootstrap, pairs);
    kk_error_t err;
    check_ok(kk_config_set(cfg, "session_timeout_ms", "6000", &err), &err, "session");
    check_ok(kk_config_set(cfg, "auto_commit_interval_ms", "0", &err), &err, "autocommit");
    kk_group_config_t *gc = kk_config_group(cfg);
    char group_id[160];
    snprintf(group_id, sizeof(group_id), "g-%s", topic);
    const char *topics[] = {topic};
    gc->group_id = group_id;
    gc->topics = topics;
    gc->topic_count = 1;
    kk_group_t *g = kk_group_new(gc, &err);
    if (!g)
        fail_msg("kk_group_new: %s", err.message);
    bool seen[RECORDS] = {false};
    int got = 0;
    for (int tries = 0; tries < 100 && got < RECORDS; tries++) {
        kk_fetch_batch_t *b = NULL;
        kk_topic_partition_t tp;
        check_ok(kk_group_poll(g, 500, &b, &tp, &err), &err, "group poll");
        for (size_t i = 0; b && i < b->count; i++) {
            int index = (int)b->messages[i].offset * PARTITIONS + tp.partition;
            assert_true(index < RECORDS);
            assert_false(seen[index]);
            seen[index] = true;
            assert_memory_equal(b->messages[i].value, value_of[index], b->messages[i].value_len);
            got++;
        }
        kk_fetch_batch_free(b);
    }
    assert_int_equal(got, RECORDS);
    check_ok(kk_group_commit_consumed(g, &err), &err, "commit");
    int64_t committed = -1;
    check_ok(kk_group_committed(g, topic, 1, &committed, &err), &err, "committed");
    assert_int_equal(committed, RECORDS / PARTITIONS);
    check_ok(kk_group_close(g, &err), &err, "close");
    kk_group_free(g);
    kk_config_free(cfg);
}

static void roundtrip(const char *name, const char *bootstrap, const char *const *pairs) {
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "sec-%s", name);
    const char *topic = kk_test_unique_topic(prefix);
    print_message("%s over %s\n", name, kk_sec_env(bootstrap));
    produce(bootstrap, pairs, topic);
    fetch(bootstrap, pairs, topic);
    group(bootstrap, pairs, topic);
}

static void test_ssl(void **state) {
    (void)state;
    const char *pairs[] = {"security_protocol", "SSL", "ssl_cafile", "$KAFKETTE_CA_FILE", NULL};
    roundtrip("ssl", "KAFKETTE_BOOTSTRAP_SSL", pairs);
}

/* The MTLS listener requires a client certificate; this one's key is encrypted. */
static void test_mutual_tls(void **state) {
    (void)state;
    const char *pairs[] = {"security_protocol",
                           "SSL",
                           "ssl_cafile",
                           "$KAFKETTE_CA_FILE",
                           "ssl_certfile",
                           "$KAFKETTE_CLIENT_CERT",
                           "ssl_keyfile",
                           "$KAFKETTE_CLIENT_KEY_ENCRYPTED",
                           "ssl_password",
                           "$KAFKETTE_CLIENT_KEY_PASSWORD",
                           NULL};
    roundtrip("mtls", "KAFKETTE_BOOTSTRAP_MTLS", pairs);
}

static void sasl(const char *protocol, const char *mechanism) {
    char name[64];
    snprintf(name, sizeof(name), "%s-%s", protocol, mechanism);
    for (char *p = name; *p; p++)
        *p = *p == '_' ? '-' : (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    char bootstrap[64];
    snprintf(bootstrap, sizeof(bootstrap), "KAFKETTE_BOOTSTRAP_%s", protocol);
    bool oauth = strcmp(mechanism, "OAUTHBEARER") == 0;
    const char *pairs[] = {"security_protocol",
                           protocol,
                           "sasl_mechanism",
                           mechanism,
                           oauth ? "sasl_oauth_token" : "sasl_username",
                           oauth ? kk_sec_unsecured_token(3600) : "$KAFKETTE_SASL_USERNAME",
                           oauth ? "client_id" : "sasl_password",
                           oauth ? "kafkette-oauth" : "$KAFKETTE_SASL_PASSWORD",
                           "ssl_cafile",
                           "$KAFKETTE_CA_FILE",
                           NULL};
    roundtrip(name, bootstrap, pairs);
}

static void test_sasl_plaintext_plain(void **state) {
    (void)state;
    sasl("SASL_PLAINTEXT", "PLAIN");
}
static void test_sasl_plaintext_scram_256(void **state) {
    (void)state;
    sasl("SASL_PLAINTEXT", "SCRAM-SHA-256");
}
static void test_sasl_plaintext_scram_512(void **state) {
    (void)state;
    sasl("SASL_PLAINTEXT", "SCRAM-SHA-512");
}
static void test_sasl_plaintext_oauthbearer(void **state) {
    (void)state;
    sasl("SASL_PLAINTEXT", "OAUTHBEARER");
}
static void test_sasl_ssl_plain(void **state) {
    (void)state;
    sasl("SASL_SSL", "PLAIN");
}
static void test_sasl_ssl_scram_256(void **state) {
    (void)state;
    sasl("SASL_SSL", "SCRAM-SHA-256");
}
static void test_sasl_ssl_scram_512(void **state) {
    (void)state;
    sasl("SASL_SSL", "SCRAM-SHA-512");
}
static void test_sasl_ssl_oauthbearer(void **state) {
    (void)state;
    sasl("SASL_SSL", "OAUTHBEARER");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ssl),
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_sasl_plaintext_plain),
        cmocka_unit_test(test_sasl_plaintext_scram_256),
        cmocka_unit_test(test_sasl_plaintext_scram_512),
        cmocka_unit_test(test_sasl_plaintext_oauthbearer),
        cmocka_unit_test(test_sasl_ssl_plain),
        cmocka_unit_test(test_sasl_ssl_scram_256),
        cmocka_unit_test(test_sasl_ssl_scram_512),
        cmocka_unit_test(test_sasl_ssl_oauthbearer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
