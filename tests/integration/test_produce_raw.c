/*
 * The Produce, CreateTopics, DeleteTopics and DeleteRecords codecs against the real broker,
 * through the client's connections (no producer on top): every request is encoded by the
 * codec under test, every response decoded by it, at the negotiated version and at forced
 * older ones.
 *
 * Record sets are assembled here by hand (RecordBatch v2, MessageSet v0/v1), so this test
 * does not depend on the record batch encoder.
 *
 * Kafka 3.x still accepts Produce v0-v2 with the old message formats; that part runs only
 * when KAFKETTE_KAFKA_VERSION starts with "3." (script/kafka writes it to its env file).
 */
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
#include <zlib.h>

#include "broker_env.h"
#include "bytes.h"
#include "client.h"
#include "connection.h"
#include "crc32c.h"
#include "protocol.h"
#include "protocol_admin.h"
#include "protocol_produce.h"

enum { ERR_UNKNOWN_TOPIC_OR_PARTITION = 3, ERR_TOPIC_ALREADY_EXISTS = 36 };

static bool kafka_3x(void) {
    const char *v = getenv("KAFKETTE_KAFKA_VERSION");
    return v && strncmp(v, "3.", 2) == 0;
}

/* A zigzag varint, as in a v2 record. */
static void write_varint(kk_writer_t *w, int64_t v) {
    uint8_t tmp[KK_UVARINT_MAX];
    kk_write_raw(w, tmp, (size_t)(put_uvarint(tmp, zigzag64(v)) - tmp));
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client with per-API version caps: pairs of (api key, cap), ended by -1. */
static kk_client_t *new_client(int api, ...) {
    kk_client_config_t cfg;
    kk_client_config_init(&cfg);
    cfg.bootstrap_servers = kk_test_bootstrap();
    cfg.client_id = "kafkette-produce-raw";
    cfg.request_timeout_ms = 20000;
    cfg.allow_auto_topic_creation = false;
    va_list ap;
    va_start(ap, api);
    while (api >= 0) {
        cfg.max_api_version[api] = (int16_t)va_arg(ap, int);
        api = va_arg(ap, int);
    }
    va_end(ap);
    kk_error_t err;
    kk_client_t *client = kk_client_new(&cfg, &err);
    if (!client)
        fail_msg("kk_client_new: %s", err.message);
    return client;
}

/* A connection to some broker (for the admin requests, which any broker forwards). */
static kk_conn_t *any_broker(kk_client_t *client) {
    kk_error_t err;
    kk_metadata_t *md = NULL;
    if (kk_client_metadata(client, NULL, 0, &md, &err) != KK_OK)
        fail_msg("metadata: %s", err.message);
    assert_true(md->broker_count >= 1);
    kk_conn_t *conn = NULL;
    if (kk_client_broker_conn(client, md, md->brokers[0].node_id, &conn, &err) != KK_OK)
        fail_msg("broker connection: %s", err.message);
    kk_metadata_free(md);
    return conn;
}

/* Waits until the topic shows `partitions` partitions, each with a leader; returns the
 * leader of `partition`. */
static int32_t wait_for_topic(kk_client_t *client, const char *topic, size_t partitions,
                              int32_t partition, kk_metadata_t **md_out) {
    const char *topics[] = {topic};
    kk_error_t err;
    for (int attempt = 0; attempt < 150; attempt++) {
        kk_metadata_t *md = NULL;
        if (kk_client_metadata(client, topics, 1, &md, &err) != KK_OK)
            fail_msg("metadata for %s: %s", topic, err.message);
        const kk_topic_info_t *t = kk_metadata_topic(md, topic);
        bool ready = t && t->error_code == 0 && t->partition_count == partitions;
        for (size_t i = 0; ready && i < t->partition_count; i++)
            ready = t->partitions[i].leader >= 0;
        if (ready) {
            int32_t leader = -1;
            for (size_t i = 0; i < t->partition_count; i++)
                if (t->partitions[i].partition == partition)
                    leader = t->partitions[i].leader;
            *md_out = md;
            return leader;
        }
        if (t && t->error_code == 0 && t->partition_count > partitions)
            fail_msg("%s has %zu partitions, expected %zu", topic, t->partition_count, partitions);
        kk_metadata_free(md);
        usleep(100 * 1000);
    }
    fail_msg("topic %s never showed %zu partitions with leaders", topic, partitions);
    return -1;
}

static kk_conn_t *leader_conn(kk_client_t *client, const char *topic, size_t partitions,
                              int32_t partition) {
    kk_metadata_t *md = NULL;
    int32_t leader = wait_for_topic(client, topic, partitions, partition, &md);
    kk_conn_t *conn = NULL;
    kk_error_t err;
    if (kk_client_broker_conn(client, md, leader, &conn, &err) != KK_OK)
        fail_msg("leader connection: %s", err.message);
    kk_metadata_free(md);
    return conn;
}

/* ---- admin round trips ------------------------------------------------------------------- */

static void create_topic(kk_conn_t *conn, const char *topic, int32_t partitions,
                         bool validate_only, kk_topic_results_t *res) {
    int16_t v = kk_conn_version(conn, KK_API_CREATE_TOPICS);
    assert_true(v >= 0);
    const kk_topic_config_in_t configs[] = {{"retention.ms", "3600000"}};
    const kk_new_topic_in_t t = {topic, partitions, 1, configs, 1};
    kk_writer_t *w = kk_conn_begin(conn, KK_API_CREATE_TOPICS, v);
    kk_encode_create_topics_request(w, v, &t, 1, 15000, validate_only);
    kk_reader_t r;
    kk_error_t err;
    if (kk_conn_roundtrip(conn, &r, &err) != KK_OK)
        fail_msg("CreateTopics v%d round trip: %s", v, err.message);
    if (kk_decode_create_topics_response(&r, v, res, &err) != KK_OK)
        fail_msg("CreateTopics v%d decode: %s", v, err.message);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(res->count, 1);
    assert_string_equal(res->topics[0].name, topic);
}

static int16_t delete_topic(kk_conn_t *conn, const char *topic) {
    int16_t v = kk_conn_version(conn, KK_API_DELETE_TOPICS);
    assert_true(v >= 0);
    const char *names[] = {topic};
    kk_writer_t *w = kk_conn_begin(conn, KK_API_DELETE_TOPICS, v);
    kk_encode_delete_topics_request(w, v, names, 1, 15000);
    kk_reader_t r;
    kk_error_t err;
    kk_topic_results_t res;
    if (kk_conn_roundtrip(conn, &r, &err) != KK_OK)
        fail_msg("DeleteTopics v%d round trip: %s", v, err.message);
    if (kk_decode_delete_topics_response(&r, v, &res, &err) != KK_OK)
        fail_msg("DeleteTopics v%d decode: %s", v, err.message);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(res.count, 1);
    assert_string_equal(res.topics[0].name, topic);
    int16_t code = res.topics[0].error_code;
    kk_topic_results_free(&res);
    return code;
}

/* ---- hand-built record sets ------------------------------------------------------------- */

/* RecordBatch v2, two records with null keys, no compression, no idempotence. */
static void build_batch_v2(kk_writer_t *w, const char *v1, const char *v2) {
    int64_t ts = now_ms();
    kk_write_i64(w, 0);                 /* base offset */
    size_t length_slot = kk_writer_slot_i32(w);
    kk_write_i32(w, -1);                /* partition leader epoch */
    kk_write_i8(w, 2);                  /* magic */
    size_t crc_slot = kk_writer_slot_i32(w);
    size_t crc_from = w->len;
    kk_write_i16(w, 0);                 /* attributes */
    kk_write_i32(w, 1);                 /* last offset delta */
    kk_write_i64(w, ts);
    kk_write_i64(w, ts);
    kk_write_i64(w, -1);                /* producer id */
    kk_write_i16(w, -1);                /* producer epoch */
    kk_write_i32(w, -1);                /* base sequence */
    kk_write_i32(w, 2);                 /* record count */
    const char *values[] = {v1, v2};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(values[i]);
        kk_writer_t rec;
        kk_writer_init(&rec);
        kk_write_i8(&rec, 0);           /* attributes */
        write_varint(&rec, 0);          /* timestamp delta */
        write_varint(&rec, i);          /* offset delta */
        write_varint(&rec, -1);         /* null key */
        write_varint(&rec, (int32_t)n);
        kk_write_raw(&rec, values[i], n);
        write_varint(&rec, 0);          /* no headers */
        assert_false(rec.failed);
        write_varint(w, (int32_t)rec.len);
        kk_write_raw(w, rec.data, rec.len);
        kk_writer_free(&rec);
    }
    assert_false(w->failed);
    kk_writer_patch_i32(w, length_slot, (int32_t)(w->len - length_slot - 4));
    kk_writer_patch_i32(w, crc_slot, (int32_t)kk_crc32c(0, w->data + crc_from, w->len - crc_from));
}

/* MessageSet v0 or v1: two messages with null keys, CRC-32 per message. */
static void build_message_set(kk_writer_t *w, int8_t magic, const char *v1, const char *v2) {
    const char *values[] = {v1, v2};
    for (int i = 0; i < 2; i++) {
        kk_write_i64(w, i);                           /* offset (the broker assigns its own) */
        size_t size_slot = kk_writer_slot_i32(w);
        size_t crc_slot = kk_writer_slot_i32(w);
        size_t crc_from = w->len;
        kk_write_i8(w, magic);
        kk_write_i8(w, 0);                            /* attributes */
        if (magic >= 1)
            kk_write_i64(w, now_ms());
        kk_write_i32(w, -1);                          /* null key */
        kk_write_bytes(w, values[i], strlen(values[i]));
        assert_false(w->failed);
        kk_writer_patch_i32(w, size_slot, (int32_t)(w->len - size_slot - 4));
        uLong crc = crc32(0L, w->data + crc_from, (uInt)(w->len - crc_from));
        kk_writer_patch_i32(w, crc_slot, (int32_t)(uint32_t)crc);
    }
}

/* ---- produce round trips ------------------------------------------------------------------ */

static void begin_produce(kk_conn_t *conn, int16_t acks, const char *topic, int32_t partition,
                          const kk_writer_t *records) {
    int16_t v = kk_conn_version(conn, KK_API_PRODUCE);
    assert_true(v >= 0);
    const kk_produce_partition_in_t p = {partition, records->data, records->len};
    const kk_produce_topic_in_t t = {topic, &p, 1};
    kk_writer_t *w = kk_conn_begin(conn, KK_API_PRODUCE, v);
    kk_encode_produce_request(w, v, acks, 15000, &t, 1);
    assert_false(w->failed);
}

/* Produces one record set and returns that partition's result (copied out). */
static kk_produce_partition_result_t produce(kk_conn_t *conn, int16_t acks, const char *topic,
                                             int32_t partition, const kk_writer_t *records) {
    int16_t v = kk_conn_version(conn, KK_API_PRODUCE);
    begin_produce(conn, acks, topic, partition, records);
    kk_reader_t r;
    kk_error_t err;
    kk_produce_response_t resp;
    if (kk_conn_roundtrip(conn, &r, &err) != KK_OK)
        fail_msg("Produce v%d round trip: %s", v, err.message);
    if (kk_decode_produce_response(&r, v, &resp, &err) != KK_OK)
        fail_msg("Produce v%d decode: %s", v, err.message);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(resp.topic_count, 1);
    const kk_produce_partition_result_t *found = kk_produce_response_find(&resp, topic, partition);
    assert_non_null(found);
    kk_produce_partition_result_t out = *found;
    out.error_message = NULL; /* owned by resp */
    if (found->error_code != 0)
        printf("    Produce v%d to %s/%d: error %d (%s)\n", v, topic, (int)partition,
               found->error_code, found->error_message ? found->error_message : "no message");
    kk_produce_response_free(&resp);
    return out;
}

/* The first produce to a new topic: a partition's leader can show in the metadata a moment
 * before it takes writes (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION); a failed
 * attempt appends nothing, so offsets stay as they were. */
static kk_produce_partition_result_t produce_first(kk_conn_t *conn, int16_t acks,
                                                   const char *topic, int32_t partition,
                                                   const kk_writer_t *records) {
    kk_produce_partition_result_t p;
    for (int attempt = 0; attempt < 100; attempt++) {
        p = produce(conn, acks, topic, partition, records);
        if (p.error_code != 6 && p.error_code != ERR_UNKNOWN_TOPIC_OR_PARTITION)
            break;
        usleep(100 * 1000);
    }
    return p;
}

static void delete_records(kk_conn_t *conn, const char *topic, int32_t partition, int64_t offset,
                           int16_t expected_error, int64_t expected_low_watermark) {
    int16_t v = kk_conn_version(conn, KK_API_DELETE_RECORDS);
    assert_true(v >= 0);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_DELETE_RECORDS, v);
    kk_encode_delete_records_request(w, v, topic, partition, offset, 15000);
    kk_reader_t r;
    kk_error_t err;
    if (kk_conn_roundtrip(conn, &r, &err) != KK_OK)
        fail_msg("DeleteRecords v%d round trip: %s", v, err.message);
    int16_t code = -2;
    int64_t low = -2;
    if (kk_decode_delete_records_response(&r, v, &code, &low, &err) != KK_OK)
        fail_msg("DeleteRecords v%d decode: %s", v, err.message);
    assert_int_equal(kk_reader_remaining(&r), 0);
    assert_int_equal(code, expected_error);
    assert_int_equal(low, expected_low_watermark);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* Create (3 partitions), create again, delete, delete again: at the negotiated versions and at
 * forced older ones, flexible and not. */
static void test_create_and_delete_topics_across_versions(void **state) {
    (void)state;
    struct {
        int16_t create_cap, delete_cap;
    } caps[] = {{-1, -1}, {5, 4}, {4, 3}, {2, 1}, {0, 0}};
    size_t count = sizeof(caps) / sizeof(caps[0]);
    if (!kafka_3x())
        count--; /* Kafka 4 dropped CreateTopics v0-1 and DeleteTopics v0 */
    for (size_t i = 0; i < count; i++) {
        kk_client_t *client = new_client(KK_API_CREATE_TOPICS, caps[i].create_cap,
                                         KK_API_DELETE_TOPICS, caps[i].delete_cap, -1);
        kk_conn_t *conn = any_broker(client);
        int16_t cv = kk_conn_version(conn, KK_API_CREATE_TOPICS);
        int16_t dv = kk_conn_version(conn, KK_API_DELETE_TOPICS);
        /* both 3.9 and 4.x speak CreateTopics v7 and DeleteTopics v6, our maximum */
        assert_int_equal(cv, caps[i].create_cap < 0 ? 7 : caps[i].create_cap);
        assert_int_equal(dv, caps[i].delete_cap < 0 ? 6 : caps[i].delete_cap);
        printf("    CreateTopics v%d, DeleteTopics v%d\n", cv, dv);

        const char *topic = kk_test_unique_topic("kk-admin");
        kk_topic_results_t res;
        if (cv >= 1) {
            /* validate_only: accepted, but nothing is created */
            create_topic(conn, topic, 3, true, &res);
            assert_int_equal(res.topics[0].error_code, 0);
            kk_topic_results_free(&res);
            kk_metadata_t *md = NULL;
            kk_error_t err;
            const char *topics[] = {topic};
            assert_int_equal(kk_client_metadata(client, topics, 1, &md, &err), KK_OK);
            const kk_topic_info_t *t = kk_metadata_topic(md, topic);
            assert_true(t == NULL || t->error_code == ERR_UNKNOWN_TOPIC_OR_PARTITION);
            kk_metadata_free(md);
        }

        create_topic(conn, topic, 3, false, &res);
        if (res.topics[0].error_code != 0)
            fail_msg("CreateTopics v%d: error %d (%s)", cv, res.topics[0].error_code,
                     res.topics[0].error_message ? res.topics[0].error_message : "no message");
        kk_topic_results_free(&res);
        kk_metadata_t *md = NULL;
        (void)wait_for_topic(client, topic, 3, 0, &md);
        assert_int_equal(kk_metadata_topic(md, topic)->partition_count, 3);
        kk_metadata_free(md);

        create_topic(conn, topic, 3, false, &res);
        assert_int_equal(res.topics[0].error_code, ERR_TOPIC_ALREADY_EXISTS);
        if (cv >= 1) /* the broker explains itself from v1 on */
            assert_non_null(res.topics[0].error_message);
        else
            assert_null(res.topics[0].error_message);
        kk_topic_results_free(&res);

        assert_int_equal(delete_topic(conn, topic), 0);
        assert_int_equal(delete_topic(conn, topic), ERR_UNKNOWN_TOPIC_OR_PARTITION);
        kk_client_free(client);
    }
}

static void test_produce_and_delete_records(void **state) {
    (void)state;
    const char *topic = kk_test_unique_topic("kk-produce");
    kk_client_t *client = new_client(-1);
    kk_topic_results_t res;
    create_topic(any_broker(client), topic, 3, false, &res);
    assert_int_equal(res.topics[0].error_code, 0);
    kk_topic_results_free(&res);

    kk_conn_t *conn = leader_conn(client, topic, 3, 1);
    int16_t pv = kk_conn_version(conn, KK_API_PRODUCE);
    assert_int_equal(pv, 11); /* our maximum; 3.9 and 4.x both speak it */
    kk_writer_t batch;
    kk_writer_init(&batch);
    build_batch_v2(&batch, "one", "two");

    kk_produce_partition_result_t p = produce_first(conn, -1, topic, 1, &batch);
    assert_int_equal(p.error_code, 0);
    assert_int_equal(p.base_offset, 0);
    assert_int_equal(p.log_append_time, -1); /* CreateTime topic */
    assert_int_equal(p.log_start_offset, 0);

    /* the same batch at the oldest version that carries RecordBatch v2 */
    kk_client_t *v3_client = new_client(KK_API_PRODUCE, 3, -1);
    kk_conn_t *v3_conn = leader_conn(v3_client, topic, 3, 1);
    assert_int_equal(kk_conn_version(v3_conn, KK_API_PRODUCE), 3);
    p = produce(v3_conn, 1, topic, 1, &batch);
    assert_int_equal(p.error_code, 0);
    assert_int_equal(p.base_offset, 2);
    assert_int_equal(p.log_start_offset, -1); /* not in v3 */

    /* acks=0: no response; the next batch's offset proves it was appended */
    begin_produce(conn, 0, topic, 1, &batch);
    kk_error_t err;
    if (kk_conn_send_only(conn, &err) != KK_OK)
        fail_msg("acks=0 send: %s", err.message);
    p = produce(conn, 1, topic, 1, &batch);
    assert_int_equal(p.error_code, 0);
    assert_int_equal(p.base_offset, 6);

    /* a partition the topic does not have */
    p = produce(conn, 1, topic, 7, &batch);
    assert_int_equal(p.error_code, ERR_UNKNOWN_TOPIC_OR_PARTITION);
    p = produce(v3_conn, 1, topic, 7, &batch);
    assert_int_equal(p.error_code, ERR_UNKNOWN_TOPIC_OR_PARTITION);

    /* DeleteRecords: flexible v2 on the negotiated connection, v0 on a capped one */
    assert_int_equal(kk_conn_version(conn, KK_API_DELETE_RECORDS), 2);
    delete_records(conn, topic, 1, 1, 0, 1);
    kk_client_t *dr0_client = new_client(KK_API_DELETE_RECORDS, 0, -1);
    kk_conn_t *dr0_conn = leader_conn(dr0_client, topic, 3, 1);
    assert_int_equal(kk_conn_version(dr0_conn, KK_API_DELETE_RECORDS), 0);
    delete_records(dr0_conn, topic, 1, 3, 0, 3);
    /* the new log start shows up in the next produce response (v5+) */
    p = produce(conn, 1, topic, 1, &batch);
    assert_int_equal(p.base_offset, 8);
    assert_int_equal(p.log_start_offset, 3);
    /* past the high watermark (10) */
    delete_records(conn, topic, 1, 50, 1 /* OFFSET_OUT_OF_RANGE */, -1);

    assert_int_equal(delete_topic(any_broker(client), topic), 0);
    assert_int_equal(delete_topic(any_broker(client), topic), ERR_UNKNOWN_TOPIC_OR_PARTITION);
    kk_writer_free(&batch);
    kk_client_free(dr0_client);
    kk_client_free(v3_client);
    kk_client_free(client);
}

/* Produce v2 with MessageSet v1 and v0 with MessageSet v0: Kafka 3.x only. */
static void test_legacy_message_sets(void **state) {
    (void)state;
    const char *version = getenv("KAFKETTE_KAFKA_VERSION");
    if (!kafka_3x()) {
        printf("    legacy MessageSet part NOT RUN: KAFKETTE_KAFKA_VERSION=%s is not 3.x "
               "(Kafka 4 rejects Produce v0-v2)\n",
               version ? version : "(unset)");
        skip();
    }
    printf("    legacy MessageSet part RUNS against Kafka %s\n", version);
    const char *topic = kk_test_unique_topic("kk-legacy");
    kk_client_t *v2_client = new_client(KK_API_PRODUCE, 2, -1);
    kk_topic_results_t res;
    create_topic(any_broker(v2_client), topic, 1, false, &res);
    assert_int_equal(res.topics[0].error_code, 0);
    kk_topic_results_free(&res);

    kk_conn_t *conn = leader_conn(v2_client, topic, 1, 0);
    assert_int_equal(kk_conn_version(conn, KK_API_PRODUCE), 2);
    kk_writer_t set;
    kk_writer_init(&set);
    build_message_set(&set, 1, "old", "older");
    kk_produce_partition_result_t p = produce_first(conn, 1, topic, 0, &set);
    assert_int_equal(p.error_code, 0);
    assert_int_equal(p.base_offset, 0);
    assert_int_equal(p.log_append_time, -1);

    kk_client_t *v0_client = new_client(KK_API_PRODUCE, 0, -1);
    kk_conn_t *v0_conn = leader_conn(v0_client, topic, 1, 0);
    assert_int_equal(kk_conn_version(v0_conn, KK_API_PRODUCE), 0);
    kk_writer_reset(&set);
    build_message_set(&set, 0, "oldest", "ancient");
    p = produce(v0_conn, 1, topic, 0, &set);
    assert_int_equal(p.error_code, 0);
    assert_int_equal(p.base_offset, 2);
    p = produce(v0_conn, 1, topic, 4, &set);
    assert_int_equal(p.error_code, ERR_UNKNOWN_TOPIC_OR_PARTITION);

    assert_int_equal(delete_topic(any_broker(v2_client), topic), 0);
    kk_writer_free(&set);
    kk_client_free(v0_client);
    kk_client_free(v2_client);
}

int main(void) {
    const char *version = getenv("KAFKETTE_KAFKA_VERSION");
    printf("broker: %s, Kafka %s; legacy Produce v0-v2 part: %s\n", kk_test_bootstrap(),
           version ? version : "(KAFKETTE_KAFKA_VERSION unset)",
           kafka_3x() ? "WILL RUN" : "will NOT run (needs KAFKETTE_KAFKA_VERSION=3.x)");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_delete_topics_across_versions),
        cmocka_unit_test(test_produce_and_delete_records),
        cmocka_unit_test(test_legacy_message_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
