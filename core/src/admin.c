/* Topic administration on top of the client: CreateTopics, DeleteTopics, DeleteRecords. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "error.h"
#include "protocol_admin.h"
#include "protocol_fetch.h"

/* The negotiated version of api_key on the bootstrap connection, or an error. */
static int admin_conn(kk_client_t *client, int api_key, const char *api_name, kk_conn_t **conn,
                      int16_t *version, kk_error_t *err) {
    int rc = kk_client_connect(client, err);
    if (rc != KK_OK)
        return rc;
    *conn = &client->bootstrap;
    *version = kk_conn_version(*conn, api_key);
    if (*version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION, "%s: the broker does not support %s",
                            (*conn)->label, api_name);
    return KK_OK;
}

static int topic_result_error(const kk_topic_results_t *results, const char *topic, const char *what,
                              kk_error_t *err) {
    for (size_t i = 0; i < results->count; i++) {
        const kk_topic_result_t *t = &results->topics[i];
        if (!t->name || strcmp(t->name, topic) != 0)
            continue;
        if (t->error_code == 0)
            return KK_OK;
        if (t->error_message)
            return kk_error_set(err, t->error_code, "%s %s: %s (%d): %s", what, topic,
                                kk_err_name(t->error_code), t->error_code, t->error_message);
        return kk_error_set(err, t->error_code, "%s %s: %s (%d): %s", what, topic,
                            kk_err_name(t->error_code), t->error_code,
                            kk_err_description(t->error_code));
    }
    return kk_error_set(err, KK_ERR_MALFORMED, "%s %s: the response does not mention the topic", what,
                        topic);
}

/* Whether the leader of every partition already serves it: metadata names a leader a moment
 * before the leader accepts requests, and a write with required_acks 0 sent in that moment
 * would be lost without a word. A ListOffsets answered without error proves it. */
static bool leaders_serve(kk_client_t *client, const kk_metadata_t *md, const kk_topic_info_t *t) {
    for (size_t i = 0; i < t->partition_count; i++) {
        kk_conn_t *conn = NULL;
        kk_error_t ignored;
        if (kk_client_broker_conn(client, md, t->partitions[i].leader, &conn, &ignored) != KK_OK)
            return false;
        int16_t version = kk_conn_version(conn, KK_API_LIST_OFFSETS);
        if (version < 0)
            return true; /* nothing to ask with: trust the metadata */
        kk_encode_list_offsets_request(kk_conn_begin(conn, KK_API_LIST_OFFSETS, version), version, t->name,
                                       t->partitions[i].partition, KK_OFFSET_SPEC_LATEST, 0);
        kk_reader_t r;
        kk_list_offsets_result_t res;
        if (kk_conn_roundtrip(conn, &r, &ignored) != KK_OK ||
            kk_decode_list_offsets_response(&r, version, t->name, t->partitions[i].partition, &res,
                                            &ignored) != KK_OK ||
            res.error_code != 0)
            return false;
    }
    return true;
}

/* Polls until every partition of the topic has a leader that serves it, or the deadline passes. */
static int wait_for_leaders(kk_client_t *client, const char *topic, int64_t deadline, kk_error_t *err) {
    const char *topics[] = {topic};
    for (;;) {
        kk_metadata_t *md = NULL;
        int rc = kk_client_metadata(client, topics, 1, &md, err);
        if (rc != KK_OK)
            return rc;
        const kk_topic_info_t *t = kk_metadata_topic(md, topic);
        bool ready = t && t->error_code == 0 && t->partition_count > 0;
        for (size_t i = 0; ready && i < t->partition_count; i++)
            ready = t->partitions[i].leader >= 0;
        ready = ready && leaders_serve(client, md, t);
        kk_metadata_free(md);
        if (ready)
            return KK_OK;
        if (kk_monotonic_ms() >= deadline)
            return kk_error_set(err, KK_ERR_TIMED_OUT,
                                "topic %s was created but its partitions have no serving leader yet", topic);
        rc = kk_conn_sleep(&client->conn_opts, 50);
        if (rc != KK_OK)
            return kk_error_set(err, rc, "waiting for topic %s interrupted", topic);
    }
}

int kk_client_create_topic(kk_client_t *client, const char *topic, int32_t partitions,
                           int16_t replication_factor, const kk_topic_config_t *configs,
                           size_t config_count, int timeout_ms, kk_error_t *err) {
    if (!client || !topic || !topic[0] || (config_count && !configs))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "create topic: missing topic name or arguments");
    if (partitions == 0 || partitions < -1 || replication_factor == 0 || replication_factor < -1)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "create topic %s: partitions and replication factor must be positive "
                            "(or -1 for the broker default)", topic);
    if (timeout_ms <= 0)
        timeout_ms = 30000;
    int64_t deadline = kk_monotonic_ms() + timeout_ms;
    kk_conn_t *conn;
    int16_t version;
    int rc = admin_conn(client, KK_API_CREATE_TOPICS, "CreateTopics", &conn, &version, err);
    if (rc != KK_OK)
        return rc;
    if (version < 4 && (partitions < 0 || replication_factor < 0))
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "create topic %s: this broker needs explicit partitions and replication",
                            topic);
    kk_topic_config_in_t *cfg_in = NULL;
    if (config_count) {
        cfg_in = malloc(config_count * sizeof(*cfg_in));
        if (!cfg_in)
            return kk_error_set(err, KK_ERR_NO_MEMORY, "out of memory");
        for (size_t i = 0; i < config_count; i++)
            cfg_in[i] = (kk_topic_config_in_t){configs[i].name, configs[i].value};
    }
    kk_new_topic_in_t new_topic = {topic, partitions, replication_factor, cfg_in, config_count};
    kk_writer_t *w = kk_conn_begin(conn, KK_API_CREATE_TOPICS, version);
    kk_encode_create_topics_request(w, version, &new_topic, 1, timeout_ms, false);
    free(cfg_in);
    kk_reader_t r;
    rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_topic_results_t results;
    rc = kk_decode_create_topics_response(&r, version, &results, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    rc = topic_result_error(&results, topic, "create topic", err);
    kk_topic_results_free(&results);
    if (rc != KK_OK)
        return rc;
    return wait_for_leaders(client, topic, deadline, err);
}

int kk_client_delete_topic(kk_client_t *client, const char *topic, int timeout_ms, kk_error_t *err) {
    if (!client || !topic || !topic[0])
        return kk_error_set(err, KK_ERR_INVALID_ARG, "delete topic: missing topic name");
    if (timeout_ms <= 0)
        timeout_ms = 30000;
    kk_conn_t *conn;
    int16_t version;
    int rc = admin_conn(client, KK_API_DELETE_TOPICS, "DeleteTopics", &conn, &version, err);
    if (rc != KK_OK)
        return rc;
    const char *topics[] = {topic};
    kk_writer_t *w = kk_conn_begin(conn, KK_API_DELETE_TOPICS, version);
    kk_encode_delete_topics_request(w, version, topics, 1, timeout_ms);
    kk_reader_t r;
    rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_topic_results_t results;
    rc = kk_decode_delete_topics_response(&r, version, &results, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    rc = topic_result_error(&results, topic, "delete topic", err);
    kk_topic_results_free(&results);
    return rc;
}

int kk_client_delete_records(kk_client_t *client, const char *topic, int32_t partition,
                             int64_t offset, int timeout_ms, int64_t *low_watermark,
                             kk_error_t *err) {
    if (!client || !topic || !topic[0] || partition < 0 || offset < -1)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "delete records: bad topic, partition or offset");
    if (timeout_ms <= 0)
        timeout_ms = 30000;
    const char *topics[] = {topic};
    kk_metadata_t *md = NULL;
    int rc = kk_client_metadata(client, topics, 1, &md, err);
    if (rc != KK_OK)
        return rc;
    const kk_topic_info_t *t = kk_metadata_topic(md, topic);
    if (!t || t->error_code || (size_t)partition >= t->partition_count ||
        t->partitions[partition].leader < 0) {
        int code = t && t->error_code ? t->error_code : 3;
        kk_metadata_free(md);
        return kk_error_set(err, code, "delete records: %s[%d] has no leader (%s)", topic,
                            (int)partition, kk_err_name(code));
    }
    kk_conn_t *conn;
    rc = kk_client_broker_conn(client, md, t->partitions[partition].leader, &conn, err);
    kk_metadata_free(md);
    if (rc != KK_OK)
        return rc;
    int16_t version = kk_conn_version(conn, KK_API_DELETE_RECORDS);
    if (version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION, "%s: the broker does not support DeleteRecords",
                            conn->label);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_DELETE_RECORDS, version);
    kk_encode_delete_records_request(w, version, topic, partition, offset, timeout_ms);
    kk_reader_t r;
    rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    int16_t code = 0;
    int64_t low = -1;
    rc = kk_decode_delete_records_response(&r, version, &code, &low, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (code != 0)
        return kk_error_set_broker(err, code, "delete records");
    if (low_watermark)
        *low_watermark = low;
    return KK_OK;
}
