/* ListOffsets and Fetch codecs against the real broker that script/kafka started, through a
 * raw broker connection (no consumer on top). Data goes in with kcat. */
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
#include "client.h"
#include "connection.h"
#include "kafkette.h"
#include "protocol_fetch.h"
#include "record_batch.h"

/* What the group setup produced. */
typedef struct fixture {
    char plain_topic[128];     /* "a", "b", "c": three kcat runs, three batches */
    char gzip_topic[128];      /* the same values in one kcat run with -z gzip */
    int64_t before_produce_ms; /* wall clock before the first record was produced */
} fixture_t;

static const char *const values[] = {"kk-value-a", "kk-value-b", "kk-value-c"};
#define VALUE_COUNT 3

static int64_t now_ms(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static kk_client_t *new_client(int16_t fetch_cap, int16_t list_offsets_cap) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = kk_test_bootstrap();
    cfg.client_id = "kafkette-fetch-raw";
    cfg.request_timeout_ms = 15000;
    cfg.max_api_version[KK_API_FETCH] = fetch_cap;
    cfg.max_api_version[KK_API_LIST_OFFSETS] = list_offsets_cap;
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    if (!client)
        fail_msg("kk_client_new: %s", err.message);
    return client;
}

/* The connection to the leader of topic/0, waiting for the topic to get one (the first
 * Metadata request auto-creates it). */
static kk_conn_t *leader_conn(kk_client_t *client, const char *topic) {
    const char *topics[] = {topic};
    kk_error_t err;
    for (int attempt = 0; attempt < 100; attempt++) {
        kk_metadata_t *md = NULL;
        if (kk_client_metadata(client, topics, 1, &md, &err) != KK_OK)
            fail_msg("metadata for %s: %s", topic, err.message);
        const kk_topic_info_t *t = kk_metadata_topic(md, topic);
        if (t && t->error_code == 0 && t->partition_count > 0 && t->partitions[0].leader >= 0) {
            kk_conn_t *conn = NULL;
            if (kk_client_broker_conn(client, md, t->partitions[0].leader, &conn, &err) != KK_OK)
                fail_msg("connection to leader %d: %s", (int)t->partitions[0].leader, err.message);
            kk_metadata_free(md);
            return conn;
        }
        kk_metadata_free(md);
        usleep(100 * 1000);
    }
    fail_msg("topic %s never got a leader", topic);
    return NULL;
}

static void kcat_produce(const char *topic, const char *const *vals, size_t count,
                         const char *codec) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "kcat -b '%s' -P -t '%s' -p 0%s%s", kk_test_bootstrap(), topic,
             codec ? " -z " : "", codec ? codec : "");
    FILE *pipe = popen(cmd, "w");
    if (!pipe)
        fail_msg("cannot run %s", cmd);
    for (size_t i = 0; i < count; i++)
        fprintf(pipe, "%s\n", vals[i]);
    int status = pclose(pipe);
    if (status != 0)
        fail_msg("%s exited with status %d", cmd, status);
}

static int list_offsets(kk_conn_t *conn, const char *topic, int64_t timestamp,
                        kk_list_offsets_result_t *res, kk_error_t *err) {
    int16_t version = kk_conn_version(conn, KK_API_LIST_OFFSETS);
    assert_true(version >= 0);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_LIST_OFFSETS, version);
    kk_encode_list_offsets_request(w, version, topic, 0, timestamp, 0);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    return kk_decode_list_offsets_response(&r, version, topic, 0, res, err);
}

/* On success res->records points into the connection's response buffer, valid until the
 * next request on conn. */
static int fetch(kk_conn_t *conn, const char *topic, int64_t offset, int32_t max_wait_ms,
                 int32_t min_bytes, kk_fetch_partition_result_t *res, kk_error_t *err) {
    int16_t version = kk_conn_version(conn, KK_API_FETCH);
    assert_true(version >= 0);
    kk_fetch_request_in_t in = {
        .topic = topic,
        .partition = 0,
        .fetch_offset = offset,
        .current_leader_epoch = -1,
        .max_wait_ms = max_wait_ms,
        .min_bytes = min_bytes,
        .max_bytes = 1 << 20,
        .partition_max_bytes = 1 << 20,
        .isolation_level = 0,
    };
    kk_writer_t *w = kk_conn_begin(conn, KK_API_FETCH, version);
    kk_encode_fetch_request(w, version, &in);
    kk_reader_t r;
    int rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    return kk_decode_fetch_response(&r, version, topic, 0, res, err);
}

static int64_t be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

static int32_t be32(const uint8_t *p) {
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                     p[3]);
}

/* Checks a fetched record set: the RecordBatch v2 headers as the broker stored them (magic 2,
 * the codec kcat used, contiguous offsets), then the records kk_records_decode finds in it,
 * which must be values[first..VALUE_COUNT) at offsets first, first + 1, ... */
static void check_record_set(const uint8_t *data, size_t len, kk_codec_t codec, int64_t first) {
    assert_non_null(data);
    size_t pos = 0;
    int64_t next_offset = first;
    while (pos < len) {
        assert_true(len - pos >= 61); /* a whole batch header */
        const uint8_t *batch = data + pos;
        int32_t batch_length = be32(batch + 8);
        assert_true(batch_length >= 49 && (size_t)batch_length <= len - pos - 12);
        assert_int_equal(batch[16], 2); /* magic */
        /* librdkafka sends a batch uncompressed when compressing would not make it smaller,
         * which can happen to these few short values: either form must decode */
        int batch_codec = ((batch[21] << 8) | batch[22]) & 7;
        if (batch_codec != (int)codec && batch_codec != KK_CODEC_NONE)
            fail_msg("batch at byte %zu has codec %d, expected %d or none", pos, batch_codec,
                     (int)codec);
        if (be64(batch) != next_offset)
            fail_msg("batch at byte %zu of %zu has base offset %lld, expected %lld (codec %d)", pos,
                     len, (long long)be64(batch), (long long)next_offset, (int)codec);
        next_offset += be32(batch + 23) + 1; /* lastOffsetDelta */
        pos += (size_t)batch_length + 12;
    }
    assert_int_equal(next_offset, VALUE_COUNT);

    kk_record_set_t set;
    kk_record_set_init(&set);
    kk_error_t err;
    if (kk_records_decode(&set, data, len, NULL, &err) != KK_OK)
        fail_msg("kk_records_decode: %s", err.message);
    assert_false(set.truncated);
    assert_int_equal(set.next_offset, VALUE_COUNT);
    assert_int_equal(set.count, (size_t)(VALUE_COUNT - first));
    for (size_t i = 0; i < set.count; i++) {
        const kk_record_out_t *rec = &set.records[i];
        const char *want = values[first + (int64_t)i];
        assert_int_equal(rec->offset, first + (int64_t)i);
        assert_int_equal(rec->key.len, -1); /* kcat without -K sends no key */
        assert_int_equal(rec->value.len, (int32_t)strlen(want));
        assert_memory_equal(rec->value.ptr, want, strlen(want));
    }
    kk_record_set_clear(&set);
}

/* ---- setup ------------------------------------------------------------------------------- */

static int setup(void **state) {
    fixture_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->plain_topic, sizeof(fx->plain_topic), "%s", kk_test_unique_topic("kk-fetch"));
    snprintf(fx->gzip_topic, sizeof(fx->gzip_topic), "%s", kk_test_unique_topic("kk-fetch-gz"));
    kk_client_t *client = new_client(-1, -1);
    (void)leader_conn(client, fx->plain_topic);
    (void)leader_conn(client, fx->gzip_topic);

    fx->before_produce_ms = now_ms(CLOCK_REALTIME);
    /* one record per run, so that each gets its own (later) timestamp */
    for (size_t i = 0; i < VALUE_COUNT; i++) {
        kcat_produce(fx->plain_topic, &values[i], 1, NULL);
        usleep(20 * 1000);
    }
    kcat_produce(fx->gzip_topic, values, VALUE_COUNT, "gzip");
    kk_client_free(client);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    free(*state);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_list_offsets_earliest_and_latest(void **state) {
    const fixture_t *fx = *state;
    /* uncapped (our v7), then older versions; Kafka 4.x rejects v0 */
    const int16_t caps[] = {-1, 6, 5, 4, 2, 1};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        kk_client_t *client = new_client(-1, caps[i]);
        kk_conn_t *conn = leader_conn(client, fx->plain_topic);
        int16_t version = kk_conn_version(conn, KK_API_LIST_OFFSETS);
        assert_int_equal(version, caps[i] < 0 ? 7 : caps[i]);
        kk_list_offsets_result_t res;
        kk_error_t err;
        if (list_offsets(conn, fx->plain_topic, KK_OFFSET_SPEC_EARLIEST, &res, &err) != KK_OK)
            fail_msg("ListOffsets v%d earliest: %s", version, err.message);
        assert_int_equal(res.error_code, 0);
        assert_int_equal(res.offset, 0);
        if (version >= 4)
            assert_true(res.leader_epoch >= 0);
        else
            assert_int_equal(res.leader_epoch, -1);
        if (list_offsets(conn, fx->plain_topic, KK_OFFSET_SPEC_LATEST, &res, &err) != KK_OK)
            fail_msg("ListOffsets v%d latest: %s", version, err.message);
        assert_int_equal(res.error_code, 0);
        assert_int_equal(res.offset, VALUE_COUNT);
        kk_client_free(client);
    }
}

static void test_list_offsets_by_timestamp(void **state) {
    const fixture_t *fx = *state;
    kk_client_t *client = new_client(-1, -1);
    kk_conn_t *conn = leader_conn(client, fx->plain_topic);
    kk_list_offsets_result_t res;
    kk_error_t err;
    /* from a time before anything was produced, each found record's timestamp + 1 leads to the
     * next record */
    int64_t ts = fx->before_produce_ms - 1000;
    for (int64_t expected = 0; expected < VALUE_COUNT; expected++) {
        if (list_offsets(conn, fx->plain_topic, ts, &res, &err) != KK_OK)
            fail_msg("ListOffsets at %lld: %s", (long long)ts, err.message);
        assert_int_equal(res.error_code, 0);
        assert_int_equal(res.offset, expected);
        assert_true(res.timestamp >= ts);
        assert_true(res.timestamp >= fx->before_produce_ms - 1000);
        ts = res.timestamp + 1;
    }
    /* after the last record there is none */
    assert_int_equal(list_offsets(conn, fx->plain_topic, ts, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 0);
    assert_int_equal(res.offset, -1);
    assert_int_equal(res.timestamp, -1);
    kk_client_free(client);
}

static void test_list_offsets_unknown_partition(void **state) {
    const fixture_t *fx = *state;
    kk_client_t *client = new_client(-1, -1);
    kk_conn_t *conn = leader_conn(client, fx->plain_topic);
    int16_t version = kk_conn_version(conn, KK_API_LIST_OFFSETS);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_LIST_OFFSETS, version);
    kk_encode_list_offsets_request(w, version, fx->plain_topic, 5, KK_OFFSET_SPEC_LATEST, 0);
    kk_reader_t r;
    kk_error_t err;
    assert_int_equal(kk_conn_roundtrip(conn, &r, &err), KK_OK);
    kk_list_offsets_result_t res;
    assert_int_equal(kk_decode_list_offsets_response(&r, version, fx->plain_topic, 5, &res, &err),
                     KK_OK);
    assert_int_equal(res.error_code, 3); /* UNKNOWN_TOPIC_OR_PARTITION */
    kk_client_free(client);
}

static void test_fetch_at_several_versions(void **state) {
    const fixture_t *fx = *state;
    /* uncapped (our v12, flexible), then forced older ones; Kafka 4.x rejects v0..3 */
    const int16_t caps[] = {-1, 11, 9, 7, 5, 4};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        kk_client_t *client = new_client(caps[i], -1);
        kk_conn_t *conn = leader_conn(client, fx->plain_topic);
        int16_t version = kk_conn_version(conn, KK_API_FETCH);
        assert_int_equal(version, caps[i] < 0 ? 12 : caps[i]);
        kk_fetch_partition_result_t res;
        kk_error_t err;
        if (fetch(conn, fx->plain_topic, 0, 100, 1, &res, &err) != KK_OK)
            fail_msg("Fetch v%d: %s", version, err.message);
        assert_int_equal(res.error_code, 0);
        assert_int_equal(res.high_watermark, VALUE_COUNT);
        assert_int_equal(res.last_stable_offset, VALUE_COUNT); /* v4+, no transactions */
        assert_int_equal(res.log_start_offset, version >= 5 ? 0 : -1);
        assert_int_equal(res.preferred_read_replica, -1);
        assert_null(res.aborted);
        assert_true(res.records_len > 0);
        check_record_set(res.records, res.records_len, KK_CODEC_NONE, 0);
        kk_fetch_partition_result_free(&res);

        if (fetch(conn, fx->gzip_topic, 0, 100, 1, &res, &err) != KK_OK)
            fail_msg("Fetch v%d (gzip topic): %s", version, err.message);
        assert_int_equal(res.error_code, 0);
        assert_int_equal(res.high_watermark, VALUE_COUNT);
        check_record_set(res.records, res.records_len, KK_CODEC_GZIP, 0);
        kk_fetch_partition_result_free(&res);
        kk_client_free(client);
    }
}

static void test_fetch_from_the_middle(void **state) {
    const fixture_t *fx = *state;
    kk_client_t *client = new_client(-1, -1);
    kk_conn_t *conn = leader_conn(client, fx->plain_topic);
    kk_fetch_partition_result_t res;
    kk_error_t err;
    /* each record is its own batch here, so a fetch from 2 starts at the third one */
    assert_int_equal(fetch(conn, fx->plain_topic, 2, 100, 1, &res, &err), KK_OK);
    assert_int_equal(res.error_code, 0);
    check_record_set(res.records, res.records_len, KK_CODEC_NONE, 2);
    kk_fetch_partition_result_free(&res);
    kk_client_free(client);
}

static void test_fetch_out_of_range(void **state) {
    const fixture_t *fx = *state;
    const int16_t caps[] = {-1, 4};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        kk_client_t *client = new_client(caps[i], -1);
        kk_conn_t *conn = leader_conn(client, fx->plain_topic);
        kk_fetch_partition_result_t res;
        kk_error_t err;
        if (fetch(conn, fx->plain_topic, 100, 100, 1, &res, &err) != KK_OK)
            fail_msg("Fetch at 100: %s", err.message);
        assert_int_equal(res.error_code, 1); /* OFFSET_OUT_OF_RANGE */
        assert_int_equal(res.records_len, 0);
        kk_fetch_partition_result_free(&res);
        kk_client_free(client);
    }
}

static void test_fetch_honours_max_wait(void **state) {
    const fixture_t *fx = *state;
    kk_client_t *client = new_client(-1, -1);
    kk_conn_t *conn = leader_conn(client, fx->plain_topic);
    kk_fetch_partition_result_t res;
    kk_error_t err;

    /* at the end of the log nothing arrives: the broker holds the request for max_wait_ms */
    int64_t start = now_ms(CLOCK_MONOTONIC);
    assert_int_equal(fetch(conn, fx->plain_topic, VALUE_COUNT, 500, 1, &res, &err), KK_OK);
    int64_t waited = now_ms(CLOCK_MONOTONIC) - start;
    assert_int_equal(res.error_code, 0);
    assert_int_equal(res.high_watermark, VALUE_COUNT);
    assert_int_equal(res.records_len, 0);
    kk_fetch_partition_result_free(&res);
    if (waited < 450 || waited > 3000)
        fail_msg("an empty fetch with max_wait_ms 500 took %lld ms", (long long)waited);

    /* with data available, min_bytes 1 is met at once whatever max_wait_ms says */
    start = now_ms(CLOCK_MONOTONIC);
    assert_int_equal(fetch(conn, fx->plain_topic, 0, 10000, 1, &res, &err), KK_OK);
    waited = now_ms(CLOCK_MONOTONIC) - start;
    assert_true(res.records_len > 0);
    kk_fetch_partition_result_free(&res);
    if (waited > 2000)
        fail_msg("a fetch with data available took %lld ms", (long long)waited);

    /* max_wait_ms 0 at the end of the log answers at once */
    start = now_ms(CLOCK_MONOTONIC);
    assert_int_equal(fetch(conn, fx->plain_topic, VALUE_COUNT, 0, 1, &res, &err), KK_OK);
    waited = now_ms(CLOCK_MONOTONIC) - start;
    assert_int_equal(res.records_len, 0);
    kk_fetch_partition_result_free(&res);
    if (waited > 400)
        fail_msg("an empty fetch with max_wait_ms 0 took %lld ms", (long long)waited);
    kk_client_free(client);
}

int main(void) {
    printf("broker: %s\n", kk_test_bootstrap());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_offsets_earliest_and_latest),
        cmocka_unit_test(test_list_offsets_by_timestamp),
        cmocka_unit_test(test_list_offsets_unknown_partition),
        cmocka_unit_test(test_fetch_at_several_versions),
        cmocka_unit_test(test_fetch_from_the_middle),
        cmocka_unit_test(test_fetch_out_of_range),
        cmocka_unit_test(test_fetch_honours_max_wait),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
