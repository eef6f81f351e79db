/*
 * The producer against the real broker. What we write is read back by a second, independent
 * client (Debian's kcat, built on librdkafka), so these tests also prove interoperability.
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
#include "partitioner.h"
#include "protocol_fetch.h"

static kk_producer_t *new_producer(kk_codec_t codec, int16_t acks) {
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.client.client_id = "kafkette-producer-test";
    cfg.compression = codec;
    cfg.required_acks = acks;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    if (!p)
        fail_msg("kk_producer_new: %s", err.message);
    return p;
}

/* Reads a partition with kcat: one line per record, "offset|key|value". Caller frees. */
static char *kcat_read(const char *topic, int partition, int expected) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "kcat -b '%s' -C -t '%s' -p %d -o beginning -c %d -e -q -f '%%o|%%k|%%s\\n' 2>&1",
             kk_test_bootstrap(), topic, partition, expected);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            out = realloc(out, cap);
        }
    }
    out[len] = '\0';
    int status = pclose(f);
    if (status != 0)
        fail_msg("kcat failed (%d): %s", status, out);
    return out;
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void send_and_read_back(kk_codec_t codec, int16_t acks) {
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "kk-prod-%s-acks%d", kk_codec_name(codec), acks < 0 ? 9 : acks);
    const char *topic = kk_test_unique_topic(prefix);
    kk_test_create_topic(topic, 1);
    kk_producer_t *p = new_producer(codec, acks);
    enum { N = 200 };
    kk_message_t msgs[N];
    char values[N][32], keys[N][16];
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < N; i++) {
        snprintf(values[i], sizeof(values[i]), "value-%d-%s", i, kk_codec_name(codec));
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        msgs[i] = (kk_message_t){.topic = topic, .key = keys[i], .key_len = strlen(keys[i]),
                                 .value = values[i], .value_len = strlen(values[i]), .partition = -1};
    }
    kk_error_t err;
    if (kk_producer_send(p, msgs, N, &err) != KK_OK)
        fail_msg("send (%s, acks %d): %s", kk_codec_name(codec), acks, err.message);
    for (int i = 0; i < N; i++) {
        assert_int_equal(msgs[i].error, 0);
        assert_int_equal(msgs[i].result_partition, 0);
        if (acks != 0)
            assert_int_equal(msgs[i].offset, i);
        else
            assert_int_equal(msgs[i].offset, -1);
    }
    char *lines = kcat_read(topic, 0, N);
    assert_int_equal(count_lines(lines), N);
    char *line = lines;
    for (int i = 0; i < N; i++) {
        char expected[128];
        snprintf(expected, sizeof(expected), "%d|%.15s|%.31s\n", i, keys[i], values[i]);
        if (strncmp(line, expected, strlen(expected)) != 0)
            fail_msg("record %d: expected %s got %.60s", i, expected, line);
        line = strchr(line, '\n') + 1;
    }
    free(lines);
    kk_producer_free(p);
}

static void test_every_codec_read_back_by_kcat(void **state) {
    (void)state;
    const kk_codec_t codecs[] = {KK_CODEC_NONE, KK_CODEC_GZIP, KK_CODEC_SNAPPY, KK_CODEC_LZ4,
                                 KK_CODEC_ZSTD};
    for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
        send_and_read_back(codecs[i], -1);
}

static void test_every_acks_level(void **state) {
    (void)state;
    send_and_read_back(KK_CODEC_NONE, 1);
    send_and_read_back(KK_CODEC_GZIP, 0);
}

/* Keys land where the Java client's rule puts them, over all partitions. */
static void test_keys_follow_the_java_rule(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-prod-keys");
    kk_test_create_topic(topic, 6);
    kk_producer_t *p = new_producer(KK_CODEC_NONE, -1);
    enum { N = 60 };
    kk_message_t msgs[N];
    char keys[N][16];
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "user-%d", i * 7);
        msgs[i] = (kk_message_t){.topic = topic, .key = keys[i], .key_len = strlen(keys[i]),
                                 .value = "v", .value_len = 1, .partition = -1};
    }
    kk_error_t err;
    if (kk_producer_send(p, msgs, N, &err) != KK_OK)
        fail_msg("send: %s", err.message);
    int per_partition[6] = {0};
    for (int i = 0; i < N; i++) {
        uint32_t h = kk_murmur2(keys[i], strlen(keys[i]));
        int32_t expected = (int32_t)((h & 0x7fffffff) % 6);
        assert_int_equal(msgs[i].result_partition, expected);
        assert_int_equal(msgs[i].offset, per_partition[expected]++);
    }
    /* kcat sees each partition's count */
    for (int part = 0; part < 6; part++) {
        if (per_partition[part] == 0)
            continue;
        char *lines = kcat_read(topic, part, per_partition[part]);
        assert_int_equal(count_lines(lines), per_partition[part]);
        free(lines);
    }
    kk_producer_free(p);
}

static int32_t last_octet_partitioner(void *opaque, const void *key, size_t key_len, int32_t count) {
    int *calls = opaque;
    ++*calls;
    const char *k = key, *dot = NULL;
    for (size_t i = 0; i < key_len; i++)
        if (k[i] == '.')
            dot = k + i;
    return dot ? atoi(dot + 1) % count : 0;
}

static void test_custom_partitioner_explicit_partition_and_round_robin(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-prod-part");
    kk_test_create_topic(topic, 5);
    int calls = 0;
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.partitioner = KK_PARTITIONER_CALLBACK;
    cfg.partitioner_cb = last_octet_partitioner;
    cfg.partitioner_opaque = &calls;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    kk_message_t msgs[13];
    memset(msgs, 0, sizeof(msgs));
    char keys[3][32] = {"192.168.2.7", "192.168.2.13", "192.168.2.255"};
    for (int i = 0; i < 3; i++)
        msgs[i] = (kk_message_t){.topic = topic, .key = keys[i], .key_len = strlen(keys[i]),
                                 .value = "x", .value_len = 1, .partition = -1};
    /* an explicit partition wins over the partitioner */
    msgs[3] = (kk_message_t){.topic = topic, .key = keys[0], .key_len = strlen(keys[0]),
                             .value = "x", .value_len = 1, .partition = 4};
    /* keyless messages go round-robin over all 5 partitions */
    for (int i = 4; i < 13; i++)
        msgs[i] = (kk_message_t){.topic = topic, .value = "rr", .value_len = 2, .partition = -1};
    if (kk_producer_send(p, msgs, 13, &err) != KK_OK)
        fail_msg("send: %s", err.message);
    assert_int_equal(calls, 3);
    assert_int_equal(msgs[0].result_partition, 7 % 5);
    assert_int_equal(msgs[1].result_partition, 13 % 5);
    assert_int_equal(msgs[2].result_partition, 255 % 5);
    assert_int_equal(msgs[3].result_partition, 4);
    int seen[5] = {0};
    for (int i = 4; i < 13; i++)
        seen[msgs[i].result_partition]++;
    for (int i = 0; i < 5; i++)
        assert_true(seen[i] >= 1); /* 9 messages over 5 partitions round-robin: each gets one */
    for (int i = 5; i < 13; i++)
        assert_int_equal(msgs[i].result_partition, (msgs[i - 1].result_partition + 1) % 5);
    kk_producer_free(p);
}

static int32_t broken_partitioner(void *opaque, const void *key, size_t key_len, int32_t count) {
    (void)opaque, (void)key, (void)key_len;
    return count + 3;
}

static void test_bad_partitions_fail_only_their_messages(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-prod-badpart");
    kk_test_create_topic(topic, 2);
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.partitioner = KK_PARTITIONER_CALLBACK;
    cfg.partitioner_cb = broken_partitioner;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    kk_message_t msgs[4] = {
        {.topic = topic, .value = "ok", .value_len = 2, .partition = 1},
        {.topic = topic, .value = "bad", .value_len = 3, .partition = 9},
        {.topic = topic, .key = "k", .key_len = 1, .value = "cb", .value_len = 2, .partition = -1},
        {.topic = "bad topic name!", .value = "t", .value_len = 1, .partition = -1},
    };
    assert_int_equal(kk_producer_send(p, msgs, 4, &err), KK_ERR_PARTIAL_FAILURE);
    assert_non_null(strstr(err.message, "3 of 4 messages not delivered"));
    assert_int_equal(msgs[0].error, 0);
    assert_int_equal(msgs[0].offset, 0);
    assert_int_equal(msgs[1].error, KK_ERR_INVALID_PARTITION);
    assert_int_equal(msgs[2].error, KK_ERR_INVALID_PARTITION);
    assert_int_equal(msgs[3].error, 17); /* INVALID_TOPIC_EXCEPTION */
    kk_producer_free(p);
}

/* A value over the broker's message.max.bytes fails with MESSAGE_TOO_LARGE; the others go. */
static void test_oversized_message_fails_alone(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-prod-big");
    kk_test_create_topic(topic, 1);
    kk_producer_t *p = new_producer(KK_CODEC_NONE, -1);
    size_t big_len = 3 * 1024 * 1024;
    char *big = malloc(big_len);
    memset(big, 'b', big_len);
    /* random-ish so that no codec could shrink it, although none is used here */
    for (size_t i = 0; i < big_len; i += 7)
        big[i] = (char)(i * 31);
    kk_message_t msgs[3] = {
        {.topic = topic, .value = "before", .value_len = 6, .partition = 0},
        {.topic = topic, .value = big, .value_len = big_len, .partition = 0},
        {.topic = topic, .value = "after", .value_len = 5, .partition = 0},
    };
    kk_error_t err;
    assert_int_equal(kk_producer_send(p, msgs, 3, &err), KK_ERR_PARTIAL_FAILURE);
    assert_int_equal(msgs[0].error, 0);
    assert_true(msgs[1].error == 10 || msgs[1].error == 18); /* MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE */
    assert_int_equal(msgs[2].error, 0);
    assert_non_null(strstr(err.message, "1 of 3"));
    char *lines = kcat_read(topic, 0, 2);
    assert_non_null(strstr(lines, "|before"));
    assert_non_null(strstr(lines, "|after"));
    free(lines);
    free(big);
    kk_producer_free(p);
}

/* Many records in one send are split into requests under max_request_bytes. */
static void test_large_send_is_split(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-prod-split");
    kk_test_create_topic(topic, 1);
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.max_request_bytes = 64 * 1024;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    enum { N = 5000 };
    kk_message_t *msgs = calloc(N, sizeof(*msgs));
    char value[100];
    memset(value, 'v', sizeof(value));
    for (int i = 0; i < N; i++)
        msgs[i] = (kk_message_t){.topic = topic, .value = value, .value_len = sizeof(value), .partition = 0};
    if (kk_producer_send(p, msgs, N, &err) != KK_OK)
        fail_msg("send: %s", err.message);
    for (int i = 0; i < N; i++)
        assert_int_equal(msgs[i].offset, i);
    kk_producer_free(p);

    /* A send larger than batch_size reaches the I/O thread in pieces while the rest is still
     * being prepared: with 4 KiB pieces over 3 partitions, every partition's offsets still
     * follow the order of the call. */
    const char *spread = kk_test_unique_topic("kk-prod-pieces");
    kk_test_create_topic(spread, 3);
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.batch_size = 4096;
    p = kk_producer_new(&cfg, &err);
    for (int i = 0; i < N; i++)
        msgs[i] = (kk_message_t){.topic = spread, .value = value, .value_len = sizeof(value), .partition = i % 3};
    if (kk_producer_send(p, msgs, N, &err) != KK_OK)
        fail_msg("send: %s", err.message);
    for (int i = 0; i < N; i++) {
        assert_int_equal(msgs[i].result_partition, i % 3);
        assert_int_equal(msgs[i].offset, i / 3);
    }
    free(msgs);
    kk_producer_free(p);
}

/* A topic the broker auto-creates on first use is waited for. */
static void test_auto_created_topic_is_waited_for(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-prod-auto");
    kk_producer_t *p = new_producer(KK_CODEC_NONE, 1);
    kk_message_t msg = {.topic = topic, .value = "first", .value_len = 5, .partition = -1};
    kk_error_t err;
    if (kk_producer_send(p, &msg, 1, &err) != KK_OK)
        fail_msg("send to a new topic: %s", err.message);
    assert_int_equal(msg.offset, 0);
    kk_producer_free(p);
}

static void test_headers_and_null_values(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-prod-headers");
    kk_test_create_topic(topic, 1);
    kk_producer_t *p = new_producer(KK_CODEC_LZ4, -1);
    kk_header_t headers[2] = {{"trace", 5, "abc", 3}, {"empty", 5, NULL, 0}};
    kk_message_t msgs[2] = {
        {.topic = topic, .key = "k", .key_len = 1, .value = "with-headers", .value_len = 12,
         .headers = headers, .header_count = 2, .partition = 0},
        {.topic = topic, .key = "tomb", .key_len = 4, .value = NULL, .partition = 0},
    };
    kk_error_t err;
    if (kk_producer_send(p, msgs, 2, &err) != KK_OK)
        fail_msg("send: %s", err.message);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "kcat -b '%s' -C -t '%s' -p 0 -o beginning -c 2 -e -q -f '%%k|%%s|%%h|%%S\\n' 2>&1",
             kk_test_bootstrap(), topic);
    FILE *f = popen(cmd, "r");
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    pclose(f);
    assert_non_null(strstr(out, "k|with-headers|trace=abc,empty=NULL|12\n")); /* kcat spells a null header value NULL */
    assert_non_null(strstr(out, "tomb|||-1\n")); /* a null value: empty text, size -1 */
    kk_producer_free(p);
}

/* The codec bits of the first batch stored in topic[0], read with a raw Fetch. */
static int stored_codec(const char *topic) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    const char *topics[] = {topic};
    kk_metadata_t *md = NULL;
    assert_int_equal(kk_client_metadata(client, topics, 1, &md, &err), KK_OK);
    kk_conn_t *conn = NULL;
    if (kk_client_broker_conn(client, md, kk_metadata_topic(md, topic)->partitions[0].leader, &conn, &err))
        fail_msg("connect to leader: %s", err.message);
    kk_metadata_free(md);
    int16_t version = kk_conn_version(conn, KK_API_FETCH);
    kk_fetch_request_in_t in = {.topic = topic, .partition = 0, .fetch_offset = 0, .current_leader_epoch = -1,
                                .max_wait_ms = 100, .min_bytes = 1, .max_bytes = 1 << 20,
                                .partition_max_bytes = 1 << 20};
    kk_encode_fetch_request(kk_conn_begin(conn, KK_API_FETCH, version), version, &in);
    kk_reader_t r;
    kk_fetch_partition_result_t res;
    if (kk_conn_roundtrip(conn, &r, &err) || kk_decode_fetch_response(&r, version, topic, 0, &res, &err))
        fail_msg("fetch: %s", err.message);
    assert_true(res.records_len >= 61);
    assert_int_equal(res.records[16], 2); /* magic */
    int codec = ((res.records[21] << 8) | res.records[22]) & 7;
    kk_fetch_partition_result_free(&res);
    kk_client_free(client);
    return codec;
}

/* compressed_topics (Poseidon's option) limits compression to the topics it names. */
static void test_compressed_topics_only(void **state) {
    (void)state;
    char squeezed[128], plain[128];
    snprintf(squeezed, sizeof(squeezed), "%s", kk_test_unique_topic("kk-prod-squeezed"));
    snprintf(plain, sizeof(plain), "%s", kk_test_unique_topic("kk-prod-plain"));
    kk_test_create_topic(squeezed, 1);
    kk_test_create_topic(plain, 1);
    const char *compressed[] = {squeezed};
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    cfg.compression = KK_CODEC_SNAPPY;
    cfg.compressed_topics = compressed;
    cfg.compressed_topic_count = 1;
    kk_error_t err;
    kk_producer_t *p = kk_producer_new(&cfg, &err);
    kk_message_t msgs[2] = {{.topic = squeezed, .value = "aaaaaaaaaaaaaaaa", .value_len = 16, .partition = 0},
                            {.topic = plain, .value = "aaaaaaaaaaaaaaaa", .value_len = 16, .partition = 0}};
    assert_int_equal(kk_producer_send(p, msgs, 2, &err), KK_OK);
    kk_producer_free(p);
    assert_int_equal(stored_codec(squeezed), KK_CODEC_SNAPPY);
    assert_int_equal(stored_codec(plain), KK_CODEC_NONE);
}

/* Right after kk_client_create_topic returns, even unacknowledged writes land: the call waits
 * until every partition's leader serves it (metadata names leaders a moment earlier). */
static void test_acks_zero_right_after_create(void **state) {
    (void)state;
    for (int round = 0; round < 3; round++) {
        const char *topic = kk_test_unique_topic("kk-prod-fresh");
        kk_test_create_topic(topic, 3);
        kk_producer_t *p = new_producer(KK_CODEC_NONE, 0);
        kk_message_t msgs[30];
        for (int i = 0; i < 30; i++)
            msgs[i] = (kk_message_t){.topic = topic, .value = "fresh", .value_len = 5, .partition = i % 3};
        kk_error_t err;
        assert_int_equal(kk_producer_send(p, msgs, 30, &err), KK_OK);
        kk_producer_free(p);
        for (int part = 0; part < 3; part++) {
            char *lines = kcat_read(topic, part, 10);
            assert_int_equal(count_lines(lines), 10);
            free(lines);
        }
    }
}

static void test_bad_producer_config(void **state) {
    (void)state;
    kk_producer_config_t cfg;
    kk_producer_config_init(&cfg);
    cfg.client.bootstrap_servers = kk_test_bootstrap();
    kk_error_t err;
    cfg.required_acks = 2;
    assert_null(kk_producer_new(&cfg, &err));
    assert_non_null(strstr(err.message, "required_acks"));
    cfg.required_acks = 1;
    cfg.compression = (kk_codec_t)9;
    assert_null(kk_producer_new(&cfg, &err));
    cfg.compression = KK_CODEC_NONE;
    cfg.partitioner = KK_PARTITIONER_CALLBACK;
    assert_null(kk_producer_new(&cfg, &err));
    assert_non_null(strstr(err.message, "partitioner_cb"));
    assert_int_equal(kk_producer_send(NULL, NULL, 0, &err), KK_ERR_INVALID_ARG);
}

int main(void) {
    printf("broker: %s\n", kk_test_bootstrap());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_codec_read_back_by_kcat),
        cmocka_unit_test(test_every_acks_level),
        cmocka_unit_test(test_keys_follow_the_java_rule),
        cmocka_unit_test(test_custom_partitioner_explicit_partition_and_round_robin),
        cmocka_unit_test(test_bad_partitions_fail_only_their_messages),
        cmocka_unit_test(test_oversized_message_fails_alone),
        cmocka_unit_test(test_large_send_is_split),
        cmocka_unit_test(test_auto_created_topic_is_waited_for),
        cmocka_unit_test(test_headers_and_null_values),
        cmocka_unit_test(test_compressed_topics_only),
        cmocka_unit_test(test_acks_zero_right_after_create),
        cmocka_unit_test(test_bad_producer_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
