/*
 * The OAUTHBEARER token provider (sasl_oauth_token_provider) against the secured broker's
 * unsecured validator: the provider is called as a connection authenticates, again before its
 * token expires (the connection re-authenticates with the new token and outlives the old one),
 * its failure is an authentication error with its message, the token appears in no message
 * or log line, and a consumer group's heartbeat thread never calls it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "broker_env.h"
#include "client.h"
#include "group_internal.h"
#include "kafkette.h"
#include "security_env.h"

typedef struct provider {
    long valid_s;        /* each token's lifetime */
    const char *failure; /* when set, fail with this message */
    int calls;
    pthread_t thread;  /* where the last call ran */
    bool other_thread; /* a call ran on a thread other than the test's */
    char last[1024];   /* the last token given */
} provider_t;

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int provide(void *opaque, char *token, size_t size, int64_t *expires_at_ms,
                   kk_error_t *err) {
    provider_t *p = opaque;
    p->calls++;
    if (!pthread_equal(pthread_self(), p->thread))
        p->other_thread = true;
    if (p->failure) {
        snprintf(err->message, sizeof(err->message), "%s", p->failure);
        return err->code = KK_ERR_AUTHENTICATION;
    }
    snprintf(p->last, sizeof(p->last), "%s", kk_sec_unsecured_token(p->valid_s));
    snprintf(token, size, "%s", p->last);
    /* the JWS says exp in whole seconds: say the same, or a little earlier */
    *expires_at_ms = wall_ms() / 1000 * 1000 + p->valid_s * 1000;
    return 0;
}

typedef struct lines {
    int reconnects;
    char all[16384];
} lines_t;

static void keep_log(void *opaque, kk_log_level_t level, const char *line) {
    (void)level;
    lines_t *l = opaque;
    if (strstr(line, "reconnecting"))
        l->reconnects++;
    size_t used = strlen(l->all);
    snprintf(l->all + used, sizeof(l->all) - used, "%s\n", line);
}

static kk_config_t *oauth_config(kk_config_kind_t kind, provider_t *p, lines_t *log) {
    const char *pairs[] = {"security_protocol",
                           "SASL_PLAINTEXT",
                           "sasl_mechanism",
                           "OAUTHBEARER",
                           "client_id",
                           "kafkette-oauth-provider",
                           NULL};
    kk_config_t *cfg = kk_sec_config(kind, "KAFKETTE_BOOTSTRAP_SASL_PLAINTEXT", pairs);
    kk_client_config_t *cc = kk_config_client(cfg);
    cc->sasl_oauth_token_provider = provide;
    cc->sasl_oauth_token_opaque = p;
    cc->log_cb = keep_log;
    cc->log_opaque = log;
    p->thread = pthread_self();
    return cfg;
}

static int metadata(kk_client_t *client, kk_error_t *err) {
    kk_metadata_t *md = NULL;
    int rc = kk_client_metadata(client, NULL, 0, &md, err);
    kk_metadata_free(md);
    return rc;
}

static void sleep_until(int64_t monotonic_ms) {
    int64_t wait = monotonic_ms - kk_monotonic_ms();
    if (wait > 0)
        usleep((useconds_t)wait * 1000);
}

/* Tokens of 6 s: the broker gives the session the token's lifetime, so the connection
 * re-authenticates about 5 s in; by then the token is due (80%), the provider gives a new one,
 * and the connection is still served after the first token has expired. */
static void test_provider_called_and_refreshed(void **state) {
    (void)state;
    provider_t p = {.valid_s = 6};
    lines_t log = {0};
    kk_config_t *cfg = oauth_config(KK_CONFIG_CLIENT, &p, &log);
    kk_error_t err;
    kk_client_t *client = kk_client_new(kk_config_client(cfg), &err);
    assert_non_null(client);
    assert_int_equal(p.calls, 0); /* only as a connection authenticates */
    int64_t first = kk_monotonic_ms();
    if (metadata(client, &err) != KK_OK)
        fail_msg("metadata: %s", err.message);
    assert_int_equal(p.calls, 1);
    assert_true(client->bootstrap.reauth_at_ms > 0);
    assert_true(client->bootstrap.reauth_at_ms - first <= 6000);
    char old_token[1024];
    snprintf(old_token, sizeof(old_token), "%s", p.last);
    /* more requests on the same connection, before anything is due: no new call */
    assert_int_equal(metadata(client, &err), KK_OK);
    assert_int_equal(p.calls, 1);

    sleep_until(client->bootstrap.reauth_at_ms + 200);
    assert_int_equal(metadata(client, &err), KK_OK);
    assert_int_equal(client->bootstrap.reauth_count, 1);
    assert_int_equal(p.calls, 2);
    assert_string_not_equal(p.last, old_token);
    /* past the first token's expiry: the connection lives on the second one */
    sleep_until(first + 6000 + 1500);
    if (metadata(client, &err) != KK_OK)
        fail_msg("metadata after the first token expired: %s", err.message);
    assert_int_equal(log.reconnects, 0);
    assert_false(p.other_thread);
    assert_null(strstr(log.all, p.last));
    assert_null(strstr(log.all, old_token));
    kk_client_free(client);
    kk_config_free(cfg);
}

static void test_provider_failure_is_an_authentication_error(void **state) {
    (void)state;
    provider_t p = {.valid_s = 60, .failure = "no credentials for the identity provider"};
    lines_t log = {0};
    kk_config_t *cfg = oauth_config(KK_CONFIG_CLIENT, &p, &log);
    kk_error_t err;
    kk_client_t *client = kk_client_new(kk_config_client(cfg), &err);
    assert_non_null(client);
    int rc = metadata(client, &err);
    assert_int_equal(rc, KK_ERR_AUTHENTICATION);
    assert_int_equal(kk_err_category(rc), KK_CAT_AUTHENTICATION);
    print_message("%s\n", err.message);
    assert_non_null(strstr(err.message, "token provider failed: no credentials"));
    assert_true(p.calls >= 1);
    kk_client_free(client);
    kk_config_free(cfg);
}

/* An expired token: the broker refuses it, and neither the message nor a log line shows it. */
static void test_refused_token_is_not_shown(void **state) {
    (void)state;
    provider_t p = {.valid_s = -60};
    lines_t log = {0};
    kk_config_t *cfg = oauth_config(KK_CONFIG_CLIENT, &p, &log);
    char buf[64];
    assert_int_equal(kk_config_get(cfg, "sasl_oauth_token_provider", buf, sizeof(buf)), -1);
    kk_error_t err;
    kk_client_t *client = kk_client_new(kk_config_client(cfg), &err);
    assert_non_null(client);
    int rc = metadata(client, &err);
    assert_int_equal(kk_err_category(rc), KK_CAT_AUTHENTICATION);
    print_message("%s\n", err.message);
    assert_true(p.last[0] != '\0');
    assert_null(strstr(err.message, p.last));
    assert_null(strstr(log.all, p.last));
    /* nor the token's signature-less payload alone */
    assert_null(strstr(err.message, strchr(p.last, '.') + 1));
    kk_client_free(client);
    kk_config_free(cfg);
}

/* A group member polls for 9 s with tokens of 6 s. Its heartbeat connection re-authenticates
 * with tokens the caller's thread obtained; the provider only ever runs on the test's thread,
 * and the membership survives (same generation, no error). */
static void test_group_heartbeat_borrows_tokens(void **state) {
    (void)state;
    provider_t p = {.valid_s = 6};
    lines_t log = {0};
    const char *topic = kk_test_unique_topic("sec-oauth-group");
    {
        kk_config_t *cfg = oauth_config(KK_CONFIG_CLIENT, &p, &log);
        kk_error_t err;
        kk_client_t *client = kk_client_new(kk_config_client(cfg), &err);
        assert_non_null(client);
        if (kk_client_create_topic(client, topic, 1, 1, NULL, 0, 15000, &err) != KK_OK)
            fail_msg("create topic: %s", err.message);
        kk_client_free(client);
        kk_config_free(cfg);
    }
    kk_config_t *cfg = oauth_config(KK_CONFIG_GROUP, &p, &log);
    kk_group_config_t *gc = kk_config_group(cfg);
    char group_id[160];
    snprintf(group_id, sizeof(group_id), "g-%s", topic);
    const char *topics[] = {topic};
    gc->group_id = group_id;
    gc->topics = topics;
    gc->topic_count = 1;
    gc->heartbeat_interval_ms = 500;
    kk_error_t err;
    kk_group_t *g = kk_group_new(gc, &err);
    assert_non_null(g);
    if (kk_group_join(g, 30000, &err) != KK_OK)
        fail_msg("join: %s", err.message);
    int32_t generation = kk_group_generation(g);
    int calls_after_join = p.calls;
    int64_t end = kk_monotonic_ms() + 9000;
    while (kk_monotonic_ms() < end) {
        kk_fetch_batch_t *b = NULL;
        if (kk_group_poll(g, 300, &b, NULL, &err) != KK_OK)
            fail_msg("poll: %s", err.message);
        kk_fetch_batch_free(b);
    }
    print_message("provider calls: %d after joining, %d after 9 s\n", calls_after_join, p.calls);
    assert_true(p.calls > calls_after_join);
    assert_false(p.other_thread);
    assert_int_equal(kk_group_generation(g), generation);
    assert_true(g->hb.conn.reauth_count >= 1);
    assert_null(strstr(log.all, p.last));
    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);
    kk_config_free(cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provider_called_and_refreshed),
        cmocka_unit_test(test_provider_failure_is_an_authentication_error),
        cmocka_unit_test(test_refused_token_is_not_shown),
        cmocka_unit_test(test_group_heartbeat_borrows_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
