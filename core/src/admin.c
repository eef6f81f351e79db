/* Topic administration on top of the client: CreateTopics, DeleteTopics, DeleteRecords,
 * CreatePartitions, topic listings and descriptions with watermarks, offsets for timestamps,
 * DescribeConfigs and IncrementalAlterConfigs. Groups are in admin_groups.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_internal.h"
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

static int topic_result_error(const kk_topic_results_t *results, const char *topic,
                              const char *what, kk_error_t *err) {
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
    return kk_error_set(err, KK_ERR_MALFORMED, "%s %s: the response does not mention the topic",
                        what, topic);
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
        kk_encode_list_offsets_request(kk_conn_begin(conn, KK_API_LIST_OFFSETS, version), version,
                                       t->name, t->partitions[i].partition, KK_OFFSET_SPEC_LATEST,
                                       0);
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

/* Polls until the topic has at least min_partitions partitions, each with a leader that serves
 * it, or the deadline passes. */
static int wait_for_leaders(kk_client_t *client, const char *topic, size_t min_partitions,
                            int64_t deadline, kk_error_t *err) {
    const char *topics[] = {topic};
    for (;;) {
        kk_metadata_t *md = NULL;
        int rc = kk_client_metadata(client, topics, 1, &md, err);
        if (rc != KK_OK)
            return rc;
        const kk_topic_info_t *t = kk_metadata_topic(md, topic);
        bool ready = t && t->error_code == 0 && t->partition_count >= min_partitions &&
                     t->partition_count > 0;
        for (size_t i = 0; ready && i < t->partition_count; i++)
            ready = t->partitions[i].leader >= 0;
        ready = ready && leaders_serve(client, md, t);
        kk_metadata_free(md);
        if (ready)
            return KK_OK;
        if (kk_monotonic_ms() >= deadline)
            return kk_error_set(
                err, KK_ERR_TIMED_OUT,
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
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "create topic: missing topic name or arguments");
    if (partitions == 0 || partitions < -1 || replication_factor == 0 || replication_factor < -1)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "create topic %s: partitions and replication factor must be positive "
                            "(or -1 for the broker default)",
                            topic);
    if (timeout_ms <= 0)
        timeout_ms = 30000;
    int64_t deadline = kk_monotonic_ms() + timeout_ms;
    kk_conn_t *conn;
    int16_t version = -1;
    int rc = admin_conn(client, KK_API_CREATE_TOPICS, "CreateTopics", &conn, &version, err);
    if (rc != KK_OK)
        return rc;
    if (version < 4 && (partitions < 0 || replication_factor < 0))
        return kk_error_set(
            err, KK_ERR_UNSUPPORTED_VERSION,
            "create topic %s: this broker needs explicit partitions and replication", topic);
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
    return wait_for_leaders(client, topic, partitions > 0 ? (size_t)partitions : 1, deadline, err);
}

int kk_client_delete_topic(kk_client_t *client, const char *topic, int timeout_ms,
                           kk_error_t *err) {
    if (!client || !topic || !topic[0])
        return kk_error_set(err, KK_ERR_INVALID_ARG, "delete topic: missing topic name");
    if (timeout_ms <= 0)
        timeout_ms = 30000;
    kk_conn_t *conn;
    int16_t version = -1;
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
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "delete records: bad topic, partition or offset");
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
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the broker does not support DeleteRecords", conn->label);
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

/* ---- CreatePartitions ------------------------------------------------------------------- */

int kk_client_create_partitions(kk_client_t *client, const char *topic, int32_t total_count,
                                int timeout_ms, kk_error_t *err) {
    if (!client || !topic || !topic[0] || total_count <= 0)
        return kk_error_set(
            err, KK_ERR_INVALID_ARG,
            "create partitions: a topic name and a positive partition count are needed");
    if (timeout_ms <= 0)
        timeout_ms = 30000;
    int64_t deadline = kk_monotonic_ms() + timeout_ms;
    kk_conn_t *conn;
    int16_t version = -1;
    int rc = admin_conn(client, KK_API_CREATE_PARTITIONS, "CreatePartitions", &conn, &version, err);
    if (rc != KK_OK)
        return rc;
    kk_writer_t *w = kk_conn_begin(conn, KK_API_CREATE_PARTITIONS, version);
    kk_encode_create_partitions_request(w, version, topic, total_count, timeout_ms, false);
    kk_reader_t r;
    rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_topic_results_t results;
    rc = kk_decode_create_partitions_response(&r, version, &results, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    rc = topic_result_error(&results, topic, "create partitions for", err);
    kk_topic_results_free(&results);
    if (rc != KK_OK)
        return rc;
    return wait_for_leaders(client, topic, (size_t)total_count, deadline, err);
}

/* ---- listing and describing topics ------------------------------------------------------ */

void kk_strings_free(char **strings, size_t count) {
    if (!strings)
        return;
    for (size_t i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

static int compare_topics(const void *a, const void *b) {
    const kk_topic_info_t *x = a, *y = b;
    return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static void free_topic_info(kk_topic_info_t *t) {
    for (size_t j = 0; j < t->partition_count; j++) {
        free(t->partitions[j].replicas);
        free(t->partitions[j].isr);
        free(t->partitions[j].offline_replicas);
    }
    free(t->partitions);
    free(t->name);
}

int kk_admin_metadata(kk_client_t *client, const char *const *topics, size_t topic_count,
                      bool include_internal, kk_metadata_t **out, kk_error_t *err) {
    bool saved = client->allow_auto_topic_creation;
    client->allow_auto_topic_creation = false;
    int rc = kk_client_metadata(client, topics, topic_count, out, err);
    client->allow_auto_topic_creation = saved;
    if (rc != KK_OK)
        return rc;
    kk_metadata_t *md = *out;
    if (topic_count == 0 && !include_internal) {
        size_t kept = 0;
        for (size_t i = 0; i < md->topic_count; i++) {
            if (md->topics[i].is_internal || !md->topics[i].name)
                free_topic_info(&md->topics[i]);
            else
                md->topics[kept++] = md->topics[i];
        }
        md->topic_count = kept;
    }
    if (md->topic_count > 1)
        qsort(md->topics, md->topic_count, sizeof(*md->topics), compare_topics);
    return KK_OK;
}

int kk_client_list_topics(kk_client_t *client, bool include_internal, char ***names, size_t *count,
                          kk_error_t *err) {
    if (!client || !names || !count)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "list topics: NULL argument");
    *names = NULL;
    *count = 0;
    kk_metadata_t *md = NULL;
    int rc = kk_admin_metadata(client, NULL, 0, include_internal, &md, err);
    if (rc != KK_OK)
        return rc;
    char **out = calloc(md->topic_count ? md->topic_count : 1, sizeof(*out));
    size_t n = 0;
    for (size_t i = 0; out && i < md->topic_count; i++) {
        if (!md->topics[i].name)
            continue;
        out[n] = strdup(md->topics[i].name);
        if (!out[n]) {
            kk_strings_free(out, n);
            out = NULL;
            break;
        }
        n++;
    }
    kk_metadata_free(md);
    if (!out)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "list topics: out of memory");
    *names = out;
    *count = n;
    return KK_OK;
}

int kk_admin_leader_offset(kk_client_t *client, const kk_metadata_t *md, const char *topic,
                           const kk_partition_info_t *p, int64_t timestamp,
                           kk_list_offsets_result_t *res, kk_error_t *err) {
    if (p->leader < 0)
        return kk_error_set(err, p->error_code ? p->error_code : 5 /* LEADER_NOT_AVAILABLE */,
                            "%s[%d] has no leader", topic, (int)p->partition);
    kk_conn_t *conn;
    int rc = kk_client_broker_conn(client, md, p->leader, &conn, err);
    if (rc != KK_OK)
        return rc;
    int16_t version = kk_conn_version(conn, KK_API_LIST_OFFSETS);
    if (version < 1)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION,
                            "%s: the broker supports no ListOffsets version that takes a timestamp",
                            conn->label);
    kk_writer_t *w = kk_conn_begin(conn, KK_API_LIST_OFFSETS, version);
    kk_encode_list_offsets_request(w, version, topic, p->partition, timestamp, 0);
    kk_reader_t r;
    rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    rc = kk_decode_list_offsets_response(&r, version, topic, p->partition, res, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (res->error_code != 0) {
        kk_error_set_broker(err, res->error_code, "ListOffsets");
        return kk_error_prefix(err, "%s[%d]: ", topic, (int)p->partition);
    }
    return KK_OK;
}

static void watermarks_of(kk_client_t *client, const kk_metadata_t *md, const char *topic,
                          const kk_partition_info_t *p, kk_partition_watermarks_t *out) {
    kk_list_offsets_result_t res;
    kk_error_t ignored;
    *out = (kk_partition_watermarks_t){-1, -1, 0};
    int rc = kk_admin_leader_offset(client, md, topic, p, KK_TIMESTAMP_EARLIEST, &res, &ignored);
    if (rc == KK_OK)
        out->log_start_offset = res.offset;
    if (rc == KK_OK)
        rc = kk_admin_leader_offset(client, md, topic, p, KK_TIMESTAMP_LATEST, &res, &ignored);
    if (rc == KK_OK) {
        out->high_watermark = res.offset;
    } else {
        *out = (kk_partition_watermarks_t){-1, -1, rc};
    }
}

void kk_topic_descriptions_free(kk_topic_descriptions_t *d) {
    if (!d)
        return;
    if (d->watermarks && d->metadata)
        for (size_t i = 0; i < d->metadata->topic_count; i++)
            free(d->watermarks[i]);
    free(d->watermarks);
    kk_metadata_free(d->metadata);
    free(d);
}

int kk_client_describe_topics(kk_client_t *client, const char *const *topics, size_t topic_count,
                              kk_topic_descriptions_t **out, kk_error_t *err) {
    if (!client || !out || (topic_count && !topics))
        return kk_error_set(err, KK_ERR_INVALID_ARG, "describe topics: NULL argument");
    *out = NULL;
    kk_topic_descriptions_t *d = calloc(1, sizeof(*d));
    if (!d)
        return kk_error_set(err, KK_ERR_NO_MEMORY, "describe topics: out of memory");
    int rc = kk_admin_metadata(client, topics, topic_count, false, &d->metadata, err);
    if (rc != KK_OK) {
        free(d);
        return rc;
    }
    kk_metadata_t *md = d->metadata;
    d->watermarks = calloc(md->topic_count ? md->topic_count : 1, sizeof(*d->watermarks));
    if (!d->watermarks) {
        kk_topic_descriptions_free(d);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "describe topics: out of memory");
    }
    for (size_t i = 0; i < md->topic_count; i++) {
        const kk_topic_info_t *t = &md->topics[i];
        d->watermarks[i] =
            calloc(t->partition_count ? t->partition_count : 1, sizeof(*d->watermarks[i]));
        if (!d->watermarks[i]) {
            kk_topic_descriptions_free(d);
            return kk_error_set(err, KK_ERR_NO_MEMORY, "describe topics: out of memory");
        }
        for (size_t j = 0; j < t->partition_count; j++) {
            watermarks_of(client, md, t->name, &t->partitions[j], &d->watermarks[i][j]);
            if (d->watermarks[i][j].error == KK_ERR_INTERRUPTED) {
                kk_topic_descriptions_free(d);
                return kk_error_set(err, KK_ERR_INTERRUPTED, "describe topics: interrupted");
            }
        }
    }
    *out = d;
    return KK_OK;
}

/* The partition's metadata, or an error naming what is missing. *md is the caller's to free. */
static int partition_metadata(kk_client_t *client, const char *topic, int32_t partition,
                              kk_metadata_t **md, const kk_partition_info_t **p, kk_error_t *err) {
    if (!topic || !topic[0] || partition < 0)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "a topic name and a partition >= 0 are needed");
    const char *topics[] = {topic};
    int rc = kk_admin_metadata(client, topics, 1, false, md, err);
    if (rc != KK_OK)
        return rc;
    const kk_topic_info_t *t = kk_metadata_topic(*md, topic);
    if (!t || t->error_code) {
        int code = t && t->error_code ? t->error_code : 3;
        kk_metadata_free(*md);
        *md = NULL;
        kk_error_set_broker(err, (int16_t)code, NULL);
        return kk_error_prefix(err, "topic %s: ", topic);
    }
    for (size_t i = 0; i < t->partition_count; i++)
        if (t->partitions[i].partition == partition) {
            *p = &t->partitions[i];
            return KK_OK;
        }
    size_t count = t->partition_count;
    kk_metadata_free(*md);
    *md = NULL;
    return kk_error_set(err, KK_ERR_INVALID_PARTITION,
                        "topic %s has %zu partition(s), no partition %d", topic, count,
                        (int)partition);
}

int kk_client_watermarks(kk_client_t *client, const char *topic, int32_t partition,
                         int64_t *log_start_offset, int64_t *high_watermark, kk_error_t *err) {
    if (!client)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "watermarks: client is NULL");
    kk_metadata_t *md = NULL;
    const kk_partition_info_t *p = NULL;
    int rc = partition_metadata(client, topic, partition, &md, &p, err);
    if (rc != KK_OK)
        return rc;
    kk_list_offsets_result_t res;
    rc = kk_admin_leader_offset(client, md, topic, p, KK_TIMESTAMP_EARLIEST, &res, err);
    if (rc == KK_OK && log_start_offset)
        *log_start_offset = res.offset;
    if (rc == KK_OK)
        rc = kk_admin_leader_offset(client, md, topic, p, KK_TIMESTAMP_LATEST, &res, err);
    if (rc == KK_OK && high_watermark)
        *high_watermark = res.offset;
    kk_metadata_free(md);
    return rc;
}

int kk_client_offset_for_time(kk_client_t *client, const char *topic, int32_t partition,
                              int64_t timestamp_ms, int64_t *offset, int64_t *record_timestamp,
                              kk_error_t *err) {
    if (!client || !offset || timestamp_ms < KK_TIMESTAMP_EARLIEST)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "offset for time: NULL argument or a timestamp below -2");
    kk_metadata_t *md = NULL;
    const kk_partition_info_t *p = NULL;
    int rc = partition_metadata(client, topic, partition, &md, &p, err);
    if (rc != KK_OK)
        return rc;
    kk_list_offsets_result_t res;
    rc = kk_admin_leader_offset(client, md, topic, p, timestamp_ms, &res, err);
    kk_metadata_free(md);
    if (rc != KK_OK)
        return rc;
    *offset = res.offset;
    if (record_timestamp)
        *record_timestamp = res.offset < 0 ? -1 : res.timestamp;
    return KK_OK;
}

/* ---- configs ---------------------------------------------------------------------------- */

const char *kk_config_source_name(int8_t source) {
    static const char *const names[] = {
        "UNKNOWN",
        "DYNAMIC_TOPIC_CONFIG",
        "DYNAMIC_BROKER_CONFIG",
        "DYNAMIC_DEFAULT_BROKER_CONFIG",
        "STATIC_BROKER_CONFIG",
        "DEFAULT_CONFIG",
        "DYNAMIC_BROKER_LOGGER_CONFIG",
        "CLIENT_METRICS_CONFIG",
        "GROUP_CONFIG",
    };
    if (source < 0 || (size_t)source >= sizeof(names) / sizeof(names[0]))
        return "UNKNOWN";
    return names[source];
}

/* Where a resource's configs are asked and changed: a broker's on that broker, a topic's on
 * any (the bootstrap). */
static int config_conn(kk_client_t *client, kk_resource_type_t type, const char *name, int api_key,
                       const char *api_name, kk_conn_t **conn, int16_t *version, kk_error_t *err) {
    if (!name || !name[0] || (type != KK_RESOURCE_TOPIC && type != KK_RESOURCE_BROKER))
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "%s: a resource type (topic or broker) and a name are needed",
                            api_name);
    if (type == KK_RESOURCE_TOPIC)
        return admin_conn(client, api_key, api_name, conn, version, err);
    char *end = NULL;
    long node = strtol(name, &end, 10);
    if (!end || *end || node < 0 || node > INT32_MAX)
        return kk_error_set(err, KK_ERR_INVALID_ARG,
                            "%s: a broker is named by its node id, not '%s'", api_name, name);
    kk_metadata_t *md = NULL;
    int rc = kk_client_metadata(client, NULL, 0, &md, err);
    if (rc != KK_OK)
        return rc;
    rc = kk_client_broker_conn(client, md, (int32_t)node, conn, err);
    kk_metadata_free(md);
    if (rc != KK_OK)
        return rc;
    *version = kk_conn_version(*conn, api_key);
    if (*version < 0)
        return kk_error_set(err, KK_ERR_UNSUPPORTED_VERSION, "%s: the broker does not support %s",
                            (*conn)->label, api_name);
    return KK_OK;
}

static int compare_configs(const void *a, const void *b) {
    const kk_resource_config_t *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int resource_error(kk_error_t *err, int16_t code, const char *message, const char *what,
                          kk_resource_type_t type, const char *name) {
    const char *kind = type == KK_RESOURCE_TOPIC ? "topic" : "broker";
    if (message && message[0])
        return kk_error_set(err, code, "%s %s %s: %s (%d): %s", what, kind, name, kk_err_name(code),
                            code, message);
    return kk_error_set(err, code, "%s %s %s: %s (%d): %s", what, kind, name, kk_err_name(code),
                        code, kk_err_description(code));
}

void kk_resource_configs_free(kk_resource_configs_t *configs) {
    if (!configs)
        return;
    for (size_t i = 0; i < configs->count; i++) {
        free(configs->entries[i].name);
        free(configs->entries[i].value);
    }
    free(configs->entries);
    free(configs);
}

int kk_client_describe_configs(kk_client_t *client, kk_resource_type_t type, const char *name,
                               kk_resource_configs_t **out, kk_error_t *err) {
    if (!client || !out)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "describe configs: NULL argument");
    *out = NULL;
    kk_conn_t *conn;
    int16_t version = -1;
    int rc = config_conn(client, type, name, KK_API_DESCRIBE_CONFIGS, "DescribeConfigs", &conn,
                         &version, err);
    if (rc != KK_OK)
        return rc;
    kk_writer_t *w = kk_conn_begin(conn, KK_API_DESCRIBE_CONFIGS, version);
    kk_encode_describe_configs_request(w, version, (int8_t)type, name);
    kk_reader_t r;
    rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    kk_describe_configs_result_t res;
    rc = kk_decode_describe_configs_response(&r, version, &res, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (res.error_code != 0) {
        rc = resource_error(err, res.error_code, res.error_message, "describe configs of", type,
                            name);
        kk_describe_configs_result_free(&res);
        return rc;
    }
    kk_resource_configs_t *configs = malloc(sizeof(*configs));
    if (!configs) {
        kk_describe_configs_result_free(&res);
        return kk_error_set(err, KK_ERR_NO_MEMORY, "describe configs: out of memory");
    }
    *configs = res.configs; /* the entries move over */
    free(res.error_message);
    if (configs->count > 1)
        qsort(configs->entries, configs->count, sizeof(*configs->entries), compare_configs);
    *out = configs;
    return KK_OK;
}

int kk_client_alter_configs(kk_client_t *client, kk_resource_type_t type, const char *name,
                            const kk_config_alteration_t *alterations, size_t count,
                            bool validate_only, kk_error_t *err) {
    if (!client || (count && !alterations) || count == 0)
        return kk_error_set(err, KK_ERR_INVALID_ARG, "alter configs: nothing to change");
    for (size_t i = 0; i < count; i++)
        if (!alterations[i].name || !alterations[i].name[0] || alterations[i].op < KK_ALTER_SET ||
            alterations[i].op > KK_ALTER_SUBTRACT ||
            (alterations[i].op != KK_ALTER_DELETE && !alterations[i].value))
            return kk_error_set(
                err, KK_ERR_INVALID_ARG,
                "alter configs: alteration %zu needs a name, an operation and a value", i);
    kk_conn_t *conn;
    int16_t version = -1;
    int rc = config_conn(client, type, name, KK_API_INCREMENTAL_ALTER_CONFIGS,
                         "IncrementalAlterConfigs", &conn, &version, err);
    if (rc != KK_OK)
        return rc;
    kk_writer_t *w = kk_conn_begin(conn, KK_API_INCREMENTAL_ALTER_CONFIGS, version);
    kk_encode_incremental_alter_configs_request(w, version, (int8_t)type, name, alterations, count,
                                                validate_only);
    kk_reader_t r;
    rc = kk_conn_roundtrip(conn, &r, err);
    if (rc != KK_OK)
        return rc;
    int16_t code;
    char *message;
    rc = kk_decode_incremental_alter_configs_response(&r, version, &code, &message, err);
    if (rc != KK_OK) {
        kk_conn_close(conn);
        return rc;
    }
    if (code != 0)
        rc = resource_error(err, code, message, "alter configs of", type, name);
    free(message);
    return rc;
}
