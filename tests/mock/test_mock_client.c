/* kafkette's client against librdkafka's mock cluster: a third-party implementation of the
 * protocol that only speaks old, non-flexible versions (ApiVersions <= 2, Metadata <= 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

static kk_client_t *client_for(const char *bootstrap) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = bootstrap;
    cfg.request_timeout_ms = 5000;
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    if (!client)
        fail_msg("kk_client_new: %s", err.message);
    return client;
}

static void test_negotiates_the_old_versions_the_mock_speaks(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(3);
    kk_client_t *client = client_for(kk_mock_bootstrap(m));
    kk_error_t err;
    /* We ask ApiVersions v3 first; the mock (max v2) answers UNSUPPORTED_VERSION in the v0
     * layout and we retry with what it offers. */
    if (kk_client_connect(client, &err) != KK_OK)
        fail_msg("connect: %s", err.message);
    assert_int_equal(kk_client_api_version(client, KK_API_API_VERSIONS), 2);
    assert_int_equal(kk_client_api_version(client, KK_API_METADATA), 2);
    assert_int_equal(kk_client_api_version(client, KK_API_PRODUCE), 7);
    assert_int_equal(kk_client_api_version(client, KK_API_FETCH), 11);
    assert_int_equal(kk_client_api_version(client, KK_API_LIST_OFFSETS), 5);
    /* the mock has no CreateTopics at all */
    assert_int_equal(kk_client_api_version(client, KK_API_CREATE_TOPICS), -1);
    kk_client_free(client);
    kk_mock_stop(m);
}

static void test_metadata_from_the_mock(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(3);
    assert_int_equal(kk_mock_create_topic(m, "mocked", 4, 3), 0);
    kk_client_t *client = client_for(kk_mock_bootstrap(m));
    kk_error_t err;
    kk_metadata_t *md = NULL;
    const char *topics[] = {"mocked"};
    if (kk_client_metadata(client, topics, 1, &md, &err) != KK_OK)
        fail_msg("metadata: %s", err.message);
    assert_int_equal(md->broker_count, 3);
    for (int32_t id = 1; id <= 3; id++) {
        const kk_broker_info_t *b = kk_metadata_broker(md, id);
        assert_non_null(b);
        assert_int_equal(b->port, kk_mock_broker_port(m, id));
    }
    const kk_topic_info_t *t = kk_metadata_topic(md, "mocked");
    assert_non_null(t);
    assert_int_equal(t->error_code, 0);
    assert_int_equal(t->partition_count, 4);
    for (size_t i = 0; i < t->partition_count; i++) {
        assert_int_equal(t->partitions[i].partition, (int32_t)i);
        assert_non_null(kk_metadata_broker(md, t->partitions[i].leader));
        assert_int_equal(t->partitions[i].replica_count, 3);
        assert_int_equal(t->partitions[i].leader_epoch, -1); /* v2 does not carry it */
    }
    kk_metadata_free(md);
    kk_client_free(client);
    kk_mock_stop(m);
}

static void test_leader_move_is_visible(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(3);
    assert_int_equal(kk_mock_create_topic(m, "moving", 1, 3), 0);
    kk_client_t *client = client_for(kk_mock_bootstrap(m));
    kk_error_t err;
    const char *topics[] = {"moving"};
    for (int32_t leader = 1; leader <= 3; leader++) {
        assert_int_equal(kk_mock_partition_set_leader(m, "moving", 0, leader), 0);
        kk_metadata_t *md = NULL;
        assert_int_equal(kk_client_metadata(client, topics, 1, &md, &err), KK_OK);
        assert_int_equal(kk_metadata_topic(md, "moving")->partitions[0].leader, leader);
        kk_metadata_free(md);
    }
    kk_client_free(client);
    kk_mock_stop(m);
}

static void test_topic_error_reported_per_topic(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    assert_int_equal(kk_mock_create_topic(m, "broken", 1, 1), 0);
    assert_int_equal(kk_mock_topic_set_error(m, "broken", 5 /* LEADER_NOT_AVAILABLE */), 0);
    kk_client_t *client = client_for(kk_mock_bootstrap(m));
    kk_error_t err;
    kk_metadata_t *md = NULL;
    const char *topics[] = {"broken"};
    assert_int_equal(kk_client_metadata(client, topics, 1, &md, &err), KK_OK);
    const kk_topic_info_t *t = kk_metadata_topic(md, "broken");
    assert_non_null(t);
    assert_int_equal(t->error_code, 5);
    assert_string_equal(kk_err_name(t->error_code), "LEADER_NOT_AVAILABLE");
    assert_true(kk_err_is_retriable(t->error_code));
    kk_metadata_free(md);
    kk_client_free(client);
    kk_mock_stop(m);
}

/* With the first seed down, the client bootstraps through the next one. */
static void test_down_seed_is_skipped(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(2);
    assert_int_equal(kk_mock_broker_set_down(m, 1), 0);
    char seeds[256];
    snprintf(seeds, sizeof(seeds), "%s,%s", kk_mock_broker_address(m, 1),
             kk_mock_broker_address(m, 2));
    kk_client_t *client = client_for(seeds);
    kk_error_t err;
    kk_metadata_t *md = NULL;
    if (kk_client_metadata(client, NULL, 0, &md, &err) != KK_OK)
        fail_msg("metadata: %s", err.message);
    char second[64];
    snprintf(second, sizeof(second), ":%d", kk_mock_broker_port(m, 2));
    assert_non_null(strstr(kk_client_bootstrap_broker(client), second));
    kk_metadata_free(md);
    kk_client_free(client);
    kk_mock_stop(m);
}

/* The mock narrowed to Metadata 0..2 still works; with Metadata hidden, the client says the
 * API is unsupported instead of sending a request the broker would drop. */
static void test_metadata_api_narrowed_then_hidden(void **state) {
    (void)state;
    kk_mock_t *m = start_mock(1);
    assert_int_equal(kk_mock_set_apiversion(m, KK_API_METADATA, 0, 2), 0);
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = kk_mock_bootstrap(m);
    cfg.request_timeout_ms = 3000;
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    kk_metadata_t *md = NULL;
    assert_int_equal(kk_client_metadata(client, NULL, 0, &md, &err), KK_OK);
    kk_metadata_free(md);
    /* a hidden API is reported as unsupported, not sent */
    assert_int_equal(kk_mock_set_apiversion(m, KK_API_METADATA, -1, -1), 0);
    kk_client_free(client);
    client = kk_client_new(&cfg, &err);
    assert_int_equal(kk_client_metadata(client, NULL, 0, &md, &err), KK_ERR_UNSUPPORTED_VERSION);
    assert_non_null(strstr(err.message, "Metadata"));
    kk_client_free(client);
    kk_mock_stop(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiates_the_old_versions_the_mock_speaks),
        cmocka_unit_test(test_metadata_from_the_mock),
        cmocka_unit_test(test_leader_move_is_visible),
        cmocka_unit_test(test_topic_error_reported_per_topic),
        cmocka_unit_test(test_down_seed_is_skipped),
        cmocka_unit_test(test_metadata_api_narrowed_then_hidden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
