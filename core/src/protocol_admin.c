#include "protocol_admin.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "protocol.h"

/* Writes an array length, failing the writer for counts the protocol cannot carry. */
static bool write_count(kk_writer_t *w, size_t n, bool flexible) {
    if (n > INT32_MAX) {
        w->failed = true;
        return false;
    }
    kk_write_array_len_v(w, (int32_t)n, flexible);
    return true;
}

/* ---- CreateTopics ----------------------------------------------------------------------- */

void kk_encode_create_topics_request(kk_writer_t *w, int16_t version,
                                     const kk_new_topic_in_t *topics, size_t topic_count,
                                     int32_t timeout_ms, bool validate_only) {
    bool flexible = kk_protocol_is_flexible(KK_API_CREATE_TOPICS, version);
    if (!write_count(w, topic_count, flexible))
        return;
    for (size_t i = 0; i < topic_count; i++) {
        const kk_new_topic_in_t *t = &topics[i];
        kk_write_str_v(w, t->name, flexible);
        kk_write_i32(w, t->partitions);
        kk_write_i16(w, t->replication_factor);
        kk_write_array_len_v(w, 0, flexible); /* assignments: let the controller place them */
        if (!write_count(w, t->config_count, flexible))
            return;
        for (size_t j = 0; j < t->config_count; j++) {
            kk_write_str_v(w, t->configs[j].name, flexible);
            kk_write_str_v(w, t->configs[j].value, flexible);
            if (flexible)
                kk_write_empty_tags(w);
        }
        if (flexible)
            kk_write_empty_tags(w);
    }
    kk_write_i32(w, timeout_ms);
    if (version >= 1)
        kk_write_bool(w, validate_only);
    if (flexible)
        kk_write_empty_tags(w);
}

/* What a topic result carries besides name and error code, per API and version. */
typedef struct result_layout {
    const char *api; /* for messages */
    bool flexible;
    bool throttle; /* throttle_time_ms before the array */
    bool nullable_name;
    bool topic_id; /* a uuid after the name */
    bool error_message;
    bool create_details; /* CreateTopics v5+: partitions, replication, configs */
} result_layout_t;

static size_t min_result_size(const result_layout_t *l) {
    size_t n = (l->flexible ? 1 : 2) + 2; /* name, error code */
    if (l->topic_id)
        n += 16;
    if (l->error_message)
        n += l->flexible ? 1 : 2;
    if (l->create_details)
        n += 4 + 2 + 1; /* partitions, replication factor, null configs (flexible only) */
    if (l->flexible)
        n += 1; /* tags */
    return n;
}

static void skip_created_configs(kk_reader_t *r) {
    /* name, value, read_only, config_source, is_sensitive, tags */
    int32_t n = kk_read_compact_array_len(r, 1 + 1 + 1 + 1 + 1 + 1);
    for (int32_t i = 0; i < n && !r->failed; i++) {
        kk_slice_t name = kk_read_compact_string(r);
        (void)kk_read_compact_string(r); /* value */
        (void)kk_read_bool(r);           /* read_only */
        (void)kk_read_i8(r);             /* config_source */
        (void)kk_read_bool(r);           /* is_sensitive */
        kk_read_skip_tags(r);
        if (!r->failed && name.len < 0)
            kk_reader_fail(r);
    }
}

static int decode_topic_results(kk_reader_t *r, int16_t version, const result_layout_t *l,
                                kk_topic_results_t *out, kk_error_t *err) {
    bool oom = false;
    memset(out, 0, sizeof(*out));
    if (l->throttle)
        out->throttle_time_ms = kk_read_i32(r);
    int32_t n = kk_read_array_len_v(r, l->flexible, min_result_size(l));
    if (n > 0 && !r->failed) {
        out->topics = calloc((size_t)n, sizeof(*out->topics));
        if (!out->topics)
            oom = true;
        else
            out->count = (size_t)n;
    }
    for (int32_t i = 0; i < n && out->topics && !r->failed && !oom; i++) {
        kk_topic_result_t *t = &out->topics[i];
        t->name = kk_slice_strdup(kk_read_str_v(r, l->flexible), &oom);
        if (!r->failed && !oom && !t->name && !l->nullable_name)
            kk_reader_fail(r);
        if (l->topic_id)
            kk_read_skip(r, 16);
        t->error_code = kk_read_error_code(r);
        if (l->error_message)
            t->error_message = kk_slice_strdup(kk_read_str_v(r, l->flexible), &oom);
        if (l->create_details) {
            (void)kk_read_i32(r); /* num_partitions */
            (void)kk_read_i16(r); /* replication_factor */
            skip_created_configs(r);
        }
        if (l->flexible)
            kk_read_skip_tags(r); /* CreateTopics: topic_config_error_code (tag 0) */
    }
    if (l->flexible)
        kk_read_skip_tags(r);

    if (oom || r->failed || n < 0) {
        kk_topic_results_free(out);
        return kk_decode_failed(err, oom, l->api, version);
    }
    return KK_OK;
}

int kk_decode_create_topics_response(kk_reader_t *r, int16_t version, kk_topic_results_t *out,
                                     kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_CREATE_TOPICS, version);
    result_layout_t layout = {
        .api = "CreateTopics",
        .flexible = flexible,
        .throttle = version >= 2,
        .nullable_name = false,
        .topic_id = version >= 7,
        .error_message = version >= 1,
        .create_details = version >= 5,
    };
    return decode_topic_results(r, version, &layout, out, err);
}

/* ---- DeleteTopics ----------------------------------------------------------------------- */

void kk_encode_delete_topics_request(kk_writer_t *w, int16_t version, const char *const *topics,
                                     size_t topic_count, int32_t timeout_ms) {
    bool flexible = kk_protocol_is_flexible(KK_API_DELETE_TOPICS, version);
    if (!write_count(w, topic_count, flexible))
        return;
    for (size_t i = 0; i < topic_count; i++) {
        kk_write_str_v(w, topics[i], flexible);
        if (version >= 6) {
            /* {name, topic_id}: by name, so the id is all zeros */
            static const uint8_t zero_uuid[16] = {0};
            kk_write_raw(w, zero_uuid, sizeof(zero_uuid));
            kk_write_empty_tags(w);
        }
    }
    kk_write_i32(w, timeout_ms);
    if (flexible)
        kk_write_empty_tags(w);
}

int kk_decode_delete_topics_response(kk_reader_t *r, int16_t version, kk_topic_results_t *out,
                                     kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_DELETE_TOPICS, version);
    result_layout_t layout = {
        .api = "DeleteTopics",
        .flexible = flexible,
        .throttle = version >= 1,
        .nullable_name = version >= 6,
        .topic_id = version >= 6,
        .error_message = version >= 5,
        .create_details = false,
    };
    return decode_topic_results(r, version, &layout, out, err);
}

void kk_topic_results_free(kk_topic_results_t *results) {
    if (!results)
        return;
    for (size_t i = 0; i < results->count; i++) {
        free(results->topics[i].name);
        free(results->topics[i].error_message);
    }
    free(results->topics);
    memset(results, 0, sizeof(*results));
}

/* ---- DeleteRecords ---------------------------------------------------------------------- */

void kk_encode_delete_records_request(kk_writer_t *w, int16_t version, const char *topic,
                                      int32_t partition, int64_t offset, int32_t timeout_ms) {
    bool flexible = kk_protocol_is_flexible(KK_API_DELETE_RECORDS, version);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_str_v(w, topic, flexible);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_i32(w, partition);
    kk_write_i64(w, offset);
    if (flexible) {
        kk_write_empty_tags(w); /* partition */
        kk_write_empty_tags(w); /* topic */
    }
    kk_write_i32(w, timeout_ms);
    if (flexible)
        kk_write_empty_tags(w);
}

int kk_decode_delete_records_response(kk_reader_t *r, int16_t version, int16_t *error_code,
                                      int64_t *low_watermark, kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_DELETE_RECORDS, version);
    bool found = false;
    *error_code = 0;
    *low_watermark = -1;
    (void)kk_read_i32(r); /* throttle_time_ms */
    /* name + partition count (+ tags): 6 bytes, 3 flexible */
    int32_t topics = kk_read_array_len_v(r, flexible, flexible ? 3 : 6);
    for (int32_t i = 0; i < topics && !r->failed; i++) {
        kk_slice_t name = kk_read_str_v(r, flexible);
        if (!r->failed && name.len < 0)
            kk_reader_fail(r);
        /* index, low watermark, error code (+ tags) */
        int32_t partitions = kk_read_array_len_v(r, flexible, flexible ? 15 : 14);
        if (partitions < 0)
            kk_reader_fail(r); /* not nullable */
        for (int32_t j = 0; j < partitions && !r->failed; j++) {
            (void)kk_read_i32(r); /* partition_index: we asked for one partition */
            int64_t watermark = kk_read_i64(r);
            int16_t code = kk_read_error_code(r);
            if (flexible)
                kk_read_skip_tags(r);
            if (!found && !r->failed) {
                found = true;
                *low_watermark = watermark;
                *error_code = code;
            }
        }
        if (flexible)
            kk_read_skip_tags(r);
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (r->failed || topics < 0) {
        *error_code = 0;
        *low_watermark = -1;
        return kk_decode_failed(err, false, "DeleteRecords", version);
    }
    if (!found)
        return kk_error_set(err, KK_ERR_MALFORMED,
                            "DeleteRecords v%d response has no partition result", version);
    return KK_OK;
}

/* ---- CreatePartitions ------------------------------------------------------------------- */

void kk_encode_create_partitions_request(kk_writer_t *w, int16_t version, const char *topic,
                                         int32_t count, int32_t timeout_ms, bool validate_only) {
    bool flexible = kk_protocol_is_flexible(KK_API_CREATE_PARTITIONS, version);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_str_v(w, topic, flexible);
    kk_write_i32(w, count);
    kk_write_array_len_v(w, -1, flexible); /* assignments: null, the controller places them */
    if (flexible)
        kk_write_empty_tags(w);
    kk_write_i32(w, timeout_ms);
    kk_write_bool(w, validate_only);
    if (flexible)
        kk_write_empty_tags(w);
}

int kk_decode_create_partitions_response(kk_reader_t *r, int16_t version, kk_topic_results_t *out,
                                         kk_error_t *err) {
    result_layout_t layout = {
        .api = "CreatePartitions",
        .flexible = kk_protocol_is_flexible(KK_API_CREATE_PARTITIONS, version),
        .throttle = true,
        .error_message = true,
    };
    return decode_topic_results(r, version, &layout, out, err);
}

/* ---- DescribeConfigs -------------------------------------------------------------------- */

void kk_encode_describe_configs_request(kk_writer_t *w, int16_t version, int8_t resource_type,
                                        const char *resource_name) {
    bool flexible = kk_protocol_is_flexible(KK_API_DESCRIBE_CONFIGS, version);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_i8(w, resource_type);
    kk_write_str_v(w, resource_name, flexible);
    kk_write_array_len_v(w, -1, flexible); /* configuration keys: null = all of them */
    if (flexible)
        kk_write_empty_tags(w);
    if (version >= 1)
        kk_write_bool(w, false); /* include_synonyms */
    if (version >= 3)
        kk_write_bool(w, false); /* include_documentation */
    if (flexible)
        kk_write_empty_tags(w);
}

/* The smallest encoding of one config entry, so lying counts fail fast. */
static size_t config_entry_min(int16_t version, bool flexible) {
    size_t n = (flexible ? 1 + 1 : 2 + 2) + 1 + 1; /* name, value, read_only, is_sensitive */
    if (version == 0)
        n += 1; /* is_default */
    if (version >= 1)
        n += 1 + (flexible ? 1 : 4); /* config_source, synonyms */
    if (version >= 3)
        n += 1 + (flexible ? 1 : 2); /* config_type, documentation */
    if (flexible)
        n += 1;
    return n;
}

static void decode_config_entry(kk_reader_t *r, int16_t version, bool flexible,
                                kk_resource_config_t *e, bool *oom) {
    e->name = kk_slice_strdup(kk_read_str_v(r, flexible), oom);
    if (!r->failed && !*oom && !e->name)
        kk_reader_fail(r);
    e->value = kk_slice_strdup(kk_read_str_v(r, flexible), oom);
    e->read_only = kk_read_bool(r);
    e->source = -1;
    if (version == 0)
        e->is_default = kk_read_bool(r);
    else
        e->source = kk_read_i8(r);
    e->is_sensitive = kk_read_bool(r);
    if (version >= 1) {
        /* synonyms: name, value, source (+ tags) */
        int32_t n = kk_read_array_len_v(r, flexible, flexible ? 4 : 5);
        if (n < 0)
            kk_reader_fail(r);
        for (int32_t i = 0; i < n && !r->failed; i++) {
            if (kk_read_str_v(r, flexible).len < 0)
                kk_reader_fail(r);
            (void)kk_read_str_v(r, flexible);
            (void)kk_read_i8(r);
            if (flexible)
                kk_read_skip_tags(r);
        }
    }
    if (version >= 3) {
        (void)kk_read_i8(r);              /* config_type */
        (void)kk_read_str_v(r, flexible); /* documentation */
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (version >= 1)
        e->is_default = e->source == 5; /* DEFAULT_CONFIG */
}

int kk_decode_describe_configs_response(kk_reader_t *r, int16_t version,
                                        kk_describe_configs_result_t *out, kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_DESCRIBE_CONFIGS, version);
    bool oom = false, found = false;
    memset(out, 0, sizeof(*out));
    (void)kk_read_i32(r); /* throttle_time_ms */
    /* error code, message, type, name, configs (+ tags) */
    int32_t n =
        kk_read_array_len_v(r, flexible, flexible ? 2 + 1 + 1 + 1 + 1 + 1 : 2 + 2 + 1 + 2 + 4);
    for (int32_t i = 0; i < n && !r->failed && !oom; i++) {
        int16_t code = kk_read_i16(r);
        kk_slice_t message = kk_read_str_v(r, flexible);
        (void)kk_read_i8(r); /* resource_type */
        if (kk_read_str_v(r, flexible).len < 0)
            kk_reader_fail(r);
        int32_t count = kk_read_array_len_v(r, flexible, config_entry_min(version, flexible));
        if (count < 0)
            kk_reader_fail(r);
        bool keep = !found && !r->failed;
        if (keep) {
            found = true;
            out->error_code = code;
            out->error_message = kk_slice_strdup(message, &oom);
            if (count > 0 && !oom) {
                out->configs.entries = calloc((size_t)count, sizeof(*out->configs.entries));
                if (!out->configs.entries)
                    oom = true;
                else
                    out->configs.count = (size_t)count;
            }
        }
        for (int32_t j = 0; j < count && !r->failed && !oom; j++) {
            kk_resource_config_t scratch = {0};
            kk_resource_config_t *e = keep ? &out->configs.entries[j] : &scratch;
            decode_config_entry(r, version, flexible, e, &oom);
            if (!keep) {
                free(scratch.name);
                free(scratch.value);
            }
        }
        if (flexible)
            kk_read_skip_tags(r);
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (oom || r->failed || n < 0) {
        kk_describe_configs_result_free(out);
        return kk_decode_failed(err, oom, "DescribeConfigs", version);
    }
    if (!found)
        return kk_error_set(err, KK_ERR_MALFORMED, "DescribeConfigs v%d response names no resource",
                            version);
    return KK_OK;
}

void kk_describe_configs_result_free(kk_describe_configs_result_t *res) {
    if (!res)
        return;
    for (size_t i = 0; i < res->configs.count; i++) {
        free(res->configs.entries[i].name);
        free(res->configs.entries[i].value);
    }
    free(res->configs.entries);
    free(res->error_message);
    memset(res, 0, sizeof(*res));
}

/* ---- IncrementalAlterConfigs ------------------------------------------------------------ */

void kk_encode_incremental_alter_configs_request(kk_writer_t *w, int16_t version,
                                                 int8_t resource_type, const char *resource_name,
                                                 const kk_config_alteration_t *alterations,
                                                 size_t count, bool validate_only) {
    bool flexible = kk_protocol_is_flexible(KK_API_INCREMENTAL_ALTER_CONFIGS, version);
    kk_write_array_len_v(w, 1, flexible);
    kk_write_i8(w, resource_type);
    kk_write_str_v(w, resource_name, flexible);
    if (!write_count(w, count, flexible))
        return;
    for (size_t i = 0; i < count; i++) {
        kk_write_str_v(w, alterations[i].name, flexible);
        kk_write_i8(w, (int8_t)alterations[i].op);
        kk_write_str_v(w, alterations[i].op == KK_ALTER_DELETE ? NULL : alterations[i].value,
                       flexible);
        if (flexible)
            kk_write_empty_tags(w);
    }
    if (flexible)
        kk_write_empty_tags(w);
    kk_write_bool(w, validate_only);
    if (flexible)
        kk_write_empty_tags(w);
}

int kk_decode_incremental_alter_configs_response(kk_reader_t *r, int16_t version,
                                                 int16_t *error_code, char **error_message,
                                                 kk_error_t *err) {
    bool flexible = kk_protocol_is_flexible(KK_API_INCREMENTAL_ALTER_CONFIGS, version);
    bool oom = false, found = false;
    *error_code = 0;
    *error_message = NULL;
    (void)kk_read_i32(r); /* throttle_time_ms */
    /* error code, message, type, name (+ tags) */
    int32_t n = kk_read_array_len_v(r, flexible, flexible ? 2 + 1 + 1 + 1 + 1 : 2 + 2 + 1 + 2);
    for (int32_t i = 0; i < n && !r->failed && !oom; i++) {
        int16_t code = kk_read_i16(r);
        kk_slice_t message = kk_read_str_v(r, flexible);
        (void)kk_read_i8(r);
        if (kk_read_str_v(r, flexible).len < 0)
            kk_reader_fail(r);
        if (flexible)
            kk_read_skip_tags(r);
        if (!found && !r->failed) {
            found = true;
            *error_code = code;
            *error_message = kk_slice_strdup(message, &oom);
        }
    }
    if (flexible)
        kk_read_skip_tags(r);
    if (oom || r->failed || n < 0 || !found) {
        free(*error_message);
        *error_message = NULL;
        *error_code = 0;
        if (!oom && !r->failed && n >= 0)
            return kk_error_set(err, KK_ERR_MALFORMED,
                                "IncrementalAlterConfigs v%d response names no resource", version);
        return kk_decode_failed(err, oom, "IncrementalAlterConfigs", version);
    }
    return KK_OK;
}
