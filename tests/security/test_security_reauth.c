/*
 * KIP-368 re-authentication. The secured broker gives SASL sessions a lifetime
 * (connections.max.reauth.ms, 10 s in script/kafka) and closes a connection that sends a request
 * after it. Each client here authenticates, waits past 85% of the lifetime, sends a request
 * (which must re-authenticate first, on the same connection), then waits past the original
 * lifetime and sends another: it must be answered on the same connection, with no reconnect.
 * The asynchronous producer re-authenticates its brokers' connections on a job thread, off its
 * I/O thread, before their sessions end: it produces across two session lifetimes, with every
 * message delivered and no reconnect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"
#include "kafkette.h"
#include "security_env.h"

typedef struct counted {
    int connects;
    int reconnects;
} counted_t;

static void count_log(void *opaque, kk_log_level_t level, const char *line) {
    (void)level;
    counted_t *c = opaque;
    if (strstr(line, "connected to seed"))
        c->connects++;
    if (strstr(line, "reconnecting"))
        c->reconnects++;
}

#define CLIENTS 5

static void metadata(kk_client_t *client) {
    kk_metadata_t *md = NULL;
    kk_error_t err;
    if (kk_client_metadata(client, NULL, 0, &md, &err) != KK_OK)
        fail_msg("metadata: %s", err.message);
    kk_metadata_free(md);
}

static void test_reauthenticates_before_the_session_ends(void **state) {
    (void)state;
    long lifetime_ms = atol(kk_sec_env("KAFKETTE_REAUTH_MS"));
    assert_true(lifetime_ms >= 2000);
    static const char *const cases[CLIENTS][3] = {
        {"KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT", "SASL_PLAINTEXT", "PLAIN"},
        {"KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT", "SASL_PLAINTEXT", "SCRAM-SHA-256"},
        {"KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT", "SASL_PLAINTEXT", "SCRAM-SHA-512"},
        {"KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT", "SASL_PLAINTEXT", "OAUTHBEARER"},
        {"KAFKETTE_BOOTSTRAP_SASL_SSL", "SASL_SSL", "SCRAM-SHA-512"},
    };
    kk_config_t *cfgs[CLIENTS];
    kk_client_t *clients[CLIENTS];
    counted_t counts[CLIENTS];
    memset(counts, 0, sizeof(counts));
    int64_t first_auth = kk_monotonic_ms();
    for (int i = 0; i < CLIENTS; i++) {
        bool oauth = strcmp(cases[i][2], "OAUTHBEARER") == 0;
        const char *pairs[] = {"security_protocol",
                               cases[i][1],
                               "sasl_mechanism",
                               cases[i][2],
                               oauth ? "sasl_oauth_token" : "sasl_username",
                               oauth ? kk_sec_unsecured_token(3600) : "$KAFKETTE_SASL_USERNAME",
                               oauth ? "client_id" : "sasl_password",
                               oauth ? "kafkette-oauth" : "$KAFKETTE_SASL_PASSWORD",
                               "ssl_cafile",
                               "$KAFKETTE_CA_FILE",
                               NULL};
        cfgs[i] = kk_sec_config(KK_CONFIG_CLIENT, cases[i][0], pairs);
        kk_client_config_t *cc = kk_config_client(cfgs[i]);
        cc->log_cb = count_log;
        cc->log_opaque = &counts[i];
        kk_error_t err;
        clients[i] = kk_client_new(cc, &err);
        assert_non_null(clients[i]);
        metadata(clients[i]);
        /* the broker gave the session a lifetime, and a re-authentication is scheduled */
        assert_true(clients[i]->bootstrap.reauth_at_ms > 0);
        assert_true(clients[i]->bootstrap.reauth_at_ms - kk_monotonic_ms() < lifetime_ms);
    }
    int64_t last_auth = kk_monotonic_ms(), reauth_due = 0;
    for (int i = 0; i < CLIENTS; i++)
        if (clients[i]->bootstrap.reauth_at_ms > reauth_due)
            reauth_due = clients[i]->bootstrap.reauth_at_ms;
    /* past every client's re-authentication point, before the end of the first session */
    int64_t wait = reauth_due + 200 - kk_monotonic_ms();
    if (wait > 0)
        usleep((useconds_t)wait * 1000);
    assert_true(kk_monotonic_ms() < first_auth + lifetime_ms - 300);
    for (int i = 0; i < CLIENTS; i++) {
        print_message("%s %s\n", cases[i][1], cases[i][2]);
        metadata(clients[i]);
        assert_int_equal(clients[i]->bootstrap.reauth_count, 1);
    }
    /* past the end of the first session: only a re-authenticated connection is still served */
    wait = last_auth + lifetime_ms + 1500 - kk_monotonic_ms();
    if (wait > 0)
        usleep((useconds_t)wait * 1000);
    for (int i = 0; i < CLIENTS; i++) {
        metadata(clients[i]);
        assert_int_equal(counts[i].connects, 1);
        assert_int_equal(counts[i].reconnects, 0);
        kk_client_free(clients[i]);
        kk_config_free(cfgs[i]);
    }
}

static void test_async_producer_reauthenticates(void **state) {
    (void)state;
    long lifetime_ms = atol(kk_sec_env("KAFKETTE_REAUTH_MS"));
    static const char *const cases[2][3] = {
        {"KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT", "SASL_PLAINTEXT", "SCRAM-SHA-256"},
        {"KAFKETTE_BOOTSTRAP_SASL_SSL", "SASL_SSL", "PLAIN"},
    };
    kk_config_t *cfgs[2];
    kk_producer_t *producers[2];
    for (int i = 0; i < 2; i++) {
        const char *pairs[] = {"security_protocol",
                               cases[i][1],
                               "sasl_mechanism",
                               cases[i][2],
                               "sasl_username",
                               "$KAFKETTE_SASL_USERNAME",
                               "sasl_password",
                               "$KAFKETTE_SASL_PASSWORD",
                               "ssl_cafile",
                               "$KAFKETTE_CA_FILE",
                               "linger_ms",
                               "5",
                               NULL};
        cfgs[i] = kk_sec_config(KK_CONFIG_PRODUCER, cases[i][0], pairs);
        kk_error_t err;
        producers[i] = kk_producer_new(kk_config_producer(cfgs[i]), &err);
        if (!producers[i])
            fail_msg("producer: %s", err.message);
    }
    /* one message every 200 ms for two session lifetimes, on each producer */
    int64_t end = kk_monotonic_ms() + 2 * lifetime_ms + 1000;
    size_t sent = 0, delivered[2] = {0, 0};
    while (kk_monotonic_ms() < end) {
        for (int i = 0; i < 2; i++) {
            kk_produce_message_t msg = {
                .topic = "kafkette-reauth-async", .partition = 0, .value = "x", .value_len = 1};
            kk_error_t err;
            if (kk_producer_produce(producers[i], &msg, &err) != KK_OK)
                fail_msg("produce: %s", err.message);
            kk_delivery_report_t r[16];
            size_t n = kk_producer_poll(producers[i], r, 16, 0);
            for (size_t j = 0; j < n; j++)
                if (r[j].error != KK_OK)
                    fail_msg("%s: %s", cases[i][1], kk_err_name(r[j].error));
            delivered[i] += n;
        }
        sent++;
        usleep(200 * 1000);
    }
    for (int i = 0; i < 2; i++) {
        kk_error_t err;
        if (kk_producer_flush(producers[i], 20000, NULL, &err) != KK_OK)
            fail_msg("flush: %s", err.message);
        kk_delivery_report_t r[64];
        size_t n;
        while ((n = kk_producer_poll(producers[i], r, 64, 0)) > 0) {
            for (size_t j = 0; j < n; j++)
                if (r[j].error != KK_OK)
                    fail_msg("%s: %s", cases[i][1], kk_err_name(r[j].error));
            delivered[i] += n;
        }
        assert_int_equal(delivered[i], sent);
        kk_stats_t stats;
        kk_producer_stats(producers[i], &stats);
        print_message("%s %s: %zu messages, %llu reconnects\n", cases[i][1], cases[i][2], sent,
                      (unsigned long long)stats.reconnects);
        assert_int_equal(stats.reconnects, 0);
        kk_producer_free(producers[i]);
        kk_config_free(cfgs[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reauthenticates_before_the_session_ends),
        cmocka_unit_test(test_async_producer_reauthenticates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
