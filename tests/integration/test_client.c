/* The client against the real Kafka broker that script/kafka started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker_env.h"
#include "kafkette.h"

static kk_client_t *new_client(const char *bootstrap) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = bootstrap;
    cfg.client_id = "kafkette-integration";
    cfg.request_timeout_ms = 15000;
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    if (!client)
        fail_msg("kk_client_new: %s", err.message);
    return client;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

static void test_negotiates_modern_versions(void **state) {
    (void)state;
    kk_client_t *client = new_client(kk_test_bootstrap());
    kk_error_t err;
    if (kk_client_connect(client, &err) != KK_OK)
        fail_msg("connect: %s", err.message);
    /* Every Kafka from 3.0 on speaks ApiVersions v3 and Metadata v12 (our maximum). */
    assert_int_equal(kk_client_api_version(client, KK_API_API_VERSIONS), 3);
    assert_int_equal(kk_client_api_version(client, KK_API_METADATA), 12);
    assert_non_null(kk_client_bootstrap_broker(client));
    kk_client_free(client);
}

static void test_version_caps_force_old_metadata(void **state) {
    (void)state;
    const int16_t caps[] = {0, 1, 4, 8};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        kk_client_config_t cfg;
        kk_client_config_init(&cfg);
        cfg.bootstrap_servers = kk_test_bootstrap();
        cfg.max_api_version[KK_API_METADATA] = caps[i];
        kk_error_t err;
        kk_client_t *client = kk_client_new(&cfg, &err);
        kk_metadata_t *md = NULL;
        if (kk_client_metadata(client, NULL, 0, &md, &err) != KK_OK)
            fail_msg("Metadata v%d: %s", caps[i], err.message);
        assert_int_equal(kk_client_api_version(client, KK_API_METADATA), caps[i]);
        assert_true(md->broker_count >= 1);
        assert_non_null(md->brokers[0].host);
        assert_true(md->brokers[0].port > 0);
        if (caps[i] >= 2)
            assert_non_null(md->cluster_id);
        kk_metadata_free(md);
        kk_client_free(client);
    }
}

static void test_metadata_for_auto_created_topic(void **state) {
    (void)state;
    kk_client_t *client = new_client(kk_test_bootstrap());
    const char *topic = kk_test_unique_topic("kk-md");
    const char *topics[] = {topic};
    kk_error_t err;
    kk_metadata_t *md = NULL;
    /* The first request creates the topic; its leader appears shortly after. */
    int with_leader = 0;
    for (int attempt = 0; attempt < 100 && !with_leader; attempt++) {
        kk_metadata_free(md);
        md = NULL;
        if (kk_client_metadata(client, topics, 1, &md, &err) != KK_OK)
            fail_msg("metadata: %s", err.message);
        const kk_topic_info_t *t = kk_metadata_topic(md, topic);
        assert_non_null(t);
        if (t->error_code == 0 && t->partition_count > 0 && t->partitions[0].leader >= 0)
            with_leader = 1;
        else
            usleep(100 * 1000);
    }
    assert_true(with_leader);
    const kk_topic_info_t *t = kk_metadata_topic(md, topic);
    assert_int_equal(t->partition_count, 1);
    assert_int_equal(t->partitions[0].partition, 0);
    assert_false(t->is_internal);
    assert_non_null(kk_metadata_broker(md, t->partitions[0].leader));
    assert_true(t->partitions[0].replica_count >= 1);
    assert_true(t->partitions[0].isr_count >= 1);
    assert_non_null(kk_metadata_broker(md, md->controller_id)); /* KRaft names a live broker */
    assert_non_null(md->cluster_id);
    kk_metadata_free(md);
    kk_client_free(client);
}

static void test_all_topics_listing(void **state) {
    (void)state;
    kk_client_t *client = new_client(kk_test_bootstrap());
    kk_error_t err;
    kk_metadata_t *md = NULL;
    const char *topic = kk_test_unique_topic("kk-list");
    const char *topics[] = {topic};
    assert_int_equal(kk_client_metadata(client, topics, 1, &md, &err), KK_OK);
    kk_metadata_free(md);
    /* the topic we just had created shows up in the all-topics listing */
    int found = 0;
    for (int attempt = 0; attempt < 50 && !found; attempt++) {
        assert_int_equal(kk_client_metadata(client, NULL, 0, &md, &err), KK_OK);
        found = kk_metadata_topic(md, topic) != NULL;
        kk_metadata_free(md);
        if (!found)
            usleep(100 * 1000);
    }
    assert_true(found);
    kk_client_free(client);
}

static void test_dead_first_seed_still_connects(void **state) {
    (void)state;
    char seeds[1200];
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d,%s", free_port(), kk_test_bootstrap());
    kk_client_t *client = new_client(seeds);
    kk_error_t err;
    kk_metadata_t *md = NULL;
    if (kk_client_metadata(client, NULL, 0, &md, &err) != KK_OK)
        fail_msg("metadata with a dead first seed: %s", err.message);
    assert_true(md->broker_count >= 1);
    kk_metadata_free(md);
    kk_client_free(client);
}

static void test_all_seeds_dead_reports_each(void **state) {
    (void)state;
    char seeds[200];
    int a = free_port(), b = free_port();
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d,127.0.0.1:%d", a, b);
    kk_client_t *client = new_client(seeds);
    kk_error_t err;
    assert_int_equal(kk_client_connect(client, &err), KK_ERR_NO_BROKERS);
    char a_text[32], b_text[32];
    snprintf(a_text, sizeof(a_text), "127.0.0.1:%d", a);
    snprintf(b_text, sizeof(b_text), "127.0.0.1:%d", b);
    assert_non_null(strstr(err.message, a_text));
    assert_non_null(strstr(err.message, b_text));
    kk_client_free(client);
}

static void test_invalid_topic_names_rejected_locally(void **state) {
    (void)state;
    kk_client_t *client = new_client(kk_test_bootstrap());
    kk_error_t err;
    kk_metadata_t *md = NULL;
    const char *empty[] = {""};
    assert_int_equal(kk_client_metadata(client, empty, 1, &md, &err), KK_ERR_INVALID_ARG);
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    const char *too_long[] = {long_name};
    assert_int_equal(kk_client_metadata(client, too_long, 1, &md, &err), KK_ERR_INVALID_ARG);
    assert_null(md);
    kk_client_free(client);
}

int main(void) {
    printf("broker: %s\n", kk_test_bootstrap());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiates_modern_versions),
        cmocka_unit_test(test_version_caps_force_old_metadata),
        cmocka_unit_test(test_metadata_for_auto_created_topic),
        cmocka_unit_test(test_all_topics_listing),
        cmocka_unit_test(test_dead_first_seed_still_connects),
        cmocka_unit_test(test_all_seeds_dead_reports_each),
        cmocka_unit_test(test_invalid_topic_names_rejected_locally),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
