/* The administration API against the real broker: topics listed and described with their
 * watermarks, partitions added, groups listed and described while a kafkette member holds
 * them, lag after a commit, offsets for timestamps, topic configs described and altered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <time.h>
#include <unistd.h>

#include "broker_env.h"
#include "kafkette.h"

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static kk_client_t *new_client(void) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = kk_test_bootstrap();
    cfg.client_id = "kafkette-admin-test";
    kk_error_t err;
    kk_client_t *c = kk_client_new(&cfg, &err);
    if (!c)
        fail_msg("kk_client_new: %s", err.message);
    return c;
}

static void create_topic(kk_client_t *client, const char *topic, int partitions) {
    kk_error_t err;
    if (kk_client_create_topic(client, topic, partitions, 1, NULL, 0, 20000, &err) != KK_OK)
        fail_msg("create %s: %s", topic, err.message);
}

/* count records "v<i>" into one partition, with timestamps ts0, ts0+1000, ... (0: now). */
static void produce(const char *topic, int32_t partition, int count, int64_t ts0) {
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    assert_non_null(p);
    kk_message_t msgs[16];
    char values[16][16];
    assert_true(count <= 16);
    for (int i = 0; i < count; i++) {
        snprintf(values[i], sizeof(values[i]), "v%d", i);
        msgs[i] = (kk_message_t){.topic = topic,
                                 .value = values[i],
                                 .value_len = strlen(values[i]),
                                 .partition = partition,
                                 .timestamp_ms = ts0 ? ts0 + 1000 * i : 0};
    }
    if (kk_producer_send(p, msgs, (size_t)count, &err) != KK_OK)
        fail_msg("produce: %s", err.message);
    kk_producer_free(p);
}

static void test_list_and_describe_topics(void **state) {
    (void)state;
    kk_client_t *client = new_client();
    const char *topic = kk_test_unique_topic("admin-describe");
    create_topic(client, topic, 3);
    produce(topic, 1, 5, 0);
    kk_error_t err;

    char **names;
    size_t count;
    assert_int_equal(kk_client_list_topics(client, false, &names, &count, &err), KK_OK);
    bool found = false;
    for (size_t i = 0; i < count; i++) {
        found = found || strcmp(names[i], topic) == 0;
        assert_true(names[i][0] != '_' || names[i][1] != '_'); /* no internal topics */
        if (i > 0)
            assert_true(strcmp(names[i - 1], names[i]) < 0);
    }
    assert_true(found);
    kk_strings_free(names, count);

    kk_topic_descriptions_t *d;
    const char *topics[] = {topic, "admin-no-such-topic-xyz"};
    assert_int_equal(kk_client_describe_topics(client, topics, 2, &d, &err), KK_OK);
    assert_int_equal(d->metadata->topic_count, 2);
    const kk_topic_info_t *t = &d->metadata->topics[0]; /* sorted: "admin-d" < "admin-n" */
    const kk_topic_info_t *missing = &d->metadata->topics[1];
    assert_string_equal(t->name, topic);
    assert_string_equal(missing->name, "admin-no-such-topic-xyz");
    assert_int_equal(missing->error_code, 3);
    assert_int_equal(missing->partition_count, 0);
    assert_int_equal(t->partition_count, 3);
    for (size_t p = 0; p < 3; p++) {
        assert_int_equal(t->partitions[p].partition, (int)p);
        assert_true(t->partitions[p].leader >= 0);
        assert_int_equal(t->partitions[p].replica_count, 1);
        assert_int_equal(t->partitions[p].isr_count, 1);
        assert_int_equal(d->watermarks[0][p].error, 0);
        assert_int_equal(d->watermarks[0][p].log_start_offset, 0);
        assert_int_equal(d->watermarks[0][p].high_watermark, p == 1 ? 5 : 0);
    }
    kk_topic_descriptions_free(d);

    /* describing never creates the missing topic */
    assert_int_equal(kk_client_list_topics(client, true, &names, &count, &err), KK_OK);
    for (size_t i = 0; i < count; i++)
        assert_string_not_equal(names[i], "admin-no-such-topic-xyz");
    kk_strings_free(names, count);

    int64_t low, high;
    assert_int_equal(kk_client_watermarks(client, topic, 1, &low, &high, &err), KK_OK);
    assert_int_equal(low, 0);
    assert_int_equal(high, 5);
    assert_int_equal(kk_client_delete_records(client, topic, 1, 2, 10000, NULL, &err), KK_OK);
    assert_int_equal(kk_client_watermarks(client, topic, 1, &low, &high, &err), KK_OK);
    assert_int_equal(low, 2);
    assert_int_equal(kk_client_watermarks(client, topic, 7, &low, &high, &err),
                     KK_ERR_INVALID_PARTITION);
    kk_client_free(client);
}

static void test_create_partitions(void **state) {
    (void)state;
    kk_client_t *client = new_client();
    const char *topic = kk_test_unique_topic("admin-grow");
    create_topic(client, topic, 1);
    kk_error_t err;
    if (kk_client_create_partitions(client, topic, 4, 20000, &err) != KK_OK)
        fail_msg("create partitions: %s", err.message);
    kk_topic_descriptions_t *d;
    const char *topics[] = {topic};
    assert_int_equal(kk_client_describe_topics(client, topics, 1, &d, &err), KK_OK);
    assert_int_equal(d->metadata->topics[0].partition_count, 4);
    for (size_t p = 0; p < 4; p++)
        assert_true(d->metadata->topics[0].partitions[p].leader >= 0);
    kk_topic_descriptions_free(d);
    /* shrinking is refused by the broker: INVALID_PARTITIONS (37) */
    assert_int_equal(kk_client_create_partitions(client, topic, 2, 20000, &err), 37);
    assert_non_null(strstr(err.message, topic));
    assert_int_equal(kk_client_create_partitions(client, "admin-no-such-topic-xyz", 2, 5000, &err),
                     3);
    kk_client_free(client);
}

static void test_offsets_for_timestamps(void **state) {
    (void)state;
    kk_client_t *client = new_client();
    const char *topic = kk_test_unique_topic("admin-times");
    create_topic(client, topic, 1);
    int64_t t0 = wall_ms() - 60000;
    produce(topic, 0, 4, t0); /* timestamps t0, t0+1s, t0+2s, t0+3s */
    kk_error_t err;
    int64_t offset, ts;
    assert_int_equal(kk_client_offset_for_time(client, topic, 0, t0 + 1500, &offset, &ts, &err),
                     KK_OK);
    assert_int_equal(offset, 2);
    assert_int_equal(ts, t0 + 2000);
    assert_int_equal(kk_client_offset_for_time(client, topic, 0, t0, &offset, &ts, &err), KK_OK);
    assert_int_equal(offset, 0);
    assert_int_equal(kk_client_offset_for_time(client, topic, 0, t0 + 10000, &offset, &ts, &err),
                     KK_OK);
    assert_int_equal(offset, -1); /* nothing that recent */
    assert_int_equal(ts, -1);
    assert_int_equal(
        kk_client_offset_for_time(client, topic, 0, KK_TIMESTAMP_LATEST, &offset, NULL, &err),
        KK_OK);
    assert_int_equal(offset, 4);
    assert_int_equal(
        kk_client_offset_for_time(client, topic, 0, KK_TIMESTAMP_EARLIEST, &offset, NULL, &err),
        KK_OK);
    assert_int_equal(offset, 0);
    assert_int_equal(
        kk_client_offset_for_time(client, "admin-no-such-topic-xyz", 0, 0, &offset, NULL, &err), 3);
    kk_client_free(client);
}

static void test_groups_list_describe_lag(void **state) {
    (void)state;
    kk_client_t *client = new_client();
    const char *topic = kk_test_unique_topic("admin-group");
    char group_id[160];
    snprintf(group_id, sizeof(group_id), "%s-g", topic);
    create_topic(client, topic, 2);
    produce(topic, 0, 6, 0);
    produce(topic, 1, 3, 0);

    const char *topics[] = {topic};
    kk_group_config_t cfg;
    kk_group_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.client.client_id = "admin-test-member";
    cfg.group_id = group_id;
    cfg.topics = topics;
    cfg.topic_count = 1;
    cfg.session_timeout_ms = 6000;
    cfg.auto_commit_interval_ms = 0;
    kk_error_t err;
    kk_group_t *g = kk_group_new(&cfg, &err);
    assert_non_null(g);
    if (kk_group_join(g, 20000, &err) != KK_OK)
        fail_msg("join: %s", err.message);
    if (kk_group_commit(g, topic, 0, 4, &err) != KK_OK)
        fail_msg("commit: %s", err.message);

    kk_group_listing_t *groups;
    size_t count;
    assert_int_equal(kk_client_list_groups(client, &groups, &count, &err), KK_OK);
    const kk_group_listing_t *mine = NULL;
    for (size_t i = 0; i < count; i++)
        if (strcmp(groups[i].group_id, group_id) == 0)
            mine = &groups[i];
    assert_non_null(mine);
    assert_string_equal(mine->protocol_type, "consumer");
    assert_non_null(mine->state);
    assert_string_equal(mine->state, "Stable");
    assert_true(mine->coordinator >= 0);
    kk_group_listings_free(groups, count);

    kk_group_description_t *d;
    if (kk_client_describe_group(client, group_id, &d, &err) != KK_OK)
        fail_msg("describe: %s", err.message);
    assert_string_equal(d->group_id, group_id);
    assert_string_equal(d->state, "Stable");
    assert_string_equal(d->protocol_type, "consumer");
    assert_string_equal(d->protocol, "range");
    assert_true(d->coordinator >= 0);
    assert_int_equal(d->member_count, 1);
    const kk_group_member_description_t *m = &d->members[0];
    assert_string_equal(m->member_id, kk_group_member_id(g));
    assert_string_equal(m->client_id, "admin-test-member");
    assert_non_null(m->client_host);
    assert_int_equal(m->assignment_error, 0);
    assert_int_equal(m->assignment_count, 2);
    assert_string_equal(m->assignment[0].topic, topic);
    assert_int_equal(m->assignment[0].partition, 0);
    assert_int_equal(m->assignment[1].partition, 1);
    kk_group_description_free(d);

    kk_partition_lag_t *lags;
    if (kk_client_group_lag(client, group_id, &lags, &count, &err) != KK_OK)
        fail_msg("lag: %s", err.message);
    assert_int_equal(count, 2);
    assert_string_equal(lags[0].topic, topic);
    assert_int_equal(lags[0].partition, 0);
    assert_int_equal(lags[0].committed, 4);
    assert_int_equal(lags[0].end, 6);
    assert_int_equal(lags[0].lag, 2);
    assert_int_equal(lags[1].partition, 1);
    assert_int_equal(lags[1].committed, -1); /* never committed */
    assert_int_equal(lags[1].end, 3);
    assert_int_equal(lags[1].lag, -1);
    kk_partition_lags_free(lags, count);

    assert_int_equal(kk_group_close(g, &err), KK_OK);
    kk_group_free(g);

    /* after the member left: Empty, no members, the commit kept */
    int64_t deadline = now_ms() + 10000;
    for (;;) {
        assert_int_equal(kk_client_describe_group(client, group_id, &d, &err), KK_OK);
        bool empty = strcmp(d->state, "Empty") == 0 && d->member_count == 0;
        kk_group_description_free(d);
        if (empty)
            break;
        assert_true(now_ms() < deadline);
        sleep_ms(200);
    }
    assert_int_equal(kk_client_group_lag(client, group_id, &lags, &count, &err), KK_OK);
    assert_int_equal(count, 2);
    assert_int_equal(lags[0].lag, 2);
    kk_partition_lags_free(lags, count);

    /* a group nobody ever used: Dead, and no lag to report */
    assert_int_equal(kk_client_describe_group(client, "admin-no-such-group-xyz", &d, &err), KK_OK);
    assert_string_equal(d->state, "Dead");
    assert_int_equal(d->member_count, 0);
    kk_group_description_free(d);
    assert_int_equal(kk_client_group_lag(client, "admin-no-such-group-xyz", &lags, &count, &err),
                     KK_OK);
    assert_int_equal(count, 0);
    kk_partition_lags_free(lags, count);
    kk_client_free(client);
}

static const kk_resource_config_t *find_config(const kk_resource_configs_t *c, const char *name) {
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].name, name) == 0)
            return &c->entries[i];
    return NULL;
}

/* The topic's value of a config once it equals want (or, want NULL, once it differs from
 * unwanted): a change goes through the controller and reaches the broker a moment later. */
static void await_config(kk_client_t *client, const char *topic, const char *name, const char *want,
                         const char *unwanted) {
    int64_t deadline = now_ms() + 10000;
    for (;;) {
        kk_resource_configs_t *c;
        kk_error_t err;
        assert_int_equal(kk_client_describe_configs(client, KK_RESOURCE_TOPIC, topic, &c, &err),
                         KK_OK);
        const kk_resource_config_t *e = find_config(c, name);
        assert_non_null(e);
        bool done = want ? e->value && strcmp(e->value, want) == 0
                         : !e->value || strcmp(e->value, unwanted) != 0;
        if (done && want && strcmp(name, "retention.ms") == 0) {
            assert_int_equal(e->source, 1); /* DYNAMIC_TOPIC_CONFIG */
            assert_false(e->is_default);
        }
        kk_resource_configs_free(c);
        if (done)
            return;
        if (now_ms() > deadline)
            fail_msg("%s of %s never became %s", name, topic, want ? want : "something else");
        sleep_ms(100);
    }
}

static void test_describe_and_alter_configs(void **state) {
    (void)state;
    kk_client_t *client = new_client();
    const char *topic = kk_test_unique_topic("admin-configs");
    create_topic(client, topic, 1);
    kk_error_t err;
    kk_resource_configs_t *c;
    assert_int_equal(kk_client_describe_configs(client, KK_RESOURCE_TOPIC, topic, &c, &err), KK_OK);
    const kk_resource_config_t *e = find_config(c, "retention.ms");
    assert_non_null(e);
    assert_true(e->is_default || e->source == 4 /* a static broker setting */);
    assert_string_equal(kk_config_source_name(5), "DEFAULT_CONFIG");
    for (size_t i = 1; i < c->count; i++)
        assert_true(strcmp(c->entries[i - 1].name, c->entries[i].name) < 0);
    kk_resource_configs_free(c);

    const kk_config_alteration_t set[] = {{"retention.ms", KK_ALTER_SET, "123456"},
                                          {"cleanup.policy", KK_ALTER_SET, "compact"}};
    /* validate_only changes nothing */
    assert_int_equal(kk_client_alter_configs(client, KK_RESOURCE_TOPIC, topic, set, 2, true, &err),
                     KK_OK);
    assert_int_equal(kk_client_describe_configs(client, KK_RESOURCE_TOPIC, topic, &c, &err), KK_OK);
    assert_string_not_equal(find_config(c, "retention.ms")->value, "123456");
    kk_resource_configs_free(c);

    if (kk_client_alter_configs(client, KK_RESOURCE_TOPIC, topic, set, 2, false, &err) != KK_OK)
        fail_msg("alter: %s", err.message);
    await_config(client, topic, "retention.ms", "123456", NULL);
    await_config(client, topic, "cleanup.policy", "compact", NULL);

    const kk_config_alteration_t del[] = {{"retention.ms", KK_ALTER_DELETE, NULL}};
    assert_int_equal(kk_client_alter_configs(client, KK_RESOURCE_TOPIC, topic, del, 1, false, &err),
                     KK_OK);
    await_config(client, topic, "retention.ms", NULL, "123456");

    /* refusals carry the broker's code and message */
    const kk_config_alteration_t bad[] = {{"retention.ms", KK_ALTER_SET, "soon"}};
    int rc = kk_client_alter_configs(client, KK_RESOURCE_TOPIC, topic, bad, 1, false, &err);
    assert_int_equal(rc, 40); /* INVALID_CONFIG */
    assert_non_null(strstr(err.message, "retention.ms"));
    const kk_config_alteration_t unknown[] = {{"no.such.config", KK_ALTER_SET, "1"}};
    rc = kk_client_alter_configs(client, KK_RESOURCE_TOPIC, topic, unknown, 1, false, &err);
    assert_int_equal(rc, 40);
    rc = kk_client_describe_configs(client, KK_RESOURCE_TOPIC, "admin-no-such-topic-xyz", &c, &err);
    assert_int_equal(rc, 3);

    /* a broker's configs come from that broker */
    kk_metadata_t *md;
    assert_int_equal(kk_client_metadata(client, NULL, 0, &md, &err), KK_OK);
    char node[16];
    snprintf(node, sizeof(node), "%d", (int)md->brokers[0].node_id);
    kk_metadata_free(md);
    assert_int_equal(kk_client_describe_configs(client, KK_RESOURCE_BROKER, node, &c, &err), KK_OK);
    assert_non_null(find_config(c, "log.dirs"));
    kk_resource_configs_free(c);
    assert_int_equal(kk_client_describe_configs(client, KK_RESOURCE_BROKER, "x", &c, &err),
                     KK_ERR_INVALID_ARG);
    kk_client_free(client);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_describe_topics),
        cmocka_unit_test(test_create_partitions),
        cmocka_unit_test(test_offsets_for_timestamps),
        cmocka_unit_test(test_groups_list_describe_lag),
        cmocka_unit_test(test_describe_and_alter_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
